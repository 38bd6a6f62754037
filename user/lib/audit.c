// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "audit.h"

#define DRY_RUN_PREFIX "DRY_RUN: "

struct audit_log {
	int fd; /* -1: no file */
	bool to_stdout;
};

/* Length of the well-formed UTF-8 sequence at S (RFC 3629), 0 if ill-formed. */
static size_t utf8_seq_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	/* Overlongs, surrogates and code points past U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/*
 * Exe paths and comms come from the kernel and may be any bytes; jansson
 * refuses invalid UTF-8. Each ill-formed byte becomes the text \xNN, which
 * keeps the byte's value for forensics (U+FFFD would lose it). Valid strings
 * are returned as they are, so they match what Falco prints. *ret_copy gets
 * the allocation to free, if any; NULL on ENOMEM.
 */
const char *audit_utf8_clean(const char *s, char **ret_copy)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t bad = 0, len = 0, n;
	char *out, *o;

	*ret_copy = NULL;
	while (p[len]) {
		n = utf8_seq_len(p + len);
		if (!n) {
			bad++;
			n = 1;
		}
		len += n;
	}
	if (!bad)
		return s;
	out = malloc(len + bad * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	for (size_t i = 0; i < len; i += n) {
		n = utf8_seq_len(p + i);
		if (!n) {
			o += sprintf(o, "\\x%02x", p[i]);
			n = 1;
			continue;
		}
		memcpy(o, p + i, n);
		o += n;
	}
	*o = '\0';
	*ret_copy = out;
	return out;
}

void audit_copy_utf8(char *dst, size_t size, const char *src)
{
	size_t len, cut;

	if (!size)
		return;
	len = src ? strlen(src) : 0;
	if (len < size) {
		memcpy(dst, src ? src : "", len + 1);
		return;
	}
	/* Back off continuation bytes (10xxxxxx) to the start of the cut character. */
	cut = size - 1;
	while (cut > 0 && ((unsigned char)src[cut] & 0xc0) == 0x80)
		cut--;
	memcpy(dst, src, cut);
	dst[cut] = '\0';
}

const char *audit_priority_upper(const char *p, char *buf, size_t size)
{
	size_t i;

	if (!p || !*p || !size)
		return NULL;
	for (i = 0; p[i] && i + 1 < size; i++)
		buf[i] = p[i] >= 'a' && p[i] <= 'z' ? (char)(p[i] - 'a' + 'A') : p[i];
	buf[i] = '\0';
	return buf;
}

/* NULL -> JSON null; anything else a string, cleaned to valid UTF-8. */
static json_t *json_str_or_null(const char *s)
{
	const char *clean;
	char *copy;
	json_t *j;

	if (!s)
		return json_null();
	clean = audit_utf8_clean(s, &copy);
	if (!clean)
		return NULL;
	j = json_string(clean);
	free(copy);
	return j;
}

static json_t *json_int_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer((json_int_t)v);
}

/*
 * Adds KEY unless an earlier field failed; a NULL VALUE (ENOMEM) makes
 * json_object_set_new fail, and it always takes VALUE's reference.
 */
static void add(json_t *obj, const char *key, json_t *value, int *err)
{
	if (*err) {
		json_decref(value);
		return;
	}
	if (json_object_set_new(obj, key, value))
		*err = -ENOMEM;
}

/* "2026-11-22T11:04:05.341475Z"; a time gmtime cannot express is replaced by now. */
static void format_time(const struct timespec *ts, char *buf, size_t size)
{
	struct timespec t = *ts;
	struct tm tm;
	char date[32];

	if (t.tv_nsec < 0 || t.tv_nsec >= 1000000000L)
		t.tv_nsec = 0;
	if (!gmtime_r(&t.tv_sec, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
		clock_gettime(CLOCK_REALTIME, &t);
		gmtime_r(&t.tv_sec, &tm);
	}
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06ldZ", date, t.tv_nsec / 1000);
}

/* Dry-run records always say so at the start of the reason. */
static json_t *reason_json(const struct audit_record *r, char **ret_buf)
{
	const char *reason = r->reason ? r->reason : "";

	*ret_buf = NULL;
	if (!r->dry_run)
		return json_str_or_null(r->reason);
	if (!strncmp(reason, DRY_RUN_PREFIX, strlen(DRY_RUN_PREFIX)))
		return json_str_or_null(reason);
	if (asprintf(ret_buf, DRY_RUN_PREFIX "%s", *reason ? reason : "no reason given") < 0) {
		*ret_buf = NULL;
		return NULL;
	}
	return json_str_or_null(*ret_buf);
}

/* Extras are left out when unset; an empty string counts as unset. */
static void add_extra(json_t *obj, const char *key, const char *s, int *err)
{
	if (s && *s)
		add(obj, key, json_str_or_null(s), err);
}

char *audit_format(const struct audit_record *r)
{
	char ts[64], *reason_buf = NULL, *line = NULL;
	json_t *o;
	int err = 0;

	if (!r) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	if (!o)
		return NULL;
	format_time(&r->time, ts, sizeof(ts));
	/* Insertion order is the field order: jansson >= 2.8 keeps it. */
	add(o, "timestamp", json_string(ts), &err);
	if (r->event_time.tv_sec) {
		format_time(&r->event_time, ts, sizeof(ts));
		add(o, "event_time", json_string(ts), &err);
	}
	add(o, "action", json_str_or_null(r->action), &err);
	add(o, "outcome", json_str_or_null(r->outcome), &err);
	add(o, "namespace", json_str_or_null(r->namespace_), &err);
	add(o, "pod", json_str_or_null(r->pod), &err);
	add(o, "rule", json_str_or_null(r->rule), &err);
	add(o, "dry_run", json_boolean(r->dry_run), &err);
	add(o, "reason", reason_json(r, &reason_buf), &err);
	if (r->detail)
		add(o, "detail", json_str_or_null(r->detail), &err);
	add(o, "operator", json_str_or_null(r->operator_), &err);
	add(o, "falco_priority", json_str_or_null(r->falco_priority), &err);
	add(o, "falco_output", json_str_or_null(r->falco_output), &err);
	add(o, "node", json_str_or_null(r->node), &err);
	add(o, "container_id", json_str_or_null(r->container_id), &err);
	add(o, "pid", json_int_or_null(r->pid), &err);
	add(o, "exe_path", json_str_or_null(r->exe_path), &err);
	add(o, "source", json_str_or_null(r->source), &err);
	add(o, "latency_us", json_int_or_null(r->latency_us), &err);
	add_extra(o, "kill_mode", r->kill_mode, &err);
	add_extra(o, "comm", r->comm, &err);
	add_extra(o, "image", r->image, &err);
	if (r->cgroup_id) {
		/* json_int_t is signed: ids past INT64_MAX go out as strings, exact. */
		if (r->cgroup_id <= INT64_MAX) {
			add(o, "cgroup_id", json_integer((json_int_t)r->cgroup_id), &err);
		} else {
			char id[24];

			snprintf(id, sizeof(id), "%llu", (unsigned long long)r->cgroup_id);
			add(o, "cgroup_id", json_string(id), &err);
		}
	}
	add_extra(o, "event_id", r->event_id, &err);
	add_extra(o, "destination", r->destination, &err);
	add_extra(o, "pod_uid", r->pod_uid, &err);
	free(reason_buf);
	if (!err)
		line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!line)
		errno = ENOMEM;
	return line;
}

/* mkdir -p of every parent of PATH. */
static int make_parents(const char *path)
{
	char *dir = strdup(path);
	int err = 0;

	if (!dir)
		return -ENOMEM;
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0750) && errno != EEXIST) {
			err = -errno;
			break;
		}
		*p = '/';
	}
	free(dir);
	return err;
}

struct audit_log *audit_open(const char *path, bool to_stdout)
{
	struct audit_log *log = calloc(1, sizeof(*log));
	int err;

	if (!log)
		return NULL;
	log->fd = -1;
	log->to_stdout = to_stdout;
	if (!path || !*path)
		return log;
	err = make_parents(path);
	if (err)
		goto fail;
	log->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (log->fd < 0) {
		err = -errno;
		goto fail;
	}
	return log;
fail:
	free(log);
	errno = -err;
	return NULL;
}

int audit_write(struct audit_log *log, const struct audit_record *record)
{
	char *line;
	size_t len;
	int err = 0;

	if (!log || !record)
		return -EINVAL;
	line = audit_format(record);
	if (!line)
		return -ENOMEM;
	len = strlen(line);
	/*
	 * The newline goes with the line in one write(2), so O_APPEND keeps
	 * lines whole; it takes the terminator's place, LINE is no string now.
	 */
	line[len] = '\n';
	if (log->fd >= 0) {
		ssize_t n;

		do
			n = write(log->fd, line, len + 1);
		while (n < 0 && errno == EINTR);
		if (n < 0)
			err = -errno;
		else if ((size_t)n != len + 1)
			err = -EIO;
	}
	if (log->to_stdout) {
		errno = 0;
		if (fwrite(line, 1, len + 1, stdout) != len + 1 || fflush(stdout)) {
			if (!err)
				err = errno ? -errno : -EIO;
			/* The next record must get its own chance. */
			clearerr(stdout);
		}
	}
	free(line);
	return err;
}

struct audit_log *audit_close(struct audit_log *log)
{
	if (!log)
		return NULL;
	if (log->fd >= 0)
		close(log->fd);
	free(log);
	return NULL;
}
