// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* config.yaml: the shipped file, defaults, every class of error with its line, limits. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"

static struct reflex_config *parse_ok(const char *text)
{
	struct reflex_config *c = NULL;
	char err[512] = "";

	if (config_parse("t.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("unexpected error: %s", err);
	assert_non_null(c);
	return c;
}

/* Fails unless TEXT is rejected with a message containing MSG; *ret_config untouched. */
static void expect_error_len(const char *text, size_t len, const char *msg)
{
	struct reflex_config *sentinel = (struct reflex_config *)&sentinel, *c = sentinel;
	char err[512] = "";
	int r = config_parse("t.yaml", text, len, &c, err, sizeof(err));

	if (r >= 0)
		fail_msg("accepted, want error '%s' for:\n%s", msg, text);
	assert_ptr_equal(c, sentinel);
	if (!strstr(err, msg))
		fail_msg("error '%s' lacks '%s'", err, msg);
	/* Always one line: it goes into a log line and a kubectl event. */
	assert_null(strchr(err, '\n'));
}

static void expect_error(const char *text, const char *msg)
{
	expect_error_len(text, strlen(text), msg);
}

static void test_shipped_config(void **state)
{
	struct reflex_config *c = NULL;
	char err[512] = "";
	const struct reflex_rule *r;

	(void)state;
	if (config_load("rules/config.yaml", &c, err, sizeof(err)))
		fail_msg("rules/config.yaml: %s", err);
	assert_string_equal(c->path, "rules/config.yaml");
	assert_false(c->dryrun);
	assert_int_equal(c->n_allowed_namespaces, 1);
	assert_string_equal(c->allowed_namespaces[0], "*");
	assert_int_equal(c->n_denied_namespaces, 7);
	assert_string_equal(c->denied_namespaces[0], "kube-system");
	assert_string_equal(c->denied_namespaces[6], "reflex");
	assert_int_equal(c->n_protected_owners, 3);
	assert_string_equal(c->protected_owners[0], "DaemonSet");
	assert_int_equal(c->n_rules, 6);

	r = config_find_rule(c, "Drop and execute new binary in container");
	assert_non_null(r);
	assert_int_equal(r->action, ACTION_KILL_PROCESS);
	assert_int_equal(r->dryrun, TRISTATE_UNSET);
	assert_non_null(r->audit_reason);
	r = config_find_rule(c, "Fileless execution via memfd_create");
	assert_int_equal(r->action, ACTION_KILL_PROCESS);
	r = config_find_rule(c, "Detect outbound connections to common miner pool ports");
	assert_int_equal(r->action, ACTION_KILL_CONTAINER);
	r = config_find_rule(c, "Detect crypto miners using the Stratum protocol");
	assert_int_equal(r->action, ACTION_KILL_CONTAINER);
	r = config_find_rule(c, "Shell spawned in production database container");
	assert_int_equal(r->action, ACTION_KILL_POD);
	assert_int_equal(r->dryrun, TRISTATE_TRUE);
	r = config_find_rule(c, "Contact K8S API Server From Container");
	assert_int_equal(r->action, ACTION_ALERT);

	/* The one live exception is scoped by namespace and exact path. */
	assert_int_equal(c->n_exceptions, 1);
	assert_string_equal(c->exceptions[0].namespace_, "backup");
	assert_string_equal(c->exceptions[0].exe_path, "/usr/bin/sqlite3");
	assert_null(c->exceptions[0].image);

	/* Every rule the kernel reports under has an entry. */
	assert_non_null(config_find_rule(c, c->agent.exec_rule));
	assert_non_null(config_find_rule(c, c->agent.fileless_rule));
	assert_non_null(config_find_rule(c, c->agent.pool_rule));
	assert_non_null(config_find_rule(c, c->agent.stratum_rule));
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_REFUSE);
	assert_true(c->has_controller_section);
	config_free(c);
}

static void assert_lists_equal(char **a, size_t na, char **b, size_t nb)
{
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++)
		assert_string_equal(a[i], b[i]);
}

/* The shipped agent: section says "the values shown are the defaults": hold it to that. */
static void test_shipped_agent_section_is_the_defaults(void **state)
{
	struct reflex_config *shipped = NULL, *bare;
	const struct agent_config *s, *d;
	char err[512] = "";

	(void)state;
	if (config_load("rules/config.yaml", &shipped, err, sizeof(err)))
		fail_msg("rules/config.yaml: %s", err);
	bare = parse_ok("rules: []\n");
	s = &shipped->agent;
	d = &bare->agent;
	assert_string_equal(s->node_name, d->node_name);
	assert_true(s->cgroup_root == NULL && d->cgroup_root == NULL);
	assert_lists_equal(s->containerd_roots, s->n_containerd_roots, d->containerd_roots, d->n_containerd_roots);
	assert_string_equal(s->crio_root, d->crio_root);
	assert_string_equal(s->audit_log, d->audit_log);
	assert_int_equal(s->audit_stdout, d->audit_stdout);
	assert_int_equal(s->enforce_in_kernel, d->enforce_in_kernel);
	assert_string_equal(s->metrics_address, d->metrics_address);
	assert_string_equal(s->exec_rule, d->exec_rule);
	assert_string_equal(s->fileless_rule, d->fileless_rule);
	assert_int_equal(s->unknown_owner, d->unknown_owner);
	assert_int_equal(s->kill_timeout_ms, d->kill_timeout_ms);
	assert_string_equal(s->log_level, d->log_level);
	assert_string_equal(s->pool_rule, d->pool_rule);
	assert_string_equal(s->stratum_rule, d->stratum_rule);
	assert_string_equal(s->pool_lists, d->pool_lists);
	assert_lists_equal(s->pool_cidrs, s->n_pool_cidrs, d->pool_cidrs, d->n_pool_cidrs);
	assert_int_equal(s->pool_port_only, d->pool_port_only);
	assert_int_equal(s->pool_exclude_private, d->pool_exclude_private);
	assert_int_equal(s->pool_resolve_interval_s, d->pool_resolve_interval_s);
	assert_int_equal(s->block_pool_connections, d->block_pool_connections);
	assert_int_equal(s->scan_stratum_argv, d->scan_stratum_argv);
	assert_int_equal(s->watch_stratum_handshake, d->watch_stratum_handshake);
	assert_string_equal(s->falco_socket, d->falco_socket);
	assert_int_equal(s->falco_socket_mode, d->falco_socket_mode);
	assert_int_equal(s->n_falco_peer_uids, d->n_falco_peer_uids);
	assert_memory_equal(s->falco_peer_uids, d->falco_peer_uids, d->n_falco_peer_uids * sizeof(unsigned int));
	assert_string_equal(s->falco_http_address, d->falco_http_address);
	assert_string_equal(s->falco_http_token_file, d->falco_http_token_file);
	assert_int_equal(s->falco_max_alert_bytes, d->falco_max_alert_bytes);
	assert_int_equal(s->falco_queue_size, d->falco_queue_size);
	assert_int_equal(s->correlation_window_ms, d->correlation_window_ms);
	assert_int_equal(s->rate_limit_containers, d->rate_limit_containers);
	assert_int_equal(s->rate_limit_executables, d->rate_limit_executables);
	assert_int_equal(s->rate_limit_window_s, d->rate_limit_window_s);
	assert_string_equal(s->kubernetes_api, d->kubernetes_api);
	assert_string_equal(s->kubernetes_token_file, d->kubernetes_token_file);
	assert_string_equal(s->kubernetes_ca_file, d->kubernetes_ca_file);
	config_free(shipped);
	config_free(bare);
}

static void test_defaults(void **state)
{
	struct reflex_config *c;
	char host[256] = "";

	(void)state;
	setenv("NODE_NAME", "node-a", 1);
	c = parse_ok("rules: []\n");
	assert_string_equal(c->path, "t.yaml");
	assert_false(c->dryrun);
	assert_int_equal(c->n_allowed_namespaces, 0);
	assert_int_equal(c->n_denied_namespaces, 0);
	assert_int_equal(c->n_protected_owners, 0);
	assert_int_equal(c->n_rules, 0);
	assert_int_equal(c->n_exceptions, 0);
	assert_false(c->has_controller_section);
	assert_string_equal(c->agent.node_name, "node-a");
	assert_null(c->agent.cgroup_root);
	assert_int_equal(c->agent.n_containerd_roots, 2);
	assert_string_equal(c->agent.containerd_roots[0], "/run/containerd");
	assert_string_equal(c->agent.containerd_roots[1], "/run/k3s/containerd");
	assert_string_equal(c->agent.crio_root, "/run/containers/storage");
	assert_string_equal(c->agent.audit_log, "/var/log/reflex/audit.log");
	assert_true(c->agent.audit_stdout);
	assert_true(c->agent.enforce_in_kernel);
	assert_string_equal(c->agent.metrics_address, "127.0.0.1:9464");
	assert_string_equal(c->agent.exec_rule, "Drop and execute new binary in container");
	assert_string_equal(c->agent.fileless_rule, "Fileless execution via memfd_create");
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_REFUSE);
	assert_int_equal(c->agent.kill_timeout_ms, 1000);
	assert_string_equal(c->agent.log_level, "info");
	assert_string_equal(c->agent.pool_rule, "Detect outbound connections to common miner pool ports");
	assert_string_equal(c->agent.stratum_rule, "Detect crypto miners using the Stratum protocol");
	assert_string_equal(c->agent.pool_lists, "");
	assert_true(c->agent.pool_lists_builtin);
	assert_int_equal(c->agent.n_pool_cidrs, 0);
	assert_false(c->agent.pool_port_only);
	assert_true(c->agent.pool_exclude_private);
	assert_int_equal(c->agent.pool_resolve_interval_s, 300);
	assert_true(c->agent.block_pool_connections);
	assert_true(c->agent.scan_stratum_argv);
	assert_true(c->agent.watch_stratum_handshake);
	config_free(c);

	/* An empty $NODE_NAME (unset downward API field) falls back to the hostname. */
	setenv("NODE_NAME", "", 1);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	c = parse_ok("dryrun: false\n");
	assert_string_equal(c->agent.node_name, host);
	config_free(c);
	unsetenv("NODE_NAME");
	c = parse_ok("dryrun: false\n");
	assert_string_equal(c->agent.node_name, host);
	config_free(c);
}

static void test_full(void **state)
{
	struct reflex_config *c;

	(void)state;
	setenv("NODE_NAME", "from-env", 1);
	c = parse_ok("dryrun: YES\n"
		     "allowed_namespaces: [shop, 'team-*', 'ns-[ab]?']\n"
		     "denied_namespaces:\n"
		     "  - kube-system\n"
		     "protected_owners: [DaemonSet, Job]\n"
		     "rules:\n"
		     "  - name: R\n"
		     "    action: kill_container\n"
		     "    audit_reason: ''\n"
		     "    dryrun: off\n"
		     "  - {name: Q, action: isolate_namespace, dryrun: On}\n"
		     "  - {name: 'Name: with colon', action: alert, audit_reason: why}\n"
		     "exceptions:\n"
		     "  - {rule: R, namespace: backup, exe_path: /usr/bin/sqlite3*}\n"
		     "  - {image: 'registry.example/tools:*', rule: Q}\n"
		     "agent:\n"
		     "  node_name: n1\n"
		     "  cgroup_root: /sys/fs/cgroup/unified\n"
		     "  containerd_roots: [/x]\n"
		     "  crio_root: /y\n"
		     "  audit_log: ''\n"
		     "  audit_stdout: no\n"
		     "  enforce_in_kernel: Off\n"
		     "  metrics_address: ''\n"
		     "  exec_rule: R\n"
		     "  fileless_rule: F\n"
		     "  unknown_owner: allow\n"
		     "  kill_timeout_ms: 60000\n"
		     "  log_level: debug\n"
		     "  pool_rule: P\n"
		     "  stratum_rule: S\n"
		     "  pool_lists: /etc/pools.txt\n"
		     "  pool_cidrs: [198.51.100.0/24, '2001:db8::/32', 203.0.113.7]\n"
		     "  pool_port_only: true\n"
		     "  pool_exclude_private: false\n"
		     "  pool_resolve_interval_s: 86400\n"
		     "  block_pool_connections: false\n"
		     "  scan_stratum_argv: false\n"
		     "  watch_stratum_handshake: false\n"
		     "controller: {listen_address: '127.0.0.1:8080', dedupe_window_s: 30, gelf_stream: audit,\n"
		     "  gelf_http_url: 'http://graylog:12201/gelf', page_webhook_url: '', rate_limit_pods: 3,\n"
		     "  rate_limit_window_s: 120}\n");
	assert_true(c->has_controller_section);
	assert_string_equal(c->controller.listen_address, "127.0.0.1:8080");
	assert_int_equal(c->controller.dedupe_window_s, 30);
	assert_int_equal(c->controller.rate_limit_pods, 3);
	assert_int_equal(c->controller.rate_limit_namespaces, 5); /* the agent's default */
	assert_int_equal(c->controller.rate_limit_window_s, 120);
	assert_string_equal(c->controller.gelf_stream, "audit");
	assert_string_equal(c->controller.gelf_http_url, "http://graylog:12201/gelf");
	assert_string_equal(c->controller.page_webhook_url, "");
	assert_string_equal(c->controller.operator_, "reflex-controller");
	assert_int_equal(c->controller.max_body_bytes, 1u << 20);
	assert_true(c->dryrun);
	assert_int_equal(c->n_allowed_namespaces, 3);
	assert_string_equal(c->allowed_namespaces[1], "team-*");
	assert_string_equal(c->allowed_namespaces[2], "ns-[ab]?");
	assert_int_equal(c->n_denied_namespaces, 1);
	assert_string_equal(c->protected_owners[1], "Job");
	assert_int_equal(c->n_rules, 3);
	assert_string_equal(c->rules[0].name, "R");
	assert_int_equal(c->rules[0].action, ACTION_KILL_CONTAINER);
	assert_string_equal(c->rules[0].audit_reason, "");
	assert_int_equal(c->rules[0].dryrun, TRISTATE_FALSE);
	assert_int_equal(c->rules[1].action, ACTION_ISOLATE_NAMESPACE);
	assert_int_equal(c->rules[1].dryrun, TRISTATE_TRUE);
	assert_null(c->rules[1].audit_reason);
	assert_string_equal(c->rules[2].name, "Name: with colon");
	assert_int_equal(c->rules[2].dryrun, TRISTATE_UNSET);
	assert_int_equal(c->n_exceptions, 2);
	assert_string_equal(c->exceptions[0].rule, "R");
	assert_string_equal(c->exceptions[0].namespace_, "backup");
	assert_string_equal(c->exceptions[0].exe_path, "/usr/bin/sqlite3*");
	assert_null(c->exceptions[0].image);
	assert_null(c->exceptions[1].namespace_);
	assert_null(c->exceptions[1].exe_path);
	assert_string_equal(c->exceptions[1].image, "registry.example/tools:*");

	assert_string_equal(c->agent.node_name, "n1"); /* the file beats $NODE_NAME */
	assert_string_equal(c->agent.cgroup_root, "/sys/fs/cgroup/unified");
	assert_int_equal(c->agent.n_containerd_roots, 1);
	assert_string_equal(c->agent.containerd_roots[0], "/x");
	assert_string_equal(c->agent.crio_root, "/y");
	assert_string_equal(c->agent.audit_log, "");
	assert_false(c->agent.audit_stdout);
	assert_false(c->agent.enforce_in_kernel);
	assert_string_equal(c->agent.metrics_address, "");
	assert_string_equal(c->agent.exec_rule, "R");
	assert_string_equal(c->agent.fileless_rule, "F");
	assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_ALLOW);
	assert_int_equal(c->agent.kill_timeout_ms, 60000);
	assert_string_equal(c->agent.log_level, "debug");
	assert_string_equal(c->agent.pool_rule, "P");
	assert_string_equal(c->agent.stratum_rule, "S");
	assert_string_equal(c->agent.pool_lists, "/etc/pools.txt");
	assert_int_equal(c->agent.n_pool_cidrs, 3);
	assert_string_equal(c->agent.pool_cidrs[1], "2001:db8::/32");
	assert_true(c->agent.pool_port_only);
	assert_false(c->agent.pool_exclude_private);
	assert_int_equal(c->agent.pool_resolve_interval_s, 86400);
	assert_false(c->agent.block_pool_connections);
	assert_false(c->agent.scan_stratum_argv);
	assert_false(c->agent.watch_stratum_handshake);
	assert_true(c->has_controller_section);
	config_free(c);
	unsetenv("NODE_NAME");

	/* An empty list stays empty: no containerd on a CRI-O node. */
	c = parse_ok("agent:\n  containerd_roots: []\n  cgroup_root: ''\n");
	assert_int_equal(c->agent.n_containerd_roots, 0);
	assert_null(c->agent.cgroup_root); /* "" = find it, as when unset */
	config_free(c);
}

static void test_bool_forms(void **state)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON",
					   "'true'", "\"yes\"" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
	static const char *const bad[] = { "1", "0", "y", "n", "maybe", "tru", "truee", "''", "t" };
	char text[128];

	(void)state;
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct reflex_config *c;

		snprintf(text, sizeof(text), "dryrun: %s\n", yes[i]);
		c = parse_ok(text);
		if (!c->dryrun)
			fail_msg("'%s' read as false", yes[i]);
		config_free(c);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct reflex_config *c;

		snprintf(text, sizeof(text), "dryrun: true\nagent: {audit_stdout: %s}\n", no[i]);
		c = parse_ok(text);
		if (c->agent.audit_stdout)
			fail_msg("'%s' read as true", no[i]);
		config_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "rules: []\ndryrun: %s\n", bad[i]);
		expect_error(text, "t.yaml:2: key 'dryrun': expected a boolean");
	}
	expect_error("dryrun:\n", "t.yaml:1: key 'dryrun': expected a boolean (true/false), got null");
	expect_error("dryrun: ~\n", "got null");
	expect_error("dryrun: [true]\n", "t.yaml:1: key 'dryrun': expected a boolean (true/false), got a list");
	expect_error("dryrun: {a: b}\n", "got a mapping");
	expect_error("rules:\n  - name: R\n    action: alert\n    dryrun: sometimes\n",
		     "t.yaml:4: key 'rules[0].dryrun': expected a boolean");
}

struct error_case {
	const char *yaml;
	const char *msg;
};

static void run_cases(const struct error_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++)
		expect_error(cases[i].yaml, cases[i].msg);
}

static void test_unknown_keys_and_types(void **state)
{
	static const struct error_case cases[] = {
		{ "rules: []\nbogus: 1\n", "t.yaml:2: key 'bogus': unknown key (dryrun, allowed_namespaces" },
		{ "dry_run: true\n", "t.yaml:1: key 'dry_run': unknown key" },
		{ "Dryrun: true\n", "key 'Dryrun': unknown key" }, /* keys are case-sensitive */
		{ "rules:\n  - {name: R, action: alert, colour: red}\n",
		  "t.yaml:2: key 'rules[0].colour': unknown key in a rule (name, action, audit_reason, dryrun)" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - rule: R\n    namespace: a\n    exe: /x\n",
		  "t.yaml:5: key 'exceptions[0].exe': unknown key in an exception" },
		{ "agent:\n  node_name: n\n  typo_key: 1\n", "t.yaml:3: key 'agent.typo_key': unknown key in agent:" },
		{ "agent:\n  controller: {}\n", "key 'agent.controller': unknown key in agent:" },
		{ "- a\n", "t.yaml:1: key '(top level)': expected a mapping, got a list" },
		{ "just text\n", "key '(top level)': expected a mapping, got a string" },
		{ "agent: [1]\n", "t.yaml:1: key 'agent': expected a mapping, got a list" },
		{ "agent:\n", "t.yaml:1: key 'agent': expected a mapping, got null" },
		{ "controller: 5\n", "t.yaml:1: key 'controller': expected a mapping, got a string" },
		{ "controller: [a]\n", "key 'controller': expected a mapping, got a list" },
		{ "allowed_namespaces: shop\n", "t.yaml:1: key 'allowed_namespaces': expected a list of strings, got a string" },
		{ "allowed_namespaces:\n", "got null (write [] for an empty list)" },
		{ "allowed_namespaces:\n  - a\n  - [b]\n", "t.yaml:3: key 'allowed_namespaces[1]': expected a string, got a list" },
		{ "denied_namespaces: [a, '']\n", "key 'denied_namespaces[1]': must not be empty" },
		{ "protected_owners: [DaemonSet, ~]\n", "key 'protected_owners[1]': expected a string, got null" },
		{ "rules: {name: R}\n", "t.yaml:1: key 'rules': expected a list of rules, got a mapping" },
		{ "rules:\n  - R\n", "t.yaml:2: key 'rules[0]': expected a mapping, got a string" },
		{ "exceptions: 3\n", "key 'exceptions': expected a list of exceptions, got a string" },
		{ "rules: [{name: [R], action: alert}]\n", "key 'rules[0].name': expected a string, got a list" },
		{ "rules: [{name: R, action: alert, audit_reason: {a: b}}]\n",
		  "key 'rules[0].audit_reason': expected a string, got a mapping" },
		{ "agent:\n  node_name: [a]\n", "t.yaml:2: key 'agent.node_name': expected a string, got a list" },
		{ "agent:\n  audit_log:\n", "key 'agent.audit_log': expected a path, got null" },
		{ "agent:\n  containerd_roots: /run/containerd\n", "key 'agent.containerd_roots': expected a list of strings" },
		{ "agent:\n  kill_timeout_ms: [1]\n", "key 'agent.kill_timeout_ms': expected a whole number, got a list" },
		{ "? [a, b]\n: c\n", "t.yaml:1: key 'the top level': expected a string key, got a list" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_rules_and_exceptions(void **state)
{
	static const struct error_case cases[] = {
		{ "rules:\n  - name: R\n    action: nuke\n",
		  "t.yaml:3: key 'rules[0].action': 'nuke' is not one of alert, kill_process, kill_container, kill_pod, "
		  "isolate_namespace" },
		{ "rules:\n  - {name: R, action: KILL_PROCESS}\n", "'KILL_PROCESS' is not one of" },
		{ "rules:\n  - {name: R, action: }\n", "key 'rules[0].action': expected an action, got null" },
		{ "rules:\n  - {name: A, action: alert}\n  - action: alert\n",
		  "t.yaml:3: key 'rules[1]': a rule needs a name" },
		{ "rules:\n  - name: ''\n    action: alert\n", "t.yaml:2: key 'rules[0].name': must not be empty" },
		{ "rules:\n  - name: R\n", "t.yaml:2: key 'rules[0]': rule 'R' has no action" },
		{ "rules:\n  - {name: R, action: alert}\n  - {name: S, action: alert}\n  - {name: R, action: kill_pod}\n",
		  "t.yaml:4: key 'rules[2].name': rule 'R' is defined twice (first on line 2)" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R}\n",
		  "t.yaml:3: key 'exceptions[0]': needs namespace, exe_path or image: an exception must never mute a "
		  "whole rule" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {namespace: x}\n",
		  "t.yaml:3: key 'exceptions[0]': an exception names the rule it applies to" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - namespace: x\n    rule: S\n",
		  "t.yaml:4: key 'exceptions[0].rule': no rule named 'S' in rules:" },
		/* Written before rules:, still checked against them. */
		{ "exceptions:\n  - {rule: R, namespace: x}\nrules: [{name: Q, action: alert}]\n",
		  "t.yaml:2: key 'exceptions[0].rule': no rule named 'R'" },
		{ "exceptions:\n  - {rule: R, namespace: x}\n", "no rule named 'R'" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, namespace: ''}\n",
		  "key 'exceptions[0].namespace': '' is not a namespace name" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, namespace: 'team-*'}\n",
		  "t.yaml:3: key 'exceptions[0].namespace': 'team-*' is not a namespace name (exact, lowercase, no globs)" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, namespace: Backup}\n",
		  "'Backup' is not a namespace name" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, exe_path: 'sqlite3'}\n",
		  "key 'exceptions[0].exe_path': expected an absolute path glob, got 'sqlite3'" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, exe_path: ''}\n",
		  "expected an absolute path glob, got ''" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, image: ''}\n",
		  "key 'exceptions[0].image': must not be empty" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, image: [a]}\n",
		  "key 'exceptions[0].image': expected a string, got a list" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - [R]\n",
		  "t.yaml:3: key 'exceptions[0]': expected a mapping, got a list" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_duplicate_keys(void **state)
{
	static const struct error_case cases[] = {
		{ "dryrun: true\nrules: []\ndryrun: false\n",
		  "t.yaml:3: key 'dryrun': given twice in the top level (first on line 1)" },
		{ "agent:\n  log_level: info\n  log_level: debug\n",
		  "t.yaml:3: key 'log_level': given twice in agent (first on line 2)" },
		{ "rules:\n  - name: R\n    action: alert\n    action: kill_pod\n",
		  "t.yaml:4: key 'action': given twice in rules[0] (first on line 3)" },
		{ "rules: [{name: R, action: alert}]\nexceptions:\n  - {rule: R, namespace: a, namespace: b}\n",
		  "key 'namespace': given twice in exceptions[0]" },
		{ "rules: []\nrules: []\n", "key 'rules': given twice" },
		{ "controller: {}\ncontroller: {}\n", "key 'controller': given twice" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_falco_and_kubernetes_values(void **state)
{
	struct reflex_config *c;

	(void)state;
	c = parse_ok("rules: []\n");
	assert_string_equal(c->agent.falco_socket, "/run/reflex/falco.sock");
	assert_int_equal(c->agent.falco_socket_mode, 0660);
	assert_int_equal(c->agent.n_falco_peer_uids, 1);
	assert_int_equal(c->agent.falco_peer_uids[0], 0);
	assert_string_equal(c->agent.falco_http_address, "");
	assert_int_equal(c->agent.correlation_window_ms, 5000);
	assert_int_equal(c->agent.rate_limit_containers, 5);
	assert_string_equal(c->agent.kubernetes_api, "auto");
	config_free(c);
	c = parse_ok("agent:\n  falco_socket: ''\n  falco_socket_mode: '0600'\n  falco_peer_uids: [0, 101]\n"
		     "  falco_http_address: '[::1]:2802'\n  kubernetes_api: 'https://10.0.0.1:6443'\n"
		     "  kubernetes_ca_file: ''\n  correlation_window_ms: 0\n");
	assert_string_equal(c->agent.falco_socket, "");
	assert_int_equal(c->agent.falco_socket_mode, 0600);
	assert_int_equal(c->agent.n_falco_peer_uids, 2);
	assert_int_equal(c->agent.falco_peer_uids[1], 101);
	assert_string_equal(c->agent.falco_http_address, "[::1]:2802");
	assert_string_equal(c->agent.kubernetes_api, "https://10.0.0.1:6443");
	assert_string_equal(c->agent.kubernetes_ca_file, "");
	assert_int_equal(c->agent.correlation_window_ms, 0);
	config_free(c);
	c = parse_ok("agent:\n  falco_http_address: 127.0.0.1:0\n  falco_peer_uids: []\n");
	assert_int_equal(c->agent.n_falco_peer_uids, 0);
	config_free(c);
}

static void test_agent_values(void **state)
{
	static const struct error_case cases[] = {
		{ "agent:\n  kill_timeout_ms: 0\n",
		  "t.yaml:2: key 'agent.kill_timeout_ms': expected a whole number from 1 to 60000, got '0'" },
		{ "agent:\n  kill_timeout_ms: 60001\n", "from 1 to 60000, got '60001'" },
		{ "agent:\n  kill_timeout_ms: -5\n", "got '-5'" },
		{ "agent:\n  kill_timeout_ms: +5\n", "got '+5'" },
		{ "agent:\n  kill_timeout_ms: 0x10\n", "got '0x10'" },
		{ "agent:\n  kill_timeout_ms: 1.5\n", "got '1.5'" },
		{ "agent:\n  kill_timeout_ms: ' 5'\n", "got ' 5'" },
		{ "agent:\n  kill_timeout_ms: 99999999999999999999999\n", "from 1 to 60000" },
		{ "agent:\n  pool_resolve_interval_s: 86401\n",
		  "key 'agent.pool_resolve_interval_s': expected a whole number from 1 to 86400" },
		{ "agent:\n  unknown_owner: maybe\n", "t.yaml:2: key 'agent.unknown_owner': expected refuse or allow, got 'maybe'" },
		{ "agent:\n  unknown_owner: Allow\n", "expected refuse or allow, got 'Allow'" },
		{ "agent:\n  log_level: loud\n", "key 'agent.log_level': expected error, warn, info or debug, got 'loud'" },
		{ "agent:\n  log_level: INFO\n", "got 'INFO'" },
		{ "agent:\n  node_name: ''\n", "key 'agent.node_name': must not be empty" },
		{ "agent:\n  exec_rule: ''\n", "key 'agent.exec_rule': must not be empty" },
		{ "agent:\n  crio_root: run/containers\n",
		  "key 'agent.crio_root': expected an absolute path, got 'run/containers'" },
		{ "agent:\n  crio_root: ''\n", "key 'agent.crio_root': expected an absolute path, got ''" },
		{ "agent:\n  audit_log: ../audit.log\n", "expected an absolute path" },
		{ "agent:\n  audit_log: /var/log/../../etc/shadow\n",
		  "key 'agent.audit_log': '..' is not allowed in a path: '/var/log/../../etc/shadow'" },
		{ "agent:\n  pool_lists: /etc/reflex/..\n", "'..' is not allowed in a path" },
		{ "agent:\n  containerd_roots: [/run/containerd, run/k3s]\n",
		  "t.yaml:2: key 'agent.containerd_roots[1]': expected an absolute path, got 'run/k3s'" },
		{ "agent:\n  pool_cidrs: [198.51.100.0/33]\n",
		  "key 'agent.pool_cidrs[0]': '198.51.100.0/33' is not an address or CIDR" },
		{ "agent:\n  pool_cidrs: [1.2.3.4/-1]\n", "'1.2.3.4/-1' is not an address or CIDR" },
		{ "agent:\n  pool_cidrs: [1.2.3.4/]\n", "is not an address or CIDR" },
		{ "agent:\n  pool_cidrs: [pool.example.com]\n", "'pool.example.com' is not an address or CIDR" },
		{ "agent:\n  pool_cidrs: ['2001:db8::/129']\n", "is not an address or CIDR" },
		{ "agent:\n  falco_socket_mode: 660\n", "key 'agent.falco_socket_mode': expected an octal file mode with a leading 0" },
		{ "agent:\n  falco_socket_mode: '0800'\n", "expected an octal file mode" },
		{ "agent:\n  falco_socket_mode: '01777'\n", "expected a file mode from 0000 to 0777" },
		{ "agent:\n  falco_peer_uids: 0\n", "key 'agent.falco_peer_uids': expected a list of uids, got a string" },
		{ "agent:\n  falco_peer_uids: [0, root]\n", "key 'agent.falco_peer_uids[1]': expected a whole number" },
		{ "agent:\n  falco_peer_uids: [-1]\n", "got '-1'" },
		{ "agent:\n  falco_http_address: 0.0.0.0:2802\n",
		  "key 'agent.falco_http_address': expected a loopback HOST:PORT" },
		{ "agent:\n  falco_http_address: '[::]:2802'\n", "expected a loopback HOST:PORT" },
		{ "agent:\n  falco_http_address: 127.0.0.1:99999\n", "port must be a number from 0 to 65535" },
		{ "agent:\n  falco_http_address: 127.0.0.1\n", "expected a loopback HOST:PORT" },
		{ "agent:\n  falco_http_address: 127.1.2:80\n", "is not a loopback address" },
		{ "agent:\n  falco_socket: run/reflex.sock\n", "expected an absolute path" },
		{ "agent:\n  falco_max_alert_bytes: 100\n", "from 1024 to 16777216" },
		{ "agent:\n  falco_queue_size: 1\n", "from 16 to 1048576" },
		{ "agent:\n  correlation_window_ms: 600001\n", "from 0 to 600000" },
		{ "agent:\n  rate_limit_containers: 0\n", "key 'agent.rate_limit_containers': expected a whole number from 1" },
		{ "agent:\n  rate_limit_window_s: 0\n", "from 1 to 86400" },
		{ "agent:\n  kubernetes_api: api.example.com\n",
		  "key 'agent.kubernetes_api': expected \"auto\", \"\" (off) or an http:// or https:// URL" },
		{ "agent:\n  kubernetes_api: 'https://a b'\n", "is not a plain URL" },
		{ "agent:\n  kubernetes_api: 'https://u:p@h/?x=1'\n", "is not a plain URL" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

/* Values that could never match anything would make a safeguard silently empty. */
static void test_safeguard_values(void **state)
{
	static const struct error_case cases[] = {
		{ "denied_namespaces: [kube-system, Kube-Public]\n",
		  "t.yaml:1: key 'denied_namespaces[1]': 'Kube-Public' cannot match a namespace" },
		{ "allowed_namespaces: ['shop ns']\n", "'shop ns' cannot match a namespace" },
		{ "allowed_namespaces: [a.b]\n", "'a.b' cannot match a namespace" },
		{ "protected_owners: [daemonset]\n",
		  "key 'protected_owners[0]': 'daemonset' is not an owner kind as Kubernetes writes it (e.g. DaemonSet)" },
		{ "protected_owners: [Daemon-Set]\n", "is not an owner kind" },
		{ "protected_owners: [apps/v1]\n", "is not an owner kind" },
	};

	(void)state;
	run_cases(cases, sizeof(cases) / sizeof(cases[0]));
}

static void test_yaml_syntax(void **state)
{
	static const char nul_in_text[] = "dryrun: true\0\n";

	(void)state;
	expect_error("rules: [\n", "t.yaml:2: YAML syntax:");
	expect_error("rules:\n  - name: R\n   action: alert\n", "t.yaml:3: YAML syntax:");
	expect_error("dryrun: true\n\tagent: {}\n", "YAML syntax:");
	expect_error("dryrun: 'unterminated\n", "YAML syntax:");
	expect_error("a: *nowhere\n", "YAML syntax:"); /* undefined alias */
	expect_error("dryrun: \"\\xff\"\nrules: [\xff]\n", "YAML syntax:"); /* invalid UTF-8 */
	expect_error_len(nul_in_text, sizeof(nul_in_text) - 1, "YAML syntax:");
	/* An escaped NUL inside a quoted string would cut a name short. */
	expect_error("rules: [{name: \"R\\0tail\", action: alert}]\n",
		     "t.yaml:1: key 'rules[0].name': contains a NUL character");
	/* A second document would be ignored: refuse it. */
	expect_error("dryrun: false\n---\ndryrun: true\n", "t.yaml:2: a second YAML document: one config per file");
	expect_error("dryrun: false\n---\n[unclosed\n", "YAML syntax:");
	expect_error("", "t.yaml: the file is empty");
	expect_error("# only a comment\n", "the file is empty");
	expect_error("---\n...\n", "the file is empty");
}

static void test_aliases(void **state)
{
	struct reflex_config *c;

	(void)state;
	/* Anchors are ordinary YAML: one list shared by two keys. */
	c = parse_ok("allowed_namespaces: &ns [shop, web]\n"
		     "rules:\n"
		     "  - &r {name: R, action: alert}\n"
		     "exceptions:\n"
		     "  - {rule: R, namespace: shop}\n"
		     "agent:\n"
		     "  exec_rule: &name R\n"
		     "  fileless_rule: *name\n");
	assert_string_equal(c->agent.fileless_rule, "R");
	assert_int_equal(c->n_allowed_namespaces, 2);
	config_free(c);
	/* An alias repeats a rule, which is then a duplicate. */
	expect_error("rules:\n  - &r {name: R, action: alert}\n  - *r\n", "rule 'R' is defined twice");
}

/* A hostile value cannot break the one-line message or overflow it. */
static void test_hostile_values_in_messages(void **state)
{
	char *text, *value;
	size_t n = 5000;

	(void)state;
	expect_error("agent:\n  log_level: \"a\\nb\\tc\\x1b[31m\"\n", "got 'a?b?c?[31m'");
	expect_error("\"bad\\nkey\": 1\n", "t.yaml:1: key 'bad?key': unknown key");
	value = malloc(n + 1);
	text = malloc(n + 64);
	assert_non_null(value);
	assert_non_null(text);
	memset(value, 'x', n);
	value[n] = '\0';
	snprintf(text, n + 64, "agent:\n  log_level: %s\n", value);
	expect_error(text, "got 'xxxxxxxx");
	expect_error(text, "...'");
	/* YAML caps an implicit key at 1024 characters; stay under it. */
	value[1000] = '\0';
	snprintf(text, n + 64, "%s: 1\n", value);
	expect_error(text, "t.yaml:1: key 'xxxx");
	free(text);
	free(value);
}

static char *repeat_items(const char *head, const char *item, size_t count, const char *tail)
{
	size_t len = strlen(head) + strlen(item) * count + strlen(tail) + 1;
	char *text = malloc(len), *p = text;

	assert_non_null(text);
	p = stpcpy(p, head);
	for (size_t i = 0; i < count; i++)
		p = stpcpy(p, item);
	stpcpy(p, tail);
	return text;
}

static void test_limits(void **state)
{
	size_t n = (1 << 20) + 1;
	char *text = malloc(n + 1);
	struct reflex_config *c = NULL;
	char err[256] = "";

	(void)state;
	assert_non_null(text);
	/* Exactly 1 MiB is allowed (comments); one byte more is not. */
	memset(text, '#', n);
	memcpy(text, "rules: []\n", 10);
	text[n - 2] = '\n';
	text[n - 1] = '\n';
	assert_int_equal(config_parse("big", text, n, &c, err, sizeof(err)), -EFBIG);
	assert_null(c);
	assert_string_equal(err, "big: larger than 1048576 bytes");
	assert_int_equal(config_parse("big", text, n - 1, &c, err, sizeof(err)), 0);
	c = config_free(c);
	free(text);

	/* 10000 list items in the whole file are fine, 10001 are not, controller: included. */
	text = repeat_items("allowed_namespaces: [", "a,", 9999, "b]\n");
	c = parse_ok(text);
	assert_int_equal(c->n_allowed_namespaces, 10000);
	c = config_free(c);
	free(text);
	text = repeat_items("allowed_namespaces: [", "a,", 10000, "b]\n");
	expect_error(text, "t.yaml:1: more than 10000 list items in the file");
	free(text);
	text = repeat_items("allowed_namespaces: [a]\ncontroller:\n  x: [", "1,", 10000, "2]\n");
	expect_error(text, "t.yaml:3: more than 10000 list items in the file");
	free(text);

	/* The controller: section is as strict as agent:. */
	expect_error("controller: {anything: 1}\n", "t.yaml:1: key 'controller.anything': unknown key in controller:");
	expect_error("controller: {dedupe_window_s: 0}\n", "t.yaml:1: key 'controller.dedupe_window_s'");
	expect_error("controller: {rate_limit_pods: 0}\n", "t.yaml:1: key 'controller.rate_limit_pods'");
	expect_error("controller: {gelf_http_url: 'graylog:12201'}\n", "t.yaml:1: key 'controller.gelf_http_url'");

	/* Deep nesting: no recursion to blow the stack. */
	text = repeat_items("controller: {x: ", "[", 100000, "");
	expect_error(text, "YAML syntax:");
	free(text);
}

static void test_near_identical_rule_names(void **state)
{
	const size_t n = 3000;
	size_t len = n * 160 + 16, used;
	char *text = malloc(len);
	struct reflex_config *c;

	(void)state;
	assert_non_null(text);
	used = (size_t)snprintf(text, len, "rules:\n");
	for (size_t i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, len - used,
					 "  - {name: \"%0100zu\", action: alert}\n", i);
	c = parse_ok(text);
	assert_int_equal(c->n_rules, n);
	assert_non_null(config_find_rule(c, c->rules[n - 1].name));
	config_free(c);
	/* The same name once more, last: caught, with both lines. */
	snprintf(text + used, len - used, "  - {name: \"%0100zu\", action: alert}\n", (size_t)7);
	expect_error(text, "rule '00000");
	expect_error(text, "(first on line 9)");
	free(text);
}

static int write_temp(char *path, const char *text, size_t len)
{
	int fd = mkostemp(path, O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static void test_load(void **state)
{
	struct reflex_config *sentinel = (struct reflex_config *)&sentinel, *c = sentinel;
	char path[] = "/tmp/reflex-config-test.XXXXXX";
	char err[256] = "";
	size_t n = (1 << 20) + 100;
	char *big;

	(void)state;
	assert_int_equal(config_load("/nonexistent/reflex.yaml", &c, err, sizeof(err)), -ENOENT);
	assert_ptr_equal(c, sentinel);
	assert_string_equal(err, "/nonexistent/reflex.yaml: No such file or directory");
	assert_int_equal(config_load("/tmp", &c, err, sizeof(err)), -EISDIR);
	assert_ptr_equal(c, sentinel);
	/* No message buffer: still an error code, no crash. */
	assert_int_equal(config_load("/nonexistent/reflex.yaml", &c, NULL, 0), -ENOENT);
	assert_int_equal(config_parse("t.yaml", "bogus: 1\n", 9, &c, NULL, 0), -EINVAL);
	assert_ptr_equal(c, sentinel);

	/* A file over the limit is refused without being parsed. */
	big = malloc(n);
	assert_non_null(big);
	memset(big, '#', n);
	assert_int_equal(write_temp(path, big, n), 0);
	free(big);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EFBIG);
	assert_ptr_equal(c, sentinel);
	assert_non_null(strstr(err, "larger than 1048576 bytes"));
	unlink(path);

	/* The message names the file it was given. */
	strcpy(path, "/tmp/reflex-config-test.XXXXXX");
	assert_int_equal(write_temp(path, "rules: []\nagent:\n  kill_timeout_ms: 0\n", 38), 0);
	assert_int_equal(config_load(path, &c, err, sizeof(err)), -EINVAL);
	assert_ptr_equal(c, sentinel);
	assert_true(strncmp(err, path, strlen(path)) == 0);
	assert_non_null(strstr(err, ":3: key 'agent.kill_timeout_ms'"));
	unlink(path);

	/* A tiny err buffer is truncated, never overrun. */
	err[5] = 'Z';
	assert_int_equal(config_parse("t.yaml", "bogus: 1\n", 9, &c, err, 5), -EINVAL);
	assert_string_equal(err, "t.ya");
	assert_int_equal(err[5], 'Z');
}

static void test_actions(void **state)
{
	static const struct {
		const char *name;
		enum reflex_action action;
		bool kills;
	} all[] = {
		{ "alert", ACTION_ALERT, false },
		{ "kill_process", ACTION_KILL_PROCESS, true },
		{ "kill_container", ACTION_KILL_CONTAINER, true },
		{ "kill_pod", ACTION_KILL_POD, true },
		{ "isolate_namespace", ACTION_ISOLATE_NAMESPACE, false },
	};
	enum reflex_action a = ACTION_KILL_POD;

	(void)state;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		assert_string_equal(action_name(all[i].action), all[i].name);
		assert_int_equal(action_from_name(all[i].name, &a), 0);
		assert_int_equal(a, all[i].action);
		assert_int_equal(action_kills(all[i].action), all[i].kills);
	}
	a = ACTION_KILL_POD;
	assert_int_equal(action_from_name("KILL_POD", &a), -EINVAL);
	assert_int_equal(action_from_name("", &a), -EINVAL);
	assert_int_equal(action_from_name("kill", &a), -EINVAL);
	assert_int_equal(action_from_name(NULL, &a), -EINVAL);
	assert_int_equal(a, ACTION_KILL_POD); /* untouched on failure */
	assert_null(action_name((enum reflex_action)5));
	assert_null(action_name((enum reflex_action)-1));
	assert_false(action_kills((enum reflex_action)99));
}

static void test_find_rule(void **state)
{
	struct reflex_config *c = parse_ok("rules:\n  - {name: Alpha, action: alert}\n  - {name: Beta, action: kill_pod}\n");

	(void)state;
	assert_ptr_equal(config_find_rule(c, "Beta"), &c->rules[1]);
	assert_ptr_equal(config_find_rule(c, "Alpha"), &c->rules[0]);
	assert_null(config_find_rule(c, "beta")); /* exact, as Falco names them */
	assert_null(config_find_rule(c, "Alph"));
	assert_null(config_find_rule(c, ""));
	assert_null(config_find_rule(c, NULL));
	assert_null(config_find_rule(NULL, "Alpha"));
	assert_null(config_free(c));
	assert_null(config_free(NULL));
}

/* Command-line overrides: the same result on every load of the same file (a reload re-applies them). */
static void test_overrides(void **state)
{
	static const char text[] = "dryrun: false\n"
				   "rules:\n"
				   "  - {name: a, action: kill_process, dryrun: false}\n"
				   "  - {name: b, action: kill_container}\n"
				   "agent:\n"
				   "  enforce_in_kernel: true\n"
				   "  deny_exec_in_kernel: true\n"
				   "  unknown_owner: allow\n"
				   "  node_name: from-file\n"
				   "  containerd_roots: [/file/a, /file/b, /file/c]\n";
	struct config_overrides none = { 0 }, o = {
		.dry_run = true,
		.no_kernel_enforce = true,
		.no_exec_deny = true,
		.unknown_owner = "refuse",
		.node = "cli-node",
		.crio_root = "/cli/crio",
		.containerd_roots = { "/cli/containerd" },
		.n_containerd_roots = 1,
	};
	char words[512];
	(void)state;

	for (int load = 0; load < 2; load++) {
		struct reflex_config *c = parse_ok(text);

		assert_int_equal(config_apply_overrides(c, &o), 0);
		assert_true(c->dryrun);
		/* --dry-run kills nothing: a rule's own dryrun: false does not win. */
		assert_int_not_equal(c->rules[0].dryrun, TRISTATE_FALSE);
		assert_false(c->agent.enforce_in_kernel);
		assert_false(c->agent.deny_exec_in_kernel);
		assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_REFUSE);
		assert_string_equal(c->agent.node_name, "cli-node");
		assert_string_equal(c->agent.crio_root, "/cli/crio");
		assert_int_equal(c->agent.n_containerd_roots, 1);
		assert_string_equal(c->agent.containerd_roots[0], "/cli/containerd");
		config_free(c);
	}
	/* No overrides: the file as written. */
	{
		struct reflex_config *c = parse_ok(text);

		assert_int_equal(config_apply_overrides(c, &none), 0);
		assert_false(c->dryrun);
		assert_int_equal(c->rules[0].dryrun, TRISTATE_FALSE);
		assert_true(c->agent.enforce_in_kernel);
		assert_int_equal(c->agent.unknown_owner, UNKNOWN_OWNER_ALLOW);
		assert_int_equal(c->agent.n_containerd_roots, 3);
		config_free(c);
	}
	assert_string_equal(config_overrides_describe(&none, words, sizeof(words)), "none");
	assert_string_equal(config_overrides_describe(&o, words, sizeof(words)),
			    "--dry-run --no-kernel-enforce --no-exec-deny --unknown-owner refuse --node cli-node "
			    "--containerd-root /cli/containerd --crio-root /cli/crio");
	/* Truncated, still a terminated string. */
	assert_string_equal(config_overrides_describe(&o, words, 12), "--dry-run -");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_config),
		cmocka_unit_test(test_shipped_agent_section_is_the_defaults),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_bool_forms),
		cmocka_unit_test(test_unknown_keys_and_types),
		cmocka_unit_test(test_rules_and_exceptions),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_agent_values),
		cmocka_unit_test(test_falco_and_kubernetes_values),
		cmocka_unit_test(test_safeguard_values),
		cmocka_unit_test(test_yaml_syntax),
		cmocka_unit_test(test_aliases),
		cmocka_unit_test(test_hostile_values_in_messages),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_near_identical_rule_names),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_actions),
		cmocka_unit_test(test_find_rule),
		cmocka_unit_test(test_overrides),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
