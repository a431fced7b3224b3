/* SPDX-License-Identifier: MIT */
/* Simulator core: the world (seed, clock), services on their own ports, the
 * request log, fault injection, the /_sim/ control API and the per-target
 * webhook delivery queues. See sim.h for the design. */
#include "sim.h"

#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "curl_loop.h"
#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"

#define SIM_LOG_MAX 100000     /* request log entries kept per service */
#define SIM_RETRY_MAX_MS 60000 /* ceiling of the doubling retry delay */
#define SIM_DEFAULT_ATTEMPTS 5 /* attempts without ops->delivery_done */
#define SIM_MAX_CONCURRENCY 64 /* ceiling of a seed's webhook.concurrency */
#define SIM_CHURN_MAX 1000000  /* edits of one POST /_sim/churn */
#define SIM_CHURN_BATCH 32     /* edits per loop turn at rate 0: requests still get served */

struct sim_log_entry {
	uint64_t time_ms;
	uint64_t time_us; /**< wall clock, microseconds (bench latency) */
	char *method;
	char *path;
	char *query;
	int status; /**< -1 until answered, 0 when dropped */
};

struct sim_fault {
	char *path;	  /**< substring of the request path */
	char *method;	  /**< NULL = any */
	int status;	  /**< 0 = none (delay only or drop) */
	unsigned count;	  /**< matching requests left */
	long retry_after; /**< seconds, -1 = no Retry-After */
	uint64_t delay_ms;
	bool drop;
	struct sim_fault *next; /**< sim_service::faults */
};

/* One logged API request until it is answered. */
struct sim_call {
	struct sim_service *svc;
	struct acs_http_req *req;
	uint64_t seq;	   /**< its request log entry */
	uint64_t delay_ms; /**< hold the answer back this long */
	uv_timer_t timer;
	bool delayed; /**< answer stored, timer running */
	int status;   /**< stored answer (delayed) */
	bool drop;
	char *ctype;
	char *body;
	size_t len;
	struct sim_call *prev, *next; /**< sim_service::calls */
};

struct sim_dlv {
	struct sim_target *t;
	char *url;
	char **headers; /**< NULL-terminated */
	char *body;
	size_t len;
	uint64_t timeout_ms;
	uint64_t retry_delay_ms;
	unsigned attempt;
	uint64_t started;
	uint64_t due;	   /**< uv_now() of its next attempt (0: at once) */
	uint64_t pump_gen; /**< the pump run that last started it */
	uint64_t curl_id;
	bool inflight;
	bool canceled;	      /**< reset or close while in flight: free on completion */
	struct sim_dlv *next; /**< sim_target::head */
};

/* The first `window` deliveries of the queue are started: each is in flight or
 * waits for its own next attempt; the timer fires at the earliest due one. */
struct sim_target {
	char *name;
	struct sim_service *svc;
	uv_timer_t timer; /**< next attempt */
	struct sim_dlv *head, *tail;
	unsigned canceled_inflight; /**< dropped attempts still in flight: take a slot */
	uint64_t pump_gen;
	bool pumping;
	bool repump;
	struct sim_target *next; /**< sim_service::targets */
};

struct sim_service {
	struct sim *sim;
	const struct sim_service_ops *ops;
	void *impl;
	struct acs_http_server *srv;
	int port;
	char origin[64];
	struct sim_log_entry *log;
	size_t nlog, caplog;
	uint64_t log_base; /**< seq of log[0] */
	struct sim_fault *faults;
	struct sim_call *calls;
	struct sim_target *targets;
	bool paused;		  /**< POST /_sim/webhooks {"deliver": false} */
	struct sim_churn *churn;  /**< POST /_sim/churn state (NULL until the first) */
	struct sim_service *next; /**< sim::services */
};

/* Load generated inside the simulator (POST /_sim/churn): edit i goes to
 * ids[i % nids] with the value "<prefix> <i>", at `rate` per second (0: as
 * fast as the loop allows, SIM_CHURN_BATCH per turn). */
struct sim_churn {
	struct sim_service *svc;
	uv_timer_t timer;
	char **ids;
	size_t nids;
	char *field, *prefix, *actor;
	uint64_t edits, done, failed;
	double rate;
	uint64_t t0_us;
	uint64_t *t_us; /**< per edit: wall clock µs just before it was made */
	bool running;
};

struct sim {
	uv_loop_t *loop;
	json_t *seed;
	struct acs_curl_loop *curl;
	struct sim_service *services, **services_tail;
	uint64_t last_ms;
	bool closing;
	unsigned pending; /**< closes in progress while closing */
	void (*closed_cb)(void *arg);
	void *closed_arg;
};

/* --- world --- */

uint64_t sim_wall_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct sim *sim_new(uv_loop_t *loop, const char *seed_path, char err[ACS_ERR_LEN])
{
	json_error_t jerr;
	json_t *seed;

	if (sodium_init() < 0) {
		snprintf(err, ACS_ERR_LEN, "libsodium cannot be initialised");
		return NULL;
	}
	if (seed_path)
		seed = json_load_file(seed_path, JSON_REJECT_DUPLICATES, &jerr);
	else
		seed = acs_json_loads(sim_default_seed(), JSON_REJECT_DUPLICATES, &jerr);
	if (!seed) {
		snprintf(err, ACS_ERR_LEN, "%s:%d: %s", seed_path ? seed_path : "(built-in seed)",
			 jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(seed) || !json_is_array(json_object_get(seed, "users"))) {
		snprintf(err, ACS_ERR_LEN, "%s: the seed must be an object with a \"users\" array",
			 seed_path ? seed_path : "(built-in seed)");
		json_decref(seed);
		return NULL;
	}
	struct sim *sim = acs_xcalloc(1, sizeof(*sim));
	sim->loop = loop;
	sim->seed = seed;
	sim->services_tail = &sim->services;
	sim->curl = acs_curl_loop_new(loop, err);
	if (!sim->curl) {
		json_decref(seed);
		free(sim);
		return NULL;
	}
	return sim;
}

uv_loop_t *sim_loop(const struct sim *sim)
{
	return sim->loop;
}

json_t *sim_seed(const struct sim *sim)
{
	return sim->seed;
}

json_t *sim_seed_part(const struct sim *sim, const char *name)
{
	json_t *p = json_object_get(sim->seed, name);
	if (!json_is_object(p)) {
		/* Keep an empty object in the seed so the borrowed pointer lives on. */
		p = json_object();
		json_object_set_new(sim->seed, name, p);
	}
	return p;
}

json_t *sim_users(const struct sim *sim)
{
	return json_object_get(sim->seed, "users");
}

uint64_t sim_now_ms(struct sim *sim)
{
	uint64_t ms = sim_clock_ms(sim);
	if (ms <= sim->last_ms)
		ms = sim->last_ms + 1;
	sim->last_ms = ms;
	return ms;
}

uint64_t sim_clock_ms(const struct sim *sim)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	return ms > sim->last_ms ? ms : sim->last_ms;
}

json_t *sim_info(struct sim *sim)
{
	json_t *info = json_object();
	for (struct sim_service *s = sim->services; s; s = s->next) {
		json_t *part = s->ops->info ? s->ops->info(s->impl) : NULL;
		if (!part)
			part = json_deep_copy(sim_seed_part(sim, s->ops->name));
		json_object_set_new(info, s->ops->name, part);
	}
	json_t *users = json_array();
	size_t i;
	json_t *u;
	json_array_foreach(sim_users(sim), i, u)
	{
		json_array_append_new(users, json_pack("{s:O?,s:O?,s:O?,s:O?}", "name",
						       json_object_get(u, "name"), "email",
						       json_object_get(u, "email"), "ado_id",
						       json_object_get(u, "ado_id"), "clickup_id",
						       json_object_get(u, "clickup_id")));
	}
	json_object_set_new(info, "users", users);
	return info;
}

/* --- helpers --- */

void sim_hmac_sha256_hex(const char *key, size_t key_len, const void *data, size_t len,
			 char out[65])
{
	crypto_auth_hmacsha256_state st;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];

	crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, key_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(out, 65, mac, sizeof(mac));
	sodium_memzero(&st, sizeof(st));
}

void sim_random_string(char *out, size_t n, const char *alphabet)
{
	uint32_t k = (uint32_t)strlen(alphabet);
	for (size_t i = 0; i < n; i++)
		out[i] = alphabet[randombytes_uniform(k)];
	out[n] = '\0';
}

void sim_random_uuid(char out[37])
{
	unsigned char b[16];
	randombytes_buf(b, sizeof(b));
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

json_t *sim_req_json(struct acs_http_req *req)
{
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	if (!body || !len)
		return NULL;
	json_t *j = acs_json_loadb(body, len, 0, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* --- request log --- */

static uint64_t log_append(struct sim_service *svc, struct acs_http_req *req)
{
	if (svc->nlog == SIM_LOG_MAX) {
		/* Forget the older half: the log is for tests, not an archive. */
		size_t half = SIM_LOG_MAX / 2;
		for (size_t i = 0; i < half; i++) {
			free(svc->log[i].method);
			free(svc->log[i].path);
			free(svc->log[i].query);
		}
		memmove(svc->log, svc->log + half, (svc->nlog - half) * sizeof(*svc->log));
		svc->nlog -= half;
		svc->log_base += half;
	}
	if (svc->nlog == svc->caplog) {
		svc->caplog = svc->caplog ? svc->caplog * 2 : 64;
		svc->log = acs_xrealloc(svc->log, svc->caplog * sizeof(*svc->log));
	}
	struct sim_log_entry *e = &svc->log[svc->nlog++];
	/* Read, not advanced: a millisecond per request ran the change-time clock
	 * seconds ahead of the wall clock under load. */
	e->time_ms = sim_clock_ms(svc->sim);
	e->time_us = sim_wall_us();
	e->method = acs_xstrdup(acs_http_req_method(req));
	e->path = acs_xstrdup(acs_http_req_path(req));
	e->query = acs_xstrdup(acs_http_req_query_string(req));
	e->status = -1;
	return svc->log_base + svc->nlog - 1;
}

static void log_set_status(struct sim_service *svc, uint64_t seq, int status)
{
	if (seq >= svc->log_base && seq - svc->log_base < svc->nlog)
		svc->log[seq - svc->log_base].status = status;
}

static void log_clear(struct sim_service *svc)
{
	for (size_t i = 0; i < svc->nlog; i++) {
		free(svc->log[i].method);
		free(svc->log[i].path);
		free(svc->log[i].query);
	}
	svc->log_base += svc->nlog;
	svc->nlog = 0;
}

/* --- faults --- */

static void fault_free(struct sim_fault *f)
{
	free(f->path);
	free(f->method);
	free(f);
}

static void faults_clear(struct sim_service *svc)
{
	while (svc->faults) {
		struct sim_fault *f = svc->faults;
		svc->faults = f->next;
		fault_free(f);
	}
}

/* Consume one use of the first fault matching the request; the caller
 * frees the returned copy's strings with fault_free. */
static struct sim_fault *fault_take(struct sim_service *svc, const char *method, const char *path)
{
	for (struct sim_fault **pp = &svc->faults; *pp; pp = &(*pp)->next) {
		struct sim_fault *f = *pp;
		if (!strstr(path, f->path) || (f->method && strcasecmp(f->method, method)))
			continue;
		struct sim_fault *copy = acs_xmalloc(sizeof(*copy));
		*copy = *f;
		copy->path = acs_xstrdup(f->path);
		copy->method = f->method ? acs_xstrdup(f->method) : NULL;
		copy->next = NULL;
		if (--f->count == 0) {
			*pp = f->next;
			fault_free(f);
		}
		return copy;
	}
	return NULL;
}

/* --- calls and answers --- */

static void call_unlink(struct sim_call *call)
{
	struct sim_service *svc = call->svc;
	if (call->prev)
		call->prev->next = call->next;
	else
		svc->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->prev = call->next = NULL;
}

static void call_free(struct sim_call *call)
{
	free(call->ctype);
	free(call->body);
	free(call);
}

/* Not counted in sim::pending: the call no longer refers to its service. */
static void call_timer_closed(uv_handle_t *h)
{
	call_free(acs_container_of(h, struct sim_call, timer));
}

static void call_timer_cb(uv_timer_t *t)
{
	struct sim_call *call = acs_container_of(t, struct sim_call, timer);
	struct acs_http_req *req = call->req;

	acs_http_req_set_data(req, NULL);
	log_set_status(call->svc, call->seq, call->drop ? 0 : call->status);
	call_unlink(call);
	if (call->drop)
		acs_http_req_drop(req);
	else
		acs_http_respond(req, call->status, call->ctype, call->body, call->len);
	uv_close((uv_handle_t *)&call->timer, call_timer_closed);
}

/* Finish req now or, for a delay_ms fault, store the answer and finish it
 * from the timer. */
static void answer(struct acs_http_req *req, int status, bool drop, const char *ctype,
		   const void *body, size_t len)
{
	struct sim_call *call = acs_http_req_get_data(req);

	if (call && call->delay_ms && !call->delayed) {
		call->delayed = true;
		call->status = status;
		call->drop = drop;
		call->ctype = ctype ? acs_xstrdup(ctype) : NULL;
		if (body && len) {
			call->body = acs_xmalloc(len);
			memcpy(call->body, body, len);
			call->len = len;
		}
		uv_timer_init(call->svc->sim->loop, &call->timer);
		uv_timer_start(&call->timer, call_timer_cb, call->delay_ms, 0);
		return;
	}
	if (call) {
		acs_http_req_set_data(req, NULL);
		log_set_status(call->svc, call->seq, drop ? 0 : status);
		call_unlink(call);
		call_free(call);
	}
	if (drop)
		acs_http_req_drop(req);
	else
		acs_http_respond(req, status, ctype, body, len);
}

void sim_respond(struct acs_http_req *req, int status, const char *content_type, const void *body,
		 size_t len)
{
	answer(req, status, false, content_type, body, len);
}

void sim_respond_json(struct acs_http_req *req, int status, json_t *body)
{
	if (json_is_object(body) || json_is_array(body)) {
		/* The direct writer: the same bytes, fewer instructions. */
		struct acs_buf b;
		acs_buf_init(&b, SIZE_MAX / 2);
		bool ok = sim_json_value(&b, body, NULL);
		json_decref(body);
		if (!ok) {
			acs_buf_free(&b);
			sim_respond(req, 500, "application/json", "{}", 2);
			return;
		}
		sim_respond_buf(req, status, &b);
		return;
	}
	char *s = body ? acs_json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s) {
		sim_respond(req, 500, "application/json", "{}", 2);
		return;
	}
	answer(req, status, false, "application/json", s, strlen(s));
	free(s);
}

void sim_drop(struct acs_http_req *req)
{
	answer(req, 0, true, NULL, NULL, 0);
}

/* --- JSON text (written by lib/json_codec; these only adapt its calls) --- */

#define SIM_TEXT_START 2048 /* first allocation: most bodies fit */

static void out(struct acs_buf *b, const void *p, size_t n)
{
	if (!b->data)
		(void)acs_buf_reserve(b, SIM_TEXT_START);
	(void)acs_buf_put(b, p, n);
}

void sim_json_raw(struct acs_buf *b, const char *s)
{
	out(b, s, strlen(s));
}

void sim_json_strn(struct acs_buf *b, const char *s, size_t n)
{
	if (!b->data)
		(void)acs_buf_reserve(b, SIM_TEXT_START);
	/* Stored strings passed jansson's UTF-8 check: this cannot fail but on size. */
	(void)acs_json_append_string(b, s, n);
}

void sim_json_str(struct acs_buf *b, const char *s)
{
	sim_json_strn(b, s, strlen(s));
}

void sim_json_int(struct acs_buf *b, json_int_t v)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" JSON_INTEGER_FORMAT, v);
	out(b, tmp, (size_t)n);
}

bool sim_json_value(struct acs_buf *b, const json_t *v, const char *skip_key)
{
	if (!b->data)
		(void)acs_buf_reserve(b, SIM_TEXT_START);
	return v && acs_json_append(b, v, JSON_COMPACT | JSON_ENCODE_ANY, skip_key) == 0;
}

void sim_respond_buf(struct acs_http_req *req, int status, struct acs_buf *b)
{
	if (!b->data) {
		sim_respond(req, 500, "application/json", "{}", 2);
		return;
	}
	answer(req, status, false, "application/json", b->data, b->len);
	acs_buf_free(b);
}

/* --- the hook: log, faults, then the service's own checks --- */

static bool is_control(const char *path)
{
	return !strncmp(path, "/_sim/", 6) || !strcmp(path, "/_sim");
}

static bool core_hook(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	const char *path = acs_http_req_path(req);

	if (is_control(path))
		return false;

	struct sim_call *call = acs_xcalloc(1, sizeof(*call));
	call->svc = svc;
	call->req = req;
	call->seq = log_append(svc, req);
	call->next = svc->calls;
	if (svc->calls)
		svc->calls->prev = call;
	svc->calls = call;
	acs_http_req_set_data(req, call);

	struct sim_fault *f = fault_take(svc, acs_http_req_method(req), path);
	if (f) {
		call->delay_ms = f->delay_ms;
		bool drop = f->drop;
		int status = f->status;
		long retry_after = f->retry_after;
		fault_free(f);
		if (drop) {
			sim_drop(req);
			return true;
		}
		if (status) {
			json_t *body = svc->ops->fault_body
					       ? svc->ops->fault_body(svc->impl, req, status)
					       : NULL;
			if (!body)
				body = json_pack("{s:s,s:s}", "error", acs_http_status_text(status),
						 "detail", "injected fault");
			if (retry_after >= 0) {
				char v[24];
				snprintf(v, sizeof(v), "%ld", retry_after);
				acs_http_req_add_header(req, "Retry-After", v);
			}
			sim_respond_json(req, status, body);
			return true;
		}
	}
	if (svc->ops->hook && svc->ops->hook(svc->impl, req))
		return true;
	return false;
}

/* --- control API --- */

static void ctl_requests(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	struct acs_buf b;
	acs_buf_init(&b, (size_t)200 << 20); /* under the server's answer ceiling */
	for (size_t i = 0; i < svc->nlog; i++) {
		struct sim_log_entry *e = &svc->log[i];
		json_t *j = json_pack("{s:I,s:I,s:s,s:s,s:s,s:o}", "time_ms",
				      (json_int_t)e->time_ms, "time_us", (json_int_t)e->time_us,
				      "method", e->method, "path", e->path, "query", e->query,
				      "status",
				      e->status < 0 ? json_null() : json_integer(e->status));
		char *s = j ? acs_json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		if (s) {
			(void)acs_buf_appends(&b, s);
			(void)acs_buf_appends(&b, "\n");
		}
		free(s);
	}
	sim_respond(req, 200, "application/x-ndjson", b.data, b.len);
	acs_buf_free(&b);
}

static void ctl_error(struct acs_http_req *req, int status, const char *detail)
{
	sim_respond_json(req, status,
			 json_pack("{s:s,s:s}", "error", acs_http_status_text(status), "detail",
				   detail));
}

static json_t *faults_json(struct sim_service *svc)
{
	json_t *a = json_array();
	for (struct sim_fault *f = svc->faults; f; f = f->next) {
		json_t *j = json_pack("{s:s,s:I}", "path", f->path, "count", (json_int_t)f->count);
		if (f->method)
			json_object_set_new(j, "method", json_string(f->method));
		if (f->status)
			json_object_set_new(j, "status", json_integer(f->status));
		if (f->retry_after >= 0)
			json_object_set_new(j, "retry_after", json_integer(f->retry_after));
		if (f->delay_ms)
			json_object_set_new(j, "delay_ms", json_integer((json_int_t)f->delay_ms));
		if (f->drop)
			json_object_set_new(j, "drop", json_true());
		json_array_append_new(a, j);
	}
	return a;
}

static bool opt_int(json_t *o, const char *key, json_int_t min, json_int_t max, json_int_t *out)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return true;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return false;
	*out = json_integer_value(v);
	return true;
}

static void ctl_faults_post(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	json_t *body = sim_req_json(req);
	json_int_t status = 0, count = 1, retry_after = -1, delay_ms = 0;
	json_t *path = json_object_get(body, "path");
	json_t *method = json_object_get(body, "method");
	json_t *drop = json_object_get(body, "drop");

	if (!body || !json_is_string(path) || (method && !json_is_string(method)) ||
	    (drop && !json_is_boolean(drop)) || !opt_int(body, "status", 100, 599, &status) ||
	    !opt_int(body, "count", 1, 1000000000, &count) ||
	    !opt_int(body, "retry_after", 0, 86400, &retry_after) ||
	    !opt_int(body, "delay_ms", 0, 3600000, &delay_ms)) {
		json_decref(body);
		ctl_error(req, 400,
			  "expected {\"path\": str, \"method\"?: str, \"status\"?: int, "
			  "\"count\"?: int>=1, \"retry_after\"?: int, \"delay_ms\"?: int, "
			  "\"drop\"?: bool}");
		return;
	}
	if (status && status != 429 && (status < 500 || status > 599)) {
		json_decref(body);
		ctl_error(req, 400, "status must be 429 or 5xx");
		return;
	}
	if (!status && !json_is_true(drop) && !delay_ms) {
		json_decref(body);
		ctl_error(req, 400, "a fault needs status, drop or delay_ms");
		return;
	}
	struct sim_fault *f = acs_xcalloc(1, sizeof(*f));
	f->path = acs_xstrdup(json_string_value(path));
	f->method = method ? acs_xstrdup(json_string_value(method)) : NULL;
	f->status = (int)status;
	f->count = (unsigned)count;
	f->retry_after = (long)retry_after;
	f->delay_ms = (uint64_t)delay_ms;
	f->drop = json_is_true(drop);
	struct sim_fault **pp = &svc->faults;
	while (*pp)
		pp = &(*pp)->next;
	*pp = f;
	json_decref(body);
	sim_respond_json(req, 200, json_pack("{s:o}", "faults", faults_json(svc)));
}

static void ctl_faults_get(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	sim_respond_json(req, 200, json_pack("{s:o}", "faults", faults_json(svc)));
}

static void ctl_faults_delete(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	faults_clear(svc);
	sim_respond_json(req, 200, json_pack("{s:[]}", "faults"));
}

static json_t *webhooks_state(struct sim_service *svc)
{
	return json_pack("{s:b,s:I}", "deliver", !svc->paused, "pending",
			 (json_int_t)sim_service_pending_deliveries(svc));
}

static void ctl_webhooks_post(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	json_t *body = sim_req_json(req);
	json_t *deliver = json_object_get(body, "deliver");
	if (!json_is_boolean(deliver)) {
		json_decref(body);
		ctl_error(req, 400, "expected {\"deliver\": true|false}");
		return;
	}
	svc->paused = !json_is_true(deliver);
	json_decref(body);
	sim_respond_json(req, 200, webhooks_state(svc));
}

static void ctl_webhooks_get(struct acs_http_req *req, void *arg)
{
	sim_respond_json(req, 200, webhooks_state(arg));
}

static void targets_reset(struct sim_service *svc);
static void churn_stop(struct sim_churn *c);

static void ctl_reset(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	for (struct sim_service *s = svc->sim->services; s; s = s->next) {
		log_clear(s);
		faults_clear(s);
		targets_reset(s);
		churn_stop(s->churn);
		s->paused = false;
		if (s->ops->reset)
			s->ops->reset(s->impl);
	}
	sim_respond_json(req, 200, json_pack("{s:b}", "reset", 1));
}

/* --- POST/GET /_sim/churn --- */

static void churn_clear(struct sim_churn *c)
{
	for (size_t i = 0; i < c->nids; i++)
		free(c->ids[i]);
	free(c->ids);
	free(c->field);
	free(c->prefix);
	free(c->actor);
	free(c->t_us);
	c->ids = NULL;
	c->nids = 0;
	c->field = c->prefix = c->actor = NULL;
	c->t_us = NULL;
	c->edits = c->done = c->failed = 0;
	c->running = false;
}

static void churn_stop(struct sim_churn *c)
{
	if (c && c->running) {
		uv_timer_stop(&c->timer);
		c->running = false;
	}
}

static void churn_tick(uv_timer_t *h)
{
	struct sim_churn *c = acs_container_of(h, struct sim_churn, timer);
	struct sim_service *svc = c->svc;
	uint64_t due;
	if (c->rate > 0) {
		double el = (double)(sim_wall_us() - c->t0_us) / 1e6;
		due = (uint64_t)(el * c->rate) + 1;
	} else {
		due = c->done + SIM_CHURN_BATCH;
	}
	if (due > c->edits)
		due = c->edits;
	char value[160];
	for (; c->done < due; c->done++) {
		uint64_t i = c->done;
		snprintf(value, sizeof(value), "%s %" PRIu64, c->prefix, i);
		c->t_us[i] = sim_wall_us();
		if (svc->ops->churn_edit(svc->impl, c->ids[i % c->nids], c->field, value, c->actor))
			c->failed++;
	}
	if (c->done == c->edits) {
		churn_stop(c);
		return;
	}
	uv_timer_start(&c->timer, churn_tick, c->rate > 0 ? 1 : 0, 0);
}

static void ctl_churn_post(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	json_t *body = sim_req_json(req);
	json_t *ids = body ? json_object_get(body, "ids") : NULL;
	json_t *rate = body ? json_object_get(body, "rate") : NULL;
	json_t *field = body ? json_object_get(body, "field") : NULL;
	json_t *prefix = body ? json_object_get(body, "prefix") : NULL;
	json_t *actor = body ? json_object_get(body, "actor") : NULL;
	json_int_t edits = -1;
	bool ok = body && json_is_array(ids) && json_array_size(ids) > 0 &&
		  opt_int(body, "edits", 1, SIM_CHURN_MAX, &edits) && edits > 0 &&
		  (!rate || (json_is_number(rate) && json_number_value(rate) >= 0)) &&
		  (!field || json_is_string(field)) && (!prefix || json_is_string(prefix)) &&
		  (!actor || json_is_string(actor));
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		ok = ok && (json_is_string(v) || json_is_integer(v));
	}
	if (!ok || !svc->ops->churn_edit) {
		json_decref(body);
		ctl_error(req, 400,
			  svc->ops->churn_edit ? "expected {\"ids\": [ids], \"edits\": int>=1, "
						 "\"rate\"?: "
						 "number>=0, \"field\"?: str, \"prefix\"?: str, "
						 "\"actor\"?: str}"
					       : "this service has no churn");
		return;
	}
	if (!svc->churn) {
		svc->churn = acs_xcalloc(1, sizeof(*svc->churn));
		svc->churn->svc = svc;
		acs_require(!uv_timer_init(svc->sim->loop, &svc->churn->timer));
	}
	struct sim_churn *c = svc->churn;
	if (c->running) {
		json_decref(body);
		ctl_error(req, 409, "a churn is running");
		return;
	}
	churn_clear(c);
	c->nids = json_array_size(ids);
	c->ids = acs_xcalloc(c->nids, sizeof(*c->ids));
	json_array_foreach(ids, i, v)
	{
		c->ids[i] = json_is_string(v)
				    ? acs_xstrdup(json_string_value(v))
				    : acs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	}
	c->field = acs_xstrdup(field ? json_string_value(field) : "");
	c->prefix = acs_xstrdup(prefix ? json_string_value(prefix) : "churn");
	c->actor = actor ? acs_xstrdup(json_string_value(actor)) : NULL;
	c->edits = (uint64_t)edits;
	c->rate = rate ? json_number_value(rate) : 0;
	c->t_us = acs_xcalloc((size_t)c->edits, sizeof(*c->t_us));
	c->t0_us = sim_wall_us();
	c->running = true;
	json_decref(body);
	uv_timer_start(&c->timer, churn_tick, 0, 0);
	sim_respond_json(req, 200,
			 json_pack("{s:b,s:I,s:I}", "started", 1, "edits", (json_int_t)c->edits,
				   "t0_us", (json_int_t)c->t0_us));
}

static void ctl_churn_get(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	struct sim_churn *c = svc->churn;
	if (!c || !c->t_us) {
		sim_respond_json(req, 200,
				 json_pack("{s:b,s:i,s:i}", "running", 0, "edits", 0, "done", 0));
		return;
	}
	json_t *t = json_array();
	for (uint64_t i = 0; i < c->done; i++)
		json_array_append_new(t, json_integer((json_int_t)c->t_us[i]));
	sim_respond_json(req, 200,
			 json_pack("{s:b,s:I,s:I,s:I,s:s,s:s,s:I,s:o}", "running", c->running,
				   "edits", (json_int_t)c->edits, "done", (json_int_t)c->done,
				   "failed", (json_int_t)c->failed, "field", c->field, "prefix",
				   c->prefix, "t0_us", (json_int_t)c->t0_us, "t_us", t));
}

static void ctl_info(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	sim_respond_json(req, 200, sim_info(svc->sim));
}

static void ctl_not_found(struct acs_http_req *req, void *arg)
{
	ctl_error(req, 404, "unknown control endpoint");
}

/* Without a service fallback: everything that is not routed is a 404. */
static void default_fallback(struct acs_http_req *req, void *arg)
{
	struct sim_service *svc = arg;
	if (is_control(acs_http_req_path(req))) {
		ctl_not_found(req, arg);
		return;
	}
	sim_respond_json(req, 404,
			 json_pack("{s:s,s:s,s:s}", "error", "not_found", "detail",
				   "no such path in this simulator", "service", svc->ops->name));
}

/* --- services --- */

struct sim_service *sim_service_new(struct sim *sim, const struct sim_service_ops *ops, void *impl,
				    char err[ACS_ERR_LEN])
{
	struct acs_http_server_opts o;
	acs_http_server_opts_defaults(&o);
	o.access_log = false;
	o.max_body_bytes = 64u << 20; /* attachments */
	o.read_timeout_ms = 60000;

	struct acs_http_server *srv = acs_http_server_new(sim->loop, &o, err);
	if (!srv)
		return NULL;
	struct sim_service *svc = acs_xcalloc(1, sizeof(*svc));
	svc->sim = sim;
	svc->ops = ops;
	svc->impl = impl;
	svc->srv = srv;
	acs_http_server_set_hook(srv, core_hook, svc);
	acs_http_server_set_fallback(srv, default_fallback, svc);
	acs_require(!acs_http_server_route(srv, "GET", "/_sim/requests", ctl_requests, svc));
	acs_require(!acs_http_server_route(srv, "GET", "/_sim/faults", ctl_faults_get, svc));
	acs_require(!acs_http_server_route(srv, "POST", "/_sim/faults", ctl_faults_post, svc));
	acs_require(!acs_http_server_route(srv, "DELETE", "/_sim/faults", ctl_faults_delete, svc));
	acs_require(!acs_http_server_route(srv, "GET", "/_sim/webhooks", ctl_webhooks_get, svc));
	acs_require(!acs_http_server_route(srv, "POST", "/_sim/webhooks", ctl_webhooks_post, svc));
	acs_require(!acs_http_server_route(srv, "POST", "/_sim/reset", ctl_reset, svc));
	acs_require(!acs_http_server_route(srv, "GET", "/_sim/info", ctl_info, svc));
	acs_require(!acs_http_server_route(srv, "POST", "/_sim/churn", ctl_churn_post, svc));
	acs_require(!acs_http_server_route(srv, "GET", "/_sim/churn", ctl_churn_get, svc));
	acs_require(!acs_http_server_route(srv, "*", "/_sim/*rest", ctl_not_found, svc));
	*sim->services_tail = svc;
	sim->services_tail = &svc->next;
	return svc;
}

int sim_service_listen(struct sim_service *svc, const char *address, char err[ACS_ERR_LEN])
{
	int rc = acs_http_server_listen(svc->srv, address, err);
	if (rc)
		return rc;
	svc->port = acs_http_server_port(svc->srv);
	snprintf(svc->origin, sizeof(svc->origin), "http://127.0.0.1:%d", svc->port);
	return 0;
}

int sim_service_port(const struct sim_service *svc)
{
	return svc->port;
}

const char *sim_service_origin(const struct sim_service *svc)
{
	return svc->origin;
}

struct sim *sim_service_sim(const struct sim_service *svc)
{
	return svc->sim;
}

int sim_service_route(struct sim_service *svc, const char *method, const char *pattern,
		      acs_http_handler_cb cb, void *arg)
{
	return acs_http_server_route(svc->srv, method, pattern, cb, arg);
}

void sim_service_set_fallback(struct sim_service *svc, acs_http_handler_cb cb, void *arg)
{
	acs_http_server_set_fallback(svc->srv, cb, arg);
}

/* --- webhook delivery --- */

static void dlv_free(struct sim_dlv *d)
{
	free(d->url);
	for (char **h = d->headers; h && *h; h++)
		free(*h);
	free(d->headers);
	free(d->body);
	free(d);
}

static struct sim_target *target_get(struct sim_service *svc, const char *name)
{
	for (struct sim_target *t = svc->targets; t; t = t->next)
		if (!strcmp(t->name, name))
			return t;
	struct sim_target *t = acs_xcalloc(1, sizeof(*t));
	t->name = acs_xstrdup(name);
	t->svc = svc;
	uv_timer_init(svc->sim->loop, &t->timer);
	t->next = svc->targets;
	svc->targets = t;
	return t;
}

/* Deliveries of one target started at once: seed <service>.webhook.concurrency
 * (default 1: one at a time, in order). Read at each pump, so a reset to a new
 * seed applies at once. */
static unsigned target_window(const struct sim_target *t)
{
	const struct sim_service *svc = t->svc;
	json_t *wh = json_object_get(sim_seed_part(svc->sim, svc->ops->name), "webhook");
	json_int_t n = json_integer_value(json_object_get(wh, "concurrency"));
	return n < 1 ? 1 : n > SIM_MAX_CONCURRENCY ? SIM_MAX_CONCURRENCY : (unsigned)n;
}

static void target_timer_cb(uv_timer_t *timer);

/* Run the pump from the loop soon (never from inside a handler), or again
 * when it is running now. */
static void target_kick(struct sim_target *t)
{
	if (t->pumping) {
		t->repump = true;
		return;
	}
	uv_timer_start(&t->timer, target_timer_cb, 0, 0);
}

static void dlv_unlink(struct sim_target *t, struct sim_dlv *d)
{
	struct sim_dlv **pp = &t->head, *prev = NULL;
	while (*pp && *pp != d) {
		prev = *pp;
		pp = &(*pp)->next;
	}
	if (!*pp)
		return;
	*pp = d->next;
	if (t->tail == d)
		t->tail = prev;
	d->next = NULL;
}

static void target_drop_queue(struct sim_target *t)
{
	while (t->head) {
		struct sim_dlv *d = t->head;
		t->head = d->next;
		if (d->inflight) {
			/* Freed by its completion callback. */
			d->canceled = true;
			t->canceled_inflight++;
			(void)acs_curl_loop_cancel(t->svc->sim->curl, d->curl_id);
		} else {
			dlv_free(d);
		}
	}
	t->tail = NULL;
}

static enum sim_verdict default_verdict(const struct sim_attempt *a)
{
	if (a->status >= 200 && a->status < 300)
		return SIM_DELIVERY_DONE;
	return a->attempt >= SIM_DEFAULT_ATTEMPTS ? SIM_DELIVERY_DONE : SIM_DELIVERY_RETRY;
}

/* Delivery d of t finished an attempt. */
static void attempt_result(struct sim_dlv *d, long status, int error, bool paused)
{
	struct sim_target *t = d->t;
	struct sim_service *svc = t->svc;
	uint64_t delay = d->retry_delay_ms;
	for (unsigned i = 1; i < d->attempt && delay < SIM_RETRY_MAX_MS; i++)
		delay *= 2;
	delay = ACS_MIN(delay, (uint64_t)SIM_RETRY_MAX_MS);
	struct sim_attempt a = {
		.target = t->name,
		.attempt = d->attempt,
		.status = status,
		.error = error,
		.elapsed_ms = uv_now(svc->sim->loop) - d->started,
		.paused = paused,
		.retry_delay_ms = &delay,
	};
	enum sim_verdict v = svc->ops->delivery_done ? svc->ops->delivery_done(svc->impl, &a)
						     : default_verdict(&a);
	switch (v) {
	case SIM_DELIVERY_RETRY:
		d->due = uv_now(svc->sim->loop) + delay;
		break;
	case SIM_DELIVERY_DROP_TARGET:
		target_drop_queue(t);
		break;
	case SIM_DELIVERY_DONE:
		dlv_unlink(t, d);
		dlv_free(d);
		break;
	}
	target_kick(t);
}

static void dlv_done(const struct acs_http_response *resp, void *arg)
{
	struct sim_dlv *d = arg;
	struct sim_target *t = d->t;
	struct sim *sim = t->svc->sim;

	d->inflight = false;
	if (sim->closing) {
		dlv_free(d);
		return;
	}
	if (d->canceled) {
		/* Already unlinked by a reset or a dropped target. */
		acs_require(t->canceled_inflight > 0);
		t->canceled_inflight--;
		dlv_free(d);
		target_kick(t);
		return;
	}
	attempt_result(d, resp->status, resp->error, false);
}

/* One attempt of d, now. Its result may come back at once (paused, or the
 * request could not start), which changes the queue. */
static void start_attempt(struct sim_target *t, struct sim_dlv *d)
{
	struct sim_service *svc = t->svc;
	d->attempt++;
	d->started = uv_now(svc->sim->loop);
	if (svc->paused) {
		attempt_result(d, 0, ACS_ETRANSPORT, true);
		return;
	}
	struct acs_http_request r = {
		.method = "POST",
		.url = d->url,
		.headers = (const char *const *)d->headers,
		.body = d->body,
		.body_len = d->len,
		.timeout_ms = d->timeout_ms,
		.connect_timeout_ms = d->timeout_ms,
		.max_response_bytes = 1u << 20,
	};
	int rc = acs_curl_loop_request(svc->sim->curl, &r, dlv_done, d, &d->curl_id);
	if (rc) {
		attempt_result(d, 0, rc, false);
		return;
	}
	d->inflight = true;
}

/* Slots of the window free for attempts: dropped attempts still in flight hold
 * theirs, so a queue started after a reset never overlaps them. */
static unsigned target_slots(const struct sim_target *t)
{
	unsigned window = target_window(t);
	return window > t->canceled_inflight ? window - t->canceled_inflight : 0;
}

/* Start every due delivery of the window that is not in flight (each at most
 * once per run: a zero retry delay waits for the next loop turn), then arm the
 * timer for the earliest one still waiting. */
static void target_pump(struct sim_target *t)
{
	struct sim_service *svc = t->svc;
	uint64_t gen = ++t->pump_gen;
	uv_timer_stop(&t->timer);
	t->pumping = true;
	do {
		t->repump = false;
		if (!t->head)
			break;
		if (svc->ops->target_live && !svc->ops->target_live(svc->impl, t->name)) {
			target_drop_queue(t);
			break;
		}
		unsigned slots = target_slots(t);
		uint64_t now = uv_now(svc->sim->loop);
		struct sim_dlv *d = t->head;
		for (unsigned i = 0; d && i < slots; i++, d = d->next) {
			if (d->inflight || d->due > now || d->pump_gen == gen)
				continue;
			d->pump_gen = gen;
			start_attempt(t, d);
			if (t->repump)
				break; /* the queue changed under us: walk it again */
		}
	} while (t->repump);
	t->pumping = false;

	if (!t->head)
		return;
	unsigned slots = target_slots(t);
	uint64_t now = uv_now(svc->sim->loop), next = UINT64_MAX;
	struct sim_dlv *d = t->head;
	for (unsigned i = 0; d && i < slots; i++, d = d->next) {
		if (!d->inflight)
			next = ACS_MIN(next, ACS_MAX(d->due, now));
	}
	if (next != UINT64_MAX)
		uv_timer_start(&t->timer, target_timer_cb, next - now, 0);
}

static void target_timer_cb(uv_timer_t *timer)
{
	target_pump(acs_container_of(timer, struct sim_target, timer));
}

int sim_service_deliver(struct sim_service *svc, const struct sim_delivery *dd)
{
	if (svc->sim->closing)
		return ACS_ECLOSED;
	struct sim_target *t = target_get(svc, dd->target);
	struct sim_dlv *d = acs_xcalloc(1, sizeof(*d));
	size_t n = 0;
	while (dd->headers && dd->headers[n])
		n++;
	d->t = t;
	d->url = acs_xstrdup(dd->url);
	d->headers = acs_xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		d->headers[i] = acs_xstrdup(dd->headers[i]);
	d->body = acs_xmalloc(dd->body_len + 1);
	memcpy(d->body, dd->body, dd->body_len);
	d->len = dd->body_len;
	d->timeout_ms = dd->timeout_ms ? dd->timeout_ms : 10000;
	d->retry_delay_ms = dd->retry_delay_ms ? dd->retry_delay_ms : 1000;
	if (t->tail)
		t->tail->next = d;
	else
		t->head = d;
	t->tail = d;
	target_kick(t);
	return 0;
}

size_t sim_service_pending_deliveries(const struct sim_service *svc)
{
	size_t n = 0;
	for (struct sim_target *t = svc->targets; t; t = t->next)
		for (struct sim_dlv *d = t->head; d; d = d->next)
			n++;
	return n;
}

static void targets_reset(struct sim_service *svc)
{
	for (struct sim_target *t = svc->targets; t; t = t->next) {
		uv_timer_stop(&t->timer);
		/* A canceled in-flight attempt still completes and holds its slot until
		 * then (target_slots). */
		target_drop_queue(t);
	}
}

/* --- teardown --- */

static void sim_maybe_finalize(struct sim *sim)
{
	if (!sim->closing || sim->pending)
		return;
	while (sim->services) {
		struct sim_service *svc = sim->services;
		sim->services = svc->next;
		if (svc->ops->free)
			svc->ops->free(svc->impl);
		log_clear(svc);
		free(svc->log);
		faults_clear(svc);
		if (svc->churn)
			churn_clear(svc->churn);
		free(svc->churn);
		while (svc->targets) {
			struct sim_target *t = svc->targets;
			svc->targets = t->next;
			free(t->name);
			free(t);
		}
		free(svc);
	}
	json_decref(sim->seed);
	void (*cb)(void *) = sim->closed_cb;
	void *arg = sim->closed_arg;
	free(sim);
	if (cb)
		cb(arg);
}

static void pending_done(struct sim *sim)
{
	acs_require(sim->pending > 0);
	sim->pending--;
	sim_maybe_finalize(sim);
}

static void handle_closed(uv_handle_t *h)
{
	struct sim *sim = h->data;
	pending_done(sim);
}

static void delayed_call_closed(uv_handle_t *h)
{
	struct sim_call *call = acs_container_of(h, struct sim_call, timer);
	struct sim *sim = call->svc->sim;
	call_free(call);
	pending_done(sim);
}

static void curl_closed(void *arg)
{
	pending_done(arg);
}

static void server_closed(void *arg)
{
	pending_done(arg);
}

void sim_close(struct sim *sim, void (*cb)(void *arg), void *arg)
{
	if (!sim || sim->closing)
		return;
	sim->closing = true;
	sim->closed_cb = cb;
	sim->closed_arg = arg;
	sim->pending = 1; /* held until every close below has started */

	for (struct sim_service *svc = sim->services; svc; svc = svc->next) {
		while (svc->calls) {
			struct sim_call *call = svc->calls;
			call_unlink(call);
			acs_http_req_set_data(call->req, NULL);
			if (call->delayed) {
				uv_timer_stop(&call->timer);
				acs_http_req_drop(call->req);
				sim->pending++;
				uv_close((uv_handle_t *)&call->timer, delayed_call_closed);
			} else {
				/* A handler still holds req: its answer goes straight out. */
				call_free(call);
			}
		}
		for (struct sim_target *t = svc->targets; t; t = t->next) {
			uv_timer_stop(&t->timer);
			while (t->head) {
				struct sim_dlv *d = t->head;
				t->head = d->next;
				if (!d->inflight)
					dlv_free(d);
				/* In-flight ones are freed by curl_loop_close's ECANCELED. */
			}
			t->tail = NULL;
			t->timer.data = sim;
			sim->pending++;
			uv_close((uv_handle_t *)&t->timer, handle_closed);
		}
	}
	for (struct sim_service *svc = sim->services; svc; svc = svc->next) {
		if (svc->churn) {
			churn_stop(svc->churn);
			svc->churn->timer.data = sim;
			sim->pending++;
			uv_close((uv_handle_t *)&svc->churn->timer, handle_closed);
		}
	}
	sim->pending++;
	acs_curl_loop_close(sim->curl, curl_closed, sim);
	for (struct sim_service *svc = sim->services; svc; svc = svc->next) {
		sim->pending++;
		acs_http_server_close(svc->srv, server_closed, sim);
	}
	pending_done(sim);
}
