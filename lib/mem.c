/* SPDX-License-Identifier: MIT */
/* OOM-aborting allocators and the bounded buffer. */
#include "mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"

static void oom(size_t n) ACS_NORETURN;
static void oom(size_t n)
{
	/* No logger here: it may need memory itself. */
	fprintf(stderr, "ado-clickup-sync: out of memory allocating %zu bytes\n", n);
	abort();
}

void *acs_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *acs_xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		oom(nmemb * size);
	return p;
}

void *acs_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		oom(n);
	return q;
}

char *acs_xstrdup(const char *s)
{
	return acs_xstrndup(s, strlen(s));
}

char *acs_xstrndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = acs_xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *acs_xasprintf(const char *fmt, ...)
{
	va_list ap, ap2;
	va_start(ap, fmt);
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	acs_require(n >= 0);
	char *p = acs_xmalloc((size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap2);
	va_end(ap2);
	return p;
}

void acs_buf_init(struct acs_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void acs_buf_free(struct acs_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void acs_buf_reset(struct acs_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static int grow(struct acs_buf *b, size_t need)
{
	if (need > b->max || need < b->len) {
		acs_buf_free(b);
		return ACS_ETOOBIG;
	}
	if (need + 1 <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need + 1)
		cap = cap * 2 > cap ? cap * 2 : need + 1;
	if (b->max < SIZE_MAX && cap > b->max + 1)
		cap = b->max + 1;
	b->data = acs_xrealloc(b->data, cap);
	b->cap = cap;
	return 0;
}

int acs_buf_append(struct acs_buf *b, const void *p, size_t n)
{
	int rc = grow(b, b->len + n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int acs_buf_reserve(struct acs_buf *b, size_t n)
{
	int rc = grow(b, b->len + n);
	if (!rc && b->data)
		b->data[b->len] = '\0';
	return rc;
}

int acs_buf_appends(struct acs_buf *b, const char *s)
{
	return acs_buf_append(b, s, strlen(s));
}

int acs_buf_vprintf(struct acs_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return ACS_EPARSE;
	int rc = grow(b, b->len + (size_t)n);
	if (rc)
		return rc;
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int acs_buf_printf(struct acs_buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = acs_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

char *acs_buf_steal(struct acs_buf *b, size_t *len)
{
	char *p = b->data ? b->data : acs_xcalloc(1, 1);
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	return p;
}

void acs_buf_consume(struct acs_buf *b, size_t n)
{
	acs_require(n <= b->len);
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	if (b->data)
		b->data[b->len] = '\0';
}
