// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * pod_json.c and pod_watch.c: the pure Pod, PodList and watch-event parsers on the recorded fixtures, every
 * owner rule and hostile input; then the live list+watch client against
 * tests/integration/kube_api.py (a fake API server speaking the real wire
 * format): lookups, add/modify/delete while the watch is open, bookmarks,
 * 410 relist, token rotation, an oversized line, and a prompt stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>

#include "pod_watch.h"

#define FIXTURES "../shared/fixtures/k8s/"
#define NODE "hop-node-1"
#define ID "9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
#define ID2 "4b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
#define ID3 "1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"
#define AMB_A "abcdefabcdef0000000000000000000000000000000000000000000000000000"
#define AMB_B "abcdefabcdef1111111111111111111111111111111111111111111111111111"
#define UID "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c"

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
		if (buf) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static json_t *load_fixture(const char *name)
{
	json_t *j = json_load_file(name, 0, NULL);

	assert_non_null(j);
	return j;
}

static json_t *pod_fixture(void)
{
	return load_fixture(FIXTURES "pod.json");
}

/* Member at a dotted path ("metadata.ownerReferences.0"). */
static json_t *at(json_t *root, const char *path)
{
	char buf[256], *save = NULL, *tok;
	json_t *cur = root;

	snprintf(buf, sizeof(buf), "%s", path);
	for (tok = strtok_r(buf, ".", &save); tok && cur; tok = strtok_r(NULL, ".", &save))
		cur = json_is_array(cur) ? json_array_get(cur, (size_t)atoi(tok)) : json_object_get(cur, tok);
	assert_non_null(cur);
	return cur;
}

/* Parses ROOT (consumed) as a Pod. */
static int parse_obj(json_t *root, struct kube_pod *p)
{
	char *s = json_dumps(root, JSON_COMPACT);
	int r;

	assert_non_null(s);
	r = kube_pod_from_json(s, strlen(s), p);
	free(s);
	json_decref(root);
	return r;
}

static int parse_str(const char *s, struct kube_pod *p)
{
	return kube_pod_from_json(s, strlen(s), p);
}

static json_t *owner_ref(const char *kind, const char *name, bool controller)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b}", "apiVersion", "apps/v1", "kind", kind, "name", name, "uid",
			 "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "controller", controller);
}

static void set_owner(json_t *root, json_t *ref)
{
	json_object_set_new(at(root, "metadata"), "ownerReferences", json_pack("[o]", ref));
}

/* ------------------------------------------------------------ parser */

static void test_fixture_pod(void **state)
{
	struct kube_pod p;
	size_t len;
	char *text = read_all(FIXTURES "pod.json", &len);

	(void)state;
	assert_non_null(text);
	assert_int_equal(kube_pod_from_json(text, len, &p), 0);
	free(text);
	assert_string_equal(p.namespace_, "production");
	assert_string_equal(p.name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(p.uid, UID);
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "payments-api");
	assert_int_equal(p.n_containers, 1);
	assert_string_equal(p.containers[0].id, ID);
	assert_string_equal(p.containers[0].name, "api");
	/* The status has no image: the spec's. */
	assert_string_equal(p.containers[0].image, "registry.golem.example/payments-api:1.14.2");
}

static void test_owner_kinds(void **state)
{
	static const struct {
		const char *kind, *name;
	} cases[] = {
		{ "DaemonSet", "fluentd" },
		{ "StatefulSet", "postgres" },
		{ "Job", "backup-28391460" },
		{ "CustomThing", "x" },
	};
	struct kube_pod p;
	json_t *root;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		root = pod_fixture();
		set_owner(root, owner_ref(cases[i].kind, cases[i].name, true));
		assert_int_equal(parse_obj(root, &p), 0);
		assert_string_equal(p.owner_kind, cases[i].kind);
		assert_string_equal(p.owner_name, cases[i].name);
	}

	/* Bare pod: no ownerReferences, or none that is the controller. */
	root = pod_fixture();
	json_object_del(at(root, "metadata"), "ownerReferences");
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Pod");
	assert_string_equal(p.owner_name, "payments-api-7d9f4b-xkp2m");
	root = pod_fixture();
	set_owner(root, owner_ref("ReplicaSet", "payments-api-7d9f4b", false));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Pod");
	root = pod_fixture();
	json_object_set_new(at(root, "metadata"), "ownerReferences", json_array());
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Pod");

	/* ReplicaSet without pod-template-hash: not a Deployment's. */
	root = pod_fixture();
	json_object_del(at(root, "metadata.labels"), "pod-template-hash");
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "ReplicaSet");
	assert_string_equal(p.owner_name, "payments-api-7d9f4b");

	/* A hash that is not the name's suffix: Deployment, name not guessed. */
	root = pod_fixture();
	json_object_set_new(at(root, "metadata.labels"), "pod-template-hash", json_string("abc123"));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "payments-api-7d9f4b");

	/* Mirror pods: the annotation, or an owner of kind Node. */
	root = pod_fixture();
	json_object_del(at(root, "metadata"), "ownerReferences");
	json_object_set_new(at(root, "metadata"), "annotations",
			    json_pack("{s:s}", "kubernetes.io/config.mirror", "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Node");
	assert_string_equal(p.owner_name, NODE);
	root = pod_fixture();
	set_owner(root, json_pack("{s:s,s:s,s:s,s:s,s:b}", "apiVersion", "v1", "kind", "Node", "name", "cp-1", "uid",
				  "11111111-2222-3333-4444-555555555555", "controller", 1));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Node");
	assert_string_equal(p.owner_name, "cp-1");
	/* The annotation wins over a ReplicaSet controller. */
	root = pod_fixture();
	json_object_set_new(at(root, "metadata"), "annotations",
			    json_pack("{s:s}", "kubernetes.io/config.mirror", "x"));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_string_equal(p.owner_kind, "Node");
}

static json_t *status_entry(const char *name, const char *cid, const char *image)
{
	json_t *o = json_pack("{s:s,s:b}", "name", name, "ready", 1);

	if (cid)
		json_object_set_new(o, "containerID", json_string(cid));
	if (image)
		json_object_set_new(o, "image", json_string(image));
	return o;
}

static void test_containers(void **state)
{
	struct kube_pod p;
	json_t *root, *st, *spec;

	(void)state;
	root = pod_fixture();
	st = at(root, "status");
	spec = at(root, "spec");
	json_object_set_new(spec, "initContainers", json_pack("[{s:s,s:s}]", "name", "init", "image", "busybox:1.36"));
	json_object_set_new(spec, "ephemeralContainers", json_pack("[{s:s,s:s}]", "name", "debug", "image", "alpine"));
	json_array_append_new(at(root, "spec.containers"), json_pack("{s:s,s:s}", "name", "side", "image", "envoy:1"));
	json_array_append_new(at(st, "containerStatuses"),
			      status_entry("side", "cri-o://" ID2, "docker.io/envoyproxy/envoy:1"));
	json_object_set_new(st, "initContainerStatuses", json_pack("[o]", status_entry("init", "docker://" ID3, NULL)));
	/* Not started yet: no containerID. */
	json_object_set_new(st, "ephemeralContainerStatuses", json_pack("[o]", status_entry("debug", NULL, NULL)));
	assert_int_equal(parse_obj(root, &p), 0);
	assert_int_equal(p.n_containers, 4);
	assert_string_equal(p.containers[0].id, ID);
	assert_string_equal(p.containers[1].id, ID2);
	assert_string_equal(p.containers[1].name, "side");
	assert_string_equal(p.containers[1].image, "docker.io/envoyproxy/envoy:1"); /* status beats spec */
	assert_string_equal(p.containers[2].id, ID3);
	assert_string_equal(p.containers[2].image, "busybox:1.36");
	assert_string_equal(p.containers[3].id, "");
	assert_string_equal(p.containers[3].name, "debug");
	assert_string_equal(p.containers[3].image, "alpine");

	/* No status at all: known pod, no containers. */
	root = pod_fixture();
	json_object_del(root, "status");
	assert_int_equal(parse_obj(root, &p), 0);
	assert_int_equal(p.n_containers, 0);

	/* KUBE_MAX_CONTAINERS fit; one more does not (never truncated). */
	for (int extra = 0; extra <= 1; extra++) {
		root = pod_fixture();
		st = json_array();
		for (int i = 0; i < KUBE_MAX_CONTAINERS + extra; i++) {
			char name[16];

			snprintf(name, sizeof(name), "c%d", i);
			json_array_append_new(st, status_entry(name, "containerd://" ID, "img"));
		}
		json_object_set_new(at(root, "status"), "containerStatuses", st);
		assert_int_equal(parse_obj(root, &p), extra ? -EINVAL : 0);
	}
}

static void test_hostile_pods(void **state)
{
	static const char *const texts[] = {
		"",
		"{",
		"null",
		"[]",
		"\"pod\"",
		"{}",
		"{\"metadata\":{}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\"}}",            /* no uid */
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"\"}}", /* empty uid */
		"{\"metadata\":{\"name\":\"a\",\"uid\":\"u\"}}",                  /* no namespace */
		"{\"metadata\":{\"namespace\":\"a\",\"uid\":\"u\"}}",             /* no name */
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"u\",\"name\":\"c\"}}", /* duplicate key */
		"{\"metadata\":{\"name\":\"a\\u0000b\",\"namespace\":\"b\",\"uid\":\"u\"}}",
		"{\"kind\":\"Service\",\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"u\"}}",
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"u\"}} trailing",
	};
	struct kube_pod p, sentinel;
	char *deep;
	json_t *root;

	(void)state;
	memset(&sentinel, 0xa5, sizeof(sentinel));
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		memcpy(&p, &sentinel, sizeof(p));
		assert_int_equal(parse_str(texts[i], &p), -EINVAL);
		assert_memory_equal(&p, &sentinel, sizeof(p)); /* untouched on failure */
	}
	assert_int_equal(kube_pod_from_json(NULL, 0, &p), -EINVAL);
	assert_int_equal(parse_str("{\"metadata\":{\"name\":\"a\",\"namespace\":\"b\",\"uid\":\"u\"}}", &p), 0);
	assert_string_equal(p.owner_kind, "Pod");

	/* Nesting far past any real object: refused, no stack overflow. */
	deep = malloc(200001);
	assert_non_null(deep);
	memset(deep, '[', 200000);
	deep[200000] = '\0';
	assert_int_equal(parse_str(deep, &p), -EINVAL);
	free(deep);

	/* Wrong types wherever the parser looks. */
	static const struct {
		const char *path, *key, *json;
	} wrong[] = {
		{ "", "metadata", "\"x\"" },
		{ "metadata", "name", "5" },
		{ "metadata", "namespace", "[]" },
		{ "metadata", "uid", "true" },
		{ "metadata", "labels", "[\"a\"]" },
		{ "metadata.labels", "pod-template-hash", "7" },
		{ "metadata", "annotations", "\"x\"" },
		{ "metadata", "ownerReferences", "\"ReplicaSet\"" },
		{ "metadata", "ownerReferences", "[5]" },
		{ "metadata.ownerReferences.0", "controller", "\"yes\"" },
		{ "metadata.ownerReferences.0", "kind", "1" },
		{ "metadata.ownerReferences.0", "kind", "\"\"" },
		{ "metadata.ownerReferences.0", "name", "null" },
		{ "", "spec", "[]" },
		{ "spec", "containers", "{}" },
		{ "spec.containers.0", "image", "3" },
		{ "", "status", "1" },
		{ "status", "containerStatuses", "{\"name\":\"api\"}" },
		{ "status", "containerStatuses", "[\"api\"]" },
		{ "status.containerStatuses.0", "name", "7" },
		{ "status.containerStatuses.0", "containerID", "7" },
		{ "status.containerStatuses.0", "image", "{}" },
		{ "status", "initContainerStatuses", "\"x\"" },
	};
	for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
		json_t *v = json_loads(wrong[i].json, JSON_DECODE_ANY, NULL);

		root = pod_fixture();
		assert_non_null(v);
		json_object_set_new(wrong[i].path[0] ? at(root, wrong[i].path) : root, wrong[i].key, v);
		memcpy(&p, &sentinel, sizeof(p));
		if (parse_obj(root, &p) != -EINVAL)
			fail_msg("wrong type accepted: %s.%s = %s", wrong[i].path, wrong[i].key, wrong[i].json);
		assert_memory_equal(&p, &sentinel, sizeof(p));
	}

	/* Two controllers: the API server never allows it. */
	root = pod_fixture();
	json_array_append_new(at(root, "metadata.ownerReferences"), owner_ref("StatefulSet", "s", true));
	assert_int_equal(parse_obj(root, &p), -EINVAL);
}

static void test_bounds(void **state)
{
	static const struct {
		const char *path, *key;
		size_t fits; /* longest value that fits */
	} fields[] = {
		{ "metadata", "name", 253 },
		{ "metadata", "namespace", 63 },
		{ "metadata", "uid", 36 },
		{ "metadata.ownerReferences.0", "kind", 63 },
		{ "metadata.ownerReferences.0", "name", 253 },
		{ "status.containerStatuses.0", "name", 63 },
		{ "status.containerStatuses.0", "image", 511 },
	};
	struct kube_pod p;
	char *s = malloc(1024);

	(void)state;
	assert_non_null(s);
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		for (size_t len = fields[i].fits; len <= fields[i].fits + 1; len++) {
			json_t *root = pod_fixture();

			memset(s, 'a', len);
			s[len] = '\0';
			json_object_set_new(at(root, fields[i].path), fields[i].key, json_string(s));
			if (strcmp(fields[i].key, "kind") == 0) /* keep it the controller's kind, not a Deployment */
				json_object_del(at(root, "metadata.labels"), "pod-template-hash");
			if (parse_obj(root, &p) != (len == fields[i].fits ? 0 : -EINVAL))
				fail_msg("%s.%s of %zu bytes", fields[i].path, fields[i].key, len);
		}
	}
	free(s);
}

static void test_container_ids(void **state)
{
	static const struct {
		const char *cid;
		int want;
		const char *id;
	} cases[] = {
		{ "containerd://" ID, 0, ID },
		{ "cri-o://" ID, 0, ID },
		{ "docker://" ID, 0, ID },
		{ "", 0, "" },
		{ ID, -EINVAL, NULL },                             /* no runtime */
		{ "://" ID, -EINVAL, NULL },                       /* empty runtime */
		{ "containerd:/" ID, -EINVAL, NULL },
		{ "containerd://" ID "0", -EINVAL, NULL },         /* 65 */
		{ "containerd://9a7f3c2e1d0b5f4e", -EINVAL, NULL }, /* short */
		{ "containerd://9A7F3C2E1D0B5F4E8C7A6B5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F", -EINVAL, NULL },
		{ "containerd://9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5g", -EINVAL, NULL },
		{ "containerd://../../../../etc/passwd", -EINVAL, NULL },
		{ "Containerd://" ID, -EINVAL, NULL },
		{ "con tainerd://" ID, -EINVAL, NULL },
	};
	struct kube_pod p;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *root = pod_fixture();

		json_object_set_new(at(root, "status.containerStatuses.0"), "containerID", json_string(cases[i].cid));
		if (parse_obj(root, &p) != cases[i].want)
			fail_msg("containerID \"%s\"", cases[i].cid);
		if (cases[i].id)
			assert_string_equal(p.containers[0].id, cases[i].id);
	}
}

/* ------------------------------------------------------- watch events */

static char *event_text(const char *type, json_t *object)
{
	json_t *ev = json_pack("{s:s,s:o}", "type", type, "object", object);
	char *s = json_dumps(ev, JSON_COMPACT);

	json_decref(ev);
	assert_non_null(s);
	return s;
}

static int parse_event(char *text, struct kube_watch_event *ev)
{
	int r = kube_watch_event_parse(text, strlen(text), ev);

	free(text);
	return r;
}

static void test_watch_events(void **state)
{
	static const struct {
		const char *name;
		enum kube_watch_type type;
	} pod_types[] = {
		{ "ADDED", KUBE_WATCH_ADDED },
		{ "MODIFIED", KUBE_WATCH_MODIFIED },
		{ "DELETED", KUBE_WATCH_DELETED },
	};
	struct kube_watch_event *ev = malloc(sizeof(*ev)), *sentinel = malloc(sizeof(*ev));
	size_t len;
	char *text;

	(void)state;
	assert_non_null(ev);
	assert_non_null(sentinel);
	for (size_t i = 0; i < sizeof(pod_types) / sizeof(pod_types[0]); i++) {
		memset(ev, 0, sizeof(*ev));
		assert_int_equal(parse_event(event_text(pod_types[i].name, pod_fixture()), ev), 0);
		assert_int_equal(ev->type, pod_types[i].type);
		assert_string_equal(ev->resource_version, "918273");
		assert_string_equal(ev->pod.uid, UID);
		assert_string_equal(ev->pod.owner_kind, "Deployment");
		assert_string_equal(ev->pod.containers[0].id, ID);
	}

	/* BOOKMARK as the API server sends it: an empty Pod but for the version. */
	text = strdup("{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Pod\",\"apiVersion\":\"v1\",\"metadata\":"
		      "{\"resourceVersion\":\"12746\",\"creationTimestamp\":null,\"annotations\":"
		      "{\"k8s.io/initial-events-end\":\"true\"}},\"spec\":{\"containers\":null},\"status\":{}}}");
	assert_int_equal(parse_event(text, ev), 0);
	assert_int_equal(ev->type, KUBE_WATCH_BOOKMARK);
	assert_string_equal(ev->resource_version, "12746");
	/* A bookmark is worth nothing without its version. */
	assert_int_equal(parse_event(strdup("{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{}}}"), ev), -EINVAL);
	assert_int_equal(ev->type, KUBE_WATCH_BOOKMARK);

	/* The recorded 410. */
	text = read_all(FIXTURES "watch-event-410.json", &len);
	assert_non_null(text);
	memset(ev, 0, sizeof(*ev));
	assert_int_equal(kube_watch_event_parse(text, len, ev), 0);
	free(text);
	assert_int_equal(ev->type, KUBE_WATCH_ERROR);
	assert_int_equal(ev->error_code, 410);
	assert_string_equal(ev->resource_version, "");
	text = read_all(FIXTURES "status-404-not-found.json", &len);
	assert_non_null(text);
	/* A bare Status is not an event. */
	assert_int_equal(kube_watch_event_parse(text, len, ev), -EINVAL);
	free(text);
	assert_int_equal(parse_event(strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":\"410\"}}"), ev),
			 -EINVAL);
	assert_int_equal(parse_event(strdup("{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\"}}"), ev), -EINVAL);

	/* Hostile lines: nothing but the type is written. */
	static const char *const bad[] = {
		"", "{", "[]", "{\"type\":\"ADDED\"}", "{\"type\":\"ADDED\",\"object\":5}", "{\"type\":\"FOO\",\"object\":{}}",
		"{\"type\":5,\"object\":{}}", "{\"object\":{}}", "{\"type\":\"ADDED\",\"object\":{\"metadata\":{}}}",
		"{\"type\":\"ADDED\",\"type\":\"DELETED\",\"object\":{}}",
	};
	memset(sentinel, 0x5a, sizeof(*sentinel));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memcpy(ev, sentinel, sizeof(*ev));
		assert_int_equal(kube_watch_event_parse(bad[i], strlen(bad[i]), ev), -EINVAL);
		ev->type = sentinel->type;
		assert_memory_equal(ev, sentinel, sizeof(*ev));
	}
	/* A pod event whose pod is refused: type set, the rest untouched. */
	{
		json_t *root = pod_fixture();

		json_object_set_new(at(root, "status.containerStatuses.0"), "containerID", json_string("docker://x"));
		memcpy(ev, sentinel, sizeof(*ev));
		assert_int_equal(parse_event(event_text("MODIFIED", root), ev), -EINVAL);
		assert_int_equal(ev->type, KUBE_WATCH_MODIFIED);
		assert_memory_equal(ev->resource_version, sentinel->resource_version, sizeof(ev->resource_version));
		assert_memory_equal(&ev->pod, &sentinel->pod, sizeof(ev->pod));
	}
	/* A resourceVersion that does not fit. */
	{
		json_t *root = pod_fixture();
		char rv[80];

		memset(rv, '7', 64);
		rv[64] = '\0';
		json_object_set_new(at(root, "metadata"), "resourceVersion", json_string(rv));
		assert_int_equal(parse_event(event_text("ADDED", root), ev), -EINVAL);
	}
	assert_int_equal(kube_watch_event_parse(NULL, 0, ev), -EINVAL);
	free(ev);
	free(sentinel);
}

static int count_pod(void *ctx, const struct kube_pod *pod)
{
	size_t *n = ctx;

	assert_string_equal(pod->name, "payments-api-7d9f4b-xkp2m");
	(*n)++;
	return 0;
}

static int refuse_pod(void *ctx, const struct kube_pod *pod)
{
	(void)ctx;
	(void)pod;
	return -ENOMEM;
}

/* Parses ROOT (consumed) as a PodList. */
static int parse_list(json_t *root, char *rv, size_t rv_size, kube_pod_fn fn, size_t *n, size_t *skipped)
{
	char *s = json_dumps(root, JSON_COMPACT);
	int r;

	assert_non_null(s);
	r = kube_pod_list_parse(s, strlen(s), rv, rv_size, fn, n, skipped);
	free(s);
	json_decref(root);
	return r;
}

static json_t *pod_list(const char *kind, const char *rv)
{
	json_t *list = json_pack("{s:s,s:{},s:[o,o,{s:s}]}", "kind", kind, "metadata", "items", pod_fixture(),
				 pod_fixture(), "kind", "Pod");

	assert_non_null(list);
	if (rv)
		json_object_set_new(at(list, "metadata"), "resourceVersion", json_string(rv));
	return list;
}

static void test_pod_list(void **state)
{
	size_t n = 0, skipped = 0;
	char rv[64] = "";

	(void)state;
	assert_int_equal(parse_list(pod_list("PodList", "4711"), rv, sizeof(rv), count_pod, &n, &skipped), 0);
	assert_int_equal(n, 2);
	assert_int_equal(skipped, 1); /* the item with no metadata */
	assert_string_equal(rv, "4711");

	/* Not a PodList, no resourceVersion, one that does not fit: nothing handed out. */
	n = 0;
	rv[0] = '\0';
	assert_int_equal(parse_list(pod_list("Pod", "4711"), rv, sizeof(rv), count_pod, &n, &skipped), -EPROTO);
	assert_int_equal(parse_list(pod_list("PodList", NULL), rv, sizeof(rv), count_pod, &n, &skipped), -EPROTO);
	assert_int_equal(parse_list(pod_list("PodList", "4711"), rv, 4, count_pod, &n, &skipped), -EPROTO);
	assert_int_equal(kube_pod_list_parse("[", 1, rv, sizeof(rv), count_pod, &n, &skipped), -EPROTO);
	assert_int_equal(n, 0);
	/* The callback's error stops the list; the resourceVersion is not taken. */
	assert_int_equal(parse_list(pod_list("PodList", "4711"), rv, sizeof(rv), refuse_pod, &n, &skipped), -ENOMEM);
	assert_string_equal(rv, "");
}

static void test_start_errors(void **state)
{
	struct kube_config no_node = { .api_url = "http://127.0.0.1:1" };
	struct kube_config empty_node = { .api_url = "http://127.0.0.1:1", .node_name = "" };
	struct kube_config bad_url = { .api_url = "ftp://x", .node_name = NODE };
	struct kube_config env = { .node_name = NODE };
	struct kube_pods *k = NULL;

	(void)state;
	assert_int_equal(kube_pods_start(NULL, &k), -EINVAL);
	assert_int_equal(kube_pods_start(&no_node, &k), -EINVAL);
	assert_int_equal(kube_pods_start(&empty_node, &k), -EINVAL);
	assert_int_equal(kube_pods_start(&bad_url, &k), -EINVAL);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	assert_int_equal(kube_pods_start(&env, &k), -EINVAL);
	assert_null(k); /* never set on failure */
	assert_null(kube_pods_stop(NULL));
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define WAIT_UNTIL(k, st, cond, secs)                                                          \
	do {                                                                                   \
		double deadline_ = now_s() + (secs);                                           \
		for (;;) {                                                                     \
			kube_pods_status((k), &(st));                                          \
			if (cond)                                                              \
				break;                                                         \
			if (now_s() > deadline_)                                               \
				fail_msg("timed out waiting for %s (last_error \"%s\")", #cond, \
					 (st).last_error);                                     \
			usleep(10000);                                                         \
		}                                                                              \
	} while (0)

/* The URL from the service env (IPv6 in brackets): nothing listens, so errors and backoff; stop interrupts it. */
static void test_env_url_and_backoff_stop(void **state)
{
	struct kube_config cfg = { .node_name = NODE, .timeout_s = 2 };
	struct kube_status st;
	struct kube_pods *k;
	double t0;

	(void)state;
	setenv("KUBERNETES_SERVICE_HOST", "::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "1", 1);
	assert_int_equal(kube_pods_start(&cfg, &k), 0);
	assert_non_null(k);
	unsetenv("KUBERNETES_SERVICE_HOST");
	unsetenv("KUBERNETES_SERVICE_PORT");
	WAIT_UNTIL(k, st, st.errors >= 1, 10);
	assert_false(st.synced);
	assert_int_equal(st.lists, 0);
	assert_non_null(strstr(st.last_error, "list: "));
	usleep(100000); /* now in the 1 s backoff */
	t0 = now_s();
	kube_pods_stop(k);
	assert_true(now_s() - t0 < 0.5);
}

/* -------------------------------------------------------- live client */

struct live {
	char dir[64], log[96], token[96], pods[96];
	pid_t server;
	int port;
	char list_rv[32];
	struct kube_pods *k;
};

static struct live live;

static void write_file(const char *path, const char *text)
{
	char tmp[128];
	FILE *f;

	/* Replaced atomically, the way the kubelet swaps a projected token. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(rename(tmp, path), 0);
}

static size_t collect(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	char *buf = userdata;
	size_t have = strlen(buf), n = size * nmemb;

	if (have + n < 4096) {
		memcpy(buf + have, ptr, n);
		buf[have + n] = '\0';
	}
	return n;
}

/* One control request to the fake server; the HTTP status. */
static long control(const char *method, const char *path, const char *body, char *out /* 4096 or NULL */)
{
	char url[256], sink[4096] = "";
	CURL *h = curl_easy_init();
	long code = 0;

	assert_non_null(h);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", live.port, path);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 10L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, out ? out : sink);
	if (out)
		out[0] = '\0';
	if (body)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	assert_int_equal(curl_easy_perform(h), CURLE_OK);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	return code;
}

static int server_watches(char *rv, size_t rvlen)
{
	char out[4096];
	json_t *doc;
	int n;

	assert_int_equal(control("GET", "/_control/state", NULL, out), 200);
	doc = json_loads(out, 0, NULL);
	assert_non_null(doc);
	n = (int)json_integer_value(json_object_get(doc, "watches"));
	if (rv)
		snprintf(rv, rvlen, "%s", json_string_value(json_object_get(doc, "resourceVersion")));
	json_decref(doc);
	return n;
}

static void wait_watches(int n)
{
	double deadline = now_s() + 10;

	while (server_watches(NULL, 0) != n) {
		if (now_s() > deadline)
			fail_msg("server never had %d watches open", n);
		usleep(20000);
	}
}

static char *pod_json(const char *ns, const char *name, const char *uid, const char *node, const char *owner_kind,
		      const char *cid1, const char *cid2, const char *label)
{
	json_t *statuses = json_array(), *pod;
	char *s;

	json_array_append_new(statuses, status_entry("main", cid1, "app:1"));
	if (cid2)
		json_array_append_new(statuses, status_entry("side", cid2, "side:1"));
	pod = json_pack("{s:{s:s,s:s,s:s,s:{s:s},s:[{s:s,s:s,s:s,s:s,s:b}]},s:{s:s,s:[{s:s,s:s}]},s:{s:o}}",
			"metadata", "name", name, "namespace", ns, "uid", uid, "labels", "tier", label,
			"ownerReferences", "apiVersion", "apps/v1", "kind", owner_kind, "name", "owner", "uid",
			"99999999-8888-7777-6666-555555555555", "controller", 1, "spec", "nodeName", node,
			"containers", "name", "main", "image", "app:1", "status", "containerStatuses", statuses);
	assert_non_null(pod);
	s = json_dumps(pod, JSON_COMPACT);
	json_decref(pod);
	assert_non_null(s);
	return s;
}

static int live_setup(void **state)
{
	char *other, *amb, port[32] = "";
	int pfd[2];
	FILE *f;
	size_t len;
	char *fixture = read_all(FIXTURES "pod.json", &len);

	(void)state;
	if (!fixture)
		return -1;
	snprintf(live.dir, sizeof(live.dir), "/tmp/reflex-kube-XXXXXX");
	if (!mkdtemp(live.dir))
		return -1;
	snprintf(live.log, sizeof(live.log), "%s/requests.log", live.dir);
	snprintf(live.token, sizeof(live.token), "%s/token", live.dir);
	snprintf(live.pods, sizeof(live.pods), "%s/pods.json", live.dir);
	write_file(live.token, "token-one\n");
	other = pod_json("other", "elsewhere", "aaaaaaaa-0000-0000-0000-000000000001", "node-2", "DaemonSet",
			 "containerd://" ID2, NULL, "a");
	amb = pod_json("batch", "twins", "aaaaaaaa-0000-0000-0000-000000000002", NODE, "Job", "containerd://" AMB_A,
		       "containerd://" AMB_B, "a");
	f = fopen(live.pods, "w");
	if (!f)
		return -1;
	fprintf(f, "[%s,%s,%s]", fixture, other, amb);
	fclose(f);
	free(fixture);
	free(other);
	free(amb);

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	live.server = fork();
	if (live.server < 0)
		return -1;
	if (live.server == 0) {
		dup2(pfd[1], STDOUT_FILENO);
		/* --split: every watch line reaches the client in pieces. */
		execlp("python3", "python3", "tests/integration/kube_api.py", "--log", live.log, "--pods", live.pods,
		       "--token", "token-one", "--split", "300", "--seconds", "300", (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	{
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		size_t have = 0;
		ssize_t n;

		while (!strchr(port, '\n') && have + 1 < sizeof(port) && poll(&p, 1, 10000) > 0 &&
		       (n = read(pfd[0], port + have, sizeof(port) - 1 - have)) > 0) {
			have += (size_t)n;
			port[have] = '\0';
		}
	}
	close(pfd[0]);
	live.port = atoi(port);
	if (live.port <= 0) {
		kill(live.server, SIGKILL);
		waitpid(live.server, NULL, 0);
		return -1;
	}
	server_watches(live.list_rv, sizeof(live.list_rv));
	return 0;
}

static int live_teardown(void **state)
{
	char path[128];

	(void)state;
	live.k = kube_pods_stop(live.k);
	if (getenv("KUBE_TEST_SHOW_LOG")) {
		char *log = read_all(live.log, NULL);

		fprintf(stderr, "request log:\n%s", log ? log : "(none)\n");
		free(log);
	}
	if (live.server > 0) {
		kill(live.server, SIGTERM);
		waitpid(live.server, NULL, 0);
	}
	unlink(live.log);
	unlink(live.token);
	unlink(live.pods);
	snprintf(path, sizeof(path), "%s.tmp", live.token);
	unlink(path);
	rmdir(live.dir);
	return 0;
}

static bool readable(int fd, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

/* Lines of the request log that are API requests (not control). */
static size_t api_requests(char ***ret)
{
	char *text = read_all(live.log, NULL), *save = NULL, *line;
	char **lines = NULL;
	size_t n = 0;

	assert_non_null(text);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "GET /api/v1/pods", 16) != 0)
			continue;
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		assert_non_null(lines);
		lines[n++] = strdup(line);
	}
	free(text);
	*ret = lines;
	return n;
}

static void free_lines(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* Until the log holds N API requests and the server has one watch open. */
static void wait_api_requests(size_t n)
{
	double deadline = now_s() + 10;
	char **lines;
	size_t have;

	for (;;) {
		have = api_requests(&lines);
		free_lines(lines, have);
		if (have >= n)
			break;
		if (now_s() > deadline)
			fail_msg("only %zu API requests, waited for %zu", have, n);
		usleep(20000);
	}
	assert_int_equal(have, n);
	wait_watches(1);
}

/*
 * Ends the open watch the way timeoutSeconds does. A bookmark first: a watch
 * that ends within 1 s without any event twice in a row counts as an error.
 */
static void close_watch(void)
{
	struct kube_status st, before;

	kube_pods_status(live.k, &before);
	assert_int_equal(control("POST", "/_control/bookmark", NULL, NULL), 200);
	WAIT_UNTIL(live.k, st, st.watch_events > before.watch_events, 5);
	assert_int_equal(control("POST", "/_control/close", NULL, NULL), 200);
}

static void test_live_list_and_lookup(void **state)
{
	struct kube_config cfg = {
		.api_url = NULL, .token_file = live.token, .node_name = NODE, .timeout_s = 5,
	};
	char url[64], want[128];
	struct kube_status st;
	struct kube_pod p;
	char **lines;
	size_t n;

	(void)state;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", live.port); /* trailing slash dropped */
	cfg.api_url = url;
	assert_int_equal(kube_pods_start(&cfg, &live.k), 0);
	assert_non_null(live.k);
	assert_true(readable(kube_pods_event_fd(live.k), 10000));
	kube_pods_ack(live.k);
	assert_false(readable(kube_pods_event_fd(live.k), 0));
	WAIT_UNTIL(live.k, st, st.synced, 10);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.pods, 2); /* the node-2 pod is filtered out */
	assert_int_equal(st.errors, 0);

	assert_int_equal(kube_pods_lookup_container(live.k, ID, &p), 0);
	assert_string_equal(p.name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(p.owner_kind, "Deployment");
	assert_string_equal(p.owner_name, "payments-api");
	memset(&p, 0, sizeof(p));
	assert_int_equal(kube_pods_lookup_container(live.k, "9a7f3c2e1d0b", &p), 0); /* Falco's 12 */
	assert_string_equal(p.uid, UID);
	assert_int_equal(kube_pods_lookup_container(live.k, "9a7f3c2e1d0", &p), -ENOENT); /* 11: too short */
	assert_int_equal(kube_pods_lookup_container(live.k, "9A7F3C2E1D0B", &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_container(live.k, ID "0", &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_container(live.k, "", &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_container(live.k, ID2, &p), -ENOENT); /* other node */
	/* Two containers share the 12-character prefix: ambiguous. */
	assert_int_equal(kube_pods_lookup_container(live.k, "abcdefabcdef", &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_container(live.k, "abcdefabcdef1", &p), 0);
	assert_string_equal(p.name, "twins");
	assert_string_equal(p.owner_kind, "Job");
	assert_int_equal(kube_pods_lookup_container(live.k, AMB_A, &p), 0);
	assert_int_equal(kube_pods_lookup_uid(live.k, UID, &p), 0);
	assert_string_equal(p.namespace_, "production");
	assert_int_equal(kube_pods_lookup_uid(live.k, "aaaaaaaa-0000-0000-0000-000000000001", &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_uid(live.k, "", &p), -ENOENT);

	/* The list, then the watch from the list's resourceVersion. */
	wait_watches(1);
	n = api_requests(&lines);
	assert_int_equal(n, 2);
	snprintf(want, sizeof(want), "GET /api/v1/pods?fieldSelector=spec.nodeName%%3D" NODE " auth=valid code=200");
	assert_string_equal(lines[0], want);
	snprintf(want, sizeof(want), "&watch=1&resourceVersion=%s&allowWatchBookmarks=true&timeoutSeconds=300 ",
		 live.list_rv);
	assert_non_null(strstr(lines[1], "GET /api/v1/pods?fieldSelector=spec.nodeName%3D" NODE "&"));
	assert_non_null(strstr(lines[1], want));
	assert_non_null(strstr(lines[1], "auth=valid code=200"));
	free_lines(lines, n);
}

static void test_live_add_modify_delete(void **state)
{
	int efd = kube_pods_event_fd(live.k);
	struct kube_status st, before;
	struct kube_pod p;
	char *a, *b, *body;

	(void)state;
	kube_pods_ack(live.k);
	/* Two pods in one control call: two lines in one chunk, one of them for another node. */
	a = pod_json("web", "web-0", "bbbbbbbb-0000-0000-0000-000000000001", NODE, "StatefulSet", "containerd://" ID3,
		     NULL, "a");
	b = pod_json("web", "web-far", "bbbbbbbb-0000-0000-0000-000000000002", "node-2", "StatefulSet",
		     "containerd://" ID2, NULL, "a");
	assert_int_equal(asprintf(&body, "[%s,%s]", a, b) > 0, 1);
	assert_int_equal(control("POST", "/_control/pods", body, NULL), 200);
	free(body);
	free(b);
	free(a);
	assert_true(readable(efd, 5000));
	kube_pods_ack(live.k);
	assert_int_equal(kube_pods_lookup_container(live.k, ID3, &p), 0);
	assert_string_equal(p.name, "web-0");
	assert_string_equal(p.owner_kind, "StatefulSet");
	assert_int_equal(kube_pods_lookup_container(live.k, ID2, &p), -ENOENT);
	kube_pods_status(live.k, &st);
	assert_int_equal(st.pods, 3);

	/* A label change only: an event, but nothing that matters changed. */
	kube_pods_status(live.k, &before);
	a = pod_json("web", "web-0", "bbbbbbbb-0000-0000-0000-000000000001", NODE, "StatefulSet", "containerd://" ID3,
		     NULL, "b");
	assert_int_equal(control("POST", "/_control/pods", a, NULL), 200);
	free(a);
	WAIT_UNTIL(live.k, st, st.watch_events > before.watch_events, 5);
	assert_false(readable(efd, 0));

	/* The container restarted: new id. */
	a = pod_json("web", "web-0", "bbbbbbbb-0000-0000-0000-000000000001", NODE, "StatefulSet", "cri-o://" ID3,
		     "cri-o://" ID2, "b");
	assert_int_equal(control("POST", "/_control/pods", a, NULL), 200);
	free(a);
	assert_true(readable(efd, 5000));
	kube_pods_ack(live.k);
	assert_int_equal(kube_pods_lookup_container(live.k, ID2, &p), 0);
	assert_string_equal(p.name, "web-0");
	assert_int_equal(p.n_containers, 2);

	assert_int_equal(control("DELETE", "/_control/pods/web/web-0", NULL, NULL), 200);
	assert_true(readable(efd, 5000));
	kube_pods_ack(live.k);
	assert_int_equal(kube_pods_lookup_container(live.k, ID3, &p), -ENOENT);
	assert_int_equal(kube_pods_lookup_uid(live.k, "bbbbbbbb-0000-0000-0000-000000000001", &p), -ENOENT);
	kube_pods_status(live.k, &st);
	assert_int_equal(st.pods, 2);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.lists, 1);
}

/* A bookmark moves the resourceVersion; the next watch starts from it. */
static void test_live_bookmark_and_rewatch(void **state)
{
	struct kube_status st;
	char rv[32], want[64], **lines;
	size_t n;

	(void)state;
	server_watches(rv, sizeof(rv));
	close_watch();
	/* The stream ended cleanly: watch again, no list, no error. */
	wait_api_requests(3);
	kube_pods_status(live.k, &st);
	assert_int_equal(st.lists, 1);
	assert_int_equal(st.errors, 0);
	assert_true(st.synced);
	n = api_requests(&lines);
	assert_int_equal(n, 3);
	snprintf(want, sizeof(want), "&resourceVersion=%s&", rv);
	assert_non_null(strstr(lines[2], "watch=1"));
	assert_non_null(strstr(lines[2], want));
	free_lines(lines, n);
}

static void test_live_expire_relist(void **state)
{
	struct kube_status st;
	struct kube_pod p;
	char rv[32], want[64], **lines;
	size_t n;

	(void)state;
	assert_int_equal(control("POST", "/_control/expire", NULL, NULL), 200);
	WAIT_UNTIL(live.k, st, st.lists == 2 && st.synced, 10);
	wait_api_requests(5);
	assert_int_equal(st.errors, 0);
	assert_int_equal(st.pods, 2);
	assert_int_equal(kube_pods_lookup_container(live.k, ID, &p), 0);
	assert_int_equal(kube_pods_lookup_container(live.k, ID3, &p), -ENOENT);
	/* The relist, then the watch from its resourceVersion. */
	server_watches(rv, sizeof(rv));
	n = api_requests(&lines);
	assert_int_equal(n, 5);
	assert_null(strstr(lines[3], "watch=1"));
	assert_non_null(strstr(lines[3], "code=200"));
	snprintf(want, sizeof(want), "&resourceVersion=%s&", rv);
	assert_non_null(strstr(lines[4], want));
	for (size_t i = 0; i < n; i++)
		assert_non_null(strstr(lines[i], "?fieldSelector=spec.nodeName%3D" NODE));
	free_lines(lines, n);
}

static void test_live_token_rotation(void **state)
{
	struct kube_status st, before;
	char body[256], **lines;
	size_t n;

	(void)state;
	/* Rotated while we were reading the old one: one 401, a re-read, success. */
	kube_pods_status(live.k, &before);
	snprintf(body, sizeof(body), "{\"token\":\"token-two\",\"write_file_on_401\":\"%s\"}", live.token);
	assert_int_equal(control("POST", "/_control/token", body, NULL), 200);
	close_watch();
	WAIT_UNTIL(live.k, st, st.auth_retries == before.auth_retries + 1, 10);
	wait_api_requests(7);
	kube_pods_status(live.k, &st);
	assert_int_equal(st.errors, before.errors);
	assert_int_equal(st.lists, before.lists);
	n = api_requests(&lines);
	assert_int_equal(n, 7);
	assert_non_null(strstr(lines[5], "watch=1"));
	assert_non_null(strstr(lines[5], "auth=invalid code=401"));
	assert_non_null(strstr(lines[6], "watch=1"));
	assert_non_null(strstr(lines[6], "auth=valid code=200"));
	free_lines(lines, n);

	/* Rotated and never written to the file: 401 twice, an error, backoff. */
	kube_pods_status(live.k, &before);
	assert_int_equal(control("POST", "/_control/token", "{\"token\":\"token-three\"}", NULL), 200);
	close_watch();
	WAIT_UNTIL(live.k, st, st.errors == before.errors + 1, 10);
	assert_int_equal(st.auth_retries, before.auth_retries + 1);
	assert_false(st.synced);
	assert_non_null(strstr(st.last_error, "HTTP 401"));
	assert_non_null(strstr(st.last_error, "Unauthorized"));
	write_file(live.token, "token-three\n");
	/* After the 1 s backoff: list again (with the new token) and watch. */
	WAIT_UNTIL(live.k, st, st.lists == before.lists + 1 && st.synced, 10);
	wait_watches(1);
	kube_pods_status(live.k, &st);
	assert_int_equal(st.errors, before.errors + 1);
}

static void test_live_huge_line(void **state)
{
	struct kube_status st, before;
	struct kube_pod p;

	(void)state;
	kube_pods_status(live.k, &before);
	assert_int_equal(control("POST", "/_control/hugeline", NULL, NULL), 200);
	WAIT_UNTIL(live.k, st, st.errors == before.errors + 1, 20);
	assert_non_null(strstr(st.last_error, "4 MiB"));
	WAIT_UNTIL(live.k, st, st.lists == before.lists + 1 && st.synced, 10);
	assert_int_equal(kube_pods_lookup_container(live.k, ID, &p), 0);
	assert_int_equal(st.pods, 2);
}

static void test_live_stop_prompt(void **state)
{
	double t0;

	(void)state;
	wait_watches(1);
	t0 = now_s();
	live.k = kube_pods_stop(live.k);
	if (now_s() - t0 >= 1.0)
		fail_msg("kube_pods_stop took %.3f s", now_s() - t0);
	wait_watches(0);
}

int main(void)
{
	const struct CMUnitTest parse_tests[] = {
		cmocka_unit_test(test_fixture_pod),
		cmocka_unit_test(test_owner_kinds),
		cmocka_unit_test(test_containers),
		cmocka_unit_test(test_hostile_pods),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_container_ids),
		cmocka_unit_test(test_watch_events),
		cmocka_unit_test(test_pod_list),
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_env_url_and_backoff_stop),
	};
	/* In order: each step starts from the state the previous one left. */
	const struct CMUnitTest live_tests[] = {
		cmocka_unit_test(test_live_list_and_lookup),
		cmocka_unit_test(test_live_add_modify_delete),
		cmocka_unit_test(test_live_bookmark_and_rewatch),
		cmocka_unit_test(test_live_expire_relist),
		cmocka_unit_test(test_live_token_rotation),
		cmocka_unit_test(test_live_huge_line),
		cmocka_unit_test(test_live_stop_prompt),
	};
	int ret;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	ret = cmocka_run_group_tests_name("kube parsers", parse_tests, NULL, NULL);
	ret += cmocka_run_group_tests_name("kube live", live_tests, live_setup, live_teardown);
	curl_global_cleanup();
	return ret;
}
