// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Mining pools in the kernel (see pool_sync.h): the lists loaded, their
 * domains resolved on the library's thread, every address and CIDR kept in
 * the connect programs' LPM tries.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "agent_internal.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "pool_sync.h"
#include "pools.h"

static int pool_key_apply(struct agent *a, const struct pool_addr *p, bool add)
{
	if (p->family == AF_INET) {
		struct reflex_pool_v4_key k = { .prefixlen = p->prefixlen };

		memcpy(k.addr, p->addr, 4);
		return add ? kernel_pool_v4_update(a->kernel, &k, p->lists) : kernel_pool_v4_delete(a->kernel, &k);
	}
	{
		struct reflex_pool_v6_key k = { .prefixlen = p->prefixlen };

		memcpy(k.addr, p->addr, 16);
		return add ? kernel_pool_v6_update(a->kernel, &k, p->lists) : kernel_pool_v6_delete(a->kernel, &k);
	}
}

/*
 * New pool set = configured CIDRs + every domain's last good addresses.
 * Insert and update first, delete the stale after: no moment in which a
 * pool that stays listed is missing from the tries.
 */
static void pools_apply(struct agent *a, struct pool_addr *resolved, size_t n_resolved)
{
	const struct agent_config *ac = &a->config->agent;
	struct pool_addr *set;
	size_t n = 0, added = 0, removed = 0;

	set = calloc(n_resolved + ac->n_pool_cidrs + 1, sizeof(*set));
	if (!set) {
		log_error("pools: out of memory; keeping the current set");
		return;
	}
	for (size_t i = 0; i < ac->n_pool_cidrs; i++)
		if (pool_cidr_parse(ac->pool_cidrs[i], REFLEX_POOL_MINER, &set[n]) == 0)
			n++;
	memcpy(set + n, resolved, n_resolved * sizeof(*set));
	n = pool_addrs_normalize(set, n + n_resolved);
	for (size_t i = 0; i < n; i++) {
		uint32_t lists;

		if (pool_addrs_contains(a->pool_applied, a->n_pool_applied, &set[i], &lists) &&
		    lists == set[i].lists)
			continue;
		if (pool_key_apply(a, &set[i], true) == 0)
			added++;
	}
	for (size_t i = 0; i < a->n_pool_applied; i++) {
		if (pool_addrs_contains(set, n, &a->pool_applied[i], NULL))
			continue;
		if (pool_key_apply(a, &a->pool_applied[i], false) == 0)
			removed++;
	}
	free(a->pool_applied);
	a->pool_applied = set;
	a->n_pool_applied = n;
	metrics_set_pools(a->metrics, a->pools.n_domains, n);
	if (added || removed)
		log_info("pools: %zu addresses and CIDRs in the kernel (+%zu -%zu)", n, added, removed);
}

void pool_sync_on_resolver(struct agent *a)
{
	struct pool_addr *resolved = NULL;
	size_t n = 0, ok = 0, failed = 0;
	int err;

	err = pool_resolver_take(a->resolver, &resolved, &n, &ok, &failed);
	if (err) {
		log_errno(LOG_LEVEL_WARN, err, "pools: taking resolver results");
		return;
	}
	if (failed)
		log_warn("pools: %zu of %zu domains do not resolve now; their last good addresses stay",
			 failed, a->pools.n_domains);
	metrics_set_pool_resolution(a->metrics, ok, failed);
	pools_apply(a, resolved, n);
	free(resolved);
}

void pool_sync_stop(struct agent *a)
{
	if (a->resolver) {
		epoll_ctl(a->epoll_fd, EPOLL_CTL_DEL, pool_resolver_fd(a->resolver), NULL);
		a->resolver = pool_resolver_stop(a->resolver);
	}
	pool_lists_clear(&a->pools);
}

void pool_sync_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	struct reflex_connect_config cc = {
		.port_only = ac->pool_port_only,
		.exclude_private = ac->pool_exclude_private,
	};
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &a->tag.resolver };
	char err[512], desc[512];
	int r;

	if (!kernel_connect_active(a->kernel, KERNEL_CONNECT4) && !kernel_connect_active(a->kernel, KERNEL_CONNECT6))
		return;
	r = pool_lists_assemble(ac->pool_lists_builtin, ac->pool_lists, &a->pools, desc, sizeof(desc), err,
				sizeof(err));
	if (r)
		log_error("pools: %s; watching %s and agent.pool_cidrs", err, desc);
	metrics_set_hook(a->metrics, "pool lists", a->pools.n_ports || a->pools.n_domains, desc);
	if (kernel_set_miner_ports(a->kernel, &a->pools.ports) || kernel_set_connect_config(a->kernel, &cc))
		log_error("pools: could not program ports or knobs into the kernel");
	pools_apply(a, NULL, 0);
	if (!a->pools.n_domains)
		return;
	r = pool_resolver_start(a->pools.domains, a->pools.n_domains, ac->pool_resolve_interval_s, &a->resolver);
	if (r) {
		log_errno(LOG_LEVEL_ERROR, r, "pools: resolver thread");
		return;
	}
	if (epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, pool_resolver_fd(a->resolver), &ev))
		log_errno(LOG_LEVEL_ERROR, -errno, "pools: epoll add");
	log_info("pools: %zu miner ports, %zu domains (resolving every %u s), %zu CIDRs from config",
		 a->pools.n_ports, a->pools.n_domains, ac->pool_resolve_interval_s, ac->n_pool_cidrs);
}
