// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The base helpers (util.h) and the bounded HTTP body (http_body.h). */
#include <errno.h>
#include <netdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "testutil.h"
#include "http_body.h"
#include "util.h"

static char dir[64];

static int setup(void **state)
{
	return test_tmpdir(dir, sizeof(dir), "util");
}

static int teardown(void **state)
{
	return test_rmtree(dir);
}

static void path_in(char *buf, size_t size, const char *name)
{
	assert_true((size_t)snprintf(buf, size, "%s/%s", dir, name) < size);
}

static void test_read_small_file(void **state)
{
	char path[128], buf[8];

	path_in(path, sizeof(path), "f");
	test_write_file(path, "0::/a/b\nrest", 12);
	/* At most size - 1 bytes, always terminated. */
	assert_int_equal(util_read_small_file(path, buf, sizeof(buf)), 7);
	assert_string_equal(buf, "0::/a/b");
	assert_int_equal(util_read_small_file(path, buf, 1), 0);
	assert_string_equal(buf, "");
	assert_int_equal(util_read_small_file(path, buf, 0), -EINVAL);
	path_in(path, sizeof(path), "absent");
	assert_int_equal(util_read_small_file(path, buf, sizeof(buf)), -ENOENT);
}

static void test_read_regular_file(void **state)
{
	char path[128], link[128], *text = NULL;
	size_t len = 0;

	path_in(path, sizeof(path), "config.v2.json");
	test_write_file(path, "{\"a\":1}", 7);
	assert_int_equal(util_read_regular_file(path, 7, &text, &len), 0);
	assert_int_equal(len, 7);
	assert_string_equal(text, "{\"a\":1}");
	free(text);
	/* Over the bound: refused, nothing allocated. */
	text = NULL;
	assert_int_equal(util_read_regular_file(path, 6, &text, &len), -EFBIG);
	assert_null(text);
	/* A symlink planted in a container's state directory is not followed. */
	path_in(link, sizeof(link), "link");
	assert_int_equal(symlink(path, link), 0);
	assert_int_equal(util_read_regular_file(link, 4096, &text, &len), -ELOOP);
	/* A FIFO neither blocks the caller nor counts as a file. */
	path_in(link, sizeof(link), "fifo");
	assert_int_equal(mkfifo(link, 0600), 0);
	assert_int_equal(util_read_regular_file(link, 4096, &text, &len), -EINVAL);
	/* A directory is not a regular file either. */
	assert_int_equal(util_read_regular_file(dir, 4096, &text, &len), -EINVAL);
	assert_null(text);
}

static void test_errbuf_set(void **state)
{
	char err[16];

	assert_int_equal(errbuf_set(err, sizeof(err), -EINVAL, "%s: %d", "key", 7), -EINVAL);
	assert_string_equal(err, "key: 7");
	/* Truncated, and what reaches a terminal is printable ASCII only. */
	assert_int_equal(errbuf_set(err, sizeof(err), -EIO, "a\nb\x1b[2J\xc3\xa9 long tail"), -EIO);
	assert_string_equal(err, "a?b?[2J?? long ");
	/* No buffer: only the code. */
	assert_int_equal(errbuf_set(NULL, 0, -ENOENT, "ignored"), -ENOENT);
	err[0] = 'x';
	assert_int_equal(errbuf_set(err, 0, -ENOENT, "ignored"), -ENOENT);
	assert_int_equal(err[0], 'x');
}

static void test_gai_errno(void **state)
{
	assert_int_equal(util_gai_errno(0, -EINVAL), 0);
	assert_int_equal(util_gai_errno(EAI_MEMORY, -EINVAL), -ENOMEM);
	assert_int_equal(util_gai_errno(EAI_NONAME, -EINVAL), -EINVAL);
	assert_int_equal(util_gai_errno(EAI_NONAME, -EHOSTUNREACH), -EHOSTUNREACH);
	errno = ECONNREFUSED;
	assert_int_equal(util_gai_errno(EAI_SYSTEM, -EHOSTUNREACH), -ECONNREFUSED);
	errno = 0;
	assert_int_equal(util_gai_errno(EAI_SYSTEM, -EHOSTUNREACH), -EHOSTUNREACH);
}

static void test_clocks(void **state)
{
	uint64_t a = util_monotonic_ns(), b = util_monotonic_ns();
	int64_t now = util_realtime_ns();
	time_t t = time(NULL);

	assert_true(a > 0 && b >= a);
	assert_true(now / 1000000000 >= t - 1 && now / 1000000000 <= t + 1);
}

static void test_http_body(void **state)
{
	struct http_body b = { .max = 8 };

	assert_int_equal(http_body_append(&b, "abc", 3), 0);
	assert_int_equal(http_body_append(&b, "", 0), 0);
	assert_int_equal(http_body_append(&b, "defgh", 5), 0);
	assert_int_equal(b.len, 8);
	assert_string_equal(b.data, "abcdefgh");
	assert_false(b.too_large);
	/* One byte over: everything dropped, and stays dropped. */
	assert_int_equal(http_body_append(&b, "i", 1), 0);
	assert_true(b.too_large);
	assert_null(b.data);
	assert_int_equal(b.len, 0);
	assert_int_equal(http_body_append(&b, "j", 1), 0);
	assert_null(b.data);
	http_body_free(&b);
}

static void test_http_body_curl_sink(void **state)
{
	struct http_body b = { .max = 6 };
	char chunk[] = "abcd";

	/* libcurl's size * nmemb; the transfer stops (0) past the bound. */
	assert_int_equal(http_body_curl_sink(chunk, 1, 4, &b), 4);
	assert_string_equal(b.data, "abcd");
	assert_int_equal(http_body_curl_sink(chunk, 2, 2, &b), 0);
	assert_true(b.too_large);
	http_body_free(&b);
	assert_null(b.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_small_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_regular_file, setup, teardown),
		cmocka_unit_test(test_errbuf_set),
		cmocka_unit_test(test_gai_errno),
		cmocka_unit_test(test_clocks),
		cmocka_unit_test(test_http_body),
		cmocka_unit_test(test_http_body_curl_sink),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
