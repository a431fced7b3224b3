/* SPDX-License-Identifier: MIT */
/* The dashboard's admin API (see dashboard.h): request validation and query
 * building, the store jobs behind each route, the live pickers and the
 * server-sent event streams. */
#include "dashboard.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acs_build.h"
#include "admin.h"
#include "ado_client.h"
#include "backfill.h"
#include "clickup_client.h"
#include "config.h"
#include "engine.h"
#include "err.h"
#include "http_server.h"
#include "inbox.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "rest.h"
#include "router.h"
#include "store.h"

#define DEFAULT_LIMIT 50
/* Longest accepted string members and query values. */
#define MAX_Q 200
#define MAX_TEXT 4000
#define MAX_NAME 200
#define MAX_TYPES 64
#define MAX_MAP_KEYS 256
/* Most ids in one bulk retry/dismiss body. */
#define MAX_BULK_IDS 1000
/* Sync-log rows sent to the streams per poll (the rest follow next tick). */
#define POLL_ROWS 100
#define MINUTE_MS 60000

#define DEFAULT_TYPES "[\"Task\",\"Bug\",\"User Story\"]"
#define DEFAULT_PRIORITY "{\"1\":\"urgent\",\"2\":\"high\",\"3\":\"normal\",\"4\":\"low\"}"

struct stream;

struct acs_dashboard {
	uv_loop_t *loop;
	const struct acs_config *cfg;
	struct acs_store *store;
	struct acs_admin *admin;
	struct acs_engine *engine; /**< borrowed; NULL when none or stopped */
	uv_timer_t tick;	   /**< drives the event streams while any is open */
	struct stream *streams;	   /**< acs_dashboard::streams list */
	size_t n_streams;
	unsigned ticks;
	int64_t log_last_id; /**< largest sync_log id streamed; -1 = not read yet */
	bool poll_running;   /**< a sync_log poll job is in flight */
	bool stats_running;  /**< a stream stats job is in flight */
	char *stats_text;    /**< the last stats JSON sent to the streams */
	uint64_t stats_at;   /**< loop time of stats_text */
	uint64_t last_ping;  /**< loop time of the last ping */
	unsigned jobs;	     /**< store jobs in flight that point at us */
	bool stopping;
	bool closing;
	bool timer_closed;
};

/* One GET /api/events client. */
struct stream {
	struct acs_dashboard *d;
	struct acs_http_req *req;
	int64_t after; /**< rows with a larger id are sent; -1: every row once known */
	struct stream *next;
};

static void maybe_free(struct acs_dashboard *d)
{
	if (d->closing && d->timer_closed && d->jobs == 0) {
		free(d->stats_text);
		free(d);
	}
}

/* --- answers ------------------------------------------------------------------ */

static void api_headers(struct acs_http_req *req)
{
	acs_admin_security_headers(req);
	acs_http_req_add_header(req, "Cache-Control", "no-store");
}

static void reply_json(struct acs_http_req *req, int status, json_t *body)
{
	api_headers(req);
	acs_http_respond_json(req, status, body);
}

static void reply_error(struct acs_http_req *req, int status, const char *error, const char *detail)
{
	api_headers(req);
	acs_http_respond_error(req, status, error, detail);
}

/* A store error code as an HTTP answer. */
static void reply_store_error(struct acs_http_req *req, int rc, const char *err)
{
	switch (rc) {
	case ACS_ENOTFOUND:
		reply_error(req, 404, "not found", err);
		break;
	case ACS_ECONFLICT:
		reply_error(req, 409, "conflict", err);
		break;
	case -EPERM:
		reply_error(req, 403, "forbidden", err);
		break;
	case ACS_EPARSE:
		reply_error(req, 400, "invalid request", err);
		break;
	case ACS_ECLOSED:
	case ACS_ETOOBIG:
		reply_error(req, 503, "busy", err ? err : acs_strerror(rc));
		break;
	default:
		acs_log(ACS_LOG_ERR, "dashboard", "store job failed: %s",
			err ? err : acs_strerror(rc));
		reply_error(req, 500, "database error", err ? err : acs_strerror(rc));
		break;
	}
}

/* The JSON body of req, or NULL after answering 400. */
static json_t *body_json(struct acs_http_req *req)
{
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	json_error_t je;
	json_t *j = acs_json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &je);
	if (!j) {
		char detail[ACS_ERR_LEN];
		snprintf(detail, sizeof(detail), "line %d column %d: %s", je.line, je.column,
			 je.text);
		reply_error(req, 400, "malformed JSON", detail);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(req, 400, "malformed JSON", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

/* A positive integer path parameter, else 0. */
static int64_t param_id(struct acs_http_req *req, const char *name)
{
	const char *s = acs_http_req_param(req, name);
	if (!s || !*s || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s))
		return 0;
	return (int64_t)strtoll(s, NULL, 10);
}

/* --- query strings -------------------------------------------------------------- */

/* The value of name in qs into val: 1 found, 0 absent, -1 too long. */
static int query_get(const char *qs, const char *name, char *val, size_t cap)
{
	int n = acs_router_query_get(qs, strlen(qs), name, val, cap);
	if (n == ACS_ENOTFOUND)
		return 0;
	return n < 0 ? -1 : 1;
}

/* A decimal integer in [min, max] with nothing around it. */
static bool parse_uint(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (!*s || strlen(s) > 19 || strspn(s, "0123456789") != strlen(s))
		return false;
	uint64_t v = strtoull(s, NULL, 10);
	if (v < min || v > max)
		return false;
	*out = v;
	return true;
}

int acs_dashboard_parse_page(const char *qs, unsigned *page, unsigned *limit, char err[ACS_ERR_LEN])
{
	char v[32];
	uint64_t n;
	int r;
	*page = 1;
	*limit = DEFAULT_LIMIT;
	if ((r = query_get(qs, "page", v, sizeof(v))) != 0) {
		if (r < 0 || !parse_uint(v, 1, ACS_DASHBOARD_MAX_PAGE, &n)) {
			snprintf(err, ACS_ERR_LEN, "page: must be an integer from 1 to %d",
				 ACS_DASHBOARD_MAX_PAGE);
			return ACS_EPARSE;
		}
		*page = (unsigned)n;
	}
	if ((r = query_get(qs, "limit", v, sizeof(v))) != 0) {
		if (r < 0 || !parse_uint(v, 1, ACS_DASHBOARD_MAX_LIMIT, &n)) {
			snprintf(err, ACS_ERR_LEN, "limit: must be an integer from 1 to %d",
				 ACS_DASHBOARD_MAX_LIMIT);
			return ACS_EPARSE;
		}
		*limit = (unsigned)n;
	}
	return 0;
}

static bool one_of(const char *v, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v, set[i]) == 0)
			return true;
	return false;
}

static const char *const statuses[] = { "ok", "error", "skipped", "retry" };
static const char *const directions[] = { "ado_to_clickup", "clickup_to_ado", "none" };

int acs_dashboard_log_filter_parse(const char *qs, struct acs_dashboard_log_filter *f,
				   char err[ACS_ERR_LEN])
{
	char v[MAX_Q * 4 + 1];
	int r;
	memset(f, 0, sizeof(*f));
	int rc = acs_dashboard_parse_page(qs, &f->page, &f->limit, err);
	if (rc)
		return rc;
	if ((r = query_get(qs, "status", v, sizeof(v))) != 0 && (r < 0 || *v)) {
		if (r < 0 || !one_of(v, statuses, ACS_ARRAY_SIZE(statuses))) {
			snprintf(err, ACS_ERR_LEN, "status: must be ok, error, skipped or retry");
			return ACS_EPARSE;
		}
		snprintf(f->status, sizeof(f->status), "%s", v);
	}
	if ((r = query_get(qs, "direction", v, sizeof(v))) != 0 && (r < 0 || *v)) {
		if (r < 0 || !one_of(v, directions, ACS_ARRAY_SIZE(directions))) {
			snprintf(err, ACS_ERR_LEN,
				 "direction: must be ado_to_clickup, clickup_to_ado or none");
			return ACS_EPARSE;
		}
		snprintf(f->direction, sizeof(f->direction), "%s", v);
	}
	if ((r = query_get(qs, "map", v, sizeof(v))) != 0 && (r < 0 || *v)) {
		uint64_t id;
		if (r < 0 || !parse_uint(v, 1, INT64_MAX, &id)) {
			snprintf(err, ACS_ERR_LEN, "map: must be a mapping id");
			return ACS_EPARSE;
		}
		f->map_id = (int64_t)id;
	}
	if ((r = query_get(qs, "q", v, sizeof(v))) != 0 && (r < 0 || *v)) {
		if (r < 0 || strlen(v) > MAX_Q) {
			snprintf(err, ACS_ERR_LEN, "q: at most %d characters", MAX_Q);
			return ACS_EPARSE;
		}
		f->q = acs_xstrdup(v);
	}
	return 0;
}

void acs_dashboard_log_filter_clear(struct acs_dashboard_log_filter *f)
{
	free(f->q);
	f->q = NULL;
}

char *acs_dashboard_log_where(const struct acs_dashboard_log_filter *f)
{
	struct acs_buf b;
	const char *sep = " WHERE ";
	acs_buf_init(&b, 4096);
	(void)acs_buf_appends(&b, "");
	if (f->status[0]) {
		(void)acs_buf_printf(&b, "%sl.status = :status", sep);
		sep = " AND ";
	}
	if (f->direction[0]) {
		(void)acs_buf_printf(&b, "%sl.direction = :dir", sep);
		sep = " AND ";
	}
	if (f->map_id > 0) {
		(void)acs_buf_printf(&b, "%sl.map_id = :map", sep);
		sep = " AND ";
	}
	if (f->q && *f->q) {
		(void)acs_buf_printf(&b,
				     "%s(CAST(l.ado_id AS TEXT) LIKE :q ESCAPE '\\'"
				     " OR l.clickup_id LIKE :q ESCAPE '\\'"
				     " OR l.message LIKE :q ESCAPE '\\')",
				     sep);
		sep = " AND ";
	}
	if (f->after_id > 0)
		(void)acs_buf_printf(&b, "%sl.id > :after", sep);
	return acs_buf_steal(&b, NULL);
}

char *acs_dashboard_like_pattern(const char *q)
{
	size_t n = strlen(q);
	char *out = acs_xmalloc(2 * n + 3);
	size_t o = 0;
	out[o++] = '%';
	for (size_t i = 0; i < n; i++) {
		if (q[i] == '%' || q[i] == '_' || q[i] == '\\')
			out[o++] = '\\';
		out[o++] = q[i];
	}
	out[o++] = '%';
	out[o] = '\0';
	return out;
}

/* --- links --------------------------------------------------------------------- */

char *acs_dashboard_ado_url(const struct acs_config *cfg, const char *project, int64_t id)
{
	if (!project || !*project)
		project = cfg->ado.project;
	if (!cfg->ado.organization[0] || !project || !*project || id <= 0)
		return NULL;
	char *org = acs_rest_escape(cfg->ado.organization);
	char *p = acs_rest_escape(project);
	char *u = acs_xasprintf("%s/%s/%s/_workitems/edit/%" PRId64, cfg->ado.base_url, org, p, id);
	free(org);
	free(p);
	return u;
}

char *acs_dashboard_clickup_url(const struct acs_config *cfg, const char *task_id)
{
	const char *base = cfg->clickup.base_url;
	const char *host = strstr(base, "://");
	if (!host)
		return acs_xasprintf("https://app.clickup.com/t/%s", task_id);
	host += 3;
	size_t hlen = strcspn(host, "/");
	if (hlen > 4 && strncasecmp(host, "api.", 4) == 0)
		return acs_xasprintf("%.*sapp.%.*s/t/%s", (int)(host - base), base, (int)(hlen - 4),
				     host + 4, task_id);
	return acs_xasprintf("%.*s/t/%s", (int)(host + hlen - base), base, task_id);
}

/* --- mapping validation ------------------------------------------------------- */

void acs_dashboard_map_clear(struct acs_dashboard_map *m)
{
	free(m->name);
	free(m->ado_project);
	free(m->ado_area_path);
	free(m->ado_work_item_types);
	free(m->ado_new_item_type);
	free(m->clickup_list_id);
	free(m->status_map);
	free(m->priority_map);
	free(m->custom_map);
	free(m->on_delete);
	memset(m, 0, sizeof(*m));
	m->copy_existing_comments = -1;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20)
			return true;
	return false;
}

/* A string member: absent is fine unless required; empty only when allow_empty. */
static int str_member(const json_t *body, const char *key, bool required, bool allow_empty,
		      size_t max, char **out, char err[ACS_ERR_LEN])
{
	const json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v)) {
		if (required) {
			snprintf(err, ACS_ERR_LEN, "%s: required", key);
			return ACS_EPARSE;
		}
		return 0;
	}
	const char *s = json_string_value(v);
	/* A "\u0000" inside would silently cut the value short: refuse it as a control. */
	if (!s || (!allow_empty && !*s) || strlen(s) > max || has_ctl(s) ||
	    strlen(s) != json_string_length(v)) {
		snprintf(err, ACS_ERR_LEN, "%s: must be a %sstring of at most %zu characters", key,
			 allow_empty ? "" : "non-empty ", max);
		return ACS_EPARSE;
	}
	*out = acs_xstrdup(s);
	return 0;
}

/* An object of non-empty strings to non-empty strings; check(k, v) may
 * refuse a pair with a message. */
static int map_member(const json_t *body, const char *key,
		      bool (*check)(const char *k, const char *v, char err[ACS_ERR_LEN]),
		      char **out, char err[ACS_ERR_LEN])
{
	const json_t *v = json_object_get(body, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_object(v) || json_object_size(v) > MAX_MAP_KEYS) {
		snprintf(err, ACS_ERR_LEN, "%s: must be an object of at most %d entries", key,
			 MAX_MAP_KEYS);
		return ACS_EPARSE;
	}
	const char *k;
	const json_t *x;
	json_object_foreach((json_t *)v, k, x)
	{
		const char *s = json_string_value(x);
		if (!*k || strlen(k) > MAX_NAME || !s || !*s || strlen(s) > MAX_NAME ||
		    has_ctl(k) || has_ctl(s)) {
			snprintf(err, ACS_ERR_LEN,
				 "%s: keys and values must be non-empty strings of at most %d "
				 "characters",
				 key, MAX_NAME);
			return ACS_EPARSE;
		}
		char why[ACS_ERR_LEN];
		if (check && !check(k, s, why)) {
			snprintf(err, ACS_ERR_LEN, "%s: %s", key, why);
			return ACS_EPARSE;
		}
	}
	*out = acs_json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	acs_require(*out != NULL);
	return 0;
}

static bool priority_pair(const char *k, const char *v, char err[ACS_ERR_LEN])
{
	static const char *const names[] = { "urgent", "high", "normal", "low" };
	if (strlen(k) != 1 || k[0] < '1' || k[0] > '4') {
		snprintf(err, ACS_ERR_LEN,
			 "keys are the ADO priorities \"1\" to \"4\", not \"%.40s\"", k);
		return false;
	}
	if (!one_of(v, names, ACS_ARRAY_SIZE(names))) {
		snprintf(err, ACS_ERR_LEN, "values are urgent, high, normal or low, not \"%.40s\"",
			 v);
		return false;
	}
	return true;
}

int acs_dashboard_map_parse(const json_t *body, bool create, struct acs_dashboard_map *out,
			    char err[ACS_ERR_LEN])
{
	static const char *const on_delete[] = { "close", "delete", "ignore" };
	int rc;
	memset(out, 0, sizeof(*out));
	out->copy_existing_comments = -1;
	if (!json_is_object(body)) {
		snprintf(err, ACS_ERR_LEN, "body: must be a JSON object");
		return ACS_EPARSE;
	}
	if ((rc = str_member(body, "name", create, false, MAX_NAME, &out->name, err)) ||
	    (rc = str_member(body, "ado_project", create, false, MAX_NAME, &out->ado_project,
			     err)) ||
	    (rc = str_member(body, "ado_area_path", false, true, MAX_TEXT, &out->ado_area_path,
			     err)) ||
	    (rc = str_member(body, "ado_new_item_type", false, false, MAX_NAME,
			     &out->ado_new_item_type, err)) ||
	    (rc = str_member(body, "clickup_list_id", create, false, 64, &out->clickup_list_id,
			     err)) ||
	    (rc = map_member(body, "status_map", NULL, &out->status_map, err)) ||
	    (rc = map_member(body, "priority_map", priority_pair, &out->priority_map, err)) ||
	    (rc = map_member(body, "custom_map", NULL, &out->custom_map, err)))
		goto fail;

	if (out->clickup_list_id &&
	    strspn(out->clickup_list_id, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
					 "VWXYZ-_") != strlen(out->clickup_list_id)) {
		snprintf(err, ACS_ERR_LEN, "clickup_list_id: must be a ClickUp list id");
		rc = ACS_EPARSE;
		goto fail;
	}

	const json_t *types = json_object_get(body, "ado_work_item_types");
	if (types && !json_is_null(types)) {
		bool ok = json_is_array(types) && json_array_size(types) >= 1 &&
			  json_array_size(types) <= MAX_TYPES;
		size_t i;
		const json_t *t;
		json_array_foreach(types, i, t)
		{
			const char *s = json_string_value(t);
			if (!s || !*s || strlen(s) > MAX_NAME || has_ctl(s))
				ok = false;
		}
		if (!ok) {
			snprintf(err, ACS_ERR_LEN,
				 "ado_work_item_types: must be an array of 1 to %d type names",
				 MAX_TYPES);
			rc = ACS_EPARSE;
			goto fail;
		}
		out->ado_work_item_types = acs_json_dumps(types, JSON_COMPACT);
		acs_require(out->ado_work_item_types != NULL);
	}

	const json_t *od = json_object_get(body, "on_delete");
	if (od && !json_is_null(od)) {
		const char *s = json_string_value(od);
		if (!s || !one_of(s, on_delete, ACS_ARRAY_SIZE(on_delete))) {
			snprintf(err, ACS_ERR_LEN, "on_delete: must be close, delete or ignore");
			rc = ACS_EPARSE;
			goto fail;
		}
		out->on_delete = acs_xstrdup(s);
	}

	const json_t *cc = json_object_get(body, "copy_existing_comments");
	if (cc && !json_is_null(cc)) {
		if (!json_is_boolean(cc)) {
			snprintf(err, ACS_ERR_LEN, "copy_existing_comments: must be true or false");
			rc = ACS_EPARSE;
			goto fail;
		}
		out->copy_existing_comments = json_is_true(cc) ? 1 : 0;
	}
	return 0;
fail:
	acs_dashboard_map_clear(out);
	return rc;
}

/* --- SQL helpers ------------------------------------------------------------------ */

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char err[ACS_ERR_LEN])
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	return 0;
}

/* Bind by name; a parameter the statement does not use is skipped, and NULL
 * text leaves the parameter NULL. */
static void bind_text(sqlite3_stmt *st, const char *name, const char *v)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i > 0 && v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
}

static void bind_int(sqlite3_stmt *st, const char *name, int64_t v)
{
	int i = sqlite3_bind_parameter_index(st, name);
	if (i > 0)
		sqlite3_bind_int64(st, i, v);
}

static json_t *col_text_or_null(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? json_string((const char *)s) : json_null();
}

static json_t *col_int_or_null(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL
		       ? json_null()
		       : json_integer(sqlite3_column_int64(st, i));
}

/* A JSON text column parsed, or fallback (a new reference) when unusable. */
static json_t *col_json(sqlite3_stmt *st, int i, json_t *fallback)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	json_t *j = s ? acs_json_loads(s, 0, NULL) : NULL;
	if (!j)
		return fallback;
	json_decref(fallback);
	return j;
}

/* Run a single-value count query. */
static int count_of(sqlite3 *db, const char *sql, int64_t *out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, sql, &st, err);
	if (rc)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = acs_store_error(db, rc, "count", err);
	}
	sqlite3_finalize(st);
	return rc;
}

/* --- stats counts ----------------------------------------------------------------- */

static int buckets(sqlite3 *db, const char *sql, int64_t start, int64_t out[60],
		   char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, sql, &st, err);
	if (rc)
		return rc;
	bind_int(st, ":start", start);
	bind_int(st, ":end", start + 60 * (int64_t)MINUTE_MS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int64_t b = sqlite3_column_int64(st, 0);
		if (b >= 0 && b < 60)
			out[b] = sqlite3_column_int64(st, 1);
	}
	if (rc != SQLITE_DONE)
		rc = acs_store_error(db, rc, "per-minute counts", err);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static int last_ts(sqlite3 *db, const char *dir, int64_t *out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	/* Walks sync_log_status backwards and stops at the first row of dir. */
	int rc = prepare(db,
			 "SELECT ts FROM sync_log WHERE status = 'ok' AND direction = :dir"
			 " ORDER BY ts DESC LIMIT 1",
			 &st, err);
	if (rc)
		return rc;
	bind_text(st, ":dir", dir);
	rc = sqlite3_step(st);
	*out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "last sync", err);
	sqlite3_finalize(st);
	return rc;
}

ACS_STATIC int acs__dashboard_db_counts(sqlite3 *db, int64_t now_ms,
					struct acs_dashboard_counts *out, char err[ACS_ERR_LEN])
{
	memset(out, 0, sizeof(*out));
	/* Bucket 59 is the current minute. */
	int64_t start = (now_ms / MINUTE_MS) * MINUTE_MS - 59 * (int64_t)MINUTE_MS;
	int rc;
	if ((rc = count_of(db, "SELECT count(*) FROM sync_map WHERE state = 'active'", &out->pairs,
			   err)) ||
	    (rc = count_of(db, "SELECT count(*) FROM sync_map WHERE state = 'ended'",
			   &out->pairs_ended, err)) ||
	    (rc = count_of(db, "SELECT count(*) FROM inbox WHERE state = 'error'", &out->errors,
			   err)) ||
	    (rc = count_of(db,
			   "SELECT (SELECT count(*) FROM inbox WHERE state = 'pending') +"
			   " (SELECT count(*) FROM inbox WHERE state = 'processing')",
			   &out->queue, err)) ||
	    (rc = buckets(db,
			  "SELECT (received_at - :start) / 60000, count(*) FROM inbox"
			  " WHERE received_at >= :start AND received_at < :end GROUP BY 1",
			  start, out->events, err)) ||
	    (rc = buckets(db,
			  "SELECT (ts - :start) / 60000, count(*) FROM sync_log"
			  " WHERE ts >= :start AND ts < :end AND status = 'ok'"
			  " AND direction <> 'none' GROUP BY 1",
			  start, out->pushes, err)) ||
	    (rc = last_ts(db, "ado_to_clickup", &out->last_a2c, err)) ||
	    (rc = last_ts(db, "clickup_to_ado", &out->last_c2a, err)))
		return rc;
	return 0;
}

/* --- sync log ------------------------------------------------------------------- */

#define LOG_COLS                                                                           \
	"l.id, l.ts, l.map_id, m.name, m.ado_project, l.sync_id, l.ado_id, l.clickup_id, " \
	"l.direction, l.action, l.status, l.fields, l.message"

static json_t *log_item(sqlite3_stmt *st, const struct acs_config *cfg)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "ts", json_integer(sqlite3_column_int64(st, 1)));
	json_object_set_new(o, "map_id", col_int_or_null(st, 2));
	json_object_set_new(o, "map_name", col_text_or_null(st, 3));
	json_object_set_new(o, "sync_id", col_int_or_null(st, 5));
	json_object_set_new(o, "ado_id", col_int_or_null(st, 6));
	json_object_set_new(o, "clickup_id", col_text_or_null(st, 7));
	char *u = NULL;
	if (sqlite3_column_type(st, 6) != SQLITE_NULL)
		u = acs_dashboard_ado_url(cfg, (const char *)sqlite3_column_text(st, 4),
					  sqlite3_column_int64(st, 6));
	json_object_set_new(o, "ado_url", u ? json_string(u) : json_null());
	free(u);
	u = NULL;
	const char *cid = (const char *)sqlite3_column_text(st, 7);
	if (cid && *cid)
		u = acs_dashboard_clickup_url(cfg, cid);
	json_object_set_new(o, "clickup_url", u ? json_string(u) : json_null());
	free(u);
	json_object_set_new(o, "direction", col_text_or_null(st, 8));
	json_object_set_new(o, "action", col_text_or_null(st, 9));
	json_object_set_new(o, "status", col_text_or_null(st, 10));
	json_t *fields = col_json(st, 11, json_array());
	if (!json_is_array(fields)) {
		json_decref(fields);
		fields = json_array();
	}
	json_object_set_new(o, "fields", fields);
	json_object_set_new(o, "message", col_text_or_null(st, 12));
	return o;
}

static void bind_filter(sqlite3_stmt *st, const struct acs_dashboard_log_filter *f)
{
	bind_text(st, ":status", f->status[0] ? f->status : NULL);
	bind_text(st, ":dir", f->direction[0] ? f->direction : NULL);
	if (f->map_id > 0)
		bind_int(st, ":map", f->map_id);
	if (f->q && *f->q) {
		char *p = acs_dashboard_like_pattern(f->q);
		bind_text(st, ":q", p);
		free(p);
	}
	if (f->after_id > 0)
		bind_int(st, ":after", f->after_id);
}

ACS_STATIC int acs__dashboard_db_log(sqlite3 *db, const struct acs_config *cfg,
				     const struct acs_dashboard_log_filter *f, json_t **out,
				     char err[ACS_ERR_LEN])
{
	char *where = acs_dashboard_log_where(f);
	bool stream = f->after_id > 0;
	sqlite3_stmt *st = NULL;
	int64_t total = 0;
	int rc = 0;
	*out = NULL;

	if (!stream) {
		char *sql = acs_xasprintf("SELECT count(*) FROM sync_log l%s", where);
		rc = prepare(db, sql, &st, err);
		free(sql);
		if (rc)
			goto done;
		bind_filter(st, f);
		rc = sqlite3_step(st);
		total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		rc = rc == SQLITE_ROW ? 0 : acs_store_error(db, rc, "count sync_log", err);
		sqlite3_finalize(st);
		st = NULL;
		if (rc)
			goto done;
	}
	char *sql = acs_xasprintf("SELECT " LOG_COLS " FROM sync_log l LEFT JOIN project_map m"
				  " ON m.id = l.map_id%s ORDER BY l.id %s LIMIT :limit OFFSET :off",
				  where, stream ? "ASC" : "DESC");
	rc = prepare(db, sql, &st, err);
	free(sql);
	if (rc)
		goto done;
	bind_filter(st, f);
	bind_int(st, ":limit", f->limit ? f->limit : DEFAULT_LIMIT);
	bind_int(st, ":off", stream ? 0 : (int64_t)(f->page ? f->page - 1 : 0) * f->limit);
	json_t *items = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(items, log_item(st, cfg));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		rc = acs_store_error(db, rc, "read sync_log", err);
		goto done;
	}
	rc = 0;
	*out = json_pack("{s:o, s:i, s:i, s:I}", "items", items, "page", (int)f->page, "limit",
			 (int)f->limit, "total", (json_int_t)total);
done:
	free(where);
	return rc;
}

/* The largest sync_log id (the event streams start after it). */
static int max_log_id(sqlite3 *db, int64_t *out, char err[ACS_ERR_LEN])
{
	return count_of(db, "SELECT coalesce(max(id), 0) FROM sync_log", out, err);
}

/* --- mappings ---------------------------------------------------------------------- */

#define MAP_COLS                                                                     \
	"id, name, source, ado_project, ado_area_path, ado_work_item_types, "        \
	"ado_new_item_type, clickup_list_id, status_map, priority_map, custom_map, " \
	"on_delete, copy_existing_comments, created_at, updated_at"

static json_t *map_item(sqlite3_stmt *st)
{
	json_t *o = json_object();
	json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
	json_object_set_new(o, "name", col_text_or_null(st, 1));
	json_object_set_new(o, "source", col_text_or_null(st, 2));
	json_object_set_new(o, "ado_project", col_text_or_null(st, 3));
	json_object_set_new(o, "ado_area_path", col_text_or_null(st, 4));
	json_object_set_new(o, "ado_work_item_types", col_json(st, 5, json_array()));
	json_object_set_new(o, "ado_new_item_type", col_text_or_null(st, 6));
	json_object_set_new(o, "clickup_list_id", col_text_or_null(st, 7));
	json_object_set_new(o, "status_map", col_json(st, 8, json_object()));
	json_object_set_new(o, "priority_map",
			    col_json(st, 9, acs_json_loads(DEFAULT_PRIORITY, 0, NULL)));
	json_object_set_new(o, "custom_map", col_json(st, 10, json_object()));
	json_object_set_new(o, "on_delete", col_text_or_null(st, 11));
	json_object_set_new(o, "copy_existing_comments",
			    json_boolean(sqlite3_column_int(st, 12) != 0));
	json_object_set_new(o, "created_at", json_integer(sqlite3_column_int64(st, 13)));
	json_object_set_new(o, "updated_at", json_integer(sqlite3_column_int64(st, 14)));
	return o;
}

ACS_STATIC int acs__dashboard_db_maps(sqlite3 *db, int64_t id, json_t **out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	*out = NULL;
	int rc = prepare(db,
			 id ? "SELECT " MAP_COLS " FROM project_map WHERE id = :id"
			    : "SELECT " MAP_COLS " FROM project_map ORDER BY name",
			 &st, err);
	if (rc)
		return rc;
	bind_int(st, ":id", id);
	json_t *items = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		json_array_append_new(items, map_item(st));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(items);
		return acs_store_error(db, rc, "read project_map", err);
	}
	if (!id) {
		*out = json_pack("{s:o}", "items", items);
		return 0;
	}
	if (json_array_size(items) == 0) {
		json_decref(items);
		snprintf(err, ACS_ERR_LEN, "no mapping with id %" PRId64, id);
		return ACS_ENOTFOUND;
	}
	*out = json_incref(json_array_get(items, 0));
	json_decref(items);
	return 0;
}

/* The source of mapping id: 0 'db', -EPERM 'file' (with a message), or
 * ACS_ENOTFOUND. */
static int map_writable(sqlite3 *db, int64_t id, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, "SELECT source, name FROM project_map WHERE id = :id", &st, err);
	if (rc)
		return rc;
	bind_int(st, ":id", id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *src = (const char *)sqlite3_column_text(st, 0);
		rc = 0;
		if (src && strcmp(src, "file") == 0) {
			snprintf(err, ACS_ERR_LEN,
				 "mapping '%.100s' comes from the configuration file: edit its "
				 "[map %.100s] section in the config file and restart the daemon",
				 (const char *)sqlite3_column_text(st, 1),
				 (const char *)sqlite3_column_text(st, 1));
			rc = -EPERM;
		}
	} else if (rc == SQLITE_DONE) {
		snprintf(err, ACS_ERR_LEN, "no mapping with id %" PRId64, id);
		rc = ACS_ENOTFOUND;
	} else {
		rc = acs_store_error(db, rc, "read project_map", err);
	}
	sqlite3_finalize(st);
	return rc;
}

static void bind_map(sqlite3_stmt *st, const struct acs_dashboard_map *m, int64_t now_ms)
{
	bind_text(st, ":name", m->name);
	bind_text(st, ":proj", m->ado_project);
	bind_text(st, ":area", m->ado_area_path);
	bind_text(st, ":types", m->ado_work_item_types);
	bind_text(st, ":newtype", m->ado_new_item_type);
	bind_text(st, ":list", m->clickup_list_id);
	bind_text(st, ":status", m->status_map);
	bind_text(st, ":prio", m->priority_map);
	bind_text(st, ":custom", m->custom_map);
	bind_text(st, ":ondel", m->on_delete);
	if (m->copy_existing_comments >= 0)
		bind_int(st, ":copy", m->copy_existing_comments);
	bind_int(st, ":now", now_ms);
}

ACS_STATIC int acs__dashboard_db_map_save(sqlite3 *db, int64_t id,
					  const struct acs_dashboard_map *m, int64_t now_ms,
					  json_t **out, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc;
	*out = NULL;
	if (id) {
		if ((rc = map_writable(db, id, err)))
			return rc;
		rc = prepare(db,
			     "UPDATE project_map SET name = coalesce(:name, name),"
			     " ado_project = coalesce(:proj, ado_project),"
			     " ado_area_path = coalesce(:area, ado_area_path),"
			     " ado_work_item_types = coalesce(:types, ado_work_item_types),"
			     " ado_new_item_type = coalesce(:newtype, ado_new_item_type),"
			     " clickup_list_id = coalesce(:list, clickup_list_id),"
			     " status_map = coalesce(:status, status_map),"
			     " priority_map = coalesce(:prio, priority_map),"
			     " custom_map = coalesce(:custom, custom_map),"
			     " on_delete = coalesce(:ondel, on_delete),"
			     " copy_existing_comments = coalesce(:copy, copy_existing_comments),"
			     " updated_at = max(:now, created_at) WHERE id = :id",
			     &st, err);
	} else {
		rc = prepare(db,
			     "INSERT INTO project_map (name, source, ado_project, ado_area_path,"
			     " ado_work_item_types, ado_new_item_type, clickup_list_id, status_map,"
			     " priority_map, custom_map, on_delete, copy_existing_comments,"
			     " created_at, updated_at) VALUES (:name, 'db', :proj,"
			     " coalesce(:area, ''), coalesce(:types, '" DEFAULT_TYPES "'),"
			     " coalesce(:newtype, 'Task'), :list, coalesce(:status, '{}'),"
			     " coalesce(:prio, '" DEFAULT_PRIORITY "'), coalesce(:custom, '{}'),"
			     " coalesce(:ondel, 'close'), coalesce(:copy, 1), :now, :now)",
			     &st, err);
	}
	if (rc)
		return rc;
	bind_map(st, m, now_ms);
	bind_int(st, ":id", id);
	rc = sqlite3_step(st);
	if (rc != SQLITE_DONE) {
		rc = acs_store_error(db, rc, id ? "update mapping" : "create mapping", err);
		if (rc == ACS_ECONFLICT)
			snprintf(err, ACS_ERR_LEN, "name: a mapping named '%.100s' exists already",
				 m->name ? m->name : "");
		sqlite3_finalize(st);
		return rc;
	}
	sqlite3_finalize(st);
	if (!id)
		id = sqlite3_last_insert_rowid(db);
	return acs__dashboard_db_maps(db, id, out, err);
}

ACS_STATIC int acs__dashboard_db_map_delete(sqlite3 *db, int64_t id, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = map_writable(db, id, err);
	if (rc)
		return rc;
	if ((rc = prepare(db, "DELETE FROM project_map WHERE id = :id", &st, err)))
		return rc;
	bind_int(st, ":id", id);
	rc = sqlite3_step(st);
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "delete mapping", err);
	sqlite3_finalize(st);
	return rc;
}

/* --- error queue ----------------------------------------------------------------- */

ACS_STATIC int acs__dashboard_db_error_op(sqlite3 *db, bool retry, const int64_t *ids, size_t n,
					  bool all, int64_t *changed, char err[ACS_ERR_LEN])
{
	/* The same transitions as acs_inbox_error_retry / _dismiss, for a list. */
	const char *sql = retry ? "UPDATE inbox SET state = 'pending', attempts = 0,"
				  " next_attempt_at = 0 WHERE state = 'error'"
				  " AND (:all OR id = :id)"
				: "UPDATE inbox SET state = 'ignored' WHERE state = 'error'"
				  " AND (:all OR id = :id)";
	sqlite3_stmt *st = NULL;
	int rc = prepare(db, sql, &st, err);
	*changed = 0;
	if (rc)
		return rc;
	for (size_t i = 0; i < (all ? 1 : n); i++) {
		sqlite3_reset(st);
		bind_int(st, ":all", all ? 1 : 0);
		bind_int(st, ":id", all ? 0 : ids[i]);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			rc = acs_store_error(db, rc, "update inbox", err);
			sqlite3_finalize(st);
			return rc;
		}
		*changed += sqlite3_changes(db);
	}
	sqlite3_finalize(st);
	return 0;
}

/* --- request jobs --------------------------------------------------------------------- */

enum job_kind {
	J_COUNTS,     /**< stats (request or streams) */
	J_LOG,	      /**< a sync-log page */
	J_POLL,	      /**< new sync_log rows for the streams */
	J_MAPS,	      /**< list or one mapping */
	J_MAP_SAVE,   /**< create or update */
	J_MAP_DELETE, /**< delete */
	J_ERROR_OP,   /**< retry / dismiss */
};

struct job {
	struct acs_dashboard *d;
	struct acs_http_req *req; /**< NULL for the streams' jobs */
	enum job_kind kind;
	int64_t id;
	int64_t now_ms;
	struct acs_dashboard_log_filter filter;
	struct acs_dashboard_map map;
	int64_t *ids;
	size_t n_ids;
	bool all;
	bool retry;
	struct acs_dashboard_counts counts;
	int64_t changed;
	json_t *out;
	int ok_status; /**< answer status on success */
};

static int job_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct job *j = arg;
	switch (j->kind) {
	case J_COUNTS:
		return acs__dashboard_db_counts(db, j->now_ms, &j->counts, err);
	case J_LOG:
		return acs__dashboard_db_log(db, j->d->cfg, &j->filter, &j->out, err);
	case J_POLL:
		if (j->filter.after_id <= 0)
			return max_log_id(db, &j->id, err);
		return acs__dashboard_db_log(db, j->d->cfg, &j->filter, &j->out, err);
	case J_MAPS:
		return acs__dashboard_db_maps(db, j->id, &j->out, err);
	case J_MAP_SAVE:
		return acs__dashboard_db_map_save(db, j->id, &j->map, j->now_ms, &j->out, err);
	case J_MAP_DELETE:
		return acs__dashboard_db_map_delete(db, j->id, err);
	case J_ERROR_OP:
		return acs__dashboard_db_error_op(db, j->retry, j->ids, j->n_ids, j->all,
						  &j->changed, err);
	}
	return -EINVAL;
}

static struct job *job_new(struct acs_dashboard *d, struct acs_http_req *req, enum job_kind kind)
{
	struct job *j = acs_xcalloc(1, sizeof(*j));
	j->d = d;
	j->req = req;
	j->kind = kind;
	j->ok_status = 200;
	j->map.copy_existing_comments = -1;
	return j;
}

static void job_free(struct job *j)
{
	acs_dashboard_log_filter_clear(&j->filter);
	acs_dashboard_map_clear(&j->map);
	free(j->ids);
	json_decref(j->out);
	free(j);
}

static json_t *stats_json(struct acs_dashboard *d, const struct acs_dashboard_counts *c);
static void stream_counts_done(struct acs_dashboard *d, int rc, struct job *j);
static void stream_poll_done(struct acs_dashboard *d, int rc, const char *err, struct job *j);

/* A reload after a save; new_map names a mapping just created (else NULL). */
struct reload_arg {
	struct acs_dashboard *d;
	char *new_map;
};

/* A new mapping backfills the items that already exist (product.md §1): once it is in
 * use, its backfill starts, or waits behind the one running. */
static void backfill_new_map(struct acs_dashboard *d, const char *name)
{
	struct acs_backfill *b = d->engine ? acs_engine_backfill(d->engine) : NULL;
	if (!b || d->stopping)
		return;
	int rc = acs_backfill_enqueue(b, name);
	if (rc == ACS_ENOTFOUND)
		acs_log(ACS_LOG_WARN, "dashboard", "mapping %s is not in use: no backfill", name);
	else if (rc)
		acs_log(ACS_LOG_ERR, "dashboard",
			"mapping %s: backfill not started (%s); use \"backfill now\"", name,
			acs_strerror(rc));
	else
		acs_log(ACS_LOG_INFO, "dashboard", "mapping %s: backfill of its existing items",
			name);
}

static void maps_reloaded(int rc, const char *err, void *arg)
{
	struct reload_arg *ra = arg;
	if (rc == ACS_ECANCELED || rc == ACS_ECLOSED) {
		/* nothing */
	} else if (rc) {
		acs_log(ACS_LOG_ERR, "dashboard", "mappings saved, but not all are synced: %s",
			err ? err : acs_strerror(rc));
	} else {
		acs_log(ACS_LOG_INFO, "dashboard", "mappings saved and in use");
	}
	/* With ACS_EHTTP the mappings the APIs accepted are in use: the new one may be. */
	if (ra->new_map && (rc == 0 || rc == ACS_EHTTP))
		backfill_new_map(ra->d, ra->new_map);
	free(ra->new_map);
	free(ra);
}

/* project_map changed: the engine syncs the new set from now on (before it runs, its
 * start reads the rows anyway). new_map: the name of a mapping just created. */
static void maps_changed(struct acs_dashboard *d, const char *new_map)
{
	if (!d->engine)
		return;
	struct reload_arg *ra = acs_xcalloc(1, sizeof(*ra));
	ra->d = d;
	ra->new_map = new_map ? acs_xstrdup(new_map) : NULL;
	int rc = acs_engine_reload_maps(d->engine, maps_reloaded, ra);
	if (rc) {
		free(ra->new_map);
		free(ra);
	}
	if (rc && rc != -EAGAIN)
		acs_log(ACS_LOG_WARN, "dashboard", "mappings saved; reloading them failed: %s",
			acs_strerror(rc));
}

static void job_done(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	struct acs_dashboard *d = j->d;
	d->jobs--;
	if (!j->req) {
		if (j->kind == J_COUNTS)
			stream_counts_done(d, rc, j);
		else
			stream_poll_done(d, rc, err, j);
		job_free(j);
		maybe_free(d);
		return;
	}
	if (rc < 0) {
		reply_store_error(j->req, rc, err);
	} else if (j->kind == J_COUNTS) {
		reply_json(j->req, 200, stats_json(d, &j->counts));
	} else if (j->kind == J_MAP_DELETE) {
		maps_changed(d, NULL);
		api_headers(j->req);
		acs_http_respond(j->req, 204, NULL, NULL, 0);
	} else if (j->kind == J_ERROR_OP) {
		if (j->changed > 0 && j->retry && d->engine)
			acs_engine_kick(d->engine);
		if (j->n_ids == 1 && !j->all && j->id) {
			if (j->changed == 0)
				reply_error(j->req, 404, "not found",
					    "no event in the error queue with that id");
			else
				reply_json(j->req, 200, json_pack("{s:b}", "ok", 1));
		} else {
			reply_json(j->req, 200,
				   json_pack("{s:I}", "count", (json_int_t)j->changed));
		}
	} else {
		if (j->kind == J_MAP_SAVE)
			maps_changed(d, j->ok_status == 201 ? j->map.name : NULL);
		reply_json(j->req, j->ok_status, j->out);
		j->out = NULL;
	}
	job_free(j);
	maybe_free(d);
}

static void submit(struct job *j, bool write)
{
	struct acs_dashboard *d = j->d;
	int rc = write ? acs_store_write(d->store, job_fn, job_done, j)
		       : acs_store_read(d->store, job_fn, job_done, j);
	if (rc == 0) {
		d->jobs++;
		return;
	}
	if (j->req)
		reply_store_error(j->req, rc, acs_strerror(rc));
	else if (j->kind == J_COUNTS)
		d->stats_running = false;
	else
		d->poll_running = false;
	job_free(j);
}

/* --- stats ----------------------------------------------------------------------- */

static json_t *ints_json(const int64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

static json_t *ms_or_null(int64_t ms)
{
	return ms > 0 ? json_integer(ms) : json_null();
}

/* remaining: -1 (unknown, e.g. ADO's figure went stale) is null, never 0. limit: the
 * governor's request limit, else the server's own last X-RateLimit-Limit (ADO's
 * TSTUs, sent only near or over the limit), else null. */
static json_t *budget_json(int64_t left, const struct acs_governor_stats *gs)
{
	json_t *limit = json_null();
	if (gs && gs->limit)
		limit = json_integer(gs->limit);
	else if (gs && gs->server_limit > 0)
		limit = json_integer(gs->server_limit);
	return json_pack("{s:o, s:o}", "remaining", left >= 0 ? json_integer(left) : json_null(),
			 "limit", limit);
}

static json_t *stats_json(struct acs_dashboard *d, const struct acs_dashboard_counts *c)
{
	json_t *budget, *webhooks;
	int64_t total = 0, healthy = 0;
	if (d->engine) {
		struct acs_governor_stats gs;
		struct acs_ado_client *ado = acs_engine_ado(d->engine);
		struct acs_clickup_client *cu = acs_engine_clickup(d->engine);
		acs_ado_client_stats(ado, &gs);
		json_t *a = budget_json(acs_ado_client_budget_left(ado), &gs);
		acs_clickup_client_stats(cu, &gs);
		json_t *b = budget_json(acs_clickup_client_budget_left(cu), &gs);
		budget = json_pack("{s:o, s:o}", "ado", a, "clickup", b);
		json_t *w = acs_engine_webhooks_json(d->engine);
		size_t i;
		json_t *it;
		json_array_foreach(json_object_get(w, "items"), i, it)
		{
			const char *o = json_string_value(json_object_get(it, "outcome"));
			if (o && strcmp(o, "deleted") == 0)
				continue;
			total++;
			if (o && strcmp(o, "failed") != 0)
				healthy++;
		}
		json_decref(w);
	} else {
		budget = json_pack("{s:o, s:o}", "ado", budget_json(-1, NULL), "clickup",
				   budget_json(-1, NULL));
	}
	webhooks =
		json_pack("{s:I, s:I}", "total", (json_int_t)total, "healthy", (json_int_t)healthy);
	return json_pack("{s:I, s:I, s:o, s:o, s:I, s:I, s:{s:o, s:o}, s:o, s:o, s:s, s:b}",
			 "pairs", (json_int_t)c->pairs, "pairs_ended", (json_int_t)c->pairs_ended,
			 "events_per_minute", ints_json(c->events, 60), "pushes_per_minute",
			 ints_json(c->pushes, 60), "errors", (json_int_t)c->errors, "queue",
			 (json_int_t)c->queue, "last_sync", "ado_to_clickup",
			 ms_or_null(c->last_a2c), "clickup_to_ado", ms_or_null(c->last_c2a),
			 "budget", budget, "webhooks", webhooks, "version", ACS_VERSION,
			 "sync_running", d->engine != NULL);
}

/* --- routes: stats, mappings, log, errors --------------------------------------------- */

static void stats_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	if (!acs_admin_require(d->admin, req, false, NULL))
		return;
	struct job *j = job_new(d, req, J_COUNTS);
	j->now_ms = acs_inbox_now_ms();
	submit(j, false);
}

static void maps_list_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	if (!acs_admin_require(d->admin, req, false, NULL))
		return;
	submit(job_new(d, req, J_MAPS), false);
}

static bool need_id(struct acs_http_req *req, int64_t *id)
{
	*id = param_id(req, "id");
	if (*id > 0)
		return true;
	reply_error(req, 404, "not found", "ids are positive integers");
	return false;
}

static void map_get_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	int64_t id;
	if (!acs_admin_require(d->admin, req, false, NULL) || !need_id(req, &id))
		return;
	struct job *j = job_new(d, req, J_MAPS);
	j->id = id;
	submit(j, false);
}

static void map_save(struct acs_dashboard *d, struct acs_http_req *req, int64_t id)
{
	char err[ACS_ERR_LEN];
	json_t *body = body_json(req);
	if (!body)
		return;
	struct job *j = job_new(d, req, J_MAP_SAVE);
	int rc = acs_dashboard_map_parse(body, id == 0, &j->map, err);
	json_decref(body);
	if (rc) {
		reply_error(req, 400, "invalid mapping", err);
		job_free(j);
		return;
	}
	j->id = id;
	j->now_ms = acs_inbox_now_ms();
	j->ok_status = id ? 200 : 201;
	submit(j, true);
}

static void map_create_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	if (!acs_admin_require(d->admin, req, true, NULL))
		return;
	map_save(d, req, 0);
}

static void map_update_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	int64_t id;
	if (!acs_admin_require(d->admin, req, true, NULL) || !need_id(req, &id))
		return;
	map_save(d, req, id);
}

static void map_delete_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	int64_t id;
	if (!acs_admin_require(d->admin, req, true, NULL) || !need_id(req, &id))
		return;
	struct job *j = job_new(d, req, J_MAP_DELETE);
	j->id = id;
	submit(j, true);
}

static void log_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	char err[ACS_ERR_LEN];
	if (!acs_admin_require(d->admin, req, false, NULL))
		return;
	struct job *j = job_new(d, req, J_LOG);
	if (acs_dashboard_log_filter_parse(acs_http_req_query_string(req), &j->filter, err)) {
		reply_error(req, 400, "invalid query", err);
		job_free(j);
		return;
	}
	submit(j, false);
}

/* GET /api/dashboard/errors: a page of acs_inbox_errors. */
struct errors_req {
	struct acs_dashboard *d;
	struct acs_http_req *req;
	unsigned page, limit;
	struct acs_inbox_errors job;
};

static void errors_done(int rc, const char *err, void *arg)
{
	struct errors_req *e = acs_container_of(arg, struct errors_req, job);
	struct acs_dashboard *d = e->d;
	d->jobs--;
	if (rc < 0) {
		reply_store_error(e->req, rc, err);
	} else {
		json_t *items = json_array();
		for (size_t i = 0; i < e->job.n_rows; i++) {
			const struct acs_inbox_row *r = &e->job.rows[i];
			json_array_append_new(
				items,
				json_pack("{s:I, s:s, s:s, s:s, s:i, s:s?, s:I}", "id",
					  (json_int_t)r->id, "source", r->source ? r->source : "",
					  "event_type", r->event_type ? r->event_type : "",
					  "item_key", r->item_key ? r->item_key : "", "attempts",
					  (int)r->attempts, "last_error", r->last_error,
					  "received_at", (json_int_t)r->received_at));
		}
		reply_json(e->req, 200,
			   json_pack("{s:o, s:i, s:i, s:I}", "items", items, "page", (int)e->page,
				     "limit", (int)e->limit, "total", (json_int_t)e->job.total));
	}
	acs_inbox_errors_deinit(&e->job);
	free(e);
	maybe_free(d);
}

static void errors_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	char err[ACS_ERR_LEN];
	unsigned page, limit;
	if (!acs_admin_require(d->admin, req, false, NULL))
		return;
	if (acs_dashboard_parse_page(acs_http_req_query_string(req), &page, &limit, err)) {
		reply_error(req, 400, "invalid query", err);
		return;
	}
	struct errors_req *e = acs_xcalloc(1, sizeof(*e));
	e->d = d;
	e->req = req;
	e->page = page;
	e->limit = limit;
	e->job.limit = limit;
	e->job.offset = (size_t)(page - 1) * limit;
	int rc = acs_inbox_errors(d->store, &e->job, errors_done);
	if (rc) {
		reply_store_error(req, rc, acs_strerror(rc));
		free(e);
		return;
	}
	d->jobs++;
}

static void error_one(struct acs_http_req *req, struct acs_dashboard *d, bool retry)
{
	int64_t id;
	if (!acs_admin_require(d->admin, req, true, NULL) || !need_id(req, &id))
		return;
	struct job *j = job_new(d, req, J_ERROR_OP);
	j->retry = retry;
	j->id = id;
	j->ids = acs_xmalloc(sizeof(*j->ids));
	j->ids[0] = id;
	j->n_ids = 1;
	submit(j, true);
}

static void error_retry_cb(struct acs_http_req *req, void *arg)
{
	error_one(req, arg, true);
}

static void error_dismiss_cb(struct acs_http_req *req, void *arg)
{
	error_one(req, arg, false);
}

/* {"ids": [positive ints]} or {"all": true}. */
static void error_bulk(struct acs_http_req *req, struct acs_dashboard *d, bool retry)
{
	if (!acs_admin_require(d->admin, req, true, NULL))
		return;
	json_t *body = body_json(req);
	if (!body)
		return;
	struct job *j = job_new(d, req, J_ERROR_OP);
	j->retry = retry;
	const json_t *all = json_object_get(body, "all");
	const json_t *ids = json_object_get(body, "ids");
	const char *bad = NULL;
	if (all && !json_is_boolean(all))
		bad = "all: must be true or false";
	else if (json_is_true(all))
		j->all = true;
	else if (!json_is_array(ids) || json_array_size(ids) > MAX_BULK_IDS)
		bad = "ids: an array of at most 1000 error ids (or \"all\": true) is required";
	if (!bad && !j->all) {
		j->ids = acs_xcalloc(json_array_size(ids) + 1, sizeof(*j->ids));
		size_t i;
		const json_t *v;
		json_array_foreach(ids, i, v)
		{
			if (!json_is_integer(v) || json_integer_value(v) <= 0) {
				bad = "ids: must be positive integers";
				break;
			}
			j->ids[j->n_ids++] = json_integer_value(v);
		}
	}
	json_decref(body);
	if (bad) {
		reply_error(req, 400, "invalid request", bad);
		job_free(j);
		return;
	}
	submit(j, true);
}

static void errors_retry_cb(struct acs_http_req *req, void *arg)
{
	error_bulk(req, arg, true);
}

static void errors_dismiss_cb(struct acs_http_req *req, void *arg)
{
	error_bulk(req, arg, false);
}

/* --- pickers ----------------------------------------------------------------------- */

struct pick {
	struct acs_dashboard *d;
	struct acs_http_req *req;
};

/* The engine for a picker, or NULL after answering 503. */
static struct acs_engine *picker_engine(struct acs_dashboard *d, struct acs_http_req *req)
{
	if (!acs_admin_require(d->admin, req, false, NULL))
		return NULL;
	if (!d->engine) {
		reply_error(req, 503, "sync not configured",
			    "the pickers use the sync engine's API clients: configure [ado], "
			    "[clickup] and a [map] section");
		return NULL;
	}
	return d->engine;
}

static struct pick *pick_new(struct acs_dashboard *d, struct acs_http_req *req)
{
	struct pick *p = acs_xcalloc(1, sizeof(*p));
	p->d = d;
	p->req = req;
	return p;
}

/* A client call that did not start. */
static void pick_start_failed(struct pick *p, int rc)
{
	if (rc == -EINVAL)
		reply_error(p->req, 400, "invalid request", "a required parameter is missing");
	else
		reply_error(p->req, 503, "service unavailable", acs_strerror(rc));
	free(p);
}

static void pick_fail(struct pick *p, const char *service, int error, long status,
		      const char *message)
{
	char detail[ACS_ERR_LEN];
	if (error == ACS_ECANCELED || error == ACS_ECLOSED) {
		reply_error(p->req, 503, "shutting down", acs_strerror(error));
		return;
	}
	if (status)
		snprintf(detail, sizeof(detail), "%s answered %ld: %s", service, status,
			 message && *message ? message : acs_strerror(error));
	else
		snprintf(detail, sizeof(detail), "%s: %s", service,
			 message && *message ? message : acs_strerror(error));
	reply_error(p->req, 502, "service request failed", detail);
}

static void pick_items(struct pick *p, json_t *items)
{
	reply_json(p->req, 200, json_pack("{s:o}", "items", items));
	free(p);
}

static void ado_projects_done(const struct acs_ado_result *res, struct acs_ado_project_list *l,
			      void *arg)
{
	struct pick *p = arg;
	if (!l) {
		pick_fail(p, "Azure DevOps", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items,
				      json_pack("{s:s, s:s}", "id", l->projects[i].id, "name",
						l->projects[i].name ? l->projects[i].name
								    : l->projects[i].id));
	acs_ado_project_list_free(l);
	pick_items(p, items);
}

static void ado_projects_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	if (!e)
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_ado_list_projects(acs_engine_ado(e), ado_projects_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

/* The value of a required query parameter, or NULL after answering 400. */
static const char *need_query(struct acs_http_req *req, const char *name)
{
	const char *v = acs_http_req_query(req, name);
	if (v && *v && strlen(v) <= MAX_NAME)
		return v;
	char detail[ACS_ERR_LEN];
	snprintf(detail, sizeof(detail), "%s: required", name);
	reply_error(req, 400, "invalid query", detail);
	return NULL;
}

static void ado_areas_done(const struct acs_ado_result *res, struct acs_ado_path_list *l, void *arg)
{
	struct pick *p = arg;
	if (!l) {
		pick_fail(p, "Azure DevOps", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, json_pack("{s:s}", "path", l->paths[i]));
	acs_ado_path_list_free(l);
	pick_items(p, items);
}

static void ado_areas_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	const char *project;
	if (!e || !(project = need_query(req, "project")))
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_ado_list_area_paths_in(acs_engine_ado(e), project, ado_areas_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

static void ado_types_done(const struct acs_ado_result *res, struct acs_ado_type_list *l, void *arg)
{
	struct pick *p = arg;
	if (!l) {
		pick_fail(p, "Azure DevOps", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++) {
		const struct acs_ado_work_item_type *t = &l->types[i];
		if (t->is_disabled)
			continue;
		json_t *states = json_array();
		for (size_t k = 0; k < t->n_states; k++)
			json_array_append_new(states,
					      json_pack("{s:s, s:s?}", "name", t->states[k].name,
							"category", t->states[k].category));
		json_array_append_new(items,
				      json_pack("{s:s, s:o}", "name", t->name, "states", states));
	}
	acs_ado_type_list_free(l);
	pick_items(p, items);
}

static void ado_types_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	const char *project;
	if (!e || !(project = need_query(req, "project")))
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_ado_list_work_item_types_in(acs_engine_ado(e), project, ado_types_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

static void cu_spaces_done(const struct acs_clickup_result *res, struct acs_clickup_spaces *s,
			   void *arg)
{
	struct pick *p = arg;
	if (!s) {
		pick_fail(p, "ClickUp", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < s->n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "id", s->v[i].id, "name",
						       s->v[i].name ? s->v[i].name : ""));
	acs_clickup_spaces_free(s);
	pick_items(p, items);
}

static void cu_spaces_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	if (!e)
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_clickup_get_spaces(acs_engine_clickup(e), ACS_GOVERNOR_INTERACTIVE,
					d->cfg->clickup.workspace_id, cu_spaces_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

static void cu_folders_done(const struct acs_clickup_result *res, struct acs_clickup_folders *f,
			    void *arg)
{
	struct pick *p = arg;
	if (!f) {
		pick_fail(p, "ClickUp", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "id", f->v[i].id, "name",
						       f->v[i].name ? f->v[i].name : ""));
	acs_clickup_folders_free(f);
	pick_items(p, items);
}

static void cu_folders_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	const char *space;
	if (!e || !(space = need_query(req, "space")))
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_clickup_get_folders(acs_engine_clickup(e), ACS_GOVERNOR_INTERACTIVE, space,
					 cu_folders_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

static void cu_lists_done(const struct acs_clickup_result *res, struct acs_clickup_lists *l,
			  void *arg)
{
	struct pick *p = arg;
	if (!l) {
		pick_fail(p, "ClickUp", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n; i++)
		json_array_append_new(items, json_pack("{s:s, s:s}", "id", l->v[i].id, "name",
						       l->v[i].name ? l->v[i].name : ""));
	acs_clickup_lists_free(l);
	pick_items(p, items);
}

/* ?space=ID: the lists directly in the space; &folder=ID: that folder's. */
static void cu_lists_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	if (!e)
		return;
	const char *folder = acs_http_req_query(req, "folder");
	const char *space = NULL;
	if ((!folder || !*folder) && !(space = need_query(req, "space")))
		return;
	struct pick *p = pick_new(d, req);
	int rc = folder && *folder
			 ? acs_clickup_get_lists(acs_engine_clickup(e), ACS_GOVERNOR_INTERACTIVE,
						 folder, cu_lists_done, p)
			 : acs_clickup_get_folderless_lists(acs_engine_clickup(e),
							    ACS_GOVERNOR_INTERACTIVE, space,
							    cu_lists_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

static void cu_statuses_done(const struct acs_clickup_result *res, struct acs_clickup_list *l,
			     void *arg)
{
	struct pick *p = arg;
	if (!l) {
		pick_fail(p, "ClickUp", res->error, res->status, res->message);
		free(p);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < l->n_statuses; i++)
		json_array_append_new(
			items, json_pack("{s:s, s:s, s:I}", "status", l->statuses[i].name, "type",
					 l->statuses[i].type ? l->statuses[i].type : "",
					 "orderindex", (json_int_t)l->statuses[i].orderindex));
	acs_clickup_list_free(l);
	pick_items(p, items);
}

static void cu_statuses_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	struct acs_engine *e = picker_engine(d, req);
	const char *list;
	if (!e || !(list = need_query(req, "list")))
		return;
	struct pick *p = pick_new(d, req);
	int rc = acs_clickup_get_list(acs_engine_clickup(e), ACS_GOVERNOR_INTERACTIVE, list,
				      cu_statuses_done, p);
	if (rc)
		pick_start_failed(p, rc);
}

/* --- server-sent events ---------------------------------------------------------------- */

static void stream_send(struct stream *s, const char *text, size_t len)
{
	/* ACS_ETOOBIG (a stalled client) drops this event; ACS_ECLOSED is
	 * followed by the close callback, which unlinks the stream. */
	(void)acs_http_stream_write(s->req, text, len);
}

static void streams_broadcast(struct acs_dashboard *d, const char *text)
{
	size_t len = strlen(text);
	for (struct stream *s = d->streams; s; s = s->next)
		stream_send(s, text, len);
}

static void unlink_stream(struct acs_dashboard *d, struct stream *s)
{
	for (struct stream **pp = &d->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			d->n_streams--;
			break;
		}
	}
	if (!d->streams) {
		uv_timer_stop(&d->tick);
		/* Nobody listens: the next stream starts from the newest row. */
		d->log_last_id = -1;
	}
}

static void stream_gone_cb(struct acs_http_req *req, void *arg)
{
	struct stream *s = arg;
	unlink_stream(s->d, s);
	acs_http_stream_end(req);
	free(s);
}

static void start_counts(struct acs_dashboard *d)
{
	if (d->stats_running || d->stopping)
		return;
	struct job *j = job_new(d, NULL, J_COUNTS);
	j->now_ms = acs_inbox_now_ms();
	d->stats_running = true;
	submit(j, false);
}

static void start_poll(struct acs_dashboard *d)
{
	if (d->poll_running || d->stopping)
		return;
	struct job *j = job_new(d, NULL, J_POLL);
	j->filter.after_id = d->log_last_id;
	j->filter.limit = POLL_ROWS;
	d->poll_running = true;
	submit(j, false);
}

static void stream_counts_done(struct acs_dashboard *d, int rc, struct job *j)
{
	d->stats_running = false;
	if (rc < 0 || d->stopping || d->closing)
		return;
	json_t *st = stats_json(d, &j->counts);
	char *text = acs_json_dumps(st, JSON_COMPACT);
	json_decref(st);
	if (!text)
		return;
	free(d->stats_text);
	d->stats_text = acs_xasprintf("event: stats\ndata: %s\n\n", text);
	free(text);
	d->stats_at = uv_now(d->loop);
	streams_broadcast(d, d->stats_text);
}

static void stream_poll_done(struct acs_dashboard *d, int rc, const char *err, struct job *j)
{
	d->poll_running = false;
	if (rc < 0) {
		acs_log(ACS_LOG_WARN, "dashboard", "sync log poll: %s", err ? err : "failed");
		return;
	}
	if (d->stopping || d->closing || !d->streams)
		return;
	if (j->filter.after_id <= 0) {
		/* The first read only learns where the log ends now. */
		d->log_last_id = j->id;
		for (struct stream *s = d->streams; s; s = s->next)
			if (s->after < 0)
				s->after = j->id;
		return;
	}
	json_t *items = json_object_get(j->out, "items");
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		int64_t id = json_integer_value(json_object_get(it, "id"));
		char *text = acs_json_dumps(it, JSON_COMPACT);
		if (!text)
			continue;
		char *ev = acs_xasprintf("event: sync\nid: %" PRId64 "\ndata: %s\n\n", id, text);
		free(text);
		for (struct stream *s = d->streams; s; s = s->next)
			if (s->after >= 0 && id > s->after)
				stream_send(s, ev, strlen(ev));
		free(ev);
		if (id > d->log_last_id)
			d->log_last_id = id;
	}
	/* A full page means more rows wait: read on at once. */
	if (json_array_size(items) >= POLL_ROWS)
		start_poll(d);
}

static void tick_cb(uv_timer_t *t)
{
	struct acs_dashboard *d = acs_container_of(t, struct acs_dashboard, tick);
	uint64_t now = uv_now(d->loop);
	d->ticks++;
	start_poll(d);
	if (now - d->stats_at >= ACS_DASHBOARD_STATS_MS - ACS_DASHBOARD_POLL_MS / 2)
		start_counts(d);
	if (now - d->last_ping >= ACS_DASHBOARD_PING_MS) {
		d->last_ping = now;
		streams_broadcast(d, ": ping\n\n");
	}
}

static void events_cb(struct acs_http_req *req, void *arg)
{
	struct acs_dashboard *d = arg;
	if (!acs_admin_require(d->admin, req, false, NULL))
		return;
	if (d->stopping) {
		reply_error(req, 503, "shutting down", NULL);
		return;
	}
	if (strcmp(acs_http_req_method(req), "HEAD") == 0) {
		/* Headers only: a HEAD must not hold a stream slot open. */
		api_headers(req);
		acs_http_respond(req, 200, "text/event-stream", NULL, 0);
		return;
	}
	if (d->n_streams >= ACS_DASHBOARD_MAX_STREAMS) {
		char detail[64];
		snprintf(detail, sizeof(detail), "at most %d event streams are served at once",
			 ACS_DASHBOARD_MAX_STREAMS);
		acs_http_req_add_header(req, "Retry-After", "5");
		reply_error(req, 503, "too many event streams", detail);
		return;
	}
	api_headers(req);
	acs_http_req_add_header(req, "X-Accel-Buffering", "no");
	if (acs_http_respond_stream_begin(req, 200, "text/event-stream") != 0) {
		acs_http_stream_end(req);
		return;
	}
	struct stream *s = acs_xcalloc(1, sizeof(*s));
	s->d = d;
	s->req = req;
	s->after = d->log_last_id;
	s->next = d->streams;
	d->streams = s;
	d->n_streams++;
	acs_http_req_set_close_cb(req, stream_gone_cb, s);
	static const char hello[] = "retry: 3000\n: connected\n\n";
	stream_send(s, hello, sizeof(hello) - 1);
	uint64_t now = uv_now(d->loop);
	/* Where the log ends is read before the first stats (read jobs run in
	 * order), so a client that saw its first stats event gets every row
	 * written after it. Fresh stats at once: a cached copy when recent. */
	if (s->after < 0)
		start_poll(d);
	if (s->after >= 0 && d->stats_text && now - d->stats_at < ACS_DASHBOARD_STATS_MS)
		stream_send(s, d->stats_text, strlen(d->stats_text));
	else
		start_counts(d);
	if (!uv_is_active((uv_handle_t *)&d->tick)) {
		d->last_ping = now;
		uv_timer_start(&d->tick, tick_cb, ACS_DASHBOARD_POLL_MS, ACS_DASHBOARD_POLL_MS);
	}
}

/* --- lifecycle ------------------------------------------------------------------------- */

struct acs_dashboard *acs_dashboard_new(uv_loop_t *loop, const struct acs_dashboard_opts *o)
{
	struct acs_dashboard *d = acs_xcalloc(1, sizeof(*d));
	d->loop = loop;
	d->cfg = o->cfg;
	d->store = o->store;
	d->admin = o->admin;
	d->log_last_id = -1;
	uv_timer_init(loop, &d->tick);

	static const struct {
		const char *method;
		const char *pattern;
		acs_http_handler_cb cb;
	} routes[] = {
		{ "GET", "/api/dashboard/stats", stats_cb },
		{ "GET", "/api/dashboard/project-maps", maps_list_cb },
		{ "POST", "/api/dashboard/project-maps", map_create_cb },
		{ "GET", "/api/dashboard/project-maps/:id", map_get_cb },
		{ "PUT", "/api/dashboard/project-maps/:id", map_update_cb },
		{ "DELETE", "/api/dashboard/project-maps/:id", map_delete_cb },
		{ "GET", "/api/dashboard/sync-log", log_cb },
		{ "GET", "/api/dashboard/errors", errors_cb },
		{ "POST", "/api/dashboard/errors/retry", errors_retry_cb },
		{ "POST", "/api/dashboard/errors/dismiss", errors_dismiss_cb },
		{ "POST", "/api/dashboard/errors/:id/retry", error_retry_cb },
		{ "POST", "/api/dashboard/errors/:id/dismiss", error_dismiss_cb },
		{ "GET", "/api/dashboard/pickers/ado/projects", ado_projects_cb },
		{ "GET", "/api/dashboard/pickers/ado/area-paths", ado_areas_cb },
		{ "GET", "/api/dashboard/pickers/ado/types", ado_types_cb },
		{ "GET", "/api/dashboard/pickers/clickup/spaces", cu_spaces_cb },
		{ "GET", "/api/dashboard/pickers/clickup/folders", cu_folders_cb },
		{ "GET", "/api/dashboard/pickers/clickup/lists", cu_lists_cb },
		{ "GET", "/api/dashboard/pickers/clickup/statuses", cu_statuses_cb },
		{ "GET", "/api/events", events_cb },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(routes); i++)
		acs_require(acs_http_server_route(o->http, routes[i].method, routes[i].pattern,
						  routes[i].cb, d) == 0);
	return d;
}

/* Every backfill run's progress to the event streams, as GET /api/dashboard/backfill
 * shows it. */
static void backfill_watch(const struct acs_backfill_progress *p, void *arg)
{
	(void)p;
	struct acs_dashboard *d = arg;
	struct acs_backfill *b = d->engine ? acs_engine_backfill(d->engine) : NULL;
	if (!b || d->stopping || d->closing || !d->streams)
		return;
	json_t *j = acs_backfill_progress_json(b);
	char *text = acs_json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!text)
		return;
	char *ev = acs_xasprintf("event: backfill\ndata: %s\n\n", text);
	free(text);
	streams_broadcast(d, ev);
	free(ev);
}

void acs_dashboard_set_engine(struct acs_dashboard *d, struct acs_engine *e)
{
	if (!d || d->stopping)
		return;
	if (d->engine && d->engine != e)
		acs_backfill_set_watch(acs_engine_backfill(d->engine), NULL, NULL);
	d->engine = e;
	if (e)
		acs_backfill_set_watch(acs_engine_backfill(e), backfill_watch, d);
}

void acs_dashboard_stop(struct acs_dashboard *d)
{
	if (!d || d->stopping)
		return;
	d->stopping = true;
	if (d->engine)
		acs_backfill_set_watch(acs_engine_backfill(d->engine), NULL, NULL);
	d->engine = NULL;
	uv_timer_stop(&d->tick);
	while (d->streams) {
		struct stream *s = d->streams;
		unlink_stream(d, s);
		acs_http_req_set_close_cb(s->req, NULL, NULL);
		acs_http_stream_end(s->req);
		free(s);
	}
}

static void tick_closed_cb(uv_handle_t *h)
{
	struct acs_dashboard *d = h->data;
	d->timer_closed = true;
	maybe_free(d);
}

void acs_dashboard_close(struct acs_dashboard *d)
{
	if (!d || d->closing)
		return;
	acs_dashboard_stop(d);
	d->closing = true;
	d->tick.data = d;
	uv_close((uv_handle_t *)&d->tick, tick_closed_cb);
}
