/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * When a Falco alert and a kernel detection are the same incident: same
 * container (Falco's 12-hex container.id is a prefix of the 64-hex id), same
 * executable, the same pid when Falco gives one, within a window either way.
 */
#ifndef REFLEX_CORRELATE_H
#define REFLEX_CORRELATE_H

#include <stdbool.h>
#include <stdint.h>

struct corr_event {
	const char *container_id; /* 64 hex (kernel) or a prefix of >= 12 (Falco); NULL/"": none */
	const char *exe_path;     /* NULL/"": unknown, never matches */
	int64_t pid;              /* 0: unknown (matches any) */
	uint64_t time_ns;         /* CLOCK_REALTIME ns of the event */
};

bool correlate_match(const struct corr_event *falco, const struct corr_event *kernel, uint64_t window_ns);

/* CLOCK_REALTIME ns of a CLOCK_MONOTONIC (bpf_ktime_get_ns) time, as of now. */
uint64_t correlate_realtime_of_monotonic(uint64_t monotonic_ns);

#endif
