/* SPDX-License-Identifier: MIT */
/* The REST call pipeline both service clients share: queue behind the
 * service's rate-limit governor, send through curl_loop with the service's
 * auth header, feed the limit headers back to the governor, retry what is
 * retryable a bounded number of times, parse JSON and classify the outcome
 * (ok / retryable / conflict / permanent) with the service's own message.
 *
 * LIFECYCLE
 *   acs_rest_new -> acs_rest_request (any number) -> acs_rest_close (queued
 *   and in-flight calls complete with ACS_ECANCELED, the timer closes, the
 *   struct is freed, then the close callback runs). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "curl_loop.h"
#include "governor.h"

struct acs_rest;

/** How a caller should treat a finished call. */
enum acs_rest_class {
	ACS_REST_OK = 0,	/**< 2xx */
	ACS_REST_RETRYABLE = 1, /**< 429, 5xx, timeouts, resets: try again later */
	ACS_REST_CONFLICT = 2,	/**< 409/412: refetch, re-merge, retry */
	ACS_REST_PERMANENT = 3, /**< other 4xx, bad input: do not retry */
};

/** Extracts the service's error text from an error body (ClickUp's
 *  {"err","ECODE"}, ADO's {"message","typeKey"}). body may be NULL (not
 *  JSON); raw is the body text. Writes a NUL-terminated message into out. */
typedef void (*acs_rest_error_text_cb)(const json_t *body, const char *raw, long status, char *out,
				       size_t outlen);

struct acs_rest_opts {
	const char *name;	 /**< "clickup", "ado": logs and metrics; copied */
	const char *base_url;	 /**< prefix of relative paths, no trailing '/'; copied */
	const char *auth_header; /**< full "Authorization: ..." line; copied, never logged */
	enum acs_governor_service preset;	  /**< governor defaults for this service */
	const struct acs_governor_opts *governor; /**< overrides the preset when not NULL */
	uint64_t timeout_ms;			  /**< per attempt (0 = 30 s) */
	unsigned max_attempts;			  /**< attempts for retryable failures (0 = 3) */
	uint64_t max_wait_ms; /**< give up waiting for the governor after this (0 = 5 min) */
	acs_rest_error_text_cb error_text; /**< NULL: looks for "err", "message", "error" */
};

/** Sees every body byte of a streamed call in order (e.g. for a digest), on the loop.
 *  (NULL, 0) means the bytes seen so far are void: a new attempt starts from byte 0. */
typedef void (*acs_rest_bytes_cb)(const void *data, size_t len, void *arg);

/** Stream the body of a 2xx answer into a file instead of memory. The bytes are
 *  written from offset 0 with uv_fs_write on libuv's thread pool (never on the loop),
 *  through two bounded buffers (ACS_REST_STREAM_BUF each); the transfer pauses while
 *  both are full. The completion callback runs only once every write finished. Past
 *  the file's last byte may be left over from an earlier attempt: use
 *  acs_rest_result.file_bytes, not the file size. */
struct acs_rest_download {
	uv_file fd;		 /**< open for writing; borrowed until the callback ran */
	acs_rest_bytes_cb bytes; /**< optional: every byte taken, in order */
	void *bytes_arg;
};

/** Send head + len bytes of a file (from offset) + tail as the request body, read with
 *  uv_fs_read on the thread pool ACS_REST_STREAM_BUF at a time, never the whole file.
 *  Content-Length is head_len + len + tail_len. head and tail are copied. */
struct acs_rest_upload {
	uv_file fd; /**< open for reading; borrowed until the callback ran */
	int64_t offset;
	uint64_t len;
	const void *head;
	size_t head_len;
	const void *tail;
	size_t tail_len;
};

/** Buffer size of a streamed call (two of them per call). */
#define ACS_REST_STREAM_BUF (256u << 10)

/** One call. Everything is copied by acs_rest_request. */
struct acs_rest_call {
	const char *method;	  /**< "GET", "POST", "PUT", "PATCH", "DELETE" */
	const char *path;	  /**< appended to base_url, or an absolute http(s) URL */
	const char *content_type; /**< for the body; NULL = application/json when a body
					 *  is given */
	const void *body;
	size_t body_len;
	const char *const *headers;  /**< extra "Name: value" lines, NULL-terminated, or NULL */
	enum acs_governor_class cls; /**< interactive (default) or background */
	size_t max_response_bytes;   /**< 0 = curl_loop's default */
	bool raw;		     /**< do not parse the body as JSON (downloads) */
	const struct acs_rest_download *download; /**< stream a 2xx body to a file (implies
						   *  raw); copied */
	const struct acs_rest_upload *upload;	  /**< body from a file; body/body_len must be
					       *  unset; copied */
	uint64_t timeout_ms; /**< per attempt; 0 = the pipeline's (large files need more) */
};

/** What the completion callback gets; valid only during the callback. */
struct acs_rest_result {
	enum acs_rest_class cls;
	int error;	     /**< 0, or ACS_EHTTP (status says which), ACS_ETIMEOUT,
				  *  ACS_ETRANSPORT, ACS_ETOOBIG, ACS_ECANCELED, ACS_EPARSE
				  *  (2xx body is not JSON), ACS_ERATELIMIT, ACS_EAUTH,
				  *  ACS_ENOTFOUND, ACS_ECONFLICT */
	long status;	     /**< HTTP status, 0 when none */
	const char *message; /**< the service's error text or transport error; "" when ok */
	json_t *json;	     /**< parsed body (borrowed; NULL when empty, raw or not JSON) */
	const char *body;    /**< raw body, NUL-terminated */
	size_t body_len;
	const struct acs_http_response *response; /**< headers etc.; NULL when never sent,
						   *  and for a download or upload call */
	unsigned attempts;			  /**< requests sent for this call */
	uint64_t file_bytes; /**< streamed download: body bytes written to the file */
};

typedef void (*acs_rest_done_cb)(const struct acs_rest_result *res, void *arg);
typedef void (*acs_rest_closed_cb)(void *arg);

/** New pipeline on loop using cl (both borrowed, must outlive it). Returns
 *  NULL with err on a bad option. */
struct acs_rest *acs_rest_new(uv_loop_t *loop, struct acs_curl_loop *cl,
			      const struct acs_rest_opts *opts, char err[ACS_ERR_LEN]);

/** Queue a call. cb (required) runs exactly once, always asynchronously.
 *  arg is borrowed until then. Returns 0, ACS_ECLOSED after close, or
 *  -EINVAL for a bad call (then cb is never called). */
int acs_rest_request(struct acs_rest *r, const struct acs_rest_call *call, acs_rest_done_cb cb,
		     void *arg);

/** Calls queued or in flight. */
size_t acs_rest_pending(const struct acs_rest *r);
/** Budget left in the service's current window (-1 unknown), for metrics. */
int64_t acs_rest_budget_left(const struct acs_rest *r);
/** The governor's counters. */
void acs_rest_stats(const struct acs_rest *r, struct acs_governor_stats *out);
const char *acs_rest_name(const struct acs_rest *r);

/** Cancel everything (callbacks get ACS_ECANCELED), free r after its timer
 *  closed, then cb (may be NULL). Idempotent. Safe from a done callback. */
void acs_rest_close(struct acs_rest *r, acs_rest_closed_cb cb, void *arg);

/** Class for an HTTP status (0 = transport failure). */
enum acs_rest_class acs_rest_classify(long status, int transport_error);
/** "ok", "retryable", "conflict", "permanent". */
const char *acs_rest_class_name(enum acs_rest_class cls);

/** Percent-encode s for a URL path segment or query value into a new heap
 *  string (unreserved characters kept). */
char *acs_rest_escape(const char *s);
