/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Counters and state that /metrics, /status and `reflex status` show.
 * Counters are C11 atomics: the event loop writes, the HTTP thread reads.
 */
#ifndef REFLEX_METRICS_H
#define REFLEX_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metric_counter {
	METRIC_EVENTS_EXEC = 0,     /* exec events received from the kernel */
	METRIC_KILLS_KERNEL,        /* processes killed in the kernel */
	METRIC_KILLS_PIDFD,         /* processes killed through a pidfd */
	METRIC_KILLS_CGROUP,        /* containers killed through cgroup.kill */
	METRIC_KILL_FAILURES,       /* a kill that was decided and failed */
	METRIC_REFUSALS,            /* a safeguard refused a kill */
	METRIC_DRY_RUNS,
	METRIC_ALERTS,              /* alert-only decisions (rule action alert, exceptions) */
	METRIC_HOST_EVENTS,         /* events from processes outside containers */
	METRIC_STALE_TARGETS,       /* target gone or PID reused before the kill */
	METRIC_AUDIT_ERRORS,        /* audit record could not be written */
	METRIC_REPORTS_LOST,        /* reports not spooled (disk full) or dropped past the spool bound */
	METRIC_EVENTS_CONNECT,      /* pool connect / Stratum events received from the kernel */
	METRIC_VERDICTS_CLEARED,    /* a failed reload or attribution rebuild cleared every kernel verdict */
	METRIC_COUNTER_MAX,
};

/* Counters the kernel keeps, copied in by the event loop before export. */
enum metric_kernel_counter {
	METRIC_K_EXEC_SEEN = 0,
	METRIC_K_EXEC_SUSPICIOUS,
	METRIC_K_EXEC_KILLED,
	METRIC_K_RINGBUF_DROPS,
	METRIC_K_SIGNAL_ERRORS,
	METRIC_K_CONNECT_SEEN,
	METRIC_K_CONNECT_MATCHED,
	METRIC_K_CONNECT_DENIED,
	METRIC_K_CONNECT_KILLED,
	METRIC_K_STRATUM_WATCHED,
	METRIC_K_STRATUM_MATCHED,
	METRIC_K_EXEC_DENIED,
	METRIC_K_LOST_EXEC_KILLED,
	METRIC_K_LOST_EXEC_DENIED,
	METRIC_K_LOST_CONNECT_KILLED,
	METRIC_K_LOST_CONNECT_DENIED,
	METRIC_K_LOST_STRATUM_DROPPED,
	METRIC_K_MAX,
};

/* Falco feed and Kubernetes watch state, copied in by the event loop. */
enum metric_feed_value {
	METRIC_F_ALERTS = 0,      /* alerts taken in (socket lines, HTTP bodies) */
	METRIC_F_PARSED,
	METRIC_F_REJECTED,        /* malformed, oversized, not UTF-8, too deep, ... */
	METRIC_F_DROPPED,         /* oldest dropped from the full queue */
	METRIC_F_TRUNCATED,       /* partial lines of writers that disconnected */
	METRIC_F_PEERS_REFUSED,
	METRIC_F_HTTP_UNAUTHORIZED,
	METRIC_F_QUEUED,          /* gauge */
	METRIC_F_CORRELATED,      /* Falco alerts joined to a kernel incident (and the reverse) */
	METRIC_F_UNCONFIGURED,    /* alerts of rules the config does not name: counted only */
	METRIC_F_KUBE_SYNCED,     /* gauge 0/1 */
	METRIC_F_KUBE_PODS,       /* gauge */
	METRIC_F_KUBE_ERRORS,
	METRIC_F_KUBE_LISTS,
	METRIC_F_MAX,
};

#define METRICS_MAX_HOOKS 32

struct metrics;

/* 0 and *RET, or -errno. */
int metrics_new(const char *node, struct metrics **ret);
struct metrics *metrics_free(struct metrics *m);

void metrics_inc(struct metrics *m, enum metric_counter c);
uint64_t metrics_get(const struct metrics *m, enum metric_counter c);
void metrics_set_kernel(struct metrics *m, enum metric_kernel_counter c, uint64_t value);
void metrics_set_containers(struct metrics *m, uint64_t n);
/* Pool indicators loaded: domains in the lists, addresses and CIDRs in the kernel. */
void metrics_set_pools(struct metrics *m, uint64_t domains, uint64_t addresses);
/* Domains that resolve now, and those failing (keeping their last good addresses). */
void metrics_set_pool_resolution(struct metrics *m, uint64_t resolved, uint64_t failing);

/*
 * Registers a hook (e.g. "tp_btf/sched_process_exec") and its state: active,
 * or inactive with the reason. Called during start-up only.
 */
void metrics_set_hook(struct metrics *m, const char *name, bool active, const char *detail);
void metrics_set_feed(struct metrics *m, enum metric_feed_value v, uint64_t value);
/* Rules disarmed by the kill rate limit (copied); empty after a reload re-arms them. */
void metrics_set_disarmed(struct metrics *m, const char *const *rules, size_t n);
/*
 * One audited decision of RULE (its ACTION and OUTCOME, as the record says)
 * into reflex_actions_total: kills, refusals and dry-runs per rule for the
 * dashboard. Series are bounded (METRICS_MAX_ACTION_SERIES); past the bound
 * they are counted under rule "(other)".
 */
#define METRICS_MAX_ACTION_SERIES 512
void metrics_count_action(struct metrics *m, const char *rule, const char *action, const char *outcome);

/*
 * One action's latency, event (kernel event or Falco evt.time) to the
 * target's death or the kernel's refusal, into the histogram
 * reflex_action_latency_seconds{source,kill_mode}. Unknown sources or modes
 * go under "other". Thread-safe.
 */
void metrics_observe_action(struct metrics *m, const char *source, const char *kill_mode, uint64_t latency_us);

/* Ready once the hooks are attached. */
void metrics_set_ready(struct metrics *m, bool ready);
bool metrics_ready(const struct metrics *m);

/*
 * Liveness of the event loop: it calls metrics_loop_alive on every tick
 * (CLOCK_MONOTONIC ns); metrics_loop_stalled_ms says how long ago the last
 * one was, 0 before the first (a loop not started is not a stalled one).
 */
void metrics_loop_alive(struct metrics *m, uint64_t now_ns);
uint64_t metrics_loop_stalled_ms(const struct metrics *m, uint64_t now_ns);

/* Prometheus text exposition (version 0.0.4); malloc'd, NULL on ENOMEM. */
char *metrics_render_prometheus(const struct metrics *m);
/* JSON for `reflex status`: hooks, counters, containers, ready; malloc'd. */
char *metrics_render_status_json(const struct metrics *m);

#endif
