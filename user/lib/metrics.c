// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Counters are C11 atomics (relaxed: each is independent, a scrape needs no
 * snapshot). The hook table is written at start-up and read by the HTTP
 * thread; a mutex guards it anyway, so a late metrics_set_hook is still safe.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "metrics.h"

struct metric_def {
	const char *family; /* Prometheus metric name */
	const char *labels; /* NULL, or the sample's label set without braces */
	const char *key;    /* key in the status JSON */
	const char *help;
	bool gauge;         /* a level (queue length, pods known), not a count */
};

#define KILLS_HELP "Processes or containers killed, by mechanism."

static const struct metric_def counter_defs[] = {
	[METRIC_EVENTS_EXEC] = { "reflex_exec_events_total", NULL, "exec_events",
				 "Suspicious exec events received from the kernel." },
	[METRIC_KILLS_KERNEL] = { "reflex_kills_total", "mode=\"kernel\"", "kills_kernel", KILLS_HELP },
	[METRIC_KILLS_PIDFD] = { "reflex_kills_total", "mode=\"pidfd\"", "kills_pidfd", KILLS_HELP },
	[METRIC_KILLS_CGROUP] = { "reflex_kills_total", "mode=\"cgroup_kill\"", "kills_cgroup", KILLS_HELP },
	[METRIC_KILL_FAILURES] = { "reflex_kill_failures_total", NULL, "kill_failures",
				   "Kills that were decided and failed." },
	[METRIC_REFUSALS] = { "reflex_refusals_total", NULL, "refusals",
			      "Kills a safeguard refused (namespace, owner, host process, rate limit)." },
	[METRIC_DRY_RUNS] = { "reflex_dry_runs_total", NULL, "dry_runs",
			      "Actions not taken because the rule or the node is in dry-run." },
	[METRIC_ALERTS] = { "reflex_alerts_total", NULL, "alerts",
			    "Alert-only decisions (rule action alert, or an exception matched)." },
	[METRIC_HOST_EVENTS] = { "reflex_host_events_total", NULL, "host_events",
				 "Events from processes outside any container (never killed)." },
	[METRIC_STALE_TARGETS] = { "reflex_stale_targets_total", NULL, "stale_targets",
				   "Kill targets that exited or whose PID was reused before the kill." },
	[METRIC_EVENTS_CONNECT] = { "reflex_connect_events_total", NULL, "connect_events",
				    "Pool connect and Stratum handshake events received from the kernel." },
	[METRIC_AUDIT_ERRORS] = { "reflex_audit_errors_total", NULL, "audit_errors",
				  "Audit records that could not be written." },
	[METRIC_REPORTS_LOST] = { "reflex_reports_lost_total", NULL, "reports_lost",
				  "Reports to the controller not spooled (disk full) or dropped past the spool bound." },
	[METRIC_VERDICTS_CLEARED] = { "reflex_kernel_verdicts_cleared_total", NULL, "kernel_verdicts_cleared",
				      "Times a failed reload or attribution rebuild cleared every kernel verdict "
				      "(user space decides until a rebuild succeeds)." },
};

static const struct metric_def kernel_defs[] = {
	[METRIC_K_CONNECT_SEEN] = { "reflex_kernel_connect_seen_total", NULL, "connect_seen",
				    "connect/sendmsg calls the kernel programs inspected." },
	[METRIC_K_CONNECT_MATCHED] = { "reflex_kernel_connect_matched_total", NULL, "connect_matched",
				       "Container connects to a mining pool." },
	[METRIC_K_CONNECT_DENIED] = { "reflex_kernel_connect_denied_total", NULL, "connect_denied",
				      "Pool connects refused in the kernel (EPERM)." },
	[METRIC_K_CONNECT_KILLED] = { "reflex_kernel_connect_killed_total", NULL, "connect_killed",
				      "Pool connects whose caller was killed in the kernel." },
	[METRIC_K_STRATUM_WATCHED] = { "reflex_kernel_stratum_watched_total", NULL, "stratum_watched",
				       "Container TCP connections whose first payload was inspected." },
	[METRIC_K_STRATUM_MATCHED] = { "reflex_kernel_stratum_matched_total", NULL, "stratum_matched",
				       "First payloads that were a Stratum handshake." },
	[METRIC_K_EXEC_DENIED] = { "reflex_kernel_exec_denied_total", NULL, "exec_denied",
				   "Execs refused before they started (lsm/bprm_check_security, EPERM)." },
	[METRIC_K_EXEC_SEEN] = { "reflex_kernel_exec_seen_total", NULL, "exec_seen",
				 "Execs the kernel program inspected." },
	[METRIC_K_EXEC_SUSPICIOUS] = { "reflex_kernel_exec_suspicious_total", NULL, "exec_suspicious",
				       "Execs the kernel program found suspicious (upper layer, memfd)." },
	[METRIC_K_EXEC_KILLED] = { "reflex_kernel_exec_killed_total", NULL, "exec_killed",
				   "Execs killed in the kernel with bpf_send_signal." },
	[METRIC_K_RINGBUF_DROPS] = { "reflex_ringbuf_drops_total", NULL, "ringbuf_drops",
				     "Events lost because the ring buffer was full." },
	[METRIC_K_SIGNAL_ERRORS] = { "reflex_kernel_signal_errors_total", NULL, "signal_errors",
				     "bpf_send_signal calls that failed in the kernel." },
#define LOST_HELP "Kernel actions whose event the full ring buffer lost; each is audited as such."
	[METRIC_K_LOST_EXEC_KILLED] = { "reflex_kernel_actions_event_lost_total", "kind=\"exec_killed\"",
					"lost_exec_killed", LOST_HELP },
	[METRIC_K_LOST_EXEC_DENIED] = { "reflex_kernel_actions_event_lost_total", "kind=\"exec_denied\"",
					"lost_exec_denied", LOST_HELP },
	[METRIC_K_LOST_CONNECT_KILLED] = { "reflex_kernel_actions_event_lost_total", "kind=\"connect_killed\"",
					   "lost_connect_killed", LOST_HELP },
	[METRIC_K_LOST_CONNECT_DENIED] = { "reflex_kernel_actions_event_lost_total", "kind=\"connect_denied\"",
					   "lost_connect_denied", LOST_HELP },
	[METRIC_K_LOST_STRATUM_DROPPED] = { "reflex_kernel_actions_event_lost_total", "kind=\"stratum_dropped\"",
					    "lost_stratum_dropped", LOST_HELP },
};

static const struct metric_def feed_defs[] = {
	[METRIC_F_ALERTS] = { "reflex_falco_alerts_total", NULL, "alerts", "Falco alerts taken in (socket and HTTP)." },
	[METRIC_F_PARSED] = { "reflex_falco_alerts_parsed_total", NULL, "parsed", "Falco alerts parsed." },
	[METRIC_F_REJECTED] = { "reflex_falco_alerts_rejected_total", NULL, "rejected",
				"Input rejected: malformed, oversized, not UTF-8, too deeply nested." },
	[METRIC_F_DROPPED] = { "reflex_falco_alerts_dropped_total", NULL, "dropped",
			       "Oldest alerts dropped because the intake queue was full." },
	[METRIC_F_TRUNCATED] = { "reflex_falco_lines_truncated_total", NULL, "truncated",
				 "Partial lines lost to writers that disconnected mid-line." },
	[METRIC_F_PEERS_REFUSED] = { "reflex_falco_peers_refused_total", NULL, "peers_refused",
				     "Socket writers refused by SO_PEERCRED." },
	[METRIC_F_HTTP_UNAUTHORIZED] = { "reflex_falco_http_unauthorized_total", NULL, "http_unauthorized",
					 "HTTP alerts without the right X-Falco-Token." },
	[METRIC_F_QUEUED] = { "reflex_falco_queue_length", NULL, "queued", "Alerts waiting in the intake queue.", true },
	[METRIC_F_CORRELATED] = { "reflex_falco_correlated_total", NULL, "correlated",
				  "Falco alerts and kernel detections joined into one incident." },
	[METRIC_F_UNCONFIGURED] = { "reflex_falco_alerts_unconfigured_total", NULL, "unconfigured",
				    "Alerts of rules the config does not name (counted, not audited)." },
	[METRIC_F_KUBE_SYNCED] = { "reflex_kubernetes_synced", NULL, "kubernetes_synced",
				   "1 while the pod list+watch is current.", true },
	[METRIC_F_KUBE_PODS] = { "reflex_kubernetes_pods", NULL, "kubernetes_pods", "Pods known on this node.", true },
	[METRIC_F_KUBE_ERRORS] = { "reflex_kubernetes_errors_total", NULL, "kubernetes_errors",
				   "Failed Kubernetes API requests." },
	[METRIC_F_KUBE_LISTS] = { "reflex_kubernetes_lists_total", NULL, "kubernetes_lists",
				  "Full pod lists (first, and relists after 410 or errors)." },
};

_Static_assert(sizeof(feed_defs) / sizeof(feed_defs[0]) == METRIC_F_MAX,
	       "feed_defs must name every enum metric_feed_value");

/* A new counter in metrics.h must get a name here: the build fails until it does. */
_Static_assert(sizeof(counter_defs) / sizeof(counter_defs[0]) == METRIC_COUNTER_MAX,
	       "counter_defs must name every enum metric_counter");
_Static_assert(sizeof(kernel_defs) / sizeof(kernel_defs[0]) == METRIC_K_MAX,
	       "kernel_defs must name every enum metric_kernel_counter");

/* Histogram of action latencies: label sets and bucket bounds (microseconds). */
static const char *const hist_sources[] = { "kernel", "falco", "both", "other" };
static const char *const hist_modes[] = {
	"kernel", "lsm", "pidfd", "cgroup.kill", "kernel+cgroup.kill", "lsm+cgroup.kill",
	"cgroup-v1-freezer", "kernel+cgroup-v1-freezer", "lsm+cgroup-v1-freezer", "other",
};
#define HIST_SOURCES (sizeof(hist_sources) / sizeof(hist_sources[0]))
#define HIST_MODES (sizeof(hist_modes) / sizeof(hist_modes[0]))
static const uint64_t hist_bounds_us[] = { 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000,
					   50000, 100000, 250000, 1000000, 5000000 };
#define HIST_BUCKETS (sizeof(hist_bounds_us) / sizeof(hist_bounds_us[0]) + 1) /* + Inf */

struct histogram {
	_Atomic uint64_t buckets[HIST_BUCKETS]; /* not cumulative; summed when rendered */
	_Atomic uint64_t sum_us;
	_Atomic uint64_t count;
};

struct hook {
	char *name;
	char *detail; /* may be NULL */
	bool active;
};

struct action_series {
	char *rule, *action, *outcome;
	uint64_t count;
};

/*
 * The readers take a const struct metrics; loads of its atomics and the hook
 * mutex cast const away, which is sound because every instance is malloc'd.
 */
struct metrics {
	_Atomic uint64_t counters[METRIC_COUNTER_MAX];
	_Atomic uint64_t kernel[METRIC_K_MAX];
	_Atomic uint64_t containers;
	_Atomic uint64_t pool_domains, pool_addresses, pool_resolved, pool_failing;
	_Atomic uint64_t feed[METRIC_F_MAX];
	atomic_bool ready;
	_Atomic uint64_t loop_alive_ns; /* the event loop's last tick; 0: not yet */
	char **disarmed; /* under hooks_lock */
	size_t n_disarmed;
	struct action_series *actions; /* under hooks_lock */
	size_t n_actions;
	char *node; /* immutable after metrics_new */
	pthread_mutex_t hooks_lock;
	struct hook hooks[METRICS_MAX_HOOKS];
	size_t n_hooks;
	struct histogram latency[HIST_SOURCES][HIST_MODES];
};

/*
 * A copy of S fit for Prometheus label values and JSON strings, which must
 * both be UTF-8: jansson judges (json_string fails on anything else), and a
 * string that fails gets its non-ASCII bytes shown as '?'. Cleaning once
 * here lets the renderers never fail on content.
 */
static char *utf8_dup(const char *s)
{
	json_t *valid = json_string(s);
	char *out = strdup(s);

	if (out && !valid)
		for (char *p = out; *p; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	json_decref(valid);
	return out;
}

int metrics_new(const char *node, struct metrics **ret)
{
	struct metrics *m = calloc(1, sizeof(*m));
	int err;

	if (!m)
		return -ENOMEM;
	m->node = utf8_dup(node ? node : "");
	if (!m->node) {
		free(m);
		return -ENOMEM;
	}
	err = pthread_mutex_init(&m->hooks_lock, NULL);
	if (err) {
		free(m->node);
		free(m);
		return -err;
	}
	for (int i = 0; i < METRIC_COUNTER_MAX; i++)
		atomic_init(&m->counters[i], 0);
	for (int i = 0; i < METRIC_K_MAX; i++)
		atomic_init(&m->kernel[i], 0);
	for (int i = 0; i < METRIC_F_MAX; i++)
		atomic_init(&m->feed[i], 0);
	atomic_init(&m->containers, 0);
	atomic_init(&m->ready, false);
	atomic_init(&m->loop_alive_ns, 0);
	for (size_t s = 0; s < HIST_SOURCES; s++)
		for (size_t k = 0; k < HIST_MODES; k++) {
			struct histogram *h = &m->latency[s][k];

			for (size_t b = 0; b < HIST_BUCKETS; b++)
				atomic_init(&h->buckets[b], 0);
			atomic_init(&h->sum_us, 0);
			atomic_init(&h->count, 0);
		}
	*ret = m;
	return 0;
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->n_hooks; i++) {
		free(m->hooks[i].name);
		free(m->hooks[i].detail);
	}
	for (size_t i = 0; i < m->n_disarmed; i++)
		free(m->disarmed[i]);
	free(m->disarmed);
	for (size_t i = 0; i < m->n_actions; i++) {
		free(m->actions[i].rule);
		free(m->actions[i].action);
		free(m->actions[i].outcome);
	}
	free(m->actions);
	pthread_mutex_destroy(&m->hooks_lock);
	free(m->node);
	free(m);
	return NULL;
}

void metrics_inc(struct metrics *m, enum metric_counter c)
{
	if (m && (unsigned int)c < METRIC_COUNTER_MAX)
		atomic_fetch_add_explicit(&m->counters[c], 1, memory_order_relaxed);
}

uint64_t metrics_get(const struct metrics *m, enum metric_counter c)
{
	if (!m || (unsigned int)c >= METRIC_COUNTER_MAX)
		return 0;
	/* atomic_load takes a non-const pointer in C11. */
	return atomic_load_explicit((_Atomic uint64_t *)&m->counters[c], memory_order_relaxed);
}

void metrics_set_kernel(struct metrics *m, enum metric_kernel_counter c, uint64_t value)
{
	if (m && (unsigned int)c < METRIC_K_MAX)
		atomic_store_explicit(&m->kernel[c], value, memory_order_relaxed);
}

static uint64_t kernel_get(const struct metrics *m, enum metric_kernel_counter c)
{
	return atomic_load_explicit((_Atomic uint64_t *)&m->kernel[c], memory_order_relaxed);
}

void metrics_set_containers(struct metrics *m, uint64_t n)
{
	if (m)
		atomic_store_explicit(&m->containers, n, memory_order_relaxed);
}

void metrics_set_pools(struct metrics *m, uint64_t domains, uint64_t addresses)
{
	if (!m)
		return;
	atomic_store_explicit(&m->pool_domains, domains, memory_order_relaxed);
	atomic_store_explicit(&m->pool_addresses, addresses, memory_order_relaxed);
}

void metrics_set_pool_resolution(struct metrics *m, uint64_t resolved, uint64_t failing)
{
	if (!m)
		return;
	atomic_store_explicit(&m->pool_resolved, resolved, memory_order_relaxed);
	atomic_store_explicit(&m->pool_failing, failing, memory_order_relaxed);
}

void metrics_set_feed(struct metrics *m, enum metric_feed_value v, uint64_t value)
{
	if (m && (unsigned int)v < METRIC_F_MAX)
		atomic_store_explicit(&m->feed[v], value, memory_order_relaxed);
}

void metrics_set_disarmed(struct metrics *m, const char *const *rules, size_t n)
{
	char **copy = n ? calloc(n, sizeof(*copy)) : NULL;
	size_t k = 0;

	if (!m)
		return;
	for (size_t i = 0; copy && i < n; i++)
		if ((copy[k] = utf8_dup(rules[i])))
			k++;
	pthread_mutex_lock(&m->hooks_lock);
	for (size_t i = 0; i < m->n_disarmed; i++)
		free(m->disarmed[i]);
	free(m->disarmed);
	m->disarmed = copy;
	m->n_disarmed = k;
	pthread_mutex_unlock(&m->hooks_lock);
}

static uint64_t gauge_get(const _Atomic uint64_t *g)
{
	return atomic_load_explicit((_Atomic uint64_t *)g, memory_order_relaxed);
}

static uint64_t containers_get(const struct metrics *m)
{
	return atomic_load_explicit((_Atomic uint64_t *)&m->containers, memory_order_relaxed);
}

/* Setting a hook again updates it: a fallback may replace the first state. */
static bool same(const char *a, const char *b)
{
	return !strcmp(a ? a : "", b ? b : "");
}

/* The series of (RULE, ACTION, OUTCOME), added if new; NULL past LIMIT series or on ENOMEM. */
static struct action_series *action_series(struct metrics *m, const char *rule, const char *action,
					   const char *outcome, size_t limit)
{
	struct action_series *grown, *a;

	for (size_t i = 0; i < m->n_actions; i++) {
		a = &m->actions[i];
		if (same(a->rule, rule) && same(a->action, action) && same(a->outcome, outcome))
			return a;
	}
	if (m->n_actions >= limit)
		return NULL;
	grown = realloc(m->actions, (m->n_actions + 1) * sizeof(*grown));
	if (!grown)
		return NULL;
	m->actions = grown;
	a = &m->actions[m->n_actions];
	*a = (struct action_series){ .rule = utf8_dup(rule ? rule : ""),
				     .action = utf8_dup(action ? action : ""),
				     .outcome = utf8_dup(outcome ? outcome : "") };
	if (!a->rule || !a->action || !a->outcome) {
		free(a->rule);
		free(a->action);
		free(a->outcome);
		return NULL;
	}
	m->n_actions++;
	return a;
}

void metrics_count_action(struct metrics *m, const char *rule, const char *action, const char *outcome)
{
	struct action_series *a;

	if (!m)
		return;
	pthread_mutex_lock(&m->hooks_lock);
	/*
	 * Rule names come from the config, action and outcome from a fixed set;
	 * the bound still keeps the exposition small whatever a config holds,
	 * with room kept for the "(other)" series.
	 */
	a = action_series(m, rule, action, outcome, METRICS_MAX_ACTION_SERIES - 64);
	if (!a)
		a = action_series(m, "(other)", action, outcome, METRICS_MAX_ACTION_SERIES);
	if (a)
		a->count++;
	pthread_mutex_unlock(&m->hooks_lock);
}

void metrics_set_hook(struct metrics *m, const char *name, bool active, const char *detail)
{
	char *name_copy = NULL, *detail_copy = NULL;
	struct hook *h = NULL;

	if (!m || !name || !*name)
		return;
	name_copy = utf8_dup(name);
	if (!name_copy)
		goto nomem;
	if (detail) {
		detail_copy = utf8_dup(detail);
		if (!detail_copy)
			goto nomem;
	}
	pthread_mutex_lock(&m->hooks_lock);
	for (size_t i = 0; i < m->n_hooks && !h; i++)
		if (!strcmp(m->hooks[i].name, name_copy))
			h = &m->hooks[i];
	if (!h && m->n_hooks < METRICS_MAX_HOOKS) {
		h = &m->hooks[m->n_hooks++];
		h->name = name_copy;
		name_copy = NULL;
	}
	if (h) {
		free(h->detail);
		h->detail = detail_copy;
		detail_copy = NULL;
		h->active = active;
	}
	pthread_mutex_unlock(&m->hooks_lock);
	if (!h)
		log_warn("metrics: hook table full (%d), not showing %s, ignoring", METRICS_MAX_HOOKS, name);
	free(name_copy);
	free(detail_copy);
	return;
nomem:
	log_warn("metrics: out of memory registering hook %s, ignoring", name);
	free(name_copy);
	free(detail_copy);
}

void metrics_set_ready(struct metrics *m, bool ready)
{
	if (m)
		atomic_store(&m->ready, ready);
}

bool metrics_ready(const struct metrics *m)
{
	return m && atomic_load((atomic_bool *)&m->ready);
}

void metrics_loop_alive(struct metrics *m, uint64_t now_ns)
{
	if (m)
		atomic_store(&m->loop_alive_ns, now_ns);
}

uint64_t metrics_loop_stalled_ms(const struct metrics *m, uint64_t now_ns)
{
	uint64_t last = m ? atomic_load((_Atomic uint64_t *)&m->loop_alive_ns) : 0;

	return last && now_ns > last ? (now_ns - last) / 1000000ULL : 0;
}

/* Label values escape backslash, double quote and newline (format 0.0.4). */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void put_family(FILE *f, const char *family, const char *help, const char *type)
{
	/* Help texts here are constants without backslashes or newlines. */
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", family, help, family, type);
}

/* The samples of DEFS (counters unless marked gauge), a HELP/TYPE header before each family (the tables keep a family's entries together). */
static void put_counters(FILE *f, const struct metric_def *defs, size_t n, const uint64_t *values)
{
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || strcmp(defs[i].family, defs[i - 1].family))
			put_family(f, defs[i].family, defs[i].help, defs[i].gauge ? "gauge" : "counter");
		fputs(defs[i].family, f);
		if (defs[i].labels)
			fprintf(f, "{%s}", defs[i].labels);
		fprintf(f, " %llu\n", (unsigned long long)values[i]);
	}
}

static size_t label_index(const char *const *names, size_t n, const char *name)
{
	for (size_t i = 0; i + 1 < n; i++)
		if (name && strcmp(names[i], name) == 0)
			return i;
	return n - 1; /* "other" */
}

void metrics_observe_action(struct metrics *m, const char *source, const char *kill_mode, uint64_t latency_us)
{
	struct histogram *h;
	size_t b = 0;

	if (!m)
		return;
	h = &m->latency[label_index(hist_sources, HIST_SOURCES, source)]
		       [label_index(hist_modes, HIST_MODES, kill_mode)];
	while (b < HIST_BUCKETS - 1 && latency_us > hist_bounds_us[b])
		b++;
	atomic_fetch_add(&h->buckets[b], 1);
	atomic_fetch_add(&h->sum_us, latency_us);
	atomic_fetch_add(&h->count, 1);
}

/* Series that saw at least one action; cumulative buckets in seconds, as Prometheus wants. */
static void put_histograms(FILE *f, const struct metrics *m)
{
	put_family(f, "reflex_action_latency_seconds",
		   "Event (kernel event or Falco evt.time) to the target's death or the exec's refusal.", "histogram");
	for (size_t s = 0; s < HIST_SOURCES; s++)
		for (size_t k = 0; k < HIST_MODES; k++) {
			struct histogram *h = (struct histogram *)&m->latency[s][k];
			uint64_t count = atomic_load(&h->count), cum = 0;

			if (!count)
				continue;
			for (size_t b = 0; b < HIST_BUCKETS; b++) {
				cum += atomic_load(&h->buckets[b]);
				fprintf(f, "reflex_action_latency_seconds_bucket{source=\"%s\",kill_mode=\"%s\",le=\"",
					hist_sources[s], hist_modes[k]);
				if (b < HIST_BUCKETS - 1)
					fprintf(f, "%g", (double)hist_bounds_us[b] / 1e6);
				else
					fputs("+Inf", f);
				fprintf(f, "\"} %llu\n", (unsigned long long)cum);
			}
			fprintf(f, "reflex_action_latency_seconds_sum{source=\"%s\",kill_mode=\"%s\"} %.6f\n",
				hist_sources[s], hist_modes[k], (double)atomic_load(&h->sum_us) / 1e6);
			fprintf(f, "reflex_action_latency_seconds_count{source=\"%s\",kill_mode=\"%s\"} %llu\n",
				hist_sources[s], hist_modes[k], (unsigned long long)count);
		}
}

char *metrics_render_prometheus(const struct metrics *m)
{
	uint64_t counters[METRIC_COUNTER_MAX], kernel[METRIC_K_MAX], feed[METRIC_F_MAX];
	char *buf = NULL;
	size_t size = 0;
	FILE *f;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	for (int i = 0; i < METRIC_COUNTER_MAX; i++)
		counters[i] = metrics_get(m, (enum metric_counter)i);
	for (int i = 0; i < METRIC_K_MAX; i++)
		kernel[i] = kernel_get(m, (enum metric_kernel_counter)i);
	put_counters(f, counter_defs, METRIC_COUNTER_MAX, counters);
	put_counters(f, kernel_defs, METRIC_K_MAX, kernel);
	for (int i = 0; i < METRIC_F_MAX; i++)
		feed[i] = gauge_get(&m->feed[i]);
	put_counters(f, feed_defs, METRIC_F_MAX, feed);

	put_family(f, "reflex_containers_tracked", "Containers the agent knows (cgroup id to pod).", "gauge");
	fprintf(f, "reflex_containers_tracked %llu\n", (unsigned long long)containers_get(m));

	put_family(f, "reflex_pool_domains", "Mining-pool domains in the loaded lists.", "gauge");
	fprintf(f, "reflex_pool_domains %llu\n", (unsigned long long)gauge_get(&m->pool_domains));
	put_family(f, "reflex_pool_addresses", "Pool addresses and CIDRs programmed into the kernel.", "gauge");
	fprintf(f, "reflex_pool_addresses %llu\n", (unsigned long long)gauge_get(&m->pool_addresses));
	put_family(f, "reflex_pool_domains_resolving", "Pool domains, by their last resolution.", "gauge");
	fprintf(f, "reflex_pool_domains_resolving{state=\"ok\"} %llu\n",
		(unsigned long long)gauge_get(&m->pool_resolved));
	fprintf(f, "reflex_pool_domains_resolving{state=\"failing\"} %llu\n",
		(unsigned long long)gauge_get(&m->pool_failing));

	put_family(f, "reflex_hook_active", "Whether a kernel hook or kill mechanism is in use (1) or not (0).",
		   "gauge");
	pthread_mutex_lock((pthread_mutex_t *)&m->hooks_lock);
	for (size_t i = 0; i < m->n_hooks; i++) {
		fputs("reflex_hook_active{hook=\"", f);
		put_label_value(f, m->hooks[i].name);
		fputs("\",detail=\"", f);
		put_label_value(f, m->hooks[i].detail ? m->hooks[i].detail : "");
		fprintf(f, "\"} %d\n", m->hooks[i].active ? 1 : 0);
	}
	pthread_mutex_unlock((pthread_mutex_t *)&m->hooks_lock);

	put_family(f, "reflex_rule_disarmed", "1 for a rule the kill rate limit disarmed to alert-only.", "gauge");
	pthread_mutex_lock((pthread_mutex_t *)&m->hooks_lock);
	for (size_t i = 0; i < m->n_disarmed; i++) {
		fputs("reflex_rule_disarmed{rule=\"", f);
		put_label_value(f, m->disarmed[i]);
		fputs("\"} 1\n", f);
	}
	pthread_mutex_unlock((pthread_mutex_t *)&m->hooks_lock);

	put_family(f, "reflex_actions_total",
		   "Audited decisions of actions, by rule, action and outcome (killed, denied, refused, dry_run, ...).",
		   "counter");
	pthread_mutex_lock((pthread_mutex_t *)&m->hooks_lock);
	for (size_t i = 0; i < m->n_actions; i++) {
		fputs("reflex_actions_total{rule=\"", f);
		put_label_value(f, m->actions[i].rule);
		fputs("\",action=\"", f);
		put_label_value(f, m->actions[i].action);
		fputs("\",outcome=\"", f);
		put_label_value(f, m->actions[i].outcome);
		fprintf(f, "\"} %llu\n", (unsigned long long)m->actions[i].count);
	}
	pthread_mutex_unlock((pthread_mutex_t *)&m->hooks_lock);

	put_histograms(f, m);

	put_family(f, "reflex_ready", "1 once the agent's hooks are attached.", "gauge");
	fprintf(f, "reflex_ready %d\n", metrics_ready(m) ? 1 : 0);

	put_family(f, "reflex_build_info", "Constant 1, labelled with the node this agent runs on.", "gauge");
	fputs("reflex_build_info{node=\"", f);
	put_label_value(f, m->node);
	fputs("\"} 1\n", f);

	/* Write errors of a memstream are ENOMEM; they stick and show here. */
	if (ferror(f)) {
		fclose(f);
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	if (fclose(f)) {
		free(buf);
		errno = ENOMEM;
		return NULL;
	}
	return buf;
}

/* json_int_t is signed; a counter never gets near 2^63, but stay exact-or-capped. */
static json_t *json_u64(uint64_t v)
{
	return json_integer(v > INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* Takes VALUE's reference; *ERR records the first failure. */
static void add(json_t *obj, const char *key, json_t *value, int *err)
{
	if (*err) {
		json_decref(value);
		return;
	}
	if (json_object_set_new(obj, key, value))
		*err = -ENOMEM;
}

static json_t *hooks_json(const struct metrics *m)
{
	json_t *hooks = json_array(), *h;
	int err = 0;

	if (!hooks)
		return NULL;
	pthread_mutex_lock((pthread_mutex_t *)&m->hooks_lock);
	for (size_t i = 0; i < m->n_hooks && !err; i++) {
		h = json_object();
		if (!h) {
			err = -ENOMEM;
			break;
		}
		add(h, "name", json_string(m->hooks[i].name), &err);
		add(h, "active", json_boolean(m->hooks[i].active), &err);
		add(h, "detail", m->hooks[i].detail ? json_string(m->hooks[i].detail) : json_null(), &err);
		if (json_array_append_new(hooks, h))
			err = -ENOMEM;
	}
	pthread_mutex_unlock((pthread_mutex_t *)&m->hooks_lock);
	if (err) {
		json_decref(hooks);
		return NULL;
	}
	return hooks;
}

char *metrics_render_status_json(const struct metrics *m)
{
	json_t *o, *counters, *kernel, *feed, *disarmed;
	char *out = NULL;
	int err = 0;

	if (!m) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	counters = json_object();
	kernel = json_object();
	if (!o || !counters || !kernel) {
		json_decref(o);
		json_decref(counters);
		json_decref(kernel);
		errno = ENOMEM;
		return NULL;
	}
	for (int i = 0; i < METRIC_COUNTER_MAX; i++)
		add(counters, counter_defs[i].key, json_u64(metrics_get(m, (enum metric_counter)i)), &err);
	for (int i = 0; i < METRIC_K_MAX; i++)
		add(kernel, kernel_defs[i].key, json_u64(kernel_get(m, (enum metric_kernel_counter)i)), &err);
	add(o, "node", json_string(m->node), &err);
	add(o, "ready", json_boolean(metrics_ready(m)), &err);
	add(o, "hooks", hooks_json(m), &err);
	add(o, "counters", counters, &err);
	add(o, "kernel", kernel, &err);
	add(o, "containers_tracked", json_u64(containers_get(m)), &err);
	add(o, "pool_domains", json_u64(gauge_get(&m->pool_domains)), &err);
	add(o, "pool_addresses", json_u64(gauge_get(&m->pool_addresses)), &err);
	add(o, "pool_domains_resolving", json_u64(gauge_get(&m->pool_resolved)), &err);
	add(o, "pool_domains_failing", json_u64(gauge_get(&m->pool_failing)), &err);
	feed = json_object();
	for (int i = 0; feed && i < METRIC_F_MAX; i++)
		add(feed, feed_defs[i].key, json_u64(gauge_get(&m->feed[i])), &err);
	add(o, "falco", feed, &err);
	disarmed = json_array();
	pthread_mutex_lock((pthread_mutex_t *)&m->hooks_lock);
	for (size_t i = 0; disarmed && i < m->n_disarmed; i++)
		if (json_array_append_new(disarmed, json_string(m->disarmed[i])))
			err = -ENOMEM;
	pthread_mutex_unlock((pthread_mutex_t *)&m->hooks_lock);
	add(o, "disarmed_rules", disarmed, &err);
	if (!err)
		out = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!out)
		errno = ENOMEM;
	return out;
}
