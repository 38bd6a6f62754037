/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Shared secrets in files: the Kubernetes service-account token and the
 * X-Falco-Token. Read again before each use (they rotate), compared in
 * constant time, and never left in freed memory.
 */
#ifndef REFLEX_TOKEN_H
#define REFLEX_TOKEN_H

#include <stdbool.h>

#include <curl/curl.h>

#define TOKEN_MAX 16384

/* Token from PATH: trimmed, printable ASCII, at most TOKEN_MAX bytes. 0 or -errno. */
int token_read(const char *path, char **ret);
/* EXPECTED == GIVEN (GIVEN may be NULL), in time that depends on EXPECTED's length only. */
bool token_equal(const char *expected, const char *given);
/*
 * Appends "PREFIX<token from PATH>" (e.g. "Authorization: Bearer ") to
 * *HEADERS. 0, or -errno with *HEADERS unchanged (still the caller's to free).
 */
int token_header(struct curl_slist **headers, const char *prefix, const char *path);

#endif
