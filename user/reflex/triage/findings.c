// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Findings (a group's worst verdict and its fix), and `triage classify` and `triage fix`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void findings_free(struct finding *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		triage_verdict_clear(&f[i].v);
		triage_fix_clear(&f[i].fix);
		free(f[i].gotcha);
	}
	free(f);
}

int findings_build(const struct triage_baseline *b, const struct triage_events *ev, const struct triage_groups *g,
		   bool with_fix, struct finding **ret)
{
	struct finding *f = calloc(g->n + 1, sizeof(*f));
	int r = 0;

	*ret = NULL;
	if (!f)
		return -ENOMEM;
	for (size_t i = 0; i < g->n && !r; i++) {
		f[i].g = &g->items[i];
		for (size_t m = 0; m < g->items[i].n_members && !r; m++) {
			const struct triage_event *e = &ev->items[g->items[i].members[m]];
			struct triage_verdict v;

			if ((r = triage_classify(b, e, &v)))
				break;
			f[i].counts[v.cls]++;
			if (!f[i].e || v.cls > f[i].v.cls) {
				triage_verdict_clear(&f[i].v);
				f[i].v = v;
				f[i].e = e;
			} else {
				triage_verdict_clear(&v);
			}
		}
		if (!r && with_fix)
			r = triage_fix_for(f[i].e, &f[i].v, &f[i].fix);
		if (!r && with_fix && !(f[i].gotcha = triage_gotcha(f[i].e, &f[i].v, &f[i].fix)))
			r = -ENOMEM;
	}
	if (r) {
		findings_free(f, g->n);
		return r;
	}
	*ret = f;
	return 0;
}

bool finding_mixed(const struct finding *f)
{
	return (f->counts[0] != 0) + (f->counts[1] != 0) + (f->counts[2] != 0) > 1;
}

void put_counts(struct sbuf *b, const size_t counts[3])
{
	const char *sep = "";

	for (int k = TRIAGE_REAL; k >= TRIAGE_BENIGN; k--) {
		if (!counts[k])
			continue;
		sb_printf(b, "%s%zu %s", sep, counts[k], triage_class_name((enum triage_class)k));
		sep = ", ";
	}
}

static json_t *fix_json(const struct triage_fix *fx, bool *bad)
{
	json_t *o = json_object(), *bake = json_null(), *ex = json_null();

	jset(o, "preferred", json_string(fx->preferred == TRIAGE_FIX_IMAGE_BAKE	 ? "image-bake"
					 : fx->preferred == TRIAGE_FIX_EXCEPTION ? "exception"
										 : "none"),
	     bad);
	if (fx->bake_text) {
		bake = json_object();
		jset(bake, "text", jstr(fx->bake_text), bad);
		jset(bake, "package", jstr(fx->bake_package), bad);
		jset(bake, "dockerfile", jstr(fx->bake_dockerfile), bad);
	}
	if (fx->falco_yaml) {
		ex = json_object();
		jset(ex, "scope", jstr(fx->scope_text), bad);
		jset(ex, "image_repository", jstr(fx->image_repo), bad);
		jset(ex, "falco_rules_yaml", jstr(fx->falco_yaml), bad);
		jset(ex, "reflex_config_yaml", jstr(fx->reflex_yaml), bad);
	}
	jset(o, "image_bake", bake, bad);
	jset(o, "exception", ex, bad);
	jset(o, "refused", jstr(fx->refused), bad);
	return o;
}

json_t *finding_json(const struct finding *f, bool with_fix, bool *bad)
{
	json_t *o = group_json(f->g, bad), *counts = json_object();

	jset(o, "classification", json_string(triage_class_name(f->v.cls)), bad);
	jset(o, "pattern", jstr(f->v.pattern ? f->v.pattern->name : NULL), bad);
	jset(o, "reason", jstr(f->v.reason), bad);
	jset(o, "escalate", json_boolean(f->v.cls != TRIAGE_BENIGN), bad);
	for (int k = TRIAGE_BENIGN; k <= TRIAGE_REAL; k++)
		jset(counts, triage_class_name((enum triage_class)k), json_integer((json_int_t)f->counts[k]), bad);
	jset(o, "counts", counts, bad);
	jset(o, "event", event_json(f->e, bad), bad);
	if (with_fix) {
		jset(o, "fix", fix_json(&f->fix, bad), bad);
		jset(o, "gotcha", jstr(f->gotcha), bad);
	}
	return o;
}

static void put_finding_text(struct sbuf *b, const struct finding *f)
{
	put_group(b, f->g, triage_class_name(f->v.cls));
	if (finding_mixed(f)) {
		sb_puts(b, "        events: ");
		put_counts(b, f->counts);
		sb_puts(b, " (the group takes its worst)\n");
	}
	sb_puts(b, "        why: ");
	sb_puts(b, f->v.reason);
	sb_putc(b, '\n');
	if (f->v.cls != TRIAGE_BENIGN)
		sb_puts(b, "        -> escalate to a security review\n");
}

/* What classify and fix show: the events, a finding per group, and what they add up to. */
struct classified {
	struct triage_baseline *b;
	struct triage_events ev;
	struct triage_groups g;
	struct finding *f;
	size_t totals[3], escalate;
	char *falco, *reflex; /* fix: one override and one exceptions block for every finding */
};

/* The totals and (WITH_FIX) the combined files. 0, or the exit status of a failure. */
static int classified_sum(struct cli *c, struct classified *x, bool with_fix)
{
	const struct finding *f = x->f;
	struct triage_scope *scopes;
	size_t n_scopes = 0;
	char err[512];
	int r = 0;

	scopes = calloc(x->g.n + 1, sizeof(*scopes));
	if (!scopes)
		return cli_error(c, "out of memory");
	for (size_t i = 0; i < x->g.n; i++) {
		x->totals[f[i].v.cls]++;
		x->escalate += f[i].v.cls != TRIAGE_BENIGN;
		if (!with_fix || !f[i].fix.falco_yaml)
			continue;
		/* The combined files hold each scope once. */
		struct triage_scope s = { .rule = f[i].e->rule, .namespace_ = f[i].e->namespace_,
					  .exe_path = f[i].e->exe_path, .image_repo = f[i].fix.image_repo,
					  .comment = f[i].fix.comment };
		bool dup = false;

		for (size_t k = 0; k < n_scopes && !dup; k++)
			dup = !strcmp(scopes[k].rule, s.rule) && !strcmp(scopes[k].namespace_, s.namespace_) &&
			      !strcmp(scopes[k].exe_path, s.exe_path) && !strcmp_null(scopes[k].image_repo, s.image_repo);
		if (!dup)
			scopes[n_scopes++] = s;
	}
	if (n_scopes && (triage_falco_override(scopes, n_scopes, &x->falco, err, sizeof(err)) ||
			 triage_reflex_exceptions(scopes, n_scopes, &x->reflex, err, sizeof(err))))
		r = cli_error(c, err);
	free(scopes);
	return r;
}

static json_t *classified_json(const struct cli *c, const struct classified *x, bool with_fix, bool *bad)
{
	json_t *doc = source_json(c, &x->ev, bad), *arr, *t;

	jset(doc, "baseline", jstr(x->b->path), bad);
	arr = json_array();
	for (size_t i = 0; arr && i < x->g.n; i++)
		if (json_array_append_new(arr, finding_json(&x->f[i], with_fix, bad)))
			*bad = true;
	jset(doc, "groups", arr, bad);
	t = json_object();
	for (int k = TRIAGE_BENIGN; k <= TRIAGE_REAL; k++)
		jset(t, triage_class_name((enum triage_class)k), json_integer((json_int_t)x->totals[k]), bad);
	jset(doc, "summary", t, bad);
	jset(doc, "escalate", json_integer((json_int_t)x->escalate), bad);
	if (with_fix) {
		jset(doc, "falco_rules_yaml", jstr(x->falco), bad);
		jset(doc, "reflex_config_yaml", jstr(x->reflex), bad);
	}
	return doc;
}

/* A finding's fix lines under it: the image bake first, then the exception, or why none. */
static void put_fix_text(struct sbuf *b, const struct triage_fix *fx)
{
	if (fx->bake_text) {
		sb_puts(b, "        fix 1 (preferred), image bake: ");
		sb_puts(b, fx->bake_text);
		sb_putc(b, '\n');
		if (fx->bake_dockerfile) {
			sb_puts(b, "            ");
			sb_text(b, fx->bake_dockerfile, 0);
			sb_putc(b, '\n');
		}
	}
	if (fx->scope_text) {
		sb_printf(b, "        fix %s, scoped exception: ", fx->bake_text ? "2" : "1 (preferred)");
		sb_puts(b, fx->scope_text);
		sb_puts(b, " (YAML below)\n");
	}
	if (fx->refused) {
		sb_puts(b, "        ");
		sb_puts(b, fx->refused);
		sb_putc(b, '\n');
	}
}

static void put_classified(struct cli *c, const struct classified *x, bool with_fix)
{
	const struct triage_groups *g = &x->g;

	sb_puts(&c->o, "baseline: ");
	sb_text(&c->o, x->b->path, 0);
	sb_printf(&c->o, " (%zu benign patterns, %zu real indicators)\n", x->b->n_benign, x->b->n_real);
	put_header(c, &x->ev);
	if (!x->ev.n)
		sb_puts(&c->o, "no events\n");
	else
		sb_printf(&c->o, "%zu event%s in %zu group%s, newest first:\n", x->ev.n, x->ev.n == 1 ? "" : "s", g->n,
			  g->n == 1 ? "" : "s");
	for (size_t i = 0; i < g->n; i++) {
		sb_putc(&c->o, '\n');
		put_finding_text(&c->o, &x->f[i]);
		if (with_fix)
			put_fix_text(&c->o, &x->f[i].fix);
	}
	if (g->n) {
		sb_puts(&c->o, "\nsummary: ");
		put_counts(&c->o, x->totals);
		sb_printf(&c->o, " group%s", g->n == 1 ? "" : "s");
		if (x->escalate)
			sb_printf(&c->o, "; escalate %zu to a security review", x->escalate);
		sb_putc(&c->o, '\n');
	}
	if (with_fix && x->falco) {
		sb_puts(&c->o, "\n--- Falco rules override (second choice after the image bake where one is "
			       "given) ---\n");
		sb_puts(&c->o, x->falco);
		sb_puts(&c->o, "\n--- reflex config exceptions ---\n");
		sb_puts(&c->o, x->reflex);
	} else if (with_fix && g->n) {
		sb_puts(&c->o, "\nno exception suggested: nothing here is a benign true positive with a "
			       "namespace and an exe path\n");
	}
}

int cmd_classify(struct cli *c, bool with_fix)
{
	struct classified x = { 0 };
	json_t *doc = NULL;
	bool bad = false;
	int r;

	if ((r = cli_load_baseline(c, &x.b)))
		return r;
	if ((r = cli_fetch(c, &c->q, &x.ev)))
		goto out;
	if (triage_group(&x.ev, true, &x.g) || findings_build(x.b, &x.ev, &x.g, with_fix, &x.f)) {
		r = cli_error(c, "out of memory classifying the events");
		goto out;
	}
	if ((r = classified_sum(c, &x, with_fix)))
		goto out;
	if (c->json)
		doc = classified_json(c, &x, with_fix, &bad);
	else
		put_classified(c, &x, with_fix);
	r = cli_emit(c, doc, bad);
out:
	free(x.falco);
	free(x.reflex);
	findings_free(x.f, x.g.n);
	triage_groups_clear(&x.g);
	triage_events_clear(&x.ev);
	triage_baseline_free(x.b);
	return r;
}
