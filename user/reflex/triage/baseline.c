// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The baseline file: benign patterns (with the fix they prefer) and real
 * indicators, read strictly through the library's YAML document helpers, so
 * a typo cannot quietly call an attack benign. Errors are "FILE:LINE: key: what".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "internal.h"
#include "util.h"
#include "yaml_doc.h"

#define BASELINE_MAX_BYTES (1 << 20)
#define BASELINE_MAX_ITEMS 10000

/* The baseline's own wording for a value that is not a non-empty string. */
static int bscalar(struct ydoc *p, const yaml_node_t *n, const char *key, const char **ret)
{
	switch (ydoc_scalar(n, ret)) {
	case 0:
		break;
	case -ENOMSG:
		return ydoc_fail(p, n, key, "expected a string, got %s",
				 n->type == YAML_SEQUENCE_NODE	? "a list"
				 : n->type == YAML_MAPPING_NODE ? "a mapping"
								: "nothing");
	default:
		return ydoc_fail(p, n, key, "has a NUL byte");
	}
	if (!**ret)
		return ydoc_fail(p, n, key, "must not be empty");
	return 0;
}

static int bstring(struct ydoc *p, const yaml_node_t *n, const char *key, char **ret)
{
	const char *s;
	int r = bscalar(p, n, key, &s);

	return r ? r : ydoc_set_string(ret, s);
}

static int blist(struct ydoc *p, const yaml_node_t *n, const char *key, char ***ret, size_t *ret_n)
{
	size_t count;
	char **list, item_key[96];

	if (n->type != YAML_SEQUENCE_NODE)
		return ydoc_fail(p, n, key, "expected a list of strings (write [a, b])");
	count = ydoc_seq_len(n);
	if (!count)
		return ydoc_fail(p, n, key, "an empty list matches nothing: leave the key out instead");
	if (count > BASELINE_MAX_ITEMS)
		return ydoc_fail(p, n, key, "more than %d items", BASELINE_MAX_ITEMS);
	list = calloc(count, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		int r;

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		if ((r = bstring(p, ydoc_seq_item(p, n, i), item_key, &list[i]))) {
			ydoc_free_list(list, count);
			return r;
		}
	}
	ydoc_free_list(*ret, *ret_n);
	*ret = list;
	*ret_n = count;
	return 0;
}

static void pattern_clear(struct triage_pattern *t)
{
	free(t->name);
	free(t->why);
	free(t->package);
	ydoc_free_list(t->rules, t->n_rules);
	ydoc_free_list(t->namespaces, t->n_namespaces);
	ydoc_free_list(t->pods, t->n_pods);
	ydoc_free_list(t->exe_paths, t->n_exe_paths);
	ydoc_free_list(t->images, t->n_images);
	ydoc_free_list(t->parents, t->n_parents);
	ydoc_free_list(t->cmdlines, t->n_cmdlines);
	memset(t, 0, sizeof(*t));
}

void triage_baseline_free(struct triage_baseline *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_benign; i++)
		pattern_clear(&b->benign[i]);
	for (size_t i = 0; i < b->n_real; i++)
		pattern_clear(&b->real[i]);
	free(b->benign);
	free(b->real);
	free(b->path);
	free(b);
}

bool package_ok(const char *s)
{
	return *s && *s != '-' && strlen(s) <= 214 &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+:@=~/-") == strlen(s);
}

static int parse_fix(struct ydoc *p, const yaml_node_t *v, const char *key, enum triage_fix_kind *ret)
{
	static const char *const muting[] = { "disable", "disable-rule", "disable_rule", "disabled", "mute",
					       "mute-rule", "silence", "enabled", "off", "false", "drop" };
	const char *s;
	int r = bscalar(p, v, key, &s);

	if (r)
		return r;
	if (!strcmp(s, "image-bake")) {
		*ret = TRIAGE_FIX_IMAGE_BAKE;
		return 0;
	}
	if (!strcmp(s, "exception")) {
		*ret = TRIAGE_FIX_EXCEPTION;
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(muting); i++)
		if (!strcasecmp(s, muting[i]))
			return ydoc_fail(p, v, key,
					 "refusing '%s': triage never disables or mutes a rule; use image-bake or a "
					 "scoped exception",
					 s);
	return ydoc_fail(p, v, key, "'%s' is not image-bake or exception", s);
}

static int parse_pattern(struct ydoc *p, const yaml_node_t *n, bool real, size_t index, struct triage_pattern *t)
{
	bool fix_given = false;
	char where[48], key[96];
	int r = 0;

	snprintf(where, sizeof(where), "%s[%zu]", real ? "real" : "benign", index);
	t->real = real;
	t->line = ydoc_line(n);
	if (n->type != YAML_MAPPING_NODE)
		return ydoc_fail(p, n, where, "expected a mapping (name, why, %s, conditions)",
				 real ? "rules" : "rule");
	for (size_t i = 0; i < ydoc_map_len(n) && !r; i++) {
		const yaml_node_t *kn = ydoc_map_key(p, n, i), *v = ydoc_map_value(p, n, i);
		const char *k;

		if ((r = bscalar(p, kn, where, &k)))
			return r;
		if (ydoc_key_before(p, n, i, k))
			return ydoc_fail(p, kn, where, "key '%s' given twice", k);
		snprintf(key, sizeof(key), "%s.%s", where, k);
		if (!strcmp(k, "name")) {
			r = bstring(p, v, key, &t->name);
		} else if (!strcmp(k, "why")) {
			r = bstring(p, v, key, &t->why);
		} else if (!real && !strcmp(k, "rule")) {
			ydoc_free_list(t->rules, t->n_rules);
			t->rules = calloc(1, sizeof(*t->rules));
			t->n_rules = t->rules ? 1 : 0;
			r = t->rules ? bstring(p, v, key, &t->rules[0]) : -ENOMEM;
		} else if (real && !strcmp(k, "rules")) {
			r = blist(p, v, key, &t->rules, &t->n_rules);
		} else if (!strcmp(k, "namespaces")) {
			r = blist(p, v, key, &t->namespaces, &t->n_namespaces);
		} else if (!strcmp(k, "pods")) {
			r = blist(p, v, key, &t->pods, &t->n_pods);
		} else if (!strcmp(k, "exe_paths")) {
			r = blist(p, v, key, &t->exe_paths, &t->n_exe_paths);
			for (size_t j = 0; !r && j < t->n_exe_paths; j++)
				if (t->exe_paths[j][0] != '/' && (real ? t->exe_paths[j][0] != '*' : true))
					r = ydoc_fail(p, v, key, "'%s' can never match an absolute exe path",
						      t->exe_paths[j]);
		} else if (!strcmp(k, "images")) {
			r = blist(p, v, key, &t->images, &t->n_images);
		} else if (!strcmp(k, "parents")) {
			r = blist(p, v, key, &t->parents, &t->n_parents);
		} else if (!strcmp(k, "cmdlines")) {
			r = blist(p, v, key, &t->cmdlines, &t->n_cmdlines);
		} else if (!real && !strcmp(k, "fix")) {
			fix_given = true;
			r = parse_fix(p, v, key, &t->fix);
		} else if (!real && !strcmp(k, "package")) {
			r = bstring(p, v, key, &t->package);
			if (!r && !package_ok(t->package))
				r = ydoc_fail(p, v, key, "'%s' is not a package name", t->package);
		} else {
			r = ydoc_fail(p, kn, key,
				      real ? "unknown key (name, why, rules, namespaces, pods, exe_paths, images, "
					     "parents, cmdlines)"
					   : "unknown key (name, why, rule, namespaces, pods, exe_paths, images, "
					     "parents, cmdlines, fix, package)");
		}
	}
	if (r)
		return r;
	if (!t->name)
		return ydoc_fail(p, n, where, "needs a name");
	if (!t->why)
		return ydoc_fail(p, n, where, "'%s' needs a why: the reason a person reads", t->name);
	if (!real && !t->n_rules)
		return ydoc_fail(p, n, where, "'%s' needs the rule it applies to (rule:)", t->name);
	if (!t->n_namespaces && !t->n_pods && !t->n_exe_paths && !t->n_images && !t->n_parents && !t->n_cmdlines &&
	    (!real || !t->n_rules))
		return ydoc_fail(p, n, where,
				 real ? "'%s' has no condition: it would call every event real"
				      : "'%s' has no condition besides the rule: it would call every event of the rule "
					"benign",
				 t->name);
	if (!real && !fix_given)
		t->fix = !strcmp(t->rules[0], TRIAGE_EXEC_RULE) ? TRIAGE_FIX_IMAGE_BAKE : TRIAGE_FIX_EXCEPTION;
	return 0;
}

static int parse_patterns(struct ydoc *p, const yaml_node_t *n, bool real, struct triage_baseline *b)
{
	struct triage_pattern **list = real ? &b->real : &b->benign;
	size_t *count = real ? &b->n_real : &b->n_benign, total;
	const char *key = real ? "real" : "benign";
	int r;

	if (n->type != YAML_SEQUENCE_NODE)
		return ydoc_fail(p, n, key, "expected a list of patterns");
	total = ydoc_seq_len(n);
	if (total > BASELINE_MAX_ITEMS)
		return ydoc_fail(p, n, key, "more than %d patterns", BASELINE_MAX_ITEMS);
	*list = calloc(total + 1, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	for (size_t i = 0; i < total; i++) {
		(*count)++; /* counted first: a half-parsed pattern is freed too */
		if ((r = parse_pattern(p, ydoc_seq_item(p, n, i), real, i, &(*list)[i])))
			return r;
	}
	return 0;
}

static int check_unique_names(struct ydoc *p, const struct triage_baseline *b)
{
	size_t total = b->n_benign + b->n_real;

	for (size_t i = 0; i < total; i++) {
		const struct triage_pattern *a = i < b->n_benign ? &b->benign[i] : &b->real[i - b->n_benign];

		for (size_t j = i + 1; j < total; j++) {
			const struct triage_pattern *c = j < b->n_benign ? &b->benign[j] : &b->real[j - b->n_benign];

			if (!strcmp(a->name, c->name)) {
				return errbuf_set(p->err, p->errlen, -EINVAL, "%s:%zu: pattern name '%s' used twice (first on line %zu)",
					    p->name, c->line, c->name, a->line);
			}
		}
	}
	return 0;
}

int triage_baseline_parse(const char *name, const char *text, size_t len, struct triage_baseline **ret,
			  char *err, size_t errlen)
{
	struct ydoc p = { .name = name, .err = err, .errlen = errlen, .style = YDOC_KEY_PLAIN };
	struct triage_baseline *b = NULL;
	yaml_parser_t parser;
	yaml_document_t doc;
	const yaml_node_t *root;
	int r = 0;

	*ret = NULL;
	if (len > BASELINE_MAX_BYTES)
		return errbuf_set(err, errlen, -EFBIG, "%s: over %d bytes", name, BASELINE_MAX_BYTES);
	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		r = errbuf_set(err, errlen, -EINVAL, "%s:%zu: %s", name, parser.problem_mark.line + 1,
			 parser.problem ? parser.problem : "YAML syntax error");
		yaml_parser_delete(&parser);
		return r;
	}
	p.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	b = calloc(1, sizeof(*b));
	if (!b || !(b->path = strdup(name))) {
		r = -ENOMEM;
		goto out;
	}
	if (!root || root->type != YAML_MAPPING_NODE) {
		r = errbuf_set(err, errlen, -EINVAL, "%s: expected a mapping with benign: and real: lists", name);
		goto out;
	}
	for (size_t i = 0; i < ydoc_map_len(root) && !r; i++) {
		const yaml_node_t *kn = ydoc_map_key(&p, root, i), *v = ydoc_map_value(&p, root, i);
		const char *k, *s;

		if ((r = bscalar(&p, kn, "top level", &k)))
			break;
		if (ydoc_key_before(&p, root, i, k)) {
			r = ydoc_fail(&p, kn, k, "given twice");
			break;
		}
		if (!strcmp(k, "version")) {
			r = bscalar(&p, v, k, &s);
			if (!r && strcmp(s, "1"))
				r = ydoc_fail(&p, v, k, "'%s' is not a version this reflex reads (1)", s);
		} else if (!strcmp(k, "benign")) {
			r = b->benign ? ydoc_fail(&p, kn, k, "given twice") : parse_patterns(&p, v, false, b);
		} else if (!strcmp(k, "real")) {
			r = b->real ? ydoc_fail(&p, kn, k, "given twice") : parse_patterns(&p, v, true, b);
		} else {
			r = ydoc_fail(&p, kn, k, "unknown key (version, benign, real)");
		}
	}
	if (!r)
		r = check_unique_names(&p, b);
out:
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (r) {
		if (r == -ENOMEM)
			errbuf_set(err, errlen, r, "%s: out of memory", name);
		triage_baseline_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int triage_baseline_load(const char *path, struct triage_baseline **ret, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int r;

	*ret = NULL;
	f = fopen(path, "re");
	if (!f)
		return errbuf_set(err, errlen, -errno, "%s: %s", path, strerror(errno));
	buf = malloc(BASELINE_MAX_BYTES + 1);
	if (!buf) {
		fclose(f);
		return -ENOMEM;
	}
	len = fread(buf, 1, BASELINE_MAX_BYTES + 1, f);
	r = ferror(f) ? errbuf_set(err, errlen, -EIO, "%s: read error", path) : 0;
	fclose(f);
	if (!r && len > BASELINE_MAX_BYTES)
		r = errbuf_set(err, errlen, -EFBIG, "%s: over %d bytes", path, BASELINE_MAX_BYTES);
	if (!r)
		r = triage_baseline_parse(path, buf, len, ret, err, errlen);
	free(buf);
	return r;
}
