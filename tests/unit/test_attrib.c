// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Attribution against the real cgroup2 tree (root): scan, lookup, inotify, eviction. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attrib.h"

#define ID1 "1111111111111111111111111111111111111111111111111111111111111111"
#define ID2 "2222222222222222222222222222222222222222222222222222222222222222"
#define UID "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c"

static char root[PATH_MAX], base[PATH_MAX + 64], tmpdir[64];

struct seen {
	int added, removed;
	uint64_t last_id;
};

static void on_change(void *ctx, const struct container_info *info, bool added)
{
	struct seen *s = ctx;

	if (strstr(info->cgroup_path, base + strlen(root)) == NULL)
		return; /* somebody else's container on this machine */
	if (added)
		s->added++;
	else
		s->removed++;
	s->last_id = info->cgroup_id;
}

static void mkdirs(const char *path)
{
	char buf[3 * PATH_MAX];

	snprintf(buf, sizeof(buf), "mkdir -p '%s'", path);
	assert_int_equal(system(buf), 0);
}

static void write_meta(const char *id, const char *ns)
{
	char dir[PATH_MAX + 128], file[PATH_MAX + 160];
	FILE *f;

	snprintf(dir, sizeof(dir), "%s/io.containerd.runtime.v2.task/k8s.io/%s", tmpdir, id);
	mkdirs(dir);
	snprintf(file, sizeof(file), "%s/config.json", dir);
	f = fopen(file, "w");
	assert_non_null(f);
	fprintf(f, "{\"annotations\":{\"io.kubernetes.cri.sandbox-name\":\"web-1\","
		   "\"io.kubernetes.cri.sandbox-namespace\":\"%s\",\"io.kubernetes.cri.image-name\":\"busybox\"}}",
		ns);
	fclose(f);
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void test_scan_lookup_watch(void **state)
{
	const char *roots[] = { tmpdir };
	struct attrib_config cfg = { .cgroup_root = root, .containerd_roots = roots, .n_containerd_roots = 1 };
	char c1[PATH_MAX + 512], c2[PATH_MAX + 512], pod[PATH_MAX + 256];
	const struct container_info *ci;
	struct seen seen = { 0 };
	struct attrib *a;
	struct pollfd pfd;

	(void)state;
	snprintf(pod, sizeof(pod), "%s/kubepods/besteffort/pod%s", base, UID);
	snprintf(c1, sizeof(c1), "%s/%s", pod, ID1);
	snprintf(c2, sizeof(c2), "%s/%s", pod, ID2);
	write_meta(ID1, "shop");
	write_meta(ID2, "backup");
	mkdirs(c1);

	a = attrib_new(&cfg);
	assert_non_null(a);
	assert_int_equal(attrib_scan(a, on_change, &seen), 0);
	assert_int_equal(seen.added, 1);
	assert_int_equal(attrib_lookup(a, ino_of(c1), &ci), 0);
	assert_string_equal(ci->ref.id, ID1);
	assert_true(ci->meta_known);
	assert_string_equal(ci->meta.namespace_, "shop");
	assert_string_equal(ci->scope_path, c1);
	/* The pod-level cgroup and the test's base are host cgroups. */
	assert_int_equal(attrib_lookup(a, ino_of(pod), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(base), &ci), -ENOENT);

	/* A container that appears later is reported through inotify. */
	assert_true(attrib_watch_fd(a) >= 0);
	mkdirs(c2);
	pfd = (struct pollfd){ .fd = attrib_watch_fd(a), .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(attrib_watch_process(a, on_change, &seen), 0);
	assert_int_equal(seen.added, 2);
	assert_int_equal(seen.last_id, ino_of(c2));

	/* ... and one that goes away is evicted. */
	assert_int_equal(rmdir(c2), 0);
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(attrib_watch_process(a, on_change, &seen), 0);
	assert_int_equal(seen.removed, 1);

	/* A lookup by id finds a container the cache has not seen (open_by_handle_at). */
	mkdirs(c2);
	{
		struct attrib *fresh = attrib_new(&cfg);

		assert_int_equal(attrib_lookup(fresh, ino_of(c2), &ci), 0);
		assert_string_equal(ci->meta.namespace_, "backup");
		attrib_free(fresh);
	}
	rmdir(c2);
	rmdir(c1);
	assert_int_equal(attrib_scan(a, on_change, &seen), 0);
	assert_int_equal(seen.removed, 2);
	attrib_free(a);
}

static int setup(void **state)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f;

	(void)state;
	if (geteuid()) {
		fprintf(stderr, "test_attrib needs root (real cgroup2 tree)\n");
		return -1;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f || getdelim(&text, &cap, '\0', f) < 0 || cgroup2_mount_from_mountinfo(text, root, sizeof(root))) {
		fprintf(stderr, "test_attrib: no cgroup2 mount\n");
		return -1;
	}
	fclose(f);
	free(text);
	snprintf(base, sizeof(base), "%s/reflex-unit-attrib-%d", root, (int)getpid());
	strcpy(tmpdir, "/tmp/reflex-attrib-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char cmd[2 * PATH_MAX];

	(void)state;
	/* Cgroup dirs go bottom-up with rmdir; find -depth does that. */
	snprintf(cmd, sizeof(cmd), "find '%s' -depth -type d -exec rmdir {} + 2>/dev/null", base);
	if (system(cmd)) {
		/* already gone */
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scan_lookup_watch),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
