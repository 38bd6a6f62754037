// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * audit.c: the exact line of a record (field order, types, nulls), the
 * DRY_RUN prefix, bytes that are not UTF-8, and the file sink: parents
 * created, modes, appends, one line per write, errors.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "testutil.h"
#include "audit.h"

static const char *const field_order[] = {
	"timestamp", "action", "outcome", "namespace", "pod", "rule", "dry_run", "reason", "operator",
	"falco_priority", "falco_output", "node", "container_id", "pid", "exe_path", "source", "latency_us",
	"kill_mode", "comm", "image", "cgroup_id", "event_id",
};

static struct audit_record full_record(void)
{
	struct audit_record r = {
		.time = { .tv_sec = 1795345445, .tv_nsec = 341475999 },
		.action = "kill_process",
		.outcome = "killed",
		.namespace_ = "shop",
		.pod = "web-7d9f8-abcde",
		.rule = "Drop and execute new binary in container",
		.dry_run = false,
		.reason = "exec from upper layer",
		.operator_ = "reflex-agent",
		.falco_priority = "Critical",
		.falco_output = "Executing binary not part of base image (proc.exe=/tmp/x)",
		.node = "node-a",
		.container_id = "0123456789ab",
		.pid = 4242,
		.exe_path = "/tmp/x",
		.source = "both",
		.latency_us = 187,
		.kill_mode = "pidfd",
		.comm = "x",
		.image = "docker.io/library/nginx:1.27",
		.cgroup_id = 9876,
		.event_id = "node-a-4242-1795345445341475999",
	};

	return r;
}

static json_t *parse_line(const char *line)
{
	json_error_t jerr;
	json_t *j;

	assert_null(strchr(line, '\n'));
	j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		fail_msg("not JSON (%s): %s", jerr.text, line);
	assert_true(json_is_object(j));
	return j;
}

static void assert_keys_in_order(json_t *j, size_t n_expected)
{
	const char *key;
	json_t *v;
	size_t i = 0;

	json_object_foreach(j, key, v) {
		assert_true(i < n_expected);
		assert_string_equal(key, field_order[i]);
		i++;
	}
	assert_int_equal(i, n_expected);
}

static const char *str_of(json_t *j, const char *key)
{
	json_t *v = json_object_get(j, key);

	assert_true(json_is_string(v));
	return json_string_value(v);
}

static void test_full_record_exact(void **state)
{
	struct audit_record r = full_record();
	char *line = audit_format(&r);

	assert_non_null(line);
	assert_string_equal(line,
			    "{\"timestamp\":\"2026-11-22T11:04:05.341475Z\",\"action\":\"kill_process\","
			    "\"outcome\":\"killed\",\"namespace\":\"shop\",\"pod\":\"web-7d9f8-abcde\","
			    "\"rule\":\"Drop and execute new binary in container\",\"dry_run\":false,"
			    "\"reason\":\"exec from upper layer\",\"operator\":\"reflex-agent\","
			    "\"falco_priority\":\"Critical\","
			    "\"falco_output\":\"Executing binary not part of base image (proc.exe=/tmp/x)\","
			    "\"node\":\"node-a\",\"container_id\":\"0123456789ab\",\"pid\":4242,"
			    "\"exe_path\":\"/tmp/x\",\"source\":\"both\",\"latency_us\":187,\"kill_mode\":\"pidfd\","
			    "\"comm\":\"x\",\"image\":\"docker.io/library/nginx:1.27\",\"cgroup_id\":9876,"
			    "\"event_id\":\"node-a-4242-1795345445341475999\"}");
	free(line);
}

static void test_full_record_parsed(void **state)
{
	struct audit_record r = full_record();
	char *line;
	json_t *j;

	r.falco_output = "a \"quoted\" \\ line\nwith\ttabs and \x01 control <&>";
	r.pod = "caf\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80"; /* valid UTF-8 stays as is */
	line = audit_format(&r);
	assert_non_null(line);
	j = parse_line(line);
	assert_keys_in_order(j, sizeof(field_order) / sizeof(field_order[0]));
	assert_string_equal(str_of(j, "timestamp"), "2026-11-22T11:04:05.341475Z");
	assert_string_equal(str_of(j, "falco_output"), r.falco_output);
	assert_string_equal(str_of(j, "pod"), r.pod);
	assert_true(json_is_false(json_object_get(j, "dry_run")));
	assert_int_equal(json_integer_value(json_object_get(j, "pid")), 4242);
	assert_int_equal(json_integer_value(json_object_get(j, "latency_us")), 187);
	assert_int_equal(json_integer_value(json_object_get(j, "cgroup_id")), 9876);
	assert_string_equal(str_of(j, "source"), "both");
	json_decref(j);
	free(line);
}

static void test_nulls_and_missing_extras(void **state)
{
	struct audit_record r = { .pid = -1, .latency_us = -1, .kill_mode = "", .comm = "" };
	char *line = audit_format(&r);
	json_t *j;

	assert_non_null(line);
	j = parse_line(line);
	/* The 17 base fields, always; the extras only when set. */
	assert_keys_in_order(j, 17);
	assert_string_equal(str_of(j, "timestamp"), "1970-01-01T00:00:00.000000Z");
	for (size_t i = 1; i < 17; i++) {
		if (!strcmp(field_order[i], "dry_run"))
			assert_true(json_is_false(json_object_get(j, "dry_run")));
		else
			assert_true(json_is_null(json_object_get(j, field_order[i])));
	}
	json_decref(j);
	free(line);

	/* pid 0 is a value, not "unknown". */
	r.pid = 0;
	r.latency_us = 0;
	line = audit_format(&r);
	j = parse_line(line);
	assert_true(json_is_integer(json_object_get(j, "pid")));
	assert_true(json_is_integer(json_object_get(j, "latency_us")));
	json_decref(j);
	free(line);

	assert_null(audit_format(NULL));
}

static void test_cgroup_id_beyond_int64(void **state)
{
	struct audit_record r = full_record();
	char *line;
	json_t *j;

	r.cgroup_id = UINT64_MAX;
	line = audit_format(&r);
	j = parse_line(line);
	assert_string_equal(str_of(j, "cgroup_id"), "18446744073709551615");
	json_decref(j);
	free(line);
}

static void test_bad_timespec(void **state)
{
	struct audit_record r = full_record();
	char *line;
	json_t *j;

	r.time.tv_nsec = 5000000000L; /* out of range: no garbage digits */
	line = audit_format(&r);
	j = parse_line(line);
	assert_string_equal(str_of(j, "timestamp"), "2026-11-22T11:04:05.000000Z");
	json_decref(j);
	free(line);

	/* A year gmtime cannot express: still a well-formed RFC 3339 time. */
	r.time.tv_sec = INT64_MAX;
	line = audit_format(&r);
	j = parse_line(line);
	assert_int_equal(strlen(str_of(j, "timestamp")), strlen("2026-11-22T11:04:05.341475Z"));
	assert_int_equal(str_of(j, "timestamp")[26], 'Z');
	json_decref(j);
	free(line);
}

static char *reason_of(struct audit_record *r)
{
	char *line = audit_format(r), *reason;
	json_t *j, *v;

	assert_non_null(line);
	j = parse_line(line);
	v = json_object_get(j, "reason");
	reason = json_is_null(v) ? NULL : strdup(json_string_value(v));
	json_decref(j);
	free(line);
	return reason;
}

static void test_dry_run_prefix(void **state)
{
	struct audit_record r = full_record();
	char *reason;

	r.dry_run = true;
	r.outcome = "dry_run";
	r.reason = "rule is dry-run";
	reason = reason_of(&r);
	assert_string_equal(reason, "DRY_RUN: rule is dry-run");
	free(reason);

	/* Already there: not doubled. */
	r.reason = "DRY_RUN: tagged by the caller";
	reason = reason_of(&r);
	assert_string_equal(reason, "DRY_RUN: tagged by the caller");
	free(reason);

	/* Almost there is not there. */
	r.reason = "DRY_RUN:x";
	reason = reason_of(&r);
	assert_string_equal(reason, "DRY_RUN: DRY_RUN:x");
	free(reason);

	r.reason = NULL;
	reason = reason_of(&r);
	assert_non_null(reason);
	assert_memory_equal(reason, "DRY_RUN: ", 9);
	free(reason);

	r.reason = "";
	reason = reason_of(&r);
	assert_memory_equal(reason, "DRY_RUN: ", 9);
	free(reason);

	/* Not a dry run: untouched, and NULL stays null. */
	r.dry_run = false;
	r.reason = "rule is dry-run";
	reason = reason_of(&r);
	assert_string_equal(reason, "rule is dry-run");
	free(reason);
	r.reason = NULL;
	assert_null(reason_of(&r));
}

static void test_invalid_utf8_kept(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "/tmp/\xff\xfe/x", "/tmp/\\xff\\xfe/x" },
		{ "/tmp/trunc\xc3", "/tmp/trunc\\xc3" },              /* cut sequence at the end */
		{ "/a\xc0\xaf", "/a\\xc0\\xaf" },                    /* overlong '/' */
		{ "/b\xe0\x80\xaf", "/b\\xe0\\x80\\xaf" },           /* 3-byte overlong */
		{ "/c\xf0\x80\x80\xaf", "/c\\xf0\\x80\\x80\\xaf" }, /* 4-byte overlong */
		{ "/s\xed\xa0\x80", "/s\\xed\\xa0\\x80" },            /* UTF-16 surrogate */
		{ "/big\xf4\x90\x80\x80", "/big\\xf4\\x90\\x80\\x80" }, /* > U+10FFFF */
		{ "/mix\xe2\x82\xac\x80\xe2\x82", "/mix\xe2\x82\xac\\x80\\xe2\\x82" },
		{ "/ok/\xe2\x82\xac", "/ok/\xe2\x82\xac" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct audit_record r = full_record();
		char *line;
		json_t *j;

		r.exe_path = cases[i].in;
		r.comm = cases[i].in + 1;
		r.falco_output = cases[i].in;
		line = audit_format(&r);
		assert_non_null(line);
		j = parse_line(line);
		assert_string_equal(str_of(j, "exe_path"), cases[i].out);
		assert_string_equal(str_of(j, "comm"), cases[i].out + 1);
		assert_string_equal(str_of(j, "falco_output"), cases[i].out);
		assert_keys_in_order(j, sizeof(field_order) / sizeof(field_order[0]));
		json_decref(j);
		free(line);
	}
}

/* audit_log_open without a chain, as most tests want it. */
static int open_log(const char *path, bool to_stdout, struct audit_log **ret)
{
	struct audit_log_config cfg = { .path = path, .to_stdout = to_stdout };

	*ret = NULL;
	return audit_log_open(&cfg, ret);
}

static char tmpdir[64];

static int setup_tmpdir(void **state)
{
	return test_tmpdir(tmpdir, sizeof(tmpdir), "test-audit");
}

static int teardown_tmpdir(void **state)
{
	return test_rmtree(tmpdir);
}

/* The descriptor of the open audit file must not survive an exec. */
/* event_time and detail: written after timestamp and reason, left out when unset. */
static void test_event_time_and_detail(void **state)
{
	struct audit_record r = full_record();
	char *line;

	(void)state;
	r.event_time = (struct timespec){ .tv_sec = 1795345445, .tv_nsec = 340000999 };
	r.detail = "namespace shop allowed; pidfd kill";
	line = audit_format(&r);
	assert_non_null(line);
	assert_non_null(strstr(line, "\"timestamp\":\"2026-11-22T11:04:05.341475Z\","
				     "\"event_time\":\"2026-11-22T11:04:05.340000Z\",\"action\""));
	assert_non_null(strstr(line, "\"reason\":\"exec from upper layer\",\"detail\":\"namespace shop allowed; pidfd kill\","));
	free(line);
	r.event_time = (struct timespec){ 0 };
	r.detail = NULL;
	line = audit_format(&r);
	assert_non_null(line);
	assert_null(strstr(line, "event_time"));
	assert_null(strstr(line, "detail"));
	free(line);
}

/* A truncated copy never ends inside a UTF-8 sequence; the cleaner escapes bad bytes. */
static void test_copy_utf8_and_clean(void **state)
{
	char buf[6], *copy;
	const char *clean;

	(void)state;
	audit_copy_utf8(buf, sizeof(buf), "abcd\xc3\xa9"); /* "abcdé": é would be cut in half */
	assert_string_equal(buf, "abcd");
	audit_copy_utf8(buf, sizeof(buf), "ab\xe2\x82\xac"); /* "ab€": fits exactly */
	assert_string_equal(buf, "ab\xe2\x82\xac");
	audit_copy_utf8(buf, sizeof(buf), "abcdefgh");
	assert_string_equal(buf, "abcde");
	audit_copy_utf8(buf, sizeof(buf), NULL);
	assert_string_equal(buf, "");
	clean = audit_utf8_clean("/tmp/x\377", &copy);
	assert_non_null(copy);
	assert_string_equal(clean, "/tmp/x\\xff");
	free(copy);
	clean = audit_utf8_clean("/tmp/\xc3\xa9", &copy);
	assert_null(copy);
	assert_string_equal(clean, "/tmp/\xc3\xa9");
}

static void assert_open_cloexec(const char *path)
{
	char link[300], target[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d = opendir("/proc/self/fd");
	ssize_t n;

	assert_non_null(d);
	while ((de = readdir(d))) {
		snprintf(link, sizeof(link), "/proc/self/fd/%s", de->d_name);
		n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = '\0';
		if (strcmp(target, path))
			continue;
		found = true;
		assert_true(fcntl(atoi(de->d_name), F_GETFD) & FD_CLOEXEC);
		assert_true(fcntl(atoi(de->d_name), F_GETFL) & O_APPEND);
	}
	closedir(d);
	assert_true(found);
}

static void test_open_creates_parents_and_appends(void **state)
{
	char dir[PATH_MAX], path[PATH_MAX + 32], *text, *line, *save = NULL;
	struct audit_record r = full_record();
	struct audit_log *a, *b;
	struct stat st;
	mode_t old = umask(022);
	int n = 0;

	snprintf(dir, sizeof(dir), "%s/var/log/reflex", tmpdir);
	snprintf(path, sizeof(path), "%s/audit.log", dir);
	assert_int_equal(open_log(path, false, &a), 0);
	assert_non_null(a);
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0750);
	snprintf(dir, sizeof(dir), "%s/var", tmpdir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0750);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0640);
	assert_open_cloexec(path);

	/* Two writers on one file (O_APPEND): four whole lines, none lost. */
	assert_int_equal(open_log(path, false, &b), 0);
	assert_non_null(b);
	r.pid = 1;
	assert_int_equal(audit_write(a, &r), 0);
	r.pid = 2;
	assert_int_equal(audit_write(b, &r), 0);
	r.pid = 3;
	assert_int_equal(audit_write(a, &r), 0);
	r.pid = 4;
	assert_int_equal(audit_write(b, &r), 0);
	assert_null(audit_close(a));
	assert_null(audit_close(b));

	/* Reopening appends after what is there. */
	assert_int_equal(open_log(path, false, &a), 0);
	r.pid = 5;
	assert_int_equal(audit_write(a, &r), 0);
	audit_close(a);

	text = test_read_file(path, NULL);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *j = parse_line(line);

		n++;
		assert_int_equal(json_integer_value(json_object_get(j, "pid")), n);
		json_decref(j);
	}
	assert_int_equal(n, 5);
	free(text);
	umask(old);
}

static void test_open_errors(void **state)
{
	char path[PATH_MAX + 32];
	struct audit_log *a;
	int fd;

	/* A parent that is a file. */
	snprintf(path, sizeof(path), "%s/plain", tmpdir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/plain/sub/audit.log", tmpdir);
	assert_int_equal(open_log(path, false, &a), -ENOTDIR);
	assert_null(a);

	/* The path is a directory. */
	snprintf(path, sizeof(path), "%s/adir/", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(open_log(path, true, &a), -EISDIR);
	assert_null(a);

	/* No file at all is fine, and writes succeed with no sink. */
	assert_int_equal(open_log(NULL, false, &a), 0);
	assert_non_null(a);
	struct audit_record r = full_record();
	assert_int_equal(audit_write(a, &r), 0);
	assert_int_equal(audit_write(a, NULL), -EINVAL);
	audit_close(a);
	assert_int_equal(open_log("", false, &a), 0);
	assert_non_null(a);
	audit_close(a);

	assert_int_equal(audit_write(NULL, &r), -EINVAL);
	assert_null(audit_close(NULL));
}

static void test_write_errors(void **state)
{
	struct audit_record r = full_record();
	char path[PATH_MAX + 32], *text;
	struct rlimit old, lim;
	struct audit_log *a;
	struct stat st;

	/* A full device: the errno comes back. */
	assert_int_equal(open_log("/dev/full", false, &a), 0);
	assert_non_null(a);
	assert_int_equal(audit_write(a, &r), -ENOSPC);
	audit_close(a);

	/* A file size limit cutting the line: a short write is -EIO, never a half success. */
	snprintf(path, sizeof(path), "%s/limited.log", tmpdir);
	assert_int_equal(open_log(path, false, &a), 0);
	assert_non_null(a);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 100;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_int_equal(audit_write(a, &r), -EIO);
	/* At the limit nothing more fits: the kernel's EFBIG. */
	assert_int_equal(audit_write(a, &r), -EFBIG);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	audit_close(a);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 100);
	text = test_read_file(path, NULL);
	assert_null(strchr(text, '\n'));
	free(text);
}

/* The stdout sink gets the same line; a failing stdout is reported, the file still written. */
static void test_stdout_sink(void **state)
{
	char path[PATH_MAX + 32], out_path[PATH_MAX + 32], *text, *file_text;
	struct audit_record r = full_record();
	struct audit_log *a;
	int saved, fd;

	snprintf(path, sizeof(path), "%s/both.log", tmpdir);
	snprintf(out_path, sizeof(out_path), "%s/stdout.txt", tmpdir);
	fflush(stdout);
	saved = dup(STDOUT_FILENO);
	fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	assert_int_equal(open_log(path, true, &a), 0);
	assert_non_null(a);
	assert_int_equal(audit_write(a, &r), 0);

	fd = open("/dev/full", O_WRONLY | O_CLOEXEC);
	dup2(fd, STDOUT_FILENO);
	close(fd);
	assert_int_equal(audit_write(a, &r), -ENOSPC);
	audit_close(a);

	fflush(stdout);
	dup2(saved, STDOUT_FILENO);
	close(saved);
	clearerr(stdout);

	text = test_read_file(out_path, NULL);
	file_text = test_read_file(path, NULL);
	/* stdout has the first line only; the file has both. */
	assert_non_null(strchr(text, '\n'));
	assert_int_equal(strlen(file_text), 2 * strlen(text));
	assert_memory_equal(file_text, text, strlen(text));
	free(text);
	free(file_text);
}

/* Every line as written, split (the last newline ends the last line). */
static size_t lines_of(char *text, char **lines, size_t max)
{
	size_t n = 0;

	for (char *p = text, *nl; *p && n < max; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		*nl = '\0';
		lines[n++] = p;
	}
	return n;
}

/* Line I's chain fields follow from line I-1's bytes: seq + 1 and its SHA-256. */
static void assert_chain(char **lines, size_t n, const char *writer, uint64_t first_seq)
{
	char hex[65];

	for (size_t i = 0; i < n; i++) {
		json_t *j = parse_line(lines[i]);

		assert_string_equal(str_of(j, "writer"), writer);
		assert_int_equal(json_integer_value(json_object_get(j, "seq")), first_seq + i);
		if (i == 0 && first_seq == 1) {
			assert_true(json_is_null(json_object_get(j, "prev_sha256")));
		} else if (i > 0) {
			audit_line_sha256(lines[i - 1], strlen(lines[i - 1]), hex);
			assert_string_equal(str_of(j, "prev_sha256"), hex);
		}
		json_decref(j);
	}
}

/* seq and prev_sha256 rise across a restart, resumed from the file's last line. */
static void test_chain_resumes_from_file(void **state)
{
	char path[PATH_MAX], *text, *lines[8], hex[65];
	struct audit_log_config cfg = { .writer = "node-a" };
	struct audit_record r = full_record();
	struct audit_log *log = NULL;
	char *written = NULL;
	size_t n;
	json_t *j;

	snprintf(path, sizeof(path), "%s/chain.log", tmpdir);
	cfg.path = path;
	assert_int_equal(audit_log_open(&cfg, &log), 0);
	assert_int_equal(audit_write_line(log, &r, &written), 0);
	/* RET_LINE is the file's line, byte for byte: what Graylog gets is what the file holds. */
	text = test_read_file(path, NULL);
	assert_int_equal(strlen(text), strlen(written) + 1);
	assert_memory_equal(text, written, strlen(written));
	free(text);
	free(written);
	assert_int_equal(audit_write(log, &r), 0);
	log = audit_close(log);
	/* A restart: the same writer goes on at 3. */
	assert_int_equal(audit_log_open(&cfg, &log), 0);
	assert_int_equal(audit_write(log, &r), 0);
	log = audit_close(log);
	text = test_read_file(path, NULL);
	n = lines_of(text, lines, 8);
	assert_int_equal(n, 3);
	assert_chain(lines, n, "node-a", 1);
	free(text);

	/* A torn last line (a crash inside write) is skipped, not taken as a record. */
	{
		int fd = open(path, O_WRONLY | O_APPEND);

		assert_true(fd >= 0);
		assert_int_equal(write(fd, "{\"writer\":\"node-a\",\"seq\":99", 27), 27);
		close(fd);
	}
	assert_int_equal(audit_log_open(&cfg, &log), 0);
	assert_int_equal(audit_write_line(log, &r, &written), 0);
	log = audit_close(log);
	j = parse_line(written);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 4);
	text = test_read_file(path, NULL);
	n = lines_of(text, lines, 8);
	/* The torn part is ended by a newline of its own, so the new line stays whole. */
	assert_int_equal(n, 5);
	assert_string_equal(lines[3], "{\"writer\":\"node-a\",\"seq\":99");
	assert_ptr_equal(strstr(lines[4], written), lines[4]);
	audit_line_sha256(lines[2], strlen(lines[2]), hex);
	assert_string_equal(str_of(j, "prev_sha256"), hex);
	json_decref(j);
	free(written);
	free(text);

	/* Another writer's last line: a new chain of its own. */
	cfg.writer = "node-b";
	assert_int_equal(audit_log_open(&cfg, &log), 0);
	assert_int_equal(audit_write_line(log, &r, &written), 0);
	log = audit_close(log);
	j = parse_line(written);
	assert_int_equal(json_integer_value(json_object_get(j, "seq")), 1);
	assert_true(json_is_null(json_object_get(j, "prev_sha256")));
	json_decref(j);
	free(written);
}

/* Without a file (the controller's stdout), the state file carries the chain over restarts. */
static void test_chain_resumes_from_state(void **state)
{
	char statepath[PATH_MAX], *lines[8], *all = NULL, *written = NULL;
	struct audit_log_config cfg = { .writer = "reflex-controller-0", .chain_state = statepath };
	struct audit_record r = full_record();
	struct audit_log *log = NULL;
	size_t len = 0;

	snprintf(statepath, sizeof(statepath), "%s/chain.state", tmpdir);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(audit_log_open(&cfg, &log), 0);
		for (int i = 0; i < 2; i++) {
			char *grown;

			assert_int_equal(audit_write_line(log, &r, &written), 0);
			grown = realloc(all, len + strlen(written) + 2);
			assert_non_null(grown);
			all = grown;
			len += (size_t)sprintf(all + len, "%s\n", written);
			free(written);
		}
		log = audit_close(log);
	}
	assert_int_equal(lines_of(all, lines, 8), 6);
	assert_chain(lines, 6, "reflex-controller-0", 1);
	free(all);

	/* A state file of someone else, or garbage: a new chain, said in the log, not a failure. */
	test_write_file(statepath, "garbage\n", 8);
	assert_int_equal(audit_log_open(&cfg, &log), 0);
	assert_int_equal(audit_write_line(log, &r, &written), 0);
	log = audit_close(log);
	assert_non_null(strstr(written, "\"seq\":1,\"prev_sha256\":null"));
	free(written);

	/* Writer names that cannot be recorded are refused. */
	cfg.writer = "";
	assert_int_equal(audit_log_open(&cfg, &log), -EINVAL);
	assert_null(log);
	assert_int_equal(audit_log_open(NULL, &log), -EINVAL);
}

/* An edited line breaks the next line's prev_sha256; audit_line_sha256 is plain SHA-256. */
static void test_chain_hash(void **state)
{
	char hex[65];

	(void)state;
	audit_line_sha256("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	audit_line_sha256("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

/* The config record's fields and the workload's owner: names and shapes reconciliation reads. */
static void test_config_record_and_owner(void **state)
{
	static const struct audit_rule_mode rules[] = {
		{ .name = "Drop and execute new binary in container", .action = "kill_process", .dry_run = false },
		{ .name = "Detect crypto miners using the Stratum protocol", .action = "kill_pod", .dry_run = true },
	};
	static const char *const overrides[] = { "--dry-run", "--unknown-owner=refuse" };
	struct audit_record r = {
		.time = { .tv_sec = 1795345445 },
		.action = "config",
		.outcome = "loaded",
		.operator_ = "reflex-agent",
		.node = "node-a",
		.pid = -1,
		.latency_us = -1,
		.config_sha256 = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		.rules = rules,
		.n_rules = 2,
		.overrides = overrides,
		.n_overrides = 2,
	};
	char *line;
	json_t *j, *a;

	(void)state;
	line = audit_format(&r);
	assert_non_null(line);
	j = parse_line(line);
	assert_string_equal(str_of(j, "config_sha256"), r.config_sha256);
	a = json_object_get(j, "rules");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "name")),
			    "Detect crypto miners using the Stratum protocol");
	assert_string_equal(json_string_value(json_object_get(json_array_get(a, 1), "action")), "kill_pod");
	assert_true(json_is_true(json_object_get(json_array_get(a, 1), "dry_run")));
	assert_true(json_is_false(json_object_get(json_array_get(a, 0), "dry_run")));
	a = json_object_get(j, "overrides");
	assert_int_equal(json_array_size(a), 2);
	assert_string_equal(json_string_value(json_array_get(a, 0)), "--dry-run");
	assert_null(json_object_get(j, "owner_kind"));
	json_decref(j);
	free(line);

	/* An action record names the workload; no config fields. */
	r = full_record();
	r.owner_kind = "Deployment";
	r.owner_name = "web";
	line = audit_format(&r);
	j = parse_line(line);
	assert_string_equal(str_of(j, "owner_kind"), "Deployment");
	assert_string_equal(str_of(j, "owner_name"), "web");
	assert_null(json_object_get(j, "config_sha256"));
	assert_null(json_object_get(j, "rules"));
	json_decref(j);
	free(line);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_record_exact),
		cmocka_unit_test(test_full_record_parsed),
		cmocka_unit_test(test_nulls_and_missing_extras),
		cmocka_unit_test(test_cgroup_id_beyond_int64),
		cmocka_unit_test(test_bad_timespec),
		cmocka_unit_test(test_dry_run_prefix),
		cmocka_unit_test(test_invalid_utf8_kept),
		cmocka_unit_test(test_event_time_and_detail),
		cmocka_unit_test(test_copy_utf8_and_clean),
		cmocka_unit_test(test_open_creates_parents_and_appends),
		cmocka_unit_test(test_open_errors),
		cmocka_unit_test(test_write_errors),
		cmocka_unit_test(test_stdout_sink),
		cmocka_unit_test(test_chain_resumes_from_file),
		cmocka_unit_test(test_chain_resumes_from_state),
		cmocka_unit_test(test_chain_hash),
		cmocka_unit_test(test_config_record_and_owner),
	};

	return cmocka_run_group_tests(tests, setup_tmpdir, teardown_tmpdir);
}
