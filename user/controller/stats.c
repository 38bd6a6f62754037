// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The controller's counters and /metrics; see stats.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "k8s_events.h"
#include "kubeapi.h"
#include "page.h"
#include "ratelimit.h"
#include "stats.h"
#include "util.h"

/* Histogram of alert received -> action done (µs), Prometheus buckets. */
static const double latency_buckets_us[] = { 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
					      1000000 };
_Static_assert(ARRAY_SIZE(latency_buckets_us) == CTL_LATENCY_BUCKETS, "CTL_LATENCY_BUCKETS");

static const char *const result_names[RESULT_MAX] = { "accepted", "duplicate",    "ignored", "rejected",
						      "unauthorized", "too_large", "retry" };

void stats_count_result(struct controller *c, enum alert_result r)
{
	pthread_mutex_lock(&c->lock);
	c->results[r]++;
	pthread_mutex_unlock(&c->lock);
}

void stats_count_outcome(struct controller *c, const char *action, const char *outcome)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_outcomes; i++)
		if (!strcmp(c->outcomes[i].action, action) && !strcmp(c->outcomes[i].outcome, outcome)) {
			c->outcomes[i].n++;
			pthread_mutex_unlock(&c->lock);
			return;
		}
	if (c->n_outcomes < ARRAY_SIZE(c->outcomes)) {
		struct outcome_count *o = &c->outcomes[c->n_outcomes++];

		ctl_say(o->action, sizeof(o->action), "%s", action);
		ctl_say(o->outcome, sizeof(o->outcome), "%s", outcome);
		o->n = 1;
	}
	pthread_mutex_unlock(&c->lock);
}

void stats_count_api_error(struct controller *c)
{
	pthread_mutex_lock(&c->lock);
	c->api_errors++;
	pthread_mutex_unlock(&c->lock);
}

void stats_count_audit_lost(struct controller *c, uint64_t n)
{
	pthread_mutex_lock(&c->lock);
	c->audit_lost += n;
	pthread_mutex_unlock(&c->lock);
}

void stats_observe_latency(struct controller *c, uint64_t start_ns)
{
	double us = (double)(util_monotonic_ns() - start_ns) / 1000.0;

	pthread_mutex_lock(&c->lock);
	c->latency_count++;
	c->latency_sum_us += us;
	for (size_t i = 0; i < CTL_LATENCY_BUCKETS; i++)
		if (us <= latency_buckets_us[i])
			c->latency_bucket[i]++;
	pthread_mutex_unlock(&c->lock);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

/*
 * Pages (sent: taken by a target; retried: failed attempts; failed: given up
 * or not spooled) and Kubernetes Events, from their own counters.
 */
static void put_pages_and_events(FILE *f, struct controller *c)
{
	struct page_stats ps;
	struct k8s_events_stats es;

	pager_get_stats(c->pager, &ps);
	k8s_events_get_stats(c->events, &es);
	fprintf(f,
		"# HELP reflex_controller_pages_total On-call pages for isolated namespaces, by result.\n"
		"# TYPE reflex_controller_pages_total counter\n"
		"reflex_controller_pages_total{result=\"sent\"} %llu\nreflex_controller_pages_total{result=\"retried\"} %llu\n"
		"reflex_controller_pages_total{result=\"failed\"} %llu\n"
		"# HELP reflex_controller_events_total Kubernetes Events, by result (best-effort: never delays an action).\n"
		"# TYPE reflex_controller_events_total counter\n"
		"reflex_controller_events_total{result=\"created\"} %llu\nreflex_controller_events_total{result=\"updated\"} %llu\n"
		"reflex_controller_events_total{result=\"failed\"} %llu\nreflex_controller_events_total{result=\"dropped\"} %llu\n",
		(unsigned long long)ps.delivered, (unsigned long long)ps.retries,
		(unsigned long long)(ps.given_up + ps.spool_errors), (unsigned long long)es.created,
		(unsigned long long)es.updated, (unsigned long long)es.failed, (unsigned long long)es.dropped);
}

/* The counters. Under lock. */
static void put_counters(FILE *f, struct controller *c, const struct deliver_stats *ds)
{
	fputs("# HELP reflex_controller_alerts_total Alerts and reports received on /alert, by result.\n"
	      "# TYPE reflex_controller_alerts_total counter\n",
	      f);
	for (int i = 0; i < RESULT_MAX; i++)
		fprintf(f, "reflex_controller_alerts_total{result=\"%s\"} %llu\n", result_names[i],
			(unsigned long long)c->results[i]);
	fputs("# HELP reflex_controller_actions_total Audited decisions, by action and outcome.\n"
	      "# TYPE reflex_controller_actions_total counter\n",
	      f);
	for (size_t i = 0; i < c->n_outcomes; i++)
		fprintf(f, "reflex_controller_actions_total{action=\"%s\",outcome=\"%s\"} %llu\n", c->outcomes[i].action,
			c->outcomes[i].outcome, (unsigned long long)c->outcomes[i].n);
	fprintf(f,
		"# HELP reflex_controller_api_errors_total Kubernetes API requests that failed (5xx, no answer).\n"
		"# TYPE reflex_controller_api_errors_total counter\nreflex_controller_api_errors_total %llu\n"
		"# HELP reflex_controller_api_auth_retries_total 401s answered by re-reading the token.\n"
		"# TYPE reflex_controller_api_auth_retries_total counter\n"
		"reflex_controller_api_auth_retries_total %lu\n"
		"# HELP reflex_controller_audit_pending Audit records waiting in the spool for Graylog.\n"
		"# TYPE reflex_controller_audit_pending gauge\nreflex_controller_audit_pending %llu\n"
		"# HELP reflex_controller_audit_delivered_total Audit records Graylog accepted.\n"
		"# TYPE reflex_controller_audit_delivered_total counter\nreflex_controller_audit_delivered_total %llu\n"
		"# HELP reflex_controller_audit_retries_total Failed deliveries to Graylog, retried.\n"
		"# TYPE reflex_controller_audit_retries_total counter\nreflex_controller_audit_retries_total %llu\n"
		"# HELP reflex_controller_audit_lost_total Audit records not spooled (disk full) or dropped past the bound.\n"
		"# TYPE reflex_controller_audit_lost_total counter\nreflex_controller_audit_lost_total %llu\n",
		(unsigned long long)c->api_errors, kubeapi_auth_retries(c->api), (unsigned long long)ds->pending, (unsigned long long)ds->delivered,
		(unsigned long long)ds->retries, (unsigned long long)(c->audit_lost + ds->refused));
}

/* The rules the rate limit disarmed, and the latency histogram. Under lock. */
static void put_disarmed_and_latency(FILE *f, struct controller *c)
{
	fputs("# HELP reflex_controller_rule_disarmed 1 for a rule the controller's rate limit disarmed to "
	      "alert-only (until a reload).\n# TYPE reflex_controller_rule_disarmed gauge\n",
	      f);
	for (int k = 0; k < 2; k++) {
		const struct ratelimit *rl = k ? c->rl_namespaces : c->rl_pods;
		const char *rule;

		for (size_t i = 0; rl && (rule = ratelimit_disarmed_rule(rl, i)); i++) {
			fputs("reflex_controller_rule_disarmed{rule=\"", f);
			put_label_value(f, rule);
			fprintf(f, "\",limit=\"%s\"} 1\n", k ? "namespaces" : "pods");
		}
	}
	fputs("# HELP reflex_controller_action_seconds Alert received to Kubernetes action answered.\n"
	      "# TYPE reflex_controller_action_seconds histogram\n",
	      f);
	/* Each observation counts in every bucket it fits: already cumulative. */
	for (size_t i = 0; i < CTL_LATENCY_BUCKETS; i++)
		fprintf(f, "reflex_controller_action_seconds_bucket{le=\"%g\"} %llu\n", latency_buckets_us[i] / 1e6,
			(unsigned long long)c->latency_bucket[i]);
	fprintf(f, "reflex_controller_action_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)c->latency_count);
	fprintf(f, "reflex_controller_action_seconds_sum %.6f\nreflex_controller_action_seconds_count %llu\n",
		c->latency_sum_us / 1e6, (unsigned long long)c->latency_count);
}

char *stats_metrics_text(struct controller *c)
{
	struct deliver_stats ds = { 0 };
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	if (!f)
		return NULL;
	if (c->audit_out)
		deliver_get_stats(c->audit_out, &ds);
	pthread_mutex_lock(&c->lock);
	put_counters(f, c, &ds);
	put_disarmed_and_latency(f, c);
	pthread_mutex_unlock(&c->lock);
	/* Their own locks: never under the controller's. */
	put_pages_and_events(f, c);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
