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
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "agent.h"
#include "attrib.h"
#include "audit.h"
#include "httpd.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "pools.h"
#include "respond.h"

#define AGENT_OPERATOR "reflex-agent"
#define AGENT_TICK_MS 100
/* Full cgroup rescan: the safety net behind inotify. */
#define AGENT_RESCAN_MS 5000

/* One detection on its way to an audit record; owns copies of every string. */
struct incident {
	struct incident *next;
	enum { WAIT_PROCESS_EXIT = 1, WAIT_CGROUP_EMPTY } wait; /* 0: not waiting */
	int fd;                 /* pidfd or cgroup.events fd while waiting */
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
	char reason[768];
	char namespace_[64];
	char pod[254];
	char container_id[65];
	char image[512];
	char exe_path[REFLEX_PATH_LEN];
	char comm[REFLEX_COMM_LEN];
	char event_id[80];
	char destination[80];   /* pool connects: "ADDR:PORT/PROTO" */
	bool is_container;
	bool kernel_denied;     /* the kernel refused the connect (EPERM) */
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
	struct pool_lists pools;          /* parsed agent.pool_lists */
	struct pool_resolver *resolver;   /* NULL when no connect hook is active */
	struct pool_addr *pool_applied;   /* normalized set in the LPM tries now */
	size_t n_pool_applied;
	bool stopping;
};

static void on_resolver(struct agent *a);
static void pools_stop(struct agent *a);
static void pools_start(struct agent *a);

/* epoll tags for the fixed fds; incidents are tagged by their pointer. */
static char tag_kernel, tag_signal, tag_timer, tag_attrib, tag_resolver;

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* Writes the audit record of INC and counts what it says. */
static void incident_audit(struct agent *a, struct incident *inc, int64_t latency_us)
{
	struct audit_record r = {
		.action = inc->action,
		.outcome = inc->outcome,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.rule = inc->rule,
		.dry_run = inc->dry_run,
		.reason = inc->reason,
		.operator_ = AGENT_OPERATOR,
		.node = a->config->agent.node_name,
		.container_id = or_null(inc->container_id),
		.pid = inc->pid,
		.exe_path = inc->exe_path,
		.source = inc->source,
		.latency_us = latency_us,
		.kill_mode = inc->kill_mode,
		.comm = inc->comm,
		.image = or_null(inc->image),
		.cgroup_id = inc->cgroup_id,
		.event_id = inc->event_id,
		.destination = or_null(inc->destination),
	};

	clock_gettime(CLOCK_REALTIME, &r.time);
	if (audit_write(a->audit, &r) < 0) {
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
		log_error("audit: record for %s pid %lld not written", inc->event_id, (long long)inc->pid);
	}
}

static void incident_free(struct incident *inc)
{
	if (inc->fd >= 0)
		close(inc->fd);
	free(inc);
}

__attribute__((format(printf, 2, 3))) static void reason_append(struct incident *inc, const char *fmt, ...)
{
	size_t len = strlen(inc->reason);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(inc->reason + len, sizeof(inc->reason) - len, fmt, ap);
	va_end(ap);
}

/* The end of an incident that waits for nothing: count it, audit it, free it. */
static void incident_close(struct agent *a, struct incident *inc, const char *outcome, enum metric_counter counter,
			   int64_t latency_us)
{
	inc->outcome = outcome;
	metrics_inc(a->metrics, counter);
	incident_audit(a, inc, latency_us);
	incident_free(inc);
}

static void incident_wait(struct agent *a, struct incident *inc, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = inc };

	inc->fd = fd;
	inc->deadline_ns = monotonic_ns() + (uint64_t)a->config->agent.kill_timeout_ms * 1000000ULL;
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
		/* Cannot wait: the deadline check in the tick still closes it. */
		log_errno(LOG_LEVEL_WARN, -errno, "epoll add for %s", inc->event_id);
	}
	inc->next = a->waiting;
	a->waiting = inc;
}

static void incident_unlink(struct agent *a, struct incident *inc)
{
	for (struct incident **p = &a->waiting; *p; p = &(*p)->next) {
		if (*p == inc) {
			*p = inc->next;
			return;
		}
	}
}

/* The kill is confirmed (or timed out): audit with the measured latency. */
static void incident_finish(struct agent *a, struct incident *inc, bool done)
{
	uint64_t now = monotonic_ns();
	int64_t latency_us = (int64_t)((now - inc->event_ktime_ns) / 1000);

	incident_unlink(a, inc);
	if (inc->fd >= 0)
		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, inc->fd, NULL);
	if (!done) {
		inc->outcome = "failed";
		reason_append(inc, "; still alive %u ms after the kill", a->config->agent.kill_timeout_ms);
		metrics_inc(a->metrics, METRIC_KILL_FAILURES);
		log_error("kill of %s (%s) not confirmed within %u ms", inc->event_id,
			  inc->kill_mode, a->config->agent.kill_timeout_ms);
		latency_us = -1;
	}
	incident_audit(a, inc, latency_us);
	incident_free(inc);
}

static void incident_check(struct agent *a, struct incident *inc)
{
	if (inc->wait == WAIT_CGROUP_EMPTY) {
		int populated = respond_cgroup_populated(inc->fd);

		if (populated <= 0)
			incident_finish(a, inc, populated == 0);
		return;
	}
	/* A pidfd polls readable once its process has exited. */
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
		reason_append(inc, "; cgroup v1 freezer kill failed: %s", strerror(-n));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	inc->kill_mode = inc->kill_mode ? "kernel+cgroup-v1-freezer" : "cgroup-v1-freezer";
	reason_append(inc, "; %d processes signalled", n);
	incident_close(a, inc, inc->outcome, METRIC_KILLS_CGROUP,
		       (int64_t)((monotonic_ns() - inc->event_ktime_ns) / 1000));
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
		reason_append(inc, "; cgroup.kill on %s failed: %s", info->scope_path, strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_CGROUP);
	inc->kill_mode = inc->kill_mode ? "kernel+cgroup.kill" : "cgroup.kill";
	inc->wait = WAIT_CGROUP_EMPTY;
	incident_wait(a, inc, fd, EPOLLPRI | EPOLLERR);
	incident_check(a, inc);
}

static void kill_process(struct agent *a, struct incident *inc, uint32_t tgid, uint64_t start_boottime,
			 uint64_t cgroup_id)
{
	struct process_identity id = {
		.pid = (pid_t)tgid,
		.start_boottime_ns = start_boottime,
		.cgroup_id = cgroup_id,
	};
	uint64_t ticks;
	int pidfd = -1, err;

	/* Kernels without bpf_get_current_task in cgroup hooks send no start time. */
	if (!id.start_boottime_ns && respond_proc_start_ticks(id.pid, &ticks) == 0)
		id.start_boottime_ns = ticks * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
	err = respond_kill_process(a->cgroup_root, &id, &pidfd);
	if (err == -ESTALE || err == -ESRCH) {
		/* Stale: a safeguard refused. Gone: nothing to kill (a denied connect may remain). */
		reason_append(inc, "%s",
			      err == -ESTALE ? "; target no longer the process of the event (pid reused or moved): not signalled"
					     : "; target exited before the kill");
		log_warn("kill of pid %u skipped: %s", tgid,
			 err == -ESTALE ? "pid now names another process" : "already exited");
		incident_close(a, inc, err == -ESTALE ? "refused" : inc->kernel_denied ? "denied" : "exited",
			       METRIC_STALE_TARGETS, -1);
		return;
	}
	if (err) {
		reason_append(inc, "; pidfd kill failed: %s", strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_PIDFD);
	inc->kill_mode = "pidfd";
	inc->wait = WAIT_PROCESS_EXIT;
	incident_wait(a, inc, pidfd, EPOLLIN);
}

/* The kernel already sent SIGKILL: confirm the exit to measure and audit it. */
static void confirm_kernel_kill(struct agent *a, struct incident *inc, uint32_t tgid)
{
	int pidfd = respond_pidfd_open((pid_t)tgid);

	if (pidfd < 0) {
		/* Gone already: the usual case, the kill landed before we looked. */
		incident_audit(a, inc, (int64_t)((monotonic_ns() - inc->event_ktime_ns) / 1000));
		incident_free(inc);
		return;
	}
	inc->wait = WAIT_PROCESS_EXIT;
	incident_wait(a, inc, pidfd, EPOLLIN);
}

static void incident_fill_reason(struct incident *inc, const struct policy_decision *d)
{
	const char *audit_reason = d->rule && d->rule->audit_reason ? d->rule->audit_reason : NULL;

	if (audit_reason && d->verdict == POLICY_ACT)
		snprintf(inc->reason, sizeof(inc->reason), "%s; %s", audit_reason, d->reason);
	else if (audit_reason && d->verdict == POLICY_DRY_RUN)
		snprintf(inc->reason, sizeof(inc->reason), "DRY_RUN: %s; %s", audit_reason, d->reason);
	else if (d->verdict == POLICY_DRY_RUN)
		snprintf(inc->reason, sizeof(inc->reason), "DRY_RUN: %s", d->reason);
	else
		copy_str(inc->reason, sizeof(inc->reason), d->reason);
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
	bool kernel_denied;      /* a connect the kernel already refused (EPERM) */
};

/* Attribution, policy, response, audit: one path for every kernel detection. */
static int handle_detection(struct agent *a, const struct detection *det)
{
	const struct container_info *info = NULL;
	struct policy_decision d;
	struct policy_subject s;
	struct incident *inc;
	int err;

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
	snprintf(inc->event_id, sizeof(inc->event_id), "%s-%llu-%u", a->boot_id,
		 (unsigned long long)det->ktime_ns, det->tgid);

	err = attrib_lookup(a->attrib, det->cgroup_id, &info);
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
	} else {
		info = NULL;
		metrics_inc(a->metrics, METRIC_HOST_EVENTS);
	}

	s = (struct policy_subject){
		.rule = inc->rule,
		.is_container = inc->is_container,
		.is_agent = (pid_t)det->tgid == a->self_pid,
		.is_host_init = det->tgid == 1,
		.namespace_ = or_null(inc->namespace_),
		.pod = or_null(inc->pod),
		.owner_kind = NULL, /* owners come from the Kubernetes API (not wired yet) */
		.image = or_null(inc->image),
		.exe_path = or_null(inc->exe_path),
	};
	policy_decide(a->config, &s, &d);
	inc->action = action_name(d.action);
	inc->dry_run = d.verdict == POLICY_DRY_RUN;
	incident_fill_reason(inc, &d);
	if (det->what)
		reason_append(inc, "; %s%s", det->what, det->kernel_denied ? " (denied in kernel: EPERM)" : "");

	log_info("%s pid %u comm %s in %s%s%s: %s (%s)", det->what ? det->what : inc->rule, det->tgid,
		 inc->comm, inc->is_container ? "container " : "host",
		 inc->is_container ? inc->container_id : "",
		 det->kernel_killed ? ", killed in kernel" : "", policy_verdict_name(d.verdict), d.reason);

	if (det->kernel_killed) {
		/* The kernel acted on a verdict user space set from this same policy. */
		if (d.verdict != POLICY_ACT)
			log_warn("kernel killed pid %u although policy now says %s: verdict map out of step",
				 det->tgid, policy_verdict_name(d.verdict));
		inc->outcome = "killed";
		metrics_inc(a->metrics, METRIC_KILLS_KERNEL);
		inc->kill_mode = "kernel";
		if (d.verdict == POLICY_ACT && info &&
		    (d.action == ACTION_KILL_CONTAINER || d.action == ACTION_KILL_POD)) {
			kill_container(a, inc, info);
			return 0;
		}
		confirm_kernel_kill(a, inc, det->tgid);
		return 0;
	}
	if (det->kernel_kill_failed)
		log_warn("kernel SIGKILL of pid %u failed; killing from user space", det->tgid);

	switch (d.verdict) {
	case POLICY_ACT:
		if (!action_kills(d.action)) {
			/* isolate_namespace: the controller's job; the node reports. */
			inc->outcome = det->kernel_denied ? "denied" : "alert";
			metrics_inc(a->metrics, METRIC_ALERTS);
			break;
		}
		inc->outcome = "killed";
		if (d.action == ACTION_KILL_PROCESS)
			kill_process(a, inc, det->tgid, det->start_boottime, det->cgroup_id);
		else
			kill_container(a, inc, info);
		return 0;
	case POLICY_DRY_RUN:
		inc->outcome = "dry_run";
		metrics_inc(a->metrics, METRIC_DRY_RUNS);
		break;
	case POLICY_REFUSED:
		inc->outcome = "refused";
		metrics_inc(a->metrics, METRIC_REFUSALS);
		break;
	case POLICY_EXCEPTED:
		inc->outcome = "excepted";
		metrics_inc(a->metrics, METRIC_ALERTS);
		break;
	case POLICY_ALERT:
	default:
		inc->outcome = det->kernel_denied ? "denied" : "alert";
		metrics_inc(a->metrics, METRIC_ALERTS);
		break;
	}
	incident_audit(a, inc, -1);
	incident_free(inc);
	return 0;
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
	};

	metrics_inc(a->metrics, METRIC_EVENTS_EXEC);
	memcpy(exe_path, e->exe_path, sizeof(exe_path));
	exe_path[sizeof(exe_path) - 1] = '\0';
	memcpy(comm, e->comm, sizeof(comm));
	comm[sizeof(comm) - 1] = '\0';
	if (e->flags & REFLEX_EXEC_UPPER_LAYER)
		det.rule = a->config->agent.exec_rule;
	else if (e->flags & REFLEX_EXEC_FILELESS)
		det.rule = a->config->agent.fileless_rule;
	else
		det.rule = a->config->agent.stratum_rule;
	snprintf(what, sizeof(what), "exec %s%s%s", exe_path,
		 e->flags & REFLEX_EXEC_MEMFD ? " (memfd)" : e->flags & REFLEX_EXEC_FILELESS ? " (unlinked)" : "",
		 e->flags & REFLEX_EXEC_STRATUM_ARGV ? " with a stratum URL in argv" : "");
	return handle_detection(a, &det);
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

/* What the kernel may do at once in this container, from policy. */
static uint32_t verdict_flags_for(const struct agent *a, const struct container_info *info)
{
	const struct reflex_config *c = a->config;
	const char *ns = info->meta.namespace_;
	bool kill = c->agent.enforce_in_kernel, block = c->agent.block_pool_connections;
	uint32_t flags = REFLEX_VERDICT_CONTAINER;
	bool pool, stratum;

	if (info->cgroup_id == a->self_cgroup_id)
		return 0;
	if (!info->meta_known)
		return flags;
	/* Denying a pool connect is not a kill: it follows block_pool_connections alone. */
	pool = policy_kernel_may_kill(c, c->agent.pool_rule, ns, NULL);
	stratum = policy_kernel_may_kill(c, c->agent.stratum_rule, ns, NULL);
	if (kill && policy_kernel_may_kill(c, c->agent.exec_rule, ns, NULL))
		flags |= REFLEX_VERDICT_KILL_UPPER_EXEC;
	if (kill && policy_kernel_may_kill(c, c->agent.fileless_rule, ns, NULL))
		flags |= REFLEX_VERDICT_KILL_FILELESS_EXEC;
	if (kill && stratum)
		flags |= REFLEX_VERDICT_KILL_STRATUM_EXEC;
	if (kill && pool)
		flags |= REFLEX_VERDICT_KILL_POOL_CONNECT;
	if (block && stratum)
		flags |= REFLEX_VERDICT_DROP_STRATUM;
	if (block && pool)
		flags |= REFLEX_VERDICT_DENY_POOL_CONNECT;
	return flags;
}

static void on_container_change(void *ctx, const struct container_info *info, bool added)
{
	struct agent *a = ctx;
	uint32_t flags = added ? verdict_flags_for(a, info) : 0;
	int err;

	log_debug("container %s cgroup %llu %s%s", info->ref.id, (unsigned long long)info->cgroup_id,
		  added ? "appeared" : "went away",
		  flags & ~(uint32_t)REFLEX_VERDICT_CONTAINER ? ", kernel kill armed" : "");
	err = kernel_set_cgroup_verdict(a->kernel, info->cgroup_id, flags);
	if (err)
		log_errno(LOG_LEVEL_WARN, err, "verdict for cgroup %llu", (unsigned long long)info->cgroup_id);
	metrics_set_containers(a->metrics, attrib_count(a->attrib));
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
	metrics_set_kernel(a->metrics, METRIC_K_STRATUM_WATCHED, c[REFLEX_KCNT_STRATUM_WATCHED]);
	metrics_set_kernel(a->metrics, METRIC_K_STRATUM_MATCHED, c[REFLEX_KCNT_STRATUM_MATCHED]);
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
	int fd, err;

	if (a->attrib) {
		fd = attrib_watch_fd(a->attrib);
		if (fd >= 0)
			epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, fd, NULL);
		a->attrib = attrib_free(a->attrib);
	}
	a->attrib = attrib_new(&ac);
	if (!a->attrib)
		return log_errno(LOG_LEVEL_ERROR, -errno, "attribution");
	fd = attrib_watch_fd(a->attrib);
	if (fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &tag_attrib };

		if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev))
			return log_errno(LOG_LEVEL_ERROR, -errno, "epoll add inotify");
	} else {
		log_warn("attribution: inotify unavailable, new containers are found by the %d ms rescan",
			 AGENT_RESCAN_MS);
	}
	err = kernel_clear_cgroup_verdicts(a->kernel);
	if (err)
		log_errno(LOG_LEVEL_WARN, err, "clearing kernel verdicts");
	err = attrib_scan(a->attrib, on_container_change, a);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "cgroup scan of %s", a->cgroup_root);
	a->last_rescan_ns = monotonic_ns();
	return 0;
}

static void reload_config(struct agent *a)
{
	struct reflex_config *fresh = NULL;
	bool same_pools;
	char err[512];
	int r;

	r = config_load(a->config->path, &fresh, err, sizeof(err));
	if (r) {
		log_error("reload: %s; keeping the running config", err);
		return;
	}
	same_pools = strcmp(a->config->agent.pool_lists, fresh->agent.pool_lists) == 0 &&
		     a->config->agent.pool_resolve_interval_s == fresh->agent.pool_resolve_interval_s;
	config_free(a->config);
	a->config = fresh;
	log_info("reload: %s loaded (%zu rules, %zu exceptions)", fresh->path, fresh->n_rules,
		 fresh->n_exceptions);
	if (attrib_rebuild(a))
		log_error("reload: attribution rebuild failed; kernel kills stay off until the next rescan");
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
}

static void on_tick(struct agent *a)
{
	uint64_t now = monotonic_ns(), expirations;
	struct incident *inc, *next;

	if (read(a->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_errno(LOG_LEVEL_WARN, -errno, "timerfd read");
	for (inc = a->waiting; inc; inc = next) {
		next = inc->next;
		if (inc->wait == WAIT_CGROUP_EMPTY && respond_cgroup_populated(inc->fd) == 0)
			incident_finish(a, inc, true);
		else if (now >= inc->deadline_ns)
			incident_finish(a, inc, false);
	}
	if (now - a->last_rescan_ns >= AGENT_RESCAN_MS * 1000000ULL) {
		int err = attrib_scan(a->attrib, on_container_change, a);

		if (err)
			log_errno(LOG_LEVEL_WARN, err, "cgroup rescan");
		a->last_rescan_ns = now;
	}
	refresh_kernel_counters(a);
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
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &tag_kernel) {
				int err = kernel_consume(a->kernel);

				if (err < 0)
					log_errno(LOG_LEVEL_ERROR, err, "ring buffer");
			} else if (tag == &tag_signal) {
				on_signal(a);
			} else if (tag == &tag_timer) {
				on_tick(a);
			} else if (tag == &tag_resolver) {
				on_resolver(a);
			} else if (tag == &tag_attrib) {
				int err = attrib_watch_process(a->attrib, on_container_change, a);

				if (err)
					log_errno(LOG_LEVEL_WARN, err, "cgroup watch");
			} else {
				incident_check(a, tag);
			}
		}
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
	a->epoll_fd = a->signal_fd = a->timer_fd = -1;
	a->self_pid = getpid();
	read_boot_id(a);

	a->metrics = metrics_new(config->agent.node_name);
	if (!a->metrics) {
		err = -errno;
		goto fail;
	}
	a->audit = audit_open(config->agent.audit_log, config->agent.audit_stdout);
	if (!a->audit) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "audit log %s", config->agent.audit_log);
		goto fail;
	}
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
	kopts.cgroup_root = a->cgroup_root;
	err = kernel_open(&kopts, on_kernel_record, a, &a->kernel);
	if (err) {
		metrics_set_hook(a->metrics, "exec", false, strerror(-err));
		goto fail;
	}
	metrics_set_hook(a->metrics, kernel_exec_hook(a->kernel), true,
			 kernel_exec_fallback_reason(a->kernel) ? kernel_exec_fallback_reason(a->kernel)
								: "preferred hook");
	metrics_set_hook(a->metrics, "bpf_send_signal (in-kernel kill)", config->agent.enforce_in_kernel,
			 config->agent.enforce_in_kernel ? "armed per container from policy"
							 : "off: agent.enforce_in_kernel is false");
	if (kernel_exec_fallback_reason(a->kernel))
		log_warn("kernel: exec hook %s (fallback: %s)", kernel_exec_hook(a->kernel),
			 kernel_exec_fallback_reason(a->kernel));
	else
		log_info("kernel: exec hook %s", kernel_exec_hook(a->kernel));

	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
		metrics_set_hook(a->metrics, kernel_connect_hook(p), kernel_connect_active(a->kernel, p),
				 kernel_connect_reason(a->kernel, p));
	if (!kernel_connect_active(a->kernel, KERNEL_CONNECT4))
		log_warn("kernel: cgroup/connect4 inactive (%s): pool connections are not watched",
			 kernel_connect_reason(a->kernel, KERNEL_CONNECT4));
	kernel_set_stratum_scan(a->kernel, config->agent.scan_stratum_argv);

	err = epoll_add_tag(a, kernel_events_fd(a->kernel), &tag_kernel);
	if (!err)
		err = epoll_add_tag(a, a->signal_fd, &tag_signal);
	if (!err)
		err = epoll_add_tag(a, a->timer_fd, &tag_timer);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "epoll add");
		goto fail;
	}
	err = attrib_rebuild(a);
	if (err)
		goto fail;
	pools_start(a);
	if (timerfd_settime(a->timer_fd, 0, &tick, NULL)) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "timerfd_settime");
		goto fail;
	}

	probe_container_kill(a);
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
	metrics_set_ready(a->metrics, true);
	*ret = a;
	return 0;
fail:
	agent_stop(a);
	return err;
}

struct agent *agent_stop(struct agent *a)
{
	struct incident *inc, *next;

	if (!a)
		return NULL;
	/* Kills in flight are audited as not confirmed rather than dropped. */
	for (inc = a->waiting; inc; inc = next) {
		next = inc->next;
		if (inc->wait == WAIT_CGROUP_EMPTY && respond_cgroup_populated(inc->fd) == 0)
			incident_finish(a, inc, true);
		else
			incident_finish(a, inc, false);
	}
	if (a->metrics)
		metrics_set_ready(a->metrics, false);
	a->httpd = httpd_stop(a->httpd);
	if (a->epoll_fd >= 0)
		pools_stop(a);
	free(a->pool_applied);
	a->attrib = attrib_free(a->attrib);
	a->kernel = kernel_close(a->kernel);
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
