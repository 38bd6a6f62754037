// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The kernel's per-cgroup verdicts (see verdicts.h): armed from policy, the
 * pod's owner and the rate limit, cleared loudly when they may be stale; and
 * the rate limit's part in it.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "agent_internal.h"
#include "attrib.h"
#include "decide.h"
#include "incident.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"
#include "util.h"
#include "verdicts.h"

void verdicts_publish_hook(struct agent *a)
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
 * current config) decides each detection until verdicts_rebuild succeeds,
 * retried on every rescan tick.
 */
static void verdicts_fail_safe(struct agent *a, const char *why, bool refresh)
{
	int err = kernel_clear_cgroup_verdicts(a->kernel);

	if (!a->verdicts_off) {
		a->verdicts_off = true;
		metrics_inc(a->metrics, METRIC_VERDICTS_CLEARED);
		verdicts_publish_hook(a);
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

/* What the kernel may do at once in this container: its namespace and owner, then decide_kernel_flags(). */
static uint32_t verdict_flags_for(struct agent *a, const struct container_info *info)
{
	struct incident scratch = { .fd = -1 };
	const char *pod_uid = info->meta_known ? info->meta.pod_uid : info->ref.pod_uid;
	const char *ns = NULL, *owner;
	char owner_buf[64];

	if (info->cgroup_id == a->self_cgroup_id)
		return 0;
	/* A failed rebuild: user space decides every detection until one succeeds. */
	if (a->verdicts_off)
		return REFLEX_VERDICT_CONTAINER;
	/* The namespace from the runtime, else from the API. */
	owner = incident_owner_of(a, info->ref.id, pod_uid, owner_buf, sizeof(owner_buf), &scratch);
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

void verdicts_on_container_change(void *ctx, const struct container_info *info, bool added)
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

void verdicts_refresh(struct agent *a)
{
	attrib_foreach(a->attrib, reapply_verdict, a);
}

int verdicts_rebuild(struct agent *a)
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
	err = attrib_new(&ac, &fresh);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "attribution (cgroup root %s)", a->cgroup_root);
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
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->tag.attrib };

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
	err = attrib_scan(a->attrib, verdicts_on_container_change, a);
	a->last_rescan_ns = util_monotonic_ns();
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "cgroup scan of %s", a->cgroup_root);
		verdicts_fail_safe(a, "attribution rebuild failed", true);
		return err;
	}
	if (was_off && !a->verdicts_off)
		log_info("attribution rebuilt: kernel verdicts armed again from the running config");
	verdicts_publish_hook(a);
	return 0;
}

/* ---- the rate limit: kills admitted, kernel rules armed */

int rate_limit_new(const struct reflex_config *c, struct ratelimit **ret)
{
	struct ratelimit_config rc = {
		.max_containers = c->agent.rate_limit_containers,
		.max_executables = c->agent.rate_limit_executables,
		.window_s = c->agent.rate_limit_window_s,
	};

	return ratelimit_new(&rc, ret);
}

uint32_t rate_limit_kernel_armed(struct agent *a)
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

void rate_limit_sync_kernel(struct agent *a)
{
	uint32_t bits = rate_limit_kernel_armed(a);

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

void rate_limit_publish_disarmed(struct agent *a)
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
	rate_limit_publish_disarmed(a);
	rate_limit_sync_kernel(a);
}

bool rate_limit_admits(struct agent *a, struct incident *inc)
{
	enum ratelimit_verdict v = ratelimit_admit(a->ratelimit, inc->rule, inc->container_id, inc->exe_path,
						   util_monotonic_ns());
	char why[256] = "rule disarmed";

	if (v == RATELIMIT_ADMIT) {
		rate_limit_sync_kernel(a);
		return true;
	}
	ratelimit_disarmed(a->ratelimit, inc->rule, why, sizeof(why));
	incident_append_detail(inc, "; %s", why);
	if (v == RATELIMIT_DISARMED_NOW)
		on_rule_disarmed(a, inc->rule, why);
	return false;
}

void rate_limit_record(struct agent *a, struct incident *inc)
{
	char why[256] = "rule disarmed";

	if (ratelimit_record(a->ratelimit, inc->rule, inc->container_id, inc->exe_path, util_monotonic_ns()) ==
	    RATELIMIT_DISARMED_NOW) {
		ratelimit_disarmed(a->ratelimit, inc->rule, why, sizeof(why));
		incident_append_detail(inc, "; %s", why);
		on_rule_disarmed(a, inc->rule, why);
		return;
	}
	rate_limit_sync_kernel(a);
}
