// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Classification: an event against the baseline's real indicators, then its benign patterns, and why. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *triage_class_name(enum triage_class c)
{
	switch (c) {
	case TRIAGE_BENIGN:
		return "benign-true-positive";
	case TRIAGE_REAL:
		return "real";
	case TRIAGE_UNKNOWN:
	default:
		return "unknown";
	}
}

void triage_verdict_clear(struct triage_verdict *v)
{
	if (!v)
		return;
	free(v->reason);
	memset(v, 0, sizeof(*v));
}

static const char *match_any(char *const *globs, size_t n, const char *value, int flags)
{
	for (size_t i = 0; value && i < n; i++)
		if (!fnmatch(globs[i], value, flags))
			return globs[i];
	return NULL;
}

static void sb_globs(struct sbuf *b, char *const *globs, size_t n)
{
	for (size_t i = 0; i < n && i < 6; i++) {
		sb_puts(b, i ? ", " : "");
		sb_text(b, globs[i], 80);
	}
	if (n > 6)
		sb_printf(b, " and %zu more", n - 6);
}

/*
 * One condition of a pattern: true when LIST is empty or VALUE (or ALT, the
 * grandparent for parents) matches an item. What matched goes to OK, why not
 * to MISS.
 */
static bool cond(struct sbuf *ok, struct sbuf *miss, const char *label, char *const *list, size_t n,
		 const char *value, const char *alt, int flags)
{
	const char *g = NULL, *hit = value;

	if (!n)
		return true;
	if (!value && !alt) {
		sb_printf(miss, "%s unknown", label);
		return false;
	}
	if (!(g = match_any(list, n, value, flags)) && (g = match_any(list, n, alt, flags)))
		hit = alt;
	if (!g) {
		sb_printf(miss, "%s '", label);
		sb_text(miss, value ? value : alt, 120);
		sb_putc(miss, '\'');
		if (value && alt) {
			sb_puts(miss, " (grandparent '");
			sb_text(miss, alt, 120);
			sb_puts(miss, "')");
		}
		sb_puts(miss, " matches none of ");
		sb_globs(miss, list, n);
		return false;
	}
	sb_printf(ok, "%s%s '", ok->len ? ", " : "", hit == alt && alt != value ? "grandparent" : label);
	sb_text(ok, hit, 120);
	sb_putc(ok, '\'');
	if (strcmp(g, hit)) {
		sb_puts(ok, " ~ '");
		sb_text(ok, g, 120);
		sb_putc(ok, '\'');
	}
	return true;
}

static bool pattern_matches(const struct triage_pattern *t, const struct triage_event *e, struct sbuf *ok,
			    struct sbuf *miss)
{
	/* Benign exe globs keep '*' inside one directory (as reflex exceptions do); indicators cross them. */
	int exe_flags = t->real ? 0 : FNM_PATHNAME;
	bool rule_ok = !t->n_rules;

	for (size_t i = 0; e->rule && i < t->n_rules && !rule_ok; i++)
		rule_ok = !strcmp(t->rules[i], e->rule);
	if (!rule_ok) {
		sb_puts(miss, "rule not listed");
		return false;
	}
	if (t->n_rules) {
		sb_puts(ok, "rule '");
		sb_text(ok, e->rule, 0);
		sb_putc(ok, '\'');
	}
	return cond(ok, miss, "namespace", t->namespaces, t->n_namespaces, e->namespace_, NULL, 0) &&
	       cond(ok, miss, "pod", t->pods, t->n_pods, e->pod, NULL, 0) &&
	       cond(ok, miss, "exe", t->exe_paths, t->n_exe_paths, e->exe_path, NULL, exe_flags) &&
	       cond(ok, miss, "image", t->images, t->n_images, e->image, NULL, 0) &&
	       cond(ok, miss, "parent", t->parents, t->n_parents, e->parent, e->gparent, 0) &&
	       cond(ok, miss, "cmdline", t->cmdlines, t->n_cmdlines, e->cmdline, NULL, 0);
}

int triage_classify(const struct triage_baseline *b, const struct triage_event *e, struct triage_verdict *v)
{
	struct sbuf reason = { 0 }, misses = { 0 }, ok = { 0 }, miss = { 0 };
	size_t tried = 0;

	memset(v, 0, sizeof(*v));
	v->cls = TRIAGE_UNKNOWN;
	/* Indicators first: an attack that also looks like a known job is still an attack. */
	for (size_t i = 0; b && i < b->n_real && !v->pattern; i++) {
		sb_free(&ok);
		sb_free(&miss);
		if (pattern_matches(&b->real[i], e, &ok, &miss)) {
			v->cls = TRIAGE_REAL;
			v->pattern = &b->real[i];
			sb_puts(&reason, "real indicator '");
			sb_text(&reason, b->real[i].name, 0);
			sb_printf(&reason, "' matched (%s): ", ok.s ? ok.s : "");
			sb_text(&reason, b->real[i].why, 0);
		}
	}
	for (size_t i = 0; b && e->rule && i < b->n_benign && !v->pattern; i++) {
		const struct triage_pattern *t = &b->benign[i];

		if (strcmp(t->rules[0], e->rule))
			continue;
		tried++;
		sb_free(&ok);
		sb_free(&miss);
		if (pattern_matches(t, e, &ok, &miss)) {
			v->cls = TRIAGE_BENIGN;
			v->pattern = t;
			sb_puts(&reason, "baseline pattern '");
			sb_text(&reason, t->name, 0);
			sb_printf(&reason, "' matched (%s): ", ok.s ? ok.s : "");
			sb_text(&reason, t->why, 0);
		} else {
			sb_puts(&misses, misses.len ? "; '" : "'");
			sb_text(&misses, t->name, 0);
			sb_printf(&misses, "': %s", miss.s ? miss.s : "");
		}
	}
	if (!v->pattern) {
		if (tried) {
			sb_printf(&reason, "no baseline pattern matched (%s)", misses.s ? misses.s : "");
		} else {
			sb_puts(&reason, "no baseline pattern covers rule '");
			sb_text(&reason, e->rule, 0);
			sb_putc(&reason, '\'');
		}
		sb_puts(&reason, "; unknown is treated as real: escalate to a security review");
	}
	sb_free(&ok);
	sb_free(&miss);
	sb_free(&misses);
	v->reason = sb_take(&reason);
	return v->reason ? 0 : -ENOMEM;
}
