/* SPDX-License-Identifier: MIT */
/* ClickUp API v2 client: request builders for each endpoint, parsers from the
 * documented wire shapes (shared/api/clickup.md) into plain structs, and the
 * dispatch from the rest pipeline's completion to the typed callbacks. */
#include "clickup_client.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "json_codec.h"
#include "mem.h"

/* Tasks per page of GET /list/{id}/task (clickup.md §4). */
#define CU_PAGE_TASKS 100

struct acs_clickup_client {
	struct acs_rest *rest;
	char *origin; /**< "scheme://host[:port]" of base_url: downloads allowed there */
	bool closing;
	acs_clickup_closed_cb close_cb;
	void *close_arg;
};

/* What the answer of a call is parsed into, and so which callback it gets. */
enum kind {
	K_DONE,
	K_TASK,
	K_TASK_PAGE,
	K_COMMENT_NEW,
	K_COMMENT_PAGE,
	K_ATTACHMENT,
	K_BLOB,
	K_WEBHOOK,
	K_WEBHOOKS,
	K_LIST,
	K_LISTS,
	K_SPACES,
	K_FOLDERS,
	K_TEAMS,
	K_MEMBERS,
	K_TASK_JSON,   /**< as K_TASK, and the callback also gets the answer's JSON */
	K_FIELDS,      /**< GET /list/{id}/field */
	K_FIELDS_JSON, /**< GET /list/{id}/field, the "fields" array as JSON */
};

/* One call in flight: owned by the rest pipeline's callback, freed there. */
struct call {
	enum kind kind;
	void (*cb)(void); /**< the typed callback, cast back by kind in dispatch() */
	void *arg;
	char *text; /**< K_COMMENT_NEW: the text sent (the answer does not echo it) */
};

/* ------------------------------------------------------------------------ */
/* Small JSON readers that accept both readings of the unconfirmed types.    */
/* ------------------------------------------------------------------------ */

static const json_t *jget(const json_t *o, const char *key)
{
	return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static char *xdup_or(const json_t *v, const char *def)
{
	if (json_is_string(v))
		return acs_xstrndup(json_string_value(v), json_string_length(v));
	return def ? acs_xstrdup(def) : NULL;
}

/* An id sent as a string or as a number, as a heap string; NULL otherwise. */
static char *id_dup(const json_t *v)
{
	if (json_is_string(v))
		return acs_xstrndup(json_string_value(v), json_string_length(v));
	if (json_is_integer(v))
		return acs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	if (json_is_real(v) && json_real_value(v) >= 0 && json_real_value(v) < 9.007199254740992e15)
		return acs_xasprintf("%.0f", json_real_value(v));
	return NULL;
}

static char *id_dup_or(const json_t *v, const char *def)
{
	char *s = id_dup(v);
	return s ? s : acs_xstrdup(def);
}

/* Whole decimal string, optional sign, no junk; false otherwise. */
static bool parse_i64_str(const char *s, int64_t *out)
{
	char *end;
	if (!s || !*s)
		return false;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* An integer sent as a number or a decimal string; def otherwise. */
static int64_t int_of(const json_t *v, int64_t def)
{
	int64_t n;
	if (json_is_integer(v))
		return json_integer_value(v);
	if (json_is_real(v) && json_real_value(v) > -9.2e18 && json_real_value(v) < 9.2e18)
		return (int64_t)json_real_value(v);
	if (json_is_string(v) && parse_i64_str(json_string_value(v), &n))
		return n;
	/* "1234.000...": ClickUp's orderindex strings. */
	if (json_is_string(v)) {
		char *end;
		errno = 0;
		double d = strtod(json_string_value(v), &end);
		if (!errno && !*end && end != json_string_value(v) && d > -9.2e18 && d < 9.2e18)
			return (int64_t)d;
	}
	return def;
}

int64_t acs_clickup_parse_ms(const json_t *v)
{
	int64_t ms = int_of(v, 0);
	return ms > 0 ? ms : 0;
}

int acs_clickup_parse_priority(const json_t *v)
{
	static const char *const names[] = { "urgent", "high", "normal", "low" };
	int64_t p = 0;

	if (json_is_object(v)) {
		p = int_of(json_object_get(v, "id"), 0);
		if (p < 1 || p > 4) {
			const char *name = json_string_value(json_object_get(v, "priority"));
			p = 0;
			for (size_t i = 0; name && i < ACS_ARRAY_SIZE(names); i++)
				if (!strcmp(name, names[i]))
					p = (int64_t)i + 1;
		}
	} else {
		p = int_of(v, 0);
	}
	return p >= 1 && p <= 4 ? (int)p : 0;
}

static bool bool_of(const json_t *v)
{
	if (json_is_string(v))
		return !strcmp(json_string_value(v), "true");
	return json_is_true(v);
}

/* ------------------------------------------------------------------------ */
/* Payload parsers: fill a zeroed struct (parse_*), release members (clear_*) */
/* ------------------------------------------------------------------------ */

static void clear_user(struct acs_clickup_user *u)
{
	free(u->username);
	free(u->email);
	memset(u, 0, sizeof(*u));
}

static void parse_user(const json_t *j, struct acs_clickup_user *u)
{
	u->id = int_of(jget(j, "id"), 0);
	u->username = xdup_or(jget(j, "username"), "");
	u->email = xdup_or(jget(j, "email"), "");
}

static void clear_status(struct acs_clickup_status *s)
{
	free(s->name);
	free(s->type);
	free(s->color);
}

static void parse_status(const json_t *j, struct acs_clickup_status *s)
{
	s->name = xdup_or(jget(j, "status"), "");
	s->type = xdup_or(jget(j, "type"), "");
	s->orderindex = int_of(jget(j, "orderindex"), 0);
	s->color = xdup_or(jget(j, "color"), "");
}

static void parse_statuses(const json_t *a, struct acs_clickup_status **out, size_t *n)
{
	*n = json_is_array(a) ? json_array_size(a) : 0;
	*out = *n ? acs_xcalloc(*n, sizeof(**out)) : NULL;
	for (size_t i = 0; i < *n; i++)
		parse_status(json_array_get(a, i), &(*out)[i]);
}

static void free_statuses(struct acs_clickup_status *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		clear_status(&s[i]);
	free(s);
}

static void free_strings(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void clear_attachment(struct acs_clickup_attachment *a)
{
	free(a->id);
	free(a->title);
	free(a->url);
	free(a->extension);
	free(a->mimetype);
}

static int parse_attachment(const json_t *j, struct acs_clickup_attachment *a, char *err)
{
	a->id = id_dup(jget(j, "id"));
	if (!a->id) {
		snprintf(err, ACS_ERR_LEN, "attachment without an id");
		return ACS_EPARSE;
	}
	a->title = xdup_or(jget(j, "title"), "");
	a->url = xdup_or(jget(j, "url"), "");
	a->extension = xdup_or(jget(j, "extension"), "");
	a->mimetype = xdup_or(jget(j, "mimetype"), "");
	a->size = int_of(jget(j, "size"), -1);
	a->date = acs_clickup_parse_ms(jget(j, "date"));
	return 0;
}

static void clear_task(struct acs_clickup_task *t)
{
	free(t->id);
	free(t->custom_id);
	free(t->name);
	free(t->description);
	free(t->text_content);
	free(t->status);
	free(t->status_type);
	for (size_t i = 0; i < t->n_assignees; i++)
		clear_user(&t->assignees[i]);
	free(t->assignees);
	free_strings(t->tags, t->n_tags);
	free(t->list_id);
	free(t->parent);
	free(t->url);
	for (size_t i = 0; i < t->n_custom_fields; i++) {
		struct acs_clickup_custom_field *f = &t->custom_fields[i];
		free(f->id);
		free(f->name);
		free(f->type);
		json_decref(f->value);
	}
	free(t->custom_fields);
	for (size_t i = 0; i < t->n_attachments; i++)
		clear_attachment(&t->attachments[i]);
	free(t->attachments);
	memset(t, 0, sizeof(*t));
}

static int parse_task(const json_t *j, struct acs_clickup_task *t, char *err)
{
	const json_t *v, *e;
	size_t i, n;

	if (!json_is_object(j) || !(t->id = id_dup(json_object_get(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "task: not an object with an id");
		return ACS_EPARSE;
	}
	t->custom_id = id_dup(jget(j, "custom_id"));
	t->name = xdup_or(jget(j, "name"), "");
	/* markdown_description only exists when requested: prefer it, because
	 * the plain description loses the formatting the other side shows. */
	if (json_is_string(v = jget(j, "markdown_description"))) {
		t->description = xdup_or(v, "");
		t->description_is_markdown = true;
	} else if (json_is_string(v = jget(j, "description"))) {
		t->description = xdup_or(v, "");
	} else {
		t->description = xdup_or(jget(j, "text_content"), "");
	}
	t->text_content = xdup_or(jget(j, "text_content"), "");
	v = jget(j, "status");
	if (json_is_object(v)) {
		t->status = xdup_or(jget(v, "status"), "");
		t->status_type = xdup_or(jget(v, "type"), "");
	} else {
		t->status = xdup_or(v, "");
		t->status_type = acs_xstrdup("");
	}
	t->priority = acs_clickup_parse_priority(jget(j, "priority"));

	v = jget(j, "assignees");
	n = json_is_array(v) ? json_array_size(v) : 0;
	t->assignees = n ? acs_xcalloc(n, sizeof(*t->assignees)) : NULL;
	json_array_foreach(v, i, e)
	{
		/* A bare id is what the create body uses; accept it on read too. */
		if (json_is_object(e))
			parse_user(e, &t->assignees[t->n_assignees]);
		else
			t->assignees[t->n_assignees] = (struct acs_clickup_user){ int_of(e, 0),
										  acs_xstrdup(""),
										  acs_xstrdup("") };
		t->n_assignees++;
	}

	v = jget(j, "tags");
	n = json_is_array(v) ? json_array_size(v) : 0;
	t->tags = n ? acs_xcalloc(n, sizeof(*t->tags)) : NULL;
	json_array_foreach(v, i, e)
	{
		const json_t *name = json_is_object(e) ? json_object_get(e, "name") : e;
		if (json_is_string(name))
			t->tags[t->n_tags++] = xdup_or(name, "");
	}

	t->due_date = acs_clickup_parse_ms(jget(j, "due_date"));
	t->date_created = acs_clickup_parse_ms(jget(j, "date_created"));
	t->date_updated = acs_clickup_parse_ms(jget(j, "date_updated"));
	t->date_closed = acs_clickup_parse_ms(jget(j, "date_closed"));
	t->list_id = id_dup_or(jget(jget(j, "list"), "id"), "");
	t->parent = id_dup(jget(j, "parent"));
	t->url = xdup_or(jget(j, "url"), "");
	t->archived = bool_of(jget(j, "archived"));

	v = jget(j, "custom_fields");
	n = json_is_array(v) ? json_array_size(v) : 0;
	t->custom_fields = n ? acs_xcalloc(n, sizeof(*t->custom_fields)) : NULL;
	json_array_foreach(v, i, e)
	{
		char *fid = id_dup(jget(e, "id"));
		if (!fid)
			continue;
		struct acs_clickup_custom_field *f = &t->custom_fields[t->n_custom_fields++];
		f->id = fid;
		f->name = xdup_or(jget(e, "name"), "");
		f->type = xdup_or(jget(e, "type"), "");
		const json_t *val = jget(e, "value");
		/* "value" is absent when unset; a null means the same. */
		f->value = val && !json_is_null(val) ? json_incref((json_t *)val) : NULL;
	}

	v = jget(j, "attachments");
	n = json_is_array(v) ? json_array_size(v) : 0;
	t->attachments = n ? acs_xcalloc(n, sizeof(*t->attachments)) : NULL;
	json_array_foreach(v, i, e)
	{
		char ignored[ACS_ERR_LEN];
		struct acs_clickup_attachment *a = &t->attachments[t->n_attachments];
		if (parse_attachment(e, a, ignored) == 0)
			t->n_attachments++;
		else
			clear_attachment(a);
	}
	return 0;
}

char *acs_clickup_comment_blocks_text(const json_t *blocks)
{
	struct acs_buf b;
	size_t i;
	const json_t *blk;

	acs_buf_init(&b, SIZE_MAX / 2);
	json_array_foreach(blocks, i, blk)
	{
		const json_t *text = jget(blk, "text");
		const char *type = json_string_value(jget(blk, "type"));
		if (type && !strcmp(type, "tag")) {
			/* A mention: {"type":"tag","user":{"id":..,"username":..}}. */
			const json_t *u = jget(blk, "user");
			const char *name = json_string_value(jget(u, "username"));
			if (name)
				(void)acs_buf_printf(&b, "@%s", name);
			else
				(void)acs_buf_printf(&b, "@%" PRId64, int_of(jget(u, "id"), 0));
		} else if (json_is_string(text)) {
			(void)acs_buf_append(&b, json_string_value(text), json_string_length(text));
		}
	}
	return acs_buf_steal(&b, NULL);
}

/* ClickUp ends every comment with a "\n" block; it is not part of the text. */
static void strip_trailing_newlines(char *s)
{
	size_t n = strlen(s);
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
}

static void clear_comment(struct acs_clickup_comment *c)
{
	free(c->id);
	free(c->text);
	clear_user(&c->user);
	free(c->hist_id);
	memset(c, 0, sizeof(*c));
}

static int parse_comment(const json_t *j, struct acs_clickup_comment *c, char *err)
{
	const json_t *blocks = jget(j, "comment");

	if (!(c->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "comment: not an object with an id");
		return ACS_EPARSE;
	}
	if (json_is_array(blocks) && json_array_size(blocks))
		c->text = acs_clickup_comment_blocks_text(blocks);
	else
		c->text = xdup_or(jget(j, "comment_text"), "");
	strip_trailing_newlines(c->text);
	parse_user(jget(j, "user"), &c->user);
	c->date = acs_clickup_parse_ms(jget(j, "date"));
	c->resolved = bool_of(jget(j, "resolved"));
	c->hist_id = id_dup(jget(j, "hist_id"));
	return 0;
}

static void clear_webhook(struct acs_clickup_webhook *w)
{
	free(w->id);
	free(w->endpoint);
	free_strings(w->events, w->n_events);
	free(w->status);
	free(w->secret);
	free(w->team_id);
	free(w->space_id);
	free(w->folder_id);
	free(w->list_id);
	free(w->task_id);
	memset(w, 0, sizeof(*w));
}

static int parse_webhook(const json_t *j, struct acs_clickup_webhook *w, char *err)
{
	const json_t *ev = jget(j, "events"), *health = jget(j, "health"), *e;
	size_t i;

	if (!(w->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "webhook: not an object with an id");
		return ACS_EPARSE;
	}
	w->endpoint = xdup_or(jget(j, "endpoint"), "");
	if (json_is_string(ev)) { /* PUT accepts "*" as a plain string */
		w->events = acs_xcalloc(1, sizeof(*w->events));
		w->events[w->n_events++] = xdup_or(ev, "");
	} else if (json_is_array(ev) && json_array_size(ev)) {
		w->events = acs_xcalloc(json_array_size(ev), sizeof(*w->events));
		json_array_foreach(ev, i, e)
		{
			if (json_is_string(e))
				w->events[w->n_events++] = xdup_or(e, "");
		}
	}
	/* health.status per the SPEC; a bare "status" is the older shape. */
	w->status = json_is_string(jget(health, "status")) ? xdup_or(jget(health, "status"), "")
							   : xdup_or(jget(j, "status"), "");
	w->fail_count = int_of(jget(health, "fail_count"), 0);
	w->secret = xdup_or(jget(j, "secret"), NULL);
	w->team_id = id_dup_or(jget(j, "team_id"), "");
	w->space_id = id_dup(jget(j, "space_id"));
	w->folder_id = id_dup(jget(j, "folder_id"));
	w->list_id = id_dup(jget(j, "list_id"));
	w->task_id = id_dup(jget(j, "task_id"));
	w->userid = int_of(jget(j, "userid"), 0);
	return 0;
}

static void clear_list(struct acs_clickup_list *l)
{
	free(l->id);
	free(l->name);
	free(l->folder_id);
	free(l->space_id);
	free_statuses(l->statuses, l->n_statuses);
	memset(l, 0, sizeof(*l));
}

static int parse_list(const json_t *j, struct acs_clickup_list *l, char *err)
{
	if (!(l->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "list: not an object with an id");
		return ACS_EPARSE;
	}
	l->name = xdup_or(jget(j, "name"), "");
	l->folder_id = id_dup_or(jget(jget(j, "folder"), "id"), "");
	l->space_id = id_dup_or(jget(jget(j, "space"), "id"), "");
	parse_statuses(jget(j, "statuses"), &l->statuses, &l->n_statuses);
	return 0;
}

static void clear_space(struct acs_clickup_space *s)
{
	free(s->id);
	free(s->name);
	free_statuses(s->statuses, s->n_statuses);
}

static int parse_space(const json_t *j, struct acs_clickup_space *s, char *err)
{
	if (!(s->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "space: not an object with an id");
		return ACS_EPARSE;
	}
	s->name = xdup_or(jget(j, "name"), "");
	parse_statuses(jget(j, "statuses"), &s->statuses, &s->n_statuses);
	return 0;
}

static void clear_folder(struct acs_clickup_folder *f)
{
	free(f->id);
	free(f->name);
	free(f->space_id);
}

static int parse_folder(const json_t *j, struct acs_clickup_folder *f, char *err)
{
	if (!(f->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "folder: not an object with an id");
		return ACS_EPARSE;
	}
	f->name = xdup_or(jget(j, "name"), "");
	f->space_id = id_dup_or(jget(jget(j, "space"), "id"), "");
	return 0;
}

static void clear_team(struct acs_clickup_team *t)
{
	free(t->id);
	free(t->name);
	for (size_t i = 0; i < t->n_members; i++)
		clear_user(&t->members[i]);
	free(t->members);
}

static int parse_team(const json_t *j, struct acs_clickup_team *t, char *err)
{
	const json_t *m = jget(j, "members"), *e;
	size_t i;

	if (!(t->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "team: not an object with an id");
		return ACS_EPARSE;
	}
	t->name = xdup_or(jget(j, "name"), "");
	if (json_is_array(m) && json_array_size(m))
		t->members = acs_xcalloc(json_array_size(m), sizeof(*t->members));
	json_array_foreach(m, i, e)
	{
		/* Team members are wrapped: {"user": {...}}. */
		const json_t *u = jget(e, "user") ? jget(e, "user") : e;
		parse_user(u, &t->members[t->n_members++]);
	}
	return 0;
}

static int parse_member(const json_t *j, struct acs_clickup_user *u, char *err)
{
	if (!json_is_object(j)) {
		snprintf(err, ACS_ERR_LEN, "member: not an object");
		return ACS_EPARSE;
	}
	parse_user(j, u);
	return 0;
}

/* Parse the array under key of root into a fresh array of n elements of size
 * sz, each with parse (cleared with clear on failure). */
typedef int (*parse_fn)(const json_t *j, void *out, char *err);
typedef void (*clear_fn)(void *p);

static int parse_array(const json_t *root, const char *key, size_t sz, parse_fn parse,
		       clear_fn clear, void **out, size_t *n, char *err)
{
	const json_t *a = jget(root, key);
	size_t i, len;

	*out = NULL;
	*n = 0;
	if (!json_is_array(a)) {
		snprintf(err, ACS_ERR_LEN, "expected an array \"%s\"", key);
		return ACS_EPARSE;
	}
	len = json_array_size(a);
	if (!len)
		return 0;
	char *v = acs_xcalloc(len, sz);
	for (i = 0; i < len; i++) {
		if (parse(json_array_get(a, i), v + i * sz, err)) {
			for (size_t k = 0; k <= i; k++)
				clear(v + k * sz);
			free(v);
			return ACS_EPARSE;
		}
	}
	*out = v;
	*n = len;
	return 0;
}

/* Adapters with the generic signatures (no function pointer casts). */
#define ADAPT(name, type)                                          \
	static int p_##name(const json_t *j, void *out, char *err) \
	{                                                          \
		return parse_##name(j, (type *)out, err);          \
	}                                                          \
	static void c_##name(void *p)                              \
	{                                                          \
		clear_##name((type *)p);                           \
	}
ADAPT(task, struct acs_clickup_task)
ADAPT(comment, struct acs_clickup_comment)
ADAPT(webhook, struct acs_clickup_webhook)
ADAPT(list, struct acs_clickup_list)
ADAPT(space, struct acs_clickup_space)
ADAPT(folder, struct acs_clickup_folder)
ADAPT(team, struct acs_clickup_team)
#undef ADAPT

static int p_member(const json_t *j, void *out, char *err)
{
	return parse_member(j, (struct acs_clickup_user *)out, err);
}

static void c_member(void *p)
{
	clear_user((struct acs_clickup_user *)p);
}

static void clear_field_def(struct acs_clickup_field_def *f)
{
	free(f->id);
	free(f->name);
	free(f->type);
}

static int p_field_def(const json_t *j, void *out, char *err)
{
	struct acs_clickup_field_def *f = out;
	if (!(f->id = id_dup(jget(j, "id")))) {
		snprintf(err, ACS_ERR_LEN, "field: not an object with an id");
		return ACS_EPARSE;
	}
	f->name = xdup_or(jget(j, "name"), "");
	f->type = xdup_or(jget(j, "type"), "");
	return 0;
}

static void c_field_def(void *p)
{
	clear_field_def(p);
}

/* ------------------------------------------------------------------------ */
/* Public parsers and _free functions                                        */
/* ------------------------------------------------------------------------ */

struct acs_clickup_task *acs_clickup_task_parse(const json_t *j, char err[ACS_ERR_LEN])
{
	struct acs_clickup_task *t = acs_xcalloc(1, sizeof(*t));
	if (parse_task(j, t, err)) {
		acs_clickup_task_free(t);
		return NULL;
	}
	return t;
}

struct acs_clickup_comment *acs_clickup_comment_parse(const json_t *j, char err[ACS_ERR_LEN])
{
	struct acs_clickup_comment *c = acs_xcalloc(1, sizeof(*c));
	if (parse_comment(j, c, err)) {
		acs_clickup_comment_free(c);
		return NULL;
	}
	return c;
}

struct acs_clickup_webhook *acs_clickup_webhook_parse(const json_t *j, char err[ACS_ERR_LEN])
{
	struct acs_clickup_webhook *w = acs_xcalloc(1, sizeof(*w));
	if (parse_webhook(j, w, err)) {
		acs_clickup_webhook_free(w);
		return NULL;
	}
	return w;
}

void acs_clickup_task_free(struct acs_clickup_task *t)
{
	if (!t)
		return;
	clear_task(t);
	free(t);
}

void acs_clickup_task_page_free(struct acs_clickup_task_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		clear_task(&p->tasks[i]);
	free(p->tasks);
	free(p);
}

void acs_clickup_comment_free(struct acs_clickup_comment *c)
{
	if (!c)
		return;
	clear_comment(c);
	free(c);
}

void acs_clickup_comment_page_free(struct acs_clickup_comment_page *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		clear_comment(&p->comments[i]);
	free(p->comments);
	free(p);
}

void acs_clickup_attachment_free(struct acs_clickup_attachment *a)
{
	if (!a)
		return;
	clear_attachment(a);
	free(a);
}

void acs_clickup_webhook_free(struct acs_clickup_webhook *w)
{
	if (!w)
		return;
	clear_webhook(w);
	free(w);
}

void acs_clickup_webhooks_free(struct acs_clickup_webhooks *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n; i++)
		clear_webhook(&w->v[i]);
	free(w->v);
	free(w);
}

void acs_clickup_list_free(struct acs_clickup_list *l)
{
	if (!l)
		return;
	clear_list(l);
	free(l);
}

void acs_clickup_lists_free(struct acs_clickup_lists *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		clear_list(&l->v[i]);
	free(l->v);
	free(l);
}

void acs_clickup_spaces_free(struct acs_clickup_spaces *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		clear_space(&s->v[i]);
	free(s->v);
	free(s);
}

void acs_clickup_folders_free(struct acs_clickup_folders *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		clear_folder(&f->v[i]);
	free(f->v);
	free(f);
}

void acs_clickup_teams_free(struct acs_clickup_teams *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		clear_team(&t->v[i]);
	free(t->v);
	free(t);
}

void acs_clickup_field_defs_free(struct acs_clickup_field_defs *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		clear_field_def(&f->v[i]);
	free(f->v);
	free(f);
}

void acs_clickup_members_free(struct acs_clickup_members *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		clear_user(&m->v[i]);
	free(m->v);
	free(m);
}

void acs_clickup_blob_free(struct acs_clickup_blob *b)
{
	if (!b)
		return;
	free(b->data);
	free(b->content_type);
	free(b);
}

/* ------------------------------------------------------------------------ */
/* Completion: classify, parse, dispatch                                     */
/* ------------------------------------------------------------------------ */

/* ClickUp's error body is {"err": "...", "ECODE": "..."}; a few endpoints
 * document "error" instead (clickup.md §2). */
static void clickup_error_text(const json_t *body, const char *raw, long status, char *out,
			       size_t outlen)
{
	static const char *const keys[] = { "err", "error", "message" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(keys); i++) {
		const char *s = json_string_value(jget(body, keys[i]));
		if (s && *s) {
			snprintf(out, outlen, "%s", s);
			return;
		}
	}
	if (raw && *raw && !body) {
		/* Not JSON (a proxy's page): its first line, bounded. */
		size_t n = strcspn(raw, "\r\n");
		snprintf(out, outlen, "%.*s", (int)ACS_MIN(n, (size_t)200), raw);
		return;
	}
	snprintf(out, outlen, "HTTP %ld", status);
}

/* Parse the answer of a successful call. Returns the payload (NULL for
 * K_DONE) or sets *perr. */
static void *parse_payload(struct call *call, const struct acs_rest_result *res, int *perr,
			   char *err)
{
	const json_t *j = res->json;
	void *v = NULL;
	int rc = 0;

	*perr = 0;
	if (call->kind == K_DONE)
		return NULL;
	if (call->kind == K_BLOB) {
		struct acs_clickup_blob *b = acs_xcalloc(1, sizeof(*b));
		const char *ct = res->response ? acs_http_response_header(res->response, "Content-"
											 "Type")
					       : NULL;
		b->data = acs_xmalloc(res->body_len + 1);
		if (res->body_len)
			memcpy(b->data, res->body, res->body_len);
		b->data[res->body_len] = '\0';
		b->len = res->body_len;
		b->content_type = acs_xstrdup(ct ? ct : "");
		return b;
	}
	if (!json_is_object(j)) {
		snprintf(err, ACS_ERR_LEN, "expected a JSON object in the answer");
		*perr = ACS_EPARSE;
		return NULL;
	}
	switch (call->kind) {
	case K_TASK:
	case K_TASK_JSON: {
		struct acs_clickup_task *t = acs_clickup_task_parse(j, err);
		rc = t ? 0 : ACS_EPARSE;
		v = t;
		break;
	}
	case K_TASK_PAGE: {
		struct acs_clickup_task_page *p = acs_xcalloc(1, sizeof(*p));
		rc = parse_array(j, "tasks", sizeof(*p->tasks), p_task, c_task, &v, &p->n, err);
		p->tasks = v;
		const json_t *lp = json_object_get(j, "last_page");
		/* Without last_page, a short page is the last one. */
		p->last_page = lp ? bool_of(lp) : p->n < CU_PAGE_TASKS;
		v = p;
		if (rc) {
			free(p);
			v = NULL;
		}
		break;
	}
	case K_COMMENT_NEW: {
		/* {"id", "hist_id", "date"}: id may be a number (clickup.md §5). */
		struct acs_clickup_comment *c = acs_xcalloc(1, sizeof(*c));
		c->id = id_dup(json_object_get(j, "id"));
		if (!c->id) {
			free(c);
			snprintf(err, ACS_ERR_LEN, "comment answer without an id");
			rc = ACS_EPARSE;
			break;
		}
		c->text = acs_xstrdup(call->text ? call->text : "");
		strip_trailing_newlines(c->text);
		c->user.username = acs_xstrdup("");
		c->user.email = acs_xstrdup("");
		c->hist_id = id_dup(json_object_get(j, "hist_id"));
		c->date = acs_clickup_parse_ms(json_object_get(j, "date"));
		v = c;
		break;
	}
	case K_COMMENT_PAGE: {
		struct acs_clickup_comment_page *p = acs_xcalloc(1, sizeof(*p));
		rc = parse_array(j, "comments", sizeof(*p->comments), p_comment, c_comment, &v,
				 &p->n, err);
		p->comments = v;
		v = p;
		if (rc) {
			free(p);
			v = NULL;
		}
		break;
	}
	case K_ATTACHMENT: {
		struct acs_clickup_attachment *a = acs_xcalloc(1, sizeof(*a));
		rc = parse_attachment(j, a, err);
		if (rc) {
			acs_clickup_attachment_free(a);
			a = NULL;
		}
		v = a;
		break;
	}
	case K_WEBHOOK: {
		/* {"id", "webhook": {...}}; tolerate the bare object too. */
		const json_t *w = json_object_get(j, "webhook");
		struct acs_clickup_webhook *wh = acs_clickup_webhook_parse(w ? w : j, err);
		rc = wh ? 0 : ACS_EPARSE;
		v = wh;
		break;
	}
	case K_LIST: {
		struct acs_clickup_list *l = acs_xcalloc(1, sizeof(*l));
		rc = parse_list(j, l, err);
		if (rc) {
			acs_clickup_list_free(l);
			l = NULL;
		}
		v = l;
		break;
	}
#define ARRAY_CASE(K, type, key, p_fn, c_fn)                                         \
	case K: {                                                                    \
		type *o = acs_xcalloc(1, sizeof(*o));                                \
		rc = parse_array(j, key, sizeof(*o->v), p_fn, c_fn, &v, &o->n, err); \
		o->v = v;                                                            \
		v = o;                                                               \
		if (rc) {                                                            \
			free(o);                                                     \
			v = NULL;                                                    \
		}                                                                    \
		break;                                                               \
	}
		ARRAY_CASE(K_WEBHOOKS, struct acs_clickup_webhooks, "webhooks", p_webhook,
			   c_webhook)
		ARRAY_CASE(K_LISTS, struct acs_clickup_lists, "lists", p_list, c_list)
		ARRAY_CASE(K_SPACES, struct acs_clickup_spaces, "spaces", p_space, c_space)
		ARRAY_CASE(K_FOLDERS, struct acs_clickup_folders, "folders", p_folder, c_folder)
		ARRAY_CASE(K_TEAMS, struct acs_clickup_teams, "teams", p_team, c_team)
		ARRAY_CASE(K_MEMBERS, struct acs_clickup_members, "members", p_member, c_member)
		ARRAY_CASE(K_FIELDS, struct acs_clickup_field_defs, "fields", p_field_def,
			   c_field_def)
#undef ARRAY_CASE
	case K_FIELDS_JSON:
		/* Borrowed from the answer, which outlives the callback. */
		v = json_object_get(j, "fields");
		if (!json_is_array((json_t *)v)) {
			snprintf(err, ACS_ERR_LEN, "no \"fields\" array in the answer");
			rc = ACS_EPARSE;
			v = NULL;
		}
		break;
	case K_DONE:
	case K_BLOB:
		break;
	}
	*perr = rc;
	return rc ? NULL : v;
}

static void dispatch(struct call *call, const struct acs_clickup_result *r, void *p,
		     const json_t *json)
{
	void *arg = call->arg;

	switch (call->kind) {
	case K_DONE:
		((acs_clickup_done_cb)call->cb)(r, arg);
		break;
	case K_TASK:
		((acs_clickup_task_cb)call->cb)(r, p, arg);
		break;
	case K_TASK_PAGE:
		((acs_clickup_task_page_cb)call->cb)(r, p, arg);
		break;
	case K_COMMENT_NEW:
		((acs_clickup_comment_cb)call->cb)(r, p, arg);
		break;
	case K_COMMENT_PAGE:
		((acs_clickup_comment_page_cb)call->cb)(r, p, arg);
		break;
	case K_ATTACHMENT:
		((acs_clickup_attachment_cb)call->cb)(r, p, arg);
		break;
	case K_BLOB:
		((acs_clickup_blob_cb)call->cb)(r, p, arg);
		break;
	case K_WEBHOOK:
		((acs_clickup_webhook_cb)call->cb)(r, p, arg);
		break;
	case K_WEBHOOKS:
		((acs_clickup_webhooks_cb)call->cb)(r, p, arg);
		break;
	case K_LIST:
		((acs_clickup_list_cb)call->cb)(r, p, arg);
		break;
	case K_LISTS:
		((acs_clickup_lists_cb)call->cb)(r, p, arg);
		break;
	case K_SPACES:
		((acs_clickup_spaces_cb)call->cb)(r, p, arg);
		break;
	case K_FOLDERS:
		((acs_clickup_folders_cb)call->cb)(r, p, arg);
		break;
	case K_TEAMS:
		((acs_clickup_teams_cb)call->cb)(r, p, arg);
		break;
	case K_MEMBERS:
		((acs_clickup_members_cb)call->cb)(r, p, arg);
		break;
	case K_TASK_JSON:
		((acs_clickup_task_json_cb)call->cb)(r, p, p ? json : NULL, arg);
		break;
	case K_FIELDS:
		((acs_clickup_field_defs_cb)call->cb)(r, p, arg);
		break;
	case K_FIELDS_JSON:
		((acs_clickup_field_defs_json_cb)call->cb)(r, p, arg);
		break;
	}
}

static void call_free(struct call *call)
{
	free(call->text);
	free(call);
}

static void rest_done(const struct acs_rest_result *res, void *arg)
{
	struct call *call = arg;
	struct acs_clickup_result r = {
		.cls = res->cls,
		.error = res->error,
		.status = res->status,
		.message = res->message ? res->message : "",
		.ecode = "",
		.attempts = res->attempts,
	};
	char ecode[64] = "";
	char perr[ACS_ERR_LEN] = "";
	void *payload = NULL;

	if (res->cls != ACS_REST_OK && res->status) {
		/* ECODE from the error body (parsed here when rest did not). */
		json_t *own = NULL;
		const json_t *body = res->json;
		if (!body && res->body && res->body_len && res->body[0] == '{')
			body = own = acs_json_loadb(res->body, res->body_len, 0, NULL);
		const char *code = json_string_value(jget(body, "ECODE"));
		if (code)
			snprintf(ecode, sizeof(ecode), "%s", code);
		json_decref(own);
		r.ecode = ecode;
		/* Fixtures of real clients show "Task not found" with 401 too:
		 * the code says what happened, whatever the status. */
		if (!strcmp(ecode, "ITEM_013"))
			r.error = ACS_ENOTFOUND;
	}
	if (res->cls == ACS_REST_OK) {
		int rc;
		payload = parse_payload(call, res, &rc, perr);
		if (rc) {
			/* A 2xx we cannot read will not read better next time. */
			r.cls = ACS_REST_PERMANENT;
			r.error = rc;
			r.message = perr;
		}
	}
	dispatch(call, &r, payload, res->json);
	call_free(call);
}

/* ------------------------------------------------------------------------ */
/* Client                                                                    */
/* ------------------------------------------------------------------------ */

static bool has_crlf(const char *s)
{
	return s && strpbrk(s, "\r\n") != NULL;
}

/* Length of "scheme://authority" in an http(s) URL; 0 when it is not one or
 * carries userinfo (never sent anywhere with the token). */
static size_t origin_len(const char *url)
{
	size_t skip;
	if (!strncmp(url, "https://", 8))
		skip = 8;
	else if (!strncmp(url, "http://", 7))
		skip = 7;
	else
		return 0;
	size_t n = strcspn(url + skip, "/?#");
	if (!n || memchr(url + skip, '@', n))
		return 0;
	return skip + n;
}

static bool host_ends_with(const char *host, size_t len, const char *suffix)
{
	size_t sl = strlen(suffix);
	return len > sl && !strncasecmp(host + len - sl, suffix, sl);
}

/* The rest pipeline sends the Authorization header with every request, so a
 * download URL taken from a payload must not point anywhere: only the API's
 * own origin and ClickUp's https attachment hosts. */
static bool download_allowed(const struct acs_clickup_client *c, const char *url)
{
	size_t n = origin_len(url);
	if (!n)
		return false;
	if (n == strlen(c->origin) && !strncasecmp(url, c->origin, n))
		return true;
	if (strncmp(url, "https://", 8) != 0)
		return false;
	const char *host = url + 8;
	size_t hl = n - 8;
	const char *colon = memchr(host, ':', hl);
	if (colon)
		hl = (size_t)(colon - host);
	return host_ends_with(host, hl, ".clickup.com") ||
	       host_ends_with(host, hl, ".clickup-attachments.com");
}

struct acs_clickup_client *acs_clickup_client_new(uv_loop_t *loop, struct acs_curl_loop *cl,
						  const struct acs_clickup_client_opts *opts,
						  char err[ACS_ERR_LEN])
{
	if (!loop || !cl || !opts) {
		snprintf(err, ACS_ERR_LEN, "clickup: loop, curl_loop and options are required");
		return NULL;
	}
	if (!opts->base_url || !*opts->base_url) {
		snprintf(err, ACS_ERR_LEN, "clickup: base_url is required");
		return NULL;
	}
	if (!opts->token || !*opts->token || has_crlf(opts->token)) {
		snprintf(err, ACS_ERR_LEN, "clickup: token is missing or malformed");
		return NULL;
	}
	/* The multipart boundary comes from libsodium's CSPRNG. */
	if (sodium_init() < 0) {
		snprintf(err, ACS_ERR_LEN, "clickup: libsodium initialisation failed");
		return NULL;
	}

	char *base = acs_xstrdup(opts->base_url);
	size_t bl = strlen(base);
	while (bl && base[bl - 1] == '/')
		base[--bl] = '\0';
	char *auth = acs_xasprintf("Authorization: %s", opts->token);
	struct acs_rest_opts ro = {
		.name = "clickup",
		.base_url = base,
		.auth_header = auth,
		.preset = ACS_GOVERNOR_CLICKUP,
		.governor = opts->governor,
		.timeout_ms = opts->timeout_ms,
		.max_attempts = opts->max_attempts,
		.max_wait_ms = opts->max_wait_ms,
		.error_text = clickup_error_text,
	};
	size_t on = origin_len(base);
	if (!on) {
		snprintf(err, ACS_ERR_LEN, "clickup: base_url must be an http(s) URL");
		free(auth);
		free(base);
		return NULL;
	}
	struct acs_clickup_client *c = acs_xcalloc(1, sizeof(*c));
	c->origin = acs_xstrndup(base, on);
	c->rest = acs_rest_new(loop, cl, &ro, err);
	sodium_memzero(auth, strlen(auth));
	free(auth);
	free(base);
	if (!c->rest) {
		free(c->origin);
		free(c);
		return NULL;
	}
	return c;
}

static void rest_closed(void *arg)
{
	struct acs_clickup_client *c = arg;
	acs_clickup_closed_cb cb = c->close_cb;
	void *cb_arg = c->close_arg;

	free(c->origin);
	free(c);
	if (cb)
		cb(cb_arg);
}

void acs_clickup_client_close(struct acs_clickup_client *c, acs_clickup_closed_cb cb, void *arg)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	c->close_cb = cb;
	c->close_arg = arg;
	acs_rest_close(c->rest, rest_closed, c);
}

size_t acs_clickup_client_pending(const struct acs_clickup_client *c)
{
	return c->closing ? 0 : acs_rest_pending(c->rest);
}

int64_t acs_clickup_client_budget_left(const struct acs_clickup_client *c)
{
	return acs_rest_budget_left(c->rest);
}

void acs_clickup_client_stats(const struct acs_clickup_client *c, struct acs_governor_stats *out)
{
	acs_rest_stats(c->rest, out);
}

/* ------------------------------------------------------------------------ */
/* Request plumbing                                                          */
/* ------------------------------------------------------------------------ */

/* What one call sends. path and body are owned and freed by submit. */
struct req {
	const char *method;
	char *path;
	json_t *json; /**< JSON body, or NULL */
	char *raw;    /**< raw body (multipart), or NULL */
	size_t raw_len;
	const char *content_type;
	bool raw_answer;
	size_t max_response_bytes;
};

static struct call *call_new(enum kind kind, void (*cb)(void), void *arg)
{
	struct call *call = acs_xcalloc(1, sizeof(*call));
	call->kind = kind;
	call->cb = cb;
	call->arg = arg;
	return call;
}

static int submit(struct acs_clickup_client *c, enum acs_governor_class cls, struct req *rq,
		  struct call *call)
{
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (c->closing) {
		rc = ACS_ECLOSED;
		goto out;
	}
	if (rq->json) {
		body = acs_json_dumps(rq->json, JSON_COMPACT);
		acs_require(body != NULL);
		len = strlen(body);
	} else if (rq->raw) {
		body = rq->raw;
		len = rq->raw_len;
		rq->raw = NULL;
	}
	struct acs_rest_call rc_call = {
		.method = rq->method,
		.path = rq->path,
		.content_type = rq->content_type,
		.body = body,
		.body_len = len,
		.cls = cls,
		.max_response_bytes = rq->max_response_bytes,
		.raw = rq->raw_answer,
	};
	rc = acs_rest_request(c->rest, &rc_call, rest_done, call);
out:
	if (rc)
		call_free(call);
	free(body);
	free(rq->raw);
	free(rq->path);
	json_decref(rq->json);
	return rc;
}

static bool bad_id(const char *s)
{
	return !s || !*s;
}

/* "<prefix><escaped id><suffix>" as a new heap string. */
static char *path1(const char *prefix, const char *id, const char *suffix)
{
	char *e = acs_rest_escape(id);
	char *p = acs_xasprintf("%s%s%s", prefix, e, suffix ? suffix : "");
	free(e);
	return p;
}

static char *path2(const char *prefix, const char *id, const char *mid, const char *id2)
{
	char *e = acs_rest_escape(id), *e2 = acs_rest_escape(id2);
	char *p = acs_xasprintf("%s%s%s%s", prefix, e, mid, e2);
	free(e);
	free(e2);
	return p;
}

static json_t *int_array(const int64_t *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_integer((json_int_t)v[i]));
	return a;
}

#define CB(f) ((void (*)(void))(f))

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */
/* ------------------------------------------------------------------------ */

int acs_clickup_get_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			 const char *task_id, acs_clickup_task_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/task/", task_id, "?include_markdown_description=true") };
	return submit(c, cls, &rq, call_new(K_TASK, CB(cb), arg));
}

int acs_clickup_create_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *list_id, const struct acs_clickup_task_new *t,
			    acs_clickup_task_cb cb, void *arg)
{
	if (!c || bad_id(list_id) || !t || !t->name || !*t->name || !cb || t->priority < 0 ||
	    t->priority > 4 || t->due_date < 0 || (t->n_assignees && !t->assignees) ||
	    (t->n_tags && !t->tags) || (t->n_custom_fields && !t->custom_fields))
		return -EINVAL;
	/* json_pack and json_string fail (NULL) on invalid UTF-8: -EINVAL. */
	json_t *b = json_pack("{s:s,s:b}", "name", t->name, "notify_all", t->notify_all);
	int bad = !b;
	if (b && t->markdown)
		bad |= json_object_set_new(b, "markdown_content", json_string(t->markdown));
	if (b && t->status)
		bad |= json_object_set_new(b, "status", json_string(t->status));
	if (b && t->priority)
		bad |= json_object_set_new(b, "priority", json_integer(t->priority));
	if (b && t->n_assignees)
		bad |= json_object_set_new(b, "assignees", int_array(t->assignees, t->n_assignees));
	if (b && t->n_tags) {
		json_t *tags = json_array();
		for (size_t i = 0; i < t->n_tags; i++)
			bad |= json_array_append_new(tags,
						     json_string(t->tags[i] ? t->tags[i] : ""));
		bad |= json_object_set_new(b, "tags", tags);
	}
	if (b && t->due_date) {
		bad |= json_object_set_new(b, "due_date", json_integer((json_int_t)t->due_date));
		bad |= json_object_set_new(b, "due_date_time", json_boolean(t->due_date_time));
	}
	if (b && t->n_custom_fields) {
		json_t *cfs = json_array();
		for (size_t i = 0; i < t->n_custom_fields; i++) {
			const struct acs_clickup_field_value *f = &t->custom_fields[i];
			if (bad_id(f->id) || !f->value) {
				bad = 1;
				break;
			}
			bad |= json_array_append_new(cfs, json_pack("{s:s,s:O}", "id", f->id,
								    "value", (json_t *)f->value));
		}
		bad |= json_object_set_new(b, "custom_fields", cfs);
	}
	if (b && t->parent)
		bad |= json_object_set_new(b, "parent", json_string(t->parent));
	if (bad) {
		json_decref(b);
		return -EINVAL;
	}
	struct req rq = { .method = "POST", .path = path1("/list/", list_id, "/task"), .json = b };
	return submit(c, cls, &rq, call_new(K_TASK, CB(cb), arg));
}

int acs_clickup_update_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *task_id, const struct acs_clickup_task_changes *ch,
			    acs_clickup_task_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !ch || !cb ||
	    (ch->set_priority && (ch->priority < 0 || ch->priority > 4)) ||
	    (ch->set_due_date && ch->due_date < 0) || (ch->n_assignees_add && !ch->assignees_add) ||
	    (ch->n_assignees_rem && !ch->assignees_rem))
		return -EINVAL;
	json_t *b = json_object();
	int bad = 0;
	if (ch->name)
		bad |= json_object_set_new(b, "name", json_string(ch->name));
	if (ch->markdown && *ch->markdown)
		bad |= json_object_set_new(b, "markdown_content", json_string(ch->markdown));
	else if (ch->markdown)
		/* clickup.md §4: description " " is the documented way to clear. */
		json_object_set_new(b, "description", json_string(" "));
	if (ch->status)
		bad |= json_object_set_new(b, "status", json_string(ch->status));
	if (ch->set_priority)
		json_object_set_new(b, "priority",
				    ch->priority ? json_integer(ch->priority) : json_null());
	if (ch->set_due_date) {
		json_object_set_new(b, "due_date",
				    ch->due_date ? json_integer((json_int_t)ch->due_date)
						 : json_null());
		json_object_set_new(b, "due_date_time",
				    json_boolean(ch->due_date && ch->due_date_time));
	}
	if (ch->n_assignees_add || ch->n_assignees_rem)
		/* An object on update, unlike the array on create (§8 trap 4). */
		json_object_set_new(b, "assignees",
				    json_pack("{s:o,s:o}", "add",
					      int_array(ch->assignees_add, ch->n_assignees_add),
					      "rem",
					      int_array(ch->assignees_rem, ch->n_assignees_rem)));
	if (bad || json_object_size(b) == 0) {
		json_decref(b);
		return -EINVAL;
	}
	struct req rq = { .method = "PUT", .path = path1("/task/", task_id, NULL), .json = b };
	return submit(c, cls, &rq, call_new(K_TASK, CB(cb), arg));
}

int acs_clickup_get_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
			      const char *task_id, acs_clickup_task_json_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/task/", task_id, "?include_markdown_description=true") };
	return submit(c, cls, &rq, call_new(K_TASK_JSON, CB(cb), arg));
}

int acs_clickup_create_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *list_id, const json_t *body,
				 acs_clickup_task_json_cb cb, void *arg)
{
	if (!c || bad_id(list_id) || !json_is_object(body) || !cb ||
	    !json_string_length(json_object_get(body, "name")))
		return -EINVAL;
	struct req rq = { .method = "POST",
			  .path = path1("/list/", list_id, "/task"),
			  .json = json_deep_copy(body) };
	return submit(c, cls, &rq, call_new(K_TASK_JSON, CB(cb), arg));
}

int acs_clickup_update_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *task_id, const json_t *body,
				 acs_clickup_task_json_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !json_is_object(body) || !json_object_size(body) || !cb)
		return -EINVAL;
	struct req rq = { .method = "PUT",
			  .path = path1("/task/", task_id, NULL),
			  .json = json_deep_copy(body) };
	return submit(c, cls, &rq, call_new(K_TASK_JSON, CB(cb), arg));
}

int acs_clickup_delete_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *task_id, acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "DELETE", .path = path1("/task/", task_id, NULL) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

int acs_clickup_list_tasks(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const struct acs_clickup_task_query *q, acs_clickup_task_page_cb cb,
			   void *arg)
{
	if (!c || !q || bad_id(q->list_id) || !cb || q->date_updated_gt < 0)
		return -EINVAL;
	struct acs_buf b;
	char *lid = acs_rest_escape(q->list_id);
	acs_buf_init(&b, 4096);
	int rc = acs_buf_printf(&b, "/list/%s/task?page=%u&include_markdown_description=true", lid,
				q->page);
	free(lid);
	if (!rc && q->date_updated_gt)
		/* Incremental polling: order by update so a page boundary cannot
		 * move under a concurrent change of an older task. */
		rc = acs_buf_printf(&b, "&date_updated_gt=%" PRId64 "&order_by=updated",
				    q->date_updated_gt);
	if (!rc && q->include_closed)
		rc = acs_buf_appends(&b, "&include_closed=true");
	if (!rc && q->subtasks)
		rc = acs_buf_appends(&b, "&subtasks=true");
	if (!rc && q->reverse)
		rc = acs_buf_appends(&b, "&reverse=true");
	if (rc)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = acs_buf_steal(&b, NULL) };
	return submit(c, cls, &rq, call_new(K_TASK_PAGE, CB(cb), arg));
}

int acs_clickup_add_tag(struct acs_clickup_client *c, enum acs_governor_class cls,
			const char *task_id, const char *tag, acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(tag) || !cb)
		return -EINVAL;
	struct req rq = { .method = "POST", .path = path2("/task/", task_id, "/tag/", tag) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

int acs_clickup_remove_tag(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const char *task_id, const char *tag, acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(tag) || !cb)
		return -EINVAL;
	struct req rq = { .method = "DELETE", .path = path2("/task/", task_id, "/tag/", tag) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

int acs_clickup_set_custom_field(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *task_id, const char *field_id, const json_t *value,
				 acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(field_id) || !value || !cb)
		return -EINVAL;
	struct req rq = { .method = "POST",
			  .path = path2("/task/", task_id, "/field/", field_id),
			  .json = json_pack("{s:O}", "value", (json_t *)value) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

int acs_clickup_remove_custom_field(struct acs_clickup_client *c, enum acs_governor_class cls,
				    const char *task_id, const char *field_id,
				    acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(field_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "DELETE",
			  .path = path2("/task/", task_id, "/field/", field_id) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

/* ------------------------------------------------------------------------ */
/* Comments                                                                  */
/* ------------------------------------------------------------------------ */

int acs_clickup_list_comments(struct acs_clickup_client *c, enum acs_governor_class cls,
			      const char *task_id, int64_t start, const char *start_id,
			      acs_clickup_comment_page_cb cb, void *arg)
{
	/* The cursor is both or neither (clickup.md §5). */
	if (!c || bad_id(task_id) || !cb || start < 0 || (start > 0) != !bad_id(start_id))
		return -EINVAL;
	char *path;
	if (start) {
		char *tid = acs_rest_escape(task_id), *sid = acs_rest_escape(start_id);
		path = acs_xasprintf("/task/%s/comment?start=%" PRId64 "&start_id=%s", tid, start,
				     sid);
		free(tid);
		free(sid);
	} else {
		path = path1("/task/", task_id, "/comment");
	}
	struct req rq = { .method = "GET", .path = path };
	return submit(c, cls, &rq, call_new(K_COMMENT_PAGE, CB(cb), arg));
}

int acs_clickup_create_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *task_id, const char *text, bool notify_all,
			       acs_clickup_comment_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || !text || !cb)
		return -EINVAL;
	json_t *b = json_pack("{s:s,s:b}", "comment_text", text, "notify_all", notify_all);
	if (!b)
		return -EINVAL;
	struct call *call = call_new(K_COMMENT_NEW, CB(cb), arg);
	call->text = acs_xstrdup(text);
	struct req rq = { .method = "POST",
			  .path = path1("/task/", task_id, "/comment"),
			  .json = b };
	return submit(c, cls, &rq, call);
}

int acs_clickup_update_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *comment_id, const char *text, bool resolved,
			       acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(comment_id) || !text || !cb)
		return -EINVAL;
	json_t *b = json_pack("{s:s,s:b}", "comment_text", text, "resolved", resolved);
	if (!b)
		return -EINVAL;
	struct req rq = { .method = "PUT",
			  .path = path1("/comment/", comment_id, NULL),
			  .json = b };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

int acs_clickup_delete_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *comment_id, acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(comment_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "DELETE", .path = path1("/comment/", comment_id, NULL) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

/* ------------------------------------------------------------------------ */
/* Attachments                                                               */
/* ------------------------------------------------------------------------ */

/* Quote a file name for Content-Disposition as browsers do (HTML form
 * encoding): '"' becomes %22; CR/LF are refused by the caller. */
static char *quote_filename(const char *name)
{
	struct acs_buf b;
	acs_buf_init(&b, 4096);
	for (const char *p = name; *p; p++) {
		if (*p == '"' ? acs_buf_appends(&b, "%22") : acs_buf_append(&b, p, 1))
			return NULL;
	}
	return acs_buf_steal(&b, NULL);
}

int acs_clickup_upload_attachment(struct acs_clickup_client *c, enum acs_governor_class cls,
				  const char *task_id, const char *filename,
				  const char *content_type, const void *data, size_t len,
				  acs_clickup_attachment_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(filename) || !cb || (len && !data) ||
	    len > ACS_CLICKUP_MAX_UPLOAD || has_crlf(filename) || has_crlf(content_type))
		return -EINVAL;
	char *qname = quote_filename(filename);
	if (!qname)
		return -EINVAL;

	/* A random boundary cannot collide with the file by accident; the
	 * server finds the part end by "\r\n--boundary". */
	unsigned char rnd[16];
	char hex[2 * sizeof(rnd) + 1];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	char *boundary = acs_xasprintf("acs-%s", hex);

	struct acs_buf b;
	acs_buf_init(&b, ACS_CLICKUP_MAX_UPLOAD + 8192);
	int rc = acs_buf_printf(&b,
				"--%s\r\n"
				"Content-Disposition: form-data; name=\"attachment\"; "
				"filename=\"%s\"\r\n"
				"Content-Type: %s\r\n\r\n",
				boundary, qname,
				content_type && *content_type ? content_type
							      : "application/octet-stream");
	if (!rc && len)
		rc = acs_buf_append(&b, data, len);
	if (!rc)
		rc = acs_buf_printf(&b, "\r\n--%s--\r\n", boundary);
	free(qname);
	if (rc) {
		free(boundary);
		acs_buf_free(&b);
		return -EINVAL;
	}
	char *ctype = acs_xasprintf("multipart/form-data; boundary=%s", boundary);
	free(boundary);
	struct req rq = { .method = "POST",
			  .path = path1("/task/", task_id, "/attachment"),
			  .content_type = ctype };
	rq.raw = acs_buf_steal(&b, &rq.raw_len);
	rc = submit(c, cls, &rq, call_new(K_ATTACHMENT, CB(cb), arg));
	free(ctype);
	return rc;
}

int acs_clickup_download(struct acs_clickup_client *c, enum acs_governor_class cls, const char *url,
			 size_t max_bytes, acs_clickup_blob_cb cb, void *arg)
{
	if (!c || !url || !cb || has_crlf(url) || !download_allowed(c, url))
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = acs_xstrdup(url),
			  .raw_answer = true,
			  .max_response_bytes = max_bytes };
	return submit(c, cls, &rq, call_new(K_BLOB, CB(cb), arg));
}

/* ------------------------------------------------------------------------ */
/* Hierarchy                                                                 */
/* ------------------------------------------------------------------------ */

int acs_clickup_get_teams(struct acs_clickup_client *c, enum acs_governor_class cls,
			  acs_clickup_teams_cb cb, void *arg)
{
	if (!c || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = acs_xstrdup("/team") };
	return submit(c, cls, &rq, call_new(K_TEAMS, CB(cb), arg));
}

int acs_clickup_get_spaces(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const char *team_id, acs_clickup_spaces_cb cb, void *arg)
{
	if (!c || bad_id(team_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/team/", team_id, "/space?archived=false") };
	return submit(c, cls, &rq, call_new(K_SPACES, CB(cb), arg));
}

int acs_clickup_get_folders(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *space_id, acs_clickup_folders_cb cb, void *arg)
{
	if (!c || bad_id(space_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/space/", space_id, "/folder?archived=false") };
	return submit(c, cls, &rq, call_new(K_FOLDERS, CB(cb), arg));
}

int acs_clickup_get_lists(struct acs_clickup_client *c, enum acs_governor_class cls,
			  const char *folder_id, acs_clickup_lists_cb cb, void *arg)
{
	if (!c || bad_id(folder_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/folder/", folder_id, "/list?archived=false") };
	return submit(c, cls, &rq, call_new(K_LISTS, CB(cb), arg));
}

int acs_clickup_get_folderless_lists(struct acs_clickup_client *c, enum acs_governor_class cls,
				     const char *space_id, acs_clickup_lists_cb cb, void *arg)
{
	if (!c || bad_id(space_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET",
			  .path = path1("/space/", space_id, "/list?archived=false") };
	return submit(c, cls, &rq, call_new(K_LISTS, CB(cb), arg));
}

int acs_clickup_get_list(struct acs_clickup_client *c, enum acs_governor_class cls,
			 const char *list_id, acs_clickup_list_cb cb, void *arg)
{
	if (!c || bad_id(list_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = path1("/list/", list_id, NULL) };
	return submit(c, cls, &rq, call_new(K_LIST, CB(cb), arg));
}

int acs_clickup_get_list_members(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *list_id, acs_clickup_members_cb cb, void *arg)
{
	if (!c || bad_id(list_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = path1("/list/", list_id, "/member") };
	return submit(c, cls, &rq, call_new(K_MEMBERS, CB(cb), arg));
}

int acs_clickup_get_list_fields(struct acs_clickup_client *c, enum acs_governor_class cls,
				const char *list_id, acs_clickup_field_defs_cb cb, void *arg)
{
	if (!c || bad_id(list_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = path1("/list/", list_id, "/field") };
	return submit(c, cls, &rq, call_new(K_FIELDS, CB(cb), arg));
}

int acs_clickup_get_list_fields_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				     const char *list_id, acs_clickup_field_defs_json_cb cb,
				     void *arg)
{
	if (!c || bad_id(list_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = path1("/list/", list_id, "/field") };
	return submit(c, cls, &rq, call_new(K_FIELDS_JSON, CB(cb), arg));
}

/* ------------------------------------------------------------------------ */
/* Webhooks                                                                  */
/* ------------------------------------------------------------------------ */

/* SPEC types space/folder/list ids as integers in the create body; task ids
 * are alphanumeric strings. Keep anything that is not a plain number a string. */
static json_t *location_id(const char *s)
{
	int64_t n;
	if (parse_i64_str(s, &n) && n >= 0 && s[0] != '+' && s[0] != '-')
		return json_integer((json_int_t)n);
	return json_string(s);
}

static json_t *events_array(const char *const *events, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		if (bad_id(events[i]) || json_array_append_new(a, json_string(events[i]))) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

int acs_clickup_get_webhooks(struct acs_clickup_client *c, enum acs_governor_class cls,
			     const char *team_id, acs_clickup_webhooks_cb cb, void *arg)
{
	if (!c || bad_id(team_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "GET", .path = path1("/team/", team_id, "/webhook") };
	return submit(c, cls, &rq, call_new(K_WEBHOOKS, CB(cb), arg));
}

int acs_clickup_create_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *team_id, const struct acs_clickup_webhook_new *w,
			       acs_clickup_webhook_cb cb, void *arg)
{
	if (!c || bad_id(team_id) || !w || bad_id(w->endpoint) || !w->events || !w->n_events || !cb)
		return -EINVAL;
	const char *locs[][2] = { { "space_id", w->space_id },
				  { "folder_id", w->folder_id },
				  { "list_id", w->list_id },
				  { "task_id", w->task_id } };
	json_t *events = events_array(w->events, w->n_events);
	json_t *b = events ? json_pack("{s:s,s:o}", "endpoint", w->endpoint, "events", events)
			   : NULL;
	if (!b)
		return -EINVAL;
	size_t nloc = 0;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(locs); i++) {
		if (!locs[i][1])
			continue;
		nloc++;
		json_object_set_new(b, locs[i][0],
				    i == 3 ? json_string(locs[i][1]) : location_id(locs[i][1]));
	}
	/* The API takes one location; the most specific would silently win. */
	if (nloc > 1) {
		json_decref(b);
		return -EINVAL;
	}
	struct req rq = { .method = "POST",
			  .path = path1("/team/", team_id, "/webhook"),
			  .json = b };
	return submit(c, cls, &rq, call_new(K_WEBHOOK, CB(cb), arg));
}

int acs_clickup_update_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *webhook_id, const struct acs_clickup_webhook_changes *w,
			       acs_clickup_webhook_cb cb, void *arg)
{
	if (!c || bad_id(webhook_id) || !w || bad_id(w->endpoint) || (w->n_events && !w->events) ||
	    !cb)
		return -EINVAL;
	json_t *events = w->n_events ? events_array(w->events, w->n_events) : json_string("*");
	json_t *b = events ? json_pack("{s:s,s:o,s:s}", "endpoint", w->endpoint, "events", events,
				       "status", w->status ? w->status : "active")
			   : NULL;
	if (!b)
		return -EINVAL;
	struct req rq = { .method = "PUT",
			  .path = path1("/webhook/", webhook_id, NULL),
			  .json = b };
	return submit(c, cls, &rq, call_new(K_WEBHOOK, CB(cb), arg));
}

int acs_clickup_delete_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *webhook_id, acs_clickup_done_cb cb, void *arg)
{
	if (!c || bad_id(webhook_id) || !cb)
		return -EINVAL;
	struct req rq = { .method = "DELETE", .path = path1("/webhook/", webhook_id, NULL) };
	return submit(c, cls, &rq, call_new(K_DONE, CB(cb), arg));
}

/* ------------------------------------------------------------------------ */
/* Attachments streamed through a file                                       */
/* ------------------------------------------------------------------------ */

int acs_clickup_upload_attachment_file(struct acs_clickup_client *c, enum acs_governor_class cls,
				       const char *task_id, const char *filename,
				       const char *content_type, uv_file fd, int64_t offset,
				       uint64_t len, uint64_t timeout_ms,
				       acs_clickup_attachment_cb cb, void *arg)
{
	if (!c || bad_id(task_id) || bad_id(filename) || !cb || fd < 0 || offset < 0 ||
	    has_crlf(filename) || has_crlf(content_type))
		return -EINVAL;
	if (c->closing)
		return ACS_ECLOSED;
	char *qname = quote_filename(filename);
	if (!qname)
		return -EINVAL;
	/* The same multipart shape as acs_clickup_upload_attachment; the file part's bytes
	 * come from the file, between a head and a tail built here. */
	unsigned char rnd[16];
	char hex[2 * sizeof(rnd) + 1];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	char *head = acs_xasprintf("--acs-%s\r\n"
				   "Content-Disposition: form-data; name=\"attachment\"; "
				   "filename=\"%s\"\r\n"
				   "Content-Type: %s\r\n\r\n",
				   hex, qname,
				   content_type && *content_type ? content_type
								 : "application/octet-stream");
	char *tail = acs_xasprintf("\r\n--acs-%s--\r\n", hex);
	char *ctype = acs_xasprintf("multipart/form-data; boundary=acs-%s", hex);
	char *path = path1("/task/", task_id, "/attachment");
	free(qname);
	struct acs_rest_upload up = { .fd = fd,
				      .offset = offset,
				      .len = len,
				      .head = head,
				      .head_len = strlen(head),
				      .tail = tail,
				      .tail_len = strlen(tail) };
	struct acs_rest_call rc_call = {
		.method = "POST",
		.path = path,
		.content_type = ctype,
		.cls = cls,
		.upload = &up,
		.timeout_ms = timeout_ms,
	};
	struct call *call = call_new(K_ATTACHMENT, CB(cb), arg);
	int rc = acs_rest_request(c->rest, &rc_call, rest_done, call);
	if (rc)
		call_free(call);
	free(head);
	free(tail);
	free(ctype);
	free(path);
	return rc;
}

/* A download into a file: the payload is only the byte count. */
struct file_call {
	acs_clickup_file_cb cb;
	void *arg;
};

static void file_rest_done(const struct acs_rest_result *res, void *arg)
{
	struct file_call *f = arg;
	struct acs_clickup_result r = {
		.cls = res->cls,
		.error = res->error,
		.status = res->status,
		.message = res->message ? res->message : "",
		.ecode = "",
		.attempts = res->attempts,
	};
	const char *code = json_string_value(jget(res->json, "ECODE"));
	if (code && res->cls != ACS_REST_OK)
		r.ecode = code;
	f->cb(&r, res->cls == ACS_REST_OK ? res->file_bytes : 0, f->arg);
	free(f);
}

int acs_clickup_download_to_file(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *url, uv_file fd, size_t max_bytes, uint64_t timeout_ms,
				 acs_rest_bytes_cb bytes, void *bytes_arg, acs_clickup_file_cb cb,
				 void *arg)
{
	if (!c || !url || !cb || fd < 0 || has_crlf(url) || !download_allowed(c, url))
		return -EINVAL;
	if (c->closing)
		return ACS_ECLOSED;
	struct acs_rest_download down = { .fd = fd, .bytes = bytes, .bytes_arg = bytes_arg };
	struct acs_rest_call rc_call = {
		.method = "GET",
		.path = url,
		.cls = cls,
		.raw = true,
		.max_response_bytes = max_bytes,
		.download = &down,
		.timeout_ms = timeout_ms,
	};
	struct file_call *f = acs_xcalloc(1, sizeof(*f));
	f->cb = cb;
	f->arg = arg;
	int rc = acs_rest_request(c->rest, &rc_call, file_rest_done, f);
	if (rc)
		free(f);
	return rc;
}
