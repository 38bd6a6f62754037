// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* config.yaml: the shipped file, defaults, and every class of error with its line. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

static struct reflex_config *parse_ok(const char *text)
{
	struct reflex_config *c = NULL;
	char err[512] = "";

	if (config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("unexpected error: %s", err);
	return c;
}

static void expect_error(const char *text, const char *msg)
{
	struct reflex_config *c = NULL;
	char err[512] = "";
	int r = config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err));

	assert_true(r < 0);
	assert_null(c);
	if (!strstr(err, msg))
		fail_msg("error '%s' lacks '%s'", err, msg);
}

static void test_shipped_config(void **state)
{
	struct reflex_config *c = NULL;
	char err[512];
	const struct reflex_rule *r;

	(void)state;
	if (config_load("rules/config.yaml", &c, err, sizeof(err)))
		fail_msg("%s", err);
	assert_false(c->dryrun);
	assert_int_equal(c->n_allowed_namespaces, 1);
	assert_true(c->n_denied_namespaces >= 4);
	r = config_find_rule(c, "Drop and execute new binary in container");
	assert_non_null(r);
	assert_int_equal(r->action, ACTION_KILL_PROCESS);
	r = config_find_rule(c, "Shell spawned in production database container");
	assert_int_equal(r->dryrun, TRISTATE_TRUE);
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_REFUSE);
	assert_true(c->has_controller_section);
	assert_int_equal(c->n_exceptions, 1);
	config_free(c);
}

static void test_defaults(void **state)
{
	struct reflex_config *c;

	(void)state;
	setenv("NODE_NAME", "node-a", 1);
	c = parse_ok("rules: []\n");
	assert_string_equal(c->agent.node_name, "node-a");
	assert_true(c->agent.enforce_in_kernel);
	assert_true(c->agent.audit_stdout);
	assert_string_equal(c->agent.metrics_address, "127.0.0.1:9464");
	assert_string_equal(c->agent.exec_rule, "Drop and execute new binary in container");
	assert_int_equal(c->agent.n_containerd_roots, 2);
	assert_int_equal(c->agent.kill_timeout_ms, 1000);
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_REFUSE);
	assert_true(c->agent.pool_exclude_private);
	assert_int_equal(c->agent.pool_resolve_interval_s, 300);
	assert_int_equal(c->n_allowed_namespaces, 0);
	config_free(c);
	unsetenv("NODE_NAME");
}

static void test_full(void **state)
{
	struct reflex_config *c;

	(void)state;
	c = parse_ok("dryrun: YES\n"
		     "allowed_namespaces: [shop, 'team-*']\n"
		     "rules:\n"
		     "  - name: R\n"
		     "    action: kill_container\n"
		     "    dryrun: off\n"
		     "exceptions:\n"
		     "  - {rule: R, namespace: backup, exe_path: /usr/bin/sqlite3*}\n"
		     "agent:\n"
		     "  containerd_roots: [/x]\n"
		     "  kill_timeout_ms: 250\n"
		     "  unknown_owner: allow\n"
		     "  pool_cidrs: [198.51.100.0/24]\n"
		     "controller: {listen_address: ':8080'}\n");
	assert_true(c->dryrun);
	assert_string_equal(c->allowed_namespaces[1], "team-*");
	assert_int_equal(c->rules[0].action, ACTION_KILL_CONTAINER);
	assert_int_equal(c->rules[0].dryrun, TRISTATE_FALSE);
	assert_string_equal(c->exceptions[0].exe_path, "/usr/bin/sqlite3*");
	assert_null(c->exceptions[0].image);
	assert_int_equal(c->agent.n_containerd_roots, 1);
	assert_int_equal(c->agent.kill_timeout_ms, 250);
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_ALLOW);
	assert_int_equal(c->agent.n_pool_cidrs, 1);
	config_free(c);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("dryrun: maybe\n", "t.yaml:1: key 'dryrun': expected a boolean");
	expect_error("rules: []\nbogus: 1\n", "t.yaml:2: key 'bogus': unknown key");
	expect_error("rules:\n  - name: R\n    action: nuke\n", "t.yaml:3: key 'rules[].action': 'nuke' is not one of");
	expect_error("rules:\n  - action: alert\n", "t.yaml:2: key 'rules[].name'");
	expect_error("rules:\n  - name: R\n", "has no action");
	expect_error("rules:\n  - {name: R, action: alert}\n  - {name: R, action: alert}\n", "t.yaml:3: key 'rules[].name': rule 'R' is defined twice");
	expect_error("rules:\n  - {name: R, action: alert, colour: red}\n", "key 'colour': unknown key in a rule");
	expect_error("rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R}\n", "must never mute a whole rule");
	expect_error("rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: S, namespace: x}\n", "no rule named 'S'");
	expect_error("agent:\n  kill_timeout_ms: 0\n", "t.yaml:2: key 'kill_timeout_ms': expected a whole number from 1 to 60000");
	expect_error("agent:\n  kill_timeout_ms: -5\n", "kill_timeout_ms");
	expect_error("agent:\n  unknown_owner: maybe\n", "expected refuse or allow");
	expect_error("agent:\n  log_level: loud\n", "expected error, warn, info or debug");
	expect_error("agent:\n  typo_key: 1\n", "key 'typo_key': unknown key in agent:");
	expect_error("agent: [1]\n", "key 'agent': expected a mapping");
	expect_error("allowed_namespaces: shop\n", "expected a list of strings");
	expect_error("allowed_namespaces: [[a]]\n", "non-empty strings");
	expect_error("controller: 5\n", "key 'controller': expected a mapping");
	expect_error("rules: [\n", "t.yaml:2: YAML syntax");
	expect_error("", "the file is empty");
	expect_error("- a\n", "key '(document)': expected a mapping");
}

static void test_limits(void **state)
{
	size_t n = (1 << 20) + 10;
	char *big = malloc(n + 1);
	struct reflex_config *c = NULL;
	char err[256];

	(void)state;
	memset(big, '#', n);
	big[n] = '\0';
	assert_int_equal(config_parse("big", big, n, &c, err, sizeof(err)), -EFBIG);
	free(big);
	assert_int_equal(config_load("/nonexistent/reflex.yaml", &c, err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "/nonexistent/reflex.yaml"));
}

static void test_actions(void **state)
{
	enum reflex_action a;

	(void)state;
	assert_int_equal(action_from_name("kill_pod", &a), 0);
	assert_int_equal(a, ACTION_KILL_POD);
	assert_string_equal(action_name(ACTION_ISOLATE_NAMESPACE), "isolate_namespace");
	assert_int_equal(action_from_name("KILL_POD", &a), -EINVAL);
	assert_null(action_name((enum reflex_action)99));
	assert_true(action_kills(ACTION_KILL_CONTAINER));
	assert_false(action_kills(ACTION_ISOLATE_NAMESPACE));
	assert_false(action_kills(ACTION_ALERT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_config), cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),           cmocka_unit_test(test_errors),
		cmocka_unit_test(test_limits),         cmocka_unit_test(test_actions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
