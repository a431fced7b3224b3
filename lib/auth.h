/* SPDX-License-Identifier: MIT */
/* Dashboard authentication state without I/O: admin sessions (random ids in
 * a cookie, idle expiry, a cap), their CSRF tokens, the per-client login
 * rate limiter and the cookie syntax. Time is passed in (milliseconds on any
 * monotonic clock) so tests drive it; admin.c feeds it uv_now().
 *
 * DESIGN
 *   Sessions live only in memory: a restart signs the admin out, which is
 *   the safe default for a single-admin tool. The table is small and scanned
 *   linearly with constant-time comparisons, so a lookup leaks no timing
 *   about how much of an id matched. Login attempts are counted before the
 *   password is checked, so parallel guesses are limited too; a success
 *   clears the client's count. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

/** Hex length of session ids and CSRF tokens (32 random bytes). */
#define ACS_AUTH_TOKEN_HEX 64
/** Buffer size for one token with its NUL. */
#define ACS_AUTH_TOKEN_LEN (ACS_AUTH_TOKEN_HEX + 1)
/** Name of the session cookie. */
#define ACS_AUTH_COOKIE "acs_session"
/** Room for a formatted Set-Cookie value. */
#define ACS_AUTH_COOKIE_LEN 192

struct acs_auth;

struct acs_auth_opts {
	uint64_t session_idle_ms; /**< unused this long -> expired (12 h) */
	size_t max_sessions;	  /**< over -> the least recently used goes (32) */
	unsigned max_failures;	  /**< login attempts per client per window (5) */
	uint64_t window_ms;	  /**< rate limit window (60 s) */
	size_t max_clients;	  /**< clients tracked by the limiter (1024) */
};

/** Fill opts with the defaults above. */
void acs_auth_opts_defaults(struct acs_auth_opts *opts);

/** New state; opts may be NULL for the defaults (copied). Free with _free. */
struct acs_auth *acs_auth_new(const struct acs_auth_opts *opts);
/** Forget every session and counter; NULL is a no-op. */
void acs_auth_free(struct acs_auth *auth);

/** Create a session at now: fills sid and csrf with fresh random hex tokens
 *  (libsodium). Evicts expired sessions, then the least recently used one
 *  when the table is full. */
void acs_auth_session_create(struct acs_auth *auth, uint64_t now, char sid[ACS_AUTH_TOKEN_LEN],
			     char csrf[ACS_AUTH_TOKEN_LEN]);
/** The CSRF token of the live session sid (borrowed: valid until the next
 *  call on auth), refreshing its idle timer; NULL when sid is unknown,
 *  malformed or expired (an expired one is removed). sid may be NULL. */
const char *acs_auth_session_lookup(struct acs_auth *auth, const char *sid, uint64_t now);
/** Remove session sid. Returns true when it existed. */
bool acs_auth_session_destroy(struct acs_auth *auth, const char *sid);
/** Sessions currently held (expired ones included until swept). */
size_t acs_auth_session_count(const struct acs_auth *auth);

/** Constant-time comparison of a CSRF token with the one sent (may be NULL):
 *  true only when both are the same ACS_AUTH_TOKEN_HEX-character string. */
bool acs_auth_csrf_equal(const char *expected, const char *given);

/** Count a login attempt by client at now. Returns 0 when it may proceed
 *  (and counts it as a failure until _login_succeeded says otherwise), or
 *  the milliseconds until the client may try again (>= 1). */
uint64_t acs_auth_login_attempt(struct acs_auth *auth, const char *client, uint64_t now);
/** The password was right: clear client's count. */
void acs_auth_login_succeeded(struct acs_auth *auth, const char *client);

/** Format the Set-Cookie value for sid ("acs_session=...; Path=/;
 *  HttpOnly; SameSite=Strict", plus "; Secure" when secure). sid NULL
 *  formats the clearing cookie (empty value, Max-Age=0). */
void acs_auth_cookie_format(char out[ACS_AUTH_COOKIE_LEN], const char *sid, bool secure);
/** Copy the value of cookie name from a Cookie request header (may be NULL)
 *  into out. Returns 0, ACS_ENOTFOUND, or ACS_ETOOBIG when it does not fit. */
int acs_auth_cookie_get(const char *header, const char *name, char *out, size_t outlen);
