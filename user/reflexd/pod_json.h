/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Pure parsers for what the Kubernetes API sends about pods: one Pod, a
 * PodList, one line of a watch. No I/O; used by the pod watch, tests and
 * fuzzers. Only what reflexd needs is kept: names, uid, the top-level owner
 * as far as the pod tells, and its containers' ids and images.
 */
#ifndef REFLEX_POD_JSON_H
#define REFLEX_POD_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define KUBE_MAX_CONTAINERS 16

struct kube_pod {
	char namespace_[64];
	char name[254];
	char uid[37];
	/*
	 * Top-level owner kind as far as the pod tells: the kind of the
	 * ownerReference with controller: true, except a ReplicaSet whose pod
	 * has the pod-template-hash label is reported as "Deployment"; "Node"
	 * for a static/mirror pod (owner kind Node or the
	 * kubernetes.io/config.mirror annotation); "Pod" for a bare pod with no
	 * controller. Never empty once the pod is known.
	 */
	char owner_kind[64];
	char owner_name[254];
	size_t n_containers;
	struct {
		char id[65];        /* 64 hex, runtime prefix ("containerd://") stripped; "" until started */
		char name[64];
		char image[512];
	} containers[KUBE_MAX_CONTAINERS]; /* spec containers, initContainers and ephemeralContainers with a status */
};

/*
 * Pure parser for one Pod object (JSON text, LEN bytes). 0 and *ret, -EINVAL
 * for malformed JSON, a missing metadata.name/namespace/uid, wrong types or
 * values that do not fit. Used by the watch and by tests and fuzzers.
 */
int kube_pod_from_json(const char *json, size_t len, struct kube_pod *ret);

enum kube_watch_type {
	KUBE_WATCH_ADDED,
	KUBE_WATCH_MODIFIED,
	KUBE_WATCH_DELETED,
	KUBE_WATCH_BOOKMARK,
	KUBE_WATCH_ERROR,
};

struct kube_watch_event {
	enum kube_watch_type type;
	char resource_version[64]; /* object.metadata.resourceVersion ("" if absent) */
	int error_code;            /* ERROR: Status.code (410 = relist) */
	struct kube_pod pod;       /* ADDED/MODIFIED/DELETED */
};

/* Pure parser for one watch line. 0, or -EINVAL with nothing set beyond type. */
int kube_watch_event_parse(const char *line, size_t len, struct kube_watch_event *ret);

typedef int (*kube_pod_fn)(void *ctx, const struct kube_pod *pod);

/*
 * Pure parser for a PodList (JSON text, LEN bytes): FN for each pod it
 * understands (a negative return stops and is returned), *RET_SKIPPED
 * counts those it does not; the list's resourceVersion into RV (RV_SIZE
 * bytes) once every item is done. 0, -EPROTO when the text is not a
 * PodList with a resourceVersion that fits, -ENOMEM.
 */
int kube_pod_list_parse(const char *json, size_t len, char *rv, size_t rv_size, kube_pod_fn fn, void *ctx,
			size_t *ret_skipped);

/* S[0..N) is lowercase hex (container ids and Falco's prefixes of them). */
bool kube_is_lower_hex(const char *s, size_t n);

#endif
