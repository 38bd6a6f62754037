// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include "httpd.h"
#include "util.h"

#define HTTPD_CONNECTION_LIMIT 64u
#define HTTPD_TIMEOUT_S 10u
/* /healthz fails when the event loop (a tick every 100 ms) has not turned for this long. */
#define HTTPD_LOOP_STALL_MS 5000u

struct httpd {
	struct MHD_Daemon *daemon;
	struct metrics *metrics;
	unsigned short port;
};

/*
 * "1.2.3.4:PORT" or "[v6]:PORT", numeric only: the agent binds exactly the
 * address it is given, never a name that could resolve elsewhere.
 */
static int parse_address(const char *address, struct sockaddr_storage *ss, socklen_t *ret_len)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM,
	};
	struct addrinfo *res = NULL;
	const char *host, *port, *end;
	char host_buf[INET6_ADDRSTRLEN + 64];
	size_t host_len;
	int rc;

	if (!address)
		return -EINVAL;
	if (address[0] == '[') {
		host = address + 1;
		end = strchr(host, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		port = end + 2;
		hints.ai_family = AF_INET6;
	} else {
		end = strrchr(address, ':');
		/* An unbracketed v6 address has more than one colon. */
		if (!end || memchr(address, ':', (size_t)(end - address)))
			return -EINVAL;
		host = address;
		port = end + 1;
		hints.ai_family = AF_INET;
	}
	host_len = (size_t)(end - host);
	if (host_len == 0 || host_len >= sizeof(host_buf))
		return -EINVAL;
	/* Digits only: getaddrinfo would take " 80" or "+80". */
	if (!*port || strlen(port) > 5 || strspn(port, "0123456789") != strlen(port) || atoi(port) > 65535)
		return -EINVAL;
	memcpy(host_buf, host, host_len);
	host_buf[host_len] = '\0';
	rc = getaddrinfo(host_buf, port, &hints, &res);
	if (rc)
		return util_gai_errno(rc, -EINVAL);
	if (res->ai_addrlen > sizeof(*ss)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*ret_len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/* The listen socket is ours, so a bind failure reports its real errno. */
static int listen_on(const struct sockaddr_storage *ss, socklen_t len, unsigned short *ret_port)
{
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof(bound);
	int fd, one = 1, err;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A restart must not wait for TIME_WAIT; "[::]:P" means v6 only, as written. */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    (ss->ss_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one))) ||
	    bind(fd, (const struct sockaddr *)ss, len) || listen(fd, (int)HTTPD_CONNECTION_LIMIT) ||
	    getsockname(fd, (struct sockaddr *)&bound, &bound_len)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (bound.ss_family == AF_INET6)
		*ret_port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
	else
		*ret_port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	return fd;
}

int httpd_listen(const char *address, unsigned short *ret_port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int err = parse_address(address, &ss, &len);

	return err ? err : listen_on(&ss, len, ret_port);
}

/* BODY is a static string, or malloc'd when OWNED (MHD frees it). */
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status, const char *type,
			     const char *body, bool owned)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (owned)
			free((void *)body);
		return MHD_NO;
	}
	if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type) != MHD_YES ||
	    (status == MHD_HTTP_METHOD_NOT_ALLOWED &&
	     MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD") != MHD_YES)) {
		MHD_destroy_response(resp);
		return MHD_NO;
	}
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static const char text_plain[] = "text/plain; charset=utf-8";

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			      const char *version, const char *upload_data, size_t *upload_data_size,
			      void **con_cls)
{
	static int request_seen;
	const struct httpd *h = cls;
	char *body;

	(void)version;
	(void)upload_data;
	/* Refused at once: MHD then closes the connection rather than read a body. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, text_plain, "method not allowed\n", false);
	/*
	 * The first call only sees the headers; answering then would make MHD
	 * close the connection. Answer once the (ignored) body is consumed, so
	 * scrapers can keep the connection alive.
	 */
	if (!*con_cls) {
		*con_cls = &request_seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz")) {
		struct timespec ts;
		uint64_t stalled_ms;
		char *why;

		/* The process answering is not enough: the loop that kills must be turning. */
		clock_gettime(CLOCK_MONOTONIC, &ts);
		stalled_ms = metrics_loop_stalled_ms(h->metrics, (uint64_t)ts.tv_sec * 1000000000ULL +
									     (uint64_t)ts.tv_nsec);
		if (stalled_ms > HTTPD_LOOP_STALL_MS) {
			if (asprintf(&why, "event loop stalled for %llu ms\n", (unsigned long long)stalled_ms) < 0)
				return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_plain, "event loop stalled\n",
					     false);
			return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_plain, why, true);
		}
		return reply(conn, MHD_HTTP_OK, text_plain, "ok\n", false);
	}
	if (!strcmp(url, "/readyz")) {
		if (metrics_ready(h->metrics))
			return reply(conn, MHD_HTTP_OK, text_plain, "ready\n", false);
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_plain, "not ready: hooks not attached\n",
			     false);
	}
	if (!strcmp(url, "/metrics")) {
		body = metrics_render_prometheus(h->metrics);
		if (!body)
			return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text_plain, "out of memory\n", false);
		return reply(conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, true);
	}
	if (!strcmp(url, "/status")) {
		body = metrics_render_status_json(h->metrics);
		if (!body)
			return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, text_plain, "out of memory\n", false);
		return reply(conn, MHD_HTTP_OK, "application/json", body, true);
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, text_plain, "not found\n", false);
}

int httpd_start(const char *address, struct metrics *m, struct httpd **ret)
{
	struct sockaddr_storage ss;
	struct httpd *h;
	socklen_t len;
	int fd, mhd_fd, err;

	if (!m || !address)
		return -EINVAL;
	err = parse_address(address, &ss, &len);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->metrics = m;
	fd = listen_on(&ss, len, &h->port);
	if (fd < 0) {
		err = fd;
		goto fail;
	}
	/*
	 * MHD closes the listen socket on some of its failure paths and not on
	 * others; it gets a duplicate, so ours is closed exactly once whatever
	 * it does (at worst the duplicate leaks when start-up fails).
	 */
	mhd_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (mhd_fd < 0) {
		err = -errno;
		close(fd);
		goto fail;
	}
	/* poll, not select: the agent may hold more than FD_SETSIZE descriptors. */
	h->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				     h->port, NULL, NULL, handle, h, MHD_OPTION_LISTEN_SOCKET, mhd_fd,
				     MHD_OPTION_CONNECTION_LIMIT, HTTPD_CONNECTION_LIMIT,
				     MHD_OPTION_CONNECTION_TIMEOUT, HTTPD_TIMEOUT_S, MHD_OPTION_END);
	close(fd);
	if (!h->daemon) {
		/* MHD says nothing about why; the socket is bound, so it is resources. */
		err = -ENOMEM;
		goto fail;
	}
	*ret = h;
	return 0;
fail:
	free(h);
	return err;
}

unsigned short httpd_port(const struct httpd *h)
{
	return h ? h->port : 0;
}

struct httpd *httpd_stop(struct httpd *h)
{
	if (!h)
		return NULL;
	MHD_stop_daemon(h->daemon);
	free(h);
	return NULL;
}
