/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Audit records: one JSON object per line (jansson) for every decision that
 * acts or would act (kill, refusal, dry-run, alert, exception), to stdout and
 * to an append-only file. Field set: DESIGN.md "Contracts".
 */
#ifndef REFLEX_AUDIT_H
#define REFLEX_AUDIT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A rule as a config record lists it. */
struct audit_rule_mode {
	const char *name;
	const char *action;
	bool dry_run; /* the rule's effective mode: its own dryrun or the global one */
};

struct audit_record {
	struct timespec time;        /* CLOCK_REALTIME of the action: when the kill, refusal or decision happened */
	struct timespec event_time;  /* CLOCK_REALTIME of the kernel event or the Falco alert; zero -> omitted */
	const char *action;          /* the rule's action: alert, kill_process, ... */
	const char *outcome;         /* killed, dry_run, refused, alert, excepted, failed, confirmed */
	const char *namespace_;      /* NULL -> JSON null */
	const char *pod;
	const char *rule;
	bool dry_run;
	const char *reason;          /* the rule's audit_reason, verbatim; dry-run records get "DRY_RUN: " prepended */
	const char *detail;          /* what reflex found and did; NULL -> omitted */
	const char *operator_;       /* who acted, e.g. "reflex-agent" */
	const char *falco_priority;  /* NULL -> null */
	const char *falco_output;
	const char *node;
	const char *container_id;
	int64_t pid;                 /* < 0 -> null */
	const char *exe_path;
	const char *source;          /* kernel, falco, both */
	int64_t latency_us;          /* < 0 -> null: kernel event to kill done */
	/* Extras, omitted when NULL / zero. */
	const char *kill_mode;       /* kernel, pidfd, cgroup.kill, cgroup-v1-freezer */
	const char *comm;
	const char *image;
	uint64_t cgroup_id;
	const char *event_id;
	const char *destination;     /* pool connects: "ADDR:PORT/PROTO" */
	const char *pod_uid;         /* the pod's metadata.uid: a newer pod of the same name is another pod */
	const char *owner_kind;      /* the pod's top-level owner (Deployment rather than ReplicaSet); NULL -> omitted */
	const char *incident_id;     /* "annotate" records: the incident register's id; NULL -> omitted */
	const char *note;            /* "annotate" records: the annotation; NULL -> omitted */
	const char *owner_name;
	/* "config" records: what was loaded; omitted when CONFIG_SHA256 is NULL. */
	const char *config_sha256;          /* hex SHA-256 of the config file's bytes */
	const struct audit_rule_mode *rules; /* every rule, in the config's order */
	size_t n_rules;
	const char *const *overrides;       /* command-line overrides in force, e.g. "--dry-run" */
	size_t n_overrides;
	/*
	 * The writer's chain, set by audit_write (callers leave them zero):
	 * omitted when WRITER is NULL. PREV_SHA256 NULL -> null (a chain's start).
	 */
	const char *writer;          /* the node or controller replica that wrote the line */
	uint64_t seq;                /* rising per writer, across restarts */
	const char *prev_sha256;     /* hex SHA-256 of the writer's previous line (without its newline) */
};

/*
 * S as valid UTF-8: each ill-formed byte becomes the text \xNN. Returns S
 * itself when it is valid, else a copy in *ret_copy (the caller frees it);
 * NULL on ENOMEM.
 */
const char *audit_utf8_clean(const char *s, char **ret_copy);

/*
 * Copies SRC into DST (SIZE bytes, NUL-terminated), cutting at a character
 * boundary: a truncated copy never ends in part of a UTF-8 sequence.
 */
void audit_copy_utf8(char *dst, size_t size, const char *src);

/*
 * Falco's priority as the compliance record writes it ("Critical" ->
 * "CRITICAL") into BUF; NULL for a NULL or empty priority.
 */
const char *audit_priority_upper(const char *priority, char *buf, size_t size);

/* The record as one JSON line without the newline; malloc'd, NULL on ENOMEM. */
char *audit_format(const struct audit_record *record);

struct audit_log;

struct audit_log_config {
	const char *path;  /* the append-only file; NULL or "": none */
	bool to_stdout;
	/*
	 * Who writes (node or replica name): every line then carries writer,
	 * seq and prev_sha256, so a lost, deleted or edited line shows. NULL:
	 * no chain fields.
	 */
	const char *writer;
	/*
	 * Where the chain's position survives a restart when there is no file to
	 * resume it from (the controller writes to stdout): a small state file,
	 * rewritten after each line. NULL: resume from PATH's last line.
	 */
	const char *chain_state;
};

/*
 * Creates PATH's parent directories (0750), opens it O_APPEND|O_CLOEXEC
 * (0640) and resumes the writer's chain (from CHAIN_STATE, else from PATH's
 * last line written by the same writer; otherwise a new chain at seq 1).
 * 0 and *RET, or -errno.
 */
int audit_log_open(const struct audit_log_config *cfg, struct audit_log **ret);
/*
 * Writes one line to each sink (file lines with one write(2)), with the next
 * seq and the previous line's hash. RET_LINE (optional): the line as written,
 * without the newline, malloc'd: what goes on to Graylog is the same bytes.
 */
int audit_write_line(struct audit_log *log, const struct audit_record *record, char **ret_line);
int audit_write(struct audit_log *log, const struct audit_record *record);
/* The SHA-256 of LEN bytes of LINE as 64 hex digits into HEX[65]. */
void audit_line_sha256(const char *line, size_t len, char hex[65]);
/* Accepts NULL; returns NULL. */
struct audit_log *audit_close(struct audit_log *log);

#endif
