// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

#include "deliver.h"
#include "http_body.h"
#include "log.h"
#include "page.h"
#include "util.h"

/* Pages whose first failure was audited ("retried" once per page, not per attempt). */
#define RETRIED_MEMORY 64

enum page_target_kind { TARGET_WEBHOOK, TARGET_SIDEKICK, TARGET_MAX };

static const char *const target_names[TARGET_MAX] = { "webhook", "falcosidekick" };

struct page_target {
	struct pager *p;
	enum page_target_kind kind;
	char *url;
	struct deliver *d;
	char retried[RETRIED_MEMORY][96]; /* event ids; the sender thread's own */
	size_t n_retried;
};

struct pager {
	struct page_config cfg;
	char *instance;
	struct page_target targets[TARGET_MAX];
	pthread_mutex_t lock;
	struct page_stats stats;
};

static void format_time(int64_t ns, char *buf, size_t size)
{
	time_t sec = (time_t)(ns / 1000000000);
	struct tm tm;
	char date[32];

	gmtime_r(&sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%09lldZ", date, (long long)(ns % 1000000000));
}

char *page_sidekick_body(const char *ns, const char *rule, const char *event_id, const char *reason,
			 const char *hostname, int64_t time_ns)
{
	char when[64], *output = NULL, *body = NULL;
	json_t *o;

	format_time(time_ns, when, sizeof(when));
	if (asprintf(&output, "%s: reflex isolated namespace %s (all egress denied) after rule '%s' (event %s): %s", when,
		     ns, rule, event_id, reason ? reason : "") < 0)
		return NULL;
	/* Falco's own alert shape, so falcosidekick routes it by priority like any Critical alert. */
	o = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:I}, s:s, s:[s, s], s:s}", "output", output,
		      "priority", "Critical", "rule", PAGE_RULE, "time", when, "output_fields", "k8s.ns.name", ns,
		      "reflex.rule", rule, "reflex.event_id", event_id, "evt.time", (json_int_t)time_ns, "source",
		      "reflex", "tags", "reflex", "isolation", "hostname", hostname);
	if (o)
		body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	free(output);
	return body;
}

static char *webhook_body(const char *ns, const char *rule, const char *event_id, const char *reason)
{
	char text[512], *body = NULL;
	json_t *o;

	snprintf(text, sizeof(text), "reflex isolated namespace %s (deny-all egress) after Falco rule '%s'", ns, rule);
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "text", text, "severity", "critical", "namespace", ns, "rule",
		      rule, "event_id", event_id, "reason", reason ? reason : "");
	if (o)
		body = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return body;
}

static void page_audit(struct page_target *t, const char *outcome, const char *ns, const char *rule,
		       const char *event_id, const char *detail)
{
	struct audit_record r = {
		.action = "page",
		.outcome = outcome,
		.namespace_ = ns,
		.rule = rule,
		.reason = "on-call page for an isolated namespace",
		.detail = detail,
		.operator_ = "reflex-controller",
		.node = t->p->instance,
		.pid = -1,
		.source = target_names[t->kind],
		.latency_us = -1,
		.event_id = event_id,
	};

	clock_gettime(CLOCK_REALTIME, &r.time);
	if (t->p->cfg.audit)
		t->p->cfg.audit(t->p->cfg.audit_ctx, &r);
}

static void count(struct pager *p, uint64_t *field)
{
	pthread_mutex_lock(&p->lock);
	(*field)++;
	pthread_mutex_unlock(&p->lock);
}

static bool retried_before(struct page_target *t, const char *event_id)
{
	for (size_t i = 0; i < t->n_retried; i++)
		if (!strcmp(t->retried[i], event_id))
			return true;
	if (t->n_retried == RETRIED_MEMORY) {
		memmove(t->retried[0], t->retried[1], sizeof(t->retried[0]) * (RETRIED_MEMORY - 1));
		t->n_retried--;
	}
	snprintf(t->retried[t->n_retried++], sizeof(t->retried[0]), "%s", event_id);
	return false;
}

/* POST BODY to URL; 0 on 2xx, else -errno and a reason in ERR. */
static int post_json(const char *url, const char *body, unsigned int timeout_ms, char *err, size_t errlen)
{
	struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
	/* The answer is not needed, but it must never reach stdout (the audit stream). */
	struct http_body answer = { .max = 64 * 1024 };
	CURL *easy = curl_easy_init();
	long status = 0;
	CURLcode res;
	int r;

	if (!h || !easy) {
		curl_slist_free_all(h);
		if (easy)
			curl_easy_cleanup(easy);
		return errbuf_set(err, errlen, -ENOMEM, "out of memory");
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_body_curl_sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &answer);
	res = curl_easy_perform(easy);
	if (res == CURLE_OK || res == CURLE_WRITE_ERROR)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300)
		r = 0;
	else if (status)
		r = errbuf_set(err, errlen, -EIO, "HTTP %ld", status);
	else
		r = errbuf_set(err, errlen, -EIO, "%s", curl_easy_strerror(res));
	http_body_free(&answer);
	curl_slist_free_all(h);
	curl_easy_cleanup(easy);
	return r;
}

/* deliver's callback: one spooled page to its target. */
static int send_page(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
	struct page_target *t = ctx;
	struct pager *p = t->p;
	json_t *rec = json_loadb(data, len, 0, NULL);
	const char *ns, *rule, *event_id, *body;
	int64_t first_ns, age_s;
	char detail[320];
	int r;

	ns = json_string_value(json_object_get(rec, "namespace"));
	rule = json_string_value(json_object_get(rec, "rule"));
	event_id = json_string_value(json_object_get(rec, "event_id"));
	body = json_string_value(json_object_get(rec, "body"));
	first_ns = json_integer_value(json_object_get(rec, "first_ns"));
	if (!ns || !rule || !event_id || !body) {
		json_decref(rec);
		return errbuf_set(err, errlen, -EBADMSG, "a spooled page without namespace, rule, event id or body");
	}
	age_s = (util_realtime_ns() - first_ns) / 1000000000;
	if (age_s > (int64_t)p->cfg.give_up_s) {
		snprintf(detail, sizeof(detail), "%s page given up after %lld s of failures (controller.page_give_up_s)",
			 target_names[t->kind], (long long)age_s);
		page_audit(t, "given_up", ns, rule, event_id, detail);
		count(p, &p->stats.given_up);
		log_error("page for namespace %s: %s", ns, detail);
		json_decref(rec);
		return errbuf_set(err, errlen, -EBADMSG, "%s", detail);
	}
	r = post_json(t->url, body, p->cfg.timeout_ms, err, errlen);
	if (!r) {
		snprintf(detail, sizeof(detail), "%s %s took the page after %lld s", target_names[t->kind], t->url,
			 (long long)age_s);
		page_audit(t, "delivered", ns, rule, event_id, detail);
		count(p, &p->stats.delivered);
	} else {
		count(p, &p->stats.retries);
		if (!retried_before(t, event_id)) {
			snprintf(detail, sizeof(detail), "%s %s: %s; retried until it is taken or %u s have passed",
				 target_names[t->kind], t->url, err, p->cfg.give_up_s);
			page_audit(t, "retried", ns, rule, event_id, detail);
		}
	}
	json_decref(rec);
	return r;
}

bool pager_has_targets(const struct pager *p)
{
	return p && (p->targets[TARGET_WEBHOOK].d || p->targets[TARGET_SIDEKICK].d);
}

int page_isolation(struct pager *p, const char *ns, const char *rule, const char *event_id, const char *reason)
{
	int64_t now = util_realtime_ns();
	int spooled = 0, err = -ENOENT;

	for (int k = 0; k < TARGET_MAX; k++) {
		struct page_target *t = &p->targets[k];
		char *body, *rec = NULL;
		json_t *o;
		int r;

		if (!t->d)
			continue;
		body = k == TARGET_SIDEKICK ? page_sidekick_body(ns, rule, event_id, reason, p->instance, now)
					    : webhook_body(ns, rule, event_id, reason);
		o = body ? json_pack("{s:s, s:s, s:s, s:s, s:I, s:s}", "target", target_names[k], "namespace", ns,
				     "rule", rule, "event_id", event_id, "first_ns", (json_int_t)now, "body", body)
			 : NULL;
		rec = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		free(body);
		r = rec ? deliver_submit(t->d, rec, strlen(rec), NULL) : -ENOMEM;
		free(rec);
		if (r) {
			count(p, &p->stats.spool_errors);
			log_error("page for namespace %s to %s not spooled: %s", ns, target_names[k], strerror(-r));
			err = r;
			continue;
		}
		spooled++;
	}
	return spooled ? 0 : err;
}

void pager_get_stats(struct pager *p, struct page_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	*ret = p->stats;
	pthread_mutex_unlock(&p->lock);
}

void pager_stop(struct pager *p, unsigned int timeout_ms)
{
	if (!p)
		return;
	for (int k = 0; k < TARGET_MAX; k++) {
		if (p->targets[k].d) {
			deliver_flush(p->targets[k].d, timeout_ms);
			deliver_stop(p->targets[k].d);
		}
		free(p->targets[k].url);
	}
	pthread_mutex_destroy(&p->lock);
	free(p->instance);
	free(p);
}

int pager_start(const struct page_config *cfg, struct pager **ret)
{
	const char *urls[TARGET_MAX] = { cfg->webhook_url, cfg->sidekick_url };
	struct pager *p;
	int err = 0;

	if (!cfg->instance || !cfg->spool_dir)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->cfg = *cfg;
	p->cfg.give_up_s = cfg->give_up_s ? cfg->give_up_s : PAGE_GIVE_UP_S_DEFAULT;
	p->cfg.timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	p->instance = strdup(cfg->instance);
	pthread_mutex_init(&p->lock, NULL);
	if (!p->instance)
		err = -ENOMEM;
	for (int k = 0; k < TARGET_MAX && !err; k++) {
		struct page_target *t = &p->targets[k];
		char dir[4096];
		struct deliver_config dc = {
			.what = k == TARGET_SIDEKICK ? "pages to falcosidekick" : "pages to the webhook",
			.spool_dir = dir,
			.spool_max_bytes = 8u << 20,
			.backoff_min_ms = 500,
			.backoff_max_ms = 60000,
			.send = send_page,
			.ctx = t,
		};

		t->p = p;
		t->kind = (enum page_target_kind)k;
		if (!urls[k] || !*urls[k])
			continue;
		snprintf(dir, sizeof(dir), "%s/%s", cfg->spool_dir, target_names[k]);
		t->url = strdup(urls[k]);
		err = t->url ? deliver_start(&dc, &t->d) : -ENOMEM;
	}
	if (err) {
		pager_stop(p, 0);
		return err;
	}
	*ret = p;
	return 0;
}
