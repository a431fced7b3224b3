/* SPDX-License-Identifier: MIT */
/* libFuzzer target: raw client bytes through the HTTP server (llhttp
 * callbacks, limits, target decoding, routing, keep-alive, pipelining,
 * deferred and streamed answers, X-Forwarded-For), without a listener: the
 * server adopts one end of a socketpair and the input is injected as reads.
 *
 * Input: byte 0 = read size (0: whole input at once, else 1..255 bytes per
 * read), byte 1 = flags (bit 0 small limits, bit 1 trusted proxies with a
 * proxy peer, bit 2 a fallback handler), then the bytes the client sends. */
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "common.h"
#include "err.h"
#include "http_server.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define OUT_KEEP 4096

struct fz {
	struct acs_http_server *srv;
	struct acs_http_req *pending; /* a deferred request, answered between reads */
	bool pending_gone;	      /* its close callback ran */
	bool closed;
	char out[OUT_KEEP]; /* the first bytes the client received */
	size_t out_len;
	size_t out_total;
};

static void discard_log(enum acs_log_level level, const char *line, size_t len, void *arg)
{
	(void)level;
	(void)line;
	(void)len;
	(void)arg;
}

static void on_item(struct acs_http_req *req, void *arg)
{
	(void)arg;
	const char *id = acs_http_req_param(req, "id");
	const char *q = acs_http_req_query(req, "q");
	const char *x = acs_http_req_header(req, "X-Test");
	char body[512];
	int n = snprintf(body, sizeof(body), "%s|%s|%s|%s|%s|%s", id ? id : "-", q ? q : "-",
			 x ? x : "-", acs_http_req_client_ip(req), acs_http_req_path(req),
			 acs_http_req_query_string(req));
	acs_require(id); /* the route has :id: matching guarantees it */
	acs_http_req_add_header(req, "X-Item", id);
	acs_http_respond(req, 200, "text/plain", body, (size_t)ACS_MIN(n, (int)sizeof(body) - 1));
}

static void on_post(struct acs_http_req *req, void *arg)
{
	(void)arg;
	size_t len = 0, nh = 0;
	const char *b = acs_http_req_body(req, &len);
	const char *name, *value;
	acs_require(b && b[len] == '\0');
	while (acs_http_req_header_at(req, nh, &name, &value))
		nh++;
	json_t *j = json_pack("{s:I, s:I, s:s, s:s}", "len", (json_int_t)len, "headers",
			      (json_int_t)nh, "method", acs_http_req_method(req), "src",
			      acs_http_req_param(req, "src"));
	acs_http_respond_json(req, 202, j);
}

static void on_assets(struct acs_http_req *req, void *arg)
{
	(void)arg;
	const char *rest = acs_http_req_param(req, "rest");
	acs_require(rest);
	acs_http_respond(req, 200, "application/octet-stream", rest, strlen(rest));
}

static void on_stream(struct acs_http_req *req, void *arg)
{
	(void)arg;
	if (acs_http_respond_stream_begin(req, 200, "text/event-stream") == 0) {
		(void)acs_http_stream_write(req, "data: 1\n\n", 9);
		(void)acs_http_stream_write(req, "", 0);
	}
	acs_http_stream_end(req);
}

static void pending_closed(struct acs_http_req *req, void *arg)
{
	struct fz *f = arg;
	acs_require(req == f->pending);
	f->pending_gone = true;
}

static void on_defer(struct acs_http_req *req, void *arg)
{
	struct fz *f = arg;
	acs_require(!f->pending); /* one request at a time per connection */
	f->pending = req;
	f->pending_gone = false;
	acs_http_req_set_data(req, f);
	acs_http_req_set_close_cb(req, pending_closed, f);
}

static void on_fallback(struct acs_http_req *req, void *arg)
{
	(void)arg;
	acs_http_respond_error(req, 418, "teapot", acs_http_req_path(req));
}

static bool hook(struct acs_http_req *req, void *arg)
{
	(void)arg;
	if (acs_http_req_header(req, "X-Drop")) {
		acs_http_req_drop(req);
		return true;
	}
	return false;
}

static void answer_pending(struct fz *f)
{
	struct acs_http_req *req = f->pending;
	if (!req)
		return;
	acs_require(acs_http_req_get_data(req) == f);
	f->pending = NULL;
	acs_http_respond(req, 200, "text/plain", "later", 5);
}

static void drain(struct fz *f, int fd)
{
	char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		size_t k = ACS_MIN((size_t)n, OUT_KEEP - f->out_len);
		memcpy(f->out + f->out_len, buf, k);
		f->out_len += k;
		f->out_total += (size_t)n;
	}
}

static void closed_cb(void *arg)
{
	((struct fz *)arg)->closed = true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	if (!init) {
		signal(SIGPIPE, SIG_IGN);
		acs_log_set_sink(discard_log, NULL);
		acs_log_set_level(ACS_LOG_DEBUG);
		init = true;
	}
	if (size < 2)
		return 0;
	size_t step = data[0] ? data[0] : SIZE_MAX;
	unsigned flags = data[1];
	const char *in = (const char *)data + 2;
	size_t len = size - 2;

	uv_loop_t loop;
	acs_require(uv_loop_init(&loop) == 0);
	struct acs_http_server_opts o;
	acs_http_server_opts_defaults(&o);
	if (flags & 1) {
		o.max_header_bytes = 512;
		o.max_body_bytes = 256;
	}
	if (flags & 2)
		o.trusted_proxies = "10.0.0.0/8, ::1, 192.168.1.1";
	char err[ACS_ERR_LEN];
	struct fz f = { 0 };
	f.srv = acs_http_server_new(&loop, &o, err);
	acs_require(f.srv);
	acs_require(!acs_http_server_route(f.srv, "GET", "/api/items/:id", on_item, &f));
	acs_require(!acs_http_server_route(f.srv, "POST", "/webhooks/:src", on_post, &f));
	acs_require(!acs_http_server_route(f.srv, "PUT", "/webhooks/:src", on_post, &f));
	acs_require(!acs_http_server_route(f.srv, "*", "/assets/*rest", on_assets, &f));
	acs_require(!acs_http_server_route(f.srv, "GET", "/stream", on_stream, &f));
	acs_require(!acs_http_server_route(f.srv, "GET", "/defer/:n", on_defer, &f));
	acs_http_server_set_hook(f.srv, hook, &f);
	if (flags & 4)
		acs_http_server_set_fallback(f.srv, on_fallback, &f);

	int sv[2];
	acs_require(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	acs_require(fcntl(sv[1], F_SETFL, O_NONBLOCK) == 0);
	acs_require(acs__http_server_adopt(f.srv, sv[0], flags & 2 ? "10.1.2.3" : "127.0.0.1") ==
		    0);

	size_t off = 0;
	int stalls = 0;
	while (off < len) {
		size_t n = ACS_MIN(step, len - off);
		int r = acs__http_server_inject(f.srv, in + off, n);
		if (r == ACS_ECLOSED)
			break;
		if (r == UV_EAGAIN) {
			/* The server stopped reading: let writes finish, answer. */
			if (++stalls > 8)
				break;
		} else {
			acs_require(r > 0);
			off += (size_t)r;
			stalls = 0;
		}
		drain(&f, sv[1]);
		uv_run(&loop, UV_RUN_NOWAIT);
		drain(&f, sv[1]);
		answer_pending(&f);
		drain(&f, sv[1]);
	}
	answer_pending(&f);
	uv_run(&loop, UV_RUN_NOWAIT);
	drain(&f, sv[1]);
	shutdown(sv[1], SHUT_WR); /* EOF: the client is done */
	uv_run(&loop, UV_RUN_NOWAIT);
	drain(&f, sv[1]);
	answer_pending(&f);
	acs_http_server_close(f.srv, closed_cb, &f);
	uv_run(&loop, UV_RUN_DEFAULT);
	answer_pending(&f); /* after close: a no-op answer that frees it */
	acs_require(f.closed);
	drain(&f, sv[1]);
	close(sv[1]);
	acs_require(uv_loop_close(&loop) == 0);

	if (getenv("FUZZ_HTTP_DEBUG")) /* what the client saw, for writing seeds */
		fprintf(stderr, "--- %zu bytes back\n%.*s\n", f.out_total, (int)f.out_len, f.out);
	/* Whatever came back must be HTTP/1.1 responses. */
	if (f.out_len >= 9 && memcmp(f.out, "HTTP/1.1 ", 9) != 0) {
		fprintf(stderr, "response does not start with a status line: %.40s\n", f.out);
		abort();
	}
	return 0;
}
