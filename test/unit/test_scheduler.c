/* SPDX-License-Identifier: MIT */
/* Tests for the inbox scheduler on a real store and loop: coalescing, per-item
 * order (also for events arriving while a job runs), the concurrency limit, pair
 * resolution, retries with backoff, the error queue (permanent failure, attempts
 * exhausted, retry from the queue), close waiting for jobs, kick coalescing and
 * recovery after a kill -9 in the middle of a job. */
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_util.h"

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"
#include "scheduler.h"
#include "store.h"

#define WAIT_MS 20000
#define MAX_JOBS 64
#define MAX_EVENTS 16

struct rec {
	char key[64];
	size_t n;
	int64_t ids[MAX_EVENTS];
	char item_keys[MAX_EVENTS][32];
	unsigned attempt;
	int64_t started_ms;
	int64_t finished_ms;
	size_t queued;	     /**< acs_scheduler_queued when the job started */
	char prefetched[64]; /**< acs_job_prefetched as a string, when set */
	int parsed_x;	     /**< "x" of the first event's json (opts.parse_bodies), or -1 */
};

struct fx;
typedef void (*job_hook)(struct fx *fx, struct acs_job *job, int index);

struct fx {
	uv_loop_t loop;
	char *dir;
	char *path;
	struct acs_store *st;
	struct acs_scheduler *s;
	struct acs_scheduler_opts o;
	struct rec jobs[MAX_JOBS];
	int n_jobs;
	int running; /**< work callbacks not yet finished */
	int max_running;
	size_t max_sched_running;
	/* behaviour of the work callback */
	enum acs_job_outcome script[MAX_JOBS]; /**< outcome of job i (default DONE) */
	const char *message;
	uint64_t delay_ms; /**< finish from a timer after this long */
	bool hold;	   /**< keep the job in held[] instead */
	struct acs_job *held[MAX_JOBS];
	int n_held;
	job_hook hook;
	int closed;
	int store_closed;
	/* a row read by a hook */
	int row_flag;
	int64_t row_attempts;
	int64_t row_next;
	char row_error[128];
};

/* ---- loop helpers ---- */

typedef bool (*pred_fn)(struct fx *fx);

static void until_timeout(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

static void run_until(struct fx *fx, pred_fn pred)
{
	uv_timer_t t;
	int timed_out = 0;
	assert_int_equal(uv_timer_init(&fx->loop, &t), 0);
	t.data = &timed_out;
	assert_int_equal(uv_timer_start(&t, until_timeout, WAIT_MS, 0), 0);
	while (!pred(fx) && !timed_out)
		uv_run(&fx->loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&fx->loop, UV_RUN_NOWAIT);
	assert_false(timed_out);
}

static void fx_open(struct fx *fx)
{
	char err[ACS_ERR_LEN] = "";
	if (acs_store_open(&fx->loop, fx->path, &fx->st, err))
		fail_msg("acs_store_open: %s", err);
}

static void fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->dir = acs_test_tmpdir();
	fx->path = acs_xasprintf("%s/sync.db", fx->dir);
	acs_scheduler_opts_defaults(&fx->o);
	fx->o.poll_interval_ms = 60000; /* kicks drive the tests, not the poll */
	fx->o.backoff_base_ms = 10;
	fx->o.backoff_max_ms = 40;
	fx_open(fx);
}

static void on_sched_closed(void *arg)
{
	struct fx *fx = arg;
	fx->closed = 1;
	fx->s = NULL;
}

static bool is_closed(struct fx *fx)
{
	return fx->closed;
}

static void fx_close_sched(struct fx *fx)
{
	fx->closed = 0;
	acs_scheduler_close(fx->s, on_sched_closed, fx);
	run_until(fx, is_closed);
}

static void on_store_closed(void *arg)
{
	struct fx *fx = arg;
	fx->store_closed = 1;
	fx->st = NULL;
}

static bool store_is_closed(struct fx *fx)
{
	return fx->store_closed;
}

static void fx_close_store(struct fx *fx)
{
	fx->store_closed = 0;
	acs_store_close(fx->st, on_store_closed, fx);
	run_until(fx, store_is_closed);
}

static void fx_fini(struct fx *fx)
{
	if (fx->s)
		fx_close_sched(fx);
	if (fx->st)
		fx_close_store(fx);
	acs_test_loop_close(&fx->loop);
	acs_test_rmtree(fx->dir);
	free(fx->path);
	free(fx->dir);
}

/* ---- store helpers ---- */

struct sql {
	int flag;
	int rc;
	char err[ACS_ERR_LEN];
	const char *q;
	int64_t i;
	char text[512];
};

static int sql_exec_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sql *s = arg;
	return acs_store_exec(db, s->q, err);
}

static int sql_query_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sql *s = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, s->q, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, s->q, err);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		s->i = sqlite3_column_int64(st, 0);
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(s->text, sizeof(s->text), "%s", t ? (const char *)t : "");
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "no row", err);
	}
	sqlite3_finalize(st);
	return rc;
}

static void sql_done(int rc, const char *err, void *arg)
{
	struct sql *s = arg;
	s->flag = 1;
	s->rc = rc;
	snprintf(s->err, sizeof(s->err), "%s", err ? err : "");
}

static void exec_sql(struct fx *fx, const char *q)
{
	struct sql s = { .q = q };
	assert_int_equal(acs_store_write(fx->st, sql_exec_fn, sql_done, &s), 0);
	acs_test_run_until(&fx->loop, &s.flag, WAIT_MS);
	if (s.rc)
		fail_msg("%s: %s", q, s.err);
}

static struct sql query(struct fx *fx, const char *q)
{
	struct sql s = { .q = q };
	assert_int_equal(acs_store_read(fx->st, sql_query_fn, sql_done, &s), 0);
	acs_test_run_until(&fx->loop, &s.flag, WAIT_MS);
	if (s.rc)
		fail_msg("%s: %s", q, s.err);
	return s;
}

static int64_t query_int(struct fx *fx, const char *q)
{
	return query(fx, q).i;
}

struct ins {
	int flag;
	int rc;
	struct acs_inbox_insert job;
};

static void ins_done(int rc, const char *err, void *arg)
{
	(void)err;
	struct ins *i = acs_container_of(arg, struct ins, job);
	i->flag = 1;
	i->rc = rc;
}

static int64_t add_event(struct fx *fx, const char *event_key, const char *item_key)
{
	struct ins i = { 0 };
	i.job = (struct acs_inbox_insert){
		.source = !strncmp(item_key, "ado:", 4) ? "ado" : "clickup",
		.event_key = event_key,
		.event_type = "updated",
		.item_key = item_key,
		.body = "{\"x\":1}",
		.body_len = 7,
		.received_at = acs_inbox_now_ms(),
	};
	assert_int_equal(acs_inbox_insert(fx->st, &i.job, ins_done), 0);
	acs_test_run_until(&fx->loop, &i.flag, WAIT_MS);
	assert_int_equal(i.rc, 0);
	assert_false(i.job.duplicate);
	return i.job.id;
}

/* ---- the work callback ---- */

struct later {
	uv_timer_t timer;
	struct fx *fx;
	struct acs_job *job;
	int index;
};

static void finish_job(struct fx *fx, struct acs_job *job, int index)
{
	enum acs_job_outcome out = fx->script[index];
	fx->running--;
	fx->jobs[index].finished_ms = acs_inbox_now_ms();
	acs_job_finish(job, out, out == ACS_JOB_DONE ? NULL : fx->message);
}

static void later_closed(uv_handle_t *h)
{
	free(acs_container_of((uv_timer_t *)h, struct later, timer));
}

static void later_cb(uv_timer_t *t)
{
	struct later *l = acs_container_of(t, struct later, timer);
	finish_job(l->fx, l->job, l->index);
	uv_close((uv_handle_t *)t, later_closed);
}

static void work(struct acs_job *job, void *arg)
{
	struct fx *fx = arg;
	assert_true(fx->n_jobs < MAX_JOBS);
	int index = fx->n_jobs++;
	struct rec *r = &fx->jobs[index];
	snprintf(r->key, sizeof(r->key), "%s", acs_job_item_key(job));
	r->n = acs_job_event_count(job);
	for (size_t i = 0; i < r->n && i < MAX_EVENTS; i++) {
		const struct acs_job_event *ev = acs_job_event_at(job, i);
		r->ids[i] = ev->id;
		snprintf(r->item_keys[i], sizeof(r->item_keys[i]), "%s", ev->item_key);
		assert_string_equal(ev->body, "{\"x\":1}");
		if (i == 0)
			r->parsed_x =
				ev->json ? (int)json_integer_value(json_object_get(ev->json, "x"))
					 : -1;
	}
	r->attempt = acs_job_attempt(job);
	r->started_ms = acs_inbox_now_ms();
	r->queued = acs_scheduler_queued(fx->s);
	if (acs_job_prefetched(job))
		snprintf(r->prefetched, sizeof(r->prefetched), "%s",
			 (const char *)acs_job_prefetched(job));
	acs_job_set_data(job, r);
	assert_ptr_equal(acs_job_get_data(job), r);
	fx->running++;
	if (fx->running > fx->max_running)
		fx->max_running = fx->running;
	if (acs_scheduler_running(fx->s) > fx->max_sched_running)
		fx->max_sched_running = acs_scheduler_running(fx->s);
	if (fx->hook)
		fx->hook(fx, job, index);
	if (fx->hold) {
		fx->held[fx->n_held++] = job;
		return;
	}
	struct later *l = acs_xcalloc(1, sizeof(*l));
	l->fx = fx;
	l->job = job;
	l->index = index;
	assert_int_equal(uv_timer_init(&fx->loop, &l->timer), 0);
	assert_int_equal(uv_timer_start(&l->timer, later_cb, fx->delay_ms, 0), 0);
}

static void fx_start(struct fx *fx)
{
	fx->s = acs_scheduler_new(&fx->loop, fx->st, &fx->o, work, fx);
	assert_non_null(fx->s);
}

static int want_jobs;
static bool jobs_idle(struct fx *fx)
{
	return fx->n_jobs >= want_jobs && acs_scheduler_running(fx->s) == 0 &&
	       acs_scheduler_recording(fx->s) == 0;
}

/* Wait until n jobs have started and every outcome is recorded. */
static void wait_jobs_done(struct fx *fx, int n)
{
	want_jobs = n;
	run_until(fx, jobs_idle);
	assert_int_equal(fx->n_jobs, n);
}

static bool jobs_started(struct fx *fx)
{
	return fx->n_jobs >= want_jobs;
}

static void wait_jobs_started(struct fx *fx, int n)
{
	want_jobs = n;
	run_until(fx, jobs_started);
}

static uint64_t reads_wanted;
static bool reads_reached(struct fx *fx)
{
	struct acs_store_stats st;
	acs_store_stats(fx->st, &st);
	return st.reads_done >= reads_wanted && st.pending == 0;
}

/* Kick and wait for the queue read it causes (and for any claim it starts). */
static void wait_kicked_read(struct fx *fx)
{
	struct acs_store_stats st;
	acs_store_stats(fx->st, &st);
	acs_scheduler_kick(fx->s);
	reads_wanted = st.reads_done + 1;
	run_until(fx, reads_reached);
}

/* ---- tests ---- */

/* A burst queued before the first job: one job per item, events in order. */
static void test_coalescing(void **state)
{
	(void)state;
	struct fx fx;
	char key[16];
	int64_t ids[10];
	fx_init(&fx);
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "a%d", i);
		ids[i] = add_event(&fx, key, "ado:1");
	}
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	assert_string_equal(fx.jobs[0].key, "ado:1");
	assert_int_equal(fx.jobs[0].n, 10);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fx.jobs[0].ids[i], ids[i]);
	assert_int_equal(fx.jobs[0].attempt, 1);
	assert_int_equal(fx.jobs[0].queued, 10);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"
					" AND attempts = 1"),
			 10);

	/* Interleaved events of two items: one job each, each in arrival order. */
	int64_t b1 = add_event(&fx, "b1", "ado:2");
	int64_t c1 = add_event(&fx, "c1", "clickup:c");
	int64_t b2 = add_event(&fx, "b2", "ado:2");
	int64_t c2 = add_event(&fx, "c2", "clickup:c");
	int64_t b3 = add_event(&fx, "b3", "ado:2");
	acs_scheduler_kick(fx.s);
	wait_jobs_done(&fx, 3);
	struct rec *rb = !strcmp(fx.jobs[1].key, "ado:2") ? &fx.jobs[1] : &fx.jobs[2];
	struct rec *rc = rb == &fx.jobs[1] ? &fx.jobs[2] : &fx.jobs[1];
	assert_string_equal(rc->key, "clickup:c");
	assert_int_equal(rb->n, 3);
	assert_int_equal(rb->ids[0], b1);
	assert_int_equal(rb->ids[1], b2);
	assert_int_equal(rb->ids[2], b3);
	assert_int_equal(rc->n, 2);
	assert_int_equal(rc->ids[0], c1);
	assert_int_equal(rc->ids[1], c2);
	assert_int_equal(acs_scheduler_running(fx.s), 0);
	fx_fini(&fx);
}

/* With a cooldown, a burst arriving right after an item's job started waits for
 * the cooldown to end and then runs as one job, while another item starts at
 * once. */
static void test_cooldown_coalesces_burst(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.o.cooldown_ms = 300;
	add_event(&fx, "k1", "ado:1");
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	int64_t first_started = fx.jobs[0].started_ms;

	/* Five more edits of ado:1, each kicking, and one of ado:2. */
	for (int i = 0; i < 5; i++) {
		char key[16];
		snprintf(key, sizeof(key), "k%d", i + 2);
		add_event(&fx, key, "ado:1");
		acs_scheduler_kick(fx.s);
	}
	add_event(&fx, "other", "ado:2");
	acs_scheduler_kick(fx.s);
	wait_jobs_done(&fx, 3);
	assert_string_equal(fx.jobs[1].key, "ado:2"); /* not held back */
	assert_string_equal(fx.jobs[2].key, "ado:1");
	assert_int_equal(fx.jobs[2].n, 5); /* the whole burst in one job */
	/* Held back for the cooldown. started_ms is taken when the work callback
	 * runs, after the claim's store round trip, which may have been slower for
	 * the first job than for this one: allow that slack. */
	assert_true(fx.jobs[2].started_ms - first_started >= 250);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 7);
	fx_fini(&fx);
}

/* Events arriving while their item's job runs wait for the next job of the item;
 * other items do not wait. */
static void test_order_and_arrivals_during_job(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	int64_t e1 = add_event(&fx, "e1", "ado:1");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	assert_int_equal(fx.jobs[0].n, 1);
	assert_int_equal(fx.jobs[0].ids[0], e1);

	int64_t e2 = add_event(&fx, "e2", "ado:1");
	int64_t e3 = add_event(&fx, "e3", "ado:1");
	int64_t f1 = add_event(&fx, "f1", "ado:2");
	acs_scheduler_kick(fx.s);
	wait_jobs_started(&fx, 2);
	/* The read that started ado:2 also saw e2 and e3, and left them alone. */
	assert_string_equal(fx.jobs[1].key, "ado:2");
	assert_int_equal(fx.jobs[1].ids[0], f1);
	assert_int_equal(fx.jobs[1].queued, 4); /* e1 too: pending until its outcome */
	assert_int_equal(acs_scheduler_running(fx.s), 2);
	/* Claims are kept in memory: every row stays pending until its outcome. */
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 4);

	/* The first job ends: the next job of ado:1 takes e2 and e3. */
	finish_job(&fx, fx.held[0], 0);
	wait_jobs_started(&fx, 3);
	assert_string_equal(fx.jobs[2].key, "ado:1");
	assert_int_equal(fx.jobs[2].n, 2);
	assert_int_equal(fx.jobs[2].ids[0], e2);
	assert_int_equal(fx.jobs[2].ids[1], e3);
	assert_int_equal(fx.jobs[2].attempt, 1);
	finish_job(&fx, fx.held[1], 1);
	finish_job(&fx, fx.held[2], 2);
	wait_jobs_done(&fx, 3);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 4);
	fx_fini(&fx);
}

/* The same, with the work finishing from timers and the events written from the
 * first job itself (as the intake would, kicking after each commit). */
/* Inserts submitted from inside a job (no nested loop run): each commit kicks. */
struct late_ins {
	struct fx *fx;
	struct acs_inbox_insert job;
};

static void late_done(int rc, const char *err, void *arg)
{
	(void)err;
	struct late_ins *l = acs_container_of(arg, struct late_ins, job);
	assert_int_equal(rc, 0);
	acs_scheduler_kick(l->fx->s);
	free(l);
}

static void add_event_async(struct fx *fx, const char *event_key, const char *item_key)
{
	struct late_ins *l = acs_xcalloc(1, sizeof(*l));
	l->fx = fx;
	l->job = (struct acs_inbox_insert){
		.source = "ado",
		.event_key = event_key,
		.event_type = "updated",
		.item_key = item_key,
		.body = "{\"x\":1}",
		.body_len = 7,
		.received_at = acs_inbox_now_ms(),
	};
	assert_int_equal(acs_inbox_insert(fx->st, &l->job, late_done), 0);
}

static void add_more_hook(struct fx *fx, struct acs_job *job, int index)
{
	(void)job;
	if (index != 0)
		return;
	/* Committed while the job runs (it finishes from a timer later). */
	add_event_async(fx, "late-1", "ado:7");
	add_event_async(fx, "late-2", "ado:7");
}

static void test_order_with_timers(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.delay_ms = 5;
	fx.hook = add_more_hook;
	int64_t first = add_event(&fx, "early", "ado:7");
	fx_start(&fx);
	wait_jobs_done(&fx, 2);
	assert_int_equal(fx.jobs[0].n, 1);
	assert_int_equal(fx.jobs[0].ids[0], first);
	assert_int_equal(fx.jobs[1].n, 2);
	assert_true(fx.jobs[1].ids[0] > first && fx.jobs[1].ids[1] > fx.jobs[1].ids[0]);
	/* One job per item at a time: the second started after the first ended. */
	assert_true(fx.jobs[1].started_ms >= fx.jobs[0].finished_ms);
	assert_int_equal(fx.max_running, 1);
	fx_fini(&fx);
}

static void test_concurrency_limit(void **state)
{
	(void)state;
	struct fx fx;
	char key[16], item[16];
	fx_init(&fx);
	fx.o.concurrency = 3;
	fx.delay_ms = 3;
	for (int i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		snprintf(item, sizeof(item), "ado:%d", 100 + i);
		add_event(&fx, key, item);
	}
	fx_start(&fx);
	wait_jobs_done(&fx, 10);
	assert_int_equal(fx.max_running, 3);
	assert_true(fx.max_sched_running <= 3);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 10);
	/* Oldest item first. */
	assert_string_equal(fx.jobs[0].key, "ado:100");
	fx_fini(&fx);
}

static uint64_t reads_now(struct fx *fx)
{
	return acs_scheduler_queue_reads(fx->s);
}

/* Until every store job submitted so far has completed. */
static void wait_store_idle(struct fx *fx)
{
	reads_wanted = 0;
	run_until(fx, reads_reached);
}

/* Under load the slots take the due items a read found, in order, without a read per
 * finished job; kicks while every slot is busy wait for the backlog to run out, and
 * nothing is lost: the items they announced run after it. */
static void test_backlog(void **state)
{
	(void)state;
	struct fx fx;
	char key[16], item[16];
	fx_init(&fx);
	fx.o.concurrency = 2;
	fx.hold = true;
	for (int i = 1; i <= 6; i++) {
		snprintf(key, sizeof(key), "b%d", i);
		snprintf(item, sizeof(item), "ado:%d", 200 + i);
		add_event(&fx, key, item);
	}
	fx_start(&fx);
	wait_jobs_started(&fx, 2);
	wait_store_idle(&fx);
	assert_string_equal(fx.jobs[0].key, "ado:201");
	assert_string_equal(fx.jobs[1].key, "ado:202");
	uint64_t r0 = reads_now(&fx);

	/* Both slots busy: the kick reads nothing now. */
	int64_t late = add_event(&fx, "b7", "ado:207");
	int64_t again = add_event(&fx, "b1-again", "ado:201");
	acs_scheduler_kick(fx.s);
	wait_store_idle(&fx);
	assert_int_equal(reads_now(&fx), r0);

	/* Each finished job hands its slot to the next item of the backlog. */
	for (int i = 0; i < 4; i++) {
		finish_job(&fx, fx.held[i], i);
		wait_jobs_started(&fx, 3 + i);
		snprintf(item, sizeof(item), "ado:%d", 203 + i);
		assert_string_equal(fx.jobs[2 + i].key, item);
	}
	wait_store_idle(&fx);
	assert_int_equal(reads_now(&fx), r0);

	/* The backlog is used up: the next free slot reads, and finds what the kick
	 * announced (oldest first). */
	finish_job(&fx, fx.held[4], 4);
	wait_jobs_started(&fx, 7);
	assert_true(reads_now(&fx) > r0);
	assert_string_equal(fx.jobs[6].key, "ado:207");
	assert_int_equal(fx.jobs[6].ids[0], late);
	finish_job(&fx, fx.held[5], 5);
	wait_jobs_started(&fx, 8);
	assert_string_equal(fx.jobs[7].key, "ado:201");
	assert_int_equal(fx.jobs[7].n, 1);
	assert_int_equal(fx.jobs[7].ids[0], again);
	finish_job(&fx, fx.held[6], 6);
	finish_job(&fx, fx.held[7], 7);
	wait_jobs_done(&fx, 8);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 8);
	assert_int_equal(fx.max_running, 2);
	fx_fini(&fx);
}

/* Pair ADO item ado_id with ClickUp task cu (and the mapping the pair needs). */
static void pair_items(struct fx *fx, int64_t ado_id, const char *cu)
{
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "INSERT OR IGNORE INTO project_map (id, name, ado_project, clickup_list_id,"
		 " created_at, updated_at) VALUES (1, 'm', 'P', 'L', 0, 0);"
		 "INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, updated_at)"
		 " VALUES (1, %lld, '%s', 0, 0)",
		 (long long)ado_id, cu);
	exec_sql(fx, sql);
}

static void test_pair_resolution(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	pair_items(&fx, 42, "abc");
	int64_t e1 = add_event(&fx, "p1", "clickup:abc");
	int64_t e2 = add_event(&fx, "p2", "ado:42");
	int64_t e3 = add_event(&fx, "p3", "clickup:abc");
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	assert_string_equal(fx.jobs[0].key, "ado:42");
	assert_int_equal(fx.jobs[0].n, 3);
	assert_int_equal(fx.jobs[0].ids[0], e1);
	assert_int_equal(fx.jobs[0].ids[1], e2);
	assert_int_equal(fx.jobs[0].ids[2], e3);
	assert_string_equal(fx.jobs[0].item_keys[0], "clickup:abc"); /* as stored */
	assert_string_equal(fx.jobs[0].item_keys[1], "ado:42");
	fx_fini(&fx);
}

/* The pair is formed while a job of its ClickUp key runs (the job itself creates the
 * twin): an event for the ADO key must wait for that job, not run beside it. */
static void test_pair_formed_while_running(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	add_event(&fx, "n1", "clickup:new");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	assert_string_equal(fx.jobs[0].key, "clickup:new");

	pair_items(&fx, 500, "new");
	int64_t e2 = add_event(&fx, "n2", "ado:500");
	wait_kicked_read(&fx);
	assert_int_equal(fx.n_jobs, 1);
	/* Later reads skip the item too (no claim loop while it runs). */
	wait_kicked_read(&fx);
	assert_int_equal(fx.n_jobs, 1);
	assert_int_equal(acs_scheduler_running(fx.s), 1);

	finish_job(&fx, fx.held[0], 0);
	wait_jobs_started(&fx, 2);
	assert_string_equal(fx.jobs[1].key, "ado:500");
	assert_int_equal(fx.jobs[1].n, 1);
	assert_int_equal(fx.jobs[1].ids[0], e2);
	finish_job(&fx, fx.held[1], 1);
	wait_jobs_done(&fx, 2);
	fx_fini(&fx);
}

/* Read the row of the second attempt while it runs (it still carries the values the
 * first attempt's RETRY wrote). */
static void row_read_done(int rc, const char *err, void *arg)
{
	(void)err;
	struct fx *fx = arg;
	assert_int_equal(rc, 0);
	fx->row_flag = 1;
	/* The second attempt ends only now: its own RETRY cannot be read instead. */
	assert_int_equal(fx->n_held, 1);
	fx->hold = false;
	finish_job(fx, fx->held[--fx->n_held], 1);
}

static int row_read_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct fx *fx = arg;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT attempts, next_attempt_at, last_error FROM inbox"
				    " WHERE event_key = 'r1'",
				    -1, &s, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	if (sqlite3_step(s) == SQLITE_ROW) {
		fx->row_attempts = sqlite3_column_int64(s, 0);
		fx->row_next = sqlite3_column_int64(s, 1);
		snprintf(fx->row_error, sizeof(fx->row_error), "%s",
			 (const char *)sqlite3_column_text(s, 2));
	}
	sqlite3_finalize(s);
	return 0;
}

static void read_row_hook(struct fx *fx, struct acs_job *job, int index)
{
	(void)job;
	if (index == 1) {
		fx->hold = true; /* until the read is back (row_read_done) */
		assert_int_equal(acs_store_read(fx->st, row_read_fn, row_read_done, fx), 0);
	}
}

static void test_retry_backoff_then_success(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.o.backoff_base_ms = 20;
	fx.o.backoff_max_ms = 30;
	fx.script[0] = ACS_JOB_RETRY;
	fx.script[1] = ACS_JOB_RETRY;
	fx.script[2] = ACS_JOB_DONE;
	fx.message = "HTTP 503: service unavailable";
	fx.hook = read_row_hook;
	add_event(&fx, "r1", "clickup:t1");
	fx_start(&fx);
	wait_jobs_done(&fx, 3);
	assert_int_equal(fx.jobs[0].attempt, 1);
	assert_int_equal(fx.jobs[1].attempt, 2);
	assert_int_equal(fx.jobs[2].attempt, 3);
	acs_test_run_until(&fx.loop, &fx.row_flag, WAIT_MS);
	/* What the first RETRY recorded: one attempt, the message, and a due time
	 * within the first backoff ceiling of its finish; the retry waited for it. */
	assert_int_equal(fx.row_attempts, 1);
	assert_string_equal(fx.row_error, "HTTP 503: service unavailable");
	assert_true(fx.row_next >= fx.jobs[0].finished_ms);
	assert_true(fx.row_next <= fx.jobs[0].finished_ms + 20 + 5);
	assert_true(fx.jobs[1].started_ms >= fx.row_next);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"
					" AND attempts = 3"),
			 1);
	fx_fini(&fx);
}

struct op_call {
	int flag;
	int rc;
	struct acs_inbox_error_op op;
};

static void op_done(int rc, const char *err, void *arg)
{
	(void)err;
	struct op_call *c = acs_container_of(arg, struct op_call, op);
	c->flag = 1;
	c->rc = rc;
}

static void test_permanent_failure_and_retry_from_queue(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.script[0] = ACS_JOB_FAILED;
	fx.message = "HTTP 400: status 'Doing' is not valid";
	add_event(&fx, "f1", "ado:5");
	add_event(&fx, "f2", "ado:5");
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	assert_int_equal(fx.jobs[0].n, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'error'"
					" AND attempts = 1 AND last_error ="
					" 'HTTP 400: status ''Doing'' is not valid'"),
			 2);

	/* The dashboard's retry puts them back; a kick runs them again. */
	struct op_call r = { 0 };
	assert_int_equal(acs_inbox_error_retry(fx.st, &r.op, op_done), 0);
	acs_test_run_until(&fx.loop, &r.flag, WAIT_MS);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.op.changed, 2);
	acs_scheduler_kick(fx.s);
	wait_jobs_done(&fx, 2);
	assert_int_equal(fx.jobs[1].n, 2);
	assert_int_equal(fx.jobs[1].attempt, 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 2);
	fx_fini(&fx);
}

static void test_attempts_exhausted(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.o.max_attempts = 3;
	fx.o.backoff_base_ms = 1;
	fx.o.backoff_max_ms = 2;
	for (int i = 0; i < MAX_JOBS; i++)
		fx.script[i] = ACS_JOB_RETRY;
	fx.message = "HTTP 502: bad gateway";
	add_event(&fx, "x1", "ado:9");
	fx_start(&fx);
	wait_jobs_done(&fx, 3);
	assert_int_equal(fx.jobs[2].attempt, 3);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'error'"
					" AND attempts = 3 AND last_error = 'HTTP 502: bad "
					"gateway'"),
			 1);
	/* Nothing left to run: a kick reads the queue and starts nothing. */
	wait_kicked_read(&fx);
	assert_int_equal(fx.n_jobs, 3);
	assert_int_equal(acs_scheduler_running(fx.s), 0);
	fx_fini(&fx);
}

/* close waits for the running job and records its outcome first. */
static void test_close_waits_for_jobs(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	add_event(&fx, "w1", "ado:3");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	fx.closed = 0;
	acs_scheduler_close(fx.s, on_sched_closed, &fx);
	acs_scheduler_close(fx.s, on_sched_closed, &fx); /* idempotent */
	/* A store round trip later the job still runs and close has not finished. */
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 1);
	assert_int_equal(fx.closed, 0);
	finish_job(&fx, fx.held[0], 0);
	run_until(&fx, is_closed);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 1);
	fx_fini(&fx);
}

/* The outcome write fails (injected by a trigger): the rows stay pending, the
 * item stays busy (its slot is free: SLOTS in scheduler.c), and the write is retried
 * until it lands. */
static void test_outcome_write_retried(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	exec_sql(&fx, "INSERT INTO meta (key, value) VALUES ('test.fail', '1');"
		      "CREATE TRIGGER test_fail BEFORE UPDATE OF state ON inbox"
		      " WHEN NEW.state = 'done' AND"
		      " (SELECT value FROM meta WHERE key = 'test.fail') = '1'"
		      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
	add_event(&fx, "o1", "ado:8");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	finish_job(&fx, fx.held[0], 0);
	/* After a write submitted later (writes run in order): the outcome write has
	 * failed, nothing is recorded and the job waits to record it. */
	exec_sql(&fx, "UPDATE meta SET value = value WHERE key = 'none'");
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 1);
	assert_int_equal(acs_scheduler_running(fx.s), 0);
	assert_int_equal(acs_scheduler_recording(fx.s), 1);
	exec_sql(&fx, "UPDATE meta SET value = '0' WHERE key = 'test.fail'");
	wait_jobs_done(&fx, 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 1);
	fx_fini(&fx);
}

/* With one slot: while the first item's outcome cannot be written, a second item
 * takes the slot, but a new event of the first item waits for its outcome. */
static void test_slot_free_while_recording(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.o.concurrency = 1;
	fx.hold = true;
	exec_sql(&fx, "INSERT INTO meta (key, value) VALUES ('test.fail', '1');"
		      "CREATE TRIGGER test_fail BEFORE UPDATE OF state ON inbox"
		      " WHEN NEW.state = 'done' AND NEW.item_key = 'ado:8' AND"
		      " (SELECT value FROM meta WHERE key = 'test.fail') = '1'"
		      " BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
	add_event(&fx, "s1", "ado:8");
	add_event(&fx, "s2", "ado:9");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	assert_string_equal(fx.jobs[0].key, "ado:8");
	add_event(&fx, "s3", "ado:8");
	acs_scheduler_kick_item(fx.s, "ado:8"); /* as the intake does */
	finish_job(&fx, fx.held[0], 0);
	wait_jobs_started(&fx, 2);
	assert_string_equal(fx.jobs[1].key, "ado:9");
	assert_int_equal(acs_scheduler_recording(fx.s), 1);
	finish_job(&fx, fx.held[1], 1);
	/* ado:8 is still recording: s3 must not start (a store round trip later). */
	exec_sql(&fx, "UPDATE meta SET value = value WHERE key = 'none'");
	assert_int_equal(fx.n_jobs, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"), 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 1);
	exec_sql(&fx, "UPDATE meta SET value = '0' WHERE key = 'test.fail'");
	wait_jobs_started(&fx, 3);
	assert_string_equal(fx.jobs[2].key, "ado:8");
	assert_int_equal(fx.jobs[2].n, 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 2);
	finish_job(&fx, fx.held[2], 2);
	wait_jobs_done(&fx, 3);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 3);
	fx_fini(&fx);
}

/* A tail: its writes commit with the outcome; when it fails, the job is recorded as a
 * retry with its message and runs again; its arg is freed once per finish. */
struct tail_arg {
	const char *value; /* meta row to write */
	bool fail;
	int *frees;
};

static int tail_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct tail_arg *t = arg;
	if (t->fail) {
		snprintf(err, ACS_ERR_LEN, "tail broke");
		return ACS_ESTORE;
	}
	char *sql =
		sqlite3_mprintf("INSERT INTO meta (key, value) VALUES ('tail.%q', 'x')", t->value);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_free(sql);
	if (rc != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "%s", sqlite3_errmsg(db));
		return ACS_ESTORE;
	}
	return 0;
}

static void tail_free(void *arg)
{
	struct tail_arg *t = arg;
	(*t->frees)++;
	free(t);
}

static void finish_with_tail(struct fx *fx, int index, const char *value, bool fail, int *frees)
{
	struct tail_arg *t = acs_xcalloc(1, sizeof(*t));
	t->value = value;
	t->fail = fail;
	t->frees = frees;
	struct acs_job_tail tail = { .fn = tail_fn, .free = tail_free, .arg = t };
	fx->running--;
	acs_job_finish_with(fx->held[index], ACS_JOB_DONE, NULL, &tail);
}

static void test_tail_with_outcome(void **state)
{
	(void)state;
	struct fx fx;
	int frees = 0;
	fx_init(&fx);
	fx.hold = true;
	add_event(&fx, "t1", "ado:5");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	finish_with_tail(&fx, 0, "first", true, &frees);
	/* The failed tail: a retry with its message, nothing of it written. */
	wait_jobs_started(&fx, 2);
	assert_int_equal(frees, 1);
	assert_int_equal(fx.jobs[1].attempt, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM meta WHERE key LIKE 'tail.%'"), 0);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE last_error = 'tail broke'"
					" AND attempts = 1"),
			 1);
	finish_with_tail(&fx, 1, "second", false, &frees);
	wait_jobs_done(&fx, 2);
	assert_int_equal(frees, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM meta WHERE key = 'tail.second'"), 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"
					" AND attempts = 2"),
			 1);
	fx_fini(&fx);
}

/* The prefetch hook runs with each claim that found rows, for the resolved key; its
 * result reaches the job and is freed with it. */
static int prefetch_frees;

static void *prefetch_fn(sqlite3 *db, const char *key, void *arg)
{
	assert_non_null(db);
	return acs_xasprintf("%s for %s", (const char *)arg, key);
}

static void prefetch_free_fn(void *data)
{
	prefetch_frees++;
	free(data);
}

static void test_prefetch(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.o.prefetch = prefetch_fn;
	fx.o.prefetch_free = prefetch_free_fn;
	fx.o.prefetch_arg = "pair";
	fx.o.parse_bodies = true;
	prefetch_frees = 0;
	pair_items(&fx, 31, "t31");
	add_event(&fx, "p1", "clickup:t31");
	add_event(&fx, "p2", "ado:32");
	fx_start(&fx);
	wait_jobs_done(&fx, 2);
	assert_string_equal(fx.jobs[0].prefetched, "pair for ado:31");
	assert_string_equal(fx.jobs[1].prefetched, "pair for ado:32");
	assert_int_equal(fx.jobs[0].parsed_x, 1);
	assert_int_equal(fx.jobs[1].parsed_x, 1);
	assert_int_equal(prefetch_frees, 2);
	fx_fini(&fx);
}

/* Keyed kicks: no read for an item with a job (its end reads) or in its cooldown (its
 * end reads); any other item is claimed at once while a slot is free, without a queue
 * read; nothing waits longer than that. */
static void test_kick_item(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	fx.o.cooldown_ms = 200;
	add_event(&fx, "k1", "ado:61");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	wait_store_idle(&fx);
	uint64_t r0 = reads_now(&fx);

	/* Its own item while the job runs: no read now. */
	add_event(&fx, "k2", "ado:61");
	acs_scheduler_kick_item(fx.s, "ado:61");
	wait_store_idle(&fx);
	assert_int_equal(reads_now(&fx), r0);

	/* Another item, a slot free: claimed at once, no queue read. */
	add_event(&fx, "k3", "ado:62");
	acs_scheduler_kick_item(fx.s, "ado:62");
	wait_jobs_started(&fx, 2);
	assert_string_equal(fx.jobs[1].key, "ado:62");
	assert_int_equal(reads_now(&fx), r0);
	finish_job(&fx, fx.held[1], 1);

	/* The first job ends: the read its end makes finds k2, which waits out the cooldown
	 * of ado:61 (started < 200 ms ago) and then runs. */
	finish_job(&fx, fx.held[0], 0);
	wait_jobs_started(&fx, 3);
	assert_string_equal(fx.jobs[2].key, "ado:61");
	assert_int_equal(fx.jobs[2].n, 1);
	assert_true(fx.jobs[2].started_ms - fx.jobs[0].started_ms >= 200);

	/* In its cooldown again: a delivery for it reads nothing now, and runs after. */
	finish_job(&fx, fx.held[2], 2);
	wait_jobs_done(&fx, 3);
	uint64_t r1 = reads_now(&fx);
	add_event(&fx, "k4", "ado:61");
	acs_scheduler_kick_item(fx.s, "ado:61");
	wait_store_idle(&fx);
	assert_int_equal(reads_now(&fx), r1);
	wait_jobs_started(&fx, 4);
	assert_string_equal(fx.jobs[3].key, "ado:61");
	assert_true(fx.jobs[3].started_ms - fx.jobs[2].started_ms >= 200);
	finish_job(&fx, fx.held[3], 3);
	wait_jobs_done(&fx, 4);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 4);
	fx_fini(&fx);
}

/* A claim dropped because its item is busy (the pair was formed while a job of the
 * other key ran) leaves the read to that job's end: its rows then run without any
 * further kick. */
static void test_busy_claim_reads_at_job_end(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx.hold = true;
	add_event(&fx, "b1", "clickup:busy");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	pair_items(&fx, 600, "busy");
	int64_t e2 = add_event(&fx, "b2", "ado:600");
	acs_scheduler_kick_item(fx.s, "ado:600"); /* claimed at once, found busy */
	wait_store_idle(&fx);
	assert_int_equal(fx.n_jobs, 1);
	finish_job(&fx, fx.held[0], 0);
	wait_jobs_started(&fx, 2);
	assert_string_equal(fx.jobs[1].key, "ado:600");
	assert_int_equal(fx.jobs[1].n, 1);
	assert_int_equal(fx.jobs[1].ids[0], e2);
	finish_job(&fx, fx.held[1], 1);
	wait_jobs_done(&fx, 2);
	fx_fini(&fx);
}

/* A claim whose read began before the outcome of a job of the same item was written
 * and ended after it may hold that job's rows: it is dropped and the item read again,
 * so no row runs twice. The prefetch hook (inside the claim's read) holds the read
 * until the other job's outcome is written. */
static uv_sem_t gate_sem;
static atomic_int gate_armed, gate_entered;

static void *gate_prefetch(sqlite3 *db, const char *key, void *arg)
{
	(void)db;
	(void)arg;
	if (atomic_load(&gate_armed) && !strcmp(key, "ado:700")) {
		atomic_store(&gate_armed, 0);
		atomic_store(&gate_entered, 1);
		uv_sem_wait(&gate_sem);
	}
	return acs_xstrdup(key);
}

static bool gate_is_entered(struct fx *fx)
{
	(void)fx;
	return atomic_load(&gate_entered);
}

static bool recorded_all(struct fx *fx)
{
	return acs_scheduler_recording(fx->s) == 0;
}

static void tick_cb(uv_timer_t *t)
{
	(void)t; /* wakes the loop: the reader thread is held */
}

static void test_stale_claim_dropped(void **state)
{
	(void)state;
	struct fx fx;
	uv_timer_t tick;
	fx_init(&fx);
	fx.hold = true;
	fx.o.prefetch = gate_prefetch;
	fx.o.prefetch_free = free;
	assert_int_equal(uv_sem_init(&gate_sem, 0), 0);
	atomic_store(&gate_armed, 0);
	atomic_store(&gate_entered, 0);
	int64_t e1 = add_event(&fx, "s1", "clickup:s7");
	fx_start(&fx);
	wait_jobs_started(&fx, 1);
	assert_int_equal(fx.jobs[0].ids[0], e1);
	pair_items(&fx, 700, "s7");
	int64_t e2 = add_event(&fx, "s2", "ado:700");

	/* The claim of ado:700 reads both keys (s1 still pending) and is held. */
	assert_int_equal(uv_timer_init(&fx.loop, &tick), 0);
	assert_int_equal(uv_timer_start(&tick, tick_cb, 1, 1), 0);
	atomic_store(&gate_armed, 1);
	acs_scheduler_kick_item(fx.s, "ado:700");
	run_until(&fx, gate_is_entered);
	/* The first job ends and its outcome (s1 done) is written meanwhile. */
	finish_job(&fx, fx.held[0], 0);
	run_until(&fx, recorded_all);
	uv_sem_post(&gate_sem);
	uv_close((uv_handle_t *)&tick, NULL);

	/* The held claim is stale: the next job of the item has s2 only. */
	wait_jobs_started(&fx, 2);
	assert_string_equal(fx.jobs[1].key, "ado:700");
	assert_int_equal(fx.jobs[1].n, 1);
	assert_int_equal(fx.jobs[1].ids[0], e2);
	finish_job(&fx, fx.held[1], 1);
	wait_jobs_done(&fx, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"
					" AND attempts = 1"),
			 2);
	uv_sem_destroy(&gate_sem);
	fx_fini(&fx);
}

/* Many kicks in one loop turn cause one queue read. */
static void test_kick_coalescing(void **state)
{
	(void)state;
	struct fx fx;
	struct acs_store_stats st;
	fx_init(&fx);
	fx_start(&fx);
	reads_wanted = 1; /* the startup read */
	run_until(&fx, reads_reached);
	acs_store_stats(fx.st, &st);
	uint64_t r0 = st.reads_done;
	for (int i = 0; i < 100; i++)
		acs_scheduler_kick(fx.s);
	reads_wanted = r0 + 1;
	run_until(&fx, reads_reached);
	(void)query_int(&fx, "SELECT 1"); /* one more read of our own */
	acs_store_stats(fx.st, &st);
	assert_int_equal(st.reads_done, r0 + 2);
	assert_int_equal(fx.n_jobs, 0);
	assert_int_equal(acs_scheduler_queued(fx.s), 0);
	fx_fini(&fx);
}

/* ---- kill -9 in the middle of a job ---- */

static void crash_work(struct acs_job *job, void *arg)
{
	int fd = *(int *)arg;
	char c = acs_job_event_count(job) == 2 ? 'J' : 'N';
	if (write(fd, &c, 1) != 1)
		_exit(5);
	kill(getpid(), SIGKILL);
}

static void child_ins_done(int rc, const char *err, void *arg)
{
	(void)err;
	(void)arg;
	if (rc)
		_exit(3);
}

/* Runs in a fresh process: stores two events, starts the scheduler, and dies in
 * the job (no close, no outcome). */
static ACS_NORETURN void child_main(const char *path, int fd)
{
	uv_loop_t loop;
	struct acs_store *st = NULL;
	char err[ACS_ERR_LEN];
	if (uv_loop_init(&loop) || acs_store_open(&loop, path, &st, err))
		_exit(1);
	static struct acs_inbox_insert ins[2];
	const char *keys[2] = { "crash-1", "crash-2" };
	for (int i = 0; i < 2; i++) {
		ins[i] = (struct acs_inbox_insert){ .source = "ado",
						    .event_key = keys[i],
						    .event_type = "updated",
						    .item_key = "ado:77",
						    .body = "{\"x\":1}",
						    .body_len = 7,
						    .received_at = 1 };
		if (acs_inbox_insert(st, &ins[i], child_ins_done))
			_exit(2);
	}
	/* The inserts were submitted first, so the scheduler's read sees them. */
	struct acs_scheduler_opts o;
	acs_scheduler_opts_defaults(&o);
	(void)acs_scheduler_new(&loop, st, &o, crash_work, &fd);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(4); /* the job never ran */
}

static char self_exe[4096];

static void test_restart_after_kill(void **state)
{
	(void)state;
	struct fx fx;
	int fds[2];
	fx_init(&fx);
	fx_close_store(&fx); /* the schema exists, as after a first start */

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
	char c = 0;
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	assert_int_equal(c, 'J');
	assert_true(WIFSIGNALED(status));

	fx_open(&fx);
	/* Left behind exactly as the crash found them. */
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"
					" AND attempts = 0"),
			 2);
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	assert_string_equal(fx.jobs[0].key, "ado:77");
	assert_int_equal(fx.jobs[0].n, 2);
	assert_int_equal(fx.jobs[0].attempt, 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"), 2);
	fx_fini(&fx);
}

/* The same without a crash: rows left 'processing' in a closed database. */
static void test_restart_with_processing_rows(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	add_event(&fx, "q1", "clickup:q");
	add_event(&fx, "q2", "clickup:q");
	exec_sql(&fx, "UPDATE inbox SET state = 'processing', attempts = 2");
	fx_close_store(&fx);
	fx_open(&fx);
	fx_start(&fx);
	wait_jobs_done(&fx, 1);
	assert_int_equal(fx.jobs[0].n, 2);
	assert_int_equal(fx.jobs[0].attempt, 3);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'done'"
					" AND attempts = 3"),
			 2);
	fx_fini(&fx);
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--crash-child") == 0)
		child_main(argv[2], (int)strtol(argv[3], NULL, 10));
	if (!realpath(argv[0], self_exe))
		return 1;
	acs_log_set_level(ACS_LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_coalescing),
		cmocka_unit_test(test_cooldown_coalesces_burst),
		cmocka_unit_test(test_order_and_arrivals_during_job),
		cmocka_unit_test(test_order_with_timers),
		cmocka_unit_test(test_concurrency_limit),
		cmocka_unit_test(test_pair_resolution),
		cmocka_unit_test(test_pair_formed_while_running),
		cmocka_unit_test(test_retry_backoff_then_success),
		cmocka_unit_test(test_permanent_failure_and_retry_from_queue),
		cmocka_unit_test(test_attempts_exhausted),
		cmocka_unit_test(test_close_waits_for_jobs),
		cmocka_unit_test(test_kick_coalescing),
		cmocka_unit_test(test_backlog),
		cmocka_unit_test(test_outcome_write_retried),
		cmocka_unit_test(test_slot_free_while_recording),
		cmocka_unit_test(test_tail_with_outcome),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_kick_item),
		cmocka_unit_test(test_busy_claim_reads_at_job_end),
		cmocka_unit_test(test_stale_claim_dropped),
		cmocka_unit_test(test_restart_after_kill),
		cmocka_unit_test(test_restart_with_processing_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
