/* SPDX-License-Identifier: MIT */
/* HTML <-> Markdown conversion (see html_md.h for the canonical form). HTML is parsed by
 * libxml2 into a small document model, normalised, and written as canonical Markdown;
 * Markdown goes to HTML through md4c-html.
 *
 * DESIGN
 * The model is a tree of blocks (paragraph, heading, code, quote, list/item, table/row/
 * cell, rule). Paragraph-like blocks hold a flat array of runs (text, inline code, image,
 * hard break), each carrying a set of marks (strong, em, del, link+href) instead of an
 * inline tree: nesting order of marks then cannot differ between the two directions, and
 * normalisation (whitespace collapsing, moving spaces out of marks, merging) is a simple
 * pass over an array.
 *
 * The writer emits each inline sequence with the preferred delimiters and, when marks are
 * present, checks that md4c parses the result back to the same runs. If not (emphasis
 * flanking rules can refuse a delimiter next to punctuation), it retries with other
 * delimiters, then without emphasis, then as plain text. Because the choice depends only
 * on the model, and the accepted text parses back to that same model, the output is a
 * fixed point of html -> md -> html -> md.
 *
 * Recursion is bounded: the DOM walk stops at MAX_DOM_DEPTH and flattens deeper elements
 * to text iteratively; quotes and lists deeper than ACS_HTML_MD_MAX_NESTING become plain
 * paragraphs, which keeps md4c's output of canonical text well under the DOM limit. */
#include "html_md.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <md4c-html.h>

#include "err.h"
#include "mem.h"

/* Tables and ~~del~~ exist on both sides; raw HTML must never pass from ClickUp to ADO;
 * permissive autolinks stay off, otherwise a bare URL in ADO text would turn into a link on
 * the way back and the two sides would never agree. */
#define MD_PARSER_FLAGS (MD_FLAG_NOHTML | MD_FLAG_STRIKETHROUGH | MD_FLAG_TABLES)
#define HTML_PARSER_FLAGS \
	(HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING | HTML_PARSE_NONET | XML_PARSE_HUGE)
#define MAX_DOM_DEPTH (4 * ACS_HTML_MD_MAX_NESTING)
#define MAX_INTERNAL ((size_t)64 << 20) /* our own md4c output, and any output */
#define MAX_SEGS (2 * ACS_HTML_MD_MAX_NESTING + 8)

/* ---------------------------------------------------------------------------------------- */
/* Output buffer with a sticky error, so writers need not check every append. */

struct sbuf {
	struct acs_buf b;
	int rc;
};

static void sb_init(struct sbuf *s)
{
	acs_buf_init(&s->b, MAX_INTERNAL);
	s->rc = 0;
}

static void sb_put(struct sbuf *s, const char *p, size_t n)
{
	if (!s->rc)
		s->rc = acs_buf_append(&s->b, p, n);
}

static void sb_puts(struct sbuf *s, const char *p)
{
	sb_put(s, p, strlen(p));
}

static void sb_putc(struct sbuf *s, char c)
{
	sb_put(s, &c, 1);
}

static char sb_last(const struct sbuf *s)
{
	return s->b.len ? s->b.data[s->b.len - 1] : '\0';
}

/* True when the byte at pos is preceded by an even number of backslashes (not escaped). */
static bool unescaped_at(const char *p, size_t pos)
{
	size_t n = 0;
	while (n < pos && p[pos - 1 - n] == '\\')
		n++;
	return n % 2 == 0;
}

/* Insert a backslash before the last byte. */
static void sb_escape_last(struct sbuf *s)
{
	if (s->rc || !s->b.len)
		return;
	char c = s->b.data[s->b.len - 1];
	s->b.data[s->b.len - 1] = '\\';
	sb_putc(s, c);
}

/* ---------------------------------------------------------------------------------------- */
/* Input sanitising: valid UTF-8 only (invalid bytes, NUL and non-characters become U+FFFD),
 * "\r\n" and "\r" become "\n", other C0 controls except tab are dropped. Both parsers then
 * see the same text, and libxml2 has nothing to reject or reinterpret. */

static size_t utf8_seq(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned c = p[0];
	size_t len;
	unsigned min;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if ((c & 0xe0) == 0xc0) {
		len = 2, min = 0x80, c &= 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, min = 0x800, c &= 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, c &= 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

static char *sanitize(const char *in, size_t len, size_t *out_len)
{
	static const char repl[] = "\xef\xbf\xbd";
	const unsigned char *p = (const unsigned char *)in;
	char *out = acs_xmalloc(len * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		unsigned cp;
		size_t n = utf8_seq(p + i, len - i, &cp);
		if (n == 0 || cp == 0 || cp == 0xfffe || cp == 0xffff) {
			memcpy(out + o, repl, 3);
			o += 3;
			i += n ? n : 1;
			continue;
		}
		if (cp == '\r') {
			out[o++] = '\n';
			i += (i + 1 < len && p[i + 1] == '\n') ? 2 : 1;
			continue;
		}
		if (cp < 0x20 && cp != '\t' && cp != '\n') {
			i++;
			continue;
		}
		memcpy(out + o, p + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	*out_len = o;
	return out;
}

/* ---------------------------------------------------------------------------------------- */
/* URLs. Hrefs are kept in the form md4c writes them: bytes outside its unescaped set are
 * percent-encoded, so an href survives md -> html -> md byte for byte. */

static bool url_safe_byte(unsigned char c)
{
	return isalnum(c) || (c && strchr("-_.+!*(),%#@?=;:/$&", c));
}

static char *canon_url(const char *raw)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t b = 0, e = strlen(raw);
	while (b < e && isspace((unsigned char)raw[b]))
		b++;
	while (e > b && isspace((unsigned char)raw[e - 1]))
		e--;
	char *out = acs_xmalloc((e - b) * 3 + 1);
	size_t o = 0;
	for (size_t i = b; i < e; i++) {
		unsigned char c = (unsigned char)raw[i];
		if (url_safe_byte(c)) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}

/* Browsers ignore ASCII whitespace and controls inside a scheme ("java\tscript:"). */
static bool url_dangerous(const char *raw)
{
	static const char *const bad[] = { "javascript:", "vbscript:", "data:" };
	char head[16];
	size_t n = 0;
	for (const char *p = raw; *p && n < sizeof(head) - 1; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7f)
			continue;
		head[n++] = (char)tolower(c);
	}
	head[n] = '\0';
	for (size_t i = 0; i < ACS_ARRAY_SIZE(bad); i++)
		if (!strncmp(head, bad[i], strlen(bad[i])))
			return true;
	return false;
}

/* "&name;" / "&#123;" / "&#x1f;": an '&' that md4c would decode as an entity. */
static bool entity_like(const char *p, size_t n)
{
	size_t i = 1;
	while (i < n && (isalnum((unsigned char)p[i]) || (i == 1 && p[i] == '#')))
		i++;
	return i > 1 && i < n && p[i] == ';';
}

/* ---------------------------------------------------------------------------------------- */
/* Model. */

enum run_type {
	R_TEXT,
	R_CODE,
	R_IMG,
	R_BR
};

enum {
	M_STRONG = 1u,
	M_EM = 2u,
	M_DEL = 4u,
	M_LINK = 8u,
	M_EMPH = M_STRONG | M_EM | M_DEL,
};

struct run {
	enum run_type type;
	unsigned marks;
	char *href; /**< link target when marks has M_LINK, canonical form */
	char *text; /**< text, code or image alt (never NULL) */
	size_t len; /**< bytes in text */
	char *src;  /**< image source, canonical form */
};

struct inl {
	struct run *v;
	size_t n, cap;
};

enum blk_type {
	B_ROOT,
	B_PARA,
	B_HEADING,
	B_CODE,
	B_QUOTE,
	B_LIST,
	B_ITEM,
	B_HR,
	B_TABLE,
	B_ROW,
	B_CELL
};

struct blk {
	enum blk_type type;
	int level;	   /**< heading level; list: 1 if ordered; cell: alignment */
	long start;	   /**< ordered list start */
	struct inl inl;	   /**< paragraph, heading and cell content */
	char *text;	   /**< code block content */
	char *lang;	   /**< code block language or NULL */
	struct blk *first; /**< children (blocks, items, rows, cells) */
	struct blk *last;
	struct blk *next; /**< sibling in the parent's children */
};

enum {
	ALIGN_NONE,
	ALIGN_LEFT,
	ALIGN_CENTER,
	ALIGN_RIGHT
};

static void run_free(struct run *r)
{
	free(r->href);
	free(r->text);
	free(r->src);
}

static void inl_free(struct inl *in)
{
	for (size_t i = 0; i < in->n; i++)
		run_free(&in->v[i]);
	free(in->v);
	in->v = NULL;
	in->n = in->cap = 0;
}

/* Takes ownership of the run's strings. */
static void inl_push(struct inl *in, struct run r)
{
	if (in->n == in->cap) {
		in->cap = in->cap ? in->cap * 2 : 8;
		in->v = acs_xrealloc(in->v, in->cap * sizeof(*in->v));
	}
	in->v[in->n++] = r;
}

static struct run run_make(enum run_type t, unsigned marks, const char *href, const char *s,
			   size_t n)
{
	struct run r = { .type = t, .marks = marks };
	r.href = (marks & M_LINK) ? acs_xstrdup(href) : NULL;
	r.text = acs_xstrndup(s ? s : "", n);
	r.len = strlen(r.text);
	return r;
}

static bool same_link(const struct run *a, const struct run *b)
{
	return !(a->marks & M_LINK) || !strcmp(a->href, b->href);
}

static bool same_marks(const struct run *a, const struct run *b)
{
	return a->marks == b->marks && same_link(a, b);
}

static void text_append(struct run *r, const char *s, size_t n)
{
	r->text = acs_xrealloc(r->text, r->len + n + 1);
	memcpy(r->text + r->len, s, n);
	r->len += n;
	r->text[r->len] = '\0';
}

static struct blk *blk_new(enum blk_type t)
{
	struct blk *b = acs_xcalloc(1, sizeof(*b));
	b->type = t;
	return b;
}

static void blk_append(struct blk *parent, struct blk *b)
{
	if (parent->last)
		parent->last->next = b;
	else
		parent->first = b;
	parent->last = b;
}

/* Recursion is bounded by the model depth (ACS_HTML_MD_MAX_NESTING levels). */
static void blk_free(struct blk *b)
{
	while (b) {
		struct blk *next = b->next;
		blk_free(b->first);
		inl_free(&b->inl);
		free(b->text);
		free(b->lang);
		free(b);
		b = next;
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Building the model from the libxml2 tree. */

enum tag_kind {
	K_INLINE,
	K_DROP,
	K_BLOCK,
	K_HEADING,
	K_QUOTE,
	K_UL,
	K_OL,
	K_LI,
	K_PRE,
	K_HR,
	K_TABLE,
	K_BR,
	K_STRONG,
	K_EM,
	K_DEL,
	K_CODE,
	K_A,
	K_IMG,
	K_SPAN
};

static const struct {
	const char *name;
	unsigned char kind;
	unsigned char level;
} tags[] = {
	{ "a", K_A, 0 },
	{ "address", K_BLOCK, 0 },
	{ "article", K_BLOCK, 0 },
	{ "aside", K_BLOCK, 0 },
	{ "audio", K_DROP, 0 },
	{ "b", K_STRONG, 0 },
	{ "blockquote", K_QUOTE, 0 },
	{ "body", K_BLOCK, 0 },
	{ "br", K_BR, 0 },
	{ "button", K_INLINE, 0 },
	{ "canvas", K_DROP, 0 },
	{ "caption", K_BLOCK, 0 },
	{ "center", K_BLOCK, 0 },
	{ "code", K_CODE, 0 },
	{ "dd", K_BLOCK, 0 },
	{ "del", K_DEL, 0 },
	{ "details", K_BLOCK, 0 },
	{ "dialog", K_BLOCK, 0 },
	{ "dir", K_UL, 0 },
	{ "div", K_BLOCK, 0 },
	{ "dl", K_BLOCK, 0 },
	{ "dt", K_BLOCK, 0 },
	{ "em", K_EM, 0 },
	{ "embed", K_DROP, 0 },
	{ "fieldset", K_BLOCK, 0 },
	{ "figcaption", K_BLOCK, 0 },
	{ "figure", K_BLOCK, 0 },
	{ "font", K_SPAN, 0 },
	{ "footer", K_BLOCK, 0 },
	{ "form", K_BLOCK, 0 },
	{ "h1", K_HEADING, 1 },
	{ "h2", K_HEADING, 2 },
	{ "h3", K_HEADING, 3 },
	{ "h4", K_HEADING, 4 },
	{ "h5", K_HEADING, 5 },
	{ "h6", K_HEADING, 6 },
	{ "head", K_DROP, 0 },
	{ "header", K_BLOCK, 0 },
	{ "hr", K_HR, 0 },
	{ "html", K_BLOCK, 0 },
	{ "i", K_EM, 0 },
	{ "iframe", K_DROP, 0 },
	{ "img", K_IMG, 0 },
	{ "kbd", K_CODE, 0 },
	{ "li", K_LI, 0 },
	{ "listing", K_PRE, 0 },
	{ "main", K_BLOCK, 0 },
	{ "math", K_DROP, 0 },
	{ "menu", K_UL, 0 },
	{ "nav", K_BLOCK, 0 },
	{ "noscript", K_DROP, 0 },
	{ "object", K_DROP, 0 },
	{ "ol", K_OL, 0 },
	{ "p", K_BLOCK, 0 },
	{ "plaintext", K_PRE, 0 },
	{ "pre", K_PRE, 0 },
	{ "s", K_DEL, 0 },
	{ "samp", K_CODE, 0 },
	{ "script", K_DROP, 0 },
	{ "section", K_BLOCK, 0 },
	{ "span", K_SPAN, 0 },
	{ "strike", K_DEL, 0 },
	{ "strong", K_STRONG, 0 },
	{ "style", K_DROP, 0 },
	{ "summary", K_BLOCK, 0 },
	{ "svg", K_DROP, 0 },
	{ "table", K_TABLE, 0 },
	{ "tbody", K_BLOCK, 0 },
	{ "td", K_BLOCK, 0 },
	{ "template", K_DROP, 0 },
	{ "tfoot", K_BLOCK, 0 },
	{ "th", K_BLOCK, 0 },
	{ "thead", K_BLOCK, 0 },
	{ "title", K_DROP, 0 },
	{ "tr", K_BLOCK, 0 },
	{ "tt", K_CODE, 0 },
	{ "ul", K_UL, 0 },
	{ "video", K_DROP, 0 },
	{ "xmp", K_PRE, 0 },
};

static enum tag_kind tag_kind(const xmlNode *n, int *level)
{
	const char *name = (const char *)n->name;
	*level = 0;
	if (!name)
		return K_INLINE;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(tags); i++) {
		if (!strcmp(tags[i].name, name)) {
			*level = tags[i].level;
			return (enum tag_kind)tags[i].kind;
		}
	}
	return K_INLINE; /* unknown tags degrade to their content */
}

static bool is_block_kind(enum tag_kind k)
{
	return k != K_INLINE && k != K_STRONG && k != K_EM && k != K_DEL && k != K_CODE &&
	       k != K_A && k != K_IMG && k != K_SPAN && k != K_DROP;
}

static bool is_element(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && n->name && !strcmp((const char *)n->name, name);
}

static char *get_attr(const xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	if (!v)
		return NULL;
	char *s = acs_xstrdup((const char *)v);
	xmlFree(v);
	return s;
}

enum text_mode {
	TM_PRE,
	TM_FLAT
};

/* Text content of n's subtree without recursion. TM_PRE keeps whitespace and turns <br>
 * into a newline (code); TM_FLAT separates blocks with spaces (too-deep content). */
static bool leaves_space(const xmlNode *n)
{
	int lvl;
	return n->type == XML_ELEMENT_NODE && is_block_kind(tag_kind(n, &lvl));
}

static void collect_text(const xmlNode *root, struct sbuf *out, enum text_mode mode)
{
	const xmlNode *c = root->children;
	while (c) {
		bool descend = false;
		if (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE) {
			if (c->content)
				sb_puts(out, (const char *)c->content);
		} else if (c->type == XML_ELEMENT_NODE) {
			int lvl;
			enum tag_kind k = tag_kind(c, &lvl);
			if (k == K_BR)
				sb_putc(out, mode == TM_PRE ? '\n' : ' ');
			else if (k != K_DROP)
				descend = c->children != NULL;
			if (k != K_DROP && k != K_BR && mode == TM_FLAT && is_block_kind(k))
				sb_putc(out, ' ');
		}
		if (descend) {
			c = c->children;
			continue;
		}
		/* Leave c, and every ancestor whose last child it was. */
		for (;;) {
			if (mode == TM_FLAT && leaves_space(c))
				sb_putc(out, ' ');
			if (c->next) {
				c = c->next;
				break;
			}
			c = c->parent;
			if (!c || c == root)
				return;
		}
	}
}

struct box {
	struct blk *container; /**< receives blocks (flow mode) */
	struct blk *para;      /**< paragraph being filled, or NULL */
	struct inl *only;      /**< inline-only target (heading, cell), or NULL */
};

struct flow {
	struct box *box;
	unsigned marks;
	const char *href; /**< canonical link target when marks has M_LINK */
	int mdepth;	  /**< quote and list nesting so far */
};

static struct inl *flow_inl(struct flow *f)
{
	struct box *b = f->box;
	if (b->only)
		return b->only;
	if (!b->para) {
		b->para = blk_new(B_PARA);
		blk_append(b->container, b->para);
	}
	return &b->para->inl;
}

static void add_text(struct flow *f, const char *s, size_t n)
{
	if (!n)
		return;
	struct inl *in = flow_inl(f);
	if (in->n) {
		struct run *last = &in->v[in->n - 1];
		struct run probe = { .marks = f->marks, .href = (char *)f->href };
		if (last->type == R_TEXT && same_marks(last, &probe)) {
			text_append(last, s, n);
			return;
		}
	}
	inl_push(in, run_make(R_TEXT, f->marks, f->href, s, n));
}

static void add_code(struct flow *f, const char *s, size_t n)
{
	inl_push(flow_inl(f), run_make(R_CODE, f->marks, f->href, s, n));
}

static void end_para(struct flow *f)
{
	f->box->para = NULL;
}

/* Trimmed, lower-cased copy of s[0..n). */
static char *css_token(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	char *t = acs_xstrndup(s, n);
	for (char *p = t; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return t;
}

/* ADO wraps formatting in <span style="font-weight: bold">... */
static unsigned style_marks(const xmlNode *n)
{
	char *style = get_attr(n, "style");
	unsigned m = 0;
	if (!style)
		return 0;
	for (const char *decl = style; *decl;) {
		const char *end = strchr(decl, ';');
		size_t dlen = end ? (size_t)(end - decl) : strlen(decl);
		const char *colon = memchr(decl, ':', dlen);
		if (colon) {
			char *key = css_token(decl, (size_t)(colon - decl));
			char *val = css_token(colon + 1, dlen - (size_t)(colon - decl) - 1);
			if (!strcmp(key, "font-weight") &&
			    (!strncmp(val, "bold", 4) ||
			     (val[0] >= '6' && val[0] <= '9' && val[1] == '0')))
				m |= M_STRONG;
			else if (!strcmp(key, "font-style") &&
				 (!strncmp(val, "italic", 6) || !strncmp(val, "oblique", 7)))
				m |= M_EM;
			else if ((!strcmp(key, "text-decoration") || !strcmp(key, "text-decoration-"
										  "line")) &&
				 strstr(val, "line-through"))
				m |= M_DEL;
			free(key);
			free(val);
		}
		decl += dlen;
		if (*decl)
			decl++;
	}
	free(style);
	return m;
}

static int align_of(const xmlNode *n)
{
	char *a = get_attr(n, "align");
	int r = ALIGN_NONE;
	if (a) {
		if (!strcasecmp(a, "left"))
			r = ALIGN_LEFT;
		else if (!strcasecmp(a, "center"))
			r = ALIGN_CENTER;
		else if (!strcasecmp(a, "right"))
			r = ALIGN_RIGHT;
		free(a);
	}
	return r;
}

static void walk_node(struct flow *f, const xmlNode *n, int depth);

static void walk_children(struct flow *f, const xmlNode *n, int depth)
{
	for (const xmlNode *c = n->children; c; c = c->next)
		walk_node(f, c, depth + 1);
}

static void walk_generic_block(struct flow *f, const xmlNode *n, int depth)
{
	if (f->box->only) {
		add_text(f, " ", 1);
		walk_children(f, n, depth);
		add_text(f, " ", 1);
		return;
	}
	end_para(f);
	walk_children(f, n, depth);
	end_para(f);
}

/* Walk n's children into a fresh box appending to container (quote, list item). */
static void walk_into(struct flow *f, const xmlNode *first_child, struct blk *container, int depth,
		      bool single)
{
	struct box box = { .container = container };
	struct flow sub = {
		.box = &box, .marks = f->marks, .href = f->href, .mdepth = f->mdepth + 1
	};
	for (const xmlNode *c = first_child; c; c = c->next) {
		walk_node(&sub, c, depth + 1);
		if (single)
			break;
	}
}

static void walk_list(struct flow *f, const xmlNode *n, int depth, bool ordered)
{
	end_para(f);
	struct blk *list = blk_new(B_LIST);
	list->level = ordered;
	list->start = 1;
	if (ordered) {
		char *s = get_attr(n, "start");
		if (s) {
			char *end;
			long v = strtol(s, &end, 10);
			list->start = end == s ? 1 : v < 0 ? 0 : v > 99999999 ? 99999999 : v;
			free(s);
		}
	}
	blk_append(f->box->container, list);
	struct blk *item = NULL;
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (is_element(c, "li")) {
			item = blk_new(B_ITEM);
			blk_append(list, item);
			walk_into(f, c->children, item, depth + 1, false);
			continue;
		}
		if (c->type != XML_ELEMENT_NODE && c->type != XML_TEXT_NODE &&
		    c->type != XML_CDATA_SECTION_NODE)
			continue;
		if (c->type != XML_ELEMENT_NODE) {
			const char *t = (const char *)c->content;
			while (t && *t && isspace((unsigned char)*t))
				t++;
			if (!t || !*t)
				continue;
		}
		/* ADO nests <ul> directly in <ul>: it belongs to the previous item. */
		if (!item) {
			item = blk_new(B_ITEM);
			blk_append(list, item);
		}
		walk_into(f, c, item, depth, true);
	}
	end_para(f);
}

static void walk_row(struct flow *f, const xmlNode *tr, struct blk *table, int depth)
{
	struct blk *row = blk_new(B_ROW);
	blk_append(table, row);
	for (const xmlNode *c = tr->children; c; c = c->next) {
		if (!is_element(c, "td") && !is_element(c, "th"))
			continue;
		struct blk *cell = blk_new(B_CELL);
		cell->level = align_of(c);
		blk_append(row, cell);
		struct box box = { .only = &cell->inl };
		struct flow sub = {
			.box = &box, .marks = f->marks, .href = f->href, .mdepth = f->mdepth
		};
		walk_children(&sub, c, depth + 1);
	}
}

static void walk_table(struct flow *f, const xmlNode *n, int depth)
{
	end_para(f);
	struct blk *table = blk_new(B_TABLE);
	for (const xmlNode *c = n->children; c; c = c->next) {
		if (is_element(c, "tr")) {
			walk_row(f, c, table, depth + 1);
		} else if (is_element(c, "thead") || is_element(c, "tbody") ||
			   is_element(c, "tfoot")) {
			for (const xmlNode *r = c->children; r; r = r->next)
				if (is_element(r, "tr"))
					walk_row(f, r, table, depth + 2);
		} else if (is_element(c, "caption")) {
			walk_generic_block(f, c, depth + 1);
		}
	}
	blk_append(f->box->container, table);
	end_para(f);
}

static char *code_lang(const xmlNode *pre)
{
	for (const xmlNode *c = pre->children; c; c = c->next) {
		if (!is_element(c, "code"))
			continue;
		char *cls = get_attr(c, "class");
		char *lang = NULL;
		if (cls && !strncmp(cls, "language-", 9)) {
			const char *l = cls + 9;
			size_t n = 0;
			while (l[n] && (isalnum((unsigned char)l[n]) || strchr("_.+#-", l[n])))
				n++;
			if (n && n <= 32 && !l[n])
				lang = acs_xstrndup(l, n);
		}
		free(cls);
		return lang;
	}
	return NULL;
}

static void walk_element(struct flow *f, const xmlNode *n, int depth)
{
	int level;
	enum tag_kind k = tag_kind(n, &level);
	bool only = f->box->only != NULL;
	struct flow sub = *f;

	if (depth > MAX_DOM_DEPTH && k != K_DROP) {
		struct sbuf t;
		sb_init(&t);
		collect_text(n, &t, TM_FLAT);
		if (!t.rc && t.b.len)
			add_text(f, t.b.data, t.b.len);
		acs_buf_free(&t.b);
		return;
	}
	if (only && (k == K_HEADING || k == K_QUOTE || k == K_UL || k == K_OL || k == K_LI ||
		     k == K_HR || k == K_TABLE))
		k = K_BLOCK;
	if ((k == K_QUOTE || k == K_UL || k == K_OL) && f->mdepth >= ACS_HTML_MD_MAX_NESTING)
		k = K_BLOCK;

	switch (k) {
	case K_DROP:
		return;
	case K_INLINE:
		walk_children(f, n, depth);
		return;
	case K_SPAN:
		sub.marks |= style_marks(n);
		walk_children(&sub, n, depth);
		return;
	case K_STRONG:
		sub.marks |= M_STRONG;
		walk_children(&sub, n, depth);
		return;
	case K_EM:
		sub.marks |= M_EM;
		walk_children(&sub, n, depth);
		return;
	case K_DEL:
		sub.marks |= M_DEL;
		walk_children(&sub, n, depth);
		return;
	case K_BR:
		if (only)
			add_text(f, " ", 1);
		else
			inl_push(flow_inl(f), run_make(R_BR, 0, NULL, "", 0));
		return;
	case K_CODE:
	case K_PRE: {
		struct sbuf t;
		sb_init(&t);
		collect_text(n, &t, TM_PRE);
		if (t.rc) {
			acs_buf_free(&t.b);
			return;
		}
		if (k == K_CODE || only) {
			if (t.b.len)
				add_code(f, t.b.data, t.b.len);
		} else {
			end_para(f);
			struct blk *b = blk_new(B_CODE);
			b->text = acs_buf_steal(&t.b, NULL);
			b->lang = code_lang(n);
			blk_append(f->box->container, b);
		}
		acs_buf_free(&t.b);
		return;
	}
	case K_A: {
		char *raw = get_attr(n, "href");
		char *href = NULL;
		if (raw && !(f->marks & M_LINK) && !url_dangerous(raw)) {
			href = canon_url(raw);
			if (!href[0] || href[0] == '#') { /* in-page anchors and ADO @mentions */
				free(href);
				href = NULL;
			}
		}
		free(raw);
		if (href) {
			sub.marks |= M_LINK;
			sub.href = href;
		}
		walk_children(&sub, n, depth);
		free(href);
		return;
	}
	case K_IMG: {
		char *src = get_attr(n, "src");
		char *alt = get_attr(n, "alt");
		char *csrc = src && !url_dangerous(src) ? canon_url(src) : NULL;
		if (csrc && csrc[0] && csrc[0] != '#') {
			size_t alen = alt ? strlen(alt) : 0;
			struct run r = run_make(R_IMG, f->marks, f->href, alt, alen);
			r.src = csrc;
			csrc = NULL;
			inl_push(flow_inl(f), r);
		} else if (alt) {
			add_text(f, alt, strlen(alt));
		}
		free(csrc);
		free(src);
		free(alt);
		return;
	}
	case K_HEADING: {
		end_para(f);
		struct blk *h = blk_new(B_HEADING);
		h->level = level;
		blk_append(f->box->container, h);
		struct box box = { .only = &h->inl };
		sub.box = &box;
		walk_children(&sub, n, depth);
		return;
	}
	case K_QUOTE: {
		end_para(f);
		struct blk *q = blk_new(B_QUOTE);
		blk_append(f->box->container, q);
		walk_into(f, n->children, q, depth, false);
		return;
	}
	case K_UL:
	case K_OL:
		walk_list(f, n, depth, k == K_OL);
		return;
	case K_HR:
		end_para(f);
		blk_append(f->box->container, blk_new(B_HR));
		return;
	case K_TABLE:
		walk_table(f, n, depth);
		return;
	case K_LI:
	case K_BLOCK:
		walk_generic_block(f, n, depth);
		return;
	}
}

static void walk_node(struct flow *f, const xmlNode *n, int depth)
{
	switch (n->type) {
	case XML_TEXT_NODE:
	case XML_CDATA_SECTION_NODE:
		if (n->content)
			add_text(f, (const char *)n->content, strlen((const char *)n->content));
		break;
	case XML_ELEMENT_NODE:
		walk_element(f, n, depth);
		break;
	default:
		break; /* comments, processing instructions */
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Normalisation. */

/* Whitespace as the browser sees it: \t \n \f \v and U+00A0 are spaces. */
static void spaces_to_blank(struct run *r)
{
	size_t o = 0;
	for (size_t i = 0; i < r->len; i++) {
		unsigned char c = (unsigned char)r->text[i];
		if (c == 0xc2 && i + 1 < r->len && (unsigned char)r->text[i + 1] == 0xa0) {
			r->text[o++] = ' ';
			i++;
		} else {
			bool ws = c == '\t' || c == '\n' || c == '\f' || c == '\v';
			r->text[o++] = ws ? ' ' : (char)c;
		}
	}
	r->len = o;
	r->text[o] = '\0';
}

static void trim_back(struct inl *in, size_t end)
{
	for (size_t j = end; j-- > 0;) {
		struct run *r = &in->v[j];
		if (r->type != R_TEXT)
			return;
		while (r->len && r->text[r->len - 1] == ' ')
			r->text[--r->len] = '\0';
		if (r->len)
			return;
	}
}

static void inl_remove(struct inl *in, size_t i)
{
	run_free(&in->v[i]);
	memmove(&in->v[i], &in->v[i + 1], (in->n - i - 1) * sizeof(*in->v));
	in->n--;
}

static void inl_insert(struct inl *in, size_t i, struct run r)
{
	inl_push(in, r);
	memmove(&in->v[i + 1], &in->v[i], (in->n - 1 - i) * sizeof(*in->v));
	in->v[i] = r;
}

static void merge_texts(struct inl *in)
{
	size_t o = 0;
	for (size_t i = 0; i < in->n; i++) {
		struct run *r = &in->v[i];
		if (r->type == R_TEXT && !r->len) {
			run_free(r);
			continue;
		}
		/* Adjacent code spans would read back as one: merge them too. */
		if (o && (r->type == R_TEXT || r->type == R_CODE) && in->v[o - 1].type == r->type &&
		    same_marks(&in->v[o - 1], r)) {
			text_append(&in->v[o - 1], r->text, r->len);
			run_free(r);
			continue;
		}
		in->v[o++] = *r;
	}
	in->n = o;
}

/* The marks of a shared with b (links only when the targets agree). */
static unsigned shared_marks(const struct run *a, const struct run *b)
{
	if (!b || b->type == R_BR)
		return 0;
	unsigned m = a->marks & b->marks;
	if ((m & M_LINK) && strcmp(a->href, b->href))
		m &= ~M_LINK;
	return m;
}

static struct run space_run(const struct run *r, unsigned marks)
{
	return run_make(R_TEXT, marks, r->href, " ", 1);
}

/* A space at the edge of a mark moves outside it: "** a**" would not parse as strong. */
static void hoist_spaces(struct inl *in)
{
	for (size_t i = 0; i < in->n; i++) {
		struct run *r = &in->v[i];
		if (r->type != R_TEXT || !r->marks || !r->len)
			continue;
		if (r->text[0] == ' ') {
			unsigned m = shared_marks(r, i ? &in->v[i - 1] : NULL);
			if (m != r->marks) {
				memmove(r->text, r->text + 1, r->len--);
				inl_insert(in, i, space_run(r, m));
				i++;
				r = &in->v[i];
			}
		}
		if (r->len && r->text[r->len - 1] == ' ') {
			unsigned m = shared_marks(r, i + 1 < in->n ? &in->v[i + 1] : NULL);
			if (m != r->marks) {
				r->text[--r->len] = '\0';
				inl_insert(in, i + 1, space_run(r, m));
				i++;
			}
		}
	}
}

enum inl_ctx {
	CTX_PARA,
	CTX_HEADING,
	CTX_CELL
};

static void collapse_ws(char *s, size_t *len)
{
	size_t o = 0;
	for (size_t i = 0; i < *len; i++) {
		char c = s[i];
		if (c == ' ' && (o == 0 || s[o - 1] == ' '))
			continue;
		s[o++] = c;
	}
	while (o && s[o - 1] == ' ')
		o--;
	s[o] = '\0';
	*len = o;
}

static void finalize_inl(struct inl *in, enum inl_ctx ctx)
{
	for (size_t i = 0; i < in->n; i++) {
		struct run *r = &in->v[i];
		if (r->type == R_TEXT || r->type == R_IMG)
			spaces_to_blank(r);
		if (r->type == R_IMG)
			collapse_ws(r->text, &r->len);
		if (r->type == R_CODE) {
			/* Markdown code spans cannot hold a line break. */
			for (size_t j = 0; j < r->len; j++)
				if (r->text[j] == '\n')
					r->text[j] = ' ';
			/* md4c cannot keep a pipe inside a code span in a table cell. */
			if (ctx == CTX_CELL && memchr(r->text, '|', r->len))
				r->type = R_TEXT, spaces_to_blank(r);
		}
		if (r->type == R_BR && ctx != CTX_PARA) {
			r->type = R_TEXT;
			text_append(r, " ", 1);
		}
		if (r->type == R_BR) {
			r->marks = 0;
			free(r->href);
			r->href = NULL;
		}
	}
	/* Collapse runs of spaces across runs, trim around line breaks and at the ends. */
	bool prev_space = true;
	for (size_t i = 0; i < in->n; i++) {
		struct run *r = &in->v[i];
		if (r->type == R_BR) {
			trim_back(in, i);
			prev_space = true;
			continue;
		}
		if (r->type != R_TEXT) {
			prev_space = false;
			continue;
		}
		size_t o = 0;
		for (size_t j = 0; j < r->len; j++) {
			if (r->text[j] == ' ' && prev_space)
				continue;
			prev_space = r->text[j] == ' ';
			r->text[o++] = r->text[j];
		}
		r->len = o;
		r->text[o] = '\0';
	}
	trim_back(in, in->n);
	merge_texts(in);
	/* Leading and trailing breaks carry nothing. */
	while (in->n && in->v[0].type == R_BR)
		inl_remove(in, 0);
	while (in->n && in->v[in->n - 1].type == R_BR)
		inl_remove(in, in->n - 1);
	hoist_spaces(in);
	merge_texts(in);
}

static void finalize_code(struct blk *b)
{
	struct sbuf o;
	sb_init(&o);
	size_t col = 0;
	for (const char *p = b->text; *p; p++) {
		if (*p == '\t') {
			size_t n = 4 - col % 4;
			sb_put(&o, "    ", n);
			col += n;
			continue;
		}
		sb_putc(&o, *p);
		col = *p == '\n' ? 0 : col + 1;
	}
	free(b->text);
	if (o.rc) {
		acs_buf_free(&o.b);
		b->text = acs_xstrdup("");
		return;
	}
	char *s = acs_buf_steal(&o.b, NULL);
	size_t start = 0, end = strlen(s);
	while (start < end && s[start] == '\n')
		start++;
	while (end > start && s[end - 1] == '\n')
		end--;
	b->text = acs_xstrndup(s + start, end - start);
	free(s);
}

static bool blk_empty(const struct blk *b)
{
	switch (b->type) {
	case B_PARA:
	case B_HEADING:
		return b->inl.n == 0;
	case B_CODE:
		return !b->text[0];
	case B_QUOTE:
	case B_LIST:
	case B_ITEM:
	case B_TABLE:
		return b->first == NULL;
	default:
		return false;
	}
}

static void normalize_container(struct blk *c);

/* Split a paragraph at double line breaks: Markdown has no empty line inside a paragraph. */
static void split_para(struct blk *p)
{
	for (size_t i = 0; i + 1 < p->inl.n; i++) {
		if (p->inl.v[i].type != R_BR || p->inl.v[i + 1].type != R_BR)
			continue;
		size_t j = i;
		while (j < p->inl.n && p->inl.v[j].type == R_BR)
			j++;
		struct blk *q = blk_new(B_PARA);
		for (size_t k = j; k < p->inl.n; k++)
			inl_push(&q->inl, p->inl.v[k]);
		for (size_t k = i; k < j; k++)
			run_free(&p->inl.v[k]);
		p->inl.n = i;
		q->next = p->next;
		p->next = q;
		return; /* the caller visits q next and splits it further */
	}
}

static void normalize_blk(struct blk *b)
{
	switch (b->type) {
	case B_PARA:
		finalize_inl(&b->inl, CTX_PARA);
		split_para(b);
		break;
	case B_HEADING:
		finalize_inl(&b->inl, CTX_HEADING);
		break;
	case B_CODE:
		finalize_code(b);
		break;
	case B_QUOTE:
	case B_ITEM:
		normalize_container(b);
		break;
	case B_LIST: {
		struct blk **pp = &b->first;
		b->last = NULL;
		while (*pp) {
			struct blk *it = *pp;
			normalize_container(it);
			if (!it->first) {
				*pp = it->next;
				it->next = NULL;
				blk_free(it);
				continue;
			}
			b->last = it;
			pp = &it->next;
		}
		break;
	}
	case B_TABLE: {
		bool any = false;
		for (struct blk *r = b->first; r; r = r->next)
			for (struct blk *c = r->first; c; c = c->next) {
				finalize_inl(&c->inl, CTX_CELL);
				any = true;
			}
		if (!any) {
			blk_free(b->first);
			b->first = b->last = NULL;
		}
		break;
	}
	default:
		break;
	}
}

static void normalize_container(struct blk *c)
{
	struct blk **pp = &c->first;
	struct blk *prev = NULL;
	while (*pp) {
		struct blk *b = *pp;
		normalize_blk(b);
		if (blk_empty(b)) {
			*pp = b->next;
			b->next = NULL;
			blk_free(b);
			continue;
		}
		/* Adjacent lists of one kind cannot be told apart in Markdown: merge them. */
		if (prev && prev->type == B_LIST && b->type == B_LIST && prev->level == b->level) {
			prev->last->next = b->first;
			prev->last = b->last;
			*pp = b->next;
			b->first = b->last = NULL;
			b->next = NULL;
			blk_free(b);
			continue;
		}
		prev = b;
		pp = &b->next;
	}
	c->last = prev;
	/* md4c 0.4.8 mis-nests what follows a list item whose first line is a heading or a
	 * rule, so canonical items start with neither: the heading becomes a paragraph. */
	while (c->type == B_ITEM && c->first && c->first->type == B_HR) {
		struct blk *hr = c->first;
		c->first = hr->next;
		hr->next = NULL;
		blk_free(hr);
		if (!c->first)
			c->last = NULL;
	}
	if (c->type == B_ITEM && c->first && c->first->type == B_HEADING)
		c->first->type = B_PARA;
}

/* Parse HTML (already sanitised) into a normalised model; never NULL. */
static struct blk *html_to_model(const char *html, size_t len)
{
	struct blk *root = blk_new(B_ROOT);
	if (!len)
		return root;
	htmlDocPtr doc = htmlReadMemory(html, (int)len, NULL, "UTF-8", HTML_PARSER_FLAGS);
	if (!doc)
		return root;
	xmlNode *top = xmlDocGetRootElement(doc);
	if (top) {
		struct box box = { .container = root };
		struct flow f = { .box = &box };
		walk_node(&f, top, 0);
	}
	xmlFreeDoc(doc);
	normalize_container(root);
	return root;
}

/* ---------------------------------------------------------------------------------------- */
/* Markdown -> HTML. */

static void md_out(const MD_CHAR *text, MD_SIZE size, void *arg)
{
	sb_put(arg, text, size);
}

/* md4c has no URL filter: neutralise javascript:/vbscript:/data: targets in its output.
 * Text is HTML-escaped by md4c, so a literal href=" or src=" can only be an attribute. */
static void neutralise_urls(struct sbuf *h)
{
	static const char *const attrs[] = { " href=\"", " src=\"" };
	for (size_t a = 0; a < ACS_ARRAY_SIZE(attrs); a++) {
		size_t alen = strlen(attrs[a]);
		size_t pos = 0;
		for (;;) {
			char *d = h->b.data;
			char *hit = d ? memmem(d + pos, h->b.len - pos, attrs[a], alen) : NULL;
			if (!hit)
				break;
			size_t vstart = (size_t)(hit - h->b.data) + alen;
			char *q = memchr(h->b.data + vstart, '"', h->b.len - vstart);
			if (!q)
				break;
			size_t vend = (size_t)(q - h->b.data);
			char save = h->b.data[vend];
			h->b.data[vend] = '\0';
			bool bad = url_dangerous(h->b.data + vstart);
			h->b.data[vend] = save;
			if (bad) {
				h->b.data[vstart] = '#';
				memmove(d + vstart + 1, d + vend, h->b.len - vend + 1);
				h->b.len -= vend - vstart - 1;
			}
			pos = vstart + 1;
		}
	}
}

static int md_to_html_impl(const char *md, size_t len, struct sbuf *h)
{
	if (md_html(md, (MD_SIZE)len, md_out, h, MD_PARSER_FLAGS, 0) != 0)
		return h->rc ? h->rc : ACS_EPARSE;
	if (h->rc)
		return h->rc;
	neutralise_urls(h);
	return 0;
}

/* ---------------------------------------------------------------------------------------- */
/* Model -> canonical Markdown. */

static bool runs_equal(const struct inl *a, const struct inl *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const struct run *x = &a->v[i], *y = &b->v[i];
		if (x->type != y->type || !same_marks(x, y) || x->len != y->len ||
		    memcmp(x->text, y->text, x->len))
			return false;
		if (x->type == R_IMG && strcmp(x->src, y->src))
			return false;
	}
	return true;
}

static void inl_copy(struct inl *dst, const struct inl *src, unsigned keep, bool plain)
{
	for (size_t i = 0; i < src->n; i++) {
		const struct run *r = &src->v[i];
		unsigned m = plain ? 0 : r->marks & keep;
		enum run_type t = plain && r->type != R_BR ? R_TEXT : r->type;
		struct run c = run_make(t, m, r->href, r->text, r->len);
		if (t == R_IMG)
			c.src = acs_xstrdup(r->src);
		inl_push(dst, c);
	}
}

static void esc_text(struct sbuf *o, const char *s, size_t n, bool *ls)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool at_start = *ls && i == 0;
		if (at_start && isdigit((unsigned char)c)) {
			size_t j = i;
			while (j < n && isdigit((unsigned char)s[j]))
				j++;
			if (j < n && (s[j] == '.' || s[j] == ')')) {
				sb_put(o, s + i, j - i);
				sb_putc(o, '\\');
				sb_putc(o, s[j]);
				i = j;
				continue;
			}
		}
		bool esc = false;
		switch (c) {
		case '\\':
		case '`':
		case '*':
		case '[':
		case ']':
		case '<':
		case '|':
		case '~':
			esc = true;
			break;
		case '_':
			esc = !(i > 0 && i + 1 < n && isalnum((unsigned char)s[i - 1]) &&
				isalnum((unsigned char)s[i + 1]));
			break;
		case '&':
			esc = entity_like(s + i, n - i);
			break;
		case '#':
		case '-':
		case '+':
		case '=':
		case '>':
			esc = at_start;
			break;
		default:
			break;
		}
		if (esc)
			sb_putc(o, '\\');
		sb_putc(o, c);
	}
	if (n)
		*ls = false;
}

static void put_dest(struct sbuf *o, const char *url)
{
	size_t n = strlen(url);
	for (size_t i = 0; i < n; i++) {
		char c = url[i];
		if (c == '(' || c == ')' || (c == '&' && entity_like(url + i, n - i)))
			sb_putc(o, '\\');
		sb_putc(o, url[i]);
	}
}

static void put_code(struct sbuf *o, const char *s, size_t n)
{
	size_t longest = 0, cur = 0;
	bool all_space = true;
	for (size_t i = 0; i < n; i++) {
		cur = s[i] == '`' ? cur + 1 : 0;
		longest = ACS_MAX(longest, cur);
		all_space = all_space && s[i] == ' ';
	}
	bool pad = s[0] == '`' || s[n - 1] == '`' || (s[0] == ' ' && s[n - 1] == ' ' && !all_space);
	for (size_t i = 0; i <= longest; i++)
		sb_putc(o, '`');
	if (pad)
		sb_putc(o, ' ');
	sb_put(o, s, n);
	if (pad)
		sb_putc(o, ' ');
	for (size_t i = 0; i <= longest; i++)
		sb_putc(o, '`');
}

/* <url> form: the whole link is one plain run whose text is its target, and md4c would
 * reproduce that target unchanged. */
static bool is_autolink(const struct inl *in, size_t i)
{
	const struct run *r = &in->v[i];
	if (r->type != R_TEXT || !(r->marks & M_LINK) || strcmp(r->text, r->href))
		return false;
	if ((i && (in->v[i - 1].marks & M_LINK) && !strcmp(in->v[i - 1].href, r->href)) ||
	    (i + 1 < in->n && (in->v[i + 1].marks & M_LINK) && !strcmp(in->v[i + 1].href, r->href)))
		return false;
	const char *p = r->text;
	size_t s = 0;
	while (isalnum((unsigned char)p[s]) || (s && strchr("+.-", p[s]) && p[s]))
		s++;
	if (s < 2 || s > 32 || p[s] != ':' || !isalpha((unsigned char)p[0]))
		return false;
	for (; *p; p++)
		if (!url_safe_byte((unsigned char)*p) || *p == '&')
			return false;
	return true;
}

enum {
	STYLE_STAR,
	STYLE_STAR_UNDER,
	STYLE_UNDER_STAR
};

static const char *delim(unsigned m, int style)
{
	switch (m) {
	case M_STRONG:
		return style == STYLE_UNDER_STAR ? "__" : "**";
	case M_EM:
		return style == STYLE_STAR_UNDER ? "_" : "*";
	default:
		return "~~";
	}
}

struct open_mark {
	unsigned m;
	const char *href;
};

static void close_mark(struct sbuf *o, const struct open_mark *om, int style)
{
	if (om->m == M_LINK) {
		sb_puts(o, "](");
		put_dest(o, om->href);
		sb_putc(o, ')');
	} else {
		sb_puts(o, delim(om->m, style));
	}
}

static size_t extent(const struct inl *in, size_t i, unsigned m, const char *href)
{
	size_t j = i;
	while (j < in->n && in->v[j].type != R_BR && (in->v[j].marks & m) &&
	       (m != M_LINK || !strcmp(in->v[j].href, href)))
		j++;
	return j - i;
}

static void write_runs(struct sbuf *o, const struct inl *in, int style, enum inl_ctx ctx)
{
	static const unsigned rank[] = { M_LINK, M_STRONG, M_EM, M_DEL };
	struct open_mark st[4];
	size_t sp = 0;
	bool ls = true;
	for (size_t i = 0; i < in->n; i++) {
		const struct run *r = &in->v[i];
		if (r->type == R_BR) {
			while (sp)
				close_mark(o, &st[--sp], style);
			sb_puts(o, "\\\n");
			ls = true;
			continue;
		}
		bool autol = is_autolink(in, i);
		unsigned want = autol ? r->marks & ~M_LINK : r->marks;
		size_t k = 0;
		while (k < sp && (want & st[k].m) &&
		       (st[k].m != M_LINK || !strcmp(st[k].href, r->href)))
			k++;
		while (sp > k)
			close_mark(o, &st[--sp], style);
		unsigned have = 0;
		for (size_t j = 0; j < sp; j++)
			have |= st[j].m;
		unsigned need = want & ~have;
		while (need) {
			unsigned best = 0;
			size_t best_ext = 0;
			for (size_t j = 0; j < ACS_ARRAY_SIZE(rank); j++) {
				if (!(need & rank[j]))
					continue;
				size_t e = extent(in, i, rank[j], r->href);
				if (!best || e > best_ext)
					best = rank[j], best_ext = e;
			}
			need &= ~best;
			if (best == M_LINK) {
				/* "!" before "[" would make an image. */
				if (sb_last(o) == '!' && unescaped_at(o->b.data, o->b.len - 1))
					sb_escape_last(o);
				sb_putc(o, '[');
			} else {
				sb_puts(o, delim(best, style));
			}
			st[sp].m = best;
			st[sp].href = r->href;
			sp++;
			ls = false;
		}
		switch (r->type) {
		case R_TEXT:
			if (autol) {
				sb_putc(o, '<');
				sb_puts(o, r->href);
				sb_putc(o, '>');
			} else {
				esc_text(o, r->text, r->len, &ls);
			}
			break;
		case R_CODE:
			put_code(o, r->text, r->len);
			break;
		case R_IMG: {
			bool no = false;
			sb_puts(o, "![");
			esc_text(o, r->text, r->len, &no);
			sb_puts(o, "](");
			put_dest(o, r->src);
			sb_putc(o, ')');
			break;
		}
		case R_BR:
			break;
		}
		ls = false;
	}
	while (sp)
		close_mark(o, &st[--sp], style);
	/* A trailing run of '#' would be read as the closing sequence of an ATX heading. */
	if (ctx == CTX_HEADING && sb_last(o) == '#' && unescaped_at(o->b.data, o->b.len - 1))
		sb_escape_last(o);
}

/* Does md4c read md back as exactly the runs in `want`? */
static bool parses_back(const struct inl *want, const char *md, size_t len)
{
	struct sbuf h;
	sb_init(&h);
	bool ok = false;
	if (!md_to_html_impl(md, len, &h)) {
		struct blk *root = html_to_model(h.b.data ? h.b.data : "", h.b.len);
		ok = root->first && !root->first->next && root->first->type == B_PARA &&
		     runs_equal(&root->first->inl, want);
		blk_free(root);
	}
	acs_buf_free(&h.b);
	return ok;
}

/* Canonical Markdown for one inline sequence; heap string, or NULL on overflow. */
static char *inline_md(const struct inl *in, enum inl_ctx ctx, int *rc)
{
	static const int styles[] = { STYLE_STAR, STYLE_STAR_UNDER, STYLE_UNDER_STAR };
	unsigned all = 0;
	for (size_t i = 0; i < in->n; i++)
		all |= in->v[i].marks;
	for (int attempt = 0; attempt < 5; attempt++) {
		struct inl alt = { 0 };
		const struct inl *use = in;
		int style = STYLE_STAR;
		if (attempt && attempt < 4 && !(all & M_EMPH))
			continue; /* other delimiters or stripping emphasis change nothing */
		if (attempt < 3) {
			style = styles[attempt];
		} else {
			inl_copy(&alt, in, M_LINK, attempt == 4);
			finalize_inl(&alt, ctx);
			use = &alt;
		}
		struct sbuf o;
		sb_init(&o);
		write_runs(&o, use, style, ctx);
		bool marked = false;
		for (size_t i = 0; i < use->n; i++)
			marked = marked || use->v[i].marks;
		bool ok = !o.rc && (attempt == 4 || !marked ||
				    parses_back(use, o.b.data ? o.b.data : "", o.b.len));
		inl_free(&alt);
		if (o.rc) {
			*rc = o.rc;
			acs_buf_free(&o.b);
			return NULL;
		}
		if (ok)
			return acs_buf_steal(&o.b, NULL);
		acs_buf_free(&o.b);
	}
	return acs_xstrdup(""); /* not reached: the plain attempt is always accepted */
}

struct seg {
	char first[24]; /**< printed on the first line (list marker, "> ") */
	char cont[24];	/**< printed on the following lines */
	bool used;
};

struct writer {
	struct sbuf out;
	struct seg segs[MAX_SEGS];
	size_t nseg;
	bool started;
};

static void emit_line(struct writer *w, const char *s, size_t n)
{
	if (w->started)
		sb_putc(&w->out, '\n');
	w->started = true;
	for (size_t i = 0; i < w->nseg; i++) {
		struct seg *g = &w->segs[i];
		sb_puts(&w->out, g->used ? g->cont : g->first);
		g->used = true;
	}
	if (n) {
		sb_put(&w->out, s, n);
		return;
	}
	while (!w->out.rc && w->out.b.len && w->out.b.data[w->out.b.len - 1] == ' ')
		w->out.b.data[--w->out.b.len] = '\0';
}

static void emit_lines(struct writer *w, const char *s)
{
	for (;;) {
		const char *nl = strchr(s, '\n');
		emit_line(w, s, nl ? (size_t)(nl - s) : strlen(s));
		if (!nl)
			return;
		s = nl + 1;
	}
}

static void push_seg(struct writer *w, const char *first, const char *cont)
{
	acs_require(w->nseg < MAX_SEGS);
	struct seg *g = &w->segs[w->nseg++];
	snprintf(g->first, sizeof(g->first), "%s", first);
	snprintf(g->cont, sizeof(g->cont), "%s", cont);
	g->used = false;
}

static void write_blocks(struct writer *w, const struct blk *first, bool tight);

static void emit_inline(struct writer *w, const struct inl *in, enum inl_ctx ctx,
			const char *prefix)
{
	int rc = 0;
	char *s = inline_md(in, ctx, &rc);
	if (!s) {
		w->out.rc = rc;
		return;
	}
	if (prefix) {
		char *t = acs_xasprintf("%s%s", prefix, s);
		free(s);
		s = t;
	}
	emit_lines(w, s);
	free(s);
}

static bool item_tight_ok(const struct blk *item)
{
	const struct blk *b = item->first;
	bool after_para = false;
	if (b && b->type == B_PARA) {
		after_para = true;
		b = b->next;
	}
	for (; b; b = b->next) {
		if (b->type != B_LIST)
			return false;
		/* Only "1." may interrupt a paragraph. */
		if (after_para && b->level && b->start != 1)
			return false;
		after_para = false;
	}
	return true;
}

static void write_table(struct writer *w, const struct blk *t)
{
	size_t cols = 1;
	for (const struct blk *r = t->first; r; r = r->next) {
		size_t n = 0;
		for (const struct blk *c = r->first; c; c = c->next)
			n++;
		cols = ACS_MAX(cols, n);
	}
	for (const struct blk *r = t->first; r; r = r->next) {
		struct sbuf line;
		sb_init(&line);
		const struct blk *c = r->first;
		sb_putc(&line, '|');
		for (size_t i = 0; i < cols; i++) {
			char *s = NULL;
			int rc = 0;
			if (c) {
				s = inline_md(&c->inl, CTX_CELL, &rc);
				c = c->next;
			}
			if (rc)
				line.rc = rc;
			sb_putc(&line, ' ');
			if (s && s[0]) {
				sb_puts(&line, s);
				sb_putc(&line, ' ');
			}
			sb_putc(&line, '|');
			free(s);
		}
		if (line.rc)
			w->out.rc = line.rc;
		emit_line(w, line.b.data ? line.b.data : "", line.b.len);
		acs_buf_free(&line.b);
		if (r != t->first)
			continue;
		sb_init(&line);
		sb_putc(&line, '|');
		c = r->first;
		for (size_t i = 0; i < cols; i++) {
			static const char *const spec[] = { " --- |", " :--- |", " :---: |",
							    " ---: |" };
			sb_puts(&line, spec[c ? c->level : ALIGN_NONE]);
			c = c ? c->next : NULL;
		}
		emit_line(w, line.b.data ? line.b.data : "", line.b.len);
		acs_buf_free(&line.b);
	}
}

static void write_code(struct writer *w, const struct blk *b)
{
	size_t longest = 0, cur = 0;
	for (const char *p = b->text; *p; p++) {
		cur = *p == '`' ? cur + 1 : 0;
		longest = ACS_MAX(longest, cur);
	}
	size_t flen = ACS_MAX((size_t)3, longest + 1);
	char *fence = acs_xmalloc(flen + 1);
	memset(fence, '`', flen);
	fence[flen] = '\0';
	char *open = acs_xasprintf("%s%s", fence, b->lang ? b->lang : "");
	emit_line(w, open, strlen(open));
	emit_lines(w, b->text);
	emit_line(w, fence, flen);
	free(open);
	free(fence);
}

static void write_block(struct writer *w, const struct blk *b)
{
	switch (b->type) {
	case B_PARA:
		emit_inline(w, &b->inl, CTX_PARA, NULL);
		break;
	case B_HEADING: {
		char hashes[8];
		snprintf(hashes, sizeof(hashes), "%.*s ", b->level, "######");
		emit_inline(w, &b->inl, CTX_HEADING, hashes);
		break;
	}
	case B_CODE:
		write_code(w, b);
		break;
	case B_QUOTE:
		push_seg(w, "> ", "> ");
		write_blocks(w, b->first, false);
		w->nseg--;
		break;
	case B_LIST: {
		bool tight = true;
		for (const struct blk *it = b->first; it; it = it->next)
			tight = tight && item_tight_ok(it);
		long num = b->start;
		for (const struct blk *it = b->first; it; it = it->next, num++) {
			char marker[24], pad[24];
			if (b->level)
				snprintf(marker, sizeof(marker), "%ld. ", num);
			else
				snprintf(marker, sizeof(marker), "- ");
			snprintf(pad, sizeof(pad), "%*s", (int)strlen(marker), "");
			if (it != b->first && !tight)
				emit_line(w, "", 0);
			push_seg(w, marker, pad);
			write_blocks(w, it->first, tight);
			w->nseg--;
		}
		break;
	}
	case B_HR: {
		/* "- ---" is itself a rule, not a list item holding one. */
		bool marker_line = false;
		for (size_t i = 0; i < w->nseg; i++)
			marker_line = marker_line || !w->segs[i].used;
		emit_line(w, marker_line ? "***" : "---", 3);
		break;
	}
	case B_TABLE:
		write_table(w, b);
		break;
	default:
		break;
	}
}

static void write_blocks(struct writer *w, const struct blk *first, bool tight)
{
	for (const struct blk *b = first; b && !w->out.rc; b = b->next) {
		if (b != first && !tight)
			emit_line(w, "", 0);
		write_block(w, b);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Public API. */

/* Plain writer: the model as canonical Markdown. Returns 0 or ACS_ETOOBIG. */
static int write_doc(const struct blk *root, char **out)
{
	struct writer *w = acs_xcalloc(1, sizeof(*w));
	sb_init(&w->out);
	write_blocks(w, root->first, false);
	int rc = w->out.rc;
	*out = rc ? NULL : acs_buf_steal(&w->out.b, NULL);
	acs_buf_free(&w->out.b);
	free(w);
	return rc;
}

/* Does md read back (through md4c and the model) as itself? */
static bool doc_stable(const char *md)
{
	struct sbuf h;
	sb_init(&h);
	bool ok = false;
	if (!md_to_html_impl(md, strlen(md), &h)) {
		struct blk *again = html_to_model(h.b.data ? h.b.data : "", h.b.len);
		char *md2 = NULL;
		ok = !write_doc(again, &md2) && !strcmp(md, md2);
		free(md2);
		blk_free(again);
	}
	acs_buf_free(&h.b);
	return ok;
}

/* Paragraph from a table row: cell contents separated by " | ". */
static struct blk *row_para(struct blk *row)
{
	struct blk *p = blk_new(B_PARA);
	for (struct blk *c = row->first; c; c = c->next) {
		if (c != row->first)
			inl_push(&p->inl, run_make(R_TEXT, 0, NULL, " | ", 3));
		inl_copy(&p->inl, &c->inl, ~0u, false);
	}
	finalize_inl(&p->inl, CTX_PARA);
	return p;
}

/* Replace *pp (a table) by one paragraph per row; returns the link after them. */
static struct blk **table_to_paras(struct blk **pp)
{
	struct blk *t = *pp, *next = t->next;
	for (struct blk *r = t->first; r; r = r->next) {
		struct blk *p = row_para(r);
		*pp = p;
		pp = &p->next;
	}
	*pp = next;
	t->next = NULL;
	blk_free(t);
	return pp;
}

enum simplify {
	SIMPLE_CONTAINERS = 1,
	SIMPLE_FLAT,
	SIMPLE_PLAIN
};

/* Fallbacks for the rare structures md4c does not read back as written (it mis-nests some
 * tables and blocks that follow a heading inside list items): make the model simpler. */
static void simplify(struct blk *c, enum simplify how, bool inside)
{
	struct blk **pp = &c->first;
	while (*pp) {
		struct blk *b = *pp;
		bool hoist = how >= SIMPLE_FLAT && (b->type == B_QUOTE || b->type == B_LIST);
		if (b->type == B_QUOTE || b->type == B_ITEM)
			simplify(b, how, true);
		if (b->type == B_LIST)
			for (struct blk *it = b->first; it; it = it->next)
				simplify(it, how, true);
		if (hoist) {
			/* Splice the children (items' blocks for a list) in place of b. */
			struct blk *head = NULL, **tail = &head;
			struct blk *kids = b->type == B_LIST ? NULL : b->first;
			if (b->type == B_LIST) {
				for (struct blk *it = b->first; it; it = it->next) {
					*tail = it->first;
					while (*tail)
						tail = &(*tail)->next;
					it->first = it->last = NULL;
				}
			} else {
				*tail = kids;
				while (*tail)
					tail = &(*tail)->next;
				b->first = b->last = NULL;
			}
			struct blk *next = b->next;
			b->next = NULL;
			blk_free(b);
			if (!head) {
				*pp = next;
				continue;
			}
			*pp = head;
			*tail = next;
			/* Continue at the first hoisted block: it may need simplifying too. */
			continue;
		}
		bool risky = inside || how >= SIMPLE_PLAIN;
		if (risky && b->type == B_TABLE) {
			pp = table_to_paras(pp);
			continue;
		}
		if (risky && b->type == B_HR) {
			*pp = b->next;
			b->next = NULL;
			blk_free(b);
			continue;
		}
		if (risky && b->type == B_HEADING)
			b->type = B_PARA;
		if (how >= SIMPLE_PLAIN && b->type == B_CODE) {
			b->type = B_PARA;
			inl_push(&b->inl, run_make(R_TEXT, 0, NULL, b->text, strlen(b->text)));
		}
		if (how >= SIMPLE_PLAIN && b->type == B_PARA) {
			struct inl plain = { 0 };
			inl_copy(&plain, &b->inl, 0, true);
			inl_free(&b->inl);
			b->inl = plain;
		}
		if (b->type == B_PARA)
			finalize_inl(&b->inl, CTX_PARA);
		if (blk_empty(b)) {
			*pp = b->next;
			b->next = NULL;
			blk_free(b);
			continue;
		}
		pp = &b->next;
	}
	c->last = NULL;
	for (struct blk *b = c->first; b; b = b->next)
		c->last = b;
}

/* Canonical Markdown for a model, simplified as far as needed to be a fixed point. */
static int model_to_md(struct blk *root, char **out)
{
	for (int level = 0;; level++) {
		if (level) {
			simplify(root, (enum simplify)level, false);
			normalize_container(root);
		}
		int rc = write_doc(root, out);
		if (rc || level == SIMPLE_PLAIN || doc_stable(*out))
			return rc;
		free(*out);
		*out = NULL;
	}
}

/* internal: html is md4c output of sanitised text, so it needs no sanitising. */
static int html_to_md_impl(const char *html, size_t len, bool internal, char **out, char *err)
{
	*out = NULL;
	if (!internal && len > ACS_HTML_MD_MAX_INPUT) {
		if (err)
			snprintf(err, ACS_ERR_LEN, "html is %zu bytes, more than the %zu allowed",
				 len, ACS_HTML_MD_MAX_INPUT);
		return ACS_ETOOBIG;
	}
	size_t slen = html ? len : 0;
	char *clean = internal ? NULL : sanitize(html ? html : "", slen, &slen);
	struct blk *root = html_to_model(internal ? html : clean, slen);
	free(clean);
	int rc = model_to_md(root, out);
	blk_free(root);
	if (rc && err)
		snprintf(err, ACS_ERR_LEN, "markdown output exceeds %zu bytes", MAX_INTERNAL);
	return rc;
}

/* ---- memo ----
 * The engine converts the same text again and again: every event of an item carries
 * its description, a pushed value is canonicalised again, and most descriptions are
 * empty. A conversion is a pure function of its input, so recent ones are kept in a
 * small direct-mapped table shared by all threads (under a mutex: a lookup is a hash
 * and a memcmp, a conversion parses with md4c and libxml2). Bounded: MEMO_SLOTS
 * entries of at most MEMO_MAX_INPUT bytes of input. */
#define MEMO_SLOTS 64
#define MEMO_MAX_INPUT 16384

enum memo_kind {
	MEMO_HTML_TO_MD,
	MEMO_CANONICAL
};

struct memo_slot {
	uint64_t hash;
	size_t len;
	char *in; /* NULL: empty slot */
	char *out;
};

static struct memo_slot memo[2][MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t memo_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* A copy of the cached output for input s, or NULL. */
static char *memo_get(enum memo_kind k, const char *s, size_t n, uint64_t h)
{
	char *out = NULL;
	pthread_mutex_lock(&memo_lock);
	struct memo_slot *m = &memo[k][h % MEMO_SLOTS];
	if (m->in && m->hash == h && m->len == n && !memcmp(m->in, s, n))
		out = acs_xstrdup(m->out);
	pthread_mutex_unlock(&memo_lock);
	return out;
}

static void memo_put(enum memo_kind k, const char *s, size_t n, uint64_t h, const char *out)
{
	char *in = acs_xmalloc(n + 1), *copy = acs_xstrdup(out), *old_in, *old_out;
	memcpy(in, s, n);
	in[n] = '\0';
	pthread_mutex_lock(&memo_lock);
	struct memo_slot *m = &memo[k][h % MEMO_SLOTS];
	old_in = m->in;
	old_out = m->out;
	*m = (struct memo_slot){ .hash = h, .len = n, .in = in, .out = copy };
	pthread_mutex_unlock(&memo_lock);
	free(old_in);
	free(old_out);
}

int acs_html_to_markdown(const char *html, size_t len, char **out, char err[ACS_ERR_LEN])
{
	if (!html || !len) {
		*out = acs_xstrdup(""); /* no markup, no text */
		return 0;
	}
	if (len > MEMO_MAX_INPUT)
		return html_to_md_impl(html, len, false, out, err);
	uint64_t h = memo_hash(html, len);
	if ((*out = memo_get(MEMO_HTML_TO_MD, html, len, h)))
		return 0;
	int rc = html_to_md_impl(html, len, false, out, err);
	if (!rc)
		memo_put(MEMO_HTML_TO_MD, html, len, h, *out);
	return rc;
}

int acs_markdown_to_html(const char *md, size_t len, char **out, char err[ACS_ERR_LEN])
{
	*out = NULL;
	if (len > ACS_HTML_MD_MAX_INPUT) {
		if (err)
			snprintf(err, ACS_ERR_LEN, "markdown is %zu bytes, more than %zu allowed",
				 len, ACS_HTML_MD_MAX_INPUT);
		return ACS_ETOOBIG;
	}
	size_t slen;
	char *clean = sanitize(md ? md : "", md ? len : 0, &slen);
	struct sbuf h;
	sb_init(&h);
	int rc = md_to_html_impl(clean, slen, &h);
	free(clean);
	if (rc) {
		acs_buf_free(&h.b);
		if (err)
			snprintf(err, ACS_ERR_LEN, "markdown to html: %s", acs_strerror(rc));
		return rc;
	}
	*out = acs_buf_steal(&h.b, NULL);
	return 0;
}

static char *canonical_markdown(const char *md, size_t len)
{
	char *html = NULL, *out = NULL;
	if (acs_markdown_to_html(md, len, &html, NULL))
		return NULL;
	if (html_to_md_impl(html, strlen(html), true, &out, NULL))
		out = NULL;
	free(html);
	return out;
}

char *acs_html_md_canonical_markdown(const char *md)
{
	size_t len = md ? strlen(md) : 0;
	if (!len)
		return acs_xstrdup("");
	if (len > MEMO_MAX_INPUT)
		return canonical_markdown(md, len);
	uint64_t h = memo_hash(md, len);
	char *out = memo_get(MEMO_CANONICAL, md, len, h);
	if (out)
		return out;
	out = canonical_markdown(md, len);
	if (out)
		memo_put(MEMO_CANONICAL, md, len, h, out);
	return out;
}

bool acs_html_md_equal(const char *md_a, const char *md_b)
{
	md_a = md_a ? md_a : "";
	md_b = md_b ? md_b : "";
	if (!strcmp(md_a, md_b))
		return true;
	char *a = acs_html_md_canonical_markdown(md_a);
	char *b = acs_html_md_canonical_markdown(md_b);
	bool eq = a && b ? !strcmp(a, b) : false;
	free(a);
	free(b);
	return eq;
}
