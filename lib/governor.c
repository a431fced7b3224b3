/* SPDX-License-Identifier: MIT */
/* Rate-limit governor: GCRA pacing plus a sliding log of starts, the
 * server's own budget figures, Retry-After, 5xx backoff with full jitter,
 * priority classes and a concurrency cap. Pure: time is passed in. */
#include "governor.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calendar.h"
#include "err.h"
#include "log.h"
#include "mem.h"

#define LOG_MOD "governor"

/* Two figures whose Reset moments differ by less than this come from the
 * same server window: Reset has one-second resolution, and so does Date. */
#define RESET_SLACK_MS 1000u
/* A Remaining figure whose Reset is already past still holds for this
 * long, so that "0 left" never turns into an immediate retry. */
#define STALE_RESET_MS 1000u
/* ADO's X-RateLimit-Delay spacing halves on each undelayed answer and is
 * dropped below this. */
#define THROTTLE_FLOOR_MS 10u
/* How often a background caller re-asks while interactive work is due. */
#define BACKGROUND_POLL_MS 50u
/* The log of starts is exact up to this many per window (a ClickUp Enterprise
 * token has 10,000 a minute). Above it the oldest entries drop out and the window
 * is kept by the pacing (at most eff + burst starts in any window) and the
 * server's Remaining; the log would otherwise take 8 bytes per request a window
 * allows (8 MB for a limit of a million). */
#define LOG_MAX 16384u

struct acs_governor {
	char name[24];
	enum acs_governor_units units;
	uint64_t window_ms;
	uint32_t reserve_cfg;
	uint32_t burst_cfg;
	uint32_t bg_pct;
	uint32_t max_conc;
	uint64_t backoff_base_ms;
	uint64_t backoff_max_ms;
	uint64_t rng; /**< splitmix64 state */

	/* Derived from the current limit by set_limit(). */
	uint32_t limit;	      /**< requests per window, 0 = no pacing */
	uint32_t reserve;     /**< effective reserve (at most limit / 10) */
	uint32_t eff;	      /**< limit - reserve: what one window may carry */
	uint32_t bg_reserve;  /**< the part of a window background never uses */
	uint64_t interval_us; /**< GCRA emission interval, 0 = no pacing */
	uint64_t tau_us;      /**< GCRA burst tolerance: (burst - 1) intervals */
	uint64_t tat_us;      /**< GCRA theoretical arrival time */

	/* Start times of the last min(eff, LOG_MAX) granted requests, oldest at head. */
	uint64_t *starts;
	uint32_t cap;
	uint32_t head;
	uint32_t count;

	/* The server's view: Remaining less our requests it has not counted. */
	bool server_known;
	/* The last figure left nothing to spend (or we got a 429): when it goes
	 * stale, one request probes the server before the others follow, since
	 * on a rolling window or a shared token the budget returns bit by bit. */
	bool server_exhausted;
	int64_t server_left;
	int64_t server_limit; /**< last X-RateLimit-Limit as sent, -1 */
	/* Opaque units: an answer came back without a figure after the last one.
	 * ADO sends its figures only near or over its limit, so that one no longer
	 * says how much is left (reported as unknown; pacing still honours it). */
	bool server_stale;
	uint64_t server_reset_at;

	uint64_t blocked_until; /**< Retry-After, 429 */
	uint64_t backoff_until; /**< 5xx backoff */
	uint32_t fail_streak;	/**< consecutive 5xx/429/transport failures */
	uint64_t throttle_ms;	/**< spacing asked by X-RateLimit-Delay */
	bool have_last_start;
	uint64_t last_start;
	uint64_t last_now;

	bool interactive_waiting;
	uint64_t interactive_wait_until;

	bool holding;
	uint64_t holding_since;
	struct acs_governor_stats stats;
};

/* ---- helpers ------------------------------------------------------------ */

static uint64_t clamp_wait(int64_t ms)
{
	if (ms < 1)
		return 1;
	if ((uint64_t)ms > ACS_GOVERNOR_MAX_WAIT_MS)
		return ACS_GOVERNOR_MAX_WAIT_MS;
	return (uint64_t)ms;
}

static void ring_resize(struct acs_governor *g, uint32_t cap)
{
	uint64_t *n = cap ? acs_xcalloc(cap, sizeof(*n)) : NULL;
	uint32_t keep = ACS_MIN(g->count, cap);

	/* Keep the newest entries: they are the ones still in the window. */
	for (uint32_t i = 0; i < keep; i++)
		n[i] = g->starts[(g->head + g->count - keep + i) % g->cap];
	free(g->starts);
	g->starts = n;
	g->cap = cap;
	g->head = 0;
	g->count = keep;
}

static uint64_t ring_at(const struct acs_governor *g, uint32_t i)
{
	return g->starts[(g->head + i) % g->cap];
}

/* A start at t counts against every window containing t; one extra ms of
 * margin covers servers that count the boundary either way. */
static bool expired(const struct acs_governor *g, uint64_t t, uint64_t now)
{
	return t + g->window_ms < now;
}

static void ring_expire(struct acs_governor *g, uint64_t now)
{
	while (g->count > 0 && expired(g, g->starts[g->head], now)) {
		g->head = (g->head + 1) % g->cap;
		g->count--;
	}
}

static uint32_t ring_used(const struct acs_governor *g, uint64_t now)
{
	uint32_t i = 0;

	while (i < g->count && expired(g, ring_at(g, i), now))
		i++;
	return g->count - i;
}

static void ring_push(struct acs_governor *g, uint64_t now)
{
	if (g->cap == 0)
		return;
	if (g->count == g->cap) {
		g->head = (g->head + 1) % g->cap;
		g->count--;
	}
	g->starts[(g->head + g->count) % g->cap] = now;
	g->count++;
}

static void set_limit(struct acs_governor *g, uint32_t limit, uint64_t now)
{
	limit = ACS_MIN(limit, ACS_GOVERNOR_MAX_LIMIT);
	g->limit = limit;
	if (limit == 0) {
		g->reserve = g->eff = g->bg_reserve = 0;
		g->interval_us = g->tau_us = 0;
		ring_resize(g, 0);
		return;
	}
	/* A reserve of 2 fits 100/min; for a tiny limit it would eat the budget. */
	g->reserve = ACS_MIN(g->reserve_cfg, limit / 10);
	g->eff = limit - g->reserve;
	uint32_t burst = g->burst_cfg ? g->burst_cfg : ACS_MAX(1u, ACS_MIN(10u, g->eff / 20));
	burst = ACS_MIN(burst, g->eff);
	/* Round the interval up: a rate a hair below the budget never exceeds it. */
	g->interval_us = (g->window_ms * 1000 + g->eff - 1) / g->eff;
	g->tau_us = (uint64_t)(burst - 1) * g->interval_us;
	g->bg_reserve = (uint32_t)(((uint64_t)limit * g->bg_pct + 99) / 100);
	/* Debt run up at a slower rate must not stall a faster one. */
	g->tat_us = ACS_MIN(g->tat_us, now * 1000 + g->interval_us);
	ring_resize(g, ACS_MIN(g->eff, LOG_MAX));
}

static bool server_fresh(const struct acs_governor *g, uint64_t now)
{
	return g->server_known && now < g->server_reset_at;
}

/* ---- lifecycle ---------------------------------------------------------- */

void acs_governor_opts_init(struct acs_governor_opts *o, enum acs_governor_service svc)
{
	memset(o, 0, sizeof(*o));
	o->window_ms = 60000;
	o->max_concurrency = 4;
	o->background_reserve_pct = 20;
	o->backoff_base_ms = 500;
	o->backoff_max_ms = 60000;
	if (svc == ACS_GOVERNOR_ADO) {
		/* ADO's budget is 200 TSTUs per sliding 5 minutes, and a request's
		 * cost in TSTUs is unknown: only its throttling signals count. */
		o->name = "ado";
		o->limit = 0;
		o->window_ms = 300000;
		o->units = ACS_GOVERNOR_UNITS_OPAQUE;
	} else {
		o->name = "clickup";
		o->limit = 100;
		o->reserve = 2;
		o->units = ACS_GOVERNOR_UNITS_REQUESTS;
	}
}

struct acs_governor *acs_governor_new(const struct acs_governor_opts *opts)
{
	struct acs_governor *g = acs_xcalloc(1, sizeof(*g));

	snprintf(g->name, sizeof(g->name), "%s", opts->name ? opts->name : "service");
	g->units = opts->units;
	g->window_ms = opts->window_ms ? opts->window_ms : 60000;
	g->reserve_cfg = opts->reserve;
	g->burst_cfg = opts->burst;
	g->bg_pct = ACS_MIN(opts->background_reserve_pct, 100u);
	g->max_conc = opts->max_concurrency;
	g->backoff_base_ms = opts->backoff_base_ms ? opts->backoff_base_ms : 500;
	g->backoff_base_ms = ACS_MIN(g->backoff_base_ms, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
	g->backoff_max_ms =
		ACS_MAX(opts->backoff_max_ms ? opts->backoff_max_ms : 60000, g->backoff_base_ms);
	g->backoff_max_ms = ACS_MIN(g->backoff_max_ms, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
	g->rng = opts->seed;
	g->server_limit = -1;
	set_limit(g, opts->limit, 0);
	return g;
}

void acs_governor_free(struct acs_governor *g)
{
	if (!g)
		return;
	free(g->starts);
	free(g);
}

/* ---- acquire ------------------------------------------------------------ */

/* Delay until the window (ours and the server's) has room for need more
 * requests; 0 when it has. */
static uint64_t budget_delay(const struct acs_governor *g, uint64_t now, bool bg)
{
	uint32_t need = bg ? 1 + g->bg_reserve : 1;
	uint64_t d = 0;

	if (g->limit && g->count > 0 && g->count + need > g->eff) {
		/* The (count + need - eff)-th oldest start must leave the window; a
		 * background reserve covering the whole window means "all of them". */
		uint32_t k = ACS_MIN(g->count + need - g->eff, g->count);
		uint64_t t = ring_at(g, k - 1) + g->window_ms + 1;
		d = ACS_MAX(d, t - now);
	}
	if (server_fresh(g, now)) {
		int64_t left = g->server_left;
		int64_t want = need;

		if (g->units == ACS_GOVERNOR_UNITS_REQUESTS) {
			left -= g->reserve;
		} else {
			/* Opaque units: Remaining 0 is the only hard stop; background
			 * also leaves the last share of the server's own limit. */
			want = 1;
			if (bg && g->server_limit > 0)
				want += g->server_limit * g->bg_pct / 100;
		}
		if (left < want)
			d = ACS_MAX(d, g->server_reset_at - now);
	}
	return d;
}

static uint64_t pacing_delay(const struct acs_governor *g, uint64_t now, bool bg)
{
	uint64_t now_us = now * 1000, tau = g->tau_us;

	/* Background leaves one token in the bucket (when it holds more than
	 * one), so interactive work arriving meanwhile starts at once. */
	if (bg && tau >= g->interval_us)
		tau -= g->interval_us;
	if (!g->interval_us || g->tat_us <= now_us + tau)
		return 0;
	return (g->tat_us - tau - now_us + 999) / 1000;
}

uint64_t acs_governor_acquire(struct acs_governor *g, uint64_t now_ms, enum acs_governor_class cls)
{
	uint64_t now = ACS_MAX(now_ms, g->last_now);
	uint64_t d = 0;
	bool bg = cls == ACS_GOVERNOR_BACKGROUND;

	g->last_now = now;
	ring_expire(g, now);

	if (g->blocked_until > now)
		d = ACS_MAX(d, g->blocked_until - now);
	if (g->backoff_until > now)
		d = ACS_MAX(d, g->backoff_until - now);
	if (bg && g->interactive_waiting) {
		uint64_t expiry = g->interactive_wait_until + ACS_GOVERNOR_INTERACTIVE_GRACE_MS;

		if (now >= expiry)
			g->interactive_waiting = false; /* its caller gave up */
		else if (g->interactive_wait_until > now)
			d = ACS_MAX(d, g->interactive_wait_until - now);
		else
			d = ACS_MAX(d, ACS_MIN((uint64_t)BACKGROUND_POLL_MS, expiry - now));
	}
	if (g->throttle_ms && g->have_last_start && now < g->last_start + g->throttle_ms)
		d = ACS_MAX(d, g->last_start + g->throttle_ms - now);
	d = ACS_MAX(d, budget_delay(g, now, bg));
	d = ACS_MAX(d, pacing_delay(g, now, bg));
	if (d == 0 && g->max_conc && g->stats.in_flight >= g->max_conc)
		d = ACS_GOVERNOR_CONCURRENCY_POLL_MS;
	if (d == 0 && g->server_exhausted && !server_fresh(g, now) && g->stats.in_flight > 0)
		d = ACS_GOVERNOR_CONCURRENCY_POLL_MS; /* the probe is out */

	if (d > 0) {
		g->stats.denied++;
		if (!g->holding) {
			g->holding = true;
			g->holding_since = now;
		}
		if (!bg) {
			g->interactive_waiting = true;
			g->interactive_wait_until = now + d;
		}
		return d;
	}

	if (g->holding) {
		g->stats.held_ms += now - g->holding_since;
		g->holding = false;
	}
	if (!bg)
		g->interactive_waiting = false;
	if (g->interval_us)
		g->tat_us = ACS_MAX(g->tat_us, now * 1000) + g->interval_us;
	ring_push(g, now);
	if (server_fresh(g, now) && g->units == ACS_GOVERNOR_UNITS_REQUESTS)
		g->server_left--;
	g->have_last_start = true;
	g->last_start = now;
	g->stats.requests++;
	g->stats.in_flight++;
	return 0;
}

/* ---- release ------------------------------------------------------------ */

static uint64_t backoff_draw(struct acs_governor *g)
{
	uint64_t ceiling = g->backoff_base_ms;

	for (uint32_t i = 1; i < g->fail_streak && ceiling < g->backoff_max_ms; i++)
		ceiling *= 2;
	ceiling = ACS_MIN(ceiling, g->backoff_max_ms);
	/* Full jitter (uniform in [1, ceiling]) spreads clients that failed
	 * together; never 0, so a failure always costs a wait. */
	return 1 + acs_splitmix64(&g->rng) % ceiling;
}

static void update_server(struct acs_governor *g, uint64_t now,
			  const struct acs_governor_headers *h)
{
	int64_t left = h->remaining;
	uint64_t reset_at;

	/* Without a usable Reset, assume the figure holds for a window (the
	 * longest a rolling window can take to give the budget back). */
	if (h->reset_ms < 0)
		reset_at = now + g->window_ms;
	else
		reset_at = now + ACS_MIN((uint64_t)(h->reset_ms > 0 ? h->reset_ms : STALE_RESET_MS),
					 (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
	/* Requests still in flight may not be counted in this figure yet. */
	if (g->units == ACS_GOVERNOR_UNITS_REQUESTS)
		left -= g->stats.in_flight;

	if (!server_fresh(g, now) || reset_at > g->server_reset_at + RESET_SLACK_MS) {
		/* First figure, or a new server window: take it as it is. */
		g->server_left = left;
		g->server_reset_at = reset_at;
	} else if (left <= g->server_left) {
		/* Same window: only a lower figure is news (a higher one is an older
		 * answer overtaken by a newer one), and its Reset is the latest word. */
		g->server_left = left;
		g->server_reset_at = reset_at;
	}
	g->server_known = true;
	g->server_stale = false;
	g->server_exhausted = g->server_left - (int64_t)g->reserve <= 0;
}

void acs_governor_release(struct acs_governor *g, uint64_t now_ms, int http_status,
			  const struct acs_governor_headers *h)
{
	uint64_t now = ACS_MAX(now_ms, g->last_now);
	struct acs_governor_headers none;

	g->last_now = now;
	if (!acs_fails_assert(g->stats.in_flight > 0))
		g->stats.in_flight--;
	if (http_status < 0)
		return; /* canceled before any answer: nothing learned */
	if (!h) {
		acs_governor_headers_init(&none);
		h = &none;
	}
	g->stats.responses++;

	if (h->limit > 0 && g->units == ACS_GOVERNOR_UNITS_REQUESTS) {
		uint32_t l = (uint32_t)ACS_MIN(h->limit, (int64_t)ACS_GOVERNOR_MAX_LIMIT);

		if (l != g->limit) {
			acs_log(ACS_LOG_INFO, LOG_MOD, "%s: limit %u -> %u per %llu ms", g->name,
				g->limit, l, (unsigned long long)g->window_ms);
			set_limit(g, l, now);
		}
	}
	if (h->limit > 0)
		g->server_limit = h->limit;
	if (h->remaining >= 0)
		update_server(g, now, h);

	if (h->retry_after_ms > 0)
		g->blocked_until = ACS_MAX(g->blocked_until, now + clamp_wait(h->retry_after_ms));

	if (http_status == 429) {
		uint64_t wait;

		g->stats.throttled++;
		g->fail_streak++;
		if (h->retry_after_ms > 0)
			wait = clamp_wait(h->retry_after_ms);
		else if (h->reset_ms > 0)
			wait = clamp_wait(h->reset_ms);
		else
			wait = backoff_draw(g);
		g->blocked_until = ACS_MAX(g->blocked_until, now + wait);
		/* Whatever Remaining said, the server just refused us. */
		g->server_known = true;
		g->server_stale = false;
		g->server_exhausted = true;
		g->server_left = 0;
		/* A Retry-After without a Reset is the server's own word on when to
		 * come back: it overrides the window-long guess update_server made
		 * from a Remaining of 0. */
		if (h->retry_after_ms > 0 && h->reset_ms < 0)
			g->server_reset_at = now + wait;
		else
			g->server_reset_at = ACS_MAX(g->server_reset_at, now + wait);
		acs_log(ACS_LOG_WARN, LOG_MOD, "%s: 429 rate limited; pausing %" PRIu64 " ms",
			g->name, wait);
	} else if (http_status == 0 || http_status >= 500) {
		g->stats.server_errors++;
		g->fail_streak++;
		g->backoff_until = ACS_MAX(g->backoff_until, now + backoff_draw(g));
	} else {
		g->fail_streak = 0;
		g->backoff_until = 0;
		/* Accepted without a figure: there was budget after all. */
		if (h->remaining < 0) {
			g->server_exhausted = false;
			if (g->units == ACS_GOVERNOR_UNITS_OPAQUE)
				g->server_stale = true;
		}
	}

	if (h->delay_ms > 0) {
		/* ADO held this request: space the next ones at least as far. */
		g->throttle_ms = ACS_MAX(g->throttle_ms, clamp_wait(h->delay_ms));
	} else if (g->throttle_ms && http_status > 0 && http_status < 400) {
		g->throttle_ms /= 2;
		if (g->throttle_ms < THROTTLE_FLOOR_MS)
			g->throttle_ms = 0;
	}
}

/* ---- queries ------------------------------------------------------------ */

int64_t acs_governor_budget_left(const struct acs_governor *g, uint64_t now_ms)
{
	uint64_t now = ACS_MAX(now_ms, g->last_now);

	if (server_fresh(g, now) && !g->server_stale)
		return ACS_MAX(g->server_left, (int64_t)0);
	if (g->limit == 0)
		return -1;
	return (int64_t)g->limit - ring_used(g, now);
}

void acs_governor_stats(const struct acs_governor *g, struct acs_governor_stats *out)
{
	*out = g->stats;
	out->max_in_flight = g->max_conc;
	out->limit = g->limit;
	out->server_limit = g->server_limit;
}

/* ---- header parsing ----------------------------------------------------- */

void acs_governor_headers_init(struct acs_governor_headers *h)
{
	h->limit = h->remaining = h->reset_ms = h->retry_after_ms = h->delay_ms = -1;
}

/* Non-negative decimal "123" or "1.25" with optional surrounding blanks.
 * *ip gets the integer part, *milli the value in thousandths rounded up,
 * *frac whether a fraction was given. Returns 0 or ACS_EPARSE. */
static int parse_decimal(const char *s, uint64_t *ip, uint64_t *milli, bool *frac)
{
	uint64_t i = 0, f = 0, fdiv = 1;
	int digits = 0;
	bool up = false;

	while (*s == ' ' || *s == '\t')
		s++;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (++digits > 15)
			return ACS_EPARSE; /* keeps i * 1000 far from overflow */
		i = i * 10 + (uint64_t)(*s - '0');
	}
	if (digits == 0)
		return ACS_EPARSE;
	*frac = false;
	if (*s == '.') {
		s++;
		*frac = true;
		for (; *s >= '0' && *s <= '9'; s++) {
			if (fdiv < 1000) {
				f = f * 10 + (uint64_t)(*s - '0');
				fdiv *= 10;
			} else if (*s != '0') {
				up = true; /* digits past the ms: round up */
			}
		}
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s)
		return ACS_EPARSE;
	*ip = i;
	*milli = i * 1000 + f * (1000 / fdiv) + (up ? 1 : 0);
	return 0;
}

static int parse_count(const char *s, int64_t *out)
{
	uint64_t ip, milli;
	bool frac;

	if (parse_decimal(s, &ip, &milli, &frac) || frac)
		return ACS_EPARSE;
	*out = (int64_t)ip;
	return 0;
}

static int parse_reset(const char *s, uint64_t ref_ms, int64_t *out)
{
	uint64_t ip, milli, target;
	bool frac;

	if (parse_decimal(s, &ip, &milli, &frac))
		return ACS_EPARSE;
	if (ip < UINT64_C(100000000)) {
		/* Seconds from now: no epoch is this small. */
		*out = (int64_t)ACS_MIN(milli, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
		return 0;
	}
	if (ip < UINT64_C(100000000000)) {
		/* Unix seconds; a whole second may mean any moment inside it. */
		target = frac ? milli : milli + 999;
	} else {
		target = ip; /* Unix milliseconds */
	}
	*out = target > ref_ms
		       ? (int64_t)ACS_MIN(target - ref_ms, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS)
		       : 0;
	return 0;
}

int acs_governor_headers_parse(struct acs_governor_headers *h, acs_governor_header_get_cb get,
			       void *arg, uint64_t wall_ms)
{
	const char *v;
	uint64_t ref = wall_ms, ms, ip, until;
	bool frac;
	int n = 0;

	acs_governor_headers_init(h);
	/* Measure the server's absolute times against its own clock. */
	v = get("Date", arg);
	if (v && acs_governor_parse_http_date(v, &ms) == 0)
		ref = ms;

	v = get("X-RateLimit-Limit", arg);
	if (v && parse_count(v, &h->limit) == 0)
		n++;
	v = get("X-RateLimit-Remaining", arg);
	if (v && parse_count(v, &h->remaining) == 0)
		n++;
	v = get("X-RateLimit-Reset", arg);
	if (v && parse_reset(v, ref, &h->reset_ms) == 0)
		n++;
	v = get("Retry-After", arg);
	if (v && acs_governor_parse_retry_after(v, ref, &until) == 0) {
		h->retry_after_ms = (int64_t)(until - ref);
		n++;
	}
	v = get("X-RateLimit-Delay", arg);
	if (v && parse_decimal(v, &ip, &ms, &frac) == 0) {
		h->delay_ms = (int64_t)ACS_MIN(ms, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
		n++;
	}
	return n;
}

int acs_governor_parse_retry_after(const char *value, uint64_t now_ms, uint64_t *until_ms)
{
	uint64_t ip, ms;
	bool frac;

	if (parse_decimal(value, &ip, &ms, &frac) == 0) {
		*until_ms = now_ms + ACS_MIN(ms, (uint64_t)ACS_GOVERNOR_MAX_WAIT_MS);
		return 0;
	}
	if (acs_governor_parse_http_date(value, &ms))
		return ACS_EPARSE;
	if (ms < now_ms)
		ms = now_ms;
	*until_ms = ACS_MIN(ms, now_ms + ACS_GOVERNOR_MAX_WAIT_MS);
	return 0;
}

/* ---- HTTP-date (RFC 9110 section 5.6.7) ---------------------------------- */

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

static const char *parse_uint_n(const char *s, int min, int max, int *out)
{
	int v = 0, n = 0;

	while (n < max && *s >= '0' && *s <= '9') {
		v = v * 10 + (*s++ - '0');
		n++;
	}
	if (n < min)
		return NULL;
	*out = v;
	return s;
}

static const char *parse_month(const char *s, int *out)
{
	static const char names[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++) {
		const char *m = names + 3 * i;

		if ((s[0] | 0x20) == (m[0] | 0x20) && (s[1] | 0x20) == m[1] &&
		    (s[2] | 0x20) == m[2]) {
			*out = i + 1;
			return s + 3;
		}
	}
	return NULL;
}

static const char *parse_clock(const char *s, int *hh, int *mm, int *ss)
{
	if (!(s = parse_uint_n(s, 2, 2, hh)) || *s++ != ':')
		return NULL;
	if (!(s = parse_uint_n(s, 2, 2, mm)) || *s++ != ':')
		return NULL;
	return parse_uint_n(s, 2, 2, ss);
}

int acs_governor_parse_http_date(const char *value, uint64_t *unix_ms)
{
	const char *s = skip_blanks(value);
	int year, mon, day, hh, mm, ss;
	bool gmt = true;

	/* The weekday is not checked: the date alone says when. */
	while ((*s | 0x20) >= 'a' && (*s | 0x20) <= 'z')
		s++;
	if (*s == ',') {
		s = skip_blanks(s + 1);
		if (!(s = parse_uint_n(s, 1, 2, &day)))
			return ACS_EPARSE;
		if (*s == '-') {
			/* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT". */
			if (!(s = parse_month(s + 1, &mon)) || *s++ != '-' ||
			    !(s = parse_uint_n(s, 2, 2, &year)))
				return ACS_EPARSE;
			year += year < 70 ? 2000 : 1900;
		} else {
			/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT". */
			s = skip_blanks(s);
			if (!(s = parse_month(s, &mon)))
				return ACS_EPARSE;
			s = skip_blanks(s);
			if (!(s = parse_uint_n(s, 4, 4, &year)))
				return ACS_EPARSE;
		}
		s = skip_blanks(s);
		if (!(s = parse_clock(s, &hh, &mm, &ss)))
			return ACS_EPARSE;
		s = skip_blanks(s);
		gmt = strncmp(s, "GMT", 3) == 0 || strncmp(s, "UTC", 3) == 0;
		s += gmt ? 3 : 0;
	} else {
		/* asctime: "Sun Nov  6 08:49:37 1994". */
		s = skip_blanks(s);
		if (!(s = parse_month(s, &mon)))
			return ACS_EPARSE;
		s = skip_blanks(s);
		if (!(s = parse_uint_n(s, 1, 2, &day)))
			return ACS_EPARSE;
		s = skip_blanks(s);
		if (!(s = parse_clock(s, &hh, &mm, &ss)))
			return ACS_EPARSE;
		s = skip_blanks(s);
		if (!(s = parse_uint_n(s, 4, 4, &year)))
			return ACS_EPARSE;
	}
	s = skip_blanks(s);
	if (!gmt || *s || year < 1970 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
		return ACS_EPARSE;
	int64_t t = acs_days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + hh * 3600 +
		    mm * 60 + ss;
	*unix_ms = (uint64_t)t * 1000;
	return 0;
}
