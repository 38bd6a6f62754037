// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Runs inside a benchmark container: fork+exec PROGRAM COUNT times, waits
 * for each child and prints "pid reaped_monotonic_ns status" per run, so
 * the bench can pair each reap with the kernel event's bpf_ktime_get_ns()
 * (same clock: CLOCK_MONOTONIC). Each child gets MARKER_PREFIX<i> as argv[1]
 * (no marker when MARKER_PREFIX is "-"), then the remaining ARGS.
 *
 * --handshake first: after each fork it waits until the child runs PROGRAM
 * (/proc/<pid>/exe), prints "ready PID" and only then waits for it: the
 * Falco bench writes its alert when it reads that line.
 */
#include <limits.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	char marker[4096];
	int handshake = argc > 1 && !strcmp(argv[1], "--handshake");
	long count;

	if (handshake) {
		argv++;
		argc--;
	}
	if (argc < 4) {
		fprintf(stderr, "usage: bench-spawner [--handshake] COUNT PROGRAM MARKER_PREFIX|- [ARGS...]\n");
		return 2;
	}
	count = strtol(argv[1], NULL, 10);
	for (long i = 0; i < count; i++) {
		struct timespec ts;
		int status;
		pid_t pid;

		snprintf(marker, sizeof(marker), "%s%ld", argv[3], i);
		pid = fork();
		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0) {
			char *args[64];
			int n = 0;

			args[n++] = argv[2];
			if (strcmp(argv[3], "-") != 0)
				args[n++] = marker;
			for (int a = 4; a < argc && n < 63; a++)
				args[n++] = argv[a];
			args[n] = NULL;
			execv(argv[2], args);
			_exit(127);
		}
		if (handshake) {
			char link[64], exe[PATH_MAX];
			ssize_t n = 0;

			/* Until exec: before it the child still runs this program. */
			snprintf(link, sizeof(link), "/proc/%d/exe", (int)pid);
			for (int tries = 0; tries < 100000; tries++) {
				n = readlink(link, exe, sizeof(exe) - 1);
				if (n > 0) {
					exe[n] = '\0';
					if (!strcmp(exe, argv[2]))
						break;
				}
				usleep(50);
			}
			printf("ready %d\n", (int)pid);
			fflush(stdout);
		}
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		clock_gettime(CLOCK_MONOTONIC, &ts);
		printf("%d %llu %d\n", (int)pid,
		       (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec,
		       WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status));
		fflush(stdout);
	}
	return 0;
}
