// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * reflexd's command-line options over config keys: applied after every load,
 * so a reload never undoes them, and described for the log.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "yaml_doc.h"

int config_apply_overrides(struct reflex_config *c, const struct config_overrides *o)
{
	struct agent_config *ac = &c->agent;
	int err = 0;

	if (o->dry_run) {
		c->dryrun = true;
		/* "Kill nothing": a rule's own dryrun: false does not win over the command line. */
		for (size_t i = 0; i < c->n_rules; i++)
			if (c->rules[i].dryrun == TRISTATE_FALSE)
				c->rules[i].dryrun = TRISTATE_UNSET;
	}
	if (o->no_kernel_enforce)
		ac->enforce_in_kernel = false;
	if (o->no_exec_deny)
		ac->deny_exec_in_kernel = false;
	if (o->node)
		err = err ?: ydoc_set_string(&ac->node_name, o->node);
	if (o->metrics_address)
		err = err ?: ydoc_set_string(&ac->metrics_address, o->metrics_address);
	if (o->audit_log)
		err = err ?: ydoc_set_string(&ac->audit_log, o->audit_log);
	if (o->cgroup_root)
		err = err ?: ydoc_set_string(&ac->cgroup_root, o->cgroup_root);
	if (o->crio_root)
		err = err ?: ydoc_set_string(&ac->crio_root, o->crio_root);
	if (o->log_level)
		err = err ?: ydoc_set_string(&ac->log_level, o->log_level);
	if (o->unknown_owner)
		ac->unknown_owner = strcmp(o->unknown_owner, "allow") == 0 ? UNKNOWN_OWNER_ALLOW : UNKNOWN_OWNER_REFUSE;
	if (o->n_containerd_roots) {
		char **roots = calloc(o->n_containerd_roots, sizeof(*roots));

		if (!roots)
			return -ENOMEM;
		for (size_t i = 0; i < o->n_containerd_roots; i++) {
			roots[i] = strdup(o->containerd_roots[i]);
			if (!roots[i])
				err = -ENOMEM;
		}
		for (size_t i = 0; i < ac->n_containerd_roots; i++)
			free(ac->containerd_roots[i]);
		free(ac->containerd_roots);
		ac->containerd_roots = roots;
		ac->n_containerd_roots = o->n_containerd_roots;
	}
	return err;
}

/* Appends one space-separated word group to BUF; stops quietly when it is full. */
__attribute__((format(printf, 4, 5))) static void ov_add(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*len + 1 >= size)
		return;
	if (*len)
		buf[(*len)++] = ' ';
	buf[*len] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len = (size_t)n < size - *len ? *len + (size_t)n : size - 1;
}

char *config_overrides_describe(const struct config_overrides *o, char *buf, size_t size)
{
	size_t len = 0;

	if (!size)
		return buf;
	buf[0] = '\0';
	if (o->dry_run)
		ov_add(buf, size, &len, "--dry-run");
	if (o->no_kernel_enforce)
		ov_add(buf, size, &len, "--no-kernel-enforce");
	if (o->no_exec_deny)
		ov_add(buf, size, &len, "--no-exec-deny");
	if (o->unknown_owner)
		ov_add(buf, size, &len, "--unknown-owner %s", o->unknown_owner);
	if (o->node)
		ov_add(buf, size, &len, "--node %s", o->node);
	if (o->metrics_address)
		ov_add(buf, size, &len, "--metrics-address '%s'", o->metrics_address);
	if (o->audit_log)
		ov_add(buf, size, &len, "--audit-log '%s'", o->audit_log);
	if (o->cgroup_root)
		ov_add(buf, size, &len, "--cgroup-root %s", o->cgroup_root);
	for (size_t i = 0; i < o->n_containerd_roots; i++)
		ov_add(buf, size, &len, "--containerd-root %s", o->containerd_roots[i]);
	if (o->crio_root)
		ov_add(buf, size, &len, "--crio-root %s", o->crio_root);
	if (o->log_level)
		ov_add(buf, size, &len, "--log-level %s", o->log_level);
	if (!len)
		snprintf(buf, size, "none");
	return buf;
}
