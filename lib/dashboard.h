/* SPDX-License-Identifier: MIT */
/* The dashboard's admin API behind the session gate of admin.h: overview
 * stats, mappings (project_map) CRUD, the sync log, the error queue with
 * retry/dismiss, live pickers from both services, and GET /api/events
 * (server-sent events). Every SQL statement runs as a store job; nothing
 * here blocks the loop.
 *
 * LIFECYCLE
 *   acs_dashboard_new registers the routes. acs_dashboard_set_engine hands
 *   it the engine (service clients, scheduler kicks, webhook health) once
 *   there is one. acs_dashboard_stop at the start of a graceful shutdown
 *   ends the event streams (they would hold the drain up) and forgets the
 *   engine; acs_dashboard_close after the store closed frees everything
 *   from a later loop callback.
 *
 * EVENT STREAMS
 *   One 1 s timer serves every connected stream and runs only while there
 *   is one: each tick reads the sync_log rows past the last id seen (one
 *   indexed read for all streams) and sends each as `event: sync`; every
 *   second tick computes the stats once and sends them to all as
 *   `event: stats`; a `: ping` comment goes out every 15 s. Every backfill
 *   run (whoever started it) sends its progress as `event: backfill` with
 *   the GET /api/dashboard/backfill JSON while it is active, and once at
 *   its end (phase "done" or "failed"). At most ACS_DASHBOARD_MAX_STREAMS
 *   streams are open at once (503 beyond).
 *
 * NEW MAPPINGS
 *   A mapping created through the API is reloaded into the engine; once the
 *   reload put it in use, its backfill starts (not a dry run), or is queued
 *   behind the run in flight (acs_backfill_enqueue). */
#pragma once

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

struct acs_dashboard;
struct acs_config;
struct acs_http_server;
struct acs_store;
struct acs_admin;
struct acs_engine;

/** Concurrent GET /api/events clients. */
#define ACS_DASHBOARD_MAX_STREAMS 32
/** Largest page size of the sync log and the error queue. */
#define ACS_DASHBOARD_MAX_LIMIT 200
/** Largest page number accepted (bounds the OFFSET). */
#define ACS_DASHBOARD_MAX_PAGE 1000000
/** Stats period of the event streams, and the sync_log poll period. */
#define ACS_DASHBOARD_STATS_MS 2000
#define ACS_DASHBOARD_POLL_MS 1000
#define ACS_DASHBOARD_PING_MS 15000

struct acs_dashboard_opts {
	const struct acs_config *cfg; /**< borrowed, must outlive the dashboard */
	struct acs_http_server *http; /**< routes are registered on it */
	struct acs_store *store;      /**< borrowed */
	struct acs_admin *admin;      /**< the session gate (acs_admin_require) */
};

/** Register the routes. Never NULL. */
struct acs_dashboard *acs_dashboard_new(uv_loop_t *loop, const struct acs_dashboard_opts *opts);

/** The running engine (borrowed until set again or stopped), or NULL: the
 *  pickers then answer 503 and the stats leave budgets and webhooks empty. */
void acs_dashboard_set_engine(struct acs_dashboard *d, struct acs_engine *e);

/** Graceful shutdown begins: end every event stream, refuse new ones, stop
 *  the timer and forget the engine. Idempotent. */
void acs_dashboard_stop(struct acs_dashboard *d);

/** Free d (after its timer closed, from a later loop callback). Call once the
 *  HTTP server and the store are closed. NULL is a no-op. */
void acs_dashboard_close(struct acs_dashboard *d);

/* --- pure helpers (validation, query building, links) ----------------------- */

/** Filters of GET /api/dashboard/sync-log. */
struct acs_dashboard_log_filter {
	unsigned page;	    /**< 1-based */
	unsigned limit;	    /**< 1..ACS_DASHBOARD_MAX_LIMIT */
	char status[16];    /**< "" = any, else ok | error | skipped | retry */
	char direction[24]; /**< "" = any, else ado_to_clickup | clickup_to_ado | none */
	int64_t map_id;	    /**< 0 = any */
	char *q;	    /**< NULL = any: substring of ado_id, clickup_id or message */
	int64_t after_id;   /**< > 0: only rows with a larger id (the event streams) */
};

/** Parse page and limit (defaults 1 and 50) from a raw query string.
 *  Returns 0, or ACS_EPARSE with err naming the parameter. */
int acs_dashboard_parse_page(const char *qs, unsigned *page, unsigned *limit,
			     char err[ACS_ERR_LEN]);

/** Parse the sync-log query string into f (zeroed first; free with
 *  acs_dashboard_log_filter_clear). Returns 0 or ACS_EPARSE with err. */
int acs_dashboard_log_filter_parse(const char *qs, struct acs_dashboard_log_filter *f,
				   char err[ACS_ERR_LEN]);
void acs_dashboard_log_filter_clear(struct acs_dashboard_log_filter *f);

/** The WHERE clause (" WHERE ..." or "") for f over sync_log aliased "l",
 *  with named parameters :status, :dir, :map, :q and :after. Heap string. */
char *acs_dashboard_log_where(const struct acs_dashboard_log_filter *f);

/** A LIKE pattern matching q as a substring, with '\\' escaping '%', '_'
 *  and itself (use ESCAPE '\\'). Heap string. */
char *acs_dashboard_like_pattern(const char *q);

/** A mapping as the API writes it; NULL / -1 members were absent (create
 *  takes the default, update keeps the column). JSON members hold compact
 *  JSON text. */
struct acs_dashboard_map {
	char *name;
	char *ado_project;
	char *ado_area_path;
	char *ado_work_item_types; /**< JSON array of names */
	char *ado_new_item_type;
	char *clickup_list_id;
	char *status_map;	    /**< JSON object: ADO state -> ClickUp status */
	char *priority_map;	    /**< JSON object: "1".."4" -> urgent | high | normal | low */
	char *custom_map;	    /**< JSON object: ADO field reference -> ClickUp field id */
	char *on_delete;	    /**< close | delete | ignore */
	int copy_existing_comments; /**< -1 absent, 0, 1 */
};

/** Validate a POST (create: name, ado_project and clickup_list_id required)
 *  or PUT body into out (zeroed first; free with acs_dashboard_map_clear).
 *  Read-only members (id, source, created_at, updated_at) and unknown keys
 *  are ignored. Returns 0, or ACS_EPARSE with err starting "FIELD: ". */
int acs_dashboard_map_parse(const json_t *body, bool create, struct acs_dashboard_map *out,
			    char err[ACS_ERR_LEN]);
void acs_dashboard_map_clear(struct acs_dashboard_map *m);

/** Web URL of a work item: <base_url>/<org>/<project>/_workitems/edit/<id>
 *  (project escaped; [ado] project when project is NULL or empty). NULL when
 *  no organization or project is known. Heap string. */
char *acs_dashboard_ado_url(const struct acs_config *cfg, const char *project, int64_t id);

/** Web URL of a task: https://app.clickup.com/t/<id> for the real API;
 *  for another base_url, its origin ("api." host prefix made "app.") plus
 *  /t/<id>. Heap string. */
char *acs_dashboard_clickup_url(const struct acs_config *cfg, const char *task_id);

/** Counts for the stats (one read transaction). */
struct acs_dashboard_counts {
	int64_t pairs, pairs_ended;
	int64_t events[60]; /**< inbox rows received per minute, oldest first */
	int64_t pushes[60]; /**< sync_log ok rows with a direction, per minute */
	int64_t errors;	    /**< inbox rows in 'error' */
	int64_t queue;	    /**< pending + processing */
	int64_t last_a2c;   /**< Unix ms of the last ok ado_to_clickup row, 0 = none */
	int64_t last_c2a;
};

#ifdef ACS_UNIT_TEST
/* Store job bodies, run on a store thread (tests call them on a plain handle). */
int acs__dashboard_db_counts(sqlite3 *db, int64_t now_ms, struct acs_dashboard_counts *out,
			     char err[ACS_ERR_LEN]);
/** {"items": [...], "page", "limit", "total"} (after_id > 0: oldest first). */
int acs__dashboard_db_log(sqlite3 *db, const struct acs_config *cfg,
			  const struct acs_dashboard_log_filter *f, json_t **out,
			  char err[ACS_ERR_LEN]);
/** id 0: {"items": [every mapping]}; else the one item or ACS_ENOTFOUND. */
int acs__dashboard_db_maps(sqlite3 *db, int64_t id, json_t **out, char err[ACS_ERR_LEN]);
/** id 0 creates. -EPERM for a 'file' mapping, ACS_ENOTFOUND, ACS_ECONFLICT (name). */
int acs__dashboard_db_map_save(sqlite3 *db, int64_t id, const struct acs_dashboard_map *m,
			       int64_t now_ms, json_t **out, char err[ACS_ERR_LEN]);
int acs__dashboard_db_map_delete(sqlite3 *db, int64_t id, char err[ACS_ERR_LEN]);
/** Retry (back to pending, due now) or dismiss error rows: ids, or every one
 *  when all. *changed gets the count. */
int acs__dashboard_db_error_op(sqlite3 *db, bool retry, const int64_t *ids, size_t n, bool all,
			       int64_t *changed, char err[ACS_ERR_LEN]);
#endif
