/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The kernel's per-cgroup verdicts (REFLEX_VERDICT_* flags, what the kernel
 * may do at once in a container), kept in step with the running policy, the
 * pods' owners and the rate limit. When they may be stale (a failed reload
 * or rebuild) every one is cleared and user space decides each detection
 * until a rebuild succeeds.
 */
#ifndef REFLEX_VERDICTS_H
#define REFLEX_VERDICTS_H

#include <stdbool.h>
#include <stdint.h>

struct agent;
struct container_info;
struct incident;
struct reflex_config;

/*
 * A new attribution table (the old one is kept when it cannot be had), no
 * verdict of the previous policy left, every container armed from the
 * running config. 0 or -errno (logged; verdicts cleared, retried on the tick).
 */
int verdicts_rebuild(struct agent *a);
/* attrib_change_fn (CTX: the agent): a container's verdict written or cleared. */
void verdicts_on_container_change(void *ctx, const struct container_info *info, bool added);
/* Owners, rate limit or policy changed: every container's kernel verdict again. */
void verdicts_refresh(struct agent *a);
/* The in-kernel kill as /status and /metrics show it. */
void verdicts_publish_hook(struct agent *a);

/* The rate limit of the config C; NULL when out of memory. */
int rate_limit_new(const struct reflex_config *c, struct ratelimit **ret);
/* The kernel rules (DECIDE_KRULE_*) the rate limit lets the kernel kill for now. */
uint32_t rate_limit_kernel_armed(struct agent *a);
/* The kernel kills for a rule only while one more distinct target would be admitted. */
void rate_limit_sync_kernel(struct agent *a);
/* The rules the rate limit disarmed, onto /status and /metrics. */
void rate_limit_publish_disarmed(struct agent *a);
/* The rate limit's say on a kill that policy allows. False: do not kill (the reason says why). */
bool rate_limit_admits(struct agent *a, struct incident *inc);
/* A kill the kernel already made, counted against the rule's limit. */
void rate_limit_record(struct agent *a, struct incident *inc);

#endif
