/* SPDX-License-Identifier: MIT */
/* Tests for preflight: the checks of check-config --online run against both
 * API simulators in-process, each test breaking one thing in the config (or
 * the network) and asserting the exact verdicts. */
#include <errno.h>
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
#include "preflight.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"

#define CU_FIELD "0f4b1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d" /* seeded on the list */
#define GOOD_MAP                            \
	"[map team]\n"                      \
	"ado_area_path = Platform\\Web\n"   \
	"ado_work_item_types = Task, Bug\n" \
	"ado_new_item_type = Task\n"        \
	"clickup_list_id = @LIST@\n"        \
	"status.New = to do\n"              \
	"status.Active = in progress\n"     \
	"status.Closed = complete\n"        \
	"custom.Microsoft.VSTS.Scheduling.StoryPoints = " CU_FIELD "\n"

struct fx {
	uv_loop_t loop;
	struct sim_world w;
	struct sim_service *signin_svc;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_config *cfg;
	/* the outcome */
	struct acs_preflight_result *res;
	int done;
	int closed[2]; /**< test_close_in_callback: the clients closed */
};

/* An ADO stand-in that answers every request as a bad PAT may be answered:
 * 203 with an HTML sign-in page. */
static void signin_page(struct acs_http_req *req, void *arg)
{
	(void)arg;
	static const char page[] = "<!DOCTYPE html><html><head><title>Azure DevOps Services | "
				   "Sign In</title></head><body></body></html>";
	sim_respond(req, 203, "text/html; charset=utf-8", page, sizeof(page) - 1);
}

static const struct sim_service_ops signin_ops = { .name = "signin" };

static void fx_init(struct fx *fx)
{
	char err[ACS_ERR_LEN] = "";
	memset(fx, 0, sizeof(*fx));
	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_ERR);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	sim_world_start(&fx->w, &fx->loop, NULL);
	fx->signin_svc = sim_service_new(fx->w.sim, &signin_ops, NULL, err);
	assert_non_null(fx->signin_svc);
	sim_service_set_fallback(fx->signin_svc, signin_page, NULL);
	assert_int_equal(sim_service_listen(fx->signin_svc, "127.0.0.1:0", err), 0);
	fx->cl = acs_curl_loop_new(&fx->loop, err);
	assert_non_null(fx->cl);
}

/* text with every "@LIST@" replaced by the seeded list id (heap). */
static char *with_list(const struct fx *fx, const char *text)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 16);
	for (const char *p = text; *p;) {
		const char *at = strstr(p, "@LIST@");
		size_t n = at ? (size_t)(at - p) : strlen(p);
		assert_int_equal(acs_buf_append(&b, p, n), 0);
		if (!at)
			break;
		assert_int_equal(acs_buf_appends(&b, fx->w.list), 0);
		p = at + 6;
	}
	return acs_buf_steal(&b, NULL);
}

/* The clients and the config: the simulators' world with the given
 * overrides (NULL = the right value) and maps ("@LIST@" stands for the
 * seeded list id). */
static void fx_world(struct fx *fx, const char *ado_base, const char *pat, const char *token,
		     const char *workspace, const char *maps_text)
{
	char err[ACS_ERR_LEN] = "";
	ado_base = ado_base ? ado_base : fx->w.ado_origin;
	pat = pat ? pat : fx->w.pat;
	token = token ? token : fx->w.cu_token;
	workspace = workspace ? workspace : fx->w.team;
	char *maps = with_list(fx, maps_text);
	char *text = acs_xasprintf("[ado]\nbase_url = %s\norganization = %s\nproject = %s\n"
				   "pat = %s\n"
				   "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n%s",
				   ado_base, fx->w.org, fx->w.project, pat, fx->w.cu_base, token,
				   workspace, maps);
	free(maps);
	fx->cfg = sim_config_load("test.ini", text);
	free(text);

	struct acs_governor_opts ga, gc;
	acs_governor_opts_init(&ga, ACS_GOVERNOR_ADO);
	acs_governor_opts_init(&gc, ACS_GOVERNOR_CLICKUP);
	ga.backoff_base_ms = gc.backoff_base_ms = 10;
	ga.backoff_max_ms = gc.backoff_max_ms = 40;
	struct acs_ado_client_opts ao = {
		.base_url = ado_base,
		.organization = fx->w.org,
		.project = fx->w.project,
		.pat = pat,
		.governor = &ga,
		.max_attempts = 1,
	};
	fx->ado = acs_ado_client_new(&fx->loop, fx->cl, &ao, err);
	if (!fx->ado)
		fail_msg("ado client: %s", err);
	struct acs_clickup_client_opts co = {
		.base_url = fx->w.cu_base,
		.token = token,
		.governor = &gc,
		.max_attempts = 1,
	};
	fx->cu = acs_clickup_client_new(&fx->loop, fx->cl, &co, err);
	if (!fx->cu)
		fail_msg("clickup client: %s", err);
}

static void on_done(struct acs_preflight_result *res, void *arg)
{
	struct fx *fx = arg;
	assert_int_equal(fx->done, 0);
	fx->res = res;
	fx->done = 1;
}

static void fx_run(struct fx *fx, uint64_t timeout_ms)
{
	assert_int_equal(
		acs_preflight_run(&fx->loop, fx->cfg, fx->ado, fx->cu, timeout_ms, on_done, fx), 0);
	acs_test_run_until(&fx->loop, &fx->done, WAIT_MS);
	assert_non_null(fx->res);
	if (getenv("ACS_TEST_DEBUG")) {
		char line[8192];
		for (size_t i = 0; i < fx->res->n; i++) {
			acs_preflight_check_format(&fx->res->checks[i], line, sizeof(line));
			printf("    %s\n", line);
		}
	}
}

/* The check whose "what" contains what_part (exactly one). */
static const struct acs_preflight_check *check(struct fx *fx, const char *what_part)
{
	const struct acs_preflight_check *hit = NULL;
	for (size_t i = 0; i < fx->res->n; i++) {
		if (strstr(fx->res->checks[i].what, what_part)) {
			if (hit)
				fail_msg("two checks match '%s'", what_part);
			hit = &fx->res->checks[i];
		}
	}
	if (!hit)
		fail_msg("no check matches '%s'", what_part);
	return hit;
}

static void expect(struct fx *fx, const char *what_part, enum acs_preflight_status st,
		   const char *detail_part)
{
	const struct acs_preflight_check *c = check(fx, what_part);
	if (c->status != st)
		fail_msg("%s: %s (%s), expected %s", c->what, acs_preflight_status_name(c->status),
			 c->detail, acs_preflight_status_name(st));
	if (detail_part && !strstr(c->detail, detail_part))
		fail_msg("%s: detail '%s' lacks '%s'", c->what, c->detail, detail_part);
}

static void fx_close(struct fx *fx)
{
	int a = 0, c = 0, l = 0;
	acs_preflight_result_free(fx->res);
	if (fx->ado)
		acs_ado_client_close(fx->ado, set_flag, &a);
	else
		a = 1;
	if (fx->cu)
		acs_clickup_client_close(fx->cu, set_flag, &c);
	else
		c = 1;
	acs_test_run_until(&fx->loop, &a, WAIT_MS);
	acs_test_run_until(&fx->loop, &c, WAIT_MS);
	acs_curl_loop_close(fx->cl, set_flag, &l);
	acs_test_run_until(&fx->loop, &l, WAIT_MS);
	sim_world_close(&fx->w, &fx->loop);
	acs_config_free(fx->cfg);
	acs_test_loop_close(&fx->loop);
}

/* The body of a 200 answer (heap). */
static char *sim_call(struct fx *fx, const char *method, const char *origin, const char *path,
		      const char *body)
{
	char *url = acs_xasprintf("%s%s", origin, path);
	char *answer = sim_http(&fx->loop, fx->cl, method, url, NULL, body, 200);
	free(url);
	return answer;
}

static void sim_post(struct fx *fx, const char *origin, const char *path, const char *body)
{
	free(sim_call(fx, "POST", origin, path, body));
}

static char *sim_get(struct fx *fx, const char *origin, const char *path)
{
	return sim_call(fx, "GET", origin, path, NULL);
}

/* --- tests --------------------------------------------------------------- */

static void test_all_ok(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL, GOOD_MAP);
	fx_run(&fx, 0);
	assert_int_equal(fx.res->n_failed, 0);
	assert_int_equal(fx.res->n_skipped, 0);
	assert_false(fx.res->unreachable);
	assert_false(fx.res->timed_out);
	expect(&fx, "ADO token", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ClickUp token", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ClickUp workspace", ACS_PREFLIGHT_OK, "Contoso");
	expect(&fx, "ADO project 'Platform'", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ADO area path", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ADO work item types", ACS_PREFLIGHT_OK, "'Task', 'Bug'");
	expect(&fx, "ADO type of new items 'Task'", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ADO states", ACS_PREFLIGHT_OK, "3 states");
	expect(&fx, "ADO field 'Microsoft.VSTS.Scheduling.StoryPoints'", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ClickUp list", ACS_PREFLIGHT_OK, "Integrations");
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_OK, "3 statuses");
	expect(&fx, "ClickUp custom field " CU_FIELD, ACS_PREFLIGHT_OK, "ADO Work Item (number)");
	assert_int_equal(fx.res->n, 12);
	/* The format: status, what, and the detail after a colon. */
	char line[512];
	acs_preflight_check_format(check(&fx, "ClickUp list"), line, sizeof(line));
	assert_string_equal(line, "ok    map team: ClickUp list 901110236848: Integrations");
	fx_close(&fx);
}

/* Two mappings sharing a project: one fetch of its types, a verdict each. */
static void test_shared_project(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL,
		 "[map a]\nclickup_list_id = @LIST@\nstatus.Active = review\n"
		 "[map b]\nclickup_list_id = 901\nado_area_path = Platform\\Integrations\n");
	fx_run(&fx, 0);
	expect(&fx, "map a: ClickUp list", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "map b: ClickUp list 901", ACS_PREFLIGHT_FAIL, "check [map b] clickup_list_id");
	expect(&fx, "map a: ADO project", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "map b: ADO project", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "map b: ADO area path", ACS_PREFLIGHT_OK, NULL);
	/* Default types (Task, Bug, User Story) hold Active. */
	expect(&fx, "map a: ADO states", ACS_PREFLIGHT_OK, "1 state");
	assert_int_equal(fx.res->n_failed, 1);
	char *log = sim_get(&fx, fx.w.ado_origin, "/_sim/requests");
	size_t n = 0;
	for (const char *p = log; (p = strstr(p, "workitemtypes")); p++)
		n++;
	free(log);
	assert_int_equal(n, 1);
	fx_close(&fx);
}

static void test_bad_pat(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, "wrongpat0123456789abcdefghijklmnopqrstuvwxyz0123456", NULL, NULL,
		 GOOD_MAP);
	fx_run(&fx, 0);
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "HTTP 401");
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "check [ado] pat");
	expect(&fx, "ADO project", ACS_PREFLIGHT_SKIP, "ADO token check failed");
	expect(&fx, "ADO field", ACS_PREFLIGHT_SKIP, NULL);
	expect(&fx, "ClickUp list", ACS_PREFLIGHT_OK, NULL);
	assert_int_equal(fx.res->n_failed, 1);
	assert_int_equal(fx.res->n_skipped, 6);
	assert_false(fx.res->unreachable);
	/* The PAT itself is never in a report line. */
	char line[1024];
	for (size_t i = 0; i < fx.res->n; i++) {
		acs_preflight_check_format(&fx.res->checks[i], line, sizeof(line));
		assert_null(strstr(line, "wrongpat0123"));
	}
	fx_close(&fx);
}

/* A bad PAT may get 203 and a sign-in page instead of a 401. */
static void test_signin_page(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, sim_service_origin(fx.signin_svc), NULL, NULL, NULL, GOOD_MAP);
	fx_run(&fx, 0);
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "HTTP 203");
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "sign-in page");
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "check [ado] pat");
	expect(&fx, "ADO area path", ACS_PREFLIGHT_SKIP, NULL);
	fx_close(&fx);
}

static void test_bad_token_and_workspace(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, "pk_1_WRONGTOKEN", NULL, GOOD_MAP);
	fx_run(&fx, 0);
	expect(&fx, "ClickUp token", ACS_PREFLIGHT_FAIL, "check [clickup] token");
	expect(&fx, "ClickUp workspace", ACS_PREFLIGHT_SKIP, NULL);
	expect(&fx, "ClickUp list", ACS_PREFLIGHT_SKIP, "ClickUp token check failed");
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_SKIP, NULL);
	expect(&fx, "ADO project", ACS_PREFLIGHT_OK, NULL);
	assert_int_equal(fx.res->n_failed, 1);
	fx_close(&fx);

	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, "999", GOOD_MAP);
	fx_run(&fx, 0);
	expect(&fx, "ClickUp workspace 999", ACS_PREFLIGHT_FAIL, "36226098 Contoso");
	expect(&fx, "ClickUp workspace 999", ACS_PREFLIGHT_FAIL, "check [clickup] workspace_id");
	assert_int_equal(fx.res->n_failed, 1);
	fx_close(&fx);
}

static void test_unknown_list(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL,
		 "[map team]\nclickup_list_id = 901\nstatus.Active = doing\n"
		 "custom.Microsoft.VSTS.Scheduling.StoryPoints = " CU_FIELD "\n");
	fx_run(&fx, 0);
	expect(&fx, "map team: ClickUp list 901", ACS_PREFLIGHT_FAIL,
	       "ClickUp list 901 not found (HTTP 404");
	expect(&fx, "map team: ClickUp list 901", ACS_PREFLIGHT_FAIL,
	       "check [map team] clickup_list_id");
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_SKIP, "the list check failed");
	expect(&fx, "ClickUp custom field", ACS_PREFLIGHT_SKIP, NULL);
	assert_int_equal(fx.res->n_failed, 1);
	fx_close(&fx);
}

static void test_unknown_names(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL,
		 "[map team]\nclickup_list_id = @LIST@\n"
		 "ado_area_path = Platform\\Mobile\n"
		 "ado_work_item_types = Task, Epic, Feature\n"
		 "ado_new_item_type = Feature\n"
		 "status.Active = doing\n"
		 "status.Frozen = to do\n"
		 "custom.Custom.Nope = " CU_FIELD "\n"
		 "custom.System.Title = 00000000-0000-4000-8000-000000000000\n");
	fx_run(&fx, 0);
	expect(&fx, "ADO project", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ADO area path 'Platform\\Mobile'", ACS_PREFLIGHT_FAIL,
	       "check [map team] ado_area_path");
	expect(&fx, "ADO area path", ACS_PREFLIGHT_FAIL, "Platform\\Web");
	expect(&fx, "ADO work item types", ACS_PREFLIGHT_FAIL, "'Epic', 'Feature' not in project");
	expect(&fx, "ADO work item types", ACS_PREFLIGHT_FAIL, "User Story");
	expect(&fx, "ADO type of new items 'Feature'", ACS_PREFLIGHT_FAIL,
	       "check [map team] ado_new_item_type");
	expect(&fx, "ADO states", ACS_PREFLIGHT_FAIL, "'Frozen' (test.ini:");
	expect(&fx, "ADO states", ACS_PREFLIGHT_FAIL, "check [map team] status.Frozen");
	expect(&fx, "ADO field 'Custom.Nope'", ACS_PREFLIGHT_FAIL, "HTTP 404: TF51535");
	expect(&fx, "ADO field 'Custom.Nope'", ACS_PREFLIGHT_FAIL,
	       "check [map team] custom.Custom.Nope");
	expect(&fx, "ADO field 'System.Title'", ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_FAIL, "'doing' (status.Active)");
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_FAIL, "to do, in progress, review, complete");
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_FAIL, "check [map team] status.Active");
	expect(&fx, "ClickUp custom field " CU_FIELD, ACS_PREFLIGHT_OK, NULL);
	expect(&fx, "ClickUp custom field 00000000", ACS_PREFLIGHT_FAIL,
	       "check [map team] custom.System.Title");
	assert_int_equal(fx.res->n_failed, 7);
	fx_close(&fx);
}

static void test_unknown_project(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL,
		 "[map team]\nado_project = Nowhere\nado_area_path = Nowhere\nclickup_list_id = "
		 "@LIST@\nstatus.Active = review\n");
	fx_run(&fx, 0);
	expect(&fx, "ADO project 'Nowhere'", ACS_PREFLIGHT_FAIL, "TF200016");
	expect(&fx, "ADO project 'Nowhere'", ACS_PREFLIGHT_FAIL, "check [map team] ado_project");
	expect(&fx, "ADO area path", ACS_PREFLIGHT_SKIP, "the project check failed");
	expect(&fx, "ADO states", ACS_PREFLIGHT_SKIP, NULL);
	expect(&fx, "ClickUp statuses", ACS_PREFLIGHT_OK, NULL);
	assert_int_equal(fx.res->n_failed, 1);
	fx_close(&fx);
}

/* Nobody listens: a transport failure, reported at once. */
static void test_unreachable(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	/* A port that was just free: bind one, close it, use its number. */
	uv_tcp_t tcp;
	struct sockaddr_in sa;
	struct sockaddr_storage bound;
	int blen = sizeof(bound);
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &sa), 0);
	assert_int_equal(uv_tcp_init(&fx.loop, &tcp), 0);
	assert_int_equal(uv_tcp_bind(&tcp, (const struct sockaddr *)&sa, 0), 0);
	assert_int_equal(uv_tcp_getsockname(&tcp, (struct sockaddr *)&bound, &blen), 0);
	int port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	uv_close((uv_handle_t *)&tcp, NULL);
	char base[64];
	snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
	fx_world(&fx, base, NULL, NULL, NULL, GOOD_MAP);
	fx_run(&fx, 0);
	assert_true(fx.res->unreachable);
	assert_false(fx.res->timed_out);
	expect(&fx, "ADO token", ACS_PREFLIGHT_FAIL, "cannot reach Azure DevOps");
	expect(&fx, "ClickUp token", ACS_PREFLIGHT_OK, NULL);
	fx_close(&fx);
}

/* A service that does not answer: the deadline reports what is missing, and
 * the late answer after it is dropped quietly (the run frees itself once the
 * clients closed). */
static void test_deadline(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL, GOOD_MAP);
	sim_post(&fx, fx.w.cu_origin, "/_sim/faults",
		 "{\"path\": \"/api/v2/team\", \"method\": \"GET\", \"delay_ms\": 20000}");
	uint64_t t0 = uv_now(&fx.loop);
	fx_run(&fx, 300);
	assert_true(uv_now(&fx.loop) - t0 < 10000);
	assert_true(fx.res->timed_out);
	assert_true(fx.res->unreachable);
	expect(&fx, "ClickUp token", ACS_PREFLIGHT_FAIL, "no answer within");
	expect(&fx, "ClickUp list", ACS_PREFLIGHT_SKIP, NULL);
	expect(&fx, "ADO project", ACS_PREFLIGHT_OK, NULL);
	fx_close(&fx);
}

/* The caller may close the clients from inside the callback. */
static void on_done_close(struct acs_preflight_result *res, void *arg)
{
	struct fx *fx = arg;
	fx->res = res;
	fx->done = 1;
	acs_ado_client_close(fx->ado, set_flag, &fx->closed[0]);
	acs_clickup_client_close(fx->cu, set_flag, &fx->closed[1]);
	fx->ado = NULL;
	fx->cu = NULL;
}

static void test_close_in_callback(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	fx_world(&fx, NULL, NULL, NULL, NULL, GOOD_MAP);
	sim_post(&fx, fx.w.ado_origin, "/_sim/faults",
		 "{\"path\": \"/classificationnodes\", \"delay_ms\": 20000}");
	assert_int_equal(
		acs_preflight_run(&fx.loop, fx.cfg, fx.ado, fx.cu, 300, on_done_close, &fx), 0);
	acs_test_run_until(&fx.loop, &fx.done, WAIT_MS);
	acs_test_run_until(&fx.loop, &fx.closed[0], WAIT_MS);
	acs_test_run_until(&fx.loop, &fx.closed[1], WAIT_MS);
	expect(&fx, "ADO area path", ACS_PREFLIGHT_FAIL, "no answer within");
	expect(&fx, "ADO work item types", ACS_PREFLIGHT_OK, NULL);
	fx_close(&fx);
}

static void test_bad_args(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	struct acs_config *cfg = acs_config_new_defaults();
	assert_int_equal(acs_preflight_run(&loop, cfg, NULL, NULL, 0, on_done, NULL), -EINVAL);
	acs_preflight_result_free(NULL);
	assert_string_equal(acs_preflight_status_name(ACS_PREFLIGHT_SKIP), "skip");
	acs_config_free(cfg);
	acs_test_loop_close(&loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_ok),
		cmocka_unit_test(test_shared_project),
		cmocka_unit_test(test_bad_pat),
		cmocka_unit_test(test_signin_page),
		cmocka_unit_test(test_bad_token_and_workspace),
		cmocka_unit_test(test_unknown_list),
		cmocka_unit_test(test_unknown_names),
		cmocka_unit_test(test_unknown_project),
		cmocka_unit_test(test_unreachable),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_close_in_callback),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
