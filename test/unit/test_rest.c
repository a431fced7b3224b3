/* SPDX-License-Identifier: MIT */
/* Unit tests for rest.c against the project's own HTTP server on the same
 * loop: classification, the service's error text, transparent retries,
 * pacing by the governor, JSON parsing and closing with calls pending. */
#include "test_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_loop.h"
#include "err.h"
#include "governor.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "rest.h"

struct fx {
	uv_loop_t loop;
	struct acs_http_server *srv;
	struct acs_curl_loop *cl;
	struct acs_rest *rest;
	int hits_flaky;
	int hits_500;
	int hits_total;
	char last_auth[128];
	char last_ctype[128];
	struct acs_http_req *held;
	int closed;
};

static void ok_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	const char *a = acs_http_req_header(req, "Authorization");
	snprintf(f->last_auth, sizeof(f->last_auth), "%s", a ? a : "");
	acs_http_respond_json(req, 200, json_pack("{s:i}", "a", 1));
}

static void flaky_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	if (f->hits_flaky++ < 1) {
		acs_http_req_add_header(req, "Retry-After", "0");
		acs_http_respond_json(req, 429,
				      json_pack("{s:s,s:s}", "err", "Rate limit reached", "ECODE",
						"APP_002"));
		return;
	}
	acs_http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
}

static void fail500_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	f->hits_500++;
	acs_http_respond_json(req, 500, json_pack("{s:s,s:s}", "err", "boom", "ECODE", "X_1"));
}

static void status_cb(struct acs_http_req *req, void *arg)
{
	(void)arg;
	int code = (int)strtol(acs_http_req_param(req, "code"), NULL, 10);
	if (code == 412)
		acs_http_respond_json(req, 412,
				      json_pack("{s:s,s:s}", "message",
						"The update is based on a stale rev", "typeKey",
						"RuleValidationException"));
	else if (code == 404)
		acs_http_respond_json(req, 404, json_pack("{s:s}", "err", "Task not found"));
	else
		acs_http_respond(req, code, "text/plain", "nope", 4);
}

static void text_cb(struct acs_http_req *req, void *arg)
{
	(void)arg;
	acs_http_respond(req, 200, "text/plain", "hello", 5);
}

static void echo_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	const char *ct = acs_http_req_header(req, "Content-Type");
	snprintf(f->last_ctype, sizeof(f->last_ctype), "%s", ct ? ct : "");
	acs_http_respond(req, 200, "application/json", body, len);
}

static void hang_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	f->held = req;
}

static bool count_hook(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	(void)req;
	f->hits_total++;
	return false;
}

static void error_text(const json_t *body, const char *raw, long status, char *out, size_t n)
{
	(void)raw;
	const char *e = json_string_value(json_object_get(body, "err"));
	const char *code = json_string_value(json_object_get(body, "ECODE"));
	if (e)
		snprintf(out, n, "%s (%s)", e, code ? code : "-");
	else
		snprintf(out, n, "HTTP %ld", status);
}

static struct fx *fx_new(const struct acs_governor_opts *gov)
{
	struct fx *f = acs_xcalloc(1, sizeof(*f));
	char err[ACS_ERR_LEN];
	uv_loop_init(&f->loop);
	f->srv = acs_http_server_new(&f->loop, NULL, err);
	assert_non_null(f->srv);
	acs_http_server_route(f->srv, "GET", "/ok", ok_cb, f);
	acs_http_server_route(f->srv, "GET", "/flaky", flaky_cb, f);
	acs_http_server_route(f->srv, "GET", "/500", fail500_cb, f);
	acs_http_server_route(f->srv, "GET", "/status/:code", status_cb, f);
	acs_http_server_route(f->srv, "GET", "/text", text_cb, f);
	acs_http_server_route(f->srv, "POST", "/echo", echo_cb, f);
	acs_http_server_route(f->srv, "GET", "/hang", hang_cb, f);
	acs_http_server_set_hook(f->srv, count_hook, f);
	assert_int_equal(acs_http_server_listen(f->srv, "127.0.0.1:0", err), 0);
	f->cl = acs_curl_loop_new(&f->loop, err);
	assert_non_null(f->cl);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/", acs_http_server_port(f->srv));
	struct acs_rest_opts o = {
		.name = "test",
		.base_url = base,
		.auth_header = "Authorization: pk_1_SECRETSECRET",
		.preset = ACS_GOVERNOR_CLICKUP,
		.governor = gov,
		.timeout_ms = 2000,
		.error_text = error_text,
	};
	f->rest = acs_rest_new(&f->loop, f->cl, &o, err);
	assert_non_null(f->rest);
	return f;
}

static void rest_closed_cb(void *arg)
{
	struct fx *f = arg;
	f->closed++;
}

static void other_closed_cb(void *arg)
{
	struct fx *f = arg;
	f->closed++;
}

static void fx_free(struct fx *f)
{
	if (f->rest)
		acs_rest_close(f->rest, rest_closed_cb, f);
	else
		f->closed = 1;
	acs_test_run_until(&f->loop, &f->closed, 5000);
	f->closed = 0;
	acs_curl_loop_close(f->cl, other_closed_cb, f);
	acs_http_server_close(f->srv, other_closed_cb, f);
	while (f->closed < 2)
		uv_run(&f->loop, UV_RUN_ONCE);
	acs_test_loop_close(&f->loop);
	free(f);
}

struct res {
	int done;
	enum acs_rest_class cls;
	int error;
	long status;
	char message[256];
	char body[256];
	int json_a;
	unsigned attempts;
};

static void res_cb(const struct acs_rest_result *r, void *arg)
{
	struct res *x = arg;
	x->done++;
	x->cls = r->cls;
	x->error = r->error;
	x->status = r->status;
	x->attempts = r->attempts;
	snprintf(x->message, sizeof(x->message), "%s", r->message);
	snprintf(x->body, sizeof(x->body), "%s", r->body);
	x->json_a = r->json ? (int)json_integer_value(json_object_get(r->json, "a")) : -1;
}

static void call(struct fx *f, const char *method, const char *path, struct res *x)
{
	memset(x, 0, sizeof(*x));
	struct acs_rest_call c = { .method = method, .path = path };
	assert_int_equal(acs_rest_request(f->rest, &c, res_cb, x), 0);
	assert_int_equal(x->done, 0); /* never synchronous */
}

static void test_ok_json_and_auth(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct res x;
	call(f, "GET", "/ok", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_OK);
	assert_int_equal(x.error, 0);
	assert_int_equal(x.status, 200);
	assert_int_equal(x.json_a, 1);
	assert_int_equal(x.attempts, 1);
	assert_string_equal(f->last_auth, "pk_1_SECRETSECRET");
	assert_int_equal(acs_rest_pending(f->rest), 0);

	/* An absolute URL on another origin (here: localhost instead of
	 * 127.0.0.1) gets no credentials. */
	char url[64];
	snprintf(url, sizeof(url), "http://localhost:%d/ok", acs_http_server_port(f->srv));
	call(f, "GET", url, &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_OK);
	assert_string_equal(f->last_auth, "");
	fx_free(f);
}

static void test_retry_after_429_transparent(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct res x;
	call(f, "GET", "/flaky", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_OK);
	assert_int_equal(x.attempts, 2);
	assert_int_equal(f->hits_flaky, 2);
	struct acs_governor_stats st;
	acs_rest_stats(f->rest, &st);
	assert_int_equal(st.throttled, 1);
	fx_free(f);
}

static void test_5xx_retried_then_retryable(void **state)
{
	(void)state;
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_CLICKUP);
	g.backoff_base_ms = 10; /* keep the test fast */
	g.backoff_max_ms = 20;
	struct fx *f = fx_new(&g);
	struct res x;
	call(f, "GET", "/500", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_RETRYABLE);
	assert_int_equal(x.error, ACS_EHTTP);
	assert_int_equal(x.status, 500);
	assert_int_equal(x.attempts, 3);
	assert_int_equal(f->hits_500, 3);
	assert_string_equal(x.message, "boom (X_1)");
	fx_free(f);
}

static void test_classes(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct res x;
	call(f, "GET", "/status/412", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_CONFLICT);
	assert_int_equal(x.error, ACS_ECONFLICT);
	assert_int_equal(x.attempts, 1);
	assert_string_equal(x.message, "HTTP 412"); /* our error_text reads only "err" */

	call(f, "GET", "/status/404", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_PERMANENT);
	assert_int_equal(x.error, ACS_ENOTFOUND);
	assert_string_equal(x.message, "Task not found (-)");

	call(f, "GET", "/status/401", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_PERMANENT);
	assert_int_equal(x.error, ACS_EAUTH);

	call(f, "GET", "/status/400", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_PERMANENT);
	assert_int_equal(x.error, ACS_EHTTP);
	assert_int_equal(x.attempts, 1);

	call(f, "GET", "/text", &x);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_PERMANENT);
	assert_int_equal(x.error, ACS_EPARSE);

	memset(&x, 0, sizeof(x));
	struct acs_rest_call raw = { .method = "GET", .path = "/text", .raw = true };
	assert_int_equal(acs_rest_request(f->rest, &raw, res_cb, &x), 0);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_OK);
	assert_string_equal(x.body, "hello");

	assert_int_equal(acs_rest_classify(503, 0), ACS_REST_RETRYABLE);
	assert_int_equal(acs_rest_classify(0, ACS_ETIMEOUT), ACS_REST_RETRYABLE);
	assert_int_equal(acs_rest_classify(0, ACS_ETOOBIG), ACS_REST_PERMANENT);
	assert_int_equal(acs_rest_classify(409, 0), ACS_REST_CONFLICT);
	assert_string_equal(acs_rest_class_name(ACS_REST_CONFLICT), "conflict");
	fx_free(f);
}

static void test_post_body_and_transport_error(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct res x;
	memset(&x, 0, sizeof(x));
	struct acs_rest_call c = {
		.method = "POST", .path = "/echo", .body = "{\"a\":7}", .body_len = 7
	};
	assert_int_equal(acs_rest_request(f->rest, &c, res_cb, &x), 0);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_OK);
	assert_int_equal(x.json_a, 7);
	assert_string_equal(f->last_ctype, "application/json");

	/* Nothing listens there: a transport error, retried, then retryable. */
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_CLICKUP);
	g.backoff_base_ms = 5;
	g.backoff_max_ms = 10;
	char err[ACS_ERR_LEN];
	struct acs_rest_opts o = {
		.name = "dead", .base_url = "http://127.0.0.1:1", .governor = &g, .max_attempts = 2
	};
	struct acs_rest *dead = acs_rest_new(&f->loop, f->cl, &o, err);
	memset(&x, 0, sizeof(x));
	struct acs_rest_call d = { .method = "GET", .path = "/x" };
	assert_int_equal(acs_rest_request(dead, &d, res_cb, &x), 0);
	acs_test_run_until(&f->loop, &x.done, 5000);
	assert_int_equal(x.cls, ACS_REST_RETRYABLE);
	assert_int_equal(x.error, ACS_ETRANSPORT);
	assert_int_equal(x.attempts, 2);
	assert_true(strlen(x.message) > 0);
	acs_rest_close(dead, rest_closed_cb, f);
	acs_test_run_until(&f->loop, &f->closed, 5000);
	f->closed = 0;
	fx_free(f);
}

/* The governor holds calls back: with a limit of 2 per minute (and no
 * reserve), only the first requests reach the server right away. */
static void test_governor_paces(void **state)
{
	(void)state;
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_CLICKUP);
	g.limit = 3;
	g.reserve = 0;
	g.burst = 3;
	struct fx *f = fx_new(&g);
	struct res x[6];
	for (int i = 0; i < 6; i++)
		call(f, "GET", "/ok", &x[i]);
	acs_test_run_until(&f->loop, &x[0].done, 5000);
	/* Let the granted ones finish; the rest must still be waiting. */
	acs_test_run_until(&f->loop, &x[2].done, 5000);
	for (int i = 0; i < 50; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT);
	int done = 0;
	for (int i = 0; i < 6; i++)
		done += x[i].done;
	assert_true(done <= 3);
	assert_true(f->hits_total <= 3);
	assert_true(acs_rest_pending(f->rest) >= 3);
	assert_true(acs_rest_budget_left(f->rest) <= 0);

	/* Closing cancels the waiting calls, each callback exactly once. */
	acs_rest_close(f->rest, rest_closed_cb, f);
	acs_test_run_until(&f->loop, &f->closed, 5000);
	f->rest = NULL;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(x[i].done, 1);
		if (x[i].cls != ACS_REST_OK)
			assert_int_equal(x[i].error, ACS_ECANCELED);
	}
	f->closed = 0;
	fx_free(f);
}

static void test_close_cancels_inflight(void **state)
{
	(void)state;
	struct fx *f = fx_new(NULL);
	struct res x;
	call(f, "GET", "/hang", &x);
	while (!f->held)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(acs_rest_request(f->rest,
					  &(struct acs_rest_call){ .method = "GET", .path = "/ok" },
					  res_cb, &x) == 0,
			 1);
	acs_rest_close(f->rest, rest_closed_cb, f);
	assert_int_equal(acs_rest_request(f->rest,
					  &(struct acs_rest_call){ .method = "GET", .path = "/ok" },
					  res_cb, &x),
			 ACS_ECLOSED);
	acs_test_run_until(&f->loop, &f->closed, 5000);
	f->rest = NULL;
	assert_int_equal(x.done, 2);
	assert_int_equal(x.error, ACS_ECANCELED);
	acs_http_respond(f->held, 200, "text/plain", "late", 4);
	f->closed = 0;
	fx_free(f);
}

static void test_escape(void **state)
{
	(void)state;
	char *s = acs_rest_escape("My Project/é&x=1");
	assert_string_equal(s, "My%20Project%2F%C3%A9%26x%3D1");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok_json_and_auth),
		cmocka_unit_test(test_retry_after_429_transparent),
		cmocka_unit_test(test_5xx_retried_then_retryable),
		cmocka_unit_test(test_classes),
		cmocka_unit_test(test_post_body_and_transport_error),
		cmocka_unit_test(test_governor_paces),
		cmocka_unit_test(test_close_cancels_inflight),
		cmocka_unit_test(test_escape),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
