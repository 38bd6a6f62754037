/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Kernel side lifecycle: probe which hooks load here, load and attach the
 * exec program, consume its ring buffer, fill the per-cgroup verdict map,
 * read the kernel's counters. Detaches everything on close.
 */
#ifndef REFLEX_KERNEL_H
#define REFLEX_KERNEL_H

#include <stdbool.h>
#include <stdint.h>

#include "reflex/events.h"

struct kernel;

/* Called from kernel_consume() for each record; return 0 to go on. */
typedef int (*kernel_event_fn)(void *ctx, const void *record, size_t size);

struct kernel_opts {
	uint32_t agent_tgid;
	uint32_t host_mnt_ns_inum;
	const char *cgroup_root; /* cgroup v2 mount: the connect programs attach here */
	bool force_raw_tp;       /* skip tp_btf, as on a kernel without it (tests) */
	bool no_exec_deny;       /* do not load lsm/bprm_check_security */
	bool no_stratum_watch;   /* do not load cgroup_skb/egress (agent.watch_stratum_handshake) */
};

/* The connect-family programs, probed and attached one by one. */
enum kernel_connect_prog {
	KERNEL_CONNECT4 = 0,
	KERNEL_CONNECT6,
	KERNEL_SENDMSG4,
	KERNEL_SENDMSG6,
	KERNEL_STRATUM_EGRESS, /* cgroup_skb/egress: Stratum handshakes to unlisted addresses */
	KERNEL_CONNECT_PROG_MAX,
};

/*
 * Loads and attaches the exec program: tp_btf/sched_process_exec, else
 * raw_tp/sched_process_exec. Returns 0 and *ret, or a negative errno after
 * logging why each variant failed.
 */
int kernel_open(const struct kernel_opts *opts, kernel_event_fn fn, void *ctx, struct kernel **ret);
/* Accepts NULL; returns NULL. Detaches and unloads. */
struct kernel *kernel_close(struct kernel *k);
/*
 * Detaches every program (no new kernel action from here on) and keeps the
 * ring buffer and the maps, so what the programs already did can still be
 * drained with kernel_consume and counted with kernel_read_counters.
 */
void kernel_detach(struct kernel *k);

/* The hook in use, e.g. "tp_btf/sched_process_exec". */
const char *kernel_exec_hook(const struct kernel *k);
/* Why the preferred hook is not in use, or NULL. */
const char *kernel_exec_fallback_reason(const struct kernel *k);

/*
 * lsm/bprm_check_security: refuses an exec the verdict map would kill at
 * exec, before the new image starts. Needs CONFIG_BPF_LSM and "bpf" in the
 * active LSMs; otherwise inactive, with the reason. Off until
 * kernel_set_exec_deny(k, true).
 */
bool kernel_exec_deny_active(const struct kernel *k);
const char *kernel_exec_deny_reason(const struct kernel *k);
void kernel_set_exec_deny(struct kernel *k, bool on);

/* "cgroup/connect4", ...; whether it is attached, and why not. */
const char *kernel_connect_hook(enum kernel_connect_prog p);
bool kernel_connect_active(const struct kernel *k, enum kernel_connect_prog p);
const char *kernel_connect_reason(const struct kernel *k, enum kernel_connect_prog p);

/* Pool tries, port bitmap and knobs (connect programs). */
int kernel_pool_v4_update(struct kernel *k, const struct reflex_pool_v4_key *key, uint32_t lists);
int kernel_pool_v6_update(struct kernel *k, const struct reflex_pool_v6_key *key, uint32_t lists);
int kernel_pool_v4_delete(struct kernel *k, const struct reflex_pool_v4_key *key);
int kernel_pool_v6_delete(struct kernel *k, const struct reflex_pool_v6_key *key);
int kernel_set_miner_ports(struct kernel *k, const struct reflex_port_bitmap *ports);
int kernel_set_connect_config(struct kernel *k, const struct reflex_connect_config *cfg);

/* Turns the exec program's argv scan for stratum URLs on or off. */
void kernel_set_stratum_scan(struct kernel *k, bool on);

/* fd to add to epoll; readable when records are waiting. */
int kernel_events_fd(const struct kernel *k);
/* Drains the ring buffer without blocking; returns records consumed or -errno. */
int kernel_consume(struct kernel *k);

/* verdict flags 0 deletes the entry. */
int kernel_set_cgroup_verdict(struct kernel *k, uint64_t cgroup_id, uint32_t flags);
int kernel_clear_cgroup_verdicts(struct kernel *k);
/* Sums the per-CPU counters into out[REFLEX_KCNT_MAX]. */
int kernel_read_counters(struct kernel *k, uint64_t out[REFLEX_KCNT_MAX]);

#endif
