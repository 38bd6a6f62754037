// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* One detection's plan, and the kernel's verdict flags, side by side; see decide.h. */
#include <stddef.h>

#include "decide.h"
#include "reflex/events.h"

static void plan_record(struct decide_plan *p, const char *outcome, enum metric_counter counter)
{
	p->step = DECIDE_RECORD;
	p->outcome = outcome;
	p->counter = counter;
}

/* The kernel killed or refused on a verdict user space set from this same policy. */
static void decide_kernel_acted(const struct decide_input *in, struct decide_plan *p)
{
	const struct policy_decision *d = in->policy;

	p->kernel_acted = true;
	p->out_of_step = d->verdict != POLICY_ACT;
	p->kill_mode = in->kernel_killed ? "kernel" : "lsm";
	p->outcome = "killed";
	p->counter = in->kernel_killed ? METRIC_KILLS_KERNEL : METRIC_COUNTER_MAX;
	if (d->verdict == POLICY_ACT && in->target_known &&
	    (d->action == ACTION_KILL_CONTAINER || d->action == ACTION_KILL_POD)) {
		p->step = DECIDE_KILL_CONTAINER;
		return;
	}
	if (in->kernel_killed) {
		p->step = DECIDE_CONFIRM_KERNEL_KILL;
		return;
	}
	/*
	 * The exec failed with EPERM: nothing of the image ran, and the caller
	 * is not the dropped binary, so kill_process has nothing left to kill.
	 */
	p->step = DECIDE_RECORD_AT_EVENT;
	p->outcome = "denied";
}

/* Policy says act and the action kills: what stands between it and the kill. */
static void decide_kill(const struct decide_input *in, struct decide_plan *p)
{
	const struct policy_decision *d = in->policy;

	if (in->from_falco && (!in->target_known || !in->namespace_known)) {
		plan_record(p, "refused", METRIC_REFUSALS);
		return;
	}
	if (in->from_falco && d->action == ACTION_KILL_PROCESS && !in->has_exe) {
		plan_record(p, "refused", METRIC_REFUSALS);
		p->detail = "; the alert names no executable (proc.exepath): no process to match";
		return;
	}
	if (in->admit == DECIDE_ADMIT_UNASKED) {
		p->step = DECIDE_ASK_RATE_LIMIT;
		return;
	}
	if (in->admit == DECIDE_ADMIT_NO) {
		plan_record(p, "disarmed", METRIC_REFUSALS);
		return;
	}
	p->step = d->action == ACTION_KILL_PROCESS ? DECIDE_KILL_PROCESS : DECIDE_KILL_CONTAINER;
	p->outcome = "killed";
}

void decide(const struct decide_input *in, struct decide_plan *ret)
{
	const struct policy_decision *d = in->policy;
	/* isolate_namespace and alert: the controller's job or nobody's; the node reports. */
	const char *alert = in->kernel_denied ? "denied" : "alert";

	*ret = (struct decide_plan){ .counter = METRIC_COUNTER_MAX };
	if (!in->from_falco && (in->kernel_killed || in->exec_denied)) {
		decide_kernel_acted(in, ret);
		return;
	}
	switch (d->verdict) {
	case POLICY_ACT:
		if (!action_kills(d->action))
			plan_record(ret, alert, METRIC_ALERTS);
		else
			decide_kill(in, ret);
		break;
	case POLICY_DRY_RUN:
		plan_record(ret, "dry_run", METRIC_DRY_RUNS);
		break;
	case POLICY_REFUSED:
		plan_record(ret, "refused", METRIC_REFUSALS);
		break;
	case POLICY_EXCEPTED:
		plan_record(ret, "excepted", METRIC_ALERTS);
		break;
	case POLICY_ALERT:
	default:
		plan_record(ret, alert, METRIC_ALERTS);
		break;
	}
}

uint32_t decide_kernel_flags(const struct reflex_config *c, const char *ns, const char *owner, uint32_t armed)
{
	bool kill = c->agent.enforce_in_kernel, block = c->agent.block_pool_connections;
	uint32_t flags = REFLEX_VERDICT_CONTAINER;
	bool pool, stratum;

	if (!ns)
		return flags;
	/* Denying a pool connect is not a kill: it follows block_pool_connections alone. */
	pool = policy_kernel_may_kill(c, c->agent.pool_rule, ns, owner);
	stratum = policy_kernel_may_kill(c, c->agent.stratum_rule, ns, owner);
	if (kill && (armed & DECIDE_KRULE_EXEC) && policy_kernel_may_kill(c, c->agent.exec_rule, ns, owner))
		flags |= REFLEX_VERDICT_KILL_UPPER_EXEC;
	if (kill && (armed & DECIDE_KRULE_FILELESS) && policy_kernel_may_kill(c, c->agent.fileless_rule, ns, owner))
		flags |= REFLEX_VERDICT_KILL_FILELESS_EXEC;
	if (kill && stratum && (armed & DECIDE_KRULE_STRATUM))
		flags |= REFLEX_VERDICT_KILL_STRATUM_EXEC;
	if (kill && pool && (armed & DECIDE_KRULE_POOL))
		flags |= REFLEX_VERDICT_KILL_POOL_CONNECT;
	if (block && stratum)
		flags |= REFLEX_VERDICT_DROP_STRATUM;
	if (block && pool)
		flags |= REFLEX_VERDICT_DENY_POOL_CONNECT;
	return flags;
}
