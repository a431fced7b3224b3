/* SPDX-License-Identifier: MIT */
/* The simulator-world fixture shared by the engine-part tests (sim_env.h). */
#include "sim_env.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "sim_ado.h"
#include "sim_clickup.h"

void set_flag(void *arg)
{
	*(int *)arg = 1;
}

void copy_str(char *dst, size_t n, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	snprintf(dst, n, "%s", s);
}

void on_rx(struct acs_http_req *req, void *arg)
{
	struct bodies *b = arg;
	size_t len = 0;
	const char *body = acs_http_req_body(req, &len);
	b->v = acs_xrealloc(b->v, (b->n + 1) * sizeof(*b->v));
	b->v[b->n++] = acs_xstrndup(body ? body : "", len);
	acs_http_respond(req, 200, "application/json", "{}", 2);
}

void bodies_clear(struct bodies *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

/* Forget the first n bodies. */
void bodies_drop(struct bodies *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b->v[i]);
	memmove(b->v, b->v + n, (b->n - n) * sizeof(*b->v));
	b->n -= n;
}

/* --- raw HTTP --- */

void on_raw(const struct acs_http_response *resp, void *arg)
{
	struct raw *r = arg;
	r->status = resp->status;
	r->body = acs_xstrndup(resp->body ? resp->body : "", resp->body_len);
	r->done = 1;
}

char *http(struct env *e, const char *method, const char *url, const char *auth, const char *body)
{
	struct raw r = { 0 };
	const char *hdrs[] = { "Content-Type: application/json", auth, NULL };
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.body = body,
		.body_len = body ? strlen(body) : 0,
	};
	assert_int_equal(acs_curl_loop_request(e->cl, &req, on_raw, &r, NULL), 0);
	acs_test_run_until(&e->loop, &r.done, WAIT_MS);
	if (r.status < 200 || r.status > 299)
		fail_msg("%s %s: HTTP %ld %s", method, url, r.status, r.body);
	return r.body;
}

void fault(struct env *e, const char *origin, const char *json)
{
	char *url = acs_xasprintf("%s/_sim/faults", origin);
	free(http(e, "POST", url, NULL, json));
	free(url);
}

/* Requests a service logged since the last mark: writes (non-GET) and all. */

struct reqs requests_since(struct env *e, const char *origin, size_t *mark)
{
	struct reqs out = { 0 };
	char *url = acs_xasprintf("%s/_sim/requests", origin);
	char *log = http(e, "GET", url, NULL, NULL);
	free(url);
	size_t i = 0, len = 0;
	for (char *line = log; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (i++ >= *mark) {
			json_t *j = json_loads(line, 0, NULL);
			const char *m = json_string_value(json_object_get(j, "method"));
			out.all++;
			if (m && strcmp(m, "GET")) {
				out.writes++;
				len += (size_t)snprintf(
					out.paths + len,
					len < sizeof(out.paths) ? sizeof(out.paths) - len : 0,
					"%s %s; ", m,
					json_string_value(json_object_get(j, "path")));
			}
			json_decref(j);
		}
		line = nl ? nl + 1 : NULL;
	}
	*mark = i;
	free(log);
	return out;
}

struct reqs ado_reqs(struct env *e)
{
	return requests_since(e, e->ado_origin, &e->ado_log_mark);
}

struct reqs cu_reqs(struct env *e)
{
	return requests_since(e, e->cu_origin, &e->cu_log_mark);
}

/* Run until every queued webhook was delivered to the receiver. */
void drain(struct env *e)
{
	uint64_t deadline = uv_now(&e->loop) + WAIT_MS;
	while (sim_service_pending_deliveries(e->ado_svc) ||
	       sim_service_pending_deliveries(e->cu_svc)) {
		uv_run(&e->loop, UV_RUN_ONCE);
		uv_update_time(&e->loop);
		if (uv_now(&e->loop) > deadline)
			fail_msg("webhook deliveries did not drain");
	}
}

struct acs_governor_opts fast_governor(enum acs_governor_service svc)
{
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, svc);
	g.limit = 0;
	g.window_ms = 1500;
	g.backoff_base_ms = 10;
	g.backoff_max_ms = 40;
	g.seed = 42;
	return g;
}

/* --- synchronous client wrappers --- */

void on_wi(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct wi_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->wi = wi;
	c->done = 1;
}

struct acs_ado_work_item *wi_wait(struct env *e, struct wi_cap *c)
{
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
	if (c->cls != ACS_REST_OK)
		fail_msg("ADO call: %s", c->msg);
	return c->wi;
}

struct acs_ado_work_item *ado_get(struct env *e, int64_t id)
{
	struct wi_cap c = { 0 };
	assert_int_equal(acs_ado_get_work_item(e->ado, id, on_wi, &c), 0);
	return wi_wait(e, &c);
}

int64_t ado_human_create(struct env *e, const char *title, const char *area)
{
	static const char *const tags[] = { "Backend", "urgent" };
	struct acs_ado_fields f = {
		.title = title,
		.description = "<div>Hello <b>world</b></div>",
		.area_path = area,
		.priority = 2,
		.assigned_to = "avery.chen@example.com",
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = 2,
		.due_change = ACS_ADO_SET,
		.due_date_ms = 1767225600000, /* 2026-01-01T00:00:00Z */
	};
	struct wi_cap c = { 0 };
	assert_int_equal(acs_ado_create_work_item(e->ado, "Task", &f, on_wi, &c), 0);
	struct acs_ado_work_item *wi = wi_wait(e, &c);
	int64_t id = wi->id;
	acs_ado_work_item_free(wi);
	return id;
}

void ado_human_update(struct env *e, int64_t id, const struct acs_ado_fields *f)
{
	struct wi_cap c = { 0 };
	assert_int_equal(acs_ado_update_work_item(e->ado, id, 0, f, NULL, on_wi, &c), 0);
	acs_ado_work_item_free(wi_wait(e, &c));
}

void on_task(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg)
{
	struct task_cap *c = arg;
	c->cls = res->cls;
	c->status = res->status;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->t = t;
	c->done = 1;
}

struct acs_clickup_task *task_wait(struct env *e, struct task_cap *c)
{
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
	if (c->cls != ACS_REST_OK)
		fail_msg("ClickUp call: %s", c->msg);
	return c->t;
}

struct acs_clickup_task *cu_get(struct env *e, const char *id)
{
	struct task_cap c = { 0 };
	assert_int_equal(acs_clickup_get_task(e->cu, ACS_GOVERNOR_INTERACTIVE, id, on_task, &c), 0);
	return task_wait(e, &c);
}

char *cu_human_create(struct env *e, const char *name)
{
	static const char *const tags[] = { "sync" };
	static const int64_t who[] = { SAM };
	struct acs_clickup_task_new t = {
		.name = name,
		.markdown = "Some *markdown* text",
		.status = "in progress",
		.priority = 3,
		.assignees = who,
		.n_assignees = 1,
		.tags = tags,
		.n_tags = 1,
		.due_date = 1769904000000, /* 2026-02-01T00:00:00Z */
	};
	struct task_cap c = { 0 };
	assert_int_equal(acs_clickup_create_task(e->cu, ACS_GOVERNOR_INTERACTIVE, LIST_ID, &t,
						 on_task, &c),
			 0);
	struct acs_clickup_task *task = task_wait(e, &c);
	char *id = acs_xstrdup(task->id);
	acs_clickup_task_free(task);
	return id;
}

void cu_human_update(struct env *e, const char *id, const struct acs_clickup_task_changes *ch)
{
	struct task_cap c = { 0 };
	assert_int_equal(
		acs_clickup_update_task(e->cu, ACS_GOVERNOR_INTERACTIVE, id, ch, on_task, &c), 0);
	acs_clickup_task_free(task_wait(e, &c));
}

void sim_env_setup(struct env *e, const char *cfg_text)
{
	char err[ACS_ERR_LEN] = "";
	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_CRIT);
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->sim = sim_new(&e->loop, NULL, err);
	assert_non_null(e->sim);
	struct sim_ado *sa = sim_ado_new(e->sim, 0, err);
	assert_non_null(sa);
	struct sim_clickup *sc = sim_clickup_new(e->sim, 1000000, err);
	assert_non_null(sc);
	e->ado_svc = sim_ado_service(sa);
	e->cu_svc = sim_clickup_service(sc);
	assert_int_equal(sim_service_listen(e->ado_svc, "127.0.0.1:0", err), 0);
	assert_int_equal(sim_service_listen(e->cu_svc, "127.0.0.1:0", err), 0);
	json_t *info = sim_info(e->sim);
	json_t *a = json_object_get(info, "ado"), *c = json_object_get(info, "clickup");
	copy_str(e->ado_origin, sizeof(e->ado_origin), a, "base_url");
	copy_str(e->org, sizeof(e->org), a, "organization");
	copy_str(e->project, sizeof(e->project), a, "project");
	copy_str(e->pat, sizeof(e->pat), a, "pat");
	copy_str(e->cu_base, sizeof(e->cu_base), c, "base_url");
	copy_str(e->cu_token, sizeof(e->cu_token), c, "token");
	json_decref(info);
	snprintf(e->cu_origin, sizeof(e->cu_origin), "%s", sim_service_origin(e->cu_svc));

	e->cl = acs_curl_loop_new(&e->loop, err);
	assert_non_null(e->cl);
	struct acs_governor_opts ga = fast_governor(ACS_GOVERNOR_ADO);
	struct acs_ado_client_opts ao = { .base_url = e->ado_origin,
					  .organization = e->org,
					  .project = e->project,
					  .pat = e->pat,
					  .governor = &ga,
					  .max_attempts = 1 };
	e->ado = acs_ado_client_new(&e->loop, e->cl, &ao, err);
	assert_non_null(e->ado);
	struct acs_governor_opts gc = fast_governor(ACS_GOVERNOR_CLICKUP);
	struct acs_clickup_client_opts co = {
		.base_url = e->cu_base, .token = e->cu_token, .governor = &gc, .max_attempts = 1
	};
	e->cu = acs_clickup_client_new(&e->loop, e->cl, &co, err);
	assert_non_null(e->cu);

	/* The receiver and both services' subscriptions pointing at it. */
	e->rx = acs_http_server_new(&e->loop, NULL, err);
	assert_non_null(e->rx);
	assert_int_equal(acs_http_server_route(e->rx, "POST", "/ado", on_rx, &e->ado_rx), 0);
	assert_int_equal(acs_http_server_route(e->rx, "POST", "/clickup", on_rx, &e->cu_rx), 0);
	assert_int_equal(acs_http_server_listen(e->rx, "127.0.0.1:0", err), 0);
	int port = acs_http_server_port(e->rx);

	char cred[160], b64[256], auth[300];
	snprintf(cred, sizeof(cred), ":%s", e->pat);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
	static const char *const types[] = { "workitem.created", "workitem.updated" };
	for (size_t i = 0; i < 2; i++) {
		char *url = acs_xasprintf("%s/%s/_apis/hooks/subscriptions?api-version=7.1",
					  e->ado_origin, e->org);
		char *body = acs_xasprintf("{\"publisherId\":\"tfs\",\"eventType\":\"%s\","
					   "\"resourceVersion\":\"1.0\","
					   "\"consumerId\":\"webHooks\",\"consumerActionId\":"
					   "\"httpRequest\","
					   "\"publisherInputs\":{},\"consumerInputs\":{\"url\":"
					   "\"http://127.0.0.1:%d/ado\"}}",
					   types[i], port);
		free(http(e, "POST", url, auth, body));
		free(url);
		free(body);
	}
	char *url = acs_xasprintf("%s/team/36226098/webhook", e->cu_base);
	char *body = acs_xasprintf("{\"endpoint\":\"http://127.0.0.1:%d/clickup\","
				   "\"events\":[\"taskCreated\",\"taskUpdated\"]}",
				   port);
	char tok[160];
	snprintf(tok, sizeof(tok), "Authorization: %s", e->cu_token);
	free(http(e, "POST", url, tok, body));
	free(url);
	free(body);

	e->dir = acs_test_tmpdir();
	e->db = acs_xasprintf("%s/sync.db", e->dir);
	if (acs_store_open(&e->loop, e->db, &e->st, err))
		fail_msg("store: %s", err);
	e->cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(e->cfg, "t.ini", cfg_text, NULL), 0);
}

void sim_env_teardown(struct env *e)
{
	int n = 0;
	acs_store_close(e->st, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	n = 0;
	acs_ado_client_close(e->ado, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	n = 0;
	acs_clickup_client_close(e->cu, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	n = 0;
	acs_http_server_close(e->rx, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	n = 0;
	acs_curl_loop_close(e->cl, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	n = 0;
	sim_close(e->sim, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	acs_test_loop_close(&e->loop);
	acs_config_free(e->cfg);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	acs_test_rmtree(e->dir);
	free(e->dir);
	free(e->db);
	free(e);
}
