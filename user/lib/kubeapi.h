/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Plain Kubernetes API requests (libcurl, synchronous) for the controller:
 * GET an object, DELETE a pod, POST a NetworkPolicy, POST and PATCH Events. The service-account
 * token is read again before every request and once more after a 401
 * (bound tokens rotate); the CA file verifies the server.
 */
#ifndef REFLEX_KUBEAPI_H
#define REFLEX_KUBEAPI_H

#include <stddef.h>

struct kubeapi_config {
	const char *api_url;    /* "https://host:port"; NULL: from KUBERNETES_SERVICE_HOST/PORT */
	const char *token_file; /* NULL or "": no Authorization header */
	const char *ca_file;    /* NULL or "": system CAs */
	unsigned int timeout_ms; /* whole request; 0: 10 000 */
};

struct kubeapi_response {
	long status;   /* HTTP status; 0 when no answer */
	char *body;    /* NUL-terminated, malloc'd (may be "") */
	size_t len;
	char reason[64];  /* Status.reason ("NotFound", "AlreadyExists", "Conflict") or "" */
	char message[256]; /* Status.message, printable, or "" */
};

struct kubeapi;

/* "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT" (malloc'd), NULL outside a pod. */
char *kubeapi_url_from_env(void);

/* 0 and *RET, or -errno (-EINVAL: no API URL). */
int kubeapi_new(const struct kubeapi_config *cfg, struct kubeapi **ret);
const char *kubeapi_url(const struct kubeapi *k);
/*
 * METHOD PATH (e.g. "/api/v1/namespaces/x/pods/y") with an optional JSON
 * BODY (a JSON merge patch for PATCH). 0 when the server answered (any status, in *RET; free with
 * kubeapi_response_clear), else a negative errno and a reason in *RET's
 * message (connect failure, timeout, token unreadable). Thread-safe.
 */
int kubeapi_request(struct kubeapi *k, const char *method, const char *path, const char *body,
		    struct kubeapi_response *ret);
void kubeapi_response_clear(struct kubeapi_response *r);
/* Requests answered 401 and retried with a re-read token. */
unsigned long kubeapi_auth_retries(struct kubeapi *k);
void kubeapi_free(struct kubeapi *k);

#endif
