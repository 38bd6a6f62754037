// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attrib.h"

#define META_MAX_BYTES (1 << 20)
#define MAX_WATCHES 65536
#define MAX_DEPTH 32
#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe
#endif

struct watch {
	int wd;
	char *rel; /* path relative to the root, "" for the root */
};

struct attrib {
	char root[PATH_MAX];
	char **containerd_roots;
	size_t n_containerd_roots;
	char *crio_root;
	int root_fd;
	int inotify_fd;
	struct container_info **cache;
	size_t n_cache, cap_cache;
	struct watch *watches;
	size_t n_watches, cap_watches;
	unsigned int generation; /* scan pass, to find entries that went away */
	unsigned int *seen;      /* parallel to cache */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct attrib *attrib_new(const struct attrib_config *cfg)
{
	struct attrib *a;

	if (!cfg || !cfg->cgroup_root || strlen(cfg->cgroup_root) >= sizeof(a->root)) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	strcpy(a->root, cfg->cgroup_root);
	a->inotify_fd = -1;
	a->root_fd = open(a->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (a->root_fd < 0)
		goto fail;
	a->containerd_roots = calloc(cfg->n_containerd_roots + 1, sizeof(char *));
	if (!a->containerd_roots)
		goto fail;
	for (size_t i = 0; i < cfg->n_containerd_roots; i++) {
		a->containerd_roots[i] = strdup(cfg->containerd_roots[i]);
		if (!a->containerd_roots[i])
			goto fail;
		a->n_containerd_roots++;
	}
	a->crio_root = dup_or_null(cfg->crio_root);
	if (cfg->crio_root && !a->crio_root)
		goto fail;
	a->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return a;
fail:
	{
		int e = errno ? errno : ENOMEM;

		attrib_free(a);
		errno = e;
	}
	return NULL;
}

struct attrib *attrib_free(struct attrib *a)
{
	if (!a)
		return NULL;
	for (size_t i = 0; i < a->n_cache; i++)
		free(a->cache[i]);
	free(a->cache);
	free(a->seen);
	for (size_t i = 0; i < a->n_watches; i++)
		free(a->watches[i].rel);
	free(a->watches);
	for (size_t i = 0; i < a->n_containerd_roots; i++)
		free(a->containerd_roots[i]);
	free(a->containerd_roots);
	free(a->crio_root);
	if (a->inotify_fd >= 0)
		close(a->inotify_fd);
	if (a->root_fd >= 0)
		close(a->root_fd);
	free(a);
	return NULL;
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	char *buf;
	ssize_t n;
	size_t len = 0;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	buf = malloc(META_MAX_BYTES + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	while ((n = read(fd, buf + len, META_MAX_BYTES + 1 - len)) > 0) {
		len += (size_t)n;
		if (len > META_MAX_BYTES)
			break;
	}
	close(fd);
	if (n < 0 || len > META_MAX_BYTES) {
		free(buf);
		return n < 0 ? -errno : -EFBIG;
	}
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Runtime metadata of a container; only a validated id goes into a path. */
static void read_meta(const struct attrib *a, struct container_info *ci)
{
	char path[PATH_MAX], *text = NULL;
	size_t len = 0;

	if (!container_id_valid(ci->ref.id))
		return;
	for (size_t i = 0; i <= a->n_containerd_roots; i++) {
		bool crio = i == a->n_containerd_roots;

		if (crio && (!a->crio_root || ci->ref.runtime == RUNTIME_CONTAINERD))
			break;
		if (!crio && ci->ref.runtime == RUNTIME_CRIO)
			continue;
		if (crio)
			snprintf(path, sizeof(path), "%s/overlay-containers/%s/userdata/config.json", a->crio_root,
				 ci->ref.id);
		else
			snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
				 a->containerd_roots[i], ci->ref.id);
		if (read_file(path, &text, &len))
			continue;
		ci->meta_known = pod_meta_from_oci_config(text, len, &ci->meta) == 0;
		free(text);
		if (ci->meta_known)
			return;
	}
}

static struct container_info *cache_find(const struct attrib *a, uint64_t id, size_t *ret_idx)
{
	for (size_t i = 0; i < a->n_cache; i++) {
		if (a->cache[i]->cgroup_id == id) {
			if (ret_idx)
				*ret_idx = i;
			return a->cache[i];
		}
	}
	return NULL;
}

static struct container_info *cache_add(struct attrib *a, uint64_t id, const char *rel,
					const struct container_ref *ref)
{
	struct container_info *ci;

	if (a->n_cache == a->cap_cache) {
		size_t cap = a->cap_cache ? a->cap_cache * 2 : 64;
		struct container_info **c = realloc(a->cache, cap * sizeof(*c));
		unsigned int *s;

		if (!c)
			return NULL;
		a->cache = c;
		s = realloc(a->seen, cap * sizeof(*s));
		if (!s)
			return NULL;
		a->seen = s;
		a->cap_cache = cap;
	}
	ci = calloc(1, sizeof(*ci));
	if (!ci)
		return NULL;
	ci->cgroup_id = id;
	ci->ref = *ref;
	snprintf(ci->cgroup_path, sizeof(ci->cgroup_path), "%s", rel);
	if ((size_t)snprintf(ci->scope_path, sizeof(ci->scope_path), "%s%.*s", a->root, (int)ref->scope_len,
			     rel) >= sizeof(ci->scope_path)) {
		free(ci);
		errno = ENAMETOOLONG;
		return NULL;
	}
	read_meta(a, ci);
	a->seen[a->n_cache] = a->generation;
	a->cache[a->n_cache++] = ci;
	return ci;
}

static void cache_remove(struct attrib *a, size_t idx, attrib_change_fn fn, void *ctx)
{
	struct container_info *ci = a->cache[idx];

	if (fn)
		fn(ctx, ci, false);
	free(ci);
	a->cache[idx] = a->cache[a->n_cache - 1];
	a->seen[idx] = a->seen[a->n_cache - 1];
	a->n_cache--;
}

static void watch_add(struct attrib *a, const char *rel)
{
	char path[PATH_MAX];
	struct watch *w;
	int wd;

	if (a->inotify_fd < 0 || a->n_watches >= MAX_WATCHES)
		return;
	snprintf(path, sizeof(path), "%s%s", a->root, rel);
	wd = inotify_add_watch(a->inotify_fd, path, IN_CREATE | IN_DELETE | IN_ONLYDIR);
	if (wd < 0)
		return;
	for (size_t i = 0; i < a->n_watches; i++)
		if (a->watches[i].wd == wd)
			return; /* already watched */
	if (a->n_watches == a->cap_watches) {
		size_t cap = a->cap_watches ? a->cap_watches * 2 : 128;

		w = realloc(a->watches, cap * sizeof(*w));
		if (!w)
			return;
		a->watches = w;
		a->cap_watches = cap;
	}
	a->watches[a->n_watches].wd = wd;
	a->watches[a->n_watches].rel = strdup(rel);
	if (a->watches[a->n_watches].rel)
		a->n_watches++;
	else
		inotify_rm_watch(a->inotify_fd, wd);
}

/* Visits REL (relative path starting with '/', or "" for the root) and below. */
static void walk(struct attrib *a, const char *rel, int depth, attrib_change_fn fn, void *ctx)
{
	char path[PATH_MAX], child[PATH_MAX];
	struct container_ref ref;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (depth > MAX_DEPTH)
		return;
	if ((size_t)snprintf(path, sizeof(path), "%s%s", a->root, rel) >= sizeof(path))
		return;
	/* Watch before listing: a child made meanwhile is either listed or reported. */
	watch_add(a, rel);
	if (rel[0] && container_ref_from_cgroup_path(rel, &ref) == 0 && stat(path, &st) == 0) {
		size_t idx;
		struct container_info *ci = cache_find(a, (uint64_t)st.st_ino, &idx);

		if (ci) {
			a->seen[idx] = a->generation;
		} else {
			ci = cache_add(a, (uint64_t)st.st_ino, rel, &ref);
			if (ci && fn)
				fn(ctx, ci, true);
		}
	}
	d = opendir(path);
	if (!d)
		return; /* vanished mid-walk */
	while ((de = readdir(d))) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(child, sizeof(child), "%s/%s", rel, de->d_name) >= sizeof(child))
			continue;
		walk(a, child, depth + 1, fn, ctx);
	}
	closedir(d);
}

int attrib_scan(struct attrib *a, attrib_change_fn fn, void *ctx)
{
	char path[2 * PATH_MAX];
	struct stat st;

	a->generation++;
	walk(a, "", 0, fn, ctx);
	for (size_t i = a->n_cache; i-- > 0;) {
		if (a->seen[i] == a->generation)
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s%s", a->root, a->cache[i]->cgroup_path) < sizeof(path) &&
		    stat(path, &st) == 0 && (uint64_t)st.st_ino == a->cache[i]->cgroup_id)
			continue; /* beyond MAX_DEPTH or the watch limit, still there */
		cache_remove(a, i, fn, ctx);
	}
	return 0;
}

/* cgroup id -> path through a kernfs file handle, in O(1). */
static int path_of_id(const struct attrib *a, uint64_t id, char *ret, size_t size)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = { .fh = { .handle_bytes = sizeof(uint64_t), .handle_type = FILEID_KERNFS } };
	char link[64];
	ssize_t n;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	fd = open_by_handle_at(a->root_fd, &h.fh, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, ret, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	ret[n] = '\0';
	return 0;
}

int attrib_lookup(struct attrib *a, uint64_t cgroup_id, const struct container_info **ret)
{
	char full[PATH_MAX];
	struct container_ref ref;
	struct container_info *ci;
	size_t root_len = strlen(a->root);
	const char *rel;

	ci = cache_find(a, cgroup_id, NULL);
	if (!ci) {
		if (path_of_id(a, cgroup_id, full, sizeof(full)))
			return -ENOENT;
		if (strncmp(full, a->root, root_len) || (full[root_len] && full[root_len] != '/'))
			return -ENOENT;
		rel = full + root_len;
		if (!rel[0] || container_ref_from_cgroup_path(rel, &ref))
			return -ENOENT;
		ci = cache_add(a, cgroup_id, rel, &ref);
		if (!ci)
			return -ENOMEM;
	}
	/* The runtime may write its metadata after the cgroup exists: try again. */
	if (!ci->meta_known)
		read_meta(a, ci);
	*ret = ci;
	return 0;
}

int attrib_watch_fd(const struct attrib *a)
{
	return a->inotify_fd;
}

int attrib_watch_process(struct attrib *a, attrib_change_fn fn, void *ctx)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(a->inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *ev = (struct inotify_event *)p;
			const char *parent = NULL;
			char rel[PATH_MAX];

			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				attrib_scan(a, fn, ctx);
				continue;
			}
			for (size_t i = 0; i < a->n_watches; i++)
				if (a->watches[i].wd == ev->wd)
					parent = a->watches[i].rel;
			if (!parent || !ev->len || !(ev->mask & IN_ISDIR))
				continue;
			if ((size_t)snprintf(rel, sizeof(rel), "%s/%s", parent, ev->name) >= sizeof(rel))
				continue;
			if (ev->mask & IN_CREATE) {
				a->generation++;
				walk(a, rel, 1, fn, ctx);
			} else if (ev->mask & IN_DELETE) {
				size_t len = strlen(rel);

				for (size_t i = a->n_cache; i-- > 0;) {
					const char *cp = a->cache[i]->cgroup_path;

					if (!strncmp(cp, rel, len) && (cp[len] == '\0' || cp[len] == '/'))
						cache_remove(a, i, fn, ctx);
				}
				for (size_t i = a->n_watches; i-- > 0;) {
					const char *wp = a->watches[i].rel;

					if (!strncmp(wp, rel, len) && (wp[len] == '\0' || wp[len] == '/')) {
						free(a->watches[i].rel);
						a->watches[i] = a->watches[--a->n_watches];
					}
				}
			}
		}
	}
	if (n < 0 && errno != EAGAIN)
		return -errno;
	return 0;
}

size_t attrib_count(const struct attrib *a)
{
	return a->n_cache;
}
