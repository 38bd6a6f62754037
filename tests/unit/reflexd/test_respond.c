// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * respond.c against the real kernel (root): the identity check must refuse
 * a reused PID, a moved process and a wrong start time, and kill only the
 * process of the event.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "container.h"
#include "respond.h"

static char cgroup_root[PATH_MAX];

static pid_t spawn_sleeper(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		pause();
		_exit(0);
	}
	assert_true(pid > 0);
	return pid;
}

static uint64_t cgroup_id_of(pid_t pid)
{
	char path[64], line[4096], full[PATH_MAX + 4096];
	struct stat st;
	uint64_t id = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		snprintf(full, sizeof(full), "%s%s", cgroup_root, line + 3);
		assert_int_equal(stat(full, &st), 0);
		id = st.st_ino;
	}
	fclose(f);
	assert_true(id != 0);
	return id;
}

/* The identity the kernel would have reported for PID. */
static struct process_identity identity_of(pid_t pid)
{
	struct process_identity id = { .pid = pid };
	uint64_t ticks;

	assert_int_equal(respond_proc_start_ticks(pid, &ticks), 0);
	id.start_boottime_ns = ticks * (1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK));
	id.cgroup_id = cgroup_id_of(pid);
	return id;
}

static bool alive(pid_t pid)
{
	int status;

	return waitpid(pid, &status, WNOHANG) == 0;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_kills_the_right_process(void **state)
{
	struct process_identity id;
	struct pollfd pfd;
	int pidfd = -1, status;
	pid_t pid = spawn_sleeper();

	(void)state;
	id = identity_of(pid);
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), 0);
	assert_true(pidfd >= 0);
	pfd = (struct pollfd){ .fd = pidfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 2000), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pidfd);
}

static void test_wrong_start_time_is_refused(void **state)
{
	struct process_identity id;
	int pidfd = -1;
	pid_t pid = spawn_sleeper();

	(void)state;
	id = identity_of(pid);
	id.start_boottime_ns += 5ULL * 1000000000ULL;
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -ESTALE);
	assert_int_equal(pidfd, -1);
	assert_true(alive(pid));
	reap(pid);
}

static void test_other_cgroup_is_refused(void **state)
{
	struct process_identity id;
	int pidfd = -1;
	pid_t pid = spawn_sleeper();

	(void)state;
	id = identity_of(pid);
	id.cgroup_id += 1;
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -ESTALE);
	assert_true(alive(pid));
	reap(pid);
}

/*
 * A real PID reuse: the event's process exits, and a stranger is made to get
 * the same PID through ns_last_pid. The stale identity must not kill it.
 */
static void test_reused_pid_is_refused(void **state)
{
	struct process_identity stale;
	pid_t first, stranger = -1;
	int pidfd = -1, fd;
	char buf[32];

	(void)state;
	for (int attempt = 0; attempt < 50 && stranger < 0; attempt++) {
		first = spawn_sleeper();
		stale = identity_of(first);
		/* Age the start time by a tick so it differs from the stranger's for sure. */
		usleep(20000);
		reap(first);
		fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		snprintf(buf, sizeof(buf), "%d", (int)first - 1);
		assert_true(write(fd, buf, strlen(buf)) > 0);
		close(fd);
		stranger = spawn_sleeper();
		if (stranger != first) {
			reap(stranger);
			stranger = -1;
		}
	}
	assert_true(stranger > 0); /* the PID was reused */
	assert_int_equal(respond_kill_process(cgroup_root, &stale, &pidfd), -ESTALE);
	assert_true(alive(stranger));
	reap(stranger);
}

static void test_gone_process_is_esrch(void **state)
{
	struct process_identity id;
	int pidfd = -1;
	pid_t pid = spawn_sleeper();

	(void)state;
	id = identity_of(pid);
	reap(pid);
	/* Not reused (pid space is large): the pid is simply gone. */
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -ESRCH);
}

static void test_never_pid_1(void **state)
{
	struct process_identity id = { .pid = 1 };
	int pidfd = -1;

	(void)state;
	id = identity_of(1);
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -EPERM);
}

static void test_cgroup_kill_empties_a_real_cgroup(void **state)
{
	char dir[PATH_MAX + 64], procs[PATH_MAX + 96], pidbuf[16];
	pid_t pids[3];
	int fd, events_fd = -1;

	(void)state;
	snprintf(dir, sizeof(dir), "%s/reflex-unit-%d", cgroup_root, (int)getpid());
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	for (int i = 0; i < 3; i++) {
		pids[i] = spawn_sleeper();
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pids[i]);
		assert_true(write(fd, pidbuf, strlen(pidbuf)) > 0);
		close(fd);
	}
	assert_int_equal(respond_kill_cgroup(dir, &events_fd), 0);
	for (int i = 0; i < 3; i++) {
		int status;

		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	assert_int_equal(respond_cgroup_populated(events_fd), 0);
	close(events_fd);
	assert_int_equal(rmdir(dir), 0);
	/* The test process itself, outside the cgroup, is alive to see this. */
}

static bool kernel_at_least(int major, int minor)
{
	struct utsname u;
	int ma = 0, mi = 0;

	assert_int_equal(uname(&u), 0);
	assert_int_equal(sscanf(u.release, "%d.%d", &ma, &mi), 2);
	return ma > major || (ma == major && mi >= minor);
}

/*
 * The two ways to learn a process's cgroup v2 id agree with the directory's
 * inode (what bpf_get_current_cgroup_id() reports): PIDFD_GET_INFO from
 * Linux 6.13 on, /proc/<pid>/cgroup on any kernel. A process moved after
 * the event is refused by the one this kernel uses.
 */
static void test_cgroup_id_by_pidfd_and_by_proc_agree(void **state)
{
	char dir[PATH_MAX + 64], procs[PATH_MAX + 96], pidbuf[16];
	uint64_t by_pidfd = 0, by_proc = 0;
	struct process_identity id;
	struct stat st;
	int fd, pidfd, err;
	pid_t pid = spawn_sleeper();

	(void)state;
	id = identity_of(pid);
	snprintf(dir, sizeof(dir), "%s/reflex-unit-id-%d", cgroup_root, (int)getpid());
	assert_int_equal(mkdir(dir, 0755), 0);
	assert_int_equal(stat(dir, &st), 0);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
	fd = open(procs, O_WRONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	snprintf(pidbuf, sizeof(pidbuf), "%d", (int)pid);
	assert_true(write(fd, pidbuf, strlen(pidbuf)) > 0);
	close(fd);

	pidfd = respond_pidfd_open(pid);
	assert_true(pidfd >= 0);
	err = respond_pidfd_cgroup_id(pidfd, &by_pidfd);
	if (kernel_at_least(6, 13)) {
		assert_int_equal(err, 0);
		assert_int_equal(by_pidfd, (uint64_t)st.st_ino);
	} else {
		assert_int_equal(err, -EOPNOTSUPP);
	}
	assert_int_equal(respond_proc_cgroup_id(cgroup_root, pid, &by_proc), 0);
	assert_int_equal(by_proc, (uint64_t)st.st_ino);
	/* ID has the cgroup of before the move: stale, whichever way is used. */
	assert_int_equal(respond_check_identity(cgroup_root, pidfd, &id), -ESTALE);
	assert_true(alive(pid));
	close(pidfd);
	reap(pid);
	assert_int_equal(rmdir(dir), 0);
}

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/*
 * An event without a start time (connect on kernels whose sock_addr programs
 * cannot read the task): a real process born after the event is never
 * signalled; one that was running at the event is.
 */
static void test_no_start_time_needs_a_process_older_than_the_event(void **state)
{
	uint64_t tick = 1000000000ULL / (uint64_t)sysconf(_SC_CLK_TCK), event, deadline, start;
	struct process_identity id;
	int pidfd = -1, status;
	pid_t before, after;

	(void)state;
	before = spawn_sleeper();
	/* The event: in a later /proc tick than BEFORE's start (a bounded wait for the tick to turn). */
	assert_int_equal(respond_proc_start_ticks(before, &start), 0);
	deadline = boottime_ns() + 2000000000ULL;
	while (boottime_ns() / tick <= start)
		assert_true(boottime_ns() < deadline);
	event = boottime_ns();
	/* The stranger: started in a tick after the event's. */
	while (boottime_ns() / tick == event / tick)
		assert_true(boottime_ns() < deadline);
	after = spawn_sleeper();

	id = (struct process_identity){ .pid = after, .cgroup_id = cgroup_id_of(after), .not_after_boottime_ns = event };
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -ESTALE);
	assert_int_equal(pidfd, -1);
	assert_true(alive(after));
	/* Neither a start time nor an event time: nothing proves identity. */
	id.not_after_boottime_ns = 0;
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), -ESTALE);
	assert_true(alive(after));

	id = (struct process_identity){ .pid = before, .cgroup_id = cgroup_id_of(before), .not_after_boottime_ns = event };
	assert_int_equal(respond_kill_process(cgroup_root, &id, &pidfd), 0);
	assert_true(pidfd >= 0);
	assert_int_equal(waitpid(before, &status, 0), before);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pidfd);
	reap(after);
}

static int setup(void **state)
{
	char *text = NULL;
	size_t cap = 0;
	FILE *f;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "test_respond needs root (real pidfds, cgroups, ns_last_pid)\n");
		return -1;
	}
	f = fopen("/proc/self/mountinfo", "re");
	if (!f || getdelim(&text, &cap, '\0', f) < 0) {
		fprintf(stderr, "cannot read mountinfo\n");
		return -1;
	}
	fclose(f);
	if (cgroup2_mount_from_mountinfo(text, cgroup_root, sizeof(cgroup_root))) {
		fprintf(stderr, "no cgroup2 mount: test_respond cannot run\n");
		free(text);
		return -1;
	}
	free(text);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kills_the_right_process),
		cmocka_unit_test(test_wrong_start_time_is_refused),
		cmocka_unit_test(test_other_cgroup_is_refused),
		cmocka_unit_test(test_reused_pid_is_refused),
		cmocka_unit_test(test_gone_process_is_esrch),
		cmocka_unit_test(test_never_pid_1),
		cmocka_unit_test(test_cgroup_kill_empties_a_real_cgroup),
		cmocka_unit_test(test_cgroup_id_by_pidfd_and_by_proc_agree),
		cmocka_unit_test(test_no_start_time_needs_a_process_older_than_the_event),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
