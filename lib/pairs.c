/* SPDX-License-Identifier: MIT */
/* Store jobs of the sync engine: pairs, mappings, create intents and the sync log.
 * One heap job per call carries the copied inputs to the store thread and the results
 * back to the loop, where the typed callback gets them. */
#include "pairs.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "err.h"
#include "json_codec.h"
#include "mem.h"
#include "store.h"

enum kind {
	J_FIND_ADO,
	J_FIND_CLICKUP,
	J_INSERT,
	J_UPDATE,
	J_INTENT_OPEN,
	J_INTENT_FIND,
	J_INTENT_TWIN,
	J_INTENT_CLOSE,
	J_MAP_UPSERT,
	J_LOG,
	J_LOG_LIST,
	J_SET_STATE,
	J_DELETE,
};

struct job {
	enum kind kind;
	void (*cb)(void); /**< typed callback, cast back by kind */
	void *arg;
	int64_t now;
	/* inputs (owned copies) */
	int64_t i1;
	char *s1, *s2, *s3;
	struct acs_pair *pair;
	/* J_LOG: the row and its owned strings */
	struct acs_sync_log_row row;
	char *r_clickup, *r_dir, *r_action, *r_status, *r_fields, *r_msg;
	/* J_MAP_UPSERT */
	char *m_name, *m_project, *m_area, *m_types, *m_new_type, *m_list, *m_status, *m_custom,
		*m_on_delete;
	int m_copy_comments;
	/* J_LOG_LIST */
	unsigned page, limit;
	/* outputs */
	struct acs_pair *out_pair;
	struct acs_intent *out_intent;
	struct acs_sync_log_page *out_page;
	int64_t out_id;
};

#define CB(f) ((void (*)(void))(f))

static char *xdup(const char *s)
{
	return s ? acs_xstrdup(s) : NULL;
}

int64_t acs_pairs_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void acs_pair_free(struct acs_pair *p)
{
	if (!p)
		return;
	free(p->clickup_id);
	free(p->ado_fingerprint);
	free(p->clickup_fingerprint);
	free(p->base);
	free(p->state);
	free(p);
}

struct acs_pair *acs_pair_dup(const struct acs_pair *p)
{
	struct acs_pair *d = acs_xmalloc(sizeof(*d));
	*d = *p;
	d->clickup_id = xdup(p->clickup_id);
	d->ado_fingerprint = xdup(p->ado_fingerprint);
	d->clickup_fingerprint = xdup(p->clickup_fingerprint);
	d->base = xdup(p->base ? p->base : "{}");
	d->state = xdup(p->state ? p->state : "active");
	return d;
}

void acs_intent_free(struct acs_intent *in)
{
	if (!in)
		return;
	free(in->source);
	free(in->source_id);
	free(in->state);
	free(in->twin_id);
	free(in);
}

void acs_sync_log_page_free(struct acs_sync_log_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++) {
		struct acs_sync_log_row *r = &p->rows[i];
		free((char *)r->clickup_id);
		free((char *)r->direction);
		free((char *)r->action);
		free((char *)r->status);
		free((char *)r->fields);
		free((char *)r->message);
	}
	free(p->rows);
	free(p);
}

static void job_free(struct job *j)
{
	free(j->s1);
	free(j->s2);
	free(j->s3);
	acs_pair_free(j->pair);
	free(j->r_clickup);
	free(j->r_dir);
	free(j->r_action);
	free(j->r_status);
	free(j->r_fields);
	free(j->r_msg);
	free(j->m_name);
	free(j->m_project);
	free(j->m_area);
	free(j->m_types);
	free(j->m_new_type);
	free(j->m_list);
	free(j->m_status);
	free(j->m_custom);
	free(j->m_on_delete);
	acs_pair_free(j->out_pair);
	acs_intent_free(j->out_intent);
	acs_sync_log_page_free(j->out_page);
	free(j);
}

/* ------------------------------------------------------------------------ */
/* SQL helpers (store threads)                                               */
/* ------------------------------------------------------------------------ */

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? acs_xstrdup((const char *)t) : NULL;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_id(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

/* The last two columns: whether the pair has comments or files to look after (see
 * acs_pair::has_comments); both are index look-ups. */
#define PAIR_COLS                                                                             \
	"id, map_id, ado_id, clickup_id, ado_rev, clickup_rev, ado_fingerprint, "             \
	"clickup_fingerprint, base, state, created_at, updated_at, "                          \
	"EXISTS (SELECT 1 FROM comment_map AS c WHERE c.sync_id = sync_map.id) OR EXISTS "    \
	"(SELECT 1 FROM intent AS i WHERE i.state = 'open' AND i.source IN ('ado', "          \
	"'clickup') AND i.source_id > 'comment:' || sync_map.id || ':' AND i.source_id < "    \
	"'comment:' || sync_map.id || ';'), EXISTS (SELECT 1 FROM attachment_map AS a WHERE " \
	"a.sync_id = sync_map.id)"

static struct acs_pair *pair_row(sqlite3_stmt *st)
{
	struct acs_pair *p = acs_xcalloc(1, sizeof(*p));
	p->id = sqlite3_column_int64(st, 0);
	p->map_id = sqlite3_column_int64(st, 1);
	p->ado_id = sqlite3_column_int64(st, 2);
	p->clickup_id = col_dup(st, 3);
	p->ado_rev = sqlite3_column_int64(st, 4);
	p->clickup_rev = sqlite3_column_int64(st, 5);
	p->ado_fingerprint = col_dup(st, 6);
	p->clickup_fingerprint = col_dup(st, 7);
	p->base = col_dup(st, 8);
	p->state = col_dup(st, 9);
	p->created_at = sqlite3_column_int64(st, 10);
	p->updated_at = sqlite3_column_int64(st, 11);
	p->has_comments = sqlite3_column_int(st, 12) != 0;
	p->has_attachments = sqlite3_column_int(st, 13) != 0;
	return p;
}

/* Run a prepared single-row query: *out gets the row (or stays NULL). */
static int query_pair(sqlite3 *db, const char *where, int64_t id, const char *sid,
		      struct acs_pair **out, char err[ACS_ERR_LEN])
{
	char sql[768];
	sqlite3_stmt *st = NULL;
	snprintf(sql, sizeof(sql), "SELECT " PAIR_COLS " FROM sync_map WHERE %s", where);
	int rc = acs_store_cached(db, sql, &st, err);
	if (rc)
		return rc;
	if (sid)
		bind_text(st, 1, sid);
	else
		sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = pair_row(st);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "select pair", err);
	}
	sqlite3_reset(st);
	return rc;
}

#define INTENT_COLS "id, map_id, source, source_id, state, twin_id, created_at, updated_at"

static int query_intent(sqlite3 *db, const char *source, const char *source_id,
			struct acs_intent **out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = acs_store_cached(db,
				  "SELECT " INTENT_COLS " FROM intent WHERE source = ?1 AND "
				  "source_id = ?2 AND state = 'open'",
				  &st, err);
	if (rc)
		return rc;
	bind_text(st, 1, source);
	bind_text(st, 2, source_id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		struct acs_intent *in = acs_xcalloc(1, sizeof(*in));
		in->id = sqlite3_column_int64(st, 0);
		in->map_id = sqlite3_column_int64(st, 1);
		in->source = col_dup(st, 2);
		in->source_id = col_dup(st, 3);
		in->state = col_dup(st, 4);
		in->twin_id = col_dup(st, 5);
		in->created_at = sqlite3_column_int64(st, 6);
		in->updated_at = sqlite3_column_int64(st, 7);
		*out = in;
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "select intent", err);
	}
	sqlite3_reset(st);
	return rc;
}

/* Run one statement with up to 4 bound values (text when the string is not NULL,
 * else the integer). *changes gets sqlite3_changes. */
struct bindv {
	const char *s;
	int64_t i;
	bool null;
};

static int exec_bound(sqlite3 *db, const char *sql, const struct bindv *v, size_t n, int *changes,
		      char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = acs_store_cached(db, sql, &st, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (v[i].null)
			sqlite3_bind_null(st, (int)i + 1);
		else if (v[i].s)
			sqlite3_bind_text(st, (int)i + 1, v[i].s, -1, SQLITE_TRANSIENT);
		else
			sqlite3_bind_int64(st, (int)i + 1, v[i].i);
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		rc = 0;
		if (changes)
			*changes = sqlite3_changes(db);
	} else {
		rc = acs_store_error(db, rc, "write", err);
	}
	sqlite3_reset(st);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Job functions                                                             */
/* ------------------------------------------------------------------------ */

static int do_insert(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	const struct acs_pair *p = j->pair;
	struct acs_pair *found = NULL;
	int rc = query_pair(db, "ado_id = ?1", p->ado_id, NULL, &found, err);
	if (!rc && !found)
		rc = query_pair(db, "clickup_id = ?1", 0, p->clickup_id, &found, err);
	if (rc)
		return rc;
	if (found) {
		snprintf(err, ACS_ERR_LEN, "ado:%lld or clickup:%s is already paired (pair %lld)",
			 (long long)p->ado_id, p->clickup_id, (long long)found->id);
		acs_pair_free(found);
		return ACS_ECONFLICT;
	}
	struct bindv v[] = {
		{ .i = p->map_id },
		{ .i = p->ado_id },
		{ .s = p->clickup_id },
		{ .i = p->ado_rev },
		{ .i = p->clickup_rev },
		{ .s = p->ado_fingerprint, .null = !p->ado_fingerprint },
		{ .s = p->clickup_fingerprint, .null = !p->clickup_fingerprint },
		{ .s = p->base ? p->base : "{}" },
		{ .i = j->now },
	};
	rc = exec_bound(db,
			"INSERT INTO sync_map (map_id, ado_id, clickup_id, ado_rev, clickup_rev, "
			"ado_fingerprint, clickup_fingerprint, base, created_at, updated_at) "
			"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
			v, ACS_ARRAY_SIZE(v), NULL, err);
	if (rc)
		return rc;
	int64_t id = sqlite3_last_insert_rowid(db);
	if (j->i1 > 0) {
		int n = 0;
		struct bindv w[] = { { .s = j->s1, .null = !j->s1 },
				     { .i = j->now },
				     { .i = j->i1 } };
		rc = exec_bound(db,
				"UPDATE intent SET state = 'done', twin_id = coalesce(?1, "
				"twin_id), "
				"updated_at = max(?2, created_at) WHERE id = ?3 AND state = 'open'",
				w, ACS_ARRAY_SIZE(w), &n, err);
		if (rc)
			return rc;
		if (n != 1) {
			snprintf(err, ACS_ERR_LEN, "intent %lld is not open", (long long)j->i1);
			return ACS_ECONFLICT;
		}
	}
	return query_pair(db, "id = ?1", id, NULL, &j->out_pair, err);
}

static int do_update(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	const struct acs_pair *p = j->pair;
	int n = 0;
	struct bindv v[] = {
		{ .i = p->ado_rev },
		{ .i = p->clickup_rev },
		{ .s = p->ado_fingerprint, .null = !p->ado_fingerprint },
		{ .s = p->clickup_fingerprint, .null = !p->clickup_fingerprint },
		{ .s = p->base ? p->base : "{}" },
		{ .i = j->now },
		{ .i = p->id },
	};
	int rc = exec_bound(db,
			    "UPDATE sync_map SET ado_rev = ?1, clickup_rev = ?2, "
			    "ado_fingerprint = ?3, clickup_fingerprint = ?4, base = ?5, "
			    "updated_at = max(?6, created_at) WHERE id = ?7",
			    v, ACS_ARRAY_SIZE(v), &n, err);
	if (!rc && n != 1) {
		snprintf(err, ACS_ERR_LEN, "pair %lld does not exist", (long long)p->id);
		rc = ACS_ENOTFOUND;
	}
	return rc;
}

static int do_intent_open(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	struct acs_pair *found = NULL;
	struct acs_intent *in = NULL;
	int rc;
	if (!strcmp(j->s1, "ado"))
		rc = query_pair(db, "ado_id = ?1", strtoll(j->s2, NULL, 10), NULL, &found, err);
	else
		rc = query_pair(db, "clickup_id = ?1", 0, j->s2, &found, err);
	if (!rc && !found)
		rc = query_intent(db, j->s1, j->s2, &in, err);
	if (rc)
		return rc;
	if (found || in) {
		snprintf(err, ACS_ERR_LEN, "%s:%s is already %s", j->s1, j->s2,
			 found ? "paired" : "being created");
		acs_pair_free(found);
		acs_intent_free(in);
		return ACS_ECONFLICT;
	}
	struct bindv v[] = {
		{ .i = j->i1, .null = j->i1 <= 0 }, { .s = j->s1 }, { .s = j->s2 }, { .i = j->now }
	};
	rc = exec_bound(db,
			"INSERT INTO intent (map_id, source, source_id, created_at, updated_at) "
			"VALUES (?1, ?2, ?3, ?4, ?4)",
			v, ACS_ARRAY_SIZE(v), NULL, err);
	if (!rc)
		rc = query_intent(db, j->s1, j->s2, &j->out_intent, err);
	return rc;
}

static int do_map_upsert(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	struct bindv v[] = {
		{ .s = j->m_name },	     { .s = j->m_project },  { .s = j->m_area },
		{ .s = j->m_types },	     { .s = j->m_new_type }, { .s = j->m_list },
		{ .s = j->m_status },	     { .s = j->m_custom },   { .s = j->m_on_delete },
		{ .i = j->m_copy_comments }, { .i = j->now },
	};
	int rc = exec_bound(db,
			    "INSERT INTO project_map (name, source, ado_project, ado_area_path, "
			    "ado_work_item_types, ado_new_item_type, clickup_list_id, status_map, "
			    "custom_map, "
			    "on_delete, copy_existing_comments, created_at, updated_at) VALUES "
			    "(?1, 'file', ?2, "
			    "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11) ON CONFLICT (name) DO "
			    "UPDATE SET "
			    "source = 'file', ado_project = excluded.ado_project, ado_area_path = "
			    "excluded.ado_area_path, ado_work_item_types = "
			    "excluded.ado_work_item_types, "
			    "ado_new_item_type = excluded.ado_new_item_type, clickup_list_id = "
			    "excluded.clickup_list_id, status_map = excluded.status_map, "
			    "custom_map = "
			    "excluded.custom_map, on_delete = excluded.on_delete, "
			    "copy_existing_comments = "
			    "excluded.copy_existing_comments, updated_at = "
			    "max(excluded.updated_at, "
			    "project_map.created_at)",
			    v, ACS_ARRAY_SIZE(v), NULL, err);
	if (rc)
		return rc;
	sqlite3_stmt *st = NULL;
	rc = acs_store_cached(db, "SELECT id FROM project_map WHERE name = ?1", &st, err);
	if (rc)
		return rc;
	bind_text(st, 1, j->m_name);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		j->out_id = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "select project_map", err);
	}
	sqlite3_reset(st);
	return rc;
}

static int do_log(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	const struct acs_sync_log_row *r = &j->row;
	sqlite3_stmt *st = NULL;
	int rc = acs_store_cached(db,
				  "INSERT INTO sync_log (ts, map_id, sync_id, ado_id, "
				  "clickup_id, "
				  "direction, action, status, fields, message) VALUES (?1, "
				  "(SELECT id FROM project_map WHERE id = ?2), "
				  "(SELECT id FROM sync_map WHERE id = ?3), ?4, ?5, ?6, ?7, ?8, "
				  "?9, "
				  "?10)",
				  &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, r->ts ? r->ts : j->now);
	bind_id(st, 2, r->map_id);
	bind_id(st, 3, r->sync_id);
	bind_id(st, 4, r->ado_id);
	bind_text(st, 5, r->clickup_id);
	bind_text(st, 6, r->direction ? r->direction : "none");
	bind_text(st, 7, r->action);
	bind_text(st, 8, r->status);
	bind_text(st, 9, r->fields);
	bind_text(st, 10, r->message);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "insert sync_log", err);
	sqlite3_reset(st);
	return rc;
}

#define LOG_WHERE                                                                             \
	" WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR action = ?2) AND (?3 IS NULL " \
	"OR instr(coalesce(message, ''), ?3) > 0 OR instr(coalesce(clickup_id, ''), ?3) > 0 " \
	"OR CAST(ado_id AS TEXT) = ?3) AND (?4 IS NULL OR ado_id = ?4) AND (?5 IS NULL OR "   \
	"clickup_id = ?5)"

static void bind_log_filters(sqlite3_stmt *st, struct job *j)
{
	bind_text(st, 1, j->s1);
	bind_text(st, 2, j->s2);
	bind_text(st, 3, j->s3);
	bind_id(st, 4, j->i1);
	bind_text(st, 5, j->r_clickup);
}

static int do_log_list(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	struct acs_sync_log_page *p = acs_xcalloc(1, sizeof(*p));
	j->out_page = p;
	int rc = acs_store_cached(db, "SELECT count(*) FROM sync_log" LOG_WHERE, &st, err);
	if (rc)
		return rc;
	bind_log_filters(st, j);
	if (sqlite3_step(st) == SQLITE_ROW)
		p->total = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	rc = acs_store_cached(db,
			      "SELECT id, ts, map_id, sync_id, ado_id, clickup_id, direction, "
			      "action, status, fields, message FROM sync_log" LOG_WHERE " ORDER BY "
			      "id DESC "
			      "LIMIT ?6 "
			      "OFFSET ?7",
			      &st, err);
	if (rc)
		return rc;
	bind_log_filters(st, j);
	sqlite3_bind_int64(st, 6, j->limit);
	sqlite3_bind_int64(st, 7, (int64_t)j->page * j->limit);
	p->rows = acs_xcalloc(j->limit, sizeof(*p->rows));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && p->n < j->limit) {
		struct acs_sync_log_row *r = &p->rows[p->n++];
		r->id = sqlite3_column_int64(st, 0);
		r->ts = sqlite3_column_int64(st, 1);
		r->map_id = sqlite3_column_int64(st, 2);
		r->sync_id = sqlite3_column_int64(st, 3);
		r->ado_id = sqlite3_column_int64(st, 4);
		r->clickup_id = col_dup(st, 5);
		r->direction = col_dup(st, 6);
		r->action = col_dup(st, 7);
		r->status = col_dup(st, 8);
		r->fields = col_dup(st, 9);
		r->message = col_dup(st, 10);
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW
		     ? 0
		     : acs_store_error(db, rc, "select sync_log", err);
	sqlite3_reset(st);
	return rc;
}

/* State (and base, when given) of one pair. */
static int do_set_state(sqlite3 *db, struct job *j, char err[ACS_ERR_LEN])
{
	int n = 0;
	struct bindv v[] = {
		{ .s = j->s1 },
		{ .s = j->s2, .null = !j->s2 },
		{ .i = j->now },
		{ .i = j->i1 },
	};
	int rc = exec_bound(db,
			    "UPDATE sync_map SET state = ?1, base = coalesce(?2, base), "
			    "updated_at = max(?3, created_at) WHERE id = ?4",
			    v, ACS_ARRAY_SIZE(v), &n, err);
	if (!rc && n != 1) {
		snprintf(err, ACS_ERR_LEN, "pair %lld does not exist", (long long)j->i1);
		rc = ACS_ENOTFOUND;
	}
	return rc;
}

static int job_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct job *j = arg;
	int n = 0;
	switch (j->kind) {
	case J_FIND_ADO:
		return query_pair(db, "ado_id = ?1", j->i1, NULL, &j->out_pair, err);
	case J_FIND_CLICKUP:
		return query_pair(db, "clickup_id = ?1", 0, j->s1, &j->out_pair, err);
	case J_INSERT:
		return do_insert(db, j, err);
	case J_UPDATE:
		return do_update(db, j, err);
	case J_INTENT_OPEN:
		return do_intent_open(db, j, err);
	case J_INTENT_FIND:
		return query_intent(db, j->s1, j->s2, &j->out_intent, err);
	case J_INTENT_TWIN: {
		struct bindv v[] = { { .s = j->s1 }, { .i = j->now }, { .i = j->i1 } };
		int rc = exec_bound(db,
				    "UPDATE intent SET twin_id = ?1, updated_at = max(?2, "
				    "created_at) WHERE id = ?3 AND state = 'open'",
				    v, ACS_ARRAY_SIZE(v), &n, err);
		if (!rc && n != 1) {
			snprintf(err, ACS_ERR_LEN, "intent %lld is not open", (long long)j->i1);
			rc = ACS_ENOTFOUND;
		}
		return rc;
	}
	case J_INTENT_CLOSE: {
		struct bindv v[] = { { .s = j->s1 }, { .i = j->now }, { .i = j->i1 } };
		return exec_bound(db,
				  "UPDATE intent SET state = ?1, updated_at = max(?2, created_at) "
				  "WHERE id = ?3 AND state = 'open'",
				  v, ACS_ARRAY_SIZE(v), NULL, err);
	}
	case J_MAP_UPSERT:
		return do_map_upsert(db, j, err);
	case J_LOG:
		return do_log(db, j, err);
	case J_LOG_LIST:
		return do_log_list(db, j, err);
	case J_SET_STATE:
		return do_set_state(db, j, err);
	case J_DELETE: {
		struct bindv v[] = { { .i = j->i1 } };
		int rc = exec_bound(db, "DELETE FROM sync_map WHERE id = ?1", v, 1, &n, err);
		if (!rc && n != 1) {
			snprintf(err, ACS_ERR_LEN, "pair %lld does not exist", (long long)j->i1);
			rc = ACS_ENOTFOUND;
		}
		return rc;
	}
	}
	return -EINVAL;
}

static void job_done(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	if (!j->cb) {
		job_free(j);
		return;
	}
	switch (j->kind) {
	case J_FIND_ADO:
	case J_FIND_CLICKUP:
	case J_INSERT: {
		struct acs_pair *p = rc < 0 ? NULL : j->out_pair;
		if (p)
			j->out_pair = NULL;
		((acs_pairs_pair_cb)j->cb)(rc < 0 ? rc : 0, err, p, j->arg);
		break;
	}
	case J_INTENT_OPEN:
	case J_INTENT_FIND: {
		struct acs_intent *in = rc < 0 ? NULL : j->out_intent;
		if (in)
			j->out_intent = NULL;
		((acs_pairs_intent_cb)j->cb)(rc < 0 ? rc : 0, err, in, j->arg);
		break;
	}
	case J_MAP_UPSERT:
		((acs_pairs_id_cb)j->cb)(rc < 0 ? rc : 0, err, rc < 0 ? 0 : j->out_id, j->arg);
		break;
	case J_LOG_LIST: {
		struct acs_sync_log_page *p = rc < 0 ? NULL : j->out_page;
		if (p)
			j->out_page = NULL;
		((acs_pairs_log_page_cb)j->cb)(rc < 0 ? rc : 0, err, p, j->arg);
		break;
	}
	case J_UPDATE:
	case J_INTENT_TWIN:
	case J_INTENT_CLOSE:
	case J_LOG:
	case J_SET_STATE:
	case J_DELETE:
		((acs_pairs_done_cb)j->cb)(rc < 0 ? rc : 0, err, j->arg);
		break;
	}
	job_free(j);
}

static struct job *job_new(enum kind kind, void (*cb)(void), void *arg)
{
	struct job *j = acs_xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->cb = cb;
	j->arg = arg;
	j->now = acs_pairs_now_ms();
	return j;
}

static int submit(struct acs_store *st, struct job *j, bool write)
{
	int rc = write ? acs_store_write(st, job_fn, job_done, j)
		       : acs_store_read(st, job_fn, job_done, j);
	if (rc)
		job_free(j);
	return rc;
}

/* A write whose commit need not be fsynced (see acs_store_write_lazy). */
static int submit_lazy(struct acs_store *st, struct job *j)
{
	int rc = acs_store_write_lazy(st, job_fn, job_done, j);
	if (rc)
		job_free(j);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Public calls                                                              */
/* ------------------------------------------------------------------------ */

int acs_pairs_find_by_ado(struct acs_store *st, int64_t ado_id, acs_pairs_pair_cb cb, void *arg)
{
	if (!st || !cb || ado_id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_FIND_ADO, CB(cb), arg);
	j->i1 = ado_id;
	return submit(st, j, false);
}

int acs_pairs_find_by_clickup(struct acs_store *st, const char *clickup_id, acs_pairs_pair_cb cb,
			      void *arg)
{
	if (!st || !cb || !clickup_id || !*clickup_id)
		return -EINVAL;
	struct job *j = job_new(J_FIND_CLICKUP, CB(cb), arg);
	j->s1 = acs_xstrdup(clickup_id);
	return submit(st, j, false);
}

int acs_pairs_insert(struct acs_store *st, const struct acs_pair *p, int64_t intent_id,
		     const char *twin_id, acs_pairs_pair_cb cb, void *arg)
{
	if (!st || !cb || !p || p->ado_id <= 0 || !p->clickup_id || !*p->clickup_id ||
	    p->map_id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_INSERT, CB(cb), arg);
	j->pair = acs_pair_dup(p);
	j->i1 = intent_id;
	j->s1 = xdup(twin_id);
	return submit(st, j, true);
}

int acs_pairs_update(struct acs_store *st, const struct acs_pair *p, acs_pairs_done_cb cb,
		     void *arg)
{
	if (!st || !p || p->id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_UPDATE, CB(cb), arg);
	j->pair = acs_pair_dup(p);
	return submit(st, j, true);
}

int acs_pairs_update_lazy(struct acs_store *st, const struct acs_pair *p, acs_pairs_done_cb cb,
			  void *arg)
{
	if (!st || !p || p->id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_UPDATE, CB(cb), arg);
	j->pair = acs_pair_dup(p);
	return submit_lazy(st, j);
}

static bool good_source(const char *s)
{
	return s && (!strcmp(s, "ado") || !strcmp(s, "clickup"));
}

int acs_pairs_intent_open(struct acs_store *st, int64_t map_id, const char *source,
			  const char *source_id, acs_pairs_intent_cb cb, void *arg)
{
	if (!st || !cb || !good_source(source) || !source_id || !*source_id)
		return -EINVAL;
	struct job *j = job_new(J_INTENT_OPEN, CB(cb), arg);
	j->i1 = map_id;
	j->s1 = acs_xstrdup(source);
	j->s2 = acs_xstrdup(source_id);
	return submit(st, j, true);
}

int acs_pairs_intent_find(struct acs_store *st, const char *source, const char *source_id,
			  acs_pairs_intent_cb cb, void *arg)
{
	if (!st || !cb || !good_source(source) || !source_id || !*source_id)
		return -EINVAL;
	struct job *j = job_new(J_INTENT_FIND, CB(cb), arg);
	j->s1 = acs_xstrdup(source);
	j->s2 = acs_xstrdup(source_id);
	return submit(st, j, false);
}

int acs_pairs_intent_set_twin(struct acs_store *st, int64_t intent_id, const char *twin_id,
			      acs_pairs_done_cb cb, void *arg)
{
	if (!st || intent_id <= 0 || !twin_id || !*twin_id)
		return -EINVAL;
	struct job *j = job_new(J_INTENT_TWIN, CB(cb), arg);
	j->i1 = intent_id;
	j->s1 = acs_xstrdup(twin_id);
	return submit(st, j, true);
}

int acs_pairs_intent_close(struct acs_store *st, int64_t intent_id, const char *state,
			   acs_pairs_done_cb cb, void *arg)
{
	if (!st || intent_id <= 0 || !state ||
	    (strcmp(state, "done") && strcmp(state, "abandoned")))
		return -EINVAL;
	struct job *j = job_new(J_INTENT_CLOSE, CB(cb), arg);
	j->i1 = intent_id;
	j->s1 = acs_xstrdup(state);
	return submit(st, j, true);
}

static char *pairs_json(const struct acs_config_pairs *p)
{
	json_t *o = json_object();
	for (size_t i = 0; i < p->n; i++)
		json_object_set_new(o, p->v[i].key, json_string(p->v[i].value));
	char *s = acs_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	acs_require(s != NULL);
	return s;
}

int acs_pairs_map_upsert(struct acs_store *st, const struct acs_config_map *m, acs_pairs_id_cb cb,
			 void *arg)
{
	if (!st || !cb || !m || !m->name || !*m->name || !m->ado_project || !*m->ado_project ||
	    !m->clickup_list_id || !*m->clickup_list_id)
		return -EINVAL;
	struct job *j = job_new(J_MAP_UPSERT, CB(cb), arg);
	j->m_name = acs_xstrdup(m->name);
	j->m_project = acs_xstrdup(m->ado_project);
	j->m_area = acs_xstrdup(m->ado_area_path ? m->ado_area_path : "");
	json_t *types = json_array();
	for (size_t i = 0; i < m->ado_work_item_types.n; i++)
		json_array_append_new(types, json_string(m->ado_work_item_types.v[i]));
	j->m_types = acs_json_dumps(types, JSON_COMPACT);
	json_decref(types);
	acs_require(j->m_types != NULL);
	j->m_new_type = acs_xstrdup(
		m->ado_new_item_type && *m->ado_new_item_type ? m->ado_new_item_type : "Task");
	j->m_list = acs_xstrdup(m->clickup_list_id);
	j->m_status = pairs_json(&m->status);
	j->m_custom = pairs_json(&m->custom);
	j->m_on_delete = acs_xstrdup(m->on_delete == ACS_ON_DELETE_DELETE   ? "delete"
				     : m->on_delete == ACS_ON_DELETE_IGNORE ? "ignore"
									    : "close");
	j->m_copy_comments = m->copy_existing_comments ? 1 : 0;
	return submit(st, j, true);
}

static bool good_log_row(const struct acs_sync_log_row *row)
{
	return row && row->action && *row->action && row->status;
}

static struct job *log_job_new(const struct acs_sync_log_row *row, acs_pairs_done_cb cb, void *arg)
{
	struct job *j = job_new(J_LOG, CB(cb), arg);
	j->row = *row;
	j->row.clickup_id = j->r_clickup = xdup(row->clickup_id);
	j->row.direction = j->r_dir = xdup(row->direction);
	j->row.action = j->r_action = xdup(row->action);
	j->row.status = j->r_status = xdup(row->status);
	j->row.fields = j->r_fields = xdup(row->fields);
	j->row.message = j->r_msg = xdup(row->message);
	return j;
}

static int log_submit(struct acs_store *st, const struct acs_sync_log_row *row,
		      acs_pairs_done_cb cb, void *arg, bool lazy)
{
	if (!st || !good_log_row(row))
		return -EINVAL;
	struct job *j = log_job_new(row, cb, arg);
	return lazy ? submit_lazy(st, j) : submit(st, j, true);
}

int acs_pairs_log(struct acs_store *st, const struct acs_sync_log_row *row, acs_pairs_done_cb cb,
		  void *arg)
{
	return log_submit(st, row, cb, arg, false);
}

int acs_pairs_log_lazy(struct acs_store *st, const struct acs_sync_log_row *row,
		       acs_pairs_done_cb cb, void *arg)
{
	return log_submit(st, row, cb, arg, true);
}

int acs_pairs_log_list(struct acs_store *st, const struct acs_sync_log_query *q,
		       acs_pairs_log_page_cb cb, void *arg)
{
	if (!st || !q || !cb)
		return -EINVAL;
	struct job *j = job_new(J_LOG_LIST, CB(cb), arg);
	j->limit = q->limit ? ACS_MIN(q->limit, 500u) : 50;
	j->page = q->page;
	j->s1 = xdup(q->status);
	j->s2 = xdup(q->action);
	j->s3 = q->q && *q->q ? acs_xstrdup(q->q) : NULL;
	j->i1 = q->ado_id;
	j->r_clickup = xdup(q->clickup_id);
	return submit(st, j, false);
}

int acs_pairs_set_state(struct acs_store *st, int64_t pair_id, const char *state, const char *base,
			acs_pairs_done_cb cb, void *arg)
{
	if (!st || pair_id <= 0 || !state || (strcmp(state, "active") && strcmp(state, "ended")))
		return -EINVAL;
	struct job *j = job_new(J_SET_STATE, CB(cb), arg);
	j->i1 = pair_id;
	j->s1 = acs_xstrdup(state);
	j->s2 = xdup(base);
	return submit(st, j, true);
}

int acs_pairs_delete(struct acs_store *st, int64_t pair_id, acs_pairs_done_cb cb, void *arg)
{
	if (!st || pair_id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_DELETE, CB(cb), arg);
	j->i1 = pair_id;
	return submit(st, j, true);
}

/* ------------------------------------------------------------------------ */
/* Batches                                                                   */
/* ------------------------------------------------------------------------ */

struct acs_pairs_batch {
	struct job **jobs; /**< J_UPDATE and J_LOG jobs, in order */
	size_t n, cap;
};

struct acs_pairs_batch *acs_pairs_batch_new(void)
{
	return acs_xcalloc(1, sizeof(struct acs_pairs_batch));
}

static void batch_push(struct acs_pairs_batch *b, struct job *j)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 4;
		b->jobs = acs_xrealloc(b->jobs, b->cap * sizeof(*b->jobs));
	}
	b->jobs[b->n++] = j;
}

int acs_pairs_batch_update(struct acs_pairs_batch *b, const struct acs_pair *p)
{
	if (!b || !p || p->id <= 0)
		return -EINVAL;
	struct job *j = job_new(J_UPDATE, NULL, NULL);
	j->pair = acs_pair_dup(p);
	batch_push(b, j);
	return 0;
}

int acs_pairs_batch_log(struct acs_pairs_batch *b, const struct acs_sync_log_row *row)
{
	if (!b || !good_log_row(row))
		return -EINVAL;
	batch_push(b, log_job_new(row, NULL, NULL));
	return 0;
}

size_t acs_pairs_batch_size(const struct acs_pairs_batch *b)
{
	return b ? b->n : 0;
}

int acs_pairs_batch_run(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_pairs_batch *b = arg;
	size_t i = 0;
	int rc = acs_store_exec_cached(db, "SAVEPOINT acs_pairs_batch", err);
	if (rc)
		return rc;
	for (i = 0; i < b->n && !rc; i++)
		rc = job_fn(db, b->jobs[i], err);
	if (!rc)
		return acs_store_exec_cached(db, "RELEASE acs_pairs_batch", err);
	/* Nothing of the batch stays; a row says why (with the ids of the batch's rows). */
	char why[ACS_ERR_LEN], ignored[ACS_ERR_LEN];
	snprintf(why, sizeof(why), "%s: %s",
		 b->jobs[i - 1]->kind == J_UPDATE ? "save pair" : "sync_log", err);
	(void)acs_store_exec_cached(db, "ROLLBACK TO acs_pairs_batch", ignored);
	(void)acs_store_exec_cached(db, "RELEASE acs_pairs_batch", ignored);
	for (size_t k = 0; k < b->n; k++) {
		struct job *l = b->jobs[k];
		if (l->kind != J_LOG)
			continue;
		struct job retry = *l;
		retry.row.direction = NULL;
		retry.row.action = "retry";
		retry.row.status = "retry";
		retry.row.fields = NULL;
		retry.row.message = why;
		(void)do_log(db, &retry, ignored);
		break;
	}
	snprintf(err, ACS_ERR_LEN, "%s", why);
	return rc < 0 ? rc : ACS_ESTORE;
}

void acs_pairs_batch_free(void *arg)
{
	struct acs_pairs_batch *b = arg;
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		job_free(b->jobs[i]);
	free(b->jobs);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* Look-ups ahead                                                            */
/* ------------------------------------------------------------------------ */

void *acs_pairs_prefetch(sqlite3 *db, const char *item_key, void *arg)
{
	(void)arg;
	struct acs_pairs_found *f = acs_xcalloc(1, sizeof(*f));
	if (!strncmp(item_key, "ado:", 4)) {
		char *end = NULL;
		long long id = strtoll(item_key + 4, &end, 10);
		if (!end || *end || id <= 0) {
			free(f);
			return NULL;
		}
		f->rc = query_pair(db, "ado_id = ?1", id, NULL, &f->pair, f->err);
	} else if (!strncmp(item_key, "clickup:", 8) && item_key[8]) {
		f->rc = query_pair(db, "clickup_id = ?1", 0, item_key + 8, &f->pair, f->err);
	} else {
		free(f);
		return NULL;
	}
	return f;
}

void acs_pairs_found_free(void *found)
{
	struct acs_pairs_found *f = found;
	if (!f)
		return;
	acs_pair_free(f->pair);
	free(f);
}
