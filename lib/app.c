/* SPDX-License-Identifier: MIT */
/* Composition of the service modules, the built-in routes and the drain. */
#include "app.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acs_build.h"
#include "admin.h"
#include "backfill.h"
#include "config.h"
#include "curl_loop.h"
#include "dashboard.h"
#include "engine.h"
#include "err.h"
#include "http_server.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "store.h"

#define LAG_TICK_MS 250
#define DRAIN_POLL_MS 10
/* Ceiling of one /metrics answer (a few KiB in practice). */
#define METRICS_MAX_BYTES (4u << 20)

struct acs_app {
	uv_loop_t *loop;
	const struct acs_config *cfg; /**< borrowed */
	struct acs_http_server *http;
	struct acs_curl_loop *curl;
	struct acs_store *store;
	struct acs_engine *engine;    /**< NULL when syncing is not configured */
	struct acs_metrics *metrics;  /**< GET /metrics; outlives the engine */
	struct acs_admin *admin;      /**< dashboard assets, login and the session gate */
	char engine_off[ACS_ERR_LEN]; /**< why engine is NULL */
	uv_timer_t lag_timer;	      /**< measures loop lag for /api/ready */
	uv_timer_t drain_timer;	      /**< polls the drain during shutdown */
	int open_handles;	      /**< of the two timers; freed when 0 */
	uint64_t lag_expected;	      /**< loop time the next tick is due */
	uint64_t lag_ms;	      /**< latest measured lag */
	uint64_t drain_deadline;
	bool stopping;
	acs_app_stopped_cb stopped_cb;
	void *stopped_arg;
	/** The admin API: stats, mappings, sync log, error queue, event streams. */
	struct acs_dashboard *dashboard;
	struct acs_backfill_routes backfill_routes; /**< POST .../backfill, GET progress */
};

int acs_app_db_path(const char *url, char *out, size_t outlen, char err[ACS_ERR_LEN])
{
	if (strncmp(url, "sqlite:", 7) != 0 || url[7] == '\0') {
		snprintf(err, ACS_ERR_LEN, "database url '%s' is not sqlite:PATH", url);
		return ACS_ECONFIG;
	}
	const char *p = url + 7;
	/* sqlite:///abs/path and sqlite://rel are accepted like sqlite:PATH. */
	if (strncmp(p, "//", 2) == 0)
		p += 2;
	if ((size_t)snprintf(out, outlen, "%s", p) >= outlen) {
		snprintf(err, ACS_ERR_LEN, "database path too long");
		return ACS_ECONFIG;
	}
	return 0;
}

/* The default database lives in /var/lib/ado-clickup-sync: create that one
 * directory level (0700) when missing so a first start just works. */
static int ensure_parent_dir(const char *path, char err[ACS_ERR_LEN])
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	struct stat st;
	if (stat(dir, &st) == 0)
		return 0;
	if (mkdir(dir, 0700) != 0) {
		int e = errno;
		snprintf(err, ACS_ERR_LEN, "cannot create database directory %s: %s", dir,
			 strerror(e));
		return -e;
	}
	return 0;
}

/* --- built-in routes ------------------------------------------------------ */

static void health_cb(struct acs_http_req *req, void *arg)
{
	(void)arg;
	json_t *j = json_pack("{s:s, s:s}", "status", "ok", "version", ACS_VERSION);
	acs_http_respond_json(req, 200, j);
}

static void ready_cb(struct acs_http_req *req, void *arg)
{
	struct acs_app *app = arg;
	char reason[ACS_ERR_LEN];
	json_t *reasons = json_array();

	if (app->stopping)
		json_array_append_new(reasons, json_string("shutting down"));
	if (!acs_store_healthy(app->store, reason))
		json_array_append_new(reasons, json_sprintf("database: %s", reason));
	if (app->lag_ms > ACS_APP_MAX_LOOP_LAG_MS)
		json_array_append_new(reasons, json_sprintf("event loop lagging by %llu ms",
							    (unsigned long long)app->lag_ms));
	const char *sync = "disabled";
	if (app->engine) {
		sync = "running";
		if (!acs_engine_ready(app->engine, reason)) {
			sync = "starting";
			json_array_append_new(reasons, json_string(reason));
		}
	}
	json_t *checks = json_pack("{s:s, s:I, s:s}", "database",
				   acs_store_healthy(app->store, reason) ? "ok" : "failing",
				   "loop_lag_ms", (json_int_t)app->lag_ms, "sync", sync);
	if (json_array_size(reasons) == 0) {
		json_decref(reasons);
		acs_http_respond_json(req, 200,
				      json_pack("{s:s, s:o}", "status", "ready", "checks", checks));
	} else {
		acs_http_respond_json(req, 503,
				      json_pack("{s:s, s:o, s:o}", "status", "not ready", "reasons",
						reasons, "checks", checks));
	}
}

static void lag_tick_cb(uv_timer_t *t)
{
	struct acs_app *app = acs_container_of(t, struct acs_app, lag_timer);
	uint64_t now = uv_now(app->loop);
	app->lag_ms = now > app->lag_expected ? now - app->lag_expected : 0;
	app->lag_expected = now + LAG_TICK_MS;
}

/* --- GET /metrics ------------------------------------------------------------ */

/* One scrape: waits for the inbox counts (a read on the store's reader
 * thread), then renders. */
struct metrics_req {
	struct acs_app *app;
	struct acs_http_req *req;
	struct acs_inbox_counts counts; /**< the store read job */
};

/* Resident set size from /proc/self/statm and the number of open fds from
 * /proc/self/fd. These are synchronous reads, but of procfs: answered from
 * kernel memory without touching a disk, a few microseconds, and only once
 * per scrape, so they are fine on the loop thread. */
static void collect_process(struct acs_metrics *m)
{
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		unsigned long long size, resident;
		if (fscanf(f, "%llu %llu", &size, &resident) == 2) {
			long page = sysconf(_SC_PAGESIZE);
			acs_metrics_set(m, "acs_process_resident_memory_bytes", ACS_NO_LABELS,
					(double)resident * (double)(page > 0 ? page : 4096));
			acs_metrics_set(m, "acs_process_virtual_memory_bytes", ACS_NO_LABELS,
					(double)size * (double)(page > 0 ? page : 4096));
		}
		fclose(f);
	}
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		long n = 0;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] != '.')
				n++;
		}
		closedir(d);
		/* Less the descriptor of the directory stream itself. */
		acs_metrics_set(m, "acs_process_open_fds", ACS_NO_LABELS, (double)(n - 1));
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		acs_metrics_set(m, "acs_process_max_fds", ACS_NO_LABELS, (double)rl.rlim_cur);
}

static void collect_cb(struct acs_metrics *m, void *arg)
{
	struct acs_app *app = arg;
	collect_process(m);
	acs_metrics_set(m, "acs_build_info", ACS_LABELS("version", ACS_VERSION), 1);
	acs_metrics_set(m, "acs_event_loop_lag_seconds", ACS_NO_LABELS,
			(double)app->lag_ms / 1000.0);
	acs_metrics_set(m, "acs_http_requests_in_flight", ACS_NO_LABELS,
			(double)acs_http_server_inflight(app->http));

	struct acs_store_stats st;
	acs_store_stats(app->store, &st);
	acs_metrics_set(m, "acs_store_write_jobs_total", ACS_LABELS("result", "committed"),
			(double)st.jobs_committed);
	acs_metrics_set(m, "acs_store_write_jobs_total", ACS_LABELS("result", "failed"),
			(double)st.jobs_failed);
	acs_metrics_set(m, "acs_store_commits_total", ACS_LABELS("result", "ok"),
			(double)st.batches_committed);
	acs_metrics_set(m, "acs_store_commits_total", ACS_LABELS("result", "failed"),
			(double)st.commit_failures);
	acs_metrics_set(m, "acs_store_reads_total", ACS_LABELS("result", "ok"),
			(double)(st.reads_done - ACS_MIN(st.reads_done, st.reads_failed)));
	acs_metrics_set(m, "acs_store_reads_total", ACS_LABELS("result", "failed"),
			(double)st.reads_failed);
	acs_metrics_set(m, "acs_store_jobs_pending", ACS_NO_LABELS, (double)st.pending);

	acs_metrics_set(m, "acs_sync_enabled", ACS_NO_LABELS, app->engine ? 1 : 0);
	if (app->engine)
		acs_engine_collect_metrics(app->engine, m);
}

static void declare_metrics(struct acs_metrics *m)
{
	static const struct {
		const char *name;
		enum acs_metric_type type;
		const char *help;
	} d[] = {
		{ "acs_process_resident_memory_bytes", ACS_METRIC_GAUGE,
		  "Resident set size of the daemon in bytes." },
		{ "acs_process_virtual_memory_bytes", ACS_METRIC_GAUGE,
		  "Virtual memory size of the daemon in bytes." },
		{ "acs_process_open_fds", ACS_METRIC_GAUGE, "Open file descriptors." },
		{ "acs_process_max_fds", ACS_METRIC_GAUGE, "Limit on open file descriptors." },
		{ "acs_build_info", ACS_METRIC_GAUGE, "Always 1; the version is a label." },
		{ "acs_event_loop_lag_seconds", ACS_METRIC_GAUGE,
		  "Latest measured event loop lag." },
		{ "acs_http_requests_in_flight", ACS_METRIC_GAUGE,
		  "Inbound HTTP requests not yet answered." },
		{ "acs_store_write_jobs_total", ACS_METRIC_COUNTER,
		  "Database write jobs, by result." },
		{ "acs_store_commits_total", ACS_METRIC_COUNTER,
		  "Database write transactions, by result." },
		{ "acs_store_reads_total", ACS_METRIC_COUNTER, "Database read jobs, by result." },
		{ "acs_store_jobs_pending", ACS_METRIC_GAUGE,
		  "Database jobs submitted and not yet completed." },
		{ "acs_inbox_events", ACS_METRIC_GAUGE,
		  "Inbox rows by state (queue depth: state=\"pending\"; error queue: "
		  "state=\"error\")." },
		{ "acs_sync_enabled", ACS_METRIC_GAUGE,
		  "1 when the configuration enables syncing." },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(d); i++)
		acs_metrics_declare(m, d[i].name, d[i].type, d[i].help);
}

static void metrics_answer(struct metrics_req *mr, bool have_counts)
{
	struct acs_app *app = mr->app;
	if (have_counts) {
		for (int i = 0; i < ACS_INBOX_NSTATES; i++)
			acs_metrics_set(app->metrics, "acs_inbox_events",
					ACS_LABELS("state", acs_inbox_state_name(i)),
					(double)mr->counts.n[i]);
	}
	acs_metrics_collect(app->metrics);
	struct acs_buf b;
	acs_buf_init(&b, METRICS_MAX_BYTES);
	if (acs_metrics_render(app->metrics, &b) == 0)
		acs_http_respond(mr->req, 200, ACS_METRICS_CONTENT_TYPE, b.data ? b.data : "",
				 b.len);
	else
		acs_http_respond_error(mr->req, 500, "metrics too large", NULL);
	acs_buf_free(&b);
	free(mr);
}

static void metrics_counts_cb(int rc, const char *err, void *arg)
{
	struct metrics_req *mr = acs_container_of(arg, struct metrics_req, counts);
	if (rc < 0)
		acs_log(ACS_LOG_WARN, "app", "metrics: inbox counts: %s", err ? err : "failed");
	/* Stale counts are worse than none: a failed read leaves them out. */
	if (rc < 0)
		acs_metrics_reset(mr->app->metrics, "acs_inbox_events");
	metrics_answer(mr, rc >= 0);
}

static void metrics_cb(struct acs_http_req *req, void *arg)
{
	struct metrics_req *mr = acs_xcalloc(1, sizeof(*mr));
	mr->app = arg;
	mr->req = req;
	/* The queue depth is a count in the database: read it off the loop
	 * thread and answer when it is done. */
	if (acs_inbox_counts(mr->app->store, &mr->counts, metrics_counts_cb) != 0) {
		acs_metrics_reset(mr->app->metrics, "acs_inbox_events");
		metrics_answer(mr, false);
	}
}

/* --- construction ----------------------------------------------------------- */

/* --- /api/setup: webhook registration (admin) ------------------------------- */

/* 503 with the reason when there is no engine; true when there is one. */
static bool need_engine(struct acs_app *app, struct acs_http_req *req)
{
	if (app->engine)
		return true;
	acs_http_respond_error(req, 503, "sync not configured", app->engine_off);
	return false;
}

/* The engine's backfill for the backfill routes; NULL without sync (503). */
static struct acs_backfill *app_backfill(void *arg)
{
	struct acs_app *app = arg;
	return app->engine ? acs_engine_backfill(app->engine) : NULL;
}

static void setup_webhooks_cb(struct acs_http_req *req, void *arg)
{
	struct acs_app *app = arg;
	if (!acs_admin_require(app->admin, req, false, NULL) || !need_engine(app, req))
		return;
	acs_http_respond_json(req, 200, acs_engine_webhooks_json(app->engine));
}

static void registered_cb(int rc, json_t *webhooks, void *arg)
{
	struct acs_http_req *req = arg;
	if (rc == 0)
		acs_http_respond_json(req, 200, json_deep_copy(webhooks));
	else
		acs_http_respond_error(req, 503, "registration interrupted", acs_strerror(rc));
}

/* Runs the registrar now (or joins the run in flight) and answers with its
 * fresh result. The request stays valid until answered, even when the
 * engine closes first (then 503). */
static void setup_register_cb(struct acs_http_req *req, void *arg)
{
	struct acs_app *app = arg;
	char reason[ACS_ERR_LEN];
	if (!acs_admin_require(app->admin, req, true, NULL) || !need_engine(app, req))
		return;
	int rc = acs_engine_register_now(app->engine, registered_cb, req);
	if (rc == 0)
		return;
	if (rc == -EAGAIN && !acs_engine_ready(app->engine, reason))
		acs_http_respond_error(req, 503, "sync not running", reason);
	else if (rc == -EINVAL)
		acs_http_respond_error(req, 409, "public_url not configured",
				       "[server] public_url is needed to register webhooks");
	else
		acs_http_respond_error(req, 503, "registration not started", acs_strerror(rc));
}

static char *join_proxies(const struct acs_config *cfg)
{
	struct acs_buf b;
	acs_buf_init(&b, 1 << 16);
	for (size_t i = 0; i < cfg->server.trusted_proxies.n; i++) {
		if (acs_buf_printf(&b, "%s%s", i ? "," : "", cfg->server.trusted_proxies.v[i]))
			break;
	}
	return acs_buf_steal(&b, NULL);
}

struct acs_app *acs_app_new(uv_loop_t *loop, const struct acs_config *cfg, char err[ACS_ERR_LEN])
{
	char path[4096];
	struct acs_app *app = acs_xcalloc(1, sizeof(*app));
	app->loop = loop;
	app->cfg = cfg;

	if (acs_app_db_path(cfg->database.url, path, sizeof(path), err) ||
	    ensure_parent_dir(path, err) || acs_store_open(loop, path, &app->store, err)) {
		free(app);
		return NULL;
	}

	struct acs_http_server_opts opts;
	acs_http_server_opts_defaults(&opts);
	opts.max_header_bytes = cfg->server.max_header_bytes;
	opts.max_body_bytes = cfg->server.max_body_bytes;
	opts.read_timeout_ms = cfg->server.read_timeout_ms;
	opts.idle_timeout_ms = cfg->server.idle_timeout_ms;
	opts.max_connections = (unsigned)cfg->server.max_connections;
	char *proxies = join_proxies(cfg);
	opts.trusted_proxies = proxies;
	app->http = acs_http_server_new(loop, &opts, err);
	free(proxies);
	if (!app->http)
		goto fail_store;

	app->curl = acs_curl_loop_new(loop, err);
	if (!app->curl)
		goto fail_http;

	if (acs_engine_configured(cfg, app->engine_off)) {
		app->engine = acs_engine_new(loop, cfg, app->http, app->curl, app->store, err);
		if (!app->engine)
			goto fail_curl;
	}

	app->metrics = acs_metrics_new();
	declare_metrics(app->metrics);
	acs_metrics_add_collector(app->metrics, collect_cb, app);
	if (app->engine)
		acs_engine_set_metrics(app->engine, app->metrics);

	acs_http_server_route(app->http, "GET", "/api/health", health_cb, app);
	acs_http_server_route(app->http, "GET", "/api/ready", ready_cb, app);
	acs_http_server_route(app->http, "GET", "/metrics", metrics_cb, app);
	app->admin = acs_admin_new(loop, app->http, cfg);
	struct acs_dashboard_opts dopts = {
		.cfg = cfg, .http = app->http, .store = app->store, .admin = app->admin
	};
	app->dashboard = acs_dashboard_new(loop, &dopts);
	acs_dashboard_set_engine(app->dashboard, app->engine);
	acs_http_server_route(app->http, "GET", "/api/setup/webhooks", setup_webhooks_cb, app);
	acs_http_server_route(app->http, "POST", "/api/setup/register-webhooks", setup_register_cb,
			      app);
	app->backfill_routes = (struct acs_backfill_routes){ .admin = app->admin,
							     .get = app_backfill,
							     .arg = app };
	acs_backfill_routes_add(app->http, &app->backfill_routes);

	uv_timer_init(loop, &app->lag_timer);
	uv_timer_init(loop, &app->drain_timer);
	app->open_handles = 2;
	return app;

fail_curl:
	acs_curl_loop_close(app->curl, NULL, NULL);
fail_http:
	acs_http_server_close(app->http, NULL, NULL);
fail_store:
	/* The store frees itself from the loop; the caller runs the loop to
	 * let it finish before closing it. */
	acs_store_close(app->store, NULL, NULL);
	free(app);
	return NULL;
}

int acs_app_start(struct acs_app *app, char err[ACS_ERR_LEN])
{
	int rc = acs_http_server_listen(app->http, app->cfg->server.listen, err);
	if (rc)
		return rc;
	char host[256];
	int port;
	char addr[300];
	if (acs_config_parse_listen(app->cfg->server.listen, host, sizeof(host), &port) == 0)
		snprintf(addr, sizeof(addr), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host,
			 acs_http_server_port(app->http));
	else
		snprintf(addr, sizeof(addr), "%s", app->cfg->server.listen);
	char pid[32];
	snprintf(pid, sizeof(pid), "%ld", (long)uv_os_getpid());
	struct acs_log_field f[] = { { "address", addr },
				     { "version", ACS_VERSION },
				     { "pid", pid } };
	acs_log_kv(ACS_LOG_INFO, "app", "listening", f, ACS_ARRAY_SIZE(f));

	if (app->engine)
		acs_engine_start(app->engine);
	else
		acs_log(ACS_LOG_INFO, "app", "%s", app->engine_off);

	app->lag_expected = uv_now(app->loop) + LAG_TICK_MS;
	uv_timer_start(&app->lag_timer, lag_tick_cb, LAG_TICK_MS, LAG_TICK_MS);
	uv_unref((uv_handle_t *)&app->lag_timer); /* never keeps the loop alive */
	return 0;
}

int acs_app_port(const struct acs_app *app)
{
	return acs_http_server_port(app->http);
}

struct acs_http_server *acs_app_http(struct acs_app *app)
{
	return app->http;
}

struct acs_store *acs_app_store(struct acs_app *app)
{
	return app->store;
}

struct acs_curl_loop *acs_app_curl(struct acs_app *app)
{
	return app->curl;
}

/* --- shutdown: drain, then close in reverse construction order -------------- */

static void timer_closed_cb(uv_handle_t *h)
{
	struct acs_app *app = h->data;
	if (--app->open_handles > 0)
		return;
	acs_app_stopped_cb cb = app->stopped_cb;
	void *arg = app->stopped_arg;
	acs_metrics_free(app->metrics);
	/* Frees itself once its in-flight password checks come back. */
	acs_admin_close(app->admin);
	acs_dashboard_close(app->dashboard);
	free(app);
	if (cb)
		cb(arg);
}

static void store_closed_cb(void *arg)
{
	struct acs_app *app = arg;
	app->lag_timer.data = app;
	app->drain_timer.data = app;
	uv_close((uv_handle_t *)&app->lag_timer, timer_closed_cb);
	uv_close((uv_handle_t *)&app->drain_timer, timer_closed_cb);
}

static void curl_closed_cb(void *arg)
{
	struct acs_app *app = arg;
	acs_store_close(app->store, store_closed_cb, app);
}

static void http_closed_cb(void *arg)
{
	struct acs_app *app = arg;
	acs_curl_loop_close(app->curl, curl_closed_cb, app);
}

static void engine_closed_cb(void *arg)
{
	struct acs_app *app = arg;
	app->engine = NULL;
	acs_http_server_close(app->http, http_closed_cb, app);
}

static void drain_cb(uv_timer_t *t)
{
	struct acs_app *app = acs_container_of(t, struct acs_app, drain_timer);
	size_t inflight = acs_http_server_inflight(app->http);
	size_t writes = acs_store_pending(app->store);
	bool late = uv_now(app->loop) >= app->drain_deadline;

	if ((inflight || writes) && !late)
		return;
	uv_timer_stop(t);
	if (late && (inflight || writes)) {
		char a[32], b[32];
		snprintf(a, sizeof(a), "%zu", inflight);
		snprintf(b, sizeof(b), "%zu", writes);
		struct acs_log_field f[] = { { "requests", a }, { "store_jobs", b } };
		acs_log_kv(ACS_LOG_WARN, "app", "drain timeout: closing with work in flight", f, 2);
	}
	if (app->engine)
		acs_engine_close(app->engine, engine_closed_cb, app);
	else
		engine_closed_cb(app);
}

void acs_app_shutdown(struct acs_app *app, uint64_t drain_timeout_ms, acs_app_stopped_cb cb,
		      void *arg)
{
	if (!app || app->stopping)
		return;
	app->stopping = true;
	app->stopped_cb = cb;
	app->stopped_arg = arg;
	uv_timer_stop(&app->lag_timer);
	/* Event streams never end by themselves: end them or the drain waits. */
	acs_dashboard_stop(app->dashboard);
	acs_http_server_stop_accepting(app->http);
	app->drain_deadline = uv_now(app->loop) + drain_timeout_ms;
	uv_timer_start(&app->drain_timer, drain_cb, 0, DRAIN_POLL_MS);
}
