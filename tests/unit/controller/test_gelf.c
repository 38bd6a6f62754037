// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * gelf.c: audit records (from audit_format and by hand) to GELF 1.1, byte
 * for byte; the validator against each rule; the HTTP sender against a real
 * libmicrohttpd receiver on loopback (gunzipped body compared, 202, 500,
 * nothing listening, silence); the UDP sender against a real socket
 * (zlib, chunk reassembly byte-exact, the 128-chunk limit at its edge).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <zlib.h>

#include "audit.h"
#include "gelf.h"

#define CID "3f2a9c1d5b7e4a6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e"
#define RULE "Drop and execute new binary in container"
#define REASON "dropped binary executed in a container; killed in the kernel at exec"

/* The README's record, through the real audit_format. */
static char *readme_record(bool dry_run)
{
	struct audit_record r = {
		.time = { .tv_sec = 1795347602, .tv_nsec = 123456789 }, /* 2026-11-22T11:40:02.123456Z */
		.action = "kill_process",
		.outcome = dry_run ? "dry_run" : "killed",
		.namespace_ = "shop",
		.pod = "web-7d9c",
		.rule = RULE,
		.dry_run = dry_run,
		.reason = REASON,
		.operator_ = "reflex-agent",
		.node = "it-node",
		.container_id = CID,
		.pid = 4242,
		.exe_path = "/tmp/xmrig",
		.source = "kernel",
		.latency_us = 31,
		.kill_mode = dry_run ? NULL : "kernel",
		.comm = "xmrig",
		.image = "docker.io/library/busybox:1.36",
		.cgroup_id = 12345,
		.event_id = "7b1e0c2a-1",
	};
	char *line = audit_format(&r);

	assert_non_null(line);
	return line;
}

static char *convert(const char *audit, const struct gelf_fields *f)
{
	char *out = NULL;

	assert_int_equal(gelf_message_from_audit(audit, strlen(audit), f, &out), 0);
	assert_non_null(out);
	return out;
}

static void assert_valid(const char *gelf)
{
	char err[256] = "";

	if (gelf_validate(gelf, strlen(gelf), err, sizeof(err)))
		fail_msg("invalid GELF (%s): %s", err, gelf);
}

static void test_audit_record(void **state)
{
	char *audit = readme_record(false), *gelf = convert(audit, NULL);
	json_t *o;

	(void)state;
	assert_string_equal(
		gelf,
		"{\"version\":\"1.1\",\"timestamp\":1795347602.123456,\"host\":\"it-node\","
		"\"short_message\":\"reflex: kill_process killed shop/web-7d9c (" RULE ")\","
		"\"full_message\":\"" REASON "\",\"level\":2,\"_stream\":\"falco-automated-response\","
		"\"_audit_timestamp\":\"2026-11-22T11:40:02.123456Z\",\"_action\":\"kill_process\","
		"\"_outcome\":\"killed\",\"_namespace\":\"shop\",\"_pod\":\"web-7d9c\",\"_rule\":\"" RULE "\","
		"\"_dry_run\":\"false\",\"_reason\":\"" REASON "\",\"_operator\":\"reflex-agent\","
		"\"_node\":\"it-node\",\"_container_id\":\"" CID "\",\"_pid\":4242,\"_exe_path\":\"/tmp/xmrig\","
		"\"_audit_source\":\"kernel\",\"_latency_us\":31,\"_kill_mode\":\"kernel\",\"_comm\":\"xmrig\","
		"\"_image\":\"docker.io/library/busybox:1.36\",\"_cgroup_id\":12345,\"_event_id\":\"7b1e0c2a-1\"}");
	assert_valid(gelf);

	/* The same, as a JSON reader sees it. */
	o = json_loads(gelf, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_true(json_is_real(json_object_get(o, "timestamp")));
	assert_true(json_real_value(json_object_get(o, "timestamp")) == 1795347602.123456);
	assert_int_equal(json_integer_value(json_object_get(o, "level")), 2);
	assert_string_equal(json_string_value(json_object_get(o, "_rule")), RULE);
	assert_string_equal(json_string_value(json_object_get(o, "_dry_run")), "false");
	assert_null(json_object_get(o, "_id"));
	/* Nulls are left out, not sent as "null". */
	assert_null(json_object_get(o, "_falco_priority"));
	assert_null(json_object_get(o, "_falco_output"));
	/* Names Graylog would drop silently are not used. */
	assert_null(json_object_get(o, "_source"));
	assert_null(json_object_get(o, "_timestamp"));
	json_decref(o);
	free(gelf);
	free(audit);
}

/* A record with a detail (the controller's): full_message is the detail, _reason the operator's text. */
static void test_detail_is_full_message(void **state)
{
	struct audit_record r = {
		.time = { .tv_sec = 1795347602, .tv_nsec = 123456789 },
		.event_time = { .tv_sec = 1795347601, .tv_nsec = 500000000 },
		.action = "kill_pod",
		.outcome = "deleted",
		.namespace_ = "shop",
		.pod = "web-7d9c",
		.rule = RULE,
		.reason = "Crypto miner process detected by Falco; automated termination",
		.detail = "owners: Pod web-7d9c <- ReplicaSet web <- Deployment web; pod shop/web-7d9c deleted",
		.operator_ = "reflex-controller",
		.falco_priority = "CRITICAL",
		.node = "it-node",
		.pid = -1,
		.latency_us = -1,
	};
	char *audit = audit_format(&r), *gelf;
	json_t *o;

	(void)state;
	assert_non_null(audit);
	gelf = convert(audit, NULL);
	o = json_loads(gelf, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "full_message")), r.detail);
	assert_string_equal(json_string_value(json_object_get(o, "_detail")), r.detail);
	assert_string_equal(json_string_value(json_object_get(o, "_reason")), r.reason);
	assert_string_equal(json_string_value(json_object_get(o, "_falco_priority")), "CRITICAL");
	assert_string_equal(json_string_value(json_object_get(o, "_event_time")), "2026-11-22T11:40:01.500000Z");
	assert_valid(gelf);
	json_decref(o);
	free(gelf);
	free(audit);
}

/* A chained record carries its exact line: the chain's hashes are checkable from Graylog. */
static void test_chained_record_keeps_its_line(void **state)
{
	struct audit_record r = {
		.time = { .tv_sec = 1795347602 },
		.action = "kill_pod",
		.outcome = "deleted",
		.rule = RULE,
		.operator_ = "reflex-controller",
		.node = "it-node",
		.pid = -1,
		.latency_us = -1,
		.writer = "reflex-controller-0",
		.seq = 42,
		.prev_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	};
	char *audit = audit_format(&r), *gelf, hex[65], want[65];
	json_t *o;
	const char *line;

	(void)state;
	assert_non_null(audit);
	gelf = convert(audit, NULL);
	o = json_loads(gelf, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	line = json_string_value(json_object_get(o, "_audit_line"));
	assert_non_null(line);
	assert_string_equal(line, audit);
	audit_line_sha256(line, strlen(line), hex);
	audit_line_sha256(audit, strlen(audit), want);
	assert_string_equal(hex, want);
	assert_int_equal(json_integer_value(json_object_get(o, "_seq")), 42);
	assert_string_equal(json_string_value(json_object_get(o, "_writer")), "reflex-controller-0");
	assert_valid(gelf);
	json_decref(o);
	free(gelf);
	free(audit);
	/* Records without a chain (older writers) carry no line. */
	r.writer = NULL;
	audit = audit_format(&r);
	gelf = convert(audit, NULL);
	assert_null(strstr(gelf, "_audit_line"));
	free(gelf);
	free(audit);
}

static void test_dry_run(void **state)
{
	char *audit = readme_record(true), *gelf = convert(audit, NULL);
	json_t *o = json_loads(gelf, 0, NULL);

	(void)state;
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "short_message")),
			    "DRY_RUN reflex: kill_process dry_run shop/web-7d9c (" RULE ")");
	/* audit_format put its own marker in the reason. */
	assert_string_equal(json_string_value(json_object_get(o, "full_message")), "DRY_RUN: " REASON);
	assert_int_equal(json_integer_value(json_object_get(o, "level")), 4);
	assert_string_equal(json_string_value(json_object_get(o, "_dry_run")), "true");
	assert_null(json_object_get(o, "_kill_mode"));
	assert_valid(gelf);
	json_decref(o);
	free(gelf);
	free(audit);

	/* dry_run true alone is enough for the prefix. */
	gelf = convert("{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\",\"action\":\"alert\","
		       "\"outcome\":\"alert\",\"dry_run\":true}",
		       NULL);
	o = json_loads(gelf, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "short_message")), "DRY_RUN reflex: alert alert -");
	assert_int_equal(json_integer_value(json_object_get(o, "level")), 5);
	json_decref(o);
	free(gelf);
}

/* Ids, nested values, odd and reserved names, reals, collisions, configured host and stream. */
static void test_field_conversion(void **state)
{
	static const char audit[] =
		"{\"timestamp\":\"2025-11-21T12:06:42.5+01:00\",\"id\":\"abc\",\"action\":\"kill_container\","
		"\"outcome\":\"refused\",\"namespace\":\"kube-system\",\"pod\":null,\"dry_run\":true,\"reason\":null,"
		"\"falco_priority\":\"Critical\",\"labels\":{\"app\":\"web\",\"tier\":[1,2]},\"tags\":[\"a\",\"b\"],"
		"\"empty\":{},\"weird key/\xc3\xa9\":\"x\",\"gl2_remote_ip\":\"1.2.3.4\",\"source\":\"falco\","
		"\"_source\":\"es\",\"ratio\":0.25,\"big\":-9007199254740993,\"flag\":false,"
		"\"reflex_stream\":\"mine\",\"x y\":1,\"x_y\":2,\"node\":\"it-node\"}";
	const struct gelf_fields f = {
		.host = "graylog-sender",
		.stream_field = "_reflex_stream",
		.stream = "security",
	};
	char *gelf = convert(audit, &f);

	(void)state;
	assert_string_equal(gelf,
			    "{\"version\":\"1.1\",\"timestamp\":1763723202.500000,\"host\":\"graylog-sender\","
			    "\"short_message\":\"DRY_RUN reflex: kill_container refused kube-system\",\"level\":4,"
			    "\"_reflex_stream\":\"security\",\"_audit_timestamp\":\"2025-11-21T12:06:42.5+01:00\","
			    "\"_audit_id\":\"abc\",\"_action\":\"kill_container\",\"_outcome\":\"refused\","
			    "\"_namespace\":\"kube-system\",\"_dry_run\":\"true\",\"_falco_priority\":\"Critical\","
			    "\"_labels\":\"{\\\"app\\\":\\\"web\\\",\\\"tier\\\":[1,2]}\","
			    "\"_tags\":\"[\\\"a\\\",\\\"b\\\"]\","
			    "\"_empty\":\"{}\",\"_weird_key___\":\"x\",\"_audit_gl2_remote_ip\":\"1.2.3.4\","
			    "\"_audit_source\":\"falco\",\"_audit__source\":\"es\",\"_ratio\":0.25,"
			    "\"_big\":-9007199254740993,\"_flag\":\"false\",\"_reflex_stream_2\":\"mine\",\"_x_y\":1,"
			    "\"_x_y_2\":2,\"_node\":\"it-node\"}");
	assert_valid(gelf);
	free(gelf);

	/* stream "" leaves the field out; the host comes from "node". */
	{
		const struct gelf_fields nostream = { .stream = "" };

		gelf = convert("{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n1\",\"container_id\":\"" CID "\"}",
			       &nostream);
		assert_string_equal(gelf, "{\"version\":\"1.1\",\"timestamp\":1795347602.000000,\"host\":\"n1\","
					  "\"short_message\":\"reflex: unknown unknown container 3f2a9c1d5b7e\","
					  "\"level\":6,\"_audit_timestamp\":\"2026-11-22T11:40:02Z\",\"_node\":\"n1\","
					  "\"_container_id\":\"" CID "\"}");
		free(gelf);
	}
}

static int level_of(const char *outcome, const char *dry_run)
{
	char audit[256], *gelf;
	json_t *o;
	int level;

	snprintf(audit, sizeof(audit), "{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\"%s%s%s%s%s}",
		 outcome ? ",\"outcome\":\"" : "", outcome ? outcome : "", outcome ? "\"" : "",
		 dry_run ? ",\"dry_run\":" : "", dry_run ? dry_run : "");
	gelf = convert(audit, NULL);
	o = json_loads(gelf, 0, NULL);
	assert_non_null(o);
	level = (int)json_integer_value(json_object_get(o, "level"));
	json_decref(o);
	free(gelf);
	return level;
}

static void test_levels(void **state)
{
	static const struct {
		const char *outcome;
		int level;
	} cases[] = {
		{ "killed", 2 },  { "failed", 2 },  { "refused", 4 }, { "dry_run", 4 },   { "disarmed", 4 },
		{ "alert", 5 },   { "denied", 5 },  { "excepted", 6 }, { "exited", 6 },   { "confirmed", 6 },
		{ "whatever", 6 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (level_of(cases[i].outcome, NULL) != cases[i].level)
			fail_msg("outcome %s: level %d, want %d", cases[i].outcome, level_of(cases[i].outcome, NULL),
				 cases[i].level);
	/* The outcome decides; without one, dry_run does. */
	assert_int_equal(level_of("killed", "true"), 2);
	assert_int_equal(level_of(NULL, "true"), 4);
	assert_int_equal(level_of(NULL, "false"), 6);
	assert_int_equal(level_of(NULL, NULL), 6);
}

static void test_timestamps(void **state)
{
	static const struct {
		const char *in, *want;
	} good[] = {
		{ "2026-11-22T11:40:02.123456Z", "1795347602.123456" },
		{ "2025-11-21T11:06:42.123456Z", "1763723202.123456" },
		{ "2026-11-22T11:40:02Z", "1795347602.000000" },
		{ "2026-11-22t11:40:02.1z", "1795347602.100000" },
		{ "2026-11-22T11:40:02.123456789Z", "1795347602.123456" }, /* truncated, not rounded */
		{ "2026-11-22T11:40:02.999999999Z", "1795347602.999999" },
		{ "2026-11-22T12:40:02.000001+01:00", "1795347602.000001" },
		{ "2026-11-22T11:10:02-00:30", "1795347602.000000" },
		{ "1970-01-01T00:00:00Z", "0.000000" },
		{ "2024-02-29T00:00:00Z", "1709164800.000000" },
		{ "2000-03-01T00:00:00Z", "951868800.000000" },
		{ "9999-12-31T23:59:59.999999Z", "253402300799.999999" },
	};
	static const char *const bad[] = {
		"",
		"2026-11-22",
		"2026-11-22T11:40:02",
		"2026-11-22 11:40:02Z",
		"2026-13-01T00:00:00Z",
		"2026-00-01T00:00:00Z",
		"2026-02-29T00:00:00Z",
		"2100-02-29T00:00:00Z",
		"2026-11-31T00:00:00Z",
		"2026-11-00T00:00:00Z",
		"2026-11-22T24:00:00Z",
		"2026-11-22T11:60:00Z",
		"2026-11-22T11:40:60Z",
		"2026-11-22T11:40:02.Z",
		"2026-11-22T11:40:02Zx",
		"2026-11-22T11:40:02+0100",
		"2026-11-22T11:40:02+24:00",
		"1969-12-31T23:59:59Z",
		"1970-01-01T00:30:00+01:00",
		"26-11-22T11:40:02Z",
		"+2026-11-22T11:40:02Z",
		"2026-1-22T11:40:02Z",
		" 2026-11-22T11:40:02Z",
		"2026-11-22T11:40:0２Z",
	};
	char audit[256], want[128], *gelf, *out;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(audit, sizeof(audit), "{\"timestamp\":\"%s\",\"node\":\"n\"}", good[i].in);
		gelf = convert(audit, NULL);
		snprintf(want, sizeof(want), "{\"version\":\"1.1\",\"timestamp\":%s,\"host\":\"n\",", good[i].want);
		if (strncmp(gelf, want, strlen(want)))
			fail_msg("%s: got %s, want %s...", good[i].in, gelf, want);
		assert_valid(gelf);
		free(gelf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(audit, sizeof(audit), "{\"timestamp\":\"%s\",\"node\":\"n\"}", bad[i]);
		out = (char *)"untouched";
		if (gelf_message_from_audit(audit, strlen(audit), NULL, &out) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_string_equal(out, "untouched");
	}
}

static void test_rejects_input(void **state)
{
	static const char *const bad[] = {
		"",
		"not json",
		"[]",
		"\"2026-11-22T11:40:02Z\"",
		"{}",
		"{\"node\":\"n\"}",
		"{\"timestamp\":1795347602,\"node\":\"n\"}",
		"{\"timestamp\":null,\"node\":\"n\"}",
		"{\"timestamp\":\"2026-11-22T11:40:02Z\",\"timestamp\":\"2026-11-22T11:40:03Z\",\"node\":\"n\"}",
		"{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"\xff\"}",
		"{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\"",
		"{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\"} trailing",
	};
	static const char good[] = "{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\"}";
	static const char *const bad_stream_fields[] = { "stream", "_id", "_a b", "_", "", "_\xc3\xa9" };
	char *out = (char *)"untouched", host[256], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (gelf_message_from_audit(bad[i], strlen(bad[i]), NULL, &out) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_string_equal(out, "untouched");
	}
	for (size_t i = 0; i < sizeof(bad_stream_fields) / sizeof(bad_stream_fields[0]); i++) {
		const struct gelf_fields f = { .stream_field = bad_stream_fields[i] };

		if (gelf_message_from_audit(good, strlen(good), &f, &out) != -EINVAL)
			fail_msg("stream field '%s' accepted", bad_stream_fields[i]);
	}
	{
		const struct gelf_fields blank_host = { .host = " \t" }, bad_value = { .stream = "\xff" };

		assert_int_equal(gelf_message_from_audit(good, strlen(good), &blank_host, &out), -EINVAL);
		assert_int_equal(gelf_message_from_audit(good, strlen(good), &bad_value, &out), -EINVAL);
	}
	assert_int_equal(gelf_message_from_audit(NULL, 0, NULL, &out), -EINVAL);
	assert_int_equal(gelf_message_from_audit(good, strlen(good), NULL, NULL), -EINVAL);
	assert_string_equal(out, "untouched");

	/* LEN is honoured: what follows the object is not read. */
	{
		static const char longer[] = "{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":\"n\"}garbage";

		assert_int_equal(gelf_message_from_audit(longer, sizeof(good) - 1, NULL, &out), 0);
		assert_string_equal(out, "{\"version\":\"1.1\",\"timestamp\":1795347602.000000,\"host\":\"n\","
					 "\"short_message\":\"reflex: unknown unknown -\",\"level\":6,"
					 "\"_stream\":\"falco-automated-response\","
					 "\"_audit_timestamp\":\"2026-11-22T11:40:02Z\",\"_node\":\"n\"}");
		free(out);
	}

	/* No node and no configured host: this machine's name. */
	assert_int_equal(gethostname(host, sizeof(host)), 0);
	host[sizeof(host) - 1] = '\0';
	out = convert("{\"timestamp\":\"2026-11-22T11:40:02Z\",\"node\":null}", NULL);
	snprintf(want, sizeof(want), "{\"version\":\"1.1\",\"timestamp\":1795347602.000000,\"host\":\"%s\",", host);
	assert_memory_equal(out, want, strlen(want));
	free(out);
}

/* A valid message's start, for the additional-field cases. */
#define BASE "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\","

static void test_validate(void **state)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ BASE "\"_a b\":1}", "field \"_a b\"" },
		{ BASE "\"_id\":\"x\"}", "_id is reserved" },
		{ BASE "\"_n\":{\"a\":1}}", "string or a number" },
		{ BASE "\"_n\":[1]}", "string or a number" },
		{ BASE "\"_n\":true}", "string or a number" },
		{ BASE "\"_n\":null}", "string or a number" },
		{ "{\"version\":\"1.1\",\"short_message\":\"m\"}", "\"host\"" },
		{ "{\"version\":\"1.1\",\"host\":\"\",\"short_message\":\"m\"}", "\"host\"" },
		{ "{\"version\":\"1.1\",\"host\":\" \\t\",\"short_message\":\"m\"}", "\"host\"" },
		{ "{\"version\":\"1.1\",\"host\":5,\"short_message\":\"m\"}", "\"host\"" },
		{ "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"\"}", "\"short_message\"" },
		{ "{\"version\":\"1.1\",\"host\":\"h\"}", "\"short_message\"" },
		{ "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":[\"m\"]}", "\"short_message\"" },
		{ "{\"version\":\"1.0\",\"host\":\"h\",\"short_message\":\"m\"}", "\"version\"" },
		{ "{\"host\":\"h\",\"short_message\":\"m\"}", "\"version\"" },
		{ "{\"version\":1.1,\"host\":\"h\",\"short_message\":\"m\"}", "\"version\"" },
		{ BASE "\"foo\":\"x\"}", "start with '_'" },
		{ BASE "\"_\":\"x\"}", "'_' alone" },
		{ BASE "\"_\xc3\xa9\":\"x\"}", "^[\\w\\.\\-]*$" },
		{ BASE "\"_a/b\":\"x\"}", "^[\\w\\.\\-]*$" },
		{ BASE "\"level\":8}", "\"level\"" },
		{ BASE "\"level\":-1}", "\"level\"" },
		{ BASE "\"level\":\"2\"}", "\"level\"" },
		{ BASE "\"level\":2.5}", "\"level\"" },
		{ BASE "\"timestamp\":\"1795347602\"}", "\"timestamp\"" },
		{ BASE "\"full_message\":5}", "\"full_message\"" },
		{ BASE "\"line\":\"12\"}", "\"line\"" },
		{ "{\"version\":\"1.1\",\"host\":\"h\",\"host\":\"i\",\"short_message\":\"m\"}", "not JSON" },
		{ "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"} x", "not JSON" },
		{ "{\"version\":\"1.1\"", "not JSON" },
		{ "", "not JSON" },
		{ "[]", "not a JSON object" },
	};
	static const char *const good[] = {
		"{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"}",
		"{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\",\"full_message\":\"f\","
		"\"timestamp\":1795347602.123456,\"level\":0,\"facility\":\"x\",\"line\":3,\"file\":\"a.c\","
		"\"_a-b.c_D9\":\"v\",\"_n\":-1.5e3,\"_i\":7,\"_e\":\"\"}",
		"{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\",\"level\":7,\"_id_\":1,\"__id\":2}",
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (gelf_validate(bad[i].json, strlen(bad[i].json), err, sizeof(err)) != -EINVAL)
			fail_msg("accepted: %s", bad[i].json);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: reason '%s' does not say '%s'", bad[i].json, err, bad[i].why);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_valid(good[i]);
	/* ERR may be NULL; LEN bounds the text. */
	assert_int_equal(gelf_validate("[]", 2, NULL, 0), -EINVAL);
	assert_int_equal(gelf_validate(NULL, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(gelf_validate(good[0], strlen(good[0]) - 1, err, sizeof(err)), -EINVAL);
}

#undef BASE

/* --- Compression helpers --- */

/* Inflates all of IN (WINDOW_BITS 15: zlib, 31: gzip); fails the test on anything left over. */
static unsigned char *inflate_all(const unsigned char *in, size_t len, int window_bits, size_t *ret_len)
{
	z_stream zs = { 0 };
	size_t cap = len * 4 + 1024;
	unsigned char *out = malloc(cap);
	int rc;

	assert_non_null(out);
	assert_int_equal(inflateInit2(&zs, window_bits), Z_OK);
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	do {
		if (zs.total_out == cap) {
			cap *= 2;
			out = realloc(out, cap);
			assert_non_null(out);
		}
		zs.next_out = out + zs.total_out;
		zs.avail_out = (uInt)(cap - zs.total_out);
		rc = inflate(&zs, Z_NO_FLUSH);
	} while (rc == Z_OK);
	assert_int_equal(rc, Z_STREAM_END);
	assert_int_equal(zs.avail_in, 0);
	*ret_len = zs.total_out;
	inflateEnd(&zs);
	return out;
}

/* A valid GELF message with N bytes of seeded random printable text (no JSON escapes) in full_message. */
static char *random_message(size_t n, uint64_t seed)
{
	static const char head[] = "{\"version\":\"1.1\",\"host\":\"test-host\",\"short_message\":\"big\","
				   "\"full_message\":\"";
	static const char tail[] = "\",\"_n\":1}";
	char *m = malloc(sizeof(head) + n + sizeof(tail));
	uint64_t x = seed;
	char *p;

	assert_non_null(m);
	memcpy(m, head, sizeof(head) - 1);
	p = m + sizeof(head) - 1;
	for (size_t i = 0; i < n; i++) {
		char c;

		/* xorshift64: zlib finds nothing to share in it. */
		do {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			c = (char)(0x21 + (x >> 33) % 94);
		} while (c == '"' || c == '\\');
		p[i] = c;
	}
	memcpy(p + n, tail, sizeof(tail));
	return m;
}

/* --- HTTP receiver: libmicrohttpd on 127.0.0.1, port 0 --- */

struct http_rx {
	struct MHD_Daemon *daemon;
	unsigned short port;
	unsigned int status; /* the answer */
	pthread_mutex_t lock;
	unsigned int requests;
	char method[16], url[64], encoding[32], type[64];
	unsigned char *body;
	size_t body_len;
};

struct upload {
	unsigned char *data;
	size_t len;
};

static void copy_header(struct MHD_Connection *conn, const char *name, char *buf, size_t size)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

	snprintf(buf, size, "%s", v ? v : "");
}

static enum MHD_Result rx_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_data_size,
				 void **con_cls)
{
	static const char refusal[] = "graylog says no\n";
	struct http_rx *rx = cls;
	struct upload *u = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result ret;

	(void)version;
	if (!u) {
		u = calloc(1, sizeof(*u));
		if (!u)
			return MHD_NO;
		*con_cls = u;
		return MHD_YES;
	}
	if (*upload_data_size) {
		unsigned char *grown = realloc(u->data, u->len + *upload_data_size);

		if (!grown)
			return MHD_NO;
		u->data = grown;
		memcpy(u->data + u->len, upload_data, *upload_data_size);
		u->len += *upload_data_size;
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&rx->lock);
	rx->requests++;
	snprintf(rx->method, sizeof(rx->method), "%s", method);
	snprintf(rx->url, sizeof(rx->url), "%s", url);
	copy_header(conn, "Content-Encoding", rx->encoding, sizeof(rx->encoding));
	copy_header(conn, "Content-Type", rx->type, sizeof(rx->type));
	free(rx->body);
	rx->body = u->data;
	rx->body_len = u->len;
	u->data = NULL;
	pthread_mutex_unlock(&rx->lock);
	/* Graylog: 202 and an empty body. */
	if (rx->status < 300)
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(sizeof(refusal) - 1, (void *)refusal, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, rx->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void rx_done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct upload *u = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (u) {
		free(u->data);
		free(u);
		*con_cls = NULL;
	}
}

static struct http_rx *http_rx_start(unsigned int status)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct http_rx *rx = calloc(1, sizeof(*rx));
	const union MHD_DaemonInfo *info;

	assert_non_null(rx);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rx->status = status;
	assert_int_equal(pthread_mutex_init(&rx->lock, NULL), 0);
	rx->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, rx_handle, rx,
				      MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED,
				      rx_done, NULL, MHD_OPTION_END);
	assert_non_null(rx->daemon);
	info = MHD_get_daemon_info(rx->daemon, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	rx->port = info->port;
	assert_true(rx->port != 0);
	return rx;
}

static void http_rx_stop(struct http_rx *rx)
{
	MHD_stop_daemon(rx->daemon);
	pthread_mutex_destroy(&rx->lock);
	free(rx->body);
	free(rx);
}

static struct gelf_sender *http_sender(unsigned short port, unsigned int timeout_ms)
{
	struct gelf_sender_config c = { .timeout_ms = timeout_ms };
	struct gelf_sender *s;
	char url[64];

	snprintf(url, sizeof(url), "http://127.0.0.1:%u/gelf", port);
	c.http_url = url;
	assert_int_equal(gelf_sender_new(&c, &s), 0);
	assert_non_null(s);
	return s;
}

/* The last request carried exactly MSG, gzipped, with the GELF headers. */
static void assert_http_got(struct http_rx *rx, const char *msg, unsigned int requests)
{
	unsigned char *plain;
	size_t plain_len;

	pthread_mutex_lock(&rx->lock);
	assert_int_equal(rx->requests, requests);
	assert_string_equal(rx->method, "POST");
	assert_string_equal(rx->url, "/gelf");
	assert_string_equal(rx->encoding, "gzip");
	assert_string_equal(rx->type, "application/json");
	assert_true(rx->body_len > 18);
	assert_int_equal(rx->body[0], 0x1f);
	assert_int_equal(rx->body[1], 0x8b);
	plain = inflate_all(rx->body, rx->body_len, 15 + 16, &plain_len);
	pthread_mutex_unlock(&rx->lock);
	assert_int_equal(plain_len, strlen(msg));
	assert_memory_equal(plain, msg, plain_len);
	free(plain);
}

static void test_http_accepted(void **state)
{
	struct http_rx *rx = http_rx_start(MHD_HTTP_ACCEPTED);
	struct gelf_sender *s = http_sender(rx->port, 0);
	char *audit = readme_record(false), *gelf = convert(audit, NULL), *big = random_message(20000, 1);
	char err[256] = "";

	(void)state;
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), err, sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_http_got(rx, gelf, 1);
	/* A second, larger one on the same sender (no 100-continue wait, same handle). */
	assert_int_equal(gelf_send(s, big, strlen(big), err, sizeof(err)), 0);
	assert_http_got(rx, big, 2);
	/* Any 2xx is success. */
	rx->status = MHD_HTTP_OK;
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), err, sizeof(err)), 0);
	assert_http_got(rx, gelf, 3);
	gelf_sender_free(s);
	http_rx_stop(rx);
	free(big);
	free(gelf);
	free(audit);
}

static void test_http_error_status(void **state)
{
	static const unsigned int codes[] = { 500, 503, 400, 404, 301 };
	static const char msg[] = "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"}";
	struct http_rx *rx = http_rx_start(500);
	struct gelf_sender *s = http_sender(rx->port, 0);
	char err[512], want[128];

	(void)state;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		rx->status = codes[i];
		err[0] = '\0';
		assert_int_equal(gelf_send(s, msg, strlen(msg), err, sizeof(err)), -EIO);
		snprintf(want, sizeof(want), "http://127.0.0.1:%u/gelf: HTTP %u: graylog says no?", rx->port, codes[i]);
		assert_string_equal(err, want);
		/* The message did arrive: the server said no. */
		assert_http_got(rx, msg, (unsigned int)i + 1);
	}
	/* A NULL error buffer is allowed. */
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), -EIO);
	gelf_sender_free(s);
	http_rx_stop(rx);
}

static void test_http_nothing_listening(void **state)
{
	static const char msg[] = "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"}";
	struct http_rx *rx = http_rx_start(202);
	unsigned short port = rx->port;
	struct gelf_sender *s;
	char err[512] = "", url[64];

	(void)state;
	/* The port of a receiver just stopped. */
	http_rx_stop(rx);
	s = http_sender(port, 0);
	assert_int_equal(gelf_send(s, msg, strlen(msg), err, sizeof(err)), -ECONNREFUSED);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/gelf: ", port);
	assert_memory_equal(err, url, strlen(url));
	gelf_sender_free(s);
}

static void test_http_timeout(void **state)
{
	static const char msg[] = "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\"}";
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	struct timespec t0, t1;
	struct gelf_sender *s;
	char err[512] = "";
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	long ms;

	(void)state;
	/* Listens, never accepts: the kernel completes the handshake, nobody answers. */
	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	s = http_sender(ntohs(sin.sin_port), 300);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(gelf_send(s, msg, strlen(msg), err, sizeof(err)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 250 && ms < 3000);
	assert_true(err[0] != '\0');
	gelf_sender_free(s);
	close(fd);
}

static void test_send_rejects_invalid(void **state)
{
	static const char bad[] = "{\"version\":\"1.1\",\"host\":\"h\",\"short_message\":\"m\",\"_id\":\"x\"}";
	struct http_rx *rx = http_rx_start(202);
	struct gelf_sender *s = http_sender(rx->port, 0);
	char err[256] = "";

	(void)state;
	assert_int_equal(gelf_send(s, bad, strlen(bad), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "_id is reserved"));
	assert_int_equal(gelf_send(s, NULL, 0, err, sizeof(err)), -EINVAL);
	assert_int_equal(gelf_send(NULL, bad, strlen(bad), err, sizeof(err)), -EINVAL);
	/* Nothing reached the receiver. */
	pthread_mutex_lock(&rx->lock);
	assert_int_equal(rx->requests, 0);
	pthread_mutex_unlock(&rx->lock);
	gelf_sender_free(s);
	http_rx_stop(rx);
}

/* --- UDP receiver: a socket on 127.0.0.1 (or ::1), port 0 --- */

struct udp_rx {
	int fd;
	unsigned short port;
};

static bool udp_rx_start(struct udp_rx *rx, int family)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t sl;
	int rcvbuf = 4 << 20;

	rx->fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (rx->fd < 0)
		return false;
	if (family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		sl = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sl = sizeof(*s4);
	}
	/* 128 chunks arrive at once; the kernel caps this at rmem_max, which is fine. */
	assert_int_equal(setsockopt(rx->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	if (bind(rx->fd, (struct sockaddr *)&ss, sl)) {
		close(rx->fd);
		return false;
	}
	assert_int_equal(getsockname(rx->fd, (struct sockaddr *)&ss, &sl), 0);
	rx->port = ntohs(family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
					    : ((struct sockaddr_in *)&ss)->sin_port);
	return true;
}

/* One datagram, or -1 when none comes within TIMEOUT_MS. */
static ssize_t udp_recv(struct udp_rx *rx, unsigned char *buf, size_t size, int timeout_ms)
{
	struct pollfd p = { .fd = rx->fd, .events = POLLIN };

	if (poll(&p, 1, timeout_ms) != 1)
		return -1;
	return recv(rx->fd, buf, size, 0);
}

static struct gelf_sender *udp_sender(const char *host, unsigned short port, size_t chunk_size)
{
	struct gelf_sender_config c = { .udp_chunk_size = chunk_size };
	struct gelf_sender *s;
	char address[64];

	snprintf(address, sizeof(address), "%s:%u", host, port);
	c.udp_address = address;
	assert_int_equal(gelf_sender_new(&c, &s), 0);
	assert_non_null(s);
	return s;
}

struct chunked {
	unsigned char id[8];
	size_t count;        /* chunks */
	size_t compressed;   /* bytes of zlib data over all chunks */
	unsigned char *json; /* inflated */
	size_t json_len;
};

/*
 * Receives one chunked message whose datagrams are at most CHUNK_SIZE and
 * all but the last exactly that; checks every header; reassembles by
 * sequence number and inflates.
 */
static struct chunked recv_chunked(struct udp_rx *rx, size_t chunk_size)
{
	static unsigned char dgram[65536];
	unsigned char *parts[128] = { 0 }, *z;
	size_t lens[128] = { 0 }, off = 0;
	struct chunked c = { 0 };
	ssize_t n;

	for (size_t got = 0; got == 0 || got < c.count; got++) {
		n = udp_recv(rx, dgram, sizeof(dgram), 2000);
		if (n < 0)
			fail_msg("chunk %zu of %zu did not arrive", got + 1, c.count);
		assert_true(n > 12 && (size_t)n <= chunk_size);
		assert_int_equal(dgram[0], 0x1e);
		assert_int_equal(dgram[1], 0x0f);
		if (!got) {
			memcpy(c.id, dgram + 2, 8);
			c.count = dgram[11];
			assert_true(c.count >= 2 && c.count <= 128);
		}
		assert_memory_equal(dgram + 2, c.id, 8);
		assert_int_equal(dgram[11], c.count);
		assert_true(dgram[10] < c.count);
		assert_null(parts[dgram[10]]);
		parts[dgram[10]] = malloc((size_t)n - 12);
		assert_non_null(parts[dgram[10]]);
		memcpy(parts[dgram[10]], dgram + 12, (size_t)n - 12);
		lens[dgram[10]] = (size_t)n - 12;
	}
	for (size_t i = 0; i < c.count; i++) {
		if (i + 1 < c.count)
			assert_int_equal(lens[i], chunk_size - 12);
		c.compressed += lens[i];
	}
	z = malloc(c.compressed);
	assert_non_null(z);
	for (size_t i = 0; i < c.count; i++) {
		memcpy(z + off, parts[i], lens[i]);
		off += lens[i];
		free(parts[i]);
	}
	/* zlib format (RFC 1950), as Graylog sniffs it: 0x78 and a header check. */
	assert_int_equal(z[0], 0x78);
	assert_int_equal((z[0] * 256 + z[1]) % 31, 0);
	c.json = inflate_all(z, c.compressed, 15, &c.json_len);
	free(z);
	return c;
}

static void assert_no_datagram(struct udp_rx *rx)
{
	unsigned char buf[64];

	assert_int_equal(udp_recv(rx, buf, sizeof(buf), 200), -1);
}

static void test_udp_single(void **state)
{
	char *audit = readme_record(false), *gelf = convert(audit, NULL);
	static unsigned char dgram[65536];
	struct gelf_sender *s;
	struct udp_rx rx;
	unsigned char *plain;
	size_t plain_len;
	ssize_t n;

	(void)state;
	assert_true(udp_rx_start(&rx, AF_INET));
	s = udp_sender("127.0.0.1", rx.port, 0);
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), NULL, 0), 0);
	n = udp_recv(&rx, dgram, sizeof(dgram), 2000);
	assert_true(n > 2 && n <= 1420);
	/* Not chunked: zlib from the first byte. */
	assert_int_equal(dgram[0], 0x78);
	plain = inflate_all(dgram, (size_t)n, 15, &plain_len);
	assert_int_equal(plain_len, strlen(gelf));
	assert_memory_equal(plain, gelf, plain_len);
	free(plain);
	assert_no_datagram(&rx);
	gelf_sender_free(s);

	/* The edge: a chunk size of exactly the compressed size sends it whole, one less chunks it. */
	s = udp_sender("127.0.0.1", rx.port, (size_t)n);
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), NULL, 0), 0);
	assert_int_equal(udp_recv(&rx, dgram, sizeof(dgram), 2000), n);
	assert_int_equal(dgram[0], 0x78);
	gelf_sender_free(s);
	s = udp_sender("127.0.0.1", rx.port, (size_t)n - 1);
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), NULL, 0), 0);
	{
		struct chunked c = recv_chunked(&rx, (size_t)n - 1);

		assert_int_equal(c.count, 2);
		assert_int_equal(c.compressed, n);
		assert_memory_equal(c.json, gelf, strlen(gelf));
		free(c.json);
	}
	gelf_sender_free(s);
	close(rx.fd);
	free(gelf);
	free(audit);
}

static void test_udp_chunked(void **state)
{
	char *msg = random_message(24 * 1024, 42);
	struct gelf_sender *s;
	struct chunked c1, c2;
	struct udp_rx rx;

	(void)state;
	assert_true(udp_rx_start(&rx, AF_INET));
	s = udp_sender("127.0.0.1", rx.port, 0);
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), 0);
	c1 = recv_chunked(&rx, 1420);
	/* Random text does not shrink much: 24 KiB needs well over ten 1408-byte slices. */
	assert_true(c1.count >= 12);
	assert_int_equal(c1.json_len, strlen(msg));
	assert_memory_equal(c1.json, msg, c1.json_len);
	assert_no_datagram(&rx);
	/* The next message has another id. */
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), 0);
	c2 = recv_chunked(&rx, 1420);
	assert_int_equal(c2.count, c1.count);
	assert_true(memcmp(c1.id, c2.id, 8) != 0);
	assert_memory_equal(c2.json, msg, c2.json_len);
	free(c1.json);
	free(c2.json);
	gelf_sender_free(s);
	close(rx.fd);
	free(msg);
}

static void test_udp_chunk_limit(void **state)
{
	char *msg = random_message(24 * 1024, 7), *huge = random_message(300 * 1024, 8), err[256] = "";
	struct gelf_sender *s;
	struct chunked c;
	struct udp_rx rx;
	size_t slice;

	(void)state;
	assert_true(udp_rx_start(&rx, AF_INET));

	/* 300 KiB of random text is far past 128 chunks of 1408: refused, nothing sent. */
	s = udp_sender("127.0.0.1", rx.port, 0);
	assert_int_equal(gelf_send(s, huge, strlen(huge), err, sizeof(err)), -EMSGSIZE);
	assert_non_null(strstr(err, "more than GELF's 128"));
	assert_no_datagram(&rx);

	/* The edge: learn the compressed size, then give it exactly 128 slices, then one byte less each. */
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), 0);
	c = recv_chunked(&rx, 1420);
	free(c.json);
	gelf_sender_free(s);
	/* Large enough that ceil(L / ceil(L / 128)) is exactly 128. */
	assert_true(c.compressed > 128 * 127);
	slice = (c.compressed + 127) / 128;

	s = udp_sender("127.0.0.1", rx.port, slice + 12);
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), 0);
	c = recv_chunked(&rx, slice + 12);
	assert_int_equal(c.count, 128);
	assert_memory_equal(c.json, msg, c.json_len);
	free(c.json);
	gelf_sender_free(s);

	s = udp_sender("127.0.0.1", rx.port, slice + 11);
	assert_int_equal(gelf_send(s, msg, strlen(msg), err, sizeof(err)), -EMSGSIZE);
	assert_no_datagram(&rx);
	gelf_sender_free(s);

	close(rx.fd);
	free(huge);
	free(msg);
}

static void test_udp_ipv6(void **state)
{
	char *msg = random_message(8000, 3);
	struct gelf_sender *s;
	struct chunked c;
	struct udp_rx rx;

	(void)state;
	if (!udp_rx_start(&rx, AF_INET6)) {
		free(msg);
		skip();
	}
	s = udp_sender("[::1]", rx.port, 1000);
	assert_int_equal(gelf_send(s, msg, strlen(msg), NULL, 0), 0);
	c = recv_chunked(&rx, 1000);
	assert_memory_equal(c.json, msg, c.json_len);
	free(c.json);
	gelf_sender_free(s);
	close(rx.fd);
	free(msg);
}

/* Both destinations: each gets the message; one failing fails the send, the other still gets it. */
static void test_both(void **state)
{
	char *audit = readme_record(false), *gelf = convert(audit, NULL), *huge = random_message(300 * 1024, 9);
	struct http_rx *rx = http_rx_start(202);
	struct gelf_sender_config c = { .timeout_ms = 2000 };
	char url[64], address[64], err[1024] = "";
	static unsigned char dgram[65536];
	struct gelf_sender *s;
	struct udp_rx urx;
	unsigned char *plain;
	size_t plain_len;
	ssize_t n;

	(void)state;
	assert_true(udp_rx_start(&urx, AF_INET));
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/gelf", rx->port);
	snprintf(address, sizeof(address), "127.0.0.1:%u", urx.port);
	c.http_url = url;
	c.udp_address = address;
	assert_int_equal(gelf_sender_new(&c, &s), 0);
	assert_non_null(s);

	assert_int_equal(gelf_send(s, gelf, strlen(gelf), err, sizeof(err)), 0);
	assert_http_got(rx, gelf, 1);
	n = udp_recv(&urx, dgram, sizeof(dgram), 2000);
	assert_true(n > 0);
	plain = inflate_all(dgram, (size_t)n, 15, &plain_len);
	assert_memory_equal(plain, gelf, strlen(gelf));
	free(plain);

	/* HTTP 500: the send fails, UDP still went out. */
	rx->status = 500;
	assert_int_equal(gelf_send(s, gelf, strlen(gelf), err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "HTTP 500"));
	assert_null(strstr(err, "; "));
	assert_true(udp_recv(&urx, dgram, sizeof(dgram), 2000) > 0);

	/* Both fail: the first error, both reasons. */
	assert_int_equal(gelf_send(s, huge, strlen(huge), err, sizeof(err)), -EIO);
	assert_non_null(strstr(err, "HTTP 500: graylog says no?; udp 127.0.0.1:"));
	assert_non_null(strstr(err, "more than GELF's 128"));

	/* UDP too large, HTTP fine: the UDP error, and HTTP got it. */
	rx->status = 202;
	assert_int_equal(gelf_send(s, huge, strlen(huge), err, sizeof(err)), -EMSGSIZE);
	assert_http_got(rx, huge, 4);
	assert_no_datagram(&urx);

	gelf_sender_free(s);
	http_rx_stop(rx);
	close(urx.fd);
	free(huge);
	free(gelf);
	free(audit);
}

static void test_sender_config(void **state)
{
	static const char *const bad_udp[] = {
		"",           "127.0.0.1",      "127.0.0.1:",    "127.0.0.1:0",   ":12201",
		"[::1]12201", "[::1]:",         "[::1",          "[zz]:12201",    "[]:12201",
		"::1:12201",  "127.0.0.1:65536", "127.0.0.1:+1", "127.0.0.1: 1",  "graylog host:12201",
		"a/b:12201",  "h:12201x",
	};
	static const char *const good_udp[] = { "127.0.0.1:12201", "[::1]:12201", "graylog.example:12201",
						"graylog-0.logging.svc:1" };
	static const char *const bad_url[] = { "", "ftp://127.0.0.1/gelf", "127.0.0.1:12201/gelf", "http://",
					       "http://[::1/gelf" };
	struct gelf_sender_config c;
	struct gelf_sender *s = NULL;

	(void)state;
	assert_int_equal(gelf_sender_new(NULL, &s), -EINVAL);
	c = (struct gelf_sender_config){ 0 };
	assert_int_equal(gelf_sender_new(&c, &s), -EINVAL);
	for (size_t i = 0; i < sizeof(bad_udp) / sizeof(bad_udp[0]); i++) {
		c = (struct gelf_sender_config){ .udp_address = bad_udp[i] };
		if (gelf_sender_new(&c, &s) != -EINVAL)
			fail_msg("udp '%s' accepted", bad_udp[i]);
	}
	for (size_t i = 0; i < sizeof(good_udp) / sizeof(good_udp[0]); i++) {
		int r;

		c = (struct gelf_sender_config){ .udp_address = good_udp[i] };
		r = gelf_sender_new(&c, &s);
		if (r)
			fail_msg("udp '%s' refused: %s", good_udp[i], strerror(-r));
		gelf_sender_free(s);
	}
	for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++) {
		c = (struct gelf_sender_config){ .http_url = bad_url[i] };
		if (gelf_sender_new(&c, &s) != -EINVAL)
			fail_msg("url '%s' accepted", bad_url[i]);
	}
	/* Nothing is written to *RET on failure. */
	s = NULL;
	c = (struct gelf_sender_config){ .udp_address = "127.0.0.1:12201", .udp_chunk_size = 12 };
	assert_int_equal(gelf_sender_new(&c, &s), -EINVAL);
	c.udp_chunk_size = 65508;
	assert_int_equal(gelf_sender_new(&c, &s), -EINVAL);
	assert_null(s);
	c.udp_chunk_size = 13;
	assert_int_equal(gelf_sender_new(&c, &s), 0);
	gelf_sender_free(s);
	c = (struct gelf_sender_config){ .http_url = "HTTPS://graylog.example/gelf" };
	assert_int_equal(gelf_sender_new(&c, &s), 0);
	gelf_sender_free(s);
	gelf_sender_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_audit_record),
		cmocka_unit_test(test_chained_record_keeps_its_line),
		cmocka_unit_test(test_dry_run),
		cmocka_unit_test(test_detail_is_full_message),
		cmocka_unit_test(test_field_conversion),
		cmocka_unit_test(test_levels),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_rejects_input),
		cmocka_unit_test(test_validate),
		cmocka_unit_test(test_http_accepted),
		cmocka_unit_test(test_http_error_status),
		cmocka_unit_test(test_http_nothing_listening),
		cmocka_unit_test(test_http_timeout),
		cmocka_unit_test(test_send_rejects_invalid),
		cmocka_unit_test(test_udp_single),
		cmocka_unit_test(test_udp_chunked),
		cmocka_unit_test(test_udp_chunk_limit),
		cmocka_unit_test(test_udp_ipv6),
		cmocka_unit_test(test_both),
		cmocka_unit_test(test_sender_config),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return ret;
}
