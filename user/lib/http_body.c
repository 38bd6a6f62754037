// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_body.h"

int http_body_append(struct http_body *b, const void *p, size_t n)
{
	char *grown;

	if (b->too_large)
		return 0;
	if (n > b->max - b->len) {
		b->too_large = true;
		free(b->data);
		b->data = NULL;
		b->len = 0;
		return 0;
	}
	grown = realloc(b->data, b->len + n + 1);
	if (!grown)
		return -ENOMEM;
	memcpy(grown + b->len, p, n);
	b->data = grown;
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

size_t http_body_curl_sink(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct http_body *b = userdata;
	size_t n = size * nmemb;

	if (http_body_append(b, p, n) || b->too_large)
		return 0;
	return n;
}

void http_body_free(struct http_body *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
}
