// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The node's safeguards: each verdict and its reason, their order, and when the kernel may kill. */
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
	"allowed_namespaces: [shop, 'team-*', backup, dbs, 'ns-[ab]?']\n"
	"denied_namespaces: [kube-system, 'team-secret*']\n"
	"protected_owners: [DaemonSet]\n"
	"rules:\n"
	"  - {name: " RULE ", action: kill_process, audit_reason: dropped}\n"
	"  - {name: Alerting, action: alert}\n"
	"  - {name: Careful, action: kill_pod, dryrun: true}\n"
	"  - {name: Bold, action: kill_container, dryrun: false}\n"
	"  - {name: Isolate, action: isolate_namespace}\n"
	"exceptions:\n"
	"  - {rule: " RULE ", namespace: backup, exe_path: '/usr/bin/sqlite3*'}\n"
	"  - {rule: " RULE ", image: 'registry.example/tools:*'}\n"
	"  - {rule: Bold, namespace: dbs, exe_path: '/opt/*/bin/tool'}\n"
	"  - {rule: Careful, exe_path: /bin/sh}\n";

static struct reflex_config *load_text(const char *text)
{
	struct reflex_config *c = NULL;
	char err[256] = "";

	if (config_parse("p.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("%s", err);
	return c;
}

/* The base policy with agent.unknown_owner set to UNKNOWN_OWNER ("refuse" or "allow"). */
static struct reflex_config *load(const char *unknown_owner)
{
	char text[2048];

	snprintf(text, sizeof(text), "%sagent:\n  unknown_owner: %s\n", base_yaml, unknown_owner);
	return load_text(text);
}

/* A subject every safeguard lets through: the kill happens. */
static struct policy_subject subject(void)
{
	return (struct policy_subject){
		.rule = RULE,
		.is_container = true,
		.namespace_ = "shop",
		.pod = "web-1",
		.owner_kind = "ReplicaSet",
		.image = "busybox",
		.exe_path = "/tmp/x",
	};
}

static struct policy_decision decide(const struct reflex_config *c, const struct policy_subject *s)
{
	struct policy_decision d;

	memset(&d, 0xa5, sizeof(d)); /* everything must be written */
	policy_decide(c, s, &d);
	assert_non_null(memchr(d.reason, '\0', sizeof(d.reason)));
	return d;
}

/* The verdict and the exact reason. */
static void expect(const struct reflex_config *c, const struct policy_subject *s, enum policy_verdict v,
		   const char *reason)
{
	struct policy_decision d = decide(c, s);

	if (d.verdict != v || strcmp(d.reason, reason))
		fail_msg("got %s \"%s\", want %s \"%s\"", policy_verdict_name(d.verdict), d.reason,
			 policy_verdict_name(v), reason);
}

static void test_act(void **state)
{
	struct reflex_config *c = load("refuse");
	struct policy_subject s = subject();
	struct policy_decision d;

	(void)state;
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_ACT);
	assert_int_equal(d.action, ACTION_KILL_PROCESS);
	assert_ptr_equal(d.rule, config_find_rule(c, RULE));
	assert_string_equal(d.reason, "rule '" RULE "' action kill_process");
	s.rule = "Bold";
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_ACT);
	assert_int_equal(d.action, ACTION_KILL_CONTAINER);
	/* The node does not isolate; it acts by reporting, the controller isolates. */
	s.rule = "Isolate";
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_ACT);
	assert_int_equal(d.action, ACTION_ISOLATE_NAMESPACE);
	assert_non_null(strstr(d.reason, "the controller isolates"));
	config_free(c);
}

static void test_never_kills(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s;

	(void)state;
	s = subject();
	s.is_agent = true;
	expect(c, &s, POLICY_REFUSED, "the process is reflexd itself");
	s = subject();
	s.is_host_init = true;
	expect(c, &s, POLICY_REFUSED, "pid 1 of the host");
	s = subject();
	s.is_container = false;
	expect(c, &s, POLICY_REFUSED, "host process: its cgroup names no container");
	s = subject();
	s.namespace_ = "kube-system";
	expect(c, &s, POLICY_REFUSED, "namespace 'kube-system' is denied (denied_namespaces)");
	s.namespace_ = "team-secrets"; /* allowed by team-*, denied wins */
	expect(c, &s, POLICY_REFUSED, "namespace 'team-secrets' is denied (denied_namespaces: 'team-secret*')");
	s.namespace_ = "other";
	expect(c, &s, POLICY_REFUSED, "namespace 'other' is not allowed (allowed_namespaces)");
	s.namespace_ = NULL;
	expect(c, &s, POLICY_REFUSED, "namespace unknown: no pod metadata for the container");
	s.namespace_ = "";
	expect(c, &s, POLICY_REFUSED, "namespace unknown: no pod metadata for the container");
	s = subject();
	s.owner_kind = "DaemonSet";
	expect(c, &s, POLICY_REFUSED, "owner DaemonSet is protected (protected_owners)");
	s.owner_kind = "Node"; /* static and mirror pods, listed or not */
	expect(c, &s, POLICY_REFUSED, "owner Node is protected (static or mirror pod: always)");
	s.owner_kind = "daemonset"; /* kinds compare as Kubernetes writes them */
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	config_free(c);

	/* Empty lists: no namespace is allowed, Node still protected. */
	c = load_text("rules: [{name: R, action: kill_process}]\nagent: {unknown_owner: allow}\n");
	s = subject();
	s.rule = "R";
	expect(c, &s, POLICY_REFUSED, "namespace 'shop' is not allowed (allowed_namespaces is empty)");
	config_free(c);
	c = load_text("allowed_namespaces: ['*']\nrules: [{name: R, action: kill_process}]\n"
		      "agent: {unknown_owner: allow}\n");
	s.owner_kind = "Node";
	expect(c, &s, POLICY_REFUSED, "owner Node is protected (static or mirror pod: always)");
	s.owner_kind = "DaemonSet"; /* not listed here */
	expect(c, &s, POLICY_ACT, "rule 'R' action kill_process");
	config_free(c);
}

static void test_unknown_owner(void **state)
{
	struct reflex_config *refuse = load("refuse"), *allow = load("allow");
	struct policy_subject s = subject();

	(void)state;
	s.owner_kind = NULL;
	expect(refuse, &s, POLICY_REFUSED, "owner of pod 'web-1' unknown and agent.unknown_owner is refuse");
	s.owner_kind = "";
	expect(refuse, &s, POLICY_REFUSED, "owner of pod 'web-1' unknown and agent.unknown_owner is refuse");
	s.pod = NULL;
	expect(refuse, &s, POLICY_REFUSED, "owner unknown (pod unknown) and agent.unknown_owner is refuse");
	expect(allow, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	/* A protected owner is refused whatever unknown_owner says. */
	s.owner_kind = "DaemonSet";
	expect(allow, &s, POLICY_REFUSED, "owner DaemonSet is protected (protected_owners)");
	config_free(refuse);
	config_free(allow);
}

static void test_exceptions_are_scoped(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s = subject();
	struct policy_decision d;

	(void)state;
	s.namespace_ = "backup";
	s.exe_path = "/usr/bin/sqlite3";
	expect(c, &s, POLICY_EXCEPTED,
	       "exception matched: rule '" RULE "' namespace 'backup' exe_path '/usr/bin/sqlite3*'");
	d = decide(c, &s);
	assert_int_equal(d.action, ACTION_KILL_PROCESS); /* what it would have done */
	s.exe_path = "/usr/bin/sqlite3.40";
	expect(c, &s, POLICY_EXCEPTED,
	       "exception matched: rule '" RULE "' namespace 'backup' exe_path '/usr/bin/sqlite3*'");
	s.exe_path = "/tmp/sqlite3"; /* same namespace, other path */
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.exe_path = "/usr/bin/sqlite3/../../../tmp/x"; /* '*' does not cross '/' */
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.exe_path = NULL; /* unknown: the exception cannot be shown to apply */
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.namespace_ = "shop";
	s.exe_path = "/usr/bin/sqlite3"; /* same path, other namespace */
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.namespace_ = "Backup"; /* exact, case-sensitive */
	s.owner_kind = "ReplicaSet";
	expect(c, &s, POLICY_REFUSED, "namespace 'Backup' is not allowed (allowed_namespaces)");

	s = subject();
	s.image = "registry.example/tools:1.2";
	expect(c, &s, POLICY_EXCEPTED, "exception matched: rule '" RULE "' image 'registry.example/tools:*'");
	s.image = "registry.example/tools";
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.image = "registry.example/toolsx:1";
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.image = NULL;
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	s.image = "";
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");

	/* An exception belongs to its rule only. */
	s = subject();
	s.rule = "Bold";
	s.image = "registry.example/tools:1.2";
	expect(c, &s, POLICY_ACT, "rule 'Bold' action kill_container");
	s.namespace_ = "dbs";
	s.exe_path = "/opt/app/bin/tool";
	expect(c, &s, POLICY_EXCEPTED, "exception matched: rule 'Bold' namespace 'dbs' exe_path '/opt/*/bin/tool'");
	s.exe_path = "/opt/a/b/bin/tool";
	expect(c, &s, POLICY_ACT, "rule 'Bold' action kill_container");
	config_free(c);
}

static void test_alert_and_dry_run(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s = subject();
	struct policy_decision d;

	(void)state;
	s.rule = "Alerting";
	expect(c, &s, POLICY_ALERT, "rule 'Alerting' action alert");
	s.rule = "Unknown rule";
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_ALERT);
	assert_int_equal(d.action, ACTION_ALERT);
	assert_null(d.rule);
	assert_string_equal(d.reason, "no rule 'Unknown rule' configured in rules: alert only");
	s.rule = NULL;
	expect(c, &s, POLICY_ALERT, "no rule '(none)' configured in rules: alert only");
	s.rule = "Careful";
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_DRY_RUN);
	assert_int_equal(d.action, ACTION_KILL_POD);
	assert_string_equal(d.reason, "rule 'Careful' action kill_pod, dry-run (rule dryrun)");

	c->dryrun = true;
	s = subject();
	expect(c, &s, POLICY_DRY_RUN, "rule '" RULE "' action kill_process, dry-run (global dryrun)");
	s.rule = "Bold"; /* the rule's dryrun: false beats the global one */
	expect(c, &s, POLICY_ACT, "rule 'Bold' action kill_container");
	s.rule = "Alerting"; /* alert beats dry-run: nothing would be done anyway */
	expect(c, &s, POLICY_ALERT, "rule 'Alerting' action alert");
	config_free(c);
}

/* The order policy.h gives, one pair of neighbours at a time. */
static void test_order(void **state)
{
	struct reflex_config *c = load("refuse");
	struct policy_subject s;

	(void)state;
	/* self / host / pid 1 beat an exception that would match. */
	s = subject();
	s.image = "registry.example/tools:9";
	s.is_agent = true;
	expect(c, &s, POLICY_REFUSED, "the process is reflexd itself");
	s.is_agent = false;
	s.is_container = false;
	expect(c, &s, POLICY_REFUSED, "host process: its cgroup names no container");
	/* An exception beats a denied namespace: the report says excepted, not refused. */
	s = subject();
	s.namespace_ = "kube-system";
	s.image = "registry.example/tools:9";
	expect(c, &s, POLICY_EXCEPTED, "exception matched: rule '" RULE "' image 'registry.example/tools:*'");
	/* Denied beats not allowed (team-secret* is allowed by team-* too) and a protected owner. */
	s = subject();
	s.namespace_ = "team-secret-x";
	s.owner_kind = "DaemonSet";
	expect(c, &s, POLICY_REFUSED, "namespace 'team-secret-x' is denied (denied_namespaces: 'team-secret*')");
	/* Not allowed beats a protected owner. */
	s.namespace_ = "elsewhere";
	expect(c, &s, POLICY_REFUSED, "namespace 'elsewhere' is not allowed (allowed_namespaces)");
	/* Unknown owner beats the alert action and dry-run. */
	s = subject();
	s.owner_kind = NULL;
	s.rule = "Alerting";
	expect(c, &s, POLICY_REFUSED, "owner of pod 'web-1' unknown and agent.unknown_owner is refuse");
	/* A refusal is decided under dry-run too, and says dry-run was on. */
	s.rule = "Careful";
	expect(c, &s, POLICY_REFUSED,
	       "owner of pod 'web-1' unknown and agent.unknown_owner is refuse; dry-run too (rule dryrun)");
	s.owner_kind = "ReplicaSet";
	s.namespace_ = "kube-system";
	expect(c, &s, POLICY_REFUSED, "namespace 'kube-system' is denied (denied_namespaces); dry-run too (rule dryrun)");
	c->dryrun = true;
	s.rule = RULE;
	expect(c, &s, POLICY_REFUSED,
	       "namespace 'kube-system' is denied (denied_namespaces); dry-run too (global dryrun)");
	config_free(c);
}

static void test_namespace_globs(void **state)
{
	struct reflex_config *c = load("allow");
	struct policy_subject s = subject();
	static const struct {
		const char *ns;
		enum policy_verdict v;
	} cases[] = {
		{ "team-", POLICY_ACT },         { "team-blue", POLICY_ACT },     { "team", POLICY_REFUSED },
		{ "xteam-blue", POLICY_REFUSED }, { "ns-a1", POLICY_ACT },         { "ns-b1", POLICY_ACT },
		{ "ns-c1", POLICY_REFUSED },      { "ns-a", POLICY_REFUSED },      { "ns-a12", POLICY_REFUSED },
		{ "team-secret", POLICY_REFUSED }, { "team-secre", POLICY_ACT },   { "shop2", POLICY_REFUSED },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct policy_decision d;

		s.namespace_ = cases[i].ns;
		d = decide(c, &s);
		if (d.verdict != cases[i].v)
			fail_msg("namespace '%s': %s (%s)", cases[i].ns, policy_verdict_name(d.verdict), d.reason);
	}
	config_free(c);
}

static void test_hostile_subject(void **state)
{
	struct reflex_config *c = load("refuse");
	struct policy_subject s = subject();
	char long_ns[1024], long_pod[1024];
	struct policy_decision d;

	(void)state;
	memset(long_ns, 'a', sizeof(long_ns) - 1);
	long_ns[sizeof(long_ns) - 1] = '\0';
	memset(long_pod, 'p', sizeof(long_pod) - 1);
	long_pod[sizeof(long_pod) - 1] = '\0';
	s.namespace_ = long_ns;
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_REFUSED);
	assert_int_equal(strlen(d.reason), sizeof(d.reason) - 1); /* cut, terminated */
	s = subject();
	s.pod = long_pod;
	s.owner_kind = NULL;
	d = decide(c, &s);
	assert_int_equal(d.verdict, POLICY_REFUSED);
	assert_int_equal(strncmp(d.reason, "owner of pod 'ppp", 17), 0);
	/* Glob characters in a subject value are literal text, not a pattern. */
	s = subject();
	s.namespace_ = "team-*";
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process"); /* matched by the glob team-* */
	s.namespace_ = "*";
	expect(c, &s, POLICY_REFUSED, "namespace '*' is not allowed (allowed_namespaces)");
	s = subject();
	s.namespace_ = "backup";
	s.exe_path = "*";
	expect(c, &s, POLICY_ACT, "rule '" RULE "' action kill_process");
	config_free(c);
}

static void test_kernel_may_kill(void **state)
{
	struct reflex_config *refuse = load("refuse"), *c = load("allow"), *plain;

	(void)state;
	/* The image-only exception could apply in any namespace: user space decides. */
	assert_false(policy_kernel_may_kill(c, RULE, "shop", NULL));
	assert_false(policy_kernel_may_kill(c, RULE, "shop", "ReplicaSet"));
	/* Bold's exception is scoped to dbs: elsewhere the kernel may kill. */
	assert_true(policy_kernel_may_kill(c, "Bold", "shop", NULL));
	assert_true(policy_kernel_may_kill(c, "Bold", "team-blue", "Deployment"));
	assert_false(policy_kernel_may_kill(c, "Bold", "dbs", NULL));
	assert_false(policy_kernel_may_kill(refuse, "Bold", "shop", NULL));
	assert_true(policy_kernel_may_kill(refuse, "Bold", "shop", "ReplicaSet"));
	assert_false(policy_kernel_may_kill(refuse, "Bold", "shop", ""));
	assert_false(policy_kernel_may_kill(c, "Bold", "shop", "DaemonSet"));
	assert_false(policy_kernel_may_kill(c, "Bold", "shop", "Node"));
	assert_false(policy_kernel_may_kill(c, "Bold", "kube-system", NULL));
	assert_false(policy_kernel_may_kill(c, "Bold", "team-secret", NULL));
	assert_false(policy_kernel_may_kill(c, "Bold", "other", NULL));
	assert_false(policy_kernel_may_kill(c, "Bold", NULL, NULL));
	assert_false(policy_kernel_may_kill(c, "Bold", "", NULL));
	assert_false(policy_kernel_may_kill(c, "Alerting", "shop", NULL));
	assert_false(policy_kernel_may_kill(c, "Isolate", "shop", NULL));
	assert_false(policy_kernel_may_kill(c, "Careful", "shop", NULL)); /* rule dry-run */
	assert_false(policy_kernel_may_kill(c, "Missing", "shop", NULL));
	assert_false(policy_kernel_may_kill(c, NULL, "shop", NULL));
	c->dryrun = true; /* global dry-run; Bold says dryrun: false */
	assert_true(policy_kernel_may_kill(c, "Bold", "shop", NULL));
	config_free(refuse);
	config_free(c);

	plain = load_text("allowed_namespaces: ['*']\ndenied_namespaces: [kube-system]\n"
			  "rules: [{name: R, action: kill_process}]\nagent: {unknown_owner: allow}\n");
	assert_true(policy_kernel_may_kill(plain, "R", "shop", NULL));
	plain->dryrun = true;
	assert_false(policy_kernel_may_kill(plain, "R", "shop", NULL));
	config_free(plain);
}

/* policy_decide must say ACT, and kill, for (rule, namespace, owner) with every exe path and image. */
static void expect_act_for_any_exe_and_image(const struct reflex_config *c, const char *rule, const char *ns,
					     const char *owner)
{
	static const char *const exes[] = { "/tmp/x", "/usr/bin/sqlite3", "/opt/app/bin/tool", "/bin/sh", NULL };
	static const char *const images[] = { "busybox", "registry.example/tools:1", NULL };

	for (size_t e = 0; e < sizeof(exes) / sizeof(exes[0]); e++) {
		for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++) {
			struct policy_subject s = {
				.rule = rule,
				.is_container = true,
				.namespace_ = ns,
				.pod = "p",
				.owner_kind = owner,
				.image = images[i],
				.exe_path = exes[e],
			};
			struct policy_decision d = decide(c, &s);

			if (d.verdict != POLICY_ACT || !action_kills(d.action))
				fail_msg("kernel kills %s/%s/%s but decide says %s: %s", rule, ns,
					 owner ? owner : "(null)", policy_verdict_name(d.verdict), d.reason);
		}
	}
}

/* Whenever the kernel may kill, user space would have killed too: never the other way round. */
static void test_kernel_agrees_with_decide(void **state)
{
	static const char *const rules[] = { RULE, "Alerting", "Careful", "Bold", "Isolate", "Missing" };
	static const char *const namespaces[] = { "shop", "backup", "dbs", "kube-system", "team-secret9",
						  "team-x", "other", "ns-a1", "" };
	static const char *const owners[] = { "ReplicaSet", "DaemonSet", "Node", "", NULL };
	static const char *const unknown[] = { "refuse", "allow" };
	size_t kernel_kills = 0;

	(void)state;
	for (size_t u = 0; u < 2; u++) {
		struct reflex_config *c = load(unknown[u]);

		for (int dry = 0; dry < 2; dry++) {
			c->dryrun = dry;
			for (size_t r = 0; r < sizeof(rules) / sizeof(rules[0]); r++)
				for (size_t n = 0; n < sizeof(namespaces) / sizeof(namespaces[0]); n++)
					for (size_t o = 0; o < sizeof(owners) / sizeof(owners[0]); o++)
						if (policy_kernel_may_kill(c, rules[r], namespaces[n], owners[o])) {
							kernel_kills++;
							expect_act_for_any_exe_and_image(c, rules[r], namespaces[n],
											 owners[o]);
						}
		}
		config_free(c);
	}
	/* The check above must have had something to check. */
	assert_true(kernel_kills >= 4);
}

static void test_verdict_names(void **state)
{
	(void)state;
	assert_string_equal(policy_verdict_name(POLICY_ACT), "act");
	assert_string_equal(policy_verdict_name(POLICY_DRY_RUN), "dry_run");
	assert_string_equal(policy_verdict_name(POLICY_ALERT), "alert");
	assert_string_equal(policy_verdict_name(POLICY_EXCEPTED), "excepted");
	assert_string_equal(policy_verdict_name(POLICY_REFUSED), "refused");
	assert_string_equal(policy_verdict_name((enum policy_verdict)42), "refused");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_act),
		cmocka_unit_test(test_never_kills),
		cmocka_unit_test(test_unknown_owner),
		cmocka_unit_test(test_exceptions_are_scoped),
		cmocka_unit_test(test_alert_and_dry_run),
		cmocka_unit_test(test_order),
		cmocka_unit_test(test_namespace_globs),
		cmocka_unit_test(test_hostile_subject),
		cmocka_unit_test(test_kernel_may_kill),
		cmocka_unit_test(test_kernel_agrees_with_decide),
		cmocka_unit_test(test_verdict_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
