/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Inside config: what the loader (config.c: the top level, the key tables of
 * agent: and controller:, defaults), config_fields.c (typed values and those
 * sections) and config_rules.c (rules:, exceptions:) share. Not an API: the
 * programs use config.h. Errors are "FILE:LINE: key 'K': what" (yaml_doc.h).
 */
#ifndef REFLEX_CONFIG_PARSE_H
#define REFLEX_CONFIG_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "yaml_doc.h"

/* A list item's extra check (path, namespace glob, ...): 0 or ydoc_fail's -EINVAL. */
typedef int (*item_check_fn)(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s);

/* The text of a scalar; anything else (or an embedded NUL) is an error. */
int cfg_get_scalar(struct ydoc *p, const yaml_node_t *n, const char *key, const char *what, const char **ret);
int cfg_get_string(struct ydoc *p, const yaml_node_t *n, const char *key, bool allow_empty, char **out);
int cfg_get_bool(struct ydoc *p, const yaml_node_t *n, const char *key, bool *out);
/* A list of non-empty strings, each passing CHECK when there is one; replaces *OUT. */
int cfg_get_list(struct ydoc *p, const yaml_node_t *n, const char *key, item_check_fn check, char ***out,
		 size_t *out_n);
int cfg_expect_mapping(struct ydoc *p, const yaml_node_t *n, const char *key);
/*
 * The key of pair I of MAP: a string not given before in MAP. Callers stop at
 * the first unknown key, so the pairs before I are distinct known keys and the
 * scan stays short even in a hostile file.
 */
int cfg_pair_key(struct ydoc *p, const yaml_node_t *map, size_t i, const char *where, const char **ret,
		 const yaml_node_t **ret_value);

enum field_kind {
	FIELD_STRING,        /* non-empty */
	FIELD_STRING_OR_OFF, /* "" disables */
	FIELD_PATH,
	FIELD_PATH_OR_OFF,   /* absolute, or "" */
	FIELD_BOOL,
	FIELD_UINT,
	FIELD_PATHS,
	FIELD_CIDRS,
	FIELD_UNKNOWN_OWNER,
	FIELD_LOG_LEVEL,
	FIELD_MODE,          /* octal file mode, e.g. "0660" */
	FIELD_UIDS,          /* list of uids */
	FIELD_LOOPBACK_ADDRESS, /* "" or 127.x.y.z:PORT / [::1]:PORT */
	FIELD_API_URL,       /* "auto", "" or http(s)://... */
};

struct agent_field {
	const char *key;
	enum field_kind kind;
	size_t offset;   /* into struct agent_config */
	size_t n_offset; /* lists: the count */
	unsigned int lo, hi;
};

/* One section (agent: or controller:) of keys from FIELDS into BASE. */
int cfg_parse_section(struct ydoc *p, const yaml_node_t *n, const char *section, const struct agent_field *fields,
		      size_t n_fields, void *base);

/* rules: (names unique) and exceptions: (each naming a rule of C, so read after rules:). */
int cfg_parse_rules(struct ydoc *p, const yaml_node_t *n, struct reflex_config *c);
int cfg_parse_exceptions(struct ydoc *p, const yaml_node_t *n, struct reflex_config *c);

#endif
