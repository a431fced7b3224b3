/* SPDX-License-Identifier: MIT */
/* Composition and start/stop sequencing of the sync engine's parts. */
#include "engine.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "inbox.h"
#include "intake.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "registrar.h"
#include "pairs.h"
#include "scheduler.h"
#include "store.h"
#include "sweep.h"
#include "backfill.h"
#include "attachments.h"
#include "syncer.h"

/* Last deliveries are written to meta at most this often (and at close). */
#define DELIVERY_FLUSH_MS 5000

/* The last delivery received from one subscription or webhook. */
struct delivery_seen {
	char *id; /**< ADO subscriptionId or ClickUp webhook_id */
	int64_t ms;
	bool dirty; /**< not written to meta yet */
};

enum stage {
	STAGE_SECRETS = 0, /**< loading stored ClickUp secrets */
	STAGE_CONTEXT,	   /**< syncer loading API context */
	STAGE_RUNNING,	   /**< scheduler working the inbox */
};

struct acs_engine {
	uv_loop_t *loop;
	const struct acs_config *cfg;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_intake *intake;
	struct acs_syncer *syncer;
	struct acs_scheduler *scheduler;
	struct acs_sweep *sweep; /**< reconciliation sweep, once running */
	/** Backfill runs (dashboard); closed first. */
	struct acs_backfill *backfill;
	uv_timer_t retry_timer;	    /**< re-runs a failed start step */
	uv_timer_t check_timer;	    /**< re-runs the registrar (webhook health) */
	json_t *webhooks;	    /**< the last registrar run described; NULL: none yet */
	json_t *repairs;	    /**< label -> the last repair done (or failed) on it */
	uv_timer_t flush_timer;	    /**< writes the dirty last deliveries to meta */
	struct delivery_seen *seen; /**< few (one per subscription): linear search */
	bool flushed;		    /**< the final flush was done (closing) */
	size_t n_seen, cap_seen;
	struct waiter *waiters; /**< acs_engine_register_now callers of the run in flight */
	enum stage stage;
	bool registering;	  /**< a registrar run is in flight */
	bool close_parts_waiting; /**< closing waits for that run to end */
	bool closing;
	int pending_close; /**< parts still closing */
	char last_error[ACS_ERR_LEN];
	struct acs_metrics *metrics; /**< borrowed; NULL: no metrics */
	struct acs_metric *jobs[3];  /**< acs_sync_jobs_total by enum acs_job_outcome */
	struct acs_metric *latency;  /**< acs_sync_latency_seconds */
	/* The attachment mirror and its scan, once running. */
	struct acs_attachments *attachments;
	const struct acs_config *reg_cfg; /**< the mappings the registrar run works on */
	bool register_again;		  /**< the mappings changed during that run */
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

bool acs_engine_configured(const struct acs_config *cfg, char reason[ACS_ERR_LEN])
{
	/* Mappings may all come from the dashboard: the credentials are what is needed (and
	 * a project for the ADO client when no [map] section names one). */
	const char *missing = NULL;
	if (!cfg->ado.organization[0])
		missing = "[ado] organization";
	else if (!cfg->ado.pat[0])
		missing = "[ado] pat";
	else if (!cfg->clickup.token[0])
		missing = "[clickup] token";
	else if (!cfg->clickup.workspace_id[0])
		missing = "[clickup] workspace_id";
	else if (cfg->n_maps == 0 && !cfg->ado.project[0])
		missing = "[ado] project (or a [map NAME] section)";
	if (missing)
		snprintf(reason, ACS_ERR_LEN, "sync disabled: %s is not configured", missing);
	return missing == NULL;
}

static void step(struct acs_engine *e);
static int register_webhooks(struct acs_engine *e);

static const char *nz_err(const char *s)
{
	return s ? s : "";
}
static void part_closed_cb(void *arg);
static void close_parts(struct acs_engine *e);

static void retry_cb(uv_timer_t *t)
{
	step(acs_container_of(t, struct acs_engine, retry_timer));
}

static void fail_step(struct acs_engine *e, const char *what, const char *err)
{
	snprintf(e->last_error, sizeof(e->last_error), "%s: %s", what, err ? err : "failed");
	struct acs_log_field f[] = { { "step", what }, { "error", err ? err : "" } };
	acs_log_kv(ACS_LOG_ERR, "engine", "start step failed; retrying in 30 s", f, 2);
	if (!e->closing)
		uv_timer_start(&e->retry_timer, retry_cb, ACS_ENGINE_RETRY_MS, 0);
}

static void kick_cb(void *arg)
{
	struct acs_engine *e = arg;
	if (e->scheduler)
		acs_scheduler_kick(e->scheduler);
}

/* A delivery was stored: the scheduler need not read for an item it will read anyway. */
static void delivery_kick_cb(const char *item_key, void *arg)
{
	struct acs_engine *e = arg;
	if (e->scheduler)
		acs_scheduler_kick_item(e->scheduler, item_key);
}

/* --- metrics ------------------------------------------------------------------- */

static const double latency_bounds[] = { 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800 };

void acs_engine_set_metrics(struct acs_engine *e, struct acs_metrics *m)
{
	static const char *const outcomes[] = { "done", "retry", "failed" };
	e->metrics = m;
	acs_metrics_declare(m, "acs_sync_jobs_total", ACS_METRIC_COUNTER,
			    "Sync jobs finished, by outcome (retry and failed count errors).");
	for (size_t i = 0; i < ACS_ARRAY_SIZE(outcomes); i++)
		e->jobs[i] = acs_metrics_series(m, "acs_sync_jobs_total",
						ACS_LABELS("outcome", outcomes[i]));
	acs_metrics_declare_histogram(m, "acs_sync_latency_seconds",
				      "Time from a webhook event being received to its job "
				      "completing (twin written or found up to date).",
				      latency_bounds, ACS_ARRAY_SIZE(latency_bounds));
	e->latency = acs_metrics_series(m, "acs_sync_latency_seconds", ACS_NO_LABELS);
	acs_metrics_declare(m, "acs_webhook_repairs_total", ACS_METRIC_COUNTER,
			    "Webhook subscriptions repaired, by service and action (re-enable, "
			    "update events, update, recreate, create, delete).");
	acs_metrics_declare(m, "acs_webhook_repair_failures_total", ACS_METRIC_COUNTER,
			    "Webhook repairs that failed (retried at the next check), by service "
			    "and action.");
}

/* Each item whose action is not "none" is a repair done, or a failed one. */
static void count_repairs(struct acs_engine *e, const struct acs_registrar_result *res)
{
	static const char *const services[] = { "ado", "clickup", "database" };
	if (!e->metrics)
		return;
	for (size_t i = 0; i < res->n_items; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		if (it->action == ACS_REGISTRAR_ACTION_NONE)
			continue;
		const char *svc = (size_t)it->service < ACS_ARRAY_SIZE(services)
					  ? services[it->service]
					  : "other";
		acs_metrics_add(
			e->metrics,
			it->outcome == ACS_REGISTRAR_FAILED ? "acs_webhook_repair_failures_total"
							    : "acs_webhook_repairs_total",
			ACS_LABELS("service", svc, "action", acs_registrar_action_name(it->action)),
			1);
	}
}

static void set_source(struct acs_metrics *m, const char *source,
		       const struct acs_intake_source_stats *st)
{
	const struct {
		const char *result;
		uint64_t n;
	} r[] = {
		{ "accepted", st->accepted },	{ "duplicate", st->duplicates },
		{ "ignored", st->ignored },	{ "unauthorized", st->unauthorized },
		{ "malformed", st->malformed }, { "failed", st->failed },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(r); i++)
		acs_metrics_set(m, "acs_events_received_total",
				ACS_LABELS("source", source, "result", r[i].result),
				(double)r[i].n);
}

static void set_service(struct acs_metrics *m, const char *svc, int64_t budget,
			const struct acs_governor_stats *st)
{
	const char *const *l = ACS_LABELS("service", svc);
	uint64_t other = st->responses - ACS_MIN(st->responses, st->throttled + st->server_errors);
	acs_metrics_set(m, "acs_api_requests_total", l, (double)st->requests);
	acs_metrics_set(m, "acs_api_responses_total",
			ACS_LABELS("service", svc, "status", "throttled"), (double)st->throttled);
	acs_metrics_set(m, "acs_api_responses_total",
			ACS_LABELS("service", svc, "status", "server_error"),
			(double)st->server_errors);
	acs_metrics_set(m, "acs_api_responses_total", ACS_LABELS("service", svc, "status", "other"),
			(double)other);
	acs_metrics_set(m, "acs_api_requests_in_flight", l, st->in_flight);
	if (st->max_in_flight)
		acs_metrics_set(m, "acs_api_max_in_flight", l, st->max_in_flight);
	acs_metrics_set(m, "acs_api_held_back_total", l, (double)st->denied);
	if (budget >= 0)
		acs_metrics_set(m, "acs_api_budget_remaining", l, (double)budget);
}

void acs_engine_collect_metrics(const struct acs_engine *e, struct acs_metrics *m)
{
	acs_metrics_declare(m, "acs_events_received_total", ACS_METRIC_COUNTER,
			    "Webhook deliveries received, by source and result.");
	acs_metrics_declare(m, "acs_api_requests_total", ACS_METRIC_COUNTER,
			    "REST calls started, by service.");
	acs_metrics_declare(m, "acs_api_responses_total", ACS_METRIC_COUNTER,
			    "REST call outcomes by service and status (throttled: 429; "
			    "server_error: 5xx or transport failure; other: every other answer).");
	acs_metrics_declare(m, "acs_api_requests_in_flight", ACS_METRIC_GAUGE,
			    "REST calls in flight, by service.");
	acs_metrics_declare(m, "acs_api_max_in_flight", ACS_METRIC_GAUGE,
			    "Most REST calls in flight at once, by service ([sync] concurrency).");
	acs_metrics_declare(m, "acs_api_held_back_total", ACS_METRIC_COUNTER,
			    "Times the rate-limit governor made a call wait, by service.");
	acs_metrics_declare(m, "acs_api_budget_remaining", ACS_METRIC_GAUGE,
			    "Requests left in the service's current rate-limit window "
			    "(absent when unknown).");
	acs_metrics_declare(m, "acs_scheduler_jobs_running", ACS_METRIC_GAUGE,
			    "Sync jobs running now.");
	acs_metrics_declare(m, "acs_scheduler_events_queued", ACS_METRIC_GAUGE,
			    "Inbox events known pending at the scheduler's last read.");

	struct acs_intake_stats is;
	acs_intake_stats(e->intake, &is);
	set_source(m, "ado", &is.ado);
	set_source(m, "clickup", &is.clickup);

	struct acs_governor_stats gs;
	acs_ado_client_stats(e->ado, &gs);
	set_service(m, "ado", acs_ado_client_budget_left(e->ado), &gs);
	acs_clickup_client_stats(e->cu, &gs);
	set_service(m, "clickup", acs_clickup_client_budget_left(e->cu), &gs);

	if (e->scheduler) {
		acs_metrics_set(m, "acs_scheduler_jobs_running", ACS_NO_LABELS,
				(double)acs_scheduler_running(e->scheduler));
		acs_metrics_set(m, "acs_scheduler_events_queued", ACS_NO_LABELS,
				(double)acs_scheduler_queued(e->scheduler));
	}
}

/* --- the scheduler's work: the syncer, timed --------------------------------------- */

/* One job in the syncer: remembers the oldest event's arrival for the
 * latency histogram. */
struct work {
	struct acs_engine *e;
	struct acs_job *job;
	int64_t received_at; /**< oldest event of the job, Unix ms */
};

static void record_job(struct acs_engine *e, enum acs_job_outcome outcome, int64_t received_at)
{
	if (!e->metrics)
		return;
	if ((size_t)outcome < ACS_ARRAY_SIZE(e->jobs) && e->jobs[outcome])
		acs_metric_add(e->jobs[outcome], 1);
	/* received_at is wall-clock (inbox rows outlive restarts), so the
	 * latency includes retries and any downtime in between. */
	if (outcome == ACS_JOB_DONE && received_at > 0 && e->latency) {
		int64_t ms = acs_inbox_now_ms() - received_at;
		acs_metric_observe(e->latency, (double)(ms > 0 ? ms : 0) / 1000.0);
	}
}

static void work_done_cb(enum acs_job_outcome outcome, const char *message,
			 const struct acs_job_tail *tail, void *arg)
{
	struct work *w = arg;
	struct acs_job *job = w->job;
	record_job(w->e, outcome, w->received_at);
	free(w);
	acs_job_finish_with(job, outcome, message, tail);
}

/* acs_syncer_work with a completion of our own (the syncer stays unaware of
 * metrics). */
static void engine_work(struct acs_job *job, void *arg)
{
	struct acs_engine *e = arg;
	size_t n = acs_job_event_count(job);
	struct acs_job_event *ev = acs_xcalloc(n ? n : 1, sizeof(*ev));
	struct work *w = acs_xcalloc(1, sizeof(*w));
	w->e = e;
	w->job = job;
	for (size_t i = 0; i < n; i++) {
		ev[i] = *acs_job_event_at(job, i);
		if (ev[i].received_at > 0 &&
		    (!w->received_at || ev[i].received_at < w->received_at))
			w->received_at = ev[i].received_at;
	}
	int rc = acs_syncer_sync_with(e->syncer, acs_job_item_key(job), ev, n,
				      acs_job_prefetched(job), work_done_cb, w);
	free(ev);
	if (rc) {
		enum acs_job_outcome o = rc == ACS_ECLOSED ? ACS_JOB_RETRY : ACS_JOB_FAILED;
		record_job(e, o, 0);
		free(w);
		acs_job_finish(job, o, acs_strerror(rc));
	}
}

/* --- registration (step 5, also repeated by later health checks) ------------ */

struct waiter {
	acs_engine_registered_cb cb;
	void *arg;
	struct waiter *next;
};

static const char *service_name(enum acs_registrar_service s)
{
	static const char *const names[] = { "ado", "clickup", "database" };
	return (size_t)s < ACS_ARRAY_SIZE(names) ? names[s] : "other";
}

/* --- last delivery per subscription (webhook health) ------------------------ */

static struct delivery_seen *seen_find(const struct acs_engine *e, const char *id)
{
	for (size_t i = 0; id && i < e->n_seen; i++)
		if (!strcmp(e->seen[i].id, id))
			return &e->seen[i];
	return NULL;
}

/* One row per dirty entry, copied: a periodic flush needs nothing of the
 * engine afterwards; the final one (closing set) ends the engine's close. */
struct flush_job {
	struct acs_engine *closing; /**< the final flush: its engine, else NULL */
	size_t n;
	char **keys;
	int64_t *ms;
};

static void flush_job_free(struct flush_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->keys[i]);
	free(j->keys);
	free(j->ms);
	free(j);
}

static int flush_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	const struct flush_job *j = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "recording last deliveries", err);
	for (size_t i = 0; i < j->n; i++) {
		char v[24];
		snprintf(v, sizeof(v), "%" PRId64, j->ms[i]);
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, j->keys[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v, -1, SQLITE_TRANSIENT);
		rc = sqlite3_step(st);
		if (rc != SQLITE_DONE) {
			rc = acs_store_error(db, rc, "recording last deliveries", err);
			sqlite3_finalize(st);
			return rc;
		}
	}
	sqlite3_finalize(st);
	return 0;
}

static void flush_done(int rc, const char *err, void *arg)
{
	struct flush_job *j = arg;
	struct acs_engine *e = j->closing;
	/* Only for the report: a lost write costs the value a restart shows. */
	if (rc < 0)
		acs_log(ACS_LOG_WARN, "engine", "cannot record last webhook deliveries: %s", err);
	flush_job_free(j);
	if (e)
		part_closed_cb(e);
}

/* Write the dirty last deliveries to meta (ACS_REGISTRAR_DELIVERY_PREFIX).
 * final: part of the close (flush_done then counts as a closed part).
 * Returns true when a write was submitted. */
static bool flush_deliveries(struct acs_engine *e, bool final)
{
	struct flush_job *j = acs_xcalloc(1, sizeof(*j));
	j->closing = final ? e : NULL;
	for (size_t i = 0; i < e->n_seen; i++)
		j->n += e->seen[i].dirty;
	if (!j->n) {
		free(j);
		return false;
	}
	j->keys = acs_xcalloc(j->n, sizeof(*j->keys));
	j->ms = acs_xcalloc(j->n, sizeof(*j->ms));
	size_t k = 0;
	for (size_t i = 0; i < e->n_seen; i++) {
		if (!e->seen[i].dirty)
			continue;
		j->keys[k] = acs_xasprintf("%s%s", ACS_REGISTRAR_DELIVERY_PREFIX, e->seen[i].id);
		j->ms[k++] = e->seen[i].ms;
		e->seen[i].dirty = false;
	}
	if (acs_store_write(e->store, flush_fn, flush_done, j) == 0)
		return true;
	flush_job_free(j);
	return false;
}

static void flush_cb(uv_timer_t *t)
{
	flush_deliveries(acs_container_of(t, struct acs_engine, flush_timer), false);
}

/* The intake committed a delivery from subscription id: remember when. */
static void delivered_cb(const char *source, const char *id, int64_t received_at, void *arg)
{
	(void)source;
	struct acs_engine *e = arg;
	struct delivery_seen *d = seen_find(e, id);
	if (!d) {
		if (e->n_seen == e->cap_seen) {
			e->cap_seen = e->cap_seen ? 2 * e->cap_seen : 8;
			e->seen = acs_xrealloc(e->seen, e->cap_seen * sizeof(*e->seen));
		}
		d = &e->seen[e->n_seen++];
		d->id = acs_xstrdup(id);
		d->ms = 0;
	}
	if (received_at <= d->ms)
		return;
	d->ms = received_at;
	d->dirty = true;
	if (!e->closing && !uv_is_active((uv_handle_t *)&e->flush_timer))
		uv_timer_start(&e->flush_timer, flush_cb, DELIVERY_FLUSH_MS, 0);
}

/* The last delivery from id: what this process saw, else what meta had at
 * the registrar run (stored_ms). */
static json_t *last_delivery_json(const struct acs_engine *e, const char *id, int64_t stored_ms)
{
	const struct delivery_seen *d = seen_find(e, id);
	int64_t ms = d && d->ms > stored_ms ? d->ms : stored_ms;
	return ms > 0 ? json_integer((json_int_t)ms) : json_null();
}

static json_t *events_json(const struct acs_registrar_item *it)
{
	json_t *a = json_array();
	for (size_t k = 0; k < it->n_events; k++)
		json_array_append_new(a, json_string(it->events[k]));
	return a;
}

/* The run as the API shows it: everything but the secrets. Each item is
 * the subscription as it is after the run: its state then, and the repair
 * still due (the planned one when it failed, else none). */
static json_t *describe(struct acs_engine *e, const struct acs_registrar_result *res)
{
	json_int_t now = (json_int_t)acs_inbox_now_ms();
	json_t *items = json_array();
	for (size_t i = 0; i < res->n_items; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		bool failed = it->outcome == ACS_REGISTRAR_FAILED;
		enum acs_registrar_action due = failed ? it->action : ACS_REGISTRAR_ACTION_NONE;
		json_t *o = json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o, s:s?, s:s}", "service",
				      service_name(it->service), "label",
				      it->label ? it->label : "", "id", it->id, "outcome",
				      acs_registrar_outcome_name(it->outcome), "detail",
				      it->detail ? it->detail : "", "events", events_json(it),
				      "state", it->state_after, "action",
				      acs_registrar_action_name(due));
		json_object_set_new(o, "fail_count",
				    it->fail_count_after >= 0
					    ? json_integer((json_int_t)it->fail_count_after)
					    : json_null());
		json_object_set_new(o, "last_delivery_ms",
				    json_integer((json_int_t)it->last_delivery_ms));
		if (it->action != ACS_REGISTRAR_ACTION_NONE &&
		    it->outcome != ACS_REGISTRAR_UNCHANGED && it->label) {
			json_t *rep = json_pack("{s:I, s:s, s:s?, s:s, s:s}", "time", now, "action",
						acs_registrar_action_name(it->action), "from_state",
						it->state, "outcome",
						acs_registrar_outcome_name(it->outcome), "detail",
						it->detail ? it->detail : "");
			if (it->fail_count >= 0)
				json_object_set_new(rep, "from_fail_count",
						    json_integer((json_int_t)it->fail_count));
			json_object_set_new(e->repairs, it->label, rep);
		}
		json_array_append_new(items, o);
	}
	return json_pack("{s:I, s:o, s:I}", "time", now, "items", items, "failed",
			 (json_int_t)res->n_failed);
}

/* One line per run; each subscription was logged by the registrar itself.
 * A check that found everything right says so at debug level only. */
static void log_summary(const struct acs_registrar_result *res)
{
	size_t n[ACS_REGISTRAR_FAILED + 1] = { 0 };
	for (size_t i = 0; i < res->n_items; i++)
		if ((size_t)res->items[i].outcome < ACS_ARRAY_SIZE(n))
			n[res->items[i].outcome]++;
	enum acs_log_level lvl = res->n_failed				      ? ACS_LOG_WARN
				 : n[ACS_REGISTRAR_UNCHANGED] == res->n_items ? ACS_LOG_DEBUG
									      : ACS_LOG_INFO;
	acs_log(lvl, "engine",
		"webhook check: %zu unchanged, %zu created, %zu updated, %zu recreated, "
		"%zu deleted, %zu failed",
		n[ACS_REGISTRAR_UNCHANGED], n[ACS_REGISTRAR_CREATED], n[ACS_REGISTRAR_UPDATED],
		n[ACS_REGISTRAR_RECREATED], n[ACS_REGISTRAR_DELETED], n[ACS_REGISTRAR_FAILED]);
}

/* Detach the waiters first: a callback may call acs_engine_register_now. */
static void notify_waiters(struct acs_engine *e, int rc)
{
	struct waiter *w = e->waiters;
	e->waiters = NULL;
	while (w) {
		struct waiter *next = w->next;
		w->cb(rc, rc == 0 ? e->webhooks : NULL, w->arg);
		free(w);
		w = next;
	}
}

static void registered_cb(struct acs_registrar_result *res, void *arg)
{
	struct acs_engine *e = arg;
	e->registering = false;
	acs_syncer_config_release(e->reg_cfg);
	e->reg_cfg = NULL;
	if (!e->closing)
		acs_intake_expect_secrets(e->intake, false);
	if (e->closing) {
		/* Its calls were canceled by the closing clients. */
		acs_registrar_result_free(res);
		notify_waiters(e, ACS_ECLOSED);
		if (e->close_parts_waiting)
			close_parts(e);
		return;
	}
	/* The registrar logged each subscription it looked at. */
	for (size_t i = 0; i < res->n_secrets; i++)
		acs_intake_set_clickup_secret(e->intake, res->secrets[i].webhook_id,
					      res->secrets[i].secret);
	count_repairs(e, res);
	if (res->n_failed)
		snprintf(e->last_error, sizeof(e->last_error),
			 "%zu webhook subscription(s) could not be registered", res->n_failed);
	log_summary(res);
	json_decref(e->webhooks);
	e->webhooks = describe(e, res);
	acs_registrar_result_free(res);
	notify_waiters(e, 0);
	if (e->register_again && !e->closing) {
		e->register_again = false;
		register_webhooks(e);
	}
}

static int register_webhooks(struct acs_engine *e)
{
	if (e->closing)
		return ACS_ECLOSED;
	if (e->registering)
		return 0;
	if (!e->cfg->server.public_url[0])
		return -EINVAL;
	/* Deliveries for the webhook being created may arrive before its secret
	 * comes back: they get 503 (retry) rather than 401 until then. */
	acs_intake_expect_secrets(e->intake, true);
	/* The mappings in use, the dashboard's included: held until the run ends. */
	e->reg_cfg = acs_syncer_config_hold(e->syncer);
	int rc = acs_registrar_run(e->loop, e->reg_cfg, e->ado, e->cu, e->store, registered_cb, e);
	if (rc == 0) {
		e->registering = true;
		return 0;
	}
	acs_syncer_config_release(e->reg_cfg);
	e->reg_cfg = NULL;
	acs_intake_expect_secrets(e->intake, false);
	acs_log(ACS_LOG_WARN, "engine", "webhook registration not started: %s", acs_strerror(rc));
	return rc;
}

/* The periodic health check: the registrar re-enables what the services
 * disabled and recreates what was deleted. A run still in flight (e.g. a
 * slow first one) is simply not doubled. */
static void check_cb(uv_timer_t *t)
{
	register_webhooks(acs_container_of(t, struct acs_engine, check_timer));
}

int acs_engine_register_now(struct acs_engine *e, acs_engine_registered_cb cb, void *arg)
{
	if (e->closing)
		return ACS_ECLOSED;
	if (e->stage != STAGE_RUNNING)
		return -EAGAIN;
	int rc = register_webhooks(e);
	if (rc)
		return rc;
	struct waiter *w = acs_xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	w->next = e->waiters;
	e->waiters = w;
	return 0;
}

json_t *acs_engine_webhooks_json(const struct acs_engine *e)
{
	json_t *o = e->webhooks ? json_deep_copy(e->webhooks)
				: json_pack("{s:n, s:[], s:i}", "time", "items", "failed", 0);
	json_object_set_new(o, "running", json_boolean(e->registering));
	/* Fresh per request: deliveries keep arriving between two checks. */
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(o, "items"), i, it)
	{
		json_t *ld = json_object_get(it, "last_delivery_ms");
		int64_t stored = json_is_integer(ld) ? (int64_t)json_integer_value(ld) : 0;
		json_object_set_new(it, "last_delivery",
				    last_delivery_json(e,
						       json_string_value(json_object_get(it, "id")),
						       stored));
		json_object_del(it, "last_delivery_ms");
		const char *label = json_string_value(json_object_get(it, "label"));
		json_t *rep = label ? json_object_get(e->repairs, label) : NULL;
		json_object_set_new(it, "last_repair", rep ? json_deep_copy(rep) : json_null());
	}
	return o;
}

/* --- start sequence ------------------------------------------------------------ */

static void secrets_loaded_cb(int rc, const char *err, void *arg)
{
	struct acs_engine *e = arg;
	if (e->closing)
		return;
	if (rc < 0) {
		fail_step(e, "load webhook secrets", err);
		return;
	}
	e->stage = STAGE_CONTEXT;
	step(e);
}

static void syncer_ready_cb(int rc, const char *err, void *arg)
{
	struct acs_engine *e = arg;
	if (e->closing)
		return;
	if (rc < 0) {
		fail_step(e, "load mapping context from the APIs", err);
		return;
	}
	struct acs_scheduler_opts o;
	acs_scheduler_opts_defaults(&o);
	o.concurrency = (unsigned)e->cfg->sync.concurrency;
	o.max_attempts = (unsigned)e->cfg->sync.max_attempts;
	o.cooldown_ms = ACS_SCHEDULER_COOLDOWN_MS;
	o.prefetch = acs_pairs_prefetch; /* the syncer's first read, done with the claim */
	o.prefetch_free = acs_pairs_found_free;
	o.parse_bodies = true; /* the syncer's parse of each event, on the reader thread */
	e->scheduler = acs_scheduler_new(e->loop, e->store, &o, engine_work, e);
	/* Catches what webhooks missed; its rows go through the same scheduler. */
	e->sweep = acs_sweep_new(e->loop, e->store, e->ado, e->cu, e->cfg, kick_cb, e);
	acs_sweep_set_syncer(e->sweep, e->syncer);
	acs_sweep_start(e->sweep, ACS_SWEEP_FIRST_DELAY_MS, e->cfg->sync.sweep_interval_ms);
	/* ClickUp sends no webhook for a task attachment: the mirror scans for them. */
	char aerr[ACS_ERR_LEN];
	e->attachments = acs_attachments_new(e->loop, e->store, e->ado, e->cu, e->cfg, aerr);
	if (!e->attachments)
		acs_log(ACS_LOG_ERR, "engine", "attachments are not mirrored: %s", aerr);
	else if (e->cfg->sync.attachment_max_bytes)
		(void)acs_attachments_start(e->attachments);
	/* Jobs bring files along when their events show some (syncer.h ATTACHMENTS); the
	 * mirror closes after the syncer. */
	acs_syncer_set_attachments(e->syncer, e->attachments);
	e->stage = STAGE_RUNNING;
	e->last_error[0] = '\0';
	const struct acs_config *maps = acs_syncer_config_hold(e->syncer);
	acs_log(ACS_LOG_INFO, "engine", "sync running (%zu mapping%s)", maps->n_maps,
		maps->n_maps == 1 ? "" : "s");
	acs_syncer_config_release(maps);
	register_webhooks(e);
	uint64_t every = e->cfg->sync.webhook_check_interval_ms;
	if (every && e->cfg->server.public_url[0])
		uv_timer_start(&e->check_timer, check_cb, every, every);
}

static void step(struct acs_engine *e)
{
	int rc;
	if (e->closing)
		return;
	switch (e->stage) {
	case STAGE_SECRETS:
		rc = acs_intake_load_secrets(e->intake, secrets_loaded_cb, e);
		if (rc)
			fail_step(e, "load webhook secrets", acs_strerror(rc));
		break;
	case STAGE_CONTEXT:
		rc = acs_syncer_start(e->syncer, syncer_ready_cb, e);
		if (rc)
			fail_step(e, "load mapping context from the APIs", acs_strerror(rc));
		break;
	case STAGE_RUNNING:
		break;
	}
}

void acs_engine_start(struct acs_engine *e)
{
	e->stage = STAGE_SECRETS;
	step(e);
}

bool acs_engine_ready(const struct acs_engine *e, char reason[ACS_ERR_LEN])
{
	if (e->stage == STAGE_RUNNING)
		return true;
	snprintf(reason, ACS_ERR_LEN, "sync starting%s%s", e->last_error[0] ? ": " : "",
		 e->last_error);
	return false;
}

/* --- construction ------------------------------------------------------------------ */

/* A service's governor: its preset, with as many requests in flight as [sync]
 * concurrency lets syncs run ("how many API calls run at the same time"). The
 * preset's 4 held half the job slots back whenever the jobs of a burst all called
 * one service (bench: 1,980-2,380 changes/s against 2,450-2,730 with 8). */
static void governor_opts(struct acs_governor_opts *o, enum acs_governor_service svc,
			  const struct acs_config *cfg)
{
	acs_governor_opts_init(o, svc);
	o->max_concurrency = (uint32_t)cfg->sync.concurrency;
	uv_random(NULL, NULL, &o->seed, sizeof(o->seed), 0, NULL);
}

struct acs_engine *acs_engine_new(uv_loop_t *loop, const struct acs_config *cfg,
				  struct acs_http_server *http, struct acs_curl_loop *cl,
				  struct acs_store *store, char err[ACS_ERR_LEN])
{
	struct acs_engine *e = acs_xcalloc(1, sizeof(*e));
	e->loop = loop;
	e->cfg = cfg;
	e->store = store;

	struct acs_governor_opts ag, cg;
	governor_opts(&ag, ACS_GOVERNOR_ADO, cfg);
	governor_opts(&cg, ACS_GOVERNOR_CLICKUP, cfg);
	struct acs_ado_client_opts ao = {
		.base_url = cfg->ado.base_url,
		.organization = cfg->ado.organization,
		.project = cfg->ado.project[0] ? cfg->ado.project : cfg->maps[0].ado_project,
		.pat = cfg->ado.pat,
		.governor = &ag,
	};
	e->ado = acs_ado_client_new(loop, cl, &ao, err);
	if (!e->ado)
		goto fail;
	struct acs_clickup_client_opts co = {
		.base_url = cfg->clickup.base_url,
		.token = cfg->clickup.token,
		.governor = &cg,
	};
	e->cu = acs_clickup_client_new(loop, cl, &co, err);
	if (!e->cu)
		goto fail;
	struct acs_intake_opts io = {
		.ado_username = cfg->ado.webhook_username,
		.ado_password = cfg->ado.webhook_password,
	};
	e->intake = acs_intake_new(loop, http, store, &io, delivery_kick_cb, e);
	if (!e->intake) {
		snprintf(err, ACS_ERR_LEN, "cannot set up the webhook intake");
		goto fail;
	}
	e->syncer = acs_syncer_new(loop, store, e->ado, e->cu, cfg, err);
	if (!e->syncer)
		goto fail;
	uv_timer_init(loop, &e->retry_timer);
	uv_timer_init(loop, &e->check_timer);
	uv_timer_init(loop, &e->flush_timer);
	e->repairs = json_object();
	acs_intake_set_delivery_cb(e->intake, delivered_cb, e);
	/* Its rows wait in the inbox until the scheduler runs. */
	e->backfill = acs_backfill_new(loop, store, e->ado, e->cu, cfg, kick_cb, e);
	acs_backfill_set_syncer(e->backfill, e->syncer);
	return e;
fail:
	/* Partially built parts close asynchronously; the app's failure path
	 * runs the loop until they are gone. */
	if (e->intake)
		acs_intake_close(e->intake, NULL, NULL);
	if (e->cu)
		acs_clickup_client_close(e->cu, NULL, NULL);
	if (e->ado)
		acs_ado_client_close(e->ado, NULL, NULL);
	free(e);
	return NULL;
}

/* --- shutdown, in reverse ------------------------------------------------------------- */

static void part_closed_cb(void *arg)
{
	struct acs_engine *e = arg;
	if (--e->pending_close > 0)
		return;
	void (*cb)(void *) = e->closed_cb;
	void *cb_arg = e->closed_arg;
	/* The intake is gone: no delivery can come after this last write
	 * (the store outlives the engine), which the close waits for. */
	if (!e->flushed) {
		e->flushed = true;
		e->pending_close = 1;
		if (flush_deliveries(e, true))
			return;
		e->pending_close = 0;
	}
	for (size_t i = 0; i < e->n_seen; i++)
		free(e->seen[i].id);
	free(e->seen);
	json_decref(e->repairs);
	json_decref(e->webhooks);
	free(e);
	if (cb)
		cb(cb_arg);
}

static void timer_closed_cb(uv_handle_t *h)
{
	part_closed_cb(h->data);
}

static void close_parts(struct acs_engine *e)
{
	e->close_parts_waiting = false;
	e->pending_close = 6;
	e->retry_timer.data = e;
	uv_close((uv_handle_t *)&e->retry_timer, timer_closed_cb);
	e->flush_timer.data = e;
	uv_close((uv_handle_t *)&e->flush_timer, timer_closed_cb);
	e->check_timer.data = e;
	uv_close((uv_handle_t *)&e->check_timer, timer_closed_cb);
	acs_intake_close(e->intake, part_closed_cb, e);
	acs_clickup_client_close(e->cu, part_closed_cb, e);
	acs_ado_client_close(e->ado, part_closed_cb, e);
}

static void syncer_closed_cb(void *arg)
{
	struct acs_engine *e = arg;
	/* The attachment mirror after the syncer (which may be waiting on it) and before
	 * the clients it uses; back here once it is gone. */
	if (e->attachments) {
		struct acs_attachments *a = e->attachments;
		e->attachments = NULL;
		acs_attachments_close(a, syncer_closed_cb, e);
		return;
	}
	/* The clients last: nothing else uses them now. A registrar run in
	 * flight is let finish first (like a sweep run): between two calls it
	 * waits on the store, and would come back to freed clients. */
	if (e->registering)
		e->close_parts_waiting = true;
	else
		close_parts(e);
}

static void scheduler_closed_cb(void *arg)
{
	struct acs_engine *e = arg;
	e->scheduler = NULL;
	acs_syncer_close(e->syncer, syncer_closed_cb, e);
}

static void sweep_closed_cb(void *arg)
{
	struct acs_engine *e = arg;
	e->sweep = NULL;
	if (e->scheduler)
		acs_scheduler_close(e->scheduler, scheduler_closed_cb, e);
	else
		scheduler_closed_cb(e);
}

static void backfill_closed_cb(void *arg)
{
	struct acs_engine *e = arg;
	e->backfill = NULL;
	if (e->sweep)
		acs_sweep_close(e->sweep, sweep_closed_cb, e);
	else
		sweep_closed_cb(e);
}

void acs_engine_close(struct acs_engine *e, void (*cb)(void *arg), void *arg)
{
	if (!e || e->closing)
		return;
	e->closing = true;
	e->closed_cb = cb;
	e->closed_arg = arg;
	uv_timer_stop(&e->retry_timer);
	uv_timer_stop(&e->check_timer);
	/* A backfill run, then the sweep: each ends (its calls finish) before
	 * the scheduler its rows would go to and the clients it uses close. */
	if (e->backfill)
		acs_backfill_close(e->backfill, backfill_closed_cb, e);
	else
		backfill_closed_cb(e);
}

struct acs_backfill *acs_engine_backfill(struct acs_engine *e)
{
	return e && !e->closing ? e->backfill : NULL;
}

struct acs_ado_client *acs_engine_ado(struct acs_engine *e)
{
	return e->ado;
}

struct acs_clickup_client *acs_engine_clickup(struct acs_engine *e)
{
	return e->cu;
}

void acs_engine_kick(struct acs_engine *e)
{
	if (!e->closing)
		kick_cb(e);
}

/* --- mappings changed in the dashboard ------------------------------------------------ */

struct reload {
	struct acs_engine *e;
	acs_engine_reloaded_cb cb;
	void *arg;
};

static void reloaded_cb(int rc, const char *err, void *arg)
{
	struct reload *rl = arg;
	struct acs_engine *e = rl->e;
	if (rc != ACS_ECANCELED && rc != ACS_ECLOSED && !e->closing) {
		if (rc && rc != ACS_EHTTP)
			acs_log(ACS_LOG_ERR, "engine", "mappings not reloaded: %s", nz_err(err));
		/* A new list or project needs its webhooks (an ACS_EHTTP reload applied the
		 * mappings the APIs accepted). */
		if ((!rc || rc == ACS_EHTTP) && e->cfg->server.public_url[0]) {
			if (e->registering)
				e->register_again = true;
			else
				register_webhooks(e);
		}
		acs_engine_kick(e);
	}
	if (rl->cb)
		rl->cb(rc, err, rl->arg);
	free(rl);
}

int acs_engine_reload_maps(struct acs_engine *e, acs_engine_reloaded_cb cb, void *arg)
{
	if (e->closing)
		return ACS_ECLOSED;
	if (e->stage != STAGE_RUNNING)
		return -EAGAIN;
	struct reload *rl = acs_xcalloc(1, sizeof(*rl));
	rl->e = e;
	rl->cb = cb;
	rl->arg = arg;
	int rc = acs_syncer_reload(e->syncer, reloaded_cb, rl);
	if (rc)
		free(rl);
	return rc;
}

struct acs_attachments *acs_engine_attachments(struct acs_engine *e)
{
	return e->attachments;
}
