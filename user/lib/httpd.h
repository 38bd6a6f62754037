/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The agent's HTTP endpoints (libmicrohttpd, own thread): /healthz, /readyz,
 * /metrics (Prometheus text), /status (JSON for `reflex status`).
 */
#ifndef REFLEX_HTTPD_H
#define REFLEX_HTTPD_H

#include "metrics.h"

struct httpd;

/*
 * address "HOST:PORT" (IPv4 literal or "[v6]:port"); a port of 0 picks one.
 * 0 and *RET, or -errno (bad address: -EINVAL; bind: the bind errno).
 */
int httpd_start(const char *address, struct metrics *m, struct httpd **ret);
/*
 * A listening TCP socket (non-blocking, close-on-exec) on ADDRESS as above,
 * for other libmicrohttpd daemons of the agent. fd, or a negative errno.
 */
int httpd_listen(const char *address, unsigned short *ret_port);

/* The port actually bound. */
unsigned short httpd_port(const struct httpd *h);
/* Accepts NULL; returns NULL. */
struct httpd *httpd_stop(struct httpd *h);

#endif
