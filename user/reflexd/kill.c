// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The agent's kills (see kill.h), each carried out through respond.c and
 * ended on the incident: recorded at the action, then waited for.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>

#include "agent_internal.h"
#include "falco_alert.h"
#include "incident.h"
#include "kill.h"
#include "log.h"
#include "respond.h"
#include "util.h"

static uint64_t boottime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* CLOCK_BOOTTIME (what /proc start times count) of a CLOCK_MONOTONIC instant (bpf_ktime_get_ns). */
static uint64_t boottime_of_monotonic(uint64_t mono_ns)
{
	uint64_t mono_now = util_monotonic_ns(), boot_now = boottime_ns();

	return mono_ns + boot_now - mono_now;
}

/* CLOCK_BOOTTIME (what /proc start times count) of a CLOCK_REALTIME instant. */
static uint64_t boottime_of_realtime(uint64_t real_ns)
{
	uint64_t real_now = (uint64_t)util_realtime_ns(), boot_now = boottime_ns();
	uint64_t ago = real_now > real_ns ? real_now - real_ns : 0;

	return boot_now > ago ? boot_now - ago : 0;
}

/* cgroup v1 only: freeze, kill each pid through a pidfd, thaw. Synchronous. */
static void kill_container_v1(struct agent *a, struct incident *inc, const struct container_info *info)
{
	char freezer_dir[PATH_MAX];
	int n;

	if (!a->freezer_root[0] ||
	    (size_t)snprintf(freezer_dir, sizeof(freezer_dir), "%s%.*s", a->freezer_root,
			     (int)info->ref.scope_len, info->cgroup_path) >= sizeof(freezer_dir)) {
		n = -ENOENT;
	} else {
		n = respond_kill_cgroup_v1(freezer_dir, a->config->agent.kill_timeout_ms);
	}
	if (n < 0) {
		incident_append_detail(inc, "; cgroup v1 freezer kill failed: %s", strerror(-n));
		/* The kernel's own kill or refusal happened all the same: that stays the outcome. */
		incident_close(a, inc, inc->kill_mode ? inc->outcome : "failed", METRIC_KILL_FAILURES,
			       inc->kill_mode ? 0 : -1);
		return;
	}
	inc->acted = true;
	inc->kill_mode = !inc->kill_mode		  ? "cgroup-v1-freezer"
			 : strcmp(inc->kill_mode, "lsm") == 0 ? "lsm+cgroup-v1-freezer"
							      : "kernel+cgroup-v1-freezer";
	incident_append_detail(inc, "; %d processes signalled", n);
	incident_close(a, inc, inc->outcome, METRIC_KILLS_CGROUP,
		       (int64_t)((util_monotonic_ns() - inc->event_ktime_ns) / 1000));
}

void kill_container(struct agent *a, struct incident *inc, const struct container_info *info)
{
	int fd, err;

	if (!a->cgroup_kill_supported) {
		kill_container_v1(a, inc, info);
		return;
	}
	err = respond_kill_cgroup(info->scope_path, &fd);
	if (err) {
		incident_append_detail(inc, "; cgroup.kill on %s failed: %s", info->scope_path, strerror(-err));
		/* The kernel's own kill or refusal happened all the same: that stays the outcome. */
		incident_close(a, inc, inc->kill_mode ? inc->outcome : "failed", METRIC_KILL_FAILURES,
			       inc->kill_mode ? 0 : -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_CGROUP);
	inc->acted = true;
	inc->kill_mode = !inc->kill_mode		  ? "cgroup.kill"
			 : strcmp(inc->kill_mode, "lsm") == 0 ? "lsm+cgroup.kill"
							      : "kernel+cgroup.kill";
	inc->wait = WAIT_CGROUP_EMPTY;
	incident_acted(a, inc);
	incident_wait(a, inc, fd, EPOLLPRI | EPOLLERR);
	incident_check(a, inc);
}

void kill_process(struct agent *a, struct incident *inc, uint32_t tgid, uint64_t start_boottime,
		  uint64_t cgroup_id)
{
	struct process_identity id = {
		.pid = (pid_t)tgid,
		.start_boottime_ns = start_boottime,
		.cgroup_id = cgroup_id,
	};
	int pidfd = -1, err;

	/*
	 * Kernels without bpf_get_current_task in cgroup hooks send no start
	 * time: then the target must have been running at the event (a pid
	 * reused since is never signalled), not merely be alive now.
	 */
	if (!id.start_boottime_ns)
		id.not_after_boottime_ns = boottime_of_monotonic(inc->event_ktime_ns);
	err = respond_kill_process(a->cgroup_root, &id, &pidfd);
	if (err == -ESTALE || err == -ESRCH) {
		/* Stale: a safeguard refused. Gone: nothing to kill (a denied connect may remain). */
		incident_append_detail(inc, "%s",
				       err == -ESTALE ? "; target no longer the process of the event (pid reused or moved): "
							"not signalled"
						      : "; target exited before the kill");
		log_warn("kill of pid %u skipped: %s", tgid,
			 err == -ESTALE ? "pid now names another process" : "already exited");
		incident_close(a, inc, err == -ESTALE ? "refused" : inc->kernel_denied ? "denied" : "exited",
			       METRIC_STALE_TARGETS, -1);
		return;
	}
	if (err) {
		incident_append_detail(inc, "; pidfd kill failed: %s", strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	metrics_inc(a->metrics, METRIC_KILLS_PIDFD);
	inc->acted = true;
	inc->kill_mode = "pidfd";
	inc->wait = WAIT_PROCESS_EXIT;
	incident_acted(a, inc);
	incident_wait(a, inc, pidfd, EPOLLIN);
}

void kill_confirm_kernel(struct agent *a, struct incident *inc, uint32_t tgid)
{
	int pidfd;

	/* The kernel acted at the event: that is the action's time. */
	inc->action_time = timespec_of_ns(inc->event_real_ns);
	inc->latency_us = 0;
	incident_record(a, inc);
	pidfd = respond_pidfd_open((pid_t)tgid);
	if (pidfd < 0) {
		/* Gone already: the usual case, the kill landed before we looked. */
		incident_done(a, inc, (int64_t)((util_monotonic_ns() - inc->event_ktime_ns) / 1000));
		return;
	}
	inc->wait = WAIT_PROCESS_EXIT;
	incident_wait(a, inc, pidfd, EPOLLIN);
}

void kill_alert_targets(struct agent *a, struct incident *inc, const struct container_info *info,
			const struct falco_alert *al)
{
	char scope[PATH_MAX];
	struct respond_target t = {
		.scope_rel = scope,
		.exe_path = inc->exe_path,
		/* Never 0 ("no bound"): without a usable alert time, the time the alert was received. */
		.not_after_boottime_ns = al->time_ns ? boottime_of_realtime(al->time_ns) : 0,
	};
	int fds[AGENT_MAX_ALERT_TARGETS];
	size_t n = 0;
	int err;

	if (!t.not_after_boottime_ns)
		t.not_after_boottime_ns = boottime_of_monotonic(inc->event_ktime_ns);
	snprintf(scope, sizeof(scope), "%.*s", (int)info->ref.scope_len, info->cgroup_path);
	err = respond_kill_target(a->cgroup_root, &t, al->pid > 0 ? (pid_t)al->pid : 0, fds,
				  AGENT_MAX_ALERT_TARGETS, &n);
	if (err == -ESTALE || err == -ESRCH || err == -EPERM) {
		if (al->pid > 0)
			incident_append_detail(inc, "; pid %lld %s: not signalled", (long long)al->pid,
					       err == -ESRCH ? "has exited"
							     : "is not a process of this container running this "
							       "executable that started by the alert's time (pid reused?)");
		else
			incident_append_detail(inc, "; no process of the container runs %s (exited)", inc->exe_path);
		incident_close(a, inc, err == -ESRCH || al->pid <= 0 ? "exited" : "refused", METRIC_STALE_TARGETS, -1);
		return;
	}
	if (err) {
		incident_append_detail(inc, "; pidfd kill failed: %s", strerror(-err));
		incident_close(a, inc, "failed", METRIC_KILL_FAILURES, -1);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		metrics_inc(a->metrics, METRIC_KILLS_PIDFD);
		inc->killed_pids[inc->n_killed_pids++] = respond_pidfd_pid(fds[i]);
	}
	if (al->pid <= 0) {
		incident_append_detail(inc, "; %zu process%s running %s killed", n, n == 1 ? "" : "es", inc->exe_path);
		inc->pid = n == 1 ? respond_pidfd_pid(fds[0]) : -1;
	}
	inc->acted = true;
	inc->kill_mode = "pidfd";
	inc->wait = WAIT_PROCESS_EXIT;
	for (size_t i = 1; i < n; i++)
		inc->more_fds[inc->n_more_fds++] = fds[i];
	incident_acted(a, inc);
	incident_wait(a, inc, fds[0], EPOLLIN);
}
