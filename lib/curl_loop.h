/* SPDX-License-Identifier: MIT */
/* Outbound HTTP on the libuv loop: one libcurl multi handle driven by uv_poll
 * (one per socket) and one uv_timer, behind an asynchronous request API whose
 * completion callback runs exactly once, always from the loop. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"

/*
 * DESIGN
 *   The multi handle keeps the connection cache, so sequential requests to
 *   one host reuse a keep-alive connection, and HTTP/2 (negotiated over TLS
 *   with ALPN) multiplexes concurrent requests on one connection. At most
 *   ACS_CURL_MAX_HOST_CONNECTIONS connections are opened per host; extra
 *   transfers wait in libcurl's queue (their timeout keeps running).
 *
 *   Transport policy, the same for every request:
 *   - TLS peer and host verification are always on. acs_curl_loop_set_ca()
 *     only replaces the trust store.
 *   - Proxies come from the environment as libcurl reads it (http_proxy,
 *     https_proxy, all_proxy, no_proxy; uppercase HTTP_PROXY is ignored on
 *     purpose by libcurl). This module never sets or disables a proxy.
 *   - Only http:// and https:// URLs; redirects are not followed (the
 *     caller sees the 3xx), so credentials never travel to another host.
 *   - "Accept-Encoding: gzip" (decoded transparently), "User-Agent:
 *     ado-clickup-sync/<version>", no "Expect: 100-continue" unless the caller
 *     adds it, CURLOPT_NOSIGNAL.
 *   - Response headers and body are kept in bounded buffers; going past
 *     max_response_bytes (body) or ACS_CURL_MAX_HEADER_BYTES (headers) fails
 *     the transfer with ACS_ETOOBIG.
 *
 *   Logging: a finished transfer is logged at debug level with the method
 *   and the URL stripped of userinfo and query; request headers (and so
 *   Authorization) are never logged. Failures of the loop machinery itself
 *   are logged at error level. Callers log request failures where they
 *   handle them.
 *
 * LIFECYCLE
 *   acs_curl_loop_new -> acs_curl_loop_request (any number, any time, also
 *   from completion callbacks) -> acs_curl_loop_close. Close cancels what is
 *   in flight (each callback gets ACS_ECANCELED), tears libcurl down first,
 *   then closes the timer and the socket handles; the struct is freed in the
 *   last close callback and the close callback runs after that.
 */

#define ACS_CURL_MAX_HOST_CONNECTIONS 16	  /**< parallel connections per host */
#define ACS_CURL_MAX_CONNECTS 64		  /**< idle connections kept in the cache */
#define ACS_CURL_DEFAULT_TIMEOUT_MS 30000	  /**< whole-transfer timeout when 0 is given */
#define ACS_CURL_DEFAULT_CONNECT_TIMEOUT_MS 10000 /**< connect (incl. TLS) timeout when 0 */
#define ACS_CURL_DEFAULT_MAX_RESPONSE (16u << 20) /**< body ceiling when 0 is given */
#define ACS_CURL_MAX_HEADER_BYTES (64u << 10)	  /**< ceiling on stored response headers */

struct acs_curl_loop;
struct acs_curl_stream;

/** One outbound request. acs_curl_loop_request copies the struct and
 *  everything it points to; nothing needs to outlive that call. */
struct acs_http_request {
	const char *method;	     /**< "GET", "POST", "PATCH"...: [A-Z_-], 1-32 chars */
	const char *url;	     /**< http:// or https:// */
	const char *const *headers;  /**< "Name: value" strings, NULL-terminated; may be NULL.
				      *  "Name:" removes a header libcurl would add. */
	const void *body;	     /**< request body (may be NULL when body_len is 0); set
				      *  Content-Type in headers, libcurl's default for a
				      *  body is application/x-www-form-urlencoded */
	size_t body_len;	     /**< sent with Content-Length for POST/PUT/PATCH... */
	uint64_t timeout_ms;	     /**< whole transfer, queueing included; 0 = default */
	uint64_t connect_timeout_ms; /**< 0 = ACS_CURL_DEFAULT_CONNECT_TIMEOUT_MS */
	size_t max_response_bytes;   /**< decoded body ceiling; 0 = ACS_CURL_DEFAULT_MAX_RESPONSE */
	/* Optional streaming (see acs_curl_sink_cb / acs_curl_source_cb); NULL keeps the
	 * buffered behaviour above. */
	struct acs_curl_stream *stream; /**< borrowed until the completion callback ran */
};

/** A stream callback's "not now": the transfer pauses until acs_curl_loop_resume(). */
#define ACS_CURL_STREAM_PAUSE ((size_t)-1)
/** A source's "give up": the transfer fails with ACS_ETRANSPORT. */
#define ACS_CURL_STREAM_ABORT ((size_t)-2)

/** Response body sink: gets the decoded body of a 2xx answer chunk by chunk, in order,
 *  instead of it being kept (resp->body is then ""; other statuses keep theirs as
 *  usual, for the error text). Return len to take the whole chunk, or
 *  ACS_CURL_STREAM_PAUSE to refuse it for now: the same bytes come again after
 *  acs_curl_loop_resume(). max_response_bytes still bounds the total. Runs on the loop,
 *  possibly from inside acs_curl_loop_resume(). */
typedef size_t (*acs_curl_sink_cb)(const char *data, size_t len, void *arg);
/** Request body source: copy at most len bytes into buf and return the count (0 = end;
 *  the total must be the request's body_len), ACS_CURL_STREAM_PAUSE when no byte is
 *  ready (call acs_curl_loop_resume() once some are) or ACS_CURL_STREAM_ABORT. With buf
 *  NULL it must start over from the first byte (libcurl resends a body when a reused
 *  connection turned out dead): return 0, or ACS_CURL_STREAM_ABORT when it cannot. */
typedef size_t (*acs_curl_source_cb)(char *buf, size_t len, void *arg);

/** Streaming hooks of one request; body must be NULL when source is set. */
struct acs_curl_stream {
	acs_curl_sink_cb sink;	   /**< NULL: the body is buffered */
	acs_curl_source_cb source; /**< NULL: the body comes from body/body_len */
	void *arg;
};

/** Continue a transfer paused by a stream callback. Returns 0 or ACS_ENOTFOUND (not in
 *  flight any more). The sink may run before this returns. */
int acs_curl_loop_resume(struct acs_curl_loop *cl, uint64_t id);

/** What a completion callback receives. Valid only during the callback:
 *  copy what you keep. */
struct acs_http_response {
	uint64_t id;		   /**< the id acs_curl_loop_request returned */
	int error;		   /**< 0 (a status was received, whatever it is), or
				    *  ACS_ETIMEOUT, ACS_ETRANSPORT (connect, TLS, reset,
				    *  dropped), ACS_ETOOBIG, ACS_ECANCELED (cancel or close),
				    *  -EINVAL (malformed URL or unsupported scheme),
				    *  -ENOMEM */
	long status;		   /**< HTTP status, 0 when none was received */
	const char *error_message; /**< libcurl's CURLOPT_ERRORBUFFER text, "" when error is 0 */
	const char *body;	   /**< decoded body, NUL-terminated; "" when error != 0 */
	size_t body_len;	   /**< bytes in body, without the NUL */
	double total_time;	   /**< seconds from start to completion (libcurl's clock) */
	long num_connects;	   /**< new connections this transfer opened (0 = reused) */
	const char *hdr_data;	   /**< internal: use acs_http_response_header() */
	size_t hdr_len;		   /**< internal */
};

/** Completion callback: called exactly once per accepted request, always
 *  from a loop callback, never from inside acs_curl_loop_request. It may
 *  start new requests, cancel others, or close the curl_loop. */
typedef void (*acs_curl_done_cb)(const struct acs_http_response *resp, void *arg);
/** Called once the curl_loop has been freed by acs_curl_loop_close. */
typedef void (*acs_curl_loop_closed_cb)(void *arg);

/** Create a curl_loop on loop (borrowed: must outlive the curl_loop).
 *  Returns NULL and fills err when libcurl cannot be initialised. */
struct acs_curl_loop *acs_curl_loop_new(uv_loop_t *loop, char err[ACS_ERR_LEN]);

/** Replace the trust store for later requests: a CA bundle file and/or a
 *  hashed certificate directory (each copied; NULL keeps libcurl's default).
 *  Verification stays on. Returns 0 or ACS_ECLOSED. */
int acs_curl_loop_set_ca(struct acs_curl_loop *cl, const char *ca_file, const char *ca_path);

/** Start req. The struct and all it points to are copied. On success returns
 *  0, stores the transfer id in *out_id (optional) and cb(resp, arg) will run
 *  exactly once later. On failure returns -EINVAL (bad method, header with
 *  CR/LF, NULL url), ACS_ECLOSED (after acs_curl_loop_close) or -ENOMEM, and
 *  cb is never called. arg is borrowed until cb returns. */
int acs_curl_loop_request(struct acs_curl_loop *cl, const struct acs_http_request *req,
			  acs_curl_done_cb cb, void *arg, uint64_t *out_id);

/** Cancel transfer id: its callback will run (asynchronously) with
 *  ACS_ECANCELED. Returns 0, or ACS_ENOTFOUND when id already completed,
 *  is already canceled, or never existed. */
int acs_curl_loop_cancel(struct acs_curl_loop *cl, uint64_t id);

/** Requests accepted whose callback has not run yet. */
size_t acs_curl_loop_active(const struct acs_curl_loop *cl);

/** Cancel every in-flight transfer (callbacks get ACS_ECANCELED), clean up
 *  libcurl, close all handles and free cl in the last close callback, then
 *  call cb(arg) (cb may be NULL). Idempotent: later calls do nothing (their
 *  cb is not called). cl must not be used after this call except for
 *  acs_curl_loop_request/_cancel/_active from pending completion callbacks
 *  (they fail with ACS_ECLOSED / ACS_ENOTFOUND). */
void acs_curl_loop_close(struct acs_curl_loop *cl, acs_curl_loop_closed_cb cb, void *arg);

/** First response header named name (case-insensitive), value trimmed;
 *  NULL if absent. Borrowed from resp: valid during the callback. Only the
 *  final response's headers are kept (not 100 Continue or a proxy's). */
const char *acs_http_response_header(const struct acs_http_response *resp, const char *name);
/** Iterate response headers in order: false past the end. */
bool acs_http_response_header_at(const struct acs_http_response *resp, size_t i, const char **name,
				 const char **value);
