// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <string.h>

#include "correlate.h"
#include "falco_alert.h"
#include "util.h"

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
	uint64_t mono_now = util_monotonic_ns(), real_now = (uint64_t)util_realtime_ns();

	return real_now - (mono_now > monotonic_ns ? mono_now - monotonic_ns : 0);
}
