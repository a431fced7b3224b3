/* SPDX-License-Identifier: MIT */
/* JSON text <-> jansson values without jansson's byte-at-a-time reader and callback
 * writer: a recursive-descent parser over the buffer and a writer into one growing
 * string. Accepts, rejects and writes exactly what jansson does for our flags. */
#include "json_codec.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"

#define LOAD_FLAGS (JSON_DECODE_ANY | JSON_REJECT_DUPLICATES)

/* One-letter escapes: ESC_LETTERS[i] after a backslash stands for ESC_CHARS[i]. */
static const char ESC_LETTERS[] = "/\"\\bfnrt";
static const char ESC_CHARS[] = "/\"\\\b\f\n\r\t";

/* Length of the run at p (up to end) of bytes a JSON string takes as they are: no
 * control character, quote, backslash or non-ASCII byte. Eight bytes at a time: API
 * payloads are mostly long runs of plain ASCII. */
static size_t plain_run(const unsigned char *p, const unsigned char *end)
{
	const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
	const unsigned char *q = p;
	while (end - q >= 8) {
		uint64_t v;
		memcpy(&v, q, 8);
		uint64_t quote = v ^ (ones * '"'), bslash = v ^ (ones * '\\');
		/* A byte is flagged when >= 0x80, < 0x20, or equal to '"' or '\\' (the
		 * has-zero-byte test; exact once bytes >= 0x80 are flagged themselves). */
		uint64_t bad = (v | (v - ones * 0x20) | ((quote - ones) & ~quote) |
				((bslash - ones) & ~bslash)) &
			       high;
		if (bad)
			break;
		q += 8;
	}
	while (q < end && *q >= 0x20 && *q != '"' && *q != '\\' && *q < 0x80)
		q++;
	return (size_t)(q - p);
}
#define DUMP_FLAGS (JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER)

/* ---- reader ---- */

struct parser {
	const unsigned char *start, *p, *end;
	size_t flags;
	int depth, max_depth;
	json_error_t *error;
	/* Strings with escapes are decoded here (reused across the document). */
	char *scratch;
	size_t scratch_cap;
};

static void fail(struct parser *ps, const unsigned char *at, enum json_error_code code,
		 const char *fmt, ...) ACS_PRINTF(4, 5);

static void fail(struct parser *ps, const unsigned char *at, enum json_error_code code,
		 const char *fmt, ...)
{
	json_error_t *e = ps->error;
	if (!e)
		return;
	va_list ap;
	va_start(ap, fmt);
	char msg[JSON_ERROR_TEXT_LENGTH];
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (at >= ps->end)
		snprintf(e->text, sizeof e->text, "%s near end of file", msg);
	else
		snprintf(e->text, sizeof e->text, "%s near '%c'", msg,
			 *at >= 0x20 && *at < 0x7f ? *at : '?');
	e->text[JSON_ERROR_TEXT_LENGTH - 1] = (char)code;
	snprintf(e->source, sizeof e->source, "<buffer>");
	if (at > ps->end)
		at = ps->end;
	e->position = (int)(at - ps->start);
	e->line = 1;
	e->column = 0;
	for (const unsigned char *q = ps->start; q < at; q++) {
		if (*q == '\n') {
			e->line++;
			e->column = 0;
		} else if ((*q & 0xc0) != 0x80) {
			e->column++; /* columns count characters, as jansson's do */
		}
	}
}

static void skip_ws(struct parser *ps)
{
	const unsigned char *p = ps->p;
	while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0: no overlong
 * forms, no surrogates, nothing past U+10FFFF (jansson's utf8_check_full). */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned c = p[0];
	size_t n;
	uint32_t v;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		v = c & 0x07;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (p[i] & 0x3f);
	}
	if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10ffff ||
	    (v >= 0xd800 && v <= 0xdfff))
		return 0;
	return n;
}

static void scratch_reserve(struct parser *ps, size_t need)
{
	if (need <= ps->scratch_cap)
		return;
	size_t cap = ps->scratch_cap ? ps->scratch_cap : 256;
	while (cap < need)
		cap *= 2;
	ps->scratch = acs_xrealloc(ps->scratch, cap);
	ps->scratch_cap = cap;
}

static int hex4(const unsigned char *p, const unsigned char *end, uint32_t *out)
{
	if (end - p < 4)
		return -1;
	uint32_t v = 0;
	for (int i = 0; i < 4; i++) {
		unsigned c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	*out = v;
	return 0;
}

static size_t put_utf8(char *o, uint32_t v)
{
	if (v < 0x80) {
		o[0] = (char)v;
		return 1;
	}
	if (v < 0x800) {
		o[0] = (char)(0xc0 | (v >> 6));
		o[1] = (char)(0x80 | (v & 0x3f));
		return 2;
	}
	if (v < 0x10000) {
		o[0] = (char)(0xe0 | (v >> 12));
		o[1] = (char)(0x80 | ((v >> 6) & 0x3f));
		o[2] = (char)(0x80 | (v & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (v >> 18));
	o[1] = (char)(0x80 | ((v >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((v >> 6) & 0x3f));
	o[3] = (char)(0x80 | (v & 0x3f));
	return 4;
}

/* The string whose opening quote is at ps->p: *out and *len point into the input when it
 * has no escape, else into the scratch buffer (valid until the next string). */
static int parse_string(struct parser *ps, const char **out, size_t *len)
{
	const unsigned char *s = ps->p + 1, *q = s, *end = ps->end;
	for (;;) {
		q += plain_run(q, end);
		if (q >= end) {
			fail(ps, q, json_error_premature_end_of_input, "premature end of input");
			return -1;
		}
		if (*q == '"') {
			*out = (const char *)s;
			*len = (size_t)(q - s);
			ps->p = q + 1;
			return 0;
		}
		if (*q >= 0x80) {
			size_t n = utf8_seq(q, end);
			if (!n) {
				fail(ps, q, json_error_invalid_utf8, "unable to decode byte 0x%x",
				     *q);
				return -1;
			}
			q += n;
			continue;
		}
		if (*q < 0x20) {
			fail(ps, q, json_error_invalid_syntax, "control character 0x%x", *q);
			return -1;
		}
		break; /* a backslash: decode from here on */
	}

	/* Escapes only shrink the text (\uXXXX = 6 bytes -> at most 3; a pair of 12 -> 4). */
	scratch_reserve(ps, (size_t)(end - s) + 1);
	char *o = ps->scratch;
	memcpy(o, s, (size_t)(q - s));
	size_t n = (size_t)(q - s);
	for (;;) {
		if (q >= end) {
			fail(ps, q, json_error_premature_end_of_input, "premature end of input");
			return -1;
		}
		unsigned c = *q;
		if (c == '"')
			break;
		if (c < 0x20) {
			fail(ps, q, json_error_invalid_syntax, "control character 0x%x", c);
			return -1;
		}
		if (c >= 0x80) {
			size_t k = utf8_seq(q, end);
			if (!k) {
				fail(ps, q, json_error_invalid_utf8, "unable to decode byte 0x%x",
				     c);
				return -1;
			}
			memcpy(o + n, q, k);
			n += k;
			q += k;
			continue;
		}
		if (c != '\\') {
			o[n++] = (char)c;
			q++;
			continue;
		}
		if (q + 1 >= end) {
			fail(ps, q + 1, json_error_premature_end_of_input,
			     "premature end of input");
			return -1;
		}
		const unsigned char *esc = q;
		q += 2;
		const char *k = esc[1] ? strchr(ESC_LETTERS, esc[1]) : NULL;
		if (k) {
			o[n++] = ESC_CHARS[k - ESC_LETTERS];
			continue;
		}
		switch (esc[1]) {
		case 'u': {
			uint32_t v;
			if (hex4(q, end, &v) < 0) {
				fail(ps, esc, json_error_invalid_syntax, "invalid escape");
				return -1;
			}
			q += 4;
			if (v >= 0xd800 && v <= 0xdbff) {
				uint32_t lo;
				if (end - q < 6 || q[0] != '\\' || q[1] != 'u' ||
				    hex4(q + 2, end, &lo) < 0) {
					fail(ps, esc, json_error_invalid_syntax,
					     "invalid Unicode '\\u%04X'", (unsigned)v);
					return -1;
				}
				if (lo < 0xdc00 || lo > 0xdfff) {
					fail(ps, esc, json_error_invalid_syntax,
					     "invalid Unicode '\\u%04X\\u%04X'", (unsigned)v,
					     (unsigned)lo);
					return -1;
				}
				q += 6;
				v = 0x10000 + ((v - 0xd800) << 10) + (lo - 0xdc00);
			} else if (v >= 0xdc00 && v <= 0xdfff) {
				fail(ps, esc, json_error_invalid_syntax,
				     "invalid Unicode '\\u%04X'", (unsigned)v);
				return -1;
			} else if (v == 0) {
				fail(ps, esc, json_error_null_character,
				     "\\u0000 is not allowed without JSON_ALLOW_NUL");
				return -1;
			}
			n += put_utf8(o + n, v);
			break;
		}
		default:
			fail(ps, esc, json_error_invalid_syntax, "invalid escape");
			return -1;
		}
	}
	*out = o;
	*len = n;
	ps->p = q + 1;
	return 0;
}

/* The end of the run of one or more digits at q, or NULL when there is none. */
static const unsigned char *digits(const unsigned char *q, const unsigned char *end)
{
	if (q >= end || *q < '0' || *q > '9')
		return NULL;
	while (q < end && *q >= '0' && *q <= '9')
		q++;
	return q;
}

static json_t *parse_number(struct parser *ps)
{
	const unsigned char *s = ps->p, *q = s, *end = ps->end;
	bool neg = q < end && *q == '-';
	if (neg)
		q++;
	/* No leading zero: "0" alone, or a run starting 1-9. */
	if (q < end && *q == '0')
		q = q + 1 < end && q[1] >= '0' && q[1] <= '9' ? NULL : q + 1;
	else
		q = digits(q, end);
	if (!q)
		goto invalid;
	const unsigned char *digits_end = q;
	bool real = false;
	if (q < end && *q == '.') {
		if (!(q = digits(q + 1, end)))
			goto invalid;
		real = true;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		q++;
		if (q < end && (*q == '+' || *q == '-'))
			q++;
		if (!(q = digits(q, end)))
			goto invalid;
		real = true;
	}
	ps->p = q;
	size_t ndig = (size_t)(digits_end - s) - (neg ? 1 : 0);
	if (!real && ndig <= 18) {
		/* Up to 18 digits cannot overflow a 64-bit json_int_t. */
		json_int_t v = 0;
		for (const unsigned char *d = s + (neg ? 1 : 0); d < digits_end; d++)
			v = v * 10 + (*d - '0');
		return json_integer(neg ? -v : v);
	}
	/* Long integers and reals: the C library on a NUL-terminated copy. */
	char small[64];
	size_t tl = (size_t)(q - s);
	char *tok = tl < sizeof small ? small : acs_xmalloc(tl + 1);
	memcpy(tok, s, tl);
	tok[tl] = '\0';
	json_t *out = NULL;
	errno = 0;
	if (!real) {
		long long v = strtoll(tok, NULL, 10);
		if (errno == ERANGE)
			fail(ps, s, json_error_numeric_overflow,
			     neg ? "too big negative integer" : "too big integer");
		else
			out = json_integer((json_int_t)v);
	} else {
		double v = strtod(tok, NULL);
		if ((v == HUGE_VAL || v == -HUGE_VAL) && errno == ERANGE)
			fail(ps, s, json_error_numeric_overflow, "real number overflow");
		else
			out = json_real(v);
	}
	if (tok != small)
		free(tok);
	return out;

invalid:
	fail(ps, s, json_error_invalid_syntax, "invalid token");
	return NULL;
}

static json_t *parse_value(struct parser *ps);

/* At the container's closing character: step over it and leave the container. */
static bool close_at(struct parser *ps, char close)
{
	if (ps->p >= ps->end || *ps->p != close)
		return false;
	ps->p++;
	ps->depth--;
	return true;
}

/* At '[' or '{': -1 on error (too deep), 0 when the container is empty (and closed),
 * 1 when a member follows. */
static int open_container(struct parser *ps, char close)
{
	if (++ps->depth > ps->max_depth) {
		fail(ps, ps->p, json_error_stack_overflow, "maximum parsing depth reached");
		return -1;
	}
	ps->p++;
	skip_ws(ps);
	if (close_at(ps, close))
		return 0;
	return 1;
}

/* After a member: 1 at ',' (another follows), 0 at the close, -1 on error. */
static int next_member(struct parser *ps, char close)
{
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ',') {
		ps->p++;
		skip_ws(ps);
		return 1;
	}
	if (close_at(ps, close))
		return 0;
	fail(ps, ps->p, json_error_invalid_syntax, close == ']' ? "']' expected" : "'}' expected");
	return -1;
}

static json_t *parse_array(struct parser *ps)
{
	int more = open_container(ps, ']');
	if (more < 0)
		return NULL;
	json_t *a = json_array();
	while (more > 0) {
		json_t *v = parse_value(ps);
		if (!v)
			break;
		json_array_append_new(a, v);
		more = next_member(ps, ']');
	}
	if (more) {
		json_decref(a);
		return NULL;
	}
	return a;
}

/* One "key": value member into o; -1 on error. */
static int parse_member(struct parser *ps, json_t *o)
{
	if (ps->p >= ps->end || *ps->p != '"') {
		fail(ps, ps->p, json_error_invalid_syntax, "string or '}' expected");
		return -1;
	}
	const char *key;
	size_t klen;
	char *keycopy = NULL;
	if (parse_string(ps, &key, &klen) < 0)
		return -1;
	if (key == ps->scratch) {
		/* The value's strings reuse the scratch buffer. */
		keycopy = acs_xstrndup(key, klen);
		key = keycopy;
	}
	int rc = -1;
	json_t *v = NULL;
	if ((ps->flags & JSON_REJECT_DUPLICATES) && json_object_getn(o, key, klen)) {
		fail(ps, ps->p, json_error_duplicate_key, "duplicate object key");
		goto out;
	}
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':') {
		fail(ps, ps->p, json_error_invalid_syntax, "':' expected");
		goto out;
	}
	ps->p++;
	if (!(v = parse_value(ps)))
		goto out;
	/* The last of duplicate keys wins, as in jansson. */
	if (json_object_setn_new_nocheck(o, key, klen, v) < 0)
		fail(ps, ps->p, json_error_out_of_memory, "out of memory");
	else
		rc = 0;
out:
	free(keycopy);
	return rc;
}

static json_t *parse_object(struct parser *ps)
{
	int more = open_container(ps, '}');
	if (more < 0)
		return NULL;
	json_t *o = json_object();
	while (more > 0) {
		if (parse_member(ps, o) < 0)
			break;
		more = next_member(ps, '}');
	}
	if (more) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static bool word_at(struct parser *ps, const char *w, size_t n)
{
	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, w, n))
		return false;
	const unsigned char *after = ps->p + n;
	/* jansson reads a whole identifier: "truex" is one invalid token. */
	if (after < ps->end &&
	    ((*after >= 'a' && *after <= 'z') || (*after >= 'A' && *after <= 'Z')))
		return false;
	ps->p = after;
	return true;
}

static json_t *parse_value(struct parser *ps)
{
	skip_ws(ps);
	if (ps->p >= ps->end) {
		fail(ps, ps->p, json_error_invalid_syntax, "unexpected token");
		return NULL;
	}
	switch (*ps->p) {
	case '{':
		return parse_object(ps);
	case '[':
		return parse_array(ps);
	case '"': {
		const char *s;
		size_t n;
		if (parse_string(ps, &s, &n) < 0)
			return NULL;
		return json_stringn_nocheck(s, n);
	}
	case 't':
		if (word_at(ps, "true", 4))
			return json_true();
		break;
	case 'f':
		if (word_at(ps, "false", 5))
			return json_false();
		break;
	case 'n':
		if (word_at(ps, "null", 4))
			return json_null();
		break;
	case ']':
	case '}':
	case ',':
	case ':':
		fail(ps, ps->p, json_error_invalid_syntax, "unexpected token");
		return NULL;
	default:
		if (*ps->p == '-' || (*ps->p >= '0' && *ps->p <= '9'))
			return parse_number(ps);
		if (*ps->p >= 0x80 && !utf8_seq(ps->p, ps->end)) {
			fail(ps, ps->p, json_error_invalid_utf8, "unable to decode byte 0x%x",
			     *ps->p);
			return NULL;
		}
		break;
	}
	fail(ps, ps->p, json_error_invalid_syntax, "invalid token");
	return NULL;
}

json_t *acs_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *error)
{
	return acs_json_loadb_depth(buf, len, flags, JSON_PARSER_MAX_DEPTH, error);
}

json_t *acs_json_loadb_depth(const char *buf, size_t len, size_t flags, int max_depth,
			     json_error_t *error)
{
	if (max_depth < 1 || max_depth > JSON_PARSER_MAX_DEPTH)
		max_depth = JSON_PARSER_MAX_DEPTH;
	if ((flags & ~(size_t)LOAD_FLAGS) || (!buf && len))
		return json_loadb(buf, len, flags, error);
	struct parser ps = {
		.max_depth = max_depth,
		.start = (const unsigned char *)buf,
		.p = (const unsigned char *)buf,
		.end = (const unsigned char *)buf + len,
		.flags = flags,
		.error = error,
	};
	if (error) {
		error->text[0] = '\0';
		error->line = error->column = error->position = -1;
		snprintf(error->source, sizeof error->source, "<buffer>");
	}
	json_t *root = NULL;
	skip_ws(&ps);
	if (!(flags & JSON_DECODE_ANY) && (ps.p >= ps.end || (*ps.p != '[' && *ps.p != '{'))) {
		fail(&ps, ps.p, json_error_invalid_syntax, "'[' or '{' expected");
		goto out;
	}
	root = parse_value(&ps);
	if (!root)
		goto out;
	skip_ws(&ps);
	if (ps.p < ps.end) {
		fail(&ps, ps.p, json_error_end_of_input_expected, "end of file expected");
		json_decref(root);
		root = NULL;
	}
out:
	free(ps.scratch);
	return root;
}

json_t *acs_json_loads(const char *s, size_t flags, json_error_t *error)
{
	if (!s)
		return json_loads(s, flags, error);
	return acs_json_loadb(s, strlen(s), flags, error);
}

/* ---- writer ---- */

/* Writes go to an acs_buf; the first failed append (past the buffer's ceiling)
 * sticks, so the rest of the document is not written into the freed buffer. */
struct out {
	struct acs_buf *b;
	int err;
	const char *skip; /* top-level key left out, or NULL */
	size_t skip_len;
};

static void out_put(struct out *o, const void *p, size_t n)
{
	if (!o->err && acs_buf_put(o->b, p, n))
		o->err = ACS_ETOOBIG;
}

static void out_ch(struct out *o, char c)
{
	out_put(o, &c, 1);
}

static bool skipped(const struct out *o, int depth, const char *key, size_t len)
{
	return o->skip && depth == 0 && len == o->skip_len && !memcmp(key, o->skip, len);
}

static int dump_string(struct out *o, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + len, *run = s;
	out_ch(o, '"');
	while (s < end) {
		s += plain_run(s, end);
		if (s >= end)
			break;
		unsigned c = *s;
		if (c >= 0x80) {
			size_t k = utf8_seq(s, end);
			if (!k)
				return -1; /* jansson refuses to write invalid UTF-8 */
			s += k;
			continue;
		}
		out_put(o, run, (size_t)(s - run));
		char seq[8] = "\\";
		size_t tl = 2;
		const char *k = strchr(ESC_CHARS + 1, (int)c); /* not "/": jansson keeps it */
		if (c && k)
			seq[1] = ESC_LETTERS[k - ESC_CHARS];
		else
			tl = (size_t)snprintf(seq, sizeof seq, "\\u%04X", c);
		out_put(o, seq, tl);
		run = ++s;
	}
	out_put(o, run, (size_t)(s - run));
	out_ch(o, '"');
	return 0;
}

struct key_len {
	const char *key;
	size_t len;
};

static int key_cmp(const void *a, const void *b)
{
	const struct key_len *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int r = memcmp(x->key, y->key, n);
	if (r)
		return r;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* -1: jansson cannot write it either; -2: nesting too deep for us (jansson decides). */
static int dump(struct out *o, const json_t *j, size_t flags, int depth)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		out_put(o, "null", 4);
		return 0;
	case JSON_TRUE:
		out_put(o, "true", 4);
		return 0;
	case JSON_FALSE:
		out_put(o, "false", 5);
		return 0;
	case JSON_INTEGER: {
		char buf[32];
		int n = snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		out_put(o, buf, (size_t)n);
		return 0;
	}
	case JSON_REAL: {
		/* Rare: jansson's own formatting keeps the bytes identical. */
		char *s = json_dumps(j, JSON_ENCODE_ANY);
		if (!s)
			return -1;
		out_put(o, s, strlen(s));
		free(s);
		return 0;
	}
	case JSON_STRING:
		return dump_string(o, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		if (depth >= JSON_PARSER_MAX_DEPTH)
			return -2;
		size_t n = json_array_size(j);
		out_ch(o, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				out_ch(o, ',');
			int rc = dump(o, json_array_get(j, i), flags, depth + 1);
			if (rc)
				return rc;
		}
		out_ch(o, ']');
		return 0;
	}
	case JSON_OBJECT: {
		if (depth >= JSON_PARSER_MAX_DEPTH)
			return -2;
		/* jansson's iterators take a non-const object; nothing is changed. */
		json_t *obj = (json_t *)(uintptr_t)j;
		out_ch(o, '{');
		if ((flags & JSON_SORT_KEYS) && json_object_size(obj) > 1) {
			size_t n = json_object_size(obj), i = 0;
			struct key_len *keys = acs_xmalloc(n * sizeof *keys);
			for (void *it = json_object_iter(obj); it && i < n;
			     it = json_object_iter_next(obj, it)) {
				keys[i].key = json_object_iter_key(it);
				keys[i].len = json_object_iter_key_len(it);
				if (!skipped(o, depth, keys[i].key, keys[i].len))
					i++;
			}
			qsort(keys, i, sizeof *keys, key_cmp);
			int rc = 0;
			for (size_t k = 0; k < i && !rc; k++) {
				if (k)
					out_ch(o, ',');
				rc = dump_string(o, keys[k].key, keys[k].len);
				if (!rc) {
					out_ch(o, ':');
					rc = dump(o,
						  json_object_getn(obj, keys[k].key, keys[k].len),
						  flags, depth + 1);
				}
			}
			free(keys);
			if (rc)
				return rc;
		} else {
			bool first = true;
			for (void *it = json_object_iter(obj); it;
			     it = json_object_iter_next(obj, it)) {
				if (skipped(o, depth, json_object_iter_key(it),
					    json_object_iter_key_len(it)))
					continue;
				if (!first)
					out_ch(o, ',');
				first = false;
				int rc = dump_string(o, json_object_iter_key(it),
						     json_object_iter_key_len(it));
				if (rc)
					return rc;
				out_ch(o, ':');
				rc = dump(o, json_object_iter_value(it), flags, depth + 1);
				if (rc)
					return rc;
			}
		}
		out_ch(o, '}');
		return 0;
	}
	}
	return -1;
}

/* 0, -1 (jansson cannot write it either), -2 (deeper than we recurse), or
 * ACS_ETOOBIG; b is left as it was unless 0. */
static int append(struct acs_buf *b, const json_t *json, size_t flags, const char *skip)
{
	if (!(flags & JSON_ENCODE_ANY) && !json_is_object(json) && !json_is_array(json))
		return -1;
	size_t len = b->len;
	struct out o = { .b = b, .skip = skip, .skip_len = skip ? strlen(skip) : 0 };
	int rc = dump(&o, json, flags, 0);
	if (!rc)
		rc = o.err;
	if (rc && b->data) {
		b->len = len;
		b->data[len] = '\0';
	}
	return rc;
}

char *acs_json_dumps(const json_t *json, size_t flags)
{
	if (!json)
		return NULL;
	if ((flags & ~(size_t)DUMP_FLAGS) || !(flags & JSON_COMPACT))
		return json_dumps(json, flags);
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX);
	acs_buf_reserve(&b, 2048); /* most API bodies fit: one allocation */
	int rc = append(&b, json, flags, NULL);
	if (rc) {
		acs_buf_free(&b);
		/* Deeper than we recurse: jansson writes it or reports the cycle. */
		return rc == -2 ? json_dumps(json, flags) : NULL;
	}
	return acs_buf_steal(&b, NULL);
}

int acs_json_append(struct acs_buf *b, const json_t *json, size_t flags, const char *skip_key)
{
	if (!json || (flags & ~(size_t)DUMP_FLAGS) || !(flags & JSON_COMPACT))
		return -EINVAL;
	int rc = append(b, json, flags, skip_key);
	return rc == ACS_ETOOBIG ? rc : rc ? -EINVAL : 0;
}

int acs_json_append_string(struct acs_buf *b, const char *s, size_t len)
{
	size_t before = b->len;
	struct out o = { .b = b };
	int rc = dump_string(&o, s, len);
	if (!rc)
		rc = o.err;
	if (rc && b->data) {
		b->len = before;
		b->data[before] = '\0';
	}
	return rc == ACS_ETOOBIG ? rc : rc ? -EINVAL : 0;
}
