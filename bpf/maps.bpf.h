/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Maps every reflex program shares. Each object defines them identically;
 * the loader makes the later objects reuse the first one's fds, so there is
 * one ring buffer, one counter array and one verdict map.
 */
#ifndef REFLEX_MAPS_BPF_H
#define REFLEX_MAPS_BPF_H

#include "reflex/events.h"

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 22);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REFLEX_KCNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* cgroup id -> what the kernel may do at once; filled by reflexd from policy. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct reflex_cgroup_verdict);
} cgroup_verdicts SEC(".maps");

static __always_inline void counter_inc(__u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(&counters, &idx);

	if (v)
		*v += 1;
}

#endif
