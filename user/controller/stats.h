/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/* The controller's counters (under its lock) and their /metrics text. */
#ifndef REFLEX_CONTROLLER_STATS_H
#define REFLEX_CONTROLLER_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "controller_internal.h"

void stats_count_result(struct controller *c, enum alert_result r);
/* An audited decision; past the table's size, new pairs go uncounted. */
void stats_count_outcome(struct controller *c, const char *action, const char *outcome);
/* A Kubernetes API request that failed (5xx, 429, no answer). */
void stats_count_api_error(struct controller *c);
/* Audit records not spooled for Graylog, or dropped past the spool's bound. */
void stats_count_audit_lost(struct controller *c, uint64_t n);
/* Alert received (START_NS, CLOCK_MONOTONIC) to Kubernetes action answered. */
void stats_observe_latency(struct controller *c, uint64_t start_ns);

/* The Prometheus text of every counter, malloc'd; NULL out of memory. */
char *stats_metrics_text(struct controller *c);

#endif
