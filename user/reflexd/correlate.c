// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>
#include <time.h>

#include "correlate.h"
#include "falco_alert.h"

bool correlate_match(const struct corr_event *falco, const struct corr_event *kernel, uint64_t window_ns)
{
	uint64_t dt;

	if (!falco->container_id || !kernel->container_id || !falco->exe_path || !kernel->exe_path ||
	    !*falco->exe_path || !falco_container_id_matches(falco->container_id, kernel->container_id))
		return false;
	if (strcmp(falco->exe_path, kernel->exe_path))
		return false;
	if (falco->pid > 0 && kernel->pid > 0 && falco->pid != kernel->pid)
		return false;
	dt = falco->time_ns > kernel->time_ns ? falco->time_ns - kernel->time_ns : kernel->time_ns - falco->time_ns;
	return dt <= window_ns;
}

uint64_t correlate_realtime_of_monotonic(uint64_t monotonic_ns)
{
	struct timespec mono, real;
	uint64_t mono_now, real_now;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	mono_now = (uint64_t)mono.tv_sec * 1000000000ULL + (uint64_t)mono.tv_nsec;
	real_now = (uint64_t)real.tv_sec * 1000000000ULL + (uint64_t)real.tv_nsec;
	return real_now - (mono_now > monotonic_ns ? mono_now - monotonic_ns : 0);
}
