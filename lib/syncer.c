/* SPDX-License-Identifier: MIT */
/* The per-item sync logic (see syncer.h DESIGN): one struct run per job, driven by the
 * client and store callbacks from "which pair is this" through "what changed" to "what
 * to write where", ending with the pair row, the sync_log rows and the outcome. */
#include "syncer.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ado_client.h"
#include "attachments.h"
#include "clickup_client.h"
#include "comments.h"
#include "config.h"
#include "err.h"
#include "json_codec.h"
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
#pragma weak acs_job_finish_with

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

/* One mapping the syncer runs: a [map] section of the file or a dashboard row (source
 * 'db'). Shared by the syncer's set, the runs that use it and the configuration
 * snapshots (acs_syncer_config_hold): freed with the last reference, so a reload never
 * pulls a mapper from under a job. */
struct mapping {
	unsigned refs;
	const struct acs_config_map *cfg; /**< the file's section, or &row */
	struct acs_config_map row;	  /**< a dashboard mapping, owned (from_db) */
	bool from_db;
	char *sig;   /**< from_db: the row as read; another value is another mapping */
	int64_t id;  /**< project_map.id */
	int prio[5]; /**< priority_map: ADO 1..4 -> ClickUp 1..4 (0: not given) */
	struct acs_mapper *mapper;
	/* learned at (re)load, freed once the mapper is built */
	char **type_names;
	struct acs_ado_state_list **states; /**< per type_names entry */
	size_t n_types;
	struct acs_clickup_list *list;
	struct acs_clickup_members *members;
	json_t *fields; /**< GET /list/{id}/field "fields" (owned) */
	bool learn_failed;
	char learn_err[ACS_ERR_LEN];
	char *close_status; /**< the list's first "closed" status, else "done"; NULL = none */
};

struct load;
struct snap;

/* One ADO identity seen in a payload: display name -> e-mail (uniqueName). */
struct ident {
	char *name, *email;
};

/* Ceiling of the identity directory: a tenant's active people, with room to spare. */
#define MAX_IDENTS 4096

struct acs_syncer {
	uv_loop_t *loop;
	struct acs_store *store;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	const struct acs_config *cfg;
	struct mapping **maps; /**< the set in use (one reference each) */
	size_t n_maps;
	struct snap *snap; /**< the set as a configuration (one reference) */
	struct acs_comments *comments;
	struct acs_attachments *att; /**< borrowed; NULL: attachments are not mirrored here */
	/* ADO identities seen (IdentityRef objects of REST reads and revisedBy, "Name
	 * <email>" strings of hooks), taught to every mapper: some hook payloads carry an
	 * identity as a display name only. */
	struct ident *idents;
	size_t n_idents;
	/* [ado] assigned_to = @Me: the PAT's identity (connectionData), read at start. */
	char *me_email, *me_name;
	/* start and reloads */
	struct load *load;   /**< the (re)load in flight */
	struct load *queued; /**< reloads asked for meanwhile: one more load serves them */
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
	acs_syncer_tail_cb tail_done; /**< instead of done: the caller writes the batch */
	void *done_arg;
	struct acs_pairs_batch *batch; /**< tail_done's writes, until handed over */
	/* timing (debug log "run timing", for benchmarks) */
	uint64_t t_start;   /**< uv_hrtime() when the run began */
	uint64_t t_written; /**< ... when the first twin write was answered, 0 if none */
	int64_t start_ms;   /**< wall clock when the run began (Unix ms) */
	int64_t received;   /**< oldest event's received_at (Unix ms) */
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
	int ado_life;	   /**< last of the ADO delete (1) / restore (2) events, 0 = none */
	bool cu_deleted;   /**< a taskDeleted event */
	int64_t *ado_cids; /**< comment ids of workitem.commented events */
	size_t n_ado_cids;
	char **cu_cids; /**< comment ids of ClickUp comment events */
	size_t n_cu_cids;
	bool ado_no_comments;	  /**< the created item's System.CommentCount is 0 */
	bool ado_att_change;	  /**< an ADO event added or removed an AttachedFile */
	bool cu_fetched;	  /**< the ClickUp task was read (r->c_task) by this run */
	bool created;		  /**< the pair was made in this run */
	bool ado_fresh, cu_fresh; /**< the side was created by this run (no comments) */
	bool restoring;		  /**< re-creating the twin of a restored item */
	bool twin_cu;		  /**< ending: the twin to act on is the ClickUp task */
	char *end_why;		  /**< ending: what happened, for the log */
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
	bool pair_dirty;      /**< save_pair's update is written with the log rows */
	unsigned finish_wait; /**< writes of run_finish not yet done */
};

static void merge_and_push(struct run *r);
static void mapping_unref(struct mapping *m);
static void maybe_closed(struct acs_syncer *s);
static void comments_phase(struct run *r);
static void end_begin(struct run *r, bool twin_cu, const char *why);
static void ado_create_begin(struct run *r);
static void push_clickup(struct run *r);
static void save_pair(struct run *r);
static void paired_begin(struct run *r);
static void ident_learn(struct acs_syncer *s, const json_t *v);
static void ident_learn_fields(struct acs_syncer *s, const json_t *fields);

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
	char *s = acs_json_dumps(a, JSON_COMPACT);
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

static bool rels_have_file(const json_t *rels)
{
	size_t i;
	const json_t *v;
	json_array_foreach(rels, i, v)
	{
		const char *rel = json_string_value(json_object_get(v, "rel"));
		if (rel && !strcasecmp(rel, "AttachedFile"))
			return true;
	}
	return false;
}

/* True when the delivery changes the item's files: an AttachedFile relation in
 * resource.relations.added/removed (workitem.updated), or in the full relations of a
 * created or restored item. */
static bool hook_changes_files(json_t *root)
{
	const json_t *res = json_object_get(root, "resource");
	const json_t *rels = json_object_get(res, "relations");
	if (json_is_object(rels))
		return rels_have_file(json_object_get(rels, "added")) ||
		       rels_have_file(json_object_get(rels, "removed"));
	return !json_object_get(res, "revision") && rels_have_file(rels);
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
	free(r->ado_cids);
	for (size_t i = 0; i < r->n_cu_cids; i++)
		free(r->cu_cids[i]);
	free(r->cu_cids);
	free(r->end_why);
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
	acs_pairs_batch_free(r->batch);
	mapping_unref(r->map);
	free(r);
	s->running--;
	maybe_closed(s);
}

static void note_written(struct run *r)
{
	if (!r->t_written)
		r->t_written = uv_hrtime();
}

static void run_complete(struct run *r)
{
	if (acs_log_enabled(ACS_LOG_DEBUG)) {
		uint64_t now = uv_hrtime();
		acs_log(ACS_LOG_DEBUG, "syncer",
			"run timing: ado %" PRId64 " clickup %s: queued %" PRId64 " ms, twin "
			"written after "
			"%.3f ms, done "
			"after %.3f ms",
			r->pair ? r->pair->ado_id : r->ado_id,
			nz(r->pair ? r->pair->clickup_id : r->task_id), r->start_ms - r->received,
			r->t_written ? (double)(r->t_written - r->t_start) / 1e6 : -1.0,
			(double)(now - r->t_start) / 1e6);
	}
	if (r->tail_done) {
		struct acs_job_tail t = { .fn = acs_pairs_batch_run,
					  .free = acs_pairs_batch_free,
					  .arg = r->batch };
		r->batch = NULL;
		r->tail_done(r->outcome, r->outcome_msg, &t, r->done_arg);
	} else {
		r->done(r->outcome, r->outcome_msg, r->done_arg);
	}
	run_free(r);
}

static void finish_step(struct run *r)
{
	acs_require(r->finish_wait > 0);
	if (--r->finish_wait == 0)
		run_complete(r);
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
	finish_step(r);
}

static void submit_logs(struct run *r, size_t from);
static void log_row(const struct run *r, size_t i, struct acs_sync_log_row *row);

/* The pair row could not be saved: the job runs again (with a row saying why). */
static void pair_save_failed(struct run *r, int rc, const char *err)
{
	char msg[ACS_ERR_LEN + 64];
	snprintf(msg, sizeof(msg), "save pair: %s", err ? err : acs_strerror(rc));
	if (r->outcome == ACS_JOB_DONE) {
		r->outcome = ACS_JOB_RETRY;
		free(r->outcome_msg);
		r->outcome_msg = acs_xstrdup(msg);
	}
	run_log(r, NULL, "retry", "retry", 0, "%s", msg);
	submit_logs(r, r->n_logs - 1);
}

static void on_pair_saved(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc)
		pair_save_failed(r, rc, err);
	finish_step(r);
}

/* The end of every run: the pair row (when save_pair changed it) and the log rows go
 * to the store in one loop turn, so they share one commit, not fsynced: the
 * scheduler's outcome write after the run is (see acs_pairs_update_lazy). Then the
 * run completes. */
static void run_finish(struct run *r, enum acs_job_outcome outcome, const char *msg)
{
	r->outcome = outcome;
	free(r->outcome_msg);
	r->outcome_msg = msg ? acs_xstrdup(msg) : NULL;
	if (!r->n_logs)
		run_log(r, NULL, "skipped", "skipped", 0, "nothing to do");
	if (r->tail_done) {
		/* The caller writes them with the job's outcome (acs_job_finish_with). */
		r->batch = acs_pairs_batch_new();
		if (r->pair_dirty) {
			r->pair_dirty = false;
			acs_require(acs_pairs_batch_update(r->batch, r->pair) == 0);
		}
		for (size_t i = 0; i < r->n_logs; i++) {
			struct acs_sync_log_row row;
			log_row(r, i, &row);
			acs_require(acs_pairs_batch_log(r->batch, &row) == 0);
		}
		run_complete(r);
		return;
	}
	r->finish_wait = 1; /* held until everything is submitted */
	if (r->pair_dirty) {
		r->pair_dirty = false;
		r->finish_wait++;
		int rc = acs_pairs_update_lazy(r->s->store, r->pair, on_pair_saved, r);
		if (rc) {
			r->finish_wait--;
			pair_save_failed(r, rc, NULL);
		}
	}
	submit_logs(r, 0);
	finish_step(r);
}

/* The sync_log row of r->logs[i] (borrowing r's strings). */
static void log_row(const struct run *r, size_t i, struct acs_sync_log_row *row)
{
	*row = (struct acs_sync_log_row){
		.map_id = r->map ? r->map->id : (r->pair ? r->pair->map_id : 0),
		.sync_id = r->pair ? r->pair->id : 0,
		.ado_id = r->pair ? r->pair->ado_id : r->ado_id,
		.clickup_id = r->pair ? r->pair->clickup_id : r->task_id,
		.direction = r->logs[i].direction,
		.action = r->logs[i].action,
		.status = r->logs[i].status,
		.fields = r->logs[i].fields,
		.message = r->logs[i].message,
	};
}

/* Rows from..n_logs-1; the last one's completion is a finish step. */
static void submit_logs(struct run *r, size_t from)
{
	for (size_t i = from; i < r->n_logs; i++) {
		struct acs_sync_log_row row;
		log_row(r, i, &row);
		bool last = i + 1 == r->n_logs;
		if (last)
			r->finish_wait++;
		int rc = acs_pairs_log_lazy(r->s->store, &row, last ? on_log_written : NULL,
					    last ? r : NULL);
		if (rc && last)
			on_log_written(rc, acs_strerror(rc), r);
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
	json_t *root = ev->json ? json_incref(ev->json) : acs_json_loads(nz(ev->body), 0, NULL);
	struct acs_webhook_event we;
	memset(&we, 0, sizeof(we));
	int rc = root ? acs_webhook_parse_ado_json(root, &we, err) : ACS_EPARSE;
	if (!rc) {
		/* Every identity of the delivery, before any of the job's fields is mapped. */
		ident_learn(r->s, json_object_get(json_object_get(root, "resource"), "revisedBy"));
		ident_learn_fields(r->s, acs_webhook_ado_revision_fields(root));
	}
	if (rc) {
		note_skip(r, rc == ACS_WEBHOOK_EIGNORED ? "ignored ADO event"
							: "unreadable ADO event");
	} else if (we.type == ACS_WEBHOOK_DELETED && (!r->ado_id || we.ado_id == r->ado_id)) {
		r->ado_life = 1;
		if (!r->ado_id)
			r->ado_id = we.ado_id;
	} else if (we.type == ACS_WEBHOOK_COMMENTED && we.comment_id &&
		   (!r->ado_id || we.ado_id == r->ado_id)) {
		if (!r->ado_id)
			r->ado_id = we.ado_id;
		r->ado_cids = acs_xrealloc(r->ado_cids, (r->n_ado_cids + 1) * sizeof(*r->ado_cids));
		r->ado_cids[r->n_ado_cids++] = strtoll(we.comment_id, NULL, 10);
	} else if (we.type == ACS_WEBHOOK_CREATED || we.type == ACS_WEBHOOK_UPDATED ||
		   we.type == ACS_WEBHOOK_RESTORED) {
		/* A restore delivers the whole item, as a create does. */
		if (we.type == ACS_WEBHOOK_RESTORED && (!r->ado_id || we.ado_id == r->ado_id))
			r->ado_life = 2;
		r->ado_events++;
		if (!r->ado_id)
			r->ado_id = we.ado_id;
		if (we.ado_id == r->ado_id && hook_changes_files(root))
			r->ado_att_change = true;
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
	json_t *root = ev->json ? json_incref(ev->json) : acs_json_loads(nz(ev->body), 0, NULL);
	struct acs_webhook_event we;
	memset(&we, 0, sizeof(we));
	int rc = root ? acs_webhook_parse_clickup_json(root, &we, err) : ACS_EPARSE;
	if (rc) {
		note_skip(r, rc == ACS_WEBHOOK_EIGNORED ? "ignored ClickUp event"
							: "unreadable ClickUp event");
	} else if (we.type == ACS_WEBHOOK_DELETED) {
		r->cu_deleted = true;
		if (!r->task_id && we.item_id)
			r->task_id = acs_xstrdup(we.item_id);
	} else if ((we.type == ACS_WEBHOOK_COMMENTED || we.type == ACS_WEBHOOK_COMMENT_UPDATED) &&
		   we.comment_id) {
		if (!r->task_id && we.item_id)
			r->task_id = acs_xstrdup(we.item_id);
		r->cu_cids = acs_xrealloc(r->cu_cids, (r->n_cu_cids + 1) * sizeof(*r->cu_cids));
		r->cu_cids[r->n_cu_cids++] = acs_xstrdup(we.comment_id);
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
		if (s->maps[i]->id == id)
			return s->maps[i];
	return NULL;
}

static struct mapping *map_by_list(struct acs_syncer *s, const char *list_id)
{
	for (size_t i = 0; list_id && i < s->n_maps; i++)
		if (!strcmp(s->maps[i]->cfg->clickup_list_id, list_id))
			return s->maps[i];
	return NULL;
}

static struct mapping *mapping_ref(struct mapping *m)
{
	if (m)
		m->refs++;
	return m;
}

/* The run's mapping: held until the run ends, whatever reloads happen meanwhile. */
static void run_map(struct run *r, struct mapping *m)
{
	mapping_ref(m);
	mapping_unref(r->map);
	r->map = m;
}

static bool area_under(const char *path, const char *parent)
{
	if (!parent || !*parent)
		return true;
	size_t n = strlen(parent);
	return path &&
	       (istr_eq(path, parent) || (!strncasecmp(path, parent, n) && path[n] == '\\'));
}

static bool is_me_macro(const char *v)
{
	while (v && (*v == ' ' || *v == '\t'))
		v++;
	if (!v || strncasecmp(v, "@me", 3) != 0)
		return false;
	for (v += 3; *v == ' ' || *v == '\t'; v++)
		;
	return *v == '\0';
}

/* Split an identity value (IdentityRef object, "Name <email>" string, bare e-mail or
 * display name) into its name and e-mail (either may be NULL; borrowed from v or
 * written into the buffers). */
static void ident_parts(const json_t *v, const char **name, const char **email, char nbuf[256],
			char ebuf[256])
{
	*name = *email = NULL;
	if (json_is_object(v)) {
		*name = json_string_value(json_object_get(v, "displayName"));
		*email = json_string_value(json_object_get(v, "uniqueName"));
		return;
	}
	const char *t = json_string_value(v);
	if (!t || !*t)
		return;
	const char *lt = strrchr(t, '<'), *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt && gt > lt + 1) {
		size_t n = (size_t)(lt - t);
		while (n && t[n - 1] == ' ')
			n--;
		snprintf(nbuf, 256, "%.*s", (int)ACS_MIN(n, 255), t);
		snprintf(ebuf, 256, "%.*s", (int)ACS_MIN((size_t)(gt - lt - 1), 255), lt + 1);
		*name = *nbuf ? nbuf : NULL;
		*email = ebuf;
	} else if (strchr(t, '@')) {
		*email = t;
	} else {
		*name = t;
	}
}

/* The e-mail of a display name in the identity directory, or NULL. */
static const char *ident_email(const struct acs_syncer *s, const char *name)
{
	for (size_t i = 0; name && i < s->n_idents; i++)
		if (strcasecmp(s->idents[i].name, name) == 0)
			return s->idents[i].email;
	return NULL;
}

/* Remember one identity and teach it to the mappers in use (a mapper built later gets
 * the whole directory). */
static void ident_learn(struct acs_syncer *s, const json_t *v)
{
	char nbuf[256], ebuf[256];
	const char *name, *email;
	ident_parts(v, &name, &email, nbuf, ebuf);
	if (!name || !*name || !email || !*email || strpbrk(name, "<>"))
		return;
	size_t i = 0;
	for (; i < s->n_idents; i++)
		if (strcasecmp(s->idents[i].name, name) == 0)
			break;
	if (i < s->n_idents && strcasecmp(s->idents[i].email, email) == 0)
		return;
	if (i == s->n_idents) {
		if (s->n_idents >= MAX_IDENTS)
			return;
		s->idents = acs_xrealloc(s->idents, (s->n_idents + 1) * sizeof(*s->idents));
		s->idents[i].name = acs_xstrdup(name);
		s->idents[i].email = NULL;
		s->n_idents++;
	}
	free(s->idents[i].email);
	s->idents[i].email = acs_xstrdup(email);
	for (size_t k = 0; k < s->n_maps; k++)
		acs_mapper_add_identity(s->maps[k]->mapper, name, email);
}

static void ident_learn_fields(struct acs_syncer *s, const json_t *fields)
{
	static const char *const refs[] = { "System.AssignedTo", "System.CreatedBy",
					    "System.ChangedBy" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(refs); i++)
		ident_learn(s, json_object_get(fields, refs[i]));
}

/* The [ado] assigned_to filter on creates: a literal (e-mail or display name) or @Me
 * (the PAT's identity, read at start) must be the item's assignee. The assignee is
 * compared by e-mail when both sides have one, else by display name (a hook string may
 * carry only the name: the directory gives its e-mail when the person was seen). */
static bool assigned_ok(const struct acs_syncer *s, const json_t *fields)
{
	const char *want = s->cfg->ado.assigned_to;
	if (!want || !*want)
		return true;
	char wn[256], we[256], nb[256], eb[256];
	const char *want_name = NULL, *want_email = NULL, *name, *email;
	json_t *lit = NULL;
	if (is_me_macro(want)) {
		want_email = s->me_email;
		want_name = s->me_name;
		if (!want_email) /* never: the start fails without it */
			return false;
	} else if (*want == '@') {
		return true; /* another macro: cannot be evaluated here (LIMITS) */
	} else {
		lit = json_string(want);
		ident_parts(lit, &want_name, &want_email, wn, we);
		if (!want_email) /* a display name: its e-mail when the person was seen */
			want_email = ident_email(s, want_name);
	}
	ident_parts(json_object_get(fields, "System.AssignedTo"), &name, &email, nb, eb);
	if (!email)
		email = ident_email(s, name);
	bool ok = want_email && email ? strcasecmp(want_email, email) == 0
		  : want_name && name ? strcasecmp(want_name, name) == 0
				      : false;
	json_decref(lit);
	return ok;
}

static struct mapping *map_for_ado(struct acs_syncer *s, const json_t *fields)
{
	const char *proj = json_string_value(json_object_get(fields, "System.TeamProject"));
	const char *area = json_string_value(json_object_get(fields, "System.AreaPath"));
	const char *type = json_string_value(json_object_get(fields, "System.WorkItemType"));
	if (!assigned_ok(s, fields))
		return NULL;
	for (size_t i = 0; i < s->n_maps; i++) {
		const struct acs_config_map *m = s->maps[i]->cfg;
		if (!istr_eq(proj, m->ado_project) || !area_under(area, m->ado_area_path))
			continue;
		for (size_t k = 0; k < m->ado_work_item_types.n; k++)
			if (istr_eq(type, m->ado_work_item_types.v[k]))
				return s->maps[i];
	}
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Base                                                                      */
/* ------------------------------------------------------------------------ */

static void base_load(struct run *r)
{
	json_t *j = acs_json_loads(nz(r->pair->base), 0, NULL);
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
	char *s = acs_json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
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
	/* Shallow: only the top-level description is replaced, nothing below is changed
	 * (the values are shared with the answer, read only). */
	r->c_task = json_copy((json_t *)(uintptr_t)task);
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
	ident_learn_fields(r->s, fields);
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
	note_written(r);
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
	note_written(r);
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
	note_written(r);
	r->pending_footer = false;
	/* Advance clickup_rev past our own history items only when the answer shows no
	 * change we did not make (the PUT answer has no markdown: description is left
	 * out of the check). */
	struct acs_canon p;
	acs_canon_init(&p);
	(void)acs_mapper_from_clickup_fields(r->map->mapper, json, &r->target, &p, NULL,
					     ACS_F_ALL & ~ACS_F_DESCRIPTION);
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
	/* Written by run_finish together with the log rows: one commit, not two, and
	 * the comments phase need not wait for it (it reads no sync_map row). */
	r->pair_dirty = true;
	comments_phase(r);
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
	if (strcmp(nz(task->list_id), r->map->cfg->clickup_list_id)) {
		char why[512];
		snprintf(why, sizeof(why), "ClickUp task %s moved to list %s, which %s",
			 r->pair->clickup_id, nz(task->list_id),
			 map_by_list(r->s, task->list_id) ? "belongs to another mapping"
							  : "no mapping names");
		acs_clickup_task_free(task);
		end_begin(r, false, why);
		return;
	}
	acs_clickup_task_free(task);
	set_c_view(r, json, &r->base);
	r->cu_fetched = true;
	merge_and_push(r);
}

static void paired_begin(struct run *r)
{
	struct acs_pair *p = r->pair;
	run_map(r, map_by_id(r->s, p->map_id));
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
		const char *proj = json_string_value(json_object_get(f, "System.TeamProject"));
		const char *area = json_string_value(json_object_get(f, "System.AreaPath"));
		if (f && (!istr_eq(proj, r->map->cfg->ado_project) ||
			  !area_under(area, r->map->cfg->ado_area_path))) {
			char why[512];
			snprintf(why, sizeof(why),
				 "Azure DevOps work item %" PRId64 " moved out of the mapping "
				 "(project %s, area %s)",
				 p->ado_id, nz(proj), nz(area));
			end_begin(r, true, why);
			return;
		}
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
		comments_phase(r);
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
	r->created = true;
	r->cu_fresh = true;
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
	r->created = true;
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
	run_map(r, map_for_ado(r->s, fields));
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
	const json_t *cc = json_object_get(fields, "System.CommentCount");
	r->ado_no_comments = json_is_integer(cc) && json_integer_value(cc) == 0;
	if (!r->restoring && hook_has_our_link(r->ado_root)) {
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
	r->created = true;
	r->ado_fresh = true;
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
	ident_learn_fields(r->s, wi->fields);
	acs_canon_free(&r->base);
	(void)acs_mapper_from_ado(r->map->mapper, wi->fields, &r->base, &r->notes);
	changed_set(r, ACS_F_ALL, wi->changed_date_ms);
	r->pending_footer = true;
	links_from_wi(r, wi);
	run_log(r, "clickup_to_ado", "created", "ok", 0,
		"adopted Azure DevOps work item %" PRId64 " left by an interrupted create", wi->id);
	r->created = true;
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
	run_map(r, map_by_list(r->s, task->list_id));
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
	r->cu_fetched = true;
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
/* Comments                                                                  */
/* ------------------------------------------------------------------------ */

static void finish_done(struct run *r)
{
	if (r->skip_note)
		run_log(r, NULL, "skipped", "skipped", 0, "out of scope here: %s", r->skip_note);
	run_finish(r, ACS_JOB_DONE, NULL);
}

/* ------------------------------------------------------------------------ */
/* Attachments                                                               */
/* ------------------------------------------------------------------------ */

static void on_attachments_done(enum acs_job_outcome outcome, const char *message, void *arg)
{
	struct run *r = arg;
	if (outcome != ACS_JOB_DONE) {
		run_log(r, NULL, outcome == ACS_JOB_RETRY ? "retry" : "error",
			outcome == ACS_JOB_RETRY ? "retry" : "error", 0, "attachments: %s",
			nz(message));
		run_finish(r, outcome, message);
		return;
	}
	finish_done(r);
}

/* The pair's files, when this run has a fresh view of a side's attachments for free:
 * an ADO delivery that adds or removes an AttachedFile (its revision lists every
 * relation), a ClickUp task read by this run, or a pair made now (the new twin has no
 * files). A plain field edit reads nothing more. */
static bool task_has_files(const json_t *task)
{
	return json_array_size(json_object_get(task, "attachments")) > 0;
}

static void attachments_phase(struct run *r)
{
	struct acs_pair *p = r->pair;
	struct acs_attachments *a = r->s->att;
	if (!a || !p || !r->map || strcmp(nz(p->state), "active")) {
		finish_done(r);
		return;
	}
	json_t *rels = NULL, *task = NULL;
	bool ado_view = r->ado_root && (r->ado_att_change || (r->created && !r->ado_fresh));
	if (ado_view) {
		rels = hook_relations(r->ado_root);
		rels = rels ? json_incref(rels) : json_array();
	} else if (r->created && r->ado_fresh) {
		rels = json_array(); /* made by this run: no files yet */
	}
	if (r->cu_fetched && r->c_task)
		task = json_incref(r->c_task);
	else if (r->created && r->cu_fresh)
		task = json_pack("{s:[]}", "attachments");
	int rc = 0;
	bool call;
	if (r->created)
		/* Nothing to copy unless one side has a file. */
		call = (rels && !r->ado_fresh && rels_have_file(rels)) ||
		       (task && !r->cu_fresh && task_has_files(task));
	else
		/* A task read without files, of a pair without any: nothing to compare. */
		call = ado_view || (task && (p->has_attachments || task_has_files(task)));
	if (!call) {
		json_decref(rels);
		json_decref(task);
		finish_done(r);
		return;
	}
	if (rels || !task)
		rc = acs_attachments_sync_pair(a, p->id, p->ado_id, p->clickup_id, rels, task,
					       on_attachments_done, r);
	else
		rc = acs_attachments_sync_task(a, p->id, p->ado_id, p->clickup_id, task,
					       on_attachments_done, r);
	json_decref(rels);
	json_decref(task);
	if (rc)
		run_fail_call(r, rc, "attachments");
}

static void on_comment_log(const char *direction, const char *action, const char *status,
			   const char *message, void *arg)
{
	run_log(arg, direction, action, status, 0, "%s", message);
}

static void on_comments_done(enum acs_job_outcome outcome, const char *message, void *arg)
{
	struct run *r = arg;
	if (outcome != ACS_JOB_DONE) {
		run_finish(r, outcome, message);
		return;
	}
	attachments_phase(r);
}

/* The pair's comments, when the job names comments, made the pair, or changed the item
 * for real while the pair has mirrored comments (a deleted comment, and an edited ADO
 * one, have no event of their own: the next change of the item finds them). */
static void comments_phase(struct run *r)
{
	struct acs_pair *p = r->pair;
	bool events = r->n_ado_cids || r->n_cu_cids;
	bool force = r->created && r->map && r->map->cfg->copy_existing_comments;
	bool changed = !r->created && (r->wrote_ado || r->wrote_cu || r->conflicts);
	/* A change only looks for deleted or edited mirrors: none without comment rows. */
	if (changed && p && !p->has_comments)
		changed = false;
	if (!p || !r->map || (!events && !force && !changed)) {
		attachments_phase(r);
		return;
	}
	struct acs_comments_pair cp = {
		.sync_id = p->id,
		.map_id = p->map_id,
		.ado_id = p->ado_id,
		.clickup_id = p->clickup_id,
		.paired_at = p->created_at,
		.copy_existing = r->map->cfg->copy_existing_comments,
		.ado_known_empty = r->created && (r->ado_fresh || r->ado_no_comments),
		.clickup_known_empty = r->created && r->cu_fresh,
		.force = force,
		.check_rows = changed,
		.ado_comment_ids = r->ado_cids,
		.n_ado_comment_ids = r->n_ado_cids,
		.clickup_comment_ids = (const char *const *)r->cu_cids,
		.n_clickup_comment_ids = r->n_cu_cids,
	};
	int rc = acs_comments_sync(r->s->comments, &cp, on_comment_log, on_comments_done, r);
	if (rc)
		run_fail_call(r, rc, "comments");
}

/* ------------------------------------------------------------------------ */
/* Ending a pair: deletes and moves                                          */
/* ------------------------------------------------------------------------ */

static const char *policy_name(enum acs_config_on_delete p)
{
	return p == ACS_ON_DELETE_DELETE   ? "delete"
	       : p == ACS_ON_DELETE_IGNORE ? "ignore"
					   : "close";
}

static void on_ended(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "end pair");
		return;
	}
	free(r->pair->state);
	r->pair->state = acs_xstrdup("ended");
	finish_done(r);
}

/* Log what was done to the twin and mark the pair ended (with the base of what was last
 * written, so a restore merges against the closed state). */
static void end_commit(struct run *r, const char *what)
{
	run_log(r, r->twin_cu ? "ado_to_clickup" : "clickup_to_ado", "ended", "ok", 0,
		"%s: %s; pair ended (on_delete = %s)", r->end_why, what,
		r->map ? policy_name(r->map->cfg->on_delete) : "ignore");
	char *base = r->map ? base_dump(r, &r->base) : NULL;
	int rc = acs_pairs_set_state(r->s->store, r->pair->id, "ended", base, on_ended, r);
	free(base);
	if (rc)
		run_fail_store(r, rc, NULL, "end pair");
}

static bool gone(long status, int error)
{
	return status == 404 || error == ACS_ENOTFOUND;
}

static void on_end_cu_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK && !gone(res->status, res->error)) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
			 "ClickUp delete");
		return;
	}
	char what[256];
	snprintf(what, sizeof(what), "ClickUp task %s %s", r->pair->clickup_id,
		 res->cls == ACS_REST_OK ? "deleted" : "was already gone");
	end_commit(r, what);
}

static void on_end_ado_deleted(const struct acs_ado_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK && !gone(res->status, res->error)) {
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ADO delete");
		return;
	}
	char what[256];
	snprintf(what, sizeof(what), "Azure DevOps work item %" PRId64 " %s", r->pair->ado_id,
		 res->cls == ACS_REST_OK ? "deleted (recycle bin)" : "was already gone");
	end_commit(r, what);
}

static void on_end_cu_closed(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			     const json_t *json, void *arg)
{
	struct run *r = arg;
	(void)json;
	acs_clickup_task_free(task);
	if (res->cls != ACS_REST_OK && !gone(res->status, res->error)) {
		run_fail(r, res->cls, res->status, res->message, "ado_to_clickup", "ClickUp close");
		return;
	}
	char what[256];
	if (res->cls == ACS_REST_OK) {
		const char *st = acs_mapper_status_to_state(
			r->map->mapper, r->base.type, r->map->close_status, NULL, r->base.state);
		if (st)
			acs_canon_set_state(&r->base, st);
		snprintf(what, sizeof(what), "ClickUp task %s closed (status %s)",
			 r->pair->clickup_id, r->map->close_status);
	} else {
		snprintf(what, sizeof(what), "ClickUp task %s was already gone",
			 r->pair->clickup_id);
	}
	end_commit(r, what);
}

static void on_end_ado_closed(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			      void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK && !gone(res->status, res->error)) {
		acs_ado_work_item_free(wi);
		run_fail(r, res->cls == ACS_REST_CONFLICT ? ACS_REST_RETRYABLE : res->cls,
			 res->status, res->message, "clickup_to_ado", "ADO close");
		return;
	}
	char what[256];
	if (wi) {
		acs_canon_set_state(&r->base, nz(wi->state));
		snprintf(what, sizeof(what), "Azure DevOps work item %" PRId64 " closed (state %s)",
			 r->pair->ado_id, nz(wi->state));
	} else {
		snprintf(what, sizeof(what), "Azure DevOps work item %" PRId64 " was already gone",
			 r->pair->ado_id);
	}
	acs_ado_work_item_free(wi);
	end_commit(r, what);
}

/* ADO close: the state the mapping gives the list's closed status (its status table
 * first, else the type's first Completed state). */
static void on_end_ado_item(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
			    void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		acs_ado_work_item_free(wi);
		if (gone(res->status, res->error)) {
			char what[128];
			snprintf(what, sizeof(what),
				 "Azure DevOps work item %" PRId64 " was already gone",
				 r->pair->ado_id);
			end_commit(r, what);
			return;
		}
		run_fail(r, res->cls, res->status, res->message, "clickup_to_ado", "ADO get");
		return;
	}
	const char *st = acs_mapper_status_to_state(r->map->mapper, wi->work_item_type,
						    nz(r->map->close_status), "closed", NULL);
	char what[256];
	if (!st) {
		snprintf(what, sizeof(what),
			 "no closed state for %s: Azure DevOps work item %" PRId64 " left as it is",
			 nz(wi->work_item_type), r->pair->ado_id);
		acs_ado_work_item_free(wi);
		end_commit(r, what);
		return;
	}
	if (istr_eq(wi->state, st)) {
		acs_canon_set_state(&r->base, st);
		snprintf(what, sizeof(what), "Azure DevOps work item %" PRId64 " already %s",
			 r->pair->ado_id, st);
		acs_ado_work_item_free(wi);
		end_commit(r, what);
		return;
	}
	json_t *ops = json_pack("[{s:s,s:s,s:s}]", "op", "add", "path", "/fields/System.State",
				"value", st);
	int rc = acs_ado_update_work_item_ops(r->s->ado, r->pair->ado_id, wi->rev, ops,
					      on_end_ado_closed, r);
	json_decref(ops);
	acs_ado_work_item_free(wi);
	if (rc)
		run_fail_call(r, rc, "ADO close");
}

/* The pair ends: its item on one side was deleted or moved out of the mapping. The
 * mapping's on_delete applies to the twin (twin_cu: the ClickUp task). */
static void end_begin(struct run *r, bool twin_cu, const char *why)
{
	r->twin_cu = twin_cu;
	free(r->end_why);
	r->end_why = acs_xstrdup(why);
	if (!r->map)
		run_map(r, map_by_id(r->s, r->pair->map_id));
	if (!r->map) {
		end_commit(r, "the pair's mapping is no longer configured: twin left as it is");
		return;
	}
	base_load(r);
	int rc = 0;
	switch (r->map->cfg->on_delete) {
	case ACS_ON_DELETE_IGNORE:
		end_commit(r, twin_cu ? "ClickUp task left as it is"
				      : "Azure DevOps work item left as it is");
		return;
	case ACS_ON_DELETE_DELETE:
		rc = twin_cu ? acs_clickup_delete_task(r->s->cu, CLS, r->pair->clickup_id,
						       on_end_cu_deleted, r)
			     : acs_ado_delete_work_item(r->s->ado, r->pair->ado_id, false,
							on_end_ado_deleted, r);
		break;
	case ACS_ON_DELETE_CLOSE:
		if (twin_cu && !r->map->close_status) {
			end_commit(r, "the list has no closed or done status: ClickUp task left "
				      "as it is");
			return;
		}
		if (twin_cu) {
			json_t *body = json_pack("{s:s}", "status", r->map->close_status);
			rc = acs_clickup_update_task_json(r->s->cu, CLS, r->pair->clickup_id, body,
							  on_end_cu_closed, r);
			json_decref(body);
		} else {
			rc = acs_ado_get_work_item(r->s->ado, r->pair->ado_id, on_end_ado_item, r);
		}
		break;
	}
	if (rc)
		run_fail_call(r, rc, "end pair");
}

/* --- restore --- */

static void on_restore_active(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "restore pair");
		return;
	}
	free(r->pair->state);
	r->pair->state = acs_xstrdup("active");
	run_log(r, "ado_to_clickup", "restored", "ok", 0,
		"Azure DevOps work item %" PRId64 " restored: paired with ClickUp task %s again",
		r->pair->ado_id, r->pair->clickup_id);
	if (r->ado_root && r->ado_ev_rev > r->pair->ado_rev) {
		json_t *f = acs_webhook_ado_revision_fields(r->ado_root);
		set_a_view_fields(r, f, r->ado_ev_rev, r->ado_ev_changed);
		links_from_json(r, hook_relations(r->ado_root));
	}
	merge_and_push(r);
}

static void on_restore_unpaired(int rc, const char *err, void *arg)
{
	struct run *r = arg;
	if (rc) {
		run_fail_store(r, rc, err, "restore pair");
		return;
	}
	run_log(r, "ado_to_clickup", "restored", "ok", 0,
		"Azure DevOps work item %" PRId64 " restored; its ClickUp task %s is gone: a new "
		"twin is created",
		r->pair->ado_id, r->pair->clickup_id);
	acs_pair_free(r->pair);
	r->pair = NULL;
	/* The create flow starts from a clean slate. */
	acs_canon_free(&r->base);
	acs_canon_init(&r->base);
	free(r->pending_link);
	r->pending_link = NULL;
	r->pending_footer = false;
	r->have_c = false;
	run_map(r, NULL);
	r->restoring = true;
	ado_create_begin(r);
}

static void on_restore_task(const struct acs_clickup_result *res, struct acs_clickup_task *task,
			    const json_t *json, void *arg)
{
	struct run *r = arg;
	int rc;
	if (res->cls != ACS_REST_OK) {
		acs_clickup_task_free(task);
		if (!gone(res->status, res->error)) {
			run_fail(r, res->cls, res->status, res->message, "ado_to_clickup",
				 "ClickUp get");
			return;
		}
		rc = acs_pairs_delete(r->s->store, r->pair->id, on_restore_unpaired, r);
		if (rc)
			run_fail_store(r, rc, NULL, "restore pair");
		return;
	}
	if (strcmp(nz(task->list_id), r->map->cfg->clickup_list_id)) {
		run_log(r, "ado_to_clickup", "skipped", "skipped", 0,
			"Azure DevOps work item %" PRId64 " restored, but ClickUp task %s is in "
			"list %s now: the pair stays ended",
			r->pair->ado_id, r->pair->clickup_id, nz(task->list_id));
		acs_clickup_task_free(task);
		finish_done(r);
		return;
	}
	acs_clickup_task_free(task);
	set_c_view(r, json, &r->base);
	rc = acs_pairs_set_state(r->s->store, r->pair->id, "active", NULL, on_restore_active, r);
	if (rc)
		run_fail_store(r, rc, NULL, "restore pair");
}

/* An ended pair whose ADO item was restored: active again when the ClickUp task is still
 * there (then merged as usual), else a new twin is made. */
static void restore_begin(struct run *r)
{
	run_map(r, map_by_id(r->s, r->pair->map_id));
	if (!r->map) {
		run_log(r, NULL, "skipped", "skipped", 0,
			"the pair's mapping %" PRId64 " is no longer configured", r->pair->map_id);
		finish_done(r);
		return;
	}
	base_load(r);
	free(r->task_id);
	r->task_id = acs_xstrdup(r->pair->clickup_id);
	int rc = acs_clickup_get_task_json(r->s->cu, CLS, r->pair->clickup_id, on_restore_task, r);
	if (rc)
		run_fail_call(r, rc, "ClickUp get");
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
			if (r->ado_life == 2) {
				restore_begin(r);
				return;
			}
			run_log(r, NULL, "skipped", "skipped", 0, "the pair has ended");
			run_finish(r, ACS_JOB_DONE, NULL);
			return;
		}
		char why[256];
		if (r->ado_life == 1) {
			snprintf(why, sizeof(why), "Azure DevOps work item %" PRId64 " was deleted",
				 pair->ado_id);
			end_begin(r, true, why);
			return;
		}
		if (r->cu_deleted) {
			snprintf(why, sizeof(why), "ClickUp task %s was deleted", pair->clickup_id);
			end_begin(r, false, why);
			return;
		}
		paired_begin(r);
		return;
	}
	if (r->ado_life == 1 || r->cu_deleted) {
		char id[32];
		snprintf(id, sizeof(id), "%" PRId64, r->ado_id);
		run_log(r, NULL, "skipped", "skipped", 0, "%s %s was deleted and is not paired",
			r->ado_life == 1 ? "Azure DevOps work item" : "ClickUp task",
			r->ado_life == 1 ? id : nz(r->task_id));
		run_finish(r, ACS_JOB_DONE, NULL);
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

static int sync_start(struct acs_syncer *s, const char *item_key,
		      const struct acs_job_event *events, size_t n, struct acs_pairs_found *found,
		      acs_syncer_done_cb done, acs_syncer_tail_cb tail_done, void *arg);

int acs_syncer_sync(struct acs_syncer *s, const char *item_key, const struct acs_job_event *events,
		    size_t n, acs_syncer_done_cb done, void *arg)
{
	return done ? sync_start(s, item_key, events, n, NULL, done, NULL, arg) : -EINVAL;
}

int acs_syncer_sync_with(struct acs_syncer *s, const char *item_key,
			 const struct acs_job_event *events, size_t n,
			 struct acs_pairs_found *found, acs_syncer_tail_cb done, void *arg)
{
	return done ? sync_start(s, item_key, events, n, found, NULL, done, arg) : -EINVAL;
}

static int sync_start(struct acs_syncer *s, const char *item_key,
		      const struct acs_job_event *events, size_t n, struct acs_pairs_found *found,
		      acs_syncer_done_cb done, acs_syncer_tail_cb tail_done, void *arg)
{
	if (!s || !item_key || !events || !n)
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
	r->tail_done = tail_done;
	r->done_arg = arg;
	r->ado_id = ado_id;
	r->task_id = task_id ? acs_xstrdup(task_id) : NULL;
	acs_canon_init(&r->base);
	acs_canon_init(&r->a);
	acs_canon_init(&r->c);
	acs_canon_init(&r->target);
	acs_mapper_notes_init(&r->notes);
	r->changed = json_object();
	r->t_start = uv_hrtime();
	r->start_ms = acs_pairs_now_ms();
	r->received = events[0].received_at;
	s->running++;
	for (size_t i = 0; i < n; i++) {
		if (events[i].received_at < r->received)
			r->received = events[i].received_at;
		const char *src = nz(events[i].source);
		if (!strcmp(src, "ado"))
			parse_ado_event(r, &events[i]);
		else if (!strcmp(src, "clickup"))
			parse_clickup_event(r, &events[i]);
		else
			note_skip(r, src);
	}
	if (found) {
		/* Looked up with the claim: the run goes on from here, now. */
		struct acs_pair *pair = found->pair;
		found->pair = NULL;
		on_pair_found(found->rc, found->rc ? found->err : NULL, pair, r);
		return 0;
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
		r->tail_done = NULL;
		acs_canon_free(&r->base);
		run_free(r);
		return rc;
	}
	return 0;
}

void acs_syncer_set_attachments(struct acs_syncer *s, struct acs_attachments *a)
{
	if (s)
		s->att = a;
}

size_t acs_syncer_running(const struct acs_syncer *s)
{
	return s ? s->running : 0;
}

/* ------------------------------------------------------------------------ */
/* Scheduler adapter                                                         */
/* ------------------------------------------------------------------------ */

static void on_work_done(enum acs_job_outcome outcome, const char *message,
			 const struct acs_job_tail *tail, void *arg)
{
	acs_require(acs_job_finish_with != NULL);
	acs_job_finish_with(arg, outcome, message, tail);
}

void acs_syncer_work(struct acs_job *job, void *arg)
{
	struct acs_syncer *s = arg;
	acs_require(acs_job_finish != NULL);
	size_t n = acs_job_event_count(job);
	struct acs_job_event *ev = acs_xcalloc(n ? n : 1, sizeof(*ev));
	for (size_t i = 0; i < n; i++)
		ev[i] = *acs_job_event_at(job, i);
	int rc = acs_syncer_sync_with(s, acs_job_item_key(job), ev, n, acs_job_prefetched(job),
				      on_work_done, job);
	free(ev);
	if (rc)
		acs_job_finish(job, rc == ACS_ECLOSED ? ACS_JOB_RETRY : ACS_JOB_FAILED,
			       acs_strerror(rc));
}

/* ------------------------------------------------------------------------ */
/* Lifecycle                                                                 */
/* ------------------------------------------------------------------------ */

/* Where a dashboard mapping's lines come from, for messages. */
#define DB_FILE "project_map"

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
	json_decref(m->fields);
	m->list = NULL;
	m->members = NULL;
	m->fields = NULL;
}

static void pairs_clear(struct acs_config_pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
}

static void mapping_unref(struct mapping *m)
{
	if (!m || --m->refs)
		return;
	acs_mapper_free(m->mapper);
	free(m->close_status);
	free_learned(m);
	if (m->from_db) {
		struct acs_config_map *c = &m->row;
		free(c->name);
		free(c->ado_project);
		free(c->ado_area_path);
		for (size_t i = 0; i < c->ado_work_item_types.n; i++)
			free(c->ado_work_item_types.v[i]);
		free(c->ado_work_item_types.v);
		free(c->ado_new_item_type);
		free(c->clickup_list_id);
		pairs_clear(&c->status);
		pairs_clear(&c->custom);
	}
	free(m->sig);
	free(m);
}

static struct mapping *mapping_new(const struct acs_config_map *cfg)
{
	struct mapping *m = acs_xcalloc(1, sizeof(*m));
	m->refs = 1;
	m->cfg = cfg;
	return m;
}

static char *row_str(const json_t *row, const char *key)
{
	return acs_xstrdup(nz(json_string_value(json_object_get(row, key))));
}

/* A JSON object text ({"key": "value"}) as config pairs. */
static void pairs_from_text(struct acs_config_pairs *p, const char *text)
{
	json_t *o = acs_json_loads(nz(text), 0, NULL);
	p->v = acs_xcalloc(json_object_size(o) + 1, sizeof(*p->v));
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		if (!json_is_string(v))
			continue;
		p->v[p->n].key = acs_xstrdup(k);
		p->v[p->n].value = acs_xstrdup(json_string_value(v));
		p->v[p->n].file = DB_FILE;
		p->n++;
	}
	json_decref(o);
}

/* A project_map row of source 'db' (as db_read_maps gives it) as a mapping. */
static struct mapping *mapping_from_row(const json_t *row)
{
	static const char *const prio_names[] = { "urgent", "high", "normal", "low" };
	struct mapping *m = mapping_new(NULL);
	struct acs_config_map *c = &m->row;
	m->from_db = true;
	m->cfg = c;
	m->id = (int64_t)json_integer_value(json_object_get(row, "id"));
	m->sig = acs_json_dumps(row, JSON_COMPACT | JSON_SORT_KEYS);
	c->name = row_str(row, "name");
	c->ado_project = row_str(row, "ado_project");
	c->ado_area_path = row_str(row, "ado_area_path");
	c->ado_new_item_type = row_str(row, "ado_new_item_type");
	c->clickup_list_id = row_str(row, "clickup_list_id");
	json_t *types = acs_json_loads(nz(json_string_value(json_object_get(row, "ado_work_item_"
										 "types"))),
				       0, NULL);
	c->ado_work_item_types.v = acs_xcalloc(json_array_size(types) + 1, sizeof(char *));
	size_t i;
	json_t *t;
	json_array_foreach(types, i, t)
	{
		if (json_string_length(t))
			c->ado_work_item_types.v[c->ado_work_item_types.n++] =
				acs_xstrdup(json_string_value(t));
	}
	json_decref(types);
	pairs_from_text(&c->status, json_string_value(json_object_get(row, "status_map")));
	pairs_from_text(&c->custom, json_string_value(json_object_get(row, "custom_map")));
	const char *od = json_string_value(json_object_get(row, "on_delete"));
	c->on_delete = istr_eq(od, "delete")   ? ACS_ON_DELETE_DELETE
		       : istr_eq(od, "ignore") ? ACS_ON_DELETE_IGNORE
					       : ACS_ON_DELETE_CLOSE;
	c->copy_existing_comments = json_integer_value(json_object_get(row, "copy_existing_"
									    "comments")) != 0;
	c->file = DB_FILE;
	c->line = (unsigned)m->id;
	json_t *prio = acs_json_loads(nz(json_string_value(json_object_get(row, "priority_map"))),
				      0, NULL);
	for (int p = 1; p <= 4; p++) {
		char key[2] = { (char)('0' + p), '\0' };
		const char *name = json_string_value(json_object_get(prio, key));
		for (int k = 0; name && k < 4; k++)
			if (istr_eq(name, prio_names[k]))
				m->prio[p] = k + 1;
	}
	json_decref(prio);
	return m;
}

/* --- snapshots: the set as a configuration ------------------------------------------ */

struct snap {
	unsigned refs;
	struct acs_config cfg; /**< the syncer's config with maps/n_maps = maps/n */
	struct acs_config_map *maps;
	struct mapping **held; /**< one reference each: maps[] borrow their strings */
	size_t n;
};

static struct snap *snap_new(struct acs_syncer *s)
{
	struct snap *sn = acs_xcalloc(1, sizeof(*sn));
	sn->refs = 1;
	sn->cfg = *s->cfg;
	sn->n = s->n_maps;
	sn->maps = acs_xcalloc(sn->n + 1, sizeof(*sn->maps));
	sn->held = acs_xcalloc(sn->n + 1, sizeof(*sn->held));
	for (size_t i = 0; i < sn->n; i++) {
		sn->maps[i] = *s->maps[i]->cfg;
		sn->held[i] = mapping_ref(s->maps[i]);
	}
	sn->cfg.maps = sn->maps;
	sn->cfg.n_maps = sn->n;
	return sn;
}

static void snap_unref(struct snap *sn)
{
	if (!sn || --sn->refs)
		return;
	for (size_t i = 0; i < sn->n; i++)
		mapping_unref(sn->held[i]);
	free(sn->held);
	free(sn->maps);
	free(sn);
}

const struct acs_config *acs_syncer_config_hold(struct acs_syncer *s)
{
	s->snap->refs++;
	return &s->snap->cfg;
}

void acs_syncer_config_release(const struct acs_config *cfg)
{
	if (cfg)
		snap_unref(acs_container_of((struct acs_config *)cfg, struct snap, cfg));
}

int64_t acs_syncer_config_db_map(const struct acs_config *cfg, const char *name)
{
	const struct snap *sn = acs_container_of((struct acs_config *)cfg, struct snap, cfg);
	for (size_t i = 0; name && i < sn->n; i++)
		if (sn->held[i]->from_db && !strcmp(sn->held[i]->cfg->name, name))
			return sn->held[i]->id;
	return 0;
}

/* --- loading: the file's sections, the database's rows, what the APIs say -------- */

struct load_waiter {
	acs_syncer_ready_cb cb;
	void *arg;
	struct load_waiter *next;
};

struct load {
	struct acs_syncer *s;
	bool start;	  /**< the first load: the file's sections are upserted */
	int phase;	  /**< 1: ids and rows; 2: learning from the APIs */
	unsigned pending; /**< steps in flight (+1 while they are being queued) */
	int rc;		  /**< fatal: the set is not changed */
	char err[ACS_ERR_LEN];
	char *soft_err;	       /**< dashboard mappings left out (logged), or NULL */
	json_t *rows;	       /**< db_read_maps's answer (owned) */
	struct mapping **next; /**< the new set (one reference each) */
	size_t n_next;
	struct load_waiter *waiters;
};

struct start_op {
	struct load *l;
	struct mapping *m;
	size_t type; /**< index into m->type_names for state lists */
};

static void load_begin(struct acs_syncer *s, struct load *l);

static void load_fail(struct load *l, int rc, const char *fmt, ...) ACS_PRINTF(3, 4);
static void load_fail(struct load *l, int rc, const char *fmt, ...)
{
	if (l->rc)
		return;
	l->rc = rc;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(l->err, sizeof(l->err), fmt, ap);
	va_end(ap);
}

/* A step of learning one mapping failed: fatal for a file section at start, else that
 * mapping is left out. */
static void learn_fail(struct mapping *m, const char *fmt, const char *a, const char *b)
{
	if (m->learn_failed)
		return;
	m->learn_failed = true;
	snprintf(m->learn_err, sizeof(m->learn_err), fmt, a, b);
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
	/* on_delete = close: the first "closed" status, else the first "done" one. */
	for (size_t i = 0; i < ns && !m->close_status; i++)
		if (istr_eq(m->list->statuses[i].type, "closed"))
			m->close_status = acs_xstrdup(m->list->statuses[i].name);
	for (size_t i = 0; i < ns && !m->close_status; i++)
		if (istr_eq(m->list->statuses[i].type, "done"))
			m->close_status = acs_xstrdup(m->list->statuses[i].name);
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
	struct acs_mapper_identity *ids = acs_xcalloc(s->n_idents + 1, sizeof(*ids));
	for (size_t i = 0; i < s->n_idents; i++) {
		ids[i].display_name = s->idents[i].name;
		ids[i].email = s->idents[i].email;
	}
	struct acs_mapper_ctx ctx = {
		.identities = ids,
		.n_identities = s->n_idents,
		.types = types,
		.n_types = nt,
		.statuses = statuses,
		.n_statuses = ns,
		.members = members,
		.n_members = nm,
		.clickup_fields = m->fields,
	};
	memcpy(ctx.clickup_priority, m->prio, sizeof(ctx.clickup_priority));
	char err[ACS_ERR_LEN] = "";
	m->mapper = acs_mapper_new(m->cfg, &s->cfg->users, &ctx, err);
	if (!m->mapper)
		learn_fail(m, "[map %s]: %s", m->cfg->name, err);
	for (size_t i = 0; i < nt; i++)
		free(sts[i]);
	free(sts);
	free(types);
	free(statuses);
	free(members);
	free(ids);
	free_learned(m);
}

static void load_phase2_done(struct load *l);
static void load_phase1_done(struct load *l);

static void load_step_done(struct load *l)
{
	if (--l->pending)
		return;
	if (l->phase == 1)
		load_phase1_done(l);
	else
		load_phase2_done(l);
}

static struct start_op *op_new(struct load *l, struct mapping *m, size_t type)
{
	struct start_op *op = acs_xmalloc(sizeof(*op));
	op->l = l;
	op->m = m;
	op->type = type;
	l->pending++;
	return op;
}

/* A call that could not be queued: its step ends at once (never the last one: the
 * queuing holds a count). */
static void op_failed(struct start_op *op, int rc, const char *what)
{
	struct load *l = op->l;
	if (op->m)
		learn_fail(op->m, "%s: %s", what, acs_strerror(rc));
	else
		load_fail(l, rc, "%s: %s", what, acs_strerror(rc));
	free(op);
	l->pending--;
}

static void on_map_upserted(int rc, const char *err, int64_t id, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (rc)
		load_fail(l, rc, "[map %s]: %s", op->m->cfg->name, nz(err));
	else
		op->m->id = id;
	free(op);
	load_step_done(l);
}

static int db_read_maps(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	static const char *const cols[] = { "id",
					    "name",
					    "ado_project",
					    "ado_area_path",
					    "ado_work_item_types",
					    "ado_new_item_type",
					    "clickup_list_id",
					    "status_map",
					    "priority_map",
					    "custom_map",
					    "on_delete",
					    "copy_existing_comments" };
	struct start_op *op = arg; /* l->rows is not touched by the loop until on_rows */
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT id, name, ado_project, ado_area_path, "
				    "ado_work_item_types, ado_new_item_type, clickup_list_id, "
				    "status_map, priority_map, custom_map, on_delete, "
				    "copy_existing_comments FROM project_map WHERE source = 'db' "
				    "ORDER BY id",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "read project_map", err);
	json_t *rows = json_array();
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *o = json_object();
		for (int i = 0; i < (int)ACS_ARRAY_SIZE(cols); i++) {
			if (sqlite3_column_type(st, i) == SQLITE_INTEGER)
				json_object_set_new(
					o, cols[i],
					json_integer((json_int_t)sqlite3_column_int64(st, i)));
			else
				json_object_set_new(
					o, cols[i],
					json_string(nz((const char *)sqlite3_column_text(st, i))));
		}
		json_array_append_new(rows, o);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		json_decref(rows);
		return acs_store_error(db, rc, "read project_map", err);
	}
	op->l->rows = rows;
	return 0;
}

static void on_rows(int rc, const char *err, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (rc < 0)
		load_fail(l, rc, "dashboard mappings: %s", nz(err));
	free(op);
	load_step_done(l);
}

static void on_states(const struct acs_ado_result *res, struct acs_ado_state_list *list, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (res->cls != ACS_REST_OK)
		learn_fail(op->m, "ADO states of %s: %s", op->m->type_names[op->type],
			   res->message);
	else
		op->m->states[op->type] = list;
	free(op);
	load_step_done(l);
}

static void on_list(const struct acs_clickup_result *res, struct acs_clickup_list *list, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (res->cls != ACS_REST_OK)
		learn_fail(op->m, "ClickUp list %s: %s", op->m->cfg->clickup_list_id, res->message);
	else
		op->m->list = list;
	free(op);
	load_step_done(l);
}

static void on_members(const struct acs_clickup_result *res, struct acs_clickup_members *mem,
		       void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (res->cls != ACS_REST_OK)
		learn_fail(op->m, "ClickUp members of list %s: %s", op->m->cfg->clickup_list_id,
			   res->message);
	else
		op->m->members = mem;
	free(op);
	load_step_done(l);
}

static void on_fields(const struct acs_clickup_result *res, const json_t *fields, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	if (res->cls != ACS_REST_OK)
		learn_fail(op->m, "ClickUp custom fields of list %s: %s",
			   op->m->cfg->clickup_list_id, res->message);
	else
		op->m->fields = json_deep_copy(fields);
	free(op);
	load_step_done(l);
}

/* Ask the APIs what the mapper of m needs: the ADO states of every synced type and of the
 * new-item type, the ClickUp list (statuses), its members and its custom fields. */
static void learn(struct load *l, struct mapping *m)
{
	struct acs_syncer *s = l->s;
	const struct acs_config_map *c = m->cfg;
	free_learned(m);
	m->learn_failed = false;
	m->learn_err[0] = '\0';
	m->type_names = acs_xcalloc(c->ado_work_item_types.n + 1, sizeof(char *));
	m->states = acs_xcalloc(c->ado_work_item_types.n + 1, sizeof(*m->states));
	for (size_t k = 0; k < c->ado_work_item_types.n; k++)
		m->type_names[m->n_types++] = acs_xstrdup(c->ado_work_item_types.v[k]);
	bool have_new = false;
	for (size_t k = 0; k < m->n_types; k++)
		have_new |= istr_eq(m->type_names[k], c->ado_new_item_type);
	if (!have_new && c->ado_new_item_type && *c->ado_new_item_type)
		m->type_names[m->n_types++] = acs_xstrdup(c->ado_new_item_type);
	struct start_op *op;
	int rc;
	for (size_t k = 0; k < m->n_types; k++) {
		op = op_new(l, m, k);
		rc = acs_ado_list_type_states(s->ado, m->type_names[k], on_states, op);
		if (rc)
			op_failed(op, rc, "ADO states");
	}
	op = op_new(l, m, 0);
	rc = acs_clickup_get_list(s->cu, CLS, c->clickup_list_id, on_list, op);
	if (rc)
		op_failed(op, rc, "ClickUp list");
	op = op_new(l, m, 0);
	rc = acs_clickup_get_list_members(s->cu, CLS, c->clickup_list_id, on_members, op);
	if (rc)
		op_failed(op, rc, "ClickUp members");
	op = op_new(l, m, 0);
	rc = acs_clickup_get_list_fields_json(s->cu, CLS, c->clickup_list_id, on_fields, op);
	if (rc)
		op_failed(op, rc, "ClickUp custom fields");
}

static struct mapping *current_db_map(struct acs_syncer *s, int64_t id, const char *sig)
{
	for (size_t i = 0; i < s->n_maps; i++)
		if (s->maps[i]->from_db && s->maps[i]->id == id && s->maps[i]->mapper &&
		    !strcmp(nz(s->maps[i]->sig), nz(sig)))
			return s->maps[i];
	return NULL;
}

/* Ids and rows are in: the new set keeps the file's sections and every dashboard row
 * unchanged since the last load (mapper and all); new or changed rows are learned. */
static void load_phase1_done(struct load *l)
{
	struct acs_syncer *s = l->s;
	if (l->rc || s->closing) {
		load_phase2_done(l);
		return;
	}
	size_t nrows = json_array_size(l->rows);
	l->next = acs_xcalloc(s->n_maps + nrows + 1, sizeof(*l->next));
	for (size_t i = 0; i < s->n_maps; i++)
		if (!s->maps[i]->from_db)
			l->next[l->n_next++] = mapping_ref(s->maps[i]);
	size_t i;
	json_t *row;
	json_array_foreach(l->rows, i, row)
	{
		struct mapping *m = mapping_from_row(row);
		struct mapping *cur = current_db_map(s, m->id, m->sig);
		if (cur) {
			mapping_unref(m);
			m = mapping_ref(cur);
		} else {
			bool dup = false; /* a file section of that list or name wins */
			for (size_t k = 0; k < l->n_next && !dup; k++)
				dup = !l->next[k]->from_db &&
				      !strcmp(l->next[k]->cfg->name, m->cfg->name);
			if (dup) {
				mapping_unref(m);
				continue;
			}
		}
		l->next[l->n_next++] = m;
	}
	l->phase = 2;
	l->pending = 1;
	for (size_t k = 0; k < l->n_next; k++)
		if (!l->next[k]->mapper)
			learn(l, l->next[k]);
	load_step_done(l);
}

static void maybe_closed(struct acs_syncer *s)
{
	if (!s->closing || s->running || s->load)
		return;
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;
	for (size_t i = 0; i < s->n_maps; i++)
		mapping_unref(s->maps[i]);
	free(s->maps);
	snap_unref(s->snap);
	acs_comments_free(s->comments);
	for (size_t i = 0; i < s->n_idents; i++) {
		free(s->idents[i].name);
		free(s->idents[i].email);
	}
	free(s->idents);
	free(s->me_email);
	free(s->me_name);
	free(s);
	if (cb)
		cb(arg);
}

/* Build the mappers of what was learned, swap the set in (or keep the old one on a
 * fatal error), then tell the waiters. */
static void load_phase2_done(struct load *l)
{
	struct acs_syncer *s = l->s;
	for (size_t k = 0; k < l->n_next && !l->rc && !s->closing; k++) {
		struct mapping *m = l->next[k];
		if (!m->mapper && !m->learn_failed)
			build_mapper(s, m);
		if (m->mapper)
			continue;
		free_learned(m);
		if (!m->from_db) {
			load_fail(l, ACS_EHTTP, "%s", m->learn_err);
			break;
		}
		/* A dashboard mapping the APIs refuse: left out, the others run. */
		acs_log(ACS_LOG_ERR, "syncer", "mapping '%s' is not synced: %s", m->cfg->name,
			m->learn_err);
		char *e = acs_xasprintf("%s%s[map %s] %s", nz(l->soft_err), l->soft_err ? "; " : "",
					m->cfg->name, m->learn_err);
		free(l->soft_err);
		l->soft_err = e;
		mapping_unref(m);
		l->next[k--] = l->next[--l->n_next];
	}
	if (!l->rc && !s->closing) {
		for (size_t i = 0; i < s->n_maps; i++)
			mapping_unref(s->maps[i]);
		free(s->maps);
		s->maps = l->next;
		s->n_maps = l->n_next;
		l->next = NULL;
		l->n_next = 0;
		snap_unref(s->snap);
		s->snap = snap_new(s);
		s->ready = true;
		size_t ndb = 0;
		for (size_t i = 0; i < s->n_maps; i++)
			ndb += s->maps[i]->from_db;
		acs_log(ACS_LOG_INFO, "syncer", "%zu mapping%s loaded (%zu from the dashboard)",
			s->n_maps, s->n_maps == 1 ? "" : "s", ndb);
	}
	for (size_t i = 0; i < l->n_next; i++)
		mapping_unref(l->next[i]);
	free(l->next);
	json_decref(l->rows);
	/* The set is settled: what was asked meanwhile gets a load of its own. */
	s->load = NULL;
	bool closing = s->closing;
	if (!closing && s->queued) {
		struct load *q = s->queued;
		s->queued = NULL;
		load_begin(s, q);
	}
	int rc = closing ? ACS_ECANCELED : l->rc ? l->rc : l->soft_err ? ACS_EHTTP : 0;
	char err[ACS_ERR_LEN];
	snprintf(err, sizeof(err), "%s",
		 closing ? "syncer closed"
		 : l->rc ? l->err
			 : nz(l->soft_err));
	struct load_waiter *w = l->waiters;
	free(l->soft_err);
	free(l);
	/* A callback may close s (then s is gone once it returns, unless it was closing
	 * already: then it is freed below, after the callbacks). */
	while (w) {
		struct load_waiter *next = w->next;
		w->cb(rc, rc ? err : NULL, w->arg);
		free(w);
		w = next;
	}
	if (closing)
		maybe_closed(s);
}

static void on_me(const struct acs_ado_result *res, struct acs_ado_identity *id, void *arg)
{
	struct start_op *op = arg;
	struct load *l = op->l;
	struct acs_syncer *s = l->s;
	if (res->cls != ACS_REST_OK || !id) {
		load_fail(l, res->error ? res->error : ACS_EHTTP,
			  "[ado] assigned_to = @Me: who the PAT is (connectionData): %s",
			  res->message && *res->message ? res->message : "no e-mail in the answer");
	} else {
		free(s->me_email);
		free(s->me_name);
		s->me_email = acs_xstrdup(id->unique_name);
		s->me_name = id->display_name ? acs_xstrdup(id->display_name) : NULL;
		acs_log(ACS_LOG_INFO, "syncer", "[ado] assigned_to = @Me is %s", s->me_email);
	}
	if (id) {
		acs_ado_identity_clear(id);
		free(id);
	}
	free(op);
	load_step_done(l);
}

static void load_begin(struct acs_syncer *s, struct load *l)
{
	s->load = l;
	l->s = s;
	l->phase = 1;
	/* Held until every step is queued, so no early completion ends the phase. */
	l->pending = 1;
	for (size_t i = 0; l->start && i < s->n_maps; i++) {
		struct start_op *op = op_new(l, s->maps[i], 0);
		int rc = acs_pairs_map_upsert(s->store, s->maps[i]->cfg, on_map_upserted, op);
		if (rc) {
			op->m = NULL;
			op_failed(op, rc, "project_map");
		}
	}
	struct start_op *op;
	int rc;
	/* @Me is the PAT's identity: resolved once, before any create is filtered. */
	if (is_me_macro(s->cfg->ado.assigned_to) && !s->me_email) {
		op = op_new(l, NULL, 0);
		rc = acs_ado_get_connection_user(s->ado, on_me, op);
		if (rc)
			op_failed(op, rc, "ADO connectionData");
	}
	op = op_new(l, NULL, 0);
	rc = acs_store_read(s->store, db_read_maps, on_rows, op);
	if (rc)
		op_failed(op, rc, "project_map");
	load_step_done(l);
}

static void waiter_add(struct load *l, acs_syncer_ready_cb cb, void *arg)
{
	if (!cb)
		return;
	struct load_waiter *w = acs_xcalloc(1, sizeof(*w));
	w->cb = cb;
	w->arg = arg;
	w->next = l->waiters;
	l->waiters = w;
}

struct acs_syncer *acs_syncer_new(uv_loop_t *loop, struct acs_store *store,
				  struct acs_ado_client *ado, struct acs_clickup_client *cu,
				  const struct acs_config *cfg, char err[ACS_ERR_LEN])
{
	if (!loop || !store || !ado || !cu || !cfg) {
		snprintf(err, ACS_ERR_LEN, "syncer: loop, store, clients and config are required");
		return NULL;
	}
	struct acs_syncer *s = acs_xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->store = store;
	s->ado = ado;
	s->cu = cu;
	s->cfg = cfg;
	s->n_maps = cfg->n_maps;
	s->maps = acs_xcalloc(s->n_maps + 1, sizeof(*s->maps));
	for (size_t i = 0; i < s->n_maps; i++)
		s->maps[i] = mapping_new(&cfg->maps[i]);
	s->snap = snap_new(s);
	s->comments = acs_comments_new(store, ado, cu);
	return s;
}

int acs_syncer_start(struct acs_syncer *s, acs_syncer_ready_cb cb, void *arg)
{
	if (!s || !cb)
		return -EINVAL;
	if (s->closing)
		return ACS_ECLOSED;
	/* Once running, or while a start is in flight; a failed start may be tried again. */
	if (s->ready || s->load)
		return -EALREADY;
	s->started = true;
	struct load *l = acs_xcalloc(1, sizeof(*l));
	l->start = true;
	waiter_add(l, cb, arg);
	load_begin(s, l);
	return 0;
}

int acs_syncer_reload(struct acs_syncer *s, acs_syncer_ready_cb cb, void *arg)
{
	if (!s)
		return -EINVAL;
	if (s->closing)
		return ACS_ECLOSED;
	if (!s->ready && !s->load)
		return -EAGAIN;
	if (s->load) {
		/* The load in flight may have read the rows already: one more after it. */
		if (!s->queued)
			s->queued = acs_xcalloc(1, sizeof(*s->queued));
		waiter_add(s->queued, cb, arg);
		return 0;
	}
	struct load *l = acs_xcalloc(1, sizeof(*l));
	waiter_add(l, cb, arg);
	load_begin(s, l);
	return 0;
}

void acs_syncer_close(struct acs_syncer *s, void (*cb)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	struct load *q = s->queued;
	s->queued = NULL;
	struct load_waiter *w = q ? q->waiters : NULL;
	free(q);
	while (w) {
		struct load_waiter *next = w->next;
		w->cb(ACS_ECLOSED, "syncer closed", w->arg);
		free(w);
		w = next;
	}
	maybe_closed(s);
}
