/* SPDX-License-Identifier: MIT */
/* libFuzzer target: a ClickUp webhook delivery as the intake sees it: the
 * X-Signature check over the raw body, then the normalisation of the parsed
 * body, with the event's promises checked.
 *
 * Input: an optional first line "X-Signature: <hex>" checked as sent (secret
 * "secret"), then the raw body. Without it the harness signs the body itself
 * and checks that the right signature passes and altered ones fail. */
#include <jansson.h>
#include <sodium.h>
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

#define SECRET "secret"

static void check(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "property violated: %s\n", what);
		abort();
	}
}

static void check_event(const struct acs_webhook_event *ev, int rc, const char *err)
{
	check(strnlen(err, ACS_ERR_LEN) < ACS_ERR_LEN, "err terminated");
	check(ev->source == ACS_WEBHOOK_SOURCE_CLICKUP, "source set");
	check(acs_webhook_type_name(ev->type) != NULL, "type name");
	if (rc)
		return;
	check(ev->type != ACS_WEBHOOK_UNKNOWN && ev->event_name, "type known");
	check(ev->item_id && strlen(ev->item_id) <= ACS_WEBHOOK_MAX_ID_LEN, "task id");
	check(ev->event_key && !strncmp(ev->event_key, "clickup:", 8), "event key");
	check(!strncmp(ev->event_key + 8, ev->item_id, strlen(ev->item_id)), "key names the task");
	check(ev->n_clickup_history_ids <= ACS_WEBHOOK_MAX_HISTORY, "history ceiling");
	check(ev->n_changed_fields <= ACS_WEBHOOK_MAX_FIELDS, "field ceiling");
	check(ev->n_clickup_history_ids || !strcmp(ev->event_key + 8 + strlen(ev->item_id), ":delet"
											    "ed"),
	      "no history: deleted key");
	for (size_t i = 0; i < ev->n_clickup_history_ids; i++)
		check(ev->clickup_history_ids[i] &&
			      strstr(ev->event_key, ev->clickup_history_ids[i]),
		      "history ids in the key");
	check(ev->changed_at_ms >= 0, "time not negative");
}

static void check_signatures(const char *body, size_t len)
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char hex[2 * sizeof(mac) + 1];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)SECRET, strlen(SECRET));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, sizeof(hex), mac, sizeof(mac));
	check(acs_webhook_clickup_signature_ok(body, len, hex, SECRET), "right signature");
	check(!acs_webhook_clickup_signature_ok(body, len, hex, "other"), "other secret");
	check(!acs_webhook_clickup_signature_ok(body, len, hex, ""), "empty secret");
	check(!acs_webhook_clickup_signature_ok(body, len, NULL, SECRET), "no header");
	for (size_t i = 0; hex[i]; i++) /* upper case is the same signature */
		if (hex[i] >= 'a' && hex[i] <= 'f')
			hex[i] = (char)(hex[i] - 'a' + 'A');
	check(acs_webhook_clickup_signature_ok(body, len, hex, SECRET), "upper-case hex");
	hex[len % 64] = hex[len % 64] == '0' ? '1' : '0';
	check(!acs_webhook_clickup_signature_ok(body, len, hex, SECRET), "altered signature");
	hex[63] = '\0';
	check(!acs_webhook_clickup_signature_ok(body, len, hex, SECRET), "short signature");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pfx[] = "X-Signature: ";
	const char *p = (const char *)data, *end = p + size;
	char *sig = NULL;
	if (size >= sizeof(pfx) - 1 && !memcmp(p, pfx, sizeof(pfx) - 1)) {
		const char *v = p + sizeof(pfx) - 1;
		const char *eol = memchr(v, '\n', (size_t)(end - v));
		if (!eol)
			eol = end;
		sig = malloc((size_t)(eol - v) + 1);
		memcpy(sig, v, (size_t)(eol - v));
		sig[eol - v] = '\0';
		p = eol < end ? eol + 1 : end;
	}
	size_t len = (size_t)(end - p);
	char *body = malloc(len ? len : 1);
	memcpy(body, p, len);
	acs_require(sodium_init() >= 0);
	if (sig)
		(void)acs_webhook_clickup_signature_ok(body, len, sig, SECRET);
	else
		check_signatures(body, len);
	free(sig);

	struct acs_webhook_event ev;
	char err[ACS_ERR_LEN] = "";
	int rc = acs_webhook_parse_clickup(body, len, &ev, err);
	check_event(&ev, rc, err);

	/* The intake's path: parse once, verify, then normalise the tree. */
	json_t *root = len ? json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (root) {
		struct acs_webhook_event ev2;
		char err2[ACS_ERR_LEN] = "";
		int rc2 = acs_webhook_parse_clickup_json(root, &ev2, err2);
		check_event(&ev2, rc2, err2);
		if (rc == 0)
			check(rc2 == 0 && !strcmp(ev.event_key, ev2.event_key), "json path agrees");
		acs_webhook_event_deinit(&ev2);
		json_decref(root);
	}
	acs_webhook_event_deinit(&ev);
	acs_webhook_event_deinit(&ev);
	free(body);
	return 0;
}
