/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * reflex-controller: takes falcosidekick webhook bodies and agent reports on
 * POST /alert, applies the shared safeguards with owners walked through the
 * Kubernetes API, deletes pods (kill_pod) or isolates namespaces
 * (isolate_namespace), and audits every action, refusal and dry-run to
 * stdout and to Graylog (GELF) through a durable spool.
 */
#ifndef REFLEX_CONTROLLER_H
#define REFLEX_CONTROLLER_H

#include <stdbool.h>

#include "config.h"

struct controller_opts {
	const char *listen_address; /* overrides controller.listen_address */
	const char *api_url;        /* overrides controller.kubernetes_api */
	const char *api_token_file; /* overrides controller.kubernetes_token_file */
	const char *api_ca_file;    /* overrides controller.kubernetes_ca_file */
	const char *token_file;     /* overrides controller.token_file */
	const char *audit_spool_dir; /* overrides controller.audit_spool_dir */
	bool dry_run;               /* forces dry-run on every rule */
};

struct controller;

/*
 * Starts serving with CONFIG (owned by the caller, must outlive the
 * controller or be replaced with controller_set_config). 0 and *RET, or
 * -errno (what failed is logged).
 */
int controller_start(const struct reflex_config *config, const struct controller_opts *opts,
		     struct controller **ret);
/* Swaps the policy (SIGHUP). The old config may be freed after this returns. */
void controller_set_config(struct controller *c, const struct reflex_config *config);
unsigned short controller_port(const struct controller *c);
/* Waits up to TIMEOUT_MS for pending audit records to reach Graylog, then stops. NULL-safe. */
void controller_stop(struct controller *c, unsigned int timeout_ms);

#endif
