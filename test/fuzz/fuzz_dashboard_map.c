/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the admin API's mapping bodies (POST creates, PUT
 * updates) through acs_dashboard_map_parse, decoded as the API decodes
 * them. The JSON members it keeps must be valid JSON of the right shape. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "dashboard.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

/* A kept JSON member must parse back to the promised type. */
static void check_json(const char *text, bool object, const char *what)
{
	if (!text)
		return;
	json_t *j = json_loads(text, JSON_DECODE_ANY, NULL);
	check(j && (object ? json_is_object(j) : json_is_array(j)), what);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *body = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (!body)
		return 0;
	if (!json_is_object(body)) { /* the API answers 400 before parsing */
		json_decref(body);
		return 0;
	}
	for (int create = 0; create < 2; create++) {
		struct acs_dashboard_map m;
		char err[ACS_ERR_LEN] = "";
		int rc = acs_dashboard_map_parse(body, create, &m, err);
		if (rc == 0) {
			if (create)
				check(m.name && m.ado_project && m.clickup_list_id, "create has "
										    "the required "
										    "members");
			check_json(m.ado_work_item_types, false, "ado_work_item_types is an array");
			check_json(m.status_map, true, "status_map is an object");
			check_json(m.priority_map, true, "priority_map is an object");
			check_json(m.custom_map, true, "custom_map is an object");
			check(m.copy_existing_comments >= -1 && m.copy_existing_comments <= 1,
			      "copy_existing_comments");
			check(!m.on_delete || !strcmp(m.on_delete, "close") ||
				      !strcmp(m.on_delete, "delete") ||
				      !strcmp(m.on_delete, "ignore"),
			      "on_delete value");
		} else {
			check(rc == ACS_EPARSE && err[0], "error code and message");
			check(strnlen(err, ACS_ERR_LEN) < ACS_ERR_LEN, "err terminated");
		}
		acs_dashboard_map_clear(&m);
	}
	json_decref(body);
	return 0;
}
