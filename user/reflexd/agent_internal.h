/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * The agent's state, shared by the files of its event loop only (agent.c,
 * detection, falco_handler, incident, kill, verdicts, reload, pool_sync,
 * host_probe). Single-threaded: everything here runs on the loop's thread.
 */
#ifndef REFLEX_AGENT_INTERNAL_H
#define REFLEX_AGENT_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/types.h>

#include "agent.h"
#include "config.h"
#include "pools.h"
#include "reflex/events.h"

#define AGENT_OPERATOR "reflex-agent"
/* Full cgroup rescan: the safety net behind inotify. */
#define AGENT_RESCAN_MS 5000

struct incident;

/* epoll tags for the fixed fds: their addresses; incidents are tagged by their pointer. */
struct agent_tags {
	char kernel, signal, timer, attrib, resolver, feed, kube, config;
};

struct agent {
	struct reflex_config *config;
	struct agent_opts opts;
	struct kernel *kernel;
	struct attrib *attrib;
	struct audit_log *audit;
	struct metrics *metrics;
	struct httpd *httpd;
	char cgroup_root[PATH_MAX];
	char boot_id[9];
	pid_t self_pid;
	uint64_t self_cgroup_id;
	bool cgroup_kill_supported; /* cgroup v2 cgroup.kill (>= 5.14) */
	char freezer_root[PATH_MAX]; /* cgroup v1 freezer mount, "" if none */
	int epoll_fd;
	int signal_fd;
	int timer_fd;
	struct agent_tags tag;
	uint64_t last_rescan_ns;
	struct incident *waiting; /* incidents whose kill is not confirmed yet */
	struct epoll_event *batch; /* the events epoll_wait returned, being handled */
	int batch_n, batch_i;      /* how many; the one being handled */
	struct pool_lists pools;          /* parsed agent.pool_lists */
	struct pool_resolver *resolver;   /* NULL when no connect hook is active */
	struct pool_addr *pool_applied;   /* normalized set in the LPM tries now */
	size_t n_pool_applied;
	struct falco_feed *feed;          /* NULL: no Falco intake configured */
	struct reporter *reporter;        /* NULL: agent.controller_url is "" */
	struct kube_pods *kube;           /* NULL: no Kubernetes API */
	struct ratelimit *ratelimit;      /* new on every config load: a reload re-arms */
	uint32_t kernel_rl_armed;         /* kernel rules the rate limit lets the kernel kill for (bits) */
	uint64_t falco_correlated;        /* joins of Falco alerts and kernel detections */
	uint64_t falco_unconfigured;      /* alerts of rules the config does not name */
	struct incident *recent;          /* recorded, kept for the correlation window: later alerts join them */
	size_t n_recent;
	uint64_t kernel_lost_seen[REFLEX_KCNT_MAX]; /* loss counters already put on the record */
	int config_watch_fd;              /* inotify on the config file's directory */
	uint64_t config_dirty_ns;         /* when a change was seen; 0: none pending */
	uint64_t config_hash;             /* of the file text last loaded */
	bool verdicts_off;                /* a reload or rebuild failed: no kernel kill bits until one succeeds */
	bool stopping;
};

/* FD into the loop's epoll set, readable events, tagged TAG. 0 or -errno. */
int agent_epoll_add(struct agent *a, int fd, void *tag);

static inline void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

static inline const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

#endif
