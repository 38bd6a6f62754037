/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Response: kill a process through a pidfd after proving it is still the
 * process of the event, or kill a whole container through its cgroup.
 * No policy here: callers decide whether to act (policy.h).
 */
#ifndef REFLEX_RESPOND_H
#define REFLEX_RESPOND_H

#include <stdint.h>
#include <sys/types.h>

/* The process an event named, as the kernel saw it. */
struct process_identity {
	pid_t pid;
	uint64_t start_boottime_ns; /* task->start_boottime */
	uint64_t cgroup_id;         /* cgroup v2 id at the event */
};

/*
 * pidfd_open(pid), then check through /proc that the pidfd still names the
 * process of ID (same start time, same cgroup v2 id under CGROUP_ROOT) and is
 * alive, then pidfd_send_signal(SIGKILL). On success returns 0 and the pidfd
 * in *ret_pidfd (it polls readable once the process has exited).
 * -ESRCH: already gone. -ESTALE: the pid now names another process (reused)
 * or the process moved to another cgroup: nothing was signalled.
 */
int respond_kill_process(const char *cgroup_root, const struct process_identity *id, int *ret_pidfd);

/*
 * Checks only (no signal): 0 when PIDFD/PID still name ID, -ESTALE when not,
 * -ESRCH when gone.
 */
int respond_check_identity(const char *cgroup_root, int pidfd, const struct process_identity *id);

/*
 * Writes "1" to CGROUP_DIR/cgroup.kill (cgroup v2, kernel >= 5.14). Returns 0
 * and an fd on CGROUP_DIR/cgroup.events in *ret_events_fd: it signals
 * EPOLLPRI when "populated" changes (see respond_cgroup_populated).
 */
int respond_kill_cgroup(const char *cgroup_dir, int *ret_events_fd);

/* 1 if the cgroup still has processes, 0 if empty, negative errno. Rewinds fd. */
int respond_cgroup_populated(int events_fd);

/*
 * cgroup v1 only: freeze FREEZER_DIR, SIGKILL each pid of its cgroup.procs
 * through a pidfd, thaw. Returns the number of processes signalled or a
 * negative errno (the group is thawed on every path).
 */
int respond_kill_cgroup_v1(const char *freezer_dir, unsigned int timeout_ms);

/* pidfd_open(2): fd or negative errno. */
int respond_pidfd_open(pid_t pid);

/* Start time of /proc/<pid> in clock ticks (field 22 of stat), for tests too. */
int respond_proc_start_ticks(pid_t pid, uint64_t *ret_ticks);

#endif
