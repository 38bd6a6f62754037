/* SPDX-License-Identifier: GPL-2.0 OR BSD-3-Clause */
/*
 * Audit records to Graylog as GELF 1.1 (https://go2docs.graylog.org/current/
 * getting_in_log_data/gelf.html), over HTTP (gzip) and/or UDP (zlib, chunked).
 * Graylog answers an HTTP input with 202 before it parses the message, and a
 * UDP input never answers: a message it cannot parse is lost without a word,
 * so every message is validated here before it leaves.
 *
 * Conversion (gelf_message_from_audit):
 *   version        "1.1"
 *   host           fields->host, else the record's "node", else gethostname()
 *   short_message  "reflex: ACTION OUTCOME TARGET (RULE)", TARGET being
 *                  NAMESPACE/POD (or what of it is known, else "container ID12",
 *                  else "-"); "DRY_RUN " in front for dry-run records
 *                  (dry_run true or outcome "dry_run")
 *   full_message   the record's "reason" (left out when it is not a string)
 *   timestamp      the record's RFC 3339 "timestamp" as seconds since the
 *                  epoch, microseconds as decimals (1795347602.123456); a
 *                  finer fraction is truncated
 *   level          syslog severity from "outcome":
 *                    2 critical  killed, failed
 *                    4 warning   refused, dry_run, disarmed
 *                    5 notice    alert, denied
 *                    6 info      excepted, exited, confirmed, anything else
 *                  (no string outcome: 4 when dry_run is true, else 6)
 *   _stream        fields->stream ("falco-automated-response") under
 *                  fields->stream_field ("_stream"), for Graylog's stream rule
 *   _KEY           every record field, in record order:
 *                    strings and numbers as they are, booleans as
 *                    "true"/"false" strings (the word Graylog searches for),
 *                    objects and arrays as their compact JSON text, nulls
 *                    left out;
 *                    characters outside [A-Za-z0-9_.-] in KEY become '_';
 *                    KEYs Graylog would drop or refuse -- id (the forbidden
 *                    _id), source and timestamp (it keeps its own), message,
 *                    full_message, short_message, host, version, level,
 *                    facility, file, line, streams, gl2_*, Elasticsearch's
 *                    _ttl/_source/_all/_index/_type/_score -- become
 *                    _audit_KEY (_audit_id, _audit_source, _audit_timestamp);
 *                    a name already taken gets _2, _3, ... (the stream field
 *                    is never displaced).
 *
 * Validation (gelf_validate), the rules Graylog's GELF codec and the spec set:
 * a JSON object (no duplicate keys, UTF-8); version the string "1.1"; host
 * and short_message non-blank strings; full_message, facility, file strings;
 * timestamp, line numbers; level an integer 0..7; every other key starts with
 * '_', has at least one more character, matches ^[\w\.\-]*$ (ASCII \w) and
 * is not "_id"; its value a string or a number.
 */
#ifndef REFLEX_GELF_H
#define REFLEX_GELF_H

#include <stddef.h>

#define GELF_DEFAULT_STREAM_FIELD "_stream"
#define GELF_DEFAULT_STREAM "falco-automated-response"
#define GELF_DEFAULT_UDP_CHUNK_SIZE 1420u
#define GELF_DEFAULT_TIMEOUT_MS 5000u
/* Graylog drops a chunked message of more chunks than this. */
#define GELF_MAX_CHUNKS 128u
/* Magic, 8-byte message id, sequence number, sequence count. */
#define GELF_CHUNK_HEADER_SIZE 12u
/* Largest UDP payload over IPv4. */
#define GELF_MAX_UDP_CHUNK_SIZE 65507u

struct gelf_fields {
	const char *host;         /* NULL or "": the record's "node", else gethostname() */
	const char *stream_field; /* NULL: GELF_DEFAULT_STREAM_FIELD; must be a valid additional field name */
	const char *stream;       /* NULL: GELF_DEFAULT_STREAM; "": no stream field */
};

/*
 * One audit record (a JSON object of LEN bytes) as one GELF 1.1 message,
 * every record field an additional field, and a chained record's exact line
 * in _audit_line (the hash chain is checkable from Graylog): *RET_JSON gets a malloc'd NUL-terminated compact JSON text. F may be NULL
 * (all defaults). -EINVAL for input that is not a JSON object (duplicate
 * keys included) or has no valid RFC 3339 "timestamp" (at or after 1970),
 * for a bad stream field name or value, or when no host can be found;
 * -ENOMEM. On error *RET_JSON is left as it was and nothing stays allocated.
 */
int gelf_message_from_audit(const char *audit_json, size_t len, const struct gelf_fields *f, char **ret_json);

/* 0 when GELF_JSON (LEN bytes) follows the rules above, else -EINVAL and the first broken rule in ERR. */
int gelf_validate(const char *gelf_json, size_t len, char *err, size_t errlen);

struct gelf_sender_config {
	const char *http_url;    /* http:// or https://, e.g. http://127.0.0.1:12201/gelf; NULL: none */
	const char *udp_address; /* "host:port" or "[v6]:port", resolved on every send; NULL: none */
	size_t udp_chunk_size;   /* whole datagram, header included; 0: GELF_DEFAULT_UDP_CHUNK_SIZE */
	unsigned int timeout_ms; /* HTTP connect + request; UDP send; 0: GELF_DEFAULT_TIMEOUT_MS */
};

struct gelf_sender;

/*
 * At least one destination; udp_chunk_size 0 or GELF_CHUNK_HEADER_SIZE+1 ..
 * GELF_MAX_UDP_CHUNK_SIZE. 0 and *RET, or -EINVAL, -ENOMEM.
 * Call curl_global_init() first. HTTP goes direct, never through a proxy
 * from the environment.
 */
int gelf_sender_new(const struct gelf_sender_config *c, struct gelf_sender **ret);

/*
 * Validates GELF_JSON, then sends it to every configured destination; fails
 * when any of them fails (the others are still tried), returning the first
 * error and every reason, "; "-separated, in ERR (may be NULL):
 *   -EINVAL        not valid GELF (nothing is sent)
 *   -EMSGSIZE      UDP: more than GELF_MAX_CHUNKS chunks (nothing is sent)
 *   -EIO           HTTP: an answer other than 2xx (Graylog says 202), or a
 *                  transfer error
 *   -ETIMEDOUT     HTTP: no answer within timeout_ms
 *   -ECONNREFUSED  HTTP: connect refused (or the connect's own errno);
 *                  UDP: an ICMP port unreachable seen while sending chunks
 *   -EHOSTUNREACH  a name that does not resolve
 *   -errno         UDP socket errors; -ENOMEM
 * UDP is fire-and-forget otherwise: 0 means sent, not received. HTTP body:
 * gzip, Content-Encoding: gzip; UDP: zlib, chunked above udp_chunk_size with
 * a random 8-byte message id. Calls on one sender must not overlap.
 */
int gelf_send(struct gelf_sender *s, const char *gelf_json, size_t len, char *err, size_t errlen);

/* Accepts NULL. */
void gelf_sender_free(struct gelf_sender *s);

#endif
