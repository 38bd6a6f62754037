/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Pod metadata of a container from its runtime's own state: the
 * per-container OCI config.json that containerd (under each of its roots)
 * or CRI-O keeps, read with container.c's parser. The only I/O behind
 * attribution's metadata; the container id is the only part of a path that
 * comes from outside, and it must be 64 hex.
 */
#ifndef REFLEX_CONTAINER_META_H
#define REFLEX_CONTAINER_META_H

#include <stddef.h>

#include "container.h"

/*
 * Looks the container REF up in its runtime's state (REF->runtime decides
 * where; RUNTIME_UNKNOWN: every root; CRIO_ROOT NULL: no CRI-O). 0 with *ret
 * filled, -ENODATA when it will never be found (docker's, no Kubernetes
 * annotations, a link or a file too big), -EAGAIN when it may be later (not
 * written yet, or half written).
 */
int container_meta_read(const struct container_ref *ref, char *const *containerd_roots, size_t n_containerd_roots,
			const char *crio_root, struct pod_meta *ret);

#endif
