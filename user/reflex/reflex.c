// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex: the operator's CLI. `reflex status`, `reflex config check FILE`, `reflex triage ...`. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "pools.h"
#include "status_client.h"
#include "triage.h"

#define REFLEX_VERSION "0.1.0"
#define DEFAULT_ADDRESS "127.0.0.1:9464"

static const char usage[] =
	"Usage: reflex COMMAND [OPTIONS]\n"
	"\n"
	"Commands:\n"
	"  status [--address HOST:PORT] [--json]\n"
	"        active hooks, counters and containers of the local reflexd\n"
	"        (default address " DEFAULT_ADDRESS ", agent.metrics_address)\n"
	"  config check FILE\n"
	"        validate a config file; prints a summary, or FILE:LINE: what is wrong\n"
	"  triage events|classify|fix|verify|report [OPTIONS]\n"
	"        the Falco triage runbook: pull events (VictoriaLogs, audit log, alerts file),\n"
	"        classify against rules/baseline.yaml, fix (image bake or a scoped exception),\n"
	"        verify they stopped, report (reflex triage COMMAND --help)\n"
	"  version\n"
	"  help\n"
	"\n"
	"Exit status: 0 success, 1 failure (the message says which), 2 usage error,\n"
	"3 events remain (triage verify, triage report).\n";

static int cmd_status(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "address", required_argument, NULL, 'a' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *address = DEFAULT_ADDRESS;
	char err[512], *body = NULL;
	bool json = false;
	int opt, r;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "a:jh", opts, NULL)) != -1) {
		switch (opt) {
		case 'a':
			address = optarg;
			break;
		case 'j':
			json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reflex status: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	r = status_fetch(address, &body, err, sizeof(err));
	if (r) {
		fprintf(stderr, "reflex status: %s\n", err);
		return 1;
	}
	if (json) {
		fputs(body, stdout);
		fputc('\n', stdout);
	} else if (status_print(stdout, body, err, sizeof(err))) {
		fprintf(stderr, "reflex status: %s\n", err);
		free(body);
		return 1;
	}
	free(body);
	return 0;
}

static void print_list(const char *name, char **items, size_t n)
{
	printf("  %-20s", name);
	if (!n)
		printf(" (none)");
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : " ", items[i]);
	printf("\n");
}

static int cmd_config_check(const char *path)
{
	struct reflex_config *c = NULL;
	char err[512];

	if (config_load(path, &c, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	printf("%s: valid\n", c->path);
	printf("  %-20s %s\n", "dryrun", c->dryrun ? "true" : "false");
	print_list("allowed_namespaces", c->allowed_namespaces, c->n_allowed_namespaces);
	print_list("denied_namespaces", c->denied_namespaces, c->n_denied_namespaces);
	print_list("protected_owners", c->protected_owners, c->n_protected_owners);
	printf("  rules:\n");
	for (size_t i = 0; i < c->n_rules; i++)
		printf("    %-55s %-17s%s\n", c->rules[i].name, action_name(c->rules[i].action),
		       c->rules[i].dryrun == TRISTATE_TRUE   ? " dryrun"
		       : c->rules[i].dryrun == TRISTATE_UNSET && c->dryrun ? " dryrun (global)"
									     : "");
	printf("  exceptions: %zu\n", c->n_exceptions);
	printf("  agent: node %s, kernel enforcement %s, unknown owners %s, audit log %s, http %s\n",
	       c->agent.node_name, c->agent.enforce_in_kernel ? "on" : "off",
	       c->agent.unknown_owner == UNKNOWN_OWNER_ALLOW ? "allowed" : "refused",
	       c->agent.audit_log && *c->agent.audit_log ? c->agent.audit_log : "(none)",
	       c->agent.metrics_address && *c->agent.metrics_address ? c->agent.metrics_address : "(off)");
	{
		struct pool_lists pools = { 0 };
		char desc[512], perr[512];

		if (pool_lists_assemble(c->agent.pool_lists_builtin, c->agent.pool_lists, &pools, desc, sizeof(desc),
					perr, sizeof(perr)))
			printf("  warning: pool lists: %s (here; the node reads its own copy)\n", perr);
		printf("  pools: %s; %zu CIDRs from agent.pool_cidrs\n", desc, c->agent.n_pool_cidrs);
		pool_lists_clear(&pools);
	}
	if (!config_find_rule(c, c->agent.exec_rule))
		printf("  warning: agent.exec_rule '%s' has no entry in rules: kernel detections only alert\n",
		       c->agent.exec_rule);
	config_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(usage, stdout);
		return 0;
	}
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("reflex %s\n", REFLEX_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "status"))
		return cmd_status(argc - 1, argv + 1);
	if (!strcmp(argv[1], "triage"))
		return triage_main(argc - 1, argv + 1, stdout, stderr);
	if (!strcmp(argv[1], "config")) {
		if (argc == 4 && !strcmp(argv[2], "check"))
			return cmd_config_check(argv[3]);
		fputs("Usage: reflex config check FILE\n", stderr);
		return 2;
	}
	fprintf(stderr, "reflex: unknown command '%s'\n\n%s", argv[1], usage);
	return 2;
}
