/* SPDX-License-Identifier: MIT */
/* The inbox scheduler (contract in scheduler.h): reads the queue of due items,
 * claims one item per job slot, hands the job to the work callback and records
 * its outcome (done, retry with full-jitter backoff, error queue). */
#include "scheduler.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"

#define MOD "scheduler"

/* A job holds at most this many events or (beyond its first event) this much body;
 * the rest of a huge burst runs in the item's next job, right after. */
#define MAX_JOB_EVENTS 1000
#define MAX_JOB_BYTES (32u << 20)
/* Outcomes remembered for stale claims (see CLAIMS); a claim older than this many
 * outcomes is dropped as stale whatever its item. */
#define RECORDED 256
/* A failed outcome write (the database is unwell) is tried again after this. */
#define RECORD_RETRY_MS 1000
/* Most items remembered for the cooldown; older entries are dropped first. */
#define MAX_RECENT 8192
#define RHASH_BUCKETS 16384 /* power of two, >= MAX_RECENT */

/* A queue read costs time in proportion to the pending rows. Under a steady stream
 * of kicks (a burst of deliveries) reads would run back to back and keep the reader
 * thread and a core busy re-reading the same backlog, so the next read waits as
 * long as the last one took (at most this long): reads of a large backlog use at
 * most half of the reader's time, and a read of a small queue (under a millisecond)
 * is never delayed. */
#define MAX_READ_GAP_MS 20

/* A read that found items in their cooldown looks again when the first cooldown
 * ends, plus this: the cooldowns of a burst end a few ms apart, and one read per
 * item would re-read the whole backlog each time (a second of cooldown hides it). */
#define COOLDOWN_SLACK_MS 100

/*
 * DESIGN
 *   The queue lives in the database only; the scheduler's memory holds the jobs
 *   it runs and the last read's summary. A cycle:
 *     wake (kick, poll, next backoff due) -> due read (reader thread): items whose
 *     pending rows are all due, oldest first -> for each item not already running,
 *     while a slot is free: claim (reader thread: the item's pending rows, both
 *     keys of a pair) -> work callback -> acs_job_finish -> mark (writer) -> slot
 *     free, read again.
 *   Per-item order: one job per item at a time, rows by id, and an item with a row
 *   in backoff is not due at all (its later events must not overtake it).
 *
 * CLAIMS
 *   A claim is a read: the rows stay 'pending' in the table until the outcome is
 *   written, and the scheduler (the inbox's only consumer) holds them in memory. A
 *   claim whose item has another job (any phase, under either key of the pair) is
 *   dropped: the item is busy. Reads may be stale (a read sees only writes whose
 *   callback ran before it was submitted), so a claim that was in flight when the
 *   outcome of a job of the same item was written may hold rows that job did: it
 *   is dropped too and the item read again (RECORDED keeps the items of the last
 *   outcomes written). Before this, claims were writes ('processing' rows): one
 *   commit per job, behind the fsyncs of the others. Rows left 'processing' by an
 *   older version are made pending by the recovery at start.
 *
 * BACKLOG
 *   A read costs time in proportion to the pending rows, so under load the
 *   scheduler does not read once per finished job: the items a read found due
 *   but had no slot for are kept (keys only) and started, in order, as slots
 *   free up. A kick while every slot is busy only notes that the queue changed
 *   (stale); the next read happens when the backlog runs out. Items of the
 *   backlog are checked again when they start (running, cooldown) and the claim
 *   decides, as for any stale read.
 *
 * KEYED KICKS
 *   The intake names the item of each delivery (acs_scheduler_kick_item). An item
 *   with a job is only marked (kicked): the end of that job reads. An item in its
 *   cooldown arms the wake timer for the cooldown's end. Any other item, while a
 *   slot is free and no backlog waits, is claimed at once without a queue read
 *   (the claim reads its rows). A finished job reads the queue only when its item
 *   may have more rows (kicked, a retry, a claim cut short by its limits). Under a
 *   burst most deliveries are the echoes of our own writes, to items in their
 *   cooldown: each of them used to re-read the whole queue. A keyless kick (the
 *   sweep, the dashboard) reads, and marks every job kicked.
 *
 * SLOTS
 *   A job holds a slot while it is claimed and worked, not while its outcome is
 *   written: the outcome's commit (an fsync behind the other commits of the writer)
 *   took a third of a job's time under load, with the services idle. The item
 *   stays busy until its outcome is recorded (find_job sees the job), so its next
 *   job still starts only after that; another item may take the slot meanwhile.
 *
 * GLOSSARY
 *   slot      a job from its claim to acs_job_finish(); at most concurrency
 *   alias     a key under which a later read saw a running job's item (the pair
 *             was formed while it ran), so that read does not start a second job
 *   more_due  the last read saw more due items than it returned (truncated): read
 *             again once the backlog is used up, even without a job ending
 */

enum job_phase {
	JOB_CLAIMING,  /**< claim write in flight */
	JOB_WORKING,   /**< the work callback owns it until acs_job_finish */
	JOB_RECORDING, /**< outcome write in flight (or waiting to be retried) */
};

struct acs_job {
	struct acs_scheduler *s;
	struct acs_job *next; /**< scheduler::jobs */
	enum job_phase phase;
	char *want_key; /**< the key the due read named */
	char *alias;	/**< see GLOSSARY */
	struct acs_inbox_claim claim;
	struct acs_job_event *events; /**< views into claim.rows */
	int64_t *ids;
	unsigned attempt;
	void *data;
	struct acs_inbox_mark mark;	/**< what the outcome write does (its arg) */
	struct acs_inbox_mark primary;	/**< the outcome asked for */
	struct acs_inbox_mark fallback; /**< a RETRY, used when the tail fails */
	struct acs_job_tail tail;
	bool tail_failed;
	char tail_err[ACS_ERR_LEN];
	char *message;		    /**< last_error to record (owned) */
	char *fallback_message;	    /**< last_error when the tail fails (owned) */
	struct acs_job *retry_next; /**< scheduler::unrecorded */
	uint64_t claim_seq;	    /**< scheduler::recorded_seq when the claim was submitted */
	bool kicked; /**< rows of its item came while it ran (acs_scheduler_kick_item) */
};

struct acs_scheduler {
	uv_loop_t *loop;
	struct acs_store *store; /**< borrowed */
	struct acs_scheduler_opts o;
	acs_scheduler_work_cb work;
	void *arg;

	uv_timer_t wake;  /**< kick (0 ms), poll interval, next backoff due */
	uv_timer_t retry; /**< outcome writes that failed */
	int open_handles;

	struct acs_job *jobs; /**< every job, in any phase */
	size_t n_jobs;
	size_t n_slots;		    /**< jobs claiming or working (see SLOTS) */
	struct acs_job *unrecorded; /**< jobs whose outcome write must be retried */
	/* The keys of the last RECORDED outcomes written, by sequence number (CLAIMS). */
	struct recorded {
		char *keys[3]; /**< claim key, twin, alias (NULL when none) */
	} recorded[RECORDED];
	uint64_t recorded_seq; /**< outcomes written so far */

	struct acs_inbox_recover recover;
	bool recovered;
	bool recover_inflight;

	struct acs_inbox_due due;
	uint64_t read_started; /**< uv_hrtime() when the read in flight began */
	uint64_t next_read_at; /**< loop time before which no read starts (see MAX_READ_GAP_MS) */
	bool read_inflight;
	uint64_t queue_reads; /**< due reads finished */
	bool read_again;      /**< a kick came while a read was in flight */
	bool more_due;
	size_t queued;
	/* Due items of the last read that found no free slot, oldest first: slots
	 * that free up take them without another read (see BACKLOG). */
	char **backlog;
	size_t n_backlog, i_backlog;
	bool stale; /**< kicks came while every slot was busy: read when the backlog ends */

	/* Items whose job started within the cooldown (oldest first). */
	struct recent {
		char *key;
		uint64_t started; /**< loop time */
	} * recent;
	size_t n_recent;
	/* The newest start of each key in recent, for lookups by key (a read checks
	 * every due item against the cooldown: a scan of recent was quadratic). */
	struct rnode {
		char *key;
		uint64_t started;
		struct rnode *next;
	} * *rhash;

	uint64_t rng; /**< splitmix64 state for the backoff's jitter */

	bool closing;
	bool close_started;
	void (*close_cb)(void *arg);
	void *close_arg;
};

static void start_read(struct acs_scheduler *s);
static void recent_add(struct acs_scheduler *s, const char *key, uint64_t now);
static void maybe_closed(struct acs_scheduler *s);
static void slot_freed(struct acs_scheduler *s, bool read);

void acs_scheduler_opts_defaults(struct acs_scheduler_opts *o)
{
	*o = (struct acs_scheduler_opts){ 0 };
	o->concurrency = 8;
	o->max_attempts = 8;
	o->backoff_base_ms = 1000;
	o->backoff_max_ms = 300000;
	o->poll_interval_ms = 5000;
	o->cooldown_ms = 0;
}

/* ---- timers ---- */

static void on_wake(uv_timer_t *t);

static void arm(struct acs_scheduler *s, uint64_t ms)
{
	if (!s->closing)
		acs_require(uv_timer_start(&s->wake, on_wake, ms, 0) == 0);
}

/* After a read: sleep until the poll interval or the next backoff expires. */
static void arm_after_read(struct acs_scheduler *s, int64_t next_due_at)
{
	uint64_t ms = s->o.poll_interval_ms;
	if (next_due_at > 0) {
		int64_t d = next_due_at - acs_inbox_now_ms();
		if (d < 0)
			d = 0;
		if ((uint64_t)d < ms)
			ms = (uint64_t)d;
	}
	arm(s, ms);
}

/* ms until the next read may start (MAX_READ_GAP_MS). */
static uint64_t read_gap(const struct acs_scheduler *s)
{
	uint64_t now = uv_now(s->loop);
	return s->next_read_at > now ? s->next_read_at - now : 0;
}

static void request_read(struct acs_scheduler *s)
{
	if (s->closing || !s->recovered)
		return; /* recovery reads when it is done */
	if (s->read_inflight)
		s->read_again = true;
	else
		arm(s, read_gap(s)); /* many kicks in one loop turn: one read */
}

void acs_scheduler_kick(struct acs_scheduler *s)
{
	if (!s)
		return;
	/* Rows of any item: those with a job look again when it ends. */
	for (struct acs_job *j = s->jobs; j; j = j->next)
		j->kicked = true;
	if (s->recovered && s->n_slots >= s->o.concurrency) {
		s->stale = true; /* no slot to start anything: read when one frees */
		return;
	}
	request_read(s);
}

/* ---- jobs ---- */

static bool job_has_key(const struct acs_job *j, const char *k)
{
	if (!strcmp(j->want_key, k) || (j->alias && !strcmp(j->alias, k)))
		return true;
	/* While the claim is in flight the store's thread fills j->claim. */
	return j->phase != JOB_CLAIMING && ((j->claim.key && !strcmp(j->claim.key, k)) ||
					    (j->claim.twin && !strcmp(j->claim.twin, k)));
}

static struct acs_job *find_job(struct acs_scheduler *s, const char *k, const struct acs_job * not )
{
	for (struct acs_job *j = s->jobs; j; j = j->next) {
		if (j != not &&job_has_key(j, k))
			return j;
	}
	return NULL;
}

static bool holds_slot(const struct acs_job *j)
{
	return j->phase == JOB_CLAIMING || j->phase == JOB_WORKING;
}

/* Moves job to phase, giving its slot back when it leaves the slot's phases. */
static void set_phase(struct acs_job *job, enum job_phase phase)
{
	if (holds_slot(job) && phase != JOB_CLAIMING && phase != JOB_WORKING)
		job->s->n_slots--;
	job->phase = phase;
}

static void job_free(struct acs_job *job)
{
	struct acs_scheduler *s = job->s;
	if (holds_slot(job))
		s->n_slots--;
	for (struct acs_job **pp = &s->jobs; *pp; pp = &(*pp)->next) {
		if (*pp == job) {
			*pp = job->next;
			s->n_jobs--;
			break;
		}
	}
	if (job->claim.extra_out && s->o.prefetch_free)
		s->o.prefetch_free(job->claim.extra_out);
	acs_inbox_claim_deinit(&job->claim);
	if (job->tail.free)
		job->tail.free(job->tail.arg);
	free(job->fallback_message);
	free(job->want_key);
	free(job->alias);
	free(job->events);
	free(job->ids);
	free(job->message);
	free(job);
}

/* Every finished job computes a fallback backoff: a getrandom() system call each
 * (libsodium reads the kernel every time) showed in the profile of a burst, so the
 * jitter comes from splitmix64, seeded once from libsodium. In [0, bound). */
static uint32_t jitter_next(uint64_t *state, uint32_t bound)
{
	return (uint32_t)(((acs_splitmix64(state) & 0xffffffffu) * bound) >> 32);
}

/* Full jitter (the AWS backoff note): uniform in [0, min(max, base * 2^(attempt-1))]. */
static uint64_t backoff_ms(struct acs_scheduler *s, unsigned attempt)
{
	const struct acs_scheduler_opts *o = &s->o;
	uint64_t ceil = o->backoff_base_ms;
	for (unsigned i = 1; i < attempt && ceil < o->backoff_max_ms; i++)
		ceil = ceil > o->backoff_max_ms / 2 ? o->backoff_max_ms : ceil * 2;
	if (ceil > o->backoff_max_ms)
		ceil = o->backoff_max_ms;
	if (ceil >= UINT32_MAX)
		ceil = UINT32_MAX - 1;
	return jitter_next(&s->rng, (uint32_t)ceil + 1);
}

static void mark_done(int rc, const char *err, void *arg);
static void on_retry(uv_timer_t *t);

/* The outcome could not be written now: try again after RECORD_RETRY_MS. */
static void defer_record(struct acs_job *job)
{
	struct acs_scheduler *s = job->s;
	job->retry_next = s->unrecorded;
	s->unrecorded = job;
	if (!uv_is_active((uv_handle_t *)&s->retry))
		acs_require(uv_timer_start(&s->retry, on_retry, RECORD_RETRY_MS, 0) == 0);
}

/* The outcome write of a job with a tail (writer thread): the tail, then the mark it
 * leaves to do. */
static int record_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct acs_job *job = acs_container_of(arg, struct acs_job, mark);
	job->tail_failed = job->tail.fn(db, job->tail.arg, job->tail_err) < 0;
	job->mark = job->tail_failed ? job->fallback : job->primary;
	return acs_inbox_mark_run(db, &job->mark, err);
}

static void submit_mark(struct acs_job *job)
{
	struct acs_scheduler *s = job->s;
	int rc = job->tail.fn ? acs_store_write(s->store, record_fn, mark_done, &job->mark)
			      : acs_inbox_mark(s->store, &job->mark, mark_done);
	if (!rc)
		return;
	if (rc != ACS_ECLOSED && !s->closing) {
		defer_record(job);
		return;
	}
	/* The rows stay 'processing'; recovery at the next start makes them pending. */
	acs_log(ACS_LOG_ERR, MOD, "cannot record the outcome of item %s: %s",
		job->claim.key ? job->claim.key : job->want_key, acs_strerror(rc));
	job_free(job);
	maybe_closed(s);
}

/* The outcome of job is written: claims in flight may hold its rows (CLAIMS). */
static void remember_recorded(struct acs_scheduler *s, struct acs_job *job)
{
	struct recorded *r = &s->recorded[s->recorded_seq++ % RECORDED];
	for (size_t i = 0; i < ACS_ARRAY_SIZE(r->keys); i++)
		free(r->keys[i]);
	const char *k[3] = { job->claim.key ? job->claim.key : job->want_key, job->claim.twin,
			     job->alias };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(r->keys); i++)
		r->keys[i] = k[i] ? acs_xstrdup(k[i]) : NULL;
}

static bool recorded_has(const struct recorded *r, const char *k)
{
	for (size_t i = 0; k && i < ACS_ARRAY_SIZE(r->keys); i++)
		if (r->keys[i] && !strcmp(r->keys[i], k))
			return true;
	return false;
}

/* An outcome of the claim's item was written while the claim was in flight. */
static bool claim_stale(const struct acs_scheduler *s, const struct acs_job *job)
{
	if (s->recorded_seq - job->claim_seq > RECORDED)
		return true;
	for (uint64_t q = job->claim_seq; q < s->recorded_seq; q++) {
		const struct recorded *r = &s->recorded[q % RECORDED];
		if (recorded_has(r, job->want_key) || recorded_has(r, job->claim.key) ||
		    recorded_has(r, job->claim.twin))
			return true;
	}
	return false;
}

static void mark_done(int rc, const char *err, void *arg)
{
	struct acs_job *job = acs_container_of(arg, struct acs_job, mark);
	struct acs_scheduler *s = job->s;
	if (rc < 0 && !s->closing) {
		acs_log(ACS_LOG_WARN, MOD, "recording the outcome of item %s failed (retrying): %s",
			job->claim.key, err);
		defer_record(job);
		return;
	}
	if (rc < 0)
		acs_log(ACS_LOG_ERR, MOD,
			"recording the outcome of item %s failed during shutdown: %s "
			"(its events run again after the restart)",
			job->claim.key, err);
	else if (job->tail_failed)
		acs_log(ACS_LOG_WARN, MOD, "item %s: %s (%s)", job->claim.key, job->tail_err,
			job->mark.to == ACS_INBOX_ERROR ? "to the error queue" : "retrying");
	remember_recorded(s, job);
	/* Read when the item may have more rows: some came while it ran, the claim left
	 * rows behind (its limits), or they wait for a retry (the read arms its timer). */
	bool more = job->kicked || job->mark.to != ACS_INBOX_DONE || job->claim.truncated;
	job_free(job);
	slot_freed(s, more);
	maybe_closed(s);
}

static void on_retry(uv_timer_t *t)
{
	struct acs_scheduler *s = t->data;
	struct acs_job *list = s->unrecorded;
	s->unrecorded = NULL;
	while (list) {
		struct acs_job *job = list;
		list = job->retry_next;
		job->retry_next = NULL;
		submit_mark(job);
	}
}

static void start_work(struct acs_job *job)
{
	struct acs_scheduler *s = job->s;
	size_t n = job->claim.n_rows;
	job->events = acs_xcalloc(n, sizeof(*job->events));
	job->ids = acs_xmalloc(n * sizeof(*job->ids));
	for (size_t i = 0; i < n; i++) {
		const struct acs_inbox_row *r = &job->claim.rows[i];
		job->events[i] = (struct acs_job_event){
			.id = r->id,
			.source = r->source,
			.event_type = r->event_type,
			.event_key = r->event_key,
			.item_key = r->item_key,
			.body = r->body,
			.json = r->json,
			.received_at = r->received_at,
			.attempts = r->attempts,
		};
		job->ids[i] = r->id;
	}
	job->attempt = job->claim.rows[0].attempts + 1;
	job->phase = JOB_WORKING;
	if (s->o.cooldown_ms) {
		/* Deliveries name either key of the pair (acs_scheduler_kick_item). */
		uint64_t now = uv_now(s->loop);
		if (strcmp(job->claim.key, job->want_key))
			recent_add(s, job->claim.key, now);
		if (job->claim.twin && strcmp(job->claim.twin, job->want_key))
			recent_add(s, job->claim.twin, now);
	}
	acs_log(ACS_LOG_DEBUG, MOD, "job for %s: %zu events, attempt %u", job->claim.key, n,
		job->attempt);
	s->work(job, s->arg);
}

static void claim_done(int rc, const char *err, void *arg)
{
	struct acs_job *job = acs_container_of(arg, struct acs_job, claim);
	struct acs_scheduler *s = job->s;

	if (rc < 0) {
		acs_log(ACS_LOG_WARN, MOD, "claiming the events of %s failed: %s", job->want_key,
			err);
		job_free(job);
		maybe_closed(s); /* the poll interval tries again */
		return;
	}
	if (s->closing) {
		job_free(job); /* the rows were only read */
		maybe_closed(s);
		return;
	}
	struct acs_job *owner = find_job(s, job->claim.key, job);
	if (!owner && job->claim.twin)
		owner = find_job(s, job->claim.twin, job);
	if (owner) {
		/* Busy: e.g. the pair was formed while a job of one of its keys runs.
		 * Remember the new key on that job so reads stop offering it, and let
		 * its end read the rows this claim found. */
		owner->kicked = true;
		if (strcmp(job->claim.key, owner->want_key) &&
		    (!owner->claim.key || strcmp(job->claim.key, owner->claim.key))) {
			free(owner->alias);
			owner->alias = acs_xstrdup(job->claim.key);
		}
		job_free(job);
		slot_freed(s, false);
		return;
	}
	if (claim_stale(s, job)) {
		/* It may hold rows whose outcome is written now: read them again. */
		job_free(job);
		s->stale = true;
		slot_freed(s, true);
		return;
	}
	if (!job->claim.n_rows) {
		/* A stale read: the item's events were done meanwhile. */
		job_free(job);
		slot_freed(s, false);
		return;
	}
	start_work(job);
}

static void start_claim(struct acs_scheduler *s, const char *key)
{
	struct acs_job *job = acs_xcalloc(1, sizeof(*job));
	job->s = s;
	job->phase = JOB_CLAIMING;
	job->want_key = acs_xstrdup(key);
	job->claim.item_key = job->want_key;
	job->claim.max_events = MAX_JOB_EVENTS;
	job->claim.max_bytes = MAX_JOB_BYTES;
	job->claim.extra = s->o.prefetch;
	job->claim.parse = s->o.parse_bodies;
	job->claim.extra_arg = s->o.prefetch_arg;
	job->claim_seq = s->recorded_seq;
	int rc = acs_inbox_claim(s->store, &job->claim, claim_done);
	if (rc) {
		acs_log(ACS_LOG_WARN, MOD, "cannot claim %s: %s", key, acs_strerror(rc));
		free(job->want_key);
		free(job);
		return;
	}
	job->next = s->jobs;
	s->jobs = job;
	s->n_jobs++;
	s->n_slots++;
}

/* ---- cooldown ---- */

static struct rnode **rhash_slot(struct acs_scheduler *s, const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	struct rnode **pp = &s->rhash[h & (RHASH_BUCKETS - 1)];
	while (*pp && strcmp((*pp)->key, key))
		pp = &(*pp)->next;
	return pp;
}

/* recent[i] leaves: its key leaves the hash unless started again since. */
static void recent_forget(struct acs_scheduler *s, size_t i)
{
	struct rnode **pp = rhash_slot(s, s->recent[i].key);
	struct rnode *n = *pp;
	if (n && n->started == s->recent[i].started) {
		*pp = n->next;
		free(n->key);
		free(n);
	}
	free(s->recent[i].key);
}

static void recent_prune(struct acs_scheduler *s, uint64_t now)
{
	size_t drop = 0;
	while (drop < s->n_recent && (now - s->recent[drop].started >= s->o.cooldown_ms ||
				      s->n_recent - drop > MAX_RECENT))
		recent_forget(s, drop++);
	if (drop) {
		memmove(s->recent, s->recent + drop, (s->n_recent - drop) * sizeof(*s->recent));
		s->n_recent -= drop;
	}
}

/* ms until key may start again, 0 when it may start now. */
static uint64_t cooldown_left(struct acs_scheduler *s, const char *key, uint64_t now)
{
	if (!s->rhash)
		return 0;
	const struct rnode *n = *rhash_slot(s, key);
	if (!n)
		return 0;
	uint64_t age = now - n->started;
	return age < s->o.cooldown_ms ? s->o.cooldown_ms - age : 0;
}

static void recent_add(struct acs_scheduler *s, const char *key, uint64_t now)
{
	if (!s->o.cooldown_ms)
		return;
	if (!s->recent) {
		s->recent = acs_xcalloc(MAX_RECENT + 1, sizeof(*s->recent));
		s->rhash = acs_xcalloc(RHASH_BUCKETS, sizeof(*s->rhash));
	}
	recent_prune(s, now);
	if (s->n_recent == MAX_RECENT + 1) {
		recent_forget(s, 0);
		memmove(s->recent, s->recent + 1, (s->n_recent - 1) * sizeof(*s->recent));
		s->n_recent--;
	}
	s->recent[s->n_recent].key = acs_xstrdup(key);
	s->recent[s->n_recent].started = now;
	s->n_recent++;
	struct rnode **pp = rhash_slot(s, key);
	if (!*pp) {
		*pp = acs_xcalloc(1, sizeof(**pp));
		(*pp)->key = acs_xstrdup(key);
	}
	(*pp)->started = now;
}

void acs_scheduler_kick_item(struct acs_scheduler *s, const char *item_key)
{
	if (!s)
		return;
	if (!item_key || !s->recovered || s->closing) {
		acs_scheduler_kick(s);
		return;
	}
	struct acs_job *job = find_job(s, item_key, NULL);
	if (job && job->phase != JOB_CLAIMING) {
		job->kicked = true; /* its outcome's write reads the queue */
		return;
	}
	uint64_t left = s->o.cooldown_ms ? cooldown_left(s, item_key, uv_now(s->loop)) : 0;
	if (!job && left) {
		/* Read when the cooldown ends (sooner if the wake timer says so). */
		uint64_t due = left + COOLDOWN_SLACK_MS;
		if (!uv_is_active((uv_handle_t *)&s->wake) || uv_timer_get_due_in(&s->wake) > due)
			arm(s, due);
		return;
	}
	if (!job && s->n_slots < s->o.concurrency && s->i_backlog >= s->n_backlog) {
		/* Nothing waits for a slot: claim it now, without a queue read first (the
		 * claim reads the item's rows, committed before this kick). */
		if (s->o.cooldown_ms)
			recent_add(s, item_key, uv_now(s->loop));
		start_claim(s, item_key);
		return;
	}
	acs_scheduler_kick(s); /* a claim in flight may have read before the row */
}

/* ---- reading the queue ---- */

static void backlog_clear(struct acs_scheduler *s)
{
	for (size_t i = 0; i < s->n_backlog; i++)
		free(s->backlog[i]);
	free(s->backlog);
	s->backlog = NULL;
	s->n_backlog = s->i_backlog = 0;
}

/* A slot is free: start the next items of the backlog; once it is used up, read
 * again if asked to (a job ended), if kicks came meanwhile, or if the last read
 * saw more due items than it kept. */
static void slot_freed(struct acs_scheduler *s, bool read)
{
	if (s->closing)
		return;
	uint64_t now = uv_now(s->loop);
	while (s->n_slots < s->o.concurrency && s->i_backlog < s->n_backlog) {
		const char *k = s->backlog[s->i_backlog++];
		if (find_job(s, k, NULL) || (s->o.cooldown_ms && cooldown_left(s, k, now))) {
			s->stale = true; /* a read decides when it may start */
			continue;
		}
		recent_add(s, k, now);
		start_claim(s, k);
	}
	if (s->i_backlog < s->n_backlog)
		return; /* every slot is busy and the backlog lasts */
	if (!read && !s->stale && !s->more_due)
		return;
	if (s->n_slots >= s->o.concurrency)
		s->stale = true; /* nothing could start now: the next free slot reads */
	else
		request_read(s);
}

static void due_done(int rc, const char *err, void *arg)
{
	struct acs_scheduler *s = acs_container_of(arg, struct acs_scheduler, due);
	s->read_inflight = false;
	s->queue_reads++;
	uint64_t took_ms = (uv_hrtime() - s->read_started) / 1000000;
	s->next_read_at = uv_now(s->loop) + ACS_MIN(took_ms, (uint64_t)MAX_READ_GAP_MS);
	if (s->closing) {
		acs_inbox_due_deinit(&s->due);
		maybe_closed(s);
		return;
	}
	if (rc < 0) {
		acs_log(ACS_LOG_WARN, MOD, "reading the inbox failed: %s", err);
		acs_inbox_due_deinit(&s->due);
		arm(s, s->o.poll_interval_ms);
		return;
	}
	s->queued = (size_t)s->due.pending_rows;
	s->more_due = s->due.truncated;
	backlog_clear(s);
	uint64_t now = uv_now(s->loop), wait = 0;
	if (s->o.cooldown_ms)
		recent_prune(s, now);
	for (size_t i = 0; i < s->due.n_items; i++) {
		const char *k = s->due.items[i].item_key;
		struct acs_job *busy = find_job(s, k, NULL);
		if (busy) {
			busy->kicked = true; /* rows wait for its end: read again then */
			continue;
		}
		uint64_t left = s->o.cooldown_ms ? cooldown_left(s, k, now) : 0;
		if (left) {
			/* Let the rest of the burst gather; look again when it ends. */
			wait = wait ? ACS_MIN(wait, left) : left;
			continue;
		}
		if (s->n_slots >= s->o.concurrency) {
			if (!s->backlog)
				s->backlog = acs_xcalloc(s->due.n_items - i, sizeof(*s->backlog));
			s->backlog[s->n_backlog++] = acs_xstrdup(k);
			continue;
		}
		recent_add(s, k, now);
		start_claim(s, k);
	}
	int64_t next_due_at = s->due.next_due_at;
	acs_inbox_due_deinit(&s->due);
	if (s->read_again) {
		s->read_again = false;
		arm(s, read_gap(s)); /* a kick may name another item: no longer than the gap */
	} else if (wait && wait < s->o.poll_interval_ms) {
		int64_t d = next_due_at > 0 ? next_due_at - acs_inbox_now_ms() : INT64_MAX;
		wait += COOLDOWN_SLACK_MS;
		arm(s, d >= 0 && (uint64_t)d < wait ? (uint64_t)d : wait);
	} else {
		arm_after_read(s, next_due_at);
	}
}

static void start_read(struct acs_scheduler *s)
{
	if (s->closing)
		return;
	if (s->read_inflight) {
		s->read_again = true;
		return;
	}
	s->stale = false; /* this read sees every event committed so far */
	s->due = (struct acs_inbox_due){
		.now_ms = acs_inbox_now_ms(),
		/* Items in their cooldown are read too but not started: read past
		 * them, or a crowd of them (the echoes of our own writes) would hide
		 * newer items from every read. */
		.max_items = 8 * (size_t)s->o.concurrency + 64 + s->n_recent,
	};
	s->read_started = uv_hrtime();
	int rc = acs_inbox_due(s->store, &s->due, due_done);
	if (rc) {
		acs_log(ACS_LOG_WARN, MOD, "cannot read the inbox: %s", acs_strerror(rc));
		arm(s, s->o.poll_interval_ms);
		return;
	}
	s->read_inflight = true;
}

static void recover_done(int rc, const char *err, void *arg)
{
	struct acs_scheduler *s = acs_container_of(arg, struct acs_scheduler, recover);
	s->recover_inflight = false;
	if (rc < 0) {
		acs_log(ACS_LOG_ERR, MOD, "inbox recovery failed (retrying): %s", err);
		arm(s, s->o.poll_interval_ms);
		maybe_closed(s);
		return;
	}
	if (s->recover.reset)
		acs_log(ACS_LOG_INFO, MOD, "resuming %lld events interrupted by a stop or crash",
			(long long)s->recover.reset);
	s->recovered = true;
	if (!s->closing)
		start_read(s);
	maybe_closed(s);
}

static void start_recover(struct acs_scheduler *s)
{
	int rc = acs_inbox_recover(s->store, &s->recover, recover_done);
	if (rc) {
		acs_log(ACS_LOG_ERR, MOD, "cannot start inbox recovery: %s", acs_strerror(rc));
		arm(s, s->o.poll_interval_ms);
		return;
	}
	s->recover_inflight = true;
}

static void on_wake(uv_timer_t *t)
{
	struct acs_scheduler *s = t->data;
	if (s->closing)
		return;
	if (!s->recovered) {
		if (!s->recover_inflight)
			start_recover(s);
		return;
	}
	if (s->n_slots >= s->o.concurrency) {
		s->stale = true; /* nothing could start: the next free slot reads */
		return;
	}
	start_read(s);
}

/* ---- lifecycle ---- */

struct acs_scheduler *acs_scheduler_new(uv_loop_t *loop, struct acs_store *store,
					const struct acs_scheduler_opts *opts,
					acs_scheduler_work_cb work, void *arg)
{
	acs_require(loop && store && work);
	/* randombytes works before sodium_init, but init picks the best source. */
	acs_require(sodium_init() >= 0);
	struct acs_scheduler *s = acs_xcalloc(1, sizeof(*s));
	randombytes_buf(&s->rng, sizeof(s->rng));
	s->loop = loop;
	s->store = store;
	if (opts)
		s->o = *opts;
	else
		acs_scheduler_opts_defaults(&s->o);
	if (!s->o.concurrency)
		s->o.concurrency = 1;
	if (!s->o.max_attempts)
		s->o.max_attempts = 1;
	if (!s->o.poll_interval_ms)
		s->o.poll_interval_ms = 5000;
	if (s->o.backoff_max_ms < s->o.backoff_base_ms)
		s->o.backoff_max_ms = s->o.backoff_base_ms;
	s->work = work;
	s->arg = arg;
	acs_require(uv_timer_init(loop, &s->wake) == 0);
	acs_require(uv_timer_init(loop, &s->retry) == 0);
	s->wake.data = s->retry.data = s;
	s->open_handles = 2;
	start_recover(s);
	return s;
}

size_t acs_scheduler_running(const struct acs_scheduler *s)
{
	return s ? s->n_slots : 0;
}

uint64_t acs_scheduler_queue_reads(const struct acs_scheduler *s)
{
	return s ? s->queue_reads : 0;
}

size_t acs_scheduler_recording(const struct acs_scheduler *s)
{
	return s ? s->n_jobs - s->n_slots : 0;
}

size_t acs_scheduler_queued(const struct acs_scheduler *s)
{
	return s ? s->queued : 0;
}

static void on_closed(uv_handle_t *h)
{
	struct acs_scheduler *s = h->data;
	if (--s->open_handles > 0)
		return;
	void (*cb)(void *) = s->close_cb;
	void *arg = s->close_arg;
	for (size_t i = 0; i < s->n_recent; i++)
		recent_forget(s, i);
	free(s->recent);
	free(s->rhash);
	backlog_clear(s);
	for (size_t i = 0; i < RECORDED; i++)
		for (size_t k = 0; k < ACS_ARRAY_SIZE(s->recorded[i].keys); k++)
			free(s->recorded[i].keys[k]);
	free(s);
	if (cb)
		cb(arg);
}

static void maybe_closed(struct acs_scheduler *s)
{
	if (!s->closing || s->close_started || s->n_jobs || s->read_inflight || s->recover_inflight)
		return;
	s->close_started = true;
	uv_close((uv_handle_t *)&s->wake, on_closed);
	uv_close((uv_handle_t *)&s->retry, on_closed);
}

void acs_scheduler_close(struct acs_scheduler *s, void (*cb)(void *arg), void *arg)
{
	if (!s || s->closing)
		return;
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	uv_timer_stop(&s->wake);
	uv_timer_stop(&s->retry);
	/* One last try for outcomes that could not be written; closing gives up on
	 * failure (the rows stay processing and recovery resumes them). */
	on_retry(&s->retry);
	maybe_closed(s);
}

/* ---- the job API ---- */

const char *acs_job_item_key(const struct acs_job *job)
{
	return job->claim.key;
}

size_t acs_job_event_count(const struct acs_job *job)
{
	return job->claim.n_rows;
}

const struct acs_job_event *acs_job_event_at(const struct acs_job *job, size_t i)
{
	acs_require(i < job->claim.n_rows);
	return &job->events[i];
}

unsigned acs_job_attempt(const struct acs_job *job)
{
	return job->attempt;
}

void *acs_job_prefetched(const struct acs_job *job)
{
	return job->claim.extra_out;
}

void acs_job_set_data(struct acs_job *job, void *data)
{
	job->data = data;
}

void *acs_job_get_data(const struct acs_job *job)
{
	return job->data;
}

/* The inbox update recording outcome; *msg gets the last_error to store (owned). */
static struct acs_inbox_mark outcome_mark(struct acs_job *job, enum acs_job_outcome outcome,
					  const char *message, char **msg)
{
	struct acs_scheduler *s = job->s;
	struct acs_inbox_mark m = {
		.ids = job->ids,
		.n_ids = job->claim.n_rows,
		.only_from = true,
		.from = ACS_INBOX_PENDING, /* claims are in memory (CLAIMS) */
		.add_attempt = true,
		.next_attempt_at = -1,
	};
	*msg = NULL;
	switch (outcome) {
	case ACS_JOB_DONE:
		m.to = ACS_INBOX_DONE;
		break;
	case ACS_JOB_RETRY:
		if (job->attempt < s->o.max_attempts) {
			m.to = ACS_INBOX_PENDING;
			m.next_attempt_at =
				acs_inbox_now_ms() + (int64_t)backoff_ms(s, job->attempt);
			*msg = acs_xstrdup(message && *message ? message : "retrying");
			break;
		}
		m.to = ACS_INBOX_ERROR;
		*msg = message && *message
			       ? acs_xstrdup(message)
			       : acs_xasprintf("gave up after %u attempts", job->attempt);
		break;
	case ACS_JOB_FAILED:
	default:
		m.to = ACS_INBOX_ERROR;
		*msg = acs_xstrdup(message && *message ? message : "failed");
		break;
	}
	m.last_error = *msg;
	return m;
}

void acs_job_finish(struct acs_job *job, enum acs_job_outcome outcome, const char *message)
{
	acs_job_finish_with(job, outcome, message, NULL);
}

void acs_job_finish_with(struct acs_job *job, enum acs_job_outcome outcome, const char *message,
			 const struct acs_job_tail *tail)
{
	acs_require(job && job->phase == JOB_WORKING);
	struct acs_scheduler *s = job->s;
	set_phase(job, JOB_RECORDING);
	if (tail) {
		job->tail = *tail;
		if (job->tail.fn) {
			/* Its message is the tail's error, known only on the writer thread. */
			job->fallback =
				outcome_mark(job, ACS_JOB_RETRY, "", &job->fallback_message);
			job->fallback.last_error = job->tail_err;
		}
	}
	job->primary = outcome_mark(job, outcome, message, &job->message);
	job->mark = job->primary;
	if (job->mark.to == ACS_INBOX_ERROR)
		acs_log(ACS_LOG_WARN, MOD,
			"item %s: %zu events to the error queue after %u attempts: %s",
			job->claim.key, job->claim.n_rows, job->attempt, job->message);
	submit_mark(job);
	slot_freed(s, false); /* another item may run while the outcome is written */
}
