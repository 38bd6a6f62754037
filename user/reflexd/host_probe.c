// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * What this host offers reflexd (see host_probe.h), read once at start-up,
 * with every capability still held.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent_internal.h"
#include "container.h"
#include "host_probe.h"
#include "log.h"
#include "metrics.h"
#include "util.h"

int host_find_cgroup_root(struct agent *a)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f;
	int err;

	if (a->config->agent.cgroup_root && *a->config->agent.cgroup_root) {
		copy_str(a->cgroup_root, sizeof(a->cgroup_root), a->config->agent.cgroup_root);
		return 0;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	/* getdelim with NUL reads the whole file. */
	if (getdelim(&text, &cap, '\0', f) < 0) {
		err = -errno;
		fclose(f);
		free(text);
		return err ? err : -EIO;
	}
	fclose(f);
	err = cgroup2_mount_from_mountinfo(text, a->cgroup_root, sizeof(a->cgroup_root));
	free(text);
	return err;
}

void host_read_boot_id(struct agent *a)
{
	if (util_read_small_file("/proc/sys/kernel/random/boot_id", a->boot_id, sizeof(a->boot_id)) <= 0)
		copy_str(a->boot_id, sizeof(a->boot_id), "00000000");
}

/* First directory entry below DIR that is a directory, into ret. */
static bool first_child_dir(const char *dir, char *ret, size_t size)
{
	struct dirent *de;
	bool found = false;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while ((de = readdir(d))) {
		if (de->d_type == DT_DIR && de->d_name[0] != '.') {
			found = (size_t)snprintf(ret, size, "%s/%s", dir, de->d_name) < size;
			break;
		}
	}
	closedir(d);
	return found;
}

/* cgroup v1 freezer mount point from mountinfo, "" if none. */
static void find_freezer_root(struct agent *a)
{
	char line[4096], mnt[PATH_MAX], fstype[64], super[1024];
	FILE *f = fopen("/proc/self/mountinfo", "re");

	a->freezer_root[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *sep = strstr(line, " - ");

		if (!sep || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%63s %*s %1023s", fstype, super) != 2)
			continue;
		if (strcmp(fstype, "cgroup") == 0 && strstr(super, "freezer")) {
			copy_str(a->freezer_root, sizeof(a->freezer_root), mnt);
			break;
		}
	}
	fclose(f);
}

/*
 * cgroup.kill exists in every non-root cgroup on kernels >= 5.14, the root
 * has none, and there may be no child yet: make a short-lived one to look.
 * Without it, fall back to the v1 freezer.
 */
void host_probe_container_kill(struct agent *a)
{
	char child[PATH_MAX + 32], file[PATH_MAX + 48];

	a->cgroup_kill_supported = false;
	if (!a->opts.force_cgroup_v1_kill) {
		bool made;

		snprintf(child, sizeof(child), "%s/reflex-probe-%d", a->cgroup_root, (int)a->self_pid);
		made = mkdir(child, 0700) == 0;
		if (made || first_child_dir(a->cgroup_root, child, sizeof(child))) {
			snprintf(file, sizeof(file), "%s/cgroup.kill", child);
			a->cgroup_kill_supported = access(file, W_OK) == 0;
		}
		if (made && rmdir(child))
			log_errno(LOG_LEVEL_WARN, -errno, "removing probe cgroup %s", child);
	}
	find_freezer_root(a);
	if (a->cgroup_kill_supported) {
		metrics_set_hook(a->metrics, "cgroup.kill (container kill)", true, "cgroup v2");
		return;
	}
	metrics_set_hook(a->metrics, "cgroup.kill (container kill)", false,
			 a->opts.force_cgroup_v1_kill ? "forced off" : "not in this kernel");
	metrics_set_hook(a->metrics, "cgroup v1 freezer (container kill)", a->freezer_root[0] != '\0',
			 a->freezer_root[0] ? a->freezer_root : "no freezer hierarchy mounted");
	log_warn("container kill: cgroup.kill unavailable (%s); using %s",
		 a->opts.force_cgroup_v1_kill ? "forced off" : "kernel < 5.14",
		 a->freezer_root[0] ? "the cgroup v1 freezer" : "nothing: kill_container will fail");
}

/* Inode of a /proc/PID/ns/mnt link ("mnt:[4026531840]"). */
static int mnt_ns_inum(const char *link, uint32_t *ret)
{
	char buf[64];
	unsigned long long inum;
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);

	if (n < 0)
		return -errno;
	buf[n] = '\0';
	if (sscanf(buf, "mnt:[%llu]", &inum) != 1)
		return -EINVAL;
	*ret = (uint32_t)inum;
	return 0;
}

int host_mnt_ns(uint32_t *ret)
{
	int err = mnt_ns_inum("/proc/1/ns/mnt", ret);

	if (!err)
		return 0;
	log_errno(LOG_LEVEL_WARN, err, "reading /proc/1/ns/mnt; taking reflexd's own mount namespace as the host's");
	err = mnt_ns_inum("/proc/self/ns/mnt", ret);
	if (err)
		log_errno(LOG_LEVEL_ERROR, err, "reading /proc/self/ns/mnt");
	return err;
}
