// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Cgroup-path, mountinfo and runtime-annotation parsing, with hostile input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "container.h"

#define ID "9a7f3c2e1d0b5f4e8c7a6b5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f"
#define UID "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c"
#define UID_ "6f1c2b7a_3d4e_4f5a_9b8c_7d6e5f4a3b2c"

struct path_case {
	const char *path;
	int want;
	enum container_runtime runtime;
	const char *pod_uid;
	const char *scope; /* the container's own cgroup */
};

static const struct path_case path_cases[] = {
	{ "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope",
	  0, RUNTIME_CONTAINERD, UID,
	  "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" UID_ ".slice/cri-containerd-" ID ".scope" },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope/container", 0, RUNTIME_CRIO, UID,
	  "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-" ID ".scope" },
	{ "/system.slice/docker-" ID ".scope", 0, RUNTIME_DOCKER, "", "/system.slice/docker-" ID ".scope" },
	{ "/kubepods/besteffort/pod" UID "/" ID, 0, RUNTIME_UNKNOWN, UID, "/kubepods/besteffort/pod" UID "/" ID },
	{ "/kubepods/pod" UID "/" ID, 0, RUNTIME_UNKNOWN, UID, "/kubepods/pod" UID "/" ID },
	{ "/docker/" ID, 0, RUNTIME_DOCKER, "", "/docker/" ID },
	/* Not containers. */
	{ "/", -ENOENT, 0, NULL, NULL },
	{ "/system.slice/ssh.service", -ENOENT, 0, NULL, NULL },
	{ "/kubepods/besteffort/pod" UID, -ENOENT, 0, NULL, NULL },
	{ "/kubepods.slice/kubepods-pod" UID_ ".slice/crio-conmon-" ID ".scope", -ENOENT, 0, NULL, NULL },
	{ "/user.slice/" ID, -ENOENT, 0, NULL, NULL }, /* a bare id outside kubepods or docker */
	{ "/kubepods/besteffort/pod" UID "/" ID "0", -ENOENT, 0, NULL, NULL },  /* 65 hex */
	{ "/kubepods/besteffort/pod" UID "/9A7F3C2E1D0B5F4E8C7A6B5D4E3F2A1B0C9D8E7F6A5B4C3D2E1F0A9B8C7D6E5F", -ENOENT,
	  0, NULL, NULL },
	{ "/kubepods/besteffort/pod" UID "/../" ID, -EINVAL, 0, NULL, NULL },
};

static void test_cgroup_paths(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(path_cases) / sizeof(path_cases[0]); i++) {
		const struct path_case *c = &path_cases[i];
		struct container_ref r = { .id = "untouched" };
		int got = container_ref_from_cgroup_path(c->path, &r);

		if (got != c->want)
			fail_msg("%s: got %d, want %d", c->path, got, c->want);
		if (got) {
			assert_string_equal(r.id, "untouched");
			continue;
		}
		assert_string_equal(r.id, ID);
		assert_int_equal(r.runtime, c->runtime);
		assert_string_equal(r.pod_uid, c->pod_uid);
		assert_int_equal(r.scope_len, strlen(c->scope));
		assert_memory_equal(c->path, c->scope, r.scope_len);
	}
}

static void test_long_path(void **state)
{
	char *p = malloc(70000);
	struct container_ref r;

	(void)state;
	memset(p, 'a', 69999);
	p[0] = '/';
	p[69999] = '\0';
	assert_int_equal(container_ref_from_cgroup_path(p, &r), -ENOENT);
	free(p);
}

static void test_mountinfo(void **state)
{
	const char *hybrid =
		"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
		"42 31 0:39 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n";
	const char *unified = "30 1 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n";
	const char *escaped = "30 1 0:26 / /mnt/my\\040cgroups rw shared:1 - cgroup2 none rw\n";
	const char *none = "22 1 0:21 / /proc rw - proc proc rw\n";
	char path[64];

	(void)state;
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, path, sizeof(path)), 0);
	assert_string_equal(path, "/sys/fs/cgroup/unified");
	assert_int_equal(cgroup2_mount_from_mountinfo(unified, path, sizeof(path)), 0);
	assert_string_equal(path, "/sys/fs/cgroup");
	assert_int_equal(cgroup2_mount_from_mountinfo(escaped, path, sizeof(path)), 0);
	assert_string_equal(path, "/mnt/my cgroups");
	assert_int_equal(cgroup2_mount_from_mountinfo(none, path, sizeof(path)), -ENOENT);
	assert_int_equal(cgroup2_mount_from_mountinfo(hybrid, path, 8), -ENAMETOOLONG);
	assert_int_equal(cgroup2_mount_from_mountinfo("", path, sizeof(path)), -ENOENT);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = malloc(65536);

	if (!f)
		fail_msg("fixture %s missing: this test needs ../shared/fixtures", path);
	*len = fread(buf, 1, 65535, f);
	fclose(f);
	return buf;
}

static void test_annotations_fixtures(void **state)
{
	struct pod_meta m;
	size_t len;
	char *text;

	(void)state;
	text = slurp("../shared/fixtures/runtime/containerd-config.json", &len);
	assert_int_equal(pod_meta_from_oci_config(text, len, &m), 0);
	assert_string_equal(m.pod_name, "payments-api-7d9f4b-xkp2m");
	assert_string_equal(m.namespace_, "production");
	assert_string_equal(m.pod_uid, "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c");
	assert_string_equal(m.container_name, "api");
	assert_string_equal(m.container_type, "container");
	assert_string_equal(m.image, "registry.golem.example/payments-api:1.14.2");
	free(text);
	text = slurp("../shared/fixtures/runtime/crio-config.json", &len);
	assert_int_equal(pod_meta_from_oci_config(text, len, &m), 0);
	assert_true(m.pod_name[0] && m.namespace_[0] && m.container_name[0]);
	free(text);
}

static void test_annotations_hostile(void **state)
{
	struct pod_meta m;
	char big[2048];
	const char *cases[] = {
		"{",
		"[]",
		"{\"annotations\": 5}",
		"{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": 5, \"io.kubernetes.cri.sandbox-namespace\": \"a\"}}",
		"{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"p\", \"io.kubernetes.cri.sandbox-namespace\": \"../etc\"}}",
		"{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"p\", \"io.kubernetes.cri.sandbox-namespace\": \"UPPER\"}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(pod_meta_from_oci_config(cases[i], strlen(cases[i]), &m), -EINVAL);
	assert_int_equal(pod_meta_from_oci_config("{}", 2, &m), -ENODATA);
	assert_int_equal(pod_meta_from_oci_config("{\"annotations\": {}}", 19, &m), -ENODATA);
	/* Too long for the field: refused, never truncated. */
	snprintf(big, sizeof(big),
		 "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": \"p\", "
		 "\"io.kubernetes.cri.sandbox-namespace\": \"%0100d\"}}", 1);
	assert_int_equal(pod_meta_from_oci_config(big, strlen(big), &m), -EINVAL);
}

static void test_id_valid(void **state)
{
	(void)state;
	assert_true(container_id_valid(ID));
	assert_false(container_id_valid(ID "0"));
	assert_false(container_id_valid("../../etc/passwd"));
	assert_false(container_id_valid(""));
	assert_false(container_id_valid(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_paths),   cmocka_unit_test(test_long_path),
		cmocka_unit_test(test_mountinfo),      cmocka_unit_test(test_annotations_fixtures),
		cmocka_unit_test(test_annotations_hostile), cmocka_unit_test(test_id_valid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
