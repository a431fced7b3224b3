/* SPDX-License-Identifier: MIT */
/* Unit tests for the sweep: both simulators in-process with webhook deliveries paused,
 * a real store, and the store + syncer + scheduler + sweep pieces of the engine on the
 * test's loop. Each test checks both sides through the clients. */
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
#include "inbox.h"
#include "scheduler.h"
#include "sweep.h"
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
	struct acs_scheduler *sched;
	struct acs_sweep *sw;
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
	*state = e;
	return 0;
}

static void engine_down(struct env *e);

static int teardown(void **state)
{
	struct env *e = *state;
	int n = 0;
	engine_down(e);
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

/* ------------------------------------------------------------------------ */
/* Engine pieces                                                             */
/* ------------------------------------------------------------------------ */

static void kick(void *arg)
{
	struct env *e = arg;
	if (e->sched)
		acs_scheduler_kick(e->sched);
}

static void pause_deliveries(struct env *e)
{
	char *url = acs_xasprintf("%s/_sim/webhooks", e->ado_origin);
	free(http(e, "POST", url, NULL, "{\"deliver\": false}"));
	free(url);
	url = acs_xasprintf("%s/_sim/webhooks", e->cu_origin);
	free(http(e, "POST", url, NULL, "{\"deliver\": false}"));
	free(url);
}

/* The sweep, and with work the scheduler driving the syncer (without it the swept
 * rows stay pending, so the tests can look at exactly what a sweep stored). */
static void engine_up(struct env *e, bool work)
{
	pause_deliveries(e);
	e->sw = acs_sweep_new(&e->loop, e->st, e->ado, e->cu, e->cfg, kick, e);
	assert_non_null(e->sw);
	if (!work)
		return;
	struct acs_scheduler_opts o;
	acs_scheduler_opts_defaults(&o);
	o.poll_interval_ms = 50;
	o.backoff_base_ms = 50;
	o.backoff_max_ms = 100;
	e->sched = acs_scheduler_new(&e->loop, e->st, &o, acs_syncer_work, e->s);
	assert_non_null(e->sched);
}

static void engine_down(struct env *e)
{
	int n = 0;
	if (e->sw) {
		acs_sweep_close(e->sw, set_flag, &n);
		acs_test_run_until(&e->loop, &n, WAIT_MS);
	}
	n = 0;
	if (e->sched) {
		acs_scheduler_close(e->sched, set_flag, &n);
		acs_test_run_until(&e->loop, &n, WAIT_MS);
	}
	e->sched = NULL;
	e->sw = NULL;
}

struct run_cap {
	int done;
	int rc;
	char err[ACS_ERR_LEN];
};

static void on_swept(int rc, const char *err, void *arg)
{
	struct run_cap *c = arg;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
	c->done = 1;
}

static int sweep_once(struct env *e, struct acs_sweep_stats *st)
{
	struct run_cap c = { 0 };
	assert_int_equal(acs_sweep_run(e->sw, on_swept, &c), 0);
	/* Never two runs at once. */
	assert_int_equal(acs_sweep_run(e->sw, on_swept, &c), -EBUSY);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	acs_sweep_stats(e->sw, st);
	return c.rc;
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

static struct acs_inbox_counts inbox_counts(struct env *e)
{
	struct counts_cap c = { 0 };
	assert_int_equal(acs_inbox_counts(e->st, &c.job, on_counts), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.job;
}

static int64_t inbox_total(const struct acs_inbox_counts *c)
{
	int64_t t = 0;
	for (int i = 0; i < ACS_INBOX_NSTATES; i++)
		t += c->n[i];
	return t;
}

/* Let the scheduler work the inbox until nothing is pending or processing. */
static void work_inbox(struct env *e)
{
	uint64_t deadline = uv_now(&e->loop) + WAIT_MS;
	for (;;) {
		struct acs_inbox_counts c = inbox_counts(e);
		if (!c.n[ACS_INBOX_PENDING] && !c.n[ACS_INBOX_PROCESSING] &&
		    !acs_scheduler_running(e->sched))
			break;
		uv_run(&e->loop, UV_RUN_ONCE);
		uv_update_time(&e->loop);
		if (uv_now(&e->loop) > deadline)
			fail_msg("the inbox was not worked off");
	}
	struct acs_inbox_counts c = inbox_counts(e);
	assert_int_equal(c.n[ACS_INBOX_ERROR], 0);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

/* With deliveries paused, one sweep creates the twin of a new item, and after edits on
 * both sides one more sweep brings the pair back in sync. */
static void test_converge(void **state)
{
	struct env *e = *state;
	engine_up(e, true);
	int64_t id = ado_human_create(e, "Swept item", "Platform\\Integrations");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1);
	assert_true(st.queued >= 1);
	work_inbox(e);

	/* The twin exists: find it by listing the list. */
	struct acs_ado_work_item *wi = ado_get(e, id);
	char *task_id = NULL;
	for (size_t i = 0; i < wi->n_relations; i++) {
		const char *u = wi->relations[i].url;
		const char *t = u ? strstr(u, "/t/") : NULL;
		if (t && !strcmp(wi->relations[i].rel, "Hyperlink"))
			task_id = acs_xstrdup(t + 3);
	}
	acs_ado_work_item_free(wi);
	if (!task_id)
		fail_msg("no back-link to a ClickUp twin on the work item");
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_string_equal(t->name, "Swept item");
	acs_clickup_task_free(t);

	/* Edits on both sides, different fields. */
	struct acs_ado_fields f = { .title = "Renamed in ADO" };
	ado_human_update(e, id, &f);
	struct acs_clickup_task_changes ch = { .set_priority = true, .priority = 1 };
	cu_human_update(e, task_id, &ch);

	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1);
	assert_true(st.clickup_seen >= 1);
	assert_true(st.queued >= 2);
	work_inbox(e);

	t = cu_get(e, task_id);
	assert_string_equal(t->name, "Renamed in ADO");
	assert_int_equal(t->priority, 1);
	acs_clickup_task_free(t);
	wi = ado_get(e, id);
	assert_string_equal(wi->title, "Renamed in ADO");
	assert_int_equal(wi->priority, 1);
	acs_ado_work_item_free(wi);

	/* Nothing came by webhook. */
	assert_int_equal(e->ado_rx.n, 0);
	assert_int_equal(e->cu_rx.n, 0);
	free(task_id);
	engine_down(e);
}

/* A second sweep over unchanged items stores no new row; the watermarks advance and
 * are read back from meta by the next run. */
static void test_unchanged_and_watermark(void **state)
{
	struct env *e = *state;
	engine_up(e, false);
	int64_t id = ado_human_create(e, "Quiet item", "Platform\\Integrations");
	char *task_id = cu_human_create(e, "Quiet task");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.queued, 2);
	assert_true(st.ado_watermark > 0);
	assert_true(st.clickup_watermark > 0);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_int_equal(st.clickup_watermark, t->date_updated);
	acs_clickup_task_free(t);
	int64_t wa = st.ado_watermark, wc = st.clickup_watermark;

	struct acs_inbox_counts c = inbox_counts(e);
	int64_t before = inbox_total(&c);
	assert_int_equal(before, 2);
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1); /* listed again (overlap) ... */
	assert_true(st.clickup_seen >= 1);
	assert_int_equal(st.queued, 0); /* ... but nothing new stored */
	c = inbox_counts(e);
	assert_int_equal(inbox_total(&c), before);
	assert_int_equal(st.ado_watermark, wa);
	assert_int_equal(st.clickup_watermark, wc);

	/* A change moves the ADO watermark forward. */
	struct acs_ado_fields f = { .title = "Quiet item, edited" };
	ado_human_update(e, id, &f);
	assert_int_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.queued, 1);
	assert_true(st.ado_watermark >= wa);
	wi = ado_get(e, id);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	free(task_id);
	engine_down(e);
}

/* API errors leave the watermarks unchanged; the next run catches up. */
static void test_errors_keep_watermark(void **state)
{
	struct env *e = *state;
	engine_up(e, false);
	(void)ado_human_create(e, "First", "Platform\\Integrations");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	int64_t wa = st.ado_watermark, wc = st.clickup_watermark;
	assert_true(wa > 0);

	int64_t id2 = ado_human_create(e, "Second", "Platform\\Integrations");
	char *task_id = cu_human_create(e, "Second task");
	fault(e, e->cu_origin,
	      "{\"path\":\"/task\",\"method\":\"GET\",\"status\":500,\"count\":1}");
	int rc = sweep_once(e, &st);
	assert_int_not_equal(rc, 0);
	assert_int_equal(st.runs_failed, 1);
	assert_int_equal(st.ado_watermark, wa);
	assert_int_equal(st.clickup_watermark, wc);

	/* Also an ADO failure. */
	fault(e, e->ado_origin, "{\"path\":\"/wiql\",\"status\":500,\"count\":1}");
	assert_int_not_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.runs_failed, 2);
	assert_int_equal(st.ado_watermark, wa);

	/* The next run picks the missed changes up. */
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_watermark >= wa);
	struct acs_ado_work_item *wi = ado_get(e, id2);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_int_equal(st.clickup_watermark, t->date_updated);
	acs_clickup_task_free(t);
	free(task_id);
	engine_down(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_converge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_and_watermark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_keep_watermark, setup, teardown),
	};
	if (getenv("ACS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
