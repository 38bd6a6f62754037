/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The safeguards of the response controller, on the node: what may be done
 * to a subject for a rule. Pure functions of the config and the subject.
 */
#ifndef REFLEX_POLICY_H
#define REFLEX_POLICY_H

#include <stdbool.h>

#include "config.h"

struct policy_subject {
	const char *rule;        /* the rule the detection reports under */
	bool is_container;       /* false: host process (cgroup names no container) */
	bool is_agent;           /* the process is reflexd itself */
	bool is_host_init;       /* pid 1 of the host */
	const char *namespace_;  /* NULL or "": unknown */
	const char *pod;         /* NULL: unknown */
	const char *owner_kind;  /* top-level owner kind; NULL unknown; "Node" = static/mirror pod */
	const char *image;       /* NULL: unknown */
	const char *exe_path;    /* NULL: unknown */
};

enum policy_verdict {
	POLICY_ACT = 0,      /* carry out decision.action */
	POLICY_DRY_RUN,      /* would carry out decision.action; do nothing */
	POLICY_ALERT,        /* the rule's action is alert (or no rule): report only */
	POLICY_EXCEPTED,     /* an exception matched: report only */
	POLICY_REFUSED,      /* a safeguard forbids acting: report only, say why */
};

struct policy_decision {
	enum policy_verdict verdict;
	enum reflex_action action;        /* the rule's action (ALERT when no rule) */
	const struct reflex_rule *rule;   /* NULL when the config has no such rule */
	char reason[256];                 /* why, for the audit record */
};

/* "act", "dry_run", "alert", "excepted", "refused". */
const char *policy_verdict_name(enum policy_verdict verdict);

/*
 * Decides in this order: self/host/pid 1 refused; exception matched;
 * denied namespace; namespace not allowed; protected owner; unknown owner
 * (per agent.unknown_owner); the rule's action is alert; dry-run (rule, else
 * global); act. Refusals are decided even under dry-run, and say so.
 */
void policy_decide(const struct reflex_config *config, const struct policy_subject *subject,
		   struct policy_decision *ret);

/*
 * Whether the kernel may SIGKILL an exec reported under RULE in a container of
 * NAMESPACE with OWNER_KIND without asking user space: only when policy_decide
 * would say ACT for every exe path and image, i.e. no exception for (rule,
 * namespace) exists, and the action kills.
 */
bool policy_kernel_may_kill(const struct reflex_config *config, const char *rule,
			    const char *namespace_, const char *owner_kind);

#endif
