// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The Falco alert parser against the recorded alerts (../shared/fixtures/falco),
 * the shapes Falco 0.38-0.44 and falcosidekick print, and hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "falco_alert.h"

#define FIXTURES "../shared/fixtures/falco/"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	/* Missing fixtures are a broken checkout, never a reason to pass. */
	if (!f)
		fail_msg("fixture %s is missing (tests run from the repo root and need ../shared/fixtures)", path);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return buf;
}

/* Line N (0-based) of alerts.ndjson, malloc'd without its newline. */
static char *fixture_line(int n)
{
	size_t len;
	char *all = read_file(FIXTURES "alerts.ndjson", &len), *line = all, *end, *out;

	for (int i = 0; i < n; i++) {
		line = strchr(line, '\n');
		assert_non_null(line);
		line++;
	}
	end = strchr(line, '\n');
	out = strndup(line, end ? (size_t)(end - line) : strlen(line));
	assert_non_null(out);
	free(all);
	return out;
}

/* Replaces the first FROM in *S by TO (reallocated). */
static void replace(char **s, const char *from, const char *to)
{
	char *at = strstr(*s, from), *out;
	size_t before;

	assert_non_null(at);
	before = (size_t)(at - *s);
	out = malloc(strlen(*s) - strlen(from) + strlen(to) + 1);
	assert_non_null(out);
	memcpy(out, *s, before);
	strcpy(out + before, to);
	strcat(out, at + strlen(from));
	free(*s);
	*s = out;
}

static enum falco_parse_error parse(const char *text, struct falco_alert *a, char *err, size_t errlen)
{
	return falco_alert_parse(text, strlen(text), 0, a, err, errlen);
}

static void test_fixture_drop_and_execute(void **state)
{
	struct falco_alert a;
	char err[256];
	char *line = fixture_line(0);

	(void)state;
	assert_int_equal(parse(line, &a, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(a.rule, "Drop and execute new binary in container");
	assert_string_equal(a.priority_text, "Critical");
	assert_int_equal(a.priority, FALCO_PRIORITY_CRITICAL);
	assert_string_equal(a.hostname, "hop-node-2");
	assert_string_equal(a.source, "syscall");
	assert_null(a.uuid);
	assert_true(a.time_ns == 1763694004112233445ULL);
	assert_string_equal(a.container_id, "5c1e0d9a7b21");
	assert_string_equal(a.exe_path, "/usr/bin/sqlite3");
	assert_int_equal(a.pid, 0); /* the stock rule prints no proc.pid */
	assert_string_equal(a.k8s_namespace, "headscale");
	assert_string_equal(a.k8s_pod, "headscale-backup-29391780-mz8qd");
	assert_string_equal(a.image, "docker.io/library/alpine:3.20");
	assert_string_equal(a.cmdline, "sqlite3 /data/db.sqlite .backup /backup/db.sqlite");
	assert_int_equal(a.n_tags, 6);
	assert_string_equal(a.tags[0], "PCI_DSS_11.5.1");
	assert_non_null(a.json);
	falco_alert_clear(&a);
	assert_null(a.rule);
	assert_null(a.json);
	free(line);
}

static void test_fixture_every_line_parses(void **state)
{
	static const struct {
		const char *rule;
		uint64_t time_ns;
		const char *container_id, *exe_path, *ns, *pod;
		int64_t pid;
	} want[] = {
		{ "Drop and execute new binary in container", 1763694004112233445ULL, "5c1e0d9a7b21",
		  "/usr/bin/sqlite3", "headscale", "headscale-backup-29391780-mz8qd", 0 },
		{ "Detect crypto miners using the Stratum protocol", 1763695337399000111ULL, "9a7f3c2e1d0b",
		  "/tmp/.x/kworkerds", "production", "payments-api-7d9f4b-xkp2m", 0 },
		{ "Detect outbound connections to common miner pool ports", 1763695337401020304ULL, "9a7f3c2e1d0b",
		  "/tmp/.x/kworkerds", "production", "payments-api-7d9f4b-xkp2m", 0 },
		{ "Shell spawned in production database container", 1763733731000123456ULL, "0e4b6a9c3f12", NULL,
		  "production", "orders-db-0", 48213 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct falco_alert a;
		char err[256];
		char *line = fixture_line((int)i);

		if (parse(line, &a, err, sizeof(err)) != FALCO_PARSE_OK)
			fail_msg("fixture line %zu: %s", i + 1, err);
		assert_string_equal(a.rule, want[i].rule);
		assert_true(a.time_ns == want[i].time_ns);
		assert_string_equal(a.container_id, want[i].container_id);
		if (want[i].exe_path)
			assert_string_equal(a.exe_path, want[i].exe_path);
		else
			assert_null(a.exe_path);
		assert_string_equal(a.k8s_namespace, want[i].ns);
		assert_string_equal(a.k8s_pod, want[i].pod);
		assert_int_equal(a.pid, want[i].pid);
		falco_alert_clear(&a);
		free(line);
	}
}

static void test_sidekick_webhook_body(void **state)
{
	struct falco_alert a;
	size_t len;
	char err[256];
	char *body = read_file(FIXTURES "sidekick-webhook.json", &len);

	(void)state;
	assert_int_equal(falco_alert_parse(body, len, 0, &a, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(a.uuid, "2f8e4c1a-6b3d-4e7f-9a10-c5d2e8b4f761");
	assert_string_equal(a.rule, "Detect outbound connections to common miner pool ports");
	assert_true(a.time_ns == 1763695337401020304ULL);
	assert_string_equal(a.container_id, "9a7f3c2e1d0b");
	assert_string_equal(a.exe_path, "/tmp/.x/kworkerds");
	assert_string_equal(a.image, "registry.golem.example/payments-api:1.14.2");
	assert_string_equal(a.hostname, "hop-node-1");
	falco_alert_clear(&a);
	free(body);
}

/* Falco prints some uint64 fields beyond INT64_MAX: the line parses, times stay exact. */
static void test_uint64_overflow_still_parses_with_exact_time(void **state)
{
	struct falco_alert a;
	char err[256];
	char *line = fixture_line(0);

	(void)state;
	replace(&line, "\"proc.exe_ino.ctime\":1763694003990011223", "\"proc.exe_ino.ctime\":18446744073709551615");
	if (parse(line, &a, err, sizeof(err)) != FALCO_PARSE_OK)
		fail_msg("overflowing uint64 rejected: %s", err);
	/* evt.time became a double; the exact time comes from the RFC 3339 "time". */
	assert_true(a.time_ns == 1763694004112233445ULL);
	assert_string_equal(a.container_id, "5c1e0d9a7b21");
	falco_alert_clear(&a);

	/* A pid beyond int64, or beyond pid_t, is refused rather than wrapped to another process. */
	{
		char *p = strdup(line);

		replace(&p, "\"proc.cwd\"", "\"proc.pid\":99999999999999999999,\"proc.cwd\"");
		assert_int_equal(parse(p, &a, err, sizeof(err)), FALCO_PARSE_BAD_FIELD);
		assert_non_null(strstr(err, "proc.pid"));
		free(p);
		/* Read as a real after the uint64 retry: 2^32 + 1 would be pid 1. */
		p = strdup(line);
		replace(&p, "\"proc.cwd\"", "\"proc.pid\":4294967297,\"proc.cwd\"");
		assert_int_equal(parse(p, &a, err, sizeof(err)), FALCO_PARSE_BAD_FIELD);
		free(p);
		p = strdup(line);
		replace(&p, "\"proc.cwd\"", "\"proc.pid\":4242,\"proc.cwd\"");
		assert_int_equal(parse(p, &a, err, sizeof(err)), FALCO_PARSE_OK);
		assert_int_equal(a.pid, 4242);
		falco_alert_clear(&a);
		free(p);
	}
	free(line);
}

static void test_shapes_of_falco_versions(void **state)
{
	struct falco_alert a;
	char err[256];

	(void)state;
	/* evt.time.iso8601 as integer ns (append_output), nulls, the plugin's empty id, escapes. */
	assert_int_equal(parse("{\"rule\":\"R\",\"priority\":\"Warning\",\"output\":\"a \\u003c b\","
			       "\"output_fields\":{\"evt.time.iso8601\":1763733731000123456,\"container.id\":\"\","
			       "\"proc.pid\":null,\"proc.exepath\":null,\"proc.exe\":\"sh\",\"k8s.ns.name\":null,"
			       "\"container.image\":\"nginx:1.27\"},\"tags\":[]}",
			       &a, err, sizeof(err)),
			 FALCO_PARSE_OK);
	assert_true(a.time_ns == 1763733731000123456ULL);
	assert_string_equal(a.output, "a < b");
	assert_null(a.container_id); /* no container: reflex never acts on it */
	assert_int_equal(a.pid, 0);
	assert_null(a.exe_path);     /* proc.exe "sh" is argv[0], not a path */
	assert_null(a.k8s_namespace);
	assert_string_equal(a.image, "nginx:1.27");
	assert_int_equal(a.priority, FALCO_PRIORITY_WARNING);
	assert_int_equal(a.n_tags, 0);
	falco_alert_clear(&a);

	/* A host event, a 64-hex id, proc.exe as the path, "time" only. */
	assert_int_equal(parse("{\"rule\":\"R\",\"priority\":\"informational\",\"time\":\"2025-11-21T14:02:11.5+01:00\","
			       "\"output_fields\":{\"container.id\":\"host\",\"proc.exe\":\"/bin/sh\",\"proc.pid\":7}}",
			       &a, err, sizeof(err)),
			 FALCO_PARSE_OK);
	assert_string_equal(a.container_id, "host");
	assert_string_equal(a.exe_path, "/bin/sh");
	assert_int_equal(a.pid, 7);
	assert_int_equal(a.priority, FALCO_PRIORITY_INFORMATIONAL);
	assert_true(a.time_ns == 1763730131500000000ULL);
	falco_alert_clear(&a);

	/* A trailing CRLF is a line ending, not garbage. */
	assert_int_equal(parse("{\"rule\":\"R\",\"output_fields\":{}}\r\n", &a, err, sizeof(err)), FALCO_PARSE_OK);
	assert_int_equal(a.time_ns, 0);
	falco_alert_clear(&a);
}

static void test_hostile_input_is_rejected_with_reason(void **state)
{
	static const struct {
		const char *text;
		enum falco_parse_error want;
	} cases[] = {
		{ "", FALCO_PARSE_EMPTY },
		{ "  \t\r\n", FALCO_PARSE_EMPTY },
		{ "not json", FALCO_PARSE_SYNTAX },
		{ "{\"rule\":\"R\",\"output_fields\":{\"evt.time\":1", FALCO_PARSE_SYNTAX }, /* truncated */
		{ "{\"rule\":\"R\",\"output_fields\":{}} trailing", FALCO_PARSE_SYNTAX },
		{ "{\"rule\":\"R\",\"output_fields\":{}}\n{\"rule\":\"S\",\"output_fields\":{}}", FALCO_PARSE_SYNTAX },
		{ "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]"
		  "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
		  FALCO_PARSE_TOO_DEEP },
		{ "{\"rule\":\"R\",\"output_fields\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":{\"f\":{\"g\":{\"h\":{\"i\":{\"j\":"
		  "{\"k\":{\"l\":{\"m\":{\"n\":{\"o\":{\"p\":{}}}}}}}}}}}}}}}}}}",
		  FALCO_PARSE_TOO_DEEP },
		{ "{\"rule\":\"\xff\xfe\",\"output_fields\":{}}", FALCO_PARSE_NOT_UTF8 },
		{ "{\"rule\":\"\xc0\xaf\",\"output_fields\":{}}", FALCO_PARSE_NOT_UTF8 }, /* overlong '/' */
		{ "{\"rule\":\"R\\u0000x\",\"output_fields\":{}}", FALCO_PARSE_BAD_FIELD },
		{ "[]", FALCO_PARSE_NOT_ALERT },
		{ "{}", FALCO_PARSE_NOT_ALERT },
		{ "\"a string\"", FALCO_PARSE_NOT_ALERT },
		{ "{\"rule\":\"\",\"output_fields\":{}}", FALCO_PARSE_NOT_ALERT },
		{ "{\"rule\":7,\"output_fields\":{}}", FALCO_PARSE_NOT_ALERT },
		{ "{\"rule\":\"R\",\"output_fields\":[]}", FALCO_PARSE_NOT_ALERT },
		{ "{\"rule\":\"R\"}", FALCO_PARSE_NOT_ALERT },
		{ "{\"rule\":\"R\",\"priority\":3,\"output_fields\":{}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"tags\":\"x\",\"output_fields\":{}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.pid\":\"48213\"}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.pid\":1.5}}", FALCO_PARSE_BAD_FIELD },
		/* Outside pid_t: refused, never truncated (2^32 + 1 would be pid 1). */
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.pid\":4294967297}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.pid\":2147483648}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.pid\":9223372036854775807}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"container.id\":\"../../etc\"}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"container.id\":\"5C1E0D9A7B21\"}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"container.id\":\"5c1e0d9a\"}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"proc.exepath\":\"tmp/x\"}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"evt.time\":true}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"time\":\"yesterday\",\"output_fields\":{}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"time\":\"2025-02-30T00:00:00Z\",\"output_fields\":{}}", FALCO_PARSE_BAD_FIELD },
		{ "{\"rule\":\"R\",\"output_fields\":{\"x\":1e999}}", FALCO_PARSE_BAD_FIELD },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct falco_alert a;
		char err[256] = "unset";
		enum falco_parse_error e = parse(cases[i].text, &a, err, sizeof(err));

		if (e != cases[i].want)
			fail_msg("case %zu: got %s (%s), want %s", i, falco_parse_error_name(e), err,
				 falco_parse_error_name(cases[i].want));
		assert_true(err[0] != '\0' && strcmp(err, "unset") != 0);
		for (const char *p = err; *p; p++) /* the log line is printable whatever came in */
			assert_true(*p >= 0x20 && *p <= 0x7e);
		assert_null(a.rule);
		assert_null(a.json);
	}
}

static void test_size_limit(void **state)
{
	const char *ok = "{\"rule\":\"R\",\"output_fields\":{}}";
	struct falco_alert a;
	char err[128];

	(void)state;
	assert_int_equal(falco_alert_parse(ok, strlen(ok), strlen(ok), &a, err, sizeof(err)), FALCO_PARSE_OK);
	falco_alert_clear(&a);
	assert_int_equal(falco_alert_parse(ok, strlen(ok), strlen(ok) - 1, &a, err, sizeof(err)),
			 FALCO_PARSE_TOO_LARGE);
	assert_non_null(strstr(err, "over"));
	/* A NUL inside the bytes is refused, not silently cut short. */
	assert_int_equal(falco_alert_parse("{\"rule\":\"R\"}\0{}", 15, 0, &a, err, sizeof(err)), FALCO_PARSE_SYNTAX);
}

static void test_priority_names_and_container_ids(void **state)
{
	static const char full[] = "5c1e0d9a7b21aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

	(void)state;
	assert_int_equal(falco_priority_from_name("EMERGENCY"), FALCO_PRIORITY_EMERGENCY);
	assert_int_equal(falco_priority_from_name("info"), FALCO_PRIORITY_INFORMATIONAL);
	assert_int_equal(falco_priority_from_name("warn"), FALCO_PRIORITY_WARNING);
	assert_int_equal(falco_priority_from_name("Debug"), FALCO_PRIORITY_DEBUG);
	assert_int_equal(falco_priority_from_name("severe"), FALCO_PRIORITY_UNKNOWN);
	assert_int_equal(falco_priority_from_name(NULL), FALCO_PRIORITY_UNKNOWN);
	assert_int_equal(strlen(full), 64);
	assert_true(falco_container_id_matches("5c1e0d9a7b21", full));
	assert_true(falco_container_id_matches(full, full));
	assert_false(falco_container_id_matches("5c1e0d9a7b2", full));  /* under 12 */
	assert_false(falco_container_id_matches("5c1e0d9a7b22", full)); /* another container */
	assert_false(falco_container_id_matches("5C1E0D9A7B21", full));
	assert_false(falco_container_id_matches("host", full));
	assert_false(falco_container_id_matches("5c1e0d9a7b21", "5c1e0d9a7b21"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_drop_and_execute),
		cmocka_unit_test(test_fixture_every_line_parses),
		cmocka_unit_test(test_sidekick_webhook_body),
		cmocka_unit_test(test_uint64_overflow_still_parses_with_exact_time),
		cmocka_unit_test(test_shapes_of_falco_versions),
		cmocka_unit_test(test_hostile_input_is_rejected_with_reason),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_priority_names_and_container_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
