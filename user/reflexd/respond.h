/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Response: kill a process through a pidfd after proving it is still the
 * process of the event, or kill a whole container through its cgroup.
 * No policy here: callers decide whether to act (policy.h).
 */
#ifndef REFLEX_RESPOND_H
#define REFLEX_RESPOND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The process an event named, as the kernel saw it. */
struct process_identity {
	pid_t pid;
	uint64_t start_boottime_ns; /* task->start_boottime; 0: the event carried none */
	uint64_t cgroup_id;         /* cgroup v2 id at the event */
	/*
	 * When start_boottime_ns is 0 (connect and Stratum events on kernels
	 * whose sock_addr programs cannot read the task): the CLOCK_BOOTTIME
	 * instant of the event. The process must have started by then (to the
	 * tick /proc counts in); one born after the event is never the process
	 * of the event. Both 0: nothing proves identity, -ESTALE.
	 */
	uint64_t not_after_boottime_ns;
};

/*
 * pidfd_open(pid), then check that the pidfd still names the process of ID
 * (same cgroup v2 id: PIDFD_GET_INFO, else /proc under CGROUP_ROOT; same
 * start time: /proc) and is alive, then pidfd_send_signal(SIGKILL). On success returns 0 and the pidfd
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

/*
 * A process a Falco alert names, which carries no start time or cgroup id:
 * it must be in the container's cgroup (or below it), run EXE_PATH, and
 * have started no later than the alert's event.
 */
struct respond_target {
	const char *scope_rel;  /* container's cgroup, relative to the cgroup root, leading '/' */
	const char *exe_path;   /* as /proc/<pid>/exe reads (" (deleted)" ignored) */
	uint64_t not_after_boottime_ns; /* CLOCK_BOOTTIME of the event; 0: no bound */
};

#define RESPOND_MAX_TARGETS 256

/* 0 when PID is such a process, -ESTALE when it is not, -ESRCH when gone, -EPERM for pid <= 1. */
int respond_check_target(const struct respond_target *t, pid_t pid);

/*
 * PID > 0: kill that process if it is a target (pidfd, checks, SIGKILL).
 * PID 0: every target process in the container's cgroups. The pidfds of the
 * killed go into PIDFDS (at most MAX_PIDFDS), their count into *ret_killed.
 * 0 when at least one was killed; else -ESRCH (none/gone), -ESTALE (pid
 * given but not a target) or another negative errno.
 */
int respond_kill_target(const char *cgroup_root, const struct respond_target *t, pid_t pid, int *pidfds,
			size_t max_pidfds, size_t *ret_killed);

/* The pid a pidfd names (fdinfo "Pid:"), or a negative errno. */
pid_t respond_pidfd_pid(int pidfd);

/* cgroup v2 id of a pidfd's process (PIDFD_GET_INFO): -EOPNOTSUPP before Linux 6.13. */
int respond_pidfd_cgroup_id(int pidfd, uint64_t *ret_id);

/*
 * The cgroup v2 path of /proc/<pid> (its "0::" line), relative to the cgroup
 * root, into RET; PID 0: this process. 0, -ESRCH (gone), -ENOENT (no v2
 * line), -ENAMETOOLONG, or another negative errno.
 */
int respond_proc_cgroup_path(pid_t pid, char *ret, size_t size);
/* cgroup v2 id of /proc/<pid> (PID 0: this process): stat of its "0::" path under CGROUP_ROOT. */
int respond_proc_cgroup_id(const char *cgroup_root, pid_t pid, uint64_t *ret_id);
/*
 * /proc/<pid>/exe into BUF, " (deleted)" dropped (an unlinked binary is
 * still the one that ran). Its length, or a negative errno (-ENOENT: gone).
 */
int respond_proc_exe(pid_t pid, char *buf, size_t size);

/* pidfd_open(2): fd or negative errno. */
int respond_pidfd_open(pid_t pid);

/* Start time of /proc/<pid> in clock ticks (field 22 of stat), for tests too. */
int respond_proc_start_ticks(pid_t pid, uint64_t *ret_ticks);

#endif
