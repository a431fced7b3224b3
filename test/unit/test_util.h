/* SPDX-License-Identifier: MIT */
/* Shared helpers for the cmocka unit tests: temp dirs, loop teardown checks,
 * a log capture sink and free loopback ports. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <uv.h>

/** Make a fresh directory under $TMPDIR (or /tmp); caller frees the string
 *  and removes the tree with acs_test_rmtree(). */
char *acs_test_tmpdir(void);
/** rm -rf path (best effort). */
void acs_test_rmtree(const char *path);

/** Close every handle still open on loop, run it until they are gone and
 *  assert uv_loop_close() == 0, as libuv's MAKE_VALGRIND_HAPPY does. */
void acs_test_loop_close(uv_loop_t *loop);

/** Run loop until *flag becomes true or timeout_ms elapses (then fail). */
void acs_test_run_until(uv_loop_t *loop, const volatile int *flag, uint64_t timeout_ms);

/** Capture log lines in memory (acs_test_log_capture_begin) and query them. */
void acs_test_log_capture_begin(void);
/** The captured text, lines separated by '\n'; valid until _end. */
const char *acs_test_log_captured(void);
void acs_test_log_capture_end(void);
