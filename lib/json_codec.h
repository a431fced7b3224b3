/* SPDX-License-Identifier: MIT */
/* A faster JSON reader and writer for jansson values: same input accepted, same trees
 * built, same bytes written as json_loadb()/json_dumps() for the flags we use. jansson
 * reads one byte at a time through a callback and copies every token twice (~13 ns a
 * byte here); these scan the buffer directly, several times faster on API payloads. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "mem.h"

/*
 * acs_json_loadb: as json_loadb(buf, len, flags, error), for flags made of
 * JSON_DECODE_ANY and JSON_REJECT_DUPLICATES (any other flag is handed to jansson).
 * The same documents are accepted (RFC 8259, UTF-8 checked, no \u0000, integers that
 * fit json_int_t, finite reals, at most JSON_PARSER_MAX_DEPTH nesting, only
 * whitespace after the value) and give json_equal() trees with keys in the same order.
 * On failure returns NULL and, when error is not NULL, fills it like jansson: text
 * (wording close to jansson's), source "<buffer>", position, line, column and the
 * json_error_code.
 *
 * acs_json_dumps: as json_dumps(json, flags) for flags made of JSON_COMPACT,
 * JSON_SORT_KEYS, JSON_ENCODE_ANY and JSON_PRESERVE_ORDER (other flags go to jansson):
 * byte-identical output; NULL where jansson fails (invalid UTF-8 in a string, a
 * scalar without JSON_ENCODE_ANY, a cycle). Free the result with free().
 */
json_t *acs_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error);
/** acs_json_loadb with a nesting limit of max_depth levels instead of
 *  JSON_PARSER_MAX_DEPTH (1 ... JSON_PARSER_MAX_DEPTH; deeper input fails with the
 *  json_error_stack_overflow code, before anything below the limit is read). Flags
 *  handed to jansson get jansson's own limit. */
json_t *acs_json_loadb_depth(const char *buf, size_t len, size_t flags, int max_depth,
			     json_error_t *error);
/** acs_json_loadb on a NUL-terminated string. */
json_t *acs_json_loads(const char *s, size_t flags, json_error_t *error);
char *acs_json_dumps(const json_t *json, size_t flags);

/** Append json to b as acs_json_dumps would write it (flags: JSON_COMPACT required,
 *  JSON_SORT_KEYS / JSON_ENCODE_ANY / JSON_PRESERVE_ORDER allowed), leaving out the
 *  top-level member skip_key (may be NULL). Returns 0, ACS_ETOOBIG past b's ceiling
 *  (acs_buf then frees b), or -EINVAL (other flags, a value jansson would not write,
 *  nesting deeper than JSON_PARSER_MAX_DEPTH); b is unchanged on -EINVAL. */
int acs_json_append(struct acs_buf *b, const json_t *json, size_t flags, const char *skip_key);
/** Append the JSON string of the len bytes at s (quoted and escaped as jansson does).
 *  Returns 0, ACS_ETOOBIG, or -EINVAL for invalid UTF-8 (b unchanged). */
int acs_json_append_string(struct acs_buf *b, const char *s, size_t len);
