// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * The exceptions a fix suggests, as a Falco rules override and as a reflex
 * config exceptions: block: the narrowest scope (namespace + exe path, +
 * image), every value escaped, so hostile event text cannot change the YAML.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "util.h"
#include "yaml_doc.h"

/* YAML comments: printable ASCII only, one line. */
static void sb_comment(struct sbuf *b, const char *s)
{
	for (; s && *s; s++)
		sb_putc(b, (unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f ? *s : '?');
}

/*
 * A YAML double-quoted scalar that reads back as exactly S: ASCII only, with
 * '\\', '"', controls and every non-ASCII code point escaped (so no line
 * break or BOM can end the scalar). S must be valid UTF-8.
 */
static void sb_yaml_quoted(struct sbuf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), n;
	uint32_t cp;

	sb_putc(b, '"');
	for (size_t i = 0; i < len; i += n) {
		n = utf8_decode(p + i, len - i, &cp);
		if (!n) { /* callers check utf8_valid first; never emit a raw byte */
			n = 1;
			cp = 0xfffd;
		}
		if (cp == '"' || cp == '\\')
			sb_printf(b, "\\%c", (char)cp);
		else if (cp >= 0x20 && cp < 0x7f)
			sb_putc(b, (char)cp);
		else if (cp < 0x100)
			sb_printf(b, "\\x%02x", (unsigned int)cp);
		else if (cp < 0x10000)
			sb_printf(b, "\\u%04x", (unsigned int)cp);
		else
			sb_printf(b, "\\U%08x", (unsigned int)cp);
	}
	sb_putc(b, '"');
}

/* fnmatch(3) glob matching exactly S: the metacharacters escaped. */
static void sb_glob_literal(struct sbuf *b, const char *s)
{
	for (; *s; s++) {
		if (strchr("*?[]\\", *s))
			sb_putc(b, '\\');
		sb_putc(b, *s);
	}
}

/* What the config accepts for an exception's namespace (config_rules.c): an exact Kubernetes name. */
static bool namespace_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n && n <= 63 && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static int scope_check(const struct triage_scope *s, char *err, size_t errlen)
{
	if (!s->rule || !*s->rule || !utf8_valid(s->rule))
		return errbuf_set(err, errlen, -EINVAL, "an exception needs the rule's name (valid UTF-8)");
	if (!s->namespace_)
		return errbuf_set(err, errlen, -EINVAL,
			    "the event names no namespace: an exception without one would cover the rule in every "
			    "namespace");
	if (!namespace_name_ok(s->namespace_))
		return errbuf_set(err, errlen, -EINVAL, "namespace '%s' is not a Kubernetes namespace name", s->namespace_);
	if (!s->exe_path)
		return errbuf_set(err, errlen, -EINVAL,
			    "the event names no exe path: an exception without one would cover every program in "
			    "the namespace");
	if (s->exe_path[0] != '/' || !utf8_valid(s->exe_path))
		return errbuf_set(err, errlen, -EINVAL, "exe path '%s' is not an absolute path in UTF-8", s->exe_path);
	if (s->image_repo && (!*s->image_repo || !utf8_valid(s->image_repo)))
		return errbuf_set(err, errlen, -EINVAL, "image repository '%s' is not valid UTF-8", s->image_repo);
	return 0;
}

/* "reflex_<namespace>_<exe>": Falco wants exception names unique within a rule. */
static char *exception_name(const struct triage_scope *s)
{
	struct sbuf b = { 0 };
	bool under = true;

	sb_puts(&b, "reflex_");
	for (const char *parts[] = { s->namespace_, "_", s->exe_path }, **p = parts; p < parts + 3; p++) {
		for (const char *c = *p; *c && b.len < 64; c++) {
			char ch = *c >= 'A' && *c <= 'Z' ? (char)(*c - 'A' + 'a') : *c;

			if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
				sb_putc(&b, ch);
				under = false;
			} else if (!under) {
				sb_putc(&b, '_');
				under = true;
			}
		}
	}
	while (!b.oom && b.len && b.s[b.len - 1] == '_')
		b.s[--b.len] = '\0';
	return sb_take(&b);
}

int triage_falco_override(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen)
{
	struct sbuf b = { 0 };
	char **names = NULL;
	bool *done = NULL;
	size_t n_names = 0;
	int r = 0;

	*ret = NULL;
	for (size_t i = 0; i < n; i++)
		if ((r = scope_check(&s[i], err, errlen)))
			return r;
	names = calloc(n + 1, sizeof(*names));
	done = calloc(n + 1, sizeof(*done));
	if (!names || !done) {
		r = -ENOMEM;
		goto out;
	}
	sb_puts(&b, "# Falco rules override from `reflex triage fix`: the narrowest exceptions for\n"
		    "# benign true positives, scoped to namespace + exe path (+ image repository).\n"
		    "# Load it after falco_rules.yaml, e.g. as /etc/falco/rules.d/reflex-triage.yaml.\n"
		    "# Prefer baking the binary into a digest-pinned image; never disable the rule.\n"
		    "- required_engine_version: " TRIAGE_FALCO_ENGINE_VERSION "\n");
	/* One block per rule, in first-seen order; one exception per scope. */
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		sb_puts(&b, "\n- rule: ");
		sb_yaml_quoted(&b, s[i].rule);
		sb_puts(&b, "\n  exceptions:\n");
		for (size_t j = i; j < n; j++) {
			char *base, *name;

			if (done[j] || strcmp(s[j].rule, s[i].rule))
				continue;
			done[j] = true;
			if (!(base = exception_name(&s[j]))) {
				r = -ENOMEM;
				goto out;
			}
			/* Unique within the file: a second scope with the same name gets a suffix. */
			name = base;
			for (unsigned int k = 2; name; k++) {
				bool taken = false;

				for (size_t m = 0; m < n_names && !taken; m++)
					taken = !strcmp(names[m], name);
				if (!taken)
					break;
				if (name != base)
					free(name);
				if (asprintf(&name, "%s_%u", base, k) < 0)
					name = NULL;
			}
			if (name != base)
				free(base);
			if (!name) {
				r = -ENOMEM;
				goto out;
			}
			names[n_names++] = name;
			if (s[j].comment) {
				sb_puts(&b, "    # ");
				sb_comment(&b, s[j].comment);
				sb_putc(&b, '\n');
			}
			sb_printf(&b, "    - name: %s\n", name);
			if (s[j].image_repo)
				sb_puts(&b, "      fields: [k8s.ns.name, proc.exepath, container.image.repository]\n"
					    "      comps: [=, =, =]\n");
			else
				sb_puts(&b, "      fields: [k8s.ns.name, proc.exepath]\n"
					    "      comps: [=, =]\n");
			sb_puts(&b, "      values:\n        - [");
			sb_yaml_quoted(&b, s[j].namespace_);
			sb_puts(&b, ", ");
			sb_yaml_quoted(&b, s[j].exe_path);
			if (s[j].image_repo) {
				sb_puts(&b, ", ");
				sb_yaml_quoted(&b, s[j].image_repo);
			}
			sb_puts(&b, "]\n");
		}
		sb_puts(&b, "  override:\n    exceptions: append\n");
	}
	*ret = sb_take(&b);
	if (!*ret)
		r = -ENOMEM;
out:
	if (r == -ENOMEM)
		errbuf_set(err, errlen, r, "out of memory");
	ydoc_free_list(names, n_names);
	free(done);
	sb_free(&b);
	return r;
}

int triage_reflex_exceptions(const struct triage_scope *s, size_t n, char **ret, char *err, size_t errlen)
{
	struct sbuf b = { 0 }, glob = { 0 };
	int r;

	*ret = NULL;
	for (size_t i = 0; i < n; i++)
		if ((r = scope_check(&s[i], err, errlen)))
			return r;
	sb_puts(&b, "# reflex config exceptions from `reflex triage fix`: merge into the config's\n"
		    "# `exceptions:` list; the rule must also be listed under `rules:`.\n"
		    "exceptions:\n");
	for (size_t i = 0; i < n; i++) {
		if (s[i].comment) {
			sb_puts(&b, "  # ");
			sb_comment(&b, s[i].comment);
			sb_putc(&b, '\n');
		}
		sb_puts(&b, "  - rule: ");
		sb_yaml_quoted(&b, s[i].rule);
		sb_puts(&b, "\n    namespace: ");
		sb_yaml_quoted(&b, s[i].namespace_);
		/* exe_path and image are fnmatch globs there: the literal path, escaped. */
		sb_glob_literal(&glob, s[i].exe_path);
		sb_puts(&b, "\n    exe_path: ");
		if (!glob.oom)
			sb_yaml_quoted(&b, glob.s);
		sb_free(&glob);
		if (s[i].image_repo) {
			/* Any tag now, and the digest-pinned reference after the image bake. */
			sb_glob_literal(&glob, s[i].image_repo);
			sb_puts(&glob, "[:@]*");
			sb_puts(&b, "\n    image: ");
			if (!glob.oom)
				sb_yaml_quoted(&b, glob.s);
			b.oom |= glob.oom;
			sb_free(&glob);
		}
		sb_putc(&b, '\n');
	}
	*ret = sb_take(&b);
	return *ret ? 0 : errbuf_set(err, errlen, -ENOMEM, "out of memory");
}
