/* SPDX-License-Identifier: MIT */
/* The admin side of the HTTP server: the embedded dashboard assets (GET /,
 * GET /assets/NAME), POST /api/login and /api/logout, and the session + CSRF
 * check every other admin route runs first (acs_admin_require).
 *
 * LIFECYCLE
 *   acs_admin_new registers the routes on the server; acs_admin_close after
 *   the server is closed. Password checks run on the libuv threadpool
 *   (Argon2id takes tens of ms and 64 MiB), so close frees the struct only
 *   once the last of them came back; the loop keeps running until then.
 *
 * CACHING
 *   Asset names carry no content hash yet, so every asset is served with a
 *   strong ETag and Cache-Control: no-cache (the browser revalidates and gets
 *   304 Not Modified): cheap, and never stale after an upgrade. */
#pragma once

#include <stdbool.h>
#include <uv.h>

#include "common.h"

struct acs_admin;
struct acs_config;
struct acs_http_server;
struct acs_http_req;

/** Register the admin routes on http. cfg is borrowed and must outlive
 *  admin. Without [dashboard] admin_password_hash the routes still exist:
 *  GET / explains how to enable the dashboard and /api/login answers 503;
 *  a warning says so in the log. */
struct acs_admin *acs_admin_new(uv_loop_t *loop, struct acs_http_server *http,
				const struct acs_config *cfg);

/** Release admin once no password check is in flight (possibly from a later
 *  loop callback). Call after the HTTP server is closed. NULL is a no-op. */
void acs_admin_close(struct acs_admin *admin);

/** True when an admin password hash is configured (login possible). */
bool acs_admin_enabled(const struct acs_admin *admin);

/** Gate for admin routes: returns true when req carries a live session
 *  cookie (and, when state_changing, the session's X-CSRF-Token). Otherwise
 *  it answers 401 (no session) or 403 (CSRF token missing or wrong), which
 *  finishes req, and returns false: the handler must then return at once.
 *  csrf, when not NULL, receives the session's CSRF token (borrowed until
 *  the handler returns). */
bool acs_admin_require(struct acs_admin *admin, struct acs_http_req *req, bool state_changing,
		       const char **csrf);

/** Add the dashboard security headers (CSP, nosniff, no-referrer, frame
 *  denial) to req before it is answered. */
void acs_admin_security_headers(struct acs_http_req *req);
