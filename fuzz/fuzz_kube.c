// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* libFuzzer: Kubernetes Pod objects and watch stream lines. */
#include <stddef.h>
#include <stdint.h>

#include "pod_watch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct kube_pod pod;
	static struct kube_watch_event ev;

	kube_pod_from_json((const char *)data, size, &pod);
	kube_watch_event_parse((const char *)data, size, &ev);
	return 0;
}
