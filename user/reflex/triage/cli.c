// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The CLI: `reflex triage SUBCOMMAND` usage, options and their checks, and
 * triage_main, which runs one command.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "internal.h"
#include "util.h"

/* Messages end up on a terminal: one line of printable ASCII whatever the input held. */
static void printable_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

#define SOURCE_HELP                                                                                        \
	"Source (one; default --victorialogs $REFLEX_VICTORIALOGS_URL):\n"                                     \
	"  --victorialogs URL   VictoriaLogs (http://host:9428); POSTs /select/logsql/query\n"                  \
	"  --audit-log FILE     reflex's audit log (JSON lines)\n"                                              \
	"  --alerts FILE        Falco alerts, one JSON object a line (json_output), '-' for stdin\n"           \
	"  --timeout SECONDS    VictoriaLogs request timeout (default 10)\n"                                   \
	"  --limit N            at most N events from VictoriaLogs (default 10000)\n"
#define FILTER_HELP                                                                                        \
	"Filters:\n"                                                                                          \
	"  --rule RULE          the exact Falco rule name\n"                                                    \
	"  --namespace NS       the event's Kubernetes namespace (k8s.ns.name)\n"                               \
	"  --priority P         Falco priority, e.g. Critical\n"
#define BASELINE_HELP \
	"  --baseline FILE      benign patterns (default rules/baseline.yaml, else /etc/reflex/baseline.yaml)\n"
#define JSON_HELP "  --json               one JSON document instead of text\n"

static const char *const sub_names[] = { "events", "classify", "fix", "verify", "report" };

static const char *const sub_usage[] = {
	[SUB_EVENTS] = "Usage: reflex triage events [SOURCE] [--rule R] [--namespace NS] [--since 24h] [--json]\n"
		       "Pull Falco events and show them grouped by rule, namespace, pod and exe, newest first,\n"
		       "with counts and the query that was run. --since defaults to 24h for VictoriaLogs and to\n"
		       "the whole file for files.\n\n" SOURCE_HELP FILTER_HELP
		       "  --since DURATION     5m, 24h, 1h30m, 7d\n" JSON_HELP,
	[SUB_CLASSIFY] = "Usage: reflex triage classify [SOURCE] [--rule R] [--namespace NS] [--since 24h]\n"
			 "                              [--baseline FILE] [--json]\n"
			 "Classify each event against the baseline: benign-true-positive, real or unknown, and why.\n"
			 "Unknown is treated as real: escalate it to a security review.\n\n" SOURCE_HELP FILTER_HELP
			 "  --since DURATION     5m, 24h, 1h30m, 7d\n" BASELINE_HELP JSON_HELP,
	[SUB_FIX] = "Usage: reflex triage fix [SOURCE] [--rule R] [--namespace NS] [--since 24h]\n"
		    "                         [--baseline FILE] [--json]\n"
		    "For benign events: bake the binary into a digest-pinned image (preferred), else the narrowest\n"
		    "exception (namespace + exe path, + image), as a Falco rules override and a reflex config\n"
		    "exception. Never disables a rule; real and unknown events get no fix.\n\n" SOURCE_HELP
			    FILTER_HELP "  --since DURATION     5m, 24h, 1h30m, 7d\n" BASELINE_HELP JSON_HELP,
	[SUB_VERIFY] = "Usage: reflex triage verify --rule R --namespace NS [SOURCE] [--since 5m] [--json]\n"
		       "Run the query again for the rule in the namespace: exit 0 when no event remains,\n"
		       "3 when some do.\n\n" SOURCE_HELP FILTER_HELP "  --since DURATION     window (default 5m)\n" JSON_HELP,
	[SUB_REPORT] = "Usage: reflex triage report --rule R --namespace NS [SOURCE] [--since 24h]\n"
		       "                            [--verify-since 5m] [--baseline FILE] [--json]\n"
		       "events -> classify -> fix -> verify for one rule in one namespace, with a one-line\n"
		       "gotcha for the team's notes. Exit 0, or 3 when verify still finds events.\n\n" SOURCE_HELP
			       FILTER_HELP "  --since DURATION     events window (default 24h; files: whole file)\n"
				       "  --verify-since D     verify window (default 5m)\n" BASELINE_HELP JSON_HELP,
};

static const char triage_usage[] =
	"Usage: reflex triage COMMAND [OPTIONS]   (reflex triage COMMAND --help for each)\n"
	"  events     pull Falco events, grouped by rule, namespace, pod and exe, newest first\n"
	"  classify   benign-true-positive, real or unknown against rules/baseline.yaml, with why\n"
	"  fix        image bake (preferred) or the narrowest scoped exception, never disabling a rule\n"
	"  verify     --rule R --namespace NS: exit 0 when the events stopped, 3 when they did not\n"
	"  report     the whole runbook for one rule and namespace\n"
	"Sources: --victorialogs URL (default $REFLEX_VICTORIALOGS_URL), --audit-log FILE, --alerts FILE.\n"
	"Exit status: 0 success, 1 failure, 2 usage error, 3 events remain (verify, report).\n";

__attribute__((format(printf, 2, 3))) static int usage_error(struct cli *c, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	printable_line(msg);
	fprintf(c->err, "reflex triage %s: %s (see reflex triage %s --help)\n", c->name, msg, c->name);
	return 2;
}

int cli_error(struct cli *c, const char *msg)
{
	char line[2048];

	snprintf(line, sizeof(line), "%s", msg);
	printable_line(line);
	fprintf(c->err, "reflex triage %s: %s\n", c->name, line);
	return 1;
}

/*
 * One option OPT (its value in optarg; ARGV for messages) into C, counting
 * sources in *N_SOURCES: 0, -1 after --help, or the usage exit status.
 */
static int cli_option(struct cli *c, int opt, char **argv, int *n_sources)
{
	int64_t secs;
	char *end;

	switch (opt) {
	case 'V':
	case 'A':
	case 'F':
		(*n_sources)++;
		c->src.kind = opt == 'V' ? TRIAGE_SOURCE_VICTORIALOGS
			      : opt == 'A' ? TRIAGE_SOURCE_AUDIT_LOG
					   : TRIAGE_SOURCE_ALERTS;
		c->src.location = optarg;
		if (!*optarg)
			return usage_error(c, "an empty source");
		break;
	case 'r':
		if (!*optarg)
			return usage_error(c, "--rule is empty");
		c->q.rule = optarg;
		break;
	case 'n':
		if (!*optarg)
			return usage_error(c, "--namespace is empty");
		c->q.namespace_ = optarg;
		break;
	case 'p':
		if (!(c->q.priority = triage_priority_name(optarg)))
			return usage_error(c, "'%s' is not a Falco priority (Emergency ... Critical ... Debug)",
					   optarg);
		break;
	case 's':
	case 'S':
		if (triage_parse_duration(optarg, &secs))
			return usage_error(c, "'%s' is not a duration (e.g. 5m, 24h, 1h30m, 7d)", optarg);
		if (opt == 'S' && c->sub != SUB_REPORT)
			return usage_error(c, "--verify-since is for report");
		if (opt == 's')
			c->q.since = optarg;
		else
			c->verify_since = optarg;
		break;
	case 'l': {
		unsigned long v;

		errno = 0;
		v = strtoul(optarg, &end, 10);
		if (errno || *end || end == optarg || optarg[0] == '-' || v == 0 || v > TRIAGE_MAX_LIMIT)
			return usage_error(c, "--limit '%s': expected 1 to %u", optarg, TRIAGE_MAX_LIMIT);
		c->q.limit = (unsigned int)v;
		break;
	}
	case 'b':
		if (c->sub == SUB_EVENTS || c->sub == SUB_VERIFY)
			return usage_error(c, "--baseline is for classify, fix and report");
		c->baseline = optarg;
		break;
	case 't': {
		double v;

		errno = 0;
		v = strtod(optarg, &end);
		if (errno || *end || end == optarg || !(v > 0 && v <= 3600))
			return usage_error(c, "--timeout '%s': expected seconds, more than 0 and at most 3600", optarg);
		c->src.timeout_ms = v * 1000 < 1 ? 1 : (unsigned int)(v * 1000);
		break;
	}
	case 'j':
		c->json = true;
		break;
	case 'h':
		fputs(sub_usage[c->sub], c->out);
		return -1;
	case ':':
		return usage_error(c, "option '%s' needs a value", argv[optind - 1]);
	default:
		return usage_error(c, "unknown option '%s'", argv[optind - 1]);
	}
	return 0;
}

/* After the options: one source (else $REFLEX_VICTORIALOGS_URL), what the subcommand needs, the defaults. */
static int cli_check(struct cli *c, int n_sources)
{
	if (n_sources > 1)
		return usage_error(c, "give one source: --victorialogs, --audit-log or --alerts");
	if (!n_sources) {
		const char *env = getenv("REFLEX_VICTORIALOGS_URL");

		if (!env || !*env)
			return usage_error(c, "no event source: give --victorialogs URL (or set REFLEX_VICTORIALOGS_URL), "
					      "--audit-log FILE or --alerts FILE");
		c->src.kind = TRIAGE_SOURCE_VICTORIALOGS;
		c->src.location = env;
	}
	if ((c->sub == SUB_VERIFY || c->sub == SUB_REPORT) && (!c->q.rule || !c->q.namespace_))
		return usage_error(c, "%s needs --rule and --namespace", c->name);
	if (c->sub == SUB_VERIFY && !c->q.since)
		c->q.since = TRIAGE_DEFAULT_VERIFY_SINCE;
	if (!c->q.since && c->src.kind == TRIAGE_SOURCE_VICTORIALOGS)
		c->q.since = TRIAGE_DEFAULT_SINCE;
	if (!c->verify_since)
		c->verify_since = TRIAGE_DEFAULT_VERIFY_SINCE;
	return 0;
}

static int parse_cli(struct cli *c, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "victorialogs", required_argument, NULL, 'V' },
		{ "audit-log", required_argument, NULL, 'A' },
		{ "alerts", required_argument, NULL, 'F' },
		{ "rule", required_argument, NULL, 'r' },
		{ "namespace", required_argument, NULL, 'n' },
		{ "priority", required_argument, NULL, 'p' },
		{ "since", required_argument, NULL, 's' },
		{ "verify-since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "baseline", required_argument, NULL, 'b' },
		{ "timeout", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int n_sources = 0, opt, r;

	optind = 0; /* glibc: a full reset, argv may be parsed again */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":hjn:r:", opts, NULL)) != -1)
		if ((r = cli_option(c, opt, argv, &n_sources)))
			return r;
	if (optind < argc)
		return usage_error(c, "unexpected argument '%s'", argv[optind]);
	return cli_check(c, n_sources);
}

int cli_fetch(struct cli *c, const struct triage_query *q, struct triage_events *ev)
{
	char err[1024];

	if (triage_fetch(&c->src, q, ev, err, sizeof(err)))
		return cli_error(c, err);
	return 0;
}

int cli_load_baseline(struct cli *c, struct triage_baseline **b)
{
	static const char *const defaults[] = { "rules/baseline.yaml", "/etc/reflex/baseline.yaml" };
	const char *path = c->baseline;
	char err[1024];

	for (size_t i = 0; !path && i < ARRAY_SIZE(defaults); i++)
		if (!access(defaults[i], R_OK))
			path = defaults[i];
	if (!path)
		return cli_error(c, "no baseline: rules/baseline.yaml and /etc/reflex/baseline.yaml are not readable; "
				    "give --baseline FILE");
	if (triage_baseline_load(path, b, err, sizeof(err)))
		return cli_error(c, err);
	return 0;
}

int triage_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct cli c = { .out = out, .err = err };
	bool curl = false;
	int r;

	if (argc < 2) {
		fputs(triage_usage, err);
		return 2;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		fputs(triage_usage, out);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub_names) && !c.name; i++)
		if (!strcmp(argv[1], sub_names[i])) {
			c.sub = (enum sub)i;
			c.name = sub_names[i];
		}
	if (!c.name) {
		char shown[64];

		snprintf(shown, sizeof(shown), "%s", argv[1]);
		printable_line(shown);
		fprintf(err, "reflex triage: unknown command '%s'\n\n%s", shown, triage_usage);
		return 2;
	}
	r = parse_cli(&c, argc - 1, argv + 1);
	if (r)
		return r < 0 ? 0 : r;
	if (c.src.kind == TRIAGE_SOURCE_VICTORIALOGS) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT))
			return cli_error(&c, "libcurl failed to initialise");
		curl = true;
	}
	switch (c.sub) {
	case SUB_EVENTS:
		r = cmd_events(&c);
		break;
	case SUB_CLASSIFY:
		r = cmd_classify(&c, false);
		break;
	case SUB_FIX:
		r = cmd_classify(&c, true);
		break;
	case SUB_VERIFY:
		r = cmd_verify(&c);
		break;
	case SUB_REPORT:
	default:
		r = cmd_report(&c);
		break;
	}
	sb_free(&c.o);
	if (curl)
		curl_global_cleanup();
	return r;
}
