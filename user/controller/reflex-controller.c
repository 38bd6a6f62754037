// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* reflex-controller: options, config, signals; the work is in controller.c and what it starts. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "config.h"
#include "controller.h"
#include "log.h"

#define REFLEX_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/reflex/config.yaml"

static const char usage[] =
	"Usage: reflex-controller [OPTIONS]\n"
	"Delete pods and isolate namespaces for Falco alerts and reflex agent reports,\n"
	"behind the same safeguards as the agent, and audit every decision.\n"
	"\n"
	"  -c, --config FILE          config file (default " DEFAULT_CONFIG "); its controller: section\n"
	"      --listen ADDR          HOST:PORT for /alert, /healthz, /readyz, /metrics (controller.listen_address)\n"
	"      --token-file FILE      X-Falco-Token expected on /alert; \"\" accepts any (controller.token_file)\n"
	"      --api-url URL          Kubernetes API outside a pod (controller.kubernetes_api)\n"
	"      --api-token-file FILE  bearer token for the API, re-read on every request\n"
	"      --api-ca-file FILE     CA bundle that verifies the API server\n"
	"      --audit-spool-dir DIR  undelivered audit records (controller.audit_spool_dir)\n"
	"      --dry-run              decide and audit (DRY_RUN), act on nothing\n"
	"      --log-level LEVEL      error|warn|info|debug (controller.log_level)\n"
	"  -h, --help                 this text\n"
	"  -V, --version              print the version\n"
	"\n"
	"SIGHUP reloads the config (an invalid file is refused, the old one stays);\n"
	"SIGTERM stops after giving pending audit records 5 s to reach Graylog.\n"
	"Audit records (JSON lines) go to stdout and, through a durable spool, to Graylog.\n";

enum {
	OPT_LISTEN = 0x100,
	OPT_TOKEN_FILE,
	OPT_API_URL,
	OPT_API_TOKEN_FILE,
	OPT_API_CA_FILE,
	OPT_AUDIT_SPOOL_DIR,
	OPT_DRY_RUN,
	OPT_LOG_LEVEL,
};

static const struct option options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "api-url", required_argument, NULL, OPT_API_URL },
	{ "api-token-file", required_argument, NULL, OPT_API_TOKEN_FILE },
	{ "api-ca-file", required_argument, NULL, OPT_API_CA_FILE },
	{ "audit-spool-dir", required_argument, NULL, OPT_AUDIT_SPOOL_DIR },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int level_of(const char *name, enum log_level *ret)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++)
		if (!strcmp(name, names[i])) {
			*ret = (enum log_level)i;
			return 0;
		}
	return -EINVAL;
}

/*
 * The command line into *CONFIG_PATH, *LOG_LEVEL and OPTS. -1 to go on,
 * else the exit status (--help, --version, a usage error).
 */
static int parse_args(int argc, char **argv, const char **config_path, const char **log_level,
		      struct controller_opts *opts)
{
	enum log_level level;
	int opt;

	while ((opt = getopt_long(argc, argv, "c:hV", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			*config_path = optarg;
			break;
		case OPT_LISTEN:
			opts->listen_address = optarg;
			break;
		case OPT_TOKEN_FILE:
			opts->token_file = optarg;
			break;
		case OPT_API_URL:
			opts->api_url = optarg;
			break;
		case OPT_API_TOKEN_FILE:
			opts->api_token_file = optarg;
			break;
		case OPT_API_CA_FILE:
			opts->api_ca_file = optarg;
			break;
		case OPT_AUDIT_SPOOL_DIR:
			opts->audit_spool_dir = optarg;
			break;
		case OPT_DRY_RUN:
			opts->dry_run = true;
			break;
		case OPT_LOG_LEVEL:
			*log_level = optarg;
			if (level_of(optarg, &level)) {
				fprintf(stderr, "reflex-controller: --log-level: expected error, warn, info or debug\n");
				return 2;
			}
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		case 'V':
			printf("reflex-controller %s\n", REFLEX_VERSION);
			return 0;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "reflex-controller: unexpected argument '%s'\n%s", argv[optind], usage);
		return 2;
	}
	return -1;
}

/* Until SIGTERM or SIGINT: SIGHUP reloads CONFIG_PATH into *CONFIG (a bad file is refused). */
static int serve(struct controller *c, const char *config_path, struct reflex_config **config, sigset_t *sigs)
{
	char err[512];
	int sig;

	for (;;) {
		struct reflex_config *fresh = NULL;

		if (sigwait(sigs, &sig))
			continue;
		if (sig != SIGHUP)
			return sig;
		if (config_load(config_path, &fresh, err, sizeof(err)) < 0) {
			log_error("reload refused, the running config stays: %s", err);
			continue;
		}
		controller_set_config(c, fresh);
		config_free(*config);
		*config = fresh;
		log_info("reload: %s applied", config_path);
	}
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG, *log_level = NULL;
	struct controller_opts opts = { .dry_run = false };
	struct reflex_config *config = NULL;
	struct controller *c;
	enum log_level level;
	char err[512];
	sigset_t sigs;
	int sig, r;

	r = parse_args(argc, argv, &config_path, &log_level, &opts);
	if (r >= 0)
		return r;
	r = config_load(config_path, &config, err, sizeof(err));
	if (r < 0) {
		fprintf(stderr, "reflex-controller: %s\n", err);
		return 1;
	}
	if (level_of(log_level ? log_level : config->controller.log_level, &level) == 0)
		log_set_level(level);
	if (!config->has_controller_section)
		log_warn("%s has no controller: section; using the defaults", config_path);
	if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
		log_error("libcurl failed to initialise");
		config_free(config);
		return 1;
	}
	/* Signals are taken synchronously below; threads started later inherit the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	r = controller_start(config, &opts, &c);
	if (r < 0) {
		log_errno(LOG_LEVEL_ERROR, r, "reflex-controller could not start");
		config_free(config);
		curl_global_cleanup();
		return 1;
	}
	sig = serve(c, config_path, &config, &sigs);
	log_info("reflex-controller: stopping (signal %d)", sig);
	controller_stop(c, 5000);
	config_free(config);
	curl_global_cleanup();
	return 0;
}
