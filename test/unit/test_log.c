/* SPDX-License-Identifier: MIT */
/* Unit tests for log.c: formats, levels and, above all, redaction. */
#include "test_util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "mem.h"

static int teardown(void **state)
{
	(void)state;
	acs_test_log_capture_end();
	acs_log_reset();
	return 0;
}

static void test_logfmt_line(void **state)
{
	(void)state;
	acs_test_log_capture_begin();
	struct acs_log_field f[] = { { "method", "GET" }, { "path", "/a b" }, { "n", "" } };
	acs_log_kv(ACS_LOG_INFO, "http", "request", f, 3);
	const char *out = acs_test_log_captured();
	assert_non_null(strstr(out, "ts="));
	assert_non_null(strstr(out, " level=info mod=http msg=request method=GET path=\"/a b\" "
				    "n=\"\"\n"));
}

static void test_levels_filter(void **state)
{
	(void)state;
	acs_test_log_capture_begin();
	acs_log_set_level(ACS_LOG_WARN);
	acs_log(ACS_LOG_INFO, "x", "hidden %d", 1);
	acs_log(ACS_LOG_WARN, "x", "shown %d", 2);
	acs_log(ACS_LOG_DEBUG, "x", "hidden %d", 3);
	const char *out = acs_test_log_captured();
	assert_null(strstr(out, "hidden"));
	assert_non_null(strstr(out, "msg=\"shown 2\""));
	acs_log_set_level(ACS_LOG_DEBUG);
	acs_log(ACS_LOG_DEBUG, "x", "dbg");
	assert_non_null(strstr(acs_test_log_captured(), "src=test_log.c:"));

	enum acs_log_level l;
	assert_int_equal(acs_log_level_parse("DEBUG", &l), 0);
	assert_int_equal(l, ACS_LOG_DEBUG);
	assert_int_equal(acs_log_level_parse("warning", &l), 0);
	assert_int_equal(l, ACS_LOG_WARN);
	assert_int_equal(acs_log_level_parse("loud", &l), ACS_EPARSE);
	enum acs_log_format fm;
	assert_int_equal(acs_log_format_parse("json", &fm), 0);
	assert_int_equal(fm, ACS_LOG_JSON);
	assert_int_equal(acs_log_format_parse("xml", &fm), ACS_EPARSE);
}

static void test_json_line(void **state)
{
	(void)state;
	acs_test_log_capture_begin();
	acs_log_set_format(ACS_LOG_JSON);
	struct acs_log_field f[] = { { "quote", "a\"b\\c\nd" }, { "token", "abc" } };
	acs_log_kv(ACS_LOG_ERR, "store", "failed \t here", f, 2);
	const char *out = acs_test_log_captured();
	json_error_t e;
	json_t *j = json_loadb(out, strlen(out) - 1, 0, &e);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "level")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "mod")), "store");
	assert_string_equal(json_string_value(json_object_get(j, "msg")), "failed \t here");
	assert_string_equal(json_string_value(json_object_get(j, "quote")), "a\"b\\c\nd");
	assert_string_equal(json_string_value(json_object_get(j, "token")), "[REDACTED]");
	assert_non_null(json_object_get(j, "ts"));
	json_decref(j);
}

static void test_secret_keys(void **state)
{
	(void)state;
	assert_true(acs_log_key_is_secret("token"));
	assert_true(acs_log_key_is_secret("clickup.token"));
	assert_true(acs_log_key_is_secret("ado.pat"));
	assert_true(acs_log_key_is_secret("webhook_password"));
	assert_true(acs_log_key_is_secret("Authorization"));
	assert_true(acs_log_key_is_secret("x-signature"));
	assert_true(acs_log_key_is_secret("admin_password_hash"));
	assert_false(acs_log_key_is_secret("path"));
	assert_false(acs_log_key_is_secret("patch"));
	assert_false(acs_log_key_is_secret("key"));
	assert_false(acs_log_key_is_secret("pat_file"));
	assert_false(acs_log_key_is_secret("method"));
}

static void redacts(const char *in, const char *expect)
{
	char out[512];
	acs_log_redact(in, out, sizeof(out));
	assert_string_equal(out, expect);
}

static void test_redact_patterns(void **state)
{
	(void)state;
	redacts("Authorization: Basic OnBhdHBhdHBhdA==", "Authorization: [REDACTED]");
	redacts("sent authorization=pk_123_ABC to x", "sent authorization=[REDACTED]");
	redacts("{\"Authorization\":\"Bearer abc.def.ghi\"}", "{\"Authorization\":\"[REDACTED]\"}");
	redacts("header Basic dXNlcjpwYXNzd29yZA== ok", "header Basic [REDACTED] ok");
	redacts("token pk_81234567_ABCDEFGHIJKLMNOP in text", "token [REDACTED] in text");
	redacts("GET https://user:hunter22@example.com/x", "GET "
							   "https://user:[REDACTED]@example.com/x");
	redacts("plain text stays", "plain text stays");
	redacts("spk_123 is not a token", "spk_123 is not a token");
	/* Truncation keeps the result terminated. */
	char small[8];
	acs_log_redact("0123456789", small, sizeof(small));
	assert_string_equal(small, "0123456");
}

static void test_registered_secrets(void **state)
{
	(void)state;
	acs_test_log_capture_begin();
	acs_log_add_secret("s3cr3t-PAT-value");
	acs_log_add_secret("abc"); /* too short: ignored, would mangle text */
	struct acs_log_field f[] = { { "url", "https://x/?q=s3cr3t-PAT-value&abc=1" } };
	acs_log_kv(ACS_LOG_INFO, "t", "got s3cr3t-PAT-value twice s3cr3t-PAT-value", f, 1);
	const char *out = acs_test_log_captured();
	assert_null(strstr(out, "s3cr3t"));
	assert_non_null(strstr(out, "msg=\"got [REDACTED] twice [REDACTED]\""));
	assert_non_null(strstr(out, "url=\"https://x/?q=[REDACTED]&abc=1\""));
}

static void test_log_file_reopen(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *path = acs_xasprintf("%s/a.log", dir);
	char *moved = acs_xasprintf("%s/a.log.1", dir);
	assert_int_equal(acs_log_set_file(path), 0);
	acs_log(ACS_LOG_INFO, "t", "first");
	assert_int_equal(rename(path, moved), 0);
	acs_log(ACS_LOG_INFO, "t", "second"); /* still to the moved file */
	assert_int_equal(acs_log_reopen(), 0);
	acs_log(ACS_LOG_INFO, "t", "third");
	assert_int_equal(acs_log_set_file(NULL), 0);

	char buf[4096];
	FILE *f = fopen(moved, "r");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "msg=first"));
	assert_non_null(strstr(buf, "msg=second"));
	assert_null(strstr(buf, "msg=third"));
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	assert_non_null(strstr(buf, "msg=third"));
	assert_int_equal(acs_log_set_file("/nonexistent-dir/x.log") < 0, 1);
	acs_test_rmtree(dir);
	free(dir);
	free(path);
	free(moved);
}

static void test_strerror(void **state)
{
	(void)state;
	assert_string_equal(acs_strerror(0), "success");
	assert_string_equal(acs_strerror(ACS_ETOOBIG), "size limit exceeded");
	assert_string_equal(acs_strerror(ACS_ECANCELED), "canceled");
	assert_non_null(acs_strerror(UV_ECONNREFUSED));
	assert_non_null(acs_strerror(-12345678));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_logfmt_line, teardown),
		cmocka_unit_test_teardown(test_levels_filter, teardown),
		cmocka_unit_test_teardown(test_json_line, teardown),
		cmocka_unit_test_teardown(test_secret_keys, teardown),
		cmocka_unit_test_teardown(test_redact_patterns, teardown),
		cmocka_unit_test_teardown(test_registered_secrets, teardown),
		cmocka_unit_test_teardown(test_log_file_reopen, teardown),
		cmocka_unit_test_teardown(test_strerror, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
