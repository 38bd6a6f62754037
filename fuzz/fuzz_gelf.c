// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: audit records into GELF, and GELF validation. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gelf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gelf_fields f = { .host = "fuzz" };
	char err[256], *msg = NULL;

	gelf_validate((const char *)data, size, err, sizeof(err));
	if (gelf_message_from_audit((const char *)data, size, &f, &msg) == 0) {
		/* What we produce must always be valid GELF. */
		if (gelf_validate(msg, strlen(msg), err, sizeof(err)) != 0)
			abort();
		free(msg);
	}
	return 0;
}
