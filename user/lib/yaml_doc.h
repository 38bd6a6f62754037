/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Reading a YAML file through libyaml's document API, so every node knows its
 * line: node access, YAML 1.1 nulls, and the one error format of a reader,
 * "FILE:LINE: key: what", one printable line whatever the file held. Used by
 * config.yaml and by `reflex triage`'s baseline; each keeps its own wording.
 */
#ifndef REFLEX_YAML_DOC_H
#define REFLEX_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>

#include <yaml.h>

enum ydoc_style {
	YDOC_KEY_QUOTED = 0, /* "FILE:LINE: key 'K': what", bytes past ASCII kept (config.yaml) */
	YDOC_KEY_PLAIN,      /* "FILE:LINE: K: what", printable ASCII only (the triage baseline) */
};

/* One document being read, and where its errors go. */
struct ydoc {
	const char *name;      /* the file, as messages name it */
	yaml_document_t *doc;
	char *err;             /* NULL: no message wanted */
	size_t errlen;
	enum ydoc_style style;
	char shown[96];        /* ydoc_show's value, made printable */
};

/* 1-based. */
size_t ydoc_line(const yaml_node_t *n);
/* YAML 1.1 null: an empty or ~/null plain scalar (e.g. "key:" with nothing after it). */
bool ydoc_is_null(const yaml_node_t *n);
/* "a list", "a mapping", "null", "a string" or "nothing", for "expected X, got Y". */
const char *ydoc_kind(const yaml_node_t *n);
size_t ydoc_seq_len(const yaml_node_t *n);
size_t ydoc_map_len(const yaml_node_t *n);
const yaml_node_t *ydoc_seq_item(const struct ydoc *d, const yaml_node_t *seq, size_t i);
const yaml_node_t *ydoc_map_key(const struct ydoc *d, const yaml_node_t *map, size_t i);
const yaml_node_t *ydoc_map_value(const struct ydoc *d, const yaml_node_t *map, size_t i);
/*
 * The key node among MAP's first I pairs whose text is KEY, or NULL. Readers
 * stop at the first bad key, so those keys are scalars already read.
 */
const yaml_node_t *ydoc_key_before(const struct ydoc *d, const yaml_node_t *map, size_t i, const char *key);
/*
 * The text of N when it is a scalar and not null: 0; -ENOMSG when it is no
 * such scalar, -EILSEQ when it holds a NUL byte (the reader says which).
 */
int ydoc_scalar(const yaml_node_t *n, const char **ret);

/* Writes the message in D's style (no line without a node); returns -EINVAL. */
__attribute__((format(printf, 4, 5))) int ydoc_fail(struct ydoc *d, const yaml_node_t *n, const char *key,
						    const char *fmt, ...);
/* S for a one-line message: control bytes replaced, long ones cut; valid until the next call. */
const char *ydoc_show(struct ydoc *d, const char *s);

/* *FIELD becomes a copy of S (the old value freed). 0, or -ENOMEM with *FIELD unchanged. */
int ydoc_set_string(char **field, const char *s);
/* Frees the N strings of LIST and LIST (NULL is fine). */
void ydoc_free_list(char **list, size_t n);

#endif
