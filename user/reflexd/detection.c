// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Kernel events (see detection.h): each one attributed, joined to a Falco
 * incident or decided by policy, acted on, recorded. And the kernel's
 * counters, with a record for every action whose event the ring buffer lost.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "agent_internal.h"
#include "attrib.h"
#include "correlate.h"
#include "decide.h"
#include "detection.h"
#include "incident.h"
#include "kernel.h"
#include "kill.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "respond.h"
#include "util.h"
#include "verdicts.h"

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

/* The exe of a live process, for detections whose event carries none (connects). */
static void exe_of_pid(uint32_t tgid, char *buf, size_t size)
{
	if (respond_proc_exe((pid_t)tgid, buf, size) < 0)
		buf[0] = '\0';
}

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

/* A new incident of DET's process: what the kernel event says. NULL when out of memory. */
static struct incident *detection_incident(struct agent *a, const struct detection *det)
{
	struct incident *inc = incident_new("kernel");

	if (!inc)
		return NULL;
	inc->event_ktime_ns = det->ktime_ns;
	inc->pid = det->tgid;
	inc->cgroup_id = det->cgroup_id;
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
	return inc;
}

/* The container of DET's cgroup onto INC; what was found, and its owner, into AT. */
static void detection_attribute(struct agent *a, const struct detection *det, struct incident *inc,
				struct attribution *at)
{
	const struct container_info *info = NULL;

	at->err = attrib_lookup(a->attrib, det->cgroup_id, &info);
	if (at->err && at->err != -ENOENT)
		log_errno(LOG_LEVEL_WARN, at->err, "attribution of cgroup %llu", (unsigned long long)det->cgroup_id);
	inc->is_container = at->err == 0;
	if (inc->is_container) {
		at->info = info;
		incident_take_container(a, inc, info, at);
		return;
	}
	/* Two cgroups claim one container id: never acted on (policy sees no container). */
	if (at->err == -EEXIST)
		metrics_inc(a->metrics, METRIC_REFUSALS);
	else
		metrics_inc(a->metrics, METRIC_HOST_EVENTS);
}

/*
 * Falco already acted on this process: one incident, no second kill. True
 * when DET joined an open Falco incident (and INC is freed).
 */
static bool detection_join_falco(struct agent *a, const struct detection *det, struct incident *inc)
{
	const struct reflex_rule *r;
	struct corr_event ev;
	struct incident *m;
	char what[REFLEX_PATH_LEN + 128];
	bool rule_kills;

	if (!inc->is_container || !incident_correlation_on(a))
		return false;
	r = config_find_rule(a->config, inc->rule);
	ev = incident_corr_event(inc);
	rule_kills = r && action_kills(r->action);
	/* Whatever the kernel did itself (kill, refused exec or connect) joins only an incident that acted. */
	m = incident_find_open(a, &ev, false, inc->rule, rule_kills,
			       det->kernel_killed || det->exec_denied || det->kernel_denied);
	if (!m)
		return false;
	if (join_spares_process(m, det, rule_kills)) {
		log_info("%s pid %u matches Falco incident %s but that did not kill it: handled on its own",
			 det->what ? det->what : inc->rule, det->tgid, m->event_id);
		return false;
	}
	snprintf(what, sizeof(what), "kernel detection %s pid %u%s", det->what ? det->what : inc->rule, det->tgid,
		 det->kernel_killed ? " (killed in kernel)" : "");
	m->correlated = true;
	incident_record_join(a, m, inc->rule, NULL, NULL, inc->event_real_ns, what);
	if (det->kernel_killed) {
		metrics_inc(a->metrics, METRIC_KILLS_KERNEL);
		rate_limit_record(a, inc);
	}
	a->falco_correlated++;
	log_info("%s pid %u joined Falco incident %s ('%s')", det->what ? det->what : inc->rule, det->tgid,
		 m->event_id, m->rule);
	incident_free(inc);
	return true;
}

/* Policy's verdict on INC into D, and onto INC: action, dry run, reason, what was found. */
static void detection_policy(struct agent *a, const struct detection *det, struct incident *inc,
			     const struct attribution *at, struct policy_decision *d)
{
	incident_decide(a, inc, at, (pid_t)det->tgid == a->self_pid, det->tgid == 1, d);
	if (at->err == -EEXIST)
		incident_append_detail(inc, "; two cgroups claim the container id of cgroup %llu: refused",
				       (unsigned long long)det->cgroup_id);
	if (det->what)
		incident_append_detail(inc, "; %s%s", det->what,
				       det->kernel_denied ? " (denied in kernel: EPERM)" : "");
}

/* The kernel killed or refused at the event: counted, confirmed or recorded at the event. */
static void act_after_kernel(struct agent *a, const struct detection *det, struct incident *inc,
			     const struct container_info *info, const struct policy_decision *d,
			     const struct decide_plan *p, const char *summary)
{
	log_info("%s", summary);
	if (p->out_of_step)
		log_warn("kernel %s pid %u although policy now says %s: verdict map out of step",
			 det->kernel_killed ? "killed" : "refused an exec in", det->tgid,
			 policy_verdict_name(d->verdict));
	incident_apply_plan(a, inc, p);
	inc->acted = true;
	inc->kill_mode = p->kill_mode;
	rate_limit_record(a, inc);
	if (p->step == DECIDE_KILL_CONTAINER)
		kill_container(a, inc, info);
	else if (p->step == DECIDE_CONFIRM_KERNEL_KILL)
		kill_confirm_kernel(a, inc, det->tgid);
	else {
		/* Refused inside execve, at the event: the image was never alive. */
		inc->action_time = timespec_of_ns(inc->event_real_ns);
		incident_done(a, inc, 0);
	}
}

/* User space acts: the rate limit asked where policy kills, then the kill, or the record only. */
static void act_in_user_space(struct agent *a, const struct detection *det, struct incident *inc,
			      const struct container_info *info, struct decide_input *in, struct decide_plan *p,
			      const char *summary)
{
	if (det->kernel_kill_failed)
		log_warn("kernel SIGKILL of pid %u failed; killing from user space", det->tgid);
	if (p->step != DECIDE_ASK_RATE_LIMIT)
		log_info("%s", summary);
	if (p->step == DECIDE_ASK_RATE_LIMIT) {
		in->admit = rate_limit_admits(a, inc) ? DECIDE_ADMIT_YES : DECIDE_ADMIT_NO;
		decide(in, p);
		if (in->admit == DECIDE_ADMIT_NO)
			log_info("%s", summary);
	}
	incident_apply_plan(a, inc, p);
	if (p->step == DECIDE_KILL_PROCESS || p->step == DECIDE_KILL_CONTAINER) {
		if (p->step == DECIDE_KILL_PROCESS)
			kill_process(a, inc, det->tgid, det->start_boottime, det->cgroup_id);
		else
			kill_container(a, inc, info);
		log_info("%s", summary); /* INC may be freed by now */
		return;
	}
	incident_done(a, inc, -1);
}

/* Attribution, policy, response, audit: one path for every kernel detection. */
static int handle_detection(struct agent *a, const struct detection *det)
{
	struct attribution at = { 0 };
	struct policy_decision d;
	struct decide_input in;
	struct decide_plan p;
	char summary[REFLEX_PATH_LEN + 1024];
	struct incident *inc;

	inc = detection_incident(a, det);
	if (!inc)
		return -ENOMEM;
	detection_attribute(a, det, inc, &at);
	if (detection_join_falco(a, det, inc))
		return 0;
	detection_policy(a, det, inc, &at, &d);
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
		.target_known = at.info != NULL,
		.namespace_known = inc->namespace_[0] != '\0',
		.has_exe = inc->exe_path[0] != '\0',
	};
	decide(&in, &p);
	if (p.kernel_acted)
		act_after_kernel(a, det, inc, at.info, &d, &p, summary);
	else
		act_in_user_space(a, det, inc, at.info, &in, &p, summary);
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

	snprintf(path, sizeof(path), "/proc/%u/comm", tgid);
	if (util_read_small_file(path, buf, size) > 0)
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

int detection_on_kernel_record(void *ctx, const void *record, size_t size)
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
			agent_audit(a, &r);
		}
	}
}

void detection_refresh_counters(struct agent *a)
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
