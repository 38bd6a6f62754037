// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Reports to reflex-controller through a durable spool; see reporter.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

#include "token.h"
#include "log.h"
#include "reporter.h"
#include "util.h"

struct reporter {
	char *url;
	char *token_file;
	unsigned int timeout_ms;
	struct deliver *out;
};

/*
 * Every string of the record may hold bytes of outside origin (an exe path,
 * a comm, a pod name, Falco's output): jansson refuses invalid UTF-8, and a
 * report must never fail on them. S cleaned (audit_utf8_clean: \xNN per
 * ill-formed byte) as a JSON string; NULL on ENOMEM.
 */
static json_t *clean_string(const char *s)
{
	char *copy = NULL;
	const char *clean = audit_utf8_clean(s, &copy);
	json_t *j = clean ? json_string(clean) : NULL;

	free(copy);
	return j;
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? clean_string(s) : json_null();
}

static json_t *int_or_null(int64_t v)
{
	return v >= 0 ? json_integer(v) : json_null();
}

/* "Critical" for kills and failures, "Warning" for refusals and dry-runs, else "Notice". */
static const char *priority_of(const struct audit_record *r)
{
	if (r->falco_priority && *r->falco_priority)
		return r->falco_priority;
	if (r->outcome && (!strcmp(r->outcome, "killed") || !strcmp(r->outcome, "failed")))
		return "Critical";
	if (r->outcome && (!strcmp(r->outcome, "refused") || !strcmp(r->outcome, "dry_run")))
		return "Warning";
	return "Notice";
}

/* S cleaned to UTF-8 for printing; *COPY gets what to free. "" on ENOMEM (the JSON step then fails). */
static const char *printable(const char *s, const char *dflt, char **copy)
{
	const char *c;

	if (!s || !*s)
		return dflt;
	c = audit_utf8_clean(s, copy);
	return c ? c : "";
}

/* Falco's own output line shape: "TIME: PRIORITY reflex ACTION OUTCOME (RULE) in NS/POD pid PID exe EXE". */
static void format_output(const struct audit_record *r, const char *when, const char *priority, char *out,
			  size_t size)
{
	char *c[6] = { NULL }, *line = NULL;
	const char *action = printable(r->action, "?", &c[0]), *outcome = printable(r->outcome, "?", &c[1]);
	const char *rule = printable(r->rule, "?", &c[2]), *ns = printable(r->namespace_, "-", &c[3]);
	const char *pod = printable(r->pod, "-", &c[4]), *exe = printable(r->exe_path, "-", &c[5]);

	if (asprintf(&line, "%s: %s reflex %s %s (%s) in %s/%s pid %lld exe %s", when, priority, action, outcome, rule,
		     ns, pod, (long long)r->pid, exe) < 0)
		line = NULL;
	/* A long exe path or rule is cut at a character boundary, never inside one. */
	audit_copy_utf8(out, size, line ? line : "");
	free(line);
	for (size_t i = 0; i < ARRAY_SIZE(c); i++)
		free(c[i]);
}

char *reporter_format(const struct audit_record *r, uint64_t event_time_ns)
{
	struct timespec t = r->event_time.tv_sec ? r->event_time : r->time;
	char when[96], output[1024], *text = NULL;
	const char *priority = priority_of(r);
	struct tm tm;
	json_t *root, *fields, *rx;
	int err = 0;

	if (event_time_ns) {
		t.tv_sec = (time_t)(event_time_ns / 1000000000ULL);
		t.tv_nsec = (long)(event_time_ns % 1000000000ULL);
	}
	gmtime_r(&t.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, t.tv_nsec);
	format_output(r, when, priority, output, sizeof(output));

	fields = json_object();
	rx = json_object();
	root = json_object();
	if (!fields || !rx || !root) {
		json_decref(fields);
		json_decref(rx);
		json_decref(root);
		return NULL;
	}
	/* json_object_set_new fails (and frees nothing to leak) on a NULL value: ENOMEM anywhere fails the report. */
	err |= json_object_set_new(fields, "evt.time", json_integer((json_int_t)((uint64_t)t.tv_sec * 1000000000ULL +
										(uint64_t)t.tv_nsec)));
	err |= json_object_set_new(fields, "container.id",
				   r->container_id && *r->container_id ? clean_string(r->container_id)
								       : json_string("host"));
	err |= json_object_set_new(fields, "k8s.ns.name", str_or_null(r->namespace_));
	err |= json_object_set_new(fields, "k8s.pod.name", str_or_null(r->pod));
	err |= json_object_set_new(fields, "k8s.pod.uid", str_or_null(r->pod_uid));
	err |= json_object_set_new(fields, "proc.exepath",
				   r->exe_path && r->exe_path[0] == '/' ? clean_string(r->exe_path) : json_null());
	err |= json_object_set_new(fields, "proc.pid", r->pid > 0 ? json_integer(r->pid) : json_null());
	err |= json_object_set_new(fields, "proc.name", str_or_null(r->comm));
	err |= json_object_set_new(fields, "container.image", str_or_null(r->image));
	if (r->destination)
		err |= json_object_set_new(fields, "fd.name", clean_string(r->destination));

	err |= json_object_set_new(rx, "node", str_or_null(r->node));
	err |= json_object_set_new(rx, "event_id", str_or_null(r->event_id));
	err |= json_object_set_new(rx, "action", str_or_null(r->action));
	err |= json_object_set_new(rx, "outcome", str_or_null(r->outcome));
	err |= json_object_set_new(rx, "kill_mode", str_or_null(r->kill_mode));
	err |= json_object_set_new(rx, "latency_us", int_or_null(r->latency_us));
	err |= json_object_set_new(rx, "source", str_or_null(r->source));
	err |= json_object_set_new(rx, "dry_run", json_boolean(r->dry_run));
	err |= json_object_set_new(rx, "reason", str_or_null(r->reason));
	if (r->detail)
		err |= json_object_set_new(rx, "detail", str_or_null(r->detail));
	err |= json_object_set_new(rx, "operator", str_or_null(r->operator_));
	err |= json_object_set_new(rx, "pod_uid", str_or_null(r->pod_uid));

	err |= json_object_set_new(root, "output",
				   r->falco_output && *r->falco_output ? clean_string(r->falco_output)
								       : json_string(output));
	err |= json_object_set_new(root, "priority", clean_string(priority));
	err |= json_object_set_new(root, "rule", str_or_null(r->rule));
	err |= json_object_set_new(root, "time", json_string(when));
	err |= json_object_set_new(root, "output_fields", fields);
	err |= json_object_set_new(root, "source", json_string("syscall"));
	err |= json_object_set_new(root, "tags", json_pack("[s]", "reflex"));
	err |= json_object_set_new(root, "hostname", str_or_null(r->node));
	err |= json_object_set_new(root, "reflex", rx);
	if (!err)
		text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *userdata)
{
	(void)p;
	(void)userdata;
	return size * nmemb;
}

static int gzip_body(const void *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = (uInt)len };
	size_t cap;
	unsigned char *out;

	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	cap = deflateBound(&z, (uLong)len) + 32;
	out = malloc(cap);
	if (!out) {
		deflateEnd(&z);
		return -ENOMEM;
	}
	z.next_out = out;
	z.avail_out = (uInt)cap;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return -EIO;
	}
	*ret_len = cap - z.avail_out;
	deflateEnd(&z);
	*ret = out;
	return 0;
}

static int send_report(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
	struct reporter *rp = ctx;
	struct curl_slist *h = NULL, *n;
	char errbuf[CURL_ERROR_SIZE] = "";
	unsigned char *body = NULL;
	size_t body_len = 0;
	long status = 0;
	CURLcode res;
	CURL *easy;
	int r;

	r = gzip_body(data, len, &body, &body_len);
	if (r < 0) {
		snprintf(err, errlen, "gzip: %s", strerror(-r));
		return r;
	}
	easy = curl_easy_init();
	h = curl_slist_append(NULL, "Content-Type: application/json");
	n = h ? curl_slist_append(h, "Content-Encoding: gzip") : NULL;
	if (!easy || !n) {
		r = -ENOMEM;
		goto out;
	}
	h = n;
	if (rp->token_file) {
		r = token_header(&h, "X-Falco-Token: ", rp->token_file);
		if (r < 0) {
			snprintf(err, errlen, "token file %s: %s", rp->token_file, strerror(-r));
			goto out;
		}
	}
	curl_easy_setopt(easy, CURLOPT_URL, rp->url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)rp->timeout_ms);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "reflexd");
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	res = curl_easy_perform(easy);
	if (res != CURLE_OK) {
		snprintf(err, errlen, "POST %s: %s", rp->url, errbuf[0] ? errbuf : curl_easy_strerror(res));
		r = res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status >= 200 && status < 300) {
		r = 0;
	} else if (status == 400 || status == 413) {
		snprintf(err, errlen, "POST %s: HTTP %ld (the controller refuses this report)", rp->url, status);
		r = -EBADMSG;
	} else {
		snprintf(err, errlen, "POST %s: HTTP %ld%s", rp->url, status,
			 status == 401 ? " (wrong or missing X-Falco-Token)" : "");
		r = -EIO;
	}
out:
	curl_slist_free_all(h);
	if (easy)
		curl_easy_cleanup(easy);
	free(body);
	return r;
}

int reporter_start(const struct reporter_config *cfg, struct reporter **ret)
{
	struct reporter *rp = calloc(1, sizeof(*rp));
	size_t n;
	int r;

	if (!rp)
		return -ENOMEM;
	/* Reference-counted by libcurl; before the sender thread uses it. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(rp);
		return -ENOMEM;
	}
	n = strlen(cfg->controller_url);
	while (n && cfg->controller_url[n - 1] == '/')
		n--;
	if (asprintf(&rp->url, "%.*s/alert", (int)n, cfg->controller_url) < 0) {
		rp->url = NULL;
		reporter_stop(rp);
		return -ENOMEM;
	}
	rp->token_file = cfg->token_file && *cfg->token_file ? strdup(cfg->token_file) : NULL;
	rp->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 5000;
	{
		struct deliver_config dc = {
			.what = "reports to the controller",
			.spool_dir = cfg->spool_dir,
			.spool_max_bytes = cfg->spool_max_bytes,
			.send = send_report,
			.ctx = rp,
		};

		r = deliver_start(&dc, &rp->out);
	}
	if (r < 0) {
		reporter_stop(rp);
		return r;
	}
	*ret = rp;
	return 0;
}

int reporter_submit(struct reporter *rp, const struct audit_record *r, uint64_t event_time_ns,
		    uint64_t *ret_dropped)
{
	char *body = reporter_format(r, event_time_ns);
	int err;

	if (!body)
		return -ENOMEM;
	err = deliver_submit(rp->out, body, strlen(body), ret_dropped);
	free(body);
	return err;
}

void reporter_get_stats(struct reporter *rp, struct deliver_stats *ret)
{
	deliver_get_stats(rp->out, ret);
}

void reporter_stop(struct reporter *rp)
{
	if (!rp)
		return;
	deliver_stop(rp->out);
	free(rp->url);
	free(rp->token_file);
	free(rp);
	curl_global_cleanup();
}
