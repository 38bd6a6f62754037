// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "falco_feed.h"
#include "token.h"
#include "httpd.h"
#include "log.h"
#include "http_body.h"
#include "util.h"

#define FEED_MAX_CONNECTIONS 64
#define FEED_READ_CHUNK (64 * 1024)
/* Bytes held in the queue: a flood of 1 MiB alerts must not take the node's memory. */
#define FEED_QUEUE_MAX_BYTES (64u * 1024 * 1024)
#define FEED_HTTP_TIMEOUT_S 10u

struct feed_item {
	char *text;           /* raw line or body; NULL once parsed */
	size_t len;
	struct falco_alert alert; /* HTTP bodies arrive parsed (the POST is answered 400 otherwise) */
	uint64_t received_ns;
	enum falco_intake intake;
};

struct feed_conn {
	int fd;
	char *line;           /* bytes of the line not yet terminated */
	size_t len, cap;
	bool discarding;      /* the current line went past the limit: skip to its newline */
};

/* At most one line per second per kind of complaint, with the count in between. */
struct rate_log {
	uint64_t last_ns;
	uint64_t suppressed;
};

struct falco_feed {
	struct falco_feed_config cfg;
	char *socket_path;
	char *http_token;
	unsigned int *peer_uids;

	pthread_mutex_t lock;  /* queue, stats, rate logs of both producer threads */
	struct feed_item *queue; /* ring of cfg.queue_size */
	size_t head, count, bytes;
	struct falco_feed_stats stats;
	struct rate_log log_drop, log_reject, log_peer, log_truncated, log_http;

	int event_fd;          /* queue non-empty */
	int stop_fd;           /* wakes the reader to stop */
	int listen_fd;
	int epoll_fd;
	pthread_t reader;
	bool reader_started;
	struct feed_conn conns[FEED_MAX_CONNECTIONS];

	struct MHD_Daemon *http;
	unsigned short http_port;
};

/* True when a line may be logged now; *suppressed gets the count skipped since. Caller holds lock. */
static bool rate_log_allow(struct rate_log *r, uint64_t *suppressed)
{
	uint64_t now = util_monotonic_ns();

	if (r->last_ns && now - r->last_ns < 1000000000ULL) {
		r->suppressed++;
		return false;
	}
	*suppressed = r->suppressed;
	r->suppressed = 0;
	r->last_ns = now;
	return true;
}

static void item_clear(struct feed_item *it)
{
	free(it->text);
	falco_alert_clear(&it->alert);
	memset(it, 0, sizeof(*it));
}

static void signal_event(struct falco_feed *f)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the loop is woken anyway. */
	if (write(f->event_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_errno(LOG_LEVEL_WARN, -errno, "falco feed: eventfd");
}

/* Takes ownership of *it. Drops the oldest alerts to make room. */
static void queue_push(struct falco_feed *f, struct feed_item *it)
{
	uint64_t dropped = 0, suppressed;
	size_t tail;

	pthread_mutex_lock(&f->lock);
	while (f->count && (f->count == f->cfg.queue_size || f->bytes + it->len > FEED_QUEUE_MAX_BYTES)) {
		struct feed_item *old = &f->queue[f->head];

		f->bytes -= old->len;
		item_clear(old);
		f->head = (f->head + 1) % f->cfg.queue_size;
		f->count--;
		f->stats.dropped++;
		dropped++;
	}
	tail = (f->head + f->count) % f->cfg.queue_size;
	f->queue[tail] = *it;
	memset(it, 0, sizeof(*it));
	f->count++;
	f->bytes += f->queue[tail].len;
	f->stats.lines++;
	f->stats.queued = f->count;
	if (f->count > f->stats.queue_high_water)
		f->stats.queue_high_water = f->count;
	if (dropped && rate_log_allow(&f->log_drop, &suppressed))
		log_warn("falco feed: queue full (%zu alerts), dropped the oldest; %llu dropped in all "
			 "(the event loop is not keeping up; writers are not blocked)",
			 f->cfg.queue_size, (unsigned long long)f->stats.dropped);
	pthread_mutex_unlock(&f->lock);
	signal_event(f);
}

static void count_reject(struct falco_feed *f, enum falco_parse_error e, const char *from, const char *why)
{
	uint64_t suppressed = 0;
	bool show;

	pthread_mutex_lock(&f->lock);
	f->stats.rejected[e]++;
	show = rate_log_allow(&f->log_reject, &suppressed);
	pthread_mutex_unlock(&f->lock);
	if (show)
		log_warn("falco feed: alert from %s rejected (%s): %s%s", from, falco_parse_error_name(e), why,
			 suppressed ? " (and more rejected since the last message)" : "");
}

/* ---- unix socket reader ---- */

static void conn_close(struct falco_feed *f, struct feed_conn *c)
{
	if (c->len && !c->discarding) {
		uint64_t suppressed;
		bool show;

		pthread_mutex_lock(&f->lock);
		f->stats.truncated++;
		show = rate_log_allow(&f->log_truncated, &suppressed);
		pthread_mutex_unlock(&f->lock);
		if (show)
			log_warn("falco feed: writer disconnected mid-line; %zu bytes of that line dropped", c->len);
	}
	epoll_ctl(f->epoll_fd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->line);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void conn_line_done(struct falco_feed *f, struct feed_conn *c, uint64_t now)
{
	struct feed_item it = { .received_ns = now, .intake = FALCO_INTAKE_SOCKET };
	size_t len = c->len;

	if (len && c->line[len - 1] == '\r')
		len--;
	/* Blank lines (keep-alive writers may send them) are not alerts. */
	if (len == strspn(c->line ? c->line : "", " \t") || len == 0) {
		c->len = 0;
		return;
	}
	/* Hand the buffer over: no copy on the path a flood takes. */
	it.text = c->line;
	it.len = len;
	c->line = NULL;
	c->len = c->cap = 0;
	queue_push(f, &it);
}

static int conn_append(struct falco_feed *f, struct feed_conn *c, const char *p, size_t n)
{
	if (c->discarding)
		return 0;
	if (c->len + n > f->cfg.max_alert_bytes) {
		char why[96];

		snprintf(why, sizeof(why), "line longer than %zu bytes (agent.falco_max_alert_bytes)",
			 f->cfg.max_alert_bytes);
		count_reject(f, FALCO_PARSE_TOO_LARGE, "the socket", why);
		free(c->line);
		c->line = NULL;
		c->len = c->cap = 0;
		c->discarding = true;
		return 0;
	}
	if (c->len + n + 1 > c->cap) {
		size_t cap = c->cap ? c->cap : 4096;
		char *line;

		while (cap < c->len + n + 1)
			cap *= 2;
		line = realloc(c->line, cap);
		if (!line)
			return -ENOMEM;
		c->line = line;
		c->cap = cap;
	}
	memcpy(c->line + c->len, p, n);
	c->len += n;
	c->line[c->len] = '\0';
	return 0;
}

/* Reads until EAGAIN; splits into lines. False when the connection is done. */
static bool conn_read(struct falco_feed *f, struct feed_conn *c, char *buf)
{
	for (;;) {
		ssize_t n = read(c->fd, buf, FEED_READ_CHUNK);
		uint64_t now;
		char *p, *end, *nl;

		if (n == 0)
			return false;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN;
		}
		now = util_monotonic_ns();
		for (p = buf, end = buf + n; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			if (!nl) {
				if (conn_append(f, c, p, (size_t)(end - p)))
					return false;
				break;
			}
			if (conn_append(f, c, p, (size_t)(nl - p)))
				return false;
			if (c->discarding) {
				c->discarding = false;
				c->len = 0;
			} else {
				conn_line_done(f, c, now);
			}
		}
	}
}

static bool peer_allowed(const struct falco_feed *f, int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len))
		return false;
	for (size_t i = 0; i < f->cfg.n_peer_uids; i++)
		if (f->peer_uids[i] == cred->uid)
			return true;
	return false;
}

static void accept_all(struct falco_feed *f)
{
	for (;;) {
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP };
		struct feed_conn *slot = NULL;
		struct ucred cred = { 0 };
		uint64_t suppressed;
		bool show;
		int fd = accept4(f->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EAGAIN)
				log_errno(LOG_LEVEL_WARN, -errno, "falco feed: accept");
			return;
		}
		if (!peer_allowed(f, fd, &cred)) {
			pthread_mutex_lock(&f->lock);
			f->stats.peers_refused++;
			show = rate_log_allow(&f->log_peer, &suppressed);
			pthread_mutex_unlock(&f->lock);
			if (show)
				log_warn("falco feed: refused a writer: pid %d uid %u is not in agent.falco_peer_uids",
					 (int)cred.pid, (unsigned int)cred.uid);
			close(fd);
			continue;
		}
		for (size_t i = 0; i < FEED_MAX_CONNECTIONS && !slot; i++)
			if (f->conns[i].fd < 0)
				slot = &f->conns[i];
		if (!slot) {
			log_warn("falco feed: %d writers connected already; refusing pid %d", FEED_MAX_CONNECTIONS,
				 (int)cred.pid);
			close(fd);
			continue;
		}
		slot->fd = fd;
		ev.data.ptr = slot;
		if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, fd, &ev)) {
			log_errno(LOG_LEVEL_WARN, -errno, "falco feed: epoll add");
			close(fd);
			slot->fd = -1;
			continue;
		}
		pthread_mutex_lock(&f->lock);
		f->stats.connections++;
		pthread_mutex_unlock(&f->lock);
		log_debug("falco feed: writer pid %d uid %u connected", (int)cred.pid, (unsigned int)cred.uid);
	}
}

static void *reader_main(void *arg)
{
	struct falco_feed *f = arg;
	struct epoll_event evs[16];
	char *buf = malloc(FEED_READ_CHUNK);

	pthread_setname_np(pthread_self(), "rx-falco-feed"); /* as top and /proc show it */

	if (!buf) {
		log_error("falco feed: out of memory; the socket is not read");
		return NULL;
	}
	for (;;) {
		int n = epoll_wait(f->epoll_fd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: epoll_wait");
			break;
		}
		for (int i = 0; i < n; i++) {
			void *tag = evs[i].data.ptr;

			if (tag == &f->stop_fd) {
				free(buf);
				return NULL;
			}
			if (tag == &f->listen_fd) {
				accept_all(f);
				continue;
			}
			if (!conn_read(f, tag, buf))
				conn_close(f, tag);
		}
	}
	free(buf);
	return NULL;
}

static int socket_listen(struct falco_feed *f)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char dir[PATH_MAX], *slash;
	struct stat st;
	int fd, err;

	if (strlen(f->socket_path) >= sizeof(sun.sun_path))
		return log_errno(LOG_LEVEL_ERROR, -ENAMETOOLONG, "falco feed: socket path %s", f->socket_path);
	memcpy(sun.sun_path, f->socket_path, strlen(f->socket_path));
	snprintf(dir, sizeof(dir), "%s", f->socket_path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = '\0';
		if (mkdir(dir, 0755) && errno != EEXIST)
			return log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: mkdir %s", dir);
	}
	/* A stale socket from a previous run is replaced; anything else there is not ours. */
	if (lstat(f->socket_path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return log_errno(LOG_LEVEL_ERROR, -EEXIST, "falco feed: %s exists and is not a socket",
					 f->socket_path);
		if (unlink(f->socket_path))
			return log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: removing stale %s", f->socket_path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: socket");
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: bind %s", f->socket_path);
		close(fd);
		return err;
	}
	/* The mode is the first gate (Falco's group), SO_PEERCRED the second. */
	if (chmod(f->socket_path, f->cfg.socket_mode) || listen(fd, 128)) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "falco feed: chmod/listen %s", f->socket_path);
		close(fd);
		unlink(f->socket_path);
		return err;
	}
	f->listen_fd = fd;
	return 0;
}

/* ---- HTTP intake ---- */

struct http_request {
	struct http_body body;
	bool unauthorized;
};

static enum MHD_Result http_reply(struct MHD_Connection *conn, unsigned int status, const char *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8") != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "POST") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result http_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				   const char *version, const char *upload_data, size_t *upload_data_size,
				   void **con_cls)
{
	struct falco_feed *f = cls;
	struct http_request *req = *con_cls;
	struct feed_item it = { .intake = FALCO_INTAKE_HTTP };
	enum falco_parse_error e;
	char err[256], msg[320];

	(void)url;
	(void)version;
	if (strcmp(method, MHD_HTTP_METHOD_POST))
		return http_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST one Falco alert (JSON)\n");
	if (!req) {
		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		if (f->http_token && *f->http_token &&
		    !token_equal(f->http_token, MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Falco-Token")))
			req->unauthorized = true;
		return MHD_YES;
	}
	if (*upload_data_size) {
		/* Refusals still read the body so the client sees the answer, but keep none of it. */
		if (!req->unauthorized && !req->body.too_large) {
			req->body.max = f->cfg.max_alert_bytes;
			if (http_body_append(&req->body, upload_data, *upload_data_size))
				return MHD_NO;
		}
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->unauthorized) {
		uint64_t suppressed;
		bool show;

		pthread_mutex_lock(&f->lock);
		f->stats.http_unauthorized++;
		show = rate_log_allow(&f->log_http, &suppressed);
		pthread_mutex_unlock(&f->lock);
		if (show)
			log_warn("falco feed: HTTP alert refused: missing or wrong X-Falco-Token");
		return http_reply(conn, MHD_HTTP_UNAUTHORIZED, "missing or wrong X-Falco-Token\n");
	}
	if (req->body.too_large) {
		snprintf(msg, sizeof(msg), "body larger than %zu bytes (agent.falco_max_alert_bytes)",
			 f->cfg.max_alert_bytes);
		count_reject(f, FALCO_PARSE_TOO_LARGE, "HTTP", msg);
		return http_reply(conn, MHD_HTTP_CONTENT_TOO_LARGE, "alert too large\n");
	}
	/* Parsed here so the sender learns at once that its body is not an alert. */
	e = falco_alert_parse(req->body.data ? req->body.data : "", req->body.len, f->cfg.max_alert_bytes, &it.alert, err,
			      sizeof(err));
	if (e != FALCO_PARSE_OK) {
		if (e != FALCO_PARSE_EMPTY)
			count_reject(f, e, "HTTP", err);
		snprintf(msg, sizeof(msg), "not a Falco alert (%s): %s\n", falco_parse_error_name(e), err);
		return http_reply(conn, MHD_HTTP_BAD_REQUEST, msg);
	}
	it.received_ns = util_monotonic_ns();
	pthread_mutex_lock(&f->lock);
	f->stats.parsed++;
	pthread_mutex_unlock(&f->lock);
	queue_push(f, &it);
	return http_reply(conn, MHD_HTTP_OK, "accepted\n");
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			   enum MHD_RequestTerminationCode toe)
{
	struct http_request *req = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (req) {
		free(req->body.data);
		free(req);
		*con_cls = NULL;
	}
}

static int http_start(struct falco_feed *f)
{
	int fd = httpd_listen(f->cfg.http_address, &f->http_port);

	if (fd < 0)
		return log_errno(LOG_LEVEL_ERROR, fd, "falco feed: HTTP listen on %s", f->cfg.http_address);
	f->http = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | (f->cfg.http_address[0] == '[' ? MHD_USE_IPv6 : 0),
				   f->http_port, NULL, NULL, http_handle, f, MHD_OPTION_LISTEN_SOCKET, fd,
				   MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_CONNECTION_TIMEOUT,
				   FEED_HTTP_TIMEOUT_S, MHD_OPTION_NOTIFY_COMPLETED, http_completed, f,
				   MHD_OPTION_END);
	if (!f->http) {
		close(fd);
		return log_errno(LOG_LEVEL_ERROR, -ENOMEM, "falco feed: HTTP daemon on %s", f->cfg.http_address);
	}
	return 0;
}

/* ---- public ---- */

int falco_feed_start(const struct falco_feed_config *cfg, struct falco_feed **ret)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct falco_feed *f;
	int err = -EINVAL;

	if (!cfg || !cfg->queue_size || !cfg->max_alert_bytes)
		return -EINVAL;
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->cfg = *cfg;
	f->event_fd = f->stop_fd = f->listen_fd = f->epoll_fd = -1;
	for (size_t i = 0; i < FEED_MAX_CONNECTIONS; i++)
		f->conns[i].fd = -1;
	pthread_mutex_init(&f->lock, NULL);
	f->queue = calloc(cfg->queue_size, sizeof(*f->queue));
	f->socket_path = strdup(cfg->socket_path ? cfg->socket_path : "");
	f->http_token = strdup(cfg->http_token ? cfg->http_token : "");
	f->peer_uids = calloc(cfg->n_peer_uids + 1, sizeof(*f->peer_uids));
	if (!f->queue || !f->socket_path || !f->http_token || !f->peer_uids) {
		err = -ENOMEM;
		goto fail;
	}
	if (cfg->n_peer_uids)
		memcpy(f->peer_uids, cfg->peer_uids, cfg->n_peer_uids * sizeof(*f->peer_uids));
	f->cfg.socket_path = f->socket_path;
	f->cfg.http_token = f->http_token;
	f->cfg.peer_uids = f->peer_uids;
	f->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (f->event_fd < 0) {
		err = -errno;
		goto fail;
	}
	if (*f->socket_path) {
		f->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		f->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
		if (f->stop_fd < 0 || f->epoll_fd < 0) {
			err = -errno;
			goto fail;
		}
		if ((err = socket_listen(f)))
			goto fail;
		ev.data.ptr = &f->listen_fd;
		if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->listen_fd, &ev)) {
			err = -errno;
			goto fail;
		}
		ev.data.ptr = &f->stop_fd;
		if (epoll_ctl(f->epoll_fd, EPOLL_CTL_ADD, f->stop_fd, &ev)) {
			err = -errno;
			goto fail;
		}
		err = -pthread_create(&f->reader, NULL, reader_main, f);
		if (err)
			goto fail;
		f->reader_started = true;
	}
	if (f->cfg.http_address && *f->cfg.http_address && (err = http_start(f)))
		goto fail;
	*ret = f;
	return 0;
fail:
	falco_feed_stop(f);
	return err;
}

int falco_feed_fd(const struct falco_feed *f)
{
	return f->event_fd;
}

unsigned short falco_feed_http_port(const struct falco_feed *f)
{
	return f && f->http ? f->http_port : 0;
}

bool falco_feed_next(struct falco_feed *f, struct falco_alert *ret, uint64_t *received_ns,
		     enum falco_intake *intake)
{
	for (;;) {
		struct feed_item it;
		enum falco_parse_error e;
		char err[256];
		uint64_t drain;

		pthread_mutex_lock(&f->lock);
		if (!f->count) {
			/* Reset the eventfd under the lock: a push after this re-arms it. */
			if (read(f->event_fd, &drain, sizeof(drain)) < 0 && errno != EAGAIN)
				log_errno(LOG_LEVEL_WARN, -errno, "falco feed: eventfd read");
			pthread_mutex_unlock(&f->lock);
			return false;
		}
		it = f->queue[f->head];
		memset(&f->queue[f->head], 0, sizeof(f->queue[f->head]));
		f->head = (f->head + 1) % f->cfg.queue_size;
		f->count--;
		f->bytes -= it.len;
		f->stats.queued = f->count;
		pthread_mutex_unlock(&f->lock);

		*received_ns = it.received_ns;
		*intake = it.intake;
		if (!it.text) {
			*ret = it.alert; /* parsed by the HTTP thread */
			return true;
		}
		e = falco_alert_parse(it.text, it.len, f->cfg.max_alert_bytes, ret, err, sizeof(err));
		free(it.text);
		if (e == FALCO_PARSE_OK) {
			pthread_mutex_lock(&f->lock);
			f->stats.parsed++;
			pthread_mutex_unlock(&f->lock);
			return true;
		}
		if (e != FALCO_PARSE_EMPTY)
			count_reject(f, e, "the socket", err);
	}
}

void falco_feed_get_stats(struct falco_feed *f, struct falco_feed_stats *ret)
{
	pthread_mutex_lock(&f->lock);
	*ret = f->stats;
	pthread_mutex_unlock(&f->lock);
}

struct falco_feed *falco_feed_stop(struct falco_feed *f)
{
	uint64_t one = 1;

	if (!f)
		return NULL;
	if (f->http)
		MHD_stop_daemon(f->http);
	if (f->reader_started) {
		if (write(f->stop_fd, &one, sizeof(one)) < 0)
			log_errno(LOG_LEVEL_WARN, -errno, "falco feed: waking the reader");
		pthread_join(f->reader, NULL);
	}
	for (size_t i = 0; i < FEED_MAX_CONNECTIONS; i++) {
		if (f->conns[i].fd >= 0)
			close(f->conns[i].fd);
		free(f->conns[i].line);
	}
	if (f->listen_fd >= 0) {
		close(f->listen_fd);
		unlink(f->socket_path);
	}
	for (size_t i = 0; f->queue && i < f->count; i++)
		item_clear(&f->queue[(f->head + i) % f->cfg.queue_size]);
	free(f->queue);
	if (f->epoll_fd >= 0)
		close(f->epoll_fd);
	if (f->stop_fd >= 0)
		close(f->stop_fd);
	if (f->event_fd >= 0)
		close(f->event_fd);
	pthread_mutex_destroy(&f->lock);
	free(f->socket_path);
	free(f->http_token);
	free(f->peer_uids);
	free(f);
	return NULL;
}
