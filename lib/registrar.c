/* SPDX-License-Identifier: MIT */
/* Webhook registration (DESIGN in registrar.h): one run is a sequence of
 * client calls driven by step(); each service is planned from its listing
 * before any change is made, so a run never acts on half-known state. */
#include "registrar.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "log.h"
#include "mem.h"

static const char *const ado_events[] = { ACS_REGISTRAR_ADO_EVENTS };
static const char *const cu_events[] = { ACS_REGISTRAR_CLICKUP_EVENTS };

#define SALT_BYTES crypto_generichash_KEYBYTES_MIN
#define CRED_HASH_BYTES 32
#define PREFIX_LEN (sizeof(ACS_REGISTRAR_SECRET_PREFIX) - 1)
#define DELIVERY_LEN (sizeof(ACS_REGISTRAR_DELIVERY_PREFIX) - 1)

/* A meta row (both strings owned; values may be secrets: wiped on free). */
struct kv {
	char *key;
	char *value; /**< NULL in a write op: delete the key */
};

struct kvs {
	struct kv *v;
	size_t n;
};

/* A mapped ADO project: one set of subscriptions. */
struct proj {
	char *name;  /**< as configured (labels and lookup) */
	char *id;    /**< GUID once resolved, else NULL */
	char *area;  /**< areaPath filter; NULL = the whole project */
	char *error; /**< why it could not be resolved; NULL when fine */
};

/* Where a subscription (or the ClickUp webhook) is in its fix-up. */
enum phase {
	PH_START = 0, /**< keep, PUT or create */
	PH_DELETE,    /**< the PUT was refused: delete, then create */
	PH_CREATE,    /**< create (after a delete when recreating) */
};

/* One needed ADO subscription: (project, event type). */
struct slot {
	size_t proj;
	const char *event;
	const struct acs_ado_subscription *have; /**< ours to keep or fix (in run::subs) */
	const char *why;			 /**< NULL: have is right; else what PUT fixes */
	enum phase phase;
	bool recreating;
	size_t item;
};

/* Ours but not needed: deleted. */
struct extra {
	const char *id; /**< borrowed from the listing */
	size_t item;
};

enum step {
	ST_PROJECTS = 0,
	ST_SUBS,
	ST_ADO_SLOTS,
	ST_ADO_EXTRAS,
	ST_HOOKS,
	ST_CU_EXTRAS,
	ST_CU_MAIN,
	ST_META_WRITE,
	ST_DONE,
};

struct run {
	uv_loop_t *loop;
	const struct acs_config *cfg;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_store *store;
	acs_registrar_done_cb cb;
	void *arg;
	bool dry_run; /**< acs_registrar_check: plan and report, change nothing */

	enum step step;
	size_t pos; /**< index into slots / extras during the current step */
	struct acs_registrar_result *res;
	size_t items_cap;

	struct kvs meta; /**< our meta rows, read first (filled on the reader thread) */

	/* Azure DevOps */
	char *ado_url;
	struct proj *projs;
	size_t n_projs;
	struct acs_ado_project_list *plist;
	struct acs_ado_subscription_list *subs;
	struct slot *slots;
	size_t n_slots;
	struct extra *extras;
	size_t n_extras;
	bool ado_failed;
	bool cred_changed;
	char *cred_value; /**< "v1:<salt hex>:<hash hex>" for the current config */

	/* ClickUp */
	char *cu_url;
	const char *cu_list; /**< list filter (from cfg) or NULL = workspace-wide */
	struct acs_clickup_webhooks *hooks;
	bool cu_listed;
	struct extra *cu_extras;
	size_t n_cu_extras;
	const struct acs_clickup_webhook *keep; /**< ours to keep (in hooks) or NULL */
	const char *cu_why;			/**< PUT reason, NULL = no PUT */
	bool cu_adopt;				/**< store keep->secret from the listing */
	bool cu_recreate;			/**< delete keep, then create */
	bool cu_lost;				/**< a stored secret's webhook vanished */
	enum phase cu_phase;
	size_t cu_item;
	bool cu_has_item;
	char *new_id; /**< created webhook */
	char *new_secret;
	char **gone; /**< webhook ids deleted by this run */
	size_t n_gone;

	struct kvs ops; /**< the final meta write (filled on the loop thread) */
};

static void step(struct run *r);
static void gone_add(struct run *r, const char *id);

/* sub_diff's reason for a subscription with the wrong event type. */
static const char WHY_EVENT[] = "event type fixed";

/* --- small helpers --------------------------------------------------------- */

static bool empty(const char *s)
{
	return !s || !*s;
}

static bool eq_opt(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool ieq_opt(const char *a, const char *b)
{
	return strcasecmp(a ? a : "", b ? b : "") == 0;
}

static void wipe_free(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void kvs_push(struct kvs *k, const char *key, const char *value)
{
	k->v = acs_xrealloc(k->v, (k->n + 1) * sizeof(*k->v));
	k->v[k->n].key = acs_xstrdup(key);
	k->v[k->n].value = value ? acs_xstrdup(value) : NULL;
	k->n++;
}

static void kvs_clear(struct kvs *k)
{
	for (size_t i = 0; i < k->n; i++) {
		free(k->v[i].key);
		wipe_free(k->v[i].value);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

static const char *meta_get(const struct run *r, const char *key)
{
	for (size_t i = 0; i < r->meta.n; i++)
		if (strcmp(r->meta.v[i].key, key) == 0)
			return r->meta.v[i].value;
	return NULL;
}

static const char *stored_secret(const struct run *r, const char *webhook_id)
{
	for (size_t i = 0; i < r->meta.n; i++) {
		const char *k = r->meta.v[i].key;
		if (strncmp(k, ACS_REGISTRAR_SECRET_PREFIX, PREFIX_LEN) == 0 &&
		    strcmp(k + PREFIX_LEN, webhook_id) == 0 && !empty(r->meta.v[i].value))
			return r->meta.v[i].value;
	}
	return NULL;
}

static size_t item_add(struct run *r, enum acs_registrar_service svc, const char *id,
		       const char *fmt, ...) ACS_PRINTF(4, 5);

static size_t item_add(struct run *r, enum acs_registrar_service svc, const char *id,
		       const char *fmt, ...)
{
	struct acs_registrar_result *res = r->res;
	if (res->n_items == r->items_cap) {
		r->items_cap = r->items_cap ? 2 * r->items_cap : 16;
		res->items = acs_xrealloc(res->items, r->items_cap * sizeof(*res->items));
	}
	struct acs_registrar_item *it = &res->items[res->n_items];
	memset(it, 0, sizeof(*it));
	it->service = svc;
	it->outcome = ACS_REGISTRAR_UNCHANGED;
	it->id = id ? acs_xstrdup(id) : NULL;
	it->detail = acs_xstrdup("");
	it->fail_count = it->fail_count_after = -1;
	struct acs_buf b;
	acs_buf_init(&b, 4096);
	va_list ap;
	va_start(ap, fmt);
	(void)acs_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	it->label = acs_buf_steal(&b, NULL);
	return res->n_items++;
}

/* Record what happened to item i; detail may be NULL. */
static void item_set(struct run *r, size_t i, enum acs_registrar_outcome o, const char *id,
		     const char *detail)
{
	struct acs_registrar_item *it = &r->res->items[i];
	it->outcome = o;
	if (id && (!it->id || strcmp(it->id, id))) {
		free(it->id);
		it->id = acs_xstrdup(id);
	}
	free(it->detail);
	it->detail = acs_xstrdup(detail ? detail : "");
}

static void item_events(struct run *r, size_t i, const char *const *ev, size_t n)
{
	struct acs_registrar_item *it = &r->res->items[i];
	for (size_t k = 0; k < it->n_events; k++)
		free(it->events[k]);
	free(it->events);
	it->events = acs_xcalloc(n ? n : 1, sizeof(*it->events));
	for (size_t k = 0; k < n; k++)
		it->events[k] = acs_xstrdup(ev[k] ? ev[k] : "");
	it->n_events = n;
}

static void item_one_event(struct run *r, size_t i, const char *event)
{
	item_events(r, i, &event, event ? 1 : 0);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? acs_xstrdup(v) : NULL;
}

/* What the listing showed (state NULL: it does not exist); also the state
 * after the run until a repair succeeds. */
static void item_state(struct run *r, size_t i, const char *state, int64_t fail_count)
{
	struct acs_registrar_item *it = &r->res->items[i];
	set_str(&it->state, state);
	set_str(&it->state_after, state);
	it->fail_count = it->fail_count_after = fail_count;
}

/* The service's answer to a repair (NULL: it no longer exists). */
static void item_after(struct run *r, size_t i, const char *state, int64_t fail_count)
{
	struct acs_registrar_item *it = &r->res->items[i];
	set_str(&it->state_after, state);
	it->fail_count_after = fail_count;
}

/* The last delivery stored for id (Unix ms), 0 when none. */
static int64_t delivery_of(const struct run *r, const char *id)
{
	for (size_t i = 0; id && i < r->meta.n; i++) {
		const char *k = r->meta.v[i].key;
		if (!strncmp(k, ACS_REGISTRAR_DELIVERY_PREFIX, DELIVERY_LEN) &&
		    !strcmp(k + DELIVERY_LEN, id) && r->meta.v[i].value)
			return strtoll(r->meta.v[i].value, NULL, 10);
	}
	return 0;
}

/* The id as listed, and the last delivery seen from it. */
static void item_id(struct run *r, size_t i, const char *id)
{
	set_str(&r->res->items[i].id, id);
	r->res->items[i].last_delivery_ms = delivery_of(r, id);
}

static void item_fail(struct run *r, size_t i, const char *msg)
{
	item_set(r, i, ACS_REGISTRAR_FAILED, NULL, msg);
	if (r->res->items[i].service == ACS_REGISTRAR_ADO)
		r->ado_failed = true;
}

static char *result_text(long status, const char *message, int error)
{
	const char *m = !empty(message) ? message : acs_strerror(error);
	if (status)
		return acs_xasprintf("HTTP %ld: %s", status, m);
	return acs_xstrdup(m);
}

static void item_fail_ado(struct run *r, size_t i, const struct acs_ado_result *res)
{
	char *t = result_text(res->status, res->message, res->error);
	item_fail(r, i, t);
	free(t);
}

static void item_fail_cu(struct run *r, size_t i, const struct acs_clickup_result *res)
{
	char *t = result_text(res->status, res->message, res->error);
	item_fail(r, i, t);
	free(t);
}

/* --- meta table jobs (run on the store's threads) ------------------------------- */

static int meta_read_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct kvs *out = arg;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "SELECT key, value FROM meta WHERE key GLOB ?1 OR key = ?2 "
				    "OR key GLOB ?3 ORDER BY key",
				    -1, &st, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "reading meta", err);
	sqlite3_bind_text(st, 1, ACS_REGISTRAR_SECRET_PREFIX "*", -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, ACS_REGISTRAR_ADO_CRED_KEY, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, ACS_REGISTRAR_DELIVERY_PREFIX "*", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		kvs_push(out, (const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 1));
	if (rc != SQLITE_DONE)
		rc = acs_store_error(db, rc, "reading meta", err);
	else
		rc = 0;
	sqlite3_finalize(st);
	return rc;
}

static int meta_write_job(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	const struct kvs *ops = arg;
	sqlite3_stmt *set = NULL, *del = NULL;
	int rc = sqlite3_prepare_v2(db,
				    "INSERT INTO meta (key, value) VALUES (?1, ?2) "
				    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
				    -1, &set, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "DELETE FROM meta WHERE key = ?1", -1, &del, NULL);
	if (rc != SQLITE_OK) {
		rc = acs_store_error(db, rc, "writing meta", err);
		goto out;
	}
	for (size_t i = 0; i < ops->n; i++) {
		sqlite3_stmt *s = ops->v[i].value ? set : del;
		sqlite3_reset(s);
		sqlite3_bind_text(s, 1, ops->v[i].key, -1, SQLITE_STATIC);
		if (ops->v[i].value)
			sqlite3_bind_text(s, 2, ops->v[i].value, -1, SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc != SQLITE_DONE) {
			rc = acs_store_error(db, rc, "writing meta", err);
			goto out;
		}
	}
	rc = 0;
out:
	sqlite3_finalize(set);
	sqlite3_finalize(del);
	return rc;
}

/* --- result ------------------------------------------------------------------------ */

void acs_registrar_result_free(struct acs_registrar_result *res)
{
	if (!res)
		return;
	for (size_t i = 0; i < res->n_items; i++) {
		struct acs_registrar_item *it = &res->items[i];
		free(it->label);
		free(it->id);
		free(it->detail);
		free(it->state);
		free(it->state_after);
		for (size_t k = 0; k < it->n_events; k++)
			free(it->events[k]);
		free(it->events);
	}
	free(res->items);
	for (size_t i = 0; i < res->n_secrets; i++) {
		free(res->secrets[i].webhook_id);
		wipe_free(res->secrets[i].secret);
	}
	free(res->secrets);
	free(res);
}

const char *acs_registrar_outcome_name(enum acs_registrar_outcome o)
{
	switch (o) {
	case ACS_REGISTRAR_UNCHANGED:
		return "unchanged";
	case ACS_REGISTRAR_CREATED:
		return "created";
	case ACS_REGISTRAR_UPDATED:
		return "updated";
	case ACS_REGISTRAR_RECREATED:
		return "recreated";
	case ACS_REGISTRAR_DELETED:
		return "deleted";
	case ACS_REGISTRAR_FAILED:
		return "failed";
	}
	return "?";
}

const char *acs_registrar_action_name(enum acs_registrar_action a)
{
	switch (a) {
	case ACS_REGISTRAR_ACTION_NONE:
		return "none";
	case ACS_REGISTRAR_ACTION_RE_ENABLE:
		return "re-enable";
	case ACS_REGISTRAR_ACTION_UPDATE_EVENTS:
		return "update events";
	case ACS_REGISTRAR_ACTION_UPDATE:
		return "update";
	case ACS_REGISTRAR_ACTION_RECREATE:
		return "recreate";
	case ACS_REGISTRAR_ACTION_CREATE:
		return "create";
	case ACS_REGISTRAR_ACTION_DELETE:
		return "delete";
	}
	return "?";
}

bool acs_registrar_repair_due(const struct acs_registrar_result *res)
{
	for (size_t i = 0; res && i < res->n_items; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		if (it->action != ACS_REGISTRAR_ACTION_NONE &&
		    (res->dry_run || it->outcome == ACS_REGISTRAR_FAILED))
			return true;
	}
	return false;
}

void acs_registrar_item_format(const struct acs_registrar_item *it, char *buf, size_t len)
{
	if (!len)
		return;
	const char *o = acs_registrar_outcome_name(it->outcome);
	if (it->outcome == ACS_REGISTRAR_FAILED)
		snprintf(buf, len, "%s: %s: %s", it->label, o, it->detail);
	else if (!empty(it->detail))
		snprintf(buf, len, "%s: %s (%s)", it->label, o, it->detail);
	else
		snprintf(buf, len, "%s: %s", it->label, o);
}

static void secret_add(struct acs_registrar_result *res, const char *id, const char *secret)
{
	res->secrets = acs_xrealloc(res->secrets, (res->n_secrets + 1) * sizeof(*res->secrets));
	res->secrets[res->n_secrets].webhook_id = acs_xstrdup(id);
	res->secrets[res->n_secrets].secret = acs_xstrdup(secret);
	res->n_secrets++;
}

/* --- ADO credentials fingerprint ---------------------------------------------------- */

static void cred_hash(const struct acs_config *cfg, const unsigned char salt[SALT_BYTES],
		      unsigned char out[CRED_HASH_BYTES])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, salt, SALT_BYTES, CRED_HASH_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)cfg->ado.webhook_username,
				  strlen(cfg->ado.webhook_username));
	crypto_generichash_update(&st, (const unsigned char *)"", 1);
	crypto_generichash_update(&st, (const unsigned char *)cfg->ado.webhook_password,
				  strlen(cfg->ado.webhook_password));
	crypto_generichash_final(&st, out, CRED_HASH_BYTES);
	sodium_memzero(&st, sizeof(st));
}

/* Compare the stored fingerprint with the config's credentials; keeps the
 * stored salt so an unchanged config gives the same value. */
static void cred_check(struct run *r)
{
	unsigned char salt[SALT_BYTES], h[CRED_HASH_BYTES], want[CRED_HASH_BYTES];
	const char *stored = meta_get(r, ACS_REGISTRAR_ADO_CRED_KEY);
	size_t n_salt = 0, n_hash = 0;
	const char *end = NULL;
	bool parsed = stored && strncmp(stored, "v1:", 3) == 0 &&
		      sodium_hex2bin(salt, sizeof(salt), stored + 3, strlen(stored + 3), NULL,
				     &n_salt, &end) == 0 &&
		      n_salt == SALT_BYTES && *end == ':' &&
		      sodium_hex2bin(want, sizeof(want), end + 1, strlen(end + 1), NULL, &n_hash,
				     &end) == 0 &&
		      n_hash == CRED_HASH_BYTES && *end == '\0';
	if (!parsed)
		randombytes_buf(salt, sizeof(salt));
	cred_hash(r->cfg, salt, h);
	r->cred_changed = !parsed || sodium_memcmp(h, want, sizeof(h)) != 0;
	char salt_hex[2 * SALT_BYTES + 1], h_hex[2 * CRED_HASH_BYTES + 1];
	sodium_bin2hex(salt_hex, sizeof(salt_hex), salt, sizeof(salt));
	sodium_bin2hex(h_hex, sizeof(h_hex), h, sizeof(h));
	r->cred_value = acs_xasprintf("v1:%s:%s", salt_hex, h_hex);
}

/* --- Azure DevOps: projects and plan --------------------------------------------------- */

static void build_projects(struct run *r)
{
	const struct acs_config *cfg = r->cfg;
	r->projs = acs_xcalloc(cfg->n_maps ? cfg->n_maps : 1, sizeof(*r->projs));
	for (size_t m = 0; m < cfg->n_maps; m++) {
		const char *name = cfg->maps[m].ado_project;
		size_t p = 0;
		while (p < r->n_projs && strcasecmp(r->projs[p].name, name))
			p++;
		if (p < r->n_projs)
			continue;
		r->projs[r->n_projs++].name = acs_xstrdup(name);
		/* The area filter only when every mapping of the project names
		 * the same area; otherwise the whole project. */
		const char *area = NULL;
		bool same = true;
		for (size_t k = m; k < cfg->n_maps && same; k++) {
			const struct acs_config_map *map = &cfg->maps[k];
			if (strcasecmp(map->ado_project, name))
				continue;
			if (empty(map->ado_area_path) ||
			    (area && strcasecmp(area, map->ado_area_path)))
				same = false;
			area = map->ado_area_path;
		}
		if (same && area)
			r->projs[p].area = acs_xstrdup(area);
	}
	r->n_slots = r->n_projs * ACS_ARRAY_SIZE(ado_events);
	r->slots = acs_xcalloc(r->n_slots ? r->n_slots : 1, sizeof(*r->slots));
	for (size_t p = 0; p < r->n_projs; p++) {
		for (size_t e = 0; e < ACS_ARRAY_SIZE(ado_events); e++) {
			struct slot *s = &r->slots[p * ACS_ARRAY_SIZE(ado_events) + e];
			s->proj = p;
			s->event = ado_events[e];
			s->item = item_add(r, ACS_REGISTRAR_ADO, NULL, "ado %s %s", s->event,
					   r->projs[p].name);
			item_one_event(r, s->item, s->event);
		}
	}
}

static bool slot_failed(const struct run *r, const struct slot *s)
{
	return r->res->items[s->item].outcome == ACS_REGISTRAR_FAILED;
}

static void fail_pending_slots(struct run *r, const char *msg)
{
	for (size_t i = 0; i < r->n_slots; i++)
		if (!slot_failed(r, &r->slots[i]))
			item_fail(r, r->slots[i].item, msg);
}

static bool ours_ado(const struct run *r, const struct acs_ado_subscription *s)
{
	return s->consumer_url && strcmp(s->consumer_url, r->ado_url) == 0;
}

/* What a PUT would fix on s to serve (p, event); NULL when s is right. */
static const char *sub_diff(const struct run *r, const struct acs_ado_subscription *s,
			    const struct proj *p, const char *event)
{
	const struct acs_config *cfg = r->cfg;
	if (strcasecmp(s->status ? s->status : "enabled", "enabled"))
		return strcasecmp(s->status, "onProbation") ? "re-enabled"
							    : "re-enabled (was on probation)";
	if (!eq_opt(s->event_type, event))
		return WHY_EVENT;
	if (!ieq_opt(s->project_id, p->id))
		return "project fixed";
	if (!ieq_opt(s->area_path, p->area))
		return "area path filter fixed";
	const char *changed = json_string_value(json_object_get(s->publisher_inputs, "changedField"
										     "s"));
	const char *pattern = json_string_value(json_object_get(s->publisher_inputs, "commentPatter"
										     "n"));
	if (!empty(s->work_item_type) || !empty(changed) || !empty(pattern))
		return "filters fixed";
	if (!eq_opt(s->consumer_id, "webHooks") || !eq_opt(s->consumer_action_id, "httpRequest") ||
	    !eq_opt(s->resource_version, "1.0"))
		return "consumer settings fixed";
	if (!eq_opt(s->basic_auth_username, cfg->ado.webhook_username) ||
	    s->has_password != !empty(cfg->ado.webhook_password))
		return "credentials fixed";
	if (!empty(s->http_headers))
		return "headers fixed";
	if (r->cred_changed)
		return "credentials refreshed";
	return NULL;
}

static const char *ado_status(const struct acs_ado_subscription *s)
{
	return empty(s->status) ? "enabled" : s->status;
}

/* The repair a planned slot calls for. */
static enum acs_registrar_action slot_action(const struct slot *s)
{
	if (!s->have)
		return ACS_REGISTRAR_ACTION_CREATE;
	if (!s->why)
		return ACS_REGISTRAR_ACTION_NONE;
	if (strcasecmp(ado_status(s->have), "enabled"))
		return ACS_REGISTRAR_ACTION_RE_ENABLE;
	if (s->why == WHY_EVENT)
		return ACS_REGISTRAR_ACTION_UPDATE_EVENTS;
	return ACS_REGISTRAR_ACTION_UPDATE;
}

static const char *project_label(const struct run *r, const char *id)
{
	for (size_t i = 0; r->plist && id && i < r->plist->n; i++)
		if (strcasecmp(r->plist->projects[i].id, id) == 0 && r->plist->projects[i].name)
			return r->plist->projects[i].name;
	return id ? id : "(no project)";
}

static void plan_ado(struct run *r)
{
	const struct acs_ado_subscription_list *l = r->subs;
	bool *used = acs_xcalloc(l->n ? l->n : 1, sizeof(*used));

	/* 1. Each needed subscription keeps the right one of ours for its
	 *    (project, event), else the first one to fix. */
	for (size_t i = 0; i < r->n_slots; i++) {
		struct slot *s = &r->slots[i];
		const struct proj *p = &r->projs[s->proj];
		if (slot_failed(r, s))
			continue;
		size_t best = l->n;
		for (size_t k = 0; k < l->n; k++) {
			const struct acs_ado_subscription *sub = &l->subs[k];
			if (used[k] || !ours_ado(r, sub) || !eq_opt(sub->event_type, s->event) ||
			    !ieq_opt(sub->project_id, p->id))
				continue;
			if (best == l->n)
				best = k;
			if (!sub_diff(r, sub, p, s->event)) {
				best = k;
				break;
			}
		}
		if (best < l->n) {
			used[best] = true;
			s->have = &l->subs[best];
			s->why = sub_diff(r, s->have, p, s->event);
		}
	}
	/* 2. Ours left over fill the missing ones (a PUT instead of a create). */
	for (size_t i = 0; i < r->n_slots; i++) {
		struct slot *s = &r->slots[i];
		if (slot_failed(r, s) || s->have)
			continue;
		for (size_t k = 0; k < l->n; k++) {
			if (used[k] || !ours_ado(r, &l->subs[k]))
				continue;
			used[k] = true;
			s->have = &l->subs[k];
			s->why = sub_diff(r, s->have, &r->projs[s->proj], s->event);
			break;
		}
	}
	/* The report: what each one is on the service, what it needs. */
	for (size_t i = 0; i < r->n_slots; i++) {
		struct slot *s = &r->slots[i];
		if (slot_failed(r, s))
			continue;
		r->res->items[s->item].action = slot_action(s);
		if (s->have) {
			item_id(r, s->item, s->have->id);
			item_state(r, s->item, ado_status(s->have), -1);
			item_one_event(r, s->item, s->have->event_type);
		}
	}
	/* 3. The rest of ours is not needed. */
	for (size_t k = 0; k < l->n; k++) {
		const struct acs_ado_subscription *sub = &l->subs[k];
		if (used[k] || !ours_ado(r, sub))
			continue;
		r->extras = acs_xrealloc(r->extras, (r->n_extras + 1) * sizeof(*r->extras));
		struct extra *x = &r->extras[r->n_extras++];
		x->id = sub->id;
		x->item = item_add(r, ACS_REGISTRAR_ADO, sub->id, "ado %s %s",
				   sub->event_type ? sub->event_type : "(no event)",
				   project_label(r, sub->project_id));
		r->res->items[x->item].action = ACS_REGISTRAR_ACTION_DELETE;
		item_id(r, x->item, sub->id);
		item_state(r, x->item, ado_status(sub), -1);
		item_one_event(r, x->item, sub->event_type);
	}
	free(used);
}

/* --- Azure DevOps: callbacks ------------------------------------------------------------ */

static void on_projects(const struct acs_ado_result *res, struct acs_ado_project_list *list,
			void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		char *t = result_text(res->status, res->message, res->error);
		char *msg = acs_xasprintf("listing projects: %s", t);
		fail_pending_slots(r, msg);
		free(msg);
		free(t);
		r->step = ST_HOOKS;
		step(r);
		return;
	}
	r->plist = list;
	for (size_t p = 0; p < r->n_projs; p++) {
		struct proj *pj = &r->projs[p];
		for (size_t i = 0; i < list->n && !pj->id; i++) {
			const struct acs_ado_project *ap = &list->projects[i];
			if (ap->id && ((ap->name && !strcasecmp(ap->name, pj->name)) ||
				       !strcasecmp(ap->id, pj->name)))
				pj->id = acs_xstrdup(ap->id);
		}
		if (!pj->id) {
			pj->error = acs_xasprintf("project '%s' not found in the organization",
						  pj->name);
			for (size_t e = 0; e < ACS_ARRAY_SIZE(ado_events); e++)
				item_fail(r, r->slots[p * ACS_ARRAY_SIZE(ado_events) + e].item,
					  pj->error);
		}
	}
	r->step = ST_SUBS;
	step(r);
}

static void on_subs(const struct acs_ado_result *res, struct acs_ado_subscription_list *list,
		    void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		char *t = result_text(res->status, res->message, res->error);
		char *msg = acs_xasprintf("listing subscriptions: %s", t);
		fail_pending_slots(r, msg);
		free(msg);
		free(t);
		r->step = ST_HOOKS;
		step(r);
		return;
	}
	r->subs = list;
	plan_ado(r);
	r->step = ST_ADO_SLOTS;
	r->pos = 0;
	step(r);
}

static void on_slot_put(const struct acs_ado_result *res, struct acs_ado_subscription *sub,
			void *arg)
{
	struct run *r = arg;
	struct slot *s = &r->slots[r->pos];
	if (res->cls == ACS_REST_OK && !strcasecmp(ado_status(sub), "enabled")) {
		item_set(r, s->item, ACS_REGISTRAR_UPDATED, sub->id, s->why);
		item_after(r, s->item, ado_status(sub), -1);
		item_one_event(r, s->item, s->event);
		r->pos++;
	} else if (res->cls == ACS_REST_OK || res->cls == ACS_REST_PERMANENT) {
		/* Refused, or still not enabled: replace it with a new one. */
		acs_log(ACS_LOG_DEBUG, "registrar", "PUT of subscription %s %s: recreating",
			s->have->id, res->cls == ACS_REST_OK ? "left it disabled" : "refused");
		s->phase = PH_DELETE;
		s->recreating = true;
		r->res->items[s->item].action = ACS_REGISTRAR_ACTION_RECREATE;
	} else {
		item_fail_ado(r, s->item, res);
		r->pos++;
	}
	acs_ado_subscription_free(sub);
	step(r);
}

static void on_slot_deleted(const struct acs_ado_result *res, void *arg)
{
	struct run *r = arg;
	struct slot *s = &r->slots[r->pos];
	if (res->cls == ACS_REST_OK || res->status == 404) {
		s->phase = PH_CREATE;
		gone_add(r, s->have->id);
		item_after(r, s->item, NULL, -1);
	} else {
		item_fail_ado(r, s->item, res);
		r->pos++;
	}
	step(r);
}

static void on_slot_created(const struct acs_ado_result *res, struct acs_ado_subscription *sub,
			    void *arg)
{
	struct run *r = arg;
	struct slot *s = &r->slots[r->pos];
	if (res->cls == ACS_REST_OK) {
		item_set(r, s->item,
			 s->recreating ? ACS_REGISTRAR_RECREATED : ACS_REGISTRAR_CREATED, sub->id,
			 s->recreating ? s->why : NULL);
		item_after(r, s->item, ado_status(sub), -1);
		item_one_event(r, s->item, s->event);
	} else
		item_fail_ado(r, s->item, res);
	acs_ado_subscription_free(sub);
	r->pos++;
	step(r);
}

static void on_extra_deleted(const struct acs_ado_result *res, void *arg)
{
	struct run *r = arg;
	struct extra *x = &r->extras[r->pos];
	if (res->cls == ACS_REST_OK || res->status == 404) {
		item_set(r, x->item, ACS_REGISTRAR_DELETED, NULL, "not needed");
		item_after(r, x->item, NULL, -1);
		gone_add(r, x->id);
	} else
		item_fail_ado(r, x->item, res);
	r->pos++;
	step(r);
}

static void fill_spec(const struct run *r, const struct slot *s,
		      struct acs_ado_subscription_spec *spec)
{
	const struct acs_config *cfg = r->cfg;
	const struct proj *p = &r->projs[s->proj];
	memset(spec, 0, sizeof(*spec));
	spec->event_type = s->event;
	spec->project_id = p->id;
	spec->area_path = p->area;
	spec->url = r->ado_url;
	spec->basic_auth_username = cfg->ado.webhook_username;
	spec->basic_auth_password = empty(cfg->ado.webhook_password) ? NULL
								     : cfg->ado.webhook_password;
}

/* One step of the current slot. Returns true when a call is in flight. */
static bool slot_step(struct run *r)
{
	struct slot *s = &r->slots[r->pos];
	struct acs_ado_subscription_spec spec;
	int rc;
	if (slot_failed(r, s)) {
		r->pos++;
		return false;
	}
	fill_spec(r, s, &spec);
	if (s->phase == PH_START && s->have && !s->why) {
		item_set(r, s->item, ACS_REGISTRAR_UNCHANGED, s->have->id, NULL);
		r->pos++;
		return false;
	}
	if (r->dry_run) {
		/* A refused PUT would turn into a recreate: not knowable here. */
		if (s->have)
			item_set(r, s->item, ACS_REGISTRAR_UPDATED, s->have->id, s->why);
		else
			item_set(r, s->item, ACS_REGISTRAR_CREATED, NULL, NULL);
		r->pos++;
		return false;
	}
	if (s->phase == PH_START && s->have)
		rc = acs_ado_replace_subscription(r->ado, s->have->id, &spec, on_slot_put, r);
	else if (s->phase == PH_DELETE)
		rc = acs_ado_delete_subscription(r->ado, s->have->id, on_slot_deleted, r);
	else
		rc = acs_ado_create_subscription(r->ado, &spec, on_slot_created, r);
	if (rc == 0)
		return true;
	item_fail(r, s->item, acs_strerror(rc));
	r->pos++;
	return false;
}

/* --- ClickUp ------------------------------------------------------------------------------- */

static bool ours_cu(const struct run *r, const struct acs_clickup_webhook *h)
{
	return h->endpoint && strcmp(h->endpoint, r->cu_url) == 0;
}

static bool location_ok(const struct run *r, const struct acs_clickup_webhook *h)
{
	if (!empty(h->space_id) || !empty(h->folder_id) || !empty(h->task_id))
		return false;
	return eq_opt(h->list_id, r->cu_list);
}

static bool events_ok(const struct acs_clickup_webhook *h)
{
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cu_events); i++) {
		bool found = false;
		for (size_t k = 0; k < h->n_events && !found; k++)
			found = strcmp(h->events[k], cu_events[i]) == 0;
		if (!found)
			return false;
	}
	for (size_t k = 0; k < h->n_events; k++) {
		bool found = false;
		for (size_t i = 0; i < ACS_ARRAY_SIZE(cu_events) && !found; i++)
			found = strcmp(h->events[k], cu_events[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* "failing" means events are being dropped after their retries (and 100
 * of them suspend it), "suspended" that none are sent: both get the PUT
 * that re-activates and resets fail_count. */
static bool active_ok(const struct acs_clickup_webhook *h)
{
	return empty(h->status) || !strcasecmp(h->status, "active");
}

static const char *cu_status(const struct acs_clickup_webhook *h)
{
	return empty(h->status) ? "active" : h->status;
}

static void item_hook(struct run *r, size_t i, const struct acs_clickup_webhook *h)
{
	item_id(r, i, h->id);
	item_state(r, i, cu_status(h), h->fail_count);
	item_events(r, i, (const char *const *)h->events, h->n_events);
}

static void hook_where(const struct acs_clickup_webhook *h, const char *team, char *buf, size_t len)
{
	if (!empty(h->list_id))
		snprintf(buf, len, "list %s", h->list_id);
	else if (!empty(h->folder_id))
		snprintf(buf, len, "folder %s", h->folder_id);
	else if (!empty(h->space_id))
		snprintf(buf, len, "space %s", h->space_id);
	else if (!empty(h->task_id))
		snprintf(buf, len, "task %s", h->task_id);
	else
		snprintf(buf, len, "workspace %s", team);
}

static bool in_listing(const struct run *r, const char *id)
{
	for (size_t i = 0; r->hooks && i < r->hooks->n; i++)
		if (strcmp(r->hooks->v[i].id, id) == 0)
			return true;
	return false;
}

static void plan_cu(struct run *r)
{
	const struct acs_clickup_webhooks *hs = r->hooks;
	int best_score = -1;
	for (size_t i = 0; i < hs->n; i++) {
		const struct acs_clickup_webhook *h = &hs->v[i];
		if (!ours_cu(r, h) || !location_ok(r, h))
			continue;
		int score = (stored_secret(r, h->id) ? 4 : 0) + (events_ok(h) ? 2 : 0) +
			    (active_ok(h) ? 1 : 0);
		if (score > best_score) {
			best_score = score;
			r->keep = h;
		}
	}
	for (size_t i = 0; i < hs->n; i++) {
		const struct acs_clickup_webhook *h = &hs->v[i];
		if (!ours_cu(r, h) || h == r->keep)
			continue;
		char where[96];
		hook_where(h, r->cfg->clickup.workspace_id, where, sizeof(where));
		r->cu_extras =
			acs_xrealloc(r->cu_extras, (r->n_cu_extras + 1) * sizeof(*r->cu_extras));
		struct extra *x = &r->cu_extras[r->n_cu_extras++];
		x->id = h->id;
		x->item = item_add(r, ACS_REGISTRAR_CLICKUP, h->id, "clickup webhook %s", where);
		r->res->items[x->item].action = ACS_REGISTRAR_ACTION_DELETE;
		item_hook(r, x->item, h);
	}
	for (size_t i = 0; i < r->meta.n; i++) {
		const char *k = r->meta.v[i].key;
		if (!strncmp(k, ACS_REGISTRAR_SECRET_PREFIX, PREFIX_LEN) &&
		    !in_listing(r, k + PREFIX_LEN))
			r->cu_lost = true;
	}
	struct acs_registrar_item *it = &r->res->items[r->cu_item];
	if (!r->keep) {
		it->action = r->cu_lost ? ACS_REGISTRAR_ACTION_RECREATE
					: ACS_REGISTRAR_ACTION_CREATE;
		return;
	}
	item_set(r, r->cu_item, ACS_REGISTRAR_UNCHANGED, r->keep->id, NULL);
	item_hook(r, r->cu_item, r->keep);
	const char *have = stored_secret(r, r->keep->id);
	if (!have && empty(r->keep->secret))
		r->cu_recreate = true;
	else if (!empty(r->keep->secret) && (!have || strcmp(have, r->keep->secret)))
		r->cu_adopt = true; /* the listing's copy is the one deliveries use */
	if (!active_ok(r->keep))
		r->cu_why = "re-activated";
	else if (!events_ok(r->keep))
		r->cu_why = "events fixed";
	if (r->cu_recreate)
		it->action = ACS_REGISTRAR_ACTION_RECREATE;
	else if (!active_ok(r->keep))
		it->action = ACS_REGISTRAR_ACTION_RE_ENABLE;
	else if (r->cu_why)
		it->action = ACS_REGISTRAR_ACTION_UPDATE_EVENTS;
	else if (r->cu_adopt)
		it->action = ACS_REGISTRAR_ACTION_UPDATE;
}

static void on_hooks(const struct acs_clickup_result *res, struct acs_clickup_webhooks *whs,
		     void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		char *t = result_text(res->status, res->message, res->error);
		char *msg = acs_xasprintf("listing webhooks: %s", t);
		item_fail(r, r->cu_item, msg);
		free(msg);
		free(t);
		r->step = ST_META_WRITE;
		step(r);
		return;
	}
	r->hooks = whs;
	r->cu_listed = true;
	plan_cu(r);
	r->step = ST_CU_EXTRAS;
	r->pos = 0;
	step(r);
}

static void gone_add(struct run *r, const char *id)
{
	r->gone = acs_xrealloc(r->gone, (r->n_gone + 1) * sizeof(*r->gone));
	r->gone[r->n_gone++] = acs_xstrdup(id);
}

static void on_cu_extra_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	struct extra *x = &r->cu_extras[r->pos];
	if (res->cls == ACS_REST_OK || res->status == 404) {
		gone_add(r, x->id);
		bool dup = false;
		for (size_t i = 0; i < r->hooks->n; i++)
			if (!strcmp(r->hooks->v[i].id, x->id))
				dup = location_ok(r, &r->hooks->v[i]);
		item_set(r, x->item, ACS_REGISTRAR_DELETED, NULL, dup ? "duplicate" : "not needed");
		item_after(r, x->item, NULL, -1);
	} else {
		item_fail_cu(r, x->item, res);
	}
	r->pos++;
	step(r);
}

static void on_cu_put(const struct acs_clickup_result *res, struct acs_clickup_webhook *wh,
		      void *arg)
{
	struct run *r = arg;
	if (res->cls == ACS_REST_OK) {
		char *why =
			acs_xasprintf("%s%s", r->cu_adopt ? "secret restored, " : "", r->cu_why);
		item_set(r, r->cu_item, ACS_REGISTRAR_UPDATED, r->keep->id, why);
		free(why);
		item_after(r, r->cu_item, wh ? cu_status(wh) : "active", wh ? wh->fail_count : 0);
		item_events(r, r->cu_item, cu_events, ACS_ARRAY_SIZE(cu_events));
	} else
		item_fail_cu(r, r->cu_item, res);
	acs_clickup_webhook_free(wh);
	r->step = ST_META_WRITE;
	step(r);
}

static void on_cu_keep_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct run *r = arg;
	if (res->cls == ACS_REST_OK || res->status == 404) {
		gone_add(r, r->keep->id);
		item_after(r, r->cu_item, NULL, -1);
		r->cu_phase = PH_CREATE;
	} else {
		item_fail_cu(r, r->cu_item, res);
		r->step = ST_META_WRITE;
	}
	step(r);
}

static void on_cu_created(const struct acs_clickup_result *res, struct acs_clickup_webhook *wh,
			  void *arg)
{
	struct run *r = arg;
	if (res->cls != ACS_REST_OK) {
		item_fail_cu(r, r->cu_item, res);
	} else if (empty(wh->secret)) {
		/* Unusable without its secret: the next run recreates it. */
		item_set(r, r->cu_item, ACS_REGISTRAR_FAILED, wh->id,
			 "created, but the answer carried no secret");
	} else {
		r->new_id = acs_xstrdup(wh->id);
		r->new_secret = acs_xstrdup(wh->secret);
		acs_log_add_secret(wh->secret);
		if (r->cu_recreate)
			item_set(r, r->cu_item, ACS_REGISTRAR_RECREATED, wh->id,
				 "its secret was not stored");
		else if (r->cu_lost)
			item_set(r, r->cu_item, ACS_REGISTRAR_RECREATED, wh->id, "it had vanished");
		else
			item_set(r, r->cu_item, ACS_REGISTRAR_CREATED, wh->id, NULL);
		item_after(r, r->cu_item, cu_status(wh), wh->fail_count);
		item_events(r, r->cu_item, cu_events, ACS_ARRAY_SIZE(cu_events));
	}
	acs_clickup_webhook_free(wh);
	r->step = ST_META_WRITE;
	step(r);
}

/* The ClickUp webhook itself. Returns true when a call is in flight. */
static bool cu_main_step(struct run *r)
{
	const struct acs_config *cfg = r->cfg;
	int rc;
	if (r->dry_run && (!r->keep || r->cu_recreate || r->cu_why)) {
		if (r->keep && !r->cu_recreate)
			item_set(r, r->cu_item, ACS_REGISTRAR_UPDATED, r->keep->id, r->cu_why);
		else if (r->keep)
			item_set(r, r->cu_item, ACS_REGISTRAR_RECREATED, r->keep->id,
				 "its secret was not stored");
		else
			item_set(r, r->cu_item,
				 r->cu_lost ? ACS_REGISTRAR_RECREATED : ACS_REGISTRAR_CREATED, NULL,
				 r->cu_lost ? "it had vanished" : NULL);
		r->step = ST_META_WRITE;
		return false;
	}
	if (r->keep && !r->cu_recreate && r->cu_why) {
		struct acs_clickup_webhook_changes ch = {
			.endpoint = r->cu_url,
			.events = cu_events,
			.n_events = ACS_ARRAY_SIZE(cu_events),
			.status = "active",
		};
		rc = acs_clickup_update_webhook(r->cu, ACS_GOVERNOR_INTERACTIVE, r->keep->id, &ch,
						on_cu_put, r);
	} else if (r->keep && !r->cu_recreate) {
		if (r->cu_adopt)
			item_set(r, r->cu_item, ACS_REGISTRAR_UPDATED, r->keep->id,
				 "secret restored");
		r->step = ST_META_WRITE;
		return false;
	} else if (r->keep && r->cu_phase == PH_START) {
		rc = acs_clickup_delete_webhook(r->cu, ACS_GOVERNOR_INTERACTIVE, r->keep->id,
						on_cu_keep_deleted, r);
	} else {
		struct acs_clickup_webhook_new w = {
			.endpoint = r->cu_url,
			.events = cu_events,
			.n_events = ACS_ARRAY_SIZE(cu_events),
			.list_id = r->cu_list,
		};
		rc = acs_clickup_create_webhook(r->cu, ACS_GOVERNOR_INTERACTIVE,
						cfg->clickup.workspace_id, &w, on_cu_created, r);
	}
	if (rc == 0)
		return true;
	item_fail(r, r->cu_item, acs_strerror(rc));
	r->step = ST_META_WRITE;
	return false;
}

/* --- the end: meta, result, callback ------------------------------------------------------- */

static bool gone(const struct run *r, const char *id)
{
	for (size_t i = 0; i < r->n_gone; i++)
		if (!strcmp(r->gone[i], id))
			return true;
	return false;
}

/* A webhook id whose secret stays: it still exists (or we cannot tell). */
static bool alive(const struct run *r, const char *id)
{
	if (r->new_id && !strcmp(r->new_id, id))
		return true;
	if (!r->cu_listed)
		return true;
	return in_listing(r, id) && !gone(r, id);
}

/* Build the final meta write and the result's secrets. */
static void plan_meta(struct run *r)
{
	for (size_t i = 0; i < r->meta.n; i++) {
		const char *k = r->meta.v[i].key, *v = r->meta.v[i].value;
		if (strncmp(k, ACS_REGISTRAR_SECRET_PREFIX, PREFIX_LEN))
			continue;
		const char *id = k + PREFIX_LEN;
		bool replaced = (r->new_id && !strcmp(id, r->new_id)) ||
				(r->cu_adopt && r->keep && !strcmp(id, r->keep->id));
		if (!alive(r, id))
			kvs_push(&r->ops, k, NULL);
		else if (!empty(v) && !replaced)
			secret_add(r->res, id, v);
	}
	/* A secret from the listing is right whatever happened to the PUT. */
	const struct acs_clickup_webhook *k = r->keep;
	if (k && r->cu_adopt && alive(r, k->id)) {
		char *key = acs_xasprintf("%s%s", ACS_REGISTRAR_SECRET_PREFIX, k->id);
		kvs_push(&r->ops, key, k->secret);
		secret_add(r->res, k->id, k->secret);
		acs_log_add_secret(k->secret);
		free(key);
	}
	if (r->new_id) {
		char *key = acs_xasprintf("%s%s", ACS_REGISTRAR_SECRET_PREFIX, r->new_id);
		kvs_push(&r->ops, key, r->new_secret);
		secret_add(r->res, r->new_id, r->new_secret);
		free(key);
	}
	/* Last deliveries of ids neither service lists any more (both
	 * listings needed to tell). */
	for (size_t i = 0; r->subs && r->cu_listed && i < r->meta.n; i++) {
		const char *dk = r->meta.v[i].key;
		if (strncmp(dk, ACS_REGISTRAR_DELIVERY_PREFIX, DELIVERY_LEN))
			continue;
		const char *id = dk + DELIVERY_LEN;
		bool listed = in_listing(r, id) && !gone(r, id);
		for (size_t s = 0; !listed && s < r->subs->n; s++)
			listed = r->subs->subs[s].id && !strcmp(r->subs->subs[s].id, id) &&
				 !gone(r, id);
		if (!listed)
			kvs_push(&r->ops, dk, NULL);
	}
	if (r->n_slots && r->cred_value && r->cred_changed && !r->ado_failed)
		kvs_push(&r->ops, ACS_REGISTRAR_ADO_CRED_KEY, r->cred_value);
}

static void on_meta_written(int rc, const char *err, void *arg)
{
	struct run *r = acs_container_of(arg, struct run, ops);
	if (rc < 0) {
		acs_log(ACS_LOG_ERR, "registrar", "cannot record webhook secrets: %s", err);
		/* A webhook whose secret did not reach the database cannot be
		 * verified after a restart: report it, the next run heals it. */
		if (r->cu_has_item && (r->new_id || r->cu_adopt) &&
		    r->res->items[r->cu_item].outcome != ACS_REGISTRAR_FAILED) {
			char *msg = acs_xasprintf("storing its secret: %s", err);
			item_fail(r, r->cu_item, msg);
			free(msg);
		}
	}
	r->step = ST_DONE;
	step(r);
}

static void run_free(struct run *r)
{
	kvs_clear(&r->meta);
	kvs_clear(&r->ops);
	free(r->ado_url);
	for (size_t i = 0; i < r->n_projs; i++) {
		free(r->projs[i].name);
		free(r->projs[i].id);
		free(r->projs[i].area);
		free(r->projs[i].error);
	}
	free(r->projs);
	acs_ado_project_list_free(r->plist);
	acs_ado_subscription_list_free(r->subs);
	free(r->slots);
	free(r->extras);
	wipe_free(r->cred_value);
	free(r->cu_url);
	acs_clickup_webhooks_free(r->hooks);
	free(r->cu_extras);
	free(r->new_id);
	wipe_free(r->new_secret);
	for (size_t i = 0; i < r->n_gone; i++)
		free(r->gone[i]);
	free(r->gone);
	free(r);
}

static void finish(struct run *r)
{
	struct acs_registrar_result *res = r->res;
	res->n_failed = 0;
	res->dry_run = r->dry_run;
	/* One line per subscription that needed (or got) something: the only
	 * place a repair is logged. */
	for (size_t i = 0; i < res->n_items; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		if (it->outcome == ACS_REGISTRAR_FAILED)
			res->n_failed++;
		if (it->outcome == ACS_REGISTRAR_UNCHANGED)
			continue;
		struct acs_log_field f[] = {
			{ "subscription", it->label },
			{ "action", acs_registrar_action_name(it->action) },
			{ "outcome", acs_registrar_outcome_name(it->outcome) },
			{ "state", it->state ? it->state : "missing" },
			{ "detail", it->detail },
			{ "id", it->id },
		};
		/* A check reports to its caller: its plan is debug output. */
		enum acs_log_level lvl = it->outcome == ACS_REGISTRAR_FAILED ? ACS_LOG_WARN
					 : r->dry_run			     ? ACS_LOG_DEBUG
									     : ACS_LOG_INFO;
		acs_log_kv(lvl, "registrar",
			   r->dry_run ? "webhook check (nothing changed)" : "webhook registration",
			   f, ACS_ARRAY_SIZE(f));
	}
	acs_registrar_done_cb cb = r->cb;
	void *arg = r->arg;
	r->res = NULL;
	run_free(r);
	cb(res, arg);
}

/* Advance until a call is in flight or the run is over. */
static void step(struct run *r)
{
	int rc;
	for (;;) {
		switch (r->step) {
		case ST_PROJECTS:
			if (!r->n_slots) {
				r->step = ST_HOOKS;
				break;
			}
			cred_check(r);
			rc = acs_ado_list_projects(r->ado, on_projects, r);
			if (rc == 0)
				return;
			fail_pending_slots(r, acs_strerror(rc));
			r->step = ST_HOOKS;
			break;
		case ST_SUBS:
			rc = acs_ado_list_subscriptions(r->ado, NULL, on_subs, r);
			if (rc == 0)
				return;
			fail_pending_slots(r, acs_strerror(rc));
			r->step = ST_HOOKS;
			break;
		case ST_ADO_SLOTS:
			if (r->pos < r->n_slots) {
				if (slot_step(r))
					return;
				break;
			}
			r->step = ST_ADO_EXTRAS;
			r->pos = 0;
			break;
		case ST_ADO_EXTRAS:
			if (r->pos < r->n_extras && r->dry_run) {
				item_set(r, r->extras[r->pos].item, ACS_REGISTRAR_DELETED, NULL,
					 "not needed");
				r->pos++;
				break;
			}
			if (r->pos < r->n_extras) {
				rc = acs_ado_delete_subscription(r->ado, r->extras[r->pos].id,
								 on_extra_deleted, r);
				if (rc == 0)
					return;
				item_fail(r, r->extras[r->pos].item, acs_strerror(rc));
				r->pos++;
				break;
			}
			r->step = ST_HOOKS;
			break;
		case ST_HOOKS:
			if (!r->cfg->n_maps) {
				r->step = ST_META_WRITE;
				break;
			}
			r->cu_item =
				item_add(r, ACS_REGISTRAR_CLICKUP, NULL, "clickup webhook %s %s",
					 r->cu_list ? "list" : "workspace",
					 r->cu_list ? r->cu_list : r->cfg->clickup.workspace_id);
			r->cu_has_item = true;
			item_events(r, r->cu_item, cu_events, ACS_ARRAY_SIZE(cu_events));
			rc = acs_clickup_get_webhooks(r->cu, ACS_GOVERNOR_INTERACTIVE,
						      r->cfg->clickup.workspace_id, on_hooks, r);
			if (rc == 0)
				return;
			item_fail(r, r->cu_item, acs_strerror(rc));
			r->step = ST_META_WRITE;
			break;
		case ST_CU_EXTRAS:
			if (r->pos < r->n_cu_extras && r->dry_run) {
				item_set(r, r->cu_extras[r->pos].item, ACS_REGISTRAR_DELETED, NULL,
					 "not needed");
				r->pos++;
				break;
			}
			if (r->pos < r->n_cu_extras) {
				rc = acs_clickup_delete_webhook(r->cu, ACS_GOVERNOR_INTERACTIVE,
								r->cu_extras[r->pos].id,
								on_cu_extra_deleted, r);
				if (rc == 0)
					return;
				item_fail(r, r->cu_extras[r->pos].item, acs_strerror(rc));
				r->pos++;
				break;
			}
			r->step = ST_CU_MAIN;
			break;
		case ST_CU_MAIN:
			if (cu_main_step(r))
				return;
			break;
		case ST_META_WRITE:
			r->step = ST_DONE;
			if (r->dry_run)
				break;
			plan_meta(r);
			if (!r->ops.n)
				break;
			rc = acs_store_write(r->store, meta_write_job, on_meta_written, &r->ops);
			if (rc == 0)
				return;
			on_meta_written(rc, acs_strerror(rc), &r->ops);
			return;
		case ST_DONE:
			finish(r);
			return;
		}
	}
}

/* --- entry points ------------------------------------------------------------------------- */

static void on_meta_read(int rc, const char *err, void *arg)
{
	struct run *r = acs_container_of(arg, struct run, meta);
	if (rc < 0) {
		/* Without our rows every secret would look lost: change nothing. */
		size_t i = item_add(r, ACS_REGISTRAR_DATABASE, NULL, "database");
		char *msg = acs_xasprintf("reading stored secrets: %s", err);
		item_fail(r, i, msg);
		free(msg);
		r->step = ST_DONE;
	} else {
		for (size_t k = 0; k < r->meta.n; k++)
			if (!strncmp(r->meta.v[k].key, ACS_REGISTRAR_SECRET_PREFIX, PREFIX_LEN))
				acs_log_add_secret(r->meta.v[k].value);
		r->step = ST_PROJECTS;
	}
	step(r);
}

/* The ClickUp list filter: the one list every mapping uses, else none. */
static const char *common_list(const struct acs_config *cfg)
{
	const char *list = NULL;
	for (size_t m = 0; m < cfg->n_maps; m++) {
		const char *l = cfg->maps[m].clickup_list_id;
		if (empty(l) || (list && strcmp(list, l)))
			return NULL;
		list = l;
	}
	return list;
}

static int start_run(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
		     struct acs_clickup_client *cu, struct acs_store *store, bool dry_run,
		     acs_registrar_done_cb cb, void *arg)
{
	if (!loop || !cfg || !ado || !cu || !store || !cb || empty(cfg->server.public_url) ||
	    empty(cfg->clickup.workspace_id))
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOMEM;
	struct run *r = acs_xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->cfg = cfg;
	r->ado = ado;
	r->cu = cu;
	r->store = store;
	r->cb = cb;
	r->arg = arg;
	r->dry_run = dry_run;
	r->res = acs_xcalloc(1, sizeof(*r->res));
	r->ado_url = acs_xasprintf("%s%s", cfg->server.public_url, ACS_REGISTRAR_ADO_PATH);
	r->cu_url = acs_xasprintf("%s%s", cfg->server.public_url, ACS_REGISTRAR_CLICKUP_PATH);
	r->cu_list = common_list(cfg);
	build_projects(r);
	/* The job gets &r->meta only; the callback finds r from it. */
	int rc = acs_store_read(store, meta_read_job, on_meta_read, &r->meta);
	if (rc) {
		acs_registrar_result_free(r->res);
		run_free(r);
		return rc;
	}
	return 0;
}

int acs_registrar_run(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
		      struct acs_clickup_client *cu, struct acs_store *store,
		      acs_registrar_done_cb cb, void *arg)
{
	return start_run(loop, cfg, ado, cu, store, false, cb, arg);
}

int acs_registrar_check(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
			struct acs_clickup_client *cu, struct acs_store *store,
			acs_registrar_done_cb cb, void *arg)
{
	return start_run(loop, cfg, ado, cu, store, true, cb, arg);
}

/* --- stored secrets at start-up ------------------------------------------------------------ */

struct load {
	struct kvs meta; /**< filled on the reader thread */
	acs_registrar_secrets_cb cb;
	void *arg;
};

static void on_loaded(int rc, const char *err, void *arg)
{
	(void)err; /* the caller reports rc */
	struct load *l = acs_container_of(arg, struct load, meta);
	struct acs_registrar_result *res = NULL;
	if (rc >= 0) {
		res = acs_xcalloc(1, sizeof(*res));
		for (size_t i = 0; i < l->meta.n; i++) {
			const struct kv *kv = &l->meta.v[i];
			if (strncmp(kv->key, ACS_REGISTRAR_SECRET_PREFIX, PREFIX_LEN) ||
			    empty(kv->value))
				continue;
			acs_log_add_secret(kv->value);
			secret_add(res, kv->key + PREFIX_LEN, kv->value);
		}
	}
	acs_registrar_secrets_cb cb = l->cb;
	void *cb_arg = l->arg;
	kvs_clear(&l->meta);
	free(l);
	cb(rc < 0 ? rc : 0, res, cb_arg);
}

int acs_registrar_load_secrets(struct acs_store *store, acs_registrar_secrets_cb cb, void *arg)
{
	if (!store || !cb)
		return -EINVAL;
	struct load *l = acs_xcalloc(1, sizeof(*l));
	l->cb = cb;
	l->arg = arg;
	int rc = acs_store_read(store, meta_read_job, on_loaded, &l->meta);
	if (rc)
		free(l);
	return rc;
}
