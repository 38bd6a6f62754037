// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ratelimit.h"

/* One kill inside the window. */
struct kill_entry {
	uint64_t at_ns;
	char *container_id;
	char *exe_path;
};

struct rule_state {
	char *rule;
	struct kill_entry *kills; /* oldest first */
	size_t n, cap;
	bool disarmed;
	char why[256];
	size_t disarm_order;
};

struct ratelimit {
	struct ratelimit_config cfg;
	struct rule_state *rules;
	size_t n_rules, n_disarmed;
};

int ratelimit_new(const struct ratelimit_config *cfg, struct ratelimit **ret)
{
	struct ratelimit *r;

	if (!cfg || !cfg->max_containers || !cfg->max_executables || !cfg->window_s)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cfg = *cfg;
	*ret = r;
	return 0;
}

struct ratelimit *ratelimit_free(struct ratelimit *r)
{
	if (!r)
		return NULL;
	for (size_t i = 0; i < r->n_rules; i++) {
		for (size_t k = 0; k < r->rules[i].n; k++) {
			free(r->rules[i].kills[k].container_id);
			free(r->rules[i].kills[k].exe_path);
		}
		free(r->rules[i].kills);
		free(r->rules[i].rule);
	}
	free(r->rules);
	free(r);
	return NULL;
}

static struct rule_state *find(const struct ratelimit *r, const char *rule)
{
	for (size_t i = 0; i < r->n_rules; i++)
		if (!strcmp(r->rules[i].rule, rule))
			return &r->rules[i];
	return NULL;
}

static struct rule_state *find_or_add(struct ratelimit *r, const char *rule)
{
	struct rule_state *s = find(r, rule), *rules;

	if (s)
		return s;
	rules = realloc(r->rules, (r->n_rules + 1) * sizeof(*rules));
	if (!rules)
		return NULL;
	r->rules = rules;
	s = &rules[r->n_rules];
	memset(s, 0, sizeof(*s));
	s->rule = strdup(rule);
	if (!s->rule)
		return NULL;
	r->n_rules++;
	return s;
}

static void expire(const struct ratelimit *r, struct rule_state *s, uint64_t now_ns)
{
	uint64_t window = (uint64_t)r->cfg.window_s * 1000000000ULL;
	size_t drop = 0;

	while (drop < s->n && now_ns - s->kills[drop].at_ns >= window) {
		free(s->kills[drop].container_id);
		free(s->kills[drop].exe_path);
		drop++;
	}
	if (drop) {
		memmove(s->kills, s->kills + drop, (s->n - drop) * sizeof(*s->kills));
		s->n -= drop;
	}
}

/* Distinct containers and executables in the window, counting the candidate too. */
static void distinct(const struct rule_state *s, const char *container_id, const char *exe_path,
		     size_t *ret_containers, size_t *ret_exes)
{
	size_t nc = 0, ne = 0;
	bool cand_c = container_id != NULL, cand_e = exe_path != NULL;

	for (size_t i = 0; i < s->n; i++) {
		bool first_c = true, first_e = true;

		for (size_t j = 0; j < i; j++) {
			first_c &= strcmp(s->kills[j].container_id, s->kills[i].container_id) != 0;
			first_e &= strcmp(s->kills[j].exe_path, s->kills[i].exe_path) != 0;
		}
		nc += first_c;
		ne += first_e;
		if (cand_c && !strcmp(s->kills[i].container_id, container_id))
			cand_c = false;
		if (cand_e && !strcmp(s->kills[i].exe_path, exe_path))
			cand_e = false;
	}
	*ret_containers = nc + cand_c;
	*ret_exes = ne + cand_e;
}

static int add_kill(struct rule_state *s, const char *container_id, const char *exe_path, uint64_t now_ns)
{
	struct kill_entry e = { .at_ns = now_ns };

	/* One entry per (container, exe), the latest: the window then holds at most limit x limit. */
	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->kills[i].container_id, container_id) || strcmp(s->kills[i].exe_path, exe_path))
			continue;
		e = s->kills[i];
		e.at_ns = now_ns;
		memmove(s->kills + i, s->kills + i + 1, (s->n - i - 1) * sizeof(*s->kills));
		s->kills[s->n - 1] = e;
		return 0;
	}
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 8;
		struct kill_entry *k = realloc(s->kills, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		s->kills = k;
		s->cap = cap;
	}
	e.container_id = strdup(container_id);
	e.exe_path = strdup(exe_path);
	if (!e.container_id || !e.exe_path) {
		free(e.container_id);
		free(e.exe_path);
		return -ENOMEM;
	}
	s->kills[s->n++] = e;
	return 0;
}

static void disarm(struct ratelimit *r, struct rule_state *s, size_t nc, size_t ne)
{
	s->disarmed = true;
	s->disarm_order = r->n_disarmed++;
	snprintf(s->why, sizeof(s->why),
		 "rule disarmed to alert-only: %zu distinct containers and %zu distinct executables in %u s "
		 "(limits %u and %u); re-armed by a config reload",
		 nc, ne, r->cfg.window_s, r->cfg.max_containers, r->cfg.max_executables);
}

static enum ratelimit_verdict account(struct ratelimit *r, const char *rule, const char *container_id,
				      const char *exe_path, uint64_t now_ns, bool already_killed)
{
	struct rule_state *s;
	size_t nc, ne;

	container_id = container_id ? container_id : "";
	exe_path = exe_path ? exe_path : "";
	s = find_or_add(r, rule ? rule : "");
	/* Out of memory: fail safe, as if the limit were reached. */
	if (!s)
		return RATELIMIT_DISARMED;
	if (s->disarmed)
		return RATELIMIT_DISARMED;
	expire(r, s, now_ns);
	distinct(s, container_id, exe_path, &nc, &ne);
	if (nc > r->cfg.max_containers || ne > r->cfg.max_executables) {
		disarm(r, s, nc, ne);
		if (already_killed)
			add_kill(s, container_id, exe_path, now_ns);
		return RATELIMIT_DISARMED_NOW;
	}
	if (add_kill(s, container_id, exe_path, now_ns))
		return RATELIMIT_DISARMED;
	return RATELIMIT_ADMIT;
}

enum ratelimit_verdict ratelimit_admit(struct ratelimit *r, const char *rule, const char *container_id,
				       const char *exe_path, uint64_t now_ns)
{
	return account(r, rule, container_id, exe_path, now_ns, false);
}

enum ratelimit_verdict ratelimit_record(struct ratelimit *r, const char *rule, const char *container_id,
					const char *exe_path, uint64_t now_ns)
{
	return account(r, rule, container_id, exe_path, now_ns, true);
}

bool ratelimit_kernel_may_kill(struct ratelimit *r, const char *rule, uint64_t now_ns)
{
	struct rule_state *s = find(r, rule ? rule : "");
	size_t nc, ne;

	if (!s)
		return true;
	if (s->disarmed)
		return false;
	expire(r, s, now_ns);
	distinct(s, NULL, NULL, &nc, &ne);
	return nc < r->cfg.max_containers && ne < r->cfg.max_executables;
}

bool ratelimit_disarmed(const struct ratelimit *r, const char *rule, char *why, size_t whylen)
{
	const struct rule_state *s = find(r, rule ? rule : "");

	if (!s || !s->disarmed)
		return false;
	if (why && whylen)
		snprintf(why, whylen, "%s", s->why);
	return true;
}

const char *ratelimit_disarmed_rule(const struct ratelimit *r, size_t i)
{
	for (size_t k = 0; k < r->n_rules; k++)
		if (r->rules[k].disarmed && r->rules[k].disarm_order == i)
			return r->rules[k].rule;
	return NULL;
}
