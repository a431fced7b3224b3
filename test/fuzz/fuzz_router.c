/* SPDX-License-Identifier: MIT */
/* libFuzzer target: route patterns, matching, percent-decoding and query
 * strings (router.h), with properties checked on every answer.
 *
 * Input: lines. Lines before the first empty line are extra routes
 * ("METHOD /pattern"); each later line is a request "METHOD /path?query". */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "err.h"
#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_EXTRA 16

static const char *const base_routes[][2] = {
	{ "GET", "/" },
	{ "GET", "/api/items/:id" },
	{ "PUT", "/api/items/:id" },
	{ "DELETE", "/api/items/:id" },
	{ "GET", "/api/items/:id/comments/:cid" },
	{ "POST", "/webhooks/ado" },
	{ "POST", "/webhooks/clickup" },
	{ "GET", "/api/maps/:id/events" },
	{ "*", "/assets/*rest" },
	{ "GET", "/api/items/new" },
	{ "OPTIONS", "/api/*rest" },
};

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

/* Decode src both ways and check what acs_router_decode promises. */
static void check_decode(const char *src, size_t len)
{
	char *dst = malloc(len + 1);
	for (int plus = 0; plus < 2; plus++) {
		int n = acs_router_decode(src, len, dst, plus);
		if (n < 0) {
			check(n == ACS_EPARSE, "decode error code");
			continue;
		}
		check((size_t)n <= len, "decoded length <= encoded length");
		check(dst[n] == '\0' && strlen(dst) == (size_t)n, "decoded NUL-terminated, no NUL");
		if (!memchr(src, '%', len) && !(plus && memchr(src, '+', len)))
			check(!memcmp(dst, src, len), "no escape: identity");
	}
	free(dst);
}

/* Percent-encoding every byte and decoding must give the bytes back. */
static void check_roundtrip(const char *src, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	if (len > 256 || memchr(src, '\0', len))
		return;
	char enc[3 * 256 + 1], dec[3 * 256 + 1];
	for (size_t i = 0; i < len; i++) {
		enc[3 * i] = '%';
		enc[3 * i + 1] = hex[(unsigned char)src[i] >> 4];
		enc[3 * i + 2] = hex[(unsigned char)src[i] & 15];
	}
	enc[3 * len] = '\0';
	int n = acs_router_decode(enc, 3 * len, dec, true);
	check(n == (int)len && !memcmp(dec, src, len), "encode/decode round trip");
}

static void check_query(const char *qs, size_t len)
{
	struct acs_router_query_iter it;
	char *key = malloc(len + 1), *val = malloc(len + 1);
	char first_key[64] = "";
	size_t pairs = 0;
	acs_router_query_init(&it, qs, len);
	while (acs_router_query_next(&it, key, len + 1, val, len + 1)) {
		check(strlen(key) <= len && strlen(val) <= len, "pair fits");
		if (!pairs && strlen(key) < sizeof(first_key))
			memcpy(first_key, key, strlen(key) + 1);
		check(++pairs <= len, "pairs bounded by length");
	}
	if (first_key[0]) {
		int n = acs_router_query_get(qs, len, first_key, val, len + 1);
		check(n >= 0, "the first decoded key is found again");
		check((size_t)n == strlen(val), "query_get length");
	}
	/* A buffer too small for the value is refused, never overrun. */
	char tiny[2];
	int n = acs_router_query_get(qs, len, "q", tiny, sizeof(tiny));
	check(n == ACS_ENOTFOUND || n == ACS_ETOOBIG || (n >= 0 && n <= 1), "tiny buffer");
	free(key);
	free(val);
}

static void match_line(const struct acs_router *r, const char *line, size_t len)
{
	char method[24];
	const char *sp = memchr(line, ' ', len);
	size_t ml = sp ? (size_t)(sp - line) : 0;
	if (!sp || ml >= sizeof(method))
		return;
	memcpy(method, line, ml);
	method[ml] = '\0';
	const char *target = sp + 1;
	size_t tlen = len - ml - 1;
	const char *q = memchr(target, '?', tlen);
	size_t plen = q ? (size_t)(q - target) : tlen;

	/* The path is matched in its own allocation, so ASan sees overreads. */
	char *path = malloc(plen ? plen : 1);
	memcpy(path, target, plen);
	struct acs_router_match m;
	memset(&m, 0xAA, sizeof(m));
	enum acs_router_result res = acs_router_match(r, method, path, plen, &m);
	switch (res) {
	case ACS_ROUTER_FOUND:
		check(m.nparams <= ACS_ROUTER_MAX_PARAMS, "nparams bounded");
		check(m.allow[0] == '\0', "no Allow when found");
		for (size_t i = 0; i < m.nparams; i++) {
			const struct acs_router_param *p = &m.params[i];
			check(p->value >= path && p->value + p->value_len <= path + plen, "param "
											  "inside "
											  "the "
											  "path");
			/* name_len 0 is an unnamed wildcard ("/files/" then "*"). */
			check(p->name != NULL, "param name");
			check_decode(p->value, p->value_len);
		}
		break;
	case ACS_ROUTER_NOT_ALLOWED:
		check(m.allow[0] != '\0' && strlen(m.allow) < ACS_ROUTER_ALLOW_LEN, "Allow set");
		break;
	case ACS_ROUTER_NOT_FOUND:
		check(m.allow[0] == '\0', "no Allow when not found");
		break;
	default:
		check(false, "result code");
	}
	check_decode(path, plen);
	free(path);
	if (q) {
		size_t qlen = tlen - plen - 1;
		char *qs = malloc(qlen ? qlen : 1);
		memcpy(qs, q + 1, qlen);
		check_query(qs, qlen);
		free(qs);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct acs_router *r = acs_router_new();
	int values[ACS_ARRAY_SIZE(base_routes) + MAX_EXTRA];
	size_t nroutes = 0;

	for (size_t i = 0; i < ACS_ARRAY_SIZE(base_routes); i++) {
		values[nroutes] = (int)nroutes;
		check(acs_router_add(r, base_routes[i][0], base_routes[i][1], &values[nroutes]) ==
			      0,
		      "base route");
		nroutes++;
	}
	check_roundtrip(p, size);
	bool routes = true;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		if (!len) {
			routes = false;
		} else if (routes) {
			/* "METHOD /pattern": both NUL-terminated copies. */
			char *line = malloc(len + 1);
			memcpy(line, p, len);
			line[len] = '\0';
			char *sp = strchr(line, ' ');
			if (sp && nroutes < ACS_ARRAY_SIZE(values) && !memchr(p, '\0', len)) {
				*sp = '\0';
				values[nroutes] = (int)nroutes;
				if (acs_router_add(r, line, sp + 1, &values[nroutes]) == 0)
					nroutes++;
			}
			free(line);
		} else {
			match_line(r, p, len);
		}
		p += len + (nl ? 1 : 0);
	}
	acs_router_free(r);
	return 0;
}
