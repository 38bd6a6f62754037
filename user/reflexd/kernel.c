// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <fcntl.h>
#include <sys/mount.h>

#include "connect.skel.h"
#include "exec.skel.h"
#include "lsm.skel.h"
#include "kernel.h"
#include "log.h"
#include "util.h"

struct kernel {
	struct exec_bpf *skel;
	struct connect_bpf *connect;
	struct bpf_link *connect_links[KERNEL_CONNECT_PROG_MAX];
	char connect_reason[KERNEL_CONNECT_PROG_MAX][128];
	struct ring_buffer *rb;
	struct bpf_link *link;
	struct lsm_bpf *lsm;
	struct bpf_link *lsm_link;
	char lsm_reason[160];
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

static const char *const connect_hooks[KERNEL_CONNECT_PROG_MAX] = {
	[KERNEL_CONNECT4] = "cgroup/connect4",
	[KERNEL_CONNECT6] = "cgroup/connect6",
	[KERNEL_SENDMSG4] = "cgroup/sendmsg4",
	[KERNEL_SENDMSG6] = "cgroup/sendmsg6",
	[KERNEL_STRATUM_EGRESS] = "cgroup_skb/egress (stratum handshake)",
};

const char *kernel_connect_hook(enum kernel_connect_prog p)
{
	return p < KERNEL_CONNECT_PROG_MAX ? connect_hooks[p] : NULL;
}

static struct bpf_program *connect_prog(struct connect_bpf *skel, enum kernel_connect_prog p)
{
	switch (p) {
	case KERNEL_CONNECT4:
		return skel->progs.connect4;
	case KERNEL_CONNECT6:
		return skel->progs.connect6;
	case KERNEL_SENDMSG4:
		return skel->progs.sendmsg4;
	case KERNEL_SENDMSG6:
		return skel->progs.sendmsg6;
	case KERNEL_STRATUM_EGRESS:
	default:
		return skel->progs.stratum_egress;
	}
}

/* A later object's copies of maps.bpf.h's maps become the exec object's: one of each. */
static int reuse_shared_maps(const struct kernel *k, struct bpf_map *events, struct bpf_map *counters,
			     struct bpf_map *verdicts)
{
	int err = bpf_map__reuse_fd(events, bpf_map__fd(k->skel->maps.events));

	if (!err)
		err = bpf_map__reuse_fd(counters, bpf_map__fd(k->skel->maps.counters));
	if (!err)
		err = bpf_map__reuse_fd(verdicts, bpf_map__fd(k->skel->maps.cgroup_verdicts));
	return err;
}

/* Opens the connect object sharing the exec object's maps, with a set of programs. */
static int connect_load(struct kernel *k, unsigned int prog_mask, struct connect_bpf **ret)
{
	struct connect_bpf *skel;
	int err;

	skel = connect_bpf__open();
	if (!skel)
		return -errno;
	skel->rodata->have_current_task =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_task, NULL) == 1;
	skel->rodata->have_send_signal =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_send_signal, NULL) == 1;
	skel->rodata->have_current_comm =
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_get_current_comm, NULL) == 1;
	/* Watch sockets only if the egress program that consumes the watch loads too. */
	skel->rodata->watch_stratum =
		(prog_mask & (1u << KERNEL_STRATUM_EGRESS)) &&
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR, BPF_FUNC_sk_storage_get, NULL) == 1;
	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
		bpf_program__set_autoload(connect_prog(skel, p), prog_mask & (1u << p));
	err = reuse_shared_maps(k, skel->maps.events, skel->maps.counters, skel->maps.cgroup_verdicts);
	if (!err)
		err = connect_bpf__load(skel);
	if (err) {
		connect_bpf__destroy(skel);
		return err;
	}
	*ret = skel;
	return 0;
}

/*
 * Probe each connect program on its own, load the ones that work together,
 * attach them to the cgroup v2 root. A missing one degrades, never fails.
 */
static void connect_open(struct kernel *k, const char *cgroup_root, bool no_stratum_watch)
{
	unsigned int mask = 0;
	int cgroup_fd, err;

	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++) {
		struct connect_bpf *probe = NULL;

		if (p == KERNEL_STRATUM_EGRESS && no_stratum_watch) {
			snprintf(k->connect_reason[p], sizeof(k->connect_reason[p]),
				 "off: agent.watch_stratum_handshake is false");
			continue;
		}
		err = connect_load(k, 1u << p, &probe);
		if (err) {
			snprintf(k->connect_reason[p], sizeof(k->connect_reason[p]), "did not load: %s",
				 strerror(-err));
			log_errno(LOG_LEVEL_WARN, err, "kernel: %s did not load", connect_hooks[p]);
			continue;
		}
		connect_bpf__destroy(probe);
		mask |= 1u << p;
	}
	if (!mask)
		return;
	err = connect_load(k, mask, &k->connect);
	if (err) {
		log_errno(LOG_LEVEL_WARN, err, "kernel: connect programs did not load together");
		for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
			snprintf(k->connect_reason[p], sizeof(k->connect_reason[p]), "did not load: %s",
				 strerror(-err));
		return;
	}
	cgroup_fd = open(cgroup_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cgroup_fd < 0) {
		err = log_errno(LOG_LEVEL_WARN, -errno, "kernel: open %s", cgroup_root);
		for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++)
			snprintf(k->connect_reason[p], sizeof(k->connect_reason[p]), "cgroup root: %s",
				 strerror(-err));
		return;
	}
	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++) {
		if (!(mask & (1u << p)))
			continue;
		k->connect_links[p] = bpf_program__attach_cgroup(connect_prog(k->connect, p), cgroup_fd);
		if (!k->connect_links[p]) {
			err = -errno;
			snprintf(k->connect_reason[p], sizeof(k->connect_reason[p]), "did not attach: %s",
				 strerror(-err));
			log_errno(LOG_LEVEL_WARN, err, "kernel: %s did not attach to %s", connect_hooks[p],
				  cgroup_root);
		}
	}
	close(cgroup_fd);
}

bool kernel_connect_active(const struct kernel *k, enum kernel_connect_prog p)
{
	return p < KERNEL_CONNECT_PROG_MAX && k->connect_links[p];
}

const char *kernel_connect_reason(const struct kernel *k, enum kernel_connect_prog p)
{
	if (p >= KERNEL_CONNECT_PROG_MAX)
		return NULL;
	if (k->connect_links[p])
		return p != KERNEL_STRATUM_EGRESS && !k->connect->rodata->have_send_signal
			       ? "attached; no bpf_send_signal in cgroup programs here: refused in the kernel, killed by pidfd"
		       : k->connect->rodata->have_current_task ? "attached to the cgroup v2 root"
							       : "attached (no task start time here)";
	return k->connect_reason[p][0] ? k->connect_reason[p] : "not loaded";
}

static int map_update(struct bpf_map *map, const void *key, const void *value)
{
	return bpf_map__update_elem(map, key, bpf_map__key_size(map), value, bpf_map__value_size(map),
				    BPF_ANY) ? -errno : 0;
}

static int map_delete(struct bpf_map *map, const void *key)
{
	if (bpf_map__delete_elem(map, key, bpf_map__key_size(map), 0) && errno != ENOENT)
		return -errno;
	return 0;
}

int kernel_pool_v4_update(struct kernel *k, const struct reflex_pool_v4_key *key, uint32_t lists)
{
	return k->connect ? map_update(k->connect->maps.pool_v4, key, &lists) : -ENOTSUP;
}

int kernel_pool_v6_update(struct kernel *k, const struct reflex_pool_v6_key *key, uint32_t lists)
{
	return k->connect ? map_update(k->connect->maps.pool_v6, key, &lists) : -ENOTSUP;
}

int kernel_pool_v4_delete(struct kernel *k, const struct reflex_pool_v4_key *key)
{
	return k->connect ? map_delete(k->connect->maps.pool_v4, key) : -ENOTSUP;
}

int kernel_pool_v6_delete(struct kernel *k, const struct reflex_pool_v6_key *key)
{
	return k->connect ? map_delete(k->connect->maps.pool_v6, key) : -ENOTSUP;
}

int kernel_set_miner_ports(struct kernel *k, const struct reflex_port_bitmap *ports)
{
	uint32_t zero = 0;

	return k->connect ? map_update(k->connect->maps.miner_ports, &zero, ports) : -ENOTSUP;
}

int kernel_set_connect_config(struct kernel *k, const struct reflex_connect_config *cfg)
{
	uint32_t zero = 0;

	return k->connect ? map_update(k->connect->maps.connect_config, &zero, cfg) : -ENOTSUP;
}

#define SECURITYFS "/sys/kernel/security"

/*
 * Is "bpf" among the active LSMs? A BPF LSM program loads and attaches on a
 * kernel built with CONFIG_BPF_LSM even when "bpf" is not in lsm=, and then
 * never runs; only the list in securityfs tells. Mounts securityfs (in the
 * agent's mount namespace) when it is not there.
 */
static int bpf_lsm_listed(char *why, size_t size)
{
	char list[512];
	ssize_t n;
	int fd;

	fd = open(SECURITYFS "/lsm", O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && mount("securityfs", SECURITYFS, "securityfs", 0, NULL) == 0)
		fd = open(SECURITYFS "/lsm", O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, size, "active LSM list unreadable: " SECURITYFS "/lsm: %s", strerror(errno));
		return 0;
	}
	n = read(fd, list, sizeof(list) - 1);
	close(fd);
	if (n < 0) {
		snprintf(why, size, "read " SECURITYFS "/lsm: %s", strerror(errno));
		return 0;
	}
	list[n] = '\0';
	list[strcspn(list, "\n")] = '\0';
	for (const char *p = list; *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, "bpf", 3) == 0 && (p[3] == ',' || p[3] == '\0'))
			return 1;
	snprintf(why, size, "bpf is not an active LSM (%.100s); boot with lsm=...,bpf", list);
	return 0;
}

/* lsm/bprm_check_security on the exec object's maps; a failure only leaves the kill at exec. */
static void lsm_open(struct kernel *k, const struct kernel_opts *opts)
{
	struct lsm_bpf *skel;
	int err;

	if (opts->no_exec_deny) {
		snprintf(k->lsm_reason, sizeof(k->lsm_reason), "off: agent.deny_exec_in_kernel is false");
		return;
	}
	if (!bpf_lsm_listed(k->lsm_reason, sizeof(k->lsm_reason)))
		return;
	skel = lsm_bpf__open();
	if (!skel) {
		snprintf(k->lsm_reason, sizeof(k->lsm_reason), "did not open: %s", strerror(errno));
		return;
	}
	skel->rodata->agent_tgid = opts->agent_tgid;
	skel->rodata->host_mnt_ns_inum = opts->host_mnt_ns_inum;
	err = reuse_shared_maps(k, skel->maps.events, skel->maps.counters, skel->maps.cgroup_verdicts);
	if (!err)
		err = lsm_bpf__load(skel);
	if (err) {
		snprintf(k->lsm_reason, sizeof(k->lsm_reason), "did not load: %s", strerror(-err));
		log_errno(LOG_LEVEL_WARN, err, "kernel: lsm/bprm_check_security did not load");
		lsm_bpf__destroy(skel);
		return;
	}
	k->lsm_link = bpf_program__attach_lsm(skel->progs.exec_deny);
	if (!k->lsm_link) {
		err = -errno;
		snprintf(k->lsm_reason, sizeof(k->lsm_reason), "did not attach: %s", strerror(-err));
		log_errno(LOG_LEVEL_WARN, err, "kernel: lsm/bprm_check_security did not attach");
		lsm_bpf__destroy(skel);
		return;
	}
	k->lsm = skel;
}

bool kernel_exec_deny_active(const struct kernel *k)
{
	return k->lsm_link != NULL;
}

const char *kernel_exec_deny_reason(const struct kernel *k)
{
	if (k->lsm_link)
		return "attached: execs refused before they start where policy kills";
	return k->lsm_reason[0] ? k->lsm_reason : "not loaded";
}

void kernel_set_exec_deny(struct kernel *k, bool on)
{
	if (k->lsm)
		k->lsm->bss->deny_exec = on;
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

	for (size_t i = 0; i < ARRAY_SIZE(exec_variants); i++) {
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

	lsm_open(k, opts);
	if (opts->cgroup_root)
		connect_open(k, opts->cgroup_root, opts->no_stratum_watch);

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

void kernel_detach(struct kernel *k)
{
	if (!k)
		return;
	for (int p = 0; p < KERNEL_CONNECT_PROG_MAX; p++) {
		bpf_link__destroy(k->connect_links[p]);
		k->connect_links[p] = NULL;
	}
	bpf_link__destroy(k->lsm_link);
	k->lsm_link = NULL;
	bpf_link__destroy(k->link);
	k->link = NULL;
}

struct kernel *kernel_close(struct kernel *k)
{
	if (!k)
		return NULL;
	kernel_detach(k);
	ring_buffer__free(k->rb);
	connect_bpf__destroy(k->connect);
	lsm_bpf__destroy(k->lsm);
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

void kernel_set_stratum_scan(struct kernel *k, bool on)
{
	/* .bss is mmap'ed: the program sees the store at its next run. */
	k->skel->bss->scan_stratum_argv = on;
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
	uint64_t key;

	/* Always take the first key: the one just deleted has no successor. */
	while (bpf_map_get_next_key(fd, NULL, &key) == 0)
		if (bpf_map_delete_elem(fd, &key) && errno != ENOENT)
			return -errno;
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
