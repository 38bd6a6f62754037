// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Test client that runs inside containers (static, libc):
 *   netprobe tcp|udp ADDRESS PORT [PAYLOAD [linger]]
 * connects (TCP) or sends one datagram (UDP) to ADDRESS:PORT, sends PAYLOAD
 * if given, and reports: exit 0 on success, 13 when the kernel refused
 * with EPERM/EACCES, 1 on any other error (message on stderr). With
 * "linger" it stays alive 5 s after a failure, as a miner that retries would.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	const char *payload = argc > 4 ? argv[4] : NULL;
	socklen_t len;
	int udp, fd, port;

	if (argc < 4) {
		fprintf(stderr, "usage: netprobe tcp|udp ADDRESS PORT [PAYLOAD]\n");
		return 2;
	}
	udp = strcmp(argv[1], "udp") == 0;
	port = atoi(argv[3]);
	if (inet_pton(AF_INET, argv[2], &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((unsigned short)port);
		len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, argv[2], &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((unsigned short)port);
		len = sizeof(*sin6);
	} else {
		fprintf(stderr, "netprobe: bad address %s\n", argv[2]);
		return 2;
	}
	fd = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	if (udp) {
		const char *msg = payload ? payload : "ping";

		if (sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&ss, len) < 0)
			goto fail;
	} else {
		if (connect(fd, (struct sockaddr *)&ss, len) < 0)
			goto fail;
		if (payload && write(fd, payload, strlen(payload)) < 0)
			goto fail;
		/* Give the peer a moment to read before the close. */
		usleep(100000);
	}
	close(fd);
	printf("ok\n");
	return 0;
fail:
	if (argc > 5 && !strcmp(argv[5], "linger"))
		sleep(5);
	fprintf(stderr, "netprobe: %s %s:%d: %s\n", argv[1], argv[2], port, strerror(errno));
	close(fd);
	return errno == EPERM || errno == EACCES ? 13 : 1;
}
