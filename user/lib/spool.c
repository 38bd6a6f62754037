// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"
#include "spool.h"

#define SEQ_DIGITS 20 /* UINT64_MAX has 20: names sort like their seqs */
#define NAME_SIZE 32
#define MAGIC "RFXS"
#define FORMAT_VERSION 1
/*
 * Seqs must keep rising across restarts even when the spool was empty (a
 * receiver may deduplicate on them): SEQ_FILE holds a seq no entry has used
 * yet, reserved SEQ_BLOCK at a time (one more fsync per SEQ_BLOCK appends)
 * and brought down to the exact next one by spool_close.
 */
#define SEQ_FILE "next-seq"
#define SEQ_BLOCK 1024

/*
 * Entry header, little-endian: magic[4], version u32, seq u64, payload
 * length u64, crc32 of the payload u32, crc32 of the 28 bytes before u32.
 * The seq and length catch a file renamed or cut short behind our back.
 */
_Static_assert(SPOOL_ENTRY_OVERHEAD == 32, "header layout");

/* The index: sorted by seq, entries removed out of order stay as tombstones until compaction. */
struct entry {
	uint64_t seq;
	uint64_t size; /* on disk */
	bool gone;
};

struct spool {
	pthread_mutex_t lock;
	bool lock_ready;
	int dirfd;
	char *dir, *what;
	uint64_t max_bytes;
	uint64_t next_seq;
	uint64_t seq_limit; /* SEQ_FILE holds this: seqs below it may be handed out */
	struct entry *ents; /* live entries within [head, n); ents[head] is live unless head == n */
	size_t head, n, cap;
	struct spool_stats st; /* st.entries counts the live ones */
	int logged_error;      /* a full disk logs once, not once per report */
	bool dropping;         /* likewise for dropping the oldest */
};

static void put_le32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_le64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_le32(const unsigned char *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static uint64_t get_le64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* zlib's crc32() takes an unsigned int length: feed it in chunks. */
static uint32_t crc32_of(const void *data, size_t len)
{
	const unsigned char *p = data;
	uLong crc = crc32(0L, Z_NULL, 0);

	while (len) {
		uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;

		crc = crc32(crc, p, chunk);
		p += chunk;
		len -= chunk;
	}
	return (uint32_t)crc;
}

static void make_header(unsigned char hdr[SPOOL_ENTRY_OVERHEAD], uint64_t seq, const void *data, size_t len)
{
	memcpy(hdr, MAGIC, 4);
	put_le32(hdr + 4, FORMAT_VERSION);
	put_le64(hdr + 8, seq);
	put_le64(hdr + 16, len);
	put_le32(hdr + 24, crc32_of(data, len));
	put_le32(hdr + 28, crc32_of(hdr, 28));
}

static void seq_name(char name[NAME_SIZE], uint64_t seq, const char *ext)
{
	snprintf(name, NAME_SIZE, "%0*" PRIu64 ".%s", SEQ_DIGITS, seq, ext);
}

/* "<20 digits>.<ext>" with a seq > 0: true, *RET_EXT points at ext. */
static bool parse_name(const char *name, uint64_t *ret_seq, const char **ret_ext)
{
	uint64_t seq = 0;

	for (int i = 0; i < SEQ_DIGITS; i++) {
		unsigned int d = (unsigned char)name[i] - '0';

		if (d > 9 || seq > (UINT64_MAX - d) / 10)
			return false;
		seq = seq * 10 + d;
	}
	if (name[SEQ_DIGITS] != '.' || !seq)
		return false;
	*ret_seq = seq;
	*ret_ext = name + SEQ_DIGITS + 1;
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A file shorter than its header says is corrupt: -EBADMSG. */
static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EBADMSG;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd))
		err = -errno;
	close(fd);
	return err;
}

/* mkdir -p, mode 0700; each directory created is made durable in its parent. */
static int mkdir_p(const char *dir)
{
	char *p = strdup(dir);
	size_t len;
	int err = 0;

	if (!p)
		return -ENOMEM;
	len = strlen(p);
	for (size_t i = 1; i <= len && !err; i++) {
		char c = p[i], *slash;

		if ((c != '/' && c != '\0') || p[i - 1] == '/')
			continue;
		p[i] = '\0';
		if (!mkdir(p, 0700)) {
			slash = strrchr(p, '/');
			if (!slash) {
				err = fsync_dir(".");
			} else if (slash == p) {
				err = fsync_dir("/");
			} else {
				*slash = '\0';
				err = fsync_dir(p);
				*slash = '/';
			}
		} else if (errno != EEXIST) {
			err = -errno;
		}
		p[i] = c;
	}
	free(p);
	return err;
}

static void count_error(struct spool *s, int err)
{
	s->st.errors++;
	s->st.last_error = err;
}

/* Room for one more entry at ents[n]: compacts the tombstones away, grows when mostly live. */
static int reserve(struct spool *s)
{
	size_t j = 0;

	if (s->n < s->cap)
		return 0;
	if (!s->cap || s->st.entries > s->cap / 2) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct entry *e = realloc(s->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		s->ents = e;
		s->cap = cap;
	}
	for (size_t i = s->head; i < s->n; i++)
		if (!s->ents[i].gone)
			s->ents[j++] = s->ents[i];
	s->head = 0;
	s->n = j;
	return 0;
}

/* First index in [head, n) whose seq is >= SEQ (tombstones included). */
static size_t lower_bound(const struct spool *s, uint64_t seq)
{
	size_t lo = s->head, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->ents[mid].seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void forget(struct spool *s, size_t i)
{
	s->ents[i].gone = true;
	s->st.entries--;
	s->st.bytes -= s->ents[i].size;
	while (s->head < s->n && s->ents[s->head].gone)
		s->head++;
	if (s->head == s->n)
		s->head = s->n = 0;
}

static int cmp_entry(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static int index_entry(struct spool *s, const char *name, uint64_t seq)
{
	struct stat st;
	int err;

	if (fstatat(s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISREG(st.st_mode)) {
		log_warn("spool %s: ignoring %s/%s: not a regular file", s->what, s->dir, name);
		return 0;
	}
	err = reserve(s);
	if (err)
		return err;
	s->ents[s->n++] = (struct entry){ .seq = seq, .size = (uint64_t)st.st_size };
	s->st.entries++;
	s->st.bytes += (uint64_t)st.st_size;
	return 0;
}

/* Durably: no seq below NEXT will be handed out again. */
static int save_next_seq(struct spool *s, uint64_t next)
{
	char text[NAME_SIZE];
	int fd, err, n;

	n = snprintf(text, sizeof(text), "%" PRIu64 "\n", next);
	fd = openat(s->dirfd, SEQ_FILE ".tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	err = write_all(fd, text, (size_t)n);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(s->dirfd, SEQ_FILE ".tmp", s->dirfd, SEQ_FILE))
		err = -errno;
	if (!err && fsync(s->dirfd))
		err = -errno;
	if (err && unlinkat(s->dirfd, SEQ_FILE ".tmp", 0) && errno != ENOENT)
		log_errno(LOG_LEVEL_WARN, -errno, "spool %s: cannot remove %s/%s.tmp", s->what, s->dir, SEQ_FILE);
	return err;
}

/* *RET: the seq SEQ_FILE holds, 0 when there is none (or it is unreadable: the entries' seqs still count). */
static int load_next_seq(struct spool *s, uint64_t *ret)
{
	char text[NAME_SIZE] = "";
	uint64_t v = 0;
	ssize_t n;
	int fd;

	*ret = 0;
	fd = openat(s->dirfd, SEQ_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	do
		n = read(fd, text, sizeof(text) - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	text[n] = '\0';
	for (ssize_t i = 0; i < n && text[i] != '\n'; i++) {
		unsigned int d = (unsigned char)text[i] - '0';

		if (d > 9 || v > (UINT64_MAX - d) / 10) {
			v = 0;
			break;
		}
		v = v * 10 + d;
	}
	if (!v)
		log_warn("spool %s: ignoring %s/%s: not a sequence number", s->what, s->dir, SEQ_FILE);
	*ret = v;
	return 0;
}

/* Indexes <seq>.rec, deletes *.tmp, counts <seq>.bad; the next seq follows all of them. */
static int scan(struct spool *s)
{
	uint64_t max_seq = 0, seq;
	size_t bad = 0, tmp = 0;
	struct dirent *de;
	const char *ext;
	int fd, err = 0;
	DIR *d;

	/* fdopendir owns its descriptor: give it another one. */
	fd = openat(s->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		err = -errno;
		close(fd);
		return err;
	}
	while (!err) {
		bool numbered;

		errno = 0;
		de = readdir(d);
		if (!de) {
			err = -errno;
			break;
		}
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || !strcmp(de->d_name, SEQ_FILE))
			continue;
		numbered = parse_name(de->d_name, &seq, &ext);
		if (numbered && (!strcmp(ext, "rec") || !strcmp(ext, "bad") || !strcmp(ext, "tmp")))
			max_seq = seq > max_seq ? seq : max_seq;
		if (numbered && !strcmp(ext, "rec")) {
			err = index_entry(s, de->d_name, seq);
		} else if (numbered && !strcmp(ext, "bad")) {
			bad++;
		} else if (has_suffix(de->d_name, ".tmp")) {
			/* A write interrupted before its rename: never acknowledged, so never an entry. */
			if (unlinkat(s->dirfd, de->d_name, 0) && errno != ENOENT)
				log_errno(LOG_LEVEL_WARN, -errno, "spool %s: cannot remove %s/%s", s->what, s->dir,
					  de->d_name);
			else
				tmp++;
		} else {
			log_warn("spool %s: ignoring unknown file %s/%s", s->what, s->dir, de->d_name);
		}
	}
	closedir(d);
	if (err)
		return err;
	if (s->n)
		qsort(s->ents, s->n, sizeof(*s->ents), cmp_entry);
	err = load_next_seq(s, &seq);
	if (err)
		return err;
	s->next_seq = max_seq < UINT64_MAX ? max_seq + 1 : UINT64_MAX;
	s->next_seq = seq > s->next_seq ? seq : s->next_seq;
	s->seq_limit = s->next_seq;
	if (tmp)
		log_info("spool %s: removed %zu unfinished writes from %s", s->what, tmp, s->dir);
	if (bad)
		log_warn("spool %s: %zu corrupt entries kept as %s/*.bad", s->what, bad, s->dir);
	if (s->st.entries)
		log_info("spool %s: %" PRIu64 " entries (%" PRIu64 " bytes) to replay from %s", s->what,
			 s->st.entries, s->st.bytes, s->dir);
	if (s->st.bytes > s->max_bytes)
		log_warn("spool %s: %" PRIu64 " bytes exceed the %" PRIu64 " allowed: the oldest go with the next write",
			 s->what, s->st.bytes, s->max_bytes);
	return 0;
}

void spool_close(struct spool *s)
{
	int err;

	if (!s)
		return;
	/* Clean shutdown: the seqs reserved but unused are given back. */
	if (s->seq_limit > s->next_seq) {
		err = save_next_seq(s, s->next_seq);
		if (err)
			log_errno(LOG_LEVEL_WARN, err, "spool %s: cannot save the next seq in %s", s->what, s->dir);
	}
	if (s->lock_ready)
		pthread_mutex_destroy(&s->lock);
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->ents);
	free(s->dir);
	free(s->what);
	free(s);
}

int spool_open(const struct spool_config *cfg, struct spool **ret)
{
	struct spool *s;
	int err;

	if (!ret)
		return -EINVAL;
	*ret = NULL;
	if (!cfg || !cfg->dir || !*cfg->dir || !cfg->max_bytes)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->dirfd = -1;
	s->max_bytes = cfg->max_bytes;
	s->dir = strdup(cfg->dir);
	s->what = strdup(cfg->what ? cfg->what : "spool");
	if (!s->dir || !s->what) {
		err = -ENOMEM;
		goto fail;
	}
	err = -pthread_mutex_init(&s->lock, NULL);
	if (err)
		goto fail;
	s->lock_ready = true;
	err = mkdir_p(s->dir);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot create %s", s->what, s->dir);
		goto fail;
	}
	s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "spool %s: cannot open %s", s->what, s->dir);
		goto fail;
	}
	/* Two writers would hand out the same seqs: one process per directory. */
	if (flock(s->dirfd, LOCK_EX | LOCK_NB)) {
		err = errno == EWOULDBLOCK ? -EBUSY : -errno;
		log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot lock %s", s->what, s->dir);
		goto fail;
	}
	err = scan(s);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot read %s", s->what, s->dir);
		goto fail;
	}
	*ret = s;
	return 0;
fail:
	spool_close(s);
	return err;
}

/* <seq>.tmp written and fsync'd, renamed to <seq>.rec, the directory fsync'd; on failure neither is left. */
static int write_entry(struct spool *s, uint64_t seq, const void *data, size_t len)
{
	unsigned char hdr[SPOOL_ENTRY_OVERHEAD];
	char tmp[NAME_SIZE], rec[NAME_SIZE];
	int fd, err;

	seq_name(tmp, seq, "tmp");
	seq_name(rec, seq, "rec");
	make_header(hdr, seq, data, len);
	fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno; /* EEXIST included: that file is not ours to delete */
	err = write_all(fd, hdr, sizeof(hdr));
	if (!err)
		err = write_all(fd, data, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && renameat(s->dirfd, tmp, s->dirfd, rec))
		err = -errno;
	if (err) {
		/* Best effort: a leftover .tmp is deleted by the next spool_open. */
		if (unlinkat(s->dirfd, tmp, 0) && errno != ENOENT)
			log_errno(LOG_LEVEL_WARN, -errno, "spool %s: cannot remove %s/%s", s->what, s->dir, tmp);
		return err;
	}
	/* The rename is durable only once the directory is; not acknowledged, so not kept. */
	if (fsync(s->dirfd)) {
		err = -errno;
		if (unlinkat(s->dirfd, rec, 0))
			log_errno(LOG_LEVEL_WARN, -errno, "spool %s: cannot remove %s/%s", s->what, s->dir, rec);
		return err;
	}
	return 0;
}

/* Drops the oldest entries while over the bound; the newest always fits by itself. */
static uint64_t make_room(struct spool *s)
{
	uint64_t dropped = 0;
	char name[NAME_SIZE];

	while (s->st.bytes > s->max_bytes && s->head < s->n) {
		struct entry *e = &s->ents[s->head];

		seq_name(name, e->seq, "rec");
		if (unlinkat(s->dirfd, name, 0) && errno != ENOENT) {
			int err = -errno;

			count_error(s, err);
			log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot drop %s/%s", s->what, s->dir, name);
			break;
		}
		s->st.dropped++;
		s->st.dropped_bytes += e->size;
		dropped++;
		forget(s, s->head);
	}
	if (dropped && !s->dropping)
		log_warn("spool %s: full at %" PRIu64 " bytes, dropping the oldest entries", s->what, s->max_bytes);
	s->dropping = dropped != 0;
	return dropped;
}

int spool_append(struct spool *s, const void *data, size_t len, uint64_t *ret_seq, uint64_t *ret_dropped)
{
	uint64_t seq = 0, dropped;
	int err;

	if (ret_seq)
		*ret_seq = 0;
	if (ret_dropped)
		*ret_dropped = 0;
	if (!s || (!data && len))
		return -EINVAL;
	if (len > s->max_bytes || s->max_bytes - len < SPOOL_ENTRY_OVERHEAD)
		return -EFBIG;
	pthread_mutex_lock(&s->lock);
	/* The index slot first: an entry on disk must not fail to be indexed. */
	err = reserve(s);
	if (!err && s->next_seq == UINT64_MAX)
		err = -EOVERFLOW;
	if (!err && s->next_seq >= s->seq_limit) {
		uint64_t limit = s->next_seq < UINT64_MAX - SEQ_BLOCK ? s->next_seq + SEQ_BLOCK : UINT64_MAX;

		err = save_next_seq(s, limit);
		if (!err)
			s->seq_limit = limit;
	}
	if (!err) {
		seq = s->next_seq++;
		err = write_entry(s, seq, data, len);
	}
	if (err) {
		count_error(s, err);
		if (err != s->logged_error)
			log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot write entry %" PRIu64 " to %s", s->what, seq,
				  s->dir);
		s->logged_error = err;
		pthread_mutex_unlock(&s->lock);
		return err;
	}
	if (s->logged_error)
		log_info("spool %s: writing to %s again", s->what, s->dir);
	s->logged_error = 0;
	/* Appended after the entry is durable: a crash in between never loses both. */
	s->ents[s->n++] = (struct entry){ .seq = seq, .size = len + SPOOL_ENTRY_OVERHEAD };
	s->st.entries++;
	s->st.bytes += len + SPOOL_ENTRY_OVERHEAD;
	s->st.appended++;
	dropped = make_room(s);
	pthread_mutex_unlock(&s->lock);
	if (ret_seq)
		*ret_seq = seq;
	if (ret_dropped)
		*ret_dropped = dropped;
	return 0;
}

/* 0, -EBADMSG when corrupt, or the errno of open/read. */
static int read_entry(struct spool *s, uint64_t seq, void **ret_data, size_t *ret_len)
{
	unsigned char hdr[SPOOL_ENTRY_OVERHEAD];
	char name[NAME_SIZE];
	void *data = NULL;
	struct stat st;
	uint64_t len = 0;
	int fd, err;

	seq_name(name, seq, "rec");
	fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto out;
	}
	err = -EBADMSG;
	if (!S_ISREG(st.st_mode) || st.st_size < SPOOL_ENTRY_OVERHEAD)
		goto out;
	err = read_all(fd, hdr, sizeof(hdr));
	if (err)
		goto out;
	len = get_le64(hdr + 16);
	err = -EBADMSG;
	if (memcmp(hdr, MAGIC, 4) || get_le32(hdr + 4) != FORMAT_VERSION || get_le64(hdr + 8) != seq ||
	    get_le32(hdr + 28) != crc32_of(hdr, 28) || len != (uint64_t)st.st_size - SPOOL_ENTRY_OVERHEAD)
		goto out;
	if (len > SIZE_MAX - 1) {
		err = -ENOMEM;
		goto out;
	}
	data = malloc(len ? (size_t)len : 1);
	if (!data) {
		err = -ENOMEM;
		goto out;
	}
	err = read_all(fd, data, (size_t)len);
	if (!err && crc32_of(data, (size_t)len) != get_le32(hdr + 24))
		err = -EBADMSG;
out:
	close(fd);
	if (err) {
		free(data);
		return err;
	}
	*ret_data = data;
	*ret_len = (size_t)len;
	return 0;
}

/* An entry that cannot be read is kept for a human as <seq>.bad, and skipped. */
static void set_aside(struct spool *s, size_t i, int why)
{
	char rec[NAME_SIZE], bad[NAME_SIZE];

	seq_name(rec, s->ents[i].seq, "rec");
	seq_name(bad, s->ents[i].seq, "bad");
	if (why == -ENOENT) {
		log_warn("spool %s: entry %s/%s vanished", s->what, s->dir, rec);
	} else if (renameat(s->dirfd, rec, s->dirfd, bad)) {
		int err = -errno;

		/* Still skipped: the next spool_open tries again. */
		count_error(s, err);
		log_errno(LOG_LEVEL_ERROR, err, "spool %s: unreadable entry %s/%s cannot be moved aside", s->what,
			  s->dir, rec);
	} else {
		log_errno(LOG_LEVEL_WARN, why, "spool %s: entry moved aside to %s/%s", s->what, s->dir, bad);
	}
	s->st.corrupt++;
	forget(s, i);
}

int spool_peek_after(struct spool *s, uint64_t after_seq, uint64_t *ret_seq, void **ret_data, size_t *ret_len)
{
	int err = -ENOENT;
	size_t i;

	if (!s || !ret_seq || !ret_data || !ret_len)
		return -EINVAL;
	if (after_seq == UINT64_MAX)
		return -ENOENT;
	pthread_mutex_lock(&s->lock);
	for (i = lower_bound(s, after_seq + 1);; i = lower_bound(s, after_seq + 1)) {
		while (i < s->n && s->ents[i].gone)
			i++;
		if (i >= s->n) {
			err = -ENOENT;
			break;
		}
		err = read_entry(s, s->ents[i].seq, ret_data, ret_len);
		if (!err) {
			*ret_seq = s->ents[i].seq;
			break;
		}
		/* Out of memory or descriptors says nothing about the entry: try again later. */
		if (err == -ENOMEM || err == -EMFILE || err == -ENFILE) {
			log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot read entry %" PRIu64, s->what, s->ents[i].seq);
			break;
		}
		set_aside(s, i, err);
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

int spool_peek(struct spool *s, uint64_t *ret_seq, void **ret_data, size_t *ret_len)
{
	/* Seqs start at 1. */
	return spool_peek_after(s, 0, ret_seq, ret_data, ret_len);
}

int spool_remove(struct spool *s, uint64_t seq)
{
	char name[NAME_SIZE];
	int err = 0;
	size_t i;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	i = lower_bound(s, seq);
	if (i < s->n && s->ents[i].seq == seq && !s->ents[i].gone) {
		/*
		 * No fsync of the directory: a crash may bring an acknowledged
		 * entry back, and it is sent twice; delivery is at least once.
		 */
		seq_name(name, seq, "rec");
		if (unlinkat(s->dirfd, name, 0) && errno != ENOENT) {
			err = -errno;
			count_error(s, err);
			log_errno(LOG_LEVEL_ERROR, err, "spool %s: cannot remove %s/%s", s->what, s->dir, name);
		} else {
			s->st.removed++;
			forget(s, i);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

void spool_get_stats(struct spool *s, struct spool_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	pthread_mutex_unlock(&s->lock);
}
