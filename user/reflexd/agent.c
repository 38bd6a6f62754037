// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * reflexd's agent: start (each stage in turn, capabilities dropped once the
 * programs are in), the event loop that hands every fd's event to its
 * module, stop (every kernel action already taken put on the record first).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "agent_internal.h"
#include "attrib.h"
#include "audit.h"
#include "caps.h"
#include "detection.h"
#include "falco_feed.h"
#include "falco_handler.h"
#include "host_probe.h"
#include "httpd.h"
#include "incident.h"
#include "kernel.h"
#include "log.h"
#include "metrics.h"
#include "pod_watch.h"
#include "pool_sync.h"
#include "ratelimit.h"
#include "reload.h"
#include "reporter.h"
#include "respond.h"
#include "util.h"
#include "verdicts.h"

#define AGENT_TICK_MS 100

/*
 * Keep only caps_agent_keeps. Threads inherit the reduced sets, which is why
 * this runs before the reporter, the feed, the watchers and the HTTP server.
 */
static int drop_capabilities(struct agent *a)
{
	uint64_t eff = 0, keep = caps_agent_mask();
	char kept[160] = "";
	int err;

	if (!a->config->agent.drop_capabilities) {
		log_warn("capabilities: agent.drop_capabilities is false: keeping every capability");
		metrics_set_hook(a->metrics, "capabilities dropped", false, "off: agent.drop_capabilities is false");
		return 0;
	}
	err = caps_reduce_to(keep);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "capabilities: could not drop to the kept set");
		return err;
	}
	err = caps_effective(&eff);
	if (err || (eff & ~keep)) {
		log_error("capabilities: effective set 0x%llx after the drop, want at most 0x%llx",
			  (unsigned long long)eff, (unsigned long long)keep);
		return err ? err : -EPERM;
	}
	log_info("capabilities: every one dropped, bounding set included, but 0x%llx:", (unsigned long long)eff);
	for (size_t i = 0; i < caps_agent_keeps_len; i++) {
		size_t len = strlen(kept);

		log_info("capabilities:   %s: %s", caps_agent_keeps[i].name, caps_agent_keeps[i].why);
		snprintf(kept + len, sizeof(kept) - len, "%s%s", len ? " " : "kept ", caps_agent_keeps[i].name);
	}
	metrics_set_hook(a->metrics, "capabilities dropped", true, kept);
	return 0;
}

/* Falco's intake and the pod watch as /metrics shows them; on every tick. */
static void refresh_feed_metrics(struct agent *a)
{
	struct falco_feed_stats fs = { 0 };
	struct kube_status ks = { 0 };
	uint64_t rejected = 0;

	if (a->feed) {
		falco_feed_get_stats(a->feed, &fs);
		for (int i = 0; i < FALCO_PARSE_ERROR_MAX; i++)
			rejected += fs.rejected[i];
	}
	metrics_set_feed(a->metrics, METRIC_F_ALERTS, fs.lines);
	metrics_set_feed(a->metrics, METRIC_F_PARSED, fs.parsed);
	metrics_set_feed(a->metrics, METRIC_F_REJECTED, rejected);
	metrics_set_feed(a->metrics, METRIC_F_DROPPED, fs.dropped);
	metrics_set_feed(a->metrics, METRIC_F_TRUNCATED, fs.truncated);
	metrics_set_feed(a->metrics, METRIC_F_PEERS_REFUSED, fs.peers_refused);
	metrics_set_feed(a->metrics, METRIC_F_HTTP_UNAUTHORIZED, fs.http_unauthorized);
	metrics_set_feed(a->metrics, METRIC_F_QUEUED, fs.queued);
	metrics_set_feed(a->metrics, METRIC_F_CORRELATED, a->falco_correlated);
	metrics_set_feed(a->metrics, METRIC_F_UNCONFIGURED, a->falco_unconfigured);
	if (a->kube)
		kube_pods_status(a->kube, &ks);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_SYNCED, ks.synced);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_PODS, ks.pods);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_ERRORS, ks.errors);
	metrics_set_feed(a->metrics, METRIC_F_KUBE_LISTS, ks.lists);
}

/* Pod owners from the API; without it owners stay unknown (agent.unknown_owner decides). */
static void kube_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	struct kube_config kc = {
		.node_name = ac->node_name,
		.token_file = *ac->kubernetes_token_file ? ac->kubernetes_token_file : NULL,
		.ca_file = *ac->kubernetes_ca_file ? ac->kubernetes_ca_file : NULL,
	};
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	int err;

	if (!*ac->kubernetes_api || (!strcmp(ac->kubernetes_api, "auto") && !(host && *host))) {
		log_warn("kubernetes: no API (%s): pod owners are unknown, agent.unknown_owner=%s decides",
			 *ac->kubernetes_api ? "not in a cluster: KUBERNETES_SERVICE_HOST unset" : "off in config",
			 ac->unknown_owner == UNKNOWN_OWNER_ALLOW ? "allow" : "refuse");
		metrics_set_hook(a->metrics, "kubernetes pod watch", false,
				 *ac->kubernetes_api ? "not in a cluster" : "off in config");
		return;
	}
	if (strcmp(ac->kubernetes_api, "auto"))
		kc.api_url = ac->kubernetes_api;
	/* A token or CA that is not there (out of cluster) means none. */
	if (kc.token_file && access(kc.token_file, R_OK))
		kc.token_file = NULL;
	if (kc.ca_file && access(kc.ca_file, R_OK))
		kc.ca_file = NULL;
	err = kube_pods_start(&kc, &a->kube);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "kubernetes: pod watch not started; owners are unknown");
		metrics_set_hook(a->metrics, "kubernetes pod watch", false, strerror(-err));
		return;
	}
	if (agent_epoll_add(a, kube_pods_event_fd(a->kube), &a->tag.kube))
		log_errno(LOG_LEVEL_WARN, -errno, "epoll add kubernetes");
	log_info("kubernetes: watching pods of node %s at %s", ac->node_name,
		 kc.api_url ? kc.api_url : "the in-cluster API");
	metrics_set_hook(a->metrics, "kubernetes pod watch", true, kc.api_url ? kc.api_url : "in-cluster");
}

static void on_tick(struct agent *a)
{
	uint64_t now = util_monotonic_ns(), expirations;

	if (read(a->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_errno(LOG_LEVEL_WARN, -errno, "timerfd read");
	metrics_loop_alive(a->metrics, now); /* /healthz: the loop turns */
	incidents_tick(a, now);
	/* Kills age out of the rate-limit window: the kernel may be re-armed. */
	rate_limit_sync_kernel(a);
	reload_tick(a, now);
	if (a->verdicts_off && now - a->last_rescan_ns >= AGENT_RESCAN_MS * 1000000ULL) {
		/* Retry the rebuild that failed (sets last_rescan_ns either way). */
		verdicts_rebuild(a);
	} else if (now - a->last_rescan_ns >= AGENT_RESCAN_MS * 1000000ULL) {
		int err = attrib_scan(a->attrib, verdicts_on_container_change, a);

		if (err)
			log_errno(LOG_LEVEL_WARN, err, "cgroup rescan");
		a->last_rescan_ns = now;
	}
	detection_refresh_counters(a);
	refresh_feed_metrics(a);
}

static int on_signal(struct agent *a)
{
	struct signalfd_siginfo si;

	if (read(a->signal_fd, &si, sizeof(si)) != sizeof(si))
		return 0;
	if (si.ssi_signo == SIGHUP) {
		log_info("SIGHUP: reloading %s", a->config->path);
		reload_config(a);
		return 0;
	}
	log_info("%s: shutting down", strsignal((int)si.ssi_signo));
	a->stopping = true;
	return 0;
}

/* One event of the batch, to the module its tag names. */
static void on_event(struct agent *a, void *tag)
{
	if (!tag) {
		return; /* an incident finished earlier in this batch */
	} else if (tag == &a->tag.kernel) {
		int err = kernel_consume(a->kernel);

		if (err < 0)
			log_errno(LOG_LEVEL_ERROR, err, "ring buffer");
	} else if (tag == &a->tag.signal) {
		on_signal(a);
	} else if (tag == &a->tag.timer) {
		on_tick(a);
	} else if (tag == &a->tag.resolver) {
		pool_sync_on_resolver(a);
	} else if (tag == &a->tag.feed) {
		falco_handler_on_feed(a);
	} else if (tag == &a->tag.kube) {
		kube_pods_ack(a->kube);
		verdicts_refresh(a);
		log_debug("kubernetes: pods changed; kernel verdicts re-applied");
	} else if (tag == &a->tag.config) {
		reload_on_watch(a);
	} else if (tag == &a->tag.attrib) {
		int err = attrib_watch_process(a->attrib, verdicts_on_container_change, a);

		if (err)
			log_errno(LOG_LEVEL_WARN, err, "cgroup watch");
	} else {
		incident_check(a, tag);
	}
}

int agent_run(struct agent *a)
{
	struct epoll_event evs[32];

	log_info("reflexd running on node %s: exec hook %s, cgroup root %s, %zu containers tracked",
		 a->config->agent.node_name, kernel_exec_hook(a->kernel), a->cgroup_root,
		 attrib_count(a->attrib));
	while (!a->stopping) {
		int n = epoll_wait(a->epoll_fd, evs, 32, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return log_errno(LOG_LEVEL_ERROR, -errno, "epoll_wait");
		}
		a->batch = evs;
		a->batch_n = n;
		for (a->batch_i = 0; a->batch_i < n; a->batch_i++)
			on_event(a, evs[a->batch_i].data.ptr);
		a->batch_n = 0;
	}
	return 0;
}

int agent_epoll_add(struct agent *a, int fd, void *tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };

	return epoll_ctl(a->epoll_fd, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

/* ---- start, stage by stage */

/*
 * The audit log, its lines chained per writer (the node): seq and
 * prev_sha256 resume from the file's last record; without a file, from a
 * state file beside the report spool.
 */
static int start_audit_log(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	char state[4096];
	struct audit_log_config cfg = {
		.path = ac->audit_log,
		.to_stdout = ac->audit_stdout,
		.writer = ac->node_name && *ac->node_name ? ac->node_name : NULL,
	};
	int err;

	if (!cfg.writer)
		log_warn("audit: agent.node_name is empty: records carry no writer chain (seq, prev_sha256)");
	if (!ac->audit_log || !*ac->audit_log) {
		snprintf(state, sizeof(state), "%s.audit-chain", ac->report_spool_dir);
		cfg.chain_state = state;
	}
	err = audit_log_open(&cfg, &a->audit);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "audit log %s",
				 ac->audit_log && *ac->audit_log ? ac->audit_log : "(stdout only)");
	return 0;
}

/* Metrics, the rate limit, the audit log and its first "config" record. */
static int start_records(struct agent *a)
{
	const struct reflex_config *config = a->config;
	int err;

	err = metrics_new(config->agent.node_name, &a->metrics);
	err = err ?: rate_limit_new(config, &a->ratelimit);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "metrics and the kill rate limit");
	a->kernel_rl_armed = rate_limit_kernel_armed(a);
	err = start_audit_log(a);
	if (err)
		return err;
	reload_record_config(a, "config loaded at start");
	return 0;
}

/* The loop's own fds: epoll, signals through a signalfd (handled between events), the tick's timerfd. */
static int start_loop_fds(struct agent *a)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL))
		return -errno;
	a->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	a->signal_fd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	a->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (a->epoll_fd < 0 || a->signal_fd < 0 || a->timer_fd < 0)
		return log_errno(LOG_LEVEL_ERROR, -errno, "epoll/signalfd/timerfd");
	return 0;
}

/* The kernel programs loaded and attached, each hook's state logged and on /status. */
static int start_kernel(struct agent *a)
{
	const struct reflex_config *config = a->config;
	struct kernel_opts kopts = { 0 };
	int err;

	/* Host execs are those in pid 1's mount namespace. */
	err = host_mnt_ns(&kopts.host_mnt_ns_inum);
	if (err)
		return err;
	kopts.agent_tgid = (uint32_t)a->self_pid;
	kopts.force_raw_tp = a->opts.force_raw_tp;
	kopts.no_exec_deny = !config->agent.deny_exec_in_kernel;
	kopts.no_stratum_watch = !config->agent.watch_stratum_handshake;
	kopts.cgroup_root = a->cgroup_root;
	err = kernel_open(&kopts, detection_on_kernel_record, a, &a->kernel);
	if (err) {
		metrics_set_hook(a->metrics, "exec", false, strerror(-err));
		return err;
	}
	metrics_set_hook(a->metrics, kernel_exec_hook(a->kernel), true,
			 kernel_exec_fallback_reason(a->kernel) ? kernel_exec_fallback_reason(a->kernel)
								: "preferred hook");
	verdicts_publish_hook(a);
	if (kernel_exec_fallback_reason(a->kernel))
		log_warn("kernel: exec hook %s (fallback: %s)", kernel_exec_hook(a->kernel),
			 kernel_exec_fallback_reason(a->kernel));
	else
		log_info("kernel: exec hook %s", kernel_exec_hook(a->kernel));

	metrics_set_hook(a->metrics, "lsm/bprm_check_security (refuse exec)", kernel_exec_deny_active(a->kernel),
			 kernel_exec_deny_reason(a->kernel));
	if (kernel_exec_deny_active(a->kernel))
		log_info("kernel: lsm/bprm_check_security attached: dropped binaries are refused before they start");
	else
		log_info("kernel: exec refusal inactive (%s): dropped binaries are killed at exec",
			 kernel_exec_deny_reason(a->kernel));
	kernel_set_exec_deny(a->kernel, config->agent.deny_exec_in_kernel);
	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
		metrics_set_hook(a->metrics, kernel_connect_hook(p), kernel_connect_active(a->kernel, p),
				 kernel_connect_reason(a->kernel, p));
	if (!kernel_connect_active(a->kernel, KERNEL_CONNECT4))
		log_warn("kernel: cgroup/connect4 inactive (%s): pool connections are not watched",
			 kernel_connect_reason(a->kernel, KERNEL_CONNECT4));
	if (!config->agent.watch_stratum_handshake)
		log_info("kernel: agent.watch_stratum_handshake is false: Stratum handshakes to unlisted addresses "
			 "are not looked for (no program runs per packet)");
	kernel_set_stratum_scan(a->kernel, config->agent.scan_stratum_argv);
	return 0;
}

/* Reports to the controller, spooled; none when agent.controller_url is "". */
static int start_reporter(struct agent *a)
{
	const struct reflex_config *config = a->config;
	struct reporter_config rc = {
		.controller_url = config->agent.controller_url,
		.token_file = config->agent.controller_token_file,
		.spool_dir = config->agent.report_spool_dir,
		.spool_max_bytes = config->agent.report_spool_max_bytes,
	};
	int err;

	if (!*config->agent.controller_url) {
		log_info("reports: agent.controller_url is \"\": audit records stay on this node");
		return 0;
	}
	err = reporter_start(&rc, &a->reporter);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "reports: spool %s", config->agent.report_spool_dir);
	log_info("reports: to %s/alert, spooled in %s (bound %u bytes)", config->agent.controller_url,
		 config->agent.report_spool_dir, config->agent.report_spool_max_bytes);
	return 0;
}

/* Every source of events into the loop, then the tick started. */
static int start_sources(struct agent *a)
{
	struct itimerspec tick = {
		.it_interval = { 0, AGENT_TICK_MS * 1000000L },
		.it_value = { 0, AGENT_TICK_MS * 1000000L },
	};
	int err;

	err = agent_epoll_add(a, kernel_events_fd(a->kernel), &a->tag.kernel);
	if (!err)
		err = agent_epoll_add(a, a->signal_fd, &a->tag.signal);
	if (!err)
		err = agent_epoll_add(a, a->timer_fd, &a->tag.timer);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "epoll add");
	/* Owners first: the first scan arms the kernel from them where the API answers in time. */
	kube_start(a);
	err = verdicts_rebuild(a);
	if (err)
		return err;
	pool_sync_start(a);
	err = falco_handler_start(a);
	if (err)
		return err;
	reload_watch_start(a);
	if (timerfd_settime(a->timer_fd, 0, &tick, NULL))
		return log_errno(LOG_LEVEL_ERROR, -errno, "timerfd_settime");
	return 0;
}

/* /healthz /readyz /metrics /status, unless agent.metrics_address is "". */
static int start_httpd(struct agent *a)
{
	const struct reflex_config *config = a->config;

	metrics_set_hook(a->metrics, "pidfd_send_signal (process kill)", true, "pidfd + identity check");

	if (config->agent.metrics_address && *config->agent.metrics_address) {
		int err = httpd_start(config->agent.metrics_address, a->metrics, &a->httpd);

		if (err)
			return log_errno(LOG_LEVEL_ERROR, err, "HTTP endpoints on %s", config->agent.metrics_address);
		log_info("http: /healthz /readyz /metrics /status on %s", config->agent.metrics_address);
	}
	return 0;
}

int agent_start(struct reflex_config *config, const struct agent_opts *opts, struct agent **ret)
{
	struct agent *a;
	int err;

	a = calloc(1, sizeof(*a));
	if (!a) {
		config_free(config);
		return -ENOMEM;
	}
	a->config = config;
	a->opts = *opts;
	a->epoll_fd = a->signal_fd = a->timer_fd = a->config_watch_fd = -1;
	a->self_pid = getpid();
	host_read_boot_id(a);

	err = start_records(a);
	if (err)
		goto fail;
	err = host_find_cgroup_root(a);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "no cgroup v2 mount found in /proc/self/mountinfo "
			  "(set agent.cgroup_root)");
		goto fail;
	}
	/* This process's own cgroup is never armed (0: unknown). */
	respond_proc_cgroup_id(a->cgroup_root, 0, &a->self_cgroup_id);
	err = start_loop_fds(a);
	if (err)
		goto fail;
	err = start_kernel(a);
	if (err)
		goto fail;
	/* Start-up probes run with every capability, as the loading did. */
	host_probe_container_kill(a);
	/* Programs are in: give up what only loading needed, before any thread exists. */
	err = drop_capabilities(a);
	if (err)
		goto fail;
	err = start_reporter(a);
	if (err)
		goto fail;
	err = start_sources(a);
	if (err)
		goto fail;
	err = start_httpd(a);
	if (err)
		goto fail;
	detection_refresh_counters(a);
	metrics_loop_alive(a->metrics, util_monotonic_ns());
	metrics_set_ready(a->metrics, true);
	*ret = a;
	return 0;
fail:
	agent_stop(a);
	return err;
}

/* ---- stop */

/*
 * After the detach: what the programs already did goes on the record (events
 * handled, losses counted). False for a start that failed half-way: nothing
 * to drain and no one to handle it.
 */
static bool stop_drain_kernel(struct agent *a)
{
	if (!a->kernel || !a->attrib || !a->audit || !a->metrics)
		return false;
	for (int i = 0; i < 64 && kernel_consume(a->kernel) > 0; i++)
		;
	detection_refresh_counters(a);
	return true;
}

struct agent *agent_stop(struct agent *a)
{
	if (!a)
		return NULL;
	/*
	 * No new kernel action from here, then every one already taken on the
	 * record: the ring buffer drained, losses counted, kills in flight
	 * waited for before any is called failed.
	 */
	kernel_detach(a->kernel);
	a->batch_n = 0;
	stop_drain_kernel(a);
	a->feed = falco_feed_stop(a->feed);
	if (a->config)
		incidents_wait_kills(a);
	/* Programs that were mid-run at the detach have finished by now: drain and count once more. */
	if (stop_drain_kernel(a))
		incidents_wait_kills(a);
	incidents_close_all(a);
	if (a->metrics)
		metrics_set_ready(a->metrics, false);
	a->httpd = httpd_stop(a->httpd);
	a->kube = kube_pods_stop(a->kube);
	a->ratelimit = ratelimit_free(a->ratelimit);
	if (a->config_watch_fd >= 0)
		close(a->config_watch_fd);
	if (a->epoll_fd >= 0)
		pool_sync_stop(a);
	free(a->pool_applied);
	a->attrib = attrib_free(a->attrib);
	a->kernel = kernel_close(a->kernel);
	reporter_stop(a->reporter);
	a->reporter = NULL;
	a->audit = audit_close(a->audit);
	a->metrics = metrics_free(a->metrics);
	if (a->timer_fd >= 0)
		close(a->timer_fd);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	if (a->epoll_fd >= 0)
		close(a->epoll_fd);
	config_free(a->config);
	free(a);
	return NULL;
}
