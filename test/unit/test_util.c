/* SPDX-License-Identifier: MIT */
/* Implementation of the unit-test helpers. */
#include "test_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "mem.h"

char *acs_test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *tmpl = acs_xasprintf("%s/acs-test-XXXXXX", base && *base ? base : "/tmp");
	assert_non_null(mkdtemp(tmpl));
	return tmpl;
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void acs_test_rmtree(const char *path)
{
	if (path)
		nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		fprintf(stderr, "test: handle type %s left open\n", uv_handle_type_name(h->type));
		uv_close(h, NULL);
	}
}

void acs_test_loop_close(uv_loop_t *loop)
{
	uv_run(loop, UV_RUN_DEFAULT);
	int open_handles = 0;
	uv_walk(loop, close_walk_cb, &open_handles);
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

struct run_until {
	const volatile int *flag;
	int timed_out;
};

static void until_timer_cb(uv_timer_t *t)
{
	struct run_until *ru = t->data;
	ru->timed_out = 1;
}

/* Runs right before the loop would block in poll: if a timer callback has
 * just set the flag, stop the loop so UV_RUN_ONCE returns now instead of
 * sleeping until the next unrelated event. */
static void until_prepare_cb(uv_prepare_t *p)
{
	struct run_until *ru = p->data;
	if (*ru->flag)
		uv_stop(p->loop);
}

void acs_test_run_until(uv_loop_t *loop, const volatile int *flag, uint64_t timeout_ms)
{
	uv_timer_t timer;
	uv_prepare_t prepare;
	struct run_until ru = { flag, 0 };
	uv_timer_init(loop, &timer);
	timer.data = &ru;
	uv_timer_start(&timer, until_timer_cb, timeout_ms, 0);
	uv_prepare_init(loop, &prepare);
	prepare.data = &ru;
	uv_prepare_start(&prepare, until_prepare_cb);
	while (!*flag && !ru.timed_out)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&timer, NULL);
	uv_close((uv_handle_t *)&prepare, NULL);
	uv_run(loop, UV_RUN_NOWAIT); /* runs the two close callbacks */
	if (!*flag)
		fail_msg("timed out after %llu ms", (unsigned long long)timeout_ms);
}

static struct acs_buf captured;
static int capturing;

static void capture_sink(enum acs_log_level level, const char *line, size_t len, void *arg)
{
	(void)level;
	(void)arg;
	(void)acs_buf_append(&captured, line, len);
	(void)acs_buf_append(&captured, "\n", 1);
}

void acs_test_log_capture_begin(void)
{
	if (!capturing)
		acs_buf_init(&captured, 64u << 20);
	acs_buf_reset(&captured);
	capturing = 1;
	acs_log_set_sink(capture_sink, NULL);
}

const char *acs_test_log_captured(void)
{
	return captured.data ? captured.data : "";
}

void acs_test_log_capture_end(void)
{
	acs_log_set_sink(NULL, NULL);
	acs_buf_free(&captured);
	capturing = 0;
}
