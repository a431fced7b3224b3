/* SPDX-License-Identifier: MIT */
/* The metrics registry and its Prometheus text rendering. Families and series
 * are kept in arrays sorted by name and label text, so rendering needs no
 * sort and lookups are binary searches (the registry holds a few dozen). */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

struct family;

struct acs_metric {
	struct family *fam; /**< owner */
	char *labels;	    /**< rendered label text without braces ("" = none) */
	double value;	    /**< counter or gauge */
	uint64_t *buckets;  /**< histogram: per-bucket (not cumulative) counts, n_bounds + 1 */
	double sum;	    /**< histogram */
	uint64_t count;	    /**< histogram */
};

struct family {
	char *name;
	char *help;
	enum acs_metric_type type;
	double *bounds; /**< histogram upper bounds */
	size_t n_bounds;
	struct acs_metric **series; /**< sorted by labels */
	size_t n_series, cap_series;
};

struct collector {
	acs_metrics_collect_cb cb;
	void *arg;
};

struct acs_metrics {
	struct family **fams; /**< sorted by name */
	size_t n_fams, cap_fams;
	struct collector *collectors;
	size_t n_collectors;
};

/* --- names and escaping ------------------------------------------------------- */

static bool valid_name(const char *s, bool colon)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > ACS_METRICS_MAX_NAME)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			  (colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
		if (!ok)
			return false;
	}
	return true;
}

/* Label names starting with "__" are reserved for Prometheus itself. */
static bool valid_label_name(const char *s)
{
	return valid_name(s, false) && strncmp(s, "__", 2) != 0;
}

/* Escape a label value (backslash, double quote, newline) or, with quote
 * false, a HELP text (backslash, newline), as the text format requires. */
static int append_escaped(struct acs_buf *b, const char *s, bool quote)
{
	int rc = 0;
	const char *run = s;
	for (const char *p = s; *p && !rc; p++) {
		const char *esc = NULL;
		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (*p == '"' && quote)
			esc = "\\\"";
		if (!esc)
			continue;
		rc = acs_buf_append(b, run, (size_t)(p - run));
		if (!rc)
			rc = acs_buf_appends(b, esc);
		run = p + 1;
	}
	if (!rc)
		rc = acs_buf_appends(b, run);
	return rc;
}

/* Shortest text that reads back as the same double; integers without an
 * exponent as long as they are exact. */
ACS_STATIC void acs__metrics_format_value(double v, char *out, size_t len)
{
	if (isnan(v)) {
		snprintf(out, len, "NaN");
	} else if (isinf(v)) {
		snprintf(out, len, v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		snprintf(out, len, "%.0f", v);
	} else {
		for (int prec = 15; prec <= 17; prec++) {
			snprintf(out, len, "%.*g", prec, v);
			if (strtod(out, NULL) == v)
				break;
		}
	}
}

/* --- families and series ------------------------------------------------------ */

/* Index of name in m->fams, or where it would go (with *found false). */
static size_t find_family(const struct acs_metrics *m, const char *name, bool *found)
{
	size_t lo = 0, hi = m->n_fams;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->fams[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static struct family *get_family(const struct acs_metrics *m, const char *name)
{
	bool found;
	size_t i = find_family(m, name, &found);
	return found ? m->fams[i] : NULL;
}

static void series_free(struct acs_metric *s)
{
	free(s->labels);
	free(s->buckets);
	free(s);
}

static void family_free(struct family *f)
{
	for (size_t i = 0; i < f->n_series; i++)
		series_free(f->series[i]);
	free(f->series);
	free(f->bounds);
	free(f->name);
	free(f->help);
	free(f);
}

struct acs_metrics *acs_metrics_new(void)
{
	return acs_xcalloc(1, sizeof(struct acs_metrics));
}

void acs_metrics_free(struct acs_metrics *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_fams; i++)
		family_free(m->fams[i]);
	free(m->fams);
	free(m->collectors);
	free(m);
}

static int declare(struct acs_metrics *m, const char *name, enum acs_metric_type type,
		   const char *help, const double *bounds, size_t n)
{
	if (!valid_name(name, true))
		return -EINVAL;
	bool found;
	size_t at = find_family(m, name, &found);
	if (found) {
		struct family *f = m->fams[at];
		if (f->type != type)
			return -EEXIST;
		if (type == ACS_METRIC_HISTOGRAM &&
		    (f->n_bounds != n || memcmp(f->bounds, bounds, n * sizeof(*bounds)) != 0))
			return -EEXIST;
		return 0;
	}
	struct family *f = acs_xcalloc(1, sizeof(*f));
	f->name = acs_xstrdup(name);
	f->help = acs_xstrdup(help ? help : "");
	f->type = type;
	if (n) {
		f->bounds = acs_xmalloc(n * sizeof(*bounds));
		memcpy(f->bounds, bounds, n * sizeof(*bounds));
		f->n_bounds = n;
	}
	if (m->n_fams == m->cap_fams) {
		m->cap_fams = m->cap_fams ? 2 * m->cap_fams : 16;
		m->fams = acs_xrealloc(m->fams, m->cap_fams * sizeof(*m->fams));
	}
	memmove(m->fams + at + 1, m->fams + at, (m->n_fams - at) * sizeof(*m->fams));
	m->fams[at] = f;
	m->n_fams++;
	return 0;
}

int acs_metrics_declare(struct acs_metrics *m, const char *name, enum acs_metric_type type,
			const char *help)
{
	if (type != ACS_METRIC_COUNTER && type != ACS_METRIC_GAUGE)
		return -EINVAL;
	return declare(m, name, type, help, NULL, 0);
}

int acs_metrics_declare_histogram(struct acs_metrics *m, const char *name, const char *help,
				  const double *bounds, size_t n)
{
	if (n > ACS_METRICS_MAX_BUCKETS || (n && !bounds))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(bounds[i]) || (i > 0 && !(bounds[i] > bounds[i - 1])))
			return -EINVAL;
	}
	return declare(m, name, ACS_METRIC_HISTOGRAM, help, bounds, n);
}

/* Render the label list into heap text: name="escaped",name2="...". NULL
 * when a name is invalid. */
static char *label_text(const struct family *f, const char *const *labels)
{
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	int rc = acs_buf_append(&b, "", 0);
	for (size_t i = 0; !rc && labels && labels[i]; i += 2) {
		const char *value = labels[i + 1];
		if (!valid_label_name(labels[i]) || !value ||
		    (f->type == ACS_METRIC_HISTOGRAM && strcmp(labels[i], "le") == 0)) {
			acs_buf_free(&b);
			return NULL;
		}
		rc = acs_buf_printf(&b, "%s%s=\"", i ? "," : "", labels[i]);
		if (!rc)
			rc = append_escaped(&b, value, true);
		if (!rc)
			rc = acs_buf_appends(&b, "\"");
	}
	if (rc)
		return NULL; /* the buffer was freed */
	return acs_buf_steal(&b, NULL);
}

struct acs_metric *acs_metrics_series(struct acs_metrics *m, const char *name,
				      const char *const *labels)
{
	struct family *f = get_family(m, name);
	if (!f)
		return NULL;
	char *text = label_text(f, labels);
	if (!text)
		return NULL;
	size_t lo = 0, hi = f->n_series;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(f->series[mid]->labels, text);
		if (c == 0) {
			free(text);
			return f->series[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	struct acs_metric *s = acs_xcalloc(1, sizeof(*s));
	s->fam = f;
	s->labels = text;
	if (f->type == ACS_METRIC_HISTOGRAM)
		s->buckets = acs_xcalloc(f->n_bounds + 1, sizeof(*s->buckets));
	if (f->n_series == f->cap_series) {
		f->cap_series = f->cap_series ? 2 * f->cap_series : 4;
		f->series = acs_xrealloc(f->series, f->cap_series * sizeof(*f->series));
	}
	memmove(f->series + lo + 1, f->series + lo, (f->n_series - lo) * sizeof(*f->series));
	f->series[lo] = s;
	f->n_series++;
	return s;
}

void acs_metrics_reset(struct acs_metrics *m, const char *name)
{
	struct family *f = get_family(m, name);
	if (!f)
		return;
	for (size_t i = 0; i < f->n_series; i++)
		series_free(f->series[i]);
	f->n_series = 0;
}

void acs_metric_add(struct acs_metric *s, double v)
{
	if (acs_fails_assert(s && s->fam->type != ACS_METRIC_HISTOGRAM))
		return;
	if (s->fam->type == ACS_METRIC_COUNTER && !(v >= 0))
		return; /* counters only go up */
	s->value += v;
}

void acs_metric_set(struct acs_metric *s, double v)
{
	if (acs_fails_assert(s && s->fam->type != ACS_METRIC_HISTOGRAM))
		return;
	s->value = v;
}

void acs_metric_observe(struct acs_metric *s, double v)
{
	if (acs_fails_assert(s && s->fam->type == ACS_METRIC_HISTOGRAM))
		return;
	const struct family *f = s->fam;
	size_t i = 0;
	while (i < f->n_bounds && !(v <= f->bounds[i]))
		i++;
	s->buckets[i]++;
	s->sum += v;
	s->count++;
}

static struct acs_metric *typed_series(struct acs_metrics *m, const char *name,
				       const char *const *labels, bool histogram)
{
	const struct family *f = get_family(m, name);
	if (!f || (f->type == ACS_METRIC_HISTOGRAM) != histogram)
		return NULL;
	return acs_metrics_series(m, name, labels);
}

int acs_metrics_add(struct acs_metrics *m, const char *name, const char *const *labels, double v)
{
	struct acs_metric *s = typed_series(m, name, labels, false);
	if (!s)
		return -EINVAL;
	acs_metric_add(s, v);
	return 0;
}

int acs_metrics_set(struct acs_metrics *m, const char *name, const char *const *labels, double v)
{
	struct acs_metric *s = typed_series(m, name, labels, false);
	if (!s)
		return -EINVAL;
	acs_metric_set(s, v);
	return 0;
}

int acs_metrics_observe(struct acs_metrics *m, const char *name, const char *const *labels,
			double v)
{
	struct acs_metric *s = typed_series(m, name, labels, true);
	if (!s)
		return -EINVAL;
	acs_metric_observe(s, v);
	return 0;
}

/* --- collectors --------------------------------------------------------------- */

void acs_metrics_add_collector(struct acs_metrics *m, acs_metrics_collect_cb cb, void *arg)
{
	m->collectors = acs_xrealloc(m->collectors, (m->n_collectors + 1) * sizeof(*m->collectors));
	m->collectors[m->n_collectors++] = (struct collector){ cb, arg };
}

void acs_metrics_collect(struct acs_metrics *m)
{
	for (size_t i = 0; i < m->n_collectors; i++)
		m->collectors[i].cb(m, m->collectors[i].arg);
}

/* --- rendering ------------------------------------------------------------------ */

static const char *type_name(enum acs_metric_type t)
{
	switch (t) {
	case ACS_METRIC_COUNTER:
		return "counter";
	case ACS_METRIC_GAUGE:
		return "gauge";
	case ACS_METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

/* name{labels} value, where extra (already escaped, may be NULL) is appended
 * to the labels, as histograms do with le. */
static int sample(struct acs_buf *b, const char *name, const char *suffix, const char *labels,
		  const char *extra, const char *value)
{
	bool any = labels[0] || extra;
	return acs_buf_printf(b, "%s%s%s%s%s%s%s %s\n", name, suffix, any ? "{" : "", labels,
			      labels[0] && extra ? "," : "", extra ? extra : "", any ? "}" : "",
			      value);
}

static int render_histogram(struct acs_buf *b, const struct family *f, const struct acs_metric *s)
{
	char v[64], le[64], extra[80];
	uint64_t cum = 0;
	int rc = 0;
	for (size_t i = 0; i <= f->n_bounds && !rc; i++) {
		cum += s->buckets[i];
		acs__metrics_format_value(i < f->n_bounds ? f->bounds[i] : INFINITY, le,
					  sizeof(le));
		snprintf(extra, sizeof(extra), "le=\"%s\"", le);
		snprintf(v, sizeof(v), "%llu", (unsigned long long)cum);
		rc = sample(b, f->name, "_bucket", s->labels, extra, v);
	}
	acs__metrics_format_value(s->sum, v, sizeof(v));
	if (!rc)
		rc = sample(b, f->name, "_sum", s->labels, NULL, v);
	snprintf(v, sizeof(v), "%llu", (unsigned long long)s->count);
	if (!rc)
		rc = sample(b, f->name, "_count", s->labels, NULL, v);
	return rc;
}

int acs_metrics_render(const struct acs_metrics *m, struct acs_buf *out)
{
	int rc = 0;
	for (size_t i = 0; i < m->n_fams && !rc; i++) {
		const struct family *f = m->fams[i];
		if (!f->n_series)
			continue;
		rc = acs_buf_printf(out, "# HELP %s ", f->name);
		if (!rc)
			rc = append_escaped(out, f->help, false);
		if (!rc)
			rc = acs_buf_printf(out, "\n# TYPE %s %s\n", f->name, type_name(f->type));
		for (size_t j = 0; j < f->n_series && !rc; j++) {
			const struct acs_metric *s = f->series[j];
			if (f->type == ACS_METRIC_HISTOGRAM) {
				rc = render_histogram(out, f, s);
			} else {
				char v[64];
				acs__metrics_format_value(s->value, v, sizeof(v));
				rc = sample(out, f->name, "", s->labels, NULL, v);
			}
		}
	}
	return rc;
}
