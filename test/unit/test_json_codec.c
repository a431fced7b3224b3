/* SPDX-License-Identifier: MIT */
/* Unit tests for json_codec, differential against jansson: every fixture, edge cases
 * and seeded mutations of them must be accepted or rejected alike, give equal trees
 * with keys in the same order, and be written byte for byte as jansson writes them. */
#include "test_util.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "json_codec.h"
#include "mem.h"

/* A document of the corpus: bytes and length (may hold NUL bytes). */
struct doc {
	char *b;
	size_t n;
};

static const size_t FLAG_SETS[] = { 0, JSON_DECODE_ANY, JSON_REJECT_DUPLICATES,
				    JSON_DECODE_ANY | JSON_REJECT_DUPLICATES };

/* Serialisations that must match jansson's byte for byte. */
static const size_t DUMP_SETS[] = { JSON_COMPACT, JSON_COMPACT | JSON_SORT_KEYS,
				    JSON_COMPACT | JSON_ENCODE_ANY,
				    JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY };

static void check_dumps(const json_t *j)
{
	for (size_t k = 0; k < sizeof DUMP_SETS / sizeof DUMP_SETS[0]; k++) {
		char *want = json_dumps(j, DUMP_SETS[k]);
		char *got = acs_json_dumps(j, DUMP_SETS[k]);
		if (!want) {
			assert_null(got);
		} else {
			assert_non_null(got);
			assert_string_equal(got, want);
		}
		free(want);
		free(got);
	}
}

/* Returns whether jansson accepted it (under the first flag set). */
static bool check_same(const char *b, size_t n)
{
	bool accepted = false;
	for (size_t f = 0; f < sizeof FLAG_SETS / sizeof FLAG_SETS[0]; f++) {
		json_error_t e1, e2;
		json_t *want = json_loadb(b, n, FLAG_SETS[f], &e1);
		json_t *got = acs_json_loadb(b, n, FLAG_SETS[f], &e2);
		if (want && !got && memchr(b, 0, n)) {
			/* jansson skips a NUL byte read right after a number or a literal
			 * (its reader ungets it, then takes NUL for "need more input");
			 * we reject NUL bytes outside strings, as RFC 8259 does. */
			json_decref(want);
			continue;
		}
		if (!want != !got) {
			for (size_t i = 0; i < n; i++)
				fprintf(stderr, "%02x ", (unsigned char)b[i]);
			fprintf(stderr, "\n");
			fail_msg("flags %zu: jansson %s (%s), acs_json_loadb %s (%s) on %.*s",
				 FLAG_SETS[f], want ? "accepts" : "rejects", want ? "" : e1.text,
				 got ? "accepts" : "rejects", got ? "" : e2.text,
				 (int)(n > 200 ? 200 : n), b);
		}
		if (!got) {
			/* A message the caller can show, and where it is. */
			assert_true(e2.text[0] != '\0');
			assert_true(e2.position >= 0 && (size_t)e2.position <= n);
			assert_int_not_equal(json_error_code(&e2), json_error_unknown);
			continue;
		}
		if (f == 0)
			accepted = true;
		assert_true(json_equal(want, got));
		/* Same key order: jansson's own writer gives the same bytes for both. */
		char *a = json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY);
		char *c = json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY);
		assert_non_null(a);
		assert_string_equal(a, c);
		free(a);
		free(c);
		check_dumps(got);
		json_decref(want);
		json_decref(got);
	}
	return accepted;
}

static void check_str(const char *s)
{
	check_same(s, strlen(s));
}

static size_t load_fixtures(struct doc *docs, size_t max)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	static const char *const dirs[] = { "ado", "clickup" };
	size_t n = 0;
	for (size_t d = 0; d < 2; d++) {
		char *dir = acs_xasprintf("%s/test/fixtures/%s", root ? root : "..", dirs[d]);
		DIR *dh = opendir(dir);
		assert_non_null(dh);
		struct dirent *de;
		while ((de = readdir(dh)) && n < max) {
			size_t l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 5, ".json"))
				continue;
			char *path = acs_xasprintf("%s/%s", dir, de->d_name);
			FILE *f = fopen(path, "rb");
			assert_non_null(f);
			struct doc *x = &docs[n++];
			x->b = acs_xmalloc(1 << 20);
			x->n = fread(x->b, 1, 1 << 20, f);
			fclose(f);
			free(path);
		}
		closedir(dh);
		free(dir);
	}
	return n;
}

static void test_fixtures(void **state)
{
	(void)state;
	struct doc docs[64];
	size_t n = load_fixtures(docs, 64);
	assert_true(n >= 20);
	for (size_t i = 0; i < n; i++) {
		assert_true(check_same(docs[i].b, docs[i].n));
		free(docs[i].b);
	}
}

static const char *const CASES[] = {
	"{}",
	"[]",
	" \t\r\n{ } ",
	"[1,2,3]",
	"{\"a\":1,\"b\":[true,false,null]}",
	"{\"a\":1,\"a\":2}",
	"{\"\":\"\"}",
	"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]",
	"[\"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\"]",
	"[\"\\u0000\"]",
	"[\"\\ud83d\"]",
	"[\"\\ud83d\\u0041\"]",
	"[\"\\ude00\"]",
	"[\"\\ud83dx\"]",
	"[\"\\u12\"]",
	"[\"\\x\"]",
	"[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"]",
	"[\"\xc0\xaf\"]",
	"[\"\xed\xa0\x80\"]",
	"[\"\xf4\x90\x80\x80\"]",
	"[\"\xe2\x82\"]",
	"[\"\x80\"]",
	"[\"\xff\"]",
	"[\"a\tb\"]",
	"[\"a\x1f\"]",
	"[\"unterminated]",
	"[0,-0,1,-1,10,123456789012345678]",
	"[9223372036854775807,-9223372036854775808]",
	"[9223372036854775808]",
	"[-9223372036854775809]",
	"[12345678901234567890123]",
	"[0.5,-0.5,1e10,1E-10,1.5e+3]",
	"[1e400]",
	"[-1e400]",
	"[1e-400]",
	"[01]",
	"[-01]",
	"[1.]",
	"[.5]",
	"[-]",
	"[1e]",
	"[1e+]",
	"[+1]",
	"[0x10]",
	"[1.5.5]",
	"[true1]",
	"[truex]",
	"[tru]",
	"[nul]",
	"[NaN]",
	"[Infinity]",
	"[1,]",
	"[,1]",
	"{\"a\":1,}",
	"{,}",
	"{\"a\"}",
	"{\"a\":}",
	"{\"a\" 1}",
	"{1:2}",
	"{'a':1}",
	"[1 2]",
	"[1]]",
	"[1]x",
	"[1] [2]",
	"",
	" ",
	"1",
	"\"s\"",
	"true",
	"null",
	"-5",
	"3.25",
	"[",
	"{",
	"]",
	"}",
	"{\"a\":[1,{\"b\":[]}]}",
	"{\"k\\u00e9y\":1,\"k\\n\":2}",
	"{\"\\ud83d\\ude00\":{\"\\\"\":\"\\\\\"}}",
	"\xef\xbb\xbf{}",
	"[\"\\u00\"]",
	"[\"\\uD834\\uDD1E\"]",
	"[1e5,2E5,-0.0,0e0]",
	"[123.456e-789]",
	"[\"\\/\"]",
	"[\"\x7f\"]",
	"{\"a\":1,\"b\":2,\"a\":3}",
};

static void test_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++)
		check_str(CASES[i]);
	/* NUL bytes in the buffer: inside a string, outside, trailing. */
	check_same("[\"a\0b\"]", 7);
	check_same("[1]\0", 4);
	check_same("\0", 1);
	check_same("[1,\0 2]", 7);
	/* Long strings with escapes late, around the scratch buffer's growth. */
	char big[5000];
	memset(big, 'x', sizeof big);
	memcpy(big, "[\"", 2);
	memcpy(big + sizeof big - 8, "\\n\\u00e9", 8);
	char doc[5010];
	memcpy(doc, big, sizeof big);
	memcpy(doc + sizeof big, "\"]", 2);
	check_same(doc, sizeof big + 2);
	/* An escaped key, then a value with escapes that reuses the scratch buffer. */
	check_str("{\"a\\nb\":\"c\\td\",\"e\\u0041\":[\"\\u00e9\",\"x\\\"\"]}");
}

static char *nested(int depth, char open, char close)
{
	char *s = acs_xmalloc((size_t)depth * 2 + 1);
	memset(s, open, (size_t)depth);
	memset(s + depth, close, (size_t)depth);
	s[depth * 2] = '\0';
	return s;
}

static void test_depth(void **state)
{
	(void)state;
	char *ok = nested(JSON_PARSER_MAX_DEPTH, '[', ']');
	char *deep = nested(JSON_PARSER_MAX_DEPTH + 1, '[', ']');
	assert_true(check_same(ok, strlen(ok)));
	assert_false(check_same(deep, strlen(deep)));
	json_error_t e;
	assert_null(acs_json_loads(deep, 0, &e));
	assert_int_equal(json_error_code(&e), json_error_stack_overflow);
	free(ok);
	free(deep);

	/* A smaller limit of the caller's: that many levels and not one more. */
	char *three = nested(3, '[', ']'), *four = nested(4, '[', ']');
	json_t *j = acs_json_loadb_depth(three, strlen(three), 0, 3, &e);
	assert_non_null(j);
	json_decref(j);
	assert_null(acs_json_loadb_depth(four, strlen(four), 0, 3, &e));
	assert_int_equal(json_error_code(&e), json_error_stack_overflow);
	j = acs_json_loadb_depth("{\"a\":\"[[[[\"}", 12, 0, 1, &e); /* strings do not count */
	assert_non_null(j);
	json_decref(j);
	j = acs_json_loadb_depth(four, strlen(four), 0, 0, &e); /* out of range: the default */
	assert_non_null(j);
	json_decref(j);
	free(three);
	free(four);

	/* A tree deeper than the writer recurses: handed to jansson, same bytes. */
	json_t *root = json_array(), *cur = root;
	for (int i = 0; i < JSON_PARSER_MAX_DEPTH + 100; i++) {
		json_t *next = json_array();
		json_array_append_new(cur, next);
		cur = next;
	}
	check_dumps(root);
	json_decref(root);
}

static void test_errors(void **state)
{
	(void)state;
	json_error_t e;
	assert_null(acs_json_loads("{\"a\":1,\n \"b\":x}", 0, &e));
	assert_int_equal(e.line, 2);
	assert_int_equal(e.position, 13);
	assert_string_equal(e.source, "<buffer>");
	assert_non_null(strstr(e.text, "invalid token"));
	assert_null(acs_json_loads("{\"a\":1,\"a\":2}", JSON_REJECT_DUPLICATES, &e));
	assert_int_equal(json_error_code(&e), json_error_duplicate_key);
	assert_null(acs_json_loads("[\"\xff\"]", 0, &e));
	assert_int_equal(json_error_code(&e), json_error_invalid_utf8);
	assert_null(acs_json_loads("[1] 2", 0, &e));
	assert_int_equal(json_error_code(&e), json_error_end_of_input_expected);
	assert_null(acs_json_loads("[\"abc", 0, &e));
	assert_int_equal(json_error_code(&e), json_error_premature_end_of_input);
	assert_null(acs_json_loads("[99999999999999999999]", 0, &e));
	assert_int_equal(json_error_code(&e), json_error_numeric_overflow);
	/* error may be NULL; flags jansson has and we do not go to jansson. */
	assert_null(acs_json_loads("[", 0, NULL));
	json_t *j = acs_json_loads("[1] trailing", JSON_DISABLE_EOF_CHECK, NULL);
	assert_non_null(j);
	json_decref(j);
	j = acs_json_loads("[\"a\\u0000b\"]", JSON_ALLOW_NUL, NULL);
	assert_non_null(j);
	assert_int_equal(json_string_length(json_array_get(j, 0)), 3);
	json_decref(j);
}

static void test_dumps(void **state)
{
	(void)state;
	/* Every ASCII character (control ones escaped as jansson does) and UTF-8. */
	char all[200];
	size_t n = 0;
	for (int c = 0; c < 128; c++)
		all[n++] = (char)c;
	memcpy(all + n, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9);
	n += 9;
	json_t *o = json_object();
	json_object_set_new(o, "s", json_stringn(all, n));
	json_object_set_new(o, "i", json_integer(INT64_MIN));
	json_object_set_new(o, "j", json_integer(INT64_MAX));
	json_object_set_new(o, "r",
			    json_pack("[f,f,f,f,f,f]", 1.0, 0.1, -2.5, 1e300, 1e-300, 123456789.0));
	json_object_set_new(o, "e",
			    json_pack("{s:{},s:[],s:n,s:b,s:b}", "o", "a", "n", "t", 1, "f", 0));
	/* Keys sharing prefixes and one with a NUL byte: memcmp-then-length order. */
	json_object_setn_new(o, "ab", 2, json_integer(1));
	json_object_setn_new(o, "a\0b", 3, json_integer(2));
	json_object_setn_new(o, "a", 1, json_integer(3));
	json_object_setn_new(o, "", 0, json_integer(4));
	json_object_set_new(o, "\xc3\xa9", json_string("k\"e\\y"));
	check_dumps(o);
	json_decref(o);

	/* Scalars: only with JSON_ENCODE_ANY. */
	json_t *scalars[] = { json_string("x"), json_integer(-7), json_real(2.5), json_true(),
			      json_null() };
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		check_dumps(scalars[i]);
		assert_null(acs_json_dumps(scalars[i], JSON_COMPACT));
		json_decref(scalars[i]);
	}
	/* Invalid UTF-8 smuggled in with _nocheck: jansson refuses, so do we. */
	json_t *bad = json_pack("[o]", json_stringn_nocheck("\xc3(", 2));
	check_dumps(bad);
	assert_null(acs_json_dumps(bad, JSON_COMPACT));
	json_decref(bad);
	/* A cycle: NULL, as jansson. */
	json_t *a = json_array(), *b = json_array();
	json_array_append(a, b);
	json_array_append(b, a);
	assert_null(acs_json_dumps(a, JSON_COMPACT));
	json_array_clear(b);
	json_decref(a);
	json_decref(b);
	/* Not compact, or other flags: jansson's own output. */
	json_t *x = json_pack("{s:i,s:[i,i]}", "a", 1, "b", 2, 3);
	char *w = json_dumps(x, JSON_INDENT(2));
	char *g = acs_json_dumps(x, JSON_INDENT(2));
	assert_string_equal(g, w);
	free(w);
	free(g);
	w = json_dumps(x, 0);
	g = acs_json_dumps(x, 0);
	assert_string_equal(g, w);
	free(w);
	free(g);
	assert_null(acs_json_dumps(NULL, JSON_COMPACT));
	json_decref(x);
}

/* Appending to a buffer: the same bytes as acs_json_dumps, one top-level member left
 * out on request (in insertion and in sorted order), nothing half-written on failure. */
static void test_append(void **state)
{
	(void)state;
	json_t *o = json_pack("{s:i,s:[s,{s:i}],s:s,s:n}", "b", 1, "skip", "x", "skip", 2, "a",
			      "q\"", "c");
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX);
	assert_int_equal(acs_buf_append(&b, "<", 1), 0);
	assert_int_equal(acs_json_append(&b, o, JSON_COMPACT, NULL), 0);
	char *want = acs_json_dumps(o, JSON_COMPACT);
	assert_string_equal(b.data + 1, want);
	free(want);
	acs_buf_reset(&b);
	/* The nested "skip" stays: only the top-level member goes. */
	assert_int_equal(acs_json_append(&b, o, JSON_COMPACT, "skip"), 0);
	assert_string_equal(b.data, "{\"b\":1,\"a\":\"q\\\"\",\"c\":null}");
	acs_buf_reset(&b);
	assert_int_equal(acs_json_append(&b, o, JSON_COMPACT | JSON_SORT_KEYS, "skip"), 0);
	assert_string_equal(b.data, "{\"a\":\"q\\\"\",\"b\":1,\"c\":null}");
	/* Refused without a trace: other flags, a scalar without ENCODE_ANY, bad UTF-8. */
	acs_buf_reset(&b);
	assert_int_equal(acs_buf_append(&b, "keep", 4), 0);
	assert_int_equal(acs_json_append(&b, o, JSON_INDENT(2), NULL), -EINVAL);
	json_t *i = json_integer(5);
	assert_int_equal(acs_json_append(&b, i, JSON_COMPACT, NULL), -EINVAL);
	assert_int_equal(acs_json_append(&b, i, JSON_COMPACT | JSON_ENCODE_ANY, NULL), 0);
	json_decref(i);
	json_t *bad = json_pack("[s,o]", "ok", json_stringn_nocheck("\xc3(", 2));
	assert_int_equal(acs_json_append(&b, bad, JSON_COMPACT, NULL), -EINVAL);
	assert_int_equal(acs_json_append_string(&b, "\xc3(", 2), -EINVAL);
	assert_int_equal(acs_json_append_string(&b, "a\nb", 3), 0);
	assert_string_equal(b.data, "keep5\"a\\nb\"");
	json_decref(bad);
	acs_buf_free(&b);
	/* Past the buffer's ceiling: ACS_ETOOBIG (the buffer is freed by acs_buf). */
	struct acs_buf small;
	acs_buf_init(&small, 8);
	assert_int_equal(acs_json_append(&small, o, JSON_COMPACT, NULL), ACS_ETOOBIG);
	assert_null(small.data);
	json_decref(o);
}

/* xorshift: a fixed sequence, so a failure replays. */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void test_mutations(void **state)
{
	(void)state;
	static const unsigned char pick[] = { '"',  '\\', '{',	'}',  '[',  ']',  ',',	':',
					      '0',  '9',  '-',	'+',  'e',  '.',  'u',	'n',
					      't',  ' ',  '\n', 0x00, 0x1f, 0x7f, 0x80, 0xbf,
					      0xc3, 0xed, 0xf0, 0xf4, 0xff };
	struct doc docs[64];
	size_t nd = load_fixtures(docs, 64);
	const char *env = getenv("ACS_JSON_MUTATIONS");
	long rounds = env ? strtol(env, NULL, 10) : 4000;
	uint64_t seed = 0x9e3779b97f4a7c15ull;
	long accepted = 0;
	char *buf = acs_xmalloc((1 << 20) + 64);
	for (long r = 0; r < rounds; r++) {
		const char *src;
		size_t n;
		size_t pickdoc = rnd(&seed) % (nd + sizeof CASES / sizeof CASES[0]);
		if (pickdoc < nd) {
			src = docs[pickdoc].b;
			n = docs[pickdoc].n;
		} else {
			src = CASES[pickdoc - nd];
			n = strlen(src);
		}
		memcpy(buf, src, n);
		int edits = 1 + (int)(rnd(&seed) % 3);
		for (int k = 0; k < edits && n; k++) {
			size_t at = rnd(&seed) % n;
			unsigned char c = pick[rnd(&seed) % sizeof pick];
			switch (rnd(&seed) % 4) {
			case 0: /* replace */
				buf[at] = (char)c;
				break;
			case 1: /* insert */
				memmove(buf + at + 1, buf + at, n - at);
				buf[at] = (char)c;
				n++;
				break;
			case 2: /* delete */
				memmove(buf + at, buf + at + 1, n - at - 1);
				n--;
				break;
			default: /* truncate */
				n = at;
				break;
			}
		}
		accepted += check_same(buf, n);
	}
	/* The mutations must exercise both outcomes. */
	assert_true(accepted > rounds / 20);
	assert_true(accepted < rounds);
	free(buf);
	for (size_t i = 0; i < nd; i++)
		free(docs[i].b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixtures),  cmocka_unit_test(test_cases),
		cmocka_unit_test(test_depth),	  cmocka_unit_test(test_errors),
		cmocka_unit_test(test_dumps),	  cmocka_unit_test(test_append),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
