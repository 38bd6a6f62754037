// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * config.yaml through libyaml's document API, so every node knows its line.
 * Validation is strict: a typo in a safeguard must stop the agent at start-up,
 * not silently weaken what it protects.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <yaml.h>

#include "config.h"
#include "pools.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_ITEMS 10000


static const char *const action_names[] = {
	[ACTION_ALERT] = "alert",
	[ACTION_KILL_PROCESS] = "kill_process",
	[ACTION_KILL_CONTAINER] = "kill_container",
	[ACTION_KILL_POD] = "kill_pod",
	[ACTION_ISOLATE_NAMESPACE] = "isolate_namespace",
};

const char *action_name(enum reflex_action action)
{
	if ((unsigned int)action >= ARRAY_SIZE(action_names))
		return NULL;
	return action_names[action];
}

static const char *const action_default_reasons[] = {
	[ACTION_ALERT] = "reflex: alert by rule (no audit_reason configured)",
	[ACTION_KILL_PROCESS] = "reflex: kill_process by rule (no audit_reason configured)",
	[ACTION_KILL_CONTAINER] = "reflex: kill_container by rule (no audit_reason configured)",
	[ACTION_KILL_POD] = "reflex: kill_pod by rule (no audit_reason configured)",
	[ACTION_ISOLATE_NAMESPACE] = "reflex: isolate_namespace by rule (no audit_reason configured)",
};

const char *action_default_audit_reason(enum reflex_action action)
{
	if ((unsigned int)action >= ARRAY_SIZE(action_default_reasons))
		return action_default_reasons[ACTION_ALERT];
	return action_default_reasons[action];
}

int action_from_name(const char *name, enum reflex_action *ret)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(action_names); i++) {
		if (!strcmp(name, action_names[i])) {
			*ret = (enum reflex_action)i;
			return 0;
		}
	}
	return -EINVAL;
}

bool action_kills(enum reflex_action action)
{
	return action == ACTION_KILL_PROCESS || action == ACTION_KILL_CONTAINER || action == ACTION_KILL_POD;
}

struct parse {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
	char shown[96]; /* a value quoted into a message, made printable */
};

static size_t line_of(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/* Writes "NAME:LINE: key 'KEY': what" (no line without a node); returns -EINVAL. */
__attribute__((format(printf, 4, 5))) static int fail(struct parse *p, const yaml_node_t *node, const char *key,
						      const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (node)
		snprintf(p->err, p->errlen, "%s:%zu: key '%s': %s", p->name, line_of(node), key, what);
	else
		snprintf(p->err, p->errlen, "%s: key '%s': %s", p->name, key, what);
	/* Keys come from the file too: the message stays one printable line. */
	for (size_t i = 0; i < p->errlen && p->err[i]; i++)
		if ((unsigned char)p->err[i] < 0x20 || p->err[i] == 0x7f)
			p->err[i] = '?';
	return -EINVAL;
}

/* A value for a one-line message: control bytes replaced, long ones cut. */
static const char *show(struct parse *p, const char *s)
{
	size_t i, max = sizeof(p->shown) - 4;

	for (i = 0; s[i] && i < max; i++)
		p->shown[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i]) {
		memcpy(p->shown + i, "...", 3);
		i += 3;
	}
	p->shown[i] = '\0';
	return p->shown;
}

/* YAML 1.1 null: an empty or ~/null plain scalar (e.g. "key:" with nothing after it). */
static bool is_null(const yaml_node_t *n)
{
	const char *s = (const char *)n->data.scalar.value;

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	       (!*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

static const char *kind_of(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		return is_null(n) ? "null" : "a string";
	default:
		return "nothing";
	}
}

/* The text of a scalar; anything else (or an embedded NUL) is an error. */
static int get_scalar(struct parse *p, const yaml_node_t *n, const char *key, const char *what,
		      const char **ret)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || is_null(n))
		return fail(p, n, key, "expected %s, got %s", what, kind_of(n));
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return fail(p, n, key, "contains a NUL character");
	*ret = s;
	return 0;
}

static int set_string(char **field, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static int get_string(struct parse *p, const yaml_node_t *n, const char *key, bool allow_empty, char **out)
{
	const char *s;
	int err;

	if ((err = get_scalar(p, n, key, "a string", &s)))
		return err;
	if (!allow_empty && !*s)
		return fail(p, n, key, "must not be empty");
	return set_string(out, s);
}

static int get_bool(struct parse *p, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	const char *s;
	int err;

	if ((err = get_scalar(p, n, key, "a boolean (true/false)", &s)))
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail(p, n, key, "expected a boolean (true/false/yes/no/on/off), got '%s'", show(p, s));
}

static int get_uint(struct parse *p, const yaml_node_t *n, const char *key, unsigned int lo, unsigned int hi,
		    unsigned int *out)
{
	const char *s;
	char *end;
	unsigned long v;
	int err;

	if ((err = get_scalar(p, n, key, "a whole number", &s)))
		return err;
	/* strtoul alone would take " 5", "+5" and "-5" (as a huge value). */
	if (*s < '0' || *s > '9')
		return fail(p, n, key, "expected a whole number from %u to %u, got '%s'", lo, hi, show(p, s));
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return fail(p, n, key, "expected a whole number from %u to %u, got '%s'", lo, hi, show(p, s));
	*out = (unsigned int)v;
	return 0;
}

/* A path reflexd opens as root: absolute, so it does not depend on the working directory. */
static int check_path(struct parse *p, const yaml_node_t *n, const char *key, const char *s)
{
	const char *c;

	if (s[0] != '/')
		return fail(p, n, key, "expected an absolute path, got '%s'", show(p, s));
	for (c = s; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || !c[3])
			return fail(p, n, key, "'..' is not allowed in a path: '%s'", show(p, s));
	return 0;
}

static int get_path(struct parse *p, const yaml_node_t *n, const char *key, bool allow_empty, char **out)
{
	const char *s;
	int err;

	if ((err = get_scalar(p, n, key, "a path", &s)))
		return err;
	if (!*s && allow_empty)
		return set_string(out, s);
	if ((err = check_path(p, n, key, s)))
		return err;
	return set_string(out, s);
}

/* Namespace globs: a glob that can never match a namespace name would protect nothing. */
static int check_namespace_glob(struct parse *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (strlen(s) > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-*?[]!^") != strlen(s))
		return fail(p, n, key,
			    "'%s' cannot match a namespace (lowercase letters, digits, '-', and the glob "
			    "characters * ? [ ])",
			    show(p, s));
	return 0;
}

/* An exception's namespace is compared exactly: a glob there would silently match nothing. */
static int check_namespace_name(struct parse *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (!*s || strlen(s) > 63 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") != strlen(s))
		return fail(p, n, key, "'%s' is not a namespace name (exact, lowercase, no globs)", show(p, s));
	return 0;
}

/* Owner kinds are compared as Kubernetes writes them: "daemonset" would protect nothing. */
static int check_owner_kind(struct parse *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (strlen(s) > 63 || s[0] < 'A' || s[0] > 'Z' ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != strlen(s))
		return fail(p, n, key, "'%s' is not an owner kind as Kubernetes writes it (e.g. DaemonSet)",
			    show(p, s));
	return 0;
}

static int check_cidr(struct parse *p, const yaml_node_t *n, const char *key, const char *s)
{
	const char *slash = strchr(s, '/');
	struct pool_addr addr;

	/* pool_cidr_parse takes a signed prefix; only digits belong there. */
	if (pool_cidr_parse(s, 0, &addr) || (slash && strspn(slash + 1, "0123456789") != strlen(slash + 1)))
		return fail(p, n, key, "'%s' is not an address or CIDR (e.g. 198.51.100.0/24)", show(p, s));
	return 0;
}

typedef int (*item_check_fn)(struct parse *p, const yaml_node_t *n, const char *key, const char *s);

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static int get_list(struct parse *p, const yaml_node_t *n, const char *key, item_check_fn check, char ***out,
		    size_t *out_n)
{
	size_t count, i;
	char **list;
	char item_key[128];
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, key, "expected a list of strings, got %s%s", kind_of(n),
			    n->type == YAML_SCALAR_NODE && is_null(n) ? " (write [] for an empty list)" : "");
	count = seq_len(n);
	list = calloc(count + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
		const char *s;

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		err = get_scalar(p, item, item_key, "a string", &s);
		if (!err && !*s)
			err = fail(p, item, item_key, "must not be empty");
		if (!err && check)
			err = check(p, item, item_key, s);
		if (!err && !(list[i] = strdup(s)))
			err = -ENOMEM;
		if (err) {
			free_list(list, i);
			return err;
		}
	}
	free_list(*out, *out_n);
	*out = list;
	*out_n = count;
	return 0;
}

static int expect_mapping(struct parse *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return fail(p, n, key, "expected a mapping, got %s", kind_of(n));
	return 0;
}

/*
 * The key of pair I of MAP: a string not given before in MAP. Callers stop at
 * the first unknown key, so the pairs before I are distinct known keys and the
 * scan stays short even in a hostile file.
 */
static int pair_key(struct parse *p, const yaml_node_t *map, size_t i, const char *where, const char **ret,
		    const yaml_node_t **ret_value)
{
	const yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
	const yaml_node_t *k = yaml_document_get_node(p->doc, pairs[i].key);
	const char *s;
	int err;

	if ((err = get_scalar(p, k, where, "a string key", &s)))
		return err;
	for (size_t j = 0; j < i; j++) {
		const yaml_node_t *prev = yaml_document_get_node(p->doc, pairs[j].key);

		if (!strcmp((const char *)prev->data.scalar.value, s))
			return fail(p, k, s, "given twice in %s (first on line %zu)", where, line_of(prev));
	}
	*ret = s;
	*ret_value = yaml_document_get_node(p->doc, pairs[i].value);
	return 0;
}

static size_t map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

static int parse_rule(struct parse *p, const yaml_node_t *n, size_t index, struct reflex_rule *r)
{
	const yaml_node_t *action_node = NULL;
	char where[48], key[96];
	int err;

	snprintf(where, sizeof(where), "rules[%zu]", index);
	r->dryrun = TRISTATE_UNSET;
	if ((err = expect_mapping(p, n, where)))
		return err;
	for (size_t i = 0; i < map_len(n); i++) {
		const yaml_node_t *v;
		const char *k;

		if ((err = pair_key(p, n, i, where, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "name")) {
			err = get_string(p, v, key, false, &r->name);
		} else if (!strcmp(k, "action")) {
			const char *s;

			action_node = v;
			err = get_scalar(p, v, key, "an action", &s);
			if (!err && action_from_name(s, &r->action))
				err = fail(p, v, key,
					   "'%s' is not one of alert, kill_process, kill_container, kill_pod, "
					   "isolate_namespace",
					   show(p, s));
		} else if (!strcmp(k, "audit_reason")) {
			err = get_string(p, v, key, true, &r->audit_reason);
		} else if (!strcmp(k, "dryrun")) {
			bool b = false;

			err = get_bool(p, v, key, &b);
			r->dryrun = b ? TRISTATE_TRUE : TRISTATE_FALSE;
		} else {
			const yaml_node_t *kn = yaml_document_get_node(p->doc, n->data.mapping.pairs.start[i].key);

			err = fail(p, kn, key, "unknown key in a rule (name, action, audit_reason, dryrun)");
		}
		if (err)
			return err;
	}
	if (!r->name)
		return fail(p, n, where, "a rule needs a name (the Falco rule name)");
	if (!action_node)
		return fail(p, n, where, "rule '%s' has no action", show(p, r->name));
	return 0;
}

static int parse_exception(struct parse *p, const struct reflex_config *c, const yaml_node_t *n, size_t index,
			   struct reflex_exception *x)
{
	const yaml_node_t *rule_node = NULL;
	char where[48], key[96];
	int err;

	snprintf(where, sizeof(where), "exceptions[%zu]", index);
	if ((err = expect_mapping(p, n, where)))
		return err;
	for (size_t i = 0; i < map_len(n); i++) {
		const yaml_node_t *v;
		const char *k, *s;

		if ((err = pair_key(p, n, i, where, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "rule")) {
			rule_node = v;
			err = get_string(p, v, key, false, &x->rule);
		} else if (!strcmp(k, "namespace")) {
			err = get_scalar(p, v, key, "a namespace name", &s);
			err = err ?: check_namespace_name(p, v, key, s);
			err = err ?: set_string(&x->namespace_, s);
		} else if (!strcmp(k, "exe_path")) {
			/* A relative glob can never match an absolute exe path. */
			err = get_scalar(p, v, key, "a path glob", &s);
			if (!err && s[0] != '/')
				err = fail(p, v, key, "expected an absolute path glob, got '%s'", show(p, s));
			err = err ?: set_string(&x->exe_path, s);
		} else if (!strcmp(k, "image")) {
			err = get_string(p, v, key, false, &x->image);
		} else {
			const yaml_node_t *kn = yaml_document_get_node(p->doc, n->data.mapping.pairs.start[i].key);

			err = fail(p, kn, key, "unknown key in an exception (rule, namespace, exe_path, image)");
		}
		if (err)
			return err;
	}
	if (!rule_node)
		return fail(p, n, where, "an exception names the rule it applies to (rule:)");
	/* A typo in the rule name would silently except nothing. */
	snprintf(key, sizeof(key), "%s.rule", where);
	if (!config_find_rule(c, x->rule))
		return fail(p, rule_node, key, "no rule named '%s' in rules:", show(p, x->rule));
	if (!x->namespace_ && !x->exe_path && !x->image)
		return fail(p, n, where,
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
static int check_unique_rules(struct parse *p, const struct reflex_config *c, const yaml_node_t *seq)
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
			const yaml_node_t *n = yaml_document_get_node(p->doc, seq->data.sequence.items.start[again]);
			const yaml_node_t *f = yaml_document_get_node(p->doc, seq->data.sequence.items.start[first]);
			char key[48];

			snprintf(key, sizeof(key), "rules[%zu].name", again);
			err = fail(p, n, key, "rule '%s' is defined twice (first on line %zu)",
				   show(p, c->rules[again].name), line_of(f));
		}
	}
	free(order);
	return err;
}

static int parse_rules(struct parse *p, const yaml_node_t *n, struct reflex_config *c)
{
	size_t count;
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, "rules", "expected a list of rules, got %s", kind_of(n));
	count = seq_len(n);
	c->rules = calloc(count + 1, sizeof(*c->rules));
	if (!c->rules)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);

		/* Counted first so config_free releases a half-parsed rule. */
		c->n_rules++;
		if ((err = parse_rule(p, item, i, &c->rules[i])))
			return err;
	}
	return check_unique_rules(p, c, n);
}

static int parse_exceptions(struct parse *p, const yaml_node_t *n, struct reflex_config *c)
{
	size_t count;
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, "exceptions", "expected a list of exceptions, got %s", kind_of(n));
	count = seq_len(n);
	c->exceptions = calloc(count + 1, sizeof(*c->exceptions));
	if (!c->exceptions)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);

		c->n_exceptions++;
		if ((err = parse_exception(p, c, item, i, &c->exceptions[i])))
			return err;
	}
	return 0;
}

enum field_kind {
	FIELD_STRING,        /* non-empty */
	FIELD_STRING_OR_OFF, /* "" disables */
	FIELD_PATH,
	FIELD_PATH_OR_OFF,   /* absolute, or "" */
	FIELD_BOOL,
	FIELD_UINT,
	FIELD_PATHS,
	FIELD_CIDRS,
	FIELD_UNKNOWN_OWNER,
	FIELD_LOG_LEVEL,
	FIELD_MODE,          /* octal file mode, e.g. "0660" */
	FIELD_UIDS,          /* list of uids */
	FIELD_LOOPBACK_ADDRESS, /* "" or 127.x.y.z:PORT / [::1]:PORT */
	FIELD_API_URL,       /* "auto", "" or http(s)://... */
};

struct agent_field {
	const char *key;
	enum field_kind kind;
	size_t offset;   /* into struct agent_config */
	size_t n_offset; /* lists: the count */
	unsigned int lo, hi;
};

#define AG(f) offsetof(struct agent_config, f)

static const struct agent_field agent_fields[] = {
	{ "node_name", FIELD_STRING, AG(node_name), 0, 0, 0 },
	{ "cgroup_root", FIELD_PATH_OR_OFF, AG(cgroup_root), 0, 0, 0 },
	{ "containerd_roots", FIELD_PATHS, AG(containerd_roots), AG(n_containerd_roots), 0, 0 },
	{ "crio_root", FIELD_PATH, AG(crio_root), 0, 0, 0 },
	{ "audit_log", FIELD_PATH_OR_OFF, AG(audit_log), 0, 0, 0 },
	{ "audit_stdout", FIELD_BOOL, AG(audit_stdout), 0, 0, 0 },
	{ "enforce_in_kernel", FIELD_BOOL, AG(enforce_in_kernel), 0, 0, 0 },
	{ "deny_exec_in_kernel", FIELD_BOOL, AG(deny_exec_in_kernel), 0, 0, 0 },
	{ "drop_capabilities", FIELD_BOOL, AG(drop_capabilities), 0, 0, 0 },
	{ "metrics_address", FIELD_STRING_OR_OFF, AG(metrics_address), 0, 0, 0 },
	{ "exec_rule", FIELD_STRING, AG(exec_rule), 0, 0, 0 },
	{ "fileless_rule", FIELD_STRING, AG(fileless_rule), 0, 0, 0 },
	{ "unknown_owner", FIELD_UNKNOWN_OWNER, AG(unknown_owner), 0, 0, 0 },
	{ "kill_timeout_ms", FIELD_UINT, AG(kill_timeout_ms), 0, 1, 60000 },
	{ "log_level", FIELD_LOG_LEVEL, AG(log_level), 0, 0, 0 },
	{ "pool_rule", FIELD_STRING, AG(pool_rule), 0, 0, 0 },
	{ "stratum_rule", FIELD_STRING, AG(stratum_rule), 0, 0, 0 },
	{ "pool_lists", FIELD_PATH, AG(pool_lists), 0, 0, 0 },
	{ "pool_cidrs", FIELD_CIDRS, AG(pool_cidrs), AG(n_pool_cidrs), 0, 0 },
	{ "pool_port_only", FIELD_BOOL, AG(pool_port_only), 0, 0, 0 },
	{ "pool_exclude_private", FIELD_BOOL, AG(pool_exclude_private), 0, 0, 0 },
	{ "pool_resolve_interval_s", FIELD_UINT, AG(pool_resolve_interval_s), 0, 1, 86400 },
	{ "block_pool_connections", FIELD_BOOL, AG(block_pool_connections), 0, 0, 0 },
	{ "scan_stratum_argv", FIELD_BOOL, AG(scan_stratum_argv), 0, 0, 0 },
	{ "watch_stratum_handshake", FIELD_BOOL, AG(watch_stratum_handshake), 0, 0, 0 },
	{ "falco_socket", FIELD_PATH_OR_OFF, AG(falco_socket), 0, 0, 0 },
	{ "falco_socket_mode", FIELD_MODE, AG(falco_socket_mode), 0, 0, 0777 },
	{ "falco_peer_uids", FIELD_UIDS, AG(falco_peer_uids), AG(n_falco_peer_uids), 0, 0 },
	{ "falco_http_address", FIELD_LOOPBACK_ADDRESS, AG(falco_http_address), 0, 0, 0 },
	{ "falco_http_token_file", FIELD_PATH_OR_OFF, AG(falco_http_token_file), 0, 0, 0 },
	{ "falco_max_alert_bytes", FIELD_UINT, AG(falco_max_alert_bytes), 0, 1024, 16 * 1024 * 1024 },
	{ "falco_queue_size", FIELD_UINT, AG(falco_queue_size), 0, 16, 1048576 },
	{ "correlation_window_ms", FIELD_UINT, AG(correlation_window_ms), 0, 0, 600000 },
	{ "rate_limit_containers", FIELD_UINT, AG(rate_limit_containers), 0, 1, 100000 },
	{ "rate_limit_executables", FIELD_UINT, AG(rate_limit_executables), 0, 1, 100000 },
	{ "rate_limit_window_s", FIELD_UINT, AG(rate_limit_window_s), 0, 1, 86400 },
	{ "kubernetes_api", FIELD_API_URL, AG(kubernetes_api), 0, 0, 0 },
	{ "kubernetes_token_file", FIELD_PATH_OR_OFF, AG(kubernetes_token_file), 0, 0, 0 },
	{ "kubernetes_ca_file", FIELD_PATH_OR_OFF, AG(kubernetes_ca_file), 0, 0, 0 },
	{ "controller_url", FIELD_API_URL, AG(controller_url), 0, 0, 0 },
	{ "controller_token_file", FIELD_PATH_OR_OFF, AG(controller_token_file), 0, 0, 0 },
	{ "report_spool_dir", FIELD_PATH, AG(report_spool_dir), 0, 0, 0 },
	{ "report_spool_max_bytes", FIELD_UINT, AG(report_spool_max_bytes), 0, 65536, 4000000000U },
};

#define CT(f) offsetof(struct controller_config, f)

static const struct agent_field controller_fields[] = {
	{ "listen_address", FIELD_STRING, CT(listen_address), 0, 0, 0 },
	{ "token_file", FIELD_PATH_OR_OFF, CT(token_file), 0, 0, 0 },
	{ "max_body_bytes", FIELD_UINT, CT(max_body_bytes), 0, 1024, 64 * 1024 * 1024 },
	{ "kubernetes_api", FIELD_API_URL, CT(kubernetes_api), 0, 0, 0 },
	{ "kubernetes_token_file", FIELD_PATH_OR_OFF, CT(kubernetes_token_file), 0, 0, 0 },
	{ "kubernetes_ca_file", FIELD_PATH_OR_OFF, CT(kubernetes_ca_file), 0, 0, 0 },
	{ "gelf_http_url", FIELD_API_URL, CT(gelf_http_url), 0, 0, 0 },
	{ "gelf_udp_address", FIELD_STRING_OR_OFF, CT(gelf_udp_address), 0, 0, 0 },
	{ "gelf_stream", FIELD_STRING, CT(gelf_stream), 0, 0, 0 },
	{ "audit_spool_dir", FIELD_PATH, CT(audit_spool_dir), 0, 0, 0 },
	{ "audit_spool_max_bytes", FIELD_UINT, CT(audit_spool_max_bytes), 0, 65536, 4000000000U },
	{ "page_webhook_url", FIELD_API_URL, CT(page_webhook_url), 0, 0, 0 },
	{ "dedupe_window_s", FIELD_UINT, CT(dedupe_window_s), 0, 1, 86400 },
	{ "rate_limit_pods", FIELD_UINT, CT(rate_limit_pods), 0, 1, 100000 },
	{ "rate_limit_namespaces", FIELD_UINT, CT(rate_limit_namespaces), 0, 1, 100000 },
	{ "rate_limit_window_s", FIELD_UINT, CT(rate_limit_window_s), 0, 1, 86400 },
	{ "operator", FIELD_STRING, CT(operator_), 0, 0, 0 },
	{ "log_level", FIELD_LOG_LEVEL, CT(log_level), 0, 0, 0 },
};

/* Octal mode from a string ("0660") or a YAML 1.1 octal/decimal scalar. */
static int get_mode(struct parse *p, const yaml_node_t *n, const char *key, unsigned int *out)
{
	const char *s;
	char *end;
	unsigned long v;
	int err;

	if ((err = get_scalar(p, n, key, "an octal file mode such as \"0660\"", &s)))
		return err;
	if (*s != '0' || strspn(s, "01234567") != strlen(s))
		return fail(p, n, key, "expected an octal file mode with a leading 0 (e.g. \"0660\"), got '%s'",
			    show(p, s));
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		return fail(p, n, key, "expected a file mode from 0000 to 0777, got '%s'", show(p, s));
	*out = (unsigned int)v;
	return 0;
}

static int get_uid_list(struct parse *p, const yaml_node_t *n, const char *key, unsigned int **out,
			size_t *out_n)
{
	size_t count;
	unsigned int *list;
	char item_key[128];
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, key, "expected a list of uids, got %s", kind_of(n));
	count = seq_len(n);
	list = calloc(count + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		if ((err = get_uint(p, item, item_key, 0, 4294967294U, &list[i]))) {
			free(list);
			return err;
		}
	}
	free(*out);
	*out = list;
	*out_n = count;
	return 0;
}

/* The Falco HTTP intake takes alerts unauthenticated by default: loopback only. */
static int get_loopback_address(struct parse *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s, *colon;
	unsigned int port;
	char *end;
	int err;

	if ((err = get_scalar(p, n, key, "HOST:PORT on loopback", &s)))
		return err;
	if (!*s)
		return set_string(out, s);
	colon = strrchr(s, ':');
	if (!colon || (strncmp(s, "127.", 4) && strncmp(s, "[::1]:", 6)) || (s[0] != '[' && strchr(s, '[')))
		return fail(p, n, key, "expected a loopback HOST:PORT (127.0.0.1:2802 or [::1]:2802), got '%s'",
			    show(p, s));
	errno = 0;
	port = (unsigned int)strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] < '0' || colon[1] > '9' || port > 65535)
		return fail(p, n, key, "port must be a number from 0 to 65535 in '%s'", show(p, s));
	if (s[0] == '1') {
		struct in_addr in;
		char host[32];

		if ((size_t)(colon - s) >= sizeof(host))
			return fail(p, n, key, "'%s' is not a loopback address", show(p, s));
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (inet_pton(AF_INET, host, &in) != 1)
			return fail(p, n, key, "'%s' is not a loopback address", show(p, s));
	}
	return set_string(out, s);
}

static int get_api_url(struct parse *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s;
	int err;

	if ((err = get_scalar(p, n, key, "\"auto\", \"\" or an http(s) URL", &s)))
		return err;
	if (*s && strcmp(s, "auto") && strncmp(s, "https://", 8) && strncmp(s, "http://", 7))
		return fail(p, n, key, "expected \"auto\", \"\" (off) or an http:// or https:// URL, got '%s'",
			    show(p, s));
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/.-_[]%") != strlen(s))
		return fail(p, n, key, "'%s' is not a plain URL (no query, spaces or credentials)", show(p, s));
	return set_string(out, s);
}

static int parse_field(struct parse *p, const struct agent_field *f, const yaml_node_t *v, const char *key,
		       void *base)
{
	void *field = (char *)base + f->offset;
	const char *s;
	int err;

	switch (f->kind) {
	case FIELD_STRING:
		return get_string(p, v, key, false, field);
	case FIELD_STRING_OR_OFF:
		return get_string(p, v, key, true, field);
	case FIELD_PATH:
		return get_path(p, v, key, false, field);
	case FIELD_PATH_OR_OFF:
		return get_path(p, v, key, true, field);
	case FIELD_BOOL:
		return get_bool(p, v, key, field);
	case FIELD_UINT:
		return get_uint(p, v, key, f->lo, f->hi, field);
	case FIELD_PATHS:
		return get_list(p, v, key, check_path, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_CIDRS:
		return get_list(p, v, key, check_cidr, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_UNKNOWN_OWNER:
		if ((err = get_scalar(p, v, key, "refuse or allow", &s)))
			return err;
		if (!strcmp(s, "refuse"))
			*(enum unknown_owner_policy *)field = UNKNOWN_OWNER_REFUSE;
		else if (!strcmp(s, "allow"))
			*(enum unknown_owner_policy *)field = UNKNOWN_OWNER_ALLOW;
		else
			return fail(p, v, key, "expected refuse or allow, got '%s'", show(p, s));
		return 0;
	case FIELD_LOG_LEVEL:
		if ((err = get_scalar(p, v, key, "a log level", &s)))
			return err;
		if (strcmp(s, "error") && strcmp(s, "warn") && strcmp(s, "info") && strcmp(s, "debug"))
			return fail(p, v, key, "expected error, warn, info or debug, got '%s'", show(p, s));
		return set_string(field, s);
	case FIELD_MODE:
		return get_mode(p, v, key, field);
	case FIELD_UIDS:
		return get_uid_list(p, v, key, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_LOOPBACK_ADDRESS:
		return get_loopback_address(p, v, key, field);
	case FIELD_API_URL:
		return get_api_url(p, v, key, field);
	}
	return -EINVAL;
}

/* One section (agent: or controller:) of keys from FIELDS into BASE. */
static int parse_section(struct parse *p, const yaml_node_t *n, const char *section, const struct agent_field *fields,
			 size_t n_fields, void *base)
{
	int err;

	if ((err = expect_mapping(p, n, section)))
		return err;
	for (size_t i = 0; i < map_len(n); i++) {
		const struct agent_field *f = NULL;
		const yaml_node_t *v;
		const char *k;
		char key[96];

		if ((err = pair_key(p, n, i, section, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", section, k);
		for (size_t j = 0; j < n_fields && !f; j++)
			if (!strcmp(k, fields[j].key))
				f = &fields[j];
		if (!f)
			return fail(p, yaml_document_get_node(p->doc, n->data.mapping.pairs.start[i].key), key,
				    "unknown key in %s:", section);
		if ((err = parse_field(p, f, v, key, base)))
			return err;
	}
	return 0;
}

static int set_default(char **field, const char *value)
{
	return *field ? 0 : set_string(field, value);
}

static int apply_defaults(struct reflex_config *c)
{
	struct agent_config *ag = &c->agent;
	struct controller_config *ct = &c->controller;
	const char *node = getenv("NODE_NAME");
	char host[256] = "";
	int err = 0;

	if (!node || !*node) {
		/* gethostname may leave a truncated name unterminated. */
		if (gethostname(host, sizeof(host) - 1))
			snprintf(host, sizeof(host), "unknown");
		node = host;
	}
	/* "" means "find it": the header promises NULL for that. */
	if (ag->cgroup_root && !*ag->cgroup_root) {
		free(ag->cgroup_root);
		ag->cgroup_root = NULL;
	}
	err = err ?: set_default(&ag->node_name, node);
	err = err ?: set_default(&ag->crio_root, "/run/containers/storage");
	err = err ?: set_default(&ag->audit_log, "/var/log/reflex/audit.log");
	err = err ?: set_default(&ag->metrics_address, "127.0.0.1:9464");
	err = err ?: set_default(&ag->exec_rule, "Drop and execute new binary in container");
	err = err ?: set_default(&ag->fileless_rule, "Fileless execution via memfd_create");
	err = err ?: set_default(&ag->pool_rule, "Detect outbound connections to common miner pool ports");
	err = err ?: set_default(&ag->stratum_rule, "Detect crypto miners using the Stratum protocol");
	err = err ?: set_default(&ag->pool_lists, "/etc/reflex/miner_pools.txt");
	err = err ?: set_default(&ag->log_level, "info");
	err = err ?: set_default(&ag->falco_socket, "/run/reflex/falco.sock");
	err = err ?: set_default(&ag->falco_http_address, "");
	err = err ?: set_default(&ag->falco_http_token_file, "");
	err = err ?: set_default(&ag->kubernetes_api, "auto");
	err = err ?: set_default(&ag->controller_url, "");
	err = err ?: set_default(&ag->controller_token_file, "");
	err = err ?: set_default(&ag->report_spool_dir, "/var/lib/reflex/reports");
	if (!ag->report_spool_max_bytes)
		ag->report_spool_max_bytes = 64u << 20;
	err = err ?: set_default(&ct->listen_address, "0.0.0.0:8080");
	err = err ?: set_default(&ct->token_file, "/etc/reflex/token");
	if (!ct->max_body_bytes)
		ct->max_body_bytes = 1u << 20;
	err = err ?: set_default(&ct->kubernetes_api, "auto");
	err = err ?: set_default(&ct->kubernetes_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	err = err ?: set_default(&ct->kubernetes_ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	err = err ?: set_default(&ct->gelf_http_url, "");
	err = err ?: set_default(&ct->gelf_udp_address, "");
	err = err ?: set_default(&ct->gelf_stream, "falco-automated-response");
	err = err ?: set_default(&ct->audit_spool_dir, "/var/lib/reflex-controller/audit");
	if (!ct->audit_spool_max_bytes)
		ct->audit_spool_max_bytes = 64u << 20;
	err = err ?: set_default(&ct->page_webhook_url, "");
	if (!ct->dedupe_window_s)
		ct->dedupe_window_s = 600;
	if (!ct->rate_limit_pods)
		ct->rate_limit_pods = 5;
	if (!ct->rate_limit_namespaces)
		ct->rate_limit_namespaces = 5;
	if (!ct->rate_limit_window_s)
		ct->rate_limit_window_s = 60;
	err = err ?: set_default(&ct->operator_, "reflex-controller");
	err = err ?: set_default(&ct->log_level, "info");
	err = err ?: set_default(&ag->kubernetes_token_file, "/var/run/secrets/kubernetes.io/serviceaccount/token");
	err = err ?: set_default(&ag->kubernetes_ca_file, "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt");
	if (!err && !ag->falco_peer_uids) {
		/* Falco runs as root; other writers are added explicitly. */
		ag->falco_peer_uids = calloc(1, sizeof(*ag->falco_peer_uids));
		if (!ag->falco_peer_uids)
			return -ENOMEM;
		ag->n_falco_peer_uids = 1;
	}
	if (!err && !ag->containerd_roots) {
		ag->containerd_roots = calloc(3, sizeof(char *));
		if (!ag->containerd_roots)
			return -ENOMEM;
		/* Counted first so config_free releases whatever was allocated. */
		ag->n_containerd_roots = 2;
		ag->containerd_roots[0] = strdup("/run/containerd");
		ag->containerd_roots[1] = strdup("/run/k3s/containerd");
		if (!ag->containerd_roots[0] || !ag->containerd_roots[1])
			return -ENOMEM;
	}
	return err;
}

/* Bounds the work on a hostile file: list items anywhere, controller: included. */
static int check_item_limit(struct parse *p)
{
	size_t items = 0;

	for (const yaml_node_t *n = p->doc->nodes.start; n < p->doc->nodes.top; n++) {
		if (n->type != YAML_SEQUENCE_NODE)
			continue;
		items += seq_len(n);
		if (items > CONFIG_MAX_ITEMS) {
			snprintf(p->err, p->errlen, "%s:%zu: more than %d list items in the file", p->name,
				 line_of(n), CONFIG_MAX_ITEMS);
			return -E2BIG;
		}
	}
	return 0;
}

static int parse_root(struct parse *p, struct reflex_config *c)
{
	const yaml_node_t *root = yaml_document_get_root_node(p->doc);
	const yaml_node_t *exceptions = NULL;
	int err;

	if (!root || (root->type == YAML_SCALAR_NODE && is_null(root))) {
		snprintf(p->err, p->errlen, "%s: the file is empty", p->name);
		return -EINVAL;
	}
	if ((err = check_item_limit(p)))
		return err;
	if ((err = expect_mapping(p, root, "(top level)")))
		return err;
	for (size_t i = 0; i < map_len(root); i++) {
		const yaml_node_t *v;
		const char *k;

		if ((err = pair_key(p, root, i, "the top level", &k, &v)))
			return err;
		if (!strcmp(k, "dryrun")) {
			err = get_bool(p, v, k, &c->dryrun);
		} else if (!strcmp(k, "allowed_namespaces")) {
			err = get_list(p, v, k, check_namespace_glob, &c->allowed_namespaces,
				       &c->n_allowed_namespaces);
		} else if (!strcmp(k, "denied_namespaces")) {
			err = get_list(p, v, k, check_namespace_glob, &c->denied_namespaces,
				       &c->n_denied_namespaces);
		} else if (!strcmp(k, "protected_owners")) {
			err = get_list(p, v, k, check_owner_kind, &c->protected_owners, &c->n_protected_owners);
		} else if (!strcmp(k, "rules")) {
			err = parse_rules(p, v, c);
		} else if (!strcmp(k, "exceptions")) {
			/* After rules, wherever it is written: each names a rule that must exist. */
			exceptions = v;
		} else if (!strcmp(k, "agent")) {
			err = parse_section(p, v, "agent", agent_fields, ARRAY_SIZE(agent_fields), &c->agent);
		} else if (!strcmp(k, "controller")) {
			err = parse_section(p, v, "controller", controller_fields, ARRAY_SIZE(controller_fields),
					    &c->controller);
			c->has_controller_section = true;
		} else {
			err = fail(p, yaml_document_get_node(p->doc, root->data.mapping.pairs.start[i].key), k,
				   "unknown key (dryrun, allowed_namespaces, denied_namespaces, protected_owners, "
				   "rules, exceptions, agent, controller)");
		}
		if (err)
			return err;
	}
	if (exceptions)
		return parse_exceptions(p, exceptions, c);
	return 0;
}

static void yaml_syntax_error(struct parse *p, const yaml_parser_t *parser)
{
	const char *problem = parser->problem ? parser->problem : "unreadable";

	if (parser->error == YAML_MEMORY_ERROR)
		snprintf(p->err, p->errlen, "%s: out of memory", p->name);
	else if (parser->context)
		snprintf(p->err, p->errlen, "%s:%zu: YAML syntax: %s %s (line %zu)", p->name,
			 parser->problem_mark.line + 1, problem, parser->context, parser->context_mark.line + 1);
	else
		snprintf(p->err, p->errlen, "%s:%zu: YAML syntax: %s", p->name, parser->problem_mark.line + 1,
			 problem);
}

/* The first document, and proof there is no second one that would be ignored. */
static int load_document(struct parse *p, yaml_parser_t *parser, yaml_document_t *doc)
{
	yaml_document_t next;
	const yaml_node_t *root;

	if (!yaml_parser_load(parser, doc)) {
		yaml_syntax_error(p, parser);
		return parser->error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	if (!yaml_document_get_root_node(doc))
		return 0;
	if (!yaml_parser_load(parser, &next)) {
		yaml_syntax_error(p, parser);
		yaml_document_delete(doc);
		return parser->error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
	}
	root = yaml_document_get_root_node(&next);
	if (root) {
		snprintf(p->err, p->errlen, "%s:%zu: a second YAML document: one config per file", p->name,
			 next.start_mark.line + 1);
		yaml_document_delete(&next);
		yaml_document_delete(doc);
		return -EINVAL;
	}
	yaml_document_delete(&next);
	return 0;
}

int config_parse(const char *name, const char *text, size_t len, struct reflex_config **ret_config, char *err,
		 size_t errlen)
{
	struct reflex_config *c;
	yaml_parser_t parser;
	yaml_document_t doc;
	struct parse p = { .name = name, .doc = &doc, .err = err, .errlen = err ? errlen : 0 };
	int r;

	if (len > CONFIG_MAX_BYTES) {
		snprintf(p.err, p.errlen, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->agent.audit_stdout = true;
	c->agent.enforce_in_kernel = true;
	c->agent.deny_exec_in_kernel = true;
	c->agent.drop_capabilities = true;
	c->agent.unknown_owner = UNKNOWN_OWNER_REFUSE;
	c->agent.kill_timeout_ms = 1000;
	c->agent.pool_exclude_private = true;
	c->agent.pool_resolve_interval_s = 300;
	c->agent.block_pool_connections = true;
	c->agent.scan_stratum_argv = true;
	c->agent.watch_stratum_handshake = true;
	c->agent.falco_socket_mode = 0660;
	c->agent.falco_max_alert_bytes = 1024 * 1024;
	c->agent.falco_queue_size = 4096;
	c->agent.correlation_window_ms = 5000;
	c->agent.rate_limit_containers = 5;
	c->agent.rate_limit_executables = 5;
	c->agent.rate_limit_window_s = 60;
	c->path = strdup(name);
	if (!c->path || !yaml_parser_initialize(&parser)) {
		snprintf(p.err, p.errlen, "%s: out of memory", name);
		config_free(c);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)(text ? text : ""), text ? len : 0);
	r = load_document(&p, &parser, &doc);
	yaml_parser_delete(&parser);
	if (r) {
		config_free(c);
		return r;
	}
	r = parse_root(&p, c);
	if (!r)
		r = apply_defaults(c);
	if (r == -ENOMEM)
		snprintf(p.err, p.errlen, "%s: out of memory", name);
	yaml_document_delete(&doc);
	if (r) {
		config_free(c);
		return r;
	}
	*ret_config = c;
	return 0;
}

int config_load(const char *path, struct reflex_config **ret_config, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	size_t n;
	FILE *f;
	int r;

	if (!err)
		errlen = 0;
	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		goto out;
	}
	/* One byte more than allowed tells "exactly the limit" from "over it". */
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		r = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	if (ferror(f)) {
		r = -EIO;
		snprintf(err, errlen, "%s: read error", path);
		goto out;
	}
	r = config_parse(path, buf, n, ret_config, err, errlen);
out:
	free(buf);
	fclose(f);
	return r;
}

struct reflex_config *config_free(struct reflex_config *c)
{
	struct agent_config *ag;

	if (!c)
		return NULL;
	ag = &c->agent;
	free(c->path);
	free_list(c->allowed_namespaces, c->n_allowed_namespaces);
	free_list(c->denied_namespaces, c->n_denied_namespaces);
	free_list(c->protected_owners, c->n_protected_owners);
	for (size_t i = 0; c->rules && i < c->n_rules; i++) {
		free(c->rules[i].name);
		free(c->rules[i].audit_reason);
	}
	free(c->rules);
	for (size_t i = 0; c->exceptions && i < c->n_exceptions; i++) {
		free(c->exceptions[i].rule);
		free(c->exceptions[i].namespace_);
		free(c->exceptions[i].exe_path);
		free(c->exceptions[i].image);
	}
	free(c->exceptions);
	free(ag->node_name);
	free(ag->cgroup_root);
	free_list(ag->containerd_roots, ag->n_containerd_roots);
	free(ag->crio_root);
	free(ag->audit_log);
	free(ag->metrics_address);
	free(ag->exec_rule);
	free(ag->fileless_rule);
	free(ag->log_level);
	free(ag->pool_rule);
	free(ag->stratum_rule);
	free(ag->pool_lists);
	free_list(ag->pool_cidrs, ag->n_pool_cidrs);
	free(ag->falco_socket);
	free(ag->falco_peer_uids);
	free(ag->falco_http_address);
	free(ag->falco_http_token_file);
	free(ag->kubernetes_api);
	free(ag->kubernetes_token_file);
	free(ag->kubernetes_ca_file);
	free(ag->controller_url);
	free(ag->controller_token_file);
	free(ag->report_spool_dir);
	free(c->controller.listen_address);
	free(c->controller.token_file);
	free(c->controller.kubernetes_api);
	free(c->controller.kubernetes_token_file);
	free(c->controller.kubernetes_ca_file);
	free(c->controller.gelf_http_url);
	free(c->controller.gelf_udp_address);
	free(c->controller.gelf_stream);
	free(c->controller.audit_spool_dir);
	free(c->controller.page_webhook_url);
	free(c->controller.operator_);
	free(c->controller.log_level);
	free(c);
	return NULL;
}

const struct reflex_rule *config_find_rule(const struct reflex_config *c, const char *name)
{
	for (size_t i = 0; c && name && i < c->n_rules; i++)
		if (c->rules[i].name && !strcmp(c->rules[i].name, name))
			return &c->rules[i];
	return NULL;
}

int config_apply_overrides(struct reflex_config *c, const struct config_overrides *o)
{
	struct agent_config *ac = &c->agent;
	int err = 0;

	if (o->dry_run) {
		c->dryrun = true;
		/* "Kill nothing": a rule's own dryrun: false does not win over the command line. */
		for (size_t i = 0; i < c->n_rules; i++)
			if (c->rules[i].dryrun == TRISTATE_FALSE)
				c->rules[i].dryrun = TRISTATE_UNSET;
	}
	if (o->no_kernel_enforce)
		ac->enforce_in_kernel = false;
	if (o->no_exec_deny)
		ac->deny_exec_in_kernel = false;
	if (o->node)
		err = err ?: set_string(&ac->node_name, o->node);
	if (o->metrics_address)
		err = err ?: set_string(&ac->metrics_address, o->metrics_address);
	if (o->audit_log)
		err = err ?: set_string(&ac->audit_log, o->audit_log);
	if (o->cgroup_root)
		err = err ?: set_string(&ac->cgroup_root, o->cgroup_root);
	if (o->crio_root)
		err = err ?: set_string(&ac->crio_root, o->crio_root);
	if (o->log_level)
		err = err ?: set_string(&ac->log_level, o->log_level);
	if (o->unknown_owner)
		ac->unknown_owner = strcmp(o->unknown_owner, "allow") == 0 ? UNKNOWN_OWNER_ALLOW : UNKNOWN_OWNER_REFUSE;
	if (o->n_containerd_roots) {
		char **roots = calloc(o->n_containerd_roots, sizeof(*roots));

		if (!roots)
			return -ENOMEM;
		for (size_t i = 0; i < o->n_containerd_roots; i++) {
			roots[i] = strdup(o->containerd_roots[i]);
			if (!roots[i])
				err = -ENOMEM;
		}
		for (size_t i = 0; i < ac->n_containerd_roots; i++)
			free(ac->containerd_roots[i]);
		free(ac->containerd_roots);
		ac->containerd_roots = roots;
		ac->n_containerd_roots = o->n_containerd_roots;
	}
	return err;
}

/* Appends one space-separated word group to BUF; stops quietly when it is full. */
__attribute__((format(printf, 4, 5))) static void ov_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	if (*len)
		buf[(*len)++] = ' ';
	buf[*len] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = (size_t)n < size - *len ? *len + (size_t)n : size - 1;
}

char *config_overrides_describe(const struct config_overrides *o, char *buf, size_t size)
{
	size_t len = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (o->dry_run)
		ov_add(buf, size, &len, "--dry-run");
	if (o->no_kernel_enforce)
		ov_add(buf, size, &len, "--no-kernel-enforce");
	if (o->no_exec_deny)
		ov_add(buf, size, &len, "--no-exec-deny");
	if (o->unknown_owner)
		ov_add(buf, size, &len, "--unknown-owner %s", o->unknown_owner);
	if (o->node)
		ov_add(buf, size, &len, "--node %s", o->node);
	if (o->metrics_address)
		ov_add(buf, size, &len, "--metrics-address '%s'", o->metrics_address);
	if (o->audit_log)
		ov_add(buf, size, &len, "--audit-log '%s'", o->audit_log);
	if (o->cgroup_root)
		ov_add(buf, size, &len, "--cgroup-root %s", o->cgroup_root);
	for (size_t i = 0; i < o->n_containerd_roots; i++)
		ov_add(buf, size, &len, "--containerd-root %s", o->containerd_roots[i]);
	if (o->crio_root)
		ov_add(buf, size, &len, "--crio-root %s", o->crio_root);
	if (o->log_level)
		ov_add(buf, size, &len, "--log-level %s", o->log_level);
	if (!len)
		snprintf(buf, size, "none");
	return buf;
}
