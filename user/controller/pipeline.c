// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * One alert or report, in data-flow order: parse -> permit -> owner walk ->
 * decide -> act -> audit. Each stage is a function called once; what is
 * decided is decided in decide.c, what is done in the cluster in actions.c.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "actions.h"
#include "audit.h"
#include "decide.h"
#include "deliver.h"
#include "falco_alert.h"
#include "k8s_events.h"
#include "log.h"
#include "page.h"
#include "pipeline.h"
#include "ratelimit.h"
#include "stats.h"
#include "util.h"

/* One alert on its way through the stages; each fills its part. */
struct incident {
	const struct falco_alert *al;
	struct node_report node;
	char event_id[160], id_key[200], inc_key[320];
	/* The rule, copied under the lock: a reload may free the config once it is released. */
	bool configured;
	enum reflex_action action;
	const char *action_name;
	char audit_reason[1024], operator_[64];
	enum controller_role role;
	struct controller_plan plan;
	const char *outcome;
	bool dry_run;
	struct owner_walk walk;
	char detail[1536], why[512];
	int err; /* -EAGAIN: the API failed in a way worth retrying */
};

/* ---- dedupe ------------------------------------------------------------- */

/* True when KEY was already claimed within the window; else claims it. Under lock. */
static bool dedupe_claim(struct controller *c, const char *key, unsigned int window_s)
{
	uint64_t now = util_monotonic_ns();
	size_t w = 0;

	for (size_t i = 0; i < c->n_dedupe; i++) {
		if (c->dedupe[i].expires_ns <= now)
			continue;
		if (!strcmp(c->dedupe[i].key, key))
			return true;
		c->dedupe[w++] = c->dedupe[i];
	}
	c->n_dedupe = w;
	if (c->n_dedupe == CTL_DEDUPE_MAX) { /* full: the oldest claim goes */
		memmove(c->dedupe, c->dedupe + 1, (CTL_DEDUPE_MAX - 1) * sizeof(*c->dedupe));
		c->n_dedupe--;
	}
	ctl_say(c->dedupe[c->n_dedupe].key, sizeof(c->dedupe[0].key), "%s", key);
	c->dedupe[c->n_dedupe].expires_ns = now + (uint64_t)window_s * 1000000000ULL;
	c->n_dedupe++;
	return false;
}

/* Gives a claim back (the action failed in a way worth retrying). Under lock. */
static void dedupe_release(struct controller *c, const char *key)
{
	for (size_t i = 0; i < c->n_dedupe; i++)
		if (!strcmp(c->dedupe[i].key, key)) {
			c->dedupe[i] = c->dedupe[--c->n_dedupe];
			return;
		}
}

/* ---- helpers ------------------------------------------------------------ */

static void answer(struct verdict *v, int http_status, enum alert_result result)
{
	v->http_status = http_status;
	v->result = result;
}

static const char *what_it_would_do(enum reflex_action action)
{
	return action == ACTION_KILL_POD ? "delete the pod" : "isolate the namespace";
}

/*
 * The record's reason when the rule has no audit_reason: a fixed text per
 * action (README "Audit records"), never reflex's own findings (those are
 * the detail).
 */
static const char *default_reason(const char *action)
{
	enum reflex_action a = ACTION_ALERT;

	if (action)
		action_from_name(action, &a); /* unknown: stays alert */
	return action_default_audit_reason(a);
}

/*
 * The rate limit's say on an action the policy allows, per rule: distinct
 * pods deleted (kill_pod) or namespaces isolated within the window. False:
 * the rule is disarmed to alert-only (DETAIL says why) until a reload.
 */
static bool rate_limit_admits(struct controller *c, enum reflex_action action, const char *rule, const char *ns,
			      const char *pod, char *detail, size_t size)
{
	bool isolate = action == ACTION_ISOLATE_NAMESPACE;
	enum ratelimit_verdict v;
	unsigned int limit, window;
	char key[320], why[256];

	ctl_say(key, sizeof(key), "%s/%s", ns, isolate ? "" : pod);
	pthread_mutex_lock(&c->lock);
	v = ratelimit_admit(isolate ? c->rl_namespaces : c->rl_pods, rule, key, "", util_monotonic_ns());
	limit = isolate ? c->config->controller.rate_limit_namespaces : c->config->controller.rate_limit_pods;
	window = c->config->controller.rate_limit_window_s;
	pthread_mutex_unlock(&c->lock);
	if (v == RATELIMIT_ADMIT)
		return true;
	ctl_say(why, sizeof(why),
		"rule disarmed to alert-only: more than %u distinct %s %s within %u s (controller.rate_limit_%s); "
		"re-armed by a config reload",
		limit, isolate ? "namespaces" : "pods", isolate ? "isolated" : "deleted", window,
		isolate ? "namespaces" : "pods");
	if (v == RATELIMIT_DISARMED_NOW)
		log_error("rule '%s': %s", rule, why);
	ctl_append(detail, size, "%s%s", detail[0] ? "; " : "", why);
	return false;
}

void controller_audit(struct controller *c, const struct audit_record *r, char **ret_line)
{
	char *line = NULL, note[1100];
	struct k8s_event ev;
	uint64_t dropped = 0;
	int err;

	if (ret_line)
		*ret_line = NULL;
	err = audit_write_line(c->audit_stdout, r, &line);
	if (err < 0)
		log_error("audit: writing the record to stdout failed (%s)", strerror(-err));
	if (!line) {
		log_error("audit: out of memory formatting the record for %s", r->rule ? r->rule : "?");
		return;
	}
	/* Graylog gets the very line stdout got: the chain's hash holds there too. */
	if (c->audit_out) {
		err = deliver_submit(c->audit_out, line, strlen(line), &dropped);
		if (err < 0 || dropped)
			stats_count_audit_lost(c, err < 0 ? 1 : dropped);
		if (err < 0)
			log_error("audit: record for '%s' not spooled for Graylog (%s); it is on stdout only",
				  r->rule ? r->rule : "?", strerror(-err));
	}
	/* Best-effort, after the record: an Event never delays or blocks it. */
	if (c->events && k8s_event_from_audit(r, note, sizeof(note), &ev) == 0)
		k8s_events_emit(c->events, &ev);
	if (ret_line)
		*ret_line = line;
	else
		free(line);
}

static void audit(struct controller *c, const struct audit_record *r)
{
	controller_audit(c, r, NULL);
}

/* ---- the stages --------------------------------------------------------- */

static void read_node_report(json_t *root, struct node_report *n)
{
	json_t *rx = json_object_get(root, "reflex");
	json_t *lat;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(rx)) {
		n->pod_uid = json_string_value(json_object_get(json_object_get(root, "output_fields"), "k8s.pod.uid"));
		return;
	}
	n->present = true;
	n->node = json_string_value(json_object_get(rx, "node"));
	n->event_id = json_string_value(json_object_get(rx, "event_id"));
	n->outcome = json_string_value(json_object_get(rx, "outcome"));
	n->action = json_string_value(json_object_get(rx, "action"));
	n->kill_mode = json_string_value(json_object_get(rx, "kill_mode"));
	n->source = json_string_value(json_object_get(rx, "source"));
	n->reason = json_string_value(json_object_get(rx, "reason"));
	n->pod_uid = json_string_value(json_object_get(rx, "pod_uid"));
	/* Falco itself can print k8s.pod.uid (append_output): the same check. */
	if (!n->pod_uid)
		n->pod_uid = json_string_value(json_object_get(json_object_get(root, "output_fields"), "k8s.pod.uid"));
	n->dry_run = json_is_true(json_object_get(rx, "dry_run"));
	lat = json_object_get(rx, "latency_us");
	n->latency_us = json_is_integer(lat) ? json_integer_value(lat) : -1;
}

/* The node's report, if any, and the event's id: the node's, else Falco's. */
static void parse(struct incident *in)
{
	const struct falco_alert *al = in->al;

	read_node_report(al->json, &in->node);
	if (in->node.event_id && *in->node.event_id)
		ctl_say(in->event_id, sizeof(in->event_id), "%s", in->node.event_id);
	else if (al->uuid && *al->uuid)
		ctl_say(in->event_id, sizeof(in->event_id), "falco-%s", al->uuid);
	else
		ctl_say(in->event_id, sizeof(in->event_id), "falco-%llu-%.40s", (unsigned long long)al->time_ns,
			al->container_id ? al->container_id : "none");
	ctl_say(in->id_key, sizeof(in->id_key), "id:%s", in->event_id);
}

/*
 * Whose alert it is and whether it is new, under one hold of the lock: the
 * rule's copy, the event's claim and, for the controller's own rules, the
 * incident's. False when it goes no further (ignored, a duplicate delivery):
 * V is the answer.
 */
static bool claim(struct controller *c, struct incident *in, struct verdict *v, bool *incident_claimed)
{
	const struct falco_alert *al = in->al;
	const struct reflex_config *cfg;
	const struct reflex_rule *rule;

	pthread_mutex_lock(&c->lock);
	cfg = c->config;
	rule = config_find_rule(cfg, al->rule);
	in->configured = rule;
	in->action = rule ? rule->action : ACTION_ALERT;
	in->action_name = action_name(in->action);
	if (rule && rule->audit_reason)
		audit_copy_utf8(in->audit_reason, sizeof(in->audit_reason), rule->audit_reason);
	ctl_say(in->operator_, sizeof(in->operator_), "%s", cfg->controller.operator_);
	in->role = controller_role(in->action, &in->node);
	if (in->role == CONTROLLER_IGNORE) {
		pthread_mutex_unlock(&c->lock);
		answer(v, MHD_HTTP_OK, RESULT_IGNORED);
		ctl_say(v->message, sizeof(v->message), "ignored: rule '%s' is %s, handled on the node\n", al->rule,
			in->configured ? in->action_name : "not configured");
		return false;
	}
	if (dedupe_claim(c, in->id_key, cfg->controller.dedupe_window_s)) {
		pthread_mutex_unlock(&c->lock);
		answer(v, MHD_HTTP_OK, RESULT_DUPLICATE);
		ctl_say(v->message, sizeof(v->message), "duplicate: event %s already handled\n", in->event_id);
		log_info("duplicate delivery of event %s ('%s'): nothing done again", in->event_id, al->rule);
		return false;
	}
	if (in->role == CONTROLLER_ACTS) {
		ctl_say(in->inc_key, sizeof(in->inc_key), "inc:%s|%s|%s", al->rule,
			al->k8s_namespace ? al->k8s_namespace : "",
			in->action == ACTION_ISOLATE_NAMESPACE ? "" : al->k8s_pod ? al->k8s_pod : "");
		*incident_claimed = !dedupe_claim(c, in->inc_key, cfg->controller.dedupe_window_s);
	}
	pthread_mutex_unlock(&c->lock);
	return true;
}

/* The plan before any API call, and the detail when that plan is to record. */
static bool permit(struct controller *c, struct incident *in, struct verdict *v)
{
	const struct falco_alert *al = in->al;
	const struct node_report *n = &in->node;
	const char *ns = al->k8s_namespace, *pod = al->k8s_pod;
	bool claimed = false, other_action;

	if (!claim(c, in, v, &claimed))
		return false;
	controller_permit(&(struct controller_permit_input){ .role = in->role,
							     .node = n,
							     .action = in->action,
							     .incident_claimed = claimed,
							     .namespace_ = ns,
							     .pod = pod },
			  &in->plan);
	in->outcome = in->plan.outcome;
	in->dry_run = in->plan.dry_run;
	other_action = n->action && strcmp(n->action, in->action_name);
	if (in->plan.why == CONTROLLER_WHY_DUPLICATE)
		ctl_say(in->detail, sizeof(in->detail), "the controller already decided this incident (%s%s%s)",
			ns ? ns : "", pod ? "/" : "", pod ? pod : "");
	else if (in->plan.why == CONTROLLER_WHY_NODE_DECLINED)
		ctl_say(in->detail, sizeof(in->detail),
			"the node did not act (outcome %s%s%s%s): the controller does not %s",
			n->outcome ? n->outcome : "missing", in->dry_run ? ", dry run" : "",
			other_action ? ", action " : "", other_action ? n->action : "", what_it_would_do(in->action));
	else if (in->plan.why == CONTROLLER_WHY_NO_NAMES)
		ctl_say(in->detail, sizeof(in->detail), "the alert names no valid namespace%s: nothing to act on",
			in->action == ACTION_KILL_POD ? " and pod" : "");
	return true;
}

/* The pod's owners through the API; isolation without a pod's name has none to walk. */
static void walk(struct controller *c, struct incident *in)
{
	if (in->plan.walk_pod)
		in->err = actions_walk_owners(c, in->al->k8s_namespace, in->al->k8s_pod, &in->walk, in->why,
					      sizeof(in->why));
}

/* Policy on what the walk found, then the pod's state and the rate limit. */
static void decide(struct controller *c, struct incident *in)
{
	const struct falco_alert *al = in->al;
	const struct owner_walk *w = &in->walk;
	struct controller_subject s = {
		.action = in->action,
		.rule = al->rule,
		.namespace_ = al->k8s_namespace,
		.pod = al->k8s_pod,
		.image = al->image,
		.exe_path = al->exe_path,
		.owner_kind = w->top_kind[0] ? w->top_kind : NULL,
		.force_dry_run = c->opts.dry_run,
	};
	struct controller_decide_input din = { .action = in->action };
	struct policy_decision d;

	pthread_mutex_lock(&c->lock);
	controller_policy(c->config, &s, &d);
	pthread_mutex_unlock(&c->lock);
	ctl_say(in->detail, sizeof(in->detail), "%s%s%s%s%s", d.reason, w->chain[0] ? "; owners: " : "", w->chain,
		in->why[0] ? "; " : "", in->why);
	din.verdict = d.verdict;
	din.pod_gone = w->pod_gone;
	din.pod_uid_differs = in->node.pod_uid && *in->node.pod_uid && w->pod_uid[0] &&
			      strcmp(in->node.pod_uid, w->pod_uid);
	controller_decide(&din, &in->plan);
	if (in->plan.step == CONTROLLER_ASK_RATE_LIMIT) {
		din.admit = rate_limit_admits(c, in->action, al->rule, al->k8s_namespace, al->k8s_pod, in->detail,
					      sizeof(in->detail))
				    ? CONTROLLER_ADMIT_YES
				    : CONTROLLER_ADMIT_NO;
		controller_decide(&din, &in->plan);
	}
	in->outcome = in->plan.outcome;
	in->dry_run = in->plan.dry_run;
	if (in->plan.why == CONTROLLER_WHY_GONE)
		ctl_append(in->detail, sizeof(in->detail), "; pod %s/%s already gone (404)", al->k8s_namespace,
			   al->k8s_pod);
	else if (in->plan.why == CONTROLLER_WHY_NEWER_POD)
		ctl_append(in->detail, sizeof(in->detail),
			   "; the pod named %s/%s now has uid %s, not %s: a newer pod, not touched", al->k8s_namespace,
			   al->k8s_pod, w->pod_uid, in->node.pod_uid);
	else if (in->plan.why == CONTROLLER_WHY_DRY_RUN)
		ctl_append(in->detail, sizeof(in->detail), "; DRY_RUN: would %s", what_it_would_do(in->action));
}

/* Pages the isolation (spooled per target, sent and audited by the pager); NOTE says what was done. */
static void page_note(struct controller *c, const char *ns, const char *rule, const char *event_id,
		      const char *reason, char *note, size_t size)
{
	int err;

	if (!pager_has_targets(c->pager)) {
		log_warn("isolated namespace %s but neither controller.page_webhook_url nor page_falcosidekick_url is "
			 "set: nobody was paged", ns);
		ctl_say(note, size, "; nobody paged (no controller.page_webhook_url or page_falcosidekick_url)");
		return;
	}
	err = page_isolation(c->pager, ns, rule, event_id, reason);
	if (err)
		ctl_say(note, size, "; PAGING FAILED (the page could not be spooled: %s)", strerror(-err));
	else
		ctl_say(note, size, "; on-call page spooled (delivery audited as action page)");
}

/* The plan's API call; an isolation pages the on-call person. */
static void act(struct controller *c, struct incident *in, uint64_t start_ns)
{
	const struct falco_alert *al = in->al;
	char done[512] = "", note[160] = "";

	if (in->plan.step == CONTROLLER_DELETE_POD)
		in->err = actions_delete_pod(c, al->k8s_namespace, al->k8s_pod, in->walk.pod_uid, &in->outcome, done,
					     sizeof(done));
	else
		in->err = actions_isolate_namespace(c, al->k8s_namespace, al->rule, in->event_id, &in->outcome, done,
						    sizeof(done));
	if (in->err == 0 && in->plan.step == CONTROLLER_ISOLATE && !strcmp(in->outcome, "isolated"))
		page_note(c, al->k8s_namespace, al->rule, in->event_id, in->audit_reason, note, sizeof(note));
	if (in->err == -EAGAIN)
		ctl_say(in->why, sizeof(in->why), "%s", done);
	else
		ctl_append(in->detail, sizeof(in->detail), "; %s%s", done, note);
	if (in->err == 0)
		stats_observe_latency(c, start_ns);
}

/*
 * The API failed in a way worth retrying. False when the agent delivers
 * the report again: the claims are given back, nothing is recorded yet, V
 * is the answer.
 */
static bool unavailable(struct controller *c, struct incident *in, struct verdict *v)
{
	stats_count_api_error(c);
	controller_unavailable(&in->node, &in->plan);
	if (in->plan.step == CONTROLLER_RETRY) {
		pthread_mutex_lock(&c->lock);
		dedupe_release(c, in->id_key);
		dedupe_release(c, in->inc_key);
		pthread_mutex_unlock(&c->lock);
		log_warn("event %s ('%s'): %s; the agent will deliver it again", in->event_id, in->al->rule, in->why);
		answer(v, MHD_HTTP_SERVICE_UNAVAILABLE, RESULT_RETRY);
		ctl_say(v->message, sizeof(v->message), "Kubernetes API unavailable, retry: %s\n", in->why);
		return false;
	}
	in->outcome = in->plan.outcome;
	in->dry_run = in->plan.dry_run;
	ctl_append(in->detail, sizeof(in->detail), "%s%s", in->detail[0] ? "; " : "", in->why);
	return true;
}

/* The audit record of what was decided and done, with the node's word when there is a report. */
static void audit_incident(struct controller *c, struct incident *in, struct verdict *v)
{
	const struct falco_alert *al = in->al;
	const struct node_report *n = &in->node;
	bool controllers = in->role == CONTROLLER_ACTS || in->role == CONTROLLER_DECLINED;
	const char *rec_action = controllers ? in->action_name : n->action ? n->action : in->action_name;
	struct audit_record rec;
	struct timespec now;
	char prio[32];

	if (n->present) {
		ctl_append(in->detail, sizeof(in->detail), "%snode %s: %s%s%s%s", in->detail[0] ? "; " : "",
			   n->node ? n->node : "?", n->outcome ? n->outcome : "?", n->kill_mode ? " (" : "",
			   n->kill_mode ? n->kill_mode : "", n->kill_mode ? ")" : "");
		if (n->reason)
			ctl_append(in->detail, sizeof(in->detail), ": %s", n->reason);
	}
	clock_gettime(CLOCK_REALTIME, &now);
	rec = (struct audit_record){
		.time = now,
		.event_time = { .tv_sec = (time_t)(al->time_ns / 1000000000ULL),
				.tv_nsec = (long)(al->time_ns % 1000000000ULL) },
		.action = rec_action,
		.outcome = in->outcome ? in->outcome : "reported",
		.namespace_ = al->k8s_namespace,
		.pod = al->k8s_pod,
		.rule = al->rule,
		.dry_run = in->dry_run,
		/* What the operator wrote, verbatim; what reflex found and did is the detail. */
		.reason = in->audit_reason[0] ? in->audit_reason : default_reason(rec_action),
		.detail = in->detail[0] ? in->detail : NULL,
		.operator_ = controllers ? in->operator_ : "reflex-agent",
		.falco_priority = audit_priority_upper(al->priority_text, prio, sizeof(prio)),
		.falco_output = al->output,
		.node = n->node ? n->node : al->hostname,
		.container_id = al->container_id,
		.pid = al->pid > 0 ? al->pid : -1,
		.exe_path = al->exe_path,
		.source = n->source ? n->source : "falco",
		.latency_us = n->latency_us,
		.kill_mode = n->kill_mode,
		.image = al->image,
		.event_id = in->event_id,
	};
	audit(c, &rec);
	stats_count_outcome(c, rec.action, rec.outcome);
	log_info("%s '%s' %s/%s: %s (%s)", in->event_id, al->rule, al->k8s_namespace ? al->k8s_namespace : "-",
		 al->k8s_pod ? al->k8s_pod : "-", rec.outcome, in->detail);
	answer(v, MHD_HTTP_OK, RESULT_ACCEPTED);
	ctl_say(v->message, sizeof(v->message), "%s: %s\n", rec.outcome, in->event_id);
}

void pipeline_handle_alert(struct controller *c, const struct falco_alert *al, uint64_t start_ns, struct verdict *v)
{
	struct incident in = { .al = al };

	parse(&in);
	if (!permit(c, &in, v))
		return;
	if (in.plan.step == CONTROLLER_WALK_OWNERS)
		walk(c, &in);
	if (in.plan.step == CONTROLLER_WALK_OWNERS && !in.err)
		decide(c, &in);
	if (in.plan.step == CONTROLLER_DELETE_POD || in.plan.step == CONTROLLER_ISOLATE)
		act(c, &in, start_ns);
	if (in.err == -EAGAIN && !unavailable(c, &in, v))
		return;
	audit_incident(c, &in, v);
}
