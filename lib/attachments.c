/* SPDX-License-Identifier: MIT */
/* Attachment mirroring between the two sides of a pair, streamed through temporary
 * files, with attachment_map as intent log and echo guard, and the periodic scan. */
#include "attachments.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ado_client.h"
#include "app.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "store.h"

#define LOG_MOD "attachments"
#define MAX_LINK_TRIES 3

/* --- value types ------------------------------------------------------------------- */

/* One attachment as a side lists it. */
struct att {
	char *id;     /**< ADO: attachment GUID; ClickUp: "<uuid>.<ext>" */
	char *name;   /**< file name */
	char *url;    /**< where to download it */
	int64_t size; /**< -1 when the listing did not say */
};

struct atts {
	struct att *v;
	size_t n;
	bool have; /**< the list was given or fetched */
};

enum rstate {
	RS_PENDING,
	RS_UPLOADED,
	RS_DONE,
	RS_LINK_PENDING,
	RS_LINKED,
	RS_FAILED
};

static const char *const rstate_names[] = { "pending",	    "uploaded", "done",
					    "link_pending", "linked",	"failed" };

/* One attachment_map row. */
struct row {
	int64_t id;
	char *ado_id; /**< ado_attachment_id or NULL */
	char *ado_url;
	char *cu_id; /**< clickup_attachment_id or NULL */
	char *name;
	int64_t size;  /**< -1 when NULL */
	bool from_ado; /**< origin */
	enum rstate state;
};

/* One file to handle in a job. */
struct work {
	int64_t row_id; /**< 0 until the row is written */
	bool from_ado;	/**< the source side */
	char *src_id;
	char *name;
	char *url;    /**< source download url */
	int64_t size; /**< -1 unknown */
	enum rstate state;
	char *twin_ado_id; /**< RS_UPLOADED: our ADO upload */
	char *twin_ado_url;
};

/* --- the module ----------------------------------------------------------------------- */

struct job;

struct acs_attachments {
	uv_loop_t *loop;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	const struct acs_config *cfg;
	char *tmpdir;
	uv_timer_t timer;
	bool timer_open;
	bool closing;
	struct job *jobs; /**< every job, running or waiting (acs_attachments::jobs) */
	struct acs_attachments_stats stats;
	/* the scan round */
	struct scan *scan;
	unsigned depth; /**< callbacks running: the struct is not freed under them */
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

struct job {
	struct job *next; /**< acs_attachments::jobs */
	struct acs_attachments *a;
	int64_t sync_id, ado_id;
	char *cu_id;
	bool running;
	bool background;
	bool lazy_ado; /**< read the work item only when the task needs copying */
	struct atts ado, cu;
	int64_t ado_rev; /**< 0 unknown */
	struct row *rows;
	size_t n_rows;
	struct work *w;
	size_t n_w, i;
	acs_attachments_done_cb cb;
	void *arg;
	bool retry, failed;
	char msg[ACS_ERR_LEN];
	/* the file in flight */
	uv_fs_t fs;
	uv_file fd;
	crypto_hash_sha256_state sha;
	uint64_t got;
	char sha_hex[crypto_hash_sha256_BYTES * 2 + 1];
	int link_tries;
	void (*then)(struct job *j); /**< what follows the row write in flight */
	/* store round trip arguments and results */
	char db_err[ACS_ERR_LEN];
	int64_t db_row_id;
	enum rstate db_state;
	const char *db_ado_id, *db_ado_url, *db_cu_id; /**< borrowed from the work item */
	bool db_sha;
	int64_t db_size;    /**< -1: keep */
	const char *db_log; /**< sync_log message or NULL */
	int64_t now_ms;
};

/* A scan round. */
struct scan {
	struct acs_attachments *a;
	acs_attachments_scan_cb cb;
	void *arg;
	int64_t since_ms;
	int64_t *sync_ids, *ado_ids;
	char **cu_ids;
	size_t n, i;
	struct acs_ado_work_item_list *items; /**< batch answer for [batch_start, +n) */
	size_t batch_start;
	json_t *task; /**< the current pair's task */
	int rc;
	char msg[ACS_ERR_LEN];
};

static int64_t wall_ms(void)
{
	uv_timeval64_t tv;
	if (uv_gettimeofday(&tv) != 0)
		return 0;
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *xdup(const char *s)
{
	return s ? acs_xstrdup(s) : NULL;
}

static bool streq(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/* --- parsing the sides' lists --------------------------------------------------------- */

static void atts_clear(struct atts *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].id);
		free(l->v[i].name);
		free(l->v[i].url);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void atts_push(struct atts *l, const char *id, const char *name, const char *url,
		      int64_t size)
{
	l->v = acs_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	struct att *t = &l->v[l->n++];
	t->id = acs_xstrdup(id);
	t->name = acs_xstrdup(name && *name ? name : id);
	t->url = acs_xstrdup(url);
	t->size = size;
}

/* The attachment GUID of an ADO url: the path segment after /attachments/. */
static char *attachments_ado_guid(const char *url)
{
	const char *p = url ? strcasestr(url, "/_apis/wit/attachments/") : NULL;
	if (!p)
		return NULL;
	p += strlen("/_apis/wit/attachments/");
	size_t n = strcspn(p, "/?#");
	return n ? acs_xstrndup(p, n) : NULL;
}

static int64_t json_size(const json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) >= 0 ? json_integer_value(v) : -1;
	const char *s = json_string_value(v);
	if (s && *s) {
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (!errno && !*end && x >= 0)
			return x;
	}
	return -1;
}

static void ado_att_add(struct atts *l, const char *rel, const char *url, const json_t *attrs)
{
	if (!rel || strcasecmp(rel, "AttachedFile") != 0 || !url)
		return;
	char *guid = attachments_ado_guid(url);
	if (!guid)
		return;
	const char *name = json_string_value(json_object_get(attrs, "name"));
	atts_push(l, guid, name, url, json_size(json_object_get(attrs, "resourceSize")));
	free(guid);
}

static void atts_from_relations(struct atts *l, const json_t *rels)
{
	size_t i;
	const json_t *r;
	l->have = true;
	json_array_foreach(rels, i, r)
	{
		ado_att_add(l, json_string_value(json_object_get(r, "rel")),
			    json_string_value(json_object_get(r, "url")),
			    json_object_get(r, "attributes"));
	}
}

static void atts_from_work_item(struct atts *l, const struct acs_ado_work_item *wi)
{
	l->have = true;
	for (size_t i = 0; i < wi->n_relations; i++)
		ado_att_add(l, wi->relations[i].rel, wi->relations[i].url,
			    wi->relations[i].attributes);
}

static void atts_from_task(struct atts *l, const json_t *task)
{
	size_t i;
	const json_t *t;
	l->have = true;
	json_array_foreach(json_object_get(task, "attachments"), i, t)
	{
		const json_t *del = json_object_get(t, "deleted");
		if (json_is_true(del) || (json_is_integer(del) && json_integer_value(del)))
			continue;
		const char *id = json_string_value(json_object_get(t, "id"));
		const char *url = json_string_value(json_object_get(t, "url"));
		if (!id || !*id || !url || !*url)
			continue;
		atts_push(l, id, json_string_value(json_object_get(t, "title")), url,
			  json_size(json_object_get(t, "size")));
	}
}

/* --- jobs: lifecycle -------------------------------------------------------------------- */

static void rows_free(struct job *j)
{
	for (size_t i = 0; i < j->n_rows; i++) {
		free(j->rows[i].ado_id);
		free(j->rows[i].ado_url);
		free(j->rows[i].cu_id);
		free(j->rows[i].name);
	}
	free(j->rows);
	j->rows = NULL;
	j->n_rows = 0;
}

static void work_free(struct job *j)
{
	for (size_t i = 0; i < j->n_w; i++) {
		struct work *w = &j->w[i];
		free(w->src_id);
		free(w->name);
		free(w->url);
		free(w->twin_ado_id);
		free(w->twin_ado_url);
	}
	free(j->w);
	j->w = NULL;
	j->n_w = j->i = 0;
}

static void job_free(struct job *j)
{
	rows_free(j);
	work_free(j);
	atts_clear(&j->ado);
	atts_clear(&j->cu);
	free(j->cu_id);
	free(j);
}

static int job_begin(struct job *j);
static void job_finish(struct job *j);
static void job_retry(struct job *j, const char *fmt, ...) ACS_PRINTF(2, 3);
static void maybe_closed(struct acs_attachments *a);

static void job_unlink(struct job *j)
{
	struct acs_attachments *a = j->a;
	for (struct job **pp = &a->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			return;
		}
	}
}

static bool pair_busy(const struct acs_attachments *a, int64_t sync_id)
{
	for (const struct job *j = a->jobs; j; j = j->next)
		if (j->running && j->sync_id == sync_id)
			return true;
	return false;
}

/* Start the oldest waiting job of sync_id, if any. */
static void start_waiting(struct acs_attachments *a, int64_t sync_id)
{
	struct job *first = NULL;
	for (struct job *j = a->jobs; j; j = j->next)
		if (!j->running && j->sync_id == sync_id)
			first = j; /* the list is newest first: keep the last one seen */
	if (first) {
		first->running = true;
		int rc = job_begin(first);
		if (rc) {
			job_retry(first, "store: %s", acs_strerror(rc));
			job_finish(first);
		}
	}
}

/* The end of a job: outcome from its flags, callback, next waiter. */
static void job_finish(struct job *j)
{
	struct acs_attachments *a = j->a;
	enum acs_job_outcome o = j->retry    ? ACS_JOB_RETRY
				 : j->failed ? ACS_JOB_FAILED
					     : ACS_JOB_DONE;
	if (!j->msg[0])
		snprintf(j->msg, sizeof(j->msg), "%s",
			 o == ACS_JOB_DONE ? "attachments in sync" : "attachments not in sync");
	job_unlink(j);
	if (!a->closing)
		start_waiting(a, j->sync_id);
	a->depth++;
	j->cb(o, j->msg, j->arg);
	a->depth--;
	job_free(j);
	maybe_closed(a);
}

static void job_retry(struct job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	j->retry = true;
	acs_log(ACS_LOG_WARN, LOG_MOD, "pair %" PRId64 ": %s", j->sync_id, j->msg);
}

/* --- store jobs (worker threads) --------------------------------------------------------- */

static int sql_err(sqlite3 *db, int rc, const char *what, char err[ACS_ERR_LEN])
{
	return acs_store_error(db, rc, what, err);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? acs_xstrdup((const char *)t) : NULL;
}

static int db_read_rows(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct job *j = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT id, ado_attachment_id, ado_url, clickup_attachment_id,"
				    " file_name, size, origin, state FROM attachment_map"
				    " WHERE sync_id = ?1 ORDER BY id",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "read attachment_map", err);
	sqlite3_bind_int64(st, 1, j->sync_id);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		j->rows = acs_xrealloc(j->rows, (j->n_rows + 1) * sizeof(*j->rows));
		struct row *r = &j->rows[j->n_rows++];
		memset(r, 0, sizeof(*r));
		r->id = sqlite3_column_int64(st, 0);
		r->ado_id = col_text(st, 1);
		r->ado_url = col_text(st, 2);
		r->cu_id = col_text(st, 3);
		r->name = col_text(st, 4);
		if (!r->name)
			r->name = acs_xstrdup("");
		r->size = sqlite3_column_type(st, 5) == SQLITE_NULL ? -1
								    : sqlite3_column_int64(st, 5);
		r->from_ado = streq((const char *)sqlite3_column_text(st, 6), "ado");
		const char *s = (const char *)sqlite3_column_text(st, 7);
		r->state = RS_DONE;
		for (size_t k = 0; s && k < ACS_ARRAY_SIZE(rstate_names); k++)
			if (!strcmp(s, rstate_names[k]))
				r->state = (enum rstate)k;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(db, rc, "read attachment_map", err);
}

static int db_insert_row(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct job *j = arg;
	struct work *w = &j->w[j->i];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO attachment_map (sync_id, ado_attachment_id, "
				    "ado_url,"
				    " clickup_attachment_id, file_name, size, origin, state, "
				    "created_at, updated_at)"
				    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "insert attachment_map", err);
	sqlite3_bind_int64(st, 1, j->sync_id);
	if (w->from_ado) {
		sqlite3_bind_text(st, 2, w->src_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, w->url, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_text(st, 4, w->src_id, -1, SQLITE_STATIC);
	}
	sqlite3_bind_text(st, 5, w->name, -1, SQLITE_STATIC);
	if (w->size >= 0)
		sqlite3_bind_int64(st, 6, w->size);
	sqlite3_bind_text(st, 7, w->from_ado ? "ado" : "clickup", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 8, rstate_names[j->db_state], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 9, j->now_ms);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(db, rc, "insert attachment_map", err);
	j->db_row_id = sqlite3_last_insert_rowid(db);
	return 0;
}

static int db_update_row(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct job *j = arg;
	struct work *w = &j->w[j->i];
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "UPDATE attachment_map SET ado_attachment_id = coalesce(?1, "
				    "ado_attachment_id),"
				    " ado_url = coalesce(?2, ado_url),"
				    " clickup_attachment_id = coalesce(?3, clickup_attachment_id),"
				    " sha256 = coalesce(?4, sha256), size = coalesce(?5, size), "
				    "state = ?6,"
				    " updated_at = max(?7, created_at) WHERE id = ?8",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "update attachment_map", err);
	if (j->db_ado_id)
		sqlite3_bind_text(st, 1, j->db_ado_id, -1, SQLITE_STATIC);
	if (j->db_ado_url)
		sqlite3_bind_text(st, 2, j->db_ado_url, -1, SQLITE_STATIC);
	if (j->db_cu_id)
		sqlite3_bind_text(st, 3, j->db_cu_id, -1, SQLITE_STATIC);
	if (j->db_sha)
		sqlite3_bind_text(st, 4, j->sha_hex, -1, SQLITE_STATIC);
	if (j->db_size >= 0)
		sqlite3_bind_int64(st, 5, j->db_size);
	sqlite3_bind_text(st, 6, rstate_names[j->db_state], -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 7, j->now_ms);
	sqlite3_bind_int64(st, 8, w->row_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return sql_err(db, rc, "update attachment_map", err);
	if (!j->db_log)
		return 0;
	/* The dashboard's history. */
	rc = sqlite3_prepare_v2(db,
				"INSERT INTO sync_log (ts, map_id, sync_id, ado_id, clickup_id,"
				" direction, action, status, message)"
				" SELECT ?1, map_id, id, ado_id, clickup_id, ?2, 'attachment', ?3, "
				"?4"
				" FROM sync_map WHERE id = ?5",
				-1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "insert sync_log", err);
	sqlite3_bind_int64(st, 1, j->now_ms);
	sqlite3_bind_text(st, 2, w->from_ado ? "ado_to_clickup" : "clickup_to_ado", -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(st, 3, j->db_state == RS_FAILED ? "error" : "ok", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, j->db_log, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, j->sync_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(db, rc, "insert sync_log", err);
}

/* --- one file ------------------------------------------------------------------------- */

static void next_item(struct job *j);
static void item_end(struct job *j);
static void upload(struct job *j);
static void link_start(struct job *j);
static void post_link_comment(struct job *j);

static enum acs_governor_class job_cls(const struct job *j)
{
	return j->background ? ACS_GOVERNOR_BACKGROUND : ACS_GOVERNOR_INTERACTIVE;
}

static uint64_t cap_bytes(const struct job *j)
{
	return j->a->cfg->sync.attachment_max_bytes;
}

static void row_written_cb(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	void (*then)(struct job *) = j->then;
	j->then = NULL;
	if (rc < 0) {
		job_retry(j, "store: %s", err ? err : acs_strerror(rc));
		item_end(j);
		return;
	}
	then(j);
}

/* Write the current item's row (the fields set in j->db_*) with state, then then(j). */
static void row_write(struct job *j, enum rstate state, void (*then)(struct job *j))
{
	j->db_state = state;
	j->now_ms = wall_ms();
	j->then = then;
	int rc = acs_store_write(j->a->store, db_update_row, row_written_cb, j);
	if (rc) {
		j->then = NULL;
		job_retry(j, "store: %s", acs_strerror(rc));
		item_end(j);
	}
}

static void db_reset(struct job *j)
{
	j->db_ado_id = j->db_ado_url = j->db_cu_id = NULL;
	j->db_sha = false;
	j->db_size = -1;
	j->db_log = NULL;
}

/* Close the temporary file if one is open, then go on with the next item. */
static void fd_closed_cb(uv_fs_t *req)
{
	struct job *j = acs_container_of(req, struct job, fs);
	uv_fs_req_cleanup(req);
	j->fd = -1;
	j->i++;
	next_item(j);
}

static void item_end(struct job *j)
{
	if (j->fd >= 0) {
		int rc = uv_fs_close(j->a->loop, &j->fs, j->fd, fd_closed_cb);
		if (rc == 0)
			return;
		j->fd = -1;
	}
	j->i++;
	next_item(j);
}

static void item_failed(struct job *j, const char *fmt, ...) ACS_PRINTF(2, 3);
static void item_done_written(struct job *j)
{
	item_end(j);
}

/* A permanent failure of this file: mark the row so it is not retried. */
static void item_failed(struct job *j, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
	va_end(ap);
	j->failed = true;
	j->a->stats.failed++;
	acs_log(ACS_LOG_WARN, LOG_MOD, "pair %" PRId64 ": %s", j->sync_id, j->msg);
	db_reset(j);
	j->db_log = j->msg;
	row_write(j, RS_FAILED, item_done_written);
}

/* Sort a call's failure into retry-the-job or give-up-on-this-file. */
static void call_failed(struct job *j, enum acs_rest_class cls, int error, const char *what,
			const char *message)
{
	if (cls == ACS_REST_PERMANENT && error != ACS_ECANCELED) {
		item_failed(j, "%s \"%s\": %s", what, j->w[j->i].name, message);
		return;
	}
	job_retry(j, "%s \"%s\": %s", what, j->w[j->i].name, message);
	item_end(j);
}

/* -- download ---------------------------------------------------------------------------- */

static void on_bytes(const void *data, size_t len, void *arg)
{
	struct job *j = arg;
	if (!data) {
		crypto_hash_sha256_init(&j->sha);
		j->got = 0;
		return;
	}
	crypto_hash_sha256_update(&j->sha, data, len);
	j->got += len;
}

static void downloaded(struct job *j, enum acs_rest_class cls, int error, const char *message,
		       uint64_t bytes)
{
	struct work *w = &j->w[j->i];
	if (j->a->closing) {
		job_retry(j, "shutting down");
		item_end(j);
		return;
	}
	if (error == ACS_ETOOBIG) {
		/* Bigger than the listing said (or it did not say): a link instead. */
		db_reset(j);
		row_write(j, RS_LINK_PENDING, post_link_comment);
		return;
	}
	if (cls != ACS_REST_OK) {
		call_failed(j, cls, error, "download", message);
		return;
	}
	if (bytes != j->got) {
		job_retry(j, "download \"%s\": %" PRIu64 " bytes written, %" PRIu64 " seen",
			  w->name, bytes, j->got);
		item_end(j);
		return;
	}
	unsigned char digest[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&j->sha, digest);
	sodium_bin2hex(j->sha_hex, sizeof(j->sha_hex), digest, sizeof(digest));
	w->size = (int64_t)bytes;
	/* The row gets the real size and digest before the upload: a crash after the
	 * upload is then recognised by name and size. */
	db_reset(j);
	j->db_sha = true;
	j->db_size = w->size;
	row_write(j, RS_PENDING, upload);
}

static void ado_downloaded_cb(const struct acs_ado_result *res, uint64_t bytes, void *arg)
{
	downloaded(arg, res->cls, res->error, res->message, bytes);
}

static void cu_downloaded_cb(const struct acs_clickup_result *res, uint64_t bytes, void *arg)
{
	downloaded(arg, res->cls, res->error, res->message, bytes);
}

static void download(struct job *j)
{
	struct work *w = &j->w[j->i];
	struct acs_attachments *a = j->a;
	int rc;
	crypto_hash_sha256_init(&j->sha);
	j->got = 0;
	if (w->from_ado)
		rc = acs_ado_download_attachment_to_file(a->ado, job_cls(j), w->url, j->fd,
							 (size_t)cap_bytes(j),
							 ACS_ATTACHMENTS_TRANSFER_TIMEOUT_MS,
							 on_bytes, j, ado_downloaded_cb, j);
	else
		rc = acs_clickup_download_to_file(a->cu, job_cls(j), w->url, j->fd,
						  (size_t)cap_bytes(j),
						  ACS_ATTACHMENTS_TRANSFER_TIMEOUT_MS, on_bytes, j,
						  cu_downloaded_cb, j);
	if (rc == -EINVAL) {
		item_failed(j, "download \"%s\": url refused (%s)", w->name, w->url);
	} else if (rc) {
		job_retry(j, "download \"%s\": %s", w->name, acs_strerror(rc));
		item_end(j);
	}
}

static void tmp_unlinked_cb(uv_fs_t *req)
{
	struct job *j = acs_container_of(req, struct job, fs);
	if (req->result < 0)
		acs_log(ACS_LOG_WARN, LOG_MOD, "cannot remove a temporary file: %s",
			uv_strerror((int)req->result));
	uv_fs_req_cleanup(req);
	download(j);
}

static void tmp_made_cb(uv_fs_t *req)
{
	struct job *j = acs_container_of(req, struct job, fs);
	if (req->result < 0) {
		int err = (int)req->result;
		uv_fs_req_cleanup(req);
		job_retry(j, "temporary file in %s: %s", j->a->tmpdir, uv_strerror(err));
		item_end(j);
		return;
	}
	j->fd = (uv_file)req->result;
	char *path = acs_xstrdup(req->path);
	uv_fs_req_cleanup(req);
	/* Unlinked at once: the open fd keeps the bytes, and a crash leaves no file. */
	int rc = uv_fs_unlink(j->a->loop, &j->fs, path, tmp_unlinked_cb);
	free(path);
	if (rc) {
		acs_log(ACS_LOG_WARN, LOG_MOD, "cannot remove a temporary file: %s",
			uv_strerror(rc));
		download(j);
	}
}

static void transfer(struct job *j)
{
	char *tmpl = acs_xasprintf("%s/.acs-attachment-XXXXXX", j->a->tmpdir);
	int rc = uv_fs_mkstemp(j->a->loop, &j->fs, tmpl, tmp_made_cb);
	free(tmpl);
	if (rc) {
		job_retry(j, "temporary file: %s", uv_strerror(rc));
		item_end(j);
	}
}

/* -- upload ------------------------------------------------------------------------------- */

/* The twin's service refused the size (its own limit is below ours): a link instead. */
static void too_large_for_service(struct job *j)
{
	db_reset(j);
	row_write(j, RS_LINK_PENDING, post_link_comment);
}

static void logged_done(struct job *j, const char *what)
{
	struct work *w = &j->w[j->i];
	snprintf(j->msg, sizeof(j->msg), "%s \"%s\" (%" PRId64 " bytes)", what, w->name, w->size);
	acs_log(ACS_LOG_INFO, LOG_MOD, "pair %" PRId64 ": %s", j->sync_id, j->msg);
	j->db_log = j->msg;
}

static void cu_uploaded_cb(const struct acs_clickup_result *res, struct acs_clickup_attachment *att,
			   void *arg)
{
	struct job *j = arg;
	if (res->cls != ACS_REST_OK || !att) {
		acs_clickup_attachment_free(att);
		if (res->status == 413) {
			too_large_for_service(j);
			return;
		}
		call_failed(j, res->cls, res->error, "upload to ClickUp", res->message);
		return;
	}
	struct work *w = &j->w[j->i];
	free(w->twin_ado_id); /* reused as the twin id holder */
	w->twin_ado_id = acs_xstrdup(att->id);
	acs_clickup_attachment_free(att);
	j->a->stats.to_clickup++;
	db_reset(j);
	j->db_cu_id = w->twin_ado_id;
	logged_done(j, "copied to ClickUp");
	row_write(j, RS_DONE, item_done_written);
}

static void ado_uploaded_cb(const struct acs_ado_result *res, struct acs_ado_attachment_ref *ref,
			    void *arg)
{
	struct job *j = arg;
	if (res->cls != ACS_REST_OK || !ref) {
		acs_ado_attachment_ref_free(ref);
		if (res->status == 413 || strstr(res->type_key, "TooLarge")) {
			too_large_for_service(j);
			return;
		}
		call_failed(j, res->cls, res->error, "upload to Azure DevOps", res->message);
		return;
	}
	struct work *w = &j->w[j->i];
	free(w->twin_ado_id);
	free(w->twin_ado_url);
	w->twin_ado_id = acs_xstrdup(ref->id);
	w->twin_ado_url = acs_xstrdup(ref->url);
	acs_ado_attachment_ref_free(ref);
	w->state = RS_UPLOADED;
	db_reset(j);
	j->db_ado_id = w->twin_ado_id;
	j->db_ado_url = w->twin_ado_url;
	row_write(j, RS_UPLOADED, link_start);
}

static void upload(struct job *j)
{
	struct work *w = &j->w[j->i];
	struct acs_attachments *a = j->a;
	if (a->closing) {
		job_retry(j, "shutting down");
		item_end(j);
		return;
	}
	int rc;
	if (w->from_ado)
		rc = acs_clickup_upload_attachment_file(a->cu, job_cls(j), j->cu_id, w->name, NULL,
							j->fd, 0, (uint64_t)w->size,
							ACS_ATTACHMENTS_TRANSFER_TIMEOUT_MS,
							cu_uploaded_cb, j);
	else
		rc = acs_ado_upload_attachment_file(a->ado, job_cls(j), w->name, j->fd, 0,
						    (uint64_t)w->size,
						    ACS_ATTACHMENTS_TRANSFER_TIMEOUT_MS,
						    ado_uploaded_cb, j);
	if (rc == -EINVAL) {
		item_failed(j, "upload \"%s\": refused by the client", w->name);
	} else if (rc) {
		job_retry(j, "upload \"%s\": %s", w->name, acs_strerror(rc));
		item_end(j);
	}
}

/* -- the AttachedFile relation ------------------------------------------------------------ */

static bool has_relation(const struct acs_ado_work_item *wi, const char *guid)
{
	for (size_t i = 0; i < wi->n_relations; i++) {
		char *g = attachments_ado_guid(wi->relations[i].url);
		bool same = g && wi->relations[i].rel &&
			    !strcasecmp(wi->relations[i].rel, "AttachedFile") &&
			    !strcasecmp(g, guid);
		free(g);
		if (same)
			return true;
	}
	return false;
}

static void linked_cb(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg);

static void link_item_cb(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct job *j = arg;
	struct work *w = &j->w[j->i];
	if (res->cls != ACS_REST_OK || !wi) {
		acs_ado_work_item_free(wi);
		call_failed(j, res->cls, res->error, "read work item for", res->message);
		return;
	}
	j->ado_rev = wi->rev;
	bool present = has_relation(wi, w->twin_ado_id);
	acs_ado_work_item_free(wi);
	if (present) {
		j->a->stats.to_ado++;
		db_reset(j);
		logged_done(j, "copied to Azure DevOps");
		row_write(j, RS_DONE, item_done_written);
		return;
	}
	int rc = acs_ado_add_attachment_relation(j->a->ado, j->ado_id, j->ado_rev, w->twin_ado_url,
						 NULL, linked_cb, j);
	if (rc) {
		job_retry(j, "link \"%s\": %s", w->name, acs_strerror(rc));
		item_end(j);
	}
}

/* Read the item (its rev for the /rev test, and whether the relation is already
 * there: a crash may have come between the PATCH and our row), then link. */
static void link_start(struct job *j)
{
	if (j->a->closing) {
		job_retry(j, "shutting down");
		item_end(j);
		return;
	}
	int rc = acs_ado_get_work_item_cls(j->a->ado, job_cls(j), j->ado_id, link_item_cb, j);
	if (rc) {
		job_retry(j, "read work item %" PRId64 ": %s", j->ado_id, acs_strerror(rc));
		item_end(j);
	}
}

static void linked_cb(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct job *j = arg;
	if (res->cls == ACS_REST_CONFLICT && ++j->link_tries < MAX_LINK_TRIES) {
		/* Someone changed the item between our read and the PATCH: read again. */
		acs_ado_work_item_free(wi);
		link_start(j);
		return;
	}
	if (res->cls != ACS_REST_OK) {
		acs_ado_work_item_free(wi);
		call_failed(j, res->cls == ACS_REST_CONFLICT ? ACS_REST_RETRYABLE : res->cls,
			    res->error, "link", res->message);
		return;
	}
	if (wi)
		j->ado_rev = wi->rev;
	acs_ado_work_item_free(wi);
	j->a->stats.to_ado++;
	db_reset(j);
	logged_done(j, "copied to Azure DevOps");
	row_write(j, RS_DONE, item_done_written);
}

/* -- over the cap: a comment with a link -------------------------------------------------- */

static void comment_posted(struct job *j, enum acs_rest_class cls, int error, const char *message)
{
	if (cls != ACS_REST_OK) {
		call_failed(j, cls, error, "link comment for", message);
		return;
	}
	j->a->stats.linked++;
	db_reset(j);
	logged_done(j, "too large to copy, link posted for");
	row_write(j, RS_LINKED, item_done_written);
}

static void ado_comment_cb(const struct acs_ado_result *res, struct acs_ado_comment *cm, void *arg)
{
	acs_ado_comment_free(cm);
	comment_posted(arg, res->cls, res->error, res->message);
}

static void cu_comment_cb(const struct acs_clickup_result *res, struct acs_clickup_comment *cm,
			  void *arg)
{
	acs_clickup_comment_free(cm);
	comment_posted(arg, res->cls, res->error, res->message);
}

/* HTML-escape s for the ADO comment. */
static char *html_escape(const char *s)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 16);
	for (; *s; s++) {
		const char *rep = *s == '<'   ? "&lt;"
				  : *s == '>' ? "&gt;"
				  : *s == '&' ? "&amp;"
				  : *s == '"' ? "&quot;"
					      : NULL;
		if (rep ? acs_buf_appends(&b, rep) : acs_buf_append(&b, s, 1))
			break;
	}
	return acs_buf_steal(&b, NULL);
}

static void post_link_comment(struct job *j)
{
	struct work *w = &j->w[j->i];
	struct acs_attachments *a = j->a;
	char size[48] = "";
	if (w->size >= 0)
		snprintf(size, sizeof(size), " (%" PRId64 " bytes)", w->size);
	uint64_t cap = cap_bytes(j);
	int rc;
	if (w->from_ado) {
		char *text = acs_xasprintf("Attachment \"%s\"%s was not copied from Azure DevOps: "
					   "it is larger than the %" PRIu64 "-byte limit. %s",
					   w->name, size, cap, w->url);
		rc = acs_clickup_create_comment(a->cu, job_cls(j), j->cu_id, text, false,
						cu_comment_cb, j);
		free(text);
	} else {
		char *name = html_escape(w->name), *url = html_escape(w->url);
		char *html = acs_xasprintf("<p>Attachment <b>%s</b>%s was not copied from ClickUp: "
					   "it is larger than the %" PRIu64 "-byte limit. "
					   "<a href=\"%s\">%s</a></p>",
					   name, size, cap, url, url);
		rc = acs_ado_create_comment(a->ado, j->ado_id, html, false, ado_comment_cb, j);
		free(name);
		free(url);
		free(html);
	}
	if (rc) {
		job_retry(j, "link comment: %s", acs_strerror(rc));
		item_end(j);
	}
}

/* -- the item loop ------------------------------------------------------------------------ */

static void row_inserted_cb(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	struct work *w = &j->w[j->i];
	if (rc == ACS_ECONFLICT) {
		/* Another job recorded it in the meantime: theirs. */
		item_end(j);
		return;
	}
	if (rc < 0) {
		job_retry(j, "store: %s", err ? err : acs_strerror(rc));
		item_end(j);
		return;
	}
	w->row_id = j->db_row_id;
	if (w->state == RS_LINK_PENDING)
		post_link_comment(j);
	else
		transfer(j);
}

static void item_start(struct job *j)
{
	struct work *w = &j->w[j->i];
	j->link_tries = 0;
	if (!w->row_id) {
		/* Known too large from the listing: no download at all. */
		w->state = w->size >= 0 && (uint64_t)w->size > cap_bytes(j) ? RS_LINK_PENDING
									    : RS_PENDING;
		j->db_state = w->state;
		j->now_ms = wall_ms();
		int rc = acs_store_write(j->a->store, db_insert_row, row_inserted_cb, j);
		if (rc) {
			job_retry(j, "store: %s", acs_strerror(rc));
			item_end(j);
		}
		return;
	}
	switch (w->state) {
	case RS_UPLOADED:
		link_start(j);
		break;
	case RS_LINK_PENDING:
		post_link_comment(j);
		break;
	default:
		transfer(j);
		break;
	}
}

static void next_item(struct job *j)
{
	/* A retryable failure ends the job: the service is likely to fail the next file
	 * too, and the caller tries again later. */
	if (j->retry || j->i >= j->n_w) {
		job_finish(j);
		return;
	}
	if (j->a->closing) {
		job_retry(j, "shutting down");
		job_finish(j);
		return;
	}
	item_start(j);
}

/* --- planning ---------------------------------------------------------------------------- */

static bool known(const struct job *j, bool ado_side, const char *id)
{
	for (size_t i = 0; i < j->n_rows; i++) {
		const char *r = ado_side ? j->rows[i].ado_id : j->rows[i].cu_id;
		if (r && (ado_side ? !strcasecmp(r, id) : !strcmp(r, id)))
			return true;
	}
	return false;
}

static struct work *work_add(struct job *j)
{
	j->w = acs_xrealloc(j->w, (j->n_w + 1) * sizeof(*j->w));
	struct work *w = &j->w[j->n_w++];
	memset(w, 0, sizeof(*w));
	return w;
}

/* The twin side's attachment no row knows with this name and size, or NULL. */
static struct att *orphan_twin(struct job *j, const struct row *r, bool *taken)
{
	const struct atts *l = r->from_ado ? &j->cu : &j->ado;
	for (size_t i = 0; i < l->n; i++) {
		struct att *t = &l->v[i];
		if (taken[i] || known(j, !r->from_ado, t->id) || strcmp(t->name, r->name) != 0)
			continue;
		if (r->size >= 0 && t->size >= 0 && r->size != t->size)
			continue;
		taken[i] = true;
		return t;
	}
	return NULL;
}

/* Adopt a twin found after a crash: record it, no upload. */
static void adopt_written_cb(int rc, const char *err, void *arg);

struct adopt {
	struct job *j;
	int64_t row_id;
	bool twin_ado;
	char *twin_id, *twin_url;
	int64_t now_ms;
	struct adopt *next;
};

static int db_adopt(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct adopt *ad = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    ad->twin_ado ? "UPDATE attachment_map SET ado_attachment_id = "
						   "?1, ado_url = ?2,"
						   " state = 'done', updated_at = max(?3, "
						   "created_at) WHERE id = ?4"
						 : "UPDATE attachment_map SET "
						   "clickup_attachment_id = ?1,"
						   " state = 'done', updated_at = max(?3, "
						   "created_at) WHERE id = ?4",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "adopt attachment", err);
	sqlite3_bind_text(st, 1, ad->twin_id, -1, SQLITE_STATIC);
	if (ad->twin_ado)
		sqlite3_bind_text(st, 2, ad->twin_url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, ad->now_ms);
	sqlite3_bind_int64(st, 4, ad->row_id);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(db, rc, "adopt attachment", err);
}

static void adopt_free(struct adopt *ad)
{
	free(ad->twin_id);
	free(ad->twin_url);
	free(ad);
}

static void run_items(struct job *j);

/* Adoptions are written one after the other (a chain through adopt::next). */
static void adopt_next(struct job *j, struct adopt *ad)
{
	if (!ad) {
		run_items(j);
		return;
	}
	int rc = acs_store_write(j->a->store, db_adopt, adopt_written_cb, ad);
	if (rc) {
		while (ad) {
			struct adopt *n = ad->next;
			adopt_free(ad);
			ad = n;
		}
		job_retry(j, "store: %s", acs_strerror(rc));
		job_finish(j);
	}
}

static void adopt_written_cb(int rc, const char *err, void *arg)
{
	struct adopt *ad = arg;
	struct job *j = ad->j;
	struct adopt *next = ad->next;
	if (rc < 0) {
		while (ad) {
			struct adopt *n = ad->next;
			adopt_free(ad);
			ad = n;
		}
		job_retry(j, "store: %s", err ? err : acs_strerror(rc));
		job_finish(j);
		return;
	}
	j->a->stats.adopted++;
	acs_log(ACS_LOG_INFO, LOG_MOD,
		"pair %" PRId64 ": found the copy of an interrupted transfer on %s: %s", j->sync_id,
		ad->twin_ado ? "Azure DevOps" : "ClickUp", ad->twin_id);
	adopt_free(ad);
	adopt_next(j, next);
}

static void run_items(struct job *j)
{
	j->i = 0;
	next_item(j);
}

/* Decide what to do from the rows and both lists. */
static void plan(struct job *j)
{
	bool *taken_ado = acs_xcalloc(j->ado.n + 1, sizeof(bool));
	bool *taken_cu = acs_xcalloc(j->cu.n + 1, sizeof(bool));
	struct adopt *adopts = NULL, **tail = &adopts;

	/* 1. Rows whose transfer did not finish. */
	for (size_t i = 0; i < j->n_rows; i++) {
		struct row *r = &j->rows[i];
		if (r->state != RS_PENDING && r->state != RS_UPLOADED &&
		    r->state != RS_LINK_PENDING)
			continue;
		/* The source still listed? (Gone meanwhile: nothing to copy any more.) */
		const struct atts *src = r->from_ado ? &j->ado : &j->cu;
		const char *src_id = r->from_ado ? r->ado_id : r->cu_id;
		const struct att *s = NULL;
		for (size_t k = 0; src_id && k < src->n; k++)
			if (r->from_ado ? !strcasecmp(src->v[k].id, src_id)
					: !strcmp(src->v[k].id, src_id))
				s = &src->v[k];
		if (r->state == RS_PENDING) {
			struct att *t = orphan_twin(j, r, r->from_ado ? taken_cu : taken_ado);
			if (t) {
				struct adopt *ad = acs_xcalloc(1, sizeof(*ad));
				ad->j = j;
				ad->row_id = r->id;
				ad->twin_ado = !r->from_ado;
				ad->twin_id = acs_xstrdup(t->id);
				ad->twin_url = acs_xstrdup(t->url);
				ad->now_ms = wall_ms();
				*tail = ad;
				tail = &ad->next;
				/* Known from now on (also for step 2). */
				char **twin = ad->twin_ado ? &r->ado_id : &r->cu_id;
				free(*twin);
				*twin = acs_xstrdup(t->id);
				continue;
			}
		}
		if (!s)
			continue;
		struct work *w = work_add(j);
		w->row_id = r->id;
		w->from_ado = r->from_ado;
		w->src_id = acs_xstrdup(s->id);
		w->name = acs_xstrdup(s->name);
		w->url = acs_xstrdup(s->url);
		w->size = s->size >= 0 ? s->size : r->size;
		w->state = r->state;
		if (r->state == RS_UPLOADED) {
			w->twin_ado_id = xdup(r->ado_id);
			w->twin_ado_url = xdup(r->ado_url);
			if (!w->twin_ado_id || !w->twin_ado_url)
				w->state = RS_PENDING;
		}
	}
	/* 2. Attachments no row knows: new on that side. */
	for (size_t k = 0; k < j->ado.n; k++) {
		struct att *t = &j->ado.v[k];
		if (taken_ado[k] || known(j, true, t->id))
			continue;
		struct work *w = work_add(j);
		w->from_ado = true;
		w->src_id = acs_xstrdup(t->id);
		w->name = acs_xstrdup(t->name);
		w->url = acs_xstrdup(t->url);
		w->size = t->size;
	}
	for (size_t k = 0; k < j->cu.n; k++) {
		struct att *t = &j->cu.v[k];
		if (taken_cu[k] || known(j, false, t->id))
			continue;
		struct work *w = work_add(j);
		w->from_ado = false;
		w->src_id = acs_xstrdup(t->id);
		w->name = acs_xstrdup(t->name);
		w->url = acs_xstrdup(t->url);
		w->size = t->size;
	}
	free(taken_ado);
	free(taken_cu);
	adopt_next(j, adopts);
}

/* --- fetching what the caller did not give ------------------------------------------------ */

static void fetch(struct job *j);

static void got_item_cb(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct job *j = arg;
	if (res->cls != ACS_REST_OK || !wi) {
		acs_ado_work_item_free(wi);
		if (res->cls == ACS_REST_PERMANENT && res->error != ACS_ECANCELED)
			j->failed = true;
		else
			j->retry = true;
		snprintf(j->msg, sizeof(j->msg), "read work item %" PRId64 ": %s", j->ado_id,
			 res->message);
		job_finish(j);
		return;
	}
	atts_from_work_item(&j->ado, wi);
	j->ado_rev = wi->rev;
	acs_ado_work_item_free(wi);
	fetch(j);
}

static void got_task_cb(const struct acs_clickup_result *res, struct acs_clickup_task *t,
			const json_t *json, void *arg)
{
	struct job *j = arg;
	acs_clickup_task_free(t);
	if (res->cls != ACS_REST_OK || !json) {
		if (res->cls == ACS_REST_PERMANENT && res->error != ACS_ECANCELED)
			j->failed = true;
		else
			j->retry = true;
		snprintf(j->msg, sizeof(j->msg), "read task %s: %s", j->cu_id, res->message);
		job_finish(j);
		return;
	}
	atts_from_task(&j->cu, json);
	fetch(j);
}

/* A lazy job goes on only when the task has a file no row knows, or a copy is unfinished
 * (its adoption needs the twin side's list). */
static bool task_needs_copying(const struct job *j)
{
	for (size_t i = 0; i < j->n_rows; i++)
		if (j->rows[i].state == RS_PENDING || j->rows[i].state == RS_UPLOADED ||
		    j->rows[i].state == RS_LINK_PENDING)
			return true;
	for (size_t k = 0; k < j->cu.n; k++)
		if (!known(j, false, j->cu.v[k].id))
			return true;
	return false;
}

static void fetch(struct job *j)
{
	int rc = 0;
	if (j->a->closing) {
		job_retry(j, "shutting down");
		job_finish(j);
		return;
	}
	if (!j->ado.have && j->lazy_ado && !task_needs_copying(j)) {
		job_finish(j); /* nothing of the task to copy: no call at all */
		return;
	}
	if (!j->ado.have)
		rc = acs_ado_get_work_item_cls(j->a->ado, job_cls(j), j->ado_id, got_item_cb, j);
	else if (!j->cu.have)
		rc = acs_clickup_get_task_json(j->a->cu, job_cls(j), j->cu_id, got_task_cb, j);
	else
		plan(j);
	if (rc) {
		job_retry(j, "fetch: %s", acs_strerror(rc));
		job_finish(j);
	}
}

static void rows_read_cb(int rc, const char *err, void *arg)
{
	struct job *j = arg;
	if (rc < 0) {
		job_retry(j, "store: %s", err ? err : acs_strerror(rc));
		job_finish(j);
		return;
	}
	fetch(j);
}

static int job_begin(struct job *j)
{
	return acs_store_read(j->a->store, db_read_rows, rows_read_cb, j);
}

static struct job *job_new(struct acs_attachments *a, int64_t sync_id, int64_t ado_id,
			   const char *clickup_id, acs_attachments_done_cb cb, void *arg)
{
	struct job *j = acs_xcalloc(1, sizeof(*j));
	j->a = a;
	j->sync_id = sync_id;
	j->ado_id = ado_id;
	j->cu_id = acs_xstrdup(clickup_id);
	j->cb = cb;
	j->arg = arg;
	j->fd = -1;
	return j;
}

/* Queue j, starting it unless its pair is busy. Returns 0, or the store's error (j is
 * then freed and its callback never runs). */
static int job_add(struct job *j)
{
	struct acs_attachments *a = j->a;
	if (!pair_busy(a, j->sync_id)) {
		int rc = job_begin(j);
		if (rc) {
			job_free(j);
			return rc;
		}
		j->running = true;
	}
	j->next = a->jobs;
	a->jobs = j;
	return 0;
}

/* --- public: one pair -------------------------------------------------------------------- */

/* With copying disabled the answer still comes from the loop. */
struct idle_done {
	uv_idle_t idle;
	acs_attachments_done_cb cb;
	void *arg;
};

static void idle_done_closed(uv_handle_t *h)
{
	free(acs_container_of((uv_idle_t *)h, struct idle_done, idle));
}

static void idle_done_cb(uv_idle_t *h)
{
	struct idle_done *d = acs_container_of(h, struct idle_done, idle);
	uv_idle_stop(h);
	d->cb(ACS_JOB_DONE, "attachments are not copied (attachment_max_bytes = 0)", d->arg);
	uv_close((uv_handle_t *)h, idle_done_closed);
}

int acs_attachments_sync_pair(struct acs_attachments *a, int64_t sync_id, int64_t ado_id,
			      const char *clickup_id, const json_t *ado_relations,
			      const json_t *cu_task, acs_attachments_done_cb cb, void *arg)
{
	if (!a || !cb || sync_id <= 0 || ado_id <= 0 || !clickup_id || !*clickup_id)
		return -EINVAL;
	if (a->closing)
		return ACS_ECLOSED;
	if (!a->cfg->sync.attachment_max_bytes) {
		struct idle_done *d = acs_xcalloc(1, sizeof(*d));
		d->cb = cb;
		d->arg = arg;
		uv_idle_init(a->loop, &d->idle);
		uv_idle_start(&d->idle, idle_done_cb);
		return 0;
	}
	struct job *j = job_new(a, sync_id, ado_id, clickup_id, cb, arg);
	if (ado_relations)
		atts_from_relations(&j->ado, ado_relations);
	if (cu_task)
		atts_from_task(&j->cu, cu_task);
	return job_add(j);
}

int acs_attachments_sync_task(struct acs_attachments *a, int64_t sync_id, int64_t ado_id,
			      const char *clickup_id, const json_t *cu_task,
			      acs_attachments_done_cb cb, void *arg)
{
	if (!cu_task)
		return -EINVAL;
	if (!a || !cb || sync_id <= 0 || ado_id <= 0 || !clickup_id || !*clickup_id)
		return -EINVAL;
	if (a->closing)
		return ACS_ECLOSED;
	if (!a->cfg->sync.attachment_max_bytes)
		return acs_attachments_sync_pair(a, sync_id, ado_id, clickup_id, NULL, cu_task, cb,
						 arg);
	struct job *j = job_new(a, sync_id, ado_id, clickup_id, cb, arg);
	j->lazy_ado = true;
	atts_from_task(&j->cu, cu_task);
	return job_add(j);
}

/* --- the scan ------------------------------------------------------------------------------- */

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->cu_ids[i]);
	free(s->cu_ids);
	free(s->sync_ids);
	free(s->ado_ids);
	acs_ado_work_item_list_free(s->items);
	json_decref(s->task);
	free(s);
}

static void scan_end(struct scan *s)
{
	struct acs_attachments *a = s->a;
	a->scan = NULL;
	a->stats.scans++;
	a->stats.scanning = false;
	if (s->rc && s->rc != ACS_ECLOSED)
		acs_log(ACS_LOG_WARN, LOG_MOD, "scan: %s", s->msg);
	if (s->cb)
		s->cb(s->rc, s->rc ? s->msg : "", s->arg);
	scan_free(s);
	maybe_closed(a);
}

static int db_scan_pairs(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct scan *s = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT id, ado_id, clickup_id FROM sync_map"
				    " WHERE state = 'active' AND updated_at >= ?1"
				    " ORDER BY updated_at DESC, id LIMIT ?2",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_err(db, rc, "read sync_map", err);
	sqlite3_bind_int64(st, 1, s->since_ms);
	sqlite3_bind_int(st, 2, ACS_ATTACHMENTS_SCAN_MAX_PAIRS);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		s->sync_ids = acs_xrealloc(s->sync_ids, (s->n + 1) * sizeof(*s->sync_ids));
		s->ado_ids = acs_xrealloc(s->ado_ids, (s->n + 1) * sizeof(*s->ado_ids));
		s->cu_ids = acs_xrealloc(s->cu_ids, (s->n + 1) * sizeof(*s->cu_ids));
		s->sync_ids[s->n] = sqlite3_column_int64(st, 0);
		s->ado_ids[s->n] = sqlite3_column_int64(st, 1);
		s->cu_ids[s->n] = col_text(st, 2);
		s->n++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : sql_err(db, rc, "read sync_map", err);
}

static void scan_next(struct scan *s);

static void scan_fail(struct scan *s, int rc, const char *fmt, ...) ACS_PRINTF(3, 4);
static void scan_fail(struct scan *s, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->msg, sizeof(s->msg), fmt, ap);
	va_end(ap);
	s->rc = rc;
	scan_end(s);
}

/* A pair's job ended; its failures were logged by the job and the next round tries
 * again. */
static void scan_pair_done(enum acs_job_outcome outcome, const char *message, void *arg)
{
	struct scan *s = arg;
	(void)outcome;
	(void)message;
	s->i++;
	scan_next(s);
}

/* The batch item of ado_id, or NULL (deleted items are left out of the answer). */
static const struct acs_ado_work_item *batch_item(const struct scan *s, int64_t ado_id)
{
	for (size_t k = 0; s->items && k < s->items->n; k++)
		if (s->items->items[k].id == ado_id)
			return &s->items->items[k];
	return NULL;
}

static void scan_task_cb(const struct acs_clickup_result *res, struct acs_clickup_task *t,
			 const json_t *json, void *arg)
{
	struct scan *s = arg;
	struct acs_attachments *a = s->a;
	acs_clickup_task_free(t);
	if (a->closing) {
		scan_fail(s, ACS_ECLOSED, "shutting down");
		return;
	}
	const struct acs_ado_work_item *wi = batch_item(s, s->ado_ids[s->i]);
	if (res->cls != ACS_REST_OK || !json || !wi) {
		/* A pair whose task or item is gone is the syncer's business. */
		s->i++;
		scan_next(s);
		return;
	}
	if (pair_busy(a, s->sync_ids[s->i])) {
		s->i++;
		scan_next(s);
		return;
	}
	struct job *j =
		job_new(a, s->sync_ids[s->i], s->ado_ids[s->i], s->cu_ids[s->i], scan_pair_done, s);
	j->background = true;
	atts_from_work_item(&j->ado, wi);
	j->ado_rev = wi->rev;
	atts_from_task(&j->cu, json);
	int rc = job_add(j);
	if (rc)
		scan_fail(s, rc, "store: %s", acs_strerror(rc));
}

static void scan_items_cb(const struct acs_ado_result *res, struct acs_ado_work_item_list *list,
			  void *arg)
{
	struct scan *s = arg;
	if (res->cls != ACS_REST_OK || !list) {
		acs_ado_work_item_list_free(list);
		scan_fail(s, res->error ? res->error : ACS_EHTTP, "read work items: %s",
			  res->message);
		return;
	}
	s->items = list;
	scan_next(s);
}

static void scan_next(struct scan *s)
{
	struct acs_attachments *a = s->a;
	if (a->closing) {
		scan_fail(s, ACS_ECLOSED, "shutting down");
		return;
	}
	if (s->i >= s->n) {
		scan_end(s);
		return;
	}
	int64_t left = acs_clickup_client_budget_left(a->cu);
	if (left >= 0 && left < ACS_ATTACHMENTS_SCAN_MIN_BUDGET) {
		a->stats.scan_stopped++;
		acs_log(ACS_LOG_INFO, LOG_MOD,
			"scan stopped after %zu of %zu pairs: ClickUp budget low (%" PRId64 ")",
			s->i, s->n, left);
		scan_end(s);
		return;
	}
	int rc;
	/* Work items are read 200 at a time, ahead of the tasks. */
	if (!s->items || s->i >= s->batch_start + ACS_ADO_MAX_BATCH) {
		acs_ado_work_item_list_free(s->items);
		s->items = NULL;
		s->batch_start = s->i;
		size_t n = ACS_MIN((size_t)ACS_ADO_MAX_BATCH, s->n - s->i);
		rc = acs_ado_get_work_items_cls(a->ado, ACS_GOVERNOR_BACKGROUND, s->ado_ids + s->i,
						n, NULL, 0, scan_items_cb, s);
		if (rc)
			scan_fail(s, rc, "read work items: %s", acs_strerror(rc));
		return;
	}
	rc = acs_clickup_get_task_json(a->cu, ACS_GOVERNOR_BACKGROUND, s->cu_ids[s->i],
				       scan_task_cb, s);
	if (rc)
		scan_fail(s, rc, "read task: %s", acs_strerror(rc));
}

static void scan_pairs_cb(int rc, const char *err, void *arg)
{
	struct scan *s = arg;
	if (rc < 0) {
		scan_fail(s, rc, "store: %s", err ? err : acs_strerror(rc));
		return;
	}
	scan_next(s);
}

int acs_attachments_scan(struct acs_attachments *a, acs_attachments_scan_cb cb, void *arg)
{
	if (a->closing)
		return ACS_ECLOSED;
	if (a->scan)
		return -EBUSY;
	struct scan *s = acs_xcalloc(1, sizeof(*s));
	s->a = a;
	s->cb = cb;
	s->arg = arg;
	s->since_ms = wall_ms() - (int64_t)a->cfg->sync.attachment_scan_days * 86400000;
	int rc = acs_store_read(a->store, db_scan_pairs, scan_pairs_cb, s);
	if (rc) {
		free(s);
		return rc;
	}
	a->scan = s;
	a->stats.scanning = true;
	return 0;
}

static void timer_cb(uv_timer_t *t)
{
	struct acs_attachments *a = acs_container_of(t, struct acs_attachments, timer);
	if (a->closing || a->scan || !a->cfg->sync.attachment_max_bytes)
		return;
	int rc = acs_attachments_scan(a, NULL, NULL);
	if (rc)
		acs_log(ACS_LOG_WARN, LOG_MOD, "scan not started: %s", acs_strerror(rc));
}

int acs_attachments_start(struct acs_attachments *a)
{
	if (a->closing)
		return ACS_ECLOSED;
	uint64_t every = a->cfg->sync.sweep_interval_ms ? a->cfg->sync.sweep_interval_ms : 300000;
	uint64_t first = ACS_MIN((uint64_t)ACS_ATTACHMENTS_FIRST_SCAN_MS, every);
	return uv_timer_start(&a->timer, timer_cb, first, every);
}

/* --- lifecycle ------------------------------------------------------------------------------ */

struct acs_attachments *acs_attachments_new(uv_loop_t *loop, struct acs_store *store,
					    struct acs_ado_client *ado,
					    struct acs_clickup_client *cu,
					    const struct acs_config *cfg, char err[ACS_ERR_LEN])
{
	if (!loop || !store || !ado || !cu || !cfg) {
		snprintf(err, ACS_ERR_LEN,
			 "attachments: loop, store, clients and config are required");
		return NULL;
	}
	if (sodium_init() < 0) {
		snprintf(err, ACS_ERR_LEN, "attachments: libsodium initialisation failed");
		return NULL;
	}
	struct acs_attachments *a = acs_xcalloc(1, sizeof(*a));
	a->loop = loop;
	a->store = store;
	a->ado = ado;
	a->cu = cu;
	a->cfg = cfg;
	char path[4096], perr[ACS_ERR_LEN];
	if (cfg->database.url &&
	    acs_app_db_path(cfg->database.url, path, sizeof(path), perr) == 0 &&
	    strcmp(path, ":memory:") != 0) {
		char *slash = strrchr(path, '/');
		if (slash == path)
			a->tmpdir = acs_xstrdup("/");
		else if (slash)
			a->tmpdir = acs_xstrndup(path, (size_t)(slash - path));
		else
			a->tmpdir = acs_xstrdup(".");
	} else {
		const char *t = getenv("TMPDIR");
		a->tmpdir = acs_xstrdup(t && *t ? t : "/tmp");
	}
	uv_timer_init(loop, &a->timer);
	a->timer_open = true;
	return a;
}

void acs_attachments_stats(const struct acs_attachments *a, struct acs_attachments_stats *out)
{
	*out = a->stats;
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct acs_attachments *a =
		acs_container_of((uv_timer_t *)h, struct acs_attachments, timer);
	a->timer_open = false;
	maybe_closed(a);
}

static void maybe_closed(struct acs_attachments *a)
{
	if (!a->closing || a->jobs || a->scan || a->timer_open || a->depth)
		return;
	void (*cb)(void *) = a->closed_cb;
	void *arg = a->closed_arg;
	free(a->tmpdir);
	free(a);
	if (cb)
		cb(arg);
}

void acs_attachments_close(struct acs_attachments *a, void (*cb)(void *arg), void *arg)
{
	if (!a || a->closing)
		return;
	a->closing = true;
	a->closed_cb = cb;
	a->closed_arg = arg;
	/* Jobs waiting behind a busy pair never started: they end now. Running ones
	 * stop at their next step. The close callback of the timer comes from the loop,
	 * so nothing below calls back before this returns. */
	struct job **pp = &a->jobs;
	while (*pp) {
		struct job *j = *pp;
		if (j->running) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		j->cb(ACS_JOB_RETRY, "shutting down", j->arg);
		job_free(j);
	}
	uv_close((uv_handle_t *)&a->timer, timer_closed_cb);
}
