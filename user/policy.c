// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"

const char *policy_verdict_name(enum policy_verdict verdict)
{
	switch (verdict) {
	case POLICY_ACT:
		return "act";
	case POLICY_DRY_RUN:
		return "dry_run";
	case POLICY_ALERT:
		return "alert";
	case POLICY_EXCEPTED:
		return "excepted";
	case POLICY_REFUSED:
	default:
		return "refused";
	}
}

static const char *glob_match(char *const *globs, size_t n, const char *value)
{
	for (size_t i = 0; value && i < n; i++)
		if (fnmatch(globs[i], value, 0) == 0)
			return globs[i];
	return NULL;
}

static bool owner_protected(const struct reflex_config *c, const char *owner)
{
	if (!strcmp(owner, "Node"))
		return true; /* a static/mirror pod: an API delete cannot stop it */
	for (size_t i = 0; i < c->n_protected_owners; i++)
		if (!strcmp(c->protected_owners[i], owner))
			return true;
	return false;
}

static bool known(const char *s)
{
	return s && *s;
}

/* An exception applies when every field it sets matches a known subject value. */
static const struct reflex_exception *exception_for(const struct reflex_config *c, const struct policy_subject *s)
{
	for (size_t i = 0; i < c->n_exceptions; i++) {
		const struct reflex_exception *x = &c->exceptions[i];

		if (strcmp(x->rule, s->rule))
			continue;
		if (x->namespace_ && (!known(s->namespace_) || strcmp(x->namespace_, s->namespace_)))
			continue;
		if (x->exe_path && (!known(s->exe_path) || fnmatch(x->exe_path, s->exe_path, 0)))
			continue;
		if (x->image && (!known(s->image) || fnmatch(x->image, s->image, 0)))
			continue;
		return x;
	}
	return NULL;
}

/* Verdict and its reason in one step. */
#define DECIDE(d, v, ...)                                                                                      \
	do {                                                                                                   \
		(d).verdict = (v);                                                                             \
		snprintf((d).reason, sizeof((d).reason), __VA_ARGS__);                                         \
	} while (0)

void policy_decide(const struct reflex_config *c, const struct policy_subject *s, struct policy_decision *ret)
{
	const struct reflex_exception *x;
	const char *glob;
	struct policy_decision d = { .action = ACTION_ALERT };
	bool dry;

	d.rule = config_find_rule(c, s->rule);
	if (d.rule)
		d.action = d.rule->action;

	if (s->is_agent) {
		DECIDE(d, POLICY_REFUSED, "the process is reflexd itself");
	} else if (s->is_host_init) {
		DECIDE(d, POLICY_REFUSED, "pid 1 of the host");
	} else if (!s->is_container) {
		DECIDE(d, POLICY_REFUSED, "host process: its cgroup names no container");
	} else if ((x = exception_for(c, s))) {
		snprintf(d.reason, sizeof(d.reason), "exception matched: rule '%s'%s%s%s%s%s%s%s", x->rule,
			 x->namespace_ ? " namespace '" : "", x->namespace_ ? x->namespace_ : "",
			 x->namespace_ ? "'" : "", x->exe_path ? " exe_path '" : "", x->exe_path ? x->exe_path : "",
			 x->exe_path ? "'" : "", x->image ? " (image exception)" : "");
		d.verdict = POLICY_EXCEPTED;
	} else if (!known(s->namespace_)) {
		DECIDE(d, POLICY_REFUSED, "namespace unknown (no runtime metadata for the container)");
	} else if ((glob = glob_match(c->denied_namespaces, c->n_denied_namespaces, s->namespace_))) {
		DECIDE(d, POLICY_REFUSED, "namespace '%s' is denied (denied_namespaces: %s)", s->namespace_,
		       glob);
	} else if (!glob_match(c->allowed_namespaces, c->n_allowed_namespaces, s->namespace_)) {
		DECIDE(d, POLICY_REFUSED, "namespace '%s' is not in allowed_namespaces", s->namespace_);
	} else if (known(s->owner_kind) && owner_protected(c, s->owner_kind)) {
		DECIDE(d, POLICY_REFUSED, "owner %s is protected (protected_owners)", s->owner_kind);
	} else if (!known(s->owner_kind) && c->agent.unknown_owner == UNKNOWN_OWNER_REFUSE &&
		   action_kills(d.action)) {
		DECIDE(d, POLICY_REFUSED, "owner of pod '%s' unknown and agent.unknown_owner is refuse",
		       known(s->pod) ? s->pod : "?");
	} else if (!d.rule) {
		DECIDE(d, POLICY_ALERT, "no rule '%s' in the config: alert only", s->rule);
	} else if (!action_kills(d.action) && d.action != ACTION_ISOLATE_NAMESPACE) {
		DECIDE(d, POLICY_ALERT, "rule '%s' action alert", s->rule);
	} else {
		dry = d.rule->dryrun == TRISTATE_TRUE || (d.rule->dryrun == TRISTATE_UNSET && c->dryrun);
		if (dry)
			DECIDE(d, POLICY_DRY_RUN, "rule '%s' action %s, dry-run", s->rule, action_name(d.action));
		else
			DECIDE(d, POLICY_ACT, "rule '%s' action %s", s->rule, action_name(d.action));
		if (dry && d.rule->dryrun == TRISTATE_UNSET)
			strncat(d.reason, " (global dryrun)", sizeof(d.reason) - strlen(d.reason) - 1);
		else if (dry)
			strncat(d.reason, " (rule dryrun)", sizeof(d.reason) - strlen(d.reason) - 1);
	}
	*ret = d;
}

bool policy_kernel_may_kill(const struct reflex_config *c, const char *rule, const char *namespace_,
			    const char *owner_kind)
{
	const struct reflex_rule *r = config_find_rule(c, rule);

	if (!r || !action_kills(r->action))
		return false;
	if (r->dryrun == TRISTATE_TRUE || (r->dryrun == TRISTATE_UNSET && c->dryrun))
		return false;
	if (!known(namespace_) || glob_match(c->denied_namespaces, c->n_denied_namespaces, namespace_) ||
	    !glob_match(c->allowed_namespaces, c->n_allowed_namespaces, namespace_))
		return false;
	if (known(owner_kind) ? owner_protected(c, owner_kind) : c->agent.unknown_owner != UNKNOWN_OWNER_ALLOW)
		return false;
	/* Any exception that could apply here sends the decision to user space. */
	for (size_t i = 0; i < c->n_exceptions; i++)
		if (!strcmp(c->exceptions[i].rule, rule) &&
		    (!c->exceptions[i].namespace_ || !strcmp(c->exceptions[i].namespace_, namespace_)))
			return false;
	return true;
}
