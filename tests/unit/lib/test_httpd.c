// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * httpd.c on a real loopback socket, driven by libcurl: every route, its
 * status, body and content type, 404/405, the readiness flip, address
 * parsing and bind errors. Then status_client.c against it and against a
 * fake server that misbehaves (HTTP errors, non-JSON, huge body, silence).
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
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "httpd.h"
#include "metrics.h"
#include "status_client.h"

struct fixture {
	struct metrics *m;
	struct httpd *h;
	char address[64];
};

struct response {
	long code;
	char *body;
	size_t len;
	char content_type[128];
	char allow[128];
};


/* metrics_new, asserted: a fixture that cannot be made fails the test. */
static struct metrics *new_metrics(const char *node)
{
	struct metrics *m = NULL;

	assert_int_equal(metrics_new(node, &m), 0);
	return m;
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct response *r = userdata;
	size_t n = size * nmemb;
	char *grown = realloc(r->body, r->len + n + 1);

	if (!grown)
		return 0;
	r->body = grown;
	memcpy(r->body + r->len, ptr, n);
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

static size_t header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct response *r = userdata;
	size_t n = size * nmemb;

	if (n > 7 && !strncasecmp(ptr, "Allow: ", 7))
		snprintf(r->allow, sizeof(r->allow), "%.*s", (int)(n - 9), ptr + 7);
	return n;
}

/* One request; METHOD NULL is GET, "HEAD" uses CURLOPT_NOBODY. */
static struct response request(const char *address, const char *method, const char *path)
{
	struct response r = { 0 };
	char url[256];
	char *ct = NULL;
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://%s%s", address, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r);
	if (method && !strcmp(method, "HEAD"))
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	else if (method && !strcmp(method, "POST"))
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "x=1");
	else if (method)
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.code);
	curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
	snprintf(r.content_type, sizeof(r.content_type), "%s", ct ? ct : "");
	curl_easy_cleanup(c);
	if (!r.body)
		r.body = calloc(1, 1);
	return r;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	f->m = new_metrics("node-a");
	metrics_set_hook(f->m, "tp_btf/sched_process_exec", true, "preferred hook");
	metrics_set_hook(f->m, "lsm/bprm_check_security", false, "EPERM: lockdown \x1b[31mred");
	metrics_inc(f->m, METRIC_KILLS_PIDFD);
	metrics_set_containers(f->m, 5);
	if (httpd_start("127.0.0.1:0", f->m, &f->h))
		return -1;
	snprintf(f->address, sizeof(f->address), "127.0.0.1:%u", httpd_port(f->h));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	httpd_stop(f->h);
	metrics_free(f->m);
	free(f);
	return 0;
}

static void test_routes(void **state)
{
	struct fixture *f = *state;
	struct response r;
	json_t *j;

	assert_true(httpd_port(f->h) != 0);

	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "ok\n");
	assert_string_equal(r.content_type, "text/plain; charset=utf-8");
	free(r.body);

	r = request(f->address, NULL, "/metrics");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	assert_non_null(strstr(r.body, "\nreflex_kills_total{mode=\"pidfd\"} 1\n"));
	assert_non_null(strstr(r.body, "\nreflex_containers_tracked 5\n"));
	free(r.body);

	/* A query string does not change the route. */
	r = request(f->address, NULL, "/metrics?name[]=x");
	assert_int_equal(r.code, 200);
	free(r.body);

	r = request(f->address, NULL, "/status");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.content_type, "application/json");
	j = json_loads(r.body, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "node")), "node-a");
	assert_int_equal(json_integer_value(json_object_get(j, "containers_tracked")), 5);
	json_decref(j);
	free(r.body);

	/* HEAD: headers of GET, no body. */
	r = request(f->address, "HEAD", "/metrics");
	assert_int_equal(r.code, 200);
	assert_int_equal(r.len, 0);
	free(r.body);
}

static void test_not_found_and_method(void **state)
{
	static const char *const unknown[] = { "/", "/healthz/", "/HEALTHZ", "/metrics/x", "/status.json",
					       "/%00" };
	static const char *const methods[] = { "POST", "PUT", "DELETE", "PATCH", "OPTIONS" };
	struct fixture *f = *state;
	struct response r;

	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		r = request(f->address, NULL, unknown[i]);
		if (r.code != 404)
			fail_msg("%s: HTTP %ld", unknown[i], r.code);
		free(r.body);
	}
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		r = request(f->address, methods[i], "/metrics");
		if (r.code != 405)
			fail_msg("%s: HTTP %ld", methods[i], r.code);
		assert_string_equal(r.allow, "GET, HEAD");
		free(r.body);
	}
	/* Nothing changed behind the refused requests. */
	assert_int_equal(metrics_get(f->m, METRIC_KILLS_PIDFD), 1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* A process that answers HTTP while its event loop is stuck is not alive. */
static void test_liveness_follows_the_event_loop(void **state)
{
	struct fixture *f = *state;
	struct response r;

	metrics_loop_alive(f->m, mono_ns());
	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "ok\n");
	free(r.body);

	metrics_loop_alive(f->m, mono_ns() - 7ULL * 1000000000ULL);
	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 503);
	assert_non_null(strstr(r.body, "event loop stalled for 7"));
	free(r.body);
	/* Readiness is about the hooks, not the loop. */
	metrics_set_ready(f->m, true);
	r = request(f->address, NULL, "/readyz");
	assert_int_equal(r.code, 200);
	free(r.body);

	metrics_loop_alive(f->m, mono_ns());
	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	free(r.body);
	metrics_loop_alive(f->m, 0); /* as before the loop started, for the tests after this one */
}

static void test_readiness_flip(void **state)
{
	struct fixture *f = *state;
	struct response r;

	metrics_set_ready(f->m, false);
	r = request(f->address, NULL, "/readyz");
	assert_int_equal(r.code, 503);
	assert_string_equal(r.body, "not ready: hooks not attached\n");
	free(r.body);
	/* Liveness does not depend on readiness. */
	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	free(r.body);

	metrics_set_ready(f->m, true);
	r = request(f->address, NULL, "/readyz");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "ready\n");
	free(r.body);
	r = request(f->address, NULL, "/metrics");
	assert_non_null(strstr(r.body, "\nreflex_ready 1\n"));
	free(r.body);

	metrics_set_ready(f->m, false);
	r = request(f->address, NULL, "/readyz");
	assert_int_equal(r.code, 503);
	free(r.body);
}

/* Scrapers keep their connection: a second request reuses it; a GET body is ignored. */
static void test_keep_alive(void **state)
{
	struct fixture *f = *state;
	struct response r = { 0 };
	long connects = -1, code = 0;
	char url[128];
	CURL *c = curl_easy_init();

	assert_non_null(c);
	snprintf(url, sizeof(url), "http://%s/healthz", f->address);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "ignored body");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "GET");
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	assert_int_equal(code, 200);
	assert_int_equal(connects, 0);
	assert_string_equal(r.body, "ok\nok\n");
	free(r.body);
	curl_easy_cleanup(c);
}

/* A client that connects and says nothing must not stall the others. */
static void test_idle_client_does_not_block(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(httpd_port(f->h)) };
	struct response r;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(write(fd, "GET /heal", 9), 9);
	r = request(f->address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	free(r.body);
	close(fd);
}

static void test_bad_addresses(void **state)
{
	static const char *const bad[] = {
		"",
		"127.0.0.1",
		"127.0.0.1:",
		":9464",
		"localhost:9464",    /* names are not bound */
		"::1:9464",          /* v6 needs brackets */
		"[::1]9464",
		"[::1]:",
		"[::1",
		"[]:9464",
		"[127.0.0.1]:9464",  /* brackets are for v6 */
		"127.0.0.1:65536",
		"127.0.0.1:123456",
		"127.0.0.1: 80",
		"127.0.0.1:+80",
		"127.0.0.1:-1",
		"127.0.0.1:80x",
		"127.0.0.1:http",
		"999.1.1.1:80",
		"127.0.0.1 :80",
		"127.0.0.1/8:80",
	};
	struct metrics *m = new_metrics("n");

	struct httpd *h = NULL;
	int r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = httpd_start(bad[i], m, &h);
		if (r != -EINVAL)
			fail_msg("'%s': %d, want -EINVAL", bad[i], r);
		assert_null(h);
	}
	assert_int_equal(httpd_start(NULL, m, &h), -EINVAL);
	assert_int_equal(httpd_start("127.0.0.1:0", NULL, &h), -EINVAL);
	assert_null(h);
	assert_null(httpd_stop(NULL));
	assert_int_equal(httpd_port(NULL), 0);
	metrics_free(m);
}

static void test_bind_errors(void **state)
{
	struct fixture *f = *state;
	struct metrics *m = new_metrics("n");

	struct httpd *h = NULL;

	/* The bind errno comes back, not a generic one. */
	assert_int_equal(httpd_start(f->address, m, &h), -EADDRINUSE);
	assert_int_equal(httpd_start("192.0.2.1:0", m, &h), -EADDRNOTAVAIL); /* TEST-NET-1, not on this host */
	assert_null(h);
	metrics_free(m);
}

static void test_ipv6(void **state)
{
	struct metrics *m = new_metrics("v6");
	struct httpd *h = NULL, *h4 = NULL;
	struct response r;
	char address[64];
	int err;

	err = httpd_start("[::1]:0", m, &h);
	if (err == -EADDRNOTAVAIL || err == -EAFNOSUPPORT) {
		metrics_free(m);
		skip();
	}
	assert_non_null(h);
	snprintf(address, sizeof(address), "[::1]:%u", httpd_port(h));
	r = request(address, NULL, "/healthz");
	assert_int_equal(r.code, 200);
	assert_string_equal(r.body, "ok\n");
	free(r.body);
	httpd_stop(h);

	/* "[::]:P" is v6 only, as written: v4's 0.0.0.0:P stays free. */
	assert_int_equal(httpd_start("[::]:0", m, &h), 0);
	snprintf(address, sizeof(address), "0.0.0.0:%u", httpd_port(h));
	assert_int_equal(httpd_start(address, m, &h4), 0);
	httpd_stop(h4);
	httpd_stop(h);
	metrics_free(m);
}

/* Bound to the given address only: another loopback address has nobody there. */
static void test_bound_address_only(void **state)
{
	struct fixture *f = *state;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(httpd_port(f->h)) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, "127.0.0.2", &sin.sin_addr), 1);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

static char *print_status(const char *body, int *ret)
{
	char *text = NULL, err[256] = "";
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	assert_non_null(out);
	*ret = status_print(out, body, err, sizeof(err));
	fclose(out);
	if (*ret)
		assert_true(err[0] != '\0');
	return text;
}

static void test_status_client(void **state)
{
	struct fixture *f = *state;
	char *body = NULL, err[256] = "", *text;
	int ret;

	/* A proxy in the environment must not be used for the agent. */
	setenv("http_proxy", "http://127.0.0.1:1", 1);
	metrics_set_ready(f->m, true);
	assert_int_equal(status_fetch(f->address, &body, err, sizeof(err)), 0);
	unsetenv("http_proxy");
	assert_non_null(body);
	text = print_status(body, &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(text, "node:                  node-a\n"));
	assert_non_null(strstr(text, "ready:                 yes\n"));
	assert_non_null(strstr(text, "  active    tp_btf/sched_process_exec"));
	assert_non_null(strstr(text, "preferred hook\n"));
	/* The escape character in the detail is not sent to the terminal. */
	assert_non_null(strstr(text, "  inactive  lsm/bprm_check_security"));
	assert_non_null(strstr(text, "EPERM: lockdown ?[31mred\n"));
	assert_null(strchr(text, '\x1b'));
	assert_non_null(strstr(text, "counters:\n"));
	assert_non_null(strstr(text, "  kills_pidfd            1\n"));
	assert_non_null(strstr(text, "kernel:\n"));
	assert_non_null(strstr(text, "  ringbuf_drops          0\n"));
	assert_non_null(strstr(text, "containers tracked:    5\n"));
	free(text);
	free(body);

	metrics_set_ready(f->m, false);
	body = NULL;
	assert_int_equal(status_fetch(f->address, &body, err, sizeof(err)), 0);
	text = print_status(body, &ret);
	assert_non_null(strstr(text, "ready:                 no"));
	free(text);
	free(body);
}

static void test_status_fetch_errors(void **state)
{
	static const char *const bad[] = { "", "127.0.0.1", "127.0.0.1:0", "127.0.0.1:99999", "host/x:80",
					   "a@b:80", "h:80/evil", "h:80?x", "[::1", "[::1]:x", "[zz]:80",
					   "[::1%]:80", "[::1%a/b]:80", " h:80" };
	struct fixture *f = *state;
	char *body = (char *)"untouched", err[256];
	struct metrics *m = new_metrics("n");
	struct httpd *h;
	char address[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (status_fetch(bad[i], &body, err, sizeof(err)) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(status_fetch(NULL, &body, err, sizeof(err)), -EINVAL);
	assert_int_equal(status_fetch(f->address, NULL, err, sizeof(err)), -EINVAL);
	/* A NULL error buffer is allowed. */
	assert_int_equal(status_fetch("", &body, NULL, 0), -EINVAL);

	/* Nothing listening: the port of a server just stopped. */
	assert_int_equal(httpd_start("127.0.0.1:0", m, &h), 0);
	snprintf(address, sizeof(address), "127.0.0.1:%u", httpd_port(h));
	httpd_stop(h);
	assert_int_equal(status_fetch(address, &body, err, sizeof(err)), -ECONNREFUSED);
	assert_non_null(strstr(err, address));
	assert_string_equal(body, "untouched");
	metrics_free(m);
}

/* A one-shot server that answers with CANNED, or says nothing when it is NULL. */
struct fake {
	int fd;
	unsigned short port;
	const char *canned;
	size_t canned_len;
	pthread_t thread;
};

static void *fake_serve(void *arg)
{
	struct fake *fk = arg;
	struct pollfd p;
	char buf[4096];
	int c = accept4(fk->fd, NULL, NULL, SOCK_CLOEXEC);

	if (c < 0)
		return NULL;
	p.fd = c;
	p.events = POLLIN;
	/* Read the request head (one read is enough on loopback for curl). */
	if (poll(&p, 1, 5000) > 0 && read(c, buf, sizeof(buf)) > 0 && fk->canned) {
		size_t off = 0;

		while (off < fk->canned_len) {
			ssize_t n = send(c, fk->canned + off, fk->canned_len - off, MSG_NOSIGNAL);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	} else if (!fk->canned) {
		/* Silent: wait for the client to give up. */
		while (poll(&p, 1, 10000) > 0 && read(c, buf, sizeof(buf)) > 0)
			;
	}
	close(c);
	return NULL;
}

static void fake_start(struct fake *fk, const char *canned, size_t len)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fk->canned = canned;
	fk->canned_len = len;
	fk->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fk->fd >= 0);
	assert_int_equal(bind(fk->fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fk->fd, 4), 0);
	assert_int_equal(getsockname(fk->fd, (struct sockaddr *)&sin, &sl), 0);
	fk->port = ntohs(sin.sin_port);
	assert_int_equal(pthread_create(&fk->thread, NULL, fake_serve, fk), 0);
}

static void fake_stop(struct fake *fk)
{
	pthread_join(fk->thread, NULL);
	close(fk->fd);
}

/* status_fetch against CANNED: its return, the error message and an untouched body. */
static int fetch_from_fake(const char *canned, size_t len, char *err, size_t errlen)
{
	char address[64], *body = (char *)"untouched";
	struct fake fk;
	int ret;

	fake_start(&fk, canned, len);
	snprintf(address, sizeof(address), "127.0.0.1:%u", fk.port);
	err[0] = '\0';
	ret = status_fetch(address, &body, err, errlen);
	fake_stop(&fk);
	if (ret)
		assert_string_equal(body, "untouched");
	else
		free(body);
	return ret;
}

#define RESP(s) s, sizeof(s) - 1

static void test_status_fetch_bad_servers(void **state)
{
	char err[512], *big;
	size_t head_len, len;
	int n;

	assert_int_equal(fetch_from_fake(RESP("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n"
					      "Connection: close\r\n\r\noops"),
					 err, sizeof(err)),
			 -EPROTO);
	assert_non_null(strstr(err, "HTTP 500"));
	assert_int_equal(fetch_from_fake(RESP("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\n"
					      "not json!"),
					 err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(fetch_from_fake(RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
					      "[]"),
					 err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(fetch_from_fake(RESP("HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
					 err, sizeof(err)),
			 -EPROTO);
	assert_int_equal(fetch_from_fake(RESP("garbage\r\n\r\n"), err, sizeof(err)), -EIO);
	/* The smallest document that passes. */
	assert_int_equal(fetch_from_fake(RESP("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"
					      "{}"),
					 err, sizeof(err)),
			 0);

	/* Larger than STATUS_BODY_MAX: refused, not buffered without end. */
	len = STATUS_BODY_MAX + 4096;
	big = malloc(len + 256);
	assert_non_null(big);
	n = snprintf(big, 256, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n", len);
	head_len = (size_t)n;
	memset(big + head_len, ' ', len);
	assert_int_equal(fetch_from_fake(big, head_len + len, err, sizeof(err)), -EMSGSIZE);
	free(big);
}

static void test_status_fetch_timeout(void **state)
{
	char err[512];

	/* Accepts, never answers: given up after 2 s. */
	assert_int_equal(fetch_from_fake(NULL, 0, err, sizeof(err)), -ETIMEDOUT);
	assert_true(err[0] != '\0');
}

static void test_status_print_hostile(void **state)
{
	static const char *const bad[] = {
		"", "not json", "[]", "42", "{}", "{\"node\":1,\"ready\":true}", "{\"node\":\"n\"}",
		"{\"node\":\"n\",\"ready\":\"yes\"}", "{\"node\":\"a\",\"node\":\"b\",\"ready\":true}",
	};
	char *text, err[256];
	FILE *full;
	int ret;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		text = print_status(bad[i], &ret);
		if (ret != -EINVAL)
			fail_msg("'%s' printed", bad[i]);
		free(text);
	}
	assert_int_equal(status_print(stdout, NULL, err, sizeof(err)), -EINVAL);

	/* Only node and ready are required; odd types elsewhere do not crash. */
	text = print_status("{\"node\":\"n\\u001b]0;x\\u0007\\u009b\",\"ready\":true,\"hooks\":[1,{\"name\":5},"
			    "{\"name\":\"h\",\"active\":\"yes\",\"detail\":null}],\"counters\":[],"
			    "\"kernel\":{\"a\":\"s\\nx\",\"b\":1.5,\"c\":null,\"d\":{\"e\":1}}}",
			    &ret);
	assert_int_equal(ret, 0);
	assert_non_null(strstr(text, "node:                  n?]0;x??\n"));
	assert_non_null(strstr(text, "  inactive  h"));
	assert_non_null(strstr(text, "counters:\n  (none)\n"));
	assert_non_null(strstr(text, "  a                      s?x\n"));
	assert_non_null(strstr(text, "  b                      1.5\n"));
	assert_non_null(strstr(text, "  d                      {\"e\":1}\n"));
	assert_non_null(strstr(text, "containers tracked:    ?\n"));
	for (const char *p = text; *p; p++)
		assert_true(*p == '\n' || (unsigned char)*p >= 0x20);
	free(text);

	/* A sink that fails is reported. */
	full = fopen("/dev/full", "we");
	assert_non_null(full);
	assert_int_equal(status_print(full, "{\"node\":\"n\",\"ready\":true}", err, sizeof(err)), -EIO);
	fclose(full);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_not_found_and_method),
		cmocka_unit_test(test_readiness_flip),
		cmocka_unit_test(test_liveness_follows_the_event_loop),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_idle_client_does_not_block),
		cmocka_unit_test(test_bad_addresses),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_bound_address_only),
		cmocka_unit_test(test_status_client),
		cmocka_unit_test(test_status_fetch_errors),
		cmocka_unit_test(test_status_fetch_bad_servers),
		cmocka_unit_test(test_status_fetch_timeout),
		cmocka_unit_test(test_status_print_hostile),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests(tests, setup, teardown);
	curl_global_cleanup();
	return ret;
}
