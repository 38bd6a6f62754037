// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The event model: events from any source (triage_fetch picks it), their
 * fields read from JSON records, newest-first order, and grouping by rule,
 * namespace, exe (and pod).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"

/* ---- events ------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void event_clear(struct triage_event *e)
{
	free(e->time);
	free(e->rule);
	free(e->priority);
	free(e->namespace_);
	free(e->pod);
	free(e->exe_path);
	free(e->image);
	free(e->container_id);
	free(e->cmdline);
	free(e->parent);
	free(e->gparent);
	free(e->hostname);
	free(e->outcome);
	memset(e, 0, sizeof(*e));
}

void triage_events_clear(struct triage_events *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		event_clear(&e->items[i]);
	free(e->items);
	free(e->query);
	free(e->origin);
	memset(e, 0, sizeof(*e));
}

int events_push(struct triage_events *e, struct triage_event *ev)
{
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 64;
		struct triage_event *p = realloc(e->items, cap * sizeof(*p));

		if (!p) {
			event_clear(ev);
			return -ENOMEM;
		}
		e->items = p;
		e->cap = cap;
	}
	ev->seq = e->n;
	e->items[e->n++] = *ev;
	memset(ev, 0, sizeof(*ev));
	return 0;
}

int triage_events_add(struct triage_events *e, const struct triage_event *src)
{
	struct triage_event ev = { .time_ns = src->time_ns };
	bool oom = false;
#define COPY(f)                                      \
	do {                                         \
		ev.f = dup_or_null(src->f);          \
		oom |= src->f && !ev.f;              \
	} while (0)
	COPY(time);
	COPY(rule);
	COPY(priority);
	COPY(namespace_);
	COPY(pod);
	COPY(exe_path);
	COPY(image);
	COPY(container_id);
	COPY(cmdline);
	COPY(parent);
	COPY(gparent);
	COPY(hostname);
	COPY(outcome);
#undef COPY
	if (oom) {
		event_clear(&ev);
		return -ENOMEM;
	}
	return events_push(e, &ev);
}

static int cmp_newest(const void *a_, const void *b_)
{
	const struct triage_event *a = a_, *b = b_;

	/* Unknown times (0) sort last; then input order. */
	if (a->time_ns != b->time_ns) {
		if (!a->time_ns || !b->time_ns)
			return a->time_ns ? -1 : 1;
		return a->time_ns > b->time_ns ? -1 : 1;
	}
	return (a->seq > b->seq) - (a->seq < b->seq);
}

void triage_events_sort(struct triage_events *e)
{
	if (e->n > 1)
		qsort(e->items, e->n, sizeof(*e->items), cmp_newest);
}

/* Falco prints "<NA>" for a field with no value. */
static bool value_absent(const char *s)
{
	return !s || !*s || !strcmp(s, "<NA>") || !strcmp(s, "null");
}

int dup_field(json_t *o, const char *const *names, char **ret)
{
	*ret = NULL;
	for (; *names; names++) {
		json_t *v = json_object_get(o, *names);
		char num[32];
		const char *s = NULL;

		if (json_is_string(v)) {
			s = json_string_value(v);
		} else if (json_is_integer(v)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(v));
			s = num;
		}
		if (value_absent(s))
			continue;
		*ret = strdup(s);
		return *ret ? 0 : -ENOMEM;
	}
	return 0;
}

int triage_fetch(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		 char *err, size_t errlen)
{
	int r;

	memset(ret, 0, sizeof(*ret));
	if (q->limit > TRIAGE_MAX_LIMIT)
		return errbuf_set(err, errlen, -EINVAL, "limit %u is over %u", q->limit, TRIAGE_MAX_LIMIT);
	if (src->kind == TRIAGE_SOURCE_VICTORIALOGS)
		r = fetch_victorialogs(src, q, ret, err, errlen);
	else
		r = read_file_events(src, q, ret, err, errlen);
	if (r) {
		triage_events_clear(ret);
		return r;
	}
	triage_events_sort(ret);
	return 0;
}

/* ---- grouping ----------------------------------------------------------- */

int strcmp_null(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "");
}

struct group_sort {
	const struct triage_events *e;
	bool by_pod;
};

static int cmp_group_key(const struct triage_event *a, const struct triage_event *b, bool by_pod)
{
	int r;

	if ((r = strcmp_null(a->rule, b->rule)) || (r = strcmp_null(a->namespace_, b->namespace_)) ||
	    (r = strcmp_null(a->exe_path, b->exe_path)) || (by_pod && (r = strcmp_null(a->pod, b->pod))))
		return r;
	return 0;
}

static int cmp_index(const void *a_, const void *b_, void *ctx_)
{
	const struct group_sort *ctx = ctx_;
	size_t a = *(const size_t *)a_, b = *(const size_t *)b_;
	int r = cmp_group_key(&ctx->e->items[a], &ctx->e->items[b], ctx->by_pod);

	/* Within a group, event order (newest first). */
	return r ? r : (a > b) - (a < b);
}

static int cmp_groups(const void *a_, const void *b_)
{
	const struct triage_group *a = a_, *b = b_;
	int r;

	if (a->newest_ns != b->newest_ns) {
		if (!a->newest_ns || !b->newest_ns)
			return a->newest_ns ? -1 : 1;
		return a->newest_ns > b->newest_ns ? -1 : 1;
	}
	if (a->count != b->count)
		return a->count > b->count ? -1 : 1;
	if ((r = strcmp_null(a->rule, b->rule)) || (r = strcmp_null(a->namespace_, b->namespace_)) ||
	    (r = strcmp_null(a->pod, b->pod)) || (r = strcmp_null(a->exe_path, b->exe_path)))
		return r;
	return 0;
}

void triage_groups_clear(struct triage_groups *g)
{
	if (!g)
		return;
	for (size_t i = 0; i < g->n; i++) {
		free(g->items[i].members);
		free(g->items[i].pods);
	}
	free(g->items);
	memset(g, 0, sizeof(*g));
}

static int group_fill(struct triage_group *g, const struct triage_events *e, const size_t *idx, size_t n)
{
	g->members = malloc(n * sizeof(*g->members));
	g->pods = calloc(n, sizeof(*g->pods));
	if (!g->members || !g->pods)
		return -ENOMEM;
	memcpy(g->members, idx, n * sizeof(*idx));
	g->n_members = g->count = n;
	g->newest = &e->items[idx[0]];
	g->rule = g->newest->rule;
	g->namespace_ = g->newest->namespace_;
	g->pod = g->newest->pod;
	g->exe_path = g->newest->exe_path;
	g->newest_ns = g->newest->time_ns;
	g->oldest_ns = g->newest->time_ns;
	for (size_t i = 0; i < n; i++) {
		const struct triage_event *ev = &e->items[idx[i]];
		bool seen = false;

		if (ev->time_ns && (!g->oldest_ns || ev->time_ns < g->oldest_ns))
			g->oldest_ns = ev->time_ns;
		for (size_t j = 0; ev->pod && j < g->n_pods && !seen; j++)
			seen = !strcmp(g->pods[j], ev->pod);
		if (ev->pod && !seen)
			g->pods[g->n_pods++] = ev->pod;
	}
	return 0;
}

int triage_group(const struct triage_events *e, bool by_pod, struct triage_groups *ret)
{
	struct group_sort ctx = { .e = e, .by_pod = by_pod };
	size_t *idx, start = 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!e->n)
		return 0;
	idx = malloc(e->n * sizeof(*idx));
	ret->items = calloc(e->n, sizeof(*ret->items));
	if (!idx || !ret->items) {
		free(idx);
		free(ret->items);
		ret->items = NULL;
		return -ENOMEM;
	}
	for (size_t i = 0; i < e->n; i++)
		idx[i] = i;
	qsort_r(idx, e->n, sizeof(*idx), cmp_index, &ctx);
	for (size_t i = 1; i <= e->n && !r; i++) {
		if (i < e->n && !cmp_group_key(&e->items[idx[start]], &e->items[idx[i]], by_pod))
			continue;
		r = group_fill(&ret->items[ret->n++], e, idx + start, i - start);
		start = i;
	}
	free(idx);
	if (r) {
		triage_groups_clear(ret);
		return r;
	}
	qsort(ret->items, ret->n, sizeof(*ret->items), cmp_groups);
	return 0;
}
