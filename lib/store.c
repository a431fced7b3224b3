/* SPDX-License-Identifier: MIT */
/* The SQLite store: job queues, the writer and reader threads, group commit and the
 * wake-up that brings completions back to the loop (lifecycle in store.h). */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "err.h"
#include "log.h"
#include "mem.h"
#include "store_schema.h"

#define MOD "store"

/* WAL size (pages) past which the reader thread runs a passive checkpoint. The
 * writer's own automatic checkpoint is off: it ran inside a COMMIT and, with
 * synchronous=FULL, held the writer (and every webhook waiting for its 200) for
 * tens of milliseconds while it copied pages and fsynced the database file. A
 * passive checkpoint on another connection never blocks the writer, but its fsync of
 * the database file holds the disk while the writer's commits wait for their own.
 * Smaller checkpoints shorten that wait and cost throughput (on the 2-core VM: 250
 * frames gave the intake a p99 near 5 ms at 5,000 deliveries/s but ~18k instead of
 * ~21-24k deliveries/s at most; test/bench/README.md). */
#ifndef CHECKPOINT_FRAMES
#define CHECKPOINT_FRAMES 1000
#endif

/* WAL size (pages) past which every commit asks for a checkpoint (see wal_hook). */
#define WAL_FRAMES_CAP (8 * CHECKPOINT_FRAMES)

/*
 * WAL TRIM
 *   A burst must not leave a huge -wal file behind forever, but sqlite's own bound
 *   (journal_size_limit) truncates the file in the commit that restarts the WAL: an
 *   ftruncate of tens of MB on the writer thread, 67 ms and more on the VM's disk,
 *   with every webhook waiting for its 200 behind it (the 100-160 ms outliers of the
 *   intake bench at 5,000 req/s, sessions 2-5). Commits now never truncate (and reuse
 *   the file's blocks, which is cheaper than allocating them); once the WAL has grown
 *   past WAL_TRIM_BYTES, the reader thread truncates it with a TRUNCATE checkpoint
 *   when no write has come for WAL_TRIM_IDLE_MS.
 */
#ifdef ACS_UNIT_TEST
#define WAL_TRIM_BYTES (1 << 20)
#define WAL_TRIM_IDLE_MS 50
#else
#define WAL_TRIM_BYTES (64 << 20)
#define WAL_TRIM_IDLE_MS 1000
#endif

/*
 * GLOSSARY
 *   submit  loop-side list of write jobs of the current loop turn (no lock needed)
 *   wq, rq  writer and reader queues (under mu)
 *   done    finished jobs of both threads waiting for their callback (under mu)
 * A job is on exactly one of these lists at a time, or in the writer's batch array.
 */
struct job {
	struct job *next; /**< link in submit, wq, rq or done */
	acs_store_fn fn;
	acs_store_done_cb done;
	void *arg;
	bool lazy;	       /**< acs_store_write_lazy: its commit need not be fsynced */
	int rc;		       /**< fn's result, or the store's error */
	char err[ACS_ERR_LEN]; /**< message when rc < 0 */
};

struct job_list {
	struct job *head;
	struct job *tail;
	size_t n;
};

struct acs_store {
	uv_loop_t *loop; /**< borrowed */
	char *path;

	/* Loop thread only. */
	uv_poll_t wake;		/**< workers -> loop: jobs done, thread exited (see WAKE) */
	int wake_fd[2];		/**< read end, write end (one eventfd on Linux) */
	uv_prepare_t prepare;	/**< hands this turn's writes over before the loop blocks */
	uv_check_t check;	/**< ... and after the I/O callbacks of the turn */
	struct job_list submit; /**< writes of this loop turn */
	size_t pending;		/**< submitted, callback not yet run */
	int open_handles;	/**< handles not yet closed; st is freed at 0 */
	bool wake_ref;		/**< the wake handle keeps the loop alive */
	bool closing;		/**< acs_store_close was called */
	bool finishing;		/**< threads joined, handles closing */
	acs_store_close_cb close_cb;
	void *close_arg;

	/* Shared between the threads, under mu. */
	uv_mutex_t mu;
	uv_cond_t wcond; /**< writer: work, stop, reader exited */
	uv_cond_t rcond; /**< reader: work, stop */
	struct job_list wq;
	struct job_list rq;
	struct job_list done;
	bool wake_sent;		 /**< a wake-up is written or about to be, not yet taken */
	bool stop;		 /**< drain the queues, then exit */
	bool checkpoint_wanted;	 /**< the WAL grew CHECKPOINT_FRAMES: the reader checkpoints */
	bool wal_big;		 /**< the -wal file passed WAL_TRIM_BYTES (WAL TRIM) */
	int frame_bytes;	 /**< page size + frame header */
	uint64_t last_write_end; /**< uv_hrtime() when the last batch ended */
	int checkpointed;	 /**< WAL frames the last checkpoint copied (reset with the WAL) */
	bool writer_exited;
	bool reader_exited;
	uint64_t batch_started; /**< uv_hrtime() when the running batch began, 0 if idle */
	int last_commit_rc;	/**< 0, or the error of the last BEGIN/COMMIT */
	char last_commit_err[ACS_ERR_LEN];
	int last_read_rc; /**< 0, or the error of the last read BEGIN/COMMIT */
	char last_read_err[ACS_ERR_LEN];
	struct acs_store_stats stats; /**< pending is filled in by the getter */

	/* Owned by one thread each after acs_store_open. */
	sqlite3 *wdb; /**< writer connection */
	sqlite3 *rdb; /**< reader connection (query_only) */
	uv_thread_t writer;
	uv_thread_t reader;
	bool writer_started;
	bool reader_started;
	bool wdb_lazy; /**< writer thread: wdb runs with synchronous = NORMAL now */
	struct job *batch[ACS_STORE_MAX_BATCH]; /**< writer thread: the running batch */
};

/* ---- lists ---- */

static void list_push(struct job_list *l, struct job *j)
{
	j->next = NULL;
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
	l->n++;
}

static struct job *list_pop(struct job_list *l)
{
	struct job *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
		l->n--;
		j->next = NULL;
	}
	return j;
}

/* Move every job of src to the end of dst; src becomes empty. */
static void list_splice(struct job_list *dst, struct job_list *src)
{
	if (!src->head)
		return;
	if (dst->tail)
		dst->tail->next = src->head;
	else
		dst->head = src->head;
	dst->tail = src->tail;
	dst->n += src->n;
	*src = (struct job_list){ 0 };
}

/* ---- sqlite helpers ---- */

int acs_store_error(sqlite3 *db, int sqlite_rc, const char *what, char err[ACS_ERR_LEN])
{
	const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(sqlite_rc);
	int ext = db ? sqlite3_extended_errcode(db) : sqlite_rc;
	if (what)
		snprintf(err, ACS_ERR_LEN, "%s: %s", what, msg);
	else
		snprintf(err, ACS_ERR_LEN, "%s", msg);
	if ((sqlite_rc & 0xff) == SQLITE_CONSTRAINT &&
	    (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY ||
	     sqlite_rc == SQLITE_CONSTRAINT_UNIQUE || sqlite_rc == SQLITE_CONSTRAINT_PRIMARYKEY))
		return ACS_ECONFLICT;
	return ACS_ESTORE;
}

int acs_store_exec(sqlite3 *db, const char *sql, char err[ACS_ERR_LEN])
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : acs_store_error(db, rc, NULL, err);
}

/* Cached statements carry this comment first: the connection's list of statements
 * (sqlite3_next_stmt) is the cache, and closing finalizes exactly these. */
#define CACHED_TAG "/* acs_store_cached */ "

static bool is_cached(sqlite3_stmt *s)
{
	const char *t = sqlite3_sql(s);
	return t && !strncmp(t, CACHED_TAG, sizeof(CACHED_TAG) - 1);
}

int acs_store_cached(sqlite3 *db, const char *sql, sqlite3_stmt **out, char err[ACS_ERR_LEN])
{
	const size_t tag = sizeof(CACHED_TAG) - 1;
	for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
		const char *t = sqlite3_sql(s);
		if (t && !strncmp(t, CACHED_TAG, tag) && !strcmp(t + tag, sql) &&
		    !sqlite3_stmt_busy(s)) {
			sqlite3_clear_bindings(s);
			*out = s;
			return 0;
		}
	}
	char *full = acs_xasprintf("%s%s", CACHED_TAG, sql);
	int rc = sqlite3_prepare_v3(db, full, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
	free(full);
	if (rc != SQLITE_OK) {
		*out = NULL;
		return acs_store_error(db, rc, "prepare", err);
	}
	return 0;
}

static int exec_cached(sqlite3 *db, const char *sql);

int acs_store_exec_cached(sqlite3 *db, const char *sql, char err[ACS_ERR_LEN])
{
	int rc = exec_cached(db, sql);
	return rc == SQLITE_OK ? 0 : acs_store_error(db, rc, sql, err);
}

/* Before sqlite3_close: the cache goes, a job's leaked statement stays (reported). */
static void drop_cached(sqlite3 *db)
{
	sqlite3_stmt *s = sqlite3_next_stmt(db, NULL);
	while (s) {
		sqlite3_stmt *next = sqlite3_next_stmt(db, s);
		if (is_cached(s))
			sqlite3_finalize(s);
		s = next;
	}
}

/* Statements the store itself runs between jobs; their failure is the store's. The
 * ones run around every job are cached (no parse per job). */
static int exec_quiet(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

static int exec_cached(sqlite3 *db, const char *sql)
{
	char err[ACS_ERR_LEN];
	sqlite3_stmt *s = NULL;
	if (acs_store_cached(db, sql, &s, err))
		return exec_quiet(db, sql); /* the same error, with its message */
	int rc = sqlite3_step(s);
	int rrc = sqlite3_reset(s);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rrc != SQLITE_OK ? rrc : rc;
}

static void fail_job(struct job *j, int rc, const char *msg)
{
	j->rc = rc;
	snprintf(j->err, sizeof(j->err), "%s", msg);
}

/* A failing job with no message gets the generic text of its code. */
static void fill_err(struct job *j)
{
	if (j->rc < 0 && !j->err[0])
		snprintf(j->err, sizeof(j->err), "%s", acs_strerror(j->rc));
}

/* ---- writer thread ---- */

struct batch_result {
	uint64_t commits;
	uint64_t commit_failures;
	int commit_rc; /**< 0, or the last BEGIN/COMMIT error of the batch */
	char commit_err[ACS_ERR_LEN];
};

static void txn_failed(struct batch_result *res, const char *msg)
{
	res->commit_failures++;
	res->commit_rc = ACS_ESTORE;
	snprintf(res->commit_err, sizeof(res->commit_err), "%s", msg);
}

/* Run one job inside SAVEPOINT acs_job. On return the job's own changes are either
 * released into the transaction (rc >= 0) or rolled back (rc < 0), unless the
 * transaction itself ended, which the caller detects with sqlite3_get_autocommit. */
static void run_write_job(sqlite3 *db, struct job *j)
{
	int rc = exec_cached(db, "SAVEPOINT acs_job");
	if (rc != SQLITE_OK) {
		j->rc = acs_store_error(db, rc, "cannot start the job's savepoint", j->err);
		return;
	}
	j->err[0] = '\0';
	j->rc = j->fn(db, j->arg, j->err);
	if (sqlite3_get_autocommit(db))
		return;
	if (j->rc >= 0) {
		rc = exec_cached(db, "RELEASE acs_job");
		if (rc == SQLITE_OK)
			return;
		j->rc = acs_store_error(db, rc, "cannot release the job's savepoint", j->err);
	}
	fill_err(j);
	if (exec_quiet(db, "ROLLBACK TO acs_job") != SQLITE_OK ||
	    exec_quiet(db, "RELEASE acs_job") != SQLITE_OK) {
		/* Cannot undo this job alone: give up the whole transaction. */
		(void)exec_quiet(db, "ROLLBACK");
	}
}

/* Commit jobs first..n-1 of the batch (one transaction). */
static void commit_txn(struct acs_store *st, size_t first, size_t n, struct batch_result *res)
{
	sqlite3 *db = st->wdb;
	char msg[ACS_ERR_LEN];
	int rc = exec_cached(db, "COMMIT");
	if (rc == SQLITE_OK) {
		res->commits++;
		res->commit_rc = 0;
		return;
	}
	(void)acs_store_error(db, rc, "commit failed", msg);
	/* A failed COMMIT (e.g. a deferred foreign key) leaves the transaction open. */
	if (!sqlite3_get_autocommit(db))
		(void)exec_quiet(db, "ROLLBACK");
	for (size_t k = first; k < n; k++) {
		if (st->batch[k]->rc >= 0)
			fail_job(st->batch[k], ACS_ESTORE, msg);
	}
	txn_failed(res, msg);
	acs_log(ACS_LOG_ERR, MOD, "%s (%zu jobs rolled back)", msg, n - first);
}

static void run_batch(struct acs_store *st, size_t n, struct batch_result *res)
{
	sqlite3 *db = st->wdb;
	char msg[ACS_ERR_LEN];
	size_t first = 0; /* first job of the open transaction */
	bool in_txn = false;

	for (size_t i = 0; i < n; i++) {
		struct job *j = st->batch[i];
		if (!in_txn) {
			int rc = exec_cached(db, "BEGIN IMMEDIATE");
			if (rc != SQLITE_OK) {
				(void)acs_store_error(db, rc, "cannot begin a write transaction",
						      msg);
				for (size_t k = i; k < n; k++)
					fail_job(st->batch[k], ACS_ESTORE, msg);
				txn_failed(res, msg);
				acs_log(ACS_LOG_ERR, MOD, "%s", msg);
				return;
			}
			in_txn = true;
			first = i;
		}
		run_write_job(db, j);
		if (sqlite3_get_autocommit(db)) {
			/* The transaction ended inside the job (sqlite rolled it back after
			 * an I/O or full-disk error, or the job ended it against the rules):
			 * nothing of it is committed. */
			snprintf(msg, sizeof(msg),
				 "transaction aborted by job %zu of the batch: %.180s", i - first,
				 j->rc < 0 ? j->err : "job ended the store's transaction");
			for (size_t k = first; k <= i; k++) {
				if (st->batch[k]->rc >= 0 || k == i)
					fail_job(st->batch[k], ACS_ESTORE, msg);
			}
			txn_failed(res, msg);
			acs_log(ACS_LOG_ERR, MOD, "%s", msg);
			in_txn = false;
		}
	}
	if (in_txn)
		commit_txn(st, first, n, res);
}

/* A batch of lazy jobs only commits with synchronous = NORMAL: no fsync, yet atomic
 * and in order (WAL). The next durable commit fsyncs the WAL and with it every lazy
 * commit before it; a power cut may lose only lazy commits after the last durable
 * one. A pragma that fails leaves the connection as it was, which is only slower
 * (FULL) or was already lazy. */
static void set_durability(struct acs_store *st, size_t n)
{
	bool lazy = true;
	for (size_t i = 0; i < n && lazy; i++)
		lazy = st->batch[i]->lazy;
	if (lazy == st->wdb_lazy)
		return;
	if (exec_quiet(st->wdb, lazy ? "PRAGMA synchronous = NORMAL"
				     : "PRAGMA synchronous = FULL") == SQLITE_OK)
		st->wdb_lazy = lazy;
	else
		acs_log(ACS_LOG_WARN, MOD, "cannot set synchronous: %s", sqlite3_errmsg(st->wdb));
}

/*
 * WAKE
 *   The threads wake the loop through a file descriptor of their own, not a
 *   uv_async: when the loop reads an async handle whose send is half done (another
 *   thread between its flag and its write), libuv spins and then sched_yield()s
 *   until that thread runs again. With four busy threads on two cores the sender is
 *   often preempted there: 130 yields, 66 ms of the loop's time, in one burst.
 *   Here a thread writes only when no wake-up is outstanding (wake_sent, under mu),
 *   and the loop clears the flag as it takes the done list, so a job is never left
 *   without a wake-up and a burst of completions costs one write.
 */

/* Under mu, after pushing to done (or setting an exit flag): must the caller write? */
static bool wake_needed(struct acs_store *st)
{
	bool need = !st->wake_sent;
	st->wake_sent = true;
	return need;
}

static void wake_write(struct acs_store *st)
{
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(st->wake_fd[1], &one, st->wake_fd[0] == st->wake_fd[1] ? sizeof(one) : 1);
	while (n < 0 && errno == EINTR);
	/* EAGAIN: a full pipe or counter is a wake-up already waiting. */
	acs_require(n > 0 || errno == EAGAIN);
}

/* Lock-free callers (exit paths) decide under mu themselves. */
static void notify_loop(struct acs_store *st)
{
	uv_mutex_lock(&st->mu);
	bool need = wake_needed(st);
	uv_mutex_unlock(&st->mu);
	if (need)
		wake_write(st);
}

static void wake_drain(struct acs_store *st)
{
	char buf[64];
	ssize_t n;
	do
		n = read(st->wake_fd[0], buf, sizeof(buf));
	while (n > 0 ? st->wake_fd[0] != st->wake_fd[1] : n < 0 && errno == EINTR);
}

static int wake_open(struct acs_store *st)
{
#ifdef __linux__
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return -errno;
	st->wake_fd[0] = st->wake_fd[1] = fd;
	return 0;
#else
	int fds[2];
	if (pipe(fds))
		return -errno;
	for (int i = 0; i < 2; i++) {
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) ||
		    fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK)) {
			int e = -errno;
			close(fds[0]);
			close(fds[1]);
			return e;
		}
	}
	st->wake_fd[0] = fds[0];
	st->wake_fd[1] = fds[1];
	return 0;
#endif
}

static void wake_close_fds(struct acs_store *st)
{
	if (st->wake_fd[0] >= 0)
		close(st->wake_fd[0]);
	if (st->wake_fd[1] >= 0 && st->wake_fd[1] != st->wake_fd[0])
		close(st->wake_fd[1]);
	st->wake_fd[0] = st->wake_fd[1] = -1;
}

static void writer_main(void *arg)
{
	struct acs_store *st = arg;
	pthread_setname_np(pthread_self(), "acs-store-w");

	for (;;) {
		uv_mutex_lock(&st->mu);
		while (!st->wq.n && !st->stop)
			uv_cond_wait(&st->wcond, &st->mu);
		if (!st->wq.n) {
			uv_mutex_unlock(&st->mu);
			break;
		}
		size_t n = 0;
		while (n < ACS_STORE_MAX_BATCH && st->wq.n)
			st->batch[n++] = list_pop(&st->wq);
		st->batch_started = uv_hrtime() | 1;
		st->stats.last_batch = n;
		if (n > st->stats.largest_batch)
			st->stats.largest_batch = n;
		uv_mutex_unlock(&st->mu);

		struct batch_result res = { .commit_rc = 1 /* no BEGIN/COMMIT yet */ };
		set_durability(st, n);
		run_batch(st, n, &res);

		uv_mutex_lock(&st->mu);
		st->batch_started = 0;
		st->last_write_end = uv_hrtime();
		st->stats.batches_committed += res.commits;
		st->stats.commit_failures += res.commit_failures;
		if (res.commit_rc <= 0) {
			st->last_commit_rc = res.commit_rc;
			snprintf(st->last_commit_err, sizeof(st->last_commit_err), "%s",
				 res.commit_err);
		}
		for (size_t i = 0; i < n; i++) {
			struct job *j = st->batch[i];
			if (j->rc >= 0)
				st->stats.jobs_committed++;
			else
				st->stats.jobs_failed++;
			list_push(&st->done, j);
			st->batch[i] = NULL;
		}
		bool wake = wake_needed(st);
		uv_mutex_unlock(&st->mu);
		if (wake)
			wake_write(st);
	}

	/* Close after the reader so ours is the last connection: sqlite then checkpoints
	 * the WAL into the database and removes it. */
	uv_mutex_lock(&st->mu);
	while (!st->reader_exited)
		uv_cond_wait(&st->wcond, &st->mu);
	uv_mutex_unlock(&st->mu);
	drop_cached(st->wdb);
	if (sqlite3_close(st->wdb) != SQLITE_OK) {
		acs_log(ACS_LOG_ERR, MOD,
			"closing the writer connection: %s (a job leaked a statement)",
			sqlite3_errmsg(st->wdb));
		(void)sqlite3_close_v2(st->wdb);
	}
	st->wdb = NULL;
	uv_mutex_lock(&st->mu);
	st->writer_exited = true;
	uv_mutex_unlock(&st->mu);
	/* st stays valid: the loop joins this thread before it closes the wake handle. */
	notify_loop(st);
}

/* ---- reader thread ---- */

/* Returns 0, or the error of the store's own BEGIN/COMMIT (which says the database
 * itself is unreachable, as opposed to a job's failure). */
static int run_read_job(sqlite3 *db, struct job *j)
{
	int rc = exec_cached(db, "BEGIN");
	if (rc != SQLITE_OK) {
		j->rc = acs_store_error(db, rc, "cannot begin a read transaction", j->err);
		return j->rc;
	}
	j->err[0] = '\0';
	j->rc = j->fn(db, j->arg, j->err);
	fill_err(j);
	if (!sqlite3_get_autocommit(db)) {
		rc = exec_cached(db, j->rc < 0 ? "ROLLBACK" : "COMMIT");
		if (rc != SQLITE_OK) {
			char msg[ACS_ERR_LEN];
			int code = acs_store_error(db, rc, "cannot end the read transaction", msg);
			(void)exec_quiet(db, "ROLLBACK");
			if (j->rc >= 0)
				fail_job(j, code, msg);
			return code;
		}
	}
	return 0;
}

static void checkpoint_wal(struct acs_store *st)
{
	int log_frames = 0, done_frames = 0;
	int rc = sqlite3_wal_checkpoint_v2(st->rdb, "main", SQLITE_CHECKPOINT_PASSIVE, &log_frames,
					   &done_frames);
	uv_mutex_lock(&st->mu);
	st->stats.checkpoints++;
	if (done_frames > 0)
		st->checkpointed = done_frames;
	uv_mutex_unlock(&st->mu);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		acs_log(ACS_LOG_WARN, MOD, "checkpoint failed: %s", sqlite3_errmsg(st->rdb));
}

/* Writer thread, after each commit: nframes pages are in the WAL. A checkpoint is due
 * once CHECKPOINT_FRAMES frames came after the last one's: the WAL only starts over
 * when the writer finds it fully copied and no read uses it, which a busy reader
 * rarely allows, so "nframes past the threshold" held after every commit and made a
 * checkpoint (with its fsync of the database) per commit. Past WAL_FRAMES_CAP that is
 * what happens again (bounded WAL over bounded fsyncs). */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int nframes)
{
	struct acs_store *st = arg;
	(void)db;
	(void)name;
	uv_mutex_lock(&st->mu);
	if (nframes < st->checkpointed)
		st->checkpointed = 0; /* the WAL started over */
	/* Past WAL_FRAMES_CAP, after every commit again: each checkpoint that copies all
	 * frames is a chance for the WAL to start over, and a reader that never pauses
	 * would otherwise let it grow for as long as the load lasts. */
	bool due = nframes - st->checkpointed >= CHECKPOINT_FRAMES ||
		   (nframes >= WAL_FRAMES_CAP && nframes > st->checkpointed);
	if (due && !st->checkpoint_wanted) {
		st->checkpoint_wanted = true;
		uv_cond_signal(&st->rcond);
	}
	if (!st->wal_big && (int64_t)nframes * st->frame_bytes > WAL_TRIM_BYTES) {
		st->wal_big = true;
		uv_cond_signal(&st->rcond); /* its wait becomes a timed one */
	}
	uv_mutex_unlock(&st->mu);
	return SQLITE_OK;
}

/* Reader thread, idle: the WAL is big and no write came for WAL_TRIM_IDLE_MS. A
 * TRUNCATE checkpoint holds new commits back while it runs, and while it waits for
 * others too: without a busy timeout it never waits (a commit in progress, or a
 * reader elsewhere on an old snapshot, makes it give up until the next idle period),
 * so only its own copy, fsync and truncation hold a commit back (WAL TRIM). */
static void trim_wal(struct acs_store *st)
{
	int log_frames = 0, done_frames = 0;
	sqlite3_busy_timeout(st->rdb, 0);
	int rc = sqlite3_wal_checkpoint_v2(st->rdb, "main", SQLITE_CHECKPOINT_TRUNCATE, &log_frames,
					   &done_frames);
	sqlite3_busy_timeout(st->rdb, ACS_STORE_BUSY_TIMEOUT_MS);
	uv_mutex_lock(&st->mu);
	if (rc == SQLITE_OK) {
		st->wal_big = false;
		st->checkpointed = 0;
		st->stats.wal_truncations++;
	} else {
		st->last_write_end = uv_hrtime(); /* another idle period, then again */
	}
	uv_mutex_unlock(&st->mu);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY)
		acs_log(ACS_LOG_WARN, MOD, "truncating the WAL failed: %s",
			sqlite3_errmsg(st->rdb));
}

/* Under mu, with nothing else to do: wait for work, or until the WAL may be trimmed.
 * True when it may now. */
static bool reader_wait(struct acs_store *st)
{
	if (!st->wal_big) {
		uv_cond_wait(&st->rcond, &st->mu);
		return false;
	}
	uint64_t now = uv_hrtime(), idle = (uint64_t)WAL_TRIM_IDLE_MS * 1000000;
	uint64_t at = st->last_write_end + idle;
	if (!st->batch_started && !st->wq.n && now >= at)
		return true;
	(void)uv_cond_timedwait(&st->rcond, &st->mu, now >= at ? idle : at - now);
	return false;
}

static void reader_main(void *arg)
{
	struct acs_store *st = arg;
	pthread_setname_np(pthread_self(), "acs-store-r");

	for (;;) {
		uv_mutex_lock(&st->mu);
		bool trim = false;
		while (!st->rq.n && !st->stop && !st->checkpoint_wanted && !trim)
			trim = reader_wait(st);
		if (trim && !st->rq.n && !st->stop) {
			uv_mutex_unlock(&st->mu);
			trim_wal(st);
			continue;
		}
		struct job *j = list_pop(&st->rq);
		bool checkpoint = !j && st->checkpoint_wanted;
		st->checkpoint_wanted = false;
		uv_mutex_unlock(&st->mu);
		if (checkpoint) {
			/* Reads first; a checkpoint only when none is waiting. */
			checkpoint_wal(st);
			continue;
		}
		if (!j)
			break;

		int txn_rc = run_read_job(st->rdb, j);

		uv_mutex_lock(&st->mu);
		st->stats.reads_done++;
		if (j->rc < 0)
			st->stats.reads_failed++;
		st->last_read_rc = txn_rc;
		if (txn_rc)
			snprintf(st->last_read_err, sizeof(st->last_read_err), "%s", j->err);
		list_push(&st->done, j);
		bool wake = wake_needed(st);
		uv_mutex_unlock(&st->mu);
		if (wake)
			wake_write(st);
	}

	drop_cached(st->rdb);
	if (sqlite3_close(st->rdb) != SQLITE_OK) {
		acs_log(ACS_LOG_ERR, MOD,
			"closing the reader connection: %s (a job leaked a statement)",
			sqlite3_errmsg(st->rdb));
		(void)sqlite3_close_v2(st->rdb);
	}
	st->rdb = NULL;
	uv_mutex_lock(&st->mu);
	st->reader_exited = true;
	uv_cond_broadcast(&st->wcond);
	uv_mutex_unlock(&st->mu);
	notify_loop(st);
}

/* ---- loop side ---- */

/* Keep the loop alive exactly while there is something to deliver. */
static void update_ref(struct acs_store *st)
{
	bool want = st->pending > 0 || (st->closing && !st->finishing);
	if (want == st->wake_ref)
		return;
	st->wake_ref = want;
	if (want)
		uv_ref((uv_handle_t *)&st->wake);
	else
		uv_unref((uv_handle_t *)&st->wake);
}

/* Hand the writes of this loop turn to the writer in one step (group commit). */
static void flush_submits(struct acs_store *st)
{
	if (!st->submit.n)
		return;
	uv_mutex_lock(&st->mu);
	list_splice(&st->wq, &st->submit);
	uv_cond_signal(&st->wcond);
	uv_mutex_unlock(&st->mu);
}

static void on_prepare(uv_prepare_t *h)
{
	flush_submits(h->data);
}

static void on_check(uv_check_t *h)
{
	flush_submits(h->data);
}

static void destroy(struct acs_store *st)
{
	if (st->wdb)
		(void)sqlite3_close_v2(st->wdb);
	if (st->rdb)
		(void)sqlite3_close_v2(st->rdb);
	uv_cond_destroy(&st->rcond);
	uv_cond_destroy(&st->wcond);
	uv_mutex_destroy(&st->mu);
	wake_close_fds(st);
	free(st->path);
	free(st);
}

static void on_handle_closed(uv_handle_t *h)
{
	struct acs_store *st = h->data;
	if (--st->open_handles > 0)
		return;
	acs_store_close_cb cb = st->close_cb;
	void *arg = st->close_arg;
	destroy(st);
	if (cb)
		cb(arg);
}

static void close_handles(struct acs_store *st)
{
	uv_close((uv_handle_t *)&st->wake, on_handle_closed);
	uv_close((uv_handle_t *)&st->prepare, on_handle_closed);
	uv_close((uv_handle_t *)&st->check, on_handle_closed);
}

/* Both threads have exited and every callback ran: release everything. */
static void finish(struct acs_store *st)
{
	st->finishing = true;
	/* The threads set their exit flag just before returning, so these return
	 * at once. */
	uv_thread_join(&st->writer);
	uv_thread_join(&st->reader);
	st->writer_started = st->reader_started = false;
	update_ref(st);
	close_handles(st);
}

static void on_wake(uv_poll_t *h, int status, int events)
{
	struct acs_store *st = h->data;
	struct job_list done;
	(void)status; /* an error on an eventfd or pipe we own: read anyway */
	(void)events;

	wake_drain(st);
	uv_mutex_lock(&st->mu);
	st->wake_sent = false;
	done = st->done;
	st->done = (struct job_list){ 0 };
	bool exited = st->writer_exited && st->reader_exited;
	uv_mutex_unlock(&st->mu);

	struct job *j;
	while ((j = list_pop(&done))) {
		acs_require(st->pending > 0);
		st->pending--;
		if (j->done)
			j->done(j->rc, j->rc < 0 ? j->err : NULL, j->arg);
		free(j);
	}
	update_ref(st);
	/* exited was read with the list: no job can be left behind it. */
	if (st->closing && exited && !st->finishing)
		finish(st);
}

static int submit(struct acs_store *st, bool read, bool lazy, acs_store_fn fn,
		  acs_store_done_cb done, void *arg)
{
	if (acs_fails_assert(st != NULL) || acs_fails_assert(fn != NULL))
		return -EINVAL;
	if (st->closing)
		return ACS_ECLOSED;
	if (st->pending >= ACS_STORE_MAX_PENDING)
		return ACS_ETOOBIG;

	struct job *j = acs_xcalloc(1, sizeof(*j));
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	j->lazy = lazy;
	st->pending++;
	update_ref(st);
	if (read) {
		/* Reads are not batched: hand them over at once. */
		uv_mutex_lock(&st->mu);
		list_push(&st->rq, j);
		uv_cond_signal(&st->rcond);
		uv_mutex_unlock(&st->mu);
	} else {
		list_push(&st->submit, j);
	}
	return 0;
}

int acs_store_write(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg)
{
	return submit(st, false, false, fn, done, arg);
}

int acs_store_write_lazy(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg)
{
	return submit(st, false, true, fn, done, arg);
}

int acs_store_read(struct acs_store *st, acs_store_fn fn, acs_store_done_cb done, void *arg)
{
	return submit(st, true, false, fn, done, arg);
}

size_t acs_store_pending(const struct acs_store *st)
{
	return st ? st->pending : 0;
}

bool acs_store_healthy(const struct acs_store *st, char reason[ACS_ERR_LEN])
{
	if (!st) {
		snprintf(reason, ACS_ERR_LEN, "database not open");
		return false;
	}
	if (st->closing) {
		snprintf(reason, ACS_ERR_LEN, "database is closing");
		return false;
	}
	/* The lock is not part of the store's logical state. */
	struct acs_store *m = (struct acs_store *)st;
	bool ok = false;
	uv_mutex_lock(&m->mu);
	uint64_t started = m->batch_started;
	uint64_t now = uv_hrtime();
	if (started && now > started && (now - started) / 1000000 > ACS_STORE_STALL_MS) {
		snprintf(reason, ACS_ERR_LEN, "database write stalled for %llu ms",
			 (unsigned long long)((now - started) / 1000000));
	} else if (m->last_commit_rc) {
		snprintf(reason, ACS_ERR_LEN, "last database commit failed: %.200s",
			 m->last_commit_err);
	} else if (m->last_read_rc) {
		snprintf(reason, ACS_ERR_LEN, "last database read failed: %.200s",
			 m->last_read_err);
	} else {
		ok = true;
		reason[0] = '\0';
	}
	uv_mutex_unlock(&m->mu);
	return ok;
}

void acs_store_stats(const struct acs_store *st, struct acs_store_stats *out)
{
	struct acs_store *m = (struct acs_store *)st;
	uv_mutex_lock(&m->mu);
	*out = m->stats;
	uv_mutex_unlock(&m->mu);
	out->pending = st->pending;
}

void acs_store_close(struct acs_store *st, acs_store_close_cb cb, void *arg)
{
	if (!st || st->closing)
		return;
	st->closing = true;
	st->close_cb = cb;
	st->close_arg = arg;
	flush_submits(st);
	uv_mutex_lock(&st->mu);
	st->stop = true;
	uv_cond_broadcast(&st->wcond);
	uv_cond_broadcast(&st->rcond);
	uv_mutex_unlock(&st->mu);
	update_ref(st);
}

/* ---- opening ---- */

static int fsync_path(const char *path, bool dir)
{
	int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	int rc = fsync(fd) == 0 ? 0 : -errno;
	close(fd);
	return rc;
}

/* Tighten an existing file that others can read. ENOENT is fine (nothing to do). */
static int tighten_mode(const char *path, char err[ACS_ERR_LEN])
{
	struct stat sb;
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT)
			return 0;
		int rc = -errno;
		snprintf(err, ACS_ERR_LEN, "%s: %s", path, strerror(errno));
		return rc;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, ACS_ERR_LEN, "%s: not a regular file", path);
		return -EINVAL;
	}
	if (!(sb.st_mode & 077))
		return 0;
	if (chmod(path, sb.st_mode & 0700) != 0) {
		int rc = -errno;
		snprintf(err, ACS_ERR_LEN, "cannot chmod %s to 0600: %s", path, strerror(errno));
		return rc;
	}
	acs_log(ACS_LOG_WARN, MOD, "%s was readable by others; mode set to 0%o", path,
		(unsigned)(sb.st_mode & 0700));
	return 0;
}

/* Create the database file 0600 ourselves: sqlite would use 0644, and it gives the
 * -wal and -shm files the mode of the database file. Existing files are tightened. */
static int prepare_files(const char *path, char err[ACS_ERR_LEN])
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		/* sqlite syncs the directory for the -wal it creates, not for the database
		 * file itself: make the new name durable before anything is acknowledged. */
		char *dir = acs_xstrdup(path);
		(void)fsync_path(dirname(dir), true);
		free(dir);
	} else if (errno != EEXIST) {
		int rc = -errno;
		snprintf(err, ACS_ERR_LEN, "cannot create database file %s: %s", path,
			 strerror(errno));
		return rc;
	}
	static const char *const suffixes[] = { "", "-wal", "-shm" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(suffixes); i++) {
		char *p = acs_xasprintf("%s%s", path, suffixes[i]);
		int rc = tighten_mode(p, err);
		free(p);
		if (rc)
			return rc;
	}
	return 0;
}

static int query_text(sqlite3 *db, const char *sql, char *out, size_t outlen)
{
	sqlite3_stmt *stmt = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(stmt);
		if (rc == SQLITE_ROW) {
			const unsigned char *t = sqlite3_column_text(stmt, 0);
			snprintf(out, outlen, "%s", t ? (const char *)t : "");
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Before sqlite's first use in the process: no memory statistics. Kept on, every
 * sqlite3_malloc and free of both threads takes one global mutex to count bytes that
 * nothing here reads. Too late (sqlite already in use) only leaves them on. */
static void sqlite_setup(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int open_conn(const char *path, bool reader, sqlite3 **out, char err[ACS_ERR_LEN])
{
	static uv_once_t once = UV_ONCE_INIT;
	uv_once(&once, sqlite_setup);
	/* NOMUTEX: each connection is used by one thread at a time. */
	const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
	const char *who = reader ? "reader" : "writer";
	char val[32];
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "cannot open database %s: %s", path,
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_busy_timeout(db, ACS_STORE_BUSY_TIMEOUT_MS);
	if (!reader) {
		rc = query_text(db, "PRAGMA journal_mode = WAL", val, sizeof(val));
		if (rc != SQLITE_OK) {
			snprintf(err, ACS_ERR_LEN, "%s: cannot enable WAL: %s", path,
				 sqlite3_errmsg(db));
			goto fail;
		}
		if (strcmp(val, "wal") != 0) {
			snprintf(err, ACS_ERR_LEN, "%s: WAL mode refused (journal_mode is %s)",
				 path, val);
			goto fail;
		}
	}
	/* trusted_schema ON whatever the build default: the schema's CHECK constraints
	 * call json_valid(), which sqlite does not count as innocuous. The file is ours
	 * and mode 0600, so the schema is trusted. */
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
		 " PRAGMA trusted_schema = ON; PRAGMA journal_size_limit = -1;%s",
		 reader ? " PRAGMA query_only = ON;" : "");
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "%s: setting pragmas on the %s connection: %s", path,
			 who, sqlite3_errmsg(db));
		goto fail;
	}
	/* A build without foreign key support ignores the pragma silently. */
	if (query_text(db, "PRAGMA foreign_keys", val, sizeof(val)) != SQLITE_OK ||
	    strcmp(val, "1") != 0) {
		snprintf(err, ACS_ERR_LEN, "%s: this sqlite cannot enforce foreign keys", path);
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return ACS_ESTORE;
}

int acs_store_open(uv_loop_t *loop, const char *path, struct acs_store **out, char err[ACS_ERR_LEN])
{
	int rc;
	if (acs_fails_assert(loop && path && out)) {
		snprintf(err, ACS_ERR_LEN, "invalid arguments");
		return -EINVAL;
	}
	*out = NULL;
	if (!path[0] || strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0) {
		snprintf(err, ACS_ERR_LEN, "database path must name a file (got '%s')", path);
		return -EINVAL;
	}
	if (!sqlite3_threadsafe()) {
		snprintf(err, ACS_ERR_LEN, "sqlite was built without thread support");
		return ACS_ESTORE;
	}
	rc = prepare_files(path, err);
	if (rc)
		return rc;

	struct acs_store *st = acs_xcalloc(1, sizeof(*st));
	st->loop = loop;
	st->path = acs_xstrdup(path);
	st->wake_fd[0] = st->wake_fd[1] = -1;
	rc = uv_mutex_init(&st->mu);
	if (rc) {
		snprintf(err, ACS_ERR_LEN, "mutex: %s", uv_strerror(rc));
		free(st->path);
		free(st);
		return rc;
	}
	acs_require(uv_cond_init(&st->wcond) == 0 && uv_cond_init(&st->rcond) == 0);

	rc = open_conn(path, false, &st->wdb, err);
	if (!rc) {
		char msg[ACS_ERR_LEN];
		rc = acs_store_schema_migrate(st->wdb, msg);
		if (rc)
			snprintf(err, ACS_ERR_LEN, "%s: %.200s", path, msg);
	}
	if (!rc)
		rc = open_conn(path, true, &st->rdb, err);
	if (!rc) {
		rc = wake_open(st);
		if (rc)
			snprintf(err, ACS_ERR_LEN, "cannot create the wake-up descriptor: %s",
				 strerror(-rc));
	}
	if (rc) {
		destroy(st);
		return rc;
	}
	sqlite3_stmt *ps = NULL;
	int page = 0;
	if (sqlite3_prepare_v2(st->wdb, "PRAGMA page_size", -1, &ps, NULL) == SQLITE_OK &&
	    sqlite3_step(ps) == SQLITE_ROW)
		page = sqlite3_column_int(ps, 0);
	sqlite3_finalize(ps);
	st->frame_bytes = 24 + (page > 0 ? page : 4096);
	/* Checkpoints move to the reader thread (see CHECKPOINT_FRAMES); setting a
	 * WAL hook replaces sqlite's automatic checkpoint on this connection. */
	sqlite3_wal_hook(st->wdb, wal_hook, st);

	/* From here on the handles exist and st can only be freed by their close
	 * callbacks. */
	acs_require(uv_poll_init(loop, &st->wake, st->wake_fd[0]) == 0);
	acs_require(uv_prepare_init(loop, &st->prepare) == 0);
	acs_require(uv_check_init(loop, &st->check) == 0);
	st->wake.data = st->prepare.data = st->check.data = st;
	st->open_handles = 3;
	acs_require(uv_prepare_start(&st->prepare, on_prepare) == 0);
	acs_require(uv_check_start(&st->check, on_check) == 0);
	acs_require(uv_poll_start(&st->wake, UV_READABLE, on_wake) == 0);
	/* Only pending jobs keep the loop alive (update_ref). */
	uv_unref((uv_handle_t *)&st->wake);
	uv_unref((uv_handle_t *)&st->prepare);
	uv_unref((uv_handle_t *)&st->check);

	rc = uv_thread_create(&st->writer, writer_main, st);
	st->writer_started = rc == 0;
	if (!rc) {
		rc = uv_thread_create(&st->reader, reader_main, st);
		st->reader_started = rc == 0;
	}
	if (rc) {
		snprintf(err, ACS_ERR_LEN, "cannot start the database threads: %s",
			 uv_strerror(rc));
		uv_mutex_lock(&st->mu);
		st->stop = true;
		/* A writer without a reader must not wait for one. */
		st->reader_exited = true;
		uv_cond_broadcast(&st->wcond);
		uv_mutex_unlock(&st->mu);
		if (st->writer_started)
			uv_thread_join(&st->writer); /* it closes wdb */
		st->closing = st->finishing = true;
		close_handles(st); /* destroy() runs when the loop next turns */
		return rc;
	}
	acs_log(ACS_LOG_INFO, MOD, "database %s open (schema version %d)", path,
		ACS_STORE_SCHEMA_VERSION);
	*out = st;
	return 0;
}

/* ---- backup ---- */

static int backup_copy(const char *db_path, const char *tmp, char err[ACS_ERR_LEN])
{
	sqlite3 *src = NULL, *dst = NULL;
	int rc = ACS_ESTORE, src_rc;
	char val[32];

	src_rc =
		sqlite3_open_v2(db_path, &src, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
	if (src_rc != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "cannot open %s: %s", db_path,
			 src ? sqlite3_errmsg(src) : sqlite3_errstr(src_rc));
		goto out;
	}
	sqlite3_busy_timeout(src, ACS_STORE_BUSY_TIMEOUT_MS);
	(void)sqlite3_exec(src, "PRAGMA query_only = ON", NULL, NULL, NULL);
	src_rc = sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE, NULL);
	if (src_rc != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "cannot open %s: %s", tmp,
			 dst ? sqlite3_errmsg(dst) : sqlite3_errstr(src_rc));
		goto out;
	}
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b) {
		snprintf(err, ACS_ERR_LEN, "backup: %s", sqlite3_errmsg(dst));
		goto out;
	}
	/* One step over all pages holds one read transaction: a consistent snapshot,
	 * and in WAL mode the daemon's writer is not blocked meanwhile. */
	int step;
	for (int tries = 0;; tries++) {
		step = sqlite3_backup_step(b, -1);
		if ((step != SQLITE_BUSY && step != SQLITE_LOCKED) || tries >= 100)
			break;
		sqlite3_sleep(50);
	}
	int fin = sqlite3_backup_finish(b);
	if (step != SQLITE_DONE || fin != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "backup of %s failed: %s", db_path,
			 sqlite3_errstr(step != SQLITE_DONE ? step : fin));
		goto out;
	}
	/* The copied header says WAL; a backup should be one self-contained file. */
	if (query_text(dst, "PRAGMA journal_mode = DELETE", val, sizeof(val)) != SQLITE_OK ||
	    query_text(dst, "PRAGMA quick_check", val, sizeof(val)) != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "checking the copy: %s", sqlite3_errmsg(dst));
		goto out;
	}
	if (strcmp(val, "ok") != 0) {
		snprintf(err, ACS_ERR_LEN, "the copy fails quick_check: %s", val);
		goto out;
	}
	rc = 0;
out:
	if (dst && sqlite3_close(dst) != SQLITE_OK && !rc) {
		snprintf(err, ACS_ERR_LEN, "closing the copy: %s", sqlite3_errmsg(dst));
		rc = ACS_ESTORE;
	}
	sqlite3_close(src);
	return rc;
}

int acs_store_backup(const char *db_path, const char *out_path, char err[ACS_ERR_LEN])
{
	struct stat db_sb, out_sb;
	int rc;

	if (acs_fails_assert(db_path && out_path)) {
		snprintf(err, ACS_ERR_LEN, "invalid arguments");
		return -EINVAL;
	}
	/* Without this check sqlite would create an empty database and back that up. */
	if (stat(db_path, &db_sb) != 0) {
		rc = -errno;
		snprintf(err, ACS_ERR_LEN, "%s: %s", db_path, strerror(errno));
		return rc;
	}
	if (stat(out_path, &out_sb) == 0 && out_sb.st_dev == db_sb.st_dev &&
	    out_sb.st_ino == db_sb.st_ino) {
		snprintf(err, ACS_ERR_LEN, "refusing to overwrite the live database %s", db_path);
		return -EINVAL;
	}

	/* Same directory, so the final rename is atomic; mkstemp creates it 0600. */
	char *tmp = acs_xasprintf("%s.tmp-XXXXXX", out_path);
	int fd = mkstemp(tmp);
	if (fd < 0) {
		rc = -errno;
		snprintf(err, ACS_ERR_LEN, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	close(fd);

	rc = backup_copy(db_path, tmp, err);
	if (!rc) {
		rc = fsync_path(tmp, false);
		if (rc)
			snprintf(err, ACS_ERR_LEN, "fsync %s: %s", tmp, strerror(-rc));
	}
	if (!rc && rename(tmp, out_path) != 0) {
		rc = -errno;
		snprintf(err, ACS_ERR_LEN, "cannot rename %s to %s: %s", tmp, out_path,
			 strerror(errno));
	}
	if (!rc) {
		char *dir = acs_xstrdup(out_path);
		/* Make the rename itself durable; a failure here is not worth failing. */
		(void)fsync_path(dirname(dir), true);
		free(dir);
	} else {
		char *journal = acs_xasprintf("%s-journal", tmp);
		unlink(tmp);
		unlink(journal);
		free(journal);
	}
	free(tmp);
	return rc;
}
