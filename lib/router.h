/* SPDX-License-Identifier: MIT */
/* Request routing without I/O: method + path patterns ("/api/items/:id", or
 * "/assets/" followed by "*rest") mapped to opaque values, the 404/405
 * distinction with the Allow list, and URL decoding of paths and query
 * strings (RFC 3986 percent escapes; '+' as space in queries, as HTML forms
 * send them).
 *
 * MATCHING
 *   Patterns and paths are split on '/'. A literal segment matches itself
 *   byte for byte (on the raw, still-encoded path), ":name" matches one
 *   non-empty segment, and a final "*name" matches the rest of the path,
 *   slashes included, possibly empty. When several routes match, the most
 *   specific wins: segment by segment, literal beats parameter beats
 *   wildcard; then an exact method beats GET-answering-HEAD beats "*"; then
 *   the route registered first. Trailing slashes are significant. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

#define ACS_ROUTER_MAX_PARAMS 8 /* ":name"/"*name" segments per pattern */
#define ACS_ROUTER_ALLOW_LEN 96 /* room for the Allow list of a 405 */

struct acs_router;

/** One captured parameter. name points into the router (valid while it
 *  lives); value points into the matched path (still percent-encoded, not
 *  NUL-terminated). */
struct acs_router_param {
	const char *name;
	size_t name_len;
	const char *value;
	size_t value_len;
};

enum acs_router_result {
	ACS_ROUTER_FOUND = 0,
	ACS_ROUTER_NOT_FOUND = 1,   /**< no pattern matches the path: 404 */
	ACS_ROUTER_NOT_ALLOWED = 2, /**< the path matches, the method does not: 405 */
};

struct acs_router_match {
	void *value;	/**< the route's value (FOUND) */
	size_t nparams; /**< captured params (FOUND) */
	struct acs_router_param params[ACS_ROUTER_MAX_PARAMS];
	char allow[ACS_ROUTER_ALLOW_LEN]; /**< "GET, HEAD, POST" (NOT_ALLOWED), else "" */
};

/** Empty router; free with acs_router_free. */
struct acs_router *acs_router_new(void);
/** Free the router and its patterns (not the values). NULL is a no-op. */
void acs_router_free(struct acs_router *r);

/** Add a route. method is an upper-case token ("GET", "POST"...) or "*" for
 *  any method; a GET route also answers HEAD. pattern starts with '/'.
 *  value is borrowed and returned by acs_router_match.
 *  Returns 0, or ACS_EPARSE for a bad method or pattern (empty ":" name,
 *  duplicate names, '*' not last, more than ACS_ROUTER_MAX_PARAMS). */
int acs_router_add(struct acs_router *r, const char *method, const char *pattern, void *value);

/** Match method and the raw path path[0, len) (no query string).
 *  Returns an enum acs_router_result and fills m. */
enum acs_router_result acs_router_match(const struct acs_router *r, const char *method,
					const char *path, size_t len, struct acs_router_match *m);

/** Percent-decode src[0, len) into dst, which needs room for len + 1 bytes;
 *  the result is NUL-terminated. With plus, '+' decodes to a space.
 *  Returns the decoded length, or ACS_EPARSE for a malformed escape or an
 *  escape that decodes to NUL ("%00"). len must be below INT_MAX. */
int acs_router_decode(const char *src, size_t len, char *dst, bool plus);

/** Iterator over the pairs of a raw query string ("a=1&b=x+y&flag"). */
struct acs_router_query_iter {
	const char *p;	 /**< next unread byte */
	const char *end; /**< end of the query string */
};

void acs_router_query_init(struct acs_router_query_iter *it, const char *qs, size_t len);
/** Decode the next pair into key and val, each needing room for the query
 *  length + 1 bytes (keycap/valcap are checked; a pair that does not fit is
 *  skipped). A key without '=' gets the value "". Empty pairs ("&&") and
 *  pairs with malformed escapes are skipped. Returns false at the end. */
bool acs_router_query_next(struct acs_router_query_iter *it, char *key, size_t keycap, char *val,
			   size_t valcap);
/** Decode the value of the first pair whose decoded key equals name into
 *  val (room for len + 1 bytes always suffices). Returns the value length,
 *  ACS_ENOTFOUND, or ACS_ETOOBIG when valcap is too small. */
int acs_router_query_get(const char *qs, size_t len, const char *name, char *val, size_t valcap);
