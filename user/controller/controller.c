// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller's start, reload and stop; see controller.h and controller_internal.h. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "controller_internal.h"
#include "deliver.h"
#include "gelf.h"
#include "kubeapi.h"
#include "log.h"
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

static struct ratelimit *rate_limit_new(const struct controller_config *cc, bool namespaces)
{
	struct ratelimit_config rc = {
		.max_containers = namespaces ? cc->rate_limit_namespaces : cc->rate_limit_pods,
		.max_executables = 1, /* the target is the key; every entry has the same (empty) executable */
		.window_s = cc->rate_limit_window_s,
	};

	return ratelimit_new(&rc);
}

static int open_api(struct controller *c, const struct controller_config *cc, const struct controller_opts *opts)
{
	const char *api_url = opts->api_url ? opts->api_url : cc->kubernetes_api;
	struct kubeapi_config kc = {
		.api_url = api_url && strcmp(api_url, "auto") ? api_url : NULL,
		.token_file = opts->api_token_file ? opts->api_token_file : cc->kubernetes_token_file,
		.ca_file = opts->api_ca_file ? opts->api_ca_file : cc->kubernetes_ca_file,
	};

	if (!api_url || !*api_url) {
		log_error("controller.kubernetes_api is \"\": the controller cannot act without the API");
		return -EINVAL;
	}
	c->api = kubeapi_new(&kc);
	if (!c->api && errno == EINVAL) {
		log_error("Kubernetes API: kubernetes_api is auto but KUBERNETES_SERVICE_HOST is not set "
			  "(outside a pod: --api-url)");
		return -EINVAL;
	}
	if (!c->api)
		return log_errno(LOG_LEVEL_ERROR, errno ? -errno : -EIO, "Kubernetes API");
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
	int r;

	c->audit_stdout = audit_open(NULL, true);
	if (!c->audit_stdout)
		return log_errno(LOG_LEVEL_ERROR, errno ? -errno : -EIO, "audit");
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
	c->page_url = opt_or(NULL, cc->page_webhook_url);
	c->rl_pods = rate_limit_new(cc, false);
	c->rl_namespaces = rate_limit_new(cc, true);
	if (!c->dedupe || !c->listen_address || !c->rl_pods || !c->rl_namespaces) {
		log_errno(LOG_LEVEL_ERROR, r, "controller");
		goto fail;
	}
	if (!c->token_file)
		log_warn("controller.token_file is \"\": /alert accepts alerts from anyone who can reach it");
	r = open_api(c, cc, opts);
	if (r == 0)
		r = open_audit(c, cc, opts);
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
	struct ratelimit *pods = rate_limit_new(&config->controller, false);
	struct ratelimit *namespaces = rate_limit_new(&config->controller, true);
	bool rearmed;

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
	free(c->page_url);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
