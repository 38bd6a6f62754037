/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * One alert or report, from the node's word to the audit record: parse ->
 * permit -> owner walk -> decide -> act -> audit (decide.c decides,
 * actions.c acts).
 */
#ifndef REFLEX_CONTROLLER_PIPELINE_H
#define REFLEX_CONTROLLER_PIPELINE_H

#include <stdint.h>

#include "controller_internal.h"
#include "falco_alert.h"

/* The answer to one POST /alert. */
struct verdict {
	int http_status;
	enum alert_result result;
	char message[512];
};

/* AL, parsed, received at START_NS (CLOCK_MONOTONIC); V is the answer. Called from many threads at once. */
void pipeline_handle_alert(struct controller *c, const struct falco_alert *al, uint64_t start_ns, struct verdict *v);

#endif
