// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Cgroup-path, mountinfo and runtime-annotation parsing: every kubelet and
 * runtime naming, hostile input, and the recorded config.json fixtures.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#include <cmocka.h>
#include <jansson.h>

#include "container.h"

#define ID "9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
#define ID2 "4b1d2c3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"
#define ID_UPPER "9A7F3C2E1D0B5F4E8C7A6B5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F"
#define ID_63 "9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5"
#define ID_65 ID "0"
#define ID_G "9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5g"
#define UID "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c"
#define UID_ "6f1c2b7a_3d4e_4f5a_9b8c_7d6e5f4a3b2c"
#define STATIC_UID "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d" /* kubelet's config hash for static pods */

#define SD_BURST "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice"
#define SD_BEST "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod" UID_ ".slice"
#define SD_GUAR "/kubepods.slice/kubepods-pod" UID_ ".slice"
#define FS_BEST "/kubepods/besteffort/pod" UID
#define FS_BURST "/kubepods/burstable/pod" UID
#define FS_GUAR "/kubepods/pod" UID

#define FIXTURES "../shared/fixtures/runtime/"

struct path_case {
	const char *path;
	int want;
	enum container_runtime runtime;
	const char *id;
	const char *pod_uid;
	const char *scope; /* prefix of path that is the container's own cgroup */
};

#define OK(p, rt, uid, scope) { p, 0, rt, ID, uid, scope }
#define NO(p) { p, -ENOENT, RUNTIME_UNKNOWN, NULL, NULL, NULL }
#define BAD(p) { p, -EINVAL, RUNTIME_UNKNOWN, NULL, NULL, NULL }

static const struct path_case path_cases[] = {
	/* kubelet, systemd driver */
	OK(SD_BURST "/cri-containerd-" ID ".scope", RUNTIME_CONTAINERD, UID, SD_BURST "/cri-containerd-" ID ".scope"),
	OK(SD_BEST "/cri-containerd-" ID ".scope", RUNTIME_CONTAINERD, UID, SD_BEST "/cri-containerd-" ID ".scope"),
	OK(SD_GUAR "/cri-containerd-" ID ".scope", RUNTIME_CONTAINERD, UID, SD_GUAR "/cri-containerd-" ID ".scope"),
	OK(SD_BURST "/crio-" ID ".scope", RUNTIME_CRIO, UID, SD_BURST "/crio-" ID ".scope"),
	OK(SD_GUAR "/crio-" ID ".scope/container", RUNTIME_CRIO, UID, SD_GUAR "/crio-" ID ".scope"),
	OK(SD_BEST "/docker-" ID ".scope", RUNTIME_DOCKER, UID, SD_BEST "/docker-" ID ".scope"),
	OK("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID ".slice/cri-containerd-" ID
	   ".scope",
	   RUNTIME_CONTAINERD, STATIC_UID,
	   "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" STATIC_UID ".slice/cri-containerd-" ID
	   ".scope"),
	/* kind: --cgroup-root=/kubelet puts a prefix on every slice */
	OK("/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	   "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope",
	   RUNTIME_CONTAINERD, UID,
	   "/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/"
	   "kubelet-kubepods-besteffort-pod" UID_ ".slice/cri-containerd-" ID ".scope"),
	/* kubelet, cgroupfs driver */
	OK(FS_BEST "/" ID, RUNTIME_UNKNOWN, UID, FS_BEST "/" ID),
	OK(FS_BURST "/" ID, RUNTIME_UNKNOWN, UID, FS_BURST "/" ID),
	OK(FS_GUAR "/" ID, RUNTIME_UNKNOWN, UID, FS_GUAR "/" ID),
	OK(FS_GUAR "/crio-" ID, RUNTIME_CRIO, UID, FS_GUAR "/crio-" ID),
	OK("kubepods/besteffort/pod" UID "/" ID, RUNTIME_UNKNOWN, UID, "kubepods/besteffort/pod" UID "/" ID),
	OK("/k3s/kubepods/besteffort/pod" UID "/" ID, RUNTIME_UNKNOWN, UID, "/k3s/kubepods/besteffort/pod" UID "/" ID),
	OK("/kubepods/pod" STATIC_UID "/" ID, RUNTIME_UNKNOWN, STATIC_UID, "/kubepods/pod" STATIC_UID "/" ID),
	/* children of the container's cgroup belong to it */
	OK(FS_GUAR "/" ID "/sub/deeper", RUNTIME_UNKNOWN, UID, FS_GUAR "/" ID),
	OK(FS_GUAR "/" ID "/", RUNTIME_UNKNOWN, UID, FS_GUAR "/" ID),
	OK("//kubepods//pod" UID "//" ID, RUNTIME_UNKNOWN, UID, "//kubepods//pod" UID "//" ID),
	/* kind with the cgroupfs driver: --cgroup-root=/kubelet */
	OK("/kubelet/kubepods/besteffort/pod" UID "/" ID, RUNTIME_UNKNOWN, UID, "/kubelet/kubepods/besteffort/pod" UID "/" ID),
	/* nesting: the outermost pod container wins */
	OK(FS_BEST "/" ID "/docker/" ID2, RUNTIME_UNKNOWN, UID, FS_BEST "/" ID),
	OK(SD_BEST "/cri-containerd-" ID ".scope/kubepods/pod" UID "/" ID2, RUNTIME_CONTAINERD, UID,
	   SD_BEST "/cri-containerd-" ID ".scope"),
	OK(FS_BEST "/" ID "/kubepods/besteffort/pod" UID "/" ID2, RUNTIME_UNKNOWN, UID, FS_BEST "/" ID),

	/*
	 * Named like a container outside kubelet's pod hierarchy: not one
	 * (anyone who can make a cgroup could otherwise claim a pod's id).
	 */
	NO("/evil/cri-containerd-" ID ".scope"),
	NO("/evil" SD_BEST "/cri-containerd-" ID ".scope"),
	NO("/evil/kubepods/besteffort/pod" UID "/" ID),
	NO("/evil/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope"),
	NO("/kubelet/evil/kubepods/pod" UID "/" ID),
	NO("/system.slice/kubepods.slice/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope"),
	NO("/kubepods.slice/x/y/kubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope"),
	NO("/cri-containerd-" ID ".scope"),
	NO("/kubepods.slice/cri-containerd-" ID ".scope"),
	/* plain docker, kind nodes seen from their host: not a pod's container here */
	NO("/system.slice/docker-" ID ".scope"),
	NO("/docker/" ID),
	NO("/docker/" ID2 "/kubepods/besteffort/pod" UID "/" ID),
	NO("/docker/" ID "/system.slice/docker-" ID2 ".scope"),
	/* a scope where no pod slice is recognised */
	NO("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID ".slice/cri-containerd-" ID ".scope"),
	NO("/notkubepods-pod" UID_ ".slice/cri-containerd-" ID ".scope"),
	NO("/kubepods-burstable-pod" UID_ ".slice.x/cri-containerd-" ID ".scope"),

	/* host cgroups */
	NO(""),
	NO("/"),
	NO("///"),
	NO("/init.scope"),
	NO("/system.slice/ssh.service"),
	NO("/user.slice/user-0.slice/session-1.scope"),
	/* pod-level and QoS-level cgroups are not containers */
	NO("/kubepods.slice"),
	NO("/kubepods.slice/kubepods-burstable.slice"),
	NO(SD_BURST),
	NO(SD_GUAR),
	NO("/kubepods"),
	NO("/kubepods/besteffort"),
	NO(FS_BEST),
	NO(FS_GUAR "/"),
	/* conmon is CRI-O's monitor, not the container */
	NO(SD_BURST "/crio-conmon-" ID ".scope"),
	NO(FS_GUAR "/crio-conmon-" ID),
	/* malformed ids */
	NO(FS_BEST "/" ID_63),
	NO(FS_BEST "/" ID_65),
	NO(FS_BEST "/" ID_UPPER),
	NO(FS_BEST "/" ID_G),
	NO(SD_BURST "/cri-containerd-" ID_63 ".scope"),
	NO(SD_BURST "/cri-containerd-" ID_65 ".scope"),
	NO(SD_BURST "/cri-containerd-" ID_UPPER ".scope"),
	NO(SD_BURST "/crio-" ID_G ".scope"),
	NO("/system.slice/docker-" ID_UPPER ".scope"),
	NO("/docker/" ID_65),
	NO("/docker/" ID_UPPER),
	/* near misses of the scope names */
	NO(SD_BURST "/cri-containerd-" ID ".scopex"),
	NO(SD_BURST "/cri-containerd-" ID),
	NO(SD_BURST "/containerd-" ID ".scope"),
	NO("/system.slice/docker-" ID ".scope.bak"),
	NO("/system.slice/docker-" ID ".service"),
	NO("/dockerx/" ID),
	/* a bare id counts only right under a cgroupfs pod dir or /docker */
	NO("/user.slice/" ID),
	NO("/" ID),
	NO(SD_BURST "/" ID),
	NO("/foo/pod" UID "/" ID),
	NO("/kubepods/guaranteed/pod" UID "/" ID),
	NO("/kubepods/besteffort/x/pod" UID "/" ID),
	NO(FS_BEST "/x/" ID),
	NO("/docker/x/" ID),
	/* bad pod uids in cgroupfs names */
	NO("/kubepods/besteffort/pod" UID_ "/" ID),
	NO("/kubepods/besteffort/pod6F1C2B7A-3D4E-4F5A-9B8C-7D6E5F4A3B2C/" ID),
	NO("/kubepods/besteffort/pod" UID "0/" ID),
	NO("/kubepods/besteffort/pod/" ID),
	/* paths that climb are refused outright */
	BAD(FS_BEST "/../" ID),
	BAD("/../docker/" ID),
	BAD("/docker/" ID "/.."),
	BAD("/docker/./" ID),
	BAD(".."),
	BAD("../../../etc"),
};

static void test_cgroup_paths(void **state)
{
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct container_ref r;
		int got;

		memset(&r, 0x5a, sizeof(r));
		got = container_ref_from_cgroup_path(c->path, &r);
		if (got != c->want)
			fail_msg("case %zu \"%s\": got %d, want %d", i, c->path, got, c->want);
		if (got) {
			/* ret untouched on failure */
			for (size_t b = 0; b < sizeof(r); b++)
				assert_int_equal(((unsigned char *)&r)[b], 0x5a);
			continue;
		}
		if (strcmp(r.id, c->id) || r.runtime != c->runtime || strcmp(r.pod_uid, c->pod_uid) ||
		    r.scope_len != strlen(c->scope))
			fail_msg("case %zu \"%s\": got id %s runtime %s uid \"%s\" scope_len %zu, want %s %s \"%s\" %zu",
				 i, c->path, r.id, container_runtime_name(r.runtime), r.pod_uid, r.scope_len, c->id,
				 container_runtime_name(c->runtime), c->pod_uid, strlen(c->scope));
		assert_memory_equal(c->path, c->scope, r.scope_len);
		assert_true(container_id_valid(r.id));
	}
}

static void test_cgroup_path_args(void **state)
{
	struct container_ref r;

	assert_int_equal(container_ref_from_cgroup_path(NULL, &r), -EINVAL);
	assert_int_equal(container_ref_from_cgroup_path("/docker/" ID, NULL), -EINVAL);
}

/* Paths far longer than PATH_MAX: no overflow, same answers. */
static void test_long_paths(void **state)
{
	const size_t n = 200000;
	char *p = malloc(n + 200);
	struct container_ref r;
	size_t len;

	assert_non_null(p);
	memset(p, 'a', n);
	p[0] = '/';
	p[n] = '\0';
	assert_int_equal(container_ref_from_cgroup_path(p, &r), -ENOENT);

	/* 50000 components, then a container: outside the pod hierarchy, not one */
	for (size_t i = 0; i < n; i += 4)
		memcpy(p + i, "/abc", 4);
	len = n + (size_t)sprintf(p + n, "%s/%s/child", FS_BEST, ID);
	assert_int_equal(container_ref_from_cgroup_path(p, &r), -ENOENT);

	/* a container, then 50000 components below it */
	len = (size_t)sprintf(p, "%s/%s", FS_BEST, ID);
	for (size_t i = 0; i < n; i += 4)
		memcpy(p + len + i, "/abc", 4);
	p[len + n] = '\0';
	assert_int_equal(container_ref_from_cgroup_path(p, &r), 0);
	assert_string_equal(r.id, ID);
	assert_int_equal(r.runtime, RUNTIME_UNKNOWN);
	assert_int_equal(r.scope_len, len);
	len += n;

	/* ... and a ".." at the very end still refuses it */
	strcpy(p + len, "/..");
	assert_int_equal(container_ref_from_cgroup_path(p, &r), -EINVAL);

	/* one huge component that almost is an id */
	memset(p, 'a', n);
	memcpy(p, FS_BEST "/", strlen(FS_BEST "/"));
	p[n] = '\0';
	assert_int_equal(container_ref_from_cgroup_path(p, &r), -ENOENT);
	free(p);
}

static void test_id_valid(void **state)
{
	char unterminated[80];

	assert_true(container_id_valid(ID));
	assert_true(container_id_valid(ID2));
	assert_false(container_id_valid(ID_63));
	assert_false(container_id_valid(ID_65));
	assert_false(container_id_valid(ID_UPPER));
	assert_false(container_id_valid(ID_G));
	assert_false(container_id_valid("../../etc/passwd"));
	assert_false(container_id_valid(""));
	assert_false(container_id_valid(NULL));
	assert_false(container_id_valid(ID_63 "/"));
	/* Stops at 65 characters: never reads a long string to its end. */
	memset(unterminated, 'a', sizeof(unterminated));
	unterminated[sizeof(unterminated) - 1] = '\0';
	assert_false(container_id_valid(unterminated));
}

static void test_runtime_names(void **state)
{
	assert_string_equal(container_runtime_name(RUNTIME_CONTAINERD), "containerd");
	assert_string_equal(container_runtime_name(RUNTIME_CRIO), "cri-o");
	assert_string_equal(container_runtime_name(RUNTIME_DOCKER), "docker");
	assert_string_equal(container_runtime_name(RUNTIME_UNKNOWN), "unknown");
	assert_string_equal(container_runtime_name((enum container_runtime)99), "unknown");
}

/* ---- mountinfo ---------------------------------------------------------- */

/* This machine's own layout: a hybrid host. */
static const char hybrid[] =
	"23 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw\n"
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
	"40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

struct mi_case {
	const char *text;
	int want;
	const char *path;
};

static const struct mi_case mi_cases[] = {
	{ hybrid, 0, "/sys/fs/cgroup/unified" },
	{ "30 1 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate\n",
	  0, "/sys/fs/cgroup" },
	/* several optional fields, no trailing newline */
	{ "30 1 0:26 / /sys/fs/cgroup rw shared:4 master:1 propagate_from:2 unbindable - cgroup2 cgroup2 rw", 0,
	  "/sys/fs/cgroup" },
	/* no optional field at all */
	{ "30 1 0:26 / /cg rw - cgroup2 none rw\n", 0, "/cg" },
	/* octal escapes: space, tab, backslash, newline */
	{ "30 1 0:26 / /mnt/my\\040cgroups rw - cgroup2 none rw\n", 0, "/mnt/my cgroups" },
	{ "30 1 0:26 / /mnt/a\\011b\\134c\\012d rw - cgroup2 none rw\n", 0, "/mnt/a\tb\\c\nd" },
	/* not an escape: taken as it is */
	{ "30 1 0:26 / /mnt/x\\09 rw - cgroup2 none rw\n", 0, "/mnt/x\\09" },
	{ "30 1 0:26 / /mnt/x\\ rw - cgroup2 none rw\n", 0, "/mnt/x\\" },
	/* a bind mount of a subtree loses to the whole hierarchy, wherever it is listed */
	{ "50 1 0:26 /kubepods /host/sub rw - cgroup2 cgroup2 rw\n"
	  "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n",
	  0, "/sys/fs/cgroup" },
	{ "50 1 0:26 /kubepods /host/sub rw - cgroup2 cgroup2 rw\n", 0, "/host/sub" },
	/* first of two whole mounts */
	{ "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n50 1 0:26 / /host/cg rw - cgroup2 cgroup2 rw\n", 0,
	  "/sys/fs/cgroup" },
	/* no cgroup2 */
	{ "", -ENOENT, NULL },
	{ "\n\n\n", -ENOENT, NULL },
	{ "22 1 0:21 / /proc rw - proc proc rw\n", -ENOENT, NULL },
	{ "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n", -ENOENT, NULL },
	/* "cgroup2" anywhere but the fstype field */
	{ "31 23 0:28 / /mnt/cgroup2 rw - tmpfs cgroup2 rw\n", -ENOENT, NULL },
	{ "31 23 0:28 / /mnt rw shared:1 cgroup2 - tmpfs tmpfs rw\n", -ENOENT, NULL },
	{ "31 23 0:28 / /mnt rw - cgroup2x none rw\n", -ENOENT, NULL },
	/* truncated lines */
	{ "41 31 0:38 / /sys/fs/cgroup/unified", -ENOENT, NULL },
	{ "41 31 0:38 / /sys/fs/cgroup/unified rw -", -ENOENT, NULL },
	{ "41 31 0:38 / /sys/fs/cgroup/unified rw cgroup2", -ENOENT, NULL },
	{ "cgroup2", -ENOENT, NULL },
	{ " - cgroup2 cgroup2 rw", -ENOENT, NULL },
	/* an escaped NUL cannot be a path */
	{ "30 1 0:26 / /mnt/a\\000b rw - cgroup2 none rw\n", -EINVAL, NULL },
};

static void test_mountinfo(void **state)
{
	for (size_t i = 0; i < sizeof(mi_cases) / sizeof(mi_cases[0]); i++) {
		char path[256] = "untouched";
		int got = cgroup2_mount_from_mountinfo(mi_cases[i].text, path, sizeof(path));

		if (got != mi_cases[i].want)
			fail_msg("case %zu: got %d, want %d", i, got, mi_cases[i].want);
		assert_string_equal(path, got ? "untouched" : mi_cases[i].path);
	}
}

static void test_mountinfo_sizes(void **state)
{
	char path[64], *big;
	size_t n = 8192;

	/* "/sys/fs/cgroup/unified" is 22 characters: it needs 23 bytes */
	strcpy(path, "untouched");
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, path, 22), -ENAMETOOLONG);
	assert_string_equal(path, "untouched");
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, path, 23), 0);
	assert_string_equal(path, "/sys/fs/cgroup/unified");
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, path, 0), -ENAMETOOLONG);
	assert_int_equal(cgroup2_mount_from_mountinfo(NULL, path, sizeof(path)), -EINVAL);
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, NULL, 10), -EINVAL);

	/* A mount point longer than any path */
	big = malloc(n + 100);
	assert_non_null(big);
	strcpy(big, "30 1 0:26 / /");
	memset(big + 13, 'x', n);
	strcpy(big + 13 + n, " rw - cgroup2 none rw\n");
	assert_int_equal(cgroup2_mount_from_mountinfo(big, path, sizeof(path)), -ENAMETOOLONG);
	free(big);
}

/* The machine the tests run on: whatever it finds must really be cgroup2. */
static void test_mountinfo_live(void **state)
{
	char *text = NULL, path[4096];
	size_t cap = 0;
	struct statfs sfs;
	FILE *f = fopen("/proc/self/mountinfo", "re");

	assert_non_null(f);
	assert_true(getdelim(&text, &cap, '\0', f) > 0);
	fclose(f);
	assert_int_equal(cgroup2_mount_from_mountinfo(text, path, sizeof(path)), 0);
	free(text);
	assert_int_equal(statfs(path, &sfs), 0);
	assert_int_equal(sfs.f_type, 0x63677270); /* CGROUP2_SUPER_MAGIC */
}

/* ---- OCI annotations ---------------------------------------------------- */

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *f = fopen(path, "re");
	char *text = NULL;
	size_t cap = 0;
	ssize_t n;

	/* Missing fixtures are a broken checkout, never a reason to pass. */
	if (!f)
		fail_msg("fixture %s is missing (tests run from the repo root and need ../shared/fixtures): %s", path,
			 strerror(errno));
	n = getdelim(&text, &cap, '\0', f);
	fclose(f);
	if (n <= 0)
		fail_msg("fixture %s is empty", path);
	*ret_len = (size_t)n;
	return text;
}

static json_t *load_fixture(const char *name)
{
	char path[256];
	json_error_t jerr;
	json_t *j;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("fixture %s unreadable: %s", path, jerr.text);
	return j;
}

/* The fixture with one annotation replaced (value NULL: removed), run through the parser. */
static int parse_modified(const char *fixture, const char *key, json_t *value, struct pod_meta *m)
{
	json_t *j = load_fixture(fixture), *ann = json_object_get(j, "annotations");
	char *text;
	int err;

	assert_non_null(ann);
	if (value)
		assert_int_equal(json_object_set_new(ann, key, value), 0);
	else
		json_object_del(ann, key);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	err = pod_meta_from_oci_config(text, strlen(text), m);
	free(text);
	json_decref(j);
	return err;
}

static void test_fixture_containerd(void **state)
{
	struct pod_meta m;
	size_t len;
	char *text = slurp(FIXTURES "containerd-config.json", &len), *exact;

	assert_int_equal(pod_meta_from_oci_config(text, len, &m), 0);
	assert_string_equal(m.pod_name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(m.namespace_, "production");
	assert_string_equal(m.pod_uid, UID);
	assert_string_equal(m.container_name, "api");
	assert_string_equal(m.container_type, "container");
	assert_string_equal(m.image, "registry.golem.example/payments-api:1.14.2");

	/* Not NUL-terminated: len is the whole story (ASan sees any overread). */
	exact = malloc(len);
	assert_non_null(exact);
	memcpy(exact, text, len);
	memset(&m, 0, sizeof(m));
	assert_int_equal(pod_meta_from_oci_config(exact, len, &m), 0);
	assert_string_equal(m.namespace_, "production");
	/* Cut short: malformed, and *ret untouched. */
	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(pod_meta_from_oci_config(exact, len / 2, &m), -EINVAL);
	assert_int_equal(((unsigned char *)&m)[0], 0x5a);
	free(exact);
	free(text);
}

static void test_fixture_crio(void **state)
{
	struct pod_meta m;
	size_t len;
	char *text = slurp(FIXTURES "crio-config.json", &len);

	memset(&m, 0x5a, sizeof(m));
	assert_int_equal(pod_meta_from_oci_config(text, len, &m), 0);
	assert_string_equal(m.pod_name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(m.namespace_, "production");
	assert_string_equal(m.pod_uid, UID);
	assert_string_equal(m.container_name, "api");
	assert_string_equal(m.container_type, "");
	assert_string_equal(m.image, ""); /* the fixture does not carry ImageName */
	free(text);

	assert_int_equal(parse_modified("crio-config.json", "io.kubernetes.cri-o.ImageName",
					json_string("quay.io/golem/api@sha256:0123abcd"), &m),
			 0);
	assert_string_equal(m.image, "quay.io/golem/api@sha256:0123abcd");
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* A string value built from n copies of c, set on key of the containerd fixture. */
static int containerd_with_long(const char *key, char c, size_t n, struct pod_meta *m)
{
	char *s = repeat(c, n);
	int err = parse_modified("containerd-config.json", key, json_string(s), m);

	free(s);
	return err;
}

static void test_annotation_sizes(void **state)
{
	static const struct {
		const char *key;
		size_t max; /* longest value accepted */
	} fields[] = {
		{ "io.kubernetes.cri.sandbox-namespace", 63 },
		{ "io.kubernetes.cri.container-name", 63 },
		{ "io.kubernetes.cri.image-name", 511 },
		{ "io.kubernetes.cri.container-type", 15 },
	};
	struct pod_meta m;
	char name[300];

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		char c = strstr(fields[i].key, "type") ? 'x' : 'a';

		assert_int_equal(containerd_with_long(fields[i].key, c, fields[i].max, &m), 0);
		if (containerd_with_long(fields[i].key, c, fields[i].max + 1, &m) != -EINVAL)
			fail_msg("%s of %zu characters was accepted", fields[i].key, fields[i].max + 1);
		assert_int_equal(containerd_with_long(fields[i].key, c, 100000, &m), -EINVAL);
	}
	/* Pod name: a DNS subdomain of at most 253, in labels of at most 63. */
	memset(name, 0, sizeof(name));
	memset(name, 'a', 253);
	name[63] = name[127] = name[191] = '.';
	assert_int_equal(strlen(name), 253);
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-name", json_string(name), &m),
			 0);
	assert_string_equal(m.pod_name, name);
	strcat(name, "a");
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-name", json_string(name), &m),
			 -EINVAL);
	assert_int_equal(containerd_with_long("io.kubernetes.cri.sandbox-name", 'a', 64, &m), -EINVAL);
	/* A uid one character too long. */
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-uid",
					json_string(UID "0"), &m),
			 -EINVAL);
}

/* Values Kubernetes itself would refuse: refused here too (they drive policy). */
static void test_annotation_values(void **state)
{
	static const struct {
		const char *key, *value;
		int want;
	} cases[] = {
		{ "io.kubernetes.cri.sandbox-namespace", "kube-system", 0 },
		{ "io.kubernetes.cri.sandbox-namespace", "a", 0 },
		{ "io.kubernetes.cri.sandbox-namespace", "0ns", 0 },
		{ "io.kubernetes.cri.sandbox-namespace", "", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "Production", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "-lead", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "trail-", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "a_b", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "a.b", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "../etc", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "prod\nuction", -EINVAL },
		{ "io.kubernetes.cri.sandbox-namespace", "produc\xc3\xa9", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "web-0.shard-1", 0 },
		{ "io.kubernetes.cri.sandbox-name", "", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "a..b", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", ".a", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "a.", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "a b", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "Web", -EINVAL },
		{ "io.kubernetes.cri.sandbox-name", "a.-b", -EINVAL },
		{ "io.kubernetes.cri.sandbox-uid", "0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d", 0 },
		{ "io.kubernetes.cri.sandbox-uid", "6f1c2b7a_3d4e_4f5a_9b8c_7d6e5f4a3b2c", -EINVAL },
		{ "io.kubernetes.cri.sandbox-uid", "6F1C2B7A-3D4E-4F5A-9B8C-7D6E5F4A3B2C", -EINVAL },
		{ "io.kubernetes.cri.sandbox-uid", "../../../../../../../../etc/passwd", -EINVAL },
		{ "io.kubernetes.cri.sandbox-uid", "", -EINVAL },
		{ "io.kubernetes.cri.container-name", "istio-proxy", 0 },
		{ "io.kubernetes.cri.container-name", "api.v2", -EINVAL },
		{ "io.kubernetes.cri.container-name", "API", -EINVAL },
		{ "io.kubernetes.cri.container-type", "sandbox", 0 },
		{ "io.kubernetes.cri.container-type", "Sandbox", -EINVAL },
		{ "io.kubernetes.cri.container-type", "con tainer", -EINVAL },
		{ "io.kubernetes.cri.image-name", "docker.io/library/busybox@sha256:abc", 0 },
		{ "io.kubernetes.cri.image-name", "", 0 },
		{ "io.kubernetes.cri.image-name", "busybox latest", -EINVAL },
		{ "io.kubernetes.cri.image-name", "busybox\n{\"forged\":1}", -EINVAL },
		{ "io.kubernetes.cri.image-name", "busybox\x1b[31m", -EINVAL },
		{ "io.kubernetes.cri.image-name", "busyb\xc3\xb6x", -EINVAL },
	};
	struct pod_meta m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got = parse_modified("containerd-config.json", cases[i].key, json_string(cases[i].value), &m);

		if (got != cases[i].want)
			fail_msg("%s=\"%s\": got %d, want %d", cases[i].key, cases[i].value, got, cases[i].want);
	}
}

/* Every annotation with a value of the wrong JSON type. */
static void test_annotation_types(void **state)
{
	static const char *const keys[] = {
		"io.kubernetes.cri.sandbox-name",   "io.kubernetes.cri.sandbox-namespace",
		"io.kubernetes.cri.sandbox-uid",    "io.kubernetes.cri.container-name",
		"io.kubernetes.cri.container-type", "io.kubernetes.cri.image-name",
	};
	struct pod_meta m;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *wrong[] = { json_integer(5), json_null(), json_true(), json_pack("[s]", "production"),
				    json_pack("{s:s}", "name", "production"), json_real(1.5) };

		for (size_t k = 0; k < sizeof(wrong) / sizeof(wrong[0]); k++)
			if (parse_modified("containerd-config.json", keys[i], wrong[k], &m) != -EINVAL)
				fail_msg("%s of JSON type %zu accepted", keys[i], k);
	}
}

static void test_annotation_presence(void **state)
{
	struct pod_meta m;

	/* Name and namespace are required; the rest may be missing. */
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-name", NULL, &m), -ENODATA);
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-namespace", NULL, &m),
			 -ENODATA);
	assert_int_equal(parse_modified("crio-config.json", "io.kubernetes.pod.namespace", NULL, &m), -ENODATA);
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.image-name", NULL, &m), 0);
	assert_string_equal(m.image, "");
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.sandbox-uid", NULL, &m), 0);
	assert_string_equal(m.pod_uid, "");
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.cri.container-type", NULL, &m), 0);
	assert_string_equal(m.container_type, "");
	assert_int_equal(parse_modified("crio-config.json", "io.kubernetes.container.name", NULL, &m), 0);
	assert_string_equal(m.container_name, "");
	/* containerd does not write io.kubernetes.pod.*: a half set is ignored... */
	assert_int_equal(parse_modified("containerd-config.json", "io.kubernetes.pod.name", json_string("other"), &m), 0);
	assert_string_equal(m.pod_name, "payments-api-7d9f4b-xkp2m");
	/* ... and a full CRI-O set next to a complete containerd one loses to it. */
	{
		json_t *j = load_fixture("containerd-config.json"), *ann = json_object_get(j, "annotations");
		char *text;

		json_object_set_new(ann, "io.kubernetes.pod.name", json_string("crio-pod"));
		json_object_set_new(ann, "io.kubernetes.pod.namespace", json_string("crio-ns"));
		text = json_dumps(j, 0);
		assert_int_equal(pod_meta_from_oci_config(text, strlen(text), &m), 0);
		assert_string_equal(m.namespace_, "production");
		free(text);
		/* Without containerd's namespace, a pod author's CRI-O set still names nothing. */
		json_object_del(ann, "io.kubernetes.cri.sandbox-namespace");
		text = json_dumps(j, 0);
		assert_int_equal(pod_meta_from_oci_config(text, strlen(text), &m), -ENODATA);
		free(text);
		json_decref(j);
	}
}

/* FIXTURE with KEY=VALUE pairs (NULL-terminated list) added to its annotations, parsed as RUNTIME's. */
static int parse_forged(const char *fixture, enum container_runtime runtime, struct pod_meta *m, ...)
{
	json_t *j = load_fixture(fixture), *ann = json_object_get(j, "annotations");
	const char *key;
	char *text;
	va_list ap;
	int err;

	assert_non_null(ann);
	va_start(ap, m);
	while ((key = va_arg(ap, const char *)))
		assert_int_equal(json_object_set_new(ann, key, json_string(va_arg(ap, const char *))), 0);
	va_end(ap);
	text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	memset(m, 0x5a, sizeof(*m));
	err = pod_meta_from_runtime_config(text, strlen(text), runtime, m);
	free(text);
	json_decref(j);
	return err;
}

/*
 * Pod authors' annotations land in config.json beside the runtime's own
 * keys: only the container's runtime's keys name its pod. A CRI-O pod that
 * carries containerd's namespace key stays in its own namespace.
 */
static void test_only_the_runtimes_own_keys(void **state)
{
	struct pod_meta m;

	(void)state;
	assert_int_equal(parse_forged("crio-config.json", RUNTIME_CRIO, &m, "io.kubernetes.cri.sandbox-namespace",
				      "kube-system", "io.kubernetes.cri.sandbox-name", "kube-proxy-x",
				      "io.kubernetes.cri.sandbox-uid", "11111111-2222-4333-8444-555555555555", NULL),
			 0);
	assert_string_equal(m.namespace_, "production");
	assert_string_equal(m.pod_name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(m.pod_uid, UID);
	/* Where the file was found is unknown: CRI-O's marks decide. */
	assert_int_equal(parse_forged("crio-config.json", RUNTIME_UNKNOWN, &m, "io.kubernetes.cri.sandbox-namespace",
				      "kube-system", "io.kubernetes.cri.sandbox-name", "kube-proxy-x", NULL),
			 0);
	assert_string_equal(m.namespace_, "production");
	/* Marks of both runtimes and nothing to say which: refused, never guessed. */
	assert_int_equal(parse_forged("crio-config.json", RUNTIME_UNKNOWN, &m, "io.kubernetes.cri.sandbox-namespace",
				      "kube-system", "io.kubernetes.cri.sandbox-name", "kube-proxy-x",
				      "io.kubernetes.cri.container-type", "container", NULL),
			 -EINVAL);
	assert_int_equal(((unsigned char *)&m)[0], 0x5a);
	/* ... but found in CRI-O's directory it is CRI-O's. */
	assert_int_equal(parse_forged("crio-config.json", RUNTIME_CRIO, &m, "io.kubernetes.cri.sandbox-namespace",
				      "kube-system", "io.kubernetes.cri.sandbox-name", "kube-proxy-x",
				      "io.kubernetes.cri.container-type", "container", NULL),
			 0);
	assert_string_equal(m.namespace_, "production");

	/* The other way: CRI-O's keys on a containerd container name nothing. */
	assert_int_equal(parse_forged("containerd-config.json", RUNTIME_CONTAINERD, &m, "io.kubernetes.pod.namespace",
				      "kube-system", "io.kubernetes.pod.name", "kube-proxy-x", "io.container.manager",
				      "cri-o", "io.kubernetes.cri-o.ContainerType", "container", NULL),
			 0);
	assert_string_equal(m.namespace_, "production");
	assert_int_equal(parse_forged("containerd-config.json", RUNTIME_UNKNOWN, &m, "io.kubernetes.pod.namespace",
				      "kube-system", "io.kubernetes.pod.name", "kube-proxy-x", "io.container.manager",
				      "cri-o", NULL),
			 -EINVAL);
	/* A file of the other runtime in this runtime's directory: no metadata. */
	assert_int_equal(parse_forged("containerd-config.json", RUNTIME_CRIO, &m, NULL), -ENODATA);
	assert_int_equal(parse_forged("crio-config.json", RUNTIME_CONTAINERD, &m, NULL), -ENODATA);
	/* cri-dockerd: not read, and said so. */
	assert_int_equal(parse_forged("containerd-config.json", RUNTIME_DOCKER, &m, NULL), -EPROTONOSUPPORT);
}

static void test_annotation_malformed(void **state)
{
	static const struct {
		const char *text;
		int want;
	} cases[] = {
		{ "", -EINVAL },
		{ "{", -EINVAL },
		{ "null", -EINVAL },
		{ "[]", -EINVAL },
		{ "\"annotations\"", -EINVAL },
		{ "42", -EINVAL },
		{ "{} {}", -EINVAL },
		{ "{\"annotations\": 5}", -EINVAL },
		{ "{\"annotations\": null}", -EINVAL },
		{ "{\"annotations\": []}", -EINVAL },
		{ "{\"annotations\": \"io.kubernetes.cri.sandbox-name=x\"}", -EINVAL },
		/* duplicate keys: which one would a runtime have meant? */
		{ "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\", \"io.kubernetes.cri.sandbox-name\": \"b\","
		  " \"io.kubernetes.cri.sandbox-namespace\": \"n\"}}",
		  -EINVAL },
		/* an embedded NUL would cut the value short */
		{ "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\\u0000b\","
		  " \"io.kubernetes.cri.container-type\": \"container\", \"io.kubernetes.cri.sandbox-namespace\": \"n\"}}",
		  -EINVAL },
		{ "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\", \"io.kubernetes.cri.sandbox-namespace\": \"n\"",
		  -EINVAL },
		{ "{}", -ENODATA },
		{ "{\"annotations\": {}}", -ENODATA },
		{ "{\"ociVersion\": \"1.1.0\", \"annotations\": {\"org.opencontainers.image.title\": \"x\"}}", -ENODATA },
		/* containerd's keys without its marks: nothing says which runtime wrote them */
		{ "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\", \"io.kubernetes.cri.sandbox-namespace\": \"n\"}}",
		  -ENODATA },
		{ "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\", \"io.kubernetes.cri.sandbox-namespace\": \"n\","
		  " \"io.kubernetes.cri.container-type\": \"container\"}}",
		  0 },
		/* annotations somewhere else are not annotations */
		{ "{\"process\": {\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"a\","
		  " \"io.kubernetes.cri.sandbox-namespace\": \"n\"}}}",
		  -ENODATA },
	};
	struct pod_meta m;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int got;

		memset(&m, 0x5a, sizeof(m));
		got = pod_meta_from_oci_config(cases[i].text, strlen(cases[i].text), &m);
		if (got != cases[i].want)
			fail_msg("case %zu %s: got %d, want %d", i, cases[i].text, got, cases[i].want);
		if (got)
			assert_int_equal(((unsigned char *)&m)[sizeof(m) - 1], 0x5a);
	}
	assert_int_equal(pod_meta_from_oci_config(NULL, 0, &m), -EINVAL);
	assert_int_equal(pod_meta_from_oci_config("{}", 2, NULL), -EINVAL);
}

/* Deep nesting must neither crash nor be taken for annotations. */
static void test_annotation_deep(void **state)
{
	const size_t depth = 100000;
	char *text = malloc(2 * depth + 1);
	struct pod_meta m;

	assert_non_null(text);
	memset(text, '[', depth);
	memset(text + depth, ']', depth);
	text[2 * depth] = '\0';
	assert_int_equal(pod_meta_from_oci_config(text, 2 * depth, &m), -EINVAL);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_paths),
		cmocka_unit_test(test_cgroup_path_args),
		cmocka_unit_test(test_long_paths),
		cmocka_unit_test(test_id_valid),
		cmocka_unit_test(test_runtime_names),
		cmocka_unit_test(test_mountinfo),
		cmocka_unit_test(test_mountinfo_sizes),
		cmocka_unit_test(test_mountinfo_live),
		cmocka_unit_test(test_fixture_containerd),
		cmocka_unit_test(test_fixture_crio),
		cmocka_unit_test(test_annotation_sizes),
		cmocka_unit_test(test_annotation_values),
		cmocka_unit_test(test_annotation_types),
		cmocka_unit_test(test_annotation_presence),
		cmocka_unit_test(test_only_the_runtimes_own_keys),
		cmocka_unit_test(test_annotation_malformed),
		cmocka_unit_test(test_annotation_deep),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
