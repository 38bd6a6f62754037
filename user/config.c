// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* config.yaml through libyaml's document API: every node knows its line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"

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
	if ((unsigned int)action >= sizeof(action_names) / sizeof(action_names[0]))
		return NULL;
	return action_names[action];
}

int action_from_name(const char *name, enum reflex_action *ret)
{
	for (size_t i = 0; name && i < sizeof(action_names) / sizeof(action_names[0]); i++) {
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
	size_t items;
};

__attribute__((format(printf, 4, 5))) static int fail(struct parse *p, const yaml_node_t *node, const char *key,
						      const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%zu: key '%s': %s", p->name, node ? node->start_mark.line + 1 : 0,
		 key, what);
	return -EINVAL;
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static int get_string(struct parse *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s = scalar(n);
	char *copy;

	if (!s)
		return fail(p, n, key, "expected a string");
	copy = strdup(s);
	if (!copy)
		return -ENOMEM;
	free(*out);
	*out = copy;
	return 0;
}

static int get_bool(struct parse *p, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	const char *s = scalar(n);

	for (int i = 0; s && i < 3; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return fail(p, n, key, "expected a boolean (true/false), got '%s'", s ? s : "a collection");
}

static int get_uint(struct parse *p, const yaml_node_t *n, const char *key, unsigned long lo, unsigned long hi,
		    unsigned int *out)
{
	const char *s = scalar(n);
	char *end;
	unsigned long v;

	if (!s || !*s || *s == '-')
		return fail(p, n, key, "expected a whole number from %lu to %lu", lo, hi);
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return fail(p, n, key, "expected a whole number from %lu to %lu, got '%s'", lo, hi, s);
	*out = (unsigned int)v;
	return 0;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(list[i]);
	free(list);
}

static int get_list(struct parse *p, yaml_node_t *n, const char *key, char ***out, size_t *out_n)
{
	yaml_node_item_t *it;
	char **list;
	size_t count, i = 0;

	if (!n || n->type != YAML_SEQUENCE_NODE)
		return fail(p, n, key, "expected a list of strings");
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	p->items += count;
	if (p->items > CONFIG_MAX_ITEMS)
		return fail(p, n, key, "more than %d list items in the file", CONFIG_MAX_ITEMS);
	list = calloc(count + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
		yaml_node_t *item = yaml_document_get_node(p->doc, *it);
		const char *s = scalar(item);

		if (!s || !*s) {
			free_list(list, i);
			return fail(p, item, key, "list items must be non-empty strings");
		}
		list[i] = strdup(s);
		if (!list[i]) {
			free_list(list, i);
			return -ENOMEM;
		}
	}
	free_list(*out, *out_n);
	*out = list;
	*out_n = count;
	return 0;
}

/* Iterates a mapping's pairs; a non-mapping is an error naming KEY. */
#define FOR_PAIRS(p, map, pair)                                                                                \
	for (yaml_node_pair_t *pair = (map)->data.mapping.pairs.start; pair < (map)->data.mapping.pairs.top; pair++)

static int expect_mapping(struct parse *p, const yaml_node_t *n, const char *key)
{
	if (!n || n->type != YAML_MAPPING_NODE)
		return fail(p, n, key, "expected a mapping");
	return 0;
}

static int parse_rule(struct parse *p, yaml_node_t *n, struct reflex_rule *r)
{
	bool have_action = false;
	int err;

	r->dryrun = TRISTATE_UNSET;
	if ((err = expect_mapping(p, n, "rules[]")))
		return err;
	FOR_PAIRS(p, n, pair)
	{
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "?";

		if (!strcmp(key, "name")) {
			err = get_string(p, v, "rules[].name", &r->name);
		} else if (!strcmp(key, "action")) {
			const char *s = scalar(v);

			if (!s || action_from_name(s, &r->action))
				return fail(p, v, "rules[].action",
					    "'%s' is not one of alert, kill_process, kill_container, kill_pod, "
					    "isolate_namespace",
					    s ? s : "(not a string)");
			have_action = true;
			err = 0;
		} else if (!strcmp(key, "audit_reason")) {
			err = get_string(p, v, "rules[].audit_reason", &r->audit_reason);
		} else if (!strcmp(key, "dryrun")) {
			bool b;

			err = get_bool(p, v, "rules[].dryrun", &b);
			r->dryrun = b ? TRISTATE_TRUE : TRISTATE_FALSE;
		} else {
			return fail(p, k, key, "unknown key in a rule (name, action, audit_reason, dryrun)");
		}
		if (err)
			return err;
	}
	if (!r->name || !*r->name)
		return fail(p, n, "rules[].name", "every rule needs a non-empty name");
	if (!have_action)
		return fail(p, n, "rules[].action", "rule '%s' has no action", r->name);
	return 0;
}

static int parse_exception(struct parse *p, yaml_node_t *n, struct reflex_exception *x)
{
	static const char *const keys[] = { "rule", "namespace", "exe_path", "image" };
	int err;

	if ((err = expect_mapping(p, n, "exceptions[]")))
		return err;
	FOR_PAIRS(p, n, pair)
	{
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "?";
		char **fields[] = { &x->rule, &x->namespace_, &x->exe_path, &x->image };
		bool known = false;

		for (int i = 0; i < 4; i++) {
			if (!strcmp(key, keys[i])) {
				known = true;
				if ((err = get_string(p, v, key, fields[i])))
					return err;
			}
		}
		if (!known)
			return fail(p, k, key, "unknown key in an exception (rule, namespace, exe_path, image)");
	}
	if (!x->rule)
		return fail(p, n, "exceptions[].rule", "every exception names its rule");
	if (!x->namespace_ && !x->exe_path && !x->image)
		return fail(p, n, "exceptions[]",
			    "an exception needs namespace, exe_path or image: it must never mute a whole rule");
	return 0;
}

static int parse_agent(struct parse *p, yaml_node_t *n, struct agent_config *ag)
{
	int err;

	if ((err = expect_mapping(p, n, "agent")))
		return err;
	FOR_PAIRS(p, n, pair)
	{
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "?";
		const struct {
			const char *name;
			char **field;
		} strings[] = {
			{ "node_name", &ag->node_name },     { "cgroup_root", &ag->cgroup_root },
			{ "crio_root", &ag->crio_root },     { "audit_log", &ag->audit_log },
			{ "metrics_address", &ag->metrics_address }, { "exec_rule", &ag->exec_rule },
			{ "fileless_rule", &ag->fileless_rule }, { "pool_rule", &ag->pool_rule },
			{ "stratum_rule", &ag->stratum_rule }, { "pool_lists", &ag->pool_lists },
		};
		const struct {
			const char *name;
			bool *field;
		} bools[] = {
			{ "audit_stdout", &ag->audit_stdout },
			{ "enforce_in_kernel", &ag->enforce_in_kernel },
			{ "pool_port_only", &ag->pool_port_only },
			{ "pool_exclude_private", &ag->pool_exclude_private },
			{ "block_pool_connections", &ag->block_pool_connections },
			{ "scan_stratum_argv", &ag->scan_stratum_argv },
		};
		bool done = false;

		err = 0;
		for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]) && !done; i++)
			if (!strcmp(key, strings[i].name)) {
				err = get_string(p, v, key, strings[i].field);
				done = true;
			}
		for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]) && !done; i++)
			if (!strcmp(key, bools[i].name)) {
				err = get_bool(p, v, key, bools[i].field);
				done = true;
			}
		if (done) {
			if (err)
				return err;
			continue;
		}
		if (!strcmp(key, "containerd_roots")) {
			err = get_list(p, v, key, &ag->containerd_roots, &ag->n_containerd_roots);
		} else if (!strcmp(key, "pool_cidrs")) {
			err = get_list(p, v, key, &ag->pool_cidrs, &ag->n_pool_cidrs);
		} else if (!strcmp(key, "kill_timeout_ms")) {
			err = get_uint(p, v, key, 1, 60000, &ag->kill_timeout_ms);
		} else if (!strcmp(key, "pool_resolve_interval_s")) {
			err = get_uint(p, v, key, 1, 86400, &ag->pool_resolve_interval_s);
		} else if (!strcmp(key, "unknown_owner")) {
			const char *s = scalar(v);

			if (s && !strcmp(s, "refuse"))
				ag->unknown_owner = UNKNOWN_OWNER_REFUSE;
			else if (s && !strcmp(s, "allow"))
				ag->unknown_owner = UNKNOWN_OWNER_ALLOW;
			else
				return fail(p, v, key, "expected refuse or allow, got '%s'", s ? s : "a collection");
		} else if (!strcmp(key, "log_level")) {
			const char *s = scalar(v);

			if (!s || (strcmp(s, "error") && strcmp(s, "warn") && strcmp(s, "info") && strcmp(s, "debug")))
				return fail(p, v, key, "expected error, warn, info or debug, got '%s'",
					    s ? s : "a collection");
			err = get_string(p, v, key, &ag->log_level);
		} else {
			return fail(p, k, key, "unknown key in agent:");
		}
		if (err)
			return err;
	}
	return 0;
}

static int set_default(char **field, const char *value)
{
	if (*field)
		return 0;
	*field = strdup(value);
	return *field ? 0 : -ENOMEM;
}

static int apply_defaults(struct reflex_config *c)
{
	struct agent_config *ag = &c->agent;
	const char *node = getenv("NODE_NAME");
	char host[256] = "unknown";
	int err = 0;

	if (!node || !*node) {
		if (gethostname(host, sizeof(host) - 1) == 0)
			host[sizeof(host) - 1] = '\0';
		node = host;
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
	if (!err && !ag->containerd_roots) {
		ag->containerd_roots = calloc(2, sizeof(char *));
		if (!ag->containerd_roots)
			return -ENOMEM;
		ag->containerd_roots[0] = strdup("/run/containerd");
		ag->containerd_roots[1] = strdup("/run/k3s/containerd");
		ag->n_containerd_roots = 2;
		if (!ag->containerd_roots[0] || !ag->containerd_roots[1])
			return -ENOMEM;
	}
	return err;
}

static int parse_root(struct parse *p, yaml_node_t *root, struct reflex_config *c)
{
	int err;

	if (!root)
		return fail(p, NULL, "(document)", "the file is empty");
	if ((err = expect_mapping(p, root, "(document)")))
		return err;
	FOR_PAIRS(p, root, pair)
	{
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k) ? scalar(k) : "?";

		if (!strcmp(key, "dryrun")) {
			err = get_bool(p, v, key, &c->dryrun);
		} else if (!strcmp(key, "allowed_namespaces")) {
			err = get_list(p, v, key, &c->allowed_namespaces, &c->n_allowed_namespaces);
		} else if (!strcmp(key, "denied_namespaces")) {
			err = get_list(p, v, key, &c->denied_namespaces, &c->n_denied_namespaces);
		} else if (!strcmp(key, "protected_owners")) {
			err = get_list(p, v, key, &c->protected_owners, &c->n_protected_owners);
		} else if (!strcmp(key, "agent")) {
			err = parse_agent(p, v, &c->agent);
		} else if (!strcmp(key, "controller")) {
			err = expect_mapping(p, v, key);
			c->has_controller_section = true;
		} else if (!strcmp(key, "rules") || !strcmp(key, "exceptions")) {
			bool rules = key[0] == 'r';
			size_t count;

			if (!v || v->type != YAML_SEQUENCE_NODE)
				return fail(p, v, key, "expected a list");
			count = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
			p->items += count;
			if (p->items > CONFIG_MAX_ITEMS)
				return fail(p, v, key, "more than %d list items in the file", CONFIG_MAX_ITEMS);
			if (rules) {
				c->rules = calloc(count + 1, sizeof(*c->rules));
				if (!c->rules)
					return -ENOMEM;
			} else {
				c->exceptions = calloc(count + 1, sizeof(*c->exceptions));
				if (!c->exceptions)
					return -ENOMEM;
			}
			err = 0;
			for (yaml_node_item_t *it = v->data.sequence.items.start; !err && it < v->data.sequence.items.top;
			     it++) {
				yaml_node_t *item = yaml_document_get_node(p->doc, *it);

				if (rules) {
					err = parse_rule(p, item, &c->rules[c->n_rules++]);
					for (size_t j = 0; !err && j + 1 < c->n_rules; j++)
						if (!strcmp(c->rules[j].name, c->rules[c->n_rules - 1].name))
							err = fail(p, item, "rules[].name", "rule '%s' is defined twice",
								   c->rules[j].name);
				} else {
					err = parse_exception(p, item, &c->exceptions[c->n_exceptions++]);
				}
			}
		} else {
			return fail(p, k, key,
				    "unknown key (dryrun, allowed_namespaces, denied_namespaces, protected_owners, "
				    "rules, exceptions, agent, controller)");
		}
		if (err)
			return err;
	}
	/* Exceptions name rules that exist: a typo would silently except nothing. */
	for (size_t i = 0; i < c->n_exceptions; i++) {
		if (!config_find_rule(c, c->exceptions[i].rule)) {
			snprintf(p->err, p->errlen, "%s: key 'exceptions[].rule': no rule named '%s' in rules:",
				 p->name, c->exceptions[i].rule);
			return -EINVAL;
		}
	}
	return 0;
}

int config_parse(const char *name, const char *text, size_t len, struct reflex_config **ret_config, char *err,
		 size_t errlen)
{
	struct reflex_config *c;
	yaml_parser_t parser;
	yaml_document_t doc;
	struct parse p = { .name = name, .doc = &doc, .err = err, .errlen = errlen };
	int r;

	if (len > CONFIG_MAX_BYTES) {
		snprintf(err, errlen, "%s: larger than %d bytes", name, CONFIG_MAX_BYTES);
		return -EFBIG;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->agent.audit_stdout = true;
	c->agent.enforce_in_kernel = true;
	c->agent.kill_timeout_ms = 1000;
	c->agent.pool_exclude_private = true;
	c->agent.pool_resolve_interval_s = 300;
	c->agent.block_pool_connections = true;
	c->agent.scan_stratum_argv = true;
	c->path = strdup(name);
	if (!c->path || !yaml_parser_initialize(&parser)) {
		config_free(c);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu: YAML syntax: %s", name, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "unreadable");
		yaml_parser_delete(&parser);
		config_free(c);
		return -EINVAL;
	}
	r = parse_root(&p, yaml_document_get_root_node(&doc), c);
	if (!r)
		r = apply_defaults(c);
	if (r == -ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r) {
		config_free(c);
		return r;
	}
	*ret_config = c;
	return 0;
}

int config_load(const char *path, struct reflex_config **ret_config, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	FILE *f;
	int r;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(-r));
		return r;
	}
	buf = malloc(CONFIG_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	n = fread(buf, 1, CONFIG_MAX_BYTES + 1, f);
	fclose(f);
	r = config_parse(path, buf, n, ret_config, err, errlen);
	free(buf);
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
	for (size_t i = 0; i < c->n_rules; i++) {
		free(c->rules[i].name);
		free(c->rules[i].audit_reason);
	}
	free(c->rules);
	for (size_t i = 0; i < c->n_exceptions; i++) {
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
	free(c);
	return NULL;
}

const struct reflex_rule *config_find_rule(const struct reflex_config *c, const char *name)
{
	for (size_t i = 0; name && i < c->n_rules; i++)
		if (c->rules[i].name && !strcmp(c->rules[i].name, name))
			return &c->rules[i];
	return NULL;
}
