/* SPDX-License-Identifier: MIT */
/* libFuzzer target: json_codec against jansson on the same bytes. Both must accept or
 * reject alike (except jansson's skipped NUL byte, see json_codec.h), build equal trees
 * with the same key order, and write them byte for byte alike. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

static void same_text(char *a, char *b, const char *what)
{
	check(!a == !b, what);
	if (a)
		check(!strcmp(a, b), what);
	free(a);
	free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t load[] = { 0, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES };
	const char *buf = (const char *)data;
	for (size_t f = 0; f < 2; f++) {
		json_error_t e;
		json_t *want = json_loadb(buf, size, load[f], NULL);
		json_t *got = acs_json_loadb(buf, size, load[f], &e);
		if (want && !got && memchr(buf, 0, size)) {
			json_decref(want);
			continue;
		}
		check(!want == !got, "accepted alike");
		if (!got) {
			check(e.text[0] && e.position >= 0 && (size_t)e.position <= size, "error "
											  "text "
											  "and "
											  "positio"
											  "n");
			continue;
		}
		check(json_equal(want, got), "equal trees");
		same_text(json_dumps(want, JSON_COMPACT | JSON_ENCODE_ANY),
			  json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY), "same key order");
		same_text(json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY),
			  acs_json_dumps(got, JSON_COMPACT | JSON_ENCODE_ANY), "same bytes");
		same_text(json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS),
			  acs_json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS), "same sorted bytes");
		json_decref(want);
		json_decref(got);
	}
	return 0;
}
