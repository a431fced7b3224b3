/* SPDX-License-Identifier: MIT */
/* The reconciliation sweep (see sweep.h DESIGN): one run at a time lists both sides'
 * changes since the watermarks and stores each item as a synthetic delivery. */
#include "sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "inbox.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "store.h"
#include "syncer.h"

struct acs_sweep;

/* One inbox insert in flight; owns its strings. */
struct ins {
	struct acs_inbox_insert job;
	struct acs_sweep *s;
	char *event_key, *item_key, *body;
};

/* The watermarks as a store job reads or writes them. */
struct wm_job {
	int64_t ado, cu;
};

struct acs_sweep {
	uv_loop_t *loop;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	const struct acs_config *cfg;
	struct acs_syncer *syncer;	  /**< borrowed: its mappings, when set */
	const struct acs_config *run_cfg; /**< the mappings of the run in flight */
	acs_sweep_kick_cb kick;
	void *kick_arg;
	uv_timer_t timer;
	uint64_t interval_ms;
	int64_t created_ms;
	bool closing, timer_open;
	void (*closed_cb)(void *arg);
	void *closed_arg;
	struct acs_sweep_stats st;

	/* the run in flight */
	bool running;
	acs_sweep_done_cb done;
	void *done_arg;
	struct wm_job wm;     /**< stored watermarks (read at the start) */
	struct wm_job seen;   /**< largest change times seen by this run */
	struct wm_job wm_out; /**< what the final write stores */
	size_t map;	      /**< mapping being swept */
	int64_t *ids;	      /**< WIQL answer of the mapping */
	size_t n_ids, pos;
	unsigned page;			    /**< ClickUp page of the mapping */
	size_t inserts;			    /**< inbox writes in flight */
	void (*after)(struct acs_sweep *s); /**< next step once they are stored */
	int rc;				    /**< first error of the run */
	char err[ACS_ERR_LEN];
};

static void ado_next_map(struct acs_sweep *s);
static void finish(struct acs_sweep *s);

static void fail(struct acs_sweep *s, int rc, const char *what, const char *msg)
{
	if (s->rc)
		return;
	s->rc = rc ? rc : ACS_EHTTP;
	snprintf(s->err, sizeof(s->err), "%s: %s", what, msg && msg[0] ? msg : acs_strerror(rc));
}

/* --- watermarks in meta ---------------------------------------------------------- */

static int64_t meta_int(sqlite3 *db, const char *key, int *rc, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int64_t v = 0;
	int r = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
	if (r != SQLITE_OK) {
		*rc = acs_store_error(db, r, "reading a sweep watermark", err);
		return 0;
	}
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		v = t ? strtoll(t, NULL, 10) : 0;
	} else if (r != SQLITE_DONE) {
		*rc = acs_store_error(db, r, "reading a sweep watermark", err);
	}
	sqlite3_finalize(st);
	return v;
}

static int wm_read_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct wm_job *j = arg;
	int rc = 0;
	j->ado = meta_int(db, ACS_SWEEP_WM_ADO, &rc, err);
	if (!rc)
		j->cu = meta_int(db, ACS_SWEEP_WM_CLICKUP, &rc, err);
	return rc;
}

static int meta_put(sqlite3 *db, const char *key, int64_t v, char err[ACS_ERR_LEN])
{
	sqlite3_stmt *st = NULL;
	int r = sqlite3_prepare_v2(db,
				   "INSERT INTO meta (key, value) VALUES (?1, ?2)"
				   " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
				   -1, &st, NULL);
	if (r != SQLITE_OK)
		return acs_store_error(db, r, "storing a sweep watermark", err);
	char buf[32];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, buf, -1, SQLITE_TRANSIENT);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? 0 : acs_store_error(db, r, "storing a sweep watermark", err);
}

static int wm_write_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct wm_job *j = arg;
	int rc = 0;
	if (j->ado > 0)
		rc = meta_put(db, ACS_SWEEP_WM_ADO, j->ado, err);
	if (!rc && j->cu > 0)
		rc = meta_put(db, ACS_SWEEP_WM_CLICKUP, j->cu, err);
	return rc;
}

/* The instant a side is listed from. */
static int64_t since(const struct acs_sweep *s, int64_t wm)
{
	int64_t from = wm > 0 ? wm : s->created_ms - ACS_SWEEP_FIRST_LOOKBACK_MS;
	from -= ACS_SWEEP_OVERLAP_MS;
	return from > 0 ? from : 1;
}

/* --- inbox writes ------------------------------------------------------------------ */

static void inserted_cb(int rc, const char *err, void *arg)
{
	struct ins *in = arg;
	struct acs_sweep *s = in->s;
	if (rc < 0)
		fail(s, rc, "storing a sweep event", err);
	else if (!in->job.duplicate)
		s->st.queued++;
	free(in->event_key);
	free(in->item_key);
	free(in->body);
	free(in);
	if (--s->inserts == 0)
		s->after(s);
}

/* Queue one row; takes ownership of the three strings. */
static void insert(struct acs_sweep *s, const char *source, char *event_key, char *item_key,
		   char *body)
{
	struct ins *in = acs_xcalloc(1, sizeof(*in));
	in->s = s;
	in->event_key = event_key;
	in->item_key = item_key;
	in->body = body;
	in->job.source = source;
	in->job.event_key = event_key;
	in->job.event_type = "updated";
	in->job.item_key = item_key;
	in->job.body = body;
	in->job.body_len = strlen(body);
	in->job.received_at = acs_inbox_now_ms();
	int rc = acs_inbox_insert(s->store, &in->job, inserted_cb);
	if (rc) {
		fail(s, rc, "storing a sweep event", NULL);
		free(event_key);
		free(item_key);
		free(body);
		free(in);
		return;
	}
	s->inserts++;
}

/* Continue with next once every insert queued so far is stored. The count is held
 * at one while queueing, so a synchronous completion cannot run next early. */
static void then(struct acs_sweep *s, void (*next)(struct acs_sweep *s))
{
	s->after = next;
	if (s->inserts == 0)
		next(s);
}

/* --- ADO ------------------------------------------------------------------------------ */

/* Hooks send identities as "Name <email>" strings; REST reads send IdentityRef
 * objects. The mappers read the hook form, so flatten them. */
static json_t *hook_fields(const json_t *fields)
{
	json_t *out = json_deep_copy(fields);
	const char *k;
	json_t *v;
	json_object_foreach(out, k, v)
	{
		if (!json_is_object(v))
			continue;
		const char *dn = json_string_value(json_object_get(v, "displayName"));
		const char *un = json_string_value(json_object_get(v, "uniqueName"));
		if (!dn && !un)
			continue;
		char *s = un ? acs_xasprintf("%s <%s>", dn ? dn : un, un) : acs_xstrdup(dn);
		json_object_set_new(out, k, json_string(s));
		free(s);
	}
	return out;
}

static char *ado_body(const struct acs_ado_work_item *wi)
{
	json_t *rels = json_array();
	for (size_t i = 0; i < wi->n_relations; i++) {
		const struct acs_ado_relation *r = &wi->relations[i];
		json_t *o = json_pack("{s:s, s:s}", "rel", r->rel ? r->rel : "", "url",
				      r->url ? r->url : "");
		if (r->attributes)
			json_object_set(o, "attributes", r->attributes);
		json_array_append_new(rels, o);
	}
	json_t *rev = json_pack("{s:I, s:I, s:o, s:o}", "id", (json_int_t)wi->id, "rev",
				(json_int_t)wi->rev, "fields", hook_fields(wi->fields), "relations",
				rels);
	json_t *root = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:o}, s:{}}", "id", "sweep",
				 "eventType", "workitem.updated", "publisherId", "tfs", "resource",
				 "workItemId", (json_int_t)wi->id, "rev", (json_int_t)wi->rev,
				 "revision", rev, "resourceContainers");
	acs_require(root != NULL);
	char *body = acs_json_dumps(root, JSON_COMPACT);
	json_decref(root);
	acs_require(body != NULL);
	return body;
}

static void ado_fetch(struct acs_sweep *s);

static void items_cb(const struct acs_ado_result *res, struct acs_ado_work_item_list *list,
		     void *arg)
{
	struct acs_sweep *s = arg;
	if (!list) {
		fail(s, res->error, "ADO work items", res->message);
		finish(s);
		return;
	}
	s->inserts++; /* see then() */
	for (size_t i = 0; i < list->n; i++) {
		const struct acs_ado_work_item *wi = &list->items[i];
		s->st.ado_seen++;
		if (wi->changed_date_ms > s->seen.ado)
			s->seen.ado = wi->changed_date_ms;
		insert(s, "ado", acs_xasprintf("sweep:ado:%" PRId64 ":%" PRId64, wi->id, wi->rev),
		       acs_xasprintf("ado:%" PRId64, wi->id), ado_body(wi));
	}
	acs_ado_work_item_list_free(list);
	s->inserts--;
	then(s, ado_fetch);
}

/* The next batch of the mapping's ids, or on to ClickUp. */
static void cu_list(struct acs_sweep *s);

static void ado_fetch(struct acs_sweep *s)
{
	if (s->rc || s->closing) {
		finish(s);
		return;
	}
	if (s->pos >= s->n_ids) {
		free(s->ids);
		s->ids = NULL;
		s->n_ids = s->pos = 0;
		s->page = 0;
		cu_list(s);
		return;
	}
	size_t n = s->n_ids - s->pos;
	if (n > ACS_ADO_MAX_BATCH)
		n = ACS_ADO_MAX_BATCH;
	int rc = acs_ado_get_work_items_cls(s->ado, ACS_GOVERNOR_BACKGROUND, s->ids + s->pos, n,
					    NULL, 0, items_cb, s);
	s->pos += n;
	if (rc) {
		fail(s, rc, "ADO work items", NULL);
		finish(s);
	}
}

static void wiql_cb(const struct acs_ado_result *res, int64_t *ids, size_t n, void *arg)
{
	struct acs_sweep *s = arg;
	if (!ids && res->cls != ACS_REST_OK) {
		fail(s, res->error, "ADO WIQL", res->message);
		finish(s);
		return;
	}
	s->ids = ids;
	s->n_ids = ids ? n : 0;
	s->pos = 0;
	ado_fetch(s);
}

/* WIQL for the current mapping. */
static void ado_query(struct acs_sweep *s)
{
	const struct acs_config_map *m = &s->run_cfg->maps[s->map];
	struct acs_ado_wiql_filter f = {
		.project = m->ado_project && m->ado_project[0] ? m->ado_project
							       : s->cfg->ado.project,
		.area_path = m->ado_area_path && m->ado_area_path[0] ? m->ado_area_path : NULL,
		.types = (const char *const *)m->ado_work_item_types.v,
		.n_types = m->ado_work_item_types.n,
		.has_changed_since = true,
		.changed_since_ms = since(s, s->wm.ado),
	};
	char *q = acs_ado_wiql_build(&f);
	int rc = q ? acs_ado_wiql_cls(s->ado, ACS_GOVERNOR_BACKGROUND, q, 0, wiql_cb, s) : -EINVAL;
	free(q);
	if (rc) {
		fail(s, rc, "ADO WIQL", "cannot query the mapping's project");
		finish(s);
	}
}

/* --- ClickUp ---------------------------------------------------------------------------- */

static char *clickup_body(const struct acs_clickup_task *t, const char *list_id)
{
	return acs_sweep_clickup_event_body(t, list_id, "taskUpdated");
}

char *acs_sweep_ado_event_body(const struct acs_ado_work_item *wi)
{
	return ado_body(wi);
}

char *acs_sweep_clickup_event_body(const struct acs_clickup_task *t, const char *list_id,
				   const char *event)
{
	char date[32], hid[48];
	snprintf(date, sizeof(date), "%" PRId64, t->date_updated);
	snprintf(hid, sizeof(hid), "sweep-%" PRId64, t->date_updated);
	const char *list = t->list_id && t->list_id[0] ? t->list_id : list_id;
	json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:[{s:s, s:i, s:s, s:s, s:s}]}", "event",
				 event, "task_id", t->id, "list_id", list, "webhook_id", "sweep",
				 "history_items", "id", hid, "type", 1, "date", date, "field",
				 "sweep", "parent_id", list);
	acs_require(root != NULL);
	char *body = acs_json_dumps(root, JSON_COMPACT);
	json_decref(root);
	acs_require(body != NULL);
	return body;
}

static void cu_next(struct acs_sweep *s);

static void tasks_cb(const struct acs_clickup_result *res, struct acs_clickup_task_page *pg,
		     void *arg)
{
	struct acs_sweep *s = arg;
	if (!pg) {
		fail(s, res->error, "ClickUp tasks", res->message);
		finish(s);
		return;
	}
	const char *list_id = s->run_cfg->maps[s->map].clickup_list_id;
	s->inserts++; /* see then() */
	for (size_t i = 0; i < pg->n; i++) {
		const struct acs_clickup_task *t = &pg->tasks[i];
		if (!t->id || !t->id[0])
			continue;
		s->st.clickup_seen++;
		if (t->date_updated > s->seen.cu)
			s->seen.cu = t->date_updated;
		insert(s, "clickup",
		       acs_xasprintf("sweep:clickup:%s:%" PRId64, t->id, t->date_updated),
		       acs_xasprintf("clickup:%s", t->id), clickup_body(t, list_id));
	}
	bool last = pg->last_page || pg->n == 0;
	acs_clickup_task_page_free(pg);
	s->page = last ? 0 : s->page + 1;
	s->inserts--;
	then(s, last ? cu_next : cu_list);
}

/* One page of the current mapping's list. */
static void cu_list(struct acs_sweep *s)
{
	if (s->rc || s->closing) {
		finish(s);
		return;
	}
	struct acs_clickup_task_query q = {
		.list_id = s->run_cfg->maps[s->map].clickup_list_id,
		.page = s->page,
		.date_updated_gt = since(s, s->wm.cu),
		.include_closed = true,
		.reverse = true,
	};
	int rc = acs_clickup_list_tasks(s->cu, ACS_GOVERNOR_BACKGROUND, &q, tasks_cb, s);
	if (rc) {
		fail(s, rc, "ClickUp tasks", NULL);
		finish(s);
	}
}

static void cu_next(struct acs_sweep *s)
{
	s->map++;
	ado_next_map(s);
}

/* --- the run ------------------------------------------------------------------------------ */

static void ado_next_map(struct acs_sweep *s)
{
	if (s->rc || s->closing || s->map >= s->run_cfg->n_maps) {
		finish(s);
		return;
	}
	ado_query(s);
}

static void maybe_free(struct acs_sweep *s)
{
	if (!s->closing || s->running || s->timer_open)
		return;
	void (*cb)(void *) = s->closed_cb;
	void *arg = s->closed_arg;
	free(s);
	if (cb)
		cb(arg);
}

static void release_cfg(struct acs_sweep *s)
{
	if (s->syncer)
		acs_syncer_config_release(s->run_cfg);
	s->run_cfg = NULL;
}

static void end_run(struct acs_sweep *s)
{
	release_cfg(s);
	s->running = false;
	s->st.running = false;
	s->st.runs++;
	if (s->rc)
		s->st.runs_failed++;
	else
		s->st.ado_watermark = s->wm_out.ado, s->st.clickup_watermark = s->wm_out.cu;
	s->st.queued_total += s->st.queued;
	char a[24], c[24], q[24];
	snprintf(a, sizeof(a), "%" PRIu64, s->st.ado_seen);
	snprintf(c, sizeof(c), "%" PRIu64, s->st.clickup_seen);
	snprintf(q, sizeof(q), "%" PRIu64, s->st.queued);
	struct acs_log_field f[] = {
		{ "ado_items", a }, { "clickup_tasks", c }, { "queued", q }, { "error", s->err }
	};
	if (s->rc)
		acs_log_kv(ACS_LOG_WARN, "sweep", "sweep failed; watermarks kept", f, 4);
	else
		acs_log_kv(ACS_LOG_INFO, "sweep", "sweep done", f, 3);
	if (s->st.queued && s->kick && !s->closing)
		s->kick(s->kick_arg);
	acs_sweep_done_cb cb = s->done;
	void *arg = s->done_arg;
	int rc = s->rc;
	char err[ACS_ERR_LEN];
	snprintf(err, sizeof(err), "%s", s->err);
	s->done = NULL;
	if (s->closing) {
		/* cb first: its owner may still look at s's stats from it. */
		if (cb)
			cb(rc, rc ? err : NULL, arg);
		maybe_free(s);
		return;
	}
	if (cb)
		cb(rc, rc ? err : NULL, arg);
}

static void wm_written_cb(int rc, const char *err, void *arg)
{
	struct acs_sweep *s = acs_container_of(arg, struct acs_sweep, wm_out);
	if (rc < 0)
		fail(s, rc, "storing the sweep watermarks", err);
	end_run(s);
}

/* Every call and insert of the run has ended (or the first failure happened and
 * no insert is in flight any more). */
static void finish(struct acs_sweep *s)
{
	if (s->inserts) {
		/* Wait for the writes already queued: they own s. */
		s->after = finish;
		return;
	}
	free(s->ids);
	s->ids = NULL;
	s->n_ids = s->pos = 0;
	if (!s->rc && s->closing)
		fail(s, ACS_ECLOSED, "sweep", "closing");
	if (s->rc) {
		end_run(s);
		return;
	}
	s->wm_out.ado = s->seen.ado > s->wm.ado ? s->seen.ado : s->wm.ado;
	s->wm_out.cu = s->seen.cu > s->wm.cu ? s->seen.cu : s->wm.cu;
	int rc = acs_store_write(s->store, wm_write_fn, wm_written_cb, &s->wm_out);
	if (rc) {
		fail(s, rc, "storing the sweep watermarks", NULL);
		end_run(s);
	}
}

static void wm_read_cb(int rc, const char *err, void *arg)
{
	struct acs_sweep *s = acs_container_of(arg, struct acs_sweep, wm);
	if (rc < 0) {
		fail(s, rc, "reading the sweep watermarks", err);
		end_run(s);
		return;
	}
	s->map = 0;
	ado_next_map(s);
}

int acs_sweep_run(struct acs_sweep *s, acs_sweep_done_cb cb, void *arg)
{
	if (s->closing)
		return ACS_ECLOSED;
	if (s->running)
		return -EBUSY;
	s->done = cb;
	s->done_arg = arg;
	s->rc = 0;
	s->err[0] = '\0';
	memset(&s->wm, 0, sizeof(s->wm));
	memset(&s->seen, 0, sizeof(s->seen));
	memset(&s->wm_out, 0, sizeof(s->wm_out));
	s->st.ado_seen = s->st.clickup_seen = s->st.queued = 0;
	s->map = 0;
	s->page = 0;
	/* The mappings as they are now, the dashboard's included, for the whole run. */
	s->run_cfg = s->syncer ? acs_syncer_config_hold(s->syncer) : s->cfg;
	int rc = acs_store_read(s->store, wm_read_fn, wm_read_cb, &s->wm);
	if (rc) {
		release_cfg(s);
		return rc;
	}
	s->running = true;
	s->st.running = true;
	return 0;
}

void acs_sweep_set_syncer(struct acs_sweep *s, struct acs_syncer *syncer)
{
	s->syncer = syncer;
}

/* --- timer and lifecycle ---------------------------------------------------------------- */

static void tick_cb(uv_timer_t *t)
{
	struct acs_sweep *s = acs_container_of(t, struct acs_sweep, timer);
	if (s->running)
		return; /* never two runs at once: this tick is skipped */
	int rc = acs_sweep_run(s, NULL, NULL);
	if (rc)
		acs_log(ACS_LOG_WARN, "sweep", "sweep not started: %s", acs_strerror(rc));
}

struct acs_sweep *acs_sweep_new(uv_loop_t *loop, struct acs_store *store,
				struct acs_ado_client *ado, struct acs_clickup_client *cu,
				const struct acs_config *cfg, acs_sweep_kick_cb kick,
				void *kick_arg)
{
	struct acs_sweep *s = acs_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->store = store;
	s->ado = ado;
	s->cu = cu;
	s->cfg = cfg;
	s->kick = kick;
	s->kick_arg = kick_arg;
	s->created_ms = acs_inbox_now_ms();
	uv_timer_init(loop, &s->timer);
	s->timer_open = true;
	return s;
}

void acs_sweep_start(struct acs_sweep *s, uint64_t first_delay_ms, uint64_t interval_ms)
{
	if (s->closing)
		return;
	s->interval_ms = interval_ms ? interval_ms : s->cfg->sync.sweep_interval_ms;
	if (!s->interval_ms)
		s->interval_ms = ACS_SWEEP_FIRST_LOOKBACK_MS;
	uv_timer_start(&s->timer, tick_cb, first_delay_ms, s->interval_ms);
}

void acs_sweep_stats(const struct acs_sweep *s, struct acs_sweep_stats *out)
{
	*out = s->st;
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct acs_sweep *s = h->data;
	s->timer_open = false;
	maybe_free(s);
}

void acs_sweep_close(struct acs_sweep *s, void (*cb)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->closed_cb = cb;
	s->closed_arg = arg;
	uv_timer_stop(&s->timer);
	s->timer.data = s;
	uv_close((uv_handle_t *)&s->timer, timer_closed_cb);
}
