/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What unit tests share: a temporary directory per test, removing it however
 * a failed test left it, and whole files in and out. Include after <cmocka.h>.
 * Failures assert: a test whose fixture cannot be made must fail, not skip.
 */
#ifndef REFLEX_TESTUTIL_H
#define REFLEX_TESTUTIL_H

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* "/tmp/reflex-NAME-XXXXXX", created, into BUF. 0, or -1 (a setup's failure). */
static inline int test_tmpdir(char *buf, size_t size, const char *name)
{
	if ((size_t)snprintf(buf, size, "/tmp/reflex-%s-XXXXXX", name) >= size)
		return -1;
	return mkdtemp(buf) ? 0 : -1;
}

static inline int test_rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	/* cgroup directories go with rmdir; their control files cannot be unlinked */
	if (flag == FTW_DP)
		return rmdir(path) && errno != ENOENT ? -1 : 0;
	unlink(path);
	return 0;
}

/* Removes PATH bottom-up without crossing mounts. 0, or -1 (a teardown's failure). */
static inline int test_rmtree(const char *path)
{
	if (!path || !*path)
		return 0;
	return nftw(path, test_rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* The whole of PATH, NUL-terminated (malloc'd); its length in *LEN if LEN. */
static inline char *test_read_file(const char *path, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap);
	ssize_t got;
	int fd;

	assert_non_null(buf);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	while ((got = read(fd, buf + n, cap - n - 1)) > 0) {
		n += (size_t)got;
		if (cap - n == 1) {
			cap *= 2;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
	}
	assert_true(got == 0);
	close(fd);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* PATH := LEN bytes of DATA (created 0600 or truncated). */
static inline void test_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		fail_msg("open %s: %s", path, strerror(errno));
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

#endif
