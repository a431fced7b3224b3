/* SPDX-License-Identifier: MIT */
/* Unit tests for pairs: the store jobs of the sync engine against a real store in a
 * temp dir: mapping upsert, intents (one open per item), pair insert closing its intent
 * in one job, updates, and the sync log with its filters and pages. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "test_util.h"

#include "config.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "store.h"

#define WAIT_MS 20000

struct fx {
	uv_loop_t loop;
	char *dir, *path;
	struct acs_store *st;
	struct acs_config *cfg;
};

/* What one callback reported. */
struct res {
	int done;
	int rc;
	char err[ACS_ERR_LEN];
	int64_t id;
	struct acs_pair *pair;
	struct acs_intent *in;
	struct acs_sync_log_page *page;
};

static void store_res(struct res *r, int rc, const char *err)
{
	r->rc = rc;
	snprintf(r->err, sizeof(r->err), "%s", err ? err : "");
	r->done = 1;
}

static void on_done(int rc, const char *err, void *arg)
{
	store_res(arg, rc, err);
}

static void on_pair(int rc, const char *err, struct acs_pair *p, void *arg)
{
	struct res *r = arg;
	r->pair = p;
	store_res(r, rc, err);
}

static void on_intent(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct res *r = arg;
	r->in = in;
	store_res(r, rc, err);
}

static void on_id(int rc, const char *err, int64_t id, void *arg)
{
	struct res *r = arg;
	r->id = id;
	store_res(r, rc, err);
}

static void on_page(int rc, const char *err, struct acs_sync_log_page *p, void *arg)
{
	struct res *r = arg;
	r->page = p;
	store_res(r, rc, err);
}

static void wait(struct fx *fx, struct res *r)
{
	acs_test_run_until(&fx->loop, &r->done, WAIT_MS);
}

static void fx_open(struct fx *fx)
{
	char err[ACS_ERR_LEN] = "";
	memset(fx, 0, sizeof(*fx));
	acs_log_set_level(ACS_LOG_ERR);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->dir = acs_test_tmpdir();
	fx->path = acs_xasprintf("%s/p.db", fx->dir);
	if (acs_store_open(&fx->loop, fx->path, &fx->st, err))
		fail_msg("store: %s", err);
	fx->cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(fx->cfg, "p.ini",
						"[map web]\nado_project = Platform\n"
						"ado_area_path = Platform\\Web\n"
						"ado_work_item_types = Bug, Task\n"
						"clickup_list_id = 901\nstatus.Active = in "
						"progress\n"
						"custom.Custom.Url = abc\non_delete = ignore\n",
						NULL),
			 0);
}

static void on_closed(void *arg)
{
	*(int *)arg = 1;
}

static void fx_close(struct fx *fx)
{
	int closed = 0;
	acs_store_close(fx->st, on_closed, &closed);
	acs_test_run_until(&fx->loop, &closed, WAIT_MS);
	acs_test_loop_close(&fx->loop);
	acs_config_free(fx->cfg);
	acs_test_rmtree(fx->dir);
	free(fx->dir);
	free(fx->path);
}

static int64_t upsert_map(struct fx *fx)
{
	struct res r = { 0 };
	assert_int_equal(
		acs_pairs_map_upsert(fx->st, acs_config_map_find(fx->cfg, "web"), on_id, &r), 0);
	wait(fx, &r);
	assert_int_equal(r.rc, 0);
	assert_true(r.id > 0);
	return r.id;
}

static void test_map_upsert(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t id = upsert_map(&fx);
	/* Idempotent: same row, updated in place. */
	assert_int_equal(upsert_map(&fx), id);
	fx_close(&fx);
}

static void test_intents_and_pairs(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t map_id = upsert_map(&fx);

	/* Nothing open yet. */
	struct res r = { 0 };
	assert_int_equal(acs_pairs_intent_find(fx.st, "ado", "42", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_null(r.in);

	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_open(fx.st, map_id, "ado", "42", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.in);
	assert_string_equal(r.in->state, "open");
	assert_null(r.in->twin_id);
	int64_t intent_id = r.in->id;
	acs_intent_free(r.in);

	/* A second open intent for the same item is refused. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_open(fx.st, map_id, "ado", "42", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, ACS_ECONFLICT);
	assert_non_null(strstr(r.err, "being created"));
	assert_null(r.in);

	/* The twin id is remembered. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_set_twin(fx.st, intent_id, "cu1", on_done, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_find(fx.st, "ado", "42", on_intent, &r), 0);
	wait(&fx, &r);
	assert_non_null(r.in);
	assert_string_equal(r.in->twin_id, "cu1");
	acs_intent_free(r.in);

	/* Insert the pair: the intent is closed by the same job. */
	struct acs_pair p = { .map_id = map_id,
			      .ado_id = 42,
			      .clickup_id = "cu1",
			      .ado_rev = 3,
			      .clickup_rev = 1000,
			      .base = "{\"fields\":{}}" };
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_insert(fx.st, &p, intent_id, NULL, on_pair, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.pair);
	assert_true(r.pair->id > 0);
	assert_int_equal(r.pair->ado_rev, 3);
	assert_string_equal(r.pair->state, "active");
	int64_t pid = r.pair->id;
	acs_pair_free(r.pair);

	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_find(fx.st, "ado", "42", on_intent, &r), 0);
	wait(&fx, &r);
	assert_null(r.in);

	/* Paired: no new intent, no second pair. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_open(fx.st, map_id, "clickup", "cu1", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, ACS_ECONFLICT);
	assert_non_null(strstr(r.err, "paired"));
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_insert(fx.st, &p, 0, NULL, on_pair, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, ACS_ECONFLICT);
	assert_null(r.pair);

	/* Find by either id; update. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_find_by_clickup(fx.st, "cu1", on_pair, &r), 0);
	wait(&fx, &r);
	assert_non_null(r.pair);
	assert_int_equal(r.pair->ado_id, 42);
	r.pair->ado_rev = 9;
	free(r.pair->base);
	r.pair->base = acs_xstrdup("{\"fields\":{\"title\":\"x\"}}");
	struct res u = { 0 };
	assert_int_equal(acs_pairs_update(fx.st, r.pair, on_done, &u), 0);
	wait(&fx, &u);
	assert_int_equal(u.rc, 0);
	acs_pair_free(r.pair);
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_find_by_ado(fx.st, 42, on_pair, &r), 0);
	wait(&fx, &r);
	assert_non_null(r.pair);
	assert_int_equal(r.pair->id, pid);
	assert_int_equal(r.pair->ado_rev, 9);
	assert_string_equal(r.pair->base, "{\"fields\":{\"title\":\"x\"}}");
	acs_pair_free(r.pair);

	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_find_by_ado(fx.st, 43, on_pair, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_null(r.pair);

	/* An abandoned intent frees the item for a new one. */
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_open(fx.st, map_id, "clickup", "cu9", on_intent, &r), 0);
	wait(&fx, &r);
	assert_non_null(r.in);
	int64_t i2 = r.in->id;
	acs_intent_free(r.in);
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_close(fx.st, i2, "abandoned", on_done, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_intent_open(fx.st, map_id, "clickup", "cu9", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.in);
	acs_intent_free(r.in);

	assert_int_equal(acs_pairs_intent_close(fx.st, 1, "bogus", on_done, &r), -EINVAL);
	fx_close(&fx);
}

struct sql {
	const char *text;
	int done, rc;
};

static int sql_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sql *q = arg;
	char *msg = NULL;
	if (sqlite3_exec(db, q->text, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, ACS_ERR_LEN, "%s", msg ? msg : "?");
		sqlite3_free(msg);
		return ACS_ESTORE;
	}
	return 0;
}

static void sql_done(int rc, const char *err, void *arg)
{
	struct sql *q = arg;
	if (rc)
		fail_msg("sql: %s", err);
	q->rc = rc;
	q->done = 1;
}

static void exec_sql(struct fx *fx, const char *text)
{
	struct sql q = { .text = text };
	assert_int_equal(acs_store_write(fx->st, sql_fn, sql_done, &q), 0);
	acs_test_run_until(&fx->loop, &q.done, WAIT_MS);
}

static struct acs_pair *find_ado(struct fx *fx, int64_t ado_id)
{
	struct res r = { 0 };
	assert_int_equal(acs_pairs_find_by_ado(fx->st, ado_id, on_pair, &r), 0);
	wait(fx, &r);
	assert_int_equal(r.rc, 0);
	assert_non_null(r.pair);
	return r.pair;
}

/* has_comments / has_attachments: a pair's own comment rows, open comment intents and
 * attachment rows, never another pair's (pair 1 vs 11: the prefix ends with ':'). */
static void test_has_flags(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t map_id = upsert_map(&fx);
	char sql[512];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO sync_map (id, map_id, ado_id, clickup_id, base, created_at,"
		 " updated_at) VALUES (1, %lld, 101, 'a', '{}', 1, 1), (11, %lld, 111, 'b',"
		 " '{}', 1, 1);",
		 (long long)map_id, (long long)map_id);
	exec_sql(&fx, sql);
	struct acs_pair *p1 = find_ado(&fx, 101), *p11 = find_ado(&fx, 111);
	assert_false(p1->has_comments || p1->has_attachments);
	assert_false(p11->has_comments || p11->has_attachments);
	acs_pair_free(p1);
	acs_pair_free(p11);

	/* An open comment intent of pair 11, then a comment row of pair 1. */
	struct res r = { 0 };
	assert_int_equal(
		acs_pairs_intent_open(fx.st, map_id, "clickup", "comment:11:c9", on_intent, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	acs_intent_free(r.in);
	p1 = find_ado(&fx, 101);
	p11 = find_ado(&fx, 111);
	assert_false(p1->has_comments);
	assert_true(p11->has_comments);
	acs_pair_free(p1);
	acs_pair_free(p11);
	exec_sql(&fx, "INSERT INTO comment_map (sync_id, ado_comment_id, origin, created_at,"
		      " updated_at) VALUES (1, 5, 'ado', 1, 1);"
		      "UPDATE intent SET state = 'done' WHERE source_id = 'comment:11:c9';");
	p1 = find_ado(&fx, 101);
	p11 = find_ado(&fx, 111);
	assert_true(p1->has_comments);
	assert_false(p11->has_comments);
	assert_false(p1->has_attachments || p11->has_attachments);
	acs_pair_free(p1);
	acs_pair_free(p11);

	exec_sql(&fx, "INSERT INTO attachment_map (sync_id, clickup_attachment_id, origin,"
		      " created_at, updated_at) VALUES (11, 'f1', 'clickup', 1, 1);");
	p1 = find_ado(&fx, 101);
	p11 = find_ado(&fx, 111);
	assert_false(p1->has_attachments);
	assert_true(p11->has_attachments);
	acs_pair_free(p1);
	acs_pair_free(p11);
	fx_close(&fx);
}

struct batch_write {
	struct acs_pairs_batch *b;
	int done, rc;
	char err[ACS_ERR_LEN];
};

static int batch_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct batch_write *w = arg;
	/* As the scheduler does: a failed batch leaves its retry row, the job commits. */
	w->rc = acs_pairs_batch_run(db, w->b, err);
	snprintf(w->err, sizeof(w->err), "%s", w->rc ? err : "");
	return 0;
}

static void batch_done(int rc, const char *err, void *arg)
{
	struct batch_write *w = arg;
	if (rc)
		fail_msg("batch job: %s", err);
	w->done = 1;
}

static int64_t count_rows(struct fx *fx, const char *action, const char *q)
{
	struct res r = { 0 };
	struct acs_sync_log_query lq = { .action = action, .q = q, .limit = 10 };
	assert_int_equal(acs_pairs_log_list(fx->st, &lq, on_page, &r), 0);
	wait(fx, &r);
	int64_t n = r.page->total;
	acs_sync_log_page_free(r.page);
	return n;
}

/* A batch writes all of it or, on a failure, only a retry row saying why. */
static void test_batch(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t map_id = upsert_map(&fx);
	struct acs_pair p = { .map_id = map_id, .ado_id = 7, .clickup_id = "c7", .base = "{}" };
	struct res r = { 0 };
	assert_int_equal(acs_pairs_insert(fx.st, &p, 0, NULL, on_pair, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	struct acs_pair *got = r.pair;

	struct acs_sync_log_row row = { .map_id = map_id,
					.sync_id = got->id,
					.ado_id = 7,
					.clickup_id = "c7",
					.action = "updated",
					.status = "ok",
					.message = "batch row one" };
	struct batch_write w = { .b = acs_pairs_batch_new() };
	free(got->base);
	got->base = acs_xstrdup("{\"fields\":{\"title\":\"T\"}}");
	got->ado_rev = 9;
	assert_int_equal(acs_pairs_batch_log(w.b, &row), 0);
	assert_int_equal(acs_pairs_batch_update(w.b, got), 0);
	assert_int_equal(acs_pairs_batch_size(w.b), 2);
	assert_int_equal(acs_store_write(fx.st, batch_fn, batch_done, &w), 0);
	acs_test_run_until(&fx.loop, &w.done, WAIT_MS);
	assert_int_equal(w.rc, 0);
	acs_pairs_batch_free(w.b);
	struct acs_pair *again = NULL;
	memset(&r, 0, sizeof(r));
	assert_int_equal(acs_pairs_find_by_ado(fx.st, 7, on_pair, &r), 0);
	wait(&fx, &r);
	again = r.pair;
	assert_int_equal(again->ado_rev, 9);
	assert_string_equal(again->base, "{\"fields\":{\"title\":\"T\"}}");
	acs_pair_free(again);
	assert_int_equal(count_rows(&fx, "updated", "batch row one"), 1);

	/* The update of a pair that is gone fails: the log row before it goes too. */
	struct acs_pair gone = *got;
	gone.id = 999;
	row.message = "batch row two";
	w = (struct batch_write){ .b = acs_pairs_batch_new() };
	assert_int_equal(acs_pairs_batch_log(w.b, &row), 0);
	assert_int_equal(acs_pairs_batch_update(w.b, &gone), 0);
	assert_int_equal(acs_store_write(fx.st, batch_fn, batch_done, &w), 0);
	acs_test_run_until(&fx.loop, &w.done, WAIT_MS);
	assert_int_equal(w.rc, ACS_ENOTFOUND);
	assert_non_null(strstr(w.err, "save pair: pair 999 does not exist"));
	acs_pairs_batch_free(w.b);
	assert_int_equal(count_rows(&fx, "updated", "batch row two"), 0);
	assert_int_equal(count_rows(&fx, "retry", "save pair: pair 999"), 1);
	acs_pairs_batch_free(NULL);
	assert_int_equal(acs_pairs_batch_update(NULL, got), -EINVAL);
	acs_pair_free(got);
	fx_close(&fx);
}

struct prefetch_call {
	const char *key;
	struct acs_pairs_found *found;
	bool null;
	int done;
};

static int prefetch_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)err;
	struct prefetch_call *c = arg;
	c->found = acs_pairs_prefetch(db, c->key, NULL);
	c->null = c->found == NULL;
	return 0;
}

static void prefetch_done(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	((struct prefetch_call *)arg)->done = 1;
}

static struct acs_pairs_found *prefetch(struct fx *fx, const char *key)
{
	struct prefetch_call c = { .key = key };
	assert_int_equal(acs_store_read(fx->st, prefetch_fn, prefetch_done, &c), 0);
	acs_test_run_until(&fx->loop, &c.done, WAIT_MS);
	return c.found;
}

/* The look-up done with a claim answers as acs_pairs_find_by_* would. */
static void test_prefetch(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t map_id = upsert_map(&fx);
	struct acs_pair p = { .map_id = map_id, .ado_id = 8, .clickup_id = "c8", .base = "{}" };
	struct res r = { 0 };
	assert_int_equal(acs_pairs_insert(fx.st, &p, 0, NULL, on_pair, &r), 0);
	wait(&fx, &r);
	acs_pair_free(r.pair);
	struct acs_pairs_found *f = prefetch(&fx, "ado:8");
	assert_non_null(f);
	assert_int_equal(f->rc, 0);
	assert_non_null(f->pair);
	assert_string_equal(f->pair->clickup_id, "c8");
	acs_pairs_found_free(f);
	f = prefetch(&fx, "clickup:c8");
	assert_non_null(f);
	assert_int_equal(f->pair->ado_id, 8);
	acs_pairs_found_free(f);
	f = prefetch(&fx, "clickup:nope");
	assert_non_null(f);
	assert_int_equal(f->rc, 0);
	assert_null(f->pair);
	acs_pairs_found_free(f);
	assert_null(prefetch(&fx, "ado:x"));
	assert_null(prefetch(&fx, "sweep:1"));
	acs_pairs_found_free(NULL);
	fx_close(&fx);
}

static void test_log(void **state)
{
	(void)state;
	struct fx fx;
	fx_open(&fx);
	int64_t map_id = upsert_map(&fx);
	for (int i = 0; i < 7; i++) {
		char msg[32];
		snprintf(msg, sizeof(msg), "row %d", i);
		struct acs_sync_log_row row = {
			.map_id = map_id,
			.sync_id = 999, /* no such pair: stored as NULL, never an error */
			.ado_id = 100 + i,
			.clickup_id = "cu",
			.direction = i % 2 ? "ado_to_clickup" : NULL,
			.action = i % 2 ? "updated" : "echo",
			.status = i % 2 ? "ok" : "skipped",
			.fields = i % 2 ? "[\"title\"]" : NULL,
			.message = msg,
		};
		struct res r = { 0 };
		assert_int_equal(acs_pairs_log(fx.st, &row, i == 6 ? on_done : NULL, &r), 0);
		if (i == 6) {
			wait(&fx, &r);
			assert_int_equal(r.rc, 0);
		}
	}
	struct res r = { 0 };
	struct acs_sync_log_query q = { .limit = 2 };
	assert_int_equal(acs_pairs_log_list(fx.st, &q, on_page, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.rc, 0);
	assert_int_equal(r.page->total, 7);
	assert_int_equal(r.page->n, 2);
	assert_string_equal(r.page->rows[0].message, "row 6"); /* newest first */
	assert_string_equal(r.page->rows[0].direction, "none");
	assert_int_equal(r.page->rows[0].sync_id, 0);
	assert_int_equal(r.page->rows[0].map_id, map_id);
	acs_sync_log_page_free(r.page);

	memset(&r, 0, sizeof(r));
	q = (struct acs_sync_log_query){ .status = "ok", .page = 1, .limit = 2 };
	assert_int_equal(acs_pairs_log_list(fx.st, &q, on_page, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.page->total, 3);
	assert_int_equal(r.page->n, 1);
	assert_string_equal(r.page->rows[0].message, "row 1");
	assert_string_equal(r.page->rows[0].fields, "[\"title\"]");
	acs_sync_log_page_free(r.page);

	memset(&r, 0, sizeof(r));
	q = (struct acs_sync_log_query){ .q = "row 4" };
	assert_int_equal(acs_pairs_log_list(fx.st, &q, on_page, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.page->n, 1);
	assert_int_equal(r.page->rows[0].ado_id, 104);
	acs_sync_log_page_free(r.page);

	memset(&r, 0, sizeof(r));
	q = (struct acs_sync_log_query){ .ado_id = 105, .action = "updated" };
	assert_int_equal(acs_pairs_log_list(fx.st, &q, on_page, &r), 0);
	wait(&fx, &r);
	assert_int_equal(r.page->n, 1);
	acs_sync_log_page_free(r.page);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_map_upsert), cmocka_unit_test(test_intents_and_pairs),
		cmocka_unit_test(test_log),	   cmocka_unit_test(test_has_flags),
		cmocka_unit_test(test_batch),	   cmocka_unit_test(test_prefetch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
