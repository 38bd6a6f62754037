// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: Falco's mining-pool lists and pool CIDRs from config. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pools.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pool_lists lists;
	struct pool_addr addr;
	char err[256], *text = malloc(size + 1);

	if (!text)
		return 0;
	memset(&lists, 0, sizeof(lists));
	if (pool_lists_parse("fuzz.txt", (const char *)data, size, &lists, err, sizeof(err)) == 0)
		pool_lists_clear(&lists);
	memcpy(text, data, size);
	text[size] = '\0';
	pool_cidr_parse(text, 1, &addr);
	free(text);
	return 0;
}
