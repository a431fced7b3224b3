/* SPDX-License-Identifier: MIT */
/* ADO <-> ClickUp field mapping through one canonical value (see mapper.h for the
 * canonical form, the state/status rules and ownership). Every reader normalises exactly
 * as the matching writer writes, so what we wrote reads back as the value we wrote. */
#include "mapper.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calendar.h"
#include "err.h"
#include "html_md.h"
#include "json_codec.h"
#include "mem.h"

#define F_TITLE "System.Title"
#define F_DESCRIPTION "System.Description"
#define F_STATE "System.State"
#define F_TYPE "System.WorkItemType"
#define F_PRIORITY "Microsoft.VSTS.Common.Priority"
#define F_ASSIGNED "System.AssignedTo"
#define F_TAGS "System.Tags"
#define F_DUE "Microsoft.VSTS.Scheduling.DueDate"
#define F_TARGET "Microsoft.VSTS.Scheduling.TargetDate"

#define MS_PER_DAY INT64_C(86400000)
/* Ceiling of a joined tag or label string (ADO allows 100 tags per item). */
#define MAX_JOIN ((size_t)1 << 20)

/* ADO state categories. */
enum cat {
	CAT_UNKNOWN = 0,
	CAT_PROPOSED,
	CAT_INPROGRESS,
	CAT_RESOLVED,
	CAT_COMPLETED,
	CAT_REMOVED
};
/* ClickUp status types. */
enum stype {
	ST_UNKNOWN = 0,
	ST_OPEN,
	ST_CUSTOM,
	ST_DONE,
	ST_CLOSED
};
/* How a custom field value is normalised: by the ClickUp field type, or by its JSON type
 * when the field definition is unknown (CF_ANY). */
enum cft {
	CF_ANY = 0,
	CF_TEXT,
	CF_NUMBER,
	CF_BOOL,
	CF_DROPDOWN,
	CF_LABELS,
	CF_DATE,
	CF_UNSUPPORTED
};

struct mstate {
	char *name;
	enum cat cat;
};

struct mtype {
	char *name;
	struct mstate *states;
	size_t n_states;
};

struct mstatus {
	char *name;
	enum stype type;
	int order;
};

struct mmember {
	int64_t id;
	char *email; /* lower-case, may be "" */
};

struct mident {
	char *name;
	char *email; /* lower-case */
};

struct mpair {
	char *state;
	char *status;
};

struct mcustom {
	char *ref;
	char *field_id;
	enum cft type;
	json_t *def; /* field definition (one reference) or NULL */
};

struct muser {
	char *email; /* lower-case */
	int64_t id;
};

struct acs_mapper {
	char *new_type;
	struct mtype *types;
	size_t n_types;
	struct mstatus *statuses; /* sorted by order */
	size_t n_statuses;
	struct mmember *members;
	size_t n_members;
	struct mident *idents;
	size_t n_idents;
	struct mpair *table; /* status.<state> = <status>, in file order */
	size_t n_table;
	struct mcustom *custom; /* custom.<ref> = <field id>, in file order */
	size_t n_custom;
	struct muser *users;
	size_t n_users;
	char *due_field;
	char *due_alt;
	int prio[5]; /* ADO priority -> ClickUp priority (identity unless priority_map) */
};

/* ------------------------------------------------------------------------------------- */
/* Small helpers                                                                          */
/* ------------------------------------------------------------------------------------- */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static char *lower_dup(const char *s)
{
	char *d = acs_xstrdup(nz(s));
	for (char *p = d; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return d;
}

static void set_str(char **dst, const char *s)
{
	free(*dst);
	*dst = acs_xstrdup(nz(s));
}

/* Copy of s[0..n) without leading and trailing blanks. */
static char *trim_dup(const char *s, size_t n)
{
	while (n && (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')) {
		s++;
		n--;
	}
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	return acs_xstrndup(s, n);
}

static void add_note(struct acs_mapper_notes *notes, enum acs_mapper_note_kind kind, unsigned field,
		     const char *fmt, ...) ACS_PRINTF(4, 5);

static void add_note(struct acs_mapper_notes *notes, enum acs_mapper_note_kind kind, unsigned field,
		     const char *fmt, ...)
{
	if (!notes)
		return;
	if (notes->n >= ACS_MAPPER_MAX_NOTES) {
		notes->dropped++;
		return;
	}
	struct acs_mapper_note *n = &notes->v[notes->n++];
	n->kind = kind;
	n->field = field;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(n->msg, sizeof(n->msg), fmt, ap);
	va_end(ap);
}

void acs_mapper_notes_init(struct acs_mapper_notes *notes)
{
	memset(notes, 0, sizeof(*notes));
}

const char *acs_field_name(unsigned field)
{
	switch (field) {
	case ACS_F_TITLE:
		return "title";
	case ACS_F_DESCRIPTION:
		return "description";
	case ACS_F_STATE:
		return "state";
	case ACS_F_PRIORITY:
		return "priority";
	case ACS_F_ASSIGNEE:
		return "assignee";
	case ACS_F_TAGS:
		return "tags";
	case ACS_F_DUE:
		return "due";
	case ACS_F_CUSTOM:
		return "custom";
	default:
		return "?";
	}
}

/* Strict integer parse of a whole string. */
static bool parse_i64(const char *s, int64_t *out)
{
	if (!s || !*s)
		return false;
	errno = 0;
	char *end = NULL;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = (int64_t)v;
	return true;
}

/* ------------------------------------------------------------------------------------- */
/* Dates: civil calendar arithmetic, so nothing depends on the local time zone           */
/* ------------------------------------------------------------------------------------- */

/* n decimal digits at *p into *out; advances *p. */
static bool digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

int acs_mapper_parse_iso(const char *s, int64_t *ms)
{
	if (!s)
		return ACS_EPARSE;
	const char *p = s;
	int y, mo, d, h = 0, mi = 0, se = 0, frac = 0;
	if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
	    !digits(&p, 2, &d))
		return ACS_EPARSE;
	if (mo < 1 || mo > 12 || d < 1 || d > 31)
		return ACS_EPARSE;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
			return ACS_EPARSE;
		if (*p == ':') {
			p++;
			if (!digits(&p, 2, &se))
				return ACS_EPARSE;
			if (*p == '.' || *p == ',') {
				p++;
				if (*p < '0' || *p > '9')
					return ACS_EPARSE;
				/* Any number of digits (ADO sends 1 to 7): keep milliseconds. */
				int n = 0;
				for (; *p >= '0' && *p <= '9'; p++, n++)
					if (n < 3)
						frac = frac * 10 + (*p - '0');
				for (; n < 3; n++)
					frac *= 10;
			}
		}
		if (h > 23 || mi > 59 || se > 60)
			return ACS_EPARSE;
	}
	int64_t off_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
		if (!digits(&p, 2, &oh))
			return ACS_EPARSE;
		if (*p == ':')
			p++;
		if (*p && !digits(&p, 2, &om))
			return ACS_EPARSE;
		off_min = sign * (oh * 60 + om);
	}
	if (*p)
		return ACS_EPARSE;
	int64_t days = acs_days_from_civil(y, (unsigned)mo, (unsigned)d);
	int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - off_min * 60;
	*ms = secs * 1000 + frac;
	return 0;
}

void acs_mapper_format_iso(int64_t ms, bool with_ms, char buf[32])
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t rem = secs - days * 86400;
	int64_t y;
	unsigned m, d;
	acs_civil_from_days(days, &y, &m, &d);
	int n = snprintf(buf, 32, "%04" PRId64 "-%02u-%02uT%02d:%02d:%02d", y, m, d,
			 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
	if (with_ms && frac)
		snprintf(buf + n, (size_t)(32 - n), ".%03dZ", frac);
	else
		snprintf(buf + n, (size_t)(32 - n), "Z");
}

static int64_t trunc_secs(int64_t ms)
{
	return ms > 0 ? ms - ms % 1000 : 0;
}

/* ------------------------------------------------------------------------------------- */
/* Canonical value                                                                        */
/* ------------------------------------------------------------------------------------- */

void acs_canon_init(struct acs_canon *c)
{
	memset(c, 0, sizeof(*c));
}

static void free_tags(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

void acs_canon_free(struct acs_canon *c)
{
	if (!c)
		return;
	free(c->type);
	free(c->title);
	free(c->description);
	free(c->state);
	free(c->assignee);
	free_tags(c->tags, c->n_tags);
	for (size_t i = 0; i < c->n_custom; i++) {
		free(c->custom[i].ref);
		json_decref(c->custom[i].value);
	}
	free(c->custom);
	acs_canon_init(c);
}

static char *dup_or_null(const char *s)
{
	return s ? acs_xstrdup(s) : NULL;
}

void acs_canon_copy(struct acs_canon *dst, const struct acs_canon *src)
{
	if (dst == src)
		return;
	acs_canon_free(dst);
	dst->present = src->present;
	dst->type = dup_or_null(src->type);
	dst->title = dup_or_null(src->title);
	dst->description = dup_or_null(src->description);
	dst->state = dup_or_null(src->state);
	dst->priority = src->priority;
	dst->assignee = dup_or_null(src->assignee);
	dst->due_ms = src->due_ms;
	if (src->n_tags) {
		dst->tags = acs_xcalloc(src->n_tags, sizeof(*dst->tags));
		for (size_t i = 0; i < src->n_tags; i++)
			dst->tags[i] = acs_xstrdup(src->tags[i]);
		dst->n_tags = src->n_tags;
	}
	if (src->n_custom) {
		dst->custom = acs_xcalloc(src->n_custom, sizeof(*dst->custom));
		for (size_t i = 0; i < src->n_custom; i++) {
			dst->custom[i].ref = acs_xstrdup(src->custom[i].ref);
			dst->custom[i].value = json_incref(src->custom[i].value);
		}
		dst->n_custom = src->n_custom;
	}
}

static bool str_eq(const char *a, const char *b)
{
	return strcmp(nz(a), nz(b)) == 0;
}

static bool value_eq(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return !a && !b;
	return json_equal((json_t *)a, (json_t *)b);
}

static bool tags_eq(const struct acs_canon *a, const struct acs_canon *b)
{
	if (a->n_tags != b->n_tags)
		return false;
	for (size_t i = 0; i < a->n_tags; i++)
		if (strcmp(a->tags[i], b->tags[i]))
			return false;
	return true;
}

const struct acs_canon_custom *acs_canon_get_custom(const struct acs_canon *c, const char *ref)
{
	for (size_t i = 0; i < c->n_custom; i++)
		if (strcmp(c->custom[i].ref, ref) == 0)
			return &c->custom[i];
	return NULL;
}

unsigned acs_canon_diff(const struct acs_canon *a, const struct acs_canon *b)
{
	unsigned both = a->present & b->present, d = 0;
	if ((both & ACS_F_TITLE) && !str_eq(a->title, b->title))
		d |= ACS_F_TITLE;
	if ((both & ACS_F_DESCRIPTION) && !str_eq(a->description, b->description))
		d |= ACS_F_DESCRIPTION;
	if ((both & ACS_F_STATE) && !str_eq(a->state, b->state))
		d |= ACS_F_STATE;
	if ((both & ACS_F_PRIORITY) && a->priority != b->priority)
		d |= ACS_F_PRIORITY;
	if ((both & ACS_F_ASSIGNEE) && !str_eq(a->assignee, b->assignee))
		d |= ACS_F_ASSIGNEE;
	if ((both & ACS_F_TAGS) && !tags_eq(a, b))
		d |= ACS_F_TAGS;
	if ((both & ACS_F_DUE) && a->due_ms != b->due_ms)
		d |= ACS_F_DUE;
	if (both & ACS_F_CUSTOM) {
		for (size_t i = 0; i < a->n_custom; i++) {
			const struct acs_canon_custom *o =
				acs_canon_get_custom(b, a->custom[i].ref);
			if (o && !value_eq(a->custom[i].value, o->value)) {
				d |= ACS_F_CUSTOM;
				break;
			}
		}
	}
	return d;
}

bool acs_canon_equal(const struct acs_canon *a, const struct acs_canon *b)
{
	if (a->present != b->present || acs_canon_diff(a, b))
		return false;
	if (!(a->present & ACS_F_CUSTOM))
		return true;
	if (a->n_custom != b->n_custom)
		return false;
	for (size_t i = 0; i < a->n_custom; i++)
		if (strcmp(a->custom[i].ref, b->custom[i].ref))
			return false;
	return true;
}

void acs_canon_set_title(struct acs_canon *c, const char *title)
{
	set_str(&c->title, title);
	c->present |= ACS_F_TITLE;
}

int acs_canon_set_description(struct acs_canon *c, const char *md)
{
	char *canon = acs_html_md_canonical_markdown(md);
	if (!canon)
		return ACS_ETOOBIG;
	free(c->description);
	c->description = canon;
	c->present |= ACS_F_DESCRIPTION;
	return 0;
}

void acs_canon_set_state(struct acs_canon *c, const char *state)
{
	set_str(&c->state, state);
	c->present |= ACS_F_STATE;
}

void acs_canon_set_type(struct acs_canon *c, const char *type)
{
	free(c->type);
	c->type = dup_or_null(type);
}

void acs_canon_set_priority(struct acs_canon *c, int priority)
{
	c->priority = priority >= 1 && priority <= 4 ? priority : 0;
	c->present |= ACS_F_PRIORITY;
}

void acs_canon_set_assignee(struct acs_canon *c, const char *email)
{
	free(c->assignee);
	c->assignee = lower_dup(email);
	c->present |= ACS_F_ASSIGNEE;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Takes ownership of v[0..n) (heap strings): trims, lower-cases, sorts, dedups. */
static void take_tags(struct acs_canon *c, char **v, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		char *t = trim_dup(v[i], strlen(v[i]));
		free(v[i]);
		if (!*t) {
			free(t);
			continue;
		}
		v[k++] = lower_dup(t);
		free(t);
	}
	if (k)
		qsort(v, k, sizeof(*v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < k; i++) {
		if (u && strcmp(v[u - 1], v[i]) == 0)
			free(v[i]);
		else
			v[u++] = v[i];
	}
	free_tags(c->tags, c->n_tags);
	if (!u) {
		free(v);
		v = NULL;
	}
	c->tags = v;
	c->n_tags = u;
	c->present |= ACS_F_TAGS;
}

void acs_canon_set_tags(struct acs_canon *c, const char *const *tags, size_t n)
{
	char **v = n ? acs_xcalloc(n, sizeof(*v)) : NULL;
	for (size_t i = 0; i < n; i++)
		v[i] = acs_xstrdup(nz(tags[i]));
	take_tags(c, v, n);
}

/* "a; b;c" -> tags. */
static void set_tags_split(struct acs_canon *c, const char *s)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ';';
	char **v = acs_xcalloc(cap, sizeof(*v));
	size_t n = 0;
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p == ';' || !*p) {
			v[n++] = acs_xstrndup(start, (size_t)(p - start));
			if (!*p)
				break;
			start = p + 1;
		}
	}
	take_tags(c, v, n);
}

void acs_canon_set_due(struct acs_canon *c, int64_t ms)
{
	c->due_ms = trunc_secs(ms);
	c->present |= ACS_F_DUE;
}

/* Integral reals become integers so 3.0 from one side equals 3 from the other. */
static json_t *norm_number(double d)
{
	if (isfinite(d) && d == floor(d) && fabs(d) < 9.0e15)
		return json_integer((json_int_t)d);
	return json_real(d);
}

/* The stored form of a custom value (new reference or NULL for empty). */
static json_t *norm_scalar(const json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_real(v))
		return norm_number(json_real_value(v));
	return json_deep_copy((json_t *)v);
}

/* Sets (takes ownership of value, NULL = empty). */
static void put_custom(struct acs_canon *c, const char *ref, json_t *value)
{
	size_t i = 0;
	for (; i < c->n_custom; i++) {
		int r = strcmp(c->custom[i].ref, ref);
		if (r == 0) {
			json_decref(c->custom[i].value);
			c->custom[i].value = value;
			c->present |= ACS_F_CUSTOM;
			return;
		}
		if (r > 0)
			break;
	}
	c->custom = acs_xrealloc(c->custom, (c->n_custom + 1) * sizeof(*c->custom));
	memmove(&c->custom[i + 1], &c->custom[i], (c->n_custom - i) * sizeof(*c->custom));
	c->custom[i].ref = acs_xstrdup(ref);
	c->custom[i].value = value;
	c->n_custom++;
	c->present |= ACS_F_CUSTOM;
}

int acs_canon_set_custom(struct acs_canon *c, const char *ref, const json_t *value)
{
	if (value && !json_is_null(value) && !json_is_string(value) && !json_is_number(value) &&
	    !json_is_boolean(value))
		return -EINVAL;
	put_custom(c, ref, norm_scalar(value));
	return 0;
}

/* --- JSON form of the base ---------------------------------------------------------- */

json_t *acs_canon_to_json(const struct acs_canon *c)
{
	json_t *o = json_object();
	/* Keys in sorted order: the stored text is stable whatever the dump flags. */
	if (c->present & ACS_F_ASSIGNEE)
		json_object_set_new(o, "assignee", json_string(nz(c->assignee)));
	if (c->present & ACS_F_CUSTOM) {
		json_t *cu = json_object();
		for (size_t i = 0; i < c->n_custom; i++) {
			json_t *v = c->custom[i].value;
			json_object_set_new(cu, c->custom[i].ref, v ? json_incref(v) : json_null());
		}
		json_object_set_new(o, "custom", cu);
	}
	if (c->present & ACS_F_DESCRIPTION)
		json_object_set_new(o, "description", json_string(nz(c->description)));
	if (c->present & ACS_F_DUE)
		json_object_set_new(o, "due", json_integer(c->due_ms));
	if (c->present & ACS_F_PRIORITY)
		json_object_set_new(o, "priority", json_integer(c->priority));
	if (c->present & ACS_F_STATE)
		json_object_set_new(o, "state", json_string(nz(c->state)));
	if (c->present & ACS_F_TAGS) {
		json_t *a = json_array();
		for (size_t i = 0; i < c->n_tags; i++)
			json_array_append_new(a, json_string(c->tags[i]));
		json_object_set_new(o, "tags", a);
	}
	if (c->present & ACS_F_TITLE)
		json_object_set_new(o, "title", json_string(nz(c->title)));
	if (c->type)
		json_object_set_new(o, "type", json_string(c->type));
	json_object_set_new(o, "v", json_integer(1));
	return o;
}

static int bad_key(struct acs_canon *out, char err[ACS_ERR_LEN], const char *key)
{
	acs_canon_free(out);
	if (err)
		snprintf(err, ACS_ERR_LEN, "canonical base: bad or unknown key '%s'", key);
	return ACS_EPARSE;
}

int acs_canon_from_json(const json_t *j, struct acs_canon *out, char err[ACS_ERR_LEN])
{
	acs_canon_free(out);
	if (!json_is_object(j)) {
		if (err)
			snprintf(err, ACS_ERR_LEN, "canonical base: not an object");
		return ACS_EPARSE;
	}
	const char *key;
	json_t *v;
	json_object_foreach((json_t *)j, key, v)
	{
		if (strcmp(key, "v") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) != 1)
				return bad_key(out, err, key);
		} else if (strcmp(key, "type") == 0) {
			if (!json_is_string(v))
				return bad_key(out, err, key);
			acs_canon_set_type(out, json_string_value(v));
		} else if (strcmp(key, "title") == 0) {
			if (!json_is_string(v))
				return bad_key(out, err, key);
			acs_canon_set_title(out, json_string_value(v));
		} else if (strcmp(key, "description") == 0) {
			if (!json_is_string(v) ||
			    acs_canon_set_description(out, json_string_value(v)))
				return bad_key(out, err, key);
		} else if (strcmp(key, "state") == 0) {
			if (!json_is_string(v))
				return bad_key(out, err, key);
			acs_canon_set_state(out, json_string_value(v));
		} else if (strcmp(key, "priority") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 4)
				return bad_key(out, err, key);
			acs_canon_set_priority(out, (int)json_integer_value(v));
		} else if (strcmp(key, "assignee") == 0) {
			if (!json_is_string(v))
				return bad_key(out, err, key);
			acs_canon_set_assignee(out, json_string_value(v));
		} else if (strcmp(key, "tags") == 0) {
			if (!json_is_array(v))
				return bad_key(out, err, key);
			size_t n = json_array_size(v);
			char **t = n ? acs_xcalloc(n, sizeof(*t)) : NULL;
			for (size_t i = 0; i < n; i++)
				t[i] = acs_xstrdup(nz(json_string_value(json_array_get(v, i))));
			take_tags(out, t, n);
		} else if (strcmp(key, "due") == 0) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return bad_key(out, err, key);
			acs_canon_set_due(out, json_integer_value(v));
		} else if (strcmp(key, "custom") == 0) {
			if (!json_is_object(v))
				return bad_key(out, err, key);
			const char *ref;
			json_t *cv;
			json_object_foreach(v, ref, cv)
			{
				if (acs_canon_set_custom(out, ref, cv))
					return bad_key(out, err, ref);
			}
			out->present |= ACS_F_CUSTOM;
		} else {
			return bad_key(out, err, key);
		}
	}
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* The mapper: construction                                                               */
/* ------------------------------------------------------------------------------------- */

static enum cat parse_cat(const char *s)
{
	static const struct {
		const char *name;
		enum cat cat;
	} t[] = {
		{ "Proposed", CAT_PROPOSED },	   { "InProgress", CAT_INPROGRESS },
		{ "In Progress", CAT_INPROGRESS }, { "Resolved", CAT_RESOLVED },
		{ "Completed", CAT_COMPLETED },	   { "Removed", CAT_REMOVED },
	};
	for (size_t i = 0; s && i < ACS_ARRAY_SIZE(t); i++)
		if (strcasecmp(s, t[i].name) == 0)
			return t[i].cat;
	return CAT_UNKNOWN;
}

static enum stype parse_stype(const char *s)
{
	static const char *const t[] = { "open", "custom", "done", "closed" };
	for (size_t i = 0; s && i < ACS_ARRAY_SIZE(t); i++)
		if (strcasecmp(s, t[i]) == 0)
			return (enum stype)(i + 1);
	return ST_UNKNOWN;
}

static enum cft parse_cft(const char *s)
{
	static const struct {
		const char *name;
		enum cft t;
	} t[] = {
		{ "text", CF_TEXT },	      { "short_text", CF_TEXT }, { "url", CF_TEXT },
		{ "email", CF_TEXT },	      { "phone", CF_TEXT },	 { "number", CF_NUMBER },
		{ "currency", CF_NUMBER },    { "emoji", CF_NUMBER },	 { "checkbox", CF_BOOL },
		{ "drop_down", CF_DROPDOWN }, { "labels", CF_LABELS },	 { "date", CF_DATE },
	};
	if (!s)
		return CF_ANY;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(t); i++)
		if (strcmp(s, t[i].name) == 0)
			return t[i].t;
	return CF_UNSUPPORTED;
}

static int cmp_status(const void *a, const void *b)
{
	const struct mstatus *x = a, *y = b;
	return (x->order > y->order) - (x->order < y->order);
}

static const struct mtype *find_type(const struct acs_mapper *m, const char *name)
{
	for (size_t i = 0; name && i < m->n_types; i++)
		if (strcasecmp(m->types[i].name, name) == 0)
			return &m->types[i];
	return NULL;
}

static const struct mstate *find_state(const struct mtype *t, const char *name)
{
	for (size_t i = 0; t && name && i < t->n_states; i++)
		if (strcasecmp(t->states[i].name, name) == 0)
			return &t->states[i];
	return NULL;
}

static const struct mstatus *find_status(const struct acs_mapper *m, const char *name)
{
	for (size_t i = 0; name && i < m->n_statuses; i++)
		if (strcasecmp(m->statuses[i].name, name) == 0)
			return &m->statuses[i];
	return NULL;
}

static bool any_type_has_state(const struct acs_mapper *m, const char *state)
{
	for (size_t i = 0; i < m->n_types; i++)
		if (find_state(&m->types[i], state))
			return true;
	return false;
}

static const json_t *find_field_def(const json_t *defs, const char *id)
{
	if (json_is_object(defs))
		defs = json_object_get(defs, "fields");
	size_t i;
	const json_t *f;
	json_array_foreach((json_t *)defs, i, f)
	{
		if (str_eq(json_string_value(json_object_get(f, "id")), id))
			return f;
	}
	return NULL;
}

static void copy_ctx(struct acs_mapper *m, const struct acs_mapper_ctx *ctx)
{
	if (ctx->n_types) {
		m->types = acs_xcalloc(ctx->n_types, sizeof(*m->types));
		for (size_t i = 0; i < ctx->n_types; i++) {
			const struct acs_mapper_type *src = &ctx->types[i];
			struct mtype *t = &m->types[m->n_types++];
			t->name = acs_xstrdup(nz(src->name));
			if (!src->n_states)
				continue;
			t->states = acs_xcalloc(src->n_states, sizeof(*t->states));
			for (size_t k = 0; k < src->n_states; k++) {
				t->states[k].name = acs_xstrdup(nz(src->states[k].name));
				t->states[k].cat = parse_cat(src->states[k].category);
			}
			t->n_states = src->n_states;
		}
	}
	if (ctx->n_statuses) {
		m->statuses = acs_xcalloc(ctx->n_statuses, sizeof(*m->statuses));
		for (size_t i = 0; i < ctx->n_statuses; i++) {
			struct mstatus *s = &m->statuses[m->n_statuses++];
			s->name = acs_xstrdup(nz(ctx->statuses[i].name));
			s->type = parse_stype(ctx->statuses[i].type);
			s->order = ctx->statuses[i].orderindex;
		}
		/* Insertion sort: stable, so equal orderindex keeps the API's order. */
		for (size_t i = 1; i < m->n_statuses; i++) {
			struct mstatus x = m->statuses[i];
			size_t k = i;
			for (; k > 0 && cmp_status(&m->statuses[k - 1], &x) > 0; k--)
				m->statuses[k] = m->statuses[k - 1];
			m->statuses[k] = x;
		}
	}
	if (ctx->n_members) {
		m->members = acs_xcalloc(ctx->n_members, sizeof(*m->members));
		for (size_t i = 0; i < ctx->n_members; i++) {
			m->members[i].id = ctx->members[i].id;
			m->members[i].email = lower_dup(ctx->members[i].email);
		}
		m->n_members = ctx->n_members;
	}
	if (ctx->n_identities) {
		m->idents = acs_xcalloc(ctx->n_identities, sizeof(*m->idents));
		for (size_t i = 0; i < ctx->n_identities; i++) {
			m->idents[i].name = acs_xstrdup(nz(ctx->identities[i].display_name));
			m->idents[i].email = lower_dup(ctx->identities[i].email);
		}
		m->n_idents = ctx->n_identities;
	}
	if (ctx->ado_due_field && *ctx->ado_due_field)
		m->due_field = acs_xstrdup(ctx->ado_due_field);
	for (int p = 1; p <= 4; p++)
		if (ctx->clickup_priority[p] >= 1 && ctx->clickup_priority[p] <= 4)
			m->prio[p] = ctx->clickup_priority[p];
}

struct acs_mapper *acs_mapper_new(const struct acs_config_map *map,
				  const struct acs_config_pairs *users,
				  const struct acs_mapper_ctx *ctx, char err[ACS_ERR_LEN])
{
	acs_require(map);
	struct acs_mapper *m = acs_xcalloc(1, sizeof(*m));
	m->new_type = acs_xstrdup(map->ado_new_item_type && *map->ado_new_item_type
					  ? map->ado_new_item_type
					  : "Task");
	if (ctx)
		copy_ctx(m, ctx);
	if (!m->due_field)
		m->due_field = acs_xstrdup(F_DUE);
	m->due_alt = acs_xstrdup(strcmp(m->due_field, F_DUE) == 0 ? F_TARGET : F_DUE);
	for (int p = 1; p <= 4; p++)
		if (!m->prio[p])
			m->prio[p] = p;

	const char *file = nz(map->file);
	if (map->status.n) {
		m->table = acs_xcalloc(map->status.n, sizeof(*m->table));
		for (size_t i = 0; i < map->status.n; i++) {
			const struct acs_config_pair *p = &map->status.v[i];
			if (m->n_types && !any_type_has_state(m, p->key)) {
				snprintf(err, ACS_ERR_LEN,
					 "%s:%u: map.%s.status.%s: no work item type has state "
					 "'%s'",
					 p->file ? p->file : file, p->line, nz(map->name), p->key,
					 p->key);
				goto fail;
			}
			if (m->n_statuses && !find_status(m, p->value)) {
				snprintf(err, ACS_ERR_LEN,
					 "%s:%u: map.%s.status.%s: the ClickUp list has no status "
					 "'%s'",
					 p->file ? p->file : file, p->line, nz(map->name), p->key,
					 p->value);
				goto fail;
			}
			m->table[m->n_table].state = acs_xstrdup(p->key);
			/* Spell the status as the list does (ClickUp lower-cases names). */
			const struct mstatus *st = find_status(m, p->value);
			m->table[m->n_table].status = acs_xstrdup(st ? st->name : p->value);
			m->n_table++;
		}
	}
	if (map->custom.n) {
		m->custom = acs_xcalloc(map->custom.n, sizeof(*m->custom));
		for (size_t i = 0; i < map->custom.n; i++) {
			const struct acs_config_pair *p = &map->custom.v[i];
			const json_t *def = ctx ? find_field_def(ctx->clickup_fields, p->value)
						: NULL;
			if (ctx && ctx->clickup_fields && !def) {
				snprintf(err, ACS_ERR_LEN,
					 "%s:%u: map.%s.custom.%s: the ClickUp list has no custom "
					 "field '%s'",
					 p->file ? p->file : file, p->line, nz(map->name), p->key,
					 p->value);
				goto fail;
			}
			struct mcustom *c = &m->custom[m->n_custom++];
			c->ref = acs_xstrdup(p->key);
			c->field_id = acs_xstrdup(p->value);
			c->def = def ? json_deep_copy((json_t *)def) : NULL;
			c->type = def ? parse_cft(json_string_value(json_object_get(def, "type")))
				      : CF_ANY;
		}
	}
	if (users && users->n) {
		m->users = acs_xcalloc(users->n, sizeof(*m->users));
		for (size_t i = 0; i < users->n; i++) {
			const struct acs_config_pair *p = &users->v[i];
			int64_t id;
			if (!parse_i64(p->value, &id) || id <= 0) {
				snprintf(err, ACS_ERR_LEN,
					 "%s:%u: users.%s: '%s' is not a ClickUp user id (an "
					 "integer)",
					 nz(p->file), p->line, p->key, p->value);
				goto fail;
			}
			m->users[m->n_users].email = lower_dup(p->key);
			m->users[m->n_users].id = id;
			m->n_users++;
		}
	}
	return m;
fail:
	acs_mapper_free(m);
	return NULL;
}

void acs_mapper_free(struct acs_mapper *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_types; i++) {
		for (size_t k = 0; k < m->types[i].n_states; k++)
			free(m->types[i].states[k].name);
		free(m->types[i].states);
		free(m->types[i].name);
	}
	free(m->types);
	for (size_t i = 0; i < m->n_statuses; i++)
		free(m->statuses[i].name);
	free(m->statuses);
	for (size_t i = 0; i < m->n_members; i++)
		free(m->members[i].email);
	free(m->members);
	for (size_t i = 0; i < m->n_idents; i++) {
		free(m->idents[i].name);
		free(m->idents[i].email);
	}
	free(m->idents);
	for (size_t i = 0; i < m->n_table; i++) {
		free(m->table[i].state);
		free(m->table[i].status);
	}
	free(m->table);
	for (size_t i = 0; i < m->n_custom; i++) {
		free(m->custom[i].ref);
		free(m->custom[i].field_id);
		json_decref(m->custom[i].def);
	}
	free(m->custom);
	for (size_t i = 0; i < m->n_users; i++)
		free(m->users[i].email);
	free(m->users);
	free(m->new_type);
	free(m->due_field);
	free(m->due_alt);
	free(m);
}

const char *acs_mapper_new_item_type(const struct acs_mapper *m)
{
	return m->new_type;
}

/* ------------------------------------------------------------------------------------- */
/* State <-> status                                                                       */
/* ------------------------------------------------------------------------------------- */

/* First (or last) status of a type in list order. */
static const struct mstatus *status_of_type(const struct acs_mapper *m, enum stype t, bool last)
{
	const struct mstatus *r = NULL;
	for (size_t i = 0; i < m->n_statuses; i++) {
		if (m->statuses[i].type != t)
			continue;
		r = &m->statuses[i];
		if (!last)
			break;
	}
	return r;
}

/* Category fallback: the preferred status type first, then the nearest ones. */
static const struct mstatus *status_for_cat(const struct acs_mapper *m, enum cat cat)
{
	static const struct {
		enum stype t;
		bool last;
	} chains[][4] = {
		[CAT_PROPOSED] = { { ST_OPEN, false },
				   { ST_CUSTOM, false },
				   { ST_DONE, false },
				   { ST_CLOSED, false } },
		[CAT_INPROGRESS] = { { ST_CUSTOM, false },
				     { ST_OPEN, false },
				     { ST_DONE, false },
				     { ST_CLOSED, false } },
		[CAT_RESOLVED] = { { ST_DONE, false },
				   { ST_CUSTOM, true },
				   { ST_CLOSED, false },
				   { ST_OPEN, false } },
		[CAT_COMPLETED] = { { ST_CLOSED, false },
				    { ST_DONE, false },
				    { ST_CUSTOM, true },
				    { ST_OPEN, false } },
		[CAT_REMOVED] = { { ST_CLOSED, false },
				  { ST_DONE, false },
				  { ST_CUSTOM, true },
				  { ST_OPEN, false } },
	};
	if (cat == CAT_UNKNOWN)
		return NULL;
	for (size_t i = 0; i < 4; i++) {
		const struct mstatus *s = status_of_type(m, chains[cat][i].t, chains[cat][i].last);
		if (s)
			return s;
	}
	return NULL;
}

/* The status for state; *spelled is the state's name as m spells it. */
static const char *forward(const struct acs_mapper *m, const struct mtype *t, const char *state,
			   const char **spelled)
{
	const struct mstate *st = find_state(t, state);
	if (t && !st)
		return NULL; /* not a state of this type */
	for (size_t i = 0; state && i < m->n_table; i++) {
		if (strcasecmp(m->table[i].state, state) == 0) {
			if (spelled)
				*spelled = st ? st->name : m->table[i].state;
			return m->table[i].status;
		}
	}
	if (!st)
		return NULL;
	const struct mstatus *s = status_for_cat(m, st->cat);
	if (s && spelled)
		*spelled = st->name;
	return s ? s->name : NULL;
}

const char *acs_mapper_state_to_status(const struct acs_mapper *m, const char *type,
				       const char *state)
{
	const struct mtype *t = find_type(m, type ? type : m->new_type);
	return forward(m, t, state, NULL);
}

static enum cat cat_for_stype(enum stype t)
{
	switch (t) {
	case ST_OPEN:
		return CAT_PROPOSED;
	case ST_CUSTOM:
		return CAT_INPROGRESS;
	case ST_DONE:
		return CAT_RESOLVED;
	case ST_CLOSED:
		return CAT_COMPLETED;
	default:
		return CAT_UNKNOWN;
	}
}

const char *acs_mapper_status_to_state(const struct acs_mapper *m, const char *type,
				       const char *status, const char *status_type,
				       const char *base_state)
{
	if (!status)
		return NULL;
	const struct mtype *t = find_type(m, type ? type : m->new_type);
	const char *spelled = NULL, *fwd;

	/* 1. Several states may share a status: keep the base's, or the pair ping-pongs. */
	if (base_state && (fwd = forward(m, t, base_state, &spelled)) &&
	    strcasecmp(fwd, status) == 0)
		return spelled;
	/* 2. The table, in file order. */
	for (size_t i = 0; i < m->n_table; i++) {
		if (strcasecmp(m->table[i].status, status) != 0)
			continue;
		const struct mstate *st = find_state(t, m->table[i].state);
		if (!t)
			return m->table[i].state;
		if (st)
			return st->name;
	}
	if (!t)
		return NULL;
	/* 3. The exact inverse of the category fallback, in the type's order. */
	for (size_t i = 0; i < t->n_states; i++) {
		fwd = forward(m, t, t->states[i].name, NULL);
		if (fwd && strcasecmp(fwd, status) == 0)
			return t->states[i].name;
	}
	/* 4. By the status type. */
	const struct mstatus *s = find_status(m, status);
	enum stype stt = status_type ? parse_stype(status_type) : ST_UNKNOWN;
	if (stt == ST_UNKNOWN && s)
		stt = s->type;
	enum cat want = cat_for_stype(stt);
	for (int pass = 0; pass < 2 && want != CAT_UNKNOWN; pass++) {
		for (size_t i = 0; i < t->n_states; i++)
			if (t->states[i].cat == want)
				return t->states[i].name;
		if (want != CAT_RESOLVED)
			break;
		want = CAT_COMPLETED;
	}
	return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Custom values                                                                          */
/* ------------------------------------------------------------------------------------- */

static const struct mcustom *custom_by_ref(const struct acs_mapper *m, const char *ref)
{
	for (size_t i = 0; i < m->n_custom; i++)
		if (strcmp(m->custom[i].ref, ref) == 0)
			return &m->custom[i];
	return NULL;
}

static json_t *number_text(const json_t *v)
{
	char buf[64];
	if (json_is_integer(v))
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
	return json_string(buf);
}

/* "b; a;; c" -> "a; b; c" (labels: order and blanks are not data). */
static json_t *labels_join(char **names, size_t n)
{
	if (!n)
		return NULL;
	qsort(names, n, sizeof(*names), cmp_str);
	struct acs_buf b;
	acs_buf_init(&b, MAX_JOIN);
	for (size_t i = 0; i < n; i++) {
		if (i && strcmp(names[i], names[i - 1]) == 0)
			continue;
		if (b.len)
			acs_buf_appends(&b, "; ");
		acs_buf_appends(&b, names[i]);
	}
	char *s = acs_buf_steal(&b, NULL);
	json_t *r = json_string(s);
	free(s);
	return r;
}

/* Split "a; b" into trimmed non-empty names (caller frees each and the array). */
static size_t split_names(const char *s, char ***out)
{
	size_t cap = 1, n = 0;
	for (const char *p = s; *p; p++)
		cap += *p == ';';
	char **v = acs_xcalloc(cap, sizeof(*v));
	const char *start = s;
	for (const char *p = s;; p++) {
		if (*p == ';' || !*p) {
			char *t = trim_dup(start, (size_t)(p - start));
			if (*t)
				v[n++] = t;
			else
				free(t);
			if (!*p)
				break;
			start = p + 1;
		}
	}
	*out = v;
	return n;
}

static json_t *labels_from_string(const char *s)
{
	char **v;
	size_t n = split_names(s, &v);
	json_t *r = labels_join(v, n);
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
	return r;
}

static json_t *date_from_ms(int64_t ms)
{
	char buf[32];
	acs_mapper_format_iso(trunc_secs(ms), false, buf);
	return json_string(buf);
}

/* Normalise a plain JSON value (ADO side, or a ClickUp value already decoded) to the
 * canonical form for field type t. Returns 0 and *out (new reference or NULL = empty), or
 * -EINVAL with *why. */
static int norm_value(const json_t *v, enum cft t, json_t **out, const char **why)
{
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	const char *s = json_string_value(v);
	if (s && !*s)
		return 0;
	switch (t) {
	case CF_TEXT:
	case CF_DROPDOWN:
		if (s)
			*out = json_string(s);
		else if (json_is_number(v))
			*out = number_text(v);
		else if (json_is_boolean(v))
			*out = json_string(json_is_true(v) ? "true" : "false");
		else
			break;
		return 0;
	case CF_LABELS:
		if (!s)
			break;
		*out = labels_from_string(s);
		return 0;
	case CF_NUMBER:
		if (json_is_number(v)) {
			*out = norm_number(json_number_value(v));
			return 0;
		}
		if (s) {
			char *end = NULL;
			errno = 0;
			double d = strtod(s, &end);
			if (!errno && end != s && !*end && isfinite(d)) {
				*out = norm_number(d);
				return 0;
			}
		}
		*why = "not a number";
		return -EINVAL;
	case CF_BOOL:
		if (json_is_boolean(v)) {
			*out = json_boolean(json_is_true(v));
			return 0;
		}
		if (s && (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)) {
			*out = json_true();
			return 0;
		}
		if (s && (strcasecmp(s, "false") == 0 || strcmp(s, "0") == 0)) {
			*out = json_false();
			return 0;
		}
		if (json_is_integer(v) &&
		    (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
			*out = json_boolean(json_integer_value(v) == 1);
			return 0;
		}
		*why = "not a boolean";
		return -EINVAL;
	case CF_DATE: {
		int64_t ms;
		if (json_is_integer(v)) {
			*out = date_from_ms(json_integer_value(v));
			return 0;
		}
		if (s && (parse_i64(s, &ms) || acs_mapper_parse_iso(s, &ms) == 0)) {
			*out = date_from_ms(ms);
			return 0;
		}
		*why = "not a date";
		return -EINVAL;
	}
	case CF_ANY:
		if (s || json_is_boolean(v)) {
			*out = json_deep_copy((json_t *)v);
			return 0;
		}
		if (json_is_number(v)) {
			*out = norm_number(json_number_value(v));
			return 0;
		}
		if (json_is_object(v) && json_is_string(json_object_get(v, "uniqueName"))) {
			char *e = lower_dup(json_string_value(json_object_get(v, "uniqueName")));
			*out = json_string(e);
			free(e);
			return 0;
		}
		break;
	case CF_UNSUPPORTED:
		*why = "field type not supported";
		return -EINVAL;
	}
	*why = "unexpected JSON type";
	return -EINVAL;
}

static const json_t *dropdown_options(const json_t *def)
{
	return json_object_get(json_object_get(def, "type_config"), "options");
}

/* Labels options carry "label", drop-down options "name". */
static const char *option_label(const json_t *o)
{
	const char *l = json_string_value(json_object_get(o, "label"));
	return l ? l : json_string_value(json_object_get(o, "name"));
}

static const json_t *option_by_label(const json_t *def, const char *label)
{
	size_t i;
	const json_t *o;
	json_array_foreach((json_t *)dropdown_options(def), i, o)
	{
		const char *l = option_label(o);
		if (l && label && strcasecmp(l, label) == 0)
			return o;
	}
	return NULL;
}

/* ADO option values are spelled as ClickUp spells the option, so a case difference
 * between a picklist and a drop-down is not a change. Takes val, returns the result. */
static json_t *respell(const struct mcustom *cf, json_t *val)
{
	if (!cf->def || !json_is_string(val))
		return val;
	if (cf->type == CF_DROPDOWN) {
		const json_t *o = option_by_label(cf->def, json_string_value(val));
		if (o && option_label(o)) {
			json_t *r = json_string(option_label(o));
			json_decref(val);
			return r;
		}
	} else if (cf->type == CF_LABELS) {
		char **names;
		size_t n = split_names(json_string_value(val), &names);
		for (size_t i = 0; i < n; i++) {
			const json_t *o = option_by_label(cf->def, names[i]);
			if (o && option_label(o)) {
				free(names[i]);
				names[i] = acs_xstrdup(option_label(o));
			}
		}
		json_t *r = labels_join(names, n);
		for (size_t i = 0; i < n; i++)
			free(names[i]);
		free(names);
		json_decref(val);
		return r;
	}
	return val;
}

/* ClickUp reads: decode the wire value of a task's custom field entry, then normalise. */
static int decode_clickup_value(const json_t *entry, enum cft t, json_t **out, const char **why)
{
	const json_t *v = json_object_get(entry, "value");
	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (t == CF_DROPDOWN) {
		const json_t *opts = dropdown_options(entry);
		size_t i;
		const json_t *o;
		int64_t idx = -1;
		const char *id = json_string_value(v);
		if (json_is_integer(v))
			idx = json_integer_value(v);
		else if (id && parse_i64(id, &idx))
			id = NULL;
		json_array_foreach((json_t *)opts, i, o)
		{
			const json_t *oi = json_object_get(o, "orderindex");
			bool hit = id ? str_eq(json_string_value(json_object_get(o, "id")), id)
				      : (json_is_integer(oi) && json_integer_value(oi) == idx);
			if (hit)
				return norm_value(json_object_get(o, "name"), CF_TEXT, out, why);
		}
		*why = "drop-down value matches no option";
		return -EINVAL;
	}
	if (t == CF_LABELS) {
		if (!json_is_array(v)) {
			*why = "labels value is not an array";
			return -EINVAL;
		}
		const json_t *opts = dropdown_options(entry);
		size_t n = json_array_size(v), k = 0, i, j;
		char **names = n ? acs_xcalloc(n, sizeof(*names)) : NULL;
		const json_t *id, *o;
		int rc = 0;
		json_array_foreach((json_t *)v, i, id)
		{
			const char *name = NULL;
			json_array_foreach((json_t *)opts, j, o)
			{
				if (str_eq(json_string_value(json_object_get(o, "id")),
					   json_string_value(id))) {
					name = option_label(o);
					break;
				}
			}
			if (!name) {
				*why = "label matches no option";
				rc = -EINVAL;
				break;
			}
			names[k++] = trim_dup(name, strlen(name));
		}
		if (!rc)
			*out = labels_join(names, k);
		for (i = 0; i < k; i++)
			free(names[i]);
		free(names);
		return rc;
	}
	return norm_value(v, t, out, why);
}

/* ClickUp writes: the wire value for a canonical one (new reference), or NULL with *why. */
static json_t *encode_clickup_value(const struct mcustom *cf, const json_t *v, const char **why)
{
	switch (cf->type) {
	case CF_DROPDOWN: {
		const json_t *o = option_by_label(cf->def, json_string_value(v));
		if (o && json_object_get(o, "id"))
			return json_incref(json_object_get(o, "id"));
		*why = cf->def ? "no drop-down option with that name"
			       : "drop-down options unknown (no field definition)";
		return NULL;
	}
	case CF_LABELS: {
		char **names;
		size_t n = split_names(nz(json_string_value(v)), &names);
		json_t *ids = json_array();
		for (size_t k = 0; k < n; k++) {
			const json_t *o = option_by_label(cf->def, names[k]);
			if (o && json_object_get(o, "id"))
				json_array_append(ids, json_object_get(o, "id"));
			else if (!*why)
				*why = "no label option with that name";
			free(names[k]);
		}
		free(names);
		if (*why) {
			json_decref(ids);
			return NULL;
		}
		return ids;
	}
	case CF_DATE: {
		int64_t ms;
		if (acs_mapper_parse_iso(nz(json_string_value(v)), &ms)) {
			*why = "not a date";
			return NULL;
		}
		return json_integer(ms);
	}
	case CF_UNSUPPORTED:
		*why = "field type not supported";
		return NULL;
	default:
		return json_incref((json_t *)v);
	}
}

/* ------------------------------------------------------------------------------------- */
/* Identities                                                                             */
/* ------------------------------------------------------------------------------------- */

static const char *ident_email_by_name(const struct acs_mapper *m, const char *name)
{
	for (size_t i = 0; i < m->n_idents; i++)
		if (strcasecmp(m->idents[i].name, name) == 0)
			return m->idents[i].email;
	return NULL;
}

/* The canonical e-mail of an ADO identity (object or string); NULL when unknown. *empty is
 * set for an unassigned value. Returns a heap string. */
static char *ado_identity(const struct acs_mapper *m, const json_t *v, bool *empty)
{
	*empty = false;
	if (!v || json_is_null(v)) {
		*empty = true;
		return NULL;
	}
	if (json_is_object(v)) {
		const char *u = json_string_value(json_object_get(v, "uniqueName"));
		const char *dn = json_string_value(json_object_get(v, "displayName"));
		if (u && strchr(u, '@'))
			return lower_dup(u);
		const char *e = dn ? ident_email_by_name(m, dn) : NULL;
		if (e)
			return acs_xstrdup(e);
		/* On-premises unique names ("DOMAIN\user") are still a stable key. */
		return u && *u ? lower_dup(u) : NULL;
	}
	const char *s = json_string_value(v);
	if (!s)
		return NULL;
	char *t = trim_dup(s, strlen(s));
	if (!*t) {
		free(t);
		*empty = true;
		return NULL;
	}
	/* "Display Name <unique@name>" as webhooks send it: the last <...> holds the key. */
	char *lt = strrchr(t, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	char *r = NULL;
	if (lt && gt && gt > lt + 1) {
		r = trim_dup(lt + 1, (size_t)(gt - lt - 1));
		char *l = lower_dup(r);
		free(r);
		r = l;
	} else if (strchr(t, '@')) {
		r = lower_dup(t);
	} else {
		const char *e = ident_email_by_name(m, t);
		r = e ? acs_xstrdup(e) : NULL;
	}
	free(t);
	return r;
}

/* The ADO write form of an e-mail: the uniqueName alone. ADO resolves it without
 * ambiguity, whereas a display name (even inside "Name <email>") may be stale or shared
 * and is not needed to find the person. Heap string. */
static char *ado_identity_value(const struct acs_mapper *m, const char *email)
{
	(void)m;
	return acs_xstrdup(email);
}

void acs_mapper_add_identity(struct acs_mapper *m, const char *display_name, const char *email)
{
	if (!m || !display_name || !*display_name || !email || !*email ||
	    strpbrk(display_name, "<>"))
		return;
	for (size_t i = 0; i < m->n_idents; i++)
		if (strcasecmp(m->idents[i].name, display_name) == 0) {
			/* The newest e-mail seen for a name wins (names are not unique). */
			if (strcasecmp(m->idents[i].email, email) != 0) {
				free(m->idents[i].email);
				m->idents[i].email = lower_dup(email);
			}
			return;
		}
	m->idents = acs_xrealloc(m->idents, (m->n_idents + 1) * sizeof(*m->idents));
	m->idents[m->n_idents].name = acs_xstrdup(display_name);
	m->idents[m->n_idents].email = lower_dup(email);
	m->n_idents++;
}

/* ClickUp user id of a canonical e-mail: [users] first, then the list members. */
static bool clickup_id_for(const struct acs_mapper *m, const char *email, int64_t *id)
{
	for (size_t i = 0; i < m->n_users; i++)
		if (strcasecmp(m->users[i].email, email) == 0) {
			*id = m->users[i].id;
			return true;
		}
	for (size_t i = 0; i < m->n_members; i++)
		if (*m->members[i].email && strcasecmp(m->members[i].email, email) == 0) {
			*id = m->members[i].id;
			return true;
		}
	return false;
}

/* Canonical e-mail of a ClickUp user object ([users] by id first); NULL when unknown. */
static const char *clickup_user_email(const struct acs_mapper *m, const json_t *u, char **heap)
{
	*heap = NULL;
	const json_t *jid = json_object_get(u, "id");
	int64_t id = 0;
	bool has_id = json_is_integer(jid) ? (id = json_integer_value(jid), true)
					   : parse_i64(json_string_value(jid), &id);
	for (size_t i = 0; has_id && i < m->n_users; i++)
		if (m->users[i].id == id)
			return m->users[i].email;
	const char *e = json_string_value(json_object_get(u, "email"));
	if (e && *e)
		return *heap = lower_dup(e);
	for (size_t i = 0; has_id && i < m->n_members; i++)
		if (m->members[i].id == id && *m->members[i].email)
			return m->members[i].email;
	return NULL;
}

/* ------------------------------------------------------------------------------------- */
/* Readers                                                                                */
/* ------------------------------------------------------------------------------------- */

int acs_mapper_from_ado(const struct acs_mapper *m, const json_t *fields, struct acs_canon *out,
			struct acs_mapper_notes *notes)
{
	acs_canon_free(out);
	if (!json_is_object(fields))
		return -EINVAL;
	const json_t *v;

	const char *type = json_string_value(json_object_get(fields, F_TYPE));
	if (type)
		acs_canon_set_type(out, type);

	if ((v = json_object_get(fields, F_TITLE))) {
		if (json_is_string(v))
			acs_canon_set_title(out, json_string_value(v));
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_TITLE, "ADO %s is not a string",
				 F_TITLE);
	}

	v = json_object_get(fields, F_DESCRIPTION);
	if (!v || json_is_null(v) || json_is_string(v)) {
		const char *html = nz(json_string_value(v));
		char *md = NULL, err[ACS_ERR_LEN] = "";
		if (acs_html_to_markdown(html, strlen(html), &md, err) == 0) {
			free(out->description);
			out->description = md;
			out->present |= ACS_F_DESCRIPTION;
		} else {
			add_note(notes, ACS_NOTE_DESCRIPTION, ACS_F_DESCRIPTION,
				 "ADO description not synced: %s", err);
		}
	} else {
		add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_DESCRIPTION, "ADO %s is not a string",
			 F_DESCRIPTION);
	}

	if ((v = json_object_get(fields, F_STATE))) {
		if (json_is_string(v))
			acs_canon_set_state(out, json_string_value(v));
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_STATE, "ADO %s is not a string",
				 F_STATE);
	}

	v = json_object_get(fields, F_PRIORITY);
	int64_t prio = 0;
	if (!v || json_is_null(v) || (json_is_integer(v) && (prio = json_integer_value(v), 1)) ||
	    (json_is_string(v) && parse_i64(json_string_value(v), &prio))) {
		if (prio >= 0 && prio <= 4)
			acs_canon_set_priority(out, (int)prio);
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_PRIORITY,
				 "ADO priority %" PRId64 " is outside 1..4", prio);
	} else {
		add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_PRIORITY, "ADO priority is not a number");
	}

	bool empty;
	v = json_object_get(fields, F_ASSIGNED);
	char *who = ado_identity(m, v, &empty);
	if (who || empty) {
		acs_canon_set_assignee(out, who);
	} else {
		char *txt = v ? acs_json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
		add_note(notes, ACS_NOTE_UNKNOWN_ASSIGNEE, ACS_F_ASSIGNEE,
			 "ADO assignee %.120s has no known e-mail", txt ? txt : "?");
		free(txt);
	}
	free(who);

	v = json_object_get(fields, F_TAGS);
	if (!v || json_is_null(v) || json_is_string(v))
		set_tags_split(out, nz(json_string_value(v)));
	else
		add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_TAGS, "ADO %s is not a string", F_TAGS);

	v = json_object_get(fields, m->due_field);
	if (!v || json_is_null(v))
		v = json_object_get(fields, m->due_alt);
	int64_t due = 0;
	if (!v || json_is_null(v) ||
	    (json_is_string(v) && acs_mapper_parse_iso(json_string_value(v), &due) == 0 && due > 0))
		acs_canon_set_due(out, due);
	else
		add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_DUE, "ADO due date is not a valid date");

	for (size_t i = 0; i < m->n_custom; i++) {
		const struct mcustom *cf = &m->custom[i];
		json_t *val;
		const char *why = NULL;
		if (norm_value(json_object_get(fields, cf->ref), cf->type, &val, &why) == 0)
			put_custom(out, cf->ref, respell(cf, val));
		else
			add_note(notes, ACS_NOTE_CUSTOM, ACS_F_CUSTOM,
				 "ADO field %s not synced: %s", cf->ref, why);
	}
	if (m->n_custom)
		out->present |= ACS_F_CUSTOM;
	return 0;
}

/* Plain text as canonical Markdown that shows the same text: escaped through HTML so that
 * '*' or '#' stay characters. Heap string, or NULL when too big. */
static char *text_to_markdown(const char *text)
{
	struct acs_buf b;
	acs_buf_init(&b, ACS_HTML_MD_MAX_INPUT);
	int rc = acs_buf_appends(&b, "<p>");
	for (const char *p = text; *p && !rc; p++) {
		switch (*p) {
		case '&':
			rc = acs_buf_appends(&b, "&amp;");
			break;
		case '<':
			rc = acs_buf_appends(&b, "&lt;");
			break;
		case '>':
			rc = acs_buf_appends(&b, "&gt;");
			break;
		case '\n':
			rc = acs_buf_appends(&b, p[1] == '\n' ? "</p><p>" : "<br>");
			while (p[1] == '\n')
				p++;
			break;
		default:
			rc = acs_buf_append(&b, p, 1);
		}
	}
	if (!rc)
		rc = acs_buf_appends(&b, "</p>");
	if (rc)
		return NULL;
	size_t len;
	char *html = acs_buf_steal(&b, &len), *md = NULL;
	rc = acs_html_to_markdown(html, len, &md, NULL);
	free(html);
	return rc ? NULL : md;
}

static void clickup_assignee(const struct acs_mapper *m, const json_t *arr,
			     const struct acs_canon *base, struct acs_canon *out,
			     struct acs_mapper_notes *notes)
{
	size_t n = json_array_size(arr), i, known = 0;
	const json_t *u;
	const char *pick = NULL;
	char *pick_heap = NULL;
	const char *want = base && (base->present & ACS_F_ASSIGNEE) ? nz(base->assignee) : "";
	json_array_foreach((json_t *)arr, i, u)
	{
		char *heap;
		const char *e = clickup_user_email(m, u, &heap);
		if (!e) {
			const json_t *id = json_object_get(u, "id");
			add_note(notes, ACS_NOTE_UNKNOWN_ASSIGNEE, ACS_F_ASSIGNEE,
				 "ClickUp assignee %" JSON_INTEGER_FORMAT " has no known e-mail",
				 json_integer_value(id));
			continue;
		}
		known++;
		if (!pick || (*want && strcmp(e, want) == 0 && strcmp(pick, want) != 0)) {
			free(pick_heap);
			pick_heap = heap;
			pick = e;
		} else {
			free(heap);
		}
	}
	if (pick)
		acs_canon_set_assignee(out, pick);
	else if (n == 0)
		acs_canon_set_assignee(out, "");
	if (known > 1)
		add_note(notes, ACS_NOTE_EXTRA_ASSIGNEES, ACS_F_ASSIGNEE,
			 "ClickUp task has %zu assignees; only %s is synced", known, pick);
	free(pick_heap);
}

static void clickup_custom(const struct acs_mapper *m, const json_t *task, struct acs_canon *out,
			   struct acs_mapper_notes *notes)
{
	const json_t *arr = json_object_get(task, "custom_fields");
	if (!json_is_array(arr))
		return;
	for (size_t i = 0; i < m->n_custom; i++) {
		const struct mcustom *cf = &m->custom[i];
		const json_t *entry = NULL, *e;
		size_t k;
		json_array_foreach((json_t *)arr, k, e)
		{
			if (str_eq(json_string_value(json_object_get(e, "id")), cf->field_id)) {
				entry = e;
				break;
			}
		}
		if (!entry) {
			add_note(notes, ACS_NOTE_CUSTOM, ACS_F_CUSTOM,
				 "ClickUp task lacks custom field %s (for %s)", cf->field_id,
				 cf->ref);
			continue;
		}
		enum cft t = parse_cft(json_string_value(json_object_get(entry, "type")));
		json_t *val;
		const char *why = NULL;
		if (decode_clickup_value(entry, t, &val, &why) == 0)
			put_custom(out, cf->ref, val);
		else
			add_note(notes, ACS_NOTE_CUSTOM, ACS_F_CUSTOM,
				 "ClickUp field %s (for %s) not synced: %s", cf->field_id, cf->ref,
				 why);
	}
	if (m->n_custom)
		out->present |= ACS_F_CUSTOM;
}

static bool clickup_priority(const json_t *v, int *out)
{
	static const char *const names[] = { "urgent", "high", "normal", "low" };
	if (!v || json_is_null(v)) {
		*out = 0;
		return true;
	}
	const json_t *id = json_is_object(v) ? json_object_get(v, "id") : v;
	int64_t p = 0;
	if ((json_is_integer(id) && (p = json_integer_value(id), 1)) ||
	    parse_i64(json_string_value(id), &p)) {
		if (p >= 1 && p <= 4) {
			*out = (int)p;
			return true;
		}
		return false;
	}
	const char *name =
		json_string_value(json_is_object(v) ? json_object_get(v, "priority") : v);
	for (int i = 0; name && i < 4; i++)
		if (strcasecmp(name, names[i]) == 0) {
			*out = i + 1;
			return true;
		}
	return false;
}

int acs_mapper_from_clickup(const struct acs_mapper *m, const json_t *task,
			    const struct acs_canon *base, struct acs_canon *out,
			    struct acs_mapper_notes *notes)
{
	return acs_mapper_from_clickup_fields(m, task, base, out, notes, ACS_F_ALL);
}

int acs_mapper_from_clickup_fields(const struct acs_mapper *m, const json_t *task,
				   const struct acs_canon *base, struct acs_canon *out,
				   struct acs_mapper_notes *notes, unsigned want)
{
	acs_canon_free(out);
	if (!json_is_object(task))
		return -EINVAL;
	const json_t *v;
	const char *type = base && base->type ? base->type : m->new_type;
	acs_canon_set_type(out, type);

	if ((v = json_object_get(task, "name"))) {
		if (json_is_string(v))
			acs_canon_set_title(out, json_string_value(v));
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_TITLE,
				 "ClickUp name is not a string");
	}

	if (!(want & ACS_F_DESCRIPTION)) {
		/* Left out: its conversion is the costly part of a task. */
	} else if ((v = json_object_get(task, "markdown_description")) && !json_is_null(v)) {
		if (!json_is_string(v) || acs_canon_set_description(out, json_string_value(v)))
			add_note(notes, ACS_NOTE_DESCRIPTION, ACS_F_DESCRIPTION,
				 "ClickUp markdown_description not synced (not a string or too "
				 "big)");
	} else if ((v = json_object_get(task, "description"))) {
		char *md = text_to_markdown(nz(json_string_value(v)));
		if (md) {
			free(out->description);
			out->description = md;
			out->present |= ACS_F_DESCRIPTION;
		}
		add_note(notes, ACS_NOTE_DESCRIPTION, ACS_F_DESCRIPTION,
			 md ? "ClickUp description read as plain text (no markdown_description)"
			    : "ClickUp description too big");
	}

	if ((v = json_object_get(task, "status"))) {
		const char *st =
			json_string_value(json_is_object(v) ? json_object_get(v, "status") : v);
		const char *stt = json_string_value(json_object_get(v, "type"));
		const char *bs = base && (base->present & ACS_F_STATE) ? base->state : NULL;
		const char *state = acs_mapper_status_to_state(m, type, st, stt, bs);
		if (state)
			acs_canon_set_state(out, state);
		else
			add_note(notes, ACS_NOTE_UNKNOWN_STATUS, ACS_F_STATE,
				 "ClickUp status '%s' maps to no state of %s", nz(st), type);
	}

	if ((v = json_object_get(task, "priority")) || json_object_get(task, "id")) {
		int p, ado = 0;
		if (!clickup_priority(v, &p)) {
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_PRIORITY,
				 "ClickUp priority is not 1..4");
		} else if (!p) {
			acs_canon_set_priority(out, 0);
		} else {
			/* The inverse of priority_map: the base's priority when it maps here
			 * (several may share one ClickUp priority), else the first. */
			int bp = base && (base->present & ACS_F_PRIORITY) ? base->priority : 0;
			if (bp >= 1 && bp <= 4 && m->prio[bp] == p)
				ado = bp;
			for (int k = 1; k <= 4 && !ado; k++)
				if (m->prio[k] == p)
					ado = k;
			if (ado)
				acs_canon_set_priority(out, ado);
			else
				add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_PRIORITY,
					 "ClickUp priority %d: no ADO priority maps to it "
					 "(priority_map)",
					 p);
		}
	}

	if ((v = json_object_get(task, "assignees"))) {
		if (json_is_array(v))
			clickup_assignee(m, v, base, out, notes);
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_ASSIGNEE,
				 "ClickUp assignees is not an array");
	}

	if ((v = json_object_get(task, "tags"))) {
		size_t n = json_array_size(v), i;
		const json_t *t;
		char **names = n ? acs_xcalloc(n, sizeof(*names)) : NULL;
		json_array_foreach((json_t *)v, i, t)
		{
			const char *s = json_string_value(
				json_is_object(t) ? json_object_get(t, "name") : t);
			names[i] = acs_xstrdup(nz(s));
		}
		take_tags(out, names, n);
	}

	if ((v = json_object_get(task, "due_date")) || json_object_get(task, "id")) {
		int64_t ms = 0;
		if (!v || json_is_null(v) ||
		    (json_is_integer(v) && (ms = json_integer_value(v), 1)) ||
		    parse_i64(json_string_value(v), &ms))
			acs_canon_set_due(out, ms);
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_DUE,
				 "ClickUp due_date is not Unix milliseconds");
	}

	clickup_custom(m, task, out, notes);
	return 0;
}

/* ------------------------------------------------------------------------------------- */
/* ADO writers                                                                            */
/* ------------------------------------------------------------------------------------- */

static void patch_op(json_t *ops, const char *op, const char *ref, json_t *value)
{
	json_t *o = json_object();
	json_object_set_new(o, "op", json_string(op));
	char *path = acs_xasprintf("/fields/%s", ref);
	json_object_set_new(o, "path", json_string(path));
	free(path);
	if (value)
		json_object_set_new(o, "value", value);
	json_array_append_new(ops, o);
}

/* Whether current holds a value for field (1), holds it empty (0), or is unknown (-1). */
static int cur_has(const struct acs_canon *cur, unsigned field)
{
	if (!cur || !(cur->present & field))
		return -1;
	switch (field) {
	case ACS_F_TITLE:
		return *nz(cur->title) != 0;
	case ACS_F_DESCRIPTION:
		return *nz(cur->description) != 0;
	case ACS_F_STATE:
		return *nz(cur->state) != 0;
	case ACS_F_PRIORITY:
		return cur->priority != 0;
	case ACS_F_ASSIGNEE:
		return *nz(cur->assignee) != 0;
	case ACS_F_TAGS:
		return cur->n_tags != 0;
	case ACS_F_DUE:
		return cur->due_ms != 0;
	default:
		return -1;
	}
}

/* Set (value non-NULL) or clear (value NULL; empty is what an unknown clear writes). */
static void ado_write(json_t *ops, const char *ref, json_t *value, int has, json_t *empty)
{
	if (value) {
		patch_op(ops, has == 1 ? "replace" : "add", ref, value);
		json_decref(empty);
	} else if (has == 1) {
		patch_op(ops, "remove", ref, NULL);
		json_decref(empty);
	} else if (has == -1) {
		patch_op(ops, "add", ref, empty);
	} else {
		json_decref(empty);
	}
}

static char *tags_join(const struct acs_canon *c)
{
	struct acs_buf b;
	acs_buf_init(&b, MAX_JOIN);
	for (size_t i = 0; i < c->n_tags; i++) {
		if (i)
			acs_buf_appends(&b, "; ");
		acs_buf_appends(&b, c->tags[i]);
	}
	return acs_buf_steal(&b, NULL);
}

static void ado_ops(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
		    const struct acs_canon *cur, bool create, json_t *ops,
		    struct acs_mapper_notes *notes)
{
	unsigned w = mask & c->present;
	/* For create every field is new: never "replace", never clear. */
#define HAS(f) (create ? 0 : cur_has(cur, (f)))
	if (w & ACS_F_TITLE) {
		if (*nz(c->title))
			ado_write(ops, F_TITLE, json_string(c->title), HAS(ACS_F_TITLE), NULL);
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_TITLE,
				 "empty title not written to ADO (the title is required)");
	}
	if (w & ACS_F_DESCRIPTION) {
		json_t *val = NULL;
		if (*nz(c->description)) {
			char *html = NULL, err[ACS_ERR_LEN] = "";
			if (acs_markdown_to_html(c->description, strlen(c->description), &html,
						 err)) {
				add_note(notes, ACS_NOTE_DESCRIPTION, ACS_F_DESCRIPTION,
					 "description not written to ADO: %s", err);
				goto state;
			}
			val = json_string(html);
			free(html);
		}
		ado_write(ops, F_DESCRIPTION, val, HAS(ACS_F_DESCRIPTION), json_string(""));
	}
state:
	if (w & ACS_F_STATE) {
		if (*nz(c->state))
			ado_write(ops, F_STATE, json_string(c->state), HAS(ACS_F_STATE), NULL);
		else
			add_note(notes, ACS_NOTE_UNKNOWN_STATE, ACS_F_STATE,
				 "empty state not written to ADO");
	}
	if (w & ACS_F_PRIORITY)
		ado_write(ops, F_PRIORITY, c->priority ? json_integer(c->priority) : NULL,
			  HAS(ACS_F_PRIORITY), json_null());
	if (w & ACS_F_ASSIGNEE) {
		char *who = *nz(c->assignee) ? ado_identity_value(m, c->assignee) : NULL;
		ado_write(ops, F_ASSIGNED, who ? json_string(who) : NULL, HAS(ACS_F_ASSIGNEE),
			  json_string(""));
		free(who);
	}
	if (w & ACS_F_TAGS) {
		char *t = c->n_tags ? tags_join(c) : NULL;
		ado_write(ops, F_TAGS, t ? json_string(t) : NULL, HAS(ACS_F_TAGS), json_string(""));
		free(t);
	}
	if (w & ACS_F_DUE) {
		char buf[32];
		if (c->due_ms)
			acs_mapper_format_iso(c->due_ms, false, buf);
		ado_write(ops, m->due_field, c->due_ms ? json_string(buf) : NULL, HAS(ACS_F_DUE),
			  json_null());
	}
	if (w & ACS_F_CUSTOM) {
		for (size_t i = 0; i < c->n_custom; i++) {
			const struct acs_canon_custom *e = &c->custom[i];
			const struct mcustom *cf = custom_by_ref(m, e->ref);
			if (!cf)
				continue; /* not (or no longer) in the mapping */
			const struct acs_canon_custom *o =
				cur && (cur->present & ACS_F_CUSTOM)
					? acs_canon_get_custom(cur, e->ref)
					: NULL;
			if (!create && o && value_eq(o->value, e->value))
				continue;
			int has = create ? 0 : !o ? -1 : o->value != NULL;
			ado_write(ops, e->ref, e->value ? json_deep_copy(e->value) : NULL, has,
				  json_null());
		}
	}
#undef HAS
}

json_t *acs_mapper_ado_patch(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			     const struct acs_canon *current, struct acs_mapper_notes *notes)
{
	json_t *ops = json_array();
	ado_ops(m, c, mask, current, false, ops, notes);
	return ops;
}

json_t *acs_mapper_ado_create(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      struct acs_mapper_notes *notes)
{
	json_t *ops = json_array();
	ado_ops(m, c, mask, NULL, true, ops, notes);
	return ops;
}

/* ------------------------------------------------------------------------------------- */
/* ClickUp writers                                                                        */
/* ------------------------------------------------------------------------------------- */

void acs_mapper_clickup_write_clear(struct acs_clickup_write *w)
{
	if (!w)
		return;
	json_decref(w->body);
	free_tags(w->tags_add, w->n_tags_add);
	free_tags(w->tags_rem, w->n_tags_rem);
	for (size_t i = 0; i < w->n_fields; i++) {
		free(w->fields[i].field_id);
		json_decref(w->fields[i].value);
	}
	free(w->fields);
	memset(w, 0, sizeof(*w));
}

size_t acs_mapper_clickup_write_count(const struct acs_clickup_write *w)
{
	return (w->body ? 1 : 0) + w->n_tags_add + w->n_tags_rem + w->n_fields;
}

static bool has_tag(const struct acs_canon *c, const char *t)
{
	for (size_t i = 0; i < c->n_tags; i++)
		if (strcmp(c->tags[i], t) == 0)
			return true;
	return false;
}

static void push_str(char ***v, size_t *n, const char *s)
{
	*v = acs_xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = acs_xstrdup(s);
}

static void clickup_common(const struct acs_mapper *m, const struct acs_canon *c, unsigned w,
			   bool create, json_t *b, struct acs_mapper_notes *notes)
{
	if (w & ACS_F_TITLE) {
		if (*nz(c->title))
			json_object_set_new(b, "name", json_string(c->title));
		else
			add_note(notes, ACS_NOTE_BAD_VALUE, ACS_F_TITLE,
				 "empty title not written to ClickUp (the name is required)");
	}
	if (w & ACS_F_DESCRIPTION) {
		if (*nz(c->description))
			json_object_set_new(b, "markdown_content", json_string(c->description));
		else if (!create)
			/* ClickUp documents " " as the way to clear a description. */
			json_object_set_new(b, "description", json_string(" "));
	}
	if (w & ACS_F_STATE) {
		const char *st = acs_mapper_state_to_status(m, c->type, c->state);
		if (st)
			json_object_set_new(b, "status", json_string(st));
		else
			add_note(notes, ACS_NOTE_UNKNOWN_STATE, ACS_F_STATE,
				 "ADO state '%s' of %s maps to no ClickUp status", nz(c->state),
				 c->type ? c->type : m->new_type);
	}
	if ((w & ACS_F_PRIORITY) && (c->priority || !create))
		json_object_set_new(b, "priority",
				    c->priority ? json_integer(m->prio[c->priority]) : json_null());
	if ((w & ACS_F_DUE) && (c->due_ms || !create)) {
		json_object_set_new(b, "due_date",
				    c->due_ms ? json_integer(c->due_ms) : json_null());
		/* A midnight-UTC instant is what ADO's date picker gives: show it as a date. */
		json_object_set_new(b, "due_date_time",
				    json_boolean(c->due_ms && c->due_ms % MS_PER_DAY != 0));
	}
}

static bool assignee_id(const struct acs_mapper *m, const char *email, int64_t *id,
			struct acs_mapper_notes *notes)
{
	if (clickup_id_for(m, email, id))
		return true;
	add_note(notes, ACS_NOTE_UNKNOWN_ASSIGNEE, ACS_F_ASSIGNEE,
		 "assignee %s has no ClickUp user (add it to [users])", email);
	return false;
}

static void clickup_custom_sets(const struct acs_mapper *m, const struct acs_canon *c,
				const struct acs_canon *cur, bool create, json_t *create_arr,
				struct acs_clickup_write *out, struct acs_mapper_notes *notes)
{
	for (size_t i = 0; i < c->n_custom; i++) {
		const struct acs_canon_custom *e = &c->custom[i];
		const struct mcustom *cf = custom_by_ref(m, e->ref);
		if (!cf)
			continue;
		const struct acs_canon_custom *o = cur && (cur->present & ACS_F_CUSTOM)
							   ? acs_canon_get_custom(cur, e->ref)
							   : NULL;
		if (!create && o && value_eq(o->value, e->value))
			continue;
		if (!e->value && create)
			continue;
		json_t *val = NULL;
		if (e->value) {
			const char *why = NULL;
			val = encode_clickup_value(cf, e->value, &why);
			if (!val) {
				add_note(notes, ACS_NOTE_CUSTOM, ACS_F_CUSTOM,
					 "%s not written to ClickUp field %s: %s", e->ref,
					 cf->field_id, why);
				continue;
			}
		}
		if (create) {
			json_array_append_new(create_arr, json_pack("{s:s,s:o}", "id", cf->field_id,
								    "value", val));
			continue;
		}
		out->fields = acs_xrealloc(out->fields, (out->n_fields + 1) * sizeof(*out->fields));
		out->fields[out->n_fields].field_id = acs_xstrdup(cf->field_id);
		out->fields[out->n_fields].value = val;
		out->n_fields++;
	}
}

int acs_mapper_clickup_update(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      const struct acs_canon *current, struct acs_clickup_write *out,
			      struct acs_mapper_notes *notes)
{
	acs_mapper_clickup_write_clear(out);
	unsigned w = mask & c->present;
	json_t *b = json_object();
	clickup_common(m, c, w, false, b, notes);

	if (w & ACS_F_ASSIGNEE) {
		json_t *add = json_array(), *rem = json_array();
		int64_t id;
		const char *now = nz(c->assignee);
		const char *was =
			current && (current->present & ACS_F_ASSIGNEE) ? nz(current->assignee) : "";
		if (*now && assignee_id(m, now, &id, notes))
			json_array_append_new(add, json_integer(id));
		/* Only the previous synced assignee goes: ClickUp-only co-assignees stay. */
		if (*was && strcasecmp(was, now) != 0 && assignee_id(m, was, &id, notes))
			json_array_append_new(rem, json_integer(id));
		if (!*now && !current)
			add_note(notes, ACS_NOTE_UNKNOWN_ASSIGNEE, ACS_F_ASSIGNEE,
				 "cannot unassign in ClickUp without the current assignee");
		if (json_array_size(add) || json_array_size(rem))
			json_object_set_new(b, "assignees",
					    json_pack("{s:o,s:o}", "add", add, "rem", rem));
		else {
			json_decref(add);
			json_decref(rem);
		}
	}
	if (w & ACS_F_TAGS) {
		const struct acs_canon *cur = current && (current->present & ACS_F_TAGS) ? current
											 : NULL;
		for (size_t i = 0; i < c->n_tags; i++)
			if (!cur || !has_tag(cur, c->tags[i]))
				push_str(&out->tags_add, &out->n_tags_add, c->tags[i]);
		for (size_t i = 0; cur && i < cur->n_tags; i++)
			if (!has_tag(c, cur->tags[i]))
				push_str(&out->tags_rem, &out->n_tags_rem, cur->tags[i]);
	}
	if (w & ACS_F_CUSTOM)
		clickup_custom_sets(m, c, current, false, NULL, out, notes);

	if (json_object_size(b))
		out->body = b;
	else
		json_decref(b);
	return 0;
}

int acs_mapper_clickup_create(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      struct acs_clickup_write *out, struct acs_mapper_notes *notes)
{
	acs_mapper_clickup_write_clear(out);
	unsigned w = mask & c->present;
	json_t *b = json_object();
	clickup_common(m, c, w, true, b, notes);
	if (w & ACS_F_ASSIGNEE) {
		json_t *a = json_array();
		int64_t id;
		if (*nz(c->assignee) && assignee_id(m, c->assignee, &id, notes))
			json_array_append_new(a, json_integer(id));
		json_object_set_new(b, "assignees", a);
	}
	if ((w & ACS_F_TAGS) && c->n_tags) {
		json_t *a = json_array();
		for (size_t i = 0; i < c->n_tags; i++)
			json_array_append_new(a, json_string(c->tags[i]));
		json_object_set_new(b, "tags", a);
	}
	if (w & ACS_F_CUSTOM) {
		json_t *a = json_array();
		clickup_custom_sets(m, c, NULL, true, a, out, notes);
		if (json_array_size(a))
			json_object_set_new(b, "custom_fields", a);
		else
			json_decref(a);
	}
	out->body = b;
	return 0;
}
