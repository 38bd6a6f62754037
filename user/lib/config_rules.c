// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * config.yaml's rules: (Falco rule name -> action, names unique) and
 * exceptions: (scoped, each naming a rule that exists: a typo must not
 * silently except nothing, nor an exception mute a whole rule).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"

/* An exception's namespace is compared exactly: a glob there would silently match nothing. */
static int check_namespace_name(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (!*s || strlen(s) > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
		return ydoc_fail(p, n, key, "'%s' is not a namespace name (exact, lowercase, no globs)",
				 ydoc_show(p, s));
	return 0;
}

static int parse_rule(struct ydoc *p, const yaml_node_t *n, size_t index, struct reflex_rule *r)
{
	const yaml_node_t *action_node = NULL;
	char where[48], key[96];
	int err;

	snprintf(where, sizeof(where), "rules[%zu]", index);
	r->dryrun = TRISTATE_UNSET;
	if ((err = cfg_expect_mapping(p, n, where)))
		return err;
	for (size_t i = 0; i < ydoc_map_len(n); i++) {
		const yaml_node_t *v;
		const char *k;

		if ((err = cfg_pair_key(p, n, i, where, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "name")) {
			err = cfg_get_string(p, v, key, false, &r->name);
		} else if (!strcmp(k, "action")) {
			const char *s;

			action_node = v;
			err = cfg_get_scalar(p, v, key, "an action", &s);
			if (!err && action_from_name(s, &r->action))
				err = ydoc_fail(p, v, key,
						"'%s' is not one of alert, kill_process, kill_container, kill_pod, "
						"isolate_namespace",
						ydoc_show(p, s));
		} else if (!strcmp(k, "audit_reason")) {
			err = cfg_get_string(p, v, key, true, &r->audit_reason);
		} else if (!strcmp(k, "dryrun")) {
			bool b = false;

			err = cfg_get_bool(p, v, key, &b);
			r->dryrun = b ? TRISTATE_TRUE : TRISTATE_FALSE;
		} else {
			const yaml_node_t *kn = ydoc_map_key(p, n, i);

			err = ydoc_fail(p, kn, key, "unknown key in a rule (name, action, audit_reason, dryrun)");
		}
		if (err)
			return err;
	}
	if (!r->name)
		return ydoc_fail(p, n, where, "a rule needs a name (the Falco rule name)");
	if (!action_node)
		return ydoc_fail(p, n, where, "rule '%s' has no action", ydoc_show(p, r->name));
	return 0;
}

static int parse_exception(struct ydoc *p, const struct reflex_config *c, const yaml_node_t *n, size_t index,
			   struct reflex_exception *x)
{
	const yaml_node_t *rule_node = NULL;
	char where[48], key[96];
	int err;

	snprintf(where, sizeof(where), "exceptions[%zu]", index);
	if ((err = cfg_expect_mapping(p, n, where)))
		return err;
	for (size_t i = 0; i < ydoc_map_len(n); i++) {
		const yaml_node_t *v;
		const char *k, *s;

		if ((err = cfg_pair_key(p, n, i, where, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "rule")) {
			rule_node = v;
			err = cfg_get_string(p, v, key, false, &x->rule);
		} else if (!strcmp(k, "namespace")) {
			err = cfg_get_scalar(p, v, key, "a namespace name", &s);
			err = err ?: check_namespace_name(p, v, key, s);
			err = err ?: ydoc_set_string(&x->namespace_, s);
		} else if (!strcmp(k, "exe_path")) {
			/* A relative glob can never match an absolute exe path. */
			err = cfg_get_scalar(p, v, key, "a path glob", &s);
			if (!err && s[0] != '/')
				err = ydoc_fail(p, v, key, "expected an absolute path glob, got '%s'", ydoc_show(p, s));
			err = err ?: ydoc_set_string(&x->exe_path, s);
		} else if (!strcmp(k, "image")) {
			err = cfg_get_string(p, v, key, false, &x->image);
		} else {
			const yaml_node_t *kn = ydoc_map_key(p, n, i);

			err = ydoc_fail(p, kn, key, "unknown key in an exception (rule, namespace, exe_path, image)");
		}
		if (err)
			return err;
	}
	if (!rule_node)
		return ydoc_fail(p, n, where, "an exception names the rule it applies to (rule:)");
	/* A typo in the rule name would silently except nothing. */
	snprintf(key, sizeof(key), "%s.rule", where);
	if (!config_find_rule(c, x->rule))
		return ydoc_fail(p, rule_node, key, "no rule named '%s' in rules:", ydoc_show(p, x->rule));
	if (!x->namespace_ && !x->exe_path && !x->image)
		return ydoc_fail(p, n, where,
				 "needs namespace, exe_path or image: an exception must never mute a whole rule");
	return 0;
}

static int cmp_rule_index(const void *a, const void *b, void *rules_)
{
	const struct reflex_rule *rules = rules_;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int r = strcmp(rules[i].name, rules[j].name);

	return r ? r : (i > j) - (i < j);
}

/* Sorting keeps a hostile file with thousands of near-identical names cheap to check. */
static int check_unique_rules(struct ydoc *p, const struct reflex_config *c, const yaml_node_t *seq)
{
	size_t *order;
	int err = 0;

	if (c->n_rules < 2)
		return 0;
	order = calloc(c->n_rules, sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_rules; i++)
		order[i] = i;
	qsort_r(order, c->n_rules, sizeof(*order), cmp_rule_index, c->rules);
	for (size_t i = 1; i < c->n_rules && !err; i++) {
		size_t first = order[i - 1], again = order[i];

		if (!strcmp(c->rules[first].name, c->rules[again].name)) {
			const yaml_node_t *n = ydoc_seq_item(p, seq, again);
			const yaml_node_t *f = ydoc_seq_item(p, seq, first);
			char key[48];

			snprintf(key, sizeof(key), "rules[%zu].name", again);
			err = ydoc_fail(p, n, key, "rule '%s' is defined twice (first on line %zu)",
					ydoc_show(p, c->rules[again].name), ydoc_line(f));
		}
	}
	free(order);
	return err;
}

/* The list N under KEY ("rules"): zeroed room for its items of SIZE bytes, and a spare, in *RET. */
static int alloc_items(struct ydoc *p, const yaml_node_t *n, const char *key, size_t size, void **ret,
		       size_t *ret_count)
{
	if (n->type != YAML_SEQUENCE_NODE)
		return ydoc_fail(p, n, key, "expected a list of %s, got %s", key, ydoc_kind(n));
	*ret_count = ydoc_seq_len(n);
	*ret = calloc(*ret_count + 1, size);
	return *ret ? 0 : -ENOMEM;
}

int cfg_parse_rules(struct ydoc *p, const yaml_node_t *n, struct reflex_config *c)
{
	size_t count;
	void *items;
	int err;

	if ((err = alloc_items(p, n, "rules", sizeof(*c->rules), &items, &count)))
		return err;
	c->rules = items;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = ydoc_seq_item(p, n, i);

		/* Counted first so config_free releases a half-parsed rule. */
		c->n_rules++;
		if ((err = parse_rule(p, item, i, &c->rules[i])))
			return err;
	}
	return check_unique_rules(p, c, n);
}

int cfg_parse_exceptions(struct ydoc *p, const yaml_node_t *n, struct reflex_config *c)
{
	size_t count;
	void *items;
	int err;

	if ((err = alloc_items(p, n, "exceptions", sizeof(*c->exceptions), &items, &count)))
		return err;
	c->exceptions = items;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = ydoc_seq_item(p, n, i);

		c->n_exceptions++;
		if ((err = parse_exception(p, c, item, i, &c->exceptions[i])))
			return err;
	}
	return 0;
}
