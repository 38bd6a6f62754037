/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * A bounded HTTP body being received: by libcurl (a client's answer) or by
 * libmicrohttpd (a POST's upload). Always NUL-terminated, so a JSON parser
 * can take it as it is; past its bound it keeps nothing and says so.
 */
#ifndef REFLEX_HTTP_BODY_H
#define REFLEX_HTTP_BODY_H

#include <stdbool.h>
#include <stddef.h>

struct http_body {
	char *data; /* NULL until the first byte */
	size_t len;
	size_t max;	/* the bound; set by the caller */
	bool too_large; /* MAX was passed: DATA freed, the rest ignored */
};

/* Appends N bytes of P. 0 (also once too_large), or -ENOMEM. */
int http_body_append(struct http_body *b, const void *p, size_t n);
/* CURLOPT_WRITEFUNCTION for a struct http_body: stops the transfer past its bound. */
size_t http_body_curl_sink(char *p, size_t size, size_t nmemb, void *userdata);
void http_body_free(struct http_body *b);

#endif
