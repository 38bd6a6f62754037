// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflexd: the node agent. Parses options, loads the config, runs the agent. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/libbpf.h>

#include "agent.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define REFLEX_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/reflex/config.yaml"

static const char usage[] =
	"Usage: reflexd [OPTIONS]\n"
	"Kill dropped binaries in containers from the kernel, and say what was done.\n"
	"\n"
	"  -c, --config FILE           config file (default " DEFAULT_CONFIG ")\n"
	"  -n, --node NAME             node name in audit records (agent.node_name)\n"
	"      --dry-run               decide and audit, kill nothing (dryrun: true)\n"
	"      --no-kernel-enforce     never kill from the kernel (agent.enforce_in_kernel: false)\n"
	"      --no-exec-deny          kill at exec, never refuse it with BPF LSM\n"
	"                              (agent.deny_exec_in_kernel: false)\n"
	"      --metrics-address ADDR  HTTP endpoints, HOST:PORT; \"\" disables (agent.metrics_address)\n"
	"      --audit-log FILE        audit file; \"\" disables (agent.audit_log)\n"
	"      --cgroup-root DIR       cgroup v2 mount (agent.cgroup_root; default from mountinfo)\n"
	"      --containerd-root DIR   containerd state root; repeat for several (agent.containerd_roots)\n"
	"      --crio-root DIR         CRI-O storage root (agent.crio_root)\n"
	"      --unknown-owner MODE    allow|refuse kills when a pod's owner is unknown\n"
	"      --log-level LEVEL       error|warn|info|debug (agent.log_level)\n"
	"  -v, --verbose               same as --log-level debug, with libbpf's own output\n"
	"  -h, --help                  this text\n"
	"  -V, --version               print the version\n"
	"\n"
	"Options override the config file. SIGHUP reloads the config; SIGTERM stops\n"
	"and detaches every hook. Audit records (JSON lines) go to stdout and the audit log.\n";

enum {
	OPT_DRY_RUN = 0x100,
	OPT_NO_KERNEL_ENFORCE,
	OPT_NO_EXEC_DENY,
	OPT_METRICS_ADDRESS,
	OPT_AUDIT_LOG,
	OPT_CGROUP_ROOT,
	OPT_CONTAINERD_ROOT,
	OPT_CRIO_ROOT,
	OPT_UNKNOWN_OWNER,
	OPT_LOG_LEVEL,
	OPT_FORCE_RAW_TP,
	OPT_FORCE_CGROUP_V1_KILL,
};

static const struct option options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "node", required_argument, NULL, 'n' },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "no-kernel-enforce", no_argument, NULL, OPT_NO_KERNEL_ENFORCE },
	{ "no-exec-deny", no_argument, NULL, OPT_NO_EXEC_DENY },
	{ "metrics-address", required_argument, NULL, OPT_METRICS_ADDRESS },
	{ "audit-log", required_argument, NULL, OPT_AUDIT_LOG },
	{ "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
	{ "containerd-root", required_argument, NULL, OPT_CONTAINERD_ROOT },
	{ "crio-root", required_argument, NULL, OPT_CRIO_ROOT },
	{ "unknown-owner", required_argument, NULL, OPT_UNKNOWN_OWNER },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	/* For tests: behave as on kernels that lack a feature. */
	{ "force-raw-tp", no_argument, NULL, OPT_FORCE_RAW_TP },
	{ "force-cgroup-v1-kill", no_argument, NULL, OPT_FORCE_CGROUP_V1_KILL },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ 0 },
};


static bool verbose_libbpf;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char buf[512];
	char *nl;

	if (level == LIBBPF_DEBUG && !verbose_libbpf)
		return 0;
	if (verbose_libbpf)
		return vfprintf(stderr, fmt, ap);
	/* The verifier log is one huge message: keep its first line, point at -v. */
	vsnprintf(buf, sizeof(buf), fmt, ap);
	nl = strchr(buf, '\n');
	if (strstr(buf, "BEGIN PROG LOAD LOG") && nl) {
		*nl = '\0';
		log_msg(level == LIBBPF_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_INFO,
			"libbpf: %s (verifier log hidden; run with -v)", buf);
		return 0;
	}
	if (nl && nl[1] == '\0')
		*nl = '\0';
	log_msg(level == LIBBPF_WARN ? LOG_LEVEL_WARN : LOG_LEVEL_INFO, "libbpf: %s", buf);
	return 0;
}

static int level_from_name(const char *name, enum log_level *ret)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (name && strcmp(name, names[i]) == 0) {
			*ret = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

/*
 * The command line into AOPTS, O and *VERBOSE. -1: go on; else the exit
 * status (--help, --version, or a bad option, said on stderr).
 */
static int parse_options(int argc, char **argv, struct agent_opts *aopts, struct config_overrides *o,
			 bool *verbose)
{
	enum log_level level;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:n:vhV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			aopts->config_path = optarg;
			break;
		case 'n':
			o->node = optarg;
			break;
		case OPT_DRY_RUN:
			o->dry_run = true;
			break;
		case OPT_NO_KERNEL_ENFORCE:
			o->no_kernel_enforce = true;
			break;
		case OPT_NO_EXEC_DENY:
			o->no_exec_deny = true;
			break;
		case OPT_METRICS_ADDRESS:
			o->metrics_address = optarg;
			break;
		case OPT_AUDIT_LOG:
			o->audit_log = optarg;
			break;
		case OPT_CGROUP_ROOT:
			o->cgroup_root = optarg;
			break;
		case OPT_CONTAINERD_ROOT:
			if (o->n_containerd_roots == ARRAY_SIZE(o->containerd_roots)) {
				fprintf(stderr, "reflexd: at most 8 --containerd-root\n");
				return 2;
			}
			o->containerd_roots[o->n_containerd_roots++] = optarg;
			break;
		case OPT_CRIO_ROOT:
			o->crio_root = optarg;
			break;
		case OPT_UNKNOWN_OWNER:
			if (strcmp(optarg, "allow") && strcmp(optarg, "refuse")) {
				fprintf(stderr, "reflexd: --unknown-owner takes allow or refuse, not '%s'\n", optarg);
				return 2;
			}
			o->unknown_owner = optarg;
			break;
		case OPT_LOG_LEVEL:
			if (level_from_name(optarg, &level)) {
				fprintf(stderr, "reflexd: --log-level takes error, warn, info or debug, not '%s'\n",
					optarg);
				return 2;
			}
			o->log_level = optarg;
			break;
		case OPT_FORCE_RAW_TP:
			aopts->force_raw_tp = true;
			break;
		case OPT_FORCE_CGROUP_V1_KILL:
			aopts->force_cgroup_v1_kill = true;
			break;
		case 'v':
			*verbose = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("reflexd %s (libbpf %s)\n", REFLEX_VERSION, libbpf_version_string());
			return 0;
		default:
			fputs("Try 'reflexd --help'.\n", stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reflexd: unexpected argument '%s'; try 'reflexd --help'\n", argv[optind]);
		return 2;
	}
	return -1;
}

/* The config file with the command line's overrides; NULL when it cannot be had (said on stderr). */
static struct reflex_config *load_config(const char *path, const struct config_overrides *o)
{
	struct reflex_config *config = NULL;
	char err_msg[512];
	int err;

	err = config_load(path, &config, err_msg, sizeof(err_msg));
	if (err) {
		fprintf(stderr, "reflexd: %s\n", err_msg);
		return NULL;
	}
	err = config_apply_overrides(config, o);
	if (err) {
		fprintf(stderr, "reflexd: %s\n", strerror(-err));
		config_free(config);
		return NULL;
	}
	return config;
}

/* The log level from the config (-v: debug, with libbpf's own output). */
static void set_logging(const struct reflex_config *config, bool verbose)
{
	enum log_level level;

	if (level_from_name(config->agent.log_level, &level))
		level = LOG_LEVEL_INFO;
	if (verbose)
		level = LOG_LEVEL_DEBUG;
	log_set_level(level);
	verbose_libbpf = verbose;
	libbpf_set_print(libbpf_print);
}

int main(int argc, char **argv)
{
	struct agent_opts aopts = { .config_path = DEFAULT_CONFIG };
	struct config_overrides o = { 0 };
	struct reflex_config *config;
	struct agent *agent = NULL;
	bool verbose = false;
	char words[512];
	int err;

	err = parse_options(argc, argv, &aopts, &o, &verbose);
	if (err >= 0)
		return err;
	config = load_config(aopts.config_path, &o);
	if (!config)
		return 1;
	set_logging(config, verbose);

	/* Audit lines go to stdout; line-buffer it so a pipe sees each at once. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	log_info("reflexd %s starting: config %s, node %s, dryrun %s, kernel enforcement %s",
		 REFLEX_VERSION, config->path, config->agent.node_name, config->dryrun ? "on" : "off",
		 config->agent.enforce_in_kernel ? "on" : "off");
	log_info("command-line overrides in force (kept on every reload): %s",
		 config_overrides_describe(&o, words, sizeof(words)));
	aopts.overrides = o;
	err = agent_start(config, &aopts, &agent);
	if (err) {
		log_errno(LOG_LEVEL_ERROR, err, "reflexd could not start");
		return 1;
	}
	err = agent_run(agent);
	agent_stop(agent);
	log_info("reflexd stopped%s", err ? " after an error" : "; every hook detached");
	return err ? 1 : 0;
}
