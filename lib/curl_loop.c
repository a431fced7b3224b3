/* SPDX-License-Identifier: MIT */
/* libcurl multi wired to libuv (curl's docs/examples/multi-uv.c, hardened as
 * listed in the house style) and the asynchronous request API of
 * curl_loop.h: copying requests, bounded response buffers, error mapping. */
#include "curl_loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acs_build.h" /* generated: ACS_VERSION */
#include "err.h"
#include "log.h"
#include "mem.h"

/*
 * GLOSSARY
 *   xfer      one request from acs_curl_loop_request to its callback. It sits
 *             on exactly one list: cl->xfers while its easy handle is in the
 *             multi, cl->pending once it was taken out without libcurl
 *             completing it (cancel, close, multi rebuild) and waits for the
 *             idle handle to deliver its callback asynchronously.
 *   sock      the uv_poll context of one socket libcurl asked us to watch.
 *             Created on the first CURL_POLL_IN/OUT for an fd; closed on
 *             CURL_POLL_REMOVE, except for a connection socket we opened, whose
 *             context is kept, stopped, while the connection waits in libcurl's
 *             pool and closed just before the socket. Freed only in its close
 *             callback. See SOCKETS.
 *
 * SOCKETS
 *   A keep-alive connection is REMOVEd after every response and asked for again
 *   with the next request. A context per watch cost four system calls each time
 *   (uv_poll_init's fcntl probe and FIONBIO, its epoll check and the final
 *   removal): in a burst, a third of the simulator's and a fifth of the daemon's
 *   system calls. fds[] finds the stopped context of an fd again. Keeping it is
 *   safe only for sockets whose close we see first: our OPENSOCKETFUNCTION
 *   opens connection sockets and marks them, and our CLOSESOCKETFUNCTION, which
 *   libcurl uses for exactly those, closes the context (libuv unregisters the fd
 *   synchronously) and only then the fd. A stopped context left on a number that
 *   something else reuses would be worse than useless: closing it later (teardown,
 *   multi rebuild) removes that number from epoll, whoever has it. So any other
 *   socket libcurl watches (the threaded resolver's socketpair, closed without
 *   the callback right after its REMOVE) loses its context at REMOVE, as before.
 *
 * HANDLES (each closed in one place, counted in cl->open_handles)
 *   timer     libcurl's single timeout (CURLMOPT_TIMERFUNCTION);
 *   idle      delivers cl->pending callbacks on the next loop iteration;
 *   sock.poll one per watched socket.
 */

#define LOG_MOD "curl"

struct sock {
	struct acs_curl_loop *cl;
	uv_poll_t poll;
	curl_socket_t fd;
	bool closing;
	struct sock *prev, *next; /* acs_curl_loop::socks */
};

struct xfer {
	struct acs_curl_loop *cl;
	CURL *easy;
	uint64_t id;
	acs_curl_done_cb cb;
	void *arg;
	char *method;
	char *url;
	void *body;
	struct curl_slist *headers;
	struct acs_buf resp_body;
	struct acs_buf resp_hdrs; /* "name\0value\0" pairs of the final response */
	size_t max_response;
	enum {
		FIT = 0,
		BODY_TOOBIG,
		HEADERS_TOOBIG
	} toobig;
	int forced_error;	       /* set when taken out of the multi without completing */
	struct acs_curl_stream stream; /* copy of the request's hooks (all NULL: none) */
	uint64_t streamed;	       /* body bytes the sink took */
	char errbuf[CURL_ERROR_SIZE];
	struct xfer *prev, *next; /* acs_curl_loop::xfers or ::pending (next only) */
};

/* Easy handles kept for reuse: curl_easy_reset is much cheaper than a cleanup and
 * an init (a large struct allocated and cleared, its defaults set) on every call. */
#define EASY_SPARES 16

struct acs_curl_loop {
	uv_loop_t *loop;
	CURLM *multi;
	uv_timer_t timer;
	uv_idle_t idle;
	unsigned open_handles;
	bool closing;
	bool http2; /* libcurl was built with HTTP/2 */
	bool gzip;  /* libcurl was built with zlib */
	char *ca_file;
	char *ca_path;
	uint64_t next_id;
	size_t active;			     /* accepted, callback not yet run */
	struct xfer *xfers;		     /* in the multi, doubly linked */
	struct xfer *pending, *pending_tail; /* awaiting async delivery, FIFO */
	struct sock *socks;		     /* open poll contexts */
	struct fd_slot {
		struct sock *sock; /* live (not closing) context of the fd, or NULL */
		bool ours;	   /* opened by opensocket_cb, not yet closed (SOCKETS) */
	} * fds;
	size_t n_fds;
	uint64_t socks_created;	  /* poll contexts made so far (for the tests) */
	CURL *spare[EASY_SPARES]; /* reset easy handles for the next requests */
	size_t n_spare;
	acs_curl_loop_closed_cb close_cb;
	void *close_arg;
};

static int socket_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp);
static int timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void spares_free(struct acs_curl_loop *cl);
ACS_STATIC void curl_loop_reset_multi(struct acs_curl_loop *cl, int error);
ACS_STATIC uint64_t curl_loop_socks_created(const struct acs_curl_loop *cl);

/* --- lists --------------------------------------------------------------- */

static void xfer_link(struct acs_curl_loop *cl, struct xfer *x)
{
	x->prev = NULL;
	x->next = cl->xfers;
	if (cl->xfers)
		cl->xfers->prev = x;
	cl->xfers = x;
}

static void xfer_unlink(struct acs_curl_loop *cl, struct xfer *x)
{
	if (x->prev)
		x->prev->next = x->next;
	else
		cl->xfers = x->next;
	if (x->next)
		x->next->prev = x->prev;
	x->prev = x->next = NULL;
}

static void pending_push(struct acs_curl_loop *cl, struct xfer *x)
{
	x->prev = x->next = NULL;
	if (cl->pending_tail)
		cl->pending_tail->next = x;
	else
		cl->pending = x;
	cl->pending_tail = x;
}

static struct xfer *pending_pop(struct acs_curl_loop *cl)
{
	struct xfer *x = cl->pending;
	if (x) {
		cl->pending = x->next;
		if (!cl->pending)
			cl->pending_tail = NULL;
		x->next = NULL;
	}
	return x;
}

/* --- teardown ------------------------------------------------------------ */

static void maybe_free(struct acs_curl_loop *cl)
{
	if (!cl->closing || cl->open_handles > 0)
		return;
	acs_require(cl->multi == NULL && cl->xfers == NULL && cl->pending == NULL);
	spares_free(cl);
	acs_curl_loop_closed_cb cb = cl->close_cb;
	void *arg = cl->close_arg;
	free(cl->fds);
	free(cl->ca_file);
	free(cl->ca_path);
	free(cl);
	curl_global_cleanup();
	if (cb)
		cb(arg);
}

static void handle_closed_cb(uv_handle_t *h)
{
	struct acs_curl_loop *cl = h->data;
	acs_require(cl->open_handles > 0);
	cl->open_handles--;
	maybe_free(cl);
}

static void sock_closed_cb(uv_handle_t *h)
{
	struct sock *s = acs_container_of(h, struct sock, poll);
	struct acs_curl_loop *cl = s->cl;
	if (s->prev)
		s->prev->next = s->next;
	else
		cl->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	free(s);
	acs_require(cl->open_handles > 0);
	cl->open_handles--;
	maybe_free(cl);
}

static struct fd_slot *fd_slot(const struct acs_curl_loop *cl, curl_socket_t fd)
{
	return fd >= 0 && (size_t)fd < cl->n_fds ? &cl->fds[fd] : NULL;
}

static struct fd_slot *fd_slot_make(struct acs_curl_loop *cl, curl_socket_t fd)
{
	size_t i = (size_t)fd;
	if (i >= cl->n_fds) {
		size_t n = ACS_MAX(i + 1, cl->n_fds * 2);
		cl->fds = acs_xrealloc(cl->fds, n * sizeof(*cl->fds));
		memset(cl->fds + cl->n_fds, 0, (n - cl->n_fds) * sizeof(*cl->fds));
		cl->n_fds = n;
	}
	return &cl->fds[i];
}

static struct sock *sock_find(const struct acs_curl_loop *cl, curl_socket_t fd)
{
	struct fd_slot *f = fd_slot(cl, fd);
	return f ? f->sock : NULL;
}

static bool fd_ours(const struct acs_curl_loop *cl, curl_socket_t fd)
{
	struct fd_slot *f = fd_slot(cl, fd);
	return f && f->ours;
}

static void sock_close(struct sock *s)
{
	if (s->closing)
		return;
	s->closing = true;
	struct fd_slot *f = fd_slot(s->cl, s->fd);
	if (f && f->sock == s)
		f->sock = NULL;
	/* libuv unregisters the fd here, synchronously, so curl may close it
	 * and reuse the number right away (docs/src/poll.rst). */
	uv_close((uv_handle_t *)&s->poll, sock_closed_cb);
}

static void xfer_free(struct xfer *x)
{
	struct acs_curl_loop *cl = x->cl;
	if (x->easy && cl && !cl->closing && cl->n_spare < EASY_SPARES) {
		/* Out of the multi already (done, canceled or never added). */
		curl_easy_reset(x->easy);
		cl->spare[cl->n_spare++] = x->easy;
	} else if (x->easy) {
		curl_easy_cleanup(x->easy);
	}
	curl_slist_free_all(x->headers);
	acs_buf_free(&x->resp_body);
	acs_buf_free(&x->resp_hdrs);
	free(x->method);
	free(x->url);
	free(x->body);
	free(x);
}

/* --- completion ---------------------------------------------------------- */

/* The URL for log lines: scheme, host, port and path only, so neither
 * userinfo nor query parameters (which may carry tokens) reach the log. */
static char *url_for_log(const char *url)
{
	CURLU *u = curl_url();
	char *out = NULL;
	if (!u)
		return acs_xstrdup("<url>");
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_USER, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_PASSWORD, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_OPTIONS, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_QUERY, NULL, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) == CURLUE_OK) {
		char *s = NULL;
		if (curl_url_get(u, CURLUPART_URL, &s, 0) == CURLUE_OK) {
			out = acs_xstrdup(s);
			curl_free(s);
		}
	}
	curl_url_cleanup(u);
	return out ? out : acs_xstrdup("<unparsable url>");
}

static int map_curl_error(const struct xfer *x, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return 0;
	case CURLE_OPERATION_TIMEDOUT:
		return ACS_ETIMEOUT;
	case CURLE_FILESIZE_EXCEEDED:
		return ACS_ETOOBIG;
	case CURLE_WRITE_ERROR:
		return x->toobig ? ACS_ETOOBIG : ACS_ETRANSPORT;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	default:
		/* Connect, DNS, TLS, reset, empty reply, partial body...: all
		 * retryable from the caller's point of view. */
		return ACS_ETRANSPORT;
	}
}

/* Run the callback of a transfer that is out of the multi, then free it. */
static void xfer_finish(struct xfer *x, CURLcode rc)
{
	struct acs_curl_loop *cl = x->cl;
	struct acs_http_response resp = { .id = x->id };

	resp.error = x->forced_error ? x->forced_error : map_curl_error(x, rc);
	if (x->easy && !x->forced_error) {
		long v = 0;
		double t = 0;
		if (curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &v) == CURLE_OK)
			resp.status = v;
		if (curl_easy_getinfo(x->easy, CURLINFO_TOTAL_TIME, &t) == CURLE_OK)
			resp.total_time = t;
		if (curl_easy_getinfo(x->easy, CURLINFO_NUM_CONNECTS, &v) == CURLE_OK)
			resp.num_connects = v;
	}
	if (resp.error == 0) {
		resp.error_message = "";
	} else if (resp.error == ACS_ETOOBIG) {
		if (x->toobig == HEADERS_TOOBIG)
			snprintf(x->errbuf, sizeof(x->errbuf), "response headers exceed %zu bytes",
				 (size_t)ACS_CURL_MAX_HEADER_BYTES);
		else
			snprintf(x->errbuf, sizeof(x->errbuf), "response body exceeds %zu bytes",
				 x->max_response);
		resp.error_message = x->errbuf;
	} else if (x->forced_error) {
		if (!x->errbuf[0])
			snprintf(x->errbuf, sizeof(x->errbuf), "%s", acs_strerror(x->forced_error));
		resp.error_message = x->errbuf;
	} else {
		if (!x->errbuf[0])
			snprintf(x->errbuf, sizeof(x->errbuf), "%s", curl_easy_strerror(rc));
		resp.error_message = x->errbuf;
	}
	/* A failed transfer keeps no partial body: callers must not parse it. */
	if (resp.error == 0 && x->resp_body.data) {
		resp.body = x->resp_body.data;
		resp.body_len = x->resp_body.len;
	} else {
		resp.body = "";
	}
	resp.hdr_data = resp.error == 0 ? x->resp_hdrs.data : NULL;
	resp.hdr_len = resp.error == 0 ? x->resp_hdrs.len : 0;

	if (acs_log_enabled(ACS_LOG_DEBUG)) {
		char *u = url_for_log(x->url);
		acs_log(ACS_LOG_DEBUG, LOG_MOD, "%s %s -> status=%ld error=%s time=%.3f%s%s",
			x->method, u, resp.status, resp.error ? acs_strerror(resp.error) : "none",
			resp.total_time, resp.error ? " detail=" : "",
			resp.error ? resp.error_message : "");
		free(u);
	}

	acs_require(cl->active > 0);
	cl->active--;
	x->cb(&resp, x->arg);
	xfer_free(x);
}

/* Hand every DONE message to its callback. Called after each socket_action,
 * whatever the running count says: the last transfer may finish inside the
 * timeout action (multi-uv.c's `if(running_handles)` would leak it). */
static void drain_messages(struct acs_curl_loop *cl)
{
	CURLMsg *msg;
	int left;
	/* A callback may close cl: cl->multi is then NULL and we stop. */
	while (cl->multi && (msg = curl_multi_info_read(cl->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		CURL *easy = msg->easy_handle;
		CURLcode rc = msg->data.result; /* msg dies with remove_handle */
		char *priv = NULL;
		CURLcode grc = curl_easy_getinfo(easy, CURLINFO_PRIVATE, &priv);
		acs_require(grc == CURLE_OK && priv != NULL);
		struct xfer *x = (struct xfer *)(void *)priv;
		CURLMcode mrc = curl_multi_remove_handle(cl->multi, easy);
		if (mrc != CURLM_OK)
			acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_remove_handle: %s",
				curl_multi_strerror(mrc));
		xfer_unlink(cl, x);
		xfer_finish(x, rc);
	}
}

static void idle_cb(uv_idle_t *h)
{
	struct acs_curl_loop *cl = acs_container_of(h, struct acs_curl_loop, idle);
	struct xfer *x;
	/* Callbacks may queue more (cancel, close): loop until empty. */
	while ((x = pending_pop(cl)))
		xfer_finish(x, CURLE_OK);
	if (cl->closing) {
		if (!uv_is_closing((uv_handle_t *)&cl->idle))
			uv_close((uv_handle_t *)&cl->idle, handle_closed_cb);
	} else {
		(void)uv_idle_stop(&cl->idle); /* cannot fail */
	}
}

/* Queue x for asynchronous delivery with error. x is already out of the multi. */
static void defer_failure(struct acs_curl_loop *cl, struct xfer *x, int error)
{
	x->forced_error = error;
	pending_push(cl, x);
	int rc = uv_idle_start(&cl->idle, idle_cb);
	acs_require(rc == 0); /* only fails on a closing handle, which we never reach here */
}

static void socket_action(struct acs_curl_loop *cl, curl_socket_t fd, int flags)
{
	int running = 0;
	CURLMcode rc = curl_multi_socket_action(cl->multi, fd, flags, &running);
	if (rc != CURLM_OK) {
		/* Every transfer is in an unknown state now (this includes a -1
		 * from one of our callbacks): fail them all, start over. */
		acs_log(ACS_LOG_ERR, LOG_MOD,
			"curl_multi_socket_action failed: %s; failing %zu transfers and "
			"rebuilding the multi handle",
			curl_multi_strerror(rc), cl->active);
		curl_loop_reset_multi(cl, ACS_ETRANSPORT);
		return;
	}
	drain_messages(cl);
}

/* --- libuv -> libcurl ----------------------------------------------------- */

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct sock *s = acs_container_of(h, struct sock, poll);
	struct acs_curl_loop *cl = s->cl;
	int flags = 0;
	if (s->closing || !cl->multi)
		return;
	if (status < 0) {
		/* libuv stopped polling this handle; let curl find out why. */
		flags = CURL_CSELECT_ERR;
	} else {
		if (events & (UV_READABLE | UV_DISCONNECT))
			flags |= CURL_CSELECT_IN;
		if (events & UV_WRITABLE)
			flags |= CURL_CSELECT_OUT;
	}
	socket_action(cl, s->fd, flags); /* may close s: do not touch it after */
}

static void uv_timer_fired(uv_timer_t *t)
{
	struct acs_curl_loop *cl = acs_container_of(t, struct acs_curl_loop, timer);
	if (cl->multi)
		socket_action(cl, CURL_SOCKET_TIMEOUT, 0);
}

/* --- libcurl -> libuv ----------------------------------------------------- */

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct acs_curl_loop *cl = userp;
	(void)multi;
	if (timeout_ms < 0) {
		(void)uv_timer_stop(&cl->timer); /* cannot fail */
		return 0;
	}
	if (uv_is_closing((uv_handle_t *)&cl->timer))
		return 0;
	/* Never call socket_action from here: curl forbids the recursion. A
	 * 0 ms timer fires on the next loop iteration. */
	int rc = uv_timer_start(&cl->timer, uv_timer_fired, (uint64_t)timeout_ms, 0);
	if (rc < 0) {
		acs_log(ACS_LOG_ERR, LOG_MOD, "uv_timer_start: %s; libcurl aborts every transfer",
			uv_strerror(rc));
		return -1;
	}
	return 0;
}

static int socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct acs_curl_loop *cl = userp;
	struct sock *s = socketp;
	(void)easy;

	if (what == CURL_POLL_REMOVE) {
		if (!s)
			s = sock_find(cl, fd);
		if (s) {
			/* A connection socket's context waits for its next request. */
			if (fd_ours(cl, fd))
				(void)uv_poll_stop(&s->poll); /* cannot fail */
			else
				sock_close(s);
			/* libcurl forgets the socket right after this callback; the
			 * reset only guards against it handing s back to us. */
			CURLMcode mrc = cl->multi ? curl_multi_assign(cl->multi, fd, NULL)
						  : CURLM_OK;
			if (mrc != CURLM_OK && mrc != CURLM_BAD_SOCKET)
				acs_log(ACS_LOG_WARN, LOG_MOD, "curl_multi_assign(fd %d, NULL): %s",
					(int)fd, curl_multi_strerror(mrc));
		}
		return 0;
	}

	int events = 0;
	if (what == CURL_POLL_IN || what == CURL_POLL_INOUT)
		events |= UV_READABLE;
	if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT)
		events |= UV_WRITABLE;

	if (!s || s->closing)
		s = sock_find(cl, fd);
	if (s) {
		if (s != socketp) {
			CURLMcode mrc = curl_multi_assign(cl->multi, fd, s);
			if (mrc != CURLM_OK) {
				acs_log(ACS_LOG_ERR, LOG_MOD,
					"curl_multi_assign(fd %d): %s; libcurl aborts every "
					"transfer",
					(int)fd, curl_multi_strerror(mrc));
				return -1;
			}
		}
	} else {
		s = acs_xcalloc(1, sizeof(*s));
		s->cl = cl;
		s->fd = fd;
		int rc = uv_poll_init_socket(cl->loop, &s->poll, fd);
		if (rc < 0) {
			acs_log(ACS_LOG_ERR, LOG_MOD,
				"uv_poll_init_socket(fd %d): %s; libcurl aborts every transfer",
				(int)fd, uv_strerror(rc));
			free(s); /* never initialised: no close needed */
			return -1;
		}
		s->poll.data = cl;
		cl->open_handles++;
		cl->socks_created++;
		s->next = cl->socks;
		if (cl->socks)
			cl->socks->prev = s;
		cl->socks = s;
		fd_slot_make(cl, fd)->sock = s;
		CURLMcode mrc = curl_multi_assign(cl->multi, fd, s);
		if (mrc != CURLM_OK) {
			acs_log(ACS_LOG_ERR, LOG_MOD,
				"curl_multi_assign(fd %d): %s; libcurl aborts every transfer",
				(int)fd, curl_multi_strerror(mrc));
			sock_close(s);
			return -1;
		}
	}
	int rc = uv_poll_start(&s->poll, events, poll_cb);
	if (rc < 0) {
		acs_log(ACS_LOG_ERR, LOG_MOD,
			"uv_poll_start(fd %d): %s; libcurl aborts every transfer", (int)fd,
			uv_strerror(rc));
		(void)curl_multi_assign(cl->multi, fd, NULL);
		sock_close(s);
		return -1;
	}
	return 0;
}

/* libcurl opens a connection socket: as it would, marked as ours (SOCKETS). */
static curl_socket_t opensocket_cb(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct acs_curl_loop *cl = clientp;
	(void)purpose;
	int type = addr->socktype;
#ifdef SOCK_CLOEXEC
	type |= SOCK_CLOEXEC;
#endif
	curl_socket_t fd = socket(addr->family, type, addr->protocol);
	if (fd == CURL_SOCKET_BAD)
		return CURL_SOCKET_BAD;
	struct fd_slot *f = fd_slot_make(cl, fd);
	/* A context still on the number belonged to a socket closed without us. */
	if (f->sock)
		sock_close(f->sock);
	f->ours = true;
	return fd;
}

/* libcurl closes a socket: its context first, so that libuv lets go of the fd
 * before the number can be reused (SOCKETS). */
static int closesocket_cb(void *clientp, curl_socket_t fd)
{
	struct acs_curl_loop *cl = clientp;
	struct fd_slot *f = fd_slot(cl, fd);
	if (f) {
		if (f->sock)
			sock_close(f->sock);
		f->ours = false;
	}
	return close(fd);
}

/* --- multi handle -------------------------------------------------------- */

static CURLM *multi_new(struct acs_curl_loop *cl)
{
	CURLM *m = curl_multi_init();
	if (!m)
		return NULL;
	CURLMcode rc = CURLM_OK;
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_SOCKETFUNCTION, socket_cb);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_SOCKETDATA, cl);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_TIMERFUNCTION, timer_cb);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_TIMERDATA, cl);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS,
				       (long)ACS_CURL_MAX_HOST_CONNECTIONS);
	if (rc == CURLM_OK)
		rc = curl_multi_setopt(m, CURLMOPT_MAXCONNECTS, (long)ACS_CURL_MAX_CONNECTS);
	if (rc == CURLM_OK && cl->http2)
		rc = curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	if (rc != CURLM_OK) {
		acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_setopt: %s", curl_multi_strerror(rc));
		curl_multi_cleanup(m);
		return NULL;
	}
	return m;
}

/* Take every transfer out of the multi and clean it up (libcurl calls
 * socket_cb with CURL_POLL_REMOVE during cleanup, while cl is alive), then
 * close any poll context libcurl did not remove. Transfers are queued with
 * error for asynchronous delivery. */
static void multi_teardown(struct acs_curl_loop *cl, int error)
{
	CURLM *m = cl->multi;
	if (!m)
		return;
	while (cl->xfers) {
		struct xfer *x = cl->xfers;
		CURLMcode rc = curl_multi_remove_handle(m, x->easy);
		if (rc != CURLM_OK)
			acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_remove_handle: %s",
				curl_multi_strerror(rc));
		xfer_unlink(cl, x);
		defer_failure(cl, x, error);
	}
	CURLMcode rc = curl_multi_cleanup(m);
	if (rc != CURLM_OK)
		acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_cleanup: %s", curl_multi_strerror(rc));
	cl->multi = NULL;
	for (struct sock *s = cl->socks; s; s = s->next)
		sock_close(s);
	(void)uv_timer_stop(&cl->timer);
	spares_free(cl);
}

static void spares_free(struct acs_curl_loop *cl)
{
	while (cl->n_spare)
		curl_easy_cleanup(cl->spare[--cl->n_spare]);
}

ACS_STATIC ACS_UNUSED uint64_t curl_loop_socks_created(const struct acs_curl_loop *cl)
{
	return cl->socks_created;
}

/* After a failed socket_action: fail all transfers with error and continue
 * with a fresh multi handle (the connection cache is lost). */
ACS_STATIC void curl_loop_reset_multi(struct acs_curl_loop *cl, int error)
{
	multi_teardown(cl, error);
	if (cl->closing)
		return;
	cl->multi = multi_new(cl);
	/* Out of memory at this point is not survivable in any useful way. */
	acs_require(cl->multi != NULL);
}

/* --- public API ----------------------------------------------------------- */

struct acs_curl_loop *acs_curl_loop_new(uv_loop_t *loop, char err[ACS_ERR_LEN])
{
	/* Reference counted by libcurl; thread-safe in the versions we require
	 * (CURL_VERSION_THREADSAFE). Balanced in maybe_free(). */
	CURLcode grc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (grc != CURLE_OK) {
		snprintf(err, ACS_ERR_LEN, "curl_global_init: %s", curl_easy_strerror(grc));
		return NULL;
	}
	struct acs_curl_loop *cl = acs_xcalloc(1, sizeof(*cl));
	cl->loop = loop;
	cl->next_id = 1;
	const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
	cl->http2 = vi && (vi->features & CURL_VERSION_HTTP2);
	cl->gzip = vi && (vi->features & CURL_VERSION_LIBZ);

	cl->multi = multi_new(cl);
	if (!cl->multi) {
		snprintf(err, ACS_ERR_LEN, "cannot create the libcurl multi handle");
		goto fail;
	}
	int rc = uv_timer_init(loop, &cl->timer);
	if (rc < 0) {
		snprintf(err, ACS_ERR_LEN, "uv_timer_init: %s", uv_strerror(rc));
		goto fail_multi;
	}
	cl->timer.data = cl;
	cl->open_handles++;
	rc = uv_idle_init(loop, &cl->idle);
	acs_require(rc == 0); /* uv_idle_init cannot fail */
	cl->idle.data = cl;
	cl->open_handles++;
	return cl;

fail_multi:
	curl_multi_cleanup(cl->multi);
fail:
	free(cl);
	curl_global_cleanup();
	return NULL;
}

int acs_curl_loop_set_ca(struct acs_curl_loop *cl, const char *ca_file, const char *ca_path)
{
	if (cl->closing)
		return ACS_ECLOSED;
	free(cl->ca_file);
	free(cl->ca_path);
	cl->ca_file = ca_file ? acs_xstrdup(ca_file) : NULL;
	cl->ca_path = ca_path ? acs_xstrdup(ca_path) : NULL;
	return 0;
}

static size_t write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb;
	long status = 0;
	if (x->stream.sink &&
	    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    status >= 200 && status < 300) {
		if (x->streamed + n > x->max_response) {
			x->toobig = BODY_TOOBIG;
			return 0;
		}
		size_t took = x->stream.sink(ptr, n, x->stream.arg);
		if (took == ACS_CURL_STREAM_PAUSE)
			return CURL_WRITEFUNC_PAUSE;
		if (took != n)
			return 0; /* CURLE_WRITE_ERROR */
		x->streamed += n;
		return n;
	}
	if (acs_buf_append(&x->resp_body, ptr, n) < 0) {
		x->toobig = BODY_TOOBIG;
		return 0; /* CURLE_WRITE_ERROR ends the transfer */
	}
	return n;
}

static size_t read_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = x->stream.source(buf, size * nitems, x->stream.arg);
	if (n == ACS_CURL_STREAM_PAUSE)
		return CURL_READFUNC_PAUSE;
	if (n == ACS_CURL_STREAM_ABORT || n > size * nitems)
		return CURL_READFUNC_ABORT;
	return n;
}

static int seek_cb(void *userdata, curl_off_t offset, int origin)
{
	struct xfer *x = userdata;
	/* Only "from the start" is ever needed (a resend); the source restarts. */
	if (origin != SEEK_SET || offset != 0)
		return CURL_SEEKFUNC_CANTSEEK;
	return x->stream.source(NULL, 0, x->stream.arg) == 0 ? CURL_SEEKFUNC_OK
							     : CURL_SEEKFUNC_CANTSEEK;
}

static size_t header_cb(char *ptr, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nitems;
	const char *p = ptr, *end = ptr + n;

	while (end > p && (end[-1] == '\r' || end[-1] == '\n'))
		end--;
	if ((size_t)(end - p) >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue, for one): keep only its headers. */
		acs_buf_reset(&x->resp_hdrs);
		return n;
	}
	if (end == p || *p == ' ' || *p == '\t')
		return n; /* end of headers, or an obsolete folded line */
	const char *colon = memchr(p, ':', (size_t)(end - p));
	if (!colon || colon == p)
		return n;
	const char *v = colon + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	const char *vend = end;
	while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
		vend--;
	if (acs_buf_append(&x->resp_hdrs, p, (size_t)(colon - p)) < 0 ||
	    acs_buf_append(&x->resp_hdrs, "", 1) < 0 ||
	    acs_buf_append(&x->resp_hdrs, v, (size_t)(vend - v)) < 0 ||
	    acs_buf_append(&x->resp_hdrs, "", 1) < 0) {
		x->toobig = HEADERS_TOOBIG;
		return 0;
	}
	return n;
}

static bool method_ok(const char *m)
{
	size_t n = 0;
	for (; m[n]; n++)
		if (!(m[n] >= 'A' && m[n] <= 'Z') && m[n] != '-' && m[n] != '_')
			return false;
	return n > 0 && n <= 32;
}

static bool has_header(const char *const *headers, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; headers && headers[i]; i++)
		if (strncasecmp(headers[i], name, len) == 0 && headers[i][len] == ':')
			return true;
	return false;
}

/* Configure x->easy; returns the first failing option's code. */
static CURLcode easy_setup(struct acs_curl_loop *cl, struct xfer *x,
			   const struct acs_http_request *req)
{
	CURL *e = x->easy;
	CURLcode rc = CURLE_OK;
	uint64_t timeout = req->timeout_ms ? req->timeout_ms : ACS_CURL_DEFAULT_TIMEOUT_MS;
	uint64_t ctimeout = req->connect_timeout_ms ? req->connect_timeout_ms
						    : ACS_CURL_DEFAULT_CONNECT_TIMEOUT_MS;
	if (timeout > LONG_MAX)
		timeout = LONG_MAX;
	if (ctimeout > LONG_MAX)
		ctimeout = LONG_MAX;

#define SET(opt, val)                                       \
	do {                                                \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)

	SET(CURLOPT_PRIVATE, (void *)x);
	SET(CURLOPT_URL, x->url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_OPENSOCKETFUNCTION, opensocket_cb);
	SET(CURLOPT_OPENSOCKETDATA, (void *)cl);
	SET(CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
	SET(CURLOPT_CLOSESOCKETDATA, (void *)cl);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	SET(CURLOPT_WRITEFUNCTION, write_cb);
	SET(CURLOPT_WRITEDATA, (void *)x);
	SET(CURLOPT_HEADERFUNCTION, header_cb);
	SET(CURLOPT_HEADERDATA, (void *)x);
	SET(CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	SET(CURLOPT_TIMEOUT_MS, (long)timeout);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)ctimeout);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max_response);
	SET(CURLOPT_USERAGENT, "ado-clickup-sync/" ACS_VERSION);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	/* Verification is libcurl's default; say so explicitly and never
	 * offer a switch to turn it off. */
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	if (cl->ca_file)
		SET(CURLOPT_CAINFO, cl->ca_file);
	if (cl->ca_path)
		SET(CURLOPT_CAPATH, cl->ca_path);
	/* No CURLOPT_PIPEWAIT: with it, libcurl 7.88 parked new transfers to
	 * a plain-HTTP/1.1 host behind a busy connection instead of opening
	 * another (seen in our tests), so one slow request stalled the rest.
	 * A first burst to an HTTP/2 host may open a few extra connections;
	 * later bursts share them. */
	if (cl->http2)
		SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (cl->gzip)
		SET(CURLOPT_ACCEPT_ENCODING, "gzip");
	/* Proxies: CURLOPT_PROXY is deliberately left unset so libcurl reads
	 * http_proxy/https_proxy/no_proxy from the environment. */

	if (x->stream.source) {
		/* POST semantics without POSTFIELDS: libcurl pulls the body through
		 * read_cb, with a Content-Length of body_len. */
		SET(CURLOPT_POST, 1L);
		if (strcmp(x->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, x->method);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_READFUNCTION, read_cb);
		SET(CURLOPT_READDATA, (void *)x);
		SET(CURLOPT_SEEKFUNCTION, seek_cb);
		SET(CURLOPT_SEEKDATA, (void *)x);
	} else if (strcmp(x->method, "GET") == 0 && req->body_len == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else if (strcmp(x->method, "HEAD") == 0) {
		SET(CURLOPT_NOBODY, 1L);
	} else {
		bool post = strcmp(x->method, "POST") == 0;
		if (!post)
			SET(CURLOPT_CUSTOMREQUEST, x->method);
		/* POST, PUT and PATCH always send a Content-Length (0 included);
		 * DELETE and friends only when given a body. */
		if (req->body_len > 0 || post || strcmp(x->method, "PUT") == 0 ||
		    strcmp(x->method, "PATCH") == 0) {
			/* x->body lives as long as the easy handle: no copy. */
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
			SET(CURLOPT_POSTFIELDS, x->body ? (char *)x->body : "");
		}
	}
	if (x->headers)
		SET(CURLOPT_HTTPHEADER, x->headers);
#undef SET
	return rc;
}

int acs_curl_loop_request(struct acs_curl_loop *cl, const struct acs_http_request *req,
			  acs_curl_done_cb cb, void *arg, uint64_t *out_id)
{
	if (acs_fails_assert(cl && req && cb))
		return -EINVAL;
	if (cl->closing || !cl->multi)
		return ACS_ECLOSED;
	bool source = req->stream && req->stream->source;
	if (!req->url || !req->method || !method_ok(req->method) ||
	    (req->body_len > 0 && !req->body && !source) || (source && req->body))
		return -EINVAL;
	for (size_t i = 0; req->headers && req->headers[i]; i++)
		if (strpbrk(req->headers[i], "\r\n") || !strchr(req->headers[i], ':'))
			return -EINVAL; /* no header injection through our API */

	struct xfer *x = acs_xcalloc(1, sizeof(*x));
	x->cl = cl;
	x->cb = cb;
	x->arg = arg;
	x->method = acs_xstrdup(req->method);
	x->url = acs_xstrdup(req->url);
	if (req->stream)
		x->stream = *req->stream;
	if (req->body_len > 0 && !source) {
		x->body = acs_xmalloc(req->body_len);
		memcpy(x->body, req->body, req->body_len);
	}
	x->max_response = req->max_response_bytes ? req->max_response_bytes
						  : ACS_CURL_DEFAULT_MAX_RESPONSE;
	acs_buf_init(&x->resp_body, x->max_response);
	acs_buf_init(&x->resp_hdrs, ACS_CURL_MAX_HEADER_BYTES);

	int err = -ENOMEM;
	for (size_t i = 0; req->headers && req->headers[i]; i++) {
		struct curl_slist *l = curl_slist_append(x->headers, req->headers[i]);
		if (!l)
			goto fail;
		x->headers = l;
	}
	if (!has_header(req->headers, "Expect")) {
		/* Waiting for "100 Continue" costs a round trip (or a second
		 * against servers that never send it) for no gain here. */
		struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
		if (!l)
			goto fail;
		x->headers = l;
	}
	x->easy = cl->n_spare ? cl->spare[--cl->n_spare] : curl_easy_init();
	if (!x->easy)
		goto fail;
	CURLcode crc = easy_setup(cl, x, req);
	if (crc != CURLE_OK) {
		acs_log(ACS_LOG_ERR, LOG_MOD, "curl_easy_setopt: %s", curl_easy_strerror(crc));
		err = crc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		goto fail;
	}
	x->id = cl->next_id++;
	xfer_link(cl, x);
	cl->active++;
	/* This only arms the timer (timer_cb with 0 ms): no transfer work and
	 * so no callback can happen before we return. */
	CURLMcode mrc = curl_multi_add_handle(cl->multi, x->easy);
	if (mrc != CURLM_OK) {
		acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_add_handle: %s",
			curl_multi_strerror(mrc));
		xfer_unlink(cl, x);
		cl->active--;
		err = mrc == CURLM_OUT_OF_MEMORY ? -ENOMEM : -EINVAL;
		goto fail;
	}
	if (out_id)
		*out_id = x->id;
	return 0;

fail:
	xfer_free(x);
	return err;
}

int acs_curl_loop_cancel(struct acs_curl_loop *cl, uint64_t id)
{
	if (!cl->multi)
		return ACS_ENOTFOUND;
	for (struct xfer *x = cl->xfers; x; x = x->next) {
		if (x->id != id)
			continue;
		CURLMcode rc = curl_multi_remove_handle(cl->multi, x->easy);
		if (rc != CURLM_OK)
			acs_log(ACS_LOG_ERR, LOG_MOD, "curl_multi_remove_handle: %s",
				curl_multi_strerror(rc));
		xfer_unlink(cl, x);
		defer_failure(cl, x, ACS_ECANCELED);
		return 0;
	}
	return ACS_ENOTFOUND;
}

int acs_curl_loop_resume(struct acs_curl_loop *cl, uint64_t id)
{
	if (!cl->multi)
		return ACS_ENOTFOUND;
	for (struct xfer *x = cl->xfers; x; x = x->next) {
		if (x->id != id)
			continue;
		/* libcurl re-arms its timer (0 ms), so the transfer goes on from the
		 * next loop iteration; buffered body bytes may reach the sink now. */
		CURLcode rc = curl_easy_pause(x->easy, CURLPAUSE_CONT);
		if (rc != CURLE_OK)
			acs_log(ACS_LOG_WARN, LOG_MOD, "curl_easy_pause(CONT): %s",
				curl_easy_strerror(rc));
		return 0;
	}
	return ACS_ENOTFOUND;
}

size_t acs_curl_loop_active(const struct acs_curl_loop *cl)
{
	return cl->active;
}

void acs_curl_loop_close(struct acs_curl_loop *cl, acs_curl_loop_closed_cb cb, void *arg)
{
	if (!cl || cl->closing)
		return;
	cl->closing = true;
	cl->close_cb = cb;
	cl->close_arg = arg;
	/* 1. libcurl first, while the loop and cl are alive: it calls
	 *    socket_cb(CURL_POLL_REMOVE) and timer_cb during cleanup. */
	multi_teardown(cl, ACS_ECANCELED);
	/* 2. Then our handles. The idle handle closes itself once the
	 *    canceled callbacks have run; the struct goes in the last close
	 *    callback (3. and 4. of the shutdown order happen in the loop). */
	uv_close((uv_handle_t *)&cl->timer, handle_closed_cb);
	int rc = uv_idle_start(&cl->idle, idle_cb);
	acs_require(rc == 0);
}

const char *acs_http_response_header(const struct acs_http_response *resp, const char *name)
{
	const char *n, *v;
	for (size_t i = 0; acs_http_response_header_at(resp, i, &n, &v); i++)
		if (strcasecmp(n, name) == 0)
			return v;
	return NULL;
}

bool acs_http_response_header_at(const struct acs_http_response *resp, size_t i, const char **name,
				 const char **value)
{
	const char *p = resp->hdr_data;
	const char *end = p ? p + resp->hdr_len : NULL;
	while (p && p < end) {
		const char *n = p;
		const char *v = n + strlen(n) + 1;
		if (v >= end)
			return false;
		if (i == 0) {
			*name = n;
			*value = v;
			return true;
		}
		i--;
		p = v + strlen(v) + 1;
	}
	return false;
}
