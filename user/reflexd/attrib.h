/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Attribution: cgroup v2 id -> cgroup path -> container -> pod.
 * Cached; refreshed on a miss; evicted when the cgroup goes away.
 * Single-threaded: called from reflexd's event loop only.
 */
#ifndef REFLEX_ATTRIB_H
#define REFLEX_ATTRIB_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "container.h"

struct attrib_config {
	const char *cgroup_root;             /* cgroup2 mount point, e.g. /sys/fs/cgroup/unified */
	const char *const *containerd_roots; /* e.g. /run/containerd, /run/k3s/containerd */
	size_t n_containerd_roots;
	const char *crio_root;               /* e.g. /run/containers/storage */
};

struct container_info {
	uint64_t cgroup_id;
	char cgroup_path[PATH_MAX];  /* relative to the cgroup root, starts with '/' */
	char scope_path[PATH_MAX];   /* absolute path of the container's own cgroup dir */
	struct container_ref ref;
	bool meta_known;             /* meta was read from a runtime config.json */
	struct pod_meta meta;
};

struct attrib;

/*
 * Copies what it needs from CFG. 0 and *ret, or a negative errno: -EINVAL
 * (a bad CFG, or CGROUP_ROOT not a cgroup2 mount), -ENOENT, -ENOMEM, ...
 */
int attrib_new(const struct attrib_config *cfg, struct attrib **ret);
/* Accepts NULL; returns NULL. */
struct attrib *attrib_free(struct attrib *a);

/*
 * Called for each container cgroup that appears (added) or goes away.
 * added=true comes again for a cgroup already reported when its runtime
 * metadata became known only later (meta_known turned true): treat it as an
 * update. Cgroups that attrib_lookup found on its own are reported by the next
 * attrib_scan or attrib_watch_process; removals are reported only for cgroups
 * whose addition was. fn may be NULL.
 */
typedef void (*attrib_change_fn)(void *ctx, const struct container_info *info, bool added);

/*
 * Walks the whole cgroup tree: caches every container cgroup, evicts the ones
 * gone, and calls fn for each change. Returns 0 or a negative errno.
 */
int attrib_scan(struct attrib *a, attrib_change_fn fn, void *ctx);

/*
 * The container a cgroup id belongs to. On a cache miss resolves the id
 * directly (open_by_handle_at on the cgroup root, else a rescan) and reads
 * the runtime metadata. Returns 0 with *ret (valid until the next attrib_*
 * call), -ENOENT when the cgroup is a host cgroup (any cgroup outside
 * kubelet's pod hierarchy: container_ref_from_cgroup_path) or no longer
 * exists, -EEXIST when another cgroup (not a child of the same container)
 * claims the same container id: it is logged, and the caller must treat it
 * as no container it may act on. Such cgroups are not reported as added
 * while the rival exists.
 */
int attrib_lookup(struct attrib *a, uint64_t cgroup_id, const struct container_info **ret);

/*
 * inotify fd that becomes readable when cgroups are created or removed;
 * on readability call attrib_watch_process, which updates the cache and calls
 * fn like attrib_scan. -1 if inotify is unavailable (then rescan periodically).
 */
int attrib_watch_fd(const struct attrib *a);
int attrib_watch_process(struct attrib *a, attrib_change_fn fn, void *ctx);

/* Calls fn for every container cgroup already reported as added (verdicts re-applied). */
typedef void (*attrib_each_fn)(void *ctx, const struct container_info *info);
void attrib_foreach(struct attrib *a, attrib_each_fn fn, void *ctx);

/*
 * The container whose 64-hex id starts with ID_PREFIX (12 to 64 lowercase
 * hex: Falco's container.id): its own cgroup when several cgroups carry the
 * id. Walks the tree once on a miss, reporting changes to fn as attrib_scan. 0 with *ret (valid until the next
 * attrib_* call), -ENOENT, -ENOTUNIQ when the prefix names two containers,
 * -EEXIST when two cgroups claim the one container id it names (logged),
 * -EINVAL for a malformed prefix.
 */
int attrib_find_container(struct attrib *a, const char *id_prefix, attrib_change_fn fn, void *ctx,
			  const struct container_info **ret);

/* Number of container cgroups cached (for status and metrics). */
size_t attrib_count(const struct attrib *a);

#endif
