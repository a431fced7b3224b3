/* SPDX-License-Identifier: MIT */
/* The per-item sync logic (see syncer.h DESIGN): one struct run per job, driven by the
 * client and store callbacks from "which pair is this" through "what changed" to "what
 * to write where", ending with the pair row, the sync_log rows and the outcome. */
#include "syncer.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "log.h"
#include "mapper.h"
#include "mem.h"
#include "pairs.h"
#include "rest.h"
#include "store.h"
#include "webhook.h"

/* The adapter needs the scheduler's job functions; weak so that this module links
 * without scheduler.c (unit tests call acs_syncer_sync directly). */
#pragma weak acs_job_item_key
#pragma weak acs_job_event_count
#pragma weak acs_job_event_at
#pragma weak acs_job_finish

/* The description footer: the back-link on the ClickUp side (product.md §1). */
#define FOOTER_PREFIX "Azure DevOps work item: "
/* The comment of the Hyperlink relation we add: marks the twin as ours. */
#define LINK_COMMENT "ClickUp task (ado-clickup-sync)"
/* Twin searches look this far before the intent's time (clock skew between hosts). */
#define TWIN_SLACK_MS (10 * 60 * 1000)
/* Pages of a ClickUp list searched for a twin. */
#define TWIN_MAX_PAGES 20

#define CLS ACS_GOVERNOR_INTERACTIVE
#define NFIELDS 8

struct mapping {
	const struct acs_config_map *cfg; /**< borrowed from the config */
	int64_t id;			  /**< project_map.id */
	struct acs_mapper *mapper;
	/* learned at start, freed once the mapper is built */
	char **type_names;
	struct acs_ado_state_list **states; /**< per type_names entry */
	size_t n_types;
	struct acs_clickup_list *list;
	struct acs_clickup_members *members;
};

struct acs_syncer {
	uv_loop_t *loop;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	const struct acs_config *cfg;
	struct mapping *maps;
	size_t n_maps;
	/* start */
	acs_syncer_ready_cb ready_cb;
	void *ready_arg;
	unsigned start_pending;
	int start_rc;
	char start_err[ACS_ERR_LEN];
	bool started, ready;
	/* lifetime */
	size_t running;
	bool closing;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/* One sync_log row waiting for the end of the run. */
struct logrow {
	char *direction, *action, *status, *fields, *message;
};

struct run {
	struct acs_syncer *s;
	acs_syncer_done_cb done;
	void *done_arg;
	/* what the events say */
	int64_t ado_id;
	char *task_id;
	json_t *ado_root; /**< newest created/updated ADO delivery (owned) */
	int64_t ado_ev_rev;
	int64_t ado_ev_changed;
	unsigned ado_events; /**< ADO created/updated events */
	unsigned cu_events;  /**< ClickUp created/updated events */
	bool cu_created;
	int64_t cu_max_hist;		/**< newest history item date */
	int64_t cu_field_time[NFIELDS]; /**< newest history date per field bit */
	char *skip_note;		/**< events out of scope, for the log */
	/* state */
	struct mapping *map;
	struct acs_pair *pair;
	struct acs_intent *intent;
	struct acs_canon base;
	json_t *changed; /**< base "changed" (owned) */
	char *pending_link;
	bool pending_footer;
	/* ADO view */
	bool have_a;
	struct acs_canon a;
	int64_t a_rev;
	int64_t a_changed;
	char **a_links; /**< Hyperlink urls of the item */
	size_t n_a_links;
	json_t *a_fields; /**< owned: fields of the item (create flows) */
	/* ClickUp view */
	bool have_c;
	struct acs_canon c;
	int64_t c_updated;
	json_t *c_task; /**< owned: task JSON as read, footer stripped */
	char *c_url;	/**< task url */
	char *c_footer; /**< URL of the footer found in the description, or NULL */
	/* merge */
	struct acs_canon target;
	unsigned push_ado, push_cu, from_a, from_c, conflicts;
	unsigned remerge;
	int64_t new_ado_rev, new_cu_rev;
	bool wrote_ado, wrote_cu;
	struct acs_clickup_write w;
	size_t w_step;
	unsigned twin_page;
	struct acs_mapper_notes notes;
	/* output */
	struct logrow *logs;
	size_t n_logs;
	enum acs_job_outcome outcome;
	char *outcome_msg;
};

static void merge_and_push(struct run *r);
static void push_clickup(struct run *r);
static void save_pair(struct run *r);
static void paired_begin(struct run *r);

/* ------------------------------------------------------------------------ */
/* Small helpers                                                             */
/* ------------------------------------------------------------------------ */

static const char *nz(const char *s)
{
	return s ? s : "";
}

static unsigned field_bit(size_t i)
{
	return 1u << i;
}

static json_t *fields_json(unsigned mask)
{
	json_t *a = json_array();
	for (size_t i = 0; i < NFIELDS; i++)
		if (mask & field_bit(i))
			json_array_append_new(a, json_string(acs_field_name(field_bit(i))));
	return a;
}

static char *fields_text(unsigned mask)
{
	json_t *a = fields_json(mask);
	char *s = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	acs_require(s != NULL);
	return s;
}

/* FNV-1a, for the fingerprint of the mapper notes of a pair. */
static uint64_t fnv(const char *s, uint64_t h)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

static bool istr_eq(const char *a, const char *b)
{
	return a && b && strcasecmp(a, b) == 0;
}

/* The description with the footer paragraph appended. */
static char *with_footer(const char *md, const char *url)
{
	if (!md || !*md)
		return acs_xasprintf(FOOTER_PREFIX "%s", url);
	return acs_xasprintf("%s\n\n" FOOTER_PREFIX "%s", md, url);
}

/* Strip a footer paragraph from md in place; returns its URL (heap) or NULL. The
 * footer must be the final paragraph: a single line after a blank line (or the whole
 * text). */
char *acs_syncer_strip_footer(char *md)
{
	if (!md)
		return NULL;
	size_t plen = strlen(FOOTER_PREFIX);
	char *at = NULL;
	if (!strncmp(md, FOOTER_PREFIX, plen))
		at = md;
	for (char *p = strstr(md, "\n\n" FOOTER_PREFIX); p; p = strstr(p + 1, "\n\n" FOOTER_PREFIX))
		at = p;
	if (!at)
		return NULL;
	char *url = at == md ? at + plen : at + 2 + plen;
	size_t ulen = strcspn(url, " \t\r\n");
	for (const char *q = url + ulen; *q; q++)
		if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n')
			return NULL; /* more text after it: not our footer */
	if (!ulen)
		return NULL;
	char *out = acs_xstrndup(url, ulen);
	/* Cut the footer and the whitespace before it. */
	*at = '\0';
	size_t n = strlen(md);
	while (n && (md[n - 1] == '\n' || md[n - 1] == ' ' || md[n - 1] == '\r'))
		md[--n] = '\0';
	return out;
}

static char *ado_web_url(const struct acs_syncer *s, const struct mapping *m, int64_t id)
{
	char *p = acs_rest_escape(m->cfg->ado_project);
	char *u = acs_xasprintf("%s/%s/_workitems/edit/%" PRId64, acs_ado_client_org_url(s->ado), p,
				id);
	free(p);
	return u;
}

/* Copy the fields of mask from src into dst (both canonical). */
static void canon_copy_fields(struct acs_canon *dst, const struct acs_canon *src, unsigned mask)
{
	mask &= src->present;
	if (mask & ACS_F_TITLE)
		acs_canon_set_title(dst, nz(src->title));
	if (mask & ACS_F_DESCRIPTION)
		(void)acs_canon_set_description(dst, nz(src->description));
	if (mask & ACS_F_STATE)
		acs_canon_set_state(dst, nz(src->state));
	if (mask & ACS_F_PRIORITY)
		acs_canon_set_priority(dst, src->priority);
	if (mask & ACS_F_ASSIGNEE)
		acs_canon_set_assignee(dst, nz(src->assignee));
	if (mask & ACS_F_TAGS)
		acs_canon_set_tags(dst, (const char *const *)src->tags, src->n_tags);
	if (mask & ACS_F_DUE)
		acs_canon_set_due(dst, src->due_ms);
	if (mask & ACS_F_CUSTOM)
		for (size_t i = 0; i < src->n_custom; i++)
			(void)acs_canon_set_custom(dst, src->custom[i].ref, src->custom[i].value);
}

/* The relations of an ADO delivery: resource.revision.relations (updated) or
 * resource.relations (created). Borrowed. */
static json_t *hook_relations(json_t *root)
{
	json_t *res = json_object_get(root, "resource");
	json_t *rev = json_object_get(res, "revision");
	return json_object_get(rev ? rev : res, "relations");
}

static void links_clear(struct run *r)
{
	for (size_t i = 0; i < r->n_a_links; i++)
		free(r->a_links[i]);
	free(r->a_links);
	r->a_links = NULL;
	r->n_a_links = 0;
}

static void links_add(struct run *r, const char *rel, const char *url)
{
	if (!rel || !url || strcmp(rel, "Hyperlink"))
		return;
	r->a_links = acs_xrealloc(r->a_links, (r->n_a_links + 1) * sizeof(*r->a_links));
	r->a_links[r->n_a_links++] = acs_xstrdup(url);
}

static void links_from_json(struct run *r, const json_t *rels)
{
	links_clear(r);
	size_t i;
	json_t *v;
	json_array_foreach(rels, i, v)
	{
		links_add(r, json_string_value(json_object_get(v, "rel")),
			  json_string_value(json_object_get(v, "url")));
	}
}

static void links_from_wi(struct run *r, const struct acs_ado_work_item *wi)
{
	links_clear(r);
	for (size_t i = 0; i < wi->n_relations; i++)
		links_add(r, wi->relations[i].rel, wi->relations[i].url);
}

static bool has_link(const struct run *r, const char *url)
{
	for (size_t i = 0; i < r->n_a_links; i++)
		if (!strcmp(r->a_links[i], url))
			return true;
	return false;
}

/* True when the delivery's relations hold a Hyperlink we made. */
static bool hook_has_our_link(json_t *root)
{
	size_t i;
	json_t *v;
	json_array_foreach(hook_relations(root), i, v)
	{
		const char *rel = json_string_value(json_object_get(v, "rel"));
		const json_t *attrs = json_object_get(v, "attributes");
		const char *cm = json_string_value(json_object_get(attrs, "comment"));
		if (rel && !strcmp(rel, "Hyperlink") && cm && !strcmp(cm, LINK_COMMENT))
			return true;
	}
	return false;
}

static json_t *link_op(const char *url)
{
	return json_pack("{s:s,s:s,s:{s:s,s:s,s:{s:s}}}", "op", "add", "path", "/relations/-",
			 "value", "rel", "Hyperlink", "url", url, "attributes", "comment",
			 LINK_COMMENT);
}

/* ------------------------------------------------------------------------ */
/* Run lifecycle: log rows, outcome                                          */
/* ------------------------------------------------------------------------ */

static void run_log(struct run *r, const char *direction, const char *action, const char *status,
		    unsigned fields, const char *fmt, ...) ACS_PRINTF(6, 7);

static void run_log(struct run *r, const char *direction, const char *action, const char *status,
		    unsigned fields, const char *fmt, ...)
{
	r->logs = acs_xrealloc(r->logs, (r->n_logs + 1) * sizeof(*r->logs));
	struct logrow *l = &r->logs[r->n_logs++];
	l->direction = acs_xstrdup(direction ? direction : "none");
	l->action = acs_xstrdup(action);
	l->status = acs_xstrdup(status);
	l->fields = fields ? fields_text(fields) : NULL;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	l->message = acs_xstrdup(msg);
}

static void run_free(struct run *r)
{
	struct acs_syncer *s = r->s;
	free(r->task_id);
	json_decref(r->ado_root);
	free(r->skip_note);
	acs_pair_free(r->pair);
	acs_intent_free(r->intent);
	acs_canon_free(&r->base);
	json_decref(r->changed);
	free(r->pending_link);
	acs_canon_free(&r->a);
	links_clear(r);
	json_decref(r->a_fields);
	acs_canon_free(&r->c);
	json_decref(r->c_task);
	free(r->c_url);
	free(r->c_footer);
	acs_canon_free(&r->target);
	acs_mapper_clickup_write_clear(&r->w);
	for (size_t i = 0; i < r->n_logs; i++) {
		free(r->logs[i].direction);
		free(r->logs[i].action);
		free(r->logs[i].status);
		free(r->logs[i].fields);
		free(r->logs[i].message);
	}
	free(r->logs);
	free(r->outcome_msg);
	free(r);
	s->running--;
	if (s->closing && !s->running && !s->start_pending) {
		void (*cb)(void *) = s->close_cb;
		void *arg = s->close_arg;
		for (size_t i = 0; i < s->n_maps; i++)
			acs_mapper_free(s->maps[i].mapper);
		free(s->maps);
		free(s);
		if (cb)
			cb(arg);
	}
}

static void run_complete(struct run *r)
{
	r->done(r->outcome, r->outcome_msg, r->done_arg);
	run_free(r);
}

static void on_log_written(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc && r->outcome == ACS_JOB_DONE) {
		/* The history must not silently miss a row: try the job again. */
		r->outcome = ACS_JOB_RETRY;
		free(r->outcome_msg);
		r->outcome_msg = acs_xasprintf("sync_log: %s", err ? err : acs_strerror(rc));
	}
	run_complete(r);
}

static void run_finish(struct run *r, enum acs_job_outcome outcome, const char *msg)
{
	r->outcome = outcome;
	free(r->outcome_msg);
	r->outcome_msg = msg ? acs_xstrdup(msg) : NULL;
	if (!r->n_logs)
		run_log(r, NULL, "skipped", "skipped", 0, "nothing to do");
	int64_t map_id = r->map ? r->map->id : (r->pair ? r->pair->map_id : 0);
	int64_t sync_id = r->pair ? r->pair->id : 0;
	int64_t ado_id = r->pair ? r->pair->ado_id : r->ado_id;
	const char *cu_id = r->pair ? r->pair->clickup_id : r->task_id;
	for (size_t i = 0; i < r->n_logs; i++) {
		struct acs_sync_log_row row = {
			.map_id = map_id,
			.sync_id = sync_id,
			.ado_id = ado_id,
			.clickup_id = cu_id,
			.direction = r->logs[i].direction,
			.action = r->logs[i].action,
			.status = r->logs[i].status,
			.fields = r->logs[i].fields,
			.message = r->logs[i].message,
		};
		bool last = i + 1 == r->n_logs;
		int rc = acs_pairs_log(r->s->store, &row, last ? on_log_written : NULL,
				       last ? r : NULL);
		if (rc && last) {
			on_log_written(rc, acs_strerror(rc), r);
			return;
		}
	}
}

/* Map a failed service call to the job outcome, with a log row. */
static void run_fail(struct run *r, enum acs_rest_class cls, long status, const char *message,
		     const char *direction, const char *what)
{
	char msg[ACS_ERR_LEN + 128];
	snprintf(msg, sizeof(msg), "%s: %s%s%.0ld%s", what, nz(message), status ? " (HTTP " : "",
		 status, status ? ")" : "");
	if (cls == ACS_REST_PERMANENT) {
		run_log(r, direction, "error", "error", 0, "%s", msg);
		run_finish(r, ACS_JOB_FAILED, msg);
	} else {
		run_log(r, direction, "retry", "retry", 0, "%s", msg);
		run_finish(r, ACS_JOB_RETRY, msg);
	}
}

static void run_fail_store(struct run *r, int rc, const char *err, const char *what)
{
	char msg[ACS_ERR_LEN + 64];
	snprintf(msg, sizeof(msg), "%s: %s", what, err ? err : acs_strerror(rc));
	run_log(r, NULL, "retry", "retry", 0, "%s", msg);
	run_finish(r, ACS_JOB_RETRY, msg);
}

/* A call that could not even be queued. */
static void run_fail_call(struct run *r, int rc, const char *what)
{
	char msg[ACS_ERR_LEN];
	snprintf(msg, sizeof(msg), "%s: %s", what, acs_strerror(rc));
	if (rc == -EINVAL || rc == -ENODATA) {
		run_log(r, NULL, "error", "error", 0, "%s", msg);
		run_finish(r, ACS_JOB_FAILED, msg);
	} else {
		run_log(r, NULL, "retry", "retry", 0, "%s", msg);
		run_finish(r, ACS_JOB_RETRY, msg);
	}
}

/* Log the mapper notes once per pair: their fingerprint is kept in the pair row. */
static void log_notes(struct run *r)
{
	if (!r->notes.n)
		return;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < r->notes.n; i++)
		h = fnv(r->notes.v[i].msg, h);
	char fp[40];
	snprintf(fp, sizeof(fp), "notes:%016" PRIx64, h);
	if (r->pair && r->pair->ado_fingerprint && !strcmp(r->pair->ado_fingerprint, fp))
		return;
	char msg[1024] = "";
	size_t len = 0;
	for (size_t i = 0; i < r->notes.n && len < sizeof(msg) - 1; i++)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%s%s", i ? "; " : "",
					r->notes.v[i].msg);
	unsigned fields = 0;
	for (size_t i = 0; i < r->notes.n; i++)
		fields |= r->notes.v[i].field;
	run_log(r, NULL, "unmapped", "skipped", fields, "%s", msg);
	if (r->pair) {
		free(r->pair->ado_fingerprint);
		r->pair->ado_fingerprint = acs_xstrdup(fp);
	}
}

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

static unsigned hist_field_bit(const char *f)
{
	static const struct {
		const char *name;
		unsigned bit;
	} t[] = {
		{ "name", ACS_F_TITLE },
		{ "content", ACS_F_DESCRIPTION },
		{ "status", ACS_F_STATE },
		{ "priority", ACS_F_PRIORITY },
		{ "assignee_add", ACS_F_ASSIGNEE },
		{ "assignee_rem", ACS_F_ASSIGNEE },
		{ "tag", ACS_F_TAGS },
		{ "tag_removed", ACS_F_TAGS },
		{ "due_date", ACS_F_DUE },
		{ "custom_field", ACS_F_CUSTOM },
	};
	for (size_t i = 0; f && i < ACS_ARRAY_SIZE(t); i++)
		if (!strcmp(f, t[i].name))
			return t[i].bit;
	return 0;
}

static void note_skip(struct run *r, const char *what)
{
	char *n = acs_xasprintf("%s%s%s", nz(r->skip_note), r->skip_note ? ", " : "", what);
	free(r->skip_note);
	r->skip_note = n;
}

static void parse_ado_event(struct run *r, const struct acs_job_event *ev)
{
	char err[ACS_ERR_LEN] = "";
	json_t *root = json_loads(ev->body ? ev->body : "", 0, NULL);
	struct acs_webhook_event we;
	memset(&we, 0, sizeof(we));
	int rc = root ? acs_webhook_parse_ado_json(root, &we, err) : ACS_EPARSE;
	if (rc) {
		note_skip(r, rc == ACS_WEBHOOK_EIGNORED ? "ignored ADO event"
							: "unreadable ADO event");
	} else if (we.type == ACS_WEBHOOK_CREATED || we.type == ACS_WEBHOOK_UPDATED) {
		r->ado_events++;
		if (!r->ado_id)
			r->ado_id = we.ado_id;
		if (we.ado_id == r->ado_id && we.ado_rev > r->ado_ev_rev) {
			json_decref(r->ado_root);
			r->ado_root = json_incref(root);
			r->ado_ev_rev = we.ado_rev;
			r->ado_ev_changed = we.changed_at_ms;
		}
	} else {
		char what[64];
		snprintf(what, sizeof(what), "ADO %s", acs_webhook_type_name(we.type));
		note_skip(r, what);
	}
	acs_webhook_event_deinit(&we);
	json_decref(root);
}

static void parse_clickup_event(struct run *r, const struct acs_job_event *ev)
{
	char err[ACS_ERR_LEN] = "";
	json_t *root = json_loads(ev->body ? ev->body : "", 0, NULL);
	struct acs_webhook_event we;
	memset(&we, 0, sizeof(we));
	int rc = root ? acs_webhook_parse_clickup_json(root, &we, err) : ACS_EPARSE;
	if (rc) {
		note_skip(r, rc == ACS_WEBHOOK_EIGNORED ? "ignored ClickUp event"
							: "unreadable ClickUp event");
	} else if (we.type == ACS_WEBHOOK_CREATED || we.type == ACS_WEBHOOK_UPDATED) {
		r->cu_events++;
		if (we.type == ACS_WEBHOOK_CREATED)
			r->cu_created = true;
		if (!r->task_id && we.item_id)
			r->task_id = acs_xstrdup(we.item_id);
		size_t i;
		json_t *h;
		json_array_foreach(json_object_get(root, "history_items"), i, h)
		{
			int64_t d = acs_clickup_parse_ms(json_object_get(h, "date"));
			if (d > r->cu_max_hist)
				r->cu_max_hist = d;
			const char *field = json_string_value(json_object_get(h, "field"));
			unsigned bit = hist_field_bit(field);
			for (size_t k = 0; k < NFIELDS; k++)
				if ((bit & field_bit(k)) && d > r->cu_field_time[k])
					r->cu_field_time[k] = d;
		}
		if (!json_array_size(json_object_get(root, "history_items")))
			r->cu_max_hist = INT64_MAX; /* no dates: never an echo by date */
	} else {
		char what[64];
		snprintf(what, sizeof(what), "ClickUp %s", acs_webhook_type_name(we.type));
		note_skip(r, what);
	}
	acs_webhook_event_deinit(&we);
	json_decref(root);
}

/* ------------------------------------------------------------------------ */
/* Mappings                                                                  */
/* ------------------------------------------------------------------------ */

static struct mapping *map_by_id(struct acs_syncer *s, int64_t id)
{
	for (size_t i = 0; i < s->n_maps; i++)
		if (s->maps[i].id == id)
			return &s->maps[i];
	return NULL;
}

static struct mapping *map_by_list(struct acs_syncer *s, const char *list_id)
{
	for (size_t i = 0; list_id && i < s->n_maps; i++)
		if (!strcmp(s->maps[i].cfg->clickup_list_id, list_id))
			return &s->maps[i];
	return NULL;
}

static bool area_under(const char *path, const char *parent)
{
	if (!parent || !*parent)
		return true;
	size_t n = strlen(parent);
	return path &&
	       (istr_eq(path, parent) || (!strncasecmp(path, parent, n) && path[n] == '\\'));
}

/* The [ado] assigned_to filter, when it is a literal: the identity string
 * "Name <email>" matches by e-mail or name. A macro (@Me) cannot be evaluated here. */
static bool assigned_ok(const struct acs_syncer *s, const json_t *fields)
{
	const char *want = s->cfg->ado.assigned_to;
	if (!want || !*want || *want == '@')
		return true;
	const json_t *v = json_object_get(fields, "System.AssignedTo");
	const char *got = json_string_value(v);
	if (!got && json_is_object(v))
		got = json_string_value(json_object_get(v, "uniqueName"));
	if (!got)
		return false;
	if (strcasestr(got, want))
		return true;
	return false;
}

static struct mapping *map_for_ado(struct acs_syncer *s, const json_t *fields)
{
	const char *proj = json_string_value(json_object_get(fields, "System.TeamProject"));
	const char *area = json_string_value(json_object_get(fields, "System.AreaPath"));
	const char *type = json_string_value(json_object_get(fields, "System.WorkItemType"));
	if (!assigned_ok(s, fields))
		return NULL;
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct acs_config_map *m = s->maps[i].cfg;
		if (!istr_eq(proj, m->ado_project) || !area_under(area, m->ado_area_path))
			continue;
		for (size_t k = 0; k < m->ado_work_item_types.n; k++)
			if (istr_eq(type, m->ado_work_item_types.v[k]))
				return &s->maps[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Base                                                                      */
/* ------------------------------------------------------------------------ */

static void base_load(struct run *r)
{
	json_t *j = json_loads(nz(r->pair->base), 0, NULL);
	acs_canon_free(&r->base);
	json_t *f = json_object_get(j, "fields");
	if (f && acs_canon_from_json(f, &r->base, NULL))
		acs_canon_init(&r->base);
	json_decref(r->changed);
	r->changed = json_object_get(j, "changed");
	r->changed = json_is_object(r->changed) ? json_incref(r->changed) : json_object();
	json_t *p = json_object_get(j, "pending");
	free(r->pending_link);
	r->pending_link = json_string_value(json_object_get(p, "ado_link"))
				  ? acs_xstrdup(json_string_value(json_object_get(p, "ado_link")))
				  : NULL;
	r->pending_footer = json_is_true(json_object_get(p, "clickup_footer"));
	json_decref(j);
}

static char *base_dump(const struct run *r, const struct acs_canon *c)
{
	json_t *j = json_object();
	json_object_set_new(j, "fields", acs_canon_to_json(c));
	json_object_set(j, "changed", r->changed);
	if (r->pending_link || r->pending_footer) {
		json_t *p = json_object();
		if (r->pending_link)
			json_object_set_new(p, "ado_link", json_string(r->pending_link));
		if (r->pending_footer)
			json_object_set_new(p, "clickup_footer", json_true());
		json_object_set_new(j, "pending", p);
	}
	char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(j);
	acs_require(s != NULL);
	return s;
}

static void changed_set(struct run *r, unsigned mask, int64_t ms)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if ((mask & field_bit(i)) && ms > 0)
			json_object_set_new(r->changed, acs_field_name(field_bit(i)),
					    json_integer((json_int_t)ms));
}

static int64_t changed_get(const struct run *r, unsigned bit)
{
	return (int64_t)json_integer_value(json_object_get(r->changed, acs_field_name(bit)));
}

/* ClickUp's change time of a field: its newest history item, else date_updated. */
static int64_t cu_time(const struct run *r, size_t i)
{
	return r->cu_field_time[i] ? r->cu_field_time[i] : r->c_updated;
}

/* ------------------------------------------------------------------------ */
/* Reading the views                                                         */
/* ------------------------------------------------------------------------ */

/* Set the ClickUp view from a task JSON: the footer is stripped first. */
static void set_c_view(struct run *r, const json_t *task, const struct acs_canon *base)
{
	json_decref(r->c_task);
	r->c_task = json_deep_copy(task);
	free(r->c_footer);
	r->c_footer = NULL;
	const char *md = json_string_value(json_object_get(r->c_task, "markdown_description"));
	if (md) {
		char *copy = acs_xstrdup(md);
		r->c_footer = acs_syncer_strip_footer(copy);
		json_object_set_new(r->c_task, "markdown_description", json_string(copy));
		free(copy);
	}
	free(r->c_url);
	r->c_url = acs_xstrdup(nz(json_string_value(json_object_get(task, "url"))));
	r->c_updated = acs_clickup_parse_ms(json_object_get(task, "date_updated"));
	acs_canon_free(&r->c);
	(void)acs_mapper_from_clickup(r->map->mapper, r->c_task, base, &r->c, &r->notes);
	r->have_c = true;
}

static void set_a_view_fields(struct run *r, const json_t *fields, int64_t rev, int64_t changed)
{
	acs_canon_free(&r->a);
	(void)acs_mapper_from_ado(r->map->mapper, fields, &r->a, &r->notes);
	r->a_rev = rev;
	r->a_changed = changed;
	r->have_a = true;
}

static void set_a_view_wi(struct run *r, const struct acs_ado_work_item *wi)
{
	set_a_view_fields(r, wi->fields, wi->rev, wi->changed_date_ms);
	links_from_wi(r, wi);
}

/* ------------------------------------------------------------------------ */
/* Paired: merge and push                                                    */
/* ------------------------------------------------------------------------ */

static bool ado_wins(const struct run *r, size_t i)
{
	switch (r->s->cfg->sync.conflict) {
	case ACS_CONFLICT_ADO:
		return true;
	case ACS_CONFLICT_CLICKUP:
		return false;
	case ACS_CONFLICT_NEWEST:
		break;
	}
	return r->a_changed >= cu_time(r, i);
}

static void on_ado_patched(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			   void *arg);
static void on_ado_refetched(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			     void *arg);

static void merge_and_push(struct run *r)
{
	const struct acs_canon *b = &r->base;
	unsigned da = r->have_a ? acs_canon_diff(&r->a, b) : 0;
	unsigned dc = r->have_c ? acs_canon_diff(&r->c, b) : 0;
	/* A field the base lacks but a view has (a base from an older build): take it. */
	if (r->have_a)
		da |= r->a.present & ~b->present & ~ACS_F_CUSTOM;
	if (r->have_c && !r->have_a)
		dc |= r->c.present & ~b->present & ~ACS_F_CUSTOM;
	unsigned both = da & dc;
	unsigned same = both & ~acs_canon_diff(&r->a, &r->c);
	unsigned conflict = both & ~same;

	acs_canon_copy(&r->target, b);
	r->from_a = (da & ~both) | same;
	r->from_c = dc & ~both;
	r->push_cu = da & ~both;
	r->push_ado = dc & ~both;
	r->conflicts = conflict;
	unsigned restore_cu = 0, restore_ado = 0;

	for (size_t i = 0; i < NFIELDS; i++) {
		unsigned f = field_bit(i);
		if (conflict & f) {
			bool aw = ado_wins(r, i);
			if (aw) {
				r->from_a |= f;
				r->push_cu |= f;
			} else {
				r->from_c |= f;
				r->push_ado |= f;
			}
			run_log(r, aw ? "ado_to_clickup" : "clickup_to_ado", "conflict", "ok", f,
				"%s changed on both sides: %s wins (conflict = %s)",
				acs_field_name(f), aw ? "Azure DevOps" : "ClickUp",
				r->s->cfg->sync.conflict == ACS_CONFLICT_ADO	   ? "ado"
				: r->s->cfg->sync.conflict == ACS_CONFLICT_CLICKUP ? "clickup"
										   : "newest");
			continue;
		}
		/* One view only: a change older than the other side's last change of the
		 * same field (kept in the base) lost a race we could not see at once. */
		int64_t tb = changed_get(r, f);
		if ((r->push_ado & f) && !r->have_a && tb > cu_time(r, i) &&
		    r->s->cfg->sync.conflict != ACS_CONFLICT_CLICKUP) {
			r->push_ado &= ~f;
			r->from_c &= ~f;
			restore_cu |= f;
		} else if ((r->push_cu & f) && !r->have_c && tb > r->a_changed &&
			   r->s->cfg->sync.conflict == ACS_CONFLICT_CLICKUP) {
			r->push_cu &= ~f;
			r->from_a &= ~f;
			restore_ado |= f;
		}
	}
	if (restore_cu)
		run_log(r, "ado_to_clickup", "conflict", "ok", restore_cu,
			"ClickUp change older than the last Azure DevOps change: reverted");
	if (restore_ado)
		run_log(r, "clickup_to_ado", "conflict", "ok", restore_ado,
			"Azure DevOps change older than the last ClickUp change: reverted");
	canon_copy_fields(&r->target, &r->a, r->from_a);
	canon_copy_fields(&r->target, &r->c, r->from_c);
	if (r->have_a && r->a.type)
		acs_canon_set_type(&r->target, r->a.type);
	r->push_cu |= restore_cu;
	r->push_ado |= restore_ado;

	/* ADO first: its /rev test is the only optimistic lock we have. */
	json_t *ops = json_array();
	if (r->push_ado) {
		json_t *p = acs_mapper_ado_patch(r->map->mapper, &r->target, r->push_ado,
						 r->have_a ? &r->a : &r->base, &r->notes);
		json_array_extend(ops, p);
		json_decref(p);
	}
	bool link = r->pending_link && !has_link(r, r->pending_link);
	if (r->pending_link && !link && r->have_a) {
		free(r->pending_link); /* already there (a crash after the PATCH) */
		r->pending_link = NULL;
	}
	if (link)
		json_array_append_new(ops, link_op(r->pending_link));
	if (!json_array_size(ops)) {
		json_decref(ops);
		push_clickup(r);
		return;
	}
	int64_t rev = r->have_a ? r->a_rev : r->pair->ado_rev;
	int rc = acs_ado_update_work_item_ops(r->s->ado, r->pair->ado_id, rev, ops, on_ado_patched,
					      r);
	json_decref(ops);
	if (rc)
		run_fail_call(r, rc, "ADO update");
}

static void on_ado_patched(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			   void *arg)
{
	struct run *r = arg;
	if (res->cls == ACS_REST_CONFLICT && r->remerge < ACS_SYNCER_MAX_REMERGE) {
		/* Someone changed the item since the revision we merged against:
		 * read it again and merge from scratch (nothing was written yet). */
		r->remerge++;
		int rc = acs_ado_get_work_item(r->s->ado, r->pair->ado_id, on_ado_refetched, r);
		if (rc)
			run_fail_call(r, rc, "ADO get");
		return;
	}
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls == ACS_REST_CONFLICT ? ACS_REST_RETRYABLE : res->cls,
			 res->status, res->message, "clickup_to_ado", "ADO update");
		return;
	}
	r->new_ado_rev = wi->rev;
	r->wrote_ado = true;
	links_from_wi(r, wi);
	if (r->pending_link && has_link(r, r->pending_link)) {
		free(r->pending_link);
		r->pending_link = NULL;
	}
	acs_ado_work_item_free(wi);
	push_clickup(r);
}

static void on_ado_refetched(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			     void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ADO get");
		return;
	}
	set_a_view_wi(r, wi);
	acs_ado_work_item_free(wi);
	merge_and_push(r);
}

static void clickup_step(struct run *r);

static void on_cu_step(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
			 "ClickUp update");
		return;
	}
	r->wrote_cu = true;
	r->w_step++;
	clickup_step(r);
}

static void on_cu_put(const struct acs_clickup_result *res, struct acs_clickup_task *task,
		      const json_t *json, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
			 "ClickUp update");
		return;
	}
	r->wrote_cu = true;
	r->pending_footer = false;
	/* Advance clickup_rev past our own history items only when the answer shows no
	 * change we did not make (the PUT answer has no markdown: description is left
	 * out of the check). */
	struct acs_canon p;
	acs_canon_init(&p);
	(void)acs_mapper_from_clickup(r->map->mapper, json, &r->target, &p, NULL);
	unsigned d = acs_canon_diff(&p, &r->target) & ~ACS_F_DESCRIPTION;
	acs_canon_free(&p);
	if (!d)
		r->new_cu_rev = ACS_MAX(r->new_cu_rev, task->date_updated);
	acs_clickup_task_free(task);
	save_pair(r);
}

/* The tag and custom field calls first, the PUT last: its date_updated then covers
 * the history items of every call of the change. */
static void clickup_step(struct run *r)
{
	struct acs_clickup_write *w = &r->w;
	const char *tid = r->pair->clickup_id;
	size_t i = r->w_step;
	int rc;
	if (i < w->n_tags_add) {
		rc = acs_clickup_add_tag(r->s->cu, CLS, tid, w->tags_add[i], on_cu_step, r);
	} else if ((i -= w->n_tags_add) < w->n_tags_rem) {
		rc = acs_clickup_remove_tag(r->s->cu, CLS, tid, w->tags_rem[i], on_cu_step, r);
	} else if ((i -= w->n_tags_rem) < w->n_fields) {
		const struct acs_clickup_field_set *f = &w->fields[i];
		rc = f->value ? acs_clickup_set_custom_field(r->s->cu, CLS, tid, f->field_id,
							     f->value, on_cu_step, r)
			      : acs_clickup_remove_custom_field(r->s->cu, CLS, tid, f->field_id,
								on_cu_step, r);
	} else if (w->body) {
		rc = acs_clickup_update_task_json(r->s->cu, CLS, tid, w->body, on_cu_put, r);
	} else {
		save_pair(r);
		return;
	}
	if (rc)
		run_fail_call(r, rc, "ClickUp update");
}

static void push_clickup(struct run *r)
{
	acs_mapper_clickup_write_clear(&r->w);
	r->w_step = 0;
	if (r->push_cu)
		(void)acs_mapper_clickup_update(r->map->mapper, &r->target, r->push_cu,
						r->have_c ? &r->c : &r->base, &r->w, &r->notes);
	if ((r->push_cu & ACS_F_DESCRIPTION) || r->pending_footer) {
		/* The description always goes with its footer (the back-link). */
		if (!r->w.body)
			r->w.body = json_object();
		char *url = ado_web_url(r->s, r->map, r->pair->ado_id);
		char *md = with_footer(r->target.description, url);
		json_object_del(r->w.body, "description");
		json_object_set_new(r->w.body, "markdown_content", json_string(md));
		free(md);
		free(url);
	}
	if (r->w.body && !json_object_size(r->w.body)) {
		json_decref(r->w.body);
		r->w.body = NULL;
	}
	clickup_step(r);
}

static void on_pair_saved(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "save pair");
		return;
	}
	if (r->skip_note)
		run_log(r, NULL, "skipped", "skipped", 0, "out of scope here: %s", r->skip_note);
	run_finish(r, ACS_JOB_DONE, NULL);
}

static void save_pair(struct run *r)
{
	struct acs_pair *p = r->pair;
	unsigned to_cu = r->wrote_cu ? r->push_cu : 0;
	unsigned to_ado = r->wrote_ado ? r->push_ado : 0;
	if (to_cu)
		run_log(r, "ado_to_clickup", "updated", "ok", to_cu, "ClickUp task %s updated",
			p->clickup_id);
	if (to_ado)
		run_log(r, "clickup_to_ado", "updated", "ok", to_ado,
			"Azure DevOps work item %" PRId64 " updated", p->ado_id);
	unsigned echoed = 0;
	if (r->have_a)
		echoed |= r->a.present & ~acs_canon_diff(&r->a, &r->base);
	if (r->have_c)
		echoed |= r->c.present & ~acs_canon_diff(&r->c, &r->base);
	if (!to_cu && !to_ado && !r->conflicts)
		run_log(r, NULL, "echo", "skipped", 0,
			"no field changed: our own echo or a no-op (ado rev %" PRId64
			", clickup %" PRId64 ")",
			r->have_a ? r->a_rev : p->ado_rev,
			r->have_c ? r->c_updated : p->clickup_rev);
	(void)echoed;
	log_notes(r);

	/* Change times: the side each new value came from. */
	if (r->have_a)
		changed_set(r, r->from_a, r->a_changed);
	for (size_t i = 0; i < NFIELDS; i++)
		if (r->from_c & field_bit(i))
			changed_set(r, field_bit(i), cu_time(r, i));
	if (r->new_ado_rev)
		p->ado_rev = r->new_ado_rev;
	else if (r->have_a && r->a_rev > p->ado_rev)
		p->ado_rev = r->a_rev;
	if (r->have_c)
		r->new_cu_rev = ACS_MAX(r->new_cu_rev, r->c_updated);
	if (r->new_cu_rev > p->clickup_rev)
		p->clickup_rev = r->new_cu_rev;
	free(p->base);
	p->base = base_dump(r, &r->target);
	int rc = acs_pairs_update(r->s->store, p, on_pair_saved, r);
	if (rc)
		run_fail_store(r, rc, NULL, "save pair");
}

/* ------------------------------------------------------------------------ */
/* Paired: entry                                                             */
/* ------------------------------------------------------------------------ */

static void on_paired_task(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			   const json_t *json, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ClickUp get");
		return;
	}
	acs_clickup_task_free(task);
	set_c_view(r, json, &r->base);
	merge_and_push(r);
}

static void paired_begin(struct run *r)
{
	struct acs_pair *p = r->pair;
	r->map = map_by_id(r->s, p->map_id);
	if (!r->map) {
		run_log(r, NULL, "skipped", "skipped", 0,
			"the pair's mapping %" PRId64 " is no longer configured", p->map_id);
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	base_load(r);
	free(r->task_id);
	r->task_id = acs_xstrdup(p->clickup_id);
	r->ado_id = p->ado_id;
	if (r->ado_root && !r->have_a && r->ado_ev_rev > p->ado_rev) {
		json_t *f = acs_webhook_ado_revision_fields(r->ado_root);
		set_a_view_fields(r, f, r->ado_ev_rev, r->ado_ev_changed);
		links_from_json(r, hook_relations(r->ado_root));
	}
	/* ClickUp events all dated before our last write or read: our own echo, no GET. */
	bool cu_new = r->cu_events && r->cu_max_hist > p->clickup_rev;
	if (cu_new && !r->have_c) {
		int rc = acs_clickup_get_task_json(r->s->cu, CLS, p->clickup_id, on_paired_task, r);
		if (rc)
			run_fail_call(r, rc, "ClickUp get");
		return;
	}
	if (!r->have_a && !r->have_c && !r->pending_link && !r->pending_footer) {
		if (r->ado_events || r->cu_events)
			run_log(r, NULL, "echo", "skipped", 0,
				"echo of our own write or stale (ado rev %" PRId64 " <= %" PRId64
				", clickup history <= %" PRId64 ")",
				r->ado_ev_rev, p->ado_rev, p->clickup_rev);
		if (r->skip_note)
			run_log(r, NULL, "skipped", "skipped", 0, "out of scope here: %s",
				r->skip_note);
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	merge_and_push(r);
}

/* ------------------------------------------------------------------------ */
/* Creates                                                                   */
/* ------------------------------------------------------------------------ */

/* The pair row exists: the rest (back-link, newer changes) is the paired path. */
static void on_pair_inserted(int rc, const char *err, struct acs_pair *pair, void *arg)
{
	struct run *r = arg;
	if (rc) {
		/* ACS_ECONFLICT: paired meanwhile; the next attempt takes the paired path. */
		run_fail_store(r, rc, err, "record pair");
		return;
	}
	acs_pair_free(r->pair);
	r->pair = pair;
	merge_and_push(r);
}

static void insert_pair(struct run *r, int64_t ado_id, int64_t ado_rev, const char *task_id,
			int64_t cu_rev, const char *twin_id)
{
	struct acs_pair p = {
		.map_id = r->map->id,
		.ado_id = ado_id,
		.clickup_id = (char *)task_id,
		.ado_rev = ado_rev,
		.clickup_rev = cu_rev,
		.base = base_dump(r, &r->base),
	};
	r->pair = acs_pair_dup(&p);
	r->ado_id = ado_id;
	free(r->task_id);
	r->task_id = acs_xstrdup(task_id);
	int rc = acs_pairs_insert(r->s->store, &p, r->intent ? r->intent->id : 0, twin_id,
				  on_pair_inserted, r);
	free(p.base);
	if (rc)
		run_fail_store(r, rc, NULL, "record pair");
}

/* --- ADO -> ClickUp --- */

static void ado_create_task(struct run *r);

static void on_task_created(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			    const json_t *json, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
			 "ClickUp create");
		return;
	}
	(void)json;
	/* Base = what we wrote; the ADO item still needs its Hyperlink. */
	acs_canon_copy(&r->base, &r->a);
	changed_set(r, ACS_F_ALL, r->a_changed);
	free(r->pending_link);
	r->pending_link = acs_xstrdup(task->url);
	run_log(r, "ado_to_clickup", "created", "ok", r->a.present,
		"ClickUp task %s created for Azure DevOps work item %" PRId64, task->id, r->ado_id);
	log_notes(r);
	/* The ADO view is the base now: nothing left to push but the link. */
	r->have_a = false;
	char *tid = acs_xstrdup(task->id);
	int64_t upd = task->date_updated;
	acs_clickup_task_free(task);
	insert_pair(r, r->ado_id, r->a_rev, tid, upd, tid);
	free(tid);
}

static void ado_create_task(struct run *r)
{
	struct acs_clickup_write w;
	memset(&w, 0, sizeof(w));
	(void)acs_mapper_clickup_create(r->map->mapper, &r->a, ACS_F_ALL, &w, &r->notes);
	if (!w.body)
		w.body = json_object();
	char *url = ado_web_url(r->s, r->map, r->ado_id);
	char *md = with_footer(r->a.description, url);
	json_object_set_new(w.body, "markdown_content", json_string(md));
	free(md);
	free(url);
	int rc = acs_clickup_create_task_json(r->s->cu, CLS, r->map->cfg->clickup_list_id, w.body,
					      on_task_created, r);
	acs_mapper_clickup_write_clear(&w);
	if (rc)
		run_fail_call(r, rc, "ClickUp create");
}

/* Adopt the ClickUp twin found after a crash: base = the twin, then merge A. */
static void on_twin_task(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			 const json_t *json, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup", "ClickUp get");
		return;
	}
	struct acs_canon typed;
	acs_canon_init(&typed);
	acs_canon_set_type(&typed, r->a.type);
	set_c_view(r, json, &typed);
	acs_canon_free(&typed);
	acs_canon_copy(&r->base, &r->c);
	changed_set(r, ACS_F_ALL, r->c_updated);
	r->have_c = false;
	free(r->pending_link);
	r->pending_link = acs_xstrdup(task->url);
	run_log(r, "ado_to_clickup", "created", "ok", 0,
		"adopted ClickUp task %s left by an interrupted create", task->id);
	char *tid = acs_xstrdup(task->id);
	int64_t upd = task->date_updated;
	acs_clickup_task_free(task);
	insert_pair(r, r->ado_id, 0, tid, upd, tid);
	free(tid);
}

static void search_clickup_twin(struct run *r);

static void on_twin_page(const struct acs_clickup_result *res, struct acs_clickup_task_page *pg,
			 void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
			 "ClickUp twin search");
		return;
	}
	char *url = ado_web_url(r->s, r->map, r->ado_id);
	const char *found = NULL;
	for (size_t i = 0; i < pg->n && !found; i++) {
		char *d = acs_xstrdup(nz(pg->tasks[i].description));
		char *f = acs_syncer_strip_footer(d);
		if (f && !strcmp(f, url))
			found = pg->tasks[i].id;
		free(f);
		free(d);
	}
	free(url);
	bool last = pg->last_page || ++r->twin_page >= TWIN_MAX_PAGES;
	int rc = 0;
	if (found)
		rc = acs_clickup_get_task_json(r->s->cu, CLS, found, on_twin_task, r);
	acs_clickup_task_page_free(pg);
	if (rc) {
		run_fail_call(r, rc, "ClickUp get");
		return;
	}
	if (found)
		return;
	if (last)
		ado_create_task(r);
	else
		search_clickup_twin(r);
}

static void search_clickup_twin(struct run *r)
{
	struct acs_clickup_task_query q = {
		.list_id = r->map->cfg->clickup_list_id,
		.page = r->twin_page,
		.date_updated_gt = ACS_MAX(r->intent->created_at - TWIN_SLACK_MS, 1),
		.include_closed = true,
		.subtasks = true,
	};
	int rc = acs_clickup_list_tasks(r->s->cu, CLS, &q, on_twin_page, r);
	if (rc)
		run_fail_call(r, rc, "ClickUp twin search");
}

static void on_ado_intent(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "intent");
		return;
	}
	acs_intent_free(r->intent);
	r->intent = in;
	ado_create_task(r);
}

static void on_ado_intent_found(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "intent");
		return;
	}
	if (in) {
		/* A create was interrupted: look for its twin before creating again. */
		r->intent = in;
		if (in->twin_id) {
			rc = acs_clickup_get_task_json(r->s->cu, CLS, in->twin_id, on_twin_task, r);
			if (rc)
				run_fail_call(r, rc, "ClickUp get");
			return;
		}
		search_clickup_twin(r);
		return;
	}
	char id[32];
	snprintf(id, sizeof(id), "%" PRId64, r->ado_id);
	rc = acs_pairs_intent_open(r->s->store, r->map->id, "ado", id, on_ado_intent, r);
	if (rc)
		run_fail_store(r, rc, NULL, "intent");
}

static void ado_create_begin(struct run *r)
{
	json_t *fields = acs_webhook_ado_revision_fields(r->ado_root);
	r->map = map_for_ado(r->s, fields);
	if (!r->map) {
		run_log(r, "ado_to_clickup", "skipped", "skipped", 0,
			"Azure DevOps work item %" PRId64 " (%s, %s, %s) matches no mapping",
			r->ado_id,
			nz(json_string_value(json_object_get(fields, "System.TeamProject"))),
			nz(json_string_value(json_object_get(fields, "System.AreaPath"))),
			nz(json_string_value(json_object_get(fields, "System.WorkItemType"))));
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	if (hook_has_our_link(r->ado_root)) {
		run_log(r, "clickup_to_ado", "skipped", "skipped", 0,
			"work item %" PRId64 " is the twin of a ClickUp task (created by the sync)",
			r->ado_id);
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	set_a_view_fields(r, fields, r->ado_ev_rev, r->ado_ev_changed);
	links_from_json(r, hook_relations(r->ado_root));
	char id[32];
	snprintf(id, sizeof(id), "%" PRId64, r->ado_id);
	int rc = acs_pairs_intent_find(r->s->store, "ado", id, on_ado_intent_found, r);
	if (rc)
		run_fail_store(r, rc, NULL, "intent");
}

/* --- ClickUp -> ADO --- */

static void cu_create_item(struct run *r);

static void on_item_created(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			    void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls == ACS_REST_CONFLICT ? ACS_REST_RETRYABLE : res->cls,
			 res->status, res->message, "clickup_to_ado", "ADO create");
		return;
	}
	acs_canon_copy(&r->base, &r->c);
	for (size_t i = 0; i < NFIELDS; i++)
		changed_set(r, field_bit(i), cu_time(r, i));
	r->pending_footer = true;
	r->have_c = false; /* the base is the view: only the footer is left */
	run_log(r, "clickup_to_ado", "created", "ok", r->c.present,
		"Azure DevOps work item %" PRId64 " created for ClickUp task %s", wi->id,
		r->task_id);
	log_notes(r);
	char tid[ACS_WEBHOOK_MAX_ID_LEN + 1];
	snprintf(tid, sizeof(tid), "%s", r->task_id);
	char twin[32];
	snprintf(twin, sizeof(twin), "%" PRId64, wi->id);
	int64_t id = wi->id, rev = wi->rev;
	acs_ado_work_item_free(wi);
	insert_pair(r, id, rev, tid, r->c_updated, twin);
}

static void cu_create_item(struct run *r)
{
	json_t *ops = acs_mapper_ado_create(r->map->mapper, &r->c, ACS_F_ALL, &r->notes);
	const char *area = r->map->cfg->ado_area_path;
	if (area && *area)
		json_array_append_new(ops, json_pack("{s:s,s:s,s:s}", "op", "add", "path",
						     "/fields/System.AreaPath", "value", area));
	json_array_append_new(ops, link_op(r->c_url));
	const char *type = r->c.type ? r->c.type : acs_mapper_new_item_type(r->map->mapper);
	int rc = acs_ado_create_work_item_ops(r->s->ado, type, ops, on_item_created, r);
	json_decref(ops);
	if (rc)
		run_fail_call(r, rc, "ADO create");
}

/* Adopt the ADO twin found after a crash: base = the twin, then merge C. */
static void adopt_ado_twin(struct run *r, const struct acs_ado_work_item *wi)
{
	acs_canon_free(&r->base);
	(void)acs_mapper_from_ado(r->map->mapper, wi->fields, &r->base, &r->notes);
	changed_set(r, ACS_F_ALL, wi->changed_date_ms);
	r->pending_footer = true;
	links_from_wi(r, wi);
	run_log(r, "clickup_to_ado", "created", "ok", 0,
		"adopted Azure DevOps work item %" PRId64 " left by an interrupted create", wi->id);
	char tid[ACS_WEBHOOK_MAX_ID_LEN + 1];
	snprintf(tid, sizeof(tid), "%s", r->task_id);
	char twin[32];
	snprintf(twin, sizeof(twin), "%" PRId64, wi->id);
	insert_pair(r, wi->id, wi->rev, tid, 0, twin);
}

static void on_twin_items(const struct acs_ado_result *res, struct acs_ado_work_item_list *list,
			  void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado",
			 "ADO twin search");
		return;
	}
	for (size_t i = 0; i < list->n; i++) {
		const struct acs_ado_work_item *wi = &list->items[i];
		for (size_t k = 0; k < wi->n_relations; k++) {
			const struct acs_ado_relation *rel = &wi->relations[k];
			if (rel->rel && !strcmp(rel->rel, "Hyperlink") && rel->url &&
			    !strcmp(rel->url, r->c_url)) {
				adopt_ado_twin(r, wi);
				acs_ado_work_item_list_free(list);
				return;
			}
		}
	}
	acs_ado_work_item_list_free(list);
	cu_create_item(r);
}

static void on_twin_ids(const struct acs_ado_result *res, int64_t *ids, size_t n, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		free(ids);
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado",
			 "ADO twin search");
		return;
	}
	if (!n) {
		free(ids);
		cu_create_item(r);
		return;
	}
	int rc = acs_ado_get_work_items(r->s->ado, ids, ACS_MIN(n, (size_t)ACS_ADO_MAX_BATCH), NULL,
					0, on_twin_items, r);
	free(ids);
	if (rc)
		run_fail_call(r, rc, "ADO twin search");
}

static void on_twin_item(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ADO get");
		return;
	}
	adopt_ado_twin(r, wi);
	acs_ado_work_item_free(wi);
}

/* WIQL literal: quotes doubled. */
static void wiql_quote(struct acs_buf *b, const char *s)
{
	(void)acs_buf_appends(b, "'");
	for (; *s; s++) {
		(void)acs_buf_append(b, s, 1);
		if (*s == '\'')
			(void)acs_buf_append(b, s, 1);
	}
	(void)acs_buf_appends(b, "'");
}

static void search_ado_twin(struct run *r)
{
	struct acs_buf b;
	char iso[32];
	acs_buf_init(&b, ACS_ADO_MAX_WIQL);
	acs_mapper_format_iso(ACS_MAX(r->intent->created_at - TWIN_SLACK_MS, 0), false, iso);
	(void)acs_buf_appends(&b, "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] "
				  "= ");
	wiql_quote(&b, r->map->cfg->ado_project);
	(void)acs_buf_appends(&b, " AND [System.Title] = ");
	wiql_quote(&b, nz(r->c.title));
	(void)acs_buf_appends(&b, " AND [System.CreatedDate] >= ");
	wiql_quote(&b, iso);
	int rc = b.len ? acs_ado_wiql(r->s->ado, b.data, ACS_ADO_MAX_BATCH, on_twin_ids, r)
		       : -EINVAL;
	acs_buf_free(&b);
	if (rc)
		run_fail_call(r, rc, "ADO twin search");
}

static void on_cu_intent(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "intent");
		return;
	}
	acs_intent_free(r->intent);
	r->intent = in;
	cu_create_item(r);
}

static void on_cu_intent_found(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "intent");
		return;
	}
	if (in) {
		r->intent = in;
		if (in->twin_id) {
			rc = acs_ado_get_work_item(r->s->ado, strtoll(in->twin_id, NULL, 10),
						   on_twin_item, r);
			if (rc)
				run_fail_call(r, rc, "ADO get");
			return;
		}
		search_ado_twin(r);
		return;
	}
	rc = acs_pairs_intent_open(r->s->store, r->map->id, "clickup", r->task_id, on_cu_intent, r);
	if (rc)
		run_fail_store(r, rc, NULL, "intent");
}

static void on_new_task(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			const json_t *json, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ClickUp get");
		return;
	}
	r->map = map_by_list(r->s, task->list_id);
	if (!r->map) {
		run_log(r, "clickup_to_ado", "skipped", "skipped", 0,
			"ClickUp task %s is in list %s, which no mapping names", task->id,
			nz(task->list_id));
		acs_clickup_task_free(task);
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	acs_clickup_task_free(task);
	set_c_view(r, json, NULL);
	if (r->c_footer) {
		run_log(r, "ado_to_clickup", "skipped", "skipped", 0,
			"task %s is the twin of %s (created by the sync)", r->task_id, r->c_footer);
		run_finish(r, ACS_JOB_DONE, NULL);
		return;
	}
	int rc = acs_pairs_intent_find(r->s->store, "clickup", r->task_id, on_cu_intent_found, r);
	if (rc)
		run_fail_store(r, rc, NULL, "intent");
}

/* ------------------------------------------------------------------------ */
/* Entry                                                                     */
/* ------------------------------------------------------------------------ */

static void on_pair_found(int rc, const char *err, struct acs_pair *pair, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "find pair");
		return;
	}
	if (pair) {
		r->pair = pair;
		if (strcmp(nz(pair->state), "active")) {
			run_log(r, NULL, "skipped", "skipped", 0, "the pair has ended");
			run_finish(r, ACS_JOB_DONE, NULL);
			return;
		}
		paired_begin(r);
		return;
	}
	if (r->ado_root) {
		ado_create_begin(r);
		return;
	}
	if (r->cu_created && r->task_id) {
		rc = acs_clickup_get_task_json(r->s->cu, CLS, r->task_id, on_new_task, r);
		if (rc)
			run_fail_call(r, rc, "ClickUp get");
		return;
	}
	if (r->cu_events)
		run_log(r, NULL, "skipped", "skipped", 0,
			"ClickUp task %s is not paired (only its creation starts a pair)",
			nz(r->task_id));
	if (r->skip_note)
		run_log(r, NULL, "skipped", "skipped", 0, "out of scope here: %s", r->skip_note);
	run_finish(r, ACS_JOB_DONE, NULL);
}

int acs_syncer_sync(struct acs_syncer *s, const char *item_key, const struct acs_job_event *events,
		    size_t n, acs_syncer_done_cb done, void *arg)
{
	if (!s || !item_key || !events || !n || !done)
		return -EINVAL;
	if (s->closing)
		return ACS_ECLOSED;
	if (!s->ready)
		return -EINVAL;
	int64_t ado_id = 0;
	const char *task_id = NULL;
	if (!strncmp(item_key, "ado:", 4)) {
		char *end = NULL;
		long long v = strtoll(item_key + 4, &end, 10);
		if (!end || *end || v <= 0)
			return -EINVAL;
		ado_id = v;
	} else if (!strncmp(item_key, "clickup:", 8) && item_key[8]) {
		task_id = item_key + 8;
	} else {
		return -EINVAL;
	}
	struct run *r = acs_xcalloc(1, sizeof(*r));
	r->s = s;
	r->done = done;
	r->done_arg = arg;
	r->ado_id = ado_id;
	r->task_id = task_id ? acs_xstrdup(task_id) : NULL;
	acs_canon_init(&r->base);
	acs_canon_init(&r->a);
	acs_canon_init(&r->c);
	acs_canon_init(&r->target);
	acs_mapper_notes_init(&r->notes);
	r->changed = json_object();
	s->running++;
	for (size_t i = 0; i < n; i++) {
		const char *src = nz(events[i].source);
		if (!strcmp(src, "ado"))
			parse_ado_event(r, &events[i]);
		else if (!strcmp(src, "clickup"))
			parse_clickup_event(r, &events[i]);
		else
			note_skip(r, src);
	}
	int rc;
	if (r->ado_id)
		rc = acs_pairs_find_by_ado(s->store, r->ado_id, on_pair_found, r);
	else if (r->task_id)
		rc = acs_pairs_find_by_clickup(s->store, r->task_id, on_pair_found, r);
	else
		rc = -EINVAL;
	if (rc) {
		/* Nothing was done: the caller keeps the events. */
		r->done = NULL;
		acs_canon_free(&r->base);
		run_free(r);
		return rc;
	}
	return 0;
}

size_t acs_syncer_running(const struct acs_syncer *s)
{
	return s ? s->running : 0;
}

/* ------------------------------------------------------------------------ */
/* Scheduler adapter                                                         */
/* ------------------------------------------------------------------------ */

static void on_work_done(enum acs_job_outcome outcome, const char *message, void *arg)
{
	acs_job_finish(arg, outcome, message);
}

void acs_syncer_work(struct acs_job *job, void *arg)
{
	struct acs_syncer *s = arg;
	acs_require(acs_job_finish != NULL);
	size_t n = acs_job_event_count(job);
	struct acs_job_event *ev = acs_xcalloc(n ? n : 1, sizeof(*ev));
	for (size_t i = 0; i < n; i++)
		ev[i] = *acs_job_event_at(job, i);
	int rc = acs_syncer_sync(s, acs_job_item_key(job), ev, n, on_work_done, job);
	free(ev);
	if (rc)
		acs_job_finish(job, rc == ACS_ECLOSED ? ACS_JOB_RETRY : ACS_JOB_FAILED,
			       acs_strerror(rc));
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

struct acs_syncer *acs_syncer_new(uv_loop_t *loop, struct acs_store *store,
				  struct acs_ado_client *ado, struct acs_clickup_client *cu,
				  const struct acs_config *cfg, char err[ACS_ERR_LEN])
{
	if (!loop || !store || !ado || !cu || !cfg) {
		snprintf(err, ACS_ERR_LEN, "syncer: loop, store, clients and config are required");
		return NULL;
	}
	if (!cfg->n_maps) {
		snprintf(err, ACS_ERR_LEN, "syncer: no [map NAME] section configured");
		return NULL;
	}
	struct acs_syncer *s = acs_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->store = store;
	s->ado = ado;
	s->cu = cu;
	s->cfg = cfg;
	s->n_maps = cfg->n_maps;
	s->maps = acs_xcalloc(s->n_maps, sizeof(*s->maps));
	for (size_t i = 0; i < s->n_maps; i++)
		s->maps[i].cfg = &cfg->maps[i];
	return s;
}

struct start_op {
	struct acs_syncer *s;
	struct mapping *m;
	size_t type; /**< index into m->type_names for state lists */
};

static void free_learned(struct mapping *m)
{
	for (size_t i = 0; i < m->n_types; i++) {
		free(m->type_names[i]);
		acs_ado_state_list_free(m->states[i]);
	}
	free(m->type_names);
	free(m->states);
	m->type_names = NULL;
	m->states = NULL;
	m->n_types = 0;
	acs_clickup_list_free(m->list);
	acs_clickup_members_free(m->members);
	m->list = NULL;
	m->members = NULL;
}

static void build_mapper(struct acs_syncer *s, struct mapping *m)
{
	struct acs_mapper_type *types = acs_xcalloc(m->n_types + 1, sizeof(*types));
	struct acs_mapper_state **sts = acs_xcalloc(m->n_types + 1, sizeof(*sts));
	size_t nt = 0;
	for (size_t i = 0; i < m->n_types; i++) {
		const struct acs_ado_state_list *l = m->states[i];
		if (!l)
			continue;
		sts[nt] = acs_xcalloc(l->n + 1, sizeof(**sts));
		for (size_t k = 0; k < l->n; k++) {
			sts[nt][k].name = l->states[k].name;
			sts[nt][k].category = l->states[k].category;
		}
		types[nt].name = m->type_names[i];
		types[nt].states = sts[nt];
		types[nt].n_states = l->n;
		nt++;
	}
	size_t ns = m->list ? m->list->n_statuses : 0;
	struct acs_mapper_status *statuses = acs_xcalloc(ns + 1, sizeof(*statuses));
	for (size_t i = 0; i < ns; i++) {
		statuses[i].name = m->list->statuses[i].name;
		statuses[i].type = m->list->statuses[i].type;
		statuses[i].orderindex = (int)m->list->statuses[i].orderindex;
	}
	size_t nm = m->members ? m->members->n : 0;
	struct acs_mapper_member *members = acs_xcalloc(nm + 1, sizeof(*members));
	for (size_t i = 0; i < nm; i++) {
		members[i].id = m->members->v[i].id;
		members[i].email = m->members->v[i].email;
		members[i].username = m->members->v[i].username;
	}
	struct acs_mapper_ctx ctx = {
		.types = types,
		.n_types = nt,
		.statuses = statuses,
		.n_statuses = ns,
		.members = members,
		.n_members = nm,
	};
	char err[ACS_ERR_LEN] = "";
	m->mapper = acs_mapper_new(m->cfg, &s->cfg->users, &ctx, err);
	if (!m->mapper && !s->start_rc) {
		s->start_rc = ACS_ECONFIG;
		snprintf(s->start_err, sizeof(s->start_err), "[map %s]: %s", m->cfg->name, err);
	}
	for (size_t i = 0; i < nt; i++)
		free(sts[i]);
	free(sts);
	free(types);
	free(statuses);
	free(members);
	free_learned(m);
}

static void start_step_done(struct acs_syncer *s)
{
	if (--s->start_pending)
		return;
	if (!s->start_rc)
		for (size_t i = 0; i < s->n_maps; i++)
			build_mapper(s, &s->maps[i]);
	else
		for (size_t i = 0; i < s->n_maps; i++)
			free_learned(&s->maps[i]);
	s->ready = !s->start_rc;
	acs_syncer_ready_cb cb = s->ready_cb;
	void *arg = s->ready_arg;
	if (s->closing && !s->running) {
		void (*ccb)(void *) = s->close_cb;
		void *carg = s->close_arg;
		for (size_t i = 0; i < s->n_maps; i++)
			acs_mapper_free(s->maps[i].mapper);
		free(s->maps);
		free(s);
		cb(ACS_ECANCELED, "syncer closed", arg);
		if (ccb)
			ccb(carg);
		return;
	}
	cb(s->start_rc, s->start_rc ? s->start_err : NULL, arg);
}

static void start_fail(struct acs_syncer *s, int rc, const char *fmt, const char *a, const char *b)
{
	if (!s->start_rc) {
		s->start_rc = rc;
		snprintf(s->start_err, sizeof(s->start_err), fmt, a, b);
	}
}

static void on_map_upserted(int rc, const char *err, int64_t id, void *arg)
{
	struct start_op *op = arg;
	if (rc)
		start_fail(op->s, rc, "[map %s]: %s", op->m->cfg->name, err);
	else
		op->m->id = id;
	struct acs_syncer *s = op->s;
	free(op);
	start_step_done(s);
}

static void on_states(const struct acs_ado_result *res, struct acs_ado_state_list *list, void *arg)
{
	struct start_op *op = arg;
	if (res->cls != ACS_REST_OK)
		start_fail(op->s, ACS_EHTTP, "ADO states of %s: %s", op->m->type_names[op->type],
			   res->message);
	else
		op->m->states[op->type] = list;
	struct acs_syncer *s = op->s;
	free(op);
	start_step_done(s);
}

static void on_list(const struct acs_clickup_result *res, struct acs_clickup_list *list, void *arg)
{
	struct start_op *op = arg;
	if (res->cls != ACS_REST_OK)
		start_fail(op->s, ACS_EHTTP, "ClickUp list %s: %s", op->m->cfg->clickup_list_id,
			   res->message);
	else
		op->m->list = list;
	struct acs_syncer *s = op->s;
	free(op);
	start_step_done(s);
}

static void on_members(const struct acs_clickup_result *res, struct acs_clickup_members *mem,
		       void *arg)
{
	struct start_op *op = arg;
	if (res->cls != ACS_REST_OK)
		start_fail(op->s, ACS_EHTTP, "ClickUp members of list %s: %s",
			   op->m->cfg->clickup_list_id, res->message);
	else
		op->m->members = mem;
	struct acs_syncer *s = op->s;
	free(op);
	start_step_done(s);
}

static struct start_op *op_new(struct acs_syncer *s, struct mapping *m, size_t type)
{
	struct start_op *op = acs_xmalloc(sizeof(*op));
	op->s = s;
	op->m = m;
	op->type = type;
	s->start_pending++;
	return op;
}

/* A call that could not be queued: its step ends at once. */
static void op_failed(struct start_op *op, int rc, const char *what)
{
	struct acs_syncer *s = op->s;
	start_fail(s, rc, "%s: %s", what, acs_strerror(rc));
	free(op);
	s->start_pending--;
}

int acs_syncer_start(struct acs_syncer *s, acs_syncer_ready_cb cb, void *arg)
{
	if (!s || !cb)
		return -EINVAL;
	if (s->started)
		return -EALREADY;
	s->started = true;
	s->ready_cb = cb;
	s->ready_arg = arg;
	/* Held until every call is queued, so no early completion ends the start. */
	s->start_pending = 1;
	for (size_t i = 0; i < s->n_maps; i++) {
		struct mapping *m = &s->maps[i];
		const struct acs_config_map *c = m->cfg;
		struct start_op *op = op_new(s, m, 0);
		int rc = acs_pairs_map_upsert(s->store, c, on_map_upserted, op);
		if (rc)
			op_failed(op, rc, "project_map");
		/* The states of every synced type and of the new-item type. */
		m->type_names = acs_xcalloc(c->ado_work_item_types.n + 1, sizeof(char *));
		m->states = acs_xcalloc(c->ado_work_item_types.n + 1, sizeof(*m->states));
		for (size_t k = 0; k < c->ado_work_item_types.n; k++)
			m->type_names[m->n_types++] = acs_xstrdup(c->ado_work_item_types.v[k]);
		bool have_new = false;
		for (size_t k = 0; k < m->n_types; k++)
			have_new |= istr_eq(m->type_names[k], c->ado_new_item_type);
		if (!have_new && c->ado_new_item_type && *c->ado_new_item_type)
			m->type_names[m->n_types++] = acs_xstrdup(c->ado_new_item_type);
		for (size_t k = 0; k < m->n_types; k++) {
			op = op_new(s, m, k);
			rc = acs_ado_list_type_states(s->ado, m->type_names[k], on_states, op);
			if (rc)
				op_failed(op, rc, "ADO states");
		}
		op = op_new(s, m, 0);
		rc = acs_clickup_get_list(s->cu, CLS, c->clickup_list_id, on_list, op);
		if (rc)
			op_failed(op, rc, "ClickUp list");
		op = op_new(s, m, 0);
		rc = acs_clickup_get_list_members(s->cu, CLS, c->clickup_list_id, on_members, op);
		if (rc)
			op_failed(op, rc, "ClickUp members");
	}
	start_step_done(s);
	return 0;
}

void acs_syncer_close(struct acs_syncer *s, void (*cb)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	if (s->running || s->start_pending)
		return;
	for (size_t i = 0; i < s->n_maps; i++)
		acs_mapper_free(s->maps[i].mapper);
	free(s->maps);
	free(s);
	if (cb)
		cb(arg);
}
