// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The Falco side of the Falco benchmarks, writing to the agent's socket the
 * way Falco's program_output does (one connection kept open, one JSON line
 * per alert).
 *
 *   bench-falco kill SOCKET CONTAINER_ID12 EXE RULE < spawner-output
 *     reads bench-spawner --handshake lines from stdin; on "ready PID" writes
 *     an alert naming the container and EXE (no proc.pid, as stock rules) and
 *     prints "written_ns reaped_ns status" once the spawner reports the reap
 *     (CLOCK_MONOTONIC on both sides: written -> reaped).
 *   bench-falco flood SOCKET COUNT RULE
 *     writes COUNT alerts as fast as the socket takes them and prints
 *     "count elapsed_ns max_write_ns writes_over_1ms".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static unsigned long long clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static int connect_socket(const char *path)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path)) {
		perror("socket");
		exit(1);
	}
	memcpy(sun.sun_path, path, strlen(path));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		perror(path);
		exit(1);
	}
	return fd;
}

static int alert(char *buf, size_t size, const char *rule, const char *cid, const char *exe)
{
	unsigned long long t = clock_ns(CLOCK_REALTIME);
	time_t secs = (time_t)(t / 1000000000ULL);
	struct tm tm;
	char stamp[32];

	gmtime_r(&secs, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	return snprintf(buf, size,
			"{\"hostname\":\"bench\",\"output\":\"%s.%09llu: Critical %s (proc_exepath=%s container_id=%s)\","
			"\"output_fields\":{\"container.id\":\"%s\",\"container.image.repository\":\"busybox\","
			"\"evt.time\":%llu,\"evt.type\":\"execve\",\"k8s.ns.name\":null,\"k8s.pod.name\":null,"
			"\"proc.cmdline\":\"x\",\"proc.exepath\":\"%s\",\"user.uid\":0},\"priority\":\"Critical\","
			"\"rule\":\"%s\",\"source\":\"syscall\",\"tags\":[\"container\"],\"time\":\"%s.%09lluZ\"}\n",
			stamp, t % 1000000000ULL, rule, exe, cid, cid, t, exe, rule, stamp, t % 1000000000ULL);
}

static void write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			perror("write");
			exit(1);
		}
		p += n;
		len -= (size_t)n;
	}
}

int main(int argc, char **argv)
{
	char line[2048], buf[4096];

	if (argc == 6 && !strcmp(argv[1], "kill")) {
		int fd = connect_socket(argv[2]);
		unsigned long long written = 0;

		while (fgets(line, sizeof(line), stdin)) {
			int pid, status;
			unsigned long long reaped;

			if (!strncmp(line, "ready ", 6)) {
				int n = alert(buf, sizeof(buf), argv[5], argv[3], argv[4]);

				written = clock_ns(CLOCK_MONOTONIC);
				write_all(fd, buf, (size_t)n);
			} else if (sscanf(line, "%d %llu %d", &pid, &reaped, &status) == 3) {
				printf("%llu %llu %d\n", written, reaped, status);
				fflush(stdout);
			}
		}
		close(fd);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "flood")) {
		int fd = connect_socket(argv[2]);
		long count = strtol(argv[3], NULL, 10);
		unsigned long long start, max = 0, over = 0;
		int n = alert(buf, sizeof(buf), argv[4], "host", "/bin/sh");

		start = clock_ns(CLOCK_MONOTONIC);
		for (long i = 0; i < count; i++) {
			unsigned long long t0 = clock_ns(CLOCK_MONOTONIC), dt;

			write_all(fd, buf, (size_t)n);
			dt = clock_ns(CLOCK_MONOTONIC) - t0;
			max = dt > max ? dt : max;
			over += dt > 1000000ULL;
		}
		printf("%ld %llu %llu %llu\n", count, clock_ns(CLOCK_MONOTONIC) - start, max, over);
		close(fd);
		return 0;
	}
	fprintf(stderr, "usage: bench-falco kill SOCKET CONTAINER_ID12 EXE RULE < spawner-output\n"
			"       bench-falco flood SOCKET COUNT RULE\n");
	return 2;
}
