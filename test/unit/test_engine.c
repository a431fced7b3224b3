/* SPDX-License-Identifier: MIT */
/* Tests for the engine as a whole: both API simulators in-process, a real
 * store and the engine on the test's loop. Covers the webhook health loop
 * (deleted subscriptions come back at the next check) and register_now. */
#include <errno.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "curl_loop.h"
#include "engine.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "registrar.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "store.h"

#define PUBLIC_URL "http://127.0.0.1:9"
#define ADO_HOOK PUBLIC_URL ACS_REGISTRAR_ADO_PATH
#define CU_HOOK PUBLIC_URL ACS_REGISTRAR_CLICKUP_PATH

struct fx {
	uv_loop_t loop;
	char *tmpdir;
	struct sim_world w;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado; /* the test's own clients: to break things */
	struct acs_clickup_client *cu;
	struct acs_http_server *http;
	struct acs_store *store;
	struct acs_config *cfg;
	struct acs_engine *engine;
};

static void fx_config(struct fx *fx)
{
	char *text = acs_xasprintf("[server]\npublic_url = %s\n"
				   "[ado]\nbase_url = %s\norganization = %s\nproject = %s\n"
				   "pat = %s\nwebhook_username = hook\nwebhook_password = "
				   "hook-password-0123456789\n"
				   "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n"
				   "[sync]\nwebhook_check_interval = 1s\n"
				   "[map one]\nado_project = %s\nado_area_path = "
				   "Platform\\Integrations\n"
				   "clickup_list_id = %s\n",
				   PUBLIC_URL, fx->w.ado_origin, fx->w.org, fx->w.project,
				   fx->w.pat, fx->w.cu_base, fx->w.cu_token, fx->w.team,
				   fx->w.project, fx->w.list);
	fx->cfg = sim_config_load("<test>", text);
	free(text);
}

static int setup(void **state)
{
	char err[ACS_ERR_LEN] = "";
	struct fx *fx = acs_xcalloc(1, sizeof(*fx));
	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_CRIT);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->tmpdir = acs_test_tmpdir();
	sim_world_start(&fx->w, &fx->loop, NULL);
	fx_config(fx);

	fx->cl = acs_curl_loop_new(&fx->loop, err);
	assert_non_null(fx->cl);
	struct acs_ado_client_opts ao = {
		.base_url = fx->w.ado_origin,
		.organization = fx->w.org,
		.project = fx->w.project,
		.pat = fx->w.pat,
	};
	fx->ado = acs_ado_client_new(&fx->loop, fx->cl, &ao, err);
	assert_non_null(fx->ado);
	struct acs_clickup_client_opts co = { .base_url = fx->w.cu_base, .token = fx->w.cu_token };
	fx->cu = acs_clickup_client_new(&fx->loop, fx->cl, &co, err);
	assert_non_null(fx->cu);
	char *db = acs_xasprintf("%s/sync.db", fx->tmpdir);
	if (acs_store_open(&fx->loop, db, &fx->store, err))
		fail_msg("store: %s", err);
	free(db);
	fx->http = acs_http_server_new(&fx->loop, NULL, err);
	assert_non_null(fx->http);
	fx->engine = acs_engine_new(&fx->loop, fx->cfg, fx->http, fx->cl, fx->store, err);
	if (!fx->engine)
		fail_msg("engine: %s", err);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	int en = 0, h = 0, a = 0, c = 0, s = 0, l = 0;
	if (fx->engine) {
		acs_engine_close(fx->engine, set_flag, &en);
		acs_test_run_until(&fx->loop, &en, WAIT_MS);
	}
	acs_http_server_close(fx->http, set_flag, &h);
	acs_test_run_until(&fx->loop, &h, WAIT_MS);
	acs_ado_client_close(fx->ado, set_flag, &a);
	acs_clickup_client_close(fx->cu, set_flag, &c);
	acs_test_run_until(&fx->loop, &a, WAIT_MS);
	acs_test_run_until(&fx->loop, &c, WAIT_MS);
	acs_store_close(fx->store, set_flag, &s);
	acs_test_run_until(&fx->loop, &s, WAIT_MS);
	acs_curl_loop_close(fx->cl, set_flag, &l);
	acs_test_run_until(&fx->loop, &l, WAIT_MS);
	sim_world_close(&fx->w, &fx->loop);
	acs_test_loop_close(&fx->loop);
	acs_config_free(fx->cfg);
	acs_test_rmtree(fx->tmpdir);
	free(fx->tmpdir);
	free(fx);
	return 0;
}

/* --- waiting on the engine ------------------------------------------------------ */

/* Completion time of the last registrar run (0: none yet). */
static json_int_t last_run(struct fx *fx)
{
	json_t *j = acs_engine_webhooks_json(fx->engine);
	json_int_t t = json_integer_value(json_object_get(j, "time"));
	json_decref(j);
	return t;
}

/* Runs the loop until a registrar run newer than after has completed. */
static json_int_t wait_run_after(struct fx *fx, json_int_t after)
{
	uint64_t deadline = uv_now(&fx->loop) + WAIT_MS;
	json_int_t t;
	while ((t = last_run(fx)) <= after) {
		if (uv_now(&fx->loop) > deadline)
			fail_msg("no registrar run after %lld", (long long)after);
		uv_run(&fx->loop, UV_RUN_ONCE);
	}
	return t;
}

static json_int_t start_running(struct fx *fx)
{
	acs_engine_start(fx->engine);
	return wait_run_after(fx, 0);
}

/* --- the test's own view of the services ---------------------------------------- */

/* Deletes ours (all when del) and returns how many there were. */
static size_t ado_ours(struct fx *fx, bool del)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_list_subscriptions(fx->ado, NULL, cap_ado_subs, &k), 0);
	cap_wait_ok(&fx->loop, &k);
	struct acs_ado_subscription_list *l = k.payload;
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->subs[i].consumer_url, ADO_HOOK))
			continue;
		n++;
		if (del) {
			struct call_cap d = { 0 };
			assert_int_equal(acs_ado_delete_subscription(fx->ado, l->subs[i].id,
								     cap_ado_done, &d),
					 0);
			cap_wait_ok(&fx->loop, &d);
		}
	}
	acs_ado_subscription_list_free(l);
	return n;
}

static size_t clickup_ours(struct fx *fx, bool del)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_get_webhooks(fx->cu, ACS_GOVERNOR_INTERACTIVE, fx->w.team,
						  cap_cu_hooks, &k),
			 0);
	cap_wait_ok(&fx->loop, &k);
	struct acs_clickup_webhooks *w = k.payload;
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++) {
		if (strcmp(w->v[i].endpoint, CU_HOOK))
			continue;
		n++;
		if (del) {
			struct call_cap d = { 0 };
			assert_int_equal(acs_clickup_delete_webhook(fx->cu,
								    ACS_GOVERNOR_INTERACTIVE,
								    w->v[i].id, cap_cu_done, &d),
					 0);
			cap_wait_ok(&fx->loop, &d);
		}
	}
	acs_clickup_webhooks_free(w);
	return n;
}

static size_t count_outcome(json_t *j, const char *outcome)
{
	size_t n = 0, i;
	json_t *it;
	json_array_foreach(json_object_get(j, "items"), i, it)
		n += !strcmp(json_string_value(json_object_get(it, "outcome")), outcome);
	return n;
}

/* --- tests ------------------------------------------------------------------------ */

/* The first run creates all six; the periodic check puts deleted ones back. */
static void test_check_repairs_deleted(void **state)
{
	struct fx *fx = *state;
	start_running(fx);
	json_t *j = acs_engine_webhooks_json(fx->engine);
	assert_int_equal(json_array_size(json_object_get(j, "items")), 6);
	assert_int_equal(count_outcome(j, "created"), 6);
	assert_int_equal(json_integer_value(json_object_get(j, "failed")), 0);
	/* Never a secret in the description. */
	char *text = json_dumps(j, 0);
	assert_null(strstr(text, "secret\""));
	free(text);
	json_decref(j);
	assert_int_equal(ado_ours(fx, false), 5);
	assert_int_equal(clickup_ours(fx, false), 1);

	/* A user deletes everything; a check may overlap the deletions, so
	 * wait for checks until both services have ours again. */
	ado_ours(fx, true);
	clickup_ours(fx, true);
	json_int_t t = last_run(fx);
	size_t repaired = 0;
	for (int round = 0; round < 3; round++) {
		t = wait_run_after(fx, t);
		j = acs_engine_webhooks_json(fx->engine);
		assert_int_equal(json_integer_value(json_object_get(j, "failed")), 0);
		repaired += 6 - count_outcome(j, "unchanged");
		json_decref(j);
		if (ado_ours(fx, false) == 5 && clickup_ours(fx, false) == 1)
			break;
	}
	assert_int_equal(ado_ours(fx, false), 5);
	assert_int_equal(clickup_ours(fx, false), 1);
	assert_true(repaired >= 6);
}

struct now {
	int done;
	int rc;
	size_t unchanged, items;
};

static void on_now(int rc, json_t *webhooks, void *arg)
{
	struct now *n = arg;
	n->rc = rc;
	if (webhooks) {
		n->items = json_array_size(json_object_get(webhooks, "items"));
		n->unchanged = count_outcome(webhooks, "unchanged");
	}
	n->done = 1;
}

/* Not before sync runs; then a run on demand, joined by a second caller. */
static void test_register_now(void **state)
{
	struct fx *fx = *state;
	struct now a = { 0 }, b = { 0 };
	assert_int_equal(acs_engine_register_now(fx->engine, on_now, &a), -EAGAIN);
	json_t *j = acs_engine_webhooks_json(fx->engine);
	assert_true(json_is_null(json_object_get(j, "time")));
	assert_int_equal(json_array_size(json_object_get(j, "items")), 0);
	json_decref(j);

	start_running(fx);
	assert_int_equal(acs_engine_register_now(fx->engine, on_now, &a), 0);
	assert_int_equal(acs_engine_register_now(fx->engine, on_now, &b), 0);
	acs_test_run_until(&fx->loop, &a.done, WAIT_MS);
	acs_test_run_until(&fx->loop, &b.done, WAIT_MS);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(a.items, 6);
	assert_int_equal(a.unchanged, 6);
	assert_int_equal(b.unchanged, 6);
}

/* A caller waiting when the engine closes hears ACS_ECLOSED. */
static void test_register_now_then_close(void **state)
{
	struct fx *fx = *state;
	start_running(fx);
	struct now a = { 0 };
	assert_int_equal(acs_engine_register_now(fx->engine, on_now, &a), 0);
	int en = 0;
	acs_engine_close(fx->engine, set_flag, &en);
	acs_test_run_until(&fx->loop, &en, WAIT_MS);
	fx->engine = NULL;
	assert_true(a.done);
	assert_int_equal(a.rc, ACS_ECLOSED);
}

/* --- webhook health: last delivery and repair metrics ----------------------------- */

static json_t *item_by_label(json_t *j, const char *label)
{
	size_t i;
	json_t *it;
	json_array_foreach(json_object_get(j, "items"), i,
			   it) if (!strcmp(json_string_value(json_object_get(it, "label")),
					   label)) return it;
	fail_msg("no item %s", label);
	return NULL;
}

struct resp {
	int done;
	long status;
	int error;
};

static void on_resp(const struct acs_http_response *r, void *arg)
{
	struct resp *x = arg;
	x->status = r->status;
	x->error = r->error;
	x->done = 1;
}

/* ADO's delivery of the fixture as subscription sub_id, posted to the engine. */
static long post_ado_delivery(struct fx *fx, const char *sub_id)
{
	/* meson sets ACS_SOURCE_ROOT; by hand the binary runs from the source
	 * root or from the build directory's test/. */
	const char *roots[] = { getenv("ACS_SOURCE_ROOT"), ".", "../.." };
	json_t *body = NULL;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(roots) && !body; i++) {
		if (!roots[i])
			continue;
		char *path = acs_xasprintf("%s/test/fixtures/ado/ado-webhook-workitem-created.json",
					   roots[i]);
		body = json_load_file(path, 0, NULL);
		free(path);
	}
	assert_non_null(body);
	json_object_set_new(body, "subscriptionId", json_string(sub_id));
	char *text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	const char *cred = "hook:hook-password-0123456789";
	char b64[128];
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	char *auth = acs_xasprintf("Authorization: Basic %s", b64);
	char *url = acs_xasprintf("http://127.0.0.1:%d%s", acs_http_server_port(fx->http),
				  ACS_REGISTRAR_ADO_PATH);
	const char *hdrs[] = { "Content-Type: application/json", auth, NULL };
	struct acs_http_request req = {
		.method = "POST",
		.url = url,
		.headers = hdrs,
		.body = text,
		.body_len = strlen(text),
	};
	struct resp r = { 0 };
	assert_int_equal(acs_curl_loop_request(fx->cl, &req, on_resp, &r, NULL), 0);
	acs_test_run_until(&fx->loop, &r.done, WAIT_MS);
	assert_int_equal(r.error, 0);
	free(url);
	free(auth);
	free(text);
	return r.status;
}

struct meta_q {
	int done;
	int rc;
	const char *key;
	char *value;
};

static int meta_get_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct meta_q *q = arg;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "meta", err);
	sqlite3_bind_text(st, 1, q->key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		q->value = acs_xstrdup((const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return 0;
}

static void on_meta(int rc, const char *err, void *arg)
{
	(void)err;
	struct meta_q *q = arg;
	q->rc = rc;
	q->done = 1;
}

/* A committed delivery shows as its subscription's last delivery at once,
 * and reaches meta (for the next start and for --check) by the close. */
static void test_last_delivery(void **state)
{
	struct fx *fx = *state;
	char err[ACS_ERR_LEN] = "";
	assert_int_equal(acs_http_server_listen(fx->http, "127.0.0.1:0", err), 0);
	start_running(fx);
	json_t *j = acs_engine_webhooks_json(fx->engine);
	json_t *it = item_by_label(j, "ado workitem.created Platform");
	assert_true(json_is_null(json_object_get(it, "last_delivery")));
	assert_string_equal(json_string_value(json_object_get(it, "state")), "enabled");
	assert_string_equal(json_string_value(json_object_get(it, "action")), "none");
	assert_string_equal(json_string_value(json_array_get(json_object_get(it, "events"), 0)),
			    "workitem.created");
	assert_true(json_is_null(json_object_get(it, "fail_count")));
	/* The first run created it: recorded as its last repair. */
	json_t *rep = json_object_get(it, "last_repair");
	assert_string_equal(json_string_value(json_object_get(rep, "action")), "create");
	assert_true(json_is_null(json_object_get(rep, "from_state")));
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx->w.list);
	json_t *cu = item_by_label(j, label);
	assert_string_equal(json_string_value(json_object_get(cu, "state")), "active");
	assert_int_equal(json_integer_value(json_object_get(cu, "fail_count")), 0);
	assert_int_equal(json_array_size(json_object_get(cu, "events")), 11);
	char *id = acs_xstrdup(json_string_value(json_object_get(it, "id")));
	json_decref(j);

	uv_update_time(&fx->loop);
	json_int_t before = (json_int_t)time(NULL) * 1000 - 1000;
	assert_int_equal(post_ado_delivery(fx, id), 200);
	j = acs_engine_webhooks_json(fx->engine);
	json_t *ld = json_object_get(item_by_label(j, "ado workitem.created Platform"), "last_"
											"delivery");
	assert_true(json_is_integer(ld));
	json_int_t at = json_integer_value(ld);
	assert_true(at >= before);
	assert_true(json_is_null(json_object_get(item_by_label(j, "ado workitem.updated Platform"),
						 "last_delivery")));
	json_decref(j);

	int en = 0;
	acs_engine_close(fx->engine, set_flag, &en);
	acs_test_run_until(&fx->loop, &en, WAIT_MS);
	fx->engine = NULL;
	char *key = acs_xasprintf("%s%s", ACS_REGISTRAR_DELIVERY_PREFIX, id);
	struct meta_q q = { .key = key };
	assert_int_equal(acs_store_read(fx->store, meta_get_job, on_meta, &q), 0);
	acs_test_run_until(&fx->loop, &q.done, WAIT_MS);
	assert_int_equal(q.rc, 0);
	assert_non_null(q.value);
	assert_int_equal(strtoll(q.value, NULL, 10), at);
	free(q.value);
	free(key);
	free(id);
}

/* Each repair is counted once under its service and action. */
static void test_repairs_counted(void **state)
{
	struct fx *fx = *state;
	struct acs_metrics *m = acs_metrics_new();
	acs_engine_set_metrics(fx->engine, m);
	json_int_t t = start_running(fx);
	ado_ours(fx, true);
	/* Until a check has put all five back. */
	for (int round = 0; round < 3 && ado_ours(fx, false) != 5; round++)
		t = wait_run_after(fx, t);
	assert_int_equal(ado_ours(fx, false), 5);
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	assert_int_equal(acs_metrics_render(m, &b), 0);
	const char *text = b.data;
	assert_non_null(strstr(text, "acs_webhook_repairs_total{service=\"ado\",action=\"create\"} "
				     "10"));
	assert_non_null(strstr(text, "acs_webhook_repairs_total{service=\"clickup\",action="
				     "\"create\"} 1"));
	assert_null(strstr(text, "action=\"none\""));
	acs_buf_free(&b);
	int en = 0;
	acs_engine_close(fx->engine, set_flag, &en);
	acs_test_run_until(&fx->loop, &en, WAIT_MS);
	fx->engine = NULL;
	acs_metrics_free(m);
}

/* Credentials are enough: mappings may all come from the dashboard (a project is needed
 * for the ADO client when no [map] names one). */
static void test_configured_without_maps(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		bool want;
		const char *missing;
	} cases[] = {
		{ "[ado]\norganization = o\nproject = P\npat = x\n"
		  "[clickup]\ntoken = pk_1_X\nworkspace_id = 1\n",
		  true, NULL },
		{ "[ado]\norganization = o\npat = x\n[clickup]\ntoken = pk_1_X\nworkspace_id = 1\n",
		  false, "[ado] project" },
		{ "[ado]\norganization = o\nproject = P\npat = x\n[clickup]\ntoken = pk_1_X\n",
		  false, "workspace_id" },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cases); i++) {
		struct acs_config *cfg = acs_config_new_defaults();
		struct acs_config_errors *errs = acs_config_errors_new();
		acs_config_set_getenv(cfg, NULL, NULL);
		acs_config_load_string(cfg, "<test>", cases[i].text, errs);
		acs_config_finish(cfg, errs);
		acs_config_errors_free(errs);
		assert_int_equal(cfg->n_maps, 0);
		char reason[ACS_ERR_LEN] = "";
		assert_int_equal(acs_engine_configured(cfg, reason), cases[i].want);
		if (cases[i].missing)
			assert_non_null(strstr(reason, cases[i].missing));
		acs_config_free(cfg);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_configured_without_maps),
		cmocka_unit_test_setup_teardown(test_check_repairs_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_now, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_now_then_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_last_delivery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_repairs_counted, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
