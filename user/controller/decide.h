/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Every decision reflex-controller makes about one alert, in the order it
 * makes them: pure functions, no I/O, no globals. pipeline.c reads the
 * report, claims the incident, walks the owners, asks the rate limit and
 * calls the API in between, as the plan's step says.
 *
 *   controller_role         whose alert it is: nobody's, the node's, the controller's
 *   controller_permit       before any API call: duplicate incident, the node's word, names
 *   controller_policy       the safeguards on the walked owner; --dry-run
 *   controller_decide       the pod's state and the rate limit: delete, isolate or record
 *   controller_unavailable  the API failed: the agent retries, Falco's alert is recorded failed
 */
#ifndef REFLEX_CONTROLLER_DECIDE_H
#define REFLEX_CONTROLLER_DECIDE_H

#include <stdbool.h>
#include <stddef.h>
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

/* DNS-1123 names only (MAX 63 for a namespace, 253 else): they go into API paths. */
bool controller_name_ok(const char *s, size_t max);

/*
 * Whether the node's outcome lets the controller act for a kill_pod /
 * isolate_namespace rule (ACTION, named ACTION_NAME): see decide.c.
 */
bool controller_node_permits(const struct node_report *n, enum reflex_action action, const char *action_name);

enum controller_role {
	CONTROLLER_IGNORE = 0,  /* a node-only rule, Falco's own alert: answered, not audited */
	CONTROLLER_RECORD_NODE, /* a node-only rule, the agent's report: audit what the node did */
	CONTROLLER_DECLINED,    /* the controller's rule, but the node did not act: refused, no API call */
	CONTROLLER_ACTS,        /* kill_pod / isolate_namespace: the controller decides */
};

/* ACTION is the rule's (ACTION_ALERT when none is configured), N the report (not present: Falco's). */
enum controller_role controller_role(enum reflex_action action, const struct node_report *n);

enum controller_admit { CONTROLLER_ADMIT_UNASKED = 0, CONTROLLER_ADMIT_YES, CONTROLLER_ADMIT_NO };

enum controller_step {
	CONTROLLER_RECORD = 0,      /* nothing to call: record OUTCOME */
	CONTROLLER_WALK_OWNERS,     /* walk the owners (the pod's when walk_pod), then controller_policy */
	CONTROLLER_ASK_RATE_LIMIT,  /* policy says act: ask, then decide again */
	CONTROLLER_DELETE_POD,
	CONTROLLER_ISOLATE,
	CONTROLLER_RETRY,           /* answer 503 and give the claims back: the agent delivers it again */
};

enum controller_why {
	CONTROLLER_WHY_NONE = 0,
	CONTROLLER_WHY_GONE,
	CONTROLLER_WHY_NEWER_POD,
	CONTROLLER_WHY_DRY_RUN,
	CONTROLLER_WHY_DUPLICATE,     /* another alert claimed the incident within the dedupe window */
	CONTROLLER_WHY_NODE_DECLINED,
	CONTROLLER_WHY_NO_NAMES,      /* no valid namespace (and pod, for kill_pod) in the alert */
};

struct controller_plan {
	enum controller_step step;
	const char *outcome;     /* for CONTROLLER_RECORD; the API call decides its own */
	enum controller_why why; /* what the caller appends to the detail */
	bool dry_run;            /* the record's dry_run */
	bool walk_pod;           /* CONTROLLER_WALK_OWNERS: the alert names a valid pod to walk from */
};

struct controller_permit_input {
	enum controller_role role;      /* not CONTROLLER_IGNORE */
	const struct node_report *node;
	enum reflex_action action;      /* the rule's */
	bool incident_claimed;          /* CONTROLLER_ACTS: no other alert claimed the incident */
	const char *namespace_, *pod;   /* the alert's; NULL: not named */
};

/* Before any API call: record now, or walk the owners. */
void controller_permit(const struct controller_permit_input *input, struct controller_plan *ret);

struct controller_subject {
	enum reflex_action action;   /* the rule's */
	const char *rule, *namespace_, *pod, *image, *exe_path; /* the alert's */
	const char *owner_kind;      /* the walk's top-level owner; NULL unknown */
	bool force_dry_run;          /* --dry-run: what policy would do becomes a dry run */
};

/* policy_decide() for what the owner walk found, on CONFIG (under the caller's lock). */
void controller_policy(const struct reflex_config *config, const struct controller_subject *s,
		       struct policy_decision *ret);

struct controller_decide_input {
	enum reflex_action action;   /* the rule's: kill_pod or isolate_namespace */
	enum policy_verdict verdict; /* controller_policy()'s */
	bool pod_gone;               /* kill_pod: the API says 404 */
	bool pod_uid_differs;        /* kill_pod: the pod's uid is not the node's (a newer pod) */
	enum controller_admit admit; /* the rate limit's answer, once asked */
};

/* The plan for an alert the controller acts for, after the node's word and the owner walk. */
void controller_decide(const struct controller_decide_input *input, struct controller_plan *ret);

/* The API failed in a way worth retrying (5xx, 429, no answer) while handling N's alert. */
void controller_unavailable(const struct node_report *n, struct controller_plan *ret);

#endif
