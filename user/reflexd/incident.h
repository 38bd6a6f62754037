/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Incidents: one detection (kernel event or Falco alert) from attribution to
 * its audit record. The record goes out at the action; a kill in flight waits
 * on the loop's epoll for the exit; a recorded incident stays on the recent
 * list for the correlation window, where a later alert or detection of the
 * same process joins it instead of acting again.
 */
#ifndef REFLEX_INCIDENT_H
#define REFLEX_INCIDENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "attrib.h"
#include "audit.h"
#include "correlate.h"
#include "decide.h"
#include "metrics.h"
#include "policy.h"
#include "reflex/events.h"

struct agent;

/* Processes one Falco alert may name by exe (no pid): each gets a pidfd to wait on. */
#define AGENT_MAX_ALERT_TARGETS 32

/* One detection on its way to an audit record; owns copies of every string. */
struct incident {
	struct incident *next;
	enum { WAIT_PROCESS_EXIT = 1, WAIT_CGROUP_EMPTY } wait; /* 0: not waiting */
	int fd;                 /* pidfd or cgroup.events fd while waiting */
	int more_fds[AGENT_MAX_ALERT_TARGETS - 1]; /* further pidfds (a Falco alert's exe match) */
	size_t n_more_fds;
	uint64_t deadline_ns;   /* CLOCK_MONOTONIC */
	uint64_t event_ktime_ns;
	const char *action;     /* static strings */
	const char *outcome;
	const char *kill_mode;
	const char *source;
	bool dry_run;
	int64_t pid;
	uint64_t cgroup_id;
	char rule[256];
	char audit_reason[1024]; /* the rule's audit_reason verbatim, or the action's default */
	char detail[1024];      /* what reflex found and did */
	char namespace_[64];
	char pod[254];
	char pod_uid[37];
	char owner_kind[64];    /* the pod's top-level owner, from the Kubernetes watch; "" unknown */
	char owner_name[254];
	char container_id[65];
	char image[512];
	char exe_path[REFLEX_PATH_LEN];
	char comm[REFLEX_COMM_LEN];
	char event_id[80];
	char destination[80];   /* pool connects: "ADDR:PORT/PROTO" */
	bool is_container;
	bool kernel_denied;     /* the kernel refused the connect or exec (EPERM) */
	/* Correlation with Falco (one incident, one record). */
	bool from_falco;        /* the incident started from a Falco alert */
	bool acted;             /* a kill was carried out: a joined detection never kills again */
	enum policy_verdict verdict;
	pid_t killed_pids[AGENT_MAX_ALERT_TARGETS]; /* what a Falco alert's kill hit */
	size_t n_killed_pids;
	bool correlated;        /* a Falco alert and a kernel detection joined */
	uint64_t event_real_ns; /* CLOCK_REALTIME of the event */
	struct timespec action_time; /* CLOCK_REALTIME of the action; zero: when recorded */
	bool recorded;          /* the record of the action is written and spooled */
	uint64_t expires_ns;    /* CLOCK_MONOTONIC: on the recent list until then */
	int64_t latency_us;
	char falco_rule[256];
	char falco_priority[16];
	char *falco_output;     /* malloc'd */
};

static inline struct timespec timespec_of_ns(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) };
}

/* ---- the incident's facts, before any action */

/* A zeroed incident of SOURCE ("kernel", "falco"), waiting for nothing; NULL when out of memory. */
struct incident *incident_new(const char *source);
/* Closes what it waits on. Not for an incident on the waiting or recent list. */
void incident_free(struct incident *inc);

/* What attribution found for an incident. */
struct attribution {
	const struct container_info *info; /* NULL: no container reflex may act on */
	const char *owner;                 /* top-level owner kind, NULL when unknown; in owner_buf */
	char owner_buf[64];
	int err;                           /* of the lookup: 0, -ENOENT, -EEXIST (two cgroups claim the id), ... */
};

/*
 * The container INFO onto INC (id, pod uid; namespace, pod and image when
 * the runtime said), then its owner from the Kubernetes watch into AT.
 */
void incident_take_container(struct agent *a, struct incident *inc, const struct container_info *info,
			     struct attribution *at);
/*
 * Pod facts the Kubernetes watch knows for a container: top-level owner
 * kind (NULL when unknown) and, when the runtime did not say, namespace and
 * pod name (into the incident's fields when INC is given).
 */
const char *incident_owner_of(struct agent *a, const char *container_id, const char *pod_uid, char *buf,
			      size_t size, struct incident *inc);
/*
 * Policy's verdict on INC (its rule, container, pod, owner, image, exe; IS_AGENT:
 * reflexd's own process or container) into D, and onto INC: verdict, action,
 * dry run; reason: what the operator wrote for the rule (verbatim); detail:
 * what policy found.
 */
void incident_decide(struct agent *a, struct incident *inc, const struct attribution *at, bool is_agent,
		     bool is_host_init, struct policy_decision *d);
__attribute__((format(printf, 2, 3))) void incident_append_detail(struct incident *inc, const char *fmt, ...);
/* The plan's outcome, detail and counter onto INC; its kill, if any, is the caller's next step. */
void incident_apply_plan(struct agent *a, struct incident *inc, const struct decide_plan *p);

/* ---- records */

/* R into the audit log; a failed write is counted and logged, never fatal. */
void agent_audit(struct agent *a, const struct audit_record *r);
/*
 * The record of INC's action, the moment it is done: the report is spooled
 * (fsync'd) and the audit line written before the event loop moves on, so a
 * crash right after the action loses neither. `timestamp` is the action's
 * time, `event_time` the kernel event's or the alert's.
 */
void incident_record(struct agent *a, struct incident *inc);
/*
 * One more line for a recorded incident: a Falco alert or a kernel
 * detection joined it. Same event_id, outcome "correlated", source "both";
 * audited, never reported (the controller acts once per action).
 */
void incident_record_join(struct agent *a, struct incident *m, const char *rule, const char *priority,
			  const char *output, uint64_t event_real_ns, const char *what);

/* ---- the end of an incident; each takes INC over (it may be freed on return) */

/* The action is over and waits for nothing: record it now, then retire it. */
void incident_done(struct agent *a, struct incident *inc, int64_t latency_us);
/* The end of an incident that waits for nothing: count it, audit it, free it. */
void incident_close(struct agent *a, struct incident *inc, const char *outcome, enum metric_counter counter,
		    int64_t latency_us);
/*
 * A kill was just carried out and its exit is awaited: the record goes out
 * now, stamped now; latency_us is event -> kill. The wait only measures the
 * exit, or adds a `failed` line if it never comes.
 */
void incident_acted(struct agent *a, struct incident *inc);
/* INC waits for FD (EVENTS) in the loop, up to agent.kill_timeout_ms; it joins the waiting list. */
void incident_wait(struct agent *a, struct incident *inc, int fd, uint32_t events);
/* FD of waiting INC is ready (or may be): finishes it once its process or cgroup is gone. */
void incident_check(struct agent *a, struct incident *inc);

/* ---- every incident at once: the loop's tick, shutdown */

/* The tick: confirms exits the fds missed, calls kills past their deadline failed, forgets the expired. */
void incidents_tick(struct agent *a, uint64_t now);
/* Polls the pidfds and cgroup.events of kills in flight, up to agent.kill_timeout_ms. */
void incidents_wait_kills(struct agent *a);
/* Shutdown: every kill still in flight recorded as failed, the recent list forgotten. */
void incidents_close_all(struct agent *a);

/* ---- correlation */

/* A Falco intake runs and agent.correlation_window_ms is not 0. */
bool incident_correlation_on(const struct agent *a);
struct corr_event incident_corr_event(const struct incident *inc);
/*
 * An open incident (kill in flight, or record held for the window) that
 * EV belongs to. A detection whose rule would kill joins only an incident
 * that killed, or one of the same rule (same policy): joining never stops a
 * kill that nobody made.
 */
struct incident *incident_find_open(struct agent *a, const struct corr_event *ev, bool ev_is_falco,
				    const char *rule, bool rule_kills, bool want_acted);

#endif
