// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * `reflex triage`; see triage.h. The runbook's steps share one event model:
 * whatever the source, an event is the few Falco fields a person triages on
 * (rule, namespace, pod, exe, image, parent, cmdline). Input is hostile, so
 * displayed text is made printable, generated YAML is ASCII with every value
 * double-quoted and escaped, and nothing from an event reaches a shell.
 */
#include <errno.h>
#include <fnmatch.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <yaml.h>

#include "falco_alert.h"
#include "triage.h"
#include "http_body.h"
#include "util.h"

#define BASELINE_MAX_BYTES (1 << 20)
#define BASELINE_MAX_ITEMS 10000
#define FILE_LINE_MAX FALCO_ALERT_MAX_BYTES_DEFAULT
#define DURATION_MAX_S (10LL * 366 * 86400) /* ten years: far beyond any retention */
#define BODY_EXCERPT 200

/* ---- small helpers ------------------------------------------------------ */

/* Messages end up on a terminal: one line of printable ASCII whatever the input held. */
static void printable_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A growing string; OOM is sticky and reported by sb_take. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->s, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->s = p;
	b->cap = cap;
	return true;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_putn(b, s, strlen(s));
}

static void sb_putc(struct sbuf *b, char c)
{
	sb_putn(b, &c, 1);
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->oom)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if (!sb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void sb_free(struct sbuf *b)
{
	free(b->s);
	memset(b, 0, sizeof(*b));
}

/* The string (caller frees), or NULL after an allocation failure. */
static char *sb_take(struct sbuf *b)
{
	char *s;

	if (b->oom) {
		sb_free(b);
		return NULL;
	}
	s = b->s ? b->s : strdup("");
	memset(b, 0, sizeof(*b));
	return s;
}

/* One UTF-8 sequence at S (LEN bytes left): its length and code point, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t n;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		*cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		*cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		*cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && (*cp < 0x800 || (*cp >= 0xd800 && *cp <= 0xdfff))) ||
	    (n == 4 && (*cp < 0x10000 || *cp > 0x10ffff)))
		return 0;
	return n;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n;
	uint32_t cp;

	for (size_t i = 0; i < len; i += n)
		if (!(n = utf8_decode(p + i, len - i, &cp)))
			return false;
	return true;
}

/*
 * Display text: ASCII controls, C1 controls, line separators and invalid
 * UTF-8 become '?' (a hostile cmdline must not drive the terminal); cut at
 * MAX bytes with "...". NULL shows as "-".
 */
static void sb_text(struct sbuf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len, n, out = 0;
	uint32_t cp;

	if (!s) {
		sb_putc(b, '-');
		return;
	}
	len = strlen(s);
	for (size_t i = 0; i < len; i += n) {
		if (max && out >= max) {
			sb_puts(b, "...");
			return;
		}
		n = utf8_decode(p + i, len - i, &cp);
		if (!n) {
			n = 1;
			sb_putc(b, '?');
		} else if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029) {
			sb_putc(b, '?');
		} else {
			sb_putn(b, s + i, n);
		}
		out += n;
	}
}

/* YAML comments: printable ASCII only, one line. */
static void sb_comment(struct sbuf *b, const char *s)
{
	for (; s && *s; s++)
		sb_putc(b, (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
}

/*
 * A YAML double-quoted scalar that reads back as exactly S: ASCII only, with
 * '\\', '"', controls and every non-ASCII code point escaped (so no line
 * break or BOM can end the scalar). S must be valid UTF-8.
 */
static void sb_yaml_quoted(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n;
	uint32_t cp;

	sb_putc(b, '"');
	for (size_t i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &cp);
		if (!n) { /* callers check utf8_valid first; never emit a raw byte */
			n = 1;
			cp = 0xfffd;
		}
		if (cp == '"' || cp == '\\')
			sb_printf(b, "\\%c", (char)cp);
		else if (cp >= 0x20 && cp < 0x7f)
			sb_putc(b, (char)cp);
		else if (cp < 0x100)
			sb_printf(b, "\\x%02x", (unsigned int)cp);
		else if (cp < 0x10000)
			sb_printf(b, "\\u%04x", (unsigned int)cp);
		else
			sb_printf(b, "\\U%08x", (unsigned int)cp);
	}
	sb_putc(b, '"');
}

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

/* fnmatch(3) glob matching exactly S: the metacharacters escaped. */
static void sb_glob_literal(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("*?[]\\", *s))
			sb_putc(b, '\\');
		sb_putc(b, *s);
	}
}

/* ---- durations, times, priorities -------------------------------------- */

int triage_parse_duration(const char *s, int64_t *ret_seconds)
{
	int64_t total = 0;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		int64_t n = 0, unit;

		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			n = n * 10 + (*s - '0');
			if (n > DURATION_MAX_S)
				return -EINVAL;
		}
		switch (*s++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -EINVAL;
		}
		total += n * unit;
		if (total > DURATION_MAX_S)
			return -EINVAL;
	}
	if (total <= 0)
		return -EINVAL;
	*ret_seconds = total;
	return 0;
}

static int digits(const char **p, int n, int *ret)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (**p < '0' || **p > '9')
			return -EINVAL;
		v = v * 10 + (**p - '0');
	}
	*ret = v;
	return 0;
}

int triage_parse_time(const char *s, int64_t *ret_ns)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int year, mon, day, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
	int64_t frac = 0, scale = 1000000000;
	struct tm tm = { 0 };
	const char *p = s;
	time_t t;

	if (!s || digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &mon) || *p++ != '-' || digits(&p, 2, &day))
		return -EINVAL;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -EINVAL;
	p++;
	if (digits(&p, 2, &hour) || *p++ != ':' || digits(&p, 2, &min) || *p++ != ':' || digits(&p, 2, &sec))
		return -EINVAL;
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -EINVAL;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale > 1) {
				scale /= 10;
				frac += (*p - '0') * scale;
			}
		}
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &off_h) || *p++ != ':' || digits(&p, 2, &off_m) || off_h > 23 || off_m > 59)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (*p || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] || hour > 23 || min > 59 || sec > 60 ||
	    year < 1970)
		return -EINVAL;
	if (mon == 2 && day == 29 && !((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	t -= sign * (off_h * 3600 + off_m * 60);
	if (t < 0 || t > INT64_MAX / 1000000000 - 1)
		return -EINVAL;
	*ret_ns = (int64_t)t * 1000000000 + frac;
	return 0;
}

static char *format_time(int64_t ns)
{
	time_t t = (time_t)(ns / 1000000000);
	char date[32], *out;
	struct tm tm;

	if (!gmtime_r(&t, &tm))
		return NULL;
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	if (asprintf(&out, "%s.%09lldZ", date, (long long)(ns % 1000000000)) < 0)
		return NULL;
	return out;
}

const char *triage_priority_name(const char *name)
{
	static const char *const names[] = { "Emergency", "Alert",	   "Critical", "Error",
					     "Warning",	  "Notice", "Informational", "Debug" };

	for (size_t i = 0; name && i < ARRAY_SIZE(names); i++)
		if (!strcasecmp(name, names[i]))
			return names[i];
	return NULL;
}

/* ---- events ------------------------------------------------------------- */

static void event_clear(struct triage_event *e)
{
	free(e->time);
	free(e->rule);
	free(e->priority);
	free(e->namespace_);
	free(e->pod);
	free(e->exe_path);
	free(e->image);
	free(e->container_id);
	free(e->cmdline);
	free(e->parent);
	free(e->gparent);
	free(e->hostname);
	free(e->outcome);
	memset(e, 0, sizeof(*e));
}

void triage_events_clear(struct triage_events *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		event_clear(&e->items[i]);
	free(e->items);
	free(e->query);
	free(e->origin);
	memset(e, 0, sizeof(*e));
}

/* Takes ownership of *EV's strings (and zeroes it), also on failure. */
static int events_push(struct triage_events *e, struct triage_event *ev)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct triage_event *p = realloc(e->items, cap * sizeof(*p));

		if (!p) {
			event_clear(ev);
			return -ENOMEM;
		}
		e->items = p;
		e->cap = cap;
	}
	ev->seq = e->n;
	e->items[e->n++] = *ev;
	memset(ev, 0, sizeof(*ev));
	return 0;
}

int triage_events_add(struct triage_events *e, const struct triage_event *src)
{
	struct triage_event ev = { .time_ns = src->time_ns };
	bool oom = false;
#define COPY(f)                                      \
	do {                                         \
		ev.f = dup_or_null(src->f);          \
		oom |= src->f && !ev.f;              \
	} while (0)
	COPY(time);
	COPY(rule);
	COPY(priority);
	COPY(namespace_);
	COPY(pod);
	COPY(exe_path);
	COPY(image);
	COPY(container_id);
	COPY(cmdline);
	COPY(parent);
	COPY(gparent);
	COPY(hostname);
	COPY(outcome);
#undef COPY
	if (oom) {
		event_clear(&ev);
		return -ENOMEM;
	}
	return events_push(e, &ev);
}

static int cmp_newest(const void *a_, const void *b_)
{
	const struct triage_event *a = a_, *b = b_;

	/* Unknown times (0) sort last; then input order. */
	if (a->time_ns != b->time_ns) {
		if (!a->time_ns || !b->time_ns)
			return a->time_ns ? -1 : 1;
		return a->time_ns > b->time_ns ? -1 : 1;
	}
	return (a->seq > b->seq) - (a->seq < b->seq);
}

void triage_events_sort(struct triage_events *e)
{
	if (e->n > 1)
		qsort(e->items, e->n, sizeof(*e->items), cmp_newest);
}

/* ---- LogsQL ------------------------------------------------------------- */

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

/* The same filter in words, for file sources. */
static char *filter_text(const struct triage_query *q)
{
	struct sbuf b = { 0 };
	const char *sep = "";

	if (q->rule) {
		sb_puts(&b, "rule = ");
		sb_text(&b, q->rule, 0);
		sep = ", ";
	}
	if (q->namespace_) {
		sb_printf(&b, "%snamespace = ", sep);
		sb_text(&b, q->namespace_, 0);
		sep = ", ";
	}
	if (q->priority) {
		sb_printf(&b, "%spriority = %s", sep, q->priority);
		sep = ", ";
	}
	if (q->since)
		sb_printf(&b, "%slast %s", sep, q->since);
	else if (!*sep)
		sb_puts(&b, "every event in the file");
	return sb_take(&b);
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

/* Falco prints "<NA>" for a field with no value. */
static bool value_absent(const char *s)
{
	return !s || !*s || !strcmp(s, "<NA>") || !strcmp(s, "null");
}

/* The first of NAMES that O holds as a non-empty string (or number), copied; NULL if none. */
static int dup_field(json_t *o, const char *const *names, char **ret)
{
	*ret = NULL;
	for (; *names; names++) {
		json_t *v = json_object_get(o, *names);
		char num[32];
		const char *s = NULL;

		if (json_is_string(v)) {
			s = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			s = num;
		}
		if (value_absent(s))
			continue;
		*ret = strdup(s);
		return *ret ? 0 : -ENOMEM;
	}
	return 0;
}

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

static int fetch_victorialogs(const struct triage_source *src, const struct triage_query *q,
			      struct triage_events *ret, char *err, size_t errlen)
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

/* ---- files: reflex's audit log, Falco alerts ---------------------------- */

static bool event_wanted(const struct triage_query *q, const struct triage_event *e, int64_t since_ns)
{
	if (q->rule && (!e->rule || strcmp(q->rule, e->rule)))
		return false;
	if (q->namespace_ && (!e->namespace_ || strcmp(q->namespace_, e->namespace_)))
		return false;
	if (q->priority && (!e->priority || strcasecmp(q->priority, e->priority)))
		return false;
	/* An event of unknown time is kept: verify must never call a window empty by guessing. */
	return !since_ns || !e->time_ns || e->time_ns >= since_ns;
}

static int audit_record(json_t *o, struct triage_event *ev)
{
	static const char *const RULE[] = { "rule", NULL };
	static const char *const PRIORITY[] = { "falco_priority", NULL };
	static const char *const NS[] = { "namespace", NULL };
	static const char *const POD[] = { "pod", NULL };
	static const char *const EXE[] = { "exe_path", NULL };
	static const char *const IMAGE[] = { "image", NULL };
	static const char *const CONTAINER[] = { "container_id", NULL };
	static const char *const NODE[] = { "node", NULL };
	static const char *const OUTCOME[] = { "outcome", NULL };
	static const char *const TIME[] = { "timestamp", NULL };
	int r;

	if ((r = dup_field(o, TIME, &ev->time)) || (r = dup_field(o, RULE, &ev->rule)) ||
	    (r = dup_field(o, PRIORITY, &ev->priority)) || (r = dup_field(o, NS, &ev->namespace_)) ||
	    (r = dup_field(o, POD, &ev->pod)) || (r = dup_field(o, EXE, &ev->exe_path)) ||
	    (r = dup_field(o, IMAGE, &ev->image)) || (r = dup_field(o, CONTAINER, &ev->container_id)) ||
	    (r = dup_field(o, NODE, &ev->hostname)) || (r = dup_field(o, OUTCOME, &ev->outcome)))
		return r;
	if (ev->time && triage_parse_time(ev->time, &ev->time_ns))
		ev->time_ns = 0;
	return 0;
}

static int alert_event(const char *line, size_t len, struct triage_event *ev, char *err, size_t errlen)
{
	static const char *const TIME[] = { "time", NULL };
	static const char *const PARENT[] = { "proc.pname", NULL };
	static const char *const GPARENT[] = { "proc.aname[2]", NULL };
	struct falco_alert a = { 0 };
	enum falco_parse_error pe;
	json_t *fields;
	int r = 0;

	pe = falco_alert_parse(line, len, FILE_LINE_MAX, &a, err, errlen);
	if (pe)
		return -EBADMSG;
	fields = json_object_get(a.json, "output_fields");
	ev->time_ns = (int64_t)a.time_ns;
	if ((r = dup_field(a.json, TIME, &ev->time)))
		goto out;
	if (!ev->time && a.time_ns && !(ev->time = format_time((int64_t)a.time_ns))) {
		r = -ENOMEM;
		goto out;
	}
#define MOVE(to, from)             \
	do {                       \
		ev->to = a.from;   \
		a.from = NULL;     \
	} while (0)
	MOVE(rule, rule);
	MOVE(priority, priority_text);
	MOVE(namespace_, k8s_namespace);
	MOVE(pod, k8s_pod);
	MOVE(exe_path, exe_path);
	MOVE(image, image);
	MOVE(container_id, container_id);
	MOVE(cmdline, cmdline);
	MOVE(hostname, hostname);
#undef MOVE
	if ((r = dup_field(fields, PARENT, &ev->parent)))
		goto out;
	r = dup_field(fields, GPARENT, &ev->gparent);
out:
	if (r)
		errbuf_set(err, errlen, r, "out of memory");
	falco_alert_clear(&a);
	return r;
}

static int read_file_events(const struct triage_source *src, const struct triage_query *q,
			    struct triage_events *ret, char *err, size_t errlen)
{
	bool audit = src->kind == TRIAGE_SOURCE_AUDIT_LOG;
	bool is_stdin = !strcmp(src->location, "-");
	int64_t since_ns = 0, secs, now = q->now_ns ? q->now_ns : util_realtime_ns();
	char *line = NULL, inner[512];
	size_t cap = 0, lineno = 0;
	FILE *f;
	ssize_t n;
	int r = 0;

	if (q->since) {
		if (triage_parse_duration(q->since, &secs))
			return errbuf_set(err, errlen, -EINVAL, "'%s' is not a duration (e.g. 5m, 24h, 1h30m, 7d)", q->since);
		since_ns = now - secs * 1000000000;
	}
	f = is_stdin ? stdin : fopen(src->location, "re");
	if (!f)
		return errbuf_set(err, errlen, -errno, "%s: %s", src->location, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		struct triage_event ev = { 0 };
		size_t len = (size_t)n, i = 0;
		/* The last line of a log being written may be half there: skipped, not an error. */
		bool in_flight = line[len - 1] != '\n';

		lineno++;
		if ((size_t)n > FILE_LINE_MAX) {
			r = errbuf_set(err, errlen, -EFBIG, "%s:%zu: line over %d bytes", src->location, lineno, FILE_LINE_MAX);
			break;
		}
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '\n' || line[i] == '\r')
			continue;
		/* A Falco log also holds start-up text: only lines that claim to be JSON must be. */
		if (line[i] != '{') {
			ret->skipped++;
			continue;
		}
		if (audit) {
			json_error_t jerr;
			json_t *o = json_loadb(line, len, 0, &jerr);

			if (!json_is_object(o)) {
				json_decref(o);
				if (in_flight) {
					ret->skipped++;
					continue;
				}
				r = errbuf_set(err, errlen, -EBADMSG, "%s:%zu: not a JSON audit record: %s", src->location,
					 lineno, jerr.text);
				break;
			}
			r = audit_record(o, &ev);
			json_decref(o);
			if (r) {
				event_clear(&ev);
				errbuf_set(err, errlen, r, "out of memory");
				break;
			}
		} else if ((r = alert_event(line, len, &ev, inner, sizeof(inner)))) {
			event_clear(&ev);
			if (r == -EBADMSG && in_flight) {
				ret->skipped++;
				r = 0;
				continue;
			}
			errbuf_set(err, errlen, r, "%s:%zu: %s", src->location, lineno, inner);
			break;
		}
		if (!ev.rule) { /* e.g. an audit record of a lost report */
			ret->skipped++;
			event_clear(&ev);
		} else if (!event_wanted(q, &ev, since_ns)) {
			event_clear(&ev);
		} else if ((r = events_push(ret, &ev))) {
			errbuf_set(err, errlen, r, "out of memory");
			break;
		}
	}
	if (!r && ferror(f))
		r = errbuf_set(err, errlen, -EIO, "%s: read error", src->location);
	free(line);
	if (!is_stdin)
		fclose(f);
	if (r)
		return r;
	ret->query = filter_text(q);
	if (asprintf(&ret->origin, "%s %s", audit ? "reflex audit log" : "Falco alerts", src->location) < 0)
		ret->origin = NULL;
	if (!ret->query || !ret->origin)
		return errbuf_set(err, errlen, -ENOMEM, "out of memory");
	return 0;
}

int triage_fetch(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		 char *err, size_t errlen)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	if (q->limit > TRIAGE_MAX_LIMIT)
		return errbuf_set(err, errlen, -EINVAL, "limit %u is over %u", q->limit, TRIAGE_MAX_LIMIT);
	if (src->kind == TRIAGE_SOURCE_VICTORIALOGS)
		r = fetch_victorialogs(src, q, ret, err, errlen);
	else
		r = read_file_events(src, q, ret, err, errlen);
	if (r) {
		triage_events_clear(ret);
		return r;
	}
	triage_events_sort(ret);
	return 0;
}

/* ---- grouping ----------------------------------------------------------- */

static int strcmp_null(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

struct group_sort {
	const struct triage_events *e;
	bool by_pod;
};

static int cmp_group_key(const struct triage_event *a, const struct triage_event *b, bool by_pod)
{
	int r;

	if ((r = strcmp_null(a->rule, b->rule)) || (r = strcmp_null(a->namespace_, b->namespace_)) ||
	    (r = strcmp_null(a->exe_path, b->exe_path)) || (by_pod && (r = strcmp_null(a->pod, b->pod))))
		return r;
	return 0;
}

static int cmp_index(const void *a_, const void *b_, void *ctx_)
{
	const struct group_sort *ctx = ctx_;
	size_t a = *(const size_t *)a_, b = *(const size_t *)b_;
	int r = cmp_group_key(&ctx->e->items[a], &ctx->e->items[b], ctx->by_pod);

	/* Within a group, event order (newest first). */
	return r ? r : (a > b) - (a < b);
}

static int cmp_groups(const void *a_, const void *b_)
{
	const struct triage_group *a = a_, *b = b_;
	int r;

	if (a->newest_ns != b->newest_ns) {
		if (!a->newest_ns || !b->newest_ns)
			return a->newest_ns ? -1 : 1;
		return a->newest_ns > b->newest_ns ? -1 : 1;
	}
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((r = strcmp_null(a->rule, b->rule)) || (r = strcmp_null(a->namespace_, b->namespace_)) ||
	    (r = strcmp_null(a->pod, b->pod)) || (r = strcmp_null(a->exe_path, b->exe_path)))
		return r;
	return 0;
}

void triage_groups_clear(struct triage_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->items[i].members);
		free(g->items[i].pods);
	}
	free(g->items);
	memset(g, 0, sizeof(*g));
}

static int group_fill(struct triage_group *g, const struct triage_events *e, const size_t *idx, size_t n)
{
	g->members = malloc(n * sizeof(*g->members));
	g->pods = calloc(n, sizeof(*g->pods));
	if (!g->members || !g->pods)
		return -ENOMEM;
	memcpy(g->members, idx, n * sizeof(*idx));
	g->n_members = g->count = n;
	g->newest = &e->items[idx[0]];
	g->rule = g->newest->rule;
	g->namespace_ = g->newest->namespace_;
	g->pod = g->newest->pod;
	g->exe_path = g->newest->exe_path;
	g->newest_ns = g->newest->time_ns;
	g->oldest_ns = g->newest->time_ns;
	for (size_t i = 0; i < n; i++) {
		const struct triage_event *ev = &e->items[idx[i]];
		bool seen = false;

		if (ev->time_ns && (!g->oldest_ns || ev->time_ns < g->oldest_ns))
			g->oldest_ns = ev->time_ns;
		for (size_t j = 0; ev->pod && j < g->n_pods && !seen; j++)
			seen = !strcmp(g->pods[j], ev->pod);
		if (ev->pod && !seen)
			g->pods[g->n_pods++] = ev->pod;
	}
	return 0;
}

int triage_group(const struct triage_events *e, bool by_pod, struct triage_groups *ret)
{
	struct group_sort ctx = { .e = e, .by_pod = by_pod };
	size_t *idx, start = 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!e->n)
		return 0;
	idx = malloc(e->n * sizeof(*idx));
	ret->items = calloc(e->n, sizeof(*ret->items));
	if (!idx || !ret->items) {
		free(idx);
		free(ret->items);
		ret->items = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < e->n; i++)
		idx[i] = i;
	qsort_r(idx, e->n, sizeof(*idx), cmp_index, &ctx);
	for (size_t i = 1; i <= e->n && !r; i++) {
		if (i < e->n && !cmp_group_key(&e->items[idx[start]], &e->items[idx[i]], by_pod))
			continue;
		r = group_fill(&ret->items[ret->n++], e, idx + start, i - start);
		start = i;
	}
	free(idx);
	if (r) {
		triage_groups_clear(ret);
		return r;
	}
	qsort(ret->items, ret->n, sizeof(*ret->items), cmp_groups);
	return 0;
}

/* ---- baseline ----------------------------------------------------------- */

struct bparse {
	const char *name;
	yaml_document_t *doc;
	char *err;
	size_t errlen;
};

static size_t bline(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

__attribute__((format(printf, 4, 5))) static int bfail(struct bparse *p, const yaml_node_t *n, const char *key,
						       const char *fmt, ...)
{
	char what[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n)
		return errbuf_set(p->err, p->errlen, -EINVAL, "%s:%zu: %s: %s", p->name, bline(n), key, what);
	return errbuf_set(p->err, p->errlen, -EINVAL, "%s: %s: %s", p->name, key, what);
}

/* YAML 1.1 null: an empty or ~/null plain scalar ("key:" with nothing after it). */
static bool bnull(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static int bscalar(struct bparse *p, const yaml_node_t *n, const char *key, const char **ret)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || bnull(n))
		return bfail(p, n, key, "expected a string, got %s",
			     n->type == YAML_SEQUENCE_NODE  ? "a list"
			     : n->type == YAML_MAPPING_NODE ? "a mapping"
							    : "nothing");
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return bfail(p, n, key, "has a NUL byte");
	if (!*s)
		return bfail(p, n, key, "must not be empty");
	*ret = s;
	return 0;
}

static int bstring(struct bparse *p, const yaml_node_t *n, const char *key, char **ret)
{
	const char *s;
	int r = bscalar(p, n, key, &s);

	if (r)
		return r;
	free(*ret);
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static void free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}

static int blist(struct bparse *p, const yaml_node_t *n, const char *key, char ***ret, size_t *ret_n)
{
	size_t count;
	char **list, item_key[96];

	if (n->type != YAML_SEQUENCE_NODE)
		return bfail(p, n, key, "expected a list of strings (write [a, b])");
	count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (!count)
		return bfail(p, n, key, "an empty list matches nothing: leave the key out instead");
	if (count > BASELINE_MAX_ITEMS)
		return bfail(p, n, key, "more than %d items", BASELINE_MAX_ITEMS);
	list = calloc(count, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
		int r;

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		if ((r = bstring(p, item, item_key, &list[i]))) {
			free_list(list, count);
			return r;
		}
	}
	free_list(*ret, *ret_n);
	*ret = list;
	*ret_n = count;
	return 0;
}

static void pattern_clear(struct triage_pattern *t)
{
	free(t->name);
	free(t->why);
	free(t->package);
	free_list(t->rules, t->n_rules);
	free_list(t->namespaces, t->n_namespaces);
	free_list(t->pods, t->n_pods);
	free_list(t->exe_paths, t->n_exe_paths);
	free_list(t->images, t->n_images);
	free_list(t->parents, t->n_parents);
	free_list(t->cmdlines, t->n_cmdlines);
	memset(t, 0, sizeof(*t));
}

void triage_baseline_free(struct triage_baseline *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_benign; i++)
		pattern_clear(&b->benign[i]);
	for (size_t i = 0; i < b->n_real; i++)
		pattern_clear(&b->real[i]);
	free(b->benign);
	free(b->real);
	free(b->path);
	free(b);
}

/* A package name goes into a Dockerfile line the operator copies: no shell syntax. */
static bool package_ok(const char *s)
{
	return *s && *s != '-' && strlen(s) <= 214 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+:@=~/-") == strlen(s);
}

static int parse_fix(struct bparse *p, const yaml_node_t *v, const char *key, enum triage_fix_kind *ret)
{
	static const char *const muting[] = { "disable", "disable-rule", "disable_rule", "disabled", "mute",
					       "mute-rule", "silence", "enabled", "off", "false", "drop" };
	const char *s;
	int r = bscalar(p, v, key, &s);

	if (r)
		return r;
	if (!strcmp(s, "image-bake")) {
		*ret = TRIAGE_FIX_IMAGE_BAKE;
		return 0;
	}
	if (!strcmp(s, "exception")) {
		*ret = TRIAGE_FIX_EXCEPTION;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(muting); i++)
		if (!strcasecmp(s, muting[i]))
			return bfail(p, v, key,
				     "refusing '%s': triage never disables or mutes a rule; use image-bake or a scoped "
				     "exception",
				     s);
	return bfail(p, v, key, "'%s' is not image-bake or exception", s);
}

static int parse_pattern(struct bparse *p, const yaml_node_t *n, bool real, size_t index, struct triage_pattern *t)
{
	const yaml_node_pair_t *pairs;
	bool fix_given = false;
	char where[48], key[96];
	size_t n_pairs;
	int r = 0;

	snprintf(where, sizeof(where), "%s[%zu]", real ? "real" : "benign", index);
	t->real = real;
	t->line = bline(n);
	if (n->type != YAML_MAPPING_NODE)
		return bfail(p, n, where, "expected a mapping (name, why, %s, conditions)", real ? "rules" : "rule");
	pairs = n->data.mapping.pairs.start;
	n_pairs = (size_t)(n->data.mapping.pairs.top - pairs);
	for (size_t i = 0; i < n_pairs && !r; i++) {
		const yaml_node_t *kn = yaml_document_get_node(p->doc, pairs[i].key);
		const yaml_node_t *v = yaml_document_get_node(p->doc, pairs[i].value);
		const char *k;

		if ((r = bscalar(p, kn, where, &k)))
			return r;
		for (size_t j = 0; j < i; j++)
			if (!strcmp((const char *)yaml_document_get_node(p->doc, pairs[j].key)->data.scalar.value, k))
				return bfail(p, kn, where, "key '%s' given twice", k);
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "name")) {
			r = bstring(p, v, key, &t->name);
		} else if (!strcmp(k, "why")) {
			r = bstring(p, v, key, &t->why);
		} else if (!real && !strcmp(k, "rule")) {
			free_list(t->rules, t->n_rules);
			t->rules = calloc(1, sizeof(*t->rules));
			t->n_rules = t->rules ? 1 : 0;
			r = t->rules ? bstring(p, v, key, &t->rules[0]) : -ENOMEM;
		} else if (real && !strcmp(k, "rules")) {
			r = blist(p, v, key, &t->rules, &t->n_rules);
		} else if (!strcmp(k, "namespaces")) {
			r = blist(p, v, key, &t->namespaces, &t->n_namespaces);
		} else if (!strcmp(k, "pods")) {
			r = blist(p, v, key, &t->pods, &t->n_pods);
		} else if (!strcmp(k, "exe_paths")) {
			r = blist(p, v, key, &t->exe_paths, &t->n_exe_paths);
			for (size_t j = 0; !r && j < t->n_exe_paths; j++)
				if (t->exe_paths[j][0] != '/' && (real ? t->exe_paths[j][0] != '*' : true))
					r = bfail(p, v, key, "'%s' can never match an absolute exe path", t->exe_paths[j]);
		} else if (!strcmp(k, "images")) {
			r = blist(p, v, key, &t->images, &t->n_images);
		} else if (!strcmp(k, "parents")) {
			r = blist(p, v, key, &t->parents, &t->n_parents);
		} else if (!strcmp(k, "cmdlines")) {
			r = blist(p, v, key, &t->cmdlines, &t->n_cmdlines);
		} else if (!real && !strcmp(k, "fix")) {
			fix_given = true;
			r = parse_fix(p, v, key, &t->fix);
		} else if (!real && !strcmp(k, "package")) {
			r = bstring(p, v, key, &t->package);
			if (!r && !package_ok(t->package))
				r = bfail(p, v, key, "'%s' is not a package name", t->package);
		} else {
			r = bfail(p, kn, key,
				  real ? "unknown key (name, why, rules, namespaces, pods, exe_paths, images, parents, "
					 "cmdlines)"
				       : "unknown key (name, why, rule, namespaces, pods, exe_paths, images, parents, "
					 "cmdlines, fix, package)");
		}
	}
	if (r)
		return r;
	if (!t->name)
		return bfail(p, n, where, "needs a name");
	if (!t->why)
		return bfail(p, n, where, "'%s' needs a why: the reason a person reads", t->name);
	if (!real && !t->n_rules)
		return bfail(p, n, where, "'%s' needs the rule it applies to (rule:)", t->name);
	if (!t->n_namespaces && !t->n_pods && !t->n_exe_paths && !t->n_images && !t->n_parents && !t->n_cmdlines &&
	    (!real || !t->n_rules))
		return bfail(p, n, where,
			     real ? "'%s' has no condition: it would call every event real"
				  : "'%s' has no condition besides the rule: it would call every event of the rule "
				    "benign",
			     t->name);
	if (!real && !fix_given)
		t->fix = !strcmp(t->rules[0], TRIAGE_EXEC_RULE) ? TRIAGE_FIX_IMAGE_BAKE : TRIAGE_FIX_EXCEPTION;
	return 0;
}

static int parse_patterns(struct bparse *p, const yaml_node_t *n, bool real, struct triage_baseline *b)
{
	struct triage_pattern **list = real ? &b->real : &b->benign;
	size_t *count = real ? &b->n_real : &b->n_benign, total;
	const char *key = real ? "real" : "benign";
	int r;

	if (n->type != YAML_SEQUENCE_NODE)
		return bfail(p, n, key, "expected a list of patterns");
	total = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	if (total > BASELINE_MAX_ITEMS)
		return bfail(p, n, key, "more than %d patterns", BASELINE_MAX_ITEMS);
	*list = calloc(total + 1, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		const yaml_node_t *item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);

		(*count)++; /* counted first: a half-parsed pattern is freed too */
		if ((r = parse_pattern(p, item, real, i, &(*list)[i])))
			return r;
	}
	return 0;
}

static int check_unique_names(struct bparse *p, const struct triage_baseline *b)
{
	size_t total = b->n_benign + b->n_real;

	for (size_t i = 0; i < total; i++) {
		const struct triage_pattern *a = i < b->n_benign ? &b->benign[i] : &b->real[i - b->n_benign];

		for (size_t j = i + 1; j < total; j++) {
			const struct triage_pattern *c = j < b->n_benign ? &b->benign[j] : &b->real[j - b->n_benign];

			if (!strcmp(a->name, c->name)) {
				return errbuf_set(p->err, p->errlen, -EINVAL, "%s:%zu: pattern name '%s' used twice (first on line %zu)",
					    p->name, c->line, c->name, a->line);
			}
		}
	}
	return 0;
}

int triage_baseline_parse(const char *name, const char *text, size_t len, struct triage_baseline **ret,
			  char *err, size_t errlen)
{
	struct bparse p = { .name = name, .err = err, .errlen = errlen };
	struct triage_baseline *b = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	const yaml_node_t *root;
	int r = 0;

	*ret = NULL;
	if (len > BASELINE_MAX_BYTES)
		return errbuf_set(err, errlen, -EFBIG, "%s: over %d bytes", name, BASELINE_MAX_BYTES);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = errbuf_set(err, errlen, -EINVAL, "%s:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return r;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	b = calloc(1, sizeof(*b));
	if (!b || !(b->path = strdup(name))) {
		r = -ENOMEM;
		goto out;
	}
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = errbuf_set(err, errlen, -EINVAL, "%s: expected a mapping with benign: and real: lists", name);
		goto out;
	}
	for (const yaml_node_pair_t *pair = root->data.mapping.pairs.start; !r && pair < root->data.mapping.pairs.top;
	     pair++) {
		const yaml_node_t *kn = yaml_document_get_node(&doc, pair->key);
		const yaml_node_t *v = yaml_document_get_node(&doc, pair->value);
		const char *k, *s;

		if ((r = bscalar(&p, kn, "top level", &k)))
			break;
		for (const yaml_node_pair_t *prev = root->data.mapping.pairs.start; !r && prev < pair; prev++)
			if (!strcmp((const char *)yaml_document_get_node(&doc, prev->key)->data.scalar.value, k))
				r = bfail(&p, kn, k, "given twice");
		if (r)
			break;
		if (!strcmp(k, "version")) {
			r = bscalar(&p, v, k, &s);
			if (!r && strcmp(s, "1"))
				r = bfail(&p, v, k, "'%s' is not a version this reflex reads (1)", s);
		} else if (!strcmp(k, "benign")) {
			r = b->benign ? bfail(&p, kn, k, "given twice") : parse_patterns(&p, v, false, b);
		} else if (!strcmp(k, "real")) {
			r = b->real ? bfail(&p, kn, k, "given twice") : parse_patterns(&p, v, true, b);
		} else {
			r = bfail(&p, kn, k, "unknown key (version, benign, real)");
		}
	}
	if (!r)
		r = check_unique_names(&p, b);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r) {
		if (r == -ENOMEM)
			errbuf_set(err, errlen, r, "%s: out of memory", name);
		triage_baseline_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int triage_baseline_load(const char *path, struct triage_baseline **ret, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	*ret = NULL;
	f = fopen(path, "re");
	if (!f)
		return errbuf_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	buf = malloc(BASELINE_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, BASELINE_MAX_BYTES + 1, f);
	r = ferror(f) ? errbuf_set(err, errlen, -EIO, "%s: read error", path) : 0;
	fclose(f);
	if (!r && len > BASELINE_MAX_BYTES)
		r = errbuf_set(err, errlen, -EFBIG, "%s: over %d bytes", path, BASELINE_MAX_BYTES);
	if (!r)
		r = triage_baseline_parse(path, buf, len, ret, err, errlen);
	free(buf);
	return r;
}

/* ---- classification ----------------------------------------------------- */

const char *triage_class_name(enum triage_class c)
{
	switch (c) {
	case TRIAGE_BENIGN:
		return "benign-true-positive";
	case TRIAGE_REAL:
		return "real";
	case TRIAGE_UNKNOWN:
	default:
		return "unknown";
	}
}

void triage_verdict_clear(struct triage_verdict *v)
{
	if (!v)
		return;
	free(v->reason);
	memset(v, 0, sizeof(*v));
}

static const char *match_any(char *const *globs, size_t n, const char *value, int flags)
{
	for (size_t i = 0; value && i < n; i++)
		if (!fnmatch(globs[i], value, flags))
			return globs[i];
	return NULL;
}

static void sb_globs(struct sbuf *b, char *const *globs, size_t n)
{
	for (size_t i = 0; i < n && i < 6; i++) {
		sb_puts(b, i ? ", " : "");
		sb_text(b, globs[i], 80);
	}
	if (n > 6)
		sb_printf(b, " and %zu more", n - 6);
}

/*
 * One condition of a pattern: true when LIST is empty or VALUE (or ALT, the
 * grandparent for parents) matches an item. What matched goes to OK, why not
 * to MISS.
 */
static bool cond(struct sbuf *ok, struct sbuf *miss, const char *label, char *const *list, size_t n,
		 const char *value, const char *alt, int flags)
{
	const char *g = NULL, *hit = value;

	if (!n)
		return true;
	if (!value && !alt) {
		sb_printf(miss, "%s unknown", label);
		return false;
	}
	if (!(g = match_any(list, n, value, flags)) && (g = match_any(list, n, alt, flags)))
		hit = alt;
	if (!g) {
		sb_printf(miss, "%s '", label);
		sb_text(miss, value ? value : alt, 120);
		sb_putc(miss, '\'');
		if (value && alt) {
			sb_puts(miss, " (grandparent '");
			sb_text(miss, alt, 120);
			sb_puts(miss, "')");
		}
		sb_puts(miss, " matches none of ");
		sb_globs(miss, list, n);
		return false;
	}
	sb_printf(ok, "%s%s '", ok->len ? ", " : "", hit == alt && alt != value ? "grandparent" : label);
	sb_text(ok, hit, 120);
	sb_putc(ok, '\'');
	if (strcmp(g, hit)) {
		sb_puts(ok, " ~ '");
		sb_text(ok, g, 120);
		sb_putc(ok, '\'');
	}
	return true;
}

static bool pattern_matches(const struct triage_pattern *t, const struct triage_event *e, struct sbuf *ok,
			    struct sbuf *miss)
{
	/* Benign exe globs keep '*' inside one directory (as reflex exceptions do); indicators cross them. */
	int exe_flags = t->real ? 0 : FNM_PATHNAME;
	bool rule_ok = !t->n_rules;

	for (size_t i = 0; e->rule && i < t->n_rules && !rule_ok; i++)
		rule_ok = !strcmp(t->rules[i], e->rule);
	if (!rule_ok) {
		sb_puts(miss, "rule not listed");
		return false;
	}
	if (t->n_rules) {
		sb_puts(ok, "rule '");
		sb_text(ok, e->rule, 0);
		sb_putc(ok, '\'');
	}
	return cond(ok, miss, "namespace", t->namespaces, t->n_namespaces, e->namespace_, NULL, 0) &&
	       cond(ok, miss, "pod", t->pods, t->n_pods, e->pod, NULL, 0) &&
	       cond(ok, miss, "exe", t->exe_paths, t->n_exe_paths, e->exe_path, NULL, exe_flags) &&
	       cond(ok, miss, "image", t->images, t->n_images, e->image, NULL, 0) &&
	       cond(ok, miss, "parent", t->parents, t->n_parents, e->parent, e->gparent, 0) &&
	       cond(ok, miss, "cmdline", t->cmdlines, t->n_cmdlines, e->cmdline, NULL, 0);
}

int triage_classify(const struct triage_baseline *b, const struct triage_event *e, struct triage_verdict *v)
{
	struct sbuf reason = { 0 }, misses = { 0 }, ok = { 0 }, miss = { 0 };
	size_t tried = 0;

	memset(v, 0, sizeof(*v));
	v->cls = TRIAGE_UNKNOWN;
	/* Indicators first: an attack that also looks like a known job is still an attack. */
	for (size_t i = 0; b && i < b->n_real && !v->pattern; i++) {
		sb_free(&ok);
		sb_free(&miss);
		if (pattern_matches(&b->real[i], e, &ok, &miss)) {
			v->cls = TRIAGE_REAL;
			v->pattern = &b->real[i];
			sb_puts(&reason, "real indicator '");
			sb_text(&reason, b->real[i].name, 0);
			sb_printf(&reason, "' matched (%s): ", ok.s ? ok.s : "");
			sb_text(&reason, b->real[i].why, 0);
		}
	}
	for (size_t i = 0; b && e->rule && i < b->n_benign && !v->pattern; i++) {
		const struct triage_pattern *t = &b->benign[i];

		if (strcmp(t->rules[0], e->rule))
			continue;
		tried++;
		sb_free(&ok);
		sb_free(&miss);
		if (pattern_matches(t, e, &ok, &miss)) {
			v->cls = TRIAGE_BENIGN;
			v->pattern = t;
			sb_puts(&reason, "baseline pattern '");
			sb_text(&reason, t->name, 0);
			sb_printf(&reason, "' matched (%s): ", ok.s ? ok.s : "");
			sb_text(&reason, t->why, 0);
		} else {
			sb_puts(&misses, misses.len ? "; '" : "'");
			sb_text(&misses, t->name, 0);
			sb_printf(&misses, "': %s", miss.s ? miss.s : "");
		}
	}
	if (!v->pattern) {
		if (tried) {
			sb_printf(&reason, "no baseline pattern matched (%s)", misses.s ? misses.s : "");
		} else {
			sb_puts(&reason, "no baseline pattern covers rule '");
			sb_text(&reason, e->rule, 0);
			sb_putc(&reason, '\'');
		}
		sb_puts(&reason, "; unknown is treated as real: escalate to a security review");
	}
	sb_free(&ok);
	sb_free(&miss);
	sb_free(&misses);
	v->reason = sb_take(&reason);
	return v->reason ? 0 : -ENOMEM;
}

/* ---- fixes -------------------------------------------------------------- */

char *triage_image_repository(const char *image)
{
	const char *at, *slash, *colon;

	if (!image || !*image)
		return NULL;
	at = strchr(image, '@');
	if (at)
		return strndup(image, (size_t)(at - image));
	slash = strrchr(image, '/');
	colon = strrchr(slash ? slash : image, ':');
	return colon ? strndup(image, (size_t)(colon - image)) : strdup(image);
}

/* What config.c accepts for an exception's namespace: an exact Kubernetes name. */
static bool namespace_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int scope_check(const struct triage_scope *s, char *err, size_t errlen)
{
	if (!s->rule || !*s->rule || !utf8_valid(s->rule))
		return errbuf_set(err, errlen, -EINVAL, "an exception needs the rule's name (valid UTF-8)");
	if (!s->namespace_)
		return errbuf_set(err, errlen, -EINVAL,
			    "the event names no namespace: an exception without one would cover the rule in every "
			    "namespace");
	if (!namespace_name_ok(s->namespace_))
		return errbuf_set(err, errlen, -EINVAL, "namespace '%s' is not a Kubernetes namespace name", s->namespace_);
	if (!s->exe_path)
		return errbuf_set(err, errlen, -EINVAL,
			    "the event names no exe path: an exception without one would cover every program in "
			    "the namespace");
	if (s->exe_path[0] != '/' || !utf8_valid(s->exe_path))
		return errbuf_set(err, errlen, -EINVAL, "exe path '%s' is not an absolute path in UTF-8", s->exe_path);
	if (s->image_repo && (!*s->image_repo || !utf8_valid(s->image_repo)))
		return errbuf_set(err, errlen, -EINVAL, "image repository '%s' is not valid UTF-8", s->image_repo);
	return 0;
}

/* "reflex_<namespace>_<exe>": Falco wants exception names unique within a rule. */
static char *exception_name(const struct triage_scope *s)
{
	struct sbuf b = { 0 };
	bool under = true;

	sb_puts(&b, "reflex_");
	for (const char *parts[] = { s->namespace_, "_", s->exe_path }, **p = parts; p < parts + 3; p++) {
		for (const char *c = *p; *c && b.len < 64; c++) {
			char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;

			if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
				sb_putc(&b, ch);
				under = false;
			} else if (!under) {
				sb_putc(&b, '_');
				under = true;
			}
		}
	}
	while (!b.oom && b.len && b.s[b.len - 1] == '_')
		b.s[--b.len] = '\0';
	return sb_take(&b);
}

int triage_falco_override(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	char **names = NULL;
	bool *done = NULL;
	size_t n_names = 0;
	int r = 0;

	*ret = NULL;
	for (size_t i = 0; i < n; i++)
		if ((r = scope_check(&s[i], err, errlen)))
			return r;
	names = calloc(n + 1, sizeof(*names));
	done = calloc(n + 1, sizeof(*done));
	if (!names || !done) {
		r = -ENOMEM;
		goto out;
	}
	sb_puts(&b, "# Falco rules override from `reflex triage fix`: the narrowest exceptions for\n"
		    "# benign true positives, scoped to namespace + exe path (+ image repository).\n"
		    "# Load it after falco_rules.yaml, e.g. as /etc/falco/rules.d/reflex-triage.yaml.\n"
		    "# Prefer baking the binary into a digest-pinned image; never disable the rule.\n"
		    "- required_engine_version: " TRIAGE_FALCO_ENGINE_VERSION "\n");
	/* One block per rule, in first-seen order; one exception per scope. */
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		sb_puts(&b, "\n- rule: ");
		sb_yaml_quoted(&b, s[i].rule);
		sb_puts(&b, "\n  exceptions:\n");
		for (size_t j = i; j < n; j++) {
			char *base, *name;

			if (done[j] || strcmp(s[j].rule, s[i].rule))
				continue;
			done[j] = true;
			if (!(base = exception_name(&s[j]))) {
				r = -ENOMEM;
				goto out;
			}
			/* Unique within the file: a second scope with the same name gets a suffix. */
			name = base;
			for (unsigned int k = 2; name; k++) {
				bool taken = false;

				for (size_t m = 0; m < n_names && !taken; m++)
					taken = !strcmp(names[m], name);
				if (!taken)
					break;
				if (name != base)
					free(name);
				if (asprintf(&name, "%s_%u", base, k) < 0)
					name = NULL;
			}
			if (name != base)
				free(base);
			if (!name) {
				r = -ENOMEM;
				goto out;
			}
			names[n_names++] = name;
			if (s[j].comment) {
				sb_puts(&b, "    # ");
				sb_comment(&b, s[j].comment);
				sb_putc(&b, '\n');
			}
			sb_printf(&b, "    - name: %s\n", name);
			if (s[j].image_repo)
				sb_puts(&b, "      fields: [k8s.ns.name, proc.exepath, container.image.repository]\n"
					    "      comps: [=, =, =]\n");
			else
				sb_puts(&b, "      fields: [k8s.ns.name, proc.exepath]\n"
					    "      comps: [=, =]\n");
			sb_puts(&b, "      values:\n        - [");
			sb_yaml_quoted(&b, s[j].namespace_);
			sb_puts(&b, ", ");
			sb_yaml_quoted(&b, s[j].exe_path);
			if (s[j].image_repo) {
				sb_puts(&b, ", ");
				sb_yaml_quoted(&b, s[j].image_repo);
			}
			sb_puts(&b, "]\n");
		}
		sb_puts(&b, "  override:\n    exceptions: append\n");
	}
	*ret = sb_take(&b);
	if (!*ret)
		r = -ENOMEM;
out:
	if (r == -ENOMEM)
		errbuf_set(err, errlen, r, "out of memory");
	free_list(names, n_names);
	free(done);
	sb_free(&b);
	return r;
}

int triage_reflex_exceptions(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen)
{
	struct sbuf b = { 0 }, glob = { 0 };
	int r;

	*ret = NULL;
	for (size_t i = 0; i < n; i++)
		if ((r = scope_check(&s[i], err, errlen)))
			return r;
	sb_puts(&b, "# reflex config exceptions from `reflex triage fix`: merge into the config's\n"
		    "# `exceptions:` list; the rule must also be listed under `rules:`.\n"
		    "exceptions:\n");
	for (size_t i = 0; i < n; i++) {
		if (s[i].comment) {
			sb_puts(&b, "  # ");
			sb_comment(&b, s[i].comment);
			sb_putc(&b, '\n');
		}
		sb_puts(&b, "  - rule: ");
		sb_yaml_quoted(&b, s[i].rule);
		sb_puts(&b, "\n    namespace: ");
		sb_yaml_quoted(&b, s[i].namespace_);
		/* exe_path and image are fnmatch globs there: the literal path, escaped. */
		sb_glob_literal(&glob, s[i].exe_path);
		sb_puts(&b, "\n    exe_path: ");
		if (!glob.oom)
			sb_yaml_quoted(&b, glob.s);
		sb_free(&glob);
		if (s[i].image_repo) {
			/* Any tag now, and the digest-pinned reference after the image bake. */
			sb_glob_literal(&glob, s[i].image_repo);
			sb_puts(&glob, "[:@]*");
			sb_puts(&b, "\n    image: ");
			if (!glob.oom)
				sb_yaml_quoted(&b, glob.s);
			b.oom |= glob.oom;
			sb_free(&glob);
		}
		sb_putc(&b, '\n');
	}
	*ret = sb_take(&b);
	return *ret ? 0 : errbuf_set(err, errlen, -ENOMEM, "out of memory");
}

void triage_fix_clear(struct triage_fix *f)
{
	if (!f)
		return;
	free(f->bake_text);
	free(f->bake_package);
	free(f->bake_dockerfile);
	free(f->scope_text);
	free(f->falco_yaml);
	free(f->reflex_yaml);
	free(f->image_repo);
	free(f->comment);
	free(f->refused);
	memset(f, 0, sizeof(*f));
}

enum pkgmgr { PM_NONE = 0, PM_APK, PM_APT, PM_PIP, PM_NPM };

static enum pkgmgr manager_of(const char *name)
{
	const char *base;

	if (!name)
		return PM_NONE;
	base = strrchr(name, '/');
	base = base ? base + 1 : name;
	if (!strcmp(base, "apk"))
		return PM_APK;
	if (!strcmp(base, "apt-get") || !strcmp(base, "apt") || !strcmp(base, "dpkg"))
		return PM_APT;
	if (!strcmp(base, "pip") || !strcmp(base, "pip3"))
		return PM_PIP;
	if (!strcmp(base, "npm"))
		return PM_NPM;
	return PM_NONE;
}

/*
 * "apk add --no-cache curl jq" -> PM_APK and "curl jq" (*RET, malloc'd).
 * Only names a Dockerfile line can carry: the cmdline is the attacker's text.
 */
static int install_in_cmdline(const char *cmdline, enum pkgmgr *pm, char **ret)
{
	struct sbuf b = { 0 };
	char *copy, *save = NULL, *tok;
	enum pkgmgr found = PM_NONE;
	bool verb = false, global = false;

	*ret = NULL;
	*pm = PM_NONE;
	if (!cmdline)
		return 0;
	copy = strdup(cmdline);
	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		if (!found) {
			found = manager_of(tok);
			continue;
		}
		if (!verb) {
			verb = (found == PM_APK && !strcmp(tok, "add")) ||
			       ((found == PM_APT || found == PM_PIP) && !strcmp(tok, "install")) ||
			       (found == PM_NPM && (!strcmp(tok, "i") || !strcmp(tok, "install")));
			if (!verb && tok[0] != '-') /* "apk --no-cache add" has options first */
				found = manager_of(tok);
			continue;
		}
		if (!strcmp(tok, "-g") || !strcmp(tok, "--global"))
			global = true;
		if (tok[0] == '-')
			continue;
		if (!package_ok(tok))
			break; /* "&&", ";", a URL with a query: the rest is not a package list */
		sb_printf(&b, "%s%s", b.len ? " " : "", tok);
	}
	free(copy);
	if (!verb || (found == PM_NPM && !global) || !b.len) {
		sb_free(&b);
		return 0;
	}
	*pm = found;
	*ret = sb_take(&b);
	return *ret ? 0 : -ENOMEM;
}

static int bake(const struct triage_event *e, const struct triage_pattern *t, struct triage_fix *f)
{
	enum pkgmgr pm = PM_NONE;
	char *pkgs = NULL;
	struct sbuf b = { 0 };
	const char *pkg;
	int r;

	if (!e->exe_path)
		return 0; /* nothing to name: the exception path says why */
	if ((r = install_in_cmdline(e->cmdline, &pm, &pkgs)))
		return r;
	pkg = t && t->package ? t->package : pkgs;
	if (!pm)
		pm = manager_of(e->parent) ?: manager_of(e->gparent);
	if (!pm && e->image)
		pm = strstr(e->image, "alpine")				       ? PM_APK
		     : strstr(e->image, "debian") || strstr(e->image, "ubuntu") ? PM_APT
										 : PM_NONE;
	if (pkg && !(f->bake_package = strdup(pkg)))
		goto oom;
	if (pkg) {
		/* The Dockerfile line: before and after the package names. */
		static const char *const pre[] = {
			[PM_APK] = "RUN apk add --no-cache ",
			[PM_APT] = "RUN apt-get update && apt-get install -y --no-install-recommends ",
			[PM_PIP] = "RUN pip install --no-cache-dir ",
			[PM_NPM] = "RUN npm install -g ",
		};
		static const char *const post[] = {
			[PM_APT] = " && rm -rf /var/lib/apt/lists/*",
		};

		if (pm && asprintf(&f->bake_dockerfile, "%s%s%s", pre[pm], pkg,
				   (size_t)pm < ARRAY_SIZE(post) && post[pm] ? post[pm] : "") < 0) {
			f->bake_dockerfile = NULL;
			goto oom;
		}
	}
	sb_puts(&b, "bake ");
	if (t && t->package) {
		sb_text(&b, pkg, 0);
		sb_puts(&b, " (provides ");
		sb_text(&b, e->exe_path, 0);
		sb_putc(&b, ')');
	} else if (pkg) {
		/* The event is the installer, itself installed at run time. */
		sb_puts(&b, "what this install adds (");
		sb_text(&b, pkg, 0);
		sb_puts(&b, ") and the package that provides ");
		sb_text(&b, e->exe_path, 0);
	} else {
		sb_puts(&b, "the package that provides ");
		sb_text(&b, e->exe_path, 0);
	}
	sb_puts(&b, " into the image instead of installing at run time: it ran from ");
	sb_text(&b, e->parent ? e->parent : "an unknown parent", 0);
	if (e->gparent) {
		sb_puts(&b, " (under ");
		sb_text(&b, e->gparent, 0);
		sb_putc(&b, ')');
	}
	sb_puts(&b, " in ");
	sb_text(&b, e->namespace_, 0);
	sb_putc(&b, '/');
	sb_text(&b, e->pod, 0);
	sb_puts(&b, "; add it to the image build (");
	if (e->image) {
		sb_puts(&b, "FROM ");
		sb_text(&b, e->image, 0);
	} else {
		sb_puts(&b, "the workload's image");
	}
	sb_puts(&b, "), push, and pin the result by digest (image: REPOSITORY@sha256:DIGEST) in the workload, so "
		    "every run is the reviewed image");
	if (!pkg && pm == PM_APK) {
		sb_puts(&b, "; find the package with `apk info --who-owns ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, "`");
	} else if (!pkg && pm == PM_APT) {
		sb_puts(&b, "; find the package with `dpkg -S ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, "`");
	}
	sb_putc(&b, '.');
	if (!(f->bake_text = sb_take(&b)))
		goto oom;
	free(pkgs);
	return 0;
oom:
	sb_free(&b);
	free(pkgs);
	return -ENOMEM;
}

#define REFUSE_REAL                                                                                         \
	"no fix: a real attack is contained and investigated, never excepted; escalate to a security review " \
	"(and isolate or kill per policy)"
#define REFUSE_UNKNOWN                                                                                        \
	"no fix: unknown is treated as real; escalate to a security review before any image change or exception"

int triage_fix_for(const struct triage_event *e, const struct triage_verdict *v, struct triage_fix *f)
{
	const struct triage_pattern *t = v ? v->pattern : NULL;
	struct triage_scope scope = { 0 };
	struct sbuf b = { 0 };
	char err[512];
	int r;

	memset(f, 0, sizeof(*f));
	if (!v || v->cls != TRIAGE_BENIGN) {
		f->refused = strdup(v && v->cls == TRIAGE_REAL ? REFUSE_REAL : REFUSE_UNKNOWN);
		return f->refused ? 0 : -ENOMEM;
	}
	if (t && t->fix == TRIAGE_FIX_IMAGE_BAKE && (r = bake(e, t, f)))
		goto out;
	if ((f->image_repo = triage_image_repository(e->image)) == NULL && e->image) {
		r = -ENOMEM;
		goto out;
	}
	scope = (struct triage_scope){ .rule = e->rule, .namespace_ = e->namespace_, .exe_path = e->exe_path,
				       .image_repo = f->image_repo };
	if (asprintf(&f->comment, "baseline pattern '%s'", t ? t->name : "?") < 0) {
		f->comment = NULL;
		r = -ENOMEM;
		goto out;
	}
	scope.comment = f->comment;
	r = triage_falco_override(&scope, 1, &f->falco_yaml, err, sizeof(err));
	if (!r)
		r = triage_reflex_exceptions(&scope, 1, &f->reflex_yaml, err, sizeof(err));
	if (r == -EINVAL) {
		/* No scope this narrow is possible: say so rather than widen it. */
		free(f->falco_yaml);
		f->falco_yaml = NULL;
		if (asprintf(&f->refused, "no exception: %s", err) < 0) {
			f->refused = NULL;
			r = -ENOMEM;
			goto out;
		}
		r = 0;
	} else if (r) {
		goto out;
	} else {
		sb_puts(&b, "namespace ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, ", exe ");
		sb_text(&b, e->exe_path, 0);
		if (f->image_repo) {
			sb_puts(&b, ", image ");
			sb_text(&b, f->image_repo, 0);
		}
		if (!(f->scope_text = sb_take(&b))) {
			r = -ENOMEM;
			goto out;
		}
	}
	f->preferred = f->bake_text ? TRIAGE_FIX_IMAGE_BAKE : f->falco_yaml ? TRIAGE_FIX_EXCEPTION : TRIAGE_FIX_NONE;
out:
	sb_free(&b);
	if (r)
		triage_fix_clear(f);
	return r;
}

/* "headscale-backup-29391780-mz8qd" -> "headscale-backup", "web-7d9f4b-x1k2m" -> "web". */
static char *workload_of(const char *pod)
{
	size_t n = strlen(pod);
	const char *dash;
	bool cut = false;

	dash = memrchr(pod, '-', n);
	if (dash && n - (size_t)(dash - pod) - 1 == 5) {
		n = (size_t)(dash - pod);
		cut = true;
	}
	dash = memrchr(pod, '-', n);
	if (dash) {
		size_t seg = n - (size_t)(dash - pod) - 1, d = strspn(dash + 1, "0123456789");

		if (seg && (d >= seg || (cut && seg >= 6 && seg <= 10)))
			n = (size_t)(dash - pod);
	}
	return strndup(pod, n);
}

char *triage_gotcha(const struct triage_event *e, const struct triage_verdict *v, const struct triage_fix *f)
{
	struct sbuf b = { 0 };
	char *who = e->pod ? workload_of(e->pod) : NULL;

	if (e->pod && !who)
		return NULL;
	sb_puts(&b, "Gotcha: ");
	if (v->cls == TRIAGE_BENIGN && f && f->preferred == TRIAGE_FIX_IMAGE_BAKE) {
		sb_text(&b, who ? who : "the workload", 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " installs ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " at run time, so every run pages '");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "': bake it into a digest-pinned image (an exception is the fallback, never muting the rule).");
	} else if (v->cls == TRIAGE_BENIGN) {
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " trips '");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "' by design (");
		sb_text(&b, v->pattern ? v->pattern->name : "baseline", 0);
		sb_puts(&b, "): keep the exception scoped to namespace + exe path, never the whole rule.");
	} else if (v->cls == TRIAGE_REAL) {
		sb_puts(&b, "'");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "' from ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " was real (");
		sb_text(&b, v->pattern ? v->pattern->name : "indicator", 0);
		sb_puts(&b, "): contain first, then find how it got in; no exception.");
	} else {
		sb_puts(&b, "'");
		sb_text(&b, e->rule, 0);
		sb_puts(&b, "' from ");
		sb_text(&b, e->exe_path, 0);
		sb_puts(&b, " in ");
		sb_text(&b, e->namespace_, 0);
		sb_puts(&b, " matched no baseline pattern: treated as real and escalated; add a pattern only after the "
			    "review.");
	}
	free(who);
	return sb_take(&b);
}

/* ---- the CLI ------------------------------------------------------------ */

enum sub { SUB_EVENTS = 0, SUB_CLASSIFY, SUB_FIX, SUB_VERIFY, SUB_REPORT };

#define SOURCE_HELP                                                                                        \
	"Source (one; default --victorialogs $REFLEX_VICTORIALOGS_URL):\n"                                     \
	"  --victorialogs URL   VictoriaLogs (http://host:9428); POSTs /select/logsql/query\n"                  \
	"  --audit-log FILE     reflex's audit log (JSON lines)\n"                                              \
	"  --alerts FILE        Falco alerts, one JSON object a line (json_output), '-' for stdin\n"           \
	"  --timeout SECONDS    VictoriaLogs request timeout (default 10)\n"                                   \
	"  --limit N            at most N events from VictoriaLogs (default 10000)\n"
#define FILTER_HELP                                                                                        \
	"Filters:\n"                                                                                          \
	"  --rule RULE          the exact Falco rule name\n"                                                    \
	"  --namespace NS       the event's Kubernetes namespace (k8s.ns.name)\n"                               \
	"  --priority P         Falco priority, e.g. Critical\n"
#define BASELINE_HELP \
	"  --baseline FILE      benign patterns (default rules/baseline.yaml, else /etc/reflex/baseline.yaml)\n"
#define JSON_HELP "  --json               one JSON document instead of text\n"

static const char *const sub_names[] = { "events", "classify", "fix", "verify", "report" };

static const char *const sub_usage[] = {
	[SUB_EVENTS] = "Usage: reflex triage events [SOURCE] [--rule R] [--namespace NS] [--since 24h] [--json]\n"
		       "Pull Falco events and show them grouped by rule, namespace, pod and exe, newest first,\n"
		       "with counts and the query that was run. --since defaults to 24h for VictoriaLogs and to\n"
		       "the whole file for files.\n\n" SOURCE_HELP FILTER_HELP
		       "  --since DURATION     5m, 24h, 1h30m, 7d\n" JSON_HELP,
	[SUB_CLASSIFY] = "Usage: reflex triage classify [SOURCE] [--rule R] [--namespace NS] [--since 24h]\n"
			 "                              [--baseline FILE] [--json]\n"
			 "Classify each event against the baseline: benign-true-positive, real or unknown, and why.\n"
			 "Unknown is treated as real: escalate it to a security review.\n\n" SOURCE_HELP FILTER_HELP
			 "  --since DURATION     5m, 24h, 1h30m, 7d\n" BASELINE_HELP JSON_HELP,
	[SUB_FIX] = "Usage: reflex triage fix [SOURCE] [--rule R] [--namespace NS] [--since 24h]\n"
		    "                         [--baseline FILE] [--json]\n"
		    "For benign events: bake the binary into a digest-pinned image (preferred), else the narrowest\n"
		    "exception (namespace + exe path, + image), as a Falco rules override and a reflex config\n"
		    "exception. Never disables a rule; real and unknown events get no fix.\n\n" SOURCE_HELP
			    FILTER_HELP "  --since DURATION     5m, 24h, 1h30m, 7d\n" BASELINE_HELP JSON_HELP,
	[SUB_VERIFY] = "Usage: reflex triage verify --rule R --namespace NS [SOURCE] [--since 5m] [--json]\n"
		       "Run the query again for the rule in the namespace: exit 0 when no event remains,\n"
		       "3 when some do.\n\n" SOURCE_HELP FILTER_HELP "  --since DURATION     window (default 5m)\n" JSON_HELP,
	[SUB_REPORT] = "Usage: reflex triage report --rule R --namespace NS [SOURCE] [--since 24h]\n"
		       "                            [--verify-since 5m] [--baseline FILE] [--json]\n"
		       "events -> classify -> fix -> verify for one rule in one namespace, with a one-line\n"
		       "gotcha for the team's notes. Exit 0, or 3 when verify still finds events.\n\n" SOURCE_HELP
			       FILTER_HELP "  --since DURATION     events window (default 24h; files: whole file)\n"
				       "  --verify-since D     verify window (default 5m)\n" BASELINE_HELP JSON_HELP,
};

static const char triage_usage[] =
	"Usage: reflex triage COMMAND [OPTIONS]   (reflex triage COMMAND --help for each)\n"
	"  events     pull Falco events, grouped by rule, namespace, pod and exe, newest first\n"
	"  classify   benign-true-positive, real or unknown against rules/baseline.yaml, with why\n"
	"  fix        image bake (preferred) or the narrowest scoped exception, never disabling a rule\n"
	"  verify     --rule R --namespace NS: exit 0 when the events stopped, 3 when they did not\n"
	"  report     the whole runbook for one rule and namespace\n"
	"Sources: --victorialogs URL (default $REFLEX_VICTORIALOGS_URL), --audit-log FILE, --alerts FILE.\n"
	"Exit status: 0 success, 1 failure, 2 usage error, 3 events remain (verify, report).\n";

struct cli {
	enum sub sub;
	const char *name;
	struct triage_source src;
	struct triage_query q;
	const char *baseline;
	const char *verify_since;
	bool json;
	FILE *out, *err;
	struct sbuf o; /* the whole output, written at the end */
};

__attribute__((format(printf, 2, 3))) static int usage_error(struct cli *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printable_line(msg);
	fprintf(c->err, "reflex triage %s: %s (see reflex triage %s --help)\n", c->name, msg, c->name);
	return 2;
}

static int error_exit(struct cli *c, const char *msg)
{
	char line[2048];

	snprintf(line, sizeof(line), "%s", msg);
	printable_line(line);
	fprintf(c->err, "reflex triage %s: %s\n", c->name, line);
	return 1;
}

static int parse_cli(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "victorialogs", required_argument, NULL, 'V' },
		{ "audit-log", required_argument, NULL, 'A' },
		{ "alerts", required_argument, NULL, 'F' },
		{ "rule", required_argument, NULL, 'r' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "priority", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "verify-since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int n_sources = 0, opt;
	int64_t secs;
	char *end;

	optind = 0; /* glibc: a full reset, argv may be parsed again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hjn:r:", opts, NULL)) != -1) {
		switch (opt) {
		case 'V':
		case 'A':
		case 'F':
			n_sources++;
			c->src.kind = opt == 'V' ? TRIAGE_SOURCE_VICTORIALOGS
				      : opt == 'A' ? TRIAGE_SOURCE_AUDIT_LOG
						   : TRIAGE_SOURCE_ALERTS;
			c->src.location = optarg;
			if (!*optarg)
				return usage_error(c, "an empty source");
			break;
		case 'r':
			if (!*optarg)
				return usage_error(c, "--rule is empty");
			c->q.rule = optarg;
			break;
		case 'n':
			if (!*optarg)
				return usage_error(c, "--namespace is empty");
			c->q.namespace_ = optarg;
			break;
		case 'p':
			if (!(c->q.priority = triage_priority_name(optarg)))
				return usage_error(c, "'%s' is not a Falco priority (Emergency ... Critical ... Debug)", optarg);
			break;
		case 's':
		case 'S':
			if (triage_parse_duration(optarg, &secs))
				return usage_error(c, "'%s' is not a duration (e.g. 5m, 24h, 1h30m, 7d)", optarg);
			if (opt == 'S' && c->sub != SUB_REPORT)
				return usage_error(c, "--verify-since is for report");
			if (opt == 's')
				c->q.since = optarg;
			else
				c->verify_since = optarg;
			break;
		case 'l': {
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || optarg[0] == '-' || v == 0 || v > TRIAGE_MAX_LIMIT)
				return usage_error(c, "--limit '%s': expected 1 to %u", optarg, TRIAGE_MAX_LIMIT);
			c->q.limit = (unsigned int)v;
			break;
		}
		case 'b':
			if (c->sub == SUB_EVENTS || c->sub == SUB_VERIFY)
				return usage_error(c, "--baseline is for classify, fix and report");
			c->baseline = optarg;
			break;
		case 't': {
			double v;

			errno = 0;
			v = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(v > 0 && v <= 3600))
				return usage_error(c, "--timeout '%s': expected seconds, more than 0 and at most 3600", optarg);
			c->src.timeout_ms = v * 1000 < 1 ? 1 : (unsigned int)(v * 1000);
			break;
		}
		case 'j':
			c->json = true;
			break;
		case 'h':
			fputs(sub_usage[c->sub], c->out);
			return -1;
		case ':':
			return usage_error(c, "option '%s' needs a value", argv[optind - 1]);
		default:
			return usage_error(c, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind]);
	if (n_sources > 1)
		return usage_error(c, "give one source: --victorialogs, --audit-log or --alerts");
	if (!n_sources) {
		const char *env = getenv("REFLEX_VICTORIALOGS_URL");

		if (!env || !*env)
			return usage_error(c, "no event source: give --victorialogs URL (or set REFLEX_VICTORIALOGS_URL), "
					      "--audit-log FILE or --alerts FILE");
		c->src.kind = TRIAGE_SOURCE_VICTORIALOGS;
		c->src.location = env;
	}
	if ((c->sub == SUB_VERIFY || c->sub == SUB_REPORT) && (!c->q.rule || !c->q.namespace_))
		return usage_error(c, "%s needs --rule and --namespace", c->name);
	if (c->sub == SUB_VERIFY && !c->q.since)
		c->q.since = TRIAGE_DEFAULT_VERIFY_SINCE;
	if (!c->q.since && c->src.kind == TRIAGE_SOURCE_VICTORIALOGS)
		c->q.since = TRIAGE_DEFAULT_SINCE;
	if (!c->verify_since)
		c->verify_since = TRIAGE_DEFAULT_VERIFY_SINCE;
	return 0;
}

static int fetch(struct cli *c, const struct triage_query *q, struct triage_events *ev)
{
	char err[1024];

	if (triage_fetch(&c->src, q, ev, err, sizeof(err)))
		return error_exit(c, err);
	return 0;
}

static int load_baseline(struct cli *c, struct triage_baseline **b)
{
	static const char *const defaults[] = { "rules/baseline.yaml", "/etc/reflex/baseline.yaml" };
	const char *path = c->baseline;
	char err[1024];

	for (size_t i = 0; !path && i < ARRAY_SIZE(defaults); i++)
		if (!access(defaults[i], R_OK))
			path = defaults[i];
	if (!path)
		return error_exit(c, "no baseline: rules/baseline.yaml and /etc/reflex/baseline.yaml are not readable; "
				     "give --baseline FILE");
	if (triage_baseline_load(path, b, err, sizeof(err)))
		return error_exit(c, err);
	return 0;
}

/* ---- JSON helpers ------------------------------------------------------- */

static json_t *jstr(const char *s)
{
	struct sbuf b = { 0 };
	char *t;
	json_t *j;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	sb_text(&b, s, 0); /* not UTF-8: shown as text would be */
	t = sb_take(&b);
	j = t ? json_string(t) : NULL;
	free(t);
	return j;
}

/* One format for every time shown (UTC, nanoseconds), whatever the source wrote; its text if unparsable. */
static json_t *jtime(int64_t ns, const char *text)
{
	char *t;
	json_t *j;

	if (!ns)
		return jstr(text);
	t = format_time(ns);
	j = t ? json_string(t) : NULL;
	free(t);
	return j;
}

static void jset(json_t *o, const char *key, json_t *v, bool *bad)
{
	/* json_object_set_new takes V's reference even when it fails. */
	if (!o || !v || json_object_set_new(o, key, v))
		*bad = true;
}

static json_t *event_json(const struct triage_event *e, bool *bad)
{
	json_t *o = json_object();

	jset(o, "time", jtime(e->time_ns, e->time), bad);
	jset(o, "rule", jstr(e->rule), bad);
	jset(o, "priority", jstr(e->priority), bad);
	jset(o, "namespace", jstr(e->namespace_), bad);
	jset(o, "pod", jstr(e->pod), bad);
	jset(o, "exe_path", jstr(e->exe_path), bad);
	jset(o, "image", jstr(e->image), bad);
	jset(o, "container_id", jstr(e->container_id), bad);
	jset(o, "cmdline", jstr(e->cmdline), bad);
	jset(o, "parent", jstr(e->parent), bad);
	jset(o, "grandparent", jstr(e->gparent), bad);
	jset(o, "hostname", jstr(e->hostname), bad);
	if (e->outcome)
		jset(o, "outcome", jstr(e->outcome), bad);
	return o;
}

static json_t *group_json(const struct triage_group *g, bool *bad)
{
	const struct triage_event *e = g->newest;
	json_t *o = json_object(), *pods = json_array();

	jset(o, "rule", jstr(g->rule), bad);
	jset(o, "namespace", jstr(g->namespace_), bad);
	jset(o, "pod", jstr(g->pod), bad);
	jset(o, "exe_path", jstr(g->exe_path), bad);
	jset(o, "count", json_integer((json_int_t)g->count), bad);
	jset(o, "newest", jtime(g->newest_ns, e->time), bad);
	jset(o, "oldest", jtime(g->oldest_ns, NULL), bad);
	jset(o, "priority", jstr(e->priority), bad);
	jset(o, "image", jstr(e->image), bad);
	jset(o, "parent", jstr(e->parent), bad);
	jset(o, "grandparent", jstr(e->gparent), bad);
	jset(o, "cmdline", jstr(e->cmdline), bad);
	for (size_t i = 0; pods && i < g->n_pods; i++)
		if (json_array_append_new(pods, jstr(g->pods[i])))
			*bad = true;
	jset(o, "pods", pods, bad);
	return o;
}

static json_t *source_json(const struct cli *c, const struct triage_events *ev, bool *bad)
{
	json_t *o = json_object();

	jset(o, "origin", jstr(ev->origin), bad);
	jset(o, "query", jstr(ev->query), bad);
	jset(o, "since", jstr(c->q.since), bad);
	jset(o, "events", json_integer((json_int_t)ev->n), bad);
	jset(o, "truncated", json_boolean(ev->truncated), bad);
	jset(o, "skipped", json_integer((json_int_t)ev->skipped), bad);
	return o;
}

/* Writes the document (or text) and reports a failed write: a closed pipe is an error too. */
static int emit(struct cli *c, json_t *doc, bool bad)
{
	char *text = NULL;
	int r = 0;

	if (doc) {
		text = bad ? NULL : json_dumps(doc, JSON_INDENT(2));
		json_decref(doc);
		if (!text)
			return error_exit(c, "out of memory building the JSON document");
		if (fputs(text, c->out) < 0 || fputc('\n', c->out) < 0)
			r = 1;
		free(text);
	} else {
		if (c->o.oom)
			return error_exit(c, "out of memory building the output");
		if (c->o.len && fwrite(c->o.s, 1, c->o.len, c->out) != c->o.len)
			r = 1;
	}
	if (fflush(c->out))
		r = 1;
	if (r)
		return error_exit(c, "cannot write the output");
	return 0;
}

/* ---- text helpers ------------------------------------------------------- */

static void put_time(struct sbuf *b, int64_t ns, const char *text)
{
	char *t;

	if (!ns) {
		sb_text(b, text, 64);
		return;
	}
	t = format_time(ns);
	sb_puts(b, t ? t : "?");
	free(t);
}

static void put_header(struct cli *c, const struct triage_events *ev)
{
	sb_puts(&c->o, "query: ");
	sb_text(&c->o, ev->query, 0);
	sb_puts(&c->o, "\nfrom:  ");
	sb_text(&c->o, ev->origin, 0);
	sb_putc(&c->o, '\n');
	if (ev->truncated)
		sb_printf(&c->o, "note:  the answer reached the limit: counts cover only the newest %zu events "
				 "(narrow --since or --rule, or raise --limit)\n",
			  ev->n);
	if (ev->skipped)
		sb_printf(&c->o, "note:  %zu records that are not Falco events (no rule) skipped\n", ev->skipped);
}

static void put_group(struct sbuf *b, const struct triage_group *g, const char *cls)
{
	const struct triage_event *e = g->newest;

	sb_printf(b, "%6zu  ", g->count);
	if (cls)
		sb_printf(b, "%s  ", cls);
	sb_text(b, g->rule, 200);
	if (e->priority) {
		sb_puts(b, " [");
		sb_text(b, e->priority, 32);
		sb_putc(b, ']');
	}
	sb_puts(b, "\n        namespace ");
	sb_text(b, g->namespace_, 80);
	sb_puts(b, "  pod ");
	sb_text(b, g->pod, 256);
	if (g->n_pods > 1)
		sb_printf(b, " (+%zu more)", g->n_pods - 1);
	sb_puts(b, "  exe ");
	sb_text(b, g->exe_path, 512);
	sb_puts(b, "\n        newest ");
	put_time(b, g->newest_ns, e->time);
	if (g->count > 1 && g->oldest_ns && g->oldest_ns != g->newest_ns) {
		sb_puts(b, "  oldest ");
		put_time(b, g->oldest_ns, NULL);
	}
	if (e->image) {
		sb_puts(b, "  image ");
		sb_text(b, e->image, 256);
	}
	sb_putc(b, '\n');
}

/* ---- events ------------------------------------------------------------- */

static int cmd_events(struct cli *c)
{
	struct triage_events ev = { 0 };
	struct triage_groups g = { 0 };
	json_t *doc = NULL, *arr;
	bool bad = false;
	int r;

	if ((r = fetch(c, &c->q, &ev)))
		return r;
	if (triage_group(&ev, true, &g)) {
		triage_events_clear(&ev);
		return error_exit(c, "out of memory grouping the events");
	}
	if (c->json) {
		doc = source_json(c, &ev, &bad);
		arr = json_array();
		for (size_t i = 0; arr && i < g.n; i++)
			if (json_array_append_new(arr, group_json(&g.items[i], &bad)))
				bad = true;
		jset(doc, "groups", arr, &bad);
	} else {
		put_header(c, &ev);
		if (!ev.n)
			sb_puts(&c->o, "no events\n");
		else
			sb_printf(&c->o, "%zu event%s in %zu group%s (rule, namespace, pod, exe), newest first:\n\n", ev.n,
				  ev.n == 1 ? "" : "s", g.n, g.n == 1 ? "" : "s");
		for (size_t i = 0; i < g.n; i++)
			put_group(&c->o, &g.items[i], NULL);
	}
	triage_groups_clear(&g);
	triage_events_clear(&ev);
	return emit(c, doc, bad);
}

/* ---- classify / fix / report: findings ---------------------------------- */

struct finding {
	const struct triage_group *g;
	const struct triage_event *e; /* the member whose verdict stands: the newest of the worst class */
	struct triage_verdict v;
	size_t counts[3];
	struct triage_fix fix;
	char *gotcha;
};

static void findings_free(struct finding *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		triage_verdict_clear(&f[i].v);
		triage_fix_clear(&f[i].fix);
		free(f[i].gotcha);
	}
	free(f);
}

static int findings(const struct triage_baseline *b, const struct triage_events *ev, const struct triage_groups *g,
		    bool with_fix, struct finding **ret)
{
	struct finding *f = calloc(g->n + 1, sizeof(*f));
	int r = 0;

	*ret = NULL;
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < g->n && !r; i++) {
		f[i].g = &g->items[i];
		for (size_t m = 0; m < g->items[i].n_members && !r; m++) {
			const struct triage_event *e = &ev->items[g->items[i].members[m]];
			struct triage_verdict v;

			if ((r = triage_classify(b, e, &v)))
				break;
			f[i].counts[v.cls]++;
			if (!f[i].e || v.cls > f[i].v.cls) {
				triage_verdict_clear(&f[i].v);
				f[i].v = v;
				f[i].e = e;
			} else {
				triage_verdict_clear(&v);
			}
		}
		if (!r && with_fix)
			r = triage_fix_for(f[i].e, &f[i].v, &f[i].fix);
		if (!r && with_fix && !(f[i].gotcha = triage_gotcha(f[i].e, &f[i].v, &f[i].fix)))
			r = -ENOMEM;
	}
	if (r) {
		findings_free(f, g->n);
		return r;
	}
	*ret = f;
	return 0;
}

static bool mixed(const struct finding *f)
{
	return (f->counts[0] != 0) + (f->counts[1] != 0) + (f->counts[2] != 0) > 1;
}

static void put_counts(struct sbuf *b, const size_t counts[3])
{
	const char *sep = "";

	for (int k = TRIAGE_REAL; k >= TRIAGE_BENIGN; k--) {
		if (!counts[k])
			continue;
		sb_printf(b, "%s%zu %s", sep, counts[k], triage_class_name((enum triage_class)k));
		sep = ", ";
	}
}

static json_t *fix_json(const struct triage_fix *fx, bool *bad)
{
	json_t *o = json_object(), *bake = json_null(), *ex = json_null();

	jset(o, "preferred", json_string(fx->preferred == TRIAGE_FIX_IMAGE_BAKE	 ? "image-bake"
					 : fx->preferred == TRIAGE_FIX_EXCEPTION ? "exception"
										 : "none"),
	     bad);
	if (fx->bake_text) {
		bake = json_object();
		jset(bake, "text", jstr(fx->bake_text), bad);
		jset(bake, "package", jstr(fx->bake_package), bad);
		jset(bake, "dockerfile", jstr(fx->bake_dockerfile), bad);
	}
	if (fx->falco_yaml) {
		ex = json_object();
		jset(ex, "scope", jstr(fx->scope_text), bad);
		jset(ex, "image_repository", jstr(fx->image_repo), bad);
		jset(ex, "falco_rules_yaml", jstr(fx->falco_yaml), bad);
		jset(ex, "reflex_config_yaml", jstr(fx->reflex_yaml), bad);
	}
	jset(o, "image_bake", bake, bad);
	jset(o, "exception", ex, bad);
	jset(o, "refused", jstr(fx->refused), bad);
	return o;
}

static json_t *finding_json(const struct finding *f, bool with_fix, bool *bad)
{
	json_t *o = group_json(f->g, bad), *counts = json_object();

	jset(o, "classification", json_string(triage_class_name(f->v.cls)), bad);
	jset(o, "pattern", jstr(f->v.pattern ? f->v.pattern->name : NULL), bad);
	jset(o, "reason", jstr(f->v.reason), bad);
	jset(o, "escalate", json_boolean(f->v.cls != TRIAGE_BENIGN), bad);
	for (int k = TRIAGE_BENIGN; k <= TRIAGE_REAL; k++)
		jset(counts, triage_class_name((enum triage_class)k), json_integer((json_int_t)f->counts[k]), bad);
	jset(o, "counts", counts, bad);
	jset(o, "event", event_json(f->e, bad), bad);
	if (with_fix) {
		jset(o, "fix", fix_json(&f->fix, bad), bad);
		jset(o, "gotcha", jstr(f->gotcha), bad);
	}
	return o;
}

static void put_finding_text(struct sbuf *b, const struct finding *f)
{
	put_group(b, f->g, triage_class_name(f->v.cls));
	if (mixed(f)) {
		sb_puts(b, "        events: ");
		put_counts(b, f->counts);
		sb_puts(b, " (the group takes its worst)\n");
	}
	sb_puts(b, "        why: ");
	sb_puts(b, f->v.reason);
	sb_putc(b, '\n');
	if (f->v.cls != TRIAGE_BENIGN)
		sb_puts(b, "        -> escalate to a security review\n");
}

static int classify_like(struct cli *c, bool with_fix)
{
	struct triage_baseline *b = NULL;
	struct triage_events ev = { 0 };
	struct triage_groups g = { 0 };
	struct finding *f = NULL;
	struct triage_scope *scopes = NULL;
	size_t n_scopes = 0, totals[3] = { 0 }, escalate = 0;
	char *falco = NULL, *reflex = NULL, err[512];
	json_t *doc = NULL, *arr;
	bool bad = false;
	int r;

	if ((r = load_baseline(c, &b)))
		return r;
	if ((r = fetch(c, &c->q, &ev)))
		goto out;
	if (triage_group(&ev, true, &g) || findings(b, &ev, &g, with_fix, &f)) {
		r = error_exit(c, "out of memory classifying the events");
		goto out;
	}
	scopes = calloc(g.n + 1, sizeof(*scopes));
	if (!scopes) {
		r = error_exit(c, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < g.n; i++) {
		totals[f[i].v.cls]++;
		escalate += f[i].v.cls != TRIAGE_BENIGN;
		if (!with_fix || !f[i].fix.falco_yaml)
			continue;
		/* The combined files hold each scope once. */
		struct triage_scope s = { .rule = f[i].e->rule, .namespace_ = f[i].e->namespace_,
					  .exe_path = f[i].e->exe_path, .image_repo = f[i].fix.image_repo,
					  .comment = f[i].fix.comment };
		bool dup = false;

		for (size_t k = 0; k < n_scopes && !dup; k++)
			dup = !strcmp(scopes[k].rule, s.rule) && !strcmp(scopes[k].namespace_, s.namespace_) &&
			      !strcmp(scopes[k].exe_path, s.exe_path) && !strcmp_null(scopes[k].image_repo, s.image_repo);
		if (!dup)
			scopes[n_scopes++] = s;
	}
	if (n_scopes && (triage_falco_override(scopes, n_scopes, &falco, err, sizeof(err)) ||
			 triage_reflex_exceptions(scopes, n_scopes, &reflex, err, sizeof(err)))) {
		r = error_exit(c, err);
		goto out;
	}
	if (c->json) {
		doc = source_json(c, &ev, &bad);
		jset(doc, "baseline", jstr(b->path), &bad);
		arr = json_array();
		for (size_t i = 0; arr && i < g.n; i++)
			if (json_array_append_new(arr, finding_json(&f[i], with_fix, &bad)))
				bad = true;
		jset(doc, "groups", arr, &bad);
		{
			json_t *t = json_object();

			for (int k = TRIAGE_BENIGN; k <= TRIAGE_REAL; k++)
				jset(t, triage_class_name((enum triage_class)k), json_integer((json_int_t)totals[k]), &bad);
			jset(doc, "summary", t, &bad);
		}
		jset(doc, "escalate", json_integer((json_int_t)escalate), &bad);
		if (with_fix) {
			jset(doc, "falco_rules_yaml", jstr(falco), &bad);
			jset(doc, "reflex_config_yaml", jstr(reflex), &bad);
		}
	} else {
		sb_puts(&c->o, "baseline: ");
		sb_text(&c->o, b->path, 0);
		sb_printf(&c->o, " (%zu benign patterns, %zu real indicators)\n", b->n_benign, b->n_real);
		put_header(c, &ev);
		if (!ev.n)
			sb_puts(&c->o, "no events\n");
		else
			sb_printf(&c->o, "%zu event%s in %zu group%s, newest first:\n", ev.n, ev.n == 1 ? "" : "s", g.n,
				  g.n == 1 ? "" : "s");
		for (size_t i = 0; i < g.n; i++) {
			const struct triage_fix *fx = &f[i].fix;

			sb_putc(&c->o, '\n');
			put_finding_text(&c->o, &f[i]);
			if (!with_fix)
				continue;
			if (fx->bake_text) {
				sb_puts(&c->o, "        fix 1 (preferred), image bake: ");
				sb_puts(&c->o, fx->bake_text);
				sb_putc(&c->o, '\n');
				if (fx->bake_dockerfile) {
					sb_puts(&c->o, "            ");
					sb_text(&c->o, fx->bake_dockerfile, 0);
					sb_putc(&c->o, '\n');
				}
			}
			if (fx->scope_text) {
				sb_printf(&c->o, "        fix %s, scoped exception: ", fx->bake_text ? "2" : "1 (preferred)");
				sb_puts(&c->o, fx->scope_text);
				sb_puts(&c->o, " (YAML below)\n");
			}
			if (fx->refused) {
				sb_puts(&c->o, "        ");
				sb_puts(&c->o, fx->refused);
				sb_putc(&c->o, '\n');
			}
		}
		if (g.n) {
			sb_puts(&c->o, "\nsummary: ");
			put_counts(&c->o, totals);
			sb_printf(&c->o, " group%s", g.n == 1 ? "" : "s");
			if (escalate)
				sb_printf(&c->o, "; escalate %zu to a security review", escalate);
			sb_putc(&c->o, '\n');
		}
		if (with_fix && falco) {
			sb_puts(&c->o, "\n--- Falco rules override (second choice after the image bake where one is "
				       "given) ---\n");
			sb_puts(&c->o, falco);
			sb_puts(&c->o, "\n--- reflex config exceptions ---\n");
			sb_puts(&c->o, reflex);
		} else if (with_fix && g.n) {
			sb_puts(&c->o, "\nno exception suggested: nothing here is a benign true positive with a "
				       "namespace and an exe path\n");
		}
	}
	r = emit(c, doc, bad);
	doc = NULL;
out:
	json_decref(doc);
	free(falco);
	free(reflex);
	free(scopes);
	findings_free(f, g.n);
	triage_groups_clear(&g);
	triage_events_clear(&ev);
	triage_baseline_free(b);
	return r;
}

/* ---- verify ------------------------------------------------------------- */

struct verify {
	struct triage_events ev;
	const char *since;
};

/* 0 and V filled, or the exit status of a failure. */
static int run_verify(struct cli *c, const char *since, struct verify *v)
{
	struct triage_query q = c->q;

	q.since = since;
	v->since = since;
	return fetch(c, &q, &v->ev);
}

static void put_verify(struct sbuf *b, const struct cli *c, const struct verify *v)
{
	const struct triage_event *e = v->ev.n ? &v->ev.items[0] : NULL;

	sb_puts(b, "verify: rule '");
	sb_text(b, c->q.rule, 0);
	sb_puts(b, "' in namespace ");
	sb_text(b, c->q.namespace_, 0);
	sb_printf(b, ", last %s: ", v->since);
	if (!e) {
		sb_puts(b, "no events: the fix holds\n");
	} else {
		sb_printf(b, "%zu event%s remain%s, newest ", v->ev.n, v->ev.n == 1 ? "" : "s", v->ev.n == 1 ? "s" : "");
		put_time(b, e->time_ns, e->time);
		sb_puts(b, " (pod ");
		sb_text(b, e->pod, 256);
		sb_puts(b, ", exe ");
		sb_text(b, e->exe_path, 512);
		sb_puts(b, "): still firing\n");
	}
	sb_puts(b, "verify query: ");
	sb_text(b, v->ev.query, 0);
	sb_putc(b, '\n');
}

static json_t *verify_json(const struct cli *c, const struct verify *v, bool *bad)
{
	json_t *o = json_object();

	jset(o, "rule", jstr(c->q.rule), bad);
	jset(o, "namespace", jstr(c->q.namespace_), bad);
	jset(o, "since", jstr(v->since), bad);
	jset(o, "query", jstr(v->ev.query), bad);
	jset(o, "origin", jstr(v->ev.origin), bad);
	jset(o, "remaining", json_integer((json_int_t)v->ev.n), bad);
	jset(o, "empty", json_boolean(v->ev.n == 0), bad);
	jset(o, "newest", v->ev.n ? event_json(&v->ev.items[0], bad) : json_null(), bad);
	return o;
}

static int cmd_verify(struct cli *c)
{
	struct verify v = { 0 };
	json_t *doc = NULL;
	bool bad = false;
	int r;

	if ((r = run_verify(c, c->q.since, &v)))
		return r;
	if (c->json)
		doc = verify_json(c, &v, &bad);
	else
		put_verify(&c->o, c, &v);
	r = emit(c, doc, bad);
	if (!r && v.ev.n)
		r = 3;
	triage_events_clear(&v.ev);
	return r;
}

/* ---- report ------------------------------------------------------------- */

static void put_report_finding(struct sbuf *b, size_t index, const struct finding *f)
{
	const struct triage_group *g = f->g;
	const struct triage_event *e = f->e;
	const struct triage_fix *fx = &f->fix;

	sb_printf(b, "\n[%zu] ", index + 1);
	sb_text(b, g->rule, 0);
	sb_printf(b, ": %zu event%s, newest ", g->count, g->count == 1 ? "" : "s");
	put_time(b, g->newest_ns, g->newest->time);
	sb_puts(b, "\n    namespace   ");
	sb_text(b, g->namespace_, 0);
	sb_puts(b, "\n    pod         ");
	for (size_t i = 0; i < g->n_pods && i < 5; i++) {
		sb_puts(b, i ? ", " : "");
		sb_text(b, g->pods[i], 256);
	}
	if (g->n_pods > 5)
		sb_printf(b, " and %zu more", g->n_pods - 5);
	if (!g->n_pods)
		sb_putc(b, '-');
	sb_puts(b, "\n    exe         ");
	sb_text(b, g->exe_path, 0);
	if (e->parent || e->gparent) {
		sb_puts(b, " (parent ");
		sb_text(b, e->parent, 128);
		if (e->gparent) {
			sb_puts(b, ", grandparent ");
			sb_text(b, e->gparent, 128);
		}
		sb_putc(b, ')');
	}
	if (e->cmdline) {
		sb_puts(b, "\n    cmdline     ");
		sb_text(b, e->cmdline, 512);
	}
	sb_puts(b, "\n    image       ");
	sb_text(b, e->image, 0);
	sb_puts(b, "\n    priority    ");
	sb_text(b, e->priority, 32);
	sb_printf(b, "\n    class       %s", triage_class_name(f->v.cls));
	if (mixed(f)) {
		sb_puts(b, " (");
		put_counts(b, f->counts);
		sb_puts(b, ": the worst stands)");
	}
	sb_puts(b, "\n    why         ");
	sb_puts(b, f->v.reason);
	if (fx->bake_text) {
		sb_puts(b, "\n    fix         image bake (preferred): ");
		sb_puts(b, fx->bake_text);
		if (fx->bake_dockerfile) {
			sb_puts(b, "\n                ");
			sb_text(b, fx->bake_dockerfile, 0);
		}
	}
	if (fx->scope_text) {
		sb_printf(b, "\n    %s scoped exception: ", fx->bake_text ? "fallback   " : "fix        ");
		sb_puts(b, fx->scope_text);
		sb_puts(b, " (Falco override and reflex exception below)");
	}
	if (fx->refused) {
		sb_puts(b, "\n    fix         ");
		sb_puts(b, fx->refused);
	}
	if (f->v.cls != TRIAGE_BENIGN)
		sb_puts(b, "\n    escalate    to a security review");
	sb_puts(b, "\n    ");
	sb_puts(b, f->gotcha);
	sb_putc(b, '\n');
}

static int cmd_report(struct cli *c)
{
	struct triage_baseline *b = NULL;
	struct triage_events ev = { 0 };
	struct triage_groups g = { 0 };
	struct finding *f = NULL;
	struct verify v = { 0 };
	enum triage_class worst = TRIAGE_BENIGN;
	json_t *doc = NULL, *arr;
	char *generated = format_time(util_realtime_ns());
	bool bad = false, any_fix = false;
	int r;

	if (!generated)
		return error_exit(c, "out of memory");
	if ((r = load_baseline(c, &b)) || (r = fetch(c, &c->q, &ev)))
		goto out;
	if (!ev.n) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "no events for rule '%s' in namespace %s%s%s (query: %s)", c->q.rule,
			 c->q.namespace_, c->q.since ? " in the last " : "", c->q.since ? c->q.since : "", ev.query);
		r = error_exit(c, msg);
		goto out;
	}
	/* One finding per exe: a CronJob's pods differ on every run. */
	if (triage_group(&ev, false, &g) || findings(b, &ev, &g, true, &f)) {
		r = error_exit(c, "out of memory classifying the events");
		goto out;
	}
	if ((r = run_verify(c, c->verify_since, &v)))
		goto out;
	for (size_t i = 0; i < g.n; i++) {
		if (f[i].v.cls > worst)
			worst = f[i].v.cls;
		any_fix |= f[i].fix.falco_yaml != NULL;
	}
	if (c->json) {
		doc = json_object();
		jset(doc, "rule", jstr(c->q.rule), &bad);
		jset(doc, "namespace", jstr(c->q.namespace_), &bad);
		jset(doc, "generated", json_string(generated), &bad);
		jset(doc, "baseline", jstr(b->path), &bad);
		jset(doc, "source", source_json(c, &ev, &bad), &bad);
		jset(doc, "classification", json_string(triage_class_name(worst)), &bad);
		jset(doc, "escalate", json_boolean(worst != TRIAGE_BENIGN), &bad);
		arr = json_array();
		for (size_t i = 0; arr && i < g.n; i++)
			if (json_array_append_new(arr, finding_json(&f[i], true, &bad)))
				bad = true;
		jset(doc, "findings", arr, &bad);
		jset(doc, "verify", verify_json(c, &v, &bad), &bad);
	} else {
		sb_puts(&c->o, "reflex triage report: rule '");
		sb_text(&c->o, c->q.rule, 0);
		sb_puts(&c->o, "', namespace ");
		sb_text(&c->o, c->q.namespace_, 0);
		sb_printf(&c->o, "\ngenerated %s; baseline ", generated);
		sb_text(&c->o, b->path, 0);
		sb_putc(&c->o, '\n');
		put_header(c, &ev);
		sb_printf(&c->o, "%zu event%s%s%s; classification %s%s\n", ev.n, ev.n == 1 ? "" : "s",
			  c->q.since ? " in the last " : "", c->q.since ? c->q.since : "", triage_class_name(worst),
			  worst != TRIAGE_BENIGN ? ": escalate to a security review" : "");
		for (size_t i = 0; i < g.n; i++)
			put_report_finding(&c->o, i, &f[i]);
		sb_putc(&c->o, '\n');
		put_verify(&c->o, c, &v);
		for (size_t i = 0; any_fix && i < g.n; i++) {
			if (!f[i].fix.falco_yaml)
				continue;
			sb_printf(&c->o, "\n--- [%zu] Falco rules override ---\n", i + 1);
			sb_puts(&c->o, f[i].fix.falco_yaml);
			sb_printf(&c->o, "--- [%zu] reflex config exception ---\n", i + 1);
			sb_puts(&c->o, f[i].fix.reflex_yaml);
		}
	}
	r = emit(c, doc, bad);
	doc = NULL;
	if (!r && v.ev.n)
		r = 3;
out:
	json_decref(doc);
	free(generated);
	triage_events_clear(&v.ev);
	findings_free(f, g.n);
	triage_groups_clear(&g);
	triage_events_clear(&ev);
	triage_baseline_free(b);
	return r;
}

int triage_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct cli c = { .out = out, .err = err };
	bool curl = false;
	int r;

	if (argc < 2) {
		fputs(triage_usage, err);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(triage_usage, out);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub_names) && !c.name; i++)
		if (!strcmp(argv[1], sub_names[i])) {
			c.sub = (enum sub)i;
			c.name = sub_names[i];
		}
	if (!c.name) {
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", argv[1]);
		printable_line(shown);
		fprintf(err, "reflex triage: unknown command '%s'\n\n%s", shown, triage_usage);
		return 2;
	}
	r = parse_cli(&c, argc - 1, argv + 1);
	if (r)
		return r < 0 ? 0 : r;
	if (c.src.kind == TRIAGE_SOURCE_VICTORIALOGS) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return error_exit(&c, "libcurl failed to initialise");
		curl = true;
	}
	switch (c.sub) {
	case SUB_EVENTS:
		r = cmd_events(&c);
		break;
	case SUB_CLASSIFY:
		r = classify_like(&c, false);
		break;
	case SUB_FIX:
		r = classify_like(&c, true);
		break;
	case SUB_VERIFY:
		r = cmd_verify(&c);
		break;
	case SUB_REPORT:
	default:
		r = cmd_report(&c);
		break;
	}
	sb_free(&c.o);
	if (curl)
		curl_global_cleanup();
	return r;
}
