// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * metrics.c: counters from several threads, the Prometheus text checked
 * line by line against the 0.0.4 format (names, TYPE before samples, label
 * escaping, numbers), and the /status JSON read back.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "metrics.h"

#define MAX_SAMPLES 256
#define MAX_LABELS 4

struct sample {
	char name[128];
	int n_labels;
	char label_name[MAX_LABELS][64];
	char label_value[MAX_LABELS][512];
	double value;
};

struct exposition {
	struct sample samples[MAX_SAMPLES];
	int n;
	char types[64][128];
	int n_types;
};


/* metrics_new, asserted: a fixture that cannot be made fails the test. */
static struct metrics *new_metrics(const char *node)
{
	struct metrics *m = NULL;

	assert_int_equal(metrics_new(node, &m), 0);
	return m;
}

static bool name_char(char c, bool first, bool colon_ok)
{
	if (isalpha((unsigned char)c) || c == '_' || (colon_ok && c == ':'))
		return true;
	return !first && isdigit((unsigned char)c);
}

/* Reads a metric or label name at *P into OUT; fails the test if there is none. */
static void read_name(const char **p, char *out, size_t size, bool colon_ok)
{
	size_t n = 0;

	if (!name_char(**p, true, colon_ok))
		fail_msg("bad name start at: %s", *p);
	while (name_char(**p, n == 0, colon_ok)) {
		assert_true(n + 1 < size);
		out[n++] = *(*p)++;
	}
	out[n] = '\0';
}

/* A label value: only \\, \" and \n escapes, no raw newline. */
static void read_label_value(const char **p, char *out, size_t size)
{
	size_t n = 0;

	assert_int_equal(*(*p)++, '"');
	while (**p != '"') {
		char c = *(*p)++;

		assert_true(c != '\0' && c != '\n');
		if (c == '\\') {
			c = *(*p)++;
			if (c == 'n')
				c = '\n';
			else if (c != '\\' && c != '"')
				fail_msg("bad escape \\%c", c);
		}
		assert_true(n + 1 < size);
		out[n++] = c;
	}
	(*p)++;
	out[n] = '\0';
}

static bool type_known(const struct exposition *e, const char *name)
{
	for (int i = 0; i < e->n_types; i++)
		if (!strcmp(e->types[i], name))
			return true;
	return false;
}

/* Parses TEXT strictly; every rule of the format that we rely on is checked. */
static void parse_exposition(const char *text, struct exposition *e)
{
	char family[128] = "", help_for[128] = "";
	bool histogram = false;
	const char *line = text, *nl;

	memset(e, 0, sizeof(*e));
	assert_true(*text);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (; *line; line = nl + 1) {
		char buf[1024], name[128], type[32], *end;
		const char *p;
		struct sample *s;

		nl = strchr(line, '\n');
		assert_non_null(nl);
		assert_true((size_t)(nl - line) < sizeof(buf));
		memcpy(buf, line, (size_t)(nl - line));
		buf[nl - line] = '\0';
		p = buf;
		assert_true(*p != '\0');
		if (!strncmp(p, "# HELP ", 7)) {
			p += 7;
			read_name(&p, help_for, sizeof(help_for), true);
			assert_int_equal(*p, ' ');
			assert_false(type_known(e, help_for));
			continue;
		}
		if (!strncmp(p, "# TYPE ", 7)) {
			p += 7;
			read_name(&p, name, sizeof(name), true);
			assert_int_equal(*p++, ' ');
			snprintf(type, sizeof(type), "%s", p);
			assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge") || !strcmp(type, "histogram"));
			histogram = !strcmp(type, "histogram");
			/* One TYPE per family, after its HELP, before its samples. */
			assert_false(type_known(e, name));
			assert_string_equal(name, help_for);
			assert_true(e->n_types < 64);
			snprintf(e->types[e->n_types++], sizeof(e->types[0]), "%s", name);
			if (!strcmp(type, "counter"))
				assert_true(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"));
			snprintf(family, sizeof(family), "%s", name);
			continue;
		}
		assert_int_not_equal(*p, '#');
		assert_true(e->n < MAX_SAMPLES);
		s = &e->samples[e->n++];
		read_name(&p, s->name, sizeof(s->name), true);
		/* The sample belongs to the family whose TYPE came last: families are contiguous. */
		if (histogram) {
			size_t fl = strlen(family);

			assert_memory_equal(s->name, family, fl);
			assert_true(!strcmp(s->name + fl, "_bucket") || !strcmp(s->name + fl, "_sum") ||
				    !strcmp(s->name + fl, "_count"));
		} else {
			assert_string_equal(s->name, family);
		}
		if (*p == '{') {
			p++;
			while (*p != '}') {
				assert_true(s->n_labels < MAX_LABELS);
				read_name(&p, s->label_name[s->n_labels], sizeof(s->label_name[0]), false);
				assert_int_equal(*p++, '=');
				read_label_value(&p, s->label_value[s->n_labels], sizeof(s->label_value[0]));
				for (int i = 0; i < s->n_labels; i++)
					assert_string_not_equal(s->label_name[i], s->label_name[s->n_labels]);
				s->n_labels++;
				if (*p == ',')
					p++;
				else
					assert_int_equal(*p, '}');
			}
			p++;
		}
		assert_int_equal(*p++, ' ');
		assert_true(*p && !isspace((unsigned char)*p));
		errno = 0;
		s->value = strtod(p, &end);
		assert_int_equal(errno, 0);
		assert_true(end != p && *end == '\0');
	}
}

/* The value of NAME with label LABEL="VALUE" (or no label when LABEL is NULL); -1 when absent. */
static double sample_value(const struct exposition *e, const char *name, const char *label, const char *value)
{
	for (int i = 0; i < e->n; i++) {
		const struct sample *s = &e->samples[i];

		if (strcmp(s->name, name))
			continue;
		if (!label && s->n_labels == 0)
			return s->value;
		for (int l = 0; label && l < s->n_labels; l++)
			if (!strcmp(s->label_name[l], label) && !strcmp(s->label_value[l], value))
				return s->value;
	}
	return -1;
}

static void test_counters(void **state)
{
	struct metrics *m = new_metrics("node-a");

	assert_non_null(m);
	for (int c = 0; c < METRIC_COUNTER_MAX; c++)
		assert_int_equal(metrics_get(m, (enum metric_counter)c), 0);
	metrics_inc(m, METRIC_KILLS_PIDFD);
	metrics_inc(m, METRIC_KILLS_PIDFD);
	metrics_inc(m, METRIC_AUDIT_ERRORS);
	assert_int_equal(metrics_get(m, METRIC_KILLS_PIDFD), 2);
	assert_int_equal(metrics_get(m, METRIC_AUDIT_ERRORS), 1);
	assert_int_equal(metrics_get(m, METRIC_KILLS_KERNEL), 0);

	/* Out of range and NULL are ignored, not memory corruption. */
	metrics_inc(m, METRIC_COUNTER_MAX);
	metrics_inc(m, (enum metric_counter)-1);
	metrics_inc(NULL, METRIC_ALERTS);
	assert_int_equal(metrics_get(m, METRIC_COUNTER_MAX), 0);
	assert_int_equal(metrics_get(NULL, METRIC_ALERTS), 0);
	metrics_set_kernel(m, METRIC_K_MAX, 5);
	metrics_set_kernel(NULL, METRIC_K_EXEC_SEEN, 5);
	metrics_set_containers(NULL, 3);
	metrics_set_hook(NULL, "x", true, "y");
	metrics_set_ready(NULL, true);
	assert_false(metrics_ready(NULL));

	assert_false(metrics_ready(m));
	metrics_set_ready(m, true);
	assert_true(metrics_ready(m));
	metrics_set_ready(m, false);
	assert_false(metrics_ready(m));

	assert_null(metrics_free(m));
	assert_null(metrics_free(NULL));
	assert_null(metrics_render_prometheus(NULL));
	assert_null(metrics_render_status_json(NULL));
}

#define THREADS 4
#define PER_THREAD 200000

static pthread_barrier_t start_line;

static void *hammer(void *arg)
{
	struct metrics *m = arg;

	/* All start together, so increments really race. */
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < PER_THREAD; i++)
		metrics_inc(m, METRIC_EVENTS_EXEC);
	return NULL;
}

/* Writers on several threads and a reader rendering meanwhile: no lost increments. */
static void test_counters_concurrent(void **state)
{
	struct metrics *m = new_metrics("n");
	pthread_t t[THREADS];
	struct exposition *e = malloc(sizeof(*e));
	char *text;

	assert_non_null(e);
	assert_int_equal(pthread_barrier_init(&start_line, NULL, THREADS + 1), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, m), 0);
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < 20; i++) {
		text = metrics_render_prometheus(m);
		assert_non_null(text);
		parse_exposition(text, e);
		free(text);
	}
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&start_line);
	assert_int_equal(metrics_get(m, METRIC_EVENTS_EXEC), THREADS * PER_THREAD);
	text = metrics_render_prometheus(m);
	parse_exposition(text, e);
	assert_true(sample_value(e, "reflex_exec_events_total", NULL, NULL) == THREADS * PER_THREAD);
	free(text);
	free(e);
	metrics_free(m);
}

static const char hostile_detail[] = "say \"hi\" \\ C:\\path\nsecond line \\n not a newline";

static struct metrics *populated(void)
{
	struct metrics *m = new_metrics("node-\"a\"\\1\n");

	assert_non_null(m);
	metrics_inc(m, METRIC_EVENTS_EXEC);
	metrics_inc(m, METRIC_EVENTS_EXEC);
	metrics_inc(m, METRIC_EVENTS_EXEC);
	metrics_inc(m, METRIC_KILLS_KERNEL);
	metrics_inc(m, METRIC_KILLS_PIDFD);
	metrics_inc(m, METRIC_KILLS_PIDFD);
	metrics_inc(m, METRIC_KILLS_CGROUP);
	metrics_inc(m, METRIC_KILLS_CGROUP);
	metrics_inc(m, METRIC_KILLS_CGROUP);
	metrics_inc(m, METRIC_DRY_RUNS);
	metrics_set_kernel(m, METRIC_K_EXEC_SEEN, 123456789012ULL);
	metrics_set_kernel(m, METRIC_K_RINGBUF_DROPS, 7);
	metrics_set_kernel(m, METRIC_K_EXEC_SEEN, 123456789013ULL); /* set, not added */
	metrics_set_containers(m, 42);
	metrics_set_hook(m, "tp_btf/sched_process_exec", true, "preferred hook");
	metrics_set_hook(m, "lsm/bprm_check_security", false, hostile_detail);
	metrics_set_hook(m, "cgroup/connect4", false, NULL);
	metrics_set_ready(m, true);
	return m;
}

static void test_prometheus_exposition(void **state)
{
	struct metrics *m = populated();
	struct exposition *e = malloc(sizeof(*e));
	char *text = metrics_render_prometheus(m);

	assert_non_null(e);
	assert_non_null(text);
	parse_exposition(text, e);

	assert_true(sample_value(e, "reflex_exec_events_total", NULL, NULL) == 3);
	assert_true(sample_value(e, "reflex_kills_total", "mode", "kernel") == 1);
	assert_true(sample_value(e, "reflex_kills_total", "mode", "pidfd") == 2);
	assert_true(sample_value(e, "reflex_kills_total", "mode", "cgroup_kill") == 3);
	assert_true(sample_value(e, "reflex_dry_runs_total", NULL, NULL) == 1);
	assert_true(sample_value(e, "reflex_kill_failures_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_refusals_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_alerts_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_host_events_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_stale_targets_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_audit_errors_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_kernel_exec_seen_total", NULL, NULL) == 123456789013.0);
	assert_true(sample_value(e, "reflex_kernel_exec_suspicious_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_kernel_exec_killed_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_ringbuf_drops_total", NULL, NULL) == 7);
	assert_true(sample_value(e, "reflex_kernel_signal_errors_total", NULL, NULL) == 0);
	assert_true(sample_value(e, "reflex_containers_tracked", NULL, NULL) == 42);
	assert_true(sample_value(e, "reflex_ready", NULL, NULL) == 1);
	assert_true(sample_value(e, "reflex_hook_active", "hook", "tp_btf/sched_process_exec") == 1);
	assert_true(sample_value(e, "reflex_hook_active", "hook", "lsm/bprm_check_security") == 0);
	assert_true(sample_value(e, "reflex_hook_active", "hook", "cgroup/connect4") == 0);
	/* Escaped on the way out, the same bytes after unescaping. */
	assert_true(sample_value(e, "reflex_hook_active", "detail", hostile_detail) == 0);
	assert_true(sample_value(e, "reflex_build_info", "node", "node-\"a\"\\1\n") == 1);
	/* counters + kernel + feed + containers + 4 pool gauges + 3 hooks + ready + build info. */
	assert_int_equal(e->n, METRIC_COUNTER_MAX + METRIC_K_MAX + METRIC_F_MAX + 1 + 4 + 3 + 1 + 1);
	assert_non_null(strstr(text, "# TYPE reflex_falco_queue_length gauge\n"));
	assert_true(sample_value(e, "reflex_pool_addresses", NULL, NULL) == 0);
	assert_non_null(strstr(text, "reflex_hook_active{hook=\"lsm/bprm_check_security\",detail=\"say \\\"hi\\\" "
				     "\\\\ C:\\\\path\\nsecond line \\\\n not a newline\"} 0\n"));
	free(text);

	metrics_set_ready(m, false);
	text = metrics_render_prometheus(m);
	parse_exposition(text, e);
	assert_true(sample_value(e, "reflex_ready", NULL, NULL) == 0);
	free(text);
	free(e);
	metrics_free(m);
}

/* The value of NAME whose labels include all of L1=V1, L2=V2, L3=V3 (NULL: unused); -1 when absent. */
static double sample_with(const struct exposition *e, const char *name, const char *const lv[6])
{
	for (int i = 0; i < e->n; i++) {
		const struct sample *s = &e->samples[i];
		bool all = true;

		if (strcmp(s->name, name))
			continue;
		for (int k = 0; k < 6 && lv[k]; k += 2) {
			bool found = false;

			for (int l = 0; l < s->n_labels; l++)
				found |= !strcmp(s->label_name[l], lv[k]) && !strcmp(s->label_value[l], lv[k + 1]);
			all &= found;
		}
		if (all)
			return s->value;
	}
	return -1;
}

static double bucket(const struct exposition *e, const char *source, const char *mode, const char *le)
{
	const char *const lv[6] = { "source", source, "kill_mode", mode, "le", le };

	return sample_with(e, "reflex_action_latency_seconds_bucket", lv);
}

/* Action latencies: cumulative buckets in seconds, +Inf = count, sum, one series per label set seen. */
static void test_latency_histogram(void **state)
{
	struct metrics *m = new_metrics("n");
	struct exposition *e = malloc(sizeof(*e));
	const char *const kernel_lsm[6] = { "source", "kernel", "kill_mode", "lsm", NULL, NULL };
	const char *const falco_pidfd[6] = { "source", "falco", "kill_mode", "pidfd", NULL, NULL };
	const char *const odd[6] = { "source", "other", "kill_mode", "other", NULL, NULL };
	char *text;

	assert_non_null(m);
	assert_non_null(e);
	metrics_observe_action(m, "kernel", "lsm", 0);
	metrics_observe_action(m, "kernel", "lsm", 10);  /* on a bound: in that bucket (le) */
	metrics_observe_action(m, "kernel", "lsm", 11);
	metrics_observe_action(m, "falco", "pidfd", 900);
	metrics_observe_action(m, "falco", "pidfd", 7000000); /* past the last bound: +Inf only */
	metrics_observe_action(m, "agent", "something new", 30);
	metrics_observe_action(NULL, "kernel", "lsm", 1);
	text = metrics_render_prometheus(m);
	assert_non_null(text);
	parse_exposition(text, e);
	assert_non_null(strstr(text, "# TYPE reflex_action_latency_seconds histogram\n"));

	assert_true(bucket(e, "kernel", "lsm", "1e-05") == 2);
	assert_true(bucket(e, "kernel", "lsm", "2.5e-05") == 3);
	assert_true(bucket(e, "kernel", "lsm", "+Inf") == 3);
	assert_true(sample_with(e, "reflex_action_latency_seconds_count", kernel_lsm) == 3);
	assert_true(sample_with(e, "reflex_action_latency_seconds_sum", kernel_lsm) > 0.0000209 &&
		    sample_with(e, "reflex_action_latency_seconds_sum", kernel_lsm) < 0.0000211);

	assert_true(bucket(e, "falco", "pidfd", "0.0005") == 0);
	assert_true(bucket(e, "falco", "pidfd", "0.001") == 1);
	assert_true(bucket(e, "falco", "pidfd", "5") == 1);
	assert_true(bucket(e, "falco", "pidfd", "+Inf") == 2);
	assert_true(sample_with(e, "reflex_action_latency_seconds_count", falco_pidfd) == 2);
	/* Unknown labels are not invented: they count under "other". */
	assert_true(sample_with(e, "reflex_action_latency_seconds_count", odd) == 1);
	/* Only label sets that saw an action: 3 series of 17 buckets + sum + count. */
	{
		int n = 0;

		for (int i = 0; i < e->n; i++)
			n += !strncmp(e->samples[i].name, "reflex_action_latency_seconds", 29);
		assert_int_equal(n, 3 * (17 + 2));
	}
	/* Buckets never decrease along le. */
	{
		double last = -1;

		for (int i = 0; i < e->n; i++) {
			const struct sample *s = &e->samples[i];

			if (strcmp(s->name, "reflex_action_latency_seconds_bucket") || strcmp(s->label_value[0], "falco"))
				continue;
			assert_true(s->value >= last);
			last = s->value;
		}
	}
	free(text);
	free(e);
	metrics_free(m);
}

static void test_hooks_table(void **state)
{
	struct metrics *m = new_metrics(NULL);
	struct exposition *e = malloc(sizeof(*e));
	char name[32], *text;

	assert_non_null(e);
	/* Setting a hook again updates it in place. */
	metrics_set_hook(m, "exec", false, "not yet");
	metrics_set_hook(m, "exec", true, "raw_tp fallback");
	metrics_set_hook(m, "", true, "no name is ignored");
	metrics_set_hook(m, NULL, true, "no name is ignored");
	/* Bytes that are not UTF-8 (labels must be) come out as '?'. */
	metrics_set_hook(m, "bad\xff", true, "\xc0\xaf");
	for (int i = 0; i < METRICS_MAX_HOOKS + 4; i++) {
		snprintf(name, sizeof(name), "hook%d", i);
		metrics_set_hook(m, name, i % 2, "filler");
	}
	text = metrics_render_prometheus(m);
	parse_exposition(text, e);
	assert_true(sample_value(e, "reflex_hook_active", "hook", "exec") == 1);
	assert_true(sample_value(e, "reflex_hook_active", "detail", "raw_tp fallback") == 1);
	assert_true(sample_value(e, "reflex_hook_active", "detail", "not yet") == -1);
	assert_true(sample_value(e, "reflex_hook_active", "hook", "bad?") == 1);
	assert_true(sample_value(e, "reflex_hook_active", "detail", "??") == 1);
	assert_true(sample_value(e, "reflex_build_info", "node", "") == 1);
	/* The table holds METRICS_MAX_HOOKS; the rest are dropped, the first kept. */
	assert_true(sample_value(e, "reflex_hook_active", "hook", "hook0") == 0);
	/* exec and bad? take two places: hook0 .. hook(MAX-3) fit, the next does not. */
	snprintf(name, sizeof(name), "hook%d", METRICS_MAX_HOOKS - 3);
	assert_true(sample_value(e, "reflex_hook_active", "hook", name) == 1);
	snprintf(name, sizeof(name), "hook%d", METRICS_MAX_HOOKS - 2);
	assert_true(sample_value(e, "reflex_hook_active", "hook", name) == -1);
	int hooks = 0;
	for (int i = 0; i < e->n; i++)
		hooks += !strcmp(e->samples[i].name, "reflex_hook_active");
	assert_int_equal(hooks, METRICS_MAX_HOOKS);
	/* A known hook can still be updated when the table is full. */
	metrics_set_hook(m, "exec", false, "detached");
	free(text);
	text = metrics_render_prometheus(m);
	parse_exposition(text, e);
	assert_true(sample_value(e, "reflex_hook_active", "detail", "detached") == 0);
	free(text);
	free(e);
	metrics_free(m);
}

static void test_status_json(void **state)
{
	struct metrics *m = populated();
	char *text = metrics_render_status_json(m);
	json_t *j, *hooks, *h, *counters, *kernel;
	json_error_t jerr;
	const char *key;
	size_t n = 0;
	json_t *v;

	assert_non_null(text);
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "node")), "node-\"a\"\\1\n");
	assert_true(json_is_true(json_object_get(j, "ready")));
	assert_int_equal(json_integer_value(json_object_get(j, "containers_tracked")), 42);

	hooks = json_object_get(j, "hooks");
	assert_true(json_is_array(hooks));
	assert_int_equal(json_array_size(hooks), 3);
	h = json_array_get(hooks, 0);
	assert_string_equal(json_string_value(json_object_get(h, "name")), "tp_btf/sched_process_exec");
	assert_true(json_is_true(json_object_get(h, "active")));
	assert_string_equal(json_string_value(json_object_get(h, "detail")), "preferred hook");
	h = json_array_get(hooks, 1);
	assert_true(json_is_false(json_object_get(h, "active")));
	assert_string_equal(json_string_value(json_object_get(h, "detail")), hostile_detail);
	h = json_array_get(hooks, 2);
	assert_true(json_is_null(json_object_get(h, "detail")));

	counters = json_object_get(j, "counters");
	assert_true(json_is_object(counters));
	assert_int_equal(json_object_size(counters), METRIC_COUNTER_MAX);
	json_object_foreach(counters, key, v)
		assert_true(json_is_integer(v));
	assert_int_equal(json_integer_value(json_object_get(counters, "exec_events")), 3);
	assert_int_equal(json_integer_value(json_object_get(counters, "kills_kernel")), 1);
	assert_int_equal(json_integer_value(json_object_get(counters, "kills_pidfd")), 2);
	assert_int_equal(json_integer_value(json_object_get(counters, "kills_cgroup")), 3);
	assert_int_equal(json_integer_value(json_object_get(counters, "dry_runs")), 1);
	assert_int_equal(json_integer_value(json_object_get(counters, "audit_errors")), 0);

	kernel = json_object_get(j, "kernel");
	assert_int_equal(json_object_size(kernel), METRIC_K_MAX);
	assert_int_equal(json_integer_value(json_object_get(kernel, "exec_seen")), 123456789013LL);
	assert_int_equal(json_integer_value(json_object_get(kernel, "ringbuf_drops")), 7);

	/* Keys in a stable order: node first, the gauges last. */
	json_object_foreach(j, key, v) {
		static const char *const order[] = { "node",
						     "ready",
						     "hooks",
						     "counters",
						     "kernel",
						     "containers_tracked",
						     "pool_domains",
						     "pool_addresses",
						     "pool_domains_resolving",
						     "pool_domains_failing",
						     "falco",
						     "disarmed_rules" };

		assert_true(n < 12);
		assert_string_equal(key, order[n++]);
	}
	json_decref(j);
	free(text);
	metrics_free(m);
}

/* reflex_actions_total: one series per rule, action and outcome; bounded, escaped. */
static void test_actions_per_rule(void **state)
{
	struct metrics *m = new_metrics("n");
	char *text, rule[32];

	assert_non_null(m);
	metrics_count_action(m, "Drop and execute", "kill_process", "killed");
	metrics_count_action(m, "Drop and execute", "kill_process", "killed");
	metrics_count_action(m, "Drop and execute", "kill_process", "refused");
	metrics_count_action(m, "a\"b\\c\nd", "alert", "alert");
	metrics_count_action(NULL, "x", "alert", "alert");
	text = metrics_render_prometheus(m);
	assert_non_null(text);
	assert_non_null(strstr(text, "# TYPE reflex_actions_total counter\n"));
	assert_non_null(strstr(text, "reflex_actions_total{rule=\"Drop and execute\",action=\"kill_process\",outcome=\"killed\"} 2\n"));
	assert_non_null(strstr(text, "reflex_actions_total{rule=\"Drop and execute\",action=\"kill_process\",outcome=\"refused\"} 1\n"));
	assert_non_null(strstr(text, "reflex_actions_total{rule=\"a\\\"b\\\\c\\nd\",action=\"alert\",outcome=\"alert\"} 1\n"));
	free(text);
	/* A config with a flood of rule names cannot grow the exposition without bound. */
	for (int i = 0; i < METRICS_MAX_ACTION_SERIES * 2; i++) {
		snprintf(rule, sizeof(rule), "rule-%d", i);
		metrics_count_action(m, rule, "kill_process", "killed");
	}
	text = metrics_render_prometheus(m);
	assert_non_null(text);
	assert_non_null(strstr(text, "reflex_actions_total{rule=\"(other)\",action=\"kill_process\",outcome=\"killed\"} "));
	{
		size_t series = 0;

		for (const char *p = text; (p = strstr(p, "\nreflex_actions_total{")); p++)
			series++;
		assert_true(series <= METRICS_MAX_ACTION_SERIES);
	}
	free(text);
	metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_counters_concurrent),
		cmocka_unit_test(test_prometheus_exposition),
		cmocka_unit_test(test_hooks_table),
		cmocka_unit_test(test_latency_histogram),
		cmocka_unit_test(test_status_json),
		cmocka_unit_test(test_actions_per_rule),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
