/* SPDX-License-Identifier: MIT */
/* Unit tests for config: defaults from product.md §3, value parsers, every
 * error message, secrets (inline, file, environment) and their redaction,
 * the dump, [users] and [map] sections, and config.example.ini itself. */
#include "test_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "err.h"
#include "log.h"
#include "mem.h"

/* --- helpers ------------------------------------------------------------- */

/* An injectable environment: NULL-terminated name/value pairs. */
struct fake_env {
	const char *const *kv;
};

static const char *fake_getenv(const char *name, void *arg)
{
	const struct fake_env *env = arg;
	for (size_t i = 0; env->kv && env->kv[i]; i += 2) {
		if (strcmp(env->kv[i], name) == 0)
			return env->kv[i + 1];
	}
	return NULL;
}

static const struct fake_env empty_env = { NULL };

/* Defaults plus text, finished, with an empty environment. Returns the
 * config; *errs receives the list (caller frees both). */
static struct acs_config *load(const char *text, struct acs_config_errors **errs)
{
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	*errs = acs_config_errors_new();
	int rc = acs_config_load_string(cfg, "t.ini", text, *errs);
	assert_int_equal(rc, acs_config_errors_count(*errs) ? ACS_ECONFIG : 0);
	size_t before = acs_config_errors_count(*errs);
	rc = acs_config_finish(cfg, *errs);
	assert_int_equal(rc, acs_config_errors_count(*errs) > before ? ACS_ECONFIG : 0);
	return cfg;
}

static void print_errors(const struct acs_config_errors *errs)
{
	for (size_t i = 0; i < acs_config_errors_count(errs); i++)
		print_message("  error: %s\n", acs_config_errors_get(errs, i));
}

/* text must produce exactly the expected messages, in order. */
static void expect_errors_n(const char *text, const char *const *expected, size_t n)
{
	struct acs_config_errors *errs;
	struct acs_config *cfg = load(text, &errs);
	if (acs_config_errors_count(errs) != n) {
		print_message("input:\n%s\n", text);
		print_errors(errs);
	}
	assert_int_equal(acs_config_errors_count(errs), n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(acs_config_errors_get(errs, i), expected[i]);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
}

#define expect_errors(text, ...)                                     \
	do {                                                         \
		static const char *const exp_[] = { __VA_ARGS__ };   \
		expect_errors_n((text), exp_, ACS_ARRAY_SIZE(exp_)); \
	} while (0)

static void expect_error(const char *text, const char *expected)
{
	expect_errors_n(text, &expected, 1);
}

static void expect_clean(const char *text)
{
	expect_errors_n(text, NULL, 0);
}

static char *fixture(const char *name)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	assert_non_null(root);
	return acs_xasprintf("%s/test/fixtures/config/%s", root, name);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(acs_buf_append(&b, chunk, n), 0);
	fclose(f);
	return acs_buf_steal(&b, NULL);
}

static char *dump(const struct acs_config *cfg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(acs_config_dump(cfg, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

static int teardown_log(void **state)
{
	(void)state;
	acs_log_reset(); /* forget the secrets a test registered */
	return 0;
}

/* --- defaults ------------------------------------------------------------ */

static void test_defaults(void **state)
{
	(void)state;
	struct acs_config *cfg = acs_config_new_defaults();
	assert_string_equal(cfg->server.listen, "127.0.0.1:8080");
	assert_string_equal(cfg->server.public_url, "");
	assert_int_equal(cfg->server.trusted_proxies.n, 0);
	assert_int_equal(cfg->server.max_body_bytes, 4 * 1024 * 1024);
	assert_int_equal(cfg->server.max_header_bytes, 16 * 1024);
	assert_int_equal(cfg->server.read_timeout_ms, 10000);
	assert_int_equal(cfg->server.idle_timeout_ms, 60000);
	assert_int_equal(cfg->server.max_connections, 1024);
	assert_string_equal(cfg->database.url, "sqlite:/var/lib/ado-clickup-sync/sync.db");
	assert_string_equal(cfg->ado.organization, "");
	assert_string_equal(cfg->ado.project, "");
	assert_string_equal(cfg->ado.pat, "");
	assert_string_equal(cfg->ado.pat_file, "");
	assert_string_equal(cfg->ado.base_url, "https://dev.azure.com");
	assert_string_equal(cfg->ado.webhook_username, "");
	assert_string_equal(cfg->ado.webhook_password, "");
	assert_string_equal(cfg->ado.webhook_password_file, "");
	assert_string_equal(cfg->ado.assigned_to, "");
	assert_string_equal(cfg->clickup.token, "");
	assert_string_equal(cfg->clickup.token_file, "");
	assert_string_equal(cfg->clickup.workspace_id, "");
	assert_string_equal(cfg->clickup.base_url, "https://api.clickup.com/api/v2");
	assert_int_equal(cfg->sync.conflict, ACS_CONFLICT_NEWEST);
	assert_int_equal(cfg->sync.concurrency, 8);
	assert_int_equal(cfg->sync.max_attempts, 8);
	assert_int_equal(cfg->sync.sweep_interval_ms, 5 * 60 * 1000);
	assert_int_equal(cfg->sync.webhook_check_interval_ms, 10 * 60 * 1000);
	assert_int_equal(cfg->sync.attachment_max_bytes, 25 * 1024 * 1024);
	assert_int_equal(cfg->sync.attachment_scan_days, 7);
	assert_string_equal(cfg->dashboard.admin_password_hash, "");
	assert_string_equal(cfg->dashboard.admin_password_hash_file, "");
	assert_int_equal(cfg->log.level, ACS_LOG_INFO);
	assert_int_equal(cfg->log.format, ACS_LOG_LOGFMT);
	assert_int_equal(cfg->users.n, 0);
	assert_int_equal(cfg->n_maps, 0);

	const char *file = "x";
	unsigned line = 99;
	assert_int_equal(acs_config_key_origin(cfg, "server", "listen", &file, &line), 0);
	assert_null(file);
	assert_int_equal(line, 0);
	assert_int_equal(acs_config_key_origin(cfg, "server", "nope", &file, &line), ACS_ENOTFOUND);

	/* Defaults alone finish cleanly: secrets are not required to load. */
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	assert_int_equal(acs_config_errors_count(errs), 0);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	acs_config_free(NULL);
	acs_config_errors_free(NULL);
}

static void test_map_defaults(void **state)
{
	(void)state;
	struct acs_config_errors *errs;
	struct acs_config *cfg = load("[map a]\nado_project = P\nclickup_list_id = 1\n", &errs);
	assert_int_equal(acs_config_errors_count(errs), 0);
	assert_int_equal(cfg->n_maps, 1);
	const struct acs_config_map *m = acs_config_map_find(cfg, "a");
	assert_non_null(m);
	assert_null(acs_config_map_find(cfg, "b"));
	assert_string_equal(m->name, "a");
	assert_string_equal(m->ado_project, "P");
	assert_string_equal(m->ado_area_path, "");
	assert_int_equal(m->ado_work_item_types.n, 3);
	assert_string_equal(m->ado_work_item_types.v[0], "Task");
	assert_string_equal(m->ado_work_item_types.v[1], "Bug");
	assert_string_equal(m->ado_work_item_types.v[2], "User Story");
	assert_string_equal(m->ado_new_item_type, "Task");
	assert_string_equal(m->clickup_list_id, "1");
	assert_int_equal(m->status.n, 0);
	assert_int_equal(m->custom.n, 0);
	assert_int_equal(m->on_delete, ACS_ON_DELETE_CLOSE);
	assert_true(m->copy_existing_comments);
	assert_string_equal(m->file, "t.ini");
	assert_int_equal(m->line, 1);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
}

static void test_key_table(void **state)
{
	(void)state;
	size_t n = acs_config_key_count();
	assert_true(n >= 40);
	unsigned nsecret = 0, nfile = 0, nmap = 0;
	for (size_t i = 0; i < n; i++) {
		const char *section, *key;
		unsigned flags;
		assert_int_equal(acs_config_key_at(i, &section, &key, &flags), 0);
		assert_non_null(section);
		assert_non_null(key);
		nsecret += !!(flags & ACS_CONFIG_SECRET);
		nfile += !!(flags & ACS_CONFIG_SECRET_FILE);
		nmap += !!(flags & ACS_CONFIG_MAP);
		if (flags & ACS_CONFIG_MAP)
			assert_string_equal(section, "map");
	}
	/* pat, webhook_password, token, admin_password_hash, each with a _file. */
	assert_int_equal(nsecret, 4);
	assert_int_equal(nfile, 4);
	assert_int_equal(nmap, 9);
	assert_int_equal(acs_config_key_at(n, NULL, NULL, NULL), ACS_ENOTFOUND);
}

/* --- value parsers ------------------------------------------------------- */

static void test_parse_duration(void **state)
{
	(void)state;
	uint64_t ms;
	static const struct {
		const char *in;
		uint64_t ms;
	} good[] = {
		{ "0", 0 },	   { "30", 30000 },  { "30s", 30000 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "90s", 90000 }, { "007s", 7000 }, { "0h", 0 },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(good); i++) {
		assert_int_equal(acs_config_parse_duration(good[i].in, &ms), 0);
		assert_int_equal(ms, good[i].ms);
	}
	static const char *const bad[] = { "",
					   "s",
					   "-1s",
					   "1.5m",
					   "10x",
					   "10 s",
					   " 10",
					   "10S",
					   "1ms",
					   "10sm",
					   "1d",
					   "h",
					   "99999999999999999999",
					   "9999999999999999h" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++) {
		ms = 42;
		assert_int_equal(acs_config_parse_duration(bad[i], &ms), ACS_EPARSE);
		assert_int_equal(ms, 42);
	}
	assert_int_equal(acs_config_parse_duration(NULL, &ms), ACS_EPARSE);
}

static void test_parse_size(void **state)
{
	(void)state;
	uint64_t b;
	static const struct {
		const char *in;
		uint64_t b;
	} good[] = {
		{ "0", 0 },	   { "512", 512 },	 { "16K", 16384 },	{ "16k", 16384 },
		{ "4M", 4194304 }, { "1G", 1073741824 }, { "3g", 3221225472u },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(good); i++) {
		assert_int_equal(acs_config_parse_size(good[i].in, &b), 0);
		assert_int_equal(b, good[i].b);
	}
	static const char *const bad[] = { "",
					   "K",
					   "-1",
					   "1.5M",
					   "4MB",
					   "4 M",
					   "4T",
					   "4KK",
					   " 4",
					   "18446744073709551616",
					   "17179869184G" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		assert_int_equal(acs_config_parse_size(bad[i], &b), ACS_EPARSE);
	assert_int_equal(acs_config_parse_size(NULL, &b), ACS_EPARSE);
}

static void test_parse_bool(void **state)
{
	(void)state;
	bool v;
	static const char *const yes[] = { "true", "TRUE", "yes", "Yes", "on", "1" };
	static const char *const no[] = { "false", "False", "no", "NO", "off", "0" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(yes); i++) {
		v = false;
		assert_int_equal(acs_config_parse_bool(yes[i], &v), 0);
		assert_true(v);
		v = true;
		assert_int_equal(acs_config_parse_bool(no[i], &v), 0);
		assert_false(v);
	}
	static const char *const bad[] = { "", "y", "n", "2", "truee", "enabled", " true" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		assert_int_equal(acs_config_parse_bool(bad[i], &v), ACS_EPARSE);
	assert_int_equal(acs_config_parse_bool(NULL, &v), ACS_EPARSE);
}

static void test_parse_listen(void **state)
{
	(void)state;
	char host[64];
	int port = -1;
	assert_int_equal(acs_config_parse_listen("127.0.0.1:8080", host, sizeof(host), &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8080);
	assert_int_equal(acs_config_parse_listen("[::1]:0", host, sizeof(host), &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 0);
	assert_int_equal(acs_config_parse_listen("0.0.0.0:65535", host, sizeof(host), &port), 0);
	assert_int_equal(port, 65535);
	/* Too small a host buffer is an error, not a truncation. */
	assert_int_equal(acs_config_parse_listen("127.0.0.1:80", host, 4, &port), ACS_EPARSE);
	static const char *const bad[] = { "",
					   "8080",
					   ":8080",
					   "localhost:8080",
					   "127.0.0.1",
					   "127.0.0.1:",
					   "127.0.0.1:65536",
					   "127.0.0.1:-1",
					   "127.0.0.1:80x",
					   "::1:8080",
					   "[::1]8080",
					   "[::1:8080",
					   "[127.0.0.1]:80",
					   "1.2.3.4.5:80",
					   "127.0.0.1:000008080" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		assert_int_equal(acs_config_parse_listen(bad[i], host, sizeof(host), &port),
				 ACS_EPARSE);
}

/* --- loading ------------------------------------------------------------- */

static void test_load_full_fixture(void **state)
{
	(void)state;
	char *path = fixture("full.ini");
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	struct acs_config_errors *errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_file(cfg, path, errs), 0);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), 0);

	assert_string_equal(cfg->server.listen, "[::1]:9090");
	assert_string_equal(cfg->server.public_url, "https://sync.example.com");
	assert_int_equal(cfg->server.trusted_proxies.n, 3);
	assert_string_equal(cfg->server.trusted_proxies.v[0], "127.0.0.1");
	assert_string_equal(cfg->server.trusted_proxies.v[1], "10.0.0.0/8");
	assert_string_equal(cfg->server.trusted_proxies.v[2], "::1");
	assert_int_equal(cfg->server.max_body_bytes, 8u << 20);
	assert_int_equal(cfg->server.max_header_bytes, 32u << 10);
	assert_int_equal(cfg->server.read_timeout_ms, 30000);
	assert_int_equal(cfg->server.idle_timeout_ms, 120000);
	assert_int_equal(cfg->server.max_connections, 50);
	assert_string_equal(cfg->database.url, "sqlite:/tmp/acs-fixture.db");
	assert_string_equal(cfg->ado.organization, "fabrikam");
	assert_string_equal(cfg->ado.project, "Fabrikam Fiber");
	assert_string_equal(cfg->ado.pat, "fixture-ado-pat-0001");
	assert_string_equal(cfg->ado.base_url, "http://127.0.0.1:7001");
	assert_string_equal(cfg->ado.webhook_username, "hook");
	assert_string_equal(cfg->ado.webhook_password, "fixture-hook-pass-0002");
	assert_string_equal(cfg->ado.assigned_to, "@Me");
	/* Relative token_file resolves next to full.ini; newline stripped. */
	assert_string_equal(cfg->clickup.token, "pk_fixture_token_0003");
	assert_string_equal(cfg->clickup.token_file, "token.txt");
	assert_string_equal(cfg->clickup.workspace_id, "9001");
	assert_string_equal(cfg->clickup.base_url, "http://127.0.0.1:7002/api/v2");
	assert_int_equal(cfg->sync.conflict, ACS_CONFLICT_CLICKUP);
	assert_int_equal(cfg->sync.concurrency, 16);
	assert_int_equal(cfg->sync.max_attempts, 3);
	assert_int_equal(cfg->sync.sweep_interval_ms, 3600000);
	assert_int_equal(cfg->sync.webhook_check_interval_ms, 90000);
	assert_int_equal(cfg->sync.attachment_max_bytes, 1u << 30);
	assert_int_equal(cfg->sync.attachment_scan_days, 0);
	assert_string_equal(cfg->dashboard.admin_password_hash, "$argon2id$v=19$m=65536,t=2,p=1$"
								"c2FsdHNhbHQ$aGFzaGhhc2hoYXNo");
	assert_int_equal(cfg->log.level, ACS_LOG_DEBUG);
	assert_int_equal(cfg->log.format, ACS_LOG_JSON);

	assert_int_equal(cfg->users.n, 2);
	assert_string_equal(cfg->users.v[0].key, "alice@example.com");
	assert_string_equal(cfg->users.v[0].value, "101");
	assert_string_equal(cfg->users.v[0].file, path);
	assert_int_equal(cfg->users.v[0].line, 47);
	assert_string_equal(cfg->users.v[1].key, "Bob.Smith@Example.com");
	assert_string_equal(cfg->users.v[1].value, "102");

	assert_int_equal(cfg->n_maps, 2);
	const struct acs_config_map *web = &cfg->maps[0], *ops = &cfg->maps[1];
	assert_string_equal(web->name, "web");
	/* ado_project falls back to [ado] project. */
	assert_string_equal(web->ado_project, "Fabrikam Fiber");
	assert_string_equal(web->ado_area_path, "Fabrikam Fiber\\Web");
	assert_int_equal(web->ado_work_item_types.n, 2);
	assert_string_equal(web->ado_work_item_types.v[1], "User Story");
	assert_string_equal(web->ado_new_item_type, "Bug");
	assert_string_equal(web->clickup_list_id, "500");
	assert_int_equal(web->status.n, 2);
	assert_string_equal(web->status.v[0].key, "New");
	assert_string_equal(web->status.v[0].value, "to do");
	assert_string_equal(web->status.v[1].key, "Active");
	assert_string_equal(web->status.v[1].value, "in progress");
	assert_int_equal(web->custom.n, 1);
	assert_string_equal(web->custom.v[0].key, "Microsoft.VSTS.Scheduling.StoryPoints");
	assert_string_equal(web->custom.v[0].value, "field-uuid-1");
	assert_int_equal(web->on_delete, ACS_ON_DELETE_IGNORE);
	assert_false(web->copy_existing_comments);
	assert_int_equal(web->line, 50);
	assert_string_equal(ops->name, "ops");
	assert_string_equal(ops->ado_project, "Operations");
	assert_string_equal(ops->clickup_list_id, "600");
	assert_int_equal(ops->ado_work_item_types.n, 3);

	const char *file;
	unsigned line;
	assert_int_equal(acs_config_key_origin(cfg, "sync", "concurrency", &file, &line), 0);
	assert_string_equal(file, path);
	assert_int_equal(line, 32);

	/* Every fixture value differs from its default (so each key is really
	 * read): compare the dumps key by key. */
	struct acs_config *def = acs_config_new_defaults();
	char *d1 = dump(cfg), *d2 = dump(def);
	for (size_t i = 0; i < acs_config_key_count(); i++) {
		const char *section, *key;
		unsigned flags;
		acs_config_key_at(i, &section, &key, &flags);
		if (flags & (ACS_CONFIG_MAP | ACS_CONFIG_PATTERN))
			continue;
		if (!strcmp(key, "pat_file") || !strcmp(key, "webhook_password_file") ||
		    !strcmp(key, "admin_password_hash_file") || !strcmp(key, "token"))
			continue; /* each secret is given one way, inline or by file */
		char *needle = acs_xasprintf("\n%s = ", key);
		char *a = strstr(d1, needle), *b = strstr(d2, needle);
		assert_non_null(a);
		assert_non_null(b);
		size_t la = strcspn(a + 1, "\n"), lb = strcspn(b + 1, "\n");
		if (la == lb && memcmp(a, b, la + 1) == 0)
			fail_msg("%s.%s has its default value in full.ini", section, key);
		free(needle);
	}
	free(d1);
	free(d2);
	acs_config_free(def);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	free(path);
}

static void test_syntax_tolerance(void **state)
{
	(void)state;
	struct acs_config_errors *errs;
	/* BOM, CRLF, indentation, comments of both kinds, inline comments,
	 * spaces inside brackets, "key: value" and empty values. */
	struct acs_config *cfg = load("\xEF\xBB\xBF# comment\r\n"
				      "; other comment\r\n"
				      "[ server ]   ; trailing comment\r\n"
				      "    listen = 127.0.0.1:1234 ; inline\r\n"
				      "\tmax_connections: 7\r\n"
				      "public_url =\r\n"
				      "[ map   x ]\n"
				      "  ado_project = P\n"
				      "  clickup_list_id = 3\n"
				      "  status.In Progress = doing\n",
				      &errs);
	print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), 0);
	assert_string_equal(cfg->server.listen, "127.0.0.1:1234");
	assert_int_equal(cfg->server.max_connections, 7);
	assert_string_equal(cfg->server.public_url, "");
	assert_int_equal(cfg->n_maps, 1);
	assert_string_equal(cfg->maps[0].name, "x");
	assert_string_equal(cfg->maps[0].status.v[0].key, "In Progress");
	assert_string_equal(cfg->maps[0].status.v[0].value, "doing");
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	/* An empty text and a text without a final newline are fine. */
	expect_clean("");
	expect_clean("[log]\nlevel = warn");
}

static void test_users_and_maps(void **state)
{
	(void)state;
	struct acs_config_errors *errs;
	struct acs_config *cfg = load("[ado]\n"
				      "project = Default\n"
				      "[users]\n"
				      "a@x.io = 1\n"
				      "b@x.io = 2\n"
				      "[map one]\n"
				      "clickup_list_id = 10\n"
				      "status.New = to do\n"
				      "status.Done = complete\n"
				      "custom.Custom.Risk = f1\n"
				      "custom.Microsoft.VSTS.Common.Priority = f2\n"
				      "on_delete = delete\n"
				      "[map two]\n"
				      "ado_project = Other\n"
				      "ado_area_path = Other\\Team A\n"
				      "ado_work_item_types = Epic,Feature\n"
				      "ado_new_item_type = feature\n"
				      "clickup_list_id = 20\n"
				      "status.Active = in progress\n"
				      "copy_existing_comments = off\n"
				      "[users]\n"
				      "c@x.io = 3\n",
				      &errs);
	print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), 0);
	assert_int_equal(cfg->users.n, 3);
	assert_string_equal(cfg->users.v[2].key, "c@x.io");
	assert_string_equal(cfg->users.v[2].value, "3");
	assert_int_equal(cfg->users.v[2].line, 22);
	assert_int_equal(cfg->n_maps, 2);
	const struct acs_config_map *one = acs_config_map_find(cfg, "one");
	const struct acs_config_map *two = acs_config_map_find(cfg, "two");
	assert_non_null(one);
	assert_non_null(two);
	assert_string_equal(one->ado_project, "Default");
	assert_int_equal(one->status.n, 2);
	assert_string_equal(one->status.v[1].key, "Done");
	assert_string_equal(one->status.v[1].value, "complete");
	assert_int_equal(one->status.v[1].line, 9);
	assert_int_equal(one->custom.n, 2);
	assert_string_equal(one->custom.v[0].key, "Custom.Risk");
	assert_string_equal(one->custom.v[1].key, "Microsoft.VSTS.Common.Priority");
	assert_string_equal(one->custom.v[1].value, "f2");
	assert_int_equal(one->on_delete, ACS_ON_DELETE_DELETE);
	assert_true(one->copy_existing_comments);
	assert_string_equal(two->ado_project, "Other");
	assert_string_equal(two->ado_area_path, "Other\\Team A");
	assert_int_equal(two->ado_work_item_types.n, 2);
	assert_string_equal(two->ado_work_item_types.v[0], "Epic");
	assert_string_equal(two->ado_work_item_types.v[1], "Feature");
	assert_int_equal(two->status.n, 1);
	assert_int_equal(two->custom.n, 0);
	assert_false(two->copy_existing_comments);
	assert_int_equal(two->line, 13);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
}

static void test_later_load_overrides(void **state)
{
	(void)state;
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	assert_int_equal(acs_config_load_string(cfg, "base.ini",
						"[sync]\nconcurrency = 4\n"
						"[map m]\nado_project = P\nclickup_list_id = 1\n"
						"status.New = to do\n",
						errs),
			 0);
	/* Same keys again in another load: an override, not a duplicate. */
	assert_int_equal(acs_config_load_string(cfg, "over.ini",
						"[sync]\nconcurrency = 5\n"
						"[map m]\nstatus.new = open\n",
						errs),
			 0);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	assert_int_equal(acs_config_errors_count(errs), 0);
	assert_int_equal(cfg->sync.concurrency, 5);
	assert_int_equal(cfg->n_maps, 1);
	assert_int_equal(cfg->maps[0].status.n, 1);
	assert_string_equal(cfg->maps[0].status.v[0].value, "open");
	assert_string_equal(cfg->maps[0].status.v[0].file, "over.ini");
	const char *file;
	unsigned line;
	assert_int_equal(acs_config_key_origin(cfg, "sync", "concurrency", &file, &line), 0);
	assert_string_equal(file, "over.ini");
	assert_int_equal(line, 2);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
}

/* --- error messages ------------------------------------------------------ */

static void test_errors_sections_and_syntax(void **state)
{
	(void)state;
	expect_error("[sever]\nlisten = x\n", "t.ini:1: unknown section [sever] (did you mean "
					      "[server]?)");
	expect_error("[whatever]\n", "t.ini:1: unknown section [whatever]");
	expect_error("[maps x]\n", "t.ini:1: unknown section [maps x]");
	expect_error("[mapp]\n", "t.ini:1: unknown section [mapp] (did you mean [map NAME]?)");
	expect_error("listen = 1\n", "t.ini:1: listen: key outside of any section");
	expect_error("[server]\njunk\n", "t.ini:2: expected \"key = value\" or \"[section]\"");
	expect_error("[server]\nlisten ;= x\n", "t.ini:2: expected \"key = value\" or "
						"\"[section]\"");
	expect_error("[server\nlisten = x\n", "t.ini:1: missing ']' in section header");
	expect_error("[server] x\n", "t.ini:1: unexpected text after ']'");
	expect_error("[server]\n= 5\n", "t.ini:2: missing key name before '='");
	expect_error("[server]\n: 5\n", "t.ini:2: missing key name before ':'");
	expect_error("[map]\nado_project = x\n", "t.ini:1: a mapping section needs a name: [map "
						 "NAME]");
	expect_error("[map a b]\n", "t.ini:1: invalid mapping name \"a b\": use letters, digits, "
				    "'.', '_' and '-'");
	expect_error("[map a]\nado_project = P\nclickup_list_id = 1\n[map a]\n", "t.ini:4: "
										 "duplicate "
										 "section [map a] "
										 "(first on line "
										 "1)");

	/* Lines and section names inih would truncate are refused instead. */
	char longline[400];
	snprintf(longline, sizeof(longline), "[server]\npublic_url = https://x/%0250d\n", 0);
	expect_error(longline, "t.ini:2: line too long (at most 199 characters)");
	char longsec[100];
	snprintf(longsec, sizeof(longsec), "[map %046d]\n", 0);
	expect_error(longsec, "t.ini:1: section name too long (at most 49 characters)");
	/* 49 characters exactly is fine. */
	snprintf(longsec, sizeof(longsec), "[map %045d]\nado_project = p\nclickup_list_id = 1\n",
		 0);
	expect_clean(longsec);
}

static void test_errors_values(void **state)
{
	(void)state;
	expect_error("[server]\nlisen = 1\n", "t.ini:2: server.lisen: unknown key (did you mean "
					      "server.listen?)");
	expect_error("[server]\nfoo = 1\n", "t.ini:2: server.foo: unknown key");
	expect_error("[sync]\nconcurency = 1\n", "t.ini:2: sync.concurency: unknown key (did you "
						 "mean sync.concurrency?)");
	expect_error("[sync]\nconcurrency = 4\nconcurrency = 5\n", "t.ini:3: sync.concurrency: "
								   "duplicate key (first set on "
								   "line 2)");
	expect_error("[sync]\nconflict = both\n", "t.ini:2: sync.conflict: must be one of newest, "
						  "ado, clickup");
	expect_error("[sync]\nconflict = Newest\n", "t.ini:2: sync.conflict: must be one of "
						    "newest, ado, clickup");
	expect_error("[log]\nlevel = verbose\n", "t.ini:2: log.level: must be one of crit, error, "
						 "warn, info, debug");
	expect_error("[log]\nformat = text\n", "t.ini:2: log.format: must be one of logfmt, json");
	expect_error("[sync]\nconcurrency = 0\n", "t.ini:2: sync.concurrency: must be between 1 "
						  "and 256");
	expect_error("[sync]\nconcurrency = 257\n", "t.ini:2: sync.concurrency: must be between 1 "
						    "and 256");
	expect_error("[sync]\nconcurrency = eight\n", "t.ini:2: sync.concurrency: must be an "
						      "integer");
	expect_error("[sync]\nconcurrency = 99999999999999999999\n", "t.ini:2: sync.concurrency: "
								     "must be an integer");
	expect_error("[sync]\nmax_attempts = -1\n", "t.ini:2: sync.max_attempts: must be between 1 "
						    "and 100");
	expect_error("[server]\nmax_connections = 1000001\n", "t.ini:2: server.max_connections: "
							      "must be between 1 and 1000000");
	expect_error("[sync]\nattachment_scan_days = 3651\n", "t.ini:2: sync.attachment_scan_days: "
							      "must be between 0 and 3650");
	expect_error("[server]\nread_timeout = 10x\n", "t.ini:2: server.read_timeout: must be a "
						       "duration: a whole number with an "
						       "optional s, m or h suffix (no suffix = "
						       "seconds)");
	expect_error("[server]\nread_timeout = 0\n", "t.ini:2: server.read_timeout: must be "
						     "between 1s and 1h");
	expect_error("[server]\nread_timeout = 61m\n", "t.ini:2: server.read_timeout: must be "
						       "between 1s and 1h");
	expect_error("[server]\nidle_timeout = 25h\n", "t.ini:2: server.idle_timeout: must be "
						       "between 1s and 24h");
	expect_error("[sync]\nsweep_interval =\n", "t.ini:2: sync.sweep_interval: must be a "
						   "duration: a whole number with an "
						   "optional s, m or h suffix (no suffix = "
						   "seconds)");
	expect_error("[server]\nmax_body_bytes = 4Q\n", "t.ini:2: server.max_body_bytes: must be a "
							"size: a whole number with an "
							"optional K, M or G suffix (powers of "
							"1024)");
	expect_error("[server]\nmax_body_bytes = 1023\n", "t.ini:2: server.max_body_bytes: must be "
							  "between 1K and 1G");
	expect_error("[server]\nmax_body_bytes = 2G\n", "t.ini:2: server.max_body_bytes: must be "
							"between 1K and 1G");
	expect_error("[server]\nmax_header_bytes = 2M\n", "t.ini:2: server.max_header_bytes: must "
							  "be between 1K and 1M");
	expect_error("[sync]\nattachment_max_bytes = 2G\n", "t.ini:2: sync.attachment_max_bytes: "
							    "must be between 0 and 1G");
	expect_error("[map a]\nado_project = P\nclickup_list_id = 1\ncopy_existing_comments = "
		     "maybe\n",
		     "t.ini:4: map.a.copy_existing_comments: must be true or false "
		     "(or yes/no, on/off, 1/0)");
	expect_error("[server]\nlisten = localhost:8080\n", "t.ini:2: server.listen: must be "
							    "IP:PORT or [IPv6]:PORT, e.g. "
							    "127.0.0.1:8080");
	expect_error("[server]\nlisten = 127.0.0.1:70000\n", "t.ini:2: server.listen: must be "
							     "IP:PORT or [IPv6]:PORT, e.g. "
							     "127.0.0.1:8080");
	expect_error("[server]\npublic_url = ftp://example.com\n", "t.ini:2: server.public_url: "
								   "must be an http:// or https:// "
								   "URL");
	expect_error("[server]\npublic_url = https://\n", "t.ini:2: server.public_url: must be an "
							  "http:// or https:// URL");
	expect_error("[ado]\nbase_url =\n", "t.ini:2: ado.base_url: must be an http:// or https:// "
					    "URL");
	expect_error("[clickup]\nbase_url = api.clickup.com\n", "t.ini:2: clickup.base_url: must "
								"be an http:// or https:// URL");
	expect_error("[database]\nurl = postgresql://db/sync\n", "t.ini:2: database.url: "
								 "PostgreSQL is not supported yet; "
								 "use sqlite:PATH");
	expect_error("[database]\nurl = mysql://db\n", "t.ini:2: database.url: must start with "
						       "sqlite: followed by a path, e.g. "
						       "sqlite:/var/lib/ado-clickup-sync/sync.db");
	expect_error("[database]\nurl = sqlite:\n", "t.ini:2: database.url: must start with "
						    "sqlite: followed by a path, e.g. "
						    "sqlite:/var/lib/ado-clickup-sync/sync.db");
	expect_error("[ado]\norganization = my org\n", "t.ini:2: ado.organization: must not "
						       "contain spaces or any of / ? # %");
	expect_error("[server]\ntrusted_proxies = 10.0.0.1, 10.0.0.0/33\n", "t.ini:2: "
									    "server.trusted_"
									    "proxies: "
									    "\"10.0.0.0/33\" is "
									    "not an IP address or "
									    "CIDR range");
	expect_error("[server]\ntrusted_proxies = 10.0.0.1,,10.0.0.2\n", "t.ini:2: "
									 "server.trusted_proxies: "
									 "empty item in the list");
}

static void test_errors_users_and_maps(void **state)
{
	(void)state;
	expect_error("[users]\nnot-an-email = 1\n", "t.ini:2: users.not-an-email: the key must be "
						    "an Azure DevOps user's e-mail "
						    "address");
	expect_error("[users]\na@x.io = bob\n", "t.ini:2: users.a@x.io: must be a ClickUp user id "
						"(a number)");
	expect_error("[users]\na@x.io = 1\nA@X.io = 2\n", "t.ini:3: users.A@X.io: duplicate key "
							  "(first set on line 2)");
	static const char head[] = "[map a]\nado_project = P\nclickup_list_id = 1\n";
	char buf[512];
	snprintf(buf, sizeof(buf), "%sado_projet = x\n", head);
	expect_error(buf, "t.ini:4: map.a.ado_projet: unknown key (did you mean "
			  "map.a.ado_project?)");
	snprintf(buf, sizeof(buf), "%sstatuses = x\n", head);
	expect_error(buf, "t.ini:4: map.a.statuses: unknown key");
	snprintf(buf, sizeof(buf), "%sstatus. = x\n", head);
	expect_error(buf, "t.ini:4: map.a.status.: an Azure DevOps state must follow \"status.\"");
	snprintf(buf, sizeof(buf), "%sstatus.New =\n", head);
	expect_error(buf, "t.ini:4: map.a.status.New: must be a ClickUp status");
	snprintf(buf, sizeof(buf), "%sstatus.New = a\nstatus.new = b\n", head);
	expect_error(buf, "t.ini:5: map.a.status.new: duplicate key (first set on line 4)");
	snprintf(buf, sizeof(buf), "%scustom.X = \n", head);
	expect_error(buf, "t.ini:4: map.a.custom.X: must be a ClickUp custom field id");
	snprintf(buf, sizeof(buf), "%scustom. = y\n", head);
	expect_error(buf, "t.ini:4: map.a.custom.: an Azure DevOps field reference must follow "
			  "\"custom.\"");
	snprintf(buf, sizeof(buf), "%son_delete = archive\n", head);
	expect_error(buf, "t.ini:4: map.a.on_delete: must be one of close, delete, ignore");
	snprintf(buf, sizeof(buf), "%sado_work_item_types =\n", head);
	expect_error(buf, "t.ini:4: map.a.ado_work_item_types: must list at least 1 item");
	snprintf(buf, sizeof(buf), "%sado_new_item_type =\n", head);
	expect_error(buf, "t.ini:4: map.a.ado_new_item_type: must not be empty");
	snprintf(buf, sizeof(buf), "%sclickup_list_id = 2\n", head);
	expect_error(buf, "t.ini:4: map.a.clickup_list_id: duplicate key (first set on line 3)");
	snprintf(buf, sizeof(buf), "%sclickup_list_id = 2\n", "[map a]\nado_project = P\n");
	expect_clean(buf);

	/* Cross-field checks after parsing name the section line. */
	expect_errors("[log]\nlevel = info\n[map a]\n",
		      "t.ini:3: map.a.ado_project: required (or set ado.project)",
		      "t.ini:3: map.a.clickup_list_id: required");
	expect_error("[map a]\nado_project = P\nclickup_list_id = 1\nado_work_item_types = Bug\n",
		     "t.ini:4: map.a.ado_new_item_type: \"Task\" is not one of "
		     "ado_work_item_types");
	expect_error("[map a]\nado_project = P\nclickup_list_id = 1\nado_new_item_type = Epic\n",
		     "t.ini:4: map.a.ado_new_item_type: \"Epic\" is not one of "
		     "ado_work_item_types");
	expect_error("[map a]\nado_project = P\nclickup_list_id = 7\n"
		     "[map b]\nado_project = Q\nclickup_list_id = 7\n",
		     "t.ini:6: map.b.clickup_list_id: list 7 is already mapped by [map a]");
}

static void test_errors_all_reported(void **state)
{
	(void)state;
	char *path = fixture("errors.ini");
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	struct acs_config_errors *errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_file(cfg, path, errs), ACS_ECONFIG);
	assert_int_equal(acs_config_finish(cfg, errs), ACS_ECONFIG);
	const char *expected[] = {
		"%s:3: server.listen: must be IP:PORT or [IPv6]:PORT, e.g. 127.0.0.1:8080",
		"%s:4: server.max_body_bytes: must be between 1K and 1G",
		"%s:7: sync.conflict: must be one of newest, ado, clickup",
		"%s:8: sync.concurrency: must be between 1 and 256",
		"%s:9: sync.concurrency: duplicate key (first set on line 8)",
		"%s:11: unknown section [databse] (did you mean [database]?)",
		"%s:15: map.broken.on_delete: must be one of close, delete, ignore",
		"%s:14: map.broken.ado_project: required (or set ado.project)",
		"%s:14: map.broken.clickup_list_id: required",
	};
	if (acs_config_errors_count(errs) != ACS_ARRAY_SIZE(expected))
		print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), ACS_ARRAY_SIZE(expected));
	for (size_t i = 0; i < ACS_ARRAY_SIZE(expected); i++) {
		char want[512];
		snprintf(want, sizeof(want), expected[i], path);
		assert_string_equal(acs_config_errors_get(errs, i), want);
	}

	/* Printing gives one message per line. */
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	acs_config_errors_print(errs, f);
	fclose(f);
	size_t lines = 0;
	for (const char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, ACS_ARRAY_SIZE(expected));
	free(text);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	free(path);
}

static void test_errors_bounded(void **state)
{
	(void)state;
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	assert_int_equal(acs_buf_appends(&b, "[server]\n"), 0);
	for (int i = 0; i < 500; i++)
		assert_int_equal(acs_buf_printf(&b, "bogus%d = 1\n", i), 0);
	struct acs_config_errors *errs;
	struct acs_config *cfg = load(b.data, &errs);
	assert_int_equal(acs_config_errors_count(errs), 100);
	assert_string_equal(acs_config_errors_get(errs, 0), "t.ini:2: server.bogus0: unknown key");
	assert_string_equal(acs_config_errors_get(errs, 99), "t.ini: too many errors, the rest are "
							     "not shown");
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	acs_buf_free(&b);
}

static void test_errors_api(void **state)
{
	(void)state;
	struct acs_config_errors *errs = acs_config_errors_new();
	assert_int_equal(acs_config_errors_count(errs), 0);
	acs_config_errors_add(errs, "f.ini", 3, "a.b", "bad %d", 7);
	acs_config_errors_add(errs, "f.ini", 4, NULL, "plain");
	acs_config_errors_add(errs, "f.ini", 0, NULL, "file level");
	acs_config_errors_add(errs, "f.ini", 0, "x.y", "missing");
	acs_config_errors_add(NULL, "f.ini", 1, NULL, "ignored");
	assert_int_equal(acs_config_errors_count(errs), 4);
	assert_string_equal(acs_config_errors_get(errs, 0), "f.ini:3: a.b: bad 7");
	assert_string_equal(acs_config_errors_get(errs, 1), "f.ini:4: plain");
	assert_string_equal(acs_config_errors_get(errs, 2), "f.ini: file level");
	assert_string_equal(acs_config_errors_get(errs, 3), "f.ini:0: x.y: missing");
	assert_int_equal(acs_config_errors_count(NULL), 0);
	acs_config_errors_free(errs);
}

static void test_load_file_errors(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *missing = acs_xasprintf("%s/nope.ini", dir);
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_file(cfg, missing, errs), -ENOENT);
	assert_int_equal(acs_config_errors_count(errs), 1);
	char *want = acs_xasprintf("%s: cannot read: No such file or directory", missing);
	assert_string_equal(acs_config_errors_get(errs, 0), want);
	free(want);
	assert_int_equal(acs_config_load_file(cfg, dir, errs), -EISDIR);
	/* A NUL byte inside a line is refused with its line number. */
	char *nul = acs_xasprintf("%s/nul.ini", dir);
	FILE *f = fopen(nul, "w");
	assert_non_null(f);
	assert_int_equal(fwrite("[log]\nlevel = info\0x\n", 1, 21, f), 21);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(acs_config_load_file(cfg, nul, errs), ACS_ECONFIG);
	assert_int_equal(acs_config_errors_count(errs), 3);
	want = acs_xasprintf("%s:2: the line contains a NUL byte", nul);
	assert_string_equal(acs_config_errors_get(errs, 2), want);
	free(want);
	free(nul);
	/* Errors may be discarded: the return code still tells. */
	assert_int_equal(acs_config_load_string(cfg, "t.ini", "[nope]\n", NULL), ACS_ECONFIG);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	free(missing);
	acs_test_rmtree(dir);
	free(dir);
}

/* --- secrets ------------------------------------------------------------- */

static void test_secret_precedence(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *patf = acs_xasprintf("%s/pat", dir);
	char *tokf = acs_xasprintf("%s/token", dir);
	write_file(patf, "file-pat-value\r\n");
	write_file(tokf, "file-token-value\n\n");
	char *text = acs_xasprintf("[ado]\npat_file = %s\nwebhook_password = inline-hook-pw\n"
				   "[clickup]\ntoken_file = %s\n",
				   patf, tokf);

	/* No environment: the files' contents, newlines stripped; inline kept. */
	struct acs_config_errors *errs;
	struct acs_config *cfg = load(text, &errs);
	print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), 0);
	assert_string_equal(cfg->ado.pat, "file-pat-value");
	assert_string_equal(cfg->ado.webhook_password, "inline-hook-pw");
	assert_string_equal(cfg->clickup.token, "file-token-value");
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	/* Environment wins over file and over inline. */
	static const char *const kv[] = { "ADO_PAT",	 "env-pat-value",     "WEBHOOK_SECRET",
					  "env-hook-pw", "CLICKUP_API_TOKEN", "env-token-value",
					  NULL };
	struct fake_env env = { kv };
	cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, &env);
	errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_string(cfg, "t.ini", text, errs), 0);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	assert_string_equal(cfg->ado.pat, "env-pat-value");
	assert_string_equal(cfg->ado.webhook_password, "env-hook-pw");
	assert_string_equal(cfg->clickup.token, "env-token-value");
	/* The path stays visible; the file was still read and checked. */
	assert_string_equal(cfg->ado.pat_file, patf);
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	/* An empty variable counts as unset. */
	static const char *const kv_empty[] = { "ADO_PAT", "", NULL };
	struct fake_env env_empty = { kv_empty };
	cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, &env_empty);
	assert_int_equal(acs_config_load_string(cfg, "t.ini", text, NULL), 0);
	assert_int_equal(acs_config_finish(cfg, NULL), 0);
	assert_string_equal(cfg->ado.pat, "file-pat-value");
	acs_config_free(cfg);

	/* The process environment is the default lookup (restored after). */
	assert_int_equal(setenv("CLICKUP_API_TOKEN", "process-env-token", 1), 0);
	cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_finish(cfg, NULL), 0);
	assert_string_equal(cfg->clickup.token, "process-env-token");
	acs_config_free(cfg);
	assert_int_equal(unsetenv("CLICKUP_API_TOKEN"), 0);

	/* Inline and _file together is an error at the _file line; the file's
	 * value is the one kept. */
	char *both = acs_xasprintf("[ado]\npat = inline-pat-value\npat_file = %s\n", patf);
	cfg = load(both, &errs);
	assert_int_equal(acs_config_errors_count(errs), 1);
	assert_string_equal(acs_config_errors_get(errs, 0), "t.ini:3: ado.pat_file: set either "
							    "ado.pat or ado.pat_file, not both");
	assert_string_equal(cfg->ado.pat, "file-pat-value");
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	free(both);
	free(text);
	free(patf);
	free(tokf);
	acs_test_rmtree(dir);
	free(dir);
}

static void test_secret_file_errors(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *empty = acs_xasprintf("%s/empty", dir);
	write_file(empty, "\n");
	char *buf;

	buf = acs_xasprintf("[clickup]\ntoken_file = %s/missing\n", dir);
	char *want = acs_xasprintf("t.ini:2: clickup.token_file: cannot read %s/missing: No such "
				   "file or directory",
				   dir);
	expect_error(buf, want);
	free(buf);
	free(want);

	/* The environment does not hide a broken path. */
	static const char *const kv[] = { "CLICKUP_API_TOKEN", "env-token-value", NULL };
	struct fake_env env = { kv };
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, &env);
	struct acs_config_errors *errs = acs_config_errors_new();
	buf = acs_xasprintf("[clickup]\ntoken_file = %s/missing\n", dir);
	assert_int_equal(acs_config_load_string(cfg, "t.ini", buf, errs), 0);
	assert_int_equal(acs_config_finish(cfg, errs), ACS_ECONFIG);
	assert_int_equal(acs_config_errors_count(errs), 1);
	assert_non_null(strstr(acs_config_errors_get(errs, 0), "clickup.token_file: cannot read"));
	assert_string_equal(cfg->clickup.token, "env-token-value");
	free(buf);
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	buf = acs_xasprintf("[ado]\nwebhook_password_file = %s\n", empty);
	want = acs_xasprintf("t.ini:2: ado.webhook_password_file: %s is empty", empty);
	expect_error(buf, want);
	free(buf);
	free(want);

	buf = acs_xasprintf("[dashboard]\nadmin_password_hash_file = %s\n", dir);
	want = acs_xasprintf("t.ini:2: dashboard.admin_password_hash_file: cannot read %s: Is a "
			     "directory",
			     dir);
	expect_error(buf, want);
	free(buf);
	free(want);

	/* A relative path resolves against $CREDENTIALS_DIRECTORY when set. */
	char *cred = acs_xasprintf("%s/ado-pat", dir);
	write_file(cred, "credential-pat-value\n");
	static const char *kvc[] = { "CREDENTIALS_DIRECTORY", NULL, NULL };
	kvc[1] = dir;
	struct fake_env envc = { kvc };
	cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, &envc);
	errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_string(cfg, "t.ini", "[ado]\npat_file = ado-pat\n", errs),
			 0);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	assert_string_equal(cfg->ado.pat, "credential-pat-value");
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	free(cred);

	/* The admin hash must be an Argon2id hash, inline or from a file. */
	expect_error("[dashboard]\nadmin_password_hash = hunter2hunter2\n",
		     "t.ini:2: dashboard.admin_password_hash: must be an Argon2id hash "
		     "($argon2id$...); create one with \"ado-clickup-sync hash-password\"");
	char *hashf = acs_xasprintf("%s/hash", dir);
	write_file(hashf, "$2y$10$bcrypt\n");
	buf = acs_xasprintf("[dashboard]\n\nadmin_password_hash_file = %s\n", hashf);
	expect_error(buf, "t.ini:3: dashboard.admin_password_hash_file: must be an Argon2id hash "
			  "($argon2id$...); create one with \"ado-clickup-sync hash-password\"");
	free(buf);
	free(hashf);

	free(empty);
	acs_test_rmtree(dir);
	free(dir);
}

static void test_secrets_redacted_in_logs(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *f = acs_xasprintf("%s/tok", dir);
	write_file(f, "secret-from-file-777\n");
	static const char *const kv[] = { "ADO_PAT", "secret-from-env-555", NULL };
	struct fake_env env = { kv };
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, &env);
	char *text = acs_xasprintf("[ado]\nwebhook_password = secret-inline-333\n"
				   "[clickup]\ntoken_file = %s\n"
				   "[dashboard]\nadmin_password_hash = "
				   "$argon2id$v=19$secret-hash\n",
				   f);
	assert_int_equal(acs_config_load_string(cfg, "t.ini", text, NULL), 0);
	assert_int_equal(acs_config_finish(cfg, NULL), 0);

	acs_test_log_capture_begin();
	acs_log(ACS_LOG_ERR, "test", "pat=%s hook=%s token=%s hash=%s", cfg->ado.pat,
		cfg->ado.webhook_password, cfg->clickup.token, cfg->dashboard.admin_password_hash);
	const char *out = acs_test_log_captured();
	assert_null(strstr(out, "secret-from-env-555"));
	assert_null(strstr(out, "secret-inline-333"));
	assert_null(strstr(out, "secret-from-file-777"));
	assert_null(strstr(out, "secret-hash"));
	const char *p = out;
	int n = 0;
	while ((p = strstr(p, "[REDACTED]")) != NULL) {
		n++;
		p++;
	}
	assert_int_equal(n, 4);
	acs_test_log_capture_end();

	acs_config_free(cfg);
	free(text);
	free(f);
	acs_test_rmtree(dir);
	free(dir);
}

/* --- dump ---------------------------------------------------------------- */

static void test_dump(void **state)
{
	(void)state;
	struct acs_config_errors *errs;
	struct acs_config *cfg = load("[ado]\npat = dump-secret-pat-1\n"
				      "[users]\na@x.io = 5\n"
				      "[map m]\nado_project = P\nclickup_list_id = 9\n"
				      "status.New = to do\ncustom.Custom.X = fid\n",
				      &errs);
	assert_int_equal(acs_config_errors_count(errs), 0);
	acs_config_errors_free(errs);
	char *text = dump(cfg);
	assert_null(strstr(text, "dump-secret-pat-1"));
	static const char *const want[] = {
		"\n[server]\nlisten = 127.0.0.1:8080\n",
		"\nmax_body_bytes = 4M\nmax_header_bytes = 16K\nread_timeout = 10s\n"
		"idle_timeout = 1m\nmax_connections = 1024\n",
		"\n[database]\nurl = sqlite:/var/lib/ado-clickup-sync/sync.db\n",
		"\npat = [REDACTED]\npat_file = \n",
		"\nwebhook_password = \n",
		"\nsweep_interval = 5m\nwebhook_check_interval = 10m\nattachment_max_bytes = 25M\n",
		"\n[log]\nlevel = info\nformat = logfmt\n",
		"\n[users]\na@x.io = 5\n",
		"\n[map m]\nado_project = P\nado_area_path = \n"
		"ado_work_item_types = Task, Bug, User Story\nado_new_item_type = Task\n"
		"clickup_list_id = 9\nstatus.New = to do\ncustom.Custom.X = fid\n"
		"on_delete = close\ncopy_existing_comments = true\n",
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(want); i++) {
		if (!strstr(text, want[i]))
			fail_msg("dump lacks:\n%s\n--- dump:\n%s", want[i], text);
	}

	/* The dump loads back to the same dump (secrets aside). */
	struct acs_config *again = acs_config_new_defaults();
	acs_config_set_getenv(again, fake_getenv, (void *)&empty_env);
	errs = acs_config_errors_new();
	assert_int_equal(acs_config_load_string(again, "dump.ini", text, errs), 0);
	assert_int_equal(acs_config_finish(again, errs), 0);
	char *text2 = dump(again);
	assert_string_equal(text, text2);
	assert_string_equal(again->ado.pat, "[REDACTED]");

	free(text);
	free(text2);
	acs_config_errors_free(errs);
	acs_config_free(again);
	acs_config_free(cfg);
}

/* --- serving requirements ------------------------------------------------ */

static void test_check_serving(void **state)
{
	(void)state;
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	assert_int_equal(acs_config_load_string(cfg, "s.ini", "[ado]\norganization = org\n", errs),
			 0);
	assert_int_equal(acs_config_finish(cfg, errs), 0);
	assert_int_equal(acs_config_check_serving(cfg, errs), ACS_ECONFIG);
	static const char *const want[] = {
		"s.ini:0: server.public_url: required to run the daemon",
		"s.ini:0: ado.pat: required to run the daemon; set ado.pat, ado.pat_file or "
		"ADO_PAT",
		"s.ini:0: ado.webhook_password: required to run the daemon; set "
		"ado.webhook_password, ado.webhook_password_file or WEBHOOK_SECRET",
		"s.ini:0: clickup.token: required to run the daemon; set clickup.token, "
		"clickup.token_file or CLICKUP_API_TOKEN",
		"s.ini:0: clickup.workspace_id: required to run the daemon",
	};
	if (acs_config_errors_count(errs) != ACS_ARRAY_SIZE(want))
		print_errors(errs);
	assert_int_equal(acs_config_errors_count(errs), ACS_ARRAY_SIZE(want));
	for (size_t i = 0; i < ACS_ARRAY_SIZE(want); i++)
		assert_string_equal(acs_config_errors_get(errs, i), want[i]);
	acs_config_errors_free(errs);
	acs_config_free(cfg);

	cfg = load("[server]\npublic_url = http://127.0.0.1:1\n"
		   "[ado]\norganization = o\npat = serve-pat-1\nwebhook_password = serve-pw-1\n"
		   "[clickup]\ntoken = serve-token-1\nworkspace_id = 1\n",
		   &errs);
	assert_int_equal(acs_config_check_serving(cfg, errs), 0);
	assert_int_equal(acs_config_errors_count(errs), 0);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
}

/* --- config.example.ini -------------------------------------------------- */

static char *example_path(void)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	assert_non_null(root);
	return acs_xasprintf("%s/config.example.ini", root);
}

/* True when text documents key of section: a line "key =" (maybe commented
 * out) under a "[section]" header ("[map NAME]" for section "map"). For
 * "status.*" any "status.X =" line counts; for "*" any "x = y" line. */
static bool documented(const char *text, const char *section, const char *key)
{
	char cur[64] = "";
	size_t klen = strlen(key);
	bool prefix = klen > 0 && key[klen - 1] == '*';
	if (prefix)
		klen--;
	const char *line = text;
	while (*line) {
		const char *eol = strchr(line, '\n');
		size_t n = eol ? (size_t)(eol - line) : strlen(line);
		if (*line == '[') {
			size_t sl = strcspn(line + 1, " ]");
			snprintf(cur, sizeof(cur), "%.*s", (int)sl, line + 1);
		} else if (strcmp(cur, section) == 0) {
			const char *p = line, *end = line + n;
			while (p < end && (*p == '#' || *p == ';' || *p == ' '))
				p++;
			if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0) {
				const char *q = p + klen;
				if (prefix) {
					/* a non-empty name after the prefix, then '=' */
					size_t name = strcspn(q, "=\n");
					q = name > 0 ? q + name : end;
				} else {
					while (q < end && *q == ' ')
						q++;
				}
				if (q < end && *q == '=')
					return true;
			}
		}
		line += n + (eol != NULL);
	}
	return false;
}

static void test_example_documents_every_key(void **state)
{
	(void)state;
	char *path = example_path();
	char *text = read_text(path);
	for (size_t i = 0; i < acs_config_key_count(); i++) {
		const char *section, *key;
		unsigned flags;
		acs_config_key_at(i, &section, &key, &flags);
		if (!documented(text, section, key))
			fail_msg("%s.%s is not documented in config.example.ini", section, key);
	}
	assert_false(documented(text, "server", "no_such_key"));
	free(text);
	free(path);
}

static void test_example_loads_cleanly(void **state)
{
	(void)state;
	char *path = example_path();
	struct acs_config *cfg = acs_config_new_defaults();
	acs_config_set_getenv(cfg, fake_getenv, (void *)&empty_env);
	struct acs_config_errors *errs = acs_config_errors_new();
	int rc = acs_config_load_file(cfg, path, errs);
	if (rc == 0)
		rc = acs_config_finish(cfg, errs);
	print_errors(errs);
	assert_int_equal(rc, 0);
	assert_int_equal(acs_config_errors_count(errs), 0);
	/* Commented-out keys show the defaults: nothing but the map changed. */
	struct acs_config *def = acs_config_new_defaults();
	char *d1 = dump(cfg), *d2 = dump(def);
	char *m = strstr(d1, "\n[map example]\n");
	assert_non_null(m);
	*m = '\0';
	assert_string_equal(d1, d2);
	assert_int_equal(cfg->n_maps, 1);
	assert_int_equal(cfg->maps[0].status.n, 4);
	assert_int_equal(cfg->maps[0].custom.n, 1);
	free(d1);
	free(d2);
	acs_config_free(def);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_map_defaults),
		cmocka_unit_test(test_key_table),
		cmocka_unit_test(test_parse_duration),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_listen),
		cmocka_unit_test_teardown(test_load_full_fixture, teardown_log),
		cmocka_unit_test(test_syntax_tolerance),
		cmocka_unit_test(test_users_and_maps),
		cmocka_unit_test(test_later_load_overrides),
		cmocka_unit_test(test_errors_sections_and_syntax),
		cmocka_unit_test(test_errors_values),
		cmocka_unit_test(test_errors_users_and_maps),
		cmocka_unit_test(test_errors_all_reported),
		cmocka_unit_test(test_errors_bounded),
		cmocka_unit_test(test_errors_api),
		cmocka_unit_test(test_load_file_errors),
		cmocka_unit_test_teardown(test_secret_precedence, teardown_log),
		cmocka_unit_test_teardown(test_secret_file_errors, teardown_log),
		cmocka_unit_test_teardown(test_secrets_redacted_in_logs, teardown_log),
		cmocka_unit_test_teardown(test_dump, teardown_log),
		cmocka_unit_test_teardown(test_check_serving, teardown_log),
		cmocka_unit_test(test_example_documents_every_key),
		cmocka_unit_test(test_example_loads_cleanly),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	acs_log_reset();
	return rc;
}
