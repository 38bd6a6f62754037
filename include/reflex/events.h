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
	REFLEX_EXEC_STRATUM_ARGV = 1 << 4,  /* an argument holds stratum+tcp:// (or +ssl, stratum2+) */
};

/*
 * One exec, one rule. An exec may be several kinds at once (a dropped miner
 * started with stratum+tcp:// in argv); it is judged under exactly one, in
 * this precedence, the same in the kernel (which verdict bit may kill) and in
 * reflexd (which rule it audits and charges to the rate limit): a Stratum URL
 * in argv, then fileless, then upper layer. The most specific sign of abuse
 * first, so an exception made for benign upper-layer execs (apk add) never
 * spares a miner. Returns one REFLEX_EXEC_* kind bit, 0 for none.
 */
static inline __u32 reflex_exec_rule_kind(__u32 flags)
{
	if (flags & REFLEX_EXEC_STRATUM_ARGV)
		return REFLEX_EXEC_STRATUM_ARGV;
	if (flags & REFLEX_EXEC_FILELESS)
		return REFLEX_EXEC_FILELESS;
	if (flags & REFLEX_EXEC_UPPER_LAYER)
		return REFLEX_EXEC_UPPER_LAYER;
	return 0;
}

/* Bytes of the argument area the exec program scans for "stratum". */
#define REFLEX_ARGS_SCAN 1024
#define REFLEX_ARGS_LEN 256

/* What the kernel already did about the event. */
enum reflex_kernel_action {
	REFLEX_KACT_NONE = 0,          /* reported only: user space decides */
	REFLEX_KACT_SIGKILL_SENT = 1,  /* bpf_send_signal(SIGKILL) returned 0 */
	REFLEX_KACT_SIGKILL_FAILED = 2,/* bpf_send_signal failed: user space must kill */
	REFLEX_KACT_EXEC_DENIED = 3,   /* BPF LSM refused the exec (EPERM): the new image never ran */
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
	char args[REFLEX_ARGS_LEN];     /* start of argv, NUL-separated, when flags say STRATUM_ARGV */
	__u32 rule_kind;      /* reflex_exec_rule_kind(flags): the one rule the kernel judged it under */
	__u32 pad2;
};

/* Which hook saw a pool connection. */
enum reflex_connect_hook {
	REFLEX_HOOK_CONNECT4 = 1,
	REFLEX_HOOK_CONNECT6,
	REFLEX_HOOK_SENDMSG4,
	REFLEX_HOOK_SENDMSG6,
	REFLEX_HOOK_STRATUM_PAYLOAD, /* cgroup_skb/egress saw a Stratum handshake */
};

/* Which pool list an address came from (a bitmask in the LPM tries). */
enum reflex_pool_list {
	REFLEX_POOL_MINER = 1 << 0, /* miner_domains + config CIDRs: any miner port */
	REFLEX_POOL_HTTP = 1 << 1,  /* http domains: port 80 */
	REFLEX_POOL_HTTPS = 1 << 2, /* https domains: port 443 */
	REFLEX_POOL_PORT_ONLY = 1 << 3, /* not listed: matched by port-only mode */
	REFLEX_POOL_STRATUM = 1 << 4,   /* not listed: the first payload was a Stratum handshake */
};

/* Bytes of a container connection's first payload searched for a Stratum handshake. */
#define REFLEX_STRATUM_SCAN 256

/* reflex_connect_event.kernel_action bits. */
enum reflex_connect_kact {
	REFLEX_CKACT_DENIED = 1 << 0,        /* the program returned 0: EPERM */
	REFLEX_CKACT_SIGKILL_SENT = 1 << 1,
	REFLEX_CKACT_SIGKILL_FAILED = 1 << 2,
	REFLEX_CKACT_DROPPED = 1 << 3,       /* the handshake packet was dropped (and its retransmits) */
};

struct reflex_connect_event {
	struct reflex_event_header hdr;
	__u64 cgroup_id;
	__u64 start_boottime; /* 0 when the kernel lacks bpf_get_current_task here */
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 lists;          /* enum reflex_pool_list */
	__u32 kernel_action;  /* enum reflex_connect_kact */
	__u16 family;         /* AF_INET, AF_INET6 */
	__u16 dport;          /* host byte order */
	__u8 protocol;        /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 hook;            /* enum reflex_connect_hook */
	__u8 pad[6];
	__u8 daddr[16];       /* network order; IPv4 in the first 4 bytes */
	char comm[REFLEX_COMM_LEN];
};

struct reflex_pool_v4_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct reflex_pool_v6_key {
	__u32 prefixlen;
	__u8 addr[16];
};

/* Knobs user space sets (array map of one entry; changeable at run time). */
struct reflex_connect_config {
	__u32 port_only;       /* a miner port to any non-private address matches */
	__u32 exclude_private; /* loopback, RFC 1918, link-local, ULA never match (default 1) */
};

/* 65536 bits: one per port. */
struct reflex_port_bitmap {
	__u64 bits[1024];
};

/*
 * Per-cgroup verdict the kernel may apply without asking user space.
 * reflexd fills it only for container cgroups whose policy allows an
 * immediate kill for the rule; anything missing means "report only".
 */
enum reflex_cgroup_verdict_flag {
	REFLEX_VERDICT_CONTAINER = 1 << 0,          /* a container cgroup: its pool connects are reported */
	REFLEX_VERDICT_KILL_UPPER_EXEC = 1 << 1,
	REFLEX_VERDICT_KILL_FILELESS_EXEC = 1 << 2,
	REFLEX_VERDICT_DENY_POOL_CONNECT = 1 << 3,  /* connect/sendmsg to a pool fails with EPERM */
	REFLEX_VERDICT_KILL_POOL_CONNECT = 1 << 4,  /* ... and the caller gets SIGKILL */
	REFLEX_VERDICT_KILL_STRATUM_EXEC = 1 << 5,  /* exec with a stratum+tcp:// style argument */
	REFLEX_VERDICT_DROP_STRATUM = 1 << 6,       /* drop a Stratum handshake and what follows */
};

/* The verdict bit that lets the kernel kill an exec of KIND (reflex_exec_rule_kind). */
static inline __u32 reflex_exec_kill_verdict(__u32 kind)
{
	switch (kind) {
	case REFLEX_EXEC_STRATUM_ARGV:
		return REFLEX_VERDICT_KILL_STRATUM_EXEC;
	case REFLEX_EXEC_FILELESS:
		return REFLEX_VERDICT_KILL_FILELESS_EXEC;
	case REFLEX_EXEC_UPPER_LAYER:
		return REFLEX_VERDICT_KILL_UPPER_EXEC;
	default:
		return 0;
	}
}

/*
 * The kind the kernel kills an exec under: the first kind of FLAGS, in the
 * precedence of reflex_exec_rule_kind, whose kill is armed in VERDICT_FLAGS;
 * 0 when none is. The kinds are partly the caller's choice (a Stratum URL
 * in argv, an unlink before execveat): adding one may add a rule that
 * kills, never shield the exec behind a weaker rule.
 */
static inline __u32 reflex_exec_kill_kind(__u32 flags, __u32 verdict_flags)
{
	if ((flags & REFLEX_EXEC_STRATUM_ARGV) && (verdict_flags & REFLEX_VERDICT_KILL_STRATUM_EXEC))
		return REFLEX_EXEC_STRATUM_ARGV;
	if ((flags & REFLEX_EXEC_FILELESS) && (verdict_flags & REFLEX_VERDICT_KILL_FILELESS_EXEC))
		return REFLEX_EXEC_FILELESS;
	if ((flags & REFLEX_EXEC_UPPER_LAYER) && (verdict_flags & REFLEX_VERDICT_KILL_UPPER_EXEC))
		return REFLEX_EXEC_UPPER_LAYER;
	return 0;
}

/* Per-socket state of a container TCP connection whose first payload is inspected. */
enum reflex_stratum_state {
	REFLEX_STRATUM_WATCH = 1, /* first payload not seen yet */
	REFLEX_STRATUM_BLOCK = 2, /* handshake seen and denied: drop everything after */
};

struct reflex_stratum_watch {
	__u64 cgroup_id;
	__u64 start_boottime;
	__u32 pid;
	__u32 tgid;
	__u32 uid;
	__u32 state; /* enum reflex_stratum_state */
	char comm[REFLEX_COMM_LEN];
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
	REFLEX_KCNT_CONNECT_SEEN,        /* connect/sendmsg calls the programs ran on */
	REFLEX_KCNT_CONNECT_MATCHED,     /* ... to a pool, from a container */
	REFLEX_KCNT_CONNECT_DENIED,      /* ... refused with EPERM */
	REFLEX_KCNT_CONNECT_KILLED,      /* ... and SIGKILL sent */
	REFLEX_KCNT_STRATUM_WATCHED,     /* container TCP connections whose first payload is inspected */
	REFLEX_KCNT_STRATUM_MATCHED,     /* ... that was a Stratum handshake */
	REFLEX_KCNT_EXEC_DENIED,         /* execs refused by lsm/bprm_check_security */
	/*
	 * Kernel actions whose event was lost (ring buffer full): the act
	 * happened and user space must still put it on the record.
	 */
	REFLEX_KCNT_LOST_EXEC_KILLED,    /* SIGKILL at exec */
	REFLEX_KCNT_LOST_EXEC_DENIED,    /* exec refused by the BPF LSM */
	REFLEX_KCNT_LOST_CONNECT_KILLED, /* pool connect: SIGKILL sent (and the connect refused) */
	REFLEX_KCNT_LOST_CONNECT_DENIED, /* pool connect refused (EPERM), no signal */
	REFLEX_KCNT_LOST_STRATUM_DROPPED,/* Stratum handshake packet dropped */
	REFLEX_KCNT_MAX,
};

#define REFLEX_OVERLAYFS_SUPER_MAGIC 0x794c7630
#define REFLEX_TMPFS_MAGIC 0x01021994

#ifndef __VMLINUX_H__
_Static_assert(sizeof(struct reflex_event_header) == 16, "header layout");
_Static_assert(sizeof(struct reflex_exec_event) == 16 + 24 + 24 + 16 + 512 + 256 + 8, "exec event layout");
_Static_assert(__builtin_offsetof(struct reflex_exec_event, comm) == 64, "exec event comm offset");
_Static_assert(sizeof(struct reflex_cgroup_verdict) == 8, "verdict layout");
_Static_assert(sizeof(struct reflex_connect_event) == 16 + 16 + 20 + 12 + 16 + 16, "connect event layout");
_Static_assert(__builtin_offsetof(struct reflex_connect_event, daddr) == 64, "connect daddr offset");
#endif

#endif /* REFLEX_EVENTS_H */
