/* SPDX-License-Identifier: MIT */
/* Unit tests for app.c: built-in routes and the graceful drain, driven on a
 * real loop with the project's own curl_loop as the client. */
#include "test_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "config.h"
#include "curl_loop.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "store.h"

struct fixture {
	uv_loop_t loop;
	char *dir;
	struct acs_config *cfg;
	struct acs_app *app;
	struct acs_curl_loop *client;
	int stopped;
	int client_closed;
	uv_timer_t slow_timer;
	struct acs_http_req *slow_req;
	int slow_answered;
};

static struct fixture *fixture_new(void)
{
	struct fixture *f = acs_xcalloc(1, sizeof(*f));
	char err[ACS_ERR_LEN] = "";
	uv_loop_init(&f->loop);
	f->dir = acs_test_tmpdir();
	char *text = acs_xasprintf("[server]\nlisten = 127.0.0.1:0\n[database]\nurl = "
				   "sqlite:%s/t.db\n",
				   f->dir);
	f->cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_string(f->cfg, "<test>", text, errs), 0);
	assert_int_equal(acs_config_finish(f->cfg, errs), 0);
	acs_config_errors_free(errs);
	free(text);
	acs_test_log_capture_begin();
	f->app = acs_app_new(&f->loop, f->cfg, err);
	assert_non_null(f->app);
	assert_int_equal(acs_app_start(f->app, err), 0);
	assert_true(acs_app_port(f->app) > 0);
	f->client = acs_curl_loop_new(&f->loop, err);
	assert_non_null(f->client);
	uv_timer_init(&f->loop, &f->slow_timer);
	return f;
}

static void client_closed_cb(void *arg)
{
	struct fixture *f = arg;
	f->client_closed = 1;
}

static void fixture_free(struct fixture *f)
{
	uv_close((uv_handle_t *)&f->slow_timer, NULL);
	acs_curl_loop_close(f->client, client_closed_cb, f);
	acs_test_run_until(&f->loop, &f->client_closed, 5000);
	acs_test_loop_close(&f->loop);
	acs_test_log_capture_end();
	acs_config_free(f->cfg);
	acs_test_rmtree(f->dir);
	free(f->dir);
	free(f);
}

struct call {
	int done;
	long status;
	int error;
	char body[1024];
};

static void call_done_cb(const struct acs_http_response *resp, void *arg)
{
	struct call *c = arg;
	c->done = 1;
	c->status = resp->status;
	c->error = resp->error;
	snprintf(c->body, sizeof(c->body), "%s", resp->body);
}

static void get(struct fixture *f, const char *path, struct call *c)
{
	char url[256];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", acs_app_port(f->app), path);
	struct acs_http_request req = { .method = "GET", .url = url, .timeout_ms = 5000 };
	memset(c, 0, sizeof(*c));
	assert_int_equal(acs_curl_loop_request(f->client, &req, call_done_cb, c, NULL), 0);
}

static void stopped_cb(void *arg)
{
	struct fixture *f = arg;
	f->stopped = 1;
}

static void test_health_and_ready(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	struct call c;
	get(f, "/api/health", &c);
	acs_test_run_until(&f->loop, &c.done, 5000);
	assert_int_equal(c.status, 200);
	json_t *j = json_loads(c.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	assert_non_null(json_string_value(json_object_get(j, "version")));
	json_decref(j);

	get(f, "/api/ready", &c);
	acs_test_run_until(&f->loop, &c.done, 5000);
	assert_int_equal(c.status, 200);
	j = json_loads(c.body, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ready");
	assert_string_equal(json_string_value(json_object_get(json_object_get(j, "checks"), "databa"
											    "se")),
			    "ok");
	json_decref(j);
	assert_non_null(strstr(acs_test_log_captured(), "msg=listening"));

	acs_app_shutdown(f->app, 1000, stopped_cb, f);
	acs_test_run_until(&f->loop, &f->stopped, 5000);
	fixture_free(f);
}

/* A request that is still being handled when shutdown starts gets its answer,
 * and the app stops only afterwards. */
static void slow_answer_cb(uv_timer_t *t)
{
	struct fixture *f = t->data;
	f->slow_answered = 1;
	acs_http_respond(f->slow_req, 200, "text/plain", "late", 4);
}

static void slow_then_shutdown_cb(struct acs_http_req *req, void *arg)
{
	struct fixture *f = arg;
	f->slow_req = req;
	f->slow_timer.data = f;
	uv_timer_start(&f->slow_timer, slow_answer_cb, 200, 0);
	acs_app_shutdown(f->app, 5000, stopped_cb, f);
}

static void test_shutdown_drains_inflight_request(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	acs_http_server_route(acs_app_http(f->app), "GET", "/slow", slow_then_shutdown_cb, f);
	struct call c;
	get(f, "/slow", &c);
	acs_test_run_until(&f->loop, &c.done, 5000);
	assert_int_equal(c.error, 0);
	assert_int_equal(c.status, 200);
	assert_string_equal(c.body, "late");
	acs_test_run_until(&f->loop, &f->stopped, 5000);
	fixture_free(f);
}

/* Store writes queued before shutdown are committed before the app stops. */
static int insert_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)arg;
	return acs_store_exec(db, "INSERT INTO meta(key, value) VALUES ('drain', 'yes')", err);
}

static void insert_done_cb(int rc, const char *err, void *arg)
{
	int *done = arg;
	assert_int_equal(rc, 0);
	(void)err;
	*done = 1;
}

static void test_shutdown_finishes_store_writes(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	int written = 0;
	assert_int_equal(
		acs_store_write(acs_app_store(f->app), insert_job, insert_done_cb, &written), 0);
	acs_app_shutdown(f->app, 5000, stopped_cb, f);
	acs_test_run_until(&f->loop, &f->stopped, 5000);
	assert_int_equal(written, 1);

	char *path = acs_xasprintf("%s/t.db", f->dir);
	sqlite3 *db;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_stmt *st;
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key='drain'", -1, &st,
					    NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "yes");
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	fixture_free(f);
}

/* A request never answered does not hold the shutdown past the drain timeout. */
static void never_answer_cb(struct acs_http_req *req, void *arg)
{
	struct fixture *f = arg;
	f->slow_req = req;
	acs_app_shutdown(f->app, 100, stopped_cb, f);
}

static void test_drain_timeout(void **state)
{
	(void)state;
	struct fixture *f = fixture_new();
	acs_http_server_route(acs_app_http(f->app), "GET", "/never", never_answer_cb, f);
	struct call c;
	get(f, "/never", &c);
	acs_test_run_until(&f->loop, &f->stopped, 5000);
	assert_non_null(strstr(acs_test_log_captured(), "drain timeout"));
	/* The handler may still finish its (now detached) request safely. */
	acs_http_respond(f->slow_req, 200, "text/plain", "x", 1);
	acs_test_run_until(&f->loop, &c.done, 5000);
	assert_int_not_equal(c.status, 200);
	fixture_free(f);
}

static void test_db_path(void **state)
{
	(void)state;
	char out[64], err[ACS_ERR_LEN];
	assert_int_equal(acs_app_db_path("sqlite:/var/x.db", out, sizeof(out), err), 0);
	assert_string_equal(out, "/var/x.db");
	assert_int_equal(acs_app_db_path("sqlite:///var/x.db", out, sizeof(out), err), 0);
	assert_string_equal(out, "/var/x.db");
	assert_int_equal(acs_app_db_path("postgresql://h/db", out, sizeof(out), err), ACS_ECONFIG);
	assert_int_equal(acs_app_db_path("sqlite:", out, sizeof(out), err), ACS_ECONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_health_and_ready),
		cmocka_unit_test(test_shutdown_drains_inflight_request),
		cmocka_unit_test(test_shutdown_finishes_store_writes),
		cmocka_unit_test(test_drain_timeout),
		cmocka_unit_test(test_db_path),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
