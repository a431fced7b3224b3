/* SPDX-License-Identifier: MIT */
/* Unit tests for http_server.c: a real server on 127.0.0.1:0 in the test's
 * own loop, driven by raw uv_tcp clients in the same loop; answers are
 * checked byte for byte. */
#include "test_util.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"

/* --- loop helper: run until a predicate holds --- */

typedef bool (*pred_fn)(void *arg);

static void timeout_cb(uv_timer_t *t)
{
	*(int *)t->data = 1;
}

static void run_until(uv_loop_t *loop, pred_fn pred, void *arg)
{
	uv_timer_t t;
	int timed_out = 0;
	uv_timer_init(loop, &t);
	t.data = &timed_out;
	uv_timer_start(&t, timeout_cb, 5000, 0);
	while (!pred(arg) && !timed_out)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	if (!pred(arg))
		fail_msg("condition not reached within 5 s");
}

/* --- raw client --- */

struct client {
	uv_tcp_t tcp;
	uv_connect_t creq;
	struct acs_buf in;
	size_t off;    /* parsed up to here */
	int connected; /* 1 connected, < 0 error */
	int eof;       /* EOF or read error seen */
	int closed;
};

static void client_alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	(void)h;
	buf->base = acs_xmalloc(sz);
	buf->len = sz;
}

static void client_read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
	struct client *c = acs_container_of(s, struct client, tcp);
	if (n > 0)
		assert_int_equal(acs_buf_append(&c->in, buf->base, (size_t)n), 0);
	else if (n < 0)
		c->eof = 1;
	free(buf->base);
}

static void client_connect_cb(uv_connect_t *r, int status)
{
	struct client *c = acs_container_of(r, struct client, creq);
	c->connected = status ? status : 1;
	if (!status)
		uv_read_start((uv_stream_t *)&c->tcp, client_alloc_cb, client_read_cb);
	else
		c->eof = 1;
}

static bool client_connected(void *arg)
{
	return ((struct client *)arg)->connected != 0;
}

/* Start connecting; check c->connected later. */
static struct client *client_start(uv_loop_t *loop, int port)
{
	struct client *c = acs_xcalloc(1, sizeof(*c));
	struct sockaddr_in sa;
	acs_buf_init(&c->in, 64u << 20);
	uv_ip4_addr("127.0.0.1", port, &sa);
	assert_int_equal(uv_tcp_init(loop, &c->tcp), 0);
	assert_int_equal(
		uv_tcp_connect(&c->creq, &c->tcp, (struct sockaddr *)&sa, client_connect_cb), 0);
	return c;
}

static struct client *client_new(uv_loop_t *loop, int port)
{
	struct client *c = client_start(loop, port);
	run_until(loop, client_connected, c);
	assert_int_equal(c->connected, 1);
	return c;
}

static void client_write_cb(uv_write_t *w, int status)
{
	(void)status;
	free(w->data);
	free(w);
}

static void client_send(struct client *c, const char *data, size_t len)
{
	uv_write_t *w = acs_xmalloc(sizeof(*w));
	char *copy = acs_xmalloc(len);
	memcpy(copy, data, len);
	w->data = copy;
	uv_buf_t b = uv_buf_init(copy, (unsigned)len);
	assert_int_equal(uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, client_write_cb), 0);
}

static void client_sends(struct client *c, const char *s)
{
	client_send(c, s, strlen(s));
}

static void client_close_cb(uv_handle_t *h)
{
	struct client *c = acs_container_of(h, struct client, tcp);
	acs_buf_free(&c->in);
	free(c);
}

static void client_close(struct client *c)
{
	uv_close((uv_handle_t *)&c->tcp, client_close_cb);
}

static bool client_eof(void *arg)
{
	return ((struct client *)arg)->eof;
}

/* --- response parsing --- */

struct resp {
	int status;
	char *head; /* status line + headers, NUL-terminated */
	char *body; /* de-chunked */
	size_t body_len;
	char *raw; /* the whole response as received */
	size_t raw_len;
};

static void resp_free(struct resp *r)
{
	free(r->head);
	free(r->body);
	free(r->raw);
	memset(r, 0, sizeof(*r));
}

/* Value of header name in r (static buffer), or NULL. */
static const char *hdr(const struct resp *r, const char *name)
{
	static char val[512];
	size_t nl = strlen(name);
	for (const char *p = strstr(r->head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2;
		if (!strncasecmp(line, name, nl) && line[nl] == ':') {
			const char *v = line + nl + 1;
			while (*v == ' ')
				v++;
			const char *e = strstr(v, "\r\n");
			size_t l = e ? (size_t)(e - v) : strlen(v);
			assert_true(l < sizeof(val));
			memcpy(val, v, l);
			val[l] = '\0';
			return val;
		}
	}
	return NULL;
}

/* Parse one response at buf; returns bytes used, 0 when incomplete. */
static size_t parse_resp(const char *buf, size_t len, bool head_req, struct resp *r)
{
	const char *end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t hl = (size_t)(end - buf) + 4;
	int status = (int)strtol(buf + 9, NULL, 10);
	struct resp tmp = { .status = status };
	tmp.head = acs_xstrndup(buf, hl - 2);
	size_t used = hl;
	const char *cl = hdr(&tmp, "Content-Length");
	const char *te = hdr(&tmp, "Transfer-Encoding");
	struct acs_buf body;
	acs_buf_init(&body, 64u << 20);
	if (head_req || status < 200 || status == 204 || status == 304) {
		/* no body */
	} else if (te && !strcmp(te, "chunked")) {
		for (;;) {
			const char *le = memmem(buf + used, len - used, "\r\n", 2);
			if (!le)
				goto incomplete;
			size_t n = strtoul(buf + used, NULL, 16);
			size_t start = (size_t)(le - buf) + 2;
			if (len < start + n + 2)
				goto incomplete;
			assert_memory_equal(buf + start + n, "\r\n", 2);
			(void)acs_buf_append(&body, buf + start, n);
			used = start + n + 2;
			if (!n)
				break;
		}
	} else if (cl) {
		size_t n = strtoul(cl, NULL, 10);
		if (len < used + n)
			goto incomplete;
		(void)acs_buf_append(&body, buf + used, n);
		used += n;
	} else {
		fail_msg("response without length: %s", tmp.head);
	}
	tmp.body_len = body.len;
	tmp.body = acs_buf_steal(&body, NULL);
	tmp.raw = acs_xstrndup(buf, used);
	tmp.raw_len = used;
	*r = tmp;
	return used;
incomplete:
	acs_buf_free(&body);
	free(tmp.head);
	return 0;
}

struct read_wait {
	struct client *c;
	bool head_req;
	struct resp *r;
	size_t used;
};

static bool resp_ready(void *arg)
{
	struct read_wait *w = arg;
	if (w->used)
		return true;
	if (w->c->in.len > w->c->off)
		w->used = parse_resp(w->c->in.data + w->c->off, w->c->in.len - w->c->off,
				     w->head_req, w->r);
	return w->used || w->c->eof;
}

/* Read the next response (fails on EOF before a complete one). */
static void client_read(struct client *c, struct resp *r, bool head_req)
{
	struct read_wait w = { c, head_req, r, 0 };
	run_until(c->tcp.loop, resp_ready, &w);
	if (!w.used)
		fail_msg("connection closed before a full response");
	c->off += w.used;
}

/* Send req and read one response. */
static void roundtrip(struct client *c, const char *req, struct resp *r)
{
	client_sends(c, req);
	client_read(c, r, !strncmp(req, "HEAD ", 5));
}

/* After a final (Connection: close) answer: nothing more, then EOF. */
static void expect_eof(struct client *c)
{
	run_until(c->tcp.loop, client_eof, c);
	assert_int_equal(c->in.len, c->off);
}

/* --- fixture --- */

struct fx {
	uv_loop_t loop;
	struct acs_http_server *srv;
	int port;
	struct acs_http_req *held; /* request kept unanswered by /hang */
	int close_cbs;		   /* req close callbacks seen */
	int closed;		   /* server closed callback ran */
	int async_answered;
	struct acs_http_req *stream_req;
	int stream_step;
	uv_timer_t timer;
	bool timer_init;
	int hook_calls;
};

static void h_hello(struct acs_http_req *req, void *arg)
{
	(void)arg;
	acs_http_respond(req, 200, "text/plain", "hello world", 11);
}

static void h_item(struct acs_http_req *req, void *arg)
{
	(void)arg;
	char body[512];
	const char *q = acs_http_req_query(req, "q");
	snprintf(body, sizeof(body), "id=%s q=%s n=%s path=%s qs=%s", acs_http_req_param(req, "id"),
		 q ? q : "(null)",
		 acs_http_req_query(req, "n") ? acs_http_req_query(req, "n") : "-",
		 acs_http_req_path(req), acs_http_req_query_string(req));
	acs_http_respond(req, 200, "text/plain", body, strlen(body));
}

static void h_echo(struct acs_http_req *req, void *arg)
{
	(void)arg;
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	const char *ct = acs_http_req_header(req, "content-type");
	acs_http_req_add_header(req, "X-Echo-Len", len > 5 ? "long" : "short");
	acs_http_respond(req, 201, ct ? ct : "application/octet-stream", body, len);
}

static void h_client(struct acs_http_req *req, void *arg)
{
	(void)arg;
	char body[256];
	snprintf(body, sizeof(body), "%s|%s", acs_http_req_client_ip(req),
		 acs_http_req_peer_ip(req));
	acs_http_respond(req, 200, "text/plain", body, strlen(body));
}

static void h_json(struct acs_http_req *req, void *arg)
{
	(void)arg;
	acs_http_respond_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

static void async_timer_cb(uv_timer_t *t)
{
	struct fx *f = t->data;
	struct acs_http_req *req = f->held;
	f->held = NULL;
	f->async_answered++;
	acs_http_respond(req, 200, "text/plain", "later", 5);
}

static void start_timer(struct fx *f, uv_timer_cb cb, uint64_t ms)
{
	if (!f->timer_init) {
		uv_timer_init(&f->loop, &f->timer);
		f->timer.data = f;
		f->timer_init = true;
	}
	uv_timer_start(&f->timer, cb, ms, 0);
}

static void h_async(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	assert_null(f->held);
	f->held = req;
	start_timer(f, async_timer_cb, 20);
}

static void req_close_cb(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	assert_true(acs_http_req_client_gone(req));
	f->close_cbs++;
}

static void h_hang(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	f->held = req;
	acs_http_req_set_close_cb(req, req_close_cb, f);
}

static void stream_timer_cb(uv_timer_t *t)
{
	struct fx *f = t->data;
	struct acs_http_req *req = f->stream_req;
	f->stream_step++;
	if (f->stream_step == 1) {
		assert_int_equal(acs_http_stream_write(req, "data: b\n\n", 9), 0);
		start_timer(f, stream_timer_cb, 10);
	} else {
		f->stream_req = NULL;
		acs_http_stream_end(req);
	}
}

static void h_stream(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	assert_int_equal(acs_http_respond_stream_begin(req, 200, "text/event-stream"), 0);
	assert_int_equal(acs_http_stream_write(req, "data: a\n\n", 9), 0);
	f->stream_req = req;
	f->stream_step = 0;
	start_timer(f, stream_timer_cb, 10);
}

/* Streams forever: for the disconnect test. */
static void h_stream_hang(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	assert_int_equal(acs_http_respond_stream_begin(req, 200, "text/event-stream"), 0);
	assert_int_equal(acs_http_stream_write(req, "data: x\n\n", 9), 0);
	acs_http_req_set_close_cb(req, req_close_cb, f);
	f->stream_req = req;
}

static void fx_start(struct fx *f, const struct acs_http_server_opts *opts)
{
	char err[ACS_ERR_LEN];
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	f->srv = acs_http_server_new(&f->loop, opts, err);
	assert_non_null(f->srv);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/hello", h_hello, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/items/:id", h_item, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "POST", "/echo", h_echo, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "PUT", "/echo", h_echo, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/client", h_client, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/api/health", h_json, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/async", h_async, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/hang", h_hang, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/stream", h_stream, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/stream-hang", h_stream_hang, f), 0);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "/bad/:x", NULL, f), ACS_EPARSE);
	assert_int_equal(acs_http_server_route(f->srv, "GET", "nope", h_hello, f), ACS_EPARSE);
	assert_int_equal(acs_http_server_port(f->srv), 0);
	assert_int_equal(acs_http_server_listen(f->srv, "127.0.0.1:0", err), 0);
	f->port = acs_http_server_port(f->srv);
	assert_true(f->port > 0);
}

static struct acs_http_server_opts quiet_opts(void)
{
	struct acs_http_server_opts o;
	acs_http_server_opts_defaults(&o);
	o.access_log = false;
	return o;
}

static void closed_cb(void *arg)
{
	((struct fx *)arg)->closed = 1;
}

static bool fx_closed(void *arg)
{
	return ((struct fx *)arg)->closed;
}

static void fx_end(struct fx *f)
{
	acs_http_server_close(f->srv, closed_cb, f);
	acs_http_server_close(f->srv, closed_cb, f); /* idempotent */
	run_until(&f->loop, fx_closed, f);
	if (f->timer_init)
		uv_close((uv_handle_t *)&f->timer, NULL);
	acs_test_loop_close(&f->loop);
}

struct srv_wait {
	struct fx *f;
	size_t conns, inflight;
};

static bool srv_conns_is(void *arg)
{
	struct srv_wait *w = arg;
	return acs_http_server_connections(w->f->srv) == w->conns;
}

static bool srv_inflight_is(void *arg)
{
	struct srv_wait *w = arg;
	return acs_http_server_inflight(w->f->srv) == w->inflight;
}

static void wait_conns(struct fx *f, size_t n)
{
	struct srv_wait w = { f, n, 0 };
	run_until(&f->loop, srv_conns_is, &w);
}

static void wait_inflight(struct fx *f, size_t n)
{
	struct srv_wait w = { f, 0, n };
	run_until(&f->loop, srv_inflight_is, &w);
}

/* --- tests --- */

static void test_get_simple(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	fx_start(&f, NULL);
	acs_test_log_capture_begin();
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	const char *date = hdr(&r, "Date");
	assert_non_null(date);
	assert_int_equal(strlen(date), 29);
	assert_non_null(strstr(date, " GMT"));
	char *d = acs_xstrdup(date);
	const char *rid = hdr(&r, "X-Request-Id");
	assert_non_null(rid);
	assert_true(strlen(rid) > 9);
	char *expect = acs_xasprintf("HTTP/1.1 200 OK\r\nDate: %s\r\nContent-Type: text/plain\r\n"
				     "Content-Length: 11\r\nConnection: keep-alive\r\n"
				     "X-Request-Id: %s\r\n\r\nhello world",
				     d, rid);
	assert_string_equal(r.raw, expect);
	char *line = acs_xasprintf("rid=%s", rid);
	const char *log = acs_test_log_captured();
	assert_non_null(strstr(log, "msg=request method=GET path=/hello status=200 bytes=11 us="));
	assert_non_null(strstr(log, line));
	assert_non_null(strstr(log, "client=127.0.0.1"));
	free(line);
	free(expect);
	free(d);
	resp_free(&r);

	/* A second request on the same connection gets a different id. */
	roundtrip(c, "GET /api/health HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"ok\"}");
	assert_string_equal(hdr(&r, "Content-Type"), "application/json");
	resp_free(&r);
	acs_test_log_capture_end();
	assert_int_equal(acs_http_server_connections(f.srv), 1);
	client_close(c);
	fx_end(&f);
}

static void test_not_found_405(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /nope HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	assert_memory_equal(r.raw, "HTTP/1.1 404 Not Found\r\n", 24);
	assert_string_equal(r.body, "{\"error\":\"not_found\",\"detail\":\"no route for this "
				    "path\"}");
	assert_string_equal(hdr(&r, "Content-Type"), "application/json");
	assert_string_equal(hdr(&r, "Connection"), "keep-alive");
	resp_free(&r);
	roundtrip(c, "DELETE /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_memory_equal(r.raw, "HTTP/1.1 405 Method Not Allowed\r\n", 33);
	assert_string_equal(hdr(&r, "Allow"), "GET, HEAD");
	assert_string_equal(r.body, "{\"error\":\"method_not_allowed\",\"detail\":\"GET, HEAD\"}");
	resp_free(&r);
	roundtrip(c, "GET /echo HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 405);
	assert_string_equal(hdr(&r, "Allow"), "POST, PUT");
	resp_free(&r);
	/* Errors that are not the client's fault keep the connection. */
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	client_close(c);
	fx_end(&f);
}

static void test_params_query(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /items/a%20b?q=x+y%26z&n=1 HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "id=a b q=x y&z n=1 path=/items/a b qs=q=x+y%26z&n=1");
	resp_free(&r);
	roundtrip(c, "GET /items/42 HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "id=42 q=(null) n=- path=/items/42 qs=");
	resp_free(&r);
	/* absolute-form target */
	roundtrip(c, "GET http://example.com/items/7?q=%C3%A9 HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "id=7 q=\xc3\xa9 n=- path=/items/7 qs=q=%C3%A9");
	resp_free(&r);
	/* a malformed escape in the path is a bad request */
	roundtrip(c, "GET /items/%zz HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 400);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_post_bodies(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c,
		  "POST /echo HTTP/1.1\r\nContent-Type: text/x-a\r\nContent-Length: 3\r\n\r\nabc",
		  &r);
	assert_int_equal(r.status, 201);
	assert_memory_equal(r.raw, "HTTP/1.1 201 Created\r\n", 22);
	assert_string_equal(r.body, "abc");
	assert_string_equal(hdr(&r, "Content-Type"), "text/x-a");
	assert_string_equal(hdr(&r, "X-Echo-Len"), "short");
	resp_free(&r);

	/* Chunked, split over several writes with the loop running between. */
	client_sends(c, "PUT /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab");
	uv_run(&f.loop, UV_RUN_NOWAIT);
	client_sends(c, "c\r\n4\r\ndefg\r");
	uv_run(&f.loop, UV_RUN_NOWAIT);
	client_sends(c, "\n0\r\nX-Trailer: t\r\n\r\n");
	client_read(c, &r, false);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "abcdefg");
	assert_string_equal(hdr(&r, "X-Echo-Len"), "long");
	resp_free(&r);

	/* Empty body with Content-Length: 0 is fine. */
	roundtrip(c, "POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
	assert_int_equal(r.status, 201);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(hdr(&r, "Content-Length"), "0");
	resp_free(&r);
	client_close(c);
	fx_end(&f);
}

static void test_expect_continue(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.max_body_bytes = 100;
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	client_sends(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
	client_read(c, &r, false);
	assert_int_equal(r.status, 100);
	assert_string_equal(r.raw, "HTTP/1.1 100 Continue\r\n\r\n");
	resp_free(&r);
	client_sends(c, "hello");
	client_read(c, &r, false);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "hello");
	resp_free(&r);

	/* Over the limit: 413 at once, no 100, and the connection closes. */
	client_sends(c, "POST /echo HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: "
			"500\r\n\r\n");
	client_read(c, &r, false);
	assert_int_equal(r.status, 413);
	assert_string_equal(hdr(&r, "Connection"), "close");
	assert_string_equal(r.body, "{\"error\":\"payload_too_large\","
				    "\"detail\":\"request body exceeds the limit\"}");
	resp_free(&r);
	expect_eof(c);
	client_close(c);

	/* Unknown expectations are refused. */
	c = client_new(&f.loop, f.port);
	roundtrip(c, "POST /echo HTTP/1.1\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx", &r);
	assert_int_equal(r.status, 417);
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_411(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", &r);
	assert_int_equal(r.status, 411);
	assert_memory_equal(r.raw, "HTTP/1.1 411 Length Required\r\n", 30);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_413(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.max_body_bytes = 16;
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	/* By Content-Length: answered before the body is even sent. */
	roundtrip(c, "POST /echo HTTP/1.1\r\nContent-Length: 17\r\n\r\n", &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	client_sends(c, "0123456789abcdefg"); /* drained by the lingering close */
	expect_eof(c);
	client_close(c);

	/* Exactly at the limit is fine. */
	c = client_new(&f.loop, f.port);
	roundtrip(c, "POST /echo HTTP/1.1\r\nContent-Length: 16\r\n\r\n0123456789abcdef", &r);
	assert_int_equal(r.status, 201);
	resp_free(&r);

	/* By chunked overflow. */
	roundtrip(c,
		  "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		  "a\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n",
		  &r);
	assert_int_equal(r.status, 413);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_431(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.max_header_bytes = 512;
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	char big[2048];
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	char *req = acs_xasprintf("GET /hello HTTP/1.1\r\nX-Big: %s\r\n\r\n", big);
	roundtrip(c, req, &r);
	free(req);
	assert_int_equal(r.status, 431);
	assert_memory_equal(r.raw, "HTTP/1.1 431 Request Header Fields Too Large\r\n", 46);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(c);
	client_close(c);

	/* Too many header lines. */
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	(void)acs_buf_appends(&b, "GET /hello HTTP/1.1\r\n");
	for (int i = 0; i < 101; i++)
		(void)acs_buf_appends(&b, "A: b\r\n");
	(void)acs_buf_appends(&b, "\r\n");
	c = client_new(&f.loop, f.port);
	roundtrip(c, b.data, &r);
	/* 101 lines of 6 bytes exceed 512 too; either way it is 431. */
	assert_int_equal(r.status, 431);
	resp_free(&r);
	acs_buf_free(&b);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_too_many_headers(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	(void)acs_buf_appends(&b, "GET /hello HTTP/1.1\r\n");
	for (int i = 0; i < 100; i++)
		(void)acs_buf_appends(&b, "A: b\r\n");
	(void)acs_buf_appends(&b, "\r\n");
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, b.data, &r); /* 100 is the limit: accepted */
	assert_int_equal(r.status, 200);
	resp_free(&r);
	b.len -= 2;
	(void)acs_buf_appends(&b, "A: b\r\n\r\n");
	roundtrip(c, b.data, &r);
	assert_int_equal(r.status, 431);
	assert_string_equal(r.body, "{\"error\":\"header_too_large\","
				    "\"detail\":\"too many request headers\"}");
	resp_free(&r);
	acs_buf_free(&b);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_400_garbage(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GARBAGE\x01 / HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 400);
	assert_memory_equal(r.raw, "HTTP/1.1 400 Bad Request\r\n", 26);
	assert_string_equal(hdr(&r, "Connection"), "close");
	assert_non_null(strstr(r.body, "\"error\":\"bad_request\""));
	resp_free(&r);
	expect_eof(c);
	client_close(c);

	/* Garbage after a good request: the good one is answered first. */
	c = client_new(&f.loop, f.port);
	client_sends(c, "GET /hello HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\nBad Header\r\n\r\n");
	client_read(c, &r, false);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	client_read(c, &r, false);
	assert_int_equal(r.status, 400);
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	wait_conns(&f, 0);
	fx_end(&f);
}

static void test_408(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.read_timeout_ms = 100;
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n");
	client_read(c, &r, false);
	assert_int_equal(r.status, 408);
	assert_memory_equal(r.raw, "HTTP/1.1 408 Request Timeout\r\n", 30);
	assert_string_equal(hdr(&r, "Connection"), "close");
	assert_string_equal(r.body, "{\"error\":\"request_timeout\","
				    "\"detail\":\"request not received in time\"}");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	wait_conns(&f, 0);
	fx_end(&f);
}

static void test_idle_close(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.idle_timeout_ms = 100;
	o.read_timeout_ms = 100;
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	expect_eof(c); /* silently: no bytes after the answer */
	client_close(c);
	/* A connection that never sends anything is closed too, silently. */
	c = client_new(&f.loop, f.port);
	expect_eof(c);
	assert_int_equal(c->in.len, 0);
	client_close(c);
	wait_conns(&f, 0);
	fx_end(&f);
}

static void test_pipelining(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	client_sends(c, "GET /items/1 HTTP/1.1\r\n\r\n"
			"POST /echo HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody"
			"GET /items/3 HTTP/1.1\r\n\r\n");
	client_read(c, &r, false);
	assert_string_equal(r.body, "id=1 q=(null) n=- path=/items/1 qs=");
	resp_free(&r);
	client_read(c, &r, false);
	assert_int_equal(r.status, 201);
	assert_string_equal(r.body, "body");
	resp_free(&r);
	client_read(c, &r, false);
	assert_string_equal(r.body, "id=3 q=(null) n=- path=/items/3 qs=");
	resp_free(&r);

	/* An async answer holds back the answer of the next request. */
	client_sends(c, "GET /async HTTP/1.1\r\n\r\nGET /hello HTTP/1.1\r\n\r\n");
	client_read(c, &r, false);
	assert_string_equal(r.body, "later");
	resp_free(&r);
	client_read(c, &r, false);
	assert_string_equal(r.body, "hello world");
	resp_free(&r);
	assert_int_equal(f.async_answered, 1);

	/* Many small pipelined requests in one write. */
	struct acs_buf b;
	acs_buf_init(&b, 1 << 20);
	for (int i = 0; i < 200; i++)
		(void)acs_buf_printf(&b, "GET /items/%d HTTP/1.1\r\n\r\n", i);
	client_send(c, b.data, b.len);
	for (int i = 0; i < 200; i++) {
		char expect[64];
		client_read(c, &r, false);
		snprintf(expect, sizeof(expect), "id=%d q=(null) n=- path=/items/%d qs=", i, i);
		assert_string_equal(r.body, expect);
		resp_free(&r);
	}
	acs_buf_free(&b);

	/* A backlog larger than the server buffers while a request is held:
	 * reading pauses and resumes, nothing is lost or reordered. */
	acs_buf_init(&b, 4 << 20);
	(void)acs_buf_appends(&b, "GET /async HTTP/1.1\r\n\r\n");
	for (int i = 0; i < 6000; i++)
		(void)acs_buf_printf(&b, "GET /items/%d?pad=%s HTTP/1.1\r\n\r\n", i,
				     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	client_send(c, b.data, b.len);
	client_read(c, &r, false);
	assert_string_equal(r.body, "later");
	resp_free(&r);
	for (int i = 0; i < 6000; i++) {
		char expect[64];
		client_read(c, &r, false);
		snprintf(expect, sizeof(expect), "id=%d q=(null) n=- path=/items/%d qs=pad=", i, i);
		assert_memory_equal(r.body, expect, strlen(expect));
		resp_free(&r);
	}
	acs_buf_free(&b);
	client_close(c);
	fx_end(&f);
}

static void test_many_keepalive(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	char first[64] = "";
	for (int i = 0; i < 1000; i++) {
		roundtrip(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.body, "hello world");
		if (i == 0)
			snprintf(first, sizeof(first), "%s", hdr(&r, "X-Request-Id"));
		else if (i == 999)
			assert_string_not_equal(first, hdr(&r, "X-Request-Id"));
		resp_free(&r);
	}
	assert_int_equal(acs_http_server_connections(f.srv), 1);
	assert_int_equal(acs_http_server_inflight(f.srv), 0);
	client_close(c);
	fx_end(&f);
}

static void test_async_handler(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	client_sends(c, "GET /async HTTP/1.1\r\n\r\n");
	wait_inflight(&f, 1);
	assert_non_null(f.held);
	assert_string_equal(acs_http_req_method(f.held), "GET");
	assert_string_equal(acs_http_req_path(f.held), "/async");
	assert_non_null(acs_http_req_id(f.held));
	client_read(c, &r, false);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "later");
	resp_free(&r);
	assert_int_equal(acs_http_server_inflight(f.srv), 0);
	client_close(c);
	fx_end(&f);
}

static void test_answer_after_disconnect(void **state)
{
	(void)state;
	struct fx f;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	client_sends(c, "GET /hang HTTP/1.1\r\nX-Thing: 1\r\n\r\n");
	wait_inflight(&f, 1);
	client_close(c);
	wait_conns(&f, 0);
	assert_int_equal(acs_http_server_inflight(f.srv), 0);
	assert_int_equal(f.close_cbs, 1);
	/* The request is still readable, and answering it is a no-op. */
	assert_true(acs_http_req_client_gone(f.held));
	assert_string_equal(acs_http_req_path(f.held), "/hang");
	assert_string_equal(acs_http_req_header(f.held, "x-thing"), "1");
	acs_http_req_add_header(f.held, "X-A", "b");
	acs_http_respond(f.held, 200, "text/plain", "late", 4);
	f.held = NULL;

	/* Same when the server itself is closed under a held request. */
	c = client_new(&f.loop, f.port);
	client_sends(c, "GET /hang HTTP/1.1\r\n\r\n");
	wait_inflight(&f, 1);
	acs_http_server_close(f.srv, closed_cb, &f);
	run_until(&f.loop, fx_closed, &f);
	assert_int_equal(f.close_cbs, 2);
	acs_http_respond_error(f.held, 500, "x", NULL); /* server is gone: must be safe */
	expect_eof(c);
	client_close(c);
	acs_test_loop_close(&f.loop);
}

struct maxc_wait {
	struct client *c[3];
};

static bool all_connected(void *arg)
{
	struct maxc_wait *w = arg;
	return w->c[0]->connected && w->c[1]->connected && w->c[2]->connected;
}

static void test_max_connections(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	o.max_connections = 2;
	fx_start(&f, &o);
	struct client *a = client_new(&f.loop, f.port);
	struct client *b = client_new(&f.loop, f.port);
	wait_conns(&f, 2);
	struct client *x = client_new(&f.loop, f.port);
	expect_eof(x); /* accepted and closed at once */
	assert_int_equal(x->in.len, 0);
	client_close(x);
	/* Several more at once: all closed, nothing breaks. */
	struct maxc_wait w;
	for (int i = 0; i < 3; i++)
		w.c[i] = client_start(&f.loop, f.port);
	run_until(&f.loop, all_connected, &w);
	for (int i = 0; i < 3; i++) {
		if (w.c[i]->connected == 1)
			expect_eof(w.c[i]);
		client_close(w.c[i]);
	}
	/* The two accepted ones still work. */
	roundtrip(a, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	client_close(a);
	wait_conns(&f, 1);
	struct client *d = client_new(&f.loop, f.port);
	roundtrip(d, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	roundtrip(b, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	resp_free(&r);
	client_close(b);
	client_close(d);
	fx_end(&f);
}

static void test_xff(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();

	/* Untrusted peer (default): X-Forwarded-For ignored. */
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /client HTTP/1.1\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n", &r);
	assert_string_equal(r.body, "127.0.0.1|127.0.0.1");
	resp_free(&r);
	client_close(c);
	fx_end(&f);

	o.trusted_proxies = "10.0.0.0/8, 127.0.0.1 ,::1";
	fx_start(&f, &o);
	c = client_new(&f.loop, f.port);
	roundtrip(c,
		  "GET /client HTTP/1.1\r\n"
		  "X-Forwarded-For: 198.51.100.9, 203.0.113.7, 10.1.2.3\r\n\r\n",
		  &r);
	assert_string_equal(r.body, "203.0.113.7|127.0.0.1");
	resp_free(&r);
	/* Several headers form one list; the last is rightmost. */
	roundtrip(c,
		  "GET /client HTTP/1.1\r\nX-Forwarded-For: 192.0.2.1\r\n"
		  "x-forwarded-for: 2001:db8::5, ::1\r\n\r\n",
		  &r);
	assert_string_equal(r.body, "2001:db8::5|127.0.0.1");
	resp_free(&r);
	/* All hops trusted: the leftmost one. */
	roundtrip(c, "GET /client HTTP/1.1\r\nX-Forwarded-For: 10.0.0.1,10.0.0.2\r\n\r\n", &r);
	assert_string_equal(r.body, "10.0.0.1|127.0.0.1");
	resp_free(&r);
	/* Garbage stops the walk at the last good hop. */
	roundtrip(c, "GET /client HTTP/1.1\r\nX-Forwarded-For: evil, 10.9.9.9\r\n\r\n", &r);
	assert_string_equal(r.body, "10.9.9.9|127.0.0.1");
	resp_free(&r);
	roundtrip(c, "GET /client HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "127.0.0.1|127.0.0.1");
	resp_free(&r);
	client_close(c);
	fx_end(&f);

	/* Bad lists are refused at construction. */
	char err[ACS_ERR_LEN];
	uv_loop_t loop;
	uv_loop_init(&loop);
	o.trusted_proxies = "10.0.0.0/33";
	assert_null(acs_http_server_new(&loop, &o, err));
	assert_non_null(strstr(err, "10.0.0.0/33"));
	o.trusted_proxies = "example.com";
	assert_null(acs_http_server_new(&loop, &o, err));
	acs_test_loop_close(&loop);

	assert_int_equal(acs__http_trusted_contains("10.0.0.0/8", "10.255.1.1"), 1);
	assert_int_equal(acs__http_trusted_contains("10.0.0.0/8", "11.0.0.1"), 0);
	assert_int_equal(acs__http_trusted_contains("10.0.0.0/8", "::ffff:10.1.1.1"), 1);
	assert_int_equal(acs__http_trusted_contains("192.168.1.128/25", "192.168.1.200"), 1);
	assert_int_equal(acs__http_trusted_contains("192.168.1.128/25", "192.168.1.100"), 0);
	assert_int_equal(acs__http_trusted_contains("fd00::/8", "fd12:3456::1"), 1);
	assert_int_equal(acs__http_trusted_contains("fd00::/8", "fe80::1"), 0);
	assert_int_equal(acs__http_trusted_contains("2001:db8::/33", "2001:db8:7fff::1"), 1);
	assert_int_equal(acs__http_trusted_contains("2001:db8::/33", "2001:db8:8000::1"), 0);
	assert_int_equal(acs__http_trusted_contains("::1", "::1"), 1);
	assert_int_equal(acs__http_trusted_contains("0.0.0.0/0", "1.2.3.4"), 1);
	assert_int_equal(acs__http_trusted_contains("0.0.0.0/0", "::2"), 0);
	assert_int_equal(acs__http_trusted_contains("[::1]", "::1"), 1);
	assert_int_equal(acs__http_trusted_contains("", "::1"), 0);
	assert_int_equal(acs__http_trusted_contains("1.2.3.4/", "1.2.3.4"), ACS_ECONFIG);
	assert_int_equal(acs__http_trusted_contains("1.2.3.4/x", "1.2.3.4"), ACS_ECONFIG);
	assert_int_equal(acs__http_trusted_contains("::/129", "::"), ACS_ECONFIG);
}

static void test_head(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "HEAD /hello HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hdr(&r, "Content-Length"), "11");
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	/* No body bytes were sent: the next answer starts right away. */
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_memory_equal(r.raw, "HTTP/1.1 200 OK\r\n", 17);
	assert_string_equal(r.body, "hello world");
	resp_free(&r);
	roundtrip(c, "HEAD /nope HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 404);
	assert_int_equal(r.body_len, 0);
	resp_free(&r);
	roundtrip(c, "HEAD /stream HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hdr(&r, "Transfer-Encoding"), "chunked");
	resp_free(&r);
	while (f.stream_req) /* wait for the stream to end: it sends nothing */
		uv_run(&f.loop, UV_RUN_ONCE);
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "hello world");
	resp_free(&r);
	assert_int_equal(c->in.len, c->off);
	client_close(c);
	fx_end(&f);
}

static void test_http10(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", &r);
	assert_string_equal(hdr(&r, "Connection"), "keep-alive");
	resp_free(&r);
	roundtrip(c, "GET /hello HTTP/1.0\r\n\r\n", &r);
	assert_string_equal(hdr(&r, "Connection"), "close");
	assert_string_equal(r.body, "hello world");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /hello HTTP/1.1\r\nConnection: close\r\n\r\n", &r);
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(c);
	client_close(c);
	fx_end(&f);
}

static void test_stream(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /stream HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(hdr(&r, "Transfer-Encoding"), "chunked");
	assert_string_equal(hdr(&r, "Content-Type"), "text/event-stream");
	assert_null(hdr(&r, "Content-Length"));
	assert_string_equal(r.body, "data: a\n\ndata: b\n\n");
	const char *chunks = strstr(r.raw, "\r\n\r\n") + 4;
	assert_string_equal(chunks, "9\r\ndata: a\n\n\r\n9\r\ndata: b\n\n\r\n0\r\n\r\n");
	resp_free(&r);
	/* Keep-alive after the stream. */
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "hello world");
	resp_free(&r);

	/* The client leaves during a stream: the close callback fires, writes fail. */
	client_sends(c, "GET /stream-hang HTTP/1.1\r\n\r\n");
	wait_inflight(&f, 1);
	client_close(c);
	wait_conns(&f, 0);
	assert_int_equal(f.close_cbs, 1);
	assert_int_equal(acs_http_stream_write(f.stream_req, "x", 1), ACS_ECLOSED);
	acs_http_stream_end(f.stream_req);
	f.stream_req = NULL;
	fx_end(&f);
}

static void test_stop_accepting(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	struct client *idle = client_new(&f.loop, f.port);
	roundtrip(idle, "GET /hello HTTP/1.1\r\n\r\n", &r);
	resp_free(&r);
	struct client *busy = client_new(&f.loop, f.port);
	client_sends(busy, "GET /hang HTTP/1.1\r\n\r\n");
	wait_inflight(&f, 1);
	acs_http_server_stop_accepting(f.srv);
	acs_http_server_stop_accepting(f.srv);
	expect_eof(idle); /* idle keep-alive connections go at once */
	client_close(idle);
	struct client *late = client_start(&f.loop, f.port);
	run_until(&f.loop, client_connected, late);
	assert_true(late->connected < 0); /* refused */
	client_close(late);
	assert_int_equal(acs_http_server_port(f.srv), 0);
	/* The in-flight request still gets its answer, then the connection closes. */
	assert_int_equal(acs_http_server_connections(f.srv), 1);
	acs_http_respond(f.held, 200, "text/plain", "bye", 3);
	f.held = NULL;
	client_read(busy, &r, false);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "bye");
	assert_string_equal(hdr(&r, "Connection"), "close");
	resp_free(&r);
	expect_eof(busy);
	client_close(busy);
	wait_conns(&f, 0);
	fx_end(&f);
}

static bool hook(struct acs_http_req *req, void *arg)
{
	struct fx *f = arg;
	f->hook_calls++;
	if (!strcmp(acs_http_req_path(req), "/hooked")) {
		acs_http_respond(req, 429, "text/plain", "slow down", 9);
		return true;
	}
	return false;
}

static void fallback(struct acs_http_req *req, void *arg)
{
	(void)arg;
	const char *name, *value;
	struct acs_buf b;
	acs_buf_init(&b, 4096);
	(void)acs_buf_printf(&b, "%s %s", acs_http_req_method(req), acs_http_req_path(req));
	for (size_t i = 0; acs_http_req_header_at(req, i, &name, &value); i++)
		(void)acs_buf_printf(&b, " [%s=%s]", name, value);
	acs_http_respond(req, 200, "text/plain", b.data, b.len);
	acs_buf_free(&b);
}

static void test_hook_fallback(void **state)
{
	(void)state;
	struct fx f;
	struct resp r;
	struct acs_http_server_opts o = quiet_opts();
	fx_start(&f, &o);
	acs_http_server_set_hook(f.srv, hook, &f);
	acs_http_server_set_fallback(f.srv, fallback, &f);
	struct client *c = client_new(&f.loop, f.port);
	roundtrip(c, "GET /hooked HTTP/1.1\r\n\r\n", &r);
	assert_int_equal(r.status, 429);
	assert_memory_equal(r.raw, "HTTP/1.1 429 Too Many Requests\r\n", 32);
	resp_free(&r);
	roundtrip(c,
		  "PATCH /any/where HTTP/1.1\r\nA: 1\r\nB:\r\nC:  x y  \r\n"
		  "Content-Length: 0\r\n\r\n",
		  &r);
	assert_string_equal(r.body, "PATCH /any/where [A=1] [B=] [C=x y  ] [Content-Length=0]");
	resp_free(&r);
	roundtrip(c, "DELETE /hello HTTP/1.1\r\n\r\n", &r); /* 405 goes to the fallback too */
	assert_string_equal(r.body, "DELETE /hello");
	resp_free(&r);
	roundtrip(c, "GET /hello HTTP/1.1\r\n\r\n", &r);
	assert_string_equal(r.body, "hello world");
	resp_free(&r);
	assert_int_equal(f.hook_calls, 4);
	client_close(c);
	fx_end(&f);
}

static void test_listen_errors(void **state)
{
	(void)state;
	char err[ACS_ERR_LEN];
	uv_loop_t loop;
	uv_loop_init(&loop);
	struct acs_http_server *srv = acs_http_server_new(&loop, NULL, err);
	assert_non_null(srv);
	assert_int_equal(acs_http_server_listen(srv, "nohostport", err), UV_EINVAL);
	assert_int_equal(acs_http_server_listen(srv, "1.2.3.4:99999", err), UV_EINVAL);
	assert_int_equal(acs_http_server_listen(srv, "[::1:80", err), UV_EINVAL);
	assert_int_equal(acs_http_server_listen(srv, "example.com:80", err), UV_EINVAL);
	assert_int_equal(acs_http_server_listen(srv, "localhost:0", err), 0);
	assert_true(acs_http_server_port(srv) > 0);
	assert_int_equal(acs_http_server_listen(srv, "127.0.0.1:0", err), UV_EINVAL);
	/* Closing a server that never served anything still calls back later. */
	acs_http_server_close(srv, NULL, NULL);
	acs_test_loop_close(&loop);
	assert_string_equal(acs_http_status_text(404), "Not Found");
	assert_string_equal(acs_http_status_text(299), "OK");
	assert_string_equal(acs_http_status_text(499), "Client Error");
	assert_string_equal(acs_http_status_text(42), "Unknown");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN); /* the daemon does the same: writes to gone peers fail */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_simple),
		cmocka_unit_test(test_not_found_405),
		cmocka_unit_test(test_params_query),
		cmocka_unit_test(test_post_bodies),
		cmocka_unit_test(test_expect_continue),
		cmocka_unit_test(test_411),
		cmocka_unit_test(test_413),
		cmocka_unit_test(test_431),
		cmocka_unit_test(test_too_many_headers),
		cmocka_unit_test(test_400_garbage),
		cmocka_unit_test(test_408),
		cmocka_unit_test(test_idle_close),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_many_keepalive),
		cmocka_unit_test(test_async_handler),
		cmocka_unit_test(test_answer_after_disconnect),
		cmocka_unit_test(test_max_connections),
		cmocka_unit_test(test_xff),
		cmocka_unit_test(test_head),
		cmocka_unit_test(test_http10),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stop_accepting),
		cmocka_unit_test(test_hook_fallback),
		cmocka_unit_test(test_listen_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
