/* SPDX-License-Identifier: MIT */
/* Unit tests for auth.c: sessions (create, lookup, idle expiry, the cap),
 * CSRF comparison, the login rate limiter driven by an injected clock, and
 * cookie formatting and parsing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sodium.h>
#include <string.h>

#include "auth.h"
#include "err.h"

#define HOUR (3600ull * 1000)

static int setup(void **state)
{
	return sodium_init() < 0 ? -1 : 0;
}

static bool is_hex_token(const char *s)
{
	if (strlen(s) != ACS_AUTH_TOKEN_HEX)
		return false;
	return strspn(s, "0123456789abcdef") == ACS_AUTH_TOKEN_HEX;
}

static void test_session_create_lookup(void **state)
{
	struct acs_auth *a = acs_auth_new(NULL);
	char sid[ACS_AUTH_TOKEN_LEN], csrf[ACS_AUTH_TOKEN_LEN];
	char sid2[ACS_AUTH_TOKEN_LEN], csrf2[ACS_AUTH_TOKEN_LEN];

	acs_auth_session_create(a, 1000, sid, csrf);
	acs_auth_session_create(a, 1000, sid2, csrf2);
	assert_true(is_hex_token(sid));
	assert_true(is_hex_token(csrf));
	assert_string_not_equal(sid, sid2);
	assert_string_not_equal(sid, csrf);
	assert_int_equal(acs_auth_session_count(a), 2);

	const char *t = acs_auth_session_lookup(a, sid, 2000);
	assert_non_null(t);
	assert_string_equal(t, csrf);
	t = acs_auth_session_lookup(a, sid2, 2000);
	assert_non_null(t);
	assert_string_equal(t, csrf2);

	/* Unknown, truncated, extended, empty and NULL ids find nothing. */
	char other[ACS_AUTH_TOKEN_LEN];
	memcpy(other, sid, sizeof(other));
	other[0] = other[0] == 'a' ? 'b' : 'a';
	assert_null(acs_auth_session_lookup(a, other, 2000));
	char shorter[ACS_AUTH_TOKEN_LEN];
	memcpy(shorter, sid, sizeof(shorter));
	shorter[ACS_AUTH_TOKEN_HEX - 1] = '\0';
	assert_null(acs_auth_session_lookup(a, shorter, 2000));
	char longer[ACS_AUTH_TOKEN_LEN + 1];
	memcpy(longer, sid, ACS_AUTH_TOKEN_HEX);
	longer[ACS_AUTH_TOKEN_HEX] = '0';
	longer[ACS_AUTH_TOKEN_HEX + 1] = '\0';
	assert_null(acs_auth_session_lookup(a, longer, 2000));
	assert_null(acs_auth_session_lookup(a, "", 2000));
	assert_null(acs_auth_session_lookup(a, NULL, 2000));

	assert_true(acs_auth_session_destroy(a, sid));
	assert_false(acs_auth_session_destroy(a, sid));
	assert_null(acs_auth_session_lookup(a, sid, 2000));
	assert_non_null(acs_auth_session_lookup(a, sid2, 2000));
	assert_int_equal(acs_auth_session_count(a), 1);
	acs_auth_free(a);
	acs_auth_free(NULL);
}

static void test_session_idle_expiry(void **state)
{
	struct acs_auth_opts o;
	acs_auth_opts_defaults(&o);
	assert_int_equal(o.session_idle_ms, 12 * HOUR);
	struct acs_auth *a = acs_auth_new(&o);
	char sid[ACS_AUTH_TOKEN_LEN], csrf[ACS_AUTH_TOKEN_LEN];
	char sid2[ACS_AUTH_TOKEN_LEN], csrf2[ACS_AUTH_TOKEN_LEN];

	acs_auth_session_create(a, 0, sid, csrf);
	acs_auth_session_create(a, 0, sid2, csrf2);
	/* Use refreshes the idle timer: 11 h later, then 11 h after that. */
	assert_non_null(acs_auth_session_lookup(a, sid, 11 * HOUR));
	assert_non_null(acs_auth_session_lookup(a, sid, 22 * HOUR));
	/* sid2 was idle for 12 h: gone, and removed from the table. */
	assert_null(acs_auth_session_lookup(a, sid2, 12 * HOUR));
	assert_int_equal(acs_auth_session_count(a), 1);
	/* Just under the limit is still alive; at the limit it is not. */
	assert_non_null(acs_auth_session_lookup(a, sid, 34 * HOUR - 1));
	assert_null(acs_auth_session_lookup(a, sid, 46 * HOUR - 1));
	assert_int_equal(acs_auth_session_count(a), 0);

	/* Creating a session sweeps expired ones. */
	acs_auth_session_create(a, 100 * HOUR, sid, csrf);
	acs_auth_session_create(a, 200 * HOUR, sid2, csrf2);
	assert_int_equal(acs_auth_session_count(a), 1);
	assert_null(acs_auth_session_lookup(a, sid, 200 * HOUR));
	assert_non_null(acs_auth_session_lookup(a, sid2, 200 * HOUR));
	acs_auth_free(a);
}

static void test_session_cap_evicts_lru(void **state)
{
	struct acs_auth_opts o;
	acs_auth_opts_defaults(&o);
	o.max_sessions = 3;
	struct acs_auth *a = acs_auth_new(&o);
	char sid[4][ACS_AUTH_TOKEN_LEN], csrf[4][ACS_AUTH_TOKEN_LEN];

	acs_auth_session_create(a, 10, sid[0], csrf[0]);
	acs_auth_session_create(a, 20, sid[1], csrf[1]);
	acs_auth_session_create(a, 30, sid[2], csrf[2]);
	/* Using the oldest makes sid[1] the least recently used. */
	assert_non_null(acs_auth_session_lookup(a, sid[0], 40));
	acs_auth_session_create(a, 50, sid[3], csrf[3]);
	assert_int_equal(acs_auth_session_count(a), 3);
	assert_null(acs_auth_session_lookup(a, sid[1], 60));
	assert_string_equal(acs_auth_session_lookup(a, sid[0], 60), csrf[0]);
	assert_string_equal(acs_auth_session_lookup(a, sid[2], 60), csrf[2]);
	assert_string_equal(acs_auth_session_lookup(a, sid[3], 60), csrf[3]);
	acs_auth_free(a);
}

static void test_csrf_equal(void **state)
{
	struct acs_auth *a = acs_auth_new(NULL);
	char sid[ACS_AUTH_TOKEN_LEN], csrf[ACS_AUTH_TOKEN_LEN];
	acs_auth_session_create(a, 0, sid, csrf);
	const char *t = acs_auth_session_lookup(a, sid, 0);

	char copy[ACS_AUTH_TOKEN_LEN];
	memcpy(copy, csrf, sizeof(copy));
	assert_true(acs_auth_csrf_equal(t, copy));
	copy[ACS_AUTH_TOKEN_HEX - 1] = copy[ACS_AUTH_TOKEN_HEX - 1] == '0' ? '1' : '0';
	assert_false(acs_auth_csrf_equal(t, copy));
	copy[ACS_AUTH_TOKEN_HEX - 1] = '\0';
	assert_false(acs_auth_csrf_equal(t, copy));
	assert_false(acs_auth_csrf_equal(t, NULL));
	assert_false(acs_auth_csrf_equal(t, ""));
	assert_false(acs_auth_csrf_equal(NULL, csrf));
	assert_false(acs_auth_csrf_equal("", ""));
	/* A session id is not a CSRF token. */
	assert_false(acs_auth_csrf_equal(t, sid));
	acs_auth_free(a);
}

static void test_rate_limit_windows(void **state)
{
	struct acs_auth_opts o;
	acs_auth_opts_defaults(&o);
	assert_int_equal(o.max_failures, 5);
	assert_int_equal(o.window_ms, 60000);
	struct acs_auth *a = acs_auth_new(&o);
	uint64_t t0 = 1000000;

	for (int i = 0; i < 5; i++)
		assert_int_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + (uint64_t)i * 1000),
				 0);
	/* The sixth within the window waits until the window ends. */
	assert_int_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + 10000), 50000);
	assert_int_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + 59999), 1);
	/* Other clients are counted on their own. */
	assert_int_equal(acs_auth_login_attempt(a, "192.0.2.2", t0 + 10000), 0);
	assert_int_equal(acs_auth_login_attempt(a, "::1", t0 + 10000), 0);
	/* A new window starts once the old one is over. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + 60000), 0);
	assert_int_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + 60000), 60000);

	/* A success clears the count of its client only. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(acs_auth_login_attempt(a, "192.0.2.2", t0 + 20000), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "192.0.2.2", t0 + 20000), 0);
	acs_auth_login_succeeded(a, "192.0.2.2");
	assert_int_equal(acs_auth_login_attempt(a, "192.0.2.2", t0 + 20001), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "192.0.2.1", t0 + 60001), 0);
	acs_auth_login_succeeded(a, "203.0.113.9"); /* unknown: no-op */
	acs_auth_free(a);
}

static void test_rate_limit_table_full(void **state)
{
	struct acs_auth_opts o;
	acs_auth_opts_defaults(&o);
	o.max_clients = 2;
	o.max_failures = 1;
	struct acs_auth *a = acs_auth_new(&o);

	assert_int_equal(acs_auth_login_attempt(a, "10.0.0.1", 0), 0);
	assert_int_equal(acs_auth_login_attempt(a, "10.0.0.2", 10), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "10.0.0.1", 20), 0);
	/* A third client takes the slot with the oldest window (10.0.0.1). */
	assert_int_equal(acs_auth_login_attempt(a, "10.0.0.3", 30), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "10.0.0.2", 40), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "10.0.0.3", 40), 0);
	/* After the window, expired slots are reused first. */
	assert_int_equal(acs_auth_login_attempt(a, "10.0.0.4", 60020), 0);
	assert_int_not_equal(acs_auth_login_attempt(a, "10.0.0.3", 60020), 0);
	acs_auth_free(a);
}

static void test_cookie_format(void **state)
{
	char out[ACS_AUTH_COOKIE_LEN];
	const char *sid = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

	acs_auth_cookie_format(out, sid, false);
	assert_string_equal(out, "acs_session=00112233445566778899aabbccddeeff00112233445566778899"
				 "aabbccddeeff; Path=/; HttpOnly; SameSite=Strict");
	acs_auth_cookie_format(out, sid, true);
	assert_string_equal(out, "acs_session=00112233445566778899aabbccddeeff00112233445566778899"
				 "aabbccddeeff; Path=/; HttpOnly; SameSite=Strict; Secure");
	acs_auth_cookie_format(out, NULL, false);
	assert_string_equal(out, "acs_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
	acs_auth_cookie_format(out, NULL, true);
	assert_string_equal(out, "acs_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0; "
				 "Secure");
}

static void test_cookie_get(void **state)
{
	char v[ACS_AUTH_TOKEN_LEN];
	assert_int_equal(acs_auth_cookie_get("acs_session=abc", "acs_session", v, sizeof(v)), 0);
	assert_string_equal(v, "abc");
	assert_int_equal(acs_auth_cookie_get("theme=dark; acs_session=xyz ; other=1", "acs_session",
					     v, sizeof(v)),
			 0);
	assert_string_equal(v, "xyz");
	assert_int_equal(acs_auth_cookie_get("acs_session=\"q\"", "acs_session", v, sizeof(v)), 0);
	assert_string_equal(v, "q");
	assert_int_equal(acs_auth_cookie_get("acs_session=", "acs_session", v, sizeof(v)), 0);
	assert_string_equal(v, "");
	/* Prefixes and suffixes of the name do not match. */
	assert_int_equal(acs_auth_cookie_get("xacs_session=1; acs_sessionx=2", "acs_session", v,
					     sizeof(v)),
			 ACS_ENOTFOUND);
	assert_int_equal(acs_auth_cookie_get(NULL, "acs_session", v, sizeof(v)), ACS_ENOTFOUND);
	assert_int_equal(acs_auth_cookie_get("", "acs_session", v, sizeof(v)), ACS_ENOTFOUND);
	char small[4];
	assert_int_equal(acs_auth_cookie_get("acs_session=toolong", "acs_session", small,
					     sizeof(small)),
			 ACS_ETOOBIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_create_lookup),
		cmocka_unit_test(test_session_idle_expiry),
		cmocka_unit_test(test_session_cap_evicts_lru),
		cmocka_unit_test(test_csrf_equal),
		cmocka_unit_test(test_rate_limit_windows),
		cmocka_unit_test(test_rate_limit_table_full),
		cmocka_unit_test(test_cookie_format),
		cmocka_unit_test(test_cookie_get),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
