/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Reports to reflex-controller: every audited decision of the agent becomes
 * a Falco-shaped alert (rule, priority, output, output_fields with
 * k8s.ns.name, k8s.pod.name, container.id, proc.exepath, proc.pid, evt.time)
 * plus a "reflex" object (node, action, outcome, kill mode, latency, source,
 * event id), POSTed gzip'd to the controller's /alert with X-Falco-Token.
 * Spooled to disk first (deliver.h): survives kill -9 and reboots, replayed
 * in order, removed only after a 2xx. The event id makes redelivery
 * idempotent at the controller.
 */
#ifndef REFLEX_REPORTER_H
#define REFLEX_REPORTER_H

#include <stdint.h>

#include "audit.h"
#include "deliver.h"

struct reporter_config {
	const char *controller_url; /* base URL; reports go to URL/alert */
	const char *token_file;     /* X-Falco-Token, read before every send; NULL or "": none */
	const char *spool_dir;
	uint64_t spool_max_bytes;
	unsigned int timeout_ms;    /* per POST; 0: 5000 */
};

struct reporter;

/* 0 or -errno (spool unusable, bad URL). */
int reporter_start(const struct reporter_config *cfg, struct reporter **ret);
/*
 * Spools the report of R (an audit record just written). EVENT_TIME_NS:
 * CLOCK_REALTIME of the detection (0: R->event_time, else R->time): the
 * report's time and evt.time. R->detail goes to reflex.detail. Every string
 * is cleaned to UTF-8 first (audit_utf8_clean): bytes of outside origin
 * never fail a report. 0, or -errno when it could not be spooled (the
 * caller counts and logs; the audit line exists).
 */
int reporter_submit(struct reporter *rp, const struct audit_record *r, uint64_t event_time_ns,
		    uint64_t *ret_dropped);
/* The report body for R, as reporter_submit spools it (malloc'd JSON). For tests. */
char *reporter_format(const struct audit_record *r, uint64_t event_time_ns);
void reporter_get_stats(struct reporter *rp, struct deliver_stats *ret);
void reporter_stop(struct reporter *rp);

#endif
