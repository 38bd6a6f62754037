/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The controller's state, shared by its files and nothing else: controller.c
 * (start, stop, reload), server.c (HTTP intake), pipeline.c (one alert),
 * actions.c (the Kubernetes API and the page), stats.c (/metrics).
 */
#ifndef REFLEX_CONTROLLER_INTERNAL_H
#define REFLEX_CONTROLLER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "controller.h"
#include "audit.h"

#define CTL_DEDUPE_MAX 65536    /* entries; the oldest expire first */
#define CTL_LATENCY_BUCKETS 11  /* stats.c's latency_buckets_us */

/* What became of a POST /alert: reflex_controller_alerts_total{result}. */
enum alert_result {
	RESULT_ACCEPTED,
	RESULT_DUPLICATE,
	RESULT_IGNORED,
	RESULT_REJECTED,
	RESULT_UNAUTHORIZED,
	RESULT_TOO_LARGE,
	RESULT_RETRY,
	RESULT_MAX,
};

struct dedupe_entry {
	char key[320];
	uint64_t expires_ns;
};

struct outcome_count {
	char action[32];
	char outcome[32];
	uint64_t n;
};

struct controller {
	const struct reflex_config *config; /* under lock */
	struct controller_opts opts;
	char *listen_address;
	char *token_file;
	char *instance;           /* this replica: the audit writer, the Events' reportingInstance */
	struct k8s_events *events; /* NULL: controller.kubernetes_events is false */
	struct pager *pager;
	struct MHD_Daemon *mhd;
	unsigned short port;
	struct kubeapi *api;
	struct deliver *audit_out;
	struct gelf_sender *gelf;
	struct audit_log *audit_stdout;
	pthread_mutex_t lock;
	/* Below: under lock. */
	struct dedupe_entry *dedupe;
	size_t n_dedupe;
	/* Runaway disarm per rule (ratelimit.c, as on the node); new with every config: a reload re-arms. */
	struct ratelimit *rl_pods, *rl_namespaces;
	uint64_t results[RESULT_MAX];
	struct outcome_count outcomes[64];
	size_t n_outcomes;
	uint64_t api_errors;
	uint64_t audit_lost;
	uint64_t latency_count, latency_bucket[CTL_LATENCY_BUCKETS];
	double latency_sum_us;
	atomic_bool ready;
};

/*
 * One record: to stdout (chained), the same line through the spool to
 * Graylog, and its Kubernetes Event. Thread-safe (the pager's threads call
 * it). RET_LINE (optional): the line as written.
 */
void controller_audit(struct controller *c, const struct audit_record *r, char **ret_line);

/*
 * snprintf for messages: truncating a long reason is intended, but never
 * inside a UTF-8 character (rule names, pods and event ids come from the
 * report): a split character would make jansson refuse the NetworkPolicy
 * or the page built from it.
 */
__attribute__((format(printf, 3, 4))) void ctl_say(char *buf, size_t size, const char *fmt, ...);
/* ctl_say after what BUF already holds. */
__attribute__((format(printf, 3, 4))) void ctl_append(char *buf, size_t size, const char *fmt, ...);

#endif
