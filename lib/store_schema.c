/* SPDX-License-Identifier: MIT */
/* Versioned migrations for the SQLite database (see store_schema.h for the schema).
 * A migration is appended, never edited: databases in the field already ran the old
 * text, so a change to the schema is always a new step with the next version. */
#include "store_schema.h"

#include <stdio.h>
#include <string.h>

#include "err.h"

/* 'ACS1': marks the file as ours (PRAGMA application_id, shown by `file(1)`), so we
 * refuse to migrate some unrelated database a typo in the config pointed at. */
#define APPLICATION_ID 0x41435331

/*
 * Rules for writing a step:
 *  - the step runs inside one transaction, so it must not use BEGIN/COMMIT, VACUUM or
 *    PRAGMA foreign_keys (a no-op inside a transaction). A table rebuild that needs
 *    foreign keys off must use PRAGMA defer_foreign_keys, which resets at COMMIT.
 *  - foreign_key_check runs before the COMMIT, so a step cannot leave dangling rows.
 */
static const char *const migration_1[] = {
	/* Mappings. status_map maps ADO state -> ClickUp status, custom_map maps an ADO
	 * field reference -> ClickUp custom field id; both JSON objects. */
	"CREATE TABLE project_map ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 200),"
	"  source TEXT NOT NULL DEFAULT 'db' CHECK (source IN ('file', 'db')),"
	"  ado_project TEXT NOT NULL CHECK (ado_project <> ''),"
	"  ado_area_path TEXT NOT NULL DEFAULT '',"
	"  ado_work_item_types TEXT NOT NULL DEFAULT '[\"Task\",\"Bug\",\"User Story\"]'"
	"    CHECK (json_valid(ado_work_item_types)"
	"           AND json_type(ado_work_item_types) = 'array'),"
	"  ado_new_item_type TEXT NOT NULL DEFAULT 'Task' CHECK (ado_new_item_type <> ''),"
	"  clickup_list_id TEXT NOT NULL CHECK (clickup_list_id <> ''),"
	"  status_map TEXT NOT NULL DEFAULT '{}'"
	"    CHECK (json_valid(status_map) AND json_type(status_map) = 'object'),"
	"  custom_map TEXT NOT NULL DEFAULT '{}'"
	"    CHECK (json_valid(custom_map) AND json_type(custom_map) = 'object'),"
	"  on_delete TEXT NOT NULL DEFAULT 'close'"
	"    CHECK (on_delete IN ('close', 'delete', 'ignore')),"
	"  copy_existing_comments INTEGER NOT NULL DEFAULT 1"
	"    CHECK (copy_existing_comments IN (0, 1)),"
	"  created_at INTEGER NOT NULL CHECK (created_at >= 0),"
	"  updated_at INTEGER NOT NULL CHECK (updated_at >= created_at)"
	") STRICT;"
	/* A ClickUp webhook names the list; an ADO one names the project. */
	"CREATE INDEX project_map_list ON project_map (clickup_list_id);"
	"CREATE INDEX project_map_ado ON project_map (ado_project, ado_area_path);",

	/* Pairs. ADO ids are integers unique per organisation, ClickUp ids are strings.
	 * clickup_rev is the task's date_updated (ms); fingerprints are hex digests of
	 * the canonical fields we last wrote or read on that side (echo suppression). */
	"CREATE TABLE sync_map ("
	"  id INTEGER PRIMARY KEY,"
	"  map_id INTEGER NOT NULL REFERENCES project_map (id) ON DELETE CASCADE,"
	"  ado_id INTEGER NOT NULL UNIQUE CHECK (ado_id > 0),"
	"  clickup_id TEXT NOT NULL UNIQUE CHECK (clickup_id <> ''),"
	"  ado_rev INTEGER NOT NULL DEFAULT 0 CHECK (ado_rev >= 0),"
	"  clickup_rev INTEGER NOT NULL DEFAULT 0 CHECK (clickup_rev >= 0),"
	"  ado_fingerprint TEXT,"
	"  clickup_fingerprint TEXT,"
	"  base TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(base)),"
	"  state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'ended')),"
	"  created_at INTEGER NOT NULL CHECK (created_at >= 0),"
	"  updated_at INTEGER NOT NULL CHECK (updated_at >= created_at)"
	") STRICT;"
	"CREATE INDEX sync_map_map ON sync_map (map_id, state);",

	/* Comments. A row may exist before its mirror does (the other id still NULL);
	 * ids are unique per pair and per side. */
	"CREATE TABLE comment_map ("
	"  id INTEGER PRIMARY KEY,"
	"  sync_id INTEGER NOT NULL REFERENCES sync_map (id) ON DELETE CASCADE,"
	"  ado_comment_id INTEGER CHECK (ado_comment_id > 0),"
	"  clickup_comment_id TEXT CHECK (clickup_comment_id <> ''),"
	"  origin TEXT NOT NULL CHECK (origin IN ('ado', 'clickup')),"
	"  fingerprint TEXT,"
	"  created_at INTEGER NOT NULL CHECK (created_at >= 0),"
	"  updated_at INTEGER NOT NULL CHECK (updated_at >= created_at),"
	"  CHECK (ado_comment_id IS NOT NULL OR clickup_comment_id IS NOT NULL),"
	"  UNIQUE (sync_id, ado_comment_id),"
	"  UNIQUE (sync_id, clickup_comment_id)"
	") STRICT;",

	/* Attachments. ado_attachment_id is the GUID at the end of ado_url. */
	"CREATE TABLE attachment_map ("
	"  id INTEGER PRIMARY KEY,"
	"  sync_id INTEGER NOT NULL REFERENCES sync_map (id) ON DELETE CASCADE,"
	"  ado_attachment_id TEXT CHECK (ado_attachment_id <> ''),"
	"  ado_url TEXT,"
	"  clickup_attachment_id TEXT CHECK (clickup_attachment_id <> ''),"
	"  file_name TEXT NOT NULL DEFAULT '',"
	"  sha256 TEXT CHECK (sha256 IS NULL OR (length(sha256) = 64"
	"                     AND sha256 NOT GLOB '*[^0-9a-f]*')),"
	"  size INTEGER CHECK (size >= 0),"
	"  origin TEXT NOT NULL CHECK (origin IN ('ado', 'clickup')),"
	"  created_at INTEGER NOT NULL CHECK (created_at >= 0),"
	"  updated_at INTEGER NOT NULL CHECK (updated_at >= created_at),"
	"  CHECK (ado_attachment_id IS NOT NULL OR clickup_attachment_id IS NOT NULL),"
	"  UNIQUE (sync_id, ado_attachment_id),"
	"  UNIQUE (sync_id, clickup_attachment_id)"
	") STRICT;",

	/* Received events. body is the raw JSON as received. */
	"CREATE TABLE inbox ("
	"  id INTEGER PRIMARY KEY,"
	"  source TEXT NOT NULL CHECK (source IN ('ado', 'clickup', 'sweep')),"
	"  event_key TEXT NOT NULL UNIQUE CHECK (event_key <> ''),"
	"  event_type TEXT NOT NULL CHECK (event_type <> ''),"
	"  item_key TEXT NOT NULL CHECK (item_key <> ''),"
	"  received_at INTEGER NOT NULL CHECK (received_at >= 0),"
	"  body TEXT NOT NULL,"
	"  state TEXT NOT NULL DEFAULT 'pending'"
	"    CHECK (state IN ('pending', 'processing', 'done', 'error', 'ignored')),"
	"  attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),"
	"  next_attempt_at INTEGER NOT NULL DEFAULT 0 CHECK (next_attempt_at >= 0),"
	"  last_error TEXT"
	") STRICT;"
	/* The scheduler asks "what is due"; per-item ordering asks "what came first". */
	"CREATE INDEX inbox_due ON inbox (state, next_attempt_at);"
	"CREATE INDEX inbox_item ON inbox (item_key, id);",

	/* History. direction/status are enumerated; fields is a JSON array of the
	 * canonical field names the action touched. */
	"CREATE TABLE sync_log ("
	"  id INTEGER PRIMARY KEY,"
	"  ts INTEGER NOT NULL CHECK (ts >= 0),"
	"  map_id INTEGER REFERENCES project_map (id) ON DELETE SET NULL,"
	"  sync_id INTEGER REFERENCES sync_map (id) ON DELETE SET NULL,"
	"  ado_id INTEGER,"
	"  clickup_id TEXT,"
	"  direction TEXT NOT NULL DEFAULT 'none'"
	"    CHECK (direction IN ('ado_to_clickup', 'clickup_to_ado', 'none')),"
	"  action TEXT NOT NULL CHECK (action <> ''),"
	"  status TEXT NOT NULL CHECK (status IN ('ok', 'error', 'skipped', 'retry')),"
	"  fields TEXT CHECK (fields IS NULL OR json_valid(fields)),"
	"  message TEXT"
	") STRICT;"
	"CREATE INDEX sync_log_ts ON sync_log (ts);"
	"CREATE INDEX sync_log_status ON sync_log (status, ts);"
	/* Without these, deleting a mapping or pair scans the whole log for SET NULL. */
	"CREATE INDEX sync_log_map ON sync_log (map_id) WHERE map_id IS NOT NULL;"
	"CREATE INDEX sync_log_sync ON sync_log (sync_id) WHERE sync_id IS NOT NULL;",

	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY CHECK (key <> ''),"
	"  value TEXT NOT NULL"
	") STRICT, WITHOUT ROWID;",
	NULL,
};

/* Create intents: written before a remote create so that a crash between the remote
 * create and the pair row is recovered by looking for the twin instead of creating a
 * second one. At most one open intent per source item; done/abandoned rows stay as
 * history. twin_id is the other side's id once known. */
static const char *const migration_2[] = {
	"CREATE TABLE intent ("
	"  id INTEGER PRIMARY KEY,"
	"  map_id INTEGER REFERENCES project_map (id) ON DELETE CASCADE,"
	"  source TEXT NOT NULL CHECK (source IN ('ado', 'clickup')),"
	"  source_id TEXT NOT NULL CHECK (source_id <> ''),"
	"  state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'done', 'abandoned')),"
	"  twin_id TEXT CHECK (twin_id IS NULL OR twin_id <> ''),"
	"  created_at INTEGER NOT NULL CHECK (created_at >= 0),"
	"  updated_at INTEGER NOT NULL CHECK (updated_at >= created_at)"
	") STRICT;"
	"CREATE UNIQUE INDEX intent_open ON intent (source, source_id) WHERE state = 'open';",
	NULL,
};

/* Dashboard: the priority table of a mapping (ADO priority 1..4 -> ClickUp priority name;
 * the default is the product's fixed one), and an index for the per-minute event counts
 * of the overview (received_at ranges of the last hour). */
static const char *const migration_3[] = {
	"ALTER TABLE project_map ADD COLUMN priority_map TEXT NOT NULL"
	"  DEFAULT '{\"1\":\"urgent\",\"2\":\"high\",\"3\":\"normal\",\"4\":\"low\"}'"
	"  CHECK (json_valid(priority_map) AND json_type(priority_map) = 'object');"
	"CREATE INDEX inbox_received ON inbox (received_at);",
	NULL,
};

/* Attachments: the state of each row, so a row can be written before the transfer (an
 * intent) and a crash is recovered by looking for the twin instead of uploading again.
 * Rows of earlier versions were complete. */
static const char *const migration_4[] = {
	"ALTER TABLE attachment_map ADD COLUMN state TEXT NOT NULL DEFAULT 'done'"
	"  CHECK (state IN ('pending', 'uploaded', 'done', 'link_pending', 'linked', 'failed'));",
	NULL,
};

/* The scheduler's queue read (every pending row: its id, item and due time) from the
 * index alone: the table rows hold the bodies, a few per page, and reading them made
 * that read cost a page per row. Same leading columns, so every other use stays. */
static const char *const migration_5[] = {
	"DROP INDEX inbox_due;"
	"CREATE INDEX inbox_due ON inbox (state, next_attempt_at, item_key);",
	NULL,
};

/* A claim reads the pending rows of one item. By inbox_item it visited the item's whole
 * history, and a row's state comes after its body: every done row cost its body's
 * overflow pages. The pending rows of an item, from the index alone until they match. */
static const char *const migration_6[] = {
	"CREATE INDEX inbox_pending ON inbox (item_key, id) WHERE state = 'pending';",
	NULL,
};

/* Fewer index writes per event: every inbox row entered inbox_item, inbox_due and
 * inbox_pending, and its move to done rewrote its inbox_due entry, each a page of its
 * own in a random place (keys by item). No query reads an item's history by inbox_item
 * any more (claims go by inbox_pending); the queue read (pending rows: id, item, due
 * time) is covered by inbox_pending with the due time added (and the state: sqlite
 * 3.40 reads the row for a column the index's WHERE fixes); the few rows in error
 * (and the 'processing' rows of older versions, for the recovery at start) get small
 * partial indexes of their own. */
static const char *const migration_7[] = {
	"DROP INDEX inbox_item;"
	"DROP INDEX inbox_due;"
	"DROP INDEX inbox_pending;"
	"CREATE INDEX inbox_pending ON inbox (item_key, id, next_attempt_at, state)"
	"  WHERE state = 'pending';"
	"CREATE INDEX inbox_error ON inbox (id) WHERE state = 'error';"
	"CREATE INDEX inbox_processing ON inbox (id) WHERE state = 'processing';",
	NULL,
};

static const struct acs__store_migration migrations[] = {
	{ 1, migration_1 }, { 2, migration_2 }, { 3, migration_3 }, { 4, migration_4 },
	{ 5, migration_5 }, { 6, migration_6 }, { 7, migration_7 },
};

static int sql_fail(sqlite3 *db, char err[ACS_ERR_LEN], const char *what)
{
	snprintf(err, ACS_ERR_LEN, "%s: %s", what, sqlite3_errmsg(db));
	return ACS_ESTORE;
}

static int pragma_int(sqlite3 *db, const char *sql, int *out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, sql);
	int rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		rc = sql_fail(db, err, sql);
		sqlite3_finalize(st);
		return rc;
	}
	*out = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return 0;
}

int acs_store_schema_version(sqlite3 *db, int *version, char err[ACS_ERR_LEN])
{
	return pragma_int(db, "PRAGMA user_version", version, err);
}

/* Rows from PRAGMA foreign_key_check mean the step left dangling references. */
static int fk_check(sqlite3 *db, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA foreign_key_check", -1, &st, NULL) != SQLITE_OK)
		return sql_fail(db, err, "foreign_key_check");
	int rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		snprintf(err, ACS_ERR_LEN, "foreign key violation in table %s (rowid %lld)",
			 (const char *)sqlite3_column_text(st, 0),
			 (long long)sqlite3_column_int64(st, 1));
		rc = ACS_ESTORE;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = sql_fail(db, err, "foreign_key_check");
	}
	sqlite3_finalize(st);
	return rc;
}

static void rollback(sqlite3 *db)
{
	if (!sqlite3_get_autocommit(db))
		(void)sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

/* One transaction: look at the version, run the next step (if any). *done is set when
 * there is nothing left to do. */
static int migrate_one(sqlite3 *db, const struct acs__store_migration *list, size_t n, bool *done,
		       char err[ACS_ERR_LEN])
{
	const int target = n ? list[n - 1].version : 0;
	int version = 0, app_id = 0, rc;
	char msg[ACS_ERR_LEN];

	/* IMMEDIATE: two processes starting at once must not both run the same step. */
	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return sql_fail(db, err, "cannot start the migration transaction");
	rc = acs_store_schema_version(db, &version, err);
	if (!rc)
		rc = pragma_int(db, "PRAGMA application_id", &app_id, err);
	if (rc)
		goto fail;
	if (app_id != 0 && app_id != APPLICATION_ID) {
		snprintf(err, ACS_ERR_LEN,
			 "not an ado-clickup-sync database (application_id 0x%08x)",
			 (unsigned)app_id);
		rc = ACS_ESTORE;
		goto fail;
	}
	if (version > target || version < 0) {
		snprintf(err, ACS_ERR_LEN,
			 "database schema version %d is newer than this build supports (%d): "
			 "upgrade ado-clickup-sync or restore a backup",
			 version, target);
		rc = ACS_ESTORE;
		goto fail;
	}
	if (version == target) {
		*done = true;
		rollback(db); /* read-only transaction: nothing to keep */
		return 0;
	}

	const struct acs__store_migration *step = NULL;
	for (size_t i = 0; i < n; i++) {
		if (list[i].version == version + 1)
			step = &list[i];
	}
	if (!step) {
		snprintf(err, ACS_ERR_LEN, "no migration from schema version %d", version);
		rc = ACS_ESTORE;
		goto fail;
	}
	for (const char *const *sql = step->sql; *sql; sql++) {
		char *emsg = NULL;
		if (sqlite3_exec(db, *sql, NULL, NULL, &emsg) != SQLITE_OK) {
			snprintf(err, ACS_ERR_LEN, "schema migration to version %d failed: %.200s",
				 step->version, emsg ? emsg : sqlite3_errmsg(db));
			sqlite3_free(emsg);
			rc = ACS_ESTORE;
			goto fail;
		}
	}
	char pragmas[96];
	snprintf(pragmas, sizeof(pragmas), "PRAGMA user_version = %d; PRAGMA application_id = %d",
		 step->version, APPLICATION_ID);
	if (sqlite3_exec(db, pragmas, NULL, NULL, NULL) != SQLITE_OK) {
		rc = sql_fail(db, err, "cannot set the schema version");
		goto fail;
	}
	rc = fk_check(db, msg);
	if (rc) {
		snprintf(err, ACS_ERR_LEN, "schema migration to version %d failed: %.200s",
			 step->version, msg);
		goto fail;
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = sql_fail(db, err, "cannot commit the schema migration");
		goto fail;
	}
	return 0;
fail:
	rollback(db);
	return rc;
}

ACS_STATIC int acs__store_schema_migrate_list(sqlite3 *db, const struct acs__store_migration *list,
					      size_t n, char err[ACS_ERR_LEN])
{
	if (acs_fails_assert(db != NULL) || acs_fails_assert(sqlite3_get_autocommit(db))) {
		snprintf(err, ACS_ERR_LEN,
			 "migrations need an open database outside a transaction");
		return ACS_ESTORE;
	}
	bool done = false;
	while (!done) {
		int rc = migrate_one(db, list, n, &done, err);
		if (rc)
			return rc;
	}
	return 0;
}

int acs_store_schema_migrate(sqlite3 *db, char err[ACS_ERR_LEN])
{
	return acs__store_schema_migrate_list(db, migrations, ACS_ARRAY_SIZE(migrations), err);
}
