/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The controller's HTTP intake (libmicrohttpd, a thread per connection):
 * POST /alert (X-Falco-Token, gzip, controller.max_body_bytes) into
 * pipeline.c; GET /healthz, /readyz, /metrics.
 */
#ifndef REFLEX_CONTROLLER_SERVER_H
#define REFLEX_CONTROLLER_SERVER_H

#include "controller_internal.h"

/* Listens on c->listen_address (c->port gets the port bound). 0, or -errno (logged). */
int server_start(struct controller *c);
/* Waits for the requests in progress. Safe when never started. */
void server_stop(struct controller *c);

#endif
