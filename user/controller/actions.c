// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* The controller's calls to the Kubernetes API and the on-call webhook; see actions.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "actions.h"
#include "decide.h"
#include "kubeapi.h"
#include "log.h"
#include "stats.h"
#include "util.h"

#define OWNER_WALK_MAX 6        /* pod -> ReplicaSet -> Deployment -> ... */

/* No answer, or one worth asking again (5xx, 429): the caller returns -EAGAIN. */
static bool unavailable(int r, const struct kubeapi_response *resp)
{
	return r < 0 || resp->status >= 500 || resp->status == 429 || resp->status == 0;
}

/* Why a request failed: without an answer (R < 0) the transport's message, else ANSWERED. */
static const char *failure(int r, const struct kubeapi_response *resp, const char *answered)
{
	if (r >= 0)
		return answered;
	return resp->message[0] ? resp->message : strerror(-r);
}

/* ---- the owner walk ----------------------------------------------------- */

static void chain_add(struct owner_walk *w, const char *kind, const char *name)
{
	ctl_append(w->chain, sizeof(w->chain), "%s%s %s", w->chain[0] ? " <- " : "", kind, name);
}

/* KIND NAME joins the chain as its top so far. */
static void set_top(struct owner_walk *w, const char *kind, const char *name)
{
	chain_add(w, kind, name);
	ctl_say(w->top_kind, sizeof(w->top_kind), "%s", kind);
	ctl_say(w->top_name, sizeof(w->top_name), "%s", name);
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
	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(kind, known[i].kind)) {
			ctl_say(buf, size, "%s/namespaces/%s/%s/%s", known[i].group_path, ns, known[i].plural, name);
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
 * OBJ, read from PATH (DEPTH 0: the pod), joins W's chain as the top so far.
 * Its controlling ownerReference (borrowed from OBJ), or NULL when the chain
 * ends here.
 */
static json_t *walk_object(json_t *obj, int depth, struct owner_walk *w, const char *path, char *why,
			   size_t why_size)
{
	json_t *meta = json_object_get(obj, "metadata"), *ref;
	const char *name = json_string_value(json_object_get(meta, "name"));
	const char *kind = depth == 0 ? "Pod" : json_string_value(json_object_get(obj, "kind"));

	if (!json_is_object(obj) || !name || !kind) {
		ctl_say(why, why_size, "GET %.300s: not a Kubernetes object", path);
		return NULL;
	}
	if (depth == 0) {
		const char *uid = json_string_value(json_object_get(meta, "uid"));

		ctl_say(w->pod_uid, sizeof(w->pod_uid), "%s", uid ? uid : "");
	}
	set_top(w, kind, name);
	if (depth == 0 && json_object_get(json_object_get(meta, "annotations"), "kubernetes.io/config.mirror")) {
		ctl_say(w->top_kind, sizeof(w->top_kind), "Node");
		chain_add(w, "Node", "(mirror pod)");
		return NULL;
	}
	ref = controlling_owner(obj);
	if (!ref)
		return NULL; /* the top */
	kind = json_string_value(json_object_get(ref, "kind"));
	name = json_string_value(json_object_get(ref, "name"));
	if (!kind || !name || !controller_name_ok(name, 253)) {
		ctl_say(why, why_size, "%s has a malformed ownerReference", w->chain);
		w->top_kind[0] = '\0';
		return NULL;
	}
	return ref;
}

int actions_walk_owners(struct controller *c, const char *ns, const char *pod, struct owner_walk *w, char *why,
			size_t why_size)
{
	char path[512];
	struct kubeapi_response resp;
	const char *kind, *name;
	json_t *obj, *ref;
	int r;

	memset(w, 0, sizeof(*w));
	ctl_say(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	for (int depth = 0; depth < OWNER_WALK_MAX; depth++) {
		r = kubeapi_request(c->api, "GET", path, NULL, &resp);
		if (unavailable(r, &resp)) {
			ctl_say(why, why_size, "GET %.300s: %s", path, failure(r, &resp, "server error"));
			if (r == 0)
				ctl_append(why, why_size, " (HTTP %ld %s)", resp.status, resp.message);
			kubeapi_response_clear(&resp);
			stats_count_api_error(c);
			return -EAGAIN;
		}
		if (resp.status == 404 && depth == 0) {
			w->pod_gone = true;
			kubeapi_response_clear(&resp);
			return 0;
		}
		if (resp.status != 200) {
			/* 403 (RBAC), 404 of an owner: the chain stops here, owner unknown. */
			ctl_say(why, why_size, "GET %.300s: HTTP %ld %s", path, resp.status, resp.message);
			kubeapi_response_clear(&resp);
			w->top_kind[0] = '\0';
			return 0;
		}
		obj = json_loadb(resp.body, resp.len, 0, NULL);
		kubeapi_response_clear(&resp);
		ref = walk_object(obj, depth, w, path, why, why_size);
		kind = json_string_value(json_object_get(ref, "kind"));
		name = json_string_value(json_object_get(ref, "name"));
		if (ref && (!strcmp(kind, "Node") ||
			    owner_path(json_string_value(json_object_get(ref, "apiVersion")), kind, ns, name, path,
				       sizeof(path)))) {
			/* A static pod's owner, or a kind we do not follow (a CRD): it is the top as far as we go. */
			set_top(w, kind, name);
			ref = NULL;
		}
		json_decref(obj);
		if (!ref)
			return 0;
	}
	ctl_say(why, why_size, "owner chain longer than %d", OWNER_WALK_MAX);
	w->top_kind[0] = '\0';
	return 0;
}

/* ---- the pod, the namespace --------------------------------------------- */

int actions_delete_pod(struct controller *c, const char *ns, const char *pod, const char *uid, const char **outcome,
		       char *reason, size_t size)
{
	char path[512], *body = NULL;
	struct kubeapi_response resp;
	int r;

	ctl_say(path, sizeof(path), "/api/v1/namespaces/%s/pods/%s", ns, pod);
	if (asprintf(&body,
		     "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\",\"gracePeriodSeconds\":0,"
		     "\"preconditions\":{\"uid\":\"%s\"}}",
		     uid) < 0)
		return -ENOMEM;
	r = kubeapi_request(c->api, "DELETE", path, body, &resp);
	free(body);
	if (unavailable(r, &resp)) {
		ctl_say(reason, size, "DELETE pod %s/%s failed: %s", ns, pod, failure(r, &resp, resp.message));
		kubeapi_response_clear(&resp);
		return -EAGAIN;
	}
	if (resp.status == 200 || resp.status == 202) {
		*outcome = "deleted";
		ctl_say(reason, size, "pod %s/%s (uid %s) deleted, gracePeriodSeconds 0", ns, pod, uid);
	} else if (resp.status == 404) {
		*outcome = "gone";
		ctl_say(reason, size, "pod %s/%s already gone (404)", ns, pod);
	} else if (resp.status == 409) {
		*outcome = "refused";
		ctl_say(reason, size, "pod %s/%s not deleted: uid precondition failed, a newer pod has the name (%s)",
			ns, pod, resp.message);
	} else {
		*outcome = "failed";
		ctl_say(reason, size, "DELETE pod %s/%s: HTTP %ld %s", ns, pod, resp.status, resp.message);
	}
	kubeapi_response_clear(&resp);
	return 0;
}

int actions_isolate_namespace(struct controller *c, const char *ns, const char *rule, const char *event_id,
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
	ctl_say(path, sizeof(path), "/apis/networking.k8s.io/v1/namespaces/%s/networkpolicies", ns);
	r = kubeapi_request(c->api, "POST", path, body, &resp);
	free(body);
	if (unavailable(r, &resp)) {
		ctl_say(reason, size, "create NetworkPolicy in %s failed: %s", ns, failure(r, &resp, resp.message));
		kubeapi_response_clear(&resp);
		return -EAGAIN;
	}
	if (resp.status == 201 || resp.status == 200) {
		*outcome = "isolated";
		ctl_say(reason, size, "namespace %s isolated: NetworkPolicy %s denies all egress", ns,
			ISOLATION_POLICY_NAME);
	} else if (resp.status == 409 && !strcmp(resp.reason, "AlreadyExists")) {
		*outcome = "isolated";
		ctl_say(reason, size, "namespace %s already isolated (NetworkPolicy %s exists)", ns,
			ISOLATION_POLICY_NAME);
	} else {
		*outcome = "failed";
		ctl_say(reason, size, "create NetworkPolicy in %s: HTTP %ld %s %s", ns, resp.status, resp.reason,
			resp.message);
	}
	kubeapi_response_clear(&resp);
	return 0;
}

