/* SPDX-License-Identifier: MIT */
/* Tests for store_schema: migrations from empty, idempotent re-runs, refusal of newer
 * or foreign databases, atomic steps, and the constraints of schema version 1. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sqlite3.h>

#include "test_util.h"

#include "err.h"
#include "mem.h"
#include "store_schema.h"

static sqlite3 *open_mem(void)
{
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
	return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *emsg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &emsg);
	if (rc != SQLITE_OK)
		fail_msg("%s: %s", sql, emsg ? emsg : "?");
}

/* Expect a constraint failure; returns sqlite's message for further checks. */
static void exec_constraint(sqlite3 *db, const char *sql, const char *needle)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	if ((rc & 0xff) != SQLITE_CONSTRAINT)
		fail_msg("expected a constraint failure from %s, got %d", sql, rc);
	if (needle && !strstr(sqlite3_errmsg(db), needle))
		fail_msg("'%s' does not mention '%s'", sqlite3_errmsg(db), needle);
}

static long long query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	long long v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int version_of(sqlite3 *db)
{
	return (int)query_int(db, "PRAGMA user_version");
}

static bool has_object(sqlite3 *db, const char *type, const char *name)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db,
					    "SELECT count(*) FROM sqlite_master WHERE type = ?1 "
					    "AND name = ?2",
					    -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	bool found = sqlite3_column_int(st, 0) == 1;
	sqlite3_finalize(st);
	return found;
}

static const char *const tables[] = {
	"project_map", "sync_map", "comment_map", "attachment_map", "inbox", "sync_log", "meta",
};

static const char *const indexes[] = {
	"project_map_list", "sync_map_map", "inbox_pending",   "inbox_error",  "inbox_processing",
	"inbox_received",   "sync_log_ts",  "sync_log_status", "sync_log_map", "sync_log_sync",
};

/* Indexes an inbox row no longer enters (migration 7). */
static const char *const dropped_indexes[] = { "inbox_due", "inbox_item" };

static void test_migrate_from_empty(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	assert_int_equal(version_of(db), 0);
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	assert_int_equal(version_of(db), ACS_STORE_SCHEMA_VERSION);
	int v = -1;
	assert_int_equal(acs_store_schema_version(db, &v, err), 0);
	assert_int_equal(v, ACS_STORE_SCHEMA_VERSION);
	for (size_t i = 0; i < ACS_ARRAY_SIZE(tables); i++) {
		if (!has_object(db, "table", tables[i]))
			fail_msg("table %s missing", tables[i]);
	}
	for (size_t i = 0; i < ACS_ARRAY_SIZE(indexes); i++) {
		if (!has_object(db, "index", indexes[i]))
			fail_msg("index %s missing", indexes[i]);
	}
	for (size_t i = 0; i < ACS_ARRAY_SIZE(dropped_indexes); i++) {
		if (has_object(db, "index", dropped_indexes[i]))
			fail_msg("index %s still there", dropped_indexes[i]);
	}
	assert_int_equal(query_int(db, "PRAGMA application_id"), 0x41435331);
	/* The migration left no transaction open. */
	assert_true(sqlite3_get_autocommit(db));
	sqlite3_close(db);
}

static void test_rerun_is_noop(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	char *dir = acs_test_tmpdir();
	char *path = acs_xasprintf("%s/schema.db", dir);
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	exec_ok(db, "INSERT INTO meta (key, value) VALUES ('k', 'v')");
	long long objects = query_int(db, "SELECT count(*) FROM sqlite_master");
	long long changes = sqlite3_total_changes(db);
	sqlite3_close(db);

	/* Re-open the file: nothing to migrate, nothing written. */
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	assert_int_equal(sqlite3_total_changes(db), 0);
	assert_int_equal(version_of(db), ACS_STORE_SCHEMA_VERSION);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sqlite_master"), objects);
	assert_int_equal(query_int(db, "SELECT count(*) FROM meta WHERE value = 'v'"), 1);
	assert_true(changes > 0);
	sqlite3_close(db);
	acs_test_rmtree(dir);
	free(path);
	free(dir);
}

static void test_newer_version_refused(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	exec_ok(db, "PRAGMA user_version = 99");
	assert_int_equal(acs_store_schema_migrate(db, err), ACS_ESTORE);
	assert_non_null(strstr(err, "newer"));
	assert_non_null(strstr(err, "99"));
	/* Left untouched. */
	assert_int_equal(version_of(db), 99);
	assert_false(has_object(db, "table", "inbox"));
	assert_true(sqlite3_get_autocommit(db));

	exec_ok(db, "PRAGMA user_version = -1");
	assert_int_equal(acs_store_schema_migrate(db, err), ACS_ESTORE);
	sqlite3_close(db);
}

static void test_foreign_database_refused(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	exec_ok(db, "PRAGMA application_id = 42");
	assert_int_equal(acs_store_schema_migrate(db, err), ACS_ESTORE);
	assert_non_null(strstr(err, "not an ado-clickup-sync database"));
	assert_int_equal(version_of(db), 0);
	sqlite3_close(db);

	/* Someone else's tables with user_version 0: the step fails and rolls back. */
	db = open_mem();
	exec_ok(db, "CREATE TABLE inbox (x)");
	assert_int_equal(acs_store_schema_migrate(db, err), ACS_ESTORE);
	assert_non_null(strstr(err, "migration to version 1"));
	assert_false(has_object(db, "table", "project_map"));
	assert_int_equal(version_of(db), 0);
	sqlite3_close(db);
}

static void test_failed_step_rolls_back(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	static const char *const ok_sql[] = { "CREATE TABLE a (x INTEGER);", NULL };
	static const char *const bad_sql[] = {
		"CREATE TABLE b (x INTEGER); INSERT INTO b VALUES (1);",
		"THIS IS NOT SQL",
		NULL,
	};
	static const char *const fk_sql[] = {
		"CREATE TABLE p (id INTEGER PRIMARY KEY);"
		"CREATE TABLE c (p INTEGER REFERENCES p (id));"
		"PRAGMA defer_foreign_keys = ON; INSERT INTO c VALUES (7);",
		NULL,
	};
	const struct acs__store_migration list[] = { { 1, ok_sql }, { 2, bad_sql } };
	const struct acs__store_migration fk_list[] = { { 1, ok_sql }, { 2, fk_sql } };
	const struct acs__store_migration gap_list[] = { { 1, ok_sql }, { 3, ok_sql } };

	sqlite3 *db = open_mem();
	assert_int_equal(acs__store_schema_migrate_list(db, list, 2, err), ACS_ESTORE);
	assert_non_null(strstr(err, "version 2"));
	/* Step 1 stays committed, step 2 left nothing behind. */
	assert_int_equal(version_of(db), 1);
	assert_true(has_object(db, "table", "a"));
	assert_false(has_object(db, "table", "b"));
	assert_true(sqlite3_get_autocommit(db));
	sqlite3_close(db);

	/* A step that leaves a dangling reference is refused by foreign_key_check. */
	db = open_mem();
	assert_int_equal(acs__store_schema_migrate_list(db, fk_list, 2, err), ACS_ESTORE);
	assert_non_null(strstr(err, "foreign key"));
	assert_int_equal(version_of(db), 1);
	assert_false(has_object(db, "table", "c"));
	sqlite3_close(db);

	db = open_mem();
	assert_int_equal(acs__store_schema_migrate_list(db, gap_list, 2, err), ACS_ESTORE);
	assert_non_null(strstr(err, "no migration from schema version 1"));
	sqlite3_close(db);
}

static void test_refuses_open_transaction(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	exec_ok(db, "BEGIN");
	acs_test_log_capture_begin();
	assert_int_equal(acs_store_schema_migrate(db, err), ACS_ESTORE);
	acs_test_log_capture_end();
	exec_ok(db, "ROLLBACK");
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	sqlite3_close(db);
}

#define MAP_COLS "name, ado_project, clickup_list_id, created_at, updated_at"

static void test_constraints(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	assert_int_equal(acs_store_schema_migrate(db, err), 0);

	exec_ok(db, "INSERT INTO project_map (" MAP_COLS ") VALUES ('m1', 'P', 'L1', 1, 2)");
	assert_int_equal(query_int(db, "SELECT on_delete = 'close' AND source = 'db' AND "
				       "copy_existing_comments = 1 AND status_map = '{}' "
				       "FROM project_map"),
			 1);
	exec_constraint(db, "INSERT INTO project_map (" MAP_COLS ") VALUES ('m1', 'P', 'L', 1, 1)",
			"UNIQUE");
	exec_constraint(db,
			"INSERT INTO project_map (" MAP_COLS ", on_delete) "
			"VALUES ('m2', 'P', 'L', 1, 1, 'explode')",
			"CHECK");
	exec_constraint(db,
			"INSERT INTO project_map (" MAP_COLS ", source) "
			"VALUES ('m2', 'P', 'L', 1, 1, 'web')",
			"CHECK");
	exec_constraint(db,
			"INSERT INTO project_map (" MAP_COLS ", status_map) "
			"VALUES ('m2', 'P', 'L', 1, 1, 'not json')",
			"CHECK");
	exec_constraint(db,
			"INSERT INTO project_map (" MAP_COLS ", status_map) "
			"VALUES ('m2', 'P', 'L', 1, 1, '[1]')",
			"CHECK");
	exec_constraint(db, "INSERT INTO project_map (" MAP_COLS ") VALUES ('m2', 'P', 'L', 5, 4)",
			"CHECK");
	/* STRICT: a string is not an integer. */
	assert_int_not_equal(sqlite3_exec(db,
					  "INSERT INTO project_map (" MAP_COLS ") "
					  "VALUES ('m3', 'P', 'L', 'now', 1)",
					  NULL, NULL, NULL),
			     SQLITE_OK);

	exec_ok(db, "INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, updated_at) "
		    "VALUES (1, 10, 'cu10', 1, 1)");
	exec_constraint(db,
			"INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, "
			"updated_at) VALUES (99, 11, 'cu11', 1, 1)",
			"FOREIGN KEY");
	exec_constraint(db,
			"INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, "
			"updated_at) VALUES (1, 10, 'cu12', 1, 1)",
			"UNIQUE");
	exec_constraint(db,
			"INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at, "
			"updated_at) VALUES (1, 12, 'cu10', 1, 1)",
			"UNIQUE");
	exec_constraint(db, "UPDATE sync_map SET state = 'paused'", "CHECK");

	exec_ok(db, "INSERT INTO comment_map (sync_id, ado_comment_id, origin, created_at, "
		    "updated_at) VALUES (1, 5, 'ado', 1, 1)");
	exec_constraint(db,
			"INSERT INTO comment_map (sync_id, ado_comment_id, origin, "
			"created_at, updated_at) VALUES (1, 5, 'clickup', 1, 1)",
			"UNIQUE");
	exec_constraint(db,
			"INSERT INTO comment_map (sync_id, origin, created_at, updated_at) "
			"VALUES (1, 'ado', 1, 1)",
			"CHECK");
	exec_ok(db, "INSERT INTO attachment_map (sync_id, clickup_attachment_id, sha256, size, "
		    "origin, created_at, updated_at) VALUES (1, 'att1', "
		    "'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 0, "
		    "'clickup', 1, 1)");
	exec_constraint(db,
			"INSERT INTO attachment_map (sync_id, clickup_attachment_id, "
			"sha256, origin, created_at, updated_at) VALUES (1, 'att2', 'XYZ', "
			"'clickup', 1, 1)",
			"CHECK");

	exec_ok(db, "INSERT INTO inbox (source, event_key, event_type, item_key, received_at, "
		    "body) VALUES ('ado', 'ado:abc', 'workitem.updated', 'ado:10', 1, '{}')");
	assert_int_equal(query_int(db, "SELECT state = 'pending' AND attempts = 0 FROM inbox"), 1);
	exec_constraint(db,
			"INSERT INTO inbox (source, event_key, event_type, item_key, "
			"received_at, body) VALUES ('ado', 'ado:abc', 'x', 'ado:10', 1, '{}')",
			"UNIQUE");
	exec_constraint(db, "UPDATE inbox SET state = 'lost'", "CHECK");
	exec_constraint(db,
			"INSERT INTO inbox (source, event_key, event_type, item_key, "
			"received_at, body) VALUES ('email', 'k2', 'x', 'i', 1, '{}')",
			"CHECK");

	exec_ok(db, "INSERT INTO sync_log (ts, map_id, sync_id, ado_id, clickup_id, direction, "
		    "action, status, fields) VALUES (5, 1, 1, 10, 'cu10', 'ado_to_clickup', "
		    "'update', 'ok', '[\"title\"]')");
	exec_constraint(db, "INSERT INTO sync_log (ts, action, status) VALUES (5, 'x', 'meh')",
			"CHECK");
	exec_ok(db, "INSERT INTO meta (key, value) VALUES ('w', '1')");
	exec_constraint(db, "INSERT INTO meta (key, value) VALUES ('w', '2')", "UNIQUE");

	/* Deleting the mapping removes its pairs and their comments and attachments, and
	 * keeps the history with its references cleared. */
	exec_ok(db, "DELETE FROM project_map WHERE id = 1");
	assert_int_equal(query_int(db, "SELECT count(*) FROM sync_map"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM comment_map"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM attachment_map"), 0);
	assert_int_equal(query_int(db, "SELECT count(*) FROM sync_log WHERE map_id IS NULL "
				       "AND sync_id IS NULL AND ado_id = 10"),
			 1);
	assert_int_equal(query_int(db, "SELECT count(*) FROM inbox"), 1);
	sqlite3_close(db);
}

/* The detail lines of the plan of sql, joined. */
static char *plan_of(sqlite3 *db, const char *sql)
{
	char *q = acs_xasprintf("EXPLAIN QUERY PLAN %s", sql);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, q, -1, &st, NULL), SQLITE_OK);
	free(q);
	char *out = acs_xstrdup("");
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *next = acs_xasprintf("%s%s\n", out, (const char *)sqlite3_column_text(st, 3));
		free(out);
		out = next;
	}
	sqlite3_finalize(st);
	return out;
}

static void expect_plan(sqlite3 *db, const char *sql, const char *want)
{
	char *plan = plan_of(db, sql);
	if (!strstr(plan, want))
		fail_msg("%s: plan\n%swithout \"%s\"", sql, plan, want);
	free(plan);
}

/* The inbox's queries by state go through the partial indexes: the queue read from
 * the index alone (the rows hold the bodies), a claim by item in id order without a
 * sort, the rows in error and the recovery of 'processing' rows without a scan. */
static void test_inbox_queries_use_indexes(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	sqlite3 *db = open_mem();
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	expect_plan(db, "SELECT id, next_attempt_at, item_key FROM inbox WHERE state = 'pending'",
		    "USING COVERING INDEX inbox_pending");
	char *claim = plan_of(db, "SELECT id, body FROM inbox WHERE item_key = 'ado:1'"
				  " AND state = 'pending' ORDER BY id");
	assert_non_null(strstr(claim, "USING INDEX inbox_pending (item_key=?)"));
	assert_null(strstr(claim, "TEMP B-TREE"));
	free(claim);
	expect_plan(db, "SELECT id FROM inbox WHERE state = 'error' ORDER BY id DESC LIMIT 5",
		    "inbox_error");
	expect_plan(db, "SELECT count(*) FROM inbox WHERE state = 'error'", "inbox_error");
	expect_plan(db, "UPDATE inbox SET state = 'pending' WHERE state = 'processing'",
		    "inbox_processing");
	expect_plan(db, "SELECT count(*) FROM inbox WHERE state = 'pending'", "inbox_pending");
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_migrate_from_empty),
		cmocka_unit_test(test_rerun_is_noop),
		cmocka_unit_test(test_newer_version_refused),
		cmocka_unit_test(test_foreign_database_refused),
		cmocka_unit_test(test_failed_step_rolls_back),
		cmocka_unit_test(test_refuses_open_transaction),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_inbox_queries_use_indexes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
