/* SPDX-License-Identifier: MIT */
/* Route table and URL decoding. Routes are few (tens) and matched by a linear
 * scan over pre-split patterns: no allocation and no backtracking per match. */
#include "router.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

enum seg_kind {
	SEG_REST = 0,  /* "*name": lowest precedence */
	SEG_PARAM = 1, /* ":name" */
	SEG_LIT = 2,   /* literal text */
};

struct seg {
	enum seg_kind kind;
	const char *text; /* literal bytes or the param name (into route::pattern) */
	size_t len;
};

struct route {
	char *method;  /* "GET", "*"... */
	char *pattern; /* owned copy; segs point into it */
	struct seg *segs;
	size_t nsegs;
	void *value;
};

struct acs_router {
	struct route *routes; /* in registration order */
	size_t n, cap;
};

struct acs_router *acs_router_new(void)
{
	return acs_xcalloc(1, sizeof(struct acs_router));
}

void acs_router_free(struct acs_router *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->routes[i].method);
		free(r->routes[i].pattern);
		free(r->routes[i].segs);
	}
	free(r->routes);
	free(r);
}

static bool valid_method(const char *m)
{
	if (!strcmp(m, "*"))
		return true;
	if (!*m || strlen(m) > 20)
		return false;
	for (; *m; m++)
		if (*m < 'A' || *m > 'Z')
			return false;
	return true;
}

static bool valid_name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '_' || c == '-';
}

/* Split pattern (owned by rt) into rt->segs; 0 or ACS_EPARSE. */
static int split_pattern(struct route *rt)
{
	const char *p = rt->pattern;
	size_t n = 1, nparams = 0;

	if (*p != '/')
		return ACS_EPARSE;
	for (const char *q = p + 1; *q; q++)
		n += *q == '/';
	rt->segs = acs_xcalloc(n, sizeof(*rt->segs));
	p++;
	for (size_t i = 0; i < n; i++) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		struct seg *s = &rt->segs[i];

		if (len && (*p == ':' || *p == '*')) {
			s->kind = *p == ':' ? SEG_PARAM : SEG_REST;
			s->text = p + 1;
			s->len = len - 1;
			if (s->kind == SEG_PARAM && !s->len)
				return ACS_EPARSE;
			if (s->kind == SEG_REST && i != n - 1)
				return ACS_EPARSE;
			for (size_t k = 0; k < s->len; k++)
				if (!valid_name_char(s->text[k]))
					return ACS_EPARSE;
			for (size_t k = 0; k < i; k++)
				if (rt->segs[k].kind != SEG_LIT && rt->segs[k].len == s->len &&
				    !memcmp(rt->segs[k].text, s->text, s->len))
					return ACS_EPARSE;
			if (++nparams > ACS_ROUTER_MAX_PARAMS)
				return ACS_EPARSE;
		} else {
			s->kind = SEG_LIT;
			s->text = p;
			s->len = len;
		}
		p += len + 1;
	}
	rt->nsegs = n;
	return 0;
}

int acs_router_add(struct acs_router *r, const char *method, const char *pattern, void *value)
{
	if (!method || !pattern || !valid_method(method))
		return ACS_EPARSE;
	struct route rt = { .pattern = acs_xstrdup(pattern), .value = value };
	int rc = split_pattern(&rt);
	if (rc) {
		free(rt.pattern);
		free(rt.segs);
		return rc;
	}
	rt.method = acs_xstrdup(method);
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->routes = acs_xrealloc(r->routes, r->cap * sizeof(*r->routes));
	}
	r->routes[r->n++] = rt;
	return 0;
}

/* Match rt against path; fills params (name/value) and returns true. */
static bool match_path(const struct route *rt, const char *path, size_t len,
		       struct acs_router_param *params, size_t *nparams)
{
	const char *p = path + 1, *end = path + len;
	size_t np = 0;

	if (!len || path[0] != '/')
		return false;
	for (size_t i = 0; i < rt->nsegs; i++) {
		const struct seg *s = &rt->segs[i];
		if (s->kind == SEG_REST) {
			/* A wildcard route also matches its bare prefix ("/assets"), rest "". */
			const char *v = p <= end ? p : end;
			params[np++] =
				(struct acs_router_param){ s->text, s->len, v, (size_t)(end - v) };
			*nparams = np;
			return true;
		}
		if (p > end)
			return false; /* path ran out of segments */
		const char *slash = memchr(p, '/', (size_t)(end - p));
		const char *send = slash ? slash : end;
		size_t slen = (size_t)(send - p);
		if (s->kind == SEG_LIT) {
			if (slen != s->len || memcmp(p, s->text, slen))
				return false;
		} else {
			if (!slen)
				return false;
			params[np++] = (struct acs_router_param){ s->text, s->len, p, slen };
		}
		p = send + 1; /* past end when this was the last segment */
	}
	*nparams = np;
	return p > end; /* every path segment consumed */
}

/* Segment-by-segment precedence: >0 when a is more specific than b. */
static int compare_rank(const struct route *a, const struct route *b)
{
	size_t n = ACS_MIN(a->nsegs, b->nsegs);
	for (size_t i = 0; i < n; i++)
		if (a->segs[i].kind != b->segs[i].kind)
			return (int)a->segs[i].kind - (int)b->segs[i].kind;
	return 0;
}

/* 3 exact method, 2 GET answering HEAD, 1 any ("*"), 0 no match. */
static int method_score(const char *route_method, const char *method)
{
	if (!strcmp(route_method, method))
		return 3;
	if (!strcmp(method, "HEAD") && !strcmp(route_method, "GET"))
		return 2;
	if (!strcmp(route_method, "*"))
		return 1;
	return 0;
}

static void allow_add(char *allow, const char *m)
{
	size_t ml = strlen(m), al = strlen(allow);
	/* Skip duplicates: compare against each ", "-separated entry. */
	for (const char *p = allow; *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);
		if (l == ml && !memcmp(p, m, ml))
			return;
		p = e ? e + 2 : p + l;
	}
	if (al + (al ? 2 : 0) + ml + 1 > ACS_ROUTER_ALLOW_LEN)
		return;
	if (al) {
		memcpy(allow + al, ", ", 2);
		al += 2;
	}
	memcpy(allow + al, m, ml + 1);
}

static void build_allow(const struct acs_router *r, const bool *path_ok, char *allow)
{
	/* Well-known methods first in a stable order, then the rest as registered. */
	static const char *const order[] = { "GET",   "HEAD",	"POST",	  "PUT",
					     "PATCH", "DELETE", "OPTIONS" };
	allow[0] = '\0';
	for (size_t k = 0; k < ACS_ARRAY_SIZE(order); k++)
		for (size_t i = 0; i < r->n; i++) {
			if (!path_ok[i])
				continue;
			const char *m = r->routes[i].method;
			if (!strcmp(m, order[k]) || (k == 1 && !strcmp(m, "GET"))) {
				allow_add(allow, order[k]);
				break;
			}
		}
	for (size_t i = 0; i < r->n; i++)
		if (path_ok[i])
			allow_add(allow, r->routes[i].method);
}

enum acs_router_result acs_router_match(const struct acs_router *r, const char *method,
					const char *path, size_t len, struct acs_router_match *m)
{
	struct acs_router_param params[ACS_ROUTER_MAX_PARAMS];
	const struct route *best = NULL;
	int best_mscore = 0;
	bool any_path = false;
	/* Path matches per route, needed only to build an Allow list. */
	bool path_ok_small[64];
	bool *path_ok = r->n <= 64 ? path_ok_small : acs_xcalloc(r->n, sizeof(bool));

	m->value = NULL;
	m->nparams = 0;
	m->allow[0] = '\0';
	for (size_t i = 0; i < r->n; i++) {
		const struct route *rt = &r->routes[i];
		size_t np = 0;
		path_ok[i] = match_path(rt, path, len, params, &np);
		if (!path_ok[i])
			continue;
		any_path = true;
		int ms = method_score(rt->method, method);
		if (!ms)
			continue;
		int rank = best ? compare_rank(rt, best) : 1;
		if (rank > 0 || (rank == 0 && ms > best_mscore)) {
			best = rt;
			best_mscore = ms;
			m->value = rt->value;
			m->nparams = np;
			memcpy(m->params, params, np * sizeof(params[0]));
		}
	}
	enum acs_router_result res = ACS_ROUTER_FOUND;
	if (!best) {
		res = any_path ? ACS_ROUTER_NOT_ALLOWED : ACS_ROUTER_NOT_FOUND;
		if (any_path)
			build_allow(r, path_ok, m->allow);
	}
	if (path_ok != path_ok_small)
		free(path_ok);
	return res;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int acs_router_decode(const char *src, size_t len, char *dst, bool plus)
{
	size_t o = 0;

	if (len >= INT_MAX)
		return ACS_ETOOBIG;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			if (i + 2 >= len)
				return ACS_EPARSE;
			int hi;
			hi = hexval(src[i + 1]);
			int lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return ACS_EPARSE;
			dst[o++] = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus) {
			dst[o++] = ' ';
		} else if (c == '\0') {
			return ACS_EPARSE;
		} else {
			dst[o++] = c;
		}
	}
	dst[o] = '\0';
	return (int)o;
}

void acs_router_query_init(struct acs_router_query_iter *it, const char *qs, size_t len)
{
	it->p = qs;
	it->end = qs + len;
}

/* Split the next non-empty "k[=v]" pair; false at the end. */
static bool next_pair(struct acs_router_query_iter *it, const char **k, size_t *klen,
		      const char **v, size_t *vlen)
{
	while (it->p < it->end) {
		const char *amp = memchr(it->p, '&', (size_t)(it->end - it->p));
		const char *pe = amp ? amp : it->end;
		const char *start = it->p;
		it->p = amp ? amp + 1 : it->end;
		if (pe == start)
			continue;
		const char *eq = memchr(start, '=', (size_t)(pe - start));
		*k = start;
		*klen = (size_t)((eq ? eq : pe) - start);
		*v = eq ? eq + 1 : pe;
		*vlen = (size_t)(pe - *v);
		return true;
	}
	return false;
}

bool acs_router_query_next(struct acs_router_query_iter *it, char *key, size_t keycap, char *val,
			   size_t valcap)
{
	const char *k, *v;
	size_t kl, vl;

	while (next_pair(it, &k, &kl, &v, &vl)) {
		if (kl + 1 > keycap || vl + 1 > valcap)
			continue;
		if (acs_router_decode(k, kl, key, true) < 0 ||
		    acs_router_decode(v, vl, val, true) < 0)
			continue;
		return true;
	}
	return false;
}

/* Does the encoded key k[0, kl) decode to name? Malformed escapes never match. */
static bool key_equals(const char *k, size_t kl, const char *name)
{
	size_t j = 0;
	for (size_t i = 0; i < kl; i++, j++) {
		char c = k[i];
		if (c == '%') {
			if (i + 2 >= kl)
				return false;
			int hi = hexval(k[i + 1]), lo = hexval(k[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (!c || name[j] != c)
			return false;
	}
	return name[j] == '\0';
}

int acs_router_query_get(const char *qs, size_t len, const char *name, char *val, size_t valcap)
{
	struct acs_router_query_iter it;
	const char *k, *v;
	size_t kl, vl;

	acs_router_query_init(&it, qs, len);
	while (next_pair(&it, &k, &kl, &v, &vl)) {
		if (!key_equals(k, kl, name))
			continue;
		if (vl + 1 > valcap)
			return ACS_ETOOBIG; /* decoding never grows, so vl + 1 always suffices */
		int n = acs_router_decode(v, vl, val, true);
		if (n < 0)
			continue;
		return n;
	}
	return ACS_ENOTFOUND;
}
