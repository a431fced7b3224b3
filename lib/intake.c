/* SPDX-License-Identifier: MIT */
/* The webhook receivers: authentication, normalisation and one inbox write per
 * delivery, answered after the commit (the contract is in intake.h). */
#include "intake.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http_server.h"
#include "inbox.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "webhook.h"

#define MOD "intake"

/* "clickup:" + an id of at most ACS_WEBHOOK_MAX_ID_LEN, or "ado:" + an int64. */
#define ITEM_KEY_LEN (16 + ACS_WEBHOOK_MAX_ID_LEN)

static const char ST_ACCEPTED[] = "{\"status\":\"accepted\"}";
static const char ST_DUPLICATE[] = "{\"status\":\"duplicate\"}";
static const char ST_IGNORED[] = "{\"status\":\"ignored\"}";

struct secret {
	char *webhook_id;
	char *secret;
};

struct acs_intake {
	uv_loop_t *loop;	     /**< borrowed */
	struct acs_http_server *srv; /**< borrowed */
	struct acs_store *store;     /**< borrowed */
	char *ado_username;
	char *ado_password;
	char *ado_header_secret;
	struct acs_webhook_ado_auth ado_auth; /**< points at the three copies above */
	acs_intake_commit_cb on_commit;
	void *arg;
	acs_intake_delivery_cb on_delivery; /**< see acs_intake_set_delivery_cb */
	void *delivery_arg;

	struct secret *secrets; /**< ClickUp webhook_id -> secret (few: linear search) */
	size_t n_secrets;
	bool secrets_loaded; /**< the stored secrets are in memory */
	bool expecting;	     /**< see acs_intake_expect_secrets */
	size_t cap_secrets;

	struct acs_inbox_stmt_cache *cache; /**< the INSERT, on the writer connection */
	bool cache_used;		    /**< an insert job was given the cache */
	size_t inflight;		    /**< store jobs whose callback has not run */
	struct acs_intake_stats stats;

	uv_timer_t close_timer; /**< never started: its close callback frees the intake */
	bool closing;
	bool finishing;
	void (*close_cb)(void *arg);
	void *close_arg;
};

/** One delivery between its handler and the commit callback. */
struct delivery {
	struct acs_intake *in;
	struct acs_http_req *req; /**< its body is the row's body: borrowed until answered */
	struct acs_intake_source_stats *stats;
	struct acs_inbox_insert ins;
	char *event_key; /**< taken over from the parsed event */
	char *sub_id;	 /**< subscriptionId / webhook_id, taken over; may be NULL */
	char item_key[ITEM_KEY_LEN];
};

static void check_closed(struct acs_intake *in);

/* ---- secrets ---- */

static void secret_wipe(struct secret *s)
{
	if (s->secret) {
		sodium_memzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	free(s->webhook_id);
	s->secret = s->webhook_id = NULL;
}

static struct secret *secret_find(struct acs_intake *in, const char *webhook_id)
{
	for (size_t i = 0; i < in->n_secrets; i++) {
		if (!strcmp(in->secrets[i].webhook_id, webhook_id))
			return &in->secrets[i];
	}
	return NULL;
}

int acs_intake_set_clickup_secret(struct acs_intake *in, const char *webhook_id, const char *secret)
{
	if (acs_fails_assert(in != NULL) || !webhook_id || !webhook_id[0])
		return -EINVAL;
	struct secret *s = secret_find(in, webhook_id);
	if (!secret || !secret[0]) {
		if (s) {
			secret_wipe(s);
			*s = in->secrets[--in->n_secrets];
		}
		return 0;
	}
	acs_log_add_secret(secret);
	if (!s) {
		if (in->n_secrets == in->cap_secrets) {
			in->cap_secrets = in->cap_secrets ? in->cap_secrets * 2 : 4;
			in->secrets =
				acs_xrealloc(in->secrets, in->cap_secrets * sizeof(*in->secrets));
		}
		s = &in->secrets[in->n_secrets++];
		s->webhook_id = acs_xstrdup(webhook_id);
	} else {
		sodium_memzero(s->secret, strlen(s->secret));
		free(s->secret);
	}
	s->secret = acs_xstrdup(secret);
	return 0;
}

size_t acs_intake_clickup_secret_count(const struct acs_intake *in)
{
	return in ? in->n_secrets : 0;
}

struct secrets_load {
	struct acs_intake *in;
	struct acs_inbox_secrets job;
	acs_intake_done_cb done;
	void *arg;
};

static void secrets_loaded(int rc, const char *err, void *arg)
{
	struct secrets_load *l = acs_container_of(arg, struct secrets_load, job);
	struct acs_intake *in = l->in;
	in->inflight--;
	if (rc >= 0) {
		for (size_t i = 0; i < l->job.n; i++)
			acs_intake_set_clickup_secret(in, l->job.v[i].webhook_id,
						      l->job.v[i].secret);
		acs_log(ACS_LOG_INFO, MOD, "%zu ClickUp webhook secrets loaded", l->job.n);
		in->secrets_loaded = true;
	}
	acs_inbox_secrets_deinit(&l->job);
	if (l->done)
		l->done(rc < 0 ? rc : 0, rc < 0 ? err : NULL, l->arg);
	free(l);
	check_closed(in);
}

int acs_intake_load_secrets(struct acs_intake *in, acs_intake_done_cb done, void *arg)
{
	if (acs_fails_assert(in != NULL))
		return -EINVAL;
	if (in->closing)
		return ACS_ECLOSED;
	struct secrets_load *l = acs_xcalloc(1, sizeof(*l));
	l->in = in;
	l->done = done;
	l->arg = arg;
	int rc = acs_inbox_secrets_load(in->store, &l->job, secrets_loaded);
	if (rc) {
		free(l);
		return rc;
	}
	in->inflight++;
	return 0;
}

struct secret_save {
	struct acs_intake *in;
	struct acs_inbox_secret_save job;
	char *webhook_id;
	char *secret;
	acs_intake_done_cb done;
	void *arg;
};

static void secret_saved(int rc, const char *err, void *arg)
{
	struct secret_save *sv = acs_container_of(arg, struct secret_save, job);
	struct acs_intake *in = sv->in;
	in->inflight--;
	if (rc >= 0)
		acs_intake_set_clickup_secret(in, sv->webhook_id, sv->secret);
	if (sv->done)
		sv->done(rc < 0 ? rc : 0, rc < 0 ? err : NULL, sv->arg);
	free(sv->webhook_id);
	if (sv->secret) {
		sodium_memzero(sv->secret, strlen(sv->secret));
		free(sv->secret);
	}
	free(sv);
	check_closed(in);
}

int acs_intake_save_clickup_secret(struct acs_intake *in, const char *webhook_id,
				   const char *secret, acs_intake_done_cb done, void *arg)
{
	if (acs_fails_assert(in != NULL) || !webhook_id || !webhook_id[0])
		return -EINVAL;
	if (in->closing)
		return ACS_ECLOSED;
	struct secret_save *sv = acs_xcalloc(1, sizeof(*sv));
	sv->in = in;
	sv->webhook_id = acs_xstrdup(webhook_id);
	sv->secret = secret && secret[0] ? acs_xstrdup(secret) : NULL;
	sv->done = done;
	sv->arg = arg;
	sv->job.webhook_id = sv->webhook_id;
	sv->job.secret = sv->secret;
	int rc = acs_inbox_secret_save(in->store, &sv->job, secret_saved);
	if (rc) {
		free(sv->webhook_id);
		if (sv->secret) {
			sodium_memzero(sv->secret, strlen(sv->secret));
			free(sv->secret);
		}
		free(sv);
		return rc;
	}
	in->inflight++;
	return 0;
}

/* ---- answers ---- */

static void respond_status(struct acs_http_req *req, int code, const char *json, size_t len)
{
	acs_http_respond(req, code, "application/json", json, len);
}

static void refuse(struct acs_http_req *req, struct acs_intake_source_stats *st, int code,
		   const char *detail)
{
	switch (code) {
	case 400:
	case 413:
		st->malformed++;
		acs_http_respond_error(req, code, code == 413 ? "body too large" : "malformed",
				       detail);
		break;
	case 401:
		st->unauthorized++;
		acs_http_respond_error(req, 401, "unauthorized", detail);
		break;
	default:
		st->failed++;
		acs_http_respond_error(req, code, "unavailable", detail);
		break;
	}
	acs_log(ACS_LOG_DEBUG, MOD, "%s %s -> %d: %s", acs_http_req_method(req),
		acs_http_req_path(req), code, detail ? detail : "");
}

/* ---- the write and its answer ---- */

static void delivery_free(struct delivery *d)
{
	free(d->event_key);
	free(d->sub_id);
	free(d);
}

static void inserted(int rc, const char *err, void *arg)
{
	struct delivery *d = acs_container_of(arg, struct delivery, ins);
	struct acs_intake *in = d->in;
	in->inflight--;
	if (rc < 0) {
		/* Not committed: the sender must retry, so no 2xx. */
		acs_log(ACS_LOG_WARN, MOD, "storing event %s failed: %s", d->event_key, err);
		refuse(d->req, d->stats, 503, "the event could not be stored; retry later");
	} else if (d->ins.duplicate) {
		if (in->on_delivery && d->sub_id)
			in->on_delivery(d->ins.source, d->sub_id, d->ins.received_at,
					in->delivery_arg);
		d->stats->duplicates++;
		respond_status(d->req, 200, ST_DUPLICATE, sizeof(ST_DUPLICATE) - 1);
	} else {
		d->stats->accepted++;
		if (in->on_delivery && d->sub_id)
			in->on_delivery(d->ins.source, d->sub_id, d->ins.received_at,
					in->delivery_arg);
		respond_status(d->req, 200, ST_ACCEPTED, sizeof(ST_ACCEPTED) - 1);
		if (in->on_commit)
			in->on_commit(d->item_key, in->arg);
	}
	delivery_free(d);
	check_closed(in);
}

/* Answer a parse result: 202 / 400 / 413, or store the event. Consumes ev. */
static void dispatch(struct acs_intake *in, struct acs_http_req *req,
		     struct acs_intake_source_stats *st, int rc, struct acs_webhook_event *ev,
		     const char *err)
{
	if (rc == ACS_WEBHOOK_EIGNORED) {
		st->ignored++;
		acs_log(ACS_LOG_DEBUG, MOD, "ignored %s event %s",
			acs_webhook_source_name(ev->source), ev->event_name ? ev->event_name : "?");
		respond_status(req, 202, ST_IGNORED, sizeof(ST_IGNORED) - 1);
		acs_webhook_event_deinit(ev);
		return;
	}
	if (rc < 0 || !ev->event_key || !ev->item_id) {
		refuse(req, st, rc == ACS_ETOOBIG ? 413 : 400, rc < 0 ? err : "no item id");
		acs_webhook_event_deinit(ev);
		return;
	}

	struct delivery *d = acs_xcalloc(1, sizeof(*d));
	d->in = in;
	d->req = req;
	d->stats = st;
	d->event_key = ev->event_key;
	ev->event_key = NULL;
	char **sub = ev->source == ACS_WEBHOOK_SOURCE_ADO ? &ev->ado_subscription_id
							  : &ev->clickup_webhook_id;
	d->sub_id = *sub;
	*sub = NULL;
	if (ev->source == ACS_WEBHOOK_SOURCE_ADO)
		snprintf(d->item_key, sizeof(d->item_key), "ado:%lld", (long long)ev->ado_id);
	else
		snprintf(d->item_key, sizeof(d->item_key), "clickup:%s", ev->item_id);
	size_t len = 0;
	d->ins = (struct acs_inbox_insert){
		.source = acs_webhook_source_name(ev->source),
		.event_key = d->event_key,
		.event_type = acs_webhook_type_name(ev->type),
		.item_key = d->item_key,
		.body = acs_http_req_body(req, &len),
		.received_at = acs_inbox_now_ms(),
		.cache = in->cache,
	};
	d->ins.body_len = len;
	acs_webhook_event_deinit(ev);

	rc = acs_inbox_insert(in->store, &d->ins, inserted);
	if (rc) {
		refuse(req, st, 503, acs_strerror(rc));
		delivery_free(d);
		return;
	}
	in->cache_used = true;
	in->inflight++;
}

/* ---- handlers ---- */

static void on_ado(struct acs_http_req *req, void *arg)
{
	struct acs_intake *in = arg;
	struct acs_intake_source_stats *st = &in->stats.ado;
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN] = "";
	size_t len = 0;

	st->received++;
	if (in->closing) {
		refuse(req, st, 503, "shutting down");
		return;
	}
	/* Credentials first: an unauthenticated caller gets no parser time. */
	if (!acs_webhook_ado_authorized(acs_http_req_header(req, "Authorization"),
					acs_http_req_header(req, ACS_WEBHOOK_ADO_SECRET_HEADER),
					&in->ado_auth)) {
		if (in->ado_auth.password && in->ado_auth.password[0])
			acs_http_req_add_header(req, "WWW-Authenticate",
						"Basic realm=\"ado-clickup-sync\"");
		refuse(req, st, 401, "bad or missing credentials");
		return;
	}
	const char *body = acs_http_req_body(req, &len);
	int rc = acs_webhook_parse_ado(body, len, &ev, err);
	dispatch(in, req, st, rc, &ev, err);
}

static void on_clickup(struct acs_http_req *req, void *arg)
{
	struct acs_intake *in = arg;
	struct acs_intake_source_stats *st = &in->stats.clickup;
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN] = "";
	json_error_t jerr;
	size_t len = 0;

	st->received++;
	if (in->closing) {
		refuse(req, st, 503, "shutting down");
		return;
	}
	const char *body = acs_http_req_body(req, &len);
	if (len > ACS_WEBHOOK_MAX_BODY) {
		refuse(req, st, 413, "body too large");
		return;
	}
	/* The secret depends on the webhook_id inside the body, so the body is parsed
	 * once here and the parsed tree is used only after the signature matched.
	 * The parser bounds the nesting itself (2048 levels), so a hostile body cannot
	 * exhaust the stack before it is authenticated. */
	json_t *root = len ? acs_json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr) : NULL;
	if (!root) {
		refuse(req, st, 400, len ? "invalid JSON" : "empty body");
		return;
	}
	const char *wid = json_string_value(json_object_get(root, "webhook_id"));
	const struct secret *sec = wid ? secret_find(in, wid) : NULL;
	if (!sec && wid && (!in->secrets_loaded || in->expecting)) {
		json_decref(root);
		refuse(req, st, 503, "webhook secret not known yet; retry later");
		return;
	}
	if (!sec || !acs_webhook_clickup_signature_ok(
			    body, len, acs_http_req_header(req, "X-Signature"), sec->secret)) {
		json_decref(root);
		refuse(req, st, 401, sec ? "bad signature" : "unknown webhook");
		return;
	}
	int rc = acs_webhook_parse_clickup_json(root, &ev, err);
	json_decref(root);
	dispatch(in, req, st, rc, &ev, err);
}

void acs_intake_expect_secrets(struct acs_intake *in, bool expecting)
{
	in->expecting = expecting;
}

/* ---- lifecycle ---- */

struct acs_intake *acs_intake_new(uv_loop_t *loop, struct acs_http_server *srv,
				  struct acs_store *store, const struct acs_intake_opts *opts,
				  acs_intake_commit_cb on_commit, void *arg)
{
	acs_require(loop && srv && store);
	struct acs_intake *in = acs_xcalloc(1, sizeof(*in));
	in->loop = loop;
	in->srv = srv;
	in->store = store;
	in->ado_username = acs_xstrdup(opts && opts->ado_username ? opts->ado_username : "");
	in->ado_password = acs_xstrdup(opts && opts->ado_password ? opts->ado_password : "");
	in->ado_header_secret =
		acs_xstrdup(opts && opts->ado_header_secret ? opts->ado_header_secret : "");
	in->ado_auth.username = in->ado_username;
	in->ado_auth.password = in->ado_password;
	in->ado_auth.header_secret = in->ado_header_secret;
	if (in->ado_password[0])
		acs_log_add_secret(in->ado_password);
	if (in->ado_header_secret[0])
		acs_log_add_secret(in->ado_header_secret);
	in->on_commit = on_commit;
	in->arg = arg;
	in->cache = acs_inbox_stmt_cache_new();
	acs_require(uv_timer_init(loop, &in->close_timer) == 0);
	in->close_timer.data = in;
	uv_unref((uv_handle_t *)&in->close_timer);
	acs_require(acs_http_server_route(srv, "POST", "/webhooks/ado", on_ado, in) == 0);
	acs_require(acs_http_server_route(srv, "POST", "/webhooks/clickup", on_clickup, in) == 0);
	return in;
}

void acs_intake_set_delivery_cb(struct acs_intake *in, acs_intake_delivery_cb cb, void *arg)
{
	in->on_delivery = cb;
	in->delivery_arg = arg;
}

void acs_intake_stats(const struct acs_intake *in, struct acs_intake_stats *out)
{
	*out = in->stats;
}

size_t acs_intake_inflight(const struct acs_intake *in)
{
	return in ? in->inflight : 0;
}

static void wipe_str(char *s)
{
	if (s) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

static void on_closed(uv_handle_t *h)
{
	struct acs_intake *in = h->data;
	void (*cb)(void *) = in->close_cb;
	void *arg = in->close_arg;
	for (size_t i = 0; i < in->n_secrets; i++)
		secret_wipe(&in->secrets[i]);
	free(in->secrets);
	free(in->ado_username);
	wipe_str(in->ado_password);
	wipe_str(in->ado_header_secret);
	acs_inbox_stmt_cache_free(in->cache);
	free(in);
	if (cb)
		cb(arg);
}

static void finish(struct acs_intake *in)
{
	uv_close((uv_handle_t *)&in->close_timer, on_closed);
}

static void cache_released(int rc, const char *err, void *arg)
{
	struct acs_intake *in = arg;
	if (rc < 0)
		acs_log(ACS_LOG_ERR, MOD, "finalizing the cached insert failed: %s", err);
	finish(in);
}

static void check_closed(struct acs_intake *in)
{
	if (!in->closing || in->finishing || in->inflight)
		return;
	in->finishing = true;
	if (!in->cache_used) {
		finish(in);
		return;
	}
	int rc = acs_inbox_stmt_cache_release(in->store, in->cache, cache_released, in);
	if (rc) {
		/* The store was closed first: its connection close reports the leak. */
		acs_log(ACS_LOG_ERR, MOD,
			"cannot finalize the cached insert (%s): close the intake before the store",
			acs_strerror(rc));
		finish(in);
	}
}

void acs_intake_close(struct acs_intake *in, void (*cb)(void *arg), void *arg)
{
	if (!in || in->closing)
		return;
	in->closing = true;
	in->close_cb = cb;
	in->close_arg = arg;
	check_closed(in);
}
