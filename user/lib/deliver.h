/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * At-least-once delivery: records go to a durable spool (spool.h) first and
 * leave it only when the receiver took them. A thread sends them oldest
 * first, retrying with exponential backoff and jitter; the caller never
 * waits on the network. Used for the agent's reports to the controller and
 * the controller's audit records to Graylog.
 */
#ifndef REFLEX_DELIVER_H
#define REFLEX_DELIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Sends one record. 0: delivered (removed from the spool). -EBADMSG: the
 * receiver refuses this record for good (e.g. HTTP 400): it is moved out of
 * the way, counted and logged, never retried. Any other negative errno:
 * retried later. ERR (ERRLEN) gets a one-line reason.
 */
typedef int (*deliver_send_fn)(void *ctx, const void *data, size_t len, char *err, size_t errlen);

struct deliver_config {
	const char *what;           /* "reports to the controller", for logs */
	const char *spool_dir;
	uint64_t spool_max_bytes;
	unsigned int backoff_min_ms; /* 0: 200 */
	unsigned int backoff_max_ms; /* 0: 30 000 */
	deliver_send_fn send;
	void *ctx;
};

struct deliver_stats {
	uint64_t pending;        /* in the spool now */
	uint64_t pending_bytes;
	uint64_t submitted;
	uint64_t delivered;
	uint64_t retries;        /* failed attempts that will be retried */
	uint64_t refused;        /* records the receiver refused for good */
	uint64_t dropped;        /* oldest records dropped past spool_max_bytes */
	uint64_t spool_errors;   /* failed spool writes (disk full, ...) */
	bool backing_off;
	char last_error[160];
};

struct deliver;

/* Opens the spool (what a previous run left is sent first) and starts the thread. 0 or -errno. */
int deliver_start(const struct deliver_config *cfg, struct deliver **ret);
/*
 * Spools DATA (fsync'd before returning) and wakes the sender. 0, or a
 * negative errno when the record could not be written (disk full): the
 * caller must say so. *RET_DROPPED (may be NULL): how many old records were
 * dropped to make room; the caller audits that loss.
 */
int deliver_submit(struct deliver *d, const void *data, size_t len, uint64_t *ret_dropped);
/* Wakes the sender now, skipping any backoff (e.g. after a config change). */
void deliver_kick(struct deliver *d);
void deliver_get_stats(struct deliver *d, struct deliver_stats *ret);
/* Waits up to TIMEOUT_MS for the spool to empty; true when it did. */
bool deliver_flush(struct deliver *d, unsigned int timeout_ms);
/* Stops the thread; undelivered records stay in the spool for the next start. NULL-safe. */
void deliver_stop(struct deliver *d);

#endif
