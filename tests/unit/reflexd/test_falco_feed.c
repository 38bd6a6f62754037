// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The Falco intake over real unix sockets and real HTTP (libcurl): framing, bounds, peers, tokens. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "falco_feed.h"

struct fixture {
	char dir[64];
	char sock[128];
	struct falco_feed *feed;
};

static const unsigned int root_only[] = { 0 };

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/reflex-feed-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->sock, sizeof(fx->sock), "%s/sub/falco.sock", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char sub[160];

	falco_feed_stop(fx->feed);
	unlink(fx->sock);
	snprintf(sub, sizeof(sub), "%s/sub", fx->dir);
	rmdir(sub);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static struct falco_feed *start(struct fixture *fx, size_t queue, size_t max_bytes, const unsigned int *uids,
				size_t n_uids, const char *http, const char *token)
{
	struct falco_feed_config cfg = {
		.socket_path = fx->sock,
		.socket_mode = 0660,
		.peer_uids = uids,
		.n_peer_uids = n_uids,
		.http_address = http,
		.http_token = token,
		.max_alert_bytes = max_bytes,
		.queue_size = queue,
	};

	assert_int_equal(falco_feed_start(&cfg, &fx->feed), 0);
	assert_non_null(fx->feed);
	return fx->feed;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(sun.sun_path, path, strlen(path));
	assert_int_equal(connect(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
	return fd;
}

static void write_all(int fd, const char *s, size_t len)
{
	while (len) {
		ssize_t n = write(fd, s, len);

		assert_true(n > 0);
		s += n;
		len -= (size_t)n;
	}
}

static void alert_line(char *buf, size_t size, const char *rule)
{
	snprintf(buf, size,
		 "{\"hostname\":\"n\",\"output\":\"o\",\"output_fields\":{\"container.id\":\"host\","
		 "\"evt.time\":1763694004112233445,\"proc.exepath\":\"/bin/sh\"},\"priority\":\"Critical\","
		 "\"rule\":\"%s\",\"source\":\"syscall\",\"tags\":[],\"time\":\"2025-11-21T03:00:04.112233445Z\"}",
		 rule);
}

/* Waits (bounded) until the reader has taken N lines (or counted N of the field). */
static struct falco_feed_stats wait_stats(struct falco_feed *f, uint64_t lines, uint64_t rejected_too_large,
					  uint64_t truncated, uint64_t refused)
{
	struct falco_feed_stats st;

	for (int i = 0; i < 500; i++) {
		falco_feed_get_stats(f, &st);
		if (st.lines >= lines && st.rejected[FALCO_PARSE_TOO_LARGE] >= rejected_too_large &&
		    st.truncated >= truncated && st.peers_refused >= refused)
			return st;
		usleep(10000);
	}
	fail_msg("reader did not take the input: lines %llu", (unsigned long long)st.lines);
	return st;
}

static void test_lines_from_several_writers(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed *f = start(fx, 64, 4096, root_only, 1, NULL, NULL);
	struct falco_alert al = { 0 };
	enum falco_intake intake;
	uint64_t at;
	char a[512], b[512];
	int w1 = connect_to(fx->sock), w2 = connect_to(fx->sock);
	size_t half;
	int seen_a = 0, seen_b = 0;

	alert_line(a, sizeof(a), "A");
	alert_line(b, sizeof(b), "B");
	/* w1's line arrives in two pieces around w2's whole one; CRLF and blank lines too. */
	half = strlen(a) / 2;
	write_all(w1, a, half);
	write_all(w2, b, strlen(b));
	write_all(w2, "\r\n\n  \n", 6);
	write_all(w1, a + half, strlen(a) - half);
	write_all(w1, "\n", 1);
	close(w1);
	close(w2);
	wait_stats(f, 2, 0, 0, 0);
	while (falco_feed_next(f, &al, &at, &intake)) {
		assert_int_equal(intake, FALCO_INTAKE_SOCKET);
		assert_true(at > 0);
		seen_a += !strcmp(al.rule, "A");
		seen_b += !strcmp(al.rule, "B");
		falco_alert_clear(&al);
	}
	assert_int_equal(seen_a, 1);
	assert_int_equal(seen_b, 1);
}

static void test_full_queue_drops_the_oldest(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed *f = start(fx, 4, 4096, root_only, 1, NULL, NULL);
	struct falco_alert al = { 0 };
	struct falco_feed_stats st;
	enum falco_intake intake;
	uint64_t at;
	char line[512];
	int w = connect_to(fx->sock);

	for (int i = 0; i < 10; i++) {
		char rule[8];

		snprintf(rule, sizeof(rule), "r%d", i);
		alert_line(line, sizeof(line), rule);
		strcat(line, "\n");
		write_all(w, line, strlen(line));
	}
	close(w);
	st = wait_stats(f, 10, 0, 0, 0);
	assert_int_equal(st.dropped, 6);
	assert_int_equal(st.queue_high_water, 4);
	/* The newest four survive, in order. */
	for (int i = 6; i < 10; i++) {
		char rule[8];

		snprintf(rule, sizeof(rule), "r%d", i);
		assert_true(falco_feed_next(f, &al, &at, &intake));
		assert_string_equal(al.rule, rule);
		falco_alert_clear(&al);
	}
	assert_false(falco_feed_next(f, &al, &at, &intake));
}

static void test_oversized_and_truncated_lines(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed *f = start(fx, 16, 1024, root_only, 1, NULL, NULL);
	struct falco_alert al = { 0 };
	struct falco_feed_stats st;
	enum falco_intake intake;
	uint64_t at;
	char *big = malloc(5000), good[512];
	int w = connect_to(fx->sock);

	assert_non_null(big);
	memset(big, 'x', 4999);
	big[4999] = '\n';
	alert_line(good, sizeof(good), "after");
	strcat(good, "\n");
	/* An oversized line is skipped to its newline; the next line is whole. */
	write_all(w, big, 5000);
	write_all(w, good, strlen(good));
	/* A line cut by a disconnect is lost, alone. */
	write_all(w, good, 40);
	close(w);
	st = wait_stats(f, 1, 1, 1, 0);
	assert_int_equal(st.rejected[FALCO_PARSE_TOO_LARGE], 1);
	assert_int_equal(st.truncated, 1);
	assert_true(falco_feed_next(f, &al, &at, &intake));
	assert_string_equal(al.rule, "after");
	falco_alert_clear(&al);
	assert_false(falco_feed_next(f, &al, &at, &intake));
	free(big);
}

static void test_malformed_line_counted_and_skipped(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed *f = start(fx, 16, 4096, root_only, 1, NULL, NULL);
	struct falco_alert al = { 0 };
	struct falco_feed_stats st;
	enum falco_intake intake;
	uint64_t at;
	char good[512];
	int w = connect_to(fx->sock);

	alert_line(good, sizeof(good), "ok");
	write_all(w, "{\"rule\": \n", 10);
	write_all(w, "\xff\xfe\n", 3);
	write_all(w, good, strlen(good));
	write_all(w, "\n", 1);
	close(w);
	wait_stats(f, 3, 0, 0, 0);
	assert_true(falco_feed_next(f, &al, &at, &intake));
	assert_string_equal(al.rule, "ok");
	falco_alert_clear(&al);
	falco_feed_get_stats(f, &st);
	assert_int_equal(st.parsed, 1);
	assert_int_equal(st.rejected[FALCO_PARSE_SYNTAX] + st.rejected[FALCO_PARSE_NOT_UTF8], 2);
}

static void test_peer_not_allowed_is_refused(void **state)
{
	struct fixture *fx = *state;
	static const unsigned int others[] = { 12345 };
	struct falco_feed *f = start(fx, 16, 4096, others, 1, NULL, NULL);
	struct falco_feed_stats st;
	char line[512], buf[8];
	int w = connect_to(fx->sock);
	struct stat sb;

	alert_line(line, sizeof(line), "nope");
	strcat(line, "\n");
	st = wait_stats(f, 0, 0, 0, 1);
	assert_int_equal(st.peers_refused, 1);
	/* The agent closed our end: reading gives EOF. */
	assert_int_equal(read(w, buf, sizeof(buf)), 0);
	close(w);
	falco_feed_get_stats(f, &st);
	assert_int_equal(st.lines, 0);
	assert_int_equal(stat(fx->sock, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0660);
}

static void test_stale_socket_replaced_other_file_kept(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed_config cfg = {
		.socket_path = fx->sock, .socket_mode = 0660, .peer_uids = root_only, .n_peer_uids = 1,
		.max_alert_bytes = 4096, .queue_size = 4,
	};
	struct falco_feed *f;
	FILE *file;

	/* A socket left by a killed agent (bound, never unlinked) is replaced. */
	assert_int_equal(falco_feed_start(&cfg, &f), 0);
	assert_non_null(f);
	falco_feed_stop(f);
	{
		struct sockaddr_un sun = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		memcpy(sun.sun_path, fx->sock, strlen(fx->sock));
		assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
		close(fd);
	}
	assert_int_equal(falco_feed_start(&cfg, &f), 0);
	assert_non_null(f);
	falco_feed_stop(f);
	/* A regular file at the path is not ours: refuse. */
	file = fopen(fx->sock, "w");
	assert_non_null(file);
	fclose(file);
	f = NULL;
	assert_int_equal(falco_feed_start(&cfg, &f), -EEXIST);
	assert_null(f);
}

static size_t sink(char *p, size_t size, size_t n, void *ctx)
{
	(void)p;
	(void)ctx;
	return size * n;
}

static long post(unsigned short port, const char *body, size_t len, const char *token, const char *method)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[64], hdr[128];
	long code = 0;

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink);
	if (method) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
	}
	h = curl_slist_append(h, "Content-Type: application/json; charset=utf-8");
	if (token) {
		snprintf(hdr, sizeof(hdr), "X-Falco-Token: %s", token);
		h = curl_slist_append(h, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return code;
}

static void test_http_intake(void **state)
{
	struct fixture *fx = *state;
	struct falco_feed *f = start(fx, 16, 2048, root_only, 1, "127.0.0.1:0", "t0ken");
	unsigned short port = falco_feed_http_port(f);
	struct falco_alert al = { 0 };
	struct falco_feed_stats st;
	enum falco_intake intake;
	char good[512], big[4096];
	uint64_t at;

	assert_true(port > 0);
	alert_line(good, sizeof(good), "http");
	memset(big, ' ', sizeof(big));
	assert_int_equal(post(port, good, strlen(good), "t0ken", NULL), 200);
	assert_int_equal(post(port, good, strlen(good), NULL, NULL), 401);
	assert_int_equal(post(port, good, strlen(good), "t0keN", NULL), 401);
	assert_int_equal(post(port, good, strlen(good), "t0ken-longer", NULL), 401);
	assert_int_equal(post(port, "{\"rule\":", 8, "t0ken", NULL), 400);
	assert_int_equal(post(port, big, sizeof(big), "t0ken", NULL), 413);
	assert_int_equal(post(port, NULL, 0, "t0ken", "GET"), 405);
	assert_true(falco_feed_next(f, &al, &at, &intake));
	assert_int_equal(intake, FALCO_INTAKE_HTTP);
	assert_string_equal(al.rule, "http");
	falco_alert_clear(&al);
	assert_false(falco_feed_next(f, &al, &at, &intake));
	falco_feed_get_stats(f, &st);
	assert_int_equal(st.http_unauthorized, 3);
	assert_int_equal(st.rejected[FALCO_PARSE_TOO_LARGE], 1);
	assert_int_equal(st.rejected[FALCO_PARSE_SYNTAX], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_lines_from_several_writers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_full_queue_drops_the_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_and_truncated_lines, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_line_counted_and_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_not_allowed_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_socket_replaced_other_file_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_intake, setup, teardown),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
