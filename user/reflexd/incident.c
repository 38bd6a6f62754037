// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Incidents (see incident.h): the facts, the records at the action, the wait
 * for a kill's exit, the recent list that correlation joins.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "agent_internal.h"
#include "incident.h"
#include "log.h"
#include "pod_watch.h"
#include "reporter.h"
#include "respond.h"
#include "util.h"

/* Recorded incidents kept for correlation; past it the oldest is forgotten (enrichment only). */
#define AGENT_MAX_RECENT 1024

struct incident *incident_new(const char *source)
{
	struct incident *inc = calloc(1, sizeof(*inc));

	if (!inc)
		return NULL;
	inc->fd = -1;
	inc->source = source;
	return inc;
}

void incident_free(struct incident *inc)
{
	if (inc->fd >= 0)
		close(inc->fd);
	for (size_t i = 0; i < inc->n_more_fds; i++)
		close(inc->more_fds[i]);
	free(inc->falco_output);
	free(inc);
}

const char *incident_owner_of(struct agent *a, const char *container_id, const char *pod_uid, char *buf,
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
	if (inc) {
		/* The workload in the record: reconciliation says which service was hit. */
		copy_str(inc->owner_kind, sizeof(inc->owner_kind), pod.owner_kind);
		copy_str(inc->owner_name, sizeof(inc->owner_name), pod.owner_name);
	}
	copy_str(buf, size, pod.owner_kind);
	return buf;
}

void incident_take_container(struct agent *a, struct incident *inc, const struct container_info *info,
			     struct attribution *at)
{
	const char *pod_uid = info->meta_known ? info->meta.pod_uid : info->ref.pod_uid;

	copy_str(inc->container_id, sizeof(inc->container_id), info->ref.id);
	if (info->meta_known) {
		copy_str(inc->namespace_, sizeof(inc->namespace_), info->meta.namespace_);
		copy_str(inc->pod, sizeof(inc->pod), info->meta.pod_name);
		copy_str(inc->image, sizeof(inc->image), info->meta.image);
	}
	copy_str(inc->pod_uid, sizeof(inc->pod_uid), pod_uid);
	at->owner = incident_owner_of(a, info->ref.id, pod_uid, at->owner_buf, sizeof(at->owner_buf), inc);
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

void incident_decide(struct agent *a, struct incident *inc, const struct attribution *at, bool is_agent,
		     bool is_host_init, struct policy_decision *d)
{
	struct policy_subject s = {
		.rule = inc->rule,
		.is_container = inc->is_container,
		.is_agent = is_agent,
		.is_host_init = is_host_init,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.owner_kind = at->owner,
		.image = or_null(inc->image),
		.exe_path = or_null(inc->exe_path),
	};

	policy_decide(a->config, &s, d);
	inc->verdict = d->verdict;
	inc->action = action_name(d->action);
	inc->dry_run = d->verdict == POLICY_DRY_RUN;
	incident_fill_reason(inc, d);
}

void incident_append_detail(struct incident *inc, const char *fmt, ...)
{
	size_t len = strlen(inc->detail);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(inc->detail + len, sizeof(inc->detail) - len, fmt, ap);
	va_end(ap);
}

void incident_apply_plan(struct agent *a, struct incident *inc, const struct decide_plan *p)
{
	inc->outcome = p->outcome;
	if (p->detail)
		incident_append_detail(inc, "%s", p->detail);
	if (p->counter != METRIC_COUNTER_MAX)
		metrics_inc(a->metrics, p->counter);
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
		.owner_kind = or_null(inc->owner_kind),
		.owner_name = or_null(inc->owner_name),
	};
}

void agent_audit(struct agent *a, const struct audit_record *r)
{
	if (audit_write(a->audit, r) < 0) {
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
		log_error("audit: %s record for %s pid %lld not written", r->outcome ? r->outcome : "?",
			  r->event_id ? r->event_id : "?", (long long)r->pid);
	}
}

void incident_record(struct agent *a, struct incident *inc)
{
	struct audit_record r;

	if (!inc->action_time.tv_sec)
		clock_gettime(CLOCK_REALTIME, &inc->action_time);
	r = incident_audit_record(a, inc);
	if (a->reporter)
		report(a, &r, inc->event_real_ns);
	agent_audit(a, &r);
	metrics_count_action(a->metrics, r.rule, r.action, r.outcome);
	inc->recorded = true;
}

void incident_record_join(struct agent *a, struct incident *m, const char *rule, const char *priority,
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
	agent_audit(a, &r);
}

bool incident_correlation_on(const struct agent *a)
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
	if (incident_correlation_on(a) && inc->is_container && inc->exe_path[0] && inc->container_id[0]) {
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

void incident_done(struct agent *a, struct incident *inc, int64_t latency_us)
{
	inc->latency_us = latency_us;
	if (inc->acted && inc->kill_mode && latency_us >= 0)
		metrics_observe_action(a->metrics, inc->source, inc->kill_mode, (uint64_t)latency_us);
	if (!inc->recorded)
		incident_record(a, inc);
	incident_retire(a, inc);
}

void incident_close(struct agent *a, struct incident *inc, const char *outcome, enum metric_counter counter,
		    int64_t latency_us)
{
	inc->outcome = outcome;
	metrics_inc(a->metrics, counter);
	incident_done(a, inc, latency_us);
}

void incident_acted(struct agent *a, struct incident *inc)
{
	uint64_t now = util_monotonic_ns();

	inc->latency_us = now > inc->event_ktime_ns ? (int64_t)((now - inc->event_ktime_ns) / 1000) : 0;
	incident_record(a, inc);
}

void incident_wait(struct agent *a, struct incident *inc, int fd, uint32_t events)
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
	incident_append_detail(inc, "; still alive %u ms after the kill", a->config->agent.kill_timeout_ms);
	metrics_inc(a->metrics, METRIC_KILL_FAILURES);
	log_error("kill of %s (%s) not confirmed within %u ms", inc->event_id, inc->kill_mode,
		  a->config->agent.kill_timeout_ms);
	r = incident_audit_record(a, inc);
	clock_gettime(CLOCK_REALTIME, &r.time);
	r.latency_us = -1;
	agent_audit(a, &r);
	incident_retire(a, inc);
}

static bool pidfd_exited(int pidfd)
{
	struct pollfd p = { .fd = pidfd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

void incident_check(struct agent *a, struct incident *inc)
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

void incidents_tick(struct agent *a, uint64_t now)
{
	struct incident *inc, *next;

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
}

void incidents_wait_kills(struct agent *a)
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

void incidents_close_all(struct agent *a)
{
	struct incident *inc, *next;

	for (inc = a->waiting; inc; inc = next) {
		next = inc->next;
		incident_finish(a, inc, false);
	}
	recent_expire(a, true);
}

struct corr_event incident_corr_event(const struct incident *inc)
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
struct incident *incident_find_open(struct agent *a, const struct corr_event *ev, bool ev_is_falco,
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
			mev = incident_corr_event(m);
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
