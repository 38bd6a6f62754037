// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The durable spool against a real filesystem: order, replay after close
 * and after SIGKILL, the byte bound, corrupt entries, a full disk (a tiny
 * tmpfs: needs root), and a writer and a sender thread at once.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "testutil.h"
#include "spool.h"

#define OVH SPOOL_ENTRY_OVERHEAD

static char tmpdir[128]; /* this test's own directory */
static char spooldir[256];
static char mnt[192]; /* a tmpfs mounted by the test, "" when none */

static int setup(void **state)
{
	(void)state;
	if (test_tmpdir(tmpdir, sizeof(tmpdir), "spool"))
		return -1;
	snprintf(spooldir, sizeof(spooldir), "%s/spool", tmpdir);
	mnt[0] = '\0';
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	/* A test that failed half-way may still hold the mount: detach it. */
	if (mnt[0] && umount2(mnt, MNT_DETACH))
		return -1;
	mnt[0] = '\0';
	return test_rmtree(tmpdir);
}

/* A tmpfs of SIZE at <tmpdir>/mnt, the spool inside it. */
static void mount_tmpfs(const char *size)
{
	char opts[64];

	snprintf(mnt, sizeof(mnt), "%s/mnt", tmpdir);
	snprintf(opts, sizeof(opts), "size=%s", size);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (mount("tmpfs", mnt, "tmpfs", 0, opts)) {
		mnt[0] = '\0';
		fail_msg("mount tmpfs: %s (test_spool needs root)", strerror(errno));
	}
	snprintf(spooldir, sizeof(spooldir), "%s/spool", mnt);
}

static void umount_tmpfs(void)
{
	assert_int_equal(umount2(mnt, 0), 0);
	mnt[0] = '\0';
}

static struct spool *open_spool(const char *dir, uint64_t max_bytes)
{
	struct spool_config cfg = { .dir = dir, .max_bytes = max_bytes, .what = "test" };
	struct spool *s = NULL;

	assert_int_equal(spool_open(&cfg, &s), 0);
	assert_non_null(s);
	return s;
}

/* Payloads check themselves: an id, then bytes and a length derived from it. */
static size_t payload_len(uint64_t id, size_t max)
{
	return 8 + (size_t)(id * 977 % (max - 8 + 1));
}

static void *make_payload(uint64_t id, size_t len)
{
	unsigned char *p = malloc(len);

	assert_non_null(p);
	assert_true(len >= 8);
	memcpy(p, &id, 8);
	for (size_t k = 8; k < len; k++)
		p[k] = (unsigned char)(id * 131 + k);
	return p;
}

/* The id, or UINT64_MAX when the bytes are not what make_payload wrote. */
static uint64_t payload_id(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t id;

	if (len < 8)
		return UINT64_MAX;
	memcpy(&id, p, 8);
	for (size_t k = 8; k < len; k++)
		if (p[k] != (unsigned char)(id * 131 + k))
			return UINT64_MAX;
	return id;
}

static uint64_t append_id(struct spool *s, uint64_t id, size_t len, uint64_t *ret_dropped)
{
	void *p = make_payload(id, len);
	uint64_t seq = 0;

	assert_int_equal(spool_append(s, p, len, &seq, ret_dropped), 0);
	free(p);
	assert_true(seq > 0);
	return seq;
}

/* Peeks (after AFTER) and checks seq, id and length. */
static void expect_next(struct spool *s, uint64_t after, uint64_t seq, uint64_t id, size_t len)
{
	uint64_t got_seq = 0;
	size_t got_len = 0;
	void *data = NULL;

	assert_int_equal(spool_peek_after(s, after, &got_seq, &data, &got_len), 0);
	assert_non_null(data);
	assert_int_equal(got_seq, seq);
	assert_int_equal(got_len, len);
	assert_int_equal(payload_id(data, got_len), id);
	free(data);
}

static void expect_empty(struct spool *s, uint64_t after)
{
	uint64_t seq = 0;
	size_t len = 0;
	void *data = NULL;

	assert_int_equal(spool_peek_after(s, after, &seq, &data, &len), -ENOENT);
	assert_null(data);
}

static size_t count_files(const char *dir, const char *suffix)
{
	size_t n = 0, k = strlen(suffix);
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		if (de->d_name[0] != '.' && len >= k && !strcmp(de->d_name + len - k, suffix))
			n++;
	}
	closedir(d);
	return n;
}

static void entry_path(char *buf, size_t size, const char *dir, uint64_t seq, const char *ext)
{
	snprintf(buf, size, "%s/%020llu.%s", dir, (unsigned long long)seq, ext);
}

static bool exists(const char *path)
{
	struct stat st;

	return !lstat(path, &st);
}

static struct spool_stats stats(struct spool *s)
{
	struct spool_stats st;

	spool_get_stats(s, &st);
	return st;
}

static void test_order_peek_remove(void **state)
{
	static const size_t lens[] = { 8, 100, 8, 4000, 9 };
	char nested[256], path[PATH_MAX];
	struct spool_config cfg = { .dir = nested, .max_bytes = 1 << 20 };
	struct spool *s, *again = (struct spool *)1;
	struct spool_stats st;
	uint64_t bytes = 0, dropped = 99, seq = 99;
	struct stat sb;

	(void)state;
	/* Parents are created too, the spool itself 0700. */
	snprintf(nested, sizeof(nested), "%s/a/b/spool", tmpdir);
	s = open_spool(nested, 1 << 20);
	assert_int_equal(stat(nested, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0700);
	expect_empty(s, 0);

	/* One process per directory. */
	assert_int_equal(spool_open(&cfg, &again), -EBUSY);
	assert_null(again);

	for (uint64_t i = 0; i < 5; i++) {
		assert_int_equal(append_id(s, 100 + i, lens[i], &dropped), i + 1);
		assert_int_equal(dropped, 0);
		bytes += lens[i] + OVH;
	}
	/* Empty payloads are entries too. */
	assert_int_equal(spool_append(s, NULL, 0, &seq, NULL), 0);
	assert_int_equal(seq, 6);
	bytes += OVH;
	assert_int_equal(spool_append(s, NULL, 1, NULL, NULL), -EINVAL);

	st = stats(s);
	assert_int_equal(st.entries, 6);
	assert_int_equal(st.bytes, bytes);
	assert_int_equal(st.appended, 6);
	assert_int_equal(st.errors, 0);
	entry_path(path, sizeof(path), nested, 4, "rec");
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0600);
	assert_int_equal(sb.st_size, 4000 + OVH);
	assert_int_equal(count_files(nested, ".rec"), 6);
	assert_int_equal(count_files(nested, ".tmp"), 0);

	/* Peek does not consume; peek_after pipelines. */
	expect_next(s, 0, 1, 100, 8);
	expect_next(s, 0, 1, 100, 8);
	expect_next(s, 1, 2, 101, 100);
	expect_next(s, 3, 4, 103, 4000);
	expect_empty(s, 6);
	expect_empty(s, UINT64_MAX);

	assert_int_equal(spool_remove(s, 1), 0);
	assert_int_equal(spool_remove(s, 1), 0);   /* idempotent */
	assert_int_equal(spool_remove(s, 999), 0); /* never existed */
	assert_true(exists(path));
	expect_next(s, 0, 2, 101, 100);
	/* Out of order (a pipelined ack): the oldest stays the oldest. */
	assert_int_equal(spool_remove(s, 3), 0);
	expect_next(s, 0, 2, 101, 100);
	expect_next(s, 2, 4, 103, 4000);
	assert_int_equal(spool_remove(s, 2), 0);
	expect_next(s, 0, 4, 103, 4000);
	st = stats(s);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, 4000 + OVH + 9 + OVH + OVH);
	assert_int_equal(st.removed, 3);

	assert_int_equal(spool_remove(s, 4), 0);
	assert_false(exists(path));
	assert_int_equal(spool_remove(s, 5), 0);
	{
		void *data = NULL;
		size_t len = 99;

		assert_int_equal(spool_peek(s, &seq, &data, &len), 0);
		assert_int_equal(seq, 6);
		assert_int_equal(len, 0);
		assert_non_null(data);
		free(data);
	}
	assert_int_equal(spool_remove(s, 6), 0);
	expect_empty(s, 0);
	st = stats(s);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.removed, 6);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(count_files(nested, ".rec"), 0);

	/* Appending after the index emptied still works and counts on. */
	assert_int_equal(append_id(s, 7, 8, NULL), 7);
	expect_next(s, 0, 7, 7, 8);
	spool_close(s);
	spool_close(NULL);
}

static void test_bad_config(void **state)
{
	struct spool_config cfg = { .dir = spooldir, .max_bytes = 0 };
	struct spool *s = (struct spool *)1;
	char file[PATH_MAX];
	int fd;

	(void)state;
	assert_int_equal(spool_open(&cfg, &s), -EINVAL);
	assert_null(s);
	cfg.max_bytes = 1000;
	cfg.dir = "";
	assert_int_equal(spool_open(&cfg, &s), -EINVAL);
	assert_int_equal(spool_open(NULL, &s), -EINVAL);
	/* A file where the directory should be. */
	snprintf(file, sizeof(file), "%s/file", tmpdir);
	fd = open(file, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	cfg.dir = file;
	assert_int_equal(spool_open(&cfg, &s), -ENOTDIR);
	assert_null(s);
}

static void test_reopen_replays_and_seq_continues(void **state)
{
	struct spool *s;
	struct spool_stats st;

	(void)state;
	s = open_spool(spooldir, 1 << 20);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(append_id(s, i, payload_len(i, 300), NULL), i);
	assert_int_equal(spool_remove(s, 1), 0);
	spool_close(s);

	s = open_spool(spooldir, 1 << 20);
	st = stats(s);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.bytes, payload_len(2, 300) + payload_len(3, 300) + 2 * OVH);
	assert_int_equal(st.appended, 0);
	assert_int_equal(append_id(s, 4, payload_len(4, 300), NULL), 4);
	spool_close(s);

	s = open_spool(spooldir, 1 << 20);
	expect_next(s, 0, 2, 2, payload_len(2, 300));
	expect_next(s, 2, 3, 3, payload_len(3, 300));
	expect_next(s, 3, 4, 4, payload_len(4, 300));
	expect_empty(s, 4);
	for (uint64_t seq = 2; seq <= 4; seq++)
		assert_int_equal(spool_remove(s, seq), 0);
	spool_close(s);

	/* Even with every entry gone, seqs are never handed out twice. */
	s = open_spool(spooldir, 1 << 20);
	assert_int_equal(stats(s).entries, 0);
	assert_int_equal(append_id(s, 5, 8, NULL), 5);
	spool_close(s);
}

/* kill -9 right after draining the spool: the next seq still rises. */
static void test_crash_when_empty_keeps_seq_rising(void **state)
{
	struct spool *s;
	pid_t pid;
	int status;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		struct spool_config cfg = { .dir = spooldir, .max_bytes = 1 << 20, .what = "child" };
		uint64_t seq = 0;
		char b = 'x';

		if (spool_open(&cfg, &s) || spool_append(s, &b, 1, &seq, NULL) || seq != 1 ||
		    spool_append(s, &b, 1, &seq, NULL) || seq != 2 || spool_remove(s, 1) || spool_remove(s, 2))
			_exit(1);
		raise(SIGKILL);
		_exit(2);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	s = open_spool(spooldir, 1 << 20);
	assert_int_equal(stats(s).entries, 0);
	assert_true(append_id(s, 1, 8, NULL) > 2);
	spool_close(s);
}

struct ack {
	uint64_t seq, id;
};

/* The child appends until killed and acknowledges each entry on FD once spool_append returned. */
static void __attribute__((noreturn)) writer_child(int fd, uint64_t first_id)
{
	struct spool_config cfg = { .dir = spooldir, .max_bytes = 1ULL << 30, .what = "child" };
	struct spool *s;

	if (spool_open(&cfg, &s))
		_exit(1);
	for (uint64_t id = first_id;; id++) {
		size_t len = payload_len(id, 64 * 1024);
		void *p = make_payload(id, len);
		struct ack a = { .id = id };

		if (spool_append(s, p, len, &a.seq, NULL))
			_exit(2);
		free(p);
		if (write(fd, &a, sizeof(a)) != (ssize_t)sizeof(a))
			_exit(3);
	}
}

static void test_sigkill_mid_writing(void **state)
{
	enum { ROUNDS = 3, ACKS_BEFORE_KILL = 20, MAX_ACKS = 4096 };
	struct ack *acks = calloc(MAX_ACKS, sizeof(*acks));
	size_t n_acks = 0;

	(void)state;
	assert_non_null(acks);
	for (int round = 0; round < ROUNDS; round++) {
		uint64_t after = 0, id = n_acks ? acks[n_acks - 1].id + 1 : 0, last_seq = 0;
		size_t start = n_acks, seen = 0;
		struct spool_stats st;
		struct spool *s;
		int fds[2], status;
		struct ack a;
		pid_t pid;
		ssize_t n;

		assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (!pid) {
			close(fds[0]);
			writer_child(fds[1], id);
		}
		close(fds[1]);
		/* Let it acknowledge a few, then kill it wherever it is: likely inside a write or an fsync. */
		while (n_acks - start < ACKS_BEFORE_KILL) {
			n = read(fds[0], &a, sizeof(a));
			assert_int_equal(n, sizeof(a));
			assert_true(n_acks < MAX_ACKS);
			acks[n_acks++] = a;
		}
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFSIGNALED(status));
		while ((n = read(fds[0], &a, sizeof(a))) > 0) {
			assert_int_equal(n, sizeof(a));
			assert_true(n_acks < MAX_ACKS);
			acks[n_acks++] = a;
		}
		assert_int_equal(n, 0);
		close(fds[0]);

		/* Every acknowledged entry is back, complete, in order; at most one more finished its rename. */
		s = open_spool(spooldir, 1ULL << 30);
		assert_int_equal(count_files(spooldir, ".tmp"), 0);
		st = stats(s);
		assert_true(st.entries == n_acks || st.entries == n_acks + 1);
		for (;;) {
			uint64_t seq = 0;
			size_t len = 0;
			void *data = NULL;
			int err = spool_peek_after(s, after, &seq, &data, &len);

			if (err == -ENOENT)
				break;
			assert_int_equal(err, 0);
			if (seen < n_acks) {
				assert_int_equal(seq, acks[seen].seq);
				assert_int_equal(payload_id(data, len), acks[seen].id);
			} else {
				assert_true(seq > last_seq);
				assert_int_equal(payload_id(data, len), acks[n_acks - 1].id + 1);
			}
			assert_int_equal(len, payload_len(payload_id(data, len), 64 * 1024));
			free(data);
			last_seq = seq;
			after = seq;
			seen++;
		}
		assert_int_equal(seen, st.entries);
		assert_int_equal(stats(s).corrupt, 0);
		/* The one unacknowledged entry, if any, goes: the next round's ids follow the acknowledged ones. */
		if (seen > n_acks)
			assert_int_equal(spool_remove(s, last_seq), 0);
		assert_int_equal(stats(s).entries, n_acks);
		spool_close(s);
	}
	/* Each writer continued above every seq before it, the killed ones' too. */
	for (size_t i = 1; i < n_acks; i++)
		assert_true(acks[i].seq > acks[i - 1].seq);
	assert_true(acks[n_acks - 1].seq > n_acks);
	free(acks);
}

/* What a crash inside spool_append leaves behind, made by hand. */
static void test_leftovers_of_an_interrupted_write(void **state)
{
	char path[PATH_MAX], keep[PATH_MAX];
	struct spool *s;
	void *p;

	(void)state;
	s = open_spool(spooldir, 1 << 20);
	for (uint64_t i = 1; i <= 3; i++)
		assert_int_equal(append_id(s, i, 50, NULL), i);
	spool_close(s);
	/* Half an entry in a .tmp, with a seq above all entries; an unknown file. */
	p = make_payload(4, 200);
	entry_path(path, sizeof(path), spooldir, 5000, "tmp");
	test_write_file(path, p, 100);
	free(p);
	snprintf(keep, sizeof(keep), "%s/README", spooldir);
	test_write_file(keep, "x", 1);

	s = open_spool(spooldir, 1 << 20);
	assert_false(exists(path));
	assert_true(exists(keep));
	assert_int_equal(count_files(spooldir, ".tmp"), 0);
	assert_int_equal(stats(s).entries, 3);
	for (uint64_t i = 1; i <= 3; i++)
		expect_next(s, i - 1, i, i, 50);
	expect_empty(s, 3);
	/* The interrupted write's seq is not reused. */
	assert_int_equal(append_id(s, 4, 50, NULL), 5001);
	assert_int_equal(stats(s).corrupt, 0);
	spool_close(s);
}

static void test_bound_drops_oldest(void **state)
{
	const uint64_t max = 3 * (100 + OVH);
	uint64_t dropped = 99, seq = 99;
	struct spool_stats st, before;
	struct spool *s;
	void *big;

	(void)state;
	s = open_spool(spooldir, max);
	for (uint64_t i = 1; i <= 3; i++) {
		assert_int_equal(append_id(s, i, 100, &dropped), i);
		assert_int_equal(dropped, 0);
	}
	assert_int_equal(stats(s).bytes, max);

	/* Full to the byte: one more drops exactly the oldest. */
	assert_int_equal(append_id(s, 4, 100, &dropped), 4);
	assert_int_equal(dropped, 1);
	st = stats(s);
	assert_int_equal(st.entries, 3);
	assert_int_equal(st.bytes, max);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.dropped_bytes, 100 + OVH);
	expect_next(s, 0, 2, 2, 100);
	assert_int_equal(count_files(spooldir, ".rec"), 3);

	/* A bigger one needs two to go: 396 + 196 - 132 = 460 > 396, - 132 = 328. */
	assert_int_equal(append_id(s, 5, 164, &dropped), 5);
	assert_int_equal(dropped, 2);
	st = stats(s);
	assert_int_equal(st.entries, 2);
	assert_int_equal(st.bytes, 100 + OVH + 164 + OVH);
	assert_int_equal(st.dropped, 3);
	assert_int_equal(st.dropped_bytes, 3 * (100 + OVH));
	expect_next(s, 0, 4, 4, 100);
	/* The sender's late ack of a dropped entry is harmless and not counted. */
	assert_int_equal(spool_remove(s, 2), 0);
	assert_int_equal(stats(s).removed, 0);

	/* Larger than the whole spool: refused, nothing dropped. */
	before = stats(s);
	big = make_payload(6, max - OVH + 1);
	assert_int_equal(spool_append(s, big, max - OVH + 1, &seq, &dropped), -EFBIG);
	assert_int_equal(seq, 0);
	assert_int_equal(dropped, 0);
	free(big);
	st = stats(s);
	assert_int_equal(st.entries, before.entries);
	assert_int_equal(st.bytes, before.bytes);
	assert_int_equal(st.appended, before.appended);
	assert_int_equal(st.dropped, before.dropped);
	assert_int_equal(st.dropped_bytes, before.dropped_bytes);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.last_error, 0);
	assert_int_equal(count_files(spooldir, ".rec"), 2);
	assert_int_equal(count_files(spooldir, ".tmp"), 0);
	assert_int_equal(spool_append(s, NULL, SIZE_MAX, NULL, NULL), -EINVAL);

	/* Exactly the whole spool: fits, after everything else is dropped. */
	assert_int_equal(append_id(s, 7, max - OVH, &dropped), 6);
	assert_int_equal(dropped, 2);
	st = stats(s);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, max);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.dropped_bytes, 4 * (100 + OVH) + 164 + OVH);
	assert_int_equal(st.appended, 6);
	assert_int_equal(st.errors, 0);
	expect_next(s, 0, 6, 7, max - OVH);
	expect_empty(s, 6);
	assert_int_equal(count_files(spooldir, ".rec"), 1);
	spool_close(s);

	/* Reopened with a smaller bound: over it until the next write, which drops. */
	s = open_spool(spooldir, 200);
	assert_int_equal(stats(s).bytes, max);
	assert_int_equal(append_id(s, 8, 10, &dropped), 7);
	assert_int_equal(dropped, 1);
	st = stats(s);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, 10 + OVH);
	assert_int_equal(st.dropped_bytes, max);
	expect_next(s, 0, 7, 8, 10);
	spool_close(s);
}

static void test_corrupt_entries_moved_aside(void **state)
{
	char path[PATH_MAX];
	struct spool_stats st;
	struct spool *s;
	unsigned char b;
	int fd;

	(void)state;
	s = open_spool(spooldir, 1 << 20);
	for (uint64_t i = 1; i <= 5; i++)
		assert_int_equal(append_id(s, i, 50, NULL), i);
	spool_close(s);

	/* 2: one payload bit flipped. 3: cut short. 4: a header byte (its seq) changed. */
	entry_path(path, sizeof(path), spooldir, 2, "rec");
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &b, 1, OVH + 20), 1);
	b ^= 0x10;
	assert_int_equal(pwrite(fd, &b, 1, OVH + 20), 1);
	close(fd);
	entry_path(path, sizeof(path), spooldir, 3, "rec");
	assert_int_equal(truncate(path, OVH + 10), 0);
	entry_path(path, sizeof(path), spooldir, 4, "rec");
	fd = open(path, O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	b = 2;
	assert_int_equal(pwrite(fd, &b, 1, 8), 1);
	close(fd);

	s = open_spool(spooldir, 1 << 20);
	assert_int_equal(stats(s).entries, 5);
	expect_next(s, 0, 1, 1, 50);
	assert_int_equal(spool_remove(s, 1), 0);
	expect_next(s, 0, 5, 5, 50);
	st = stats(s);
	assert_int_equal(st.corrupt, 3);
	assert_int_equal(st.entries, 1);
	assert_int_equal(st.bytes, 50 + OVH);
	assert_int_equal(st.errors, 0);
	for (uint64_t seq = 2; seq <= 4; seq++) {
		entry_path(path, sizeof(path), spooldir, seq, "rec");
		assert_false(exists(path));
		entry_path(path, sizeof(path), spooldir, seq, "bad");
		assert_true(exists(path));
	}

	/* Damaged while open (emptied behind our back), found by peek_after too. */
	assert_int_equal(append_id(s, 6, 50, NULL), 6);
	entry_path(path, sizeof(path), spooldir, 6, "rec");
	assert_int_equal(truncate(path, 0), 0);
	expect_empty(s, 5);
	st = stats(s);
	assert_int_equal(st.corrupt, 4);
	assert_int_equal(st.entries, 1);
	entry_path(path, sizeof(path), spooldir, 6, "bad");
	assert_true(exists(path));
	/* Deleted behind our back: skipped, counted, nothing to move. */
	assert_int_equal(append_id(s, 7, 50, NULL), 7);
	entry_path(path, sizeof(path), spooldir, 7, "rec");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(spool_remove(s, 5), 0);
	expect_empty(s, 0);
	st = stats(s);
	assert_int_equal(st.corrupt, 5);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	spool_close(s);

	/* The .bad files stay out of the index, and their seqs are not reused. */
	s = open_spool(spooldir, 1 << 20);
	assert_int_equal(stats(s).entries, 0);
	assert_int_equal(count_files(spooldir, ".bad"), 4);
	assert_int_equal(append_id(s, 8, 50, NULL), 8);
	spool_close(s);
}

static void test_enospc(void **state)
{
	enum { MAX_TRIES = 200, LEN = 1000 };
	uint64_t seqs[MAX_TRIES], dropped = 99, seq = 99;
	size_t n_ok = 0, first;
	struct spool_stats st;
	struct spool *s;
	int err = 0;
	void *p;

	(void)state;
	mount_tmpfs("64k");
	s = open_spool(spooldir, 1 << 20);
	while (n_ok < MAX_TRIES) {
		p = make_payload(n_ok, LEN);
		err = spool_append(s, p, LEN, &seq, &dropped);
		free(p);
		if (err)
			break;
		seqs[n_ok++] = seq;
	}
	assert_int_equal(err, -ENOSPC);
	assert_int_equal(seq, 0);
	assert_int_equal(dropped, 0);
	assert_true(n_ok >= 4);
	assert_true(n_ok < MAX_TRIES);
	st = stats(s);
	assert_int_equal(st.entries, n_ok);
	assert_int_equal(st.bytes, n_ok * (LEN + OVH));
	assert_int_equal(st.appended, n_ok);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.errors, 1);
	assert_int_equal(st.last_error, -ENOSPC);
	assert_int_equal(count_files(spooldir, ".tmp"), 0);
	assert_int_equal(count_files(spooldir, ".rec"), n_ok);
	/* Still full: fails again, nothing lost. */
	p = make_payload(1000, LEN);
	assert_int_equal(spool_append(s, p, LEN, NULL, NULL), -ENOSPC);
	free(p);
	assert_int_equal(stats(s).errors, 2);
	assert_int_equal(stats(s).entries, n_ok);

	/* The sender frees space: writes succeed again. */
	expect_next(s, 0, seqs[0], 0, LEN);
	assert_int_equal(spool_remove(s, seqs[0]), 0);
	assert_int_equal(spool_remove(s, seqs[1]), 0);
	assert_true(n_ok + 1 < MAX_TRIES);
	p = make_payload(n_ok, LEN);
	assert_int_equal(spool_append(s, p, LEN, &seq, &dropped), 0);
	free(p);
	assert_true(seq > seqs[n_ok - 1]);
	assert_int_equal(dropped, 0);
	seqs[n_ok++] = seq;
	first = 2;
	st = stats(s);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.entries, n_ok - first);

	/* Every acknowledged entry is there, in order, also after a reopen. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = first; i < n_ok; i++)
			expect_next(s, i == first ? 0 : seqs[i - 1], seqs[i], i, LEN);
		expect_empty(s, seqs[n_ok - 1]);
		spool_close(s);
		if (!pass)
			s = open_spool(spooldir, 1 << 20);
	}
	umount_tmpfs();
}

enum { THREAD_ENTRIES = 10000 };

struct race {
	struct spool *s;
	atomic_bool done;
	int window; /* entries the sender has in flight: 1 peeks the oldest, more pipelines with peek_after */
	/* Findings, asserted by the main thread: cmocka's asserts must not run elsewhere. */
	int append_err, peek_err, remove_err;
	uint64_t bad_order, bad_payload, seen;
};

static void *appender(void *arg)
{
	struct race *r = arg;

	for (uint64_t id = 0; id < THREAD_ENTRIES; id++) {
		unsigned char p[24];
		int err;

		memcpy(p, &id, 8);
		for (size_t k = 8; k < sizeof(p); k++)
			p[k] = (unsigned char)(id * 131 + k);
		err = spool_append(r->s, p, sizeof(p), NULL, NULL);
		if (err && !r->append_err)
			r->append_err = err;
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void *sender(void *arg)
{
	struct race *r = arg;
	uint64_t inflight[8], last = 0;
	size_t head = 0, n = 0;

	for (;;) {
		bool done = atomic_load(&r->done);
		uint64_t seq = 0;
		size_t len = 0;
		void *data = NULL;
		int err;

		if (n < (size_t)r->window) {
			err = r->window == 1 ? spool_peek(r->s, &seq, &data, &len)
					     : spool_peek_after(r->s, last, &seq, &data, &len);
			if (!err) {
				if (seq <= last)
					r->bad_order++;
				if (payload_id(data, len) != r->seen || len != 24)
					r->bad_payload++;
				free(data);
				r->seen++;
				last = seq;
				inflight[(head + n++) % 8] = seq;
				continue;
			}
			if (err != -ENOENT) {
				r->peek_err = err;
				return NULL;
			}
		}
		if (n) {
			/* The receiver's ack for the oldest in flight. */
			err = spool_remove(r->s, inflight[head]);
			if (err) {
				r->remove_err = err;
				return NULL;
			}
			head = (head + 1) % 8;
			n--;
			continue;
		}
		/* Read before the peek: empty after the writer finished means really empty. */
		if (done)
			return NULL;
		nanosleep(&(struct timespec){ .tv_nsec = 50000 }, NULL);
	}
}

static void run_race(int window)
{
	struct race r = { .window = window };
	pthread_t a, b;
	struct spool_stats st;

	/*
	 * On tmpfs: fsync is free there, so 10 000 entries take a second, not
	 * 20 000 disk flushes, and the threads interleave more tightly.
	 */
	mount_tmpfs("64m");
	r.s = open_spool(spooldir, 1 << 30);
	atomic_init(&r.done, false);
	assert_int_equal(pthread_create(&b, NULL, sender, &r), 0);
	assert_int_equal(pthread_create(&a, NULL, appender, &r), 0);
	assert_int_equal(pthread_join(a, NULL), 0);
	assert_int_equal(pthread_join(b, NULL), 0);
	assert_int_equal(r.append_err, 0);
	assert_int_equal(r.peek_err, 0);
	assert_int_equal(r.remove_err, 0);
	assert_int_equal(r.bad_order, 0);
	assert_int_equal(r.bad_payload, 0);
	assert_int_equal(r.seen, THREAD_ENTRIES);
	st = stats(r.s);
	assert_int_equal(st.appended, THREAD_ENTRIES);
	assert_int_equal(st.removed, THREAD_ENTRIES);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.bytes, 0);
	assert_int_equal(st.dropped, 0);
	assert_int_equal(st.corrupt, 0);
	assert_int_equal(st.errors, 0);
	expect_empty(r.s, 0);
	assert_int_equal(count_files(spooldir, ".rec"), 0);
	spool_close(r.s);
	umount_tmpfs();
}

static void test_threads_append_and_send(void **state)
{
	(void)state;
	run_race(1);
}

static void test_threads_pipelined(void **state)
{
	(void)state;
	run_race(4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order_peek_remove, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen_replays_and_seq_continues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_when_empty_keeps_seq_rising, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_mid_writing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_of_an_interrupted_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bound_drops_oldest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_entries_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enospc, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_append_and_send, setup, teardown),
		cmocka_unit_test_setup_teardown(test_threads_pipelined, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
