// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The node's safeguards, in the order policy.h gives. Every verdict carries a
 * reason an operator can act on without reading this file.
 */
#include <fnmatch.h>
#include <stdarg.h>
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
		return "refused";
	}
	return "refused";
}

static bool known(const char *s)
{
	return s && *s;
}

static const char *glob_match(char *const *globs, size_t n, const char *value)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], value, 0) == 0)
			return globs[i];
	return NULL;
}

/* Denied wins over allowed; an unknown namespace is never allowed. */
static bool namespace_allowed(const struct reflex_config *c, const char *ns)
{
	return known(ns) && !glob_match(c->denied_namespaces, c->n_denied_namespaces, ns) &&
	       glob_match(c->allowed_namespaces, c->n_allowed_namespaces, ns);
}

static bool owner_protected(const struct reflex_config *c, const char *owner)
{
	/* A static or mirror pod: the kubelet restarts it, an API delete cannot stop it. */
	if (!strcmp(owner, "Node"))
		return true;
	for (size_t i = 0; i < c->n_protected_owners; i++)
		if (!strcmp(c->protected_owners[i], owner))
			return true;
	return false;
}

/* Owner check for a kill: protected never, unknown only when configured so. */
static bool owner_allows(const struct reflex_config *c, const char *owner)
{
	if (known(owner))
		return !owner_protected(c, owner);
	return c->agent.unknown_owner == UNKNOWN_OWNER_ALLOW;
}

static bool rule_dry_run(const struct reflex_config *c, const struct reflex_rule *r)
{
	return r->dryrun == TRISTATE_TRUE || (r->dryrun == TRISTATE_UNSET && c->dryrun);
}

/*
 * Every field the exception sets must match; a subject value that is unknown
 * does not match, so an exception never widens to subjects it cannot see.
 * exe_path uses FNM_PATHNAME: '*' stays inside one directory.
 */
static bool exception_matches(const struct reflex_exception *x, const struct policy_subject *s)
{
	if (!s->rule || strcmp(x->rule, s->rule))
		return false;
	if (x->namespace_ && (!known(s->namespace_) || strcmp(x->namespace_, s->namespace_)))
		return false;
	if (x->exe_path && (!known(s->exe_path) || fnmatch(x->exe_path, s->exe_path, FNM_PATHNAME)))
		return false;
	if (x->image && (!known(s->image) || fnmatch(x->image, s->image, 0)))
		return false;
	return true;
}

static const struct reflex_exception *find_exception(const struct reflex_config *c, const struct policy_subject *s)
{
	for (size_t i = 0; i < c->n_exceptions; i++)
		if (exception_matches(&c->exceptions[i], s))
			return &c->exceptions[i];
	return NULL;
}

__attribute__((format(printf, 3, 4))) static void decide(struct policy_decision *d, enum policy_verdict v,
							 const char *fmt, ...)
{
	va_list ap;

	d->verdict = v;
	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 3))) static void append(struct policy_decision *d, const char *fmt, ...)
{
	size_t used = strlen(d->reason);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason + used, sizeof(d->reason) - used, fmt, ap);
	va_end(ap);
}

static void decide_excepted(struct policy_decision *d, const struct reflex_exception *x)
{
	decide(d, POLICY_EXCEPTED, "exception matched: rule '%s'", x->rule);
	if (x->namespace_)
		append(d, " namespace '%s'", x->namespace_);
	if (x->exe_path)
		append(d, " exe_path '%s'", x->exe_path);
	if (x->image)
		append(d, " image '%s'", x->image);
}

/* The safeguards after the exceptions; false when none refuses. */
static bool decide_refusal(const struct reflex_config *c, const struct policy_subject *s,
			   struct policy_decision *d)
{
	const char *ns = s->namespace_, *glob;

	if (!known(ns)) {
		decide(d, POLICY_REFUSED, "namespace unknown: no pod metadata for the container");
	} else if ((glob = glob_match(c->denied_namespaces, c->n_denied_namespaces, ns))) {
		if (!strcmp(glob, ns))
			decide(d, POLICY_REFUSED, "namespace '%s' is denied (denied_namespaces)", ns);
		else
			decide(d, POLICY_REFUSED, "namespace '%s' is denied (denied_namespaces: '%s')", ns, glob);
	} else if (!glob_match(c->allowed_namespaces, c->n_allowed_namespaces, ns)) {
		decide(d, POLICY_REFUSED, "namespace '%s' is not allowed (allowed_namespaces%s)", ns,
		       c->n_allowed_namespaces ? "" : " is empty");
	} else if (known(s->owner_kind) && !strcmp(s->owner_kind, "Node")) {
		decide(d, POLICY_REFUSED, "owner Node is protected (static or mirror pod: always)");
	} else if (known(s->owner_kind) && owner_protected(c, s->owner_kind)) {
		decide(d, POLICY_REFUSED, "owner %s is protected (protected_owners)", s->owner_kind);
	} else if (!known(s->owner_kind) && c->agent.unknown_owner != UNKNOWN_OWNER_ALLOW) {
		if (known(s->pod))
			decide(d, POLICY_REFUSED, "owner of pod '%s' unknown and agent.unknown_owner is refuse",
			       s->pod);
		else
			decide(d, POLICY_REFUSED, "owner unknown (pod unknown) and agent.unknown_owner is refuse");
	} else {
		return false;
	}
	return true;
}

void policy_decide(const struct reflex_config *c, const struct policy_subject *s, struct policy_decision *ret)
{
	struct policy_decision d = { .verdict = POLICY_REFUSED, .action = ACTION_ALERT };
	const char *rule = s->rule ? s->rule : "(none)";
	const struct reflex_exception *x;
	bool dry;

	d.rule = config_find_rule(c, s->rule);
	if (d.rule)
		d.action = d.rule->action;
	dry = d.rule && rule_dry_run(c, d.rule);

	if (!c) {
		decide(&d, POLICY_REFUSED, "no configuration loaded");
	} else if (s->is_agent) {
		decide(&d, POLICY_REFUSED, "the process is reflexd itself");
	} else if (s->is_host_init) {
		decide(&d, POLICY_REFUSED, "pid 1 of the host");
	} else if (!s->is_container) {
		decide(&d, POLICY_REFUSED, "host process: its cgroup names no container");
	} else if ((x = find_exception(c, s))) {
		decide_excepted(&d, x);
	} else if (decide_refusal(c, s, &d)) {
		/* Already decided. */
	} else if (!d.rule) {
		decide(&d, POLICY_ALERT, "no rule '%s' configured in rules: alert only", rule);
	} else if (d.action == ACTION_ALERT) {
		decide(&d, POLICY_ALERT, "rule '%s' action alert", rule);
	} else if (dry) {
		decide(&d, POLICY_DRY_RUN, "rule '%s' action %s, dry-run (%s)", rule, action_name(d.action),
		       d.rule->dryrun == TRISTATE_TRUE ? "rule dryrun" : "global dryrun");
	} else if (d.action == ACTION_ISOLATE_NAMESPACE) {
		decide(&d, POLICY_ACT, "rule '%s' action isolate_namespace: the controller isolates, the node reports",
		       rule);
	} else {
		decide(&d, POLICY_ACT, "rule '%s' action %s", rule, action_name(d.action));
	}
	/* A refusal under dry-run says so: nothing would have happened either way. */
	if (d.verdict == POLICY_REFUSED && dry && d.action != ACTION_ALERT)
		append(&d, "; dry-run too (%s)", d.rule->dryrun == TRISTATE_TRUE ? "rule dryrun" : "global dryrun");
	*ret = d;
}

bool policy_kernel_may_kill(const struct reflex_config *c, const char *rule, const char *namespace_,
			    const char *owner_kind)
{
	const struct reflex_rule *r = config_find_rule(c, rule);

	if (!r || !action_kills(r->action) || rule_dry_run(c, r))
		return false;
	if (!namespace_allowed(c, namespace_) || !owner_allows(c, owner_kind))
		return false;
	/*
	 * An exception for this rule that could match here depends on the exe
	 * path or image, which the kernel does not check: user space decides.
	 */
	for (size_t i = 0; i < c->n_exceptions; i++) {
		const struct reflex_exception *x = &c->exceptions[i];

		if (!strcmp(x->rule, rule) && (!x->namespace_ || !strcmp(x->namespace_, namespace_)))
			return false;
	}
	return true;
}
