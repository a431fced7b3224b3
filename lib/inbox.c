/* SPDX-License-Identifier: MIT */
/* Store jobs over the inbox table and the ClickUp webhook secrets in meta (the
 * contract is in inbox.h). Job functions run on the store's threads and touch
 * only their sqlite3 handle and their own job struct. */
#include "inbox.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "json_codec.h"
#include "mem.h"

static const char *const state_names[ACS_INBOX_NSTATES] = {
	[ACS_INBOX_PENDING] = "pending", [ACS_INBOX_PROCESSING] = "processing",
	[ACS_INBOX_DONE] = "done",	 [ACS_INBOX_ERROR] = "error",
	[ACS_INBOX_IGNORED] = "ignored",
};

const char *acs_inbox_state_name(enum acs_inbox_state state)
{
	if ((unsigned)state >= ACS_INBOX_NSTATES)
		return "?";
	return state_names[state];
}

static enum acs_inbox_state state_parse(const unsigned char *s)
{
	for (int i = 0; s && i < ACS_INBOX_NSTATES; i++) {
		if (!strcmp((const char *)s, state_names[i]))
			return (enum acs_inbox_state)i;
	}
	/* The schema's CHECK constraint makes this unreachable. */
	return ACS_INBOX_ERROR;
}

int64_t acs_inbox_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- sqlite helpers ---- */

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **s, char err[ACS_ERR_LEN])
{
	int rc = sqlite3_prepare_v2(db, sql, -1, s, NULL);
	return rc == SQLITE_OK ? 0 : acs_store_error(db, rc, "prepare", err);
}

static char *col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	return t ? acs_xstrndup((const char *)t, (size_t)sqlite3_column_bytes(s, i)) : NULL;
}

/* A row of the columns ROW_COLUMNS, in that order. */
#define ROW_COLUMNS                                                                 \
	"id, source, event_type, event_key, item_key, body, received_at, attempts," \
	" next_attempt_at, last_error"

static void row_read(sqlite3_stmt *c, struct acs_inbox_row *r, enum acs_inbox_state state)
{
	r->id = sqlite3_column_int64(c, 0);
	r->source = col_dup(c, 1);
	r->event_type = col_dup(c, 2);
	r->event_key = col_dup(c, 3);
	r->item_key = col_dup(c, 4);
	r->body = col_dup(c, 5);
	r->body_len = r->body ? (size_t)sqlite3_column_bytes(c, 5) : 0;
	r->received_at = sqlite3_column_int64(c, 6);
	r->attempts = (unsigned)sqlite3_column_int64(c, 7);
	r->next_attempt_at = sqlite3_column_int64(c, 8);
	r->last_error = col_dup(c, 9);
	r->state = state;
}

/* Bind a text of explicit length; SQLITE_STATIC because every statement is reset or
 * finalized before the job returns, while the caller's strings are still alive. */
static int bind_textn(sqlite3_stmt *s, int i, const char *v, size_t len)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	if (len > INT_MAX)
		return SQLITE_TOOBIG;
	return sqlite3_bind_text(s, i, v, (int)len, SQLITE_STATIC);
}

static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
	return bind_textn(s, i, v, v ? strlen(v) : 0);
}

/* Run a statement that returns no rows; finalizes it. */
static int step_done(sqlite3 *db, sqlite3_stmt *s, const char *what, char err[ACS_ERR_LEN])
{
	int rc = sqlite3_step(s);
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, what, err);
	sqlite3_finalize(s);
	return rc;
}

/* The scheduler's statements (a queue read per kick, a claim and a mark per job) are
 * cached on their connection (acs_store_cached) and put back with put_back. */
static int cached(sqlite3 *db, const char *sql, sqlite3_stmt **s, char err[ACS_ERR_LEN])
{
	return acs_store_cached(db, sql, s, err);
}

static void put_back(sqlite3_stmt *s)
{
	if (s) {
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
}

static void row_deinit(struct acs_inbox_row *r)
{
	free(r->source);
	free(r->event_type);
	free(r->event_key);
	free(r->item_key);
	free(r->body);
	free(r->last_error);
	json_decref(r->json);
	memset(r, 0, sizeof(*r));
}

static void rows_free(struct acs_inbox_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		row_deinit(&rows[i]);
	free(rows);
}

/* Append a row to a growing array (capacity doubles). */
static struct acs_inbox_row *rows_push(struct acs_inbox_row **rows, size_t *n, size_t *cap)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		*rows = acs_xrealloc(*rows, *cap * sizeof(**rows));
	}
	struct acs_inbox_row *r = &(*rows)[(*n)++];
	memset(r, 0, sizeof(*r));
	return r;
}

/* ---- statement cache ---- */

struct acs_inbox_stmt_cache {
	sqlite3 *db;			/**< the writer connection the statements belong to */
	sqlite3_stmt *insert;		/**< INSERT_SQL, prepared on first use */
	acs_store_done_cb release_done; /**< the caller's callback of the release job */
	void *release_arg;
};

struct acs_inbox_stmt_cache *acs_inbox_stmt_cache_new(void)
{
	return acs_xcalloc(1, sizeof(struct acs_inbox_stmt_cache));
}

static int cache_release_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_stmt_cache *c = arg;
	(void)err;
	/* Only the connection that prepared them may finalize them (NOMUTEX). */
	if (c->db == db) {
		sqlite3_finalize(c->insert);
		c->insert = NULL;
		c->db = NULL;
	}
	return 0;
}

/* The store hands one pointer to a job and its callback; the caller's arg travels
 * in the cache. */
static void cache_release_done(int rc, const char *err, void *arg)
{
	struct acs_inbox_stmt_cache *c = arg;
	if (c->release_done)
		c->release_done(rc, err, c->release_arg);
}

int acs_inbox_stmt_cache_release(struct acs_store *st, struct acs_inbox_stmt_cache *c,
				 acs_store_done_cb done, void *arg)
{
	c->release_done = done;
	c->release_arg = arg;
	return acs_store_write(st, cache_release_fn, cache_release_done, c);
}

void acs_inbox_stmt_cache_free(struct acs_inbox_stmt_cache *c)
{
	free(c);
}

/* ---- insert ---- */

#define INSERT_SQL                                                                       \
	"INSERT INTO inbox (source, event_key, event_type, item_key, received_at, body)" \
	" VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (event_key) DO NOTHING"

static int insert_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_insert *j = arg;
	struct acs_inbox_stmt_cache *c = j->cache;
	sqlite3_stmt *s = NULL;
	bool cached = c && (!c->db || c->db == db);
	int rc;

	j->id = 0;
	j->duplicate = false;
	if (cached && c->insert) {
		s = c->insert;
	} else {
		rc = sqlite3_prepare_v3(db, INSERT_SQL, -1, cached ? SQLITE_PREPARE_PERSISTENT : 0,
					&s, NULL);
		if (rc != SQLITE_OK)
			return acs_store_error(db, rc, "prepare inbox insert", err);
		if (cached) {
			c->insert = s;
			c->db = db;
		}
	}
	if ((rc = bind_text(s, 1, j->source)) != SQLITE_OK ||
	    (rc = bind_text(s, 2, j->event_key)) != SQLITE_OK ||
	    (rc = bind_text(s, 3, j->event_type)) != SQLITE_OK ||
	    (rc = bind_text(s, 4, j->item_key)) != SQLITE_OK ||
	    (rc = sqlite3_bind_int64(s, 5, j->received_at)) != SQLITE_OK ||
	    (rc = bind_textn(s, 6, j->body ? j->body : "", j->body ? j->body_len : 0)) !=
		    SQLITE_OK) {
		rc = acs_store_error(db, rc, "bind inbox insert", err);
	} else {
		rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			rc = 0;
			if (sqlite3_changes(db) > 0)
				j->id = sqlite3_last_insert_rowid(db);
			else
				j->duplicate = true;
		} else {
			rc = acs_store_error(db, rc, "inbox insert", err);
		}
	}
	if (cached) {
		/* Reset so the statement holds no lock and no pointer into the caller's
		 * strings once this job returns. */
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	} else {
		sqlite3_finalize(s);
	}
	return rc;
}

int acs_inbox_insert(struct acs_store *st, struct acs_inbox_insert *job, acs_store_done_cb done)
{
	return acs_store_write(st, insert_fn, done, job);
}

/* ---- recover ---- */

static int recover_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_recover *j = arg;
	int rc = acs_store_exec(db, "UPDATE inbox SET state = 'pending' WHERE state = 'processing'",
				err);
	j->reset = rc ? 0 : sqlite3_changes(db);
	return rc;
}

int acs_inbox_recover(struct acs_store *st, struct acs_inbox_recover *job, acs_store_done_cb done)
{
	return acs_store_write(st, recover_fn, done, job);
}

/* ---- due ---- */

/* The item a row belongs to: a ClickUp key becomes its twin's ADO key once paired
 * (sync_map.clickup_id is UNIQUE, so this is one index lookup per row). */
#define RESOLVED_KEY                                                                           \
	"CASE WHEN inbox.item_key GLOB 'clickup:*' THEN coalesce((SELECT 'ado:' || m.ado_id"   \
	" FROM sync_map AS m WHERE m.clickup_id = substr(inbox.item_key, 9)), inbox.item_key)" \
	" ELSE inbox.item_key END"

static int due_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_due *j = arg;
	size_t max = j->max_items ? j->max_items : 64, cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = cached(db,
			"WITH p AS (SELECT id, next_attempt_at AS na, " RESOLVED_KEY " AS k"
			" FROM inbox WHERE state = 'pending')"
			" SELECT k, min(id) AS first_id, count(*), max(na) FROM p"
			" GROUP BY k ORDER BY first_id",
			&s, err);
	if (rc)
		return rc;
	j->items = NULL;
	j->n_items = 0;
	j->pending_rows = 0;
	j->next_due_at = 0;
	j->truncated = false;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int64_t count = sqlite3_column_int64(s, 2);
		int64_t due_at = sqlite3_column_int64(s, 3);
		j->pending_rows += count;
		if (due_at > j->now_ms) {
			if (!j->next_due_at || due_at < j->next_due_at)
				j->next_due_at = due_at;
			continue;
		}
		if (j->n_items == max) {
			j->truncated = true;
			continue;
		}
		if (j->n_items == cap) {
			cap = cap ? cap * 2 : 16;
			j->items = acs_xrealloc(j->items, cap * sizeof(*j->items));
		}
		struct acs_inbox_due_item *it = &j->items[j->n_items++];
		it->item_key = col_dup(s, 0);
		it->first_id = sqlite3_column_int64(s, 1);
		it->count = count;
		it->due_at = due_at;
	}
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "reading the inbox queue", err);
	put_back(s);
	return rc;
}

int acs_inbox_due(struct acs_store *st, struct acs_inbox_due *job, acs_store_done_cb done)
{
	return acs_store_read(st, due_fn, done, job);
}

void acs_inbox_due_deinit(struct acs_inbox_due *job)
{
	for (size_t i = 0; i < job->n_items; i++)
		free(job->items[i].item_key);
	free(job->items);
	job->items = NULL;
	job->n_items = 0;
}

/* ---- claim ---- */

/* Both keys of the item: key (resolved) and twin (or NULL when unpaired). */
static int resolve_pair(sqlite3 *db, struct acs_inbox_claim *j, char err[ACS_ERR_LEN])
{
	const char *k = j->item_key;
	sqlite3_stmt *s = NULL;
	int rc;

	if (!strncmp(k, "ado:", 4)) {
		char *end = NULL;
		errno = 0;
		long long id = strtoll(k + 4, &end, 10);
		j->key = acs_xstrdup(k);
		if (errno || end == k + 4 || *end || id <= 0)
			return 0;
		if ((rc = cached(db, "SELECT clickup_id FROM sync_map WHERE ado_id = ?1", &s, err)))
			return rc;
		sqlite3_bind_int64(s, 1, id);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			j->twin = acs_xasprintf("clickup:%s", sqlite3_column_text(s, 0));
	} else if (!strncmp(k, "clickup:", 8)) {
		if ((rc = cached(db, "SELECT ado_id FROM sync_map WHERE clickup_id = ?1", &s, err)))
			return rc;
		bind_text(s, 1, k + 8);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW) {
			j->key = acs_xasprintf("ado:%lld", (long long)sqlite3_column_int64(s, 0));
			j->twin = acs_xstrdup(k);
		} else {
			j->key = acs_xstrdup(k);
		}
	} else {
		j->key = acs_xstrdup(k);
		return 0;
	}
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE
		     ? 0
		     : acs_store_error(db, rc, "resolving the pair", err);
	put_back(s);
	return rc;
}

#define CLAIM_SQL                                                                          \
	"SELECT id, source, event_type, event_key, item_key, body, received_at, attempts," \
	" next_attempt_at, last_error FROM inbox INDEXED BY inbox_pending"                 \
	" WHERE item_key = ?1 AND state = 'pending' ORDER BY id"

static int claim_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_claim *j = arg;
	sqlite3_stmt *s = NULL;
	size_t cap = 0, bytes = 0;
	int rc;

	acs_inbox_claim_deinit(j);
	if ((rc = resolve_pair(db, j, err)))
		return rc;

	/* The item's pending rows only (migration 6): sqlite's own choice would be the
	 * state index, i.e. every pending row of a backlog. One scan per key, each in id
	 * order from the index, merged here: "item_key IN (a, b) ORDER BY id" made sqlite
	 * sort (a sorter allocated per claim). The twin's scan is another statement (the
	 * cache hands out only idle ones, and the first is mid-scan). */
	sqlite3_stmt *t = NULL;
	if ((rc = cached(db, CLAIM_SQL, &s, err)))
		return rc;
	bind_text(s, 1, j->key);
	if (j->twin) {
		if ((rc = cached(db, CLAIM_SQL " /* twin */", &t, err))) {
			put_back(s);
			return rc;
		}
		bind_text(t, 1, j->twin);
	}
	int rs = sqlite3_step(s), rt = t ? sqlite3_step(t) : SQLITE_DONE;
	while ((j->max_events == 0 || j->n_rows < j->max_events) &&
	       (j->max_bytes == 0 || j->n_rows == 0 || bytes < j->max_bytes) &&
	       (rs == SQLITE_ROW || rt == SQLITE_ROW)) {
		bool from_s = rs == SQLITE_ROW &&
			      (rt != SQLITE_ROW ||
			       sqlite3_column_int64(s, 0) < sqlite3_column_int64(t, 0));
		sqlite3_stmt *c = from_s ? s : t;
		struct acs_inbox_row *r = rows_push(&j->rows, &j->n_rows, &cap);
		row_read(c, r, ACS_INBOX_PENDING);
		/* Off the loop thread: the job would parse it there first thing. */
		if (j->parse && r->body)
			r->json = acs_json_loadb(r->body, r->body_len, 0, NULL);
		bytes += r->body_len;
		if (from_s)
			rs = sqlite3_step(s);
		else
			rt = sqlite3_step(t);
	}
	if (rs != SQLITE_ROW && rs != SQLITE_DONE)
		rc = rs;
	else if (rt != SQLITE_ROW && rt != SQLITE_DONE)
		rc = rt;
	else
		rc = rs == SQLITE_ROW || rt == SQLITE_ROW ? SQLITE_ROW : SQLITE_DONE;
	put_back(t);
	j->truncated = rc == SQLITE_ROW;
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		rc = acs_store_error(db, rc, "reading the item's events", err);
	else
		rc = 0;
	put_back(s);
	if (!rc && j->n_rows && j->extra)
		j->extra_out = j->extra(db, j->key, j->extra_arg);
	return rc;
}

int acs_inbox_claim(struct acs_store *st, struct acs_inbox_claim *job, acs_store_done_cb done)
{
	if (acs_fails_assert(job && job->item_key && job->item_key[0]))
		return -EINVAL;
	/* A read: the rows stay pending, the scheduler holds them (see its CLAIMS). */
	return acs_store_read(st, claim_fn, done, job);
}

void acs_inbox_claim_deinit(struct acs_inbox_claim *job)
{
	rows_free(job->rows, job->n_rows);
	free(job->key);
	free(job->twin);
	job->rows = NULL;
	job->n_rows = 0;
	job->key = job->twin = NULL;
}

/* ---- mark ---- */

int acs_inbox_mark_run(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_mark *j = arg;
	sqlite3_stmt *s = NULL;
	int rc = cached(db,
			"UPDATE inbox SET state = ?1, attempts = attempts + ?2,"
			" next_attempt_at = CASE WHEN ?3 < 0 THEN next_attempt_at ELSE ?3 END,"
			" last_error = CASE WHEN ?4 IS NULL THEN last_error"
			"   WHEN ?4 = '' THEN NULL ELSE ?4 END"
			" WHERE id = ?5 AND (?6 IS NULL OR state = ?6)",
			&s, err);
	if (rc)
		return rc;
	j->changed = 0;
	bind_text(s, 1, acs_inbox_state_name(j->to));
	sqlite3_bind_int(s, 2, j->add_attempt ? 1 : 0);
	sqlite3_bind_int64(s, 3, j->next_attempt_at);
	bind_text(s, 4, j->last_error);
	bind_text(s, 6, j->only_from ? acs_inbox_state_name(j->from) : NULL);
	for (size_t i = 0; i < j->n_ids; i++) {
		sqlite3_bind_int64(s, 5, j->ids[i]);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE) {
			rc = acs_store_error(db, rc, "updating inbox rows", err);
			put_back(s);
			return rc;
		}
		j->changed += sqlite3_changes(db);
		sqlite3_reset(s);
	}
	put_back(s);
	return 0;
}

int acs_inbox_mark(struct acs_store *st, struct acs_inbox_mark *job, acs_store_done_cb done)
{
	if (acs_fails_assert(job && (unsigned)job->to < ACS_INBOX_NSTATES &&
			     (job->ids || !job->n_ids)))
		return -EINVAL;
	return acs_store_write(st, acs_inbox_mark_run, done, job);
}

/* ---- counts ---- */

static int counts_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_counts *j = arg;
	sqlite3_stmt *s = NULL;
	int rc = prepare(db, "SELECT state, count(*) FROM inbox GROUP BY state", &s, err);
	if (rc)
		return rc;
	memset(j->n, 0, sizeof(j->n));
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		j->n[state_parse(sqlite3_column_text(s, 0))] += sqlite3_column_int64(s, 1);
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "counting inbox rows", err);
	sqlite3_finalize(s);
	return rc;
}

int acs_inbox_counts(struct acs_store *st, struct acs_inbox_counts *job, acs_store_done_cb done)
{
	return acs_store_read(st, counts_fn, done, job);
}

/* ---- error queue ---- */

static int errors_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_errors *j = arg;
	sqlite3_stmt *s = NULL;
	size_t cap = 0;
	int rc;

	acs_inbox_errors_deinit(j);
	j->total = 0;
	if ((rc = prepare(db, "SELECT count(*) FROM inbox WHERE state = 'error'", &s, err)))
		return rc;
	if ((rc = sqlite3_step(s)) == SQLITE_ROW)
		j->total = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	if (rc != SQLITE_ROW)
		return acs_store_error(db, rc, "counting errors", err);

	/* Newest first, by the partial index of the rows in error (migration 7); the
	 * bodies are not listed. */
	if ((rc = prepare(db,
			  "SELECT id, source, event_type, event_key, item_key, NULL, received_at,"
			  " attempts, next_attempt_at, last_error FROM inbox"
			  " WHERE state = 'error' ORDER BY id DESC LIMIT ?1 OFFSET ?2",
			  &s, err)))
		return rc;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)(j->limit ? j->limit : 50));
	sqlite3_bind_int64(s, 2, (sqlite3_int64)j->offset);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		row_read(s, rows_push(&j->rows, &j->n_rows, &cap), ACS_INBOX_ERROR);
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "listing errors", err);
	sqlite3_finalize(s);
	return rc;
}

int acs_inbox_errors(struct acs_store *st, struct acs_inbox_errors *job, acs_store_done_cb done)
{
	return acs_store_read(st, errors_fn, done, job);
}

void acs_inbox_errors_deinit(struct acs_inbox_errors *job)
{
	rows_free(job->rows, job->n_rows);
	job->rows = NULL;
	job->n_rows = 0;
}

static int error_op(sqlite3 *db, struct acs_inbox_error_op *j, const char *sql,
		    char err[ACS_ERR_LEN])
{
	sqlite3_stmt *s = NULL;
	int rc = prepare(db, sql, &s, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, j->id);
	rc = step_done(db, s, "updating error rows", err);
	j->changed = rc ? 0 : sqlite3_changes(db);
	if (!rc && j->id > 0 && !j->changed) {
		snprintf(err, ACS_ERR_LEN, "no inbox row %" PRId64 " in the error queue", j->id);
		return ACS_ENOTFOUND;
	}
	return rc;
}

static int error_retry_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	return error_op(db, arg,
			"UPDATE inbox SET state = 'pending', attempts = 0, next_attempt_at = 0"
			" WHERE state = 'error' AND (?1 = 0 OR id = ?1)",
			err);
}

static int error_dismiss_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	return error_op(db, arg,
			"UPDATE inbox SET state = 'ignored' WHERE state = 'error'"
			" AND (?1 = 0 OR id = ?1)",
			err);
}

int acs_inbox_error_retry(struct acs_store *st, struct acs_inbox_error_op *job,
			  acs_store_done_cb done)
{
	return acs_store_write(st, error_retry_fn, done, job);
}

int acs_inbox_error_dismiss(struct acs_store *st, struct acs_inbox_error_op *job,
			    acs_store_done_cb done)
{
	return acs_store_write(st, error_dismiss_fn, done, job);
}

/* ---- prune ---- */

static int prune_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_prune *j = arg;
	sqlite3_stmt *s = NULL;
	int rc = prepare(db,
			 "DELETE FROM inbox WHERE state IN ('done', 'ignored') AND received_at < "
			 "?1",
			 &s, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(s, 1, j->before_ms);
	rc = step_done(db, s, "pruning the inbox", err);
	j->deleted = rc ? 0 : sqlite3_changes(db);
	return rc;
}

int acs_inbox_prune(struct acs_store *st, struct acs_inbox_prune *job, acs_store_done_cb done)
{
	return acs_store_write(st, prune_fn, done, job);
}

/* ---- secrets ---- */

static int secrets_load_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_secrets *j = arg;
	const size_t plen = strlen(ACS_INBOX_SECRET_PREFIX);
	size_t cap = 0;
	sqlite3_stmt *s = NULL;
	int rc = prepare(db,
			 "SELECT substr(key, ?2 + 1), value FROM meta"
			 " WHERE substr(key, 1, ?2) = ?1 AND length(key) > ?2 ORDER BY key",
			 &s, err);
	if (rc)
		return rc;
	acs_inbox_secrets_deinit(j);
	bind_text(s, 1, ACS_INBOX_SECRET_PREFIX);
	sqlite3_bind_int64(s, 2, (sqlite3_int64)plen);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (j->n == cap) {
			cap = cap ? cap * 2 : 4;
			j->v = acs_xrealloc(j->v, cap * sizeof(*j->v));
		}
		j->v[j->n].webhook_id = col_dup(s, 0);
		j->v[j->n].secret = col_dup(s, 1);
		j->n++;
	}
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "reading webhook secrets", err);
	sqlite3_finalize(s);
	return rc;
}

int acs_inbox_secrets_load(struct acs_store *st, struct acs_inbox_secrets *job,
			   acs_store_done_cb done)
{
	return acs_store_read(st, secrets_load_fn, done, job);
}

void acs_inbox_secrets_deinit(struct acs_inbox_secrets *job)
{
	for (size_t i = 0; i < job->n; i++) {
		free(job->v[i].webhook_id);
		if (job->v[i].secret) {
			sodium_memzero(job->v[i].secret, strlen(job->v[i].secret));
			free(job->v[i].secret);
		}
	}
	free(job->v);
	job->v = NULL;
	job->n = 0;
}

static int secret_save_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_inbox_secret_save *j = arg;
	char *key = acs_xasprintf("%s%s", ACS_INBOX_SECRET_PREFIX, j->webhook_id);
	sqlite3_stmt *s = NULL;
	int rc = prepare(db,
			 j->secret ? "INSERT INTO meta (key, value) VALUES (?1, ?2)"
				     " ON CONFLICT (key) DO UPDATE SET value = excluded.value"
				   : "DELETE FROM meta WHERE key = ?1",
			 &s, err);
	if (!rc) {
		bind_text(s, 1, key);
		if (j->secret)
			bind_text(s, 2, j->secret);
		rc = step_done(db, s, "saving a webhook secret", err);
	}
	free(key);
	return rc;
}

int acs_inbox_secret_save(struct acs_store *st, struct acs_inbox_secret_save *job,
			  acs_store_done_cb done)
{
	if (acs_fails_assert(job != NULL) || !job->webhook_id || !job->webhook_id[0])
		return -EINVAL;
	return acs_store_write(st, secret_save_fn, done, job);
}
