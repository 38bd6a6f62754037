// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The Kubernetes Event each audit record makes, and its exact body (events.k8s.io/v1). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "audit.h"
#include "k8s_events.h"

#define RULE "Drop and execute new binary in container"

static struct audit_record node_kill(void)
{
	struct audit_record r = {
		.time = { .tv_sec = 1795347602, .tv_nsec = 123456789 },
		.action = "kill_process",
		.outcome = "killed",
		.namespace_ = "shop",
		.pod = "web-7d9c",
		.pod_uid = "0b6f5a0e-7f3e-4a51-9d1b-2f0c6f1d7a11",
		.rule = RULE,
		.reason = "Dropped binary executed; automated termination",
		.operator_ = "reflex-agent",
		.node = "hop-node-1",
		.pid = 4502,
		.exe_path = "/tmp/xmrig",
		.event_id = "hop-node-1-4502-1795347602123456789",
		.latency_us = 0,
	};

	return r;
}

/* One row per outcome the controller audits: reason, type, regarding, or no Event at all. */
static void test_outcome_table(void **state)
{
	static const struct {
		const char *action, *outcome, *reason, *kind;
		bool warning;
	} rows[] = {
		{ "kill_process", "killed", "ReflexKilledProcess", "Pod", true },
		{ "kill_container", "killed", "ReflexKilledContainer", "Pod", true },
		{ "kill_process", "denied", "ReflexDeniedExec", "Pod", true },
		{ "kill_pod", "deleted", "ReflexDeletedPod", "Pod", true },
		{ "kill_pod", "gone", "ReflexPodGone", "Pod", false },
		{ "kill_pod", "dry_run", "ReflexDryRun", "Pod", false },
		{ "kill_pod", "refused", "ReflexRefused", "Pod", true },
		{ "kill_pod", "disarmed", "ReflexDisarmed", "Pod", true },
		{ "kill_pod", "excepted", "ReflexExcepted", "Pod", false },
		{ "kill_pod", "failed", "ReflexActionFailed", "Pod", true },
		{ "isolate_namespace", "isolated", "ReflexIsolatedNamespace", "Namespace", true },
		{ "isolate_namespace", "dry_run", "ReflexDryRun", "Namespace", false },
		{ "isolate_namespace", "refused", "ReflexRefused", "Namespace", true },
		{ "kill_pod", "duplicate", NULL, "Pod", false },
	};
	static const char *const none[] = { "correlated", "alert", "exited", "loaded", "lost" };
	struct audit_record r;
	struct k8s_event ev;
	char note[2048];

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		r = node_kill();
		r.action = rows[i].action;
		r.outcome = rows[i].outcome;
		assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), 0);
		if (rows[i].reason)
			assert_string_equal(ev.reason, rows[i].reason);
		else
			assert_null(ev.reason); /* a repeat: the incident's Event counts it */
		assert_string_equal(ev.kind, rows[i].kind);
		assert_string_equal(ev.name, !strcmp(rows[i].kind, "Namespace") ? "shop" : "web-7d9c");
		assert_int_equal(ev.warning, rows[i].warning);
		assert_string_equal(ev.event_id, r.event_id);
	}
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		r = node_kill();
		r.outcome = none[i];
		assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), -ENOENT);
	}
	/* Nothing to hang it on: no namespace, or a pod action without a pod. */
	r = node_kill();
	r.namespace_ = NULL;
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), -ENOENT);
	r = node_kill();
	r.pod = "";
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), -ENOENT);
	r.outcome = "duplicate";
	r.pod = "web";
	r.event_id = NULL;
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), -ENOENT);
}

/* The message an on-call person reads, and the exact body POSTed. */
static void test_note_and_body(void **state)
{
	struct audit_record r = node_kill();
	struct k8s_event ev;
	char note[2048], *body;

	(void)state;
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), 0);
	assert_string_equal(ev.note, "killed /tmp/xmrig (pid 4502) on node hop-node-1: " RULE
				     "; Dropped binary executed; automated termination");
	body = k8s_event_body(&ev, "reflex-controller-7c9d-x2", "web-7d9c.18f2a");
	assert_non_null(body);
	assert_string_equal(body,
			    "{\"apiVersion\":\"events.k8s.io/v1\",\"kind\":\"Event\",\"metadata\":{\"name\":\"web-7d9c.18f2a\","
			    "\"namespace\":\"shop\",\"annotations\":{\"reflex/event-id\":\"hop-node-1-4502-1795347602123456789\"}},"
			    "\"eventTime\":\"2026-11-22T11:40:02.123456Z\",\"reportingController\":\"reflex-controller\","
			    "\"reportingInstance\":\"reflex-controller-7c9d-x2\",\"action\":\"Kill\",\"reason\":\"ReflexKilledProcess\","
			    "\"type\":\"Warning\",\"note\":\"killed /tmp/xmrig (pid 4502) on node hop-node-1: " RULE
			    "; Dropped binary executed; automated termination\",\"regarding\":{\"apiVersion\":\"v1\","
			    "\"kind\":\"Pod\",\"name\":\"web-7d9c\",\"namespace\":\"shop\","
			    "\"uid\":\"0b6f5a0e-7f3e-4a51-9d1b-2f0c6f1d7a11\"}}");
	free(body);

	/* An isolation is about the Namespace (cluster-scoped: no namespace in regarding). */
	r.action = "isolate_namespace";
	r.outcome = "isolated";
	r.pod = NULL;
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), 0);
	assert_string_equal(ev.note, "isolated namespace shop (all egress denied): " RULE
				     "; Dropped binary executed; automated termination");
	body = k8s_event_body(&ev, "r", "shop.1");
	assert_non_null(strstr(body, "\"regarding\":{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"name\":\"shop\"}}"));
	free(body);

	/* A refusal says why (detail); a dry run is Normal. */
	r = node_kill();
	r.action = "kill_pod";
	r.outcome = "refused";
	r.detail = "owner DaemonSet node-exporter is protected";
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), 0);
	assert_non_null(strstr(ev.note, "did not kill_pod (refused): " RULE));
	assert_non_null(strstr(ev.note, "owner DaemonSet node-exporter is protected"));
}

/* A note longer than Kubernetes takes is cut to 1 kB, never inside a UTF-8 character. */
static void test_note_bound(void **state)
{
	struct audit_record r = node_kill();
	char detail[3000], note[4096];
	struct k8s_event ev;

	(void)state;
	for (size_t i = 0; i + 2 < sizeof(detail); i += 2)
		memcpy(detail + i, "\xc3\xa9", 2);
	detail[sizeof(detail) - 2] = '\0';
	r.outcome = "refused";
	r.action = "kill_pod";
	r.detail = detail;
	assert_int_equal(k8s_event_from_audit(&r, note, sizeof(note), &ev), 0);
	assert_true(strlen(ev.note) <= 1024);
	{
		json_t *j = json_string(ev.note);

		assert_non_null(j); /* valid UTF-8 */
		json_decref(j);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcome_table),
		cmocka_unit_test(test_note_and_body),
		cmocka_unit_test(test_note_bound),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
