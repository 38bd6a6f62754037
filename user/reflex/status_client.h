/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * `reflex status`: fetch the agent's /status JSON (libcurl) and print it as a
 * table for a person.
 */
#ifndef REFLEX_STATUS_CLIENT_H
#define REFLEX_STATUS_CLIENT_H

#include <stddef.h>
#include <stdio.h>

/* Largest /status body accepted. */
#define STATUS_BODY_MAX (1 << 20)

/*
 * GET http://ADDRESS/status within 2 s, without any proxy. ADDRESS is
 * "HOST:PORT" (IPv4 literal or host name) or "[v6]:PORT". On success
 * *ret_body is the body, a JSON object, NUL-terminated and malloc'd, and 0
 * is returned. On failure: negative errno (-EINVAL bad address,
 * -ECONNREFUSED, -ETIMEDOUT, -EPROTO not HTTP 200 or not JSON, -EMSGSIZE
 * body too large, -ENOMEM, -EIO other transfer errors), ERR holds the
 * message and *ret_body is untouched. libcurl initialises itself on first
 * use unless the caller ran curl_global_init() first (do that before
 * starting threads).
 */
int status_fetch(const char *address, char **ret_body, char *err, size_t errlen);

/*
 * Prints the /status JSON JSON_BODY as a table: node, ready, hooks, counters,
 * kernel counters, containers tracked. Control characters in the document's
 * strings are shown as '?'. 0, or negative errno with ERR set (-EINVAL not a
 * status document, -EIO writing OUT failed).
 */
int status_print(FILE *out, const char *json_body, char *err, size_t errlen);

#endif
