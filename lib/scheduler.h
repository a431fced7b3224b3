/* SPDX-License-Identifier: MIT */
/* The inbox scheduler: works the durable `inbox` table from the loop. Events
 * of one item run one job at a time and in order, a burst for one item
 * coalesces into one job, different items run concurrently up to a limit,
 * failed jobs retry with exponential backoff and jitter, and after
 * max_attempts (or at once for permanent errors) their events land in the
 * error queue (state 'error' with the service's message). Nothing is deleted
 * until it is done; after a restart or a kill -9 the scheduler resumes from
 * the table: a job's rows stay 'pending' until its outcome is written (rows an
 * older version left 'processing' are made pending again).
 *
 * JOBS
 *   A job is every pending, due event of one item, oldest first, handed to
 *   the work callback. The callback does the sync (possibly over many loop
 *   turns) and ends the job exactly once with acs_job_finish(). Events that
 *   arrive for the item while its job runs wait for the next job of that
 *   item, which starts as soon as the current one finished.
 *
 * ITEM KEYS
 *   Each inbox row carries an item_key: "ado:<work item id>" or
 *   "clickup:<task id>". Once the two are paired (sync_map), both keys name
 *   the same item: the scheduler resolves a ClickUp key to "ado:<id>" of its
 *   twin when it reads the queue, so events of a pair never run in parallel
 *   whichever side they came from. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "store.h"

struct acs_store;
struct acs_scheduler;
struct acs_job;

/** One inbox row of a job. Borrowed: valid until acs_job_finish(). */
struct acs_job_event {
	int64_t id;		/**< inbox.id (increasing with arrival) */
	const char *source;	/**< "ado", "clickup" or "sweep" */
	const char *event_type; /**< acs_webhook_type_name() of the event, or the
				  *  sweep's own type ("changed") */
	const char *event_key;	/**< idempotency key */
	const char *item_key;	/**< as stored at intake (before pair resolution) */
	const char *body;	/**< the raw JSON body as received */
	json_t *json;		/**< body parsed (opts.parse_bodies), or NULL: see there */
	int64_t received_at;	/**< Unix ms */
	unsigned attempts;	/**< attempts already made for this row */
};

enum acs_job_outcome {
	ACS_JOB_DONE = 0,   /**< every event of the job is handled: rows -> 'done' */
	ACS_JOB_RETRY = 1,  /**< retryable failure: rows stay pending, backoff */
	ACS_JOB_FAILED = 2, /**< permanent failure: rows -> 'error' at once */
};

/** Starts the work for a job; see JOBS. arg is the one given to _new. */
typedef void (*acs_scheduler_work_cb)(struct acs_job *job, void *arg);

struct acs_scheduler_opts {
	unsigned concurrency;	   /**< jobs running at once ([sync] concurrency, 8) */
	unsigned max_attempts;	   /**< attempts before the error queue ([sync] max_attempts, 8) */
	uint64_t backoff_base_ms;  /**< first retry delay ceiling (1000) */
	uint64_t backoff_max_ms;   /**< largest retry delay ceiling (300000) */
	uint64_t poll_interval_ms; /**< re-read the queue at least this often (5000) */
	uint64_t cooldown_ms;	   /**< an item whose job started less than this ago waits
				     *  until then, so the rest of a burst of edits
				     *  coalesces into one more job (0 = off, the default;
				     *  the engine uses ACS_SCHEDULER_COOLDOWN_MS) */
	/** Optional: runs on the store's reader thread with each claim that found rows, in
	 *  its read transaction, for the item's resolved key; the result is the job's
	 *  (acs_job_prefetched) and released with prefetch_free when the job is freed.
	 *  Saves the work callback the store round trip it would start with. */
	void *(*prefetch)(sqlite3 *db, const char *key, void *arg);
	void (*prefetch_free)(void *data);
	void *prefetch_arg;
	/** Parse each event's body on the reader thread with the claim (acs_job_event.json:
	 *  borrowed, valid until the job is freed; NULL when the body is not JSON), so the
	 *  loop thread does not. */
	bool parse_bodies;
};

/** The engine's cooldown: a burst of edits to one item within a second costs at
 *  most two writes (the first edit at once, the rest together), while an
 *  isolated edit is synced without delay. */
#define ACS_SCHEDULER_COOLDOWN_MS 1000

void acs_scheduler_opts_defaults(struct acs_scheduler_opts *o);

/** New scheduler over store (borrowed). It reads the queue at once and then
 *  after every acs_scheduler_kick() and every poll interval. */
struct acs_scheduler *acs_scheduler_new(uv_loop_t *loop, struct acs_store *store,
					const struct acs_scheduler_opts *opts,
					acs_scheduler_work_cb work, void *arg);

/** New rows were committed to the inbox: look at the queue soon (coalesced:
 *  many kicks in one loop turn cause one read). */
void acs_scheduler_kick(struct acs_scheduler *s);

/** As acs_scheduler_kick for new rows of one item (its stored key): no queue read when
 *  the item has a job (the scheduler reads when that job's outcome is written) or is
 *  in its cooldown (it reads when that ends). Under a burst most deliveries are the
 *  echoes of our own writes, to items in their cooldown: each one read the whole
 *  queue again. */
void acs_scheduler_kick_item(struct acs_scheduler *s, const char *item_key);

/** Jobs running now (holding a slot: claimed, not yet finished), and events
 *  known pending (as of the last read). */
size_t acs_scheduler_running(const struct acs_scheduler *s);
size_t acs_scheduler_queued(const struct acs_scheduler *s);
/** Queue reads done so far (claims not counted). */
uint64_t acs_scheduler_queue_reads(const struct acs_scheduler *s);
/** Finished jobs whose outcome is still being written (their items stay busy). */
size_t acs_scheduler_recording(const struct acs_scheduler *s);

/** Stop starting jobs, wait for running ones to finish (their outcome is
 *  recorded), close handles, free s, then cb. Idempotent. */
void acs_scheduler_close(struct acs_scheduler *s, void (*cb)(void *arg), void *arg);

/* --- the job ------------------------------------------------------------- */

/** The resolved item key ("ado:<id>" once paired, else the side's key). */
const char *acs_job_item_key(const struct acs_job *job);
size_t acs_job_event_count(const struct acs_job *job);
const struct acs_job_event *acs_job_event_at(const struct acs_job *job, size_t i);
/** 1 for the first attempt of the job's oldest event, 2 for its retry... */
unsigned acs_job_attempt(const struct acs_job *job);
/** What opts.prefetch returned for this job (NULL without one); owned by the job. */
void *acs_job_prefetched(const struct acs_job *job);
/** Handler-owned pointer carried with the job. */
void acs_job_set_data(struct acs_job *job, void *data);
void *acs_job_get_data(const struct acs_job *job);

/** End the job exactly once. message (copied; may be NULL) is stored as the
 *  rows' last_error for RETRY and FAILED. After the final RETRY attempt the
 *  rows go to the error queue as if FAILED. The job is freed when its
 *  outcome is committed; do not touch it after this call. */
void acs_job_finish(struct acs_job *job, enum acs_job_outcome outcome, const char *message);

/** Writes of a job that commit with its outcome, in the same transaction (see
 *  acs_job_finish_with). */
struct acs_job_tail {
	/** Runs on the writer thread before the inbox rows change state. On failure it
	 *  must leave behind only what it wants committed (roll its own changes back; it
	 *  may write a row saying why) and return < 0 with err: the job is then recorded
	 *  as a RETRY (or the error queue after the last attempt) with err as message. */
	acs_store_fn fn;
	/** Releases arg once the outcome is written or given up (loop thread; may be NULL). */
	void (*free)(void *arg);
	void *arg;
};

/** acs_job_finish whose outcome write also runs tail (copied; NULL = none; tail->arg
 *  belongs to the job from now on, even when fn never runs). The job's slot frees at
 *  once (SLOTS in scheduler.c): a sync's own pair and log writes wait for no other
 *  commit inside the slot, and cost one transaction with the outcome instead of two. */
void acs_job_finish_with(struct acs_job *job, enum acs_job_outcome outcome, const char *message,
			 const struct acs_job_tail *tail);
