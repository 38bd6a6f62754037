// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Attribution: cgroup v2 id -> cgroup path -> container -> pod.
 *
 * The cache maps a cgroup id (the kernfs inode number of the cgroup's
 * directory, what bpf_get_current_cgroup_id() returns) to a container_info.
 * It is filled by walking the cgroup2 tree, kept current with inotify, and a
 * miss is resolved in O(1) through a kernfs file handle. Only container
 * cgroups are cached; a host cgroup costs one open_by_handle_at per lookup.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"
#include "container_meta.h"
#include "log.h"
#include "util.h"

/* inotify watches and cached entries are bounded; past that, periodic scans. */
#define MAX_WATCHES 65536
#define MAX_ENTRIES 16384
/* kubelet nests 5 deep; kind-in-docker and systemd-in-container add a few. */
#define MAX_DEPTH 48
#define RESCAN_MIN_NS (100 * 1000000ULL)
/* A runtime writes config.json around the time the cgroup appears: retry that long. */
#define META_RETRY_NS (30 * 1000000000ULL)
#define WATCH_MASK (IN_CREATE | IN_DELETE | IN_ONLYDIR)
#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif
#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

/* Open-addressing u64 -> pointer map; NULL marks an empty slot. */
struct u64map {
	uint64_t *keys;
	void **vals;
	size_t cap; /* 0 or a power of two */
	size_t n;
};

struct entry {
	struct container_info info; /* what attrib_lookup hands out */
	unsigned int seen;          /* walk generation that last saw the directory */
	uint64_t first_seen_ns;
	bool meta_final;            /* stop retrying the runtime's config.json */
	bool reported;              /* fn(added) was called */
	bool dirty;                 /* fn(added) is owed: new, or metadata arrived */
	bool rival_logged;          /* another cgroup claims the same container id: said once */
};

struct watch {
	int wd;
	unsigned int seen;
	struct watch *hnext; /* next watch whose path hashes the same */
	char rel[];          /* path relative to the root, "" for the root */
};

struct attrib {
	char root[PATH_MAX]; /* canonical */
	size_t prefix_len;   /* of root as a path prefix: 0 when root is "/" */
	int root_fd;
	int inotify_fd;
	char **containerd_roots;
	size_t n_containerd_roots;
	char *crio_root;
	struct u64map cache; /* cgroup id -> struct entry */
	struct u64map wds;   /* inotify wd -> struct watch */
	struct u64map paths; /* hash of watch->rel -> chain of struct watch */
	struct entry *scratch; /* lookup answer when the cache is full */
	unsigned int generation;
	size_t pending; /* entries with dirty set */
	uint64_t last_walk_ns;
	bool warned_watches, warned_entries;
};

/* ---- u64map ------------------------------------------------------------- */

static size_t map_home(uint64_t k, size_t cap)
{
	/* splitmix64 finaliser: cgroup ids and wds are sequential. */
	k ^= k >> 30;
	k *= 0xbf58476d1ce4e5b9ULL;
	k ^= k >> 27;
	k *= 0x94d049bb133111ebULL;
	k ^= k >> 31;
	return (size_t)k & (cap - 1);
}

static void *map_get(const struct u64map *m, uint64_t k)
{
	if (!m->cap)
		return NULL;
	for (size_t i = map_home(k, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (!m->vals[i])
			return NULL;
		if (m->keys[i] == k)
			return m->vals[i];
	}
}

static void map_insert_slot(struct u64map *m, uint64_t k, void *v)
{
	size_t i = map_home(k, m->cap);

	while (m->vals[i] && m->keys[i] != k)
		i = (i + 1) & (m->cap - 1);
	if (!m->vals[i])
		m->n++;
	m->keys[i] = k;
	m->vals[i] = v;
}

static int map_put(struct u64map *m, uint64_t k, void *v)
{
	if ((m->n + 1) * 4 > m->cap * 3) {
		struct u64map bigger = { .cap = m->cap ? m->cap * 2 : 64 };

		bigger.keys = calloc(bigger.cap, sizeof(*bigger.keys));
		bigger.vals = calloc(bigger.cap, sizeof(*bigger.vals));
		if (!bigger.keys || !bigger.vals) {
			free(bigger.keys);
			free(bigger.vals);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->cap; i++)
			if (m->vals[i])
				map_insert_slot(&bigger, m->keys[i], m->vals[i]);
		free(m->keys);
		free(m->vals);
		*m = bigger;
	}
	map_insert_slot(m, k, v);
	return 0;
}

/* Backward-shift deletion: no tombstones, lookups stay short. */
static void map_del(struct u64map *m, uint64_t k)
{
	size_t mask = m->cap - 1, i, j;

	if (!m->cap)
		return;
	for (i = map_home(k, m->cap); m->vals[i] && m->keys[i] != k; i = (i + 1) & mask)
		;
	if (!m->vals[i])
		return;
	for (j = i;;) {
		size_t h;

		j = (j + 1) & mask;
		if (!m->vals[j])
			break;
		h = map_home(m->keys[j], m->cap);
		/* Move j into the hole unless its home lies cyclically in (i, j]. */
		if (i < j ? (h <= i || h > j) : (h <= i && h > j)) {
			m->keys[i] = m->keys[j];
			m->vals[i] = m->vals[j];
			i = j;
		}
	}
	m->vals[i] = NULL;
	m->n--;
}

static void map_free(struct u64map *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct u64map){ .cap = 0 };
}

/* Values of a map, copied: callers delete while they go. NULL when empty or on ENOMEM. */
static void **map_values(const struct u64map *m, size_t *ret_n)
{
	void **out;
	size_t n = 0;

	*ret_n = 0;
	if (!m->n)
		return NULL;
	out = malloc(m->n * sizeof(*out));
	if (!out)
		return NULL;
	for (size_t i = 0; i < m->cap; i++)
		if (m->vals[i])
			out[n++] = m->vals[i];
	*ret_n = n;
	return out;
}

/* ---- construction --------------------------------------------------------- */

int attrib_new(const struct attrib_config *cfg, struct attrib **ret)
{
	struct attrib *a;
	struct statfs sfs;
	char *canon = NULL;
	int err;

	if (!cfg || !cfg->cgroup_root || !cfg->cgroup_root[0] ||
	    (cfg->n_containerd_roots && !cfg->containerd_roots))
		return -EINVAL;
	for (size_t i = 0; i < cfg->n_containerd_roots; i++)
		if (!cfg->containerd_roots[i])
			return -EINVAL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->root_fd = -1;
	a->inotify_fd = -1;

	/* readlink of a resolved handle gives the canonical path: compare like with like. */
	canon = realpath(cfg->cgroup_root, NULL);
	if (!canon)
		goto fail_errno;
	if (strlen(canon) >= sizeof(a->root)) {
		err = -ENAMETOOLONG;
		goto fail;
	}
	strcpy(a->root, canon);
	a->prefix_len = strcmp(a->root, "/") ? strlen(a->root) : 0;
	a->root_fd = open(a->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->root_fd < 0 || fstatfs(a->root_fd, &sfs))
		goto fail_errno;
	/* Any other filesystem's inode numbers are not cgroup ids. */
	if (sfs.f_type != CGROUP2_SUPER_MAGIC) {
		err = -EINVAL;
		goto fail;
	}
	a->containerd_roots = calloc(cfg->n_containerd_roots + 1, sizeof(char *));
	if (!a->containerd_roots)
		goto fail_errno;
	for (size_t i = 0; i < cfg->n_containerd_roots; i++) {
		a->containerd_roots[i] = strdup(cfg->containerd_roots[i]);
		if (!a->containerd_roots[i])
			goto fail_errno;
		a->n_containerd_roots++;
	}
	if (cfg->crio_root) {
		a->crio_root = strdup(cfg->crio_root);
		if (!a->crio_root)
			goto fail_errno;
	}
	a->scratch = calloc(1, sizeof(*a->scratch));
	if (!a->scratch)
		goto fail_errno;
	/* Without inotify the caller rescans periodically: not an error. */
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	free(canon);
	*ret = a;
	return 0;
fail_errno:
	err = errno ? -errno : -ENOMEM;
fail:
	free(canon);
	attrib_free(a);
	return err;
}

struct attrib *attrib_free(struct attrib *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->cache.cap; i++)
		free(a->cache.vals[i]);
	map_free(&a->cache);
	/* Closing the inotify fd drops every watch in the kernel. */
	for (size_t i = 0; i < a->wds.cap; i++)
		free(a->wds.vals[i]);
	map_free(&a->wds);
	map_free(&a->paths);
	for (size_t i = 0; i < a->n_containerd_roots; i++)
		free(a->containerd_roots[i]);
	free(a->containerd_roots);
	free(a->crio_root);
	free(a->scratch);
	if (a->inotify_fd >= 0)
		close(a->inotify_fd);
	if (a->root_fd >= 0)
		close(a->root_fd);
	free(a);
	return NULL;
}

/* ---- runtime metadata ----------------------------------------------------- */

/* container_meta_read with this table's runtime roots. */
static int read_meta(const struct attrib *a, const struct container_ref *ref, struct pod_meta *ret)
{
	return container_meta_read(ref, a->containerd_roots, a->n_containerd_roots, a->crio_root, ret);
}

static void mark_dirty(struct attrib *a, struct entry *e)
{
	if (!e->dirty && e != a->scratch) {
		e->dirty = true;
		a->pending++;
	}
}

/* Tries the runtime's config.json again while it may still appear. */
static void meta_refresh(struct attrib *a, struct entry *e, uint64_t now)
{
	struct pod_meta m;
	int err;

	if (e->info.meta_known || e->meta_final)
		return;
	err = read_meta(a, &e->info.ref, &m);
	if (!err) {
		e->info.meta = m;
		e->info.meta_known = true;
		mark_dirty(a, e); /* report again: the caller's verdict may change with it */
		return;
	}
	if (err == -ENODATA || now - e->first_seen_ns > META_RETRY_NS)
		e->meta_final = true;
}

/* ---- cache ------------------------------------------------------------ */

static int entry_fill(struct attrib *a, struct entry *e, uint64_t id, const char *rel,
		      const struct container_ref *ref, uint64_t now)
{
	int n;

	memset(e, 0, sizeof(*e));
	if (strlen(rel) >= sizeof(e->info.cgroup_path) || ref->scope_len > strlen(rel))
		return -ENAMETOOLONG;
	n = snprintf(e->info.scope_path, sizeof(e->info.scope_path), "%.*s%.*s", (int)a->prefix_len, a->root,
		     (int)ref->scope_len, rel);
	if (n < 0 || (size_t)n >= sizeof(e->info.scope_path))
		return -ENAMETOOLONG;
	strcpy(e->info.cgroup_path, rel);
	e->info.cgroup_id = id;
	e->info.ref = *ref;
	e->first_seen_ns = now;
	switch (read_meta(a, ref, &e->info.meta)) {
	case 0:
		e->info.meta_known = true;
		break;
	case -ENODATA:
		e->meta_final = true;
		break;
	default:
		break; /* meta_refresh tries again */
	}
	return 0;
}

/* Adds a container cgroup to the cache. NULL on failure or when full. */
static struct entry *cache_add(struct attrib *a, uint64_t id, const char *rel, const struct container_ref *ref)
{
	struct entry *e;

	if (a->cache.n >= MAX_ENTRIES) {
		if (!a->warned_entries)
			log_warn("attribution: %d container cgroups cached, not caching more", MAX_ENTRIES);
		a->warned_entries = true;
		return NULL;
	}
	e = malloc(sizeof(*e));
	if (!e)
		return NULL;
	if (entry_fill(a, e, id, rel, ref, util_monotonic_ns()) || map_put(&a->cache, id, e)) {
		free(e);
		return NULL;
	}
	e->seen = a->generation;
	mark_dirty(a, e);
	return e;
}

static void cache_remove(struct attrib *a, struct entry *e, attrib_change_fn fn, void *ctx)
{
	map_del(&a->cache, e->info.cgroup_id);
	if (e->dirty)
		a->pending--;
	if (e->reported && fn)
		fn(ctx, &e->info, false);
	free(e);
}

/* Entries at rel or below it: their directory was removed. */
static void cache_remove_under(struct attrib *a, const char *rel, attrib_change_fn fn, void *ctx)
{
	size_t len = strlen(rel), n;
	void **v = map_values(&a->cache, &n);

	for (size_t i = 0; i < n; i++) {
		struct entry *e = v[i];
		const char *p = e->info.cgroup_path;

		if (!strncmp(p, rel, len) && (p[len] == '\0' || p[len] == '/'))
			cache_remove(a, e, fn, ctx);
	}
	free(v);
}

/*
 * Another cached cgroup that claims E's container id but is not E's
 * container (its scope differs: a child such as crun's "container" is the
 * same container). One id, two containers: nobody can say which one an
 * event, a Falco alert or the runtime's metadata is about.
 */
static struct entry *id_rival(const struct attrib *a, struct entry *e)
{
	for (size_t i = 0; i < a->cache.cap; i++) {
		struct entry *o = a->cache.vals[i];

		if (o && o != e && !strcmp(o->info.ref.id, e->info.ref.id) &&
		    strcmp(o->info.scope_path, e->info.scope_path)) {
			if (!e->rival_logged)
				log_warn("attribution: cgroups %s and %s both claim container %s: refused as a container",
					 e->info.scope_path, o->info.scope_path, e->info.ref.id);
			e->rival_logged = true;
			return o;
		}
	}
	e->rival_logged = false; /* a later rival is said again */
	return NULL;
}

/*
 * Owed add reports, in one place so that a callback never runs mid-walk. A
 * cgroup whose container id another claims is not reported (never armed)
 * while the rival exists.
 */
static void flush_reports(struct attrib *a, attrib_change_fn fn, void *ctx)
{
	size_t owed = 0;

	if (!a->pending)
		return;
	for (size_t i = 0; i < a->cache.cap; i++) {
		struct entry *e = a->cache.vals[i];

		if (!e || !e->dirty)
			continue;
		if (id_rival(a, e)) {
			owed++;
			continue;
		}
		e->dirty = false;
		e->reported = true;
		if (fn)
			fn(ctx, &e->info, true);
	}
	a->pending = owed;
}

/* ---- inotify watches ---------------------------------------------------- */

static uint64_t path_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

static struct watch *watch_by_path(const struct attrib *a, const char *rel)
{
	struct watch *w = map_get(&a->paths, path_hash(rel));

	while (w && strcmp(w->rel, rel))
		w = w->hnext;
	return w;
}

static void watch_unlink_path(struct attrib *a, struct watch *w)
{
	uint64_t h = path_hash(w->rel);
	struct watch *head = map_get(&a->paths, h), **pp = &head;

	while (*pp && *pp != w)
		pp = &(*pp)->hnext;
	if (!*pp)
		return;
	*pp = w->hnext;
	if (head)
		map_insert_slot(&a->paths, h, head); /* key exists: no growth needed */
	else
		map_del(&a->paths, h);
}

static void watch_drop(struct attrib *a, struct watch *w, bool rm)
{
	/* rm: a removed cgroup's inode lingers, and the watch would pin it. */
	if (rm)
		inotify_rm_watch(a->inotify_fd, w->wd);
	map_del(&a->wds, (uint64_t)w->wd);
	watch_unlink_path(a, w);
	free(w);
}

static void watch_limit(struct attrib *a, const char *why)
{
	if (!a->warned_watches)
		log_warn("attribution: %s; new cgroups below unwatched directories are found by rescans", why);
	a->warned_watches = true;
}

/* Watches the directory open as dfd, known as rel. */
static void watch_add(struct attrib *a, int dfd, const char *rel)
{
	struct watch *w, *old = watch_by_path(a, rel);
	size_t len = strlen(rel);
	char proc[64];
	int wd;

	if (a->inotify_fd < 0)
		return;
	if (!old && a->wds.n >= MAX_WATCHES) {
		watch_limit(a, "inotify watch limit reached");
		return;
	}
	/* Through the fd: the very directory that was opened, not whatever has its name now. */
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", dfd);
	wd = inotify_add_watch(a->inotify_fd, proc, WATCH_MASK);
	if (wd < 0) {
		if (errno == ENOSPC)
			watch_limit(a, "fs.inotify.max_user_watches reached");
		return;
	}
	w = map_get(&a->wds, (uint64_t)wd);
	if (w && w == old) {
		w->seen = a->generation;
		return;
	}
	if (w)
		watch_drop(a, w, false); /* same directory seen under another name */
	if (old)
		watch_drop(a, old, true); /* that name is a new directory now */
	w = malloc(sizeof(*w) + len + 1);
	if (!w)
		goto fail;
	w->wd = wd;
	w->seen = a->generation;
	memcpy(w->rel, rel, len + 1);
	w->hnext = map_get(&a->paths, path_hash(rel));
	if (map_put(&a->wds, (uint64_t)wd, w))
		goto fail_free;
	if (map_put(&a->paths, path_hash(rel), w)) {
		map_del(&a->wds, (uint64_t)wd);
		goto fail_free;
	}
	return;
fail_free:
	free(w);
fail:
	inotify_rm_watch(a->inotify_fd, wd);
}

/* ---- walking the tree --------------------------------------------------- */

struct walk {
	struct attrib *a;
	char rel[PATH_MAX];
	size_t rel_len;
};

/* A directory (open as dfd, consumed) and everything below it. */
static void walk_dir(struct walk *w, int dfd, int depth)
{
	struct attrib *a = w->a;
	struct container_ref ref;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (fstat(dfd, &st) || !S_ISDIR(st.st_mode)) {
		close(dfd);
		return;
	}
	/* Watch before listing: a child made meanwhile is either listed or reported. */
	watch_add(a, dfd, w->rel);
	if (w->rel_len && container_ref_from_cgroup_path(w->rel, &ref) == 0) {
		struct entry *e = map_get(&a->cache, (uint64_t)st.st_ino);

		if (e)
			e->seen = a->generation;
		else
			cache_add(a, (uint64_t)st.st_ino, w->rel, &ref);
	}
	if (depth >= MAX_DEPTH) {
		close(dfd);
		return;
	}
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return;
	}
	while ((de = readdir(d))) {
		size_t nlen = strlen(de->d_name), saved = w->rel_len;
		int cfd;

		if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN)
			continue;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		/* cgroup_path and scope_path (root + path) must both fit. */
		if (a->prefix_len + w->rel_len + 1 + nlen >= PATH_MAX)
			continue;
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* removed since readdir, or not a directory */
		w->rel[w->rel_len] = '/';
		memcpy(w->rel + w->rel_len + 1, de->d_name, nlen + 1);
		w->rel_len += 1 + nlen;
		walk_dir(w, cfd, depth + 1);
		w->rel_len = saved;
		w->rel[saved] = '\0';
	}
	closedir(d);
}

/* Walks rel ("" for the root) and below; a directory that is gone is no error. */
static void walk_from(struct attrib *a, const char *rel)
{
	struct walk *w;
	int fd, depth = 0;

	w = malloc(sizeof(*w));
	if (!w)
		return;
	w->a = a;
	w->rel_len = strlen(rel);
	if (a->prefix_len + w->rel_len >= PATH_MAX) {
		free(w);
		return;
	}
	memcpy(w->rel, rel, w->rel_len + 1);
	for (const char *p = rel; *p; p++)
		depth += *p == '/';
	fd = openat(a->root_fd, rel[0] ? rel + 1 : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd >= 0)
		walk_dir(w, fd, depth);
	free(w);
}

static void full_walk(struct attrib *a)
{
	a->generation++;
	walk_from(a, "");
	a->last_walk_ns = util_monotonic_ns();
}

int attrib_scan(struct attrib *a, attrib_change_fn fn, void *ctx)
{
	uint64_t now;
	size_t n;
	void **v;

	if (!a)
		return -EINVAL;
	full_walk(a);
	now = a->last_walk_ns;

	v = map_values(&a->cache, &n);
	if (a->cache.n && !v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct entry *e = v[i];
		struct stat st;

		if (e->seen != a->generation) {
			/* Not walked (too deep, out of fds): evict only if really gone. */
			if (fstatat(a->root_fd, e->info.cgroup_path + 1, &st, AT_SYMLINK_NOFOLLOW) ||
			    (uint64_t)st.st_ino != e->info.cgroup_id) {
				cache_remove(a, e, fn, ctx);
				continue;
			}
			e->seen = a->generation;
		}
		meta_refresh(a, e, now);
	}
	free(v);

	/* Watches of directories the walk did not meet are stale. */
	v = map_values(&a->wds, &n);
	for (size_t i = 0; i < n; i++) {
		struct watch *w = v[i];

		if (w->seen != a->generation)
			watch_drop(a, w, true);
	}
	free(v);
	flush_reports(a, fn, ctx);
	return 0;
}

/* ---- lookup ----------------------------------------------------------- */

/*
 * cgroup id -> path relative to the root, through a kernfs file handle:
 * O(1), needs CAP_DAC_READ_SEARCH. -ESTALE when no such cgroup exists.
 */
static int rel_of_id(const struct attrib *a, uint64_t id, char *ret, size_t size)
{
	_Alignas(struct file_handle) char hbuf[sizeof(struct file_handle) + sizeof(uint64_t)];
	struct file_handle *fh = (struct file_handle *)hbuf;
	char link[64], path[PATH_MAX];
	static const char deleted[] = " (deleted)";
	size_t len;
	ssize_t n;
	int fd;

	fh->handle_bytes = sizeof(uint64_t);
	fh->handle_type = FILEID_KERNFS;
	memcpy(fh->f_handle, &id, sizeof(id));
	fd = open_by_handle_at(a->root_fd, fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path));
	close(fd);
	if (n < 0)
		return -errno;
	if ((size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	path[n] = '\0';
	len = (size_t)n;
	if (len >= sizeof(deleted) - 1 && !strcmp(path + len - (sizeof(deleted) - 1), deleted))
		return -ESTALE;
	/* Elsewhere than under our root (another mount of it, a namespace): unusable. */
	if (strncmp(path, a->root, a->prefix_len) || (path[a->prefix_len] != '/' && path[a->prefix_len]))
		return -ESTALE;
	if (len - a->prefix_len >= size)
		return -ENAMETOOLONG;
	memcpy(ret, path + a->prefix_len, len - a->prefix_len + 1);
	return 0;
}

/* A cgroup id the cache does not know: resolve it, cache it if a container. */
static int lookup_miss(struct attrib *a, uint64_t cgroup_id, uint64_t now, struct entry **ret)
{
	struct container_ref ref;
	char rel[PATH_MAX];
	struct entry *e;
	int err;

	err = rel_of_id(a, cgroup_id, rel, sizeof(rel));
	if (err == -ESTALE || err == -ENOENT)
		return -ENOENT; /* no such cgroup: exited, or never was */
	if (err == -ENAMETOOLONG)
		return err;
	if (err) {
		/* No handles here (capability, kernel): the slow way, rate-limited. */
		if (now - a->last_walk_ns < RESCAN_MIN_NS)
			return -ENOENT;
		full_walk(a);
		e = map_get(&a->cache, cgroup_id);
		if (!e)
			return -ENOENT;
		*ret = e;
		return 0;
	}
	if (!rel[0] || container_ref_from_cgroup_path(rel, &ref))
		return -ENOENT; /* a host cgroup */
	e = cache_add(a, cgroup_id, rel, &ref);
	if (!e) {
		/* Cache full or no memory: answer anyway, from the scratch entry. */
		err = entry_fill(a, a->scratch, cgroup_id, rel, &ref, now);
		if (err)
			return err;
		e = a->scratch;
	}
	*ret = e;
	return 0;
}

int attrib_lookup(struct attrib *a, uint64_t cgroup_id, const struct container_info **ret)
{
	struct entry *e;
	uint64_t now;
	int err;

	if (!a || !ret)
		return -EINVAL;
	now = util_monotonic_ns();
	e = map_get(&a->cache, cgroup_id);
	if (e) {
		/* The runtime may write its metadata after the cgroup exists. */
		meta_refresh(a, e, now);
	} else {
		err = lookup_miss(a, cgroup_id, now, &e);
		if (err)
			return err;
	}
	if (id_rival(a, e))
		return -EEXIST;
	*ret = &e->info;
	return 0;
}

/* ---- inotify ---------------------------------------------------------- */

int attrib_watch_fd(const struct attrib *a)
{
	return a ? a->inotify_fd : -1;
}

static void on_event(struct attrib *a, const struct inotify_event *ev, attrib_change_fn fn, void *ctx,
		     bool *rescan)
{
	struct watch *w, *child;
	char rel[PATH_MAX];
	int n;

	if (ev->mask & IN_Q_OVERFLOW) {
		*rescan = true;
		return;
	}
	w = map_get(&a->wds, (uint64_t)ev->wd);
	if (!w)
		return; /* a watch already dropped */
	if (ev->mask & IN_IGNORED) {
		/* The kernel dropped it (the directory's inode is gone). */
		watch_drop(a, w, false);
		return;
	}
	if (!(ev->mask & IN_ISDIR) || !ev->len || !ev->name[0])
		return;
	n = snprintf(rel, sizeof(rel), "%s/%s", w->rel, ev->name);
	if (n < 0 || (size_t)n >= sizeof(rel) || a->prefix_len + (size_t)n >= PATH_MAX)
		return;
	if (ev->mask & IN_CREATE) {
		/* Under a new generation: nothing else is marked unseen by it. */
		a->generation++;
		walk_from(a, rel);
	} else if (ev->mask & IN_DELETE) {
		/* An rmdir'ed cgroup dir is empty: only its own watch and entries go. */
		cache_remove_under(a, rel, fn, ctx);
		child = watch_by_path(a, rel);
		if (child)
			watch_drop(a, child, true);
	}
}

int attrib_watch_process(struct attrib *a, attrib_change_fn fn, void *ctx)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool rescan = false;
	ssize_t n;
	int err = 0;

	if (!a)
		return -EINVAL;
	if (a->inotify_fd < 0)
		return 0;
	for (;;) {
		n = read(a->inotify_fd, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				err = -errno;
			break;
		}
		if (n == 0)
			break;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;

			p += sizeof(*ev) + ev->len;
			on_event(a, ev, fn, ctx, &rescan);
		}
	}
	/* Events were lost: only a full walk knows what changed. */
	if (rescan) {
		int serr = attrib_scan(a, fn, ctx);

		return err ? err : serr;
	}
	flush_reports(a, fn, ctx);
	return err;
}

size_t attrib_count(const struct attrib *a)
{
	return a ? a->cache.n : 0;
}

void attrib_foreach(struct attrib *a, attrib_each_fn fn, void *ctx)
{
	for (size_t i = 0; a && i < a->cache.cap; i++) {
		struct entry *e = a->cache.vals[i];

		if (e && e->reported)
			fn(ctx, &e->info);
	}
}

/* The cgroup that is the container's own (not a child such as crun's "container"), else any. */
static struct entry *find_by_id_prefix(const struct attrib *a, const char *prefix, size_t len, bool *ambiguous,
				       bool *rival)
{
	struct entry *best = NULL;

	*ambiguous = false;
	*rival = false;
	for (size_t i = 0; i < a->cache.cap; i++) {
		struct entry *e = a->cache.vals[i];

		if (!e || strncmp(e->info.ref.id, prefix, len))
			continue;
		if (best && strcmp(best->info.ref.id, e->info.ref.id)) {
			*ambiguous = true;
			return NULL;
		}
		if (best && strcmp(best->info.scope_path, e->info.scope_path))
			*rival = true;
		if (!best || strlen(e->info.cgroup_path) < strlen(best->info.cgroup_path))
			best = e;
	}
	return best;
}

int attrib_find_container(struct attrib *a, const char *id_prefix, attrib_change_fn fn, void *ctx,
			  const struct container_info **ret)
{
	size_t len = id_prefix ? strlen(id_prefix) : 0;
	bool ambiguous, rival;
	struct entry *e;
	int err;

	if (!a || !ret || len < 12 || len > CONTAINER_ID_LEN ||
	    strspn(id_prefix, "0123456789abcdef") != len)
		return -EINVAL;
	e = find_by_id_prefix(a, id_prefix, len, &ambiguous, &rival);
	if (!e && !ambiguous) {
		/* Not seen yet (inotify lag or limits): one walk, then give up. */
		err = attrib_scan(a, fn, ctx);
		if (err)
			return err;
		e = find_by_id_prefix(a, id_prefix, len, &ambiguous, &rival);
	}
	if (ambiguous)
		return -ENOTUNIQ;
	if (!e)
		return -ENOENT;
	if (rival) {
		id_rival(a, e); /* logs it */
		return -EEXIST;
	}
	meta_refresh(a, e, util_monotonic_ns());
	*ret = &e->info;
	return 0;
}
