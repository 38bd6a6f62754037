/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Kill rate limit per rule (DESIGN.md "Kill strategy"): a rule that kills
 * more than N distinct containers or N distinct executables within the
 * window disarms itself to alert-only until the config is reloaded (a new
 * ratelimit). Pure bookkeeping; times are CLOCK_MONOTONIC ns from the caller.
 */
#ifndef REFLEX_RATELIMIT_H
#define REFLEX_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ratelimit_config {
	unsigned int max_containers;  /* distinct containers admitted in the window */
	unsigned int max_executables; /* distinct exe paths admitted in the window */
	unsigned int window_s;
};

enum ratelimit_verdict {
	RATELIMIT_ADMIT = 0,     /* kill, and it is counted */
	RATELIMIT_DISARMED_NOW,  /* this kill would pass the limit: the rule is disarmed, do not kill */
	RATELIMIT_DISARMED,      /* disarmed earlier: do not kill */
};

struct ratelimit;

/* 0 and *RET, or -errno (-EINVAL: a zero bound). */
int ratelimit_new(const struct ratelimit_config *cfg, struct ratelimit **ret);
/* Accepts NULL; returns NULL. */
struct ratelimit *ratelimit_free(struct ratelimit *r);

/* Before a kill decided in user space. */
enum ratelimit_verdict ratelimit_admit(struct ratelimit *r, const char *rule, const char *container_id,
				       const char *exe_path, uint64_t now_ns);

/*
 * After a kill the kernel already made: counted; returns DISARMED_NOW when
 * it passed the limit (the kernel must be disarmed too), else ADMIT or
 * DISARMED as it stands.
 */
enum ratelimit_verdict ratelimit_record(struct ratelimit *r, const char *rule, const char *container_id,
					const char *exe_path, uint64_t now_ns);

/*
 * Whether the kernel may kill for RULE without asking: not disarmed, and one
 * more distinct container and executable would still be admitted. Changes
 * as kills age out of the window.
 */
bool ratelimit_kernel_may_kill(struct ratelimit *r, const char *rule, uint64_t now_ns);

/* Whether RULE is disarmed; WHY (may be NULL) gets the reason given when it was. */
bool ratelimit_disarmed(const struct ratelimit *r, const char *rule, char *why, size_t whylen);

/* The disarmed rules, in order of disarming: name of the I-th, NULL past the end. */
const char *ratelimit_disarmed_rule(const struct ratelimit *r, size_t i);

#endif
