/* SPDX-License-Identifier: MIT */
/* Fixed-rate HTTP/1.1 load for test/bench/intake.sh (wrk has no rate limit and
 * wrk2 is not packaged): sends the pre-signed deliveries of intake_gen.py at RATE
 * requests/s over CONNS keep-alive connections and prints latency percentiles. */

/*
 * usage: rate_load PORT FILE RATE SECONDS CONNS
 *
 * Request i is due at start + i / RATE (open loop). It goes out on an idle
 * connection as soon as it is due; when every connection is busy it waits, and
 * that wait counts: latency is measured from the due time, so a stalled server
 * cannot hide its stall by slowing the sender down (coordinated omission, as
 * wrk2 corrects it). The time from the actual send is printed as well.
 * Build: cc -O2 -o rate_load rate_load.c -lm (Linux: epoll, timerfd).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define RBUF 8192
#define GRACE_NS (30LL * 1000000000LL) /* wait this long for late answers */

struct req {
	char *data;
	size_t len;
	int64_t due, sent, done; /* ns, CLOCK_MONOTONIC */
	int status;		 /* 0 = no answer */
};

struct conn {
	int fd;
	struct req *cur; /* in flight, or NULL when idle */
	size_t woff;	 /* bytes of cur written */
	char rbuf[RBUF];
	size_t rlen;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static int connect_to(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		die("connect");
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* Reads FILE ("<sig>\t<body>" lines) into n ready-made requests. */
static struct req *load(const char *path, int port, size_t n)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die(path);
	struct req *r = calloc(n, sizeof(*r));
	char *line = NULL;
	size_t cap = 0, i = 0;
	ssize_t len;
	while (i < n && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		char *tab = strchr(line, '\t');
		if (!tab)
			continue;
		*tab = '\0';
		const char *body = tab + 1;
		size_t blen = (size_t)(line + len - body);
		size_t max = blen + strlen(line) + 256;
		r[i].data = malloc(max);
		int k = snprintf(r[i].data, max,
				 "POST /webhooks/clickup HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
				 "Content-Type: application/json\r\nX-Signature: %s\r\n"
				 "Content-Length: %zu\r\n\r\n",
				 port, line, blen);
		memcpy(r[i].data + k, body, blen);
		r[i].len = (size_t)k + blen;
		i++;
	}
	free(line);
	fclose(f);
	if (i < n) {
		fprintf(stderr, "rate_load: %s has %zu requests, %zu needed\n", path, i, n);
		exit(1);
	}
	return r;
}

/* Write what is left of the connection's request; EPOLLOUT only while stuck. */
static void flush(int ep, struct conn *c)
{
	while (c->woff < c->cur->len) {
		ssize_t w = write(c->fd, c->cur->data + c->woff, c->cur->len - c->woff);
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0)
			die("write");
		c->woff += (size_t)w;
	}
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
	if (c->woff < c->cur->len)
		ev.events |= EPOLLOUT;
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* A complete answer in rbuf: its length, or 0 while incomplete. */
static size_t parse(struct conn *c, int *status)
{
	char *end = memmem(c->rbuf, c->rlen, "\r\n\r\n", 4);
	if (!end)
		return 0;
	size_t hlen = (size_t)(end - c->rbuf) + 4, clen = 0;
	*status = (c->rlen > 12) ? (int)strtol(c->rbuf + 9, NULL, 10) : 0;
	for (char *p = c->rbuf; p < end; p++) {
		if ((p == c->rbuf || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15)) {
			clen = (size_t)strtoul(p + 15, NULL, 10);
			break;
		}
	}
	return c->rlen >= hlen + clen ? hlen + clen : 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static double pct(const int64_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t k = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return (double)v[k] / 1e6;
}

static void report(const char *name, int64_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_i64);
	printf("%s_ms p50=%.3f p90=%.3f p99=%.3f p999=%.3f max=%.3f\n", name, pct(v, n, 50),
	       pct(v, n, 90), pct(v, n, 99), pct(v, n, 99.9), n ? (double)v[n - 1] / 1e6 : 0.0);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: rate_load PORT FILE RATE SECONDS CONNS\n");
		return 2;
	}
	int port = (int)strtol(argv[1], NULL, 10);
	double rate = strtod(argv[3], NULL), secs = strtod(argv[4], NULL);
	int nconn = (int)strtol(argv[5], NULL, 10);
	size_t n = (size_t)(rate * secs);
	if (port <= 0 || rate <= 0 || n == 0 || nconn <= 0) {
		fprintf(stderr, "rate_load: bad arguments\n");
		return 2;
	}
	struct req *r = load(argv[2], port, n);
	int ep = epoll_create1(0);
	int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (ep < 0 || tfd < 0)
		die("epoll/timerfd");
	struct epoll_event tev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &tev);
	struct conn *conns = calloc((size_t)nconn, sizeof(*conns));
	struct conn **idle = calloc((size_t)nconn, sizeof(*idle));
	int nidle = 0;
	for (int i = 0; i < nconn; i++) {
		conns[i].fd = connect_to(port);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &conns[i] };
		epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
		idle[nidle++] = &conns[i];
	}

	struct timespec rt;
	clock_gettime(CLOCK_REALTIME, &rt);
	const int64_t wall_off = (int64_t)rt.tv_sec * 1000000000LL + rt.tv_nsec - now_ns();
	const int64_t t0 = now_ns() + 10000000LL, step = (int64_t)(1e9 / rate);
	const int64_t deadline = t0 + (int64_t)(secs * 1e9) + GRACE_NS;
	size_t next = 0, answered = 0, errors = 0;
	for (size_t i = 0; i < n; i++)
		r[i].due = t0 + (int64_t)i * step;

	while (answered + errors < n) {
		int64_t now = now_ns();
		if (now > deadline)
			break;
		while (next < n && r[next].due <= now && nidle > 0) {
			struct conn *c = idle[--nidle];
			c->cur = &r[next++];
			c->woff = 0;
			c->cur->sent = now_ns();
			flush(ep, c);
		}
		/* Sleep until the next request is due (if a connection is free to
		 * take it) or an answer arrives. */
		struct itimerspec its = { 0 };
		if (next < n && nidle > 0) {
			its.it_value.tv_sec = r[next].due / 1000000000LL;
			its.it_value.tv_nsec = r[next].due % 1000000000LL;
		}
		timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
		struct epoll_event evs[64];
		int k = epoll_wait(ep, evs, 64, 1000);
		if (k < 0 && errno != EINTR)
			die("epoll_wait");
		for (int e = 0; e < k; e++) {
			struct conn *c = evs[e].data.ptr;
			if (!c) {
				uint64_t x;
				(void)!read(tfd, &x, sizeof(x));
				continue;
			}
			if (evs[e].events & EPOLLOUT && c->cur)
				flush(ep, c);
			if (!(evs[e].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t got = read(c->fd, c->rbuf + c->rlen, RBUF - c->rlen);
			if (got < 0 && errno == EAGAIN)
				continue;
			int status = 0;
			size_t used = got > 0 ? (c->rlen += (size_t)got, parse(c, &status)) : 0;
			if (got <= 0 || (!used && c->rlen == RBUF)) {
				/* Closed or garbage: the request in flight failed. */
				epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
				close(c->fd);
				c->fd = connect_to(port);
				struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
				epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
				c->rlen = 0;
				if (c->cur) {
					errors++;
					c->cur = NULL;
					idle[nidle++] = c;
				}
				continue;
			}
			if (!used || !c->cur)
				continue;
			c->cur->done = now_ns();
			c->cur->status = status;
			answered++;
			memmove(c->rbuf, c->rbuf + used, c->rlen - used);
			c->rlen -= used;
			c->cur = NULL;
			idle[nidle++] = c;
		}
	}

	int64_t *lat = malloc(n * sizeof(*lat)), *svc = malloc(n * sizeof(*svc));
	size_t m = 0, ok = 0, last = 0;
	for (size_t i = 0; i < n; i++) {
		if (!r[i].status)
			continue;
		ok += r[i].status == 200;
		lat[m] = r[i].done - r[i].due;
		svc[m] = r[i].done - r[i].sent;
		if (r[i].done > r[last].done || !r[last].status)
			last = i;
		m++;
	}
	double elapsed = m ? (double)(r[last].done - t0) / 1e9 : 0;
	printf("requests=%zu answered=%zu ok200=%zu failed=%zu unanswered=%zu achieved_rps=%.0f\n",
	       n, m, ok, errors, n - m - errors, elapsed > 0 ? (double)m / elapsed : 0.0);
	/* RATE_LOAD_DUMP=file: one line per request (due, sent, done as wall-clock
	 * seconds, status) to line stalls up with the daemon's own traces. */
	const char *dump = getenv("RATE_LOAD_DUMP");
	if (dump) {
		FILE *f = fopen(dump, "w");
		if (!f)
			die(dump);
		for (size_t i = 0; i < n; i++)
			fprintf(f, "%.6f %.6f %.6f %d\n", (double)(r[i].due + wall_off) / 1e9,
				(double)(r[i].sent + wall_off) / 1e9,
				(double)(r[i].done + wall_off) / 1e9, r[i].status);
		fclose(f);
	}
	report("latency", lat, m);
	report("service", svc, m);
	return m == n && ok == n ? 0 : 1;
}
