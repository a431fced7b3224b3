/* SPDX-License-Identifier: MIT */
/* Unit tests for comments: the mirror text and its recognition, argument checks and the
 * comment_map read on a real store. The mirroring itself runs against both simulators in
 * test_syncer.c (comments both ways, crash recovery, existing comments). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "comments.h"
#include "html_md.h"
#include "mem.h"
#include "store.h"

static void test_mirror_text(void **state)
{
	(void)state;
	char *m = acs_comments_mirror_text("Ada Lovelace", "Azure DevOps", "Hello **world**");
	assert_string_equal(m, "**Ada Lovelace** (Azure DevOps):\n\nHello **world**");
	assert_true(acs_comments_is_mirror(m, "Azure DevOps"));
	assert_false(acs_comments_is_mirror(m, "ClickUp"));
	/* The canonical form keeps the header recognisable, and the HTML round trip too. */
	char *c = acs_html_md_canonical_markdown(m);
	assert_string_equal(c, m);
	char *html = NULL, *back = NULL;
	assert_int_equal(acs_markdown_to_html(c, strlen(c), &html, NULL), 0);
	assert_int_equal(acs_html_to_markdown(html, strlen(html), &back, NULL), 0);
	assert_true(acs_comments_is_mirror(back, "Azure DevOps"));
	free(back);
	free(html);
	free(c);
	free(m);

	/* Markup in a name is escaped; no body gives the header alone. */
	m = acs_comments_mirror_text("a*b_[c]", "ClickUp", NULL);
	assert_string_equal(m, "**a\\*b\\_\\[c\\]** (ClickUp):");
	assert_true(acs_comments_is_mirror(m, "ClickUp"));
	c = acs_html_md_canonical_markdown(m);
	assert_true(acs_comments_is_mirror(c, "ClickUp"));
	free(c);
	free(m);
	m = acs_comments_mirror_text("", "ClickUp", "");
	assert_string_equal(m, "**Someone** (ClickUp):");
	free(m);

	/* Not mirrors: plain text, a header in a later line, a different source. */
	assert_false(acs_comments_is_mirror("Hello", "ClickUp"));
	assert_false(acs_comments_is_mirror("x\n**A** (ClickUp):", "ClickUp"));
	assert_false(acs_comments_is_mirror("**A** (Jira):", "ClickUp"));
	assert_false(acs_comments_is_mirror("** (ClickUp):", "ClickUp"));
	assert_false(acs_comments_is_mirror(NULL, "ClickUp"));
}

struct rows_cap {
	int done, rc;
	struct acs_comment_rows *rows;
};

static void on_rows(int rc, const char *err, struct acs_comment_rows *rows, void *arg)
{
	(void)err;
	struct rows_cap *c = arg;
	c->rc = rc;
	c->rows = rows;
	c->done = 1;
}

static void on_closed(void *arg)
{
	*(int *)arg = 1;
}

static void test_args_and_rows(void **state)
{
	(void)state;
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	char *dir = acs_test_tmpdir();
	char *db = acs_xasprintf("%s/c.db", dir);
	char err[ACS_ERR_LEN] = "";
	struct acs_store *st = NULL;
	assert_int_equal(acs_store_open(&loop, db, &st, err), 0);

	assert_null(acs_comments_new(NULL, NULL, NULL));
	assert_int_equal(acs_comments_running(NULL), 0);
	acs_comments_free(NULL);
	struct acs_comments_pair p = { .sync_id = 1, .ado_id = 1, .clickup_id = "" };
	assert_int_equal(acs_comments_sync(NULL, &p, NULL, NULL, NULL), -EINVAL);
	assert_int_equal(acs_comments_rows(st, 0, on_rows, NULL), -EINVAL);
	assert_int_equal(acs_comments_rows(NULL, 1, on_rows, NULL), -EINVAL);

	struct rows_cap c = { 0 };
	assert_int_equal(acs_comments_rows(st, 7, on_rows, &c), 0);
	acs_test_run_until(&loop, &c.done, 10000);
	assert_int_equal(c.rc, 0);
	assert_non_null(c.rows);
	assert_int_equal(c.rows->n, 0);
	acs_comment_rows_free(c.rows);
	acs_comment_rows_free(NULL);

	int closed = 0;
	acs_store_close(st, on_closed, &closed);
	acs_test_run_until(&loop, &closed, 10000);
	acs_test_loop_close(&loop);
	acs_test_rmtree(dir);
	free(db);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mirror_text),
		cmocka_unit_test(test_args_and_rows),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
