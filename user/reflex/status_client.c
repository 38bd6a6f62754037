// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "status_client.h"
#include "http_body.h"
#include "util.h"

#define STATUS_TIMEOUT_MS 2000L

static bool port_valid(const char *p)
{
	size_t n = strlen(p);

	return n >= 1 && n <= 5 && strspn(p, "0123456789") == n && atoi(p) >= 1 && atoi(p) <= 65535;
}

/*
 * The URL is built from ADDRESS, so only what an address may hold gets in:
 * no '/', '@', '?', '#', '%' or spaces that would change the request.
 */
static bool address_valid(const char *a)
{
	const char *end;

	if (a[0] == '[') {
		end = strchr(a, ']');
		return end && end != a + 1 && end[1] == ':' &&
		       strspn(a + 1, "0123456789abcdefABCDEF:.") == (size_t)(end - a - 1) && port_valid(end + 2);
	}
	end = strchr(a, ':');
	return end && end != a &&
	       strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") == (size_t)(end - a) &&
	       port_valid(end + 1);
}

static int curl_errno(CURLcode rc, const struct http_body *b)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
		return -ECONNREFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		return b->too_large ? -EMSGSIZE : -ENOMEM;
	default:
		return -EIO;
	}
}

int status_fetch(const char *address, char **ret_body, char *err, size_t errlen)
{
	char curl_err[CURL_ERROR_SIZE] = "";
	struct http_body b = { .max = STATUS_BODY_MAX };
	json_t *doc = NULL;
	CURLcode rc = CURLE_OK;
	char *url = NULL;
	CURL *curl = NULL;
	long code = 0;
	int ret = 0;

	if (!address || !ret_body || !address_valid(address))
		return errbuf_set(err, errlen, -EINVAL, "invalid address '%s': want HOST:PORT or [V6]:PORT",
			    address ? address : "(null)");
	if (asprintf(&url, "http://%s/status", address) < 0)
		url = NULL;
	curl = curl_easy_init();
	if (!url || !curl) {
		ret = errbuf_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	/* A proxy from the environment must not carry a loopback request away. */
	if (curl_easy_setopt(curl, CURLOPT_URL, url) || curl_easy_setopt(curl, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http") ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, STATUS_TIMEOUT_MS) ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, STATUS_TIMEOUT_MS) ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "reflex-status") ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_err) ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, http_body_curl_sink) ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &b)) {
		ret = errbuf_set(err, errlen, -EIO, "libcurl refused an option");
		goto out;
	}
	rc = curl_easy_perform(curl);
	if (rc) {
		ret = curl_errno(rc, &b);
		if (ret == -EMSGSIZE)
			errbuf_set(err, errlen, ret, "%s: response larger than %d bytes", url, STATUS_BODY_MAX);
		else if (ret == -ECONNREFUSED)
			errbuf_set(err, errlen, ret, "%s: %s (is reflexd running, with agent.metrics_address %s?)", url,
			     curl_err[0] ? curl_err : curl_easy_strerror(rc), address);
		else
			errbuf_set(err, errlen, ret, "%s: %s", url, curl_err[0] ? curl_err : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		ret = errbuf_set(err, errlen, -EPROTO, "%s: HTTP %ld", url, code);
		goto out;
	}
	/* libcurl does not call back for an empty body. */
	if (!b.data) {
		ret = errbuf_set(err, errlen, -EPROTO, "%s: empty response", url);
		goto out;
	}
	doc = json_loadb(b.data, b.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(doc)) {
		ret = errbuf_set(err, errlen, -EPROTO, "%s: response is not a JSON object", url);
		goto out;
	}
	*ret_body = b.data;
	b.data = NULL;
out:
	json_decref(doc);
	free(b.data);
	free(url);
	curl_easy_cleanup(curl);
	return ret;
}

/* S with control characters (C0, DEL, C1) shown as '?': a hostile agent must not drive the terminal. */
static void put_safe(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	for (; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			fputc('?', out);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', out);
			p++;
		} else {
			fputc(*p, out);
		}
	}
}

/* Pads to WIDTH columns; counts bytes, which is right for the ASCII names here. */
static void put_padded(FILE *out, const char *s, int width)
{
	int n = (int)strlen(s);

	put_safe(out, s);
	for (; n < width; n++)
		fputc(' ', out);
}

static void put_value(FILE *out, const json_t *v)
{
	char *text;

	if (json_is_integer(v)) {
		fprintf(out, "%lld", (long long)json_integer_value(v));
		return;
	}
	if (json_is_string(v)) {
		put_safe(out, json_string_value(v));
		return;
	}
	text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	put_safe(out, text ? text : "?");
	free(text);
}

static void put_counters(FILE *out, const char *title, const json_t *obj)
{
	const char *key;
	json_t *v;

	fprintf(out, "%s:\n", title);
	if (!json_is_object(obj) || !json_object_size(obj)) {
		fputs("  (none)\n", out);
		return;
	}
	json_object_foreach((json_t *)obj, key, v) {
		fputs("  ", out);
		put_padded(out, key, 22);
		fputc(' ', out);
		put_value(out, v);
		fputc('\n', out);
	}
}

int status_print(FILE *out, const char *json_body, char *err, size_t errlen)
{
	json_t *doc, *node, *ready, *hooks, *h, *v;
	json_error_t jerr;
	size_t i;
	int ret = 0;

	if (!out || !json_body)
		return errbuf_set(err, errlen, -EINVAL, "nothing to print");
	doc = json_loads(json_body, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return errbuf_set(err, errlen, -EINVAL, "status is not JSON: line %d: %s", jerr.line, jerr.text);
	node = json_object_get(doc, "node");
	ready = json_object_get(doc, "ready");
	/* node and ready are what make it a reflex status; the rest may be missing. */
	if (!json_is_object(doc) || !json_is_string(node) || !json_is_boolean(ready)) {
		ret = errbuf_set(err, errlen, -EINVAL, "not a reflex status document (no node or ready)");
		goto out;
	}
	fputs("node:                  ", out);
	put_safe(out, json_string_value(node));
	fprintf(out, "\nready:                 %s\n", json_is_true(ready) ? "yes" : "no (hooks not attached)");

	fputs("hooks:\n", out);
	hooks = json_object_get(doc, "hooks");
	if (!json_is_array(hooks) || !json_array_size(hooks))
		fputs("  (none)\n", out);
	json_array_foreach(hooks, i, h) {
		v = json_object_get(h, "name");
		fprintf(out, "  %-9s ", json_is_true(json_object_get(h, "active")) ? "active" : "inactive");
		put_padded(out, json_is_string(v) ? json_string_value(v) : "?", 40);
		v = json_object_get(h, "detail");
		if (json_is_string(v) && *json_string_value(v)) {
			fputc(' ', out);
			put_safe(out, json_string_value(v));
		}
		fputc('\n', out);
	}
	put_counters(out, "counters", json_object_get(doc, "counters"));
	put_counters(out, "kernel", json_object_get(doc, "kernel"));
	put_counters(out, "falco", json_object_get(doc, "falco"));
	v = json_object_get(doc, "disarmed_rules");
	if (json_is_array(v)) {
		json_t *rule;

		fputs("disarmed rules:", out);
		if (!json_array_size(v))
			fputs("        none", out);
		json_array_foreach(v, i, rule) {
			fputs("\n  ", out);
			put_safe(out, json_is_string(rule) ? json_string_value(rule) : "?");
			fputs(" (alert-only until reload: kill rate limit)", out);
		}
		fputc('\n', out);
	}
	{
		static const struct {
			const char *label, *key;
		} gauges[] = {
			{ "containers tracked:    ", "containers_tracked" },
			{ "pool domains:          ", "pool_domains" },
			{ "  resolving:           ", "pool_domains_resolving" },
			{ "  failing (last good): ", "pool_domains_failing" },
			{ "pool addresses/CIDRs:  ", "pool_addresses" },
		};

		for (size_t g = 0; g < ARRAY_SIZE(gauges); g++) {
			fputs(gauges[g].label, out);
			v = json_object_get(doc, gauges[g].key);
			if (v)
				put_value(out, v);
			else
				fputc('?', out);
			fputc('\n', out);
		}
	}
	if (fflush(out) || ferror(out))
		ret = errbuf_set(err, errlen, -EIO, "writing the status failed");
out:
	json_decref(doc);
	return ret;
}
