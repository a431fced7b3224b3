/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an ADO service-hook delivery as the intake sees it:
 * the credential check on the request's headers, then the normalisation of
 * the body into a webhook event, with the event's promises checked.
 *
 * Input: optional leading header lines "Authorization: ..." and
 * "X-ACS-Webhook-Secret: ...", then the raw body (a fixture works as is). */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "err.h"
#include "webhook.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

/* If data starts with "name" + ": ", copy the rest of the line into a heap
 * string and advance past it. */
static char *take_header(const char **p, const char *end, const char *name)
{
	size_t nl = strlen(name);
	if ((size_t)(end - *p) < nl + 2 || memcmp(*p, name, nl) || memcmp(*p + nl, ": ", 2))
		return NULL;
	const char *v = *p + nl + 2;
	const char *eol = memchr(v, '\n', (size_t)(end - v));
	if (!eol)
		eol = end;
	size_t n = (size_t)(eol - v);
	char *s = malloc(n + 1);
	memcpy(s, v, n);
	s[n] = '\0'; /* an embedded NUL just shortens it, as in a real header */
	*p = eol < end ? eol + 1 : end;
	return s;
}

static void check_event(const struct acs_webhook_event *ev, int rc, const char *err)
{
	check(strnlen(err, ACS_ERR_LEN) < ACS_ERR_LEN, "err terminated");
	check(ev->source == ACS_WEBHOOK_SOURCE_ADO, "source set");
	check(acs_webhook_type_name(ev->type) && acs_webhook_source_name(ev->source), "names");
	if (rc == ACS_WEBHOOK_EIGNORED) {
		check(ev->event_name != NULL, "ignored events are named");
		return;
	}
	if (rc)
		return;
	check(ev->type != ACS_WEBHOOK_UNKNOWN && ev->event_name, "type known");
	check(ev->event_key && !strncmp(ev->event_key, "ado:", 4), "event key");
	check(ev->item_id && ev->ado_id > 0 && ev->ado_rev > 0, "ids");
	char want[64];
	snprintf(want, sizeof(want), "ado:%s:", ev->item_id);
	check(!strncmp(ev->event_key, want, strlen(want)), "key names the item");
	check(ev->n_changed_fields <= ACS_WEBHOOK_MAX_FIELDS, "field ceiling");
	for (size_t i = 0; i < ev->n_changed_fields; i++)
		check(ev->changed_fields[i] != NULL, "field names");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char *auth = take_header(&p, end, "Authorization");
	char *secret = take_header(&p, end, ACS_WEBHOOK_ADO_SECRET_HEADER);

	static const struct acs_webhook_ado_auth both = { "hook", "s3cret-pass", "h3ader-secret" };
	static const struct acs_webhook_ado_auth basic = { "", "s3cret-pass", NULL };
	static const struct acs_webhook_ado_auth header = { NULL, "", "h3ader-secret" };
	static const struct acs_webhook_ado_auth none = { "hook", "", "" };
	bool a = acs_webhook_ado_authorized(auth, secret, &both);
	bool b = acs_webhook_ado_authorized(auth, secret, &basic);
	bool h = acs_webhook_ado_authorized(auth, secret, &header);
	check(!acs_webhook_ado_authorized(auth, secret, &none), "unconfigured refuses");
	check(!acs_webhook_ado_authorized(auth, secret, NULL), "NULL config refuses");
	check(!h || (secret && !strcmp(secret, "h3ader-secret")), "header secret is exact");
	check(a || !h, "header mode accepted by both");
	(void)b;
	free(auth);
	free(secret);

	/* The body in its own exact-size allocation: no terminator to lean on. */
	size_t len = (size_t)(end - p);
	char *body = malloc(len ? len : 1);
	memcpy(body, p, len);
	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN] = "";
	int rc = acs_webhook_parse_ado(body, len, &ev, err);
	check_event(&ev, rc, err);

	/* The pre-parsed path must agree whenever the byte path succeeded. */
	json_t *root = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (root) {
		struct acs_webhook_event ev2;
		char err2[ACS_ERR_LEN] = "";
		int rc2 = acs_webhook_parse_ado_json(root, &ev2, err2);
		check_event(&ev2, rc2, err2);
		if (rc == 0) {
			check(rc2 == 0 && !strcmp(ev.event_key, ev2.event_key), "json path agrees");
			check(ev.changed_at_ms == ev2.changed_at_ms, "same time");
		}
		json_t *fields = acs_webhook_ado_revision_fields(root);
		check(!fields || json_is_object(fields), "revision fields");
		acs_webhook_event_deinit(&ev2);
		json_decref(root);
	}
	acs_webhook_event_deinit(&ev);
	acs_webhook_event_deinit(&ev); /* idempotent */
	free(body);
	return 0;
}
