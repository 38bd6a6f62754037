/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Wire format between the kernel programs (bpf/) and reflexd (user/).
 * Fixed-width fields, explicit padding, no holes: the asserts at the end
 * check the layout on both sides of the build.
 */
#ifndef REFLEX_EVENTS_H
#define REFLEX_EVENTS_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define REFLEX_COMM_LEN 16
#define REFLEX_PATH_LEN 256
/* Exe path: at most this many dentries are walked up from the exe. */
#define REFLEX_PATH_DEPTH 24

/* Numbered so that new event kinds never renumber old ones. */
enum reflex_event_op {
	REFLEX_EVENT_EXEC = 1,
	REFLEX_EVENT_CONNECT = 2,
};

/* reflex_exec_event.flags: why the exec crossed to user space. */
enum reflex_exec_flag {
	REFLEX_EXEC_UPPER_LAYER = 1 << 0,   /* exe inode is in an overlayfs upper layer */
	REFLEX_EXEC_FILELESS = 1 << 1,      /* exe inode has no link: memfd or unlinked */
	REFLEX_EXEC_MEMFD = 1 << 2,         /* ... and its name is "memfd:..." */
	REFLEX_EXEC_PATH_TRUNCATED = 1 << 3,/* dentry walk hit REFLEX_PATH_DEPTH or the buffer */
};

/* What the kernel already did about the event. */
enum reflex_kernel_action {
	REFLEX_KACT_NONE = 0,          /* reported only: user space decides */
	REFLEX_KACT_SIGKILL_SENT = 1,  /* bpf_send_signal(SIGKILL) returned 0 */
	REFLEX_KACT_SIGKILL_FAILED = 2,/* bpf_send_signal failed: user space must kill */
};

/* Common header of every ring-buffer record. */
struct reflex_event_header {
	__u16 op;        /* enum reflex_event_op */
	__u16 size;      /* sizeof the whole record */
	__u32 pad;
	__u64 ktime_ns;  /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
};

struct reflex_exec_event {
	struct reflex_event_header hdr;
	__u64 cgroup_id;      /* cgroup v2 id (kernfs inode number of the cgroup dir) */
	__u64 start_boottime; /* task->start_boottime, ns: the PID-reuse guard */
	__u64 exe_ino;        /* inode number of the exe as the exec saw it */
	__u32 pid;            /* kernel tid == tgid after exec */
	__u32 tgid;
	__u32 ppid;           /* tgid of real_parent */
	__u32 uid;
	__u32 flags;          /* enum reflex_exec_flag */
	__u32 kernel_action;  /* enum reflex_kernel_action */
	char comm[REFLEX_COMM_LEN];
	char filename[REFLEX_PATH_LEN]; /* bprm->filename: what execve() was given */
	char exe_path[REFLEX_PATH_LEN]; /* exe path inside its filesystem (dentry walk) */
};

/*
 * Per-cgroup verdict the kernel may apply without asking user space.
 * reflexd fills it only for container cgroups whose policy allows an
 * immediate kill for the rule; anything missing means "report only".
 */
enum reflex_cgroup_verdict_flag {
	REFLEX_VERDICT_KILL_UPPER_EXEC = 1 << 0,
	REFLEX_VERDICT_KILL_FILELESS_EXEC = 1 << 1,
};

struct reflex_cgroup_verdict {
	__u32 flags; /* enum reflex_cgroup_verdict_flag */
	__u32 pad;
};

/* Per-CPU counters the kernel keeps; user space sums and exports them. */
enum reflex_kernel_counter {
	REFLEX_KCNT_EXEC_SEEN = 0,       /* every exec the program ran on */
	REFLEX_KCNT_EXEC_SUSPICIOUS,     /* upper-layer or fileless, in a container */
	REFLEX_KCNT_EXEC_KILLED,         /* SIGKILL sent from the kernel */
	REFLEX_KCNT_RINGBUF_DROPS,       /* bpf_ringbuf_reserve failed: event lost */
	REFLEX_KCNT_SIGNAL_ERRORS,       /* bpf_send_signal failed */
	REFLEX_KCNT_MAX,
};

#define REFLEX_OVERLAYFS_SUPER_MAGIC 0x794c7630
#define REFLEX_TMPFS_MAGIC 0x01021994

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct reflex_event_header) == 16, "header layout");
_Static_assert(sizeof(struct reflex_exec_event) == 16 + 24 + 24 + 16 + 512, "exec event layout");
_Static_assert(__builtin_offsetof(struct reflex_exec_event, comm) == 64, "exec event comm offset");
_Static_assert(sizeof(struct reflex_cgroup_verdict) == 8, "verdict layout");
#endif

#endif /* REFLEX_EVENTS_H */
