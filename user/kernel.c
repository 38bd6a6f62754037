// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "exec.skel.h"
#include "kernel.h"
#include "log.h"

struct kernel {
	struct exec_bpf *skel;
	struct ring_buffer *rb;
	struct bpf_link *link;
	const char *hook;
	char fallback_reason[160];
	int ncpus;
	kernel_event_fn fn;
	void *fn_ctx;
};

struct exec_variant {
	const char *hook;
	bool btf; /* true: exec_btf, false: exec_raw */
};

static const struct exec_variant exec_variants[] = {
	{ "tp_btf/sched_process_exec", true },
	{ "raw_tp/sched_process_exec", false },
};

/* Open, configure and load one variant; the other program is not loaded. */
static int exec_variant_load(const struct kernel_opts *opts, const struct exec_variant *v,
			     struct exec_bpf **ret)
{
	struct exec_bpf *skel;
	int err;

	skel = exec_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->agent_tgid = opts->agent_tgid;
	skel->rodata->host_mnt_ns_inum = opts->host_mnt_ns_inum;
	bpf_program__set_autoload(skel->progs.exec_btf, v->btf);
	bpf_program__set_autoload(skel->progs.exec_raw, !v->btf);
	err = exec_bpf__load(skel);
	if (err) {
		exec_bpf__destroy(skel);
		return err;
	}
	*ret = skel;
	return 0;
}

static int ringbuf_cb(void *ctx, void *data, size_t size)
{
	struct kernel *k = ctx;

	return k->fn(k->fn_ctx, data, size);
}

int kernel_open(const struct kernel_opts *opts, kernel_event_fn fn, void *ctx, struct kernel **ret)
{
	struct kernel *k;
	int err = -ENOENT;

	k = calloc(1, sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->fn = fn;
	k->fn_ctx = ctx;
	k->ncpus = libbpf_num_possible_cpus();
	if (k->ncpus <= 0) {
		err = k->ncpus ? k->ncpus : -EINVAL;
		goto fail;
	}

	for (size_t i = 0; i < sizeof(exec_variants) / sizeof(exec_variants[0]); i++) {
		const struct exec_variant *v = &exec_variants[i];
		struct bpf_program *prog;

		if (v->btf && opts->force_raw_tp) {
			snprintf(k->fallback_reason, sizeof(k->fallback_reason),
				 "%s skipped (forced raw_tp)", v->hook);
			continue;
		}
		err = exec_variant_load(opts, v, &k->skel);
		if (err) {
			log_errno(LOG_LEVEL_WARN, err, "kernel: %s did not load", v->hook);
			snprintf(k->fallback_reason, sizeof(k->fallback_reason),
				 "%s did not load: %s", v->hook, strerror(-err));
			continue;
		}
		prog = v->btf ? k->skel->progs.exec_btf : k->skel->progs.exec_raw;
		k->link = bpf_program__attach(prog);
		if (!k->link) {
			err = -errno;
			log_errno(LOG_LEVEL_WARN, err, "kernel: %s did not attach", v->hook);
			snprintf(k->fallback_reason, sizeof(k->fallback_reason),
				 "%s did not attach: %s", v->hook, strerror(-err));
			exec_bpf__destroy(k->skel);
			k->skel = NULL;
			continue;
		}
		k->hook = v->hook;
		break;
	}
	if (!k->hook) {
		log_error("kernel: no exec hook could be loaded; see the warnings above");
		goto fail;
	}

	k->rb = ring_buffer__new(bpf_map__fd(k->skel->maps.events), ringbuf_cb, k, NULL);
	if (!k->rb) {
		err = log_errno(LOG_LEVEL_ERROR, -errno, "kernel: ring buffer");
		goto fail;
	}
	*ret = k;
	return 0;
fail:
	kernel_close(k);
	return err;
}

struct kernel *kernel_close(struct kernel *k)
{
	if (!k)
		return NULL;
	ring_buffer__free(k->rb);
	bpf_link__destroy(k->link);
	exec_bpf__destroy(k->skel);
	free(k);
	return NULL;
}

const char *kernel_exec_hook(const struct kernel *k)
{
	return k->hook;
}

const char *kernel_exec_fallback_reason(const struct kernel *k)
{
	return k->fallback_reason[0] ? k->fallback_reason : NULL;
}

int kernel_events_fd(const struct kernel *k)
{
	return ring_buffer__epoll_fd(k->rb);
}

int kernel_consume(struct kernel *k)
{
	return ring_buffer__consume(k->rb);
}

int kernel_set_cgroup_verdict(struct kernel *k, uint64_t cgroup_id, uint32_t flags)
{
	struct reflex_cgroup_verdict v = { .flags = flags };
	int fd = bpf_map__fd(k->skel->maps.cgroup_verdicts);

	if (flags == 0) {
		if (bpf_map_delete_elem(fd, &cgroup_id) && errno != ENOENT)
			return -errno;
		return 0;
	}
	if (bpf_map_update_elem(fd, &cgroup_id, &v, BPF_ANY))
		return -errno;
	return 0;
}

int kernel_clear_cgroup_verdicts(struct kernel *k)
{
	int fd = bpf_map__fd(k->skel->maps.cgroup_verdicts);
	uint64_t key, next;
	void *prev = NULL;

	/* Collect-then-delete would need memory; deleting the successor is safe. */
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
		prev = NULL;
	}
	return 0;
}

int kernel_read_counters(struct kernel *k, uint64_t out[REFLEX_KCNT_MAX])
{
	int fd = bpf_map__fd(k->skel->maps.counters);
	uint64_t *percpu;
	int err = 0;

	percpu = calloc((size_t)k->ncpus, sizeof(*percpu));
	if (!percpu)
		return -ENOMEM;
	for (uint32_t i = 0; i < REFLEX_KCNT_MAX; i++) {
		out[i] = 0;
		if (bpf_map_lookup_elem(fd, &i, percpu)) {
			err = -errno;
			break;
		}
		for (int c = 0; c < k->ncpus; c++)
			out[i] += percpu[c];
	}
	free(percpu);
	return err;
}
