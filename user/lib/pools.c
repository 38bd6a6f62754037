// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pools.h"

#define POOL_FILE_MAX (1 << 20)
#define POOL_MAX_DOMAINS 4096
#define POOL_MAX_ADDRS_PER_DOMAIN 32

static const struct {
	const char *section;
	uint32_t list; /* 0: ports; UINT32_MAX: known, ignored */
} pool_sections[] = {
	{ "miner_ports", 0 },
	{ "miner_domains", REFLEX_POOL_MINER },
	{ "https_miner_domains", REFLEX_POOL_HTTPS },
	{ "http_miner_domains", REFLEX_POOL_HTTP },
	/* Built into the kernel program (private ranges never match). */
	{ "rfc_1918_addresses", UINT32_MAX },
};

static bool domain_valid(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0;
}

void pool_lists_clear(struct pool_lists *lists)
{
	for (size_t i = 0; i < lists->n_domains; i++)
		free(lists->domains[i].name);
	free(lists->domains);
	memset(lists, 0, sizeof(*lists));
}

static int domain_add(struct pool_lists *l, const char *name, uint32_t list)
{
	struct pool_domain *grown;

	for (size_t i = 0; i < l->n_domains; i++) {
		if (strcmp(l->domains[i].name, name) == 0) {
			l->domains[i].lists |= list;
			return 0;
		}
	}
	if (l->n_domains == POOL_MAX_DOMAINS)
		return -E2BIG;
	grown = realloc(l->domains, (l->n_domains + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	l->domains = grown;
	l->domains[l->n_domains].name = strdup(name);
	if (!l->domains[l->n_domains].name)
		return -ENOMEM;
	l->domains[l->n_domains++].lists = list;
	return 0;
}

int pool_lists_parse(const char *name, const char *text, size_t len, struct pool_lists *ret,
		     char *err, size_t errlen)
{
	struct pool_lists l = { 0 };
	uint32_t section = UINT32_MAX;
	bool in_section = false;
	size_t lineno = 0, pos = 0;
	char line[512];
	int r = 0;

	while (pos < len) {
		size_t end = pos, n;
		char *s, *e;

		while (end < len && text[end] != '\n')
			end++;
		n = end - pos;
		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%zu: line longer than %zu bytes", name, lineno, sizeof(line) - 1);
			r = -EINVAL;
			goto fail;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos = end + 1;
		s = line;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');
			bool known = false;

			if (!close) {
				snprintf(err, errlen, "%s:%zu: section header without ']'", name, lineno);
				r = -EINVAL;
				goto fail;
			}
			*close = '\0';
			for (size_t i = 0; i < sizeof(pool_sections) / sizeof(pool_sections[0]); i++) {
				if (strcmp(s + 1, pool_sections[i].section) == 0) {
					section = pool_sections[i].list;
					known = true;
				}
			}
			if (!known) {
				snprintf(err, errlen, "%s:%zu: unknown list '%s'", name, lineno, s + 1);
				r = -EINVAL;
				goto fail;
			}
			in_section = true;
			continue;
		}
		if (!in_section) {
			snprintf(err, errlen, "%s:%zu: item '%s' before any [list] header", name, lineno, s);
			r = -EINVAL;
			goto fail;
		}
		if (section == UINT32_MAX)
			continue;
		if (section == 0) {
			char *endp;
			long port = strtol(s, &endp, 10);

			if (*endp || port < 1 || port > 65535) {
				snprintf(err, errlen, "%s:%zu: '%s' is not a port (1-65535)", name, lineno, s);
				r = -EINVAL;
				goto fail;
			}
			if (!((l.ports.bits[port >> 6] >> (port & 63)) & 1))
				l.n_ports++;
			l.ports.bits[port >> 6] |= 1ULL << (port & 63);
			continue;
		}
		if (!domain_valid(s)) {
			snprintf(err, errlen, "%s:%zu: '%s' is not a domain name", name, lineno, s);
			r = -EINVAL;
			goto fail;
		}
		r = domain_add(&l, s, section);
		if (r) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno,
				 r == -E2BIG ? "too many domains" : strerror(-r));
			goto fail;
		}
	}
	*ret = l;
	return 0;
fail:
	pool_lists_clear(&l);
	return r;
}

/* build/gen/pool_lists_builtin.c, made from rules/miner_pools.txt by the Makefile. */
extern const char pool_lists_builtin_text[];
extern const size_t pool_lists_builtin_len;

int pool_lists_builtin(struct pool_lists *ret)
{
	char err[256];
	int r = pool_lists_parse("built-in miner_pools.txt", pool_lists_builtin_text, pool_lists_builtin_len, ret,
				 err, sizeof(err));

	/* The text is checked by the unit tests: a failure here is memory, not syntax. */
	return r;
}

int pool_lists_merge(struct pool_lists *into, const struct pool_lists *from)
{
	for (size_t w = 0; w < sizeof(from->ports.bits) / sizeof(from->ports.bits[0]); w++) {
		into->n_ports += (size_t)__builtin_popcountll(from->ports.bits[w] & ~into->ports.bits[w]);
		into->ports.bits[w] |= from->ports.bits[w];
	}
	for (size_t i = 0; i < from->n_domains; i++) {
		int r = domain_add(into, from->domains[i].name, from->domains[i].lists);

		if (r)
			return r;
	}
	return 0;
}

int pool_lists_assemble(bool builtin, const char *path, struct pool_lists *ret, char *desc, size_t desclen,
			char *err, size_t errlen)
{
	struct pool_lists all = { 0 }, file = { 0 };
	int r = 0;

	snprintf(desc, desclen, "none");
	if (builtin) {
		r = pool_lists_builtin(&all);
		if (r) {
			snprintf(err, errlen, "built-in lists: %s", strerror(-r));
			return r;
		}
		snprintf(desc, desclen, "built-in Falco lists (%zu ports, %zu domains)", all.n_ports, all.n_domains);
	}
	if (path && *path) {
		size_t len = strlen(desc);

		r = pool_lists_load(path, &file, err, errlen);
		if (!r && (r = pool_lists_merge(&all, &file)))
			snprintf(err, errlen, "%s: %s", path, strerror(-r));
		if (!r)
			snprintf(desc + len, desclen - len, "%s%s (%zu ports, %zu domains)", builtin ? " + " : "", path,
				 file.n_ports, file.n_domains);
		else if (!builtin)
			snprintf(desc, desclen, "none (%s not taken)", path);
		pool_lists_clear(&file);
	}
	*ret = all;
	return r;
}

size_t pool_lists_count(const struct pool_lists *lists, uint32_t list)
{
	size_t n = 0;

	for (size_t i = 0; i < lists->n_domains; i++)
		n += (lists->domains[i].lists & list) != 0;
	return n;
}

int pool_lists_load(const char *path, struct pool_lists *ret, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(POOL_FILE_MAX + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, POOL_FILE_MAX + 1, f);
	fclose(f);
	if (n > POOL_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %d bytes", path, POOL_FILE_MAX);
		free(buf);
		return -EFBIG;
	}
	r = pool_lists_parse(path, buf, n, ret, err, errlen);
	free(buf);
	return r;
}

int pool_cidr_parse(const char *text, uint32_t lists, struct pool_addr *ret)
{
	struct pool_addr a = { .lists = lists };
	char buf[INET6_ADDRSTRLEN + 8], *slash, *endp;
	long prefix = -1;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		prefix = strtol(slash + 1, &endp, 10);
		if (*endp || slash[1] == '\0')
			return -EINVAL;
	}
	if (inet_pton(AF_INET, buf, a.addr) == 1) {
		a.family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return -EINVAL;
	} else if (inet_pton(AF_INET6, buf, a.addr) == 1) {
		a.family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		if (prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	a.prefixlen = (uint8_t)prefix;
	*ret = a;
	return 0;
}

struct domain_state {
	struct pool_domain d;
	struct pool_addr addrs[POOL_MAX_ADDRS_PER_DOMAIN];
	size_t n_addrs;     /* last good */
	bool resolved_once;
	bool failing;
	unsigned int backoff_s;
	time_t next_try;
};

struct pool_resolver {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	unsigned int interval_s;
	int notify_fd;
	struct domain_state *domains;
	size_t n_domains;
};

/* Resolves one domain outside the lock; returns the count or -1. */
static int resolve(const char *name, uint32_t lists, struct pool_addr *out, size_t max)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL, *ai;
	size_t n = 0;

	if (getaddrinfo(name, NULL, &hints, &res) != 0)
		return -1;
	for (ai = res; ai && n < max; ai = ai->ai_next) {
		struct pool_addr a = { .family = (uint16_t)ai->ai_family, .lists = lists };
		bool dup = false;

		if (ai->ai_family == AF_INET) {
			a.prefixlen = 32;
			memcpy(a.addr, &((struct sockaddr_in *)ai->ai_addr)->sin_addr, 4);
		} else if (ai->ai_family == AF_INET6) {
			a.prefixlen = 128;
			memcpy(a.addr, &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr, 16);
		} else {
			continue;
		}
		for (size_t i = 0; i < n; i++)
			dup = dup || (out[i].family == a.family && !memcmp(out[i].addr, a.addr, 16));
		if (!dup)
			out[n++] = a;
	}
	freeaddrinfo(res);
	return (int)n;
}

static void *resolver_main(void *arg)
{
	struct pool_resolver *r = arg;
	struct pool_addr tmp[POOL_MAX_ADDRS_PER_DOMAIN];

	pthread_setname_np(pthread_self(), "rx-pool-dns"); /* as top and /proc show it */

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		time_t now = time(NULL), next = now + r->interval_s;
		bool changed = false;

		for (size_t i = 0; i < r->n_domains && !r->stop; i++) {
			struct domain_state *d = &r->domains[i];
			char *name = d->d.name;
			int n;

			if (d->next_try > now)
				continue;
			/* getaddrinfo may block for seconds: never under the lock. */
			pthread_mutex_unlock(&r->lock);
			n = resolve(name, d->d.lists, tmp, POOL_MAX_ADDRS_PER_DOMAIN);
			pthread_mutex_lock(&r->lock);
			now = time(NULL);
			if (n > 0) {
				changed = changed || (size_t)n != d->n_addrs ||
					  memcmp(tmp, d->addrs, (size_t)n * sizeof(tmp[0]));
				memcpy(d->addrs, tmp, (size_t)n * sizeof(tmp[0]));
				d->n_addrs = (size_t)n;
				d->failing = false;
				d->backoff_s = 0;
				d->next_try = now + r->interval_s;
			} else {
				/* Keep the last good addresses; retry sooner, backing off. */
				changed = changed || !d->failing;
				d->failing = true;
				d->backoff_s = d->backoff_s ? d->backoff_s * 2 : 2;
				if (d->backoff_s > r->interval_s)
					d->backoff_s = r->interval_s;
				d->next_try = now + d->backoff_s;
			}
			d->resolved_once = true;
		}
		for (size_t i = 0; i < r->n_domains; i++)
			if (r->domains[i].next_try < next)
				next = r->domains[i].next_try;
		if (changed) {
			uint64_t one = 1;

			if (write(r->notify_fd, &one, sizeof(one)) < 0) {
				/* eventfd counter full cannot happen at 1 per round; ignore. */
			}
		}
		if (!r->stop) {
			struct timespec until = { .tv_sec = next > now ? next : now + 1 };

			pthread_cond_timedwait(&r->wake, &r->lock, &until);
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

int pool_resolver_start(const struct pool_domain *domains, size_t n, unsigned int interval_s,
			struct pool_resolver **ret)
{
	struct pool_resolver *r;
	pthread_condattr_t ca;
	int err;

	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->interval_s = interval_s ? interval_s : 300;
	r->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->domains = calloc(n ? n : 1, sizeof(*r->domains));
	if (r->notify_fd < 0 || !r->domains) {
		err = r->notify_fd < 0 ? errno : ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		r->domains[i].d.lists = domains[i].lists;
		r->domains[i].d.name = strdup(domains[i].name);
		if (!r->domains[i].d.name) {
			err = ENOMEM;
			goto fail;
		}
		r->n_domains++;
	}
	pthread_mutex_init(&r->lock, NULL);
	/* The deadline is wall-clock seconds from time(): CLOCK_REALTIME. */
	pthread_condattr_init(&ca);
	pthread_cond_init(&r->wake, &ca);
	pthread_condattr_destroy(&ca);
	err = pthread_create(&r->thread, NULL, resolver_main, r);
	if (err) {
		pthread_cond_destroy(&r->wake);
		pthread_mutex_destroy(&r->lock);
		goto fail;
	}
	*ret = r;
	return 0;
fail:
	for (size_t i = 0; i < r->n_domains; i++)
		free(r->domains[i].d.name);
	free(r->domains);
	if (r->notify_fd >= 0)
		close(r->notify_fd);
	free(r);
	return -err;
}

struct pool_resolver *pool_resolver_stop(struct pool_resolver *r)
{
	if (!r)
		return NULL;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	/* A getaddrinfo in flight finishes first (bounded by the resolver's timeout). */
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	for (size_t i = 0; i < r->n_domains; i++)
		free(r->domains[i].d.name);
	free(r->domains);
	close(r->notify_fd);
	free(r);
	return NULL;
}

int pool_resolver_fd(const struct pool_resolver *r)
{
	return r->notify_fd;
}

int pool_resolver_take(struct pool_resolver *r, struct pool_addr **ret, size_t *ret_n,
		       size_t *ret_resolved, size_t *ret_failed)
{
	struct pool_addr *out;
	size_t n = 0, resolved = 0, failed = 0;
	uint64_t count;

	if (read(r->notify_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_domains; i++)
		n += r->domains[i].n_addrs;
	out = calloc(n ? n : 1, sizeof(*out));
	if (!out) {
		pthread_mutex_unlock(&r->lock);
		return -ENOMEM;
	}
	n = 0;
	for (size_t i = 0; i < r->n_domains; i++) {
		const struct domain_state *d = &r->domains[i];

		memcpy(out + n, d->addrs, d->n_addrs * sizeof(*out));
		n += d->n_addrs;
		if (d->failing)
			failed++;
		else if (d->resolved_once)
			resolved++;
	}
	pthread_mutex_unlock(&r->lock);
	*ret = out;
	*ret_n = n;
	*ret_resolved = resolved;
	*ret_failed = failed;
	return 0;
}

static int pool_addr_cmp(const void *pa, const void *pb)
{
	const struct pool_addr *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	if (a->prefixlen != b->prefixlen)
		return a->prefixlen < b->prefixlen ? -1 : 1;
	return memcmp(a->addr, b->addr, sizeof(a->addr));
}

size_t pool_addrs_normalize(struct pool_addr *addrs, size_t n)
{
	size_t out = 0;

	if (!n)
		return 0;
	qsort(addrs, n, sizeof(*addrs), pool_addr_cmp);
	for (size_t i = 1; i < n; i++) {
		if (pool_addr_cmp(&addrs[out], &addrs[i]) == 0)
			addrs[out].lists |= addrs[i].lists;
		else
			addrs[++out] = addrs[i];
	}
	return out + 1;
}

bool pool_addrs_contains(const struct pool_addr *addrs, size_t n, const struct pool_addr *key,
			 uint32_t *ret_lists)
{
	const struct pool_addr *hit = bsearch(key, addrs, n, sizeof(*addrs), pool_addr_cmp);

	if (hit && ret_lists)
		*ret_lists = hit->lists;
	return hit != NULL;
}
