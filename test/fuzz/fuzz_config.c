/* SPDX-License-Identifier: MIT */
/* libFuzzer target: arbitrary INI text through the config loader and
 * validation. Must never crash, leak or read out of bounds. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_load_string(cfg, "<fuzz>", text, errs);
	acs_config_finish(cfg, errs);
	acs_config_errors_free(errs);
	acs_config_free(cfg);
	acs_log_reset(); /* forget secrets the input registered */
	free(text);
	return 0;
}
