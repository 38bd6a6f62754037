/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * reflexd's event loop: kernel events -> attribution -> policy -> response
 * -> audit, with the per-cgroup kernel verdicts kept in step with policy.
 */
#ifndef REFLEX_AGENT_H
#define REFLEX_AGENT_H

#include <stdbool.h>

#include "config.h"

struct agent_opts {
	const char *config_path;
	/* Command-line overrides: applied again after every reload. */
	struct config_overrides overrides;
	bool force_raw_tp;         /* behave as on a kernel without tp_btf (tests) */
	bool force_cgroup_v1_kill; /* behave as on a kernel without cgroup.kill (tests) */
};

struct agent;

/*
 * Takes ownership of CONFIG. Loads the kernel programs, starts attribution,
 * the audit log and the HTTP endpoints. Returns 0 and *ret, or negative errno
 * (logged).
 */
int agent_start(struct reflex_config *config, const struct agent_opts *opts, struct agent **ret);
/* Runs until SIGTERM/SIGINT; SIGHUP reloads the config. Returns 0 or -errno. */
int agent_run(struct agent *a);
/* Accepts NULL; returns NULL. Detaches every hook. */
struct agent *agent_stop(struct agent *a);

#endif
