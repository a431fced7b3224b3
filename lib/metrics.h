/* SPDX-License-Identifier: MIT */
/* A registry of counters, gauges and histograms with labels, rendered in the
 * Prometheus text exposition format (version 0.0.4) for GET /metrics. Pure:
 * no loop, no I/O; the app fills it from the modules' own counters. */
#pragma once

#include <stddef.h>

#include "common.h"

struct acs_buf;

/*
 * DESIGN
 *   A family (one metric name, its type and help text) is declared once; its
 *   series (one per distinct label set) are created on first use. Hot paths
 *   keep the struct acs_metric handle of a series, which stays valid until
 *   acs_metrics_free, and update it with a plain add: no lookup, no
 *   allocation. Values that other modules already count (intake, governor,
 *   store...) are not counted twice: a collector copies them in with
 *   acs_metric_set just before rendering (a counter may be set to mirror a
 *   monotonic count kept elsewhere).
 *
 *   Labels are passed as a NULL-terminated list of name, value pairs
 *   (ACS_LABELS("source", "ado", "result", "accepted")); values are escaped by
 *   the registry, so any string is safe. A series' identity is its label set
 *   in the order given: always pass the names of one family in the same order.
 *
 *   Output is stable: families sorted by name, series by their rendered label
 *   set, histogram buckets cumulative and ending with le="+Inf". A family
 *   with no series is not rendered at all (e.g. the sync metrics when sync is
 *   not configured).
 */

/** Longest metric or label name accepted. */
#define ACS_METRICS_MAX_NAME 128
/** Most buckets of one histogram (not counting +Inf). */
#define ACS_METRICS_MAX_BUCKETS 32

/** A label list: ACS_LABELS("name", "value", ...). */
#define ACS_LABELS(...) ((const char *const[]){ __VA_ARGS__, NULL })
/** The series without labels. */
#define ACS_NO_LABELS ((const char *const *)NULL)

enum acs_metric_type {
	ACS_METRIC_COUNTER = 0,
	ACS_METRIC_GAUGE = 1,
	ACS_METRIC_HISTOGRAM = 2,
};

struct acs_metrics;
struct acs_metric; /* one series of one family */

/** Called by acs_metrics_collect to copy values in from elsewhere. */
typedef void (*acs_metrics_collect_cb)(struct acs_metrics *m, void *arg);

/** New empty registry; free with acs_metrics_free. Never NULL. */
struct acs_metrics *acs_metrics_new(void);
/** Free m and every series handle it gave out. NULL is a no-op. */
void acs_metrics_free(struct acs_metrics *m);

/** Declare family name of type (counter or gauge) with help (copied).
 *  Declaring it again with the same type is a no-op (the first help stays).
 *  Returns 0, -EINVAL for a bad name or type, -EEXIST for another type. */
int acs_metrics_declare(struct acs_metrics *m, const char *name, enum acs_metric_type type,
			const char *help);

/** Declare histogram name with the upper bounds of its buckets (n of them,
 *  strictly increasing, finite; copied; +Inf is implicit). Returns 0, -EINVAL
 *  (bad name or bounds), -EEXIST (declared before with another type or other
 *  bounds). */
int acs_metrics_declare_histogram(struct acs_metrics *m, const char *name, const char *help,
				  const double *bounds, size_t n);

/** The series of family name with labels (see DESIGN; borrowed for the call),
 *  created at 0 on first use. The handle is owned by m. Returns NULL when the
 *  family is not declared or a label name is invalid (or "le" on a
 *  histogram). */
struct acs_metric *acs_metrics_series(struct acs_metrics *m, const char *name,
				      const char *const *labels);

/** Add v to a counter (v >= 0; a negative v is ignored) or gauge. */
void acs_metric_add(struct acs_metric *s, double v);
/** Set a gauge, or a counter that mirrors a count kept elsewhere. */
void acs_metric_set(struct acs_metric *s, double v);
/** Record one observation in a histogram. */
void acs_metric_observe(struct acs_metric *s, double v);

/** Shorthands: look the series up, then add / set / observe. Return 0, or
 *  -EINVAL (as acs_metrics_series returns NULL, or the wrong type). */
int acs_metrics_add(struct acs_metrics *m, const char *name, const char *const *labels, double v);
int acs_metrics_set(struct acs_metrics *m, const char *name, const char *const *labels, double v);
int acs_metrics_observe(struct acs_metrics *m, const char *name, const char *const *labels,
			double v);

/** Drop every series of family name (for gauges whose label sets come and
 *  go). Handles of those series become invalid. Unknown names are ignored. */
void acs_metrics_reset(struct acs_metrics *m, const char *name);

/** Register a collector (run in registration order by acs_metrics_collect).
 *  arg is borrowed and must outlive m or be unregistered by freeing m. */
void acs_metrics_add_collector(struct acs_metrics *m, acs_metrics_collect_cb cb, void *arg);
/** Run the collectors. */
void acs_metrics_collect(struct acs_metrics *m);

/** Append the exposition text of every family with series to out. Returns 0
 *  or ACS_ETOOBIG past out's ceiling (out is then freed, see acs_buf). */
int acs_metrics_render(const struct acs_metrics *m, struct acs_buf *out);

/** The content type of the rendered text. */
#define ACS_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

#ifdef ACS_UNIT_TEST
/* File-local helper, visible to test_metrics only (ACS_STATIC): the shortest
 * text of v that reads back as v ("+Inf", "NaN", integers without exponent). */
void acs__metrics_format_value(double v, char *out, size_t len);
#endif
