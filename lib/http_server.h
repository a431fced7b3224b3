/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 server on libuv + llhttp: connections, keep-alive, pipelining,
 * chunked and Content-Length bodies, Expect: 100-continue, limits and
 * timeouts, per-request ids and the access log. Routing is delegated to
 * router.h; handlers answer asynchronously (e.g. after a store commit).
 *
 * LIFECYCLE
 *   acs_http_server_new -> _route (any number) -> _listen -> ... ->
 *   _stop_accepting (graceful drain: in-flight requests still get answers)
 *   -> _close (all handles closed; the struct is freed in the last close
 *   callback, then cb runs).
 *
 * REQUESTS
 *   A handler receives a struct acs_http_req it must finish exactly once with
 *   one of the acs_http_respond* functions or acs_http_req_drop, now or later
 *   from any loop callback. The request stays valid until then even if the
 *   client went away (the answer is then discarded). Requests on one
 *   connection are answered in order: the next pipelined request is parsed
 *   only after the previous one was answered. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

struct acs_http_server;
struct acs_http_req;

struct acs_http_server_opts {
	size_t max_header_bytes;     /**< request line + headers; over -> 431 (default 16 KiB) */
	size_t max_body_bytes;	     /**< over -> 413 (default 4 MiB) */
	uint64_t read_timeout_ms;    /**< first byte to full request; over -> 408 + close (10 s) */
	uint64_t idle_timeout_ms;    /**< keep-alive idle between requests -> close (60 s) */
	unsigned max_connections;    /**< over -> accept and close at once (1024) */
	const char *trusted_proxies; /**< comma-separated IPs/CIDRs whose X-Forwarded-For is
				      *  honoured; NULL/empty = none. Copied. */
	bool access_log;	     /**< one info line per request (default true via _defaults) */
};

/** Fill opts with the defaults above. */
void acs_http_server_opts_defaults(struct acs_http_server_opts *opts);

/** Called for each routed request. The handler owns finishing req. */
typedef void (*acs_http_handler_cb)(struct acs_http_req *req, void *arg);
/** Called after _close has released everything. */
typedef void (*acs_http_server_closed_cb)(void *arg);

/** Create a server on loop. opts may be NULL for defaults; it is copied.
 *  Returns NULL and fills err on failure (bad trusted_proxies). */
struct acs_http_server *acs_http_server_new(uv_loop_t *loop,
					    const struct acs_http_server_opts *opts,
					    char err[ACS_ERR_LEN]);

/** Register a handler for method ("GET", "POST"...; "*" = any) and pattern
 *  ("/api/items/:id", "/assets/" followed by "*rest"). GET routes also answer HEAD.
 *  Returns 0 or ACS_EPARSE for a bad pattern. */
int acs_http_server_route(struct acs_http_server *srv, const char *method, const char *pattern,
			  acs_http_handler_cb cb, void *arg);

/** Handler for requests no route matches (instead of the built-in 404/405).
 *  Used by the simulators, which serve whole API trees. */
void acs_http_server_set_fallback(struct acs_http_server *srv, acs_http_handler_cb cb, void *arg);

/** Called for every parsed request before routing; it may finish the request
 *  itself (return true) or let routing continue (return false). Used by the
 *  simulators' fault injection and by auth middleware. */
typedef bool (*acs_http_hook_cb)(struct acs_http_req *req, void *arg);
void acs_http_server_set_hook(struct acs_http_server *srv, acs_http_hook_cb cb, void *arg);

/** Bind and listen on "host:port" ("127.0.0.1:8080", "[::1]:0", ":8080").
 *  Port 0 picks a free port (see _port). Returns 0 or a UV_E* code with err. */
int acs_http_server_listen(struct acs_http_server *srv, const char *address, char err[ACS_ERR_LEN]);
/** The bound port after a successful listen, else 0. */
int acs_http_server_port(const struct acs_http_server *srv);

/** Stop accepting; idle keep-alive connections are closed, connections with a
 *  request in progress are closed after their answer is written. */
void acs_http_server_stop_accepting(struct acs_http_server *srv);
/** Requests received and not yet answered. */
size_t acs_http_server_inflight(const struct acs_http_server *srv);
/** Open client connections. */
size_t acs_http_server_connections(const struct acs_http_server *srv);
/** Close the listener and every connection now (unanswered requests are
 *  discarded; their handlers may still respond: it is a no-op, and their
 *  close callbacks run). Frees srv once every handle is closed, then calls cb
 *  (may be NULL), always from a later loop callback. Idempotent until then;
 *  srv must not be used after cb. Processes should ignore SIGPIPE: writes
 *  to vanished clients then fail with EPIPE instead of killing them. */
void acs_http_server_close(struct acs_http_server *srv, acs_http_server_closed_cb cb, void *arg);

/* --- request accessors (borrowed strings, valid until the request is finished) --- */
const char *acs_http_req_method(const struct acs_http_req *req);
/** Decoded path without the query string. */
const char *acs_http_req_path(const struct acs_http_req *req);
/** Raw query string without '?', "" when absent. */
const char *acs_http_req_query_string(const struct acs_http_req *req);
/** First query parameter named name, percent- and '+'-decoded; NULL if absent. */
const char *acs_http_req_query(struct acs_http_req *req, const char *name);
/** Path parameter from the route pattern (":id" -> "id"); NULL if absent. */
const char *acs_http_req_param(const struct acs_http_req *req, const char *name);
/** First header named name (case-insensitive); NULL if absent. */
const char *acs_http_req_header(const struct acs_http_req *req, const char *name);
/** Iterate headers: returns false past the end. */
bool acs_http_req_header_at(const struct acs_http_req *req, size_t i, const char **name,
			    const char **value);
/** Body bytes (NUL-terminated for convenience; len excludes the NUL). */
const char *acs_http_req_body(const struct acs_http_req *req, size_t *len);
/** Per-request id (also sent back as X-Request-Id). */
const char *acs_http_req_id(const struct acs_http_req *req);
/** Client address: the peer, or the X-Forwarded-For client when the peer is
 *  a trusted proxy. */
const char *acs_http_req_client_ip(const struct acs_http_req *req);
/** Peer address of the TCP connection (ignores X-Forwarded-For). */
const char *acs_http_req_peer_ip(const struct acs_http_req *req);
/** Microseconds since the request's first byte arrived. */
uint64_t acs_http_req_elapsed_us(const struct acs_http_req *req);
/** Handler-owned pointer carried with the request. */
void acs_http_req_set_data(struct acs_http_req *req, void *data);
void *acs_http_req_get_data(const struct acs_http_req *req);

/* --- answering (each finishes req: it must not be used afterwards) --- */
/** Add a response header before answering (copied). */
void acs_http_req_add_header(struct acs_http_req *req, const char *name, const char *value);
/** Answer with status and body (copied; may be NULL with len 0). */
void acs_http_respond(struct acs_http_req *req, int status, const char *content_type,
		      const void *body, size_t len);
/** Answer with a JSON document; takes ownership of (decrefs) body. */
void acs_http_respond_json(struct acs_http_req *req, int status, json_t *body);
/** Answer {"error": error, "detail": detail} (detail may be NULL). */
void acs_http_respond_error(struct acs_http_req *req, int status, const char *error,
			    const char *detail);
/** Close the connection without answering (simulated network failure). */
void acs_http_req_drop(struct acs_http_req *req);

/** Reason phrase for a status code ("Not Found"). */
const char *acs_http_status_text(int status);

/* --- streaming answers (server-sent events, long downloads) --- */
/** Called once when the client connection goes away (or the server closes)
 *  before req was finished. req is still valid and must still be finished
 *  (acs_http_stream_end or any acs_http_respond*: they then only free it). */
typedef void (*acs_http_req_close_cb)(struct acs_http_req *req, void *arg);
/** Set (or clear with NULL) the disconnect callback of req. */
void acs_http_req_set_close_cb(struct acs_http_req *req, acs_http_req_close_cb cb, void *arg);
/** True once the client of req went away (the answer will be discarded). */
bool acs_http_req_client_gone(const struct acs_http_req *req);
/** Send the status line and headers with Transfer-Encoding: chunked; the
 *  request is not finished: continue with _stream_write and _stream_end.
 *  Returns 0 or ACS_ECLOSED when the client is gone. */
int acs_http_respond_stream_begin(struct acs_http_req *req, int status, const char *content_type);
/** Send len bytes (copied) as one chunk. Returns 0, ACS_ECLOSED when the
 *  client is gone, or ACS_ETOOBIG when more than 1 MiB is already waiting
 *  for a slow client (the data is dropped; the stream stays usable). */
int acs_http_stream_write(struct acs_http_req *req, const void *data, size_t len);
/** Send the last chunk and finish req (it must not be used afterwards). */
void acs_http_stream_end(struct acs_http_req *req);

#ifdef ACS_UNIT_TEST
/** Test hook: 1 when ip is covered by the trusted_proxies-style list, 0 when
 *  not, ACS_ECONFIG for a bad list. */
int acs__http_trusted_contains(const char *list, const char *ip);
/** Test hook (fuzzing without a listener): serve fd, a connected stream
 *  socket such as one end of a socketpair(), as if just accepted. peer_ip
 *  (may be NULL) stands in for the peer address. Returns 0 (the server now
 *  owns fd) or a UV_E* code (fd is left open). */
int acs__http_server_adopt(struct acs_http_server *srv, uv_os_sock_t fd, const char *peer_ip);
/** Test hook: hand data to the newest connection as if one read of its
 *  socket returned it (at most one read buffer, 64 KiB). Returns the bytes
 *  taken, UV_EAGAIN while the connection does not read (backpressure), or
 *  ACS_ECLOSED when it is closing or there is none. */
int acs__http_server_inject(struct acs_http_server *srv, const char *data, size_t len);
#endif
