// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Pod metadata from a container runtime's state (see container_meta.h): the
 * per-container config.json, found by the validated id only, read without
 * following links, parsed by container.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "container_meta.h"
#include "log.h"
#include "util.h"

#define META_MAX_BYTES (1 << 20)

/* Reads a regular file of at most META_MAX_BYTES. */
enum meta_outcome { META_FOUND, META_ABSENT, META_FINAL, META_RETRY };

/* RUNTIME: whose state directory PATH is in; only that runtime's keys are read. */
static enum meta_outcome meta_from_file(const char *path, enum container_runtime runtime, struct pod_meta *ret)
{
	size_t len = 0;
	char *text = NULL;
	int err;

	err = util_read_regular_file(path, META_MAX_BYTES, &text, &len);
	if (err == -ENOENT || err == -ENOTDIR)
		return META_ABSENT;
	/* Symlink (O_NOFOLLOW), not a regular file, too big: it will not get better. */
	if (err == -ELOOP || err == -EINVAL || err == -EFBIG)
		return META_FINAL;
	if (err)
		return META_RETRY;
	err = pod_meta_from_runtime_config(text, len, runtime, ret);
	free(text);
	if (!err)
		return META_FOUND;
	/* No Kubernetes annotations in a complete file: not a pod's container. */
	if (err == -ENODATA)
		return META_FINAL;
	return META_RETRY; /* malformed may mean half written */
}

int container_meta_read(const struct container_ref *ref, char *const *containerd_roots, size_t n_containerd_roots,
			const char *crio_root, struct pod_meta *ret)
{
	bool try_containerd = ref->runtime == RUNTIME_CONTAINERD || ref->runtime == RUNTIME_UNKNOWN;
	bool try_crio = ref->runtime == RUNTIME_CRIO || ref->runtime == RUNTIME_UNKNOWN;
	bool any_final = false, any_retry = false, any_candidate = false;
	char path[PATH_MAX];

	/* The id is the only part of the path that comes from outside: it must be 64 hex. */
	if (!container_id_valid(ref->id))
		return -ENODATA;
	/*
	 * cri-dockerd's labels live in docker's config.v2.json: not read. Said
	 * once per container (metadata is final after this): its pod stays
	 * unknown, and policy treats it so.
	 */
	if (ref->runtime == RUNTIME_DOCKER) {
		log_warn("attribution: docker container %.12s: pod metadata of docker (cri-dockerd) containers is not "
			 "read; namespace and pod unknown",
			 ref->id);
		return -ENODATA;
	}
	for (size_t i = 0; i <= n_containerd_roots; i++) {
		bool crio = i == n_containerd_roots;
		enum meta_outcome o;
		int n;

		if (crio ? !try_crio || !crio_root : !try_containerd)
			continue;
		if (crio)
			n = snprintf(path, sizeof(path), "%s/overlay-containers/%s/userdata/config.json", crio_root,
				     ref->id);
		else
			n = snprintf(path, sizeof(path), "%s/io.containerd.runtime.v2.task/k8s.io/%s/config.json",
				     containerd_roots[i], ref->id);
		if (n < 0 || (size_t)n >= sizeof(path))
			continue;
		any_candidate = true;
		o = meta_from_file(path, crio ? RUNTIME_CRIO : RUNTIME_CONTAINERD, ret);
		if (o == META_FOUND)
			return 0;
		any_final |= o == META_FINAL;
		any_retry |= o == META_RETRY;
	}
	if (!any_candidate || (any_final && !any_retry))
		return -ENODATA;
	return -EAGAIN;
}
