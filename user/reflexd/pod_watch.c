// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Node-scoped pod list+watch (see pod_watch.h). One thread drives libcurl easy
 * handles through a multi handle so that kube_pods_stop can wake it out of a
 * transfer (curl_multi_poll on an extra eventfd) or a backoff (poll on the
 * same fd) at once, instead of waiting for a progress callback.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "pod_watch.h"
#include "kubeapi.h"
#include "token.h"
#include "log.h"
#include "util.h"

#define KUBE_LINE_MAX (4u << 20)  /* one watch event */
#define KUBE_LIST_MAX (64u << 20) /* one node's PodList */
#define KUBE_ERRBODY_MAX 4096     /* Status body of a failed request */
#define KUBE_WATCH_TIMEOUT_S 300
#define KUBE_BACKOFF_MIN_MS 1000u
#define KUBE_BACKOFF_MAX_MS 30000u

/* ------------------------------------------------------------------ table */

struct kube_pods {
	/* Immutable after start. */
	char *api_url, *token_file, *ca_file, *node_name, *node_esc;
	unsigned int timeout_s;
	int event_fd; /* for the reader */
	int wake_fd;  /* kube_pods_stop -> thread */
	pthread_t thread;
	atomic_bool stopping;

	/* Thread only. */
	CURL *easy;
	CURLM *multi;
	char rv[64];
	struct kube_watch_event ev;

	pthread_mutex_t lock; /* everything below */
	struct kube_pod *pods;
	size_t n_pods, cap_pods;
	struct kube_status st;
};

static void notify(struct kube_pods *k)
{
	uint64_t one = 1;
	ssize_t n = write(k->event_fd, &one, sizeof(one));

	(void)n; /* EAGAIN: the counter is already non-zero, the reader will see it */
}

static bool pod_equal(const struct kube_pod *a, const struct kube_pod *b)
{
	if (strcmp(a->namespace_, b->namespace_) || strcmp(a->name, b->name) || strcmp(a->owner_kind, b->owner_kind) ||
	    strcmp(a->owner_name, b->owner_name) || a->n_containers != b->n_containers)
		return false;
	for (size_t i = 0; i < a->n_containers; i++)
		if (strcmp(a->containers[i].id, b->containers[i].id) || strcmp(a->containers[i].name, b->containers[i].name) ||
		    strcmp(a->containers[i].image, b->containers[i].image))
			return false;
	return true;
}

static ssize_t find_uid(struct kube_pod *pods, size_t n, const char *uid)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(pods[i].uid, uid) == 0)
			return (ssize_t)i;
	return -1;
}

/* Insert or replace in a table; true if it changed anything that matters. */
static int table_upsert(struct kube_pod **pods, size_t *n, size_t *cap, const struct kube_pod *p, bool *changed)
{
	ssize_t i = find_uid(*pods, *n, p->uid);

	*changed = false;
	if (i >= 0) {
		*changed = !pod_equal(&(*pods)[i], p);
		(*pods)[i] = *p;
		return 0;
	}
	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 32;
		struct kube_pod *grown = realloc(*pods, ncap * sizeof(**pods));

		if (!grown)
			return -ENOMEM;
		*pods = grown;
		*cap = ncap;
	}
	(*pods)[(*n)++] = *p;
	*changed = true;
	return 0;
}

int kube_pods_event_fd(const struct kube_pods *k)
{
	return k->event_fd;
}

void kube_pods_ack(struct kube_pods *k)
{
	uint64_t v;

	/* A non-semaphore eventfd resets to 0 on one read. */
	while (read(k->event_fd, &v, sizeof(v)) == (ssize_t)sizeof(v))
		;
}

int kube_pods_lookup_container(struct kube_pods *k, const char *container_id, struct kube_pod *ret)
{
	const struct kube_pod *found = NULL;
	const char *found_id = NULL;
	size_t len;
	int r = -ENOENT;

	if (!container_id)
		return -ENOENT;
	len = strlen(container_id);
	if (len < 12 || len > 64 || !kube_is_lower_hex(container_id, len))
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	for (size_t i = 0; i < k->n_pods; i++) {
		const struct kube_pod *p = &k->pods[i];

		for (size_t c = 0; c < p->n_containers; c++) {
			const char *id = p->containers[c].id;

			if (!id[0] || strncmp(id, container_id, len) != 0)
				continue;
			if (found_id && strcmp(found_id, id) != 0)
				goto out; /* ambiguous prefix */
			found = p;
			found_id = id;
		}
	}
	if (found) {
		*ret = *found;
		r = 0;
	}
out:
	pthread_mutex_unlock(&k->lock);
	return r;
}

int kube_pods_lookup_uid(struct kube_pods *k, const char *uid, struct kube_pod *ret)
{
	ssize_t i;
	int r = -ENOENT;

	if (!uid || !*uid)
		return -ENOENT;
	pthread_mutex_lock(&k->lock);
	i = find_uid(k->pods, k->n_pods, uid);
	if (i >= 0) {
		*ret = k->pods[i];
		r = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return r;
}

void kube_pods_status(struct kube_pods *k, struct kube_status *ret)
{
	pthread_mutex_lock(&k->lock);
	*ret = k->st;
	ret->pods = k->n_pods;
	pthread_mutex_unlock(&k->lock);
}

/* Counts a failed request and keeps its message; the loop logs it once. */
__attribute__((format(printf, 2, 3))) static void record_error(struct kube_pods *k, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&k->lock);
	k->st.errors++;
	k->st.synced = false;
	va_start(ap, fmt);
	vsnprintf(k->st.last_error, sizeof(k->st.last_error), fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&k->lock);
}

/* --------------------------------------------------------------- transfer */

enum xfer_abort {
	XFER_OK = 0,
	XFER_TOO_BIG,    /* list body or watch line over its cap */
	XFER_NOMEM,
	XFER_GONE,       /* watch ERROR 410 */
	XFER_ERROR_EVENT, /* watch ERROR other than 410 */
	XFER_BAD_EVENT,  /* unparsable watch line */
};

struct xfer {
	struct kube_pods *k;
	bool watch;
	char *buf; /* list body, or the watch's unfinished line */
	size_t len, cap;
	char errbody[KUBE_ERRBODY_MAX];
	size_t errlen;
	enum xfer_abort abort;
	int error_code; /* XFER_ERROR_EVENT */
	uint64_t events; /* watch events other than ERROR */
	char detail[160];
};

static int buf_append(struct xfer *x, const char *p, size_t n, size_t max)
{
	if (x->len + n > max)
		return -EFBIG;
	if (x->len + n + 1 > x->cap) {
		size_t ncap = x->cap ? x->cap : 16384;
		char *grown;

		while (ncap < x->len + n + 1)
			ncap *= 2;
		if (ncap > max + 1)
			ncap = max + 1;
		grown = realloc(x->buf, ncap);
		if (!grown)
			return -ENOMEM;
		x->buf = grown;
		x->cap = ncap;
	}
	memcpy(x->buf + x->len, p, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return 0;
}

/* One complete watch line; false aborts the stream. */
static bool watch_line(struct xfer *x, const char *line, size_t n)
{
	struct kube_pods *k = x->k;
	struct kube_watch_event *ev = &k->ev;
	bool changed = false;
	ssize_t i;
	int r;

	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (!n)
		return true;
	if (kube_watch_event_parse(line, n, ev) < 0) {
		/*
		 * A pod the parser refuses (too many containers, odd ids) is
		 * left out rather than breaking the stream; a line that is not
		 * an event at all means the stream is not what we think it is.
		 */
		json_t *root = json_loadb(line, n, 0, NULL);
		json_t *obj = json_object_get(root, "object");
		json_t *meta = json_object_get(obj, "metadata");
		const char *type = json_string_value(json_object_get(root, "type"));
		const char *rv = json_string_value(json_object_get(meta, "resourceVersion"));
		const char *ns = json_string_value(json_object_get(meta, "namespace"));
		const char *name = json_string_value(json_object_get(meta, "name"));
		bool pod_event = json_is_object(obj) && type &&
				 (!strcmp(type, "ADDED") || !strcmp(type, "MODIFIED") || !strcmp(type, "DELETED"));

		if (pod_event) {
			log_warn("kube: watch: %s of pod %.64s/%.64s not understood, ignored", type, ns ? ns : "?",
				 name ? name : "?");
			if (rv && strlen(rv) < sizeof(k->rv))
				memcpy(k->rv, rv, strlen(rv) + 1);
		}
		json_decref(root);
		if (pod_event)
			return true;
		x->abort = XFER_BAD_EVENT;
		return false;
	}
	if (ev->type == KUBE_WATCH_ERROR) {
		x->error_code = ev->error_code;
		x->abort = ev->error_code == 410 ? XFER_GONE : XFER_ERROR_EVENT;
		return false;
	}
	x->events++;
	pthread_mutex_lock(&k->lock);
	k->st.watch_events++;
	pthread_mutex_unlock(&k->lock);
	switch (ev->type) {
	case KUBE_WATCH_DELETED:
		pthread_mutex_lock(&k->lock);
		i = find_uid(k->pods, k->n_pods, ev->pod.uid);
		if (i >= 0) {
			k->pods[i] = k->pods[--k->n_pods];
			changed = true;
		}
		pthread_mutex_unlock(&k->lock);
		break;
	case KUBE_WATCH_ADDED:
	case KUBE_WATCH_MODIFIED:
		pthread_mutex_lock(&k->lock);
		r = table_upsert(&k->pods, &k->n_pods, &k->cap_pods, &ev->pod, &changed);
		pthread_mutex_unlock(&k->lock);
		if (r < 0) {
			x->abort = XFER_NOMEM;
			return false;
		}
		break;
	default: /* BOOKMARK: only the resourceVersion */
		break;
	}
	if (ev->resource_version[0])
		memcpy(k->rv, ev->resource_version, sizeof(k->rv));
	if (changed)
		notify(k);
	return true;
}

static bool watch_data(struct xfer *x, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t chunk = nl ? (size_t)(nl - p) : n;
		int r;

		if (nl && x->len == 0) {
			/* The whole line is in this callback: no copy. */
			if (chunk > KUBE_LINE_MAX) {
				x->abort = XFER_TOO_BIG;
				return false;
			}
			if (!watch_line(x, p, chunk))
				return false;
		} else {
			r = buf_append(x, p, chunk, KUBE_LINE_MAX);
			if (r < 0) {
				x->abort = r == -EFBIG ? XFER_TOO_BIG : XFER_NOMEM;
				return false;
			}
			if (nl) {
				size_t total = x->len;

				x->len = 0;
				if (!watch_line(x, x->buf, total))
					return false;
			}
		}
		p += chunk + (nl ? 1 : 0);
		n -= chunk + (nl ? 1 : 0);
	}
	return true;
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	long code = 0;

	curl_easy_getinfo(x->k->easy, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		/* Keep the start of a Status body for the error message. */
		size_t room = sizeof(x->errbody) - 1 - x->errlen;
		size_t take = n < room ? n : room;

		memcpy(x->errbody + x->errlen, p, take);
		x->errlen += take;
		x->errbody[x->errlen] = '\0';
		return n;
	}
	if (x->watch)
		return watch_data(x, p, n) ? n : 0;
	switch (buf_append(x, p, n, KUBE_LIST_MAX)) {
	case 0:
		return n;
	case -EFBIG:
		x->abort = XFER_TOO_BIG;
		return 0;
	default:
		x->abort = XFER_NOMEM;
		return 0;
	}
}

/* "message" of a Kubernetes Status body, else the start of the body. */
static void status_message(const struct xfer *x, char *out, size_t size)
{
	json_t *root = json_loadb(x->errbody, x->errlen, 0, NULL);
	const char *msg = json_string_value(json_object_get(root, "message"));
	size_t o = 0;

	if (!msg)
		msg = root ? "" : x->errbody;
	/* Printable ASCII only: it ends up in a log line. */
	for (const char *p = msg; *p && o + 1 < size; p++)
		out[o++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	out[o] = '\0';
	json_decref(root);
}

static void xfer_reset(struct xfer *x)
{
	x->len = 0;
	x->errlen = 0;
	x->errbody[0] = '\0';
	x->abort = XFER_OK;
	x->error_code = 0;
	x->events = 0;
	x->detail[0] = '\0';
}

/*
 * One HTTP exchange. 0 and *code when the server answered (whatever the
 * status), -ECANCELED when stopping, other negative errno with X->detail set
 * for a transport failure or an abort from the write callback.
 */
static int transfer_once(struct kube_pods *k, const char *url, struct xfer *x, long *code)
{
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode res = CURLE_OK;
	bool done = false;
	int r = 0;

	xfer_reset(x);
	*code = 0;
	headers = curl_slist_append(NULL, "Accept: application/json");
	if (!headers)
		return -ENOMEM;
	if (k->token_file) {
		r = token_header(&headers, "Authorization: Bearer ", k->token_file);
		if (r < 0) {
			snprintf(x->detail, sizeof(x->detail), "token %s: %s", k->token_file, strerror(-r));
			curl_slist_free_all(headers);
			return r;
		}
	}

	curl_easy_reset(k->easy);
	curl_easy_setopt(k->easy, CURLOPT_URL, url);
	curl_easy_setopt(k->easy, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(k->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->easy, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(k->easy, CURLOPT_USERAGENT, "reflex");
	curl_easy_setopt(k->easy, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(k->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(k->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(k->easy, CURLOPT_CONNECTTIMEOUT, (long)k->timeout_s);
	curl_easy_setopt(k->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(k->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
	if (x->watch) {
		/*
		 * No total timeout: the server ends the watch after
		 * timeoutSeconds. Silence well past that means a dead peer.
		 */
		curl_easy_setopt(k->easy, CURLOPT_LOW_SPEED_TIME, (long)KUBE_WATCH_TIMEOUT_S + 60L);
	} else {
		curl_easy_setopt(k->easy, CURLOPT_LOW_SPEED_TIME, (long)k->timeout_s);
		curl_easy_setopt(k->easy, CURLOPT_ACCEPT_ENCODING, "");
	}
	if (k->ca_file)
		curl_easy_setopt(k->easy, CURLOPT_CAINFO, k->ca_file);

	if (curl_multi_add_handle(k->multi, k->easy) != CURLM_OK) {
		curl_slist_free_all(headers);
		snprintf(x->detail, sizeof(x->detail), "curl_multi_add_handle failed");
		return -EIO;
	}
	while (!done) {
		struct curl_waitfd wfd = { .fd = k->wake_fd, .events = CURL_WAIT_POLLIN };
		CURLMsg *m;
		int running, left;

		if (atomic_load(&k->stopping)) {
			r = -ECANCELED;
			break;
		}
		if (curl_multi_perform(k->multi, &running) != CURLM_OK) {
			r = -EIO;
			snprintf(x->detail, sizeof(x->detail), "curl_multi_perform failed");
			break;
		}
		while ((m = curl_multi_info_read(k->multi, &left)))
			if (m->msg == CURLMSG_DONE) {
				res = m->data.result;
				done = true;
			}
		if (!done && curl_multi_poll(k->multi, &wfd, 1, 1000, NULL) != CURLM_OK) {
			r = -EIO;
			snprintf(x->detail, sizeof(x->detail), "curl_multi_poll failed");
			break;
		}
	}
	curl_easy_getinfo(k->easy, CURLINFO_RESPONSE_CODE, code);
	curl_multi_remove_handle(k->multi, k->easy);
	curl_slist_free_all(headers);
	if (r < 0)
		return r;

	switch (x->abort) {
	case XFER_OK:
		break;
	case XFER_GONE:
		return 0; /* the caller looks at x->abort */
	case XFER_TOO_BIG:
		snprintf(x->detail, sizeof(x->detail), "%s", x->watch ? "watch event over 4 MiB" : "list over 64 MiB");
		return -EFBIG;
	case XFER_NOMEM:
		snprintf(x->detail, sizeof(x->detail), "out of memory");
		return -ENOMEM;
	case XFER_ERROR_EVENT:
		snprintf(x->detail, sizeof(x->detail), "watch ERROR event, code %d", x->error_code);
		return -EPROTO;
	case XFER_BAD_EVENT:
		snprintf(x->detail, sizeof(x->detail), "watch sent a line that is not an event");
		return -EPROTO;
	}
	if (res != CURLE_OK) {
		snprintf(x->detail, sizeof(x->detail), "%s", errbuf[0] ? errbuf : curl_easy_strerror(res));
		return res == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
	}
	return 0;
}

/*
 * transfer_once, and once more right away after a 401 with a freshly read
 * token (bound tokens rotate under us). 0 only for HTTP 200 (or a watch that
 * ended in ERROR 410: X->abort says), else the error is recorded.
 */
static int request(struct kube_pods *k, const char *what, const char *url, struct xfer *x)
{
	char msg[160];
	long code = 0;
	int r;

	for (int attempt = 0;; attempt++) {
		r = transfer_once(k, url, x, &code);
		if (r == -ECANCELED)
			return r;
		if (r < 0) {
			record_error(k, "%s: %s", what, x->detail);
			return r;
		}
		if (code == 401 && k->token_file && attempt == 0) {
			pthread_mutex_lock(&k->lock);
			k->st.auth_retries++;
			pthread_mutex_unlock(&k->lock);
			log_warn("kube: %s: 401 Unauthorized, reading %s again and retrying", what, k->token_file);
			continue;
		}
		break;
	}
	if (code == 200)
		return 0;
	if (code == 410 && x->watch) {
		x->abort = XFER_GONE; /* the watch was refused outright */
		return 0;
	}
	status_message(x, msg, sizeof(msg));
	record_error(k, "%s: HTTP %ld%s%s", what, code, msg[0] ? ": " : "", msg);
	return -EPROTO;
}

/* The table a list builds, in place of the watch's once the list is complete. */
struct list_table {
	struct kube_pods *k;
	struct kube_pod *pods;
	size_t n, cap;
};

static int list_add(void *ctx, const struct kube_pod *pod)
{
	struct list_table *t = ctx;
	bool changed;
	int r = table_upsert(&t->pods, &t->n, &t->cap, pod, &changed);

	if (r < 0)
		record_error(t->k, "list: out of memory");
	return r;
}

static int do_list(struct kube_pods *k, struct xfer *x)
{
	struct list_table t = { .k = k };
	char *url = NULL, rv[sizeof(k->rv)];
	size_t skipped;
	int r;

	if (asprintf(&url, "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s", k->api_url, k->node_esc) < 0)
		return -ENOMEM;
	x->watch = false;
	r = request(k, "list", url, x);
	free(url);
	if (r < 0)
		return r;

	r = kube_pod_list_parse(x->buf ? x->buf : "", x->len, rv, sizeof(rv), list_add, &t, &skipped);
	if (r == -EPROTO)
		record_error(k, "list: answer is not a PodList with a resourceVersion");
	if (r < 0)
		goto out;
	memcpy(k->rv, rv, strlen(rv) + 1);

	pthread_mutex_lock(&k->lock);
	free(k->pods);
	k->pods = t.pods;
	k->n_pods = t.n;
	k->cap_pods = t.cap;
	k->st.lists++;
	k->st.synced = true;
	pthread_mutex_unlock(&k->lock);
	t.pods = NULL;
	notify(k);
	log_info("kube: list of pods on node %s done: %zu pods, resourceVersion %s", k->node_name, t.n, k->rv);
	if (skipped)
		log_warn("kube: list: %zu pods not understood, ignored", skipped);
	r = 0;
out:
	free(t.pods);
	return r;
}

enum watch_end { WATCH_ENDED, WATCH_QUICK, WATCH_GONE };

static int do_watch(struct kube_pods *k, struct xfer *x)
{
	char *url = NULL, *rv_esc;
	uint64_t t0, t1;
	int r;

	rv_esc = curl_easy_escape(k->easy, k->rv, 0);
	if (!rv_esc)
		return -ENOMEM;
	r = asprintf(&url,
		     "%s/api/v1/pods?fieldSelector=spec.nodeName%%3D%s&watch=1&resourceVersion=%s"
		     "&allowWatchBookmarks=true&timeoutSeconds=%d",
		     k->api_url, k->node_esc, rv_esc, KUBE_WATCH_TIMEOUT_S);
	curl_free(rv_esc);
	if (r < 0)
		return -ENOMEM;
	x->watch = true;
	t0 = util_monotonic_ns();
	r = request(k, "watch", url, x);
	t1 = util_monotonic_ns();
	free(url);
	if (r < 0)
		return r;
	if (x->abort == XFER_GONE)
		return WATCH_GONE;
	if (x->events == 0 && t1 - t0 < 1000 * 1000000ULL)
		return WATCH_QUICK;
	log_info("kube: watch ended after %llu events, watching again from resourceVersion %s",
		 (unsigned long long)x->events, k->rv);
	return WATCH_ENDED;
}

/* Sleeps MS unless stopped first; true when stopping. */
static bool backoff_wait(struct kube_pods *k, unsigned int ms)
{
	struct pollfd pfd = { .fd = k->wake_fd, .events = POLLIN };
	uint64_t start = util_monotonic_ns();
	long left = ms;

	while (!atomic_load(&k->stopping) && left > 0) {
		if (poll(&pfd, 1, (int)left) > 0)
			break;
		left = (long)ms - (long)((util_monotonic_ns() - start) / 1000000);
	}
	return atomic_load(&k->stopping);
}

static void *kube_thread(void *arg)
{
	struct kube_pods *k = arg;
	struct xfer x = { .k = k };
	unsigned int backoff = 0;
	bool need_list = true;
	unsigned int gone_streak = 0, quick_ends = 0;
	int r;

	pthread_setname_np(pthread_self(), "rx-kube-watch"); /* as top and /proc show it */

	while (!atomic_load(&k->stopping)) {
		if (need_list) {
			r = do_list(k, &x);
			if (r == -ECANCELED)
				break;
			if (r < 0)
				goto fail;
			need_list = false;
		}
		r = do_watch(k, &x);
		if (r == -ECANCELED)
			break;
		if (r < 0)
			goto fail;
		if (r == WATCH_GONE) {
			pthread_mutex_lock(&k->lock);
			k->st.synced = false;
			pthread_mutex_unlock(&k->lock);
			need_list = true;
			if (x.events > 0) {
				gone_streak = 0;
				backoff = 0;
			}
			/* 410 right after a fresh list, again and again: back off. */
			if (++gone_streak == 1) {
				log_info("kube: watch: resourceVersion %s expired (410), listing again", k->rv);
				continue;
			}
			backoff = backoff ? (backoff * 2 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS : backoff * 2)
					  : KUBE_BACKOFF_MIN_MS;
			log_warn("kube: watch: resourceVersion expired (410) %u times in a row; listing again in %u s",
				 gone_streak, backoff / 1000);
			if (backoff_wait(k, backoff))
				break;
			continue;
		}
		gone_streak = 0;
		if (r == WATCH_QUICK) {
			/* A server that closes every watch at once must not make us spin. */
			if (++quick_ends >= 2) {
				quick_ends = 0;
				record_error(k, "watch: ended twice in a row within 1 s without an event");
				goto fail;
			}
			log_info("kube: watch ended without an event, watching again from resourceVersion %s", k->rv);
			continue;
		}
		quick_ends = 0;
		backoff = 0;
		continue;
fail:
		need_list = true;
		backoff = backoff ? (backoff * 2 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS : backoff * 2)
				  : KUBE_BACKOFF_MIN_MS;
		{
			char msg[sizeof(k->st.last_error)];

			pthread_mutex_lock(&k->lock);
			memcpy(msg, k->st.last_error, sizeof(msg));
			pthread_mutex_unlock(&k->lock);
			/* One line per backoff step: a flapping API cannot flood. */
			log_warn("kube: %s; retrying in %u s", msg, backoff / 1000);
		}
		if (backoff_wait(k, backoff))
			break;
	}
	free(x.buf);
	return NULL;
}

/* ---------------------------------------------------------- start / stop */

static void kube_free(struct kube_pods *k)
{
	if (k->multi)
		curl_multi_cleanup(k->multi);
	if (k->easy)
		curl_easy_cleanup(k->easy);
	curl_free(k->node_esc);
	free(k->api_url);
	free(k->token_file);
	free(k->ca_file);
	free(k->node_name);
	free(k->pods);
	if (k->event_fd >= 0)
		close(k->event_fd);
	if (k->wake_fd >= 0)
		close(k->wake_fd);
	pthread_mutex_destroy(&k->lock);
	free(k);
	curl_global_cleanup();
}

int kube_pods_start(const struct kube_config *cfg, struct kube_pods **ret)
{
	struct kube_pods *k;
	sigset_t all, old;
	size_t len;
	int err = -ENOMEM;

	if (!cfg || !cfg->node_name || !*cfg->node_name)
		return -EINVAL;
	if (cfg->api_url && strncmp(cfg->api_url, "https://", 8) != 0 && strncmp(cfg->api_url, "http://", 7) != 0)
		return -EINVAL;
	if (!cfg->api_url && !getenv("KUBERNETES_SERVICE_HOST"))
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -ENOMEM;
	k = calloc(1, sizeof(*k));
	if (!k) {
		curl_global_cleanup();
		return -ENOMEM;
	}
	k->event_fd = -1;
	k->wake_fd = -1;
	pthread_mutex_init(&k->lock, NULL);
	atomic_init(&k->stopping, false);
	k->timeout_s = cfg->timeout_s ? cfg->timeout_s : 10;
	k->api_url = cfg->api_url ? strdup(cfg->api_url) : kubeapi_url_from_env();
	k->node_name = strdup(cfg->node_name);
	k->token_file = cfg->token_file ? strdup(cfg->token_file) : NULL;
	k->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
	if (!k->api_url || !k->node_name || (cfg->token_file && !k->token_file) || (cfg->ca_file && !k->ca_file))
		goto fail;
	len = strlen(k->api_url);
	while (len && k->api_url[len - 1] == '/')
		k->api_url[--len] = '\0';
	k->easy = curl_easy_init();
	k->multi = curl_multi_init();
	if (!k->easy || !k->multi)
		goto fail;
	k->node_esc = curl_easy_escape(k->easy, k->node_name, 0);
	if (!k->node_esc)
		goto fail;
	k->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	k->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (k->event_fd < 0 || k->wake_fd < 0) {
		err = -errno;
		goto fail;
	}
	/* Signals are the main thread's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&k->thread, NULL, kube_thread, k);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto fail;
	*ret = k;
	return 0;
fail:
	kube_free(k);
	return err;
}

struct kube_pods *kube_pods_stop(struct kube_pods *k)
{
	uint64_t one = 1;
	ssize_t n;

	if (!k)
		return NULL;
	atomic_store(&k->stopping, true);
	n = write(k->wake_fd, &one, sizeof(one));
	(void)n;
	pthread_join(k->thread, NULL);
	kube_free(k);
	return NULL;
}
