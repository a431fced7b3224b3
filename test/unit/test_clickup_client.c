/* SPDX-License-Identifier: MIT */
/* Unit tests for clickup_client: the parsers against the API examples, and
 * every call against the ClickUp simulator running in-process on the test's
 * loop, including each error class through the simulator's fault injection. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "clickup_client.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "sim.h"
#include "sim_clickup.h"

#define WAIT_MS 20000 /* generous: valgrind runs the same tests */

#define FIELD_NUMBER "0f4b1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define FIELD_DROPDOWN "5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d"
#define FIELD_URL "9c8b7a6f-5e4d-4c3b-a2a1-0f9e8d7c6b5a"
#define OPTION_CONFLICT "b2c3d4e5-f6a7-4890-9bcd-ef0123456789"
#define USER_AVERY 54098740
#define USER_SAM 54098741
#define USER_RILEY 54098742

/* ------------------------------------------------------------------------ */
/* Environment: simulator + curl_loop + client on one loop                   */
/* ------------------------------------------------------------------------ */

struct env {
	uv_loop_t loop;
	struct sim *sim;
	struct sim_service *svc;
	struct acs_curl_loop *cl;
	struct acs_clickup_client *c;
	char *base_url, *token, *team_id, *space_id, *list_id;
	int client_closed, cl_closed, sim_closed;
};

static void set_flag(void *arg)
{
	*(int *)arg = 1;
}

static struct acs_clickup_client *client_new(struct env *e, const char *token, uint64_t timeout_ms,
					     unsigned attempts)
{
	char err[ACS_ERR_LEN] = "";
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_CLICKUP);
	/* Tests do not wait out real pacing or backoff: the simulator's own
	 * limit headers still steer the governor. */
	g.limit = 0;
	g.backoff_base_ms = 10;
	g.backoff_max_ms = 40;
	g.seed = 42;
	struct acs_clickup_client_opts o = {
		.base_url = e->base_url,
		.token = token,
		.governor = &g,
		.timeout_ms = timeout_ms,
		.max_attempts = attempts,
	};
	struct acs_clickup_client *c = acs_clickup_client_new(&e->loop, e->cl, &o, err);
	assert_non_null(c);
	return c;
}

static int setup(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	char err[ACS_ERR_LEN] = "";

	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_ERR);
	assert_int_equal(uv_loop_init(&e->loop), 0);
	e->sim = sim_new(&e->loop, NULL, err);
	assert_non_null(e->sim);
	/* A limit the tests never reach: 429s come only from injected faults. */
	struct sim_clickup *cu = sim_clickup_new(e->sim, 1000000, err);
	assert_non_null(cu);
	e->svc = sim_clickup_service(cu);
	assert_int_equal(sim_service_listen(e->svc, "127.0.0.1:0", err), 0);

	json_t *info = sim_info(e->sim);
	json_t *ci = json_object_get(info, "clickup");
	e->base_url = acs_xstrdup(json_string_value(json_object_get(ci, "base_url")));
	e->token = acs_xstrdup(json_string_value(json_object_get(ci, "token")));
	e->team_id = acs_xstrdup(json_string_value(json_object_get(ci, "team_id")));
	e->space_id = acs_xstrdup(json_string_value(json_object_get(ci, "space_id")));
	e->list_id =
		acs_xstrdup(json_string_value(json_array_get(json_object_get(ci, "list_ids"), 0)));
	json_decref(info);
	assert_string_equal(e->list_id, "901110236848");
	assert_string_equal(e->team_id, "36226098");

	e->cl = acs_curl_loop_new(&e->loop, err);
	assert_non_null(e->cl);
	e->c = client_new(e, e->token, 0, 3);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	if (e->c) {
		acs_clickup_client_close(e->c, set_flag, &e->client_closed);
		acs_test_run_until(&e->loop, &e->client_closed, WAIT_MS);
	}
	acs_curl_loop_close(e->cl, set_flag, &e->cl_closed);
	acs_test_run_until(&e->loop, &e->cl_closed, WAIT_MS);
	sim_close(e->sim, set_flag, &e->sim_closed);
	acs_test_run_until(&e->loop, &e->sim_closed, WAIT_MS);
	acs_test_loop_close(&e->loop);
	free(e->base_url);
	free(e->token);
	free(e->team_id);
	free(e->space_id);
	free(e->list_id);
	free(e);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Capturing a call's outcome                                                */
/* ------------------------------------------------------------------------ */

struct cap {
	int done;
	int calls;
	enum acs_rest_class cls;
	int error;
	long status;
	char message[ACS_ERR_LEN];
	char ecode[64];
	unsigned attempts;
	void *payload;
};

static void cap_store(struct cap *cap, const struct acs_clickup_result *res, void *payload)
{
	cap->calls++;
	cap->cls = res->cls;
	cap->error = res->error;
	cap->status = res->status;
	snprintf(cap->message, sizeof(cap->message), "%s", res->message);
	snprintf(cap->ecode, sizeof(cap->ecode), "%s", res->ecode);
	cap->attempts = res->attempts;
	cap->payload = payload;
	/* The contract: no payload unless the call succeeded. */
	if (res->cls != ACS_REST_OK)
		assert_null(payload);
	cap->done = 1;
}

static void cap_done(const struct acs_clickup_result *res, void *arg)
{
	cap_store(arg, res, NULL);
}

#define CAP_CB(fn, type)                                                         \
	static void fn(const struct acs_clickup_result *res, type *p, void *arg) \
	{                                                                        \
		cap_store(arg, res, p);                                          \
	}
CAP_CB(cap_task, struct acs_clickup_task)
CAP_CB(cap_page, struct acs_clickup_task_page)
CAP_CB(cap_comment, struct acs_clickup_comment)
CAP_CB(cap_comments, struct acs_clickup_comment_page)
CAP_CB(cap_attachment, struct acs_clickup_attachment)
CAP_CB(cap_blob, struct acs_clickup_blob)
CAP_CB(cap_webhook, struct acs_clickup_webhook)
CAP_CB(cap_webhooks, struct acs_clickup_webhooks)
CAP_CB(cap_list, struct acs_clickup_list)
CAP_CB(cap_lists, struct acs_clickup_lists)
CAP_CB(cap_spaces, struct acs_clickup_spaces)
CAP_CB(cap_folders, struct acs_clickup_folders)
CAP_CB(cap_teams, struct acs_clickup_teams)
CAP_CB(cap_members, struct acs_clickup_members)
#undef CAP_CB

static void await(struct env *e, struct cap *cap)
{
	acs_test_run_until(&e->loop, &cap->done, WAIT_MS);
	assert_int_equal(cap->calls, 1);
}

static void assert_ok(const struct cap *cap)
{
	if (cap->cls != ACS_REST_OK)
		fail_msg("call failed: %s status %ld error %d: %s", acs_rest_class_name(cap->cls),
			 cap->status, cap->error, cap->message);
	assert_int_equal(cap->error, 0);
	assert_string_equal(cap->message, "");
}

#define IA ACS_GOVERNOR_INTERACTIVE

/* Synchronous-looking wrappers for the common calls (they run the loop). */
static struct acs_clickup_task *get_task(struct env *e, const char *id)
{
	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_get_task(e->c, IA, id, cap_task, &cap), 0);
	await(e, &cap);
	assert_ok(&cap);
	return cap.payload;
}

static struct acs_clickup_task *create_task(struct env *e, const struct acs_clickup_task_new *t)
{
	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_create_task(e->c, IA, e->list_id, t, cap_task, &cap), 0);
	await(e, &cap);
	assert_ok(&cap);
	return cap.payload;
}

static struct acs_clickup_task *update_task(struct env *e, const char *id,
					    const struct acs_clickup_task_changes *ch)
{
	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_update_task(e->c, IA, id, ch, cap_task, &cap), 0);
	await(e, &cap);
	assert_ok(&cap);
	return cap.payload;
}

static char *new_task_id(struct env *e, const char *name)
{
	struct acs_clickup_task_new t = { .name = name };
	struct acs_clickup_task *task = create_task(e, &t);
	char *id = acs_xstrdup(task->id);
	acs_clickup_task_free(task);
	return id;
}

static const struct acs_clickup_custom_field *field(const struct acs_clickup_task *t,
						    const char *id)
{
	for (size_t i = 0; i < t->n_custom_fields; i++)
		if (!strcmp(t->custom_fields[i].id, id))
			return &t->custom_fields[i];
	fail_msg("custom field %s missing", id);
	return NULL;
}

static bool has_assignee(const struct acs_clickup_task *t, int64_t id)
{
	for (size_t i = 0; i < t->n_assignees; i++)
		if (t->assignees[i].id == id)
			return true;
	return false;
}

/* --- the simulator's control API, over HTTP like any client --- */

struct ctl {
	int done;
	long status;
	char *body;
};

static void ctl_cb(const struct acs_http_response *resp, void *arg)
{
	struct ctl *ctl = arg;
	ctl->status = resp->status;
	ctl->body = acs_xstrndup(resp->body, resp->body_len);
	ctl->done = 1;
}

static char *sim_ctl(struct env *e, const char *method, const char *path, const char *json)
{
	struct ctl ctl = { 0 };
	const char *headers[] = { "Content-Type: application/json", NULL };
	char *url = acs_xasprintf("%s%s", sim_service_origin(e->svc), path);
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = json,
		.body_len = json ? strlen(json) : 0,
	};
	assert_int_equal(acs_curl_loop_request(e->cl, &req, ctl_cb, &ctl, NULL), 0);
	free(url);
	acs_test_run_until(&e->loop, &ctl.done, WAIT_MS);
	assert_int_equal(ctl.status, 200);
	return ctl.body;
}

static void fault(struct env *e, const char *json)
{
	free(sim_ctl(e, "POST", "/_sim/faults", json));
}

/* Faults not consumed yet. */
static size_t faults_left(struct env *e)
{
	char *body = sim_ctl(e, "GET", "/_sim/faults", NULL);
	json_t *j = json_loads(body, 0, NULL);
	free(body);
	size_t n = json_array_size(json_object_get(j, "faults"));
	json_decref(j);
	return n;
}

/* ------------------------------------------------------------------------ */
/* Parsers against the API examples                                          */
/* ------------------------------------------------------------------------ */

static json_t *fixture(const char *name)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	/* meson test sets ACS_SOURCE_ROOT; by hand, run from the source root. */
	char *path = acs_xasprintf("%s/test/fixtures/clickup/%s", root ? root : ".", name);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", path, jerr.text);
	free(path);
	return j;
}

static void test_parse_task_example(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	json_t *j = fixture("clickup-task.json");
	struct acs_clickup_task *t = acs_clickup_task_parse(j, err);
	assert_non_null(t);
	assert_string_equal(t->id, "86b2x4k7q");
	assert_string_equal(t->custom_id, "ENG-142");
	assert_string_equal(t->name, "Sync ADO comments both ways");
	assert_true(t->description_is_markdown);
	assert_string_equal(t->description, "Comments posted in ClickUp must appear in **Azure "
					    "DevOps** and vice versa.\nKeep authorship.");
	assert_string_equal(t->text_content, "Comments posted in ClickUp must appear in Azure "
					     "DevOps and vice versa.\nKeep authorship.");
	assert_string_equal(t->status, "in progress");
	assert_string_equal(t->status_type, "custom");
	assert_int_equal(t->priority, 2);
	assert_int_equal(t->n_assignees, 2);
	assert_int_equal(t->assignees[0].id, USER_AVERY);
	assert_string_equal(t->assignees[0].username, "Avery Chen");
	assert_string_equal(t->assignees[0].email, "avery.chen@example.com");
	assert_int_equal(t->assignees[1].id, USER_SAM);
	assert_string_equal(t->assignees[1].email, "sam.ortiz@example.com");
	assert_int_equal(t->n_tags, 1);
	assert_string_equal(t->tags[0], "sync");
	assert_int_equal(t->due_date, 1769004000000LL);
	assert_int_equal(t->date_created, 1768305601234LL);
	assert_int_equal(t->date_updated, 1768306733610LL);
	assert_int_equal(t->date_closed, 0);
	assert_string_equal(t->list_id, "901110236848");
	assert_null(t->parent);
	assert_false(t->archived);
	assert_string_equal(t->url, "https://app.clickup.com/t/86b2x4k7q");
	assert_int_equal(t->n_custom_fields, 2);
	assert_string_equal(t->custom_fields[0].id, FIELD_NUMBER);
	assert_string_equal(t->custom_fields[0].name, "ADO Work Item");
	assert_string_equal(t->custom_fields[0].type, "number");
	assert_string_equal(json_string_value(t->custom_fields[0].value), "1042");
	assert_string_equal(t->custom_fields[1].type, "drop_down");
	assert_true(json_is_integer(t->custom_fields[1].value));
	assert_int_equal(json_integer_value(t->custom_fields[1].value), 0);
	assert_int_equal(t->n_attachments, 1);
	assert_string_equal(t->attachments[0].id, "6f1e2d3c-4b5a-4c6d-8e7f-901a2b3c4d5e.txt");
	assert_string_equal(t->attachments[0].title, "sync-log.txt");
	assert_string_equal(t->attachments[0].mimetype, "text/plain");
	assert_string_equal(t->attachments[0].extension, "txt");
	assert_int_equal(t->attachments[0].size, 2048);
	assert_int_equal(t->attachments[0].date, 1768306300000LL);
	assert_string_equal(t->attachments[0].url, "https://t36226098.p.clickup-attachments.com/"
						   "t36226098/"
						   "6f1e2d3c-4b5a-4c6d-8e7f-901a2b3c4d5e/"
						   "sync-log.txt");
	/* The custom field value outlives the task with its own reference. */
	json_t *keep = json_incref(t->custom_fields[0].value);
	acs_clickup_task_free(t);
	json_decref(j);
	assert_string_equal(json_string_value(keep), "1042");
	json_decref(keep);
}

/* The other readings of the unconfirmed types: numbers where the example
 * has strings, null priority, bare status string, no markdown. */
static void test_parse_task_variants(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	json_t *j = json_loads("{\"id\": 901234, \"name\": \"n\", \"description\": \"plain\","
			       " \"status\": \"to do\", \"priority\": null, \"due_date\": "
			       "1769004000000,"
			       " \"date_created\": 1768305601234, \"date_updated\": "
			       "\"1768306733610\","
			       " \"assignees\": [{\"id\": \"54098741\", \"username\": \"Sam\"}, "
			       "54098742],"
			       " \"tags\": [\"a\", {\"name\": \"b\"}], \"list\": {\"id\": "
			       "901110236848},"
			       " \"parent\": \"86b000001\", \"custom_fields\": [{\"id\": \"f\", "
			       "\"value\": null}],"
			       " \"attachments\": [{\"id\": \"x.txt\", \"size\": \"12\", \"date\": "
			       "\"5\"}]}",
			       0, NULL);
	assert_non_null(j);
	struct acs_clickup_task *t = acs_clickup_task_parse(j, err);
	assert_non_null(t);
	assert_string_equal(t->id, "901234");
	assert_null(t->custom_id);
	assert_false(t->description_is_markdown);
	assert_string_equal(t->description, "plain");
	assert_string_equal(t->status, "to do");
	assert_string_equal(t->status_type, "");
	assert_int_equal(t->priority, 0);
	assert_int_equal(t->due_date, 1769004000000LL);
	assert_int_equal(t->date_created, 1768305601234LL);
	assert_int_equal(t->date_updated, 1768306733610LL);
	assert_int_equal(t->n_assignees, 2);
	assert_int_equal(t->assignees[0].id, USER_SAM);
	assert_string_equal(t->assignees[0].email, "");
	assert_int_equal(t->assignees[1].id, USER_RILEY);
	assert_int_equal(t->n_tags, 2);
	assert_string_equal(t->tags[0], "a");
	assert_string_equal(t->tags[1], "b");
	assert_string_equal(t->list_id, "901110236848");
	assert_string_equal(t->parent, "86b000001");
	assert_int_equal(t->n_custom_fields, 1);
	assert_null(t->custom_fields[0].value);
	assert_int_equal(t->attachments[0].size, 12);
	assert_int_equal(t->attachments[0].date, 5);
	acs_clickup_task_free(t);
	json_decref(j);

	/* Priority in every shape. */
	const char *prios[][2] = { { "{\"id\":\"1\",\"priority\":\"urgent\"}", "1" },
				   { "{\"priority\":\"low\"}", "4" },
				   { "3", "3" },
				   { "\"2\"", "2" },
				   { "9", "0" },
				   { "null", "0" } };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(prios); i++) {
		json_t *p = json_loads(prios[i][0], JSON_DECODE_ANY, NULL);
		assert_int_equal(acs_clickup_parse_priority(p), prios[i][1][0] - '0');
		json_decref(p);
	}
	/* Timestamps: string, integer, real, null, junk. */
	json_t *ts =
		json_loads("[\"1768306733610\", 1768306733610, 1.5e12, null, \"x1\"]", 0, NULL);
	assert_int_equal(acs_clickup_parse_ms(json_array_get(ts, 0)), 1768306733610LL);
	assert_int_equal(acs_clickup_parse_ms(json_array_get(ts, 1)), 1768306733610LL);
	assert_int_equal(acs_clickup_parse_ms(json_array_get(ts, 2)), 1500000000000LL);
	assert_int_equal(acs_clickup_parse_ms(json_array_get(ts, 3)), 0);
	assert_int_equal(acs_clickup_parse_ms(json_array_get(ts, 4)), 0);
	json_decref(ts);

	/* Not a task. */
	json_t *bad = json_loads("{\"name\": \"no id\"}", 0, NULL);
	assert_null(acs_clickup_task_parse(bad, err));
	assert_string_not_equal(err, "");
	json_decref(bad);
}

static void test_parse_comments_and_webhook(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN] = "";
	json_t *j = fixture("clickup-comments.json");
	json_t *a = json_object_get(j, "comments");
	struct acs_clickup_comment *c0 = acs_clickup_comment_parse(json_array_get(a, 0), err);
	struct acs_clickup_comment *c1 = acs_clickup_comment_parse(json_array_get(a, 1), err);
	assert_non_null(c0);
	assert_non_null(c1);
	assert_string_equal(c0->id, "90110164070301");
	assert_string_equal(c0->text, "Looks good, closing the loop in ADO.");
	assert_int_equal(c0->user.id, USER_SAM);
	assert_string_equal(c0->user.username, "Sam Ortiz");
	assert_string_equal(c0->user.email, "sam.ortiz@example.com");
	assert_int_equal(c0->date, 1768307011452LL);
	assert_false(c0->resolved);
	assert_null(c0->hist_id);
	/* The trailing "\n" block ClickUp adds is not part of the text. */
	assert_string_equal(c1->text, "Mirrored from Azure DevOps #1042");
	assert_int_equal(c1->user.id, USER_AVERY);
	acs_clickup_comment_free(c0);
	acs_clickup_comment_free(c1);
	json_decref(j);

	/* id as a number (the real create answer), mentions, comment_text only. */
	j = json_loads("{\"id\": 90110164070264, \"date\": 1768306455902,"
		       " \"comment\": [{\"text\": \"ping \"}, {\"type\": \"tag\", \"user\":"
		       " {\"id\": 54098741, \"username\": \"Sam Ortiz\"}}, {\"text\": \"!\\n\","
		       " \"attributes\": {\"block-id\": \"b\"}}], \"resolved\": true}",
		       0, NULL);
	c0 = acs_clickup_comment_parse(j, err);
	assert_non_null(c0);
	assert_string_equal(c0->id, "90110164070264");
	assert_string_equal(c0->text, "ping @Sam Ortiz!");
	assert_int_equal(c0->date, 1768306455902LL);
	assert_true(c0->resolved);
	assert_int_equal(c0->user.id, 0);
	acs_clickup_comment_free(c0);
	json_decref(j);
	j = json_loads("{\"id\": \"7\", \"comment_text\": \"plain\\n\", \"date\": \"3\"}", 0, NULL);
	c0 = acs_clickup_comment_parse(j, err);
	assert_string_equal(c0->text, "plain");
	assert_int_equal(c0->date, 3);
	acs_clickup_comment_free(c0);
	json_decref(j);

	j = fixture("clickup-create-webhook-response.json");
	struct acs_clickup_webhook *w =
		acs_clickup_webhook_parse(json_object_get(j, "webhook"), err);
	assert_non_null(w);
	assert_string_equal(w->id, "3c1e9d2a-5b7f-4e21-9a0c-6d8f2b4e1a77");
	assert_string_equal(w->endpoint, "https://sync.example.com/hooks/clickup");
	assert_int_equal(w->n_events, 11);
	assert_string_equal(w->events[0], "taskCreated");
	assert_string_equal(w->events[10], "taskCommentUpdated");
	assert_string_equal(w->status, "active");
	assert_int_equal(w->fail_count, 0);
	assert_string_equal(w->secret, "K3Q9ZP1WX7M2TB5RN8VC4YD6HF0LJ2SA9QE3UK7PW1MZ5XT8RB4NV6CY2DH"
				       "0GF3J");
	assert_string_equal(w->team_id, "36226098");
	assert_string_equal(w->list_id, "901110236848");
	assert_null(w->folder_id);
	assert_null(w->space_id);
	assert_null(w->task_id);
	assert_int_equal(w->userid, USER_AVERY);
	acs_clickup_webhook_free(w);
	json_decref(j);
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */
/* ------------------------------------------------------------------------ */

static void test_task_create_get_update_delete(void **state)
{
	struct env *e = *state;
	const int64_t assignees[] = { USER_AVERY, USER_SAM };
	const char *tags[] = { "sync" };
	json_t *ado_id = json_integer(1042);
	struct acs_clickup_field_value cfs[] = { { FIELD_NUMBER, ado_id } };
	struct acs_clickup_task_new nt = {
		.name = "Sync ADO comments both ways",
		.markdown = "Comments must appear in **Azure DevOps**.",
		.status = "in progress",
		.priority = 3,
		.assignees = assignees,
		.n_assignees = 2,
		.tags = tags,
		.n_tags = 1,
		.due_date = 1769004000000LL,
		.custom_fields = cfs,
		.n_custom_fields = 1,
	};
	struct acs_clickup_task *t = create_task(e, &nt);
	json_decref(ado_id);
	char *id = acs_xstrdup(t->id);
	assert_true(strlen(id) > 3);
	assert_string_equal(t->name, "Sync ADO comments both ways");
	assert_string_equal(t->status, "in progress");
	assert_string_equal(t->status_type, "custom");
	assert_int_equal(t->priority, 3);
	assert_int_equal(t->n_assignees, 2);
	assert_true(has_assignee(t, USER_AVERY));
	assert_true(has_assignee(t, USER_SAM));
	assert_int_equal(t->n_tags, 1);
	assert_string_equal(t->tags[0], "sync");
	assert_int_equal(t->due_date, 1769004000000LL);
	assert_string_equal(t->list_id, e->list_id);
	char *url = acs_xasprintf("https://app.clickup.com/t/%s", id);
	assert_string_equal(t->url, url);
	free(url);
	assert_string_equal(json_string_value(field(t, FIELD_NUMBER)->value), "1042");
	assert_null(field(t, FIELD_DROPDOWN)->value);
	assert_true(t->date_created > 0);
	acs_clickup_task_free(t);

	/* GET asks for the markdown and prefers it. */
	t = get_task(e, id);
	assert_string_equal(t->id, id);
	assert_true(t->description_is_markdown);
	assert_string_equal(t->description, "Comments must appear in **Azure DevOps**.");
	assert_string_equal(t->text_content, "Comments must appear in Azure DevOps.");
	assert_int_equal(t->n_assignees, 2);
	for (size_t i = 0; i < t->n_assignees; i++) {
		if (t->assignees[i].id == USER_SAM) {
			assert_string_equal(t->assignees[i].username, "Sam Ortiz");
			assert_string_equal(t->assignees[i].email, "sam.ortiz@example.com");
		}
	}
	int64_t updated = t->date_updated;
	assert_true(updated >= t->date_created);
	acs_clickup_task_free(t);

	/* Each field on its own: the others stay as they were. */
	struct acs_clickup_task_changes ch = { .name = "Renamed" };
	t = update_task(e, id, &ch);
	assert_string_equal(t->name, "Renamed");
	assert_string_equal(t->status, "in progress");
	assert_int_equal(t->priority, 3);
	assert_int_equal(t->due_date, 1769004000000LL);
	assert_true(t->date_updated > updated);
	acs_clickup_task_free(t);

	ch = (struct acs_clickup_task_changes){ .markdown = "New *body*" };
	acs_clickup_task_free(update_task(e, id, &ch));
	t = get_task(e, id);
	assert_string_equal(t->description, "New *body*");
	assert_string_equal(t->name, "Renamed");
	acs_clickup_task_free(t);

	ch = (struct acs_clickup_task_changes){ .status = "complete" };
	t = update_task(e, id, &ch);
	assert_string_equal(t->status, "complete");
	assert_string_equal(t->status_type, "closed");
	acs_clickup_task_free(t);

	ch = (struct acs_clickup_task_changes){ .set_priority = true, .priority = 1 };
	t = update_task(e, id, &ch);
	assert_int_equal(t->priority, 1);
	acs_clickup_task_free(t);
	ch = (struct acs_clickup_task_changes){ .set_priority = true, .priority = 0 };
	t = update_task(e, id, &ch);
	assert_int_equal(t->priority, 0);
	acs_clickup_task_free(t);

	ch = (struct acs_clickup_task_changes){ .set_due_date = true, .due_date = 1770000000000LL };
	t = update_task(e, id, &ch);
	assert_int_equal(t->due_date, 1770000000000LL);
	acs_clickup_task_free(t);
	ch = (struct acs_clickup_task_changes){ .set_due_date = true, .due_date = 0 };
	t = update_task(e, id, &ch);
	assert_int_equal(t->due_date, 0);
	acs_clickup_task_free(t);

	const int64_t add[] = { USER_RILEY }, rem[] = { USER_AVERY };
	ch = (struct acs_clickup_task_changes){ .assignees_add = add,
						.n_assignees_add = 1,
						.assignees_rem = rem,
						.n_assignees_rem = 1 };
	t = update_task(e, id, &ch);
	assert_int_equal(t->n_assignees, 2);
	assert_true(has_assignee(t, USER_SAM));
	assert_true(has_assignee(t, USER_RILEY));
	assert_false(has_assignee(t, USER_AVERY));
	acs_clickup_task_free(t);

	/* An empty markdown clears the description. */
	ch = (struct acs_clickup_task_changes){ .markdown = "" };
	acs_clickup_task_free(update_task(e, id, &ch));
	t = get_task(e, id);
	assert_string_equal(t->description, "");
	assert_string_equal(t->name, "Renamed");
	assert_string_equal(t->status, "complete");
	acs_clickup_task_free(t);

	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_delete_task(e->c, IA, id, cap_done, &cap), 0);
	await(e, &cap);
	assert_ok(&cap);
	assert_int_equal(cap.status, 204);

	/* Gone: 404, permanent, ClickUp's text and code. */
	cap = (struct cap){ 0 };
	assert_int_equal(acs_clickup_get_task(e->c, IA, id, cap_task, &cap), 0);
	await(e, &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_ENOTFOUND);
	assert_int_equal(cap.status, 404);
	assert_string_equal(cap.message, "Task not found");
	assert_string_equal(cap.ecode, "ITEM_013");
	assert_int_equal(cap.attempts, 1);
	free(id);
}

struct json_cap {
	int done;
	enum acs_rest_class cls;
	long status;
	struct acs_clickup_task *task;
	json_t *json;
};

static void on_task_json(const struct acs_clickup_result *res, struct acs_clickup_task *t,
			 const json_t *json, void *arg)
{
	struct json_cap *c = arg;
	c->cls = res->cls;
	c->status = res->status;
	c->task = t;
	c->json = json ? json_deep_copy(json) : NULL;
	assert_true((res->cls == ACS_REST_OK) == (json != NULL));
	c->done = 1;
}

/* The _json variants send a ready body (the mapper's) and give the answer's JSON. */
static void test_task_json_calls(void **state)
{
	struct env *e = *state;
	json_t *body = json_pack("{s:s,s:s,s:i,s:[s]}", "name", "Json task", "markdown_content",
				 "Some **bold**", "priority", 2, "tags", "sync");
	struct json_cap c = { 0 };
	assert_int_equal(acs_clickup_create_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, e->list_id,
						      body, on_task_json, &c),
			 0);
	json_decref(body);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_OK);
	assert_string_equal(c.task->name, "Json task");
	assert_string_equal(json_string_value(json_object_get(c.json, "id")), c.task->id);
	char *id = acs_xstrdup(c.task->id);
	acs_clickup_task_free(c.task);
	json_decref(c.json);

	body = json_pack("{s:s}", "name", "Json renamed");
	memset(&c, 0, sizeof(c));
	assert_int_equal(acs_clickup_update_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, id, body,
						      on_task_json, &c),
			 0);
	json_decref(body);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_OK);
	assert_string_equal(c.task->name, "Json renamed");
	acs_clickup_task_free(c.task);
	json_decref(c.json);

	memset(&c, 0, sizeof(c));
	assert_int_equal(
		acs_clickup_get_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, id, on_task_json, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_OK);
	assert_string_equal(json_string_value(json_object_get(c.json, "markdown_description")),
			    "Some **bold**");
	assert_string_equal(json_string_value(json_object_get(c.json, "name")), "Json renamed");
	acs_clickup_task_free(c.task);
	json_decref(c.json);

	memset(&c, 0, sizeof(c));
	assert_int_equal(acs_clickup_get_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, "nope0000",
						   on_task_json, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_PERMANENT);
	assert_null(c.task);
	assert_null(c.json);

	json_t *empty = json_object();
	assert_int_equal(acs_clickup_update_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, id, empty,
						      on_task_json, &c),
			 -EINVAL);
	assert_int_equal(acs_clickup_create_task_json(e->c, ACS_GOVERNOR_INTERACTIVE, e->list_id,
						      empty, on_task_json, &c),
			 -EINVAL);
	json_decref(empty);
	free(id);
}

static void test_invalid_arguments(void **state)
{
	struct env *e = *state;
	struct cap cap = { 0 };
	struct acs_clickup_task_changes none = { 0 };
	struct acs_clickup_task_new noname = { .status = "to do" };
	const char *ev[] = { "taskCreated" };
	struct acs_clickup_webhook_new two = { .endpoint = "http://127.0.0.1:9/h",
					       .events = ev,
					       .n_events = 1,
					       .list_id = "1",
					       .folder_id = "2" };
	char bad_utf8[] = { 'a', (char)0xff, 0 };
	struct acs_clickup_task_changes badname = { .name = bad_utf8 };

	assert_int_equal(acs_clickup_update_task(e->c, IA, "x", &none, cap_task, &cap), -EINVAL);
	assert_int_equal(acs_clickup_update_task(e->c, IA, "x", &badname, cap_task, &cap), -EINVAL);
	assert_int_equal(acs_clickup_create_task(e->c, IA, e->list_id, &noname, cap_task, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_get_task(e->c, IA, "", cap_task, &cap), -EINVAL);
	assert_int_equal(acs_clickup_create_webhook(e->c, IA, e->team_id, &two, cap_webhook, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_list_comments(e->c, IA, "x", 5, NULL, cap_comments, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_upload_attachment(e->c, IA, "x", "a\r\nb", NULL, "x", 1,
						       cap_attachment, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_download(e->c, IA, "file:///etc/passwd", 0, cap_blob, &cap),
			 -EINVAL);
	/* The token never goes to a host that is not ClickUp's. */
	assert_int_equal(acs_clickup_download(e->c, IA, "https://evil.example/clickup.com/a", 0,
					      cap_blob, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_download(e->c, IA, "https://x.clickup.com@evil.example/a", 0,
					      cap_blob, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_download(e->c, IA, "http://t1.p.clickup-attachments.com/a", 0,
					      cap_blob, &cap),
			 -EINVAL);
	assert_int_equal(acs_clickup_client_pending(e->c), 0);
	assert_int_equal(cap.calls, 0);
}

/* ------------------------------------------------------------------------ */
/* Listing: paging, date_updated_gt, closed tasks, subtasks                   */
/* ------------------------------------------------------------------------ */

#define NTASKS 101

struct many {
	int done;
	int left;
	char *ids[NTASKS];
	int n;
};

static void many_cb(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg)
{
	struct many *m = arg;
	assert_int_equal(res->cls, ACS_REST_OK);
	m->ids[m->n++] = acs_xstrdup(t->id);
	acs_clickup_task_free(t);
	if (--m->left == 0)
		m->done = 1;
}

static struct acs_clickup_task_page *list_page(struct env *e,
					       const struct acs_clickup_task_query *q)
{
	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_list_tasks(e->c, IA, q, cap_page, &cap), 0);
	await(e, &cap);
	assert_ok(&cap);
	return cap.payload;
}

static bool in_page(const struct acs_clickup_task_page *p, const char *id)
{
	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->tasks[i].id, id))
			return true;
	return false;
}

static void test_list_tasks(void **state)
{
	struct env *e = *state;
	struct many m = { .left = NTASKS };

	/* All at once: the pipeline queues them behind the concurrency cap. */
	for (int i = 0; i < NTASKS; i++) {
		char name[32];
		snprintf(name, sizeof(name), "bulk %03d", i);
		struct acs_clickup_task_new nt = { .name = name };
		assert_int_equal(acs_clickup_create_task(e->c, ACS_GOVERNOR_BACKGROUND, e->list_id,
							 &nt, many_cb, &m),
				 0);
	}
	acs_test_run_until(&e->loop, &m.done, WAIT_MS);
	assert_int_equal(m.n, NTASKS);

	struct acs_clickup_task_query q = { .list_id = e->list_id };
	struct acs_clickup_task_page *p0 = list_page(e, &q);
	assert_int_equal(p0->n, 100);
	assert_false(p0->last_page);
	q.page = 1;
	struct acs_clickup_task_page *p1 = list_page(e, &q);
	assert_int_equal(p1->n, 1);
	assert_true(p1->last_page);
	int64_t newest = 0;
	for (int i = 0; i < NTASKS; i++) {
		assert_true(in_page(p0, m.ids[i]) != in_page(p1, m.ids[i]));
	}
	for (size_t i = 0; i < p0->n; i++) {
		newest = ACS_MAX(newest, p0->tasks[i].date_updated);
		assert_string_equal(p0->tasks[i].list_id, e->list_id);
		assert_true(p0->tasks[i].description_is_markdown);
	}
	newest = ACS_MAX(newest, p1->tasks[0].date_updated);
	acs_clickup_task_page_free(p0);
	acs_clickup_task_page_free(p1);

	/* Incremental: only what changed after the newest seen. */
	q = (struct acs_clickup_task_query){ .list_id = e->list_id, .date_updated_gt = newest };
	struct acs_clickup_task_page *p = list_page(e, &q);
	assert_int_equal(p->n, 0);
	assert_true(p->last_page);
	acs_clickup_task_page_free(p);

	struct acs_clickup_task_changes ch = { .name = "changed" };
	acs_clickup_task_free(update_task(e, m.ids[7], &ch));
	ch = (struct acs_clickup_task_changes){ .status = "complete" };
	acs_clickup_task_free(update_task(e, m.ids[8], &ch));
	struct acs_clickup_task_new sub = { .name = "a subtask", .parent = m.ids[9] };
	struct acs_clickup_task *st = create_task(e, &sub);
	char *sub_id = acs_xstrdup(st->id);
	assert_string_equal(st->parent, m.ids[9]);
	acs_clickup_task_free(st);

	p = list_page(e, &q); /* closed and subtasks hidden by default */
	assert_int_equal(p->n, 1);
	assert_string_equal(p->tasks[0].id, m.ids[7]);
	assert_string_equal(p->tasks[0].name, "changed");
	assert_true(p->tasks[0].date_updated > newest);
	acs_clickup_task_page_free(p);

	q.include_closed = true;
	p = list_page(e, &q);
	assert_int_equal(p->n, 2);
	/* Ordered by update, newest first. */
	assert_string_equal(p->tasks[0].id, m.ids[8]);
	assert_string_equal(p->tasks[0].status_type, "closed");
	assert_string_equal(p->tasks[1].id, m.ids[7]);
	acs_clickup_task_page_free(p);

	q.subtasks = true;
	p = list_page(e, &q);
	assert_int_equal(p->n, 3);
	assert_string_equal(p->tasks[0].id, sub_id);
	assert_string_equal(p->tasks[0].parent, m.ids[9]);
	acs_clickup_task_page_free(p);

	free(sub_id);
	for (int i = 0; i < NTASKS; i++)
		free(m.ids[i]);
}

/* ------------------------------------------------------------------------ */
/* Tags and custom fields                                                    */
/* ------------------------------------------------------------------------ */

static void done_call(struct env *e, int rc, struct cap *cap)
{
	assert_int_equal(rc, 0);
	await(e, cap);
}

static void test_tags_and_custom_fields(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "tagged");
	struct cap cap = { 0 };

	done_call(e, acs_clickup_add_tag(e->c, IA, id, "needs review", cap_done, &cap), &cap);
	assert_ok(&cap);
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_add_tag(e->c, IA, id, "sync", cap_done, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_task *t = get_task(e, id);
	assert_int_equal(t->n_tags, 2);
	assert_string_equal(t->tags[0], "needs review");
	assert_string_equal(t->tags[1], "sync");
	acs_clickup_task_free(t);
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_remove_tag(e->c, IA, id, "needs review", cap_done, &cap), &cap);
	assert_ok(&cap);
	t = get_task(e, id);
	assert_int_equal(t->n_tags, 1);
	assert_string_equal(t->tags[0], "sync");
	acs_clickup_task_free(t);

	/* Values go in as the field type wants and come back as ClickUp shows
	 * them: numbers as strings, drop-downs as the option's orderindex. */
	json_t *num = json_integer(77), *opt = json_string(OPTION_CONFLICT);
	json_t *url = json_string("https://dev.azure.com/contoso/Platform/_workitems/edit/1042");
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_set_custom_field(e->c, IA, id, FIELD_NUMBER, num, cap_done, &cap),
		  &cap);
	assert_ok(&cap);
	cap = (struct cap){ 0 };
	done_call(e,
		  acs_clickup_set_custom_field(e->c, IA, id, FIELD_DROPDOWN, opt, cap_done, &cap),
		  &cap);
	assert_ok(&cap);
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_set_custom_field(e->c, IA, id, FIELD_URL, url, cap_done, &cap),
		  &cap);
	assert_ok(&cap);
	t = get_task(e, id);
	assert_string_equal(json_string_value(field(t, FIELD_NUMBER)->value), "77");
	assert_int_equal(json_integer_value(field(t, FIELD_DROPDOWN)->value), 1);
	assert_string_equal(json_string_value(field(t, FIELD_URL)->value), "https://dev.azure.com/"
									   "contoso/Platform/"
									   "_workitems/edit/1042");
	assert_string_equal(field(t, FIELD_URL)->type, "url");
	acs_clickup_task_free(t);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_remove_custom_field(e->c, IA, id, FIELD_NUMBER, cap_done, &cap),
		  &cap);
	assert_ok(&cap);
	t = get_task(e, id);
	assert_null(field(t, FIELD_NUMBER)->value);
	assert_non_null(field(t, FIELD_DROPDOWN)->value);
	acs_clickup_task_free(t);

	/* A value the field does not take: permanent, with ClickUp's text. */
	json_t *bad = json_string("not a number");
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_set_custom_field(e->c, IA, id, FIELD_NUMBER, bad, cap_done, &cap),
		  &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.status, 400);
	assert_int_equal(cap.error, ACS_EHTTP);
	assert_string_equal(cap.message, "Value is not valid for this custom field");
	json_decref(bad);
	json_decref(num);
	json_decref(opt);
	json_decref(url);
	free(id);
}

/* ------------------------------------------------------------------------ */
/* Comments                                                                  */
/* ------------------------------------------------------------------------ */

static struct acs_clickup_comment_page *comments(struct env *e, const char *task_id, int64_t start,
						 const char *start_id)
{
	struct cap cap = { 0 };
	done_call(e,
		  acs_clickup_list_comments(e->c, IA, task_id, start, start_id, cap_comments, &cap),
		  &cap);
	assert_ok(&cap);
	return cap.payload;
}

static void test_comments_crud(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "discussed");
	struct cap cap = { 0 };

	done_call(e,
		  acs_clickup_create_comment(e->c, IA, id, "Mirrored from Azure DevOps #1042",
					     false, cap_comment, &cap),
		  &cap);
	assert_ok(&cap);
	struct acs_clickup_comment *c = cap.payload;
	/* The simulator answers the id as a JSON number, as a real capture did. */
	assert_true(strlen(c->id) > 0);
	assert_true(strspn(c->id, "0123456789") == strlen(c->id));
	assert_string_equal(c->text, "Mirrored from Azure DevOps #1042");
	assert_non_null(c->hist_id);
	assert_true(c->date > 0);
	char *cid = acs_xstrdup(c->id);
	int64_t cdate = c->date;
	acs_clickup_comment_free(c);

	struct acs_clickup_comment_page *p = comments(e, id, 0, NULL);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->comments[0].id, cid);
	assert_string_equal(p->comments[0].text, "Mirrored from Azure DevOps #1042");
	assert_int_equal(p->comments[0].user.id, USER_AVERY);
	assert_string_equal(p->comments[0].user.email, "avery.chen@example.com");
	assert_int_equal(p->comments[0].date, cdate);
	assert_false(p->comments[0].resolved);
	acs_clickup_comment_page_free(p);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_update_comment(e->c, IA, cid, "Edited text", true, cap_done, &cap),
		  &cap);
	assert_ok(&cap);
	p = comments(e, id, 0, NULL);
	assert_int_equal(p->n, 1);
	assert_string_equal(p->comments[0].text, "Edited text");
	assert_true(p->comments[0].resolved);
	acs_clickup_comment_page_free(p);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_delete_comment(e->c, IA, cid, cap_done, &cap), &cap);
	assert_ok(&cap);
	p = comments(e, id, 0, NULL);
	assert_int_equal(p->n, 0);
	acs_clickup_comment_page_free(p);

	/* Paging: 27 comments are 25 + 2 with the (start, start_id) cursor. */
	for (int i = 0; i < 27; i++) {
		char text[32];
		snprintf(text, sizeof(text), "comment %02d", i);
		cap = (struct cap){ 0 };
		done_call(e,
			  acs_clickup_create_comment(e->c, IA, id, text, false, cap_comment, &cap),
			  &cap);
		assert_ok(&cap);
		acs_clickup_comment_free(cap.payload);
	}
	p = comments(e, id, 0, NULL);
	assert_int_equal(p->n, 25);
	assert_string_equal(p->comments[0].text, "comment 26"); /* newest first */
	assert_string_equal(p->comments[24].text, "comment 02");
	struct acs_clickup_comment_page *p2 =
		comments(e, id, p->comments[24].date, p->comments[24].id);
	assert_int_equal(p2->n, 2);
	assert_string_equal(p2->comments[0].text, "comment 01");
	assert_string_equal(p2->comments[1].text, "comment 00");
	acs_clickup_comment_page_free(p);
	acs_clickup_comment_page_free(p2);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_delete_comment(e->c, IA, "999999999", cap_done, &cap), &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_ENOTFOUND);
	free(cid);
	free(id);
}

/* ------------------------------------------------------------------------ */
/* Attachments                                                               */
/* ------------------------------------------------------------------------ */

static void test_attachment_upload_download(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "with a file");
	size_t len = 70000;
	unsigned char *data = acs_xmalloc(len);
	/* Every byte value, CRLFs and things that look like a boundary. */
	for (size_t i = 0; i < len; i++)
		data[i] = (unsigned char)((i * 7919u) >> 3);
	memcpy(data + 1000, "\r\n--acs-\r\n\r\n--", 15);

	struct cap cap = { 0 };
	done_call(e,
		  acs_clickup_upload_attachment(e->c, IA, id, "sync log.bin",
						"application/x-acs-test", data, len, cap_attachment,
						&cap),
		  &cap);
	assert_ok(&cap);
	struct acs_clickup_attachment *a = cap.payload;
	size_t idlen = strlen(a->id);
	assert_true(idlen > 4);
	assert_string_equal(a->id + idlen - 4, ".bin");
	assert_string_equal(a->title, "sync log.bin");
	assert_string_equal(a->extension, "bin");
	assert_true(a->date > 0);
	assert_true(strncmp(a->url, sim_service_origin(e->svc),
			    strlen(sim_service_origin(e->svc))) == 0);
	char *att_id = acs_xstrdup(a->id);
	char *url = acs_xstrdup(a->url);
	acs_clickup_attachment_free(a);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_download(e->c, IA, url, 0, cap_blob, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_blob *b = cap.payload;
	assert_int_equal(b->len, len);
	assert_memory_equal(b->data, data, len);
	assert_string_equal(b->content_type, "application/x-acs-test");
	acs_clickup_blob_free(b);

	/* The task now lists it, with size and type. */
	struct acs_clickup_task *t = get_task(e, id);
	assert_int_equal(t->n_attachments, 1);
	assert_string_equal(t->attachments[0].id, att_id);
	assert_string_equal(t->attachments[0].title, "sync log.bin");
	assert_string_equal(t->attachments[0].mimetype, "application/x-acs-test");
	assert_int_equal(t->attachments[0].size, (int64_t)len);
	assert_string_equal(t->attachments[0].url, url);
	acs_clickup_task_free(t);

	/* A download that exceeds the caller's ceiling is permanent. */
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_download(e->c, IA, url, 1024, cap_blob, &cap), &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_ETOOBIG);

	free(att_id);
	free(url);
	free(data);
	free(id);
}

/* ------------------------------------------------------------------------ */
/* Hierarchy                                                                 */
/* ------------------------------------------------------------------------ */

static void assert_user(const struct acs_clickup_user *v, size_t n, int64_t id, const char *name,
			const char *email)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].id == id) {
			assert_string_equal(v[i].username, name);
			assert_string_equal(v[i].email, email);
			return;
		}
	}
	fail_msg("user %" PRId64 " missing", id);
}

static void test_hierarchy(void **state)
{
	struct env *e = *state;
	struct cap cap = { 0 };

	done_call(e, acs_clickup_get_teams(e->c, IA, cap_teams, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_teams *teams = cap.payload;
	assert_int_equal(teams->n, 1);
	assert_string_equal(teams->v[0].id, "36226098");
	assert_string_equal(teams->v[0].name, "Contoso");
	assert_int_equal(teams->v[0].n_members, 3);
	assert_user(teams->v[0].members, 3, USER_AVERY, "Avery Chen", "avery.chen@example.com");
	assert_user(teams->v[0].members, 3, USER_RILEY, "Riley Park", "riley.park@example.com");
	acs_clickup_teams_free(teams);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_spaces(e->c, IA, e->team_id, cap_spaces, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_spaces *spaces = cap.payload;
	assert_int_equal(spaces->n, 1);
	assert_string_equal(spaces->v[0].id, "90110993233");
	assert_string_equal(spaces->v[0].name, "Engineering");
	assert_int_equal(spaces->v[0].n_statuses, 4);
	assert_string_equal(spaces->v[0].statuses[3].name, "complete");
	assert_string_equal(spaces->v[0].statuses[3].type, "closed");
	acs_clickup_spaces_free(spaces);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_folders(e->c, IA, e->space_id, cap_folders, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_folders *folders = cap.payload;
	assert_int_equal(folders->n, 1);
	assert_string_equal(folders->v[0].id, "90114567890");
	assert_string_equal(folders->v[0].name, "Platform");
	assert_string_equal(folders->v[0].space_id, "90110993233");
	acs_clickup_folders_free(folders);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_lists(e->c, IA, "90114567890", cap_lists, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_lists *lists = cap.payload;
	assert_int_equal(lists->n, 1);
	assert_string_equal(lists->v[0].id, "901110236848");
	assert_string_equal(lists->v[0].name, "Integrations");
	assert_string_equal(lists->v[0].folder_id, "90114567890");
	assert_string_equal(lists->v[0].space_id, "90110993233");
	acs_clickup_lists_free(lists);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_folderless_lists(e->c, IA, e->space_id, cap_lists, &cap),
		  &cap);
	assert_ok(&cap);
	lists = cap.payload;
	assert_int_equal(lists->n, 0);
	acs_clickup_lists_free(lists);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_list(e->c, IA, e->list_id, cap_list, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_list *l = cap.payload;
	assert_string_equal(l->id, "901110236848");
	assert_string_equal(l->name, "Integrations");
	assert_int_equal(l->n_statuses, 4);
	const char *names[] = { "to do", "in progress", "review", "complete" };
	const char *types[] = { "open", "custom", "custom", "closed" };
	for (size_t i = 0; i < 4; i++) {
		assert_string_equal(l->statuses[i].name, names[i]);
		assert_string_equal(l->statuses[i].type, types[i]);
		assert_int_equal(l->statuses[i].orderindex, (int64_t)i);
	}
	assert_string_equal(l->statuses[0].color, "#87909e");
	acs_clickup_list_free(l);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_list_members(e->c, IA, e->list_id, cap_members, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_members *mem = cap.payload;
	assert_int_equal(mem->n, 3);
	assert_user(mem->v, mem->n, USER_SAM, "Sam Ortiz", "sam.ortiz@example.com");
	acs_clickup_members_free(mem);

	/* Another workspace: ClickUp answers 401 OAUTH_027 (auth, permanent). */
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_spaces(e->c, IA, "1", cap_spaces, &cap), &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_EAUTH);
	assert_string_equal(cap.message, "Team not authorized");
	assert_string_equal(cap.ecode, "OAUTH_027");
}

/* ------------------------------------------------------------------------ */
/* Webhooks                                                                  */
/* ------------------------------------------------------------------------ */

static void test_webhooks_crud(void **state)
{
	struct env *e = *state;
	const char *events[] = { "taskCreated", "taskUpdated", "taskCommentPosted" };
	struct acs_clickup_webhook_new nw = { .endpoint = "http://127.0.0.1:9/hooks/clickup",
					      .events = events,
					      .n_events = 3,
					      .list_id = e->list_id };
	struct cap cap = { 0 };

	done_call(e, acs_clickup_create_webhook(e->c, IA, e->team_id, &nw, cap_webhook, &cap),
		  &cap);
	assert_ok(&cap);
	struct acs_clickup_webhook *w = cap.payload;
	assert_int_equal(strlen(w->id), 36);
	assert_string_equal(w->endpoint, "http://127.0.0.1:9/hooks/clickup");
	assert_int_equal(w->n_events, 3);
	assert_string_equal(w->events[2], "taskCommentPosted");
	assert_string_equal(w->list_id, e->list_id);
	assert_null(w->space_id);
	assert_null(w->task_id);
	assert_string_equal(w->status, "active");
	assert_int_equal(w->fail_count, 0);
	assert_non_null(w->secret);
	assert_int_equal(strlen(w->secret), 64);
	assert_string_equal(w->team_id, e->team_id);
	assert_int_equal(w->userid, USER_AVERY);
	char *wid = acs_xstrdup(w->id);
	char *secret = acs_xstrdup(w->secret);
	acs_clickup_webhook_free(w);

	/* The same configuration again: ClickUp's OAUTH_171. */
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_create_webhook(e->c, IA, e->team_id, &nw, cap_webhook, &cap),
		  &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.status, 400);
	assert_string_equal(cap.ecode, "OAUTH_171");
	assert_string_equal(cap.message, "Webhook configuration already exists");

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_webhooks(e->c, IA, e->team_id, cap_webhooks, &cap), &cap);
	assert_ok(&cap);
	struct acs_clickup_webhooks *ws = cap.payload;
	assert_int_equal(ws->n, 1);
	assert_string_equal(ws->v[0].id, wid);
	assert_string_equal(ws->v[0].secret, secret);
	assert_string_equal(ws->v[0].status, "active");
	acs_clickup_webhooks_free(ws);

	struct acs_clickup_webhook_changes wc = { .endpoint = "http://127.0.0.1:9/hooks/v2" };
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_update_webhook(e->c, IA, wid, &wc, cap_webhook, &cap), &cap);
	assert_ok(&cap);
	w = cap.payload;
	assert_string_equal(w->id, wid);
	assert_string_equal(w->endpoint, "http://127.0.0.1:9/hooks/v2");
	assert_int_equal(w->n_events, 1);
	assert_string_equal(w->events[0], "*");
	assert_string_equal(w->status, "active");
	acs_clickup_webhook_free(w);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_delete_webhook(e->c, IA, wid, cap_done, &cap), &cap);
	assert_ok(&cap);
	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_get_webhooks(e->c, IA, e->team_id, cap_webhooks, &cap), &cap);
	assert_ok(&cap);
	ws = cap.payload;
	assert_int_equal(ws->n, 0);
	acs_clickup_webhooks_free(ws);

	cap = (struct cap){ 0 };
	done_call(e, acs_clickup_delete_webhook(e->c, IA, wid, cap_done, &cap), &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_ENOTFOUND);
	free(wid);
	free(secret);
}

/* ------------------------------------------------------------------------ */
/* Error classes through fault injection                                     */
/* ------------------------------------------------------------------------ */

static struct cap get_task_cap(struct env *e, struct acs_clickup_client *c, const char *id)
{
	struct cap cap = { 0 };
	assert_int_equal(acs_clickup_get_task(c, IA, id, cap_task, &cap), 0);
	await(e, &cap);
	return cap;
}

static void client_close_wait(struct env *e, struct acs_clickup_client *c)
{
	int closed = 0;
	acs_clickup_client_close(c, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
}

static void test_fault_429(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "throttled");
	/* Fresh clients: the injected 429 carries no X-RateLimit-Reset, and a
	 * governor that already saw this minute's Reset (from earlier answers)
	 * rightly waits for it after a 429, which would be up to a minute. */
	struct acs_clickup_client *c = client_new(e, e->token, 0, 3);
	char *f = acs_xasprintf("{\"path\": \"/task/%s\", \"method\": \"GET\", \"status\": 429,"
				" \"retry_after\": 1, \"count\": 1}",
				id);
	fault(e, f);
	free(f);
	/* Retried transparently after Retry-After. */
	uint64_t t0 = uv_now(&e->loop);
	struct cap cap = get_task_cap(e, c, id);
	assert_ok(&cap);
	assert_int_equal(cap.attempts, 2);
	assert_true(uv_now(&e->loop) - t0 >= 900);
	assert_string_equal(((struct acs_clickup_task *)cap.payload)->name, "throttled");
	acs_clickup_task_free(cap.payload);
	struct acs_governor_stats st;
	acs_clickup_client_stats(c, &st);
	assert_int_equal(st.throttled, 1);
	assert_int_equal(st.requests, 2);
	assert_int_equal(st.in_flight, 0);
	assert_true(acs_clickup_client_budget_left(c) > 0);
	client_close_wait(e, c);

	/* Every attempt throttled: RETRYABLE with ClickUp's text and code. */
	c = client_new(e, e->token, 0, 3);
	f = acs_xasprintf("{\"path\": \"/task/%s\", \"status\": 429, \"retry_after\": 0,"
			  " \"count\": 3}",
			  id);
	fault(e, f);
	free(f);
	cap = get_task_cap(e, c, id);
	assert_int_equal(cap.cls, ACS_REST_RETRYABLE);
	assert_int_equal(cap.error, ACS_ERATELIMIT);
	assert_int_equal(cap.status, 429);
	assert_int_equal(cap.attempts, 3);
	assert_string_equal(cap.message, "Rate limit reached");
	assert_string_equal(cap.ecode, "APP_002");
	assert_int_equal(faults_left(e), 0);
	client_close_wait(e, c);
	free(id);
}

static void test_fault_500(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "flaky");
	char *f = acs_xasprintf("{\"path\": \"/task/%s\", \"status\": 500, \"count\": 2}", id);
	fault(e, f);
	free(f);
	struct cap cap = get_task_cap(e, e->c, id);
	assert_ok(&cap);
	assert_int_equal(cap.attempts, 3);
	assert_string_equal(((struct acs_clickup_task *)cap.payload)->id, id);
	acs_clickup_task_free(cap.payload);

	f = acs_xasprintf("{\"path\": \"/task/%s\", \"status\": 503, \"count\": 3}", id);
	fault(e, f);
	free(f);
	cap = get_task_cap(e, e->c, id);
	assert_int_equal(cap.cls, ACS_REST_RETRYABLE);
	assert_int_equal(cap.error, ACS_EHTTP);
	assert_int_equal(cap.status, 503);
	assert_int_equal(cap.attempts, 3);
	assert_string_equal(cap.message, "Service Unavailable");
	assert_string_equal(cap.ecode, "SIM_FAULT");
	free(id);
}

static void test_fault_drop(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "dropped");
	char *f = acs_xasprintf("{\"path\": \"/task/%s\", \"drop\": true, \"count\": 1}", id);
	fault(e, f);
	free(f);
	/* Recovered (libcurl itself may retry a dead reused connection once,
	 * so the attempt count is not asserted). */
	struct cap cap = get_task_cap(e, e->c, id);
	assert_ok(&cap);
	assert_string_equal(((struct acs_clickup_task *)cap.payload)->name, "dropped");
	acs_clickup_task_free(cap.payload);
	assert_int_equal(faults_left(e), 0);

	f = acs_xasprintf("{\"path\": \"/task/%s\", \"drop\": true, \"count\": 100}", id);
	fault(e, f);
	free(f);
	cap = get_task_cap(e, e->c, id);
	assert_int_equal(cap.cls, ACS_REST_RETRYABLE);
	assert_int_equal(cap.error, ACS_ETRANSPORT);
	assert_int_equal(cap.status, 0);
	assert_int_equal(cap.attempts, 3);
	assert_string_not_equal(cap.message, "");
	assert_string_equal(cap.ecode, "");
	free(sim_ctl(e, "DELETE", "/_sim/faults", NULL));
	free(id);
}

static void test_fault_timeout(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "slow");
	struct acs_clickup_client *slow = client_new(e, e->token, 200, 2);
	char *f = acs_xasprintf("{\"path\": \"/task/%s\", \"delay_ms\": 1500, \"count\": 2}", id);
	fault(e, f);
	free(f);
	struct cap cap = get_task_cap(e, slow, id);
	assert_int_equal(cap.cls, ACS_REST_RETRYABLE);
	assert_int_equal(cap.error, ACS_ETIMEOUT);
	assert_int_equal(cap.status, 0);
	assert_int_equal(cap.attempts, 2);
	client_close_wait(e, slow);
	free(id);
}

static void test_fault_wrong_token(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "private");
	struct acs_clickup_client *bad = client_new(e, "pk_0_WRONGTOKEN", 0, 3);
	struct cap cap = get_task_cap(e, bad, id);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_EAUTH);
	assert_int_equal(cap.status, 401);
	assert_int_equal(cap.attempts, 1);
	assert_string_equal(cap.message, "Token invalid");
	assert_string_equal(cap.ecode, "OAUTH_025");
	client_close_wait(e, bad);
	free(id);
}

static void test_fault_invalid_status(void **state)
{
	struct env *e = *state;
	char *id = new_task_id(e, "strict");
	struct acs_clickup_task_changes ch = { .status = "no such status" };
	struct cap cap = { 0 };
	done_call(e, acs_clickup_update_task(e->c, IA, id, &ch, cap_task, &cap), &cap);
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_EHTTP);
	assert_int_equal(cap.status, 400);
	assert_int_equal(cap.attempts, 1);
	assert_string_equal(cap.message, "Status does not exist");
	assert_string_equal(cap.ecode, "SIM_STATUS");
	/* Nothing changed. */
	struct acs_clickup_task *t = get_task(e, id);
	assert_string_equal(t->status, "to do");
	acs_clickup_task_free(t);

	/* Not found through ClickUp's other status for it (401 + ITEM_013
	 * appears in real fixtures): still ENOTFOUND by the code. */
	cap = get_task_cap(e, e->c, "86bnothere");
	assert_int_equal(cap.cls, ACS_REST_PERMANENT);
	assert_int_equal(cap.error, ACS_ENOTFOUND);
	assert_string_equal(cap.message, "Task not found");
	free(id);
}

/* Closing with calls in flight: each gets ECANCELED, then the close callback. */
struct close_order {
	int canceled;
	int closed;
	int closed_after;
};

static void cancel_cb(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg)
{
	struct close_order *o = arg;
	assert_null(t);
	assert_int_equal(res->cls, ACS_REST_RETRYABLE);
	assert_int_equal(res->error, ACS_ECANCELED);
	assert_false(o->closed);
	o->canceled++;
}

static void close_order_cb(void *arg)
{
	struct close_order *o = arg;
	o->closed = 1;
	o->closed_after = o->canceled;
}

static void test_close_cancels(void **state)
{
	struct env *e = *state;
	struct close_order o = { 0 };
	assert_int_equal(acs_clickup_get_task(e->c, IA, "a", cancel_cb, &o), 0);
	assert_int_equal(acs_clickup_get_task(e->c, IA, "b", cancel_cb, &o), 0);
	assert_int_equal(acs_clickup_client_pending(e->c), 2);
	acs_clickup_client_close(e->c, close_order_cb, &o);
	acs_clickup_client_close(e->c, close_order_cb, &o); /* idempotent */
	e->c = NULL;
	acs_test_run_until(&e->loop, &o.closed, WAIT_MS);
	assert_int_equal(o.canceled, 2);
	assert_int_equal(o.closed_after, 2);
}

static void test_client_new_errors(void **state)
{
	struct env *e = *state;
	char err[ACS_ERR_LEN] = "";
	struct acs_clickup_client_opts o = { .base_url = e->base_url };
	assert_null(acs_clickup_client_new(&e->loop, e->cl, &o, err));
	assert_string_not_equal(err, "");
	o.token = "pk_1\r\nX-Evil: 1";
	assert_null(acs_clickup_client_new(&e->loop, e->cl, &o, err));
	o = (struct acs_clickup_client_opts){ .token = "pk_1" };
	assert_null(acs_clickup_client_new(&e->loop, e->cl, &o, err));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_task_example),
		cmocka_unit_test(test_parse_task_variants),
		cmocka_unit_test(test_parse_comments_and_webhook),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_task_create_get_update_delete),
		T(test_invalid_arguments),
		T(test_task_json_calls),
		T(test_list_tasks),
		T(test_tags_and_custom_fields),
		T(test_comments_crud),
		T(test_attachment_upload_download),
		T(test_hierarchy),
		T(test_webhooks_crud),
		T(test_fault_429),
		T(test_fault_500),
		T(test_fault_drop),
		T(test_fault_timeout),
		T(test_fault_wrong_token),
		T(test_fault_invalid_status),
		T(test_close_cancels),
		T(test_client_new_errors),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
