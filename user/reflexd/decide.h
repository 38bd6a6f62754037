/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What reflexd does about one detection, and what the kernel may do on its
 * own: pure functions of policy's verdict and the facts the caller found
 * (attribution, the kernel's own act, the rate limit's answer). No I/O, no
 * globals; detection.c and falco_handler.c carry the plan out.
 */
#ifndef REFLEX_DECIDE_H
#define REFLEX_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "metrics.h"
#include "policy.h"

/* The rate limit's answer; it is asked only when the plan says DECIDE_ASK_RATE_LIMIT. */
enum decide_admit {
	DECIDE_ADMIT_UNASKED = 0,
	DECIDE_ADMIT_YES,
	DECIDE_ADMIT_NO,   /* the rule is disarmed: the detail says why (the caller appends it) */
};

struct decide_input {
	const struct policy_decision *policy; /* policy_decide() for the detection */
	bool from_falco;       /* a Falco alert (user space finds the target), else a kernel event */
	bool kernel_killed;    /* the kernel sent SIGKILL at the event */
	bool exec_denied;      /* BPF LSM failed the execve with EPERM */
	bool kernel_denied;    /* the kernel refused the act (exec EPERM, pool connect) */
	bool target_known;     /* the container is attributed on this node */
	bool namespace_known;  /* its namespace is known (runtime or Kubernetes API) */
	bool has_exe;          /* the executable is known (Falco's proc.exepath) */
	enum decide_admit admit;
};

enum decide_step {
	DECIDE_RECORD = 0,          /* nothing to do: record now */
	DECIDE_RECORD_AT_EVENT,     /* the kernel refused inside execve: record, latency 0 */
	DECIDE_ASK_RATE_LIMIT,      /* policy says kill: ask the rate limit, then decide again */
	DECIDE_KILL_PROCESS,
	DECIDE_KILL_CONTAINER,
	DECIDE_CONFIRM_KERNEL_KILL, /* the kernel killed: record, then wait for the exit */
};

struct decide_plan {
	enum decide_step step;
	const char *outcome;         /* the record's outcome ("killed" for a kill, which may still turn it) */
	enum metric_counter counter; /* to count now; METRIC_COUNTER_MAX: none (a kill counts its own) */
	bool kernel_acted;           /* the kernel killed or refused: count it against the rate limit */
	const char *kill_mode;       /* "kernel" or "lsm" when the kernel acted, else NULL */
	bool out_of_step;            /* the kernel acted although policy now says otherwise */
	const char *detail;          /* appended to the record's detail, or NULL */
};

/* The plan for one detection. Call again with INPUT->admit set after DECIDE_ASK_RATE_LIMIT. */
void decide(const struct decide_input *input, struct decide_plan *ret);

/* The kernel rules, as bits of what the rate limit still lets the kernel kill for. */
enum {
	DECIDE_KRULE_EXEC = 1u << 0,
	DECIDE_KRULE_FILELESS = 1u << 1,
	DECIDE_KRULE_STRATUM = 1u << 2,
	DECIDE_KRULE_POOL = 1u << 3,
};

/*
 * What the kernel may do at once in a container of NAMESPACE (NULL: unknown)
 * whose top-level owner is OWNER_KIND (NULL: unknown), with ARMED the
 * DECIDE_KRULE_* bits: REFLEX_VERDICT_* flags, REFLEX_VERDICT_CONTAINER always.
 */
uint32_t decide_kernel_flags(const struct reflex_config *config, const char *namespace_, const char *owner_kind,
			     uint32_t armed);

#endif
