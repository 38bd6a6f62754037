// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* Files as a source: reflex's audit log and Falco's JSON alerts, filtered as a LogsQL query would. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "falco_alert.h"
#include "internal.h"
#include "util.h"

#define FILE_LINE_MAX FALCO_ALERT_MAX_BYTES_DEFAULT

/* The same filter in words, for file sources. */
static char *filter_text(const struct triage_query *q)
{
	struct sbuf b = { 0 };
	const char *sep = "";

	if (q->rule) {
		sb_puts(&b, "rule = ");
		sb_text(&b, q->rule, 0);
		sep = ", ";
	}
	if (q->namespace_) {
		sb_printf(&b, "%snamespace = ", sep);
		sb_text(&b, q->namespace_, 0);
		sep = ", ";
	}
	if (q->priority) {
		sb_printf(&b, "%spriority = %s", sep, q->priority);
		sep = ", ";
	}
	if (q->since)
		sb_printf(&b, "%slast %s", sep, q->since);
	else if (!*sep)
		sb_puts(&b, "every event in the file");
	return sb_take(&b);
}

static bool event_wanted(const struct triage_query *q, const struct triage_event *e, int64_t since_ns)
{
	if (q->rule && (!e->rule || strcmp(q->rule, e->rule)))
		return false;
	if (q->namespace_ && (!e->namespace_ || strcmp(q->namespace_, e->namespace_)))
		return false;
	if (q->priority && (!e->priority || strcasecmp(q->priority, e->priority)))
		return false;
	/* An event of unknown time is kept: verify must never call a window empty by guessing. */
	return !since_ns || !e->time_ns || e->time_ns >= since_ns;
}

static int audit_record(json_t *o, struct triage_event *ev)
{
	static const char *const RULE[] = { "rule", NULL };
	static const char *const PRIORITY[] = { "falco_priority", NULL };
	static const char *const NS[] = { "namespace", NULL };
	static const char *const POD[] = { "pod", NULL };
	static const char *const EXE[] = { "exe_path", NULL };
	static const char *const IMAGE[] = { "image", NULL };
	static const char *const CONTAINER[] = { "container_id", NULL };
	static const char *const NODE[] = { "node", NULL };
	static const char *const OUTCOME[] = { "outcome", NULL };
	static const char *const TIME[] = { "timestamp", NULL };
	int r;

	if ((r = dup_field(o, TIME, &ev->time)) || (r = dup_field(o, RULE, &ev->rule)) ||
	    (r = dup_field(o, PRIORITY, &ev->priority)) || (r = dup_field(o, NS, &ev->namespace_)) ||
	    (r = dup_field(o, POD, &ev->pod)) || (r = dup_field(o, EXE, &ev->exe_path)) ||
	    (r = dup_field(o, IMAGE, &ev->image)) || (r = dup_field(o, CONTAINER, &ev->container_id)) ||
	    (r = dup_field(o, NODE, &ev->hostname)) || (r = dup_field(o, OUTCOME, &ev->outcome)))
		return r;
	if (ev->time && triage_parse_time(ev->time, &ev->time_ns))
		ev->time_ns = 0;
	return 0;
}

static int alert_event(const char *line, size_t len, struct triage_event *ev, char *err, size_t errlen)
{
	static const char *const TIME[] = { "time", NULL };
	static const char *const PARENT[] = { "proc.pname", NULL };
	static const char *const GPARENT[] = { "proc.aname[2]", NULL };
	struct falco_alert a = { 0 };
	enum falco_parse_error pe;
	json_t *fields;
	int r = 0;

	pe = falco_alert_parse(line, len, FILE_LINE_MAX, &a, err, errlen);
	if (pe)
		return -EBADMSG;
	fields = json_object_get(a.json, "output_fields");
	ev->time_ns = (int64_t)a.time_ns;
	if ((r = dup_field(a.json, TIME, &ev->time)))
		goto out;
	if (!ev->time && a.time_ns && !(ev->time = format_time((int64_t)a.time_ns))) {
		r = -ENOMEM;
		goto out;
	}
#define MOVE(to, from)             \
	do {                       \
		ev->to = a.from;   \
		a.from = NULL;     \
	} while (0)
	MOVE(rule, rule);
	MOVE(priority, priority_text);
	MOVE(namespace_, k8s_namespace);
	MOVE(pod, k8s_pod);
	MOVE(exe_path, exe_path);
	MOVE(image, image);
	MOVE(container_id, container_id);
	MOVE(cmdline, cmdline);
	MOVE(hostname, hostname);
#undef MOVE
	if ((r = dup_field(fields, PARENT, &ev->parent)))
		goto out;
	r = dup_field(fields, GPARENT, &ev->gparent);
out:
	if (r)
		errbuf_set(err, errlen, r, "out of memory");
	falco_alert_clear(&a);
	return r;
}

int read_file_events(const struct triage_source *src, const struct triage_query *q, struct triage_events *ret,
		     char *err, size_t errlen)
{
	bool audit = src->kind == TRIAGE_SOURCE_AUDIT_LOG;
	bool is_stdin = !strcmp(src->location, "-");
	int64_t since_ns = 0, secs, now = q->now_ns ? q->now_ns : util_realtime_ns();
	char *line = NULL, inner[512];
	size_t cap = 0, lineno = 0;
	FILE *f;
	ssize_t n;
	int r = 0;

	if (q->since) {
		if (triage_parse_duration(q->since, &secs))
			return errbuf_set(err, errlen, -EINVAL, "'%s' is not a duration (e.g. 5m, 24h, 1h30m, 7d)", q->since);
		since_ns = now - secs * 1000000000;
	}
	f = is_stdin ? stdin : fopen(src->location, "re");
	if (!f)
		return errbuf_set(err, errlen, -errno, "%s: %s", src->location, strerror(errno));
	while ((n = getline(&line, &cap, f)) > 0) {
		struct triage_event ev = { 0 };
		size_t len = (size_t)n, i = 0;
		/* The last line of a log being written may be half there: skipped, not an error. */
		bool in_flight = line[len - 1] != '\n';

		lineno++;
		if ((size_t)n > FILE_LINE_MAX) {
			r = errbuf_set(err, errlen, -EFBIG, "%s:%zu: line over %d bytes", src->location, lineno, FILE_LINE_MAX);
			break;
		}
		while (i < len && (line[i] == ' ' || line[i] == '\t'))
			i++;
		if (i == len || line[i] == '\n' || line[i] == '\r')
			continue;
		/* A Falco log also holds start-up text: only lines that claim to be JSON must be. */
		if (line[i] != '{') {
			ret->skipped++;
			continue;
		}
		if (audit) {
			json_error_t jerr;
			json_t *o = json_loadb(line, len, 0, &jerr);

			if (!json_is_object(o)) {
				json_decref(o);
				if (in_flight) {
					ret->skipped++;
					continue;
				}
				r = errbuf_set(err, errlen, -EBADMSG, "%s:%zu: not a JSON audit record: %s", src->location,
					 lineno, jerr.text);
				break;
			}
			r = audit_record(o, &ev);
			json_decref(o);
			if (r) {
				event_clear(&ev);
				errbuf_set(err, errlen, r, "out of memory");
				break;
			}
		} else if ((r = alert_event(line, len, &ev, inner, sizeof(inner)))) {
			event_clear(&ev);
			if (r == -EBADMSG && in_flight) {
				ret->skipped++;
				r = 0;
				continue;
			}
			errbuf_set(err, errlen, r, "%s:%zu: %s", src->location, lineno, inner);
			break;
		}
		if (!ev.rule) { /* e.g. an audit record of a lost report */
			ret->skipped++;
			event_clear(&ev);
		} else if (!event_wanted(q, &ev, since_ns)) {
			event_clear(&ev);
		} else if ((r = events_push(ret, &ev))) {
			errbuf_set(err, errlen, r, "out of memory");
			break;
		}
	}
	if (!r && ferror(f))
		r = errbuf_set(err, errlen, -EIO, "%s: read error", src->location);
	free(line);
	if (!is_stdin)
		fclose(f);
	if (r)
		return r;
	ret->query = filter_text(q);
	if (asprintf(&ret->origin, "%s %s", audit ? "reflex audit log" : "Falco alerts", src->location) < 0)
		ret->origin = NULL;
	if (!ret->query || !ret->origin)
		return errbuf_set(err, errlen, -ENOMEM, "out of memory");
	return 0;
}
