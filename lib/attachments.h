/* SPDX-License-Identifier: MIT */
/* Attachment mirroring: a file attached on one side of a pair (ADO AttachedFile relation,
 * ClickUp task attachment) is streamed through a temporary file and attached to the twin,
 * once; files larger than [sync] attachment_max_bytes get a comment with a link instead.
 * Also the periodic scan that finds new attachments, since ClickUp sends no webhook. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "scheduler.h"

struct acs_store;
struct acs_ado_client;
struct acs_clickup_client;
struct acs_config;
struct acs_attachments;

/*
 * DESIGN
 *   One call per pair (acs_attachments_sync_pair) compares both sides' attachment lists
 *   with attachment_map and copies what neither side knows yet, one file at a time:
 *   download into a temporary file (uv_fs_mkstemp next to the database, or in $TMPDIR,
 *   unlinked at once so a crash leaves nothing behind), the sha256 computed while the
 *   bytes arrive, then upload from that file. Every byte goes through the file system
 *   on libuv's thread pool; memory holds a few buffers per transfer, never a file.
 *
 *   ROW STATES (attachment_map.state, schema version 4). The row is written before the
 *   download, keyed on the source attachment id, so the source is never copied twice:
 *     pending       intent: the twin may or may not exist yet
 *     uploaded      ADO twin uploaded (ado_attachment_id/ado_url set), relation not
 *                   confirmed yet
 *     done          mirrored; both ids known
 *     link_pending  over the cap: a comment with a link is due on the twin
 *     linked        that comment was posted
 *     failed        a permanent error (logged in sync_log); not retried
 *   After a crash, a pending row is first matched against the twin side's attachments
 *   that no row knows, by file name and size: a match is adopted instead of uploading
 *   again. Files we uploaded are known by their twin id and never copied back.
 *
 *   BUDGET. Calls made for the scan use ACS_GOVERNOR_BACKGROUND, and a scan round stops
 *   when the ClickUp budget left in the window is below ACS_ATTACHMENTS_SCAN_MIN_BUDGET.
 *   Calls made for acs_attachments_sync_pair are interactive.
 *
 *   CONCURRENCY. One job per pair at a time: a second call for a busy pair waits for
 *   the first to end, then runs (its callback runs after its own run).
 */

/** A scan round stops when the ClickUp budget left is known and below this. */
#define ACS_ATTACHMENTS_SCAN_MIN_BUDGET 10
/** Pairs looked at per scan round (most recently active first). */
#define ACS_ATTACHMENTS_SCAN_MAX_PAIRS 1000
/** Per-attempt timeout of a file transfer. */
#define ACS_ATTACHMENTS_TRANSFER_TIMEOUT_MS (10u * 60u * 1000u)
/** The first scan after acs_attachments_start (capped at the interval). */
#define ACS_ATTACHMENTS_FIRST_SCAN_MS 2000

/** End of one sync_pair call: outcome (ACS_JOB_DONE / _RETRY / _FAILED) and a message
 *  (borrowed, valid during the call). */
typedef void (*acs_attachments_done_cb)(enum acs_job_outcome outcome, const char *message,
					void *arg);
/** End of one scan round: rc 0 or the first error, message borrowed. */
typedef void (*acs_attachments_scan_cb)(int rc, const char *message, void *arg);

struct acs_attachments_stats {
	uint64_t to_ado;       /**< files copied ClickUp -> ADO */
	uint64_t to_clickup;   /**< files copied ADO -> ClickUp */
	uint64_t linked;       /**< over the cap: link comments posted */
	uint64_t adopted;      /**< twins found after a crash instead of uploading again */
	uint64_t failed;       /**< files given up on (permanent errors) */
	uint64_t scans;	       /**< scan rounds finished */
	uint64_t scan_stopped; /**< rounds cut short for lack of budget */
	bool scanning;
};

/** New mirror over borrowed loop, store, clients and cfg (all must outlive it). The
 *  temporary files go next to cfg's database file, else to $TMPDIR or /tmp. Returns
 *  NULL with err on a bad argument. */
struct acs_attachments *acs_attachments_new(uv_loop_t *loop, struct acs_store *store,
					    struct acs_ado_client *ado,
					    struct acs_clickup_client *cu,
					    const struct acs_config *cfg, char err[ACS_ERR_LEN]);

/** Mirror the attachments of one pair both ways. ado_relations: the work item's full
 *  relations array when the caller has it (a webhook revision, a GET with
 *  $expand=relations), else NULL and the item is fetched; cu_task: the ClickUp task
 *  object (with its "attachments" array) when the caller has it, else NULL and it is
 *  fetched. Both are borrowed during the call only (copied). cb runs exactly once, from
 *  the loop, with ACS_JOB_DONE, ACS_JOB_RETRY (a retryable failure: call again later)
 *  or ACS_JOB_FAILED (a file failed permanently; it is marked and not retried). With
 *  [sync] attachment_max_bytes = 0 nothing is copied and cb says DONE. Returns 0, or
 *  -EINVAL / ACS_ECLOSED (cb never runs then). */
int acs_attachments_sync_pair(struct acs_attachments *a, int64_t sync_id, int64_t ado_id,
			      const char *clickup_id, const json_t *ado_relations,
			      const json_t *cu_task, acs_attachments_done_cb cb, void *arg);

/** As acs_attachments_sync_pair for a task just read (cu_task, borrowed during the call)
 *  whose work item's relations are unknown: the work item is read only when the task has
 *  a file no attachment_map row knows or a copy of the pair is unfinished; otherwise cb
 *  says DONE without any call (the item's own new files come with its webhook or the
 *  scan). Same callback and returns. */
int acs_attachments_sync_task(struct acs_attachments *a, int64_t sync_id, int64_t ado_id,
			      const char *clickup_id, const json_t *cu_task,
			      acs_attachments_done_cb cb, void *arg);

/** Scan every [sync] sweep_interval (the first after ACS_ATTACHMENTS_FIRST_SCAN_MS): the
 *  active pairs whose sync_map.updated_at is within [sync] attachment_scan_days are read
 *  on both sides (ADO in batches of 200 with relations, ClickUp one task at a time, both
 *  as background work) and synced when either side has an attachment no row knows.
 *  Returns 0 or ACS_ECLOSED. */
int acs_attachments_start(struct acs_attachments *a);

/** One scan round now (tests, tools). cb (may be NULL) runs once from the loop. Returns
 *  0, -EBUSY while a round runs, or ACS_ECLOSED (cb never runs then). */
int acs_attachments_scan(struct acs_attachments *a, acs_attachments_scan_cb cb, void *arg);

void acs_attachments_stats(const struct acs_attachments *a, struct acs_attachments_stats *out);

/** Stop the timer; jobs waiting for a busy pair end with ACS_JOB_RETRY; running jobs
 *  stop after their current call (ACS_JOB_RETRY); then free a and call cb (may be
 *  NULL). Idempotent. */
void acs_attachments_close(struct acs_attachments *a, void (*cb)(void *arg), void *arg);
