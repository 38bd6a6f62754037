/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Kubernetes Events (events.k8s.io/v1) for every decision the controller
 * audits and every node action it receives: what `kubectl describe pod` and
 * `kubectl get events` show. Best-effort by design: a bounded queue and one
 * sender thread, so an Event never delays the action or its audit record; a
 * full queue or a failed request is counted, never waited on. A repeat
 * within K8S_EVENTS_SERIES_S updates the first Event's series count instead
 * of creating another: the same incident (object, reason, event id) again,
 * or a "duplicate" decision (another alert for an incident already acted on).
 */
#ifndef REFLEX_K8S_EVENTS_H
#define REFLEX_K8S_EVENTS_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "audit.h"
#include "kubeapi.h"

#define K8S_EVENTS_QUEUE 256
#define K8S_EVENTS_SERIES_S 600
#define K8S_EVENTS_SERIES_MAX 1024
#define K8S_EVENTS_CONTROLLER "reflex-controller"
#define K8S_EVENTS_ID_ANNOTATION "reflex/event-id"

struct k8s_event {
	const char *namespace_; /* the object's namespace (a Namespace's own name) */
	const char *kind;       /* "Pod" or "Namespace" */
	const char *name;
	const char *uid;        /* NULL when unknown */
	bool warning;           /* type Warning, else Normal */
	const char *reason;     /* ReflexKilledProcess, ...: CamelCase, at most 128 bytes */
	const char *action;     /* Kill, Deny, Delete, Isolate, Refuse, DryRun, ... */
	const char *note;       /* for people; cut to 1 kB at a character boundary */
	const char *event_id;   /* the audit record's; in the annotation K8S_EVENTS_ID_ANNOTATION */
	struct timespec time;   /* when it happened (CLOCK_REALTIME) */
};

/*
 * The Event a controller audit record makes (pointers into R and NOTE, which
 * must outlive RET): 0, or -ENOENT for records that make none (config,
 * correlated, duplicates of nothing, records without namespace).
 */
int k8s_event_from_audit(const struct audit_record *r, char *note, size_t size, struct k8s_event *ret);

/* The body of a new Event NAME from INSTANCE (compact JSON, malloc'd); NULL on ENOMEM. */
char *k8s_event_body(const struct k8s_event *ev, const char *instance, const char *name);

struct k8s_events_stats {
	uint64_t created, updated, failed, dropped;
};

struct k8s_events;

/* API is borrowed (it must outlive the sender); INSTANCE: this replica (reportingInstance). 0 or -errno. */
int k8s_events_start(struct kubeapi *api, const char *instance, struct k8s_events **ret);
/* Queues a copy of EV. 0, or -ENOSPC (queue full: counted as dropped) or -ENOMEM. Never blocks on the API. */
int k8s_events_emit(struct k8s_events *e, const struct k8s_event *ev);
void k8s_events_get_stats(struct k8s_events *e, struct k8s_events_stats *ret);
/* Sends what is queued for up to TIMEOUT_MS, then stops the thread and frees E (NULL is fine). */
void k8s_events_stop(struct k8s_events *e, unsigned int timeout_ms);

#endif
