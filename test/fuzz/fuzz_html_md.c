/* SPDX-License-Identifier: MIT */
/* libFuzzer target for html_md: arbitrary bytes as HTML and as Markdown must convert
 * without crashing, and the canonical Markdown must be a fixed point of md -> html -> md. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "html_md.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_fixed_point(const char *md, const char *what)
{
	char *again = acs_html_md_canonical_markdown(md);
	if (again && strcmp(md, again)) {
		fprintf(stderr, "%s: not a fixed point\n[%s]\n[%s]\n", what, md, again);
		abort();
	}
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[ACS_ERR_LEN];
	char *md = NULL, *html = NULL;

	/* The input as HTML. */
	if (acs_html_to_markdown((const char *)data, size, &md, err) == 0) {
		check_fixed_point(md, "html");
		free(md);
	}

	/* The input as Markdown: to HTML, then to canonical Markdown. */
	if (acs_markdown_to_html((const char *)data, size, &html, err) == 0) {
		if (acs_html_to_markdown(html, strlen(html), &md, err) == 0) {
			check_fixed_point(md, "markdown");
			free(md);
		}
		free(html);
	}
	return 0;
}
