// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Falco alert parsing: jansson does the JSON, this file decides what a
 * well-formed alert is and copies out the few fields reflex correlates on.
 * Input is hostile (anything that can write to the feed socket or POST to
 * the webhook), so every copied string is checked and every error message is
 * printable ASCII whatever the input held.
 */
#include "falco_alert.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/types.h>

#include <jansson.h>

#define RULE_MAX 1024
#define EXE_PATH_MAX 4096
#define K8S_NAMESPACE_MAX 63 /* a DNS label */
#define K8S_POD_MAX 253      /* a DNS subdomain */
#define CONTAINER_ID_MIN 12  /* Falco's short id */
#define CONTAINER_ID_MAX 64

/* Pids and times read from a real are exact only up to 2^53. */
#define REAL_EXACT_MAX 9007199254740992.0

const char *falco_parse_error_name(enum falco_parse_error e)
{
	static const char *const names[FALCO_PARSE_ERROR_MAX] = {
		[FALCO_PARSE_OK] = "ok",
		[FALCO_PARSE_EMPTY] = "empty",
		[FALCO_PARSE_TOO_LARGE] = "too_large",
		[FALCO_PARSE_NOT_UTF8] = "not_utf8",
		[FALCO_PARSE_SYNTAX] = "syntax",
		[FALCO_PARSE_TOO_DEEP] = "too_deep",
		[FALCO_PARSE_NOT_ALERT] = "not_alert",
		[FALCO_PARSE_BAD_FIELD] = "bad_field",
	};

	if ((int)e < 0 || e >= FALCO_PARSE_ERROR_MAX)
		return "unknown";
	return names[e];
}

enum falco_priority falco_priority_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum falco_priority priority;
	} names[] = {
		{ "emergency", FALCO_PRIORITY_EMERGENCY },
		{ "alert", FALCO_PRIORITY_ALERT },
		{ "critical", FALCO_PRIORITY_CRITICAL },
		{ "error", FALCO_PRIORITY_ERROR },
		{ "warning", FALCO_PRIORITY_WARNING },
		{ "warn", FALCO_PRIORITY_WARNING },
		{ "notice", FALCO_PRIORITY_NOTICE },
		{ "informational", FALCO_PRIORITY_INFORMATIONAL },
		{ "info", FALCO_PRIORITY_INFORMATIONAL },
		{ "debug", FALCO_PRIORITY_DEBUG },
	};

	if (!name)
		return FALCO_PRIORITY_UNKNOWN;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return names[i].priority;
	return FALCO_PRIORITY_UNKNOWN;
}

static bool is_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

bool falco_container_id_matches(const char *falco_id, const char *full_id)
{
	size_t falco_len, full_len;

	if (!falco_id || !full_id)
		return false;
	falco_len = strnlen(falco_id, CONTAINER_ID_MAX + 1);
	full_len = strnlen(full_id, CONTAINER_ID_MAX + 1);
	if (full_len != CONTAINER_ID_MAX || !is_lower_hex(full_id, full_len))
		return false;
	if (falco_len < CONTAINER_ID_MIN || falco_len > CONTAINER_ID_MAX || !is_lower_hex(falco_id, falco_len))
		return false;
	return memcmp(falco_id, full_id, falco_len) == 0;
}

void falco_alert_clear(struct falco_alert *alert)
{
	if (!alert)
		return;
	free(alert->rule);
	free(alert->priority_text);
	free(alert->output);
	free(alert->source);
	free(alert->hostname);
	free(alert->uuid);
	for (size_t i = 0; i < alert->n_tags; i++)
		free(alert->tags[i]);
	free(alert->tags);
	free(alert->container_id);
	free(alert->exe_path);
	free(alert->k8s_namespace);
	free(alert->k8s_pod);
	free(alert->image);
	free(alert->cmdline);
	json_decref(alert->json);
	memset(alert, 0, sizeof(*alert));
}

/* ---- errors ------------------------------------------------------------- */

struct parse_ctx {
	char *err;
	size_t errlen;
	bool ints_as_reals; /* retried with JSON_DECODE_INT_AS_REAL */
};

/* Printable ASCII only: jansson quotes raw input bytes after "near". */
static void sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

__attribute__((format(printf, 3, 4))) static enum falco_parse_error fail(struct parse_ctx *ctx,
									 enum falco_parse_error e,
									 const char *fmt, ...)
{
	va_list ap;

	if (ctx->err && ctx->errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(ctx->err, ctx->errlen, fmt, ap);
		va_end(ap);
		sanitize(ctx->err);
	}
	return e;
}

static enum falco_parse_error fail_json(struct parse_ctx *ctx, const json_error_t *jerr)
{
	enum falco_parse_error e;
	const char *what;

	switch (json_error_code(jerr)) {
	case json_error_invalid_utf8:
		e = FALCO_PARSE_NOT_UTF8;
		what = "invalid UTF-8";
		break;
	case json_error_stack_overflow:
		e = FALCO_PARSE_TOO_DEEP;
		what = "nesting too deep";
		break;
	case json_error_numeric_overflow: /* a real beyond double: Falco never prints one */
	case json_error_null_character:   /* "\u0000": well-formed, but no C string can hold it */
		e = FALCO_PARSE_BAD_FIELD;
		what = "bad value";
		break;
	case json_error_out_of_memory:
		e = FALCO_PARSE_TOO_LARGE;
		what = "out of memory";
		break;
	default:
		e = FALCO_PARSE_SYNTAX;
		what = "syntax error";
		break;
	}
	return fail(ctx, e, "%s at line %d column %d: %s", what, jerr->line, jerr->column, jerr->text);
}

/* ---- tree checks -------------------------------------------------------- */

/* Bounded recursion: never more than FALCO_ALERT_MAX_DEPTH + 1 frames. */
static bool depth_within(json_t *j, int depth)
{
	const char *key;
	json_t *v;
	size_t i;

	if (!json_is_object(j) && !json_is_array(j))
		return true;
	if (depth > FALCO_ALERT_MAX_DEPTH)
		return false;
	if (json_is_object(j)) {
		json_object_foreach(j, key, v)
			if (!depth_within(v, depth + 1))
				return false;
	} else {
		json_array_foreach(j, i, v)
			if (!depth_within(v, depth + 1))
				return false;
	}
	return true;
}

/* ---- field readers ------------------------------------------------------ */

/*
 * Copies the string at OBJ[KEY] into *RET (NULL when absent or null).
 * MAX_LEN of 0 means no limit beyond the line's own.
 */
static enum falco_parse_error copy_string(struct parse_ctx *ctx, json_t *obj, const char *where, const char *key,
					  size_t max_len, char **ret)
{
	json_t *v = json_object_get(obj, key);
	size_t len;

	*ret = NULL;
	if (!v || json_is_null(v))
		return FALCO_PARSE_OK;
	if (!json_is_string(v))
		return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field %s%s: not a string", where, key);
	len = json_string_length(v);
	if (max_len && len > max_len)
		return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field %s%s: %zu bytes, over %zu", where, key, len,
			    max_len);
	*ret = strdup(json_string_value(v));
	if (!*ret)
		return fail(ctx, FALCO_PARSE_TOO_LARGE, "out of memory copying %s%s", where, key);
	return FALCO_PARSE_OK;
}

static enum falco_parse_error read_tags(struct parse_ctx *ctx, json_t *root, struct falco_alert *a)
{
	json_t *tags = json_object_get(root, "tags");
	json_t *v;
	size_t i;

	if (!tags || json_is_null(tags))
		return FALCO_PARSE_OK;
	if (!json_is_array(tags))
		return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field tags: not an array");
	if (json_array_size(tags) == 0)
		return FALCO_PARSE_OK;
	a->tags = calloc(json_array_size(tags), sizeof(*a->tags));
	if (!a->tags)
		return fail(ctx, FALCO_PARSE_TOO_LARGE, "out of memory copying tags");
	json_array_foreach(tags, i, v) {
		if (json_is_null(v)) /* null is absent, here as everywhere */
			continue;
		if (!json_is_string(v))
			return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field tags[%zu]: not a string", i);
		a->tags[a->n_tags] = strdup(json_string_value(v));
		if (!a->tags[a->n_tags])
			return fail(ctx, FALCO_PARSE_TOO_LARGE, "out of memory copying tags");
		a->n_tags++;
	}
	return FALCO_PARSE_OK;
}

static int read_digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++, (*p)++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
	}
	return v;
}

/*
 * RFC 3339 "2025-11-21T03:22:17.401020304Z" (or an offset) to ns since the
 * epoch, exactly: a double would lose the last digits Falco prints.
 */
static bool rfc3339_to_ns(const char *s, uint64_t *ret)
{
	const char *p = s;
	struct tm tm = { 0 }, back;
	int year, mon, mday, hour, min, sec, off_h = 0, off_m = 0, sign = 0;
	uint64_t frac = 0;
	int frac_digits = 0;
	int64_t secs;
	time_t t;

	year = read_digits(&p, 4);
	if (year < 0 || *p++ != '-')
		return false;
	mon = read_digits(&p, 2);
	if (mon < 0 || *p++ != '-')
		return false;
	mday = read_digits(&p, 2);
	if (mday < 0 || (*p != 'T' && *p != 't' && *p != ' '))
		return false;
	p++;
	hour = read_digits(&p, 2);
	if (hour < 0 || *p++ != ':')
		return false;
	min = read_digits(&p, 2);
	if (min < 0 || *p++ != ':')
		return false;
	sec = read_digits(&p, 2);
	if (sec < 0)
		return false;
	if (*p == '.') {
		p++;
		while (isdigit((unsigned char)*p)) {
			if (frac_digits == 9)
				return false; /* below a nanosecond: not something Falco prints */
			frac = frac * 10 + (uint64_t)(*p++ - '0');
			frac_digits++;
		}
		if (frac_digits == 0)
			return false;
		for (int i = frac_digits; i < 9; i++)
			frac *= 10;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '+' ? 1 : -1;
		off_h = read_digits(&p, 2);
		if (off_h < 0 || off_h > 23 || *p++ != ':')
			return false;
		off_m = read_digits(&p, 2);
		if (off_m < 0 || off_m > 59)
			return false;
	} else {
		return false;
	}
	if (*p != '\0')
		return false;
	if (year < 1970 || mon < 1 || mon > 12 || mday < 1 || mday > 31 || hour > 23 || min > 59 || sec > 60)
		return false;

	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = mday;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec == 60 ? 59 : sec; /* a leap second: keep it inside its minute */
	t = timegm(&tm);
	/* timegm normalises Feb 30 to Mar 2: a date that does not round-trip is invalid. */
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != mday || back.tm_mon != mon - 1)
		return false;
	secs = (int64_t)t - sign * (int64_t)(off_h * 3600 + off_m * 60);
	if (secs < 0 || (uint64_t)secs > (UINT64_MAX - frac) / 1000000000u)
		return false;
	*ret = (uint64_t)secs * 1000000000u + frac;
	return true;
}

/*
 * An integer time in ns. Returns 1 when read, 0 when it must come from
 * elsewhere (absent, null, or no longer exact after the int-as-real retry).
 */
static int read_time_field(struct parse_ctx *ctx, json_t *fields, const char *key, uint64_t *ret,
			   enum falco_parse_error *e)
{
	json_t *v = json_object_get(fields, key);

	*e = FALCO_PARSE_OK;
	if (!v || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return 0;
		*ret = (uint64_t)json_integer_value(v);
		return 1;
	}
	/* A real (after the retry) or a formatted string: use the top-level "time". */
	if (json_is_real(v) || json_is_string(v))
		return 0;
	*e = fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.%s: not a number", key);
	return 0;
}

static enum falco_parse_error read_time(struct parse_ctx *ctx, json_t *root, json_t *fields,
					struct falco_alert *a)
{
	static const char *const keys[] = { "evt.time", "evt.time.iso8601" };
	json_t *iso = json_object_get(root, "time");
	enum falco_parse_error e;

	if (iso && !json_is_null(iso) && !json_is_string(iso))
		return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field time: not a string");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (read_time_field(ctx, fields, keys[i], &a->time_ns, &e))
			return FALCO_PARSE_OK;
		if (e)
			return e;
	}
	if (!json_is_string(iso))
		return FALCO_PARSE_OK;
	if (!rfc3339_to_ns(json_string_value(iso), &a->time_ns))
		return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field time: not an RFC 3339 time");
	return FALCO_PARSE_OK;
}

/*
 * proc.pid is acted on (a pidfd is opened on it): a value outside pid_t is
 * refused, never truncated (4294967297 would become pid 1). 0, negative and
 * null read as absent, as Falco prints them for a thread it did not see.
 */
static enum falco_parse_error read_pid(struct parse_ctx *ctx, json_t *fields, struct falco_alert *a)
{
	json_t *v = json_object_get(fields, "proc.pid");
	double d;

	_Static_assert(sizeof(pid_t) == sizeof(int32_t), "pid_t is 32 bits");
	if (!v || json_is_null(v))
		return FALCO_PARSE_OK;
	if (json_is_integer(v)) {
		if (json_integer_value(v) > INT32_MAX)
			return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.proc.pid: beyond pid_t");
		if (json_integer_value(v) > 0)
			a->pid = json_integer_value(v);
		return FALCO_PARSE_OK;
	}
	/* After the int-as-real retry every integer is a real. */
	if (ctx->ints_as_reals && json_is_real(v)) {
		d = json_real_value(v);
		if (d != floor(d))
			return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.proc.pid: not an integer");
		if (d > (double)INT32_MAX)
			return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.proc.pid: beyond pid_t");
		if (d > 0)
			a->pid = (int64_t)d;
		return FALCO_PARSE_OK;
	}
	return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.proc.pid: not an integer");
}

static enum falco_parse_error read_container_id(struct parse_ctx *ctx, json_t *fields, struct falco_alert *a)
{
	enum falco_parse_error e;
	size_t len;

	e = copy_string(ctx, fields, "output_fields.", "container.id", CONTAINER_ID_MAX, &a->container_id);
	if (e || !a->container_id)
		return e;
	len = strlen(a->container_id);
	if (len == 0) { /* the container plugin's "no container" */
		free(a->container_id);
		a->container_id = NULL;
		return FALCO_PARSE_OK;
	}
	if (strcmp(a->container_id, "host") == 0)
		return FALCO_PARSE_OK;
	if (len < CONTAINER_ID_MIN || !is_lower_hex(a->container_id, len))
		return fail(ctx, FALCO_PARSE_BAD_FIELD,
			    "bad field output_fields.container.id: not 12-64 lowercase hex nor \"host\"");
	return FALCO_PARSE_OK;
}

static enum falco_parse_error read_exe_path(struct parse_ctx *ctx, json_t *fields, struct falco_alert *a)
{
	enum falco_parse_error e;
	char *exe = NULL;

	e = copy_string(ctx, fields, "output_fields.", "proc.exepath", EXE_PATH_MAX, &a->exe_path);
	if (e)
		return e;
	if (a->exe_path && a->exe_path[0] == '\0') { /* kernel threads have none */
		free(a->exe_path);
		a->exe_path = NULL;
	}
	if (a->exe_path) {
		if (a->exe_path[0] != '/')
			return fail(ctx, FALCO_PARSE_BAD_FIELD, "bad field output_fields.proc.exepath: not absolute");
		return FALCO_PARSE_OK;
	}
	/* proc.exe is argv[0]: only a path when it is absolute, otherwise ignored. */
	e = copy_string(ctx, fields, "output_fields.", "proc.exe", 0, &exe);
	if (e)
		return e;
	if (exe && exe[0] == '/' && strlen(exe) <= EXE_PATH_MAX)
		a->exe_path = exe;
	else
		free(exe);
	return FALCO_PARSE_OK;
}

/* Drops "" to absent: Falco prints it for fields that do not apply. */
static enum falco_parse_error copy_nonempty(struct parse_ctx *ctx, json_t *obj, const char *where, const char *key,
					    size_t max_len, char **ret)
{
	enum falco_parse_error e = copy_string(ctx, obj, where, key, max_len, ret);

	if (!e && *ret && (*ret)[0] == '\0') {
		free(*ret);
		*ret = NULL;
	}
	return e;
}

static enum falco_parse_error read_image(struct parse_ctx *ctx, json_t *fields, struct falco_alert *a)
{
	enum falco_parse_error e;
	char *repo = NULL, *tag = NULL;

	e = copy_nonempty(ctx, fields, "output_fields.", "container.image.repository", 0, &repo);
	if (!e)
		e = copy_nonempty(ctx, fields, "output_fields.", "container.image.tag", 0, &tag);
	if (!e && repo && tag) {
		if (asprintf(&a->image, "%s:%s", repo, tag) < 0) {
			a->image = NULL;
			e = fail(ctx, FALCO_PARSE_TOO_LARGE, "out of memory copying container.image");
		}
	} else if (!e && repo) {
		a->image = repo;
		repo = NULL;
	} else if (!e) {
		e = copy_nonempty(ctx, fields, "output_fields.", "container.image", 0, &a->image);
	}
	free(repo);
	free(tag);
	return e;
}

static enum falco_parse_error read_alert(struct parse_ctx *ctx, json_t *root, struct falco_alert *a)
{
	enum falco_parse_error e;
	json_t *rule, *fields;

	if (!json_is_object(root))
		return fail(ctx, FALCO_PARSE_NOT_ALERT, "not an alert: top level is not an object");
	rule = json_object_get(root, "rule");
	if (!json_is_string(rule) || json_string_length(rule) == 0)
		return fail(ctx, FALCO_PARSE_NOT_ALERT, "not an alert: no rule string");
	fields = json_object_get(root, "output_fields");
	if (!json_is_object(fields))
		return fail(ctx, FALCO_PARSE_NOT_ALERT, "not an alert: no output_fields object");

	if ((e = copy_string(ctx, root, "", "rule", RULE_MAX, &a->rule)) ||
	    (e = copy_string(ctx, root, "", "priority", 0, &a->priority_text)) ||
	    (e = copy_string(ctx, root, "", "output", 0, &a->output)) ||
	    (e = copy_string(ctx, root, "", "source", 0, &a->source)) ||
	    (e = copy_string(ctx, root, "", "hostname", 0, &a->hostname)) ||
	    (e = copy_string(ctx, root, "", "uuid", 0, &a->uuid)) || (e = read_tags(ctx, root, a)) ||
	    (e = read_time(ctx, root, fields, a)) || (e = read_container_id(ctx, fields, a)) ||
	    (e = read_exe_path(ctx, fields, a)) || (e = read_pid(ctx, fields, a)) ||
	    (e = copy_nonempty(ctx, fields, "output_fields.", "k8s.ns.name", K8S_NAMESPACE_MAX, &a->k8s_namespace)) ||
	    (e = copy_nonempty(ctx, fields, "output_fields.", "k8s.pod.name", K8S_POD_MAX, &a->k8s_pod)) ||
	    (e = read_image(ctx, fields, a)) ||
	    (e = copy_string(ctx, fields, "output_fields.", "proc.cmdline", 0, &a->cmdline)))
		return e;
	a->priority = falco_priority_from_name(a->priority_text);
	return FALCO_PARSE_OK;
}

/* ---- entry point -------------------------------------------------------- */

static bool is_blank(const char *text, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
			return false;
	return true;
}

/* jansson's message for an integer beyond json_int_t, positive or negative. */
static bool is_int_overflow(const json_error_t *jerr)
{
	return json_error_code(jerr) == json_error_numeric_overflow && strstr(jerr->text, "too big") &&
	       strstr(jerr->text, "integer");
}

enum falco_parse_error falco_alert_parse(const char *text, size_t len, size_t max_bytes, struct falco_alert *ret,
					 char *err, size_t errlen)
{
	struct parse_ctx ctx = { .err = err, .errlen = errlen };
	enum falco_parse_error e;
	const char *nul;
	json_error_t jerr;
	json_t *root;

	memset(ret, 0, sizeof(*ret));
	if (err && errlen)
		err[0] = '\0';
	if (max_bytes == 0) /* 0: the caller has no limit of its own */
		max_bytes = FALCO_ALERT_MAX_BYTES_DEFAULT;

	if (len > max_bytes)
		return fail(&ctx, FALCO_PARSE_TOO_LARGE, "alert of %zu bytes, over %zu", len, max_bytes);
	if (!text || is_blank(text, len))
		return fail(&ctx, FALCO_PARSE_EMPTY, "empty line");
	/* jansson would stop a string at it or call it a token; say plainly what it is. */
	nul = memchr(text, '\0', len);
	if (nul)
		return fail(&ctx, FALCO_PARSE_SYNTAX, "syntax error at byte %zu: NUL byte", (size_t)(nul - text));

	/* Strict by default: trailing garbage is an error (no JSON_DISABLE_EOF_CHECK). */
	root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
	if (!root && is_int_overflow(&jerr)) {
		/* Falco prints uint64 fields (inodes, ctimes) beyond INT64_MAX. */
		ctx.ints_as_reals = true;
		root = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
	}
	if (!root)
		return fail_json(&ctx, &jerr);
	if (!depth_within(root, 1)) {
		json_decref(root);
		return fail(&ctx, FALCO_PARSE_TOO_DEEP, "nesting deeper than %d", FALCO_ALERT_MAX_DEPTH);
	}

	e = read_alert(&ctx, root, ret);
	if (e) {
		json_decref(root);
		falco_alert_clear(ret);
		return e;
	}
	ret->json = root;
	return FALCO_PARSE_OK;
}
