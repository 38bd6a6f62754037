/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Pure parsers behind attribution: cgroup v2 mount from mountinfo, container
 * id from a kubelet-named cgroup path, pod metadata from a runtime's
 * per-container OCI config.json annotations. No I/O except where named.
 */
#ifndef REFLEX_CONTAINER_H
#define REFLEX_CONTAINER_H

#include <stddef.h>

#define CONTAINER_ID_LEN 64

enum container_runtime {
	RUNTIME_UNKNOWN = 0,
	RUNTIME_CONTAINERD,
	RUNTIME_CRIO,
	RUNTIME_DOCKER,
};

/* "containerd", "cri-o", "docker", "unknown". */
const char *container_runtime_name(enum container_runtime runtime);

struct container_ref {
	char id[CONTAINER_ID_LEN + 1]; /* 64 lowercase hex */
	enum container_runtime runtime; /* UNKNOWN for cgroupfs-driver paths, which do not say */
	char pod_uid[37];              /* "" when the path does not name the pod; '-'-separated */
	/*
	 * Length of the prefix of the cgroup path that is the container's own
	 * cgroup (ends with the component that names the id): cgroup.kill goes
	 * there even when the process sits in a child such as crun's "container".
	 */
	size_t scope_len;
};

/*
 * Reads a mountinfo text (the contents of /proc/self/mountinfo) and writes the
 * mount point of the cgroup2 filesystem into ret_path. Returns 0, -ENOENT when
 * there is none, -ENAMETOOLONG when it does not fit. Octal escapes (\040) are
 * decoded. A mount of the whole hierarchy (root field "/") is preferred over
 * a bind mount of a subtree. -EINVAL for NULL arguments or an escaped NUL.
 */
int cgroup2_mount_from_mountinfo(const char *mountinfo, char *ret_path, size_t size);

/*
 * cgroup path (relative to the cgroup2 root, leading '/' optional) to the
 * container it belongs to. A container is a pod's container in kubelet's
 * pod hierarchy only: the kubepods root (kubepods.slice for the systemd
 * driver, kubepods for cgroupfs) right under the cgroup root, or under
 * kubelet's --cgroup-root parent (kind's kubelet[.slice], k3s); the pod one
 * level below it (guaranteed) or two (QoS); the container in the pod:
 * kubepods[-<qos>]-pod<uid_>.slice/cri-containerd-<id>.scope,
 * crio-<id>.scope[/container], docker-<id>.scope (cri-dockerd), or
 * pod<uid>/<id> and pod<uid>/crio-<id> (cgroupfs). Static pods' uid is the
 * 32-hex config hash. A cgroup merely named like a scope elsewhere
 * (/evil/cri-containerd-<id>.scope, plain docker's /docker/<id>) is not a
 * container. Rejects conmon scopes, pod-level (sandbox parent) cgroups and
 * malformed ids. Any component below the container is a child of it (same
 * ref). Returns 0 with *ret filled, -ENOENT for any other cgroup, -EINVAL
 * for NULL or a path with "." or ".." components.
 */
int container_ref_from_cgroup_path(const char *cgroup_path, struct container_ref *ret);

struct pod_meta {
	char pod_name[254];
	char namespace_[64];
	char pod_uid[37];
	char container_name[64];
	char container_type[16];   /* "container" or "sandbox" (containerd); "" if absent */
	char image[512];           /* "" if the runtime does not say */
};

/*
 * Pod metadata from an OCI config.json text, read from RUNTIME's own keys
 * only (pod authors' annotations are copied into the same object):
 * containerd's io.kubernetes.cri.sandbox-name/-namespace/-uid,
 * container-name, container-type, image-name; CRI-O's
 * io.kubernetes.pod.name/.namespace/.uid, io.kubernetes.container.name,
 * io.kubernetes.cri-o.ImageName. RUNTIME is where the file was found;
 * RUNTIME_UNKNOWN: the runtime's marks decide (containerd:
 * io.kubernetes.cri.container-type or sandbox-id; CRI-O: an
 * io.kubernetes.cri-o.* key or io.container.manager "cri-o"), and marks of
 * both runtimes are refused (-EINVAL). Returns 0 when at least pod name and
 * namespace were found, -ENODATA when the annotations are not there,
 * -EPROTONOSUPPORT for RUNTIME_DOCKER (cri-dockerd: not read), -EINVAL for
 * malformed JSON, wrong types, values that do not fit (never truncated) or
 * that Kubernetes would not allow (namespace and container name: DNS label;
 * pod name: DNS subdomain; uid: UUID or 32 hex; image: printable ASCII
 * without spaces).
 */
int pod_meta_from_runtime_config(const char *json, size_t len, enum container_runtime runtime,
				 struct pod_meta *ret);
/* pod_meta_from_runtime_config with RUNTIME_UNKNOWN. */
int pod_meta_from_oci_config(const char *json, size_t len, struct pod_meta *ret);

/* Valid 64-hex container id (the only thing ever put into a runtime path). */
int container_id_valid(const char *id);

#endif
