// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Paging an isolation: the Falco-shaped event falcosidekick's input takes,
 * the generic webhook, a durable spool per target with retries, and the
 * "page" audit records (delivered, retried once, given_up). Against a local
 * HTTP stand-in that answers like falcosidekick's input (200 on a valid
 * Falco payload, 400 on one without rule/priority/output).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>

#include "testutil.h"
#include "http_body.h"
#include "page.h"
#include "util.h"

struct stand_in {
	struct MHD_Daemon *daemon;
	unsigned short port;
	pthread_mutex_t lock;
	int fail_next; /* answer 500 this many times */
	int requests;
	char bodies[8][2048];
	int n_bodies;
};

struct records {
	pthread_mutex_t lock;
	char outcomes[16][16];
	char details[16][320];
	int n;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	struct stand_in *s = cls;
	struct http_body *b = *con_cls;
	struct MHD_Response *resp;
	unsigned int status = 200;
	enum MHD_Result ret;
	json_t *j;

	if (!b) {
		b = calloc(1, sizeof(*b));
		b->max = 1 << 16;
		*con_cls = b;
		return MHD_YES;
	}
	if (*upload_size) {
		http_body_append(b, upload, *upload_size);
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	s->requests++;
	j = json_loadb(b->data ? b->data : "", b->len, 0, NULL);
	if (strcmp(method, "POST") || strcmp(url, "/")) {
		status = 404;
	} else if (s->fail_next > 0) {
		s->fail_next--;
		status = 500;
	} else if (!json_is_string(json_object_get(j, "output")) && !json_is_string(json_object_get(j, "text"))) {
		status = 400; /* falcosidekick refuses a payload that is not a Falco event */
	} else if (s->n_bodies < 8) {
		snprintf(s->bodies[s->n_bodies++], sizeof(s->bodies[0]), "%s", b->data);
	}
	json_decref(j);
	pthread_mutex_unlock(&s->lock);
	resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void done(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct http_body *b = *con_cls;

	if (b) {
		http_body_free(b);
		free(b);
		*con_cls = NULL;
	}
}

static struct stand_in *stand_in_start(int fail_next)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct stand_in *s = calloc(1, sizeof(*s));

	assert_non_null(s);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->fail_next = fail_next;
	pthread_mutex_init(&s->lock, NULL);
	s->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_END);
	assert_non_null(s->daemon);
	s->port = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
	return s;
}

static void stand_in_stop(struct stand_in *s)
{
	MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void record(void *ctx, const struct audit_record *r)
{
	struct records *rs = ctx;

	pthread_mutex_lock(&rs->lock);
	assert_string_equal(r->action, "page");
	if (rs->n < 16) {
		snprintf(rs->outcomes[rs->n], sizeof(rs->outcomes[0]), "%s", r->outcome);
		snprintf(rs->details[rs->n], sizeof(rs->details[0]), "%s", r->detail ? r->detail : "");
		rs->n++;
	}
	pthread_mutex_unlock(&rs->lock);
}

/* Waits (bounded, 10 s) until RS holds OUTCOME. */
static bool wait_outcome(struct records *rs, const char *outcome)
{
	uint64_t deadline = util_monotonic_ns() + 10000000000ULL;

	while (util_monotonic_ns() < deadline) {
		pthread_mutex_lock(&rs->lock);
		for (int i = 0; i < rs->n; i++)
			if (!strcmp(rs->outcomes[i], outcome)) {
				pthread_mutex_unlock(&rs->lock);
				return true;
			}
		pthread_mutex_unlock(&rs->lock);
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	return false;
}

static int count_outcome(struct records *rs, const char *outcome)
{
	int n = 0;

	pthread_mutex_lock(&rs->lock);
	for (int i = 0; i < rs->n; i++)
		n += !strcmp(rs->outcomes[i], outcome);
	pthread_mutex_unlock(&rs->lock);
	return n;
}

static char dir[64];

static int setup(void **state)
{
	return test_tmpdir(dir, sizeof(dir), "page");
}

static int teardown(void **state)
{
	return test_rmtree(dir);
}

/* The event falcosidekick routes as any Critical Falco alert. */
static void test_sidekick_body(void **state)
{
	char *body = page_sidekick_body("shop", "Detect crypto miners using the Stratum protocol", "n1-42-17",
					"Stratum handshake; namespace quarantined", "reflex-controller-0",
					1795347602123456789LL);
	json_t *j, *f;

	assert_non_null(body);
	j = json_loads(body, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "priority")), "Critical");
	assert_string_equal(json_string_value(json_object_get(j, "rule")), PAGE_RULE);
	assert_string_equal(json_string_value(json_object_get(j, "time")), "2026-11-22T11:40:02.123456789Z");
	assert_string_equal(json_string_value(json_object_get(j, "source")), "reflex");
	assert_string_equal(json_string_value(json_object_get(j, "hostname")), "reflex-controller-0");
	assert_non_null(strstr(json_string_value(json_object_get(j, "output")), "isolated namespace shop"));
	f = json_object_get(j, "output_fields");
	assert_string_equal(json_string_value(json_object_get(f, "k8s.ns.name")), "shop");
	assert_string_equal(json_string_value(json_object_get(f, "reflex.rule")),
			    "Detect crypto miners using the Stratum protocol");
	assert_string_equal(json_string_value(json_object_get(f, "reflex.event_id")), "n1-42-17");
	assert_int_equal(json_integer_value(json_object_get(f, "evt.time")), 1795347602123456789LL);
	json_decref(j);
	free(body);
}

/* Two targets; falcosidekick down twice: one "retried" record, then "delivered" from both. */
static void test_retried_then_delivered(void **state)
{
	struct stand_in *sk = stand_in_start(2), *hook = stand_in_start(0);
	struct records rs = { .n = 0 };
	char sk_url[64], hook_url[64];
	struct page_config cfg = { .webhook_url = hook_url, .sidekick_url = sk_url, .spool_dir = dir,
				   .instance = "reflex-controller-0", .audit = record, .audit_ctx = &rs };
	struct pager *p = NULL;
	struct page_stats st;

	pthread_mutex_init(&rs.lock, NULL);
	snprintf(sk_url, sizeof(sk_url), "http://127.0.0.1:%u/", sk->port);
	snprintf(hook_url, sizeof(hook_url), "http://127.0.0.1:%u/", hook->port);
	assert_int_equal(pager_start(&cfg, &p), 0);
	assert_true(pager_has_targets(p));
	assert_int_equal(page_isolation(p, "shop", "Stratum rule", "n1-42-17", "quarantine"), 0);
	assert_true(wait_outcome(&rs, "retried"));
	/* Both delivered: wait for two "delivered" records. */
	{
		uint64_t deadline = util_monotonic_ns() + 20000000000ULL;

		while (count_outcome(&rs, "delivered") < 2 && util_monotonic_ns() < deadline)
			nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	assert_int_equal(count_outcome(&rs, "delivered"), 2);
	assert_int_equal(count_outcome(&rs, "retried"), 1); /* once per page, not per attempt */
	pager_get_stats(p, &st);
	assert_int_equal(st.delivered, 2);
	assert_true(st.retries >= 2);
	pthread_mutex_lock(&sk->lock);
	assert_int_equal(sk->n_bodies, 1);
	assert_non_null(strstr(sk->bodies[0], "\"rule\":\"" PAGE_RULE "\""));
	pthread_mutex_unlock(&sk->lock);
	pthread_mutex_lock(&hook->lock);
	assert_int_equal(hook->n_bodies, 1);
	assert_non_null(strstr(hook->bodies[0], "\"namespace\":\"shop\""));
	pthread_mutex_unlock(&hook->lock);
	pager_stop(p, 1000);
	stand_in_stop(sk);
	stand_in_stop(hook);
	pthread_mutex_destroy(&rs.lock);
}

/* A target that never takes it: "given_up" once the bound has passed, and the spool is empty. */
static void test_given_up(void **state)
{
	struct stand_in *sk = stand_in_start(1000000);
	struct records rs = { .n = 0 };
	char sk_url[64];
	struct page_config cfg = { .sidekick_url = sk_url, .spool_dir = dir, .instance = "r0", .give_up_s = 1,
				   .audit = record, .audit_ctx = &rs };
	struct pager *p = NULL;
	struct page_stats st;

	pthread_mutex_init(&rs.lock, NULL);
	snprintf(sk_url, sizeof(sk_url), "http://127.0.0.1:%u/", sk->port);
	assert_int_equal(pager_start(&cfg, &p), 0);
	assert_int_equal(page_isolation(p, "shop", "r", "e1", "why"), 0);
	assert_true(wait_outcome(&rs, "given_up"));
	pager_get_stats(p, &st);
	assert_int_equal(st.given_up, 1);
	assert_int_equal(st.delivered, 0);
	pager_stop(p, 0);
	stand_in_stop(sk);
	pthread_mutex_destroy(&rs.lock);
}

/* No target: nothing spooled, and the caller is told. */
static void test_no_target(void **state)
{
	struct page_config cfg = { .spool_dir = dir, .instance = "r0" };
	struct pager *p = NULL;

	assert_int_equal(pager_start(&cfg, &p), 0);
	assert_false(pager_has_targets(p));
	assert_int_equal(page_isolation(p, "shop", "r", "e1", "why"), -ENOENT);
	pager_stop(p, 0);
	cfg.instance = NULL;
	assert_int_equal(pager_start(&cfg, &p), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sidekick_body),
		cmocka_unit_test_setup_teardown(test_retried_then_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_given_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_target, setup, teardown),
	};
	int r;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
