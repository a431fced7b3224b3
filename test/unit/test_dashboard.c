/* SPDX-License-Identifier: MIT */
/* Unit tests of the dashboard API: query-string validation, sync-log WHERE
 * building and LIKE escaping, mapping validation, item links, and the store
 * job bodies run on a freshly migrated in-memory database. */
#include "test_util.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "dashboard.h"
#include "err.h"
#include "store_schema.h"

/* --- query strings ----------------------------------------------------------------- */

static void test_page_bounds(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN];
	unsigned page, limit;
	assert_int_equal(acs_dashboard_parse_page("", &page, &limit, err), 0);
	assert_int_equal(page, 1);
	assert_int_equal(limit, 50);
	assert_int_equal(acs_dashboard_parse_page("page=3&limit=200", &page, &limit, err), 0);
	assert_int_equal(page, 3);
	assert_int_equal(limit, 200);
	assert_int_equal(acs_dashboard_parse_page("limit=1", &page, &limit, err), 0);
	assert_int_equal(limit, 1);

	static const char *const bad[] = { "limit=0",  "limit=201", "page=0",
					   "page=-1",  "limit=1e2", "limit=",
					   "page=abc", "limit=+5",  "page=99999999999999999999" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(acs_dashboard_parse_page(bad[i], &page, &limit, err), ACS_EPARSE);
		/* The message names the parameter. */
		assert_true(strncmp(err, bad[i], strcspn(bad[i], "=")) == 0);
	}
}

static void test_log_filter(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN];
	struct acs_dashboard_log_filter f;
	assert_int_equal(acs_dashboard_log_filter_parse("status=error&direction=clickup_to_ado"
							"&map=7&q=a%25b&page=2&limit=10",
							&f, err),
			 0);
	assert_string_equal(f.status, "error");
	assert_string_equal(f.direction, "clickup_to_ado");
	assert_int_equal(f.map_id, 7);
	assert_string_equal(f.q, "a%b");
	assert_int_equal(f.page, 2);
	assert_int_equal(f.limit, 10);
	acs_dashboard_log_filter_clear(&f);

	/* Empty values mean "any", as an HTML form sends them. */
	assert_int_equal(acs_dashboard_log_filter_parse("status=&direction=&map=&q=", &f, err), 0);
	assert_string_equal(f.status, "");
	assert_null(f.q);
	acs_dashboard_log_filter_clear(&f);

	static const char *const bad[] = { "status=done", "direction=up", "map=0", "map=x",
					   "limit=0" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		assert_int_equal(acs_dashboard_log_filter_parse(bad[i], &f, err), ACS_EPARSE);
		assert_true(strncmp(err, bad[i], strcspn(bad[i], "=")) == 0);
		acs_dashboard_log_filter_clear(&f);
	}
	char longq[300];
	memset(longq, 'x', sizeof(longq));
	memcpy(longq, "q=", 2);
	longq[sizeof(longq) - 1] = '\0';
	assert_int_equal(acs_dashboard_log_filter_parse(longq, &f, err), ACS_EPARSE);
	acs_dashboard_log_filter_clear(&f);
}

static void test_log_where(void **state)
{
	(void)state;
	struct acs_dashboard_log_filter f = { .page = 1, .limit = 50 };
	char *w = acs_dashboard_log_where(&f);
	assert_string_equal(w, "");
	free(w);

	snprintf(f.status, sizeof(f.status), "ok");
	f.map_id = 3;
	w = acs_dashboard_log_where(&f);
	assert_string_equal(w, " WHERE l.status = :status AND l.map_id = :map");
	free(w);

	f.status[0] = '\0';
	f.map_id = 0;
	snprintf(f.direction, sizeof(f.direction), "none");
	f.q = (char *)"x";
	f.after_id = 9;
	w = acs_dashboard_log_where(&f);
	assert_string_equal(w, " WHERE l.direction = :dir AND (CAST(l.ado_id AS TEXT) LIKE :q "
			       "ESCAPE '\\' OR l.clickup_id LIKE :q ESCAPE '\\' OR l.message LIKE "
			       ":q ESCAPE '\\') AND l.id > :after");
	free(w);
}

static void test_like_pattern(void **state)
{
	(void)state;
	char *p = acs_dashboard_like_pattern("50%_a\\b");
	assert_string_equal(p, "%50\\%\\_a\\\\b%");
	free(p);
	p = acs_dashboard_like_pattern("");
	assert_string_equal(p, "%%");
	free(p);
}

/* --- mapping validation ---------------------------------------------------------------- */

static int parse_map(const char *text, bool create, struct acs_dashboard_map *m, char *err)
{
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	int rc = acs_dashboard_map_parse(j, create, m, err);
	json_decref(j);
	return rc;
}

static void test_map_parse(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN];
	struct acs_dashboard_map m;
	assert_int_equal(parse_map("{\"name\": \"web\", \"ado_project\": \"P\","
				   " \"clickup_list_id\": \"901\", \"id\": 5, \"source\": \"file\","
				   " \"status_map\": {\"New\": \"to do\"},"
				   " \"priority_map\": {\"1\": \"high\"},"
				   " \"ado_work_item_types\": [\"Bug\"], \"on_delete\": \"ignore\","
				   " \"copy_existing_comments\": false, \"future\": 1}",
				   true, &m, err),
			 0);
	assert_string_equal(m.name, "web");
	assert_string_equal(m.status_map, "{\"New\":\"to do\"}");
	assert_string_equal(m.priority_map, "{\"1\":\"high\"}");
	assert_string_equal(m.ado_work_item_types, "[\"Bug\"]");
	assert_string_equal(m.on_delete, "ignore");
	assert_int_equal(m.copy_existing_comments, 0);
	assert_null(m.ado_area_path);
	acs_dashboard_map_clear(&m);

	/* An update may name any subset. */
	assert_int_equal(parse_map("{\"ado_area_path\": \"\"}", false, &m, err), 0);
	assert_string_equal(m.ado_area_path, "");
	assert_null(m.name);
	assert_int_equal(m.copy_existing_comments, -1);
	acs_dashboard_map_clear(&m);

	static const struct {
		const char *body;
		bool create;
		const char *field;
	} bad[] = {
		{ "{\"ado_project\": \"P\", \"clickup_list_id\": \"1\"}", true, "name:" },
		{ "{\"name\": \"\", \"ado_project\": \"P\", \"clickup_list_id\": \"1\"}", true,
		  "name:" },
		{ "{\"name\": \"n\", \"clickup_list_id\": \"1\"}", true, "ado_project:" },
		{ "{\"name\": \"n\", \"ado_project\": \"P\"}", true, "clickup_list_id:" },
		{ "{\"clickup_list_id\": \"a b\"}", false, "clickup_list_id:" },
		{ "{\"name\": 5}", false, "name:" },
		{ "{\"status_map\": []}", false, "status_map:" },
		{ "{\"status_map\": {\"New\": 1}}", false, "status_map:" },
		{ "{\"priority_map\": {\"5\": \"low\"}}", false, "priority_map:" },
		{ "{\"priority_map\": {\"1\": \"asap\"}}", false, "priority_map:" },
		{ "{\"custom_map\": {\"\": \"x\"}}", false, "custom_map:" },
		{ "{\"ado_work_item_types\": []}", false, "ado_work_item_types:" },
		{ "{\"ado_work_item_types\": [\"\"]}", false, "ado_work_item_types:" },
		{ "{\"on_delete\": \"archive\"}", false, "on_delete:" },
		{ "{\"copy_existing_comments\": 1}", false, "copy_existing_comments:" },
		{ "{\"ado_new_item_type\": \"\"}", false, "ado_new_item_type:" },
		{ "{\"name\": \"a\\nb\"}", false, "name:" },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		err[0] = '\0';
		assert_int_equal(parse_map(bad[i].body, bad[i].create, &m, err), ACS_EPARSE);
		if (strncmp(err, bad[i].field, strlen(bad[i].field)) != 0)
			fail_msg("%s: error '%s' does not start with %s", bad[i].body, err,
				 bad[i].field);
		assert_null(m.name);
	}
	json_t *arr = json_array();
	assert_int_equal(acs_dashboard_map_parse(arr, false, &m, err), ACS_EPARSE);
	json_decref(arr);

	/* An embedded NUL (only a parser allowing it lets one through) is refused, not cut. */
	json_t *nul = json_loads("{\"name\": \"ab\\u0000cd\"}", JSON_ALLOW_NUL, NULL);
	assert_non_null(nul);
	err[0] = '\0';
	assert_int_equal(acs_dashboard_map_parse(nul, false, &m, err), ACS_EPARSE);
	assert_memory_equal(err, "name:", 5);
	assert_null(m.name);
	json_decref(nul);
}

/* --- links ------------------------------------------------------------------------------- */

static struct acs_config *config_of(const char *ini)
{
	struct acs_config *cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(cfg, "test.ini", ini, NULL), 0);
	return cfg;
}

static void test_links(void **state)
{
	(void)state;
	struct acs_config *cfg = config_of("[ado]\norganization = acme\nproject = Big Project\n"
					   "[clickup]\nbase_url = "
					   "https://api.clickup.com/api/v2\n");
	char *u = acs_dashboard_ado_url(cfg, NULL, 42);
	assert_string_equal(u, "https://dev.azure.com/acme/Big%20Project/_workitems/edit/42");
	free(u);
	u = acs_dashboard_ado_url(cfg, "Other", 7);
	assert_string_equal(u, "https://dev.azure.com/acme/Other/_workitems/edit/7");
	free(u);
	assert_null(acs_dashboard_ado_url(cfg, NULL, 0));
	u = acs_dashboard_clickup_url(cfg, "86abc");
	assert_string_equal(u, "https://app.clickup.com/t/86abc");
	free(u);
	acs_config_free(cfg);

	cfg = config_of("[ado]\nbase_url = http://127.0.0.1:4100\n"
			"[clickup]\nbase_url = http://127.0.0.1:4200/api/v2\n");
	assert_null(acs_dashboard_ado_url(cfg, "P", 1)); /* no organization */
	u = acs_dashboard_clickup_url(cfg, "t1");
	assert_string_equal(u, "http://127.0.0.1:4200/t/t1");
	free(u);
	acs_config_free(cfg);
}

/* --- store job bodies on a migrated database -------------------------------------------- */

static sqlite3 *db_new(void)
{
	sqlite3 *db = NULL;
	char err[ACS_ERR_LEN];
	assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), 0);
	assert_int_equal(acs_store_schema_migrate(db, err), 0);
	return db;
}

static void exec_ok(sqlite3 *db, const char *sql)
{
	char *msg = NULL;
	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int64_t query_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_db_maps(void **state)
{
	(void)state;
	sqlite3 *db = db_new();
	char err[ACS_ERR_LEN];
	struct acs_dashboard_map m;
	json_t *out = NULL;

	assert_int_equal(parse_map("{\"name\": \"web\", \"ado_project\": \"P\","
				   " \"clickup_list_id\": \"901\"}",
				   true, &m, err),
			 0);
	assert_int_equal(acs__dashboard_db_map_save(db, 0, &m, 1000, &out, err), 0);
	int64_t id = json_integer_value(json_object_get(out, "id"));
	assert_true(id > 0);
	/* Defaults, including the fixed priority table. */
	assert_string_equal(json_string_value(json_object_get(out, "source")), "db");
	assert_string_equal(json_string_value(json_object_get(out, "ado_area_path")), "");
	assert_string_equal(json_string_value(json_object_get(out, "ado_new_item_type")), "Task");
	assert_int_equal(json_array_size(json_object_get(out, "ado_work_item_types")), 3);
	json_t *prio = json_object_get(out, "priority_map");
	assert_string_equal(json_string_value(json_object_get(prio, "1")), "urgent");
	assert_string_equal(json_string_value(json_object_get(prio, "4")), "low");
	assert_string_equal(json_string_value(json_object_get(out, "on_delete")), "close");
	assert_true(json_is_true(json_object_get(out, "copy_existing_comments")));
	assert_int_equal(json_integer_value(json_object_get(out, "created_at")), 1000);
	json_decref(out);

	/* The same name again: conflict naming the field. */
	assert_int_equal(acs__dashboard_db_map_save(db, 0, &m, 1001, &out, err), ACS_ECONFLICT);
	assert_true(strncmp(err, "name:", 5) == 0);
	assert_null(out);
	acs_dashboard_map_clear(&m);

	/* A partial update keeps the rest. */
	assert_int_equal(parse_map("{\"status_map\": {\"Active\": \"in progress\"},"
				   " \"on_delete\": \"ignore\"}",
				   false, &m, err),
			 0);
	assert_int_equal(acs__dashboard_db_map_save(db, id, &m, 2000, &out, err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "name")), "web");
	assert_string_equal(json_string_value(json_object_get(out, "on_delete")), "ignore");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(out, "status_map"), "Active")),
		"in progress");
	assert_int_equal(json_integer_value(json_object_get(out, "updated_at")), 2000);
	json_decref(out);
	assert_int_equal(acs__dashboard_db_map_save(db, id + 100, &m, 2000, &out, err),
			 ACS_ENOTFOUND);
	acs_dashboard_map_clear(&m);

	/* A file mapping is read-only. */
	exec_ok(db, "INSERT INTO project_map (name, source, ado_project, clickup_list_id,"
		    " created_at, updated_at) VALUES ('fromfile', 'file', 'P', '902', 1, 1)");
	int64_t fid = query_int(db, "SELECT id FROM project_map WHERE name = 'fromfile'");
	assert_int_equal(parse_map("{\"on_delete\": \"delete\"}", false, &m, err), 0);
	assert_int_equal(acs__dashboard_db_map_save(db, fid, &m, 3000, &out, err), -EPERM);
	assert_non_null(strstr(err, "config"));
	acs_dashboard_map_clear(&m);
	assert_int_equal(acs__dashboard_db_map_delete(db, fid, err), -EPERM);

	/* List (by name) and get. */
	assert_int_equal(acs__dashboard_db_maps(db, 0, &out, err), 0);
	json_t *items = json_object_get(out, "items");
	assert_int_equal(json_array_size(items), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "name")),
			    "fromfile");
	json_decref(out);
	assert_int_equal(acs__dashboard_db_maps(db, fid, &out, err), 0);
	assert_string_equal(json_string_value(json_object_get(out, "source")), "file");
	json_decref(out);

	/* Delete; deleting again is not found. */
	assert_int_equal(acs__dashboard_db_map_delete(db, id, err), 0);
	assert_int_equal(acs__dashboard_db_map_delete(db, id, err), ACS_ENOTFOUND);
	assert_int_equal(acs__dashboard_db_maps(db, id, &out, err), ACS_ENOTFOUND);
	sqlite3_close(db);
}

static json_t *log_page(sqlite3 *db, const struct acs_config *cfg, const char *qs)
{
	char err[ACS_ERR_LEN];
	struct acs_dashboard_log_filter f;
	json_t *out = NULL;
	assert_int_equal(acs_dashboard_log_filter_parse(qs, &f, err), 0);
	if (acs__dashboard_db_log(db, cfg, &f, &out, err) != 0)
		fail_msg("%s: %s", qs, err);
	acs_dashboard_log_filter_clear(&f);
	return out;
}

static size_t n_items(const json_t *page)
{
	return json_array_size(json_object_get(page, "items"));
}

static int64_t total_of(const json_t *page)
{
	return json_integer_value(json_object_get(page, "total"));
}

static void test_db_log(void **state)
{
	(void)state;
	sqlite3 *db = db_new();
	struct acs_config *cfg = config_of("[ado]\norganization = acme\nproject = Default\n");
	exec_ok(db, "INSERT INTO project_map (id, name, ado_project, clickup_list_id, created_at,"
		    " updated_at) VALUES (1, 'web', 'Web App', '901', 1, 1)");
	/* 25 rows: odd ids ok a->c on map 1, even ids error c->a without a map. */
	for (int i = 1; i <= 25; i++) {
		char sql[512];
		snprintf(sql, sizeof(sql),
			 "INSERT INTO sync_log (id, ts, map_id, ado_id, clickup_id, direction,"
			 " action, status, fields, message) VALUES (%d, %d, %s, %d, 'cu%d', '%s',"
			 " 'updated', '%s', '[\"title\"]', '%s')",
			 i, 1000 + i, i % 2 ? "1" : "NULL", 100 + i, i,
			 i % 2 ? "ado_to_clickup" : "clickup_to_ado", i % 2 ? "ok" : "error",
			 i == 4	  ? "progress 50% done"
			 : i == 6 ? "progress 50x done"
				  : "fine");
		exec_ok(db, sql);
	}

	json_t *p = log_page(db, cfg, "limit=10");
	assert_int_equal(total_of(p), 25);
	assert_int_equal(n_items(p), 10);
	json_t *first = json_array_get(json_object_get(p, "items"), 0);
	/* Newest first, with links and the mapping's name. */
	assert_int_equal(json_integer_value(json_object_get(first, "id")), 25);
	assert_string_equal(json_string_value(json_object_get(first, "map_name")), "web");
	assert_string_equal(json_string_value(json_object_get(first, "ado_url")), "https://"
										  "dev.azure.com/"
										  "acme/Web%20App/"
										  "_workitems/edit/"
										  "125");
	assert_string_equal(json_string_value(json_object_get(first, "clickup_url")), "https://"
										      "app.clickup."
										      "com/t/cu25");
	assert_string_equal(json_string_value(json_array_get(json_object_get(first, "fields"), 0)),
			    "title");
	json_decref(p);

	/* The last page is partial. */
	p = log_page(db, cfg, "limit=10&page=3");
	assert_int_equal(n_items(p), 5);
	assert_int_equal(json_integer_value(json_object_get(p, "page")), 3);
	json_decref(p);
	p = log_page(db, cfg, "limit=10&page=4");
	assert_int_equal(n_items(p), 0);
	assert_int_equal(total_of(p), 25);
	json_decref(p);

	/* Filters. Without a mapping the URL falls back to [ado] project. */
	p = log_page(db, cfg, "status=error&direction=clickup_to_ado");
	assert_int_equal(total_of(p), 12);
	first = json_array_get(json_object_get(p, "items"), 0);
	assert_true(json_is_null(json_object_get(first, "map_name")));
	assert_string_equal(json_string_value(json_object_get(first, "ado_url")), "https://"
										  "dev.azure.com/"
										  "acme/Default/"
										  "_workitems/edit/"
										  "124");
	json_decref(p);
	p = log_page(db, cfg, "map=1");
	assert_int_equal(total_of(p), 13);
	json_decref(p);
	p = log_page(db, cfg, "status=ok&direction=clickup_to_ado");
	assert_int_equal(total_of(p), 0);
	json_decref(p);

	/* q: ado id, clickup id, message; % is literal. */
	p = log_page(db, cfg, "q=117");
	assert_int_equal(total_of(p), 1);
	json_decref(p);
	p = log_page(db, cfg, "q=cu2");
	assert_int_equal(total_of(p), 7); /* cu2, cu20..cu25 */
	json_decref(p);
	p = log_page(db, cfg, "q=50%25");
	assert_int_equal(total_of(p), 1);
	json_decref(p);
	p = log_page(db, cfg, "q=50_");
	assert_int_equal(total_of(p), 0);
	json_decref(p);

	/* The streams' read: oldest first after an id. */
	char err[ACS_ERR_LEN];
	struct acs_dashboard_log_filter f = { .limit = 3, .after_id = 20 };
	json_t *out = NULL;
	assert_int_equal(acs__dashboard_db_log(db, cfg, &f, &out, err), 0);
	assert_int_equal(n_items(out), 3);
	assert_int_equal(json_integer_value(json_object_get(
				 json_array_get(json_object_get(out, "items"), 0), "id")),
			 21);
	json_decref(out);

	/* History survives the mapping. */
	exec_ok(db, "DELETE FROM project_map WHERE id = 1");
	p = log_page(db, cfg, "q=125");
	first = json_array_get(json_object_get(p, "items"), 0);
	assert_true(json_is_null(json_object_get(first, "map_id")));
	json_decref(p);

	acs_config_free(cfg);
	sqlite3_close(db);
}

static void test_db_counts(void **state)
{
	(void)state;
	sqlite3 *db = db_new();
	char err[ACS_ERR_LEN];
	const int64_t now = 1800000000000 + 30000; /* 30 s into a minute */
	const int64_t minute = now - 30000;
	exec_ok(db, "INSERT INTO project_map (id, name, ado_project, clickup_list_id, created_at,"
		    " updated_at) VALUES (1, 'web', 'P', '901', 1, 1)");
	exec_ok(db, "INSERT INTO sync_map (map_id, ado_id, clickup_id, state, created_at,"
		    " updated_at) VALUES (1, 1, 'a', 'active', 1, 1), (1, 2, 'b', 'active', 1, 1),"
		    " (1, 3, 'c', 'ended', 1, 1)");
	char sql[1024];
	/* Inbox: 2 in the current minute, 1 five minutes ago, 1 two hours ago. */
	snprintf(sql, sizeof(sql),
		 "INSERT INTO inbox (source, event_key, event_type, item_key, received_at, body,"
		 " state) VALUES"
		 " ('ado', 'k1', 't', 'ado:1', %lld, '{}', 'done'),"
		 " ('ado', 'k2', 't', 'ado:1', %lld, '{}', 'pending'),"
		 " ('ado', 'k3', 't', 'ado:2', %lld, '{}', 'error'),"
		 " ('ado', 'k4', 't', 'ado:3', %lld, '{}', 'processing')",
		 (long long)(minute + 1000), (long long)(minute + 29000),
		 (long long)(minute - 5 * 60000 + 10), (long long)(now - 7200000));
	exec_ok(db, sql);
	snprintf(sql, sizeof(sql),
		 "INSERT INTO sync_log (ts, direction, action, status) VALUES"
		 " (%lld, 'ado_to_clickup', 'updated', 'ok'),"
		 " (%lld, 'clickup_to_ado', 'updated', 'ok'),"
		 " (%lld, 'clickup_to_ado', 'echo', 'skipped'),"
		 " (%lld, 'none', 'deleted', 'ok')",
		 (long long)(minute + 5), (long long)(minute - 59 * 60000), (long long)(minute + 6),
		 (long long)(minute + 7));
	exec_ok(db, sql);

	struct acs_dashboard_counts c;
	assert_int_equal(acs__dashboard_db_counts(db, now, &c, err), 0);
	assert_int_equal(c.pairs, 2);
	assert_int_equal(c.pairs_ended, 1);
	assert_int_equal(c.errors, 1);
	assert_int_equal(c.queue, 2);
	assert_int_equal(c.events[59], 2);
	assert_int_equal(c.events[54], 1);
	int64_t sum = 0;
	for (int i = 0; i < 60; i++)
		sum += c.events[i];
	assert_int_equal(sum, 3);
	assert_int_equal(c.pushes[59], 1);
	assert_int_equal(c.pushes[0], 1);
	assert_int_equal(c.last_a2c, minute + 5);
	assert_int_equal(c.last_c2a, minute - 59 * 60000);
	sqlite3_close(db);
}

static void test_db_error_op(void **state)
{
	(void)state;
	sqlite3 *db = db_new();
	char err[ACS_ERR_LEN];
	int64_t changed;
	exec_ok(db, "INSERT INTO inbox (id, source, event_key, event_type, item_key, received_at,"
		    " body, state, attempts, next_attempt_at, last_error) VALUES"
		    " (1, 'ado', 'k1', 't', 'ado:1', 1, '{}', 'error', 8, 99, 'boom'),"
		    " (2, 'ado', 'k2', 't', 'ado:2', 1, '{}', 'error', 8, 99, 'boom'),"
		    " (3, 'ado', 'k3', 't', 'ado:3', 1, '{}', 'error', 8, 99, 'boom'),"
		    " (4, 'ado', 'k4', 't', 'ado:4', 1, '{}', 'done', 1, 0, NULL)");
	const int64_t ids[] = { 1, 4, 77 };
	assert_int_equal(acs__dashboard_db_error_op(db, true, ids, 3, false, &changed, err), 0);
	assert_int_equal(changed, 1); /* 4 is not in error, 77 does not exist */
	assert_int_equal(query_int(db, "SELECT attempts + next_attempt_at FROM inbox WHERE id = 1"),
			 0);
	assert_int_equal(query_int(db, "SELECT state = 'pending' FROM inbox WHERE id = 1"), 1);
	assert_int_equal(query_int(db, "SELECT state = 'done' FROM inbox WHERE id = 4"), 1);
	assert_int_equal(acs__dashboard_db_error_op(db, false, NULL, 0, true, &changed, err), 0);
	assert_int_equal(changed, 2);
	assert_int_equal(query_int(db, "SELECT count(*) FROM inbox WHERE state = 'ignored'"), 2);
	assert_int_equal(acs__dashboard_db_error_op(db, true, NULL, 0, true, &changed, err), 0);
	assert_int_equal(changed, 0);
	sqlite3_close(db);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_bounds), cmocka_unit_test(test_log_filter),
		cmocka_unit_test(test_log_where),   cmocka_unit_test(test_like_pattern),
		cmocka_unit_test(test_map_parse),   cmocka_unit_test(test_links),
		cmocka_unit_test(test_db_maps),	    cmocka_unit_test(test_db_log),
		cmocka_unit_test(test_db_counts),   cmocka_unit_test(test_db_error_op),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
