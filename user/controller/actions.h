/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What the controller does in the cluster, through the Kubernetes API: the
 * owner walk, the pod delete, the namespace's NetworkPolicy; and the page
 * that follows an isolation. Each fills an outcome and a reason for the
 * audit record; none decides whether to act (decide.c does).
 */
#ifndef REFLEX_CONTROLLER_ACTIONS_H
#define REFLEX_CONTROLLER_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "controller_internal.h"

#define ISOLATION_POLICY_NAME "falco-emergency-isolation"

struct owner_walk {
	char pod_uid[64];
	char top_kind[64];   /* "" unknown */
	char top_name[254];
	char chain[512];     /* "Pod web-1 <- ReplicaSet web <- Deployment web" */
	bool pod_gone;
};

/*
 * Pod -> top-level owner through the API. 0 with W filled (top_kind "" when
 * the chain could not be followed to its end: unknown, the policy decides;
 * WHY says where it stopped); -EAGAIN when the API failed in a way worth
 * retrying (5xx, 429, no answer; WHY says how, counted as an API error).
 */
int actions_walk_owners(struct controller *c, const char *ns, const char *pod, struct owner_walk *w, char *why,
			size_t why_size);

/*
 * DELETE the pod, only the one with UID (a newer pod of that name is left).
 * 0 with *OUTCOME ("deleted", "gone", "refused", "failed") and REASON;
 * -EAGAIN worth retrying (REASON says why); -ENOMEM.
 */
int actions_delete_pod(struct controller *c, const char *ns, const char *pod, const char *uid, const char **outcome,
		       char *reason, size_t size);

/*
 * Creates the deny-all-egress NetworkPolicy ISOLATION_POLICY_NAME in NS,
 * annotated with RULE and EVENT_ID. 0 with *OUTCOME ("isolated", also when
 * it exists already; "failed") and REASON; -EAGAIN worth retrying; -ENOMEM.
 */
int actions_isolate_namespace(struct controller *c, const char *ns, const char *rule, const char *event_id,
			      const char **outcome, char *reason, size_t size);


#endif
