/* SPDX-License-Identifier: MIT */
/* Tests for ado_client: the pure helpers (dates, identities, tags, WIQL text,
 * JSON Patch, parsing of the documented examples), then every call against
 * the Azure DevOps simulator running in-process on the test's own loop, and
 * each error class through the simulator's fault injection. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "curl_loop.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "sim.h"
#include "sim_ado.h"

/* 2026-01-21T00:00:00Z */
#define DUE_MS INT64_C(1768953600000)
#define DAY_MS INT64_C(86400000)

/* ------------------------------------------------------------------------ */
/* Fixture: loop + simulator + curl_loop + client                            */
/* ------------------------------------------------------------------------ */

struct fx {
	uv_loop_t loop;
	char *tmpdir;
	struct sim_world w; /**< the ADO simulator alone */
	struct acs_curl_loop *cl;
	struct acs_ado_client *c;
	int closed;
};

/* What a typed callback saw. */
struct cap {
	int done;
	struct acs_ado_result res;
	char msg[512];
	char type_key[128];
	void *payload;
	int64_t *ids;
	size_t n;
};

static void cap_res(struct cap *k, const struct acs_ado_result *res)
{
	assert_false(k->done);
	k->res = *res;
	snprintf(k->msg, sizeof(k->msg), "%s", res->message ? res->message : "(null)");
	snprintf(k->type_key, sizeof(k->type_key), "%s", res->type_key ? res->type_key : "(null)");
	k->res.message = k->msg;
	k->res.type_key = k->type_key;
	k->done = 1;
}

static void on_done(const struct acs_ado_result *res, void *arg)
{
	cap_res(arg, res);
}

static void on_item(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct cap *k = arg;
	cap_res(k, res);
	k->payload = wi;
	assert_true((res->cls == ACS_REST_OK) == (wi != NULL));
}

static void on_wis(const struct acs_ado_result *res, struct acs_ado_work_item_list *l, void *arg)
{
	struct cap *k = arg;
	cap_res(k, res);
	k->payload = l;
}

static void on_ids(const struct acs_ado_result *res, int64_t *ids, size_t n, void *arg)
{
	struct cap *k = arg;
	cap_res(k, res);
	k->ids = ids;
	k->n = n;
}

#define PAYLOAD_CB(name, type)                                                 \
	static void name(const struct acs_ado_result *res, type *p, void *arg) \
	{                                                                      \
		struct cap *k = arg;                                           \
		cap_res(k, res);                                               \
		k->payload = p;                                                \
		assert_true((res->cls == ACS_REST_OK) == (p != NULL));         \
	}

PAYLOAD_CB(on_comment, struct acs_ado_comment)
PAYLOAD_CB(on_comments, struct acs_ado_comment_list)
PAYLOAD_CB(on_attachment, struct acs_ado_attachment_ref)
PAYLOAD_CB(on_blob, struct acs_ado_blob)
PAYLOAD_CB(on_states, struct acs_ado_state_list)
PAYLOAD_CB(on_types, struct acs_ado_type_list)
PAYLOAD_CB(on_projects, struct acs_ado_project_list)
PAYLOAD_CB(on_paths, struct acs_ado_path_list)
PAYLOAD_CB(on_sub, struct acs_ado_subscription)
PAYLOAD_CB(on_subs, struct acs_ado_subscription_list)

static void wait_cap(struct fx *fx, struct cap *k)
{
	acs_test_run_until(&fx->loop, &k->done, WAIT_MS);
}

static void expect_ok(const struct cap *k)
{
	if (k->res.cls != ACS_REST_OK)
		fail_msg("call failed: class %s status %ld error %d message '%s'",
			 acs_rest_class_name(k->res.cls), k->res.status, k->res.error, k->msg);
}

/* Write the default seed with the ADO project renamed into a temp file. */
static char *seed_with_project(struct fx *fx, const char *project)
{
	json_t *seed = sim_world_default_seed();
	json_object_set_new(json_object_get(seed, "ado"), "project", json_string(project));
	fx->tmpdir = acs_test_tmpdir();
	return sim_world_seed_file(seed, fx->tmpdir);
}

static struct acs_ado_client *client_new(struct fx *fx, const char *pat, uint64_t timeout_ms,
					 unsigned max_attempts)
{
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_ADO);
	/* Short backoffs so retried 5xx and drops keep the tests fast. A 429
	 * with "Remaining: 0" and no Reset (the simulator's injected fault)
	 * makes the governor wait a whole window, so the window is short too. */
	g.window_ms = 1500;
	g.backoff_base_ms = 20;
	g.backoff_max_ms = 100;
	g.seed = 42;
	struct acs_ado_client_opts o = {
		.base_url = fx->w.ado_origin,
		.organization = fx->w.org,
		.project = fx->w.project,
		.pat = pat,
		.governor = &g,
		.timeout_ms = timeout_ms,
		.max_attempts = max_attempts,
	};
	char err[ACS_ERR_LEN] = "";
	struct acs_ado_client *c = acs_ado_client_new(&fx->loop, fx->cl, &o, err);
	if (!c)
		fail_msg("acs_ado_client_new: %s", err);
	return c;
}

/* rate_limit: the simulator's TSTUs per window (0 = unthrottled). */
static void fx_init_sim(struct fx *fx, const char *project, uint64_t timeout_ms,
			unsigned max_attempts, long rate_limit)
{
	char err[ACS_ERR_LEN] = "";
	memset(fx, 0, sizeof(*fx));
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	char *seed = project ? seed_with_project(fx, project) : NULL;
	struct sim_world_opts wo = {
		.seed_path = seed,
		.ado_rate_limit = rate_limit,
		.ado_only = true,
	};
	sim_world_start(&fx->w, &fx->loop, &wo);
	free(seed);
	if (project)
		assert_string_equal(fx->w.project, project);

	fx->cl = acs_curl_loop_new(&fx->loop, err);
	assert_non_null(fx->cl);
	fx->c = client_new(fx, fx->w.pat, timeout_ms, max_attempts);
}

static void fx_init_full(struct fx *fx, const char *project, uint64_t timeout_ms,
			 unsigned max_attempts)
{
	fx_init_sim(fx, project, timeout_ms, max_attempts, 0);
}

static void fx_init(struct fx *fx)
{
	fx_init_full(fx, NULL, 0, 0);
}

static void on_closed(void *arg)
{
	(*(int *)arg)++;
}

static void fx_close(struct fx *fx)
{
	int n = 0;
	acs_ado_client_close(fx->c, on_closed, &n);
	acs_ado_client_close(fx->c, on_closed, &n); /* idempotent */
	acs_test_run_until(&fx->loop, &n, WAIT_MS);
	assert_int_equal(n, 1);
	acs_curl_loop_close(fx->cl, NULL, NULL);
	sim_world_close(&fx->w, &fx->loop);
	acs_test_loop_close(&fx->loop);
	if (fx->tmpdir) {
		acs_test_rmtree(fx->tmpdir);
		free(fx->tmpdir);
	}
}

/* --- raw HTTP to the simulator's control API --- */

static char *sim_call(struct fx *fx, const char *method, const char *path, const char *body)
{
	char *url = acs_xasprintf("%s%s", fx->w.ado_origin, path);
	char *answer = sim_http(&fx->loop, fx->cl, method, url, NULL, body, 0);
	free(url);
	return answer;
}

static void ado_fault(struct fx *fx, const char *json)
{
	free(sim_call(fx, "POST", "/_sim/faults", json));
}

/* A fault on the work item routes for method: effect is the rest of the JSON rule
 * (e.g. "\"status\": 500, \"count\": 1"). */
static void wi_fault(struct fx *fx, const char *method, const char *effect)
{
	char *rule = acs_xasprintf("{\"path\": \"/_apis/wit/workitems/\", \"method\": \"%s\", %s}",
				   method, effect);
	ado_fault(fx, rule);
	free(rule);
}

/* Requests the ADO service logged whose path contains needle. */
static size_t requests_matching(struct fx *fx, const char *needle, const char *method)
{
	char *log = sim_call(fx, "GET", "/_sim/requests", NULL);
	size_t n = 0;
	for (char *line = log; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		const char *p = json_string_value(json_object_get(j, "path"));
		const char *m = json_string_value(json_object_get(j, "method"));
		if (p && strstr(p, needle) && (!method || (m && !strcmp(m, method))))
			n++;
		json_decref(j);
		line = nl ? nl + 1 : NULL;
	}
	free(log);
	return n;
}

/* --- synchronous wrappers (run the loop until the callback) --- */

static struct acs_ado_work_item *create_wi(struct fx *fx, const char *type,
					   const struct acs_ado_fields *f)
{
	struct cap k = { 0 };
	assert_int_equal(acs_ado_create_work_item(fx->c, type, f, on_item, &k), 0);
	wait_cap(fx, &k);
	expect_ok(&k);
	return k.payload;
}

static struct acs_ado_work_item *create_simple(struct fx *fx, const char *type, const char *title)
{
	struct acs_ado_fields f = { .title = title };
	return create_wi(fx, type, &f);
}

static void get_wi_cap(struct fx *fx, int64_t id, struct cap *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(acs_ado_get_work_item(fx->c, id, on_item, k), 0);
	wait_cap(fx, k);
}

static struct acs_ado_work_item *get_wi(struct fx *fx, int64_t id)
{
	struct cap k;
	get_wi_cap(fx, id, &k);
	expect_ok(&k);
	return k.payload;
}

static void update_cap(struct fx *fx, int64_t id, int64_t rev, const struct acs_ado_fields *f,
		       const struct acs_ado_work_item *cur, struct cap *k)
{
	memset(k, 0, sizeof(*k));
	assert_int_equal(acs_ado_update_work_item(fx->c, id, rev, f, cur, on_item, k), 0);
	wait_cap(fx, k);
}

static struct acs_ado_work_item *update_wi(struct fx *fx, const struct acs_ado_work_item *cur,
					   const struct acs_ado_fields *f)
{
	struct cap k;
	update_cap(fx, cur->id, cur->rev, f, cur, &k);
	expect_ok(&k);
	return k.payload;
}

static bool has_tag(const struct acs_ado_work_item *wi, const char *t)
{
	for (size_t i = 0; i < wi->n_tags; i++)
		if (!strcmp(wi->tags[i], t))
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */
/* Pure helpers                                                              */
/* ------------------------------------------------------------------------ */

static void test_dates(void **state)
{
	(void)state;
	int64_t ms;
	char buf[32];
	assert_int_equal(acs_ado_parse_date("2026-01-21T00:00:00Z", &ms), 0);
	assert_int_equal(ms, DUE_MS);
	assert_int_equal(acs_ado_parse_date("2017-10-04T23:32:02.18Z", &ms), 0);
	assert_int_equal(ms, INT64_C(1507159922180));
	/* Seven digits (service hooks): milliseconds kept, the rest dropped. */
	assert_int_equal(acs_ado_parse_date("2017-10-04T23:32:02.7688022Z", &ms), 0);
	assert_int_equal(ms, INT64_C(1507159922768));
	assert_int_equal(acs_ado_parse_date("2026-01-13T12:18:53.61Z", &ms), 0);
	acs_ado_format_date(ms, buf);
	assert_string_equal(buf, "2026-01-13T12:18:53.610Z");
	assert_int_equal(acs_ado_parse_date("2026-01-21", &ms), 0);
	assert_int_equal(ms, DUE_MS);
	assert_int_equal(acs_ado_parse_date("2026-01-21T02:00:00+02:00", &ms), 0);
	assert_int_equal(ms, DUE_MS);
	assert_int_equal(acs_ado_parse_date("9999-01-01T00:00:00Z", &ms), 0);
	acs_ado_format_date(ms, buf);
	assert_string_equal(buf, "9999-01-01T00:00:00.000Z");
	acs_ado_format_date(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
	assert_int_equal(acs_ado_parse_date("2026-13-01T00:00:00Z", &ms), ACS_EPARSE);
	assert_int_equal(acs_ado_parse_date("2026-01-21T00:00:00Zjunk", &ms), ACS_EPARSE);
	assert_int_equal(acs_ado_parse_date("yesterday", &ms), ACS_EPARSE);
	assert_int_equal(acs_ado_parse_date("2026-01-21T00:00:00.Z", &ms), ACS_EPARSE);
	assert_int_equal(acs_ado_parse_date(NULL, &ms), ACS_EPARSE);
}

static void test_identity_and_tags(void **state)
{
	(void)state;
	struct acs_ado_identity id;
	json_t *obj = json_pack("{s:s,s:s,s:s}", "displayName", "Sam Ortiz", "uniqueName",
				"sam.ortiz@contoso.com", "id", "1d2e3f4a");
	assert_int_equal(acs_ado_identity_parse(obj, &id), 0);
	assert_string_equal(id.display_name, "Sam Ortiz");
	assert_string_equal(id.unique_name, "sam.ortiz@contoso.com");
	assert_string_equal(id.id, "1d2e3f4a");
	acs_ado_identity_clear(&id);
	json_decref(obj);

	/* Service-hook form. */
	json_t *s = json_string("Jamal Hartnett <fabrikamfiber4@hotmail.com>");
	assert_int_equal(acs_ado_identity_parse(s, &id), 0);
	assert_string_equal(id.display_name, "Jamal Hartnett");
	assert_string_equal(id.unique_name, "fabrikamfiber4@hotmail.com");
	assert_null(id.id);
	acs_ado_identity_clear(&id);
	json_decref(s);

	s = json_string("Jamal Hartnett");
	assert_int_equal(acs_ado_identity_parse(s, &id), 0);
	assert_string_equal(id.display_name, "Jamal Hartnett");
	assert_null(id.unique_name);
	acs_ado_identity_clear(&id);
	json_decref(s);

	s = json_string("");
	assert_int_equal(acs_ado_identity_parse(s, &id), ACS_EPARSE);
	acs_ado_identity_clear(&id);
	json_decref(s);
	assert_int_equal(acs_ado_identity_parse(NULL, &id), ACS_EPARSE);

	char **tags;
	size_t n = acs_ado_tags_split("client; sample;;  teamservices ;", &tags);
	assert_int_equal(n, 3);
	assert_string_equal(tags[0], "client");
	assert_string_equal(tags[1], "sample");
	assert_string_equal(tags[2], "teamservices");
	acs_ado_tags_free(tags, n);
	assert_int_equal(acs_ado_tags_split("", &tags), 0);
	assert_null(tags);
	assert_int_equal(acs_ado_tags_split(NULL, &tags), 0);
}

static void test_wiql_build(void **state)
{
	(void)state;
	const char *types[] = { "Task", "User Story" };
	struct acs_ado_wiql_filter f = {
		.project = "Contoso Web",
		.area_path = "Contoso Web\\O'Brien",
		.types = types,
		.n_types = 2,
		.assigned_to = "@Me",
		.has_changed_since = true,
		.changed_since_ms = INT64_C(1768305600123),
	};
	char *q = acs_ado_wiql_build(&f);
	assert_non_null(q);
	assert_string_equal(q, "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = "
			       "'Contoso Web'"
			       " AND [System.AreaPath] UNDER 'Contoso Web\\O''Brien'"
			       " AND [System.WorkItemType] IN ('Task', 'User Story')"
			       " AND [System.AssignedTo] = @Me"
			       " AND [System.ChangedDate] >= '2026-01-13T12:00:00.123Z'"
			       " AND [System.State] <> 'Removed'"
			       " ORDER BY [System.ChangedDate] ASC, [System.Id] ASC");
	free(q);

	/* A literal identity is quoted; an injection attempt stays inside it. */
	struct acs_ado_wiql_filter g = {
		.project = "P",
		.assigned_to = "x' OR 1=1 OR 'y",
		.include_removed = true,
	};
	q = acs_ado_wiql_build(&g);
	assert_string_equal(q, "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'P'"
			       " AND [System.AssignedTo] = 'x'' OR 1=1 OR ''y'"
			       " ORDER BY [System.ChangedDate] ASC, [System.Id] ASC");
	free(q);
	/* A malformed macro is refused rather than pasted. */
	g.assigned_to = "@Me OR 1=1";
	assert_null(acs_ado_wiql_build(&g));
	g.project = NULL;
	assert_null(acs_ado_wiql_build(&g));
}

static const char *example_wi =
	"{\"id\": 1042, \"rev\": 7, \"fields\": {"
	"\"System.AreaPath\": \"Contoso Web\\\\Integrations\","
	"\"System.TeamProject\": \"Contoso Web\","
	"\"System.WorkItemType\": \"Issue\", \"System.State\": \"Active\","
	"\"System.Reason\": \"Started\","
	"\"System.AssignedTo\": {\"displayName\": \"Sam Ortiz\", \"id\": "
	"\"1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6\", \"uniqueName\": \"sam.ortiz@contoso.com\"},"
	"\"System.CreatedDate\": \"2026-01-13T12:00:01.234Z\","
	"\"System.ChangedDate\": \"2026-01-13T12:18:53.61Z\","
	"\"System.CommentCount\": 2, \"System.Title\": \"Sync ADO comments both ways\","
	"\"System.Description\": \"<div>Keep authorship.</div>\","
	"\"System.Tags\": \"backend; sync\", \"Microsoft.VSTS.Common.Priority\": 2,"
	"\"Microsoft.VSTS.Scheduling.DueDate\": \"2026-01-21T00:00:00Z\"},"
	"\"relations\": [{\"rel\": \"System.LinkTypes.Hierarchy-Reverse\", \"url\": "
	"\"https://dev.azure.com/contoso/p/_apis/wit/workItems/1001\", \"attributes\": "
	"{\"isLocked\": false, \"name\": \"Parent\"}}, {\"rel\": \"AttachedFile\", \"url\": "
	"\"https://dev.azure.com/contoso/p/_apis/wit/attachments/3f2a\", \"attributes\": "
	"{\"id\": 4471203, \"comment\": \"Mirrored from ClickUp\", \"name\": \"sync-log.txt\"}}],"
	"\"_links\": {\"html\": {\"href\": "
	"\"https://dev.azure.com/contoso/web/wi.aspx?pcguid=e2a7&id=1042\"}},"
	"\"url\": \"https://dev.azure.com/contoso/p/_apis/wit/workItems/1042\"}";

static void test_parse_examples(void **state)
{
	(void)state;
	json_t *j = json_loads(example_wi, 0, NULL);
	assert_non_null(j);
	struct acs_ado_work_item *wi = acs_ado_work_item_from_json(j);
	json_decref(j);
	assert_non_null(wi);
	assert_int_equal(wi->id, 1042);
	assert_int_equal(wi->rev, 7);
	assert_string_equal(wi->title, "Sync ADO comments both ways");
	assert_string_equal(wi->description, "<div>Keep authorship.</div>");
	assert_string_equal(wi->state, "Active");
	assert_string_equal(wi->reason, "Started");
	assert_string_equal(wi->work_item_type, "Issue");
	assert_string_equal(wi->area_path, "Contoso Web\\Integrations");
	assert_string_equal(wi->team_project, "Contoso Web");
	assert_int_equal(wi->priority, 2);
	assert_true(wi->has_assigned_to);
	assert_string_equal(wi->assigned_to.display_name, "Sam Ortiz");
	assert_string_equal(wi->assigned_to.unique_name, "sam.ortiz@contoso.com");
	assert_string_equal(wi->assigned_to.id, "1d2e3f4a-5b6c-4d7e-8f90-a1b2c3d4e5f6");
	assert_int_equal(wi->n_tags, 2);
	assert_string_equal(wi->tags[0], "backend");
	assert_string_equal(wi->tags[1], "sync");
	assert_true(wi->has_due_date);
	assert_int_equal(wi->due_date_ms, DUE_MS);
	assert_string_equal(wi->due_date_field, ACS_ADO_FIELD_DUE_DATE);
	assert_int_equal(wi->created_date_ms, INT64_C(1768305601234));
	assert_int_equal(wi->changed_date_ms, INT64_C(1768306733610));
	assert_int_equal(wi->comment_count, 2);
	assert_int_equal(wi->n_relations, 2);
	assert_string_equal(wi->relations[0].rel, "System.LinkTypes.Hierarchy-Reverse");
	assert_string_equal(wi->relations[0].name, "Parent");
	assert_null(wi->relations[0].comment);
	assert_string_equal(wi->relations[1].rel, "AttachedFile");
	assert_string_equal(wi->relations[1].comment, "Mirrored from ClickUp");
	assert_string_equal(wi->relations[1].name, "sync-log.txt");
	assert_int_equal(json_integer_value(json_object_get(wi->relations[1].attributes, "id")),
			 4471203);
	assert_string_equal(wi->url, "https://dev.azure.com/contoso/p/_apis/wit/workItems/1042");
	assert_string_equal(wi->html_url, "https://dev.azure.com/contoso/web/"
					  "wi.aspx?pcguid=e2a7&id=1042");
	assert_int_equal(json_integer_value(json_object_get(wi->fields, "Microsoft.VSTS.Common."
									"Priority")),
			 2);
	acs_ado_work_item_free(wi);

	/* Service-hook resource: identity string, TargetDate, no relations. */
	j = json_loads("{\"id\": 5, \"rev\": 2, \"fields\": {\"System.AssignedTo\":"
		       " \"Jamal Hartnett <j@x.com>\", \"Microsoft.VSTS.Scheduling.TargetDate\":"
		       " \"2026-01-21T00:00:00Z\", \"Microsoft.VSTS.Common.Priority\": 7}}",
		       0, NULL);
	wi = acs_ado_work_item_from_json(j);
	json_decref(j);
	assert_non_null(wi);
	assert_string_equal(wi->assigned_to.unique_name, "j@x.com");
	assert_true(wi->has_due_date);
	assert_string_equal(wi->due_date_field, ACS_ADO_FIELD_TARGET_DATE);
	assert_int_equal(wi->priority, 0); /* out of 1..4 */
	assert_int_equal(wi->n_relations, 0);
	assert_null(wi->title);
	acs_ado_work_item_free(wi);
	j = json_loads("{\"rev\": 2}", 0, NULL);
	assert_null(acs_ado_work_item_from_json(j));
	json_decref(j);

	/* Comments: "id", or "commentId" in the spec's older examples. */
	struct acs_ado_comment cm;
	j = json_loads("{\"commentId\": 12, \"version\": 2, \"text\": \"<p>x</p>\","
		       " \"createdBy\": {\"displayName\": \"A\", \"uniqueName\": \"a@x\"},"
		       " \"createdDate\": \"2026-01-13T12:14:15.777Z\", \"isDeleted\": true}",
		       0, NULL);
	assert_int_equal(acs_ado_comment_parse(j, &cm), 0);
	assert_int_equal(cm.id, 12);
	assert_int_equal(cm.version, 2);
	assert_true(cm.is_deleted);
	assert_string_equal(cm.created_by.unique_name, "a@x");
	assert_int_equal(cm.created_date_ms, INT64_C(1768306455777));
	acs_ado_comment_clear(&cm);
	json_decref(j);

	/* Subscription as the list example shows it: no status, numeric
	 * probationRetries, masked password which is never kept. */
	struct acs_ado_subscription sub;
	j = json_loads("{\"id\": \"9b8a\", \"eventType\": \"workitem.updated\","
		       " \"probationRetries\": 3, \"publisherInputs\": {\"projectId\": \"5c1d\"},"
		       " \"consumerInputs\": {\"url\": \"https://h/x\", \"basicAuthUsername\": "
		       "\"u\","
		       " \"basicAuthPassword\": \"********\"},"
		       " \"createdDate\": \"2026-01-13T11:58:40.113Z\"}",
		       0, NULL);
	assert_int_equal(acs_ado_subscription_parse(j, &sub), 0);
	assert_string_equal(sub.status, "enabled");
	assert_int_equal(sub.probation_retries, 3);
	assert_string_equal(sub.project_id, "5c1d");
	assert_string_equal(sub.consumer_url, "https://h/x");
	assert_string_equal(sub.basic_auth_username, "u");
	assert_true(sub.has_password);
	assert_int_equal(sub.created_date_ms, INT64_C(1768305520113));
	acs_ado_subscription_clear(&sub);
	json_decref(j);
}

static const char *op_at(json_t *ops, size_t i, const char *key)
{
	return json_string_value(json_object_get(json_array_get(ops, i), key));
}

static void test_patch_build(void **state)
{
	(void)state;
	const char *tags[] = { "backend", "sync" };
	json_t *extra_v = json_real(3.5);
	struct acs_ado_field_value extra[] = {
		{ "Microsoft.VSTS.Scheduling.StoryPoints", extra_v },
	};
	struct acs_ado_relation_add link = { "Hyperlink", "https://app.clickup.com/t/86x",
					     "ClickUp task", NULL };
	struct acs_ado_fields f = {
		.title = "T",
		.description = "", /* skipped on create */
		.priority = 2,
		.assigned_to = "sam@x",
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = 2,
		.due_change = ACS_ADO_SET,
		.due_date_ms = DUE_MS,
		.extra = extra,
		.n_extra = 1,
		.add_relations = &link,
		.n_add_relations = 1,
	};
	json_t *ops = acs_ado_patch_build(&f, 0, NULL, true);
	assert_non_null(ops);
	char *text = json_dumps(ops, JSON_COMPACT);
	assert_string_equal(text, "[{\"op\":\"add\",\"path\":\"/fields/"
				  "System.Title\",\"value\":\"T\"},"
				  "{\"op\":\"add\",\"path\":\"/fields/"
				  "Microsoft.VSTS.Common.Priority\",\"value\":2},"
				  "{\"op\":\"add\",\"path\":\"/fields/"
				  "System.AssignedTo\",\"value\":\"sam@x\"},"
				  "{\"op\":\"add\",\"path\":\"/fields/"
				  "System.Tags\",\"value\":\"backend; sync\"},"
				  "{\"op\":\"add\",\"path\":\"/fields/"
				  "Microsoft.VSTS.Scheduling.DueDate\","
				  "\"value\":\"2026-01-21T00:00:00.000Z\"},"
				  "{\"op\":\"add\",\"path\":\"/fields/"
				  "Microsoft.VSTS.Scheduling.StoryPoints\","
				  "\"value\":3.5},"
				  "{\"op\":\"add\",\"path\":\"/relations/"
				  "-\",\"value\":{\"rel\":\"Hyperlink\","
				  "\"url\":\"https://app.clickup.com/t/"
				  "86x\",\"attributes\":{\"comment\":"
				  "\"ClickUp task\"}}}]");
	free(text);
	json_decref(ops);

	/* Update against the current item: only what changes, test /rev first. */
	json_t *j = json_loads(example_wi, 0, NULL);
	struct acs_ado_work_item cur;
	assert_int_equal(acs_ado_work_item_parse(j, &cur), 0);
	json_decref(j);
	const char *same_tags[] = { "SYNC", "backend" };
	const size_t rm[] = { 0, 1, 1 };
	struct acs_ado_relation_add again = { "AttachedFile",
					      "https://dev.azure.com/contoso/p/_apis/wit/"
					      "attachments/3f2a",
					      NULL, NULL };
	struct acs_ado_fields u = {
		.title = "Sync ADO comments both ways",	      /* unchanged */
		.description = "",			      /* clear */
		.state = "Resolved",			      /* replace */
		.priority = 2,				      /* unchanged */
		.assigned_to = "Sam <SAM.ORTIZ@contoso.com>", /* same identity */
		.tags_change = ACS_ADO_SET,
		.tags = same_tags,
		.n_tags = 2,
		.due_change = ACS_ADO_SET,
		.due_date_ms = DUE_MS, /* unchanged */
		.history = "<p>mirrored</p>",
		.remove_relations = rm,
		.n_remove_relations = 3,
		.add_relations = &again, /* already there */
		.n_add_relations = 1,
	};
	ops = acs_ado_patch_build(&u, 7, &cur, false);
	assert_non_null(ops);
	assert_int_equal(json_array_size(ops), 6);
	assert_string_equal(op_at(ops, 0, "op"), "test");
	assert_string_equal(op_at(ops, 0, "path"), "/rev");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ops, 0), "value")), 7);
	assert_string_equal(op_at(ops, 1, "op"), "remove");
	assert_string_equal(op_at(ops, 1, "path"), "/fields/System.Description");
	assert_null(json_object_get(json_array_get(ops, 1), "value"));
	assert_string_equal(op_at(ops, 2, "op"), "replace");
	assert_string_equal(op_at(ops, 2, "path"), "/fields/System.State");
	assert_string_equal(op_at(ops, 2, "value"), "Resolved");
	assert_string_equal(op_at(ops, 3, "path"), "/fields/System.History");
	assert_string_equal(op_at(ops, 4, "path"), "/relations/1"); /* highest first */
	assert_string_equal(op_at(ops, 5, "path"), "/relations/0");
	json_decref(ops);

	/* Nothing left to change: NULL (the call returns -ENODATA). */
	struct acs_ado_fields none = { .title = "Sync ADO comments both ways", .priority = 2 };
	assert_null(acs_ado_patch_build(&none, 7, &cur, false));
	/* Clearing what is absent is no change either. */
	struct acs_ado_fields absent = { .extra = (struct acs_ado_field_value[]){ { "X.Y", NULL } },
					 .n_extra = 1 };
	assert_null(acs_ado_patch_build(&absent, 7, &cur, false));
	acs_ado_work_item_clear(&cur);
	json_decref(extra_v);
}

/* ------------------------------------------------------------------------ */
/* Against the simulator                                                     */
/* ------------------------------------------------------------------------ */

static void test_client_args(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char err[ACS_ERR_LEN] = "";
	struct acs_ado_client_opts bad = { .base_url = fx.w.ado_origin, .organization = fx.w.org };
	assert_null(acs_ado_client_new(&fx.loop, fx.cl, &bad, err));
	assert_true(strstr(err, "required") != NULL);
	struct cap k = { 0 };
	assert_int_equal(acs_ado_get_work_item(fx.c, 0, on_item, &k), -EINVAL);
	assert_int_equal(acs_ado_get_work_item(fx.c, 1, NULL, &k), -EINVAL);
	assert_int_equal(acs_ado_create_work_item(fx.c, "", &(struct acs_ado_fields){ 0 }, on_item,
						  &k),
			 -EINVAL);
	assert_int_equal(acs_ado_create_work_item(fx.c, "Task", &(struct acs_ado_fields){ 0 },
						  on_item, &k),
			 -ENODATA);
	/* The PAT only goes to the configured origin. */
	assert_int_equal(acs_ado_download_attachment(fx.c, "https://evil.example/x", on_blob, &k),
			 -EINVAL);
	char *sneaky = acs_xasprintf("%s.evil.example/x", fx.w.ado_origin);
	assert_int_equal(acs_ado_download_attachment(fx.c, sneaky, on_blob, &k), -EINVAL);
	free(sneaky);
	assert_int_equal(acs_ado_wiql(fx.c, "", 0, on_ids, &k), -EINVAL);
	assert_string_equal(strstr(acs_ado_client_org_url(fx.c), "://") ? "ok" : "no", "ok");
	assert_false(k.done);
	fx_close(&fx);
}

static void test_work_item_crud(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	char area[128];
	snprintf(area, sizeof(area), "%s\\Integrations", fx.w.project);

	/* Create with every kind of field. */
	const char *tags[] = { "backend", "sync" };
	json_t *points = json_real(3.5);
	json_t *value_area = json_string("Business");
	struct acs_ado_field_value extra[] = {
		{ "Microsoft.VSTS.Scheduling.StoryPoints", points },
		{ "Microsoft.VSTS.Common.ValueArea", value_area },
	};
	struct acs_ado_relation_add link = { "Hyperlink", "https://app.clickup.com/t/86abc",
					     "ClickUp task", NULL };
	struct acs_ado_fields f = {
		.title = "Sync ADO comments both ways",
		.description = "<div>Comments posted in ClickUp must appear in ADO.</div>",
		.state = "New",
		.area_path = area,
		.priority = 2,
		.assigned_to = fx.w.user_email,
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = 2,
		.due_change = ACS_ADO_SET,
		.due_date_ms = DUE_MS,
		.extra = extra,
		.n_extra = 2,
		.add_relations = &link,
		.n_add_relations = 1,
	};
	struct acs_ado_work_item *wi = create_wi(&fx, "Task", &f);
	json_decref(points);
	json_decref(value_area);
	assert_true(wi->id > 0);
	assert_int_equal(wi->rev, 1);
	assert_string_equal(wi->title, "Sync ADO comments both ways");
	assert_string_equal(wi->description, "<div>Comments posted in ClickUp must appear in "
					     "ADO.</div>");
	assert_string_equal(wi->state, "New");
	assert_string_equal(wi->work_item_type, "Task");
	assert_string_equal(wi->team_project, fx.w.project);
	assert_string_equal(wi->area_path, area);
	assert_int_equal(wi->priority, 2);
	assert_true(wi->has_assigned_to);
	assert_string_equal(wi->assigned_to.unique_name, fx.w.user_email);
	assert_string_equal(wi->assigned_to.display_name, fx.w.user_name);
	assert_string_equal(wi->assigned_to.id, fx.w.user_id);
	assert_int_equal(wi->n_tags, 2);
	assert_string_equal(wi->tags[0], "backend");
	assert_string_equal(wi->tags[1], "sync");
	assert_true(wi->has_due_date);
	assert_int_equal(wi->due_date_ms, DUE_MS);
	assert_true(json_real_value(json_object_get(wi->fields, "Microsoft.VSTS.Scheduling."
								"StoryPoints")) == 3.5);
	assert_string_equal(json_string_value(json_object_get(wi->fields, "Microsoft.VSTS.Common."
									  "ValueArea")),
			    "Business");
	assert_true(wi->created_date_ms > INT64_C(1700000000000));
	assert_int_equal(wi->changed_date_ms, wi->created_date_ms);
	assert_non_null(wi->url);
	assert_non_null(wi->html_url);
	assert_int_equal(wi->n_relations, 1);
	assert_string_equal(wi->relations[0].rel, "Hyperlink");
	assert_string_equal(wi->relations[0].url, "https://app.clickup.com/t/86abc");
	assert_string_equal(wi->relations[0].comment, "ClickUp task");
	/* The create went to .../workitems/$Task as a JSON Patch. */
	assert_int_equal(requests_matching(&fx, "/_apis/wit/workitems/$Task", "POST"), 1);

	/* Get returns the same item with its relations. */
	struct acs_ado_work_item *got = get_wi(&fx, wi->id);
	assert_int_equal(got->id, wi->id);
	assert_int_equal(got->rev, 1);
	assert_string_equal(got->title, wi->title);
	assert_string_equal(got->assigned_to.unique_name, fx.w.user_email);
	assert_int_equal(got->due_date_ms, DUE_MS);
	assert_int_equal(got->n_relations, 1);
	assert_string_equal(got->relations[0].url, "https://app.clickup.com/t/86abc");
	acs_ado_work_item_free(wi);

	/* Update each field (only the changed ones are sent). */
	const char *tags2[] = { "sync", "frontend" };
	json_t *points2 = json_real(5);
	struct acs_ado_field_value extra2[] = {
		{ "Microsoft.VSTS.Scheduling.StoryPoints", points2 },
	};
	struct acs_ado_fields u = {
		.title = "Sync comments both ways (v2)",
		.description = "<p>Updated</p>",
		.state = "Active",
		.area_path = fx.w.project,
		.priority = 1,
		.assigned_to = fx.w.other_email,
		.tags_change = ACS_ADO_SET,
		.tags = tags2,
		.n_tags = 2,
		.due_change = ACS_ADO_SET,
		.due_date_ms = DUE_MS + DAY_MS,
		.extra = extra2,
		.n_extra = 1,
	};
	wi = update_wi(&fx, got, &u);
	assert_int_equal(wi->rev, 2);
	assert_string_equal(wi->title, "Sync comments both ways (v2)");
	assert_string_equal(wi->description, "<p>Updated</p>");
	assert_string_equal(wi->state, "Active");
	assert_string_equal(wi->area_path, fx.w.project);
	assert_int_equal(wi->priority, 1);
	assert_string_equal(wi->assigned_to.unique_name, fx.w.other_email);
	assert_string_equal(wi->assigned_to.display_name, fx.w.other_name);
	assert_int_equal(wi->n_tags, 2);
	assert_true(has_tag(wi, "sync") && has_tag(wi, "frontend"));
	assert_int_equal(wi->due_date_ms, DUE_MS + DAY_MS);
	assert_true(json_number_value(json_object_get(wi->fields, "Microsoft.VSTS.Scheduling."
								  "StoryPoints")) == 5.0);
	assert_true(wi->changed_date_ms > got->changed_date_ms);
	assert_int_equal(wi->n_relations, 1); /* $expand=relations on the PATCH too */
	acs_ado_work_item_free(got);

	/* Same values again: nothing to send. */
	struct cap k = { 0 };
	assert_int_equal(acs_ado_update_work_item(fx.c, wi->id, wi->rev, &u, wi, on_item, &k),
			 -ENODATA);
	json_decref(points2);

	/* Clear the optional fields. */
	struct acs_ado_fields clr = {
		.description = "",
		.priority = -1,
		.assigned_to = "",
		.tags_change = ACS_ADO_CLEAR,
		.due_change = ACS_ADO_CLEAR,
	};
	got = update_wi(&fx, wi, &clr);
	assert_int_equal(got->rev, 3);
	assert_null(got->description);
	assert_int_equal(got->priority, 0);
	assert_false(got->has_assigned_to);
	assert_int_equal(got->n_tags, 0);
	assert_false(got->has_due_date);
	assert_string_equal(got->title, "Sync comments both ways (v2)");
	acs_ado_work_item_free(wi);

	/* Delete, then the item is gone: 404, permanent, ADO's message. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_delete_work_item(fx.c, got->id, false, on_done, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	get_wi_cap(&fx, got->id, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);
	assert_int_equal(k.res.error, ACS_ENOTFOUND);
	char want[160];
	snprintf(want, sizeof(want), "TF401232: Work item %" PRId64 " does not exist, %s", got->id,
		 "or you do not have permissions to read it.");
	assert_string_equal(k.msg, want);
	assert_string_equal(k.type_key, "WorkItemUnauthorizedAccessException");
	assert_null(k.payload);
	acs_ado_work_item_free(got);
	fx_close(&fx);
}

static void test_conflict(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *wi = create_simple(&fx, "Bug", "Race me");
	/* Someone else changes it first (rev 1 -> 2)... */
	struct acs_ado_fields theirs = { .title = "Changed elsewhere" };
	struct acs_ado_work_item *after = update_wi(&fx, wi, &theirs);
	assert_int_equal(after->rev, 2);
	/* ...so our patch, tested against rev 1, is refused as a whole. */
	struct acs_ado_fields ours = { .title = "Our title", .state = "Active" };
	struct cap k;
	update_cap(&fx, wi->id, wi->rev, &ours, NULL, &k);
	assert_int_equal(k.res.cls, ACS_REST_CONFLICT);
	assert_int_equal(k.res.status, 412);
	assert_int_equal(k.res.error, ACS_ECONFLICT);
	assert_int_equal(k.res.attempts, 1); /* a conflict is not retried */
	assert_true(k.msg[0] != '\0');
	assert_null(k.payload);
	/* Nothing of it was applied. */
	struct acs_ado_work_item *now = get_wi(&fx, wi->id);
	assert_int_equal(now->rev, 2);
	assert_string_equal(now->title, "Changed elsewhere");
	assert_string_equal(now->state, "New");
	/* Re-read, re-apply: fine. */
	update_cap(&fx, now->id, now->rev, &ours, now, &k);
	expect_ok(&k);
	struct acs_ado_work_item *done = k.payload;
	assert_int_equal(done->rev, 3);
	assert_string_equal(done->title, "Our title");
	assert_string_equal(done->state, "Active");
	acs_ado_work_item_free(done);
	acs_ado_work_item_free(now);
	acs_ado_work_item_free(after);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static bool contains_id(const int64_t *ids, size_t n, int64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* The ops variants send a ready JSON Patch (the mapper's); the update prepends the
 * /rev test itself. */
static void test_work_item_ops(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	json_t *ops = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:{s:s,s:s}}]", "op", "add", "path",
				"/fields/System.Title", "value", "Via ops", "op", "add", "path",
				"/relations/-", "value", "rel", "Hyperlink", "url",
				"https://app.clickup.com/t/abc");
	struct cap k = { 0 };
	assert_int_equal(acs_ado_create_work_item_ops(fx.c, "Task", ops, on_item, &k), 0);
	json_decref(ops);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_OK);
	struct acs_ado_work_item *wi = k.payload;
	assert_string_equal(wi->title, "Via ops");
	assert_int_equal(wi->n_relations, 1);
	assert_string_equal(wi->relations[0].url, "https://app.clickup.com/t/abc");
	int64_t id = wi->id, rev = wi->rev;
	acs_ado_work_item_free(wi);

	ops = json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "/fields/System.Title", "value",
			"Renamed");
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_update_work_item_ops(fx.c, id, rev, ops, on_item, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_OK);
	wi = k.payload;
	assert_string_equal(wi->title, "Renamed");
	assert_int_equal(wi->rev, rev + 1);
	assert_int_equal(wi->n_relations, 1); /* answered with relations */
	acs_ado_work_item_free(wi);

	/* The stale rev is tested first: 412, the CONFLICT class, nothing written. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_update_work_item_ops(fx.c, id, rev, ops, on_item, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_CONFLICT);
	assert_int_equal(k.res.status, 412);
	assert_null(k.payload);

	json_t *empty = json_array();
	assert_int_equal(acs_ado_update_work_item_ops(fx.c, id, rev, empty, on_item, &k), -EINVAL);
	assert_int_equal(acs_ado_create_work_item_ops(fx.c, "Task", empty, on_item, &k), -EINVAL);
	assert_int_equal(acs_ado_create_work_item_ops(fx.c, "", ops, on_item, &k), -EINVAL);
	json_decref(empty);
	json_decref(ops);
	fx_close(&fx);
}

static void test_batch_and_wiql(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *task = create_simple(&fx, "Task", "A task");
	struct acs_ado_work_item *bug = create_simple(&fx, "Bug", "A bug");
	struct acs_ado_work_item *story = create_simple(&fx, "User Story", "A story");
	assert_string_equal(story->work_item_type, "User Story");
	/* Touch the task last: it becomes the most recently changed. */
	struct acs_ado_fields f = { .description = "<p>touched</p>" };
	struct acs_ado_work_item *task2 = update_wi(&fx, task, &f);

	/* Batch get keeps the order asked and leaves out unknown ids. */
	int64_t ids[] = { story->id, 987654, task->id, bug->id };
	struct cap k = { 0 };
	assert_int_equal(acs_ado_get_work_items(fx.c, ids, 4, NULL, 0, on_wis, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_work_item_list *l = k.payload;
	assert_int_equal(l->n, 3);
	assert_int_equal(l->items[0].id, story->id);
	assert_int_equal(l->items[1].id, task->id);
	assert_int_equal(l->items[2].id, bug->id);
	assert_string_equal(l->items[1].description, "<p>touched</p>");
	assert_string_equal(l->items[2].title, "A bug");
	acs_ado_work_item_list_free(l);

	/* With a field list only those fields come back. */
	const char *fields[] = { "System.Title", "System.State" };
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_get_work_items(fx.c, ids + 2, 1, fields, 2, on_wis, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	l = k.payload;
	assert_int_equal(l->n, 1);
	assert_string_equal(l->items[0].title, "A task");
	assert_string_equal(l->items[0].state, "New");
	assert_null(l->items[0].description);
	assert_null(l->items[0].work_item_type);
	acs_ado_work_item_list_free(l);

	/* More than 200 ids: two requests, merged in order. */
	int64_t many[250];
	for (size_t i = 0; i < 250; i++)
		many[i] = 100000 + (int64_t)i;
	many[10] = bug->id;
	many[240] = task->id;
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_get_work_items(fx.c, many, 250, NULL, 0, on_wis, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	l = k.payload;
	assert_int_equal(k.res.attempts, 2);
	assert_int_equal(l->n, 2);
	assert_int_equal(l->items[0].id, bug->id);
	assert_int_equal(l->items[1].id, task->id);
	acs_ado_work_item_list_free(l);
	assert_int_equal(requests_matching(&fx, "/_apis/wit/workitemsbatch", "POST"), 4);

	/* WIQL by type and ChangedDate, ordered by ChangedDate. */
	const char *types[] = { "Task", "Bug" };
	struct acs_ado_wiql_filter wf = {
		.project = fx.w.project,
		.types = types,
		.n_types = 2,
		.has_changed_since = true,
		.changed_since_ms = task->changed_date_ms,
	};
	char *q = acs_ado_wiql_build(&wf);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_wiql(fx.c, q, 0, on_ids, &k), 0);
	free(q);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_int_equal(k.n, 2);
	assert_int_equal(k.ids[0], bug->id);
	assert_int_equal(k.ids[1], task->id);
	free(k.ids);

	/* Since the story was created: only the later-touched task is a Task/Bug. */
	wf.changed_since_ms = story->changed_date_ms;
	q = acs_ado_wiql_build(&wf);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_wiql(fx.c, q, 0, on_ids, &k), 0);
	free(q);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.ids[0], task->id);
	free(k.ids);

	/* Every type: the story is there too, and $top limits. */
	wf.n_types = 0;
	wf.changed_since_ms = task->changed_date_ms;
	q = acs_ado_wiql_build(&wf);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_wiql(fx.c, q, 0, on_ids, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_int_equal(k.n, 3);
	assert_true(contains_id(k.ids, k.n, story->id));
	free(k.ids);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_wiql(fx.c, q, 2, on_ids, &k), 0);
	free(q);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_int_equal(k.n, 2);
	free(k.ids);

	/* A syntax error is permanent and keeps ADO's message. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_wiql(fx.c, "SELEKT nonsense", 0, on_ids, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 400);
	assert_true(k.msg[0] != '\0');
	assert_null(k.ids);

	acs_ado_work_item_free(task);
	acs_ado_work_item_free(task2);
	acs_ado_work_item_free(bug);
	acs_ado_work_item_free(story);
	fx_close(&fx);
}

static void test_types_states_projects_areas(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct cap k = { 0 };

	assert_int_equal(acs_ado_list_work_item_types(fx.c, on_types, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_type_list *types = k.payload;
	bool task = false, story = false;
	for (size_t i = 0; i < types->n; i++) {
		if (!strcmp(types->types[i].name, "Task")) {
			task = true;
			assert_string_equal(types->types[i].reference_name, "Microsoft.VSTS."
									    "WorkItemTypes.Task");
		}
		if (!strcmp(types->types[i].name, "User Story"))
			story = true;
	}
	assert_true(task && story);
	acs_ado_type_list_free(types);

	/* A type name with a space travels escaped. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_type_states(fx.c, "User Story", on_states, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_state_list *st = k.payload;
	assert_int_equal(st->n, 5);
	assert_string_equal(st->states[0].name, "New");
	assert_string_equal(st->states[0].category, "Proposed");
	assert_string_equal(st->states[0].color, "b2b2b2");
	assert_string_equal(st->states[2].name, "Resolved");
	assert_string_equal(st->states[2].category, "Resolved");
	assert_string_equal(st->states[3].name, "Closed");
	assert_string_equal(st->states[3].category, "Completed");
	assert_string_equal(st->states[3].color, "339933");
	acs_ado_state_list_free(st);
	assert_int_equal(requests_matching(&fx, "workitemtypes/User Story/states", "GET"), 1);

	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_type_states(fx.c, "Task", on_states, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	st = k.payload;
	assert_int_equal(st->n, 4);
	assert_string_equal(st->states[1].name, "Active");
	assert_string_equal(st->states[1].category, "InProgress");
	assert_string_equal(st->states[1].color, "007acc");
	acs_ado_state_list_free(st);

	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_type_states(fx.c, "Epic", on_states, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);

	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_projects(fx.c, on_projects, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_project_list *pl = k.payload;
	assert_int_equal(pl->n, 1);
	assert_string_equal(pl->projects[0].name, fx.w.project);
	assert_int_equal(strlen(pl->projects[0].id), 36);
	acs_ado_project_list_free(pl);

	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_area_paths(fx.c, on_paths, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_path_list *paths = k.payload;
	assert_true(paths->n >= 2);
	assert_string_equal(paths->paths[0], fx.w.project);
	char want[128];
	snprintf(want, sizeof(want), "%s\\Integrations", fx.w.project);
	bool found = false;
	for (size_t i = 0; i < paths->n; i++)
		found |= !strcmp(paths->paths[i], want);
	assert_true(found);
	acs_ado_path_list_free(paths);
	fx_close(&fx);
}

static void test_project_with_space(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_full(&fx, "Platform Team", 0, 0);
	char area[128];
	snprintf(area, sizeof(area), "%s\\Integrations", fx.w.project);
	struct acs_ado_fields f = { .title = "Spaced out", .area_path = area };
	struct acs_ado_work_item *wi = create_wi(&fx, "User Story", &f);
	assert_string_equal(wi->team_project, "Platform Team");
	assert_string_equal(wi->area_path, area);
	assert_int_equal(requests_matching(&fx, "/Platform Team/_apis/wit/workitems/$User Story",
					   "POST"),
			 1);
	struct acs_ado_wiql_filter wf = { .project = fx.w.project, .area_path = area };
	char *q = acs_ado_wiql_build(&wf);
	struct cap k = { 0 };
	assert_int_equal(acs_ado_wiql(fx.c, q, 0, on_ids, &k), 0);
	free(q);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_true(contains_id(k.ids, k.n, wi->id));
	free(k.ids);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static struct acs_ado_comment *add_comment(struct fx *fx, int64_t id, const char *text)
{
	struct cap k = { 0 };
	assert_int_equal(acs_ado_create_comment(fx->c, id, text, false, on_comment, &k), 0);
	wait_cap(fx, &k);
	expect_ok(&k);
	return k.payload;
}

static struct acs_ado_comment_list *list_comments(struct fx *fx, int64_t id, size_t top,
						  const char *tok, bool deleted)
{
	struct cap k = { 0 };
	assert_int_equal(acs_ado_list_comments(fx->c, id, top, tok, deleted, on_comments, &k), 0);
	wait_cap(fx, &k);
	expect_ok(&k);
	return k.payload;
}

static void test_comments(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Talk about it");
	struct acs_ado_comment *c1 = add_comment(&fx, wi->id, "<div>first</div>");
	struct acs_ado_comment *c2 = add_comment(&fx, wi->id, "<div>second</div>");
	struct acs_ado_comment *c3 = add_comment(&fx, wi->id, "<div>third</div>");
	assert_true(c1->id > 0 && c2->id != c1->id && c3->id != c2->id);
	assert_int_equal(c1->work_item_id, wi->id);
	assert_int_equal(c1->version, 1);
	assert_string_equal(c1->text, "<div>first</div>");
	assert_string_equal(c1->format, "html");
	assert_string_equal(c1->created_by.unique_name, fx.w.user_email);
	assert_string_equal(c1->created_by.display_name, fx.w.user_name);
	assert_true(c1->created_date_ms > INT64_C(1700000000000));
	assert_false(c1->is_deleted);
	/* Comments need 7.1-preview.4: the client sent it (else 400). */
	assert_int_equal(requests_matching(&fx, "/comments", "POST"), 3);

	/* Markdown comments keep their format. */
	struct cap k = { 0 };
	assert_int_equal(acs_ado_create_comment(fx.c, wi->id, "**bold**", true, on_comment, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_comment *c4 = k.payload;
	assert_string_equal(c4->format, "markdown");
	assert_string_equal(c4->text, "**bold**");

	/* Edit: version 2, new text. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_update_comment(fx.c, wi->id, c2->id, "<div>second, edited</div>",
						false, on_comment, &k),
			 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_comment *e2 = k.payload;
	assert_int_equal(e2->id, c2->id);
	assert_int_equal(e2->version, 2);
	assert_string_equal(e2->text, "<div>second, edited</div>");
	assert_true(e2->modified_date_ms >= e2->created_date_ms);
	acs_ado_comment_free(e2);

	/* Paging: 2 + 2, following the continuation token. */
	struct acs_ado_comment_list *p1 = list_comments(&fx, wi->id, 2, NULL, false);
	assert_int_equal(p1->n, 2);
	assert_int_equal(p1->total_count, 4);
	assert_non_null(p1->continuation_token);
	struct acs_ado_comment_list *p2 =
		list_comments(&fx, wi->id, 2, p1->continuation_token, false);
	assert_int_equal(p2->n, 2);
	assert_null(p2->continuation_token);
	int64_t seen[4] = { p1->comments[0].id, p1->comments[1].id, p2->comments[0].id,
			    p2->comments[1].id };
	assert_true(contains_id(seen, 4, c1->id) && contains_id(seen, 4, c2->id) &&
		    contains_id(seen, 4, c3->id) && contains_id(seen, 4, c4->id));
	for (size_t i = 0; i < 2; i++)
		if (p1->comments[i].id == c2->id || p2->comments[i].id == c2->id)
			assert_string_equal(p1->comments[i].id == c2->id ? p1->comments[i].text
									 : p2->comments[i].text,
					    "<div>second, edited</div>");
	acs_ado_comment_list_free(p1);
	acs_ado_comment_list_free(p2);

	/* Delete: gone from the list, still there (isDeleted) with includeDeleted. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_delete_comment(fx.c, wi->id, c1->id, on_done, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_comment_list *all = list_comments(&fx, wi->id, 0, NULL, false);
	assert_int_equal(all->n, 3);
	for (size_t i = 0; i < all->n; i++)
		assert_true(all->comments[i].id != c1->id);
	acs_ado_comment_list_free(all);
	all = list_comments(&fx, wi->id, 0, NULL, true);
	assert_int_equal(all->n, 4);
	size_t deleted = 0;
	for (size_t i = 0; i < all->n; i++)
		if (all->comments[i].is_deleted) {
			deleted++;
			assert_int_equal(all->comments[i].id, c1->id);
		}
	assert_int_equal(deleted, 1);
	acs_ado_comment_list_free(all);

	/* Comments on a missing work item: permanent 404. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_create_comment(fx.c, 987654, "x", false, on_comment, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);

	acs_ado_comment_free(c1);
	acs_ado_comment_free(c2);
	acs_ado_comment_free(c3);
	acs_ado_comment_free(c4);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void test_attachments(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *wi = create_simple(&fx, "Bug", "Has a file");

	/* Binary content, NULs and all. */
	size_t len = 70000;
	unsigned char *data = acs_xmalloc(len);
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 131u + 7u) & 0xff);
	data[5] = 0;
	struct cap k = { 0 };
	assert_int_equal(
		acs_ado_upload_attachment(fx.c, "sync log.bin", data, len, on_attachment, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_attachment_ref *ref = k.payload;
	assert_int_equal(strlen(ref->id), 36);
	assert_true(strstr(ref->url, ref->id) != NULL);
	assert_int_equal(strncmp(ref->url, fx.w.ado_origin, strlen(fx.w.ado_origin)), 0);

	/* Link it to the work item (with the /rev test). */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_add_attachment_relation(fx.c, wi->id, wi->rev, ref->url,
							 "Mirrored from ClickUp", on_item, &k),
			 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_work_item *linked = k.payload;
	assert_int_equal(linked->rev, wi->rev + 1);
	assert_int_equal(linked->n_relations, 1);
	assert_string_equal(linked->relations[0].rel, "AttachedFile");
	/* The relation keeps the attachment url without its ?fileName query
	 * (as in the documented work item example). */
	size_t base = strcspn(ref->url, "?");
	assert_int_equal(strlen(linked->relations[0].url), base);
	assert_memory_equal(linked->relations[0].url, ref->url, base);
	assert_string_equal(linked->relations[0].comment, "Mirrored from ClickUp");
	acs_ado_work_item_free(linked);

	/* The relation read back from GET, then download by its url. */
	struct acs_ado_work_item *got = get_wi(&fx, wi->id);
	assert_int_equal(got->n_relations, 1);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_download_attachment(fx.c, got->relations[0].url, on_blob, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_blob *blob = k.payload;
	assert_int_equal(blob->len, len);
	assert_memory_equal(blob->data, data, len);
	acs_ado_blob_free(blob);
	acs_ado_work_item_free(got);

	/* An unknown attachment: permanent 404. */
	char *missing = acs_xasprintf("%s/%s/%s/_apis/wit/attachments/"
				      "00000000-0000-4000-8000-000000000000?fileName=x",
				      fx.w.ado_origin, fx.w.org, fx.w.project);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_download_attachment(fx.c, missing, on_blob, &k), 0);
	free(missing);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);
	assert_null(k.payload);

	/* An empty file is a file too. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_upload_attachment(fx.c, "empty.txt", NULL, 0, on_attachment, &k),
			 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_attachment_ref *empty = k.payload;
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_download_attachment(fx.c, empty->url, on_blob, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	blob = k.payload;
	assert_int_equal(blob->len, 0);
	acs_ado_blob_free(blob);
	acs_ado_attachment_ref_free(empty);

	/* A download past the client's ceiling fails for good. */
	struct acs_ado_client_opts o = {
		.base_url = fx.w.ado_origin,
		.organization = fx.w.org,
		.project = fx.w.project,
		.pat = fx.w.pat,
		.max_download_bytes = 1000,
	};
	char err[ACS_ERR_LEN];
	struct acs_ado_client *small = acs_ado_client_new(&fx.loop, fx.cl, &o, err);
	assert_non_null(small);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_download_attachment(small, ref->url, on_blob, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.error, ACS_ETOOBIG);
	assert_null(k.payload);
	int closed = 0;
	acs_ado_client_close(small, on_closed, &closed);
	acs_test_run_until(&fx.loop, &closed, WAIT_MS);

	acs_ado_attachment_ref_free(ref);
	free(data);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static bool subs_contain(const struct acs_ado_subscription_list *l, const char *id)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->subs[i].id, id))
			return true;
	return false;
}

static struct acs_ado_subscription_list *list_subs(struct fx *fx, const char *event_type)
{
	struct cap k = { 0 };
	assert_int_equal(acs_ado_list_subscriptions(fx->c, event_type, on_subs, &k), 0);
	wait_cap(fx, &k);
	expect_ok(&k);
	return k.payload;
}

static void test_subscriptions(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	acs_test_log_capture_begin();
	acs_log_set_level(ACS_LOG_DEBUG);

	/* The project GUID scopes the subscription. */
	struct cap k = { 0 };
	assert_int_equal(acs_ado_list_projects(fx.c, on_projects, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_project_list *pl = k.payload;
	char project_id[64];
	snprintf(project_id, sizeof(project_id), "%s", pl->projects[0].id);
	acs_ado_project_list_free(pl);

	struct acs_ado_subscription_spec spec = {
		.event_type = "workitem.updated",
		.project_id = project_id,
		.url = "http://127.0.0.1:9/webhooks/ado",
		.basic_auth_username = "ado-hook",
		.basic_auth_password = "s3cr3t-shared-with-receiver",
		.http_headers = "X-Sync-Source:ado\nX-Sync-Tenant:contoso",
	};
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_create_subscription(fx.c, &spec, on_sub, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	struct acs_ado_subscription *s = k.payload;
	assert_int_equal(strlen(s->id), 36);
	assert_string_equal(s->status, "enabled");
	assert_string_equal(s->event_type, "workitem.updated");
	assert_string_equal(s->publisher_id, "tfs");
	assert_string_equal(s->consumer_id, "webHooks");
	assert_string_equal(s->consumer_action_id, "httpRequest");
	assert_string_equal(s->resource_version, "1.0");
	assert_string_equal(s->project_id, project_id);
	assert_string_equal(s->consumer_url, "http://127.0.0.1:9/webhooks/ado");
	assert_string_equal(s->basic_auth_username, "ado-hook");
	assert_string_equal(s->http_headers, "X-Sync-Source:ado\nX-Sync-Tenant:contoso");
	assert_true(s->has_password);
	assert_true(s->created_date_ms > INT64_C(1700000000000));
	assert_int_equal(s->probation_retries, 0);
	char id[64];
	snprintf(id, sizeof(id), "%s", s->id);
	acs_ado_subscription_free(s);

	struct acs_ado_subscription_list *l = list_subs(&fx, NULL);
	assert_true(subs_contain(l, id));
	acs_ado_subscription_list_free(l);
	l = list_subs(&fx, "workitem.updated");
	assert_true(subs_contain(l, id));
	acs_ado_subscription_list_free(l);
	l = list_subs(&fx, "workitem.created");
	assert_false(subs_contain(l, id));
	acs_ado_subscription_list_free(l);

	/* Replace: new event type and receiver. */
	spec.event_type = "workitem.created";
	spec.url = "http://127.0.0.1:9/webhooks/ado2";
	spec.http_headers = NULL;
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_replace_subscription(fx.c, id, &spec, on_sub, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	s = k.payload;
	assert_string_equal(s->id, id);
	assert_string_equal(s->event_type, "workitem.created");
	assert_string_equal(s->consumer_url, "http://127.0.0.1:9/webhooks/ado2");
	assert_true(s->modified_date_ms >= s->created_date_ms);
	acs_ado_subscription_free(s);
	l = list_subs(&fx, "workitem.created");
	assert_true(subs_contain(l, id));
	acs_ado_subscription_list_free(l);

	/* Delete; deleting again is a permanent 404. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_delete_subscription(fx.c, id, on_done, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	l = list_subs(&fx, NULL);
	assert_false(subs_contain(l, id));
	acs_ado_subscription_list_free(l);
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_delete_subscription(fx.c, id, on_done, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);

	/* Neither the password nor the PAT reached a log line. */
	const char *logs = acs_test_log_captured();
	assert_null(strstr(logs, "s3cr3t-shared-with-receiver"));
	assert_null(strstr(logs, fx.w.pat));
	acs_test_log_capture_end();
	acs_log_set_level(ACS_LOG_INFO);
	fx_close(&fx);
}

/* ------------------------------------------------------------------------ */
/* Error classes through fault injection                                     */
/* ------------------------------------------------------------------------ */

static void test_fault_429_retried(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Throttle me");
	wi_fault(&fx, "GET", "\"status\": 429, \"count\": 1, \"retry_after\": 1");
	struct cap k;
	uint64_t t0 = uv_now(&fx.loop);
	get_wi_cap(&fx, wi->id, &k);
	expect_ok(&k); /* retried transparently after Retry-After */
	assert_int_equal(k.res.attempts, 2);
	uv_update_time(&fx.loop);
	assert_true(uv_now(&fx.loop) - t0 >= 990); /* not before Retry-After: 1 */
	struct acs_ado_work_item *got = k.payload;
	assert_string_equal(got->title, "Throttle me");
	struct acs_governor_stats st;
	acs_ado_client_stats(fx.c, &st);
	assert_int_equal(st.throttled, 1);
	acs_ado_work_item_free(got);

	/* A 429 that outlasts the attempts is retryable with ADO's message. */
	wi_fault(&fx, "GET", "\"status\": 429, \"count\": 5, \"retry_after\": 0");
	struct acs_ado_client *one = client_new(&fx, fx.w.pat, 0, 1);
	struct acs_ado_client *keep = fx.c;
	fx.c = one;
	get_wi_cap(&fx, wi->id, &k);
	assert_int_equal(k.res.cls, ACS_REST_RETRYABLE);
	assert_int_equal(k.res.status, 429);
	assert_int_equal(k.res.error, ACS_ERATELIMIT);
	assert_true(strstr(k.msg, "TF400733") != NULL);
	int n = 0;
	acs_ado_client_close(one, on_closed, &n);
	acs_test_run_until(&fx.loop, &n, WAIT_MS);
	fx.c = keep;
	free(sim_call(&fx, "DELETE", "/_sim/faults", NULL));
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void test_fault_500(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_full(&fx, NULL, 0, 2);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Flaky server");
	/* One 500: retried, then fine. */
	wi_fault(&fx, "GET", "\"status\": 500, \"count\": 1");
	struct cap k;
	get_wi_cap(&fx, wi->id, &k);
	expect_ok(&k);
	assert_int_equal(k.res.attempts, 2);
	acs_ado_work_item_free(k.payload);
	/* More 500s than attempts: retryable. */
	wi_fault(&fx, "GET", "\"status\": 500, \"count\": 2");
	get_wi_cap(&fx, wi->id, &k);
	assert_int_equal(k.res.cls, ACS_REST_RETRYABLE);
	assert_int_equal(k.res.status, 500);
	assert_int_equal(k.res.error, ACS_EHTTP);
	assert_int_equal(k.res.attempts, 2);
	assert_null(k.payload);
	/* 503 on a write: retryable too, and the /rev test keeps a retry safe. */
	wi_fault(&fx, "PATCH", "\"status\": 503, \"count\": 2");
	struct acs_ado_fields f = { .title = "Still flaky" };
	update_cap(&fx, wi->id, wi->rev, &f, NULL, &k);
	assert_int_equal(k.res.cls, ACS_REST_RETRYABLE);
	assert_int_equal(k.res.status, 503);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void test_fault_drop(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_full(&fx, NULL, 0, 1);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Dropped");
	/* Two drops: libcurl itself retries once when a reused keep-alive
	 * connection dies before any answer. */
	wi_fault(&fx, "GET", "\"drop\": true, \"count\": 2");
	struct cap k;
	get_wi_cap(&fx, wi->id, &k);
	assert_int_equal(k.res.cls, ACS_REST_RETRYABLE);
	assert_int_equal(k.res.status, 0);
	assert_int_equal(k.res.error, ACS_ETRANSPORT);
	assert_true(k.msg[0] != '\0');
	/* Next time it works. */
	get_wi_cap(&fx, wi->id, &k);
	expect_ok(&k);
	acs_ado_work_item_free(k.payload);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void test_fault_timeout(void **state)
{
	(void)state;
	struct fx fx;
	fx_init_full(&fx, NULL, 1000, 1);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Slow");
	wi_fault(&fx, "GET", "\"delay_ms\": 4000, \"count\": 1");
	struct cap k;
	get_wi_cap(&fx, wi->id, &k);
	assert_int_equal(k.res.cls, ACS_REST_RETRYABLE);
	assert_int_equal(k.res.error, ACS_ETIMEOUT);
	assert_int_equal(k.res.status, 0);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void test_fault_auth(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	acs_ado_client_close(fx.c, NULL, NULL);
	fx.c = client_new(&fx, "wrongpat0123456789abcdefghijklmnopqrstuvwxyz0123", 0, 0);
	struct cap k;
	get_wi_cap(&fx, 1, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 401);
	assert_int_equal(k.res.error, ACS_EAUTH);
	assert_int_equal(k.res.attempts, 1);
	assert_true(k.msg[0] != '\0');
	/* Also on org-level routes. */
	memset(&k, 0, sizeof(k));
	assert_int_equal(acs_ado_list_subscriptions(fx.c, NULL, on_subs, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 401);
	fx_close(&fx);
}

static void test_fault_404_and_400(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct cap k;
	/* An unknown item: 404, permanent, not retried, ADO's message. */
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Validate me");
	get_wi_cap(&fx, 987654, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 404);
	assert_int_equal(k.res.error, ACS_ENOTFOUND);
	assert_int_equal(k.res.attempts, 1);
	assert_string_equal(k.msg, "TF401232: Work item 987654 does not exist, or you do not have "
				   "permissions to read it.");
	assert_string_equal(k.type_key, "WorkItemUnauthorizedAccessException");

	/* An invalid state: 400, permanent, ADO's message kept. */
	struct acs_ado_fields bad = { .state = "Bogus" };
	update_cap(&fx, wi->id, wi->rev, &bad, wi, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 400);
	assert_int_equal(k.res.error, ACS_EHTTP);
	assert_true(strstr(k.msg, "TF401320") != NULL);
	assert_true(strstr(k.msg, "field State") != NULL);
	assert_string_equal(k.type_key, "RuleValidationException");

	/* An unknown field: 400 with its own message. */
	json_t *v = json_string("x");
	struct acs_ado_field_value ev = { "Custom.DoesNotExist", v };
	struct acs_ado_fields unknown = { .extra = &ev, .n_extra = 1 };
	update_cap(&fx, wi->id, wi->rev, &unknown, wi, &k);
	json_decref(v);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_int_equal(k.res.status, 400);
	assert_true(strstr(k.msg, "TF51535") != NULL);

	/* Creating a type that does not exist. */
	memset(&k, 0, sizeof(k));
	struct acs_ado_fields f = { .title = "x" };
	assert_int_equal(acs_ado_create_work_item(fx.c, "Epic", &f, on_item, &k), 0);
	wait_cap(&fx, &k);
	assert_int_equal(k.res.cls, ACS_REST_PERMANENT);
	assert_true(k.res.status == 400 || k.res.status == 404);
	assert_true(k.msg[0] != '\0');

	/* Nothing was changed by the refused patches. */
	struct acs_ado_work_item *now = get_wi(&fx, wi->id);
	assert_int_equal(now->rev, wi->rev);
	assert_string_equal(now->state, "New");
	acs_ado_work_item_free(now);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

static void on_wi_close(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct fx *fx = arg;
	(void)res;
	acs_ado_work_item_free(wi);
	/* Closing from inside a completion callback is allowed. */
	acs_ado_client_close(fx->c, on_closed, &fx->closed);
}

static void test_close_cancels(void **state)
{
	(void)state;
	struct fx fx;
	fx_init(&fx);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Cancel me");
	/* A batch that needs two requests is cut short by close: canceled. */
	int64_t many[300];
	for (size_t i = 0; i < 300; i++)
		many[i] = wi->id;
	struct cap k1 = { 0 }, k2 = { 0 };
	assert_int_equal(acs_ado_get_work_items(fx.c, many, 300, NULL, 0, on_wis, &k1), 0);
	assert_int_equal(acs_ado_get_work_item(fx.c, wi->id, on_item, &k2), 0);
	int n = 0;
	acs_ado_client_close(fx.c, on_closed, &n);
	assert_int_equal(acs_ado_get_work_item(fx.c, wi->id, on_item, &k2), ACS_ECLOSED);
	acs_test_run_until(&fx.loop, &n, WAIT_MS);
	assert_true(k1.done && k2.done);
	assert_int_equal(k1.res.error, ACS_ECANCELED);
	assert_int_equal(k2.res.error, ACS_ECANCELED);
	assert_null(k1.payload);
	assert_null(k2.payload);

	/* Close from a callback. */
	fx.c = client_new(&fx, fx.w.pat, 0, 0);
	assert_int_equal(acs_ado_get_work_item(fx.c, wi->id, on_wi_close, &fx), 0);
	acs_test_run_until(&fx.loop, &fx.closed, WAIT_MS);
	fx.c = client_new(&fx, fx.w.pat, 0, 0);
	acs_ado_work_item_free(wi);
	fx_close(&fx);
}

/* Background reads (sweep, attachment scan, backfill) only spend what webhook-driven
 * work leaves: once the server's own figures say the budget is short, WIQL, the
 * batch read and the single read queued as background wait while the same calls
 * as interactive still go; closing the client then cancels them. */
static void test_background_yields(void **state)
{
	(void)state;
	struct fx fx;
	/* 10 TSTUs per 5 minutes: the simulator sends its figures once 2 are left. */
	fx_init_sim(&fx, NULL, 0, 0, 10);
	struct acs_ado_wiql_filter wf = { .project = fx.w.project };
	char *q = acs_ado_wiql_build(&wf);
	assert_non_null(q);
	struct acs_ado_work_item *wi = create_simple(&fx, "Task", "Swept");
	int64_t id = wi->id;
	acs_ado_work_item_free(wi);

	/* With the budget untouched, background runs like any call. */
	struct cap k = { 0 };
	assert_int_equal(acs_ado_wiql_cls(fx.c, ACS_GOVERNOR_BACKGROUND, q, 0, on_ids, &k), 0);
	wait_cap(&fx, &k);
	expect_ok(&k);
	assert_int_equal(k.n, 1);
	assert_int_equal(k.ids[0], id);
	free(k.ids);
	assert_int_equal(acs_ado_client_budget_left(fx.c), -1); /* no figure yet */

	/* Interactive reads until the server reports its figure (2 of 10 left). */
	for (int i = 0; i < 10 && acs_ado_client_budget_left(fx.c) < 0; i++) {
		memset(&k, 0, sizeof(k));
		assert_int_equal(acs_ado_wiql(fx.c, q, 0, on_ids, &k), 0);
		wait_cap(&fx, &k);
		expect_ok(&k);
		free(k.ids);
	}
	assert_int_equal(acs_ado_client_budget_left(fx.c), 2);
	struct acs_governor_stats st;
	acs_ado_client_stats(fx.c, &st);
	assert_int_equal(st.server_limit, 10);
	uint64_t denied = st.denied;

	/* Short budget: the background calls are held back... */
	struct cap bw = { 0 }, bb = { 0 }, bi = { 0 };
	assert_int_equal(acs_ado_wiql_cls(fx.c, ACS_GOVERNOR_BACKGROUND, q, 0, on_ids, &bw), 0);
	assert_int_equal(acs_ado_get_work_items_cls(fx.c, ACS_GOVERNOR_BACKGROUND, &id, 1, NULL, 0,
						    on_wis, &bb),
			 0);
	assert_int_equal(acs_ado_get_work_item_cls(fx.c, ACS_GOVERNOR_BACKGROUND, id, on_item, &bi),
			 0);
	/* ...while an interactive read queued after them goes first. */
	struct cap ki = { 0 };
	assert_int_equal(
		acs_ado_get_work_item_cls(fx.c, ACS_GOVERNOR_INTERACTIVE, id, on_item, &ki), 0);
	wait_cap(&fx, &ki);
	expect_ok(&ki);
	acs_ado_work_item_free(ki.payload);
	assert_int_equal(acs_ado_client_budget_left(fx.c), 1);
	assert_false(bw.done);
	assert_false(bb.done);
	assert_false(bi.done);
	assert_int_equal(acs_ado_client_pending(fx.c), 3);
	acs_ado_client_stats(fx.c, &st);
	assert_true(st.denied > denied);
	/* The simulator saw none of them. */
	assert_int_equal(requests_matching(&fx, "workitemsbatch", NULL), 0);

	/* Closing cancels the held-back calls. */
	int n = 0;
	acs_ado_client_close(fx.c, on_closed, &n);
	acs_test_run_until(&fx.loop, &n, WAIT_MS);
	struct cap *held[] = { &bw, &bb, &bi };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(held); i++) {
		assert_true(held[i]->done);
		assert_int_equal(held[i]->res.cls, ACS_REST_RETRYABLE);
		assert_int_equal(held[i]->res.error, ACS_ECANCELED);
		assert_null(held[i]->payload);
	}
	assert_null(bw.ids);
	fx.c = client_new(&fx, fx.w.pat, 0, 0); /* for fx_close */
	free(q);
	fx_close(&fx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_identity_and_tags),
		cmocka_unit_test(test_wiql_build),
		cmocka_unit_test(test_parse_examples),
		cmocka_unit_test(test_patch_build),
		cmocka_unit_test(test_client_args),
		cmocka_unit_test(test_work_item_crud),
		cmocka_unit_test(test_conflict),
		cmocka_unit_test(test_work_item_ops),
		cmocka_unit_test(test_batch_and_wiql),
		cmocka_unit_test(test_types_states_projects_areas),
		cmocka_unit_test(test_project_with_space),
		cmocka_unit_test(test_comments),
		cmocka_unit_test(test_attachments),
		cmocka_unit_test(test_subscriptions),
		cmocka_unit_test(test_fault_429_retried),
		cmocka_unit_test(test_fault_500),
		cmocka_unit_test(test_fault_drop),
		cmocka_unit_test(test_fault_timeout),
		cmocka_unit_test(test_fault_auth),
		cmocka_unit_test(test_fault_404_and_400),
		cmocka_unit_test(test_close_cancels),
		cmocka_unit_test(test_background_yields),
	};
	/* ACS_TEST_FILTER=test_conflict runs one test (cmocka's glob). */
	const char *filter = getenv("ACS_TEST_FILTER");
	if (filter)
		cmocka_set_test_filter(filter);
	if (getenv("ACS_TEST_DEBUG"))
		acs_log_set_level(ACS_LOG_DEBUG);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	acs_log_reset(); /* forget the PATs registered as secrets */
	return rc;
}
