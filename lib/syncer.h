/* SPDX-License-Identifier: MIT */
/* The per-item sync logic: given the stored webhook events of one item, create its
 * twin (idempotently across crashes) or merge the changes of a pair both ways, with
 * echo suppression against the stored base, conflict resolution per [sync] conflict,
 * comment mirroring (comments.h), the ending of pairs on deletes and moves, and one
 * sync_log row per action. The scheduler calls it once per job. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "scheduler.h"

struct acs_store;
struct acs_ado_client;
struct acs_clickup_client;
struct acs_config;

/*
 * DESIGN
 *   BASE. sync_map.base holds, per pair,
 *     {"fields": <acs_canon_to_json of the last synced canonical value>,
 *      "changed": {"<field name>": <Unix ms of the last change of that field>, ...},
 *      "pending": {"ado_link": true, "clickup_footer": true}}   (absent when none)
 *   "changed" holds the change time reported by the side the value came from (ADO
 *   System.ChangedDate, ClickUp history item date / date_updated). "pending" marks a
 *   back-link not written yet: it is written with the next write to that side (or at
 *   once after a create), so a crash between the pair row and the back-link is healed.
 *
 *   ECHO. An ADO event whose revision is <= sync_map.ado_rev is ours or stale: skipped
 *   without any call. A ClickUp event whose history items are all dated <=
 *   sync_map.clickup_rev (the date_updated of our last write or read) is skipped without
 *   a GET. Otherwise the item is read (ADO: the delivery carries the full revision, no
 *   read; ClickUp: one GET) and compared with the base: equal fields are echoes or
 *   no-ops, however late they arrive.
 *
 *   MERGE. With the ADO view A (revision fields) and/or the ClickUp view C (GET), the
 *   changed fields are dA = diff(A, base) and dC = diff(C, base). A field in both with
 *   different values is a conflict, resolved by [sync] conflict (newest: the later
 *   change time wins, ties go to ADO). The rest is pushed to the other side: ADO first
 *   (PATCH with test /rev; a 412/409 re-reads the item and merges again, at most
 *   ACS_SYNCER_MAX_REMERGE times), then ClickUp (tag and custom field calls, then the
 *   PUT last so its date_updated covers every history item we caused).
 *
 *   CREATES. An intent row is written before the remote create; the pair row and the
 *   closing of the intent are one write. A create that finds an open intent (a crash
 *   happened) looks for the twin by its back-link first and adopts it. Back-links:
 *   ADO gets a Hyperlink relation to the task URL; ClickUp gets a final description
 *   paragraph "Azure DevOps work item: <work item URL>" (the footer), which is stripped
 *   before the description is canonicalised, so it is never a change.
 *
 *   COMMENTS. After the fields, a job of an active pair hands its comment ids
 *   (workitem.commented, taskCommentPosted/Updated) to acs_comments_sync, which skips
 *   its own mirrors by comment_map and otherwise reconciles both sides (comments.h).
 *   It also runs when a pair is created and the mapping's copy_existing_comments is set
 *   (existing comments copied oldest first), and after a real field change of a pair
 *   with mirrored comments: deleted comments (no event on either service) and edited
 *   ADO comments (no event) are found then.
 *
 *   MAPPINGS. The set in use is the file's [map] sections (upserted into project_map as
 *   source 'file' at start) followed by the dashboard's rows (source 'db', with their
 *   priority_map), each with its mapper built from what the APIs say (ADO states, list
 *   statuses, members, custom field definitions). acs_syncer_reload re-reads the rows:
 *   an unchanged row keeps its mapper, a new or changed one is learned from the APIs
 *   before the new set is swapped in at once; a row the APIs refuse (e.g. a list that
 *   does not exist) is left out and logged, the others run. Mappings are reference
 *   counted: a job holds the mapping it started with until it ends, and a snapshot
 *   (acs_syncer_config_hold) holds its set, so nothing is freed under them. A deleted
 *   dashboard mapping takes its pairs with it (sync_map rows cascade): their items are
 *   no longer synced, and a pair whose mapping is gone is skipped.
 *
 *   ATTACHMENTS. With acs_syncer_set_attachments, a job of an active pair ends with
 *   acs_attachments_sync_pair (its outcome is the job's) when it has a side's file list
 *   for free: an ADO delivery adding or removing an AttachedFile relation (its revision
 *   lists every relation), or a ClickUp task read by the job (then the work item is
 *   read only when the task has a file no attachment_map row knows:
 *   acs_attachments_sync_task). A pair made by the job brings its files along at once
 *   (the new twin has none, so nothing is read). A plain field edit costs no call; the
 *   attachment scan finds the rest (ClickUp sends no event for a new file).
 *
 *   ENDING. workitem.deleted, taskDeleted, a ClickUp task found in another list (GET
 *   after any task event, taskMoved included) and an ADO revision whose project or area
 *   leaves the mapping end the pair: the mapping's on_delete is applied to the twin
 *   (close: ClickUp's first closed, else done, status / the ADO state the mapping gives
 *   that status, else the type's first Completed state; delete: DELETE task / work item
 *   to the recycle bin; ignore: nothing), then sync_map.state = 'ended' with the base of
 *   what was written, and an "ended" sync_log row says why. Events of an ended pair are
 *   skipped, except workitem.restored: the pair is active again and merged (the base
 *   holds the closed state, so the twin reopens), or, when the ClickUp task is gone,
 *   the pair row is dropped and a new twin is created.
 *
 *   IDENTITIES. ADO identities arrive as IdentityRef objects (REST reads, revisedBy) or
 *   "Name <email>" strings (hooks), and some hook payloads carry a display name only.
 *   Every identity seen is kept (display name -> e-mail, at most 4096) and taught to the
 *   mappers, so a name-only value maps once the person was seen. Assignees map by
 *   e-mail both ways ([users] first, then the list members); ADO is written the e-mail.
 *
 *   LIMITS (documented choices). The [ado] assigned_to filter applies to creates from
 *   ADO: a literal must equal the assignee's e-mail or display name (a name-only hook
 *   value is compared by name unless its e-mail is known); @Me is the PAT's identity,
 *   read at start from connectionData (the start fails when it cannot be read); any
 *   other WIQL macro cannot be evaluated locally and is ignored. A ClickUp edit of a field made before an ADO
 *   change of the same field was pushed is overwritten by that push unless both events
 *   are in the same job (then the conflict policy applies exactly). A deleted or
 *   ADO-edited comment is mirrored on the pair's next comment event or real change, not
 *   at once (neither service reports it). A ClickUp task moved back into the mapped
 *   list, or a ClickUp task restored from the trash, does not re-pair (no event says
 *   so); only workitem.restored does. A restored item whose twin was deleted keeps the
 *   stale Hyperlink to the old task next to the new one.
 */

/** Most re-reads and re-merges after a 412/409 in one job. */
#define ACS_SYNCER_MAX_REMERGE 3

struct acs_syncer;

/** End of one acs_syncer_sync: outcome and a message (borrowed for the call; NULL
 *  when none). */
typedef void (*acs_syncer_done_cb)(enum acs_job_outcome outcome, const char *message, void *arg);
/** End of one acs_syncer_sync_with: as acs_syncer_done_cb, plus the run's pair update and
 *  sync_log rows, not written yet: tail (borrowed for the call; never NULL) belongs to
 *  the callee, which writes it with the job's outcome (acs_job_finish_with) or releases
 *  it (tail->free(tail->arg)). */
typedef void (*acs_syncer_tail_cb)(enum acs_job_outcome outcome, const char *message,
				   const struct acs_job_tail *tail, void *arg);
/** End of acs_syncer_start: rc 0, or an error with a message. */
typedef void (*acs_syncer_ready_cb)(int rc, const char *err, void *arg);

/** New syncer over borrowed store, clients and cfg (all must outlive it; cfg's maps and
 *  users are read, never copied). Returns NULL with err on a missing argument. */
struct acs_syncer *acs_syncer_new(uv_loop_t *loop, struct acs_store *store,
				  struct acs_ado_client *ado, struct acs_clickup_client *cu,
				  const struct acs_config *cfg, char err[ACS_ERR_LEN]);

/** Upsert every [map] into project_map (source 'file'), read the dashboard's mappings
 *  (source 'db'), fetch per mapping the ADO states of its types, the ClickUp list
 *  (statuses), its members and its custom field definitions, and build the mappers
 *  (see MAPPINGS). cb runs once, from the loop. A failed start may be started again.
 *  Returns 0, or -EINVAL / -EALREADY (running or starting) / ACS_ECLOSED. */
int acs_syncer_start(struct acs_syncer *s, acs_syncer_ready_cb cb, void *arg);

/** Read project_map again after the dashboard changed it: new and changed dashboard
 *  mappings are learned from the APIs and swapped in, deleted ones dropped (see
 *  MAPPINGS). cb (may be NULL) runs once, from the loop: rc 0; ACS_EHTTP with a message
 *  when some dashboard mapping was left out (the rest is in use); the store's error (the
 *  set is unchanged); ACS_ECANCELED / ACS_ECLOSED when s closed first. A reload asked
 *  while one is in flight runs after it. Returns 0, -EAGAIN before a successful start,
 *  ACS_ECLOSED (cb never runs then). */
int acs_syncer_reload(struct acs_syncer *s, acs_syncer_ready_cb cb, void *arg);

/** The configuration the syncer runs: a copy of cfg whose maps/n_maps are the mappings in
 *  use (the file's sections, then the dashboard's, in project_map id order), for the
 *  parts that list or watch what is mapped (registrar, sweep, backfill). An immutable
 *  snapshot: a reload makes a new one. Release it with acs_syncer_config_release before
 *  cfg is freed; it may outlive s. Before the first load it lists the file's sections. */
const struct acs_config *acs_syncer_config_hold(struct acs_syncer *s);
void acs_syncer_config_release(const struct acs_config *cfg);
/** The project_map id of the dashboard mapping named name in a snapshot of
 *  acs_syncer_config_hold, or 0 when it is a [map] section of the file (or unknown). */
int64_t acs_syncer_config_db_map(const struct acs_config *cfg, const char *name);

/** Sync one item: item_key "ado:<id>" or "clickup:<task id>", events (n >= 1) the
 *  stored rows of the job (borrowed for the call only: what is needed is copied).
 *  done runs exactly once, from the loop, after every sync_log row and pair change of
 *  the run is committed: ACS_JOB_DONE, ACS_JOB_RETRY (retryable failure: 429, 5xx,
 *  transport, store) or ACS_JOB_FAILED (permanent, with the service's message).
 *  Returns 0, or -EINVAL (bad key, no events) / ACS_ECLOSED, and then done never runs.
 *  Needs a successful acs_syncer_start. */
int acs_syncer_sync(struct acs_syncer *s, const char *item_key, const struct acs_job_event *events,
		    size_t n, acs_syncer_done_cb done, void *arg);
struct acs_pairs_found;

/** acs_syncer_sync for a scheduler job: done runs as soon as the run's last call to a
 *  service is answered, with its store writes left to the caller (acs_syncer_tail_cb),
 *  so they commit in one transaction with the job's outcome and the job's slot does
 *  not wait for them. found (may be NULL): the item's pair as looked up with the
 *  claim (acs_pairs_prefetch for item_key); the run takes found->pair and does not
 *  read it again (done may then run before this returns). Same returns. */
int acs_syncer_sync_with(struct acs_syncer *s, const char *item_key,
			 const struct acs_job_event *events, size_t n,
			 struct acs_pairs_found *found, acs_syncer_tail_cb done, void *arg);

struct acs_attachments;

/** Mirror attachments from the syncer's jobs through a (borrowed; NULL stops it): see
 *  DESIGN, ATTACHMENTS. Unset it before closing a. Runs in flight keep the one they
 *  began with only until their attachment call is queued. */
void acs_syncer_set_attachments(struct acs_syncer *s, struct acs_attachments *a);

/** Syncs in flight. */
size_t acs_syncer_running(const struct acs_syncer *s);

/** The scheduler's work callback (arg = the syncer): runs acs_syncer_sync on the job
 *  and ends it with acs_job_finish. It references the scheduler's job functions weakly,
 *  so the module links without scheduler.c (the daemon links both). */
void acs_syncer_work(struct acs_job *job, void *arg);

/** Wait for the syncs in flight, free s, then cb (may be NULL). Idempotent. */
void acs_syncer_close(struct acs_syncer *s, void (*cb)(void *arg), void *arg);

/** Strip the back-link footer ("Azure DevOps work item: <URL>" as the final paragraph)
 *  from the Markdown md in place; returns the URL (heap, free()) or NULL when md does
 *  not end with a footer (md is then unchanged). */
char *acs_syncer_strip_footer(char *md);
