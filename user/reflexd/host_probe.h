/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What this host offers reflexd, read once at start-up: the cgroup v2 mount,
 * the boot id of event ids, the host's mount namespace (host execs are those
 * in it), and how a whole container can be killed (cgroup.kill, else the
 * cgroup v1 freezer).
 */
#ifndef REFLEX_HOST_PROBE_H
#define REFLEX_HOST_PROBE_H

#include <stdint.h>

struct agent;

/* agent.cgroup_root, else the cgroup2 mount in /proc/self/mountinfo, into a->cgroup_root. 0 or -errno. */
int host_find_cgroup_root(struct agent *a);
/* The first 8 characters of the kernel's boot id into a->boot_id ("00000000" when unreadable). */
void host_read_boot_id(struct agent *a);
/*
 * The host's mount namespace: pid 1's (reflexd runs with hostPID). Where
 * pid 1 is not readable (a sandbox), our own, and say so. 0 or -errno.
 */
int host_mnt_ns(uint32_t *ret);
/*
 * a->cgroup_kill_supported and a->freezer_root, shown on /status; with
 * --force-cgroup-v1-kill as on a kernel without cgroup.kill.
 */
void host_probe_container_kill(struct agent *a);

#endif
