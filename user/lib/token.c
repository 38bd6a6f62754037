// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Shared secrets in files; see token.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "token.h"

int token_read(const char *path, char **ret)
{
	char *buf = malloc(TOKEN_MAX + 1);
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto fail;
	}
	while (len <= TOKEN_MAX && (n = read(fd, buf + len, TOKEN_MAX + 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	if (r == 0 && len > TOKEN_MAX)
		r = -EFBIG;
	if (r < 0)
		goto fail;
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ' || buf[len - 1] == '\t'))
		len--;
	buf[len] = '\0';
	/* Goes into a header line: printable ASCII only. */
	for (size_t i = 0; i < len; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e)
			r = -EINVAL;
	if (len == 0)
		r = -ENODATA;
	if (r < 0)
		goto fail;
	*ret = buf;
	return 0;
fail:
	explicit_bzero(buf, TOKEN_MAX + 1);
	free(buf);
	return r;
}

bool token_equal(const char *expected, const char *given)
{
	size_t le = strlen(expected), lg = given ? strlen(given) : 0;
	unsigned char diff = (unsigned char)(le != lg);

	/* Runs over the expected secret's length whatever was given. */
	for (size_t i = 0; i < le; i++)
		diff |= (unsigned char)(expected[i] ^ (i < lg ? given[i] : 0));
	return diff == 0;
}

int token_header(struct curl_slist **headers, const char *prefix, const char *path)
{
	char *token = NULL, *line = NULL;
	struct curl_slist *h;
	int r = token_read(path, &token);

	if (r < 0)
		return r;
	if (asprintf(&line, "%s%s", prefix, token) < 0)
		line = NULL;
	h = line ? curl_slist_append(*headers, line) : NULL;
	if (line) {
		explicit_bzero(line, strlen(line));
		free(line);
	}
	explicit_bzero(token, strlen(token));
	free(token);
	if (!h)
		return -ENOMEM;
	*headers = h;
	return 0;
}
