/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Node-scoped pod list+watch against the Kubernetes API (libcurl, own
 * thread): which pod, namespace and owner each container on this node
 * belongs to. The agent's RBAC is pods get/list/watch only, so the owner is
 * what the pod itself tells (see kube_pod.owner_kind).
 */
#ifndef REFLEX_KUBE_H
#define REFLEX_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pod_json.h"

struct kube_config {
	const char *api_url;    /* "https://host:port"; NULL: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT */
	const char *token_file; /* re-read before every request and after a 401; NULL: no Authorization */
	const char *ca_file;    /* NULL: system CAs */
	const char *node_name;  /* fieldSelector=spec.nodeName=<node_name>; required */
	unsigned int timeout_s; /* connect/list timeout; the watch itself uses timeoutSeconds; 0: 10 */
};

struct kube_status {
	bool synced;          /* a list has completed and the watch is running */
	size_t pods;          /* pods known on this node */
	uint64_t lists;       /* full lists done (1 + relists after 410 or errors) */
	uint64_t watch_events;
	uint64_t errors;      /* failed requests of any kind */
	uint64_t auth_retries; /* 401 answered by re-reading the token */
	char last_error[256]; /* "" if none */
};

struct kube_pods;

/*
 * Copies CFG and starts the thread (list, then watch with
 * allowWatchBookmarks=true from the list's resourceVersion; on 410 or a
 * broken stream list again; on errors back off 1 s doubling to 30 s).
 * 0 and *ret, or a negative errno (-EINVAL: no node name or no API URL).
 */
int kube_pods_start(const struct kube_config *cfg, struct kube_pods **ret);

/*
 * Readable (eventfd) after the set of pods or their owners changed; the
 * reader calls kube_pods_ack and then looks up what it needs again.
 */
int kube_pods_event_fd(const struct kube_pods *k);
void kube_pods_ack(struct kube_pods *k);

/* By container id: 64 hex, or a prefix of at least 12 (Falco's). 0, -ENOENT. */
int kube_pods_lookup_container(struct kube_pods *k, const char *container_id, struct kube_pod *ret);
/* By pod uid. 0, -ENOENT. */
int kube_pods_lookup_uid(struct kube_pods *k, const char *uid, struct kube_pod *ret);

void kube_pods_status(struct kube_pods *k, struct kube_status *ret);

/* Accepts NULL; returns NULL. Stops the thread (interrupts a running watch). */
struct kube_pods *kube_pods_stop(struct kube_pods *k);

#endif
