/* SPDX-License-Identifier: MIT */
/* Unit tests for governor.c on a simulated clock: a model of ClickUp's
 * per-token limit (fixed or rolling minute) answering 429 with the headers,
 * bursts of calls that must never hit it, header parsing, Retry-After, 5xx
 * backoff, priority classes, concurrency and ADO-style throttling. */
#include "test_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common.h"
#include "err.h"
#include "governor.h"

/* Sim time 0 is this on the server's wall clock (not minute-aligned, so
 * server windows straddle our minutes) and this on the governor's
 * monotonic clock (unrelated to the wall clock, as uv_now is). */
#define WALL_BASE UINT64_C(1700000012345)
#define MONO_BASE UINT64_C(5000000)
#define MINUTE UINT64_C(60000)

/* ---- response headers ---------------------------------------------------- */

struct hdrs {
	size_t n;
	struct {
		const char *name;
		char value[64];
	} kv[10];
};

static void hdrs_add(struct hdrs *h, const char *name, const char *fmt, ...) ACS_PRINTF(3, 4);
static void hdrs_add(struct hdrs *h, const char *name, const char *fmt, ...)
{
	va_list ap;

	assert_true(h->n < ACS_ARRAY_SIZE(h->kv));
	h->kv[h->n].name = name;
	va_start(ap, fmt);
	vsnprintf(h->kv[h->n].value, sizeof(h->kv[h->n].value), fmt, ap);
	va_end(ap);
	h->n++;
}

static const char *hdrs_get(const char *name, void *arg)
{
	const struct hdrs *h = arg;

	for (size_t i = 0; i < h->n; i++)
		if (strcasecmp(h->kv[i].name, name) == 0)
			return h->kv[i].value;
	return NULL;
}

/* IMF-fixdate through libc, to check our parser against timegm/gmtime. */
static void http_date(uint64_t unix_s, char *out, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void parse(struct acs_governor_headers *out, struct hdrs *h, uint64_t wall_ms)
{
	acs_governor_headers_parse(out, hdrs_get, h, wall_ms);
}

/* ---- a model of ClickUp's limiter ----------------------------------------- */

enum reset_fmt {
	RESET_EPOCH_S,
	RESET_EPOCH_MS,
	RESET_DELTA_S,
};

struct server {
	uint32_t limit;
	uint64_t window_ms;
	bool rolling; /**< any 60 s span, else fixed wall-clock minutes */
	enum reset_fmt fmt;
	bool date;		/**< send a Date header */
	bool always_headers;	/**< X-RateLimit-* on successes too, not only on 429 */
	uint64_t foreign_every; /**< another client of the same token sends this often */
	uint64_t next_foreign;
	size_t nforeign; /**< its accepted requests */
	uint64_t *times; /**< accepted requests, sim ms, ascending */
	size_t n, cap;
	uint32_t n429; /**< 429s sent to us */
};

/* Requests the server counts against the window at sim time t, and the
 * wall-clock moment it would report as the reset. */
static uint32_t server_count(const struct server *s, uint64_t t, uint64_t *reset_wall)
{
	uint64_t wall = WALL_BASE + t;
	uint32_t c = 0;

	if (!s->rolling) {
		uint64_t start = wall / s->window_ms * s->window_ms;

		for (size_t i = s->n; i > 0 && WALL_BASE + s->times[i - 1] >= start; i--)
			c++;
		*reset_wall = start + s->window_ms;
		return c;
	}
	size_t i = s->n;
	while (i > 0 && s->times[i - 1] + s->window_ms > t)
		i--;
	c = (uint32_t)(s->n - i);
	*reset_wall = c ? WALL_BASE + s->times[i] + s->window_ms : wall;
	return c;
}

static void server_accept(struct server *s, uint64_t t)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->times = realloc(s->times, s->cap * sizeof(*s->times));
		assert_non_null(s->times);
	}
	s->times[s->n++] = t;
}

static int server_serve(struct server *s, uint64_t t, struct hdrs *h)
{
	uint64_t reset, wall = WALL_BASE + t;
	char date[64];

	/* The other client's requests up to now, in time order. */
	while (s->foreign_every && s->next_foreign <= t) {
		if (server_count(s, s->next_foreign, &reset) < s->limit) {
			server_accept(s, s->next_foreign);
			s->nforeign++;
		}
		s->next_foreign += s->foreign_every;
	}
	uint32_t used = server_count(s, t, &reset);
	int status = used >= s->limit ? 429 : 200;

	memset(h, 0, sizeof(*h));
	if (status == 200) {
		server_accept(s, t);
		used++;
	} else {
		s->n429++;
	}
	if (status == 429 || s->always_headers) {
		hdrs_add(h, "X-RateLimit-Limit", "%u", s->limit);
		hdrs_add(h, "X-RateLimit-Remaining", "%u", s->limit - ACS_MIN(used, s->limit));
		if (s->fmt == RESET_EPOCH_S)
			hdrs_add(h, "X-RateLimit-Reset", "%llu",
				 (unsigned long long)((reset + 999) / 1000));
		else if (s->fmt == RESET_EPOCH_MS)
			hdrs_add(h, "X-RateLimit-Reset", "%llu", (unsigned long long)reset);
		else
			hdrs_add(h, "x-ratelimit-reset", "%llu",
				 (unsigned long long)((reset - wall + 999) / 1000));
	}
	if (s->date) {
		http_date(wall / 1000, date, sizeof(date));
		hdrs_add(h, "Date", "%s", date);
	}
	return status;
}

/* ---- the client side: a queue of calls driven by the governor ------------- */

struct resp {
	uint64_t at;
	int status;
	struct hdrs h;
};

struct run {
	struct acs_governor *g;
	struct server *srv;
	uint64_t latency;      /**< ms from send to response */
	size_t total;	       /**< calls to make */
	uint64_t arrival_step; /**< call i becomes due at i * arrival_step */
	uint64_t *sent_at;     /**< sim time of each send */
	size_t nsent;
	uint64_t end; /**< sim time of the last response */
	size_t asks;
};

static void run_sim(struct run *r)
{
	struct resp *inf = calloc(r->total, sizeof(*inf));
	size_t ninf = 0, arrived = 0, done = 0;
	uint64_t t = 0, next_ask = 0;

	assert_non_null(inf);
	r->sent_at = calloc(r->total, sizeof(*r->sent_at));
	assert_non_null(r->sent_at);
	while (done < r->total) {
		bool ask = t >= next_ask;

		for (size_t i = 0; i < ninf;) {
			if (inf[i].at > t) {
				i++;
				continue;
			}
			struct acs_governor_headers gh;
			parse(&gh, &inf[i].h, WALL_BASE + t);
			acs_governor_release(r->g, MONO_BASE + t, inf[i].status, &gh);
			inf[i] = inf[--ninf];
			done++;
			ask = true;
		}
		while (arrived < r->total && arrived * r->arrival_step <= t) {
			arrived++;
			ask = true;
		}
		while (ask && r->nsent < arrived) {
			uint64_t d =
				acs_governor_acquire(r->g, MONO_BASE + t, ACS_GOVERNOR_INTERACTIVE);

			r->asks++;
			if (d) {
				next_ask = t + d;
				break;
			}
			r->sent_at[r->nsent++] = t;
			inf[ninf].at = t + r->latency;
			inf[ninf].status = server_serve(r->srv, t, &inf[ninf].h);
			ninf++;
		}
		uint64_t nt = UINT64_MAX;
		for (size_t i = 0; i < ninf; i++)
			nt = ACS_MIN(nt, inf[i].at);
		if (arrived < r->total)
			nt = ACS_MIN(nt, arrived * r->arrival_step);
		if (r->nsent < arrived)
			nt = ACS_MIN(nt, next_ask);
		if (done == r->total)
			break;
		assert_true(nt > t && nt != UINT64_MAX);
		t = nt;
		assert_true(r->asks < 200000); /* no busy polling */
	}
	r->end = t;
	free(inf);
}

static size_t sent_between(const struct run *r, uint64_t from, uint64_t to)
{
	size_t c = 0;

	for (size_t i = 0; i < r->nsent; i++)
		c += r->sent_at[i] >= from && r->sent_at[i] < to;
	return c;
}

/* Largest number of sends in any span of window_ms (rolling). */
static size_t max_rolling(const struct run *r, uint64_t window_ms)
{
	size_t best = 0, lo = 0;

	for (size_t hi = 0; hi < r->nsent; hi++) {
		while (r->sent_at[lo] + window_ms <= r->sent_at[hi])
			lo++;
		best = ACS_MAX(best, hi - lo + 1);
	}
	return best;
}

static struct acs_governor *clickup_governor(uint64_t seed)
{
	struct acs_governor_opts o;

	acs_governor_opts_init(&o, ACS_GOVERNOR_CLICKUP);
	o.seed = seed;
	return acs_governor_new(&o);
}

/* 500 calls due within 2 minutes against 100/min: never a 429, and every
 * full minute carries at least 90 of them. */
static void burst_500(struct server *srv, size_t *max_window)
{
	struct run r = { .srv = srv, .latency = 150, .total = 500, .arrival_step = 240 };

	r.g = clickup_governor(1);
	run_sim(&r);
	assert_int_equal(srv->n429, 0);
	assert_int_equal(r.nsent, 500);
	assert_int_equal(srv->n, 500 + srv->nforeign);
	/* Calls stop being due at 120 s; the backlog lasts until the end. */
	size_t full = 0;
	for (uint64_t m = 0; (m + 1) * MINUTE <= r.sent_at[r.nsent - 1]; m++) {
		size_t c = sent_between(&r, m * MINUTE, (m + 1) * MINUTE);
		assert_in_range(c, 90, 100);
		full++;
	}
	assert_true(full >= 4);
	/* 500 calls at ~98/min: a bit over 5 simulated minutes, not more. */
	assert_in_range(r.end, 5 * MINUTE, 5 * MINUTE + 30000);
	*max_window = max_rolling(&r, MINUTE);
	assert_true(*max_window <= 100);

	struct acs_governor_stats st;
	acs_governor_stats(r.g, &st);
	assert_int_equal(st.requests, 500);
	assert_int_equal(st.responses, 500);
	assert_int_equal(st.throttled, 0);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.limit, 100);
	assert_true(st.denied > 0);
	assert_true(st.held_ms > 3 * MINUTE);
	acs_governor_free(r.g);
	free(r.sent_at);
}

static void test_burst_fixed_window(void **state)
{
	(void)state;
	struct server srv = { .limit = 100,
			      .window_ms = MINUTE,
			      .fmt = RESET_EPOCH_S,
			      .date = true,
			      .always_headers = true };
	size_t maxw;

	burst_500(&srv, &maxw);
	/* The server's own fixed minutes, which straddle ours. */
	for (uint64_t w = (WALL_BASE / MINUTE + 1) * MINUTE;
	     w + MINUTE <= WALL_BASE + srv.times[srv.n - 1]; w += MINUTE) {
		size_t c = 0;
		for (size_t i = 0; i < srv.n; i++)
			c += WALL_BASE + srv.times[i] >= w && WALL_BASE + srv.times[i] < w + MINUTE;
		assert_in_range(c, 90, 100);
	}
	free(srv.times);
}

static void test_burst_rolling_window(void **state)
{
	(void)state;
	struct server srv = { .limit = 100,
			      .window_ms = MINUTE,
			      .rolling = true,
			      .fmt = RESET_EPOCH_MS,
			      .always_headers = true };
	size_t maxw;

	burst_500(&srv, &maxw);
	assert_true(maxw >= 90);
	free(srv.times);
}

/* The headers only come with a 429 (all ClickUp promises): the governor's
 * own pacing must keep it from ever seeing one. */
static void test_burst_headers_only_on_429(void **state)
{
	(void)state;
	struct server srv = {
		.limit = 100, .window_ms = MINUTE, .rolling = true, .fmt = RESET_DELTA_S
	};
	size_t maxw;

	burst_500(&srv, &maxw);
	free(srv.times);
}

/* Another client sends 30 a minute on the same token of 100: the server's
 * Remaining steers us around it with no 429, and we still use the rest (the
 * other client, which ignores the headers, meets the limit first). */
static void test_shared_token(void **state)
{
	(void)state;
	struct server srv = { .limit = 100,
			      .window_ms = MINUTE,
			      .fmt = RESET_EPOCH_S,
			      .date = true,
			      .always_headers = true,
			      .foreign_every = 2000,
			      .next_foreign = 1000 };
	struct run r = { .srv = &srv, .latency = 150, .total = 400, .arrival_step = 100 };
	size_t windows = 0;

	r.g = clickup_governor(12);
	run_sim(&r);
	assert_int_equal(srv.n429, 0);
	assert_int_equal(r.nsent, 400);
	for (uint64_t w = (WALL_BASE / MINUTE + 1) * MINUTE; w + MINUTE <= WALL_BASE + r.end;
	     w += MINUTE) {
		size_t ours = sent_between(&r, w - WALL_BASE, w - WALL_BASE + MINUTE);
		assert_in_range(ours, 68, 98);
		windows++;
	}
	assert_true(windows >= 4);
	acs_governor_free(r.g);
	free(r.sent_at);
	free(srv.times);
}

/* A 10/min token, advertised only through the headers: the first answer
 * replaces the default of 100. */
static void test_adapts_to_advertised_limit(void **state)
{
	(void)state;
	acs_test_log_capture_begin();
	for (int rolling = 0; rolling < 2; rolling++) {
		struct server srv = { .limit = 10,
				      .window_ms = MINUTE,
				      .rolling = rolling,
				      .fmt = rolling ? RESET_EPOCH_MS : RESET_EPOCH_S,
				      .date = !rolling,
				      .always_headers = true };
		struct run r = { .srv = &srv, .latency = 200, .total = 50, .arrival_step = 500 };
		struct acs_governor_stats st;

		r.g = clickup_governor(2);
		run_sim(&r);
		assert_int_equal(srv.n429, 0);
		assert_int_equal(r.nsent, 50);
		acs_governor_stats(r.g, &st);
		assert_int_equal(st.limit, 10);
		assert_true(max_rolling(&r, MINUTE) <= 10);
		/* Still uses the budget: at least 8 of 10 in each full minute. */
		for (uint64_t m = 0; (m + 1) * MINUTE <= r.sent_at[r.nsent - 1]; m++)
			assert_in_range(sent_between(&r, m * MINUTE, (m + 1) * MINUTE), 8, 10);
		assert_true(r.end < 7 * MINUTE);
		acs_governor_free(r.g);
		free(r.sent_at);
		free(srv.times);
	}
	assert_non_null(strstr(acs_test_log_captured(), "clickup: limit 100 -> 10 per 60000 ms"));
	acs_test_log_capture_end();
}

/* ---- header parsing ------------------------------------------------------- */

static void test_parse_headers(void **state)
{
	(void)state;
	struct acs_governor_headers gh;
	struct hdrs h = { 0 };
	uint64_t wall = UINT64_C(1700000000000); /* 2023-11-14 22:13:20 */

	/* Absent headers: all -1. */
	assert_int_equal(acs_governor_headers_parse(&gh, hdrs_get, &h, wall), 0);
	assert_true(gh.limit == -1 && gh.remaining == -1 && gh.reset_ms == -1);
	assert_true(gh.retry_after_ms == -1 && gh.delay_ms == -1);

	/* Names are looked up case-insensitively by the callback. */
	hdrs_add(&h, "x-ratelimit-limit", " 100 ");
	hdrs_add(&h, "X-RATELIMIT-REMAINING", "42");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000030"); /* epoch s */
	hdrs_add(&h, "X-RateLimit-Delay", "0.25");
	hdrs_add(&h, "Retry-After", "3");
	assert_int_equal(acs_governor_headers_parse(&gh, hdrs_get, &h, wall), 5);
	assert_int_equal(gh.limit, 100);
	assert_int_equal(gh.remaining, 42);
	/* A whole second is taken as its end: 30 s + 999 ms. */
	assert_int_equal(gh.reset_ms, 30999);
	assert_int_equal(gh.delay_ms, 250);
	assert_int_equal(gh.retry_after_ms, 3000);

	/* Reset in epoch ms, in seconds from now, in the past; X-RateLimit-Delay
	 * with more than ms precision rounds up. */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Reset", "1700000012345");
	hdrs_add(&h, "X-RateLimit-Delay", "1.0001");
	parse(&gh, &h, wall);
	assert_int_equal(gh.reset_ms, 12345);
	assert_int_equal(gh.delay_ms, 1001);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Reset", "45");
	parse(&gh, &h, wall);
	assert_int_equal(gh.reset_ms, 45000);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Reset", "1699999990");
	parse(&gh, &h, wall);
	assert_int_equal(gh.reset_ms, 0);
	/* Epoch seconds with a fraction are taken as given. */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Reset", "1700000001.5");
	parse(&gh, &h, wall);
	assert_int_equal(gh.reset_ms, 1500);

	/* The server's Date wins over our wall clock (here 1 h off). */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "Date", "Tue, 14 Nov 2023 22:13:20 GMT");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000010");
	hdrs_add(&h, "Retry-After", "Tue, 14 Nov 2023 22:13:50 GMT");
	parse(&gh, &h, wall + 3600 * 1000);
	assert_int_equal(gh.reset_ms, 10999);
	assert_int_equal(gh.retry_after_ms, 30000);
	parse(&gh, &h, wall - 3600 * 1000);
	assert_int_equal(gh.retry_after_ms, 30000);

	/* Malformed values count as absent. */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Limit", "-5");
	hdrs_add(&h, "X-RateLimit-Remaining", "1.5");
	hdrs_add(&h, "X-RateLimit-Reset", "soon");
	hdrs_add(&h, "Retry-After", "later");
	hdrs_add(&h, "X-RateLimit-Delay", "%s", "");
	hdrs_add(&h, "Date", "yesterday");
	assert_int_equal(acs_governor_headers_parse(&gh, hdrs_get, &h, wall), 0);
	assert_true(gh.limit == -1 && gh.remaining == -1 && gh.reset_ms == -1);
	assert_true(gh.retry_after_ms == -1 && gh.delay_ms == -1);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Limit", "99999999999999999999999");
	assert_int_equal(acs_governor_headers_parse(&gh, hdrs_get, &h, wall), 0);
}

static void test_parse_retry_after(void **state)
{
	(void)state;
	uint64_t now = UINT64_C(1700000000000), until = 0, ms;

	assert_int_equal(acs_governor_parse_retry_after("120", now, &until), 0);
	assert_true(until == now + 120000);
	assert_int_equal(acs_governor_parse_retry_after(" 0.5", now, &until), 0);
	assert_true(until == now + 500);
	assert_int_equal(acs_governor_parse_retry_after("0", now, &until), 0);
	assert_true(until == now);
	/* The three HTTP-date forms of RFC 9110. */
	assert_int_equal(
		acs_governor_parse_retry_after("Tue, 14 Nov 2023 22:14:00 GMT", now, &until), 0);
	assert_true(until == now + 40000);
	assert_int_equal(
		acs_governor_parse_retry_after("Tuesday, 14-Nov-23 22:14:00 GMT", now, &until), 0);
	assert_true(until == now + 40000);
	assert_int_equal(acs_governor_parse_retry_after("Tue Nov 14 22:14:00 2023", now, &until),
			 0);
	assert_true(until == now + 40000);
	assert_int_equal(acs_governor_parse_http_date("Sun Nov  6 08:49:37 1994", &ms), 0);
	assert_true(ms == UINT64_C(784111777000));
	/* A date in the past means now; a far future one is capped. */
	assert_int_equal(
		acs_governor_parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, &until), 0);
	assert_true(until == now);
	assert_int_equal(
		acs_governor_parse_retry_after("Fri, 01 Jan 2100 00:00:00 GMT", now, &until), 0);
	assert_true(until == now + ACS_GOVERNOR_MAX_WAIT_MS);
	assert_int_equal(acs_governor_parse_retry_after("99999999", now, &until), 0);
	assert_true(until == now + ACS_GOVERNOR_MAX_WAIT_MS);
	/* Garbage. */
	const char *bad[] = { "",
			      "-1",
			      "soon",
			      "1s",
			      "Tue, 14 Nov 2023 22:14:00 CET",
			      "Tue, 14 Nov 2023 25:14:00 GMT",
			      "Tue, 14 Foo 2023 22:14:00 GMT",
			      "Tue, 14 Nov 2023 22:14 GMT",
			      "Tue, 14 Nov 2023 22:14:00 GMT x" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		assert_int_equal(acs_governor_parse_retry_after(bad[i], now, &until), ACS_EPARSE);

	/* Every day of a few years against libc's gmtime. */
	for (uint64_t s = UINT64_C(946684800); s < UINT64_C(1100000000); s += 86400 + 3607) {
		char d[64];
		http_date(s, d, sizeof(d));
		assert_int_equal(acs_governor_parse_http_date(d, &ms), 0);
		assert_true(ms == s * 1000);
	}
}

/* ---- direct scenarios ------------------------------------------------------ */

/* A governor with no pacing, so that only the signal under test delays. */
static struct acs_governor *bare_governor(uint64_t seed, uint32_t max_conc)
{
	struct acs_governor_opts o;

	acs_governor_opts_init(&o, ACS_GOVERNOR_CLICKUP);
	o.limit = 0;
	o.seed = seed;
	o.max_concurrency = max_conc;
	return acs_governor_new(&o);
}

static void respond(struct acs_governor *g, uint64_t now, int status, struct hdrs *h, uint64_t wall)
{
	struct acs_governor_headers gh;

	parse(&gh, h, wall);
	acs_governor_release(g, now, status, &gh);
}

static void test_retry_after_seconds_and_date(void **state)
{
	(void)state;
	struct acs_governor *g = bare_governor(3, 0);
	struct hdrs h = { 0 };
	uint64_t t = 1000, wall = UINT64_C(1700000000000);
	struct acs_governor_stats st;

	acs_test_log_capture_begin();
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	hdrs_add(&h, "Retry-After", "7");
	respond(g, t, 429, &h, wall);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 7000);
	assert_int_equal(acs_governor_acquire(g, t + 6999, ACS_GOVERNOR_INTERACTIVE), 1);
	assert_int_equal(acs_governor_budget_left(g, t + 6999), 0);
	assert_int_equal(acs_governor_acquire(g, t + 7000, ACS_GOVERNOR_INTERACTIVE), 0);

	/* As an HTTP-date, measured against the server's Date. */
	t += 8000;
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "Date", "Tue, 14 Nov 2023 22:13:20 GMT");
	hdrs_add(&h, "Retry-After", "Tue, 14 Nov 2023 22:13:32 GMT");
	respond(g, t, 429, &h, wall + 777777);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 12000);
	assert_int_equal(acs_governor_acquire(g, t + 12000, ACS_GOVERNOR_INTERACTIVE), 0);

	/* Neither Retry-After nor Reset: exponential backoff, never 0. */
	t += 13000;
	memset(&h, 0, sizeof(h));
	respond(g, t, 429, &h, wall);
	uint64_t d = acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE);
	assert_in_range(d, 1, 2000); /* third failure in a row: ceiling 2000 */
	assert_int_equal(acs_governor_acquire(g, t + d, ACS_GOVERNOR_INTERACTIVE), 0);

	/* 429 with Retry-After and Remaining 0 but no Reset (ADO, the simulator):
	 * Retry-After says when, not a window-long guess from Remaining. */
	t += d;
	acs_governor_release(g, t, 200, NULL);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "Retry-After", "2");
	hdrs_add(&h, "X-RateLimit-Remaining", "0");
	hdrs_add(&h, "X-RateLimit-Limit", "100");
	respond(g, t, 429, &h, wall);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 2000);
	assert_int_equal(acs_governor_acquire(g, t + 2000, ACS_GOVERNOR_INTERACTIVE), 0);
	d = 2000;

	/* 429 with only a Reset: wait for it. */
	t += d;
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Reset", "5");
	respond(g, t, 429, &h, wall);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 5000);
	assert_int_equal(acs_governor_acquire(g, t + 5000, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + 5100, 200, NULL);

	acs_governor_stats(g, &st);
	assert_int_equal(st.throttled, 5);
	assert_int_equal(st.requests, 7);
	assert_int_equal(st.responses, 7);
	assert_int_equal(st.in_flight, 0);
	assert_true(st.held_ms >= 7000 + 12000 + 2000 + 5000);
	assert_non_null(strstr(acs_test_log_captured(), "clickup: 429 rate limited; pausing 7000 "
							"ms"));
	acs_test_log_capture_end();
	acs_governor_free(g);
}

/* Remaining 0 stops everything until Reset, whatever the format; our own
 * count then takes over again. */
static void test_remaining_zero_waits_for_reset(void **state)
{
	(void)state;
	const char *resets[] = { "1700000020", "1700000020000", "20" };
	const int64_t waits[] = { 20999, 20000, 20000 };
	uint64_t wall = UINT64_C(1700000000000);

	for (size_t i = 0; i < ACS_ARRAY_SIZE(resets); i++) {
		struct acs_governor *g = clickup_governor(4);
		struct hdrs h = { 0 };
		uint64_t t = 50000;

		assert_int_equal(acs_governor_budget_left(g, t), 100);
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		assert_int_equal(acs_governor_budget_left(g, t), 99);
		hdrs_add(&h, "X-RateLimit-Limit", "100");
		hdrs_add(&h, "X-RateLimit-Remaining", "0");
		hdrs_add(&h, "X-RateLimit-Reset", "%s", resets[i]);
		respond(g, t + 100, 200, &h, wall);
		assert_int_equal(acs_governor_budget_left(g, t + 100), 0);
		assert_int_equal(acs_governor_acquire(g, t + 100, ACS_GOVERNOR_INTERACTIVE),
				 waits[i]);
		assert_int_equal(
			acs_governor_acquire(g, t + 99 + waits[i], ACS_GOVERNOR_INTERACTIVE), 1);
		assert_int_equal(
			acs_governor_acquire(g, t + 100 + waits[i], ACS_GOVERNOR_INTERACTIVE), 0);
		/* Back to our own count: two starts in the last minute. */
		assert_int_equal(acs_governor_budget_left(g, t + 100 + waits[i]), 98);
		acs_governor_free(g);
	}
}

/* When an exhausted figure goes stale, one request probes first. */
static void test_probe_after_exhaustion(void **state)
{
	(void)state;
	uint64_t wall = UINT64_C(1700000000000);

	for (int figure = 0; figure < 2; figure++) {
		struct acs_governor *g = clickup_governor(13);
		struct hdrs h = { 0 };

		assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
		hdrs_add(&h, "X-RateLimit-Remaining", "2");
		hdrs_add(&h, "X-RateLimit-Reset", "10");
		respond(g, 100, 200, &h, wall);
		assert_int_equal(acs_governor_acquire(g, 100, ACS_GOVERNOR_INTERACTIVE), 10000);
		assert_int_equal(acs_governor_acquire(g, 10100, ACS_GOVERNOR_INTERACTIVE), 0);
		/* The bucket has tokens, but the probe is out. */
		assert_int_equal(acs_governor_acquire(g, 10100, ACS_GOVERNOR_INTERACTIVE),
				 ACS_GOVERNOR_CONCURRENCY_POLL_MS);
		memset(&h, 0, sizeof(h));
		if (figure) {
			hdrs_add(&h, "X-RateLimit-Remaining", "97");
			hdrs_add(&h, "X-RateLimit-Reset", "50");
		}
		respond(g, 10250, 200, &h, wall);
		/* Either a fresh figure or a plain success lifts it. */
		for (int i = 0; i < 3; i++)
			assert_int_equal(acs_governor_acquire(g, 10250, ACS_GOVERNOR_INTERACTIVE),
					 0);
		for (int i = 0; i < 3; i++)
			acs_governor_release(g, 10300, 200, NULL);
		acs_governor_free(g);
	}
}

static void test_budget_left(void **state)
{
	(void)state;
	struct acs_governor *g = clickup_governor(5);
	struct hdrs h = { 0 };
	uint64_t t = 0, wall = UINT64_C(1700000000000);

	/* Our own count first: the limit less the starts of the last minute. */
	for (int i = 0; i < 3; i++)
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	assert_int_equal(acs_governor_budget_left(g, t), 97);
	assert_int_equal(acs_governor_budget_left(g, t + MINUTE), 97);
	assert_int_equal(acs_governor_budget_left(g, t + MINUTE + 1), 100);

	/* The server's figure, less the two requests still in flight. */
	hdrs_add(&h, "X-RateLimit-Limit", "100");
	hdrs_add(&h, "X-RateLimit-Remaining", "40");
	hdrs_add(&h, "X-RateLimit-Reset", "30");
	respond(g, t + 100, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t + 100), 38);
	/* An older answer overtaken by a newer one does not raise it. */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Remaining", "41");
	hdrs_add(&h, "X-RateLimit-Reset", "30");
	respond(g, t + 150, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t + 150), 38);
	/* Our starts since count against it. */
	assert_int_equal(acs_governor_acquire(g, t + 5000, ACS_GOVERNOR_INTERACTIVE), 0);
	assert_int_equal(acs_governor_budget_left(g, t + 5000), 37);
	/* A new window (Reset moved on) replaces it. */
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Remaining", "99");
	hdrs_add(&h, "X-RateLimit-Reset", "60");
	respond(g, t + 31000, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t + 31000), 98);
	acs_governor_release(g, t + 31000, 200, NULL);
	/* Past its Reset, the figure is stale: back to our own count. */
	assert_int_equal(acs_governor_budget_left(g, t + 91000), 100);
	acs_governor_free(g);

	/* No limit and no figure: unknown. */
	g = bare_governor(5, 0);
	assert_int_equal(acs_governor_budget_left(g, 0), -1);
	acs_governor_free(g);
}

static void test_5xx_backoff(void **state)
{
	(void)state;
	enum {
		SEEDS = 300,
		ROUNDS = 10
	};
	uint64_t sum[ROUNDS] = { 0 }, max[ROUNDS] = { 0 };

	for (uint64_t seed = 1; seed <= SEEDS; seed++) {
		struct acs_governor *g = bare_governor(seed, 0);
		uint64_t t = 0;

		for (int n = 0; n < ROUNDS; n++) {
			uint64_t ceiling = ACS_MIN(UINT64_C(500) << n, UINT64_C(60000));

			assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
			acs_governor_release(g, t, n % 2 ? 0 : 503, NULL); /* 0: transport */
			uint64_t d = acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE);
			assert_in_range(d, 1, ceiling);
			assert_int_equal(
				acs_governor_acquire(g, t + d - 1, ACS_GOVERNOR_INTERACTIVE), 1);
			sum[n] += d;
			max[n] = ACS_MAX(max[n], d);
			t += d;
		}
		/* A success resets the streak: the next failure is back to 500 ms. */
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		acs_governor_release(g, t, 200, NULL);
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		acs_governor_release(g, t, 500, NULL);
		assert_in_range(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 1, 500);
		/* ...and a success (of the other request) clears a running backoff. */
		acs_governor_release(g, t, 200, NULL);
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		acs_governor_release(g, t, 204, NULL);

		struct acs_governor_stats st;
		acs_governor_stats(g, &st);
		assert_int_equal(st.server_errors, ROUNDS + 1);
		acs_governor_free(g);
	}
	/* Full jitter: the mean is about half the ceiling, which doubles each
	 * round up to the 60 s cap, and the draws reach close to it. */
	for (int n = 0; n < ROUNDS; n++) {
		uint64_t ceiling = ACS_MIN(UINT64_C(500) << n, UINT64_C(60000));
		uint64_t mean = sum[n] / SEEDS;

		assert_in_range(mean, ceiling * 4 / 10, ceiling * 6 / 10);
		assert_true(max[n] >= ceiling * 9 / 10);
		if (n > 0 && ceiling < 60000)
			assert_true(mean > sum[n - 1] / SEEDS);
	}

	/* Same seed, same draws; another seed, other draws. */
	uint64_t a[2][3];
	for (int k = 0; k < 2; k++) {
		for (int s = 0; s < 3; s++) {
			struct acs_governor *g = bare_governor(k == 0 || s < 2 ? 77 : 78, 0);
			for (int n = 0; n < 3; n++) {
				acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE);
				acs_governor_release(g, 0, 502, NULL);
			}
			a[k][s] = acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE);
			acs_governor_free(g);
		}
	}
	assert_int_equal(a[0][0], a[0][1]);
	assert_int_equal(a[0][0], a[1][1]);
	assert_true(a[1][2] != a[1][1]);
}

/* A 503 with Retry-After waits for it, beyond the backoff. */
static void test_5xx_retry_after(void **state)
{
	(void)state;
	struct acs_governor *g = bare_governor(9, 0);
	struct hdrs h = { 0 };

	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
	hdrs_add(&h, "Retry-After", "10");
	respond(g, 0, 503, &h, UINT64_C(1700000000000));
	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 10000);
	acs_governor_free(g);
}

static void test_concurrency_cap(void **state)
{
	(void)state;
	struct acs_governor *g = bare_governor(6, 3);

	for (int i = 0; i < 3; i++)
		assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE),
			 ACS_GOVERNOR_CONCURRENCY_POLL_MS);
	/* Background also yields to the interactive request being held back. */
	assert_int_equal(acs_governor_acquire(g, 10, ACS_GOVERNOR_BACKGROUND),
			 ACS_GOVERNOR_CONCURRENCY_POLL_MS - 10);
	acs_governor_release(g, 20, 200, NULL);
	assert_int_equal(acs_governor_acquire(g, 20, ACS_GOVERNOR_INTERACTIVE), 0);
	assert_true(acs_governor_acquire(g, 20, ACS_GOVERNOR_INTERACTIVE) > 0);
	/* A canceled request frees its slot too. */
	acs_governor_release(g, 30, -1, NULL);
	assert_int_equal(acs_governor_acquire(g, 30, ACS_GOVERNOR_INTERACTIVE), 0);

	struct acs_governor_stats st;
	acs_governor_stats(g, &st);
	assert_int_equal(st.in_flight, 3);
	assert_int_equal(st.requests, 5);
	assert_int_equal(st.responses, 1);
	assert_int_equal(st.denied, 3);
	assert_int_equal(st.held_ms, 20 + 10);
	for (int i = 0; i < 3; i++)
		acs_governor_release(g, 40, 200, NULL);
	acs_governor_free(g);
}

static void test_background_yields(void **state)
{
	(void)state;
	struct acs_governor *g = clickup_governor(7);
	uint64_t t = 0, d;

	/* Use up the burst; the next interactive request is held back. */
	while (acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE) == 0)
		acs_governor_release(g, t, 200, NULL);
	d = acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE);
	assert_in_range(d, 1, 613); /* 60000 / 98, rounded up */
	/* When the token is there, background asking first does not get it. */
	assert_true(acs_governor_acquire(g, t + d, ACS_GOVERNOR_BACKGROUND) > 0);
	assert_int_equal(acs_governor_acquire(g, t + d, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + d, 200, NULL);
	/* With no interactive work waiting, background gets a later one: it
	 * always leaves one token in the bucket for interactive work. */
	t += d;
	d = acs_governor_acquire(g, t, ACS_GOVERNOR_BACKGROUND);
	assert_in_range(d, 613, 2 * 613);
	assert_int_equal(acs_governor_acquire(g, t + d, ACS_GOVERNOR_BACKGROUND), 0);
	acs_governor_release(g, t + d, 200, NULL);
	t += d;

	/* An interactive caller that gave up stops holding background back
	 * after the grace period. */
	while ((d = acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE)) == 0)
		acs_governor_release(g, t, 200, NULL);
	assert_true(d > 0);
	assert_true(acs_governor_acquire(g, t + d + ACS_GOVERNOR_INTERACTIVE_GRACE_MS - 1,
					 ACS_GOVERNOR_BACKGROUND) > 0);
	assert_int_equal(acs_governor_acquire(g, t + d + ACS_GOVERNOR_INTERACTIVE_GRACE_MS,
					      ACS_GOVERNOR_BACKGROUND),
			 0);
	acs_governor_release(g, t + d + ACS_GOVERNOR_INTERACTIVE_GRACE_MS, 200, NULL);
	acs_governor_free(g);
}

/* Background alone never spends the last 20% of a window; interactive work
 * arriving then still finds budget at the steady pace. */
static void test_background_keeps_reserve(void **state)
{
	(void)state;
	struct acs_governor *g = clickup_governor(8);
	struct run r = { .total = 1000 };
	uint64_t t = 0, end = 3 * MINUTE;

	r.sent_at = calloc(r.total, sizeof(*r.sent_at));
	assert_non_null(r.sent_at);
	/* Run for 3 minutes, then until background stands at its reserve. */
	for (;;) {
		uint64_t d = acs_governor_acquire(g, t, ACS_GOVERNOR_BACKGROUND);
		if (d == 0) {
			r.sent_at[r.nsent++] = t;
			acs_governor_release(g, t, 200, NULL);
			continue;
		}
		if (t >= end && acs_governor_budget_left(g, t) == 100 - 78)
			break;
		t += d;
	}
	/* 100 - reserve 2 - background reserve 20. */
	assert_int_equal(max_rolling(&r, MINUTE), 78);
	assert_true(r.nsent >= 3 * 78);
	/* Background is stopped by its reserve now; interactive is not. */
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t, 200, NULL);
	acs_governor_free(g);
	free(r.sent_at);
}

/* The ADO preset without a concurrency cap. */
static struct acs_governor *ado_governor(uint64_t seed)
{
	struct acs_governor_opts o;

	acs_governor_opts_init(&o, ACS_GOVERNOR_ADO);
	o.seed = seed;
	o.max_concurrency = 0;
	return acs_governor_new(&o);
}

/* ADO: no fixed limit; Retry-After and X-RateLimit-Delay on a 200 slow the
 * next calls, Remaining 0 stops them until Reset, and budget_left reports
 * the TSTUs the server says are left. */
static void test_ado_throttling(void **state)
{
	(void)state;
	struct acs_governor *g = ado_governor(10);
	struct hdrs h = { 0 };
	uint64_t t = 0, wall = UINT64_C(1700000000000);
	struct acs_governor_stats st;

	assert_int_equal(acs_governor_budget_left(g, t), -1);
	/* Unthrottled: any number at once. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	for (int i = 0; i < 19; i++)
		acs_governor_release(g, t, 200, NULL);

	hdrs_add(&h, "X-RateLimit-Resource", "WorkItemTracking");
	hdrs_add(&h, "X-RateLimit-Limit", "200");
	hdrs_add(&h, "X-RateLimit-Remaining", "150");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000300");
	hdrs_add(&h, "X-RateLimit-Delay", "1.5");
	hdrs_add(&h, "Retry-After", "5");
	respond(g, t, 200, &h, wall);
	acs_governor_stats(g, &st);
	assert_int_equal(st.limit, 0); /* TSTUs never become a request limit */
	assert_int_equal(acs_governor_budget_left(g, t), 150);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 5000);
	t += 5000;
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	/* Spaced by the delay the server imposed. */
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 1500);
	assert_int_equal(acs_governor_acquire(g, t + 1500, ACS_GOVERNOR_INTERACTIVE), 0);
	/* Undelayed answers halve the spacing: 1500, 750, 375, ... then none. */
	acs_governor_release(g, t + 1600, 200, NULL);
	acs_governor_release(g, t + 1600, 200, NULL);
	t += 3000;
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	uint64_t spacing = 375;
	while (spacing) {
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), spacing);
		assert_int_equal(acs_governor_acquire(g, t + spacing - 1, ACS_GOVERNOR_INTERACTIVE),
				 1);
		t += spacing;
		assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
		acs_governor_release(g, t, 200, NULL);
		spacing = spacing / 2 < 10 ? 0 : spacing / 2;
	}
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t, 200, NULL);
	acs_governor_release(g, t, 200, NULL);

	/* Remaining 0 (blocked) without Retry-After: wait for Reset. */
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Remaining", "0");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000020000");
	respond(g, t, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t), 0);
	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 20000);
	assert_int_equal(acs_governor_acquire(g, t + 20000, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + 20000, 200, NULL);
	assert_int_equal(acs_governor_budget_left(g, t + 20000), -1);

	/* Background leaves the last 20% of the server's own limit. */
	memset(&h, 0, sizeof(h));
	assert_int_equal(acs_governor_acquire(g, t + 20000, ACS_GOVERNOR_INTERACTIVE), 0);
	hdrs_add(&h, "X-RateLimit-Limit", "200");
	hdrs_add(&h, "X-RateLimit-Remaining", "30");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000100");
	respond(g, t + 20000, 200, &h, wall);
	assert_true(acs_governor_acquire(g, t + 20000, ACS_GOVERNOR_BACKGROUND) > 0);
	assert_int_equal(acs_governor_acquire(g, t + 20000, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + 20000, 200, NULL);

	acs_governor_stats(g, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.throttled, 0);
	acs_governor_free(g);
	acs_governor_free(NULL);
}

/* ADO sends its figures only near or over its limit: stats carry the server's own
 * X-RateLimit-Limit, and a figure that a later plain answer contradicted is reported
 * as unknown (-1), not as the 0 or 30 it last said, until a new figure arrives.
 * Pacing still honours it; a 429 makes the figure current again. */
static void test_ado_stale_figure(void **state)
{
	(void)state;
	struct acs_governor *g = ado_governor(11);
	struct hdrs h = { 0 };
	uint64_t t = 0, wall = UINT64_C(1700000000000);
	struct acs_governor_stats st;

	acs_governor_stats(g, &st);
	assert_int_equal(st.limit, 0);
	assert_int_equal(st.server_limit, -1);

	assert_int_equal(acs_governor_acquire(g, t, ACS_GOVERNOR_INTERACTIVE), 0);
	hdrs_add(&h, "X-RateLimit-Limit", "200");
	hdrs_add(&h, "X-RateLimit-Remaining", "30");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000100");
	respond(g, t, 200, &h, wall);
	acs_governor_stats(g, &st);
	assert_int_equal(st.limit, 0); /* still no request limit */
	assert_int_equal(st.server_limit, 200);
	assert_int_equal(acs_governor_budget_left(g, t), 30);

	/* A later answer without figures: the 30 no longer holds. */
	assert_int_equal(acs_governor_acquire(g, t + 10, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + 20, 200, NULL);
	assert_int_equal(acs_governor_budget_left(g, t + 20), -1);
	acs_governor_stats(g, &st);
	assert_int_equal(st.server_limit, 200); /* the last limit sent stays known */
	/* Background still leaves the server's last share until its Reset. */
	assert_true(acs_governor_acquire(g, t + 20, ACS_GOVERNOR_BACKGROUND) > 0);

	/* A new figure is current again. */
	assert_int_equal(acs_governor_acquire(g, t + 30, ACS_GOVERNOR_INTERACTIVE), 0);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "X-RateLimit-Remaining", "12");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000100");
	respond(g, t + 40, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t + 40), 12);

	/* Stale again, then a 429 without figures: the server just refused us, so 0 is
	 * current (not unknown). */
	assert_int_equal(acs_governor_acquire(g, t + 50, ACS_GOVERNOR_INTERACTIVE), 0);
	assert_int_equal(acs_governor_acquire(g, t + 50, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, t + 60, 200, NULL);
	assert_int_equal(acs_governor_budget_left(g, t + 60), -1);
	memset(&h, 0, sizeof(h));
	hdrs_add(&h, "Retry-After", "3");
	respond(g, t + 60, 429, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, t + 60), 0);
	assert_true(acs_governor_acquire(g, t + 60, ACS_GOVERNOR_INTERACTIVE) > 0);
	/* Past Reset nothing is known. */
	assert_int_equal(acs_governor_budget_left(g, t + 60 + 3001), -1);
	acs_governor_stats(g, &st);
	assert_int_equal(st.in_flight, 0);
	assert_int_equal(st.throttled, 1);
	acs_governor_free(g);
}

/* Requests units (ClickUp) send figures on every answer: one without them does not
 * make the last figure unknown. */
static void test_requests_figure_not_stale(void **state)
{
	(void)state;
	struct acs_governor *g = bare_governor(100, 0);
	struct hdrs h = { 0 };
	uint64_t wall = UINT64_C(1700000000000);

	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
	hdrs_add(&h, "X-RateLimit-Limit", "100");
	hdrs_add(&h, "X-RateLimit-Remaining", "40");
	hdrs_add(&h, "X-RateLimit-Reset", "1700000060");
	respond(g, 0, 200, &h, wall);
	assert_int_equal(acs_governor_budget_left(g, 0), 40);
	assert_int_equal(acs_governor_acquire(g, 1, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, 2, 200, NULL);
	assert_int_equal(acs_governor_budget_left(g, 2), 39);
	acs_governor_free(g);
}

/* The simulator run without a limit advertises a million a minute: that is what
 * the governor paces to (16,667 starts/s), with a log of bounded size. Clamped
 * to 100,000, it held the daemon to 1,667 starts/s, which this test rejects. */
static void test_huge_limit_not_clamped_low(void **state)
{
	(void)state;
	struct acs_governor_opts o;
	acs_governor_opts_init(&o, ACS_GOVERNOR_CLICKUP);
	o.max_concurrency = 0;
	o.seed = 5;
	struct acs_governor *g = acs_governor_new(&o);
	struct acs_governor_headers gh;
	struct acs_governor_stats st;

	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_headers_init(&gh);
	gh.limit = 1000000;
	gh.remaining = 999999;
	gh.reset_ms = 60000;
	acs_governor_release(g, 0, 200, &gh);
	acs_governor_stats(g, &st);
	assert_int_equal(st.limit, 1000000);
	/* 10 starts every ms for 3 s (10,000/s, past the log's size): none waits. */
	unsigned granted = 0;
	for (uint64_t ms = 1; ms <= 3000; ms++) {
		for (int i = 0; i < 10; i++) {
			assert_int_equal(acs_governor_acquire(g, ms, ACS_GOVERNOR_INTERACTIVE), 0);
			acs_governor_release(g, ms, 200, NULL);
			granted++;
		}
	}
	assert_int_equal(granted, 30000);
	/* 20 a ms (20,000/s) is more than the pace: some must wait. */
	uint64_t waited = 0;
	for (uint64_t ms = 3001; ms <= 3100; ms++) {
		for (int i = 0; i < 20; i++) {
			if (acs_governor_acquire(g, ms, ACS_GOVERNOR_INTERACTIVE)) {
				waited++;
				continue;
			}
			acs_governor_release(g, ms, 200, NULL);
		}
	}
	assert_true(waited > 0);
	acs_governor_free(g);
}

/* A limit header far beyond reason is clamped, and a lower one later
 * shrinks the window log without losing its newest entries. */
static void test_limit_changes(void **state)
{
	(void)state;
	struct acs_governor *g = clickup_governor(11);
	struct acs_governor_headers gh;
	struct acs_governor_stats st;

	acs_test_log_capture_begin();
	acs_governor_headers_init(&gh);
	assert_int_equal(acs_governor_acquire(g, 0, ACS_GOVERNOR_INTERACTIVE), 0);
	gh.limit = 1000000000;
	acs_governor_release(g, 10, 200, &gh);
	acs_governor_stats(g, &st);
	assert_int_equal(st.limit, ACS_GOVERNOR_MAX_LIMIT);
	assert_int_equal(acs_governor_budget_left(g, 10), ACS_GOVERNOR_MAX_LIMIT - 1);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(acs_governor_acquire(g, 20, ACS_GOVERNOR_INTERACTIVE), 0);
		acs_governor_release(g, 20, 200, NULL);
	}
	gh.limit = 4;
	assert_int_equal(acs_governor_acquire(g, 30, ACS_GOVERNOR_INTERACTIVE), 0);
	acs_governor_release(g, 30, 200, &gh);
	/* 4/min, no reserve (4 / 10 = 0): the log holds the 4 newest starts. */
	assert_int_equal(acs_governor_budget_left(g, 30), 0);
	uint64_t d = acs_governor_acquire(g, 30, ACS_GOVERNOR_INTERACTIVE);
	assert_int_equal(d, MINUTE + 20 + 1 - 30);
	acs_test_log_capture_end();
	acs_governor_free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_fixed_window),
		cmocka_unit_test(test_burst_rolling_window),
		cmocka_unit_test(test_burst_headers_only_on_429),
		cmocka_unit_test(test_shared_token),
		cmocka_unit_test(test_adapts_to_advertised_limit),
		cmocka_unit_test(test_parse_headers),
		cmocka_unit_test(test_parse_retry_after),
		cmocka_unit_test(test_retry_after_seconds_and_date),
		cmocka_unit_test(test_remaining_zero_waits_for_reset),
		cmocka_unit_test(test_probe_after_exhaustion),
		cmocka_unit_test(test_budget_left),
		cmocka_unit_test(test_5xx_backoff),
		cmocka_unit_test(test_5xx_retry_after),
		cmocka_unit_test(test_concurrency_cap),
		cmocka_unit_test(test_background_yields),
		cmocka_unit_test(test_background_keeps_reserve),
		cmocka_unit_test(test_ado_throttling),
		cmocka_unit_test(test_ado_stale_figure),
		cmocka_unit_test(test_requests_figure_not_stale),
		cmocka_unit_test(test_limit_changes),
		cmocka_unit_test(test_huge_limit_not_clamped_low),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
