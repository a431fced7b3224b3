/* SPDX-License-Identifier: MIT */
/* Unit tests of the metrics registry: exact exposition text for counters,
 * gauges and histograms, label escaping, ordering and the API's refusals. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "err.h"
#include "mem.h"
#include "metrics.h"

static char *render(const struct acs_metrics *m)
{
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	assert_int_equal(acs_metrics_render(m, &b), 0);
	return acs_buf_steal(&b, NULL);
}

static void test_counters_and_gauge(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	assert_int_equal(acs_metrics_declare(m, "acs_events_received_total", ACS_METRIC_COUNTER,
					     "Webhook deliveries received."),
			 0);
	assert_int_equal(acs_metrics_declare(m, "acs_queue_depth", ACS_METRIC_GAUGE,
					     "Inbox rows waiting."),
			 0);
	/* Declared but never used: not rendered. */
	assert_int_equal(acs_metrics_declare(m, "acs_unused", ACS_METRIC_GAUGE, "x"), 0);

	struct acs_metric *h =
		acs_metrics_series(m, "acs_events_received_total",
				   ACS_LABELS("source", "clickup", "result", "accepted"));
	assert_non_null(h);
	acs_metric_add(h, 2);
	acs_metric_add(h, 1);
	acs_metric_add(h, -5); /* ignored: counters only go up */
	assert_ptr_equal(acs_metrics_series(m, "acs_events_received_total",
					    ACS_LABELS("source", "clickup", "result", "accepted")),
			 h);
	assert_int_equal(acs_metrics_add(m, "acs_events_received_total",
					 ACS_LABELS("source", "ado", "result", "accepted"), 7),
			 0);
	assert_int_equal(acs_metrics_set(m, "acs_queue_depth", ACS_NO_LABELS, 4), 0);
	assert_int_equal(acs_metrics_add(m, "acs_queue_depth", ACS_NO_LABELS, -1.5), 0);

	char *text = render(m);
	assert_string_equal(text, "# HELP acs_events_received_total Webhook deliveries received.\n"
				  "# TYPE acs_events_received_total counter\n"
				  "acs_events_received_total{source=\"ado\",result=\"accepted\"} "
				  "7\n"
				  "acs_events_received_total{source=\"clickup\",result="
				  "\"accepted\"} 3\n"
				  "# HELP acs_queue_depth Inbox rows waiting.\n"
				  "# TYPE acs_queue_depth gauge\n"
				  "acs_queue_depth 2.5\n");
	free(text);
	acs_metrics_free(m);
}

static void test_histogram(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	const double b[] = { 0.1, 1, 10 };
	assert_int_equal(acs_metrics_declare_histogram(m, "acs_sync_latency_seconds",
						       "Event received to twin written.", b, 3),
			 0);
	/* Same bounds again: fine; other bounds or type: refused. */
	assert_int_equal(acs_metrics_declare_histogram(m, "acs_sync_latency_seconds", "", b, 3), 0);
	assert_int_equal(acs_metrics_declare_histogram(m, "acs_sync_latency_seconds", "", b, 2),
			 -EEXIST);
	assert_int_equal(acs_metrics_declare(m, "acs_sync_latency_seconds", ACS_METRIC_GAUGE, ""),
			 -EEXIST);

	struct acs_metric *s = acs_metrics_series(m, "acs_sync_latency_seconds", ACS_NO_LABELS);
	assert_non_null(s);
	acs_metric_observe(s, 0.05);
	acs_metric_observe(s, 0.1); /* le is inclusive */
	acs_metric_observe(s, 0.5);
	acs_metric_observe(s, 20);
	assert_int_equal(
		acs_metrics_observe(m, "acs_sync_latency_seconds", ACS_LABELS("map", "a"), 3), 0);
	/* Wrong kind of update through the shorthands. */
	assert_int_equal(acs_metrics_add(m, "acs_sync_latency_seconds", ACS_NO_LABELS, 1), -EINVAL);

	char *text = render(m);
	assert_string_equal(text, "# HELP acs_sync_latency_seconds Event received to twin "
				  "written.\n"
				  "# TYPE acs_sync_latency_seconds histogram\n"
				  "acs_sync_latency_seconds_bucket{le=\"0.1\"} 2\n"
				  "acs_sync_latency_seconds_bucket{le=\"1\"} 3\n"
				  "acs_sync_latency_seconds_bucket{le=\"10\"} 3\n"
				  "acs_sync_latency_seconds_bucket{le=\"+Inf\"} 4\n"
				  "acs_sync_latency_seconds_sum 20.65\n"
				  "acs_sync_latency_seconds_count 4\n"
				  "acs_sync_latency_seconds_bucket{map=\"a\",le=\"0.1\"} 0\n"
				  "acs_sync_latency_seconds_bucket{map=\"a\",le=\"1\"} 0\n"
				  "acs_sync_latency_seconds_bucket{map=\"a\",le=\"10\"} 1\n"
				  "acs_sync_latency_seconds_bucket{map=\"a\",le=\"+Inf\"} 1\n"
				  "acs_sync_latency_seconds_sum{map=\"a\"} 3\n"
				  "acs_sync_latency_seconds_count{map=\"a\"} 1\n");
	free(text);
	acs_metrics_free(m);
}

static void test_escaping(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	assert_int_equal(acs_metrics_declare(m, "acs_info", ACS_METRIC_GAUGE,
					     "Help with a \\ backslash\nand a \"newline\"."),
			 0);
	assert_int_equal(acs_metrics_set(m, "acs_info",
					 ACS_LABELS("v", "a \"quoted\" \\ value\nline 2"), 1),
			 0);
	char *text = render(m);
	assert_string_equal(text, "# HELP acs_info Help with a \\\\ backslash\\nand a "
				  "\"newline\".\n"
				  "# TYPE acs_info gauge\n"
				  "acs_info{v=\"a \\\"quoted\\\" \\\\ value\\nline 2\"} 1\n");
	free(text);
	acs_metrics_free(m);
}

static void test_refusals(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	assert_int_equal(acs_metrics_declare(m, "9bad", ACS_METRIC_GAUGE, ""), -EINVAL);
	assert_int_equal(acs_metrics_declare(m, "bad-name", ACS_METRIC_GAUGE, ""), -EINVAL);
	assert_int_equal(acs_metrics_declare(m, "", ACS_METRIC_GAUGE, ""), -EINVAL);
	assert_int_equal(acs_metrics_declare(m, "ok:name", ACS_METRIC_HISTOGRAM, ""), -EINVAL);
	assert_int_equal(acs_metrics_declare(m, "ok:name", ACS_METRIC_COUNTER, ""), 0);
	const double unsorted[] = { 1, 1 };
	assert_int_equal(acs_metrics_declare_histogram(m, "h", "", unsorted, 2), -EINVAL);
	const double inf[] = { 1, INFINITY };
	assert_int_equal(acs_metrics_declare_histogram(m, "h", "", inf, 2), -EINVAL);
	const double ok[] = { 1 };
	assert_int_equal(acs_metrics_declare_histogram(m, "h", "", ok, 1), 0);

	assert_null(acs_metrics_series(m, "undeclared", ACS_NO_LABELS));
	assert_null(acs_metrics_series(m, "ok:name", ACS_LABELS("bad-label", "x")));
	assert_null(acs_metrics_series(m, "ok:name", ACS_LABELS("__reserved", "x")));
	assert_null(acs_metrics_series(m, "h", ACS_LABELS("le", "1")));
	const char *const odd[] = { "a", NULL };
	assert_null(acs_metrics_series(m, "ok:name", odd));
	assert_int_equal(acs_metrics_observe(m, "ok:name", ACS_NO_LABELS, 1), -EINVAL);

	/* Nothing was created: nothing rendered. */
	char *text = render(m);
	assert_string_equal(text, "");
	free(text);
	acs_metrics_free(m);
	acs_metrics_free(NULL);
}

static void test_reset_and_order(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	/* Declared out of order: rendered sorted by name, series by labels. */
	assert_int_equal(acs_metrics_declare(m, "b_total", ACS_METRIC_COUNTER, "B."), 0);
	assert_int_equal(acs_metrics_declare(m, "a_state", ACS_METRIC_GAUGE, "A."), 0);
	acs_metrics_set(m, "b_total", ACS_NO_LABELS, 1e20);
	acs_metrics_set(m, "a_state", ACS_LABELS("state", "pending"), 3);
	acs_metrics_set(m, "a_state", ACS_LABELS("state", "error"), NAN);
	char *text = render(m);
	assert_string_equal(text, "# HELP a_state A.\n"
				  "# TYPE a_state gauge\n"
				  "a_state{state=\"error\"} NaN\n"
				  "a_state{state=\"pending\"} 3\n"
				  "# HELP b_total B.\n"
				  "# TYPE b_total counter\n"
				  "b_total 1e+20\n");
	free(text);
	acs_metrics_reset(m, "a_state");
	acs_metrics_reset(m, "unknown");
	acs_metrics_set(m, "a_state", ACS_LABELS("state", "done"), 0);
	text = render(m);
	assert_string_equal(text, "# HELP a_state A.\n"
				  "# TYPE a_state gauge\n"
				  "a_state{state=\"done\"} 0\n"
				  "# HELP b_total B.\n"
				  "# TYPE b_total counter\n"
				  "b_total 1e+20\n");
	free(text);
	acs_metrics_free(m);
}

static void bump_cb(struct acs_metrics *m, void *arg)
{
	int *calls = arg;
	(*calls)++;
	acs_metrics_set(m, "acs_collected", ACS_NO_LABELS, *calls);
}

static void test_collector(void **state)
{
	(void)state;
	int calls = 0;
	struct acs_metrics *m = acs_metrics_new();
	acs_metrics_declare(m, "acs_collected", ACS_METRIC_GAUGE, "Collected.");
	acs_metrics_add_collector(m, bump_cb, &calls);
	acs_metrics_collect(m);
	acs_metrics_collect(m);
	assert_int_equal(calls, 2);
	char *text = render(m);
	assert_string_equal(text, "# HELP acs_collected Collected.\n"
				  "# TYPE acs_collected gauge\n"
				  "acs_collected 2\n");
	free(text);
	acs_metrics_free(m);
}

static void test_format_value(void **state)
{
	(void)state;
	char v[64];
	acs__metrics_format_value(0.1, v, sizeof(v));
	assert_string_equal(v, "0.1");
	acs__metrics_format_value(1.0 / 3, v, sizeof(v));
	assert_true(strtod(v, NULL) == 1.0 / 3);
	acs__metrics_format_value(-INFINITY, v, sizeof(v));
	assert_string_equal(v, "-Inf");
	acs__metrics_format_value(123456789012.0, v, sizeof(v));
	assert_string_equal(v, "123456789012");
	acs__metrics_format_value(-2, v, sizeof(v));
	assert_string_equal(v, "-2");
}

static void test_ceiling(void **state)
{
	(void)state;
	struct acs_metrics *m = acs_metrics_new();
	acs_metrics_declare(m, "acs_x", ACS_METRIC_GAUGE, "A gauge with a long help text.");
	acs_metrics_set(m, "acs_x", ACS_NO_LABELS, 1);
	struct acs_buf b;
	acs_buf_init(&b, 16);
	assert_int_equal(acs_metrics_render(m, &b), ACS_ETOOBIG);
	acs_buf_free(&b);
	acs_metrics_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counters_and_gauge), cmocka_unit_test(test_histogram),
		cmocka_unit_test(test_escaping),	   cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_reset_and_order),	   cmocka_unit_test(test_collector),
		cmocka_unit_test(test_format_value),	   cmocka_unit_test(test_ceiling),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
