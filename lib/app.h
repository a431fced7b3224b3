/* SPDX-License-Identifier: MIT */
/* The running service: owns the HTTP server, the outbound curl loop and the
 * store built from one configuration, the built-in routes (health,
 * readiness), and the graceful drain on shutdown. daemon/main.c only parses
 * the command line, handles signals and runs the loop. */
#pragma once

#include <stdint.h>
#include <uv.h>

#include "common.h"

struct acs_config;
struct acs_app;
struct acs_http_server;
struct acs_store;
struct acs_curl_loop;

/** How long a graceful shutdown waits for in-flight requests and store writes. */
#define ACS_APP_DRAIN_TIMEOUT_MS 10000
/** Loop lag (timer tick late by more than this) that makes /api/ready answer 503. */
#define ACS_APP_MAX_LOOP_LAG_MS 1000

typedef void (*acs_app_stopped_cb)(void *arg);

/** Build the service on loop from cfg (borrowed: must outlive the app).
 *  Blocking (opens and migrates the database): call before uv_run.
 *  Returns NULL with err set on failure. */
struct acs_app *acs_app_new(uv_loop_t *loop, const struct acs_config *cfg, char err[ACS_ERR_LEN]);

/** Start listening on [server] listen; logs "listening address=HOST:PORT".
 *  Returns 0 or a negative code with err set. */
int acs_app_start(struct acs_app *app, char err[ACS_ERR_LEN]);

/** The bound HTTP port (after acs_app_start), else 0. */
int acs_app_port(const struct acs_app *app);

/** Graceful stop: stop accepting, let in-flight requests and store writes
 *  finish (at most drain_timeout_ms), then close every handle, free app and
 *  call cb. Idempotent: later calls do nothing. Loop thread only. */
void acs_app_shutdown(struct acs_app *app, uint64_t drain_timeout_ms, acs_app_stopped_cb cb,
		      void *arg);

/** The app's parts, borrowed, for modules that plug into it (routes, jobs). */
struct acs_http_server *acs_app_http(struct acs_app *app);
struct acs_store *acs_app_store(struct acs_app *app);
struct acs_curl_loop *acs_app_curl(struct acs_app *app);

/** Path of the SQLite database named by a "sqlite:PATH" url into out.
 *  Returns 0, or ACS_ECONFIG with err set for other schemes. */
int acs_app_db_path(const char *url, char *out, size_t outlen, char err[ACS_ERR_LEN]);
