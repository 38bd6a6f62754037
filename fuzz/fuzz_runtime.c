// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * libFuzzer: what the runtime and the kernel hand the agent: an OCI
 * config.json (pod annotations), a cgroup path (container id, pod uid) and
 * a mountinfo text. One input feeds all three.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "container.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pod_meta meta;
	struct container_ref ref;
	char path[4096];
	char *text = malloc(size + 1);

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	pod_meta_from_oci_config(text, size, &meta);
	container_ref_from_cgroup_path(text, &ref);
	cgroup2_mount_from_mountinfo(text, path, sizeof(path));
	container_id_valid(text);
	free(text);
	return 0;
}
