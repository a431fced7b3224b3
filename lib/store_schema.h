/* SPDX-License-Identifier: MIT */
/* The database schema and its versioned migrations, keyed on PRAGMA user_version.
 * Synchronous and loop-free: acs_store_open runs it at startup and the tests run it
 * on a plain sqlite3 handle. */
#pragma once

#include <sqlite3.h>

#include "common.h"

/*
 * SCHEMA (version 4). Timestamps are integer milliseconds since the Unix epoch, JSON
 * columns hold text that json_valid() accepts (CHECK constraints call it, so a
 * connection writing these tables needs PRAGMA trusted_schema = ON, sqlite's default),
 * and every table is STRICT.
 *
 *   project_map     one row per mapping (ADO project/area <-> ClickUp list). source 'file'
 *                   rows mirror the INI file, 'db' rows were added in the dashboard.
 *   sync_map        one row per paired item: ado_id <-> clickup_id, the last revision and
 *                   fingerprint seen on each side, and base = the canonical fields as of
 *                   the last sync (the common ancestor for three-way merges).
 *                   Deleting a mapping deletes its pairs (ON DELETE CASCADE).
 *   comment_map     mirrored comments of a pair; origin = the side that wrote the original.
 *   attachment_map  mirrored attachments of a pair, with the sha256 and size of the bytes.
 *   inbox           every received webhook (and sweep finding), stored before it is
 *                   acknowledged. event_key is the idempotency key, item_key the item the
 *                   event is about (per-item ordering). state: pending -> processing ->
 *                   done | error | ignored; retries use attempts and next_attempt_at.
 *   sync_log        the history shown in the dashboard; its references are SET NULL when
 *                   the mapping or pair goes away so history survives.
 *   meta            key/value text: watermarks, stored webhook secrets.
 *   intent          (version 2) a create in progress: written before the remote create,
 *                   closed with the pair row; an open one after a crash means "look for
 *                   the twin before creating again". One open intent per source item.
 *   (version 3)     project_map.priority_map: ADO priority "1".."4" -> ClickUp priority
 *                   name (default the fixed urgent/high/normal/low table); index
 *                   inbox_received for the dashboard's events per minute.
 *   (version 4)     attachment_map.state: 'pending' (written before the transfer), 'uploaded'
 *                   (ADO twin uploaded, relation not confirmed), 'done', 'link_pending' /
 *                   'linked' (over the size cap: a comment with a link), 'failed'.
 *
 * Enumerated values (enforced by CHECK constraints):
 *   project_map.source      'file' | 'db'
 *   project_map.on_delete   'close' | 'delete' | 'ignore'
 *   sync_map.state          'active' | 'ended'
 *   *.origin                'ado' | 'clickup'
 *   inbox.source            'ado' | 'clickup' | 'sweep'
 *   inbox.state             'pending' | 'processing' | 'done' | 'error' | 'ignored'
 *   sync_log.direction      'ado_to_clickup' | 'clickup_to_ado' | 'none'
 *   sync_log.status         'ok' | 'error' | 'skipped' | 'retry'
 *   intent.source           'ado' | 'clickup'
 *   intent.state            'open' | 'done' | 'abandoned'
 */

/** The schema version this build creates and understands. */
#define ACS_STORE_SCHEMA_VERSION 7

/** Bring db up to ACS_STORE_SCHEMA_VERSION: each pending migration runs in its own
 *  BEGIN IMMEDIATE transaction that also sets user_version, so a failure leaves the
 *  database at the previous version. Re-running on an up-to-date database changes
 *  nothing. Blocking: call at startup, never on the loop thread while it runs.
 *  db is borrowed and must not be inside a transaction.
 *  Returns 0, or ACS_ESTORE with err set (also when the database is newer than this
 *  build: it is left untouched). */
int acs_store_schema_migrate(sqlite3 *db, char err[ACS_ERR_LEN]);

/** Read PRAGMA user_version into *version. Returns 0 or ACS_ESTORE with err set. */
int acs_store_schema_version(sqlite3 *db, int *version, char err[ACS_ERR_LEN]);

/** One migration step: the SQL that takes the schema from version - 1 to version.
 *  Internal; public only so the unit test can inject a broken step. */
struct acs__store_migration {
	int version;		/**< user_version after this step */
	const char *const *sql; /**< NULL-terminated chunks of SQL run in the step's transaction */
};

#ifdef ACS_UNIT_TEST
/** acs_store_schema_migrate with an explicit migration list (tests inject broken steps). */
int acs__store_schema_migrate_list(sqlite3 *db, const struct acs__store_migration *list, size_t n,
				   char err[ACS_ERR_LEN]);
#endif
