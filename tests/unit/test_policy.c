// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The node's safeguards: each refusal, its order, and when the kernel may kill. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "policy.h"

#define RULE "Drop and execute new binary in container"

static const char *const base_yaml =
	"allowed_namespaces: [shop, 'team-*', backup, dbs]\n"
	"denied_namespaces: [kube-system, 'team-secret*']\n"
	"protected_owners: [DaemonSet]\n"
	"rules:\n"
	"  - {name: " RULE ", action: kill_process, audit_reason: dropped}\n"
	"  - {name: Alerting, action: alert}\n"
	"  - {name: Careful, action: kill_pod, dryrun: true}\n"
	"exceptions:\n"
	"  - {rule: " RULE ", namespace: backup, exe_path: '/usr/bin/sqlite3*'}\n"
	"  - {rule: " RULE ", image: 'registry.example/tools:*'}\n";

static struct reflex_config *load(const char *extra_agent)
{
	char text[2048];
	struct reflex_config *c = NULL;
	char err[256];

	snprintf(text, sizeof(text), "%sagent:\n  unknown_owner: %s\n", base_yaml, extra_agent);
	if (config_parse("p.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

static struct policy_subject subject(void)
{
	return (struct policy_subject){ .rule = RULE, .is_container = true, .namespace_ = "shop",
					.pod = "web-1", .owner_kind = "ReplicaSet", .image = "busybox",
					.exe_path = "/tmp/x" };
}

static void expect(const struct reflex_config *c, const struct policy_subject *s, enum policy_verdict v,
		   const char *reason)
{
	struct policy_decision d;

	policy_decide(c, s, &d);
	if (d.verdict != v || !strstr(d.reason, reason))
		fail_msg("got %s '%s', want %s '%s'", policy_verdict_name(d.verdict), d.reason,
			 policy_verdict_name(v), reason);
}

static void test_act(void **state)
{
	struct reflex_config *c = load("refuse");
	struct policy_subject s = subject();
	struct policy_decision d;

	(void)state;
	policy_decide(c, &s, &d);
	assert_int_equal(d.verdict, POLICY_ACT);
	assert_int_equal(d.action, ACTION_KILL_PROCESS);
	assert_non_null(d.rule);
	s.namespace_ = "team-blue";
	expect(c, &s, POLICY_ACT, "kill_process");
	config_free(c);
}

static void test_never_kills(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s;

	(void)state;
	s = subject();
	s.is_agent = true;
	expect(c, &s, POLICY_REFUSED, "reflexd itself");
	s = subject();
	s.is_host_init = true;
	expect(c, &s, POLICY_REFUSED, "pid 1 of the host");
	s = subject();
	s.is_container = false;
	expect(c, &s, POLICY_REFUSED, "host process");
	s = subject();
	s.namespace_ = "kube-system";
	expect(c, &s, POLICY_REFUSED, "namespace 'kube-system' is denied");
	s.namespace_ = "team-secrets"; /* allowed by team-*, denied wins */
	expect(c, &s, POLICY_REFUSED, "is denied (denied_namespaces: team-secret*)");
	s.namespace_ = "other";
	expect(c, &s, POLICY_REFUSED, "not in allowed_namespaces");
	s.namespace_ = NULL;
	expect(c, &s, POLICY_REFUSED, "namespace unknown");
	s = subject();
	s.owner_kind = "DaemonSet";
	expect(c, &s, POLICY_REFUSED, "owner DaemonSet is protected");
	s.owner_kind = "Node"; /* static pods, listed or not */
	expect(c, &s, POLICY_REFUSED, "owner Node is protected");
	config_free(c);
}

static void test_unknown_owner(void **state)
{
	struct reflex_config *refuse = load("refuse"), *allow = load("allow");
	struct policy_subject s = subject();

	(void)state;
	s.owner_kind = NULL;
	expect(refuse, &s, POLICY_REFUSED, "unknown and agent.unknown_owner is refuse");
	expect(allow, &s, POLICY_ACT, "kill_process");
	config_free(refuse);
	config_free(allow);
}

static void test_exceptions_are_scoped(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s = subject();

	(void)state;
	s.namespace_ = "backup";
	s.exe_path = "/usr/bin/sqlite3";
	expect(c, &s, POLICY_EXCEPTED, "exception matched");
	s.exe_path = "/tmp/sqlite3"; /* same namespace, other path */
	expect(c, &s, POLICY_ACT, "kill_process");
	s.namespace_ = "shop";
	s.exe_path = "/usr/bin/sqlite3"; /* same path, other namespace */
	expect(c, &s, POLICY_ACT, "kill_process");
	s.image = "registry.example/tools:1.2";
	expect(c, &s, POLICY_EXCEPTED, "image exception");
	s.image = NULL; /* unknown value never matches an exception */
	expect(c, &s, POLICY_ACT, "kill_process");
	config_free(c);
}

static void test_alert_and_dry_run(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s = subject();

	(void)state;
	s.rule = "Alerting";
	expect(c, &s, POLICY_ALERT, "action alert");
	s.rule = "Unknown rule";
	expect(c, &s, POLICY_ALERT, "no rule 'Unknown rule'");
	s.rule = "Careful";
	expect(c, &s, POLICY_DRY_RUN, "dry-run (rule dryrun)");
	/* A refusal is decided under dry-run too, and says so. */
	s.namespace_ = "kube-system";
	expect(c, &s, POLICY_REFUSED, "denied");
	c->dryrun = true;
	s = subject();
	expect(c, &s, POLICY_DRY_RUN, "(global dryrun)");
	config_free(c);
}

static void test_kernel_may_kill(void **state)
{
	struct reflex_config *refuse = load("refuse"), *c = load("allow");

	(void)state;
	/* The image-only exception could apply in any namespace: user space decides. */
	assert_false(policy_kernel_may_kill(c, RULE, "shop", NULL));
	c->n_exceptions--;
	refuse->n_exceptions--;
	assert_true(policy_kernel_may_kill(c, RULE, "shop", NULL));
	assert_false(policy_kernel_may_kill(refuse, RULE, "shop", NULL));
	assert_true(policy_kernel_may_kill(refuse, RULE, "shop", "ReplicaSet"));
	assert_false(policy_kernel_may_kill(c, RULE, "shop", "DaemonSet"));
	assert_false(policy_kernel_may_kill(c, RULE, "kube-system", NULL));
	assert_false(policy_kernel_may_kill(c, RULE, "other", NULL));
	assert_false(policy_kernel_may_kill(c, RULE, NULL, NULL));
	/* An exception could apply: backup (namespace match) and every namespace (image-only). */
	assert_false(policy_kernel_may_kill(c, RULE, "backup", NULL));
	assert_false(policy_kernel_may_kill(c, "Alerting", "shop", NULL));
	assert_false(policy_kernel_may_kill(c, "Careful", "shop", NULL));
	assert_false(policy_kernel_may_kill(c, "Missing", "shop", NULL));
	c->n_exceptions++;
	refuse->n_exceptions++;
	config_free(refuse);
	config_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act),
		cmocka_unit_test(test_never_kills),
		cmocka_unit_test(test_unknown_owner),
		cmocka_unit_test(test_exceptions_are_scoped),
		cmocka_unit_test(test_alert_and_dry_run),
		cmocka_unit_test(test_kernel_may_kill),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
