/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * What both exec hooks ask of the file being executed: is it in a
 * container's upper layer, is it fileless, and what is its path. Included by
 * exec.bpf.c (sched_process_exec) and lsm.bpf.c (bprm_check_security); each
 * object gets its own scratch map.
 */
#ifndef REFLEX_EXE_BPF_H
#define REFLEX_EXE_BPF_H

#include "reflex/events.h"

/* Twice the path length, so a masked offset plus a bounded read stays inside. */
struct path_scratch {
	char buf[REFLEX_PATH_LEN * 2];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} scratch SEC(".maps");

/*
 * overlayfs embeds the VFS inode in struct ovl_inode, and __upperdentry
 * follows it. Use CO-RE when the type is in BTF; otherwise read the pointer
 * right after the embedded inode, as Falco does.
 */
static __always_inline bool inode_is_upper(struct inode *inode)
{
	struct dentry *upper = NULL;

	if (bpf_core_type_exists(struct ovl_inode)) {
		struct ovl_inode *oi = (void *)inode - bpf_core_field_offset(struct ovl_inode, vfs_inode);

		upper = BPF_CORE_READ(oi, __upperdentry);
	} else {
		__u32 inode_size = bpf_core_type_size(struct inode);

		if (!inode_size)
			return false;
		bpf_probe_read_kernel(&upper, sizeof(upper), (void *)inode + inode_size);
	}
	return upper && BPF_CORE_READ(upper, d_inode, i_ino) != 0;
}

static __always_inline bool name_is_memfd(struct dentry *dentry)
{
	char prefix[6] = {};
	const unsigned char *name = BPF_CORE_READ(dentry, d_name.name);

	if (bpf_probe_read_kernel(prefix, sizeof(prefix), name) < 0)
		return false;
	return prefix[0] == 'm' && prefix[1] == 'e' && prefix[2] == 'm' && prefix[3] == 'f' &&
	       prefix[4] == 'd' && prefix[5] == ':';
}

/* Mask in an asm the compiler cannot see through, so the verifier sees the bound. */
static __always_inline __u32 path_off_bound(__u32 off)
{
	asm volatile("%[off] &= %[mask]" : [off] "+r"(off) : [mask] "i"(REFLEX_PATH_LEN - 1));
	return off;
}

/*
 * Path of DENTRY inside its filesystem: the walk stops at the superblock
 * root, so for a container's rootfs overlay it is the path the container
 * sees. Bounded by REFLEX_PATH_DEPTH components and REFLEX_PATH_LEN bytes.
 */
static __always_inline void exe_path_fill(struct reflex_exec_event *e, struct dentry *dentry)
{
	const unsigned char *names[REFLEX_PATH_DEPTH];
	struct path_scratch *s;
	__u32 zero = 0, off = 0;
	int depth = 0;

	s = bpf_map_lookup_elem(&scratch, &zero);
	if (!s)
		return;

#pragma unroll
	for (int i = 0; i < REFLEX_PATH_DEPTH; i++) {
		struct dentry *parent = BPF_CORE_READ(dentry, d_parent);

		if (!parent || parent == dentry)
			break;
		names[i] = BPF_CORE_READ(dentry, d_name.name);
		depth++;
		dentry = parent;
	}
	if (depth == REFLEX_PATH_DEPTH && BPF_CORE_READ(dentry, d_parent) != dentry)
		e->flags |= REFLEX_EXEC_PATH_TRUNCATED;

#pragma unroll
	for (int i = REFLEX_PATH_DEPTH - 1; i >= 0; i--) {
		long n;

		if (i >= depth)
			continue;
		if (off >= REFLEX_PATH_LEN - 1) {
			e->flags |= REFLEX_EXEC_PATH_TRUNCATED;
			break;
		}
		s->buf[path_off_bound(off)] = '/';
		off++;
		n = bpf_probe_read_kernel_str(&s->buf[path_off_bound(off)], REFLEX_PATH_LEN, names[i]);
		if (n <= 1)
			break;
		off += n - 1;
	}
	if (off == 0) {
		s->buf[0] = '/';
		off = 1;
	}
	if (off >= REFLEX_PATH_LEN) {
		off = REFLEX_PATH_LEN - 1;
		e->flags |= REFLEX_EXEC_PATH_TRUNCATED;
	}
	s->buf[path_off_bound(off)] = '\0';
	bpf_probe_read_kernel(e->exe_path, sizeof(e->exe_path), s->buf);
}

/* REFLEX_EXEC_UPPER_LAYER, _FILELESS and _MEMFD for the file being executed. */
static __always_inline __u32 exe_flags(struct file *file)
{
	struct inode *inode = BPF_CORE_READ(file, f_inode);
	__u32 flags = 0;

	if (BPF_CORE_READ(inode, i_sb, s_magic) == REFLEX_OVERLAYFS_SUPER_MAGIC && inode_is_upper(inode))
		flags |= REFLEX_EXEC_UPPER_LAYER;
	if (BPF_CORE_READ(inode, __i_nlink) == 0) {
		flags |= REFLEX_EXEC_FILELESS;
		if (name_is_memfd(BPF_CORE_READ(file, f_path.dentry)))
			flags |= REFLEX_EXEC_MEMFD;
	}
	return flags;
}

#endif
