/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Durable on-disk spool: every report (every audit record) is written here
 * first and removed only once the receiver acknowledged it, so nothing is
 * lost to a kill -9, a reboot or a receiver that is down. One file per
 * entry, <20-digit seq>.rec, written as .tmp + fsync + rename + fsync of the
 * directory: after a crash an entry is either absent or complete. Bounded by
 * max_bytes: the oldest entries are dropped (and reported) to make room.
 * A small next-seq file keeps seqs rising across restarts, even from empty.
 *
 * Thread-safe (one internal mutex): one thread may append while another
 * peeks and removes. Only one process may hold a spool directory open.
 */
#ifndef REFLEX_SPOOL_H
#define REFLEX_SPOOL_H

#include <stddef.h>
#include <stdint.h>

/* On-disk bytes an entry costs beyond its payload (the header: magic, seq, length, crc32s). */
#define SPOOL_ENTRY_OVERHEAD 32

struct spool_config {
	const char *dir;    /* created 0700 with its parents if missing */
	uint64_t max_bytes; /* bound on the entries' bytes, payload + SPOOL_ENTRY_OVERHEAD each; > 0 */
	const char *what;   /* "reports", for log messages; NULL: "spool" */
};

/* Byte counts are on-disk sizes (payload + SPOOL_ENTRY_OVERHEAD). */
struct spool_stats {
	uint64_t entries, bytes;         /* in the spool now */
	uint64_t appended;               /* spool_append successes since open */
	uint64_t removed;                /* entries spool_remove took away since open */
	uint64_t dropped, dropped_bytes; /* oldest entries dropped to respect max_bytes, since open */
	uint64_t corrupt;                /* entries found unreadable, moved aside as <seq>.bad */
	uint64_t errors;                 /* failed writes, unlinks, renames */
	int last_error;                  /* negative errno of the last of those, 0 if none */
};

struct spool;

/*
 * Opens (creating) the spool directory and indexes the entries left there,
 * to be replayed oldest first; deletes leftover *.tmp from an interrupted
 * write; logs and ignores unknown files. Negative errno on failure
 * (-EBUSY: another spool holds the directory).
 */
int spool_open(const struct spool_config *cfg, struct spool **ret);
/* Accepts NULL. */
void spool_close(struct spool *s);

/*
 * Writes an entry durably; RET_SEQ (may be NULL) gets its sequence number,
 * higher than any before it, across restarts too. Once it is durable the
 * oldest entries are dropped until the spool fits max_bytes again: how many
 * goes to RET_DROPPED (may be NULL; 0 on failure), for the caller to audit.
 * -EFBIG: the entry alone is larger than max_bytes. -ENOSPC, -EIO, ...:
 * nothing was written and nothing was dropped.
 */
int spool_append(struct spool *s, const void *data, size_t len, uint64_t *ret_seq, uint64_t *ret_dropped);

/*
 * The oldest entry: its seq, and its payload in a malloc'd buffer (never
 * NULL, the caller frees). An entry found corrupt is moved aside and the
 * next one returned. -ENOENT: the spool is empty.
 */
int spool_peek(struct spool *s, uint64_t *ret_seq, void **ret_data, size_t *ret_len);
/* Like spool_peek, the oldest entry with seq > AFTER_SEQ: lets a sender pipeline. */
int spool_peek_after(struct spool *s, uint64_t after_seq, uint64_t *ret_seq, void **ret_data, size_t *ret_len);

/* After the receiver acknowledged SEQ. 0 also when SEQ is not (or no longer) there. */
int spool_remove(struct spool *s, uint64_t seq);

void spool_get_stats(struct spool *s, struct spool_stats *ret);

#endif
