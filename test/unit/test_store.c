/* SPDX-License-Identifier: MIT */
/* Tests for the store: file modes, loop-thread callbacks after commit, group commit
 * batches, per-job rollback, commit failure, draining close, a loop that keeps running
 * while a job blocks, backup, and durability across close and a simulated crash. */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#include "err.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "store_schema.h"

#define WAIT_MS 20000 /* generous: valgrind is slow, and a pass never waits this long */

struct fixture {
	uv_loop_t loop;
	char *dir;
	char *path;
	struct acs_store *st;
	uv_thread_t loop_thread;
	int done;	   /**< done callbacks so far */
	int want;	   /**< fx_wait target */
	int reached;	   /**< done >= want */
	int closed;	   /**< close callbacks */
	int close_flag;	   /**< set by the close callback, reset by fx_close_store */
	int done_at_close; /**< done when the close callback ran */
};

static void fx_init(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->dir = acs_test_tmpdir();
	fx->path = acs_xasprintf("%s/sync.db", fx->dir);
	fx->loop_thread = uv_thread_self();
}

static void fx_open(struct fixture *fx)
{
	char err[ACS_ERR_LEN] = "";
	int rc = acs_store_open(&fx->loop, fx->path, &fx->st, err);
	if (rc)
		fail_msg("acs_store_open: %d %s", rc, err);
	assert_non_null(fx->st);
}

static void on_closed(void *arg)
{
	struct fixture *fx = arg;
	fx->closed++;
	fx->close_flag = 1;
	fx->done_at_close = fx->done;
	fx->st = NULL;
}

static void fx_close_store(struct fixture *fx)
{
	fx->close_flag = 0;
	acs_store_close(fx->st, on_closed, fx);
	acs_test_run_until(&fx->loop, &fx->close_flag, WAIT_MS);
	assert_null(fx->st);
}

static void fx_fini(struct fixture *fx)
{
	if (fx->st)
		fx_close_store(fx);
	acs_test_loop_close(&fx->loop);
	acs_test_rmtree(fx->dir);
	free(fx->path);
	free(fx->dir);
}

static void fx_wait(struct fixture *fx, int want)
{
	fx->want = want;
	fx->reached = fx->done >= want;
	acs_test_run_until(&fx->loop, &fx->reached, WAIT_MS);
}

static bool on_loop_thread(struct fixture *fx)
{
	uv_thread_t self = uv_thread_self();
	return uv_thread_equal(&self, &fx->loop_thread);
}

/* ---- jobs ---- */

struct kv_job {
	struct fixture *fx;
	char key[32];
	char value[64];
	int fail_rc;	      /**< put: return this after the insert */
	const char *fail_msg; /**< put: message for fail_rc (NULL leaves err empty) */
	int rc;		      /**< as reported to done */
	char err[ACS_ERR_LEN];
	int calls;	    /**< done calls */
	int seq;	    /**< fx->done when done ran */
	bool fn_on_loop;    /**< fn ran on the loop thread (must stay false) */
	bool done_off_loop; /**< done ran elsewhere (must stay false) */
};

static void kv_init(struct kv_job *j, struct fixture *fx, const char *key, const char *value)
{
	memset(j, 0, sizeof(*j));
	j->fx = fx;
	snprintf(j->key, sizeof(j->key), "%s", key);
	snprintf(j->value, sizeof(j->value), "%s", value ? value : "");
}

static int put_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct kv_job *j = arg;
	sqlite3_stmt *s = NULL;
	j->fn_on_loop = on_loop_thread(j->fx);
	int rc = sqlite3_prepare_v2(db, "INSERT INTO meta (key, value) VALUES (?1, ?2)", -1, &s,
				    NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	sqlite3_bind_text(s, 1, j->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, j->value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		rc = acs_store_error(db, rc, "insert", err);
	else
		rc = 0;
	sqlite3_finalize(s);
	if (rc)
		return rc;
	if (j->fail_rc) {
		if (j->fail_msg)
			snprintf(err, ACS_ERR_LEN, "%s", j->fail_msg);
		return j->fail_rc;
	}
	return 0;
}

static int get_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct kv_job *j = arg;
	sqlite3_stmt *s = NULL;
	j->fn_on_loop = on_loop_thread(j->fx);
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	sqlite3_bind_text(s, 1, j->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		snprintf(j->value, sizeof(j->value), "%s", (const char *)sqlite3_column_text(s, 0));
		rc = 1; /* found: a positive result reaches done as is */
	} else if (rc == SQLITE_DONE) {
		j->value[0] = '\0';
		snprintf(err, ACS_ERR_LEN, "no key %s", j->key);
		rc = ACS_ENOTFOUND;
	} else {
		rc = acs_store_error(db, rc, "select", err);
	}
	sqlite3_finalize(s);
	return rc;
}

static void kv_done(int rc, const char *err, void *arg)
{
	struct kv_job *j = arg;
	struct fixture *fx = j->fx;
	j->calls++;
	j->rc = rc;
	if (rc < 0) {
		assert_non_null(err);
		snprintf(j->err, sizeof(j->err), "%s", err);
	} else {
		assert_null(err);
		j->err[0] = '\0';
	}
	j->done_off_loop = !on_loop_thread(fx);
	j->seq = fx->done;
	if (++fx->done >= fx->want)
		fx->reached = 1;
}

static void put(struct fixture *fx, struct kv_job *j)
{
	assert_int_equal(acs_store_write(fx->st, put_fn, kv_done, j), 0);
}

static void get(struct fixture *fx, struct kv_job *j)
{
	assert_int_equal(acs_store_read(fx->st, get_fn, kv_done, j), 0);
}

/* Read one key through the store and return its value (empty when missing). */
static void read_back(struct fixture *fx, const char *key, char *out, size_t outlen)
{
	struct kv_job j;
	kv_init(&j, fx, key, NULL);
	get(fx, &j);
	fx_wait(fx, fx->done + 1);
	assert_int_equal(j.calls, 1);
	snprintf(out, outlen, "%s", j.rc == 1 ? j.value : "");
}

static long long sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	long long v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

struct count_job {
	struct fixture *fx;
	const char *sql;
	long long n;
};

static int count_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct count_job *c = arg;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, c->sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		c->n = sqlite3_column_int64(s, 0);
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "count", err);
	}
	sqlite3_finalize(s);
	return rc;
}

static void count_done(int rc, const char *err, void *arg)
{
	struct count_job *c = arg;
	if (rc)
		fail_msg("count job: %s", err);
	if (++c->fx->done >= c->fx->want)
		c->fx->reached = 1;
}

static long long count_via_store(struct fixture *fx, const char *sql)
{
	struct count_job c = { fx, sql, -1 };
	assert_int_equal(acs_store_read(fx->st, count_fn, count_done, &c), 0);
	fx_wait(fx, fx->done + 1);
	return c.n;
}

static unsigned file_mode(const char *path)
{
	struct stat sb;
	if (stat(path, &sb) != 0)
		fail_msg("stat %s: %s", path, strerror(errno));
	return (unsigned)(sb.st_mode & 07777);
}

/* ---- tests ---- */

static void test_open_creates_private_files(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	mode_t old = umask(0); /* the mode must not depend on the caller's umask */
	fx_open(&fx);
	umask(old);

	struct kv_job j;
	kv_init(&j, &fx, "k", "v");
	put(&fx, &j);
	fx_wait(&fx, 1);
	assert_int_equal(j.rc, 0);

	char *wal = acs_xasprintf("%s-wal", fx.path);
	char *shm = acs_xasprintf("%s-shm", fx.path);
	assert_int_equal(file_mode(fx.path), 0600);
	assert_int_equal(file_mode(wal), 0600);
	assert_int_equal(file_mode(shm), 0600);

	/* Every table of the schema is there. */
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM sqlite_master WHERE type = "
					      "'table' AND name IN ('project_map', 'sync_map', "
					      "'comment_map', 'attachment_map', 'inbox', "
					      "'sync_log', "
					      "'meta')"),
			 7);
	assert_int_equal(count_via_store(&fx, "PRAGMA user_version"), ACS_STORE_SCHEMA_VERSION);
	/* The pragmas that make a commit durable and safe. */
	assert_int_equal(count_via_store(&fx, "SELECT journal_mode = 'wal' FROM "
					      "pragma_journal_mode"),
			 1);
	assert_int_equal(count_via_store(&fx, "PRAGMA foreign_keys"), 1);

	char reason[ACS_ERR_LEN];
	assert_true(acs_store_healthy(fx.st, reason));
	fx_close_store(&fx);

	/* An existing database readable by others is tightened on open. */
	assert_int_equal(chmod(fx.path, 0644), 0);
	acs_test_log_capture_begin();
	fx_open(&fx);
	assert_non_null(strstr(acs_test_log_captured(), "readable by others"));
	acs_test_log_capture_end();
	assert_int_equal(file_mode(fx.path), 0600);
	fx_close_store(&fx);
	free(wal);
	free(shm);
	fx_fini(&fx);
}

static void test_write_then_read(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	fx_open(&fx);

	struct kv_job w, r;
	kv_init(&w, &fx, "watermark", "12345");
	put(&fx, &w);
	assert_int_equal(acs_store_pending(fx.st), 1);
	fx_wait(&fx, 1);
	assert_int_equal(w.calls, 1);
	assert_int_equal(w.rc, 0);
	assert_false(w.fn_on_loop);
	assert_false(w.done_off_loop);
	assert_int_equal(acs_store_pending(fx.st), 0);

	/* Submitted after the write's callback: it must see the committed row. */
	kv_init(&r, &fx, "watermark", NULL);
	get(&fx, &r);
	fx_wait(&fx, 2);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.rc, 1);
	assert_string_equal(r.value, "12345");
	assert_false(r.fn_on_loop);
	assert_false(r.done_off_loop);

	/* A missing key: the job's own error and message reach the callback. */
	kv_init(&r, &fx, "nope", NULL);
	get(&fx, &r);
	fx_wait(&fx, 3);
	assert_int_equal(r.rc, ACS_ENOTFOUND);
	assert_string_equal(r.err, "no key nope");

	/* Idle, the store does not keep the loop alive. */
	assert_int_equal(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);

	struct acs_store_stats s;
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 1);
	assert_int_equal(s.jobs_committed, 1);
	assert_int_equal(s.reads_done, 2);
	assert_int_equal(s.reads_failed, 1);
	assert_int_equal(s.pending, 0);

	acs_test_log_capture_begin();
	assert_int_equal(acs_store_write(fx.st, NULL, NULL, NULL), -EINVAL);
	acs_test_log_capture_end();
	fx_fini(&fx);
}

#define BURST 100

struct burst {
	struct fixture *fx;
	struct kv_job jobs[BURST];
	int base;
};

static void submit_burst(struct burst *b, const char *prefix)
{
	for (int i = 0; i < BURST; i++) {
		char key[32];
		snprintf(key, sizeof(key), "%s%03d", prefix, i);
		kv_init(&b->jobs[i], b->fx, key, "x");
		put(b->fx, &b->jobs[i]);
	}
}

static void burst_timer_cb(uv_timer_t *t)
{
	struct burst *b = t->data;
	submit_burst(b, "second");
	uv_close((uv_handle_t *)t, NULL);
}

static void check_burst(struct burst *b, int base)
{
	for (int i = 0; i < BURST; i++) {
		assert_int_equal(b->jobs[i].calls, 1);
		assert_int_equal(b->jobs[i].rc, 0);
		/* Callbacks run in submission order. */
		assert_int_equal(b->jobs[i].seq, base + i);
	}
}

static void test_group_commit(void **state)
{
	(void)state;
	struct fixture fx;
	struct acs_store_stats s;
	fx_init(&fx);
	fx_open(&fx);
	struct burst *b = acs_xcalloc(1, sizeof(*b));
	b->fx = &fx;

	/* One loop turn (before uv_run): one batch. */
	submit_burst(b, "first");
	assert_int_equal(acs_store_pending(fx.st), BURST);
	fx_wait(&fx, BURST);
	check_burst(b, 0);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 1);
	assert_int_equal(s.jobs_committed, BURST);
	assert_int_equal(s.largest_batch, BURST);
	assert_int_equal(s.last_batch, BURST);
	assert_int_equal(s.jobs_failed, 0);

	/* A later turn, from a timer callback: a second batch. */
	uv_timer_t t;
	uv_timer_init(&fx.loop, &t);
	t.data = b;
	uv_timer_start(&t, burst_timer_cb, 0, 0);
	fx_wait(&fx, 2 * BURST);
	check_burst(b, BURST);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 2);
	assert_int_equal(s.jobs_committed, 2 * BURST);
	assert_int_equal(s.largest_batch, BURST);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta"), 2 * BURST);
	free(b);

	/* More than ACS_STORE_MAX_BATCH in one turn is split. */
	const int many = ACS_STORE_MAX_BATCH + 88;
	struct kv_job *jobs = acs_xcalloc((size_t)many, sizeof(*jobs));
	for (int i = 0; i < many; i++) {
		char key[32];
		snprintf(key, sizeof(key), "many%04d", i);
		kv_init(&jobs[i], &fx, key, "y");
		put(&fx, &jobs[i]);
	}
	fx_wait(&fx, fx.done + many);
	for (int i = 0; i < many; i++)
		assert_int_equal(jobs[i].rc, 0);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 4);
	assert_int_equal(s.largest_batch, ACS_STORE_MAX_BATCH);
	assert_int_equal(s.last_batch, 88);
	assert_int_equal(s.jobs_committed, 2 * BURST + many);
	free(jobs);
	fx_fini(&fx);
}

/* Lazy writes: a batch of only lazy jobs commits with synchronous = NORMAL (no fsync),
 * a batch with any ordinary job with FULL; both commit, in submission order. */
struct sync_count {
	int done; /**< done callbacks so far */
	int want;
	int reached; /**< done >= want */
};

struct sync_job {
	int order;		  /**< position among the done callbacks */
	struct sync_count *count; /**< shared by the jobs */
	int synchronous;	  /**< PRAGMA synchronous seen inside the job */
};

static int sync_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sync_job *j = arg;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "PRAGMA synchronous", -1, &s, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "pragma", err);
	j->synchronous = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int(s, 0) : -1;
	sqlite3_finalize(s);
	rc = acs_store_exec(db, "INSERT INTO meta(key, value) VALUES (hex(randomblob(8)), 'z')",
			    err);
	return rc;
}

static void sync_done(int rc, const char *err, void *arg)
{
	struct sync_job *j = arg;
	(void)err;
	assert_int_equal(rc, 0);
	j->order = ++j->count->done;
	j->count->reached = j->count->done >= j->count->want;
}

static void sync_wait(uv_loop_t *loop, struct sync_count *c, int want)
{
	c->want = want;
	c->reached = c->done >= want;
	acs_test_run_until(loop, &c->reached, WAIT_MS);
}

static void test_lazy_writes(void **state)
{
	(void)state;
	struct fixture fx;
	struct acs_store_stats s;
	struct sync_count c = { 0 };
	struct sync_job j[5];
	memset(j, 0, sizeof(j));
	for (int i = 0; i < 5; i++)
		j[i].count = &c;
	fx_init(&fx);
	fx_open(&fx);

	/* Turn 1: lazy only. */
	assert_int_equal(acs_store_write_lazy(fx.st, sync_fn, sync_done, &j[0]), 0);
	assert_int_equal(acs_store_write_lazy(fx.st, sync_fn, sync_done, &j[1]), 0);
	sync_wait(&fx.loop, &c, 2);
	/* Turn 2: lazy and ordinary mixed: fsynced. */
	assert_int_equal(acs_store_write_lazy(fx.st, sync_fn, sync_done, &j[2]), 0);
	assert_int_equal(acs_store_write(fx.st, sync_fn, sync_done, &j[3]), 0);
	sync_wait(&fx.loop, &c, 4);
	/* Turn 3: lazy only again, after a FULL batch. */
	assert_int_equal(acs_store_write_lazy(fx.st, sync_fn, sync_done, &j[4]), 0);
	sync_wait(&fx.loop, &c, 5);

	assert_int_equal(j[0].synchronous, 1); /* NORMAL */
	assert_int_equal(j[1].synchronous, 1);
	assert_int_equal(j[2].synchronous, 2); /* FULL */
	assert_int_equal(j[3].synchronous, 2);
	assert_int_equal(j[4].synchronous, 1);
	for (int i = 0; i < 5; i++)
		assert_int_equal(j[i].order, i + 1);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 3);
	assert_int_equal(s.jobs_committed, 5);
	/* Every lazy commit is there after a clean close and reopen. */
	fx_close_store(&fx);
	fx_open(&fx);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta WHERE value = 'z'"), 5);
	fx_fini(&fx);
}

/* A big commit pushes the WAL past CHECKPOINT_FRAMES: the reader thread
 * checkpoints it (the writer never does), and writes go on meanwhile. */
static int big_insert_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	char sql[160];
	for (int i = 0; i < 6000; i++) {
		snprintf(sql, sizeof(sql),
			 "INSERT INTO meta(key, value) VALUES ('big%05d', printf('%%.1000c', 'x'))",
			 i);
		int rc = acs_store_exec(db, sql, err);
		if (rc)
			return rc;
	}
	return 0;
}

static void big_done(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	*(int *)arg = 1;
}

static void stats_tick(uv_timer_t *t)
{
	struct fixture *fx = t->data;
	struct acs_store_stats s;
	acs_store_stats(fx->st, &s);
	if (s.checkpoints > 0)
		uv_stop(t->loop);
}

static void guard_cb(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* The big insert, then the loop until tick stops it (it looks at the stats every
 * 5 ms) or 20 s have passed. The timers are the caller's: closed here, they must
 * outlive the loop turn that finishes closing them. */
static void big_insert_then_watch(struct fixture *fx, uv_timer_cb tick, uv_timer_t timers[2])
{
	int written = 0;
	assert_int_equal(acs_store_write(fx->st, big_insert_fn, big_done, &written), 0);
	acs_test_run_until(&fx->loop, &written, 20000);
	uv_timer_init(&fx->loop, &timers[0]);
	uv_timer_init(&fx->loop, &timers[1]);
	timers[0].data = fx;
	uv_timer_start(&timers[0], tick, 5, 5);
	uv_timer_start(&timers[1], guard_cb, 20000, 0);
	uv_run(&fx->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&timers[0], NULL);
	uv_close((uv_handle_t *)&timers[1], NULL);
}

static void test_checkpoint_off_the_writer(void **state)
{
	(void)state;
	struct fixture fx;
	struct acs_store_stats s;
	fx_init(&fx);
	fx_open(&fx);
	uv_timer_t timers[2];
	big_insert_then_watch(&fx, stats_tick, timers);
	acs_store_stats(fx.st, &s);
	assert_true(s.checkpoints >= 1);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta"), 6000);
	fx_fini(&fx);
}

static int small_insert_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	return acs_store_exec(db, "INSERT INTO meta(key, value) VALUES (hex(randomblob(8)), 'y')",
			      err);
}

/* A read job that holds the reader thread (so no checkpoint runs) until the big insert
 * is committed, then opens a read transaction on another connection: its snapshot
 * ends where the WAL ends, so a checkpoint can copy every frame but the WAL cannot
 * start over. Queued with the insert, it runs before the checkpoint the insert asks
 * for (the reader thread serves reads first). */
struct hold {
	sqlite3 *other;
	int done;
};

static int meta_rows(sqlite3 *db)
{
	sqlite3_stmt *s = NULL;
	int n = -1;
	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM meta", -1, &s, NULL) == SQLITE_OK &&
	    sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

static int hold_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)db;
	(void)err;
	struct hold *h = arg;
	for (int i = 0; i < 20000 && meta_rows(h->other) < 6000; i++)
		uv_sleep(1);
	return sqlite3_exec(h->other, "BEGIN; SELECT count(*) FROM meta;", NULL, NULL, NULL) ==
			       SQLITE_OK
		       ? 0
		       : ACS_ESTORE;
}

static void hold_done(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	((struct hold *)arg)->done = 1;
}

/* While the WAL cannot start over, the commits after a complete checkpoint do not
 * each ask for another (each fsyncs the database file): the next one waits for
 * CHECKPOINT_FRAMES new frames. */
static void test_checkpoints_spaced(void **state)
{
	(void)state;
	struct fixture fx;
	struct acs_store_stats s0, s;
	struct hold h = { 0 };
	fx_init(&fx);
	fx_open(&fx);
	assert_int_equal(sqlite3_open(fx.path, &h.other), SQLITE_OK);
	int written = 0;
	assert_int_equal(acs_store_write(fx.st, big_insert_fn, big_done, &written), 0);
	assert_int_equal(acs_store_read(fx.st, hold_fn, hold_done, &h), 0);
	acs_test_run_until(&fx.loop, &written, 20000);
	acs_test_run_until(&fx.loop, &h.done, 20000);
	assert_int_equal(meta_rows(h.other), 6000); /* its snapshot holds the insert */
	uv_timer_t t;
	uv_timer_init(&fx.loop, &t);
	t.data = &fx;
	uv_timer_start(&t, stats_tick, 5, 5);
	uv_run(&fx.loop, UV_RUN_DEFAULT); /* until that checkpoint */
	uv_close((uv_handle_t *)&t, NULL);

	acs_store_stats(fx.st, &s0);
	for (int i = 0; i < 100; i++) {
		written = 0;
		assert_int_equal(acs_store_write(fx.st, small_insert_fn, big_done, &written), 0);
		acs_test_run_until(&fx.loop, &written, 20000);
	}
	acs_store_stats(fx.st, &s);
	/* 100 commits of a few frames each: far from CHECKPOINT_FRAMES new frames. */
	assert_true(s.checkpoints - s0.checkpoints <= 1);
	assert_int_equal(s.batches_committed - s0.batches_committed, 100);
	sqlite3_exec(h.other, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(h.other);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta WHERE value = 'y'"), 100);
	fx_fini(&fx);
}

static void trim_tick(uv_timer_t *t)
{
	struct fixture *fx = t->data;
	struct acs_store_stats s;
	acs_store_stats(fx->st, &s);
	if (s.wal_truncations > 0)
		uv_stop(t->loop);
}

/* A WAL grown past its bound is truncated by the reader once writes pause, never by
 * a commit (store.c, WAL TRIM: that ftruncate held every webhook's 200). */
static void test_wal_trimmed_when_idle(void **state)
{
	(void)state;
	struct fixture fx;
	struct acs_store_stats s;
	fx_init(&fx);
	fx_open(&fx);
	uv_timer_t timers[2];
	big_insert_then_watch(&fx, trim_tick, timers);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.wal_truncations, 1);
	char *wal = acs_xasprintf("%s-wal", fx.path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	/* Nothing lost, and the store goes on; a small WAL is left alone. */
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta WHERE key LIKE 'big%'"),
			 6000);
	int written = 0;
	assert_int_equal(acs_store_write(fx.st, small_insert_fn, big_done, &written), 0);
	acs_test_run_until(&fx.loop, &written, 20000);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta WHERE value = 'y'"), 1);
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.wal_truncations, 1);
	free(wal);
	fx_fini(&fx);
}

static void test_failing_job_rolls_back_alone(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	fx_open(&fx);

	struct kv_job a, bad, dup, quiet, c;
	kv_init(&a, &fx, "a", "1");
	kv_init(&bad, &fx, "bad", "2");
	bad.fail_rc = ACS_EPARSE;
	bad.fail_msg = "boom";
	kv_init(&dup, &fx, "a", "3"); /* UNIQUE violation against a, same batch */
	kv_init(&quiet, &fx, "quiet", "4");
	quiet.fail_rc = ACS_ETIMEOUT; /* fails without a message */
	kv_init(&c, &fx, "c", "5");
	put(&fx, &a);
	put(&fx, &bad);
	put(&fx, &dup);
	put(&fx, &quiet);
	put(&fx, &c);
	fx_wait(&fx, 5);

	assert_int_equal(a.rc, 0);
	assert_int_equal(c.rc, 0);
	assert_int_equal(bad.rc, ACS_EPARSE);
	assert_string_equal(bad.err, "boom");
	assert_int_equal(dup.rc, ACS_ECONFLICT);
	assert_non_null(strstr(dup.err, "UNIQUE"));
	assert_int_equal(quiet.rc, ACS_ETIMEOUT);
	assert_string_equal(quiet.err, acs_strerror(ACS_ETIMEOUT));

	struct acs_store_stats s;
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 1);
	assert_int_equal(s.largest_batch, 5);
	assert_int_equal(s.jobs_committed, 2);
	assert_int_equal(s.jobs_failed, 3);

	char v[64];
	read_back(&fx, "a", v, sizeof(v));
	assert_string_equal(v, "1");
	read_back(&fx, "c", v, sizeof(v));
	assert_string_equal(v, "5");
	/* The failing jobs' inserts were rolled back with their savepoints. */
	read_back(&fx, "bad", v, sizeof(v));
	assert_string_equal(v, "");
	read_back(&fx, "quiet", v, sizeof(v));
	assert_string_equal(v, "");

	/* A job failure is the caller's business, not a health problem. */
	char reason[ACS_ERR_LEN];
	assert_true(acs_store_healthy(fx.st, reason));
	fx_fini(&fx);
}

/* Passes on its own but leaves a deferred foreign key violation: COMMIT fails. */
static int dangling_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	return acs_store_exec(db,
			      "PRAGMA defer_foreign_keys = ON;"
			      "INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, "
			      "updated_at) VALUES (999, 1, 'x', 0, 0)",
			      err);
}

static void test_commit_failure_fails_batch(void **state)
{
	(void)state;
	struct fixture fx;
	char reason[ACS_ERR_LEN];
	fx_init(&fx);
	fx_open(&fx);

	struct kv_job before, dangling, after;
	kv_init(&before, &fx, "before", "1");
	kv_init(&dangling, &fx, "", NULL);
	kv_init(&after, &fx, "after", "2");
	put(&fx, &before);
	assert_int_equal(acs_store_write(fx.st, dangling_fn, kv_done, &dangling), 0);
	put(&fx, &after);
	acs_test_log_capture_begin();
	fx_wait(&fx, 3);
	acs_test_log_capture_end();

	/* Every job of the batch gets the commit error. */
	assert_int_equal(before.rc, ACS_ESTORE);
	assert_int_equal(dangling.rc, ACS_ESTORE);
	assert_int_equal(after.rc, ACS_ESTORE);
	assert_non_null(strstr(before.err, "commit failed"));
	assert_non_null(strstr(after.err, "FOREIGN KEY"));

	struct acs_store_stats s;
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.batches_committed, 0);
	assert_int_equal(s.commit_failures, 1);
	assert_int_equal(s.jobs_failed, 3);
	assert_false(acs_store_healthy(fx.st, reason));
	assert_non_null(strstr(reason, "commit failed"));

	char v[64];
	read_back(&fx, "before", v, sizeof(v));
	assert_string_equal(v, "");

	/* The next good commit restores health. */
	kv_init(&before, &fx, "before", "again");
	put(&fx, &before);
	fx_wait(&fx, fx.done + 1);
	assert_int_equal(before.rc, 0);
	assert_true(acs_store_healthy(fx.st, reason));
	assert_string_equal(reason, "");
	fx_fini(&fx);
}

/* Breaks the rules: ends the store's transaction (as sqlite does itself after an I/O
 * error or a full disk). */
static int rogue_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	return acs_store_exec(db, "ROLLBACK", err);
}

static void test_job_ending_transaction(void **state)
{
	(void)state;
	struct fixture fx;
	char v[64];
	fx_init(&fx);
	fx_open(&fx);

	struct kv_job a, rogue, c;
	kv_init(&a, &fx, "a", "1");
	kv_init(&rogue, &fx, "", NULL);
	kv_init(&c, &fx, "c", "3");
	put(&fx, &a);
	assert_int_equal(acs_store_write(fx.st, rogue_fn, kv_done, &rogue), 0);
	put(&fx, &c);
	acs_test_log_capture_begin();
	fx_wait(&fx, 3);
	assert_non_null(strstr(acs_test_log_captured(), "transaction aborted"));
	acs_test_log_capture_end();

	/* What shared the transaction is lost and says so; the rest of the batch
	 * continues in a new transaction. */
	assert_int_equal(a.rc, ACS_ESTORE);
	assert_non_null(strstr(a.err, "transaction aborted by job 1"));
	assert_int_equal(rogue.rc, ACS_ESTORE);
	assert_int_equal(c.rc, 0);
	struct acs_store_stats s;
	acs_store_stats(fx.st, &s);
	assert_int_equal(s.largest_batch, 3);
	assert_int_equal(s.batches_committed, 1);
	assert_int_equal(s.commit_failures, 1);
	assert_int_equal(s.jobs_committed, 1);
	assert_int_equal(s.jobs_failed, 2);
	read_back(&fx, "a", v, sizeof(v));
	assert_string_equal(v, "");
	read_back(&fx, "c", v, sizeof(v));
	assert_string_equal(v, "3");
	fx_fini(&fx);
}

static void test_read_connection_is_read_only(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	fx_open(&fx);

	struct kv_job j;
	kv_init(&j, &fx, "sneaky", "1");
	assert_int_equal(acs_store_read(fx.st, put_fn, kv_done, &j), 0);
	fx_wait(&fx, 1);
	assert_true(j.rc < 0);
	assert_non_null(strstr(j.err, "readonly"));
	char reason[ACS_ERR_LEN];
	assert_true(acs_store_healthy(fx.st, reason));
	fx_fini(&fx);
}

struct drain {
	struct fixture *fx;
	struct kv_job w[50];
	struct kv_job r[10];
	int late_rc; /**< a submission made from a callback during the drain */
};

static void drain_first_done(int rc, const char *err, void *arg)
{
	struct drain *d = acs_container_of(arg, struct drain, w[0]);
	kv_done(rc, err, arg);
	d->late_rc = acs_store_write(d->fx->st, put_fn, kv_done, &d->w[0]);
}

static void never_closed(void *arg)
{
	(void)arg;
	fail_msg("the second close's callback ran");
}

static void test_close_drains(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	fx_open(&fx);
	struct drain *d = acs_xcalloc(1, sizeof(*d));
	d->fx = &fx;

	kv_init(&d->w[0], &fx, "w00", "v");
	assert_int_equal(acs_store_write(fx.st, put_fn, drain_first_done, &d->w[0]), 0);
	for (int i = 1; i < 50; i++) {
		char key[16];
		snprintf(key, sizeof(key), "w%02d", i);
		kv_init(&d->w[i], &fx, key, "v");
		put(&fx, &d->w[i]);
	}
	for (int i = 0; i < 10; i++) {
		kv_init(&d->r[i], &fx, "w00", NULL);
		get(&fx, &d->r[i]);
	}
	assert_int_equal(acs_store_pending(fx.st), 60);

	/* Close before the loop even ran once: everything queued still completes. */
	acs_store_close(fx.st, on_closed, &fx);
	acs_store_close(fx.st, never_closed, NULL);
	struct kv_job refused;
	kv_init(&refused, &fx, "late", "v");
	assert_int_equal(acs_store_write(fx.st, put_fn, kv_done, &refused), ACS_ECLOSED);
	assert_int_equal(acs_store_read(fx.st, get_fn, kv_done, &refused), ACS_ECLOSED);
	char reason[ACS_ERR_LEN];
	assert_false(acs_store_healthy(fx.st, reason));
	assert_non_null(strstr(reason, "closing"));

	acs_test_run_until(&fx.loop, &fx.close_flag, WAIT_MS);
	assert_int_equal(fx.closed, 1);
	assert_int_equal(fx.done, 60);
	assert_int_equal(fx.done_at_close, 60); /* every callback before the close cb */
	assert_int_equal(d->late_rc, ACS_ECLOSED);
	assert_int_equal(refused.calls, 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(d->w[i].calls, 1);
		if (d->w[i].rc)
			fail_msg("job %d: %s", i, d->w[i].err);
	}
	for (int i = 0; i < 10; i++)
		assert_int_equal(d->r[i].calls, 1);

	/* The drained writes really are committed. */
	fx_open(&fx);
	assert_int_equal(count_via_store(&fx, "SELECT count(*) FROM meta"), 50);
	free(d);
	fx_fini(&fx);
}

/* A write job that holds the writer until the loop says so: if the store blocked the
 * loop, the release could never come (the job gives up after 10 s and fails). */
struct gate {
	struct fixture *fx;
	uv_mutex_t mu;
	uv_cond_t cond;
	bool entered; /**< the write job is running on the writer */
	bool open;    /**< the loop released the write job */
	int ticks;    /**< loop timer ticks while the write job was running */
	int ticks_at_release;
	bool healthy_while_blocked;
	uv_timer_t timer;
	struct kv_job read;
	struct kv_job write;
	int write_done_order; /**< fx->done when the write completed */
	int read_done_order;
};

static int gated_put_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct gate *g = acs_container_of(arg, struct gate, write);
	uv_mutex_lock(&g->mu);
	g->entered = true;
	uint64_t deadline = uv_hrtime() + 10ull * 1000 * 1000 * 1000;
	while (!g->open && uv_hrtime() < deadline)
		(void)uv_cond_timedwait(&g->cond, &g->mu, 100ull * 1000 * 1000);
	bool open = g->open;
	uv_mutex_unlock(&g->mu);
	if (!open) {
		snprintf(err, ACS_ERR_LEN, "the loop never released the job");
		return ACS_ETIMEOUT;
	}
	return put_fn(db, arg, err);
}

static void gate_read_done(int rc, const char *err, void *arg)
{
	struct gate *g = acs_container_of(arg, struct gate, read);
	kv_done(rc, err, arg);
	char reason[ACS_ERR_LEN];
	g->healthy_while_blocked = acs_store_healthy(g->fx->st, reason);
	/* The read finished while the write batch was still open: release it. */
	uv_mutex_lock(&g->mu);
	g->open = true;
	g->ticks_at_release = g->ticks;
	uv_cond_signal(&g->cond);
	uv_mutex_unlock(&g->mu);
}

static void gate_write_done(int rc, const char *err, void *arg)
{
	kv_done(rc, err, arg);
}

static void gate_tick(uv_timer_t *t)
{
	struct gate *g = acs_container_of(t, struct gate, timer);
	uv_mutex_lock(&g->mu);
	bool entered = g->entered;
	uv_mutex_unlock(&g->mu);
	if (!entered)
		return;
	/* After a few ticks with the writer busy, ask for a read. */
	if (++g->ticks == 5)
		assert_int_equal(acs_store_read(g->fx->st, get_fn, gate_read_done, &g->read), 0);
}

static void test_loop_never_blocked(void **state)
{
	(void)state;
	struct fixture fx;
	fx_init(&fx);
	fx_open(&fx);
	struct gate *g = acs_xcalloc(1, sizeof(*g));
	g->fx = &fx;
	assert_int_equal(uv_mutex_init(&g->mu), 0);
	assert_int_equal(uv_cond_init(&g->cond), 0);

	/* Something already committed for the read to find. */
	struct kv_job seed;
	kv_init(&seed, &fx, "seed", "s");
	put(&fx, &seed);
	fx_wait(&fx, 1);

	kv_init(&g->write, &fx, "gated", "g");
	kv_init(&g->read, &fx, "seed", NULL);
	assert_int_equal(acs_store_write(fx.st, gated_put_fn, gate_write_done, &g->write), 0);
	uv_timer_init(&fx.loop, &g->timer);
	uv_timer_start(&g->timer, gate_tick, 1, 1);
	fx_wait(&fx, 3);
	uv_close((uv_handle_t *)&g->timer, NULL);

	assert_int_equal(g->write.rc, 0);
	assert_int_equal(g->read.rc, 1);
	assert_string_equal(g->read.value, "s");
	/* The loop ticked and served a read while the writer was held. */
	assert_true(g->ticks_at_release >= 5);
	assert_true(g->read.seq < g->write.seq);
	assert_true(g->healthy_while_blocked);

	char v[64];
	read_back(&fx, "gated", v, sizeof(v));
	assert_string_equal(v, "g");
	fx_fini(&fx);
	uv_cond_destroy(&g->cond);
	uv_mutex_destroy(&g->mu);
	free(g);
}

static void test_backup(void **state)
{
	(void)state;
	struct fixture fx;
	char err[ACS_ERR_LEN] = "";
	fx_init(&fx);
	fx_open(&fx);
	struct kv_job jobs[20];
	for (int i = 0; i < 20; i++) {
		char key[16];
		snprintf(key, sizeof(key), "b%02d", i);
		kv_init(&jobs[i], &fx, key, "backed up");
		put(&fx, &jobs[i]);
	}
	fx_wait(&fx, 20);

	/* While the store is open, as the `backup` command does beside the daemon. */
	char *out = acs_xasprintf("%s/copy.db", fx.dir);
	int rc = acs_store_backup(fx.path, out, err);
	if (rc)
		fail_msg("backup: %s", err);
	assert_int_equal(file_mode(out), 0600);

	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(out, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM meta WHERE value = 'backed up'"), 20);
	assert_int_equal(sql_int(db, "PRAGMA user_version"), ACS_STORE_SCHEMA_VERSION);
	assert_int_equal(sql_int(db, "SELECT journal_mode = 'delete' FROM pragma_journal_mode"), 1);
	sqlite3_close(db);

	/* The store keeps working, and a second backup replaces the first. */
	struct kv_job more;
	kv_init(&more, &fx, "more", "1");
	put(&fx, &more);
	fx_wait(&fx, 21);
	assert_int_equal(acs_store_backup(fx.path, out, err), 0);
	assert_int_equal(sqlite3_open_v2(out, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sql_int(db, "SELECT count(*) FROM meta"), 21);
	sqlite3_close(db);

	/* No temporary file is left behind. */
	DIR *dh = opendir(fx.dir);
	assert_non_null(dh);
	struct dirent *de;
	while ((de = readdir(dh)))
		assert_null(strstr(de->d_name, ".tmp-"));
	closedir(dh);

	char *missing = acs_xasprintf("%s/missing.db", fx.dir);
	assert_int_equal(acs_store_backup(missing, out, err), -ENOENT);
	assert_int_equal(acs_store_backup(fx.path, fx.path, err), -EINVAL);
	assert_non_null(strstr(err, "live database"));
	char *nodir = acs_xasprintf("%s/no/such/dir/copy.db", fx.dir);
	assert_int_equal(acs_store_backup(fx.path, nodir, err), -ENOENT);
	free(nodir);
	free(missing);
	free(out);
	fx_fini(&fx);
}

static void test_reopen_keeps_committed_rows(void **state)
{
	(void)state;
	struct fixture fx;
	char v[64];
	fx_init(&fx);
	fx_open(&fx);
	struct kv_job j;
	kv_init(&j, &fx, "durable", "yes");
	put(&fx, &j);
	fx_wait(&fx, 1);
	assert_int_equal(j.rc, 0);
	fx_close_store(&fx);

	fx_open(&fx);
	read_back(&fx, "durable", v, sizeof(v));
	assert_string_equal(v, "yes");
	fx_fini(&fx);
}

/* ---- crash: a child commits, sees its callback, and is killed without closing ---- */

static void child_done(int rc, const char *err, void *arg)
{
	(void)err;
	int fd = *(int *)arg;
	/* The acknowledgement point: tell the parent, then die as a crash would (SIGKILL:
	 * no atexit, no close, no checkpoint, and no leak report from valgrind). */
	char c = rc == 0 ? 'A' : 'E';
	if (write(fd, &c, 1) != 1)
		_exit(5);
	kill(getpid(), SIGKILL);
}

static int child_put_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	return acs_store_exec(db, "INSERT INTO meta (key, value) VALUES ('crash', 'survived')",
			      err);
}

/* Runs in a fresh process (exec'd by the test, so valgrind does not report on a
 * process that is killed on purpose). */
static ACS_NORETURN void child_main(const char *path, int fd)
{
	uv_loop_t loop;
	struct acs_store *st = NULL;
	char err[ACS_ERR_LEN];
	if (uv_loop_init(&loop) || acs_store_open(&loop, path, &st, err))
		_exit(1);
	if (acs_store_write(st, child_put_fn, child_done, &fd))
		_exit(2);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(4); /* child_done never ran */
}

static char self_exe[4096]; /**< this test binary, for the crash child */

static void test_crash_after_commit(void **state)
{
	(void)state;
	struct fixture fx;
	int fds[2];
	fx_init(&fx);
	/* The schema exists before the child opens it, as after a first start. */
	fx_open(&fx);
	fx_close_store(&fx);

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char fdstr[16];
		close(fds[0]);
		snprintf(fdstr, sizeof(fdstr), "%d", fds[1]);
		execl(self_exe, self_exe, "--crash-child", fx.path, fdstr, (char *)NULL);
		_exit(6);
	}
	close(fds[1]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	char ack = 0;
	assert_int_equal(read(fds[0], &ack, 1), 1);
	close(fds[0]);
	assert_int_equal(ack, 'A');
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	/* The child never checkpointed: the row lives only in the WAL. */
	char *wal = acs_xasprintf("%s-wal", fx.path);
	struct stat sb;
	assert_int_equal(stat(wal, &sb), 0);
	assert_true(sb.st_size > 0);
	free(wal);

	fx_open(&fx);
	char v[64];
	read_back(&fx, "crash", v, sizeof(v));
	assert_string_equal(v, "survived");
	fx_fini(&fx);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct fixture fx;
	char err[ACS_ERR_LEN] = "";
	struct acs_store *st = (struct acs_store *)&fx; /* must be reset to NULL */
	fx_init(&fx);

	/* A database from a newer release is refused with a clear message. */
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(fx.path, &db), SQLITE_OK);
	char newer[64];
	snprintf(newer, sizeof(newer), "PRAGMA user_version = %d", ACS_STORE_SCHEMA_VERSION + 1);
	assert_int_equal(sqlite3_exec(db, newer, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(acs_store_open(&fx.loop, fx.path, &st, err), ACS_ESTORE);
	assert_null(st);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, fx.path));

	char *nodir = acs_xasprintf("%s/missing/sync.db", fx.dir);
	assert_int_equal(acs_store_open(&fx.loop, nodir, &st, err), -ENOENT);
	assert_non_null(strstr(err, "missing/sync.db"));
	free(nodir);
	assert_int_equal(acs_store_open(&fx.loop, ":memory:", &st, err), -EINVAL);
	assert_int_equal(acs_store_open(&fx.loop, fx.dir, &st, err), -EINVAL);

	/* Not a database at all. */
	char *junk = acs_xasprintf("%s/junk.db", fx.dir);
	FILE *f = fopen(junk, "w");
	assert_non_null(f);
	fputs("this is not an sqlite database, just some text that is long enough to "
	      "fill the header of one and then some more bytes",
	      f);
	fclose(f);
	assert_int_equal(acs_store_open(&fx.loop, junk, &st, err), ACS_ESTORE);
	free(junk);

	acs_store_close(NULL, NULL, NULL);
	fx_fini(&fx); /* no handle may be left on the loop */
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--crash-child") == 0)
		child_main(argv[2], (int)strtol(argv[3], NULL, 10));
	if (!realpath(argv[0], self_exe))
		return 1;
	acs_log_set_level(ACS_LOG_WARN); /* keep "database open" lines out of the output */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_creates_private_files),
		cmocka_unit_test(test_write_then_read),
		cmocka_unit_test(test_group_commit),
		cmocka_unit_test(test_lazy_writes),
		cmocka_unit_test(test_checkpoint_off_the_writer),
		cmocka_unit_test(test_checkpoints_spaced),
		cmocka_unit_test(test_wal_trimmed_when_idle),
		cmocka_unit_test(test_failing_job_rolls_back_alone),
		cmocka_unit_test(test_commit_failure_fails_batch),
		cmocka_unit_test(test_job_ending_transaction),
		cmocka_unit_test(test_read_connection_is_read_only),
		cmocka_unit_test(test_close_drains),
		cmocka_unit_test(test_loop_never_blocked),
		cmocka_unit_test(test_backup),
		cmocka_unit_test(test_reopen_keeps_committed_rows),
		cmocka_unit_test(test_crash_after_commit),
		cmocka_unit_test(test_open_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
