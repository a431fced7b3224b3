/* SPDX-License-Identifier: MIT */
/* Sessions, CSRF tokens, the login rate limiter and cookie syntax for the
 * dashboard (see auth.h for the design). */
#include "auth.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

#define CLIENT_LEN 64 /* an IPv6 address in text is at most 45 bytes */

struct session {
	char sid[ACS_AUTH_TOKEN_LEN];
	char csrf[ACS_AUTH_TOKEN_LEN];
	uint64_t last_used;
};

struct client {
	char ip[CLIENT_LEN];
	uint64_t window_start; /**< first counted attempt of the current window */
	unsigned attempts;
};

struct acs_auth {
	struct acs_auth_opts opts;
	struct session *sessions; /**< n_sessions used of opts.max_sessions */
	size_t n_sessions;
	struct client *clients; /**< n_clients used of opts.max_clients */
	size_t n_clients;
};

void acs_auth_opts_defaults(struct acs_auth_opts *opts)
{
	opts->session_idle_ms = 12ull * 3600 * 1000;
	opts->max_sessions = 32;
	opts->max_failures = 5;
	opts->window_ms = 60 * 1000;
	opts->max_clients = 1024;
}

struct acs_auth *acs_auth_new(const struct acs_auth_opts *opts)
{
	struct acs_auth *auth = acs_xcalloc(1, sizeof(*auth));
	if (opts)
		auth->opts = *opts;
	else
		acs_auth_opts_defaults(&auth->opts);
	if (auth->opts.max_sessions == 0)
		auth->opts.max_sessions = 1;
	if (auth->opts.max_clients == 0)
		auth->opts.max_clients = 1;
	auth->sessions = acs_xcalloc(auth->opts.max_sessions, sizeof(*auth->sessions));
	auth->clients = acs_xcalloc(auth->opts.max_clients, sizeof(*auth->clients));
	return auth;
}

void acs_auth_free(struct acs_auth *auth)
{
	if (!auth)
		return;
	sodium_memzero(auth->sessions, auth->opts.max_sessions * sizeof(*auth->sessions));
	free(auth->sessions);
	free(auth->clients);
	free(auth);
}

/* --- sessions --------------------------------------------------------------- */

static void random_hex(char out[ACS_AUTH_TOKEN_LEN])
{
	unsigned char raw[ACS_AUTH_TOKEN_HEX / 2];
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(out, ACS_AUTH_TOKEN_LEN, raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
}

static bool token_equal(const char *a, const char *b)
{
	if (!a || !b || strnlen(b, ACS_AUTH_TOKEN_LEN) != ACS_AUTH_TOKEN_HEX ||
	    strnlen(a, ACS_AUTH_TOKEN_LEN) != ACS_AUTH_TOKEN_HEX)
		return false;
	return sodium_memcmp(a, b, ACS_AUTH_TOKEN_HEX) == 0;
}

static bool expired(const struct acs_auth *auth, const struct session *s, uint64_t now)
{
	return now >= s->last_used && now - s->last_used >= auth->opts.session_idle_ms;
}

static void remove_session(struct acs_auth *auth, size_t i)
{
	auth->sessions[i] = auth->sessions[--auth->n_sessions];
	sodium_memzero(&auth->sessions[auth->n_sessions], sizeof(struct session));
}

static void sweep_sessions(struct acs_auth *auth, uint64_t now)
{
	for (size_t i = 0; i < auth->n_sessions;) {
		if (expired(auth, &auth->sessions[i], now))
			remove_session(auth, i);
		else
			i++;
	}
}

void acs_auth_session_create(struct acs_auth *auth, uint64_t now, char sid[ACS_AUTH_TOKEN_LEN],
			     char csrf[ACS_AUTH_TOKEN_LEN])
{
	sweep_sessions(auth, now);
	if (auth->n_sessions == auth->opts.max_sessions) {
		size_t lru = 0;
		for (size_t i = 1; i < auth->n_sessions; i++) {
			if (auth->sessions[i].last_used < auth->sessions[lru].last_used)
				lru = i;
		}
		remove_session(auth, lru);
	}
	struct session *s = &auth->sessions[auth->n_sessions++];
	random_hex(s->sid);
	random_hex(s->csrf);
	s->last_used = now;
	memcpy(sid, s->sid, ACS_AUTH_TOKEN_LEN);
	memcpy(csrf, s->csrf, ACS_AUTH_TOKEN_LEN);
}

/* Index of session sid, or n_sessions. Every slot is compared so the time
 * taken does not depend on which one matches. */
static size_t find_session(const struct acs_auth *auth, const char *sid)
{
	size_t found = auth->n_sessions;
	for (size_t i = 0; i < auth->n_sessions; i++) {
		if (token_equal(auth->sessions[i].sid, sid))
			found = i;
	}
	return found;
}

const char *acs_auth_session_lookup(struct acs_auth *auth, const char *sid, uint64_t now)
{
	size_t i = find_session(auth, sid);
	if (i == auth->n_sessions)
		return NULL;
	if (expired(auth, &auth->sessions[i], now)) {
		remove_session(auth, i);
		return NULL;
	}
	auth->sessions[i].last_used = now;
	return auth->sessions[i].csrf;
}

bool acs_auth_session_destroy(struct acs_auth *auth, const char *sid)
{
	size_t i = find_session(auth, sid);
	if (i == auth->n_sessions)
		return false;
	remove_session(auth, i);
	return true;
}

size_t acs_auth_session_count(const struct acs_auth *auth)
{
	return auth->n_sessions;
}

bool acs_auth_csrf_equal(const char *expected, const char *given)
{
	return token_equal(expected, given);
}

/* --- login rate limit ------------------------------------------------------- */

static struct client *find_client(struct acs_auth *auth, const char *ip)
{
	for (size_t i = 0; i < auth->n_clients; i++) {
		if (strcmp(auth->clients[i].ip, ip) == 0)
			return &auth->clients[i];
	}
	return NULL;
}

static bool window_over(const struct acs_auth *auth, const struct client *c, uint64_t now)
{
	return now < c->window_start || now - c->window_start >= auth->opts.window_ms;
}

/* A slot for a new client: a free one, else one whose window is over, else
 * the one with the oldest window (a flood of addresses can only make the
 * limiter forget, never lock anyone out). */
static struct client *new_client(struct acs_auth *auth, uint64_t now)
{
	if (auth->n_clients < auth->opts.max_clients)
		return &auth->clients[auth->n_clients++];
	struct client *oldest = &auth->clients[0];
	for (size_t i = 0; i < auth->n_clients; i++) {
		struct client *c = &auth->clients[i];
		if (window_over(auth, c, now))
			return c;
		if (c->window_start < oldest->window_start)
			oldest = c;
	}
	return oldest;
}

uint64_t acs_auth_login_attempt(struct acs_auth *auth, const char *client, uint64_t now)
{
	const char *ip = client ? client : "";
	struct client *c = find_client(auth, ip);
	if (!c) {
		c = new_client(auth, now);
		snprintf(c->ip, sizeof(c->ip), "%s", ip);
		c->window_start = now;
		c->attempts = 0;
	} else if (window_over(auth, c, now)) {
		c->window_start = now;
		c->attempts = 0;
	}
	if (c->attempts >= auth->opts.max_failures) {
		uint64_t wait = c->window_start + auth->opts.window_ms - now;
		return wait ? wait : 1;
	}
	c->attempts++;
	return 0;
}

void acs_auth_login_succeeded(struct acs_auth *auth, const char *client)
{
	struct client *c = find_client(auth, client ? client : "");
	if (c)
		*c = auth->clients[--auth->n_clients];
}

/* --- cookies ----------------------------------------------------------------- */

void acs_auth_cookie_format(char out[ACS_AUTH_COOKIE_LEN], const char *sid, bool secure)
{
	snprintf(out, ACS_AUTH_COOKIE_LEN, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s",
		 ACS_AUTH_COOKIE, sid ? sid : "", sid ? "" : "; Max-Age=0",
		 secure ? "; Secure" : "");
}

int acs_auth_cookie_get(const char *header, const char *name, char *out, size_t outlen)
{
	size_t nlen = strlen(name);
	const char *p = header;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > nlen && p[nlen] == '=' && strncmp(p, name, nlen) == 0) {
			const char *v = p + nlen + 1;
			size_t vlen = len - nlen - 1;
			while (vlen && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
				vlen--;
			if (vlen >= 2 && v[0] == '"' && v[vlen - 1] == '"') {
				v++;
				vlen -= 2;
			}
			if (vlen >= outlen)
				return ACS_ETOOBIG;
			memcpy(out, v, vlen);
			out[vlen] = '\0';
			return 0;
		}
		p = end;
	}
	return ACS_ENOTFOUND;
}
