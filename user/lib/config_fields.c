// SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause
/*
 * config.yaml's typed values (strings, booleans, numbers, paths, lists, file
 * modes, addresses, URLs) and the agent: and controller: sections read
 * through the key tables in config.c. Strict: a value that could weaken a
 * safeguard is an error naming file, line and key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>

#include "config_parse.h"
#include "pools.h"
#include "util.h"

int cfg_get_scalar(struct ydoc *p, const yaml_node_t *n, const char *key, const char *what, const char **ret)
{
	switch (ydoc_scalar(n, ret)) {
	case 0:
		return 0;
	case -ENOMSG:
		return ydoc_fail(p, n, key, "expected %s, got %s", what, ydoc_kind(n));
	default:
		return ydoc_fail(p, n, key, "contains a NUL character");
	}
}

int cfg_get_string(struct ydoc *p, const yaml_node_t *n, const char *key, bool allow_empty, char **out)
{
	const char *s;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "a string", &s)))
		return err;
	if (!allow_empty && !*s)
		return ydoc_fail(p, n, key, "must not be empty");
	return ydoc_set_string(out, s);
}

int cfg_get_bool(struct ydoc *p, const yaml_node_t *n, const char *key, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" }, *const no[] = { "false", "no", "off" };
	const char *s;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "a boolean (true/false)", &s)))
		return err;
	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return ydoc_fail(p, n, key, "expected a boolean (true/false/yes/no/on/off), got '%s'", ydoc_show(p, s));
}

static int get_uint(struct ydoc *p, const yaml_node_t *n, const char *key, unsigned int lo, unsigned int hi,
		    unsigned int *out)
{
	const char *s;
	char *end;
	unsigned long v;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "a whole number", &s)))
		return err;
	/* strtoul alone would take " 5", "+5" and "-5" (as a huge value). */
	if (*s < '0' || *s > '9')
		return ydoc_fail(p, n, key, "expected a whole number from %u to %u, got '%s'", lo, hi, ydoc_show(p, s));
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return ydoc_fail(p, n, key, "expected a whole number from %u to %u, got '%s'", lo, hi, ydoc_show(p, s));
	*out = (unsigned int)v;
	return 0;
}

/* A path reflexd opens as root: absolute, so it does not depend on the working directory. */
static int check_path(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s)
{
	const char *c;

	if (s[0] != '/')
		return ydoc_fail(p, n, key, "expected an absolute path, got '%s'", ydoc_show(p, s));
	for (c = s; (c = strstr(c, "/..")); c += 3)
		if (c[3] == '/' || !c[3])
			return ydoc_fail(p, n, key, "'..' is not allowed in a path: '%s'", ydoc_show(p, s));
	return 0;
}

static int get_path(struct ydoc *p, const yaml_node_t *n, const char *key, bool allow_empty, char **out)
{
	const char *s;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "a path", &s)))
		return err;
	if (!*s && allow_empty)
		return ydoc_set_string(out, s);
	if ((err = check_path(p, n, key, s)))
		return err;
	return ydoc_set_string(out, s);
}

static int check_cidr(struct ydoc *p, const yaml_node_t *n, const char *key, const char *s)
{
	const char *slash = strchr(s, '/');
	struct pool_addr addr;

	/* pool_cidr_parse takes a signed prefix; only digits belong there. */
	if (pool_cidr_parse(s, 0, &addr) || (slash && strspn(slash + 1, "0123456789") != strlen(slash + 1)))
		return ydoc_fail(p, n, key, "'%s' is not an address or CIDR (e.g. 198.51.100.0/24)", ydoc_show(p, s));
	return 0;
}

int cfg_get_list(struct ydoc *p, const yaml_node_t *n, const char *key, item_check_fn check, char ***out, size_t *out_n)
{
	size_t count, i;
	char **list;
	char item_key[128];
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return ydoc_fail(p, n, key, "expected a list of strings, got %s%s", ydoc_kind(n),
				 n->type == YAML_SCALAR_NODE && ydoc_is_null(n) ? " (write [] for an empty list)" : "");
	count = ydoc_seq_len(n);
	list = calloc(count + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (i = 0; i < count; i++) {
		const yaml_node_t *item = ydoc_seq_item(p, n, i);
		const char *s;

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		err = cfg_get_scalar(p, item, item_key, "a string", &s);
		if (!err && !*s)
			err = ydoc_fail(p, item, item_key, "must not be empty");
		if (!err && check)
			err = check(p, item, item_key, s);
		if (!err && !(list[i] = strdup(s)))
			err = -ENOMEM;
		if (err) {
			ydoc_free_list(list, i);
			return err;
		}
	}
	ydoc_free_list(*out, *out_n);
	*out = list;
	*out_n = count;
	return 0;
}

int cfg_expect_mapping(struct ydoc *p, const yaml_node_t *n, const char *key)
{
	if (n->type != YAML_MAPPING_NODE)
		return ydoc_fail(p, n, key, "expected a mapping, got %s", ydoc_kind(n));
	return 0;
}

int cfg_pair_key(struct ydoc *p, const yaml_node_t *map, size_t i, const char *where, const char **ret,
		 const yaml_node_t **ret_value)
{
	const yaml_node_t *k = ydoc_map_key(p, map, i), *prev;
	const char *s;
	int err;

	if ((err = cfg_get_scalar(p, k, where, "a string key", &s)))
		return err;
	if ((prev = ydoc_key_before(p, map, i, s)))
		return ydoc_fail(p, k, s, "given twice in %s (first on line %zu)", where, ydoc_line(prev));
	*ret = s;
	*ret_value = ydoc_map_value(p, map, i);
	return 0;
}

/* Octal mode from a string ("0660") or a YAML 1.1 octal/decimal scalar. */
static int get_mode(struct ydoc *p, const yaml_node_t *n, const char *key, unsigned int *out)
{
	const char *s;
	char *end;
	unsigned long v;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "an octal file mode such as \"0660\"", &s)))
		return err;
	if (*s != '0' || strspn(s, "01234567") != strlen(s))
		return ydoc_fail(p, n, key, "expected an octal file mode with a leading 0 (e.g. \"0660\"), got '%s'",
				 ydoc_show(p, s));
	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || *end || v > 0777)
		return ydoc_fail(p, n, key, "expected a file mode from 0000 to 0777, got '%s'", ydoc_show(p, s));
	*out = (unsigned int)v;
	return 0;
}

static int get_uid_list(struct ydoc *p, const yaml_node_t *n, const char *key, unsigned int **out, size_t *out_n)
{
	size_t count;
	unsigned int *list;
	char item_key[128];
	int err;

	if (n->type != YAML_SEQUENCE_NODE)
		return ydoc_fail(p, n, key, "expected a list of uids, got %s", ydoc_kind(n));
	count = ydoc_seq_len(n);
	list = calloc(count + 1, sizeof(*list));
	if (!list)
		return -ENOMEM;
	for (size_t i = 0; i < count; i++) {
		const yaml_node_t *item = ydoc_seq_item(p, n, i);

		snprintf(item_key, sizeof(item_key), "%s[%zu]", key, i);
		if ((err = get_uint(p, item, item_key, 0, 4294967294U, &list[i]))) {
			free(list);
			return err;
		}
	}
	free(*out);
	*out = list;
	*out_n = count;
	return 0;
}

/* The Falco HTTP intake takes alerts unauthenticated by default: loopback only. */
static int get_loopback_address(struct ydoc *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s, *colon;
	unsigned int port;
	char *end;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "HOST:PORT on loopback", &s)))
		return err;
	if (!*s)
		return ydoc_set_string(out, s);
	colon = strrchr(s, ':');
	if (!colon || (strncmp(s, "127.", 4) && strncmp(s, "[::1]:", 6)) || (s[0] != '[' && strchr(s, '[')))
		return ydoc_fail(p, n, key, "expected a loopback HOST:PORT (127.0.0.1:2802 or [::1]:2802), got '%s'",
				 ydoc_show(p, s));
	errno = 0;
	port = (unsigned int)strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] < '0' || colon[1] > '9' || port > 65535)
		return ydoc_fail(p, n, key, "port must be a number from 0 to 65535 in '%s'", ydoc_show(p, s));
	if (s[0] == '1') {
		struct in_addr in;
		char host[32];

		if ((size_t)(colon - s) >= sizeof(host))
			return ydoc_fail(p, n, key, "'%s' is not a loopback address", ydoc_show(p, s));
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		if (inet_pton(AF_INET, host, &in) != 1)
			return ydoc_fail(p, n, key, "'%s' is not a loopback address", ydoc_show(p, s));
	}
	return ydoc_set_string(out, s);
}

static int get_api_url(struct ydoc *p, const yaml_node_t *n, const char *key, char **out)
{
	const char *s;
	int err;

	if ((err = cfg_get_scalar(p, n, key, "\"auto\", \"\" or an http(s) URL", &s)))
		return err;
	if (*s && strcmp(s, "auto") && strncmp(s, "https://", 8) && strncmp(s, "http://", 7))
		return ydoc_fail(p, n, key, "expected \"auto\", \"\" (off) or an http:// or https:// URL, got '%s'",
				 ydoc_show(p, s));
	if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:/.-_[]%") != strlen(s))
		return ydoc_fail(p, n, key, "'%s' is not a plain URL (no query, spaces or credentials)",
				 ydoc_show(p, s));
	return ydoc_set_string(out, s);
}

static int parse_field(struct ydoc *p, const struct agent_field *f, const yaml_node_t *v, const char *key, void *base)
{
	void *field = (char *)base + f->offset;
	const char *s;
	int err;

	switch (f->kind) {
	case FIELD_STRING:
		return cfg_get_string(p, v, key, false, field);
	case FIELD_STRING_OR_OFF:
		return cfg_get_string(p, v, key, true, field);
	case FIELD_PATH:
		return get_path(p, v, key, false, field);
	case FIELD_PATH_OR_OFF:
		return get_path(p, v, key, true, field);
	case FIELD_BOOL:
		return cfg_get_bool(p, v, key, field);
	case FIELD_UINT:
		return get_uint(p, v, key, f->lo, f->hi, field);
	case FIELD_PATHS:
		return cfg_get_list(p, v, key, check_path, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_CIDRS:
		return cfg_get_list(p, v, key, check_cidr, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_UNKNOWN_OWNER:
		if ((err = cfg_get_scalar(p, v, key, "refuse or allow", &s)))
			return err;
		if (!strcmp(s, "refuse"))
			*(enum unknown_owner_policy *)field = UNKNOWN_OWNER_REFUSE;
		else if (!strcmp(s, "allow"))
			*(enum unknown_owner_policy *)field = UNKNOWN_OWNER_ALLOW;
		else
			return ydoc_fail(p, v, key, "expected refuse or allow, got '%s'", ydoc_show(p, s));
		return 0;
	case FIELD_LOG_LEVEL:
		if ((err = cfg_get_scalar(p, v, key, "a log level", &s)))
			return err;
		if (strcmp(s, "error") && strcmp(s, "warn") && strcmp(s, "info") && strcmp(s, "debug"))
			return ydoc_fail(p, v, key, "expected error, warn, info or debug, got '%s'", ydoc_show(p, s));
		return ydoc_set_string(field, s);
	case FIELD_MODE:
		return get_mode(p, v, key, field);
	case FIELD_UIDS:
		return get_uid_list(p, v, key, field, (size_t *)((char *)base + f->n_offset));
	case FIELD_LOOPBACK_ADDRESS:
		return get_loopback_address(p, v, key, field);
	case FIELD_API_URL:
		return get_api_url(p, v, key, field);
	}
	return -EINVAL;
}

int cfg_parse_section(struct ydoc *p, const yaml_node_t *n, const char *section, const struct agent_field *fields,
		      size_t n_fields, void *base)
{
	int err;

	if ((err = cfg_expect_mapping(p, n, section)))
		return err;
	for (size_t i = 0; i < ydoc_map_len(n); i++) {
		const struct agent_field *f = NULL;
		const yaml_node_t *v;
		const char *k;
		char key[96];

		if ((err = cfg_pair_key(p, n, i, section, &k, &v)))
			return err;
		snprintf(key, sizeof(key), "%s.%s", section, k);
		for (size_t j = 0; j < n_fields && !f; j++)
			if (!strcmp(k, fields[j].key))
				f = &fields[j];
		if (!f)
			return ydoc_fail(p, ydoc_map_key(p, n, i), key, "unknown key in %s:", section);
		if ((err = parse_field(p, f, v, key, base)))
			return err;
	}
	return 0;
}
