// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "agent.h"
#include "attrib.h"
#include "caps.h"
#include "audit.h"
#include "correlate.h"
#include "decide.h"
#include "falco_feed.h"
#include "httpd.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "pod_watch.h"
#include "policy.h"
#include "pools.h"
#include "ratelimit.h"
#include "reporter.h"
#include "respond.h"
#include "util.h"

#define AGENT_OPERATOR "reflex-agent"
#define AGENT_TICK_MS 100
/* Full cgroup rescan: the safety net behind inotify. */
#define AGENT_RESCAN_MS 5000
/* A config file change is read this long after the last inotify event (editors write in steps). */
#define AGENT_CONFIG_SETTLE_MS 200
/* Processes one Falco alert may name by exe (no pid): each gets a pidfd to wait on. */
#define AGENT_MAX_ALERT_TARGETS 32
/* Recorded incidents kept for correlation; past it the oldest is forgotten (enrichment only). */
#define AGENT_MAX_RECENT 1024


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

struct agent {
	struct reflex_config *config;
	struct agent_opts opts;
	struct kernel *kernel;
	struct attrib *attrib;
	struct audit_log *audit;
	struct metrics *metrics;
	struct httpd *httpd;
	char cgroup_root[PATH_MAX];
	char boot_id[9];
	pid_t self_pid;
	uint64_t self_cgroup_id;
	bool cgroup_kill_supported; /* cgroup v2 cgroup.kill (>= 5.14) */
	char freezer_root[PATH_MAX]; /* cgroup v1 freezer mount, "" if none */
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	uint64_t last_rescan_ns;
	struct incident *waiting; /* incidents whose kill is not confirmed yet */
	struct epoll_event *batch; /* the events epoll_wait returned, being handled */
	int batch_n, batch_i;      /* how many; the one being handled */
	struct pool_lists pools;          /* parsed agent.pool_lists */
	struct pool_resolver *resolver;   /* NULL when no connect hook is active */
	struct pool_addr *pool_applied;   /* normalized set in the LPM tries now */
	size_t n_pool_applied;
	struct falco_feed *feed;          /* NULL: no Falco intake configured */
	struct reporter *reporter;        /* NULL: agent.controller_url is "" */
	struct kube_pods *kube;           /* NULL: no Kubernetes API */
	struct ratelimit *ratelimit;      /* new on every config load: a reload re-arms */
	uint32_t kernel_rl_armed;         /* kernel rules the rate limit lets the kernel kill for (bits) */
	uint64_t falco_correlated;        /* joins of Falco alerts and kernel detections */
	uint64_t falco_unconfigured;      /* alerts of rules the config does not name */
	struct incident *recent;          /* recorded, kept for the correlation window: later alerts join them */
	size_t n_recent;
	uint64_t kernel_lost_seen[REFLEX_KCNT_MAX]; /* loss counters already put on the record */
	int config_watch_fd;              /* inotify on the config file's directory */
	uint64_t config_dirty_ns;         /* when a change was seen; 0: none pending */
	uint64_t config_hash;             /* of the file text last loaded */
	bool verdicts_off;                /* a reload or rebuild failed: no kernel kill bits until one succeeds */
	bool stopping;
};

static void on_resolver(struct agent *a);
static void on_container_change(void *ctx, const struct container_info *info, bool added);
/*
 * Keep only caps_agent_keeps. Threads inherit the reduced sets, which is why
 * this runs before the reporter, the feed, the watchers and the HTTP server.
 */
static int drop_capabilities(struct agent *a)
{
	uint64_t eff = 0, keep = caps_agent_mask();
	char kept[160] = "";
	int err;

	if (!a->config->agent.drop_capabilities) {
		log_warn("capabilities: agent.drop_capabilities is false: keeping every capability");
		metrics_set_hook(a->metrics, "capabilities dropped", false, "off: agent.drop_capabilities is false");
		return 0;
	}
	err = caps_reduce_to(keep);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "capabilities: could not drop to the kept set");
		return err;
	}
	err = caps_effective(&eff);
	if (err || (eff & ~keep)) {
		log_error("capabilities: effective set 0x%llx after the drop, want at most 0x%llx",
			  (unsigned long long)eff, (unsigned long long)keep);
		return err ? err : -EPERM;
	}
	log_info("capabilities: every one dropped, bounding set included, but 0x%llx:", (unsigned long long)eff);
	for (size_t i = 0; i < caps_agent_keeps_len; i++) {
		size_t len = strlen(kept);

		log_info("capabilities:   %s: %s", caps_agent_keeps[i].name, caps_agent_keeps[i].why);
		snprintf(kept + len, sizeof(kept) - len, "%s%s", len ? " " : "kept ", caps_agent_keeps[i].name);
	}
	metrics_set_hook(a->metrics, "capabilities dropped", true, kept);
	return 0;
}

static int epoll_add_tag(struct agent *a, int fd, void *tag);
static void pools_stop(struct agent *a);
static void pools_start(struct agent *a);

/* epoll tags for the fixed fds; incidents are tagged by their pointer. */
static char tag_kernel, tag_signal, tag_timer, tag_attrib, tag_resolver, tag_feed, tag_kube, tag_config;

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/*
 * Spools the report of an audit record for the controller. A report that
 * cannot be spooled, or old ones dropped past the bound, are themselves
 * audited: the trail says what the controller will never see.
 */
static void report(struct agent *a, const struct audit_record *r, uint64_t event_real_ns)
{
	uint64_t dropped = 0;
	int err = reporter_submit(a->reporter, r, event_real_ns, &dropped);
	char why[256];
	struct audit_record loss = {
		.action = "report",
		.outcome = "lost",
		.rule = r->rule,
		.reason = why,
		.operator_ = AGENT_OPERATOR,
		.node = r->node,
		.pid = -1,
		.source = "agent",
		.latency_us = -1,
		.event_id = r->event_id,
	};

	if (!err && !dropped)
		return;
	for (uint64_t i = 0; i < (err ? 1 : dropped); i++)
		metrics_inc(a->metrics, METRIC_REPORTS_LOST);
	if (err)
		snprintf(why, sizeof(why), "the report of this event could not be spooled for the controller: %s",
			 strerror(-err));
	else
		snprintf(why, sizeof(why),
			 "report spool over agent.report_spool_max_bytes: the %llu oldest reports were dropped undelivered",
			 (unsigned long long)dropped);
	log_error("reports: %s", why);
	clock_gettime(CLOCK_REALTIME, &loss.time);
	if (audit_write(a->audit, &loss) < 0)
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
}

static struct timespec timespec_of_ns(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000ULL), .tv_nsec = (long)(ns % 1000000000ULL) };
}

/* The audit record of INC as it stands; strings point into INC. */
static struct audit_record incident_audit_record(const struct agent *a, const struct incident *inc)
{
	return (struct audit_record){
		.time = inc->action_time,
		.event_time = timespec_of_ns(inc->event_real_ns),
		.action = inc->action,
		.outcome = inc->outcome,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.rule = inc->rule,
		.dry_run = inc->dry_run,
		.reason = inc->audit_reason,
		.detail = inc->detail,
		.operator_ = AGENT_OPERATOR,
		.falco_priority = or_null(inc->falco_priority),
		.falco_output = inc->falco_output,
		.node = a->config->agent.node_name,
		.container_id = or_null(inc->container_id),
		.pid = inc->pid,
		.exe_path = inc->exe_path,
		.source = inc->source,
		.latency_us = inc->latency_us,
		.kill_mode = inc->kill_mode,
		.comm = inc->comm,
		.image = or_null(inc->image),
		.cgroup_id = inc->cgroup_id,
		.event_id = inc->event_id,
		.destination = or_null(inc->destination),
		.pod_uid = or_null(inc->pod_uid),
	};
}

static void audit_or_count(struct agent *a, const struct audit_record *r)
{
	if (audit_write(a->audit, r) < 0) {
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
		log_error("audit: %s record for %s pid %lld not written", r->outcome ? r->outcome : "?",
			  r->event_id ? r->event_id : "?", (long long)r->pid);
	}
}

/*
 * The record of INC's action, the moment it is done: the report is spooled
 * (fsync'd) and the audit line written before the event loop moves on, so a
 * crash right after the action loses neither. `timestamp` is the action's
 * time, `event_time` the kernel event's or the alert's.
 */
static void incident_record(struct agent *a, struct incident *inc)
{
	struct audit_record r;

	if (!inc->action_time.tv_sec)
		clock_gettime(CLOCK_REALTIME, &inc->action_time);
	r = incident_audit_record(a, inc);
	if (a->reporter)
		report(a, &r, inc->event_real_ns);
	audit_or_count(a, &r);
	inc->recorded = true;
}

static void incident_free(struct incident *inc)
{
	if (inc->fd >= 0)
		close(inc->fd);
	for (size_t i = 0; i < inc->n_more_fds; i++)
		close(inc->more_fds[i]);
	free(inc->falco_output);
	free(inc);
}

static bool correlation_on(const struct agent *a)
{
	return a->feed && a->config->agent.correlation_window_ms > 0;
}

/* Forgets recent incidents whose window closed (all of them when FORCE). */
static void recent_expire(struct agent *a, bool force)
{
	uint64_t now = util_monotonic_ns();

	for (struct incident **p = &a->recent; *p;) {
		struct incident *inc = *p;

		if (!force && now < inc->expires_ns) {
			p = &inc->next;
			continue;
		}
		*p = inc->next;
		a->n_recent--;
		incident_free(inc);
	}
}

/*
 * INC is recorded and nothing is left to wait for. With Falco in the loop
 * it stays on the recent list for the correlation window, so an alert for
 * the same process joins it (a `correlated` line, never a second action).
 */
static void incident_retire(struct agent *a, struct incident *inc)
{
	if (correlation_on(a) && inc->is_container && inc->exe_path[0] && inc->container_id[0]) {
		if (inc->fd >= 0) {
			close(inc->fd);
			inc->fd = -1;
		}
		inc->expires_ns = util_monotonic_ns() + (uint64_t)a->config->agent.correlation_window_ms * 1000000ULL;
		inc->next = a->recent;
		a->recent = inc;
		if (++a->n_recent > AGENT_MAX_RECENT) {
			/* The list is newest first: drop the tail. */
			struct incident **p = &a->recent;

			while ((*p)->next)
				p = &(*p)->next;
			incident_free(*p);
			*p = NULL;
			a->n_recent--;
			log_warn("correlation: more than %d recent incidents; the oldest is no longer joined",
				 AGENT_MAX_RECENT);
		}
		return;
	}
	incident_free(inc);
}

/* The action is over and waits for nothing: record it now, then retire it. */
static void incident_done(struct agent *a, struct incident *inc, int64_t latency_us)
{
	inc->latency_us = latency_us;
	if (inc->acted && inc->kill_mode && latency_us >= 0)
		metrics_observe_action(a->metrics, inc->source, inc->kill_mode, (uint64_t)latency_us);
	if (!inc->recorded)
		incident_record(a, inc);
	incident_retire(a, inc);
}

/*
 * A kill was just carried out and its exit is awaited: the record goes out
 * now, stamped now; latency_us is event -> kill. The wait only measures the
 * exit, or adds a `failed` line if it never comes.
 */
static void incident_acted(struct agent *a, struct incident *inc)
{
	uint64_t now = util_monotonic_ns();

	inc->latency_us = now > inc->event_ktime_ns ? (int64_t)((now - inc->event_ktime_ns) / 1000) : 0;
	incident_record(a, inc);
}

/*
 * One more line for a recorded incident: a Falco alert or a kernel
 * detection joined it. Same event_id, outcome "correlated", source "both";
 * audited, never reported (the controller acts once per action).
 */
static void incident_record_join(struct agent *a, struct incident *m, const char *rule, const char *priority,
				 const char *output, uint64_t event_real_ns, const char *what)
{
	struct audit_record r = incident_audit_record(a, m);
	char detail[REFLEX_PATH_LEN + 512];

	snprintf(detail, sizeof(detail), "%s joined incident %s (%s %s)", what, m->event_id,
		 m->action ? m->action : "?", m->outcome ? m->outcome : "?");
	clock_gettime(CLOCK_REALTIME, &r.time);
	r.event_time = timespec_of_ns(event_real_ns);
	r.outcome = "correlated";
	r.source = "both";
	r.rule = rule;
	r.detail = detail;
	r.latency_us = -1;
	if (priority)
		r.falco_priority = priority;
	if (output)
		r.falco_output = output;
	audit_or_count(a, &r);
}

__attribute__((format(printf, 2, 3))) static void detail_append(struct incident *inc, const char *fmt, ...)
{
	size_t len = strlen(inc->detail);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(inc->detail + len, sizeof(inc->detail) - len, fmt, ap);
	va_end(ap);
}

/* The end of an incident that waits for nothing: count it, audit it, free it. */
static void incident_close(struct agent *a, struct incident *inc, const char *outcome, enum metric_counter counter,
			   int64_t latency_us)
{
	inc->outcome = outcome;
	metrics_inc(a->metrics, counter);
	incident_done(a, inc, latency_us);
}

static void incident_wait(struct agent *a, struct incident *inc, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = inc };

	inc->fd = fd;
	inc->deadline_ns = util_monotonic_ns() + (uint64_t)a->config->agent.kill_timeout_ms * 1000000ULL;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		/* Cannot wait: the deadline check in the tick still closes it. */
		log_errno(LOG_LEVEL_WARN, -errno, "epoll add for %s", inc->event_id);
	}
	inc->next = a->waiting;
	a->waiting = inc;
}

/*
 * INC's wait is over. Another handler of this batch (the tick, a second fd of
 * it) may have finished it while its own event is still further down the
 * batch: forget that event, or it would reach an incident already moved to
 * the held list (linking it twice) or freed.
 */
static void incident_unlink(struct agent *a, struct incident *inc)
{
	for (int i = a->batch_i + 1; i < a->batch_n; i++)
		if (a->batch[i].data.ptr == inc)
			a->batch[i].data.ptr = NULL;
	for (struct incident **p = &a->waiting; *p; p = &(*p)->next) {
		if (*p == inc) {
			*p = inc->next;
			return;
		}
	}
}

/*
 * The exit of a recorded kill is confirmed (measured: event -> exit), or it
 * never came: then one more line, outcome "failed", for the same event_id.
 */
static void incident_finish(struct agent *a, struct incident *inc, bool done)
{
	uint64_t now = util_monotonic_ns();
	struct audit_record r;

	incident_unlink(a, inc);
	if (inc->fd >= 0)
		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, inc->fd, NULL);
	if (!inc->recorded)
		incident_record(a, inc);
	if (done) {
		if (inc->kill_mode && now > inc->event_ktime_ns)
			metrics_observe_action(a->metrics, inc->source, inc->kill_mode,
					       (now - inc->event_ktime_ns) / 1000);
		incident_retire(a, inc);
		return;
	}
	inc->outcome = "failed";
	detail_append(inc, "; still alive %u ms after the kill", a->config->agent.kill_timeout_ms);
	metrics_inc(a->metrics, METRIC_KILL_FAILURES);
	log_error("kill of %s (%s) not confirmed within %u ms", inc->event_id, inc->kill_mode,
		  a->config->agent.kill_timeout_ms);
	r = incident_audit_record(a, inc);
	clock_gettime(CLOCK_REALTIME, &r.time);
	r.latency_us = -1;
	audit_or_count(a, &r);
	incident_retire(a, inc);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void incident_check(struct agent *a, struct incident *inc)
{
	if (inc->wait == WAIT_CGROUP_EMPTY) {
		int populated = respond_cgroup_populated(inc->fd);

		if (populated <= 0)
			incident_finish(a, inc, populated == 0);
		return;
	}
	/*
	 * A pidfd polls readable once its process has exited. Several targets
	 * (an exe match): one pidfd at a time is in epoll, so an incident is
	 * never reported twice in one batch; move on to the next still running.
	 */
	while (inc->n_more_fds && pidfd_exited(inc->fd)) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = inc };

		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, inc->fd, NULL);
		close(inc->fd);
		inc->fd = inc->more_fds[--inc->n_more_fds];
		if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, inc->fd, &ev))
			log_errno(LOG_LEVEL_WARN, -errno, "epoll add for %s", inc->event_id);
	}
	if (!pidfd_exited(inc->fd))
		return;
	incident_finish(a, inc, true);
}

/* cgroup v1 only: freeze, kill each pid through a pidfd, thaw. Synchronous. */
static void kill_container_v1(struct agent *a, struct incident *inc, const struct container_info *info)
{
	char freezer_dir[PATH_MAX];
	int n;

	if (!a->freezer_root[0] ||
	    (size_t)snprintf(freezer_dir, sizeof(freezer_dir), "%s%.*s", a->freezer_root,
			     (int)info->ref.scope_len, info->cgroup_path) >= sizeof(freezer_dir)) {
		n = -ENOENT;
	} else {
		n = respond_kill_cgroup_v1(freezer_dir, a->config->agent.kill_timeout_ms);
	}
	if (n < 0) {
		detail_append(inc, "; cgroup v1 freezer kill failed: %s", strerror(-n));
		/* The kernel's own kill or refusal happened all the same: that stays the outcome. */
		incident_close(a, inc, inc->kill_mode ? inc->outcome : "failed", METRIC_KILL_FAILURES,
			       inc->kill_mode ? 0 : -1);
		return;
	}
	inc->acted = true;
	inc->kill_mode = !inc->kill_mode		  ? "cgroup-v1-freezer"
			 : strcmp(inc->kill_mode, "lsm") == 0 ? "lsm+cgroup-v1-freezer"
							      : "kernel+cgroup-v1-freezer";
	detail_append(inc, "; %d processes signalled", n);
	incident_close(a, inc, inc->outcome, METRIC_KILLS_CGROUP,
		       (int64_t)((util_monotonic_ns() - inc->event_ktime_ns) / 1000));
}

/* Container-wide kill; the incident waits for cgroup.events "populated 0". */
static void kill_container(struct agent *a, struct incident *inc, const struct container_info *info)
{
	int fd, err;

	if (!a->cgroup_kill_supported) {
		kill_container_v1(a, inc, info);
		return;
	}
	err = respond_kill_cgroup(info->scope_path, &fd);
	if (err) {
		detail_append(inc, "; cgroup.kill on %s failed: %s", info->scope_path, strerror(-err));
		/* The kernel's own kill or refusal happened all the same: that stays the outcome. */
		incident_close(a, inc, inc->kill_mode ? inc->outcome : "failed", METRIC_KILL_FAILURES,
			       inc->kill_mode ? 0 : -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_CGROUP);
	inc->acted = true;
	inc->kill_mode = !inc->kill_mode		  ? "cgroup.kill"
			 : strcmp(inc->kill_mode, "lsm") == 0 ? "lsm+cgroup.kill"
							      : "kernel+cgroup.kill";
	inc->wait = WAIT_CGROUP_EMPTY;
	incident_acted(a, inc);
	incident_wait(a, inc, fd, EPOLLPRI | EPOLLERR);
	incident_check(a, inc);
}

/* CLOCK_BOOTTIME (what /proc start times count) of a CLOCK_MONOTONIC instant (bpf_ktime_get_ns). */
static uint64_t boottime_of_monotonic(uint64_t mono_ns)
{
	struct timespec m, b;

	clock_gettime(CLOCK_MONOTONIC, &m);
	clock_gettime(CLOCK_BOOTTIME, &b);
	return mono_ns + ((uint64_t)b.tv_sec * 1000000000ULL + (uint64_t)b.tv_nsec) -
	       ((uint64_t)m.tv_sec * 1000000000ULL + (uint64_t)m.tv_nsec);
}

static void kill_process(struct agent *a, struct incident *inc, uint32_t tgid, uint64_t start_boottime,
			 uint64_t cgroup_id)
{
	struct process_identity id = {
		.pid = (pid_t)tgid,
		.start_boottime_ns = start_boottime,
		.cgroup_id = cgroup_id,
	};
	int pidfd = -1, err;

	/*
	 * Kernels without bpf_get_current_task in cgroup hooks send no start
	 * time: then the target must have been running at the event (a pid
	 * reused since is never signalled), not merely be alive now.
	 */
	if (!id.start_boottime_ns)
		id.not_after_boottime_ns = boottime_of_monotonic(inc->event_ktime_ns);
	err = respond_kill_process(a->cgroup_root, &id, &pidfd);
	if (err == -ESTALE || err == -ESRCH) {
		/* Stale: a safeguard refused. Gone: nothing to kill (a denied connect may remain). */
		detail_append(inc, "%s",
			      err == -ESTALE ? "; target no longer the process of the event (pid reused or moved): not signalled"
					     : "; target exited before the kill");
		log_warn("kill of pid %u skipped: %s", tgid,
			 err == -ESTALE ? "pid now names another process" : "already exited");
		incident_close(a, inc, err == -ESTALE ? "refused" : inc->kernel_denied ? "denied" : "exited",
			       METRIC_STALE_TARGETS, -1);
		return;
	}
	if (err) {
		detail_append(inc, "; pidfd kill failed: %s", strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_PIDFD);
	inc->acted = true;
	inc->kill_mode = "pidfd";
	inc->wait = WAIT_PROCESS_EXIT;
	incident_acted(a, inc);
	incident_wait(a, inc, pidfd, EPOLLIN);
}

/* The kernel already sent SIGKILL: confirm the exit to measure and audit it. */
static void confirm_kernel_kill(struct agent *a, struct incident *inc, uint32_t tgid)
{
	int pidfd;

	/* The kernel acted at the event: that is the action's time. */
	inc->action_time = timespec_of_ns(inc->event_real_ns);
	inc->latency_us = 0;
	incident_record(a, inc);
	pidfd = respond_pidfd_open((pid_t)tgid);
	if (pidfd < 0) {
		/* Gone already: the usual case, the kill landed before we looked. */
		incident_done(a, inc, (int64_t)((util_monotonic_ns() - inc->event_ktime_ns) / 1000));
		return;
	}
	inc->wait = WAIT_PROCESS_EXIT;
	incident_wait(a, inc, pidfd, EPOLLIN);
}

/* reason: what the operator wrote for the rule (verbatim); detail: what policy found. */
static void incident_fill_reason(struct incident *inc, const struct policy_decision *d)
{
	const char *audit_reason = d->rule && d->rule->audit_reason && *d->rule->audit_reason
					   ? d->rule->audit_reason
					   : action_default_audit_reason(d->action);

	audit_copy_utf8(inc->audit_reason, sizeof(inc->audit_reason), audit_reason);
	copy_str(inc->detail, sizeof(inc->detail), d->reason);
}

/*
 * Pod facts the Kubernetes watch knows for a container: top-level owner
 * kind (NULL when unknown) and, when the runtime did not say, namespace and
 * pod name (into the incident's fields when INC is given).
 */
static const char *owner_of(struct agent *a, const char *container_id, const char *pod_uid, char *buf,
			    size_t size, struct incident *inc)
{
	struct kube_pod pod;

	if (!a->kube)
		return NULL;
	if (!((container_id && *container_id && kube_pods_lookup_container(a->kube, container_id, &pod) == 0) ||
	      (pod_uid && *pod_uid && kube_pods_lookup_uid(a->kube, pod_uid, &pod) == 0)))
		return NULL;
	if (inc && !inc->namespace_[0]) {
		copy_str(inc->namespace_, sizeof(inc->namespace_), pod.namespace_);
		copy_str(inc->pod, sizeof(inc->pod), pod.name);
	}
	copy_str(buf, size, pod.owner_kind);
	return buf;
}

static uint32_t kernel_rules_armed(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	uint64_t now = util_monotonic_ns();
	uint32_t bits = 0;

	bits |= ratelimit_kernel_may_kill(a->ratelimit, ac->exec_rule, now) ? DECIDE_KRULE_EXEC : 0;
	bits |= ratelimit_kernel_may_kill(a->ratelimit, ac->fileless_rule, now) ? DECIDE_KRULE_FILELESS : 0;
	bits |= ratelimit_kernel_may_kill(a->ratelimit, ac->stratum_rule, now) ? DECIDE_KRULE_STRATUM : 0;
	bits |= ratelimit_kernel_may_kill(a->ratelimit, ac->pool_rule, now) ? DECIDE_KRULE_POOL : 0;
	return bits;
}

static void verdicts_refresh(struct agent *a);
static void verdicts_fail_safe(struct agent *a, const char *why, bool refresh);

/* The kernel kills for a rule only while one more distinct target would be admitted. */
static void rate_limit_sync_kernel(struct agent *a)
{
	uint32_t bits = kernel_rules_armed(a);

	if (bits == a->kernel_rl_armed)
		return;
	log_info("rate limit: in-kernel kills %s for %s%s%s%s", (bits & ~a->kernel_rl_armed) ? "re-armed" : "paused",
		 ((bits ^ a->kernel_rl_armed) & DECIDE_KRULE_EXEC) ? "[exec rule] " : "",
		 ((bits ^ a->kernel_rl_armed) & DECIDE_KRULE_FILELESS) ? "[fileless rule] " : "",
		 ((bits ^ a->kernel_rl_armed) & DECIDE_KRULE_STRATUM) ? "[stratum rule] " : "",
		 ((bits ^ a->kernel_rl_armed) & DECIDE_KRULE_POOL) ? "[pool rule] " : "");
	a->kernel_rl_armed = bits;
	verdicts_refresh(a);
}

static void publish_disarmed(struct agent *a)
{
	const char *rules[64];
	size_t n = 0;

	while (n < 64 && (rules[n] = ratelimit_disarmed_rule(a->ratelimit, n)))
		n++;
	metrics_set_disarmed(a->metrics, rules, n);
}

static void on_rule_disarmed(struct agent *a, const char *rule, const char *why)
{
	log_error("rule '%s': %s", rule, why);
	publish_disarmed(a);
	rate_limit_sync_kernel(a);
}

/* The rate limit's say on a kill that policy allows. False: do not kill (the reason says why). */
static bool rate_limit_admits(struct agent *a, struct incident *inc)
{
	enum ratelimit_verdict v = ratelimit_admit(a->ratelimit, inc->rule, inc->container_id, inc->exe_path,
						   util_monotonic_ns());
	char why[256] = "rule disarmed";

	if (v == RATELIMIT_ADMIT) {
		rate_limit_sync_kernel(a);
		return true;
	}
	ratelimit_disarmed(a->ratelimit, inc->rule, why, sizeof(why));
	detail_append(inc, "; %s", why);
	if (v == RATELIMIT_DISARMED_NOW)
		on_rule_disarmed(a, inc->rule, why);
	return false;
}

/* A kill the kernel already made, counted against the rule's limit. */
static void rate_limit_record(struct agent *a, struct incident *inc)
{
	char why[256] = "rule disarmed";

	if (ratelimit_record(a->ratelimit, inc->rule, inc->container_id, inc->exe_path, util_monotonic_ns()) ==
	    RATELIMIT_DISARMED_NOW) {
		ratelimit_disarmed(a->ratelimit, inc->rule, why, sizeof(why));
		detail_append(inc, "; %s", why);
		on_rule_disarmed(a, inc->rule, why);
		return;
	}
	rate_limit_sync_kernel(a);
}

static struct corr_event corr_of(const struct incident *inc)
{
	return (struct corr_event){
		.container_id = inc->container_id,
		.exe_path = inc->exe_path,
		.pid = inc->pid,
		.time_ns = inc->event_real_ns,
	};
}

/*
 * An open incident (kill in flight, or record held for the window) that
 * EV belongs to. A detection whose rule would kill joins only an incident
 * that killed, or one of the same rule (same policy): joining never stops a
 * kill that nobody made.
 */
static struct incident *find_open_incident(struct agent *a, const struct corr_event *ev, bool ev_is_falco,
					   const char *rule, bool rule_kills, bool want_acted)
{
	uint64_t window = (uint64_t)a->config->agent.correlation_window_ms * 1000000ULL;
	struct incident *lists[2] = { a->waiting, a->recent };

	for (int l = 0; l < 2; l++) {
		for (struct incident *m = lists[l]; m; m = m->next) {
			struct corr_event mev;

			/* Kernel detections join only Falco's incidents. */
			if (!ev_is_falco && !m->from_falco)
				continue;
			/*
			 * Two Falco alerts are one incident only when they are the same
			 * event delivered twice (socket and HTTP): a second alert of the
			 * same exe in the same container may name another process.
			 * Both tests are cheap: before the string compares.
			 */
			if (ev_is_falco && m->from_falco && m->event_real_ns != ev->time_ns)
				continue;
			mev = corr_of(m);
			if (!(ev_is_falco ? correlate_match(ev, &mev, window) : correlate_match(&mev, ev, window)))
				continue;
			if (want_acted && !m->acted)
				continue;
			if (m->acted || !rule_kills || !strcmp(m->rule, rule))
				return m;
		}
	}
	return NULL;
}

/* The exe of a live process, for detections whose event carries none (connects). */
static void exe_of_pid(uint32_t tgid, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%u/exe", tgid);
	n = readlink(link, buf, size - 1);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)"))
		buf[n - 10] = '\0';
}

/* What a kernel event says, whatever its hook. */
struct detection {
	const char *rule;
	uint64_t ktime_ns;
	uint32_t tgid;
	uint64_t start_boottime; /* 0: unknown (read from /proc at handling) */
	uint64_t cgroup_id;
	const char *comm;
	const char *exe_path;
	const char *what;        /* human summary for the log and reason, e.g. "exec /tmp/x" */
	const char *destination; /* pool connects: "ADDR:PORT/PROTO" */
	bool kernel_killed;
	bool kernel_kill_failed;
	bool kernel_denied;      /* a connect or exec the kernel already refused (EPERM) */
	bool exec_denied;        /* BPF LSM refused an exec: the caller lives, the image never ran */
};

/* Is the process of DET still the one that ran (same pid, same start)? */
static bool detection_process_alive(const struct detection *det)
{
	uint64_t ticks;

	if (respond_proc_start_ticks((pid_t)det->tgid, &ticks))
		return false;
	return !det->start_boottime ||
	       ticks == det->start_boottime / (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
}

/*
 * Would joining Falco incident M let a process escape that this detection
 * must kill? Falco's alert may name no pid (its exe match killed what ran
 * then) or may have found nothing to kill: a live process that M neither
 * killed nor spared by the same rule's policy is killed on its own.
 */
static bool join_spares_process(const struct incident *m, const struct detection *det, bool rule_kills)
{
	if (det->kernel_killed || !rule_kills)
		return false;
	if (m->verdict != POLICY_ACT && !strcmp(m->rule, det->rule))
		return false; /* same rule, same container and exe: the same policy verdict */
	for (size_t i = 0; i < m->n_killed_pids; i++)
		if (m->killed_pids[i] == (pid_t)det->tgid)
			return false;
	return detection_process_alive(det);
}

/* The plan's outcome, detail and counter onto INC; its kill, if any, is the caller's next step. */
static void plan_apply(struct agent *a, struct incident *inc, const struct decide_plan *p)
{
	inc->outcome = p->outcome;
	if (p->detail)
		detail_append(inc, "%s", p->detail);
	if (p->counter != METRIC_COUNTER_MAX)
		metrics_inc(a->metrics, p->counter);
}

/* Attribution, policy, response, audit: one path for every kernel detection. */
static int handle_detection(struct agent *a, const struct detection *det)
{
	const struct container_info *info = NULL;
	struct policy_decision d;
	struct policy_subject s;
	struct decide_input in;
	struct decide_plan p;
	const char *owner = NULL;
	char owner_buf[64], summary[REFLEX_PATH_LEN + 1024];
	struct incident *inc;
	int err, attrib_err;

	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return -ENOMEM;
	inc->fd = -1;
	inc->event_ktime_ns = det->ktime_ns;
	inc->pid = det->tgid;
	inc->cgroup_id = det->cgroup_id;
	inc->source = "kernel";
	inc->kernel_denied = det->kernel_denied;
	copy_str(inc->rule, sizeof(inc->rule), det->rule);
	copy_str(inc->exe_path, sizeof(inc->exe_path), det->exe_path);
	copy_str(inc->comm, sizeof(inc->comm), det->comm);
	copy_str(inc->destination, sizeof(inc->destination), det->destination);
	if (!inc->exe_path[0])
		exe_of_pid(det->tgid, inc->exe_path, sizeof(inc->exe_path));
	inc->event_real_ns = correlate_realtime_of_monotonic(det->ktime_ns);
	snprintf(inc->event_id, sizeof(inc->event_id), "%s-%llu-%u", a->boot_id,
		 (unsigned long long)det->ktime_ns, det->tgid);

	err = attrib_lookup(a->attrib, det->cgroup_id, &info);
	attrib_err = err;
	if (err && err != -ENOENT)
		log_errno(LOG_LEVEL_WARN, err, "attribution of cgroup %llu", (unsigned long long)det->cgroup_id);
	inc->is_container = err == 0;
	if (inc->is_container) {
		copy_str(inc->container_id, sizeof(inc->container_id), info->ref.id);
		if (info->meta_known) {
			copy_str(inc->namespace_, sizeof(inc->namespace_), info->meta.namespace_);
			copy_str(inc->pod, sizeof(inc->pod), info->meta.pod_name);
			copy_str(inc->image, sizeof(inc->image), info->meta.image);
		}
		copy_str(inc->pod_uid, sizeof(inc->pod_uid), info->meta_known ? info->meta.pod_uid : info->ref.pod_uid);
	} else {
		info = NULL;
		/* Two cgroups claim one container id: never acted on (policy sees no container). */
		if (err == -EEXIST)
			metrics_inc(a->metrics, METRIC_REFUSALS);
		else
			metrics_inc(a->metrics, METRIC_HOST_EVENTS);
	}
	if (inc->is_container)
		owner = owner_of(a, inc->container_id, info->meta_known ? info->meta.pod_uid : info->ref.pod_uid,
				 owner_buf, sizeof(owner_buf), inc);

	/* Falco already acted on this process: one incident, no second kill. */
	if (inc->is_container && correlation_on(a)) {
		const struct reflex_rule *r = config_find_rule(a->config, inc->rule);
		struct corr_event ev = corr_of(inc);
		bool rule_kills = r && action_kills(r->action);
		/* Whatever the kernel did itself (kill, refused exec or connect) joins only an incident that acted. */
		struct incident *m = find_open_incident(a, &ev, false, inc->rule, rule_kills,
							det->kernel_killed || det->exec_denied || det->kernel_denied);

		if (m && join_spares_process(m, det, rule_kills)) {
			log_info("%s pid %u matches Falco incident %s but that did not kill it: handled on its own",
				 det->what ? det->what : inc->rule, det->tgid, m->event_id);
			m = NULL;
		}
		if (m) {
			char what[REFLEX_PATH_LEN + 128];

			snprintf(what, sizeof(what), "kernel detection %s pid %u%s", det->what ? det->what : inc->rule,
				 det->tgid, det->kernel_killed ? " (killed in kernel)" : "");
			m->correlated = true;
			incident_record_join(a, m, inc->rule, NULL, NULL, inc->event_real_ns, what);
			if (det->kernel_killed) {
				metrics_inc(a->metrics, METRIC_KILLS_KERNEL);
				rate_limit_record(a, inc);
			}
			a->falco_correlated++;
			log_info("%s pid %u joined Falco incident %s ('%s')", det->what ? det->what : inc->rule,
				 det->tgid, m->event_id, m->rule);
			incident_free(inc);
			return 0;
		}
	}

	s = (struct policy_subject){
		.rule = inc->rule,
		.is_container = inc->is_container,
		.is_agent = (pid_t)det->tgid == a->self_pid,
		.is_host_init = det->tgid == 1,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.owner_kind = owner,
		.image = or_null(inc->image),
		.exe_path = or_null(inc->exe_path),
	};
	policy_decide(a->config, &s, &d);
	inc->action = action_name(d.action);
	inc->dry_run = d.verdict == POLICY_DRY_RUN;
	incident_fill_reason(inc, &d);
	if (attrib_err == -EEXIST)
		detail_append(inc, "; two cgroups claim the container id of cgroup %llu: refused",
			      (unsigned long long)det->cgroup_id);
	if (det->what)
		detail_append(inc, "; %s%s", det->what, det->kernel_denied ? " (denied in kernel: EPERM)" : "");

	/*
	 * The line is made now and written once the kill is out: a log write
	 * (a pipe to the runtime's logger) is not on the way to the kill.
	 */
	snprintf(summary, sizeof(summary), "%s pid %u comm %s in %s%s%s: %s (%s)",
		 det->what ? det->what : inc->rule, det->tgid, inc->comm, inc->is_container ? "container " : "host",
		 inc->is_container ? inc->container_id : "", det->kernel_killed ? ", killed in kernel" : "",
		 policy_verdict_name(d.verdict), d.reason);

	in = (struct decide_input){
		.policy = &d,
		.kernel_killed = det->kernel_killed,
		.exec_denied = det->exec_denied,
		.kernel_denied = det->kernel_denied,
		.target_known = info != NULL,
		.namespace_known = inc->namespace_[0] != '\0',
		.has_exe = inc->exe_path[0] != '\0',
	};
	decide(&in, &p);
	if (p.kernel_acted) {
		log_info("%s", summary);
		if (p.out_of_step)
			log_warn("kernel %s pid %u although policy now says %s: verdict map out of step",
				 det->kernel_killed ? "killed" : "refused an exec in", det->tgid,
				 policy_verdict_name(d.verdict));
		plan_apply(a, inc, &p);
		inc->acted = true;
		inc->kill_mode = p.kill_mode;
		rate_limit_record(a, inc);
		if (p.step == DECIDE_KILL_CONTAINER)
			kill_container(a, inc, info);
		else if (p.step == DECIDE_CONFIRM_KERNEL_KILL)
			confirm_kernel_kill(a, inc, det->tgid);
		else {
			/* Refused inside execve, at the event: the image was never alive. */
			inc->action_time = timespec_of_ns(inc->event_real_ns);
			incident_done(a, inc, 0);
		}
		return 0;
	}
	if (det->kernel_kill_failed)
		log_warn("kernel SIGKILL of pid %u failed; killing from user space", det->tgid);
	if (p.step != DECIDE_ASK_RATE_LIMIT)
		log_info("%s", summary);
	if (p.step == DECIDE_ASK_RATE_LIMIT) {
		in.admit = rate_limit_admits(a, inc) ? DECIDE_ADMIT_YES : DECIDE_ADMIT_NO;
		decide(&in, &p);
		if (in.admit == DECIDE_ADMIT_NO)
			log_info("%s", summary);
	}
	plan_apply(a, inc, &p);
	if (p.step == DECIDE_KILL_PROCESS || p.step == DECIDE_KILL_CONTAINER) {
		if (p.step == DECIDE_KILL_PROCESS)
			kill_process(a, inc, det->tgid, det->start_boottime, det->cgroup_id);
		else
			kill_container(a, inc, info);
		log_info("%s", summary); /* INC may be freed by now */
		return 0;
	}
	incident_done(a, inc, -1);
	return 0;
}

/* The rule of an exec kind (REFLEX_EXEC_*). */
static const char *exec_kind_rule(const struct agent *a, uint32_t kind)
{
	if (kind == REFLEX_EXEC_STRATUM_ARGV)
		return a->config->agent.stratum_rule;
	if (kind == REFLEX_EXEC_FILELESS)
		return a->config->agent.fileless_rule;
	return a->config->agent.exec_rule;
}

/* The first kind of FLAGS, in the kernel's precedence, whose rule kills (not dry-run); else the first kind. */
static uint32_t exec_kind_for_user_space(const struct agent *a, uint32_t flags)
{
	static const uint32_t order[] = { REFLEX_EXEC_STRATUM_ARGV, REFLEX_EXEC_FILELESS, REFLEX_EXEC_UPPER_LAYER };

	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		const struct reflex_rule *r;

		if (!(flags & order[i]))
			continue;
		r = config_find_rule(a->config, exec_kind_rule(a, order[i]));
		if (r && action_kills(r->action) && r->dryrun != TRISTATE_TRUE)
			return order[i];
	}
	return reflex_exec_rule_kind(flags);
}

static int handle_exec_event(struct agent *a, const struct reflex_exec_event *e)
{
	char exe_path[REFLEX_PATH_LEN], comm[REFLEX_COMM_LEN], what[REFLEX_PATH_LEN + 64];
	struct detection det = {
		.ktime_ns = e->hdr.ktime_ns,
		.tgid = e->tgid,
		.start_boottime = e->start_boottime,
		.cgroup_id = e->cgroup_id,
		.comm = comm,
		.exe_path = exe_path,
		.what = what,
		.kernel_killed = e->kernel_action == REFLEX_KACT_SIGKILL_SENT,
		.kernel_kill_failed = e->kernel_action == REFLEX_KACT_SIGKILL_FAILED,
		.kernel_denied = e->kernel_action == REFLEX_KACT_EXEC_DENIED,
		.exec_denied = e->kernel_action == REFLEX_KACT_EXEC_DENIED,
	};

	metrics_inc(a->metrics, METRIC_EVENTS_EXEC);
	memcpy(exe_path, e->exe_path, sizeof(exe_path));
	exe_path[sizeof(exe_path) - 1] = '\0';
	memcpy(comm, e->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	/*
	 * The rule the kernel killed or refused under (events.h): audited and
	 * charged, never another. Where the kernel did not act, the first kind
	 * whose rule kills: a kind the caller added never shields the exec.
	 */
	det.rule = exec_kind_rule(a, e->kernel_action == REFLEX_KACT_SIGKILL_SENT ||
					     e->kernel_action == REFLEX_KACT_EXEC_DENIED
				     ? e->rule_kind
				     : exec_kind_for_user_space(a, e->flags));
	snprintf(what, sizeof(what), "exec %s%s%s", exe_path,
		 e->flags & REFLEX_EXEC_MEMFD ? " (memfd)" : e->flags & REFLEX_EXEC_FILELESS ? " (unlinked)" : "",
		 e->flags & REFLEX_EXEC_STRATUM_ARGV ? " with a stratum URL in argv" : "");
	return handle_detection(a, &det);
}

/* comm from /proc, for kernels whose cgroup programs cannot call bpf_get_current_comm. */
static void proc_comm(uint32_t tgid, char *buf, size_t size)
{
	char path[32];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static int handle_connect_event(struct agent *a, const struct reflex_connect_event *e)
{
	char comm[REFLEX_COMM_LEN], addr[INET6_ADDRSTRLEN], what[160], destination[80];
	struct detection det = {
		.rule = a->config->agent.pool_rule,
		.destination = destination,
		.ktime_ns = e->hdr.ktime_ns,
		.tgid = e->tgid,
		.start_boottime = e->start_boottime,
		.cgroup_id = e->cgroup_id,
		.comm = comm,
		.what = what,
		.kernel_killed = e->kernel_action & REFLEX_CKACT_SIGKILL_SENT,
		.kernel_kill_failed = e->kernel_action & REFLEX_CKACT_SIGKILL_FAILED,
		.kernel_denied = e->kernel_action & REFLEX_CKACT_DENIED,
	};

	metrics_inc(a->metrics, METRIC_EVENTS_CONNECT);
	memcpy(comm, e->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	if (!comm[0])
		proc_comm(e->tgid, comm, sizeof(comm));
	if (!inet_ntop(e->family == AF_INET6 ? AF_INET6 : AF_INET, e->daddr, addr, sizeof(addr)))
		copy_str(addr, sizeof(addr), "?");
	snprintf(destination, sizeof(destination), "%s%s%s:%u/%s", e->family == AF_INET6 ? "[" : "", addr,
		 e->family == AF_INET6 ? "]" : "", e->dport, e->protocol == IPPROTO_UDP ? "udp" : "tcp");
	if (e->hook == REFLEX_HOOK_STRATUM_PAYLOAD) {
		/* cgroup_skb cannot signal: the kernel only drops; the kill is ours (pidfd). */
		det.rule = a->config->agent.stratum_rule;
		det.kernel_denied = e->kernel_action & REFLEX_CKACT_DROPPED;
		snprintf(what, sizeof(what), "Stratum handshake to %s%s%s:%u (first payload of a tcp connection)",
			 e->family == AF_INET6 ? "[" : "", addr, e->family == AF_INET6 ? "]" : "", e->dport);
		return handle_detection(a, &det);
	}
	snprintf(what, sizeof(what), "%s to %s%s%s:%u (%s, pool list %s)",
		 e->hook == REFLEX_HOOK_SENDMSG4 || e->hook == REFLEX_HOOK_SENDMSG6 ? "sendmsg" : "connect",
		 e->family == AF_INET6 ? "[" : "", addr, e->family == AF_INET6 ? "]" : "", e->dport,
		 e->protocol == IPPROTO_UDP ? "udp" : "tcp",
		 e->lists & REFLEX_POOL_MINER	 ? "miner_domains or agent.pool_cidrs"
		 : e->lists & REFLEX_POOL_HTTPS ? "https_miner_domains"
		 : e->lists & REFLEX_POOL_HTTP	 ? "http_miner_domains"
						 : "none (port-only mode)");
	return handle_detection(a, &det);
}

/* ---- Falco alerts ---- */

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME (what /proc start times count) of a CLOCK_REALTIME instant. */
static uint64_t boottime_of_realtime(uint64_t real_ns)
{
	uint64_t real_now = clock_ns(CLOCK_REALTIME), boot_now = clock_ns(CLOCK_BOOTTIME);
	uint64_t ago = real_now > real_ns ? real_now - real_ns : 0;

	return boot_now > ago ? boot_now - ago : 0;
}

/* The Falco alert's fields onto an incident (first alert) or into its reason (later ones). */
static void incident_take_alert(struct incident *inc, const struct falco_alert *al)
{
	if (inc->falco_rule[0]) {
		detail_append(inc, "; also Falco rule '%s'", al->rule);
		return;
	}
	copy_str(inc->falco_rule, sizeof(inc->falco_rule), al->rule);
	audit_priority_upper(al->priority_text, inc->falco_priority, sizeof(inc->falco_priority));
	free(inc->falco_output);
	inc->falco_output = al->output ? strdup(al->output) : NULL;
}

/* A stable id for an alert: sidekick's uuid, else a hash of what Falco wrote. */
static void alert_event_id(const struct agent *a, const struct falco_alert *al, char *buf, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = { al->rule, al->output, al->container_id };

	if (al->uuid && *al->uuid) {
		snprintf(buf, size, "falco-%s", al->uuid);
		return;
	}
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(buf, size, "falco-%s-%llu-%016llx", a->boot_id, (unsigned long long)al->time_ns,
		 (unsigned long long)h);
}

/* kill_process for an alert: by proc.pid after checks, else every process running proc.exepath. */
static void falco_kill_process(struct agent *a, struct incident *inc, const struct container_info *info,
			       const struct falco_alert *al)
{
	char scope[PATH_MAX];
	struct respond_target t = {
		.scope_rel = scope,
		.exe_path = inc->exe_path,
		/* Never 0 ("no bound"): without a usable alert time, the time the alert was received. */
		.not_after_boottime_ns = al->time_ns ? boottime_of_realtime(al->time_ns) : 0,
	};
	int fds[AGENT_MAX_ALERT_TARGETS];
	size_t n = 0;
	int err;

	if (!t.not_after_boottime_ns)
		t.not_after_boottime_ns = boottime_of_monotonic(inc->event_ktime_ns);
	snprintf(scope, sizeof(scope), "%.*s", (int)info->ref.scope_len, info->cgroup_path);
	err = respond_kill_target(a->cgroup_root, &t, al->pid > 0 ? (pid_t)al->pid : 0, fds,
				  AGENT_MAX_ALERT_TARGETS, &n);
	if (err == -ESTALE || err == -ESRCH || err == -EPERM) {
		if (al->pid > 0)
			detail_append(inc, "; pid %lld %s: not signalled", (long long)al->pid,
				      err == -ESRCH ? "has exited"
						    : "is not a process of this container running this executable "
						      "that started by the alert's time (pid reused?)");
		else
			detail_append(inc, "; no process of the container runs %s (exited)", inc->exe_path);
		incident_close(a, inc, err == -ESRCH || al->pid <= 0 ? "exited" : "refused", METRIC_STALE_TARGETS, -1);
		return;
	}
	if (err) {
		detail_append(inc, "; pidfd kill failed: %s", strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		metrics_inc(a->metrics, METRIC_KILLS_PIDFD);
		inc->killed_pids[inc->n_killed_pids++] = respond_pidfd_pid(fds[i]);
	}
	if (al->pid <= 0) {
		detail_append(inc, "; %zu process%s running %s killed", n, n == 1 ? "" : "es", inc->exe_path);
		inc->pid = n == 1 ? respond_pidfd_pid(fds[0]) : -1;
	}
	inc->acted = true;
	inc->kill_mode = "pidfd";
	inc->wait = WAIT_PROCESS_EXIT;
	for (size_t i = 1; i < n; i++)
		inc->more_fds[inc->n_more_fds++] = fds[i];
	incident_acted(a, inc);
	incident_wait(a, inc, fds[0], EPOLLIN);
}

/* Correlation, attribution, policy, response, audit for one Falco alert. */
static void handle_falco_alert(struct agent *a, const struct falco_alert *al, uint64_t received_ns)
{
	const struct reflex_rule *rule = config_find_rule(a->config, al->rule);
	bool named = al->container_id && *al->container_id && strcmp(al->container_id, "host");
	const struct container_info *info = NULL;
	struct policy_decision d;
	struct policy_subject s;
	struct decide_input in;
	struct decide_plan p;
	const char *owner = NULL;
	char owner_buf[64], summary[REFLEX_PATH_LEN + 1024];
	struct incident *inc;
	struct corr_event ev = {
		.container_id = named ? al->container_id : NULL,
		.exe_path = al->exe_path,
		.pid = al->pid,
		.time_ns = al->time_ns ? al->time_ns : clock_ns(CLOCK_REALTIME),
	};
	int err;

	/* The kernel (or an earlier alert) already has this process: confirm, do not act again. */
	if (named && correlation_on(a)) {
		struct incident *m = find_open_incident(a, &ev, true, al->rule, rule && action_kills(rule->action),
							false);

		if (m) {
			char what[512], priority[16];

			snprintf(what, sizeof(what), "Falco alert '%s'", al->rule);
			incident_record_join(a, m, al->rule, audit_priority_upper(al->priority_text, priority, sizeof(priority)),
					     al->output, ev.time_ns, what);
			if (!m->from_falco && !m->correlated) {
				m->correlated = true;
				a->falco_correlated++;
			}
			log_info("falco: '%s' for %s in %.12s joined incident %s (%s)", al->rule,
				 al->exe_path ? al->exe_path : "?", al->container_id, m->event_id,
				 m->outcome ? m->outcome : "in progress");
			return;
		}
	}
	if (!rule) {
		a->falco_unconfigured++;
		log_debug("falco: '%s' is not a rule in %s; counted only", al->rule, a->config->path);
		return;
	}
	inc = calloc(1, sizeof(*inc));
	if (!inc) {
		log_error("falco: out of memory; alert '%s' not handled", al->rule);
		return;
	}
	inc->fd = -1;
	inc->from_falco = true;
	inc->source = "falco";
	inc->event_ktime_ns = received_ns;
	inc->event_real_ns = ev.time_ns;
	inc->pid = al->pid > 0 ? al->pid : -1;
	copy_str(inc->rule, sizeof(inc->rule), al->rule);
	copy_str(inc->exe_path, sizeof(inc->exe_path), al->exe_path);
	/*
	 * Namespace, pod, owner and image come from the runtime or the API,
	 * never from the alert's k8s.* fields: whoever can write to Falco's
	 * output (or forge a sidekick POST) must not choose where reflex acts.
	 */
	incident_take_alert(inc, al);
	alert_event_id(a, al, inc->event_id, sizeof(inc->event_id));

	if (named) {
		err = attrib_find_container(a->attrib, al->container_id, on_container_change, a, &info);
		if (!err) {
			inc->is_container = true;
			copy_str(inc->container_id, sizeof(inc->container_id), info->ref.id);
			inc->cgroup_id = info->cgroup_id;
			copy_str(inc->pod_uid, sizeof(inc->pod_uid),
				 info->meta_known ? info->meta.pod_uid : info->ref.pod_uid);
			if (info->meta_known) {
				copy_str(inc->namespace_, sizeof(inc->namespace_), info->meta.namespace_);
				copy_str(inc->pod, sizeof(inc->pod), info->meta.pod_name);
				copy_str(inc->image, sizeof(inc->image), info->meta.image);
			}
			owner = owner_of(a, info->ref.id, info->meta_known ? info->meta.pod_uid : info->ref.pod_uid,
					 owner_buf, sizeof(owner_buf), inc);
		} else {
			/* Falco saw a container; it is not (or no longer) here: no kill, said below. */
			info = NULL;
			inc->is_container = true;
			copy_str(inc->container_id, sizeof(inc->container_id), al->container_id);
		}
	}
	s = (struct policy_subject){
		.rule = inc->rule,
		.is_container = inc->is_container,
		/* The agent, or any process of its own container. */
		.is_agent = al->pid == a->self_pid || (info && a->self_cgroup_id && info->cgroup_id == a->self_cgroup_id),
		.is_host_init = al->pid == 1,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.owner_kind = owner,
		.image = or_null(inc->image),
		.exe_path = or_null(inc->exe_path),
	};
	policy_decide(a->config, &s, &d);
	inc->verdict = d.verdict;
	inc->action = action_name(d.action);
	inc->dry_run = d.verdict == POLICY_DRY_RUN;
	incident_fill_reason(inc, &d);
	if (!named)
		detail_append(inc, "; the alert names no container: reflex never acts on it");
	else if (!info)
		detail_append(inc, "; container %s not found on this node (%s)", al->container_id,
			      err == -ENOTUNIQ ? "the id prefix names two containers"
			      : err == -EEXIST ? "two cgroups claim this container id: refused"
					       : "gone or not here");
	else if (!inc->namespace_[0])
		detail_append(inc, "; neither the runtime nor the Kubernetes API knows this container's pod "
				   "(the alert says namespace '%s', which is not trusted): reflex never acts on it",
			      al->k8s_namespace ? al->k8s_namespace : "");
	/* Written after the kill, as for kernel detections. */
	snprintf(summary, sizeof(summary), "falco: '%s' (%s) %s in %s: %s (%s)", al->rule,
		 al->priority_text ? al->priority_text : "?", inc->exe_path[0] ? inc->exe_path : "?",
		 named ? al->container_id : "no container", policy_verdict_name(d.verdict), d.reason);

	in = (struct decide_input){
		.policy = &d,
		.from_falco = true,
		.target_known = info != NULL,
		.namespace_known = inc->namespace_[0] != '\0',
		.has_exe = inc->exe_path[0] != '\0',
	};
	decide(&in, &p);
	if (p.step == DECIDE_ASK_RATE_LIMIT) {
		in.admit = rate_limit_admits(a, inc) ? DECIDE_ADMIT_YES : DECIDE_ADMIT_NO;
		decide(&in, &p);
	}
	plan_apply(a, inc, &p);
	if (p.step == DECIDE_KILL_PROCESS || p.step == DECIDE_KILL_CONTAINER) {
		if (p.step == DECIDE_KILL_PROCESS)
			falco_kill_process(a, inc, info, al);
		else
			kill_container(a, inc, info);
		log_info("%s", summary); /* INC may be freed by now */
		return;
	}
	log_info("%s", summary);
	incident_done(a, inc, -1);
}

/* Drains the intake queue; a budget keeps kernel events flowing during a flood. */
static void on_feed(struct agent *a)
{
	for (int i = 0; i < 256; i++) {
		struct falco_alert al = { 0 };
		enum falco_intake intake;
		uint64_t received_ns;

		if (!falco_feed_next(a->feed, &al, &received_ns, &intake))
			return;
		handle_falco_alert(a, &al, received_ns);
		falco_alert_clear(&al);
	}
}

static int on_kernel_record(void *ctx, const void *record, size_t size)
{
	const struct reflex_event_header *h = record;
	struct agent *a = ctx;

	if (size < sizeof(*h) || h->size > size) {
		log_warn("kernel: short record (%zu bytes), ignoring", size);
		return 0;
	}
	if (h->op == REFLEX_EVENT_EXEC && size >= sizeof(struct reflex_exec_event)) {
		int err = handle_exec_event(a, record);

		if (err)
			log_errno(LOG_LEVEL_ERROR, err, "exec event");
		return 0;
	}
	if (h->op == REFLEX_EVENT_CONNECT && size >= sizeof(struct reflex_connect_event)) {
		int err = handle_connect_event(a, record);

		if (err)
			log_errno(LOG_LEVEL_ERROR, err, "connect event");
		return 0;
	}
	log_warn("kernel: unknown record op %u, ignoring", h->op);
	return 0;
}

/* What the kernel may do at once in this container: its namespace and owner, then decide_kernel_flags(). */
static uint32_t verdict_flags_for(struct agent *a, const struct container_info *info)
{
	struct incident scratch = { .fd = -1 };
	const char *ns = NULL, *owner;
	char owner_buf[64];

	if (info->cgroup_id == a->self_cgroup_id)
		return 0;
	/* A failed rebuild: user space decides every detection until one succeeds. */
	if (a->verdicts_off)
		return REFLEX_VERDICT_CONTAINER;
	/* The namespace from the runtime, else from the API. */
	owner = owner_of(a, info->ref.id, info->meta_known ? info->meta.pod_uid : info->ref.pod_uid, owner_buf,
			 sizeof(owner_buf), &scratch);
	if (info->meta_known)
		ns = info->meta.namespace_;
	else if (scratch.namespace_[0])
		ns = scratch.namespace_;
	return decide_kernel_flags(a->config, ns, owner, a->kernel_rl_armed);
}

/*
 * Writes one cgroup's verdict. A write that fails must not leave the
 * verdict an older policy wrote there: the entry goes, else every entry.
 */
static void set_verdict(struct agent *a, uint64_t cgroup_id, uint32_t flags)
{
	int err = kernel_set_cgroup_verdict(a->kernel, cgroup_id, flags);

	if (!err)
		return;
	log_errno(LOG_LEVEL_ERROR, err, "verdict for cgroup %llu", (unsigned long long)cgroup_id);
	if (flags && !kernel_set_cgroup_verdict(a->kernel, cgroup_id, 0))
		return;
	if (!a->verdicts_off)
		verdicts_fail_safe(a, "a kernel verdict could not be written", false); /* may be inside a scan */
}

static void on_container_change(void *ctx, const struct container_info *info, bool added)
{
	struct agent *a = ctx;
	uint32_t flags = added ? verdict_flags_for(a, info) : 0;

	log_debug("container %s cgroup %llu %s%s", info->ref.id, (unsigned long long)info->cgroup_id,
		  added ? "appeared" : "went away",
		  flags & ~(uint32_t)REFLEX_VERDICT_CONTAINER ? ", kernel kill armed" : "");
	set_verdict(a, info->cgroup_id, flags);
	metrics_set_containers(a->metrics, attrib_count(a->attrib));
}

static void reapply_verdict(void *ctx, const struct container_info *info)
{
	struct agent *a = ctx;

	set_verdict(a, info->cgroup_id, verdict_flags_for(a, info));
}

/* Owners, rate limit or policy changed: every container's kernel verdict again. */
static void verdicts_refresh(struct agent *a)
{
	attrib_foreach(a->attrib, reapply_verdict, a);
}

/* A kernel action whose event the ring buffer lost, and what to put on the record for it. */
static const struct kernel_loss {
	enum reflex_kernel_counter counter;
	const char *what;
	const char *outcome;
	const char *kill_mode;
	bool pool_rule; /* else the exec (or Stratum) rule */
} kernel_losses[] = {
	{ REFLEX_KCNT_LOST_EXEC_KILLED, "a dropped or fileless binary killed at exec", "killed", "kernel", false },
	{ REFLEX_KCNT_LOST_EXEC_DENIED, "an exec refused by the BPF LSM", "denied", "lsm", false },
	{ REFLEX_KCNT_LOST_CONNECT_KILLED, "a pool connect whose caller was killed", "killed", "kernel", true },
	{ REFLEX_KCNT_LOST_CONNECT_DENIED, "a pool connect refused (EPERM)", "denied", NULL, true },
	{ REFLEX_KCNT_LOST_STRATUM_DROPPED, "a Stratum handshake dropped", "denied", NULL, false },
};

/*
 * The kernel acted but the full ring buffer lost the event: one record per
 * such action, saying what the kernel did and that the event itself (pid,
 * container, exe) is lost. No kernel action goes unrecorded.
 */
static void record_kernel_losses(struct agent *a, const uint64_t c[REFLEX_KCNT_MAX])
{
	const struct agent_config *ac = &a->config->agent;

	for (size_t k = 0; k < ARRAY_SIZE(kernel_losses); k++) {
		const struct kernel_loss *l = &kernel_losses[k];
		uint64_t now_count = c[l->counter], *seen = &a->kernel_lost_seen[l->counter];
		const char *rule = l->pool_rule ? ac->pool_rule
				   : l->counter == REFLEX_KCNT_LOST_STRATUM_DROPPED ? ac->stratum_rule
										 : ac->exec_rule;

		if (now_count <= *seen)
			continue;
		log_error("kernel: %llu actions (%s) whose events the full ring buffer lost: recorded without "
			  "pid or container", (unsigned long long)(now_count - *seen), l->what);
		for (; *seen < now_count; (*seen)++) {
			char event_id[80], detail[256];
			struct audit_record r = {
				.action = "kernel",
				.outcome = l->outcome,
				.rule = rule,
				.reason = "reflex: kernel action whose event was lost",
				.detail = detail,
				.operator_ = AGENT_OPERATOR,
				.node = ac->node_name,
				.pid = -1,
				.source = "kernel",
				.latency_us = -1,
				.kill_mode = l->kill_mode,
				.event_id = event_id,
			};

			snprintf(event_id, sizeof(event_id), "%s-lost-%u-%llu", a->boot_id, (unsigned int)l->counter,
				 (unsigned long long)*seen + 1);
			snprintf(detail, sizeof(detail),
				 "the kernel acted (%s) but its event was lost: ring buffer full; "
				 "loss %llu of this kind since the agent started", l->what,
				 (unsigned long long)*seen + 1);
			clock_gettime(CLOCK_REALTIME, &r.time);
			audit_or_count(a, &r);
		}
	}
}

static void refresh_kernel_counters(struct agent *a)
{
	uint64_t c[REFLEX_KCNT_MAX];

	if (kernel_read_counters(a->kernel, c))
		return;
	metrics_set_kernel(a->metrics, METRIC_K_EXEC_SEEN, c[REFLEX_KCNT_EXEC_SEEN]);
	metrics_set_kernel(a->metrics, METRIC_K_EXEC_SUSPICIOUS, c[REFLEX_KCNT_EXEC_SUSPICIOUS]);
	metrics_set_kernel(a->metrics, METRIC_K_EXEC_KILLED, c[REFLEX_KCNT_EXEC_KILLED]);
	metrics_set_kernel(a->metrics, METRIC_K_RINGBUF_DROPS, c[REFLEX_KCNT_RINGBUF_DROPS]);
	metrics_set_kernel(a->metrics, METRIC_K_SIGNAL_ERRORS, c[REFLEX_KCNT_SIGNAL_ERRORS]);
	metrics_set_kernel(a->metrics, METRIC_K_CONNECT_SEEN, c[REFLEX_KCNT_CONNECT_SEEN]);
	metrics_set_kernel(a->metrics, METRIC_K_CONNECT_MATCHED, c[REFLEX_KCNT_CONNECT_MATCHED]);
	metrics_set_kernel(a->metrics, METRIC_K_CONNECT_DENIED, c[REFLEX_KCNT_CONNECT_DENIED]);
	metrics_set_kernel(a->metrics, METRIC_K_CONNECT_KILLED, c[REFLEX_KCNT_CONNECT_KILLED]);
	metrics_set_kernel(a->metrics, METRIC_K_EXEC_DENIED, c[REFLEX_KCNT_EXEC_DENIED]);
	metrics_set_kernel(a->metrics, METRIC_K_STRATUM_WATCHED, c[REFLEX_KCNT_STRATUM_WATCHED]);
	metrics_set_kernel(a->metrics, METRIC_K_STRATUM_MATCHED, c[REFLEX_KCNT_STRATUM_MATCHED]);
	metrics_set_kernel(a->metrics, METRIC_K_LOST_EXEC_KILLED, c[REFLEX_KCNT_LOST_EXEC_KILLED]);
	metrics_set_kernel(a->metrics, METRIC_K_LOST_EXEC_DENIED, c[REFLEX_KCNT_LOST_EXEC_DENIED]);
	metrics_set_kernel(a->metrics, METRIC_K_LOST_CONNECT_KILLED, c[REFLEX_KCNT_LOST_CONNECT_KILLED]);
	metrics_set_kernel(a->metrics, METRIC_K_LOST_CONNECT_DENIED, c[REFLEX_KCNT_LOST_CONNECT_DENIED]);
	metrics_set_kernel(a->metrics, METRIC_K_LOST_STRATUM_DROPPED, c[REFLEX_KCNT_LOST_STRATUM_DROPPED]);
	record_kernel_losses(a, c);
}

/* The in-kernel kill as /status and /metrics show it. */
static void publish_kernel_kill_hook(struct agent *a)
{
	bool on = a->config->agent.enforce_in_kernel;

	if (a->verdicts_off)
		metrics_set_hook(a->metrics, "bpf_send_signal (in-kernel kill)", false,
				 "off: a reload or attribution rebuild failed; user space decides until a rebuild succeeds");
	else
		metrics_set_hook(a->metrics, "bpf_send_signal (in-kernel kill)", on,
				 on ? "armed per container from policy" : "off: agent.enforce_in_kernel is false");
}

/*
 * A reload or rebuild failed: whatever the kernel holds may be an older
 * policy's verdicts. Clear every one, loudly; user space (which runs the
 * current config) decides each detection until attrib_rebuild succeeds,
 * retried on every rescan tick.
 */
static void verdicts_fail_safe(struct agent *a, const char *why, bool refresh)
{
	int err = kernel_clear_cgroup_verdicts(a->kernel);

	if (!a->verdicts_off) {
		a->verdicts_off = true;
		metrics_inc(a->metrics, METRIC_VERDICTS_CLEARED);
		publish_kernel_kill_hook(a);
	}
	if (err)
		log_errno(LOG_LEVEL_ERROR, err, "%s; clearing the kernel verdicts FAILED as well", why);
	else
		log_error("%s: every kernel verdict cleared; no in-kernel kill until an attribution rebuild "
			  "succeeds (retried every %d ms); user space decides each detection meanwhile",
			  why, AGENT_RESCAN_MS);
	/* Known containers stay marked as containers (their pool connects are reported), nothing more. */
	if (refresh)
		verdicts_refresh(a);
}

static int attrib_rebuild(struct agent *a)
{
	const char *const *roots = (const char *const *)a->config->agent.containerd_roots;
	struct attrib_config ac = {
		.cgroup_root = a->cgroup_root,
		.containerd_roots = roots,
		.n_containerd_roots = a->config->agent.n_containerd_roots,
		.crio_root = a->config->agent.crio_root,
	};
	bool was_off = a->verdicts_off;
	struct attrib *fresh;
	int fd, err;

	a->last_rescan_ns = util_monotonic_ns(); /* a failure is retried one rescan interval later */
	/*
	 * The new table first: when it cannot be had, the old one keeps
	 * attributing for user space, and the kernel keeps no verdict.
	 */
	fresh = attrib_new(&ac);
	if (!fresh) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "attribution (cgroup root %s)", a->cgroup_root);
		verdicts_fail_safe(a, "attribution rebuild failed", true);
		return err;
	}
	if (a->attrib) {
		fd = attrib_watch_fd(a->attrib);
		if (fd >= 0)
			epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		a->attrib = attrib_free(a->attrib);
	}
	a->attrib = fresh;
	fd = attrib_watch_fd(a->attrib);
	if (fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_attrib };

		if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			err = log_errno(LOG_LEVEL_ERROR, -errno, "epoll add inotify");
			verdicts_fail_safe(a, "attribution rebuild failed", true);
			return err;
		}
	} else {
		log_warn("attribution: inotify unavailable, new containers are found by the %d ms rescan",
			 AGENT_RESCAN_MS);
	}
	/* No verdict of the previous policy survives a rebuild. */
	err = kernel_clear_cgroup_verdicts(a->kernel);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "clearing kernel verdicts");
		verdicts_fail_safe(a, "attribution rebuild failed", true);
		return err;
	}
	a->verdicts_off = false;
	err = attrib_scan(a->attrib, on_container_change, a);
	a->last_rescan_ns = util_monotonic_ns();
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "cgroup scan of %s", a->cgroup_root);
		verdicts_fail_safe(a, "attribution rebuild failed", true);
		return err;
	}
	if (was_off && !a->verdicts_off)
		log_info("attribution rebuilt: kernel verdicts armed again from the running config");
	publish_kernel_kill_hook(a);
	return 0;
}

static struct ratelimit *rate_limit_new(const struct reflex_config *c)
{
	struct ratelimit_config rc = {
		.max_containers = c->agent.rate_limit_containers,
		.max_executables = c->agent.rate_limit_executables,
		.window_s = c->agent.rate_limit_window_s,
	};

	return ratelimit_new(&rc);
}

/* FNV-1a of the file's bytes; 0 when unreadable (then any readable version differs). */
static uint64_t config_file_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
	fclose(f);
	return h;
}

static bool str_differs(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "") != 0;
}

/* Settings bound at start-up: a reload says it did not apply them. */
static void warn_restart_only(const struct reflex_config *old, const struct reflex_config *fresh)
{
	const struct agent_config *o = &old->agent, *n = &fresh->agent;

	if (str_differs(o->falco_socket, n->falco_socket) || o->falco_socket_mode != n->falco_socket_mode ||
	    o->n_falco_peer_uids != n->n_falco_peer_uids ||
	    (n->n_falco_peer_uids &&
	     memcmp(o->falco_peer_uids, n->falco_peer_uids, n->n_falco_peer_uids * sizeof(*n->falco_peer_uids))) ||
	    str_differs(o->falco_http_address, n->falco_http_address) ||
	    str_differs(o->falco_http_token_file, n->falco_http_token_file) ||
	    o->falco_max_alert_bytes != n->falco_max_alert_bytes || o->falco_queue_size != n->falco_queue_size)
		log_warn("reload: agent.falco_* settings changed; they take effect when reflexd restarts");
	if (str_differs(o->kubernetes_api, n->kubernetes_api) ||
	    str_differs(o->kubernetes_token_file, n->kubernetes_token_file) ||
	    str_differs(o->kubernetes_ca_file, n->kubernetes_ca_file) || str_differs(o->node_name, n->node_name))
		log_warn("reload: agent.kubernetes_* or node_name changed; they take effect when reflexd restarts");
	if (str_differs(o->metrics_address, n->metrics_address) || str_differs(o->audit_log, n->audit_log))
		log_warn("reload: agent.metrics_address or audit_log changed; they take effect when reflexd restarts");
	if (o->watch_stratum_handshake != n->watch_stratum_handshake)
		log_warn("reload: agent.watch_stratum_handshake changed; it takes effect when reflexd restarts");
}

static void refresh_feed_metrics(struct agent *a)
{
	struct falco_feed_stats fs = { 0 };
	struct kube_status ks = { 0 };
	uint64_t rejected = 0;

	if (a->feed) {
		falco_feed_get_stats(a->feed, &fs);
		for (int i = 0; i < FALCO_PARSE_ERROR_MAX; i++)
			rejected += fs.rejected[i];
	}
	metrics_set_feed(a->metrics, METRIC_F_ALERTS, fs.lines);
	metrics_set_feed(a->metrics, METRIC_F_PARSED, fs.parsed);
	metrics_set_feed(a->metrics, METRIC_F_REJECTED, rejected);
	metrics_set_feed(a->metrics, METRIC_F_DROPPED, fs.dropped);
	metrics_set_feed(a->metrics, METRIC_F_TRUNCATED, fs.truncated);
	metrics_set_feed(a->metrics, METRIC_F_PEERS_REFUSED, fs.peers_refused);
	metrics_set_feed(a->metrics, METRIC_F_HTTP_UNAUTHORIZED, fs.http_unauthorized);
	metrics_set_feed(a->metrics, METRIC_F_QUEUED, fs.queued);
	metrics_set_feed(a->metrics, METRIC_F_CORRELATED, a->falco_correlated);
	metrics_set_feed(a->metrics, METRIC_F_UNCONFIGURED, a->falco_unconfigured);
	if (a->kube)
		kube_pods_status(a->kube, &ks);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_SYNCED, ks.synced);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_PODS, ks.pods);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_ERRORS, ks.errors);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_LISTS, ks.lists);
}

/* What a rule does under CONFIG: dry-run, or its action for real. */
static const char *rule_mode(const struct reflex_config *c, const struct reflex_rule *r)
{
	if (r->dryrun == TRISTATE_TRUE || (r->dryrun == TRISTATE_UNSET && c->dryrun))
		return "dry-run";
	return action_kills(r->action) ? "live" : "alert-only";
}

/*
 * The "config" audit record (DESIGN.md, Contracts): which rules, in which
 * mode, and the command-line overrides in force, each time a config is loaded.
 */
static void audit_config_loaded(struct agent *a, const char *how)
{
	const struct reflex_config *c = a->config;
	char overrides[512], *detail = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&detail, &len);
	struct audit_record r = {
		.action = "config",
		.outcome = "loaded",
		.dry_run = c->dryrun,
		.reason = how,
		.operator_ = AGENT_OPERATOR,
		.node = c->agent.node_name,
		.pid = -1,
		.source = "agent",
		.latency_us = -1,
	};

	config_overrides_describe(&a->opts.overrides, overrides, sizeof(overrides));
	if (f) {
		fprintf(f, "%s: dryrun %s, kernel enforcement %s, unknown owners %s; rules:", c->path,
			c->dryrun ? "true" : "false", c->agent.enforce_in_kernel ? "on" : "off",
			c->agent.unknown_owner == UNKNOWN_OWNER_ALLOW ? "allow" : "refuse");
		for (size_t i = 0; i < c->n_rules; i++)
			fprintf(f, "%s '%s' %s %s", i ? ";" : "", c->rules[i].name, action_name(c->rules[i].action),
				rule_mode(c, &c->rules[i]));
		fprintf(f, "; %zu exceptions; command-line overrides: %s", c->n_exceptions, overrides);
		if (fclose(f))
			detail = (free(detail), NULL);
	}
	r.detail = detail ? detail : overrides;
	clock_gettime(CLOCK_REALTIME, &r.time);
	if (audit_write(a->audit, &r) < 0)
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
	free(detail);
}

static void reload_config(struct agent *a)
{
	struct reflex_config *fresh = NULL;
	struct ratelimit *rl;
	bool same_pools;
	char err[512];
	int r;

	r = config_load(a->config->path, &fresh, err, sizeof(err));
	if (r) {
		log_error("reload: %s; keeping the running config", err);
		return;
	}
	/* The command line wins over the file on every load, not only the first. */
	r = config_apply_overrides(fresh, &a->opts.overrides);
	if (r) {
		log_errno(LOG_LEVEL_ERROR, r, "reload: command-line overrides; keeping the running config");
		config_free(fresh);
		return;
	}
	same_pools = strcmp(a->config->agent.pool_lists, fresh->agent.pool_lists) == 0 &&
		     a->config->agent.pool_resolve_interval_s == fresh->agent.pool_resolve_interval_s;
	rl = rate_limit_new(fresh);
	if (!rl) {
		log_error("reload: out of memory; keeping the running config");
		config_free(fresh);
		return;
	}
	warn_restart_only(a->config, fresh);
	config_free(a->config);
	a->config = fresh;
	a->config_hash = config_file_hash(fresh->path);
	/* A reload re-arms every rule the rate limit disarmed. */
	if (ratelimit_disarmed_rule(a->ratelimit, 0))
		log_info("reload: rules disarmed by the kill rate limit are armed again");
	ratelimit_free(a->ratelimit);
	a->ratelimit = rl;
	a->kernel_rl_armed = kernel_rules_armed(a);
	publish_disarmed(a);
	log_info("reload: %s loaded (%zu rules, %zu exceptions; command-line overrides in force: %s)", fresh->path,
		 fresh->n_rules, fresh->n_exceptions,
		 config_overrides_describe(&a->opts.overrides, err, sizeof(err)));
	audit_config_loaded(a, "config reloaded");
	if (attrib_rebuild(a))
		log_error("reload: attribution rebuild failed; in-kernel kills are off until a rebuild succeeds");
	/*
	 * Same lists: keep the resolver and its last good addresses, re-apply
	 * (CIDRs and knobs may have changed). Other lists: start over.
	 */
	if (same_pools && a->resolver) {
		struct reflex_connect_config cc = {
			.port_only = fresh->agent.pool_port_only,
			.exclude_private = fresh->agent.pool_exclude_private,
		};

		kernel_set_connect_config(a->kernel, &cc);
		kernel_set_stratum_scan(a->kernel, fresh->agent.scan_stratum_argv);
		on_resolver(a);
	} else {
		pools_stop(a);
		pools_start(a);
		kernel_set_stratum_scan(a->kernel, fresh->agent.scan_stratum_argv);
	}
	kernel_set_exec_deny(a->kernel, fresh->agent.deny_exec_in_kernel);
	if (fresh->agent.deny_exec_in_kernel && !kernel_exec_deny_active(a->kernel))
		log_info("agent.deny_exec_in_kernel: exec refusal not active (%s); a restart loads it if the kernel allows",
			 kernel_exec_deny_reason(a->kernel));
}

static void on_tick(struct agent *a)
{
	uint64_t now = util_monotonic_ns(), expirations;
	struct incident *inc, *next;

	if (read(a->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_errno(LOG_LEVEL_WARN, -errno, "timerfd read");
	metrics_loop_alive(a->metrics, now); /* /healthz: the loop turns */
	for (inc = a->waiting; inc; inc = next) {
		next = inc->next;
		if (inc->wait == WAIT_CGROUP_EMPTY && respond_cgroup_populated(inc->fd) == 0)
			incident_finish(a, inc, true);
		else if (now >= inc->deadline_ns && inc->wait == WAIT_PROCESS_EXIT && pidfd_exited(inc->fd))
			incident_check(a, inc);
		else if (now >= inc->deadline_ns)
			incident_finish(a, inc, false);
	}
	recent_expire(a, false);
	/* Kills age out of the rate-limit window: the kernel may be re-armed. */
	rate_limit_sync_kernel(a);
	if (a->config_dirty_ns && now - a->config_dirty_ns >= AGENT_CONFIG_SETTLE_MS * 1000000ULL) {
		a->config_dirty_ns = 0;
		if (config_file_hash(a->config->path) != a->config_hash) {
			log_info("%s changed on disk: reloading", a->config->path);
			reload_config(a);
		}
	}
	if (a->verdicts_off && now - a->last_rescan_ns >= AGENT_RESCAN_MS * 1000000ULL) {
		/* Retry the rebuild that failed (sets last_rescan_ns either way). */
		attrib_rebuild(a);
	} else if (now - a->last_rescan_ns >= AGENT_RESCAN_MS * 1000000ULL) {
		int err = attrib_scan(a->attrib, on_container_change, a);

		if (err)
			log_errno(LOG_LEVEL_WARN, err, "cgroup rescan");
		a->last_rescan_ns = now;
	}
	refresh_kernel_counters(a);
	refresh_feed_metrics(a);
}

static int on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->signal_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: reloading %s", a->config->path);
		reload_config(a);
		return 0;
	}
	log_info("%s: shutting down", strsignal((int)si.ssi_signo));
	a->stopping = true;
	return 0;
}

/* Any change in the config file's directory (ConfigMaps swap a symlink) marks it to be compared. */
static void on_config_watch(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(a->config_watch_fd, buf, sizeof(buf)) > 0)
		;
	a->config_dirty_ns = util_monotonic_ns();
}

static void config_watch_start(struct agent *a)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", a->config->path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	a->config_hash = config_file_hash(a->config->path);
	a->config_watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->config_watch_fd < 0 ||
	    inotify_add_watch(a->config_watch_fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY) < 0 ||
	    epoll_add_tag(a, a->config_watch_fd, &tag_config)) {
		log_errno(LOG_LEVEL_WARN, -errno, "watching %s for changes (SIGHUP still reloads)", dir);
		return;
	}
	log_info("config: %s reloads on change and on SIGHUP", a->config->path);
}

/* Token for the HTTP intake, read once at start (a rotated token needs a restart). */
static int read_token(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return -errno;
	n = fread(buf, 1, size - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n ? 0 : -ENODATA;
}

static int feed_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	char token[512] = "";
	struct falco_feed_config fc = {
		.socket_path = ac->falco_socket,
		.socket_mode = ac->falco_socket_mode,
		.peer_uids = ac->falco_peer_uids,
		.n_peer_uids = ac->n_falco_peer_uids,
		.http_address = ac->falco_http_address,
		.http_token = token,
		.max_alert_bytes = ac->falco_max_alert_bytes,
		.queue_size = ac->falco_queue_size,
	};
	int err;

	if (!*ac->falco_socket && !*ac->falco_http_address) {
		log_warn("falco: no intake (agent.falco_socket and agent.falco_http_address are off): "
			 "only kernel detections are acted on");
		metrics_set_hook(a->metrics, "falco feed", false, "off in config");
		return 0;
	}
	if (*ac->falco_http_token_file && (err = read_token(ac->falco_http_token_file, token, sizeof(token))))
		return log_errno(LOG_LEVEL_ERROR, err, "falco: token file %s", ac->falco_http_token_file);
	a->feed = falco_feed_start(&fc);
	explicit_bzero(token, sizeof(token));
	if (!a->feed)
		return -errno;
	err = epoll_add_tag(a, falco_feed_fd(a->feed), &tag_feed);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "epoll add falco feed");
	if (*ac->falco_socket && !ac->n_falco_peer_uids)
		log_warn("falco: agent.falco_peer_uids is empty: %s refuses every writer (remove the key for root only)",
			 ac->falco_socket);
	else if (*ac->falco_socket)
		log_info("falco: reading alerts from %s (mode %04o, writers uid %u%s)", ac->falco_socket,
			 ac->falco_socket_mode, ac->falco_peer_uids[0], ac->n_falco_peer_uids > 1 ? " and others" : "");
	if (*ac->falco_http_address)
		log_info("falco: HTTP intake on %s (port %u)%s", ac->falco_http_address,
			 falco_feed_http_port(a->feed), *ac->falco_http_token_file ? ", X-Falco-Token required" : "");
	metrics_set_hook(a->metrics, "falco feed", true,
			 *ac->falco_socket ? ac->falco_socket : ac->falco_http_address);
	return 0;
}

/* Pod owners from the API; without it owners stay unknown (agent.unknown_owner decides). */
static void kube_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	struct kube_config kc = {
		.node_name = ac->node_name,
		.token_file = *ac->kubernetes_token_file ? ac->kubernetes_token_file : NULL,
		.ca_file = *ac->kubernetes_ca_file ? ac->kubernetes_ca_file : NULL,
	};
	const char *host = getenv("KUBERNETES_SERVICE_HOST");

	if (!*ac->kubernetes_api || (!strcmp(ac->kubernetes_api, "auto") && !(host && *host))) {
		log_warn("kubernetes: no API (%s): pod owners are unknown, agent.unknown_owner=%s decides",
			 *ac->kubernetes_api ? "not in a cluster: KUBERNETES_SERVICE_HOST unset" : "off in config",
			 ac->unknown_owner == UNKNOWN_OWNER_ALLOW ? "allow" : "refuse");
		metrics_set_hook(a->metrics, "kubernetes pod watch", false,
				 *ac->kubernetes_api ? "not in a cluster" : "off in config");
		return;
	}
	if (strcmp(ac->kubernetes_api, "auto"))
		kc.api_url = ac->kubernetes_api;
	/* A token or CA that is not there (out of cluster) means none. */
	if (kc.token_file && access(kc.token_file, R_OK))
		kc.token_file = NULL;
	if (kc.ca_file && access(kc.ca_file, R_OK))
		kc.ca_file = NULL;
	a->kube = kube_pods_start(&kc);
	if (!a->kube) {
		log_errno(LOG_LEVEL_ERROR, -errno, "kubernetes: pod watch not started; owners are unknown");
		metrics_set_hook(a->metrics, "kubernetes pod watch", false, strerror(errno));
		return;
	}
	if (epoll_add_tag(a, kube_pods_event_fd(a->kube), &tag_kube))
		log_errno(LOG_LEVEL_WARN, -errno, "epoll add kubernetes");
	log_info("kubernetes: watching pods of node %s at %s", ac->node_name,
		 kc.api_url ? kc.api_url : "the in-cluster API");
	metrics_set_hook(a->metrics, "kubernetes pod watch", true, kc.api_url ? kc.api_url : "in-cluster");
}

int agent_run(struct agent *a)
{
	struct epoll_event evs[32];

	log_info("reflexd running on node %s: exec hook %s, cgroup root %s, %zu containers tracked",
		 a->config->agent.node_name, kernel_exec_hook(a->kernel), a->cgroup_root,
		 attrib_count(a->attrib));
	while (!a->stopping) {
		int n = epoll_wait(a->epoll_fd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_errno(LOG_LEVEL_ERROR, -errno, "epoll_wait");
		}
		a->batch = evs;
		a->batch_n = n;
		for (a->batch_i = 0; a->batch_i < n; a->batch_i++) {
			void *tag = evs[a->batch_i].data.ptr;

			if (!tag) {
				continue; /* an incident finished earlier in this batch */
			} else if (tag == &tag_kernel) {
				int err = kernel_consume(a->kernel);

				if (err < 0)
					log_errno(LOG_LEVEL_ERROR, err, "ring buffer");
			} else if (tag == &tag_signal) {
				on_signal(a);
			} else if (tag == &tag_timer) {
				on_tick(a);
			} else if (tag == &tag_resolver) {
				on_resolver(a);
			} else if (tag == &tag_feed) {
				on_feed(a);
			} else if (tag == &tag_kube) {
				kube_pods_ack(a->kube);
				verdicts_refresh(a);
				log_debug("kubernetes: pods changed; kernel verdicts re-applied");
			} else if (tag == &tag_config) {
				on_config_watch(a);
			} else if (tag == &tag_attrib) {
				int err = attrib_watch_process(a->attrib, on_container_change, a);

				if (err)
					log_errno(LOG_LEVEL_WARN, err, "cgroup watch");
			} else {
				incident_check(a, tag);
			}
		}
		a->batch_n = 0;
	}
	return 0;
}

/* cgroup v2 id of this process, so its own cgroup is never armed. */
static uint64_t self_cgroup_id(const char *cgroup_root)
{
	char buf[4096], path[PATH_MAX];
	struct stat st;
	FILE *f = fopen("/proc/self/cgroup", "re");
	uint64_t id = 0;

	if (!f)
		return 0;
	while (fgets(buf, sizeof(buf), f)) {
		if (strncmp(buf, "0::", 3) != 0)
			continue;
		buf[strcspn(buf, "\n")] = '\0';
		if ((size_t)snprintf(path, sizeof(path), "%s%s", cgroup_root, buf + 3) < sizeof(path) &&
		    stat(path, &st) == 0)
			id = (uint64_t)st.st_ino;
		break;
	}
	fclose(f);
	return id;
}

static int find_cgroup_root(struct agent *a)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f;
	int err;

	if (a->config->agent.cgroup_root && *a->config->agent.cgroup_root) {
		copy_str(a->cgroup_root, sizeof(a->cgroup_root), a->config->agent.cgroup_root);
		return 0;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* getdelim with NUL reads the whole file. */
	if (getdelim(&text, &cap, '\0', f) < 0) {
		err = -errno;
		fclose(f);
		free(text);
		return err ? err : -EIO;
	}
	fclose(f);
	err = cgroup2_mount_from_mountinfo(text, a->cgroup_root, sizeof(a->cgroup_root));
	free(text);
	return err;
}

static void read_boot_id(struct agent *a)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	copy_str(a->boot_id, sizeof(a->boot_id), "00000000");
	if (!f)
		return;
	if (!fgets(a->boot_id, sizeof(a->boot_id), f))
		copy_str(a->boot_id, sizeof(a->boot_id), "00000000");
	fclose(f);
}

static int pool_key_apply(struct agent *a, const struct pool_addr *p, bool add)
{
	if (p->family == AF_INET) {
		struct reflex_pool_v4_key k = { .prefixlen = p->prefixlen };

		memcpy(k.addr, p->addr, 4);
		return add ? kernel_pool_v4_update(a->kernel, &k, p->lists) : kernel_pool_v4_delete(a->kernel, &k);
	}
	{
		struct reflex_pool_v6_key k = { .prefixlen = p->prefixlen };

		memcpy(k.addr, p->addr, 16);
		return add ? kernel_pool_v6_update(a->kernel, &k, p->lists) : kernel_pool_v6_delete(a->kernel, &k);
	}
}

/*
 * New pool set = configured CIDRs + every domain's last good addresses.
 * Insert and update first, delete the stale after: no moment in which a
 * pool that stays listed is missing from the tries.
 */
static void pools_apply(struct agent *a, struct pool_addr *resolved, size_t n_resolved)
{
	const struct agent_config *ac = &a->config->agent;
	struct pool_addr *set;
	size_t n = 0, added = 0, removed = 0;

	set = calloc(n_resolved + ac->n_pool_cidrs + 1, sizeof(*set));
	if (!set) {
		log_error("pools: out of memory; keeping the current set");
		return;
	}
	for (size_t i = 0; i < ac->n_pool_cidrs; i++)
		if (pool_cidr_parse(ac->pool_cidrs[i], REFLEX_POOL_MINER, &set[n]) == 0)
			n++;
	memcpy(set + n, resolved, n_resolved * sizeof(*set));
	n = pool_addrs_normalize(set, n + n_resolved);
	for (size_t i = 0; i < n; i++) {
		uint32_t lists;

		if (pool_addrs_contains(a->pool_applied, a->n_pool_applied, &set[i], &lists) &&
		    lists == set[i].lists)
			continue;
		if (pool_key_apply(a, &set[i], true) == 0)
			added++;
	}
	for (size_t i = 0; i < a->n_pool_applied; i++) {
		if (pool_addrs_contains(set, n, &a->pool_applied[i], NULL))
			continue;
		if (pool_key_apply(a, &a->pool_applied[i], false) == 0)
			removed++;
	}
	free(a->pool_applied);
	a->pool_applied = set;
	a->n_pool_applied = n;
	metrics_set_pools(a->metrics, a->pools.n_domains, n);
	if (added || removed)
		log_info("pools: %zu addresses and CIDRs in the kernel (+%zu -%zu)", n, added, removed);
}

static void on_resolver(struct agent *a)
{
	struct pool_addr *resolved = NULL;
	size_t n = 0, ok = 0, failed = 0;
	int err;

	err = pool_resolver_take(a->resolver, &resolved, &n, &ok, &failed);
	if (err) {
		log_errno(LOG_LEVEL_WARN, err, "pools: taking resolver results");
		return;
	}
	if (failed)
		log_warn("pools: %zu of %zu domains do not resolve now; their last good addresses stay",
			 failed, a->pools.n_domains);
	metrics_set_pool_resolution(a->metrics, ok, failed);
	pools_apply(a, resolved, n);
	free(resolved);
}

static void pools_stop(struct agent *a)
{
	if (a->resolver) {
		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, pool_resolver_fd(a->resolver), NULL);
		a->resolver = pool_resolver_stop(a->resolver);
	}
	pool_lists_clear(&a->pools);
}

/* Loads the lists, programs ports and knobs, starts resolving. Never fatal. */
static void pools_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	struct reflex_connect_config cc = {
		.port_only = ac->pool_port_only,
		.exclude_private = ac->pool_exclude_private,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_resolver };
	char err[512];
	int r;

	if (!kernel_connect_active(a->kernel, KERNEL_CONNECT4) && !kernel_connect_active(a->kernel, KERNEL_CONNECT6))
		return;
	r = pool_lists_load(ac->pool_lists, &a->pools, err, sizeof(err));
	if (r) {
		log_error("pools: %s; only agent.pool_cidrs are watched", err);
		memset(&a->pools, 0, sizeof(a->pools));
	}
	if (kernel_set_miner_ports(a->kernel, &a->pools.ports) || kernel_set_connect_config(a->kernel, &cc))
		log_error("pools: could not program ports or knobs into the kernel");
	pools_apply(a, NULL, 0);
	if (!a->pools.n_domains)
		return;
	a->resolver = pool_resolver_start(a->pools.domains, a->pools.n_domains, ac->pool_resolve_interval_s);
	if (!a->resolver) {
		log_errno(LOG_LEVEL_ERROR, -errno, "pools: resolver thread");
		return;
	}
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, pool_resolver_fd(a->resolver), &ev))
		log_errno(LOG_LEVEL_ERROR, -errno, "pools: epoll add");
	log_info("pools: %zu miner ports, %zu domains (resolving every %u s), %zu CIDRs from config",
		 a->pools.n_ports, a->pools.n_domains, ac->pool_resolve_interval_s, ac->n_pool_cidrs);
}

/* First directory entry below DIR that is a directory, into ret. */
static bool first_child_dir(const char *dir, char *ret, size_t size)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			found = (size_t)snprintf(ret, size, "%s/%s", dir, de->d_name) < size;
			break;
		}
	}
	closedir(d);
	return found;
}

/* cgroup v1 freezer mount point from mountinfo, "" if none. */
static void find_freezer_root(struct agent *a)
{
	char line[4096], mnt[PATH_MAX], fstype[64], super[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	a->freezer_root[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (strcmp(fstype, "cgroup") == 0 && strstr(super, "freezer")) {
			copy_str(a->freezer_root, sizeof(a->freezer_root), mnt);
			break;
		}
	}
	fclose(f);
}

/*
 * cgroup.kill exists in every non-root cgroup on kernels >= 5.14, the root
 * has none, and there may be no child yet: make a short-lived one to look.
 * Without it, fall back to the v1 freezer.
 */
static void probe_container_kill(struct agent *a)
{
	char child[PATH_MAX + 32], file[PATH_MAX + 48];

	a->cgroup_kill_supported = false;
	if (!a->opts.force_cgroup_v1_kill) {
		bool made;

		snprintf(child, sizeof(child), "%s/reflex-probe-%d", a->cgroup_root, (int)a->self_pid);
		made = mkdir(child, 0700) == 0;
		if (made || first_child_dir(a->cgroup_root, child, sizeof(child))) {
			snprintf(file, sizeof(file), "%s/cgroup.kill", child);
			a->cgroup_kill_supported = access(file, W_OK) == 0;
		}
		if (made && rmdir(child))
			log_errno(LOG_LEVEL_WARN, -errno, "removing probe cgroup %s", child);
	}
	find_freezer_root(a);
	if (a->cgroup_kill_supported) {
		metrics_set_hook(a->metrics, "cgroup.kill (container kill)", true, "cgroup v2");
		return;
	}
	metrics_set_hook(a->metrics, "cgroup.kill (container kill)", false,
			 a->opts.force_cgroup_v1_kill ? "forced off" : "not in this kernel");
	metrics_set_hook(a->metrics, "cgroup v1 freezer (container kill)", a->freezer_root[0] != '\0',
			 a->freezer_root[0] ? a->freezer_root : "no freezer hierarchy mounted");
	log_warn("container kill: cgroup.kill unavailable (%s); using %s",
		 a->opts.force_cgroup_v1_kill ? "forced off" : "kernel < 5.14",
		 a->freezer_root[0] ? "the cgroup v1 freezer" : "nothing: kill_container will fail");
}

/* Inode of a /proc/PID/ns/mnt link ("mnt:[4026531840]"). */
static int mnt_ns_inum(const char *link, uint32_t *ret)
{
	char buf[64];
	unsigned long long inum;
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (sscanf(buf, "mnt:[%llu]", &inum) != 1)
		return -EINVAL;
	*ret = (uint32_t)inum;
	return 0;
}

/*
 * The host's mount namespace: pid 1's (reflexd runs with hostPID). Where
 * pid 1 is not readable (a sandbox), our own, and say so.
 */
static int host_mnt_ns(uint32_t *ret)
{
	int err = mnt_ns_inum("/proc/1/ns/mnt", ret);

	if (!err)
		return 0;
	log_errno(LOG_LEVEL_WARN, err, "reading /proc/1/ns/mnt; taking reflexd's own mount namespace as the host's");
	err = mnt_ns_inum("/proc/self/ns/mnt", ret);
	if (err)
		log_errno(LOG_LEVEL_ERROR, err, "reading /proc/self/ns/mnt");
	return err;
}

static int epoll_add_tag(struct agent *a, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

int agent_start(struct reflex_config *config, const struct agent_opts *opts, struct agent **ret)
{
	struct itimerspec tick = {
		.it_interval = { 0, AGENT_TICK_MS * 1000000L },
		.it_value = { 0, AGENT_TICK_MS * 1000000L },
	};
	struct kernel_opts kopts = { 0 };
	struct agent *a;
	sigset_t mask;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a) {
		config_free(config);
		return -ENOMEM;
	}
	a->config = config;
	a->opts = *opts;
	a->epoll_fd = a->signal_fd = a->timer_fd = a->config_watch_fd = -1;
	a->self_pid = getpid();
	read_boot_id(a);

	a->metrics = metrics_new(config->agent.node_name);
	a->ratelimit = rate_limit_new(config);
	if (!a->metrics || !a->ratelimit) {
		err = -ENOMEM;
		goto fail;
	}
	a->kernel_rl_armed = kernel_rules_armed(a);
	a->audit = audit_open(config->agent.audit_log, config->agent.audit_stdout);
	if (!a->audit) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "audit log %s", config->agent.audit_log);
		goto fail;
	}
	audit_config_loaded(a, "config loaded at start");
	err = find_cgroup_root(a);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "no cgroup v2 mount found in /proc/self/mountinfo "
			  "(set agent.cgroup_root)");
		goto fail;
	}
	a->self_cgroup_id = self_cgroup_id(a->cgroup_root);

	/* Signals through a signalfd: the loop handles them between events. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL)) {
		err = -errno;
		goto fail;
	}
	a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->epoll_fd < 0 || a->signal_fd < 0 || a->timer_fd < 0) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "epoll/signalfd/timerfd");
		goto fail;
	}

	/* Host execs are those in pid 1's mount namespace. */
	err = host_mnt_ns(&kopts.host_mnt_ns_inum);
	if (err)
		goto fail;
	kopts.agent_tgid = (uint32_t)a->self_pid;
	kopts.force_raw_tp = opts->force_raw_tp;
	kopts.no_exec_deny = !config->agent.deny_exec_in_kernel;
	kopts.no_stratum_watch = !config->agent.watch_stratum_handshake;
	kopts.cgroup_root = a->cgroup_root;
	err = kernel_open(&kopts, on_kernel_record, a, &a->kernel);
	if (err) {
		metrics_set_hook(a->metrics, "exec", false, strerror(-err));
		goto fail;
	}
	metrics_set_hook(a->metrics, kernel_exec_hook(a->kernel), true,
			 kernel_exec_fallback_reason(a->kernel) ? kernel_exec_fallback_reason(a->kernel)
								: "preferred hook");
	publish_kernel_kill_hook(a);
	if (kernel_exec_fallback_reason(a->kernel))
		log_warn("kernel: exec hook %s (fallback: %s)", kernel_exec_hook(a->kernel),
			 kernel_exec_fallback_reason(a->kernel));
	else
		log_info("kernel: exec hook %s", kernel_exec_hook(a->kernel));

	metrics_set_hook(a->metrics, "lsm/bprm_check_security (refuse exec)", kernel_exec_deny_active(a->kernel),
			 kernel_exec_deny_reason(a->kernel));
	if (kernel_exec_deny_active(a->kernel))
		log_info("kernel: lsm/bprm_check_security attached: dropped binaries are refused before they start");
	else
		log_info("kernel: exec refusal inactive (%s): dropped binaries are killed at exec",
			 kernel_exec_deny_reason(a->kernel));
	kernel_set_exec_deny(a->kernel, config->agent.deny_exec_in_kernel);
	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
		metrics_set_hook(a->metrics, kernel_connect_hook(p), kernel_connect_active(a->kernel, p),
				 kernel_connect_reason(a->kernel, p));
	if (!kernel_connect_active(a->kernel, KERNEL_CONNECT4))
		log_warn("kernel: cgroup/connect4 inactive (%s): pool connections are not watched",
			 kernel_connect_reason(a->kernel, KERNEL_CONNECT4));
	if (!config->agent.watch_stratum_handshake)
		log_info("kernel: agent.watch_stratum_handshake is false: Stratum handshakes to unlisted addresses "
			 "are not looked for (no program runs per packet)");
	kernel_set_stratum_scan(a->kernel, config->agent.scan_stratum_argv);

	/* Start-up probes run with every capability, as the loading did. */
	probe_container_kill(a);
	/* Programs are in: give up what only loading needed, before any thread exists. */
	err = drop_capabilities(a);
	if (err)
		goto fail;
	if (*config->agent.controller_url) {
		struct reporter_config rc = {
			.controller_url = config->agent.controller_url,
			.token_file = config->agent.controller_token_file,
			.spool_dir = config->agent.report_spool_dir,
			.spool_max_bytes = config->agent.report_spool_max_bytes,
		};

		err = reporter_start(&rc, &a->reporter);
		if (err) {
			log_errno(LOG_LEVEL_ERROR, err, "reports: spool %s", config->agent.report_spool_dir);
			goto fail;
		}
		log_info("reports: to %s/alert, spooled in %s (bound %u bytes)", config->agent.controller_url,
			 config->agent.report_spool_dir, config->agent.report_spool_max_bytes);
	} else {
		log_info("reports: agent.controller_url is \"\": audit records stay on this node");
	}

	err = epoll_add_tag(a, kernel_events_fd(a->kernel), &tag_kernel);
	if (!err)
		err = epoll_add_tag(a, a->signal_fd, &tag_signal);
	if (!err)
		err = epoll_add_tag(a, a->timer_fd, &tag_timer);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "epoll add");
		goto fail;
	}
	/* Owners first: the first scan arms the kernel from them where the API answers in time. */
	kube_start(a);
	err = attrib_rebuild(a);
	if (err)
		goto fail;
	pools_start(a);
	err = feed_start(a);
	if (err)
		goto fail;
	config_watch_start(a);
	if (timerfd_settime(a->timer_fd, 0, &tick, NULL)) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "timerfd_settime");
		goto fail;
	}

	metrics_set_hook(a->metrics, "pidfd_send_signal (process kill)", true, "pidfd + identity check");

	if (config->agent.metrics_address && *config->agent.metrics_address) {
		a->httpd = httpd_start(config->agent.metrics_address, a->metrics);
		if (!a->httpd) {
			err = log_errno(LOG_LEVEL_ERROR, -errno, "HTTP endpoints on %s",
					config->agent.metrics_address);
			goto fail;
		}
		log_info("http: /healthz /readyz /metrics /status on %s", config->agent.metrics_address);
	}
	refresh_kernel_counters(a);
	metrics_loop_alive(a->metrics, util_monotonic_ns());
	metrics_set_ready(a->metrics, true);
	*ret = a;
	return 0;
fail:
	agent_stop(a);
	return err;
}

/* Polls the pidfds and cgroup.events of kills in flight, up to agent.kill_timeout_ms. */
static void stop_wait_kills(struct agent *a)
{
	uint64_t deadline = util_monotonic_ns() + (uint64_t)a->config->agent.kill_timeout_ms * 1000000ULL;

	while (a->waiting && util_monotonic_ns() < deadline) {
		struct pollfd pfd[64];
		struct incident *inc, *next;
		nfds_t n = 0;

		for (inc = a->waiting; inc && n < ARRAY_SIZE(pfd); inc = inc->next)
			pfd[n++] = (struct pollfd){ .fd = inc->fd,
						    .events = inc->wait == WAIT_CGROUP_EMPTY ? POLLPRI : POLLIN };
		if (poll(pfd, n, 10) < 0 && errno != EINTR)
			break;
		for (inc = a->waiting; inc; inc = next) {
			next = inc->next;
			incident_check(a, inc);
		}
	}
}

/*
 * After the detach: what the programs already did goes on the record (events
 * handled, losses counted). False for a start that failed half-way: nothing
 * to drain and no one to handle it.
 */
static bool stop_drain_kernel(struct agent *a)
{
	if (!a->kernel || !a->attrib || !a->audit || !a->metrics)
		return false;
	for (int i = 0; i < 64 && kernel_consume(a->kernel) > 0; i++)
		;
	refresh_kernel_counters(a);
	return true;
}

struct agent *agent_stop(struct agent *a)
{
	struct incident *inc, *next;

	if (!a)
		return NULL;
	/*
	 * No new kernel action from here, then every one already taken on the
	 * record: the ring buffer drained, losses counted, kills in flight
	 * waited for before any is called failed.
	 */
	kernel_detach(a->kernel);
	a->batch_n = 0;
	stop_drain_kernel(a);
	a->feed = falco_feed_stop(a->feed);
	if (a->config)
		stop_wait_kills(a);
	/* Programs that were mid-run at the detach have finished by now: drain and count once more. */
	if (stop_drain_kernel(a))
		stop_wait_kills(a);
	for (inc = a->waiting; inc; inc = next) {
		next = inc->next;
		incident_finish(a, inc, false);
	}
	recent_expire(a, true);
	if (a->metrics)
		metrics_set_ready(a->metrics, false);
	a->httpd = httpd_stop(a->httpd);
	a->kube = kube_pods_stop(a->kube);
	a->ratelimit = ratelimit_free(a->ratelimit);
	if (a->config_watch_fd >= 0)
		close(a->config_watch_fd);
	if (a->epoll_fd >= 0)
		pools_stop(a);
	free(a->pool_applied);
	a->attrib = attrib_free(a->attrib);
	a->kernel = kernel_close(a->kernel);
	reporter_stop(a->reporter);
	a->reporter = NULL;
	a->audit = audit_close(a->audit);
	a->metrics = metrics_free(a->metrics);
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	if (a->epoll_fd >= 0)
		close(a->epoll_fd);
	config_free(a->config);
	free(a);
	return NULL;
}
