/* SPDX-License-Identifier: MIT */
/* The REST pipeline: governor queue, send, learn, retry, classify. */
#include "rest.h"

#include <ctype.h>
#include <sodium.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"

#define DEFAULT_TIMEOUT_MS 30000
#define DEFAULT_MAX_ATTEMPTS 3
#define DEFAULT_MAX_WAIT_MS (5 * 60 * 1000)
#define MAX_EXTRA_HEADERS 32

struct stream;

/* One call from acs_rest_request to its callback. It is on exactly one of
 * r->queue (waiting for the governor) or r->inflight (sent). */
struct call {
	struct call *prev, *next; /**< rest::queue or rest::inflight */
	struct acs_rest *r;
	char *method;
	char *url;
	char *headers[MAX_EXTRA_HEADERS + 4]; /**< NULL-terminated, owned */
	void *body;
	size_t body_len;
	enum acs_governor_class cls;
	size_t max_response_bytes;
	bool raw;
	acs_rest_done_cb cb;
	void *arg;
	unsigned attempts;
	uint64_t queued_at; /**< loop time of acs_rest_request */
	uint64_t curl_id;
	uint64_t timeout_ms;   /**< per attempt, 0 = the pipeline's */
	struct stream *stream; /**< file download or upload, or NULL */
};

/*
 * STREAMS
 *   A call with a download or upload moves file bytes between libcurl's callbacks and
 *   uv_fs requests on the thread pool, one request in flight at a time and at most two
 *   ACS_REST_STREAM_BUF buffers per call. When libcurl asks for bytes that are not
 *   there yet (or brings bytes there is no room for), the transfer pauses and the fs
 *   completion resumes it. Each attempt bumps gen: a request of an earlier attempt
 *   still in flight is let finish and its result ignored. The call's callback waits
 *   until no fs request is in flight (the fd is the caller's again after it) and, for a
 *   download, until every byte is written.
 */
struct stream {
	struct call *c;
	bool down; /**< download (else upload) */
	uv_file fd;
	unsigned gen; /**< attempt number: stale fs results are ignored */
	bool in_curl; /**< the attempt's transfer is in flight (resume allowed) */
	bool paused;  /**< a curl callback answered PAUSE */
	bool in_cb;   /**< inside a curl callback: no cancel or resume from here */
	bool busy;    /**< req is in flight */
	unsigned busy_gen;
	int io_error; /**< first fs failure of the call (negative), 0 = none */
	uv_fs_t req;
	/* download */
	acs_rest_bytes_cb bytes;
	void *bytes_arg;
	char *fill; /**< bytes taken, not yet written */
	size_t fill_len;
	char *wbuf; /**< being written */
	size_t wbuf_len;
	uint64_t woff;	  /**< file offset of the next write */
	uint64_t written; /**< bytes of this attempt on disk */
	/* upload */
	int64_t offset;
	uint64_t flen;
	char *head, *tail;
	size_t head_len, tail_len;
	uint64_t pos;  /**< body bytes handed to libcurl this attempt */
	uint64_t fpos; /**< next file byte to read (relative to offset) */
	char *rbuf;
	size_t rlen, roff; /**< bytes read / already handed out */
	/* completion held back until the fs request is done */
	bool finishing;
	struct acs_rest_result res;
	char msg[512];
	json_t *json; /**< the held result's parsed body (owned) */
	char *body;   /**< the held result's body (owned) */
};

struct list {
	struct call *head, *tail;
};

struct acs_rest {
	uv_loop_t *loop;
	struct acs_curl_loop *cl;
	struct acs_governor *gov;
	char *name;
	char *base_url;
	char *auth_header;
	uint64_t timeout_ms;
	unsigned max_attempts;
	uint64_t max_wait_ms;
	acs_rest_error_text_cb error_text;
	struct list queue;    /**< waiting for the governor, FIFO */
	struct list inflight; /**< sent, waiting for curl */
	size_t pending;	      /**< calls on either list */
	uv_timer_t timer;     /**< runs pump(): never call back from inside a request */
	bool closing;
	acs_rest_closed_cb closed_cb;
	void *closed_arg;
};

static void list_push_tail(struct list *l, struct call *c)
{
	c->next = NULL;
	c->prev = l->tail;
	if (l->tail)
		l->tail->next = c;
	else
		l->head = c;
	l->tail = c;
}

static void list_push_head(struct list *l, struct call *c)
{
	c->prev = NULL;
	c->next = l->head;
	if (l->head)
		l->head->prev = c;
	else
		l->tail = c;
	l->head = c;
}

static void list_remove(struct list *l, struct call *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		l->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		l->tail = c->prev;
	c->prev = c->next = NULL;
}

const char *acs_rest_class_name(enum acs_rest_class cls)
{
	switch (cls) {
	case ACS_REST_OK:
		return "ok";
	case ACS_REST_RETRYABLE:
		return "retryable";
	case ACS_REST_CONFLICT:
		return "conflict";
	case ACS_REST_PERMANENT:
		return "permanent";
	}
	return "?";
}

enum acs_rest_class acs_rest_classify(long status, int transport_error)
{
	if (transport_error)
		return transport_error == ACS_ETOOBIG || transport_error == -EINVAL
			       ? ACS_REST_PERMANENT
			       : ACS_REST_RETRYABLE;
	if (status >= 200 && status < 300)
		return ACS_REST_OK;
	if (status == 429 || status >= 500 || status == 408)
		return ACS_REST_RETRYABLE;
	if (status == 409 || status == 412)
		return ACS_REST_CONFLICT;
	return ACS_REST_PERMANENT;
}

static int error_code(long status, int transport_error)
{
	if (transport_error)
		return transport_error;
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 401:
	case 403:
		return ACS_EAUTH;
	case 404:
		return ACS_ENOTFOUND;
	case 409:
	case 412:
		return ACS_ECONFLICT;
	case 429:
		return ACS_ERATELIMIT;
	default:
		return ACS_EHTTP;
	}
}

/* Default error text: the first string among the usual keys. */
static void default_error_text(const json_t *body, const char *raw, long status, char *out,
			       size_t outlen)
{
	static const char *const keys[] = { "err", "message", "error", "detail" };
	for (size_t i = 0; body && i < ACS_ARRAY_SIZE(keys); i++) {
		const char *s = json_string_value(json_object_get(body, keys[i]));
		if (s && *s) {
			snprintf(out, outlen, "%s", s);
			return;
		}
	}
	if (raw && *raw)
		snprintf(out, outlen, "HTTP %ld: %.200s", status, raw);
	else
		snprintf(out, outlen, "HTTP %ld", status);
}

char *acs_rest_escape(const char *s)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 20);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~')
			(void)acs_buf_append(&b, p, 1);
		else
			(void)acs_buf_printf(&b, "%%%02X", *p);
	}
	return acs_buf_steal(&b, NULL);
}

/* --- completion ----------------------------------------------------------- */

static void stream_free(struct stream *s)
{
	if (!s)
		return;
	free(s->fill);
	free(s->wbuf);
	free(s->rbuf);
	free(s->head);
	free(s->tail);
	json_decref(s->json);
	free(s->body);
	free(s);
}

static void call_free(struct call *c)
{
	stream_free(c->stream);
	free(c->method);
	free(c->url);
	for (size_t i = 0; c->headers[i]; i++)
		free(c->headers[i]);
	/* Bodies can carry secrets (webhook passwords): do not leave them in
	 * freed memory. */
	if (c->body)
		sodium_memzero(c->body, c->body_len);
	free(c->body);
	free(c);
}

static void maybe_finish_close(struct acs_rest *r);

static void finish(struct call *c, const struct acs_rest_result *res)
{
	struct acs_rest *r = c->r;
	r->pending--;
	c->cb(res, c->arg);
	call_free(c);
	maybe_finish_close(r);
}

static void finish_error(struct call *c, enum acs_rest_class cls, int error, const char *msg)
{
	struct acs_rest_result res = {
		.cls = cls,
		.error = error,
		.message = msg,
		.body = "",
		.attempts = c->attempts,
	};
	finish(c, &res);
}

static void schedule(struct acs_rest *r, uint64_t delay_ms)
{
	/* Keep the earlier deadline when the timer is already due sooner. */
	if (uv_is_active((uv_handle_t *)&r->timer)) {
		uint64_t due = uv_timer_get_due_in(&r->timer);
		if (due <= delay_ms)
			return;
	}
	uv_timer_start(&r->timer, r->timer.timer_cb, delay_ms, 0);
}

struct header_lookup {
	const struct acs_http_response *resp;
};

static const char *get_header(const char *name, void *arg)
{
	struct header_lookup *hl = arg;
	return acs_http_response_header(hl->resp, name);
}

static uint64_t wall_ms(void)
{
	uv_timeval64_t tv;
	if (uv_gettimeofday(&tv) != 0)
		return 0;
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* --- streams ------------------------------------------------------------------- */

static void stream_pump(struct stream *s);

static void stream_resume(struct stream *s)
{
	if (s->paused && s->in_curl && !s->in_cb) {
		s->paused = false;
		(void)acs_curl_loop_resume(s->c->r->cl, s->c->curl_id);
	}
}

/* A file operation failed: stop the transfer; its completion reports io_error. */
static void stream_fail(struct stream *s, int error)
{
	if (!s->io_error)
		s->io_error = error;
	/* From inside a curl callback the callback's own answer aborts instead. */
	if (s->in_curl && !s->in_cb)
		(void)acs_curl_loop_cancel(s->c->r->cl, s->c->curl_id);
}

static void stream_fs_cb(uv_fs_t *req)
{
	struct stream *s = acs_container_of(req, struct stream, req);
	ssize_t n = req->result;
	bool stale = s->busy_gen != s->gen;
	uv_fs_req_cleanup(req);
	s->busy = false;
	if (!stale) {
		if (s->down) {
			if (n < 0)
				stream_fail(s, (int)n);
			else if ((size_t)n < s->wbuf_len)
				stream_fail(s, -EIO); /* regular files write fully */
			else
				s->written += s->wbuf_len;
			s->wbuf_len = 0;
		} else {
			if (n < 0) {
				stream_fail(s, (int)n);
			} else if (n == 0) {
				stream_fail(s, -EIO); /* the file is shorter than said */
			} else {
				s->rlen = (size_t)n;
				s->roff = 0;
				s->fpos += (uint64_t)n;
			}
		}
	} else if (s->down) {
		s->wbuf_len = 0;
	}
	stream_pump(s);
}

static void finish(struct call *c, const struct acs_rest_result *res);

/* Start the next fs request if one is due; resume a paused transfer; run a held-back
 * completion once nothing is left in flight. */
static void stream_pump(struct stream *s)
{
	if (s->busy)
		return;
	struct acs_rest *r = s->c->r;
	if (s->down && s->fill_len && !s->io_error) {
		char *t = s->wbuf;
		s->wbuf = s->fill;
		s->wbuf_len = s->fill_len;
		s->fill = t;
		s->fill_len = 0;
		uv_buf_t b = uv_buf_init(s->wbuf, (unsigned)s->wbuf_len);
		s->busy_gen = s->gen;
		int rc =
			uv_fs_write(r->loop, &s->req, s->fd, &b, 1, (int64_t)s->woff, stream_fs_cb);
		if (rc == 0) {
			s->busy = true;
			s->woff += s->wbuf_len;
		} else {
			s->wbuf_len = 0;
			stream_fail(s, rc);
		}
		stream_resume(s); /* room in fill again */
	} else if (!s->down && s->in_curl && s->paused && s->rlen == s->roff && s->fpos < s->flen &&
		   s->pos >= s->head_len && !s->io_error) {
		uint64_t want = ACS_MIN((uint64_t)ACS_REST_STREAM_BUF, s->flen - s->fpos);
		uv_buf_t b = uv_buf_init(s->rbuf, (unsigned)want);
		s->busy_gen = s->gen;
		int rc = uv_fs_read(r->loop, &s->req, s->fd, &b, 1, s->offset + (int64_t)s->fpos,
				    stream_fs_cb);
		if (rc == 0)
			s->busy = true;
		else
			stream_fail(s, rc);
	} else if (!s->down) {
		stream_resume(s);
	}
	if (!s->busy && s->finishing) {
		s->finishing = false;
		s->res.file_bytes = s->written;
		if (s->io_error && s->res.cls == ACS_REST_OK) {
			s->res.cls = ACS_REST_RETRYABLE;
			s->res.error = s->io_error;
			snprintf(s->msg, sizeof(s->msg), "file: %s", uv_strerror(s->io_error));
		}
		s->res.message = s->msg;
		struct acs_rest_result res = s->res;
		finish(s->c, &res);
	}
}

/* libcurl brings body bytes of a 2xx answer. */
static size_t stream_sink(const char *data, size_t len, void *arg)
{
	struct stream *s = arg;
	if (s->io_error)
		return 0; /* fails the transfer */
	s->in_cb = true;
	if (s->fill_len && s->fill_len + len > ACS_REST_STREAM_BUF) {
		if (s->busy) {
			s->paused = true;
			s->in_cb = false;
			return ACS_CURL_STREAM_PAUSE;
		}
		stream_pump(s); /* fill goes to the file: empty again */
		if (s->io_error) {
			s->in_cb = false;
			return 0;
		}
	}
	/* One chunk larger than a buffer (libcurl hands over what it held while paused)
	 * is taken whole into an empty buffer. */
	if (len > ACS_REST_STREAM_BUF)
		s->fill = acs_xrealloc(s->fill, len);
	memcpy(s->fill + s->fill_len, data, len);
	s->fill_len += len;
	if (s->bytes)
		s->bytes(data, len, s->bytes_arg);
	stream_pump(s);
	s->in_cb = false;
	return s->io_error ? 0 : len;
}

static void stream_restart(struct stream *s)
{
	s->gen++;
	s->paused = false;
	s->fill_len = 0;
	s->woff = 0;
	s->written = 0;
	s->pos = 0;
	s->fpos = 0;
	s->rlen = s->roff = 0;
	if (s->down && s->bytes)
		s->bytes(NULL, 0, s->bytes_arg);
}

static size_t copy_out(char *buf, size_t len, const char *src, size_t avail)
{
	size_t n = ACS_MIN(len, avail);
	memcpy(buf, src, n);
	return n;
}

/* libcurl asks for request body bytes (buf NULL: start over). */
static size_t stream_source(char *buf, size_t len, void *arg)
{
	struct stream *s = arg;
	if (!buf) {
		stream_restart(s);
		return 0;
	}
	if (s->io_error)
		return ACS_CURL_STREAM_ABORT;
	if (s->pos < s->head_len) {
		size_t n = copy_out(buf, len, s->head + s->pos, s->head_len - (size_t)s->pos);
		s->pos += n;
		return n;
	}
	uint64_t fend = s->head_len + s->flen;
	if (s->pos < fend) {
		if (s->rlen == s->roff) {
			s->paused = true;
			s->in_cb = true;
			stream_pump(s);
			s->in_cb = false;
			return s->io_error ? ACS_CURL_STREAM_ABORT : ACS_CURL_STREAM_PAUSE;
		}
		size_t n = copy_out(buf, len, s->rbuf + s->roff, s->rlen - s->roff);
		s->roff += n;
		s->pos += n;
		return n;
	}
	if (s->pos < fend + s->tail_len) {
		size_t n = copy_out(buf, len, s->tail + (s->pos - fend),
				    (size_t)(fend + s->tail_len - s->pos));
		s->pos += n;
		return n;
	}
	return 0;
}

static void done_cb(const struct acs_http_response *resp, void *arg)
{
	struct call *c = arg;
	struct acs_rest *r = c->r;
	uint64_t now = uv_now(r->loop);
	struct acs_governor_headers h;
	struct header_lookup hl = { resp };

	list_remove(&r->inflight, c);
	c->attempts++;
	if (c->stream)
		c->stream->in_curl = false;
	acs_governor_headers_init(&h);
	if (resp->status)
		acs_governor_headers_parse(&h, get_header, &hl, wall_ms());
	int gstatus = resp->error == ACS_ECANCELED ? -1 : resp->error ? 0 : (int)resp->status;
	acs_governor_release(r->gov, now, gstatus, &h);
	/* A freed concurrency slot may let a queued call start now. */
	if (r->queue.head && !r->closing)
		schedule(r, 0);

	enum acs_rest_class cls = acs_rest_classify(resp->status, resp->error);
	int error = error_code(resp->status, resp->error);
	json_t *json = NULL;
	char msg[512] = "";

	if (resp->error == ACS_ECANCELED)
		cls = ACS_REST_RETRYABLE; /* not done: the caller may try later */
	if (c->stream && c->stream->io_error) {
		/* Our own file failed, not the service: no retry. */
		cls = ACS_REST_RETRYABLE;
		error = c->stream->io_error;
		snprintf(msg, sizeof(msg), "file: %s", uv_strerror(error));
	}
	if (!resp->error && resp->body_len && (!c->raw || cls != ACS_REST_OK)) {
		json = acs_json_loadb(resp->body, resp->body_len, JSON_DECODE_ANY, NULL);
		if (!json && cls == ACS_REST_OK) {
			cls = ACS_REST_PERMANENT;
			error = ACS_EPARSE;
			snprintf(msg, sizeof(msg), "response is not JSON");
		}
	}
	if (cls != ACS_REST_OK && !msg[0]) {
		if (resp->error)
			snprintf(msg, sizeof(msg), "%s%s%s", acs_strerror(resp->error),
				 resp->error_message[0] ? ": " : "", resp->error_message);
		else
			r->error_text(json, resp->body, resp->status, msg, sizeof(msg));
	}

	if (cls == ACS_REST_RETRYABLE && c->attempts < r->max_attempts && !r->closing &&
	    resp->error != ACS_ECANCELED && !(c->stream && c->stream->io_error)) {
		char st[16], at[16];
		snprintf(st, sizeof(st), "%ld", resp->status);
		snprintf(at, sizeof(at), "%u", c->attempts);
		struct acs_log_field f[] = { { "service", r->name },
					     { "method", c->method },
					     { "status", st },
					     { "attempt", at },
					     { "error", msg } };
		acs_log_kv(ACS_LOG_DEBUG, "rest", "retrying", f, ACS_ARRAY_SIZE(f));
		json_decref(json);
		/* Back at the head: the governor decides when (Retry-After, backoff). */
		list_push_head(&r->queue, c);
		schedule(r, 0);
		return;
	}
	struct acs_rest_result res = {
		.cls = cls,
		.error = cls == ACS_REST_OK ? 0 : error,
		.status = resp->status,
		.message = msg,
		.json = json,
		.body = resp->body,
		.body_len = resp->body_len,
		.response = resp,
		.attempts = c->attempts,
	};
	if (c->stream) {
		/* Held back until the file I/O is done (the fd is then the caller's). The
		 * held result keeps neither body nor headers. */
		struct stream *s = c->stream;
		s->res = res;
		s->json = json; /* the reference moves to the stream */
		s->body = acs_xmalloc(resp->body_len + 1);
		memcpy(s->body, resp->body, resp->body_len);
		s->body[resp->body_len] = '\0';
		s->res.body = s->body;
		s->res.response = NULL;
		snprintf(s->msg, sizeof(s->msg), "%s", msg);
		s->finishing = true;
		stream_pump(s);
		return;
	}
	finish(c, &res);
	json_decref(json);
}

/* --- sending ------------------------------------------------------------------ */

static void start(struct acs_rest *r, struct call *c)
{
	struct acs_http_request req = {
		.method = c->method,
		.url = c->url,
		.headers = (const char *const *)c->headers,
		.body = c->body,
		.body_len = c->body_len,
		.timeout_ms = r->timeout_ms,
		.max_response_bytes = c->max_response_bytes,
	};
	struct acs_curl_stream cs = { 0 };
	if (c->timeout_ms)
		req.timeout_ms = c->timeout_ms;
	if (c->stream) {
		struct stream *s = c->stream;
		stream_restart(s);
		s->in_curl = true;
		cs.arg = s;
		if (s->down) {
			cs.sink = stream_sink;
		} else {
			cs.source = stream_source;
			req.body_len = s->head_len + s->flen + s->tail_len;
		}
		req.stream = &cs;
	}
	list_push_tail(&r->inflight, c);
	int rc = acs_curl_loop_request(r->cl, &req, done_cb, c, &c->curl_id);
	if (rc) {
		if (c->stream)
			c->stream->in_curl = false;
		list_remove(&r->inflight, c);
		acs_governor_release(r->gov, uv_now(r->loop), -1, NULL);
		finish_error(c, ACS_REST_PERMANENT, rc, acs_strerror(rc));
	}
}

static void pump(struct acs_rest *r)
{
	uint64_t now = uv_now(r->loop);
	uint64_t wait = UINT64_MAX;

	if (r->closing) {
		while (r->queue.head) {
			struct call *c = r->queue.head;
			list_remove(&r->queue, c);
			finish_error(c, ACS_REST_RETRYABLE, ACS_ECANCELED,
				     "canceled: shutting down");
		}
		maybe_finish_close(r);
		return;
	}
	/* Interactive calls first, then background, each in FIFO order; a class
	 * stops at its first refusal so order within it is kept. */
	for (int pass = 0; pass < 2; pass++) {
		enum acs_governor_class cls = pass ? ACS_GOVERNOR_BACKGROUND
						   : ACS_GOVERNOR_INTERACTIVE;
		struct call *c = r->queue.head;
		while (c) {
			struct call *next = c->next;
			if (c->cls != cls) {
				c = next;
				continue;
			}
			if (now - c->queued_at > r->max_wait_ms) {
				list_remove(&r->queue, c);
				finish_error(c, ACS_REST_RETRYABLE, ACS_ERATELIMIT,
					     "gave up waiting for the rate limit");
				c = next;
				continue;
			}
			uint64_t d = acs_governor_acquire(r->gov, now, cls);
			if (d) {
				wait = ACS_MIN(wait, d);
				break;
			}
			list_remove(&r->queue, c);
			start(r, c);
			c = next;
		}
	}
	if (r->queue.head && wait != UINT64_MAX)
		schedule(r, wait);
}

static void timer_cb(uv_timer_t *t)
{
	pump(acs_container_of(t, struct acs_rest, timer));
}

/* --- public API ----------------------------------------------------------------- */

struct acs_rest *acs_rest_new(uv_loop_t *loop, struct acs_curl_loop *cl,
			      const struct acs_rest_opts *opts, char err[ACS_ERR_LEN])
{
	if (!opts || !opts->base_url || !opts->name) {
		snprintf(err, ACS_ERR_LEN, "rest: name and base_url are required");
		return NULL;
	}
	struct acs_rest *r = acs_xcalloc(1, sizeof(*r));
	struct acs_governor_opts g;
	if (opts->governor) {
		g = *opts->governor;
	} else {
		acs_governor_opts_init(&g, opts->preset);
		uint64_t seed;
		uv_random(NULL, NULL, &seed, sizeof(seed), 0, NULL);
		g.seed = seed;
	}
	g.name = opts->name;
	r->gov = acs_governor_new(&g);
	r->loop = loop;
	r->cl = cl;
	r->name = acs_xstrdup(opts->name);
	r->base_url = acs_xstrdup(opts->base_url);
	size_t n = strlen(r->base_url);
	while (n && r->base_url[n - 1] == '/')
		r->base_url[--n] = '\0';
	r->auth_header = opts->auth_header ? acs_xstrdup(opts->auth_header) : NULL;
	r->timeout_ms = opts->timeout_ms ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	r->max_attempts = opts->max_attempts ? opts->max_attempts : DEFAULT_MAX_ATTEMPTS;
	r->max_wait_ms = opts->max_wait_ms ? opts->max_wait_ms : DEFAULT_MAX_WAIT_MS;
	r->error_text = opts->error_text ? opts->error_text : default_error_text;
	uv_timer_init(loop, &r->timer);
	r->timer.timer_cb = timer_cb;
	return r;
}

/* Length of "scheme://host[:port]" at the start of url. */
static size_t origin_len(const char *url)
{
	const char *p = strstr(url, "://");
	if (!p)
		return 0;
	p += 3;
	return (size_t)(p - url) + strcspn(p, "/?#");
}

static bool same_origin(const char *base, const char *url)
{
	size_t n = origin_len(base);
	return n && origin_len(url) == n && strncasecmp(base, url, n) == 0;
}

int acs_rest_request(struct acs_rest *r, const struct acs_rest_call *call, acs_rest_done_cb cb,
		     void *arg)
{
	if (r->closing)
		return ACS_ECLOSED;
	if (!call || !call->method || !call->path || !cb)
		return -EINVAL;
	if (call->upload && (call->body_len || call->download))
		return -EINVAL;
	size_t nextra = 0;
	while (call->headers && call->headers[nextra])
		nextra++;
	if (nextra > MAX_EXTRA_HEADERS)
		return -EINVAL;

	struct call *c = acs_xcalloc(1, sizeof(*c));
	c->r = r;
	c->method = acs_xstrdup(call->method);
	if (strncmp(call->path, "http://", 7) == 0 || strncmp(call->path, "https://", 8) == 0)
		c->url = acs_xstrdup(call->path);
	else
		c->url = acs_xasprintf("%s%s%s", r->base_url, call->path[0] == '/' ? "" : "/",
				       call->path);
	size_t h = 0;
	/* Credentials go only to the service's own origin, never to a URL that
	 * came from a payload and points elsewhere. */
	if (r->auth_header && same_origin(r->base_url, c->url))
		c->headers[h++] = acs_xstrdup(r->auth_header);
	c->headers[h++] = acs_xstrdup(call->raw ? "Accept: */*" : "Accept: application/json");
	if (call->body_len || call->content_type)
		c->headers[h++] = acs_xasprintf("Content-Type: %s", call->content_type
									    ? call->content_type
									    : "application/json");
	for (size_t i = 0; i < nextra; i++)
		c->headers[h++] = acs_xstrdup(call->headers[i]);
	c->headers[h] = NULL;
	if (call->body_len) {
		c->body = acs_xmalloc(call->body_len);
		memcpy(c->body, call->body, call->body_len);
		c->body_len = call->body_len;
	}
	c->cls = call->cls;
	c->max_response_bytes = call->max_response_bytes;
	c->raw = call->raw || call->download;
	c->timeout_ms = call->timeout_ms;
	if (call->download || call->upload) {
		struct stream *s = acs_xcalloc(1, sizeof(*s));
		s->c = c;
		if (call->download) {
			s->down = true;
			s->fd = call->download->fd;
			s->bytes = call->download->bytes;
			s->bytes_arg = call->download->bytes_arg;
			s->fill = acs_xmalloc(ACS_REST_STREAM_BUF);
			s->wbuf = acs_xmalloc(ACS_REST_STREAM_BUF);
		} else {
			const struct acs_rest_upload *u = call->upload;
			s->fd = u->fd;
			s->offset = u->offset;
			s->flen = u->len;
			s->head_len = u->head_len;
			s->tail_len = u->tail_len;
			s->head = acs_xmalloc(u->head_len + 1);
			if (u->head_len)
				memcpy(s->head, u->head, u->head_len);
			s->tail = acs_xmalloc(u->tail_len + 1);
			if (u->tail_len)
				memcpy(s->tail, u->tail, u->tail_len);
			s->rbuf = acs_xmalloc(ACS_REST_STREAM_BUF);
		}
		c->stream = s;
	}
	c->cb = cb;
	c->arg = arg;
	c->queued_at = uv_now(r->loop);
	list_push_tail(&r->queue, c);
	r->pending++;
	schedule(r, 0);
	return 0;
}

size_t acs_rest_pending(const struct acs_rest *r)
{
	return r->pending;
}

int64_t acs_rest_budget_left(const struct acs_rest *r)
{
	return acs_governor_budget_left(r->gov, uv_now(r->loop));
}

void acs_rest_stats(const struct acs_rest *r, struct acs_governor_stats *out)
{
	acs_governor_stats(r->gov, out);
}

const char *acs_rest_name(const struct acs_rest *r)
{
	return r->name;
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct acs_rest *r = acs_container_of(h, struct acs_rest, timer);
	acs_rest_closed_cb cb = r->closed_cb;
	void *arg = r->closed_arg;
	acs_governor_free(r->gov);
	free(r->name);
	free(r->base_url);
	if (r->auth_header) {
		/* The header holds the token: do not leave it in freed memory. */
		memset(r->auth_header, 0, strlen(r->auth_header));
		free(r->auth_header);
	}
	free(r);
	if (cb)
		cb(arg);
}

static void maybe_finish_close(struct acs_rest *r)
{
	if (!r->closing || r->pending || uv_is_closing((uv_handle_t *)&r->timer))
		return;
	uv_close((uv_handle_t *)&r->timer, timer_closed_cb);
}

void acs_rest_close(struct acs_rest *r, acs_rest_closed_cb cb, void *arg)
{
	if (!r || r->closing)
		return;
	r->closing = true;
	r->closed_cb = cb;
	r->closed_arg = arg;
	/* In-flight calls come back through done_cb with ACS_ECANCELED. */
	for (struct call *c = r->inflight.head; c; c = c->next)
		acs_curl_loop_cancel(r->cl, c->curl_id);
	/* Queued ones are failed from the timer, never from inside this call. */
	uv_timer_start(&r->timer, timer_cb, 0, 0);
}
