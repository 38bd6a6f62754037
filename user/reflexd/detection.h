/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Kernel events, one path for every hook: attribute (cgroup -> container ->
 * pod and owner), join an open Falco incident or decide (policy, then the
 * plan), act (kill.h), record (incident.h). The kernel may have acted at the
 * event already: then that is confirmed and recorded, never done twice.
 */
#ifndef REFLEX_DETECTION_H
#define REFLEX_DETECTION_H

#include <stddef.h>

struct agent;

/* kernel_event_fn (CTX: the agent): one ring buffer record. Always 0: a bad record is logged and skipped. */
int detection_on_kernel_record(void *ctx, const void *record, size_t size);
/*
 * The kernel's counters onto /metrics, and one record for every kernel
 * action whose event the full ring buffer lost: no kernel action goes
 * unrecorded.
 */
void detection_refresh_counters(struct agent *a);

#endif
