// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller: alerts in, Kubernetes actions and GELF audit out; see controller.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <zlib.h>

#include "audit.h"
#include "controller.h"
#include "decide.h"
#include "deliver.h"
#include "falco_alert.h"
#include "gelf.h"
#include "httpd.h"
#include "kubeapi.h"
#include "log.h"
#include "policy.h"
#include "ratelimit.h"
#include "token.h"
#include "http_body.h"
#include "util.h"

#define ISOLATION_POLICY_NAME "falco-emergency-isolation"
#define OWNER_WALK_MAX 6        /* pod -> ReplicaSet -> Deployment -> ... */
#define DEDUPE_MAX 65536        /* entries; the oldest expire first */

/* Histogram of alert received -> action done (µs), Prometheus buckets. */
static const double latency_buckets_us[] = { 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
					      1000000 };
#define N_BUCKETS (sizeof(latency_buckets_us) / sizeof(latency_buckets_us[0]))

enum alert_result {
	RESULT_ACCEPTED,
	RESULT_DUPLICATE,
	RESULT_IGNORED,
	RESULT_REJECTED,
	RESULT_UNAUTHORIZED,
	RESULT_TOO_LARGE,
	RESULT_RETRY,
	RESULT_MAX,
};
static const char *const result_names[RESULT_MAX] = { "accepted", "duplicate",    "ignored", "rejected",
						      "unauthorized", "too_large", "retry" };

struct dedupe_entry {
	char key[320];
	uint64_t expires_ns;
};

struct outcome_count {
	char action[32];
	char outcome[32];
	uint64_t n;
};

struct controller {
	const struct reflex_config *config; /* under lock */
	struct controller_opts opts;
	char *listen_address;
	char *token_file;
	char *page_url;
	char *node_fallback;
	struct MHD_Daemon *mhd;
	unsigned short port;
	struct kubeapi *api;
	struct deliver *audit_out;
	struct gelf_sender *gelf;
	struct audit_log *audit_stdout;
	pthread_mutex_t lock;
	/* Below: under lock. */
	struct dedupe_entry *dedupe;
	size_t n_dedupe;
	/* Runaway disarm per rule (ratelimit.c, as on the node); new with every config: a reload re-arms. */
	struct ratelimit *rl_pods, *rl_namespaces;
	uint64_t results[RESULT_MAX];
	struct outcome_count outcomes[64];
	size_t n_outcomes;
	uint64_t api_errors;
	uint64_t pages_sent, pages_failed;
	uint64_t audit_lost;
	uint64_t latency_count, latency_bucket[N_BUCKETS];
	double latency_sum_us;
	atomic_bool ready;
};

/*
 * snprintf for messages: truncating a long reason is intended, but never
 * inside a UTF-8 character (rule names, pods and event ids come from the
 * report): a split character would make jansson refuse the NetworkPolicy
 * or the page built from it.
 */
__attribute__((format(printf, 3, 4))) static void say(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	char *full = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&full, fmt, ap);
	va_end(ap);
	if (n < 0) {
		if (size)
			buf[0] = '\0';
		return;
	}
	audit_copy_utf8(buf, size, full);
	free(full);
}

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
	if (c->n_dedupe == DEDUPE_MAX) { /* full: the oldest claim goes */
		memmove(c->dedupe, c->dedupe + 1, (DEDUPE_MAX - 1) * sizeof(*c->dedupe));
		c->n_dedupe--;
	}
	say(c->dedupe[c->n_dedupe].key, sizeof(c->dedupe[0].key), "%s", key);
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

static void count_outcome(struct controller *c, const char *action, const char *outcome)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n_outcomes; i++)
		if (!strcmp(c->outcomes[i].action, action) && !strcmp(c->outcomes[i].outcome, outcome)) {
			c->outcomes[i].n++;
			pthread_mutex_unlock(&c->lock);
			return;
		}
	if (c->n_outcomes < sizeof(c->outcomes) / sizeof(c->outcomes[0])) {
		struct outcome_count *o = &c->outcomes[c->n_outcomes++];

		say(o->action, sizeof(o->action), "%s", action);
		say(o->outcome, sizeof(o->outcome), "%s", outcome);
		o->n = 1;
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- Kubernetes --------------------------------------------------------- */

/* DNS-1123 names only: they go into API paths, never anything that could climb out. */
static bool is_k8s_name(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max || s[0] == '-' || s[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
			return false;
	return !strstr(s, "..");
}

struct owner_walk {
	char pod_uid[64];
	char top_kind[64];   /* "" unknown */
	char top_name[254];
	char chain[512];     /* "Pod web-1 <- ReplicaSet web <- Deployment web" */
	bool pod_gone;
};

static void chain_add(struct owner_walk *w, const char *kind, const char *name)
{
	size_t n = strlen(w->chain);

	say(w->chain + n, sizeof(w->chain) - n, "%s%s %s", n ? " <- " : "", kind, name);
}

/* The API path of an owner object from its ownerReference, for kinds whose owners matter. */
static int owner_path(const char *api_version, const char *kind, const char *ns, const char *name, char *buf,
		      size_t size)
{
	static const struct {
		const char *kind, *group_path, *plural;
	} known[] = {
		{ "ReplicaSet", "/apis/apps/v1", "replicasets" },   { "Deployment", "/apis/apps/v1", "deployments" },
		{ "StatefulSet", "/apis/apps/v1", "statefulsets" }, { "DaemonSet", "/apis/apps/v1", "daemonsets" },
		{ "Job", "/apis/batch/v1", "jobs" },                { "CronJob", "/apis/batch/v1", "cronjobs" },
	};

	(void)api_version; /* the served version of these kinds is v1 */
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(kind, known[i].kind)) {
			say(buf, size, "%s/namespaces/%s/%s/%s", known[i].group_path, ns, known[i].plural, name);
			return 0;
		}
	return -ENOENT;
}

/* The ownerReference with controller: true, if any. */
static json_t *controlling_owner(json_t *obj)
{
	json_t *refs = json_object_get(json_object_get(obj, "metadata"), "ownerReferences"), *ref;
	size_t i;

	json_array_foreach(refs, i, ref)
		if (json_is_true(json_object_get(ref, "controller")))
			return ref;
	return NULL;
}

/*
 * Pod -> top-level owner through the API. 0 with W filled (top_kind "" when
 * the chain could not be followed to its end: unknown, the policy decides);
 * -EAGAIN when the API failed in a way worth retrying (5xx, no answer).
 */
static int walk_owners(struct controller *c, const char *ns, const char *pod, struct owner_walk *w, char *why,
		       size_t why_size)
{
	char path[512];
	struct kubeapi_response resp;
	json_t *obj = NULL;
	int r;

	memset(w, 0, sizeof(*w));
	say(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	for (int depth = 0; depth < OWNER_WALK_MAX; depth++) {
		json_t *ref, *meta, *ann;
		const char *kind, *name;

		r = kubeapi_request(c->api, "GET", path, NULL, &resp);
		if (r < 0 || resp.status >= 500 || resp.status == 429 || resp.status == 0) {
			say(why, why_size, "GET %.300s: %s", path,
				 r < 0 ? (resp.message[0] ? resp.message : strerror(-r)) : "server error");
			if (r == 0)
				say(why + strlen(why), why_size - strlen(why), " (HTTP %ld %s)", resp.status,
					 resp.message);
			kubeapi_response_clear(&resp);
			pthread_mutex_lock(&c->lock);
			c->api_errors++;
			pthread_mutex_unlock(&c->lock);
			return -EAGAIN;
		}
		if (resp.status == 404 && depth == 0) {
			w->pod_gone = true;
			kubeapi_response_clear(&resp);
			return 0;
		}
		if (resp.status != 200) {
			/* 403 (RBAC), 404 of an owner: the chain stops here, owner unknown. */
			say(why, why_size, "GET %.300s: HTTP %ld %s", path, resp.status, resp.message);
			kubeapi_response_clear(&resp);
			w->top_kind[0] = '\0';
			return 0;
		}
		obj = json_loadb(resp.body, resp.len, 0, NULL);
		kubeapi_response_clear(&resp);
		meta = json_object_get(obj, "metadata");
		name = json_string_value(json_object_get(meta, "name"));
		kind = depth == 0 ? "Pod" : json_string_value(json_object_get(obj, "kind"));
		if (!json_is_object(obj) || !name || !kind) {
			say(why, why_size, "GET %.300s: not a Kubernetes object", path);
			json_decref(obj);
			return 0;
		}
		if (depth == 0) {
			const char *uid = json_string_value(json_object_get(meta, "uid"));

			say(w->pod_uid, sizeof(w->pod_uid), "%s", uid ? uid : "");
		}
		chain_add(w, kind, name);
		say(w->top_kind, sizeof(w->top_kind), "%s", kind);
		say(w->top_name, sizeof(w->top_name), "%s", name);
		ann = json_object_get(meta, "annotations");
		if (depth == 0 && json_object_get(ann, "kubernetes.io/config.mirror")) {
			say(w->top_kind, sizeof(w->top_kind), "Node");
			chain_add(w, "Node", "(mirror pod)");
			json_decref(obj);
			return 0;
		}
		ref = controlling_owner(obj);
		if (!ref) {
			json_decref(obj);
			return 0; /* the top */
		}
		kind = json_string_value(json_object_get(ref, "kind"));
		name = json_string_value(json_object_get(ref, "name"));
		if (!kind || !name || !is_k8s_name(name, 253)) {
			say(why, why_size, "%s has a malformed ownerReference", w->chain);
			w->top_kind[0] = '\0';
			json_decref(obj);
			return 0;
		}
		if (!strcmp(kind, "Node") ||
		    owner_path(json_string_value(json_object_get(ref, "apiVersion")), kind, ns, name, path,
			       sizeof(path))) {
			/* A static pod's owner, or a kind we do not follow (a CRD): it is the top as far as we go. */
			chain_add(w, kind, name);
			say(w->top_kind, sizeof(w->top_kind), "%s", kind);
			say(w->top_name, sizeof(w->top_name), "%s", name);
			json_decref(obj);
			return 0;
		}
		json_decref(obj);
		obj = NULL;
	}
	say(why, why_size, "owner chain longer than %d", OWNER_WALK_MAX);
	w->top_kind[0] = '\0';
	return 0;
}

/* DELETE the pod, only the one with UID. Sets OUTCOME/REASON; -EAGAIN worth retrying. */
static int delete_pod(struct controller *c, const char *ns, const char *pod, const char *uid, const char **outcome,
		      char *reason, size_t size)
{
	char path[512], *body = NULL;
	struct kubeapi_response resp;
	int r;

	say(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	if (asprintf(&body,
		     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0,"
		     "\"preconditions\":{\"uid\":\"%s\"}}",
		     uid) < 0)
		return -ENOMEM;
	r = kubeapi_request(c->api, "DELETE", path, body, &resp);
	free(body);
	if (r < 0 || resp.status >= 500 || resp.status == 429 || resp.status == 0) {
		say(reason, size, "DELETE pod %s/%s failed: %s", ns, pod,
			 r < 0 ? (resp.message[0] ? resp.message : strerror(-r)) : resp.message);
		kubeapi_response_clear(&resp);
		return -EAGAIN;
	}
	if (resp.status == 200 || resp.status == 202) {
		*outcome = "deleted";
		say(reason, size, "pod %s/%s (uid %s) deleted, gracePeriodSeconds 0", ns, pod, uid);
	} else if (resp.status == 404) {
		*outcome = "gone";
		say(reason, size, "pod %s/%s already gone (404)", ns, pod);
	} else if (resp.status == 409) {
		*outcome = "refused";
		say(reason, size, "pod %s/%s not deleted: uid precondition failed, a newer pod has the name (%s)", ns,
			 pod, resp.message);
	} else {
		*outcome = "failed";
		say(reason, size, "DELETE pod %s/%s: HTTP %ld %s", ns, pod, resp.status, resp.message);
	}
	kubeapi_response_clear(&resp);
	return 0;
}

static int create_isolation(struct controller *c, const char *ns, const char *rule, const char *event_id,
			    const char **outcome, char *reason, size_t size)
{
	json_t *np = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}, s:{s:s, s:s}}, s:{s:{}, s:[s]}}", "apiVersion",
			       "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
			       ISOLATION_POLICY_NAME, "namespace", ns, "labels", "app.kubernetes.io/managed-by",
			       "reflex-controller", "annotations", "reflex.io/rule", rule, "reflex.io/event-id",
			       event_id, "spec", "podSelector", "policyTypes", "Egress");
	char path[512], *body = np ? json_dumps(np, JSON_COMPACT) : NULL;
	struct kubeapi_response resp;
	int r;

	json_decref(np);
	if (!body)
		return -ENOMEM;
	say(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies", ns);
	r = kubeapi_request(c->api, "POST", path, body, &resp);
	free(body);
	if (r < 0 || resp.status >= 500 || resp.status == 429 || resp.status == 0) {
		say(reason, size, "create NetworkPolicy in %s failed: %s", ns,
			 r < 0 ? (resp.message[0] ? resp.message : strerror(-r)) : resp.message);
		kubeapi_response_clear(&resp);
		return -EAGAIN;
	}
	if (resp.status == 201 || resp.status == 200) {
		*outcome = "isolated";
		say(reason, size, "namespace %s isolated: NetworkPolicy %s denies all egress", ns,
			 ISOLATION_POLICY_NAME);
	} else if (resp.status == 409 && !strcmp(resp.reason, "AlreadyExists")) {
		*outcome = "isolated";
		say(reason, size, "namespace %s already isolated (NetworkPolicy %s exists)", ns,
			 ISOLATION_POLICY_NAME);
	} else {
		*outcome = "failed";
		say(reason, size, "create NetworkPolicy in %s: HTTP %ld %s %s", ns, resp.status, resp.reason,
			 resp.message);
	}
	kubeapi_response_clear(&resp);
	return 0;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *userdata)
{
	(void)p;
	(void)userdata;
	return size * nmemb;
}

/* Pages the on-call person: isolating a namespace hits every workload in it. */
static void page_oncall(struct controller *c, const char *ns, const char *rule, const char *event_id, char *note,
			size_t size)
{
	json_t *msg;
	char *body, text[512];
	struct curl_slist *h;
	CURL *easy;
	CURLcode res;
	long status = 0;

	if (!c->page_url) {
		log_warn("isolated namespace %s but controller.page_webhook_url is not set: nobody was paged", ns);
		say(note, size, "; nobody paged (controller.page_webhook_url not set)");
		return;
	}
	say(text, sizeof(text), "reflex isolated namespace %s (deny-all egress) after Falco rule '%s'", ns, rule);
	msg = json_pack("{s:s, s:s, s:s, s:s, s:s}", "text", text, "severity", "critical", "namespace", ns, "rule",
			rule, "event_id", event_id);
	body = msg ? json_dumps(msg, JSON_COMPACT) : NULL;
	json_decref(msg);
	easy = curl_easy_init();
	h = curl_slist_append(NULL, "Content-Type: application/json");
	if (!body || !easy || !h) {
		say(note, size, "; paging failed: out of memory");
		goto out;
	}
	curl_easy_setopt(easy, CURLOPT_URL, c->page_url);
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard);
	res = curl_easy_perform(easy);
	if (res == CURLE_OK)
		curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
	pthread_mutex_lock(&c->lock);
	if (status >= 200 && status < 300)
		c->pages_sent++;
	else
		c->pages_failed++;
	pthread_mutex_unlock(&c->lock);
	if (status >= 200 && status < 300) {
		say(note, size, "; on-call paged");
	} else {
		log_error("paging for namespace %s failed: %s", ns,
			  res != CURLE_OK ? curl_easy_strerror(res) : "non-2xx answer");
		say(note, size, "; PAGING FAILED (%s)", res != CURLE_OK ? curl_easy_strerror(res) : "non-2xx");
	}
out:
	curl_slist_free_all(h);
	if (easy)
		curl_easy_cleanup(easy);
	free(body);
}

/* ---- audit -------------------------------------------------------------- */

static void audit(struct controller *c, const struct audit_record *r)
{
	char *line = audit_format(r);
	uint64_t dropped = 0;
	int err;

	if (audit_write(c->audit_stdout, r) < 0)
		log_error("audit: writing the record to stdout failed");
	if (!line) {
		log_error("audit: out of memory formatting the record for %s", r->rule ? r->rule : "?");
		return;
	}
	if (c->audit_out) {
		err = deliver_submit(c->audit_out, line, strlen(line), &dropped);
		if (err < 0 || dropped) {
			pthread_mutex_lock(&c->lock);
			c->audit_lost += err < 0 ? 1 : dropped;
			pthread_mutex_unlock(&c->lock);
		}
		if (err < 0)
			log_error("audit: record for '%s' not spooled for Graylog (%s); it is on stdout only",
				  r->rule ? r->rule : "?", strerror(-err));
	}
	free(line);
}

static int send_gelf(void *ctx, const void *data, size_t len, char *err, size_t errlen)
{
	struct controller *c = ctx;
	struct gelf_fields f = { .stream = NULL };
	char *msg = NULL;
	int r;

	pthread_mutex_lock(&c->lock);
	f.stream = c->config->controller.gelf_stream;
	r = gelf_message_from_audit(data, len, &f, &msg);
	pthread_mutex_unlock(&c->lock);
	if (r < 0) {
		say(err, errlen, "not a valid audit record for GELF: %s", strerror(-r));
		return -EBADMSG;
	}
	/* Graylog answers before it parses: an invalid message would vanish. */
	r = gelf_validate(msg, strlen(msg), err, errlen);
	if (r == 0)
		r = gelf_send(c->gelf, msg, strlen(msg), err, errlen);
	else
		r = -EBADMSG;
	free(msg);
	return r;
}

/* ---- one alert ---------------------------------------------------------- */

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

struct verdict {
	int http_status;
	enum alert_result result;
	char message[512];
};

static void observe_latency(struct controller *c, uint64_t start_ns)
{
	double us = (double)(util_monotonic_ns() - start_ns) / 1000.0;

	pthread_mutex_lock(&c->lock);
	c->latency_count++;
	c->latency_sum_us += us;
	for (size_t i = 0; i < N_BUCKETS; i++)
		if (us <= latency_buckets_us[i])
			c->latency_bucket[i]++;
	pthread_mutex_unlock(&c->lock);
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

static struct ratelimit *rate_limit_new(const struct controller_config *cc, bool namespaces)
{
	struct ratelimit_config rc = {
		.max_containers = namespaces ? cc->rate_limit_namespaces : cc->rate_limit_pods,
		.max_executables = 1, /* the target is the key; every entry has the same (empty) executable */
		.window_s = cc->rate_limit_window_s,
	};

	return ratelimit_new(&rc);
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

	say(key, sizeof(key), "%s/%s", ns, isolate ? "" : pod);
	pthread_mutex_lock(&c->lock);
	v = ratelimit_admit(isolate ? c->rl_namespaces : c->rl_pods, rule, key, "", util_monotonic_ns());
	limit = isolate ? c->config->controller.rate_limit_namespaces : c->config->controller.rate_limit_pods;
	window = c->config->controller.rate_limit_window_s;
	pthread_mutex_unlock(&c->lock);
	if (v == RATELIMIT_ADMIT)
		return true;
	say(why, sizeof(why),
	    "rule disarmed to alert-only: more than %u distinct %s %s within %u s (controller.rate_limit_%s); "
	    "re-armed by a config reload",
	    limit, isolate ? "namespaces" : "pods", isolate ? "isolated" : "deleted", window,
	    isolate ? "namespaces" : "pods");
	if (v == RATELIMIT_DISARMED_NOW)
		log_error("rule '%s': %s", rule, why);
	say(detail + strlen(detail), size - strlen(detail), "%s%s", detail[0] ? "; " : "", why);
	return false;
}

static void handle_alert(struct controller *c, const struct falco_alert *al, uint64_t start_ns, struct verdict *v)
{
	const struct reflex_config *cfg;
	const struct reflex_rule *rule;
	enum reflex_action rule_action;
	char operator_[64], audit_reason[1024] = "", prio[32];
	struct node_report node;
	struct owner_walk walk = { .pod_gone = false };
	struct policy_decision d;
	struct policy_subject s;
	struct controller_decide_input in;
	struct controller_plan plan;
	struct audit_record rec;
	char event_id[160], id_key[200], inc_key[320], detail[1536] = "", why[512] = "", note[160] = "";
	const char *outcome = NULL, *action, *rec_action;
	bool claimed_inc = false, controller_acts, dry_run, node_declined;
	struct timespec now;
	int r = 0;

	read_node_report(al->json, &node);
	if (node.event_id && *node.event_id)
		say(event_id, sizeof(event_id), "%s", node.event_id);
	else if (al->uuid && *al->uuid)
		say(event_id, sizeof(event_id), "falco-%s", al->uuid);
	else
		say(event_id, sizeof(event_id), "falco-%llu-%.40s", (unsigned long long)al->time_ns,
			 al->container_id ? al->container_id : "none");
	say(id_key, sizeof(id_key), "id:%s", event_id);

	pthread_mutex_lock(&c->lock);
	cfg = c->config;
	rule = config_find_rule(cfg, al->rule);
	action = rule ? (rule->action == ACTION_KILL_POD		? "kill_pod"
			 : rule->action == ACTION_ISOLATE_NAMESPACE ? "isolate_namespace"
			 : rule->action == ACTION_KILL_CONTAINER    ? "kill_container"
			 : rule->action == ACTION_KILL_PROCESS      ? "kill_process"
								    : "alert")
		      : "alert";
	/* Copied under the lock: a reload may free the config once it is released. */
	rule_action = rule ? rule->action : ACTION_ALERT;
	if (rule && rule->audit_reason)
		audit_copy_utf8(audit_reason, sizeof(audit_reason), rule->audit_reason);
	say(operator_, sizeof(operator_), "%s", cfg->controller.operator_);
	controller_acts = rule && (rule->action == ACTION_KILL_POD || rule->action == ACTION_ISOLATE_NAMESPACE);
	if (!controller_acts && !node.present) {
		/* Node-only rules: the agent acts and reports; Falco's own alert adds nothing here. */
		pthread_mutex_unlock(&c->lock);
		v->http_status = MHD_HTTP_OK;
		v->result = RESULT_IGNORED;
		say(v->message, sizeof(v->message), "ignored: rule '%s' is %s, handled on the node\n", al->rule,
			 rule ? action : "not configured");
		return;
	}
	if (dedupe_claim(c, id_key, cfg->controller.dedupe_window_s)) {
		pthread_mutex_unlock(&c->lock);
		v->http_status = MHD_HTTP_OK;
		v->result = RESULT_DUPLICATE;
		say(v->message, sizeof(v->message), "duplicate: event %s already handled\n", event_id);
		log_info("duplicate delivery of event %s ('%s'): nothing done again", event_id, al->rule);
		return;
	}
	/*
	 * A report the node declined decides nothing for the incident: a later
	 * report of the same pod that the node did act on must not be a duplicate.
	 */
	node_declined = controller_acts && node.present && !controller_node_permits(&node, rule_action, action);
	if (controller_acts && !node_declined) {
		say(inc_key, sizeof(inc_key), "inc:%s|%s|%s", al->rule, al->k8s_namespace ? al->k8s_namespace : "",
			 rule->action == ACTION_ISOLATE_NAMESPACE ? "" : al->k8s_pod ? al->k8s_pod : "");
		claimed_inc = !dedupe_claim(c, inc_key, cfg->controller.dedupe_window_s);
	}
	pthread_mutex_unlock(&c->lock);

	dry_run = false;
	if (controller_acts && !node_declined && !claimed_inc) {
		outcome = "duplicate";
		say(detail, sizeof(detail), "the controller already decided this incident (%s%s%s)",
			 al->k8s_namespace ? al->k8s_namespace : "", al->k8s_pod ? "/" : "", al->k8s_pod ? al->k8s_pod : "");
	} else if (node_declined) {
		/* Nothing the node declined is done by the cluster: no API call at all. */
		outcome = "refused";
		dry_run = node.dry_run || (node.outcome && !strcmp(node.outcome, "dry_run"));
		say(detail, sizeof(detail), "the node did not act (outcome %s%s%s%s): the controller does not %s",
		    node.outcome ? node.outcome : "missing", dry_run ? ", dry run" : "",
		    node.action && strcmp(node.action, action) ? ", action " : "",
		    node.action && strcmp(node.action, action) ? node.action : "",
		    rule_action == ACTION_KILL_POD ? "delete the pod" : "isolate the namespace");
	} else if (controller_acts) {
		bool names_ok = al->k8s_namespace && is_k8s_name(al->k8s_namespace, 63) &&
				(rule_action == ACTION_ISOLATE_NAMESPACE || (al->k8s_pod && is_k8s_name(al->k8s_pod, 253)));

		if (!names_ok) {
			outcome = "refused";
			say(detail, sizeof(detail), "the alert names no valid namespace%s: nothing to act on",
				 rule_action == ACTION_KILL_POD ? " and pod" : "");
		} else if (al->k8s_pod && is_k8s_name(al->k8s_pod, 253)) {
			r = walk_owners(c, al->k8s_namespace, al->k8s_pod, &walk, why, sizeof(why));
		}
		if (!outcome && r == 0) {
			pthread_mutex_lock(&c->lock);
			cfg = c->config;
			s = (struct policy_subject){
				.rule = al->rule,
				.is_container = true,
				.namespace_ = al->k8s_namespace,
				.pod = al->k8s_pod,
				.owner_kind = walk.top_kind[0] ? walk.top_kind : NULL,
				.image = al->image,
				.exe_path = al->exe_path,
			};
			if (rule_action == ACTION_ISOLATE_NAMESPACE && !al->k8s_pod)
				s.owner_kind = "Namespace"; /* no pod to own: the namespace rules decide */
			policy_decide(cfg, &s, &d);
			if (c->opts.dry_run && d.verdict == POLICY_ACT)
				d.verdict = POLICY_DRY_RUN;
			pthread_mutex_unlock(&c->lock);
			dry_run = d.verdict == POLICY_DRY_RUN;
			say(detail, sizeof(detail), "%s%s%s%s%s", d.reason, walk.chain[0] ? "; owners: " : "",
				 walk.chain, why[0] ? "; " : "", why);
			in = (struct controller_decide_input){
				.action = rule_action,
				.verdict = d.verdict,
				.pod_gone = walk.pod_gone,
				.pod_uid_differs = node.pod_uid && *node.pod_uid && walk.pod_uid[0] &&
						   strcmp(node.pod_uid, walk.pod_uid),
			};
			controller_decide(&in, &plan);
			if (plan.step == CONTROLLER_ASK_RATE_LIMIT) {
				in.admit = rate_limit_admits(c, rule_action, al->rule, al->k8s_namespace, al->k8s_pod,
							     detail, sizeof(detail))
						   ? CONTROLLER_ADMIT_YES
						   : CONTROLLER_ADMIT_NO;
				controller_decide(&in, &plan);
			}
			if (plan.why == CONTROLLER_WHY_GONE)
				say(detail + strlen(detail), sizeof(detail) - strlen(detail),
					 "; pod %s/%s already gone (404)", al->k8s_namespace, al->k8s_pod);
			else if (plan.why == CONTROLLER_WHY_NEWER_POD)
				say(detail + strlen(detail), sizeof(detail) - strlen(detail),
					 "; the pod named %s/%s now has uid %s, not %s: a newer pod, not touched",
					 al->k8s_namespace, al->k8s_pod, walk.pod_uid, node.pod_uid);
			else if (plan.why == CONTROLLER_WHY_DRY_RUN)
				say(detail + strlen(detail), sizeof(detail) - strlen(detail), "; DRY_RUN: would %s",
					 rule_action == ACTION_KILL_POD ? "delete the pod" : "isolate the namespace");
			if (plan.step == CONTROLLER_RECORD) {
				outcome = plan.outcome;
			} else {
				char done[512];

				done[0] = '\0';
				if (rule_action == ACTION_KILL_POD)
					r = delete_pod(c, al->k8s_namespace, al->k8s_pod, walk.pod_uid, &outcome, done,
						       sizeof(done));
				else
					r = create_isolation(c, al->k8s_namespace, al->rule, event_id, &outcome, done,
							     sizeof(done));
				if (r == 0 && rule_action == ACTION_ISOLATE_NAMESPACE && !strcmp(outcome, "isolated"))
					page_oncall(c, al->k8s_namespace, al->rule, event_id, note, sizeof(note));
				if (r == -EAGAIN)
					say(why, sizeof(why), "%s", done);
				else
					say(detail + strlen(detail), sizeof(detail) - strlen(detail), "; %s%s", done,
						 note);
				if (r == 0)
					observe_latency(c, start_ns);
			}
		}
		if (r == -EAGAIN) {
			pthread_mutex_lock(&c->lock);
			c->api_errors++;
			pthread_mutex_unlock(&c->lock);
			if (node.present) {
				/* The agent retries the report: give the claims back, record nothing yet. */
				pthread_mutex_lock(&c->lock);
				dedupe_release(c, id_key);
				dedupe_release(c, inc_key);
				pthread_mutex_unlock(&c->lock);
				log_warn("event %s ('%s'): %s; the agent will deliver it again", event_id, al->rule, why);
				v->http_status = MHD_HTTP_SERVICE_UNAVAILABLE;
				v->result = RESULT_RETRY;
				say(v->message, sizeof(v->message), "Kubernetes API unavailable, retry: %s\n", why);
				return;
			}
			/* falcosidekick never retries: say in the audit trail that this one failed. */
			outcome = "failed";
			say(detail + strlen(detail), sizeof(detail) - strlen(detail), "%s%s", detail[0] ? "; " : "",
				 why);
		}
	}

	if (node.present) {
		say(detail + strlen(detail), sizeof(detail) - strlen(detail), "%snode %s: %s%s%s%s",
			 detail[0] ? "; " : "", node.node ? node.node : "?", node.outcome ? node.outcome : "?",
			 node.kill_mode ? " (" : "", node.kill_mode ? node.kill_mode : "", node.kill_mode ? ")" : "");
		if (node.reason)
			say(detail + strlen(detail), sizeof(detail) - strlen(detail), ": %s", node.reason);
		if (!controller_acts) {
			outcome = node.outcome ? node.outcome : "reported";
			dry_run = node.dry_run;
		}
	}
	rec_action = controller_acts ? action : node.action ? node.action : action;
	clock_gettime(CLOCK_REALTIME, &now);
	rec = (struct audit_record){
		.time = now,
		.event_time = { .tv_sec = (time_t)(al->time_ns / 1000000000ULL),
				.tv_nsec = (long)(al->time_ns % 1000000000ULL) },
		.action = rec_action,
		.outcome = outcome ? outcome : "reported",
		.namespace_ = al->k8s_namespace,
		.pod = al->k8s_pod,
		.rule = al->rule,
		.dry_run = dry_run,
		/* What the operator wrote, verbatim; what reflex found and did is the detail. */
		.reason = audit_reason[0] ? audit_reason : default_reason(rec_action),
		.detail = detail[0] ? detail : NULL,
		.operator_ = controller_acts ? operator_ : "reflex-agent",
		.falco_priority = audit_priority_upper(al->priority_text, prio, sizeof(prio)),
		.falco_output = al->output,
		.node = node.node ? node.node : al->hostname,
		.container_id = al->container_id,
		.pid = al->pid > 0 ? al->pid : -1,
		.exe_path = al->exe_path,
		.source = node.source ? node.source : "falco",
		.latency_us = node.latency_us,
		.kill_mode = node.kill_mode,
		.image = al->image,
		.event_id = event_id,
	};
	audit(c, &rec);
	count_outcome(c, rec.action, rec.outcome);
	log_info("%s '%s' %s/%s: %s (%s)", event_id, al->rule, al->k8s_namespace ? al->k8s_namespace : "-",
		 al->k8s_pod ? al->k8s_pod : "-", rec.outcome, detail);
	v->http_status = MHD_HTTP_OK;
	v->result = RESULT_ACCEPTED;
	say(v->message, sizeof(v->message), "%s: %s\n", rec.outcome, event_id);
}

/* ---- HTTP --------------------------------------------------------------- */

struct request {
	struct http_body body;
	bool gzip;
	bool checked;
	bool unauthorized;
	uint64_t start_ns;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type, const char *text)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void count_result(struct controller *c, enum alert_result r)
{
	pthread_mutex_lock(&c->lock);
	c->results[r]++;
	pthread_mutex_unlock(&c->lock);
}

static bool token_ok(struct controller *c, struct MHD_Connection *conn, bool *misconfigured)
{
	const char *given = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Falco-Token");
	char *expected = NULL;
	bool ok;
	int r;

	*misconfigured = false;
	if (!c->token_file)
		return true;
	/* Read on every request: a rotated Secret takes effect without a restart. */
	r = token_read(c->token_file, &expected);
	if (r < 0) {
		log_error("token file %s: %s: refusing every alert until it is readable", c->token_file, strerror(-r));
		*misconfigured = true;
		return false;
	}
	ok = token_equal(expected, given);
	explicit_bzero(expected, strlen(expected));
	free(expected);
	return ok;
}

/* Inflates a gzip body, bounded by MAX. 0 and *ret, -EFBIG, or -EINVAL for bad data. */
static int gunzip(const char *in, size_t len, size_t max, char **ret, size_t *ret_len)
{
	z_stream z = { .next_in = (Bytef *)in, .avail_in = (uInt)len };
	size_t cap = 4096, n = 0;
	char *out = malloc(cap + 1), *grown;
	int zr;

	if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
		free(out);
		return -ENOMEM;
	}
	do {
		if (n == cap) {
			if (cap >= max + 1) {
				inflateEnd(&z);
				free(out);
				return -EFBIG;
			}
			cap = cap * 2 > max + 1 ? max + 1 : cap * 2;
			grown = realloc(out, cap + 1);
			if (!grown) {
				inflateEnd(&z);
				free(out);
				return -ENOMEM;
			}
			out = grown;
		}
		z.next_out = (Bytef *)out + n;
		z.avail_out = (uInt)(cap - n);
		zr = inflate(&z, Z_NO_FLUSH);
		n = cap - z.avail_out;
	} while (zr == Z_OK);
	inflateEnd(&z);
	if (zr != Z_STREAM_END) {
		free(out);
		return zr == Z_BUF_ERROR || zr == Z_DATA_ERROR ? -EINVAL : -EIO;
	}
	if (n > max) {
		free(out);
		return -EFBIG;
	}
	out[n] = '\0';
	*ret = out;
	*ret_len = n;
	return 0;
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void put_label_value(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fputc('\\', f);
		if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static char *metrics_text(struct controller *c)
{
	struct deliver_stats ds = { 0 };
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	uint64_t cum = 0;

	if (!f)
		return NULL;
	if (c->audit_out)
		deliver_get_stats(c->audit_out, &ds);
	pthread_mutex_lock(&c->lock);
	fputs("# HELP reflex_controller_alerts_total Alerts and reports received on /alert, by result.\n"
	      "# TYPE reflex_controller_alerts_total counter\n",
	      f);
	for (int i = 0; i < RESULT_MAX; i++)
		fprintf(f, "reflex_controller_alerts_total{result=\"%s\"} %llu\n", result_names[i],
			(unsigned long long)c->results[i]);
	fputs("# HELP reflex_controller_actions_total Audited decisions, by action and outcome.\n"
	      "# TYPE reflex_controller_actions_total counter\n",
	      f);
	for (size_t i = 0; i < c->n_outcomes; i++)
		fprintf(f, "reflex_controller_actions_total{action=\"%s\",outcome=\"%s\"} %llu\n", c->outcomes[i].action,
			c->outcomes[i].outcome, (unsigned long long)c->outcomes[i].n);
	fprintf(f,
		"# HELP reflex_controller_api_errors_total Kubernetes API requests that failed (5xx, no answer).\n"
		"# TYPE reflex_controller_api_errors_total counter\nreflex_controller_api_errors_total %llu\n"
		"# HELP reflex_controller_api_auth_retries_total 401s answered by re-reading the token.\n"
		"# TYPE reflex_controller_api_auth_retries_total counter\n"
		"reflex_controller_api_auth_retries_total %lu\n"
		"# HELP reflex_controller_pages_total On-call pages for isolated namespaces, by result.\n"
		"# TYPE reflex_controller_pages_total counter\n"
		"reflex_controller_pages_total{result=\"sent\"} %llu\nreflex_controller_pages_total{result=\"failed\"} %llu\n"
		"# HELP reflex_controller_audit_pending Audit records waiting in the spool for Graylog.\n"
		"# TYPE reflex_controller_audit_pending gauge\nreflex_controller_audit_pending %llu\n"
		"# HELP reflex_controller_audit_delivered_total Audit records Graylog accepted.\n"
		"# TYPE reflex_controller_audit_delivered_total counter\nreflex_controller_audit_delivered_total %llu\n"
		"# HELP reflex_controller_audit_retries_total Failed deliveries to Graylog, retried.\n"
		"# TYPE reflex_controller_audit_retries_total counter\nreflex_controller_audit_retries_total %llu\n"
		"# HELP reflex_controller_audit_lost_total Audit records not spooled (disk full) or dropped past the bound.\n"
		"# TYPE reflex_controller_audit_lost_total counter\nreflex_controller_audit_lost_total %llu\n",
		(unsigned long long)c->api_errors, kubeapi_auth_retries(c->api), (unsigned long long)c->pages_sent,
		(unsigned long long)c->pages_failed, (unsigned long long)ds.pending, (unsigned long long)ds.delivered,
		(unsigned long long)ds.retries, (unsigned long long)(c->audit_lost + ds.refused));
	fputs("# HELP reflex_controller_rule_disarmed 1 for a rule the controller's rate limit disarmed to "
	      "alert-only (until a reload).\n# TYPE reflex_controller_rule_disarmed gauge\n",
	      f);
	for (int k = 0; k < 2; k++) {
		const struct ratelimit *rl = k ? c->rl_namespaces : c->rl_pods;
		const char *rule;

		for (size_t i = 0; rl && (rule = ratelimit_disarmed_rule(rl, i)); i++) {
			fputs("reflex_controller_rule_disarmed{rule=\"", f);
			put_label_value(f, rule);
			fprintf(f, "\",limit=\"%s\"} 1\n", k ? "namespaces" : "pods");
		}
	}
	fputs("# HELP reflex_controller_action_seconds Alert received to Kubernetes action answered.\n"
	      "# TYPE reflex_controller_action_seconds histogram\n",
	      f);
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cum = c->latency_bucket[i];
		fprintf(f, "reflex_controller_action_seconds_bucket{le=\"%g\"} %llu\n", latency_buckets_us[i] / 1e6,
			(unsigned long long)cum);
	}
	fprintf(f, "reflex_controller_action_seconds_bucket{le=\"+Inf\"} %llu\n",
		(unsigned long long)c->latency_count);
	fprintf(f, "reflex_controller_action_seconds_sum %.6f\nreflex_controller_action_seconds_count %llu\n",
		c->latency_sum_us / 1e6, (unsigned long long)c->latency_count);
	pthread_mutex_unlock(&c->lock);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct controller *c = cls;
	struct request *req = *con_cls;
	struct falco_alert al;
	struct verdict v = { .http_status = 0 };
	char err[256], msg[400];
	enum falco_parse_error e;
	size_t max;

	(void)version;
	if (strcmp(url, "/alert")) {
		if (strcmp(method, "GET") && strcmp(method, "HEAD"))
			return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "GET only\n");
		if (!strcmp(url, "/healthz"))
			return reply(conn, MHD_HTTP_OK, "text/plain", "ok\n");
		if (!strcmp(url, "/readyz"))
			return atomic_load(&c->ready) ? reply(conn, MHD_HTTP_OK, "text/plain", "ready\n")
						      : reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain", "starting\n");
		if (!strcmp(url, "/metrics")) {
			char *text = metrics_text(c);
			enum MHD_Result ret;

			if (!text)
				return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", "out of memory\n");
			ret = reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4", text);
			free(text);
			return ret;
		}
		return reply(conn, MHD_HTTP_NOT_FOUND, "text/plain", "not found: /alert, /healthz, /readyz, /metrics\n");
	}
	if (strcmp(method, "POST"))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", "POST one Falco alert or reflex report\n");
	if (!req) {
		const char *enc = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_ENCODING);

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		req->start_ns = util_monotonic_ns();
		req->gzip = enc && !strcasecmp(enc, "gzip");
		*con_cls = req;
		return MHD_YES;
	}
	pthread_mutex_lock(&c->lock);
	max = c->config->controller.max_body_bytes;
	pthread_mutex_unlock(&c->lock);
	if (*upload_data_size) {
		/* gzip bodies are bounded again after inflating. */
		req->body.max = max;
		if (http_body_append(&req->body, upload_data, *upload_data_size))
			return MHD_NO;
		*upload_data_size = 0;
		return MHD_YES;
	}
	{
		bool misconfigured;

		if (!token_ok(c, conn, &misconfigured)) {
			count_result(c, RESULT_UNAUTHORIZED);
			if (misconfigured)
				return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain",
					     "the controller cannot read its token file\n");
			log_warn("POST /alert refused: missing or wrong X-Falco-Token");
			return reply(conn, MHD_HTTP_UNAUTHORIZED, "text/plain", "missing or wrong X-Falco-Token\n");
		}
	}
	if (req->body.too_large) {
		count_result(c, RESULT_TOO_LARGE);
		say(msg, sizeof(msg), "body larger than %zu bytes (controller.max_body_bytes)\n", max);
		return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", msg);
	}
	if (req->gzip && req->body.data) {
		char *plain;
		size_t plain_len;
		int r = gunzip(req->body.data, req->body.len, max, &plain, &plain_len);

		if (r == -EFBIG) {
			count_result(c, RESULT_TOO_LARGE);
			say(msg, sizeof(msg), "inflated body larger than %zu bytes (controller.max_body_bytes)\n", max);
			return reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "text/plain", msg);
		}
		if (r < 0) {
			count_result(c, RESULT_REJECTED);
			return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", "Content-Encoding gzip but not gzip data\n");
		}
		free(req->body.data);
		req->body.data = plain;
		req->body.len = plain_len;
	}
	e = falco_alert_parse(req->body.data ? req->body.data : "", req->body.len, max, &al, err, sizeof(err));
	if (e != FALCO_PARSE_OK) {
		count_result(c, RESULT_REJECTED);
		log_warn("POST /alert rejected: %s: %s", falco_parse_error_name(e), err);
		say(msg, sizeof(msg), "not a Falco alert (%s): %s\n", falco_parse_error_name(e), err);
		return reply(conn, MHD_HTTP_BAD_REQUEST, "text/plain", msg);
	}
	handle_alert(c, &al, req->start_ns, &v);
	falco_alert_clear(&al);
	count_result(c, v.result);
	return reply(conn, v.http_status, "text/plain", v.message);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req) {
		free(req->body.data);
		free(req);
		*con_cls = NULL;
	}
}

/* ---- start / stop ------------------------------------------------------- */

static char *opt_or(const char *opt, const char *cfg)
{
	const char *v = opt ? opt : cfg;

	return v && *v ? strdup(v) : NULL;
}

struct controller *controller_start(const struct reflex_config *config, const struct controller_opts *opts,
				    char *err, size_t errlen)
{
	const struct controller_config *cc = &config->controller;
	struct controller *c = calloc(1, sizeof(*c));
	const char *api_url;
	int fd = -1, r;

	if (!c) {
		say(err, errlen, "out of memory");
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	c->config = config;
	c->opts = *opts;
	c->dedupe = calloc(DEDUPE_MAX, sizeof(*c->dedupe));
	c->listen_address = opt_or(opts->listen_address, cc->listen_address);
	c->token_file = opt_or(opts->token_file, cc->token_file);
	c->page_url = opt_or(NULL, cc->page_webhook_url);
	c->rl_pods = rate_limit_new(cc, false);
	c->rl_namespaces = rate_limit_new(cc, true);
	if (!c->dedupe || !c->listen_address || !c->rl_pods || !c->rl_namespaces) {
		say(err, errlen, "out of memory");
		goto fail;
	}
	if (!c->token_file)
		log_warn("controller.token_file is \"\": /alert accepts alerts from anyone who can reach it");

	api_url = opts->api_url ? opts->api_url : cc->kubernetes_api;
	if (!api_url || !*api_url) {
		say(err, errlen, "controller.kubernetes_api is \"\": the controller cannot act without the API");
		goto fail;
	}
	{
		struct kubeapi_config kc = {
			.api_url = strcmp(api_url, "auto") ? api_url : NULL,
			.token_file = opts->api_token_file ? opts->api_token_file : cc->kubernetes_token_file,
			.ca_file = opts->api_ca_file ? opts->api_ca_file : cc->kubernetes_ca_file,
		};

		c->api = kubeapi_new(&kc);
		if (!c->api) {
			say(err, errlen, "Kubernetes API: %s",
				 errno == EINVAL ? "kubernetes_api is auto but KUBERNETES_SERVICE_HOST is not set "
						   "(outside a pod: --api-url)"
						 : strerror(errno));
			goto fail;
		}
	}
	c->audit_stdout = audit_open(NULL, true);
	if (!c->audit_stdout) {
		say(err, errlen, "audit: %s", strerror(errno));
		goto fail;
	}
	if (*cc->gelf_http_url || *cc->gelf_udp_address) {
		struct gelf_sender_config gc = {
			.http_url = *cc->gelf_http_url ? cc->gelf_http_url : NULL,
			.udp_address = *cc->gelf_udp_address ? cc->gelf_udp_address : NULL,
		};
		struct deliver_config dc = {
			.what = "audit records to Graylog",
			.spool_dir = opts->audit_spool_dir ? opts->audit_spool_dir : cc->audit_spool_dir,
			.spool_max_bytes = cc->audit_spool_max_bytes,
			.send = send_gelf,
			.ctx = c,
		};

		c->gelf = gelf_sender_new(&gc);
		if (!c->gelf) {
			say(err, errlen, "GELF sender: %s", strerror(errno));
			goto fail;
		}
		r = deliver_start(&dc, &c->audit_out);
		if (r < 0) {
			say(err, errlen, "audit spool %s: %s", dc.spool_dir, strerror(-r));
			goto fail;
		}
	} else {
		log_warn("no controller.gelf_http_url or gelf_udp_address: audit records go to stdout only");
	}

	fd = httpd_listen(c->listen_address, &c->port);
	if (fd < 0) {
		say(err, errlen, "listen on %s: %s", c->listen_address, strerror(-fd));
		goto fail;
	}
	c->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG,
				  0, NULL, NULL, on_request, c, MHD_OPTION_LISTEN_SOCKET, fd,
				  MHD_OPTION_NOTIFY_COMPLETED, on_completed, c, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned int)256, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30, MHD_OPTION_END);
	if (!c->mhd) {
		close(fd);
		say(err, errlen, "HTTP server on %s failed to start", c->listen_address);
		goto fail;
	}
	atomic_store(&c->ready, true);
	log_info("reflex-controller: /alert on %s (port %u), Kubernetes API %s, %s%s%s", c->listen_address, c->port,
		 kubeapi_url(c->api), c->token_file ? "X-Falco-Token required" : "NO TOKEN",
		 c->audit_out ? ", audit to Graylog" : "", opts->dry_run ? ", DRY RUN (--dry-run)" : "");
	return c;
fail:
	controller_stop(c, 0);
	return NULL;
}

void controller_set_config(struct controller *c, const struct reflex_config *config)
{
	struct ratelimit *pods = rate_limit_new(&config->controller, false);
	struct ratelimit *namespaces = rate_limit_new(&config->controller, true);
	bool rearmed;

	pthread_mutex_lock(&c->lock);
	c->config = config;
	/* A reload re-arms every rule the rate limit disarmed (out of memory: the old limits stay). */
	rearmed = pods && namespaces &&
		  (ratelimit_disarmed_rule(c->rl_pods, 0) || ratelimit_disarmed_rule(c->rl_namespaces, 0));
	if (pods && namespaces) {
		ratelimit_free(c->rl_pods);
		ratelimit_free(c->rl_namespaces);
		c->rl_pods = pods;
		c->rl_namespaces = namespaces;
		pods = namespaces = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	ratelimit_free(pods);
	ratelimit_free(namespaces);
	if (rearmed)
		log_info("reload: rules disarmed by the controller's rate limit are armed again");
}

unsigned short controller_port(const struct controller *c)
{
	return c->port;
}

void controller_stop(struct controller *c, unsigned int timeout_ms)
{
	if (!c)
		return;
	atomic_store(&c->ready, false);
	if (c->mhd)
		MHD_stop_daemon(c->mhd);
	if (c->audit_out && timeout_ms && !deliver_flush(c->audit_out, timeout_ms))
		log_warn("audit records still undelivered at exit stay in the spool for the next start");
	deliver_stop(c->audit_out);
	gelf_sender_free(c->gelf);
	audit_close(c->audit_stdout);
	kubeapi_free(c->api);
	free(c->dedupe);
	ratelimit_free(c->rl_pods);
	ratelimit_free(c->rl_namespaces);
	free(c->listen_address);
	free(c->token_file);
	free(c->page_url);
	free(c->node_fallback);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
