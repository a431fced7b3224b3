/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the API answer parsers of both clients (a ClickUp task,
 * comment and webhook; an ADO work item, comment, subscription and
 * identity) on arbitrary JSON, decoded as the rest layer decodes answers.
 * List members ("tasks", "comments", "value") are parsed element by element,
 * so a fixture of either service works as a seed. */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "common.h"
#include "err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

static void clickup_one(const json_t *j)
{
	char err[ACS_ERR_LEN] = "";
	struct acs_clickup_task *t = acs_clickup_task_parse(j, err);
	if (t) {
		check(t->id != NULL, "task id");
		check(t->priority >= 0 && t->priority <= 4, "task priority range");
		for (size_t i = 0; i < t->n_tags; i++)
			check(t->tags[i] != NULL, "tag names");
	} else {
		check(strnlen(err, ACS_ERR_LEN) < ACS_ERR_LEN, "err terminated");
	}
	acs_clickup_task_free(t);
	acs_clickup_comment_free(acs_clickup_comment_parse(j, err));
	acs_clickup_webhook_free(acs_clickup_webhook_parse(j, err));
	free(acs_clickup_comment_blocks_text(json_object_get(j, "comment")));
	free(acs_clickup_comment_blocks_text(j));
	int p = acs_clickup_parse_priority(json_object_get(j, "priority"));
	check(p >= 0 && p <= 4, "priority range");
	(void)acs_clickup_parse_ms(json_object_get(j, "date_updated"));
	(void)acs_clickup_parse_ms(json_object_get(j, "due_date"));
}

static void ado_one(const json_t *j)
{
	struct acs_ado_work_item wi;
	memset(&wi, 0, sizeof(wi));
	if (acs_ado_work_item_parse(j, &wi) == 0) {
		check(wi.fields != NULL, "fields never NULL");
		check(wi.priority >= 0 && wi.priority <= 4, "priority range");
		check(wi.n_tags == 0 || wi.tags, "tags");
	}
	acs_ado_work_item_clear(&wi);
	acs_ado_work_item_free(acs_ado_work_item_from_json(j));

	struct acs_ado_comment cm;
	memset(&cm, 0, sizeof(cm));
	(void)acs_ado_comment_parse(j, &cm);
	acs_ado_comment_clear(&cm);

	struct acs_ado_subscription sub;
	memset(&sub, 0, sizeof(sub));
	(void)acs_ado_subscription_parse(j, &sub);
	acs_ado_subscription_clear(&sub);

	struct acs_ado_identity id;
	memset(&id, 0, sizeof(id));
	(void)acs_ado_identity_parse(j, &id);
	acs_ado_identity_clear(&id);
	memset(&id, 0, sizeof(id));
	(void)acs_ado_identity_parse(json_object_get(json_object_get(j, "fields"), "System."
										   "AssignedTo"),
				     &id);
	acs_ado_identity_clear(&id);

	const json_t *fields = json_object_get(j, "fields");
	const char *date = json_string_value(json_object_get(fields, "System.ChangedDate"));
	int64_t ms;
	if (date && acs_ado_parse_date(date, &ms) == 0) {
		char back[32];
		acs_ado_format_date(ms, back);
		check(strnlen(back, sizeof(back)) < sizeof(back), "formatted date");
	}
	const char *tags = json_string_value(json_object_get(fields, "System.Tags"));
	if (tags) {
		char **v = NULL;
		size_t n = acs_ado_tags_split(tags, &v);
		for (size_t i = 0; i < n; i++)
			check(v[i] && v[i][0] && v[i][0] != ' ', "trimmed non-empty tags");
		acs_ado_tags_free(v, n);
	}
}

static void each(const json_t *j)
{
	clickup_one(j);
	ado_one(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *j = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
	if (!j)
		return 0;
	each(j);
	static const char *const lists[] = { "tasks", "comments", "value", "webhooks" };
	for (size_t k = 0; k < ACS_ARRAY_SIZE(lists); k++) {
		const json_t *arr = json_object_get(j, lists[k]);
		size_t i;
		const json_t *el;
		json_array_foreach(arr, i, el)
		{
			if (i >= 16)
				break;
			each(el);
		}
	}
	/* Answers that wrap the object: {"webhook": {...}}, {"resource": {...}}. */
	each(json_object_get(j, "webhook"));
	each(json_object_get(j, "resource"));
	json_decref(j);
	return 0;
}
