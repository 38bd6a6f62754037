// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Plain Kubernetes API requests for the controller; see kubeapi.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "kubeapi.h"
#include "log.h"
#include "token.h"
#include "http_body.h"

#define KUBEAPI_BODY_MAX (8u << 20) /* one object or Status; never a list */

struct kubeapi {
	char *api_url;
	char *token_file;
	char *ca_file;
	unsigned int timeout_ms;
	pthread_mutex_t lock;
	unsigned long auth_retries;
};

char *kubeapi_url_from_env(void)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	bool v6;
	char *url;

	if (!host || !*host)
		return NULL;
	if (!port || !*port)
		port = "443";
	v6 = strchr(host, ':') && host[0] != '[';
	if (asprintf(&url, "https://%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) < 0)
		return NULL;
	return url;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

int kubeapi_new(const struct kubeapi_config *cfg, struct kubeapi **ret)
{
	struct kubeapi *k = calloc(1, sizeof(*k));

	if (!k)
		return -ENOMEM;
	k->api_url = cfg->api_url && *cfg->api_url ? strdup(cfg->api_url) : kubeapi_url_from_env();
	k->token_file = dup_or_null(cfg->token_file);
	k->ca_file = dup_or_null(cfg->ca_file);
	k->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 10000;
	pthread_mutex_init(&k->lock, NULL);
	if (!k->api_url || (cfg->token_file && *cfg->token_file && !k->token_file) ||
	    (cfg->ca_file && *cfg->ca_file && !k->ca_file)) {
		int err = k->api_url ? -ENOMEM : -EINVAL;

		kubeapi_free(k);
		return err;
	}
	/* A trailing slash would double the one every path starts with. */
	for (size_t n = strlen(k->api_url); n && k->api_url[n - 1] == '/'; n--)
		k->api_url[n - 1] = '\0';
	*ret = k;
	return 0;
}

const char *kubeapi_url(const struct kubeapi *k)
{
	return k->api_url;
}

/* Printable ASCII only: it ends up in log lines and audit records. */
static void copy_printable(char *out, size_t size, const char *in)
{
	size_t o = 0;

	for (const char *p = in; p && *p && o + 1 < size; p++)
		out[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	out[o] = '\0';
}

static void read_status(struct kubeapi_response *r)
{
	json_t *root = json_loadb(r->body, r->len, 0, NULL);

	if (json_is_object(root) && !strcmp(json_string_value(json_object_get(root, "kind")) ?: "", "Status")) {
		copy_printable(r->reason, sizeof(r->reason), json_string_value(json_object_get(root, "reason")));
		copy_printable(r->message, sizeof(r->message), json_string_value(json_object_get(root, "message")));
	}
	json_decref(root);
}

static int request_once(struct kubeapi *k, const char *method, const char *path, const char *body,
			struct kubeapi_response *ret)
{
	struct curl_slist *headers = NULL, *h;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct http_body b = { .max = KUBEAPI_BODY_MAX };
	char *url = NULL;
	CURLcode res;
	CURL *easy;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (asprintf(&url, "%s%s", k->api_url, path) < 0)
		return -ENOMEM;
	easy = curl_easy_init();
	headers = curl_slist_append(NULL, "Accept: application/json");
	/* A PATCH body is a JSON merge patch (RFC 7386): every resource takes it. */
	h = headers ? curl_slist_append(headers, strcmp(method, "PATCH") ? "Content-Type: application/json"
								    : "Content-Type: application/merge-patch+json")
		    : NULL;
	if (!easy || !h) {
		r = -ENOMEM;
		goto out;
	}
	headers = h;
	if (k->token_file) {
		r = token_header(&headers, "Authorization: Bearer ", k->token_file);
		if (r < 0) {
			snprintf(ret->message, sizeof(ret->message), "token %s: %s", k->token_file, strerror(-r));
			goto out;
		}
	}
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "reflex-controller");
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_body_curl_sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)k->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	if (body)
		curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	if (k->ca_file)
		curl_easy_setopt(easy, CURLOPT_CAINFO, k->ca_file);
	res = curl_easy_perform(easy);
	if (res != CURLE_OK) {
		copy_printable(ret->message, sizeof(ret->message),
			       b.too_large ? "answer over 8 MiB" : errbuf[0] ? errbuf : curl_easy_strerror(res));
		r = res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT
		    : res == CURLE_COULDNT_CONNECT   ? -ECONNREFUSED
		    : b.too_large                      ? -EFBIG
						     : -EIO;
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &ret->status);
	ret->body = b.data ? b.data : strdup("");
	ret->len = b.len;
	b.data = NULL;
	if (!ret->body) {
		r = -ENOMEM;
		goto out;
	}
	read_status(ret);
out:
	free(b.data);
	curl_slist_free_all(headers);
	if (easy)
		curl_easy_cleanup(easy);
	free(url);
	return r;
}

int kubeapi_request(struct kubeapi *k, const char *method, const char *path, const char *body,
		    struct kubeapi_response *ret)
{
	int r = request_once(k, method, path, body, ret);

	if (r == 0 && ret->status == 401 && k->token_file) {
		pthread_mutex_lock(&k->lock);
		k->auth_retries++;
		pthread_mutex_unlock(&k->lock);
		log_warn("kube: %s %s: 401 Unauthorized, reading %s again and retrying", method, path, k->token_file);
		kubeapi_response_clear(ret);
		r = request_once(k, method, path, body, ret);
	}
	return r;
}

void kubeapi_response_clear(struct kubeapi_response *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
}

unsigned long kubeapi_auth_retries(struct kubeapi *k)
{
	unsigned long n;

	pthread_mutex_lock(&k->lock);
	n = k->auth_retries;
	pthread_mutex_unlock(&k->lock);
	return n;
}

void kubeapi_free(struct kubeapi *k)
{
	if (!k)
		return;
	free(k->api_url);
	free(k->token_file);
	free(k->ca_file);
	pthread_mutex_destroy(&k->lock);
	free(k);
}
