/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Falco's alerts, taken locally: a unix stream socket of newline-delimited
 * JSON (program_output through socat, keep_alive: true; any number of
 * writers) and a loopback HTTP listener (http_output, falcosidekick's
 * webhook), one alert per POST. A reader thread and the HTTP thread only
 * copy lines into a bounded queue, so a writer is never blocked by the
 * agent; when the queue is full the oldest alert is dropped and counted.
 * The event loop takes alerts out with falco_feed_next, which parses them.
 */
#ifndef REFLEX_FALCO_FEED_H
#define REFLEX_FALCO_FEED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "falco_alert.h"

struct falco_feed_config {
	const char *socket_path;       /* NULL or "": no socket */
	unsigned int socket_mode;      /* e.g. 0660 */
	const unsigned int *peer_uids; /* SO_PEERCRED uids allowed to connect */
	size_t n_peer_uids;
	const char *http_address;      /* NULL or "": no HTTP intake; loopback HOST:PORT */
	const char *http_token;        /* NULL or "": no X-Falco-Token required */
	size_t max_alert_bytes;        /* per alert (line or body) */
	size_t queue_size;             /* alerts held; the bytes held are bounded too */
};

enum falco_intake { FALCO_INTAKE_SOCKET = 0, FALCO_INTAKE_HTTP };

struct falco_feed_stats {
	uint64_t lines;            /* alerts taken in (socket lines and HTTP bodies), blank lines excluded */
	uint64_t parsed;           /* of those, parsed into an alert */
	uint64_t rejected[FALCO_PARSE_ERROR_MAX]; /* by reason (too_large counted at the reader) */
	uint64_t dropped;          /* oldest alerts dropped because the queue was full */
	uint64_t truncated;        /* partial lines lost to a writer that disconnected */
	uint64_t connections;      /* socket connections accepted */
	uint64_t peers_refused;    /* socket connections refused by SO_PEERCRED */
	uint64_t http_unauthorized; /* POSTs without the right token */
	uint64_t queued;           /* alerts in the queue now */
	uint64_t queue_high_water;
};

struct falco_feed;

/* Binds what CFG names and starts the threads. 0 and *ret, or a negative errno (logged). */
int falco_feed_start(const struct falco_feed_config *cfg, struct falco_feed **ret);

/* eventfd, readable while alerts are queued. */
int falco_feed_fd(const struct falco_feed *f);

/*
 * Takes the oldest queued alert and parses it into *ret (zeroed or cleared
 * by the caller; clear it after use), with *received_ns the CLOCK_MONOTONIC
 * time its last byte arrived and *intake where it came from. Rejected input
 * is counted and logged (rate-limited) and skipped. Returns true with an
 * alert, false when the queue is empty.
 */
bool falco_feed_next(struct falco_feed *f, struct falco_alert *ret, uint64_t *received_ns,
		     enum falco_intake *intake);

void falco_feed_get_stats(struct falco_feed *f, struct falco_feed_stats *ret);

/* The HTTP port bound (0 without HTTP intake). */
unsigned short falco_feed_http_port(const struct falco_feed *f);

/* Accepts NULL; returns NULL. Stops the threads, closes and unlinks the socket. */
struct falco_feed *falco_feed_stop(struct falco_feed *f);

#endif
