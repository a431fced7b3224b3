/* SPDX-License-Identifier: MIT */
/* Allocation that aborts on OOM (so callers need no NULL checks) and
 * struct acs_buf, a growable byte buffer with a hard ceiling (curl's dynbuf). */
#pragma once

#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include "common.h"

/** malloc/calloc/realloc/strdup that abort on OOM; never return NULL. */
void *acs_xmalloc(size_t n);
void *acs_xcalloc(size_t nmemb, size_t size);
void *acs_xrealloc(void *p, size_t n);
char *acs_xstrdup(const char *s);
char *acs_xstrndup(const char *s, size_t n);
/** printf into a fresh heap string; caller frees. */
char *acs_xasprintf(const char *fmt, ...) ACS_PRINTF(1, 2);

/** Growable buffer. Always NUL-terminated when data != NULL (the NUL is not
 *  counted in len and does not count against max). */
struct acs_buf {
	char *data; /**< NULL until the first append */
	size_t len; /**< bytes used */
	size_t cap; /**< bytes allocated */
	size_t max; /**< ceiling on len; appends past it fail */
};

/** Start empty with a ceiling of max bytes. Allocates nothing. */
void acs_buf_init(struct acs_buf *b, size_t max);
/** Release the storage; the buffer is empty and reusable (same max). */
void acs_buf_free(struct acs_buf *b);
/** Forget the contents but keep the storage. */
void acs_buf_reset(struct acs_buf *b);
/** Append n bytes. Returns 0, or ACS_ETOOBIG (and frees the buffer) past max. */
int acs_buf_append(struct acs_buf *b, const void *p, size_t n);
int acs_buf_appends(struct acs_buf *b, const char *s);
/** acs_buf_append with the common case (it fits) inline: for writers that append a
 *  token at a time. */
static inline int acs_buf_put(struct acs_buf *b, const void *p, size_t n)
{
	if (b->data && b->len + n < b->cap) {
		memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return acs_buf_append(b, p, n);
}
/** Make room for n more bytes now (one allocation instead of several doublings).
 *  Returns 0, or ACS_ETOOBIG (and frees the buffer) past max. */
int acs_buf_reserve(struct acs_buf *b, size_t n);
int acs_buf_printf(struct acs_buf *b, const char *fmt, ...) ACS_PRINTF(2, 3);
int acs_buf_vprintf(struct acs_buf *b, const char *fmt, va_list ap);
/** Hand the storage to the caller (free() it); the buffer becomes empty.
 *  Returns an empty heap string when nothing was appended. */
char *acs_buf_steal(struct acs_buf *b, size_t *len);
/** Remove the first n bytes (n <= len). */
void acs_buf_consume(struct acs_buf *b, size_t n);
