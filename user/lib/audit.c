// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "audit.h"
#include "log.h"

#define DRY_RUN_PREFIX "DRY_RUN: "
/* How far back from the end of the file the last line is looked for. */
#define CHAIN_TAIL_MAX (1u << 20)
/* The state file: "<seq, 20 digits> <sha256 hex or 64 '-'> <writer>\n", fixed width per writer. */
#define CHAIN_STATE_MAX 512

struct audit_log {
	int fd; /* -1: no file */
	bool to_stdout;
	/* The chain; writes are serialized so seq order is line order. */
	pthread_mutex_t lock;
	char *writer;	 /* NULL: no chain fields */
	uint64_t seq;	 /* of the last line written */
	char prev[65];	 /* its hash; "" at a chain's start */
	int state_fd;	 /* -1: resumed from the file instead */
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

/* The config record's own fields: config_sha256, rules [{name, action, dry_run}], overrides. */
static void add_config(json_t *o, const struct audit_record *r, int *err)
{
	json_t *rules = json_array(), *overrides = json_array();

	add(o, "config_sha256", json_str_or_null(r->config_sha256), err);
	for (size_t i = 0; rules && i < r->n_rules; i++) {
		json_t *rule = json_object();
		bool ok = rule && !json_object_set_new(rule, "name", json_str_or_null(r->rules[i].name)) &&
			  !json_object_set_new(rule, "action", json_str_or_null(r->rules[i].action)) &&
			  !json_object_set_new(rule, "dry_run", json_boolean(r->rules[i].dry_run));

		if (!ok)
			json_decref(rule);
		/* json_array_append_new takes RULE's reference, also when it fails. */
		if (!ok || json_array_append_new(rules, rule)) {
			json_decref(rules);
			rules = NULL;
		}
	}
	for (size_t i = 0; overrides && i < r->n_overrides; i++)
		if (json_array_append_new(overrides, json_str_or_null(r->overrides[i]))) {
			json_decref(overrides);
			overrides = NULL;
		}
	add(o, "rules", rules, err);
	add(o, "overrides", overrides, err);
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
	add_extra(o, "owner_kind", r->owner_kind, &err);
	add_extra(o, "owner_name", r->owner_name, &err);
	add_extra(o, "incident_id", r->incident_id, &err);
	add_extra(o, "note", r->note, &err);
	if (r->config_sha256)
		add_config(o, r, &err);
	if (r->writer) {
		add(o, "writer", json_str_or_null(r->writer), &err);
		add(o, "seq", json_integer((json_int_t)r->seq), &err);
		add(o, "prev_sha256", json_str_or_null(r->prev_sha256), &err);
	}
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

void audit_line_sha256(const char *line, size_t len, char hex[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(line, len, md, &n, EVP_sha256(), NULL) || n != 32) {
		/* Cannot happen with the default provider; a hash no one can match says so. */
		memset(hex, '0', 64);
		hex[64] = '\0';
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/*
 * LINE (LEN bytes) as the chain's position: 1 when WRITER wrote it, 0 when
 * another writer did (or an older version without chain fields), -1 when it
 * is no record at all (a torn line).
 */
static int chain_from_line(struct audit_log *log, const char *line, size_t len)
{
	json_t *o = json_loadb(line, len, 0, NULL), *w, *seq;
	bool ours;

	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	w = json_object_get(o, "writer");
	seq = json_object_get(o, "seq");
	ours = json_is_string(w) && !strcmp(json_string_value(w), log->writer) && json_is_integer(seq) &&
	       json_integer_value(seq) > 0;
	if (ours) {
		log->seq = (uint64_t)json_integer_value(seq);
		audit_line_sha256(line, len, log->prev);
	}
	json_decref(o);
	return ours;
}

/*
 * A last line without its newline was torn by a crash inside write(2): end
 * it, so the next record is a line of its own and the torn one stays visible.
 */
static int end_torn_line(int fd)
{
	struct stat st;
	char last;

	if (fstat(fd, &st))
		return -errno;
	if (!st.st_size)
		return 0;
	if (pread(fd, &last, 1, st.st_size - 1) != 1)
		return -EIO;
	if (last != '\n' && write(fd, "\n", 1) != 1)
		return -EIO;
	return 0;
}

/* The last record of the audit file (torn lines skipped), if this writer wrote it. */
static int chain_from_file(struct audit_log *log)
{
	struct stat st;
	size_t len, start;
	ssize_t n;
	char *buf;
	int found = -1;

	if (fstat(log->fd, &st))
		return -errno;
	len = (size_t)st.st_size < CHAIN_TAIL_MAX ? (size_t)st.st_size : CHAIN_TAIL_MAX;
	if (!len)
		return 0;
	buf = malloc(len);
	if (!buf)
		return -ENOMEM;
	n = pread(log->fd, buf, len, st.st_size - (off_t)len);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	len = (size_t)n;
	while (len && buf[len - 1] != '\n')
		len--;
	/* From the last line back, to the first that is a record. */
	while (found < 0 && len) {
		len--; /* its newline */
		start = len;
		while (start && buf[start - 1] != '\n')
			start--;
		found = chain_from_line(log, buf + start, len - start);
		len = start;
	}
	if (found == 0)
		log_warn("audit: the last record of the audit file is not %s's: a new chain starts at seq 1",
			 log->writer);
	free(buf);
	return 0;
}

static int chain_from_state(struct audit_log *log, const char *path)
{
	char buf[CHAIN_STATE_MAX + 1], hex[65], writer[CHAIN_STATE_MAX];
	unsigned long long seq;
	ssize_t n;

	log->state_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (log->state_fd < 0)
		return -errno;
	n = pread(log->state_fd, buf, CHAIN_STATE_MAX, 0);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (!n)
		return 0;
	if (sscanf(buf, "%20llu %64s %511[^\n]", &seq, hex, writer) != 3 || strcmp(writer, log->writer) ||
	    strlen(hex) != 64) {
		log_warn("audit: %s does not hold %s's chain: a new chain starts at seq 1", path, log->writer);
		return 0;
	}
	log->seq = seq;
	if (strcmp(hex, "----------------------------------------------------------------"))
		memcpy(log->prev, hex, sizeof(log->prev));
	return 0;
}

/* One pwrite of a line whose width never shrinks for one writer: a crash leaves old or new, whole. */
static int chain_save(struct audit_log *log)
{
	char buf[CHAIN_STATE_MAX + 64];
	int n;

	if (log->state_fd < 0)
		return 0;
	n = snprintf(buf, sizeof(buf), "%020" PRIu64 " %s %s\n", log->seq,
		     log->prev[0] ? log->prev : "----------------------------------------------------------------",
		     log->writer);
	if (n < 0 || n > CHAIN_STATE_MAX)
		return -ENAMETOOLONG;
	return pwrite(log->state_fd, buf, (size_t)n, 0) == n ? 0 : -EIO;
}

struct audit_log *audit_close(struct audit_log *log)
{
	if (!log)
		return NULL;
	if (log->fd >= 0)
		close(log->fd);
	if (log->state_fd >= 0)
		close(log->state_fd);
	pthread_mutex_destroy(&log->lock);
	free(log->writer);
	free(log);
	return NULL;
}

int audit_log_open(const struct audit_log_config *cfg, struct audit_log **ret)
{
	struct audit_log *log;
	int err = 0;

	if (!cfg || (cfg->writer && (!*cfg->writer || strlen(cfg->writer) >= CHAIN_STATE_MAX - 100)))
		return -EINVAL;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	log->fd = -1;
	log->state_fd = -1;
	log->to_stdout = cfg->to_stdout;
	pthread_mutex_init(&log->lock, NULL);
	if (cfg->writer && !(log->writer = strdup(cfg->writer))) {
		err = -ENOMEM;
		goto fail;
	}
	if (cfg->path && *cfg->path) {
		err = make_parents(cfg->path);
		if (err)
			goto fail;
		log->fd = open(cfg->path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
		if (log->fd < 0) {
			err = -errno;
			goto fail;
		}
		err = end_torn_line(log->fd);
		if (err)
			goto fail;
	}
	if (log->writer) {
		if (cfg->chain_state && *cfg->chain_state) {
			err = make_parents(cfg->chain_state);
			err = err ?: chain_from_state(log, cfg->chain_state);
		}
		else if (log->fd >= 0)
			err = chain_from_file(log);
		if (err)
			goto fail;
	}
	*ret = log;
	return 0;
fail:
	audit_close(log);
	return err;
}

int audit_write_line(struct audit_log *log, const struct audit_record *record, char **ret_line)
{
	struct audit_record r;
	char *line;
	size_t len;
	int err = 0;

	if (ret_line)
		*ret_line = NULL;
	if (!log || !record)
		return -EINVAL;
	r = *record;
	pthread_mutex_lock(&log->lock);
	if (log->writer) {
		r.writer = log->writer;
		r.seq = log->seq + 1;
		r.prev_sha256 = log->prev[0] ? log->prev : NULL;
	}
	line = audit_format(&r);
	if (!line) {
		pthread_mutex_unlock(&log->lock);
		return -ENOMEM;
	}
	len = strlen(line);
	/*
	 * The chain moves on whatever the sinks say: a line that did not land
	 * is a gap the reconciliation shows, never a seq used twice.
	 */
	if (log->writer) {
		log->seq++;
		audit_line_sha256(line, len, log->prev);
		if (chain_save(log))
			log_warn("audit: saving the chain position (seq %" PRIu64 ") failed", log->seq);
	}
	/*
	 * The newline goes with the line in one write(2), so O_APPEND keeps
	 * lines whole; it takes the terminator's place until the write is done.
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
	pthread_mutex_unlock(&log->lock);
	line[len] = '\0';
	if (ret_line)
		*ret_line = line;
	else
		free(line);
	return err;
}

int audit_write(struct audit_log *log, const struct audit_record *record)
{
	return audit_write_line(log, record, NULL);
}
