/* SPDX-License-Identifier: MIT */
/* Tests for the inbox store jobs on a real store in a temp dir: insert and its
 * duplicate detection (with and without the statement cache), the due queue with
 * backoff and pair resolution, claims, marks, recovery, counts, the error queue,
 * pruning and the webhook secrets. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"
#include "store.h"

#define WAIT_MS 20000

struct fx {
	uv_loop_t loop;
	char *dir;
	char *path;
	struct acs_store *st;
	int closed;
};

/* One job of any kind with its completion; done() finds it through the union. */
struct call {
	int flag;
	int rc;
	char err[ACS_ERR_LEN];
	union {
		struct acs_inbox_insert ins;
		struct acs_inbox_recover rec;
		struct acs_inbox_due due;
		struct acs_inbox_claim claim;
		struct acs_inbox_mark mark;
		struct acs_inbox_counts counts;
		struct acs_inbox_errors errors;
		struct acs_inbox_error_op op;
		struct acs_inbox_prune prune;
		struct acs_inbox_secrets secrets;
		struct acs_inbox_secret_save save;
	} u;
};

static void call_done(int rc, const char *err, void *arg)
{
	struct call *c = acs_container_of(arg, struct call, u);
	c->flag = 1;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
}

static void call_wait(struct fx *fx, struct call *c, int submit_rc)
{
	assert_int_equal(submit_rc, 0);
	acs_test_run_until(&fx->loop, &c->flag, WAIT_MS);
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
	fx_open(fx);
}

static void on_store_closed(void *arg)
{
	struct fx *fx = arg;
	fx->closed = 1;
	fx->st = NULL;
}

static void fx_fini(struct fx *fx)
{
	fx->closed = 0;
	acs_store_close(fx->st, on_store_closed, fx);
	acs_test_run_until(&fx->loop, &fx->closed, WAIT_MS);
	acs_test_loop_close(&fx->loop);
	acs_test_rmtree(fx->dir);
	free(fx->path);
	free(fx->dir);
}

/* ---- raw SQL for setup and checks ---- */

struct sql {
	int flag;
	int rc;
	char err[ACS_ERR_LEN];
	const char *q;
	int64_t i;
	char text[512];
	bool null;
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
		s->null = sqlite3_column_type(st, 0) == SQLITE_NULL;
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

static int64_t insert(struct fx *fx, const char *key, const char *item, const char *body,
		      struct acs_inbox_stmt_cache *cache, bool *dup)
{
	struct call c = { 0 };
	c.u.ins = (struct acs_inbox_insert){
		.source = !strncmp(item, "ado:", 4) ? "ado" : "clickup",
		.event_key = key,
		.event_type = "updated",
		.item_key = item,
		.body = body,
		.body_len = body ? strlen(body) : 0,
		.received_at = 1000,
		.cache = cache,
	};
	call_wait(fx, &c, acs_inbox_insert(fx->st, &c.u.ins, call_done));
	if (c.rc)
		fail_msg("insert %s: %s", key, c.err);
	if (dup)
		*dup = c.u.ins.duplicate;
	return c.u.ins.id;
}

static void insert_pairing(struct fx *fx, int64_t ado_id, const char *clickup_id)
{
	char q[512];
	exec_sql(fx, "INSERT OR IGNORE INTO project_map (id, name, ado_project, clickup_list_id,"
		     " created_at, updated_at) VALUES (1, 'm', 'P', 'L', 0, 0)");
	snprintf(q, sizeof(q),
		 "INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, updated_at)"
		 " VALUES (1, %lld, '%s', 0, 0)",
		 (long long)ado_id, clickup_id);
	exec_sql(fx, q);
}

/* ---- tests ---- */

static void test_insert_and_duplicate(void **state)
{
	(void)state;
	struct fx fx;
	bool dup = true;
	fx_init(&fx);

	/* The body is stored byte for byte, whitespace included. */
	const char *body = "{ \"a\" :\n 1 }";
	int64_t id = insert(&fx, "k1", "ado:7", body, NULL, &dup);
	assert_true(id > 0);
	assert_false(dup);
	assert_int_equal(insert(&fx, "k1", "ado:7", "{\"other\":2}", NULL, &dup), 0);
	assert_true(dup);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox"), 1);
	assert_string_equal(query(&fx, "SELECT body FROM inbox").text, body);
	assert_string_equal(query(&fx, "SELECT state FROM inbox").text, "pending");
	assert_string_equal(query(&fx, "SELECT item_key FROM inbox").text, "ado:7");

	/* A constraint other than the event_key is an error, not a duplicate. */
	struct call c = { 0 };
	c.u.ins = (struct acs_inbox_insert){ .source = "bogus",
					     .event_key = "k2",
					     .event_type = "updated",
					     .item_key = "ado:1",
					     .body = "{}",
					     .body_len = 2 };
	call_wait(&fx, &c, acs_inbox_insert(fx.st, &c.u.ins, call_done));
	assert_int_equal(c.rc, ACS_ESTORE);
	assert_false(c.u.ins.duplicate);
	fx_fini(&fx);
}

static void cache_released(int rc, const char *err, void *arg)
{
	(void)err;
	int *flag = arg;
	assert_int_equal(rc, 0);
	*flag = 1;
}

static void test_insert_cached_statement(void **state)
{
	(void)state;
	struct fx fx;
	bool dup;
	int released = 0;
	fx_init(&fx);
	struct acs_inbox_stmt_cache *cache = acs_inbox_stmt_cache_new();

	/* Many inserts in one loop turn share a batch and the cached statement. */
	struct call c[20];
	char keys[20][16];
	memset(c, 0, sizeof(c));
	for (int i = 0; i < 20; i++) {
		snprintf(keys[i], sizeof(keys[i]), "key-%d", i % 10);
		c[i].u.ins = (struct acs_inbox_insert){ .source = "clickup",
							.event_key = keys[i],
							.event_type = "updated",
							.item_key = "clickup:t1",
							.body = "{}",
							.body_len = 2,
							.received_at = i,
							.cache = cache };
		assert_int_equal(acs_inbox_insert(fx.st, &c[i].u.ins, call_done), 0);
	}
	int ndup = 0;
	for (int i = 0; i < 20; i++) {
		acs_test_run_until(&fx.loop, &c[i].flag, WAIT_MS);
		assert_int_equal(c[i].rc, 0);
		ndup += c[i].u.ins.duplicate;
		assert_true(c[i].u.ins.duplicate == (i >= 10));
	}
	assert_int_equal(ndup, 10);
	/* Later batches keep using it. */
	assert_true(insert(&fx, "key-late", "clickup:t1", "{}", cache, &dup) > 0);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox"), 11);

	assert_int_equal(acs_inbox_stmt_cache_release(fx.st, cache, cache_released, &released), 0);
	acs_test_run_until(&fx.loop, &released, WAIT_MS);
	acs_inbox_stmt_cache_free(cache);
	/* The writer connection closes cleanly: no statement left behind. */
	acs_test_log_capture_begin();
	fx_fini(&fx);
	assert_null(strstr(acs_test_log_captured(), "leaked"));
	acs_test_log_capture_end();
}

static void test_due_backoff_and_order(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	int64_t a1 = insert(&fx, "a1", "ado:1", "{}", NULL, NULL);
	int64_t b1 = insert(&fx, "b1", "clickup:b", "{}", NULL, NULL);
	insert(&fx, "a2", "ado:1", "{}", NULL, NULL);
	int64_t c1 = insert(&fx, "c1", "ado:3", "{}", NULL, NULL);
	insert(&fx, "c2", "ado:3", "{}", NULL, NULL);
	/* c1 waits for a retry: the whole item waits, c2 included. */
	char q[128];
	snprintf(q, sizeof(q), "UPDATE inbox SET next_attempt_at = 5000 WHERE id = %lld",
		 (long long)c1);
	exec_sql(&fx, q);
	exec_sql(&fx, "INSERT INTO inbox (source, event_key, event_type, item_key, received_at,"
		      " body, state) VALUES ('ado', 'd1', 'updated', 'ado:4', 0, '{}', 'done')");

	struct call c = { 0 };
	c.u.due = (struct acs_inbox_due){ .now_ms = 4999 };
	call_wait(&fx, &c, acs_inbox_due(fx.st, &c.u.due, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.due.n_items, 2);
	assert_string_equal(c.u.due.items[0].item_key, "ado:1");
	assert_int_equal(c.u.due.items[0].first_id, a1);
	assert_int_equal(c.u.due.items[0].count, 2);
	assert_string_equal(c.u.due.items[1].item_key, "clickup:b");
	assert_int_equal(c.u.due.items[1].first_id, b1);
	assert_int_equal(c.u.due.pending_rows, 5);
	assert_int_equal(c.u.due.next_due_at, 5000);
	assert_false(c.u.due.truncated);
	acs_inbox_due_deinit(&c.u.due);

	/* At 5000 the third item is due; max_items truncates. */
	memset(&c, 0, sizeof(c));
	c.u.due = (struct acs_inbox_due){ .now_ms = 5000, .max_items = 2 };
	call_wait(&fx, &c, acs_inbox_due(fx.st, &c.u.due, call_done));
	assert_int_equal(c.u.due.n_items, 2);
	assert_true(c.u.due.truncated);
	assert_int_equal(c.u.due.next_due_at, 0);
	acs_inbox_due_deinit(&c.u.due);
	fx_fini(&fx);
}

static void test_due_and_claim_resolve_pairs(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	insert_pairing(&fx, 42, "abc");
	int64_t e1 = insert(&fx, "e1", "clickup:abc", "{\"n\":1}", NULL, NULL);
	int64_t e2 = insert(&fx, "e2", "ado:42", "{\"n\":2}", NULL, NULL);
	int64_t e3 = insert(&fx, "e3", "clickup:abc", "{\"n\":3}", NULL, NULL);
	insert(&fx, "x1", "clickup:zzz", "{}", NULL, NULL);

	struct call c = { 0 };
	c.u.due = (struct acs_inbox_due){ .now_ms = acs_inbox_now_ms() };
	call_wait(&fx, &c, acs_inbox_due(fx.st, &c.u.due, call_done));
	assert_int_equal(c.u.due.n_items, 2);
	assert_string_equal(c.u.due.items[0].item_key, "ado:42");
	assert_int_equal(c.u.due.items[0].count, 3);
	assert_string_equal(c.u.due.items[1].item_key, "clickup:zzz");
	acs_inbox_due_deinit(&c.u.due);

	/* Claiming through the ClickUp key reads both sides, oldest first. */
	memset(&c, 0, sizeof(c));
	c.u.claim = (struct acs_inbox_claim){ .item_key = "clickup:abc" };
	call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.u.claim.key, "ado:42");
	assert_string_equal(c.u.claim.twin, "clickup:abc");
	assert_int_equal(c.u.claim.n_rows, 3);
	assert_int_equal(c.u.claim.rows[0].id, e1);
	assert_int_equal(c.u.claim.rows[1].id, e2);
	assert_int_equal(c.u.claim.rows[2].id, e3);
	assert_string_equal(c.u.claim.rows[1].body, "{\"n\":2}");
	assert_int_equal(c.u.claim.rows[1].body_len, 7);
	assert_string_equal(c.u.claim.rows[0].item_key, "clickup:abc");
	assert_string_equal(c.u.claim.rows[0].event_key, "e1");
	assert_string_equal(c.u.claim.rows[0].source, "clickup");
	acs_inbox_claim_deinit(&c.u.claim);
	/* A read: the rows stay pending (the scheduler holds its claims in memory). */
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"
					" AND item_key IN ('ado:42', 'clickup:abc')"),
			 3);

	/* Rows done are not read again; a new event is. */
	exec_sql(&fx, "UPDATE inbox SET state = 'done' WHERE item_key IN ('ado:42', "
		      "'clickup:abc')");
	int64_t e4 = insert(&fx, "e4", "ado:42", "{}", NULL, NULL);
	memset(&c, 0, sizeof(c));
	c.u.claim = (struct acs_inbox_claim){ .item_key = "ado:42" };
	call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
	assert_int_equal(c.u.claim.n_rows, 1);
	assert_int_equal(c.u.claim.rows[0].id, e4);
	acs_inbox_claim_deinit(&c.u.claim);

	/* Nothing pending: an empty claim. */
	memset(&c, 0, sizeof(c));
	c.u.claim = (struct acs_inbox_claim){ .item_key = "ado:999" };
	call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.claim.n_rows, 0);
	assert_string_equal(c.u.claim.key, "ado:999");
	assert_null(c.u.claim.twin);
	acs_inbox_claim_deinit(&c.u.claim);
	fx_fini(&fx);
}

static void test_claim_limits(void **state)
{
	(void)state;
	struct fx fx;
	char key[16];
	fx_init(&fx);
	for (int i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		insert(&fx, key, "clickup:t", "0123456789", NULL, NULL);
	}
	struct call c = { 0 };
	c.u.claim = (struct acs_inbox_claim){ .item_key = "clickup:t", .max_events = 2 };
	call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
	assert_int_equal(c.u.claim.n_rows, 2);
	/* The first two, oldest first. */
	exec_sql(&fx, "UPDATE inbox SET state = 'done' WHERE id IN (SELECT id FROM inbox"
		      " ORDER BY id LIMIT 2)");
	acs_inbox_claim_deinit(&c.u.claim);
	memset(&c, 0, sizeof(c));
	c.u.claim = (struct acs_inbox_claim){ .item_key = "clickup:t", .max_bytes = 15 };
	call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
	assert_int_equal(c.u.claim.n_rows, 2); /* 10 bytes < 15, then 20 >= 15 stops */
	assert_true(c.u.claim.truncated);
	acs_inbox_claim_deinit(&c.u.claim);

	/* A pair: the two sides' rows merged in id order, the limit counted over both;
	 * truncated while either side has rows left, not once both are read. */
	insert_pairing(&fx, 7, "p");
	int64_t a1 = insert(&fx, "a1", "ado:7", "{}", NULL, NULL);
	int64_t c1 = insert(&fx, "c1", "clickup:p", "{}", NULL, NULL);
	int64_t c2 = insert(&fx, "c2", "clickup:p", "{}", NULL, NULL);
	int64_t a2 = insert(&fx, "a2", "ado:7", "{}", NULL, NULL);
	int64_t want[] = { a1, c1, c2, a2 };
	for (size_t max = 1; max <= 5; max++) {
		memset(&c, 0, sizeof(c));
		c.u.claim = (struct acs_inbox_claim){ .item_key = "ado:7", .max_events = max };
		call_wait(&fx, &c, acs_inbox_claim(fx.st, &c.u.claim, call_done));
		assert_int_equal(c.rc, 0);
		assert_int_equal(c.u.claim.n_rows, max < 4 ? max : 4);
		for (size_t i = 0; i < c.u.claim.n_rows; i++)
			assert_int_equal(c.u.claim.rows[i].id, want[i]);
		assert_int_equal(c.u.claim.truncated, max < 4);
		acs_inbox_claim_deinit(&c.u.claim);
	}
	fx_fini(&fx);
}

static void test_mark_and_recover(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	int64_t ids[2];
	ids[0] = insert(&fx, "m1", "ado:1", "{}", NULL, NULL);
	ids[1] = insert(&fx, "m2", "ado:1", "{}", NULL, NULL);

	struct call c = { 0 };
	/* Only rows in 'processing' move: none yet. */
	c.u.mark = (struct acs_inbox_mark){ .ids = ids,
					    .n_ids = 2,
					    .to = ACS_INBOX_DONE,
					    .only_from = true,
					    .from = ACS_INBOX_PROCESSING,
					    .next_attempt_at = -1 };
	call_wait(&fx, &c, acs_inbox_mark(fx.st, &c.u.mark, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.mark.changed, 0);

	exec_sql(&fx, "UPDATE inbox SET state = 'processing'");
	memset(&c, 0, sizeof(c));
	c.u.mark = (struct acs_inbox_mark){ .ids = ids,
					    .n_ids = 2,
					    .to = ACS_INBOX_PENDING,
					    .only_from = true,
					    .from = ACS_INBOX_PROCESSING,
					    .add_attempt = true,
					    .next_attempt_at = 7777,
					    .last_error = "HTTP 503: busy" };
	call_wait(&fx, &c, acs_inbox_mark(fx.st, &c.u.mark, call_done));
	assert_int_equal(c.u.mark.changed, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'pending'"
					" AND attempts = 1 AND next_attempt_at = 7777"
					" AND last_error = 'HTTP 503: busy'"),
			 2);

	/* NULL last_error and negative next_attempt_at keep the columns. */
	memset(&c, 0, sizeof(c));
	c.u.mark = (struct acs_inbox_mark){ .ids = ids,
					    .n_ids = 1,
					    .to = ACS_INBOX_ERROR,
					    .add_attempt = true,
					    .next_attempt_at = -1 };
	call_wait(&fx, &c, acs_inbox_mark(fx.st, &c.u.mark, call_done));
	assert_int_equal(c.u.mark.changed, 1);
	assert_string_equal(query(&fx, "SELECT state || attempts || next_attempt_at || last_error"
				       " FROM inbox WHERE event_key = 'm1'")
				    .text,
			    "error27777HTTP 503: busy");
	/* "" clears the message. */
	memset(&c, 0, sizeof(c));
	c.u.mark = (struct acs_inbox_mark){ .ids = ids + 1,
					    .n_ids = 1,
					    .to = ACS_INBOX_DONE,
					    .next_attempt_at = -1,
					    .last_error = "" };
	call_wait(&fx, &c, acs_inbox_mark(fx.st, &c.u.mark, call_done));
	assert_true(query(&fx, "SELECT last_error FROM inbox WHERE event_key = 'm2'").null);

	/* Recovery: processing rows are pending again, nothing else changes. */
	insert(&fx, "m3", "ado:2", "{}", NULL, NULL);
	insert(&fx, "m4", "ado:2", "{}", NULL, NULL);
	exec_sql(&fx, "UPDATE inbox SET state = 'processing', attempts = 3"
		      " WHERE item_key = 'ado:2'");
	memset(&c, 0, sizeof(c));
	call_wait(&fx, &c, acs_inbox_recover(fx.st, &c.u.rec, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.rec.reset, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE item_key = 'ado:2'"
					" AND state = 'pending' AND attempts = 3"),
			 2);

	/* Counts by state. */
	memset(&c, 0, sizeof(c));
	call_wait(&fx, &c, acs_inbox_counts(fx.st, &c.u.counts, call_done));
	assert_int_equal(c.u.counts.n[ACS_INBOX_PENDING], 2);
	assert_int_equal(c.u.counts.n[ACS_INBOX_PROCESSING], 0);
	assert_int_equal(c.u.counts.n[ACS_INBOX_DONE], 1);
	assert_int_equal(c.u.counts.n[ACS_INBOX_ERROR], 1);
	assert_int_equal(c.u.counts.n[ACS_INBOX_IGNORED], 0);
	assert_string_equal(acs_inbox_state_name(ACS_INBOX_IGNORED), "ignored");
	assert_string_equal(acs_inbox_state_name(ACS_INBOX_NSTATES), "?");
	fx_fini(&fx);
}

static void test_error_queue(void **state)
{
	(void)state;
	struct fx fx;
	char key[16];
	fx_init(&fx);
	for (int i = 0; i < 4; i++) {
		snprintf(key, sizeof(key), "err%d", i);
		insert(&fx, key, "ado:9", "{}", NULL, NULL);
	}
	exec_sql(&fx, "UPDATE inbox SET state = 'error', attempts = 8,"
		      " last_error = 'HTTP 400: field X is read-only' WHERE event_key <> 'err3'");

	struct call c = { 0 };
	c.u.errors = (struct acs_inbox_errors){ .limit = 2 };
	call_wait(&fx, &c, acs_inbox_errors(fx.st, &c.u.errors, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.errors.total, 3);
	assert_int_equal(c.u.errors.n_rows, 2);
	assert_string_equal(c.u.errors.rows[0].event_key, "err2"); /* newest first */
	assert_string_equal(c.u.errors.rows[0].last_error, "HTTP 400: field X is read-only");
	assert_int_equal(c.u.errors.rows[0].attempts, 8);
	assert_null(c.u.errors.rows[0].body);
	int64_t first = c.u.errors.rows[1].id;
	acs_inbox_errors_deinit(&c.u.errors);
	memset(&c, 0, sizeof(c));
	c.u.errors = (struct acs_inbox_errors){ .limit = 2, .offset = 2 };
	call_wait(&fx, &c, acs_inbox_errors(fx.st, &c.u.errors, call_done));
	assert_int_equal(c.u.errors.n_rows, 1);
	assert_string_equal(c.u.errors.rows[0].event_key, "err0");
	acs_inbox_errors_deinit(&c.u.errors);

	/* Retry one: pending, attempts reset, due now. */
	memset(&c, 0, sizeof(c));
	c.u.op.id = first;
	call_wait(&fx, &c, acs_inbox_error_retry(fx.st, &c.u.op, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.op.changed, 1);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE event_key = 'err1'"
					" AND state = 'pending' AND attempts = 0"
					" AND next_attempt_at = 0"),
			 1);
	/* Again: it is no longer in the error queue. */
	memset(&c, 0, sizeof(c));
	c.u.op.id = first;
	call_wait(&fx, &c, acs_inbox_error_retry(fx.st, &c.u.op, call_done));
	assert_int_equal(c.rc, ACS_ENOTFOUND);

	/* Dismiss all: the rows stay, as 'ignored'. */
	memset(&c, 0, sizeof(c));
	call_wait(&fx, &c, acs_inbox_error_dismiss(fx.st, &c.u.op, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.op.changed, 2);
	assert_int_equal(query_int(&fx, "SELECT count(*) FROM inbox WHERE state = 'ignored'"
					" AND last_error IS NOT NULL"),
			 2);

	/* Prune removes old done/ignored rows only. */
	exec_sql(&fx, "UPDATE inbox SET state = 'done' WHERE event_key = 'err3'");
	memset(&c, 0, sizeof(c));
	c.u.prune.before_ms = 1001;
	call_wait(&fx, &c, acs_inbox_prune(fx.st, &c.u.prune, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.prune.deleted, 3);
	assert_string_equal(query(&fx, "SELECT group_concat(event_key) FROM inbox").text, "err1");
	fx_fini(&fx);
}

static void test_secrets(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	exec_sql(&fx, "INSERT INTO meta (key, value) VALUES ('other.key', 'x')");
	const char *ids[] = { "wh-2", "wh-1", "wh-1" };
	const char *secrets[] = { "s2", "old", "s1" };
	for (int i = 0; i < 3; i++) {
		struct call c = { 0 };
		c.u.save = (struct acs_inbox_secret_save){ .webhook_id = ids[i],
							   .secret = secrets[i] };
		call_wait(&fx, &c, acs_inbox_secret_save(fx.st, &c.u.save, call_done));
		assert_int_equal(c.rc, 0);
	}
	struct call c = { 0 };
	call_wait(&fx, &c, acs_inbox_secrets_load(fx.st, &c.u.secrets, call_done));
	assert_int_equal(c.rc, 0);
	assert_int_equal(c.u.secrets.n, 2);
	assert_string_equal(c.u.secrets.v[0].webhook_id, "wh-1");
	assert_string_equal(c.u.secrets.v[0].secret, "s1");
	assert_string_equal(c.u.secrets.v[1].webhook_id, "wh-2");
	acs_inbox_secrets_deinit(&c.u.secrets);
	assert_string_equal(
		query(&fx, "SELECT value FROM meta WHERE key = 'clickup.webhook_secret.wh-2'").text,
		"s2");

	/* NULL deletes. */
	memset(&c, 0, sizeof(c));
	c.u.save = (struct acs_inbox_secret_save){ .webhook_id = "wh-2" };
	call_wait(&fx, &c, acs_inbox_secret_save(fx.st, &c.u.save, call_done));
	memset(&c, 0, sizeof(c));
	call_wait(&fx, &c, acs_inbox_secrets_load(fx.st, &c.u.secrets, call_done));
	assert_int_equal(c.u.secrets.n, 1);
	acs_inbox_secrets_deinit(&c.u.secrets);

	memset(&c, 0, sizeof(c));
	c.u.save = (struct acs_inbox_secret_save){ .webhook_id = "", .secret = "x" };
	assert_int_equal(acs_inbox_secret_save(fx.st, &c.u.save, call_done), -EINVAL);
	fx_fini(&fx);
}

int main(void)
{
	acs_log_set_level(ACS_LOG_WARN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_and_duplicate),
		cmocka_unit_test(test_insert_cached_statement),
		cmocka_unit_test(test_due_backoff_and_order),
		cmocka_unit_test(test_due_and_claim_resolve_pairs),
		cmocka_unit_test(test_claim_limits),
		cmocka_unit_test(test_mark_and_recover),
		cmocka_unit_test(test_error_queue),
		cmocka_unit_test(test_secrets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
