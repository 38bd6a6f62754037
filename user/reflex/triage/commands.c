// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* `triage events` (grouped events) and `triage verify` (did they stop?). */
#include "internal.h"

/* ---- events ------------------------------------------------------------- */

int cmd_events(struct cli *c)
{
	struct triage_events ev = { 0 };
	struct triage_groups g = { 0 };
	json_t *doc = NULL, *arr;
	bool bad = false;
	int r;

	if ((r = cli_fetch(c, &c->q, &ev)))
		return r;
	if (triage_group(&ev, true, &g)) {
		triage_events_clear(&ev);
		return cli_error(c, "out of memory grouping the events");
	}
	if (c->json) {
		doc = source_json(c, &ev, &bad);
		arr = json_array();
		for (size_t i = 0; arr && i < g.n; i++)
			if (json_array_append_new(arr, group_json(&g.items[i], &bad)))
				bad = true;
		jset(doc, "groups", arr, &bad);
	} else {
		put_header(c, &ev);
		if (!ev.n)
			sb_puts(&c->o, "no events\n");
		else
			sb_printf(&c->o, "%zu event%s in %zu group%s (rule, namespace, pod, exe), newest first:\n\n", ev.n,
				  ev.n == 1 ? "" : "s", g.n, g.n == 1 ? "" : "s");
		for (size_t i = 0; i < g.n; i++)
			put_group(&c->o, &g.items[i], NULL);
	}
	triage_groups_clear(&g);
	triage_events_clear(&ev);
	return cli_emit(c, doc, bad);
}

/* ---- verify ------------------------------------------------------------- */

int run_verify(struct cli *c, const char *since, struct verify *v)
{
	struct triage_query q = c->q;

	q.since = since;
	v->since = since;
	return cli_fetch(c, &q, &v->ev);
}

void put_verify(struct sbuf *b, const struct cli *c, const struct verify *v)
{
	const struct triage_event *e = v->ev.n ? &v->ev.items[0] : NULL;

	sb_puts(b, "verify: rule '");
	sb_text(b, c->q.rule, 0);
	sb_puts(b, "' in namespace ");
	sb_text(b, c->q.namespace_, 0);
	sb_printf(b, ", last %s: ", v->since);
	if (!e) {
		sb_puts(b, "no events: the fix holds\n");
	} else {
		sb_printf(b, "%zu event%s remain%s, newest ", v->ev.n, v->ev.n == 1 ? "" : "s", v->ev.n == 1 ? "s" : "");
		put_time(b, e->time_ns, e->time);
		sb_puts(b, " (pod ");
		sb_text(b, e->pod, 256);
		sb_puts(b, ", exe ");
		sb_text(b, e->exe_path, 512);
		sb_puts(b, "): still firing\n");
	}
	sb_puts(b, "verify query: ");
	sb_text(b, v->ev.query, 0);
	sb_putc(b, '\n');
}

json_t *verify_json(const struct cli *c, const struct verify *v, bool *bad)
{
	json_t *o = json_object();

	jset(o, "rule", jstr(c->q.rule), bad);
	jset(o, "namespace", jstr(c->q.namespace_), bad);
	jset(o, "since", jstr(v->since), bad);
	jset(o, "query", jstr(v->ev.query), bad);
	jset(o, "origin", jstr(v->ev.origin), bad);
	jset(o, "remaining", json_integer((json_int_t)v->ev.n), bad);
	jset(o, "empty", json_boolean(v->ev.n == 0), bad);
	jset(o, "newest", v->ev.n ? event_json(&v->ev.items[0], bad) : json_null(), bad);
	return o;
}

int cmd_verify(struct cli *c)
{
	struct verify v = { 0 };
	json_t *doc = NULL;
	bool bad = false;
	int r;

	if ((r = run_verify(c, c->q.since, &v)))
		return r;
	if (c->json)
		doc = verify_json(c, &v, &bad);
	else
		put_verify(&c->o, c, &v);
	r = cli_emit(c, doc, bad);
	if (!r && v.ev.n)
		r = 3;
	triage_events_clear(&v.ev);
	return r;
}
