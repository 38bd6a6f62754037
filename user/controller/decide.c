// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller's decisions for one alert; see decide.h. */
#include <string.h>

#include "decide.h"

bool controller_name_ok(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	/* Never anything that could climb out of the path. */
	return !strstr(s, "..");
}

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

/*
 * Only kill_pod and isolate_namespace are the controller's; for the other
 * rules the agent acts and reports, and Falco's own alert adds nothing. A
 * report the node declined is not the controller's to act on, and decides
 * nothing for the incident: a later report of the same pod that the node
 * did act on must not be a duplicate.
 */
enum controller_role controller_role(enum reflex_action action, const struct node_report *n)
{
	if (action != ACTION_KILL_POD && action != ACTION_ISOLATE_NAMESPACE)
		return n->present ? CONTROLLER_RECORD_NODE : CONTROLLER_IGNORE;
	if (n->present && !controller_node_permits(n, action, action_name(action)))
		return CONTROLLER_DECLINED;
	return CONTROLLER_ACTS;
}

static void record(struct controller_plan *p, const char *outcome, enum controller_why why)
{
	p->step = CONTROLLER_RECORD;
	p->outcome = outcome;
	p->why = why;
}

void controller_permit(const struct controller_permit_input *in, struct controller_plan *ret)
{
	const struct node_report *n = in->node;
	bool pod_ok = controller_name_ok(in->pod, 253);

	*ret = (struct controller_plan){ .step = CONTROLLER_RECORD };
	if (in->role == CONTROLLER_RECORD_NODE) {
		record(ret, n->outcome ? n->outcome : "reported", CONTROLLER_WHY_NONE);
		ret->dry_run = n->dry_run;
	} else if (in->role == CONTROLLER_DECLINED) {
		/* Nothing the node declined is done by the cluster: no API call at all. */
		record(ret, "refused", CONTROLLER_WHY_NODE_DECLINED);
		ret->dry_run = n->dry_run || (n->outcome && !strcmp(n->outcome, "dry_run"));
	} else if (!in->incident_claimed) {
		record(ret, "duplicate", CONTROLLER_WHY_DUPLICATE);
	} else if (!controller_name_ok(in->namespace_, 63) || (in->action == ACTION_KILL_POD && !pod_ok)) {
		record(ret, "refused", CONTROLLER_WHY_NO_NAMES);
	} else {
		/* Isolation without a valid pod name: no owner to walk, the namespace's rules decide. */
		ret->step = CONTROLLER_WALK_OWNERS;
		ret->walk_pod = pod_ok;
	}
}

void controller_policy(const struct reflex_config *config, const struct controller_subject *s,
		       struct policy_decision *ret)
{
	struct policy_subject ps = {
		.rule = s->rule,
		.is_container = true,
		.namespace_ = s->namespace_,
		.pod = s->pod,
		.owner_kind = s->owner_kind,
		.image = s->image,
		.exe_path = s->exe_path,
	};

	if (s->action == ACTION_ISOLATE_NAMESPACE && !s->pod)
		ps.owner_kind = "Namespace"; /* no pod to own: the namespace rules decide */
	policy_decide(config, &ps, ret);
	/* A refusal stays a refusal: only what would be done turns into a dry run. */
	if (s->force_dry_run && ret->verdict == POLICY_ACT)
		ret->verdict = POLICY_DRY_RUN;
}

void controller_decide(const struct controller_decide_input *in, struct controller_plan *ret)
{
	bool kill_pod = in->action == ACTION_KILL_POD;

	*ret = (struct controller_plan){ .step = CONTROLLER_RECORD, .dry_run = in->verdict == POLICY_DRY_RUN };
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

/* The agent retries a report until it is answered; falcosidekick never retries: record that it failed. */
void controller_unavailable(const struct node_report *n, struct controller_plan *ret)
{
	*ret = (struct controller_plan){ .step = CONTROLLER_RETRY };
	if (!n->present)
		record(ret, "failed", CONTROLLER_WHY_NONE);
}
