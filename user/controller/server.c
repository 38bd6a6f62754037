// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The controller's HTTP intake; see server.h. */
#include <errno.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>
#include <zlib.h>

#include "falco_alert.h"
#include "http_body.h"
#include "httpd.h"
#include "log.h"
#include "pipeline.h"
#include "server.h"
#include "stats.h"
#include "token.h"
#include "util.h"

struct request {
	struct http_body body;
	bool gzip;
	uint64_t start_ns;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool token_ok(struct controller *c, struct MHD_Connection *conn, bool *misconfigured)
{
	const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Falco-Token");
	char *expected = NULL;
	bool ok;
	int r;

	*misconfigured = false;
	if (!c->token_file)
		return true;
	/* Read on every request: a rotated Secret takes effect without a restart. */
	r = token_read(c->token_file, &expected);
	if (r < 0) {
		log_error("token file %s: %s: refusing every alert until it is readable", c->token_file, strerror(-r));
		*misconfigured = true;
		return false;
	}
	ok = token_equal(expected, given);
	explicit_bzero(expected, strlen(expected));
	free(expected);
	return ok;
}

/* Inflates a gzip body, bounded by MAX. 0 and *ret, -EFBIG, or -EINVAL for bad data. */
static int gunzip(const char *in, size_t len, size_t max, char **ret, size_t *ret_len)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = (uInt)len };
	size_t cap = 4096, n = 0;
	char *out = malloc(cap + 1), *grown;
	int zr;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	do {
		if (n == cap) {
			if (cap >= max + 1) {
				inflateEnd(&z);
				free(out);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			grown = realloc(out, cap + 1);
			if (!grown) {
				inflateEnd(&z);
				free(out);
				return -ENOMEM;
			}
			out = grown;
		}
		z.next_out = (Bytef *)out + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(out);
		return zr == Z_BUF_ERROR || zr == Z_DATA_ERROR ? -EINVAL : -EIO;
	}
	if (n > max) {
		free(out);
		return -EFBIG;
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
}

/* Everything but /alert: GET (or HEAD) only. */
static enum MHD_Result on_get(struct controller *c, struct MHD_Connection *conn, const char *url, const char *method)
{
	char *text;
	enum MHD_Result ret;

	if (strcmp(method, "GET") && strcmp(method, "HEAD"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
	if (!strcmp(url, "/healthz"))
		return reply(conn, MHD_HTTP_OK, "text/plain", "ok\n");
	if (!strcmp(url, "/readyz"))
		return atomic_load(&c->ready) ? reply(conn, MHD_HTTP_OK, "text/plain", "ready\n")
					      : reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "starting\n");
	if (strcmp(url, "/metrics"))
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain",
			     "not found: /alert, /annotate, /healthz, /readyz, /metrics\n");
	text = stats_metrics_text(c);
	if (!text)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
	ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text);
	free(text);
	return ret;
}

/* Refuses the request when the token is wrong or cannot be read: false with *RET the answer. */
static bool authorized(struct controller *c, struct MHD_Connection *conn, enum MHD_Result *ret)
{
	bool misconfigured;

	if (token_ok(c, conn, &misconfigured))
		return true;
	stats_count_result(c, RESULT_UNAUTHORIZED);
	if (misconfigured) {
		*ret = reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
			     "the controller cannot read its token file\n");
		return false;
	}
	log_warn("POST refused: missing or wrong X-Falco-Token");
	*ret = reply(conn, MHD_HTTP_UNAUTHORIZED, "text/plain", "missing or wrong X-Falco-Token\n");
	return false;
}

/* A gzip body inflated in place, bounded by MAX again: false with *RET the answer when it is not. */
static bool inflated(struct controller *c, struct MHD_Connection *conn, struct request *req, size_t max,
		     enum MHD_Result *ret)
{
	char *plain, msg[400];
	size_t plain_len;
	int r = gunzip(req->body.data, req->body.len, max, &plain, &plain_len);

	if (r == -EFBIG) {
		stats_count_result(c, RESULT_TOO_LARGE);
		ctl_say(msg, sizeof(msg), "inflated body larger than %zu bytes (controller.max_body_bytes)\n", max);
		*ret = reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", msg);
		return false;
	}
	if (r < 0) {
		stats_count_result(c, RESULT_REJECTED);
		*ret = reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", "Content-Encoding gzip but not gzip data\n");
		return false;
	}
	free(req->body.data);
	req->body.data = plain;
	req->body.len = plain_len;
	return true;
}

/* The whole body is in: token, size, gzip, then the alert into the pipeline. */
static enum MHD_Result on_alert(struct controller *c, struct MHD_Connection *conn, struct request *req, size_t max)
{
	struct falco_alert al;
	struct verdict v = { .http_status = 0 };
	char err[256], msg[400];
	enum falco_parse_error e;
	enum MHD_Result ret;

	if (!authorized(c, conn, &ret))
		return ret;
	if (req->body.too_large) {
		stats_count_result(c, RESULT_TOO_LARGE);
		ctl_say(msg, sizeof(msg), "body larger than %zu bytes (controller.max_body_bytes)\n", max);
		return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", msg);
	}
	if (req->gzip && req->body.data && !inflated(c, conn, req, max, &ret))
		return ret;
	e = falco_alert_parse(req->body.data ? req->body.data : "", req->body.len, max, &al, err, sizeof(err));
	if (e != FALCO_PARSE_OK) {
		stats_count_result(c, RESULT_REJECTED);
		log_warn("POST /alert rejected: %s: %s", falco_parse_error_name(e), err);
		ctl_say(msg, sizeof(msg), "not a Falco alert (%s): %s\n", falco_parse_error_name(e), err);
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", msg);
	}
	pipeline_handle_alert(c, &al, req->start_ns, &v);
	falco_alert_clear(&al);
	stats_count_result(c, v.result);
	return reply(conn, v.http_status, "text/plain", v.message);
}

/* An event id as reflex writes them: 1..200 of [A-Za-z0-9._:-]. */
static bool event_id_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n && n <= 200 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n;
}

/* A short printable string field: NULL when absent and optional, else false (WHY set) when bad. */
static bool text_field(json_t *o, const char *key, bool required, size_t max, const char **ret, char *why,
		       size_t size)
{
	json_t *v = json_object_get(o, key);

	*ret = NULL;
	if (!v && !required)
		return true;
	if (!json_is_string(v) || !json_string_length(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		ctl_say(why, size, "\"%s\" must be a string of 1..%zu bytes\n", key, max);
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)json_string_value(v); *p; p++)
		if (*p < 0x20 && *p != '\t') {
			ctl_say(why, size, "\"%s\" holds a control character\n", key);
			return false;
		}
	*ret = json_string_value(v);
	return true;
}

/*
 * POST /annotate {"event_id", "incident_id", "note", "by"}: the incident
 * register's entry for an action, audited into the same stream as the action
 * (stdout, Graylog) so the weekly reconciliation finds both together.
 */
static enum MHD_Result on_annotate(struct controller *c, struct MHD_Connection *conn, struct request *req)
{
	const char *event_id, *incident_id, *note, *by;
	char why[160], detail[1400], *line = NULL;
	struct audit_record r = {
		.action = "annotate",
		.outcome = "recorded",
		.reason = "incident register annotation",
		.pid = -1,
		.latency_us = -1,
		.source = "operator",
	};
	enum MHD_Result ret;
	json_t *o;

	if (!authorized(c, conn, &ret))
		return ret;
	if (req->body.too_large || req->gzip)
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", "one small plain JSON object\n");
	o = json_loadb(req->body.data ? req->body.data : "", req->body.len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", "not a JSON object\n");
	}
	if (!text_field(o, "event_id", true, 200, &event_id, why, sizeof(why)) ||
	    !text_field(o, "incident_id", true, 128, &incident_id, why, sizeof(why)) ||
	    !text_field(o, "note", false, 1024, &note, why, sizeof(why)) ||
	    !text_field(o, "by", false, 128, &by, why, sizeof(why))) {
		json_decref(o);
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", why);
	}
	if (!event_id_valid(event_id)) {
		json_decref(o);
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain",
			     "\"event_id\" is not a reflex event id (1..200 of A-Z a-z 0-9 . _ : -)\n");
	}
	r.event_id = event_id;
	r.incident_id = incident_id;
	r.note = note;
	r.operator_ = by ? by : "unknown";
	r.node = c->instance;
	ctl_say(detail, sizeof(detail), "incident %s annotated by %s%s%s", incident_id, r.operator_, note ? ": " : "",
		note ? note : "");
	r.detail = detail;
	clock_gettime(CLOCK_REALTIME, &r.time);
	controller_audit(c, &r, &line);
	json_decref(o);
	if (!line)
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "the record could not be written\n");
	log_info("annotate: event %s -> incident %s", event_id, incident_id);
	{
		char *body = NULL;

		if (asprintf(&body, "%s\n", line) < 0)
			body = NULL;
		free(line);
		if (!body)
			return MHD_NO;
		ret = reply(conn, MHD_HTTP_CREATED, "application/json", body);
		free(body);
	}
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct controller *c = cls;
	struct request *req = *con_cls;
	size_t max;

	(void)version;
	if (strcmp(url, "/alert") && strcmp(url, "/annotate"))
		return on_get(c, conn, url, method);
	if (strcmp(method, "POST"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain",
			     strcmp(url, "/alert") ? "POST one annotation (JSON)\n"
						   : "POST one Falco alert or reflex report\n");
	if (!req) {
		const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->start_ns = util_monotonic_ns();
		req->gzip = enc && !strcasecmp(enc, "gzip");
		*con_cls = req;
		return MHD_YES;
	}
	pthread_mutex_lock(&c->lock);
	max = c->config->controller.max_body_bytes;
	pthread_mutex_unlock(&c->lock);
	if (*upload_data_size) {
		/* gzip bodies are bounded again after inflating. */
		req->body.max = max;
		if (http_body_append(&req->body, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	return strcmp(url, "/alert") ? on_annotate(c, conn, req) : on_alert(c, conn, req, max);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req) {
		http_body_free(&req->body);
		free(req);
		*con_cls = NULL;
	}
}

int server_start(struct controller *c)
{
	int fd = httpd_listen(c->listen_address, &c->port);

	if (fd < 0)
		return log_errno(LOG_LEVEL_ERROR, fd, "listen on %s", c->listen_address);
	c->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, c, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, c, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (!c->mhd) {
		close(fd);
		log_error("HTTP server on %s failed to start", c->listen_address);
		return -EIO;
	}
	return 0;
}

void server_stop(struct controller *c)
{
	if (c->mhd)
		MHD_stop_daemon(c->mhd);
	c->mhd = NULL;
}
