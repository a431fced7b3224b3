/* SPDX-License-Identifier: MIT */
/* Unit tests for syncer: both simulators in-process on the test's loop, a real store in a
 * temp dir, and the events fed to acs_syncer_sync taken from real simulator deliveries
 * (a tiny receiver on the same loop collects the raw bodies). Each test checks both
 * sides through the clients and the writes through the simulators' request logs. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "store.h"
#include "syncer.h"

#define WAIT_MS 30000
#define LIST_ID "901110236848"
#define AVERY 54098740
#define SAM 54098741

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

struct bodies {
	char **v;
	size_t n;
};

struct env {
	uv_loop_t loop;
	struct sim *sim;
	struct sim_service *ado_svc, *cu_svc;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_http_server *rx;
	struct acs_store *st;
	struct acs_config *cfg;
	struct acs_syncer *s;
	char *dir, *db;
	char ado_origin[128], org[64], project[64], pat[128];
	char cu_base[128], cu_token[128], cu_origin[128];
	struct bodies ado_rx, cu_rx;
	size_t ado_log_mark, cu_log_mark;
};

static void set_flag(void *arg)
{
	*(int *)arg = 1;
}

static void copy_str(char *dst, size_t n, const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	assert_non_null(s);
	snprintf(dst, n, "%s", s);
}

static void on_rx(struct acs_http_req *req, void *arg)
{
	struct bodies *b = arg;
	size_t len = 0;
	const char *body = acs_http_req_body(req, &len);
	b->v = acs_xrealloc(b->v, (b->n + 1) * sizeof(*b->v));
	b->v[b->n++] = acs_xstrndup(body ? body : "", len);
	acs_http_respond(req, 200, "application/json", "{}", 2);
}

static void bodies_clear(struct bodies *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
	b->v = NULL;
	b->n = 0;
}

/* Forget the first n bodies. */
static void bodies_drop(struct bodies *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(b->v[i]);
	memmove(b->v, b->v + n, (b->n - n) * sizeof(*b->v));
	b->n -= n;
}

/* --- raw HTTP --- */

struct raw {
	int done;
	long status;
	char *body;
};

static void on_raw(const struct acs_http_response *resp, void *arg)
{
	struct raw *r = arg;
	r->status = resp->status;
	r->body = acs_xstrndup(resp->body ? resp->body : "", resp->body_len);
	r->done = 1;
}

static char *http(struct env *e, const char *method, const char *url, const char *auth,
		  const char *body)
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

static void fault(struct env *e, const char *origin, const char *json)
{
	char *url = acs_xasprintf("%s/_sim/faults", origin);
	free(http(e, "POST", url, NULL, json));
	free(url);
}

/* Requests a service logged since the last mark: writes (non-GET) and all. */
struct reqs {
	size_t all, writes;
	char paths[2048];
};

static struct reqs requests_since(struct env *e, const char *origin, size_t *mark)
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

static struct reqs ado_reqs(struct env *e)
{
	return requests_since(e, e->ado_origin, &e->ado_log_mark);
}

static struct reqs cu_reqs(struct env *e)
{
	return requests_since(e, e->cu_origin, &e->cu_log_mark);
}

/* Run until every queued webhook was delivered to the receiver. */
static void drain(struct env *e)
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

/* --- syncer --- */

static void on_ready(int rc, const char *err, void *arg)
{
	if (rc)
		fail_msg("syncer start: %s", err);
	*(int *)arg = 1;
}

static void syncer_up(struct env *e)
{
	char err[ACS_ERR_LEN] = "";
	e->s = acs_syncer_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	if (!e->s)
		fail_msg("syncer: %s", err);
	int ready = 0;
	assert_int_equal(acs_syncer_start(e->s, on_ready, &ready), 0);
	acs_test_run_until(&e->loop, &ready, WAIT_MS);
}

static void syncer_down(struct env *e)
{
	int closed = 0;
	acs_syncer_close(e->s, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
	e->s = NULL;
}

static const char *cfg_text = "[ado]\norganization = contoso\nproject = Platform\n"
			      "[map integ]\nado_project = Platform\n"
			      "ado_area_path = Platform\\Integrations\n"
			      "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			      "clickup_list_id = " LIST_ID "\nstatus.Active = in progress\n";

static struct acs_governor_opts fast_governor(enum acs_governor_service svc)
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

static int setup(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
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
	syncer_up(e);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	int n = 0;
	if (e->s)
		syncer_down(e);
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
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Driving the syncer                                                        */
/* ------------------------------------------------------------------------ */

struct outcome {
	int done;
	enum acs_job_outcome outcome;
	char msg[ACS_ERR_LEN];
};

static void on_synced(enum acs_job_outcome outcome, const char *message, void *arg)
{
	struct outcome *o = arg;
	o->outcome = outcome;
	snprintf(o->msg, sizeof(o->msg), "%s", message ? message : "");
	o->done = 1;
}

/* Sync key with the bodies received so far from the given sides (forgotten unless
 * keep). */
static const char *why = "";

static struct outcome sync_keep(struct env *e, const char *key, bool ado, bool cu, bool keep)
{
	drain(e);
	size_t n_ado = ado ? e->ado_rx.n : 0, n_cu = cu ? e->cu_rx.n : 0;
	size_t n = n_ado + n_cu;
	struct acs_job_event *ev = acs_xcalloc(n + 1, sizeof(*ev));
	size_t k = 0;
	for (size_t i = 0; i < n_ado; i++)
		ev[k++] = (struct acs_job_event){ .id = (int64_t)k + 1,
						  .source = "ado",
						  .event_type = "updated",
						  .item_key = key,
						  .body = e->ado_rx.v[i] };
	for (size_t i = 0; i < n_cu; i++)
		ev[k++] = (struct acs_job_event){ .id = (int64_t)k + 1,
						  .source = "clickup",
						  .event_type = "updated",
						  .item_key = key,
						  .body = e->cu_rx.v[i] };
	struct outcome o = { 0 };
	if (!n)
		fail_msg("no deliveries to sync for %s (%s)", key, why);
	assert_int_equal(acs_syncer_sync(e->s, key, ev, n, on_synced, &o), 0);
	acs_test_run_until(&e->loop, &o.done, WAIT_MS);
	free(ev);
	/* Deliveries that arrived while the sync ran stay for the next round. */
	if (ado && !keep)
		bodies_drop(&e->ado_rx, n_ado);
	if (cu && !keep)
		bodies_drop(&e->cu_rx, n_cu);
	return o;
}

static struct outcome sync_rx(struct env *e, const char *key, bool ado, bool cu)
{
	return sync_keep(e, key, ado, cu, false);
}

static void assert_done(const struct outcome *o)
{
	if (o->outcome != ACS_JOB_DONE)
		fail_msg("outcome %d: %s", o->outcome, o->msg);
}

/* --- synchronous client wrappers --- */

struct wi_cap {
	int done;
	enum acs_rest_class cls;
	char msg[ACS_ERR_LEN];
	struct acs_ado_work_item *wi;
};

static void on_wi(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct wi_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->wi = wi;
	c->done = 1;
}

static struct acs_ado_work_item *wi_wait(struct env *e, struct wi_cap *c)
{
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
	if (c->cls != ACS_REST_OK)
		fail_msg("ADO call: %s", c->msg);
	return c->wi;
}

static struct acs_ado_work_item *ado_get(struct env *e, int64_t id)
{
	struct wi_cap c = { 0 };
	assert_int_equal(acs_ado_get_work_item(e->ado, id, on_wi, &c), 0);
	return wi_wait(e, &c);
}

static int64_t ado_human_create(struct env *e, const char *title, const char *area)
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

static void ado_human_update(struct env *e, int64_t id, const struct acs_ado_fields *f)
{
	struct wi_cap c = { 0 };
	assert_int_equal(acs_ado_update_work_item(e->ado, id, 0, f, NULL, on_wi, &c), 0);
	acs_ado_work_item_free(wi_wait(e, &c));
}

struct task_cap {
	int done;
	enum acs_rest_class cls;
	long status;
	char msg[ACS_ERR_LEN];
	struct acs_clickup_task *t;
};

static void on_task(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg)
{
	struct task_cap *c = arg;
	c->cls = res->cls;
	c->status = res->status;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->t = t;
	c->done = 1;
}

static struct acs_clickup_task *task_wait(struct env *e, struct task_cap *c)
{
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
	if (c->cls != ACS_REST_OK)
		fail_msg("ClickUp call: %s", c->msg);
	return c->t;
}

static struct acs_clickup_task *cu_get(struct env *e, const char *id)
{
	struct task_cap c = { 0 };
	assert_int_equal(acs_clickup_get_task(e->cu, ACS_GOVERNOR_INTERACTIVE, id, on_task, &c), 0);
	return task_wait(e, &c);
}

static char *cu_human_create(struct env *e, const char *name)
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

static void cu_human_update(struct env *e, const char *id,
			    const struct acs_clickup_task_changes *ch)
{
	struct task_cap c = { 0 };
	assert_int_equal(
		acs_clickup_update_task(e->cu, ACS_GOVERNOR_INTERACTIVE, id, ch, on_task, &c), 0);
	acs_clickup_task_free(task_wait(e, &c));
}

/* --- the store --- */

struct pair_cap {
	int done;
	struct acs_pair *p;
};

static void on_pair(int rc, const char *err, struct acs_pair *p, void *arg)
{
	struct pair_cap *c = arg;
	if (rc)
		fail_msg("pair: %s", err);
	c->p = p;
	c->done = 1;
}

static struct acs_pair *pair_of_ado(struct env *e, int64_t id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_ado(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

struct log_cap {
	int done;
	struct acs_sync_log_page *page;
};

static void on_page(int rc, const char *err, struct acs_sync_log_page *p, void *arg)
{
	struct log_cap *c = arg;
	if (rc)
		fail_msg("log: %s", err);
	c->page = p;
	c->done = 1;
}

/* Rows with this action (and status when given). */
static int64_t log_count(struct env *e, const char *action, const char *status)
{
	struct log_cap c = { 0 };
	struct acs_sync_log_query q = { .action = action, .status = status, .limit = 1 };
	assert_int_equal(acs_pairs_log_list(e->st, &q, on_page, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	int64_t n = c.page->total;
	acs_sync_log_page_free(c.page);
	return n;
}

static char *log_newest(struct env *e, const char *action)
{
	struct log_cap c = { 0 };
	struct acs_sync_log_query q = { .action = action, .limit = 1 };
	assert_int_equal(acs_pairs_log_list(e->st, &q, on_page, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_true(c.page->n == 1);
	char *m = acs_xasprintf("%s|%s", c.page->rows[0].message,
				c.page->rows[0].fields ? c.page->rows[0].fields : "");
	acs_sync_log_page_free(c.page);
	return m;
}

static struct acs_pair *pair_of_cu(struct env *e, const char *id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_clickup(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

static char *web_url(struct env *e, int64_t id)
{
	return acs_xasprintf("%s/%s/%s/_workitems/edit/%" PRId64, e->ado_origin, e->org, e->project,
			     id);
}

static bool has_hyperlink(const struct acs_ado_work_item *wi, const char *url)
{
	size_t n = 0;
	for (size_t i = 0; i < wi->n_relations; i++)
		if (!strcmp(wi->relations[i].rel, "Hyperlink") &&
		    !strcmp(wi->relations[i].url, url))
			n++;
	return n == 1;
}

static bool has_tag(const struct acs_clickup_task *t, const char *tag)
{
	for (size_t i = 0; i < t->n_tags; i++)
		if (!strcmp(t->tags[i], tag))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* Sync our own writes' deliveries: nothing may be written, anywhere. */
static void assert_echo_round(struct env *e, const char *key)
{
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	int64_t echoes = log_count(e, "echo", "skipped");
	why = "echo round";
	struct outcome o = sync_rx(e, key, true, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	if (ra.writes || rc.writes)
		fail_msg("echo caused writes: ado [%s] clickup [%s]", ra.paths, rc.paths);
	assert_true(log_count(e, "echo", "skipped") > echoes);
}

/* An ADO item created by a human and synced: the pair, with its echoes consumed. */
static int64_t make_pair(struct env *e, const char *title, char key[32], char **task_id)
{
	int64_t id = ado_human_create(e, title, "Platform\\Integrations");
	snprintf(key, 32, "ado:%" PRId64, id);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	*task_id = acs_xstrdup(p->clickup_id);
	acs_pair_free(p);
	assert_echo_round(e, key);
	return id;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_ado_create(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Ship the sync", "Platform\\Integrations");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	char key[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);

	/* One create on ClickUp, one PATCH (the Hyperlink) on ADO, no read of ADO. */
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(rc.writes, 1);
	assert_non_null(strstr(rc.paths, "POST /api/v2/list/" LIST_ID "/task"));
	assert_int_equal(ra.all, 1);
	assert_int_equal(ra.writes, 1);

	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	struct acs_clickup_task *t = cu_get(e, p->clickup_id);
	assert_string_equal(t->name, "Ship the sync");
	assert_string_equal(t->status, "to do"); /* New: Proposed -> the open status */
	assert_int_equal(t->priority, 2);
	assert_int_equal(t->n_assignees, 1);
	assert_int_equal(t->assignees[0].id, AVERY);
	assert_int_equal(t->n_tags, 2);
	assert_true(has_tag(t, "backend"));
	assert_true(has_tag(t, "urgent"));
	assert_int_equal(t->due_date, 1767225600000);
	char *url = web_url(e, id);
	char *footer = acs_xasprintf("\n\nAzure DevOps work item: %s", url);
	assert_true(t->description_is_markdown);
	assert_non_null(strstr(t->description, "Hello **world**"));
	assert_true(ends_with(t->description, footer));
	free(footer);
	free(url);

	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_true(has_hyperlink(wi, t->url));
	assert_int_equal(p->ado_rev, wi->rev);
	assert_int_equal(p->clickup_rev, t->date_updated);
	assert_non_null(strstr(p->base, "\"fields\""));
	assert_non_null(strstr(p->base, "\"changed\""));
	assert_null(strstr(p->base, "pending"));
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	acs_pair_free(p);
	assert_true(log_count(e, "created", "ok") == 1);

	/* Our own writes come back as webhooks: skipped, nothing written. */
	assert_echo_round(e, key);
}

static void test_clickup_create(void **state)
{
	struct env *e = *state;
	char *tid = cu_human_create(e, "From ClickUp");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	char key[64];
	snprintf(key, sizeof(key), "clickup:%s", tid);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(ra.writes, 1); /* the create carries the Hyperlink */
	assert_int_equal(rc.writes, 1); /* the footer */

	struct acs_pair *p = pair_of_cu(e, tid);
	assert_non_null(p);
	struct acs_clickup_task *t = cu_get(e, tid);
	struct acs_ado_work_item *wi = ado_get(e, p->ado_id);
	assert_string_equal(wi->title, "From ClickUp");
	assert_string_equal(wi->work_item_type, "Task");
	assert_string_equal(wi->state, "Active"); /* status.Active = in progress */
	assert_string_equal(wi->area_path, "Platform\\Integrations");
	assert_int_equal(wi->priority, 3);
	assert_string_equal(wi->assigned_to.unique_name, "sam.ortiz@example.com");
	assert_int_equal(wi->n_tags, 1);
	assert_string_equal(wi->tags[0], "sync");
	assert_true(wi->has_due_date);
	assert_int_equal(wi->due_date_ms, 1769904000000);
	assert_non_null(strstr(wi->description, "<em>markdown</em>"));
	assert_true(has_hyperlink(wi, t->url));
	char *url = web_url(e, p->ado_id);
	char *footer = acs_xasprintf("Some *markdown* text\n\nAzure DevOps work item: %s", url);
	assert_string_equal(t->description, footer);
	free(footer);
	free(url);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);

	char akey[32];
	snprintf(akey, sizeof(akey), "ado:%" PRId64, p->ado_id);
	acs_pair_free(p);
	assert_echo_round(e, akey);
	free(tid);
}

static void test_edits_mirror(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Mirror me", key, &tid);

	/* Every field edited in ADO. */
	static const char *const tags[] = { "Frontend" };
	struct acs_ado_fields f = {
		.title = "Mirrored title",
		.description = "<p>New <i>text</i></p>",
		.state = "Active",
		.priority = 1,
		.assigned_to = "sam.ortiz@example.com",
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = 1,
		.due_change = ACS_ADO_CLEAR,
	};
	ado_human_update(e, id, &f);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(ra.all, 0); /* the delivery carried the revision: no read */
	assert_int_equal(rc.all, rc.writes);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "Mirrored title");
	assert_non_null(strstr(t->description, "New *text*"));
	assert_non_null(strstr(t->description, "Azure DevOps work item: "));
	assert_string_equal(t->status, "in progress");
	assert_int_equal(t->priority, 1);
	assert_int_equal(t->n_assignees, 1);
	assert_int_equal(t->assignees[0].id, SAM);
	assert_int_equal(t->n_tags, 1);
	assert_true(has_tag(t, "frontend"));
	assert_int_equal(t->due_date, 0);
	acs_clickup_task_free(t);
	char *last = log_newest(e, "updated");
	assert_non_null(strstr(last, "\"title\""));
	assert_non_null(strstr(last, "\"tags\""));
	free(last);
	assert_echo_round(e, key);

	/* Fields edited in ClickUp: one GET and one PATCH. */
	struct acs_clickup_task_changes ch = {
		.name = "Renamed in ClickUp",
		.markdown = "Edited **in ClickUp**",
		.status = "complete",
		.set_priority = true,
		.priority = 4,
		.set_due_date = true,
		.due_date = 1770000000000,
		.due_date_time = true,
	};
	cu_human_update(e, tid, &ch);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	ra = ado_reqs(e);
	rc = cu_reqs(e);
	assert_int_equal(ra.all, 1);
	assert_int_equal(ra.writes, 1);
	assert_int_equal(rc.all, 1); /* the GET */
	assert_int_equal(rc.writes, 0);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_string_equal(wi->title, "Renamed in ClickUp");
	assert_non_null(strstr(wi->description, "<strong>in ClickUp</strong>"));
	assert_string_equal(wi->state, "Closed");
	assert_int_equal(wi->priority, 4);
	assert_int_equal(wi->due_date_ms, 1770000000000);
	acs_ado_work_item_free(wi);
	assert_echo_round(e, key);
	free(tid);
}

static void test_burst_coalesces(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Burst", key, &tid);
	for (int i = 1; i <= 5; i++) {
		char title[16];
		snprintf(title, sizeof(title), "v%d", i);
		struct acs_ado_fields f = { .title = title };
		ado_human_update(e, id, &f);
	}
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs rc = cu_reqs(e);
	assert_int_equal(rc.writes, 1);
	assert_int_equal(rc.all, 1);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "v5");
	acs_clickup_task_free(t);
	free(tid);
}

static void conflict_case(struct env *e, enum acs_config_conflict policy, bool ado_last,
			  bool ado_wins)
{
	e->cfg->sync.conflict = policy;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Contested", key, &tid);
	struct acs_ado_fields f = { .title = "ADO title" };
	struct acs_clickup_task_changes ch = { .name = "ClickUp title" };
	if (ado_last) {
		cu_human_update(e, tid, &ch);
		ado_human_update(e, id, &f);
	} else {
		ado_human_update(e, id, &f);
		cu_human_update(e, tid, &ch);
	}
	int64_t conflicts = log_count(e, "conflict", "ok");
	why = "conflict";
	struct outcome o = sync_rx(e, key, true, true);
	assert_done(&o);
	assert_int_equal(log_count(e, "conflict", "ok"), conflicts + 1);
	const char *want = ado_wins ? "ADO title" : "ClickUp title";
	struct acs_ado_work_item *wi = ado_get(e, id);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(wi->title, want);
	assert_string_equal(t->name, want);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	char *last = log_newest(e, "conflict");
	assert_non_null(strstr(last, ado_wins ? "Azure DevOps wins" : "ClickUp wins"));
	assert_non_null(strstr(last, "[\"title\"]"));
	free(last);
	assert_echo_round(e, key);
	free(tid);
}

static void test_conflicts(void **state)
{
	struct env *e = *state;
	conflict_case(e, ACS_CONFLICT_NEWEST, true, true);
	conflict_case(e, ACS_CONFLICT_NEWEST, false, false);
	conflict_case(e, ACS_CONFLICT_ADO, false, true);
	conflict_case(e, ACS_CONFLICT_CLICKUP, true, false);
}

static void test_412_remerge(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Race", key, &tid);
	struct acs_clickup_task_changes ch = { .name = "Title from ClickUp" };
	cu_human_update(e, tid, &ch);
	struct acs_ado_fields f = { .priority = 1 };
	ado_human_update(e, id, &f);
	(void)ado_reqs(e);
	/* Only the ClickUp events: the PATCH tests a stale rev, gets 412, re-reads. */
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e);
	assert_int_equal(ra.writes, 2);
	assert_int_equal(ra.all, 3);
	struct acs_ado_work_item *wi = ado_get(e, id);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(wi->title, "Title from ClickUp");
	assert_int_equal(wi->priority, 1);
	assert_string_equal(t->name, "Title from ClickUp");
	assert_int_equal(t->priority, 1);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	assert_int_equal(log_count(e, "error", NULL), 0);
	/* The ADO delivery of the human's priority change is now stale: skipped. */
	assert_echo_round(e, key);
	free(tid);
}

struct intent_cap {
	int done;
	struct acs_intent *in;
};

static void on_intent(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct intent_cap *c = arg;
	if (rc)
		fail_msg("intent: %s", err);
	c->in = in;
	c->done = 1;
}

struct page_cap {
	int done;
	struct acs_clickup_task_page *pg;
};

static void on_tasks(const struct acs_clickup_result *res, struct acs_clickup_task_page *pg,
		     void *arg)
{
	struct page_cap *c = arg;
	assert_int_equal(res->cls, ACS_REST_OK);
	c->pg = pg;
	c->done = 1;
}

static size_t tasks_named(struct env *e, const char *name)
{
	struct page_cap c = { 0 };
	struct acs_clickup_task_query q = { .list_id = LIST_ID, .include_closed = true };
	assert_int_equal(acs_clickup_list_tasks(e->cu, ACS_GOVERNOR_INTERACTIVE, &q, on_tasks, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	size_t n = 0;
	for (size_t i = 0; i < c.pg->n; i++)
		n += !strcmp(c.pg->tasks[i].name, name);
	acs_clickup_task_page_free(c.pg);
	return n;
}

static void test_crash_during_create(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Crashy", "Platform\\Integrations");
	char key[32], sid[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	snprintf(sid, sizeof(sid), "%" PRId64, id);
	drain(e);

	/* What a crashed run left: the intent, and the twin created remotely. */
	struct acs_pair *none = pair_of_ado(e, id);
	assert_null(none);
	struct intent_cap ic = { 0 };
	assert_int_equal(acs_pairs_intent_open(e->st, 1, "ado", sid, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	acs_intent_free(ic.in);
	char *url = web_url(e, id);
	char *md = acs_xasprintf("Hello **world**\n\nAzure DevOps work item: %s", url);
	struct acs_clickup_task_new t = { .name = "Crashy", .markdown = md, .priority = 2 };
	struct task_cap c = { 0 };
	assert_int_equal(acs_clickup_create_task(e->cu, ACS_GOVERNOR_INTERACTIVE, LIST_ID, &t,
						 on_task, &c),
			 0);
	struct acs_clickup_task *twin = task_wait(e, &c);
	free(md);
	free(url);
	drain(e);
	bodies_clear(&e->cu_rx);

	/* Restart: a new syncer on the same store. */
	syncer_down(e);
	syncer_up(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs rc = cu_reqs(e);
	assert_null(strstr(rc.paths, "POST /api/v2/list/"));
	assert_int_equal(tasks_named(e, "Crashy"), 1);
	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	assert_string_equal(p->clickup_id, twin->id);
	/* Adopted, then merged: the fields the twin lacked were pushed, the link added. */
	struct acs_clickup_task *now = cu_get(e, twin->id);
	assert_int_equal(now->n_assignees, 1);
	assert_int_equal(now->due_date, 1767225600000);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_true(has_hyperlink(wi, twin->url));
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(now);
	acs_clickup_task_free(twin);
	acs_pair_free(p);
	ic = (struct intent_cap){ 0 };
	assert_int_equal(acs_pairs_intent_find(e->st, "ado", sid, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	assert_null(ic.in);
	assert_echo_round(e, key);
}

static void test_faults(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Faulty", key, &tid);
	struct acs_ado_fields f = { .title = "After faults" };
	ado_human_update(e, id, &f);

	/* 500 on the ClickUp write: retry later. */
	fault(e, e->cu_origin,
	      "{\"path\":\"/task/\",\"method\":\"PUT\",\"status\":500,\"count\":1}");
	struct outcome o = sync_keep(e, key, true, false, true);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	assert_non_null(strstr(o.msg, "500"));
	assert_true(log_count(e, "retry", "retry") >= 1);

	/* The fault is gone: the same events now go through. */
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "After faults");
	acs_clickup_task_free(t);

	/* ADO side: a 503 on the PATCH is retryable. */
	struct acs_clickup_task_changes ch = { .name = "From ClickUp again" };
	cu_human_update(e, tid, &ch);
	fault(e, e->ado_origin,
	      "{\"path\":\"/_apis/wit/workitems/"
	      "\",\"method\":\"PATCH\",\"status\":503,\"count\":1}");
	o = sync_keep(e, key, false, true, true);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_string_equal(wi->title, "From ClickUp again");
	acs_ado_work_item_free(wi);

	/* 429 on the ClickUp write: retry later (last: after a 429 without Reset the
	 * governor rightly holds ClickUp calls until the window it saw ends). */
	(void)sync_rx(e, key, true, true); /* consume the echoes */
	struct acs_ado_fields f2 = { .title = "Throttled" };
	ado_human_update(e, id, &f2);
	fault(e, e->cu_origin,
	      "{\"path\":\"/task/\",\"method\":\"PUT\",\"status\":429,\"retry_after\":0,"
	      "\"count\":1}");
	o = sync_rx(e, key, true, false);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	assert_non_null(strstr(o.msg, "429"));
	free(tid);
}

struct done_cap {
	int done;
	enum acs_rest_class cls;
};

static void on_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct done_cap *c = arg;
	c->cls = res->cls;
	c->done = 1;
}

static void test_permanent_failure(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Doomed", key, &tid);
	/* The twin is gone (deletes are a later issue): the write fails for good. */
	struct done_cap c = { 0 };
	assert_int_equal(
		acs_clickup_delete_task(e->cu, ACS_GOVERNOR_INTERACTIVE, tid, on_deleted, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_OK);
	drain(e);
	bodies_clear(&e->cu_rx);
	struct acs_ado_fields f = { .title = "Nowhere to go" };
	ado_human_update(e, id, &f);
	struct outcome o = sync_rx(e, key, true, false);
	assert_int_equal(o.outcome, ACS_JOB_FAILED);
	assert_non_null(strstr(o.msg, "Task not found"));
	assert_non_null(strstr(o.msg, "HTTP 404"));
	char *last = log_newest(e, "error");
	assert_non_null(strstr(last, "Task not found"));
	free(last);
	free(tid);
}

static void test_unmapped_skipped(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Elsewhere", "Platform\\Web");
	char key[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_int_equal(cu_reqs(e).all, 0);
	assert_null(pair_of_ado(e, id));
	char *last = log_newest(e, "skipped");
	assert_non_null(strstr(last, "matches no mapping"));
	free(last);

	/* An update of an unpaired ClickUp task does not start a pair. */
	char *tid = cu_human_create(e, "Orphan");
	drain(e);
	bodies_clear(&e->cu_rx);
	struct acs_clickup_task_changes ch = { .name = "Orphan 2" };
	cu_human_update(e, tid, &ch);
	char ckey[64];
	snprintf(ckey, sizeof(ckey), "clickup:%s", tid);
	(void)ado_reqs(e);
	o = sync_rx(e, ckey, false, true);
	assert_done(&o);
	assert_int_equal(ado_reqs(e).all, 0);
	last = log_newest(e, "skipped");
	assert_non_null(strstr(last, "not paired"));
	free(last);
	free(tid);
}

static void test_strip_footer(void **state)
{
	(void)state;
	char a[] = "Text\n\nAzure DevOps work item: http://x/1\n";
	char *u = acs_syncer_strip_footer(a);
	assert_string_equal(u, "http://x/1");
	assert_string_equal(a, "Text");
	free(u);
	char b[] = "Azure DevOps work item: http://x/2";
	u = acs_syncer_strip_footer(b);
	assert_string_equal(u, "http://x/2");
	assert_string_equal(b, "");
	free(u);
	char c[] = "Azure DevOps work item: http://x/3 and more";
	assert_null(acs_syncer_strip_footer(c));
	char d[] = "Azure DevOps work item: http://x/4\n\nlater paragraph";
	assert_null(acs_syncer_strip_footer(d));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_footer),
		cmocka_unit_test_setup_teardown(test_ado_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clickup_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_412_remerge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permanent_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_skipped, setup, teardown),
	};
	if (getenv("ACS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
