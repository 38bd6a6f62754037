// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Pool lists, CIDRs, normalization, and the resolver thread (real getaddrinfo). */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "pools.h"

static bool port_set(const struct pool_lists *l, unsigned int port)
{
	return (l->ports.bits[port >> 6] >> (port & 63)) & 1;
}

static const struct pool_domain *find(const struct pool_lists *l, const char *name)
{
	for (size_t i = 0; i < l->n_domains; i++)
		if (!strcmp(l->domains[i].name, name))
			return &l->domains[i];
	return NULL;
}

/* The shipped list is Falco's, as recorded in the fixtures. */
static void test_shipped_lists_match_falco(void **state)
{
	struct pool_lists shipped = { 0 }, fixture = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(pool_lists_load("rules/miner_pools.txt", &shipped, err, sizeof(err)), 0);
	assert_int_equal(pool_lists_load("../shared/fixtures/miner_pools.txt", &fixture, err, sizeof(err)), 0);
	assert_int_equal(shipped.n_ports, 29);
	assert_int_equal(shipped.n_ports, fixture.n_ports);
	assert_memory_equal(&shipped.ports, &fixture.ports, sizeof(shipped.ports));
	assert_true(port_set(&shipped, 3333) && port_set(&shipped, 14433) && !port_set(&shipped, 22));
	assert_int_equal(shipped.n_domains, fixture.n_domains);
	/* In miner_domains and https_miner_domains and http_miner_domains: lists merged. */
	assert_non_null(find(&shipped, "pool.minexmr.com"));
	assert_int_equal(find(&shipped, "pool.minexmr.com")->lists,
			 REFLEX_POOL_MINER | REFLEX_POOL_HTTPS | REFLEX_POOL_HTTP);
	assert_int_equal(find(&shipped, "ss.antpool.com")->lists, REFLEX_POOL_MINER | REFLEX_POOL_HTTPS);
	pool_lists_clear(&shipped);
	pool_lists_clear(&fixture);
}

static void expect_error(const char *text, const char *msg)
{
	struct pool_lists l = { 0 };
	char err[256] = "";

	assert_int_equal(pool_lists_parse("t.txt", text, strlen(text), &l, err, sizeof(err)), -EINVAL);
	if (!strstr(err, msg))
		fail_msg("error '%s' lacks '%s'", err, msg);
	assert_int_equal(l.n_domains, 0);
}

static void test_bad_lists(void **state)
{
	(void)state;
	expect_error("[miner_ports]\n70000\n", "t.txt:2: '70000' is not a port");
	expect_error("[miner_ports]\n0\n", "t.txt:2:");
	expect_error("[miner_ports]\n33x\n", "'33x' is not a port");
	expect_error("[miner_domains]\nbad domain.com\n", "t.txt:2: 'bad domain.com' is not a domain name");
	expect_error("[miner_domains]\n../etc/passwd\n", "is not a domain name");
	expect_error("[miner_domains]\na..b\n", "is not a domain name");
	expect_error("pool.example\n", "t.txt:1: item 'pool.example' before any [list] header");
	expect_error("[mystery]\n", "t.txt:1: unknown list 'mystery'");
	expect_error("[miner_ports\n", "without ']'");
}

static void test_comments_and_blank_lines(void **state)
{
	const char *text = "# c\n\n[miner_ports] count=2\n 3333 \n3333\n[miner_domains]\nPool.Example\n";
	struct pool_lists l = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(pool_lists_parse("t", text, strlen(text), &l, err, sizeof(err)), 0);
	assert_int_equal(l.n_ports, 1);
	assert_int_equal(l.n_domains, 1);
	pool_lists_clear(&l);
}

static void test_cidrs(void **state)
{
	struct pool_addr a;

	(void)state;
	assert_int_equal(pool_cidr_parse("198.51.100.0/24", REFLEX_POOL_MINER, &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_int_equal(a.prefixlen, 24);
	assert_int_equal(a.addr[0], 198);
	assert_int_equal(pool_cidr_parse("2001:db8::/32", 1, &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.prefixlen, 32);
	assert_int_equal(pool_cidr_parse("203.0.113.9", 1, &a), 0);
	assert_int_equal(a.prefixlen, 32);
	assert_int_equal(pool_cidr_parse("10.0.0.0/33", 1, &a), -EINVAL);
	assert_int_equal(pool_cidr_parse("2001:db8::/129", 1, &a), -EINVAL);
	assert_int_equal(pool_cidr_parse("pool.example/8", 1, &a), -EINVAL);
	assert_int_equal(pool_cidr_parse("1.2.3.4/", 1, &a), -EINVAL);
	assert_int_equal(pool_cidr_parse("", 1, &a), -EINVAL);
}

static void test_normalize_merges_lists(void **state)
{
	struct pool_addr set[4];
	uint32_t lists = 0;
	size_t n;

	(void)state;
	pool_cidr_parse("203.0.113.9", REFLEX_POOL_MINER, &set[0]);
	pool_cidr_parse("2001:db8::7", REFLEX_POOL_MINER, &set[1]);
	pool_cidr_parse("203.0.113.9", REFLEX_POOL_HTTPS, &set[2]);
	pool_cidr_parse("203.0.113.0/24", REFLEX_POOL_HTTP, &set[3]);
	n = pool_addrs_normalize(set, 4);
	assert_int_equal(n, 3);
	assert_true(pool_addrs_contains(set, n, &set[0], &lists));
	for (size_t i = 0; i < n; i++)
		if (set[i].family == AF_INET && set[i].prefixlen == 32)
			assert_int_equal(set[i].lists, REFLEX_POOL_MINER | REFLEX_POOL_HTTPS);
	assert_int_equal(pool_addrs_normalize(set, 0), 0);
}

/* "localhost" resolves from /etc/hosts; ".invalid" never resolves (RFC 6761). */
static void test_resolver_keeps_going_on_failure(void **state)
{
	struct pool_domain domains[] = {
		{ .name = (char *)"localhost", .lists = REFLEX_POOL_MINER },
		{ .name = (char *)"never.invalid", .lists = REFLEX_POOL_MINER },
	};
	struct pool_resolver *r;
	struct pool_addr *addrs = NULL;
	size_t n = 0, ok = 0, failed = 0;
	struct pollfd pfd;
	bool loopback = false;

	(void)state;
	assert_int_equal(pool_resolver_start(domains, 2, 60, &r), 0);
	assert_non_null(r);
	pfd = (struct pollfd){ .fd = pool_resolver_fd(r), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 10000), 1);
	assert_int_equal(pool_resolver_take(r, &addrs, &n, &ok, &failed), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(failed, 1);
	assert_true(n >= 1);
	for (size_t i = 0; i < n; i++)
		loopback = loopback || (addrs[i].family == AF_INET && addrs[i].addr[0] == 127);
	assert_true(loopback);
	free(addrs);
	pool_resolver_stop(r);
}

/* Falco's lists are compiled in, exactly as rules/miner_pools.txt holds them. */
static void test_builtin_lists(void **state)
{
	struct pool_lists b = { 0 }, f = { 0 }, extra = { 0 };
	static const char more[] = "[miner_ports]\n3333\n31337\n[miner_domains]\nnew.pool.example\nxmr.pool.minergate.com\n";
	char err[256];
	size_t n;

	(void)state;
	assert_int_equal(pool_lists_builtin(&b), 0);
	assert_int_equal(pool_lists_load("rules/miner_pools.txt", &f, err, sizeof(err)), 0);
	assert_int_equal(b.n_ports, f.n_ports);
	assert_memory_equal(&b.ports, &f.ports, sizeof(b.ports));
	assert_int_equal(b.n_domains, f.n_domains);
	for (size_t i = 0; i < b.n_domains; i++) {
		assert_string_equal(b.domains[i].name, f.domains[i].name);
		assert_int_equal(b.domains[i].lists, f.domains[i].lists);
	}
	assert_true(b.n_ports >= 20 && b.n_domains >= 50);
	assert_true(pool_lists_count(&b, REFLEX_POOL_MINER) > 0);

	/* A file's lists add to them: new items counted once, a domain on two lists keeps both. */
	assert_int_equal(pool_lists_parse("extra", more, strlen(more), &extra, err, sizeof(err)), 0);
	n = b.n_domains;
	assert_int_equal(pool_lists_merge(&b, &extra), 0);
	assert_int_equal(b.n_ports, f.n_ports + 1);
	assert_true((b.ports.bits[31337 >> 6] >> (31337 & 63)) & 1);
	/* xmr.pool.minergate.com is one of Falco's already; new.pool.example is new. */
	assert_int_equal(b.n_domains, n + 1);
	pool_lists_clear(&extra);
	pool_lists_clear(&f);
	pool_lists_clear(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_lists_match_falco),
		cmocka_unit_test(test_bad_lists),
		cmocka_unit_test(test_comments_and_blank_lines),
		cmocka_unit_test(test_cidrs),
		cmocka_unit_test(test_normalize_merges_lists),
		cmocka_unit_test(test_resolver_keeps_going_on_failure),
		cmocka_unit_test(test_builtin_lists),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
