/* SPDX-License-Identifier: MIT */
/* Rate-limit governor, one per service and token: decides when the next REST
 * call may start, learns from each response's limit headers, honours
 * Retry-After, backs off on 5xx and reports the budget left for metrics.
 *
 * DESIGN
 *   The governor is pure: no loop, no sockets, no clock of its own. The
 *   caller passes the time (now_ms, any monotonic millisecond clock, e.g.
 *   uv_now) into each call, so tests drive it with a simulated clock. The
 *   client asks acs_governor_acquire() before each request; 0 means "start it
 *   now" (the request is counted and occupies a concurrency slot), anything
 *   else is the number of ms after which to ask again. Every granted request
 *   is handed back exactly once with acs_governor_release(), together with
 *   the response's status and parsed headers.
 *
 *   Requests are spread evenly: a token bucket (GCRA) refilled continuously
 *   at (limit - reserve) / window with a small burst, plus a sliding log of
 *   the starts in the last window so that no window, rolling or fixed,
 *   carries more than limit - reserve requests. The server is the truth: its
 *   X-RateLimit-Limit replaces the configured limit, and its Remaining
 *   (less our requests it has not counted yet) caps what we send until its
 *   Reset; once an exhausted figure expires, a single request probes before
 *   the others follow. A 429 or a Retry-After stops all requests until the
 *   server says; 5xx and transport failures stop them for an exponential
 *   backoff with full jitter that a success resets. ADO's X-RateLimit-Delay spaces the next
 *   starts by at least that much (halving on each undelayed answer).
 *   Background work only spends budget that interactive work leaves: it
 *   waits while an interactive request is being held back, leaves one token
 *   in the bucket, and never uses the last background_reserve_pct of a window.
 *
 * GLOSSARY
 *   window   the service's accounting period (ClickUp: a minute).
 *   reserve  requests of each window we never spend (other users of the
 *            token, clock skew, requests the server counted differently).
 *   opaque   ADO counts TSTUs, not requests: its Limit/Remaining then only
 *            say "stop until Reset" when Remaining is 0. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

/** Largest per-window limit accepted (from options or a header): a million a
 *  minute is 16,667 requests/s, far beyond any real plan. The simulator advertises
 *  it when run without a limit; a lower clamp (100,000 until 2026-11) paced the
 *  daemon to 1,667 requests/s there and was the ceiling of its throughput bench. */
#define ACS_GOVERNOR_MAX_LIMIT 1000000u
/** Longest wait a server may impose through Retry-After or Reset (1 h). */
#define ACS_GOVERNOR_MAX_WAIT_MS (3600u * 1000u)
/** Delay returned when only the concurrency cap blocks; ask again sooner,
 *  after any acs_governor_release(). */
#define ACS_GOVERNOR_CONCURRENCY_POLL_MS 1000u
/** How long a held-back interactive request keeps background work waiting
 *  after the moment it was told to ask again (covers callers that give up). */
#define ACS_GOVERNOR_INTERACTIVE_GRACE_MS 1000u

struct acs_governor;

/** Who is asking: background work only gets what interactive work leaves. */
enum acs_governor_class {
	ACS_GOVERNOR_INTERACTIVE = 0, /**< webhook-driven pushes, user actions */
	ACS_GOVERNOR_BACKGROUND = 1,  /**< sweeps, backfill, attachment scans */
};

/** What X-RateLimit-Limit / X-RateLimit-Remaining count. */
enum acs_governor_units {
	ACS_GOVERNOR_UNITS_REQUESTS = 0, /**< requests (ClickUp) */
	ACS_GOVERNOR_UNITS_OPAQUE = 1,	 /**< something else (ADO TSTUs) */
};

/** Presets for acs_governor_opts_init(). */
enum acs_governor_service {
	ACS_GOVERNOR_CLICKUP = 0, /**< 100/min per token until headers say more */
	ACS_GOVERNOR_ADO = 1,	  /**< no fixed limit, throttling signals only */
};

struct acs_governor_opts {
	const char *name; /**< "clickup", "ado": for logs; copied */
	/** Requests per window until X-RateLimit-Limit says otherwise (requests
	 *  units only); 0 = no pacing, only the server's signals. */
	uint32_t limit;
	uint64_t window_ms;		 /**< accounting window (0 = 60000) */
	enum acs_governor_units units;	 /**< meaning of Limit/Remaining headers */
	uint32_t reserve;		 /**< requests per window never spent (at most limit/10) */
	uint32_t burst;			 /**< token bucket capacity; 0 = limit/20 within [1, 10] */
	uint32_t max_concurrency;	 /**< requests in flight at once; 0 = no cap */
	uint32_t background_reserve_pct; /**< share of a window background never uses */
	uint64_t backoff_base_ms;	 /**< first 5xx backoff ceiling (0 = 500) */
	uint64_t backoff_max_ms;	 /**< largest 5xx backoff ceiling (0 = 60000) */
	/** Jitter RNG seed: pass a random value in production so that several
	 *  daemons do not retry in step; tests fix it. */
	uint64_t seed;
};

/** Values taken from one response's headers. Durations are relative to the
 *  moment the response arrived; -1 means the header was absent or malformed. */
struct acs_governor_headers {
	int64_t limit;		/**< X-RateLimit-Limit */
	int64_t remaining;	/**< X-RateLimit-Remaining */
	int64_t reset_ms;	/**< ms until X-RateLimit-Reset (0 when already past) */
	int64_t retry_after_ms; /**< ms until Retry-After (0 when already past) */
	int64_t delay_ms;	/**< X-RateLimit-Delay (the server held this request) */
};

/** Counters for metrics, since acs_governor_new. */
struct acs_governor_stats {
	uint64_t requests;	/**< acquires granted */
	uint64_t responses;	/**< releases with an HTTP status or transport failure */
	uint64_t throttled;	/**< 429 responses */
	uint64_t server_errors; /**< 5xx responses and transport failures */
	uint64_t denied;	/**< acquires answered with a delay */
	uint64_t held_ms;	/**< summed time from a refusal to the next grant */
	uint32_t in_flight;	/**< granted and not yet released */
	uint32_t max_in_flight; /**< the cap on in_flight (0: none) */
	uint32_t limit;		/**< current per-window request limit (0: none) */
	int64_t server_limit;	/**< the server's last X-RateLimit-Limit (ADO: TSTUs), -1 */
};

/** Lookup of one response header by name (case-insensitive), trimmed value
 *  or NULL when absent. The string only needs to live until it returns. */
typedef const char *(*acs_governor_header_get_cb)(const char *name, void *arg);

/** Fill o with the defaults for a service. ClickUp: 100 per 60 s window,
 *  reserve 2, requests units. ADO: no fixed limit, 5-minute window, opaque
 *  units, reserve 0. Both: 4 in flight, background_reserve_pct 20, backoff
 *  500 ms to 60 s, seed 0 (set your own), name "clickup" or "ado". */
void acs_governor_opts_init(struct acs_governor_opts *o, enum acs_governor_service svc);

/** New governor. Options are normalised rather than rejected (0 window or
 *  backoff take the defaults, limit clamped to ACS_GOVERNOR_MAX_LIMIT,
 *  backoff_max raised to backoff_base). Free with acs_governor_free. */
struct acs_governor *acs_governor_new(const struct acs_governor_opts *opts);
/** Free g. NULL is a no-op. */
void acs_governor_free(struct acs_governor *g);

/** Ask to start one request of class cls at now_ms. Returns 0 when it may
 *  start now: it is then counted and must be released exactly once.
 *  Otherwise returns the delay in ms (never 0) after which to ask again; the
 *  caller may also ask again after any release. now_ms must not go
 *  backwards (a smaller value is treated as the last one seen). */
uint64_t acs_governor_acquire(struct acs_governor *g, uint64_t now_ms, enum acs_governor_class cls);

/** Report the end of a granted request at now_ms. http_status is the final
 *  status; 0 means a transport failure (handled like a 5xx); a negative
 *  value means the request was canceled before any answer (only frees the
 *  slot). h holds the response's parsed headers, or NULL. Borrowed. */
void acs_governor_release(struct acs_governor *g, uint64_t now_ms, int http_status,
			  const struct acs_governor_headers *h);

/** Requests (or, for opaque units, whatever the server counts) left in the
 *  current window at now_ms: the server's Remaining less what we started
 *  since, while its Reset is ahead; else the limit less our starts in the
 *  last window. -1 when unknown (no limit and no server figure, or, for
 *  opaque units, a later answer came without one: the figure is stale). */
int64_t acs_governor_budget_left(const struct acs_governor *g, uint64_t now_ms);

/** Copy the counters into out. */
void acs_governor_stats(const struct acs_governor *g, struct acs_governor_stats *out);

/** Set every field of h to -1 (absent). */
void acs_governor_headers_init(struct acs_governor_headers *h);

/** Read X-RateLimit-Limit, -Remaining, -Reset, -Delay, Retry-After and Date
 *  through get(name, arg) into h (which starts all -1). wall_ms is the Unix
 *  time in ms when the response arrived; absolute times are measured against
 *  the server's Date header when present (so clock skew does not matter),
 *  else against wall_ms. X-RateLimit-Reset is read by magnitude: below 1e8
 *  it is seconds from now, below 1e11 Unix seconds (taken as the end of that
 *  second), else Unix milliseconds. Malformed values count as absent.
 *  Returns the number of fields set. */
int acs_governor_headers_parse(struct acs_governor_headers *h, acs_governor_header_get_cb get,
			       void *arg, uint64_t wall_ms);

/** Parse a Retry-After value: delta seconds (a decimal fraction is
 *  tolerated) or an HTTP-date (IMF-fixdate, RFC 850 or asctime). now_ms is
 *  the Unix time in ms; *until_ms receives the Unix time in ms to wait for
 *  (not before now_ms, at most now_ms + ACS_GOVERNOR_MAX_WAIT_MS).
 *  Returns 0, or ACS_EPARSE. */
int acs_governor_parse_retry_after(const char *value, uint64_t now_ms, uint64_t *until_ms);

/** Parse an HTTP-date into Unix ms. Returns 0, or ACS_EPARSE. */
int acs_governor_parse_http_date(const char *value, uint64_t *unix_ms);
