/* SPDX-License-Identifier: MIT */
/* check-config --online: the token probes, one fetch per distinct resource
 * the mappings name, and the verdicts computed from what came back
 * (DESIGN in preflight.h). */
#include "preflight.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "mem.h"

#define LOG_MOD "preflight"
/** Names quoted in a hint ("types: Task, Bug, ..."): enough to spot a typo. */
#define MAX_LISTED 12
#define TEXT_MAX 4096

/* How one call ended. */
struct outcome {
	bool done;
	enum acs_rest_class cls;
	int error;
	long status;
	char message[256];
};

/* One distinct ADO project named by the mappings. */
struct proj {
	const char *name; /**< borrowed from cfg */
	bool want_areas;
	struct outcome types_o, areas_o;
	struct acs_ado_type_list *types;
	struct acs_ado_path_list *areas;
};

/* One distinct ClickUp list. */
struct list {
	const char *id; /**< borrowed from cfg */
	bool want_fields;
	struct outcome list_o, fields_o;
	struct acs_clickup_list *list;
	struct acs_clickup_field_defs *fields;
};

/* One distinct ADO field reference of a custom.<ref> key. */
struct field {
	const char *ref; /**< borrowed from cfg */
	struct outcome o;
};

struct pf {
	uv_timer_t timer;	      /**< the deadline; closed in maybe_free only */
	const struct acs_config *cfg; /**< borrowed until the callback ran */
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	acs_preflight_done_cb cb;
	void *arg;
	uint64_t timeout_ms;
	unsigned pending; /**< calls sent and not answered yet */
	bool finished;	  /**< the result was delivered */
	bool in_cb;	  /**< inside cb: do not free (the caller may close clients there) */
	bool closing;
	struct outcome ado_o, cu_o; /**< the token probes */
	struct acs_clickup_teams *teams;
	struct proj *projs;
	size_t n_projs;
	struct list *lists;
	size_t n_lists;
	struct field *fields;
	size_t n_fields;
};

/* One call in flight: the run and the slot its answer fills. */
struct req {
	struct pf *p;
	struct outcome *o;
	size_t idx;
};

static void finish(struct pf *p);

/* --- bookkeeping ------------------------------------------------------------ */

static void record(struct outcome *o, enum acs_rest_class cls, int error, long status,
		   const char *msg)
{
	o->done = true;
	o->cls = cls;
	o->error = error;
	o->status = status;
	snprintf(o->message, sizeof(o->message), "%s", msg ? msg : "");
	/* Service text goes on one report line: no control characters. */
	for (char *c = o->message; *c; c++)
		if ((unsigned char)*c < 0x20)
			*c = ' ';
}

static bool ok(const struct outcome *o)
{
	return o->done && o->cls == ACS_REST_OK;
}

static void on_timer_closed(uv_handle_t *h)
{
	struct pf *p = acs_container_of((uv_timer_t *)h, struct pf, timer);
	for (size_t i = 0; i < p->n_projs; i++) {
		acs_ado_type_list_free(p->projs[i].types);
		acs_ado_path_list_free(p->projs[i].areas);
	}
	for (size_t i = 0; i < p->n_lists; i++) {
		acs_clickup_list_free(p->lists[i].list);
		acs_clickup_field_defs_free(p->lists[i].fields);
	}
	acs_clickup_teams_free(p->teams);
	free(p->projs);
	free(p->lists);
	free(p->fields);
	free(p);
}

/* The run frees itself once it reported and its last call came back. */
static void maybe_free(struct pf *p)
{
	if (!p->finished || p->in_cb || p->pending || p->closing)
		return;
	p->closing = true;
	uv_close((uv_handle_t *)&p->timer, on_timer_closed);
}

static struct req *req_new(struct pf *p, struct outcome *o, size_t idx)
{
	struct req *q = acs_xcalloc(1, sizeof(*q));
	q->p = p;
	q->o = o;
	q->idx = idx;
	return q;
}

/* After sending q's call: count it, or record why it could not be sent. */
static void sent(struct req *q, int rc)
{
	if (rc == 0) {
		q->p->pending++;
		return;
	}
	record(q->o, ACS_REST_PERMANENT, rc, 0, acs_strerror(rc));
	free(q);
}

/* A call came back. Returns whether its answer is still wanted (the run has
 * not reported yet); then its outcome is recorded. */
static bool call_end(struct req *q, enum acs_rest_class cls, int error, long status,
		     const char *msg)
{
	q->p->pending--;
	if (q->p->finished)
		return false;
	record(q->o, cls, error, status, msg);
	return true;
}

/* After a callback's work: report when nothing is left, or free when done. */
static void after_call(struct pf *p)
{
	if (!p->finished && p->pending == 0)
		finish(p);
	else
		maybe_free(p);
}

/* --- ADO ---------------------------------------------------------------- */

static void on_types(const struct acs_ado_result *res, struct acs_ado_type_list *l, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	if (call_end(q, res->cls, res->error, res->status, res->message) && l) {
		p->projs[q->idx].types = l;
		l = NULL;
	}
	acs_ado_type_list_free(l);
	free(q);
	after_call(p);
}

static void on_areas(const struct acs_ado_result *res, struct acs_ado_path_list *l, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	if (call_end(q, res->cls, res->error, res->status, res->message) && l) {
		p->projs[q->idx].areas = l;
		l = NULL;
	}
	acs_ado_path_list_free(l);
	free(q);
	after_call(p);
}

static void on_field(const struct acs_ado_result *res, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	(void)call_end(q, res->cls, res->error, res->status, res->message);
	free(q);
	after_call(p);
}

/* The token works: fetch what the mappings name. */
static void start_ado_fetches(struct pf *p)
{
	for (size_t i = 0; i < p->n_projs; i++) {
		struct proj *pr = &p->projs[i];
		struct req *q = req_new(p, &pr->types_o, i);
		sent(q, acs_ado_list_work_item_types_in(p->ado, pr->name, on_types, q));
		if (pr->want_areas) {
			q = req_new(p, &pr->areas_o, i);
			sent(q, acs_ado_list_area_paths_in(p->ado, pr->name, on_areas, q));
		}
	}
	for (size_t i = 0; i < p->n_fields; i++) {
		struct req *q = req_new(p, &p->fields[i].o, i);
		sent(q, acs_ado_get_field(p->ado, p->fields[i].ref, on_field, q));
	}
}

static void on_projects(const struct acs_ado_result *res, struct acs_ado_project_list *l, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	acs_ado_project_list_free(l);
	if (call_end(q, res->cls, res->error, res->status, res->message) && res->cls == ACS_REST_OK)
		start_ado_fetches(p);
	free(q);
	after_call(p);
}

/* --- ClickUp ------------------------------------------------------------ */

static void on_list(const struct acs_clickup_result *res, struct acs_clickup_list *l, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	if (call_end(q, res->cls, res->error, res->status, res->message) && l) {
		p->lists[q->idx].list = l;
		l = NULL;
	}
	acs_clickup_list_free(l);
	free(q);
	after_call(p);
}

static void on_list_fields(const struct acs_clickup_result *res, struct acs_clickup_field_defs *f,
			   void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	if (call_end(q, res->cls, res->error, res->status, res->message) && f) {
		p->lists[q->idx].fields = f;
		f = NULL;
	}
	acs_clickup_field_defs_free(f);
	free(q);
	after_call(p);
}

static void start_cu_fetches(struct pf *p)
{
	for (size_t i = 0; i < p->n_lists; i++) {
		struct list *li = &p->lists[i];
		struct req *q = req_new(p, &li->list_o, i);
		sent(q, acs_clickup_get_list(p->cu, ACS_GOVERNOR_INTERACTIVE, li->id, on_list, q));
		if (li->want_fields) {
			q = req_new(p, &li->fields_o, i);
			sent(q, acs_clickup_get_list_fields(p->cu, ACS_GOVERNOR_INTERACTIVE, li->id,
							    on_list_fields, q));
		}
	}
}

static void on_teams(const struct acs_clickup_result *res, struct acs_clickup_teams *t, void *arg)
{
	struct req *q = arg;
	struct pf *p = q->p;
	if (call_end(q, res->cls, res->error, res->status, res->message) &&
	    res->cls == ACS_REST_OK) {
		p->teams = t;
		t = NULL;
		start_cu_fetches(p);
	}
	acs_clickup_teams_free(t);
	free(q);
	after_call(p);
}

/* --- verdicts ------------------------------------------------------------- */

static void add(struct acs_preflight_result *r, enum acs_preflight_status st, char *what,
		const char *fmt, ...) ACS_PRINTF(4, 5);

/* Append a verdict; takes what. */
static void add(struct acs_preflight_result *r, enum acs_preflight_status st, char *what,
		const char *fmt, ...)
{
	va_list ap;
	char detail[TEXT_MAX];
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	r->checks = acs_xrealloc(r->checks, (r->n + 1) * sizeof(*r->checks));
	r->checks[r->n++] = (struct acs_preflight_check){
		.status = st,
		.what = what,
		.detail = acs_xstrdup(detail),
	};
	if (st == ACS_PREFLIGHT_FAIL)
		r->n_failed++;
	else if (st == ACS_PREFLIGHT_SKIP)
		r->n_skipped++;
}

/* Why o failed, as "HTTP 404: <the service's message>" or the transport
 * error; marks r unreachable when the service never answered. */
static void why(const struct pf *p, struct acs_preflight_result *r, const struct outcome *o,
		char *buf, size_t len)
{
	if (!o->done) {
		if (p->timeout_ms % 1000)
			snprintf(buf, len, "no answer within %llu ms",
				 (unsigned long long)p->timeout_ms);
		else
			snprintf(buf, len, "no answer within %llu s",
				 (unsigned long long)(p->timeout_ms / 1000));
		r->unreachable = true;
	} else if (o->status == 0) {
		snprintf(buf, len, "%s", o->message[0] ? o->message : acs_strerror(o->error));
		if (o->error != -EINVAL)
			r->unreachable = true;
	} else if (o->message[0]) {
		snprintf(buf, len, "HTTP %ld: %s", o->status, o->message);
	} else {
		snprintf(buf, len, "HTTP %ld", o->status);
	}
}

static bool not_found(const struct outcome *o)
{
	return o->done && (o->status == 404 || o->error == ACS_ENOTFOUND);
}

/* "a, b, c, ..." of up to MAX_LISTED names into b (bounded). */
static void join_names(struct acs_buf *b, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n && i < MAX_LISTED; i++)
		(void)acs_buf_printf(b, "%s%s", i ? ", " : "", names[i]);
	if (n > MAX_LISTED)
		(void)acs_buf_printf(b, ", ... (%zu in all)", n);
}

static void eval_ado_token(struct pf *p, struct acs_preflight_result *r)
{
	const struct acs_config *cfg = p->cfg;
	const struct outcome *o = &p->ado_o;
	char *what = acs_xasprintf("ADO token and organization '%s' at %s", cfg->ado.organization,
				   cfg->ado.base_url);
	if (ok(o)) {
		add(r, ACS_PREFLIGHT_OK, what, "%s", "");
		return;
	}
	char w[512];
	const char *hint;
	why(p, r, o, w, sizeof(w));
	if (o->done && (o->status == 401 || o->status == 403))
		hint = "Azure DevOps refused the personal access token: check [ado] pat (or "
		       "pat_file / ADO_PAT), its expiry and its scopes (Work Items: read & write)";
	else if (o->done && o->status >= 200 && o->status < 300)
		/* A bad PAT may get 203 and an HTML sign-in page instead of a 401. */
		hint = "Azure DevOps answered with a sign-in page instead of JSON, which is how "
		       "it refuses a bad personal access token: check [ado] pat (or pat_file / "
		       "ADO_PAT)";
	else if (o->done && o->status == 404)
		hint = "no such organization: check [ado] organization and base_url";
	else if (o->done && o->status)
		hint = "check [ado] pat, organization and base_url";
	else
		hint = "cannot reach Azure DevOps: check [ado] base_url and the network";
	add(r, ACS_PREFLIGHT_FAIL, what, "%s: %s", w, hint);
}

static void eval_cu_token(struct pf *p, struct acs_preflight_result *r)
{
	const struct acs_config *cfg = p->cfg;
	const struct outcome *o = &p->cu_o;
	char *what = acs_xasprintf("ClickUp token at %s", cfg->clickup.base_url);
	if (ok(o)) {
		add(r, ACS_PREFLIGHT_OK, what, "%s", "");
	} else {
		char w[512];
		const char *hint;
		why(p, r, o, w, sizeof(w));
		if (o->done && (o->status == 401 || o->status == 403))
			hint = "ClickUp refused the API token: check [clickup] token (or "
			       "token_file "
			       "/ CLICKUP_API_TOKEN)";
		else if (o->done && o->status)
			hint = "check [clickup] token and base_url";
		else
			hint = "cannot reach ClickUp: check [clickup] base_url and the network";
		add(r, ACS_PREFLIGHT_FAIL, what, "%s: %s", w, hint);
	}
	if (!cfg->clickup.workspace_id[0])
		return;
	what = acs_xasprintf("ClickUp workspace %s", cfg->clickup.workspace_id);
	if (!ok(o)) {
		add(r, ACS_PREFLIGHT_SKIP, what, "not checked: the ClickUp token check failed");
		return;
	}
	size_t n = 0;
	struct acs_buf b;
	acs_buf_init(&b, TEXT_MAX);
	for (size_t i = 0; p->teams && i < p->teams->n; i++) {
		const struct acs_clickup_team *t = &p->teams->v[i];
		if (strcmp(t->id, cfg->clickup.workspace_id) == 0) {
			add(r, ACS_PREFLIGHT_OK, what, "%s", t->name);
			acs_buf_free(&b);
			return;
		}
		if (n++ < MAX_LISTED)
			(void)acs_buf_printf(&b, "%s%s %s", n > 1 ? ", " : "", t->id, t->name);
	}
	add(r, ACS_PREFLIGHT_FAIL, what,
	    "not one of the token's workspaces (%s): check [clickup] workspace_id",
	    b.data ? b.data : "none");
	acs_buf_free(&b);
}

static struct proj *proj_find(struct pf *p, const char *name)
{
	for (size_t i = 0; i < p->n_projs; i++)
		if (strcasecmp(p->projs[i].name, name) == 0)
			return &p->projs[i];
	return NULL;
}

static struct list *list_find(struct pf *p, const char *id)
{
	for (size_t i = 0; i < p->n_lists; i++)
		if (strcmp(p->lists[i].id, id) == 0)
			return &p->lists[i];
	return NULL;
}

static struct field *field_find(struct pf *p, const char *ref)
{
	for (size_t i = 0; i < p->n_fields; i++)
		if (strcasecmp(p->fields[i].ref, ref) == 0)
			return &p->fields[i];
	return NULL;
}

static const char *map_project(const struct acs_config *cfg, const struct acs_config_map *m)
{
	return m->ado_project[0] ? m->ado_project : cfg->ado.project;
}

static const struct acs_ado_work_item_type *type_find(const struct acs_ado_type_list *l,
						      const char *name)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcasecmp(l->types[i].name, name) == 0)
			return &l->types[i];
	return NULL;
}

static void type_names(const struct acs_ado_type_list *l, struct acs_buf *b)
{
	for (size_t i = 0; l && i < l->n && i < MAX_LISTED; i++)
		(void)acs_buf_printf(b, "%s%s", i ? ", " : "", l->types[i].name);
	if (l && l->n > MAX_LISTED)
		(void)acs_buf_printf(b, ", ... (%zu in all)", l->n);
}

/* Area paths compare without case and without a leading backslash. */
static bool area_known(const struct acs_ado_path_list *l, const char *path)
{
	while (*path == '\\')
		path++;
	for (size_t i = 0; l && i < l->n; i++)
		if (strcasecmp(l->paths[i], path) == 0)
			return true;
	return false;
}

static bool state_in(const struct acs_ado_work_item_type *t, const char *state)
{
	for (size_t i = 0; t && i < t->n_states; i++)
		if (strcasecmp(t->states[i].name, state) == 0)
			return true;
	return false;
}

/* The ADO checks of one mapping. */
static void eval_map_ado(struct pf *p, struct acs_preflight_result *r,
			 const struct acs_config_map *m)
{
	const char *project = map_project(p->cfg, m);
	struct proj *pr = proj_find(p, project);
	const char *skip = NULL;
	char w[512];
	struct acs_buf b;

	char *what = acs_xasprintf("map %s: ADO project '%s'", m->name, project);
	if (!ok(&p->ado_o)) {
		skip = "not checked: the ADO token check failed";
		add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
	} else if (!pr) {
		skip = "not checked: the mapping names no project";
		add(r, ACS_PREFLIGHT_FAIL, what,
		    "no project: set [map %s] ado_project or [ado] project", m->name);
	} else if (ok(&pr->types_o)) {
		add(r, ACS_PREFLIGHT_OK, what, "%s", "");
	} else {
		skip = "not checked: the project check failed";
		why(p, r, &pr->types_o, w, sizeof(w));
		add(r, ACS_PREFLIGHT_FAIL, what, "%s%s: check [map %s] ado_project", w,
		    not_found(&pr->types_o) ? " (no such project in the organization)" : "",
		    m->name);
	}

	if (m->ado_area_path[0]) {
		what = acs_xasprintf("map %s: ADO area path '%s'", m->name, m->ado_area_path);
		if (skip) {
			add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
		} else if (!ok(&pr->areas_o)) {
			why(p, r, &pr->areas_o, w, sizeof(w));
			add(r, ACS_PREFLIGHT_FAIL, what, "cannot read the areas: %s", w);
		} else if (area_known(pr->areas, m->ado_area_path)) {
			add(r, ACS_PREFLIGHT_OK, what, "%s", "");
		} else {
			acs_buf_init(&b, TEXT_MAX);
			join_names(&b, (const char *const *)pr->areas->paths, pr->areas->n);
			add(r, ACS_PREFLIGHT_FAIL, what,
			    "no such area in project '%s' (areas: %s): check [map %s] "
			    "ado_area_path",
			    project, b.data ? b.data : "", m->name);
			acs_buf_free(&b);
		}
	}

	/* Work item types, then the type of new items. */
	what = acs_xasprintf("map %s: ADO work item types", m->name);
	if (skip) {
		add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
	} else {
		struct acs_buf miss, all;
		size_t n_miss = 0;
		acs_buf_init(&miss, TEXT_MAX);
		acs_buf_init(&all, TEXT_MAX);
		for (size_t i = 0; i < m->ado_work_item_types.n; i++) {
			const char *t = m->ado_work_item_types.v[i];
			bool known = type_find(pr->types, t) != NULL;
			struct acs_buf *into = known ? &all : &miss;
			n_miss += !known;
			(void)acs_buf_printf(into, "%s'%s'", into->len ? ", " : "", t);
		}
		if (!n_miss) {
			add(r, ACS_PREFLIGHT_OK, what, "%s", all.data ? all.data : "");
		} else {
			acs_buf_init(&b, TEXT_MAX);
			type_names(pr->types, &b);
			add(r, ACS_PREFLIGHT_FAIL, what,
			    "%s not in project '%s' (types: %s): check [map %s] "
			    "ado_work_item_types",
			    miss.data ? miss.data : "?", project, b.data ? b.data : "", m->name);
			acs_buf_free(&b);
		}
		acs_buf_free(&miss);
		acs_buf_free(&all);
	}
	if (m->ado_new_item_type[0]) {
		what = acs_xasprintf("map %s: ADO type of new items '%s'", m->name,
				     m->ado_new_item_type);
		if (skip) {
			add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
		} else if (type_find(pr->types, m->ado_new_item_type)) {
			add(r, ACS_PREFLIGHT_OK, what, "%s", "");
		} else {
			acs_buf_init(&b, TEXT_MAX);
			type_names(pr->types, &b);
			add(r, ACS_PREFLIGHT_FAIL, what,
			    "not a type of project '%s' (types: %s): check [map %s] "
			    "ado_new_item_type",
			    project, b.data ? b.data : "", m->name);
			acs_buf_free(&b);
		}
	}

	/* Each status.<State> key names a state of one of the mapping's types
	 * (of any type of the project when none of them exists). */
	if (m->status.n) {
		what = acs_xasprintf("map %s: ADO states of the status.* keys", m->name);
		if (skip) {
			add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
		} else {
			bool any_type = false;
			for (size_t i = 0; i < m->ado_work_item_types.n; i++)
				any_type = any_type ||
					   type_find(pr->types, m->ado_work_item_types.v[i]);
			struct acs_buf miss;
			acs_buf_init(&miss, TEXT_MAX);
			const char *first = NULL;
			size_t n_miss = 0;
			for (size_t s = 0; s < m->status.n; s++) {
				const char *state = m->status.v[s].key;
				bool found = false;
				for (size_t i = 0; pr->types && i < pr->types->n && !found; i++) {
					const struct acs_ado_work_item_type *t =
						&pr->types->types[i];
					bool mine = !any_type;
					for (size_t k = 0; k < m->ado_work_item_types.n && !mine;
					     k++)
						mine = strcasecmp(t->name,
								  m->ado_work_item_types.v[k]) == 0;
					found = mine && state_in(t, state);
				}
				if (!found) {
					(void)acs_buf_printf(
						&miss, "%s'%s' (%s:%u)", miss.len ? ", " : "",
						state,
						m->status.v[s].file ? m->status.v[s].file : "?",
						m->status.v[s].line);
					first = first ? first : state;
					n_miss++;
				}
			}
			if (!n_miss) {
				add(r, ACS_PREFLIGHT_OK, what, "%zu state%s", m->status.n,
				    m->status.n == 1 ? "" : "s");
			} else {
				add(r, ACS_PREFLIGHT_FAIL, what,
				    "%s not a state of the mapping's work item types: check [map "
				    "%s] status.%s",
				    miss.data ? miss.data : "?", m->name, first);
			}
			acs_buf_free(&miss);
		}
	}

	/* custom.<ADO field> keys: the field exists in the organization. */
	for (size_t i = 0; i < m->custom.n; i++) {
		const char *ref = m->custom.v[i].key;
		struct field *f = field_find(p, ref);
		what = acs_xasprintf("map %s: ADO field '%s'", m->name, ref);
		if (!ok(&p->ado_o)) {
			add(r, ACS_PREFLIGHT_SKIP, what, "not checked: the ADO token check failed");
		} else if (f && ok(&f->o)) {
			add(r, ACS_PREFLIGHT_OK, what, "%s", "");
		} else if (f) {
			why(p, r, &f->o, w, sizeof(w));
			add(r, ACS_PREFLIGHT_FAIL, what, "%s%s: check [map %s] custom.%s", w,
			    not_found(&f->o) ? " (no such field)" : "", m->name, ref);
		}
	}
}

static bool status_in(const struct acs_clickup_list *l, const char *name)
{
	for (size_t i = 0; l && i < l->n_statuses; i++)
		if (strcasecmp(l->statuses[i].name, name) == 0)
			return true;
	return false;
}

/* The ClickUp checks of one mapping. */
static void eval_map_cu(struct pf *p, struct acs_preflight_result *r,
			const struct acs_config_map *m)
{
	struct list *li = m->clickup_list_id[0] ? list_find(p, m->clickup_list_id) : NULL;
	const char *skip = NULL;
	char w[512];
	struct acs_buf b;

	char *what = acs_xasprintf("map %s: ClickUp list %s", m->name, m->clickup_list_id);
	if (!ok(&p->cu_o)) {
		skip = "not checked: the ClickUp token check failed";
		add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
	} else if (!li) {
		skip = "not checked: the mapping names no list";
		add(r, ACS_PREFLIGHT_FAIL, what, "no list: set [map %s] clickup_list_id", m->name);
	} else if (ok(&li->list_o)) {
		add(r, ACS_PREFLIGHT_OK, what, "%s", li->list ? li->list->name : "");
	} else {
		skip = "not checked: the list check failed";
		why(p, r, &li->list_o, w, sizeof(w));
		if (not_found(&li->list_o))
			add(r, ACS_PREFLIGHT_FAIL, what,
			    "ClickUp list %s not found (%s): check [map %s] clickup_list_id",
			    m->clickup_list_id, w, m->name);
		else
			add(r, ACS_PREFLIGHT_FAIL, what, "%s: check [map %s] clickup_list_id", w,
			    m->name);
	}

	if (m->status.n) {
		what = acs_xasprintf("map %s: ClickUp statuses of the status.* values", m->name);
		if (skip) {
			add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
		} else {
			struct acs_buf miss;
			acs_buf_init(&miss, TEXT_MAX);
			const char *first = NULL;
			size_t n_miss = 0;
			for (size_t s = 0; s < m->status.n; s++) {
				const struct acs_config_pair *pa = &m->status.v[s];
				if (status_in(li->list, pa->value))
					continue;
				(void)acs_buf_printf(&miss, "%s'%s' (status.%s)",
						     miss.len ? ", " : "", pa->value, pa->key);
				first = first ? first : pa->key;
				n_miss++;
			}
			if (!n_miss) {
				add(r, ACS_PREFLIGHT_OK, what, "%zu status%s", m->status.n,
				    m->status.n == 1 ? "" : "es");
			} else {
				acs_buf_init(&b, TEXT_MAX);
				for (size_t i = 0; li->list && i < li->list->n_statuses; i++)
					(void)acs_buf_printf(&b, "%s%s", i ? ", " : "",
							     li->list->statuses[i].name);
				add(r, ACS_PREFLIGHT_FAIL, what,
				    "%s not a status of list %s (statuses: %s): check [map %s] "
				    "status.%s",
				    miss.data ? miss.data : "?", m->clickup_list_id,
				    b.data ? b.data : "", m->name, first);
				acs_buf_free(&b);
			}
			acs_buf_free(&miss);
		}
	}

	/* custom.<ADO field> values: a custom field id of the list. */
	for (size_t i = 0; i < m->custom.n; i++) {
		const struct acs_config_pair *pa = &m->custom.v[i];
		what = acs_xasprintf("map %s: ClickUp custom field %s", m->name, pa->value);
		if (skip) {
			add(r, ACS_PREFLIGHT_SKIP, what, "%s", skip);
			continue;
		}
		if (!ok(&li->fields_o)) {
			why(p, r, &li->fields_o, w, sizeof(w));
			add(r, ACS_PREFLIGHT_FAIL, what, "cannot read the list's custom fields: %s",
			    w);
			continue;
		}
		const struct acs_clickup_field_def *found = NULL;
		acs_buf_init(&b, TEXT_MAX);
		for (size_t k = 0; li->fields && k < li->fields->n; k++) {
			const struct acs_clickup_field_def *d = &li->fields->v[k];
			if (strcasecmp(d->id, pa->value) == 0)
				found = d;
			if (k < MAX_LISTED)
				(void)acs_buf_printf(&b, "%s%s %s", k ? ", " : "", d->id, d->name);
		}
		if (found)
			add(r, ACS_PREFLIGHT_OK, what, "%s (%s)", found->name, found->type);
		else
			add(r, ACS_PREFLIGHT_FAIL, what,
			    "not a custom field of list %s (fields: %s): check [map %s] custom.%s",
			    m->clickup_list_id, b.data ? b.data : "none", m->name, pa->key);
		acs_buf_free(&b);
	}
}

static void finish(struct pf *p)
{
	struct acs_preflight_result *r = acs_xcalloc(1, sizeof(*r));
	p->finished = true;
	uv_timer_stop(&p->timer);
	r->timed_out = p->pending > 0;
	eval_ado_token(p, r);
	eval_cu_token(p, r);
	for (size_t i = 0; i < p->cfg->n_maps; i++) {
		eval_map_ado(p, r, &p->cfg->maps[i]);
		eval_map_cu(p, r, &p->cfg->maps[i]);
	}
	acs_log(ACS_LOG_DEBUG, LOG_MOD, "%zu checks, %zu failed, %zu skipped", r->n, r->n_failed,
		r->n_skipped);
	p->in_cb = true;
	p->cb(r, p->arg);
	p->in_cb = false;
	maybe_free(p);
}

static void on_deadline(uv_timer_t *t)
{
	struct pf *p = acs_container_of(t, struct pf, timer);
	if (!p->finished)
		finish(p);
}

/* --- public ---------------------------------------------------------------- */

int acs_preflight_run(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
		      struct acs_clickup_client *cu, uint64_t timeout_ms, acs_preflight_done_cb cb,
		      void *arg)
{
	if (!loop || !cfg || !ado || !cu || !cb)
		return -EINVAL;
	struct pf *p = acs_xcalloc(1, sizeof(*p));
	p->cfg = cfg;
	p->ado = ado;
	p->cu = cu;
	p->cb = cb;
	p->arg = arg;
	p->timeout_ms = timeout_ms ? timeout_ms : ACS_PREFLIGHT_TIMEOUT_MS;
	acs_require(uv_timer_init(loop, &p->timer) == 0);

	/* One fetch per distinct resource, however many mappings share it. */
	p->projs = acs_xcalloc(cfg->n_maps + 1, sizeof(*p->projs));
	p->lists = acs_xcalloc(cfg->n_maps + 1, sizeof(*p->lists));
	size_t n_custom = 0;
	for (size_t i = 0; i < cfg->n_maps; i++)
		n_custom += cfg->maps[i].custom.n;
	p->fields = acs_xcalloc(n_custom + 1, sizeof(*p->fields));
	for (size_t i = 0; i < cfg->n_maps; i++) {
		const struct acs_config_map *m = &cfg->maps[i];
		const char *project = map_project(cfg, m);
		struct proj *pr = NULL;
		if (project[0] && !(pr = proj_find(p, project))) {
			pr = &p->projs[p->n_projs++];
			pr->name = project;
		}
		if (pr && m->ado_area_path[0])
			pr->want_areas = true;
		struct list *li = NULL;
		if (m->clickup_list_id[0] && !(li = list_find(p, m->clickup_list_id))) {
			li = &p->lists[p->n_lists++];
			li->id = m->clickup_list_id;
		}
		if (li && m->custom.n)
			li->want_fields = true;
		for (size_t k = 0; k < m->custom.n; k++)
			if (!field_find(p, m->custom.v[k].key))
				p->fields[p->n_fields++].ref = m->custom.v[k].key;
	}

	struct req *q = req_new(p, &p->ado_o, 0);
	sent(q, acs_ado_list_projects(ado, on_projects, q));
	q = req_new(p, &p->cu_o, 0);
	sent(q, acs_clickup_get_teams(cu, ACS_GOVERNOR_INTERACTIVE, on_teams, q));
	/* Nothing could be sent: report from the loop all the same. */
	uv_timer_start(&p->timer, on_deadline, p->pending ? p->timeout_ms : 0, 0);
	return 0;
}

void acs_preflight_result_free(struct acs_preflight_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n; i++) {
		free(res->checks[i].what);
		free(res->checks[i].detail);
	}
	free(res->checks);
	free(res);
}

const char *acs_preflight_status_name(enum acs_preflight_status s)
{
	switch (s) {
	case ACS_PREFLIGHT_OK:
		return "ok";
	case ACS_PREFLIGHT_FAIL:
		return "FAIL";
	case ACS_PREFLIGHT_SKIP:
		return "skip";
	}
	return "?";
}

void acs_preflight_check_format(const struct acs_preflight_check *c, char *buf, size_t len)
{
	char raw[TEXT_MAX + 512];
	if (!len)
		return;
	snprintf(raw, sizeof(raw), "%-5s %s%s%s", acs_preflight_status_name(c->status), c->what,
		 c->detail[0] ? ": " : "", c->detail);
	/* Service messages and config values are echoed: never a secret. */
	acs_log_redact(raw, buf, len);
}
