/* SPDX-License-Identifier: MIT */
/* The simulator-world fixture shared by the engine-part tests (sim_env.h). */
#include "sim_env.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "scheduler.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "syncer.h"

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

/* --- the simulator world --- */

void sim_world_start(struct sim_world *w, uv_loop_t *loop, const struct sim_world_opts *o)
{
	static const struct sim_world_opts defaults = { 0 };
	char err[ACS_ERR_LEN] = "";
	o = o ? o : &defaults;
	memset(w, 0, sizeof(*w));
	w->sim = sim_new(loop, o->seed_path, err);
	if (!w->sim)
		fail_msg("sim_new: %s", err);
	w->sa = sim_ado_new(w->sim, o->ado_rate_limit, err);
	if (!w->sa)
		fail_msg("sim_ado_new: %s", err);
	w->ado_svc = sim_ado_service(w->sa);
	if (sim_service_listen(w->ado_svc, "127.0.0.1:0", err))
		fail_msg("listen: %s", err);
	if (!o->ado_only) {
		/* A rate limit far out of the way: tests that want 429s inject them. */
		w->sc = sim_clickup_new(w->sim, 1000000, err);
		if (!w->sc)
			fail_msg("sim_clickup_new: %s", err);
		w->cu_svc = sim_clickup_service(w->sc);
		if (sim_service_listen(w->cu_svc, "127.0.0.1:0", err))
			fail_msg("listen: %s", err);
	}

	json_t *info = sim_info(w->sim);
	json_t *a = json_object_get(info, "ado");
	copy_str(w->ado_origin, sizeof(w->ado_origin), a, "base_url");
	copy_str(w->org, sizeof(w->org), a, "organization");
	copy_str(w->project, sizeof(w->project), a, "project");
	copy_str(w->pat, sizeof(w->pat), a, "pat");
	json_t *users = json_object_get(info, "users");
	assert_true(json_array_size(users) >= 2);
	copy_str(w->user_email, sizeof(w->user_email), json_array_get(users, 0), "email");
	copy_str(w->user_name, sizeof(w->user_name), json_array_get(users, 0), "name");
	copy_str(w->user_id, sizeof(w->user_id), json_array_get(users, 0), "ado_id");
	copy_str(w->other_email, sizeof(w->other_email), json_array_get(users, 1), "email");
	copy_str(w->other_name, sizeof(w->other_name), json_array_get(users, 1), "name");
	if (w->sc) {
		json_t *c = json_object_get(info, "clickup");
		copy_str(w->cu_base, sizeof(w->cu_base), c, "base_url");
		copy_str(w->cu_token, sizeof(w->cu_token), c, "token");
		copy_str(w->team, sizeof(w->team), c, "team_id");
		const char *list =
			json_string_value(json_array_get(json_object_get(c, "list_ids"), 0));
		assert_non_null(list);
		snprintf(w->list, sizeof(w->list), "%s", list);
		snprintf(w->cu_origin, sizeof(w->cu_origin), "%s", sim_service_origin(w->cu_svc));
	}
	json_decref(info);
}

void sim_world_close(struct sim_world *w, uv_loop_t *loop)
{
	int n = 0;
	sim_close(w->sim, set_flag, &n);
	acs_test_run_until(loop, &n, WAIT_MS);
	w->sim = NULL;
}

json_t *sim_world_default_seed(void)
{
	json_t *seed = json_loads(sim_default_seed(), 0, NULL);
	assert_non_null(seed);
	return seed;
}

char *sim_world_seed_file(json_t *seed, const char *dir)
{
	char *path = acs_xasprintf("%s/seed.json", dir);
	assert_int_equal(json_dump_file(seed, path, 0), 0);
	json_decref(seed);
	return path;
}

struct acs_config *sim_config_load(const char *name, const char *text)
{
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_set_getenv(cfg, NULL, NULL);
	acs_config_load_string(cfg, name, text, errs);
	acs_config_finish(cfg, errs);
	if (acs_config_errors_count(errs))
		fail_msg("config: %s", acs_config_errors_get(errs, 0));
	acs_config_errors_free(errs);
	return cfg;
}

/* --- raw HTTP --- */

void on_raw(const struct acs_http_response *resp, void *arg)
{
	struct raw *r = arg;
	r->status = resp->status;
	r->error = resp->error;
	r->body = acs_xstrndup(resp->body ? resp->body : "", resp->body_len);
	r->done = 1;
}

char *sim_http(uv_loop_t *loop, struct acs_curl_loop *cl, const char *method, const char *url,
	       const char *header, const char *body, long want_status)
{
	struct raw r = { 0 };
	const char *hdrs[] = { "Content-Type: application/json", header, NULL };
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.headers = hdrs,
		.body = body,
		.body_len = body ? strlen(body) : 0,
	};
	assert_int_equal(acs_curl_loop_request(cl, &req, on_raw, &r, NULL), 0);
	acs_test_run_until(loop, &r.done, WAIT_MS);
	assert_int_equal(r.error, 0);
	if (want_status ? r.status != want_status : r.status < 200 || r.status > 299)
		fail_msg("%s %s: HTTP %ld %s", method, url, r.status, r.body);
	return r.body;
}

char *http(struct env *e, const char *method, const char *url, const char *auth, const char *body)
{
	return sim_http(&e->loop, e->cl, method, url, auth, body, 0);
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
	/* env keeps its own copies of the world's names (its users read them there). */
	struct sim_world w;
	sim_world_start(&w, &e->loop, NULL);
	e->sim = w.sim;
	e->ado_svc = w.ado_svc;
	e->cu_svc = w.cu_svc;
	memcpy(e->ado_origin, w.ado_origin, sizeof(e->ado_origin));
	memcpy(e->org, w.org, sizeof(e->org));
	memcpy(e->project, w.project, sizeof(e->project));
	memcpy(e->pat, w.pat, sizeof(e->pat));
	memcpy(e->cu_base, w.cu_base, sizeof(e->cu_base));
	memcpy(e->cu_token, w.cu_token, sizeof(e->cu_token));
	memcpy(e->cu_origin, w.cu_origin, sizeof(e->cu_origin));

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

/* --- typed client callbacks into one capture --- */

static void cap_set(struct call_cap *k, enum acs_rest_class cls, long status, void *payload)
{
	assert_false(k->done);
	k->cls = cls;
	k->status = status;
	k->payload = payload;
	k->done = 1;
}

void cap_ado_done(const struct acs_ado_result *res, void *arg)
{
	cap_set(arg, res->cls, res->status, NULL);
}

void cap_ado_wi(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	cap_set(arg, res->cls, res->status, wi);
}

void cap_ado_sub(const struct acs_ado_result *res, struct acs_ado_subscription *s, void *arg)
{
	cap_set(arg, res->cls, res->status, s);
}

void cap_ado_subs(const struct acs_ado_result *res, struct acs_ado_subscription_list *l, void *arg)
{
	cap_set(arg, res->cls, res->status, l);
}

void cap_cu_done(const struct acs_clickup_result *res, void *arg)
{
	cap_set(arg, res->cls, res->status, NULL);
}

void cap_cu_task(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg)
{
	cap_set(arg, res->cls, res->status, t);
}

void cap_cu_hook(const struct acs_clickup_result *res, struct acs_clickup_webhook *w, void *arg)
{
	cap_set(arg, res->cls, res->status, w);
}

void cap_cu_hooks(const struct acs_clickup_result *res, struct acs_clickup_webhooks *w, void *arg)
{
	cap_set(arg, res->cls, res->status, w);
}

void cap_wait_ok(uv_loop_t *loop, struct call_cap *k)
{
	acs_test_run_until(loop, &k->done, WAIT_MS);
	if (k->cls != ACS_REST_OK)
		fail_msg("call failed: class %d status %ld", (int)k->cls, k->status);
}

/* --- engine parts on the env --- */

static void on_syncer_ready(int rc, const char *err, void *arg)
{
	if (rc)
		fail_msg("syncer start: %s", err);
	*(int *)arg = 1;
}

void sim_env_syncer_up(struct env *e)
{
	char err[ACS_ERR_LEN] = "";
	e->s = acs_syncer_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	if (!e->s)
		fail_msg("syncer: %s", err);
	int ready = 0;
	assert_int_equal(acs_syncer_start(e->s, on_syncer_ready, &ready), 0);
	acs_test_run_until(&e->loop, &ready, WAIT_MS);
}

void sim_env_syncer_down(struct env *e)
{
	int closed = 0;
	acs_syncer_close(e->s, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
	e->s = NULL;
}

void sim_env_scheduler_up(struct env *e)
{
	struct acs_scheduler_opts o;
	acs_scheduler_opts_defaults(&o);
	o.poll_interval_ms = 50;
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 100;
	o.prefetch = acs_pairs_prefetch; /* as the engine does */
	o.prefetch_free = acs_pairs_found_free;
	o.parse_bodies = true;
	e->sched = acs_scheduler_new(&e->loop, e->st, &o, acs_syncer_work, e->s);
	assert_non_null(e->sched);
}

void sim_env_scheduler_down(struct env *e)
{
	if (e->sched) {
		int n = 0;
		acs_scheduler_close(e->sched, set_flag, &n);
		acs_test_run_until(&e->loop, &n, WAIT_MS);
	}
	e->sched = NULL;
}

void sim_env_pause_deliveries(struct env *e)
{
	const char *origins[] = { e->ado_origin, e->cu_origin };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(origins); i++) {
		char *url = acs_xasprintf("%s/_sim/webhooks", origins[i]);
		free(http(e, "POST", url, NULL, "{\"deliver\": false}"));
		free(url);
	}
}

struct sql {
	const char *text;
	int64_t result;
	int done;
	int rc;
	char err[ACS_ERR_LEN];
};

static int sql_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct sql *q = arg;
	sqlite3_stmt *st = NULL;
	const char *tail = q->text;
	while (tail && *tail) {
		int rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
		if (rc != SQLITE_OK)
			return acs_store_error(db, rc, q->text, err);
		if (!st)
			break;
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			q->result = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			return acs_store_error(db, rc, q->text, err);
	}
	return 0;
}

static void sql_done(int rc, const char *err, void *arg)
{
	struct sql *q = arg;
	q->rc = rc;
	if (err)
		snprintf(q->err, sizeof(q->err), "%s", err);
	q->done = 1;
}

int64_t sim_env_sql(struct env *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char buf[2048];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	struct sql q = { .text = buf };
	assert_int_equal(acs_store_write(e->st, sql_fn, sql_done, &q), 0);
	acs_test_run_until(&e->loop, &q.done, WAIT_MS);
	if (q.rc < 0)
		fail_msg("sql: %s", q.err);
	return q.result;
}

struct counts_cap {
	int done;
	struct acs_inbox_counts job;
};

static void on_counts(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	acs_container_of(arg, struct counts_cap, job)->done = 1;
}

struct acs_inbox_counts sim_env_inbox_counts(struct env *e)
{
	struct counts_cap c = { 0 };
	assert_int_equal(acs_inbox_counts(e->st, &c.job, on_counts), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.job;
}

int64_t sim_env_inbox_total(const struct acs_inbox_counts *c)
{
	int64_t t = 0;
	for (int i = 0; i < ACS_INBOX_NSTATES; i++)
		t += c->n[i];
	return t;
}
