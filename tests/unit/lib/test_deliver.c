// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * At-least-once delivery over a real spool directory: order, retry with
 * backoff after failures, permanent refusals, records left by a stopped
 * sender delivered by the next one; and the agent's report format read back
 * by the controller's parser.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include "controller.h"
#include "deliver.h"
#include "falco_alert.h"
#include "reporter.h"
#include "token.h"

struct receiver {
	pthread_mutex_t lock;
	char got[64][32]; /* what was delivered, in order */
	int n_got;
	int attempts;
	int fail_next;    /* answer -EIO this many times */
	const char *refuse; /* answer -EBADMSG for this record */
};

static int receive(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
	struct receiver *r = ctx;
	int ret = 0;

	pthread_mutex_lock(&r->lock);
	r->attempts++;
	if (r->fail_next > 0) {
		r->fail_next--;
		snprintf(err, errlen, "receiver down");
		ret = -EIO;
	} else if (r->refuse && len == strlen(r->refuse) && !memcmp(data, r->refuse, len)) {
		snprintf(err, errlen, "HTTP 400");
		ret = -EBADMSG;
	} else if (r->n_got < 64) {
		snprintf(r->got[r->n_got++], sizeof(r->got[0]), "%.*s", (int)len, (const char *)data);
	}
	pthread_mutex_unlock(&r->lock);
	return ret;
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	return test_tmpdir(dir, sizeof(dir), "deliver");
}

static int teardown(void **state)
{
	(void)state;
	return test_rmtree(dir);
}

static struct deliver *start(struct receiver *r)
{
	char spool[128];
	struct deliver_config c = {
		.what = "test records",
		.spool_dir = spool,
		.spool_max_bytes = 1 << 20,
		.backoff_min_ms = 20,
		.backoff_max_ms = 80,
		.send = receive,
		.ctx = r,
	};
	struct deliver *d = NULL;

	snprintf(spool, sizeof(spool), "%s/spool", dir);
	assert_int_equal(deliver_start(&c, &d), 0);
	return d;
}

static void test_in_order_after_failures(void **state)
{
	struct receiver r = { .lock = PTHREAD_MUTEX_INITIALIZER, .fail_next = 3 };
	struct deliver_stats st;
	struct deliver *d = start(&r);
	char rec[16];

	(void)state;
	for (int i = 0; i < 10; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		assert_int_equal(deliver_submit(d, rec, strlen(rec), NULL), 0);
	}
	assert_true(deliver_flush(d, 10000));
	deliver_get_stats(d, &st);
	assert_int_equal(st.submitted, 10);
	assert_int_equal(st.delivered, 10);
	assert_int_equal(st.retries, 3);
	assert_int_equal(st.pending, 0);
	assert_false(st.backing_off);
	assert_int_equal(r.n_got, 10);
	for (int i = 0; i < 10; i++) {
		snprintf(rec, sizeof(rec), "r%d", i);
		assert_string_equal(r.got[i], rec);
	}
	deliver_stop(d);
}

static void test_refused_record_is_dropped_not_retried(void **state)
{
	struct receiver r = { .lock = PTHREAD_MUTEX_INITIALIZER, .refuse = "bad" };
	struct deliver_stats st;
	struct deliver *d = start(&r);

	(void)state;
	assert_int_equal(deliver_submit(d, "a", 1, NULL), 0);
	assert_int_equal(deliver_submit(d, "bad", 3, NULL), 0);
	assert_int_equal(deliver_submit(d, "b", 1, NULL), 0);
	assert_true(deliver_flush(d, 10000));
	deliver_get_stats(d, &st);
	assert_int_equal(st.refused, 1);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(r.attempts, 3);
	assert_string_equal(r.got[0], "a");
	assert_string_equal(r.got[1], "b");
	deliver_stop(d);
}

/* A sender stopped while the receiver is down leaves its records; the next start sends them first. */
static void test_records_survive_a_stop(void **state)
{
	struct receiver down = { .lock = PTHREAD_MUTEX_INITIALIZER, .fail_next = 1000000 };
	struct receiver up = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct deliver_stats st;
	struct deliver *d = start(&down);

	(void)state;
	assert_int_equal(deliver_submit(d, "x1", 2, NULL), 0);
	assert_int_equal(deliver_submit(d, "x2", 2, NULL), 0);
	assert_false(deliver_flush(d, 200));
	deliver_get_stats(d, &st);
	assert_int_equal(st.pending, 2);
	assert_true(st.backing_off);
	assert_non_null(strstr(st.last_error, "receiver down"));
	deliver_stop(d);
	assert_int_equal(down.n_got, 0);

	d = start(&up);
	assert_int_equal(deliver_submit(d, "x3", 2, NULL), 0);
	assert_true(deliver_flush(d, 10000));
	assert_int_equal(up.n_got, 3);
	assert_string_equal(up.got[0], "x1");
	assert_string_equal(up.got[1], "x2");
	assert_string_equal(up.got[2], "x3");
	deliver_stop(d);
}

/* What the agent sends is what the controller reads: a Falco-shaped alert plus "reflex". */
static void test_report_reads_back_as_an_alert(void **state)
{
	struct audit_record r = {
		.time = { .tv_sec = 1763694004, .tv_nsec = 112233445 },
		.action = "kill_process",
		.outcome = "killed",
		.namespace_ = "shop",
		.pod = "web-7d9c",
		.rule = "Drop and execute new binary in container",
		.reason = "a dropped binary",
		.operator_ = "reflex-agent",
		.node = "node-1",
		.container_id = "5c1e0d9a7b21aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		.pid = 4242,
		.exe_path = "/tmp/xmrig",
		.source = "kernel",
		.latency_us = 52,
		.kill_mode = "kernel",
		.image = "busybox:1.36",
		.event_id = "abc-1-4242",
	};
	struct falco_alert al;
	char err[256];
	char *text = reporter_format(&r, 1763694004000000001ULL);
	json_t *rx;

	(void)state;
	assert_non_null(text);
	assert_int_equal(falco_alert_parse(text, strlen(text), 0, &al, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(al.rule, r.rule);
	assert_string_equal(al.priority_text, "Critical");
	assert_true(al.time_ns == 1763694004000000001ULL);
	assert_string_equal(al.container_id, r.container_id);
	assert_string_equal(al.exe_path, "/tmp/xmrig");
	assert_int_equal(al.pid, 4242);
	assert_string_equal(al.k8s_namespace, "shop");
	assert_string_equal(al.k8s_pod, "web-7d9c");
	assert_string_equal(al.image, "busybox:1.36");
	assert_string_equal(al.hostname, "node-1");
	rx = json_object_get(al.json, "reflex");
	assert_string_equal(json_string_value(json_object_get(rx, "event_id")), "abc-1-4242");
	assert_string_equal(json_string_value(json_object_get(rx, "outcome")), "killed");
	assert_string_equal(json_string_value(json_object_get(rx, "kill_mode")), "kernel");
	assert_int_equal(json_integer_value(json_object_get(rx, "latency_us")), 52);
	assert_false(json_is_true(json_object_get(rx, "dry_run")));
	falco_alert_clear(&al);
	free(text);

	/* A host process: container.id "host", never a pod. */
	r.container_id = NULL;
	r.namespace_ = NULL;
	r.pod = NULL;
	text = reporter_format(&r, 0);
	assert_int_equal(falco_alert_parse(text, strlen(text), 0, &al, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(al.container_id, "host");
	assert_null(al.k8s_pod);
	assert_true(al.time_ns == 1763694004112233445ULL);
	falco_alert_clear(&al);
	free(text);
}

/*
 * A dropped binary may be named with any bytes: a report never fails on bytes
 * of outside origin (jansson refuses invalid UTF-8), and the controller reads
 * each field back with the ill-formed byte as the text \xNN.
 */
static void test_report_of_hostile_bytes(void **state)
{
	struct audit_record r = {
		.time = { .tv_sec = 1763694009, .tv_nsec = 5 },
		.event_time = { .tv_sec = 1763694004, .tv_nsec = 7 },
		.action = "kill_pod",
		.outcome = "killed",
		.namespace_ = "shop\377",
		.pod = "web-\377",
		.rule = "Drop and execute new binary in container \377",
		.reason = "dropped \377",
		.detail = "exe /tmp/x\377 killed by \300\200",
		.operator_ = "reflex-agent",
		.node = "node-1",
		.container_id = "5c1e0d9a7b21aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		.pid = 4242,
		.exe_path = "/tmp/x\377",
		.comm = "x\377",
		.image = "busybox\377",
		.source = "kernel",
		.latency_us = 52,
		.event_id = "abc-1-\377",
		.destination = "192.0.2.1:3333/tcp\377",
		.pod_uid = "uid\377",
	};
	struct falco_alert al;
	char err[256], exe[1400];
	char *text = reporter_format(&r, 0);
	json_t *rx, *fields;

	(void)state;
	assert_non_null(text);
	assert_int_equal(falco_alert_parse(text, strlen(text), 0, &al, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(al.exe_path, "/tmp/x\\xff");
	assert_string_equal(al.k8s_pod, "web-\\xff");
	assert_string_equal(al.k8s_namespace, "shop\\xff");
	assert_string_equal(al.rule, "Drop and execute new binary in container \\xff");
	/* The event's time, not the action's. */
	assert_true(al.time_ns == 1763694004000000007ULL);
	fields = json_object_get(al.json, "output_fields");
	assert_string_equal(json_string_value(json_object_get(fields, "proc.name")), "x\\xff");
	assert_string_equal(json_string_value(json_object_get(fields, "container.image")), "busybox\\xff");
	assert_string_equal(json_string_value(json_object_get(fields, "fd.name")), "192.0.2.1:3333/tcp\\xff");
	assert_non_null(strstr(json_string_value(json_object_get(al.json, "output")), "exe /tmp/x\\xff"));
	rx = json_object_get(al.json, "reflex");
	assert_string_equal(json_string_value(json_object_get(rx, "detail")), "exe /tmp/x\\xff killed by \\xc0\\x80");
	assert_string_equal(json_string_value(json_object_get(rx, "reason")), "dropped \\xff");
	assert_string_equal(json_string_value(json_object_get(rx, "event_id")), "abc-1-\\xff");
	assert_string_equal(json_string_value(json_object_get(rx, "pod_uid")), "uid\\xff");
	falco_alert_clear(&al);
	free(text);

	/* Falco's own output line, as Falco would never send it. */
	r.falco_output = "12:00:00 Critical dropped /tmp/x\377";
	text = reporter_format(&r, 0);
	assert_non_null(text);
	assert_int_equal(falco_alert_parse(text, strlen(text), 0, &al, err, sizeof(err)), FALCO_PARSE_OK);
	assert_string_equal(json_string_value(json_object_get(al.json, "output")), "12:00:00 Critical dropped /tmp/x\\xff");
	falco_alert_clear(&al);
	free(text);
	r.falco_output = NULL;

	/*
	 * A long name of multibyte characters (valid UTF-8): the output line is
	 * cut at 1 KiB, never inside a character, at every alignment.
	 */
	for (int pad = 0; pad < 3; pad++) {
		size_t n = 0;

		exe[n++] = '/';
		for (int i = 0; i < pad; i++)
			exe[n++] = 'a';
		while (n + 3 < sizeof(exe) - 1) {
			memcpy(exe + n, "\xe2\x82\xac", 3); /* U+20AC */
			n += 3;
		}
		exe[n] = '\0';
		r.exe_path = exe;
		text = reporter_format(&r, 0);
		assert_non_null(text);
		assert_int_equal(falco_alert_parse(text, strlen(text), 0, &al, err, sizeof(err)), FALCO_PARSE_OK);
		assert_string_equal(al.exe_path, exe);
		assert_true(strlen(json_string_value(json_object_get(al.json, "output"))) < 1024);
		assert_true(strlen(json_string_value(json_object_get(al.json, "output"))) > 1000);
		falco_alert_clear(&al);
		free(text);
	}
}

static void test_token_compare(void **state)
{
	(void)state;
	assert_true(token_equal("s3cret", "s3cret"));
	assert_false(token_equal("s3cret", "s3cre"));
	assert_false(token_equal("s3cret", "s3cret!"));
	assert_false(token_equal("s3cret", "S3cret"));
	assert_false(token_equal("s3cret", ""));
	assert_true(token_equal("", ""));
	assert_false(token_equal("s3cret", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_in_order_after_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_record_is_dropped_not_retried, setup, teardown),
		cmocka_unit_test_setup_teardown(test_records_survive_a_stop, setup, teardown),
		cmocka_unit_test(test_report_reads_back_as_an_alert),
		cmocka_unit_test(test_report_of_hostile_bytes),
		cmocka_unit_test(test_token_compare),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
