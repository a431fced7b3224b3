/* SPDX-License-Identifier: MIT */
/* The reconciliation sweep: every [sync] sweep_interval it lists what changed on
 * each side since a stored watermark and queues each changed item in the inbox as a
 * synthetic event, so edits whose webhook never arrived still converge. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

struct acs_store;
struct acs_ado_client;
struct acs_clickup_client;
struct acs_ado_work_item;
struct acs_clickup_task;
struct acs_config;
struct acs_sweep;

/*
 * DESIGN
 *   A run reads the watermarks from meta (ACS_SWEEP_WM_ADO / ACS_SWEEP_WM_CLICKUP:
 *   the largest change time seen, Unix ms, decimal), then per mapping: a WIQL query
 *   for the mapping's project, area and types changed since the ADO watermark minus
 *   ACS_SWEEP_OVERLAP_MS (clock skew, same-second edits), the items batch-read (at
 *   most ACS_ADO_MAX_BATCH per call), and the mapped list's tasks updated since the
 *   ClickUp watermark minus the overlap (every page, closed tasks included). With no
 *   stored watermark the run looks back ACS_SWEEP_FIRST_LOOKBACK_MS from the sweep's
 *   creation: existing items are the backfill command's business, not the sweep's.
 *
 *   SYNTHETIC EVENTS. The syncer re-parses event bodies with the webhook parsers and
 *   dispatches on the row's source ("ado"/"clickup"; anything else is skipped), so a
 *   swept item is stored as a delivery of its own service: source "ado" with a
 *   workitem.updated envelope carrying the full item as resource.revision (workItemId,
 *   rev; identities flattened to "Name <email>" as hooks send them), or source
 *   "clickup" with a taskUpdated body whose one history item (field "sweep") is dated
 *   the task's date_updated. The syncer's echo checks (rev <= ado_rev, date <=
 *   clickup_rev) and its diff against the pair's base then decide whether anything
 *   changed, without an API call for an echo. The rows are told apart by their
 *   event_key, "sweep:ado:<id>:<rev>" / "sweep:clickup:<task>:<date_updated>": a
 *   repeated sweep of an unchanged item is a duplicate and stores nothing.
 *
 *   BUDGET. ClickUp calls use ACS_GOVERNOR_BACKGROUND, so they only spend what
 *   webhook-driven work leaves. The ADO client takes no class: its calls share the
 *   governor's interactive class (ADO has no fixed limit; its throttling signals are
 *   honoured by the governor all the same).
 *
 *   RUNS never overlap. The watermarks advance only when every call and every inbox
 *   write of the run succeeded; a failed run is logged and retried at the next tick.
 */

/** meta keys of the watermarks. */
#define ACS_SWEEP_WM_ADO "sweep.ado.watermark"
#define ACS_SWEEP_WM_CLICKUP "sweep.clickup.watermark"
/** Re-read this much before a watermark (clock skew between the services and us). */
#define ACS_SWEEP_OVERLAP_MS 60000
/** Without a stored watermark: look back this far from the sweep's creation. */
#define ACS_SWEEP_FIRST_LOOKBACK_MS 300000
/** The first run after acs_sweep_start, when the engine just began running. */
#define ACS_SWEEP_FIRST_DELAY_MS 5000

/** Counters of the sweep (for logs and metrics). */
struct acs_sweep_stats {
	uint64_t runs;	       /**< runs finished, successful or not */
	uint64_t runs_failed;  /**< runs that left the watermarks unchanged */
	uint64_t ado_seen;     /**< last run: work items listed */
	uint64_t clickup_seen; /**< last run: tasks listed */
	uint64_t queued;       /**< last run: new inbox rows (duplicates excluded) */
	uint64_t queued_total; /**< every run */
	int64_t ado_watermark; /**< as stored after the last successful run; 0 = none */
	int64_t clickup_watermark;
	bool running;
};

/** End of one acs_sweep_run: rc 0 or the first error, with a message (borrowed). */
typedef void (*acs_sweep_done_cb)(int rc, const char *err, void *arg);
/** New inbox rows were committed (the engine kicks its scheduler). */
typedef void (*acs_sweep_kick_cb)(void *arg);

/** New sweep over borrowed store, clients and cfg (all must outlive it). kick (may be
 *  NULL) runs after a run that queued rows. Never NULL. */
struct acs_sweep *acs_sweep_new(uv_loop_t *loop, struct acs_store *store,
				struct acs_ado_client *ado, struct acs_clickup_client *cu,
				const struct acs_config *cfg, acs_sweep_kick_cb kick,
				void *kick_arg);

struct acs_syncer;

/** Sweep the mappings syncer runs (acs_syncer_config_hold: the dashboard's included, as
 *  they are when each run starts) instead of cfg's [map] sections. syncer is borrowed
 *  and must outlive s. Call before the first run. */
void acs_sweep_set_syncer(struct acs_sweep *s, struct acs_syncer *syncer);

/** Run every interval_ms (0 = cfg's [sync] sweep_interval), the first after
 *  first_delay_ms. A tick while a run is in flight is skipped. */
void acs_sweep_start(struct acs_sweep *s, uint64_t first_delay_ms, uint64_t interval_ms);

/** One run now. cb (may be NULL) runs once from the loop. Returns 0, -EBUSY while a
 *  run is in flight, or ACS_ECLOSED (cb never runs then). */
int acs_sweep_run(struct acs_sweep *s, acs_sweep_done_cb cb, void *arg);

void acs_sweep_stats(const struct acs_sweep *s, struct acs_sweep_stats *out);

/** The synthetic delivery the sweep stores for a listed work item: a workitem.updated
 *  envelope carrying the full item as resource.revision (see DESIGN). For other modules
 *  that feed listed items through the inbox (backfill). Heap string, free(). */
char *acs_sweep_ado_event_body(const struct acs_ado_work_item *wi);
/** The same for a listed task: a body of ClickUp event `event` ("taskUpdated" as the
 *  sweep stores it, or "taskCreated", which starts a pair) whose one history item (field
 *  "sweep") is dated the task's date_updated. Heap string, free(). */
char *acs_sweep_clickup_event_body(const struct acs_clickup_task *t, const char *list_id,
				   const char *event);

/** Stop the timer, let a run in flight end (its calls finish, its watermarks are not
 *  advanced), free s, then cb (may be NULL). Idempotent. */
void acs_sweep_close(struct acs_sweep *s, void (*cb)(void *arg), void *arg);
