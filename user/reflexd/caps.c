// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "caps.h"
#include "util.h"

const struct caps_kept caps_agent_keeps[] = {
	{ CAP_KILL, "cap_kill", "pidfd_send_signal to container processes of any uid" },
	{ CAP_SYS_PTRACE, "cap_sys_ptrace", "/proc/PID/exe and /proc/PID/root of other users' processes" },
	{ CAP_DAC_READ_SEARCH, "cap_dac_read_search", "open_by_handle_at: a cgroup id to its directory" },
	/* Before 6.4 (and with unprivileged_bpf_disabled) every bpf() command needs it, map updates included. */
	{ CAP_BPF, "cap_bpf", "verdict and pool map updates on kernels that check it for every bpf() command" },
};
const size_t caps_agent_keeps_len = ARRAY_SIZE(caps_agent_keeps);

uint64_t caps_agent_mask(void)
{
	uint64_t mask = 0;

	for (size_t i = 0; i < caps_agent_keeps_len; i++)
		mask |= 1ULL << caps_agent_keeps[i].cap;
	return mask;
}

/* The highest capability this kernel knows (CAP_LAST_CAP of the running kernel). */
static int last_cap(void)
{
	int last = CAP_LAST_CAP;

	/* A newer kernel may know more than our headers: PR_CAPBSET_READ says where they end. */
	while (last < 63 && prctl(PR_CAPBSET_READ, last + 1, 0, 0, 0) >= 0)
		last++;
	return last;
}

int caps_reduce_to(uint64_t keep)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };
	int last = last_cap();

	/* The bounding set first: it needs CAP_SETPCAP, which the capset below gives up. */
	for (int cap = 0; cap <= last; cap++) {
		if (keep & (1ULL << cap))
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno != EINVAL)
			return -errno;
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) && errno != EINVAL)
		return -errno;
	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	for (int i = 0; i < 2; i++) {
		uint32_t k = (uint32_t)(keep >> (32 * i));

		data[i].effective &= k;
		data[i].permitted &= k;
		data[i].inheritable = 0;
	}
	if (syscall(SYS_capset, &hdr, data))
		return -errno;
	return 0;
}

int caps_effective(uint64_t *ret)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2] = { { 0 } };

	if (syscall(SYS_capget, &hdr, data))
		return -errno;
	*ret = (uint64_t)data[0].effective | (uint64_t)data[1].effective << 32;
	return 0;
}
