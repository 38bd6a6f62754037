/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Mining-pool indicators: Falco's lists (miner_ports, miner_domains,
 * https_miner_domains, http_miner_domains) parsed from rules/miner_pools.txt,
 * configured CIDRs, and a resolver thread that turns domains into addresses
 * at start and periodically, never blocking the event loop. A domain whose
 * resolution fails keeps its last good addresses.
 */
#ifndef REFLEX_POOLS_H
#define REFLEX_POOLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reflex/events.h"

struct pool_domain {
	char *name;
	uint32_t lists; /* enum reflex_pool_list bits */
};

struct pool_lists {
	struct reflex_port_bitmap ports; /* miner_ports */
	size_t n_ports;
	struct pool_domain *domains;     /* unique names, lists merged */
	size_t n_domains;
};

/*
 * Parses the "[list] ..." sectioned text. Unknown sections, bad ports and
 * bad domain names are errors "NAME:LINE: what is wrong" in err. Returns 0.
 */
int pool_lists_parse(const char *name, const char *text, size_t len, struct pool_lists *ret,
		     char *err, size_t errlen);
int pool_lists_load(const char *path, struct pool_lists *ret, char *err, size_t errlen);
void pool_lists_clear(struct pool_lists *lists);
/*
 * Falco's lists as they ship in rules/miner_pools.txt, compiled in: a node
 * watches them without any file. 0 or -errno.
 */
int pool_lists_builtin(struct pool_lists *ret);
/* FROM's ports and domains added to INTO (a domain in both keeps both lists' bits). 0 or -errno. */
int pool_lists_merge(struct pool_lists *into, const struct pool_lists *from);
/*
 * What a node watches: the built-in lists when BUILTIN, plus the file PATH
 * (NULL or "": none) added to them. DESC gets what was taken ("built-in
 * Falco lists (29 ports, 67 domains) + /etc/x (3 domains)"). 0; or -errno
 * with ERR saying why the file was not taken, *RET still holding the rest.
 */
int pool_lists_assemble(bool builtin, const char *path, struct pool_lists *ret, char *desc, size_t desclen,
			char *err, size_t errlen);
/* How many domains of LISTS are on list LIST (enum reflex_pool_list bit). */
size_t pool_lists_count(const struct pool_lists *lists, uint32_t list);

/* One resolved or configured address. */
struct pool_addr {
	uint16_t family;   /* AF_INET, AF_INET6 */
	uint8_t prefixlen; /* 32 / 128 for resolved addresses */
	uint8_t addr[16];
	uint32_t lists;
};

/* "198.51.100.0/24", "2001:db8::/32", a bare address = host prefix. */
int pool_cidr_parse(const char *text, uint32_t lists, struct pool_addr *ret);

struct pool_resolver;

/*
 * Starts the thread: resolves every domain at once, then every interval_s
 * seconds; a failed domain is retried with exponential backoff from 2 s up
 * to interval_s. notify_fd (from pool_resolver_fd) is readable when a new
 * set is ready. 0 and *RET, or -errno. Takes a copy of the domains.
 */
int pool_resolver_start(const struct pool_domain *domains, size_t n, unsigned int interval_s,
			struct pool_resolver **ret);
struct pool_resolver *pool_resolver_stop(struct pool_resolver *r);
int pool_resolver_fd(const struct pool_resolver *r);

/*
 * After notify_fd became readable: the current address set (every domain's
 * last good addresses), malloc'd into *ret (free()), count in *ret_n, and
 * how many domains currently resolve / fail. Resets the notification.
 */
int pool_resolver_take(struct pool_resolver *r, struct pool_addr **ret, size_t *ret_n,
		       size_t *ret_resolved, size_t *ret_failed);

/* Sorts by (family, prefix, address) and merges duplicates' lists; returns the new count. */
size_t pool_addrs_normalize(struct pool_addr *addrs, size_t n);
/* On a normalized array: whether KEY (family, prefix, address) is in it, and its lists. */
bool pool_addrs_contains(const struct pool_addr *addrs, size_t n, const struct pool_addr *key,
			 uint32_t *ret_lists);

#endif
