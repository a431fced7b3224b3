/* SPDX-License-Identifier: MIT */
/* The sync engine as one unit: both service clients, the webhook intake,
 * the inbox scheduler, the syncer and webhook registration, started in order
 * and stopped in reverse. The app creates it when the configuration has what
 * syncing needs: the credentials (and [ado] project when there is no [map] section:
 * the mappings may all be made in the dashboard, and sync without a restart).
 *
 * START (asynchronous, retried until it succeeds)
 *   1. intake routes exist from _new on: deliveries are stored durably even
 *      while the rest starts (they wait in the inbox);
 *   2. the stored ClickUp webhook secrets are loaded into the intake;
 *   3. the syncer loads what the mappers need from both APIs;
 *   4. the scheduler starts working the inbox;
 *   5. the webhooks are registered or repaired (when public_url is set) and
 *      the ClickUp secrets handed to the intake.
 *   A failing step is logged and retried after ACS_ENGINE_RETRY_MS.
 *
 * WEBHOOK HEALTH
 *   Once running, the registrar runs again every [sync]
 *   webhook_check_interval_ms (when public_url is set): it re-enables what
 *   the services disabled or suspended and recreates what was deleted. The
 *   last run is kept (without secrets) for acs_engine_webhooks_json; each
 *   repair is logged once (by the registrar) and counted in
 *   acs_webhook_repairs_total{service,action} (failed ones in
 *   acs_webhook_repair_failures_total).
 *   The intake reports every committed delivery with its subscription id;
 *   the engine keeps the last time per id in memory and writes it to meta
 *   (ACS_REGISTRAR_DELIVERY_PREFIX) at most every few seconds and at close,
 *   where the registrar reads it back after a restart. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <uv.h>

#include "common.h"

struct acs_config;
struct acs_http_server;
struct acs_curl_loop;
struct acs_store;
struct acs_engine;
struct acs_metrics;

#define ACS_ENGINE_RETRY_MS 30000

/** Whether cfg allows syncing; when not, reason says what is missing. */
bool acs_engine_configured(const struct acs_config *cfg, char reason[ACS_ERR_LEN]);

/** Build the engine on the app's parts (all borrowed, must outlive it) and
 *  register the webhook routes on http. Returns NULL with err on failure. */
struct acs_engine *acs_engine_new(uv_loop_t *loop, const struct acs_config *cfg,
				  struct acs_http_server *http, struct acs_curl_loop *cl,
				  struct acs_store *store, char err[ACS_ERR_LEN]);

/** Begin the START sequence. */
void acs_engine_start(struct acs_engine *e);

/** True once the scheduler runs; else reason says what it waits for. */
bool acs_engine_ready(const struct acs_engine *e, char reason[ACS_ERR_LEN]);

/** Stop: running sync jobs finish, then everything closes in reverse order,
 *  e is freed and cb runs. Idempotent. */
void acs_engine_close(struct acs_engine *e, void (*cb)(void *arg), void *arg);

/** Record the engine's own metrics (sync job outcomes, the sync latency
 *  histogram, webhook repairs) into m from now on. m is borrowed and must
 *  outlive e. Call once, before acs_engine_start. */
void acs_engine_set_metrics(struct acs_engine *e, struct acs_metrics *m);

/** Copy the counters its parts keep (intake deliveries, scheduler queue,
 *  API budget and call outcomes per service) into m. Cheap; no I/O. */
void acs_engine_collect_metrics(const struct acs_engine *e, struct acs_metrics *m);

/** Result of acs_engine_register_now: rc 0 and webhooks (borrowed for the
 *  call, as acs_engine_webhooks_json describes it, without "running"), or
 *  ACS_ECLOSED and NULL when the engine closed before the run ended. */
typedef void (*acs_engine_registered_cb)(int rc, json_t *webhooks, void *arg);

/** Run the registrar now, or join the run in flight; cb runs once, from the
 *  loop, when it ends (also when the engine closes first). Returns 0, or
 *  -EAGAIN while sync is not running yet, -EINVAL without [server]
 *  public_url, ACS_ECLOSED, or the registrar's error: then cb never runs. */
int acs_engine_register_now(struct acs_engine *e, acs_engine_registered_cb cb, void *arg);

/** The last registrar run: {"time": Unix ms or null before the first run,
 *  "items": [{"service", "label", "id" (null when none), "outcome",
 *  "detail", "events": [names], "state": the state on the service after
 *  the run (ADO status, ClickUp health status; null: it does not exist),
 *  "fail_count": ClickUp health.fail_count or null, "action": the repair
 *  still due ("none" unless the run's repair failed; see
 *  acs_registrar_action_name), "last_delivery": Unix ms of the last
 *  delivery committed from it or null, "last_repair": null or {"time",
 *  "action", "from_state", "from_fail_count"?, "outcome", "detail"}: the
 *  last repair of the subscription with that label in this process}],
 *  "failed": count, "running": a run is in flight}. Never holds secrets.
 *  Returns a new reference (json_decref). */
json_t *acs_engine_webhooks_json(const struct acs_engine *e);

struct acs_ado_client;
struct acs_clickup_client;

/** The engine's service clients (borrowed, valid until acs_engine_close), for
 *  the dashboard's live pickers: they share the engine's rate-limit governors. */
struct acs_ado_client *acs_engine_ado(struct acs_engine *e);
struct acs_clickup_client *acs_engine_clickup(struct acs_engine *e);

struct acs_backfill;

/** The engine's backfill (borrowed; NULL once closing): runs started on it queue
 *  their rows for the engine's scheduler (backfill.h). */
struct acs_backfill *acs_engine_backfill(struct acs_engine *e);

/** Inbox rows changed outside the scheduler (e.g. an error retried from the
 *  dashboard): make the scheduler read the queue soon. No-op before it runs. */
void acs_engine_kick(struct acs_engine *e);

struct acs_attachments;

/** The attachment mirror (borrowed; NULL until the engine runs and after close), for
 *  the syncer's acs_attachments_sync_pair calls. */
struct acs_attachments *acs_engine_attachments(struct acs_engine *e);

/** End of acs_engine_reload_maps: as acs_syncer_reload's callback (rc 0; ACS_EHTTP when a
 *  dashboard mapping was left out, err says which; the store's error; ACS_ECANCELED /
 *  ACS_ECLOSED when the engine closed first). err is borrowed for the call. */
typedef void (*acs_engine_reloaded_cb)(int rc, const char *err, void *arg);

/** The dashboard changed project_map: the syncer reloads its mappings (syncer.h
 *  MAPPINGS), then the webhooks are registered for the new set (when public_url is set);
 *  the sweep and backfill use it from their next run. cb (may be NULL) runs once, from
 *  the loop. Returns 0, -EAGAIN while sync is not running yet (its start reads the
 *  mappings anyway), or ACS_ECLOSED; cb never runs then. */
int acs_engine_reload_maps(struct acs_engine *e, acs_engine_reloaded_cb cb, void *arg);
