// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Falco's side of the agent (see falco_handler.h): the intake started from
 * the config, and each alert joined, attributed, decided, acted on, recorded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_internal.h"
#include "attrib.h"
#include "audit.h"
#include "correlate.h"
#include "decide.h"
#include "falco_alert.h"
#include "falco_feed.h"
#include "falco_handler.h"
#include "incident.h"
#include "kill.h"
#include "log.h"
#include "metrics.h"
#include "policy.h"
#include "util.h"
#include "verdicts.h"

/* The Falco alert's fields onto an incident (first alert) or into its reason (later ones). */
static void alert_onto_incident(struct incident *inc, const struct falco_alert *al)
{
	if (inc->falco_rule[0]) {
		incident_append_detail(inc, "; also Falco rule '%s'", al->rule);
		return;
	}
	copy_str(inc->falco_rule, sizeof(inc->falco_rule), al->rule);
	audit_priority_upper(al->priority_text, inc->falco_priority, sizeof(inc->falco_priority));
	free(inc->falco_output);
	inc->falco_output = al->output ? strdup(al->output) : NULL;
}

/* A stable id for an alert: sidekick's uuid, else a hash of what Falco wrote. */
static void alert_event_id(const struct agent *a, const struct falco_alert *al, char *buf, size_t size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	const char *parts[3] = { al->rule, al->output, al->container_id };

	if (al->uuid && *al->uuid) {
		snprintf(buf, size, "falco-%s", al->uuid);
		return;
	}
	for (int i = 0; i < 3; i++)
		for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
			h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	snprintf(buf, size, "falco-%s-%llu-%016llx", a->boot_id, (unsigned long long)al->time_ns,
		 (unsigned long long)h);
}

/* The kernel (or an earlier alert) already has this process: confirm, do not act again. True when joined. */
static bool alert_join(struct agent *a, const struct falco_alert *al, const struct reflex_rule *rule,
		       const struct corr_event *ev)
{
	struct incident *m = incident_find_open(a, ev, true, al->rule, rule && action_kills(rule->action), false);
	char what[512], priority[16];

	if (!m)
		return false;
	snprintf(what, sizeof(what), "Falco alert '%s'", al->rule);
	incident_record_join(a, m, al->rule, audit_priority_upper(al->priority_text, priority, sizeof(priority)),
			     al->output, ev->time_ns, what);
	if (!m->from_falco && !m->correlated) {
		m->correlated = true;
		a->falco_correlated++;
	}
	log_info("falco: '%s' for %s in %.12s joined incident %s (%s)", al->rule, al->exe_path ? al->exe_path : "?",
		 al->container_id, m->event_id, m->outcome ? m->outcome : "in progress");
	return true;
}

/* A new incident of alert AL, received at RECEIVED_NS (CLOCK_MONOTONIC), of TIME_NS (CLOCK_REALTIME). */
static struct incident *alert_incident(struct agent *a, const struct falco_alert *al, uint64_t received_ns,
				       uint64_t time_ns)
{
	struct incident *inc = incident_new("falco");

	if (!inc)
		return NULL;
	inc->from_falco = true;
	inc->event_ktime_ns = received_ns;
	inc->event_real_ns = time_ns;
	inc->pid = al->pid > 0 ? al->pid : -1;
	copy_str(inc->rule, sizeof(inc->rule), al->rule);
	copy_str(inc->exe_path, sizeof(inc->exe_path), al->exe_path);
	/*
	 * Namespace, pod, owner and image come from the runtime or the API,
	 * never from the alert's k8s.* fields: whoever can write to Falco's
	 * output (or forge a sidekick POST) must not choose where reflex acts.
	 */
	alert_onto_incident(inc, al);
	alert_event_id(a, al, inc->event_id, sizeof(inc->event_id));
	return inc;
}

/* The container the alert names onto INC, when it is on this node; what was found into AT. */
static void alert_attribute(struct agent *a, const struct falco_alert *al, struct incident *inc,
			    struct attribution *at)
{
	const struct container_info *info = NULL;

	at->err = attrib_find_container(a->attrib, al->container_id, verdicts_on_container_change, a, &info);
	inc->is_container = true;
	if (at->err) {
		/* Falco saw a container; it is not (or no longer) here: no kill, said below. */
		copy_str(inc->container_id, sizeof(inc->container_id), al->container_id);
		return;
	}
	at->info = info;
	inc->cgroup_id = info->cgroup_id;
	incident_take_container(a, inc, info, at);
}

/* Policy's verdict on INC into D, and onto INC; where reflex cannot act, the detail says why. */
static void alert_policy(struct agent *a, const struct falco_alert *al, bool named, struct incident *inc,
			 const struct attribution *at, struct policy_decision *d)
{
	const struct container_info *info = at->info;
	/* The agent, or any process of its own container. */
	bool is_agent = al->pid == a->self_pid || (info && a->self_cgroup_id && info->cgroup_id == a->self_cgroup_id);

	incident_decide(a, inc, at, is_agent, al->pid == 1, d);
	if (!named)
		incident_append_detail(inc, "; the alert names no container: reflex never acts on it");
	else if (!info)
		incident_append_detail(inc, "; container %s not found on this node (%s)", al->container_id,
				       at->err == -ENOTUNIQ ? "the id prefix names two containers"
				       : at->err == -EEXIST ? "two cgroups claim this container id: refused"
							    : "gone or not here");
	else if (!inc->namespace_[0])
		incident_append_detail(inc, "; neither the runtime nor the Kubernetes API knows this container's "
					    "pod (the alert says namespace '%s', which is not trusted): reflex never "
					    "acts on it",
				       al->k8s_namespace ? al->k8s_namespace : "");
}

/* The plan for INC: the rate limit asked where policy kills, then the kill, or the record only. */
static void alert_act(struct agent *a, const struct falco_alert *al, struct incident *inc,
		      const struct container_info *info, const struct policy_decision *d, const char *summary)
{
	struct decide_input in = {
		.policy = d,
		.from_falco = true,
		.target_known = info != NULL,
		.namespace_known = inc->namespace_[0] != '\0',
		.has_exe = inc->exe_path[0] != '\0',
	};
	struct decide_plan p;

	decide(&in, &p);
	if (p.step == DECIDE_ASK_RATE_LIMIT) {
		in.admit = rate_limit_admits(a, inc) ? DECIDE_ADMIT_YES : DECIDE_ADMIT_NO;
		decide(&in, &p);
	}
	incident_apply_plan(a, inc, &p);
	if (p.step == DECIDE_KILL_PROCESS || p.step == DECIDE_KILL_CONTAINER) {
		if (p.step == DECIDE_KILL_PROCESS)
			kill_alert_targets(a, inc, info, al);
		else
			kill_container(a, inc, info);
		log_info("%s", summary); /* INC may be freed by now */
		return;
	}
	log_info("%s", summary);
	incident_done(a, inc, -1);
}

/* Correlation, attribution, policy, response, audit for one Falco alert. */
static void handle_falco_alert(struct agent *a, const struct falco_alert *al, uint64_t received_ns)
{
	const struct reflex_rule *rule = config_find_rule(a->config, al->rule);
	bool named = al->container_id && *al->container_id && strcmp(al->container_id, "host");
	struct attribution at = { 0 };
	struct policy_decision d;
	char summary[REFLEX_PATH_LEN + 1024];
	struct incident *inc;
	struct corr_event ev = {
		.container_id = named ? al->container_id : NULL,
		.exe_path = al->exe_path,
		.pid = al->pid,
		.time_ns = al->time_ns ? al->time_ns : (uint64_t)util_realtime_ns(),
	};

	if (named && incident_correlation_on(a) && alert_join(a, al, rule, &ev))
		return;
	if (!rule) {
		a->falco_unconfigured++;
		log_debug("falco: '%s' is not a rule in %s; counted only", al->rule, a->config->path);
		return;
	}
	inc = alert_incident(a, al, received_ns, ev.time_ns);
	if (!inc) {
		log_error("falco: out of memory; alert '%s' not handled", al->rule);
		return;
	}
	if (named)
		alert_attribute(a, al, inc, &at);
	alert_policy(a, al, named, inc, &at, &d);
	/* Written after the kill, as for kernel detections. */
	snprintf(summary, sizeof(summary), "falco: '%s' (%s) %s in %s: %s (%s)", al->rule,
		 al->priority_text ? al->priority_text : "?", inc->exe_path[0] ? inc->exe_path : "?",
		 named ? al->container_id : "no container", policy_verdict_name(d.verdict), d.reason);
	alert_act(a, al, inc, at.info, &d, summary);
}

void falco_handler_on_feed(struct agent *a)
{
	for (int i = 0; i < 256; i++) {
		struct falco_alert al = { 0 };
		enum falco_intake intake;
		uint64_t received_ns;

		if (!falco_feed_next(a->feed, &al, &received_ns, &intake))
			return;
		handle_falco_alert(a, &al, received_ns);
		falco_alert_clear(&al);
	}
}

/* Token for the HTTP intake, read once at start (a rotated token needs a restart). */
static int read_token(const char *path, char *buf, size_t size)
{
	int n = util_read_small_file(path, buf, size);

	if (n < 0)
		return n;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return n ? 0 : -ENODATA;
}

int falco_handler_start(struct agent *a)
{
	const struct agent_config *ac = &a->config->agent;
	char token[512] = "";
	struct falco_feed_config fc = {
		.socket_path = ac->falco_socket,
		.socket_mode = ac->falco_socket_mode,
		.peer_uids = ac->falco_peer_uids,
		.n_peer_uids = ac->n_falco_peer_uids,
		.http_address = ac->falco_http_address,
		.http_token = token,
		.max_alert_bytes = ac->falco_max_alert_bytes,
		.queue_size = ac->falco_queue_size,
	};
	int err;

	if (!*ac->falco_socket && !*ac->falco_http_address) {
		log_warn("falco: no intake (agent.falco_socket and agent.falco_http_address are off): "
			 "only kernel detections are acted on");
		metrics_set_hook(a->metrics, "falco feed", false, "off in config");
		return 0;
	}
	if (*ac->falco_http_token_file && (err = read_token(ac->falco_http_token_file, token, sizeof(token))))
		return log_errno(LOG_LEVEL_ERROR, err, "falco: token file %s", ac->falco_http_token_file);
	err = falco_feed_start(&fc, &a->feed);
	explicit_bzero(token, sizeof(token));
	if (err)
		return err;
	err = agent_epoll_add(a, falco_feed_fd(a->feed), &a->tag.feed);
	if (err)
		return log_errno(LOG_LEVEL_ERROR, err, "epoll add falco feed");
	if (*ac->falco_socket && !ac->n_falco_peer_uids)
		log_warn("falco: agent.falco_peer_uids is empty: %s refuses every writer (remove the key for root only)",
			 ac->falco_socket);
	else if (*ac->falco_socket)
		log_info("falco: reading alerts from %s (mode %04o, writers uid %u%s)", ac->falco_socket,
			 ac->falco_socket_mode, ac->falco_peer_uids[0], ac->n_falco_peer_uids > 1 ? " and others" : "");
	if (*ac->falco_http_address)
		log_info("falco: HTTP intake on %s (port %u)%s", ac->falco_http_address,
			 falco_feed_http_port(a->feed), *ac->falco_http_token_file ? ", X-Falco-Token required" : "");
	metrics_set_hook(a->metrics, "falco feed", true,
			 *ac->falco_socket ? ac->falco_socket : ac->falco_http_address);
	return 0;
}
