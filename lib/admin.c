/* SPDX-License-Identifier: MIT */
/* Dashboard assets, login/logout and the session gate of the admin routes
 * (see admin.h). Session state itself lives in auth.c, free of I/O. */
#include "admin.h"

#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "err.h"
#include "http_server.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "web_assets.h"

/* Longest password accepted (and JSON body read) on /api/login. */
#define MAX_PASSWORD 1024
#define MAX_LOGIN_BODY 4096
/* Password checks running at once: each takes 64 MiB on a threadpool thread
 * the other modules share, so a burst from many addresses waits its turn. */
#define MAX_PENDING_CHECKS 2

#define CSP "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

struct acs_admin {
	uv_loop_t *loop;
	const struct acs_config *cfg; /**< borrowed */
	struct acs_auth *auth;
	bool enabled;	  /**< an admin password hash is configured */
	bool secure;	  /**< cookies get Secure (public_url is https) */
	bool closing;	  /**< _close called; freed when pending is 0 */
	unsigned pending; /**< password checks on the threadpool */
};

/* One password check on the threadpool. */
struct login_job {
	uv_work_t work;
	struct acs_admin *admin;
	struct acs_http_req *req;
	char *password;			   /**< zeroed and freed after the check */
	char hash[crypto_pwhash_STRBYTES]; /**< copied: the config may be reloaded meanwhile */
	char client[64];
	bool ok;
};

static const char disabled_page[] =
	"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
	"<title>ado-clickup-sync: dashboard disabled</title>\n"
	"<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n<main>\n"
	"<section>\n<h1>The dashboard is disabled</h1>\n"
	"<p>No admin password is configured, so the dashboard refuses every login.</p>\n"
	"<p>To enable it, make a password hash with <code>ado-clickup-sync hash-password</code> "
	"(it reads the password on standard input), put it in the configuration as "
	"<code>admin_password_hash</code> (or in a file named by "
	"<code>admin_password_hash_file</code>) in the <code>[dashboard]</code> section, "
	"and restart the daemon.</p>\n</section>\n</main>\n</body>\n</html>\n";

static const char disabled_detail[] = "the dashboard is disabled: no [dashboard] "
				      "admin_password_hash is configured; make one "
				      "with `ado-clickup-sync hash-password` and restart";

void acs_admin_security_headers(struct acs_http_req *req)
{
	acs_http_req_add_header(req, "Content-Security-Policy", CSP);
	acs_http_req_add_header(req, "X-Content-Type-Options", "nosniff");
	acs_http_req_add_header(req, "Referrer-Policy", "no-referrer");
	acs_http_req_add_header(req, "X-Frame-Options", "DENY");
}

/* Security headers plus no-store: API answers are never cached. */
static void api_headers(struct acs_http_req *req)
{
	acs_admin_security_headers(req);
	acs_http_req_add_header(req, "Cache-Control", "no-store");
}

/* --- assets ------------------------------------------------------------------ */

/* Does an If-None-Match list contain etag? Weak validators compare equal
 * (RFC 9110 13.1.2 uses the weak comparison for If-None-Match). */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	const char *p = inm;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 1 && p[0] == '*')
			return true;
		if (len > 2 && strncmp(p, "W/", 2) == 0) {
			p += 2;
			len -= 2;
		}
		if (len == elen && strncmp(p, etag, elen) == 0)
			return true;
		p = end;
	}
	return false;
}

/* Does Accept-Encoding allow gzip (listed, or "*", without q=0)? */
static bool accepts_gzip(const char *ae)
{
	const char *p = ae;
	while (p && *p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		size_t name = strcspn(p, ";, \t");
		if (name > len)
			name = len;
		if ((name == 4 && strncasecmp(p, "gzip", 4) == 0) || (name == 1 && p[0] == '*')) {
			const char *q = p + name;
			bool zero = false;
			while (q < p + len) {
				const char *qp = strstr(q, "q=");
				if (!qp || qp >= p + len)
					break;
				char *qend;
				double v = strtod(qp + 2, &qend);
				zero = qend != qp + 2 && v <= 0.0;
				q = qp + 2;
			}
			if (!zero)
				return true;
		}
		p = end;
	}
	return false;
}

/* immutable: the asset was named by the current version ("/assets/v-<version>/app.js"),
 * so its content can never change under that URL. Everything else revalidates. */
static void serve_asset(struct acs_http_req *req, const struct acs_web_asset *a, bool immutable)
{
	acs_admin_security_headers(req);
	acs_http_req_add_header(req, "Cache-Control",
				immutable ? "public, max-age=31536000, immutable" : "no-cache");
	acs_http_req_add_header(req, "ETag", a->etag);
	if (a->gz)
		acs_http_req_add_header(req, "Vary", "Accept-Encoding");
	const char *inm = acs_http_req_header(req, "If-None-Match");
	if (inm && etag_matches(inm, a->etag)) {
		acs_http_respond(req, 304, NULL, NULL, 0);
		return;
	}
	if (a->gz && accepts_gzip(acs_http_req_header(req, "Accept-Encoding"))) {
		acs_http_req_add_header(req, "Content-Encoding", "gzip");
		acs_http_respond(req, 200, a->content_type, a->gz, a->gz_len);
		return;
	}
	acs_http_respond(req, 200, a->content_type, a->data, a->len);
}

static void index_cb(struct acs_http_req *req, void *arg)
{
	struct acs_admin *admin = arg;
	const struct acs_web_asset *a = acs_web_asset_find("index.html");
	if (!admin->enabled || !a) {
		acs_admin_security_headers(req);
		acs_http_req_add_header(req, "Cache-Control", "no-store");
		acs_http_respond(req, 200, "text/html; charset=utf-8", disabled_page,
				 sizeof(disabled_page) - 1);
		return;
	}
	serve_asset(req, a, false);
}

static void asset_cb(struct acs_http_req *req, void *arg)
{
	const char *name = acs_http_req_param(req, "name");
	bool immutable = false;
	/* "v-<version>/<name>": a stale version (a page loaded before an upgrade) still
	 * gets the current file, but without the long cache. */
	if (name && strncmp(name, "v-", 2) == 0 && strchr(name, '/')) {
		const char *slash = strchr(name, '/');
		size_t vlen = (size_t)(slash - name - 2);
		immutable = vlen == strlen(acs_web_assets_version) &&
			    memcmp(name + 2, acs_web_assets_version, vlen) == 0;
		name = slash + 1;
	}
	const struct acs_web_asset *a =
		name && *name && !strchr(name, '/') ? acs_web_asset_find(name) : NULL;
	if (!a) {
		acs_admin_security_headers(req);
		acs_http_respond_error(req, 404, "not found", "no such asset");
		return;
	}
	serve_asset(req, a, immutable);
}

/* --- sessions ------------------------------------------------------------------ */

static bool session_cookie(struct acs_http_req *req, char sid[ACS_AUTH_TOKEN_LEN])
{
	return acs_auth_cookie_get(acs_http_req_header(req, "Cookie"), ACS_AUTH_COOKIE, sid,
				   ACS_AUTH_TOKEN_LEN) == 0;
}

bool acs_admin_require(struct acs_admin *admin, struct acs_http_req *req, bool state_changing,
		       const char **csrf)
{
	char sid[ACS_AUTH_TOKEN_LEN];
	const char *token = NULL;
	if (session_cookie(req, sid))
		token = acs_auth_session_lookup(admin->auth, sid, uv_now(admin->loop));
	sodium_memzero(sid, sizeof(sid));
	if (!token) {
		api_headers(req);
		acs_http_respond_error(req, 401, "unauthorized",
				       admin->enabled ? "sign in first" : disabled_detail);
		return false;
	}
	if (state_changing && !acs_auth_csrf_equal(token, acs_http_req_header(req, "X-CSRF-"
										   "Token"))) {
		api_headers(req);
		acs_http_respond_error(req, 403, "forbidden", "missing or wrong X-CSRF-Token");
		return false;
	}
	if (csrf)
		*csrf = token;
	return true;
}

bool acs_admin_enabled(const struct acs_admin *admin)
{
	return admin->enabled;
}

/* --- login / logout --------------------------------------------------------------- */

static void admin_free(struct acs_admin *admin)
{
	acs_auth_free(admin->auth);
	free(admin);
}

/* Threadpool: the only place the hash is checked. */
static void verify_work(uv_work_t *w)
{
	struct login_job *job = acs_container_of(w, struct login_job, work);
	job->ok = crypto_pwhash_str_verify(job->hash, job->password, strlen(job->password)) == 0;
}

static void verify_done(uv_work_t *w, int status)
{
	struct login_job *job = acs_container_of(w, struct login_job, work);
	struct acs_admin *admin = job->admin;
	struct acs_http_req *req = job->req;
	struct acs_log_field f[] = { { "client", job->client } };

	sodium_memzero(job->password, strlen(job->password));
	free(job->password);
	admin->pending--;
	api_headers(req);
	if (status != 0 || admin->closing) {
		acs_http_respond_error(req, 503, "unavailable", "shutting down");
	} else if (!job->ok) {
		acs_log_kv(ACS_LOG_WARN, "admin", "login failed", f, ACS_ARRAY_SIZE(f));
		acs_http_respond_error(req, 401, "unauthorized", "wrong password");
	} else {
		char sid[ACS_AUTH_TOKEN_LEN], csrf[ACS_AUTH_TOKEN_LEN];
		char old[ACS_AUTH_TOKEN_LEN];
		char cookie[ACS_AUTH_COOKIE_LEN];
		/* A new login replaces the session the browser already had. */
		if (session_cookie(req, old))
			acs_auth_session_destroy(admin->auth, old);
		acs_auth_login_succeeded(admin->auth, job->client);
		acs_auth_session_create(admin->auth, uv_now(admin->loop), sid, csrf);
		acs_auth_cookie_format(cookie, sid, admin->secure);
		acs_http_req_add_header(req, "Set-Cookie", cookie);
		acs_log_kv(ACS_LOG_INFO, "admin", "login", f, ACS_ARRAY_SIZE(f));
		acs_http_respond_json(req, 200, json_pack("{s:s}", "csrf_token", csrf));
		sodium_memzero(sid, sizeof(sid));
		sodium_memzero(cookie, sizeof(cookie));
	}
	free(job);
	if (admin->closing && admin->pending == 0)
		admin_free(admin);
}

static void login_cb(struct acs_http_req *req, void *arg)
{
	struct acs_admin *admin = arg;
	if (!admin->enabled) {
		api_headers(req);
		acs_http_respond_error(req, 503, "dashboard disabled", disabled_detail);
		return;
	}
	if (admin->pending >= MAX_PENDING_CHECKS) {
		api_headers(req);
		acs_http_req_add_header(req, "Retry-After", "1");
		acs_http_respond_error(req, 503, "busy", "other logins are being checked; retry");
		return;
	}
	const char *client = acs_http_req_client_ip(req);
	uint64_t wait = acs_auth_login_attempt(admin->auth, client, uv_now(admin->loop));
	if (wait) {
		char secs[32];
		snprintf(secs, sizeof(secs), "%" PRIu64, (wait + 999) / 1000);
		struct acs_log_field f[] = { { "client", client }, { "retry_after", secs } };
		acs_log_kv(ACS_LOG_WARN, "admin", "login rate limited", f, ACS_ARRAY_SIZE(f));
		api_headers(req);
		acs_http_req_add_header(req, "Retry-After", secs);
		acs_http_respond_error(req, 429, "too many requests",
				       "too many login attempts; try again later");
		return;
	}

	size_t len;
	const char *body = acs_http_req_body(req, &len);
	json_t *doc = len <= MAX_LOGIN_BODY
			      ? acs_json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL)
			      : NULL;
	const char *pw = json_string_value(json_object_get(doc, "password"));
	if (!pw || pw[0] == '\0' || strlen(pw) > MAX_PASSWORD) {
		json_decref(doc);
		api_headers(req);
		acs_http_respond_error(req, 400, "malformed",
				       "expected a JSON body {\"password\": \"...\"}");
		return;
	}
	struct login_job *job = acs_xcalloc(1, sizeof(*job));
	job->admin = admin;
	job->req = req;
	job->password = acs_xstrdup(pw);
	snprintf(job->hash, sizeof(job->hash), "%s", admin->cfg->dashboard.admin_password_hash);
	snprintf(job->client, sizeof(job->client), "%s", client ? client : "");
	/* The parsed copy of the password goes with the document. */
	sodium_memzero((char *)pw, strlen(pw));
	json_decref(doc);
	int rc = uv_queue_work(admin->loop, &job->work, verify_work, verify_done);
	if (rc) {
		free(job->password);
		free(job);
		api_headers(req);
		acs_http_respond_error(req, 503, "unavailable", uv_strerror(rc));
		return;
	}
	admin->pending++;
}

static void logout_cb(struct acs_http_req *req, void *arg)
{
	struct acs_admin *admin = arg;
	if (!acs_admin_require(admin, req, true, NULL))
		return;
	char sid[ACS_AUTH_TOKEN_LEN];
	char cookie[ACS_AUTH_COOKIE_LEN];
	if (session_cookie(req, sid))
		acs_auth_session_destroy(admin->auth, sid);
	sodium_memzero(sid, sizeof(sid));
	acs_auth_cookie_format(cookie, NULL, admin->secure);
	api_headers(req);
	acs_http_req_add_header(req, "Set-Cookie", cookie);
	acs_http_respond_json(req, 200, json_pack("{s:b}", "logged_out", 1));
}

/* The smallest protected route: lets the dashboard (and tests) ask whether
 * the browser's session is live, and recover its CSRF token after a reload
 * (a cross-site page cannot read this answer). */
static void whoami_cb(struct acs_http_req *req, void *arg)
{
	struct acs_admin *admin = arg;
	const char *csrf;
	if (!acs_admin_require(admin, req, false, &csrf))
		return;
	api_headers(req);
	acs_http_respond_json(req, 200,
			      json_pack("{s:b,s:s}", "authenticated", 1, "csrf_token", csrf));
}

/* --- lifecycle -------------------------------------------------------------------- */

struct acs_admin *acs_admin_new(uv_loop_t *loop, struct acs_http_server *http,
				const struct acs_config *cfg)
{
	struct acs_admin *admin = acs_xcalloc(1, sizeof(*admin));
	admin->loop = loop;
	admin->cfg = cfg;
	admin->auth = acs_auth_new(NULL);
	const char *hash = cfg->dashboard.admin_password_hash;
	admin->enabled = hash && hash[0];
	admin->secure = cfg->server.public_url && strncmp(cfg->server.public_url, "https:", 6) == 0;
	if (!admin->enabled)
		acs_log(ACS_LOG_WARN, "admin",
			"dashboard disabled: no [dashboard] admin_password_hash; make one with "
			"`ado-clickup-sync hash-password` and restart");

	acs_http_server_route(http, "GET", "/", index_cb, admin);
	acs_http_server_route(http, "GET", "/assets/*name", asset_cb, NULL);
	acs_http_server_route(http, "POST", "/api/login", login_cb, admin);
	acs_http_server_route(http, "POST", "/api/logout", logout_cb, admin);
	acs_http_server_route(http, "GET", "/api/dashboard/whoami", whoami_cb, admin);
	return admin;
}

void acs_admin_close(struct acs_admin *admin)
{
	if (!admin || admin->closing)
		return;
	admin->closing = true;
	if (admin->pending == 0)
		admin_free(admin);
}
