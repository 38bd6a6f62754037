// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller's decision for one alert; see decide.h. */
#include <string.h>

#include "decide.h"

/*
 * An allow-list: the node carried the action out on its side ("killed", or
 * "denied": an exec refused in the kernel), or, for isolation (which only
 * the controller does), the node's safeguards said act ("alert" under
 * action isolate_namespace). Everything else the agent writes ("refused",
 * "disarmed", "dry_run", "excepted", "failed", "exited", "alert" under
 * another action) or anything unknown, and any dry-run report, is the node
 * not acting: the cluster does not act either.
 */
bool controller_node_permits(const struct node_report *n, enum reflex_action action, const char *action_name)
{
	const char *o = n->outcome;

	if (!o || n->dry_run)
		return false;
	/* The node ran the rule as another action (its config differs): not this one's consent. */
	if (n->action && strcmp(n->action, action_name))
		return false;
	if (!strcmp(o, "killed") || !strcmp(o, "denied"))
		return true;
	return action == ACTION_ISOLATE_NAMESPACE && !strcmp(o, "alert") && n->action;
}

static void record(struct controller_plan *p, const char *outcome, enum controller_why why)
{
	p->step = CONTROLLER_RECORD;
	p->outcome = outcome;
	p->why = why;
}

void controller_decide(const struct controller_decide_input *in, struct controller_plan *ret)
{
	bool kill_pod = in->action == ACTION_KILL_POD;

	*ret = (struct controller_plan){ .step = CONTROLLER_RECORD };
	if (kill_pod && in->pod_gone)
		record(ret, "gone", CONTROLLER_WHY_GONE);
	else if (kill_pod && in->pod_uid_differs)
		record(ret, "refused", CONTROLLER_WHY_NEWER_POD);
	else if (in->verdict == POLICY_DRY_RUN)
		record(ret, "dry_run", CONTROLLER_WHY_DRY_RUN);
	else if (in->verdict != POLICY_ACT)
		record(ret, in->verdict == POLICY_EXCEPTED ? "excepted" : "refused", CONTROLLER_WHY_NONE);
	else if (in->admit == CONTROLLER_ADMIT_UNASKED)
		ret->step = CONTROLLER_ASK_RATE_LIMIT;
	else if (in->admit == CONTROLLER_ADMIT_NO)
		record(ret, "disarmed", CONTROLLER_WHY_NONE);
	else
		ret->step = kill_pod ? CONTROLLER_DELETE_POD : CONTROLLER_ISOLATE;
}
