// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

#include "gelf.h"
#include "util.h"

#define REPLY_MAX 200u /* bytes of an HTTP error body kept for the reason */

/* S for a reason text, cut to fit BUF; control characters and non-ASCII as '?'. */
static const char *printable(const char *s, char *buf, size_t size)
{
	size_t i;

	for (i = 0; s[i] && i + 1 < size; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* \w of Graylog's Java regex is ASCII: [A-Za-z0-9_]; dots and dashes too. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

/* NULL when NAME may be an additional field, else why not. */
static const char *additional_name_problem(const char *name)
{
	if (name[0] != '_')
		return "additional field names start with '_'";
	if (!name[1])
		return "'_' alone is no field name";
	for (const char *p = name; *p; p++)
		if (!name_char(*p))
			return "field names must match ^[\\w\\.\\-]*$";
	if (!strcmp(name, "_id"))
		return "_id is reserved (Graylog's message id)";
	return NULL;
}

static bool blank(const char *s)
{
	return s[strspn(s, " \t\r\n\v\f")] == '\0';
}

static const char *const standard_fields[] = { "version", "host",  "short_message", "full_message", "timestamp",
					       "level",   "facility", "line",         "file" };

static const char *const string_fields[] = { "full_message", "facility", "file" };

static bool standard_field(const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(standard_fields); i++)
		if (!strcmp(key, standard_fields[i]))
			return true;
	return false;
}

static int check_gelf(json_t *o, char *err, size_t errlen)
{
	const char *key;
	char buf[80];
	json_t *v;

	v = json_object_get(o, "version");
	if (!json_is_string(v) || strcmp(json_string_value(v), "1.1"))
		return errbuf_set(err, errlen, -EINVAL, "\"version\" must be the string \"1.1\"");
	v = json_object_get(o, "host");
	if (!json_is_string(v) || blank(json_string_value(v)))
		return errbuf_set(err, errlen, -EINVAL, "\"host\" must be a non-empty string");
	v = json_object_get(o, "short_message");
	if (!json_is_string(v) || blank(json_string_value(v)))
		return errbuf_set(err, errlen, -EINVAL, "\"short_message\" must be a non-empty string");
	v = json_object_get(o, "timestamp");
	if (v && !json_is_number(v))
		return errbuf_set(err, errlen, -EINVAL, "\"timestamp\" must be a number (seconds since the epoch)");
	v = json_object_get(o, "level");
	if (v && (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 7))
		return errbuf_set(err, errlen, -EINVAL, "\"level\" must be an integer from 0 to 7");
	v = json_object_get(o, "line");
	if (v && !json_is_number(v))
		return errbuf_set(err, errlen, -EINVAL, "\"line\" must be a number");
	for (size_t i = 0; i < ARRAY_SIZE(string_fields); i++) {
		v = json_object_get(o, string_fields[i]);
		if (v && !json_is_string(v))
			return errbuf_set(err, errlen, -EINVAL, "\"%s\" must be a string", string_fields[i]);
	}
	json_object_foreach(o, key, v) {
		const char *problem;

		if (standard_field(key))
			continue;
		problem = additional_name_problem(key);
		if (problem)
			return errbuf_set(err, errlen, -EINVAL, "field \"%s\": %s", printable(key, buf, sizeof(buf)),
					  problem);
		if (!json_is_string(v) && !json_is_number(v))
			return errbuf_set(err, errlen, -EINVAL, "field \"%s\": value must be a string or a number",
					  printable(key, buf, sizeof(buf)));
	}
	return 0;
}

int gelf_validate(const char *gelf_json, size_t len, char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *o;
	int ret;

	if (!gelf_json)
		return errbuf_set(err, errlen, -EINVAL, "no message");
	o = json_loadb(gelf_json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!o)
		return errbuf_set(err, errlen, -EINVAL, "not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
				  jerr.column);
	if (!json_is_object(o))
		ret = errbuf_set(err, errlen, -EINVAL, "not a JSON object");
	else
		ret = check_gelf(o, err, errlen);
	json_decref(o);
	return ret;
}

/* N digits at *P into *RET; advances *P. */
static bool digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return false;
		v = v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	*ret = v;
	return true;
}

/* Days from 1970-01-01 to Y-M-D, proleptic Gregorian (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/*
 * RFC 3339 date-time, "YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)", to
 * seconds and microseconds since the epoch; a finer fraction is truncated.
 * Leap seconds (:60) and times before 1970 are refused.
 */
static int parse_rfc3339(const char *s, int64_t *ret_sec, long *ret_usec)
{
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 0;
	long usec = 0;
	int64_t t;

	if (!digits(&s, 4, &y) || *s++ != '-' || !digits(&s, 2, &mo) || *s++ != '-' || !digits(&s, 2, &d) ||
	    (*s != 'T' && *s != 't'))
		return -EINVAL;
	s++;
	if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi) || *s++ != ':' || !digits(&s, 2, &sec))
		return -EINVAL;
	if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return -EINVAL;
	if (*s == '.') {
		int n = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, n++)
			if (n < 6)
				usec = usec * 10 + (*s - '0');
		if (!n)
			return -EINVAL;
		for (; n < 6; n++)
			usec *= 10;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '+' ? 1 : -1;
		if (!digits(&s, 2, &oh) || *s++ != ':' || !digits(&s, 2, &om) || oh > 23 || om > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	if (t < 0)
		return -EINVAL;
	*ret_sec = t;
	*ret_usec = usec;
	return 0;
}

/* A non-empty string field of O, else NULL. */
static const char *str_field(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s && *s ? s : NULL;
}

/* The documented outcome -> syslog severity mapping. */
static int level_for(const char *outcome, bool dry_run)
{
	static const struct {
		const char *outcome;
		int level;
	} levels[] = {
		{ "killed", 2 }, { "failed", 2 }, { "refused", 4 }, { "dry_run", 4 }, { "disarmed", 4 },
		{ "alert", 5 },  { "denied", 5 },
	};

	if (!outcome)
		return dry_run ? 4 : 6;
	for (size_t i = 0; i < ARRAY_SIZE(levels); i++)
		if (!strcmp(outcome, levels[i].outcome))
			return levels[i].level;
	return 6;
}

/* Bytes of S's first MAX that end on a UTF-8 character boundary. */
static int utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == max)
		while (n && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	return (int)n;
}

/* "[DRY_RUN ]reflex: ACTION OUTCOME TARGET[ (RULE)]"; NULL on ENOMEM. */
static char *short_message(json_t *rec, bool dry_run)
{
	const char *ns = str_field(rec, "namespace"), *pod = str_field(rec, "pod");
	const char *cid = str_field(rec, "container_id"), *rule = str_field(rec, "rule");
	const char *action = str_field(rec, "action"), *outcome = str_field(rec, "outcome");
	char *target = NULL, *msg = NULL;
	int rc;

	if (ns && pod)
		rc = asprintf(&target, "%s/%s", ns, pod);
	else if (pod || ns)
		rc = asprintf(&target, "%s", pod ? pod : ns);
	else if (cid)
		rc = asprintf(&target, "container %.*s", utf8_prefix(cid, 12), cid);
	else
		rc = asprintf(&target, "-");
	if (rc < 0)
		return NULL;
	rc = asprintf(&msg, "%sreflex: %s %s %s%s%s%s", dry_run ? "DRY_RUN " : "", action ? action : "unknown",
		      outcome ? outcome : "unknown", target, rule ? " (" : "", rule ? rule : "", rule ? ")" : "");
	free(target);
	return rc < 0 ? NULL : msg;
}

/* Graylog-side names (after the leading '_' is stripped) it drops, keeps for itself or refuses. */
static const char *const reserved_names[] = {
	"id",    "source", "timestamp", "message", "full_message", "short_message", "host",
	"version", "level", "facility", "file",    "line",         "streams",       "_id",
	"_ttl",  "_source", "_all",     "_index",  "_type",        "_score",
};

static bool reserved_name(const char *key)
{
	if (!*key || !strncmp(key, "gl2_", 4))
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(reserved_names); i++)
		if (!strcmp(key, reserved_names[i]))
			return true;
	return false;
}

/* The additional field name for record key KEY not yet in OUT; NULL on ENOMEM. */
static char *field_name(json_t *out, const char *key)
{
	size_t n = strlen(key);
	char *clean = malloc(n + 1), *name = NULL, *alt = NULL;

	if (!clean)
		return NULL;
	for (size_t i = 0; i < n; i++)
		clean[i] = name_char(key[i]) ? key[i] : '_';
	clean[n] = '\0';
	if (asprintf(&name, "%s%s", reserved_name(clean) ? "_audit_" : "_", clean) < 0)
		name = NULL;
	free(clean);
	/* Two keys cleaned to one name: the later one gets a suffix, neither is lost. */
	for (unsigned int i = 2; name && json_object_get(out, name); i++) {
		if (asprintf(&alt, "%s_%u", name, i) < 0)
			alt = NULL;
		if (!alt || !json_object_get(out, alt)) {
			free(name);
			return alt;
		}
		free(alt);
	}
	return name;
}

/* V as an additional field value; NULL with *ERR untouched: left out (null). */
static json_t *field_value(json_t *v, int *err)
{
	json_t *j = NULL;
	char *text;

	switch (json_typeof(v)) {
	case JSON_STRING:
	case JSON_INTEGER:
	case JSON_REAL:
		return json_incref(v);
	case JSON_TRUE:
	case JSON_FALSE:
		j = json_string(json_is_true(v) ? "true" : "false");
		break;
	case JSON_OBJECT:
	case JSON_ARRAY:
		text = json_dumps(v, JSON_COMPACT);
		if (text)
			j = json_string(text);
		free(text);
		break;
	case JSON_NULL:
		return NULL;
	}
	if (!j)
		*err = -ENOMEM;
	return j;
}

/* Like audit.c: adds KEY unless an earlier step failed; always takes VALUE's reference. */
static void add(json_t *obj, const char *key, json_t *value, int *err)
{
	if (*err) {
		json_decref(value);
		return;
	}
	if (!value || json_object_set_new(obj, key, value))
		*err = -ENOMEM;
}

static int add_record_fields(json_t *out, json_t *rec)
{
	const char *key;
	json_t *v, *value;
	char *name;
	int err = 0;

	json_object_foreach(rec, key, v) {
		value = field_value(v, &err);
		if (err)
			return err;
		if (!value)
			continue;
		name = field_name(out, key);
		if (!name) {
			json_decref(value);
			return -ENOMEM;
		}
		add(out, name, value, &err);
		free(name);
		if (err)
			return err;
	}
	return 0;
}

/*
 * jansson prints a real with up to 17 significant digits, and 1795347602.123456
 * is no exact double: the timestamp goes in as the integer seconds, second
 * key, and gets its six decimals here, in the text.
 */
static char *splice_usec(char *text, long usec)
{
	static const char head[] = "{\"version\":\"1.1\",\"timestamp\":";
	size_t hl = sizeof(head) - 1, len = strlen(text), at;
	char frac[24], *out;

	if (strncmp(text, head, hl))
		return NULL;
	at = hl + strspn(text + hl, "0123456789");
	out = malloc(len + 8);
	if (!out)
		return NULL;
	snprintf(frac, sizeof(frac), ".%06ld", usec % 1000000);
	memcpy(out, text, at);
	memcpy(out + at, frac, 7);
	memcpy(out + at + 7, text + at, len - at + 1);
	return out;
}

/* F->host, the record's node, or this machine's name; NULL when none is usable. */
static json_t *host_json(const struct gelf_fields *f, json_t *rec)
{
	char name[HOST_NAME_MAX + 1];
	const char *node = str_field(rec, "node");

	if (f->host && *f->host)
		return blank(f->host) ? NULL : json_string(f->host);
	if (node && !blank(node))
		return json_string(node);
	if (gethostname(name, sizeof(name)))
		return NULL;
	name[sizeof(name) - 1] = '\0';
	return blank(name) ? NULL : json_string(name);
}

int gelf_message_from_audit(const char *audit_json, size_t len, const struct gelf_fields *f, char **ret_json)
{
	static const struct gelf_fields defaults;
	const char *stream_field, *stream, *reason;
	char *msg = NULL, *text = NULL, *spliced = NULL;
	json_t *rec = NULL, *out = NULL, *host = NULL, *dry;
	int64_t sec;
	long usec;
	bool dry_run;
	int err = 0;

	if (!audit_json || !ret_json)
		return -EINVAL;
	if (!f)
		f = &defaults;
	stream_field = f->stream_field ? f->stream_field : GELF_DEFAULT_STREAM_FIELD;
	stream = f->stream ? f->stream : GELF_DEFAULT_STREAM;
	if (additional_name_problem(stream_field))
		return -EINVAL;
	rec = json_loadb(audit_json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(rec) || !json_is_string(json_object_get(rec, "timestamp")) ||
	    parse_rfc3339(json_string_value(json_object_get(rec, "timestamp")), &sec, &usec)) {
		err = -EINVAL;
		goto out;
	}
	/* Not UTF-8 (jansson refuses it) or blank: no host is better than a wrong one. */
	host = host_json(f, rec);
	if (!host) {
		err = -EINVAL;
		goto out;
	}
	dry = json_object_get(rec, "dry_run");
	dry_run = json_is_true(dry) || (str_field(rec, "outcome") && !strcmp(str_field(rec, "outcome"), "dry_run"));
	msg = short_message(rec, dry_run);
	out = json_object();
	if (!msg || !out) {
		err = -ENOMEM;
		goto out;
	}
	/* Insertion order is the output order (jansson >= 2.8); splice_usec relies on the first two. */
	add(out, "version", json_string("1.1"), &err);
	add(out, "timestamp", json_integer((json_int_t)sec), &err);
	add(out, "host", host, &err);
	host = NULL;
	add(out, "short_message", json_string(msg), &err);
	/*
	 * full_message is the long text: what reflex found and did (detail);
	 * the operator's reason stays short in _reason. A record without a
	 * detail keeps its reason there.
	 */
	reason = json_string_value(json_object_get(rec, "detail"));
	if (!reason)
		reason = json_string_value(json_object_get(rec, "reason"));
	if (reason)
		add(out, "full_message", json_string(reason), &err);
	add(out, "level", json_integer(level_for(str_field(rec, "outcome"), json_is_true(dry))), &err);
	if (*stream) {
		json_t *sj = json_string(stream);

		/* A configured value that is not UTF-8 is the caller's mistake, not ENOMEM. */
		if (!sj && !err)
			err = -EINVAL;
		add(out, stream_field, sj, &err);
	}
	if (!err)
		err = add_record_fields(out, rec);
	/*
	 * A chained record (writer, seq, prev_sha256) travels with its exact
	 * line, so the reconciliation can check the chain's hashes from Graylog.
	 */
	if (!err && json_object_get(rec, "writer"))
		add(out, "_audit_line", json_stringn(audit_json, len), &err);
	if (err)
		goto out;
	text = json_dumps(out, JSON_COMPACT);
	if (!text) {
		err = -ENOMEM;
		goto out;
	}
	spliced = splice_usec(text, usec);
	if (!spliced) {
		err = -ENOMEM;
		goto out;
	}
	*ret_json = spliced;
out:
	free(text);
	free(msg);
	json_decref(host);
	json_decref(out);
	json_decref(rec);
	return err;
}

/* Senders. */

struct gelf_sender {
	char *http_url;
	char *udp_address; /* as configured, for reasons */
	char *udp_host;
	char *udp_port;
	size_t chunk_size;
	unsigned int timeout_ms;
	CURL *curl;
	struct curl_slist *headers;
	char curl_err[CURL_ERROR_SIZE];
	char reply[REPLY_MAX + 1];
	size_t reply_len;
	uint64_t counter; /* message ids when getrandom() has nothing */
};

/* "host:port" or "[v6]:port" into host and port; names resolve at send time. */
static int split_address(const char *address, char **ret_host, char **ret_port)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV, .ai_family = AF_INET6,
				  .ai_socktype = SOCK_DGRAM };
	struct addrinfo *res = NULL;
	const char *host, *port, *end;
	size_t host_len;

	if (address[0] == '[') {
		host = address + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		port = end + 2;
	} else {
		host = address;
		end = strrchr(address, ':');
		/* An unbracketed v6 address has more than one colon. */
		if (!end || memchr(address, ':', (size_t)(end - address)))
			return -EINVAL;
		port = end + 1;
		for (const char *p = host; p < end; p++)
			if (!name_char(*p))
				return -EINVAL;
	}
	host_len = (size_t)(end - host);
	/* Digits only, 1..65535: getaddrinfo would take " 80" or "+80". */
	if (!host_len || !*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) ||
	    atoi(port) < 1 || atoi(port) > 65535)
		return -EINVAL;
	*ret_host = strndup(host, host_len);
	*ret_port = strdup(port);
	if (!*ret_host || !*ret_port)
		return -ENOMEM;
	/* Brackets are for numeric v6 only. */
	if (address[0] == '[') {
		if (getaddrinfo(*ret_host, *ret_port, &hints, &res))
			return -EINVAL;
		freeaddrinfo(res);
	}
	return 0;
}

static bool http_url_valid(const char *url)
{
	CURLU *u;
	bool ok;

	if (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8))
		return false;
	u = curl_url();
	if (!u)
		return false;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK;
	curl_url_cleanup(u);
	return ok;
}

/* Keeps the start of an error body for the reason; the rest is read and dropped. */
static size_t on_reply(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct gelf_sender *s = userdata;
	size_t n = size * nmemb, room = REPLY_MAX - s->reply_len;

	if (room) {
		memcpy(s->reply + s->reply_len, ptr, n < room ? n : room);
		s->reply_len += n < room ? n : room;
		s->reply[s->reply_len] = '\0';
	}
	return n;
}

static int http_setup(struct gelf_sender *s)
{
	static const char *const headers[] = { "Content-Type: application/json", "Content-Encoding: gzip",
					       /* No 100-continue round trip for bodies over 1 KiB. */
					       "Expect:" };
	struct curl_slist *l;

	s->curl = curl_easy_init();
	if (!s->curl)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(headers); i++) {
		l = curl_slist_append(s->headers, headers[i]);
		if (!l)
			return -ENOMEM;
		s->headers = l;
	}
	/* Direct: a proxy from the environment must not carry audit records elsewhere. */
	if (curl_easy_setopt(s->curl, CURLOPT_URL, s->http_url) || curl_easy_setopt(s->curl, CURLOPT_PROXY, "") ||
	    curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "http,https") ||
	    curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L) ||
	    curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)s->timeout_ms) ||
	    curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->timeout_ms) ||
	    curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "reflex-gelf") ||
	    curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, s->curl_err) ||
	    curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_reply) ||
	    curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s) ||
	    curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers) || curl_easy_setopt(s->curl, CURLOPT_POST, 1L))
		return -EINVAL;
	return 0;
}

int gelf_sender_new(const struct gelf_sender_config *c, struct gelf_sender **ret)
{
	struct gelf_sender *s;
	int err = 0;

	if (!c || !ret || (!c->http_url && !c->udp_address) ||
	    (c->udp_chunk_size && (c->udp_chunk_size <= GELF_CHUNK_HEADER_SIZE ||
				   c->udp_chunk_size > GELF_MAX_UDP_CHUNK_SIZE)) ||
	    (c->http_url && !http_url_valid(c->http_url)))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->chunk_size = c->udp_chunk_size ? c->udp_chunk_size : GELF_DEFAULT_UDP_CHUNK_SIZE;
	s->timeout_ms = c->timeout_ms ? c->timeout_ms : GELF_DEFAULT_TIMEOUT_MS;
	if (c->udp_address) {
		s->udp_address = strdup(c->udp_address);
		err = s->udp_address ? split_address(c->udp_address, &s->udp_host, &s->udp_port) : -ENOMEM;
	}
	if (!err && c->http_url) {
		s->http_url = strdup(c->http_url);
		err = s->http_url ? http_setup(s) : -ENOMEM;
	}
	if (err) {
		gelf_sender_free(s);
		return err;
	}
	*ret = s;
	return 0;
}

void gelf_sender_free(struct gelf_sender *s)
{
	if (!s)
		return;
	curl_easy_cleanup(s->curl);
	curl_slist_free_all(s->headers);
	free(s->http_url);
	free(s->udp_address);
	free(s->udp_host);
	free(s->udp_port);
	free(s);
}

/* gzip (RFC 1952) of IN: what Graylog's HTTP input takes with Content-Encoding: gzip. */
static int gzip(const char *in, size_t len, unsigned char **ret, size_t *ret_len)
{
	z_stream zs = { 0 };
	unsigned char *out;
	uLong bound;
	int rc;

	if (len > UINT_MAX)
		return -EMSGSIZE;
	if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	bound = deflateBound(&zs, (uLong)len);
	out = malloc(bound);
	if (!out) {
		deflateEnd(&zs);
		return -ENOMEM;
	}
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)len;
	zs.next_out = out;
	zs.avail_out = (uInt)bound;
	rc = deflate(&zs, Z_FINISH);
	*ret_len = zs.total_out;
	deflateEnd(&zs);
	if (rc != Z_STREAM_END) {
		free(out);
		return -ENOMEM;
	}
	*ret = out;
	return 0;
}

static int curl_errno(CURL *c, CURLcode rc)
{
	long os = 0;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		/* The connect's own errno: refused, unreachable network or host. */
		if (curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os) == CURLE_OK && os > 0 && os < 4096)
			return -(int)os;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

static int send_http(struct gelf_sender *s, const char *json, size_t len, char *err, size_t errlen)
{
	unsigned char *body = NULL;
	size_t body_len = 0;
	char excerpt[REPLY_MAX + 1];
	long code = 0;
	CURLcode rc;
	int ret;

	ret = gzip(json, len, &body, &body_len);
	if (ret)
		return errbuf_set(err, errlen, ret, "%s: cannot compress: %s", s->http_url, strerror(-ret));
	s->curl_err[0] = '\0';
	s->reply_len = 0;
	s->reply[0] = '\0';
	if (curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, body) ||
	    curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len)) {
		ret = errbuf_set(err, errlen, -EIO, "%s: libcurl refused the body", s->http_url);
		goto out;
	}
	rc = curl_easy_perform(s->curl);
	if (rc) {
		ret = errbuf_set(err, errlen, curl_errno(s->curl, rc), "%s: %s", s->http_url,
				 s->curl_err[0] ? s->curl_err : curl_easy_strerror(rc));
		goto out;
	}
	if (curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK || code < 200 || code > 299) {
		printable(s->reply, excerpt, sizeof(excerpt));
		ret = errbuf_set(err, errlen, -EIO, "%s: HTTP %ld%s%s", s->http_url, code, excerpt[0] ? ": " : "",
				 excerpt);
	}
out:
	/* The handle must not keep a pointer to freed memory; the next send sets it again. */
	(void)curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, NULL);
	free(body);
	return ret;
}

/* A UDP socket connected to the first address of S's destination that takes one. */
static int udp_connect(struct gelf_sender *s, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICSERV, .ai_socktype = SOCK_DGRAM };
	struct timeval tv = { .tv_sec = s->timeout_ms / 1000, .tv_usec = (s->timeout_ms % 1000) * 1000 };
	struct addrinfo *res = NULL;
	int fd = -1, ret = -EHOSTUNREACH, rc;

	rc = getaddrinfo(s->udp_host, s->udp_port, &hints, &res);
	if (rc)
		return errbuf_set(err, errlen, util_gai_errno(rc, -EHOSTUNREACH), "udp %s: %s", s->udp_address,
				  gai_strerror(rc));
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (fd < 0) {
			ret = -errno;
			continue;
		}
		/* A full send buffer must not hold the caller longer than the timeout. */
		if (!setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) &&
		    !connect(fd, ai->ai_addr, ai->ai_addrlen))
			break;
		ret = -errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0)
		return errbuf_set(err, errlen, ret, "udp %s: %s", s->udp_address, strerror(-ret));
	return fd;
}

/* splitmix64: spreads a counter into an id when the kernel has no random bytes to give. */
static uint64_t mix64(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* Graylog reassembles by id alone, from every sender: random, so two agents never collide. */
static void message_id(struct gelf_sender *s, unsigned char id[8])
{
	struct timespec ts = { 0 };
	uint64_t x;

	if (getrandom(id, 8, GRND_NONBLOCK) == 8)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	x = mix64(s->counter++ ^ mix64((uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec) ^
		  mix64((uint64_t)getpid() ^ (uint64_t)(uintptr_t)s));
	memcpy(id, &x, 8);
}

static int send_all(int fd, const unsigned char *buf, size_t len)
{
	ssize_t n;

	do
		n = send(fd, buf, len, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? -ETIMEDOUT : -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static int send_udp(struct gelf_sender *s, const char *json, size_t len, char *err, size_t errlen)
{
	size_t payload = s->chunk_size - GELF_CHUNK_HEADER_SIZE, count, off;
	unsigned char *z = NULL, *dgram = NULL, id[8];
	uLongf zlen;
	int fd = -1, ret = 0;

	zlen = compressBound((uLong)len);
	z = malloc(zlen);
	if (!z)
		return errbuf_set(err, errlen, -ENOMEM, "udp %s: out of memory", s->udp_address);
	if (compress2(z, &zlen, (const Bytef *)json, (uLong)len, Z_DEFAULT_COMPRESSION) != Z_OK) {
		ret = errbuf_set(err, errlen, -ENOMEM, "udp %s: cannot compress", s->udp_address);
		goto out;
	}
	count = zlen <= s->chunk_size ? 1 : (zlen + payload - 1) / payload;
	if (count > GELF_MAX_CHUNKS) {
		ret = errbuf_set(err, errlen, -EMSGSIZE,
				 "udp %s: %lu bytes compressed need %zu chunks of %zu, more than GELF's %u",
				 s->udp_address, (unsigned long)zlen, count, s->chunk_size, GELF_MAX_CHUNKS);
		goto out;
	}
	fd = udp_connect(s, err, errlen);
	if (fd < 0) {
		ret = fd;
		goto out;
	}
	if (count == 1) {
		ret = send_all(fd, z, zlen);
		if (ret)
			errbuf_set(err, errlen, ret, "udp %s: %s", s->udp_address, strerror(-ret));
		goto out;
	}
	dgram = malloc(s->chunk_size);
	if (!dgram) {
		ret = errbuf_set(err, errlen, -ENOMEM, "udp %s: out of memory", s->udp_address);
		goto out;
	}
	message_id(s, id);
	dgram[0] = 0x1e;
	dgram[1] = 0x0f;
	memcpy(dgram + 2, id, sizeof(id));
	dgram[11] = (unsigned char)count;
	off = 0;
	for (size_t i = 0; i < count; i++) {
		size_t n = zlen - off < payload ? zlen - off : payload;

		dgram[10] = (unsigned char)i;
		memcpy(dgram + GELF_CHUNK_HEADER_SIZE, z + off, n);
		ret = send_all(fd, dgram, GELF_CHUNK_HEADER_SIZE + n);
		if (ret) {
			errbuf_set(err, errlen, ret, "udp %s: chunk %zu of %zu: %s", s->udp_address, i + 1, count,
				   strerror(-ret));
			goto out;
		}
		off += n;
	}
out:
	if (fd >= 0)
		close(fd);
	free(dgram);
	free(z);
	return ret;
}

int gelf_send(struct gelf_sender *s, const char *gelf_json, size_t len, char *err, size_t errlen)
{
	char http_err[512] = "", udp_err[512] = "";
	int ret, http_ret = 0, udp_ret = 0;

	if (!s || !gelf_json)
		return errbuf_set(err, errlen, -EINVAL, "no sender or no message");
	ret = gelf_validate(gelf_json, len, err, errlen);
	if (ret)
		return ret;
	if (s->http_url)
		http_ret = send_http(s, gelf_json, len, http_err, sizeof(http_err));
	if (s->udp_host)
		udp_ret = send_udp(s, gelf_json, len, udp_err, sizeof(udp_err));
	if (http_ret && udp_ret)
		return errbuf_set(err, errlen, http_ret, "%s; %s", http_err, udp_err);
	if (http_ret)
		return errbuf_set(err, errlen, http_ret, "%s", http_err);
	if (udp_ret)
		return errbuf_set(err, errlen, udp_ret, "%s", udp_err);
	return 0;
}
