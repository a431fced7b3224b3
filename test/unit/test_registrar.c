/* SPDX-License-Identifier: MIT */
/* Tests for registrar: both API simulators, the two clients and a real store
 * on the test's loop; each test breaks the subscriptions the way a user or
 * the services would and checks that one run repairs exactly that. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "curl_loop.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "registrar.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "store.h"

#define PUBLIC_URL "http://127.0.0.1:9"
#define ADO_HOOK PUBLIC_URL "/webhooks/ado"
#define CU_HOOK PUBLIC_URL "/webhooks/clickup"
#define HOOK_USER "ado-hook"
#define HOOK_PW "hook-password-0123456789"
#define AREA "Platform\\Integrations"

struct fx {
	uv_loop_t loop;
	char *tmpdir;
	struct sim_world w;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_store *store;
	struct acs_config *cfg;
	char project_id[64];
};

/* --- configuration ------------------------------------------------------- */

/* Replace fx->cfg: the simulators' world plus maps (INI text) and the
 * webhook password. */
static void fx_config(struct fx *fx, const char *maps, const char *password)
{
	char *text = acs_xasprintf("[server]\npublic_url = %s\n"
				   "[ado]\nbase_url = %s\norganization = %s\nproject = %s\n"
				   "pat = %s\nwebhook_username = %s\nwebhook_password = %s\n"
				   "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n%s",
				   PUBLIC_URL, fx->w.ado_origin, fx->w.org, fx->w.project,
				   fx->w.pat, HOOK_USER, password, fx->w.cu_base, fx->w.cu_token,
				   fx->w.team, maps);
	struct acs_config *cfg = sim_config_load("<test>", text);
	free(text);
	acs_config_free(fx->cfg);
	fx->cfg = cfg;
}

static char *default_maps(const struct fx *fx)
{
	return acs_xasprintf("[map one]\nado_project = %s\nado_area_path = %s\n"
			     "clickup_list_id = %s\n",
			     fx->w.project, AREA, fx->w.list);
}

/* --- fixture ---------------------------------------------------------------- */

/* seed_clickup_webhook / seed_ado_webhook: JSON for the seed's "webhook"
 * member of that service, or NULL. */
static void fx_init_seeds(struct fx *fx, const char *seed_clickup_webhook,
			  const char *seed_ado_webhook)
{
	char err[ACS_ERR_LEN] = "";
	memset(fx, 0, sizeof(*fx));
	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_ERR);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->tmpdir = acs_test_tmpdir();
	char *seed_path = NULL;
	if (seed_clickup_webhook || seed_ado_webhook) {
		json_t *seed = sim_world_default_seed();
		if (seed_clickup_webhook)
			json_object_set_new(json_object_get(seed, "clickup"), "webhook",
					    json_loads(seed_clickup_webhook, 0, NULL));
		if (seed_ado_webhook)
			json_object_set_new(json_object_get(seed, "ado"), "webhook",
					    json_loads(seed_ado_webhook, 0, NULL));
		seed_path = sim_world_seed_file(seed, fx->tmpdir);
	}
	struct sim_world_opts wo = { .seed_path = seed_path };
	sim_world_start(&fx->w, &fx->loop, &wo);
	free(seed_path);

	fx->cl = acs_curl_loop_new(&fx->loop, err);
	assert_non_null(fx->cl);
	struct acs_governor_opts ga, gc;
	acs_governor_opts_init(&ga, ACS_GOVERNOR_ADO);
	acs_governor_opts_init(&gc, ACS_GOVERNOR_CLICKUP);
	ga.backoff_base_ms = gc.backoff_base_ms = 10;
	ga.backoff_max_ms = gc.backoff_max_ms = 40;
	gc.limit = 0;
	struct acs_ado_client_opts ao = {
		.base_url = fx->w.ado_origin,
		.organization = fx->w.org,
		.project = fx->w.project,
		.pat = fx->w.pat,
		.governor = &ga,
		.max_attempts = 1, /* an injected 5xx fails the call at once */
	};
	fx->ado = acs_ado_client_new(&fx->loop, fx->cl, &ao, err);
	if (!fx->ado)
		fail_msg("ado client: %s", err);
	struct acs_clickup_client_opts co = {
		.base_url = fx->w.cu_base,
		.token = fx->w.cu_token,
		.governor = &gc,
	};
	fx->cu = acs_clickup_client_new(&fx->loop, fx->cl, &co, err);
	if (!fx->cu)
		fail_msg("clickup client: %s", err);
	char *db = acs_xasprintf("%s/sync.db", fx->tmpdir);
	if (acs_store_open(&fx->loop, db, &fx->store, err))
		fail_msg("store: %s", err);
	free(db);
	char *maps = default_maps(fx);
	fx_config(fx, maps, HOOK_PW);
	free(maps);
}

static void fx_init_seed(struct fx *fx, const char *seed_clickup_webhook)
{
	fx_init_seeds(fx, seed_clickup_webhook, NULL);
}

static void fx_init(struct fx *fx)
{
	fx_init_seed(fx, NULL);
}

static void fx_close(struct fx *fx)
{
	int a = 0, c = 0, s = 0, l = 0;
	acs_ado_client_close(fx->ado, set_flag, &a);
	acs_clickup_client_close(fx->cu, set_flag, &c);
	acs_store_close(fx->store, set_flag, &s);
	acs_test_run_until(&fx->loop, &a, WAIT_MS);
	acs_test_run_until(&fx->loop, &c, WAIT_MS);
	acs_test_run_until(&fx->loop, &s, WAIT_MS);
	acs_curl_loop_close(fx->cl, set_flag, &l);
	acs_test_run_until(&fx->loop, &l, WAIT_MS);
	sim_world_close(&fx->w, &fx->loop);
	acs_test_loop_close(&fx->loop);
	acs_config_free(fx->cfg);
	acs_test_rmtree(fx->tmpdir);
	free(fx->tmpdir);
}

/* --- running the registrar -------------------------------------------------- */

struct done {
	int done;
	struct acs_registrar_result *res;
};

static void on_done(struct acs_registrar_result *res, void *arg)
{
	struct done *d = arg;
	assert_false(d->done);
	d->res = res;
	d->done = 1;
}

static struct acs_registrar_result *run(struct fx *fx)
{
	struct done d = { 0 };
	assert_int_equal(
		acs_registrar_run(&fx->loop, fx->cfg, fx->ado, fx->cu, fx->store, on_done, &d), 0);
	acs_test_run_until(&fx->loop, &d.done, WAIT_MS);
	if (getenv("ACS_TEST_DEBUG")) {
		for (size_t i = 0; i < d.res->n_items; i++) {
			char line[512];
			acs_registrar_item_format(&d.res->items[i], line, sizeof(line));
			fprintf(stderr, "  %s\n", line);
		}
	}
	return d.res;
}

/* The item labelled label (must exist). */
static const struct acs_registrar_item *item(const struct acs_registrar_result *res,
					     const char *label)
{
	for (size_t i = 0; i < res->n_items; i++)
		if (!strcmp(res->items[i].label, label))
			return &res->items[i];
	fail_msg("no item '%s'", label);
	return NULL;
}

static void expect(const struct acs_registrar_result *res, const char *label,
		   enum acs_registrar_outcome o, const char *detail)
{
	const struct acs_registrar_item *it = item(res, label);
	if (it->outcome != o)
		fail_msg("%s: %s (%s), expected %s", label, acs_registrar_outcome_name(it->outcome),
			 it->detail, acs_registrar_outcome_name(o));
	if (detail)
		assert_string_equal(it->detail, detail);
}

/* state NULL: missing. */
static void expect_health(const struct acs_registrar_result *res, const char *label,
			  const char *state, enum acs_registrar_action action)
{
	const struct acs_registrar_item *it = item(res, label);
	if (state == NULL ? it->state != NULL : !it->state || strcmp(it->state, state))
		fail_msg("%s: state %s, expected %s", label, it->state ? it->state : "(missing)",
			 state ? state : "(missing)");
	if (it->action != action)
		fail_msg("%s: action %s, expected %s", label, acs_registrar_action_name(it->action),
			 acs_registrar_action_name(action));
}

static size_t count_outcome(const struct acs_registrar_result *res, enum acs_registrar_service svc,
			    enum acs_registrar_outcome o)
{
	size_t n = 0;
	for (size_t i = 0; i < res->n_items; i++)
		n += res->items[i].service == svc && res->items[i].outcome == o;
	return n;
}

/* A request as a user's script would send it; returns the body (free()). */
static char *fx_http(struct fx *fx, const char *method, const char *url, const char *auth,
		     const char *body, long want_status)
{
	char *ah = auth ? acs_xasprintf("Authorization: %s", auth) : NULL;
	char *answer = sim_http(&fx->loop, fx->cl, method, url, ah, body, want_status);
	free(ah);
	return answer;
}

static char *ado_auth(const struct fx *fx)
{
	char *cred = acs_xasprintf(":%s", fx->w.pat);
	size_t n = sodium_base64_ENCODED_LEN(strlen(cred), sodium_base64_VARIANT_ORIGINAL);
	char *b64 = acs_xmalloc(n);
	sodium_bin2base64(b64, n, (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	char *h = acs_xasprintf("Basic %s", b64);
	free(b64);
	free(cred);
	return h;
}

/* Requests a service logged with this method whose path contains needle. */
static size_t requests(struct fx *fx, const char *origin, const char *method, const char *needle)
{
	char *url = acs_xasprintf("%s/_sim/requests", origin);
	char *log = fx_http(fx, "GET", url, NULL, NULL, 200);
	free(url);
	size_t n = 0;
	for (char *line = log; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		const char *p = json_string_value(json_object_get(j, "path"));
		const char *m = json_string_value(json_object_get(j, "method"));
		if (p && strstr(p, needle) && m && !strcmp(m, method))
			n++;
		json_decref(j);
		line = nl ? nl + 1 : NULL;
	}
	free(log);
	return n;
}

/* Changes (POST/PUT/DELETE) either simulator received on subscriptions or
 * webhooks so far. */
static size_t changes(struct fx *fx)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE" };
	size_t n = 0;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(methods); i++) {
		n += requests(fx, fx->w.ado_origin, methods[i], "hooks/subscriptions");
		n += requests(fx, fx->w.cu_origin, methods[i], "/webhook");
	}
	return n;
}

/* --- typed calls, synchronously ------------------------------------------------ */

static struct acs_ado_subscription_list *list_subs(struct fx *fx)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_list_subscriptions(fx->ado, NULL, cap_ado_subs, &k), 0);
	cap_wait_ok(&fx->loop, &k);
	return k.payload;
}

/* Ours with this event type (exactly one expected). */
static struct acs_ado_subscription *find_sub(struct acs_ado_subscription_list *l, const char *url,
					     const char *event)
{
	struct acs_ado_subscription *found = NULL;
	for (size_t i = 0; i < l->n; i++) {
		if (strcmp(l->subs[i].consumer_url, url) || strcmp(l->subs[i].event_type, event))
			continue;
		assert_null(found);
		found = &l->subs[i];
	}
	assert_non_null(found);
	return found;
}

static size_t count_subs(struct acs_ado_subscription_list *l, const char *url)
{
	size_t n = 0;
	for (size_t i = 0; i < l->n; i++)
		n += strcmp(l->subs[i].consumer_url, url) == 0;
	return n;
}

static char *create_sub(struct fx *fx, const struct acs_ado_subscription_spec *spec)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_create_subscription(fx->ado, spec, cap_ado_sub, &k), 0);
	cap_wait_ok(&fx->loop, &k);
	struct acs_ado_subscription *s = k.payload;
	char *id = acs_xstrdup(s->id);
	acs_ado_subscription_free(s);
	return id;
}

static void replace_sub(struct fx *fx, const char *id, const struct acs_ado_subscription_spec *spec)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_replace_subscription(fx->ado, id, spec, cap_ado_sub, &k), 0);
	cap_wait_ok(&fx->loop, &k);
	acs_ado_subscription_free(k.payload);
}

static void delete_sub(struct fx *fx, const char *id)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_delete_subscription(fx->ado, id, cap_ado_done, &k), 0);
	cap_wait_ok(&fx->loop, &k);
}

/* The spec the registrar uses for event (area filter as in default_maps). */
static struct acs_ado_subscription_spec our_spec(const struct fx *fx, const char *event)
{
	struct acs_ado_subscription_spec s = {
		.event_type = event,
		.project_id = fx->project_id,
		.area_path = AREA,
		.url = ADO_HOOK,
		.basic_auth_username = HOOK_USER,
		.basic_auth_password = HOOK_PW,
	};
	return s;
}

/* A user disables a subscription in the portal: PUT with status disabledByUser. */
static void disable_sub(struct fx *fx, const char *id, const char *event)
{
	char *url = acs_xasprintf("%s/%s/_apis/hooks/subscriptions/%s?api-version=7.1",
				  fx->w.ado_origin, fx->w.org, id);
	json_t *b = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s,s:s},s:{s:s,s:s,s:s}}",
			      "publisherId", "tfs", "eventType", event, "resourceVersion", "1.0",
			      "consumerId", "webHooks", "consumerActionId", "httpRequest", "status",
			      "disabledByUser", "publisherInputs", "projectId", fx->project_id,
			      "areaPath", AREA, "consumerInputs", "url", ADO_HOOK,
			      "basicAuthUsername", HOOK_USER, "basicAuthPassword", "********");
	char *body = json_dumps(b, JSON_COMPACT);
	char *auth = ado_auth(fx);
	free(fx_http(fx, "PUT", url, auth, body, 200));
	free(auth);
	free(body);
	json_decref(b);
	free(url);
}

static struct acs_clickup_webhooks *list_hooks(struct fx *fx)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_get_webhooks(fx->cu, ACS_GOVERNOR_INTERACTIVE, fx->w.team,
						  cap_cu_hooks, &k),
			 0);
	cap_wait_ok(&fx->loop, &k);
	return k.payload;
}

static const struct acs_clickup_webhook *find_hook(const struct acs_clickup_webhooks *w,
						   const char *id)
{
	for (size_t i = 0; i < w->n; i++)
		if (!strcmp(w->v[i].id, id))
			return &w->v[i];
	return NULL;
}

static size_t count_hooks(const struct acs_clickup_webhooks *w, const char *endpoint)
{
	size_t n = 0;
	for (size_t i = 0; i < w->n; i++)
		n += strcmp(w->v[i].endpoint, endpoint) == 0;
	return n;
}

static char *create_hook(struct fx *fx, const char *endpoint, const char *const *events,
			 size_t n_events, const char *list_id)
{
	struct acs_clickup_webhook_new w = {
		.endpoint = endpoint,
		.events = events,
		.n_events = n_events,
		.list_id = list_id,
	};
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_create_webhook(fx->cu, ACS_GOVERNOR_INTERACTIVE, fx->w.team,
						    &w, cap_cu_hook, &k),
			 0);
	cap_wait_ok(&fx->loop, &k);
	struct acs_clickup_webhook *h = k.payload;
	char *id = acs_xstrdup(h->id);
	acs_clickup_webhook_free(h);
	return id;
}

static void delete_hook(struct fx *fx, const char *id)
{
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_delete_webhook(fx->cu, ACS_GOVERNOR_INTERACTIVE, id,
						    cap_cu_done, &k),
			 0);
	cap_wait_ok(&fx->loop, &k);
}

/* --- the meta table -------------------------------------------------------------- */

struct meta_q {
	int done;
	int rc;
	const char *key;
	char *value; /**< NULL when absent */
	size_t count;
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
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM meta WHERE key GLOB ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "meta", err);
	sqlite3_bind_text(st, 1, ACS_REGISTRAR_SECRET_PREFIX "*", -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		q->count = (size_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return 0;
}

static int meta_del_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct meta_q *q = arg;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "DELETE FROM meta WHERE key = ?1", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "meta", err);
	sqlite3_bind_text(st, 1, q->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "meta", err);
}

static int meta_set_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct meta_q *q = arg;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "UPDATE meta SET value = 'stale-secret' WHERE key = ?1", -1,
				    &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "meta", err);
	sqlite3_bind_text(st, 1, q->key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "meta", err);
}

static void on_meta(int rc, const char *err, void *arg)
{
	(void)err;
	struct meta_q *q = arg;
	q->rc = rc;
	q->done = 1;
}

/* Value of key (free()) or NULL; *n_secrets gets the number of stored secrets. */
static char *meta_get(struct fx *fx, const char *key, size_t *n_secrets)
{
	struct meta_q q = { .key = key };
	assert_int_equal(acs_store_read(fx->store, meta_get_job, on_meta, &q), 0);
	acs_test_run_until(&fx->loop, &q.done, WAIT_MS);
	assert_int_equal(q.rc, 0);
	if (n_secrets)
		*n_secrets = q.count;
	return q.value;
}

static char *secret_key(const char *id)
{
	return acs_xasprintf("%s%s", ACS_REGISTRAR_SECRET_PREFIX, id);
}

static void meta_del(struct fx *fx, const char *key)
{
	struct meta_q q = { .key = key };
	assert_int_equal(acs_store_write(fx->store, meta_del_job, on_meta, &q), 0);
	acs_test_run_until(&fx->loop, &q.done, WAIT_MS);
	assert_int_equal(q.rc, 0);
}

/* First run on an empty world: everything created and recorded. Returns the
 * ClickUp webhook id (free()). */
static char *first_run(struct fx *fx)
{
	struct acs_registrar_result *res = run(fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(res->n_items, 6);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_CREATED), 5);
	expect(res, "ado workitem.updated Platform", ACS_REGISTRAR_CREATED, "");
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx->w.list);
	expect(res, label, ACS_REGISTRAR_CREATED, "");
	assert_int_equal(res->n_secrets, 1);
	char *id = acs_xstrdup(item(res, label)->id);
	assert_string_equal(res->secrets[0].webhook_id, id);
	acs_registrar_result_free(res);

	/* The project GUID the subscriptions carry (the sim has one project). */
	struct acs_ado_subscription_list *l = list_subs(fx);
	snprintf(fx->project_id, sizeof(fx->project_id), "%s",
		 find_sub(l, ADO_HOOK, "workitem.created")->project_id);
	acs_ado_subscription_list_free(l);
	return id;
}

/* --- tests ------------------------------------------------------------------------- */

static void test_first_run_then_nothing(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	acs_test_log_capture_begin();
	acs_log_set_level(ACS_LOG_DEBUG);
	char *hook_id = first_run(&fx);

	/* Exactly five subscriptions, as specified. */
	struct acs_ado_subscription_list *l = list_subs(&fx);
	assert_int_equal(l->n, 5);
	static const char *const events[] = { ACS_REGISTRAR_ADO_EVENTS };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(events); i++) {
		struct acs_ado_subscription *s = find_sub(l, ADO_HOOK, events[i]);
		assert_string_equal(s->status, "enabled");
		assert_string_equal(s->publisher_id, "tfs");
		assert_string_equal(s->consumer_id, "webHooks");
		assert_string_equal(s->consumer_action_id, "httpRequest");
		assert_string_equal(s->resource_version, "1.0");
		assert_int_equal(strlen(s->project_id), 36);
		assert_string_equal(s->area_path, AREA);
		assert_string_equal(s->basic_auth_username, HOOK_USER);
		assert_true(s->has_password);
		assert_true(s->work_item_type == NULL || !*s->work_item_type);
	}
	acs_ado_subscription_list_free(l);

	/* One ClickUp webhook on the mapped list with the events; its secret is
	 * the one stored. */
	struct acs_clickup_webhooks *w = list_hooks(&fx);
	assert_int_equal(w->n, 1);
	const struct acs_clickup_webhook *h = find_hook(w, hook_id);
	assert_non_null(h);
	assert_string_equal(h->endpoint, CU_HOOK);
	assert_string_equal(h->list_id, fx.w.list);
	assert_int_equal(h->n_events, 11);
	char *key = secret_key(hook_id);
	size_t n_secrets = 0;
	char *stored = meta_get(&fx, key, &n_secrets);
	assert_non_null(stored);
	assert_string_equal(stored, h->secret);
	assert_int_equal(n_secrets, 1);
	char *cred = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	assert_non_null(cred);
	assert_null(strstr(cred, HOOK_PW));

	/* Second run: nothing to do, and nothing sent but the listings. */
	size_t before = changes(&fx);
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(res->n_items, 6);
	for (size_t i = 0; i < res->n_items; i++)
		assert_int_equal(res->items[i].outcome, ACS_REGISTRAR_UNCHANGED);
	assert_int_equal(res->n_secrets, 1);
	assert_string_equal(res->secrets[0].webhook_id, hook_id);
	assert_string_equal(res->secrets[0].secret, stored);
	char line[256];
	acs_registrar_item_format(item(res, "ado workitem.created Platform"), line, sizeof(line));
	assert_string_equal(line, "ado workitem.created Platform: unchanged");
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), before);
	char *cred2 = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	assert_string_equal(cred, cred2);

	/* Neither the webhook password nor the ClickUp secret reached a log line. */
	const char *logs = acs_test_log_captured();
	assert_null(strstr(logs, HOOK_PW));
	assert_null(strstr(logs, stored));
	acs_test_log_capture_end();
	acs_log_set_level(ACS_LOG_ERR);

	free(cred);
	free(cred2);
	free(stored);
	free(key);
	acs_clickup_webhooks_free(w);
	free(hook_id);
	fx_close(&fx);
}

static void test_ado_repairs(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	free(first_run(&fx));
	struct acs_ado_subscription_list *l = list_subs(&fx);
	char *created = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.created")->id);
	char *deleted = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.deleted")->id);
	char *updated = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.updated")->id);
	char *commented = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.commented")->id);
	acs_ado_subscription_list_free(l);

	/* A user disables one and narrows another to Bugs; someone else
	 * subscribes their own receiver; a copy of ours appears. */
	disable_sub(&fx, created, "workitem.created");
	struct acs_ado_subscription_spec spec = our_spec(&fx, "workitem.updated");
	spec.work_item_type = "Bug";
	replace_sub(&fx, updated, &spec);
	spec = our_spec(&fx, "workitem.created");
	spec.url = "http://127.0.0.1:9/someone/else";
	char *other = create_sub(&fx, &spec);
	spec = our_spec(&fx, "workitem.commented");
	char *dup = create_sub(&fx, &spec);

	l = list_subs(&fx);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.created")->status, "disabledByUser");
	int64_t other_modified =
		find_sub(l, "http://127.0.0.1:9/someone/else", "workitem.created")->modified_date_ms;
	acs_ado_subscription_list_free(l);

	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UPDATED, "re-enabled");
	assert_string_equal(item(res, "ado workitem.created Platform")->id, created);
	expect(res, "ado workitem.updated Platform", ACS_REGISTRAR_UPDATED, "filters fixed");
	expect(res, "ado workitem.restored Platform", ACS_REGISTRAR_UNCHANGED, "");
	expect(res, "ado workitem.deleted Platform", ACS_REGISTRAR_UNCHANGED, "");
	/* The older of the two copies stays; the other is deleted. */
	expect(res, "ado workitem.commented Platform", ACS_REGISTRAR_UNCHANGED, "");
	assert_string_equal(item(res, "ado workitem.commented Platform")->id, commented);
	assert_int_equal(res->n_items, 7);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_DELETED), 1);
	assert_string_equal(res->items[5].label, "ado workitem.commented Platform");
	assert_string_equal(res->items[5].id, dup);
	assert_int_equal(res->items[5].outcome, ACS_REGISTRAR_DELETED);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_CLICKUP, ACS_REGISTRAR_UNCHANGED), 1);
	acs_registrar_result_free(res);

	/* One deleted by hand comes back. */
	delete_sub(&fx, deleted);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.deleted Platform", ACS_REGISTRAR_CREATED, "");
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_UNCHANGED), 4);
	acs_registrar_result_free(res);

	l = list_subs(&fx);
	assert_int_equal(count_subs(l, ADO_HOOK), 5);
	static const char *const events[] = { ACS_REGISTRAR_ADO_EVENTS };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(events); i++) {
		struct acs_ado_subscription *s = find_sub(l, ADO_HOOK, events[i]);
		assert_string_equal(s->status, "enabled");
		assert_true(s->work_item_type == NULL || !*s->work_item_type);
	}
	/* Someone else's subscription: untouched. */
	struct acs_ado_subscription *o =
		find_sub(l, "http://127.0.0.1:9/someone/else", "workitem.created");
	assert_string_equal(o->id, other);
	assert_int_equal(o->modified_date_ms, other_modified);
	acs_ado_subscription_list_free(l);

	/* And now it is stable. */
	size_t before = changes(&fx);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_UNCHANGED), 5);
	assert_int_equal(res->n_items, 6);
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), before);

	free(created);
	free(deleted);
	free(updated);
	free(commented);
	free(other);
	free(dup);
	fx_close(&fx);
}

/* One of ours moved to another event: reused for the missing one, no create
 * and no delete. */
static struct acs_registrar_result *check(struct fx *fx)
{
	struct done d = { 0 };
	assert_int_equal(acs_registrar_check(&fx->loop, fx->cfg, fx->ado, fx->cu, fx->store,
					     on_done, &d),
			 0);
	acs_test_run_until(&fx->loop, &d.done, WAIT_MS);
	return d.res;
}

/* The dry run reports what a run would do and changes nothing, anywhere. */
static void test_check_changes_nothing(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);

	struct acs_registrar_result *res = check(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(res->n_items, 6);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_CREATED), 5);
	expect(res, label, ACS_REGISTRAR_CREATED, "");
	assert_int_equal(res->n_secrets, 0);
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), 0);
	assert_null(meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL));

	char *hook_id = first_run(&fx);
	struct acs_ado_subscription_list *l = list_subs(&fx);
	char *created = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.created")->id);
	char *deleted = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.deleted")->id);
	acs_ado_subscription_list_free(l);
	disable_sub(&fx, created, "workitem.created");
	delete_sub(&fx, deleted);
	struct acs_ado_subscription_spec spec = our_spec(&fx, "workitem.commented");
	free(create_sub(&fx, &spec));
	delete_hook(&fx, hook_id);
	size_t before = changes(&fx);

	res = check(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UPDATED, "re-enabled");
	/* The spare copy of ours fills the deleted one's place (PUT). */
	expect(res, "ado workitem.deleted Platform", ACS_REGISTRAR_UPDATED, "event type fixed");
	expect(res, "ado workitem.updated Platform", ACS_REGISTRAR_UNCHANGED, "");
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_DELETED), 0);
	expect(res, label, ACS_REGISTRAR_RECREATED, "it had vanished");
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), before);
	l = list_subs(&fx);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.created")->status, "disabledByUser");
	assert_int_equal(count_subs(l, ADO_HOOK), 5);
	acs_ado_subscription_list_free(l);
	char *key = secret_key(hook_id);
	char *kept = meta_get(&fx, key, NULL);
	assert_non_null(kept); /* the vanished webhook's secret is still there */
	free(kept);

	/* The real run then does what the check said. */
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UPDATED, "re-enabled");
	expect(res, "ado workitem.deleted Platform", ACS_REGISTRAR_UPDATED, "event type fixed");
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_DELETED), 0);
	expect(res, label, ACS_REGISTRAR_RECREATED, "it had vanished");
	acs_registrar_result_free(res);
	assert_null(meta_get(&fx, key, NULL));
	free(key);
	free(created);
	free(deleted);
	free(hook_id);
	fx_close(&fx);
}

static void test_ado_wrong_event_reused(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	free(first_run(&fx));
	struct acs_ado_subscription_list *l = list_subs(&fx);
	char *restored = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.restored")->id);
	acs_ado_subscription_list_free(l);
	struct acs_ado_subscription_spec spec = our_spec(&fx, "workitem.created");
	replace_sub(&fx, restored, &spec);

	size_t posts = requests(&fx, fx.w.ado_origin, "POST", "hooks/subscriptions");
	size_t deletes = requests(&fx, fx.w.ado_origin, "DELETE", "hooks/subscriptions");
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.restored Platform", ACS_REGISTRAR_UPDATED, "event type fixed");
	assert_string_equal(item(res, "ado workitem.restored Platform")->id, restored);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UNCHANGED, "");
	assert_int_equal(res->n_items, 6);
	acs_registrar_result_free(res);
	assert_int_equal(requests(&fx, fx.w.ado_origin, "POST", "hooks/subscriptions"), posts);
	assert_int_equal(requests(&fx, fx.w.ado_origin, "DELETE", "hooks/subscriptions"), deletes);

	l = list_subs(&fx);
	assert_int_equal(count_subs(l, ADO_HOOK), 5);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.restored")->id, restored);
	acs_ado_subscription_list_free(l);
	free(restored);
	fx_close(&fx);
}

/* The PUT that would re-enable fails: reported, and the next run heals. */
static void test_ado_put_failure_then_heals(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	free(first_run(&fx));
	struct acs_ado_subscription_list *l = list_subs(&fx);
	char *id = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.deleted")->id);
	acs_ado_subscription_list_free(l);
	disable_sub(&fx, id, "workitem.deleted");
	char *url = acs_xasprintf("%s/_sim/faults", fx.w.ado_origin);
	free(fx_http(&fx, "POST", url, NULL,
		     "{\"path\": \"hooks/subscriptions/\", \"method\": \"PUT\", \"status\": 503, "
		     "\"count\": 1}",
		     200));
	free(url);

	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 1);
	const struct acs_registrar_item *it = item(res, "ado workitem.deleted Platform");
	assert_int_equal(it->outcome, ACS_REGISTRAR_FAILED);
	assert_non_null(strstr(it->detail, "HTTP 503"));
	acs_registrar_result_free(res);

	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.deleted Platform", ACS_REGISTRAR_UPDATED, "re-enabled");
	assert_string_equal(item(res, "ado workitem.deleted Platform")->id, id);
	acs_registrar_result_free(res);
	l = list_subs(&fx);
	assert_int_equal(count_subs(l, ADO_HOOK), 5);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.deleted")->status, "enabled");
	acs_ado_subscription_list_free(l);
	free(id);
	fx_close(&fx);
}

/* A new webhook password cannot be seen on the (masked) subscriptions: the
 * stored fingerprint triggers one replacement of each. */
static void test_ado_credentials_changed(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	free(first_run(&fx));
	char *cred = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	char *maps = default_maps(&fx);
	fx_config(&fx, maps, "a-brand-new-password-42");

	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_UPDATED), 5);
	expect(res, "ado workitem.commented Platform", ACS_REGISTRAR_UPDATED,
	       "credentials refreshed");
	acs_registrar_result_free(res);
	char *cred2 = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	assert_string_not_equal(cred, cred2);

	res = run(&fx);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_UNCHANGED), 5);
	acs_registrar_result_free(res);

	/* A different user name is visible on the subscriptions themselves. */
	char *text = acs_xasprintf("%s", maps);
	fx_config(&fx, text, "a-brand-new-password-42");
	free(fx.cfg->ado.webhook_username);
	fx.cfg->ado.webhook_username = acs_xstrdup("someone-new");
	res = run(&fx);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UPDATED, "credentials fixed");
	acs_registrar_result_free(res);
	struct acs_ado_subscription_list *l = list_subs(&fx);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.created")->basic_auth_username, "someon"
											    "e-"
											    "new");
	acs_ado_subscription_list_free(l);

	free(text);
	free(maps);
	free(cred);
	free(cred2);
	fx_close(&fx);
}

/* A failure is reported, the fingerprint is not advanced, the next run heals. */
static void test_ado_failure_reported(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char *url = acs_xasprintf("%s/_sim/faults", fx.w.ado_origin);
	free(fx_http(&fx, "POST", url, NULL,
		     "{\"path\": \"hooks/subscriptions\", \"method\": \"POST\", \"status\": 500, "
		     "\"count\": 2}",
		     200));
	free(url);
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 2);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_CREATED), 3);
	const struct acs_registrar_item *it = item(res, "ado workitem.created Platform");
	assert_int_equal(it->outcome, ACS_REGISTRAR_FAILED);
	assert_non_null(strstr(it->detail, "HTTP 500"));
	char line[512];
	acs_registrar_item_format(it, line, sizeof(line));
	assert_true(strncmp(line, "ado workitem.created Platform: failed: HTTP 500", 47) == 0);
	acs_registrar_result_free(res);
	char *cred = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	assert_null(cred);

	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_CREATED), 2);
	acs_registrar_result_free(res);
	cred = meta_get(&fx, ACS_REGISTRAR_ADO_CRED_KEY, NULL);
	assert_non_null(cred);
	free(cred);
	fx_close(&fx);
}

static void test_clickup_repairs(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char *id = first_run(&fx);
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);

	/* Deleted by hand: recreated, the new secret replaces the old one. */
	char *old_key = secret_key(id);
	char *old_secret = meta_get(&fx, old_key, NULL);
	delete_hook(&fx, id);
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, label, ACS_REGISTRAR_RECREATED, "it had vanished");
	char *id2 = acs_xstrdup(item(res, label)->id);
	assert_string_not_equal(id2, id);
	assert_int_equal(res->n_secrets, 1);
	assert_string_equal(res->secrets[0].webhook_id, id2);
	assert_string_not_equal(res->secrets[0].secret, old_secret);
	acs_registrar_result_free(res);
	size_t n = 0;
	char *gone = meta_get(&fx, old_key, &n);
	assert_null(gone);
	assert_int_equal(n, 1);
	char *key2 = secret_key(id2);
	char *secret2 = meta_get(&fx, key2, NULL);
	struct acs_clickup_webhooks *w = list_hooks(&fx);
	assert_int_equal(w->n, 1);
	assert_string_equal(find_hook(w, id2)->secret, secret2);
	acs_clickup_webhooks_free(w);

	/* Database lost the secret: the listing's copy is stored again, the
	 * webhook itself is left alone. */
	meta_del(&fx, key2);
	size_t before = changes(&fx);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, label, ACS_REGISTRAR_UPDATED, "secret restored");
	assert_string_equal(item(res, label)->id, id2);
	assert_int_equal(res->n_secrets, 1);
	assert_string_equal(res->secrets[0].secret, secret2);
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), before);
	char *again = meta_get(&fx, key2, NULL);
	assert_string_equal(again, secret2);
	free(again);

	/* A stored secret that differs from the listing's is replaced too. */
	struct meta_q q = { .key = key2 };
	assert_int_equal(acs_store_write(fx.store, meta_set_job, on_meta, &q), 0);
	acs_test_run_until(&fx.loop, &q.done, WAIT_MS);
	assert_int_equal(q.rc, 0);
	res = run(&fx);
	expect(res, label, ACS_REGISTRAR_UPDATED, "secret restored");
	assert_int_equal(res->n_secrets, 1);
	assert_string_equal(res->secrets[0].secret, secret2);
	acs_registrar_result_free(res);
	again = meta_get(&fx, key2, NULL);
	assert_string_equal(again, secret2);
	free(again);

	/* Wrong events, a duplicate of ours, one of ours workspace-wide (wrong
	 * location) and someone else's webhook. */
	static const char *const few[] = { "taskCreated" };
	struct acs_clickup_webhook_changes ch = { .endpoint = CU_HOOK,
						  .events = few,
						  .n_events = 1 };
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_update_webhook(fx.cu, ACS_GOVERNOR_INTERACTIVE, id2, &ch,
						    cap_cu_hook, &k),
			 0);
	cap_wait_ok(&fx.loop, &k);
	acs_clickup_webhook_free(k.payload);
	static const char *const two[] = { "taskCreated", "taskUpdated" };
	char *dup = create_hook(&fx, CU_HOOK, two, 2, fx.w.list);
	char *wide = create_hook(&fx, CU_HOOK, few, 1, NULL);
	char *other = create_hook(&fx, "http://127.0.0.1:9/not/ours", few, 1, NULL);

	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, label, ACS_REGISTRAR_UPDATED, "events fixed");
	assert_string_equal(item(res, label)->id, id2);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_CLICKUP, ACS_REGISTRAR_DELETED), 2);
	snprintf(label, sizeof(label), "clickup webhook workspace %s", fx.w.team);
	expect(res, label, ACS_REGISTRAR_DELETED, "not needed");
	assert_string_equal(item(res, label)->id, wide);
	acs_registrar_result_free(res);
	w = list_hooks(&fx);
	assert_int_equal(w->n, 2);
	assert_int_equal(count_hooks(w, CU_HOOK), 1);
	assert_int_equal(find_hook(w, id2)->n_events, 11);
	assert_non_null(find_hook(w, other));
	assert_null(find_hook(w, dup));
	acs_clickup_webhooks_free(w);

	free(dup);
	free(wide);
	free(other);
	free(secret2);
	free(key2);
	free(id2);
	free(old_secret);
	free(old_key);
	free(id);
	fx_close(&fx);
}

/* Run the loop until the ClickUp simulator has no delivery left. */
static void drain_deliveries(struct fx *fx)
{
	uint64_t deadline = uv_now(&fx->loop) + WAIT_MS;
	while (sim_service_pending_deliveries(fx->w.cu_svc) > 0) {
		uv_run(&fx->loop, UV_RUN_ONCE);
		uv_update_time(&fx->loop);
		if (uv_now(&fx->loop) > deadline)
			fail_msg("deliveries still pending");
	}
}

/* A person creates a task in the mapped list (through the test's own client). */
static void cu_task_create(struct fx *fx, const char *name)
{
	struct acs_clickup_task_new t = { .name = name };
	struct call_cap k = { 0 };
	assert_int_equal(acs_clickup_create_task(fx->cu, ACS_GOVERNOR_INTERACTIVE, fx->w.list, &t,
						 cap_cu_task, &k),
			 0);
	cap_wait_ok(&fx->loop, &k);
	acs_clickup_task_free(k.payload);
}

/* The receiver was unreachable and ClickUp suspended the webhook: the run
 * re-activates it in place. */
static void test_clickup_suspended_reactivated(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_seed(&fx, "{\"max_attempts\": 1, \"suspend_after\": 1, \"retry_delay_ms\": 10,"
			  " \"timeout_ms\": 2000}");
	char *id = first_run(&fx);
	cu_task_create(&fx, "wakes the webhook");
	drain_deliveries(&fx);
	struct acs_clickup_webhooks *w = list_hooks(&fx);
	assert_string_equal(find_hook(w, id)->status, "suspended");
	acs_clickup_webhooks_free(w);

	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);
	struct acs_registrar_result *res = check(&fx);
	expect_health(res, label, "suspended", ACS_REGISTRAR_ACTION_RE_ENABLE);
	assert_true(acs_registrar_repair_due(res));
	acs_registrar_result_free(res);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, label, ACS_REGISTRAR_UPDATED, "re-activated");
	assert_string_equal(item(res, label)->id, id);
	assert_string_equal(item(res, label)->state_after, "active");
	acs_registrar_result_free(res);
	w = list_hooks(&fx);
	assert_string_equal(find_hook(w, id)->status, "active");
	acs_clickup_webhooks_free(w);
	free(id);
	fx_close(&fx);
}

/* --- the health report ------------------------------------------------------------ */

/* A person creates a work item under the mapped area: ADO fires
 * workitem.created to ours, whose receiver (port 9) refuses it. */
static void ado_create_item(struct fx *fx)
{
	struct acs_ado_fields f = { .title = "wakes the subscription", .area_path = AREA };
	struct call_cap k = { 0 };
	assert_int_equal(acs_ado_create_work_item(fx->ado, "Bug", &f, cap_ado_wi, &k), 0);
	cap_wait_ok(&fx->loop, &k);
	acs_ado_work_item_free(k.payload);
}

/* Run the loop (listing again) until our subscription for event has status. */
static void wait_sub_status(struct fx *fx, const char *event, const char *status)
{
	uint64_t deadline = uv_now(&fx->loop) + WAIT_MS;
	for (;;) {
		struct acs_ado_subscription_list *l = list_subs(fx);
		bool there = !strcmp(find_sub(l, ADO_HOOK, event)->status, status);
		acs_ado_subscription_list_free(l);
		if (there)
			return;
		if (uv_now(&fx->loop) > deadline)
			fail_msg("%s never became %s", event, status);
		uv_run(&fx->loop, UV_RUN_NOWAIT);
	}
}

static void drain_ado(struct fx *fx)
{
	uint64_t deadline = uv_now(&fx->loop) + WAIT_MS;
	while (sim_service_pending_deliveries(fx->w.ado_svc) > 0) {
		uv_run(&fx->loop, UV_RUN_ONCE);
		uv_update_time(&fx->loop);
		if (uv_now(&fx->loop) > deadline)
			fail_msg("ADO deliveries still pending");
	}
}

static int meta_put_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct meta_q *q = arg;
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "meta", err);
	sqlite3_bind_text(st, 1, q->key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, q->value, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : acs_store_error(db, rc, "meta", err);
}

static void meta_put(struct fx *fx, const char *key, const char *value)
{
	struct meta_q q = { .key = key, .value = (char *)value };
	assert_int_equal(acs_store_write(fx->store, meta_put_job, on_meta, &q), 0);
	acs_test_run_until(&fx->loop, &q.done, WAIT_MS);
	assert_int_equal(q.rc, 0);
}

/* Every ADO state a subscription can be in maps to its repair: disabled by
 * the system after failed deliveries and by a user -> re-enable, deleted ->
 * create, moved to another event -> update events; the check reports,
 * the run repairs, the next check finds nothing due. Last deliveries come
 * from meta; those of ids that no longer exist are dropped. */
static void test_report_ado_states(void **state)
{
	(void)state;
	struct fx fx;
	/* One quick resend, then no probation: the first enduring failure
	 * disables the subscription (as 7 failed probation retries do). */
	fx_init_seeds(&fx, NULL, "{\"transient_delays_ms\": [10], \"probation_delays_ms\": []}");
	char *hook_id = first_run(&fx);
	struct acs_ado_subscription_list *l = list_subs(&fx);
	char *created = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.created")->id);
	char *updated = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.updated")->id);
	char *deleted = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.deleted")->id);
	char *restored = acs_xstrdup(find_sub(l, ADO_HOOK, "workitem.restored")->id);
	acs_ado_subscription_list_free(l);

	ado_create_item(&fx);
	drain_ado(&fx);
	disable_sub(&fx, updated, "workitem.updated");
	delete_sub(&fx, deleted);
	struct acs_ado_subscription_spec spec = our_spec(&fx, "workitem.deleted");
	replace_sub(&fx, restored, &spec);
	char *key = acs_xasprintf("%s%s", ACS_REGISTRAR_DELIVERY_PREFIX, created);
	meta_put(&fx, key, "1790000000123");
	char *stale = acs_xasprintf("%s%s", ACS_REGISTRAR_DELIVERY_PREFIX, "no-such-sub");
	meta_put(&fx, stale, "1790000000000");

	struct acs_registrar_result *res = check(&fx);
	assert_true(res->dry_run);
	assert_int_equal(res->n_failed, 0);
	expect_health(res, "ado workitem.created Platform", "disabledBySystem",
		      ACS_REGISTRAR_ACTION_RE_ENABLE);
	const struct acs_registrar_item *it = item(res, "ado workitem.created Platform");
	assert_string_equal(it->id, created);
	assert_int_equal(it->last_delivery_ms, 1790000000123LL);
	assert_int_equal(it->fail_count, -1);
	assert_int_equal(it->n_events, 1);
	assert_string_equal(it->events[0], "workitem.created");
	expect_health(res, "ado workitem.updated Platform", "disabledByUser",
		      ACS_REGISTRAR_ACTION_RE_ENABLE);
	assert_int_equal(item(res, "ado workitem.updated Platform")->last_delivery_ms, 0);
	expect_health(res, "ado workitem.commented Platform", "enabled", ACS_REGISTRAR_ACTION_NONE);
	/* The one moved to workitem.deleted now serves it; restored is gone. */
	expect_health(res, "ado workitem.deleted Platform", "enabled", ACS_REGISTRAR_ACTION_NONE);
	expect_health(res, "ado workitem.restored Platform", NULL, ACS_REGISTRAR_ACTION_CREATE);
	assert_null(item(res, "ado workitem.restored Platform")->id);
	assert_string_equal(item(res, "ado workitem.restored Platform")->events[0], "workitem."
										    "restored");
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);
	expect_health(res, label, "active", ACS_REGISTRAR_ACTION_NONE);
	assert_int_equal(item(res, label)->fail_count, 0);
	assert_int_equal(item(res, label)->n_events, 11);
	assert_string_equal(item(res, label)->id, hook_id);
	assert_true(acs_registrar_repair_due(res));
	acs_registrar_result_free(res);

	/* The run repairs exactly that and reports the states after. */
	res = run(&fx);
	assert_false(res->dry_run);
	assert_int_equal(res->n_failed, 0);
	it = item(res, "ado workitem.created Platform");
	assert_int_equal(it->outcome, ACS_REGISTRAR_UPDATED);
	assert_string_equal(it->detail, "re-enabled");
	assert_string_equal(it->state, "disabledBySystem");
	assert_string_equal(it->state_after, "enabled");
	assert_int_equal(it->action, ACS_REGISTRAR_ACTION_RE_ENABLE);
	it = item(res, "ado workitem.restored Platform");
	assert_int_equal(it->outcome, ACS_REGISTRAR_CREATED);
	assert_null(it->state);
	assert_string_equal(it->state_after, "enabled");
	assert_non_null(it->id);
	assert_false(acs_registrar_repair_due(res));
	acs_registrar_result_free(res);
	char *gone = meta_get(&fx, stale, NULL);
	assert_null(gone);
	char *kept = meta_get(&fx, key, NULL);
	assert_string_equal(kept, "1790000000123");
	free(kept);

	res = check(&fx);
	for (size_t i = 0; i < res->n_items; i++) {
		assert_int_equal(res->items[i].action, ACS_REGISTRAR_ACTION_NONE);
		assert_true(!strcmp(res->items[i].state, "enabled") ||
			    !strcmp(res->items[i].state, "active"));
	}
	assert_false(acs_registrar_repair_due(res));
	acs_registrar_result_free(res);
	free(key);
	free(stale);
	free(created);
	free(updated);
	free(deleted);
	free(restored);
	free(hook_id);
	fx_close(&fx);
}

/* A subscription on probation (new events are lost meanwhile) is re-enabled
 * at once, without waiting for the service's next retry. */
static void test_report_ado_probation(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_seeds(&fx, NULL,
		      "{\"transient_delays_ms\": [10], \"probation_delays_ms\": [600000]}");
	free(first_run(&fx));
	ado_create_item(&fx);
	wait_sub_status(&fx, "workitem.created", "onProbation");

	struct acs_registrar_result *res = check(&fx);
	expect_health(res, "ado workitem.created Platform", "onProbation",
		      ACS_REGISTRAR_ACTION_RE_ENABLE);
	acs_registrar_result_free(res);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.created Platform", ACS_REGISTRAR_UPDATED,
	       "re-enabled (was on probation)");
	assert_string_equal(item(res, "ado workitem.created Platform")->state_after, "enabled");
	acs_registrar_result_free(res);
	struct acs_ado_subscription_list *l = list_subs(&fx);
	assert_string_equal(find_sub(l, ADO_HOOK, "workitem.created")->status, "enabled");
	acs_ado_subscription_list_free(l);
	fx_close(&fx);
}

/* ClickUp failing (events dropped after their retries) is re-activated like
 * suspended; the fail count is reported and reset. A vanished webhook is
 * recreated. */
static void test_report_clickup_states(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_seed(&fx, "{\"max_attempts\": 1, \"suspend_after\": 100, \"retry_delay_ms\": 10,"
			  " \"timeout_ms\": 2000}");
	char *id = first_run(&fx);
	cu_task_create(&fx, "fails once");
	drain_deliveries(&fx);

	char label[96];
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);
	struct acs_registrar_result *res = check(&fx);
	expect_health(res, label, "failing", ACS_REGISTRAR_ACTION_RE_ENABLE);
	int64_t fails = item(res, label)->fail_count;
	assert_true(fails >= 1);
	assert_true(acs_registrar_repair_due(res));
	acs_registrar_result_free(res);

	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, label, ACS_REGISTRAR_UPDATED, "re-activated");
	const struct acs_registrar_item *it = item(res, label);
	assert_string_equal(it->state, "failing");
	assert_int_equal(it->fail_count, fails);
	assert_string_equal(it->state_after, "active");
	assert_int_equal(it->fail_count_after, 0);
	acs_registrar_result_free(res);

	delete_hook(&fx, id);
	res = check(&fx);
	expect_health(res, label, NULL, ACS_REGISTRAR_ACTION_RECREATE);
	assert_int_equal(item(res, label)->n_events, 11);
	acs_registrar_result_free(res);
	free(id);
	fx_close(&fx);
}

/* Two mappings on one project with different areas, on two lists: one
 * project-wide set of five, one workspace-wide webhook. */
static void test_shared_project_and_lists(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char *maps = acs_xasprintf("[map one]\nado_project = %s\nado_area_path = %s\n"
				   "clickup_list_id = %s\n"
				   "[map two]\nado_project = %s\nado_area_path = Platform\\Web\n"
				   "clickup_list_id = 901110299999\n",
				   fx.w.project, AREA, fx.w.list, fx.w.project);
	fx_config(&fx, maps, HOOK_PW);
	free(maps);
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(res->n_items, 6);
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_ADO, ACS_REGISTRAR_CREATED), 5);
	char label[96];
	snprintf(label, sizeof(label), "clickup webhook workspace %s", fx.w.team);
	expect(res, label, ACS_REGISTRAR_CREATED, "");
	acs_registrar_result_free(res);
	struct acs_ado_subscription_list *l = list_subs(&fx);
	assert_int_equal(count_subs(l, ADO_HOOK), 5);
	struct acs_ado_subscription *s = find_sub(l, ADO_HOOK, "workitem.updated");
	assert_true(s->area_path == NULL || !*s->area_path);
	acs_ado_subscription_list_free(l);
	struct acs_clickup_webhooks *w = list_hooks(&fx);
	assert_int_equal(w->n, 1);
	assert_null(w->v[0].list_id);
	acs_clickup_webhooks_free(w);

	/* Back to one mapping: the area filter and the list filter return. */
	maps = default_maps(&fx);
	fx_config(&fx, maps, HOOK_PW);
	free(maps);
	res = run(&fx);
	assert_int_equal(res->n_failed, 0);
	expect(res, "ado workitem.updated Platform", ACS_REGISTRAR_UPDATED,
	       "area path filter fixed");
	snprintf(label, sizeof(label), "clickup webhook list %s", fx.w.list);
	expect(res, label, ACS_REGISTRAR_CREATED, "");
	snprintf(label, sizeof(label), "clickup webhook workspace %s", fx.w.team);
	expect(res, label, ACS_REGISTRAR_DELETED, "not needed");
	assert_int_equal(res->n_secrets, 1);
	acs_registrar_result_free(res);
	size_t n = 0;
	free(meta_get(&fx, "none", &n));
	assert_int_equal(n, 1);
	fx_close(&fx);
}

struct loaded {
	int done;
	int rc;
	struct acs_registrar_result *res;
};

static void on_loaded(int rc, struct acs_registrar_result *res, void *arg)
{
	struct loaded *l = arg;
	l->rc = rc;
	l->res = res;
	l->done = 1;
}

/* An unknown project fails its five lines and nothing else. No mappings:
 * nothing is touched, the stored secrets are still handed back. */
static void test_unknown_project_and_no_maps(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char *maps = acs_xasprintf("[map one]\nado_project = Nowhere\nclickup_list_id = %s\n",
				   fx.w.list);
	fx_config(&fx, maps, HOOK_PW);
	free(maps);
	struct acs_registrar_result *res = run(&fx);
	assert_int_equal(res->n_failed, 5);
	const struct acs_registrar_item *it = item(res, "ado workitem.created Nowhere");
	assert_int_equal(it->outcome, ACS_REGISTRAR_FAILED);
	assert_string_equal(it->detail, "project 'Nowhere' not found in the organization");
	assert_int_equal(count_outcome(res, ACS_REGISTRAR_CLICKUP, ACS_REGISTRAR_CREATED), 1);
	assert_int_equal(res->n_secrets, 1);
	char *hook = acs_xstrdup(res->secrets[0].webhook_id);
	acs_registrar_result_free(res);

	fx_config(&fx, "", HOOK_PW);
	size_t before = changes(&fx);
	size_t gets = requests(&fx, fx.w.cu_origin, "GET", "/webhook");
	res = run(&fx);
	assert_int_equal(res->n_items, 0);
	assert_int_equal(res->n_failed, 0);
	assert_int_equal(res->n_secrets, 1);
	assert_string_equal(res->secrets[0].webhook_id, hook);
	acs_registrar_result_free(res);
	assert_int_equal(changes(&fx), before);
	assert_int_equal(requests(&fx, fx.w.cu_origin, "GET", "/webhook"), gets);

	/* The same secrets, for the intake at start-up. */
	struct loaded ls = { 0 };
	assert_int_equal(acs_registrar_load_secrets(fx.store, on_loaded, &ls), 0);
	acs_test_run_until(&fx.loop, &ls.done, WAIT_MS);
	assert_int_equal(ls.rc, 0);
	assert_int_equal(ls.res->n_items, 0);
	assert_int_equal(ls.res->n_secrets, 1);
	assert_string_equal(ls.res->secrets[0].webhook_id, hook);
	acs_registrar_result_free(ls.res);
	assert_int_equal(acs_registrar_load_secrets(fx.store, NULL, NULL), -EINVAL);
	free(hook);
	fx_close(&fx);
}

static void test_bad_arguments(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct done d = { 0 };
	assert_int_equal(acs_registrar_run(&fx.loop, fx.cfg, fx.ado, fx.cu, fx.store, NULL, &d),
			 -EINVAL);
	free(fx.cfg->server.public_url);
	fx.cfg->server.public_url = acs_xstrdup("");
	assert_int_equal(acs_registrar_run(&fx.loop, fx.cfg, fx.ado, fx.cu, fx.store, on_done, &d),
			 -EINVAL);
	assert_string_equal(acs_registrar_outcome_name(ACS_REGISTRAR_RECREATED), "recreated");
	acs_registrar_result_free(NULL);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_run_then_nothing),
		cmocka_unit_test(test_ado_repairs),
		cmocka_unit_test(test_ado_wrong_event_reused),
		cmocka_unit_test(test_ado_put_failure_then_heals),
		cmocka_unit_test(test_ado_credentials_changed),
		cmocka_unit_test(test_ado_failure_reported),
		cmocka_unit_test(test_clickup_repairs),
		cmocka_unit_test(test_check_changes_nothing),
		cmocka_unit_test(test_clickup_suspended_reactivated),
		cmocka_unit_test(test_shared_project_and_lists),
		cmocka_unit_test(test_report_ado_states),
		cmocka_unit_test(test_report_ado_probation),
		cmocka_unit_test(test_report_clickup_states),
		cmocka_unit_test(test_unknown_project_and_no_maps),
		cmocka_unit_test(test_bad_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
