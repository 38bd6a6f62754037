// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflexd's decide(): one row per case the policy knows, policy_decide then decide; and the kernel's flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decide.h"
#include "reflex/events.h"

#define EXEC "Drop and execute new binary in container"
#define FILELESS "Fileless execution via memfd_create"
#define POOL "Detect outbound connections to common miner pool ports"
#define STRATUM "Detect crypto miners using the Stratum protocol"

static const char *const base_yaml =
	"allowed_namespaces: [shop, backup, dbs, 'team-*']\n"
	"denied_namespaces: [kube-system]\n"
	"protected_owners: [DaemonSet, StatefulSet]\n"
	"rules:\n"
	"  - {name: " EXEC ", action: kill_process}\n"
	"  - {name: " FILELESS ", action: kill_process}\n"
	"  - {name: " POOL ", action: kill_process}\n"
	"  - {name: " STRATUM ", action: kill_process}\n"
	"  - {name: Box, action: kill_container}\n"
	"  - {name: Pod, action: kill_pod}\n"
	"  - {name: Alerting, action: alert}\n"
	"  - {name: Careful, action: kill_process, dryrun: true}\n"
	"  - {name: Isolate, action: isolate_namespace}\n"
	"exceptions:\n"
	"  - {rule: " EXEC ", namespace: backup}\n"
	"  - {rule: " EXEC ", namespace: team-a, exe_path: '/usr/bin/sqlite3*'}\n"
	"  - {rule: " EXEC ", namespace: team-a, image: 'registry.example/tools:*'}\n"
	"  - {rule: " FILELESS ", namespace: dbs}\n";

enum cfg { CFG_BASE, CFG_ALLOW_UNKNOWN, CFG_DRY_RUN, CFG_NO_KERNEL, CFG_NO_BLOCK, CFG_MAX };

static const char *const cfg_tail[CFG_MAX] = {
	[CFG_BASE] = "agent:\n  unknown_owner: refuse\n",
	[CFG_ALLOW_UNKNOWN] = "agent:\n  unknown_owner: allow\n",
	[CFG_DRY_RUN] = "dryrun: true\n",
	[CFG_NO_KERNEL] = "agent:\n  enforce_in_kernel: false\n",
	[CFG_NO_BLOCK] = "agent:\n  block_pool_connections: false\n",
};

static struct reflex_config *configs[CFG_MAX];

static int load_configs(void **state)
{
	for (int i = 0; i < CFG_MAX; i++) {
		char text[4096], err[256] = "";

		snprintf(text, sizeof(text), "%s%s", base_yaml, cfg_tail[i]);
		if (config_parse("d.yaml", text, strlen(text), &configs[i], err, sizeof(err))) {
			fprintf(stderr, "config %d: %s\n", i, err);
			return -1;
		}
	}
	return 0;
}

static int free_configs(void **state)
{
	for (int i = 0; i < CFG_MAX; i++)
		config_free(configs[i]);
	return 0;
}

/* ---- decide() ----------------------------------------------------------- */

struct row {
	const char *name;
	enum cfg cfg;
	/* The subject: a pod in shop owned by a ReplicaSet unless the row says otherwise. */
	const char *rule, *ns, *owner, *image, *exe;
	bool host;
	struct decide_input in; /* .policy is filled in */
	/* Expected. */
	enum policy_verdict verdict;
	enum decide_step step;
	const char *outcome;
	enum metric_counter counter;
	const char *kill_mode;
	bool out_of_step;
	const char *detail;
};

#define NONE METRIC_COUNTER_MAX
#define KNOWN .target_known = true, .namespace_known = true, .has_exe = true
#define FALCO .from_falco = true

static const struct row rows[] = {
	/* Namespaces and owners. */
	{ "allowed namespace: ask the rate limit", .in = { KNOWN }, .verdict = POLICY_ACT,
	  .step = DECIDE_ASK_RATE_LIMIT, .counter = NONE },
	{ "allowed namespace, admitted: kill_process", .in = { KNOWN, .admit = DECIDE_ADMIT_YES },
	  .step = DECIDE_KILL_PROCESS, .outcome = "killed", .counter = NONE },
	{ "kill_container, admitted", .rule = "Box", .in = { KNOWN, .admit = DECIDE_ADMIT_YES },
	  .step = DECIDE_KILL_CONTAINER, .outcome = "killed", .counter = NONE },
	{ "kill_pod on the node, admitted: the container", .rule = "Pod", .in = { KNOWN, .admit = DECIDE_ADMIT_YES },
	  .step = DECIDE_KILL_CONTAINER, .outcome = "killed", .counter = NONE },
	{ "denied namespace", .ns = "kube-system", .in = { KNOWN }, .verdict = POLICY_REFUSED, .outcome = "refused",
	  .counter = METRIC_REFUSALS },
	{ "namespace not allowed", .ns = "other", .in = { KNOWN }, .verdict = POLICY_REFUSED, .outcome = "refused",
	  .counter = METRIC_REFUSALS },
	{ "namespace unknown", .ns = "", .in = { .target_known = true }, .verdict = POLICY_REFUSED,
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "protected owner DaemonSet", .owner = "DaemonSet", .in = { KNOWN }, .verdict = POLICY_REFUSED,
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "protected owner StatefulSet", .owner = "StatefulSet", .in = { KNOWN }, .verdict = POLICY_REFUSED,
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "mirror pod (owner Node)", .owner = "Node", .in = { KNOWN }, .verdict = POLICY_REFUSED,
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "unknown owner, refuse", .owner = "", .in = { KNOWN }, .verdict = POLICY_REFUSED, .outcome = "refused",
	  .counter = METRIC_REFUSALS },
	{ "unknown owner, allow", .cfg = CFG_ALLOW_UNKNOWN, .owner = "", .in = { KNOWN }, .verdict = POLICY_ACT,
	  .step = DECIDE_ASK_RATE_LIMIT, .counter = NONE },
	{ "host process", .host = true, .in = { 0 }, .verdict = POLICY_REFUSED, .outcome = "refused",
	  .counter = METRIC_REFUSALS },
	/* Exceptions, by each field. */
	{ "exception by namespace", .ns = "backup", .in = { KNOWN }, .verdict = POLICY_EXCEPTED,
	  .outcome = "excepted", .counter = METRIC_ALERTS },
	{ "exception by exe glob", .ns = "team-a", .exe = "/usr/bin/sqlite3.40", .in = { KNOWN },
	  .verdict = POLICY_EXCEPTED, .outcome = "excepted", .counter = METRIC_ALERTS },
	{ "exception by image", .ns = "team-a", .image = "registry.example/tools:1", .in = { KNOWN },
	  .verdict = POLICY_EXCEPTED, .outcome = "excepted", .counter = METRIC_ALERTS },
	{ "exe and image exceptions: another exe and image in that namespace", .ns = "team-a",
	  .in = { KNOWN, .admit = DECIDE_ADMIT_YES }, .step = DECIDE_KILL_PROCESS, .outcome = "killed",
	  .counter = NONE },
	{ "exception by rule: another rule's exception does not apply", .rule = "Box", .ns = "backup",
	  .in = { KNOWN, .admit = DECIDE_ADMIT_YES }, .step = DECIDE_KILL_CONTAINER, .outcome = "killed",
	  .counter = NONE },
	/* Dry run, alert, disarmed. */
	{ "global dry-run", .cfg = CFG_DRY_RUN, .in = { KNOWN }, .verdict = POLICY_DRY_RUN, .outcome = "dry_run",
	  .counter = METRIC_DRY_RUNS },
	{ "per-rule dry-run", .rule = "Careful", .in = { KNOWN }, .verdict = POLICY_DRY_RUN, .outcome = "dry_run",
	  .counter = METRIC_DRY_RUNS },
	{ "alert-only action", .rule = "Alerting", .in = { KNOWN }, .verdict = POLICY_ALERT, .outcome = "alert",
	  .counter = METRIC_ALERTS },
	{ "alert-only action, connect denied in the kernel", .rule = "Alerting",
	  .in = { KNOWN, .kernel_denied = true }, .verdict = POLICY_ALERT, .outcome = "denied",
	  .counter = METRIC_ALERTS },
	{ "no such rule", .rule = "Unknown", .in = { KNOWN }, .verdict = POLICY_ALERT, .outcome = "alert",
	  .counter = METRIC_ALERTS },
	{ "isolate_namespace on the node: reported", .rule = "Isolate", .in = { KNOWN }, .verdict = POLICY_ACT,
	  .outcome = "alert", .counter = METRIC_ALERTS },
	{ "isolate_namespace, connect denied in the kernel", .rule = "Isolate",
	  .in = { KNOWN, .kernel_denied = true }, .verdict = POLICY_ACT, .outcome = "denied",
	  .counter = METRIC_ALERTS },
	{ "disarmed: the rate limit refuses", .in = { KNOWN, .admit = DECIDE_ADMIT_NO }, .outcome = "disarmed",
	  .counter = METRIC_REFUSALS },
	{ "kernel-denied connect, kill_process admitted", .rule = POOL,
	  .in = { KNOWN, .kernel_denied = true, .admit = DECIDE_ADMIT_YES }, .step = DECIDE_KILL_PROCESS,
	  .outcome = "killed", .counter = NONE },
	/* The kernel already acted. */
	{ "kernel already killed", .in = { KNOWN, .kernel_killed = true }, .step = DECIDE_CONFIRM_KERNEL_KILL,
	  .outcome = "killed", .counter = METRIC_KILLS_KERNEL, .kill_mode = "kernel" },
	{ "kernel killed, kill_container: the rest of the container", .rule = "Box",
	  .in = { KNOWN, .kernel_killed = true }, .step = DECIDE_KILL_CONTAINER, .outcome = "killed",
	  .counter = METRIC_KILLS_KERNEL, .kill_mode = "kernel" },
	{ "kernel killed, policy now refuses: out of step", .ns = "other", .in = { KNOWN, .kernel_killed = true },
	  .verdict = POLICY_REFUSED, .step = DECIDE_CONFIRM_KERNEL_KILL, .outcome = "killed",
	  .counter = METRIC_KILLS_KERNEL, .kill_mode = "kernel", .out_of_step = true },
	{ "LSM refused the exec", .in = { KNOWN, .exec_denied = true, .kernel_denied = true },
	  .step = DECIDE_RECORD_AT_EVENT, .outcome = "denied", .counter = NONE, .kill_mode = "lsm" },
	{ "LSM refused the exec, kill_container", .rule = "Box",
	  .in = { KNOWN, .exec_denied = true, .kernel_denied = true }, .step = DECIDE_KILL_CONTAINER,
	  .outcome = "killed", .counter = NONE, .kill_mode = "lsm" },
	{ "LSM refused, kill_container, container gone", .rule = "Box",
	  .in = { .exec_denied = true, .kernel_denied = true }, .step = DECIDE_RECORD_AT_EVENT,
	  .outcome = "denied", .counter = NONE, .kill_mode = "lsm" },
	/* Falco alerts. */
	{ "falco: admitted kill_process", .in = { FALCO, KNOWN, .admit = DECIDE_ADMIT_YES },
	  .step = DECIDE_KILL_PROCESS, .outcome = "killed", .counter = NONE },
	{ "falco: ask the rate limit", .in = { FALCO, KNOWN }, .step = DECIDE_ASK_RATE_LIMIT, .counter = NONE },
	{ "falco: unknown container", .in = { FALCO, .has_exe = true, .namespace_known = true },
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "falco: namespace unknown to runtime and API", .in = { FALCO, .target_known = true, .has_exe = true },
	  .outcome = "refused", .counter = METRIC_REFUSALS },
	{ "falco: kill_process without exe", .in = { FALCO, .target_known = true, .namespace_known = true },
	  .outcome = "refused", .counter = METRIC_REFUSALS,
	  .detail = "; the alert names no executable (proc.exepath): no process to match" },
	{ "falco: kill_container without exe", .rule = "Box",
	  .in = { FALCO, .target_known = true, .namespace_known = true }, .step = DECIDE_ASK_RATE_LIMIT,
	  .counter = NONE },
	{ "falco: disarmed", .in = { FALCO, KNOWN, .admit = DECIDE_ADMIT_NO }, .outcome = "disarmed",
	  .counter = METRIC_REFUSALS },
	{ "falco: isolate_namespace", .rule = "Isolate", .in = { FALCO, KNOWN }, .outcome = "alert",
	  .counter = METRIC_ALERTS },
	{ "falco: per-rule dry-run", .rule = "Careful", .in = { FALCO, KNOWN }, .verdict = POLICY_DRY_RUN,
	  .outcome = "dry_run", .counter = METRIC_DRY_RUNS },
	{ "falco: excepted", .ns = "backup", .in = { FALCO, KNOWN }, .verdict = POLICY_EXCEPTED,
	  .outcome = "excepted", .counter = METRIC_ALERTS },
	{ "falco: kernel flags are ignored on the Falco path", .in = { FALCO, KNOWN, .kernel_killed = true },
	  .step = DECIDE_ASK_RATE_LIMIT, .counter = NONE },
};

static const char *or_default(const char *v, const char *def)
{
	return v ? (*v ? v : NULL) : def;
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct policy_subject s = {
		.rule = r->rule ? r->rule : EXEC,
		.is_container = !r->host,
		.namespace_ = r->host ? NULL : or_default(r->ns, "shop"),
		.pod = r->host ? NULL : "web-1",
		.owner_kind = r->host ? NULL : or_default(r->owner, "ReplicaSet"),
		.image = or_default(r->image, "busybox"),
		.exe_path = or_default(r->exe, "/tmp/x"),
	};
	struct policy_decision d;
	struct decide_input in = r->in;
	struct decide_plan p;

	policy_decide(configs[r->cfg], &s, &d);
	assert_int_equal(d.verdict, r->verdict);
	in.policy = &d;
	memset(&p, 0xa5, sizeof(p)); /* everything must be written */
	decide(&in, &p);
	assert_int_equal(p.step, r->step);
	if (r->outcome)
		assert_string_equal(p.outcome, r->outcome);
	else
		assert_null(p.outcome);
	assert_int_equal(p.counter, r->counter);
	if (r->kill_mode)
		assert_string_equal(p.kill_mode, r->kill_mode);
	else
		assert_null(p.kill_mode);
	assert_int_equal(p.kernel_acted, r->kill_mode != NULL);
	assert_int_equal(p.out_of_step, r->out_of_step);
	if (r->detail)
		assert_string_equal(p.detail, r->detail);
	else
		assert_null(p.detail);
}

/* ---- decide_kernel_flags() ---------------------------------------------- */

#define ALL_ARMED (DECIDE_KRULE_EXEC | DECIDE_KRULE_FILELESS | DECIDE_KRULE_STRATUM | DECIDE_KRULE_POOL)
#define C REFLEX_VERDICT_CONTAINER
#define KILLS (REFLEX_VERDICT_KILL_UPPER_EXEC | REFLEX_VERDICT_KILL_FILELESS_EXEC | \
	       REFLEX_VERDICT_KILL_STRATUM_EXEC | REFLEX_VERDICT_KILL_POOL_CONNECT)
#define BLOCKS (REFLEX_VERDICT_DROP_STRATUM | REFLEX_VERDICT_DENY_POOL_CONNECT)

struct flags_row {
	const char *name;
	enum cfg cfg;
	const char *ns, *owner;
	uint32_t armed;
	uint32_t flags;
};

static const struct flags_row flags_rows[] = {
	{ "namespace unknown: reported only", CFG_BASE, NULL, "ReplicaSet", ALL_ARMED, C },
	{ "allowed namespace, all armed", CFG_BASE, "shop", "ReplicaSet", ALL_ARMED, C | KILLS | BLOCKS },
	{ "denied namespace", CFG_BASE, "kube-system", "ReplicaSet", ALL_ARMED, C },
	{ "namespace not allowed", CFG_BASE, "other", "ReplicaSet", ALL_ARMED, C },
	{ "protected owner", CFG_BASE, "shop", "DaemonSet", ALL_ARMED, C },
	{ "mirror pod", CFG_BASE, "shop", "Node", ALL_ARMED, C },
	{ "unknown owner, refuse", CFG_BASE, "shop", NULL, ALL_ARMED, C },
	{ "unknown owner, allow", CFG_ALLOW_UNKNOWN, "shop", NULL, ALL_ARMED, C | KILLS | BLOCKS },
	{ "exception by namespace: that rule only", CFG_BASE, "backup", "ReplicaSet", ALL_ARMED,
	  C | (KILLS & ~REFLEX_VERDICT_KILL_UPPER_EXEC) | BLOCKS },
	{ "exception by exe or image in a namespace: not that rule there", CFG_BASE, "team-a", "ReplicaSet", ALL_ARMED,
	  C | (KILLS & ~REFLEX_VERDICT_KILL_UPPER_EXEC) | BLOCKS },
	{ "fileless exception by namespace", CFG_BASE, "dbs", "ReplicaSet", ALL_ARMED,
	  C | (KILLS & ~REFLEX_VERDICT_KILL_FILELESS_EXEC) | BLOCKS },
	{ "global dry-run: nothing", CFG_DRY_RUN, "shop", "ReplicaSet", ALL_ARMED, C },
	{ "disarmed: no kill, still blocks", CFG_BASE, "shop", "ReplicaSet", 0, C | BLOCKS },
	{ "only the exec rule armed", CFG_BASE, "shop", "ReplicaSet", DECIDE_KRULE_EXEC,
	  C | REFLEX_VERDICT_KILL_UPPER_EXEC | BLOCKS },
	{ "enforce_in_kernel false", CFG_NO_KERNEL, "shop", "ReplicaSet", ALL_ARMED, C | BLOCKS },
	{ "block_pool_connections false", CFG_NO_BLOCK, "shop", "ReplicaSet", ALL_ARMED, C | KILLS },
};

static void run_flags_row(void **state)
{
	const struct flags_row *r = *state;

	assert_int_equal(decide_kernel_flags(configs[r->cfg], r->ns, r->owner, r->armed), r->flags);
}

/* One exec, one rule: the kind the kernel kills under, from the exec's kinds and the armed bits. */
static void test_exec_kill_kind(void **state)
{
	const uint32_t S = REFLEX_EXEC_STRATUM_ARGV, F = REFLEX_EXEC_FILELESS, U = REFLEX_EXEC_UPPER_LAYER;
	const uint32_t VS = REFLEX_VERDICT_KILL_STRATUM_EXEC, VF = REFLEX_VERDICT_KILL_FILELESS_EXEC,
		       VU = REFLEX_VERDICT_KILL_UPPER_EXEC;
	static const struct { uint32_t flags, verdict, want; } kinds[] = {
		{ 0, 0, 0 },
		{ 0, ~0u, 0 },
		{ U, VU, REFLEX_EXEC_UPPER_LAYER },
		{ U, VS | VF, 0 },                               /* only other kinds armed */
		{ U | S, VS | VU, REFLEX_EXEC_STRATUM_ARGV },     /* precedence */
		{ U | S, VU, REFLEX_EXEC_UPPER_LAYER },           /* a URL in argv never shields it */
		{ U | F, VU, REFLEX_EXEC_UPPER_LAYER },           /* nor an unlink */
		{ U | F | S, VF | VU, REFLEX_EXEC_FILELESS },
		{ F | S, VS, REFLEX_EXEC_STRATUM_ARGV },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		assert_int_equal(reflex_exec_kill_kind(kinds[i].flags, kinds[i].verdict), kinds[i].want);
}

#define N_ROWS (sizeof(rows) / sizeof(rows[0]))
#define N_FLAGS (sizeof(flags_rows) / sizeof(flags_rows[0]))

int main(void)
{
	struct CMUnitTest tests[N_ROWS + N_FLAGS + 1];
	size_t n = 0;

	tests[n++] = (struct CMUnitTest){ .name = "exec kill kind", .test_func = test_exec_kill_kind };
	for (size_t i = 0; i < N_ROWS; i++)
		tests[n++] = (struct CMUnitTest){ .name = rows[i].name, .test_func = run_row,
						  .initial_state = (void *)&rows[i] };
	for (size_t i = 0; i < N_FLAGS; i++)
		tests[n++] = (struct CMUnitTest){ .name = flags_rows[i].name, .test_func = run_flags_row,
						  .initial_state = (void *)&flags_rows[i] };
	return _cmocka_run_group_tests("agent_decide", tests, n, load_configs, free_configs);
}
