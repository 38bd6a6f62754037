/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * `reflex triage`: the Falco triage runbook as commands. Pull the events
 * (VictoriaLogs' LogsQL API, reflex's audit log, or a file of Falco alerts),
 * group them, classify each against a baseline of known benign patterns,
 * suggest the fix (image bake first, else the narrowest scoped exception;
 * never disabling a rule), verify that the events stopped, and report.
 *
 * Everything read here is untrusted (an attacker chooses cmdlines and paths):
 * text output replaces control bytes, YAML output double-quotes and escapes
 * every value, JSON goes through jansson.
 */
#ifndef REFLEX_TRIAGE_H
#define REFLEX_TRIAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define TRIAGE_DEFAULT_SINCE "24h"
#define TRIAGE_DEFAULT_VERIFY_SINCE "5m"
#define TRIAGE_DEFAULT_LIMIT 10000
#define TRIAGE_MAX_LIMIT 1000000
#define TRIAGE_DEFAULT_TIMEOUT_S 10
#define TRIAGE_BODY_MAX (64u << 20)
/* The engine version that introduced `override:` (Falco 0.37). */
#define TRIAGE_FALCO_ENGINE_VERSION "0.31.0"
#define TRIAGE_EXEC_RULE "Drop and execute new binary in container"

/* ---- events ------------------------------------------------------------- */

struct triage_event {
	/* Every string is malloc'd, or NULL when the source did not say. */
	int64_t time_ns;    /* 0 when unknown */
	char *time;         /* RFC 3339 as the source wrote it */
	char *rule;
	char *priority;     /* "Critical" */
	char *namespace_;   /* k8s.ns.name (never the log collector's kubernetes.namespace_name) */
	char *pod;
	char *exe_path;     /* proc.exepath */
	char *image;        /* repository[:tag] */
	char *container_id;
	char *cmdline;
	char *parent;       /* proc.pname */
	char *gparent;      /* proc.aname[2] */
	char *hostname;
	char *outcome;      /* reflex audit records only: killed, dry_run, ... */
	size_t seq;         /* input order: equal times keep it */
};

struct triage_events {
	struct triage_event *items; /* newest first once sorted */
	size_t n;
	size_t cap;
	char *query;   /* the LogsQL query sent, or the filter applied to a file */
	char *origin;  /* "VictoriaLogs http://...", "audit log FILE", "Falco alerts FILE" */
	bool truncated; /* the server returned as many events as the limit */
	size_t skipped; /* records that were not Falco events (no rule) */
};

enum triage_source_kind {
	TRIAGE_SOURCE_VICTORIALOGS = 0,
	TRIAGE_SOURCE_AUDIT_LOG,
	TRIAGE_SOURCE_ALERTS,
};

struct triage_source {
	enum triage_source_kind kind;
	const char *location;    /* base URL or file path */
	unsigned int timeout_ms; /* VictoriaLogs: the whole request; 0: TRIAGE_DEFAULT_TIMEOUT_S */
};

struct triage_query {
	const char *rule;       /* exact Falco rule name; NULL: any */
	const char *namespace_; /* exact; NULL: any */
	const char *priority;   /* as Falco writes it ("Critical"); NULL: any */
	const char *since;      /* LogsQL duration ("24h", "5m", "1h30m"); NULL: no time filter */
	unsigned int limit;     /* VictoriaLogs limit=; 0: TRIAGE_DEFAULT_LIMIT */
	int64_t now_ns;         /* "now" for file sources' --since; 0: the clock */
};

/* "24h", "90s", "1h30m", "2d", "1w" -> seconds. 0 or -EINVAL. */
int triage_parse_duration(const char *s, int64_t *ret_seconds);
/* RFC 3339 ("2025-11-21T03:00:04.112233445Z", offsets too) -> ns since the epoch. 0 or -EINVAL. */
int triage_parse_time(const char *s, int64_t *ret_ns);
/* "Critical" for "critical"/"CRITICAL"; NULL for a name Falco does not use. */
const char *triage_priority_name(const char *name);

/*
 * The LogsQL query for Q, e.g.
 *   _time:24h source:=syscall rule:="R" k8s_ns_name:="N" | sort by (_time desc)
 * Malloc'd into *RET; -EINVAL (ERR says why) for a value that cannot be quoted.
 */
int triage_logsql(const struct triage_query *q, char **ret, char *err, size_t errlen);

/*
 * Appends the Falco events of a /select/logsql/query answer (JSON lines) to
 * RET; records without a rule are counted in skipped. -EBADMSG and ERR for a
 * line that is not a JSON object (a proxy's login page, a cut answer).
 */
int triage_parse_victorialogs(const char *body, size_t len, struct triage_events *ret, char *err, size_t errlen);
/* Events of Q from SRC into RET (zeroed or cleared), newest first. 0, or -errno and ERR. */
int triage_fetch(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		 char *err, size_t errlen);
void triage_events_clear(struct triage_events *e);
/* Sorts newest first (unknown times last), stable. */
void triage_events_sort(struct triage_events *e);
/* Appends a deep copy of EV. 0 or -ENOMEM. */
int triage_events_add(struct triage_events *e, const struct triage_event *ev);

/* ---- grouping ----------------------------------------------------------- */

struct triage_group {
	/* Borrowed from the events: valid while they are. */
	const struct triage_event *newest;
	const char *rule, *namespace_, *pod, *exe_path;
	size_t count;
	int64_t newest_ns, oldest_ns;
	size_t *members;          /* indexes into the events, newest first */
	size_t n_members;
	const char **pods;        /* distinct pods, newest first */
	size_t n_pods;
};

struct triage_groups {
	struct triage_group *items;
	size_t n;
};

/*
 * Groups sorted events by rule, namespace, exe and (BY_POD) pod; groups
 * newest first, then by count, then by name.
 */
int triage_group(const struct triage_events *e, bool by_pod, struct triage_groups *ret);
void triage_groups_clear(struct triage_groups *g);

/* ---- baseline and classification --------------------------------------- */

enum triage_fix_kind {
	TRIAGE_FIX_NONE = 0,
	TRIAGE_FIX_IMAGE_BAKE,  /* preferred: the binary belongs in a digest-pinned image */
	TRIAGE_FIX_EXCEPTION,   /* the narrowest scoped exception */
};

struct triage_pattern {
	char *name;
	char *why;
	bool real;            /* an indicator of a real attack, not a benign pattern */
	char **rules;         /* exact Falco rule names; benign patterns name exactly one */
	size_t n_rules;
	/* Each list: one item must match (globs); every list given must match. */
	char **namespaces;
	size_t n_namespaces;
	char **pods;
	size_t n_pods;
	char **exe_paths;     /* benign: fnmatch FNM_PATHNAME; real: '*' crosses '/' */
	size_t n_exe_paths;
	char **images;
	size_t n_images;
	char **parents;       /* proc.pname or proc.aname[2] */
	size_t n_parents;
	char **cmdlines;
	size_t n_cmdlines;
	enum triage_fix_kind fix; /* benign only */
	char *package;        /* image bake: the package that provides the binary */
	size_t line;
};

struct triage_baseline {
	char *path;
	struct triage_pattern *benign;
	size_t n_benign;
	struct triage_pattern *real;
	size_t n_real;
};

/* Reads and validates a baseline file; errors are "FILE:LINE: what". 0 or -errno. */
int triage_baseline_load(const char *path, struct triage_baseline **ret, char *err, size_t errlen);
int triage_baseline_parse(const char *name, const char *text, size_t len, struct triage_baseline **ret,
			  char *err, size_t errlen);
void triage_baseline_free(struct triage_baseline *b);

/* Ordered: a group takes its worst member's class. */
enum triage_class {
	TRIAGE_BENIGN = 0,
	TRIAGE_UNKNOWN,
	TRIAGE_REAL,
};

/* "benign-true-positive", "unknown", "real". */
const char *triage_class_name(enum triage_class c);

struct triage_verdict {
	enum triage_class cls;
	const struct triage_pattern *pattern; /* the benign pattern or real indicator that matched */
	char *reason;                         /* malloc'd, one line */
};

/* Real indicators first, then benign patterns in file order; else unknown. */
int triage_classify(const struct triage_baseline *b, const struct triage_event *e, struct triage_verdict *ret);
void triage_verdict_clear(struct triage_verdict *v);

/* ---- fixes -------------------------------------------------------------- */

/* One exception's scope: rule + namespace + exe path (+ image repository). */
struct triage_scope {
	const char *rule;
	const char *namespace_;
	const char *exe_path;
	const char *image_repo; /* NULL: not scoped by image */
	const char *comment;    /* one line; control bytes are replaced */
};

struct triage_fix {
	enum triage_fix_kind preferred;
	/* Image bake (NULL when it does not apply). */
	char *bake_text;
	char *bake_package;
	char *bake_dockerfile;  /* e.g. "RUN apk add --no-cache sqlite" */
	/* Exception (NULL when refused or not applicable). */
	char *scope_text;       /* "namespace headscale, exe /usr/bin/sqlite3, image docker.io/library/alpine" */
	char *falco_yaml;       /* a complete Falco rules file (override: exceptions: append) */
	char *reflex_yaml;      /* an `exceptions:` block for the reflex config */
	char *image_repo;       /* the scope's image repository, or NULL */
	char *comment;          /* the exception's comment: the pattern that made it benign */
	char *refused;          /* why no fix (or no exception) is suggested */
};

/*
 * The fix for event E classified V: for benign events the image bake (when
 * the pattern prefers it) and the scoped exception; for real and unknown
 * ones, none (refused says why). Never disables or mutes a rule: an
 * exception needs a namespace and an exe path. 0 or -ENOMEM.
 */
int triage_fix_for(const struct triage_event *e, const struct triage_verdict *v, struct triage_fix *ret);
void triage_fix_clear(struct triage_fix *f);

/* A Falco rules file appending one exception per scope. 0, -EINVAL (ERR) or -ENOMEM. */
int triage_falco_override(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen);
/* The reflex config `exceptions:` block for the scopes. 0, -EINVAL (ERR) or -ENOMEM. */
int triage_reflex_exceptions(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen);
/* "docker.io/library/alpine" for "docker.io/library/alpine:3.20" or "...@sha256:..."; malloc'd. */
char *triage_image_repository(const char *image);
/* One line for the team's notes. Malloc'd. */
char *triage_gotcha(const struct triage_event *e, const struct triage_verdict *v, const struct triage_fix *f);

/* ---- the CLI ------------------------------------------------------------ */

/*
 * `reflex triage SUBCOMMAND ...` (ARGV[0] is "triage"). Output to OUT,
 * diagnostics to ERR. Exit status: 0 success (verify: no events remain),
 * 1 failure, 2 usage, 3 verify found events (report: still firing).
 */
int triage_main(int argc, char **argv, FILE *out, FILE *err);

#endif
