/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Inside `reflex triage` (the API is ../triage.h): what its files share. The
 * runbook's steps share one event model: whatever the source, an event is the
 * few Falco fields a person triages on (rule, namespace, pod, exe, image,
 * parent, cmdline). Input is hostile, so displayed text is made printable,
 * generated YAML is ASCII with every value double-quoted and escaped, and
 * nothing from an event reaches a shell.
 *
 * The files, in the runbook's order: text.c (string builder, display text),
 * times.c; events.c (the model, grouping, triage_fetch) fed by
 * victorialogs.c and files.c; baseline.c; classify.c; fix.c and override.c;
 * the CLI: cli.c (options, triage_main), output.c, commands.c (events,
 * verify), findings.c (classify, fix), report.c.
 */
#ifndef REFLEX_TRIAGE_INTERNAL_H
#define REFLEX_TRIAGE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "triage.h"

/* ---- text.c: a growing string, UTF-8, display text ---------------------- */

/* A growing string; OOM is sticky and reported by sb_take. */
struct sbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void sb_puts(struct sbuf *b, const char *s);
void sb_putc(struct sbuf *b, char c);
__attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *b, const char *fmt, ...);
void sb_free(struct sbuf *b);
/* The string (caller frees), or NULL after an allocation failure. */
char *sb_take(struct sbuf *b);
/* One UTF-8 sequence at S (LEN bytes left): its length and code point, 0 if invalid. */
size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp);
bool utf8_valid(const char *s);
/*
 * Display text: ASCII controls, C1 controls, line separators and invalid
 * UTF-8 become '?' (a hostile cmdline must not drive the terminal); cut at
 * MAX bytes with "...". NULL shows as "-".
 */
void sb_text(struct sbuf *b, const char *s, size_t max);

/* ---- times.c ------------------------------------------------------------ */

/* NS since the epoch as RFC 3339 UTC with nanoseconds; malloc'd, NULL on failure. */
char *format_time(int64_t ns);

/* ---- events.c, and the sources that fill events ------------------------- */

void event_clear(struct triage_event *e);
/* Takes ownership of *EV's strings (and zeroes it), also on failure. */
int events_push(struct triage_events *e, struct triage_event *ev);
/* The first of NAMES that O holds as a non-empty string (or number), copied; NULL if none. */
int dup_field(json_t *o, const char *const *names, char **ret);
int strcmp_null(const char *a, const char *b);
/* victorialogs.c, files.c: Q's events from SRC appended to RET, with its query and origin. */
int fetch_victorialogs(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		       char *err, size_t errlen);
int read_file_events(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		     char *err, size_t errlen);

/* ---- baseline.c --------------------------------------------------------- */

/* A package name goes into a Dockerfile line the operator copies: no shell syntax. */
bool package_ok(const char *s);

/* ---- the CLI: cli.c ----------------------------------------------------- */

enum sub { SUB_EVENTS = 0, SUB_CLASSIFY, SUB_FIX, SUB_VERIFY, SUB_REPORT };

struct cli {
	enum sub sub;
	const char *name;
	struct triage_source src;
	struct triage_query q;
	const char *baseline;
	const char *verify_since;
	bool json;
	FILE *out, *err;
	struct sbuf o; /* the whole output, written at the end */
};

/* "reflex triage SUB: MSG" on the error stream; returns 1, the failure exit status. */
int cli_error(struct cli *c, const char *msg);
/* Each returns 0, or the exit status of a failure it reported. */
int cli_fetch(struct cli *c, const struct triage_query *q, struct triage_events *ev);
int cli_load_baseline(struct cli *c, struct triage_baseline **b);

/* ---- output.c: JSON and text shared by the commands --------------------- */

json_t *jstr(const char *s);
/* Sets O's KEY to V (taking V); *BAD on any failure, so the document is not written half. */
void jset(json_t *o, const char *key, json_t *v, bool *bad);
json_t *event_json(const struct triage_event *e, bool *bad);
json_t *group_json(const struct triage_group *g, bool *bad);
json_t *source_json(const struct cli *c, const struct triage_events *ev, bool *bad);
/* Writes the document (or text) and reports a failed write: a closed pipe is an error too. */
int cli_emit(struct cli *c, json_t *doc, bool bad);
void put_time(struct sbuf *b, int64_t ns, const char *text);
void put_header(struct cli *c, const struct triage_events *ev);
void put_group(struct sbuf *b, const struct triage_group *g, const char *cls);

/* ---- the commands: each returns the exit status ------------------------- */

/* commands.c: events, and verify (which report runs too). */
struct verify {
	struct triage_events ev;
	const char *since;
};

int cmd_events(struct cli *c);
/* 0 and V filled, or the exit status of a failure. */
int run_verify(struct cli *c, const char *since, struct verify *v);
void put_verify(struct sbuf *b, const struct cli *c, const struct verify *v);
json_t *verify_json(const struct cli *c, const struct verify *v, bool *bad);
int cmd_verify(struct cli *c);

/* findings.c: a group's verdict and fix, for classify, fix and report. */
struct finding {
	const struct triage_group *g;
	const struct triage_event *e; /* the member whose verdict stands: the newest of the worst class */
	struct triage_verdict v;
	size_t counts[3];
	struct triage_fix fix;
	char *gotcha;
};

void findings_free(struct finding *f, size_t n);
/* One finding per group of G (WITH_FIX: and its fix and gotcha). 0 or -ENOMEM. */
int findings_build(const struct triage_baseline *b, const struct triage_events *ev, const struct triage_groups *g,
		   bool with_fix, struct finding **ret);
/* The group's events fell into more than one class. */
bool finding_mixed(const struct finding *f);
void put_counts(struct sbuf *b, const size_t counts[3]);
json_t *finding_json(const struct finding *f, bool with_fix, bool *bad);
/* classify, or (WITH_FIX) fix. */
int cmd_classify(struct cli *c, bool with_fix);

/* report.c */
int cmd_report(struct cli *c);

#endif
