// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Config reload (see reload.h): SIGHUP or a change on disk, the new config
 * swapped in whole or not at all, and the "config" audit record.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "agent_internal.h"
#include "audit.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "pool_sync.h"
#include "ratelimit.h"
#include "reload.h"
#include "util.h"
#include "verdicts.h"

/* A config file change is read this long after the last inotify event (editors write in steps). */
#define AGENT_CONFIG_SETTLE_MS 200

/* FNV-1a of the file's bytes; 0 when unreadable (then any readable version differs). */
static uint64_t config_file_hash(const char *path)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	char buf[8192];
	size_t n;
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		for (size_t i = 0; i < n; i++)
			h = (h ^ (unsigned char)buf[i]) * 0x100000001b3ULL;
	fclose(f);
	return h;
}

static bool str_differs(const char *x, const char *y)
{
	return strcmp(x ? x : "", y ? y : "") != 0;
}

/* Settings bound at start-up: a reload says it did not apply them. */
static void warn_restart_only(const struct reflex_config *old, const struct reflex_config *fresh)
{
	const struct agent_config *o = &old->agent, *n = &fresh->agent;

	if (str_differs(o->falco_socket, n->falco_socket) || o->falco_socket_mode != n->falco_socket_mode ||
	    o->n_falco_peer_uids != n->n_falco_peer_uids ||
	    (n->n_falco_peer_uids &&
	     memcmp(o->falco_peer_uids, n->falco_peer_uids, n->n_falco_peer_uids * sizeof(*n->falco_peer_uids))) ||
	    str_differs(o->falco_http_address, n->falco_http_address) ||
	    str_differs(o->falco_http_token_file, n->falco_http_token_file) ||
	    o->falco_max_alert_bytes != n->falco_max_alert_bytes || o->falco_queue_size != n->falco_queue_size)
		log_warn("reload: agent.falco_* settings changed; they take effect when reflexd restarts");
	if (str_differs(o->kubernetes_api, n->kubernetes_api) ||
	    str_differs(o->kubernetes_token_file, n->kubernetes_token_file) ||
	    str_differs(o->kubernetes_ca_file, n->kubernetes_ca_file) || str_differs(o->node_name, n->node_name))
		log_warn("reload: agent.kubernetes_* or node_name changed; they take effect when reflexd restarts");
	if (str_differs(o->metrics_address, n->metrics_address) || str_differs(o->audit_log, n->audit_log))
		log_warn("reload: agent.metrics_address or audit_log changed; they take effect when reflexd restarts");
	if (o->watch_stratum_handshake != n->watch_stratum_handshake)
		log_warn("reload: agent.watch_stratum_handshake changed; it takes effect when reflexd restarts");
}

/* What a rule does under CONFIG: dry-run, or its action for real. */
static const char *rule_mode(const struct reflex_config *c, const struct reflex_rule *r)
{
	if (r->dryrun == TRISTATE_TRUE || (r->dryrun == TRISTATE_UNSET && c->dryrun))
		return "dry-run";
	return action_kills(r->action) ? "live" : "alert-only";
}

/* OVERRIDES ("--dry-run --unknown-owner refuse") split into one string per option, in place. */
static size_t split_overrides(char *overrides, const char **ret, size_t max)
{
	size_t n = 0;
	char *p = overrides;

	if (!strcmp(overrides, "none"))
		return 0;
	while (p && *p && n < max) {
		char *next = strstr(p + 1, " --");

		ret[n++] = p;
		if (next)
			*next++ = '\0';
		p = next;
	}
	return n;
}

/*
 * The SHA-256 of the config file as it is now (just loaded), so a review
 * can tell two versions apart; "" when it cannot be read.
 */
static void config_file_sha256(const char *path, char hex[65])
{
	size_t len = 0;
	char *text = NULL;

	hex[0] = '\0';
	if (util_read_regular_file(path, 16u << 20, &text, &len) == 0)
		audit_line_sha256(text, len, hex);
	free(text);
}

/* The "config" record's detail: global switches, every rule and its mode, the overrides. */
static char *config_detail(const struct reflex_config *c, const char *overrides)
{
	char *detail = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&detail, &len);

	if (!f)
		return NULL;
	fprintf(f, "%s: dryrun %s, kernel enforcement %s, unknown owners %s; rules:", c->path,
		c->dryrun ? "true" : "false", c->agent.enforce_in_kernel ? "on" : "off",
		c->agent.unknown_owner == UNKNOWN_OWNER_ALLOW ? "allow" : "refuse");
	for (size_t i = 0; i < c->n_rules; i++)
		fprintf(f, "%s '%s' %s %s", i ? ";" : "", c->rules[i].name, action_name(c->rules[i].action),
			rule_mode(c, &c->rules[i]));
	fprintf(f, "; %zu exceptions; command-line overrides: %s", c->n_exceptions, overrides);
	if (fclose(f)) {
		free(detail);
		return NULL;
	}
	return detail;
}

void reload_record_config(struct agent *a, const char *how)
{
	const struct reflex_config *c = a->config;
	char overrides[512], split[512], sha[65], *detail;
	struct audit_rule_mode *rules = calloc(c->n_rules ? c->n_rules : 1, sizeof(*rules));
	const char *override_list[16];
	struct audit_record r = {
		.action = "config",
		.outcome = "loaded",
		.dry_run = c->dryrun,
		.reason = how,
		.operator_ = AGENT_OPERATOR,
		.node = c->agent.node_name,
		.pid = -1,
		.source = "agent",
		.latency_us = -1,
	};

	config_overrides_describe(&a->opts.overrides, overrides, sizeof(overrides));
	detail = config_detail(c, overrides);
	r.detail = detail ? detail : overrides;
	/* What reconciliation and the dry-run review read: the file's hash, each rule's mode, the overrides. */
	config_file_sha256(c->path, sha);
	r.config_sha256 = sha;
	for (size_t i = 0; rules && i < c->n_rules; i++)
		rules[i] = (struct audit_rule_mode){ .name = c->rules[i].name,
						     .action = action_name(c->rules[i].action),
						     .dry_run = !strcmp(rule_mode(c, &c->rules[i]), "dry-run") };
	r.rules = rules;
	r.n_rules = rules ? c->n_rules : 0;
	memcpy(split, overrides, sizeof(split));
	r.overrides = override_list;
	r.n_overrides = split_overrides(split, override_list, sizeof(override_list) / sizeof(override_list[0]));
	clock_gettime(CLOCK_REALTIME, &r.time);
	if (audit_write(a->audit, &r) < 0)
		metrics_inc(a->metrics, METRIC_AUDIT_ERRORS);
	free(detail);
	free(rules);
}

void reload_config(struct agent *a)
{
	struct reflex_config *fresh = NULL;
	struct ratelimit *rl;
	bool same_pools;
	char err[512];
	int r;

	r = config_load(a->config->path, &fresh, err, sizeof(err));
	if (r) {
		log_error("reload: %s; keeping the running config", err);
		return;
	}
	/* The command line wins over the file on every load, not only the first. */
	r = config_apply_overrides(fresh, &a->opts.overrides);
	if (r) {
		log_errno(LOG_LEVEL_ERROR, r, "reload: command-line overrides; keeping the running config");
		config_free(fresh);
		return;
	}
	same_pools = strcmp(a->config->agent.pool_lists, fresh->agent.pool_lists) == 0 &&
		     a->config->agent.pool_lists_builtin == fresh->agent.pool_lists_builtin &&
		     a->config->agent.pool_resolve_interval_s == fresh->agent.pool_resolve_interval_s;
	r = rate_limit_new(fresh, &rl);
	if (r) {
		log_errno(LOG_LEVEL_ERROR, r, "reload: the kill rate limit; keeping the running config");
		config_free(fresh);
		return;
	}
	warn_restart_only(a->config, fresh);
	config_free(a->config);
	a->config = fresh;
	a->config_hash = config_file_hash(fresh->path);
	/* A reload re-arms every rule the rate limit disarmed. */
	if (ratelimit_disarmed_rule(a->ratelimit, 0))
		log_info("reload: rules disarmed by the kill rate limit are armed again");
	ratelimit_free(a->ratelimit);
	a->ratelimit = rl;
	a->kernel_rl_armed = rate_limit_kernel_armed(a);
	rate_limit_publish_disarmed(a);
	log_info("reload: %s loaded (%zu rules, %zu exceptions; command-line overrides in force: %s)", fresh->path,
		 fresh->n_rules, fresh->n_exceptions,
		 config_overrides_describe(&a->opts.overrides, err, sizeof(err)));
	reload_record_config(a, "config reloaded");
	if (verdicts_rebuild(a))
		log_error("reload: attribution rebuild failed; in-kernel kills are off until a rebuild succeeds");
	/*
	 * Same lists: keep the resolver and its last good addresses, re-apply
	 * (CIDRs and knobs may have changed). Other lists: start over.
	 */
	if (same_pools && a->resolver) {
		struct reflex_connect_config cc = {
			.port_only = fresh->agent.pool_port_only,
			.exclude_private = fresh->agent.pool_exclude_private,
		};

		kernel_set_connect_config(a->kernel, &cc);
		kernel_set_stratum_scan(a->kernel, fresh->agent.scan_stratum_argv);
		pool_sync_on_resolver(a);
	} else {
		pool_sync_stop(a);
		pool_sync_start(a);
		kernel_set_stratum_scan(a->kernel, fresh->agent.scan_stratum_argv);
	}
	kernel_set_exec_deny(a->kernel, fresh->agent.deny_exec_in_kernel);
	if (fresh->agent.deny_exec_in_kernel && !kernel_exec_deny_active(a->kernel))
		log_info("agent.deny_exec_in_kernel: exec refusal not active (%s); a restart loads it if the kernel allows",
			 kernel_exec_deny_reason(a->kernel));
}

void reload_tick(struct agent *a, uint64_t now)
{
	if (!a->config_dirty_ns || now - a->config_dirty_ns < AGENT_CONFIG_SETTLE_MS * 1000000ULL)
		return;
	a->config_dirty_ns = 0;
	if (config_file_hash(a->config->path) != a->config_hash) {
		log_info("%s changed on disk: reloading", a->config->path);
		reload_config(a);
	}
}

void reload_on_watch(struct agent *a)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(a->config_watch_fd, buf, sizeof(buf)) > 0)
		;
	a->config_dirty_ns = util_monotonic_ns();
}

void reload_watch_start(struct agent *a)
{
	char dir[PATH_MAX], *slash;

	snprintf(dir, sizeof(dir), "%s", a->config->path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	a->config_hash = config_file_hash(a->config->path);
	a->config_watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (a->config_watch_fd < 0 ||
	    inotify_add_watch(a->config_watch_fd, dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB | IN_MODIFY) < 0 ||
	    agent_epoll_add(a, a->config_watch_fd, &a->tag.config)) {
		log_errno(LOG_LEVEL_WARN, -errno, "watching %s for changes (SIGHUP still reloads)", dir);
		return;
	}
	log_info("config: %s reloads on change and on SIGHUP", a->config->path);
}
