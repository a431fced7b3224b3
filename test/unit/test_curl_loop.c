/* SPDX-License-Identifier: MIT */
/* Unit tests for curl_loop: real transfers over loopback against a tiny raw
 * uv_tcp HTTP/1.1 server living in the same loop (fault injection by path),
 * and the acceptance test against the project's own http_server. */
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "test_util.h"

#include "curl_loop.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"

/* ------------------------------------------------------------------------ */
/* Test server: keep-alive HTTP/1.1, one behaviour per path.                 */
/*   /hello          200 "hello world" with X-Test and Content-Type          */
/*   /echo           200, body = request body, X-Method = request method      */
/*   /headers        200, body = the request's header block                  */
/*   /close          200 "bye" with Connection: close, then closes           */
/*   /hello-drop     200 "hello" as keep-alive, then closes anyway            */
/*   /status/404     404 "nope"                                              */
/*   /gzip           200, gzip-encoded "hello gzip\n"                        */
/*   /huge           200 with Content-Length: 2 MiB                          */
/*   /huge-chunked   200, 2 MiB chunked (no length known up front)           */
/*   /bigheaders     200 after 80 KiB of response headers                    */
/*   /never          reads the request and never answers                     */
/*   /drop           closes the connection without answering                 */
/* ------------------------------------------------------------------------ */

#define HUGE_LEN (2u << 20)

static const unsigned char gzip_hello[] = {
	0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xcb,
	0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x48, 0xaf, 0xca, 0x2c, 0xe0, 0x02,
	0x00, 0x39, 0x7c, 0x63, 0x56, 0x0b, 0x00, 0x00, 0x00,
};

struct tsrv {
	uv_loop_t *loop;
	uv_tcp_t listener;
	int port;
	unsigned accepted; /* connections accepted so far */
	unsigned open;	   /* listener + connections not yet closed */
	unsigned requests; /* requests parsed */
	unsigned want;	   /* ... and reached is set once requests >= want */
	int reached;
	bool closing;
	int closed; /* set when every handle is closed */
	struct tconn *conns;
};

struct tconn {
	struct tsrv *srv;
	uv_tcp_t tcp;
	struct acs_buf in;
	bool closing;
	bool hold;		   /* a /never request: stop answering on this connection */
	struct tconn *prev, *next; /* tsrv::conns */
};

struct wreq {
	uv_write_t req;
	char *data;
};

static void tsrv_maybe_closed(struct tsrv *s)
{
	if (s->closing && s->open == 0)
		s->closed = 1;
}

static void tconn_closed_cb(uv_handle_t *h)
{
	struct tconn *c = acs_container_of((uv_tcp_t *)h, struct tconn, tcp);
	struct tsrv *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	acs_buf_free(&c->in);
	free(c);
	s->open--;
	tsrv_maybe_closed(s);
}

static void tconn_close(struct tconn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	uv_close((uv_handle_t *)&c->tcp, tconn_closed_cb);
}

static void write_done_cb(uv_write_t *req, int status)
{
	struct wreq *w = acs_container_of(req, struct wreq, req);
	(void)status; /* the client may have gone away (ETOOBIG tests) */
	free(w->data);
	free(w);
}

/* Takes ownership of data. */
static void tconn_send(struct tconn *c, char *data, size_t len)
{
	if (c->closing) {
		free(data);
		return;
	}
	struct wreq *w = acs_xmalloc(sizeof(*w));
	w->data = data;
	uv_buf_t b = uv_buf_init(data, (unsigned)len);
	if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, write_done_cb) < 0) {
		free(data);
		free(w);
		tconn_close(c);
	}
}

static void respond(struct tconn *c, int status, const char *extra, const void *body, size_t len)
{
	struct acs_buf b;
	acs_buf_init(&b, 64u << 20);
	assert_int_equal(acs_buf_printf(&b, "HTTP/1.1 %d Whatever\r\nContent-Length: %zu\r\n%s\r\n",
					status, len, extra ? extra : ""),
			 0);
	assert_int_equal(acs_buf_append(&b, body, len), 0);
	size_t n;
	char *data = acs_buf_steal(&b, &n);
	tconn_send(c, data, n);
}

/* Value of header name in the block [h, end), or NULL; copied into out. */
static const char *find_header(const char *h, const char *end, const char *name, char *out,
			       size_t outlen)
{
	size_t nl = strlen(name);
	for (const char *p = h; p < end;) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > nl && strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *v = p + nl + 1;
			while (v < eol && *v == ' ')
				v++;
			snprintf(out, outlen, "%.*s", (int)(eol - v), v);
			return out;
		}
		p = eol + 2;
	}
	return NULL;
}

static void handle(struct tconn *c, const char *method, const char *path, const char *hdrs,
		   size_t hdrs_len, const char *body, size_t body_len)
{
	if (strcmp(path, "/hello") == 0) {
		respond(c, 200, "Content-Type: text/plain\r\nX-Test:  yes \r\n", "hello world", 11);
	} else if (strcmp(path, "/echo") == 0) {
		char extra[128];
		snprintf(extra, sizeof(extra), "X-Method: %s\r\n", method);
		respond(c, 200, extra, body, body_len);
	} else if (strcmp(path, "/headers") == 0) {
		respond(c, 200, NULL, hdrs, hdrs_len);
	} else if (strcmp(path, "/close") == 0) {
		respond(c, 200, "Connection: close\r\n", "bye", 3);
		tconn_close(c); /* pending writes are flushed before the close */
	} else if (strcmp(path, "/hello-drop") == 0) {
		/* curl pools the connection and finds it dead only when it reuses it. */
		respond(c, 200, NULL, "hello", 5);
		tconn_close(c);
	} else if (strcmp(path, "/status/404") == 0) {
		respond(c, 404, NULL, "nope", 4);
	} else if (strcmp(path, "/gzip") == 0) {
		respond(c, 200, "Content-Encoding: gzip\r\n", gzip_hello, sizeof(gzip_hello));
	} else if (strcmp(path, "/huge") == 0) {
		char *big = acs_xmalloc(HUGE_LEN);
		memset(big, 'x', HUGE_LEN);
		respond(c, 200, NULL, big, HUGE_LEN);
		free(big);
	} else if (strcmp(path, "/huge-chunked") == 0) {
		struct acs_buf b;
		acs_buf_init(&b, 64u << 20);
		assert_int_equal(acs_buf_printf(&b,
						"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
						"\r\n\r\n%x\r\n",
						HUGE_LEN),
				 0);
		for (unsigned i = 0; i < HUGE_LEN / 1024; i++) {
			char k[1024];
			memset(k, 'y', sizeof(k));
			assert_int_equal(acs_buf_append(&b, k, sizeof(k)), 0);
		}
		assert_int_equal(acs_buf_appends(&b, "\r\n0\r\n\r\n"), 0);
		size_t n;
		char *data = acs_buf_steal(&b, &n);
		tconn_send(c, data, n);
	} else if (strcmp(path, "/bigheaders") == 0) {
		struct acs_buf h;
		acs_buf_init(&h, 1u << 20);
		char v[1000];
		memset(v, 'h', sizeof(v) - 1);
		v[sizeof(v) - 1] = '\0';
		for (int i = 0; i < 80; i++)
			assert_int_equal(acs_buf_printf(&h, "X-Filler-%d: %s\r\n", i, v), 0);
		respond(c, 200, h.data, "ok", 2);
		acs_buf_free(&h);
	} else if (strncmp(path, "/item/", 6) == 0) {
		char b[64];
		int n = snprintf(b, sizeof(b), "item:%s", path + 6);
		respond(c, 200, "Content-Type: text/plain\r\n", b, (size_t)n);
	} else if (strcmp(path, "/never") == 0) {
		c->hold = true;
	} else if (strcmp(path, "/drop") == 0) {
		tconn_close(c);
	} else {
		respond(c, 404, NULL, "", 0);
	}
}

static void tconn_process(struct tconn *c)
{
	while (!c->closing && !c->hold && c->in.len > 0) {
		char *start = c->in.data;
		char *hend = start ? memmem(start, c->in.len, "\r\n\r\n", 4) : NULL;
		if (!hend)
			return;
		char *eol = memmem(start, (size_t)(hend - start) + 2, "\r\n", 2);
		assert_non_null(eol); /* hend's own CRLF at the latest */
		char method[32] = "", path[256] = "";
		assert_int_equal(sscanf(start, "%31s %255s", method, path), 2);
		path[strcspn(path, "?")] = '\0';
		char cl[32];
		size_t body_len = 0;
		if (find_header(eol + 2, hend + 2, "Content-Length", cl, sizeof(cl)))
			body_len = strtoul(cl, NULL, 10);
		size_t hdr_total = (size_t)(hend - start) + 4;
		if (c->in.len < hdr_total + body_len)
			return;
		if (++c->srv->requests >= c->srv->want)
			c->srv->reached = 1;
		handle(c, method, path, eol + 2, (size_t)(hend + 2 - (eol + 2)), hend + 4,
		       body_len);
		if (!c->closing)
			acs_buf_consume(&c->in, hdr_total + body_len);
	}
}

static void alloc_cb(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
	(void)h;
	(void)sz;
	buf->base = acs_xmalloc(65536);
	buf->len = 65536;
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct tconn *c = acs_container_of((uv_tcp_t *)st, struct tconn, tcp);
	if (n < 0) {
		free(buf->base);
		tconn_close(c);
		return;
	}
	if (n > 0)
		assert_int_equal(acs_buf_append(&c->in, buf->base, (size_t)n), 0);
	free(buf->base);
	tconn_process(c);
}

static void accept_cb(uv_stream_t *l, int status)
{
	struct tsrv *s = acs_container_of((uv_tcp_t *)l, struct tsrv, listener);
	assert_int_equal(status, 0);
	struct tconn *c = acs_xcalloc(1, sizeof(*c));
	c->srv = s;
	acs_buf_init(&c->in, 16u << 20);
	assert_int_equal(uv_tcp_init(s->loop, &c->tcp), 0);
	s->open++;
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
	s->accepted++;
	assert_int_equal(uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb), 0);
}

static void listener_closed_cb(uv_handle_t *h)
{
	struct tsrv *s = acs_container_of((uv_tcp_t *)h, struct tsrv, listener);
	s->open--;
	tsrv_maybe_closed(s);
}

static void tsrv_start(struct tsrv *s, uv_loop_t *loop)
{
	memset(s, 0, sizeof(*s));
	s->loop = loop;
	struct sockaddr_in addr;
	assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &addr), 0);
	assert_int_equal(uv_tcp_init(loop, &s->listener), 0);
	s->open = 1;
	assert_int_equal(uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 1024, accept_cb), 0);
	struct sockaddr_in bound;
	int len = sizeof(bound);
	assert_int_equal(uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len), 0);
	s->port = ntohs(bound.sin_port);
}

static void tsrv_close(struct tsrv *s)
{
	if (s->closing)
		return;
	s->closing = true;
	uv_close((uv_handle_t *)&s->listener, listener_closed_cb);
	for (struct tconn *c = s->conns; c; c = c->next)
		tconn_close(c);
}

/* ------------------------------------------------------------------------ */
/* Fixture and result capture                                                */
/* ------------------------------------------------------------------------ */

struct fx {
	uv_loop_t loop;
	struct tsrv srv;
	struct acs_curl_loop *cl;
	int cl_closed;
	int in_api; /* set while inside a curl_loop call: callbacks must not see it */
	char base[64];
};

struct res {
	struct fx *f;
	int calls;
	int error;
	long status;
	long num_connects;
	char *body;
	size_t body_len;
	char *x_test;
	char *x_method;
	char *ctype;
	char *errmsg;
	size_t nheaders;
	uint64_t id;
};

static void fx_setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	assert_int_equal(uv_loop_init(&f->loop), 0);
	tsrv_start(&f->srv, &f->loop);
	snprintf(f->base, sizeof(f->base), "http://127.0.0.1:%d", f->srv.port);
	char err[ACS_ERR_LEN] = "";
	f->cl = acs_curl_loop_new(&f->loop, err);
	assert_non_null(f->cl);
}

static void set_flag_cb(void *arg)
{
	int *flag = arg;
	(*flag)++;
}

static void count_open_cb(uv_handle_t *h, void *arg)
{
	if (!uv_is_closing(h))
		(*(int *)arg)++;
}

static void fx_teardown(struct fx *f)
{
	if (f->cl)
		acs_curl_loop_close(f->cl, set_flag_cb, &f->cl_closed);
	tsrv_close(&f->srv);
	acs_test_run_until(&f->loop, &f->cl_closed, 10000);
	acs_test_run_until(&f->loop, &f->srv.closed, 10000);
	assert_int_equal(f->cl_closed, 1);
	/* curl_loop must have closed every poll, its timer and its idle. */
	int open = 0;
	uv_walk(&f->loop, count_open_cb, &open);
	assert_int_equal(open, 0);
	acs_test_loop_close(&f->loop);
}

static void res_free(struct res *r)
{
	free(r->body);
	free(r->x_test);
	free(r->x_method);
	free(r->ctype);
	free(r->errmsg);
	memset(r, 0, sizeof(*r));
}

static char *dup_or_null(const char *s)
{
	return s ? acs_xstrdup(s) : NULL;
}

static void done_cb(const struct acs_http_response *resp, void *arg)
{
	struct res *r = arg;
	assert_int_equal(r->f->in_api, 0); /* never synchronous */
	r->calls++;
	r->error = resp->error;
	r->status = resp->status;
	r->num_connects = resp->num_connects;
	r->id = resp->id;
	assert_non_null(resp->body);
	assert_non_null(resp->error_message);
	assert_int_equal(resp->body[resp->body_len], '\0');
	free(r->body);
	r->body = acs_xmalloc(resp->body_len + 1);
	memcpy(r->body, resp->body, resp->body_len + 1);
	r->body_len = resp->body_len;
	free(r->x_test);
	r->x_test = dup_or_null(acs_http_response_header(resp, "x-TEST"));
	free(r->x_method);
	r->x_method = dup_or_null(acs_http_response_header(resp, "X-Method"));
	free(r->ctype);
	r->ctype = dup_or_null(acs_http_response_header(resp, "content-type"));
	free(r->errmsg);
	r->errmsg = acs_xstrdup(resp->error_message);
	const char *n, *v;
	r->nheaders = 0;
	while (acs_http_response_header_at(resp, r->nheaders, &n, &v))
		r->nheaders++;
}

static int start_full(struct fx *f, const struct acs_http_request *req, struct res *r)
{
	r->f = f;
	uint64_t id = 0;
	f->in_api = 1;
	int rc = acs_curl_loop_request(f->cl, req, done_cb, r, &id);
	f->in_api = 0;
	if (rc == 0)
		r->id = id;
	return rc;
}

/* Start method base+path with an optional body; returns the transfer id. */
static uint64_t start(struct fx *f, const char *method, const char *path, const char *body,
		      size_t body_len, uint64_t timeout_ms, size_t max, struct res *r)
{
	char url[256];
	snprintf(url, sizeof(url), "%s%s", f->base, path);
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.body = body,
		.body_len = body_len,
		.timeout_ms = timeout_ms,
		.max_response_bytes = max,
	};
	assert_int_equal(start_full(f, &req, r), 0);
	return r->id;
}

static void wait_requests(struct fx *f, unsigned n)
{
	f->srv.want = n;
	f->srv.reached = f->srv.requests >= n;
	acs_test_run_until(&f->loop, &f->srv.reached, 10000);
}

static void wait_calls(struct fx *f, struct res *r)
{
	acs_test_run_until(&f->loop, &r->calls, 10000);
	assert_int_equal(r->calls, 1);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_get_200(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	uint64_t id = start(&f, "GET", "/hello", NULL, 0, 0, 0, &r);
	assert_true(id > 0);
	assert_int_equal(acs_curl_loop_active(f.cl), 1);
	wait_calls(&f, &r);
	assert_int_equal(acs_curl_loop_active(f.cl), 0);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.id, id);
	assert_int_equal(r.body_len, 11);
	assert_string_equal(r.body, "hello world");
	assert_string_equal(r.x_test, "yes");
	assert_string_equal(r.ctype, "text/plain");
	assert_null(r.x_method);
	assert_int_equal(r.nheaders, 3);
	assert_string_equal(r.errmsg, "");
	assert_int_equal(r.num_connects, 1);
	res_free(&r);

	/* A 404 is a response, not a transport error. */
	start(&f, "GET", "/status/404", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.status, 404);
	assert_string_equal(r.body, "nope");
	res_free(&r);
	fx_teardown(&f);
}

static void test_methods_and_bodies(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	static const char body[] = "bin\0ary{\"a\":1}";
	static const char *const methods[] = { "POST", "PUT", "PATCH", "DELETE" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(methods); i++) {
		/* The body is copied: scribbling over ours afterwards is harmless. */
		char *mine = acs_xmalloc(sizeof(body));
		memcpy(mine, body, sizeof(body));
		start(&f, methods[i], "/echo", mine, sizeof(body), 0, 0, &r);
		memset(mine, 'Z', sizeof(body));
		free(mine);
		wait_calls(&f, &r);
		assert_int_equal(r.error, 0);
		assert_int_equal(r.status, 200);
		assert_string_equal(r.x_method, methods[i]);
		assert_int_equal(r.body_len, sizeof(body));
		assert_memory_equal(r.body, body, sizeof(body));
		res_free(&r);
	}
	/* POST with an empty body still sends Content-Length: 0. */
	start(&f, "POST", "/echo", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.x_method, "POST");
	assert_int_equal(r.body_len, 0);
	res_free(&r);
	/* HEAD: headers only. */
	start(&f, "HEAD", "/hello", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.status, 200);
	assert_int_equal(r.body_len, 0);
	assert_string_equal(r.x_test, "yes");
	res_free(&r);
	/* After HEAD (no body) and a PUT on reused handles: a plain GET with a body. */
	start(&f, "GET", "/hello", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.status, 200);
	assert_true(r.body_len > 0);
	assert_string_equal(r.x_method ? r.x_method : "GET", "GET");
	res_free(&r);
	fx_teardown(&f);
}

static void test_request_headers(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	char url[128];
	snprintf(url, sizeof(url), "%s/headers", f.base);
	char custom[64];
	snprintf(custom, sizeof(custom), "X-Custom: %s", "one");
	const char *headers[] = { custom, "Content-Type: application/json", NULL };
	struct acs_http_request req = {
		.method = "POST",
		.url = url,
		.headers = headers,
		.body = "{}",
		.body_len = 2,
	};
	assert_int_equal(start_full(&f, &req, &r), 0);
	memset(custom, 0, sizeof(custom)); /* copied at request time */
	wait_calls(&f, &r);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.body, "X-Custom: one\r\n"));
	assert_non_null(strstr(r.body, "Content-Type: application/json\r\n"));
	assert_non_null(strstr(r.body, "User-Agent: ado-clickup-sync/"));
	assert_non_null(strstr(r.body, "Accept-Encoding: gzip\r\n"));
	assert_null(strcasestr(r.body, "Expect:"));
	res_free(&r);

	/* The next request reuses that easy handle (reset between requests): none of
	 * the previous request's headers, method or body carries over. */
	start(&f, "GET", "/headers", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.status, 200);
	assert_null(strstr(r.body, "X-Custom"));
	assert_null(strstr(r.body, "Content-Type: application/json"));
	assert_null(strcasestr(r.body, "Content-Length"));
	assert_non_null(strstr(r.body, "User-Agent: ado-clickup-sync/"));
	res_free(&r);

	/* gzip is decoded transparently. */
	start(&f, "GET", "/gzip", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, 0);
	assert_string_equal(r.body, "hello gzip\n");
	res_free(&r);
	fx_teardown(&f);
}

static void test_invalid_requests(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	char url[128];
	snprintf(url, sizeof(url), "%s/hello", f.base);
	const char *crlf[] = { "X-Evil: a\r\nHost: b", NULL };
	const char *nocolon[] = { "NoColon", NULL };
	struct acs_http_request bad[] = {
		{ .method = "get", .url = url },
		{ .method = "GET X", .url = url },
		{ .method = "", .url = url },
		{ .method = "GET", .url = NULL },
		{ .method = NULL, .url = url },
		{ .method = "POST", .url = url, .body = NULL, .body_len = 3 },
		{ .method = "GET", .url = url, .headers = crlf },
		{ .method = "GET", .url = url, .headers = nocolon },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		assert_int_equal(start_full(&f, &bad[i], &r), -EINVAL);
	assert_int_equal(r.calls, 0);
	assert_int_equal(acs_curl_loop_active(f.cl), 0);

	/* Malformed URLs and other schemes fail through the callback. */
	static const char *const urls[] = { "http://", "http://[::1", "ftp://127.0.0.1/x",
					    "http://a b/", "file:///etc/passwd" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(urls); i++) {
		struct acs_http_request req = { .method = "GET", .url = urls[i] };
		assert_int_equal(start_full(&f, &req, &r), 0);
		wait_calls(&f, &r);
		assert_int_equal(r.error, -EINVAL);
		assert_int_equal(r.status, 0);
		assert_string_not_equal(r.errmsg, "");
		res_free(&r);
	}
	fx_teardown(&f);
}

static void test_timeout(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	start(&f, "GET", "/never", NULL, 0, 200, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETIMEOUT);
	assert_int_equal(r.status, 0);
	assert_int_equal(r.body_len, 0);
	assert_string_not_equal(r.errmsg, "");
	assert_int_equal(f.srv.requests, 1);
	res_free(&r);
	fx_teardown(&f);
}

static void test_refused(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	/* A bound socket that does not listen: connects to it are refused,
	 * and nobody else can take the port meanwhile. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t alen = sizeof(a);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", ntohs(a.sin_port));
	struct acs_http_request req = { .method = "GET", .url = url };
	assert_int_equal(start_full(&f, &req, &r), 0);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETRANSPORT);
	assert_int_equal(r.status, 0);
	assert_string_not_equal(r.errmsg, "");
	res_free(&r);
	close(fd);
	fx_teardown(&f);
}

static void test_dropped(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	start(&f, "GET", "/drop", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETRANSPORT);
	assert_int_equal(r.status, 0);
	res_free(&r);
	fx_teardown(&f);
}

static void test_toobig(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	/* Known length over the limit: refused as soon as the headers arrive. */
	start(&f, "GET", "/huge", NULL, 0, 0, 1u << 20, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETOOBIG);
	assert_int_equal(r.body_len, 0);
	assert_string_not_equal(r.errmsg, "");
	res_free(&r);
	/* Unknown length: the bounded buffer stops it. */
	start(&f, "GET", "/huge-chunked", NULL, 0, 0, 1u << 20, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETOOBIG);
	assert_non_null(strstr(r.errmsg, "body exceeds"));
	res_free(&r);
	/* Headers have their own ceiling. */
	start(&f, "GET", "/bigheaders", NULL, 0, 0, 0, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETOOBIG);
	assert_non_null(strstr(r.errmsg, "headers exceed"));
	res_free(&r);
	/* Exactly at the limit is fine. */
	start(&f, "GET", "/huge", NULL, 0, 0, HUGE_LEN, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.body_len, HUGE_LEN);
	res_free(&r);
	start(&f, "GET", "/huge-chunked", NULL, 0, 0, HUGE_LEN, &r);
	wait_calls(&f, &r);
	assert_int_equal(r.error, 0);
	assert_int_equal(r.body_len, HUGE_LEN);
	assert_int_equal(r.body[HUGE_LEN - 1], 'y');
	res_free(&r);
	fx_teardown(&f);
}

static void test_cancel(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 }, ok = { 0 };
	fx_setup(&f);
	uint64_t id = start(&f, "GET", "/never", NULL, 0, 0, 0, &r);
	/* Let the request reach the server first. */
	wait_requests(&f, 1);
	f.in_api = 1;
	assert_int_equal(acs_curl_loop_cancel(f.cl, id), 0);
	assert_int_equal(acs_curl_loop_cancel(f.cl, id), ACS_ENOTFOUND);
	assert_int_equal(acs_curl_loop_cancel(f.cl, id + 1000), ACS_ENOTFOUND);
	f.in_api = 0;
	assert_int_equal(r.calls, 0); /* asynchronous */
	assert_int_equal(acs_curl_loop_active(f.cl), 1);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ECANCELED);
	assert_int_equal(acs_curl_loop_active(f.cl), 0);
	/* Cancel straight after starting, before any I/O. */
	struct res r2 = { 0 };
	uint64_t id2 = start(&f, "GET", "/hello", NULL, 0, 0, 0, &r2);
	assert_int_equal(acs_curl_loop_cancel(f.cl, id2), 0);
	wait_calls(&f, &r2);
	assert_int_equal(r2.error, ACS_ECANCELED);
	/* The curl_loop keeps working, and a finished id cannot be canceled. */
	uint64_t id3 = start(&f, "GET", "/hello", NULL, 0, 0, 0, &ok);
	wait_calls(&f, &ok);
	assert_int_equal(ok.status, 200);
	assert_int_equal(acs_curl_loop_cancel(f.cl, id3), ACS_ENOTFOUND);
	/* Drain the loop: nobody gets a second call. */
	uv_run(&f.loop, UV_RUN_NOWAIT);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r2.calls, 1);
	assert_int_equal(ok.calls, 1);
	res_free(&r);
	res_free(&r2);
	res_free(&ok);
	fx_teardown(&f);
}

struct close_ctx {
	struct fx *f;
	int calls;
	int canceled;
	int request_rc;
	int closed_before_all_callbacks;
};

static void close_done_cb(const struct acs_http_response *resp, void *arg)
{
	struct close_ctx *c = arg;
	assert_int_equal(c->f->in_api, 0);
	c->calls++;
	if (resp->error == ACS_ECANCELED)
		c->canceled++;
	if (c->f->cl_closed)
		c->closed_before_all_callbacks = 1;
	/* The API stays safe from pending callbacks after close. */
	struct acs_http_request req = { .method = "GET", .url = "http://127.0.0.1:1/" };
	c->request_rc = acs_curl_loop_request(c->f->cl, &req, close_done_cb, c, NULL);
	assert_int_equal(acs_curl_loop_cancel(c->f->cl, resp->id), ACS_ENOTFOUND);
}

static void test_close_inflight(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f);
	struct close_ctx c = { .f = &f };
	char url[128];
	snprintf(url, sizeof(url), "%s/never", f.base);
	struct acs_http_request req = { .method = "GET", .url = url };
	for (int i = 0; i < 5; i++)
		assert_int_equal(acs_curl_loop_request(f.cl, &req, close_done_cb, &c, NULL), 0);
	wait_requests(&f, 5);
	/* Two more that have not even started. */
	assert_int_equal(acs_curl_loop_request(f.cl, &req, close_done_cb, &c, NULL), 0);
	assert_int_equal(acs_curl_loop_request(f.cl, &req, close_done_cb, &c, NULL), 0);
	assert_int_equal(acs_curl_loop_active(f.cl), 7);
	f.in_api = 1;
	acs_curl_loop_close(f.cl, set_flag_cb, &f.cl_closed);
	acs_curl_loop_close(f.cl, set_flag_cb, &f.cl_closed); /* idempotent */
	f.in_api = 0;
	assert_int_equal(c.calls, 0);
	acs_test_run_until(&f.loop, &f.cl_closed, 10000);
	assert_int_equal(c.calls, 7);
	assert_int_equal(c.canceled, 7);
	assert_int_equal(c.request_rc, ACS_ECLOSED);
	assert_int_equal(c.closed_before_all_callbacks, 0);
	f.cl = NULL; /* freed; fx_teardown only closes the server */
	fx_teardown(&f);
}

/* Closing from inside a completion callback while others are in flight. */
struct reentrant {
	struct fx *f;
	int calls, canceled, ok;
};

static void reentrant_cb(const struct acs_http_response *resp, void *arg)
{
	struct reentrant *re = arg;
	re->calls++;
	if (resp->error == ACS_ECANCELED)
		re->canceled++;
	if (resp->error == 0 && resp->status == 200) {
		re->ok++;
		acs_curl_loop_close(re->f->cl, set_flag_cb, &re->f->cl_closed);
	}
}

static void test_close_from_callback(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f);
	struct reentrant re = { .f = &f };
	char never[128], hello[128];
	snprintf(never, sizeof(never), "%s/never", f.base);
	snprintf(hello, sizeof(hello), "%s/hello", f.base);
	struct acs_http_request rn = { .method = "GET", .url = never };
	struct acs_http_request rh = { .method = "GET", .url = hello };
	for (int i = 0; i < 3; i++)
		assert_int_equal(acs_curl_loop_request(f.cl, &rn, reentrant_cb, &re, NULL), 0);
	assert_int_equal(acs_curl_loop_request(f.cl, &rh, reentrant_cb, &re, NULL), 0);
	acs_test_run_until(&f.loop, &f.cl_closed, 10000);
	assert_int_equal(re.calls, 4);
	assert_int_equal(re.ok, 1);
	assert_int_equal(re.canceled, 3);
	f.cl = NULL;
	fx_teardown(&f);
}

/* Sequential requests, each started from the previous one's callback. */
struct chain {
	struct fx *f;
	const char *path;
	int left;
	int ok;
	int done;
	long connects;
};

static void chain_next(struct chain *ch);

static void chain_cb(const struct acs_http_response *resp, void *arg)
{
	struct chain *ch = arg;
	assert_int_equal(ch->f->in_api, 0);
	if (resp->error == 0 && resp->status == 200)
		ch->ok++;
	ch->connects += resp->num_connects;
	if (--ch->left > 0)
		chain_next(ch);
	else
		ch->done = 1;
}

static void chain_next(struct chain *ch)
{
	char url[128];
	snprintf(url, sizeof(url), "%s%s", ch->f->base, ch->path);
	struct acs_http_request req = { .method = "GET", .url = url };
	ch->f->in_api = 1;
	assert_int_equal(acs_curl_loop_request(ch->f->cl, &req, chain_cb, ch, NULL), 0);
	ch->f->in_api = 0;
}

/* n GETs of path, one after the other; returns how many answered 200. */
static unsigned run_chain(struct fx *f, const char *path, unsigned n, unsigned *connects)
{
	struct chain ch = { .f = f, .path = path, .left = (int)n };
	chain_next(&ch);
	acs_test_run_until(&f->loop, &ch.done, 20000);
	if (connects)
		*connects = (unsigned)ch.connects;
	return (unsigned)ch.ok;
}

/* Reached through ACS_STATIC: what a failed curl_multi_socket_action does. */
void curl_loop_reset_multi(struct acs_curl_loop *cl, int error);
uint64_t curl_loop_socks_created(const struct acs_curl_loop *cl);

/* One connection for 100 requests, and one poll context for it, not one per
 * request (curl_loop.c, SOCKETS). */
static void test_connection_reuse(void **state)
{
	(void)state;
	struct fx f;
	unsigned connects = 0;
	fx_setup(&f);
	assert_int_equal(run_chain(&f, "/hello", 100, &connects), 100);
	assert_int_equal(f.srv.requests, 100);
	assert_int_equal(f.srv.accepted, 1);
	assert_int_equal(connects, 1);
	assert_int_equal(curl_loop_socks_created(f.cl), 1);
	fx_teardown(&f);
}

static void test_fd_reuse(void **state)
{
	(void)state;
	struct fx f;
	unsigned connects = 0;
	fx_setup(&f);
	/* The server closes after each answer: curl opens a new socket each
	 * time, typically with the fd number just freed, and each needs a
	 * fresh poll context. */
	assert_int_equal(run_chain(&f, "/close", 30, &connects), 30);
	assert_int_equal(f.srv.accepted, 30);
	assert_int_equal(connects, 30);
	assert_int_equal(curl_loop_socks_created(f.cl), 30);
	fx_teardown(&f);
}

static void count_polls_cb(uv_handle_t *h, void *arg)
{
	if (h->type == UV_POLL && !uv_is_closing(h))
		(*(int *)arg)++;
}

/* A name /etc/hosts gives 127.0.0.1, other than localhost (which libcurl answers
 * itself): libcurl's threaded resolver looks it up. */
static bool hosts_loopback_name(char *out, size_t len)
{
	FILE *f = fopen("/etc/hosts", "r");
	char line[512];
	bool found = false;
	while (f && !found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || strcmp(tok, "127.0.0.1"))
			continue;
		while (!found && (tok = strtok_r(NULL, " \t\r\n", &save))) {
			if (*tok == '#')
				break;
			if (!strstr(tok, "localhost") && strlen(tok) < len) {
				snprintf(out, len, "%s", tok);
				found = true;
			}
		}
	}
	if (f)
		fclose(f);
	return found;
}

/* The threaded resolver's socket is watched and then closed without our
 * close-socket callback: its context goes at REMOVE, and only the pooled
 * connection keeps one (a kept context on a number something else reuses would,
 * when closed, take that number out of epoll). A rebuilt multi still works. */
static void test_resolver_socket_not_kept(void **state)
{
	(void)state;
	char name[128];
	if (!hosts_loopback_name(name, sizeof(name)))
		skip();
	struct fx f;
	fx_setup(&f);
	snprintf(f.base, sizeof(f.base), "http://%s:%d", name, f.srv.port);
	assert_int_equal(run_chain(&f, "/hello", 5, NULL), 5);
	/* The resolver's socketpair and the connection: two contexts made. */
	assert_int_equal(curl_loop_socks_created(f.cl), 2);
	int polls = 0;
	uv_walk(&f.loop, count_polls_cb, &polls);
	assert_int_equal(polls, 1);
	curl_loop_reset_multi(f.cl, ACS_ETRANSPORT);
	assert_int_equal(run_chain(&f, "/hello", 5, NULL), 5);
	polls = 0;
	uv_walk(&f.loop, count_polls_cb, &polls);
	assert_int_equal(polls, 1);
	fx_teardown(&f);
}

/* The server closes each pooled connection behind curl's back: curl closes the
 * socket when it finds it dead, the kept context goes with it, and the next
 * socket (usually the same fd number) gets a context of its own. */
static void test_pooled_socket_closed_by_peer(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f);
	assert_int_equal(run_chain(&f, "/hello-drop", 30, NULL), 30);
	assert_int_equal(f.srv.accepted, 30);
	assert_int_equal(curl_loop_socks_created(f.cl), 30);
	/* And the contexts work afterwards: a plain keep-alive series on top. */
	assert_int_equal(run_chain(&f, "/hello", 10, NULL), 10);
	fx_teardown(&f);
}

static void test_reset_multi(void **state)
{
	(void)state;
	struct fx f;
	struct res r[3] = { 0 }, ok = { 0 };
	fx_setup(&f);
	for (int i = 0; i < 3; i++)
		start(&f, "GET", "/never", NULL, 0, 0, 0, &r[i]);
	wait_requests(&f, 3);
	curl_loop_reset_multi(f.cl, ACS_ETRANSPORT);
	assert_int_equal(acs_curl_loop_active(f.cl), 3);
	for (int i = 0; i < 3; i++) {
		wait_calls(&f, &r[i]);
		assert_int_equal(r[i].error, ACS_ETRANSPORT);
		res_free(&r[i]);
	}
	start(&f, "GET", "/hello", NULL, 0, 0, 0, &ok);
	wait_calls(&f, &ok);
	assert_int_equal(ok.status, 200);
	res_free(&ok);
	fx_teardown(&f);
}

static void test_log_redaction(void **state)
{
	(void)state;
	struct fx f;
	struct res r = { 0 };
	fx_setup(&f);
	enum acs_log_level old = acs_log_get_level();
	acs_log_set_level(ACS_LOG_DEBUG);
	acs_test_log_capture_begin();
	char url[256];
	snprintf(url, sizeof(url), "http://alice:pw-s3cr3t@127.0.0.1:%d/drop?api_key=k3y-v4lue",
		 f.srv.port);
	const char *headers[] = { "Authorization: Bearer t0ken-v4lue", NULL };
	struct acs_http_request req = { .method = "GET", .url = url, .headers = headers };
	assert_int_equal(start_full(&f, &req, &r), 0);
	wait_calls(&f, &r);
	assert_int_equal(r.error, ACS_ETRANSPORT);
	const char *log = acs_test_log_captured();
	char want[128];
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/drop", f.srv.port);
	assert_non_null(strstr(log, want));
	assert_null(strstr(log, "s3cr3t"));
	assert_null(strstr(log, "alice"));
	assert_null(strstr(log, "k3y-v4lue"));
	assert_null(strstr(log, "t0ken"));
	acs_test_log_capture_end();
	acs_log_set_level(old);
	res_free(&r);
	fx_teardown(&f);
}

/* 1,000 concurrent requests to one server. */
struct many {
	struct fx *f;
	int done;
	int ok;
	int bad;
	int total;
};

struct one {
	struct many *m;
	int i;
};

static void many_cb(const struct acs_http_response *resp, void *arg)
{
	struct one *o = arg;
	struct many *m = o->m;
	assert_int_equal(m->f->in_api, 0);
	char want[32];
	snprintf(want, sizeof(want), "item:%d", o->i);
	if (resp->error == 0 && resp->status == 200 && strcmp(resp->body, want) == 0)
		m->ok++;
	else
		m->bad++;
	if (m->ok + m->bad == m->total)
		m->done = 1;
}

static void run_many(struct fx *f, int port, int n)
{
	struct many m = { .f = f, .total = n };
	struct one *ones = acs_xcalloc((size_t)n, sizeof(*ones));
	for (int i = 0; i < n; i++) {
		char url[128];
		snprintf(url, sizeof(url), "http://127.0.0.1:%d/item/%d", port, i);
		struct acs_http_request req = { .method = "GET", .url = url };
		ones[i].m = &m;
		ones[i].i = i;
		f->in_api = 1;
		assert_int_equal(acs_curl_loop_request(f->cl, &req, many_cb, &ones[i], NULL), 0);
		f->in_api = 0;
	}
	assert_int_equal(acs_curl_loop_active(f->cl), (size_t)n);
	acs_test_run_until(&f->loop, &m.done, 60000);
	assert_int_equal(m.ok, n);
	assert_int_equal(m.bad, 0);
	assert_int_equal(acs_curl_loop_active(f->cl), 0);
	free(ones);
}

static void test_concurrent_test_server(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f);
	run_many(&f, f.srv.port, 1000);
	assert_true(f.srv.accepted <= ACS_CURL_MAX_HOST_CONNECTIONS);
	fx_teardown(&f);
}

static void item_handler(struct acs_http_req *req, void *arg)
{
	int *count = arg;
	(*count)++;
	char body[32];
	int n = snprintf(body, sizeof(body), "item:%s", acs_http_req_param(req, "id"));
	acs_http_respond(req, 200, "text/plain", body, (size_t)n);
}

static void test_concurrent_own_server(void **state)
{
	(void)state;
	struct fx f;
	fx_setup(&f);
	char err[ACS_ERR_LEN] = "";
	struct acs_http_server_opts opts;
	acs_http_server_opts_defaults(&opts);
	opts.access_log = false;
	struct acs_http_server *srv = acs_http_server_new(&f.loop, &opts, err);
	assert_non_null(srv);
	int handled = 0;
	assert_int_equal(acs_http_server_route(srv, "GET", "/item/:id", item_handler, &handled), 0);
	assert_int_equal(acs_http_server_listen(srv, "127.0.0.1:0", err), 0);
	int port = acs_http_server_port(srv);
	assert_true(port > 0);
	run_many(&f, port, 1000);
	assert_int_equal(handled, 1000);
	/* Connections were shared: at most the per-host limit were opened. */
	assert_true(acs_http_server_connections(srv) <= ACS_CURL_MAX_HOST_CONNECTIONS);
	int srv_closed = 0;
	acs_http_server_close(srv, set_flag_cb, &srv_closed);
	acs_test_run_until(&f.loop, &srv_closed, 10000);
	fx_teardown(&f);
}

int main(void)
{
	/* The in-process test server writes to sockets curl may have closed. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_200),
		cmocka_unit_test(test_methods_and_bodies),
		cmocka_unit_test(test_request_headers),
		cmocka_unit_test(test_invalid_requests),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_dropped),
		cmocka_unit_test(test_toobig),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_close_inflight),
		cmocka_unit_test(test_close_from_callback),
		cmocka_unit_test(test_connection_reuse),
		cmocka_unit_test(test_fd_reuse),
		cmocka_unit_test(test_pooled_socket_closed_by_peer),
		cmocka_unit_test(test_resolver_socket_not_kept),
		cmocka_unit_test(test_reset_multi),
		cmocka_unit_test(test_log_redaction),
		cmocka_unit_test(test_concurrent_test_server),
		cmocka_unit_test(test_concurrent_own_server),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
