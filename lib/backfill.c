/* SPDX-License-Identifier: MIT */
/* Backfill of one mapping (see backfill.h DESIGN): the matching rules, one run at a time
 * from listing to the last inbox row worked, the dashboard routes and the command. */
#include "backfill.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <unistd.h>

#include "admin.h"
#include "ado_client.h"
#include "app.h"
#include "clickup_client.h"
#include "config.h"
#include "curl_loop.h"
#include "engine.h"
#include "err.h"
#include "governor.h"
#include "http_server.h"
#include "inbox.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "scheduler.h"
#include "store.h"
#include "sweep.h"
#include "syncer.h"

/* How often the syncing phase looks at its inbox rows. */
#define POLL_MS 500
/* Items left alone are logged one by one up to this many per run. */
#define MAX_LOGGED 50
/* Plain (non-terminal) progress lines at most this often. */
#define PLAIN_EVERY_MS 5000
/* Longest task id kept from a URL. */
#define TASK_ID_MAX 64

/* ------------------------------------------------------------------------ */
/* Matching rules (pure)                                                     */
/* ------------------------------------------------------------------------ */

const char *acs_backfill_kind_name(enum acs_backfill_kind k)
{
	static const char *const names[] = { "already",		"pair_link",  "pair_title",
					     "create_clickup",	"create_ado", "ambiguous",
					     "linked_elsewhere" };
	return (size_t)k < ACS_ARRAY_SIZE(names) ? names[k] : "?";
}

/* The digits right after the first occurrence of needle (case-insensitive) in url. */
static int64_t id_after(const char *url, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = url; *p; p++) {
		if (strncasecmp(p, needle, n))
			continue;
		const char *d = p + n;
		int64_t v = 0;
		size_t k = 0;
		for (; d[k] >= '0' && d[k] <= '9' && k < 18; k++)
			v = v * 10 + (d[k] - '0');
		if (k && !(d[k] >= '0' && d[k] <= '9'))
			return v;
	}
	return 0;
}

int64_t acs_backfill_ado_id_of_url(const char *url)
{
	static const char *const needles[] = { "/_workitems/edit/", "/workitems/", "?id=", "&id=" };
	if (!url)
		return 0;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(needles); i++) {
		int64_t v = id_after(url, needles[i]);
		if (v > 0)
			return v;
	}
	return 0;
}

static bool id_char(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       c == '_' || c == '-';
}

bool acs_backfill_task_id_of_url(const char *url, char *out, size_t n)
{
	const char *p = url ? strstr(url, "/t/") : NULL;
	if (!p || !n)
		return false;
	p += 3;
	/* "/t/<id>" or "/t/<team id>/<id>": the last segment before the query. */
	const char *seg = p, *last = NULL;
	size_t last_len = 0;
	for (;;) {
		size_t len = 0;
		while (id_char(seg[len]))
			len++;
		if (!len)
			break;
		last = seg;
		last_len = len;
		if (seg[len] != '/')
			break;
		seg += len + 1;
	}
	if (!last || last_len >= n)
		return false;
	memcpy(out, last, last_len);
	out[last_len] = '\0';
	return true;
}

/* One back-link edge between work item a and task t. */
struct edge {
	size_t a, t;
};

static int edge_cmp(const void *x, const void *y)
{
	const struct edge *p = x, *q = y;
	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	return p->t < q->t ? -1 : p->t > q->t;
}

/* Index sorted by id, for look-ups by the ids that back-links name. */
struct ado_ix {
	int64_t id;
	size_t i;
};

static int ado_ix_cmp(const void *x, const void *y)
{
	const struct ado_ix *p = x, *q = y;
	return p->id < q->id ? -1 : p->id > q->id;
}

struct task_ix {
	const char *id;
	size_t i;
};

static int task_ix_cmp(const void *x, const void *y)
{
	return strcmp(((const struct task_ix *)x)->id, ((const struct task_ix *)y)->id);
}

/* One item in the title grouping. */
struct title_ent {
	const char *title;
	int side; /**< 0 ADO, 1 ClickUp */
	size_t i;
};

static int title_cmp(const void *x, const void *y)
{
	const struct title_ent *p = x, *q = y;
	int c = strcmp(p->title, q->title);
	if (c)
		return c;
	if (p->side != q->side)
		return p->side - q->side;
	return p->i < q->i ? -1 : p->i > q->i;
}

/* Per-item decision while planning. */
struct decision {
	int kind; /**< enum acs_backfill_kind, or -1 while undecided */
	size_t partner;
	unsigned degree;
	bool elsewhere; /**< a back-link names something paired or not listed */
};

void acs_backfill_plan_make(const struct acs_backfill_ado *ado, size_t n_ado,
			    const struct acs_backfill_task *tasks, size_t n_tasks,
			    struct acs_backfill_plan *out)
{
	memset(out, 0, sizeof(*out));
	struct decision *da = acs_xcalloc(n_ado + 1, sizeof(*da));
	struct decision *dt = acs_xcalloc(n_tasks + 1, sizeof(*dt));
	struct ado_ix *aix = acs_xcalloc(n_ado + 1, sizeof(*aix));
	struct task_ix *tix = acs_xcalloc(n_tasks + 1, sizeof(*tix));
	for (size_t i = 0; i < n_ado; i++) {
		da[i].kind = ado[i].paired ? ACS_BACKFILL_ALREADY : -1;
		aix[i].id = ado[i].id;
		aix[i].i = i;
	}
	for (size_t i = 0; i < n_tasks; i++) {
		dt[i].kind = tasks[i].paired ? ACS_BACKFILL_ALREADY : -1;
		tix[i].id = tasks[i].id ? tasks[i].id : "";
		tix[i].i = i;
	}
	qsort(aix, n_ado, sizeof(*aix), ado_ix_cmp);
	qsort(tix, n_tasks, sizeof(*tix), task_ix_cmp);

	/* Back-link edges among the unpaired. */
	struct edge *edges = NULL;
	size_t n_edges = 0, cap = 0;
	for (size_t i = 0; i < n_ado; i++) {
		if (da[i].kind >= 0)
			continue;
		for (size_t k = 0; k < ado[i].n_links; k++) {
			char tid[TASK_ID_MAX];
			if (!acs_backfill_task_id_of_url(ado[i].links[k], tid, sizeof(tid)))
				continue;
			struct task_ix key = { tid, 0 };
			struct task_ix *hit =
				bsearch(&key, tix, n_tasks, sizeof(*tix), task_ix_cmp);
			if (!hit || tasks[hit->i].paired) {
				da[i].elsewhere = true;
				continue;
			}
			if (n_edges == cap) {
				cap = cap ? cap * 2 : 16;
				edges = acs_xrealloc(edges, cap * sizeof(*edges));
			}
			edges[n_edges++] = (struct edge){ i, hit->i };
		}
	}
	for (size_t i = 0; i < n_tasks; i++) {
		if (dt[i].kind >= 0 || !tasks[i].footer)
			continue;
		struct ado_ix key = { acs_backfill_ado_id_of_url(tasks[i].footer), 0 };
		struct ado_ix *hit = key.id ? bsearch(&key, aix, n_ado, sizeof(*aix), ado_ix_cmp)
					    : NULL;
		if (!hit || ado[hit->i].paired) {
			dt[i].elsewhere = true;
			continue;
		}
		if (n_edges == cap) {
			cap = cap ? cap * 2 : 16;
			edges = acs_xrealloc(edges, cap * sizeof(*edges));
		}
		edges[n_edges++] = (struct edge){ hit->i, i };
	}
	/* Both directions of one link are one edge. */
	if (n_edges)
		qsort(edges, n_edges, sizeof(*edges), edge_cmp);
	size_t u = 0;
	for (size_t i = 0; i < n_edges; i++)
		if (!u || edge_cmp(&edges[u - 1], &edges[i]))
			edges[u++] = edges[i];
	n_edges = u;
	for (size_t i = 0; i < n_edges; i++) {
		da[edges[i].a].degree++;
		dt[edges[i].t].degree++;
	}
	for (size_t i = 0; i < n_edges; i++) {
		struct decision *a = &da[edges[i].a], *t = &dt[edges[i].t];
		if (a->degree == 1 && t->degree == 1 && !a->elsewhere && !t->elsewhere) {
			a->kind = t->kind = ACS_BACKFILL_PAIR_LINK;
			a->partner = edges[i].t;
			t->partner = edges[i].a;
		}
	}
	for (size_t i = 0; i < n_ado; i++)
		if (da[i].kind < 0 && (da[i].degree || da[i].elsewhere))
			da[i].kind = da[i].degree ? ACS_BACKFILL_AMBIGUOUS
						  : ACS_BACKFILL_LINKED_ELSEWHERE;
	for (size_t i = 0; i < n_tasks; i++)
		if (dt[i].kind < 0 && (dt[i].degree || dt[i].elsewhere))
			dt[i].kind = dt[i].degree ? ACS_BACKFILL_AMBIGUOUS
						  : ACS_BACKFILL_LINKED_ELSEWHERE;
	free(edges);

	/* Exact titles among the rest; items mid-create keep their create. */
	struct title_ent *te = acs_xcalloc(n_ado + n_tasks + 1, sizeof(*te));
	size_t nt = 0;
	for (size_t i = 0; i < n_ado; i++)
		if (da[i].kind < 0 && !ado[i].intent_id && ado[i].title && ado[i].title[0])
			te[nt++] = (struct title_ent){ ado[i].title, 0, i };
	for (size_t i = 0; i < n_tasks; i++)
		if (dt[i].kind < 0 && !tasks[i].intent_id && tasks[i].title && tasks[i].title[0])
			te[nt++] = (struct title_ent){ tasks[i].title, 1, i };
	qsort(te, nt, sizeof(*te), title_cmp);
	for (size_t g = 0; g < nt;) {
		size_t end = g, na = 0, nc = 0;
		while (end < nt && !strcmp(te[end].title, te[g].title)) {
			if (te[end].side == 0)
				na++;
			else
				nc++;
			end++;
		}
		if (na == 1 && nc == 1) {
			da[te[g].i].kind = dt[te[g + 1].i].kind = ACS_BACKFILL_PAIR_TITLE;
			da[te[g].i].partner = te[g + 1].i;
			dt[te[g + 1].i].partner = te[g].i;
		} else if (na && nc) {
			for (size_t k = g; k < end; k++)
				(te[k].side ? dt : da)[te[k].i].kind = ACS_BACKFILL_AMBIGUOUS;
		}
		g = end;
	}
	free(te);

	out->steps = acs_xcalloc(n_ado + n_tasks + 1, sizeof(*out->steps));
	for (size_t i = 0; i < n_ado; i++) {
		struct acs_backfill_step *s = &out->steps[out->n++];
		s->kind = da[i].kind < 0 ? ACS_BACKFILL_CREATE_CLICKUP
					 : (enum acs_backfill_kind)da[i].kind;
		s->ado = i;
		s->task = ACS_BACKFILL_NONE;
		if (s->kind == ACS_BACKFILL_PAIR_LINK || s->kind == ACS_BACKFILL_PAIR_TITLE)
			s->task = da[i].partner;
		out->count[s->kind]++;
	}
	for (size_t i = 0; i < n_tasks; i++) {
		if (dt[i].kind == ACS_BACKFILL_PAIR_LINK || dt[i].kind == ACS_BACKFILL_PAIR_TITLE)
			continue; /* in its work item's step */
		struct acs_backfill_step *s = &out->steps[out->n++];
		s->kind = dt[i].kind < 0 ? ACS_BACKFILL_CREATE_ADO
					 : (enum acs_backfill_kind)dt[i].kind;
		s->ado = ACS_BACKFILL_NONE;
		s->task = i;
		out->count[s->kind]++;
	}
	free(da);
	free(dt);
	free(aix);
	free(tix);
}

void acs_backfill_plan_deinit(struct acs_backfill_plan *p)
{
	if (!p)
		return;
	free(p->steps);
	memset(p, 0, sizeof(*p));
}

/* ------------------------------------------------------------------------ */
/* Run state                                                                 */
/* ------------------------------------------------------------------------ */

/* A listed work item: what the planner and the inbox row need. */
struct item_a {
	int64_t id, rev, changed;
	char *title;
	char **links;
	size_t n_links;
	char *body; /**< the synthetic delivery */
};

struct item_t {
	char *id, *url, *title, *footer;
	int64_t updated;
	char *body_upd, *body_new; /**< taskUpdated / taskCreated deliveries */
};

/* What the database says about pairs and create intents (a read job). */
struct intent_row {
	char *source, *source_id;
	int64_t id;
};

struct state_job {
	const char *map_name; /**< in */
	int64_t map_id;	      /**< out: project_map.id by name, 0 = none */
	int64_t *ado;	      /**< sorted paired ADO ids */
	size_t n_ado;
	char **cu; /**< sorted paired task ids */
	size_t n_cu;
	struct intent_row *intents;
	size_t n_intents;
};

/* The rows of a run as stored now (a read job). */
struct row_state {
	char *key;
	char state[16];
};

struct poll_job {
	char lo[48], hi[48]; /**< in: key range of the run's rows */
	struct row_state *rows;
	size_t n;
};

enum step_state {
	ST_NEW = 0,
	ST_QUEUED,
	ST_FINAL,
	ST_FAILED,
	ST_CONFLICT
};

/* A planned step and what came of it. */
struct run_step {
	enum acs_backfill_kind kind;
	size_t a, t;
	bool ado_wins; /**< pairs: whose event is queued */
	char *key;     /**< the inbox row that carries its work */
	enum step_state st;
};

struct acs_backfill;

/* One inbox insert in flight. */
struct ins {
	struct acs_inbox_insert job;
	struct acs_backfill *b;
	char *event_key, *item_key;
};

/* One pair insert in flight. */
struct pair_op {
	struct acs_backfill *b;
	size_t step;
};

struct acs_backfill {
	uv_loop_t *loop;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	const struct acs_config *cfg;
	struct acs_syncer *syncer;	  /**< borrowed: its mappings, when set */
	const struct acs_config *run_cfg; /**< held for the run (b->map points into it) */
	acs_backfill_kick_cb kick;
	void *kick_arg;
	uv_timer_t timer; /**< polls the syncing phase */
	bool timer_open, closing;
	unsigned inflight; /**< calls and store jobs not yet answered */
	void (*closed_cb)(void *arg);
	void *closed_arg;

	/* the current or last run */
	bool running, dry_run, polling;
	char *map_name;
	const struct acs_config_map *map;
	const char *phase;
	int rc;
	char err[ACS_ERR_LEN];
	acs_backfill_progress_cb progress;
	acs_backfill_done_cb done;
	void *cb_arg;
	/* every run's progress, whoever started it (the dashboard's event streams) */
	acs_backfill_progress_cb watch;
	void *watch_arg;
	/* mappings waiting for the run in flight (acs_backfill_enqueue), in order */
	char **queue;
	size_t n_queue;
	struct acs_backfill_progress pg; /**< counters (strings set on read) */
	uint64_t phase_start_ms;	 /**< loop time the current phase began */

	int64_t map_id;
	int64_t *ids; /**< WIQL answer */
	size_t n_ids, pos;
	unsigned page;
	struct item_a *a;
	size_t n_a, cap_a;
	struct item_t *t;
	size_t n_t, cap_t;
	struct state_job state;
	struct run_step *steps;
	size_t n_steps;
	struct poll_job poll;
	size_t logged;
	bool kicked, polled_once;
	uint64_t extra;	     /**< rows of earlier runs still open at the first poll */
	uint64_t extra_open; /**< of those, still open now */
};

static void end_run(struct acs_backfill *b);
static void maybe_free(struct acs_backfill *b);

static void fail(struct acs_backfill *b, int rc, const char *what, const char *msg)
{
	if (b->rc)
		return;
	b->rc = rc ? rc : ACS_EHTTP;
	snprintf(b->err, sizeof(b->err), "%s: %s", what, msg && msg[0] ? msg : acs_strerror(rc));
}

/* Called by every callback first: false when the run must stop (then it ends as soon as
 * nothing it started is in flight). */
static bool carry_on(struct acs_backfill *b)
{
	acs_require(b->inflight > 0);
	b->inflight--;
	if (b->closing && !b->rc)
		fail(b, ACS_ECLOSED, "backfill", "closing");
	if (!b->rc)
		return true;
	if (!b->inflight)
		end_run(b);
	return false;
}

static void set_phase(struct acs_backfill *b, const char *phase)
{
	b->phase = phase;
	b->phase_start_ms = uv_now(b->loop);
	acs_log(ACS_LOG_INFO, "backfill", "backfill %s: %s", b->map_name, phase);
}

static void fill_progress(const struct acs_backfill *b, struct acs_backfill_progress *out)
{
	*out = b->pg;
	out->running = b->running;
	out->dry_run = b->dry_run;
	out->map = b->map_name;
	out->phase = b->phase ? b->phase : "idle";
	out->error = b->rc ? b->err : NULL;
	out->rate = 0;
	out->eta_s = -1;
	uint64_t now = b->loop ? uv_now(b->loop) : 0;
	double secs = (double)(now - b->phase_start_ms) / 1000.0;
	if (b->running && secs > 0.2 && out->done) {
		out->rate = (double)out->done / secs;
		if (out->total >= out->done && out->rate > 0)
			out->eta_s = (int64_t)((double)(out->total - out->done) / out->rate + 0.5);
	}
}

static void report(struct acs_backfill *b)
{
	if (!b->progress && !b->watch)
		return;
	struct acs_backfill_progress p;
	fill_progress(b, &p);
	if (b->watch)
		b->watch(&p, b->watch_arg);
	if (b->progress)
		b->progress(&p, b->cb_arg);
}

void acs_backfill_get_progress(const struct acs_backfill *b, struct acs_backfill_progress *out)
{
	fill_progress(b, out);
}

json_t *acs_backfill_progress_json(const struct acs_backfill *b)
{
	struct acs_backfill_progress p;
	memset(&p, 0, sizeof(p));
	p.phase = "idle";
	p.eta_s = -1;
	if (b)
		fill_progress(b, &p);
	json_t *o = json_pack("{s:b, s:s?, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			      "s:I, s:I, s:I, s:f, s:I, s:b, s:s?}",
			      "running", p.running, "map", p.map, "phase", p.phase, "done",
			      (json_int_t)p.done, "total", (json_int_t)p.total, "created_ado",
			      (json_int_t)p.created_ado, "created_clickup",
			      (json_int_t)p.created_clickup, "paired", (json_int_t)p.paired,
			      "paired_link", (json_int_t)p.paired_link, "paired_title",
			      (json_int_t)p.paired_title, "already", (json_int_t)p.already,
			      "ambiguous", (json_int_t)p.ambiguous, "linked_elsewhere",
			      (json_int_t)p.linked_elsewhere, "failed", (json_int_t)p.failed,
			      "ado_items", (json_int_t)p.ado_items, "rate", p.rate, "eta_s",
			      (json_int_t)p.eta_s, "dry_run", p.dry_run, "error", p.error);
	acs_require(o != NULL);
	json_object_set_new(o, "clickup_tasks", json_integer((json_int_t)p.clickup_tasks));
	if (p.eta_s < 0)
		json_object_set_new(o, "eta_s", json_null());
	return o;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void state_free(struct state_job *j)
{
	free(j->ado);
	strv_free(j->cu, j->n_cu);
	for (size_t i = 0; i < j->n_intents; i++) {
		free(j->intents[i].source);
		free(j->intents[i].source_id);
	}
	free(j->intents);
	const char *name = j->map_name;
	memset(j, 0, sizeof(*j));
	j->map_name = name;
}

static void poll_free(struct poll_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->rows[i].key);
	free(j->rows);
	j->rows = NULL;
	j->n = 0;
}

/* Free what a run holds (not its counters: the dashboard keeps showing them). */
static void run_clear(struct acs_backfill *b)
{
	free(b->ids);
	b->ids = NULL;
	b->n_ids = b->pos = 0;
	for (size_t i = 0; i < b->n_a; i++) {
		free(b->a[i].title);
		strv_free(b->a[i].links, b->a[i].n_links);
		free(b->a[i].body);
	}
	free(b->a);
	b->a = NULL;
	b->n_a = b->cap_a = 0;
	for (size_t i = 0; i < b->n_t; i++) {
		struct item_t *t = &b->t[i];
		free(t->id);
		free(t->url);
		free(t->title);
		free(t->footer);
		free(t->body_upd);
		free(t->body_new);
	}
	free(b->t);
	b->t = NULL;
	b->n_t = b->cap_t = 0;
	state_free(&b->state);
	for (size_t i = 0; i < b->n_steps; i++)
		free(b->steps[i].key);
	free(b->steps);
	b->steps = NULL;
	b->n_steps = 0;
	poll_free(&b->poll);
}

/* ------------------------------------------------------------------------ */
/* Store jobs                                                                */
/* ------------------------------------------------------------------------ */

static int i64_cmp(const void *x, const void *y)
{
	int64_t p = *(const int64_t *)x, q = *(const int64_t *)y;
	return p < q ? -1 : p > q;
}

static int str_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return acs_xstrdup(t ? (const char *)t : "");
}

static int state_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct state_job *j = arg;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = sqlite3_prepare_v2(db, "SELECT ado_id, clickup_id FROM sync_map", -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "reading pairs", err);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (j->n_ado == cap) {
			cap = cap ? cap * 2 : 256;
			j->ado = acs_xrealloc(j->ado, cap * sizeof(*j->ado));
			j->cu = acs_xrealloc(j->cu, cap * sizeof(*j->cu));
		}
		j->ado[j->n_ado++] = sqlite3_column_int64(st, 0);
		j->cu[j->n_cu++] = col_dup(st, 1);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return acs_store_error(db, r, "reading pairs", err);
	r = sqlite3_prepare_v2(db,
			       "SELECT id, source, source_id FROM intent WHERE state = 'open'"
			       " ORDER BY id",
			       -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "reading intents", err);
	cap = 0;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (j->n_intents == cap) {
			cap = cap ? cap * 2 : 16;
			j->intents = acs_xrealloc(j->intents, cap * sizeof(*j->intents));
		}
		struct intent_row *in = &j->intents[j->n_intents++];
		in->id = sqlite3_column_int64(st, 0);
		in->source = col_dup(st, 1);
		in->source_id = col_dup(st, 2);
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return acs_store_error(db, r, "reading intents", err);
	r = sqlite3_prepare_v2(db, "SELECT id FROM project_map WHERE name = ?1", -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "reading mappings", err);
	sqlite3_bind_text(st, 1, j->map_name ? j->map_name : "", -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW)
		j->map_id = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	if (r != SQLITE_ROW && r != SQLITE_DONE)
		return acs_store_error(db, r, "reading mappings", err);
	if (j->n_ado) {
		qsort(j->ado, j->n_ado, sizeof(*j->ado), i64_cmp);
		qsort(j->cu, j->n_cu, sizeof(*j->cu), str_cmp);
	}
	return 0;
}

static bool ado_paired(const struct state_job *j, int64_t id)
{
	return j->n_ado && bsearch(&id, j->ado, j->n_ado, sizeof(*j->ado), i64_cmp);
}

static bool task_paired(const struct state_job *j, const char *id)
{
	return j->n_cu && bsearch(&id, j->cu, j->n_cu, sizeof(*j->cu), str_cmp);
}

static int64_t intent_of(const struct state_job *j, const char *source, const char *id)
{
	for (size_t i = 0; i < j->n_intents; i++)
		if (!strcmp(j->intents[i].source, source) && !strcmp(j->intents[i].source_id, id))
			return j->intents[i].id;
	return 0;
}

static int poll_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct poll_job *j = arg;
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int r = sqlite3_prepare_v2(db,
				   "SELECT event_key, state FROM inbox WHERE event_key >= ?1"
				   " AND event_key < ?2 ORDER BY event_key",
				   -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "reading backfill rows", err);
	sqlite3_bind_text(st, 1, j->lo, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, j->hi, -1, SQLITE_STATIC);
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		if (j->n == cap) {
			cap = cap ? cap * 2 : 256;
			j->rows = acs_xrealloc(j->rows, cap * sizeof(*j->rows));
		}
		struct row_state *row = &j->rows[j->n++];
		row->key = col_dup(st, 0);
		const unsigned char *s = sqlite3_column_text(st, 1);
		snprintf(row->state, sizeof(row->state), "%s", s ? (const char *)s : "");
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : acs_store_error(db, r, "reading backfill rows", err);
}

static int row_cmp(const void *x, const void *y)
{
	return strcmp(((const struct row_state *)x)->key, ((const struct row_state *)y)->key);
}

/* ------------------------------------------------------------------------ */
/* Syncing: wait for the run's rows                                          */
/* ------------------------------------------------------------------------ */

static void verified_cb(int rc, const char *err, void *arg)
{
	struct acs_backfill *b = acs_container_of(arg, struct acs_backfill, state);
	if (!carry_on(b))
		return;
	if (rc < 0) {
		fail(b, rc, "reading pairs", err);
		end_run(b);
		return;
	}
	/* Creates are counted by what exists now: a twin made, and its pair recorded. */
	b->pg.created_ado = b->pg.created_clickup = 0;
	for (size_t i = 0; i < b->n_steps; i++) {
		const struct run_step *s = &b->steps[i];
		if (s->kind == ACS_BACKFILL_CREATE_CLICKUP && ado_paired(&b->state, b->a[s->a].id))
			b->pg.created_clickup++;
		else if (s->kind == ACS_BACKFILL_CREATE_ADO &&
			 task_paired(&b->state, b->t[s->t].id))
			b->pg.created_ado++;
	}
	end_run(b);
}

static bool row_open(const struct row_state *r)
{
	return !strcmp(r->state, "pending") || !strcmp(r->state, "processing");
}

static int key_cmp(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Rows of the mapping's earlier (interrupted) runs that are still open: the run waits
 * for them too, so it never ends with a pair whose first sync is still queued. */
static uint64_t other_open(const struct acs_backfill *b)
{
	char **keys = acs_xcalloc(b->n_steps + 1, sizeof(*keys));
	size_t n = 0;
	for (size_t i = 0; i < b->n_steps; i++)
		if (b->steps[i].key)
			keys[n++] = b->steps[i].key;
	if (n)
		qsort(keys, n, sizeof(*keys), key_cmp);
	uint64_t open = 0;
	for (size_t i = 0; i < b->poll.n; i++) {
		const char *k = b->poll.rows[i].key;
		if (row_open(&b->poll.rows[i]) &&
		    !(n && bsearch(&k, keys, n, sizeof(*keys), key_cmp)))
			open++;
	}
	free(keys);
	return open;
}

static void tally(struct acs_backfill *b)
{
	uint64_t done = 0, failed = 0, cu = 0, ad = 0;
	for (size_t i = 0; i < b->n_steps; i++) {
		struct run_step *s = &b->steps[i];
		if (s->st == ST_QUEUED && s->key) {
			struct row_state key = { s->key, "" };
			struct row_state *hit = b->poll.n ? bsearch(&key, b->poll.rows, b->poll.n,
								    sizeof(key), row_cmp)
							  : NULL;
			if (hit && (!strcmp(hit->state, "done") || !strcmp(hit->state, "ignored")))
				s->st = ST_FINAL;
			else if (hit && !strcmp(hit->state, "error"))
				s->st = ST_FAILED;
		}
		if (s->st == ST_FINAL || s->st == ST_FAILED || s->st == ST_CONFLICT)
			done++;
		if (s->st == ST_FAILED)
			failed++;
		if (s->st == ST_FINAL && s->kind == ACS_BACKFILL_CREATE_CLICKUP)
			cu++;
		if (s->st == ST_FINAL && s->kind == ACS_BACKFILL_CREATE_ADO)
			ad++;
	}
	b->pg.done = done + (b->extra - ACS_MIN(b->extra, b->extra_open));
	b->pg.total = b->n_steps + b->extra;
	b->pg.failed = failed;
	b->pg.created_clickup = cu;
	b->pg.created_ado = ad;
}

static void polled_cb(int rc, const char *err, void *arg)
{
	struct acs_backfill *b = acs_container_of(arg, struct acs_backfill, poll);
	b->polling = false;
	if (!carry_on(b))
		return; /* end_run frees the rows */
	if (rc < 0) {
		poll_free(&b->poll);
		fail(b, rc, "reading backfill rows", err);
		end_run(b);
		return;
	}
	b->extra_open = other_open(b);
	if (!b->polled_once) {
		b->polled_once = true;
		b->extra = b->extra_open;
	}
	b->extra_open = ACS_MIN(b->extra_open, b->extra);
	tally(b);
	poll_free(&b->poll);
	if (b->extra_open && b->kick && !b->kicked) {
		b->kicked = true;
		b->kick(b->kick_arg);
	}
	report(b);
	if (b->pg.done < b->pg.total)
		return;
	uv_timer_stop(&b->timer);
	state_free(&b->state);
	b->state.map_name = b->map_name;
	rc = acs_store_read(b->store, state_fn, verified_cb, &b->state);
	if (rc) {
		fail(b, rc, "reading pairs", NULL);
		end_run(b);
		return;
	}
	b->inflight++;
}

static void poll_tick(uv_timer_t *t)
{
	struct acs_backfill *b = acs_container_of(t, struct acs_backfill, timer);
	if (b->polling || !b->running)
		return;
	if (b->closing) {
		uv_timer_stop(&b->timer);
		if (!b->inflight) {
			fail(b, ACS_ECLOSED, "backfill", "closing");
			end_run(b);
		}
		return;
	}
	snprintf(b->poll.lo, sizeof(b->poll.lo), "backfill:%" PRId64 ":", b->map_id);
	snprintf(b->poll.hi, sizeof(b->poll.hi), "backfill:%" PRId64 ";", b->map_id);
	int rc = acs_store_read(b->store, poll_fn, polled_cb, &b->poll);
	if (rc) {
		uv_timer_stop(&b->timer);
		fail(b, rc, "reading backfill rows", NULL);
		if (!b->inflight)
			end_run(b);
		return;
	}
	b->polling = true;
	b->inflight++;
}

static void start_syncing(struct acs_backfill *b)
{
	set_phase(b, "syncing");
	tally(b);
	report(b);
	if (b->kick && b->pg.total) {
		b->kicked = true;
		b->kick(b->kick_arg);
	}
	uv_timer_start(&b->timer, poll_tick, 0, POLL_MS);
}

/* ------------------------------------------------------------------------ */
/* Queueing: pairs, then rows                                                */
/* ------------------------------------------------------------------------ */

static void inserted_cb(int rc, const char *err, void *arg)
{
	struct ins *in = arg;
	struct acs_backfill *b = in->b;
	free(in->event_key);
	free(in->item_key);
	free(in);
	if (rc < 0 && !b->rc)
		fail(b, rc, "storing a backfill event", err);
	if (!carry_on(b))
		return;
	if (!b->inflight)
		start_syncing(b);
}

/* Store the row of step s (its key is set); body borrowed from the listed item. */
static void queue_row(struct acs_backfill *b, struct run_step *s, const char *source,
		      const char *event_type, char *item_key, const char *body)
{
	struct ins *in = acs_xcalloc(1, sizeof(*in));
	in->b = b;
	in->event_key = acs_xstrdup(s->key);
	in->item_key = item_key;
	in->job.source = source;
	in->job.event_key = in->event_key;
	in->job.event_type = event_type;
	in->job.item_key = item_key;
	in->job.body = body;
	in->job.body_len = strlen(body);
	in->job.received_at = acs_inbox_now_ms();
	int rc = acs_inbox_insert(b->store, &in->job, inserted_cb);
	if (rc) {
		fail(b, rc, "storing a backfill event", NULL);
		free(in->event_key);
		free(in->item_key);
		free(in);
		return;
	}
	s->st = ST_QUEUED;
	b->inflight++;
}

static void queue_step_row(struct acs_backfill *b, struct run_step *s)
{
	bool pair = s->kind == ACS_BACKFILL_PAIR_LINK || s->kind == ACS_BACKFILL_PAIR_TITLE;
	if (s->kind == ACS_BACKFILL_CREATE_CLICKUP || (pair && s->ado_wins)) {
		const struct item_a *a = &b->a[s->a];
		queue_row(b, s, "ado", "updated", acs_xasprintf("ado:%" PRId64, a->id), a->body);
	} else {
		const struct item_t *t = &b->t[s->t];
		bool create = s->kind == ACS_BACKFILL_CREATE_ADO;
		queue_row(b, s, "clickup", create ? "created" : "updated",
			  acs_xasprintf("clickup:%s", t->id), create ? t->body_new : t->body_upd);
	}
}

static void pair_inserted_cb(int rc, const char *err, struct acs_pair *pair, void *arg)
{
	struct pair_op *op = arg;
	struct acs_backfill *b = op->b;
	size_t i = op->step;
	free(op);
	acs_pair_free(pair);
	if (rc == ACS_ECONFLICT) {
		/* Paired meanwhile (a webhook's create, another mapping): nothing to do. */
		b->steps[i].st = ST_CONFLICT;
		b->pg.paired--;
		acs_log(ACS_LOG_INFO, "backfill", "backfill %s: %s", b->map_name,
			err ? err : "already paired");
	} else if (rc < 0 && !b->rc) {
		fail(b, rc, "recording a pair", err);
	}
	if (!carry_on(b))
		return;
	/* The row goes in only now: it must find the pair, never the create path. */
	if (rc == 0)
		queue_step_row(b, &b->steps[i]);
	if (!b->inflight)
		start_syncing(b);
}

/* The base of a pair made here: no fields (see DESIGN, PAIRS), the back-links missing. */
static char *pair_base(const struct item_a *a, const struct item_t *t)
{
	bool link = false;
	for (size_t k = 0; k < a->n_links && !link; k++) {
		char tid[TASK_ID_MAX];
		link = !strcmp(a->links[k], t->url) ||
		       (acs_backfill_task_id_of_url(a->links[k], tid, sizeof(tid)) &&
			!strcmp(tid, t->id));
	}
	bool footer = t->footer && acs_backfill_ado_id_of_url(t->footer) == a->id;
	json_t *pending = json_object();
	if (!link && t->url && t->url[0])
		json_object_set_new(pending, "ado_link", json_string(t->url));
	if (!footer)
		json_object_set_new(pending, "clickup_footer", json_true());
	json_t *o = json_pack("{s:{}, s:{}}", "fields", "changed");
	if (json_object_size(pending))
		json_object_set(o, "pending", pending);
	json_decref(pending);
	char *s = acs_json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	acs_require(s != NULL);
	return s;
}

static void queue_pair(struct acs_backfill *b, size_t i)
{
	struct run_step *s = &b->steps[i];
	const struct item_a *a = &b->a[s->a];
	const struct item_t *t = &b->t[s->t];
	/* The loser's revision is current: only the winner's event is news. */
	struct acs_pair p = {
		.map_id = b->map_id,
		.ado_id = a->id,
		.clickup_id = t->id,
		.ado_rev = s->ado_wins ? 0 : a->rev,
		.clickup_rev = s->ado_wins ? t->updated : 0,
		.base = pair_base(a, t),
	};
	int64_t intent;
	char aid[32];
	snprintf(aid, sizeof(aid), "%" PRId64, a->id);
	const char *twin = NULL;
	if ((intent = intent_of(&b->state, "ado", aid)))
		twin = t->id;
	else if ((intent = intent_of(&b->state, "clickup", t->id)))
		twin = aid;
	struct pair_op *op = acs_xcalloc(1, sizeof(*op));
	op->b = b;
	op->step = i;
	int rc = acs_pairs_insert(b->store, &p, intent, twin, pair_inserted_cb, op);
	free(p.base);
	if (rc) {
		free(op);
		fail(b, rc, "recording a pair", NULL);
		return;
	}
	s->st = ST_QUEUED;
	b->pg.paired++;
	b->inflight++;
}

static void start_queueing(struct acs_backfill *b)
{
	set_phase(b, "queueing");
	report(b);
	/* Held at one while queueing, so an early completion cannot start syncing. */
	b->inflight++;
	for (size_t i = 0; i < b->n_steps && !b->rc; i++) {
		struct run_step *s = &b->steps[i];
		switch (s->kind) {
		case ACS_BACKFILL_PAIR_LINK:
		case ACS_BACKFILL_PAIR_TITLE:
			queue_pair(b, i);
			break;
		case ACS_BACKFILL_CREATE_CLICKUP:
		case ACS_BACKFILL_CREATE_ADO:
			queue_step_row(b, s);
			break;
		default:
			break;
		}
	}
	if (!carry_on(b))
		return;
	if (!b->inflight)
		start_syncing(b);
}

/* ------------------------------------------------------------------------ */
/* Planning                                                                  */
/* ------------------------------------------------------------------------ */

static void log_left(struct acs_backfill *b, const struct acs_backfill_step *s)
{
	const char *why = s->kind == ACS_BACKFILL_AMBIGUOUS ? "left alone: its title or back-links "
							      "match more than one item"
							    : "left alone: its back-link names an "
							      "item paired already or not "
							      "in this mapping";
	if (b->logged++ >= MAX_LOGGED) {
		if (b->logged == MAX_LOGGED + 1)
			acs_log(ACS_LOG_WARN, "backfill",
				"backfill %s: more items left alone (not logged)", b->map_name);
		return;
	}
	if (s->ado != ACS_BACKFILL_NONE)
		acs_log(ACS_LOG_WARN, "backfill", "backfill %s: work item %" PRId64 " '%s' %s",
			b->map_name, b->a[s->ado].id, b->a[s->ado].title, why);
	else
		acs_log(ACS_LOG_WARN, "backfill", "backfill %s: task %s '%s' %s", b->map_name,
			b->t[s->task].id, b->t[s->task].title, why);
}

static char *step_key(const struct acs_backfill *b, const struct run_step *s)
{
	bool pair = s->kind == ACS_BACKFILL_PAIR_LINK || s->kind == ACS_BACKFILL_PAIR_TITLE;
	if (s->kind == ACS_BACKFILL_CREATE_CLICKUP || (pair && s->ado_wins))
		return acs_xasprintf("backfill:%" PRId64 ":ado:%" PRId64 ":%" PRId64, b->map_id,
				     b->a[s->a].id, b->a[s->a].rev);
	return acs_xasprintf("backfill:%" PRId64 ":%s:%s:%" PRId64, b->map_id,
			     s->kind == ACS_BACKFILL_CREATE_ADO ? "clickup-new" : "clickup",
			     b->t[s->t].id, b->t[s->t].updated);
}

static void plan(struct acs_backfill *b)
{
	set_phase(b, "planning");
	if (b->dry_run)
		b->map_id = b->state.map_id;
	struct acs_backfill_ado *va = acs_xcalloc(b->n_a + 1, sizeof(*va));
	struct acs_backfill_task *vt = acs_xcalloc(b->n_t + 1, sizeof(*vt));
	for (size_t i = 0; i < b->n_a; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%" PRId64, b->a[i].id);
		va[i] = (struct acs_backfill_ado){
			.id = b->a[i].id,
			.title = b->a[i].title,
			.links = (const char *const *)b->a[i].links,
			.n_links = b->a[i].n_links,
			.paired = ado_paired(&b->state, b->a[i].id),
			.intent_id = intent_of(&b->state, "ado", id),
		};
	}
	for (size_t i = 0; i < b->n_t; i++)
		vt[i] = (struct acs_backfill_task){
			.id = b->t[i].id,
			.title = b->t[i].title,
			.footer = b->t[i].footer,
			.paired = task_paired(&b->state, b->t[i].id),
			.intent_id = intent_of(&b->state, "clickup", b->t[i].id),
		};
	struct acs_backfill_plan p;
	acs_backfill_plan_make(va, b->n_a, vt, b->n_t, &p);
	free(va);
	free(vt);

	b->pg.already = p.count[ACS_BACKFILL_ALREADY];
	b->pg.ambiguous = p.count[ACS_BACKFILL_AMBIGUOUS];
	b->pg.linked_elsewhere = p.count[ACS_BACKFILL_LINKED_ELSEWHERE];
	b->pg.paired_link = p.count[ACS_BACKFILL_PAIR_LINK];
	b->pg.paired_title = p.count[ACS_BACKFILL_PAIR_TITLE];
	b->steps = acs_xcalloc(p.n + 1, sizeof(*b->steps));
	for (size_t i = 0; i < p.n; i++) {
		const struct acs_backfill_step *ps = &p.steps[i];
		if (ps->kind == ACS_BACKFILL_AMBIGUOUS || ps->kind == ACS_BACKFILL_LINKED_ELSEWHERE)
			log_left(b, ps);
		if (ps->kind == ACS_BACKFILL_ALREADY || ps->kind == ACS_BACKFILL_AMBIGUOUS ||
		    ps->kind == ACS_BACKFILL_LINKED_ELSEWHERE)
			continue;
		struct run_step *s = &b->steps[b->n_steps++];
		s->kind = ps->kind;
		s->a = ps->ado;
		s->t = ps->task;
		if (b->dry_run)
			acs_log(ACS_LOG_DEBUG, "backfill", "backfill %s (dry run): %s %s%s%s",
				b->map_name, acs_backfill_kind_name(s->kind),
				s->a != ACS_BACKFILL_NONE ? b->a[s->a].title : "",
				s->a != ACS_BACKFILL_NONE && s->t != ACS_BACKFILL_NONE ? " <-> "
										       : "",
				s->t != ACS_BACKFILL_NONE ? b->t[s->t].title : "");
	}
	b->pg.total = b->n_steps;
	b->pg.done = 0;
	if (b->dry_run) {
		/* What a run would do. */
		b->pg.paired = b->pg.paired_link + b->pg.paired_title;
		b->pg.created_clickup = p.count[ACS_BACKFILL_CREATE_CLICKUP];
		b->pg.created_ado = p.count[ACS_BACKFILL_CREATE_ADO];
		acs_backfill_plan_deinit(&p);
		end_run(b);
		return;
	}
	acs_backfill_plan_deinit(&p);
	/* Decide the winners now: the keys depend on them. */
	for (size_t i = 0; i < b->n_steps; i++) {
		struct run_step *s = &b->steps[i];
		if (s->kind == ACS_BACKFILL_PAIR_LINK || s->kind == ACS_BACKFILL_PAIR_TITLE) {
			const struct item_a *a = &b->a[s->a];
			const struct item_t *t = &b->t[s->t];
			s->ado_wins = b->cfg->sync.conflict == ACS_CONFLICT_ADO ||
				      (b->cfg->sync.conflict == ACS_CONFLICT_NEWEST &&
				       a->changed >= t->updated);
		}
		s->key = step_key(b, s);
	}
	start_queueing(b);
}

static void state_read_cb(int rc, const char *err, void *arg)
{
	struct acs_backfill *b = acs_container_of(arg, struct acs_backfill, state);
	if (!carry_on(b))
		return;
	if (rc < 0) {
		fail(b, rc, "reading pairs", err);
		end_run(b);
		return;
	}
	plan(b);
}

static void read_state(struct acs_backfill *b)
{
	b->state.map_name = b->map_name;
	int rc = acs_store_read(b->store, state_fn, state_read_cb, &b->state);
	if (rc) {
		fail(b, rc, "reading pairs", NULL);
		end_run(b);
		return;
	}
	b->inflight++;
}

/* ------------------------------------------------------------------------ */
/* Listing                                                                   */
/* ------------------------------------------------------------------------ */

static void cu_page(struct acs_backfill *b);

static int task_cmp(const void *x, const void *y)
{
	return strcmp(((const struct item_t *)x)->id, ((const struct item_t *)y)->id);
}

/* Keep one entry per task (a page boundary may move while listing). */
static void dedupe_tasks(struct acs_backfill *b)
{
	if (b->n_t)
		qsort(b->t, b->n_t, sizeof(*b->t), task_cmp);
	size_t u = 0;
	for (size_t i = 0; i < b->n_t; i++) {
		if (u && !strcmp(b->t[u - 1].id, b->t[i].id)) {
			struct item_t *t = &b->t[i];
			free(t->id);
			free(t->url);
			free(t->title);
			free(t->footer);
			free(t->body_upd);
			free(t->body_new);
			continue;
		}
		b->t[u++] = b->t[i];
	}
	b->n_t = u;
	b->pg.clickup_tasks = u;
}

static void tasks_cb(const struct acs_clickup_result *res, struct acs_clickup_task_page *pg,
		     void *arg)
{
	struct acs_backfill *b = arg;
	if (!pg && !b->rc)
		fail(b, res->error, "ClickUp tasks", res->message);
	if (!carry_on(b)) {
		acs_clickup_task_page_free(pg);
		return;
	}
	for (size_t i = 0; i < pg->n; i++) {
		const struct acs_clickup_task *t = &pg->tasks[i];
		if (!t->id || !t->id[0])
			continue;
		if (b->n_t == b->cap_t) {
			b->cap_t = b->cap_t ? b->cap_t * 2 : 128;
			b->t = acs_xrealloc(b->t, b->cap_t * sizeof(*b->t));
		}
		struct item_t *it = &b->t[b->n_t++];
		memset(it, 0, sizeof(*it));
		it->id = acs_xstrdup(t->id);
		it->url = acs_xstrdup(t->url ? t->url : "");
		it->title = acs_xstrdup(t->name ? t->name : "");
		char *d = acs_xstrdup(t->description ? t->description : "");
		it->footer = acs_syncer_strip_footer(d);
		free(d);
		it->updated = t->date_updated;
		it->body_upd =
			acs_sweep_clickup_event_body(t, b->map->clickup_list_id, "taskUpdated");
		it->body_new =
			acs_sweep_clickup_event_body(t, b->map->clickup_list_id, "taskCreated");
	}
	b->pg.clickup_tasks = b->n_t;
	b->pg.done = b->n_a + b->n_t;
	bool last = pg->last_page || pg->n == 0;
	acs_clickup_task_page_free(pg);
	report(b);
	if (!last) {
		b->page++;
		cu_page(b);
		return;
	}
	dedupe_tasks(b);
	read_state(b);
}

static void cu_page(struct acs_backfill *b)
{
	struct acs_clickup_task_query q = {
		.list_id = b->map->clickup_list_id,
		.page = b->page,
		.include_closed = true,
		.subtasks = true,
	};
	int rc = acs_clickup_list_tasks(b->cu, ACS_GOVERNOR_BACKGROUND, &q, tasks_cb, b);
	if (rc) {
		fail(b, rc, "ClickUp tasks", NULL);
		end_run(b);
		return;
	}
	b->inflight++;
}

static void ado_fetch(struct acs_backfill *b);

static void items_cb(const struct acs_ado_result *res, struct acs_ado_work_item_list *list,
		     void *arg)
{
	struct acs_backfill *b = arg;
	if (!list && !b->rc)
		fail(b, res->error, "ADO work items", res->message);
	if (!carry_on(b)) {
		acs_ado_work_item_list_free(list);
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct acs_ado_work_item *wi = &list->items[i];
		if (b->n_a == b->cap_a) {
			b->cap_a = b->cap_a ? b->cap_a * 2 : 128;
			b->a = acs_xrealloc(b->a, b->cap_a * sizeof(*b->a));
		}
		struct item_a *it = &b->a[b->n_a++];
		memset(it, 0, sizeof(*it));
		it->id = wi->id;
		it->rev = wi->rev;
		it->changed = wi->changed_date_ms;
		it->title = acs_xstrdup(wi->title ? wi->title : "");
		it->links = acs_xcalloc(wi->n_relations + 1, sizeof(char *));
		for (size_t k = 0; k < wi->n_relations; k++) {
			const struct acs_ado_relation *r = &wi->relations[k];
			if (r->rel && !strcmp(r->rel, "Hyperlink") && r->url)
				it->links[it->n_links++] = acs_xstrdup(r->url);
		}
		it->body = acs_sweep_ado_event_body(wi);
	}
	acs_ado_work_item_list_free(list);
	b->pg.ado_items = b->n_a;
	b->pg.done = b->n_a;
	report(b);
	ado_fetch(b);
}

/* The next batch of ids, or on to ClickUp. */
static void ado_fetch(struct acs_backfill *b)
{
	if (b->pos >= b->n_ids) {
		free(b->ids);
		b->ids = NULL;
		b->n_ids = b->pos = 0;
		b->page = 0;
		cu_page(b);
		return;
	}
	size_t n = ACS_MIN(b->n_ids - b->pos, (size_t)ACS_ADO_MAX_BATCH);
	int rc = acs_ado_get_work_items_cls(b->ado, ACS_GOVERNOR_BACKGROUND, b->ids + b->pos, n,
					    NULL, 0, items_cb, b);
	b->pos += n;
	if (rc) {
		fail(b, rc, "ADO work items", NULL);
		end_run(b);
		return;
	}
	b->inflight++;
}

static void wiql_cb(const struct acs_ado_result *res, int64_t *ids, size_t n, void *arg)
{
	struct acs_backfill *b = arg;
	if (!ids && res->cls != ACS_REST_OK && !b->rc)
		fail(b, res->error, "ADO WIQL", res->message);
	if (!carry_on(b)) {
		free(ids);
		return;
	}
	b->ids = ids;
	b->n_ids = ids ? n : 0;
	b->pos = 0;
	ado_fetch(b);
}

static void list_ado(struct acs_backfill *b)
{
	const struct acs_config_map *m = b->map;
	/* No assigned_to filter: an item the filter leaves out may still be the twin of a
	 * task here, and must be seen to be paired rather than duplicated. The syncer
	 * applies the filter to the creates. */
	struct acs_ado_wiql_filter f = {
		.project = m->ado_project && m->ado_project[0] ? m->ado_project
							       : b->cfg->ado.project,
		.area_path = m->ado_area_path && m->ado_area_path[0] ? m->ado_area_path : NULL,
		.types = (const char *const *)m->ado_work_item_types.v,
		.n_types = m->ado_work_item_types.n,
	};
	char *q = acs_ado_wiql_build(&f);
	int rc = q ? acs_ado_wiql_cls(b->ado, ACS_GOVERNOR_BACKGROUND, q, 0, wiql_cb, b) : -EINVAL;
	free(q);
	if (rc) {
		fail(b, rc, "ADO WIQL", "cannot query the mapping's project");
		end_run(b);
		return;
	}
	b->inflight++;
}

static void map_upserted_cb(int rc, const char *err, int64_t id, void *arg)
{
	struct acs_backfill *b = arg;
	if (rc < 0 && !b->rc)
		fail(b, rc, "recording the mapping", err);
	if (!carry_on(b))
		return;
	b->map_id = id;
	list_ado(b);
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */
/* ------------------------------------------------------------------------ */

/* One line on what a run did (or, dry, would do). */
static void summarize(const struct acs_backfill_progress *p, bool dry, char *out, size_t n)
{
	typedef unsigned long long ull;
	snprintf(out, n,
		 "%llu work items, %llu tasks listed; %s %llu (%llu by back-link, %llu by title); "
		 "%s %llu ClickUp tasks and %llu Azure DevOps work items; %llu already paired, "
		 "%llu ambiguous and %llu linked elsewhere left alone",
		 (ull)p->ado_items, (ull)p->clickup_tasks, dry ? "would pair" : "paired",
		 (ull)p->paired, (ull)p->paired_link, (ull)p->paired_title,
		 dry ? "would create" : "created", (ull)p->created_clickup, (ull)p->created_ado,
		 (ull)p->already, (ull)p->ambiguous, (ull)p->linked_elsewhere);
}

static void release_cfg(struct acs_backfill *b)
{
	if (b->syncer && b->run_cfg)
		acs_syncer_config_release(b->run_cfg);
	b->run_cfg = NULL;
}

static void queue_cb(uv_timer_t *t);

static void end_run(struct acs_backfill *b)
{
	acs_require(b->inflight == 0);
	if (!b->running)
		return;
	uv_timer_stop(&b->timer);
	b->running = false;
	b->polling = false;
	if (b->rc) {
		b->phase = "failed";
		acs_log(ACS_LOG_ERR, "backfill", "backfill %s failed: %s", b->map_name, b->err);
	} else {
		b->phase = "done";
		char sum[512];
		summarize(&b->pg, b->dry_run, sum, sizeof(sum));
		acs_log(ACS_LOG_INFO, "backfill", "backfill %s%s: %s", b->map_name,
			b->dry_run ? " (dry run)" : "", sum);
	}
	run_clear(b);
	struct acs_backfill_progress p;
	fill_progress(b, &p);
	acs_backfill_done_cb cb = b->done;
	void *arg = b->cb_arg;
	b->done = NULL;
	b->progress = NULL;
	if (b->watch)
		b->watch(&p, b->watch_arg);
	if (cb)
		cb(b->rc, &p, arg);
	/* The next queued mapping from a fresh loop turn: end_run may run inside
	 * acs_backfill_start or a caller's callback. */
	if (!b->closing && !b->running && b->n_queue)
		uv_timer_start(&b->timer, queue_cb, 0, 0);
	maybe_free(b);
}

int acs_backfill_start(struct acs_backfill *b, const char *map, bool dry_run,
		       acs_backfill_progress_cb progress, acs_backfill_done_cb done, void *arg)
{
	if (!b || !map)
		return -EINVAL;
	if (b->closing)
		return ACS_ECLOSED;
	if (b->running)
		return -EBUSY;
	/* The mappings in use, the dashboard's included, as they are now. */
	const struct acs_config *cfg = b->syncer ? acs_syncer_config_hold(b->syncer) : b->cfg;
	const struct acs_config_map *m = NULL;
	for (size_t i = 0; i < cfg->n_maps && !m; i++)
		if (!strcmp(cfg->maps[i].name, map))
			m = &cfg->maps[i];
	if (!m) {
		if (b->syncer)
			acs_syncer_config_release(cfg);
		return ACS_ENOTFOUND;
	}
	/* A dashboard mapping has its row already: never upserted as a file one. */
	int64_t db_id = b->syncer ? acs_syncer_config_db_map(cfg, map) : 0;
	run_clear(b);
	release_cfg(b);
	b->run_cfg = cfg;
	free(b->map_name);
	b->map_name = acs_xstrdup(map);
	b->map = m;
	b->dry_run = dry_run;
	/* The callbacks are set once the first call is queued: a failure to queue it is
	 * this function's return code, never a callback. */
	b->progress = NULL;
	b->done = NULL;
	b->rc = 0;
	b->err[0] = '\0';
	b->logged = 0;
	b->kicked = b->polled_once = false;
	b->extra = b->extra_open = 0;
	b->map_id = db_id;
	b->page = 0;
	memset(&b->pg, 0, sizeof(b->pg));
	b->running = true;
	set_phase(b, "listing");
	if (dry_run || db_id) {
		/* Nothing written, not even the mapping row: its id is read later. */
		list_ado(b);
	} else {
		int rc = acs_pairs_map_upsert(b->store, m, map_upserted_cb, b);
		if (rc) {
			fail(b, rc, "recording the mapping", NULL);
			end_run(b);
		} else {
			b->inflight++;
		}
	}
	if (!b->running)
		return b->rc; /* ended at once (end_run ran without callbacks) */
	b->progress = progress;
	b->done = done;
	b->cb_arg = arg;
	report(b);
	return 0;
}

/* Start the queued mappings in order; one that cannot start (deleted meanwhile) is
 * logged and skipped. */
static void queue_cb(uv_timer_t *t)
{
	struct acs_backfill *b = t->data;
	while (b->n_queue && !b->running && !b->closing) {
		char *map = b->queue[0];
		memmove(b->queue, b->queue + 1, --b->n_queue * sizeof(*b->queue));
		int rc = acs_backfill_start(b, map, false, NULL, NULL, NULL);
		if (rc)
			acs_log(ACS_LOG_ERR, "backfill", "queued backfill of %s not started: %s",
				map,
				rc == ACS_ENOTFOUND ? "the mapping is not in use"
						    : acs_strerror(rc));
		free(map);
	}
}

int acs_backfill_enqueue(struct acs_backfill *b, const char *map)
{
	if (!b || !map || !*map)
		return -EINVAL;
	if (b->closing)
		return ACS_ECLOSED;
	if (!b->running && !b->n_queue)
		return acs_backfill_start(b, map, false, NULL, NULL, NULL);
	for (size_t i = 0; i < b->n_queue; i++)
		if (!strcmp(b->queue[i], map))
			return 0;
	if (b->n_queue >= ACS_BACKFILL_MAX_QUEUE)
		return -EBUSY;
	b->queue = acs_xrealloc(b->queue, (b->n_queue + 1) * sizeof(*b->queue));
	b->queue[b->n_queue++] = acs_xstrdup(map);
	acs_log(ACS_LOG_INFO, "backfill", "backfill of %s queued behind %s", map,
		b->map_name ? b->map_name : "the run in flight");
	return 0;
}

void acs_backfill_set_watch(struct acs_backfill *b, acs_backfill_progress_cb cb, void *arg)
{
	if (!b)
		return;
	b->watch = cb;
	b->watch_arg = cb ? arg : NULL;
}

void acs_backfill_set_syncer(struct acs_backfill *b, struct acs_syncer *syncer)
{
	b->syncer = syncer;
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

struct acs_backfill *acs_backfill_new(uv_loop_t *loop, struct acs_store *store,
				      struct acs_ado_client *ado, struct acs_clickup_client *cu,
				      const struct acs_config *cfg, acs_backfill_kick_cb kick,
				      void *kick_arg)
{
	struct acs_backfill *b = acs_xcalloc(1, sizeof(*b));
	b->loop = loop;
	b->store = store;
	b->ado = ado;
	b->cu = cu;
	b->cfg = cfg;
	b->kick = kick;
	b->kick_arg = kick_arg;
	uv_timer_init(loop, &b->timer);
	b->timer.data = b;
	b->timer_open = true;
	return b;
}

static void maybe_free(struct acs_backfill *b)
{
	if (!b->closing || b->running || b->inflight || b->timer_open)
		return;
	void (*cb)(void *) = b->closed_cb;
	void *arg = b->closed_arg;
	run_clear(b);
	release_cfg(b);
	free(b->map_name);
	for (size_t i = 0; i < b->n_queue; i++)
		free(b->queue[i]);
	free(b->queue);
	free(b);
	if (cb)
		cb(arg);
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct acs_backfill *b = h->data;
	b->timer_open = false;
	maybe_free(b);
}

void acs_backfill_close(struct acs_backfill *b, void (*cb)(void *arg), void *arg)
{
	if (!b || b->closing)
		return;
	b->closing = true;
	b->closed_cb = cb;
	b->closed_arg = arg;
	uv_timer_stop(&b->timer);
	if (b->running && !b->inflight) {
		/* Between polls of the syncing phase: nothing in flight to wait for. */
		fail(b, ACS_ECLOSED, "backfill", "closing");
		end_run(b);
	}
	uv_close((uv_handle_t *)&b->timer, timer_closed_cb);
}

/* ------------------------------------------------------------------------ */
/* Dashboard routes                                                          */
/* ------------------------------------------------------------------------ */

/* The project_map row named by the route's id, read before starting. */
struct map_lookup {
	struct acs_backfill *b;
	struct acs_http_req *req;
	int64_t id;
	bool dry_run;
	bool found;
	char name[256];
};

static int lookup_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct map_lookup *l = arg;
	sqlite3_stmt *st = NULL;
	int r = sqlite3_prepare_v2(db, "SELECT name FROM project_map WHERE id = ?1", -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "reading mappings", err);
	sqlite3_bind_int64(st, 1, l->id);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);
		snprintf(l->name, sizeof(l->name), "%s", t ? (const char *)t : "");
		l->found = true;
	}
	sqlite3_finalize(st);
	return r == SQLITE_ROW || r == SQLITE_DONE
		       ? 0
		       : acs_store_error(db, r, "reading mappings", err);
}

static void lookup_cb(int rc, const char *err, void *arg)
{
	struct map_lookup *l = arg;
	struct acs_backfill *b = l->b;
	b->inflight--;
	if (rc < 0) {
		acs_http_respond_error(l->req, 500, "cannot read the mapping", err);
	} else if (b->closing) {
		acs_http_respond_error(l->req, 503, "sync not running", "shutting down");
	} else if (!l->found) {
		acs_http_respond_error(l->req, 404, "no such mapping", NULL);
	} else {
		rc = acs_backfill_start(b, l->name, l->dry_run, NULL, NULL, NULL);
		if (rc == 0)
			acs_http_respond_json(l->req, 202,
					      json_pack("{s:b, s:s, s:b}", "started", 1, "map",
							l->name, "dry_run", l->dry_run));
		else if (rc == -EBUSY)
			acs_http_respond_error(l->req, 409, "a backfill is running", b->map_name);
		else if (rc == ACS_ENOTFOUND)
			acs_http_respond_error(l->req, 404, "mapping not loaded",
					       "the engine syncs the mappings of its "
					       "configuration; "
					       "restart it to load this one");
		else
			acs_http_respond_error(l->req, 503, "backfill not started",
					       acs_strerror(rc));
	}
	free(l);
	if (b->running && b->closing && !b->inflight) {
		fail(b, ACS_ECLOSED, "backfill", "closing");
		end_run(b); /* frees b once closed */
		return;
	}
	maybe_free(b);
}

static void start_route_cb(struct acs_http_req *req, void *arg)
{
	struct acs_backfill_routes *r = arg;
	if (!acs_admin_require(r->admin, req, true, NULL))
		return;
	struct acs_backfill *b = r->get(r->arg);
	if (!b || b->closing) {
		acs_http_respond_error(req, 503, "sync not running", NULL);
		return;
	}
	const char *ids = acs_http_req_param(req, "id");
	char *end = NULL;
	long long id = ids ? strtoll(ids, &end, 10) : 0;
	if (!ids || !*ids || *end || id <= 0) {
		acs_http_respond_error(req, 404, "no such mapping", NULL);
		return;
	}
	bool dry = false;
	size_t len = 0;
	const char *body = acs_http_req_body(req, &len);
	if (body && len) {
		json_t *j = acs_json_loadb(body, len, 0, NULL);
		json_t *d = json_object_get(j, "dry_run");
		if (!json_is_object(j) || (d && !json_is_boolean(d))) {
			json_decref(j);
			acs_http_respond_error(req, 400, "malformed body",
					       "expected {\"dry_run\": true|false}");
			return;
		}
		dry = json_is_true(d);
		json_decref(j);
	}
	if (b->running) {
		acs_http_respond_error(req, 409, "a backfill is running", b->map_name);
		return;
	}
	struct map_lookup *l = acs_xcalloc(1, sizeof(*l));
	l->b = b;
	l->req = req;
	l->id = id;
	l->dry_run = dry;
	if (acs_store_read(b->store, lookup_fn, lookup_cb, l)) {
		free(l);
		acs_http_respond_error(req, 503, "database not available", NULL);
		return;
	}
	b->inflight++;
}

static void progress_route_cb(struct acs_http_req *req, void *arg)
{
	struct acs_backfill_routes *r = arg;
	if (!acs_admin_require(r->admin, req, false, NULL))
		return;
	acs_http_respond_json(req, 200, acs_backfill_progress_json(r->get(r->arg)));
}

void acs_backfill_routes_add(struct acs_http_server *http, struct acs_backfill_routes *r)
{
	acs_http_server_route(http, "POST", "/api/dashboard/project-maps/:id/backfill",
			      start_route_cb, r);
	acs_http_server_route(http, "GET", "/api/dashboard/backfill", progress_route_cb, r);
}

/* ------------------------------------------------------------------------ */
/* The command                                                               */
/* ------------------------------------------------------------------------ */

int acs_backfill_lock_db(const char *db_path, char err[ACS_ERR_LEN])
{
	char *path = acs_xasprintf("%s.lock", db_path);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		snprintf(err, ACS_ERR_LEN, "cannot open the lock file %s: %s", path, strerror(e));
		free(path);
		return -e;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		if (e == EWOULDBLOCK)
			snprintf(err, ACS_ERR_LEN,
				 "another ado-clickup-sync process uses the database %s (%s is "
				 "locked)",
				 db_path, path);
		else
			snprintf(err, ACS_ERR_LEN, "cannot lock %s: %s", path, strerror(e));
		close(fd);
		free(path);
		return e == EWOULDBLOCK ? -EWOULDBLOCK : -e;
	}
	free(path);
	return fd;
}

/* The command's world: one loop with the engine's pieces but no HTTP server. */
struct cmd {
	uv_loop_t loop;
	const struct acs_config *cfg;
	const char *map;
	bool dry_run;
	struct acs_store *store;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_syncer *syncer;
	struct acs_scheduler *sched;
	struct acs_backfill *bf;
	int clients_open;
	int rc;
	char err[ACS_ERR_LEN];
	/* display */
	bool tty, line_open;
	const char *last_phase;
	uint64_t last_print;
};

static void print_line(struct cmd *c, const struct acs_backfill_progress *p)
{
	char line[256];
	if (!strcmp(p->phase, "listing"))
		snprintf(line, sizeof(line),
			 "backfill %s: listing: %" PRIu64 " work items, %" PRIu64 " tasks", c->map,
			 p->ado_items, p->clickup_tasks);
	else if (!strcmp(p->phase, "syncing") || !strcmp(p->phase, "queueing")) {
		char eta[32] = "?";
		if (p->eta_s >= 0)
			snprintf(eta, sizeof(eta), "%" PRId64 " s", p->eta_s);
		snprintf(line, sizeof(line),
			 "backfill %s: %s %" PRIu64 "/%" PRIu64 " (%.1f/s, ETA %s)", c->map,
			 p->phase, p->done, p->total, p->rate, eta);
	} else
		snprintf(line, sizeof(line), "backfill %s: %s", c->map, p->phase);
	if (c->tty) {
		fprintf(stderr, "\r\033[K%s", line);
		c->line_open = true;
	} else {
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

static void cmd_progress(const struct acs_backfill_progress *p, void *arg)
{
	struct cmd *c = arg;
	uint64_t now = uv_now(&c->loop);
	bool changed = c->last_phase != p->phase;
	if (!c->tty && !changed && now - c->last_print < PLAIN_EVERY_MS)
		return;
	c->last_phase = p->phase;
	c->last_print = now;
	print_line(c, p);
}

static void cmd_client_closed(void *arg)
{
	struct cmd *c = arg;
	/* The clients borrow the curl loop: it goes last, then the store. */
	if (--c->clients_open > 0)
		return;
	acs_curl_loop_close(c->cl, NULL, NULL);
	c->cl = NULL;
	acs_store_close(c->store, NULL, NULL);
	c->store = NULL;
}

static void cmd_close_clients(struct cmd *c)
{
	c->clients_open = 1 + (c->ado != NULL) + (c->cu != NULL);
	if (c->ado)
		acs_ado_client_close(c->ado, cmd_client_closed, c);
	if (c->cu)
		acs_clickup_client_close(c->cu, cmd_client_closed, c);
	c->ado = NULL;
	c->cu = NULL;
	cmd_client_closed(c);
}

static void cmd_syncer_closed(void *arg)
{
	struct cmd *c = arg;
	c->syncer = NULL;
	cmd_close_clients(c);
}

static void cmd_sched_closed(void *arg)
{
	struct cmd *c = arg;
	c->sched = NULL;
	if (c->syncer)
		acs_syncer_close(c->syncer, cmd_syncer_closed, c);
	else
		cmd_syncer_closed(c);
}

static void cmd_bf_closed(void *arg)
{
	struct cmd *c = arg;
	c->bf = NULL;
	if (c->sched)
		acs_scheduler_close(c->sched, cmd_sched_closed, c);
	else
		cmd_sched_closed(c);
}

/* Reverse order of construction. */
static void cmd_teardown(struct cmd *c)
{
	if (c->bf)
		acs_backfill_close(c->bf, cmd_bf_closed, c);
	else
		cmd_bf_closed(c);
}

static void cmd_kick(void *arg)
{
	struct cmd *c = arg;
	if (c->sched) {
		acs_scheduler_kick(c->sched);
		return;
	}
	/* Started only now: the rows of earlier, interrupted runs wait until the pairs of
	 * this one are written (see backfill.h RESUMING). */
	struct acs_scheduler_opts o;
	acs_scheduler_opts_defaults(&o);
	o.concurrency = (unsigned)c->cfg->sync.concurrency;
	o.max_attempts = (unsigned)c->cfg->sync.max_attempts;
	o.backoff_max_ms = 30000;
	c->sched = acs_scheduler_new(&c->loop, c->store, &o, acs_syncer_work, c->syncer);
}

static void cmd_done(int rc, const struct acs_backfill_progress *p, void *arg)
{
	struct cmd *c = arg;
	if (c->line_open)
		fputc('\n', stderr);
	c->line_open = false;
	if (rc) {
		c->rc = rc;
		snprintf(c->err, sizeof(c->err), "%s", p->error ? p->error : acs_strerror(rc));
	} else {
		char sum[512];
		summarize(p, p->dry_run, sum, sizeof(sum));
		printf("backfill %s%s: %s", c->map, p->dry_run ? " (dry run)" : "", sum);
		if (p->failed)
			printf("; %" PRIu64 " failed (see the error queue)", p->failed);
		printf("\n");
		fflush(stdout);
		if (p->failed) {
			c->rc = ACS_EHTTP;
			snprintf(c->err, sizeof(c->err),
				 "%" PRIu64 " item(s) could not be synced; they are in the error "
				 "queue",
				 p->failed);
		}
	}
	cmd_teardown(c);
}

static void cmd_begin(struct cmd *c)
{
	int rc = acs_backfill_start(c->bf, c->map, c->dry_run, cmd_progress, cmd_done, c);
	if (rc) {
		c->rc = rc;
		snprintf(c->err, sizeof(c->err), "cannot start: %s", acs_strerror(rc));
		cmd_teardown(c);
	}
}

static void cmd_ready(int rc, const char *err, void *arg)
{
	struct cmd *c = arg;
	if (rc) {
		c->rc = rc;
		snprintf(c->err, sizeof(c->err), "loading the mappings from the APIs: %s",
			 err ? err : acs_strerror(rc));
		cmd_teardown(c);
		return;
	}
	cmd_begin(c);
}

int acs_backfill_run_command(const struct acs_config *cfg, const char *map, bool dry_run,
			     char err[ACS_ERR_LEN])
{
	bool known = false;
	for (size_t i = 0; i < cfg->n_maps; i++)
		known = known || !strcmp(cfg->maps[i].name, map);
	if (!known) {
		snprintf(err, ACS_ERR_LEN, "no [map %s] section in the configuration", map);
		return ACS_ENOTFOUND;
	}
	if (!acs_engine_configured(cfg, err))
		return ACS_ECONFIG;
	char path[4096];
	int rc = acs_app_db_path(cfg->database.url, path, sizeof(path), err);
	if (rc)
		return rc;
	int lock = acs_backfill_lock_db(path, err);
	if (lock < 0)
		return lock;

	struct cmd *c = acs_xcalloc(1, sizeof(*c));
	c->cfg = cfg;
	c->map = map;
	c->dry_run = dry_run;
	c->tty = isatty(STDERR_FILENO) == 1;
	uv_loop_init(&c->loop);
	struct acs_ado_client_opts ao = {
		.base_url = cfg->ado.base_url,
		.organization = cfg->ado.organization,
		.project = cfg->ado.project[0] ? cfg->ado.project : cfg->maps[0].ado_project,
		.pat = cfg->ado.pat,
	};
	struct acs_clickup_client_opts co = {
		.base_url = cfg->clickup.base_url,
		.token = cfg->clickup.token,
	};
	rc = acs_store_open(&c->loop, path, &c->store, c->err);
	if (!rc && !(c->cl = acs_curl_loop_new(&c->loop, c->err)))
		rc = ACS_ECONFIG;
	if (!rc && !(c->ado = acs_ado_client_new(&c->loop, c->cl, &ao, c->err)))
		rc = ACS_ECONFIG;
	if (!rc && !(c->cu = acs_clickup_client_new(&c->loop, c->cl, &co, c->err)))
		rc = ACS_ECONFIG;
	if (!rc && !dry_run &&
	    !(c->syncer = acs_syncer_new(&c->loop, c->store, c->ado, c->cu, cfg, c->err)))
		rc = ACS_ECONFIG;
	if (rc) {
		c->rc = rc;
		if (c->store && !c->cl) {
			acs_store_close(c->store, NULL, NULL);
		} else if (c->store) {
			if (c->syncer)
				acs_syncer_close(c->syncer, NULL, NULL);
			c->syncer = NULL;
			cmd_close_clients(c);
		}
	} else {
		c->bf = acs_backfill_new(&c->loop, c->store, c->ado, c->cu, cfg, cmd_kick, c);
		if (dry_run) {
			cmd_begin(c);
		} else {
			rc = acs_syncer_start(c->syncer, cmd_ready, c);
			if (rc) {
				c->rc = rc;
				snprintf(c->err, sizeof(c->err), "syncer: %s", acs_strerror(rc));
				cmd_teardown(c);
			}
		}
	}
	uv_run(&c->loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&c->loop) && !c->rc) {
		c->rc = -EBUSY;
		snprintf(c->err, sizeof(c->err), "loop closed with handles open");
	}
	rc = c->rc;
	if (rc) {
		char msg[ACS_ERR_LEN];
		snprintf(msg, sizeof(msg), "%s", c->err[0] ? c->err : acs_strerror(rc));
		snprintf(err, ACS_ERR_LEN, "%s", msg);
	}
	free(c);
	close(lock);
	return rc;
}
