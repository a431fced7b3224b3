/* SPDX-License-Identifier: MIT */
/* Comment mirroring of one pair (see comments.h DESIGN): the store jobs on comment_map and
 * the comment intents, the listing of both sides, and the reconcile walk that creates,
 * updates and deletes mirrors one remote call at a time. */
#include "comments.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "err.h"
#include "html_md.h"
#include "mem.h"
#include "pairs.h"
#include "store.h"

#define CLS ACS_GOVERNOR_INTERACTIVE
/* ADO's largest comment page; ClickUp's fixed page. */
#define ADO_PAGE 200
#define CU_PAGE 25
#define SRC_ADO "Azure DevOps"
#define SRC_CU "ClickUp"

struct acs_comments {
	struct acs_store *st;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	size_t running;
};

/* ------------------------------------------------------------------------ */
/* Pure helpers                                                              */
/* ------------------------------------------------------------------------ */

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* The author's name with the characters that could become inline markup escaped. */
static void append_escaped(struct acs_buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '\n' || *s == '\r') {
			(void)acs_buf_appends(b, " ");
			continue;
		}
		if (strchr("\\`*_[]<>#!|~", *s))
			(void)acs_buf_appends(b, "\\");
		(void)acs_buf_append(b, s, 1);
	}
}

char *acs_comments_mirror_text(const char *author, const char *source, const char *body_md)
{
	struct acs_buf b;
	acs_buf_init(&b, ACS_HTML_MD_MAX_INPUT);
	(void)acs_buf_appends(&b, "**");
	append_escaped(&b, author && *author ? author : "Someone");
	(void)acs_buf_printf(&b, "** (%s):", source);
	if (body_md && *body_md)
		(void)acs_buf_printf(&b, "\n\n%s", body_md);
	char *s = acs_buf_steal(&b, NULL);
	return s ? s : acs_xstrdup("");
}

bool acs_comments_is_mirror(const char *md, const char *source)
{
	if (!md || strncmp(md, "**", 2))
		return false;
	size_t line = strcspn(md, "\n");
	char tail[64];
	int n = snprintf(tail, sizeof(tail), "** (%s):", source);
	if (n <= 0 || (size_t)n >= sizeof(tail) || line < (size_t)n + 2)
		return false;
	return !strncmp(md + line - (size_t)n, tail, (size_t)n);
}

/* Canonical Markdown; the input itself when it cannot be canonicalised. */
static char *canon(const char *md)
{
	char *c = acs_html_md_canonical_markdown(nz(md));
	return c ? c : acs_xstrdup(nz(md));
}

static char *fingerprint(const char *md)
{
	unsigned char h[16];
	crypto_generichash(h, sizeof(h), (const unsigned char *)nz(md), strlen(nz(md)), NULL, 0);
	char hex[2 * sizeof(h) + 1];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return acs_xstrdup(hex);
}

/* ------------------------------------------------------------------------ */
/* Store jobs                                                                */
/* ------------------------------------------------------------------------ */

enum kind {
	K_LOAD,
	K_ROWS,
	K_INTENT_OPEN,
	K_INSERT,
	K_UPDATE,
	K_DELETE,
	K_INTENT_CLOSE
};

struct cintent {
	int64_t id;
	char *source;	 /**< origin side: "ado" | "clickup" */
	char *origin_id; /**< origin comment id */
};

struct sjob;
typedef void (*sjob_done)(struct sjob *j, int rc, const char *err);

struct sjob {
	enum kind kind;
	int64_t now;
	int64_t sync_id, map_id, id, ado_cid;
	char *cu_cid, *origin, *fp, *source, *source_id, *state, *twin;
	/* outputs */
	struct acs_comment_rows *rows;
	struct cintent *intents;
	size_t n_intents;
	int64_t out_id;
	/* completion */
	sjob_done done;
	void *owner;
	acs_comments_rows_cb rows_cb;
	void *rows_arg;
};

static void cintents_free(struct cintent *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].source);
		free(v[i].origin_id);
	}
	free(v);
}

void acs_comment_rows_free(struct acs_comment_rows *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->v[i].clickup_comment_id);
		free(r->v[i].origin);
		free(r->v[i].fingerprint);
	}
	free(r->v);
	free(r);
}

static void sjob_free(struct sjob *j)
{
	free(j->cu_cid);
	free(j->origin);
	free(j->fp);
	free(j->source);
	free(j->source_id);
	free(j->state);
	free(j->twin);
	acs_comment_rows_free(j->rows);
	cintents_free(j->intents, j->n_intents);
	free(j);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? acs_xstrdup((const char *)t) : NULL;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void bind_opt_id(sqlite3_stmt *st, int i, int64_t v)
{
	if (v > 0)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static char *intent_prefix(int64_t sync_id)
{
	return acs_xasprintf("comment:%" PRId64 ":", sync_id);
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, char err[ACS_ERR_LEN])
{
	/* Cached on the connection: these run for every synced pair. */
	return acs_store_cached(db, sql, st, err);
}

static int load_rows(sqlite3 *db, struct sjob *j, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db,
			 "SELECT id, sync_id, ado_comment_id, clickup_comment_id, origin, "
			 "fingerprint FROM comment_map WHERE sync_id = ?1 ORDER BY id",
			 &st, err);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, j->sync_id);
	j->rows = acs_xcalloc(1, sizeof(*j->rows));
	size_t cap = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (j->rows->n == cap) {
			cap = cap ? 2 * cap : 8;
			j->rows->v = acs_xrealloc(j->rows->v, cap * sizeof(*j->rows->v));
		}
		struct acs_comment_row *r = &j->rows->v[j->rows->n++];
		r->id = sqlite3_column_int64(st, 0);
		r->sync_id = sqlite3_column_int64(st, 1);
		r->ado_comment_id = sqlite3_column_int64(st, 2);
		r->clickup_comment_id = col_dup(st, 3);
		r->origin = col_dup(st, 4);
		r->fingerprint = col_dup(st, 5);
	}
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "select comment_map", err);
	sqlite3_reset(st);
	return rc;
}

static int load_intents(sqlite3 *db, struct sjob *j, char err[ACS_ERR_LEN])
{
	char *prefix = intent_prefix(j->sync_id);
	sqlite3_stmt *st = NULL;
	int rc = prepare(db,
			 "SELECT id, source, source_id FROM intent WHERE state = 'open' "
			 "AND substr(source_id, 1, length(?1)) = ?1 ORDER BY id",
			 &st, err);
	if (rc) {
		free(prefix);
		return rc;
	}
	sqlite3_bind_text(st, 1, prefix, -1, SQLITE_TRANSIENT);
	size_t cap = 0, plen = strlen(prefix);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *sid = (const char *)sqlite3_column_text(st, 2);
		if (!sid || strlen(sid) <= plen)
			continue;
		if (j->n_intents == cap) {
			cap = cap ? 2 * cap : 4;
			j->intents = acs_xrealloc(j->intents, cap * sizeof(*j->intents));
		}
		struct cintent *in = &j->intents[j->n_intents++];
		in->id = sqlite3_column_int64(st, 0);
		in->source = col_dup(st, 1);
		in->origin_id = acs_xstrdup(sid + plen);
	}
	rc = rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "select intent", err);
	sqlite3_reset(st);
	free(prefix);
	return rc;
}

/* Run one statement; *changes gets sqlite3_changes (may be NULL). */
static int run_stmt(sqlite3 *db, sqlite3_stmt *st, const char *what, int *changes,
		    char err[ACS_ERR_LEN])
{
	int rc = sqlite3_step(st);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW) {
		rc = 0;
		if (changes)
			*changes = sqlite3_changes(db);
	} else if (rc == SQLITE_CONSTRAINT) {
		snprintf(err, ACS_ERR_LEN, "%s: %s", what, sqlite3_errmsg(db));
		rc = ACS_ECONFLICT;
	} else {
		rc = acs_store_error(db, rc, what, err);
	}
	sqlite3_reset(st);
	return rc;
}

static int close_intent(sqlite3 *db, struct sjob *j, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int rc = prepare(db,
			 "UPDATE intent SET state = ?1, twin_id = coalesce(?2, twin_id), "
			 "updated_at = max(?3, created_at) WHERE id = ?4 AND state = 'open'",
			 &st, err);
	if (rc)
		return rc;
	sqlite3_bind_text(st, 1, j->state ? j->state : "done", -1, SQLITE_TRANSIENT);
	bind_opt_text(st, 2, j->twin);
	sqlite3_bind_int64(st, 3, j->now);
	sqlite3_bind_int64(st, 4, j->id);
	return run_stmt(db, st, "close intent", NULL, err);
}

static int sjob_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sjob *j = arg;
	sqlite3_stmt *st = NULL;
	int rc;
	switch (j->kind) {
	case K_LOAD:
		rc = load_rows(db, j, err);
		return rc ? rc : load_intents(db, j, err);
	case K_ROWS:
		return load_rows(db, j, err);
	case K_INTENT_OPEN:
		/* An open intent of the same comment (an earlier run) is reused. */
		rc = prepare(db,
			     "SELECT id FROM intent WHERE source = ?1 AND source_id = ?2 AND "
			     "state = 'open'",
			     &st, err);
		if (rc)
			return rc;
		sqlite3_bind_text(st, 1, j->source, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, j->source_id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) == SQLITE_ROW)
			j->out_id = sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		if (j->out_id)
			return 0;
		rc = prepare(db,
			     "INSERT INTO intent (map_id, source, source_id, created_at, "
			     "updated_at) VALUES (?1, ?2, ?3, ?4, ?4)",
			     &st, err);
		if (rc)
			return rc;
		bind_opt_id(st, 1, j->map_id);
		sqlite3_bind_text(st, 2, j->source, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 3, j->source_id, -1, SQLITE_TRANSIENT);
		sqlite3_bind_int64(st, 4, j->now);
		rc = run_stmt(db, st, "insert intent", NULL, err);
		if (!rc)
			j->out_id = sqlite3_last_insert_rowid(db);
		return rc;
	case K_INSERT:
		rc = prepare(db,
			     "INSERT INTO comment_map (sync_id, ado_comment_id, "
			     "clickup_comment_id, "
			     "origin, fingerprint, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, "
			     "?5, ?6, ?6)",
			     &st, err);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, j->sync_id);
		bind_opt_id(st, 2, j->ado_cid);
		bind_opt_text(st, 3, j->cu_cid);
		sqlite3_bind_text(st, 4, j->origin, -1, SQLITE_TRANSIENT);
		bind_opt_text(st, 5, j->fp);
		sqlite3_bind_int64(st, 6, j->now);
		rc = run_stmt(db, st, "insert comment_map", NULL, err);
		if (!rc)
			j->out_id = sqlite3_last_insert_rowid(db);
		if (!rc && j->id > 0)
			rc = close_intent(db, j, err);
		return rc;
	case K_UPDATE:
		rc = prepare(db,
			     "UPDATE comment_map SET fingerprint = ?1, updated_at = max(?2, "
			     "created_at) WHERE id = ?3",
			     &st, err);
		if (rc)
			return rc;
		bind_opt_text(st, 1, j->fp);
		sqlite3_bind_int64(st, 2, j->now);
		sqlite3_bind_int64(st, 3, j->id);
		return run_stmt(db, st, "update comment_map", NULL, err);
	case K_DELETE:
		rc = prepare(db, "DELETE FROM comment_map WHERE id = ?1", &st, err);
		if (rc)
			return rc;
		sqlite3_bind_int64(st, 1, j->id);
		return run_stmt(db, st, "delete comment_map", NULL, err);
	case K_INTENT_CLOSE:
		return close_intent(db, j, err);
	}
	return -EINVAL;
}

static void sjob_complete(int rc, const char *err, void *arg)
{
	struct sjob *j = arg;
	if (j->kind == K_ROWS) {
		struct acs_comment_rows *rows = rc ? NULL : j->rows;
		j->rows = NULL;
		j->rows_cb(rc, err, rows, j->rows_arg);
	} else {
		j->done(j, rc, err);
	}
	sjob_free(j);
}

static struct sjob *sjob_new(enum kind kind, sjob_done done, void *owner)
{
	struct sjob *j = acs_xcalloc(1, sizeof(*j));
	j->kind = kind;
	j->done = done;
	j->owner = owner;
	j->now = acs_pairs_now_ms();
	return j;
}

static int sjob_submit(struct acs_store *st, struct sjob *j, bool write)
{
	int rc = write ? acs_store_write(st, sjob_fn, sjob_complete, j)
		       : acs_store_read(st, sjob_fn, sjob_complete, j);
	if (rc)
		sjob_free(j);
	return rc;
}

int acs_comments_rows(struct acs_store *st, int64_t sync_id, acs_comments_rows_cb cb, void *arg)
{
	if (!st || !cb || sync_id <= 0)
		return -EINVAL;
	struct sjob *j = sjob_new(K_ROWS, NULL, NULL);
	j->sync_id = sync_id;
	j->rows_cb = cb;
	j->rows_arg = arg;
	return sjob_submit(st, j, false);
}

/* ------------------------------------------------------------------------ */
/* Reconcile                                                                 */
/* ------------------------------------------------------------------------ */

/* One comment as listed. */
struct citem {
	bool on_ado;
	int64_t ado_id; /**< ADO comment id (on_ado) */
	char *cu_id;	/**< ClickUp comment id (!on_ado) */
	char *md;	/**< canonical Markdown of the body */
	char *author;
	int64_t date;
	bool deleted;
	bool mapped;
	int64_t intent_id; /**< open intent for mirroring it, 0 = none */
};

struct side {
	struct citem *v;
	size_t n, cap;
	bool complete;
	unsigned pages;
};

struct run {
	struct acs_comments *c;
	struct acs_comments_pair p; /**< copied: clickup_id and the id arrays owned */
	acs_comments_log_cb log;
	acs_comments_done_cb done;
	void *arg;
	struct acs_comment_rows *rows;
	struct cintent *intents;
	size_t n_intents;
	struct side ado, cu;
	size_t i_intent, i_row, i_todo;
	struct citem **todo;
	size_t n_todo;
	bool todo_built;
	/* the action in flight */
	struct citem *cur; /**< origin of a create / update */
	struct acs_comment_row *cur_row;
	char *cur_fp;
	char *cur_mirror_id;
	int64_t cur_mirror_ado;
};

static void step(struct run *r);

static void side_clear(struct side *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].cu_id);
		free(s->v[i].md);
		free(s->v[i].author);
	}
	free(s->v);
}

static struct citem *side_add(struct side *s)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 16;
		s->v = acs_xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	struct citem *it = &s->v[s->n++];
	memset(it, 0, sizeof(*it));
	return it;
}

static struct citem *find_ado(struct run *r, int64_t id)
{
	for (size_t i = 0; id && i < r->ado.n; i++)
		if (r->ado.v[i].ado_id == id)
			return &r->ado.v[i];
	return NULL;
}

static struct citem *find_cu(struct run *r, const char *id)
{
	for (size_t i = 0; id && i < r->cu.n; i++)
		if (!strcmp(r->cu.v[i].cu_id, id))
			return &r->cu.v[i];
	return NULL;
}

static void run_free(struct run *r)
{
	free((char *)r->p.clickup_id);
	free((int64_t *)r->p.ado_comment_ids);
	for (size_t i = 0; i < r->p.n_clickup_comment_ids; i++)
		free((char *)r->p.clickup_comment_ids[i]);
	free((char **)r->p.clickup_comment_ids);
	acs_comment_rows_free(r->rows);
	cintents_free(r->intents, r->n_intents);
	side_clear(&r->ado);
	side_clear(&r->cu);
	free(r->todo);
	free(r->cur_fp);
	free(r->cur_mirror_id);
	r->c->running--;
	free(r);
}

static void finish(struct run *r, enum acs_job_outcome outcome, const char *msg)
{
	r->done(outcome, msg, r->arg);
	run_free(r);
}

static void logf_(struct run *r, const char *direction, const char *action, const char *status,
		  const char *fmt, ...) ACS_PRINTF(5, 6);

static void logf_(struct run *r, const char *direction, const char *action, const char *status,
		  const char *fmt, ...)
{
	if (!r->log)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	r->log(direction, action, status, msg, r->arg);
}

static void fail_store(struct run *r, int rc, const char *err, const char *what)
{
	char msg[ACS_ERR_LEN + 64];
	snprintf(msg, sizeof(msg), "%s: %s", what, err ? err : acs_strerror(rc));
	logf_(r, "none", "retry", "retry", "%s", msg);
	finish(r, ACS_JOB_RETRY, msg);
}

/* A failed service call: retryable ones end the run, permanent ones are logged and the
 * walk goes on (*skip set). */
static void fail_call(struct run *r, enum acs_rest_class cls, long status, const char *message,
		      const char *direction, const char *what, bool *skip)
{
	char msg[ACS_ERR_LEN + 128];
	snprintf(msg, sizeof(msg), "%s: %s%s%.0ld%s", what, nz(message), status ? " (HTTP " : "",
		 status, status ? ")" : "");
	if (cls == ACS_REST_PERMANENT) {
		logf_(r, direction, "error", "error", "%s", msg);
		*skip = true;
		return;
	}
	logf_(r, direction, "retry", "retry", "%s", msg);
	*skip = false;
	finish(r, ACS_JOB_RETRY, msg);
}

static void fail_submit(struct run *r, int rc, const char *what)
{
	char msg[ACS_ERR_LEN];
	snprintf(msg, sizeof(msg), "%s: %s", what, acs_strerror(rc));
	logf_(r, "none", "retry", "retry", "%s", msg);
	finish(r, ACS_JOB_RETRY, msg);
}

static const char *dir_of(const struct citem *origin)
{
	return origin->on_ado ? "ado_to_clickup" : "clickup_to_ado";
}

static char *origin_name(const struct citem *it, char buf[32])
{
	if (it->on_ado)
		snprintf(buf, 32, "%" PRId64, it->ado_id);
	else
		snprintf(buf, 32, "%s", it->cu_id);
	return buf;
}

/* The canonical mirror text of an origin comment. */
static char *mirror_md(const struct citem *o)
{
	char *m = acs_comments_mirror_text(o->author, o->on_ado ? SRC_ADO : SRC_CU, o->md);
	char *c = canon(m);
	free(m);
	return c;
}

/* --- store steps --- */

static void on_stored(struct sjob *j, int rc, const char *err)
{
	struct run *r = j->owner;
	if (rc) {
		fail_store(r, rc, err, "comment_map");
		return;
	}
	step(r);
}

static void store_write(struct run *r, struct sjob *j)
{
	int rc = sjob_submit(r->c->st, j, true);
	if (rc)
		fail_submit(r, rc, "comment_map");
}

/* A new row for origin o and its mirror (its ADO or ClickUp id), closing intent. */
static void insert_row(struct run *r, struct citem *o, int64_t ado_cid, const char *cu_cid,
		       int64_t intent_id)
{
	const char *twin = ado_cid ? NULL : cu_cid;
	char twin_ado[32];
	snprintf(twin_ado, sizeof(twin_ado), "%" PRId64, ado_cid);
	if (o->on_ado)
		ado_cid = o->ado_id;
	else
		cu_cid = o->cu_id;
	struct sjob *j = sjob_new(K_INSERT, on_stored, r);
	j->sync_id = r->p.sync_id;
	j->ado_cid = ado_cid;
	j->cu_cid = cu_cid ? acs_xstrdup(cu_cid) : NULL;
	j->origin = acs_xstrdup(o->on_ado ? "ado" : "clickup");
	j->fp = fingerprint(o->md);
	j->id = intent_id;
	j->twin = acs_xstrdup(o->on_ado ? nz(twin) : twin_ado);
	store_write(r, j);
}

static void delete_row(struct run *r, int64_t row_id)
{
	struct sjob *j = sjob_new(K_DELETE, on_stored, r);
	j->id = row_id;
	store_write(r, j);
}

static void close_intent_job(struct run *r, int64_t intent_id, const char *state)
{
	struct sjob *j = sjob_new(K_INTENT_CLOSE, on_stored, r);
	j->id = intent_id;
	j->state = acs_xstrdup(state);
	store_write(r, j);
}

/* --- phase 1: open intents --- */

static bool intent_step(struct run *r)
{
	while (r->i_intent < r->n_intents) {
		struct cintent *in = &r->intents[r->i_intent++];
		bool from_ado = !strcmp(nz(in->source), "ado");
		struct citem *o = from_ado ? find_ado(r, strtoll(in->origin_id, NULL, 10))
					   : find_cu(r, in->origin_id);
		struct side *own = from_ado ? &r->ado : &r->cu;
		if (!o || o->deleted) {
			if (!own->complete)
				continue;
			close_intent_job(r, in->id, "abandoned");
			return true;
		}
		if (o->mapped) {
			close_intent_job(r, in->id, "done");
			return true;
		}
		char *want = mirror_md(o);
		struct side *other = from_ado ? &r->cu : &r->ado;
		struct citem *m = NULL;
		for (size_t i = 0; i < other->n && !m; i++) {
			struct citem *x = &other->v[i];
			if (!x->mapped && !x->deleted && !strcmp(x->md, want))
				m = x;
		}
		free(want);
		if (!m) {
			o->intent_id = in->id; /* reused by the create */
			continue;
		}
		o->mapped = m->mapped = true;
		char b1[32], b2[32];
		logf_(r, dir_of(o), "comment_created", "ok",
		      "adopted mirror %s of comment %s left by an interrupted create",
		      origin_name(m, b1), origin_name(o, b2));
		insert_row(r, o, m->on_ado ? m->ado_id : 0, m->on_ado ? NULL : m->cu_id, in->id);
		return true;
	}
	return false;
}

/* --- phase 2: rows --- */

static void after_remote_delete(struct run *r, bool skip)
{
	(void)skip;
	delete_row(r, r->cur_row->id);
}

static void on_ado_deleted(const struct acs_ado_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK && res->status != 404 && res->error != ACS_ENOTFOUND) {
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "clickup_to_ado",
			  "ADO comment delete", &skip);
		if (skip)
			step(r);
		return;
	}
	after_remote_delete(r, false);
}

static void on_cu_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK && res->status != 404 && res->error != ACS_ENOTFOUND) {
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "ado_to_clickup",
			  "ClickUp comment delete", &skip);
		if (skip)
			step(r);
		return;
	}
	after_remote_delete(r, false);
}

static void updated_ok(struct run *r)
{
	struct sjob *j = sjob_new(K_UPDATE, on_stored, r);
	j->id = r->cur_row->id;
	j->fp = r->cur_fp;
	r->cur_fp = NULL;
	char b[32];
	logf_(r, dir_of(r->cur), "comment_updated", "ok", "comment %s edited: mirror %s updated",
	      origin_name(r->cur, b), r->cur->on_ado ? nz(r->cur_row->clickup_comment_id) : "");
	store_write(r, j);
}

static void on_ado_updated(const struct acs_ado_result *res, struct acs_ado_comment *cm, void *arg)
{
	struct run *r = arg;
	acs_ado_comment_free(cm);
	if (res->cls != ACS_REST_OK) {
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "clickup_to_ado",
			  "ADO comment update", &skip);
		if (skip)
			step(r);
		return;
	}
	updated_ok(r);
}

static void on_cu_updated(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "ado_to_clickup",
			  "ClickUp comment update", &skip);
		if (skip)
			step(r);
		return;
	}
	updated_ok(r);
}

/* Post text (canonical Markdown) to the other side of origin o as an edit of the mirror
 * of row w. */
static int update_mirror(struct run *r, const struct acs_comment_row *w, const struct citem *o)
{
	char *md = mirror_md(o);
	int rc;
	if (o->on_ado) {
		rc = acs_clickup_update_comment(r->c->cu, CLS, w->clickup_comment_id, md, false,
						on_cu_updated, r);
	} else {
		char *html = NULL;
		rc = acs_markdown_to_html(md, strlen(md), &html, NULL);
		if (!rc)
			rc = acs_ado_update_comment(r->c->ado, r->p.ado_id, w->ado_comment_id, html,
						    false, on_ado_updated, r);
		free(html);
	}
	free(md);
	return rc;
}

static bool row_step(struct run *r)
{
	while (r->rows && r->i_row < r->rows->n) {
		struct acs_comment_row *w = &r->rows->v[r->i_row++];
		bool from_ado = !strcmp(nz(w->origin), "ado");
		struct citem *a = find_ado(r, w->ado_comment_id);
		struct citem *c = find_cu(r, w->clickup_comment_id);
		struct citem *o = from_ado ? a : c, *m = from_ado ? c : a;
		bool o_gone = (from_ado ? r->ado.complete : r->cu.complete) && (!o || o->deleted);
		bool m_gone = (from_ado ? r->cu.complete : r->ado.complete) && (!m || m->deleted);
		r->cur_row = w;
		r->cur = o;
		int rc = 0;
		if (o_gone && m_gone) {
			delete_row(r, w->id);
			return true;
		}
		if (o_gone || m_gone) {
			/* Delete the survivor: on ADO when the gone one is on ClickUp. */
			bool on_ado = (o_gone && !from_ado) || (m_gone && from_ado);
			const char *dir = on_ado ? "clickup_to_ado" : "ado_to_clickup";
			if (on_ado)
				logf_(r, dir, "comment_deleted", "ok",
				      "ClickUp comment %s deleted: Azure DevOps comment %" PRId64
				      " deleted",
				      nz(w->clickup_comment_id), w->ado_comment_id);
			else
				logf_(r, dir, "comment_deleted", "ok",
				      "Azure DevOps comment %" PRId64 " deleted: ClickUp comment "
				      "%s deleted",
				      w->ado_comment_id, nz(w->clickup_comment_id));
			if (on_ado)
				rc = acs_ado_delete_comment(r->c->ado, r->p.ado_id,
							    w->ado_comment_id, on_ado_deleted, r);
			else
				rc = acs_clickup_delete_comment(
					r->c->cu, CLS, w->clickup_comment_id, on_cu_deleted, r);
			if (rc)
				fail_submit(r, rc, "comment delete");
			return true;
		}
		if (!o || !m)
			continue; /* a listing cut short: nothing certain about this row */
		char *fp = fingerprint(o->md);
		if (w->fingerprint && !strcmp(fp, w->fingerprint)) {
			free(fp);
			continue;
		}
		free(r->cur_fp);
		r->cur_fp = fp;
		rc = update_mirror(r, w, o);
		if (rc)
			fail_submit(r, rc, "comment update");
		return true;
	}
	return false;
}

/* --- phase 3: creates --- */

static int cmp_todo(const void *x, const void *y)
{
	const struct citem *a = *(struct citem *const *)x, *b = *(struct citem *const *)y;
	if (a->date != b->date)
		return a->date < b->date ? -1 : 1;
	if (a->on_ado != b->on_ado)
		return a->on_ado ? -1 : 1;
	if (a->on_ado)
		return a->ado_id < b->ado_id ? -1 : a->ado_id > b->ado_id;
	return strcmp(a->cu_id, b->cu_id);
}

static void build_todo(struct run *r)
{
	r->todo = acs_xcalloc(r->ado.n + r->cu.n + 1, sizeof(*r->todo));
	struct side *sides[2] = { &r->ado, &r->cu };
	for (size_t s = 0; s < 2; s++) {
		for (size_t i = 0; i < sides[s]->n; i++) {
			struct citem *it = &sides[s]->v[i];
			if (it->mapped || it->deleted)
				continue;
			/* A mirror header naming the other service: ours, never sent back. */
			if (acs_comments_is_mirror(it->md, it->on_ado ? SRC_CU : SRC_ADO))
				continue;
			if (!r->p.copy_existing && it->date < r->p.paired_at)
				continue;
			r->todo[r->n_todo++] = it;
		}
	}
	qsort(r->todo, r->n_todo, sizeof(*r->todo), cmp_todo);
	r->todo_built = true;
}

static void created(struct run *r, int64_t ado_cid, const char *cu_cid)
{
	struct citem *o = r->cur;
	o->mapped = true;
	char b[32];
	if (ado_cid)
		logf_(r, dir_of(o), "comment_created", "ok",
		      "ClickUp comment %s mirrored as Azure DevOps comment %" PRId64,
		      origin_name(o, b), ado_cid);
	else
		logf_(r, dir_of(o), "comment_created", "ok",
		      "Azure DevOps comment %s mirrored as ClickUp comment %s", origin_name(o, b),
		      nz(cu_cid));
	insert_row(r, o, ado_cid, cu_cid, o->intent_id);
}

static void on_ado_created(const struct acs_ado_result *res, struct acs_ado_comment *cm, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		acs_ado_comment_free(cm);
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "clickup_to_ado",
			  "ADO comment create", &skip);
		if (skip)
			step(r);
		return;
	}
	int64_t id = cm->id;
	acs_ado_comment_free(cm);
	created(r, id, NULL);
}

static void on_cu_created(const struct acs_clickup_result *res, struct acs_clickup_comment *cm,
			  void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		acs_clickup_comment_free(cm);
		bool skip = false;
		fail_call(r, res->cls, res->status, res->message, "ado_to_clickup",
			  "ClickUp comment create", &skip);
		if (skip)
			step(r);
		return;
	}
	char *id = acs_xstrdup(cm->id);
	acs_clickup_comment_free(cm);
	created(r, 0, id);
	free(id);
}

static void create_mirror(struct run *r)
{
	struct citem *o = r->cur;
	char *md = mirror_md(o);
	int rc;
	if (o->on_ado) {
		rc = acs_clickup_create_comment(r->c->cu, CLS, r->p.clickup_id, md, false,
						on_cu_created, r);
	} else {
		char *html = NULL;
		rc = acs_markdown_to_html(md, strlen(md), &html, NULL);
		if (!rc)
			rc = acs_ado_create_comment(r->c->ado, r->p.ado_id, html, false,
						    on_ado_created, r);
		free(html);
	}
	free(md);
	if (rc)
		fail_submit(r, rc, "comment create");
}

static void on_intent_opened(struct sjob *j, int rc, const char *err)
{
	struct run *r = j->owner;
	if (rc) {
		fail_store(r, rc, err, "comment intent");
		return;
	}
	r->cur->intent_id = j->out_id;
	create_mirror(r);
}

static bool create_step(struct run *r)
{
	if (!r->todo_built)
		build_todo(r);
	if (r->i_todo >= r->n_todo)
		return false;
	struct citem *o = r->todo[r->i_todo++];
	r->cur = o;
	if (o->intent_id) {
		create_mirror(r);
		return true;
	}
	/* The intent goes first: a crash after the remote create is then recovered by
	 * adopting the mirror instead of posting a second one. */
	struct sjob *j = sjob_new(K_INTENT_OPEN, on_intent_opened, r);
	j->map_id = r->p.map_id;
	j->source = acs_xstrdup(o->on_ado ? "ado" : "clickup");
	char b[32];
	j->source_id = acs_xasprintf("comment:%" PRId64 ":%s", r->p.sync_id, origin_name(o, b));
	store_write(r, j);
	return true;
}

static void step(struct run *r)
{
	if (intent_step(r) || row_step(r) || create_step(r))
		return;
	finish(r, ACS_JOB_DONE, NULL);
}

/* --- listing --- */

static void list_cu(struct run *r, int64_t start, const char *start_id);

static void plan(struct run *r)
{
	for (size_t i = 0; r->rows && i < r->rows->n; i++) {
		struct citem *a = find_ado(r, r->rows->v[i].ado_comment_id);
		struct citem *c = find_cu(r, r->rows->v[i].clickup_comment_id);
		if (a)
			a->mapped = true;
		if (c)
			c->mapped = true;
	}
	step(r);
}

static void on_cu_page(const struct acs_clickup_result *res, struct acs_clickup_comment_page *pg,
		       void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		bool skip = false;
		fail_call(r, res->cls == ACS_REST_PERMANENT ? ACS_REST_RETRYABLE : res->cls,
			  res->status, res->message, "none", "ClickUp comments", &skip);
		acs_clickup_comment_page_free(pg);
		return;
	}
	r->cu.pages++;
	for (size_t i = 0; i < pg->n; i++) {
		const struct acs_clickup_comment *cm = &pg->comments[i];
		if (find_cu(r, cm->id))
			continue; /* pages overlap when comments share a date */
		struct citem *it = side_add(&r->cu);
		it->cu_id = acs_xstrdup(cm->id);
		it->md = canon(cm->text);
		const char *who = cm->user.username && *cm->user.username ? cm->user.username
				  : cm->user.email && *cm->user.email	  ? cm->user.email
									  : "ClickUp user";
		it->author = acs_xstrdup(who);
		it->date = cm->date;
	}
	bool more = pg->n >= CU_PAGE;
	int64_t start = pg->n ? pg->comments[pg->n - 1].date : 0;
	char *start_id = pg->n ? acs_xstrdup(pg->comments[pg->n - 1].id) : NULL;
	acs_clickup_comment_page_free(pg);
	if (more && r->cu.pages < ACS_COMMENTS_MAX_PAGES) {
		list_cu(r, start, start_id);
		free(start_id);
		return;
	}
	free(start_id);
	r->cu.complete = !more;
	plan(r);
}

static void list_cu(struct run *r, int64_t start, const char *start_id)
{
	int rc = acs_clickup_list_comments(r->c->cu, CLS, r->p.clickup_id, start, start_id,
					   on_cu_page, r);
	if (rc)
		fail_submit(r, rc, "ClickUp comments");
}

static void cu_begin(struct run *r)
{
	if (r->p.clickup_known_empty && (!r->rows || !r->rows->n)) {
		r->cu.complete = true;
		plan(r);
		return;
	}
	list_cu(r, 0, NULL);
}

static void list_ado(struct run *r, const char *cont);

static void on_ado_page(const struct acs_ado_result *res, struct acs_ado_comment_list *l, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		bool skip = false;
		fail_call(r, res->cls == ACS_REST_PERMANENT ? ACS_REST_RETRYABLE : res->cls,
			  res->status, res->message, "none", "ADO comments", &skip);
		acs_ado_comment_list_free(l);
		return;
	}
	r->ado.pages++;
	for (size_t i = 0; i < l->n; i++) {
		const struct acs_ado_comment *cm = &l->comments[i];
		if (find_ado(r, cm->id))
			continue;
		struct citem *it = side_add(&r->ado);
		it->on_ado = true;
		it->ado_id = cm->id;
		if (cm->format && !strcmp(cm->format, "markdown")) {
			it->md = canon(cm->text);
		} else if (acs_html_to_markdown(nz(cm->text), strlen(nz(cm->text)), &it->md,
						NULL)) {
			it->md = acs_xstrdup(nz(cm->text));
		}
		const char *who = cm->created_by.display_name  ? cm->created_by.display_name
				  : cm->created_by.unique_name ? cm->created_by.unique_name
							       : "Azure DevOps user";
		it->author = acs_xstrdup(who);
		it->date = cm->created_date_ms;
		it->deleted = cm->is_deleted;
	}
	char *cont = l->continuation_token ? acs_xstrdup(l->continuation_token) : NULL;
	acs_ado_comment_list_free(l);
	if (cont && r->ado.pages < ACS_COMMENTS_MAX_PAGES) {
		list_ado(r, cont);
		free(cont);
		return;
	}
	r->ado.complete = !cont;
	free(cont);
	cu_begin(r);
}

static void list_ado(struct run *r, const char *cont)
{
	int rc =
		acs_ado_list_comments(r->c->ado, r->p.ado_id, ADO_PAGE, cont, true, on_ado_page, r);
	if (rc)
		fail_submit(r, rc, "ADO comments");
}

/* Every comment id the job's events name is one of our mirrors. */
static bool all_mirrors(const struct run *r)
{
	size_t n = r->p.n_ado_comment_ids + r->p.n_clickup_comment_ids;
	if (!n)
		return false;
	for (size_t k = 0; k < r->p.n_ado_comment_ids; k++) {
		bool hit = false;
		for (size_t i = 0; r->rows && i < r->rows->n && !hit; i++)
			hit = r->rows->v[i].ado_comment_id == r->p.ado_comment_ids[k] &&
			      !strcmp(nz(r->rows->v[i].origin), "clickup");
		if (!hit)
			return false;
	}
	for (size_t k = 0; k < r->p.n_clickup_comment_ids; k++) {
		bool hit = false;
		for (size_t i = 0; r->rows && i < r->rows->n && !hit; i++)
			hit = r->rows->v[i].clickup_comment_id &&
			      !strcmp(r->rows->v[i].clickup_comment_id,
				      r->p.clickup_comment_ids[k]) &&
			      !strcmp(nz(r->rows->v[i].origin), "ado");
		if (!hit)
			return false;
	}
	return true;
}

static void on_loaded(struct sjob *j, int rc, const char *err)
{
	struct run *r = j->owner;
	if (rc) {
		fail_store(r, rc, err, "comment_map");
		return;
	}
	r->rows = j->rows;
	j->rows = NULL;
	r->intents = j->intents;
	r->n_intents = j->n_intents;
	j->intents = NULL;
	j->n_intents = 0;
	if (!r->p.force) {
		if (all_mirrors(r)) {
			logf_(r, "none", "echo", "skipped",
			      "comment event(s) of our own mirror comment(s): nothing to do");
			finish(r, ACS_JOB_DONE, NULL);
			return;
		}
		bool rows = r->rows && r->rows->n;
		if (!r->p.n_ado_comment_ids && !r->p.n_clickup_comment_ids && !r->n_intents &&
		    !(r->p.check_rows && rows)) {
			finish(r, ACS_JOB_DONE, NULL);
			return;
		}
	}
	if (r->p.ado_known_empty && (!r->rows || !r->rows->n)) {
		r->ado.complete = true;
		cu_begin(r);
		return;
	}
	list_ado(r, NULL);
}

int acs_comments_sync(struct acs_comments *c, const struct acs_comments_pair *p,
		      acs_comments_log_cb log, acs_comments_done_cb done, void *arg)
{
	if (!c || !p || !done || p->sync_id <= 0 || p->ado_id <= 0 || !p->clickup_id ||
	    !*p->clickup_id)
		return -EINVAL;
	struct run *r = acs_xcalloc(1, sizeof(*r));
	r->c = c;
	r->p = *p;
	r->p.clickup_id = acs_xstrdup(p->clickup_id);
	int64_t *aids = acs_xcalloc(p->n_ado_comment_ids + 1, sizeof(*aids));
	for (size_t i = 0; i < p->n_ado_comment_ids; i++)
		aids[i] = p->ado_comment_ids[i];
	r->p.ado_comment_ids = aids;
	char **cids = acs_xcalloc(p->n_clickup_comment_ids + 1, sizeof(*cids));
	for (size_t i = 0; i < p->n_clickup_comment_ids; i++)
		cids[i] = acs_xstrdup(nz(p->clickup_comment_ids[i]));
	r->p.clickup_comment_ids = (const char *const *)cids;
	r->log = log;
	r->done = done;
	r->arg = arg;
	c->running++;
	struct sjob *j = sjob_new(K_LOAD, on_loaded, r);
	j->sync_id = p->sync_id;
	int rc = sjob_submit(c->st, j, false);
	if (rc) {
		r->done = NULL;
		run_free(r);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

struct acs_comments *acs_comments_new(struct acs_store *st, struct acs_ado_client *ado,
				      struct acs_clickup_client *cu)
{
	if (!st || !ado || !cu)
		return NULL;
	struct acs_comments *c = acs_xcalloc(1, sizeof(*c));
	c->st = st;
	c->ado = ado;
	c->cu = cu;
	return c;
}

void acs_comments_free(struct acs_comments *c)
{
	if (!c)
		return;
	acs_require(c->running == 0);
	free(c);
}

size_t acs_comments_running(const struct acs_comments *c)
{
	return c ? c->running : 0;
}
