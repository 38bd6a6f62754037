/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * One Falco alert, parsed from the JSON Falco prints with json_output: true
 * (0.38-0.44, with -pk or the container plugin) or from a falcosidekick
 * webhook body. Pure: no I/O, no globals; jansson does the JSON.
 */
#ifndef REFLEX_FALCO_ALERT_H
#define REFLEX_FALCO_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Limits applied by falco_alert_parse (the intake caps the line length first). */
#define FALCO_ALERT_MAX_BYTES_DEFAULT (1024 * 1024)
#define FALCO_ALERT_MAX_DEPTH 16 /* alerts are two levels deep; 16 is generous */

enum falco_priority {
	FALCO_PRIORITY_UNKNOWN = -1,
	FALCO_PRIORITY_EMERGENCY = 0,
	FALCO_PRIORITY_ALERT,
	FALCO_PRIORITY_CRITICAL,
	FALCO_PRIORITY_ERROR,
	FALCO_PRIORITY_WARNING,
	FALCO_PRIORITY_NOTICE,
	FALCO_PRIORITY_INFORMATIONAL,
	FALCO_PRIORITY_DEBUG,
};

struct falco_alert {
	/* Every string is malloc'd and NUL-terminated, or NULL when absent/null. */
	char *rule;
	char *priority_text;      /* as Falco wrote it, e.g. "Critical" */
	enum falco_priority priority;
	char *output;
	char *source;             /* "syscall", ... */
	char *hostname;
	char *uuid;               /* falcosidekick's id; NULL from Falco itself */
	char **tags;              /* n_tags strings */
	size_t n_tags;

	/* From output_fields. */
	uint64_t time_ns;         /* evt.time or evt.time.iso8601 (integer ns); else top-level "time"; 0 if none */
	char *container_id;       /* container.id: 12 hex (Falco) or 64 hex; "host" for host events */
	char *exe_path;           /* proc.exepath, else proc.exe when it is absolute */
	int64_t pid;              /* proc.pid; 0 when absent or null */
	char *k8s_namespace;      /* k8s.ns.name */
	char *k8s_pod;            /* k8s.pod.name */
	char *image;              /* container.image.repository[:container.image.tag], or container.image */
	char *cmdline;            /* proc.cmdline */

	/* The whole object as received, kept for the audit record and report. */
	void *json;               /* json_t *, owned; NULL after falco_alert_clear */
};

/* Why a line was rejected; stable names for metrics labels and logs. */
enum falco_parse_error {
	FALCO_PARSE_OK = 0,
	FALCO_PARSE_EMPTY,        /* blank line: not counted as an error by callers */
	FALCO_PARSE_TOO_LARGE,
	FALCO_PARSE_NOT_UTF8,
	FALCO_PARSE_SYNTAX,       /* not JSON, truncated, trailing garbage */
	FALCO_PARSE_TOO_DEEP,
	FALCO_PARSE_NOT_ALERT,    /* valid JSON but not an object with rule, and output_fields object */
	FALCO_PARSE_BAD_FIELD,    /* a field of the wrong type or an invalid value */
	FALCO_PARSE_ERROR_MAX,
};

/* "ok", "empty", "too_large", "not_utf8", "syntax", "too_deep", "not_alert", "bad_field". */
const char *falco_parse_error_name(enum falco_parse_error e);

/*
 * Parses one alert from TEXT (LEN bytes, need not be NUL-terminated; one
 * trailing '\n' or "\r\n" is allowed) into *ret, which the caller zeroes or
 * has cleared. Rejects input longer than MAX_BYTES. Numbers beyond int64 in
 * any field are accepted (the line still parses; such a field reads as
 * absent where a reflex field needed it). On failure *ret is left cleared and
 * ERR (size ERRLEN, may be NULL) gets a one-line reason with the position.
 */
enum falco_parse_error falco_alert_parse(const char *text, size_t len, size_t max_bytes,
					 struct falco_alert *ret, char *err, size_t errlen);

/* Frees what *alert owns and zeroes it. Accepts a zeroed alert. */
void falco_alert_clear(struct falco_alert *alert);

/* "Critical" -> FALCO_PRIORITY_CRITICAL (case-insensitive, also "info", "warn"); UNKNOWN otherwise. */
enum falco_priority falco_priority_from_name(const char *name);

/*
 * True when a Falco container.id (12 hex, or 64) names the 64-hex id FULL_ID:
 * equal, or a prefix of at least 12 characters. Case-sensitive lowercase hex.
 */
bool falco_container_id_matches(const char *falco_id, const char *full_id);

#endif
