// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* `triage report`: events -> classify -> fix -> verify for one rule in one namespace. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "util.h"

static void put_report_finding(struct sbuf *b, size_t index, const struct finding *f)
{
	const struct triage_group *g = f->g;
	const struct triage_event *e = f->e;
	const struct triage_fix *fx = &f->fix;

	sb_printf(b, "\n[%zu] ", index + 1);
	sb_text(b, g->rule, 0);
	sb_printf(b, ": %zu event%s, newest ", g->count, g->count == 1 ? "" : "s");
	put_time(b, g->newest_ns, g->newest->time);
	sb_puts(b, "\n    namespace   ");
	sb_text(b, g->namespace_, 0);
	sb_puts(b, "\n    pod         ");
	for (size_t i = 0; i < g->n_pods && i < 5; i++) {
		sb_puts(b, i ? ", " : "");
		sb_text(b, g->pods[i], 256);
	}
	if (g->n_pods > 5)
		sb_printf(b, " and %zu more", g->n_pods - 5);
	if (!g->n_pods)
		sb_putc(b, '-');
	sb_puts(b, "\n    exe         ");
	sb_text(b, g->exe_path, 0);
	if (e->parent || e->gparent) {
		sb_puts(b, " (parent ");
		sb_text(b, e->parent, 128);
		if (e->gparent) {
			sb_puts(b, ", grandparent ");
			sb_text(b, e->gparent, 128);
		}
		sb_putc(b, ')');
	}
	if (e->cmdline) {
		sb_puts(b, "\n    cmdline     ");
		sb_text(b, e->cmdline, 512);
	}
	sb_puts(b, "\n    image       ");
	sb_text(b, e->image, 0);
	sb_puts(b, "\n    priority    ");
	sb_text(b, e->priority, 32);
	sb_printf(b, "\n    class       %s", triage_class_name(f->v.cls));
	if (finding_mixed(f)) {
		sb_puts(b, " (");
		put_counts(b, f->counts);
		sb_puts(b, ": the worst stands)");
	}
	sb_puts(b, "\n    why         ");
	sb_puts(b, f->v.reason);
	if (fx->bake_text) {
		sb_puts(b, "\n    fix         image bake (preferred): ");
		sb_puts(b, fx->bake_text);
		if (fx->bake_dockerfile) {
			sb_puts(b, "\n                ");
			sb_text(b, fx->bake_dockerfile, 0);
		}
	}
	if (fx->scope_text) {
		sb_printf(b, "\n    %s scoped exception: ", fx->bake_text ? "fallback   " : "fix        ");
		sb_puts(b, fx->scope_text);
		sb_puts(b, " (Falco override and reflex exception below)");
	}
	if (fx->refused) {
		sb_puts(b, "\n    fix         ");
		sb_puts(b, fx->refused);
	}
	if (f->v.cls != TRIAGE_BENIGN)
		sb_puts(b, "\n    escalate    to a security review");
	sb_puts(b, "\n    ");
	sb_puts(b, f->gotcha);
	sb_putc(b, '\n');
}

int cmd_report(struct cli *c)
{
	struct triage_baseline *b = NULL;
	struct triage_events ev = { 0 };
	struct triage_groups g = { 0 };
	struct finding *f = NULL;
	struct verify v = { 0 };
	enum triage_class worst = TRIAGE_BENIGN;
	json_t *doc = NULL, *arr;
	char *generated = format_time(util_realtime_ns());
	bool bad = false, any_fix = false;
	int r;

	if (!generated)
		return cli_error(c, "out of memory");
	if ((r = cli_load_baseline(c, &b)) || (r = cli_fetch(c, &c->q, &ev)))
		goto out;
	if (!ev.n) {
		char msg[1024];

		snprintf(msg, sizeof(msg), "no events for rule '%s' in namespace %s%s%s (query: %s)", c->q.rule,
			 c->q.namespace_, c->q.since ? " in the last " : "", c->q.since ? c->q.since : "", ev.query);
		r = cli_error(c, msg);
		goto out;
	}
	/* One finding per exe: a CronJob's pods differ on every run. */
	if (triage_group(&ev, false, &g) || findings_build(b, &ev, &g, true, &f)) {
		r = cli_error(c, "out of memory classifying the events");
		goto out;
	}
	if ((r = run_verify(c, c->verify_since, &v)))
		goto out;
	for (size_t i = 0; i < g.n; i++) {
		if (f[i].v.cls > worst)
			worst = f[i].v.cls;
		any_fix |= f[i].fix.falco_yaml != NULL;
	}
	if (c->json) {
		doc = json_object();
		jset(doc, "rule", jstr(c->q.rule), &bad);
		jset(doc, "namespace", jstr(c->q.namespace_), &bad);
		jset(doc, "generated", json_string(generated), &bad);
		jset(doc, "baseline", jstr(b->path), &bad);
		jset(doc, "source", source_json(c, &ev, &bad), &bad);
		jset(doc, "classification", json_string(triage_class_name(worst)), &bad);
		jset(doc, "escalate", json_boolean(worst != TRIAGE_BENIGN), &bad);
		arr = json_array();
		for (size_t i = 0; arr && i < g.n; i++)
			if (json_array_append_new(arr, finding_json(&f[i], true, &bad)))
				bad = true;
		jset(doc, "findings", arr, &bad);
		jset(doc, "verify", verify_json(c, &v, &bad), &bad);
	} else {
		sb_puts(&c->o, "reflex triage report: rule '");
		sb_text(&c->o, c->q.rule, 0);
		sb_puts(&c->o, "', namespace ");
		sb_text(&c->o, c->q.namespace_, 0);
		sb_printf(&c->o, "\ngenerated %s; baseline ", generated);
		sb_text(&c->o, b->path, 0);
		sb_putc(&c->o, '\n');
		put_header(c, &ev);
		sb_printf(&c->o, "%zu event%s%s%s; classification %s%s\n", ev.n, ev.n == 1 ? "" : "s",
			  c->q.since ? " in the last " : "", c->q.since ? c->q.since : "", triage_class_name(worst),
			  worst != TRIAGE_BENIGN ? ": escalate to a security review" : "");
		for (size_t i = 0; i < g.n; i++)
			put_report_finding(&c->o, i, &f[i]);
		sb_putc(&c->o, '\n');
		put_verify(&c->o, c, &v);
		for (size_t i = 0; any_fix && i < g.n; i++) {
			if (!f[i].fix.falco_yaml)
				continue;
			sb_printf(&c->o, "\n--- [%zu] Falco rules override ---\n", i + 1);
			sb_puts(&c->o, f[i].fix.falco_yaml);
			sb_printf(&c->o, "--- [%zu] reflex config exception ---\n", i + 1);
			sb_puts(&c->o, f[i].fix.reflex_yaml);
		}
	}
	r = cli_emit(c, doc, bad);
	doc = NULL;
	if (!r && v.ev.n)
		r = 3;
out:
	json_decref(doc);
	free(generated);
	triage_events_clear(&v.ev);
	findings_free(f, g.n);
	triage_groups_clear(&g);
	triage_events_clear(&ev);
	triage_baseline_free(b);
	return r;
}
