// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: Falco alert lines and falcosidekick / controller /alert bodies. */
#include <stddef.h>
#include <stdint.h>

#include "falco_alert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct falco_alert a;
	char err[256];

	if (falco_alert_parse((const char *)data, size, 64 * 1024, &a, err, sizeof(err)) == FALCO_PARSE_OK)
		falco_alert_clear(&a);
	return 0;
}
