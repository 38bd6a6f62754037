// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Refuse the exec of a dropped or fileless binary before it starts, where the
 * kernel runs BPF LSM (CONFIG_BPF_LSM and "bpf" in lsm=). The same test and
 * the same per-cgroup verdict as exec.bpf.c; the exec fails with EPERM, so the
 * caller lives and the new image never exists. Where this does not load,
 * exec.bpf.c kills at sched_process_exec instead.
 *
 * bprm_check_security runs once per binary handler pass: for a script first
 * with the script, then with its interpreter. Scripts are skipped ("#!" in
 * bprm->buf) so that, as at sched_process_exec, the interpreter is judged.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "maps.bpf.h"
#include "exe.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define EPERM 1
#define PF_KTHREAD 0x00200000

const volatile __u32 agent_tgid = 0;
const volatile __u32 host_mnt_ns_inum = 0;

/* Set by reflexd: refuse where the verdict allows a kill at exec (agent.deny_exec_in_kernel). */
volatile __u32 deny_exec = 0;

SEC("lsm/bprm_check_security")
int BPF_PROG(exec_deny, struct linux_binprm *bprm, int ret)
{
	struct task_struct *task = bpf_get_current_task_btf();
	struct reflex_cgroup_verdict *verdict;
	__u32 kill_kind;
	struct reflex_exec_event *e;
	struct file *file;
	__u64 cgroup_id;
	char magic[2] = {};
	__u32 flags;

	if (ret || !deny_exec)
		return ret;
	if (task->flags & PF_KTHREAD)
		return 0;
	if ((__u32)task->tgid == agent_tgid)
		return 0;
	if (BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum) == host_mnt_ns_inum)
		return 0;
	file = bprm->file;
	flags = exe_flags(file);
	if (!(flags & (REFLEX_EXEC_UPPER_LAYER | REFLEX_EXEC_FILELESS)))
		return 0;
	if (bpf_probe_read_kernel(magic, sizeof(magic), bprm->buf) == 0 && magic[0] == '#' && magic[1] == '!')
		return 0;
	cgroup_id = bpf_get_current_cgroup_id();
	verdict = bpf_map_lookup_elem(&cgroup_verdicts, &cgroup_id);
	/* argv is not read here: the first of the two kinds this hook sees whose kill is armed. */
	kill_kind = verdict ? reflex_exec_kill_kind(flags, verdict->flags) : 0;
	if (!kill_kind)
		return 0;

	counter_inc(REFLEX_KCNT_EXEC_SUSPICIOUS);
	counter_inc(REFLEX_KCNT_EXEC_DENIED);
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		/* Refused all the same; the report is what is lost, and counted. */
		counter_inc(REFLEX_KCNT_RINGBUF_DROPS);
		counter_inc(REFLEX_KCNT_LOST_EXEC_DENIED);
		return -EPERM;
	}
	e->hdr.op = REFLEX_EVENT_EXEC;
	e->hdr.size = sizeof(*e);
	e->hdr.pad = 0;
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	/* The caller, which lives: its start time guards any later action on it. */
	e->start_boottime = task->start_boottime;
	e->exe_ino = BPF_CORE_READ(file, f_inode, i_ino);
	e->pid = task->pid;
	e->tgid = task->tgid;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	e->uid = (__u32)bpf_get_current_uid_gid();
	e->flags = flags;
	e->kernel_action = REFLEX_KACT_EXEC_DENIED;
	e->rule_kind = kill_kind;
	e->pad2 = 0;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), bprm->filename) < 0)
		e->filename[0] = '\0';
	exe_path_fill(e, BPF_CORE_READ(file, f_path.dentry));
	e->args[0] = '\0';
	bpf_ringbuf_submit(e, 0);
	return -EPERM;
}
