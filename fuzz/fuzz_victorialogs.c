// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: VictoriaLogs /select/logsql/query answers (JSON lines), then grouping. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "triage.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct triage_events ev;
	struct triage_groups g;
	char err[256];

	memset(&ev, 0, sizeof(ev));
	if (triage_parse_victorialogs((const char *)data, size, &ev, err, sizeof(err)) == 0) {
		triage_events_sort(&ev);
		memset(&g, 0, sizeof(g));
		if (triage_group(&ev, true, &g) == 0)
			triage_groups_clear(&g);
	}
	triage_events_clear(&ev);
	return 0;
}
