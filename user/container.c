// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "container.h"

const char *container_runtime_name(enum container_runtime runtime)
{
	switch (runtime) {
	case RUNTIME_CONTAINERD:
		return "containerd";
	case RUNTIME_CRIO:
		return "cri-o";
	case RUNTIME_DOCKER:
		return "docker";
	default:
		return "unknown";
	}
}

int container_id_valid(const char *id)
{
	size_t n = 0;

	if (!id)
		return 0;
	for (; id[n]; n++)
		if (!isdigit((unsigned char)id[n]) && !(id[n] >= 'a' && id[n] <= 'f'))
			return 0;
	return n == CONTAINER_ID_LEN;
}

/* Decodes mountinfo's octal escapes (\040 space, \011 tab, \012 newline, \134 backslash). */
static int unescape(const char *src, size_t len, char *dst, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\\' && i + 3 < len && isdigit((unsigned char)src[i + 1]) &&
		    isdigit((unsigned char)src[i + 2]) && isdigit((unsigned char)src[i + 3])) {
			c = (char)(((src[i + 1] - '0') << 6) | ((src[i + 2] - '0') << 3) | (src[i + 3] - '0'));
			i += 3;
		}
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

int cgroup2_mount_from_mountinfo(const char *mountinfo, char *ret_path, size_t size)
{
	const char *line = mountinfo;

	while (line && *line) {
		const char *end = strchr(line, '\n'), *sep, *p = line, *mnt = NULL;
		size_t len = end ? (size_t)(end - line) : strlen(line), mnt_len = 0;
		int field = 0;

		sep = NULL;
		for (const char *q = line; q + 3 <= line + len; q++) {
			if (q[0] == ' ' && q[1] == '-' && q[2] == ' ') {
				sep = q;
				break;
			}
		}
		/* Field 5 is the mount point; after " - " comes the fs type. */
		while (p < line + len && field < 5) {
			const char *f = p;

			while (p < line + len && *p != ' ')
				p++;
			field++;
			if (field == 5) {
				mnt = f;
				mnt_len = (size_t)(p - f);
			}
			while (p < line + len && *p == ' ')
				p++;
		}
		if (sep && mnt && (size_t)(line + len - (sep + 3)) >= 8 && strncmp(sep + 3, "cgroup2 ", 8) == 0) {
			char tmp[4096];
			int err = unescape(mnt, mnt_len, tmp, sizeof(tmp));

			if (err)
				return err;
			if (strlen(tmp) + 1 > size)
				return -ENAMETOOLONG;
			strcpy(ret_path, tmp);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

static bool hex_n(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]) && !(s[i] >= 'a' && s[i] <= 'f'))
			return false;
	return true;
}

/* A pod uid: 8-4-4-4-12 lowercase hex, with '-' or (systemd) '_' separators. */
static bool uid_parse(const char *s, size_t len, char ret[37])
{
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool is_sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (is_sep ? (s[i] != '-' && s[i] != '_') : !hex_n(&s[i], 1))
			return false;
		ret[i] = is_sep ? '-' : s[i];
	}
	ret[36] = '\0';
	return true;
}

/*
 * Container id of one path component, with its runtime; false when the
 * component does not name a container.
 */
static bool component_container(const char *c, size_t len, char id[65], enum container_runtime *rt)
{
	static const struct {
		const char *prefix;
		enum container_runtime rt;
	} scopes[] = {
		{ "cri-containerd-", RUNTIME_CONTAINERD },
		{ "crio-", RUNTIME_CRIO },
		{ "docker-", RUNTIME_DOCKER },
	};

	for (size_t i = 0; i < sizeof(scopes) / sizeof(scopes[0]); i++) {
		size_t pl = strlen(scopes[i].prefix);

		if (len == pl + CONTAINER_ID_LEN + 6 && !strncmp(c, scopes[i].prefix, pl) &&
		    !strncmp(c + pl + CONTAINER_ID_LEN, ".scope", 6) && hex_n(c + pl, CONTAINER_ID_LEN)) {
			memcpy(id, c + pl, CONTAINER_ID_LEN);
			id[CONTAINER_ID_LEN] = '\0';
			*rt = scopes[i].rt;
			return true;
		}
	}
	/* cgroupfs driver and plain docker: the bare id. */
	if (len == CONTAINER_ID_LEN && hex_n(c, len)) {
		memcpy(id, c, CONTAINER_ID_LEN);
		id[CONTAINER_ID_LEN] = '\0';
		*rt = RUNTIME_UNKNOWN;
		return true;
	}
	return false;
}

/* Pod uid from "pod<uid>" (cgroupfs) or "kubepods[-qos]-pod<uid_>.slice" (systemd). */
static bool component_pod(const char *c, size_t len, char uid[37])
{
	const char *p;

	if (len == 3 + 36 && !strncmp(c, "pod", 3))
		return uid_parse(c + 3, 36, uid);
	if (len > 6 + 36 + 3 && !strncmp(c + len - 6, ".slice", 6) && !strncmp(c, "kubepods", 8)) {
		p = c + len - 6 - 36;
		if (p - 3 >= c && !strncmp(p - 3, "pod", 3))
			return uid_parse(p, 36, uid);
	}
	return false;
}

int container_ref_from_cgroup_path(const char *cgroup_path, struct container_ref *ret)
{
	struct container_ref r = { 0 };
	const char *p = cgroup_path;
	bool kube = false, docker_parent = false, found = false;

	if (!cgroup_path)
		return -EINVAL;
	while (*p) {
		const char *c;
		size_t len;
		char id[65];
		enum container_runtime rt;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - c);
		if ((len == 2 && !strncmp(c, "..", 2)) || (len == 1 && c[0] == '.'))
			return -EINVAL;
		if (found)
			continue; /* a child (crun's "container") of the container cgroup */
		if (len >= 8 && !strncmp(c, "kubepods", 8))
			kube = true;
		if (component_pod(c, len, r.pod_uid))
			kube = true;
		if (component_container(c, len, id, &rt)) {
			bool bare = rt == RUNTIME_UNKNOWN;

			/* A bare id counts only under kubepods/pod<uid> or /docker. */
			if (!bare || (kube && r.pod_uid[0]) || docker_parent) {
				memcpy(r.id, id, sizeof(r.id));
				r.runtime = bare && docker_parent ? RUNTIME_DOCKER : rt;
				r.scope_len = (size_t)(p - cgroup_path);
				found = true;
			}
		}
		docker_parent = len == 6 && !strncmp(c, "docker", 6);
	}
	if (!found)
		return -ENOENT;
	*ret = r;
	return 0;
}

/* Copies a string annotation; -EINVAL when too long or not a string. */
static int annotation(json_t *ann, const char *key, char *dst, size_t size, bool *found)
{
	json_t *v = json_object_get(ann, key);
	const char *s;

	if (!v)
		return 0;
	if (!json_is_string(v))
		return -EINVAL;
	s = json_string_value(v);
	if (strlen(s) >= size)
		return -EINVAL;
	strcpy(dst, s);
	*found = true;
	return 0;
}

/* Kubernetes names: lowercase alphanumerics, '-' and '.', starting and ending alphanumeric. */
static bool k8s_name_valid(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	return isalnum((unsigned char)s[0]) && isalnum((unsigned char)s[n - 1]);
}

int pod_meta_from_oci_config(const char *json, size_t len, struct pod_meta *ret)
{
	static const struct {
		const char *name, *ns, *uid, *cname, *ctype, *image;
	} keys[] = {
		{ "io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-namespace",
		  "io.kubernetes.cri.sandbox-uid", "io.kubernetes.cri.container-name",
		  "io.kubernetes.cri.container-type", "io.kubernetes.cri.image-name" },
		{ "io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
		  "io.kubernetes.container.name", NULL, "io.kubernetes.cri-o.ImageName" },
	};
	struct pod_meta m;
	json_error_t jerr;
	json_t *root, *ann;
	int err = -ENODATA;

	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		json_decref(root);
		return -EINVAL;
	}
	ann = json_object_get(root, "annotations");
	if (!ann) {
		json_decref(root);
		return -ENODATA;
	}
	if (!json_is_object(ann)) {
		json_decref(root);
		return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		bool have_name = false, have_ns = false, other = false;

		memset(&m, 0, sizeof(m));
		if (annotation(ann, keys[i].name, m.pod_name, sizeof(m.pod_name), &have_name) ||
		    annotation(ann, keys[i].ns, m.namespace_, sizeof(m.namespace_), &have_ns) ||
		    annotation(ann, keys[i].uid, m.pod_uid, sizeof(m.pod_uid), &other) ||
		    annotation(ann, keys[i].cname, m.container_name, sizeof(m.container_name), &other) ||
		    (keys[i].ctype &&
		     annotation(ann, keys[i].ctype, m.container_type, sizeof(m.container_type), &other)) ||
		    annotation(ann, keys[i].image, m.image, sizeof(m.image), &other)) {
			err = -EINVAL;
			break;
		}
		if (!have_name || !have_ns)
			continue;
		if (!k8s_name_valid(m.namespace_, 63) || !k8s_name_valid(m.pod_name, 253)) {
			err = -EINVAL;
			break;
		}
		*ret = m;
		err = 0;
		break;
	}
	json_decref(root);
	return err;
}
