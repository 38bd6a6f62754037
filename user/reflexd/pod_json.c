// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The Kubernetes API's Pod, PodList and watch-event JSON into struct
 * kube_pod (see pod_json.h). Pure: no I/O, no state; every value checked
 * for type and size, never truncated.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "pod_json.h"
#include "util.h"

static int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (n >= size)
		return -EINVAL;
	memcpy(dst, src, n + 1);
	return 0;
}

/* Absent or null: *ret NULL and 0; present with another type: -EINVAL. */
static int opt_member(json_t *obj, const char *key, json_type type, json_t **ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (json_typeof(v) != type)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Absent, null or false: false; true: true; anything else: -EINVAL. */
static int opt_bool(json_t *obj, const char *key, bool *ret)
{
	json_t *v = json_object_get(obj, key);

	*ret = json_is_true(v);
	return !v || json_is_boolean(v) || json_is_null(v) ? 0 : -EINVAL;
}

static int opt_str(json_t *obj, const char *key, const char **ret)
{
	json_t *v;
	int r = opt_member(obj, key, JSON_STRING, &v);

	*ret = v ? json_string_value(v) : NULL;
	return r;
}

/* Present, a non-empty string that fits SIZE with its NUL. */
static int req_str(json_t *obj, const char *key, char *dst, size_t size)
{
	const char *s;

	if (opt_str(obj, key, &s) < 0 || !s || !*s)
		return -EINVAL;
	return copy_str(dst, size, s);
}

bool kube_is_lower_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/*
 * "<runtime>://<64 lowercase hex>" (containerd, cri-o, docker and whatever
 * else speaks CRI with the same shape); NULL or "" is a container not
 * started yet.
 */
static int parse_container_id(const char *s, char out[65])
{
	const char *sep;

	out[0] = '\0';
	if (!s || !*s)
		return 0;
	sep = strstr(s, "://");
	if (!sep || sep == s)
		return -EINVAL;
	for (const char *p = s; p < sep; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.'))
			return -EINVAL;
	sep += 3;
	if (strlen(sep) != 64 || !kube_is_lower_hex(sep, 64))
		return -EINVAL;
	memcpy(out, sep, 65);
	return 0;
}

/* The image the spec gives container NAME, searched in every spec list. */
static int spec_image(json_t *spec, const char *name, const char **ret)
{
	static const char *const lists[] = { "containers", "initContainers", "ephemeralContainers" };

	*ret = NULL;
	if (!spec)
		return 0;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_t *arr, *c;
		size_t i;

		if (opt_member(spec, lists[l], JSON_ARRAY, &arr) < 0)
			return -EINVAL;
		json_array_foreach(arr, i, c) {
			const char *cname, *image;

			if (!json_is_object(c) || opt_str(c, "name", &cname) < 0 || opt_str(c, "image", &image) < 0)
				return -EINVAL;
			if (cname && strcmp(cname, name) == 0) {
				*ret = image;
				return 0;
			}
		}
	}
	return 0;
}

static int parse_containers(json_t *spec, json_t *status, struct kube_pod *p)
{
	static const char *const lists[] = { "containerStatuses", "initContainerStatuses",
					     "ephemeralContainerStatuses" };

	if (!status)
		return 0;
	for (size_t l = 0; l < ARRAY_SIZE(lists); l++) {
		json_t *arr, *cs;
		size_t i;

		if (opt_member(status, lists[l], JSON_ARRAY, &arr) < 0)
			return -EINVAL;
		json_array_foreach(arr, i, cs) {
			const char *id, *image, *simage;

			if (!json_is_object(cs) || p->n_containers >= KUBE_MAX_CONTAINERS)
				return -EINVAL;
			if (req_str(cs, "name", p->containers[p->n_containers].name,
				    sizeof(p->containers[0].name)) < 0 ||
			    opt_str(cs, "containerID", &id) < 0 || opt_str(cs, "image", &image) < 0 ||
			    parse_container_id(id, p->containers[p->n_containers].id) < 0 ||
			    spec_image(spec, p->containers[p->n_containers].name, &simage) < 0)
				return -EINVAL;
			/* The status has what the runtime resolved; the spec what was asked. */
			if (!image || !*image)
				image = simage ? simage : "";
			if (copy_str(p->containers[p->n_containers].image, sizeof(p->containers[0].image), image) < 0)
				return -EINVAL;
			p->n_containers++;
		}
	}
	return 0;
}

static int parse_owner(json_t *meta, json_t *spec, struct kube_pod *p)
{
	json_t *labels, *annotations, *refs, *ref, *controller = NULL, *node_ref = NULL;
	const char *hash = NULL, *kind, *name;
	bool mirror = false;
	size_t i;

	if (opt_member(meta, "labels", JSON_OBJECT, &labels) < 0 ||
	    opt_member(meta, "annotations", JSON_OBJECT, &annotations) < 0 ||
	    opt_member(meta, "ownerReferences", JSON_ARRAY, &refs) < 0)
		return -EINVAL;
	if (labels && opt_str(labels, "pod-template-hash", &hash) < 0)
		return -EINVAL;
	if (annotations) {
		const char *m;

		if (opt_str(annotations, "kubernetes.io/config.mirror", &m) < 0)
			return -EINVAL;
		mirror = m != NULL;
	}
	json_array_foreach(refs, i, ref) {
		bool ctl;

		if (!json_is_object(ref) || opt_str(ref, "kind", &kind) < 0 || !kind || !*kind ||
		    opt_str(ref, "name", &name) < 0 || !name || opt_bool(ref, "controller", &ctl) < 0)
			return -EINVAL;
		if (ctl) {
			if (controller) /* the API server allows one controller */
				return -EINVAL;
			controller = ref;
		}
		if (strcmp(kind, "Node") == 0 && !node_ref)
			node_ref = ref;
	}

	if (mirror || node_ref) {
		/* A static pod: only the kubelet stops it, not an API delete. */
		if (node_ref)
			name = json_string_value(json_object_get(node_ref, "name"));
		else if (!spec || opt_str(spec, "nodeName", &name) < 0 || !name)
			name = "";
		if (copy_str(p->owner_kind, sizeof(p->owner_kind), "Node") < 0 ||
		    copy_str(p->owner_name, sizeof(p->owner_name), name) < 0)
			return -EINVAL;
		return 0;
	}
	if (!controller) {
		/* A bare pod is its own owner. */
		if (copy_str(p->owner_kind, sizeof(p->owner_kind), "Pod") < 0 ||
		    copy_str(p->owner_name, sizeof(p->owner_name), p->name) < 0)
			return -EINVAL;
		return 0;
	}

	kind = json_string_value(json_object_get(controller, "kind"));
	name = json_string_value(json_object_get(controller, "name"));
	if (strcmp(kind, "ReplicaSet") == 0 && hash && *hash) {
		/* The Deployment controller names its ReplicaSets <deployment>-<hash>. */
		size_t nl = strlen(name), hl = strlen(hash);

		if (copy_str(p->owner_kind, sizeof(p->owner_kind), "Deployment") < 0 ||
		    copy_str(p->owner_name, sizeof(p->owner_name), name) < 0)
			return -EINVAL;
		if (nl > hl + 1 && name[nl - hl - 1] == '-' && strcmp(name + nl - hl, hash) == 0)
			p->owner_name[nl - hl - 1] = '\0';
		return 0;
	}
	if (copy_str(p->owner_kind, sizeof(p->owner_kind), kind) < 0 ||
	    copy_str(p->owner_name, sizeof(p->owner_name), name) < 0)
		return -EINVAL;
	return 0;
}

static int pod_from_object(json_t *obj, struct kube_pod *ret)
{
	struct kube_pod p;
	json_t *meta, *spec, *status;
	const char *kind;

	memset(&p, 0, sizeof(p));
	if (!json_is_object(obj) || opt_str(obj, "kind", &kind) < 0 || (kind && strcmp(kind, "Pod") != 0))
		return -EINVAL;
	if (opt_member(obj, "metadata", JSON_OBJECT, &meta) < 0 || !meta ||
	    opt_member(obj, "spec", JSON_OBJECT, &spec) < 0 || opt_member(obj, "status", JSON_OBJECT, &status) < 0)
		return -EINVAL;
	if (req_str(meta, "name", p.name, sizeof(p.name)) < 0 ||
	    req_str(meta, "namespace", p.namespace_, sizeof(p.namespace_)) < 0 ||
	    req_str(meta, "uid", p.uid, sizeof(p.uid)) < 0)
		return -EINVAL;
	if (parse_owner(meta, spec, &p) < 0 || parse_containers(spec, status, &p) < 0)
		return -EINVAL;
	*ret = p;
	return 0;
}

int kube_pod_from_json(const char *json, size_t len, struct kube_pod *ret)
{
	json_t *root;
	int r;

	if (!json || !ret)
		return -EINVAL;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return -EINVAL;
	r = pod_from_object(root, ret);
	json_decref(root);
	return r;
}

static int watch_event_from_object(json_t *root, struct kube_watch_event *ret)
{
	static const char *const names[] = {
		[KUBE_WATCH_ADDED] = "ADDED",	    [KUBE_WATCH_MODIFIED] = "MODIFIED", [KUBE_WATCH_DELETED] = "DELETED",
		[KUBE_WATCH_BOOKMARK] = "BOOKMARK", [KUBE_WATCH_ERROR] = "ERROR",
	};
	json_t *obj, *meta, *code;
	const char *type, *rv = NULL;
	struct kube_watch_event *ev;
	size_t t;
	int r = -EINVAL;

	if (!json_is_object(root) || opt_str(root, "type", &type) < 0 || !type)
		return -EINVAL;
	for (t = 0; t < ARRAY_SIZE(names); t++)
		if (strcmp(type, names[t]) == 0)
			break;
	if (t == ARRAY_SIZE(names))
		return -EINVAL;
	ret->type = (enum kube_watch_type)t;
	if (opt_member(root, "object", JSON_OBJECT, &obj) < 0 || !obj || opt_member(obj, "metadata", JSON_OBJECT, &meta) < 0 ||
	    (meta && opt_str(meta, "resourceVersion", &rv) < 0))
		return -EINVAL;

	/* Built aside: on failure the caller's event keeps everything but type. */
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	ev->type = ret->type;
	if (rv && copy_str(ev->resource_version, sizeof(ev->resource_version), rv) < 0)
		goto out;
	switch (ev->type) {
	case KUBE_WATCH_ERROR:
		if (opt_member(obj, "code", JSON_INTEGER, &code) < 0 || !code || json_integer_value(code) < 0 ||
		    json_integer_value(code) > 999)
			goto out;
		ev->error_code = (int)json_integer_value(code);
		break;
	case KUBE_WATCH_BOOKMARK:
		if (!ev->resource_version[0])
			goto out;
		break;
	default:
		if (pod_from_object(obj, &ev->pod) < 0)
			goto out;
		break;
	}
	*ret = *ev;
	r = 0;
out:
	free(ev);
	return r;
}

int kube_watch_event_parse(const char *line, size_t len, struct kube_watch_event *ret)
{
	json_t *root;
	int r;

	if (!line || !ret)
		return -EINVAL;
	root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return -EINVAL;
	r = watch_event_from_object(root, ret);
	json_decref(root);
	return r < 0 ? -EINVAL : 0;
}

int kube_pod_list_parse(const char *json, size_t len, char *rv, size_t rv_size, kube_pod_fn fn, void *ctx,
			size_t *ret_skipped)
{
	json_t *root, *items, *item, *meta;
	const char *list_rv = NULL, *kind;
	struct kube_pod *pod = NULL;
	size_t i;
	int r;

	*ret_skipped = 0;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(root) || opt_str(root, "kind", &kind) < 0 || (kind && strcmp(kind, "PodList") != 0) ||
	    opt_member(root, "metadata", JSON_OBJECT, &meta) < 0 || !meta ||
	    opt_str(meta, "resourceVersion", &list_rv) < 0 || !list_rv || !*list_rv || strlen(list_rv) >= rv_size ||
	    opt_member(root, "items", JSON_ARRAY, &items) < 0) {
		r = -EPROTO;
		goto out;
	}
	pod = malloc(sizeof(*pod));
	if (!pod) {
		r = -ENOMEM;
		goto out;
	}
	json_array_foreach(items, i, item) {
		if (pod_from_object(item, pod) < 0) {
			(*ret_skipped)++;
			continue;
		}
		r = fn(ctx, pod);
		if (r < 0)
			goto out;
	}
	memcpy(rv, list_rv, strlen(list_rv) + 1);
	r = 0;
out:
	free(pod);
	json_decref(root);
	return r;
}
