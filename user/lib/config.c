// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * config.yaml through libyaml's document API, so every node knows its line.
 * Validation is strict: a typo in a safeguard must stop the agent at start-up,
 * not silently weaken what it protects. This file: actions, the key tables of
 * agent: and controller: (tests/deploy reads them here), defaults, the top
 * level and the loader; values and sections in config_fields.c, rules and
 * exceptions in config_rules.c, command-line overrides in config_overrides.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <yaml.h>

#include "config.h"
#include "config_parse.h"
#include "util.h"

#define CONFIG_MAX_BYTES (1 << 20)
#define CONFIG_MAX_ITEMS 10000


/* Each action's name, and the audit record's reason for a rule that sets no audit_reason. */
static const struct {
	const char *name, *default_reason;
} actions[] = {
	[ACTION_ALERT] = { "alert", "reflex: alert by rule (no audit_reason configured)" },
	[ACTION_KILL_PROCESS] = { "kill_process", "reflex: kill_process by rule (no audit_reason configured)" },
	[ACTION_KILL_CONTAINER] = { "kill_container", "reflex: kill_container by rule (no audit_reason configured)" },
	[ACTION_KILL_POD] = { "kill_pod", "reflex: kill_pod by rule (no audit_reason configured)" },
	[ACTION_ISOLATE_NAMESPACE] = { "isolate_namespace",
				       "reflex: isolate_namespace by rule (no audit_reason configured)" },
};

const char *action_name(enum reflex_action action)
{
	if ((unsigned int)action >= ARRAY_SIZE(actions))
		return NULL;
	return actions[action].name;
}

const char *action_default_audit_reason(enum reflex_action action)
{
	if ((unsigned int)action >= ARRAY_SIZE(actions))
		return actions[ACTION_ALERT].default_reason;
	return actions[action].default_reason;
}

int action_from_name(const char *name, enum reflex_action *ret)
{
	for (size_t i = 0; name && i < ARRAY_SIZE(actions); i++) {
		if (!strcmp(name, actions[i].name)) {
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
	{ "pool_lists", FIELD_PATH_OR_OFF, AG(pool_lists), 0, 0, 0 },
	{ "pool_lists_builtin", FIELD_BOOL, AG(pool_lists_builtin), 0, 0, 0 },
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
	{ "page_falcosidekick_url", FIELD_API_URL, CT(page_falcosidekick_url), 0, 0, 0 },
	{ "page_give_up_s", FIELD_UINT, CT(page_give_up_s), 0, 1, 7 * 86400 },
	{ "kubernetes_events", FIELD_BOOL, CT(kubernetes_events), 0, 0, 0 },
	{ "dedupe_window_s", FIELD_UINT, CT(dedupe_window_s), 0, 1, 86400 },
	{ "rate_limit_pods", FIELD_UINT, CT(rate_limit_pods), 0, 1, 100000 },
	{ "rate_limit_namespaces", FIELD_UINT, CT(rate_limit_namespaces), 0, 1, 100000 },
	{ "rate_limit_window_s", FIELD_UINT, CT(rate_limit_window_s), 0, 1, 86400 },
	{ "operator", FIELD_STRING, CT(operator_), 0, 0, 0 },
	{ "log_level", FIELD_LOG_LEVEL, CT(log_level), 0, 0, 0 },
};

static int set_default(char **field, const char *value)
{
	return *field ? 0 : ydoc_set_string(field, value);
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
	err = err ?: set_default(&ag->pool_lists, "");
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
	err = err ?: set_default(&ct->page_falcosidekick_url, "");
	if (!ct->page_give_up_s)
		ct->page_give_up_s = 3600;
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
static int check_item_limit(struct ydoc *p)
{
	size_t items = 0;

	for (const yaml_node_t *n = p->doc->nodes.start; n < p->doc->nodes.top; n++) {
		if (n->type != YAML_SEQUENCE_NODE)
			continue;
		items += ydoc_seq_len(n);
		if (items > CONFIG_MAX_ITEMS) {
			snprintf(p->err, p->errlen, "%s:%zu: more than %d list items in the file", p->name,
				 ydoc_line(n), CONFIG_MAX_ITEMS);
			return -E2BIG;
		}
	}
	return 0;
}

/* Namespace globs: a glob that can never match a namespace name would protect nothing. */
static int check_namespace_glob(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (strlen(s) > 253 || strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-*?[]!^") != strlen(s))
		return ydoc_fail(p, n, key,
				 "'%s' cannot match a namespace (lowercase letters, digits, '-', and the glob "
				 "characters * ? [ ])",
				 ydoc_show(p, s));
	return 0;
}

/* Owner kinds are compared as Kubernetes writes them: "daemonset" would protect nothing. */
static int check_owner_kind(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s)
{
	if (strlen(s) > 63 || s[0] < 'A' || s[0] > 'Z' ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789") != strlen(s))
		return ydoc_fail(p, n, key, "'%s' is not an owner kind as Kubernetes writes it (e.g. DaemonSet)",
				 ydoc_show(p, s));
	return 0;
}

static int parse_root(struct ydoc *p, struct reflex_config *c)
{
	const yaml_node_t *root = yaml_document_get_root_node(p->doc);
	const yaml_node_t *exceptions = NULL;
	int err;

	if (!root || (root->type == YAML_SCALAR_NODE && ydoc_is_null(root))) {
		snprintf(p->err, p->errlen, "%s: the file is empty", p->name);
		return -EINVAL;
	}
	if ((err = check_item_limit(p)))
		return err;
	if ((err = cfg_expect_mapping(p, root, "(top level)")))
		return err;
	for (size_t i = 0; i < ydoc_map_len(root); i++) {
		const yaml_node_t *v;
		const char *k;

		if ((err = cfg_pair_key(p, root, i, "the top level", &k, &v)))
			return err;
		if (!strcmp(k, "dryrun")) {
			err = cfg_get_bool(p, v, k, &c->dryrun);
		} else if (!strcmp(k, "allowed_namespaces")) {
			err = cfg_get_list(p, v, k, check_namespace_glob, &c->allowed_namespaces,
					   &c->n_allowed_namespaces);
		} else if (!strcmp(k, "denied_namespaces")) {
			err = cfg_get_list(p, v, k, check_namespace_glob, &c->denied_namespaces,
					   &c->n_denied_namespaces);
		} else if (!strcmp(k, "protected_owners")) {
			err = cfg_get_list(p, v, k, check_owner_kind, &c->protected_owners, &c->n_protected_owners);
		} else if (!strcmp(k, "rules")) {
			err = cfg_parse_rules(p, v, c);
		} else if (!strcmp(k, "exceptions")) {
			/* After rules, wherever it is written: each names a rule that must exist. */
			exceptions = v;
		} else if (!strcmp(k, "agent")) {
			err = cfg_parse_section(p, v, "agent", agent_fields, ARRAY_SIZE(agent_fields), &c->agent);
		} else if (!strcmp(k, "controller")) {
			err = cfg_parse_section(p, v, "controller", controller_fields, ARRAY_SIZE(controller_fields),
						&c->controller);
			c->has_controller_section = true;
		} else {
			err = ydoc_fail(p, ydoc_map_key(p, root, i), k,
					"unknown key (dryrun, allowed_namespaces, denied_namespaces, protected_owners, "
					"rules, exceptions, agent, controller)");
		}
		if (err)
			return err;
	}
	if (exceptions)
		return cfg_parse_exceptions(p, exceptions, c);
	return 0;
}

static void yaml_syntax_error(struct ydoc *p, const yaml_parser_t *parser)
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
static int load_document(struct ydoc *p, yaml_parser_t *parser, yaml_document_t *doc)
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
	struct ydoc p = { .name = name, .doc = &doc, .err = err, .errlen = err ? errlen : 0 };
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
	c->agent.pool_lists_builtin = true;
	c->controller.kubernetes_events = true;
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
	ydoc_free_list(c->allowed_namespaces, c->n_allowed_namespaces);
	ydoc_free_list(c->denied_namespaces, c->n_denied_namespaces);
	ydoc_free_list(c->protected_owners, c->n_protected_owners);
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
	ydoc_free_list(ag->containerd_roots, ag->n_containerd_roots);
	free(ag->crio_root);
	free(ag->audit_log);
	free(ag->metrics_address);
	free(ag->exec_rule);
	free(ag->fileless_rule);
	free(ag->log_level);
	free(ag->pool_rule);
	free(ag->stratum_rule);
	free(ag->pool_lists);
	ydoc_free_list(ag->pool_cidrs, ag->n_pool_cidrs);
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
	free(c->controller.page_falcosidekick_url);
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
