/* SPDX-License-Identifier: MIT */
/* The SQLite store: a writer thread and a reader thread, each with its own connection,
 * run jobs off the libuv loop; completions come back to the loop through a descriptor
 * it polls. Write jobs submitted in one loop turn are committed together (group commit). */
#pragma once

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

/*
 * DESIGN
 *
 * Durability. The database runs in WAL mode with synchronous=FULL: a webhook is
 * acknowledged only after the commit that stored it, so a commit must survive a power
 * cut. foreign_keys=ON and busy_timeout are set on both connections. A batch made only
 * of acs_store_write_lazy jobs commits with synchronous=NORMAL (no fsync; made durable
 * by the next ordinary commit).
 *
 * Threads. The loop thread only queues jobs and runs completion callbacks. The writer
 * thread owns the read-write connection; the reader thread owns a second connection
 * (query_only) so reads never wait behind a write batch (WAL lets readers and one
 * writer proceed together). A job function runs on one of those threads and must
 * touch only the sqlite3 handle it is given and its own argument.
 *
 * Group commit. acs_store_write appends to a loop-side list. A uv_prepare (before the
 * loop blocks for I/O) and a uv_check (after I/O callbacks ran) hand that whole list to
 * the writer in one step, so every write submitted in one loop turn reaches the writer
 * together. The writer takes everything queued so far, at most ACS_STORE_MAX_BATCH jobs,
 * and runs it as one transaction: BEGIN IMMEDIATE, then each job inside its own
 * SAVEPOINT (a failing job is rolled back alone and reports its own error), then one
 * COMMIT (one fsync for the batch). Only after the COMMIT succeeded do the callbacks of
 * the batch run; if it fails, every job of the batch that had succeeded reports the
 * commit error instead. A job that fails with the whole transaction (sqlite rolled it
 * back, e.g. on SQLITE_FULL) fails the jobs before it in that transaction too, and the
 * rest of the batch continues in a new transaction.
 *
 * Ordering. Write callbacks run in submission order. Read jobs run in submission order
 * among themselves; a read sees every write whose callback has run before the read was
 * submitted (and may see later ones).
 *
 * Lifetime. acs_store_open (blocking, at startup) -> submissions -> acs_store_close,
 * which lets every queued job finish and run its callback, stops the threads (each
 * closes its connection; the writer last, so the WAL is checkpointed), closes the uv
 * handles, frees the store and then calls the close callback. While jobs are in flight
 * the store keeps the loop alive; when idle it does not.
 */

/** Most write jobs committed in one transaction; bounds the latency of a batch. */
#define ACS_STORE_MAX_BATCH 512
/** Most jobs (reads + writes) queued or running at once; more answer ACS_ETOOBIG. */
#define ACS_STORE_MAX_PENDING 100000
/** A write batch running longer than this makes acs_store_healthy report a stall. */
#define ACS_STORE_STALL_MS 30000
/** busy_timeout of both connections (another process such as a backup may hold locks). */
#define ACS_STORE_BUSY_TIMEOUT_MS 5000

struct acs_store;

/** A job, run on the writer or reader thread with that thread's connection, inside a
 *  transaction the store manages: it must not BEGIN, COMMIT, ROLLBACK or RELEASE what it
 *  did not start, and must finalize its statements. Returns >= 0 on success (passed to the
 *  done callback as rc) or a negative error code with a message in err (left empty, the
 *  store fills in acs_strerror(rc)). A failing write job is rolled back alone. */
typedef int (*acs_store_fn)(sqlite3 *db, void *arg, char err[ACS_ERR_LEN]);

/** Completion, on the loop thread. rc is the job's result, or a store error
 *  (ACS_ESTORE when the commit failed). err is NULL when rc >= 0, else a message valid
 *  only during the call. arg is the caller's and still owned by the caller. */
typedef void (*acs_store_done_cb)(int rc, const char *err, void *arg);

/** Called by acs_store_close once everything is shut down and the store is freed. */
typedef void (*acs_store_close_cb)(void *arg);

/** Counters for metrics; a consistent snapshot taken under the store's lock. */
struct acs_store_stats {
	uint64_t batches_committed; /**< write transactions committed */
	uint64_t jobs_committed;    /**< write jobs that succeeded and were committed */
	uint64_t jobs_failed;	    /**< write jobs that reported an error (own or commit) */
	uint64_t commit_failures;   /**< transactions whose BEGIN or COMMIT failed */
	uint64_t reads_done;	    /**< read jobs finished, successful or not */
	uint64_t reads_failed;	    /**< read jobs that reported an error */
	uint64_t largest_batch;	    /**< most write jobs taken in one batch */
	uint64_t checkpoints;	    /**< WAL checkpoints run by the reader thread (the writer
				     *  never checkpoints: it would stall commits) */
	uint64_t wal_truncations;   /**< idle TRUNCATE checkpoints of a grown WAL (store.c) */
	uint64_t last_batch;	    /**< write jobs in the latest batch */
	uint64_t pending;	    /**< jobs submitted whose callback has not run yet */
};

/** Open (creating it with mode 0600, as are its -wal and -shm files; an existing file
 *  readable by others is tightened to 0600) the database at path, set the pragmas, run
 *  the schema migrations and start both threads. Blocking: call before uv_run. loop is
 *  borrowed until the close callback. On success *out owns the store (release it with
 *  acs_store_close). Returns 0, ACS_ESTORE (sqlite, schema or version error), -errno
 *  (file creation) or a UV_E* code (thread or handle setup), with err set. */
int acs_store_open(uv_loop_t *loop, const char *path, struct acs_store **out,
		   char err[ACS_ERR_LEN]);

/** Queue a write job; fn runs on the writer thread inside the next batch, done (may be
 *  NULL) on the loop thread after the batch committed. arg is borrowed until done runs.
 *  Loop thread only. Returns 0 (done will be called exactly once), ACS_ECLOSED after
 *  acs_store_close, ACS_ETOOBIG past ACS_STORE_MAX_PENDING or -EINVAL when fn is NULL
 *  (in those cases done is never called). */
int acs_store_write(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg);

/** As acs_store_write, for a job whose effect may be lost in a power cut (the daemon
 *  recovers without it, e.g. the scheduler's claim: rows left 'processing' are
 *  pending again after a restart anyway). A batch of only such jobs commits without
 *  an fsync (synchronous = NORMAL); it is still atomic, ordered with the other writes,
 *  and made durable by the next ordinary commit. A batch holding any ordinary job is
 *  fsynced as usual. Same ownership and return codes as acs_store_write. */
int acs_store_write_lazy(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg);

/** Queue a read job: fn runs on the reader thread in its own read transaction (one
 *  snapshot; the connection is query_only, so writes fail), done on the loop thread.
 *  Same ownership and return codes as acs_store_write. */
int acs_store_read(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg);

/** Jobs submitted whose callback has not run yet. Loop thread only. */
size_t acs_store_pending(const struct acs_store *st);

/** For GET /api/ready: false (with a reason in reason) when the store is closing, the
 *  last write transaction failed to begin or commit, the last read transaction failed
 *  to begin, or a write batch has been running for more than ACS_STORE_STALL_MS.
 *  Never blocks. Loop thread only. */
bool acs_store_healthy(const struct acs_store *st, char reason[ACS_ERR_LEN]);

/** Snapshot of the counters into *out. Loop thread only. */
void acs_store_stats(const struct acs_store *st, struct acs_store_stats *out);

/** Shut down: every job already submitted still runs and its callback is called, then
 *  the threads stop, the connections and uv handles are closed, st is freed and cb (may
 *  be NULL) is called from the loop. Submissions after this call answer ACS_ECLOSED.
 *  Safe to call from a done callback. Idempotent until cb has run: later calls do
 *  nothing and their cb is never called. NULL st is a no-op. Loop thread only. */
void acs_store_close(struct acs_store *st, acs_store_close_cb cb, void *arg);

/** Consistent online copy of the database at db_path into out_path (for the `backup`
 *  command while the daemon runs): sqlite3_backup into a temporary file in the same
 *  directory (mode 0600), quick_check, fsync, then rename over out_path. The copy is in
 *  rollback-journal mode, one self-contained file. Blocking; not for the loop thread.
 *  Returns 0, ACS_ESTORE (sqlite error) or -errno, with err set. */
int acs_store_backup(const char *db_path, const char *out_path, char err[ACS_ERR_LEN]);

/** For job functions: write "what: sqlite message" into err and map the sqlite result
 *  code: a UNIQUE or PRIMARY KEY violation gives ACS_ECONFLICT, anything else
 *  ACS_ESTORE. */
int acs_store_error(sqlite3 *db, int sqlite_rc, const char *what, char err[ACS_ERR_LEN]);

/** For job functions: a prepared statement of sql (the same text each time, e.g. a
 *  literal) cached on the job's connection, so a statement run by every job is parsed
 *  once per connection. The statement is the connection's: reset it (sqlite3_reset)
 *  before the job returns and never finalize it; bindings are cleared here. A
 *  statement still in use (not reset) is not handed out again. Returns 0 or
 *  acs_store_error() with *out NULL. */
int acs_store_cached(sqlite3 *db, const char *sql, sqlite3_stmt **out, char err[ACS_ERR_LEN]);

/** For job functions: sqlite3_exec(sql) with no result rows. Returns 0 or
 *  acs_store_error(). */
int acs_store_exec(sqlite3 *db, const char *sql, char err[ACS_ERR_LEN]);
/** As acs_store_exec for one statement without bindings run often (savepoints inside
 *  a job), prepared once per connection (acs_store_cached). */
int acs_store_exec_cached(sqlite3 *db, const char *sql, char err[ACS_ERR_LEN]);
