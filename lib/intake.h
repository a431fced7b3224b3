/* SPDX-License-Identifier: MIT */
/* Durable webhook intake: POST /webhooks/ado and POST /webhooks/clickup check who
 * sent the delivery, normalise it and store it in the inbox; the 200 goes out only
 * after the commit. Nothing is processed on the request path. */
#pragma once

#include <stdint.h>
#include <uv.h>

#include "common.h"

/*
 * REQUEST PATH (per delivery: one JSON parse, one HMAC, one store write job)
 *   ADO:     credentials (Basic and/or ACS_WEBHOOK_ADO_SECRET_HEADER) are checked
 *            before the body is parsed.
 *   ClickUp: the body is parsed once; its webhook_id selects the secret from an
 *            in-memory map (no database read per request) and X-Signature is
 *            checked over the exact raw bytes before the parsed body is trusted.
 *   Then one INSERT ... ON CONFLICT (event_key) DO NOTHING joins the store's next
 *   group commit, and the answer follows its callback:
 *     200 {"status":"accepted"}   new row committed
 *     200 {"status":"duplicate"}  the event_key was already stored (both services
 *                                 redeliver; ClickUp sends a change twice)
 *     202 {"status":"ignored"}    authenticated, well-formed, an event type the sync
 *                                 does not handle: nothing stored
 *     400 malformed, 401 unauthenticated (also an unknown ClickUp webhook_id),
 *     413 body above ACS_WEBHOOK_MAX_BODY, 503 the store refused or failed the
 *     write (closing, full, commit error): never 200 for an event not committed.
 *   Stored: item_key "ado:<workItemId>" / "clickup:<task_id>", event_type
 *   acs_webhook_type_name(), the raw body as received.
 *
 * LIFECYCLE
 *   acs_intake_new registers the two routes. acs_intake_close waits for the store
 *   writes in flight, finalizes the cached INSERT on the writer thread, frees the
 *   intake and calls its callback. The HTTP server has no way to remove a route,
 *   so close the intake only once the server no longer routes requests (after
 *   acs_http_server_close, or at least after a drain with no new requests), and
 *   before acs_store_close. Requests that arrive while it closes get 503.
 */

struct acs_intake;
struct acs_http_server;
struct acs_store;

/** Who may post to /webhooks/ado. Strings are borrowed for the call (copied). An
 *  empty or NULL password turns Basic auth off, an empty or NULL header_secret the
 *  header check; with both off every ADO delivery is refused (401). */
struct acs_intake_opts {
	const char *ado_username;      /**< Basic user name ([ado] webhook_username) */
	const char *ado_password;      /**< Basic password ([ado] webhook_password) */
	const char *ado_header_secret; /**< ACS_WEBHOOK_ADO_SECRET_HEADER value */
};

/** New rows were committed (once per accepted delivery, after its 200 was
 *  queued): the engine kicks the scheduler here. */
typedef void (*acs_intake_commit_cb)(const char *item_key, void *arg);
/** Completion of an asynchronous intake call: rc 0 or a negative code; err is a
 *  message when rc < 0 (valid during the call), else NULL. */
typedef void (*acs_intake_done_cb)(int rc, const char *err, void *arg);

/** Per source counters (metrics). received = every request on the route. */
struct acs_intake_source_stats {
	uint64_t received;
	uint64_t accepted;     /**< new row committed */
	uint64_t duplicates;   /**< already stored */
	uint64_t ignored;      /**< 202 */
	uint64_t unauthorized; /**< 401 */
	uint64_t malformed;    /**< 400 and 413 */
	uint64_t failed;       /**< 503: the store refused or failed */
};

struct acs_intake_stats {
	struct acs_intake_source_stats ado;
	struct acs_intake_source_stats clickup;
};

/** Register POST /webhooks/ado and POST /webhooks/clickup on srv. loop, srv and
 *  store are borrowed (see LIFECYCLE); opts is copied (may be NULL: ADO closed).
 *  on_commit (may be NULL) gets the stored item key ("ado:<id>" / "clickup:<id>") and arg. Never NULL (aborts on a broken invariant). */
struct acs_intake *acs_intake_new(uv_loop_t *loop, struct acs_http_server *srv,
				  struct acs_store *store, const struct acs_intake_opts *opts,
				  acs_intake_commit_cb on_commit, void *arg);

/** A delivery from one of the services' subscriptions was committed (new row or
 *  duplicate): source "ado" or "clickup", subscription_id the ADO subscriptionId
 *  or the ClickUp webhook_id (borrowed for the call), received_at Unix ms. */
typedef void (*acs_intake_delivery_cb)(const char *source, const char *subscription_id,
				       int64_t received_at, void *arg);

/** Observe committed deliveries (webhook health: last delivery per subscription).
 *  cb NULL stops. Deliveries without a subscription id are not reported. */
void acs_intake_set_delivery_cb(struct acs_intake *in, acs_intake_delivery_cb cb, void *arg);

/** Set (replace) the secret of ClickUp webhook webhook_id in memory; NULL or ""
 *  secret forgets it. Both strings are copied; the secret is also registered
 *  with the log redactor. Returns 0 or -EINVAL for an empty webhook_id. */
int acs_intake_set_clickup_secret(struct acs_intake *in, const char *webhook_id,
				  const char *secret);

/** While expecting is true, a ClickUp delivery for a webhook_id with no known
 *  secret is answered 503 (try again) instead of 401: the secret may still be on
 *  its way (stored secrets loading at start, a registration creating the
 *  webhook right now), and ClickUp suspends a webhook that answers 401. The
 *  intake starts expecting and stops once its stored secrets are loaded; the
 *  engine also sets it around each registration run. */
void acs_intake_expect_secrets(struct acs_intake *in, bool expecting);

/** Store the secret of webhook_id in the database (meta), then set it in memory
 *  as acs_intake_set_clickup_secret does (NULL secret deletes both). done (may be
 *  NULL) runs after the commit. Returns 0 (done will run), or the store's
 *  submission error / -EINVAL (done will not run). Strings are copied. */
int acs_intake_save_clickup_secret(struct acs_intake *in, const char *webhook_id,
				   const char *secret, acs_intake_done_cb done, void *arg);

/** Read every stored ClickUp secret (startup) into the in-memory map; done runs
 *  with rc 0 or the store's error. Returns 0 (done will run) or the store's
 *  submission error (done will not run). */
int acs_intake_load_secrets(struct acs_intake *in, acs_intake_done_cb done, void *arg);

/** Number of ClickUp secrets in memory. */
size_t acs_intake_clickup_secret_count(const struct acs_intake *in);

/** Snapshot of the counters. */
void acs_intake_stats(const struct acs_intake *in, struct acs_intake_stats *out);

/** Store writes of the intake whose callback has not run yet. */
size_t acs_intake_inflight(const struct acs_intake *in);

/** Close (see LIFECYCLE): cb (may be NULL) runs from the loop once the intake is
 *  freed. Idempotent until then; NULL is a no-op. */
void acs_intake_close(struct acs_intake *in, void (*cb)(void *arg), void *arg);
