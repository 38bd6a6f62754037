// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: config YAML (agent, controller and shared sections). */
#include <stddef.h>
#include <stdint.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reflex_config *c = NULL;
	char err[512];

	if (config_parse("fuzz.yaml", (const char *)data, size, &c, err, sizeof(err)) == 0)
		config_free(c);
	return 0;
}
