// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Connect benchmarks, run inside a container (static, libc):
 *   bench-connect loop ADDR PORT N   N x (socket, connect, close) to a listener
 *                                    that this program starts itself on ADDR:PORT;
 *                                    prints "loop N total_ns"
 *   bench-connect deny ADDR PORT N   N connects expected to fail with EPERM;
 *                                    prints one "deny ns errno" line per call
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	long n;
	int lfd = -1;

	if (argc != 5) {
		fprintf(stderr, "usage: bench-connect loop|deny ADDR PORT N\n");
		return 2;
	}
	if (inet_pton(AF_INET, argv[2], &sin.sin_addr) != 1) {
		fprintf(stderr, "bench-connect: bad IPv4 address %s\n", argv[2]);
		return 2;
	}
	sin.sin_port = htons((unsigned short)atoi(argv[3]));
	n = strtol(argv[4], NULL, 10);
	if (!strcmp(argv[1], "loop")) {
		int one = 1;
		unsigned long long start;

		lfd = socket(AF_INET, SOCK_STREAM, 0);
		setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 4096)) {
			perror("listen");
			return 1;
		}
		start = now_ns();
		for (long i = 0; i < n; i++) {
			int fd = socket(AF_INET, SOCK_STREAM, 0), c;

			if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin))) {
				perror("connect");
				return 1;
			}
			c = accept(lfd, NULL, NULL);
			if (c >= 0)
				close(c);
			close(fd);
		}
		printf("loop %ld %llu\n", n, now_ns() - start);
		close(lfd);
		return 0;
	}
	for (long i = 0; i < n; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), rc, err;
		unsigned long long t0;

		if (fd < 0) {
			perror("socket");
			return 1;
		}
		t0 = now_ns();
		rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
		err = rc ? errno : 0;
		printf("deny %llu %d\n", now_ns() - t0, err);
		close(fd);
	}
	return 0;
}
