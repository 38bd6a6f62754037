// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Dropped-binary and fileless exec detection at sched_process_exec.
 *
 * The same test as Falco's proc.is_exe_upper_layer, done in the kernel so
 * that an ordinary exec costs a few loads and never reaches user space:
 * the exe inode is on overlayfs and its ovl_inode has an upper dentry with a
 * non-zero inode (a copied-up lower file counts), or the exe has no link at
 * all (memfd, unlinked). Scripts are judged by their interpreter, because
 * exec_binprm() has already swapped bprm->file for the interpreter here.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "exe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SIGKILL 9
#define PF_KTHREAD 0x00200000 /* include/linux/sched.h, stable since 2.6 */

/* Set by reflexd before load. */
const volatile __u32 agent_tgid = 0;
/* Inode number of the host's mount namespace: execs there are host execs. */
const volatile __u32 host_mnt_ns_inum = 0;

/*
 * Scan the command line for Falco's Stratum indicators (stratum+tcp,
 * stratum+ssl, stratum2+tcp, stratum2+ssl)? Set by reflexd; only container
 * execs pay for it.
 */
volatile __u32 scan_stratum_argv = 0;

struct args_scratch {
	char buf[REFLEX_ARGS_SCAN + 16]; /* slack so i + 12 stays inside */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct args_scratch);
} args_scratch SEC(".maps");

/* As path_off_bound: a mask the verifier sees (REFLEX_ARGS_SCAN is a power of two). */
static __always_inline unsigned long args_len_bound(unsigned long len)
{
	asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(REFLEX_ARGS_SCAN - 1));
	return len;
}

struct stratum_scan {
	struct args_scratch *s;
	__u32 len;
	bool found;
};

/* bpf_loop body: is "stratum[2]+tcp" or "+ssl" at offset i? */
static long stratum_at(__u32 i, void *ctx)
{
	struct stratum_scan *scan = ctx;
	const char *b;
	__u32 j;

	if (i >= REFLEX_ARGS_SCAN || i + 12 > scan->len)
		return 1;
	b = &scan->s->buf[args_len_bound(i)];
	if (b[0] != 's' || b[1] != 't' || b[2] != 'r' || b[3] != 'a' || b[4] != 't' || b[5] != 'u' ||
	    b[6] != 'm')
		return 0;
	j = b[7] == '2' ? 8 : 7;
	if (b[j] == '+' && ((b[j + 1] == 't' && b[j + 2] == 'c' && b[j + 3] == 'p') ||
			    (b[j + 1] == 's' && b[j + 2] == 's' && b[j + 3] == 'l'))) {
		scan->found = true;
		return 1;
	}
	return 0;
}

/*
 * Reads argv of the new image and looks for Falco's Stratum indicators.
 * bpf_loop (5.17+) keeps the verifier's work to one pass over the body;
 * without it the scan is off and reflexd says so.
 */
static __always_inline bool args_have_stratum(struct task_struct *task, struct args_scratch **ret)
{
	struct stratum_scan scan = {};
	unsigned long start, end, len;
	__u32 zero = 0;

	if (!bpf_core_enum_value_exists(enum bpf_func_id, BPF_FUNC_loop))
		return false;
	scan.s = bpf_map_lookup_elem(&args_scratch, &zero);
	if (!scan.s)
		return false;
	start = BPF_CORE_READ(task, mm, arg_start);
	end = BPF_CORE_READ(task, mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > REFLEX_ARGS_SCAN - 1)
		len = REFLEX_ARGS_SCAN - 1;
	len = args_len_bound(len);
	if (len < 12 || bpf_probe_read_user(scan.s->buf, len, (void *)start) < 0)
		return false;
	/* Bytes past len are from an earlier exec: end the copy with two NULs. */
	scan.s->buf[args_len_bound(len)] = '\0';
	scan.s->buf[args_len_bound(len) + 1] = '\0';
	*ret = scan.s;
	scan.len = (__u32)len;
	bpf_loop(REFLEX_ARGS_SCAN, stratum_at, &scan, 0);
	return scan.found;
}

static __always_inline int handle_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	struct reflex_cgroup_verdict *verdict;
	struct args_scratch *args = NULL;
	struct reflex_exec_event *e;
	struct inode *inode;
	struct file *file;
	__u32 flags = 0, kact = REFLEX_KACT_NONE, tgid, kind, kill_kind;
	__u64 cgroup_id;

	counter_inc(REFLEX_KCNT_EXEC_SEEN);

	if (BPF_CORE_READ(task, flags) & PF_KTHREAD)
		return 0;
	tgid = BPF_CORE_READ(task, tgid);
	if (tgid == agent_tgid)
		return 0;
	/* Host execs never cross: containers run in their own mount namespace. */
	if (BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mnt_ns_inum)
		return 0;

	file = BPF_CORE_READ(bprm, file);
	inode = BPF_CORE_READ(file, f_inode);
	flags = exe_flags(file);
	if (scan_stratum_argv && args_have_stratum(task, &args))
		flags |= REFLEX_EXEC_STRATUM_ARGV;
	if (!flags)
		return 0;

	counter_inc(REFLEX_KCNT_EXEC_SUSPICIOUS);
	cgroup_id = bpf_get_current_cgroup_id();

	/*
	 * Kill first, report after: the signal lands before the first user
	 * instruction. Only under the one rule reflexd will audit (events.h).
	 */
	kind = reflex_exec_rule_kind(flags);
	verdict = bpf_map_lookup_elem(&cgroup_verdicts, &cgroup_id);
	kill_kind = verdict ? reflex_exec_kill_kind(flags, verdict->flags) : 0;
	if (kill_kind) {
		kind = kill_kind;
		if (bpf_send_signal(SIGKILL) == 0) {
			kact = REFLEX_KACT_SIGKILL_SENT;
			counter_inc(REFLEX_KCNT_EXEC_KILLED);
		} else {
			kact = REFLEX_KACT_SIGKILL_FAILED;
			counter_inc(REFLEX_KCNT_SIGNAL_ERRORS);
		}
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(REFLEX_KCNT_RINGBUF_DROPS);
		if (kact == REFLEX_KACT_SIGKILL_SENT)
			counter_inc(REFLEX_KCNT_LOST_EXEC_KILLED);
		return 0;
	}
	e->hdr.op = REFLEX_EVENT_EXEC;
	e->hdr.size = sizeof(*e);
	e->hdr.pad = 0;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	e->start_boottime = BPF_CORE_READ(task, start_boottime);
	e->exe_ino = BPF_CORE_READ(inode, i_ino);
	e->pid = BPF_CORE_READ(task, pid);
	e->tgid = tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->flags = flags;
	e->kernel_action = kact;
	e->rule_kind = kind;
	e->pad2 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename)) < 0)
		e->filename[0] = '\0';
	exe_path_fill(e, BPF_CORE_READ(file, f_path.dentry));
	if (args)
		bpf_probe_read_kernel(e->args, sizeof(e->args), args->buf);
	else
		e->args[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* Short names: bpftool shows them. */
SEC("tp_btf/sched_process_exec")
int BPF_PROG(exec_btf, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p, bprm);
}

/* Fallback for kernels without BTF-typed tracepoints (probed at start). */
SEC("raw_tp/sched_process_exec")
int BPF_PROG(exec_raw, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	return handle_exec(p, bprm);
}
