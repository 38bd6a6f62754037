// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* What the commands print: JSON documents through jansson, text through the string builder. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* ---- JSON helpers ------------------------------------------------------- */

json_t *jstr(const char *s)
{
	struct sbuf b = { 0 };
	char *t;
	json_t *j;

	if (!s)
		return json_null();
	if ((j = json_string(s)))
		return j;
	sb_text(&b, s, 0); /* not UTF-8: shown as text would be */
	t = sb_take(&b);
	j = t ? json_string(t) : NULL;
	free(t);
	return j;
}

/* One format for every time shown (UTC, nanoseconds), whatever the source wrote; its text if unparsable. */
static json_t *jtime(int64_t ns, const char *text)
{
	char *t;
	json_t *j;

	if (!ns)
		return jstr(text);
	t = format_time(ns);
	j = t ? json_string(t) : NULL;
	free(t);
	return j;
}

void jset(json_t *o, const char *key, json_t *v, bool *bad)
{
	/* json_object_set_new takes V's reference even when it fails. */
	if (!o || !v || json_object_set_new(o, key, v))
		*bad = true;
}

json_t *event_json(const struct triage_event *e, bool *bad)
{
	json_t *o = json_object();

	jset(o, "time", jtime(e->time_ns, e->time), bad);
	jset(o, "rule", jstr(e->rule), bad);
	jset(o, "priority", jstr(e->priority), bad);
	jset(o, "namespace", jstr(e->namespace_), bad);
	jset(o, "pod", jstr(e->pod), bad);
	jset(o, "exe_path", jstr(e->exe_path), bad);
	jset(o, "image", jstr(e->image), bad);
	jset(o, "container_id", jstr(e->container_id), bad);
	jset(o, "cmdline", jstr(e->cmdline), bad);
	jset(o, "parent", jstr(e->parent), bad);
	jset(o, "grandparent", jstr(e->gparent), bad);
	jset(o, "hostname", jstr(e->hostname), bad);
	if (e->outcome)
		jset(o, "outcome", jstr(e->outcome), bad);
	return o;
}

json_t *group_json(const struct triage_group *g, bool *bad)
{
	const struct triage_event *e = g->newest;
	json_t *o = json_object(), *pods = json_array();

	jset(o, "rule", jstr(g->rule), bad);
	jset(o, "namespace", jstr(g->namespace_), bad);
	jset(o, "pod", jstr(g->pod), bad);
	jset(o, "exe_path", jstr(g->exe_path), bad);
	jset(o, "count", json_integer((json_int_t)g->count), bad);
	jset(o, "newest", jtime(g->newest_ns, e->time), bad);
	jset(o, "oldest", jtime(g->oldest_ns, NULL), bad);
	jset(o, "priority", jstr(e->priority), bad);
	jset(o, "image", jstr(e->image), bad);
	jset(o, "parent", jstr(e->parent), bad);
	jset(o, "grandparent", jstr(e->gparent), bad);
	jset(o, "cmdline", jstr(e->cmdline), bad);
	for (size_t i = 0; pods && i < g->n_pods; i++)
		if (json_array_append_new(pods, jstr(g->pods[i])))
			*bad = true;
	jset(o, "pods", pods, bad);
	return o;
}

json_t *source_json(const struct cli *c, const struct triage_events *ev, bool *bad)
{
	json_t *o = json_object();

	jset(o, "origin", jstr(ev->origin), bad);
	jset(o, "query", jstr(ev->query), bad);
	jset(o, "since", jstr(c->q.since), bad);
	jset(o, "events", json_integer((json_int_t)ev->n), bad);
	jset(o, "truncated", json_boolean(ev->truncated), bad);
	jset(o, "skipped", json_integer((json_int_t)ev->skipped), bad);
	return o;
}

int cli_emit(struct cli *c, json_t *doc, bool bad)
{
	char *text = NULL;
	int r = 0;

	if (doc) {
		text = bad ? NULL : json_dumps(doc, JSON_INDENT(2));
		json_decref(doc);
		if (!text)
			return cli_error(c, "out of memory building the JSON document");
		if (fputs(text, c->out) < 0 || fputc('\n', c->out) < 0)
			r = 1;
		free(text);
	} else {
		if (c->o.oom)
			return cli_error(c, "out of memory building the output");
		if (c->o.len && fwrite(c->o.s, 1, c->o.len, c->out) != c->o.len)
			r = 1;
	}
	if (fflush(c->out))
		r = 1;
	if (r)
		return cli_error(c, "cannot write the output");
	return 0;
}

/* ---- text helpers ------------------------------------------------------- */

void put_time(struct sbuf *b, int64_t ns, const char *text)
{
	char *t;

	if (!ns) {
		sb_text(b, text, 64);
		return;
	}
	t = format_time(ns);
	sb_puts(b, t ? t : "?");
	free(t);
}

void put_header(struct cli *c, const struct triage_events *ev)
{
	sb_puts(&c->o, "query: ");
	sb_text(&c->o, ev->query, 0);
	sb_puts(&c->o, "\nfrom:  ");
	sb_text(&c->o, ev->origin, 0);
	sb_putc(&c->o, '\n');
	if (ev->truncated)
		sb_printf(&c->o, "note:  the answer reached the limit: counts cover only the newest %zu events "
				 "(narrow --since or --rule, or raise --limit)\n",
			  ev->n);
	if (ev->skipped)
		sb_printf(&c->o, "note:  %zu records that are not Falco events (no rule) skipped\n", ev->skipped);
}

void put_group(struct sbuf *b, const struct triage_group *g, const char *cls)
{
	const struct triage_event *e = g->newest;

	sb_printf(b, "%6zu  ", g->count);
	if (cls)
		sb_printf(b, "%s  ", cls);
	sb_text(b, g->rule, 200);
	if (e->priority) {
		sb_puts(b, " [");
		sb_text(b, e->priority, 32);
		sb_putc(b, ']');
	}
	sb_puts(b, "\n        namespace ");
	sb_text(b, g->namespace_, 80);
	sb_puts(b, "  pod ");
	sb_text(b, g->pod, 256);
	if (g->n_pods > 1)
		sb_printf(b, " (+%zu more)", g->n_pods - 1);
	sb_puts(b, "  exe ");
	sb_text(b, g->exe_path, 512);
	sb_puts(b, "\n        newest ");
	put_time(b, g->newest_ns, e->time);
	if (g->count > 1 && g->oldest_ns && g->oldest_ns != g->newest_ns) {
		sb_puts(b, "  oldest ");
		put_time(b, g->oldest_ns, NULL);
	}
	if (e->image) {
		sb_puts(b, "  image ");
		sb_text(b, e->image, 256);
	}
	sb_putc(b, '\n');
}
