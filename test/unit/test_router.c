/* SPDX-License-Identifier: MIT */
/* Unit tests for router.c: pattern parsing, precedence, params, 404 vs 405
 * with Allow, percent-decoding and query-string parsing. */
#include "test_util.h"

#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "router.h"

static int v_items, v_item, v_search, v_assets, v_any, v_root, v_post, v_item_del, v_nested;

static struct acs_router *make_router(void)
{
	struct acs_router *r = acs_router_new();
	assert_int_equal(acs_router_add(r, "GET", "/", &v_root), 0);
	assert_int_equal(acs_router_add(r, "GET", "/api/items", &v_items), 0);
	assert_int_equal(acs_router_add(r, "POST", "/api/items", &v_post), 0);
	assert_int_equal(acs_router_add(r, "GET", "/api/items/:id", &v_item), 0);
	assert_int_equal(acs_router_add(r, "DELETE", "/api/items/:id", &v_item_del), 0);
	/* Registered after the :id route: still wins by specificity. */
	assert_int_equal(acs_router_add(r, "GET", "/api/items/search", &v_search), 0);
	assert_int_equal(acs_router_add(r, "GET", "/api/items/:id/comments/:cid", &v_nested), 0);
	assert_int_equal(acs_router_add(r, "GET", "/assets/*rest", &v_assets), 0);
	assert_int_equal(acs_router_add(r, "*", "/hook/:name", &v_any), 0);
	return r;
}

static enum acs_router_result match(struct acs_router *r, const char *method, const char *path,
				    struct acs_router_match *m)
{
	return acs_router_match(r, method, path, strlen(path), m);
}

static void assert_param(const struct acs_router_match *m, size_t i, const char *name,
			 const char *value)
{
	assert_true(i < m->nparams);
	assert_int_equal(m->params[i].name_len, strlen(name));
	assert_memory_equal(m->params[i].name, name, strlen(name));
	assert_int_equal(m->params[i].value_len, strlen(value));
	assert_memory_equal(m->params[i].value, value, strlen(value));
}

static void test_literal_and_params(void **state)
{
	(void)state;
	struct acs_router *r = make_router();
	struct acs_router_match m;

	assert_int_equal(match(r, "GET", "/", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_root);
	assert_int_equal(m.nparams, 0);
	assert_int_equal(match(r, "GET", "/api/items", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_items);
	assert_int_equal(match(r, "POST", "/api/items", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_post);
	assert_int_equal(match(r, "GET", "/api/items/42", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_item);
	assert_int_equal(m.nparams, 1);
	assert_param(&m, 0, "id", "42");
	assert_int_equal(match(r, "DELETE", "/api/items/a%20b", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_item_del);
	assert_param(&m, 0, "id", "a%20b"); /* raw: the caller decodes */
	assert_int_equal(match(r, "GET", "/api/items/7/comments/9", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_nested);
	assert_int_equal(m.nparams, 2);
	assert_param(&m, 0, "id", "7");
	assert_param(&m, 1, "cid", "9");
	acs_router_free(r);
}

static void test_precedence(void **state)
{
	(void)state;
	struct acs_router *r = make_router();
	struct acs_router_match m;

	assert_int_equal(match(r, "GET", "/api/items/search", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_search);
	assert_int_equal(m.nparams, 0);
	/* DELETE /api/items/search: only the :id route accepts DELETE. */
	assert_int_equal(match(r, "DELETE", "/api/items/search", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_item_del);
	assert_param(&m, 0, "id", "search");

	/* Exact method beats "*" at equal specificity. */
	struct acs_router *r2 = acs_router_new();
	int a, b, c;
	assert_int_equal(acs_router_add(r2, "*", "/x/:p", &a), 0);
	assert_int_equal(acs_router_add(r2, "POST", "/x/:q", &b), 0);
	assert_int_equal(acs_router_add(r2, "GET", "/*all", &c), 0);
	assert_int_equal(match(r2, "POST", "/x/1", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &b);
	assert_param(&m, 0, "q", "1");
	assert_int_equal(match(r2, "PUT", "/x/1", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &a);
	assert_int_equal(match(r2, "GET", "/x/1", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &a); /* ":p" beats "*all" */
	assert_int_equal(match(r2, "GET", "/y/z/w", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &c);
	assert_param(&m, 0, "all", "y/z/w");
	acs_router_free(r2);
	acs_router_free(r);
}

static void test_wildcard(void **state)
{
	(void)state;
	struct acs_router *r = make_router();
	struct acs_router_match m;

	assert_int_equal(match(r, "GET", "/assets/app.js", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_assets);
	assert_param(&m, 0, "rest", "app.js");
	assert_int_equal(match(r, "GET", "/assets/css/a/b.css", &m), ACS_ROUTER_FOUND);
	assert_param(&m, 0, "rest", "css/a/b.css");
	assert_int_equal(match(r, "GET", "/assets/", &m), ACS_ROUTER_FOUND);
	assert_param(&m, 0, "rest", "");
	assert_int_equal(match(r, "GET", "/assets", &m), ACS_ROUTER_FOUND);
	assert_param(&m, 0, "rest", "");
	assert_int_equal(match(r, "GET", "/assetsx", &m), ACS_ROUTER_NOT_FOUND);
	acs_router_free(r);
}

static void test_not_found(void **state)
{
	(void)state;
	struct acs_router *r = make_router();
	struct acs_router_match m;

	assert_int_equal(match(r, "GET", "/nope", &m), ACS_ROUTER_NOT_FOUND);
	assert_null(m.value);
	assert_string_equal(m.allow, "");
	assert_int_equal(match(r, "GET", "/api/items/", &m), ACS_ROUTER_NOT_FOUND); /* empty :id */
	assert_int_equal(match(r, "GET", "/api/items/1/", &m), ACS_ROUTER_NOT_FOUND);
	assert_int_equal(match(r, "GET", "/api/items/1/comments", &m), ACS_ROUTER_NOT_FOUND);
	assert_int_equal(match(r, "GET", "/api", &m), ACS_ROUTER_NOT_FOUND);
	assert_int_equal(match(r, "GET", "", &m), ACS_ROUTER_NOT_FOUND);
	assert_int_equal(match(r, "GET", "api/items", &m), ACS_ROUTER_NOT_FOUND);
	assert_int_equal(match(r, "GET", "//", &m), ACS_ROUTER_NOT_FOUND);
	acs_router_free(r);
}

static void test_method_not_allowed(void **state)
{
	(void)state;
	struct acs_router *r = make_router();
	struct acs_router_match m;

	assert_int_equal(match(r, "PUT", "/api/items", &m), ACS_ROUTER_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD, POST");
	assert_int_equal(match(r, "POST", "/api/items/5", &m), ACS_ROUTER_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD, DELETE");
	assert_int_equal(match(r, "POST", "/", &m), ACS_ROUTER_NOT_ALLOWED);
	assert_string_equal(m.allow, "GET, HEAD");
	/* HEAD is answered by GET routes. */
	assert_int_equal(match(r, "HEAD", "/api/items/5", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_item);
	/* "*" routes accept any method. */
	assert_int_equal(match(r, "PATCH", "/hook/x", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &v_any);

	/* Unusual methods appear after the well-known ones, without duplicates. */
	struct acs_router *r2 = acs_router_new();
	int a;
	assert_int_equal(acs_router_add(r2, "PROPFIND", "/dav", &a), 0);
	assert_int_equal(acs_router_add(r2, "PUT", "/dav", &a), 0);
	assert_int_equal(acs_router_add(r2, "PUT", "/dav", &a), 0);
	assert_int_equal(match(r2, "GET", "/dav", &m), ACS_ROUTER_NOT_ALLOWED);
	assert_string_equal(m.allow, "PUT, PROPFIND");
	acs_router_free(r2);
	acs_router_free(r);
}

static void test_bad_patterns(void **state)
{
	(void)state;
	struct acs_router *r = acs_router_new();
	int v;

	assert_int_equal(acs_router_add(r, "GET", "noslash", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/a/:", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/a/*rest/b", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/:id/:id", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/:id/*id", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/:a$b", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "get", "/a", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "", "/a", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "G T", "/a", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, NULL, "/a", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h/:i", &v), ACS_EPARSE);
	assert_int_equal(acs_router_add(r, "GET", "/:a/:b/:c/:d/:e/:f/:g/:h", &v), 0);
	assert_int_equal(acs_router_add(r, "GET", "/files/*", &v), 0); /* unnamed wildcard */
	struct acs_router_match m;
	assert_int_equal(match(r, "GET", "/files/x/y", &m), ACS_ROUTER_FOUND);
	assert_int_equal(m.nparams, 1);
	assert_int_equal(m.params[0].name_len, 0);
	assert_int_equal(match(r, "GET", "/1/2/3/4/5/6/7/8", &m), ACS_ROUTER_FOUND);
	assert_int_equal(m.nparams, 8);
	assert_param(&m, 7, "h", "8");
	acs_router_free(r);
	acs_router_free(NULL);
}

static void test_many_routes(void **state)
{
	(void)state;
	/* More routes than the on-stack Allow scratch array holds. */
	struct acs_router *r = acs_router_new();
	static int vals[100];
	char pat[32];
	for (int i = 0; i < 100; i++) {
		snprintf(pat, sizeof(pat), "/r%d/:x", i);
		assert_int_equal(acs_router_add(r, i % 2 ? "POST" : "GET", pat, &vals[i]), 0);
	}
	struct acs_router_match m;
	assert_int_equal(match(r, "GET", "/r98/z", &m), ACS_ROUTER_FOUND);
	assert_ptr_equal(m.value, &vals[98]);
	assert_int_equal(match(r, "GET", "/r99/z", &m), ACS_ROUTER_NOT_ALLOWED);
	assert_string_equal(m.allow, "POST");
	acs_router_free(r);
}

static void test_decode(void **state)
{
	(void)state;
	char out[64];

	assert_int_equal(acs_router_decode("a%20b%2Fc", 9, out, false), 5);
	assert_string_equal(out, "a b/c");
	assert_int_equal(acs_router_decode("a+b", 3, out, false), 3);
	assert_string_equal(out, "a+b");
	assert_int_equal(acs_router_decode("a+b", 3, out, true), 3);
	assert_string_equal(out, "a b");
	assert_int_equal(acs_router_decode("%e2%82%AC", 9, out, false), 3);
	assert_string_equal(out, "\xe2\x82\xac");
	assert_int_equal(acs_router_decode("", 0, out, true), 0);
	assert_string_equal(out, "");
	assert_int_equal(acs_router_decode("%", 1, out, false), ACS_EPARSE);
	assert_int_equal(acs_router_decode("%4", 2, out, false), ACS_EPARSE);
	assert_int_equal(acs_router_decode("%zz", 3, out, false), ACS_EPARSE);
	assert_int_equal(acs_router_decode("a%00b", 5, out, false), ACS_EPARSE);
	/* Length is honoured even without a NUL after the input. */
	assert_int_equal(acs_router_decode("abc%41xyz", 6, out, false), 4);
	assert_string_equal(out, "abcA");
}

static void test_query_get(void **state)
{
	(void)state;
	const char *qs = "q=hello+world&tag=a%26b&empty=&flag&x=1&x=2&sp%20ace=y&bad=%zz&bad=ok";
	size_t len = strlen(qs);
	char val[128];

	assert_int_equal(acs_router_query_get(qs, len, "q", val, sizeof(val)), 11);
	assert_string_equal(val, "hello world");
	assert_int_equal(acs_router_query_get(qs, len, "tag", val, sizeof(val)), 3);
	assert_string_equal(val, "a&b");
	assert_int_equal(acs_router_query_get(qs, len, "empty", val, sizeof(val)), 0);
	assert_string_equal(val, "");
	assert_int_equal(acs_router_query_get(qs, len, "flag", val, sizeof(val)), 0);
	assert_int_equal(acs_router_query_get(qs, len, "x", val, sizeof(val)), 1);
	assert_string_equal(val, "1"); /* first wins */
	assert_int_equal(acs_router_query_get(qs, len, "sp ace", val, sizeof(val)), 1);
	assert_int_equal(acs_router_query_get(qs, len, "bad", val, sizeof(val)), 2);
	assert_string_equal(val, "ok"); /* the malformed pair is skipped */
	assert_int_equal(acs_router_query_get(qs, len, "missing", val, sizeof(val)), ACS_ENOTFOUND);
	assert_int_equal(acs_router_query_get(qs, len, "fla", val, sizeof(val)), ACS_ENOTFOUND);
	assert_int_equal(acs_router_query_get(qs, len, "q", val, 4), ACS_ETOOBIG);
	assert_int_equal(acs_router_query_get("", 0, "q", val, sizeof(val)), ACS_ENOTFOUND);
	assert_int_equal(acs_router_query_get("&&=v&", 5, "", val, sizeof(val)), 1);
	assert_string_equal(val, "v");
	assert_int_equal(acs_router_query_get("a%00=1", 6, "a", val, sizeof(val)), ACS_ENOTFOUND);
	/* Only len bytes are looked at. */
	assert_int_equal(acs_router_query_get("a=1&b=2", 3, "b", val, sizeof(val)), ACS_ENOTFOUND);
}

static void test_query_iter(void **state)
{
	(void)state;
	const char *qs = "a=1&&b&c=x%2By+z&d=%G0&=e";
	struct acs_router_query_iter it;
	char k[64], v[64];

	acs_router_query_init(&it, qs, strlen(qs));
	assert_true(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));
	assert_string_equal(k, "a");
	assert_string_equal(v, "1");
	assert_true(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));
	assert_string_equal(k, "b");
	assert_string_equal(v, "");
	assert_true(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));
	assert_string_equal(k, "c");
	assert_string_equal(v, "x+y z");
	assert_true(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));
	assert_string_equal(k, "");
	assert_string_equal(v, "e");
	assert_false(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));
	assert_false(acs_router_query_next(&it, k, sizeof(k), v, sizeof(v)));

	/* Pairs that do not fit the buffers are skipped. */
	acs_router_query_init(&it, "long=0123456789&s=1", 19);
	assert_true(acs_router_query_next(&it, k, 8, v, 8));
	assert_string_equal(k, "s");
	assert_false(acs_router_query_next(&it, k, 8, v, 8));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_literal_and_params), cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_wildcard),	   cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_method_not_allowed), cmocka_unit_test(test_bad_patterns),
		cmocka_unit_test(test_many_routes),	   cmocka_unit_test(test_decode),
		cmocka_unit_test(test_query_get),	   cmocka_unit_test(test_query_iter),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
