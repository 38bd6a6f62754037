/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The agent's kills, the act stage of a detection or an alert. Each takes
 * the incident over and ends it: recorded at the action and put to wait for
 * the exit (incident.h), or closed at once with what went wrong (stale
 * target, exited, failed). INC may be freed on return.
 */
#ifndef REFLEX_KILL_H
#define REFLEX_KILL_H

#include <stdint.h>

struct agent;
struct incident;
struct container_info;
struct falco_alert;

/*
 * Container-wide kill: cgroup.kill, the incident waits for cgroup.events
 * "populated 0"; without cgroup.kill, the cgroup v1 freezer (synchronous).
 * A kernel kill or refusal already made stays the outcome if this fails.
 */
void kill_container(struct agent *a, struct incident *inc, const struct container_info *info);
/*
 * The event's process through a pidfd, after proving it is still that
 * process (respond_kill_process); START_BOOTTIME 0: it must have been
 * running at the event.
 */
void kill_process(struct agent *a, struct incident *inc, uint32_t tgid, uint64_t start_boottime,
		  uint64_t cgroup_id);
/* The kernel already sent SIGKILL: confirm the exit to measure and audit it. */
void kill_confirm_kernel(struct agent *a, struct incident *inc, uint32_t tgid);
/* kill_process for an alert: by proc.pid after checks, else every process running proc.exepath. */
void kill_alert_targets(struct agent *a, struct incident *inc, const struct container_info *info,
			const struct falco_alert *al);

#endif
