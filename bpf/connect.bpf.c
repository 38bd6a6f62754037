// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * Mining-pool connections at connect()/sendmsg() time, before the first byte
 * of a Stratum handshake leaves: Falco's "Detect outbound connections to
 * common miner pool ports", decided in the kernel. The destination must be
 * in a pool list (LPM tries filled from resolved pool domains and configured
 * CIDRs) on a port that list implies; loopback and private ranges never
 * match unless exclude_private is turned off. Only container cgroups are judged (cgroup_verdicts), only
 * matches reach user space, and the per-cgroup verdict decides deny
 * (return 0: the caller gets EPERM) and/or SIGKILL.
 */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "maps.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define SIGKILL 9
#define AF_INET 2
#define AF_INET6 10

/* Set by the loader: bpf_get_current_task is callable from cgroup sock_addr programs. */
const volatile bool have_current_task = false;
/*
 * Set by the loader: bpf_send_signal and bpf_get_current_comm are callable
 * here (newer kernels; not 6.1). Without them the verifier never walks the
 * calls: the connect is still refused and reflexd kills through a pidfd.
 */
const volatile bool have_send_signal = false;
const volatile bool have_current_comm = false;

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct reflex_pool_v4_key);
	__type(value, __u32);
} pool_v4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 65536);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct reflex_pool_v6_key);
	__type(value, __u32);
} pool_v6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reflex_port_bitmap);
} miner_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct reflex_connect_config);
} connect_config SEC(".maps");

/*
 * Stratum handshakes to addresses no list names. Hook choice: cgroup_skb
 * egress on the cgroup root sees the first payload before it leaves, can drop
 * it, and loads everywhere cgroup/connect4 does; sockops+sk_msg would put
 * every socket through a sockmap. Its cost for ordinary traffic is one
 * socket-local storage lookup per packet: only container TCP connections get
 * an entry (at connect), and the entry is gone after their first payload.
 */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct reflex_stratum_watch);
} stratum_watch SEC(".maps");

struct payload_scratch {
	char buf[REFLEX_STRATUM_SCAN + 32];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload_scratch);
} payload_scratch SEC(".maps");

/* Set by the loader when sk storage works from cgroup sock_addr programs. */
const volatile bool watch_stratum = false;

static __always_inline bool port_is_miner(__u16 port)
{
	__u32 zero = 0;
	struct reflex_port_bitmap *bm = bpf_map_lookup_elem(&miner_ports, &zero);

	if (!bm)
		return false;
	return (bm->bits[(port >> 6) & 1023] >> (port & 63)) & 1;
}

/* 127/8, 10/8, 172.16/12, 192.168/16, 169.254/16, 0/8 (address in network order). */
static __always_inline bool v4_is_private(const __u8 a[4])
{
	return a[0] == 127 || a[0] == 10 || a[0] == 0 || (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	       (a[0] == 192 && a[1] == 168) || (a[0] == 169 && a[1] == 254);
}

/* ::1, ::, fc00::/7 (ULA), fe80::/10 (link-local). */
static __always_inline bool v6_is_private(const __u8 a[16])
{
	bool zero_prefix = true;

	for (int i = 0; i < 15; i++)
		zero_prefix = zero_prefix && a[i] == 0;
	if (zero_prefix && (a[15] == 1 || a[15] == 0))
		return true;
	return (a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80);
}

/* The pool lists that make (lists, port) a match; 0 when it is not one. */
/*
 * Falco's rule never matches private destinations (the default): then they
 * need no pool lookup at all. Most of a cluster's connects go to pod and
 * service addresses and loopback, so this is the common case.
 */
static __always_inline bool private_excluded(void)
{
	__u32 zero = 0;
	struct reflex_connect_config *cfg = bpf_map_lookup_elem(&connect_config, &zero);

	return !cfg || cfg->exclude_private;
}

static __always_inline __u32 pool_match(__u32 lists, __u16 port, bool private_addr)
{
	__u32 zero = 0, hit = 0;
	struct reflex_connect_config *cfg = bpf_map_lookup_elem(&connect_config, &zero);
	bool miner_port = port_is_miner(port);

	/* Falco's rule excludes these whatever a pool name resolves to. */
	if (private_addr && (!cfg || cfg->exclude_private))
		return 0;
	if ((lists & REFLEX_POOL_MINER) && miner_port)
		hit |= REFLEX_POOL_MINER;
	if ((lists & REFLEX_POOL_HTTP) && port == 80)
		hit |= REFLEX_POOL_HTTP;
	if ((lists & REFLEX_POOL_HTTPS) && port == 443)
		hit |= REFLEX_POOL_HTTPS;
	if (!hit && cfg && cfg->port_only && miner_port)
		hit |= REFLEX_POOL_PORT_ONLY;
	return hit;
}

/*
 * Reports a match and applies the cgroup's verdict. Returns what the
 * program must return: 1 lets the call through, 0 fails it with EPERM.
 */
static __always_inline int judge(struct bpf_sock_addr *ctx, __u8 hook, __u16 family,
				 const __u8 *daddr, __u32 daddr_len, __u16 port, __u32 lists)
{
	struct reflex_cgroup_verdict *verdict;
	struct reflex_connect_event *e;
	__u64 cgroup_id = bpf_get_current_cgroup_id();
	__u64 pid_tgid;
	__u32 kact = 0;
	int ret = 1;

	verdict = bpf_map_lookup_elem(&cgroup_verdicts, &cgroup_id);
	/* Not a container reflexd knows: the host's own traffic is not judged. */
	if (!verdict || !(verdict->flags & REFLEX_VERDICT_CONTAINER))
		return 1;
	counter_inc(REFLEX_KCNT_CONNECT_MATCHED);
	if (verdict->flags & REFLEX_VERDICT_DENY_POOL_CONNECT) {
		kact |= REFLEX_CKACT_DENIED;
		counter_inc(REFLEX_KCNT_CONNECT_DENIED);
		ret = 0;
	}
	if (have_send_signal && (verdict->flags & REFLEX_VERDICT_KILL_POOL_CONNECT)) {
		if (bpf_send_signal(SIGKILL) == 0) {
			kact |= REFLEX_CKACT_SIGKILL_SENT;
			counter_inc(REFLEX_KCNT_CONNECT_KILLED);
		} else {
			kact |= REFLEX_CKACT_SIGKILL_FAILED;
			counter_inc(REFLEX_KCNT_SIGNAL_ERRORS);
		}
	}

	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(REFLEX_KCNT_RINGBUF_DROPS);
		if (kact & REFLEX_CKACT_SIGKILL_SENT)
			counter_inc(REFLEX_KCNT_LOST_CONNECT_KILLED);
		else if (kact & REFLEX_CKACT_DENIED)
			counter_inc(REFLEX_KCNT_LOST_CONNECT_DENIED);
		return ret;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.op = REFLEX_EVENT_CONNECT;
	e->hdr.size = sizeof(*e);
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->cgroup_id = cgroup_id;
	pid_tgid = bpf_get_current_pid_tgid();
	e->pid = (__u32)pid_tgid;
	e->tgid = pid_tgid >> 32;
	e->uid = (__u32)bpf_get_current_uid_gid();
	if (have_current_task) {
		struct task_struct *task = (void *)bpf_get_current_task();

		e->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	}
	e->lists = lists;
	e->kernel_action = kact;
	e->family = family;
	e->dport = port;
	e->protocol = ctx->protocol;
	e->hook = hook;
	if (daddr_len == 4)
		__builtin_memcpy(e->daddr, daddr, 4);
	else
		__builtin_memcpy(e->daddr, daddr, 16);
	if (have_current_comm)
		bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return ret;
}

/* A container TCP connect that is no pool match: inspect its first payload. */
static __always_inline void stratum_watch_start(struct bpf_sock_addr *ctx)
{
	struct reflex_cgroup_verdict *verdict;
	struct reflex_stratum_watch *w;
	__u64 cgroup_id, pid_tgid;

	if (!watch_stratum || ctx->protocol != IPPROTO_TCP)
		return;
	cgroup_id = bpf_get_current_cgroup_id();
	verdict = bpf_map_lookup_elem(&cgroup_verdicts, &cgroup_id);
	if (!verdict || !(verdict->flags & REFLEX_VERDICT_CONTAINER))
		return;
	w = bpf_sk_storage_get(&stratum_watch, ctx->sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!w)
		return;
	counter_inc(REFLEX_KCNT_STRATUM_WATCHED);
	pid_tgid = bpf_get_current_pid_tgid();
	w->cgroup_id = cgroup_id;
	w->pid = (__u32)pid_tgid;
	w->tgid = pid_tgid >> 32;
	w->uid = (__u32)bpf_get_current_uid_gid();
	w->state = REFLEX_STRATUM_WATCH;
	if (have_current_task) {
		struct task_struct *task = (void *)bpf_get_current_task();

		w->start_boottime = BPF_CORE_READ(task, group_leader, start_boottime);
	}
	if (have_current_comm)
		bpf_get_current_comm(w->comm, sizeof(w->comm));
}

static __always_inline int check_v4(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct reflex_pool_v4_key key = { .prefixlen = 32 };
	__u32 ip = ctx->user_ip4, *lists, hit;
	__u16 port = bpf_ntohs((__u16)ctx->user_port);

	counter_inc(REFLEX_KCNT_CONNECT_SEEN);
	__builtin_memcpy(key.addr, &ip, 4);
	if (v4_is_private(key.addr) && private_excluded())
		return 1;
	lists = bpf_map_lookup_elem(&pool_v4, &key);
	hit = pool_match(lists ? *lists : 0, port, v4_is_private(key.addr));
	if (!hit) {
		if (hook == REFLEX_HOOK_CONNECT4 && !v4_is_private(key.addr))
			stratum_watch_start(ctx);
		return 1;
	}
	return judge(ctx, hook, AF_INET, key.addr, 4, port, hit);
}

static __always_inline int check_v6(struct bpf_sock_addr *ctx, __u8 hook)
{
	struct reflex_pool_v6_key key = { .prefixlen = 128 };
	__u16 port = bpf_ntohs((__u16)ctx->user_port);
	__u32 *lists, hit, w;

	counter_inc(REFLEX_KCNT_CONNECT_SEEN);
	/* user_ip6 must be read as 4-byte words. */
	w = ctx->user_ip6[0];
	__builtin_memcpy(&key.addr[0], &w, 4);
	w = ctx->user_ip6[1];
	__builtin_memcpy(&key.addr[4], &w, 4);
	w = ctx->user_ip6[2];
	__builtin_memcpy(&key.addr[8], &w, 4);
	w = ctx->user_ip6[3];
	__builtin_memcpy(&key.addr[12], &w, 4);

	/* IPv4-mapped (::ffff:a.b.c.d): judge the IPv4 address against the v4 lists. */
	if (ctx->user_ip6[0] == 0 && ctx->user_ip6[1] == 0 && ctx->user_ip6[2] == bpf_htonl(0xffff)) {
		struct reflex_pool_v4_key k4 = { .prefixlen = 32 };

		__builtin_memcpy(k4.addr, &key.addr[12], 4);
		if (v4_is_private(k4.addr) && private_excluded())
			return 1;
		lists = bpf_map_lookup_elem(&pool_v4, &k4);
		hit = pool_match(lists ? *lists : 0, port, v4_is_private(k4.addr));
		if (!hit)
			return 1;
		return judge(ctx, hook, AF_INET6, key.addr, 16, port, hit);
	}
	if (v6_is_private(key.addr) && private_excluded())
		return 1;
	lists = bpf_map_lookup_elem(&pool_v6, &key);
	hit = pool_match(lists ? *lists : 0, port, v6_is_private(key.addr));
	if (!hit) {
		if (hook == REFLEX_HOOK_CONNECT6 && !v6_is_private(key.addr))
			stratum_watch_start(ctx);
		return 1;
	}
	return judge(ctx, hook, AF_INET6, key.addr, 16, port, hit);
}

SEC("cgroup/connect4")
int connect4(struct bpf_sock_addr *ctx)
{
	return check_v4(ctx, REFLEX_HOOK_CONNECT4);
}

SEC("cgroup/connect6")
int connect6(struct bpf_sock_addr *ctx)
{
	return check_v6(ctx, REFLEX_HOOK_CONNECT6);
}

SEC("cgroup/sendmsg4")
int sendmsg4(struct bpf_sock_addr *ctx)
{
	return check_v4(ctx, REFLEX_HOOK_SENDMSG4);
}

SEC("cgroup/sendmsg6")
int sendmsg6(struct bpf_sock_addr *ctx)
{
	return check_v6(ctx, REFLEX_HOOK_SENDMSG6);
}

struct stratum_scan {
	struct payload_scratch *p;
	__u32 len;
	bool found;
};

/* Three 16-byte needles: what miners send first (compact JSON-RPC). */
static __always_inline bool needle_at(const char *b, const char *needle)
{
#pragma unroll
	for (int k = 0; k < 16; k++)
		if (b[k] != needle[k])
			return false;
	return true;
}

static long stratum_payload_at(__u32 i, void *ctx)
{
	struct stratum_scan *scan = ctx;
	const char *b;

	if (i >= REFLEX_STRATUM_SCAN || i + 16 > scan->len)
		return 1;
	asm volatile("%[i] &= %[mask]" : [i] "+r"(i) : [mask] "i"(REFLEX_STRATUM_SCAN - 1));
	b = &scan->p->buf[i];
	if (needle_at(b, "mining.subscribe") || needle_at(b, "mining.authorize") ||
	    needle_at(b, "\"method\":\"login\"")) {
		scan->found = true;
		return 1;
	}
	return 0;
}

SEC("cgroup_skb/egress")
int stratum_egress(struct __sk_buff *skb)
{
	struct reflex_cgroup_verdict *verdict;
	struct reflex_connect_event *e;
	struct reflex_stratum_watch *w;
	struct stratum_scan scan = {};
	struct bpf_sock *sk = skb->sk;
	__u32 zero = 0, ip_hlen, tcp_off, payload_off, len, kact = 0;
	__u8 b0, proto, doff, daddr[16] = {};
	__u16 family, dport;
	int ret = 1;

	if (!sk)
		return 1;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 1;
	w = bpf_sk_storage_get(&stratum_watch, sk, 0, 0);
	if (!w)
		return 1;
	if (w->state == REFLEX_STRATUM_BLOCK)
		return 0;

	if (bpf_skb_load_bytes(skb, 0, &b0, 1))
		return 1;
	if ((b0 >> 4) == 4) {
		family = AF_INET;
		ip_hlen = (b0 & 0xf) * 4;
		if (bpf_skb_load_bytes(skb, 9, &proto, 1) || bpf_skb_load_bytes(skb, 16, daddr, 4))
			return 1;
	} else if ((b0 >> 4) == 6) {
		family = AF_INET6;
		ip_hlen = 40;
		if (bpf_skb_load_bytes(skb, 6, &proto, 1) || bpf_skb_load_bytes(skb, 24, daddr, 16))
			return 1;
	} else {
		return 1;
	}
	if (proto != IPPROTO_TCP)
		return 1;
	tcp_off = ip_hlen;
	if (bpf_skb_load_bytes(skb, tcp_off + 2, &dport, 2) || bpf_skb_load_bytes(skb, tcp_off + 12, &doff, 1))
		return 1;
	payload_off = tcp_off + (doff >> 4) * 4;
	if (skb->len <= payload_off)
		return 1; /* SYN, bare ACK: wait for the first payload */

	len = skb->len - payload_off;
	if (len > REFLEX_STRATUM_SCAN)
		len = REFLEX_STRATUM_SCAN;
	/* [1, SCAN] in a form the verifier tracks through the mask. */
	len -= 1;
	asm volatile("%[len] &= %[mask]" : [len] "+r"(len) : [mask] "i"(REFLEX_STRATUM_SCAN - 1));
	len += 1;
	scan.p = bpf_map_lookup_elem(&payload_scratch, &zero);
	if (!scan.p || len < 16 || bpf_skb_load_bytes(skb, payload_off, scan.p->buf, len)) {
		bpf_sk_storage_delete(&stratum_watch, sk);
		return 1;
	}
	scan.len = len;
	bpf_loop(REFLEX_STRATUM_SCAN, stratum_payload_at, &scan, 0);
	if (!scan.found) {
		/* Only the first payload is judged; the socket costs nothing after. */
		bpf_sk_storage_delete(&stratum_watch, sk);
		return 1;
	}

	counter_inc(REFLEX_KCNT_STRATUM_MATCHED);
	verdict = bpf_map_lookup_elem(&cgroup_verdicts, &w->cgroup_id);
	if (verdict && (verdict->flags & REFLEX_VERDICT_DROP_STRATUM)) {
		w->state = REFLEX_STRATUM_BLOCK;
		kact |= REFLEX_CKACT_DROPPED;
		ret = 0;
	} else {
		bpf_sk_storage_delete(&stratum_watch, sk);
	}
	e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e) {
		counter_inc(REFLEX_KCNT_RINGBUF_DROPS);
		if (kact & REFLEX_CKACT_DROPPED)
			counter_inc(REFLEX_KCNT_LOST_STRATUM_DROPPED);
		return ret;
	}
	__builtin_memset(e, 0, sizeof(*e));
	e->hdr.op = REFLEX_EVENT_CONNECT;
	e->hdr.size = sizeof(*e);
	e->hdr.ktime_ns = bpf_ktime_get_ns();
	e->cgroup_id = w->cgroup_id;
	e->start_boottime = w->start_boottime;
	e->pid = w->pid;
	e->tgid = w->tgid;
	e->uid = w->uid;
	e->lists = REFLEX_POOL_STRATUM;
	e->kernel_action = kact;
	e->family = family;
	e->dport = bpf_ntohs(dport);
	e->protocol = IPPROTO_TCP;
	e->hook = REFLEX_HOOK_STRATUM_PAYLOAD;
	__builtin_memcpy(e->daddr, daddr, 16);
	__builtin_memcpy(e->comm, w->comm, sizeof(e->comm));
	bpf_ringbuf_submit(e, 0);
	return ret;
}
