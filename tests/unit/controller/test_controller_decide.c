// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller's decision: the node's outcome in a report, then policy, the pod and the rate limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"

struct node_row {
	const char *outcome, *action;
	bool dry_run;
	enum reflex_action rule;
	bool permits;
};

static const struct node_row node_rows[] = {
	{ "killed", "kill_pod", false, ACTION_KILL_POD, true },
	{ "denied", "kill_pod", false, ACTION_KILL_POD, true },
	{ "killed", NULL, false, ACTION_KILL_POD, true },
	{ "disarmed", "kill_pod", false, ACTION_KILL_POD, false },
	{ "dry_run", "kill_pod", false, ACTION_KILL_POD, false },
	{ "killed", "kill_pod", true, ACTION_KILL_POD, false },
	{ "refused", "kill_pod", false, ACTION_KILL_POD, false },
	{ "excepted", "kill_pod", false, ACTION_KILL_POD, false },
	{ "failed", "kill_pod", false, ACTION_KILL_POD, false },
	{ "exited", "kill_pod", false, ACTION_KILL_POD, false },
	{ "alert", "kill_pod", false, ACTION_KILL_POD, false },
	{ "whatever", "kill_pod", false, ACTION_KILL_POD, false },
	{ NULL, "kill_pod", false, ACTION_KILL_POD, false },
	{ "killed", "kill_process", false, ACTION_KILL_POD, false },
	{ "alert", "isolate_namespace", false, ACTION_ISOLATE_NAMESPACE, true },
	{ "alert", NULL, false, ACTION_ISOLATE_NAMESPACE, false },
	{ "alert", "alert", false, ACTION_ISOLATE_NAMESPACE, false },
	{ "killed", "isolate_namespace", false, ACTION_ISOLATE_NAMESPACE, true },
	{ "refused", "isolate_namespace", false, ACTION_ISOLATE_NAMESPACE, false },
	{ "dry_run", "isolate_namespace", false, ACTION_ISOLATE_NAMESPACE, false },
};

static void test_node_permits(void **state)
{
	for (size_t i = 0; i < sizeof(node_rows) / sizeof(node_rows[0]); i++) {
		const struct node_row *r = &node_rows[i];
		struct node_report n = { .present = true, .outcome = r->outcome, .action = r->action,
					 .dry_run = r->dry_run };
		const char *name = r->rule == ACTION_KILL_POD ? "kill_pod" : "isolate_namespace";

		if (controller_node_permits(&n, r->rule, name) != r->permits)
			fail_msg("row %zu: outcome %s action %s dry_run %d under %s", i, r->outcome ? r->outcome : "-",
				 r->action ? r->action : "-", r->dry_run, name);
	}
}

struct row {
	enum reflex_action action;
	enum policy_verdict verdict;
	bool gone, newer;
	enum controller_admit admit;
	enum controller_step step;
	const char *outcome;
	enum controller_why why;
};

static const struct row rows[] = {
	{ ACTION_KILL_POD, POLICY_ACT, false, false, 0, CONTROLLER_ASK_RATE_LIMIT, NULL, 0 },
	{ ACTION_KILL_POD, POLICY_ACT, false, false, CONTROLLER_ADMIT_YES, CONTROLLER_DELETE_POD, NULL, 0 },
	{ ACTION_ISOLATE_NAMESPACE, POLICY_ACT, false, false, CONTROLLER_ADMIT_YES, CONTROLLER_ISOLATE, NULL, 0 },
	{ ACTION_KILL_POD, POLICY_ACT, false, false, CONTROLLER_ADMIT_NO, CONTROLLER_RECORD, "disarmed", 0 },
	{ ACTION_KILL_POD, POLICY_ACT, true, false, 0, CONTROLLER_RECORD, "gone", CONTROLLER_WHY_GONE },
	{ ACTION_KILL_POD, POLICY_REFUSED, true, false, 0, CONTROLLER_RECORD, "gone", CONTROLLER_WHY_GONE },
	{ ACTION_KILL_POD, POLICY_ACT, false, true, 0, CONTROLLER_RECORD, "refused", CONTROLLER_WHY_NEWER_POD },
	{ ACTION_ISOLATE_NAMESPACE, POLICY_ACT, true, true, 0, CONTROLLER_ASK_RATE_LIMIT, NULL, 0 },
	{ ACTION_KILL_POD, POLICY_DRY_RUN, false, false, 0, CONTROLLER_RECORD, "dry_run", CONTROLLER_WHY_DRY_RUN },
	{ ACTION_ISOLATE_NAMESPACE, POLICY_DRY_RUN, false, false, 0, CONTROLLER_RECORD, "dry_run",
	  CONTROLLER_WHY_DRY_RUN },
	{ ACTION_KILL_POD, POLICY_EXCEPTED, false, false, 0, CONTROLLER_RECORD, "excepted", 0 },
	{ ACTION_KILL_POD, POLICY_REFUSED, false, false, 0, CONTROLLER_RECORD, "refused", 0 },
	{ ACTION_KILL_POD, POLICY_ALERT, false, false, 0, CONTROLLER_RECORD, "refused", 0 },
};

static void test_controller_decide(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct controller_decide_input in = { .action = r->action, .verdict = r->verdict, .pod_gone = r->gone,
						      .pod_uid_differs = r->newer, .admit = r->admit };
		struct controller_plan p;

		controller_decide(&in, &p);
		if (p.step != r->step || p.why != r->why ||
		    (r->outcome ? !p.outcome || strcmp(p.outcome, r->outcome) : p.outcome != NULL))
			fail_msg("row %zu: step %d outcome %s why %d", i, p.step, p.outcome ? p.outcome : "-", p.why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_permits),
		cmocka_unit_test(test_controller_decide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
