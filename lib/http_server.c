/* SPDX-License-Identifier: MIT */
/* HTTP/1.1 server on libuv + llhttp: accepting, per-connection parsing with
 * limits and timeouts, in-order answers for pipelined requests, the response
 * writer, streaming (chunked) answers and the access log.
 *
 * DESIGN
 *   One struct conn per TCP connection owns two handles (tcp, timer) and is
 *   freed only when both close callbacks ran. It owns one struct
 *   acs_http_req, reused for every request on the connection, so the steady
 *   state allocates nothing per request: the request's buffers (head, body,
 *   arena) and the connection's output buffer keep their capacity.
 *
 *   Reads land in one server-wide 64 KiB buffer and are fed to llhttp at
 *   once. on_message_complete pauses the parser; bytes after the pause point
 *   (pipelined requests) are copied to conn::pend and parsed only after the
 *   answer was written. Reading stops while more than PENDING_MAX bytes wait.
 *
 *   conn_process() is the only place that feeds pending bytes and dispatches
 *   handlers; it is guarded against re-entry, so a handler answering
 *   synchronously never recurses into the parser.
 *
 *   A handler may keep a request after its client went away: conn_close()
 *   detaches it (req->conn = NULL) and the request frees itself when the
 *   handler finishes it. Its close callback runs from the tcp close callback,
 *   never from inside a call the handler made.
 *
 * STATES (conn::state)
 *   READ -> REQUEST (message complete, handler owns req) -> WRITING (answer
 *   queued) -> READ (keep-alive) or LINGER (FIN sent, input drained until EOF
 *   or a short timeout, so the client reads the answer instead of an RST).
 *   REQUEST -> STREAM -> WRITING for chunked answers. */
#include "http_server.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <llhttp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "router.h"

#define MAX_HEADERS 100			   /* header lines per request; more -> 431 */
#define RBUF_SIZE (64u * 1024)		   /* shared read buffer */
#define PENDING_MAX (64u * 1024)	   /* unparsed bytes buffered before reading stops */
#define OUT_MAX ((size_t)256 << 20)	   /* one answer (headers + body) */
#define STREAM_QUEUE_MAX ((size_t)1 << 20) /* bytes queued for a slow streaming client */
#define KEEP_CAP (64u * 1024)		   /* buffer capacity kept between requests */
#define LINGER_MS 2000			   /* drain input after the final answer */
#define ARENA_INLINE 1024
#define IP_LEN 64
#define BACKLOG 511

/* --- small arena: per-request strings, released in one go --- */

struct arena_block {
	struct arena_block *next;
	size_t cap, used;
	char data[];
};

struct arena {
	struct arena_block *blocks; /* heap blocks, newest first */
	size_t used;		    /* bytes used of inline_buf */
	_Alignas(16) char inline_buf[ARENA_INLINE];
};

static void *arena_alloc(struct arena *a, size_t n)
{
	n = (n + 7) & ~(size_t)7;
	if (a->used + n <= ARENA_INLINE) {
		void *p = a->inline_buf + a->used;
		a->used += n;
		return p;
	}
	struct arena_block *b = a->blocks;
	if (b && b->cap - b->used >= n) {
		void *p = b->data + b->used;
		b->used += n;
		return p;
	}
	size_t cap = n > 4096 ? n : 4096;
	b = acs_xmalloc(sizeof(*b) + cap);
	b->cap = cap;
	b->used = n;
	b->next = a->blocks;
	a->blocks = b;
	return b->data;
}

static char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

static void arena_reset(struct arena *a)
{
	while (a->blocks) {
		struct arena_block *b = a->blocks;
		a->blocks = b->next;
		free(b);
	}
	a->used = 0;
}

/* --- addresses and trusted proxies --- */

struct ipaddr {
	int family; /* AF_INET or AF_INET6 (v4-mapped v6 is stored as v4) */
	uint8_t b[16];
};

struct cidr {
	struct ipaddr addr;
	unsigned prefix;
};

/* Parse a bare IPv4/IPv6 literal (IPv6 optionally in brackets). */
static bool parse_ip(const char *s, size_t len, struct ipaddr *out)
{
	char buf[INET6_ADDRSTRLEN + 1];

	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') {
		s++;
		len -= 2;
	}
	if (!len || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, buf, out->b) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, out->b) != 1)
		return false;
	out->family = AF_INET6;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (!memcmp(out->b, mapped, 12)) {
		memmove(out->b, out->b + 12, 4);
		memset(out->b + 4, 0, 12);
		out->family = AF_INET;
	}
	return true;
}

static void ip_to_string(const struct ipaddr *a, char *dst, size_t len)
{
	if (!inet_ntop(a->family, a->b, dst, (socklen_t)len))
		snprintf(dst, len, "?");
}

static bool cidr_contains(const struct cidr *c, const struct ipaddr *a)
{
	if (c->addr.family != a->family)
		return false;
	unsigned full = c->prefix / 8, rest = c->prefix % 8;
	if (memcmp(c->addr.b, a->b, full))
		return false;
	if (!rest)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (c->addr.b[full] & mask) == (a->b[full] & mask);
}

/* Parse "10.0.0.0/8, 127.0.0.1, ::1, fd00::/8" into an array (caller frees).
 * Returns 0 or ACS_ECONFIG with err. */
static int parse_trusted(const char *list, struct cidr **out, size_t *n, char err[ACS_ERR_LEN])
{
	struct cidr *v = NULL;
	size_t cnt = 0, cap = 0;
	const char *p = list ? list : "";

	*out = NULL;
	*n = 0;
	while (*p) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ',' && *e != ' ' && *e != '\t')
			e++;
		const char *slash = memchr(p, '/', (size_t)(e - p));
		struct cidr c;
		if (!parse_ip(p, (size_t)((slash ? slash : e) - p), &c.addr))
			goto bad;
		unsigned max = c.addr.family == AF_INET ? 32 : 128;
		c.prefix = max;
		if (slash) {
			char *end;
			if (slash + 1 == e || slash[1] < '0' || slash[1] > '9')
				goto bad;
			unsigned long pl = strtoul(slash + 1, &end, 10);
			if (end != e || pl > max)
				goto bad;
			/* "::ffff:10.0.0.0/104" was stored as v4: shift the prefix too. */
			if (max == 32 && memchr(p, ':', (size_t)(slash - p)))
				pl = pl >= 96 ? pl - 96 : 0;
			c.prefix = (unsigned)pl;
		}
		if (cnt == cap) {
			cap = cap ? cap * 2 : 4;
			v = acs_xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = c;
		p = e;
		continue;
	bad:
		if (err)
			snprintf(err, ACS_ERR_LEN, "trusted_proxies: bad address or CIDR '%.*s'",
				 (int)ACS_MIN((size_t)(e - p), 64), p);
		free(v);
		return ACS_ECONFIG;
	}
	*out = v;
	*n = cnt;
	return 0;
}

#ifdef ACS_UNIT_TEST
int acs__http_trusted_contains(const char *list, const char *ip)
{
	struct cidr *v;
	struct ipaddr a;
	size_t n;
	bool found = false;

	if (parse_trusted(list, &v, &n, NULL))
		return ACS_ECONFIG;
	if (parse_ip(ip, strlen(ip), &a))
		for (size_t i = 0; i < n && !found; i++)
			found = cidr_contains(&v[i], &a);
	free(v);
	return found;
}
#endif

/* --- structures --- */

struct route_entry {
	acs_http_handler_cb cb;
	void *arg;
	struct route_entry *next; /* acs_http_server::routes */
};

struct hdr {
	uint32_t name, value; /* offsets into req::head, both NUL-terminated */
};

struct resp_hdr {
	struct resp_hdr *next; /* acs_http_req::rh */
	const char *name, *value;
};

struct req_param {
	const char *name, *value;
};

enum part {
	P_NONE,
	P_URL,
	P_FIELD,
	P_VALUE
};

struct conn;

struct acs_http_req {
	struct conn *conn;   /**< NULL once detached (client gone, server closed) */
	struct conn *zombie; /**< closing conn that will run close_cb for this detached req */
	struct acs_buf head; /**< url, header names/values, decoded path, query; NUL-separated */
	struct acs_buf body;
	struct hdr hdrs[MAX_HEADERS];
	size_t nhdrs;
	enum part part;	  /**< span being accumulated */
	size_t hdr_bytes; /**< request line + header bytes seen */
	size_t url_len;	  /**< url starts at head offset 0 */
	size_t raw_path_off, raw_path_len, query_off, query_len; /* offsets into head */
	const char *path;					 /**< decoded, in the arena */
	bool target_ok;						 /**< path/query offsets are set */
	const char *method;
	uint8_t http_major, http_minor;
	bool keep_alive, is_head, dispatched, streaming, stream_raw;
	struct req_param params[ACS_ROUTER_MAX_PARAMS];
	size_t nparams;
	struct resp_hdr *rh, **rh_tail;
	struct arena arena;
	uint64_t t0; /**< uv_hrtime at the first byte */
	int status;  /**< streaming answer status */
	size_t stream_bytes;
	void *data;
	acs_http_req_close_cb close_cb;
	void *close_arg;
	char rid[40];
	char peer[IP_LEN];
	char client[IP_LEN];
};

enum conn_state {
	ST_READ,    /* parsing: idle or part of a request received */
	ST_REQUEST, /* complete request waiting for (or with) its handler */
	ST_STREAM,  /* handler streams a chunked answer */
	ST_WRITING, /* answer queued; next step when the writes finish */
	ST_LINGER,  /* final answer sent; draining input until EOF */
};

enum timer_mode {
	TM_NONE,
	TM_READ,
	TM_IDLE,
	TM_WRITE,
	TM_LINGER
};

struct conn {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t out_w; /* writes conn::out */
	uv_shutdown_t shut;
	struct acs_http_server *srv;
	struct conn *prev, *next; /* acs_http_server::conns */
	llhttp_t parser;
	struct acs_http_req *req;	 /* current request; NULL once closing */
	struct acs_http_req *zombie_req; /* detached request to notify on close */
	struct acs_buf pend;		 /* received bytes not parsed yet */
	size_t pend_off;
	struct acs_buf out; /* the answer being written (one at a time) */
	bool out_err;
	enum conn_state state;
	enum timer_mode tmode;
	unsigned nwrites; /* write requests in flight */
	int handles;	  /* open uv handles */
	int fail_status;  /* set by parser callbacks that reject the request */
	const char *fail_error, *fail_detail;
	bool closing, reading, paused, dead, msg_begun, in_process, keep_alive;
	struct ipaddr peer_addr;
	char peer[IP_LEN];
};

struct reject {
	uv_tcp_t tcp;
	struct acs_http_server *srv;
};

struct acs_http_server {
	uv_loop_t *loop;
	uv_tcp_t listener;
	uv_check_t closer; /* never started: its close callback makes _close always async */
	struct acs_http_server_opts opts;
	char *trusted_str;
	struct cidr *trusted;
	size_t ntrusted;
	struct acs_router *router;
	struct route_entry *routes;
	acs_http_handler_cb fallback;
	void *fallback_arg;
	acs_http_hook_cb hook;
	void *hook_arg;
	struct conn *conns;
	size_t nconns, inflight;
	unsigned open; /* handles whose close callback is still due: listener, closer, conns,
			* rejects */
	bool listening, listener_closed, stopping, closing;
	acs_http_server_closed_cb closed_cb;
	void *closed_arg;
	llhttp_settings_t settings;
	char *rbuf;
	int port;
	uint64_t reject_logged_ms; /* uv_now of the last "limit reached" warning */
	char rid_prefix[9];
	uint64_t rid_next;
	time_t date_sec;
	char date[40];
};

static void conn_process(struct conn *c);
static void conn_close(struct conn *c);
static void conn_fail(struct conn *c, int status, const char *error, const char *detail);
static void after_response(struct conn *c);

/* --- options --- */

void acs_http_server_opts_defaults(struct acs_http_server_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->max_header_bytes = 16 * 1024;
	opts->max_body_bytes = 4 * 1024 * 1024;
	opts->read_timeout_ms = 10 * 1000;
	opts->idle_timeout_ms = 60 * 1000;
	opts->max_connections = 1024;
	opts->trusted_proxies = NULL;
	opts->access_log = true;
}

const char *acs_http_status_text(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 101:
		return "Switching Protocols";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 202:
		return "Accepted";
	case 204:
		return "No Content";
	case 206:
		return "Partial Content";
	case 301:
		return "Moved Permanently";
	case 302:
		return "Found";
	case 303:
		return "See Other";
	case 304:
		return "Not Modified";
	case 307:
		return "Temporary Redirect";
	case 308:
		return "Permanent Redirect";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 410:
		return "Gone";
	case 411:
		return "Length Required";
	case 412:
		return "Precondition Failed";
	case 413:
		return "Payload Too Large";
	case 414:
		return "URI Too Long";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Entity";
	case 425:
		return "Too Early";
	case 428:
		return "Precondition Required";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		break;
	}
	if (status >= 200 && status < 300)
		return "OK";
	if (status >= 400 && status < 500)
		return "Client Error";
	if (status >= 500 && status < 600)
		return "Server Error";
	return "Unknown";
}

/* --- requests --- */

static void req_reset(struct acs_http_req *req)
{
	if (req->head.cap > KEEP_CAP)
		acs_buf_free(&req->head);
	else
		acs_buf_reset(&req->head);
	if (req->body.cap > KEEP_CAP)
		acs_buf_free(&req->body);
	else
		acs_buf_reset(&req->body);
	arena_reset(&req->arena);
	req->nhdrs = 0;
	req->part = P_NONE;
	req->hdr_bytes = 0;
	req->url_len = 0;
	req->target_ok = false;
	req->method = "";
	req->http_major = 1;
	req->http_minor = 1;
	req->keep_alive = true;
	req->is_head = false;
	req->dispatched = false;
	req->streaming = false;
	req->stream_raw = false;
	req->nparams = 0;
	req->rh = NULL;
	req->rh_tail = &req->rh;
	req->t0 = 0;
	req->status = 0;
	req->stream_bytes = 0;
	req->data = NULL;
	req->close_cb = NULL;
	req->close_arg = NULL;
	req->rid[0] = '\0';
	req->client[0] = '\0';
}

static struct acs_http_req *req_new(struct conn *c)
{
	struct acs_http_req *req = acs_xmalloc(sizeof(*req));
	const struct acs_http_server_opts *o = &c->srv->opts;

	req->conn = c;
	req->zombie = NULL;
	/* Room for the NULs after the url and each header name and value. */
	acs_buf_init(&req->head, o->max_header_bytes + MAX_HEADERS * 2 + 64);
	acs_buf_init(&req->body, o->max_body_bytes);
	req->arena.blocks = NULL;
	req->arena.used = 0;
	memcpy(req->peer, c->peer, sizeof(req->peer));
	req_reset(req);
	return req;
}

static void req_free(struct acs_http_req *req)
{
	acs_buf_free(&req->head);
	acs_buf_free(&req->body);
	arena_reset(&req->arena);
	free(req);
}

/* Finish a detached request: only memory is left to release. */
static void req_discard(struct acs_http_req *req)
{
	if (req->zombie)
		req->zombie->zombie_req = NULL;
	req_free(req);
}

static void make_rid(struct acs_http_server *srv, struct acs_http_req *req)
{
	static const char hex[] = "0123456789abcdef";
	char tmp[20];
	size_t n = 0;
	uint64_t v = ++srv->rid_next;

	do {
		tmp[n++] = hex[v & 15];
		v >>= 4;
	} while (v);
	memcpy(req->rid, srv->rid_prefix, 8);
	req->rid[8] = '-';
	for (size_t i = 0; i < n; i++)
		req->rid[9 + i] = tmp[n - 1 - i];
	req->rid[9 + n] = '\0';
}

/* --- timers --- */

static void timer_stop(struct conn *c)
{
	if (c->tmode != TM_NONE) {
		uv_timer_stop(&c->timer);
		c->tmode = TM_NONE;
	}
}

static void timer_cb(uv_timer_t *t)
{
	struct conn *c = acs_container_of(t, struct conn, timer);
	enum timer_mode mode = c->tmode;

	c->tmode = TM_NONE;
	if (mode == TM_READ && c->state == ST_READ && c->msg_begun && !c->dead)
		conn_fail(c, 408, "request_timeout", "request not received in time");
	else
		conn_close(c);
}

static void timer_set(struct conn *c, enum timer_mode mode, uint64_t ms)
{
	if (!ms) {
		timer_stop(c);
		return;
	}
	c->tmode = mode;
	uv_timer_start(&c->timer, timer_cb, ms, 0);
}

/* --- writing --- */

struct wreq {
	uv_write_t w;
	struct conn *c;
	char data[];
};

static void write_finished(struct conn *c, int status)
{
	c->nwrites--;
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c);
		return;
	}
	if (c->nwrites == 0) {
		if (c->tmode == TM_WRITE)
			timer_stop(c);
		if (c->state == ST_WRITING)
			after_response(c);
	}
}

static void out_write_cb(uv_write_t *w, int status)
{
	write_finished(acs_container_of(w, struct conn, out_w), status);
}

static void heap_write_cb(uv_write_t *w, int status)
{
	struct wreq *r = acs_container_of(w, struct wreq, w);
	struct conn *c = r->c;
	free(r);
	write_finished(c, status);
}

/* Write bufs, copying whatever the socket does not take at once.
 * Returns 0 (all written now), 1 (queued) or a UV_E* error. */
static int conn_write_copy(struct conn *c, const uv_buf_t *bufs, unsigned n)
{
	size_t total = 0, skip = 0;
	for (unsigned i = 0; i < n; i++)
		total += bufs[i].len;
	int r = uv_try_write((uv_stream_t *)&c->tcp, bufs, n);
	if (r >= 0 && (size_t)r == total)
		return 0;
	if (r < 0 && r != UV_EAGAIN)
		return r;
	if (r > 0)
		skip = (size_t)r;
	struct wreq *w = acs_xmalloc(sizeof(*w) + total - skip);
	size_t o = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t l = bufs[i].len;
		const char *b = bufs[i].base;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		memcpy(w->data + o, b + skip, l - skip);
		o += l - skip;
		skip = 0;
	}
	w->c = c;
	uv_buf_t one = uv_buf_init(w->data, (unsigned)o);
	r = uv_write(&w->w, (uv_stream_t *)&c->tcp, &one, 1, heap_write_cb);
	if (r) {
		free(w);
		return r;
	}
	c->nwrites++;
	return 1;
}

/* Send conn::out. On completion (now or in the write callback) the state
 * machine moves on through write_finished/after_response. */
static void send_out(struct conn *c)
{
	uv_buf_t b = uv_buf_init(c->out.data, (unsigned)c->out.len);
	int r = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);

	if (r >= 0 && (size_t)r == c->out.len) {
		c->nwrites++;
		write_finished(c, 0);
		return;
	}
	if (r < 0 && r != UV_EAGAIN) {
		conn_close(c);
		return;
	}
	if (r > 0) {
		b.base += r;
		b.len -= (size_t)r;
	}
	r = uv_write(&c->out_w, (uv_stream_t *)&c->tcp, &b, 1, out_write_cb);
	if (r) {
		conn_close(c);
		return;
	}
	c->nwrites++;
	/* A client that stops reading must not pin the connection forever. */
	if (c->tmode == TM_NONE)
		timer_set(c, TM_WRITE, c->srv->opts.idle_timeout_ms);
}

static void out_put(struct conn *c, const void *p, size_t n)
{
	if (!c->out_err && acs_buf_append(&c->out, p, n))
		c->out_err = true;
}

static void out_puts(struct conn *c, const char *s)
{
	out_put(c, s, strlen(s));
}

static void out_putu(struct conn *c, uint64_t v)
{
	char tmp[24];
	size_t n = sizeof(tmp);
	do {
		tmp[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	out_put(c, tmp + n, sizeof(tmp) - n);
}

static const char *http_date(struct acs_http_server *srv)
{
	static const char days[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t now = time(NULL);
	struct tm tm;

	if (now == srv->date_sec && srv->date[0])
		return srv->date;
	srv->date_sec = now;
	gmtime_r(&now, &tm);
	snprintf(srv->date, sizeof(srv->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
		 days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900,
		 tm.tm_hour, tm.tm_min, tm.tm_sec);
	return srv->date;
}

static bool header_safe(const char *s)
{
	return !strpbrk(s, "\r\n");
}

/* Status line and headers into conn::out. length < 0: chunked / close-delimited. */
static void build_head(struct conn *c, struct acs_http_req *req, int status, const char *ctype,
		       int64_t length, bool keep_alive)
{
	acs_buf_reset(&c->out);
	c->out_err = false;
	if (status < 100 || status > 999)
		status = 500;
	char line[16] = "HTTP/1.1 ";
	line[9] = (char)('0' + status / 100);
	line[10] = (char)('0' + status / 10 % 10);
	line[11] = (char)('0' + status % 10);
	line[12] = ' ';
	out_put(c, line, 13);
	out_puts(c, acs_http_status_text(status));
	out_puts(c, "\r\nDate: ");
	out_puts(c, http_date(c->srv));
	if (ctype && *ctype && header_safe(ctype)) {
		out_puts(c, "\r\nContent-Type: ");
		out_puts(c, ctype);
	}
	if (length < 0) {
		if (!req->stream_raw)
			out_puts(c, "\r\nTransfer-Encoding: chunked");
	} else if (status >= 200 && status != 204 && status != 304) {
		out_puts(c, "\r\nContent-Length: ");
		out_putu(c, (uint64_t)length);
	}
	out_puts(c, keep_alive ? "\r\nConnection: keep-alive" : "\r\nConnection: close");
	if (!req->rid[0])
		make_rid(c->srv, req);
	out_puts(c, "\r\nX-Request-Id: ");
	out_puts(c, req->rid);
	for (struct resp_hdr *h = req->rh; h; h = h->next) {
		out_puts(c, "\r\n");
		out_puts(c, h->name);
		out_puts(c, ": ");
		out_puts(c, h->value);
	}
	out_put(c, "\r\n\r\n", 4);
}

static void access_log(struct conn *c, struct acs_http_req *req, int status, size_t bytes)
{
	if (!c->srv->opts.access_log || !acs_log_enabled(ACS_LOG_INFO))
		return;
	char st[8], by[24], us[24];
	snprintf(st, sizeof(st), "%d", status);
	snprintf(by, sizeof(by), "%zu", bytes);
	snprintf(us, sizeof(us), "%" PRIu64, acs_http_req_elapsed_us(req));
	struct acs_log_field f[] = {
		{ "method", req->method },
		{ "path", acs_http_req_path(req) },
		{ "status", st },
		{ "bytes", by },
		{ "us", us },
		{ "rid", req->rid },
		{ "client", acs_http_req_client_ip(req) },
	};
	acs_log_kv(ACS_LOG_INFO, "http", "request", f, ACS_ARRAY_SIZE(f));
}

/* The request is answered: log it and make it ready for the next one. */
static void finish_req(struct conn *c, struct acs_http_req *req, int status, size_t bytes)
{
	access_log(c, req, status, bytes);
	if (req->dispatched)
		c->srv->inflight--;
	req_reset(req);
}

/* --- answering --- */

static bool answerable(struct acs_http_req *req)
{
	struct conn *c = req->conn;
	if (!c) {
		req_discard(req);
		return false;
	}
	if (acs_fails_assert(c->req == req && c->state == ST_REQUEST))
		return false;
	return true;
}

void acs_http_req_add_header(struct acs_http_req *req, const char *name, const char *value)
{
	if (!name || !value || !header_safe(name) || !header_safe(value) || !*name) {
		acs_log(ACS_LOG_WARN, "http", "dropping unsafe response header");
		return;
	}
	struct resp_hdr *h = arena_alloc(&req->arena, sizeof(*h));
	h->name = arena_strndup(&req->arena, name, strlen(name));
	h->value = arena_strndup(&req->arena, value, strlen(value));
	h->next = NULL;
	*req->rh_tail = h;
	req->rh_tail = &h->next;
}

void acs_http_respond(struct acs_http_req *req, int status, const char *content_type,
		      const void *body, size_t len)
{
	if (!answerable(req))
		return;
	struct conn *c = req->conn;
	bool ka = req->keep_alive && !c->srv->stopping;
	bool with_body = !req->is_head && status >= 200 && status != 204 && status != 304;

	if (!body)
		len = 0;
	build_head(c, req, status, content_type, (int64_t)len, ka);
	if (with_body && len)
		out_put(c, body, len);
	if (c->out_err) {
		acs_log(ACS_LOG_ERR, "http", "answer of %zu bytes exceeds the output limit", len);
		finish_req(c, req, 500, 0);
		conn_close(c);
		return;
	}
	finish_req(c, req, status, with_body ? len : 0);
	c->keep_alive = ka;
	c->state = ST_WRITING;
	send_out(c);
}

void acs_http_respond_json(struct acs_http_req *req, int status, json_t *body)
{
	char *s = body ? acs_json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (!s) {
		acs_http_respond_error(req, 500, "internal", "cannot encode the answer");
		return;
	}
	acs_http_respond(req, status, "application/json", s, strlen(s));
	free(s);
}

/* JSON string with escapes; non-ASCII bytes pass through when the whole
 * text is valid UTF-8 (checked by jansson), else they become '?'. */
static void json_put_string(struct acs_buf *b, const char *s)
{
	json_t *probe = json_string(s);
	bool utf8 = probe != NULL;
	json_decref(probe);
	(void)acs_buf_append(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			(void)acs_buf_append(b, esc, 2);
		} else if (*p < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", *p);
			(void)acs_buf_append(b, esc, 6);
		} else if (*p >= 0x80 && !utf8) {
			(void)acs_buf_append(b, "?", 1);
		} else {
			(void)acs_buf_append(b, p, 1);
		}
	}
	(void)acs_buf_append(b, "\"", 1);
}

void acs_http_respond_error(struct acs_http_req *req, int status, const char *error,
			    const char *detail)
{
	struct acs_buf b;
	acs_buf_init(&b, 64 * 1024);
	(void)acs_buf_appends(&b, "{\"error\":");
	json_put_string(&b, error ? error : "error");
	(void)acs_buf_appends(&b, ",\"detail\":");
	json_put_string(&b, detail ? detail : "");
	(void)acs_buf_appends(&b, "}");
	if (!b.data) /* only past 64 KiB of detail */
		(void)acs_buf_appends(&b, "{\"error\":\"error\",\"detail\":\"\"}");
	acs_http_respond(req, status, "application/json", b.data, b.len);
	acs_buf_free(&b);
}

void acs_http_req_drop(struct acs_http_req *req)
{
	struct conn *c = req->conn;
	if (!c) {
		req_discard(req);
		return;
	}
	finish_req(c, req, 0, 0);
	conn_close(c);
}

/* --- streaming --- */

void acs_http_req_set_close_cb(struct acs_http_req *req, acs_http_req_close_cb cb, void *arg)
{
	req->close_cb = cb;
	req->close_arg = arg;
}

bool acs_http_req_client_gone(const struct acs_http_req *req)
{
	return req->conn == NULL;
}

int acs_http_respond_stream_begin(struct acs_http_req *req, int status, const char *content_type)
{
	struct conn *c = req->conn;
	if (!c)
		return ACS_ECLOSED;
	if (acs_fails_assert(c->req == req && c->state == ST_REQUEST && !req->streaming))
		return ACS_EPARSE;
	/* HTTP/1.0 has no chunked coding: the body then ends with the connection. */
	req->stream_raw = req->http_major == 1 && req->http_minor == 0;
	req->keep_alive = req->keep_alive && !c->srv->stopping && !req->stream_raw;
	req->streaming = true;
	req->status = status;
	build_head(c, req, status, content_type, -1, req->keep_alive);
	if (c->out_err) {
		conn_close(c);
		return ACS_ECLOSED;
	}
	c->state = ST_STREAM;
	send_out(c);
	return req->conn ? 0 : ACS_ECLOSED;
}

int acs_http_stream_write(struct acs_http_req *req, const void *data, size_t len)
{
	struct conn *c = req->conn;
	if (!c)
		return ACS_ECLOSED;
	if (acs_fails_assert(req->streaming))
		return ACS_EPARSE;
	if (!len || req->is_head)
		return 0; /* an empty chunk would end the stream */
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > STREAM_QUEUE_MAX)
		return ACS_ETOOBIG;
	char hdr[24];
	int hl = snprintf(hdr, sizeof(hdr), "%zx\r\n", len);
	uv_buf_t bufs[3] = {
		uv_buf_init(hdr, (unsigned)hl),
		uv_buf_init((char *)(uintptr_t)data, (unsigned)len),
		uv_buf_init((char *)(uintptr_t) "\r\n", 2),
	};
	int r = req->stream_raw ? conn_write_copy(c, &bufs[1], 1) : conn_write_copy(c, bufs, 3);
	if (r < 0) {
		conn_close(c);
		return ACS_ECLOSED;
	}
	req->stream_bytes += len;
	return 0;
}

void acs_http_stream_end(struct acs_http_req *req)
{
	struct conn *c = req->conn;
	if (!c) {
		req_discard(req);
		return;
	}
	if (acs_fails_assert(req->streaming && c->state == ST_STREAM))
		return;
	bool ka = req->keep_alive;
	if (!req->is_head && !req->stream_raw) {
		uv_buf_t last = uv_buf_init((char *)(uintptr_t) "0\r\n\r\n", 5);
		if (conn_write_copy(c, &last, 1) < 0) {
			conn_close(c);
			req_discard(req);
			return;
		}
	}
	finish_req(c, req, req->status, req->stream_bytes);
	c->keep_alive = ka;
	c->state = ST_WRITING;
	if (c->nwrites == 0)
		after_response(c);
}

/* --- parser callbacks --- */

static int parse_fail(struct conn *c, int status, const char *error, const char *detail)
{
	c->fail_status = status;
	c->fail_error = error;
	c->fail_detail = detail;
	return -1;
}

static int head_append(struct conn *c, const char *at, size_t len)
{
	struct acs_http_req *req = c->req;
	req->hdr_bytes += len;
	if (req->hdr_bytes > c->srv->opts.max_header_bytes || acs_buf_append(&req->head, at, len))
		return parse_fail(c, 431, "header_too_large", "request headers exceed the limit");
	return 0;
}

static void close_value(struct conn *c)
{
	struct acs_http_req *req = c->req;
	if (req->part == P_VALUE) {
		req->part = P_NONE;
		if (acs_buf_append(&req->head, "", 1))
			(void)parse_fail(c, 431, "header_too_large",
					 "request headers exceed the limit");
	}
}

static int on_message_begin(llhttp_t *p)
{
	struct conn *c = p->data;
	c->msg_begun = true;
	c->req->t0 = uv_hrtime();
	make_rid(c->srv, c->req);
	timer_set(c, TM_READ, c->srv->opts.read_timeout_ms);
	return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	c->req->part = P_URL;
	return head_append(c, at, len);
}

static int on_url_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	c->req->url_len = c->req->head.len;
	c->req->part = P_NONE;
	return head_append(c, "", 1);
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	struct acs_http_req *req = c->req;
	if (req->part != P_FIELD) {
		close_value(c);
		if (c->fail_status)
			return -1;
		if (req->nhdrs == MAX_HEADERS)
			return parse_fail(c, 431, "header_too_large", "too many request headers");
		req->hdrs[req->nhdrs].name = (uint32_t)req->head.len;
		req->part = P_FIELD;
	}
	return head_append(c, at, len);
}

static int on_header_field_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	struct acs_http_req *req = c->req;
	if (req->part != P_FIELD) /* cannot happen: fields are never empty */
		return parse_fail(c, 400, "bad_request", "empty header name");
	req->hdr_bytes += 4; /* ": " and CRLF */
	if (head_append(c, "", 1))
		return -1;
	req->hdrs[req->nhdrs++].value = (uint32_t)req->head.len;
	req->part = P_VALUE; /* terminated by close_value, also when empty */
	return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
	return head_append(p->data, at, len);
}

static int on_header_value_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	close_value(c);
	return c->fail_status ? -1 : 0;
}

/* Split the request target into raw path and query and decode the path.
 * Nothing is appended to head here: that could move the url being read. */
static int parse_target(struct conn *c, struct acs_http_req *req)
{
	const char *url = req->head.data;
	size_t len = req->url_len, start = 0;

	if (!url || !len)
		return -1;
	if (url[0] != '/' && !(len == 1 && url[0] == '*')) {
		/* absolute-form: scheme "://" authority path */
		const char *sep = memchr(url, ':', len);
		if (!sep || (size_t)(sep - url) + 3 > len || memcmp(sep, "://", 3))
			return -1;
		const char *slash = memchr(sep + 3, '/', len - (size_t)(sep + 3 - url));
		start = slash ? (size_t)(slash - url) : len;
	}
	size_t end = start;
	while (end < len && url[end] != '?' && url[end] != '#')
		end++;
	size_t qstart = end < len && url[end] == '?' ? end + 1 : end, qend = qstart;
	while (qend < len && url[qend] != '#')
		qend++;
	req->raw_path_off = start;
	req->raw_path_len = end - start;
	if (start == end) { /* "http://host" */
		req->path = "/";
		req->raw_path_off = 0;
		req->raw_path_len = 0;
	} else {
		char *path = arena_alloc(&req->arena, end - start + 1);
		if (acs_router_decode(url + start, end - start, path, false) < 0)
			return -1;
		req->path = path;
	}
	/* The query stays in place: cut it off at a (never legitimately sent) fragment. */
	req->head.data[qend] = '\0';
	req->query_off = qstart;
	req->query_len = qend - qstart;
	req->target_ok = true;
	return 0;
}

static int on_headers_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	struct acs_http_req *req = c->req;
	const struct acs_http_server_opts *o = &c->srv->opts;

	close_value(c);
	if (c->fail_status)
		return -1;
	req->method = llhttp_method_name(p->method);
	req->is_head = p->method == HTTP_HEAD;
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	if (parse_target(c, req))
		return parse_fail(c, 400, "bad_request", "invalid request target");

	bool chunked = p->flags & F_CHUNKED, has_len = p->flags & F_CONTENT_LENGTH;
	if (has_len && p->content_length > o->max_body_bytes)
		return parse_fail(c, 413, "payload_too_large", "request body exceeds the limit");
	if (!chunked && !has_len &&
	    (p->method == HTTP_POST || p->method == HTTP_PUT || p->method == HTTP_PATCH))
		return parse_fail(c, 411, "length_required",
				  "Content-Length or chunked Transfer-Encoding required");
	const char *expect = acs_http_req_header(req, "Expect");
	if (expect) {
		if (strcasecmp(expect, "100-continue"))
			return parse_fail(c, 417, "expectation_failed", "unsupported Expect value");
		bool body_expected = chunked || p->content_length > 0;
		if (body_expected && (p->http_major > 1 || p->http_minor >= 1)) {
			uv_buf_t b = uv_buf_init((char *)(uintptr_t) "HTTP/1.1 100 "
								     "Continue\r\n\r\n",
						 25);
			if (conn_write_copy(c, &b, 1) < 0)
				return parse_fail(c, 400, "bad_request", "connection lost");
		}
	}
	return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
	struct conn *c = p->data;
	if (acs_buf_append(&c->req->body, at, len))
		return parse_fail(c, 413, "payload_too_large", "request body exceeds the limit");
	return 0;
}

static int on_message_complete(llhttp_t *p)
{
	struct conn *c = p->data;
	struct acs_http_req *req = c->req;
	/* Flags are reset after this callback: decide keep-alive now. Upgrade and
	 * CONNECT switch protocols we do not speak, so they end the connection. */
	req->keep_alive = llhttp_should_keep_alive(p) && !p->upgrade;
	c->msg_begun = false;
	c->state = ST_REQUEST;
	timer_stop(c);
	return HPE_PAUSED;
}

/* Parse data; returns the bytes consumed (all of them unless the parser
 * paused after a complete request). */
static size_t feed(struct conn *c, const char *data, size_t len)
{
	if (c->paused) {
		llhttp_resume(&c->parser);
		c->paused = false;
	}
	enum llhttp_errno e = llhttp_execute(&c->parser, data, len);
	if (e == HPE_OK)
		return len;
	if (e == HPE_PAUSED) {
		c->paused = true;
		return (size_t)(llhttp_get_error_pos(&c->parser) - data);
	}
	if (e == HPE_PAUSED_UPGRADE) {
		/* Only reached after the request was answered; keep-alive was off. */
		c->dead = true;
		return len;
	}
	if (c->fail_status)
		conn_fail(c, c->fail_status, c->fail_error, c->fail_detail);
	else
		conn_fail(c, 400, "bad_request", llhttp_get_error_reason(&c->parser));
	return len;
}

/* --- connection lifecycle --- */

static void maybe_free_server(struct acs_http_server *srv);

static void conn_free(struct conn *c)
{
	struct acs_http_server *srv = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		srv->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	srv->nconns--;
	acs_buf_free(&c->pend);
	acs_buf_free(&c->out);
	free(c);
	srv->open--;
	maybe_free_server(srv);
}

static void conn_handle_closed(struct conn *c)
{
	if (--c->handles == 0)
		conn_free(c);
}

static void tcp_close_cb(uv_handle_t *h)
{
	struct conn *c = acs_container_of(h, struct conn, tcp);
	struct acs_http_req *req = c->zombie_req;
	if (req) {
		c->zombie_req = NULL;
		req->zombie = NULL;
		if (req->close_cb)
			req->close_cb(req, req->close_arg);
	}
	conn_handle_closed(c);
}

static void timer_close_cb(uv_handle_t *h)
{
	conn_handle_closed(acs_container_of(h, struct conn, timer));
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	timer_stop(c);
	struct acs_http_req *req = c->req;
	c->req = NULL;
	if (req) {
		if (req->dispatched) {
			/* The handler still owns it: detach; notify from tcp_close_cb. */
			req->conn = NULL;
			req->zombie = c;
			c->zombie_req = req;
			c->srv->inflight--;
		} else {
			req_free(req);
		}
	}
	uv_close((uv_handle_t *)&c->tcp, tcp_close_cb);
	uv_close((uv_handle_t *)&c->timer, timer_close_cb);
}

/* Reject the request being parsed with an error answer and close after it. */
static void conn_fail(struct conn *c, int status, const char *error, const char *detail)
{
	struct acs_http_req *req = c->req;
	c->dead = true;
	c->msg_begun = false;
	timer_stop(c);
	if (!req->t0)
		req->t0 = uv_hrtime();
	req->keep_alive = false;
	req->dispatched = false;
	if (!req->head.data) { /* freed by a failed append: forget what pointed into it */
		req->nhdrs = 0;
		req->target_ok = false;
	}
	memcpy(req->client, req->peer, sizeof(req->client));
	req->rh = NULL; /* drop headers of a half-parsed request */
	req->rh_tail = &req->rh;
	c->state = ST_REQUEST;
	acs_http_respond_error(req, status, error, detail);
}

static void shutdown_cb(uv_shutdown_t *s, int status)
{
	struct conn *c = acs_container_of(s, struct conn, shut);
	if (status < 0 && !c->closing)
		conn_close(c);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void start_reading(struct conn *c)
{
	if (!c->reading && !c->closing) {
		if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb)) {
			conn_close(c);
			return;
		}
		c->reading = true;
	}
}

/* Final answer sent: FIN, then drain input until EOF so the client sees the
 * answer rather than a reset. */
static void begin_linger(struct conn *c)
{
	c->state = ST_LINGER;
	c->dead = true;
	if (uv_shutdown(&c->shut, (uv_stream_t *)&c->tcp, shutdown_cb)) {
		conn_close(c);
		return;
	}
	timer_set(c, TM_LINGER, LINGER_MS);
	start_reading(c);
}

static void after_response(struct conn *c)
{
	if (c->tmode == TM_WRITE)
		timer_stop(c);
	if (!c->keep_alive || c->srv->stopping || c->dead) {
		begin_linger(c);
		return;
	}
	c->state = ST_READ;
	if (c->out.cap > KEEP_CAP)
		acs_buf_free(&c->out);
	conn_process(c);
}

static void dispatch(struct conn *c)
{
	struct acs_http_server *srv = c->srv;
	struct acs_http_req *req = c->req;
	struct acs_router_match m;

	req->dispatched = true;
	srv->inflight++;
	if (srv->ntrusted) {
		/* Resolve X-Forwarded-For before any handler looks at the client. */
		(void)acs_http_req_client_ip(req);
	}
	if (srv->hook && srv->hook(req, srv->hook_arg))
		return;
	const char *raw = req->raw_path_len ? req->head.data + req->raw_path_off : "/";
	size_t raw_len = req->raw_path_len ? req->raw_path_len : 1;
	switch (acs_router_match(srv->router, req->method, raw, raw_len, &m)) {
	case ACS_ROUTER_FOUND:
		for (size_t i = 0; i < m.nparams; i++) {
			const struct acs_router_param *pp = &m.params[i];
			char *v = arena_alloc(&req->arena, pp->value_len + 1);
			if (acs_router_decode(pp->value, pp->value_len, v, false) < 0) {
				acs_http_respond_error(req, 400, "bad_request", "malformed path");
				return;
			}
			req->params[i].name = arena_strndup(&req->arena, pp->name, pp->name_len);
			req->params[i].value = v;
		}
		req->nparams = m.nparams;
		struct route_entry *re = m.value;
		re->cb(req, re->arg);
		return;
	case ACS_ROUTER_NOT_ALLOWED:
		if (srv->fallback)
			break;
		acs_http_req_add_header(req, "Allow", m.allow);
		acs_http_respond_error(req, 405, "method_not_allowed", m.allow);
		return;
	case ACS_ROUTER_NOT_FOUND:
		if (srv->fallback)
			break;
		acs_http_respond_error(req, 404, "not_found", "no route for this path");
		return;
	}
	srv->fallback(req, srv->fallback_arg);
}

static void conn_process(struct conn *c)
{
	if (c->in_process)
		return;
	c->in_process = true;
	while (!c->closing) {
		if (c->state == ST_REQUEST) {
			if (c->req->dispatched)
				break;
			dispatch(c);
			continue;
		}
		if (c->state != ST_READ || c->dead)
			break;
		size_t avail = c->pend.len - c->pend_off;
		if (!avail)
			break;
		c->pend_off += feed(c, c->pend.data + c->pend_off, avail);
		if (c->pend_off == c->pend.len) {
			c->pend_off = 0;
			acs_buf_reset(&c->pend);
		}
	}
	c->in_process = false;
	if (c->closing)
		return;
	if (c->state == ST_READ && !c->msg_begun && c->tmode == TM_NONE)
		timer_set(c, TM_IDLE, c->srv->opts.idle_timeout_ms);
	if (c->pend.len - c->pend_off < PENDING_MAX)
		start_reading(c);
}

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	struct conn *c = acs_container_of(h, struct conn, tcp);
	(void)suggested;
	*buf = uv_buf_init(c->srv->rbuf, RBUF_SIZE);
}

static int pend_append(struct conn *c, const char *data, size_t n)
{
	if (c->pend_off && c->pend_off >= c->pend.len / 2) {
		/* Compact rarely: each byte moves at most about once. */
		memmove(c->pend.data, c->pend.data + c->pend_off, c->pend.len - c->pend_off);
		c->pend.len -= c->pend_off;
		c->pend_off = 0;
	}
	if (acs_buf_append(&c->pend, data, n))
		return -1;
	if (c->pend.len - c->pend_off >= PENDING_MAX && c->reading) {
		uv_read_stop((uv_stream_t *)&c->tcp);
		c->reading = false;
	}
	return 0;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = acs_container_of(s, struct conn, tcp);

	if (c->closing)
		return;
	if (nread < 0) {
		/* EOF or reset: the client is gone (see DESIGN). */
		conn_close(c);
		return;
	}
	if (nread == 0 || c->dead || c->state == ST_LINGER)
		return;
	const char *data = buf->base;
	size_t n = (size_t)nread;
	if (c->state == ST_READ && c->pend.len == c->pend_off && !c->in_process) {
		size_t used = feed(c, data, n);
		data += used;
		n -= used;
		if (c->closing || c->dead)
			return;
	}
	if (n && pend_append(c, data, n)) {
		conn_close(c);
		return;
	}
	conn_process(c);
}

/* --- server --- */

static void maybe_free_server(struct acs_http_server *srv)
{
	if (!srv->closing || srv->open)
		return;
	acs_http_server_closed_cb cb = srv->closed_cb;
	void *arg = srv->closed_arg;
	while (srv->routes) {
		struct route_entry *r = srv->routes;
		srv->routes = r->next;
		free(r);
	}
	acs_router_free(srv->router);
	free(srv->trusted);
	free(srv->trusted_str);
	free(srv->rbuf);
	free(srv);
	if (cb)
		cb(arg);
}

static void listener_close_cb(uv_handle_t *h)
{
	struct acs_http_server *srv = acs_container_of(h, struct acs_http_server, listener);
	srv->open--;
	maybe_free_server(srv);
}

static void closer_close_cb(uv_handle_t *h)
{
	struct acs_http_server *srv = acs_container_of(h, struct acs_http_server, closer);
	srv->open--;
	maybe_free_server(srv);
}

static void close_listener(struct acs_http_server *srv)
{
	if (srv->listener_closed)
		return;
	srv->listener_closed = true;
	srv->listening = false;
	uv_close((uv_handle_t *)&srv->listener, listener_close_cb);
}

static void reject_close_cb(uv_handle_t *h)
{
	struct reject *r = acs_container_of(h, struct reject, tcp);
	struct acs_http_server *srv = r->srv;
	free(r);
	srv->open--;
	maybe_free_server(srv);
}

static void reject_connection(struct acs_http_server *srv)
{
	struct reject *r = acs_xmalloc(sizeof(*r));
	r->srv = srv;
	acs_require(uv_tcp_init(srv->loop, &r->tcp) == 0);
	srv->open++;
	(void)uv_accept((uv_stream_t *)&srv->listener, (uv_stream_t *)&r->tcp);
	uv_close((uv_handle_t *)&r->tcp, reject_close_cb);
}

/* A connection whose tcp handle is initialised but not yet connected. */
static struct conn *conn_new(struct acs_http_server *srv)
{
	struct conn *c = acs_xcalloc(1, sizeof(*c));
	c->srv = srv;
	acs_require(uv_tcp_init(srv->loop, &c->tcp) == 0);
	acs_require(uv_timer_init(srv->loop, &c->timer) == 0);
	c->handles = 2;
	srv->open++;
	srv->nconns++;
	c->next = srv->conns;
	if (srv->conns)
		srv->conns->prev = c;
	srv->conns = c;
	acs_buf_init(&c->pend, PENDING_MAX + RBUF_SIZE);
	acs_buf_init(&c->out, OUT_MAX);
	llhttp_init(&c->parser, HTTP_REQUEST, &srv->settings);
	c->parser.data = c;
	c->state = ST_READ;
	c->keep_alive = true;
	return c;
}

/* Start serving a connected c: peer address (peer_ip overrides it, for the
 * test hook), first request, read timeout. */
static void conn_start(struct conn *c, const char *peer_ip)
{
	struct acs_http_server *srv = c->srv;
	(void)uv_tcp_nodelay(&c->tcp, 1);
	struct sockaddr_storage ss;
	int sl = sizeof(ss);
	memset(&c->peer_addr, 0, sizeof(c->peer_addr));
	if (peer_ip) {
		(void)parse_ip(peer_ip, strlen(peer_ip), &c->peer_addr);
	} else if (!uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sl)) {
		if (ss.ss_family == AF_INET) {
			c->peer_addr.family = AF_INET;
			memcpy(c->peer_addr.b, &((struct sockaddr_in *)&ss)->sin_addr, 4);
		} else if (ss.ss_family == AF_INET6) {
			char tmp[INET6_ADDRSTRLEN];
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, tmp,
				  sizeof(tmp));
			(void)parse_ip(tmp, strlen(tmp), &c->peer_addr); /* unmaps v4 */
		}
	}
	if (c->peer_addr.family)
		ip_to_string(&c->peer_addr, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "unknown");
	c->req = req_new(c);
	/* The first request must start within read_timeout. */
	timer_set(c, TM_IDLE, srv->opts.read_timeout_ms);
	start_reading(c);
}

static void on_connection(uv_stream_t *server, int status)
{
	struct acs_http_server *srv = acs_container_of(server, struct acs_http_server, listener);

	if (status < 0) {
		acs_log(ACS_LOG_WARN, "http", "accept failed: %s", uv_strerror(status));
		return;
	}
	if (srv->stopping || srv->nconns >= srv->opts.max_connections) {
		/* Once a second at most: a flood must not turn into a log flood. */
		uint64_t now = uv_now(srv->loop);
		if (!srv->reject_logged_ms || now - srv->reject_logged_ms >= 1000) {
			srv->reject_logged_ms = now ? now : 1;
			acs_log(ACS_LOG_WARN, "http",
				"connection limit (%u) reached: closing new connections",
				srv->opts.max_connections);
		}
		reject_connection(srv);
		return;
	}
	struct conn *c = conn_new(srv);
	if (uv_accept(server, (uv_stream_t *)&c->tcp)) {
		conn_close(c);
		return;
	}
	conn_start(c, NULL);
}

#ifdef ACS_UNIT_TEST
int acs__http_server_adopt(struct acs_http_server *srv, uv_os_sock_t fd, const char *peer_ip)
{
	if (srv->stopping || srv->nconns >= srv->opts.max_connections)
		return UV_ECONNREFUSED;
	struct conn *c = conn_new(srv);
	int rc = uv_tcp_open(&c->tcp, fd);
	if (rc) {
		conn_close(c);
		return rc;
	}
	conn_start(c, peer_ip);
	return 0;
}

int acs__http_server_inject(struct acs_http_server *srv, const char *data, size_t len)
{
	struct conn *c = srv->conns;
	if (!c || c->closing)
		return ACS_ECLOSED;
	if (!c->reading)
		return UV_EAGAIN; /* backpressure: the socket would not be read now */
	uv_buf_t b = uv_buf_init((char *)(uintptr_t)data, (unsigned)ACS_MIN(len, RBUF_SIZE));
	read_cb((uv_stream_t *)&c->tcp, (ssize_t)b.len, &b);
	return (int)b.len;
}
#endif

static void random_prefix(char out[9])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char r[4];
	if (uv_random(NULL, NULL, r, sizeof(r), 0, NULL)) {
		uint64_t t = uv_hrtime() ^ ((uint64_t)getpid() << 16);
		memcpy(r, &t, sizeof(r));
	}
	for (int i = 0; i < 4; i++) {
		out[2 * i] = hex[r[i] >> 4];
		out[2 * i + 1] = hex[r[i] & 15];
	}
	out[8] = '\0';
}

struct acs_http_server *
acs_http_server_new(uv_loop_t *loop, const struct acs_http_server_opts *opts, char err[ACS_ERR_LEN])
{
	struct acs_http_server *srv = acs_xcalloc(1, sizeof(*srv));
	if (opts)
		srv->opts = *opts;
	else
		acs_http_server_opts_defaults(&srv->opts);
	if (parse_trusted(srv->opts.trusted_proxies, &srv->trusted, &srv->ntrusted, err)) {
		free(srv);
		return NULL;
	}
	if (srv->opts.trusted_proxies)
		srv->trusted_str = acs_xstrdup(srv->opts.trusted_proxies);
	srv->opts.trusted_proxies = srv->trusted_str;
	/* Zero limits would refuse everything: they mean "default". */
	if (!srv->opts.max_header_bytes)
		srv->opts.max_header_bytes = 16 * 1024;
	if (!srv->opts.max_connections)
		srv->opts.max_connections = 1024;
	srv->loop = loop;
	srv->router = acs_router_new();
	srv->rbuf = acs_xmalloc(RBUF_SIZE);
	random_prefix(srv->rid_prefix);
	llhttp_settings_init(&srv->settings);
	srv->settings.on_message_begin = on_message_begin;
	srv->settings.on_url = on_url;
	srv->settings.on_url_complete = on_url_complete;
	srv->settings.on_header_field = on_header_field;
	srv->settings.on_header_field_complete = on_header_field_complete;
	srv->settings.on_header_value = on_header_value;
	srv->settings.on_header_value_complete = on_header_value_complete;
	srv->settings.on_headers_complete = on_headers_complete;
	srv->settings.on_body = on_body;
	srv->settings.on_message_complete = on_message_complete;
	acs_require(uv_tcp_init(loop, &srv->listener) == 0);
	acs_require(uv_check_init(loop, &srv->closer) == 0);
	srv->open = 2;
	return srv;
}

int acs_http_server_route(struct acs_http_server *srv, const char *method, const char *pattern,
			  acs_http_handler_cb cb, void *arg)
{
	if (!cb)
		return ACS_EPARSE;
	struct route_entry *r = acs_xmalloc(sizeof(*r));
	r->cb = cb;
	r->arg = arg;
	int rc = acs_router_add(srv->router, method, pattern, r);
	if (rc) {
		free(r);
		return rc;
	}
	r->next = srv->routes;
	srv->routes = r;
	return 0;
}

void acs_http_server_set_fallback(struct acs_http_server *srv, acs_http_handler_cb cb, void *arg)
{
	srv->fallback = cb;
	srv->fallback_arg = arg;
}

void acs_http_server_set_hook(struct acs_http_server *srv, acs_http_hook_cb cb, void *arg)
{
	srv->hook = cb;
	srv->hook_arg = arg;
}

/* "host:port", "[v6]:port", ":port". */
static int parse_listen(const char *address, struct sockaddr_storage *ss, char err[ACS_ERR_LEN])
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s;
	size_t hl;

	if (!address)
		goto bad;
	if (address[0] == '[') {
		const char *rb = strchr(address, ']');
		if (!rb || rb[1] != ':')
			goto bad;
		hl = (size_t)(rb - address - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, address + 1, hl);
		port_s = rb + 2;
	} else {
		const char *colon = strrchr(address, ':');
		if (!colon)
			goto bad;
		hl = (size_t)(colon - address);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, address, hl);
		port_s = colon + 1;
	}
	host[hl] = '\0';
	char *end;
	if (!*port_s || *port_s < '0' || *port_s > '9')
		goto bad;
	unsigned long port = strtoul(port_s, &end, 10);
	if (*end || port > 65535)
		goto bad;
	if (!hl || !strcmp(host, "*"))
		snprintf(host, sizeof(host), "0.0.0.0");
	else if (!strcmp(host, "localhost"))
		snprintf(host, sizeof(host), "127.0.0.1");
	if (!uv_ip4_addr(host, (int)port, (struct sockaddr_in *)ss) ||
	    !uv_ip6_addr(host, (int)port, (struct sockaddr_in6 *)ss))
		return 0;
bad:
	snprintf(err, ACS_ERR_LEN, "bad listen address '%s' (want host:port, [v6]:port or :port)",
		 address ? address : "(null)");
	return UV_EINVAL;
}

int acs_http_server_listen(struct acs_http_server *srv, const char *address, char err[ACS_ERR_LEN])
{
	struct sockaddr_storage ss;
	int rc;

	if (srv->listening || srv->stopping || srv->closing) {
		snprintf(err, ACS_ERR_LEN, "server is already listening or stopped");
		return UV_EINVAL;
	}
	memset(&ss, 0, sizeof(ss));
	rc = parse_listen(address, &ss, err);
	if (rc)
		return rc;
	rc = uv_tcp_bind(&srv->listener, (const struct sockaddr *)&ss, 0);
	if (!rc)
		rc = uv_listen((uv_stream_t *)&srv->listener, BACKLOG, on_connection);
	if (rc) {
		snprintf(err, ACS_ERR_LEN, "listen on %s: %s", address, uv_strerror(rc));
		return rc;
	}
	struct sockaddr_storage bound;
	int bl = sizeof(bound);
	if (!uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &bl))
		srv->port = ntohs(bound.ss_family == AF_INET6
					  ? ((struct sockaddr_in6 *)&bound)->sin6_port
					  : ((struct sockaddr_in *)&bound)->sin_port);
	srv->listening = true;
	acs_log(ACS_LOG_INFO, "http", "listening on %s (port %d)", address, srv->port);
	return 0;
}

int acs_http_server_port(const struct acs_http_server *srv)
{
	return srv->listening ? srv->port : 0;
}

void acs_http_server_stop_accepting(struct acs_http_server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	close_listener(srv);
	for (struct conn *c = srv->conns; c; c = c->next)
		if (!c->closing && c->state == ST_READ && !c->msg_begun && c->nwrites == 0 &&
		    c->pend.len == c->pend_off)
			conn_close(c);
}

size_t acs_http_server_inflight(const struct acs_http_server *srv)
{
	return srv->inflight;
}

size_t acs_http_server_connections(const struct acs_http_server *srv)
{
	return srv->nconns;
}

void acs_http_server_close(struct acs_http_server *srv, acs_http_server_closed_cb cb, void *arg)
{
	if (!srv || srv->closing)
		return;
	srv->closing = true;
	srv->stopping = true;
	srv->closed_cb = cb;
	srv->closed_arg = arg;
	close_listener(srv);
	for (struct conn *c = srv->conns; c; c = c->next)
		conn_close(c);
	uv_close((uv_handle_t *)&srv->closer, closer_close_cb);
}

/* --- request accessors --- */

const char *acs_http_req_method(const struct acs_http_req *req)
{
	return req->method;
}

const char *acs_http_req_path(const struct acs_http_req *req)
{
	return req->target_ok ? req->path : "";
}

const char *acs_http_req_query_string(const struct acs_http_req *req)
{
	return req->target_ok ? req->head.data + req->query_off : "";
}

const char *acs_http_req_query(struct acs_http_req *req, const char *name)
{
	if (!req->target_ok || !req->query_len)
		return NULL;
	char *val = arena_alloc(&req->arena, req->query_len + 1);
	int n = acs_router_query_get(req->head.data + req->query_off, req->query_len, name, val,
				     req->query_len + 1);
	return n >= 0 ? val : NULL;
}

const char *acs_http_req_param(const struct acs_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->nparams; i++)
		if (!strcmp(req->params[i].name, name))
			return req->params[i].value;
	return NULL;
}

const char *acs_http_req_header(const struct acs_http_req *req, const char *name)
{
	for (size_t i = 0; i < req->nhdrs; i++)
		if (!strcasecmp(req->head.data + req->hdrs[i].name, name))
			return req->head.data + req->hdrs[i].value;
	return NULL;
}

bool acs_http_req_header_at(const struct acs_http_req *req, size_t i, const char **name,
			    const char **value)
{
	if (i >= req->nhdrs)
		return false;
	*name = req->head.data + req->hdrs[i].name;
	*value = req->head.data + req->hdrs[i].value;
	return true;
}

const char *acs_http_req_body(const struct acs_http_req *req, size_t *len)
{
	if (len)
		*len = req->body.len;
	return req->body.data ? req->body.data : "";
}

const char *acs_http_req_id(const struct acs_http_req *req)
{
	return req->rid;
}

/* Walk X-Forwarded-For from the right: skip trusted hops, stop at the first
 * untrusted address. Unparsable entries end the walk at the last good hop. */
static void resolve_client(struct acs_http_req *req)
{
	struct conn *c = req->conn;
	struct acs_http_server *srv = c->srv;

	memcpy(req->client, req->peer, sizeof(req->client));
	bool trusted = false;
	for (size_t k = 0; k < srv->ntrusted && !trusted; k++)
		trusted = cidr_contains(&srv->trusted[k], &c->peer_addr);
	if (!trusted)
		return;
	for (size_t i = req->nhdrs; i-- > 0;) {
		if (strcasecmp(req->head.data + req->hdrs[i].name, "X-Forwarded-For"))
			continue;
		const char *v = req->head.data + req->hdrs[i].value;
		const char *e = v + strlen(v);
		while (e > v) {
			const char *s = e;
			while (s > v && s[-1] != ',')
				s--;
			const char *a = s, *b = e;
			e = s > v ? s - 1 : v;
			while (a < b && (*a == ' ' || *a == '\t'))
				a++;
			while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
				b--;
			if (a == b)
				continue;
			struct ipaddr ip;
			if (!parse_ip(a, (size_t)(b - a), &ip))
				return;
			ip_to_string(&ip, req->client, sizeof(req->client));
			trusted = false;
			for (size_t k = 0; k < srv->ntrusted && !trusted; k++)
				trusted = cidr_contains(&srv->trusted[k], &ip);
			if (!trusted)
				return;
		}
	}
}

const char *acs_http_req_client_ip(const struct acs_http_req *req)
{
	if (!req->client[0] && req->conn) {
		struct acs_http_req *mreq = (struct acs_http_req *)(uintptr_t)req;
		if (req->conn->srv->ntrusted)
			resolve_client(mreq);
		else
			memcpy(mreq->client, req->peer, sizeof(req->client));
	}
	return req->client[0] ? req->client : req->peer;
}

const char *acs_http_req_peer_ip(const struct acs_http_req *req)
{
	return req->peer;
}

uint64_t acs_http_req_elapsed_us(const struct acs_http_req *req)
{
	return req->t0 ? (uv_hrtime() - req->t0) / 1000 : 0;
}

void acs_http_req_set_data(struct acs_http_req *req, void *data)
{
	req->data = data;
}

void *acs_http_req_get_data(const struct acs_http_req *req)
{
	return req->data;
}
