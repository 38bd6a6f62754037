/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Mining pools in the kernel: agent.pool_lists loaded (miner ports, pool
 * domains), the domains resolved every agent.pool_resolve_interval_s on the
 * library's resolver thread, and the set the connect programs match (the
 * configured CIDRs + every domain's last good addresses) kept in their LPM
 * tries. Nothing here is fatal: what cannot be had is logged and left out.
 */
#ifndef REFLEX_POOL_SYNC_H
#define REFLEX_POOL_SYNC_H

struct agent;

/*
 * Loads the lists, programs ports and knobs, starts resolving (the
 * resolver's fd in the loop's epoll set). Nothing without a connect hook.
 */
void pool_sync_start(struct agent *a);
/* Stops resolving and forgets the lists; the tries keep what they hold. */
void pool_sync_stop(struct agent *a);
/* The resolver's fd is readable: its results into the tries. */
void pool_sync_on_resolver(struct agent *a);

#endif
