/* SPDX-License-Identifier: MIT */
/* Simulator core shared by the API simulators (ClickUp, Azure DevOps): the
 * simulated world (seed, users, clock), one HTTP server per service, the
 * request log, fault injection, the /_sim/ control API and the webhook
 * delivery queue with retries. Service modules (sim_clickup.c, sim_ado.c)
 * plug in through struct sim_service_ops and only add their REST routes.
 *
 * DESIGN
 *   Every request to a service goes through the core's hook:
 *   1. /_sim/... paths are the control API: not logged, never faulted, no auth.
 *   2. Anything else is appended to the request log (status filled in when
 *      answered), then matched against the pending faults (the first match is
 *      consumed), then handed to ops->hook (auth, rate limits), then routed.
 *   Handlers must answer with sim_respond* / sim_drop (never acs_http_respond
 *   directly) so the log gets the status and a delay_ms fault can hold the
 *   answer back on a uv_timer. A delayed request has already changed the state
 *   when its answer finally goes out, like a slow real server.
 *
 *   Webhook deliveries are queued per target (one subscription): by default
 *   one attempt in flight per target, in order, so a receiver sees a target's
 *   events in the order they happened (the real services promise no order; the
 *   simulator is deterministic on purpose). The seed's <service>.webhook.
 *   concurrency (1..64) lets the first N queued deliveries of a target proceed
 *   at once, as real services deliver concurrently; each keeps its own attempts
 *   and retry delays, and the next queued one starts when one is done. After each attempt the service's
 *   ops->delivery_done decides: done, retry (after retry_delay_ms doubling per
 *   attempt, capped at a minute), drop this event, or drop every queued event
 *   of the target (suspended). While delivery is paused (POST /_sim/webhooks
 *   {"deliver": false}) attempts are not sent but count as failed attempts
 *   (status 0, ACS_ETRANSPORT), exactly as if the receiver were down, so the
 *   services' retry/suspension rules apply.
 *
 *   POST /_sim/reset on any port resets every service: state back to the
 *   seed, request logs, faults, queued deliveries and the pause flag.
 *
 * LIFECYCLE
 *   sim_new -> service modules call sim_service_new -> sim_service_listen ->
 *   uv_run ... -> sim_close (answers nothing more, cancels deliveries, closes
 *   every handle; frees everything in the last close callback, then cb).
 */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "http_server.h"
#include "mem.h"

struct sim;
struct sim_service;

/** After each delivery attempt, the service says what happens next. */
enum sim_verdict {
	SIM_DELIVERY_DONE = 0,	  /**< delivered (or given up for good): next event */
	SIM_DELIVERY_RETRY,	  /**< try this event again after the retry delay */
	SIM_DELIVERY_DROP_TARGET, /**< forget this and every queued event of the target */
};

/** What ops->delivery_done learns about one attempt. */
struct sim_attempt {
	const char *target;  /**< subscription id given to sim_service_deliver */
	unsigned attempt;    /**< 1 for the first attempt */
	long status;	     /**< HTTP status, 0 when none was received */
	int error;	     /**< 0 or ACS_ETIMEOUT / ACS_ETRANSPORT ... (curl_loop.h) */
	uint64_t elapsed_ms; /**< time the attempt took */
	bool paused;	     /**< not sent: delivery is paused (counts as a failure) */
	/** In/out: the delay before a SIM_DELIVERY_RETRY, preset to the doubling
	 *  one; delivery_done may set its own (not capped), e.g. ADO probation. */
	uint64_t *retry_delay_ms;
};

/** One webhook delivery (everything is copied by sim_service_deliver). */
struct sim_delivery {
	const char *target;	    /**< subscription id: per-target FIFO */
	const char *url;	    /**< http:// receiver */
	const char *const *headers; /**< "Name: value", NULL-terminated; may be NULL */
	const void *body;	    /**< raw body bytes (what a signature covers) */
	size_t body_len;
	uint64_t timeout_ms;	 /**< per attempt; a slower answer is a failure */
	uint64_t retry_delay_ms; /**< delay before the 2nd attempt; doubles after */
};

/** A service's plug-in points. Every callback may be NULL. impl is the
 *  pointer given to sim_service_new. */
struct sim_service_ops {
	const char *name; /**< "clickup", "ado": key of its part in /_sim/info */
	/** Its part of /_sim/info; returns a new reference. NULL: the seed's part. */
	json_t *(*info)(void *impl);
	/** Back to the seed state (the core already cleared log, faults, queue). */
	void (*reset)(void *impl);
	/** Auth, rate limits...: runs after logging and faults; return true when
	 *  it answered the request itself. */
	bool (*hook)(void *impl, struct acs_http_req *req);
	/** Body of an injected fault with this status (new reference); it may also
	 *  add headers to req. NULL: {"error": reason, "detail": "injected fault"}. */
	json_t *(*fault_body)(void *impl, struct acs_http_req *req, int status);
	/** Decide after each delivery attempt. NULL: 2xx done, else retry up to 5. */
	enum sim_verdict (*delivery_done)(void *impl, const struct sim_attempt *a);
	/** Before each attempt: false drops every queued event of the target
	 *  (subscription deleted, disabled or suspended meanwhile). */
	bool (*target_live)(void *impl, const char *target);
	/** Called at sim_close after every handle is closed: free impl. */
	void (*free)(void *impl);
	/** POST /_sim/churn: set field (service's name; "" = the title) of item id to
	 *  value exactly as the REST API's update would for the user of credential
	 *  actor (NULL: the default one): same state change, same webhooks. Returns
	 *  0, or -1 when the item or field does not exist. NULL: no churn. */
	int (*churn_edit)(void *impl, const char *id, const char *field, const char *value,
			  const char *actor);
};

/** The built-in seed document (JSON text, see sim_seed.c). */
const char *sim_default_seed(void);

/** Build the world from a seed file (JSON, see sim_seed.c for the format and
 *  the built-in default used when seed_path is NULL). loop is borrowed.
 *  Returns NULL with err on an unreadable or malformed seed. */
struct sim *sim_new(uv_loop_t *loop, const char *seed_path, char err[ACS_ERR_LEN]);
/** Close every service and handle; sim is freed after the last close
 *  callback, then cb(arg) runs (cb may be NULL). Idempotent. */
void sim_close(struct sim *sim, void (*cb)(void *arg), void *arg);

uv_loop_t *sim_loop(const struct sim *sim);
/** The whole seed document (borrowed, read-only, lives as long as sim). */
json_t *sim_seed(const struct sim *sim);
/** The seed's part for a service ({} when absent; borrowed). */
json_t *sim_seed_part(const struct sim *sim, const char *name);
/** Wall-clock Unix ms, strictly increasing across calls, so that two changes
 *  never share a timestamp (date_updated_gt filters stay deterministic). */
uint64_t sim_now_ms(struct sim *sim);
/** The same clock read without moving it: never behind the last sim_now_ms, which
 *  may be the same value. For times that need not be unique. */
uint64_t sim_clock_ms(const struct sim *sim);
/** Wall-clock Unix microseconds (CLOCK_REALTIME; not made increasing). */
uint64_t sim_wall_us(void);
/** The seeded users (borrowed array of {"name", "email", "ado_id",
 *  "clickup_id", ...}). */
json_t *sim_users(const struct sim *sim);
/** The whole /_sim/info document (new reference). */
json_t *sim_info(struct sim *sim);

/** Add a service. ops is borrowed (static), impl is owned by the service and
 *  released with ops->free at sim_close. Returns NULL with err on failure. */
struct sim_service *sim_service_new(struct sim *sim, const struct sim_service_ops *ops, void *impl,
				    char err[ACS_ERR_LEN]);
/** Bind "127.0.0.1:PORT" (0 = free port). Returns 0 or a UV_E* code with err. */
int sim_service_listen(struct sim_service *svc, const char *address, char err[ACS_ERR_LEN]);
/** Bound port, 0 before listen. */
int sim_service_port(const struct sim_service *svc);
/** "http://127.0.0.1:PORT" (borrowed; "" before listen). */
const char *sim_service_origin(const struct sim_service *svc);
struct sim *sim_service_sim(const struct sim_service *svc);
/** Route an API path (see acs_http_server_route). Returns 0 or ACS_EPARSE. */
int sim_service_route(struct sim_service *svc, const char *method, const char *pattern,
		      acs_http_handler_cb cb, void *arg);
/** Handler for API paths no route matches (404/405 in the service's style). */
void sim_service_set_fallback(struct sim_service *svc, acs_http_handler_cb cb, void *arg);

/* --- answering: every request of a service must finish with one of these --- */
/** Answer (body copied; may be NULL with len 0). */
void sim_respond(struct acs_http_req *req, int status, const char *content_type, const void *body,
		 size_t len);
/** Answer with JSON; takes ownership of body. */
void sim_respond_json(struct acs_http_req *req, int status, json_t *body);
/** Close the connection without an answer (logged with status 0). */
void sim_drop(struct acs_http_req *req);

/* --- JSON text written directly: the hot answers and webhook bodies are
 * written from cached parts instead of building a tree just to dump it, through
 * lib/json_codec (acs_json_append_string, acs_json_append): the same bytes as
 * acs_json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY) for the same value. --- */
/** Append s as a JSON string: quoted, escaped like the compact writer. */
void sim_json_str(struct acs_buf *b, const char *s);
void sim_json_strn(struct acs_buf *b, const char *s, size_t n);
/** Append text as it is. */
void sim_json_raw(struct acs_buf *b, const char *s);
void sim_json_int(struct acs_buf *b, json_int_t v);
/** Append v compact. skip: a key left out of the top-level object (NULL: none).
 *  Returns false (b unchanged past its old length) when v cannot be written. */
bool sim_json_value(struct acs_buf *b, const json_t *v, const char *skip_key);
/** Answer with b's JSON text (application/json) and free b's storage. */
void sim_respond_buf(struct acs_http_req *req, int status, struct acs_buf *b);

/* --- webhooks --- */
/** Queue a delivery (everything copied). Returns 0, or ACS_ECLOSED after
 *  sim_close. The result of each attempt goes to ops->delivery_done. */
int sim_service_deliver(struct sim_service *svc, const struct sim_delivery *d);
/** Deliveries queued or in flight, all targets. */
size_t sim_service_pending_deliveries(const struct sim_service *svc);

/* --- helpers --- */
/** Lowercase hex HMAC-SHA256 of data with key (any length): out gets 64
 *  characters and a NUL. */
void sim_hmac_sha256_hex(const char *key, size_t key_len, const void *data, size_t len,
			 char out[65]);
/** Random string of n characters from alphabet into out (n+1 bytes). */
void sim_random_string(char *out, size_t n, const char *alphabet);
/** Random RFC 4122 v4 UUID, lowercase (out: 37 bytes). */
void sim_random_uuid(char out[37]);
/** Parse a JSON body into an object; NULL unless the body is a JSON object. */
json_t *sim_req_json(struct acs_http_req *req);
