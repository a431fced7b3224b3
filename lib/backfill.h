/* SPDX-License-Identifier: MIT */
/* Backfill: pair and sync the items that already exist under one mapping (the
 * `backfill` command, and the dashboard's action when a mapping is added). It lists
 * both sides, pairs what belongs together, and hands everything else to the syncer's
 * normal create path through the inbox, with progress for a terminal and the dashboard. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

struct acs_store;
struct acs_ado_client;
struct acs_clickup_client;
struct acs_config;
struct acs_http_server;
struct acs_admin;
struct acs_backfill;

/*
 * DESIGN
 *   A run has four phases: "listing" (WIQL on the mapping's project, area path and
 *   types, then the items batch-read ACS_ADO_MAX_BATCH at a time; every page of the
 *   mapped ClickUp list, closed tasks and subtasks included), "planning" (the pure
 *   acs_backfill_plan_make below, against the pairs and open create intents in the
 *   database), "queueing" (pairs written, inbox rows stored) and "syncing" (waiting
 *   until every inbox row of the run is done or in the error queue).
 *
 *   MATCHING (acs_backfill_plan_make). Items already paired (any mapping) are left
 *   alone. Then, by back-link: an ADO Hyperlink relation naming a task of the list
 *   (".../t/<task id>") or a task's description footer naming a work item
 *   (".../_workitems/edit/<id>" or ".../_apis/wit/workItems/<id>") is an edge; an item
 *   and a task joined by exactly one edge each are paired. An item on an edge that is
 *   not 1:1, or whose back-link names an item already paired or not listed, is left
 *   alone (logged): it is some other item's twin. Then, by exact title (never the empty
 *   one) among the rest: a title held by exactly one item on each side pairs them; a
 *   title on both sides but not 1:1 is ambiguous and left alone (logged). Items with an
 *   open create intent (a create was interrupted) are never title-paired: their create
 *   is finished by the syncer, which looks for the twin first. Everything else gets its
 *   twin created.
 *
 *   PAIRS made here get no base (no common ancestor is known) and the winner side is
 *   taken whole: [sync] conflict = ado / clickup names it; newest picks the side changed
 *   last (System.ChangedDate against date_updated; a tie goes to ADO, as in the syncer).
 *   Only the winner's synthetic event is queued, and the pair row records the loser's
 *   current revision, so the syncer reads the winner, finds every field new against the
 *   empty base and writes it to the loser in one update, with the missing back-links
 *   (the base's "pending": ado_link when the work item has no Hyperlink to the task,
 *   clickup_footer when the task has no footer naming the item).
 *
 *   CREATES go through the syncer's create path, so its intents protect against
 *   duplicates: a work item is queued as the sweep's synthetic workitem.updated
 *   delivery (acs_sweep_ado_event_body), a task as a synthetic taskCreated delivery.
 *
 *   RESUMING. The inbox rows of a run are keyed "backfill:<map id>:ado:<id>:<rev>",
 *   "backfill:<map id>:clickup:<task>:<date_updated>" (pair) and
 *   "backfill:<map id>:clickup-new:<task>:<date_updated>" (create): a run after an
 *   interruption plans again from what exists now (pairs written, twins created) and
 *   the rows it would store again are duplicates, which the scheduler works as usual.
 *   A pair is written before its row is stored, so no row of a new pair can reach the
 *   create path. A run over a fully backfilled mapping finds everything paired: it
 *   stores nothing and writes nothing.
 *
 *   DRY RUN lists and plans only: no database write, no inbox row, no remote write.
 *
 *   ONE RUN at a time per struct; the daemon (engine) owns one, the command builds its
 *   own store, clients, syncer and scheduler on one loop (acs_backfill_run_command) and
 *   refuses to run while a daemon holds the database lock (acs_backfill_lock_db).
 */

/* --- the matching rules (pure) -------------------------------------------------------- */

/** A listed work item, as the planner sees it (everything borrowed). */
struct acs_backfill_ado {
	int64_t id;
	const char *title;
	const char *const *links; /**< Hyperlink relation URLs */
	size_t n_links;
	bool paired;	   /**< in sync_map already */
	int64_t intent_id; /**< open create intent of this item, 0 = none */
};

/** A listed task (everything borrowed). */
struct acs_backfill_task {
	const char *id;
	const char *title;
	const char *footer; /**< URL of the description footer, NULL = none */
	bool paired;
	int64_t intent_id;
};

enum acs_backfill_kind {
	ACS_BACKFILL_ALREADY = 0,      /**< paired before: nothing to do */
	ACS_BACKFILL_PAIR_LINK,	       /**< pair by back-link */
	ACS_BACKFILL_PAIR_TITLE,       /**< pair by exact title */
	ACS_BACKFILL_CREATE_CLICKUP,   /**< the work item gets a ClickUp twin */
	ACS_BACKFILL_CREATE_ADO,       /**< the task gets an ADO twin */
	ACS_BACKFILL_AMBIGUOUS,	       /**< title or back-links not 1:1: left alone */
	ACS_BACKFILL_LINKED_ELSEWHERE, /**< back-link to an item paired or not listed */
	ACS_BACKFILL_NKINDS,
};

#define ACS_BACKFILL_NONE ((size_t)-1)

/** One decision: indexes into the input arrays (ACS_BACKFILL_NONE when not involved).
 *  Pairs name both; the other kinds name one item. */
struct acs_backfill_step {
	enum acs_backfill_kind kind;
	size_t ado;
	size_t task;
};

struct acs_backfill_plan {
	struct acs_backfill_step *steps; /**< every input item is in exactly one step */
	size_t n;
	size_t count[ACS_BACKFILL_NKINDS]; /**< steps per kind */
};

/** "already", "pair_link", ... Never NULL. */
const char *acs_backfill_kind_name(enum acs_backfill_kind k);

/** Plan the run (see DESIGN, MATCHING). Deterministic: steps follow the input order
 *  (work items first). Free out with acs_backfill_plan_deinit. */
void acs_backfill_plan_make(const struct acs_backfill_ado *ado, size_t n_ado,
			    const struct acs_backfill_task *tasks, size_t n_tasks,
			    struct acs_backfill_plan *out);
void acs_backfill_plan_deinit(struct acs_backfill_plan *p);

/** The work item id a URL names (".../_workitems/edit/<id>", ".../workItems/<id>",
 *  "...?id=<id>"), or 0. */
int64_t acs_backfill_ado_id_of_url(const char *url);
/** The task id a ClickUp URL names (".../t/<id>" or ".../t/<team>/<id>") into out
 *  (size n); false when there is none. */
bool acs_backfill_task_id_of_url(const char *url, char *out, size_t n);

/* --- runs ------------------------------------------------------------------------------- */

/** Progress of the current or last run. Strings are borrowed from the backfill until
 *  the next loop turn. */
struct acs_backfill_progress {
	bool running;
	bool dry_run;
	const char *map;   /**< NULL before the first run */
	const char *phase; /**< "idle", "listing", "planning", "queueing", "syncing", "done",
			    *  "failed" */
	uint64_t done;	   /**< listing: items listed; later: steps finished */
	uint64_t total;	   /**< listing: 0 (unknown); later: steps with work */
	uint64_t ado_items, clickup_tasks; /**< listed */
	uint64_t paired;		   /**< pairs made (planned, in a dry run) */
	uint64_t paired_link, paired_title;
	uint64_t created_ado;	   /**< ADO twins created for tasks (planned, dry run) */
	uint64_t created_clickup;  /**< ClickUp twins created for work items */
	uint64_t already;	   /**< items paired before the run */
	uint64_t ambiguous;	   /**< items left alone: title or back-links not 1:1 */
	uint64_t linked_elsewhere; /**< items left alone: twin of an item not here */
	uint64_t failed;	   /**< steps whose rows ended in the error queue */
	double rate;		   /**< steps (listing: items) per second */
	int64_t eta_s;		   /**< -1 when unknown */
	const char *error;	   /**< NULL, or why the run failed */
};

/** Progress changed (phase change, or a poll while syncing, about every 0.5 s). */
typedef void (*acs_backfill_progress_cb)(const struct acs_backfill_progress *p, void *arg);
/** End of a run: rc 0 or the error (p->error says more). */
typedef void (*acs_backfill_done_cb)(int rc, const struct acs_backfill_progress *p, void *arg);
/** New inbox rows were stored (the owner kicks or starts its scheduler). */
typedef void (*acs_backfill_kick_cb)(void *arg);

/** New backfill over borrowed store, clients and cfg (all must outlive it). kick runs
 *  once the rows of a run are stored. Never NULL. */
struct acs_backfill *acs_backfill_new(uv_loop_t *loop, struct acs_store *store,
				      struct acs_ado_client *ado, struct acs_clickup_client *cu,
				      const struct acs_config *cfg, acs_backfill_kick_cb kick,
				      void *kick_arg);

struct acs_syncer;

/** Take the mappings from syncer (acs_syncer_config_hold, as they are when a run
 *  starts: the dashboard's included, found by name; their project_map row is used as it
 *  is) instead of cfg's [map] sections. syncer is borrowed and must outlive b. */
void acs_backfill_set_syncer(struct acs_backfill *b, struct acs_syncer *syncer);

/** Start a run for the [map NAME] named map (copied). progress and done may be NULL; they
 *  run from the loop. Returns 0, -EBUSY while a run is in flight, ACS_ENOTFOUND when cfg
 *  has no such mapping, ACS_ECLOSED. */
int acs_backfill_start(struct acs_backfill *b, const char *map, bool dry_run,
		       acs_backfill_progress_cb progress, acs_backfill_done_cb done, void *arg);

/** Most mappings waiting in acs_backfill_enqueue's queue. */
#define ACS_BACKFILL_MAX_QUEUE 64

/** Backfill map (copied, not a dry run) now, or after the run in flight and the ones
 *  queued before it (a new dashboard mapping while another backfill runs). A queued
 *  mapping that is gone by its turn is logged and skipped. Returns 0 (started or
 *  queued; a name already queued is not queued twice), acs_backfill_start's errors when
 *  it starts at once, -EBUSY when the queue is full, ACS_ECLOSED. */
int acs_backfill_enqueue(struct acs_backfill *b, const char *map);

/** Watch every run's progress, whoever started it: cb gets what a run's progress
 *  callback gets, and the final progress ("done" / "failed") once at its end. cb NULL
 *  stops it. One watcher; arg is borrowed. */
void acs_backfill_set_watch(struct acs_backfill *b, acs_backfill_progress_cb cb, void *arg);

/** The current or last run's progress (see struct acs_backfill_progress). */
void acs_backfill_get_progress(const struct acs_backfill *b, struct acs_backfill_progress *out);

/** The progress as the dashboard shows it: {"running", "map", "phase", "done", "total",
 *  "created_ado", "created_clickup", "paired", "ambiguous", "failed", "rate", "eta_s",
 *  "dry_run", "error"}. New reference (json_decref). b NULL gives the idle state. */
json_t *acs_backfill_progress_json(const struct acs_backfill *b);

/** Stop: a run in flight ends at its next step with ACS_ECLOSED (its done runs), calls
 *  and store jobs in flight finish, b is freed, then cb (may be NULL). Idempotent. */
void acs_backfill_close(struct acs_backfill *b, void (*cb)(void *arg), void *arg);

/* --- dashboard routes ------------------------------------------------------------------- */

/** The backfill to use for a request, or NULL when sync is not running (503). */
typedef struct acs_backfill *(*acs_backfill_get_cb)(void *arg);

/** What the routes need; caller-owned storage (e.g. a field of the app) that must
 *  outlive the server's routes. */
struct acs_backfill_routes {
	struct acs_admin *admin; /**< the session gate (borrowed) */
	acs_backfill_get_cb get; /**< asked on every request */
	void *arg;		 /**< for get */
};

/** Register on http, behind r->admin's session (the POST needs the CSRF token):
 *    POST /api/dashboard/project-maps/:id/backfill  body {"dry_run": bool} (optional)
 *      -> 202 {"started": true, "map": NAME, "dry_run": bool}; 404 unknown mapping id or
 *         a mapping not loaded by the engine; 409 while a run is in flight; 503 no sync
 *    GET /api/dashboard/backfill -> acs_backfill_progress_json
 *  r->get is asked on every request, so the routes outlive any one backfill (the
 *  engine's is gone once it closes). r is borrowed. */
void acs_backfill_routes_add(struct acs_http_server *http, struct acs_backfill_routes *r);

/* --- the command ------------------------------------------------------------------------ */

/** Take the database lock: an exclusive flock() on "<db_path>.lock" (created 0600), held
 *  by `serve` and `backfill` for as long as they run (the kernel drops it when the
 *  process dies). Returns the open fd (keep it open), -EWOULDBLOCK when another process
 *  holds it, or -errno, with err set. Blocking-free (LOCK_NB); call before uv_run. */
int acs_backfill_lock_db(const char *db_path, char err[ACS_ERR_LEN]);

/** The `backfill` command: lock the database, build store, clients, syncer and scheduler
 *  on a loop of its own, run one backfill of map with progress on stderr (one line
 *  rewritten with \r on a terminal, a plain line every few seconds otherwise) and a
 *  summary on stdout, then tear down. Blocking. Returns 0, ACS_ENOTFOUND (no such
 *  mapping), -EWOULDBLOCK (a daemon serves the database) or another error, each with
 *  err set. */
int acs_backfill_run_command(const struct acs_config *cfg, const char *map, bool dry_run,
			     char err[ACS_ERR_LEN]);
