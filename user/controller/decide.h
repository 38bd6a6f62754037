/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What reflex-controller does about one alert, once it knows the node's word
 * and policy's verdict: pure functions, no I/O, no globals. controller.c
 * reads the report, walks the owners, asks the rate limit and calls the API.
 */
#ifndef REFLEX_CONTROLLER_DECIDE_H
#define REFLEX_CONTROLLER_DECIDE_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "policy.h"

/* The agent's "reflex" object in a report (absent: a falcosidekick alert). */
struct node_report {
	bool present;
	const char *node, *event_id, *outcome, *kill_mode, *source, *reason, *pod_uid, *action;
	int64_t latency_us;
	bool dry_run;
};

/*
 * Whether the node's outcome lets the controller act for a kill_pod /
 * isolate_namespace rule (ACTION, named ACTION_NAME): see controller.c.
 */
bool controller_node_permits(const struct node_report *n, enum reflex_action action, const char *action_name);

enum controller_admit { CONTROLLER_ADMIT_UNASKED = 0, CONTROLLER_ADMIT_YES, CONTROLLER_ADMIT_NO };

struct controller_decide_input {
	enum reflex_action action;   /* the rule's: kill_pod or isolate_namespace */
	enum policy_verdict verdict; /* policy_decide() on the owner walk, dry-run applied */
	bool pod_gone;               /* kill_pod: the API says 404 */
	bool pod_uid_differs;        /* kill_pod: the pod's uid is not the node's (a newer pod) */
	enum controller_admit admit; /* the rate limit's answer, once asked */
};

enum controller_step {
	CONTROLLER_RECORD = 0,      /* nothing to call: record OUTCOME */
	CONTROLLER_ASK_RATE_LIMIT,  /* policy says act: ask, then decide again */
	CONTROLLER_DELETE_POD,
	CONTROLLER_ISOLATE,
};

enum controller_why { CONTROLLER_WHY_NONE = 0, CONTROLLER_WHY_GONE, CONTROLLER_WHY_NEWER_POD, CONTROLLER_WHY_DRY_RUN };

struct controller_plan {
	enum controller_step step;
	const char *outcome;     /* for CONTROLLER_RECORD; the API call decides its own */
	enum controller_why why; /* what the caller appends to the detail */
};

/* The plan for an alert the controller acts for, after the node's word and the owner walk. */
void controller_decide(const struct controller_decide_input *input, struct controller_plan *ret);

#endif
