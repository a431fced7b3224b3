/* SPDX-License-Identifier: MIT */
/* The Azure DevOps client: URL building per endpoint and api-version, JSON
 * Patch building, request bodies, and parsing of ADO's JSON into the plain
 * structs of ado_client.h, on top of one struct acs_rest. */
#include "ado_client.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "calendar.h"
#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"

/*
 * GLOSSARY
 *   call      one public call from its acs_ado_* function to its typed
 *             callback. Most are one REST request; a batch get of more than
 *             ACS_ADO_MAX_BATCH ids and the project listing (continuation
 *             tokens) chain several, one after the other, from the previous
 *             request's completion.
 *   org path  "/_apis/..." relative to rest's base "{base_url}/{org}".
 *   proj path "/{project}/_apis/..." (project name percent-escaped).
 */

#define LOG_MOD "ado"
#define API "api-version=7.1"
#define API_COMMENTS "api-version=7.1-preview.4"
#define JSON_PATCH "application/json-patch+json"
#define DEFAULT_MAX_DOWNLOAD (60u << 20)
#define MAX_PROJECT_PAGES 1000
#define AREA_DEPTH 20
#define MAX_AREA_NODES 100000

enum op {
	OP_WORK_ITEM,
	OP_WORK_ITEMS,
	OP_DONE,
	OP_WIQL,
	OP_TYPES,
	OP_STATES,
	OP_PROJECTS,
	OP_AREAS,
	OP_COMMENTS,
	OP_COMMENT,
	OP_ATTACHMENT,
	OP_DOWNLOAD,
	OP_SUBSCRIPTIONS,
	OP_SUBSCRIPTION,
	OP_IDENTITY,
};

struct acs_ado_client {
	uv_loop_t *loop;
	struct acs_rest *rest;
	char *org_url;	   /**< "{base_url}/{org}" */
	char *origin;	   /**< "scheme://host[:port]" of base_url: where the PAT may go */
	char *project;	   /**< as configured */
	char *project_esc; /**< percent-escaped for a path segment */
	size_t max_download;
	bool closing;
	acs_ado_closed_cb closed_cb;
	void *closed_arg;
};

struct call {
	struct acs_ado_client *c;
	enum op op;
	union {
		acs_ado_done_cb done;
		acs_ado_work_item_cb work_item;
		acs_ado_work_items_cb work_items;
		acs_ado_ids_cb ids;
		acs_ado_types_cb types;
		acs_ado_states_cb states;
		acs_ado_projects_cb projects;
		acs_ado_paths_cb paths;
		acs_ado_comments_cb comments;
		acs_ado_comment_cb comment;
		acs_ado_attachment_cb attachment;
		acs_ado_blob_cb blob;
		acs_ado_subscriptions_cb subscriptions;
		acs_ado_subscription_cb subscription;
		acs_ado_identity_cb identity;
	} cb;
	void *arg;
	enum acs_governor_class cls; /**< every request of the call (pages too) */
	unsigned attempts;	     /**< summed over the chained requests */
	/* Batch get: ids still to ask for and what came back so far. */
	int64_t *ids;
	size_t n_ids;
	size_t next_id;
	json_t *fields; /**< array of field refs, or NULL */
	struct acs_ado_work_item_list items;
	/* Project listing: pages so far. */
	struct acs_ado_project_list projects;
	unsigned pages;
	char *last_token;
};

/* ------------------------------------------------------------------------ */
/* Small JSON helpers                                                       */
/* ------------------------------------------------------------------------ */

static char *jdup(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? acs_xstrdup(s) : NULL;
}

/* Integer from a JSON integer, real or decimal string (ADO is not always
 * consistent: probationRetries is a number although the schema says string). */
static bool jint(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (json_is_real(v)) {
		if (!(json_real_value(v) > -9.2e18 && json_real_value(v) < 9.2e18))
			return false; /* out of int64 range or NaN: the cast would be UB */
		*out = (int64_t)json_real_value(v);
		return true;
	}
	const char *s = json_string_value(v);
	if (s && *s) {
		char *end;
		errno = 0;
		long long x = strtoll(s, &end, 10);
		if (!errno && *end == '\0') {
			*out = x;
			return true;
		}
	}
	return false;
}

static int64_t jint_or(const json_t *obj, const char *key, int64_t def)
{
	int64_t v;
	return jint(json_object_get(obj, key), &v) ? v : def;
}

static int64_t jdate_or_zero(const json_t *obj, const char *key)
{
	int64_t ms;
	const char *s = json_string_value(json_object_get(obj, key));
	return s && acs_ado_parse_date(s, &ms) == 0 ? ms : 0;
}

/* Wrapped collection {"count", "value": [...]}; a bare array is accepted too
 * because the spec's schemas say "array" where the service wraps. */
static const json_t *jvalue_array(const json_t *body)
{
	if (json_is_array(body))
		return body;
	const json_t *v = json_object_get(body, "value");
	return json_is_array(v) ? v : NULL;
}

/* ------------------------------------------------------------------------ */
/* Dates                                                                    */
/* ------------------------------------------------------------------------ */

static const char *digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return NULL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return s + n;
}

int acs_ado_parse_date(const char *s, int64_t *ms)
{
	int y, mo, d, hh = 0, mi = 0, ss = 0, frac = 0;
	if (!s || !(s = digits(s, 4, &y)) || *s++ != '-' || !(s = digits(s, 2, &mo)) ||
	    *s++ != '-' || !(s = digits(s, 2, &d)))
		return ACS_EPARSE;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		s++;
		if (!(s = digits(s, 2, &hh)) || *s++ != ':' || !(s = digits(s, 2, &mi)))
			return ACS_EPARSE;
		if (*s == ':' && !(s = digits(s + 1, 2, &ss)))
			return ACS_EPARSE;
		if (*s == '.' || *s == ',') {
			/* Any number of digits: keep milliseconds, drop the rest. */
			int n = 0;
			s++;
			if (!isdigit((unsigned char)*s))
				return ACS_EPARSE;
			for (; isdigit((unsigned char)*s); s++, n++)
				if (n < 3)
					frac = frac * 10 + (*s - '0');
			for (; n < 3; n++)
				frac *= 10;
		}
	}
	int64_t off_min = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int oh, om = 0;
		int sign = *s == '-' ? -1 : 1;
		if (!(s = digits(s + 1, 2, &oh)))
			return ACS_EPARSE;
		if (*s == ':')
			s++;
		if (isdigit((unsigned char)*s) && !(s = digits(s, 2, &om)))
			return ACS_EPARSE;
		off_min = sign * (oh * 60 + om);
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
		return ACS_EPARSE;
	int64_t days = acs_days_from_civil(y, (unsigned)mo, (unsigned)d);
	*ms = ((days * 86400 + hh * 3600 + mi * 60 + ss) - off_min * 60) * 1000 + frac;
	return 0;
}

void acs_ado_format_date(int64_t ms, char out[32])
{
	int64_t secs = ms >= 0 ? ms / 1000 : (ms - 999) / 1000;
	int msec = (int)(ms - secs * 1000);
	time_t t = (time_t)secs;
	struct tm tm;
	if (!gmtime_r(&t, &tm)) {
		snprintf(out, 32, "1970-01-01T00:00:00.000Z");
		return;
	}
	snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, msec);
}

/* ------------------------------------------------------------------------ */
/* Identities, tags                                                          */
/* ------------------------------------------------------------------------ */

static char *trimmed_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n ? acs_xstrndup(s, n) : NULL;
}

int acs_ado_identity_parse(const json_t *v, struct acs_ado_identity *out)
{
	memset(out, 0, sizeof(*out));
	if (json_is_object(v)) {
		out->display_name = jdup(v, "displayName");
		out->unique_name = jdup(v, "uniqueName");
		out->id = jdup(v, "id");
		if (!out->unique_name && (out->unique_name = jdup(v, "name")) &&
		    !strchr(out->unique_name, '@')) {
			/* revisedBy's "name" is "Display <unique>", not a unique name. */
			free(out->unique_name);
			out->unique_name = NULL;
		}
	} else if (json_is_string(v)) {
		/* Service hooks: "Display Name <unique@name>" (or just a name). */
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		const char *lt = strrchr(s, '<');
		while (n && isspace((unsigned char)s[n - 1]))
			n--;
		if (lt && n && s[n - 1] == '>' && lt < s + n - 1) {
			out->display_name = trimmed_dup(s, (size_t)(lt - s));
			out->unique_name = trimmed_dup(lt + 1, (size_t)(s + n - 1 - (lt + 1)));
		} else {
			out->display_name = trimmed_dup(s, n);
			if (out->display_name && strchr(out->display_name, '@') &&
			    !strchr(out->display_name, ' '))
				out->unique_name = acs_xstrdup(out->display_name);
		}
	}
	if (!out->display_name && !out->unique_name && !out->id)
		return ACS_EPARSE;
	return 0;
}

void acs_ado_identity_clear(struct acs_ado_identity *id)
{
	if (!id)
		return;
	free(id->display_name);
	free(id->unique_name);
	free(id->id);
	memset(id, 0, sizeof(*id));
}

size_t acs_ado_tags_split(const char *s, char ***out)
{
	size_t n = 0, cap = 0;
	char **tags = NULL;
	*out = NULL;
	if (!s)
		return 0;
	while (*s) {
		const char *semi = strchr(s, ';');
		size_t len = semi ? (size_t)(semi - s) : strlen(s);
		char *t = trimmed_dup(s, len);
		if (t) {
			if (n == cap) {
				cap = cap ? cap * 2 : 4;
				tags = acs_xrealloc(tags, cap * sizeof(*tags));
			}
			tags[n++] = t;
		}
		s += len;
		if (*s == ';')
			s++;
	}
	*out = tags;
	return n;
}

void acs_ado_tags_free(char **tags, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(tags[i]);
	free(tags);
}

/* ------------------------------------------------------------------------ */
/* Work items                                                                */
/* ------------------------------------------------------------------------ */

static char *field_str(const json_t *fields, const char *ref)
{
	return jdup(fields, ref);
}

int acs_ado_work_item_parse(const json_t *obj, struct acs_ado_work_item *wi)
{
	memset(wi, 0, sizeof(*wi));
	if (!json_is_object(obj) || !jint(json_object_get(obj, "id"), &wi->id))
		return ACS_EPARSE;
	wi->rev = jint_or(obj, "rev", 0);
	json_t *fields = json_object_get(obj, "fields");
	wi->fields = json_is_object(fields) ? json_incref(fields) : json_object();
	const json_t *f = wi->fields;

	wi->title = field_str(f, "System.Title");
	wi->description = field_str(f, "System.Description");
	wi->state = field_str(f, "System.State");
	wi->reason = field_str(f, "System.Reason");
	wi->work_item_type = field_str(f, "System.WorkItemType");
	wi->area_path = field_str(f, "System.AreaPath");
	wi->iteration_path = field_str(f, "System.IterationPath");
	wi->team_project = field_str(f, "System.TeamProject");
	int64_t prio;
	if (jint(json_object_get(f, "Microsoft.VSTS.Common.Priority"), &prio) && prio >= 1 &&
	    prio <= 4)
		wi->priority = (int)prio;
	wi->has_assigned_to = acs_ado_identity_parse(json_object_get(f, "System.AssignedTo"),
						     &wi->assigned_to) == 0;
	wi->n_tags =
		acs_ado_tags_split(json_string_value(json_object_get(f, "System.Tags")), &wi->tags);
	static const char *const due_fields[] = { ACS_ADO_FIELD_DUE_DATE,
						  ACS_ADO_FIELD_TARGET_DATE };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(due_fields) && !wi->has_due_date; i++) {
		const char *s = json_string_value(json_object_get(f, due_fields[i]));
		if (s && acs_ado_parse_date(s, &wi->due_date_ms) == 0) {
			wi->has_due_date = true;
			wi->due_date_field = due_fields[i];
		}
	}
	wi->changed_date_ms = jdate_or_zero(f, "System.ChangedDate");
	wi->created_date_ms = jdate_or_zero(f, "System.CreatedDate");
	wi->comment_count = jint_or(f, "System.CommentCount", 0);

	const json_t *rels = json_object_get(obj, "relations");
	if (json_is_array(rels) && json_array_size(rels)) {
		wi->relations = acs_xcalloc(json_array_size(rels), sizeof(*wi->relations));
		size_t i;
		json_t *r;
		json_array_foreach(rels, i, r)
		{
			if (!json_is_object(r))
				continue;
			struct acs_ado_relation *rel = &wi->relations[wi->n_relations++];
			rel->rel = jdup(r, "rel");
			rel->url = jdup(r, "url");
			json_t *attrs = json_object_get(r, "attributes");
			if (json_is_object(attrs)) {
				rel->attributes = json_incref(attrs);
				rel->name = jdup(attrs, "name");
				rel->comment = jdup(attrs, "comment");
			}
		}
	}
	wi->url = jdup(obj, "url");
	const json_t *html = json_object_get(json_object_get(obj, "_links"), "html");
	wi->html_url = jdup(html, "href");
	return 0;
}

void acs_ado_work_item_clear(struct acs_ado_work_item *wi)
{
	if (!wi)
		return;
	json_decref(wi->fields);
	free(wi->title);
	free(wi->description);
	free(wi->state);
	free(wi->reason);
	free(wi->work_item_type);
	free(wi->area_path);
	free(wi->iteration_path);
	free(wi->team_project);
	acs_ado_identity_clear(&wi->assigned_to);
	acs_ado_tags_free(wi->tags, wi->n_tags);
	for (size_t i = 0; i < wi->n_relations; i++) {
		free(wi->relations[i].rel);
		free(wi->relations[i].url);
		free(wi->relations[i].name);
		free(wi->relations[i].comment);
		json_decref(wi->relations[i].attributes);
	}
	free(wi->relations);
	free(wi->url);
	free(wi->html_url);
	memset(wi, 0, sizeof(*wi));
}

struct acs_ado_work_item *acs_ado_work_item_from_json(const json_t *obj)
{
	struct acs_ado_work_item *wi = acs_xmalloc(sizeof(*wi));
	if (acs_ado_work_item_parse(obj, wi) != 0) {
		free(wi);
		return NULL;
	}
	return wi;
}

void acs_ado_work_item_free(struct acs_ado_work_item *wi)
{
	if (!wi)
		return;
	acs_ado_work_item_clear(wi);
	free(wi);
}

void acs_ado_work_item_list_free(struct acs_ado_work_item_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		acs_ado_work_item_clear(&l->items[i]);
	free(l->items);
	free(l);
}

/* --- comments --- */

int acs_ado_comment_parse(const json_t *obj, struct acs_ado_comment *cm)
{
	memset(cm, 0, sizeof(*cm));
	if (!json_is_object(obj))
		return ACS_EPARSE;
	/* 7.1 says "id"; the spec's older generated examples say "commentId". */
	if (!jint(json_object_get(obj, "id"), &cm->id) &&
	    !jint(json_object_get(obj, "commentId"), &cm->id))
		return ACS_EPARSE;
	cm->work_item_id = jint_or(obj, "workItemId", 0);
	cm->version = jint_or(obj, "version", 0);
	cm->text = jdup(obj, "text");
	cm->format = jdup(obj, "format");
	(void)acs_ado_identity_parse(json_object_get(obj, "createdBy"), &cm->created_by);
	(void)acs_ado_identity_parse(json_object_get(obj, "modifiedBy"), &cm->modified_by);
	cm->created_date_ms = jdate_or_zero(obj, "createdDate");
	cm->modified_date_ms = jdate_or_zero(obj, "modifiedDate");
	cm->is_deleted = json_is_true(json_object_get(obj, "isDeleted"));
	cm->url = jdup(obj, "url");
	return 0;
}

void acs_ado_comment_clear(struct acs_ado_comment *cm)
{
	if (!cm)
		return;
	free(cm->text);
	free(cm->format);
	acs_ado_identity_clear(&cm->created_by);
	acs_ado_identity_clear(&cm->modified_by);
	free(cm->url);
	memset(cm, 0, sizeof(*cm));
}

void acs_ado_comment_free(struct acs_ado_comment *cm)
{
	if (!cm)
		return;
	acs_ado_comment_clear(cm);
	free(cm);
}

void acs_ado_comment_list_free(struct acs_ado_comment_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		acs_ado_comment_clear(&l->comments[i]);
	free(l->comments);
	free(l->continuation_token);
	free(l);
}

static struct acs_ado_comment_list *comment_list_parse(const json_t *body)
{
	const json_t *arr = json_object_get(body, "comments");
	if (!json_is_array(arr))
		return NULL;
	struct acs_ado_comment_list *l = acs_xcalloc(1, sizeof(*l));
	l->comments = acs_xcalloc(json_array_size(arr) + 1, sizeof(*l->comments));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		if (acs_ado_comment_parse(v, &l->comments[l->n]) == 0)
			l->n++;
	}
	l->total_count = jint_or(body, "totalCount", -1);
	const char *tok = json_string_value(json_object_get(body, "continuationToken"));
	if (tok && *tok)
		l->continuation_token = acs_xstrdup(tok);
	return l;
}

/* --- attachments, blobs --- */

/* An upload's answer {"id": ..., "url": ...}; NULL when either is missing. */
static struct acs_ado_attachment_ref *attachment_ref_parse(const json_t *body)
{
	char *id = jdup(body, "id"), *url = jdup(body, "url");
	if (!id || !url) {
		free(id);
		free(url);
		return NULL;
	}
	struct acs_ado_attachment_ref *ref = acs_xmalloc(sizeof(*ref));
	ref->id = id;
	ref->url = url;
	return ref;
}

void acs_ado_attachment_ref_free(struct acs_ado_attachment_ref *ref)
{
	if (!ref)
		return;
	free(ref->id);
	free(ref->url);
	free(ref);
}

void acs_ado_blob_free(struct acs_ado_blob *blob)
{
	if (!blob)
		return;
	free(blob->data);
	free(blob->content_type);
	free(blob);
}

/* --- states, types, projects, paths --- */

static void states_clear(struct acs_ado_state *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].name);
		free(s[i].color);
		free(s[i].category);
	}
	free(s);
}

static size_t states_parse(const json_t *arr, struct acs_ado_state **out)
{
	size_t n = 0;
	*out = NULL;
	if (!json_is_array(arr))
		return 0;
	struct acs_ado_state *s = acs_xcalloc(json_array_size(arr) + 1, sizeof(*s));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		char *name = jdup(v, "name");
		if (!name)
			continue;
		s[n].name = name;
		s[n].color = jdup(v, "color");
		s[n].category = jdup(v, "category");
		n++;
	}
	*out = s;
	return n;
}

void acs_ado_state_list_free(struct acs_ado_state_list *l)
{
	if (!l)
		return;
	states_clear(l->states, l->n);
	free(l);
}

void acs_ado_type_list_free(struct acs_ado_type_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++) {
		struct acs_ado_work_item_type *t = &l->types[i];
		free(t->name);
		free(t->reference_name);
		free(t->description);
		free(t->color);
		states_clear(t->states, t->n_states);
	}
	free(l->types);
	free(l);
}

static void projects_clear(struct acs_ado_project_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->projects[i].id);
		free(l->projects[i].name);
		free(l->projects[i].state);
	}
	free(l->projects);
	l->projects = NULL;
	l->n = 0;
}

void acs_ado_project_list_free(struct acs_ado_project_list *l)
{
	if (!l)
		return;
	projects_clear(l);
	free(l);
}

void acs_ado_path_list_free(struct acs_ado_path_list *l)
{
	if (!l)
		return;
	acs_ado_tags_free(l->paths, l->n);
	free(l);
}

/* --- subscriptions --- */

int acs_ado_subscription_parse(const json_t *obj, struct acs_ado_subscription *s)
{
	memset(s, 0, sizeof(*s));
	if (!json_is_object(obj) || !(s->id = jdup(obj, "id")))
		return ACS_EPARSE;
	s->url = jdup(obj, "url");
	/* The service omits status on enabled subscriptions. */
	s->status = jdup(obj, "status");
	if (!s->status)
		s->status = acs_xstrdup("enabled");
	s->publisher_id = jdup(obj, "publisherId");
	s->event_type = jdup(obj, "eventType");
	s->resource_version = jdup(obj, "resourceVersion");
	s->consumer_id = jdup(obj, "consumerId");
	s->consumer_action_id = jdup(obj, "consumerActionId");
	json_t *pi = json_object_get(obj, "publisherInputs");
	s->publisher_inputs = json_is_object(pi) ? json_incref(pi) : json_object();
	s->project_id = jdup(pi, "projectId");
	s->area_path = jdup(pi, "areaPath");
	s->work_item_type = jdup(pi, "workItemType");
	/* consumerInputs is not kept as JSON: it may carry the password. */
	const json_t *ci = json_object_get(obj, "consumerInputs");
	s->consumer_url = jdup(ci, "url");
	s->basic_auth_username = jdup(ci, "basicAuthUsername");
	s->http_headers = jdup(ci, "httpHeaders");
	const char *pw = json_string_value(json_object_get(ci, "basicAuthPassword"));
	s->has_password = pw && *pw;
	s->created_date_ms = jdate_or_zero(obj, "createdDate");
	s->modified_date_ms = jdate_or_zero(obj, "modifiedDate");
	s->probation_retries = jint_or(obj, "probationRetries", 0);
	s->last_probation_retry_ms = jdate_or_zero(obj, "lastProbationRetryDate");
	return 0;
}

void acs_ado_subscription_clear(struct acs_ado_subscription *s)
{
	if (!s)
		return;
	free(s->id);
	free(s->url);
	free(s->status);
	free(s->publisher_id);
	free(s->event_type);
	free(s->resource_version);
	free(s->consumer_id);
	free(s->consumer_action_id);
	json_decref(s->publisher_inputs);
	free(s->project_id);
	free(s->area_path);
	free(s->work_item_type);
	free(s->consumer_url);
	free(s->basic_auth_username);
	free(s->http_headers);
	memset(s, 0, sizeof(*s));
}

void acs_ado_subscription_free(struct acs_ado_subscription *s)
{
	if (!s)
		return;
	acs_ado_subscription_clear(s);
	free(s);
}

void acs_ado_subscription_list_free(struct acs_ado_subscription_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		acs_ado_subscription_clear(&l->subs[i]);
	free(l->subs);
	free(l);
}

/* ------------------------------------------------------------------------ */
/* JSON Patch                                                                */
/* ------------------------------------------------------------------------ */

static void op_add(json_t *ops, const char *op, const char *ref, json_t *value)
{
	json_t *o = json_object();
	json_object_set_new(o, "op", json_string(op));
	json_object_set_new(o, "path", json_sprintf("/fields/%s", ref));
	if (value)
		json_object_set_new(o, "value", value);
	json_array_append_new(ops, o);
}

/* One field: value NULL keeps it, JSON null clears it. Takes value. With
 * current, unchanged values and clears of absent fields are skipped. */
static void field_op(json_t *ops, const char *ref, json_t *value,
		     const struct acs_ado_work_item *cur, bool create)
{
	if (!value)
		return;
	const json_t *old = cur ? json_object_get(cur->fields, ref) : NULL;
	if (json_is_null(value)) {
		if (!create && (!cur || (old && !json_is_null(old))))
			op_add(ops, "remove", ref, NULL);
		json_decref(value);
		return;
	}
	/* 5 and 5.0 are the same number (doubles may come back either way). */
	if (old &&
	    (json_equal(old, value) || (json_is_number(old) && json_is_number(value) &&
					json_number_value(old) == json_number_value(value)))) {
		json_decref(value);
		return;
	}
	op_add(ops, !create && old ? "replace" : "add", ref, value);
}

/* "" clears, NULL keeps, anything else sets. */
static json_t *str_value(const char *s)
{
	if (!s)
		return NULL;
	return *s ? json_string(s) : json_null();
}

static bool tags_equal(const struct acs_ado_work_item *cur, const char *const *tags, size_t n)
{
	/* Same set, ignoring order and case (ADO tags are case-insensitive). */
	size_t distinct = 0;
	for (size_t i = 0; i < n; i++) {
		bool found = false, dup = false;
		for (size_t j = 0; j < i && !dup; j++)
			dup = strcasecmp(tags[i], tags[j]) == 0;
		if (dup)
			continue;
		distinct++;
		for (size_t j = 0; j < cur->n_tags && !found; j++)
			found = strcasecmp(tags[i], cur->tags[j]) == 0;
		if (!found)
			return false;
	}
	return distinct == cur->n_tags;
}

static char *tags_join(const char *const *tags, size_t n)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 20);
	for (size_t i = 0; i < n; i++) {
		char *t = trimmed_dup(tags[i], strlen(tags[i]));
		if (!t)
			continue;
		/* A ';' inside a name would split it into two tags. */
		for (char *p = t; *p; p++)
			if (*p == ';')
				*p = ',';
		(void)acs_buf_printf(&b, "%s%s", b.len ? "; " : "", t);
		free(t);
	}
	return acs_buf_steal(&b, NULL);
}

static bool identity_matches(const struct acs_ado_work_item *cur, const char *who)
{
	if (!cur || !cur->has_assigned_to)
		return false;
	const struct acs_ado_identity *id = &cur->assigned_to;
	if (id->unique_name && strcasecmp(id->unique_name, who) == 0)
		return true;
	/* "Name <email>" form: compare the e-mail part. */
	json_t *s = json_string(who);
	struct acs_ado_identity parsed;
	bool same = false;
	if (acs_ado_identity_parse(s, &parsed) == 0 && parsed.unique_name && id->unique_name)
		same = strcasecmp(parsed.unique_name, id->unique_name) == 0;
	acs_ado_identity_clear(&parsed);
	json_decref(s);
	return same;
}

static int cmp_size_desc(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Same rel and url; the query is ignored because the service stores an
 * attachment's url without the ?fileName= its upload answer carries. */
static bool relation_present(const struct acs_ado_work_item *cur, const char *rel, const char *url)
{
	size_t n = strcspn(url, "?");
	for (size_t i = 0; cur && i < cur->n_relations; i++) {
		const char *u = cur->relations[i].url;
		if (cur->relations[i].rel && u && strcmp(cur->relations[i].rel, rel) == 0 &&
		    strcspn(u, "?") == n && strncmp(u, url, n) == 0)
			return true;
	}
	return false;
}

json_t *acs_ado_patch_build(const struct acs_ado_fields *f, int64_t rev,
			    const struct acs_ado_work_item *cur, bool create)
{
	json_t *ops = json_array();
	if (!create && rev > 0) {
		json_t *t = json_object();
		json_object_set_new(t, "op", json_string("test"));
		json_object_set_new(t, "path", json_string("/rev"));
		json_object_set_new(t, "value", json_integer(rev));
		json_array_append_new(ops, t);
	}
	size_t fixed = json_array_size(ops);

	field_op(ops, "System.Title", str_value(f->title), cur, create);
	field_op(ops, "System.Description", str_value(f->description), cur, create);
	field_op(ops, "System.State", str_value(f->state), cur, create);
	field_op(ops, "System.AreaPath", str_value(f->area_path), cur, create);
	if (f->priority >= 1 && f->priority <= 4)
		field_op(ops, "Microsoft.VSTS.Common.Priority", json_integer(f->priority), cur,
			 create);
	else if (f->priority < 0)
		field_op(ops, "Microsoft.VSTS.Common.Priority", json_null(), cur, create);
	if (f->assigned_to) {
		/* Reads give an IdentityRef object, so compare identities, not JSON. */
		if (!*f->assigned_to)
			field_op(ops, "System.AssignedTo", json_null(), cur, create);
		else if (!identity_matches(cur, f->assigned_to))
			op_add(ops, !create && cur && cur->has_assigned_to ? "replace" : "add",
			       "System.AssignedTo", json_string(f->assigned_to));
	}
	if (f->tags_change == ACS_ADO_SET && f->n_tags) {
		if (!cur || !tags_equal(cur, f->tags, f->n_tags)) {
			char *joined = tags_join(f->tags, f->n_tags);
			op_add(ops, !create && cur && cur->n_tags ? "replace" : "add",
			       "System.Tags", json_string(joined));
			free(joined);
		}
	} else if (f->tags_change != ACS_ADO_KEEP) {
		/* Clearing, or setting an empty list. */
		if (!create && (!cur || cur->n_tags))
			op_add(ops, "remove", "System.Tags", NULL);
	}
	const char *due_ref = f->due_date_field ? f->due_date_field : ACS_ADO_FIELD_DUE_DATE;
	if (f->due_change == ACS_ADO_SET) {
		const json_t *old = cur ? json_object_get(cur->fields, due_ref) : NULL;
		int64_t old_ms;
		if (!old || acs_ado_parse_date(json_string_value(old), &old_ms) != 0 ||
		    old_ms != f->due_date_ms) {
			char buf[32];
			acs_ado_format_date(f->due_date_ms, buf);
			op_add(ops, !create && old ? "replace" : "add", due_ref, json_string(buf));
		}
	} else if (f->due_change == ACS_ADO_CLEAR) {
		field_op(ops, due_ref, json_null(), cur, create);
	}
	for (size_t i = 0; i < f->n_extra; i++) {
		if (!f->extra[i].ref)
			continue;
		json_t *v = f->extra[i].value ? json_deep_copy(f->extra[i].value) : json_null();
		field_op(ops, f->extra[i].ref, v, cur, create);
	}
	if (f->history && *f->history)
		op_add(ops, "add", "System.History", json_string(f->history));

	if (!create && f->n_remove_relations) {
		/* Highest index first, so earlier removals do not shift later ones. */
		size_t *idx = acs_xmalloc(f->n_remove_relations * sizeof(*idx));
		memcpy(idx, f->remove_relations, f->n_remove_relations * sizeof(*idx));
		qsort(idx, f->n_remove_relations, sizeof(*idx), cmp_size_desc);
		for (size_t i = 0; i < f->n_remove_relations; i++) {
			if (i && idx[i] == idx[i - 1])
				continue;
			json_t *o = json_object();
			json_object_set_new(o, "op", json_string("remove"));
			json_object_set_new(o, "path", json_sprintf("/relations/%zu", idx[i]));
			json_array_append_new(ops, o);
		}
		free(idx);
	}
	for (size_t i = 0; i < f->n_add_relations; i++) {
		const struct acs_ado_relation_add *ra = &f->add_relations[i];
		if (!ra->rel || !ra->url || relation_present(cur, ra->rel, ra->url))
			continue;
		json_t *v = json_object();
		json_object_set_new(v, "rel", json_string(ra->rel));
		json_object_set_new(v, "url", json_string(ra->url));
		json_t *attrs = json_object();
		if (ra->comment)
			json_object_set_new(attrs, "comment", json_string(ra->comment));
		if (ra->name)
			json_object_set_new(attrs, "name", json_string(ra->name));
		json_object_set_new(v, "attributes", attrs);
		json_t *o = json_object();
		json_object_set_new(o, "op", json_string("add"));
		json_object_set_new(o, "path", json_string("/relations/-"));
		json_object_set_new(o, "value", v);
		json_array_append_new(ops, o);
	}
	if (json_array_size(ops) == fixed) {
		json_decref(ops);
		return NULL;
	}
	return ops;
}

/* ------------------------------------------------------------------------ */
/* WIQL text                                                                 */
/* ------------------------------------------------------------------------ */

static void wiql_literal(struct acs_buf *b, const char *s)
{
	(void)acs_buf_appends(b, "'");
	for (; *s; s++) {
		if (*s == '\'')
			(void)acs_buf_appends(b, "''");
		else if ((unsigned char)*s >= 0x20)
			(void)acs_buf_append(b, s, 1);
		else
			(void)acs_buf_appends(b, " "); /* no control characters in a literal */
	}
	(void)acs_buf_appends(b, "'");
}

char *acs_ado_wiql_build(const struct acs_ado_wiql_filter *f)
{
	if (!f || !f->project || !*f->project)
		return NULL;
	struct acs_buf b;
	acs_buf_init(&b, ACS_ADO_MAX_WIQL);
	(void)acs_buf_appends(&b, "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] "
				  "= ");
	wiql_literal(&b, f->project);
	if (f->area_path && *f->area_path) {
		(void)acs_buf_appends(&b, " AND [System.AreaPath] UNDER ");
		wiql_literal(&b, f->area_path);
	}
	if (f->n_types) {
		(void)acs_buf_appends(&b, " AND [System.WorkItemType] IN (");
		for (size_t i = 0; i < f->n_types; i++) {
			if (i)
				(void)acs_buf_appends(&b, ", ");
			wiql_literal(&b, f->types[i]);
		}
		(void)acs_buf_appends(&b, ")");
	}
	if (f->assigned_to && *f->assigned_to) {
		(void)acs_buf_appends(&b, " AND [System.AssignedTo] = ");
		if (f->assigned_to[0] == '@') {
			/* A macro (@Me): letters only, else it is not one. */
			for (const char *p = f->assigned_to + 1; *p; p++) {
				if (!isalpha((unsigned char)*p)) {
					acs_buf_free(&b);
					return NULL;
				}
			}
			(void)acs_buf_appends(&b, f->assigned_to);
		} else {
			wiql_literal(&b, f->assigned_to);
		}
	}
	if (f->has_changed_since) {
		char d[32];
		acs_ado_format_date(f->changed_since_ms, d);
		(void)acs_buf_appends(&b, " AND [System.ChangedDate] >= ");
		wiql_literal(&b, d);
	}
	if (!f->include_removed)
		(void)acs_buf_appends(&b, " AND [System.State] <> 'Removed'");
	(void)acs_buf_appends(&b, " ORDER BY [System.ChangedDate] ASC, [System.Id] ASC");
	if (!b.data)
		return NULL; /* over ACS_ADO_MAX_WIQL: the buffer freed itself */
	return acs_buf_steal(&b, NULL);
}

/* ------------------------------------------------------------------------ */
/* Calls                                                                     */
/* ------------------------------------------------------------------------ */

static struct call *call_new(struct acs_ado_client *c, enum op op, void *arg)
{
	struct call *k = acs_xcalloc(1, sizeof(*k));
	k->c = c;
	k->op = op;
	k->arg = arg;
	return k;
}

static void call_free(struct call *k)
{
	free(k->ids);
	json_decref(k->fields);
	for (size_t i = 0; i < k->items.n; i++)
		acs_ado_work_item_clear(&k->items.items[i]);
	free(k->items.items);
	projects_clear(&k->projects);
	free(k->last_token);
	free(k);
}

/* Deliver a failure (or, with payload NULL and cls OK, a payload-less
 * success) to the typed callback. */
static void deliver_none(struct call *k, const struct acs_ado_result *res)
{
	switch (k->op) {
	case OP_WORK_ITEM:
		k->cb.work_item(res, NULL, k->arg);
		break;
	case OP_WORK_ITEMS:
		k->cb.work_items(res, NULL, k->arg);
		break;
	case OP_DONE:
		k->cb.done(res, k->arg);
		break;
	case OP_WIQL:
		k->cb.ids(res, NULL, 0, k->arg);
		break;
	case OP_TYPES:
		k->cb.types(res, NULL, k->arg);
		break;
	case OP_STATES:
		k->cb.states(res, NULL, k->arg);
		break;
	case OP_PROJECTS:
		k->cb.projects(res, NULL, k->arg);
		break;
	case OP_AREAS:
		k->cb.paths(res, NULL, k->arg);
		break;
	case OP_COMMENTS:
		k->cb.comments(res, NULL, k->arg);
		break;
	case OP_COMMENT:
		k->cb.comment(res, NULL, k->arg);
		break;
	case OP_ATTACHMENT:
		k->cb.attachment(res, NULL, k->arg);
		break;
	case OP_DOWNLOAD:
		k->cb.blob(res, NULL, k->arg);
		break;
	case OP_SUBSCRIPTIONS:
		k->cb.subscriptions(res, NULL, k->arg);
		break;
	case OP_SUBSCRIPTION:
		k->cb.subscription(res, NULL, k->arg);
		break;
	case OP_IDENTITY:
		k->cb.identity(res, NULL, k->arg);
		break;
	}
}

static void fail(struct call *k, enum acs_rest_class cls, int error, long status,
		 const char *message)
{
	struct acs_ado_result res = {
		.cls = cls,
		.error = error,
		.status = status,
		.message = message,
		.type_key = "",
		.attempts = k->attempts,
	};
	deliver_none(k, &res);
	call_free(k);
}

static void rest_done(const struct acs_rest_result *rr, void *arg);

static int call_send(struct call *k, const char *method, const char *path, const char *ctype,
		     const void *body, size_t len, bool raw, size_t max_bytes)
{
	struct acs_rest_call rc = {
		.method = method,
		.path = path,
		.content_type = ctype,
		.body = body,
		.body_len = len,
		.cls = k->cls,
		.raw = raw,
		.max_response_bytes = max_bytes,
	};
	if (k->c->closing)
		return ACS_ECLOSED;
	return acs_rest_request(k->c->rest, &rc, rest_done, k);
}

/* Start k's first request; on failure k is freed and the callback never runs. */
static int start(struct call *k, const char *method, char *path, const char *ctype,
		 const void *body, size_t len, bool raw, size_t max_bytes)
{
	int rc = call_send(k, method, path, ctype, body, len, raw, max_bytes);
	free(path);
	if (rc)
		call_free(k);
	return rc;
}

static int start_json(struct call *k, const char *method, char *path, const char *ctype,
		      json_t *body)
{
	char *text = acs_json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text) {
		free(path);
		call_free(k);
		return -ENOMEM;
	}
	int rc = start(k, method, path, ctype ? ctype : "application/json", text, strlen(text),
		       false, 0);
	free(text);
	return rc;
}

static char *proj_path(const struct acs_ado_client *c, const char *fmt, ...) ACS_PRINTF(2, 3);

static char *proj_path(const struct acs_ado_client *c, const char *fmt, ...)
{
	struct acs_buf b;
	va_list ap;
	acs_buf_init(&b, 1u << 16);
	(void)acs_buf_printf(&b, "/%s", c->project_esc);
	va_start(ap, fmt);
	(void)acs_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	return acs_buf_steal(&b, NULL);
}

/* --- chained requests --- */

static int send_batch(struct call *k)
{
	size_t n = ACS_MIN(k->n_ids - k->next_id, (size_t)ACS_ADO_MAX_BATCH);
	json_t *body = json_object();
	json_t *ids = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids, json_integer(k->ids[k->next_id + i]));
	json_object_set_new(body, "ids", ids);
	/* The service refuses fields together with $expand. */
	if (k->fields)
		json_object_set(body, "fields", k->fields);
	else
		json_object_set_new(body, "$expand", json_string("relations"));
	json_object_set_new(body, "errorPolicy", json_string("omit"));
	k->next_id += n;
	char *text = acs_json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return -ENOMEM;
	char *path = proj_path(k->c, "/_apis/wit/workitemsbatch?" API);
	int rc = call_send(k, "POST", path, "application/json", text, strlen(text), false, 0);
	free(path);
	free(text);
	return rc;
}

static int send_projects(struct call *k)
{
	char *path;
	if (k->last_token) {
		char *tok = acs_rest_escape(k->last_token);
		path = acs_xasprintf("/_apis/projects?$top=100&continuationToken=%s&" API, tok);
		free(tok);
	} else {
		path = acs_xstrdup("/_apis/projects?$top=100&" API);
	}
	int rc = call_send(k, "GET", path, NULL, NULL, 0, false, 0);
	free(path);
	return rc;
}

/* --- completion --- */

static bool parse_work_items(struct call *k, const json_t *body)
{
	const json_t *arr = jvalue_array(body);
	if (!arr)
		return false;
	size_t add = json_array_size(arr);
	k->items.items =
		acs_xrealloc(k->items.items, (k->items.n + add + 1) * sizeof(*k->items.items));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		/* errorPolicy "omit" leaves null where an id does not exist. */
		if (acs_ado_work_item_parse(v, &k->items.items[k->items.n]) == 0)
			k->items.n++;
	}
	return true;
}

static bool parse_projects(struct call *k, const json_t *body)
{
	const json_t *arr = jvalue_array(body);
	if (!arr)
		return false;
	size_t add = json_array_size(arr);
	struct acs_ado_project_list *l = &k->projects;
	l->projects = acs_xrealloc(l->projects, (l->n + add + 1) * sizeof(*l->projects));
	size_t i;
	json_t *v;
	json_array_foreach(arr, i, v)
	{
		char *id = jdup(v, "id");
		if (!id)
			continue;
		struct acs_ado_project *p = &l->projects[l->n++];
		p->id = id;
		p->name = jdup(v, "name");
		p->state = jdup(v, "state");
	}
	return true;
}

struct path_acc {
	char **paths;
	size_t n, cap;
};

static void flatten_areas(const json_t *node, const char *prefix, struct path_acc *acc, int depth)
{
	const char *name = json_string_value(json_object_get(node, "name"));
	if (!name || depth > AREA_DEPTH + 1 || acc->n >= MAX_AREA_NODES)
		return;
	/* Built from names: "path" in the service's answer carries the structure
	 * group ("\\Project\\Area\\Web"), work items use "Project\\Web". */
	char *path = prefix ? acs_xasprintf("%s\\%s", prefix, name) : acs_xstrdup(name);
	if (acc->n == acc->cap) {
		acc->cap = acc->cap ? acc->cap * 2 : 16;
		acc->paths = acs_xrealloc(acc->paths, acc->cap * sizeof(*acc->paths));
	}
	acc->paths[acc->n++] = path;
	const json_t *kids = json_object_get(node, "children");
	size_t i;
	json_t *kid;
	json_array_foreach(kids, i, kid) flatten_areas(kid, path, acc, depth + 1);
}

static bool deliver_payload(struct call *k, const struct acs_ado_result *res,
			    const struct acs_rest_result *rr)
{
	const json_t *body = rr->json;
	switch (k->op) {
	case OP_WORK_ITEM: {
		struct acs_ado_work_item *wi = acs_ado_work_item_from_json(body);
		if (!wi)
			return false;
		k->cb.work_item(res, wi, k->arg);
		return true;
	}
	case OP_WORK_ITEMS: {
		struct acs_ado_work_item_list *l = acs_xcalloc(1, sizeof(*l));
		*l = k->items;
		memset(&k->items, 0, sizeof(k->items));
		k->cb.work_items(res, l, k->arg);
		return true;
	}
	case OP_DONE:
		k->cb.done(res, k->arg);
		return true;
	case OP_IDENTITY: {
		/* connectionData: authenticatedUser {id, providerDisplayName, properties:
		 * {Account: {$value: <e-mail>}}} (shape from the public docs and clients,
		 * UNCONFIRMED against a capture). */
		const json_t *u = json_object_get(body, "authenticatedUser");
		const char *mail = json_string_value(json_object_get(
			json_object_get(json_object_get(u, "properties"), "Account"), "$value"));
		if (!json_is_object(u) || !mail || !*mail)
			return false;
		struct acs_ado_identity *id = acs_xcalloc(1, sizeof(*id));
		id->unique_name = acs_xstrdup(mail);
		id->display_name = jdup(u, "providerDisplayName");
		if (!id->display_name)
			id->display_name = jdup(u, "customDisplayName");
		id->id = jdup(u, "id");
		k->cb.identity(res, id, k->arg);
		return true;
	}
	case OP_WIQL: {
		const json_t *arr = json_object_get(body, "workItems");
		bool links = false;
		if (!json_is_array(arr)) {
			arr = json_object_get(body, "workItemRelations");
			links = true;
		}
		if (!json_is_array(arr))
			return false;
		int64_t *ids = acs_xcalloc(json_array_size(arr) + 1, sizeof(*ids));
		size_t n = 0, i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			const json_t *o = links ? json_object_get(v, "target") : v;
			if (jint(json_object_get(o, "id"), &ids[n]))
				n++;
		}
		k->cb.ids(res, ids, n, k->arg);
		return true;
	}
	case OP_TYPES: {
		const json_t *arr = jvalue_array(body);
		if (!arr)
			return false;
		struct acs_ado_type_list *l = acs_xcalloc(1, sizeof(*l));
		l->types = acs_xcalloc(json_array_size(arr) + 1, sizeof(*l->types));
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			char *name = jdup(v, "name");
			if (!name)
				continue;
			struct acs_ado_work_item_type *t = &l->types[l->n++];
			t->name = name;
			t->reference_name = jdup(v, "referenceName");
			t->description = jdup(v, "description");
			t->color = jdup(v, "color");
			t->is_disabled = json_is_true(json_object_get(v, "isDisabled"));
			t->n_states = states_parse(json_object_get(v, "states"), &t->states);
		}
		k->cb.types(res, l, k->arg);
		return true;
	}
	case OP_STATES: {
		const json_t *arr = jvalue_array(body);
		if (!arr)
			return false;
		struct acs_ado_state_list *l = acs_xcalloc(1, sizeof(*l));
		l->n = states_parse(arr, &l->states);
		k->cb.states(res, l, k->arg);
		return true;
	}
	case OP_PROJECTS: {
		struct acs_ado_project_list *l = acs_xcalloc(1, sizeof(*l));
		*l = k->projects;
		memset(&k->projects, 0, sizeof(k->projects));
		k->cb.projects(res, l, k->arg);
		return true;
	}
	case OP_AREAS: {
		struct path_acc acc = { 0 };
		const json_t *roots = jvalue_array(body);
		if (roots) {
			/* Root-nodes listing: pick the area root. */
			size_t i;
			json_t *v;
			json_array_foreach(roots, i, v)
			{
				const char *st = json_string_value(json_object_get(v, "structureTyp"
										      "e"));
				if (!st || strcasecmp(st, "area") == 0)
					flatten_areas(v, NULL, &acc, 0);
			}
		} else if (json_is_object(body)) {
			flatten_areas(body, NULL, &acc, 0);
		}
		if (!acc.n)
			return false;
		struct acs_ado_path_list *l = acs_xcalloc(1, sizeof(*l));
		l->paths = acc.paths;
		l->n = acc.n;
		k->cb.paths(res, l, k->arg);
		return true;
	}
	case OP_COMMENTS: {
		struct acs_ado_comment_list *l = comment_list_parse(body);
		if (!l)
			return false;
		k->cb.comments(res, l, k->arg);
		return true;
	}
	case OP_COMMENT: {
		struct acs_ado_comment *cm = acs_xmalloc(sizeof(*cm));
		if (acs_ado_comment_parse(body, cm) != 0) {
			free(cm);
			return false;
		}
		k->cb.comment(res, cm, k->arg);
		return true;
	}
	case OP_ATTACHMENT: {
		struct acs_ado_attachment_ref *ref = attachment_ref_parse(body);
		if (!ref)
			return false;
		k->cb.attachment(res, ref, k->arg);
		return true;
	}
	case OP_DOWNLOAD: {
		struct acs_ado_blob *blob = acs_xcalloc(1, sizeof(*blob));
		blob->data = acs_xmalloc(rr->body_len + 1);
		memcpy(blob->data, rr->body, rr->body_len);
		blob->data[rr->body_len] = '\0';
		blob->len = rr->body_len;
		const char *ct = rr->response ? acs_http_response_header(rr->response, "Content-"
										       "Type")
					      : NULL;
		blob->content_type = ct ? acs_xstrdup(ct) : NULL;
		k->cb.blob(res, blob, k->arg);
		return true;
	}
	case OP_SUBSCRIPTIONS: {
		const json_t *arr = jvalue_array(body);
		if (!arr)
			return false;
		struct acs_ado_subscription_list *l = acs_xcalloc(1, sizeof(*l));
		l->subs = acs_xcalloc(json_array_size(arr) + 1, sizeof(*l->subs));
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			if (acs_ado_subscription_parse(v, &l->subs[l->n]) == 0)
				l->n++;
		}
		k->cb.subscriptions(res, l, k->arg);
		return true;
	}
	case OP_SUBSCRIPTION: {
		struct acs_ado_subscription *s = acs_xmalloc(sizeof(*s));
		if (acs_ado_subscription_parse(body, s) != 0) {
			free(s);
			return false;
		}
		k->cb.subscription(res, s, k->arg);
		return true;
	}
	}
	return false;
}

static const char *continuation_of(const struct acs_rest_result *rr)
{
	const char *t = rr->response ? acs_http_response_header(rr->response, "x-ms-"
									      "continuationtoken")
				     : NULL;
	if (!t || !*t)
		t = json_string_value(json_object_get(rr->json, "continuationToken"));
	return t && *t ? t : NULL;
}

/* A page of a chained call arrived: send the next one. Returns true when a
 * request went out (k stays alive), false when the call is complete. */
static bool chain_next(struct call *k, const struct acs_rest_result *rr, int *rc)
{
	*rc = 0;
	if (k->op == OP_WORK_ITEMS) {
		if (!parse_work_items(k, rr->json)) {
			*rc = ACS_EPARSE;
			return false;
		}
		if (k->next_id >= k->n_ids)
			return false;
		*rc = send_batch(k);
		return *rc == 0;
	}
	if (k->op == OP_PROJECTS) {
		if (!parse_projects(k, rr->json)) {
			*rc = ACS_EPARSE;
			return false;
		}
		const char *tok = continuation_of(rr);
		/* A repeated token would loop forever: stop there. */
		if (!tok || (k->last_token && strcmp(tok, k->last_token) == 0) ||
		    ++k->pages >= MAX_PROJECT_PAGES)
			return false;
		free(k->last_token);
		k->last_token = acs_xstrdup(tok);
		*rc = send_projects(k);
		return *rc == 0;
	}
	return false;
}

/* The caller's view of a finished REST call (attempts: summed over a chained call);
 * borrows rr's strings. ADO's typeKey is only meaningful on a failure. */
static struct acs_ado_result result_of(const struct acs_rest_result *rr, unsigned attempts)
{
	struct acs_ado_result res = {
		.cls = rr->cls,
		.error = rr->error,
		.status = rr->status,
		.message = rr->message ? rr->message : "",
		.type_key = "",
		.attempts = attempts,
	};
	const char *tk = json_string_value(json_object_get(rr->json, "typeKey"));
	if (tk && rr->cls != ACS_REST_OK)
		res.type_key = tk;
	return res;
}

static void rest_done(const struct acs_rest_result *rr, void *arg)
{
	struct call *k = arg;
	k->attempts += rr->attempts;
	struct acs_ado_result res = result_of(rr, k->attempts);
	if (rr->cls != ACS_REST_OK) {
		deliver_none(k, &res);
		call_free(k);
		return;
	}
	int rc;
	if (chain_next(k, rr, &rc))
		return;
	if (rc) {
		const char *msg = rc == ACS_EPARSE ? "unexpected response shape" : acs_strerror(rc);
		fail(k, rc == ACS_ECLOSED ? ACS_REST_RETRYABLE : ACS_REST_PERMANENT,
		     rc == ACS_ECLOSED ? ACS_ECANCELED : rc, rr->status, msg);
		return;
	}
	if (!deliver_payload(k, &res, rr)) {
		char msg[160];
		snprintf(msg, sizeof(msg), "unexpected response shape (HTTP %ld)", rr->status);
		acs_log(ACS_LOG_WARN, LOG_MOD, "%s", msg);
		fail(k, ACS_REST_PERMANENT, ACS_EPARSE, rr->status, msg);
		return;
	}
	call_free(k);
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

/* ADO error bodies: {"message": "TF401232: ...", "typeKey": "..."}. */
static void ado_error_text(const json_t *body, const char *raw, long status, char *out,
			   size_t outlen)
{
	const char *msg = json_string_value(json_object_get(body, "message"));
	const char *tk = json_string_value(json_object_get(body, "typeKey"));
	if (msg && *msg)
		snprintf(out, outlen, "%s", msg);
	else if (tk && *tk)
		snprintf(out, outlen, "%s", tk);
	else if (raw && *raw && !body)
		snprintf(out, outlen, "HTTP %ld: %.200s", status, raw);
	else
		snprintf(out, outlen, "HTTP %ld", status);
}

static char *origin_of(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return NULL;
	p += 3;
	size_t n = strcspn(p, "/?#");
	return acs_xstrndup(url, (size_t)(p - url) + n);
}

struct acs_ado_client *acs_ado_client_new(uv_loop_t *loop, struct acs_curl_loop *cl,
					  const struct acs_ado_client_opts *opts,
					  char err[ACS_ERR_LEN])
{
	if (!opts || !opts->base_url || !*opts->base_url || !opts->organization ||
	    !*opts->organization || !opts->project || !*opts->project || !opts->pat ||
	    !*opts->pat) {
		snprintf(err, ACS_ERR_LEN,
			 "ado: base_url, organization, project and pat are required");
		return NULL;
	}
	if (strncmp(opts->base_url, "http://", 7) != 0 &&
	    strncmp(opts->base_url, "https://", 8) != 0) {
		snprintf(err, ACS_ERR_LEN, "ado: base_url must be an http(s) URL");
		return NULL;
	}
	struct acs_ado_client *c = acs_xcalloc(1, sizeof(*c));
	c->loop = loop;
	size_t blen = strlen(opts->base_url);
	while (blen && opts->base_url[blen - 1] == '/')
		blen--;
	char *org = acs_rest_escape(opts->organization);
	c->org_url = acs_xasprintf("%.*s/%s", (int)blen, opts->base_url, org);
	free(org);
	c->origin = origin_of(c->org_url);
	c->project = acs_xstrdup(opts->project);
	c->project_esc = acs_rest_escape(opts->project);
	c->max_download = opts->max_download_bytes ? opts->max_download_bytes
						   : DEFAULT_MAX_DOWNLOAD;

	/* Basic auth with an empty user name: base64(":" + PAT). */
	acs_log_add_secret(opts->pat);
	size_t plen = strlen(opts->pat);
	char *cred = acs_xmalloc(plen + 2);
	cred[0] = ':';
	memcpy(cred + 1, opts->pat, plen + 1);
	size_t b64len = sodium_base64_encoded_len(plen + 1, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = acs_xmalloc(b64len);
	sodium_bin2base64(b64, b64len, (const unsigned char *)cred, plen + 1,
			  sodium_base64_VARIANT_ORIGINAL);
	char *auth = acs_xasprintf("Authorization: Basic %s", b64);
	acs_log_add_secret(b64);

	struct acs_rest_opts ro = {
		.name = "ado",
		.base_url = c->org_url,
		.auth_header = auth,
		.preset = ACS_GOVERNOR_ADO,
		.governor = opts->governor,
		.timeout_ms = opts->timeout_ms,
		.max_attempts = opts->max_attempts,
		.max_wait_ms = opts->max_wait_ms,
		.error_text = ado_error_text,
	};
	c->rest = acs_rest_new(loop, cl, &ro, err);
	sodium_memzero(cred, plen + 1);
	sodium_memzero(b64, b64len);
	sodium_memzero(auth, strlen(auth));
	free(cred);
	free(b64);
	free(auth);
	if (!c->rest) {
		free(c->org_url);
		free(c->origin);
		free(c->project);
		free(c->project_esc);
		free(c);
		return NULL;
	}
	return c;
}

static void rest_closed(void *arg)
{
	struct acs_ado_client *c = arg;
	acs_ado_closed_cb cb = c->closed_cb;
	void *cb_arg = c->closed_arg;
	free(c->org_url);
	free(c->origin);
	free(c->project);
	free(c->project_esc);
	free(c);
	if (cb)
		cb(cb_arg);
}

void acs_ado_client_close(struct acs_ado_client *c, acs_ado_closed_cb cb, void *arg)
{
	if (!c || c->closing)
		return;
	c->closing = true;
	c->closed_cb = cb;
	c->closed_arg = arg;
	/* Pending calls come back through rest_done with ACS_ECANCELED. */
	acs_rest_close(c->rest, rest_closed, c);
}

int64_t acs_ado_client_budget_left(const struct acs_ado_client *c)
{
	return acs_rest_budget_left(c->rest);
}

void acs_ado_client_stats(const struct acs_ado_client *c, struct acs_governor_stats *out)
{
	acs_rest_stats(c->rest, out);
}

size_t acs_ado_client_pending(const struct acs_ado_client *c)
{
	return acs_rest_pending(c->rest);
}

const char *acs_ado_client_org_url(const struct acs_ado_client *c)
{
	return c->org_url;
}

/* ------------------------------------------------------------------------ */
/* Public calls                                                              */
/* ------------------------------------------------------------------------ */

#define CHECK_CLIENT(c, cb)                 \
	do {                                \
		if (!(c) || !(cb))          \
			return -EINVAL;     \
		if ((c)->closing)           \
			return ACS_ECLOSED; \
	} while (0)

int acs_ado_get_work_item(struct acs_ado_client *c, int64_t id, acs_ado_work_item_cb cb, void *arg)
{
	return acs_ado_get_work_item_cls(c, ACS_GOVERNOR_INTERACTIVE, id, cb, arg);
}

int acs_ado_get_work_item_cls(struct acs_ado_client *c, enum acs_governor_class cls, int64_t id,
			      acs_ado_work_item_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (id <= 0)
		return -EINVAL;
	struct call *k = call_new(c, OP_WORK_ITEM, arg);
	k->cb.work_item = cb;
	k->cls = cls;
	return start(k, "GET",
		     proj_path(c, "/_apis/wit/workitems/%" PRId64 "?$expand=relations&" API, id),
		     NULL, NULL, 0, false, 0);
}

int acs_ado_get_work_items(struct acs_ado_client *c, const int64_t *ids, size_t n,
			   const char *const *fields, size_t n_fields, acs_ado_work_items_cb cb,
			   void *arg)
{
	return acs_ado_get_work_items_cls(c, ACS_GOVERNOR_INTERACTIVE, ids, n, fields, n_fields, cb,
					  arg);
}

int acs_ado_get_work_items_cls(struct acs_ado_client *c, enum acs_governor_class cls,
			       const int64_t *ids, size_t n, const char *const *fields,
			       size_t n_fields, acs_ado_work_items_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!ids || !n)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (ids[i] <= 0)
			return -EINVAL;
	struct call *k = call_new(c, OP_WORK_ITEMS, arg);
	k->cb.work_items = cb;
	k->cls = cls;
	k->ids = acs_xmalloc(n * sizeof(*k->ids));
	memcpy(k->ids, ids, n * sizeof(*k->ids));
	k->n_ids = n;
	if (fields && n_fields) {
		k->fields = json_array();
		for (size_t i = 0; i < n_fields; i++)
			if (fields[i])
				json_array_append_new(k->fields, json_string(fields[i]));
	}
	int rc = send_batch(k);
	if (rc)
		call_free(k);
	return rc;
}

int acs_ado_create_work_item(struct acs_ado_client *c, const char *type,
			     const struct acs_ado_fields *f, acs_ado_work_item_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!type || !*type || !f)
		return -EINVAL;
	json_t *ops = acs_ado_patch_build(f, 0, NULL, true);
	if (!ops)
		return -ENODATA;
	struct call *k = call_new(c, OP_WORK_ITEM, arg);
	k->cb.work_item = cb;
	/* The '$' is literal: .../workitems/$User%20Story. */
	char *t = acs_rest_escape(type);
	char *path = proj_path(c, "/_apis/wit/workitems/$%s?" API, t);
	free(t);
	return start_json(k, "POST", path, JSON_PATCH, ops);
}

int acs_ado_update_work_item(struct acs_ado_client *c, int64_t id, int64_t rev,
			     const struct acs_ado_fields *f,
			     const struct acs_ado_work_item *current, acs_ado_work_item_cb cb,
			     void *arg)
{
	CHECK_CLIENT(c, cb);
	if (id <= 0 || !f)
		return -EINVAL;
	json_t *ops = acs_ado_patch_build(f, rev, current, false);
	if (!ops)
		return -ENODATA;
	struct call *k = call_new(c, OP_WORK_ITEM, arg);
	k->cb.work_item = cb;
	return start_json(k, "PATCH",
			  proj_path(c, "/_apis/wit/workitems/%" PRId64 "?$expand=relations&" API,
				    id),
			  JSON_PATCH, ops);
}

int acs_ado_create_work_item_ops(struct acs_ado_client *c, const char *type, const json_t *ops,
				 acs_ado_work_item_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!type || !*type || !json_is_array(ops) || !json_array_size(ops))
		return -EINVAL;
	struct call *k = call_new(c, OP_WORK_ITEM, arg);
	k->cb.work_item = cb;
	char *t = acs_rest_escape(type);
	char *path = proj_path(c, "/_apis/wit/workitems/$%s?$expand=relations&" API, t);
	free(t);
	return start_json(k, "POST", path, JSON_PATCH, json_deep_copy(ops));
}

int acs_ado_update_work_item_ops(struct acs_ado_client *c, int64_t id, int64_t rev,
				 const json_t *ops, acs_ado_work_item_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (id <= 0 || rev < 0 || !json_is_array(ops) || !json_array_size(ops))
		return -EINVAL;
	json_t *all = json_array();
	if (rev > 0)
		json_array_append_new(all, json_pack("{s:s,s:s,s:I}", "op", "test", "path", "/rev",
						     "value", (json_int_t)rev));
	json_array_extend(all, (json_t *)ops);
	struct call *k = call_new(c, OP_WORK_ITEM, arg);
	k->cb.work_item = cb;
	return start_json(k, "PATCH",
			  proj_path(c, "/_apis/wit/workitems/%" PRId64 "?$expand=relations&" API,
				    id),
			  JSON_PATCH, all);
}

int acs_ado_delete_work_item(struct acs_ado_client *c, int64_t id, bool destroy, acs_ado_done_cb cb,
			     void *arg)
{
	CHECK_CLIENT(c, cb);
	if (id <= 0)
		return -EINVAL;
	struct call *k = call_new(c, OP_DONE, arg);
	k->cb.done = cb;
	return start(k, "DELETE",
		     proj_path(c, "/_apis/wit/workitems/%" PRId64 "?%s" API, id,
			       destroy ? "destroy=true&" : ""),
		     NULL, NULL, 0, false, 0);
}

int acs_ado_wiql(struct acs_ado_client *c, const char *query, size_t top, acs_ado_ids_cb cb,
		 void *arg)
{
	return acs_ado_wiql_cls(c, ACS_GOVERNOR_INTERACTIVE, query, top, cb, arg);
}

int acs_ado_wiql_cls(struct acs_ado_client *c, enum acs_governor_class cls, const char *query,
		     size_t top, acs_ado_ids_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!query || !*query || strlen(query) > ACS_ADO_MAX_WIQL)
		return -EINVAL;
	struct call *k = call_new(c, OP_WIQL, arg);
	k->cb.ids = cb;
	k->cls = cls;
	json_t *body = json_object();
	json_object_set_new(body, "query", json_string(query));
	char topq[40] = "";
	if (top)
		snprintf(topq, sizeof(topq), "$top=%zu&", top);
	return start_json(k, "POST",
			  proj_path(c, "/_apis/wit/wiql?timePrecision=true&%s" API, topq), NULL,
			  body);
}

int acs_ado_list_work_item_types(struct acs_ado_client *c, acs_ado_types_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	struct call *k = call_new(c, OP_TYPES, arg);
	k->cb.types = cb;
	return start(k, "GET", proj_path(c, "/_apis/wit/workitemtypes?" API), NULL, NULL, 0, false,
		     0);
}

int acs_ado_list_type_states(struct acs_ado_client *c, const char *type, acs_ado_states_cb cb,
			     void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!type || !*type)
		return -EINVAL;
	struct call *k = call_new(c, OP_STATES, arg);
	k->cb.states = cb;
	char *t = acs_rest_escape(type);
	char *path = proj_path(c, "/_apis/wit/workitemtypes/%s/states?" API, t);
	free(t);
	return start(k, "GET", path, NULL, NULL, 0, false, 0);
}

int acs_ado_list_projects(struct acs_ado_client *c, acs_ado_projects_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	struct call *k = call_new(c, OP_PROJECTS, arg);
	k->cb.projects = cb;
	int rc = send_projects(k);
	if (rc)
		call_free(k);
	return rc;
}

int acs_ado_list_area_paths(struct acs_ado_client *c, acs_ado_paths_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	struct call *k = call_new(c, OP_AREAS, arg);
	k->cb.paths = cb;
	return start(k, "GET",
		     proj_path(c, "/_apis/wit/classificationnodes/areas?$depth=%d&" API,
			       AREA_DEPTH),
		     NULL, NULL, 0, false, 0);
}

/* "/{project}{rest}" for a project other than the client's (dashboard pickers). */
static char *other_proj_path(const char *project, const char *rest)
{
	char *p = acs_rest_escape(project);
	char *path = acs_xasprintf("/%s%s", p, rest);
	free(p);
	return path;
}

int acs_ado_list_work_item_types_in(struct acs_ado_client *c, const char *project,
				    acs_ado_types_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!project || !*project)
		return -EINVAL;
	struct call *k = call_new(c, OP_TYPES, arg);
	k->cb.types = cb;
	return start(k, "GET", other_proj_path(project, "/_apis/wit/workitemtypes?" API), NULL,
		     NULL, 0, false, 0);
}

int acs_ado_list_area_paths_in(struct acs_ado_client *c, const char *project, acs_ado_paths_cb cb,
			       void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!project || !*project)
		return -EINVAL;
	struct call *k = call_new(c, OP_AREAS, arg);
	k->cb.paths = cb;
	char rest[128];
	snprintf(rest, sizeof(rest), "/_apis/wit/classificationnodes/areas?$depth=%d&" API,
		 AREA_DEPTH);
	return start(k, "GET", other_proj_path(project, rest), NULL, NULL, 0, false, 0);
}

int acs_ado_get_field(struct acs_ado_client *c, const char *ref, acs_ado_done_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!ref || !*ref)
		return -EINVAL;
	struct call *k = call_new(c, OP_DONE, arg);
	k->cb.done = cb;
	char *r = acs_rest_escape(ref);
	char *path = acs_xasprintf("/_apis/wit/fields/%s?" API, r);
	free(r);
	return start(k, "GET", path, NULL, NULL, 0, false, 0);
}

int acs_ado_get_connection_user(struct acs_ado_client *c, acs_ado_identity_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	struct call *k = call_new(c, OP_IDENTITY, arg);
	k->cb.identity = cb;
	/* Organization level; the public clients send no api-version here (UNCONFIRMED
	 * which versions the service accepts). */
	return start(k, "GET", acs_xstrdup("/_apis/connectionData"), NULL, NULL, 0, false, 0);
}

int acs_ado_list_comments(struct acs_ado_client *c, int64_t work_item_id, size_t top,
			  const char *continuation, bool include_deleted, acs_ado_comments_cb cb,
			  void *arg)
{
	CHECK_CLIENT(c, cb);
	if (work_item_id <= 0)
		return -EINVAL;
	struct call *k = call_new(c, OP_COMMENTS, arg);
	k->cb.comments = cb;
	struct acs_buf q;
	acs_buf_init(&q, 1u << 16);
	if (top)
		(void)acs_buf_printf(&q, "$top=%zu&", top);
	if (continuation && *continuation) {
		char *tok = acs_rest_escape(continuation);
		(void)acs_buf_printf(&q, "continuationToken=%s&", tok);
		free(tok);
	}
	if (include_deleted)
		(void)acs_buf_appends(&q, "includeDeleted=true&");
	char *qs = acs_buf_steal(&q, NULL);
	char *path = proj_path(c, "/_apis/wit/workItems/%" PRId64 "/comments?%s" API_COMMENTS,
			       work_item_id, qs);
	free(qs);
	return start(k, "GET", path, NULL, NULL, 0, false, 0);
}

static int comment_write(struct acs_ado_client *c, const char *method, int64_t work_item_id,
			 int64_t comment_id, const char *text, bool markdown, acs_ado_comment_cb cb,
			 void *arg)
{
	CHECK_CLIENT(c, cb);
	if (work_item_id <= 0 || !text)
		return -EINVAL;
	struct call *k = call_new(c, OP_COMMENT, arg);
	k->cb.comment = cb;
	const char *fmt = markdown ? "format=markdown&" : "";
	char sub[32] = "";
	if (comment_id > 0)
		snprintf(sub, sizeof(sub), "/%" PRId64, comment_id);
	char *path = proj_path(c, "/_apis/wit/workItems/%" PRId64 "/comments%s?%s" API_COMMENTS,
			       work_item_id, sub, fmt);
	json_t *body = json_object();
	json_object_set_new(body, "text", json_string(text));
	return start_json(k, method, path, NULL, body);
}

int acs_ado_create_comment(struct acs_ado_client *c, int64_t work_item_id, const char *text,
			   bool markdown, acs_ado_comment_cb cb, void *arg)
{
	return comment_write(c, "POST", work_item_id, 0, text, markdown, cb, arg);
}

int acs_ado_update_comment(struct acs_ado_client *c, int64_t work_item_id, int64_t comment_id,
			   const char *text, bool markdown, acs_ado_comment_cb cb, void *arg)
{
	if (comment_id <= 0)
		return -EINVAL;
	return comment_write(c, "PATCH", work_item_id, comment_id, text, markdown, cb, arg);
}

int acs_ado_delete_comment(struct acs_ado_client *c, int64_t work_item_id, int64_t comment_id,
			   acs_ado_done_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (work_item_id <= 0 || comment_id <= 0)
		return -EINVAL;
	struct call *k = call_new(c, OP_DONE, arg);
	k->cb.done = cb;
	return start(
		k, "DELETE",
		proj_path(c, "/_apis/wit/workItems/%" PRId64 "/comments/%" PRId64 "?" API_COMMENTS,
			  work_item_id, comment_id),
		NULL, NULL, 0, false, 0);
}

int acs_ado_upload_attachment(struct acs_ado_client *c, const char *file_name, const void *data,
			      size_t len, acs_ado_attachment_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!file_name || !*file_name || (!data && len))
		return -EINVAL;
	struct call *k = call_new(c, OP_ATTACHMENT, arg);
	k->cb.attachment = cb;
	char *name = acs_rest_escape(file_name);
	char *path = proj_path(c, "/_apis/wit/attachments?fileName=%s&" API, name);
	free(name);
	return start(k, "POST", path, "application/octet-stream", data, len, false, 0);
}

int acs_ado_add_attachment_relation(struct acs_ado_client *c, int64_t work_item_id, int64_t rev,
				    const char *url, const char *comment, acs_ado_work_item_cb cb,
				    void *arg)
{
	if (!url || !*url)
		return -EINVAL;
	struct acs_ado_relation_add ra = { .rel = "AttachedFile", .url = url, .comment = comment };
	struct acs_ado_fields f = { .add_relations = &ra, .n_add_relations = 1 };
	return acs_ado_update_work_item(c, work_item_id, rev, &f, NULL, cb, arg);
}

/* The URL to download an attachment url from (heap), with download=true and the
 * api-version added unless present; NULL when url is not on the client's origin:
 * the PAT travels with the request, so only there. */
static char *download_url(const struct acs_ado_client *c, const char *url)
{
	if (!url || !c->origin)
		return NULL;
	size_t olen = strlen(c->origin);
	if (strncasecmp(url, c->origin, olen) != 0 || url[olen] != '/')
		return NULL;
	bool has_query = strchr(url, '?') != NULL;
	char *full = acs_xasprintf("%s%s%s%s", url, has_query ? "&" : "?",
				   strstr(url, "download=") ? "" : "download=true&",
				   strstr(url, "api-version=") ? "" : API);
	size_t n = strlen(full);
	if (full[n - 1] == '&')
		full[n - 1] = '\0';
	return full;
}

int acs_ado_download_attachment(struct acs_ado_client *c, const char *url, acs_ado_blob_cb cb,
				void *arg)
{
	CHECK_CLIENT(c, cb);
	char *full = download_url(c, url);
	if (!full)
		return -EINVAL;
	struct call *k = call_new(c, OP_DOWNLOAD, arg);
	k->cb.blob = cb;
	return start(k, "GET", full, NULL, NULL, 0, true, c->max_download);
}

/* --- subscriptions --- */

static json_t *subscription_body(const struct acs_ado_subscription_spec *s, const char *id)
{
	json_t *b = json_object();
	if (id)
		json_object_set_new(b, "id", json_string(id));
	json_object_set_new(b, "publisherId", json_string("tfs"));
	json_object_set_new(b, "eventType", json_string(s->event_type));
	json_object_set_new(b, "resourceVersion", json_string("1.0"));
	json_object_set_new(b, "consumerId", json_string("webHooks"));
	json_object_set_new(b, "consumerActionId", json_string("httpRequest"));
	json_t *pi = json_object();
	json_object_set_new(pi, "projectId", json_string(s->project_id));
	json_object_set_new(pi, "areaPath", json_string(s->area_path ? s->area_path : ""));
	json_object_set_new(pi, "workItemType",
			    json_string(s->work_item_type ? s->work_item_type : ""));
	if (strcmp(s->event_type, "workitem.updated") == 0)
		json_object_set_new(pi, "changedFields", json_string(""));
	json_object_set_new(b, "publisherInputs", pi);
	json_t *ci = json_object();
	json_object_set_new(ci, "url", json_string(s->url));
	if (s->basic_auth_username)
		json_object_set_new(ci, "basicAuthUsername", json_string(s->basic_auth_username));
	if (s->basic_auth_password)
		json_object_set_new(ci, "basicAuthPassword", json_string(s->basic_auth_password));
	if (s->http_headers)
		json_object_set_new(ci, "httpHeaders", json_string(s->http_headers));
	json_object_set_new(ci, "resourceDetailsToSend",
			    json_string(s->resource_details_to_send ? s->resource_details_to_send
								    : "all"));
	json_object_set_new(ci, "messagesToSend",
			    json_string(s->messages_to_send ? s->messages_to_send : "none"));
	json_object_set_new(ci, "detailedMessagesToSend",
			    json_string(s->detailed_messages_to_send ? s->detailed_messages_to_send
								     : "none"));
	json_object_set_new(b, "consumerInputs", ci);
	return b;
}

static bool spec_valid(const struct acs_ado_subscription_spec *s)
{
	return s && s->event_type && *s->event_type && s->project_id && *s->project_id && s->url &&
	       *s->url;
}

/* Serialise, send, then wipe every copy of the password this module made
 * (jansson's string storage and the dumped text). */
static int start_subscription(struct call *k, const char *method, char *path, json_t *body)
{
	char *text = acs_json_dumps(body, JSON_COMPACT);
	json_t *pw = json_object_get(json_object_get(body, "consumerInputs"), "basicAuthPassword");
	if (pw)
		sodium_memzero((char *)json_string_value(pw), json_string_length(pw));
	json_decref(body);
	if (!text) {
		free(path);
		call_free(k);
		return -ENOMEM;
	}
	size_t len = strlen(text);
	int rc = start(k, method, path, "application/json", text, len, false, 0);
	sodium_memzero(text, len);
	free(text);
	return rc;
}

int acs_ado_list_subscriptions(struct acs_ado_client *c, const char *event_type,
			       acs_ado_subscriptions_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	struct call *k = call_new(c, OP_SUBSCRIPTIONS, arg);
	k->cb.subscriptions = cb;
	char *path;
	if (event_type && *event_type) {
		char *et = acs_rest_escape(event_type);
		path = acs_xasprintf("/_apis/hooks/subscriptions?publisherId=tfs&eventType=%s&" API,
				     et);
		free(et);
	} else {
		path = acs_xstrdup("/_apis/hooks/subscriptions?publisherId=tfs&" API);
	}
	return start(k, "GET", path, NULL, NULL, 0, false, 0);
}

int acs_ado_create_subscription(struct acs_ado_client *c,
				const struct acs_ado_subscription_spec *spec,
				acs_ado_subscription_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!spec_valid(spec))
		return -EINVAL;
	struct call *k = call_new(c, OP_SUBSCRIPTION, arg);
	k->cb.subscription = cb;
	return start_subscription(k, "POST", acs_xstrdup("/_apis/hooks/subscriptions?" API),
				  subscription_body(spec, NULL));
}

int acs_ado_replace_subscription(struct acs_ado_client *c, const char *id,
				 const struct acs_ado_subscription_spec *spec,
				 acs_ado_subscription_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!id || !*id || !spec_valid(spec))
		return -EINVAL;
	struct call *k = call_new(c, OP_SUBSCRIPTION, arg);
	k->cb.subscription = cb;
	char *eid = acs_rest_escape(id);
	char *path = acs_xasprintf("/_apis/hooks/subscriptions/%s?" API, eid);
	free(eid);
	return start_subscription(k, "PUT", path, subscription_body(spec, id));
}

int acs_ado_delete_subscription(struct acs_ado_client *c, const char *id, acs_ado_done_cb cb,
				void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!id || !*id)
		return -EINVAL;
	struct call *k = call_new(c, OP_DONE, arg);
	k->cb.done = cb;
	char *eid = acs_rest_escape(id);
	char *path = acs_xasprintf("/_apis/hooks/subscriptions/%s?" API, eid);
	free(eid);
	return start(k, "DELETE", path, NULL, NULL, 0, false, 0);
}

/* --- attachments streamed through a file ------------------------------------------ */

/* One file transfer: its own small completion path, outside the call/op machinery
 * (no paging, no payload parsing beyond the upload answer). */
struct file_call {
	struct acs_ado_client *c;
	acs_ado_attachment_cb up_cb; /**< upload, or NULL */
	acs_ado_file_cb down_cb;     /**< download, or NULL */
	void *arg;
};

static void file_rest_done(const struct acs_rest_result *rr, void *arg)
{
	struct file_call *f = arg;
	struct acs_ado_result res = result_of(rr, rr->attempts);
	if (f->down_cb) {
		f->down_cb(&res, rr->cls == ACS_REST_OK ? rr->file_bytes : 0, f->arg);
	} else if (rr->cls != ACS_REST_OK) {
		f->up_cb(&res, NULL, f->arg);
	} else {
		struct acs_ado_attachment_ref *ref = attachment_ref_parse(rr->json);
		if (!ref) {
			res.cls = ACS_REST_PERMANENT;
			res.error = ACS_EPARSE;
			res.message = "unexpected response shape";
		}
		f->up_cb(&res, ref, f->arg);
	}
	free(f);
}

/* Queue rc with one of up_cb / down_cb; on failure neither ever runs. */
static int file_start(struct acs_ado_client *c, const struct acs_rest_call *rc,
		      acs_ado_attachment_cb up_cb, acs_ado_file_cb down_cb, void *arg)
{
	struct file_call *f = acs_xcalloc(1, sizeof(*f));
	f->c = c;
	f->up_cb = up_cb;
	f->down_cb = down_cb;
	f->arg = arg;
	int err = acs_rest_request(c->rest, rc, file_rest_done, f);
	if (err)
		free(f);
	return err;
}

int acs_ado_upload_attachment_file(struct acs_ado_client *c, enum acs_governor_class cls,
				   const char *file_name, uv_file fd, int64_t offset, uint64_t len,
				   uint64_t timeout_ms, acs_ado_attachment_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (!file_name || !*file_name || fd < 0 || offset < 0)
		return -EINVAL;
	char *name = acs_rest_escape(file_name);
	char *path = proj_path(c, "/_apis/wit/attachments?fileName=%s&" API, name);
	free(name);
	struct acs_rest_upload up = { .fd = fd, .offset = offset, .len = len };
	struct acs_rest_call rc = {
		.method = "POST",
		.path = path,
		.content_type = "application/octet-stream",
		.cls = cls,
		.upload = &up,
		.timeout_ms = timeout_ms,
	};
	int err = file_start(c, &rc, cb, NULL, arg);
	free(path);
	return err;
}

int acs_ado_download_attachment_to_file(struct acs_ado_client *c, enum acs_governor_class cls,
					const char *url, uv_file fd, size_t max_bytes,
					uint64_t timeout_ms, acs_rest_bytes_cb bytes,
					void *bytes_arg, acs_ado_file_cb cb, void *arg)
{
	CHECK_CLIENT(c, cb);
	if (fd < 0)
		return -EINVAL;
	char *full = download_url(c, url);
	if (!full)
		return -EINVAL;
	struct acs_rest_download down = { .fd = fd, .bytes = bytes, .bytes_arg = bytes_arg };
	struct acs_rest_call rc = {
		.method = "GET",
		.path = full,
		.cls = cls,
		.raw = true,
		.max_response_bytes = max_bytes ? max_bytes : c->max_download,
		.download = &down,
		.timeout_ms = timeout_ms,
	};
	int err = file_start(c, &rc, NULL, cb, arg);
	free(full);
	return err;
}
