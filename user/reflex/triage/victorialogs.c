// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * VictoriaLogs as a source: the LogsQL query, the records of its answer (as
 * falcosidekick's Loki push stores Falco events) and the HTTP request.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "internal.h"
#include "http_body.h"
#include "util.h"

#define BODY_EXCERPT 200

/* ---- LogsQL ------------------------------------------------------------- */

/* A LogsQL quoted string: '\\' and '"' escaped; no controls (nothing Falco names has them). */
static int sb_logsql_quoted(struct sbuf *b, const char *what, const char *s, char *err, size_t errlen)
{
	if (!*s)
		return errbuf_set(err, errlen, -EINVAL, "%s is empty", what);
	if (!utf8_valid(s))
		return errbuf_set(err, errlen, -EINVAL, "%s is not valid UTF-8", what);
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return errbuf_set(err, errlen, -EINVAL, "%s has a control character", what);
	sb_putc(b, '"');
	for (const char *c = s; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_putc(b, '\\');
		sb_putc(b, *c);
	}
	sb_putc(b, '"');
	return 0;
}

int triage_logsql(const struct triage_query *q, char **ret, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	int64_t secs;
	int r = 0;

	*ret = NULL;
	if (q->since) {
		/* Checked here because the text goes into the query as written. */
		if (triage_parse_duration(q->since, &secs))
			return errbuf_set(err, errlen, -EINVAL, "'%s' is not a duration (e.g. 5m, 24h, 1h30m, 7d)", q->since);
		sb_printf(&b, "_time:%s ", q->since);
	}
	/* Exact filters (:=): a phrase filter would let namespace "prod" match "prod-eu". */
	sb_puts(&b, "source:=syscall");
	if (q->rule) {
		sb_puts(&b, " rule:=");
		r = sb_logsql_quoted(&b, "the rule name", q->rule, err, errlen);
	}
	if (!r && q->namespace_) {
		sb_puts(&b, " k8s_ns_name:=");
		r = sb_logsql_quoted(&b, "the namespace", q->namespace_, err, errlen);
	}
	if (!r && q->priority) {
		sb_puts(&b, " priority:=");
		r = sb_logsql_quoted(&b, "the priority", q->priority, err, errlen);
	}
	sb_puts(&b, " | sort by (_time desc)");
	if (r) {
		sb_free(&b);
		return r;
	}
	*ret = sb_take(&b);
	return *ret ? 0 : -ENOMEM;
}

/* ---- VictoriaLogs records ----------------------------------------------- */

/*
 * Falco → falcosidekick → Loki push stores rule, priority, source, hostname,
 * tags, k8s_ns_name and k8s_pod_name as stream labels and the output text as
 * _msg; other output fields only when configured as extra labels (dots become
 * '_', older sidekicks drop them). JSON-format pushes parsed by VictoriaLogs
 * give output_fields.* instead. The output text is the fallback for the rest.
 * The log collector's kubernetes.namespace_name is Falco's own pod: never read.
 */
static const char *const VL_RULE[] = { "rule", NULL };
static const char *const VL_PRIORITY[] = { "priority", NULL };
static const char *const VL_HOSTNAME[] = { "hostname", NULL };
static const char *const VL_NS[] = { "k8s_ns_name", "k8s.ns.name", "output_fields.k8s.ns.name", "k8snsname", NULL };
static const char *const VL_POD[] = { "k8s_pod_name", "k8s.pod.name", "output_fields.k8s.pod.name", "k8spodname",
				      NULL };
static const char *const VL_EXE[] = { "proc_exepath", "exe_path", "proc.exepath", "output_fields.proc.exepath",
				      "procexepath", NULL };
static const char *const VL_CONTAINER[] = { "container_id", "container", "container.id", "output_fields.container.id",
					    "containerid", NULL };
static const char *const VL_IMAGE_REPO[] = { "container_image_repository", "container.image.repository",
					     "output_fields.container.image.repository", "containerimagerepository",
					     NULL };
static const char *const VL_IMAGE_TAG[] = { "container_image_tag", "container.image.tag",
					    "output_fields.container.image.tag", "containerimagetag", NULL };
static const char *const VL_IMAGE[] = { "container_image", "container.image", "image", NULL };
static const char *const VL_CMDLINE[] = { "proc_cmdline", "proc.cmdline", "output_fields.proc.cmdline", "proccmdline",
					  NULL };
static const char *const VL_PARENT[] = { "proc_pname", "proc.pname", "output_fields.proc.pname", "procpname", NULL };
static const char *const VL_GPARENT[] = { "proc_aname2", "proc.aname[2]", "output_fields.proc.aname[2]", NULL };
static const char *const VL_MSG[] = { "_msg", "output", NULL };

static bool is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '[' || c == ']';
}

/*
 * KEY's value in Falco's output text "... (k1=v1 k2=v two k3=v3)": from
 * "KEY=" after a space or '(' up to the next " word=" or the final ')'.
 * The command line sits in the middle of that text and is the attacker's:
 * "x k8s_ns=flux-system" there must not become the namespace. Falco prints
 * the process fields before command= and the container and k8s fields after
 * it, so LAST takes the last occurrence (fields after the command) and
 * otherwise the first. A cmdline holding " x=y" is cut there: labels are
 * preferred to the text whenever VictoriaLogs has them.
 */
static int msg_field(const char *msg, const char *key, bool last, char **ret)
{
	size_t klen = strlen(key);
	const char *p = msg, *found = NULL, *v, *e;

	*ret = NULL;
	if (!msg)
		return 0;
	for (; (p = strstr(p, key)); p += klen) {
		if (p > msg && (p[-1] == ' ' || p[-1] == '(') && p[klen] == '=') {
			found = p;
			if (!last)
				break;
		}
	}
	if (!found)
		return 0;
	v = found + klen + 1;
	for (e = v; *e; e++) {
		if (*e == ' ') {
			const char *k = e + 1;

			while (is_key_char(*k))
				k++;
			if (k > e + 1 && *k == '=')
				break;
		}
	}
	if (!*e && e > v && e[-1] == ')')
		e--;
	if (e == v || (e - v == 4 && !strncmp(v, "<NA>", 4)))
		return 0;
	*ret = strndup(v, (size_t)(e - v));
	return *ret ? 0 : -ENOMEM;
}

static int field_or_msg(json_t *o, const char *const *names, const char *msg, const char *const *keys, bool last,
			char **ret)
{
	int r = dup_field(o, names, ret);

	for (; !r && !*ret && keys && *keys; keys++)
		r = msg_field(msg, *keys, last, ret);
	return r;
}

static int image_join(char *repo, char *tag, char **ret)
{
	*ret = NULL;
	if (repo && tag) {
		if (asprintf(ret, "%s:%s", repo, tag) < 0)
			*ret = NULL;
		free(repo);
		free(tag);
		return *ret ? 0 : -ENOMEM;
	}
	free(tag);
	*ret = repo;
	return 0;
}

static int event_from_vl(json_t *o, struct triage_event *ev)
{
	static const char *const K_NS[] = { "k8s_ns", "k8s.ns.name", NULL };
	static const char *const K_POD[] = { "k8s_pod_name", "k8s.pod.name", NULL };
	static const char *const K_EXE[] = { "proc_exepath", "exepath", NULL };
	static const char *const K_CONTAINER[] = { "container_id", NULL };
	static const char *const K_CMDLINE[] = { "command", "cmdline", NULL };
	static const char *const K_PARENT[] = { "parent", NULL };
	static const char *const K_GPARENT[] = { "gparent", NULL };
	static const char *const K_REPO[] = { "container_image" };
	static const char *const K_TAG[] = { "container_image_tag" };
	const char *msg = NULL, *t;
	char *repo = NULL, *tag = NULL;
	int r;

	for (const char *const *m = VL_MSG; *m && !msg; m++)
		msg = json_string_value(json_object_get(o, *m));
	t = json_string_value(json_object_get(o, "_time"));
	if (t && !(ev->time = strdup(t)))
		return -ENOMEM;
	if (t && triage_parse_time(t, &ev->time_ns))
		ev->time_ns = 0;
	if ((r = dup_field(o, VL_RULE, &ev->rule)) || (r = dup_field(o, VL_PRIORITY, &ev->priority)) ||
	    (r = dup_field(o, VL_HOSTNAME, &ev->hostname)) ||
	    (r = field_or_msg(o, VL_NS, msg, K_NS, true, &ev->namespace_)) ||
	    (r = field_or_msg(o, VL_POD, msg, K_POD, true, &ev->pod)) ||
	    (r = field_or_msg(o, VL_EXE, msg, K_EXE, false, &ev->exe_path)) ||
	    (r = field_or_msg(o, VL_CONTAINER, msg, K_CONTAINER, true, &ev->container_id)) ||
	    (r = field_or_msg(o, VL_CMDLINE, msg, K_CMDLINE, false, &ev->cmdline)) ||
	    (r = field_or_msg(o, VL_PARENT, msg, K_PARENT, false, &ev->parent)) ||
	    (r = field_or_msg(o, VL_GPARENT, msg, K_GPARENT, false, &ev->gparent)))
		return r;
	/* Repository and tag from the same place: labels, else the output text. */
	if ((r = dup_field(o, VL_IMAGE_REPO, &repo)) || (r = dup_field(o, VL_IMAGE_TAG, &tag)))
		goto out;
	if (!repo && (r = dup_field(o, VL_IMAGE, &repo)))
		goto out;
	if (!repo) {
		free(tag);
		tag = NULL;
		if ((r = msg_field(msg, K_REPO[0], true, &repo)))
			goto out;
		if (repo && (r = msg_field(msg, K_TAG[0], true, &tag)))
			goto out;
	}
	return image_join(repo, tag, &ev->image);
out:
	free(repo);
	free(tag);
	return r;
}

static bool is_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Up to BODY_EXCERPT bytes of TEXT's first line, for an error message. */
static void excerpt(char *out, size_t size, const char *text, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len && text[i] != '\n' && n + 1 < size && n < BODY_EXCERPT; i++)
		out[n++] = (unsigned char)text[i] >= 0x20 && (unsigned char)text[i] < 0x7f ? text[i] : '?';
	out[n] = '\0';
}

int triage_parse_victorialogs(const char *body, size_t len, struct triage_events *ret, char *err, size_t errlen)
{
	const char *p = body, *end = body + len;
	size_t lineno = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = (size_t)((nl ? nl : end) - p);
		struct triage_event ev = { 0 };
		json_error_t jerr;
		json_t *o;
		int r;

		lineno++;
		if (!is_blank(p, l)) {
			char what[BODY_EXCERPT + 1];

			o = json_loadb(p, l, 0, &jerr);
			if (!json_is_object(o)) {
				json_decref(o);
				excerpt(what, sizeof(what), p, l);
				return errbuf_set(err, errlen, -EBADMSG,
					    "answer line %zu is not a JSON object (%s): '%s'; is this VictoriaLogs' "
					    "/select/logsql/query?",
					    lineno, o ? "not an object" : jerr.text, what);
			}
			r = event_from_vl(o, &ev);
			json_decref(o);
			if (r) {
				event_clear(&ev);
				return errbuf_set(err, errlen, r, "out of memory reading the answer");
			}
			if (!ev.rule) { /* some other log line: not a Falco event */
				event_clear(&ev);
				ret->skipped++;
			} else if ((r = events_push(ret, &ev))) {
				return errbuf_set(err, errlen, r, "out of memory reading the answer");
			}
		}
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

/* BASE ("http://host:9428", with or without the endpoint path) -> the query endpoint. */
static int query_url(const char *base, char **ret, char *err, size_t errlen)
{
	static const char endpoint[] = "/select/logsql/query";
	size_t n;

	*ret = NULL;
	if (!base || !*base)
		return errbuf_set(err, errlen, -EINVAL, "no VictoriaLogs URL");
	if (strncmp(base, "http://", 7) && strncmp(base, "https://", 8))
		return errbuf_set(err, errlen, -EINVAL, "the VictoriaLogs URL is not http:// or https://");
	for (const char *c = base; *c; c++)
		if ((unsigned char)*c <= 0x20 || *c == 0x7f || *c == '?' || *c == '#')
			return errbuf_set(err, errlen, -EINVAL, "the VictoriaLogs URL must not hold spaces, a query or a fragment");
	n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	if (n >= sizeof(endpoint) - 1 && !strncmp(base + n - (sizeof(endpoint) - 1), endpoint, sizeof(endpoint) - 1))
		n -= sizeof(endpoint) - 1;
	if (asprintf(ret, "%.*s%s", (int)n, base, endpoint) < 0) {
		*ret = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* URL for messages: credentials in it ("user:secret@host") show as "***@host". */
static char *shown_url(const char *url)
{
	const char *host = strstr(url, "://"), *at, *slash;
	char *out;

	if (!host)
		return strdup(url);
	host += 3;
	slash = strchr(host, '/');
	at = memrchr(host, '@', slash ? (size_t)(slash - host) : strlen(host));
	if (!at)
		return strdup(url);
	if (asprintf(&out, "%.*s***%s", (int)(host - url), url, at) < 0)
		return NULL;
	return out;
}

int fetch_victorialogs(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		       char *err, size_t errlen)
{
	unsigned int timeout_ms = src->timeout_ms ? src->timeout_ms : TRIAGE_DEFAULT_TIMEOUT_S * 1000;
	unsigned int limit = q->limit ? q->limit : TRIAGE_DEFAULT_LIMIT;
	char *query = NULL, *url = NULL, *shown = NULL, *form = NULL, *esc = NULL;
	char errbuf[CURL_ERROR_SIZE] = "", what[BODY_EXCERPT + 1];
	struct http_body b = { .max = TRIAGE_BODY_MAX };
	long status = 0;
	CURLcode res;
	CURL *easy = NULL;
	int r;

	if ((r = triage_logsql(q, &query, err, errlen)) || (r = query_url(src->location, &url, err, errlen)))
		goto out;
	if (!(shown = shown_url(url))) {
		r = errbuf_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	easy = curl_easy_init();
	esc = easy ? curl_easy_escape(easy, query, 0) : NULL;
	if (!esc || asprintf(&form, "query=%s&limit=%u", esc, limit) < 0) {
		form = NULL;
		r = errbuf_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	/* POST: the query never lands in a proxy's access log or hits a URL length limit. */
	curl_easy_setopt(easy, CURLOPT_URL, url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, form);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "reflex-triage");
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, http_body_curl_sink);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(easy, CURLOPT_ACCEPT_ENCODING, "");
	res = curl_easy_perform(easy);
	if (res == CURLE_OPERATION_TIMEDOUT) {
		r = errbuf_set(err, errlen, -ETIMEDOUT, "VictoriaLogs %s: no complete answer within %u.%03u s (--timeout)", shown,
			 timeout_ms / 1000, timeout_ms % 1000);
		goto out;
	}
	if (b.too_large) {
		r = errbuf_set(err, errlen, -EFBIG, "VictoriaLogs %s: answer over %u MiB; narrow --since or --rule, or lower --limit",
			 shown, TRIAGE_BODY_MAX >> 20);
		goto out;
	}
	if (res != CURLE_OK) {
		r = errbuf_set(err, errlen, res == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO, "VictoriaLogs %s: %s", shown,
			 errbuf[0] ? errbuf : curl_easy_strerror(res));
		goto out;
	}
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		excerpt(what, sizeof(what), b.data ? b.data : "", b.len);
		r = errbuf_set(err, errlen, -EPROTO, "VictoriaLogs %s answered HTTP %ld: %s", shown, status,
			 what[0] ? what : "(empty body)");
		goto out;
	}
	if ((r = triage_parse_victorialogs(b.data ? b.data : "", b.len, ret, err, errlen))) {
		/* Say which server: the parser only knows the line. */
		char inner[512];

		snprintf(inner, sizeof(inner), "%s", err ? err : "");
		errbuf_set(err, errlen, r, "VictoriaLogs %s: %s", shown, inner);
		goto out;
	}
	ret->truncated = ret->n + ret->skipped >= limit;
	if (asprintf(&ret->origin, "VictoriaLogs %s (limit %u)", shown, limit) < 0) {
		ret->origin = NULL;
		r = errbuf_set(err, errlen, -ENOMEM, "out of memory");
		goto out;
	}
	ret->query = query;
	query = NULL;
out:
	free(b.data);
	if (esc)
		curl_free(esc);
	if (easy)
		curl_easy_cleanup(easy);
	free(form);
	free(url);
	free(shown);
	free(query);
	return r;
}
