/* SPDX-License-Identifier: MIT */
/* Webhook intake logic: ADO Basic/header-secret checks and ClickUp signature
 * checks in constant time (libsodium), and the normalisation of both services'
 * deliveries into struct acs_webhook_event. See webhook.h for the key design. */
#include "webhook.h"

#include <ctype.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "calendar.h"
#include "json_codec.h"
#include "mem.h"

#define DIGEST_LEN 32	  /* crypto_generichash output compared by sodium_memcmp */
#define MAX_AUTH_B64 1024 /* longest Basic credential we decode */
#define MAX_NAME_LEN 256  /* event names, field reference names */
#define MAX_KEY_LEN (ACS_WEBHOOK_MAX_HISTORY * (ACS_WEBHOOK_MAX_ID_LEN + 1) + 256)

static void set_err(char *err, const char *fmt, ...) ACS_PRINTF(2, 3);

static void set_err(char *err, const char *fmt, ...)
{
	if (!err)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, ACS_ERR_LEN, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------------ */
/* Constant-time checks                                                      */
/* ------------------------------------------------------------------------ */

/* Compare two byte strings without leaking content or length: both are
 * hashed to fixed-size digests first, then compared in constant time. */
static bool ct_equal(const void *a, size_t an, const void *b, size_t bn)
{
	unsigned char da[DIGEST_LEN], db[DIGEST_LEN];
	crypto_generichash(da, sizeof(da), a, an, NULL, 0);
	crypto_generichash(db, sizeof(db), b, bn, NULL, 0);
	return sodium_memcmp(da, db, sizeof(da)) == 0;
}

/* Decode "Basic <base64>" and compare user and password. Both comparisons
 * always run, so timing does not tell which of the two was wrong. */
static bool basic_ok(const char *hdr, const char *user, const char *pass)
{
	if (!hdr || strncasecmp(hdr, "Basic", 5) != 0 || (hdr[5] != ' ' && hdr[5] != '\t'))
		return false;
	const char *b64 = hdr + 5;
	while (*b64 == ' ' || *b64 == '\t')
		b64++;
	size_t n = strnlen(b64, MAX_AUTH_B64 + 1);
	while (n && (b64[n - 1] == ' ' || b64[n - 1] == '\t'))
		n--;
	if (n == 0 || n > MAX_AUTH_B64)
		return false;

	unsigned char bin[MAX_AUTH_B64];
	size_t bin_len = 0;
	const char *end = NULL;
	bool ok = sodium_base642bin(bin, sizeof(bin), b64, n, NULL, &bin_len, &end,
				    sodium_base64_VARIANT_ORIGINAL) == 0 &&
		  end == b64 + n;
	if (!ok) /* some senders drop the padding */
		ok = sodium_base642bin(bin, sizeof(bin), b64, n, NULL, &bin_len, &end,
				       sodium_base64_VARIANT_ORIGINAL_NO_PADDING) == 0 &&
		     end == b64 + n;
	if (!ok)
		return false;
	const unsigned char *colon = memchr(bin, ':', bin_len);
	if (!colon) {
		sodium_memzero(bin, sizeof(bin));
		return false;
	}
	size_t ulen = (size_t)(colon - bin);
	bool u = ct_equal(bin, ulen, user, strlen(user));
	bool p = ct_equal(colon + 1, bin_len - ulen - 1, pass, strlen(pass));
	sodium_memzero(bin, sizeof(bin));
	return u & p;
}

bool acs_webhook_ado_authorized(const char *authorization_header, const char *custom_header_value,
				const struct acs_webhook_ado_auth *cfg)
{
	if (!cfg || sodium_init() < 0)
		return false;
	bool basic_on = cfg->password && *cfg->password;
	bool header_on = cfg->header_secret && *cfg->header_secret;
	bool ok = false;
	if (basic_on)
		ok |= basic_ok(authorization_header, cfg->username ? cfg->username : "",
			       cfg->password);
	if (header_on && custom_header_value)
		ok |= ct_equal(custom_header_value, strlen(custom_header_value), cfg->header_secret,
			       strlen(cfg->header_secret));
	return ok;
}

bool acs_webhook_clickup_signature_ok(const void *body, size_t len, const char *signature_hex,
				      const char *secret)
{
	unsigned char want[crypto_auth_hmacsha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
	const size_t hexlen = 2 * sizeof(want);
	if (!signature_hex || !secret || !*secret || (!body && len) || sodium_init() < 0)
		return false;
	if (strnlen(signature_hex, hexlen + 1) != hexlen)
		return false;
	size_t bin_len = 0;
	const char *end = NULL;
	/* sodium_hex2bin accepts both cases and runs in constant time. */
	if (sodium_hex2bin(want, sizeof(want), signature_hex, hexlen, NULL, &bin_len, &end) != 0 ||
	    bin_len != sizeof(want) || end != signature_hex + hexlen)
		return false;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	if (len)
		crypto_auth_hmacsha256_update(&st, body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
	return sodium_memcmp(mac, want, sizeof(mac)) == 0;
}

/* ------------------------------------------------------------------------ */
/* Small parsing helpers                                                     */
/* ------------------------------------------------------------------------ */

static int load(const char *body, size_t len, json_t **root, char *err)
{
	*root = NULL;
	if (len > ACS_WEBHOOK_MAX_BODY) {
		set_err(err, "body of %zu bytes exceeds %u", len, ACS_WEBHOOK_MAX_BODY);
		return ACS_ETOOBIG;
	}
	if (!body || !len) {
		set_err(err, "empty body");
		return ACS_EPARSE;
	}
	/* The parser stops at the limit: a hostile body never makes it recurse deep. */
	json_error_t jerr;
	*root = acs_json_loadb_depth(body, len, JSON_REJECT_DUPLICATES, ACS_WEBHOOK_MAX_DEPTH,
				     &jerr);
	if (!*root && json_error_code(&jerr) == json_error_stack_overflow) {
		set_err(err, "JSON nested deeper than %d", ACS_WEBHOOK_MAX_DEPTH);
		return ACS_EPARSE;
	}
	if (!*root) {
		set_err(err, "invalid JSON at line %d column %d: %s", jerr.line, jerr.column,
			jerr.text);
		return ACS_EPARSE;
	}
	return 0;
}

static char *trimmed_dup(const char *s, size_t n)
{
	while (n && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n ? acs_xstrndup(s, n) : NULL;
}

/* Optional string member: absent or null leaves *out NULL; any other type
 * than a string is an error. */
static int opt_str(const json_t *obj, const char *key, char **out, char *err)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		set_err(err, "%s: expected a string", key);
		return ACS_EPARSE;
	}
	free(*out);
	*out = acs_xstrndup(json_string_value(v), json_string_length(v));
	return 0;
}

/* Ids become parts of keys and URL paths: keep them short and plain. */
static bool id_chars_ok(const char *s, size_t n)
{
	if (n == 0 || n > ACS_WEBHOOK_MAX_ID_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_' && c != '.')
			return false;
	}
	return true;
}

/* An opaque id sent as a string or a JSON integer (ClickUp is not
 * consistent about which); returns a heap string or NULL when invalid. */
static char *id_value(const json_t *v)
{
	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return NULL;
		return acs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	}
	if (!json_is_string(v) || !id_chars_ok(json_string_value(v), json_string_length(v)))
		return NULL;
	return acs_xstrdup(json_string_value(v));
}

/* Optional id member: absent/null -> 0 with *out untouched. */
static int opt_id(const json_t *obj, const char *key, char **out, char *err)
{
	const json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v))
		return 0;
	char *s = id_value(v);
	if (!s) {
		set_err(err, "%s: not a valid id", key);
		return ACS_EPARSE;
	}
	free(*out);
	*out = s;
	return 0;
}

/* Optional integer member: absent/null -> *present false. */
static int opt_int(const json_t *obj, const char *key, int64_t *out, bool *present, char *err)
{
	const json_t *v = json_object_get(obj, key);
	*present = false;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v)) {
		set_err(err, "%s: expected an integer", key);
		return ACS_EPARSE;
	}
	*out = json_integer_value(v);
	*present = true;
	return 0;
}

static const char *fixed_digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return NULL;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return s + n;
}

/* ISO-8601 as ADO sends it: "2026-01-13T12:08:42.48Z", any number of
 * fractional digits (ms kept), "Z" or a "+HH:MM" offset. */
ACS_STATIC int acs__webhook_iso_to_ms(const char *s, int64_t *ms)
{
	int y, mo, d, hh, mi, ss = 0, frac = 0;
	if (!(s = fixed_digits(s, 4, &y)) || *s++ != '-' || !(s = fixed_digits(s, 2, &mo)) ||
	    *s++ != '-' || !(s = fixed_digits(s, 2, &d)) || (*s != 'T' && *s != 't'))
		return ACS_EPARSE;
	s++;
	if (!(s = fixed_digits(s, 2, &hh)) || *s++ != ':' || !(s = fixed_digits(s, 2, &mi)))
		return ACS_EPARSE;
	if (*s == ':' && !(s = fixed_digits(s + 1, 2, &ss)))
		return ACS_EPARSE;
	if (*s == '.') {
		int n = 0;
		for (s++; isdigit((unsigned char)*s); s++, n++)
			if (n < 3)
				frac = frac * 10 + (*s - '0');
		if (n == 0)
			return ACS_EPARSE;
		for (; n < 3; n++)
			frac *= 10;
	}
	int off_min = 0;
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		int sign = *s == '-' ? -1 : 1, oh, om = 0;
		if (!(s = fixed_digits(s + 1, 2, &oh)))
			return ACS_EPARSE;
		if (*s == ':')
			s++;
		if (*s && !(s = fixed_digits(s, 2, &om)))
			return ACS_EPARSE;
		off_min = sign * (oh * 60 + om);
	} else {
		return ACS_EPARSE;
	}
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mi > 59 || ss > 60)
		return ACS_EPARSE;
	int64_t secs = acs_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 +
		       mi * 60 + ss;
	*ms = (secs - (int64_t)off_min * 60) * 1000 + frac;
	return 0;
}

/* ClickUp's Unix-ms timestamps: a digit string or an integer. */
static int ms_value(const json_t *v, int64_t *ms)
{
	if (json_is_integer(v)) {
		*ms = json_integer_value(v);
		return *ms >= 0 ? 0 : ACS_EPARSE;
	}
	if (!json_is_string(v))
		return ACS_EPARSE;
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (n == 0 || n > 18)
		return ACS_EPARSE;
	int64_t r = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return ACS_EPARSE;
		r = r * 10 + (s[i] - '0');
	}
	*ms = r;
	return 0;
}

/* "Display Name <unique@name>" (ADO service hooks); a bare name otherwise. */
static void identity_from_string(const char *s, char **name, char **email)
{
	size_t n = strlen(s);
	const char *lt = strrchr(s, '<');
	if (lt && n && s[n - 1] == '>') {
		*email = trimmed_dup(lt + 1, (size_t)(s + n - 1 - (lt + 1)));
		*name = trimmed_dup(s, (size_t)(lt - s));
	} else {
		*name = trimmed_dup(s, n);
	}
}

/* A list of heap strings with a ceiling and without duplicates. */
struct strlist {
	char **v;
	size_t n;
	size_t max;
	bool truncated;
};

static bool strlist_has(const struct strlist *l, const char *s)
{
	for (size_t i = 0; i < l->n; i++)
		if (!strcmp(l->v[i], s))
			return true;
	return false;
}

/* Takes ownership of s. */
static void strlist_add(struct strlist *l, char *s)
{
	if (strlist_has(l, s)) {
		free(s);
		return;
	}
	if (l->n >= l->max) {
		l->truncated = true;
		free(s);
		return;
	}
	l->v = acs_xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	l->v[l->n++] = s;
}

static void strlist_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void acs_webhook_event_deinit(struct acs_webhook_event *ev)
{
	if (!ev)
		return;
	free(ev->event_name);
	free(ev->event_key);
	free(ev->item_id);
	free(ev->ado_project);
	free(ev->ado_project_id);
	free(ev->ado_area_path);
	free(ev->ado_work_item_type);
	free(ev->ado_subscription_id);
	free(ev->clickup_webhook_id);
	free(ev->clickup_list_id);
	strlist_free(ev->clickup_history_ids, ev->n_clickup_history_ids);
	strlist_free(ev->changed_fields, ev->n_changed_fields);
	free(ev->actor_id);
	free(ev->actor_name);
	free(ev->actor_email);
	free(ev->comment_id);
	free(ev->comment_text);
	memset(ev, 0, sizeof(*ev));
}

/* ------------------------------------------------------------------------ */
/* Azure DevOps                                                              */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum acs_webhook_type type;
} ado_events[] = {
	{ "workitem.created", ACS_WEBHOOK_CREATED },
	{ "workitem.updated", ACS_WEBHOOK_UPDATED },
	{ "workitem.deleted", ACS_WEBHOOK_DELETED },
	{ "workitem.restored", ACS_WEBHOOK_RESTORED },
	{ "workitem.commented", ACS_WEBHOOK_COMMENTED },
};

/* Fields every save touches: reporting them would make every update look
 * like a change of these, so the engine would learn nothing. */
static const char *const ado_bookkeeping[] = {
	"System.Rev",	    "System.AuthorizedDate", "System.RevisedDate",  "System.ChangedDate",
	"System.ChangedBy", "System.Watermark",	     "System.AuthorizedAs", "System.PersonId",
};

static bool ado_is_bookkeeping(const char *ref)
{
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_bookkeeping); i++)
		if (!strcmp(ref, ado_bookkeeping[i]))
			return true;
	return false;
}

static const json_t *obj_member(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_object(v) ? v : NULL;
}

static int ado_actor(const json_t *resource, const json_t *fields, bool updated,
		     struct acs_webhook_event *out, char *err)
{
	const json_t *rb = updated ? json_object_get(resource, "revisedBy") : NULL;
	if (rb && !json_is_null(rb)) {
		if (!json_is_object(rb)) {
			set_err(err, "resource.revisedBy: expected an object");
			return ACS_EPARSE;
		}
		int rc;
		if ((rc = opt_str(rb, "uniqueName", &out->actor_email, err)) ||
		    (rc = opt_str(rb, "displayName", &out->actor_name, err)) ||
		    (rc = opt_str(rb, "id", &out->actor_id, err)))
			return rc;
		/* Some captures carry only "name": "Display Name <email>". */
		const char *nm = json_string_value(json_object_get(rb, "name"));
		if (nm && (!out->actor_email || !out->actor_name)) {
			char *n = NULL, *e = NULL;
			identity_from_string(nm, &n, &e);
			if (!out->actor_name)
				out->actor_name = n, n = NULL;
			if (!out->actor_email)
				out->actor_email = e, e = NULL;
			free(n);
			free(e);
		}
		return 0;
	}
	const json_t *cb = json_object_get(fields, "System.ChangedBy");
	if (!cb || json_is_null(cb))
		return 0;
	if (json_is_string(cb)) {
		identity_from_string(json_string_value(cb), &out->actor_name, &out->actor_email);
		return 0;
	}
	if (json_is_object(cb)) { /* IdentityRef, should a future version send one */
		int rc;
		if ((rc = opt_str(cb, "uniqueName", &out->actor_email, err)) ||
		    (rc = opt_str(cb, "displayName", &out->actor_name, err)) ||
		    (rc = opt_str(cb, "id", &out->actor_id, err)))
			return rc;
		return 0;
	}
	set_err(err, "System.ChangedBy: expected a string");
	return ACS_EPARSE;
}

static int ado_changed_fields(const json_t *resource, enum acs_webhook_type type,
			      struct acs_webhook_event *out, char *err)
{
	struct strlist l = { .max = ACS_WEBHOOK_MAX_FIELDS };
	if (type == ACS_WEBHOOK_UPDATED) {
		const json_t *f = json_object_get(resource, "fields");
		if (f && !json_is_object(f)) {
			set_err(err, "resource.fields: expected an object");
			return ACS_EPARSE;
		}
		const char *ref;
		const json_t *v;
		json_object_foreach((json_t *)f, ref, v)
		{
			if (strlen(ref) > MAX_NAME_LEN) {
				strlist_free(l.v, l.n);
				set_err(err, "resource.fields: field name too long");
				return ACS_EPARSE;
			}
			if (!ado_is_bookkeeping(ref))
				strlist_add(&l, acs_xstrdup(ref));
		}
		const json_t *rel = json_object_get(resource, "relations");
		if (json_is_object(rel) && json_object_size(rel))
			strlist_add(&l, acs_xstrdup("relations"));
	} else if (type == ACS_WEBHOOK_COMMENTED) {
		strlist_add(&l, acs_xstrdup("System.History"));
	}
	out->changed_fields = l.v;
	out->n_changed_fields = l.n;
	out->changed_fields_truncated = l.truncated;
	return 0;
}

static int ado_comment(const json_t *resource, const json_t *fields, struct acs_webhook_event *out,
		       char *err)
{
	int rc;
	out->comment_is_html = true;
	if ((rc = opt_str(fields, "System.History", &out->comment_text, err)))
		return rc;
	const json_t *ref = json_object_get(resource, "commentVersionRef");
	if (!ref || json_is_null(ref))
		return 0;
	if (!json_is_object(ref)) {
		set_err(err, "resource.commentVersionRef: expected an object");
		return ACS_EPARSE;
	}
	bool present;
	if ((rc = opt_id(ref, "commentId", &out->comment_id, err)) ||
	    (rc = opt_int(ref, "version", &out->comment_version, &present, err)))
		return rc;
	return 0;
}

json_t *acs_webhook_ado_revision_fields(json_t *root)
{
	json_t *res = json_object_get(root, "resource");
	const char *et = json_string_value(json_object_get(root, "eventType"));
	json_t *f;
	if (et && !strcmp(et, "workitem.updated"))
		f = json_object_get(json_object_get(res, "revision"), "fields");
	else
		f = json_object_get(res, "fields");
	return json_is_object(f) ? f : NULL;
}

static int ado_parse(const json_t *root, struct acs_webhook_event *out, char *err)
{
	int rc;
	if (!json_is_object(root)) {
		set_err(err, "body is not a JSON object");
		return ACS_EPARSE;
	}
	const json_t *et = json_object_get(root, "eventType");
	if (!json_is_string(et) || !json_string_length(et) ||
	    json_string_length(et) > MAX_NAME_LEN) {
		set_err(err, "eventType missing or not a string");
		return ACS_EPARSE;
	}
	out->event_name = acs_xstrdup(json_string_value(et));
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_events); i++)
		if (!strcmp(out->event_name, ado_events[i].name))
			out->type = ado_events[i].type;
	if (out->type == ACS_WEBHOOK_UNKNOWN) {
		set_err(err, "unsupported ADO event type \"%s\"", out->event_name);
		return ACS_WEBHOOK_EIGNORED;
	}
	if ((rc = opt_str(root, "subscriptionId", &out->ado_subscription_id, err)))
		return rc;
	const json_t *proj = obj_member(obj_member(root, "resourceContainers"), "project");
	if ((rc = opt_str(proj, "id", &out->ado_project_id, err)))
		return rc;

	const json_t *res = json_object_get(root, "resource");
	if (!json_is_object(res)) {
		set_err(err, "resource missing or not an object");
		return ACS_EPARSE;
	}
	bool updated = out->type == ACS_WEBHOOK_UPDATED;
	/* A WorkItemUpdate's own id is the update number (trap 3): the item
	 * id is workItemId, or revision.id, and the fields sit in revision. */
	const json_t *src = res;
	if (updated) {
		const json_t *rv = json_object_get(res, "revision");
		if (rv && !json_is_null(rv) && !json_is_object(rv)) {
			set_err(err, "resource.revision: expected an object");
			return ACS_EPARSE;
		}
		src = rv;
	}
	int64_t id = 0, rev = 0;
	bool has_id = false, has_rev = false;
	if (updated) {
		if ((rc = opt_int(res, "workItemId", &id, &has_id, err)))
			return rc;
		if (!has_id && src && (rc = opt_int(src, "id", &id, &has_id, err)))
			return rc;
		if (src && (rc = opt_int(src, "rev", &rev, &has_rev, err)))
			return rc;
		if (!has_rev && (rc = opt_int(res, "rev", &rev, &has_rev, err)))
			return rc;
	} else {
		if ((rc = opt_int(res, "id", &id, &has_id, err)) ||
		    (rc = opt_int(res, "rev", &rev, &has_rev, err)))
			return rc;
	}
	if (!has_id || id <= 0) {
		set_err(err, "work item id missing");
		return ACS_EPARSE;
	}
	if (!has_rev || rev <= 0) {
		set_err(err, "work item rev missing");
		return ACS_EPARSE;
	}
	out->ado_id = id;
	out->ado_rev = rev;
	out->item_id = acs_xasprintf("%" PRId64, id);

	const json_t *fields = src ? json_object_get(src, "fields") : NULL;
	if (fields && !json_is_null(fields) && !json_is_object(fields)) {
		set_err(err, "fields: expected an object");
		return ACS_EPARSE;
	}
	if (!json_is_object(fields))
		fields = NULL;
	if ((rc = opt_str(fields, "System.TeamProject", &out->ado_project, err)) ||
	    (rc = opt_str(fields, "System.AreaPath", &out->ado_area_path, err)) ||
	    (rc = opt_str(fields, "System.WorkItemType", &out->ado_work_item_type, err)))
		return rc;

	char *when = NULL;
	if ((rc = opt_str(fields, "System.ChangedDate", &when, err)))
		return rc;
	if (when && acs__webhook_iso_to_ms(when, &out->changed_at_ms)) {
		set_err(err, "System.ChangedDate: bad date \"%.64s\"", when);
		free(when);
		return ACS_EPARSE;
	}
	free(when);
	const char *event_id = json_string_value(json_object_get(root, "id"));
	if (out->type == ACS_WEBHOOK_DELETED) {
		/* A delete leaves ChangedDate at the previous edit: the time the
		 * event was raised is the better clock for "newest wins". */
		int64_t ms;
		const char *cd = json_string_value(json_object_get(root, "createdDate"));
		if (cd && !acs__webhook_iso_to_ms(cd, &ms))
			out->changed_at_ms = ms;
	}

	if ((rc = ado_actor(res, fields, updated, out, err)) ||
	    (rc = ado_changed_fields(res, out->type, out, err)))
		return rc;
	if (out->type == ACS_WEBHOOK_COMMENTED && (rc = ado_comment(res, fields, out, err)))
		return rc;

	if ((out->type == ACS_WEBHOOK_DELETED || out->type == ACS_WEBHOOK_RESTORED) && event_id &&
	    id_chars_ok(event_id, strlen(event_id)))
		out->event_key = acs_xasprintf("ado:%" PRId64 ":%" PRId64 ":%s:%s", id, rev,
					       out->event_name, event_id);
	else
		out->event_key =
			acs_xasprintf("ado:%" PRId64 ":%" PRId64 ":%s", id, rev, out->event_name);
	return 0;
}

int acs_webhook_parse_ado_json(const json_t *root, struct acs_webhook_event *out,
			       char err[ACS_ERR_LEN])
{
	memset(out, 0, sizeof(*out));
	out->source = ACS_WEBHOOK_SOURCE_ADO;
	return ado_parse(root, out, err);
}

int acs_webhook_parse_ado(const char *body, size_t len, struct acs_webhook_event *out,
			  char err[ACS_ERR_LEN])
{
	json_t *root;
	memset(out, 0, sizeof(*out));
	out->source = ACS_WEBHOOK_SOURCE_ADO;
	int rc = load(body, len, &root, err);
	if (rc)
		return rc;
	rc = ado_parse(root, out, err);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* ClickUp                                                                   */
/* ------------------------------------------------------------------------ */

static const struct {
	const char *name;
	enum acs_webhook_type type;
} clickup_events[] = {
	{ "taskCreated", ACS_WEBHOOK_CREATED },
	{ "taskUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskDeleted", ACS_WEBHOOK_DELETED },
	{ "taskPriorityUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskStatusUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskAssigneeUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskDueDateUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskTagUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskMoved", ACS_WEBHOOK_UPDATED },
	{ "taskTimeEstimateUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskTimeTrackedUpdated", ACS_WEBHOOK_UPDATED },
	{ "taskCommentPosted", ACS_WEBHOOK_COMMENTED },
	{ "taskCommentUpdated", ACS_WEBHOOK_COMMENT_UPDATED },
};

/* The comment of a history item: comment.id (string or number) or, failing
 * that, "after"; the text is text_content, else the joined rich blocks. */
static int clickup_comment(const json_t *item, struct acs_webhook_event *out, char *err)
{
	const json_t *c = json_object_get(item, "comment");
	int rc;
	if (c && !json_is_null(c) && !json_is_object(c)) {
		set_err(err, "history item comment: expected an object");
		return ACS_EPARSE;
	}
	if (json_is_object(c)) {
		if ((rc = opt_id(c, "id", &out->comment_id, err)) ||
		    (rc = opt_str(c, "text_content", &out->comment_text, err)))
			return rc;
		const json_t *blocks = json_object_get(c, "comment");
		if (!out->comment_text && json_is_array(blocks)) {
			struct acs_buf b;
			size_t i;
			const json_t *blk;
			acs_buf_init(&b, ACS_WEBHOOK_MAX_BODY);
			json_array_foreach(blocks, i, blk)
			{
				const char *t = json_string_value(json_object_get(blk, "text"));
				if (t && acs_buf_appends(&b, t))
					break;
			}
			out->comment_text = acs_buf_steal(&b, NULL);
		}
	}
	if (!out->comment_id && (rc = opt_id(item, "after", &out->comment_id, err)))
		return rc;
	return 0;
}

static int clickup_user(const json_t *item, struct acs_webhook_event *out, char *err)
{
	const json_t *u = json_object_get(item, "user");
	int rc;
	if (!u || json_is_null(u))
		return 0;
	if (!json_is_object(u)) {
		set_err(err, "history item user: expected an object");
		return ACS_EPARSE;
	}
	if ((rc = opt_id(u, "id", &out->actor_id, err)) ||
	    (rc = opt_str(u, "username", &out->actor_name, err)) ||
	    (rc = opt_str(u, "email", &out->actor_email, err)))
		return rc;
	return 0;
}

static int clickup_items(const json_t *items, struct acs_webhook_event *out, char *err)
{
	struct strlist ids = { .max = ACS_WEBHOOK_MAX_HISTORY };
	struct strlist fields = { .max = ACS_WEBHOOK_MAX_FIELDS };
	size_t i, n_comment = 0;
	const json_t *it;
	int rc = 0;
	json_array_foreach(items, i, it)
	{
		if (!json_is_object(it)) {
			set_err(err, "history_items[%zu]: expected an object", i);
			rc = ACS_EPARSE;
			break;
		}
		char *hid = id_value(json_object_get(it, "id"));
		if (!hid) {
			set_err(err, "history_items[%zu].id missing or invalid", i);
			rc = ACS_EPARSE;
			break;
		}
		strlist_add(&ids, hid);

		const json_t *d = json_object_get(it, "date");
		int64_t ms;
		if (d && !json_is_null(d)) {
			if (ms_value(d, &ms)) {
				set_err(err, "history_items[%zu].date: not a ms timestamp", i);
				rc = ACS_EPARSE;
				break;
			}
			if (ms > out->changed_at_ms)
				out->changed_at_ms = ms;
		}
		if (i == 0 && ((rc = clickup_user(it, out, err)) ||
			       (!out->clickup_list_id &&
				(rc = opt_id(it, "parent_id", &out->clickup_list_id, err)))))
			break;

		char *field = NULL;
		if ((rc = opt_str(it, "field", &field, err)))
			break;
		if (!field)
			continue;
		if (strlen(field) > MAX_NAME_LEN) {
			free(field);
			set_err(err, "history_items[%zu].field too long", i);
			rc = ACS_EPARSE;
			break;
		}
		if (!strcmp(field, "custom_field")) {
			const json_t *cf = json_object_get(it, "custom_field");
			char *cfid = id_value(json_object_get(cf, "id"));
			if (cfid) {
				free(field);
				field = acs_xasprintf("custom_field:%s", cfid);
				free(cfid);
			}
		}
		if (!strcmp(field, "comment")) {
			n_comment++;
			if (!out->comment_id && (rc = clickup_comment(it, out, err))) {
				free(field);
				break;
			}
		}
		strlist_add(&fields, field);
	}
	out->clickup_history_ids = ids.v;
	out->n_clickup_history_ids = ids.n;
	out->changed_fields = fields.v;
	out->n_changed_fields = fields.n;
	out->changed_fields_truncated = fields.truncated;
	if (rc)
		return rc;
	/* taskUpdated is also the twin of taskCommentPosted/Updated: name it a
	 * comment so that whichever copy wins the dedup, the comment is seen. */
	if (out->type == ACS_WEBHOOK_UPDATED && !strcmp(out->event_name, "taskUpdated") &&
	    n_comment && n_comment == json_array_size(items))
		out->type = ACS_WEBHOOK_COMMENTED;
	return 0;
}

static int clickup_parse(const json_t *root, struct acs_webhook_event *out, char *err)
{
	int rc;
	if (!json_is_object(root)) {
		set_err(err, "body is not a JSON object");
		return ACS_EPARSE;
	}
	const json_t *ev = json_object_get(root, "event");
	if (!json_is_string(ev) || !json_string_length(ev) ||
	    json_string_length(ev) > MAX_NAME_LEN) {
		set_err(err, "event missing or not a string");
		return ACS_EPARSE;
	}
	out->event_name = acs_xstrdup(json_string_value(ev));
	for (size_t i = 0; i < ACS_ARRAY_SIZE(clickup_events); i++)
		if (!strcmp(out->event_name, clickup_events[i].name))
			out->type = clickup_events[i].type;
	if (out->type == ACS_WEBHOOK_UNKNOWN) {
		set_err(err, "unsupported ClickUp event \"%s\"", out->event_name);
		return ACS_WEBHOOK_EIGNORED;
	}
	if ((rc = opt_id(root, "task_id", &out->item_id, err)) ||
	    (rc = opt_id(root, "webhook_id", &out->clickup_webhook_id, err)) ||
	    (rc = opt_id(root, "list_id", &out->clickup_list_id, err)))
		return rc;
	if (!out->item_id) {
		set_err(err, "task_id missing");
		return ACS_EPARSE;
	}
	const json_t *items = json_object_get(root, "history_items");
	bool deleted = out->type == ACS_WEBHOOK_DELETED;
	if (items && !json_is_null(items) && !json_is_array(items)) {
		set_err(err, "history_items: expected an array");
		return ACS_EPARSE;
	}
	size_t n = json_array_size(items);
	if (!n && !deleted) {
		set_err(err, "history_items missing or empty");
		return ACS_EPARSE;
	}
	if (n > ACS_WEBHOOK_MAX_HISTORY) {
		set_err(err, "%zu history items (at most %d)", n, ACS_WEBHOOK_MAX_HISTORY);
		return ACS_EPARSE;
	}
	if (n && (rc = clickup_items(items, out, err)))
		return rc;

	if (!out->n_clickup_history_ids) {
		out->event_key = acs_xasprintf("clickup:%s:deleted", out->item_id);
		return 0;
	}
	/* Sorted so that the same set of items gives the same key in any order. */
	char **sorted = acs_xmalloc(out->n_clickup_history_ids * sizeof(*sorted));
	memcpy(sorted, out->clickup_history_ids, out->n_clickup_history_ids * sizeof(*sorted));
	qsort(sorted, out->n_clickup_history_ids, sizeof(*sorted), cmp_str);
	struct acs_buf b;
	acs_buf_init(&b, MAX_KEY_LEN);
	rc = acs_buf_printf(&b, "clickup:%s:", out->item_id);
	for (size_t i = 0; !rc && i < out->n_clickup_history_ids; i++)
		rc = acs_buf_printf(&b, "%s%s", i ? "," : "", sorted[i]);
	free(sorted);
	if (rc) { /* cannot happen: every part is bounded above */
		set_err(err, "event key too long");
		return ACS_EPARSE;
	}
	out->event_key = acs_buf_steal(&b, NULL);
	return 0;
}

int acs_webhook_parse_clickup_json(const json_t *root, struct acs_webhook_event *out,
				   char err[ACS_ERR_LEN])
{
	memset(out, 0, sizeof(*out));
	out->source = ACS_WEBHOOK_SOURCE_CLICKUP;
	return clickup_parse(root, out, err);
}

int acs_webhook_parse_clickup(const char *body, size_t len, struct acs_webhook_event *out,
			      char err[ACS_ERR_LEN])
{
	json_t *root;
	memset(out, 0, sizeof(*out));
	out->source = ACS_WEBHOOK_SOURCE_CLICKUP;
	int rc = load(body, len, &root, err);
	if (rc)
		return rc;
	rc = clickup_parse(root, out, err);
	json_decref(root);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

const char *acs_webhook_type_name(enum acs_webhook_type type)
{
	switch (type) {
	case ACS_WEBHOOK_CREATED:
		return "created";
	case ACS_WEBHOOK_UPDATED:
		return "updated";
	case ACS_WEBHOOK_DELETED:
		return "deleted";
	case ACS_WEBHOOK_RESTORED:
		return "restored";
	case ACS_WEBHOOK_COMMENTED:
		return "commented";
	case ACS_WEBHOOK_COMMENT_UPDATED:
		return "comment_updated";
	case ACS_WEBHOOK_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *acs_webhook_source_name(enum acs_webhook_source source)
{
	switch (source) {
	case ACS_WEBHOOK_SOURCE_ADO:
		return "ado";
	case ACS_WEBHOOK_SOURCE_CLICKUP:
		return "clickup";
	case ACS_WEBHOOK_SOURCE_NONE:
		break;
	}
	return "none";
}
