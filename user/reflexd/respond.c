// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "respond.h"
#include "util.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_send_signal
#define SYS_pidfd_send_signal 424
#endif

int respond_pidfd_open(pid_t pid)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : fd;
}

static int pidfd_send_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) ? -errno : 0;
}

int respond_proc_start_ticks(pid_t pid, uint64_t *ret_ticks)
{
	char path[64], buf[1024];
	unsigned long long ticks;
	char *p;
	int n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	n = util_read_small_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : n;
	/* comm may hold spaces and ')': fields resume after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	/* After ") " come fields 3.. ; starttime is field 22, the 20th from here. */
	p++;
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (sscanf(p, "%llu", &ticks) != 1)
		return -EINVAL;
	*ret_ticks = ticks;
	return 0;
}

/*
 * PIDFD_GET_INFO (Linux 6.13): the first, fixed-size version of the uapi
 * struct, declared here because older system headers lack it. The ioctl
 * number encodes this size, which every kernel that has the call accepts.
 */
struct reflex_pidfd_info {
	uint64_t mask;
	uint64_t cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	uint32_t spare0[1];
};
#define REFLEX_PIDFD_GET_INFO _IOWR(0xFF, 11, struct reflex_pidfd_info)
#define REFLEX_PIDFD_INFO_CGROUPID (1ULL << 2)

int respond_pidfd_cgroup_id(int pidfd, uint64_t *ret_id)
{
	struct reflex_pidfd_info info = { .mask = REFLEX_PIDFD_INFO_CGROUPID };

	if (ioctl(pidfd, REFLEX_PIDFD_GET_INFO, &info))
		return errno == ENOTTY || errno == EINVAL ? -EOPNOTSUPP : -errno;
	if (!(info.mask & REFLEX_PIDFD_INFO_CGROUPID))
		return -EOPNOTSUPP; /* no cgroup v2 id for it here */
	*ret_id = info.cgroupid;
	return 0;
}

int respond_proc_cgroup_path(pid_t pid, char *ret, size_t size)
{
	char path[64], buf[4096];
	char *line, *save = NULL;
	int n;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/cgroup");
	n = util_read_small_file(path, buf, sizeof(buf));
	if (n < 0)
		return n == -ENOENT ? -ESRCH : n;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) != 0)
			continue;
		if ((size_t)snprintf(ret, size, "%s", line + 3) >= size)
			return -ENAMETOOLONG;
		return 0;
	}
	return -ENOENT;
}

int respond_proc_cgroup_id(const char *cgroup_root, pid_t pid, uint64_t *ret_id)
{
	char rel[PATH_MAX], full[PATH_MAX];
	struct stat st;
	int err;

	err = respond_proc_cgroup_path(pid, rel, sizeof(rel));
	if (err)
		return err;
	if (strstr(rel, "/.."))
		return -EINVAL;
	if ((size_t)snprintf(full, sizeof(full), "%s%s", cgroup_root, rel) >= sizeof(full))
		return -ENAMETOOLONG;
	if (stat(full, &st))
		return -errno;
	*ret_id = (uint64_t)st.st_ino;
	return 0;
}

int respond_check_identity(const char *cgroup_root, int pidfd, const struct process_identity *id)
{
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t ticks, cgroup_id;
	int err;

	if (hz <= 0)
		return -EINVAL;
	/*
	 * The cgroup first: through the pidfd itself where the kernel can say
	 * (no /proc read, no path walk, no window), else by number from /proc.
	 */
	err = respond_pidfd_cgroup_id(pidfd, &cgroup_id);
	if (err == -EOPNOTSUPP)
		err = respond_proc_cgroup_id(cgroup_root, id->pid, &cgroup_id);
	if (err)
		return err == -ENOENT ? -ESTALE : err;
	if (cgroup_id != id->cgroup_id)
		return -ESTALE;
	err = respond_proc_start_ticks(id->pid, &ticks);
	if (err)
		return err;
	if (id->start_boottime_ns) {
		if (ticks != id->start_boottime_ns / (1000000000ULL / (uint64_t)hz))
			return -ESTALE;
	} else if (!id->not_after_boottime_ns || ticks > id->not_after_boottime_ns / (1000000000ULL / (uint64_t)hz)) {
		/* No start time: only a process already running at the event can be its process. */
		return -ESTALE;
	}
	/*
	 * The /proc reads went by number. The pidfd is alive, so the number
	 * still belongs to the process it pins: what we read was about it.
	 */
	return pidfd_send_signal(pidfd, 0);
}

/*
 * CHECKED: what the caller's checks of PIDFD's process said. 0: SIGKILL
 * through the pidfd, which goes to *RET_PIDFD; else (or if the signal
 * fails) it is closed and the error returned.
 */
static int sigkill_if_checked(int pidfd, int checked, int *ret_pidfd)
{
	int err = checked;

	if (!err)
		err = pidfd_send_signal(pidfd, SIGKILL);
	if (err) {
		close(pidfd);
		return err;
	}
	*ret_pidfd = pidfd;
	return 0;
}

int respond_kill_process(const char *cgroup_root, const struct process_identity *id, int *ret_pidfd)
{
	int pidfd;

	if (id->pid <= 1)
		return -EPERM;
	pidfd = respond_pidfd_open(id->pid);
	if (pidfd < 0)
		return pidfd;
	return sigkill_if_checked(pidfd, respond_check_identity(cgroup_root, pidfd, id), ret_pidfd);
}

static int write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	ssize_t n;
	int fd;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0) {
		n = -errno;
		close(fd);
		return (int)n;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

int respond_kill_cgroup(const char *cgroup_dir, int *ret_events_fd)
{
	char path[PATH_MAX];
	int events_fd, err;

	if ((size_t)snprintf(path, sizeof(path), "%s/cgroup.events", cgroup_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	/* Open first: if the cgroup vanishes meanwhile there is nothing to wait for. */
	events_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (events_fd < 0)
		return -errno;
	snprintf(path, sizeof(path), "%s/cgroup.kill", cgroup_dir);
	err = write_file(path, "1");
	if (err) {
		close(events_fd);
		return err;
	}
	*ret_events_fd = events_fd;
	return 0;
}

int respond_cgroup_populated(int events_fd)
{
	char buf[256];
	ssize_t n;
	char *p;

	n = pread(events_fd, buf, sizeof(buf) - 1, 0);
	if (n < 0)
		return errno == ENODEV ? 0 : -errno; /* cgroup removed: nothing left */
	buf[n] = '\0';
	p = strstr(buf, "populated ");
	if (!p)
		return -EINVAL;
	return p[10] == '1';
}

static int freezer_set(const char *freezer_dir, const char *state, unsigned int timeout_ms)
{
	char path[PATH_MAX], buf[64];
	struct timespec nap = { 0, 1000000 };
	int err;

	if ((size_t)snprintf(path, sizeof(path), "%s/freezer.state", freezer_dir) >= sizeof(path))
		return -ENAMETOOLONG;
	err = write_file(path, state);
	if (err)
		return err;
	for (unsigned int waited = 0; waited <= timeout_ms; waited++) {
		err = util_read_small_file(path, buf, sizeof(buf));
		if (err < 0)
			return err;
		if (strncmp(buf, state, strlen(state)) == 0)
			return 0;
		nanosleep(&nap, NULL);
	}
	return -ETIMEDOUT;
}

int respond_kill_cgroup_v1(const char *freezer_dir, unsigned int timeout_ms)
{
	char path[PATH_MAX];
	char *buf = NULL, *line, *save = NULL;
	int signalled = 0, err, thaw_err;
	size_t cap = 65536;

	err = freezer_set(freezer_dir, "FROZEN", timeout_ms);
	if (err)
		goto thaw;
	buf = malloc(cap);
	if (!buf) {
		err = -ENOMEM;
		goto thaw;
	}
	snprintf(path, sizeof(path), "%s/cgroup.procs", freezer_dir);
	err = util_read_small_file(path, buf, cap);
	if (err < 0)
		goto thaw;
	err = 0;
	/* Frozen: no pid in the list can exit and be reused before we open it. */
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		long pid = strtol(line, NULL, 10);
		int pidfd;

		if (pid <= 1)
			continue;
		pidfd = respond_pidfd_open((pid_t)pid);
		if (pidfd < 0)
			continue;
		if (pidfd_send_signal(pidfd, SIGKILL) == 0)
			signalled++;
		close(pidfd);
	}
thaw:
	/* SIGKILL is delivered on thaw; a group left frozen would be worse than none. */
	thaw_err = freezer_set(freezer_dir, "THAWED", timeout_ms);
	free(buf);
	if (err)
		return err;
	if (thaw_err)
		return thaw_err;
	return signalled;
}

int respond_proc_exe(pid_t pid, char *buf, size_t size)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
	n = readlink(link, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	/* An unlinked binary reads "PATH (deleted)": still the same executable. */
	if (n > 10 && !strcmp(buf + n - 10, " (deleted)")) {
		n -= 10;
		buf[n] = '\0';
	}
	return (int)n;
}

/* /proc/<pid>/exe is T's executable (" (deleted)" ignored): -ESRCH gone, -ESTALE another. */
static int exe_check(const struct respond_target *t, pid_t pid)
{
	char exe[PATH_MAX + 16];
	int n = respond_proc_exe(pid, exe, sizeof(exe));

	if (n < 0)
		return n == -ENOENT ? -ESRCH : -ESTALE; /* kernel threads have no exe */
	return strcmp(exe, t->exe_path) ? -ESTALE : 0;
}

int respond_check_target(const struct respond_target *t, pid_t pid)
{
	char cg[PATH_MAX];
	size_t scope_len = strlen(t->scope_rel);
	long hz = sysconf(_SC_CLK_TCK);
	uint64_t ticks;
	int err;

	if (pid <= 1 || hz <= 0)
		return -EPERM;
	err = respond_proc_cgroup_path(pid, cg, sizeof(cg));
	if (err)
		return err;
	/* In the container's cgroup or below it, never beside it (".../abc" vs ".../abcd"). */
	if (strncmp(cg, t->scope_rel, scope_len) || (cg[scope_len] != '\0' && cg[scope_len] != '/') ||
	    strstr(cg, "/.."))
		return -ESTALE;
	err = exe_check(t, pid);
	if (err)
		return err;
	if (t->not_after_boottime_ns) {
		err = respond_proc_start_ticks(pid, &ticks);
		if (err)
			return err;
		/* One tick of slack: start times are counted in ticks. */
		if (ticks * (1000000000ULL / (uint64_t)hz) > t->not_after_boottime_ns + 1000000000ULL / (uint64_t)hz)
			return -ESTALE;
	}
	return 0;
}

/* Verify through a pidfd, then signal: the pid cannot be reused under us. */
static int kill_checked(const struct respond_target *t, pid_t pid, int *ret_pidfd)
{
	int pidfd = respond_pidfd_open(pid), err;

	if (pidfd < 0)
		return pidfd;
	err = respond_check_target(t, pid);
	/* Still alive after the reads: they were about the process the pidfd pins. */
	if (!err)
		err = pidfd_send_signal(pidfd, 0);
	return sigkill_if_checked(pidfd, err, ret_pidfd);
}

/* Pids of DIR/cgroup.procs and of every cgroup below (bounded depth), appended to pids. */
static void collect_pids(const char *dir, int depth, pid_t *pids, size_t max, size_t *n)
{
	char path[PATH_MAX + 16], buf[65536];
	struct dirent *de;
	DIR *d;
	int len;

	if (depth > 8 || (size_t)snprintf(path, sizeof(path), "%s/cgroup.procs", dir) >= sizeof(path))
		return;
	len = util_read_small_file(path, buf, sizeof(buf));
	for (char *p = buf, *end; len > 0 && *p && *n < max; p = end) {
		long v = strtol(p, &end, 10);

		if (end == p)
			break;
		if (v > 1)
			pids[(*n)++] = (pid_t)v;
	}
	d = opendir(dir);
	if (!d)
		return;
	while ((de = readdir(d)) && *n < max) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) < sizeof(path))
			collect_pids(path, depth + 1, pids, max, n);
	}
	closedir(d);
}

int respond_kill_target(const char *cgroup_root, const struct respond_target *t, pid_t pid, int *pidfds,
			size_t max_pidfds, size_t *ret_killed)
{
	char dir[PATH_MAX];
	pid_t pids[RESPOND_MAX_TARGETS];
	size_t n = 0, killed = 0;
	int err, last = -ESRCH;

	*ret_killed = 0;
	if (pid > 0) {
		err = kill_checked(t, pid, &pidfds[0]);
		if (err)
			return err;
		*ret_killed = 1;
		return 0;
	}
	if ((size_t)snprintf(dir, sizeof(dir), "%s%s", cgroup_root, t->scope_rel) >= sizeof(dir))
		return -ENAMETOOLONG;
	collect_pids(dir, 0, pids, RESPOND_MAX_TARGETS, &n);
	for (size_t i = 0; i < n && killed < max_pidfds; i++) {
		/*
		 * Most of a container runs something else: one readlink rules
		 * those out (a first look only: kill_checked checks again).
		 */
		if (exe_check(t, pids[i]))
			continue;
		err = kill_checked(t, pids[i], &pidfds[killed]);
		if (!err)
			killed++;
		else if (err != -ESTALE && err != -ESRCH)
			last = err;
	}
	*ret_killed = killed;
	return killed ? 0 : last;
}

pid_t respond_pidfd_pid(int pidfd)
{
	char path[64], buf[1024], *p;
	int n;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", pidfd);
	n = util_read_small_file(path, buf, sizeof(buf));
	if (n < 0)
		return n;
	p = strstr(buf, "\nPid:");
	if (!p)
		return -ENOENT;
	return (pid_t)strtol(p + 5, NULL, 10);
}
