// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/* YAML document helpers shared by config.yaml and the triage baseline; see yaml_doc.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "yaml_doc.h"

size_t ydoc_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

bool ydoc_is_null(const yaml_node_t *n)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = (const char *)n->data.scalar.value;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

const char *ydoc_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SCALAR_NODE:
		return ydoc_is_null(n) ? "null" : "a string";
	default:
		return "nothing";
	}
}

size_t ydoc_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
}

size_t ydoc_map_len(const yaml_node_t *n)
{
	return (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
}

const yaml_node_t *ydoc_seq_item(const struct ydoc *d, const yaml_node_t *seq, size_t i)
{
	return yaml_document_get_node(d->doc, seq->data.sequence.items.start[i]);
}

const yaml_node_t *ydoc_map_key(const struct ydoc *d, const yaml_node_t *map, size_t i)
{
	return yaml_document_get_node(d->doc, map->data.mapping.pairs.start[i].key);
}

const yaml_node_t *ydoc_map_value(const struct ydoc *d, const yaml_node_t *map, size_t i)
{
	return yaml_document_get_node(d->doc, map->data.mapping.pairs.start[i].value);
}

const yaml_node_t *ydoc_key_before(const struct ydoc *d, const yaml_node_t *map, size_t i, const char *key)
{
	for (size_t j = 0; j < i; j++) {
		const yaml_node_t *prev = ydoc_map_key(d, map, j);

		if (!strcmp((const char *)prev->data.scalar.value, key))
			return prev;
	}
	return NULL;
}

int ydoc_scalar(const yaml_node_t *n, const char **ret)
{
	const char *s;

	if (n->type != YAML_SCALAR_NODE || ydoc_is_null(n))
		return -ENOMSG;
	s = (const char *)n->data.scalar.value;
	if (strlen(s) != n->data.scalar.length)
		return -EILSEQ;
	*ret = s;
	return 0;
}

int ydoc_fail(struct ydoc *d, const yaml_node_t *n, const char *key, const char *fmt, ...)
{
	char what[384], line[32] = "";
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (n)
		snprintf(line, sizeof(line), ":%zu", ydoc_line(n));
	if (d->style == YDOC_KEY_PLAIN)
		return errbuf_set(d->err, d->errlen, -EINVAL, "%s%s: %s: %s", d->name, line, key, what);
	if (!d->err || !d->errlen)
		return -EINVAL;
	snprintf(d->err, d->errlen, "%s%s: key '%s': %s", d->name, line, key, what);
	/* Keys come from the file too: the message stays one printable line. */
	for (char *c = d->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -EINVAL;
}

const char *ydoc_show(struct ydoc *d, const char *s)
{
	size_t i, max = sizeof(d->shown) - 4;

	for (i = 0; s[i] && i < max; i++)
		d->shown[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i]) {
		memcpy(d->shown + i, "...", 3);
		i += 3;
	}
	d->shown[i] = '\0';
	return d->shown;
}

int ydoc_set_string(char **field, const char *s)
{
	char *copy = strdup(s);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

void ydoc_free_list(char **list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i]);
	free(list);
}
