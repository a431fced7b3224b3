/* SPDX-License-Identifier: MIT */
/* HTML <-> Markdown conversion for synced descriptions and comments: Azure DevOps stores
 * HTML, ClickUp Markdown. Pure and synchronous (no loop, no I/O), so the sync engine can
 * compare both sides through one canonical Markdown form and never ping-pong on formatting.
 *
 * Canonical Markdown (what acs_html_to_markdown() produces):
 * - CommonMark + GitHub tables and ~~strikethrough~~, as md4c parses them; no raw HTML.
 * - Blocks are separated by exactly one blank line; no trailing spaces on any line outside
 *   code blocks; no trailing newline at the end; "\n" line ends only. Empty input gives "".
 * - Paragraph text is whitespace-collapsed as a browser would (&nbsp; counts as a space);
 *   a hard line break is written as a backslash at the end of the line.
 * - Headings are ATX ("## Title"); emphasis is *em*, **strong**, ~~del~~ (falling back to
 *   _em_ / __strong__ or plain text where the delimiters would not parse back); inline code
 *   uses the shortest safe backtick fence; code blocks are ``` fenced with an optional
 *   language, tabs expanded to 4-column stops, no leading or trailing blank lines.
 * - Lists use "- " and "N. " (numbered from the start), tight whenever the structure allows;
 *   adjacent lists of the same kind are merged; empty items are dropped; an item never
 *   starts with a heading (it becomes a paragraph) or a rule (dropped), which md4c 0.4.8
 *   mis-nests. Quotes use "> ". A rule is "---". Tables are GitHub pipe tables.
 * - In the rare documents whose Markdown md4c would not read back as written (deeply mixed
 *   containers), tables, headings and rules inside containers become paragraphs, then
 *   containers are flattened: the text is kept, the output stays a fixed point.
 * - Links are [text](url) or <url> when the text is the URL; titles are dropped; URLs are
 *   percent-encoded like md4c does; javascript:, vbscript: and data: URLs and in-page
 *   "#..." links (ADO @mentions) are dropped, keeping their text.
 * - Markdown-significant characters in text are backslash-escaped where they could become
 *   markup, so text stays text.
 * Stability: for every canonical string C, acs_html_to_markdown(acs_markdown_to_html(C))
 * == C; so canonical(md) is a fixed point after one normalisation. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/** Largest input accepted by the public conversion functions (bytes). */
#define ACS_HTML_MD_MAX_INPUT ((size_t)8 << 20)
/** Deepest nesting of quotes and list levels kept as structure; deeper content is kept as
 *  plain paragraphs, and HTML elements nested deeper than 4x this degrade to their text. */
#define ACS_HTML_MD_MAX_NESTING 64

/** Convert HTML (UTF-8; invalid bytes become U+FFFD) to canonical Markdown.
 *  On success returns 0 and *out is a heap string the caller frees with free().
 *  Returns ACS_ETOOBIG when len > ACS_HTML_MD_MAX_INPUT or the output would exceed its
 *  ceiling; *out is then NULL and err (may be NULL) says why. */
int acs_html_to_markdown(const char *html, size_t len, char **out, char err[ACS_ERR_LEN]);

/** Convert Markdown to HTML with md4c (tables and strikethrough on; raw HTML in the
 *  Markdown is escaped, never passed through; permissive autolinks off so that bare URLs
 *  stay text and round-trip unchanged; dangerous link/image URLs become "#").
 *  Returns 0 and a heap string in *out (caller frees with free()), ACS_ETOOBIG for
 *  oversized input or output, or ACS_EPARSE if md4c fails; *out is NULL on error. */
int acs_markdown_to_html(const char *md, size_t len, char **out, char err[ACS_ERR_LEN]);

/** The canonical form of a Markdown string (NULL counts as ""):
 *  acs_html_to_markdown(acs_markdown_to_html(md)). Returns a heap string the caller frees
 *  with free(), or NULL when the input is too big. */
char *acs_html_md_canonical_markdown(const char *md);

/** True when two Markdown strings are the same under the canonical form (NULL counts as
 *  ""). Falls back to byte comparison when either is too big to canonicalise. */
bool acs_html_md_equal(const char *md_a, const char *md_b);
