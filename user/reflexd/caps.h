/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Least privilege for reflexd: once its programs are loaded and attached,
 * the agent keeps only the capabilities it uses, in every set including
 * the bounding set, so that a later bug cannot load programs, mount, or
 * take over the node. Capabilities are per thread: call this before any
 * thread is created.
 */
#ifndef REFLEX_CAPS_H
#define REFLEX_CAPS_H

#include <stddef.h>
#include <stdint.h>

/* What reflexd keeps, and why: logged at start and shown in /metrics. */
struct caps_kept {
	int cap;
	const char *name;
	const char *why;
};
extern const struct caps_kept caps_agent_keeps[];
extern const size_t caps_agent_keeps_len;

/* Bit mask (1 << CAP_x) of caps_agent_keeps. */
uint64_t caps_agent_mask(void);

/*
 * Reduces the bounding, permitted, effective and inheritable sets to KEEP
 * (a 1 << CAP_x mask) and clears the ambient set. Returns 0 or -errno; on
 * error the sets may be partly reduced, never widened.
 */
int caps_reduce_to(uint64_t keep);

/* The calling thread's effective set, as a mask (from capget). */
int caps_effective(uint64_t *ret);

#endif
