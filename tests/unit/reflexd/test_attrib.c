// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Attribution against the REAL cgroup2 tree: needs root and a cgroup2 mount,
 * and fails (never skips) without them. Each test builds its own tree
 * <cgroup2>/reflex-test-<pid>/... named the way kubelet names it, plus runtime
 * state dirs in /tmp, and removes both bottom-up even when it fails. The real
 * tree holds other cgroups: only our own are asserted on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/capability.h>

#include <cmocka.h>

#include "attrib.h"

#define UID "6f1c2b7a-3d4e-4f5a-9b8c-7d6e5f4a3b2c"
#define UID_ "6f1c2b7a_3d4e_4f5a_9b8c_7d6e5f4a3b2c"
#define UID2 "0e1d2c3b-4a59-4867-8574-635241302f1e"
#define UID2_ "0e1d2c3b_4a59_4867_8574_635241302f1e"
#define CGROUP2_SUPER_MAGIC 0x63677270

static char root[PATH_MAX];        /* the cgroup2 mount */
static char base[PATH_MAX];        /* <root>/reflex-test-<pid> */
static char containerd[PATH_MAX];  /* a containerd root in /tmp */
static char crio[PATH_MAX];        /* a CRI-O root in /tmp */

/* ---- helpers ------------------------------------------------------------ */

/* snprintf into a PATH_MAX buffer; a path that does not fit fails the test. */
__attribute__((format(printf, 2, 3))) static void pathf(char *buf, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX)
		fail_msg("path too long: %s", fmt);
}

/* A container id of our own: 64 hex from a number. */
static void make_id(char id[65], unsigned int n)
{
	snprintf(id, 65, "%08x%056x", n, 0xabcU);
}

static void mkdir_p(const char *path)
{
	char buf[PATH_MAX];

	assert_true(strlen(path) < sizeof(buf));
	strcpy(buf, path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) && errno != EEXIST)
			fail_msg("mkdir %s: %s", buf, strerror(errno));
		*p = '/';
	}
	if (mkdir(buf, 0755) && errno != EEXIST)
		fail_msg("mkdir %s: %s", buf, strerror(errno));
}

static uint64_t ino_of(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		fail_msg("stat %s: %s", path, strerror(errno));
	return (uint64_t)st.st_ino;
}

static void write_file(const char *path, const char *text)
{
	char dir[PATH_MAX];
	FILE *f;

	strcpy(dir, path);
	*strrchr(dir, '/') = '\0';
	mkdir_p(dir);
	f = fopen(path, "we");
	if (!f)
		fail_msg("fopen %s: %s", path, strerror(errno));
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

static void config_json(char *buf, size_t size, const char *ns, const char *pod, const char *uid, bool crio_keys)
{
	if (crio_keys)
		snprintf(buf, size,
			 "{\"ociVersion\":\"1.0.2-dev\",\"annotations\":{\"io.kubernetes.pod.name\":\"%s\","
			 "\"io.kubernetes.pod.namespace\":\"%s\",\"io.kubernetes.pod.uid\":\"%s\","
			 "\"io.kubernetes.container.name\":\"app\"}}",
			 pod, ns, uid);
	else
		snprintf(buf, size,
			 "{\"ociVersion\":\"1.1.0\",\"annotations\":{\"io.kubernetes.cri.container-name\":\"app\","
			 "\"io.kubernetes.cri.container-type\":\"container\",\"io.kubernetes.cri.image-name\":"
			 "\"registry.example/app:1\",\"io.kubernetes.cri.sandbox-name\":\"%s\","
			 "\"io.kubernetes.cri.sandbox-namespace\":\"%s\",\"io.kubernetes.cri.sandbox-uid\":\"%s\"}}",
			 pod, ns, uid);
}

static void containerd_path(char *buf, size_t size, const char *id)
{
	assert_int_equal(size, PATH_MAX);
	pathf(buf, "%s/io.containerd.runtime.v2.task/k8s.io/%s/config.json", containerd, id);
}

static void write_containerd_meta(const char *id, const char *ns, const char *pod)
{
	char path[PATH_MAX], text[1024];

	containerd_path(path, sizeof(path), id);
	config_json(text, sizeof(text), ns, pod, UID, false);
	write_file(path, text);
}

static void write_crio_meta(const char *id, const char *ns, const char *pod)
{
	char path[PATH_MAX], text[1024];

	pathf(path, "%s/overlay-containers/%s/userdata/config.json", crio, id);
	config_json(text, sizeof(text), ns, pod, UID2, true);
	write_file(path, text);
}

/* Removes a tree bottom-up: rmdir for cgroups (their files cannot be unlinked). */
static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		rmdir(path);
	else if (strncmp(path, root, strlen(root)))
		unlink(path); /* runtime state in /tmp; cgroup control files go with their dir */
	return 0;
}

static void rm_tree(const char *path)
{
	if (path[0])
		nftw(path, rm_entry, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
}

/* In dir, trees named <prefix><pid>-... or <prefix><pid> left by runs that died (sanitizer abort, kill). */
static void rm_stale(const char *dir, const char *prefix)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		size_t plen = strlen(prefix);
		char *end;
		long pid;

		if (strncmp(de->d_name, prefix, plen))
			continue;
		pid = strtol(de->d_name + plen, &end, 10);
		if (end == de->d_name + plen || (*end && *end != '-') || pid <= 0 || pid == getpid() ||
		    kill((pid_t)pid, 0) == 0)
			continue;
		pathf(path, "%s/%s", dir, de->d_name);
		rm_tree(path);
	}
	closedir(d);
}

/* Effective CAP_DAC_READ_SEARCH on or off (it stays permitted, so it can come back). */
static void cap_dac_read_search(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct d[2];

	assert_int_equal(syscall(SYS_capget, &h, d), 0);
	if (on)
		d[0].effective |= 1U << CAP_DAC_READ_SEARCH;
	else
		d[0].effective &= ~(1U << CAP_DAC_READ_SEARCH);
	assert_int_equal(syscall(SYS_capset, &h, d), 0);
}

/* ---- what the callback saw --------------------------------------------- */

#define MAX_SEEN 1024

struct change {
	uint64_t id;
	bool added;
	bool meta_known;
	char cgroup_path[PATH_MAX];
};

struct seen {
	size_t n;
	struct change c[MAX_SEEN];
};

static struct seen *seen;

static void on_change(void *ctx, const struct container_info *info, bool added)
{
	struct seen *s = ctx;

	/* Paths are relative to the test's own root: every change is ours. */
	assert_true(info->cgroup_path[0] == '/');
	assert_true(s->n < MAX_SEEN);
	s->c[s->n].id = info->cgroup_id;
	s->c[s->n].added = added;
	s->c[s->n].meta_known = info->meta_known;
	strcpy(s->c[s->n].cgroup_path, info->cgroup_path);
	s->n++;
}

static size_t count(uint64_t id, bool added)
{
	size_t n = 0;

	for (size_t i = 0; i < seen->n; i++)
		n += seen->c[i].id == id && seen->c[i].added == added;
	return n;
}

static size_t count_all(bool added)
{
	size_t n = 0;

	for (size_t i = 0; i < seen->n; i++)
		n += seen->c[i].added == added;
	return n;
}

/*
 * The test's own subtree of the real cgroup2 tree is the root, as a cgroup
 * namespace's root would be: kubelet's kubepods hierarchy sits right under
 * it, and the host's real /kubepods (other tests' containers) is not seen.
 */
static struct attrib *new_attrib(void)
{
	const char *roots[] = { "/nonexistent/containerd", containerd };
	struct attrib_config cfg = {
		.cgroup_root = base,
		.containerd_roots = roots,
		.n_containerd_roots = 2,
		.crio_root = crio,
	};
	struct attrib *a = NULL;
	int err = attrib_new(&cfg, &a);

	if (err)
		fail_msg("attrib_new(%s): %s", base, strerror(-err));
	return a;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Feeds inotify events to attrib until cond holds or 3 s pass. */
static bool pump_until(struct attrib *a, bool (*cond)(uint64_t), uint64_t arg)
{
	uint64_t deadline = now_ms() + 3000;
	struct pollfd pfd = { .fd = attrib_watch_fd(a), .events = POLLIN };

	while (!cond(arg)) {
		uint64_t now = now_ms();

		if (now >= deadline)
			return false;
		if (poll(&pfd, 1, (int)(deadline - now)) == 1)
			assert_int_equal(attrib_watch_process(a, on_change, seen), 0);
	}
	return true;
}

static bool added_once(uint64_t id)
{
	return count(id, true) >= 1;
}

static bool removed_once(uint64_t id)
{
	return count(id, false) >= 1;
}

/* Does this process's inotify fd still hold a watch on inode ino? */
static bool watching_inode(int ifd, uint64_t ino)
{
	char path[64], line[512], want[64];
	bool found = false;
	FILE *f;

	pathf(path, "/proc/self/fdinfo/%d", ifd);
	snprintf(want, sizeof(want), " ino:%llx ", (unsigned long long)ino);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		found |= strncmp(line, "inotify ", 8) == 0 && strstr(line, want);
	fclose(f);
	return found;
}

/* ---- fixtures ----------------------------------------------------------- */

static int setup(void **state)
{
	char *text = NULL, tmpl[64];
	size_t cap = 0;
	struct statfs sfs;
	FILE *f;

	(void)state;
	if (geteuid() != 0)
		fail_msg("test_attrib must run as root: it builds cgroups in the real cgroup2 tree");
	f = fopen("/proc/self/mountinfo", "re");
	assert_non_null(f);
	assert_true(getdelim(&text, &cap, '\0', f) > 0);
	fclose(f);
	if (cgroup2_mount_from_mountinfo(text, root, sizeof(root))) {
		free(text);
		fail_msg("test_attrib needs a cgroup2 mount; /proc/self/mountinfo has none");
	}
	free(text);
	if (statfs(root, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC)
		fail_msg("%s is not a cgroup2 filesystem", root);
	rm_stale(root, "reflex-test-");
	rm_stale("/tmp", "reflex-attrib-");
	pathf(base, "%s/reflex-test-%d", root, (int)getpid());
	rm_tree(base);
	if (mkdir(base, 0755))
		fail_msg("mkdir %s: %s", base, strerror(errno));
	snprintf(tmpl, sizeof(tmpl), "/tmp/reflex-attrib-%d-XXXXXX", (int)getpid());
	assert_non_null(mkdtemp(tmpl));
	pathf(containerd, "%s/containerd", tmpl);
	pathf(crio, "%s/crio", tmpl);
	mkdir_p(containerd);
	mkdir_p(crio);
	seen = calloc(1, sizeof(*seen));
	assert_non_null(seen);
	return 0;
}

static int teardown(void **state)
{
	char tmp[PATH_MAX];
	struct stat st;

	(void)state;
	cap_dac_read_search(true);
	alarm(0);
	rm_tree(base);
	if (base[0] && stat(base, &st) == 0)
		fprintf(stderr, "test_attrib: could not remove %s\n", base);
	if (containerd[0]) {
		strcpy(tmp, containerd);
		*strrchr(tmp, '/') = '\0';
		rm_tree(tmp);
	}
	free(seen);
	seen = NULL;
	return 0;
}

/* ---- tests -------------------------------------------------------------- */

/*
 * A cgroupfs-driver container with containerd metadata and a systemd-driver
 * CRI-O container with crun's "container" child: scan, lookup, host cgroups.
 */
static void test_scan_and_lookup(void **state)
{
	char id1[65], id2[65], pod[PATH_MAX], c1[PATH_MAX], sd_pod[PATH_MAX], c2[PATH_MAX], c2child[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;

	make_id(id1, 1);
	make_id(id2, 2);
	pathf(pod, "%s/kubepods/besteffort/pod%s", base, UID);
	pathf(c1, "%s/%s", pod, id1);
	pathf(sd_pod,
	      "%s/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice", base, UID_);
	pathf(c2, "%s/crio-%s.scope", sd_pod, id2);
	pathf(c2child, "%s/container", c2);
	write_containerd_meta(id1, "shop", "web-1");
	write_crio_meta(id2, "backup", "restic-0");
	mkdir_p(c1);
	mkdir_p(c2child);

	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 3);
	assert_int_equal(count(ino_of(c1), true), 1);
	assert_int_equal(count(ino_of(c2), true), 1);
	assert_int_equal(count(ino_of(c2child), true), 1);
	for (size_t i = 0; i < seen->n; i++)
		assert_true(seen->c[i].meta_known);
	assert_true(attrib_count(a) >= 3);

	/* cgroupfs driver: runtime unknown, containerd's state found anyway */
	assert_int_equal(attrib_lookup(a, ino_of(c1), &ci), 0);
	assert_int_equal(ci->cgroup_id, ino_of(c1));
	assert_string_equal(ci->ref.id, id1);
	assert_int_equal(ci->ref.runtime, RUNTIME_UNKNOWN);
	assert_string_equal(ci->ref.pod_uid, UID);
	assert_string_equal(ci->cgroup_path, c1 + strlen(base));
	assert_string_equal(ci->scope_path, c1);
	assert_true(ci->meta_known);
	assert_string_equal(ci->meta.namespace_, "shop");
	assert_string_equal(ci->meta.pod_name, "web-1");
	assert_string_equal(ci->meta.image, "registry.example/app:1");

	/* crun's child: its own id, the container's scope, CRI-O's state */
	assert_int_equal(attrib_lookup(a, ino_of(c2child), &ci), 0);
	assert_int_equal(ci->cgroup_id, ino_of(c2child));
	assert_string_equal(ci->ref.id, id2);
	assert_int_equal(ci->ref.runtime, RUNTIME_CRIO);
	assert_string_equal(ci->ref.pod_uid, UID);
	assert_string_equal(ci->cgroup_path, c2child + strlen(base));
	assert_string_equal(ci->scope_path, c2);
	assert_true(ci->meta_known);
	assert_string_equal(ci->meta.namespace_, "backup");
	assert_string_equal(ci->meta.pod_uid, UID2);
	assert_int_equal(attrib_lookup(a, ino_of(c2), &ci), 0);
	assert_string_equal(ci->scope_path, c2);

	/* Host cgroups: pod level, QoS level, the test's own parent, the root, none at all. */
	assert_int_equal(attrib_lookup(a, ino_of(pod), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(sd_pod), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(base), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(root), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, 0, &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, UINT64_MAX - 7, &ci), -ENOENT);

	/* Scanning again changes nothing. */
	seen->n = 0;
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 0);

	/* Gone without inotify being read: the scan evicts them, once each. */
	assert_int_equal(rmdir(c2child), 0);
	assert_int_equal(rmdir(c2), 0);
	assert_int_equal(rmdir(c1), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 3);
	assert_int_equal(count_all(false), 3);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 3);
	assert_int_equal(attrib_lookup(a, ino_of(base), &ci), -ENOENT);
	attrib_free(a);
}

/* A cache miss resolves through a kernfs handle, and is reported by the next scan. */
static void test_lookup_by_handle(void **state)
{
	char id[65], c[PATH_MAX], child[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;

	make_id(id, 3);
	pathf(c, "%s/kubepods/pod%s/%s", base, UID, id);
	pathf(child, "%s/sub", c);
	write_containerd_meta(id, "payments", "api-7d9f4b-xkp2m");
	mkdir_p(child);

	a = new_attrib(); /* never scanned */
	assert_int_equal(attrib_count(a), 0);
	assert_int_equal(attrib_lookup(a, ino_of(child), &ci), 0);
	assert_string_equal(ci->ref.id, id);
	assert_string_equal(ci->scope_path, c);
	assert_true(ci->meta_known);
	assert_string_equal(ci->meta.namespace_, "payments");
	assert_int_equal(attrib_count(a), 1);
	/* A second lookup is a cache hit: same answer. */
	assert_int_equal(attrib_lookup(a, ino_of(child), &ci), 0);
	assert_int_equal(attrib_count(a), 1);
	assert_int_equal(attrib_lookup(a, ino_of(base), &ci), -ENOENT);
	assert_int_equal(attrib_count(a), 1);

	/* The scan reports what lookup found on its own, and only once. */
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(ino_of(child), true), 1);
	assert_int_equal(count(ino_of(c), true), 1);
	assert_int_equal(seen->n, 2);

	/* Once removed, the same id is unknown, by handle too. */
	{
		uint64_t gone = ino_of(child);

		assert_int_equal(rmdir(child), 0);
		assert_int_equal(attrib_scan(a, on_change, seen), 0);
		assert_int_equal(count(gone, false), 1);
		assert_int_equal(attrib_lookup(a, gone, &ci), -ENOENT);
	}
	attrib_free(a);
}

/* Found by lookup and gone before any scan: never reported, neither way. */
static void test_lookup_unreported(void **state)
{
	char id[65], c[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;
	uint64_t cid;

	make_id(id, 8);
	pathf(c, "%s/kubepods/pod%s/%s", base, UID, id);
	mkdir_p(c);
	cid = ino_of(c);
	a = new_attrib();
	assert_int_equal(attrib_lookup(a, cid, &ci), 0);
	assert_int_equal(ci->ref.runtime, RUNTIME_UNKNOWN);
	assert_string_equal(ci->ref.pod_uid, UID);
	assert_int_equal(rmdir(c), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(cid, true), 0);
	assert_int_equal(count(cid, false), 0);
	assert_int_equal(attrib_lookup(a, cid, &ci), -ENOENT);
	attrib_free(a);
}

/*
 * Deeper than the walk goes: found by handle, kept by scans while it
 * exists (checked directly), evicted once it does not.
 */
static void test_deep(void **state)
{
	char id[65], c[PATH_MAX], p[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;
	uint64_t cid;
	size_t len;

	/* A container's own cgroups nested 60 deep below it (the pod hierarchy is at the root). */
	make_id(id, 9);
	pathf(c, "%s/kubepods/pod%s/%s", base, UID, id);
	len = (size_t)snprintf(p, sizeof(p), "%s", c);
	for (int i = 0; i < 60; i++)
		len += (size_t)snprintf(p + len, sizeof(p) - len, "/d");
	mkdir_p(p);
	strcpy(c, p); /* the deepest is the one looked up */
	cid = ino_of(c);
	write_containerd_meta(id, "deep", "abyss");

	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(cid, true), 0); /* too deep for the walk */
	assert_int_equal(attrib_lookup(a, cid, &ci), 0);
	assert_int_equal(strlen(ci->scope_path), strlen(base) + strlen("/kubepods/pod" UID "/") + 64);
	assert_string_equal(ci->meta.pod_name, "abyss");
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(cid, true), 1);
	assert_int_equal(count(cid, false), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(cid, false), 0);
	assert_int_equal(rmdir(c), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(cid, false), 1);
	attrib_free(a);
}

/* Without CAP_DAC_READ_SEARCH there are no handles: a rescan, at most every 100 ms. */
static void test_lookup_fallback_rescan(void **state)
{
	char id1[65], id2[65], c1[PATH_MAX], c2[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;

	make_id(id1, 4);
	make_id(id2, 5);
	pathf(c1, "%s/kubepods/burstable/pod%s/%s", base, UID, id1);
	pathf(c2, "%s/kubepods/burstable/pod%s/%s", base, UID, id2);
	mkdir_p(c1);

	a = new_attrib();
	cap_dac_read_search(false);
	assert_int_equal(attrib_lookup(a, ino_of(c1), &ci), 0);
	assert_string_equal(ci->ref.id, id1);
	assert_false(ci->meta_known); /* nothing written for it */

	/* Made right after that rescan: not found until 100 ms have passed. */
	mkdir_p(c2);
	if (attrib_lookup(a, ino_of(c2), &ci) != -ENOENT)
		fail_msg("a second rescan within 100 ms (or open_by_handle_at works without CAP_DAC_READ_SEARCH)");
	usleep(150 * 1000);
	assert_int_equal(attrib_lookup(a, ino_of(c2), &ci), 0);
	assert_string_equal(ci->ref.id, id2);
	/* Host cgroups are still host cgroups. */
	usleep(150 * 1000);
	assert_int_equal(attrib_lookup(a, ino_of(base), &ci), -ENOENT);
	cap_dac_read_search(true);

	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(ino_of(c1), true), 1);
	assert_int_equal(count(ino_of(c2), true), 1);
	attrib_free(a);
}

/* inotify: containers (and their pods, made in one go) that appear and go after the start. */
static void test_watch(void **state)
{
	char id[65], pod[PATH_MAX], c[PATH_MAX], child[PATH_MAX];
	const struct container_info *ci;
	uint64_t cid, childid, podid;
	struct attrib *a;

	make_id(id, 6);
	pathf(pod, "%s/kubepods/besteffort/pod%s", base, UID2);
	pathf(c, "%s/%s", pod, id);
	pathf(child, "%s/container", c);
	write_containerd_meta(id, "shop", "cart-0");

	a = new_attrib();
	assert_true(attrib_watch_fd(a) >= 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 0);

	/* The whole chain at once, as mkdir -p does: the watch must race it. */
	mkdir_p(c);
	cid = ino_of(c);
	podid = ino_of(pod);
	if (!pump_until(a, added_once, cid))
		fail_msg("inotify did not report %s", c);
	assert_int_equal(count(cid, true), 1);
	assert_true(seen->c[0].meta_known);
	assert_int_equal(attrib_lookup(a, cid, &ci), 0);
	assert_string_equal(ci->meta.pod_name, "cart-0");

	/* A child made later is its own entry of the same container. */
	assert_int_equal(mkdir(child, 0755), 0);
	childid = ino_of(child);
	if (!pump_until(a, added_once, childid))
		fail_msg("inotify did not report %s", child);
	assert_int_equal(attrib_lookup(a, childid, &ci), 0);
	assert_string_equal(ci->scope_path, c);
	assert_true(watching_inode(attrib_watch_fd(a), childid));

	/* rmdir: evicted with fn(..., false), and the watch on it let go. */
	assert_int_equal(rmdir(child), 0);
	assert_int_equal(rmdir(c), 0);
	if (!pump_until(a, removed_once, cid) || !pump_until(a, removed_once, childid))
		fail_msg("inotify did not report the removals");
	assert_int_equal(count(cid, false), 1);
	assert_int_equal(count(childid, false), 1);
	assert_int_equal(attrib_lookup(a, cid, &ci), -ENOENT);
	assert_false(watching_inode(attrib_watch_fd(a), childid));
	assert_false(watching_inode(attrib_watch_fd(a), cid));
	assert_true(watching_inode(attrib_watch_fd(a), podid));

	/* The same name again is a new cgroup with a new id. */
	mkdir_p(c);
	assert_true(ino_of(c) != cid);
	cid = ino_of(c);
	if (!pump_until(a, added_once, cid))
		fail_msg("inotify did not report %s made again", c);
	assert_int_equal(rmdir(c), 0);
	assert_int_equal(rmdir(pod), 0);
	if (!pump_until(a, removed_once, cid))
		fail_msg("inotify did not report the second removal");
	assert_false(watching_inode(attrib_watch_fd(a), podid));
	/* Nothing left over for a scan to find. */
	{
		size_t n = seen->n;

		assert_int_equal(attrib_scan(a, on_change, seen), 0);
		assert_int_equal(seen->n, n);
	}
	attrib_free(a);
}

/* Metadata written after the cgroup appeared: picked up, and reported again. */
static void test_meta_late(void **state)
{
	char id[65], c[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;
	uint64_t cid;

	make_id(id, 7);
	pathf(c, "%s/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope", base, UID_, id);
	mkdir_p(c);
	cid = ino_of(c);

	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 1);
	assert_false(seen->c[0].meta_known);
	assert_int_equal(attrib_lookup(a, cid, &ci), 0);
	assert_false(ci->meta_known);
	assert_int_equal(ci->ref.runtime, RUNTIME_CONTAINERD);

	write_containerd_meta(id, "late", "slow-writer");
	assert_int_equal(attrib_lookup(a, cid, &ci), 0);
	assert_true(ci->meta_known);
	assert_string_equal(ci->meta.namespace_, "late");
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 2);
	assert_true(seen->c[1].added && seen->c[1].meta_known && seen->c[1].id == cid);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 2);
	attrib_free(a);

	/* The scan alone finds it too. */
	seen->n = 0;
	a = new_attrib();
	{
		char path[PATH_MAX];

		containerd_path(path, sizeof(path), id);
		assert_int_equal(unlink(path), 0);
		assert_int_equal(attrib_scan(a, on_change, seen), 0);
		assert_false(seen->c[0].meta_known);
		write_containerd_meta(id, "late", "slow-writer");
		assert_int_equal(attrib_scan(a, on_change, seen), 0);
		assert_int_equal(seen->n, 2);
		assert_true(seen->c[1].meta_known);
	}
	attrib_free(a);
}

/* Runtime state that is hostile or broken costs nothing but the metadata. */
static void test_meta_hostile(void **state)
{
	char ids[6][65], dir[PATH_MAX], path[PATH_MAX], target[PATH_MAX], text[1024];
	const struct container_info *ci;
	struct attrib *a;
	FILE *f;

	for (unsigned int i = 0; i < 6; i++) {
		char c[PATH_MAX];

		make_id(ids[i], 10 + i);
		pathf(c, "%s/kubepods/pod%s/%s", base, UID, ids[i]);
		mkdir_p(c);
		containerd_path(path, sizeof(path), ids[i]);
		strcpy(dir, path);
		*strrchr(dir, '/') = '\0';
		mkdir_p(dir);
	}
	/* 0: larger than 1 MiB (valid JSON, padded) */
	containerd_path(path, sizeof(path), ids[0]);
	config_json(text, sizeof(text), "big", "p", UID, false);
	f = fopen(path, "we");
	assert_non_null(f);
	for (int i = 0; i < (1 << 20) / 64 + 1; i++)
		fputs("                                                               \n", f);
	fputs(text, f);
	fclose(f);
	/* 1: a FIFO nobody writes to: must not block */
	containerd_path(path, sizeof(path), ids[1]);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* 2: a symlink to a valid file elsewhere: not followed */
	containerd_path(path, sizeof(path), ids[2]);
	pathf(target, "%s/elsewhere.json", containerd);
	config_json(text, sizeof(text), "symlinked", "p", UID, false);
	write_file(target, text);
	assert_int_equal(symlink(target, path), 0);
	/* 3: a directory */
	containerd_path(path, sizeof(path), ids[3]);
	assert_int_equal(mkdir(path, 0755), 0);
	/* 4: malformed */
	containerd_path(path, sizeof(path), ids[4]);
	write_file(path, "{\"annotations\": {\"io.kubernetes.cri.sandbox-name\": ");
	/* 5: annotations naming a namespace Kubernetes would never allow */
	containerd_path(path, sizeof(path), ids[5]);
	config_json(text, sizeof(text), "Kube-System", "p", UID, false);
	write_file(path, text);

	alarm(20); /* a blocked open of the FIFO fails the test instead of hanging it */
	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 6);
	for (unsigned int i = 0; i < 6; i++) {
		char c[PATH_MAX];

		pathf(c, "%s/kubepods/pod%s/%s", base, UID, ids[i]);
		assert_int_equal(attrib_lookup(a, ino_of(c), &ci), 0);
		assert_string_equal(ci->ref.id, ids[i]);
		if (ci->meta_known)
			fail_msg("case %u: metadata taken from %s", i, ci->meta.namespace_);
	}
	alarm(0);
	attrib_free(a);
}

/* Many containers: the cache grows, shrinks and still answers right. */
static void test_many(void **state)
{
	enum { N = 300 };
	char (*paths)[PATH_MAX] = calloc(N, PATH_MAX);
	uint64_t ids[N];
	const struct container_info *ci;
	struct attrib *a;

	assert_non_null(paths);
	for (unsigned int i = 0; i < N; i++) {
		char id[65];

		make_id(id, 1000 + i);
		pathf(paths[i], "%s/kubepods/besteffort/pod%s/%s", base, UID, id);
		mkdir_p(paths[i]);
		ids[i] = ino_of(paths[i]);
		if (i % 3 == 0)
			write_containerd_meta(id, "many", "p");
	}
	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, N);
	for (unsigned int i = 0; i < N; i++) {
		assert_int_equal(attrib_lookup(a, ids[i], &ci), 0);
		assert_int_equal(ci->cgroup_id, ids[i]);
		assert_string_equal(ci->scope_path, paths[i]);
		assert_int_equal(ci->meta_known, i % 3 == 0);
	}
	/* Lookups were all hits: nothing new for a scan to report. */
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, N);
	/* Every other one goes: inotify reports them, a scan after finds nothing more. */
	for (unsigned int i = 0; i < N; i += 2)
		assert_int_equal(rmdir(paths[i]), 0);
	assert_int_equal(attrib_watch_process(a, on_change, seen), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count_all(false), N / 2);
	for (unsigned int i = 0; i < N; i++) {
		int err = attrib_lookup(a, ids[i], &ci);

		if (i % 2 == 0) {
			assert_int_equal(err, -ENOENT);
		} else {
			assert_int_equal(err, 0);
			assert_int_equal(ci->cgroup_id, ids[i]);
			assert_string_equal(ci->scope_path, paths[i]);
		}
	}
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, N + N / 2);
	attrib_free(a);
	free(paths);
}

static void test_bad_arguments(void **state)
{
	const char *null_roots[] = { NULL };
	struct attrib_config cfg = { .cgroup_root = NULL };
	const struct container_info *ci;
	struct attrib *none = NULL;

	assert_int_equal(attrib_new(NULL, &none), -EINVAL);
	assert_int_equal(attrib_new(&cfg, &none), -EINVAL);
	cfg.cgroup_root = "";
	assert_int_equal(attrib_new(&cfg, &none), -EINVAL);
	cfg.cgroup_root = "/nonexistent/cgroup2";
	assert_int_equal(attrib_new(&cfg, &none), -ENOENT);
	/* Inode numbers of another filesystem are not cgroup ids. */
	cfg.cgroup_root = "/tmp";
	assert_int_equal(attrib_new(&cfg, &none), -EINVAL);
	cfg.cgroup_root = root;
	cfg.n_containerd_roots = 1;
	assert_int_equal(attrib_new(&cfg, &none), -EINVAL);
	cfg.containerd_roots = null_roots;
	assert_int_equal(attrib_new(&cfg, &none), -EINVAL);
	assert_null(none); /* never set on failure */
	/*
	 * No runtime roots at all is fine: no metadata, still containers.
	 * The mount reached through a symlink (and a trailing '/') is made
	 * canonical: paths still come out under the real mount point.
	 */
	cfg.n_containerd_roots = 0;
	cfg.containerd_roots = NULL;
	{
		char id[65], c[PATH_MAX], link[PATH_MAX], link_slash[PATH_MAX];
		struct attrib *a;

		pathf(link, "%s.link", containerd);
		pathf(link_slash, "%s/", link);
		assert_int_equal(symlink(base, link), 0);
		cfg.cgroup_root = link_slash;
		assert_int_equal(attrib_new(&cfg, &a), 0);
		assert_non_null(a);
		assert_int_equal(unlink(link), 0);
		make_id(id, 20);
		pathf(c, "%s/kubepods/pod%s/%s", base, UID, id);
		mkdir_p(c);
		assert_int_equal(attrib_lookup(a, ino_of(c), &ci), 0);
		assert_int_equal(ci->ref.runtime, RUNTIME_UNKNOWN);
		assert_false(ci->meta_known);
		assert_string_equal(ci->scope_path, c);
		assert_string_equal(ci->cgroup_path, c + strlen(base));
		assert_null(attrib_free(a));
	}

	assert_null(attrib_free(NULL));
	assert_int_equal(attrib_scan(NULL, on_change, seen), -EINVAL);
	assert_int_equal(attrib_lookup(NULL, 1, &ci), -EINVAL);
	assert_int_equal(attrib_watch_process(NULL, on_change, seen), -EINVAL);
	assert_int_equal(attrib_watch_fd(NULL), -1);
	assert_int_equal(attrib_count(NULL), 0);
	{
		struct attrib *a = new_attrib();

		assert_int_equal(attrib_lookup(a, 1, NULL), -EINVAL);
		/* A NULL callback is allowed. */
		assert_int_equal(attrib_scan(a, NULL, NULL), 0);
		assert_int_equal(attrib_watch_process(a, NULL, NULL), 0);
		attrib_free(a);
	}
}

/*
 * Only kubelet's pod hierarchy holds containers: a cgroup merely named like a
 * runtime's scope elsewhere is a host cgroup, never reported, never a
 * container a kill could be aimed at.
 */
static void test_outside_pod_hierarchy(void **state)
{
	char id[65], evil[PATH_MAX], evil_pod[PATH_MAX], docker[PATH_MAX], good[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;

	make_id(id, 30);
	pathf(evil, "%s/evil/cri-containerd-%s.scope", base, id);
	pathf(evil_pod, "%s/evil/kubepods/besteffort/pod%s/%s", base, UID, id);
	pathf(docker, "%s/docker/%s", base, id);
	pathf(good, "%s/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod%s.slice/cri-containerd-%s.scope",
	      base, UID_, id);
	write_containerd_meta(id, "shop", "web-1");
	mkdir_p(evil);
	mkdir_p(evil_pod);
	mkdir_p(docker);
	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 0);
	assert_int_equal(attrib_lookup(a, ino_of(evil), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(evil_pod), &ci), -ENOENT);
	assert_int_equal(attrib_lookup(a, ino_of(docker), &ci), -ENOENT);
	assert_int_equal(attrib_find_container(a, id, on_change, seen, &ci), -ENOENT);
	/* The same id named the way kubelet names it is the container, and the lookalikes do not rival it. */
	mkdir_p(good);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(count(ino_of(good), true), 1);
	assert_int_equal(seen->n, 1);
	assert_int_equal(attrib_lookup(a, ino_of(good), &ci), 0);
	assert_string_equal(ci->meta.namespace_, "shop");
	assert_int_equal(attrib_find_container(a, id, on_change, seen, &ci), 0);
	assert_int_equal(ci->cgroup_id, ino_of(good));
	attrib_free(a);
}

/*
 * Two cgroups in the pod hierarchy claiming one container id: nobody can say
 * which one the runtime's metadata, an event or an alert is about. Both are
 * refused (-EEXIST, distinct from a host cgroup), neither is reported while
 * both exist; a child of one container (crun's "container") is no rival.
 */
static void test_two_cgroups_one_id(void **state)
{
	char id[65], c1[PATH_MAX], c1child[PATH_MAX], c2[PATH_MAX];
	const struct container_info *ci;
	struct attrib *a;

	make_id(id, 31);
	pathf(c1, "%s/kubepods/besteffort/pod%s/%s", base, UID, id);
	pathf(c1child, "%s/container", c1);
	pathf(c2, "%s/kubepods.slice/kubepods-pod%s.slice/cri-containerd-%s.scope", base, UID2_, id);
	write_containerd_meta(id, "shop", "web-1");
	mkdir_p(c1child);
	a = new_attrib();
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 2);
	assert_int_equal(attrib_lookup(a, ino_of(c1child), &ci), 0);
	assert_int_equal(attrib_find_container(a, id, on_change, seen, &ci), 0);

	mkdir_p(c2);
	seen->n = 0;
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(seen->n, 0); /* the newcomer is not reported */
	assert_int_equal(attrib_lookup(a, ino_of(c2), &ci), -EEXIST);
	assert_int_equal(attrib_lookup(a, ino_of(c1), &ci), -EEXIST);
	assert_int_equal(attrib_lookup(a, ino_of(c1child), &ci), -EEXIST);
	assert_int_equal(attrib_find_container(a, id, on_change, seen, &ci), -EEXIST);
	{
		char prefix[13];

		memcpy(prefix, id, 12);
		prefix[12] = '\0';
		assert_int_equal(attrib_find_container(a, prefix, on_change, seen, &ci), -EEXIST);
	}

	/* The rival gone: the container is one again. */
	assert_int_equal(rmdir(c2), 0);
	assert_int_equal(attrib_scan(a, on_change, seen), 0);
	assert_int_equal(attrib_lookup(a, ino_of(c1), &ci), 0);
	assert_string_equal(ci->meta.namespace_, "shop");
	attrib_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_and_lookup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_by_handle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_unreported, setup, teardown),
		cmocka_unit_test_setup_teardown(test_deep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_fallback_rescan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_late, setup, teardown),
		cmocka_unit_test_setup_teardown(test_meta_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_pod_hierarchy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_cgroups_one_id, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
