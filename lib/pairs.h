/* SPDX-License-Identifier: MIT */
/* Store jobs of the sync engine: pairs (sync_map), mappings (project_map), create
 * intents (intent) and the history (sync_log). Each call queues one job on the store
 * and answers on the loop with plain value types the callback owns. */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

struct acs_store;
struct acs_config_map;

/*
 * OWNERSHIP
 *   Inputs are copied before the call returns. A struct handed to a callback belongs to
 *   the callback: free it with its acs_*_free (NULL-safe). err in callbacks is valid
 *   during the call only. Every call returns 0 (cb runs exactly once, on the loop) or
 *   the store's submission error (ACS_ECLOSED, ACS_ETOOBIG, -EINVAL: cb never runs).
 *
 * ATOMICITY
 *   acs_pairs_insert writes the pair and closes its intent in one job, so one commit:
 *   after a crash either both happened or neither did.
 */

/** One sync_map row. */
struct acs_pair {
	int64_t id;	/**< 0 before insert */
	int64_t map_id; /**< project_map.id */
	int64_t ado_id;
	char *clickup_id;
	int64_t ado_rev;	   /**< last ADO revision synced (our own writes included) */
	int64_t clickup_rev;	   /**< task date_updated (ms) of our last write or read */
	char *ado_fingerprint;	   /**< free use by the engine (NULL = none) */
	char *clickup_fingerprint; /**< free use by the engine (NULL = none) */
	char *base;		   /**< JSON text (see syncer.h BASE) */
	char *state;		   /**< "active" | "ended" */
	int64_t created_at;
	int64_t updated_at;
	/* As read with the row (false in a pair made by this process): the pair has
	 * comment_map rows or open comment intents / attachment_map rows, so a run whose
	 * events name no comment or file knows without another look-up that there is
	 * nothing of that kind to check. */
	bool has_comments;
	bool has_attachments;
};

void acs_pair_free(struct acs_pair *p);
/** Deep copy (never NULL). */
struct acs_pair *acs_pair_dup(const struct acs_pair *p);

/** One intent row. */
struct acs_intent {
	int64_t id;
	int64_t map_id; /**< 0 when none */
	char *source;	/**< "ado" | "clickup" */
	char *source_id;
	char *state;   /**< "open" | "done" | "abandoned" */
	char *twin_id; /**< NULL until the twin is known */
	int64_t created_at;
	int64_t updated_at;
};

void acs_intent_free(struct acs_intent *in);

/** One sync_log row (for writing, strings are borrowed; for reading, owned). */
struct acs_sync_log_row {
	int64_t id;		/**< 0 when writing */
	int64_t ts;		/**< Unix ms; 0 when writing = now */
	int64_t map_id;		/**< 0 = NULL */
	int64_t sync_id;	/**< 0 = NULL */
	int64_t ado_id;		/**< 0 = NULL */
	const char *clickup_id; /**< NULL = NULL */
	const char *direction;	/**< "ado_to_clickup" | "clickup_to_ado" | "none" (NULL) */
	const char *action;	/**< "created", "updated", "echo", "conflict", "error", ... */
	const char *status;	/**< "ok" | "error" | "skipped" | "retry" */
	const char *fields;	/**< JSON array text or NULL */
	const char *message;	/**< NULL = none */
};

/** A page of sync_log rows, newest first; strings are owned by the page. */
struct acs_sync_log_page {
	struct acs_sync_log_row *rows;
	size_t n;
	int64_t total; /**< rows matching the filters */
};

void acs_sync_log_page_free(struct acs_sync_log_page *p);

/** Filters of acs_pairs_log_list (everything borrowed during the call). */
struct acs_sync_log_query {
	unsigned page;		/**< 0-based */
	unsigned limit;		/**< rows per page (0 = 50, at most 500) */
	const char *status;	/**< NULL = any */
	const char *action;	/**< NULL = any */
	const char *q;		/**< substring of message / clickup_id / ado_id; NULL = any */
	int64_t ado_id;		/**< 0 = any */
	const char *clickup_id; /**< NULL = any */
};

typedef void (*acs_pairs_done_cb)(int rc, const char *err, void *arg);
/** pair is NULL when none was found (rc 0). */
typedef void (*acs_pairs_pair_cb)(int rc, const char *err, struct acs_pair *pair, void *arg);
/** intent is NULL when none was found (rc 0). */
typedef void (*acs_pairs_intent_cb)(int rc, const char *err, struct acs_intent *in, void *arg);
typedef void (*acs_pairs_id_cb)(int rc, const char *err, int64_t id, void *arg);
typedef void (*acs_pairs_log_page_cb)(int rc, const char *err, struct acs_sync_log_page *page,
				      void *arg);

/** Wall-clock Unix ms. */
int64_t acs_pairs_now_ms(void);

/** Active or ended pair by ADO id / ClickUp id (read job). */
int acs_pairs_find_by_ado(struct acs_store *st, int64_t ado_id, acs_pairs_pair_cb cb, void *arg);
int acs_pairs_find_by_clickup(struct acs_store *st, const char *clickup_id, acs_pairs_pair_cb cb,
			      void *arg);

/** Insert p (its id is ignored) and, when intent_id > 0, mark that intent 'done' with
 *  twin_id (the side that was created) in the same job. The callback gets the stored
 *  pair (with its id). ACS_ECONFLICT when either id is already paired. */
int acs_pairs_insert(struct acs_store *st, const struct acs_pair *p, int64_t intent_id,
		     const char *twin_id, acs_pairs_pair_cb cb, void *arg);
/** Update revs, fingerprints and base of pair p->id (write job). ACS_ENOTFOUND when the
 *  row is gone. */
int acs_pairs_update(struct acs_store *st, const struct acs_pair *p, acs_pairs_done_cb cb,
		     void *arg);
/** As acs_pairs_update, but the commit is not fsynced (acs_store_write_lazy): for a
 *  caller whose work ends with an ordinary write that makes it durable (the syncer's
 *  run ends with the scheduler's outcome write; a power cut before that re-runs the
 *  job, as a crash between the twin write and this update would). */
int acs_pairs_update_lazy(struct acs_store *st, const struct acs_pair *p, acs_pairs_done_cb cb,
			  void *arg);

/** Set the state of pair pair_id ("active" or "ended") and, when base is not NULL, its
 *  base in the same write (a pair ends with the base of what was last written).
 *  ACS_ENOTFOUND when the row is gone; -EINVAL for another state. cb may be NULL. */
int acs_pairs_set_state(struct acs_store *st, int64_t pair_id, const char *state, const char *base,
			acs_pairs_done_cb cb, void *arg);
/** Delete pair pair_id (its comment_map and attachment_map rows go with it; sync_log
 *  rows keep their ids but lose the link). ACS_ENOTFOUND when the row is gone. */
int acs_pairs_delete(struct acs_store *st, int64_t pair_id, acs_pairs_done_cb cb, void *arg);

/** Open an intent to create the twin of source:source_id. ACS_ECONFLICT (with a message)
 *  when that item is already paired or has an open intent. */
int acs_pairs_intent_open(struct acs_store *st, int64_t map_id, const char *source,
			  const char *source_id, acs_pairs_intent_cb cb, void *arg);
/** The open intent of source:source_id, or NULL (read job). */
int acs_pairs_intent_find(struct acs_store *st, const char *source, const char *source_id,
			  acs_pairs_intent_cb cb, void *arg);
/** Remember the twin id of an open intent as soon as the remote create answered. */
int acs_pairs_intent_set_twin(struct acs_store *st, int64_t intent_id, const char *twin_id,
			      acs_pairs_done_cb cb, void *arg);
/** Close an intent: state "done" or "abandoned". */
int acs_pairs_intent_close(struct acs_store *st, int64_t intent_id, const char *state,
			   acs_pairs_done_cb cb, void *arg);

/** Insert or update the project_map row named m->name with source 'file' (the INI file
 *  owns it). The callback gets its id. */
int acs_pairs_map_upsert(struct acs_store *st, const struct acs_config_map *m, acs_pairs_id_cb cb,
			 void *arg);

/** Append a sync_log row (write job). cb may be NULL. */
int acs_pairs_log(struct acs_store *st, const struct acs_sync_log_row *row, acs_pairs_done_cb cb,
		  void *arg);
/** As acs_pairs_log, not fsynced (see acs_pairs_update_lazy). */
int acs_pairs_log_lazy(struct acs_store *st, const struct acs_sync_log_row *row,
		       acs_pairs_done_cb cb, void *arg);
/* BATCHES
 *   The pair update and the sync_log rows of a sync, gathered on the loop and written
 *   by another module's write job (the scheduler writes them with the job's outcome,
 *   in one transaction: see acs_job_finish_with). */
struct acs_pairs_batch;

struct acs_pairs_batch *acs_pairs_batch_new(void);
/** Queue an update of p (copied), as acs_pairs_update_lazy writes it. -EINVAL without an id. */
int acs_pairs_batch_update(struct acs_pairs_batch *b, const struct acs_pair *p);
/** Queue a sync_log row (copied). -EINVAL without an action or status. */
int acs_pairs_batch_log(struct acs_pairs_batch *b, const struct acs_sync_log_row *row);
/** Writes queued so far. */
size_t acs_pairs_batch_size(const struct acs_pairs_batch *b);
/** An acs_store_fn (writer thread, inside the caller's transaction): every queued
 *  write in order, all or nothing. On failure none stays, a "retry" sync_log row
 *  with the ids of the batch's first row says why, and the error is returned with
 *  err ("save pair: ..." or "sync_log: ..."). */
int acs_pairs_batch_run(sqlite3 *db, void *batch, char err[ACS_ERR_LEN]);
/** Free a batch (arg: struct acs_pairs_batch *; NULL is a no-op). */
void acs_pairs_batch_free(void *batch);

/** The pair of an item looked up inside another read (the scheduler's claim, see
 *  acs_scheduler_opts.prefetch): what acs_pairs_find_by_* would have answered. */
struct acs_pairs_found {
	int rc; /**< 0, or the store's error (err says why) */
	char err[ACS_ERR_LEN];
	struct acs_pair *pair; /**< NULL when the item has no pair */
};
/** A prefetch hook: item_key "ado:<id>" or "clickup:<task id>" -> a struct
 *  acs_pairs_found (free with acs_pairs_found_free), NULL for another key. */
void *acs_pairs_prefetch(sqlite3 *db, const char *item_key, void *arg);
void acs_pairs_found_free(void *found);

/** A page of the history, newest first (read job). */
int acs_pairs_log_list(struct acs_store *st, const struct acs_sync_log_query *q,
		       acs_pairs_log_page_cb cb, void *arg);
