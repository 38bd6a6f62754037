/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Base helpers every program uses: clocks, small files, the error buffer of
 * parsers, getaddrinfo's errors as errno. One copy each, so they cannot drift.
 */
#ifndef REFLEX_UTIL_H
#define REFLEX_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* CLOCK_MONOTONIC in ns: deadlines, latencies, the kernel's bpf_ktime_get_ns(). */
uint64_t util_monotonic_ns(void);
/* CLOCK_REALTIME in ns since the epoch: record and query times. */
int64_t util_realtime_ns(void);

/*
 * At most SIZE - 1 bytes of PATH (a /proc or /sys file) into BUF,
 * NUL-terminated. The length read, or -errno.
 */
int util_read_small_file(const char *path, char *buf, size_t size);
/*
 * The whole of PATH, a regular file of at most MAX bytes, into a malloc'd,
 * NUL-terminated *RET. Opened O_NOFOLLOW | O_NONBLOCK, so a symlink or a FIFO
 * planted there cannot redirect or stall the caller. 0, or -errno: -EINVAL
 * (not a regular file), -EFBIG (over MAX), -EAGAIN (grew while read).
 */
int util_read_regular_file(const char *path, size_t max, char **ret, size_t *ret_len);

/*
 * The error buffer of parsers and clients that report "FILE:LINE: key: what"
 * to an operator: formats into ERR when there is one (anything but printable
 * ASCII replaced: it ends up on a terminal or in a log line) and returns RET, a negative errno.
 */
__attribute__((format(printf, 4, 5))) int errbuf_set(char *err, size_t errlen, int ret, const char *fmt, ...);

/* getaddrinfo's RC as -errno; a name that does not resolve is UNRESOLVED (caller's meaning). */
int util_gai_errno(int rc, int unresolved);

#endif
