// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "k8s_events.h"
#include "log.h"
#include "util.h"

#define NOTE_MAX 1024

/* What each outcome becomes: reason, action verb, type. */
struct outcome_event {
	const char *outcome;
	const char *reason;
	const char *action;
	bool warning;
};

static const struct outcome_event pod_events[] = {
	{ "killed", "ReflexKilledProcess", "Kill", true },
	{ "denied", "ReflexDeniedExec", "Deny", true },
	{ "deleted", "ReflexDeletedPod", "Delete", true },
	{ "gone", "ReflexPodGone", "Delete", false },
	{ "dry_run", "ReflexDryRun", "DryRun", false },
	{ "refused", "ReflexRefused", "Refuse", true },
	{ "disarmed", "ReflexDisarmed", "Refuse", true },
	{ "excepted", "ReflexExcepted", "Refuse", false },
	{ "failed", "ReflexActionFailed", "Kill", true },
};

static const struct outcome_event namespace_events[] = {
	{ "isolated", "ReflexIsolatedNamespace", "Isolate", true },
	{ "dry_run", "ReflexDryRun", "DryRun", false },
	{ "refused", "ReflexRefused", "Refuse", true },
	{ "disarmed", "ReflexDisarmed", "Refuse", true },
	{ "excepted", "ReflexExcepted", "Refuse", false },
	{ "failed", "ReflexActionFailed", "Isolate", true },
};

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* What was done, in the words of an on-call page: "killed /tmp/xmrig (pid 4502) on node n1". */
static void what_happened(const struct audit_record *r, const struct outcome_event *oe, char *buf, size_t size)
{
	const char *o = oe->outcome;

	if (!strcmp(o, "killed") && r->action && !strcmp(r->action, "kill_container"))
		snprintf(buf, size, "killed the container of %s on node %s", or_dash(r->exe_path), or_dash(r->node));
	else if (!strcmp(o, "killed"))
		snprintf(buf, size, "killed %s (pid %" PRId64 ") on node %s", or_dash(r->exe_path), r->pid,
			 or_dash(r->node));
	else if (!strcmp(o, "denied"))
		snprintf(buf, size, "refused %s on node %s", or_dash(r->exe_path), or_dash(r->node));
	else if (!strcmp(o, "deleted"))
		snprintf(buf, size, "deleted pod %s/%s", or_dash(r->namespace_), or_dash(r->pod));
	else if (!strcmp(o, "gone"))
		snprintf(buf, size, "pod %s/%s was already gone", or_dash(r->namespace_), or_dash(r->pod));
	else if (!strcmp(o, "isolated"))
		snprintf(buf, size, "isolated namespace %s (all egress denied)", or_dash(r->namespace_));
	else if (!strcmp(o, "dry_run"))
		snprintf(buf, size, "dry run: would %s", or_dash(r->action));
	else if (!strcmp(o, "failed"))
		snprintf(buf, size, "%s failed", or_dash(r->action));
	else
		snprintf(buf, size, "did not %s (%s)", or_dash(r->action), o);
}

int k8s_event_from_audit(const struct audit_record *r, char *note, size_t size, struct k8s_event *ret)
{
	bool isolate = r->action && !strcmp(r->action, "isolate_namespace");
	const struct outcome_event *table = isolate ? namespace_events : pod_events;
	size_t n = isolate ? ARRAY_SIZE(namespace_events) : ARRAY_SIZE(pod_events);
	const struct outcome_event *oe = NULL;
	char what[512];
	int len;

	if (!r->outcome || !r->namespace_ || !*r->namespace_ || (!isolate && (!r->pod || !*r->pod)))
		return -ENOENT;
	memset(ret, 0, sizeof(*ret));
	ret->namespace_ = r->namespace_;
	ret->kind = isolate ? "Namespace" : "Pod";
	ret->name = isolate ? r->namespace_ : r->pod;
	ret->uid = isolate ? NULL : r->pod_uid;
	ret->event_id = r->event_id;
	ret->time = r->time;
	/* A repeat of an incident already recorded: only its Event's count moves. */
	if (!strcmp(r->outcome, "duplicate"))
		return r->event_id && *r->event_id ? 0 : -ENOENT;
	for (size_t i = 0; i < n && !oe; i++)
		if (!strcmp(table[i].outcome, r->outcome))
			oe = &table[i];
	if (!oe)
		return -ENOENT;
	ret->reason = oe->reason;
	ret->action = oe->action;
	ret->warning = oe->warning;
	if (!strcmp(r->outcome, "killed") && r->action && !strcmp(r->action, "kill_container"))
		ret->reason = "ReflexKilledContainer";
	what_happened(r, oe, what, sizeof(what));
	len = snprintf(note, size, "%s: %s; %s%s%s", what, or_dash(r->rule), or_dash(r->reason),
		       r->detail && strcmp(r->outcome, "killed") && strcmp(r->outcome, "deleted") ? " — " : "",
		       r->detail && strcmp(r->outcome, "killed") && strcmp(r->outcome, "deleted") ? r->detail : "");
	if (len < 0)
		return -EINVAL;
	/* Events cap note at 1 kB; a cut never ends inside a UTF-8 sequence. */
	if (size > NOTE_MAX + 1 && strlen(note) > NOTE_MAX) {
		char cut[NOTE_MAX + 1];

		audit_copy_utf8(cut, sizeof(cut), note);
		memcpy(note, cut, strlen(cut) + 1);
	}
	ret->note = note;
	return 0;
}

/* MicroTime: "2026-12-04T11:40:02.123456Z". */
static void micro_time(const struct timespec *ts, char *buf, size_t size)
{
	struct tm tm;
	char date[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%06ldZ", date, ts->tv_nsec / 1000);
}

char *k8s_event_body(const struct k8s_event *ev, const char *instance, const char *name)
{
	json_t *o, *regarding;
	char when[64], *body;

	micro_time(&ev->time, when, sizeof(when));
	regarding = json_pack("{s:s, s:s, s:s}", "apiVersion", "v1", "kind", ev->kind, "name", ev->name);
	if (regarding && strcmp(ev->kind, "Namespace"))
		json_object_set_new(regarding, "namespace", json_string(ev->namespace_));
	if (regarding && ev->uid && *ev->uid)
		json_object_set_new(regarding, "uid", json_string(ev->uid));
	o = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s}}, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}",
		      "apiVersion", "events.k8s.io/v1", "kind", "Event",
		      "metadata", "name", name, "namespace", ev->namespace_,
		      "annotations", K8S_EVENTS_ID_ANNOTATION, ev->event_id ? ev->event_id : "",
		      "eventTime", when, "reportingController", K8S_EVENTS_CONTROLLER, "reportingInstance", instance,
		      "action", ev->action, "reason", ev->reason, "type", ev->warning ? "Warning" : "Normal",
		      "note", ev->note ? ev->note : "", "regarding", regarding);
	if (!o)
		return NULL;
	body = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	return body;
}

/* ---- the sender ---------------------------------------------------------- */

struct queued {
	char *namespace_, *kind, *name, *uid, *reason, *action, *note, *event_id;
	bool warning, repeat;
	struct timespec time;
};

/* One Event already created: repeats of its incident patch its series. */
struct series {
	char *key;  /* namespace/kind/name/event_id */
	char *event_name;
	char *reason;
	uint32_t count;
	time_t first;
};

struct k8s_events {
	struct kubeapi *api;
	char *instance;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct queued queue[K8S_EVENTS_QUEUE];
	size_t head, len;
	bool stopping;
	struct series series[K8S_EVENTS_SERIES_MAX]; /* the sender thread's own */
	size_t n_series;
	struct k8s_events_stats stats;
	uint64_t seq; /* names: <object>.<ns time hex><seq> stay unique in one replica */
};

static void queued_free(struct queued *q)
{
	free(q->namespace_);
	free(q->kind);
	free(q->name);
	free(q->uid);
	free(q->reason);
	free(q->action);
	free(q->note);
	free(q->event_id);
	memset(q, 0, sizeof(*q));
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*oom = true;
	return d;
}

int k8s_events_emit(struct k8s_events *e, const struct k8s_event *ev)
{
	struct queued q = { .warning = ev->warning, .repeat = !ev->reason, .time = ev->time };
	bool oom = false;

	if (!e || !ev->namespace_ || !ev->kind || !ev->name)
		return -EINVAL;
	q.namespace_ = dup_or_null(ev->namespace_, &oom);
	q.kind = dup_or_null(ev->kind, &oom);
	q.name = dup_or_null(ev->name, &oom);
	q.uid = dup_or_null(ev->uid, &oom);
	q.reason = dup_or_null(ev->reason, &oom);
	q.action = dup_or_null(ev->action, &oom);
	q.note = dup_or_null(ev->note, &oom);
	q.event_id = dup_or_null(ev->event_id, &oom);
	pthread_mutex_lock(&e->lock);
	if (oom || e->len == K8S_EVENTS_QUEUE || e->stopping) {
		e->stats.dropped++;
		pthread_mutex_unlock(&e->lock);
		queued_free(&q);
		return oom ? -ENOMEM : -ENOSPC;
	}
	e->queue[(e->head + e->len) % K8S_EVENTS_QUEUE] = q;
	e->len++;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static char *series_key(const struct queued *q)
{
	char *key = NULL;

	if (asprintf(&key, "%s/%s/%s/%s", q->namespace_, q->kind, q->name, q->event_id ? q->event_id : "") < 0)
		return NULL;
	return key;
}

/* The series of Q's incident (for a repeat any reason, else Q's), dropping expired ones. */
static struct series *series_find(struct k8s_events *e, const char *key, const struct queued *q, time_t now)
{
	/* KEY is namespace/kind/name/event_id: the object is all but the last part. */
	size_t obj_len = (size_t)(strrchr(key, '/') - key);

	for (size_t i = 0; i < e->n_series; i++) {
		struct series *s = &e->series[i];

		if (now - s->first > K8S_EVENTS_SERIES_S) {
			free(s->key);
			free(s->event_name);
			free(s->reason);
			*s = e->series[--e->n_series];
			i--;
			continue;
		}
		/*
		 * A repeat ("duplicate": the controller's word that this alert is an
		 * incident already acted on, under its own event id) counts on the
		 * object's Event; anything else on its own incident and reason.
		 */
		if (q->repeat ? !strncmp(s->key, key, obj_len) && s->key[obj_len] == '/'
			      : !strcmp(s->key, key) && !strcmp(s->reason, q->reason))
			return s;
	}
	return NULL;
}

static void series_add(struct k8s_events *e, char *key, const char *event_name, const char *reason, time_t now)
{
	struct series *s;

	if (e->n_series == K8S_EVENTS_SERIES_MAX) {
		/* The oldest goes: its repeats create an Event of their own. */
		free(e->series[0].key);
		free(e->series[0].event_name);
		free(e->series[0].reason);
		memmove(&e->series[0], &e->series[1], (e->n_series - 1) * sizeof(e->series[0]));
		e->n_series--;
	}
	s = &e->series[e->n_series];
	s->key = key;
	s->event_name = strdup(event_name);
	s->reason = strdup(reason);
	if (!s->event_name || !s->reason) {
		free(s->key);
		free(s->event_name);
		free(s->reason);
		return;
	}
	s->count = 1;
	s->first = now;
	e->n_series++;
}

static void count(struct k8s_events *e, uint64_t *field)
{
	pthread_mutex_lock(&e->lock);
	(*field)++;
	pthread_mutex_unlock(&e->lock);
}

/* PATCH the series of an existing Event; false when it is gone (then a new one is made). */
static bool send_repeat(struct k8s_events *e, struct series *s, const struct queued *q)
{
	struct kubeapi_response resp;
	char path[768], when[64], *body = NULL;
	bool ok = false;

	micro_time(&q->time, when, sizeof(when));
	if (asprintf(&body, "{\"series\":{\"count\":%u,\"lastObservedTime\":\"%s\"}}", s->count + 1, when) < 0)
		return false;
	snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events/%s", q->namespace_, s->event_name);
	if (kubeapi_request(e->api, "PATCH", path, body, &resp) == 0 && resp.status >= 200 && resp.status < 300) {
		s->count++;
		count(e, &e->stats.updated);
		ok = true;
	} else if (resp.status != 404) {
		log_warn("k8s events: PATCH %s: HTTP %ld %s", path, resp.status, resp.message);
		count(e, &e->stats.failed);
		ok = true; /* counted; no second Event for one incident */
	}
	kubeapi_response_clear(&resp);
	free(body);
	return ok;
}

static void send_new(struct k8s_events *e, const struct queued *q, char *key, time_t now)
{
	struct k8s_event ev = { .namespace_ = q->namespace_, .kind = q->kind, .name = q->name, .uid = q->uid,
				.warning = q->warning, .reason = q->reason, .action = q->action, .note = q->note,
				.event_id = q->event_id, .time = q->time };
	struct kubeapi_response resp;
	char path[512], name[320], *body;

	/* Like client-go: the object's name and a time in hex, plus a sequence for two in one ns. */
	snprintf(name, sizeof(name), "%.240s.%llx%llx", q->name,
		 (unsigned long long)q->time.tv_sec * 1000000000ULL + (unsigned long long)q->time.tv_nsec,
		 (unsigned long long)++e->seq);
	body = k8s_event_body(&ev, e->instance, name);
	if (!body) {
		count(e, &e->stats.failed);
		free(key);
		return;
	}
	snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events", q->namespace_);
	if (kubeapi_request(e->api, "POST", path, body, &resp) == 0 && resp.status >= 200 && resp.status < 300) {
		count(e, &e->stats.created);
		series_add(e, key, name, q->reason, now);
		key = NULL;
	} else {
		log_warn("k8s events: POST %s (%s %s/%s): HTTP %ld %s", path, q->reason, q->kind, q->name, resp.status,
			 resp.message);
		count(e, &e->stats.failed);
	}
	kubeapi_response_clear(&resp);
	free(body);
	free(key);
}

static void send_one(struct k8s_events *e, const struct queued *q)
{
	time_t now = time(NULL);
	char *key = series_key(q);
	struct series *s;

	if (!key) {
		count(e, &e->stats.failed);
		return;
	}
	s = series_find(e, key, q, now);
	if (s && send_repeat(e, s, q)) {
		free(key);
		return;
	}
	if (q->repeat) {
		/* A duplicate of an incident this replica made no Event for: nothing to count on. */
		free(key);
		return;
	}
	send_new(e, q, key, now);
}

static void *sender_main(void *arg)
{
	struct k8s_events *e = arg;
	struct queued q;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		while (!e->len && !e->stopping)
			pthread_cond_wait(&e->wake, &e->lock);
		if (!e->len)
			break;
		q = e->queue[e->head];
		e->head = (e->head + 1) % K8S_EVENTS_QUEUE;
		e->len--;
		pthread_mutex_unlock(&e->lock);
		send_one(e, &q);
		queued_free(&q);
		pthread_mutex_lock(&e->lock);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

int k8s_events_start(struct kubeapi *api, const char *instance, struct k8s_events **ret)
{
	struct k8s_events *e;
	int err;

	if (!api || !instance || !*instance)
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->api = api;
	e->instance = strdup(instance);
	if (!e->instance) {
		free(e);
		return -ENOMEM;
	}
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->wake, NULL);
	err = pthread_create(&e->thread, NULL, sender_main, e);
	if (err) {
		pthread_cond_destroy(&e->wake);
		pthread_mutex_destroy(&e->lock);
		free(e->instance);
		free(e);
		return -err;
	}
	*ret = e;
	return 0;
}

void k8s_events_get_stats(struct k8s_events *e, struct k8s_events_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	*ret = e->stats;
	pthread_mutex_unlock(&e->lock);
}

void k8s_events_stop(struct k8s_events *e, unsigned int timeout_ms)
{
	uint64_t deadline = util_monotonic_ns() + (uint64_t)timeout_ms * 1000000ULL;

	if (!e)
		return;
	/* What is queued gets its chance, within the bound; the rest is dropped and counted. */
	pthread_mutex_lock(&e->lock);
	while (e->len && util_monotonic_ns() < deadline) {
		pthread_mutex_unlock(&e->lock);
		nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		pthread_mutex_lock(&e->lock);
	}
	while (e->len) {
		queued_free(&e->queue[e->head]);
		e->head = (e->head + 1) % K8S_EVENTS_QUEUE;
		e->len--;
		e->stats.dropped++;
	}
	e->stopping = true;
	pthread_cond_signal(&e->wake);
	pthread_mutex_unlock(&e->lock);
	pthread_join(e->thread, NULL);
	for (size_t i = 0; i < e->n_series; i++) {
		free(e->series[i].key);
		free(e->series[i].event_name);
		free(e->series[i].reason);
	}
	pthread_cond_destroy(&e->wake);
	pthread_mutex_destroy(&e->lock);
	free(e->instance);
	free(e);
}
