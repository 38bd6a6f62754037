// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Pure parsers behind attribution. Everything here reads text that a hostile
 * container may have influenced (cgroup names it created under a delegated
 * subtree, annotations a user wrote into a pod spec): nothing is trusted,
 * nothing is truncated, and only a validated 64-hex id ever leaves as an id.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#include <jansson.h>

#include "container.h"
#include "util.h"

const char *container_runtime_name(enum container_runtime runtime)
{
	switch (runtime) {
	case RUNTIME_CONTAINERD:
		return "containerd";
	case RUNTIME_CRIO:
		return "cri-o";
	case RUNTIME_DOCKER:
		return "docker";
	case RUNTIME_UNKNOWN:
		break;
	}
	return "unknown";
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

static bool all_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(s[i]))
			return false;
	return true;
}

int container_id_valid(const char *id)
{
	return id && strnlen(id, CONTAINER_ID_LEN + 1) == CONTAINER_ID_LEN &&
	       all_lower_hex(id, CONTAINER_ID_LEN);
}

/* ---- mountinfo ---------------------------------------------------------- */

/* The n-th space-separated field of a line, or NULL. */
static const char *field(const char *line, size_t len, int n, size_t *ret_len)
{
	const char *p = line, *end = line + len;

	for (int i = 0; p < end; i++) {
		const char *f = p;

		while (p < end && *p != ' ')
			p++;
		if (i == n) {
			*ret_len = (size_t)(p - f);
			return f;
		}
		while (p < end && *p == ' ')
			p++;
	}
	return NULL;
}

static bool field_is(const char *f, size_t len, const char *want)
{
	return f && len == strlen(want) && memcmp(f, want, len) == 0;
}

static bool is_octal(char c)
{
	return c >= '0' && c <= '7';
}

/* Decodes the kernel's \ooo escapes (space, tab, newline, backslash). */
static int unescape(const char *src, size_t len, char *dst, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];

		if (c == '\\' && len - i > 3 && is_octal(src[i + 1]) && is_octal(src[i + 2]) &&
		    is_octal(src[i + 3])) {
			c = (char)(((src[i + 1] - '0') << 6) | ((src[i + 2] - '0') << 3) | (src[i + 3] - '0'));
			i += 3;
		}
		if (c == '\0')
			return -EINVAL; /* "\000": no path holds a NUL */
		if (o + 1 >= size)
			return -ENAMETOOLONG;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return 0;
}

/*
 * Mount point of a cgroup2 line, or NULL. Layout: id parent maj:min root
 * mountpoint options [optional...] - fstype source superoptions.
 */
static const char *cgroup2_line(const char *line, size_t len, size_t *ret_len, bool *ret_whole)
{
	const char *mnt, *root, *f;
	size_t mnt_len = 0, root_len = 0, flen = 0;
	int i = 6;

	root = field(line, len, 3, &root_len);
	mnt = field(line, len, 4, &mnt_len);
	if (!root || !mnt)
		return NULL;
	/* Optional fields (shared:N ...) run up to a lone "-". */
	while ((f = field(line, len, i, &flen)) && !field_is(f, flen, "-"))
		i++;
	if (!f)
		return NULL;
	f = field(line, len, i + 1, &flen);
	if (!field_is(f, flen, "cgroup2"))
		return NULL;
	*ret_len = mnt_len;
	*ret_whole = field_is(root, root_len, "/");
	return mnt;
}

int cgroup2_mount_from_mountinfo(const char *mountinfo, char *ret_path, size_t size)
{
	const char *line = mountinfo, *best = NULL;
	size_t best_len = 0;
	char tmp[PATH_MAX];
	int err;

	if (!mountinfo || !ret_path)
		return -EINVAL;
	while (*line) {
		const char *nl = strchr(line, '\n'), *mnt;
		size_t len = nl ? (size_t)(nl - line) : strlen(line), mnt_len;
		bool whole;

		mnt = cgroup2_line(line, len, &mnt_len, &whole);
		/*
		 * A bind mount of a subtree (root field not "/") would make
		 * every path relative to the wrong place: take it only when
		 * the whole hierarchy is mounted nowhere.
		 */
		if (mnt && whole) {
			best = mnt;
			best_len = mnt_len;
			break;
		}
		if (mnt && !best) {
			best = mnt;
			best_len = mnt_len;
		}
		if (!nl)
			break;
		line = nl + 1;
	}
	if (!best)
		return -ENOENT;
	err = unescape(best, best_len, tmp, sizeof(tmp));
	if (err)
		return err;
	if (strlen(tmp) >= size)
		return -ENAMETOOLONG;
	memcpy(ret_path, tmp, strlen(tmp) + 1);
	return 0;
}

/* ---- cgroup paths ------------------------------------------------------- */

struct comp {
	const char *s;
	size_t len;
};

static bool comp_is(struct comp c, const char *want)
{
	return c.s && c.len == strlen(want) && memcmp(c.s, want, c.len) == 0;
}

static bool comp_ends(struct comp c, const char *suffix)
{
	size_t n = strlen(suffix);

	return c.len >= n && memcmp(c.s + c.len - n, suffix, n) == 0;
}

/*
 * A pod uid as kubelet writes it into a cgroup name: a UUID with sep
 * ('-' for cgroupfs, '_' for systemd, where '-' means nesting), or the
 * 32-hex config hash kubelet gives static pods. Written out with '-'.
 */
static bool pod_uid_parse(const char *s, size_t len, char sep, char ret[37])
{
	if (len == 32 && all_lower_hex(s, 32)) {
		memcpy(ret, s, 32);
		ret[32] = '\0';
		return true;
	}
	if (len != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool at_sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (at_sep ? s[i] != sep : !is_lower_hex(s[i]))
			return false;
		ret[i] = at_sep ? '-' : s[i];
	}
	ret[36] = '\0';
	return true;
}

/* Is the part of a slice name before "pod<uid>" a kubepods QoS prefix? */
static bool kubepods_slice_prefix(const char *s, size_t len)
{
	static const char *const tails[] = { "kubepods-", "kubepods-besteffort-", "kubepods-burstable-" };

	for (size_t i = 0; i < ARRAY_SIZE(tails); i++) {
		size_t n = strlen(tails[i]);

		/* kind and custom --cgroup-root put e.g. "kubelet-" in front. */
		if (len >= n && memcmp(s + len - n, tails[i], n) == 0 && (len == n || s[len - n - 1] == '-'))
			return true;
	}
	return false;
}

/* systemd driver: kubepods[-<qos>]-pod<uid_>.slice */
static bool systemd_pod(struct comp c, char uid[37])
{
	size_t body;

	if (!comp_ends(c, ".slice"))
		return false;
	body = c.len - 6;
	for (size_t ulen = 32; ulen <= 36; ulen += 4) {
		if (body < ulen + 3 || memcmp(c.s + body - ulen - 3, "pod", 3) != 0)
			continue;
		if (kubepods_slice_prefix(c.s, body - ulen - 3) &&
		    pod_uid_parse(c.s + body - ulen, ulen, '_', uid))
			return true;
	}
	return false;
}

/* cgroupfs driver: pod<uid> directly under kubepods or kubepods/<qos>. */
static bool cgroupfs_pod(struct comp c, struct comp parent, struct comp grandparent, char uid[37])
{
	bool placed = comp_is(parent, "kubepods") ||
		      ((comp_is(parent, "besteffort") || comp_is(parent, "burstable")) &&
		       comp_is(grandparent, "kubepods"));

	return placed && c.len > 3 && memcmp(c.s, "pod", 3) == 0 && pod_uid_parse(c.s + 3, c.len - 3, '-', uid);
}

/* "<prefix><64 hex><suffix>": copies the id. */
static bool id_between(struct comp c, const char *prefix, const char *suffix, char id[CONTAINER_ID_LEN + 1])
{
	size_t pl = strlen(prefix), sl = strlen(suffix);

	if (c.len != pl + CONTAINER_ID_LEN + sl || memcmp(c.s, prefix, pl) != 0 ||
	    memcmp(c.s + pl + CONTAINER_ID_LEN, suffix, sl) != 0 || !all_lower_hex(c.s + pl, CONTAINER_ID_LEN))
		return false;
	memcpy(id, c.s + pl, CONTAINER_ID_LEN);
	id[CONTAINER_ID_LEN] = '\0';
	return true;
}

enum pod_kind { POD_NONE, POD_SYSTEMD, POD_CGROUPFS };

/*
 * Does component c name a container, given what its parent is? *kube says
 * whether it is a pod's container (and then ret->pod_uid is the parent's).
 */
static bool container_comp(struct comp c, enum pod_kind parent_pod,
			   struct container_ref *ret, bool *kube)
{
	static const struct {
		const char *prefix, *suffix;
		enum container_runtime runtime;
		enum pod_kind under; /* POD_NONE: anywhere */
	} names[] = {
		{ "cri-containerd-", ".scope", RUNTIME_CONTAINERD, POD_NONE },
		{ "crio-", ".scope", RUNTIME_CRIO, POD_NONE },
		{ "docker-", ".scope", RUNTIME_DOCKER, POD_NONE },
		{ "crio-", "", RUNTIME_CRIO, POD_CGROUPFS }, /* CRI-O's cgroupfs manager */
		{ "", "", RUNTIME_UNKNOWN, POD_CGROUPFS },   /* containerd/docker cgroupfs: the bare id */
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (names[i].under != POD_NONE && names[i].under != parent_pod)
			continue;
		if (!id_between(c, names[i].prefix, names[i].suffix, ret->id))
			continue;
		ret->runtime = names[i].runtime;
		*kube = parent_pod != POD_NONE;
		return true;
	}
	return false;
}

/* The root of kubelet's pod hierarchy: kubepods (cgroupfs) or kubepods.slice (systemd, kind's kubelet-kubepods.slice). */
static bool kubepods_root(struct comp c)
{
	return comp_is(c, "kubepods") || comp_is(c, "kubepods.slice") ||
	       (c.len > strlen("-kubepods.slice") && comp_ends(c, "-kubepods.slice"));
}

/* kubelet's --cgroup-root parents seen in practice: kind's /kubelet(.slice), k3s's /k3s. */
static bool kubelet_cgroup_root(struct comp c)
{
	return comp_is(c, "kubelet") || comp_is(c, "kubelet.slice") || comp_is(c, "k3s");
}

int container_ref_from_cgroup_path(const char *cgroup_path, struct container_ref *ret)
{
	struct container_ref kube_ref = { .scope_len = 0 };
	struct comp gp = { NULL, 0 }, parent = { NULL, 0 };
	enum pod_kind parent_pod = POD_NONE;
	char parent_uid[37] = "";
	bool have_kube = false, under_kubelet_root = false;
	long idx = -1, root_idx = -1;
	const char *p;

	if (!cgroup_path || !ret)
		return -EINVAL;
	for (p = cgroup_path; *p;) {
		struct container_ref r = { .scope_len = 0 };
		enum pod_kind pod = POD_NONE;
		char uid[37] = "";
		struct comp c;
		bool kube;

		while (*p == '/')
			p++;
		if (!*p)
			break;
		c.s = p;
		while (*p && *p != '/')
			p++;
		c.len = (size_t)(p - c.s);
		idx++;
		/* Never let a path that climbs name anything. */
		if (comp_is(c, ".") || comp_is(c, ".."))
			return -EINVAL;
		if (have_kube)
			continue; /* below the container: crun's "container" and the like */

		/*
		 * Only kubelet's pod hierarchy holds containers: its kubepods root
		 * right under the cgroup root (or under kubelet's --cgroup-root
		 * parent), a pod one or two levels below it, the container in the
		 * pod. A scope named like a container anywhere else is not one.
		 */
		if (root_idx < 0) {
			if ((idx == 0 || (idx == 1 && under_kubelet_root)) && kubepods_root(c))
				root_idx = idx;
			else if (idx == 0 && kubelet_cgroup_root(c))
				under_kubelet_root = true;
		} else if (parent_pod != POD_NONE && container_comp(c, parent_pod, &r, &kube) && kube) {
			r.scope_len = (size_t)(p - cgroup_path);
			memcpy(r.pod_uid, parent_uid, sizeof(r.pod_uid));
			kube_ref = r;
			have_kube = true;
		} else if (idx == root_idx + 1 || idx == root_idx + 2) {
			if (systemd_pod(c, uid))
				pod = POD_SYSTEMD;
			else if (cgroupfs_pod(c, parent, gp, uid))
				pod = POD_CGROUPFS;
		}
		gp = parent;
		parent = c;
		parent_pod = pod;
		memcpy(parent_uid, uid, sizeof(parent_uid));
	}
	if (!have_kube)
		return -ENOENT;
	*ret = kube_ref;
	return 0;
}

/* ---- OCI annotations ---------------------------------------------------- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max. */
static bool dns_label(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max || !is_lower_alnum(s[0]) || !is_lower_alnum(s[len - 1]))
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_lower_alnum(s[i]) && s[i] != '-')
			return false;
	return true;
}

/* RFC 1123 subdomain: labels joined by '.', at most 253 in all. */
static bool dns_subdomain(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 253)
		return false;
	for (const char *p = s;;) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p);

		if (!dns_label(p, n, 63))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

static bool pod_uid_valid(const char *s)
{
	char tmp[37];

	return pod_uid_parse(s, strlen(s), '-', tmp);
}

/* Image references: printable ASCII without spaces (they reach logs and JSON). */
static bool image_valid(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static bool container_type_valid(const char *s)
{
	for (; *s; s++)
		if (*s < 'a' || *s > 'z')
			return false;
	return true;
}

/*
 * One string annotation into dst. 0 when absent (dst untouched) or copied,
 * -EINVAL when not a string or not fitting: never truncated.
 */
static int annotation(json_t *ann, const char *key, char *dst, size_t size, bool *found)
{
	json_t *v;

	*found = false;
	if (!key)
		return 0;
	v = json_object_get(ann, key);
	if (!v)
		return 0;
	if (!json_is_string(v) || json_string_length(v) >= size ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return -EINVAL;
	memcpy(dst, json_string_value(v), json_string_length(v) + 1);
	*found = true;
	return 0;
}

struct key_set {
	const char *name, *ns, *uid, *cname, *ctype, *image;
};

/*
 * Each runtime's own keys, which it writes over whatever a pod author put in
 * the pod's annotations (both runtimes copy those into config.json too).
 * Only the container's own runtime's keys are read: a pod author's
 * io.kubernetes.cri.sandbox-namespace on a CRI-O pod names nothing.
 */
static const struct key_set containerd_keys = {
	"io.kubernetes.cri.sandbox-name", "io.kubernetes.cri.sandbox-namespace", "io.kubernetes.cri.sandbox-uid",
	"io.kubernetes.cri.container-name", "io.kubernetes.cri.container-type", "io.kubernetes.cri.image-name",
};
static const struct key_set crio_keys = {
	"io.kubernetes.pod.name", "io.kubernetes.pod.namespace", "io.kubernetes.pod.uid",
	"io.kubernetes.container.name", NULL, "io.kubernetes.cri-o.ImageName",
};

/* containerd's CRI plugin marks every container it makes. */
static bool containerd_marked(json_t *ann)
{
	return json_object_get(ann, "io.kubernetes.cri.container-type") ||
	       json_object_get(ann, "io.kubernetes.cri.sandbox-id");
}

/* CRI-O's own io.kubernetes.cri-o.* keys, or its manager mark. */
static bool crio_marked(json_t *ann)
{
	const char *key;
	json_t *v;

	json_object_foreach(ann, key, v) {
		if (!strncmp(key, "io.kubernetes.cri-o.", strlen("io.kubernetes.cri-o.")))
			return true;
		if (!strcmp(key, "io.container.manager") && json_is_string(v) && !strcmp(json_string_value(v), "cri-o"))
			return true;
	}
	return false;
}

/* 0 filled, -ENODATA when this runtime's name/namespace pair is absent, -EINVAL. */
static int meta_from_keys(json_t *ann, const struct key_set *k, struct pod_meta *m)
{
	bool name, ns, uid, cname, ctype, image;

	memset(m, 0, sizeof(*m));
	if (annotation(ann, k->name, m->pod_name, sizeof(m->pod_name), &name) ||
	    annotation(ann, k->ns, m->namespace_, sizeof(m->namespace_), &ns) ||
	    annotation(ann, k->uid, m->pod_uid, sizeof(m->pod_uid), &uid) ||
	    annotation(ann, k->cname, m->container_name, sizeof(m->container_name), &cname) ||
	    annotation(ann, k->ctype, m->container_type, sizeof(m->container_type), &ctype) ||
	    annotation(ann, k->image, m->image, sizeof(m->image), &image))
		return -EINVAL;
	if (!name || !ns)
		return -ENODATA;
	/* Namespace and pod name drive policy: exactly what Kubernetes allows. */
	if (!dns_label(m->namespace_, strlen(m->namespace_), 63) || !dns_subdomain(m->pod_name))
		return -EINVAL;
	if ((uid && !pod_uid_valid(m->pod_uid)) ||
	    (cname && !dns_label(m->container_name, strlen(m->container_name), 63)) ||
	    (ctype && !container_type_valid(m->container_type)) || (image && !image_valid(m->image)))
		return -EINVAL;
	return 0;
}

int pod_meta_from_runtime_config(const char *json, size_t len, enum container_runtime runtime,
				 struct pod_meta *ret)
{
	struct pod_meta m;
	json_error_t jerr;
	json_t *root, *ann;
	bool by_containerd, by_crio;
	int err = -ENODATA;

	if (!json || !ret)
		return -EINVAL;
	/* Docker (cri-dockerd) keeps its labels in config.v2.json, another shape: not read here. */
	if (runtime == RUNTIME_DOCKER)
		return -EPROTONOSUPPORT;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return -EINVAL;
	if (!json_is_object(root)) {
		err = -EINVAL;
		goto out;
	}
	ann = json_object_get(root, "annotations");
	if (!ann)
		goto out;
	if (!json_is_object(ann)) {
		err = -EINVAL;
		goto out;
	}
	if (runtime == RUNTIME_UNKNOWN) {
		/* Nothing says whose file this is: its marks must, and only one runtime's. */
		by_containerd = containerd_marked(ann);
		by_crio = crio_marked(ann);
		if (by_containerd && by_crio) {
			err = -EINVAL;
			goto out;
		}
		if (!by_containerd && !by_crio)
			goto out;
		runtime = by_crio ? RUNTIME_CRIO : RUNTIME_CONTAINERD;
	}
	err = meta_from_keys(ann, runtime == RUNTIME_CRIO ? &crio_keys : &containerd_keys, &m);
	if (!err)
		*ret = m;
out:
	json_decref(root);
	return err;
}

int pod_meta_from_oci_config(const char *json, size_t len, struct pod_meta *ret)
{
	return pod_meta_from_runtime_config(json, len, RUNTIME_UNKNOWN, ret);
}
