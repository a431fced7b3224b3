/* SPDX-License-Identifier: MIT */
/* Unit tests for mapper: the API examples read into exact canonical values, round trips
 * canonical -> write -> (emulated service) -> read for every field on many values, the
 * state/status rules, [users] overrides, notes, diff masks and the stored base. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "test_util.h"

#include "config.h"
#include "err.h"
#include "html_md.h"
#include "mapper.h"
#include "mem.h"

/* ------------------------------------------------------------------------------------- */
/* The world of the simulator: Agile types, the list `to do`/`in progress`/`review`/       */
/* `complete`, three users known to both sides by e-mail.                                 */
/* ------------------------------------------------------------------------------------- */

#define F_NUMBER "0f4b1c2d-3e5f-4a6b-8c7d-9e0f1a2b3c4d"
#define F_DROP "5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d"
#define F_LABELS "6b7c8d9e-0f1a-4b2c-3d4e-5f6a7b8c9d0e"
#define F_CHECK "7c8d9e0f-1a2b-4c3d-4e5f-6a7b8c9d0e1f"
#define F_DATE "8d9e0f1a-2b3c-4d4e-5f6a-7b8c9d0e1f2a"
#define F_TEXT "9e0f1a2b-3c4d-4e5f-6a7b-8c9d0e1f2a3b"
#define F_USERS "af0f1a2b-3c4d-4e5f-6a7b-8c9d0e1f2a3b"

static const char *const field_defs_json =
	"["
	"{\"id\": \"" F_NUMBER "\", \"name\": \"ADO Work Item\", \"type\": \"number\","
	" \"type_config\": {}},"
	"{\"id\": \"" F_DROP "\", \"name\": \"Sync state\", \"type\": \"drop_down\","
	" \"type_config\": {\"options\": ["
	"  {\"id\": \"a1b2c3d4-e5f6-4789-8abc-def012345678\", \"name\": \"linked\", "
	"\"orderindex\": 0},"
	"  {\"id\": \"b2c3d4e5-f6a7-4890-9bcd-ef0123456789\", \"name\": \"conflict\", "
	"\"orderindex\": 1}"
	"]}},"
	"{\"id\": \"" F_LABELS "\", \"name\": \"Areas\", \"type\": \"labels\","
	" \"type_config\": {\"options\": ["
	"  {\"id\": \"l-1\", \"label\": \"Alpha\"}, {\"id\": \"l-2\", \"label\": \"beta\"},"
	"  {\"id\": \"l-3\", \"label\": \"Gamma ray\"}"
	"]}},"
	"{\"id\": \"" F_CHECK "\", \"name\": \"Blocked\", \"type\": \"checkbox\","
	" \"type_config\": {}},"
	"{\"id\": \"" F_DATE "\", \"name\": \"Start\", \"type\": \"date\", \"type_config\": {}},"
	"{\"id\": \"" F_TEXT "\", \"name\": \"Note\", \"type\": \"short_text\","
	" \"type_config\": {}},"
	"{\"id\": \"" F_USERS "\", \"name\": \"Reviewers\", \"type\": \"users\","
	" \"type_config\": {}}"
	"]";

static const char *const world_ini = "[users]\n"
				     "sam.ortiz@contoso.com = 54098741\n"
				     "[map demo]\n"
				     "clickup_list_id = 901110236848\n"
				     "custom.Custom.WorkItem = " F_NUMBER "\n"
				     "custom.Custom.SyncState = " F_DROP "\n"
				     "custom.Custom.Areas = " F_LABELS "\n"
				     "custom.Custom.Blocked = " F_CHECK "\n"
				     "custom.Custom.Start = " F_DATE "\n"
				     "custom.Custom.Note = " F_TEXT "\n";

static const struct acs_mapper_state task_states[] = {
	{ "New", "Proposed" },
	{ "Active", "InProgress" },
	{ "Closed", "Completed" },
	{ "Removed", "Removed" },
};
static const struct acs_mapper_state bug_states[] = {
	{ "New", "Proposed" },
	{ "Active", "InProgress" },
	{ "Resolved", "Resolved" },
	{ "Closed", "Completed" },
};
static const struct acs_mapper_state story_states[] = {
	{ "New", "Proposed" },	   { "Active", "InProgress" }, { "Resolved", "Resolved" },
	{ "Closed", "Completed" }, { "Removed", "Removed" },
};
/* ado-workitem-type-states.json, the type of ado-workitem.json. */
static const struct acs_mapper_state issue_states[] = {
	{ "To Do", "Proposed" },
	{ "Active", "InProgress" },
	{ "Resolved", "Resolved" },
	{ "Closed", "Completed" },
};
static const struct acs_mapper_type agile_types[] = {
	{ "Task", task_states, ACS_ARRAY_SIZE(task_states) },
	{ "Bug", bug_states, ACS_ARRAY_SIZE(bug_states) },
	{ "User Story", story_states, ACS_ARRAY_SIZE(story_states) },
	{ "Issue", issue_states, ACS_ARRAY_SIZE(issue_states) },
};
/* Deliberately out of order: the mapper sorts by orderindex. */
static const struct acs_mapper_status list_statuses[] = {
	{ "review", "custom", 2 },
	{ "to do", "open", 0 },
	{ "complete", "closed", 3 },
	{ "in progress", "custom", 1 },
};
static const struct acs_mapper_member members[] = {
	{ 54098740, "avery.chen@example.com", "Avery Chen" },
	{ 54098741, "sam.ortiz@example.com", "Sam Ortiz" },
	{ 54098742, "Riley.Park@example.com", "Riley Park" },
};
static const struct acs_mapper_identity identities[] = {
	{ "Sam Ortiz", "sam.ortiz@contoso.com" },
	{ "Avery Chen", "avery.chen@example.com" },
};

struct world {
	struct acs_config *cfg;
	json_t *defs;
	struct acs_mapper *m;
};

static struct acs_mapper *world_mapper(struct world *w, const char *extra_ini,
				       const struct acs_mapper_status *st, size_t n_st)
{
	char err[ACS_ERR_LEN] = "";
	w->cfg = acs_config_new_defaults();
	char *ini = acs_xasprintf("%s%s", world_ini, extra_ini ? extra_ini : "");
	struct acs_config_errors *errs = acs_config_errors_new();
	int rc = acs_config_load_string(w->cfg, "world.ini", ini, errs);
	if (rc) {
		acs_config_errors_print(errs, stderr);
		fail_msg("config: %d", rc);
	}
	acs_config_errors_free(errs);
	free(ini);
	json_error_t jerr;
	w->defs = json_loads(field_defs_json, 0, &jerr);
	if (!w->defs)
		fail_msg("defs: %s", jerr.text);
	struct acs_mapper_ctx ctx = {
		.types = agile_types,
		.n_types = ACS_ARRAY_SIZE(agile_types),
		.statuses = st ? st : list_statuses,
		.n_statuses = st ? n_st : ACS_ARRAY_SIZE(list_statuses),
		.members = members,
		.n_members = ACS_ARRAY_SIZE(members),
		.identities = identities,
		.n_identities = ACS_ARRAY_SIZE(identities),
		.clickup_fields = w->defs,
	};
	w->m = acs_mapper_new(acs_config_map_find(w->cfg, "demo"), &w->cfg->users, &ctx, err);
	if (!w->m)
		fail_msg("acs_mapper_new: %s", err);
	return w->m;
}

static void world_free(struct world *w)
{
	acs_mapper_free(w->m);
	json_decref(w->defs);
	acs_config_free(w->cfg);
}

static json_t *fixture(const char *name)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	char *path = acs_xasprintf("%s/test/fixtures/%s", root ? root : "..", name);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", path, jerr.text);
	free(path);
	return j;
}

static bool has_note(const struct acs_mapper_notes *n, enum acs_mapper_note_kind kind)
{
	for (size_t i = 0; i < n->n; i++)
		if (n->v[i].kind == kind)
			return true;
	return false;
}

static void print_notes(const struct acs_mapper_notes *n)
{
	for (size_t i = 0; i < n->n; i++)
		fprintf(stderr, "note %d: %s\n", n->v[i].kind, n->v[i].msg);
}

static int64_t iso(const char *s)
{
	int64_t ms = 0;
	if (acs_mapper_parse_iso(s, &ms))
		fail_msg("bad date %s", s);
	return ms;
}

static void dump_diff(const char *what, const struct acs_canon *want, const struct acs_canon *got)
{
	json_t *a = acs_canon_to_json(want), *b = acs_canon_to_json(got);
	char *sa = json_dumps(a, JSON_INDENT(1)), *sb = json_dumps(b, JSON_INDENT(1));
	fprintf(stderr, "%s\nwant: %s\ngot:  %s\n", what, sa, sb);
	free(sa);
	free(sb);
	json_decref(a);
	json_decref(b);
}

static void assert_canon_equal(const char *what, const struct acs_canon *want,
			       const struct acs_canon *got)
{
	if (!acs_canon_equal(want, got)) {
		dump_diff(what, want, got);
		fail_msg("%s: canonical values differ (present %#x vs %#x, diff %#x)", what,
			 want->present, got->present, acs_canon_diff(want, got));
	}
}

/* ------------------------------------------------------------------------------------- */
/* Emulated services                                                                      */
/* ------------------------------------------------------------------------------------- */

/* Apply JSON Patch ops to an ADO fields object as the REST API stores them: RFC 6902
 * existence rules for replace/remove, empty values clear (ADO omits empty fields), and
 * identities come back as IdentityRef objects (rest) or "Name <email>" strings (hooks). */
static void ado_apply(json_t *fields, const json_t *ops, bool rest)
{
	size_t i;
	const json_t *op;
	json_array_foreach((json_t *)ops, i, op)
	{
		const char *kind = json_string_value(json_object_get(op, "op"));
		const char *path = json_string_value(json_object_get(op, "path"));
		json_t *v = json_object_get(op, "value");
		assert_non_null(kind);
		assert_non_null(path);
		assert_int_equal(strncmp(path, "/fields/", 8), 0);
		const char *ref = path + 8;
		bool exists = json_object_get(fields, ref) != NULL;
		if (strcmp(kind, "remove") == 0) {
			if (!exists)
				fail_msg("remove of absent %s", ref);
			json_object_del(fields, ref);
			continue;
		}
		if (strcmp(kind, "replace") == 0 && !exists)
			fail_msg("replace of absent %s", ref);
		if (strcmp(kind, "replace") && strcmp(kind, "add"))
			fail_msg("unexpected op %s", kind);
		assert_non_null(v);
		if (json_is_null(v) || (json_is_string(v) && !*json_string_value(v))) {
			json_object_del(fields, ref);
			continue;
		}
		if (strcmp(ref, "System.AssignedTo") == 0) {
			const char *s = json_string_value(v);
			const char *lt = strchr(s, '<');
			char *email = lt ? acs_xstrndup(lt + 1, strlen(lt + 1) - 1)
					 : acs_xstrdup(s);
			char *name = lt ? acs_xstrndup(s, (size_t)(lt - s - 1)) : acs_xstrdup(s);
			if (rest)
				json_object_set_new(fields, ref,
						    json_pack("{s:s,s:s,s:s}", "displayName", name,
							      "uniqueName", email, "id", "guid"));
			else
				json_object_set_new(fields, ref,
						    json_sprintf("%s <%s>", name, email));
			free(email);
			free(name);
			continue;
		}
		json_object_set(fields, ref, v);
	}
}

static const char *const prio_names[] = { "urgent", "high", "normal", "low" };

static json_t *find_by_id(json_t *arr, const char *key, const json_t *id)
{
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
	{
		if (json_equal(json_object_get(e, key), (json_t *)id))
			return e;
	}
	return NULL;
}

/* Apply a ClickUp write to a task as the API stores and returns it: status names and
 * tags lower-cased, priority as an object with string id, due_date as a ms string,
 * assignees as user objects, custom values in their read formats. */
static void clickup_apply(json_t *task, const struct acs_clickup_write *w, const json_t *defs)
{
	json_t *b = w->body, *v;
	if (b && (v = json_object_get(b, "name")))
		json_object_set(task, "name", v);
	if (b && (v = json_object_get(b, "markdown_content")))
		json_object_set(task, "markdown_description", v);
	if (b && (v = json_object_get(b, "description"))) {
		assert_string_equal(json_string_value(v), " ");
		json_object_set_new(task, "markdown_description", json_string(""));
		json_object_set_new(task, "description", json_string(""));
	}
	if (b && (v = json_object_get(b, "status"))) {
		const char *name = json_string_value(v);
		const char *type = NULL;
		for (size_t i = 0; i < ACS_ARRAY_SIZE(list_statuses); i++)
			if (strcasecmp(list_statuses[i].name, name) == 0)
				type = list_statuses[i].type;
		if (!type)
			fail_msg("status %s not in the list", name);
		char *lower = acs_xstrdup(name);
		for (char *p = lower; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		json_object_set_new(task, "status",
				    json_pack("{s:s,s:s,s:s}", "status", lower, "type", type,
					      "color", "#000000"));
		free(lower);
	}
	if (b && (v = json_object_get(b, "priority"))) {
		if (json_is_null(v)) {
			json_object_set_new(task, "priority", json_null());
		} else {
			json_int_t p = json_integer_value(v);
			assert_true(p >= 1 && p <= 4);
			char id[8];
			snprintf(id, sizeof(id), "%d", (int)p);
			json_object_set_new(task, "priority",
					    json_pack("{s:s,s:s,s:s,s:s}", "id", id, "priority",
						      prio_names[p - 1], "orderindex", id, "color",
						      "#ffcc00"));
		}
	}
	if (b && (v = json_object_get(b, "due_date"))) {
		assert_non_null(json_object_get(b, "due_date_time"));
		if (json_is_null(v)) {
			json_object_set_new(task, "due_date", json_null());
		} else {
			char ms[32];
			snprintf(ms, sizeof(ms), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			json_object_set_new(task, "due_date", json_string(ms));
		}
	}
	if (b && (v = json_object_get(b, "assignees"))) {
		assert_true(json_is_object(v));
		json_t *arr = json_object_get(task, "assignees");
		size_t i;
		json_t *id;
		json_array_foreach(json_object_get(v, "rem"), i, id)
		{
			for (size_t k = 0; k < json_array_size(arr); k++)
				if (json_equal(json_object_get(json_array_get(arr, k), "id"), id))
					json_array_remove(arr, k--);
		}
		json_array_foreach(json_object_get(v, "add"), i, id)
		{
			if (find_by_id(arr, "id", id))
				continue;
			for (size_t k = 0; k < ACS_ARRAY_SIZE(members); k++)
				if (members[k].id == json_integer_value(id))
					json_array_append_new(
						arr, json_pack("{s:I,s:s,s:s}", "id",
							       (json_int_t)members[k].id,
							       "username", members[k].username,
							       "email", members[k].email));
		}
	}
	json_t *tags = json_object_get(task, "tags");
	for (size_t i = 0; i < w->n_tags_rem; i++) {
		bool found = false;
		for (size_t k = 0; k < json_array_size(tags); k++)
			if (strcasecmp(json_string_value(
					       json_object_get(json_array_get(tags, k), "name")),
				       w->tags_rem[i]) == 0) {
				json_array_remove(tags, k--);
				found = true;
			}
		assert_true(found);
	}
	for (size_t i = 0; i < w->n_tags_add; i++) {
		char *lower = acs_xstrdup(w->tags_add[i]);
		for (char *p = lower; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
		json_array_append_new(tags,
				      json_pack("{s:s,s:s}", "name", lower, "tag_fg", "#fff"));
		free(lower);
	}
	json_t *cfs = json_object_get(task, "custom_fields");
	for (size_t i = 0; i < w->n_fields; i++) {
		json_t *sid = json_string(w->fields[i].field_id);
		json_t *entry = find_by_id(cfs, "id", sid);
		if (!entry) {
			entry = json_deep_copy(find_by_id((json_t *)defs, "id", sid));
			assert_non_null(entry);
			json_array_append_new(cfs, entry);
		}
		json_decref(sid);
		json_t *val = w->fields[i].value;
		if (!val) {
			json_object_del(entry, "value");
			continue;
		}
		const char *type = json_string_value(json_object_get(entry, "type"));
		if (strcmp(type, "number") == 0) {
			char *s = json_dumps(val, JSON_ENCODE_ANY);
			json_object_set_new(entry, "value", json_string(s));
			free(s);
		} else if (strcmp(type, "drop_down") == 0) {
			json_t *o = find_by_id(
				json_object_get(json_object_get(entry, "type_config"), "options"),
				"id", val);
			assert_non_null(o);
			json_object_set(entry, "value", json_object_get(o, "orderindex"));
		} else if (strcmp(type, "checkbox") == 0) {
			json_object_set_new(entry, "value",
					    json_string(json_is_true(val) ? "true" : "false"));
		} else if (strcmp(type, "date") == 0) {
			char ms[32];
			snprintf(ms, sizeof(ms), "%" JSON_INTEGER_FORMAT, json_integer_value(val));
			json_object_set_new(entry, "value", json_string(ms));
		} else {
			json_object_set(entry, "value", val);
		}
	}
}

/* ------------------------------------------------------------------------------------- */
/* The API examples                                                                       */
/* ------------------------------------------------------------------------------------- */

static void test_ado_example(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	json_t *wi = fixture("ado/ado-workitem.json");
	struct acs_canon c;
	struct acs_mapper_notes notes;
	acs_canon_init(&c);
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_ado(m, json_object_get(wi, "fields"), &c, &notes), 0);
	print_notes(&notes);
	assert_int_equal(notes.n, 0);
	assert_int_equal(c.present, ACS_F_ALL);
	assert_string_equal(c.type, "Issue");
	assert_string_equal(c.title, "Sync ADO comments both ways");
	assert_string_equal(c.description, "Comments posted in ClickUp must appear in Azure DevOps "
					   "and vice versa.\n\nKeep authorship.");
	assert_string_equal(c.state, "Active");
	assert_int_equal(c.priority, 2);
	assert_string_equal(c.assignee, "sam.ortiz@contoso.com");
	assert_int_equal(c.n_tags, 2);
	assert_string_equal(c.tags[0], "backend");
	assert_string_equal(c.tags[1], "sync");
	assert_int_equal(c.due_ms, INT64_C(1768953600000)); /* 2026-01-21T00:00:00Z */
	/* Mapped custom refs absent from the item are present and empty. */
	assert_int_equal(c.n_custom, 6);
	for (size_t i = 0; i < c.n_custom; i++)
		assert_null(c.custom[i].value);
	/* Issue: Active -> in progress by category. */
	assert_string_equal(acs_mapper_state_to_status(m, c.type, c.state), "in progress");

	/* The same item in a workitem.updated delivery: identities are strings. */
	json_t *hook = fixture("ado/ado-webhook-workitem-updated.json");
	struct acs_canon h;
	acs_canon_init(&h);
	const json_t *rf = json_object_get(json_object_get(json_object_get(hook, "resource"), "revi"
											      "sio"
											      "n"),
					   "fields");
	assert_int_equal(acs_mapper_from_ado(m, rf, &h, NULL), 0);
	assert_string_equal(h.assignee, "sam.ortiz@contoso.com");
	assert_int_equal(h.due_ms, 0); /* the revision has no DueDate */
	assert_int_equal(acs_canon_diff(&c, &h), ACS_F_DUE);

	acs_canon_free(&h);
	acs_canon_free(&c);
	json_decref(hook);
	json_decref(wi);
	world_free(&w);
}

/* The states example as the engine would pass it; the created and updated deliveries. */
static void test_ado_fixtures(void **state)
{
	(void)state;
	json_t *js = fixture("ado/ado-workitem-type-states.json");
	size_t n = json_array_size(json_object_get(js, "value"));
	assert_int_equal(n, 4);
	struct acs_mapper_state *st = acs_xcalloc(n, sizeof(*st));
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(json_object_get(js, "value"), i);
		st[i].name = json_string_value(json_object_get(e, "name"));
		st[i].category = json_string_value(json_object_get(e, "category"));
	}
	struct acs_mapper_type type = { "Issue", st, n };
	struct acs_config *cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(cfg, "i.ini",
						"[map demo]\nado_new_item_type = Issue\n"
						"clickup_list_id = 1\n",
						NULL),
			 0);
	struct acs_mapper_ctx ctx = { .types = &type,
				      .n_types = 1,
				      .statuses = list_statuses,
				      .n_statuses = ACS_ARRAY_SIZE(list_statuses) };
	char err[ACS_ERR_LEN];
	struct acs_mapper *m = acs_mapper_new(acs_config_map_find(cfg, "demo"), NULL, &ctx, err);
	assert_non_null(m);
	static const char *const fwd[][2] = {
		{ "To Do", "to do" },
		{ "Active", "in progress" },
		{ "Resolved", "review" },
		{ "Closed", "complete" },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(fwd); i++) {
		assert_string_equal(acs_mapper_state_to_status(m, NULL, fwd[i][0]), fwd[i][1]);
		assert_string_equal(acs_mapper_status_to_state(m, NULL, fwd[i][1], NULL, NULL),
				    fwd[i][0]);
	}

	/* workitem.created: resource.fields, identities as strings, no assignee. */
	json_t *hook = fixture("ado/ado-webhook-workitem-created.json");
	struct acs_canon c;
	struct acs_mapper_notes notes;
	acs_canon_init(&c);
	acs_mapper_notes_init(&notes);
	assert_int_equal(
		acs_mapper_from_ado(m, json_object_get(json_object_get(hook, "resource"), "fields"),
				    &c, &notes),
		0);
	assert_int_equal(notes.n, 0);
	assert_string_equal(c.state, "To Do");
	assert_string_equal(c.assignee, "");
	assert_int_equal(c.n_tags, 0);
	assert_int_equal(c.priority, 2);
	assert_string_equal(acs_mapper_state_to_status(m, c.type, c.state), "to do");
	json_decref(hook);

	/* workitem.updated: the full revision, not the oldValue/newValue diff. */
	hook = fixture("ado/ado-webhook-workitem-updated.json");
	const json_t *rev = json_object_get(json_object_get(hook, "resource"), "revision");
	assert_int_equal(acs_mapper_from_ado(m, json_object_get(rev, "fields"), &c, &notes), 0);
	assert_int_equal(notes.n, 0);
	assert_string_equal(c.state, "Active");
	assert_string_equal(c.assignee, "sam.ortiz@contoso.com");
	assert_int_equal(c.n_tags, 2);
	json_decref(hook);

	acs_canon_free(&c);
	acs_mapper_free(m);
	acs_config_free(cfg);
	free(st);
	json_decref(js);
}

/* Webhook history items carry the same objects as a task: status, priority and assignee
 * values read through from_clickup on a partial task give what the full task would. */
static void test_clickup_webhook_items(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	static const struct {
		const char *file, *key;
		unsigned field;
	} items[] = {
		{ "clickup/clickup-webhook-taskUpdated-status.json", "status", ACS_F_STATE },
		{ "clickup/clickup-webhook-taskPriorityUpdated.json", "priority", ACS_F_PRIORITY },
		{ "clickup/clickup-webhook-taskAssigneeUpdated.json", "assignees", ACS_F_ASSIGNEE },
		{ "clickup/clickup-webhook-taskUpdated-name.json", "name", ACS_F_TITLE },
	};
	struct acs_canon c;
	acs_canon_init(&c);
	for (size_t i = 0; i < ACS_ARRAY_SIZE(items); i++) {
		json_t *hook = fixture(items[i].file);
		json_t *after = json_object_get(
			json_array_get(json_object_get(hook, "history_items"), 0), "after");
		assert_non_null(after);
		json_t *task = json_object();
		json_object_set_new(task, items[i].key,
				    strcmp(items[i].key, "assignees") == 0 ? json_pack("[O]", after)
									   : json_incref(after));
		struct acs_mapper_notes notes;
		acs_mapper_notes_init(&notes);
		assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &c, &notes), 0);
		assert_int_equal(notes.n, 0);
		assert_int_equal(c.present, items[i].field);
		switch (items[i].field) {
		case ACS_F_STATE:
			assert_string_equal(c.state, "Active");
			break;
		case ACS_F_PRIORITY:
			assert_int_equal(c.priority, 2);
			break;
		case ACS_F_ASSIGNEE: /* ClickUp 54098741 is sam.ortiz@contoso.com by [users] */
			assert_string_equal(c.assignee, "sam.ortiz@contoso.com");
			break;
		default:
			assert_string_equal(c.title, json_string_value(after));
		}
		json_decref(task);
		json_decref(hook);
	}
	acs_canon_free(&c);
	world_free(&w);
}

static void test_ado_identities(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	static const struct {
		const char *json; /* the System.AssignedTo value, JSON */
		const char *want; /* NULL = not mapped (noted) */
	} cases[] = {
		{ "{\"displayName\": \"Sam Ortiz\", \"uniqueName\": \"Sam.Ortiz@Contoso.com\"}",
		  "sam.ortiz@contoso.com" },
		{ "\"Sam Ortiz <SAM.ORTIZ@contoso.com>\"", "sam.ortiz@contoso.com" },
		{ "\"Ortiz, Sam <sam.ortiz@contoso.com>\"", "sam.ortiz@contoso.com" },
		{ "\"riley.park@example.com\"", "riley.park@example.com" },
		{ "\"Sam Ortiz\"", "sam.ortiz@contoso.com" }, /* display name only: identities */
		{ "{\"displayName\": \"Avery Chen\", \"uniqueName\": \"CONTOSO\\\\avery\"}", "avery"
											     ".chen"
											     "@exam"
											     "ple."
											     "co"
											     "m" },
		{ "{\"displayName\": \"Ops Bot\", \"uniqueName\": \"CONTOSO\\\\opsbot\"}", "contoso"
											   "\\opsbo"
											   "t" },
		{ "\"\"", "" },
		{ "null", "" },
		{ "\"Nobody Known\"", NULL },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cases); i++) {
		json_t *fields = json_pack("{s:s,s:s}", "System.Title", "t", "System.State", "New");
		json_object_set_new(fields, "System.AssignedTo",
				    json_loads(cases[i].json, JSON_DECODE_ANY, NULL));
		struct acs_canon c;
		struct acs_mapper_notes notes;
		acs_canon_init(&c);
		acs_mapper_notes_init(&notes);
		assert_int_equal(acs_mapper_from_ado(m, fields, &c, &notes), 0);
		if (cases[i].want) {
			assert_true(c.present & ACS_F_ASSIGNEE);
			assert_string_equal(c.assignee, cases[i].want);
			assert_false(has_note(&notes, ACS_NOTE_UNKNOWN_ASSIGNEE));
		} else {
			assert_false(c.present & ACS_F_ASSIGNEE);
			assert_true(has_note(&notes, ACS_NOTE_UNKNOWN_ASSIGNEE));
		}
		acs_canon_free(&c);
		json_decref(fields);
	}

	/* An identity learned after the mapper was built resolves display-name-only strings;
	 * a later e-mail for the same name replaces the first. */
	const char *const names[] = { "Nobody Known", "nobody known" };
	const char *const mails[] = { "Nobody@Example.com", "nobody2@example.com" };
	for (size_t i = 0; i < 2; i++) {
		acs_mapper_add_identity(m, names[i], mails[i]);
		json_t *fields = json_pack("{s:s,s:s,s:s}", "System.Title", "t", "System.State",
					   "New", "System.AssignedTo", "Nobody Known");
		struct acs_canon c;
		acs_canon_init(&c);
		assert_int_equal(acs_mapper_from_ado(m, fields, &c, NULL), 0);
		assert_true(c.present & ACS_F_ASSIGNEE);
		assert_string_equal(c.assignee, i ? "nobody2@example.com" : "nobody@example.com");
		acs_canon_free(&c);
		json_decref(fields);
	}
	acs_mapper_add_identity(m, "", "x@example.com"); /* ignored */
	acs_mapper_add_identity(NULL, "X", "x@example.com");
	world_free(&w);
}

static void test_clickup_example(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	json_t *task = fixture("clickup/clickup-task.json");
	struct acs_canon c;
	struct acs_mapper_notes notes;
	acs_canon_init(&c);
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &c, &notes), 0);
	assert_int_equal(c.present, ACS_F_ALL);
	assert_string_equal(c.type, "Task"); /* no base: the map's new-item type */
	assert_string_equal(c.title, "Sync ADO comments both ways");
	assert_string_equal(c.description, "Comments posted in ClickUp must appear in **Azure "
					   "DevOps** and vice versa. Keep authorship.");
	assert_string_equal(c.state, "Active"); /* "in progress" (custom) */
	assert_int_equal(c.priority, 2);
	/* Two assignees, no base: the first; the other is noted. */
	assert_string_equal(c.assignee, "avery.chen@example.com");
	assert_true(has_note(&notes, ACS_NOTE_EXTRA_ASSIGNEES));
	assert_int_equal(c.n_tags, 1);
	assert_string_equal(c.tags[0], "sync");
	assert_int_equal(c.due_ms, INT64_C(1769004000000));
	/* The task carries the number and drop-down fields only; the others are noted. */
	const struct acs_canon_custom *cu = acs_canon_get_custom(&c, "Custom.WorkItem");
	assert_non_null(cu);
	assert_true(json_is_integer(cu->value));
	assert_int_equal(json_integer_value(cu->value), 1042);
	cu = acs_canon_get_custom(&c, "Custom.SyncState");
	assert_non_null(cu);
	assert_string_equal(json_string_value(cu->value), "linked");
	assert_null(acs_canon_get_custom(&c, "Custom.Note"));
	assert_true(has_note(&notes, ACS_NOTE_CUSTOM));

	/* With a base assigned to Sam, Sam is kept: [users] maps ClickUp 54098741 to his ADO
	 * e-mail, so adding Avery as co-assignee in ClickUp is no change. */
	struct acs_canon base, c2;
	acs_canon_init(&base);
	acs_canon_init(&c2);
	acs_canon_set_assignee(&base, "Sam.Ortiz@contoso.com");
	acs_canon_set_type(&base, "Bug");
	acs_canon_set_state(&base, "Active");
	assert_int_equal(acs_mapper_from_clickup(m, task, &base, &c2, NULL), 0);
	assert_string_equal(c2.assignee, "sam.ortiz@contoso.com");
	assert_string_equal(c2.type, "Bug");
	assert_int_equal(acs_canon_diff(&base, &c2), 0);
	assert_int_equal(acs_canon_diff(&c, &c2), ACS_F_ASSIGNEE);

	/* Without the description: every other field as before, the description absent. */
	struct acs_canon c3;
	acs_canon_init(&c3);
	assert_int_equal(acs_mapper_from_clickup_fields(m, task, NULL, &c3, NULL,
							ACS_F_ALL & ~ACS_F_DESCRIPTION),
			 0);
	assert_int_equal(c3.present, ACS_F_ALL & ~ACS_F_DESCRIPTION);
	assert_null(c3.description);
	assert_int_equal(acs_canon_diff(&c, &c3) & ~ACS_F_DESCRIPTION, 0);
	acs_canon_free(&c3);

	acs_canon_free(&base);
	acs_canon_free(&c2);
	acs_canon_free(&c);
	json_decref(task);
	world_free(&w);
}

static void test_clickup_details(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	struct acs_canon c;
	struct acs_mapper_notes notes;
	acs_canon_init(&c);

	/* No markdown_description: the plain text is kept as text ('*' is not emphasis). */
	json_t *t = json_pack("{s:s,s:s,s:s,s:n,s:n,s:[],s:[]}", "id", "x", "name", "n",
			      "description", "a * b\nline 2\n\npara", "priority", "due_date",
			      "assignees", "tags");
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_clickup(m, t, NULL, &c, &notes), 0);
	assert_true(has_note(&notes, ACS_NOTE_DESCRIPTION));
	char *html = NULL;
	assert_int_equal(acs_markdown_to_html(c.description, strlen(c.description), &html, NULL),
			 0);
	assert_string_equal(html, "<p>a * b<br>\nline 2</p>\n<p>para</p>\n");
	free(html);
	assert_int_equal(c.priority, 0);
	assert_int_equal(c.due_ms, 0);
	assert_string_equal(c.assignee, "");
	assert_int_equal(c.n_tags, 0);
	assert_false(c.present & ACS_F_STATE);
	json_decref(t);

	/* Priority by name, integer due date truncated to seconds, unknown status, assignee
	 * found by member id when the user object has no e-mail. */
	t = json_pack("{s:s,s:{s:s},s:{s:s,s:s},s:I,s:[{s:I}]}", "id", "x", "priority", "priority",
		      "Low", "status", "status", "QA", "type", "weird", "due_date",
		      (json_int_t)1769004000999, "assignees", "id", (json_int_t)54098742);
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_clickup(m, t, NULL, &c, &notes), 0);
	assert_int_equal(c.priority, 4);
	assert_int_equal(c.due_ms, INT64_C(1769004000000));
	assert_string_equal(c.assignee, "riley.park@example.com");
	assert_false(c.present & ACS_F_STATE);
	assert_true(has_note(&notes, ACS_NOTE_UNKNOWN_STATUS));
	json_decref(t);

	/* Unknown assignees: noted, never a crash; the notes list is bounded. */
	t = json_pack("{s:s,s:[]}", "id", "x", "assignees");
	for (int i = 0; i < 20; i++)
		json_array_append_new(json_object_get(t, "assignees"),
				      json_pack("{s:I}", "id", (json_int_t)(900 + i)));
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_clickup(m, t, NULL, &c, &notes), 0);
	assert_false(c.present & ACS_F_ASSIGNEE);
	assert_int_equal(notes.n, ACS_MAPPER_MAX_NOTES);
	assert_int_equal(notes.dropped, 20 - ACS_MAPPER_MAX_NOTES);
	assert_true(has_note(&notes, ACS_NOTE_UNKNOWN_ASSIGNEE));
	json_decref(t);

	assert_int_equal(acs_mapper_from_clickup(m, json_null(), NULL, &c, NULL), -EINVAL);
	assert_int_equal(acs_mapper_from_ado(m, json_null(), &c, NULL), -EINVAL);
	assert_int_equal(c.present, 0);
	acs_canon_free(&c);
	world_free(&w);
}

/* ------------------------------------------------------------------------------------- */
/* Round trips                                                                            */
/* ------------------------------------------------------------------------------------- */

struct rt_case {
	const char *type;
	const char *title;
	const char *md;
	const char *state;
	int priority;
	const char *assignee;
	const char *tags[5];
	const char *due;       /* ISO or NULL */
	const char *custom[6]; /* JSON text per ref in sorted order, NULL = empty */
};

/* Refs in sorted order: Areas, Blocked, Note, Start, SyncState, WorkItem. */
static const char *const custom_refs[6] = { "Custom.Areas", "Custom.Blocked",	"Custom.Note",
					    "Custom.Start", "Custom.SyncState", "Custom.WorkItem" };

static const struct rt_case rt_cases[] = {
	{ "Task",
	  "Überprüfung — 日本語 ✓ emoji 🚀 \"quoted\" \\ <tag> & amp",
	  "Intro with a [link](https://example.com/a?b=c&d=e) and `code`.\n\n"
	  "- one\n- two\n  - nested\n\n1. first\n2. second",
	  "Active",
	  1,
	  "Sam.Ortiz@Contoso.com",
	  { "Backend", " needs review ", "sync", "BACKEND" },
	  "2026-03-29T00:59:59Z", /* one second before the EU spring-forward instant */
	  { "\"beta; Alpha\"", "true", "\"free text ✓\"", "\"2026-01-21T14:00:00Z\"",
	    "\"conflict\"", "1042" } },
	{ "Task",
	  "Empty everything",
	  "",
	  "New",
	  0,
	  "",
	  { NULL },
	  NULL,
	  { NULL, NULL, NULL, NULL, NULL, NULL } },
	{ "Bug",
	  "Resolved bug near midnight",
	  "**bold**, *em*, ~~gone~~\n\n> quoted\n\n---\n\nend",
	  "Resolved",
	  3,
	  "riley.park@example.com",
	  { "Größe", "a b  c" },
	  "2026-10-25T00:59:59.999Z", /* the EU fall-back instant, sub-second truncated */
	  { "\"Gamma ray\"", "false", "\"x\"", NULL, "\"linked\"", "3.5" } },
	{ "User Story",
	  "Removed story",
	  "| a | b |\n| --- | --- |\n| 1 | 2 |",
	  "Removed",
	  4,
	  "avery.chen@example.com",
	  { "x" },
	  "2024-02-29T23:59:59Z",
	  { NULL, "true", NULL, "\"1999-12-31T23:59:59Z\"", NULL, "-7" } },
	{ "Task",
	  "Closed task",
	  "Line one  \nline two",
	  "Closed",
	  2,
	  "sam.ortiz@contoso.com",
	  { "sync" },
	  "2026-12-31T23:59:59Z",
	  { NULL, NULL, NULL, NULL, NULL, NULL } },
	{ "Bug",
	  "New bug at the epoch's next day",
	  "plain",
	  "New",
	  2,
	  "",
	  { "Sync", "SYNC" },
	  "1970-01-02T00:00:00Z",
	  { "\"Alpha\"", NULL, "\"\"", NULL, NULL, "0" } },
};

static void build_case(const struct rt_case *k, struct acs_canon *c)
{
	acs_canon_init(c);
	acs_canon_set_type(c, k->type);
	acs_canon_set_title(c, k->title);
	assert_int_equal(acs_canon_set_description(c, k->md), 0);
	acs_canon_set_state(c, k->state);
	acs_canon_set_priority(c, k->priority);
	acs_canon_set_assignee(c, k->assignee);
	size_t n = 0;
	while (n < ACS_ARRAY_SIZE(k->tags) && k->tags[n])
		n++;
	acs_canon_set_tags(c, k->tags, n);
	acs_canon_set_due(c, k->due ? iso(k->due) : 0);
	for (size_t i = 0; i < 6; i++) {
		json_t *v = k->custom[i] ? json_loads(k->custom[i], JSON_DECODE_ANY, NULL) : NULL;
		assert_int_equal(acs_canon_set_custom(c, custom_refs[i], v), 0);
		json_decref(v);
	}
	/* What the services keep of a value: labels sorted, blank text is empty. */
	const struct acs_canon_custom *cu = acs_canon_get_custom(c, "Custom.Note");
	if (cu->value && !*json_string_value(cu->value))
		assert_int_equal(acs_canon_set_custom(c, "Custom.Note", NULL), 0);
	cu = acs_canon_get_custom(c, "Custom.Areas");
	if (cu->value && strcmp(json_string_value(cu->value), "beta; Alpha") == 0) {
		json_t *s = json_string("Alpha; beta");
		acs_canon_set_custom(c, "Custom.Areas", s);
		json_decref(s);
	}
}

static void test_roundtrip_ado(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	for (int rest = 0; rest < 2; rest++) {
		json_t *wi = fixture("ado/ado-workitem.json");
		json_t *fields = json_deep_copy(json_object_get(wi, "fields"));
		json_decref(wi);
		struct acs_canon cur;
		acs_canon_init(&cur);
		assert_int_equal(acs_mapper_from_ado(m, fields, &cur, NULL), 0);
		/* Each case is written over the previous one: add, replace and remove all run. */
		for (size_t i = 0; i < ACS_ARRAY_SIZE(rt_cases); i++) {
			struct acs_canon c, back;
			struct acs_mapper_notes notes;
			build_case(&rt_cases[i], &c);
			acs_canon_init(&back);
			acs_mapper_notes_init(&notes);
			json_object_set_new(fields, "System.WorkItemType", json_string(c.type));
			json_t *ops = acs_mapper_ado_patch(m, &c, ACS_F_ALL, &cur, &notes);
			print_notes(&notes);
			assert_int_equal(notes.n, 0);
			ado_apply(fields, ops, rest);
			assert_int_equal(acs_mapper_from_ado(m, fields, &back, &notes), 0);
			print_notes(&notes);
			assert_int_equal(notes.n, 0);
			char what[64];
			snprintf(what, sizeof(what), "ado case %zu rest %d", i, rest);
			assert_canon_equal(what, &c, &back);
			/* Nothing left to write once equal: the echo is recognised. */
			assert_int_equal(acs_canon_diff(&c, &back), 0);
			json_t *again = acs_mapper_ado_patch(m, &back, acs_canon_diff(&c, &back),
							     &back, NULL);
			assert_int_equal(json_array_size(again), 0);
			json_decref(again);
			json_decref(ops);
			acs_canon_copy(&cur, &back);
			acs_canon_free(&back);
			acs_canon_free(&c);
		}
		acs_canon_free(&cur);
		json_decref(fields);
	}
	world_free(&w);
}

static void test_roundtrip_clickup(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	json_t *task = fixture("clickup/clickup-task.json");
	struct acs_canon cur;
	acs_canon_init(&cur);
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &cur, NULL), 0);
	for (size_t i = 0; i < ACS_ARRAY_SIZE(rt_cases); i++) {
		struct acs_canon c, back;
		struct acs_mapper_notes notes;
		struct acs_clickup_write wr = { 0 };
		build_case(&rt_cases[i], &c);
		acs_canon_init(&back);
		acs_mapper_notes_init(&notes);
		/* The pair's type travels in the base. */
		acs_canon_set_type(&cur, c.type);
		assert_int_equal(acs_mapper_clickup_update(m, &c, ACS_F_ALL, &cur, &wr, &notes), 0);
		print_notes(&notes);
		assert_int_equal(notes.n, 0);
		clickup_apply(task, &wr, w.defs);
		/* The base is what was written: ambiguities resolve towards it. */
		assert_int_equal(acs_mapper_from_clickup(m, task, &c, &back, &notes), 0);
		char what[64];
		snprintf(what, sizeof(what), "clickup case %zu", i);
		assert_canon_equal(what, &c, &back);
		/* The only notes allowed are about co-assignees kept in ClickUp. */
		for (size_t k = 0; k < notes.n; k++)
			assert_int_equal(notes.v[k].kind, ACS_NOTE_EXTRA_ASSIGNEES);
		/* Writing the read value again changes nothing. */
		acs_mapper_clickup_write_clear(&wr);
		assert_int_equal(acs_mapper_clickup_update(m, &back, ACS_F_TAGS | ACS_F_CUSTOM,
							   &back, &wr, NULL),
				 0);
		assert_int_equal(acs_mapper_clickup_write_count(&wr), 0);
		acs_mapper_clickup_write_clear(&wr);
		acs_canon_copy(&cur, &back);
		acs_canon_free(&back);
		acs_canon_free(&c);
	}
	acs_canon_free(&cur);
	json_decref(task);
	world_free(&w);
}

/* A value read from one side, written to the other and read back is the same: the full
 * ADO -> ClickUp -> ADO path on the API examples. */
static void test_roundtrip_cross(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	json_t *wi = fixture("ado/ado-workitem.json");
	json_t *task = fixture("clickup/clickup-task.json");
	struct acs_canon from_ado, cu_now, back, ado_now;
	acs_canon_init(&from_ado);
	acs_canon_init(&cu_now);
	acs_canon_init(&back);
	acs_canon_init(&ado_now);
	json_object_set_new(json_object_get(wi, "fields"), "System.WorkItemType",
			    json_string("Bug"));
	json_object_set_new(json_object_get(wi, "fields"), "System.State", json_string("Resolved"));
	assert_int_equal(acs_mapper_from_ado(m, json_object_get(wi, "fields"), &from_ado, NULL), 0);
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &cu_now, NULL), 0);

	struct acs_clickup_write wr = { 0 };
	unsigned mask = acs_canon_diff(&from_ado, &cu_now);
	assert_true(mask & ACS_F_STATE);
	acs_canon_set_type(&cu_now, "Bug");
	assert_int_equal(acs_mapper_clickup_update(m, &from_ado, mask, &cu_now, &wr, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(wr.body, "status")), "review");
	clickup_apply(task, &wr, w.defs);
	acs_mapper_clickup_write_clear(&wr);
	assert_int_equal(acs_mapper_from_clickup(m, task, &from_ado, &back, NULL), 0);
	assert_int_equal(acs_canon_diff(&from_ado, &back), 0);
	assert_string_equal(back.state, "Resolved");

	/* And back to ADO: nothing differs, so nothing is written. */
	assert_int_equal(acs_mapper_from_ado(m, json_object_get(wi, "fields"), &ado_now, NULL), 0);
	json_t *ops =
		acs_mapper_ado_patch(m, &back, acs_canon_diff(&back, &ado_now), &ado_now, NULL);
	assert_int_equal(json_array_size(ops), 0);
	json_decref(ops);

	acs_canon_free(&from_ado);
	acs_canon_free(&cu_now);
	acs_canon_free(&back);
	acs_canon_free(&ado_now);
	json_decref(wi);
	json_decref(task);
	world_free(&w);
}

/* ------------------------------------------------------------------------------------- */
/* State <-> status                                                                       */
/* ------------------------------------------------------------------------------------- */

static void test_state_fallbacks(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	static const struct {
		const char *type, *state, *status;
	} fwd[] = {
		{ "Task", "New", "to do" },
		{ "Task", "Active", "in progress" },
		{ "Task", "Closed", "complete" },
		{ "Task", "Removed", "complete" },
		{ "task", "active", "in progress" },
		{ "Bug", "New", "to do" },
		{ "Bug", "Resolved", "review" }, /* the last custom status before closed */
		{ "Bug", "Closed", "complete" },
		{ "User Story", "Resolved", "review" },
		{ "User Story", "Removed", "complete" },
		{ "Issue", "To Do", "to do" },
		{ "Bug", "Removed", NULL },	   /* not a Bug state */
		{ "Epic", "New", NULL },	   /* unknown type */
		{ NULL, "Active", "in progress" }, /* NULL: the new-item type (Task) */
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(fwd); i++) {
		const char *got = acs_mapper_state_to_status(m, fwd[i].type, fwd[i].state);
		if (!fwd[i].status) {
			assert_null(got);
			continue;
		}
		if (!got || strcmp(got, fwd[i].status))
			fail_msg("%s/%s -> %s, want %s", fwd[i].type, fwd[i].state, got,
				 fwd[i].status);
	}
	static const struct {
		const char *type, *status, *base, *state;
	} rev[] = {
		{ "Task", "to do", NULL, "New" },
		{ "Task", "In Progress", NULL, "Active" },
		{ "Task", "review", NULL, "Active" },	      /* no Resolved: by status type */
		{ "Task", "complete", NULL, "Closed" },	      /* Closed and Removed: type order */
		{ "Task", "complete", "Removed", "Removed" }, /* the base maps there: kept */
		{ "Task", "complete", "Active", "Closed" },
		{ "Bug", "review", NULL, "Resolved" }, /* exact inverse of the fallback */
		{ "Bug", "review", "Active", "Resolved" },
		{ "Bug", "in progress", "Resolved", "Active" },
		{ "User Story", "COMPLETE", "removed", "Removed" },
		{ "Issue", "to do", NULL, "To Do" },
		{ "Task", "qa", NULL, NULL },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(rev); i++) {
		const char *got = acs_mapper_status_to_state(m, rev[i].type, rev[i].status, NULL,
							     rev[i].base);
		if (!rev[i].state) {
			assert_null(got);
			continue;
		}
		if (!got || strcmp(got, rev[i].state))
			fail_msg("%s/%s (base %s) -> %s, want %s", rev[i].type, rev[i].status,
				 rev[i].base, got, rev[i].state);
	}
	/* A status unknown to the mapper still maps by the type the task reports. */
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "qa", "done", NULL), "Resolved");
	assert_string_equal(acs_mapper_status_to_state(m, "Task", "qa", "done", NULL), "Closed");
	assert_string_equal(acs_mapper_status_to_state(m, "Task", "qa", "open", NULL), "New");
	world_free(&w);

	/* A list with a "done" status: Resolved goes there, Completed to closed. */
	static const struct acs_mapper_status done_list[] = {
		{ "backlog", "open", 0 },
		{ "doing", "custom", 1 },
		{ "shipped", "done", 2 },
		{ "archived", "closed", 3 },
	};
	m = world_mapper(&w, NULL, done_list, ACS_ARRAY_SIZE(done_list));
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "Resolved"), "shipped");
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "Closed"), "archived");
	assert_string_equal(acs_mapper_state_to_status(m, "Task", "Removed"), "archived");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "shipped", NULL, NULL), "Resolve"
											 "d");
	assert_string_equal(acs_mapper_status_to_state(m, "Task", "shipped", NULL, NULL), "Closed");
	world_free(&w);

	/* A list with only open and closed statuses. */
	static const struct acs_mapper_status two[] = { { "Open", "open", 0 },
							{ "Closed", "closed", 1 } };
	m = world_mapper(&w, NULL, two, ACS_ARRAY_SIZE(two));
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "Active"), "Open");
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "Resolved"), "Closed");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "open", NULL, "Active"), "Active");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "open", NULL, NULL), "New");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "closed", NULL, "Resolved"), "Reso"
											      "lve"
											      "d");
	world_free(&w);
}

static void test_state_ambiguity(void **state)
{
	(void)state;
	struct world w;
	/* Two states share one status; the table order decides without a base. */
	struct acs_mapper *m = world_mapper(&w,
					    "status.New = To Do\n"
					    "status.Active = in progress\n"
					    "status.Resolved = In Progress\n"
					    "status.Closed = complete\n",
					    NULL, 0);
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "Resolved"), "in progress");
	assert_string_equal(acs_mapper_state_to_status(m, "Bug", "New"), "to do");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "in progress", NULL, NULL), "Activ"
											     "e");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "in progress", NULL, "Resolved"),
			    "Resolved");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "in progress", NULL, "New"), "Acti"
											      "ve");
	/* Task has no Resolved: the table entry is skipped. */
	assert_string_equal(acs_mapper_status_to_state(m, "Task", "in progress", NULL, "Resolved"),
			    "Active");
	/* Table entries win over the category fallback: review is still Resolved's inverse
	 * only when nothing maps there by table. */
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "review", NULL, NULL), "Active");

	/* The ping-pong this prevents: ADO moves to Resolved, the ClickUp echo says "in
	 * progress", which must read back as Resolved, not Active. */
	json_t *fields = json_pack("{s:s,s:s,s:s}", "System.WorkItemType", "Bug", "System.Title",
				   "t", "System.State", "Resolved");
	struct acs_canon base, back;
	struct acs_clickup_write wr = { 0 };
	acs_canon_init(&base);
	acs_canon_init(&back);
	assert_int_equal(acs_mapper_from_ado(m, fields, &base, NULL), 0);
	assert_int_equal(acs_mapper_clickup_update(m, &base, ACS_F_STATE, NULL, &wr, NULL), 0);
	assert_string_equal(json_string_value(json_object_get(wr.body, "status")), "in progress");
	json_t *task = json_pack("{s:s,s:{s:s,s:s}}", "id", "t1", "status", "status", "in progress",
				 "type", "custom");
	assert_int_equal(acs_mapper_from_clickup(m, task, &base, &back, NULL), 0);
	assert_string_equal(back.state, "Resolved");
	assert_int_equal(acs_canon_diff(&base, &back), 0);
	/* A real move in ClickUp is still a change. */
	json_object_set_new(task, "status",
			    json_pack("{s:s,s:s}", "status", "complete", "type", "closed"));
	assert_int_equal(acs_mapper_from_clickup(m, task, &base, &back, NULL), 0);
	assert_string_equal(back.state, "Closed");
	assert_int_equal(acs_canon_diff(&base, &back), ACS_F_STATE);

	acs_mapper_clickup_write_clear(&wr);
	acs_canon_free(&base);
	acs_canon_free(&back);
	json_decref(task);
	json_decref(fields);
	world_free(&w);

	/* Resolved first in the table: it becomes the default inverse. */
	m = world_mapper(&w,
			 "status.Resolved = in progress\n"
			 "status.Active = in progress\n",
			 NULL, 0);
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "in progress", NULL, NULL), "Resol"
											     "ved");
	assert_string_equal(acs_mapper_status_to_state(m, "Bug", "in progress", NULL, "Active"),
			    "Active");
	world_free(&w);
}

/* ------------------------------------------------------------------------------------- */
/* Assignees, builders, notes                                                             */
/* ------------------------------------------------------------------------------------- */

static void test_users_override(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	struct acs_canon c, cur;
	struct acs_clickup_write wr = { 0 };
	acs_canon_init(&c);
	acs_canon_init(&cur);

	/* [users] wins: sam.ortiz@contoso.com is no list member's e-mail. */
	acs_canon_set_assignee(&c, "SAM.ORTIZ@contoso.com");
	acs_canon_set_assignee(&cur, "riley.park@example.com");
	assert_int_equal(acs_mapper_clickup_update(m, &c, ACS_F_ASSIGNEE, &cur, &wr, NULL), 0);
	json_t *want = json_pack("{s:{s:[I],s:[I]}}", "assignees", "add", (json_int_t)54098741,
				 "rem", (json_int_t)54098742);
	assert_true(json_equal(wr.body, want));
	json_decref(want);

	/* An override also beats a member with the same e-mail. */
	world_free(&w);
	m = world_mapper(&w, NULL, NULL, 0);
	acs_config_free(w.cfg);
	w.cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(w.cfg, "o.ini",
						"[users]\nRiley.Park@example.com = 777\n"
						"[map demo]\nclickup_list_id = 1\n",
						NULL),
			 0);
	acs_mapper_free(m);
	char err[ACS_ERR_LEN];
	struct acs_mapper_ctx ctx = { .members = members, .n_members = ACS_ARRAY_SIZE(members) };
	m = w.m = acs_mapper_new(acs_config_map_find(w.cfg, "demo"), &w.cfg->users, &ctx, err);
	assert_non_null(m);
	acs_canon_set_assignee(&c, "riley.park@example.com");
	assert_int_equal(acs_mapper_clickup_create(m, &c, ACS_F_ASSIGNEE, &wr, NULL), 0);
	want = json_pack("{s:[I]}", "assignees", (json_int_t)777);
	assert_true(json_equal(wr.body, want));
	json_decref(want);
	/* And on reads: ClickUp user 777 is riley in ADO, whatever its ClickUp e-mail. */
	json_t *task = json_pack("{s:s,s:[{s:I,s:s}]}", "id", "t", "assignees", "id",
				 (json_int_t)777, "email", "rp@other.example");
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &cur, NULL), 0);
	assert_string_equal(cur.assignee, "riley.park@example.com");
	json_decref(task);

	acs_mapper_clickup_write_clear(&wr);
	acs_canon_free(&c);
	acs_canon_free(&cur);
	world_free(&w);
}

static void test_unknown_assignee(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	struct acs_canon c, cur;
	struct acs_clickup_write wr = { 0 };
	struct acs_mapper_notes notes;
	acs_canon_init(&c);
	acs_canon_init(&cur);
	acs_mapper_notes_init(&notes);
	acs_canon_set_title(&c, "t");
	acs_canon_set_assignee(&c, "nobody@elsewhere.example");
	acs_canon_set_assignee(&cur, "");
	assert_int_equal(acs_mapper_clickup_update(m, &c, ACS_F_ALL, &cur, &wr, &notes), 0);
	assert_true(has_note(&notes, ACS_NOTE_UNKNOWN_ASSIGNEE));
	assert_non_null(strstr(notes.v[0].msg, "nobody@elsewhere.example"));
	assert_int_equal(notes.v[0].field, ACS_F_ASSIGNEE);
	/* The rest is still written. */
	assert_null(json_object_get(wr.body, "assignees"));
	assert_string_equal(json_string_value(json_object_get(wr.body, "name")), "t");
	acs_mapper_clickup_write_clear(&wr);

	/* Unassigning removes the previous assignee only. */
	acs_canon_set_assignee(&c, "");
	acs_canon_set_assignee(&cur, "avery.chen@example.com");
	assert_int_equal(acs_mapper_clickup_update(m, &c, ACS_F_ASSIGNEE, &cur, &wr, NULL), 0);
	json_t *want =
		json_pack("{s:{s:[],s:[I]}}", "assignees", "add", "rem", (json_int_t)54098740);
	assert_true(json_equal(wr.body, want));
	json_decref(want);

	/* ADO accepts any e-mail; a known identity is written as its e-mail (uniqueName) too. */
	acs_canon_set_assignee(&c, "nobody@elsewhere.example");
	json_t *ops = acs_mapper_ado_patch(m, &c, ACS_F_ASSIGNEE, &cur, NULL);
	want = json_pack("[{s:s,s:s,s:s}]", "op", "replace", "path", "/fields/System.AssignedTo",
			 "value", "nobody@elsewhere.example");
	assert_true(json_equal(ops, want));
	json_decref(want);
	json_decref(ops);
	acs_canon_set_assignee(&c, "sam.ortiz@contoso.com");
	ops = acs_mapper_ado_patch(m, &c, ACS_F_ASSIGNEE, NULL, NULL);
	want = json_pack("[{s:s,s:s,s:s}]", "op", "add", "path", "/fields/System.AssignedTo",
			 "value", "sam.ortiz@contoso.com");
	assert_true(json_equal(ops, want));
	json_decref(want);
	json_decref(ops);

	acs_mapper_clickup_write_clear(&wr);
	acs_canon_free(&c);
	acs_canon_free(&cur);
	world_free(&w);
}

static void test_builders(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	struct acs_canon c, cur;
	build_case(&rt_cases[0], &c);
	acs_canon_init(&cur);

	/* ADO create: "add" for every non-empty field, in a fixed order. */
	json_t *ops = acs_mapper_ado_create(m, &c, ACS_F_ALL & ~ACS_F_CUSTOM, NULL);
	char *got = json_dumps(ops, JSON_COMPACT);
	char *html = NULL;
	assert_int_equal(acs_markdown_to_html(c.description, strlen(c.description), &html, NULL),
			 0);
	json_t *want = json_pack("[{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:i},"
				 "{s:s,s:s,s:s},{s:s,s:s,s:s},{s:s,s:s,s:s}]",
				 "op", "add", "path", "/fields/System.Title", "value", c.title,
				 "op", "add", "path", "/fields/System.Description", "value", html,
				 "op", "add", "path", "/fields/System.State", "value", "Active",
				 "op", "add", "path", "/fields/Microsoft.VSTS.Common.Priority",
				 "value", 1, "op", "add", "path", "/fields/System.AssignedTo",
				 "value", "sam.ortiz@contoso.com", "op", "add", "path",
				 "/fields/System.Tags", "value", "backend; needs review; sync",
				 "op", "add", "path", "/fields/Microsoft.VSTS.Scheduling.DueDate",
				 "value", "2026-03-29T00:59:59Z");
	if (!json_equal(ops, want))
		fail_msg("ado create: %s", got);
	free(got);
	free(html);
	json_decref(want);
	json_decref(ops);

	/* ADO update against current: replace what has a value, remove cleared fields,
	 * skip clearing what is already empty. */
	struct acs_canon empty;
	build_case(&rt_cases[1], &empty);
	ops = acs_mapper_ado_patch(m, &empty, ACS_F_ALL & ~ACS_F_CUSTOM, &c, NULL);
	want = json_pack("[{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},"
			 "{s:s,s:s}]",
			 "op", "replace", "path", "/fields/System.Title", "value",
			 "Empty everything", "op", "remove", "path", "/fields/System.Description",
			 "op", "replace", "path", "/fields/System.State", "value", "New", "op",
			 "remove", "path", "/fields/Microsoft.VSTS.Common.Priority", "op", "remove",
			 "path", "/fields/System.AssignedTo", "op", "remove", "path",
			 "/fields/System.Tags", "op", "remove", "path",
			 "/fields/Microsoft.VSTS.Scheduling.DueDate");
	got = json_dumps(ops, JSON_COMPACT);
	if (!json_equal(ops, want))
		fail_msg("ado update: %s", got);
	free(got);
	json_decref(want);
	json_decref(ops);
	ops = acs_mapper_ado_patch(m, &empty, ACS_F_DESCRIPTION | ACS_F_TAGS, &empty, NULL);
	assert_int_equal(json_array_size(ops), 0);
	json_decref(ops);
	/* Without current a clear writes the empty value (ADO clears with "" or null). */
	ops = acs_mapper_ado_patch(m, &empty, ACS_F_PRIORITY | ACS_F_ASSIGNEE, NULL, NULL);
	want = json_pack("[{s:s,s:s,s:n},{s:s,s:s,s:s}]", "op", "add", "path",
			 "/fields/Microsoft.VSTS.Common.Priority", "value", "op", "add", "path",
			 "/fields/System.AssignedTo", "value", "");
	assert_true(json_equal(ops, want));
	json_decref(want);
	json_decref(ops);

	/* ClickUp create: one body, assignees as an array, tags and custom fields inside. */
	struct acs_clickup_write wr = { 0 };
	assert_int_equal(acs_mapper_clickup_create(m, &c, ACS_F_ALL, &wr, NULL), 0);
	assert_int_equal(wr.n_tags_add + wr.n_tags_rem + wr.n_fields, 0);
	want = json_pack("{s:s,s:s,s:s,s:i,s:I,s:b,s:[I],s:[s,s,s],s:["
			 "{s:s,s:[s,s]},{s:s,s:b},{s:s,s:s},{s:s,s:I},{s:s,s:s},{s:s,s:i}]}",
			 "name", c.title, "markdown_content", c.description, "status",
			 "in progress", "priority", 1, "due_date", (json_int_t)c.due_ms,
			 "due_date_time", 1, "assignees", (json_int_t)54098741, "tags", "backend",
			 "needs review", "sync", "custom_fields", "id", F_LABELS, "value", "l-1",
			 "l-2", "id", F_CHECK, "value", 1, "id", F_TEXT, "value", "free text ✓",
			 "id", F_DATE, "value", (json_int_t)iso("2026-01-21T14:00:00Z"), "id",
			 F_DROP, "value", "b2c3d4e5-f6a7-4890-9bcd-ef0123456789", "id", F_NUMBER,
			 "value", 1042);
	got = json_dumps(wr.body, JSON_COMPACT);
	if (!json_equal(wr.body, want))
		fail_msg("clickup create: %s", got);
	free(got);
	json_decref(want);

	/* ClickUp update of cleared values: description " ", nulls, tag and field removals. */
	assert_int_equal(acs_mapper_clickup_update(m, &empty, ACS_F_ALL, &c, &wr, NULL), 0);
	want = json_pack("{s:s,s:s,s:s,s:n,s:n,s:b,s:{s:[],s:[I]}}", "name", "Empty everything",
			 "description", " ", "status", "to do", "priority", "due_date",
			 "due_date_time", 0, "assignees", "add", "rem", (json_int_t)54098741);
	got = json_dumps(wr.body, JSON_COMPACT);
	if (!json_equal(wr.body, want))
		fail_msg("clickup update: %s", got);
	free(got);
	json_decref(want);
	assert_int_equal(wr.n_tags_add, 0);
	assert_int_equal(wr.n_tags_rem, 3);
	assert_string_equal(wr.tags_rem[1], "needs review");
	assert_int_equal(wr.n_fields, 6);
	for (size_t i = 0; i < wr.n_fields; i++)
		assert_null(wr.fields[i].value);
	assert_int_equal(acs_mapper_clickup_write_count(&wr), 1 + 3 + 6);

	/* Only the tags that differ move. */
	const char *t1[] = { "Sync", "new one" };
	acs_canon_set_tags(&empty, t1, 2);
	assert_int_equal(acs_mapper_clickup_update(m, &empty, ACS_F_TAGS, &c, &wr, NULL), 0);
	assert_null(wr.body);
	assert_int_equal(wr.n_tags_add, 1);
	assert_string_equal(wr.tags_add[0], "new one");
	assert_int_equal(wr.n_tags_rem, 2);
	assert_string_equal(wr.tags_rem[0], "backend");
	assert_string_equal(wr.tags_rem[1], "needs review");

	/* A value no option matches is noted, not sent. */
	struct acs_mapper_notes notes;
	acs_mapper_notes_init(&notes);
	json_t *bad = json_string("no such option");
	acs_canon_set_custom(&empty, "Custom.SyncState", bad);
	json_decref(bad);
	assert_int_equal(acs_mapper_clickup_update(m, &empty, ACS_F_CUSTOM, &c, &wr, &notes), 0);
	assert_true(has_note(&notes, ACS_NOTE_CUSTOM));
	for (size_t i = 0; i < wr.n_fields; i++)
		assert_string_not_equal(wr.fields[i].field_id, F_DROP);

	acs_mapper_clickup_write_clear(&wr);
	acs_mapper_clickup_write_clear(NULL);
	acs_canon_free(&empty);
	acs_canon_free(&cur);
	acs_canon_free(&c);
	world_free(&w);
}

static void test_custom_values(void **state)
{
	(void)state;
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	/* ADO side: value types are normalised by the ClickUp field type. */
	json_t *fields = json_pack("{s:s,s:s,s:s,s:f,s:s,s:s,s:s,s:s}", "System.Title", "t",
				   "Custom.WorkItem", "12", "Custom.SyncState", "CONFLICT",
				   "Custom.Blocked", 0.0, "Custom.Areas", " gamma RAY ;alpha;;",
				   "Custom.Start", "2026-01-21T14:00:00.5+02:00", "Custom.Note",
				   "n", "System.Tags", "");
	struct acs_canon c;
	struct acs_mapper_notes notes;
	acs_canon_init(&c);
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_ado(m, fields, &c, &notes), 0);
	/* Blocked 0.0 is a real, not a boolean: noted, left out. */
	assert_true(has_note(&notes, ACS_NOTE_CUSTOM));
	assert_null(acs_canon_get_custom(&c, "Custom.Blocked"));
	assert_int_equal(json_integer_value(acs_canon_get_custom(&c, "Custom.WorkItem")->value),
			 12);
	/* Spelled as the ClickUp option is, so a picklist's case is no change. */
	assert_string_equal(json_string_value(acs_canon_get_custom(&c, "Custom.SyncState")->value),
			    "conflict");
	assert_string_equal(json_string_value(acs_canon_get_custom(&c, "Custom.Areas")->value),
			    "Alpha; Gamma ray");
	assert_string_equal(json_string_value(acs_canon_get_custom(&c, "Custom.Start")->value),
			    "2026-01-21T12:00:00Z");
	assert_int_equal(c.n_tags, 0);
	json_object_set_new(fields, "Custom.WorkItem", json_string("twelve"));
	json_object_set_new(fields, "Custom.Blocked", json_string("True"));
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_ado(m, fields, &c, &notes), 0);
	assert_null(acs_canon_get_custom(&c, "Custom.WorkItem"));
	assert_true(json_is_true(acs_canon_get_custom(&c, "Custom.Blocked")->value));
	assert_int_equal(notes.n, 1);
	assert_int_equal(notes.v[0].kind, ACS_NOTE_CUSTOM);
	json_decref(fields);
	acs_canon_free(&c);
	world_free(&w);

	/* A mapped field of a type we do not sync: noted on every read. */
	m = world_mapper(&w, "custom.Custom.Reviewers = " F_USERS "\n", NULL, 0);
	json_t *task = json_pack("{s:s,s:[{s:s,s:s,s:[]}]}", "id", "t", "custom_fields", "id",
				 F_USERS, "type", "users", "value");
	acs_canon_init(&c);
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &c, &notes), 0);
	assert_null(acs_canon_get_custom(&c, "Custom.Reviewers"));
	assert_true(has_note(&notes, ACS_NOTE_CUSTOM));
	bool seen = false;
	for (size_t i = 0; i < notes.n; i++)
		seen |= strstr(notes.v[i].msg, "Custom.Reviewers") && strstr(notes.v[i].msg, "not "
											     "suppo"
											     "rte"
											     "d");
	assert_true(seen);
	json_decref(task);
	acs_canon_free(&c);
	world_free(&w);
}

static void test_mapper_new_errors(void **state)
{
	(void)state;
	static const struct {
		const char *ini;
		const char *msg;
	} cases[] = {
		{ "[map demo]\nstatus.Active = qa\n", "status.Active: the ClickUp list has no "
						      "status 'qa'" },
		{ "[map demo]\nstatus.Doing = review\n", "no work item type has state 'Doing'" },
		{ "[map demo]\n", "users.a@b.c: 'bob' is not a ClickUp user id" },
		{ "[map demo]\ncustom.Custom.X = nope\n", "no custom field 'nope'" },
	};
	json_t *defs = json_loads(field_defs_json, 0, NULL);
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cases); i++) {
		struct acs_config *cfg = acs_config_new_defaults();
		assert_int_equal(acs_config_load_string(cfg, "bad.ini", cases[i].ini, NULL), 0);
		struct acs_mapper_ctx ctx = {
			.types = agile_types,
			.n_types = ACS_ARRAY_SIZE(agile_types),
			.statuses = list_statuses,
			.n_statuses = ACS_ARRAY_SIZE(list_statuses),
			.clickup_fields = defs,
		};
		char err[ACS_ERR_LEN] = "";
		/* config.c rejects such [users] lines itself; the mapper checks again. */
		struct acs_config_pair bob = { .key = "a@b.c", .value = "bob", .file = "u.ini" };
		struct acs_config_pairs users = { .v = &bob, .n = i == 2 };
		struct acs_mapper *m =
			acs_mapper_new(acs_config_map_find(cfg, "demo"), &users, &ctx, err);
		assert_null(m);
		if (!strstr(err, cases[i].msg))
			fail_msg("case %zu: %s", i, err);
		if (i != 2)
			assert_non_null(strstr(err, "bad.ini:2:"));
		/* Nothing learned yet: only the table maps, nothing to contradict. */
		if (i != 2) {
			m = acs_mapper_new(acs_config_map_find(cfg, "demo"), NULL, NULL, err);
			assert_non_null(m);
			acs_mapper_free(m);
		}
		acs_config_free(cfg);
	}
	json_decref(defs);
	acs_mapper_free(NULL);
}

/* ------------------------------------------------------------------------------------- */
/* Canonical value: diff, JSON, dates                                                     */
/* ------------------------------------------------------------------------------------- */

static void test_diff(void **state)
{
	(void)state;
	struct acs_canon a, b;
	acs_canon_init(&a);
	acs_canon_init(&b);
	assert_int_equal(acs_canon_diff(&a, &b), 0);
	assert_true(acs_canon_equal(&a, &b));

	acs_canon_set_title(&a, "x");
	assert_int_equal(acs_canon_diff(&a, &b), 0); /* only present in a */
	assert_false(acs_canon_equal(&a, &b));
	acs_canon_set_title(&b, "y");
	assert_int_equal(acs_canon_diff(&a, &b), ACS_F_TITLE);
	acs_canon_set_title(&b, "x");
	assert_int_equal(acs_canon_diff(&a, &b), 0);

	const char *ta[] = { "B", "a", "  a " }, *tb[] = { "a", "b" }, *tc[] = { "a" };
	acs_canon_set_tags(&a, ta, 3);
	acs_canon_set_tags(&b, tb, 2);
	assert_int_equal(a.n_tags, 2);
	assert_int_equal(acs_canon_diff(&a, &b), 0);
	acs_canon_set_tags(&b, tc, 1);
	assert_int_equal(acs_canon_diff(&a, &b), ACS_F_TAGS);

	acs_canon_set_priority(&a, 3);
	acs_canon_set_priority(&b, 9); /* out of range: none */
	assert_int_equal(b.priority, 0);
	acs_canon_set_due(&a, 1000999);
	acs_canon_set_due(&b, 1000000);
	acs_canon_set_state(&a, "Active");
	acs_canon_set_state(&b, "active"); /* state names are data: case matters */
	acs_canon_set_assignee(&a, "X@Y.z");
	acs_canon_set_assignee(&b, "x@y.z");
	assert_int_equal(acs_canon_set_description(&a, "*a*"), 0);
	assert_int_equal(acs_canon_set_description(&b, "_a_"), 0);
	assert_int_equal(acs_canon_diff(&a, &b), ACS_F_TAGS | ACS_F_PRIORITY | ACS_F_STATE);

	/* Custom: only refs present in both count. */
	json_t *one = json_integer(1), *onef = json_real(1.0), *two = json_string("2");
	assert_int_equal(acs_canon_set_custom(&a, "C.X", one), 0);
	assert_int_equal(acs_canon_set_custom(&b, "C.X", onef), 0);
	assert_int_equal(acs_canon_set_custom(&a, "C.Only", two), 0);
	assert_int_equal(acs_canon_diff(&a, &b) & ACS_F_CUSTOM, 0);
	assert_int_equal(acs_canon_set_custom(&b, "C.X", two), 0);
	assert_int_equal(acs_canon_diff(&a, &b) & ACS_F_CUSTOM, ACS_F_CUSTOM);
	json_t *arr = json_array();
	assert_int_equal(acs_canon_set_custom(&a, "C.Arr", arr), -EINVAL);
	json_decref(arr);
	json_decref(one);
	json_decref(onef);
	json_decref(two);

	/* copy is deep and equal. */
	struct acs_canon c;
	acs_canon_init(&c);
	acs_canon_copy(&c, &a);
	assert_true(acs_canon_equal(&a, &c));
	acs_canon_copy(&c, &c);
	acs_canon_free(&a);
	assert_true(acs_canon_equal(&b, &b));
	assert_int_equal(acs_canon_diff(&c, &b),
			 ACS_F_TAGS | ACS_F_PRIORITY | ACS_F_STATE | ACS_F_CUSTOM);
	acs_canon_free(&b);
	acs_canon_free(&c);
	acs_canon_free(NULL);
	assert_string_equal(acs_field_name(ACS_F_DUE), "due");
	assert_string_equal(acs_field_name(3), "?");
}

static void test_json_base(void **state)
{
	(void)state;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(rt_cases); i++) {
		struct acs_canon c, back;
		build_case(&rt_cases[i], &c);
		acs_canon_init(&back);
		json_t *j = acs_canon_to_json(&c);
		char *s1 = json_dumps(j, JSON_COMPACT);
		char *sorted = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		assert_string_equal(s1, sorted);
		json_t *j2 = json_loads(s1, 0, NULL);
		char err[ACS_ERR_LEN] = "";
		assert_int_equal(acs_canon_from_json(j2, &back, err), 0);
		assert_canon_equal("json", &c, &back);
		assert_string_equal(back.type, c.type);
		json_t *j3 = acs_canon_to_json(&back);
		char *s2 = json_dumps(j3, JSON_COMPACT);
		assert_string_equal(s1, s2);
		free(s1);
		free(s2);
		free(sorted);
		json_decref(j);
		json_decref(j2);
		json_decref(j3);
		acs_canon_free(&c);
		acs_canon_free(&back);
	}
	/* Partial bases keep their presence. */
	struct acs_canon c, back;
	acs_canon_init(&c);
	acs_canon_init(&back);
	acs_canon_set_state(&c, "New");
	json_t *j = acs_canon_to_json(&c);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "{\"state\":\"New\",\"v\":1}");
	free(s);
	assert_int_equal(acs_canon_from_json(j, &back, NULL), 0);
	assert_int_equal(back.present, ACS_F_STATE);
	json_decref(j);

	static const char *const bad[] = {
		"[]",
		"{\"v\": 2}",
		"{\"title\": 1}",
		"{\"priority\": 5}",
		"{\"due\": -1}",
		"{\"tags\": \"a; b\"}",
		"{\"custom\": {\"X\": [1]}}",
		"{\"colour\": \"red\"}",
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		char err[ACS_ERR_LEN] = "";
		json_t *b = json_loads(bad[i], 0, NULL);
		assert_non_null(b);
		assert_int_equal(acs_canon_from_json(b, &back, err), ACS_EPARSE);
		assert_true(err[0]);
		assert_int_equal(back.present, 0);
		json_decref(b);
	}
	acs_canon_free(&c);
	acs_canon_free(&back);
}

static void test_dates(void **state)
{
	(void)state;
	/* Nothing may depend on the local zone: run in one with DST. */
	setenv("TZ", "America/New_York", 1);
	tzset();
	static const struct {
		const char *in;
		int64_t ms;
	} ok[] = {
		{ "1970-01-01T00:00:00Z", 0 },
		{ "2026-01-21T00:00:00Z", INT64_C(1768953600000) },
		{ "2026-01-13T12:18:53.61Z", INT64_C(1768306733610) },
		{ "2026-01-13T12:08:49.9031775Z", INT64_C(1768306129903) },
		{ "2026-01-13T12:00:01.234Z", INT64_C(1768305601234) },
		{ "2026-01-13T12:00:01.2Z", INT64_C(1768305601200) },
		{ "2026-01-21T14:00:00+10:00", INT64_C(1768968000000) },
		{ "2026-01-21T04:00:00-10:00", INT64_C(1769004000000) },
		{ "2026-01-21T04:00:00-1000", INT64_C(1769004000000) },
		{ "2026-01-21T00:00:00", INT64_C(1768953600000) },
		{ "2026-01-21", INT64_C(1768953600000) },
		{ "2026-03-08T07:00:00Z", INT64_C(1772953200000) }, /* US spring-forward */
		{ "2024-02-29T23:59:59Z", INT64_C(1709251199000) },
		{ "9999-01-01T00:00:00Z", INT64_C(253370764800000) },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ok); i++) {
		int64_t ms = -1;
		if (acs_mapper_parse_iso(ok[i].in, &ms) || ms != ok[i].ms)
			fail_msg("%s -> %lld, want %lld", ok[i].in, (long long)ms,
				 (long long)ok[i].ms);
	}
	static const char *const bad[] = { "",
					   "2026-1-21",
					   "2026-13-01T00:00:00Z",
					   "2026-01-21T25:00:00Z",
					   "2026-01-21T00:00:00.Z",
					   "2026-01-21T00:00:00Zjunk",
					   "yesterday" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		int64_t ms;
		assert_int_equal(acs_mapper_parse_iso(bad[i], &ms), ACS_EPARSE);
	}
	assert_int_equal(acs_mapper_parse_iso(NULL, NULL), ACS_EPARSE);
	char buf[32];
	acs_mapper_format_iso(INT64_C(1768953599999), true, buf);
	assert_string_equal(buf, "2026-01-20T23:59:59.999Z");
	acs_mapper_format_iso(INT64_C(1768953599999), false, buf);
	assert_string_equal(buf, "2026-01-20T23:59:59Z");
	acs_mapper_format_iso(INT64_C(1768953600000), true, buf);
	assert_string_equal(buf, "2026-01-21T00:00:00Z");
	acs_mapper_format_iso(-1, true, buf);
	assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
	/* Every second across two days around midnight, and a DST date, round-trip. */
	for (int64_t base = INT64_C(1768953600000) - 86400000;
	     base < INT64_C(1768953600000) + 86400000; base += 1000) {
		int64_t back;
		acs_mapper_format_iso(base, false, buf);
		assert_int_equal(acs_mapper_parse_iso(buf, &back), 0);
		assert_int_equal(back, base);
	}
	/* The due date is an instant at second precision, whatever its fraction on the wire. */
	struct world w;
	struct acs_mapper *m = world_mapper(&w, NULL, NULL, 0);
	json_t *fields = json_pack("{s:s,s:s}", "Microsoft.VSTS.Scheduling.TargetDate",
				   "2026-11-01T05:59:59.9999999Z", "System.Title", "t");
	struct acs_canon c;
	acs_canon_init(&c);
	assert_int_equal(acs_mapper_from_ado(m, fields, &c, NULL), 0);
	assert_int_equal(c.due_ms, iso("2026-11-01T05:59:59Z")); /* TargetDate tolerated */
	json_object_set_new(fields, "Microsoft.VSTS.Scheduling.DueDate", json_string("nope"));
	struct acs_mapper_notes notes;
	acs_mapper_notes_init(&notes);
	assert_int_equal(acs_mapper_from_ado(m, fields, &c, &notes), 0);
	assert_false(c.present & ACS_F_DUE);
	assert_true(has_note(&notes, ACS_NOTE_BAD_VALUE));
	json_decref(fields);
	acs_canon_free(&c);
	world_free(&w);
	unsetenv("TZ");
	tzset();
}

/* A mapping's priority_map: ADO 1 and 2 both write ClickUp urgent; urgent reads back as
 * the base's priority when that maps to it, else the first; a ClickUp priority no ADO
 * priority maps to is noted and not synced. */
static void test_priority_map(void **state)
{
	(void)state;
	struct acs_config *cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(cfg, "p.ini",
						"[map demo]\nado_project = P\n"
						"clickup_list_id = 1\n",
						NULL),
			 0);
	struct acs_mapper_ctx ctx = { .clickup_priority = { 0, 1, 1, 3, 4 } };
	char err[ACS_ERR_LEN] = "";
	struct acs_mapper *m = acs_mapper_new(acs_config_map_find(cfg, "demo"), NULL, &ctx, err);
	assert_non_null(m);
	struct acs_canon c, base, out;
	acs_canon_init(&c);
	acs_canon_init(&base);
	acs_canon_init(&out);
	struct acs_clickup_write w = { 0 };
	acs_canon_set_priority(&c, 2);
	assert_int_equal(acs_mapper_clickup_update(m, &c, ACS_F_PRIORITY, NULL, &w, NULL), 0);
	assert_int_equal(json_integer_value(json_object_get(w.body, "priority")), 1);
	acs_mapper_clickup_write_clear(&w);

	json_t *task = json_pack("{s:s,s:{s:s,s:s}}", "id", "t1", "priority", "id", "1", "priority",
				 "urgent");
	acs_canon_set_priority(&base, 2);
	assert_int_equal(acs_mapper_from_clickup(m, task, &base, &out, NULL), 0);
	assert_int_equal(out.priority, 2);
	acs_canon_set_priority(&base, 4);
	assert_int_equal(acs_mapper_from_clickup(m, task, &base, &out, NULL), 0);
	assert_int_equal(out.priority, 1);
	json_decref(task);

	struct acs_mapper_notes notes;
	acs_mapper_notes_init(&notes);
	task = json_pack("{s:s,s:{s:s,s:s}}", "id", "t1", "priority", "id", "2", "priority",
			 "high");
	assert_int_equal(acs_mapper_from_clickup(m, task, NULL, &out, &notes), 0);
	assert_false(out.present & ACS_F_PRIORITY);
	assert_true(has_note(&notes, ACS_NOTE_BAD_VALUE));
	json_decref(task);
	acs_canon_free(&c);
	acs_canon_free(&base);
	acs_canon_free(&out);
	acs_mapper_free(m);
	acs_config_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_map),
		cmocka_unit_test(test_ado_example),
		cmocka_unit_test(test_ado_fixtures),
		cmocka_unit_test(test_ado_identities),
		cmocka_unit_test(test_clickup_webhook_items),
		cmocka_unit_test(test_clickup_example),
		cmocka_unit_test(test_clickup_details),
		cmocka_unit_test(test_roundtrip_ado),
		cmocka_unit_test(test_roundtrip_clickup),
		cmocka_unit_test(test_roundtrip_cross),
		cmocka_unit_test(test_state_fallbacks),
		cmocka_unit_test(test_state_ambiguity),
		cmocka_unit_test(test_users_override),
		cmocka_unit_test(test_unknown_assignee),
		cmocka_unit_test(test_builders),
		cmocka_unit_test(test_custom_values),
		cmocka_unit_test(test_mapper_new_errors),
		cmocka_unit_test(test_diff),
		cmocka_unit_test(test_json_base),
		cmocka_unit_test(test_dates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
