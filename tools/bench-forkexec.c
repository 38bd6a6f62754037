// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Runs inside a benchmark container (static, libc): a tight fork+exec+wait
 * loop of an ordinary image binary, the exec path every pod takes all day.
 *   bench-forkexec COUNT PROGRAM [ARGS...]
 * runs PROGRAM COUNT times, one child at a time, and prints
 * "forkexec COUNT total_ns" (CLOCK_MONOTONIC). Any child that does not exit 0
 * (exec refused, killed, ...) ends the loop with status 1: the rate would
 * measure something else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
	unsigned long long start;
	char *end;
	long count;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-forkexec COUNT PROGRAM [ARGS...]\n");
		return 2;
	}
	errno = 0;
	count = strtol(argv[1], &end, 10);
	if (errno || *end || count <= 0) {
		fprintf(stderr, "bench-forkexec: bad COUNT %s\n", argv[1]);
		return 2;
	}
	start = now_ns();
	for (long i = 0; i < count; i++) {
		int status;
		pid_t pid = fork();

		if (pid < 0) {
			perror("bench-forkexec: fork");
			return 1;
		}
		if (pid == 0) {
			execv(argv[2], argv + 2);
			_exit(127);
		}
		if (waitpid(pid, &status, 0) != pid) {
			perror("bench-forkexec: waitpid");
			return 1;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "bench-forkexec: run %ld of %s: %s %d\n", i, argv[2],
				WIFSIGNALED(status) ? "signal" : "exit status",
				WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
			return 1;
		}
	}
	printf("forkexec %ld %llu\n", count, now_ns() - start);
	return 0;
}
