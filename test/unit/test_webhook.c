/* SPDX-License-Identifier: MIT */
/* Unit tests of lib/webhook: ADO Basic/header-secret checks, ClickUp signature
 * vectors, and the normalisation of every example delivery (ids, types, revs,
 * changed fields, times, actors, idempotency keys), plus malformed input. */
#include <ctype.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "common.h"
#include "err.h"
#include "mem.h"
#include "webhook.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                   */
/* ------------------------------------------------------------------------ */

static char *read_fixture(const char *dir, const char *name, size_t *len)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	char *path = acs_xasprintf("%s/test/fixtures/%s/%s", root ? root : "..", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct acs_buf b;
	acs_buf_init(&b, 16u << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(acs_buf_append(&b, chunk, n), 0);
	fclose(f);
	free(path);
	return acs_buf_steal(&b, len);
}

static json_t *load_fixture(const char *dir, const char *name)
{
	size_t len;
	char *text = read_fixture(dir, name, &len);
	json_t *j = json_loadb(text, len, 0, NULL);
	assert_non_null(j);
	free(text);
	return j;
}

/* Serialise j (stolen) and parse it with the ADO or ClickUp parser. */
static int parse_json(bool ado, json_t *j, struct acs_webhook_event *ev, char *err)
{
	char *text = json_dumps(j, JSON_COMPACT);
	assert_non_null(text);
	json_decref(j);
	int rc = ado ? acs_webhook_parse_ado(text, strlen(text), ev, err)
		     : acs_webhook_parse_clickup(text, strlen(text), ev, err);
	free(text);
	return rc;
}

static int parse_str(bool ado, const char *text, struct acs_webhook_event *ev)
{
	char err[ACS_ERR_LEN] = "";
	int rc = ado ? acs_webhook_parse_ado(text, strlen(text), ev, err)
		     : acs_webhook_parse_clickup(text, strlen(text), ev, err);
	if (rc)
		assert_true(err[0] != '\0'); /* every failure explains itself */
	return rc;
}

static int parse_fixture(bool ado, const char *name, struct acs_webhook_event *ev)
{
	size_t len;
	char *text = read_fixture(ado ? "ado" : "clickup", name, &len);
	char err[ACS_ERR_LEN] = "";
	int rc = ado ? acs_webhook_parse_ado(text, len, ev, err)
		     : acs_webhook_parse_clickup(text, len, ev, err);
	if (rc)
		fail_msg("%s: %s (%d)", name, err, rc);
	free(text);
	return rc;
}

static void assert_fields(const struct acs_webhook_event *ev, const char *const *want, size_t n)
{
	assert_int_equal(ev->n_changed_fields, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(ev->changed_fields[i], want[i]);
	assert_false(ev->changed_fields_truncated);
}

/* Parse the body an ADO fixture gives after edit() changed it; returns rc. */
static int ado_variant(const char *name, void (*edit)(json_t *root), struct acs_webhook_event *ev)
{
	json_t *j = load_fixture("ado", name);
	edit(j);
	char err[ACS_ERR_LEN] = "";
	return parse_json(true, j, ev, err);
}

#define AVERY_EMAIL "avery.chen@contoso.com"
#define PROJECT_ID "5c1d2f7a-8b3e-4d6f-9a21-0e7b4c9d3f58"

/* ------------------------------------------------------------------------ */
/* ADO normalisation                                                         */
/* ------------------------------------------------------------------------ */

static void test_ado_created(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-created.json", &ev), 0);
	assert_int_equal(ev.source, ACS_WEBHOOK_SOURCE_ADO);
	assert_int_equal(ev.type, ACS_WEBHOOK_CREATED);
	assert_string_equal(ev.event_name, "workitem.created");
	assert_string_equal(ev.item_id, "1042");
	assert_int_equal(ev.ado_id, 1042);
	assert_int_equal(ev.ado_rev, 1);
	assert_string_equal(ev.ado_project, "Contoso Web");
	assert_string_equal(ev.ado_project_id, PROJECT_ID);
	assert_string_equal(ev.ado_area_path, "Contoso Web\\Integrations");
	assert_string_equal(ev.ado_work_item_type, "Issue");
	assert_string_equal(ev.ado_subscription_id, "6a0f3c2e-1b4d-4e5f-9a8b-7c6d5e4f3a21");
	assert_int_equal(ev.changed_at_ms, 1768305601234LL);
	assert_string_equal(ev.actor_name, "Avery Chen");
	assert_string_equal(ev.actor_email, AVERY_EMAIL);
	assert_null(ev.actor_id);
	assert_int_equal(ev.n_changed_fields, 0);
	assert_null(ev.comment_id);
	assert_null(ev.comment_text);
	assert_null(ev.clickup_webhook_id);
	assert_int_equal(ev.n_clickup_history_ids, 0);
	assert_string_equal(ev.event_key, "ado:1042:1:workitem.created");
	acs_webhook_event_deinit(&ev);
	acs_webhook_event_deinit(&ev); /* idempotent */
	acs_webhook_event_deinit(NULL);
}

static void test_ado_updated(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-updated.json", &ev), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_UPDATED);
	assert_string_equal(ev.event_name, "workitem.updated");
	/* resource.id is 3 (the update number): never the item id. */
	assert_int_equal(ev.ado_id, 1042);
	assert_string_equal(ev.item_id, "1042");
	assert_int_equal(ev.ado_rev, 3);
	assert_string_equal(ev.ado_project, "Contoso Web");
	assert_string_equal(ev.ado_project_id, PROJECT_ID);
	assert_string_equal(ev.ado_area_path, "Contoso Web\\Integrations");
	assert_string_equal(ev.ado_work_item_type, "Issue");
	assert_string_equal(ev.ado_subscription_id, "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d");
	assert_int_equal(ev.changed_at_ms, 1768306122480LL);
	assert_string_equal(ev.actor_id, "8c4f2a1e-3b5d-4e6f-a7b8-9c0d1e2f3a4b");
	assert_string_equal(ev.actor_name, "Avery Chen");
	assert_string_equal(ev.actor_email, AVERY_EMAIL);
	static const char *const want[] = { "System.State", "System.Reason", "System.AssignedTo",
					    "System.Tags",
					    "Microsoft.VSTS.Common.StateChangeDate" };
	assert_fields(&ev, want, ACS_ARRAY_SIZE(want));
	assert_string_equal(ev.event_key, "ado:1042:3:workitem.updated");
	acs_webhook_event_deinit(&ev);
}

static void test_ado_commented(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-commented.json", &ev), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_COMMENTED);
	assert_int_equal(ev.ado_id, 1042);
	assert_int_equal(ev.ado_rev, 4);
	assert_string_equal(ev.comment_id, "24884249");
	assert_int_equal(ev.comment_version, 1);
	assert_string_equal(ev.comment_text, "<div>Mirrored from ClickUp: looks good, closing the "
					     "loop.</div>");
	assert_true(ev.comment_is_html);
	assert_int_equal(ev.changed_at_ms, 1768306455777LL);
	assert_string_equal(ev.actor_name, "Avery Chen");
	assert_string_equal(ev.actor_email, AVERY_EMAIL);
	static const char *const want[] = { "System.History" };
	assert_fields(&ev, want, 1);
	assert_string_equal(ev.event_key, "ado:1042:4:workitem.commented");
	acs_webhook_event_deinit(&ev);
}

static void test_ado_deleted(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-deleted.json", &ev), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_DELETED);
	assert_int_equal(ev.ado_id, 1042);
	assert_int_equal(ev.ado_rev, 4);
	assert_string_equal(ev.ado_project, "Contoso Web");
	/* The envelope's createdDate, not the stale ChangedDate. */
	assert_int_equal(ev.changed_at_ms, 1768307402118LL);
	assert_string_equal(ev.actor_email, AVERY_EMAIL);
	assert_int_equal(ev.n_changed_fields, 0);
	assert_string_equal(ev.event_key, "ado:1042:4:workitem.deleted:0f1e2d3c-4b5a-4697-8877-"
					  "665544332211");
	acs_webhook_event_deinit(&ev);
}

static void make_restored(json_t *j)
{
	json_object_set_new(j, "eventType", json_string("workitem.restored"));
}

static void test_ado_restored(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(ado_variant("ado-webhook-workitem-created.json", make_restored, &ev), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_RESTORED);
	assert_int_equal(ev.ado_id, 1042);
	assert_int_equal(ev.ado_rev, 1);
	assert_string_equal(ev.event_key, "ado:1042:1:workitem.restored:d2f1e0c9-b8a7-4695-8473-"
					  "62514f3e2d1c");
	acs_webhook_event_deinit(&ev);
}

/* A second subscription for the same change: new envelope ids and dates. */
static void other_subscription(json_t *j)
{
	json_object_set_new(j, "subscriptionId",
			    json_string("11111111-2222-4333-8444-555555555555"));
	json_object_set_new(j, "notificationId", json_integer(99));
	json_object_set_new(j, "id", json_string("aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"));
	json_object_set_new(j, "createdDate", json_string("2026-01-13T12:09:30.1234567Z"));
}

static void next_rev(json_t *j)
{
	json_t *res = json_object_get(j, "resource");
	json_object_set_new(res, "id", json_integer(4));
	json_object_set_new(res, "rev", json_integer(4));
	json_object_set_new(json_object_get(res, "revision"), "rev", json_integer(4));
}

static void as_updated(json_t *j)
{
	/* The workitem.updated twin of a comment carries the same rev. */
	json_object_set_new(j, "eventType", json_string("workitem.updated"));
	json_t *res = json_object_get(j, "resource");
	json_t *wi = json_deep_copy(res);
	json_t *upd = json_pack("{s:i,s:i,s:i,s:{s:{s:s}},s:o}", "id", 4, "workItemId", 1042, "rev",
				4, "fields", "System.History", "newValue", "<div>x</div>",
				"revision", wi);
	json_object_set_new(j, "resource", upd);
}

static void test_ado_keys(void **state)
{
	(void)state;
	struct acs_webhook_event a, b;
	/* Redelivery: the same bytes give the same key. */
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-updated.json", &a), 0);
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-updated.json", &b), 0);
	assert_string_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	/* Duplicate subscription: same change, other envelope. */
	assert_int_equal(ado_variant("ado-webhook-workitem-updated.json", other_subscription, &b),
			 0);
	assert_string_equal(a.event_key, b.event_key);
	assert_string_equal(b.ado_subscription_id, "11111111-2222-4333-8444-555555555555");
	acs_webhook_event_deinit(&b);
	/* The next change of the same item. */
	assert_int_equal(ado_variant("ado-webhook-workitem-updated.json", next_rev, &b), 0);
	assert_int_equal(b.ado_rev, 4);
	assert_string_not_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	acs_webhook_event_deinit(&a);

	/* commented and its updated twin (same rev) stay apart. */
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-commented.json", &a), 0);
	assert_int_equal(ado_variant("ado-webhook-workitem-commented.json", as_updated, &b), 0);
	assert_int_equal(b.type, ACS_WEBHOOK_UPDATED);
	assert_int_equal(b.ado_rev, a.ado_rev);
	assert_string_equal(b.event_key, "ado:1042:4:workitem.updated");
	assert_string_not_equal(a.event_key, b.event_key);
	static const char *const hist[] = { "System.History" };
	assert_fields(&b, hist, 1);
	acs_webhook_event_deinit(&a);
	acs_webhook_event_deinit(&b);

	/* Delete, restore, delete again at the same rev: distinct deletes. */
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-deleted.json", &a), 0);
	assert_int_equal(ado_variant("ado-webhook-workitem-deleted.json", other_subscription, &b),
			 0);
	assert_string_not_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&a);
	acs_webhook_event_deinit(&b);
}

static void no_work_item_id(json_t *j)
{
	json_object_del(json_object_get(j, "resource"), "workItemId");
}

static void relations_changed(json_t *j)
{
	json_t *res = json_object_get(j, "resource");
	json_object_set_new(res, "relations",
			    json_pack("{s:[{s:s,s:s}]}", "added", "rel", "AttachedFile", "url",
				      "https://dev.azure.com/x/_apis/wit/attachments/1"));
	json_object_set_new(res, "revisedBy",
			    json_pack("{s:s}", "name", "Robin Park <robin.park@contoso.com>"));
}

static void test_ado_updated_variants(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	/* Without workItemId the item id comes from revision.id, never resource.id. */
	assert_int_equal(ado_variant("ado-webhook-workitem-updated.json", no_work_item_id, &ev), 0);
	assert_int_equal(ev.ado_id, 1042);
	acs_webhook_event_deinit(&ev);
	/* Relations changes show up; a revisedBy with only "name" still names the actor. */
	assert_int_equal(ado_variant("ado-webhook-workitem-updated.json", relations_changed, &ev),
			 0);
	assert_string_equal(ev.changed_fields[ev.n_changed_fields - 1], "relations");
	assert_string_equal(ev.actor_name, "Robin Park");
	assert_string_equal(ev.actor_email, "robin.park@contoso.com");
	assert_null(ev.actor_id);
	acs_webhook_event_deinit(&ev);

	/* Many changed fields: capped, and the cap is reported. */
	json_t *j = load_fixture("ado", "ado-webhook-workitem-updated.json");
	json_t *fields = json_object_get(json_object_get(j, "resource"), "fields");
	for (int i = 0; i < ACS_WEBHOOK_MAX_FIELDS + 10; i++) {
		char name[32];
		snprintf(name, sizeof(name), "Custom.F%d", i);
		json_object_set_new(fields, name, json_pack("{s:i}", "newValue", i));
	}
	char err[ACS_ERR_LEN];
	assert_int_equal(parse_json(true, j, &ev, err), 0);
	assert_int_equal(ev.n_changed_fields, ACS_WEBHOOK_MAX_FIELDS);
	assert_true(ev.changed_fields_truncated);
	acs_webhook_event_deinit(&ev);
}

static void test_ado_revision_fields_and_json_entry(void **state)
{
	(void)state;
	json_t *up = load_fixture("ado", "ado-webhook-workitem-updated.json");
	json_t *f = acs_webhook_ado_revision_fields(up);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "System.Title")), "Sync ADO "
										   "comments both "
										   "ways");
	/* The full revision, not the diff: unchanged fields are there too. */
	assert_int_equal(json_integer_value(json_object_get(f, "Microsoft.VSTS.Common.Priority")),
			 2);
	assert_true(json_is_string(json_object_get(f, "System.AssignedTo")));

	/* The json entry point gives the same event and leaves root alone. */
	struct acs_webhook_event a, b;
	char err[ACS_ERR_LEN];
	assert_int_equal(acs_webhook_parse_ado_json(up, &a, err), 0);
	assert_int_equal(parse_fixture(true, "ado-webhook-workitem-updated.json", &b), 0);
	assert_string_equal(a.event_key, b.event_key);
	assert_int_equal(a.changed_at_ms, b.changed_at_ms);
	assert_int_equal(a.n_changed_fields, b.n_changed_fields);
	acs_webhook_event_deinit(&a);
	acs_webhook_event_deinit(&b);
	assert_ptr_equal(acs_webhook_ado_revision_fields(up), f);
	json_decref(up);

	json_t *cr = load_fixture("ado", "ado-webhook-workitem-created.json");
	f = acs_webhook_ado_revision_fields(cr);
	assert_non_null(f);
	assert_string_equal(json_string_value(json_object_get(f, "System.State")), "To Do");
	json_object_set_new(json_object_get(cr, "resource"), "fields", json_string("x"));
	assert_null(acs_webhook_ado_revision_fields(cr));
	json_decref(cr);
	assert_null(acs_webhook_ado_revision_fields(NULL));
}

static void test_ado_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"{",
		"[]",
		"\"workitem.updated\"",
		"{\"eventType\": 1, \"resource\": {\"id\": 1, \"rev\": 1}}",
		"{\"resource\": {\"id\": 1, \"rev\": 1}}",
		"{\"eventType\": \"\"}",
		"{\"eventType\": \"workitem.created\"}",
		"{\"eventType\": \"workitem.created\", \"resource\": []}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"rev\": 1}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": \"1\", \"rev\": 1}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1.5, \"rev\": 1}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": -4, \"rev\": 1}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 0}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 1,"
		" \"fields\": []}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 1,"
		" \"fields\": {\"System.ChangedDate\": 5}}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 1,"
		" \"fields\": {\"System.ChangedDate\": \"yesterday\"}}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 1,"
		" \"fields\": {\"System.TeamProject\": 7}}}",
		"{\"eventType\": \"workitem.created\", \"resource\": {\"id\": 1, \"rev\": 1,"
		" \"fields\": {\"System.ChangedBy\": []}}}",
		"{\"eventType\": \"workitem.created\", \"subscriptionId\": 3,"
		" \"resource\": {\"id\": 1, \"rev\": 1}}",
		/* updates: resource.id alone is the update number, not an item id */
		"{\"eventType\": \"workitem.updated\", \"resource\": {\"id\": 3, \"rev\": 3}}",
		"{\"eventType\": \"workitem.updated\", \"resource\": {\"workItemId\": \"1042\","
		" \"rev\": 3}}",
		"{\"eventType\": \"workitem.updated\", \"resource\": {\"workItemId\": 1042,"
		" \"rev\": 3, \"revision\": 5}}",
		"{\"eventType\": \"workitem.updated\", \"resource\": {\"workItemId\": 1042,"
		" \"rev\": 3, \"revisedBy\": \"Avery\"}}",
		"{\"eventType\": \"workitem.updated\", \"resource\": {\"workItemId\": 1042,"
		" \"rev\": 3, \"fields\": [1]}}",
		"{\"eventType\": \"workitem.commented\", \"resource\": {\"id\": 1, \"rev\": 2,"
		" \"commentVersionRef\": 4}}",
		"{\"eventType\": \"workitem.commented\", \"resource\": {\"id\": 1, \"rev\": 2,"
		" \"commentVersionRef\": {\"commentId\": \"a:b\"}}}",
		/* duplicate keys are ambiguous: refused */
		"{\"eventType\": \"workitem.created\", \"eventType\": \"workitem.deleted\","
		" \"resource\": {\"id\": 1, \"rev\": 1}}",
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		struct acs_webhook_event ev;
		int rc = parse_str(true, bad[i], &ev);
		if (rc != ACS_EPARSE)
			fail_msg("case %zu: rc %d for %s", i, rc, bad[i]);
		acs_webhook_event_deinit(&ev);
	}
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN];
	assert_int_equal(acs_webhook_parse_ado(NULL, 0, &ev, err), ACS_EPARSE);
	acs_webhook_event_deinit(&ev);
	assert_int_equal(acs_webhook_parse_ado("", 0, &ev, NULL), ACS_EPARSE);
	acs_webhook_event_deinit(&ev);
	/* A minimal valid delivery: only the required members. */
	assert_int_equal(parse_str(true,
				   "{\"eventType\": \"workitem.created\","
				   " \"resource\": {\"id\": 7, \"rev\": 1}}",
				   &ev),
			 0);
	assert_string_equal(ev.event_key, "ado:7:1:workitem.created");
	assert_int_equal(ev.changed_at_ms, 0);
	assert_null(ev.ado_project);
	assert_null(ev.actor_email);
	acs_webhook_event_deinit(&ev);
}

static void test_ado_unknown_event(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN] = "";
	const char *body = "{\"eventType\": \"git.push\", \"resource\": {\"commits\": []}}";
	assert_int_equal(acs_webhook_parse_ado(body, strlen(body), &ev, err), ACS_WEBHOOK_EIGNORED);
	assert_non_null(strstr(err, "git.push"));
	assert_int_equal(ev.source, ACS_WEBHOOK_SOURCE_ADO);
	assert_int_equal(ev.type, ACS_WEBHOOK_UNKNOWN);
	assert_string_equal(ev.event_name, "git.push");
	assert_null(ev.event_key);
	acs_webhook_event_deinit(&ev);
	/* Even without a resource: the type decides first. */
	assert_int_equal(parse_str(true, "{\"eventType\": \"ms.vss-code.git-pullrequest\"}", &ev),
			 ACS_WEBHOOK_EIGNORED);
	acs_webhook_event_deinit(&ev);
	assert_int_not_equal(ACS_WEBHOOK_EIGNORED, ACS_EPARSE);
}

/* ------------------------------------------------------------------------ */
/* ClickUp normalisation                                                     */
/* ------------------------------------------------------------------------ */

#define TASK "86b2x4k7q"
#define WEBHOOK "3c1e9d2a-5b7f-4e21-9a0c-6d8f2b4e1a77"
#define LIST "901110236848"
#define CREATED_KEY "clickup:" TASK ":4697731204501535684,4697731204518312901"

static void assert_clickup_common(const struct acs_webhook_event *ev)
{
	assert_int_equal(ev->source, ACS_WEBHOOK_SOURCE_CLICKUP);
	assert_string_equal(ev->item_id, TASK);
	assert_string_equal(ev->clickup_webhook_id, WEBHOOK);
	assert_string_equal(ev->clickup_list_id, LIST);
	assert_string_equal(ev->actor_id, "54098740");
	assert_string_equal(ev->actor_name, "Avery Chen");
	assert_string_equal(ev->actor_email, "avery.chen@example.com");
	assert_int_equal(ev->ado_id, 0);
	assert_int_equal(ev->ado_rev, 0);
	assert_null(ev->ado_project);
}

static void test_clickup_created(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskCreated.json", &ev), 0);
	assert_clickup_common(&ev);
	assert_int_equal(ev.type, ACS_WEBHOOK_CREATED);
	assert_string_equal(ev.event_name, "taskCreated");
	assert_int_equal(ev.changed_at_ms, 1768305601234LL);
	static const char *const want[] = { "status", "task_creation" };
	assert_fields(&ev, want, 2);
	assert_int_equal(ev.n_clickup_history_ids, 2);
	assert_string_equal(ev.clickup_history_ids[0], "4697731204518312901");
	assert_string_equal(ev.clickup_history_ids[1], "4697731204501535684");
	assert_string_equal(ev.event_key, CREATED_KEY);
	acs_webhook_event_deinit(&ev);
}

static void test_clickup_updates(void **state)
{
	(void)state;
	static const struct {
		const char *file, *event, *field, *hist;
		int64_t ms;
	} cases[] = {
		{ "clickup-webhook-taskUpdated-name.json", "taskUpdated", "name",
		  "4697736108827301888", 1768306193017LL },
		{ "clickup-webhook-taskUpdated-status.json", "taskUpdated", "status",
		  "4697735518237745152", 1768306122480LL },
		{ "clickup-webhook-taskPriorityUpdated.json", "taskPriorityUpdated", "priority",
		  "4697739901447610368", 1768306612377LL },
		{ "clickup-webhook-taskAssigneeUpdated.json", "taskAssigneeUpdated", "assignee_add",
		  "4697741120659881984", 1768306733610LL },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cases); i++) {
		struct acs_webhook_event ev;
		assert_int_equal(parse_fixture(false, cases[i].file, &ev), 0);
		assert_clickup_common(&ev);
		assert_int_equal(ev.type, ACS_WEBHOOK_UPDATED);
		assert_string_equal(ev.event_name, cases[i].event);
		assert_int_equal(ev.changed_at_ms, cases[i].ms);
		assert_fields(&ev, &cases[i].field, 1);
		assert_int_equal(ev.n_clickup_history_ids, 1);
		assert_string_equal(ev.clickup_history_ids[0], cases[i].hist);
		char *key = acs_xasprintf("clickup:" TASK ":%s", cases[i].hist);
		assert_string_equal(ev.event_key, key);
		free(key);
		assert_null(ev.comment_id);
		acs_webhook_event_deinit(&ev);
	}
}

static void test_clickup_comment(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskCommentPosted.json", &ev), 0);
	assert_clickup_common(&ev);
	assert_int_equal(ev.type, ACS_WEBHOOK_COMMENTED);
	assert_string_equal(ev.event_name, "taskCommentPosted");
	assert_int_equal(ev.changed_at_ms, 1768306455902LL);
	static const char *const want[] = { "comment" };
	assert_fields(&ev, want, 1);
	assert_string_equal(ev.comment_id, "90110164070264");
	assert_string_equal(ev.comment_text, "Mirrored from Azure DevOps #1042\n");
	assert_false(ev.comment_is_html);
	assert_string_equal(ev.event_key, "clickup:" TASK ":4697738290122735616");
	acs_webhook_event_deinit(&ev);

	/* taskCommentUpdated; a numeric comment id and no text_content (the
	 * rich blocks are joined instead). */
	json_t *j = load_fixture("clickup", "clickup-webhook-taskCommentPosted.json");
	json_object_set_new(j, "event", json_string("taskCommentUpdated"));
	json_t *c = json_object_get(json_array_get(json_object_get(j, "history_items"), 0), "commen"
											    "t");
	json_object_set_new(c, "id", json_integer(90110164070264LL));
	json_object_del(c, "text_content");
	char err[ACS_ERR_LEN];
	assert_int_equal(parse_json(false, j, &ev, err), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_COMMENT_UPDATED);
	assert_string_equal(ev.comment_id, "90110164070264");
	assert_string_equal(ev.comment_text, "Mirrored from Azure DevOps #1042\n");
	acs_webhook_event_deinit(&ev);

	/* No comment object at all: the id comes from "after". */
	j = load_fixture("clickup", "clickup-webhook-taskCommentPosted.json");
	json_object_del(json_array_get(json_object_get(j, "history_items"), 0), "comment");
	assert_int_equal(parse_json(false, j, &ev, err), 0);
	assert_string_equal(ev.comment_id, "90110164070264");
	assert_null(ev.comment_text);
	acs_webhook_event_deinit(&ev);
}

static void test_clickup_deleted(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	assert_int_equal(parse_str(false,
				   "{\"event\":\"taskDeleted\",\"task_id\":\"" TASK
				   "\",\"webhook_id\":\"" WEBHOOK "\"}",
				   &ev),
			 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_DELETED);
	assert_string_equal(ev.item_id, TASK);
	assert_string_equal(ev.clickup_webhook_id, WEBHOOK);
	assert_null(ev.clickup_list_id);
	assert_null(ev.actor_id);
	assert_int_equal(ev.changed_at_ms, 0);
	assert_int_equal(ev.n_changed_fields, 0);
	assert_string_equal(ev.event_key, "clickup:" TASK ":deleted");
	acs_webhook_event_deinit(&ev);
}

/* The same fixture under another event name: ClickUp's twin delivery. */
static void parse_renamed(const char *file, const char *event, struct acs_webhook_event *ev)
{
	json_t *j = load_fixture("clickup", file);
	json_object_set_new(j, "event", json_string(event));
	char err[ACS_ERR_LEN];
	assert_int_equal(parse_json(false, j, ev, err), 0);
}

static void test_clickup_keys(void **state)
{
	(void)state;
	struct acs_webhook_event a, b;
	/* Redelivery. */
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskPriorityUpdated.json", &a), 0);
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskPriorityUpdated.json", &b), 0);
	assert_string_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	/* Specific event + taskUpdated sharing the history item: same key,
	 * same normalised content. */
	parse_renamed("clickup-webhook-taskPriorityUpdated.json", "taskUpdated", &b);
	assert_string_equal(a.event_key, b.event_key);
	assert_int_equal(a.type, b.type);
	assert_int_equal(a.changed_at_ms, b.changed_at_ms);
	assert_string_equal(a.changed_fields[0], b.changed_fields[0]);
	acs_webhook_event_deinit(&b);
	/* The same change seen by a second webhook. */
	json_t *j = load_fixture("clickup", "clickup-webhook-taskPriorityUpdated.json");
	json_object_set_new(j, "webhook_id", json_string("0a0b0c0d-1111-4222-8333-444455556666"));
	char err[ACS_ERR_LEN];
	assert_int_equal(parse_json(false, j, &b, err), 0);
	assert_string_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	/* A different change. */
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskAssigneeUpdated.json", &b), 0);
	assert_string_not_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	acs_webhook_event_deinit(&a);

	/* Status: taskUpdated (fixture) and its taskStatusUpdated twin. */
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskUpdated-status.json", &a), 0);
	parse_renamed("clickup-webhook-taskUpdated-status.json", "taskStatusUpdated", &b);
	assert_string_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&a);
	acs_webhook_event_deinit(&b);

	/* Comment twin: taskUpdated with the comment item is a comment too. */
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskCommentPosted.json", &a), 0);
	parse_renamed("clickup-webhook-taskCommentPosted.json", "taskUpdated", &b);
	assert_string_equal(a.event_key, b.event_key);
	assert_int_equal(b.type, ACS_WEBHOOK_COMMENTED);
	assert_string_equal(b.comment_id, a.comment_id);
	assert_string_equal(b.comment_text, a.comment_text);
	acs_webhook_event_deinit(&a);
	acs_webhook_event_deinit(&b);

	/* taskCreated's companion taskStatusUpdated shares only the status item:
	 * the created event keeps its own key. */
	assert_int_equal(parse_fixture(false, "clickup-webhook-taskCreated.json", &a), 0);
	j = load_fixture("clickup", "clickup-webhook-taskCreated.json");
	json_object_set_new(j, "event", json_string("taskStatusUpdated"));
	json_array_remove(json_object_get(j, "history_items"), 1);
	assert_int_equal(parse_json(false, j, &b, err), 0);
	assert_int_equal(b.type, ACS_WEBHOOK_UPDATED);
	assert_string_equal(b.event_key, "clickup:" TASK ":4697731204518312901");
	assert_string_not_equal(a.event_key, b.event_key);
	acs_webhook_event_deinit(&b);
	/* Item order does not matter. */
	j = load_fixture("clickup", "clickup-webhook-taskCreated.json");
	json_t *items = json_object_get(j, "history_items");
	json_t *first = json_incref(json_array_get(items, 0));
	json_array_remove(items, 0);
	json_array_append_new(items, first);
	assert_int_equal(parse_json(false, j, &b, err), 0);
	assert_string_equal(a.event_key, b.event_key);
	assert_string_equal(b.clickup_history_ids[0], "4697731204501535684");
	acs_webhook_event_deinit(&b);
	acs_webhook_event_deinit(&a);
}

static void test_clickup_fields(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	/* Several items: fields deduplicated in order, custom fields by id,
	 * the latest date wins, top-level list_id beats parent_id. */
	const char *body = "{\"event\":\"taskUpdated\",\"task_id\":\"ENG-142\",\"list_id\":\"77\","
			   "\"webhook_id\":\"w1\",\"history_items\":["
			   "{\"id\":\"10\",\"date\":\"1000\",\"field\":\"name\",\"parent_id\":"
			   "\"5\"},"
			   "{\"id\":11,\"date\":3000,\"field\":\"custom_field\","
			   "\"custom_field\":{\"id\":\"0a52c486-5f05-403b-b4fd-c512ff05131c\"}},"
			   "{\"id\":\"12\",\"date\":\"2000\",\"field\":\"name\"}]}";
	assert_int_equal(parse_str(false, body, &ev), 0);
	static const char *const want[] = { "name", "custom_field:0a52c486-5f05-403b-b4fd-"
						    "c512ff05131c" };
	assert_fields(&ev, want, 2);
	assert_int_equal(ev.changed_at_ms, 3000);
	assert_string_equal(ev.clickup_list_id, "77");
	assert_string_equal(ev.item_id, "ENG-142");
	assert_null(ev.actor_id);
	assert_string_equal(ev.clickup_history_ids[1], "11");
	assert_string_equal(ev.event_key, "clickup:ENG-142:10,11,12");
	acs_webhook_event_deinit(&ev);
}

static void test_clickup_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"not json",
		"[1,2]",
		"{\"event\": 5, \"task_id\": \"a\"}",
		"{\"task_id\": \"a\", \"history_items\": [{\"id\": \"1\"}]}",
		"{\"event\": \"taskUpdated\", \"history_items\": [{\"id\": \"1\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"\", \"history_items\": [{\"id\": "
		"\"1\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a:b\", \"history_items\": [{\"id\": "
		"\"1\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": {}, \"history_items\": [{\"id\": "
		"\"1\"}]}",
		"{\"event\": \"taskDeleted\", \"task_id\": true}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\"}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\": []}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\": {}}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\": [5]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\": [{}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\": [{\"id\": "
		"[]}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1,2\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"date\": \"soon\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"date\": -5}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"user\": \"me\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"user\": {\"email\": 3}}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"field\": 9}]}",
		"{\"event\": \"taskCommentPosted\", \"task_id\": \"a\", \"history_items\":"
		" [{\"id\": \"1\", \"field\": \"comment\", \"comment\": \"hi\"}]}",
		"{\"event\": \"taskUpdated\", \"task_id\": \"a\", \"webhook_id\": \"x y\","
		" \"history_items\": [{\"id\": \"1\"}]}",
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		struct acs_webhook_event ev;
		int rc = parse_str(false, bad[i], &ev);
		if (rc != ACS_EPARSE)
			fail_msg("case %zu: rc %d for %s", i, rc, bad[i]);
		acs_webhook_event_deinit(&ev);
	}
	/* Too many history items. */
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	assert_int_equal(acs_buf_appends(&b, "{\"event\":\"taskUpdated\",\"task_id\":\"a\","
					     "\"history_items\":["),
			 0);
	for (int i = 0; i <= ACS_WEBHOOK_MAX_HISTORY; i++)
		assert_int_equal(acs_buf_printf(&b, "%s{\"id\":\"%d\"}", i ? "," : "", i), 0);
	assert_int_equal(acs_buf_appends(&b, "]}"), 0);
	struct acs_webhook_event ev;
	assert_int_equal(parse_str(false, b.data, &ev), ACS_EPARSE);
	acs_webhook_event_deinit(&ev);
	acs_buf_free(&b);
}

static void test_clickup_unknown_event(void **state)
{
	(void)state;
	static const char *const names[] = { "listCreated", "folderUpdated",	"spaceDeleted",
					     "goalCreated", "keyResultUpdated", "taskLinked" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(names); i++) {
		char *body = acs_xasprintf("{\"event\":\"%s\",\"list_id\":\"1\","
					   "\"webhook_id\":\"" WEBHOOK "\"}",
					   names[i]);
		struct acs_webhook_event ev;
		assert_int_equal(parse_str(false, body, &ev), ACS_WEBHOOK_EIGNORED);
		assert_int_equal(ev.source, ACS_WEBHOOK_SOURCE_CLICKUP);
		assert_string_equal(ev.event_name, names[i]);
		assert_null(ev.event_key);
		acs_webhook_event_deinit(&ev);
		free(body);
	}
}

/* ------------------------------------------------------------------------ */
/* Bounds                                                                    */
/* ------------------------------------------------------------------------ */

static void test_bounds(void **state)
{
	(void)state;
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN];
	/* Deep nesting is refused before jansson recurses into it. */
	size_t depth = 100000;
	char *deep = acs_xmalloc(2 * depth + 64);
	size_t n = (size_t)snprintf(deep, 64, "{\"eventType\":\"workitem.created\",\"x\":");
	memset(deep + n, '[', depth);
	memset(deep + n + depth, ']', depth);
	deep[n + 2 * depth] = '}';
	assert_int_equal(acs_webhook_parse_ado(deep, n + 2 * depth + 1, &ev, err), ACS_EPARSE);
	assert_non_null(strstr(err, "deeper"));
	acs_webhook_event_deinit(&ev);
	assert_int_equal(acs_webhook_parse_clickup(deep, n + 2 * depth + 1, &ev, err), ACS_EPARSE);
	acs_webhook_event_deinit(&ev);
	free(deep);

	/* ACS_WEBHOOK_MAX_DEPTH levels are read; one more is refused as too deep. */
	for (int extra = 0; extra <= 1; extra++) {
		int levels = ACS_WEBHOOK_MAX_DEPTH - 1 + extra; /* inside the outer object */
		char *b = acs_xmalloc(2 * (size_t)levels + 64);
		size_t k = (size_t)snprintf(b, 64, "{\"eventType\":\"x.y\",\"x\":");
		memset(b + k, '[', (size_t)levels);
		memset(b + k + levels, ']', (size_t)levels);
		b[k + 2 * (size_t)levels] = '}';
		err[0] = '\0';
		(void)acs_webhook_parse_ado(b, k + 2 * (size_t)levels + 1, &ev, err);
		if (extra)
			assert_non_null(strstr(err, "deeper"));
		else
			assert_null(strstr(err, "deeper"));
		acs_webhook_event_deinit(&ev);
		free(b);
	}
	/* Brackets inside strings (and escaped quotes) do not count. */
	char *s = acs_xmalloc(4 * ACS_WEBHOOK_MAX_DEPTH + 64);
	size_t sl = (size_t)snprintf(s, 64, "{\"eventType\":\"x.y\",\"x\":\"\\\"");
	memset(s + sl, '[', 2 * ACS_WEBHOOK_MAX_DEPTH);
	memcpy(s + sl + 2 * ACS_WEBHOOK_MAX_DEPTH, "\"}", 3);
	err[0] = '\0';
	(void)acs_webhook_parse_ado(s, strlen(s), &ev, err);
	assert_null(strstr(err, "deeper"));
	acs_webhook_event_deinit(&ev);
	free(s);

	/* Oversized bodies are refused without being read. */
	size_t big = ACS_WEBHOOK_MAX_BODY + 1;
	char *huge = acs_xmalloc(big);
	memset(huge, ' ', big);
	assert_int_equal(acs_webhook_parse_ado(huge, big, &ev, err), ACS_ETOOBIG);
	acs_webhook_event_deinit(&ev);
	assert_int_equal(acs_webhook_parse_clickup(huge, big, &ev, err), ACS_ETOOBIG);
	acs_webhook_event_deinit(&ev);
	free(huge);

	/* A large but legal payload (ADO sends up to 2 MB) goes through. */
	json_t *j = load_fixture("ado", "ado-webhook-workitem-commented.json");
	size_t tlen = 2u << 20;
	char *text = acs_xmalloc(tlen + 1);
	memset(text, 'x', tlen);
	text[tlen] = '\0';
	json_object_set_new(json_object_get(json_object_get(j, "resource"), "fields"),
			    "System.History", json_string(text));
	assert_int_equal(parse_json(true, j, &ev, err), 0);
	assert_int_equal(strlen(ev.comment_text), tlen);
	acs_webhook_event_deinit(&ev);
	free(text);

	/* Over-long ids are refused. */
	char *id = acs_xmalloc(ACS_WEBHOOK_MAX_ID_LEN + 2);
	memset(id, 'a', ACS_WEBHOOK_MAX_ID_LEN + 1);
	id[ACS_WEBHOOK_MAX_ID_LEN + 1] = '\0';
	char *body = acs_xasprintf("{\"event\":\"taskDeleted\",\"task_id\":\"%s\"}", id);
	assert_int_equal(parse_str(false, body, &ev), ACS_EPARSE);
	acs_webhook_event_deinit(&ev);
	free(body);
	id[ACS_WEBHOOK_MAX_ID_LEN] = '\0';
	body = acs_xasprintf("{\"event\":\"taskDeleted\",\"task_id\":\"%s\"}", id);
	assert_int_equal(parse_str(false, body, &ev), 0);
	acs_webhook_event_deinit(&ev);
	free(body);
	free(id);
}

static void test_iso_dates(void **state)
{
	(void)state;
	int64_t ms = -1;
	assert_int_equal(acs__webhook_iso_to_ms("1970-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 0);
	assert_int_equal(acs__webhook_iso_to_ms("2026-01-13T12:08:42.48Z", &ms), 0);
	assert_int_equal(ms, 1768306122480LL);
	assert_int_equal(acs__webhook_iso_to_ms("2026-01-13T12:08:49.9031775Z", &ms), 0);
	assert_int_equal(ms, 1768306129903LL);
	assert_int_equal(acs__webhook_iso_to_ms("2026-01-13T13:08:42.480+01:00", &ms), 0);
	assert_int_equal(ms, 1768306122480LL);
	assert_int_equal(acs__webhook_iso_to_ms("2026-01-13T11:38:42.480-0030", &ms), 0);
	assert_int_equal(ms, 1768306122480LL);
	assert_int_equal(acs__webhook_iso_to_ms("9999-01-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 253370764800000LL);
	assert_int_equal(acs__webhook_iso_to_ms("2024-02-29T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 1709164800000LL);
	static const char *const bad[] = { "",
					   "2026-01-13",
					   "2026-01-13T12:08:42",
					   "2026-01-13T12:08:42.Z",
					   "2026-13-13T12:08:42Z",
					   "2026-01-13T24:08:42Z",
					   "2026-01-13T12:08:42Zjunk",
					   "26-01-13T12:08:42Z",
					   "2026-01-13T12:08:42+1" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		if (acs__webhook_iso_to_ms(bad[i], &ms) != ACS_EPARSE)
			fail_msg("accepted %s", bad[i]);
}

/* ------------------------------------------------------------------------ */
/* ClickUp signatures                                                        */
/* ------------------------------------------------------------------------ */

static void test_signature_vectors(void **state)
{
	(void)state;
	json_t *doc = load_fixture("clickup", "clickup-webhook-signature-vectors.json");
	json_t *vectors = json_object_get(doc, "vectors");
	assert_true(json_array_size(vectors) >= 2);
	size_t i;
	json_t *v;
	json_array_foreach(vectors, i, v)
	{
		const char *secret = json_string_value(json_object_get(v, "secret"));
		const char *body = json_string_value(json_object_get(v, "raw_body"));
		size_t len = json_string_length(json_object_get(v, "raw_body"));
		const char *sig = json_string_value(json_object_get(v, "x_signature"));
		assert_non_null(secret);
		assert_non_null(body);
		assert_non_null(sig);
		assert_true(acs_webhook_clickup_signature_ok(body, len, sig, secret));

		/* Upper-case hex is the same signature. */
		char up[65];
		for (size_t k = 0; k < 65; k++)
			up[k] = (char)toupper((unsigned char)sig[k]);
		assert_true(acs_webhook_clickup_signature_ok(body, len, up, secret));

		/* Tampered body: each of a few positions, one bit flipped. */
		char *copy = acs_xstrndup(body, len);
		size_t pos[] = { 0, len / 2, len - 1 };
		for (size_t k = 0; k < ACS_ARRAY_SIZE(pos); k++) {
			copy[pos[k]] ^= 0x01;
			assert_false(acs_webhook_clickup_signature_ok(copy, len, sig, secret));
			copy[pos[k]] ^= 0x01;
		}
		/* Truncated or extended body. */
		assert_false(acs_webhook_clickup_signature_ok(body, len - 1, sig, secret));
		char *longer = acs_xasprintf("%s ", body);
		assert_false(acs_webhook_clickup_signature_ok(longer, len + 1, sig, secret));
		free(longer);
		free(copy);

		/* Tampered signature: one digit changed, first and last. */
		char bad[65];
		memcpy(bad, sig, 65);
		bad[0] = bad[0] == '0' ? '1' : '0';
		assert_false(acs_webhook_clickup_signature_ok(body, len, bad, secret));
		memcpy(bad, sig, 65);
		bad[63] = bad[63] == 'a' ? 'b' : 'a';
		assert_false(acs_webhook_clickup_signature_ok(body, len, bad, secret));
		/* Wrong lengths and non-hex. */
		char shorter[64];
		memcpy(shorter, sig, 63);
		shorter[63] = '\0';
		assert_false(acs_webhook_clickup_signature_ok(body, len, shorter, secret));
		char *ext = acs_xasprintf("%s0", sig);
		assert_false(acs_webhook_clickup_signature_ok(body, len, ext, secret));
		free(ext);
		ext = acs_xasprintf("sha256=%s", sig);
		assert_false(acs_webhook_clickup_signature_ok(body, len, ext, secret));
		free(ext);
		memcpy(bad, sig, 65);
		bad[10] = 'g';
		assert_false(acs_webhook_clickup_signature_ok(body, len, bad, secret));
		assert_false(acs_webhook_clickup_signature_ok(body, len, "", secret));
		assert_false(acs_webhook_clickup_signature_ok(body, len, NULL, secret));
		/* Wrong, empty or missing secret. */
		char *other = acs_xasprintf("%sx", secret);
		assert_false(acs_webhook_clickup_signature_ok(body, len, sig, other));
		free(other);
		assert_false(acs_webhook_clickup_signature_ok(body, len, sig, ""));
		assert_false(acs_webhook_clickup_signature_ok(body, len, sig, NULL));
	}
	json_decref(doc);

	/* The first vector signs the taskCreated example; its compact form is
	 * what the parser then reads. */
	doc = load_fixture("clickup", "clickup-webhook-signature-vectors.json");
	v = json_array_get(json_object_get(doc, "vectors"), 0);
	const char *raw = json_string_value(json_object_get(v, "raw_body"));
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN];
	assert_int_equal(acs_webhook_parse_clickup(raw, strlen(raw), &ev, err), 0);
	assert_int_equal(ev.type, ACS_WEBHOOK_CREATED);
	assert_string_equal(ev.event_key, CREATED_KEY);
	acs_webhook_event_deinit(&ev);
	json_decref(doc);

	/* Empty body: signed like any other. */
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)"k", 1);
	crypto_auth_hmacsha256_final(&st, mac);
	char hex[65];
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	assert_true(acs_webhook_clickup_signature_ok(NULL, 0, hex, "k"));
	assert_false(acs_webhook_clickup_signature_ok(NULL, 1, hex, "k"));
}

/* ------------------------------------------------------------------------ */
/* ADO authentication                                                        */
/* ------------------------------------------------------------------------ */

static char *basic(const char *cred)
{
	size_t n = strlen(cred);
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = acs_xmalloc(cap);
	sodium_bin2base64(b64, cap, (const unsigned char *)cred, n, sodium_base64_VARIANT_ORIGINAL);
	char *h = acs_xasprintf("Basic %s", b64);
	free(b64);
	return h;
}

static bool auth_with(const char *cred, const struct acs_webhook_ado_auth *cfg)
{
	char *h = basic(cred);
	bool ok = acs_webhook_ado_authorized(h, NULL, cfg);
	free(h);
	return ok;
}

static void test_ado_auth_basic(void **state)
{
	(void)state;
	const struct acs_webhook_ado_auth cfg = { .username = "acs", .password = "s3cret:pw" };
	assert_true(auth_with("acs:s3cret:pw", &cfg)); /* ':' allowed in the password */
	assert_false(auth_with("acs:s3cret:pX", &cfg));
	assert_false(auth_with("acs:s3cret:p", &cfg));
	assert_false(auth_with("acs:s3cret:pww", &cfg));
	assert_false(auth_with("ACS:s3cret:pw", &cfg));
	assert_false(auth_with("other:s3cret:pw", &cfg));
	assert_false(auth_with(":s3cret:pw", &cfg));
	assert_false(auth_with("acs:", &cfg));
	assert_false(auth_with("acss3cret", &cfg)); /* no colon */
	assert_false(auth_with("", &cfg));

	/* Scheme is case-insensitive; spaces around the token are tolerated;
	 * unpadded base64 is accepted. "acs:s3cret:pw" = YWNzOnMzY3JldDpwdw== */
	assert_true(acs_webhook_ado_authorized("Basic YWNzOnMzY3JldDpwdw==", NULL, &cfg));
	assert_true(acs_webhook_ado_authorized("basic   YWNzOnMzY3JldDpwdw==  ", NULL, &cfg));
	assert_true(acs_webhook_ado_authorized("Basic YWNzOnMzY3JldDpwdw", NULL, &cfg));
	/* Missing or malformed headers. */
	assert_false(acs_webhook_ado_authorized(NULL, NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic ", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("BasicYWNzOnMzY3JldDpwdw==", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Bearer YWNzOnMzY3JldDpwdw==", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic !!!!", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic YWNzOnMzY3JldDpwdw==x", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic YWNz OnMzY3JldDpwdw==", NULL, &cfg));
	assert_false(acs_webhook_ado_authorized("Basic YWNzOnMzY3JldDpwdw===", NULL, &cfg));
	/* An over-long credential is refused, not truncated. */
	char *huge = acs_xmalloc(5000);
	memset(huge, 'A', 4999);
	huge[4999] = '\0';
	char *h = acs_xasprintf("Basic %s", huge);
	assert_false(acs_webhook_ado_authorized(h, NULL, &cfg));
	free(h);
	free(huge);
	/* Basic mode ignores the secret header. */
	assert_false(acs_webhook_ado_authorized(NULL, "s3cret:pw", &cfg));

	/* An empty configured user name matches only an empty one (ADO sends
	 * ":password" when the subscription has no user name). */
	const struct acs_webhook_ado_auth nouser = { .username = "", .password = "pw" };
	assert_true(auth_with(":pw", &nouser));
	assert_false(auth_with("x:pw", &nouser));
	const struct acs_webhook_ado_auth nulluser = { .password = "pw" };
	assert_true(auth_with(":pw", &nulluser));
}

static void test_ado_auth_header_and_defaults(void **state)
{
	(void)state;
	const struct acs_webhook_ado_auth hdr = { .header_secret = "tok-123" };
	assert_true(acs_webhook_ado_authorized(NULL, "tok-123", &hdr));
	assert_false(acs_webhook_ado_authorized(NULL, "tok-12", &hdr));
	assert_false(acs_webhook_ado_authorized(NULL, "tok-1234", &hdr));
	assert_false(acs_webhook_ado_authorized(NULL, "", &hdr));
	assert_false(acs_webhook_ado_authorized(NULL, NULL, &hdr));
	/* Header mode alone does not accept Basic credentials. */
	char *h = basic(":tok-123");
	assert_false(acs_webhook_ado_authorized(h, NULL, &hdr));
	free(h);

	/* Both configured: either one is enough, a wrong one does not spoil
	 * the right one. */
	const struct acs_webhook_ado_auth both = { .username = "u",
						   .password = "p",
						   .header_secret = "tok-123" };
	h = basic("u:p");
	assert_true(acs_webhook_ado_authorized(h, NULL, &both));
	assert_true(acs_webhook_ado_authorized(h, "wrong", &both));
	free(h);
	h = basic("u:wrong");
	assert_true(acs_webhook_ado_authorized(h, "tok-123", &both));
	assert_false(acs_webhook_ado_authorized(h, "tok-124", &both));
	free(h);

	/* Nothing configured: closed, whatever is presented. */
	const struct acs_webhook_ado_auth none = { .username = "u",
						   .password = "",
						   .header_secret = "" };
	h = basic("u:");
	assert_false(acs_webhook_ado_authorized(h, "", &none));
	assert_false(acs_webhook_ado_authorized(h, NULL, &none));
	free(h);
	const struct acs_webhook_ado_auth zero = { 0 };
	h = basic(":");
	assert_false(acs_webhook_ado_authorized(h, "", &zero));
	free(h);
	assert_false(acs_webhook_ado_authorized(NULL, NULL, &zero));
	assert_false(acs_webhook_ado_authorized("Basic Og==", "x", NULL));
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_CREATED), "created");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_UPDATED), "updated");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_DELETED), "deleted");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_RESTORED), "restored");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_COMMENTED), "commented");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_COMMENT_UPDATED), "comment_updated");
	assert_string_equal(acs_webhook_type_name(ACS_WEBHOOK_UNKNOWN), "unknown");
	assert_string_equal(acs_webhook_type_name((enum acs_webhook_type)99), "unknown");
	assert_string_equal(acs_webhook_source_name(ACS_WEBHOOK_SOURCE_ADO), "ado");
	assert_string_equal(acs_webhook_source_name(ACS_WEBHOOK_SOURCE_CLICKUP), "clickup");
	assert_string_equal(acs_webhook_source_name(ACS_WEBHOOK_SOURCE_NONE), "none");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ado_created),
		cmocka_unit_test(test_ado_updated),
		cmocka_unit_test(test_ado_commented),
		cmocka_unit_test(test_ado_deleted),
		cmocka_unit_test(test_ado_restored),
		cmocka_unit_test(test_ado_keys),
		cmocka_unit_test(test_ado_updated_variants),
		cmocka_unit_test(test_ado_revision_fields_and_json_entry),
		cmocka_unit_test(test_ado_malformed),
		cmocka_unit_test(test_ado_unknown_event),
		cmocka_unit_test(test_clickup_created),
		cmocka_unit_test(test_clickup_updates),
		cmocka_unit_test(test_clickup_comment),
		cmocka_unit_test(test_clickup_deleted),
		cmocka_unit_test(test_clickup_keys),
		cmocka_unit_test(test_clickup_fields),
		cmocka_unit_test(test_clickup_malformed),
		cmocka_unit_test(test_clickup_unknown_event),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_iso_dates),
		cmocka_unit_test(test_signature_vectors),
		cmocka_unit_test(test_ado_auth_basic),
		cmocka_unit_test(test_ado_auth_header_and_defaults),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
