// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * reflex-controller's decisions, each stage's table, then one table of whole
 * alerts through every stage (what happens to this pod, and why).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
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
	{ ACTION_ISOLATE_NAMESPACE, POLICY_ACT, false, false, 0, CONTROLLER_ASK_RATE_LIMIT, NULL, 0 },
	{ ACTION_ISOLATE_NAMESPACE, POLICY_ACT, false, false, CONTROLLER_ADMIT_NO, CONTROLLER_RECORD, "disarmed", 0 },
	{ ACTION_KILL_POD, POLICY_DRY_RUN, true, false, 0, CONTROLLER_RECORD, "gone", CONTROLLER_WHY_GONE },
	{ ACTION_KILL_POD, POLICY_DRY_RUN, false, true, 0, CONTROLLER_RECORD, "refused", CONTROLLER_WHY_NEWER_POD },
};

static void test_controller_decide(void **state)
{
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *r = &rows[i];
		struct controller_decide_input in = { .action = r->action, .verdict = r->verdict, .pod_gone = r->gone,
						      .pod_uid_differs = r->newer, .admit = r->admit };
		struct controller_plan p;

		controller_decide(&in, &p);
		/* The record says dry run whenever policy did, whatever the pod's state. */
		if (p.step != r->step || p.why != r->why || p.dry_run != (r->verdict == POLICY_DRY_RUN) ||
		    (r->outcome ? !p.outcome || strcmp(p.outcome, r->outcome) : p.outcome != NULL))
			fail_msg("row %zu: step %d outcome %s why %d dry_run %d", i, p.step, p.outcome ? p.outcome : "-",
				 p.why, p.dry_run);
	}
}

static const struct {
	const char *name;
	size_t max;
	bool ok;
} name_rows[] = {
	{ "shop", 63, true },
	{ "web-1.a", 253, true },
	{ "0abc", 63, true },
	{ NULL, 63, false },
	{ "", 63, false },
	{ "-shop", 63, false },
	{ ".shop", 63, false },
	{ "a..b", 253, false },
	{ "Shop", 63, false },
	{ "web_1", 253, false },
	{ "a/b", 253, false },
	{ "a b", 253, false },
	{ "\xc3\xa9t\xc3\xa9", 63, false },
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 63, true },   /* 63 */
	{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 63, false }, /* 64 */
};

static void test_name_ok(void **state)
{
	for (size_t i = 0; i < sizeof(name_rows) / sizeof(name_rows[0]); i++)
		if (controller_name_ok(name_rows[i].name, name_rows[i].max) != name_rows[i].ok)
			fail_msg("row %zu: '%s' (max %zu) should be %s", i,
				 name_rows[i].name ? name_rows[i].name : "(null)", name_rows[i].max,
				 name_rows[i].ok ? "valid" : "refused");
}

struct role_row {
	enum reflex_action rule;
	bool report;
	const char *outcome, *action;
	bool dry_run;
	enum controller_role role;
};

static const struct role_row role_rows[] = {
	/* Node-only rules: Falco's own alert is ignored, the agent's report is recorded. */
	{ ACTION_ALERT, false, NULL, NULL, false, CONTROLLER_IGNORE },
	{ ACTION_KILL_PROCESS, false, NULL, NULL, false, CONTROLLER_IGNORE },
	{ ACTION_KILL_CONTAINER, false, NULL, NULL, false, CONTROLLER_IGNORE },
	{ ACTION_ALERT, true, "alert", "alert", false, CONTROLLER_RECORD_NODE },
	{ ACTION_KILL_PROCESS, true, "killed", "kill_process", false, CONTROLLER_RECORD_NODE },
	{ ACTION_KILL_CONTAINER, true, "refused", "kill_container", false, CONTROLLER_RECORD_NODE },
	/* The controller's rules: Falco's alert (falcosidekick) is acted on, a report when the node acted. */
	{ ACTION_KILL_POD, false, NULL, NULL, false, CONTROLLER_ACTS },
	{ ACTION_KILL_POD, true, "killed", "kill_pod", false, CONTROLLER_ACTS },
	{ ACTION_KILL_POD, true, "dry_run", "kill_pod", true, CONTROLLER_DECLINED },
	{ ACTION_KILL_POD, true, "disarmed", "kill_pod", false, CONTROLLER_DECLINED },
	{ ACTION_KILL_POD, true, NULL, NULL, false, CONTROLLER_DECLINED },
	{ ACTION_ISOLATE_NAMESPACE, false, NULL, NULL, false, CONTROLLER_ACTS },
	{ ACTION_ISOLATE_NAMESPACE, true, "alert", "isolate_namespace", false, CONTROLLER_ACTS },
	{ ACTION_ISOLATE_NAMESPACE, true, "alert", "alert", false, CONTROLLER_DECLINED },
};

static void test_role(void **state)
{
	for (size_t i = 0; i < sizeof(role_rows) / sizeof(role_rows[0]); i++) {
		const struct role_row *r = &role_rows[i];
		struct node_report n = { .present = r->report, .outcome = r->outcome, .action = r->action,
					 .dry_run = r->dry_run };
		enum controller_role got = controller_role(r->rule, &n);

		if (got != r->role)
			fail_msg("row %zu: rule %s report %d outcome %s: role %d, want %d", i, action_name(r->rule),
				 r->report, r->outcome ? r->outcome : "-", got, r->role);
	}
}

struct permit_row {
	enum controller_role role;
	enum reflex_action action;
	bool claimed;
	const char *ns, *pod;
	const char *node_outcome;
	bool node_dry_run;
	enum controller_step step;
	const char *outcome;
	enum controller_why why;
	bool dry_run, walk_pod;
};

static const struct permit_row permit_rows[] = {
	{ CONTROLLER_ACTS, ACTION_KILL_POD, true, "shop", "web-1", NULL, false, CONTROLLER_WALK_OWNERS, NULL, 0, false,
	  true },
	{ CONTROLLER_ACTS, ACTION_ISOLATE_NAMESPACE, true, "shop", "web-1", NULL, false, CONTROLLER_WALK_OWNERS, NULL, 0,
	  false, true },
	/* Isolation needs no pod: nothing to walk, the namespace decides. */
	{ CONTROLLER_ACTS, ACTION_ISOLATE_NAMESPACE, true, "shop", NULL, NULL, false, CONTROLLER_WALK_OWNERS, NULL, 0,
	  false, false },
	{ CONTROLLER_ACTS, ACTION_ISOLATE_NAMESPACE, true, "shop", "Web_1", NULL, false, CONTROLLER_WALK_OWNERS, NULL, 0,
	  false, false },
	{ CONTROLLER_ACTS, ACTION_KILL_POD, false, "shop", "web-1", NULL, false, CONTROLLER_RECORD, "duplicate",
	  CONTROLLER_WHY_DUPLICATE, false, false },
	{ CONTROLLER_ACTS, ACTION_KILL_POD, true, NULL, "web-1", NULL, false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NO_NAMES, false, false },
	{ CONTROLLER_ACTS, ACTION_KILL_POD, true, "shop", NULL, NULL, false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NO_NAMES, false, false },
	{ CONTROLLER_ACTS, ACTION_KILL_POD, true, "shop", "../x", NULL, false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NO_NAMES, false, false },
	{ CONTROLLER_ACTS, ACTION_ISOLATE_NAMESPACE, true, "Shop", NULL, NULL, false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NO_NAMES, false, false },
	/* The node declined: refused, a dry run when the node's was. */
	{ CONTROLLER_DECLINED, ACTION_KILL_POD, false, "shop", "web-1", "refused", false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NODE_DECLINED, false, false },
	{ CONTROLLER_DECLINED, ACTION_KILL_POD, false, "shop", "web-1", "dry_run", false, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NODE_DECLINED, true, false },
	{ CONTROLLER_DECLINED, ACTION_KILL_POD, false, "shop", "web-1", "killed", true, CONTROLLER_RECORD, "refused",
	  CONTROLLER_WHY_NODE_DECLINED, true, false },
	/* A node-only rule's report: what the node did. */
	{ CONTROLLER_RECORD_NODE, ACTION_KILL_PROCESS, false, "shop", "web-1", "killed", false, CONTROLLER_RECORD,
	  "killed", 0, false, false },
	{ CONTROLLER_RECORD_NODE, ACTION_KILL_PROCESS, false, "shop", "web-1", "dry_run", true, CONTROLLER_RECORD,
	  "dry_run", 0, true, false },
	{ CONTROLLER_RECORD_NODE, ACTION_ALERT, false, NULL, NULL, NULL, false, CONTROLLER_RECORD, "reported", 0, false,
	  false },
};

static void test_permit(void **state)
{
	for (size_t i = 0; i < sizeof(permit_rows) / sizeof(permit_rows[0]); i++) {
		const struct permit_row *r = &permit_rows[i];
		struct node_report n = { .present = r->role != CONTROLLER_ACTS || r->node_outcome,
					 .outcome = r->node_outcome, .dry_run = r->node_dry_run };
		struct controller_permit_input in = { .role = r->role, .node = &n, .action = r->action,
						      .incident_claimed = r->claimed, .namespace_ = r->ns,
						      .pod = r->pod };
		struct controller_plan p;

		controller_permit(&in, &p);
		if (p.step != r->step || p.why != r->why || p.dry_run != r->dry_run || p.walk_pod != r->walk_pod ||
		    (r->outcome ? !p.outcome || strcmp(p.outcome, r->outcome) : p.outcome != NULL))
			fail_msg("row %zu: step %d outcome %s why %d dry_run %d walk_pod %d", i, p.step,
				 p.outcome ? p.outcome : "-", p.why, p.dry_run, p.walk_pod);
	}
}

static void test_unavailable(void **state)
{
	struct node_report report = { .present = true, .outcome = "killed" }, falco = { .present = false };
	struct controller_plan p;

	/* The agent delivers its report again: answer 503, record nothing. */
	controller_unavailable(&report, &p);
	assert_int_equal(p.step, CONTROLLER_RETRY);
	assert_null(p.outcome);
	/* falcosidekick never retries: the record says the action failed. */
	controller_unavailable(&falco, &p);
	assert_int_equal(p.step, CONTROLLER_RECORD);
	assert_string_equal(p.outcome, "failed");
	assert_false(p.dry_run);
}

/* ---- whole alerts ------------------------------------------------------- */

static const char base_yaml[] = "allowed_namespaces: [shop, 'team-*', kube-system]\n"
				"denied_namespaces: [kube-system]\n"
				"protected_owners: [DaemonSet]\n"
				"rules:\n"
				"  - {name: Delete, action: kill_pod}\n"
				"  - {name: Careful, action: kill_pod, dryrun: true}\n"
				"  - {name: Bold, action: kill_pod, dryrun: false}\n"
				"  - {name: Isolate, action: isolate_namespace}\n"
				"  - {name: Kill, action: kill_process}\n"
				"  - {name: Alerting, action: alert}\n"
				"exceptions:\n"
				"  - {rule: Delete, namespace: shop, image: 'registry.example/tools:*'}\n";

enum { CFG_BASE, CFG_GLOBAL_DRY_RUN, CFG_UNKNOWN_OWNER_ALLOW, CFG_MAX };

static struct reflex_config *configs[CFG_MAX];

static int load_configs(void **state)
{
	static const char *const extra[CFG_MAX] = { "", "dryrun: true\n", "agent:\n  unknown_owner: allow\n" };
	char text[2048], err[256] = "";

	for (int i = 0; i < CFG_MAX; i++) {
		snprintf(text, sizeof(text), "%s%s", base_yaml, extra[i]);
		if (config_parse("t.yaml", text, strlen(text), &configs[i], err, sizeof(err)))
			fail_msg("config %d: %s", i, err);
	}
	return 0;
}

static int free_configs(void **state)
{
	for (int i = 0; i < CFG_MAX; i++)
		configs[i] = config_free(configs[i]);
	return 0;
}

/* One alert or report; what the API would say is given (owner, gone, newer pod, rate limit). */
struct alert_row {
	const char *what;
	int config;
	const char *rule;
	const char *node_outcome, *node_action; /* NULL outcome and action: Falco's alert, no report */
	bool node_dry_run;
	bool dup;                               /* another alert claimed the incident */
	const char *ns, *pod, *image, *owner;   /* owner: the walk's top kind, NULL unknown */
	bool gone, newer, force_dry_run, disarmed;
	const char *want; /* "ignored", "delete", "isolate", or the recorded outcome */
	bool want_dry_run;
};

#define RS "ReplicaSet"

static const struct alert_row alert_rows[] = {
	{ "node-only rule, Falco's alert", 0, "Kill", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false,
	  false, false, "ignored", false },
	{ "rule not configured", 0, "Nobody", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false, false,
	  false, "ignored", false },
	{ "node-only rule, the node killed", 0, "Kill", "killed", "kill_process", false, false, "shop", "web-1", NULL,
	  RS, false, false, false, false, "killed", false },
	{ "alert rule, the node's report", 0, "Alerting", "alert", "alert", false, false, "shop", "web-1", NULL, RS,
	  false, false, false, false, "alert", false },
	{ "node-only rule, node's dry run", 0, "Kill", "dry_run", "kill_process", true, false, "shop", "web-1", NULL,
	  RS, false, false, false, false, "dry_run", true },
	{ "kill_pod, Falco's alert", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false,
	  false, false, "delete", false },
	{ "kill_pod, glob-allowed namespace", 0, "Delete", NULL, NULL, false, false, "team-a", "web-1", NULL, RS, false,
	  false, false, false, "delete", false },
	{ "kill_pod, the node killed", 0, "Delete", "killed", "kill_pod", false, false, "shop", "web-1", NULL, RS, false,
	  false, false, false, "delete", false },
	{ "kill_pod, the kernel denied", 0, "Delete", "denied", "kill_pod", false, false, "shop", "web-1", NULL, RS,
	  false, false, false, false, "delete", false },
	{ "kill_pod, node ran another action", 0, "Delete", "killed", "kill_process", false, false, "shop", "web-1",
	  NULL, RS, false, false, false, false, "refused", false },
	{ "kill_pod, node's dry run", 0, "Delete", "dry_run", "kill_pod", false, false, "shop", "web-1", NULL, RS, false,
	  false, false, false, "refused", true },
	{ "kill_pod, node refused", 0, "Delete", "refused", "kill_pod", false, false, "shop", "web-1", NULL, RS, false,
	  false, false, false, "refused", false },
	{ "kill_pod, node disarmed", 0, "Delete", "disarmed", "kill_pod", false, false, "shop", "web-1", NULL, RS, false,
	  false, false, false, "refused", false },
	{ "isolate, node's safeguards said act", 0, "Isolate", "alert", "isolate_namespace", false, false, "shop",
	  "web-1", NULL, RS, false, false, false, false, "isolate", false },
	{ "isolate, no pod: the namespace decides", 0, "Isolate", NULL, NULL, false, false, "shop", NULL, NULL, NULL,
	  false, false, false, false, "isolate", false },
	{ "isolate, node ran it as alert", 0, "Isolate", "alert", "alert", false, false, "shop", "web-1", NULL, RS,
	  false, false, false, false, "refused", false },
	{ "isolate, invalid pod name: owner unknown", 0, "Isolate", NULL, NULL, false, false, "shop", "Web_1", NULL, RS,
	  false, false, false, false, "refused", false },
	{ "incident already decided", 0, "Delete", NULL, NULL, false, true, "shop", "web-1", NULL, RS, false, false,
	  false, false, "duplicate", false },
	{ "no namespace", 0, "Delete", NULL, NULL, false, false, NULL, "web-1", NULL, RS, false, false, false, false,
	  "refused", false },
	{ "invalid pod name", 0, "Delete", NULL, NULL, false, false, "shop", "web/1", NULL, RS, false, false, false,
	  false, "refused", false },
	{ "denied namespace", 0, "Delete", NULL, NULL, false, false, "kube-system", "web-1", NULL, RS, false, false,
	  false, false, "refused", false },
	{ "namespace not allowed", 0, "Delete", NULL, NULL, false, false, "other", "web-1", NULL, RS, false, false,
	  false, false, "refused", false },
	{ "isolate, denied namespace", 0, "Isolate", NULL, NULL, false, false, "kube-system", NULL, NULL, NULL, false,
	  false, false, false, "refused", false },
	{ "protected owner", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, "DaemonSet", false, false,
	  false, false, "refused", false },
	{ "mirror pod", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, "Node", false, false, false, false,
	  "refused", false },
	{ "unknown owner, refuse", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, NULL, false, false,
	  false, false, "refused", false },
	{ "unknown owner, allow", CFG_UNKNOWN_OWNER_ALLOW, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL,
	  NULL, false, false, false, false, "delete", false },
	{ "exception", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", "registry.example/tools:1", RS, false,
	  false, false, false, "excepted", false },
	{ "dry run per rule", 0, "Careful", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false, false,
	  false, "dry_run", true },
	{ "dry run global", CFG_GLOBAL_DRY_RUN, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false,
	  false, false, false, "dry_run", true },
	{ "dry run global, rule says no", CFG_GLOBAL_DRY_RUN, "Bold", NULL, NULL, false, false, "shop", "web-1", NULL,
	  RS, false, false, false, false, "delete", false },
	{ "isolate, dry run global", CFG_GLOBAL_DRY_RUN, "Isolate", NULL, NULL, false, false, "shop", NULL, NULL, NULL,
	  false, false, false, false, "dry_run", true },
	{ "--dry-run", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false, true, false,
	  "dry_run", true },
	{ "--dry-run, denied namespace", 0, "Delete", NULL, NULL, false, false, "kube-system", "web-1", NULL, RS, false,
	  false, true, false, "refused", false },
	{ "--dry-run, exception", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", "registry.example/tools:1",
	  RS, false, false, true, false, "excepted", false },
	{ "pod gone", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, RS, true, false, false, false,
	  "gone", false },
	{ "a newer pod has the name", 0, "Delete", "killed", "kill_pod", false, false, "shop", "web-1", NULL, RS, false,
	  true, false, false, "refused", false },
	{ "rate limit disarmed", 0, "Delete", NULL, NULL, false, false, "shop", "web-1", NULL, RS, false, false, false,
	  true, "disarmed", false },
	{ "isolate, rate limit disarmed", 0, "Isolate", NULL, NULL, false, false, "shop", NULL, NULL, NULL, false, false,
	  false, true, "disarmed", false },
};

/* Every stage as pipeline.c runs them, the API's and the rate limit's answers from the row. */
static const char *run_alert(const struct alert_row *r, bool *dry_run)
{
	const struct reflex_config *cfg = configs[r->config];
	const struct reflex_rule *rule = config_find_rule(cfg, r->rule);
	enum reflex_action action = rule ? rule->action : ACTION_ALERT;
	struct node_report n = { .present = r->node_outcome, .outcome = r->node_outcome,
				 .action = r->node_action, .dry_run = r->node_dry_run };
	enum controller_role role = controller_role(action, &n);
	struct controller_decide_input din = { .action = action };
	struct controller_plan p;
	struct policy_decision d;

	if (role == CONTROLLER_IGNORE)
		return "ignored";
	controller_permit(&(struct controller_permit_input){ .role = role, .node = &n, .action = action,
							     .incident_claimed = !r->dup, .namespace_ = r->ns,
							     .pod = r->pod },
			  &p);
	if (p.step == CONTROLLER_WALK_OWNERS) {
		controller_policy(cfg,
				  &(struct controller_subject){ .action = action, .rule = r->rule,
								.namespace_ = r->ns, .pod = r->pod,
								.image = r->image ? r->image : "busybox",
								.exe_path = "/tmp/x",
								.owner_kind = p.walk_pod ? r->owner : NULL,
								.force_dry_run = r->force_dry_run },
				  &d);
		din.verdict = d.verdict;
		din.pod_gone = p.walk_pod && r->gone;
		din.pod_uid_differs = p.walk_pod && r->newer;
		controller_decide(&din, &p);
		if (p.step == CONTROLLER_ASK_RATE_LIMIT) {
			din.admit = r->disarmed ? CONTROLLER_ADMIT_NO : CONTROLLER_ADMIT_YES;
			controller_decide(&din, &p);
		}
	}
	*dry_run = p.dry_run;
	if (p.step == CONTROLLER_DELETE_POD)
		return "delete";
	if (p.step == CONTROLLER_ISOLATE)
		return "isolate";
	assert_int_equal(p.step, CONTROLLER_RECORD);
	return p.outcome;
}

static void test_alerts(void **state)
{
	for (size_t i = 0; i < sizeof(alert_rows) / sizeof(alert_rows[0]); i++) {
		const struct alert_row *r = &alert_rows[i];
		bool dry_run = false;
		const char *got = run_alert(r, &dry_run);

		if (!got || strcmp(got, r->want) || dry_run != r->want_dry_run)
			fail_msg("row %zu (%s): %s%s, want %s%s", i, r->what, got ? got : "(null)",
				 dry_run ? " (dry run)" : "", r->want, r->want_dry_run ? " (dry run)" : "");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_ok),
		cmocka_unit_test(test_role),
		cmocka_unit_test(test_node_permits),
		cmocka_unit_test(test_permit),
		cmocka_unit_test(test_controller_decide),
		cmocka_unit_test(test_unavailable),
		cmocka_unit_test_setup_teardown(test_alerts, load_configs, free_configs),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
