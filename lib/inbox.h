/* SPDX-License-Identifier: MIT */
/* The durable inbox: store jobs over the `inbox` table (intake, the scheduler's
 * queue, the error queue for the dashboard) and the ClickUp webhook secrets kept
 * in `meta`. Every function queues one store job; nothing here blocks the loop. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "store.h"

/*
 * JOBS
 *   Each operation is a caller-owned struct: fill in the inputs, submit it with
 *   its acs_inbox_* function, and the store runs the job on its writer (write
 *   jobs) or reader (read jobs) thread. done(rc, err, job) runs on the loop with
 *   the job struct itself as arg, so a caller that embeds the struct recovers
 *   its own context with acs_container_of. The struct and every input it points
 *   to are borrowed until done runs; outputs are valid when rc >= 0. Structs
 *   with heap outputs have a _deinit that frees them (safe on a zeroed or failed
 *   job). A submit function returns what acs_store_write/_read returns: 0 (done
 *   will run exactly once), ACS_ECLOSED, ACS_ETOOBIG or -EINVAL (done never runs).
 *
 * ITEM KEYS
 *   item_key is "ado:<work item id>" or "clickup:<task id>". Once a pair exists
 *   in sync_map both name the same item; the queue reads resolve a ClickUp key
 *   to "ado:<id>" of its twin in SQL, and a claim takes the rows of both keys.
 *
 * STATEMENT CACHE
 *   The intake inserts at a high rate, so it keeps its INSERT prepared on the
 *   writer connection (struct acs_inbox_stmt_cache). The cache is touched only
 *   by write jobs, which all run on the one writer thread, so it needs no lock.
 *   Its statement must be finalized on that thread before the store closes its
 *   connection: acs_inbox_stmt_cache_release() queues that job, and the cache is
 *   freed after its callback. Release it before acs_store_close().
 */

/** inbox.state values. */
enum acs_inbox_state {
	ACS_INBOX_PENDING = 0,
	ACS_INBOX_PROCESSING,
	ACS_INBOX_DONE,
	ACS_INBOX_ERROR,
	ACS_INBOX_IGNORED,
	ACS_INBOX_NSTATES,
};

/** "pending", "processing", ... Never NULL ("?" for an invalid value). */
const char *acs_inbox_state_name(enum acs_inbox_state state);

/** Unix time in milliseconds (wall clock: inbox times survive restarts). */
int64_t acs_inbox_now_ms(void);

/* --- prepared-statement cache of the intake ----------------------------- */

struct acs_inbox_stmt_cache;

/** New empty cache (nothing prepared yet). Loop thread. Never NULL. */
struct acs_inbox_stmt_cache *acs_inbox_stmt_cache_new(void);
/** Queue the write job that finalizes the cached statements; done(rc, err, arg)
 *  then runs on the loop, after which acs_inbox_stmt_cache_free() is safe.
 *  Returns as acs_store_write. When it fails (store closed) the statement is
 *  left to the store's connection close, which then logs a leak. */
int acs_inbox_stmt_cache_release(struct acs_store *st, struct acs_inbox_stmt_cache *c,
				 acs_store_done_cb done, void *arg);
/** Free the cache: after its release job's callback, or when it was never used
 *  by a job. NULL is a no-op. */
void acs_inbox_stmt_cache_free(struct acs_inbox_stmt_cache *c);

/* --- insert (write) ------------------------------------------------------- */

/** Store one received event, unless its event_key is already there. */
struct acs_inbox_insert {
	/* in (borrowed until done) */
	const char *source;	/**< "ado", "clickup" or "sweep" */
	const char *event_key;	/**< idempotency key (UNIQUE) */
	const char *event_type; /**< acs_webhook_type_name() of the event */
	const char *item_key;	/**< "ado:<id>" / "clickup:<task id>" */
	const char *body;	/**< raw JSON as received */
	size_t body_len;
	int64_t received_at;		    /**< Unix ms */
	struct acs_inbox_stmt_cache *cache; /**< may be NULL: prepare per job */
	/* out */
	int64_t id;	/**< the new row's id; 0 for a duplicate */
	bool duplicate; /**< event_key was already stored: nothing written */
};
/** Write job. rc 0 for a new row and for a duplicate (see ->duplicate). */
int acs_inbox_insert(struct acs_store *st, struct acs_inbox_insert *job, acs_store_done_cb done);

/* --- crash recovery (write) ----------------------------------------------- */

struct acs_inbox_recover {
	int64_t reset; /**< out: rows moved from 'processing' back to 'pending' */
};
/** Write job for startup: every 'processing' row (left by a crash or a kill) is
 *  'pending' again, attempts and next_attempt_at unchanged. rc 0. */
int acs_inbox_recover(struct acs_store *st, struct acs_inbox_recover *job, acs_store_done_cb done);

/* --- the scheduler's queue (read) ------------------------------------------ */

/** One item with pending events. */
struct acs_inbox_due_item {
	char *item_key;	  /**< resolved: "ado:<id>" once paired */
	int64_t first_id; /**< oldest pending row */
	int64_t count;	  /**< pending rows */
	int64_t due_at;	  /**< when every pending row of the item is due (max next_attempt_at) */
};

/** Items whose pending rows are all due, oldest first. An item with one row in
 *  backoff waits as a whole: its later events must not overtake it. */
struct acs_inbox_due {
	/* in */
	int64_t now_ms;	  /**< what "due" means */
	size_t max_items; /**< at most this many items are returned (0 = 64) */
	/* out */
	struct acs_inbox_due_item *items; /**< free with acs_inbox_due_deinit */
	size_t n_items;
	int64_t pending_rows; /**< every pending row, due or not */
	int64_t next_due_at;  /**< earliest due_at of the items not yet due; 0 = none */
	bool truncated;	      /**< more items were due than max_items */
};
/** Read job. rc 0. */
int acs_inbox_due(struct acs_store *st, struct acs_inbox_due *job, acs_store_done_cb done);
void acs_inbox_due_deinit(struct acs_inbox_due *job);

/* --- claiming an item's events (write) -------------------------------------- */

/** One inbox row; every string is owned by the struct that returned it. */
struct acs_inbox_row {
	int64_t id;
	char *source;
	char *event_type;
	char *event_key;
	char *item_key; /**< as stored (before pair resolution) */
	char *body;	/**< NULL in error listings */
	size_t body_len;
	int64_t received_at;
	unsigned attempts;
	int64_t next_attempt_at;
	enum acs_inbox_state state;
	char *last_error; /**< NULL when none */
	json_t *json;	  /**< the body parsed by a claim with parse set (NULL otherwise, or
			   *  when it is not JSON); released with the row */
};

/** Read the pending rows of one item (both keys of a pair), oldest first. Their state
 *  does not change: the caller (the scheduler, the inbox's only consumer) keeps the
 *  claim in memory until it writes the outcome. */
struct acs_inbox_claim {
	/* in */
	const char *item_key; /**< as a due read gave it (either key of a pair) */
	size_t max_events;    /**< 0 = no limit */
	size_t max_bytes;     /**< stop adding rows past this much body (>= 1 row); 0 = none */
	/* Optional, on the reader thread in the same transaction when rows were found:
	 * extra_out = extra(db, key, extra_arg) (what the job will read first anyway). */
	void *(*extra)(sqlite3 *db, const char *key, void *arg);
	void *extra_arg;
	bool parse; /**< parse each row's body into row.json on the reader thread */
	/* out */
	char *key;		    /**< resolved key of the item ("ado:<id>" once paired) */
	char *twin;		    /**< the pair's other key, or NULL */
	struct acs_inbox_row *rows; /**< pending rows by id */
	size_t n_rows;
	void *extra_out; /**< extra's result (the caller's to free), or NULL */
	bool truncated;	 /**< a limit stopped the read: the item may have more rows */
};
/** Read job. rc 0 (possibly with no rows: a job of the item took them). */
int acs_inbox_claim(struct acs_store *st, struct acs_inbox_claim *job, acs_store_done_cb done);
void acs_inbox_claim_deinit(struct acs_inbox_claim *job);

/* --- state changes (write) ------------------------------------------------- */

/** Move rows to another state. Rows not in `from` (when set) are left alone. */
struct acs_inbox_mark {
	/* in */
	const int64_t *ids;
	size_t n_ids;
	enum acs_inbox_state to;
	bool only_from;		   /**< restrict to rows currently in from */
	enum acs_inbox_state from; /**< see only_from */
	bool add_attempt;	   /**< attempts = attempts + 1 */
	int64_t next_attempt_at;   /**< Unix ms; < 0 keeps the column */
	const char *last_error;	   /**< NULL keeps the column; "" clears it */
	/* out */
	int64_t changed; /**< rows updated */
};
/** Write job. rc 0. */
int acs_inbox_mark(struct acs_store *st, struct acs_inbox_mark *job, acs_store_done_cb done);
/** The same update as a step of another write job (writer thread, inside its
 *  transaction): an acs_store_fn whose arg is the struct acs_inbox_mark. */
int acs_inbox_mark_run(sqlite3 *db, void *job, char err[ACS_ERR_LEN]);

/* --- counts (read) ---------------------------------------------------------- */

struct acs_inbox_counts {
	int64_t n[ACS_INBOX_NSTATES]; /**< out: rows per state (queue depth = pending) */
};
/** Read job. rc 0. */
int acs_inbox_counts(struct acs_store *st, struct acs_inbox_counts *job, acs_store_done_cb done);

/* --- error queue (dashboard) ------------------------------------------------- */

/** A page of the error queue, newest first, without bodies. */
struct acs_inbox_errors {
	/* in */
	size_t limit; /**< 0 = 50 */
	size_t offset;
	/* out */
	struct acs_inbox_row *rows; /**< free with acs_inbox_errors_deinit */
	size_t n_rows;
	int64_t total; /**< rows in state 'error' */
};
/** Read job. rc 0. */
int acs_inbox_errors(struct acs_store *st, struct acs_inbox_errors *job, acs_store_done_cb done);
void acs_inbox_errors_deinit(struct acs_inbox_errors *job);

/** Retry (back to 'pending', attempts 0, due now) or dismiss (to 'ignored'; the
 *  row and its message stay) error rows. */
struct acs_inbox_error_op {
	int64_t id;	 /**< in: one row, or 0 for every error row */
	int64_t changed; /**< out */
};
/** Write jobs. rc 0, or ACS_ENOTFOUND when id > 0 names no row in 'error'. */
int acs_inbox_error_retry(struct acs_store *st, struct acs_inbox_error_op *job,
			  acs_store_done_cb done);
int acs_inbox_error_dismiss(struct acs_store *st, struct acs_inbox_error_op *job,
			    acs_store_done_cb done);

/** Delete 'done' and 'ignored' rows received before a cutoff (history bound).
 *  Pending, processing and error rows are never deleted. */
struct acs_inbox_prune {
	int64_t before_ms; /**< in: received_at < before_ms */
	int64_t deleted;   /**< out */
};
/** Write job. rc 0. */
int acs_inbox_prune(struct acs_store *st, struct acs_inbox_prune *job, acs_store_done_cb done);

/* --- ClickUp webhook secrets in meta ---------------------------------------- */

/** meta key prefix: the key is the prefix followed by the webhook_id. */
#define ACS_INBOX_SECRET_PREFIX "clickup.webhook_secret."

struct acs_inbox_secret {
	char *webhook_id;
	char *secret;
};

/** Every stored secret. */
struct acs_inbox_secrets {
	struct acs_inbox_secret *v; /**< out: free with acs_inbox_secrets_deinit (zeroes them) */
	size_t n;
};
/** Read job. rc 0. */
int acs_inbox_secrets_load(struct acs_store *st, struct acs_inbox_secrets *job,
			   acs_store_done_cb done);
void acs_inbox_secrets_deinit(struct acs_inbox_secrets *job);

/** Store (or with secret NULL delete) the secret of one webhook. */
struct acs_inbox_secret_save {
	const char *webhook_id; /**< in: non-empty */
	const char *secret;	/**< in: NULL deletes */
};
/** Write job. rc 0, -EINVAL for an empty webhook_id. */
int acs_inbox_secret_save(struct acs_store *st, struct acs_inbox_secret_save *job,
			  acs_store_done_cb done);
