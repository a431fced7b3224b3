/* SPDX-License-Identifier: MIT */
/* Comment mirroring of one pair: lists the comments of both sides, compares them with
 * comment_map and creates, updates or deletes the mirrors, with intents so that a crash
 * between a remote create and its comment_map row never makes a second mirror. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "scheduler.h"

struct acs_store;
struct acs_ado_client;
struct acs_clickup_client;

/*
 * DESIGN
 *   MIRROR. A comment written by a person (the origin) gets one mirror on the other side:
 *     "**<author>** (Azure DevOps|ClickUp):" + blank line + the body as Markdown.
 *   ADO bodies are HTML (or Markdown when format=markdown) and become canonical Markdown
 *   through html_md; ClickUp comment text is taken as Markdown. Mirrors on ADO are posted
 *   as HTML (md4c through html_md), on ClickUp as comment_text. Mentions become plain
 *   "@Name" text (html_md drops ADO's in-page mention links; the ClickUp client spells
 *   tags as "@username").
 *
 *   COMMENT_MAP. One row per mirrored comment: both ids, origin, and the fingerprint of
 *   the origin's canonical body. A row is written only once both ids are known.
 *
 *   RECONCILE. acs_comments_sync loads the rows of the pair, lists every comment of both
 *   sides (ADO with includeDeleted) and then, in this order:
 *   1. open intents ("comment:<sync id>:<origin id>" rows of the intent table): the
 *      mirror a crashed run may have posted is looked for among the unmapped comments
 *      of the other side by its exact text (header + body, compared as canonical
 *      Markdown) and adopted (row written, intent closed in one job);
 *   2. rows: an origin deleted (ADO isDeleted, or absent from a complete listing) deletes
 *      its mirror; a mirror deleted by a person deletes its origin (a comment and its
 *      mirror are one comment); an origin whose fingerprint changed updates its mirror;
 *   3. unmapped comments, oldest first: intent, remote create, row + intent closed.
 *   A side whose listing was cut short (more than ACS_COMMENTS_MAX_PAGES pages) never
 *   counts as "absent", so nothing is deleted on its account.
 *
 *   ECHO. Mirrors are known by comment_map. The event comment ids of a job are checked
 *   against the rows first: when every one is a mirror (our own write coming back) and
 *   the caller does not force a reconcile, nothing is listed; nor when no event names a
 *   comment and the pair has no row to check (check_rows) or no reconcile is asked. As a
 *   last guard a comment whose first line is a mirror header naming the *other* service
 *   is never mirrored back, even without a row (a lost row or intent cannot start a
 *   ping-pong).
 *
 *   EXISTING COMMENTS. When copy_existing is false, unmapped comments dated before the
 *   pair's creation are left alone; when true, they are copied on the first reconcile
 *   (the syncer runs one when it creates a pair), oldest first.
 *
 * LIMITS
 *   Edits of a mirror are not sent back (the origin owns the text; its next edit
 *   overwrites the mirror). An origin edited after a crash that left an unrecorded
 *   mirror gets a second mirror (the first no longer matches; the guard keeps it from
 *   echoing). ClickUp comments are plain text taken as Markdown; rich ClickUp formatting
 *   blocks other than their text are not read.
 */

/** Pages listed per side at most (ADO pages of 200, ClickUp pages of 25). */
#define ACS_COMMENTS_MAX_PAGES 40

struct acs_comments;

/** What acs_comments_sync works on (everything borrowed during the call only). */
struct acs_comments_pair {
	int64_t sync_id;
	int64_t map_id;
	int64_t ado_id;
	const char *clickup_id;
	int64_t paired_at;	  /**< sync_map.created_at (Unix ms) */
	bool copy_existing;	  /**< the mapping's copy_existing_comments */
	bool ado_known_empty;	  /**< the work item has no comment (skip listing it) */
	bool clickup_known_empty; /**< the task has no comment (a task we just created) */
	bool force;		  /**< reconcile even when every event comment is a mirror */
	bool check_rows; /**< reconcile when the pair has comment_map rows (the item changed:
			  *   a comment edited or deleted without an event may be seen) */
	const int64_t *ado_comment_ids; /**< comment ids named by the job's ADO events */
	size_t n_ado_comment_ids;
	const char *const *clickup_comment_ids; /**< ... by its ClickUp events */
	size_t n_clickup_comment_ids;
};

/** One action for the history: the syncer turns it into a sync_log row. Strings are
 *  valid during the call. direction: "ado_to_clickup", "clickup_to_ado" or "none". */
typedef void (*acs_comments_log_cb)(const char *direction, const char *action, const char *status,
				    const char *message, void *arg);
/** End of acs_comments_sync: ACS_JOB_DONE, ACS_JOB_RETRY (retryable failure: the next
 *  run picks up where this one stopped) or ACS_JOB_FAILED; message NULL when done. */
typedef void (*acs_comments_done_cb)(enum acs_job_outcome outcome, const char *message, void *arg);

/** New mirror engine over borrowed store and clients (they must outlive it). */
struct acs_comments *acs_comments_new(struct acs_store *st, struct acs_ado_client *ado,
				      struct acs_clickup_client *cu);
/** Free c (NULL is a no-op). No acs_comments_sync may be running. */
void acs_comments_free(struct acs_comments *c);
/** Syncs in flight. */
size_t acs_comments_running(const struct acs_comments *c);

/** Reconcile the comments of pair p (see DESIGN). log (may be NULL) runs once per action,
 *  done exactly once, from the loop, after every comment_map change is committed.
 *  Returns 0, or -EINVAL (bad pair, no done), and then no callback runs. */
int acs_comments_sync(struct acs_comments *c, const struct acs_comments_pair *p,
		      acs_comments_log_cb log, acs_comments_done_cb done, void *arg);

/** The mirror text (Markdown) of a comment by author from source ("Azure DevOps" or
 *  "ClickUp") with body_md (may be NULL or ""). Heap string, free(). */
char *acs_comments_mirror_text(const char *author, const char *source, const char *body_md);

/** True when md's first line is a mirror header naming source ("**X** (source):"). */
bool acs_comments_is_mirror(const char *md, const char *source);

/** One comment_map row (as read back by acs_comments_rows). */
struct acs_comment_row {
	int64_t id;
	int64_t sync_id;
	int64_t ado_comment_id;	  /**< 0 when NULL */
	char *clickup_comment_id; /**< NULL when NULL */
	char *origin;		  /**< "ado" | "clickup" */
	char *fingerprint;	  /**< NULL when none */
};

struct acs_comment_rows {
	struct acs_comment_row *v;
	size_t n;
};

void acs_comment_rows_free(struct acs_comment_rows *r);

typedef void (*acs_comments_rows_cb)(int rc, const char *err, struct acs_comment_rows *rows,
				     void *arg);
/** The comment_map rows of pair sync_id, oldest first (read job; the callback owns rows).
 *  Returns 0 or the store's submission error (then cb never runs). */
int acs_comments_rows(struct acs_store *st, int64_t sync_id, acs_comments_rows_cb cb, void *arg);
