// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller's start, reload and stop; see controller.h and controller_internal.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "controller_internal.h"
#include "deliver.h"
#include "gelf.h"
#include "kubeapi.h"
#include "log.h"
#include "k8s_events.h"
#include "page.h"
#include "ratelimit.h"
#include "server.h"

__attribute__((format(printf, 3, 0))) static void say_v(char *buf, size_t size, const char *fmt, va_list ap)
{
	char *full = NULL;

	if (vasprintf(&full, fmt, ap) < 0) {
		if (size)
			buf[0] = '\0';
		return;
	}
	audit_copy_utf8(buf, size, full);
	free(full);
}

void ctl_say(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	say_v(buf, size, fmt, ap);
	va_end(ap);
}

void ctl_append(char *buf, size_t size, const char *fmt, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	va_start(ap, fmt);
	say_v(buf + n, size - n, fmt, ap);
	va_end(ap);
}

/* deliver's sender: one spooled audit record to Graylog, validated first. */
static int send_gelf(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
	struct controller *c = ctx;
	struct gelf_fields f = { .stream = NULL };
	char *msg = NULL;
	int r;

	pthread_mutex_lock(&c->lock);
	f.stream = c->config->controller.gelf_stream;
	r = gelf_message_from_audit(data, len, &f, &msg);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		ctl_say(err, errlen, "not a valid audit record for GELF: %s", strerror(-r));
		return -EBADMSG;
	}
	/* Graylog answers before it parses: an invalid message would vanish. */
	r = gelf_validate(msg, strlen(msg), err, errlen);
	if (r == 0)
		r = gelf_send(c->gelf, msg, strlen(msg), err, errlen);
	else
		r = -EBADMSG;
	free(msg);
	return r;
}

static char *opt_or(const char *opt, const char *cfg)
{
	const char *v = opt ? opt : cfg;

	return v && *v ? strdup(v) : NULL;
}

static int rate_limit_new(const struct controller_config *cc, bool namespaces, struct ratelimit **ret)
{
	struct ratelimit_config rc = {
		.max_containers = namespaces ? cc->rate_limit_namespaces : cc->rate_limit_pods,
		.max_executables = 1, /* the target is the key; every entry has the same (empty) executable */
		.window_s = cc->rate_limit_window_s,
	};

	return ratelimit_new(&rc, ret);
}

static int open_api(struct controller *c, const struct controller_config *cc, const struct controller_opts *opts)
{
	const char *api_url = opts->api_url ? opts->api_url : cc->kubernetes_api;
	struct kubeapi_config kc = {
		.api_url = api_url && strcmp(api_url, "auto") ? api_url : NULL,
		.token_file = opts->api_token_file ? opts->api_token_file : cc->kubernetes_token_file,
		.ca_file = opts->api_ca_file ? opts->api_ca_file : cc->kubernetes_ca_file,
	};
	int r;

	if (!api_url || !*api_url) {
		log_error("controller.kubernetes_api is \"\": the controller cannot act without the API");
		return -EINVAL;
	}
	r = kubeapi_new(&kc, &c->api);
	if (r == -EINVAL) {
		log_error("Kubernetes API: kubernetes_api is auto but KUBERNETES_SERVICE_HOST is not set "
			  "(outside a pod: --api-url)");
		return r;
	}
	if (r)
		return log_errno(LOG_LEVEL_ERROR, r, "Kubernetes API");
	return 0;
}

/* This replica's name: the pod's (POD_NAME, from the downward API), else the host's. */
static char *replica_name(void)
{
	const char *pod = getenv("POD_NAME");
	char host[256] = "";

	if (pod && *pod)
		return strdup(pod);
	if (gethostname(host, sizeof(host) - 1) || !*host)
		snprintf(host, sizeof(host), "reflex-controller");
	return strdup(host);
}

static void pager_audit(void *ctx, const struct audit_record *r)
{
	controller_audit(ctx, r, NULL);
}

/* Kubernetes Events for every decision (best-effort), and the on-call pages (spooled, retried, audited). */
static int open_events_and_pager(struct controller *c, const struct controller_config *cc,
				 const struct controller_opts *opts)
{
	char dir[4096];
	struct page_config pc = {
		.webhook_url = cc->page_webhook_url,
		.sidekick_url = cc->page_falcosidekick_url,
		.spool_dir = dir,
		.instance = c->instance,
		.give_up_s = cc->page_give_up_s,
		.audit = pager_audit,
		.audit_ctx = c,
	};
	int r;

	if (cc->kubernetes_events && c->api) {
		r = k8s_events_start(c->api, c->instance, &c->events);
		if (r < 0)
			return log_errno(LOG_LEVEL_ERROR, r, "Kubernetes Events sender");
	} else {
		log_info("controller.kubernetes_events is false: no Kubernetes Events");
	}
	snprintf(dir, sizeof(dir), "%s/pages", opts->audit_spool_dir ? opts->audit_spool_dir : cc->audit_spool_dir);
	r = pager_start(&pc, &c->pager);
	if (r < 0)
		return log_errno(LOG_LEVEL_ERROR, r, "page spool %s", dir);
	if (!pager_has_targets(c->pager))
		log_warn("no controller.page_webhook_url or page_falcosidekick_url: an isolation pages nobody");
	return 0;
}

/* Audit records to stdout and, when Graylog is configured, through the spool to it. */
static int open_audit(struct controller *c, const struct controller_config *cc, const struct controller_opts *opts)
{
	struct gelf_sender_config gc = {
		.http_url = *cc->gelf_http_url ? cc->gelf_http_url : NULL,
		.udp_address = *cc->gelf_udp_address ? cc->gelf_udp_address : NULL,
	};
	struct deliver_config dc = {
		.what = "audit records to Graylog",
		.spool_dir = opts->audit_spool_dir ? opts->audit_spool_dir : cc->audit_spool_dir,
		.spool_max_bytes = cc->audit_spool_max_bytes,
		.send = send_gelf,
		.ctx = c,
	};
	char chain[4096];
	struct audit_log_config ac = { .to_stdout = true, .writer = c->instance, .chain_state = chain };
	int r;

	/* stdout has no last line to resume from: the chain's position lives beside the spool. */
	snprintf(chain, sizeof(chain), "%s/audit-chain", dc.spool_dir);
	r = audit_log_open(&ac, &c->audit_stdout);
	if (r < 0)
		return log_errno(LOG_LEVEL_ERROR, r, "audit chain state %s", chain);
	if (!gc.http_url && !gc.udp_address) {
		log_warn("no controller.gelf_http_url or gelf_udp_address: audit records go to stdout only");
		return 0;
	}
	r = gelf_sender_new(&gc, &c->gelf);
	if (r < 0)
		return log_errno(LOG_LEVEL_ERROR, r, "GELF sender");
	r = deliver_start(&dc, &c->audit_out);
	if (r < 0)
		return log_errno(LOG_LEVEL_ERROR, r, "audit spool %s", dc.spool_dir);
	return 0;
}

int controller_start(const struct reflex_config *config, const struct controller_opts *opts,
		     struct controller **ret)
{
	const struct controller_config *cc = &config->controller;
	struct controller *c = calloc(1, sizeof(*c));
	int r = -ENOMEM;

	if (!c)
		return log_errno(LOG_LEVEL_ERROR, -ENOMEM, "controller");
	pthread_mutex_init(&c->lock, NULL);
	c->config = config;
	c->opts = *opts;
	c->dedupe = calloc(CTL_DEDUPE_MAX, sizeof(*c->dedupe));
	c->listen_address = opt_or(opts->listen_address, cc->listen_address);
	c->token_file = opt_or(opts->token_file, cc->token_file);
	c->instance = replica_name();
	if (!c->dedupe || !c->listen_address || !c->instance || rate_limit_new(cc, false, &c->rl_pods) ||
	    rate_limit_new(cc, true, &c->rl_namespaces)) {
		log_errno(LOG_LEVEL_ERROR, r, "controller");
		goto fail;
	}
	if (!c->token_file)
		log_warn("controller.token_file is \"\": /alert accepts alerts from anyone who can reach it");
	r = open_api(c, cc, opts);
	if (r == 0)
		r = open_audit(c, cc, opts);
	if (r == 0)
		r = open_events_and_pager(c, cc, opts);
	if (r == 0)
		r = server_start(c);
	if (r < 0)
		goto fail;
	atomic_store(&c->ready, true);
	log_info("reflex-controller: /alert on %s (port %u), Kubernetes API %s, %s%s%s", c->listen_address, c->port,
		 kubeapi_url(c->api), c->token_file ? "X-Falco-Token required" : "NO TOKEN",
		 c->audit_out ? ", audit to Graylog" : "", opts->dry_run ? ", DRY RUN (--dry-run)" : "");
	*ret = c;
	return 0;
fail:
	controller_stop(c, 0);
	return r;
}

void controller_set_config(struct controller *c, const struct reflex_config *config)
{
	struct ratelimit *pods = NULL, *namespaces = NULL;
	bool rearmed;

	if (rate_limit_new(&config->controller, false, &pods) || rate_limit_new(&config->controller, true, &namespaces))
		log_error("reload: out of memory for the rate limits; the old limits stay");

	pthread_mutex_lock(&c->lock);
	c->config = config;
	/* A reload re-arms every rule the rate limit disarmed (out of memory: the old limits stay). */
	rearmed = pods && namespaces &&
		  (ratelimit_disarmed_rule(c->rl_pods, 0) || ratelimit_disarmed_rule(c->rl_namespaces, 0));
	if (pods && namespaces) {
		ratelimit_free(c->rl_pods);
		ratelimit_free(c->rl_namespaces);
		c->rl_pods = pods;
		c->rl_namespaces = namespaces;
		pods = namespaces = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	ratelimit_free(pods);
	ratelimit_free(namespaces);
	if (rearmed)
		log_info("reload: rules disarmed by the controller's rate limit are armed again");
}

unsigned short controller_port(const struct controller *c)
{
	return c->port;
}

void controller_stop(struct controller *c, unsigned int timeout_ms)
{
	if (!c)
		return;
	atomic_store(&c->ready, false);
	server_stop(c);
	/* Events and pages first: their records go through the audit below. */
	k8s_events_stop(c->events, timeout_ms < 2000 ? timeout_ms : 2000);
	pager_stop(c->pager, timeout_ms);
	if (c->audit_out && timeout_ms && !deliver_flush(c->audit_out, timeout_ms))
		log_warn("audit records still undelivered at exit stay in the spool for the next start");
	deliver_stop(c->audit_out);
	gelf_sender_free(c->gelf);
	audit_close(c->audit_stdout);
	kubeapi_free(c->api);
	free(c->dedupe);
	ratelimit_free(c->rl_pods);
	ratelimit_free(c->rl_namespaces);
	free(c->listen_address);
	free(c->token_file);
	free(c->instance);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
