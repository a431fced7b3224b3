/* SPDX-License-Identifier: MIT */
/* ClickUp API v2 simulator: state kept as jansson documents in the exact
 * read shapes of shared/api/clickup.md, handlers for the REST paths, and the
 * webhook deliveries (events, history items, X-Signature, health).
 *
 * CHOICES where clickup.md says UNCONFIRMED (stricter reading unless noted)
 *   - Unknown ids answer not_found_status (404 by default, seed can say 401)
 *     with {"err": "Task not found", "ECODE": "ITEM_013"} (other objects use
 *     codes prefixed SIM_: invented, the real codes are not documented).
 *   - Validation errors are 400 {"err", "ECODE"} with SIM_ codes, except the
 *     documented OAUTH_017/025/027/171 and APP_002.
 *   - X-RateLimit-* on every authenticated response; Reset in Unix seconds;
 *     fixed one-minute window per token starting at its first request; no
 *     Retry-After on 429.
 *   - POST comment answers "id" as a number (real capture), seed knob
 *     comment_id_number=false gives the SPEC's string.
 *   - markdown_description is not accepted on write (only markdown_content).
 *   - tags/custom_fields in PUT /task are ignored, as the real API does.
 *   - Clearing priority/due_date with null is accepted (lenient).
 *   - Status names match case-insensitively (lenient, as the app does).
 *   - Removal history items: field "assignee_rem" (before = user, no after),
 *     "tag_removed" (before = [tag], after null).
 *   - Moving a task: API v3's PUT .../tasks/{id}/home_list/{list_id} (v2 has none);
 *     taskMoved goes to the webhooks of the task's old location.
 *   - Webhook PUT needs endpoint, events and status (SPEC: all required);
 *     only status "active" is accepted. Unknown event names are rejected.
 *   - A failed event is tried 5 times in all (not 1 + 5 retries); retries
 *     wait retry_delay_ms doubling. Comment posting and attachments do not
 *     bump date_updated.
 */
#include "sim_clickup.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"
#include "router.h"

#define CU_PAGE_TASKS 100
#define CU_PAGE_COMMENTS 25
#define CU_WINDOW_MS 60000

static const char *const cu_events[] = {
	"taskCreated",
	"taskUpdated",
	"taskDeleted",
	"taskPriorityUpdated",
	"taskStatusUpdated",
	"taskAssigneeUpdated",
	"taskDueDateUpdated",
	"taskTagUpdated",
	"taskMoved",
	"taskCommentPosted",
	"taskCommentUpdated",
	"taskTimeEstimateUpdated",
	"taskTimeTrackedUpdated",
	"listCreated",
	"listUpdated",
	"listDeleted",
	"folderCreated",
	"folderUpdated",
	"folderDeleted",
	"spaceCreated",
	"spaceUpdated",
	"spaceDeleted",
	"goalCreated",
	"goalUpdated",
	"goalDeleted",
	"keyResultCreated",
	"keyResultUpdated",
	"keyResultDeleted",
};

/* Uploaded attachment bytes, served back at the attachment url. */
struct cu_blob {
	char *uuid;
	char *mimetype;
	char *data;
	size_t len;
	struct cu_blob *next; /**< sim_clickup::blobs */
};

struct sim_clickup {
	struct sim *sim;
	struct sim_service *svc;
	json_t *cfg; /**< the seed's "clickup" part (borrowed) */
	/* settings */
	const char *token;
	json_int_t token_user;
	long rate_limit;
	long rate_limit_cli; /**< --clickup-rate-limit, 0 = seed */
	int not_found_status;
	bool comment_id_number;
	unsigned wh_max_attempts;
	unsigned wh_suspend_after;
	uint64_t wh_retry_ms;
	uint64_t wh_timeout_ms;
	char client_id[33];
	/* state, rebuilt from the seed by reset */
	json_t *team;	       /**< {id, name, color} */
	json_t *users;	       /**< "id" -> {id, username, email, color, initials} */
	json_t *spaces;	       /**< [space], GET /team/{id}/space shape */
	json_t *folders;       /**< "id" -> folder (without lists), + "_space" */
	json_t *lists;	       /**< "id" -> list (GET /list shape) */
	json_t *list_order;    /**< [list id] */
	json_t *fields;	       /**< list id -> [custom field definition] */
	json_t *space_tags;    /**< space id -> [{name, tag_fg, tag_bg, creator}] */
	json_t *tasks;	       /**< "id" -> task (GET /task shape incl. markdown_description) */
	json_t *task_order;    /**< [task id], creation order */
	json_t *comments;      /**< "id" -> {"task": id, "c": comment (GET shape)} */
	json_t *webhooks;      /**< "id" -> webhook (GET shape incl. secret, health) */
	json_t *webhook_order; /**< [webhook id] */
	struct cu_blob *blobs;
	uint64_t next_task;
	uint64_t next_comment;
	uint64_t next_hist;
	uint64_t next_orderindex;
	/* rate limit: fixed window per token (one token) */
	uint64_t window_start;
	bool window_open;
	long used;
};

/* --- small helpers --- */

static void cu_err(struct acs_http_req *req, int status, const char *msg, const char *code)
{
	sim_respond_json(req, status, json_pack("{s:s,s:s}", "err", msg, "ECODE", code));
}

static void cu_not_found(struct sim_clickup *cu, struct acs_http_req *req, const char *msg,
			 const char *code)
{
	cu_err(req, cu->not_found_status, msg, code);
}

static json_t *ms_string(uint64_t ms)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, ms);
	return json_string(b);
}

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static json_int_t seed_int(json_t *o, const char *key, json_int_t def)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? json_integer_value(v) : def;
}

/* Id given as a JSON string or integer, as a string (caller frees); NULL otherwise. */
static char *id_string(json_t *v)
{
	if (json_is_string(v))
		return acs_xstrdup(json_string_value(v));
	if (json_is_integer(v))
		return acs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
	return NULL;
}

static bool query_bool(struct acs_http_req *req, const char *name)
{
	const char *v = acs_http_req_query(req, name);
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1"));
}

/* Optional integer query parameter; false when present and malformed. */
static bool query_u64(struct acs_http_req *req, const char *name, uint64_t *out, bool *present)
{
	const char *v = acs_http_req_query(req, name);
	*present = false;
	if (!v)
		return true;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-')
		return false;
	*out = n;
	*present = true;
	return true;
}

/* Every value of a repeated query parameter ("statuses[]=a&statuses[]=b"). */
static json_t *query_all(struct acs_http_req *req, const char *name)
{
	const char *qs = acs_http_req_query_string(req);
	size_t len = strlen(qs);
	char *k = acs_xmalloc(len + 1), *v = acs_xmalloc(len + 1);
	json_t *out = json_array();
	struct acs_router_query_iter it;
	acs_router_query_init(&it, qs, len);
	while (acs_router_query_next(&it, k, len + 1, v, len + 1))
		if (!strcmp(k, name))
			json_array_append_new(out, json_string(v));
	free(k);
	free(v);
	return out;
}

static void initials(const char *name, char out[3])
{
	size_t n = 0;
	bool word = false;
	for (const char *p = name; *p && n < 2; p++) {
		if (isspace((unsigned char)*p)) {
			word = false;
		} else if (!word) {
			out[n++] = (char)toupper((unsigned char)*p);
			word = true;
		}
	}
	out[n] = '\0';
}

/* Markdown to the plain text ClickUp keeps in description/text_content:
 * emphasis and code markers, heading/quote prefixes and link targets go. */
static char *md_to_plain(const char *md)
{
	size_t n = strlen(md);
	char *out = acs_xmalloc(n + 1);
	size_t o = 0;
	bool bol = true;
	for (size_t i = 0; i < n;) {
		if (bol) {
			while (md[i] == '#')
				i++;
			if (i > 0 && md[i - 1] == '#' && md[i] == ' ')
				i++;
			if (md[i] == '>' && md[i + 1] == ' ')
				i += 2;
			bol = false;
			continue;
		}
		if (md[i] == '*' || md[i] == '`' || (md[i] == '_' && md[i + 1] == '_')) {
			i += (md[i] == '_') ? 2 : 1;
			continue;
		}
		if (md[i] == ']' && md[i + 1] == '(') {
			const char *close = strchr(md + i, ')');
			if (close) {
				i = (size_t)(close - md) + 1;
				continue;
			}
		}
		if (md[i] == '[') {
			i++;
			continue;
		}
		if (md[i] == '\n')
			bol = true;
		out[o++] = md[i++];
	}
	out[o] = '\0';
	return out;
}

/* --- users --- */

enum user_shape {
	U_TASK,	   /* assignees, watchers: id, username, color, initials, email, profilePicture */
	U_CREATOR, /* id, username, color, email, profilePicture */
	U_COMMENT, /* id, username, initials, email, color, profilePicture */
	U_HISTORY, /* id, username, email, color, initials, profilePicture */
	U_MEMBER,  /* list/task members: + profileInfo */
	U_TEAM,	   /* GET /team members[].user */
};

static json_t *user_obj(struct sim_clickup *cu, json_int_t id, enum user_shape shape)
{
	char key[24];
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
	json_t *u = json_object_get(cu->users, key);
	if (!u)
		return json_null();
	json_t *name = json_object_get(u, "username"), *email = json_object_get(u, "email");
	json_t *color = json_object_get(u, "color"), *ini = json_object_get(u, "initials");
	switch (shape) {
	case U_TASK:
		return json_pack("{s:I,s:O,s:O,s:O,s:O,s:n}", "id", id, "username", name, "color",
				 color, "initials", ini, "email", email, "profilePicture");
	case U_CREATOR:
		return json_pack("{s:I,s:O,s:O,s:O,s:n}", "id", id, "username", name, "color",
				 color, "email", email, "profilePicture");
	case U_COMMENT:
		return json_pack("{s:I,s:O,s:O,s:O,s:O,s:n}", "id", id, "username", name,
				 "initials", ini, "email", email, "color", color, "profilePicture");
	case U_HISTORY:
		return json_pack("{s:I,s:O,s:O,s:O,s:O,s:n}", "id", id, "username", name, "email",
				 email, "color", color, "initials", ini, "profilePicture");
	case U_MEMBER:
		return json_pack("{s:I,s:O,s:O,s:O,s:O,s:n,s:{s:n,s:n,s:n,s:n,s:n,s:n,s:n}}", "id",
				 id, "username", name, "email", email, "color", color, "initials",
				 ini, "profilePicture", "profileInfo", "display_profile",
				 "verified_ambassador", "verified_consultant", "top_tier_user",
				 "viewed_verified_ambassador", "viewed_verified_consultant",
				 "viewed_top_tier_user");
	case U_TEAM:
		return json_pack("{s:I,s:O,s:O,s:O,s:O,s:n,s:i}", "id", id, "username", name,
				 "email", email, "color", color, "initials", ini, "profilePicture",
				 "role", id == cu->token_user ? 1 : 3);
	}
	return json_null();
}

static bool user_known(struct sim_clickup *cu, json_int_t id)
{
	char key[24];
	snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, id);
	return json_object_get(cu->users, key) != NULL;
}

/* --- priorities and statuses --- */

static json_t *priority_obj(json_int_t p)
{
	static const char *const names[] = { "urgent", "high", "normal", "low" };
	static const char *const colors[] = { "#f50000", "#ffcc00", "#6fddff", "#d8d8d8" };
	if (p < 1 || p > 4)
		return json_null();
	char id[4];
	snprintf(id, sizeof(id), "%d", (int)p);
	return json_pack("{s:s,s:s,s:s,s:s}", "color", colors[p - 1], "id", id, "orderindex", id,
			 "priority", names[p - 1]);
}

/* Webhook items carry the priority with another key order. */
static json_t *priority_hist(json_t *prio)
{
	if (!json_is_object(prio))
		return json_null();
	return json_pack("{s:O,s:O,s:O,s:O}", "id", json_object_get(prio, "id"), "priority",
			 json_object_get(prio, "priority"), "color", json_object_get(prio, "color"),
			 "orderindex", json_object_get(prio, "orderindex"));
}

static json_t *list_statuses(struct sim_clickup *cu, const char *list_id)
{
	return json_object_get(json_object_get(cu->lists, list_id), "statuses");
}

static json_t *status_find(struct sim_clickup *cu, const char *list_id, const char *name)
{
	size_t i;
	json_t *s;
	json_array_foreach(list_statuses(cu, list_id), i, s)
	{
		if (!strcasecmp(jstr(s, "status"), name))
			return s;
	}
	return NULL;
}

/* Task status: {id, status, color, orderindex, type}. */
static json_t *status_task(json_t *s)
{
	return json_pack("{s:O,s:O,s:O,s:O,s:O}", "id", json_object_get(s, "id"), "status",
			 json_object_get(s, "status"), "color", json_object_get(s, "color"),
			 "orderindex", json_object_get(s, "orderindex"), "type",
			 json_object_get(s, "type"));
}

/* Webhook status: {status, color, orderindex, type}. */
static json_t *status_hist(json_t *s)
{
	return json_pack("{s:O,s:O,s:O,s:O}", "status", json_object_get(s, "status"), "color",
			 json_object_get(s, "color"), "orderindex",
			 json_object_get(s, "orderindex"), "type", json_object_get(s, "type"));
}

/* --- webhooks: history items and deliveries --- */

static json_t *hist_item(struct sim_clickup *cu, json_t *task, const char *field, json_t *data,
			 bool has_before, json_t *before, bool has_after, json_t *after)
{
	char id[24];
	snprintf(id, sizeof(id), "%" PRIu64, cu->next_hist++);
	json_t *h = json_pack("{s:s,s:i,s:o,s:s,s:O,s:o,s:n,s:o}", "id", id, "type", 1, "date",
			      ms_string(sim_now_ms(cu->sim)), "field", field, "parent_id",
			      json_object_get(json_object_get(task, "list"), "id"), "data",
			      data ? data : json_object(), "source", "user",
			      user_obj(cu, cu->token_user, U_HISTORY));
	if (has_before)
		json_object_set_new(h, "before", before ? before : json_null());
	else
		json_decref(before);
	if (has_after)
		json_object_set_new(h, "after", after ? after : json_null());
	else
		json_decref(after);
	return h;
}

static bool webhook_wants(json_t *wh, const char *event, json_t *task)
{
	if (strcmp(jstr(json_object_get(wh, "health"), "status"), "suspended") == 0)
		return false;
	bool match = false;
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(wh, "events"), i, e)
	{
		if (!strcmp(json_string_value(e), "*") || !strcmp(json_string_value(e), event))
			match = true;
	}
	if (!match)
		return false;
	const char *tid = jstr(wh, "task_id"), *lid = jstr(wh, "list_id");
	const char *fid = jstr(wh, "folder_id"), *sid = jstr(wh, "space_id");
	if (tid)
		return !strcmp(tid, jstr(task, "id"));
	if (lid)
		return !strcmp(lid, jstr(json_object_get(task, "list"), "id"));
	if (fid)
		return !strcmp(fid, jstr(json_object_get(task, "folder"), "id"));
	if (sid)
		return !strcmp(sid, jstr(json_object_get(task, "space"), "id"));
	return true;
}

/* POST the event to every subscribed webhook; items: the JSON text of the
 * history_items array (len bytes), NULL for none (taskDeleted). The body is
 * written as text: the same bytes as its tree dumped, without the tree. */
static void fire_text(struct sim_clickup *cu, const char *event, json_t *task, const char *items,
		      size_t len)
{
	size_t i;
	json_t *idv;
	json_array_foreach(cu->webhook_order, i, idv)
	{
		const char *whid = json_string_value(idv);
		json_t *wh = json_object_get(cu->webhooks, whid);
		if (!wh || !webhook_wants(wh, event, task))
			continue;
		struct acs_buf b;
		acs_buf_init(&b, SIZE_MAX / 2);
		sim_json_raw(&b, "{\"event\":");
		sim_json_str(&b, event);
		if (items) {
			sim_json_raw(&b, ",\"history_items\":");
			(void)acs_buf_append(&b, items, len);
		}
		sim_json_raw(&b, ",\"task_id\":");
		sim_json_str(&b, jstr(task, "id"));
		sim_json_raw(&b, ",\"webhook_id\":");
		sim_json_str(&b, whid);
		sim_json_raw(&b, "}");
		size_t raw_len = 0;
		char *raw = acs_buf_steal(&b, &raw_len);
		const char *secret = jstr(wh, "secret");
		char sig[65];
		sim_hmac_sha256_hex(secret, strlen(secret), raw, raw_len, sig);
		char sighdr[96];
		snprintf(sighdr, sizeof(sighdr), "X-Signature: %s", sig);
		const char *headers[] = { "Content-Type: application/json", sighdr, NULL };
		const char *endpoint = jstr(wh, "endpoint");
		char *url = strstr(endpoint, "://") ? acs_xstrdup(endpoint)
						    : acs_xasprintf("https://%s", endpoint);
		struct sim_delivery d = {
			.target = whid,
			.url = url,
			.headers = headers,
			.body = raw,
			.body_len = raw_len,
			.timeout_ms = cu->wh_timeout_ms,
			.retry_delay_ms = cu->wh_retry_ms,
		};
		(void)sim_service_deliver(cu->svc, &d);
		free(url);
		free(raw);
	}
}

/* POST the event to every subscribed webhook; items may be NULL (taskDeleted). */
static void fire(struct sim_clickup *cu, const char *event, json_t *task, json_t *items)
{
	if (!items) {
		fire_text(cu, event, task, NULL, 0);
		return;
	}
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	if (sim_json_value(&b, items, NULL))
		fire_text(cu, event, task, b.data, b.len);
	acs_buf_free(&b);
}

/* The specific event of each item, then one taskUpdated with all items
 * (same history ids), as ClickUp pairs them. Each item is written once. */
static void fire_update(struct sim_clickup *cu, json_t *task, json_t *items, json_t *events)
{
	size_t i, n = json_array_size(items);
	json_t *ev;
	if (!n)
		return;
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	size_t *start = acs_xcalloc(n + 1, sizeof(*start));
	sim_json_raw(&b, "[");
	for (i = 0; i < n; i++) {
		if (i)
			sim_json_raw(&b, ",");
		start[i] = b.len;
		if (!sim_json_value(&b, json_array_get(items, i), NULL))
			goto out;
	}
	start[n] = b.len + 1; /* the comma after the last item would be here */
	sim_json_raw(&b, "]");
	json_array_foreach(events, i, ev)
	{
		if (json_is_string(ev) && i >= n) {
			fire_text(cu, json_string_value(ev), task, NULL, 0);
		} else if (json_is_string(ev)) {
			size_t len = start[i + 1] - 1 - start[i];
			char *one = acs_xmalloc(len + 3);
			one[0] = '[';
			memcpy(one + 1, b.data + start[i], len);
			one[len + 1] = ']';
			one[len + 2] = '\0';
			fire_text(cu, json_string_value(ev), task, one, len + 2);
			free(one);
		}
	}
	fire_text(cu, "taskUpdated", task, b.data, b.len);
out:
	free(start);
	acs_buf_free(&b);
}

static enum sim_verdict cu_delivery_done(void *impl, const struct sim_attempt *a)
{
	struct sim_clickup *cu = impl;
	json_t *wh = json_object_get(cu->webhooks, a->target);
	if (!wh)
		return SIM_DELIVERY_DROP_TARGET;
	json_t *health = json_object_get(wh, "health");
	if (a->error == 0 && a->status >= 200 && a->status < 300) {
		json_object_set_new(health, "status", json_string("active"));
		json_object_set_new(health, "fail_count", json_integer(0));
		return SIM_DELIVERY_DONE;
	}
	if (a->error == 0 && (a->status == 401 || a->status == 410)) {
		json_object_set_new(health, "status", json_string("suspended"));
		return SIM_DELIVERY_DROP_TARGET;
	}
	json_object_set_new(health, "status", json_string("failing"));
	if (a->attempt < cu->wh_max_attempts)
		return SIM_DELIVERY_RETRY;
	json_int_t fails = json_integer_value(json_object_get(health, "fail_count")) + 1;
	json_object_set_new(health, "fail_count", json_integer(fails));
	if (fails >= (json_int_t)cu->wh_suspend_after) {
		json_object_set_new(health, "status", json_string("suspended"));
		return SIM_DELIVERY_DROP_TARGET;
	}
	return SIM_DELIVERY_DONE; /* this event is dropped for good */
}

static bool cu_target_live(void *impl, const char *target)
{
	struct sim_clickup *cu = impl;
	json_t *wh = json_object_get(cu->webhooks, target);
	return wh && strcmp(jstr(json_object_get(wh, "health"), "status"), "suspended") != 0;
}

/* --- seed and reset --- */

static void state_free(struct sim_clickup *cu)
{
	json_decref(cu->team);
	json_decref(cu->users);
	json_decref(cu->spaces);
	json_decref(cu->folders);
	json_decref(cu->lists);
	json_decref(cu->list_order);
	json_decref(cu->fields);
	json_decref(cu->space_tags);
	json_decref(cu->tasks);
	json_decref(cu->task_order);
	json_decref(cu->comments);
	json_decref(cu->webhooks);
	json_decref(cu->webhook_order);
	cu->team = cu->users = cu->spaces = cu->folders = cu->lists = cu->list_order = NULL;
	cu->fields = cu->space_tags = cu->tasks = cu->task_order = cu->comments = NULL;
	cu->webhooks = cu->webhook_order = NULL;
	while (cu->blobs) {
		struct cu_blob *b = cu->blobs;
		cu->blobs = b->next;
		free(b->uuid);
		free(b->mimetype);
		free(b->data);
		free(b);
	}
}

static json_t *space_ref(json_t *space)
{
	return json_pack("{s:O,s:O,s:b}", "id", json_object_get(space, "id"), "name",
			 json_object_get(space, "name"), "access", 1);
}

static int add_list(struct sim_clickup *cu, json_t *seed_list, json_t *space, json_t *folder,
		    int orderindex, char err[ACS_ERR_LEN])
{
	char *id = id_string(json_object_get(seed_list, "id"));
	if (!id || !jstr(seed_list, "name")) {
		free(id);
		snprintf(err, ACS_ERR_LEN, "clickup seed: a list needs id and name");
		return ACS_ECONFIG;
	}
	json_t *statuses = json_object_get(seed_list, "statuses");
	bool override = json_is_array(statuses);
	if (!override)
		statuses = json_object_get(space, "statuses");
	json_t *folder_ref;
	if (folder)
		folder_ref = json_pack("{s:O,s:O,s:b,s:b}", "id", json_object_get(folder, "id"),
				       "name", json_object_get(folder, "name"), "hidden", 0,
				       "access", 1);
	else /* folderless lists live in a hidden folder */
		folder_ref = json_pack("{s:s,s:s,s:b,s:b}", "id", id, "name", "hidden", "hidden", 1,
				       "access", 1);
	char *inbound = acs_xasprintf("a.t.%s.sim@tasks.clickup.example", id);
	json_t *list = json_pack(
		"{s:s,s:O,s:i,s:s,s:n,s:n,s:n,s:i,s:n,s:n,s:n,s:n,s:o,s:o,s:s,s:b,s:b,s:o,s:s}",
		"id", id, "name", json_object_get(seed_list, "name"), "orderindex", orderindex,
		"content", "", "status", "priority", "assignee", "task_count", 0, "due_date",
		"due_date_time", "start_date", "start_date_time", "folder", folder_ref, "space",
		space_ref(space), "inbound_address", inbound, "archived", 0, "override_statuses",
		override, "statuses", json_deep_copy(statuses), "permission_level", "create");
	free(inbound);
	json_object_set_new(cu->lists, id, list);
	json_array_append_new(cu->list_order, json_string(id));
	json_t *cf = json_object_get(seed_list, "custom_fields");
	json_object_set_new(cu->fields, id, json_is_array(cf) ? json_deep_copy(cf) : json_array());
	free(id);
	return 0;
}

static int create_task(struct sim_clickup *cu, const char *list_id, json_t *body, bool notify,
		       json_t **out, const char **emsg, const char **ecode);

static int state_load(struct sim_clickup *cu, char err[ACS_ERR_LEN])
{
	json_t *cfg = cu->cfg;
	size_t i, j, k;
	json_t *v, *sp, *fo, *li;

	cu->users = json_object();
	cu->spaces = json_array();
	cu->folders = json_object();
	cu->lists = json_object();
	cu->list_order = json_array();
	cu->fields = json_object();
	cu->space_tags = json_object();
	cu->tasks = json_object();
	cu->task_order = json_array();
	cu->comments = json_object();
	cu->webhooks = json_object();
	cu->webhook_order = json_array();
	cu->next_task = 1000000;
	cu->next_comment = 90110164070000ULL;
	cu->next_hist = 4697731204518300000ULL;
	cu->next_orderindex = 1;
	cu->window_open = false;
	cu->used = 0;

	json_t *team = json_object_get(cfg, "team");
	char *team_id = id_string(json_object_get(team, "id"));
	if (!team_id) {
		snprintf(err, ACS_ERR_LEN, "clickup seed: team.id is required");
		return ACS_ECONFIG;
	}
	cu->team = json_pack("{s:s,s:s,s:s,s:n}", "id", team_id, "name",
			     jstr(team, "name") ? jstr(team, "name") : "Workspace", "color",
			     jstr(team, "color") ? jstr(team, "color") : "#7b68ee", "avatar");
	free(team_id);

	json_array_foreach(sim_users(cu->sim), i, v)
	{
		json_t *id = json_object_get(v, "clickup_id");
		const char *name = jstr(v, "name");
		if (!json_is_integer(id) || !name || !jstr(v, "email"))
			continue;
		char ini[3], key[24];
		initials(name, ini);
		snprintf(key, sizeof(key), "%" JSON_INTEGER_FORMAT, json_integer_value(id));
		json_object_set_new(cu->users, key,
				    json_pack("{s:O,s:s,s:O,s:s,s:s}", "id", id, "username", name,
					      "email", json_object_get(v, "email"), "color",
					      jstr(v, "color") ? jstr(v, "color") : "#7b68ee",
					      "initials", ini));
	}

	json_array_foreach(json_object_get(cfg, "spaces"), i, sp)
	{
		char *sid = id_string(json_object_get(sp, "id"));
		if (!sid || !json_is_array(json_object_get(sp, "statuses"))) {
			free(sid);
			snprintf(err, ACS_ERR_LEN, "clickup seed: a space needs id and statuses");
			return ACS_ECONFIG;
		}
		json_t *space = json_pack(
			"{s:s,s:O,s:b,s:n,s:n,s:b,s:b,s:[],s:O,s:b,s:{s:{s:b,s:b,s:b,s:b},"
			"s:{s:b},s:{s:b},s:{s:b},s:{s:b},s:{s:b}}}",
			"id", sid, "name", json_object_get(sp, "name"), "private", 0, "color",
			"avatar", "admin_can_manage", 1, "archived", 0, "members", "statuses",
			json_object_get(sp, "statuses"), "multiple_assignees", 1, "features",
			"due_dates", "enabled", 1, "start_date", 1, "remap_due_dates", 0,
			"remap_closed_due_date", 0, "time_tracking", "enabled", 1, "tags",
			"enabled", 1, "time_estimates", "enabled", 1, "checklists", "enabled", 1,
			"custom_fields", "enabled", 1);
		json_array_append_new(cu->spaces, space);
		json_t *tags = json_array();
		json_array_foreach(json_object_get(sp, "tags"), j, v)
		{
			json_array_append_new(
				tags,
				json_pack("{s:O,s:O,s:O,s:I}", "name", json_object_get(v, "name"),
					  "tag_fg", json_object_get(v, "tag_fg"), "tag_bg",
					  json_object_get(v, "tag_bg"), "creator", cu->token_user));
		}
		json_object_set_new(cu->space_tags, sid, tags);
		int order = 0;
		json_array_foreach(json_object_get(sp, "lists"), j, li)
		{
			if (add_list(cu, li, space, NULL, order++, err)) {
				free(sid);
				return ACS_ECONFIG;
			}
		}
		json_array_foreach(json_object_get(sp, "folders"), j, fo)
		{
			char *fid = id_string(json_object_get(fo, "id"));
			if (!fid) {
				free(sid);
				snprintf(err, ACS_ERR_LEN, "clickup seed: a folder needs an id");
				return ACS_ECONFIG;
			}
			json_t *folder = json_pack("{s:s,s:O,s:i,s:b,s:b,s:o,s:s,s:s}", "id", fid,
						   "name", json_object_get(fo, "name"),
						   "orderindex", (int)j, "override_statuses", 0,
						   "hidden", 0, "space", space_ref(space),
						   "task_count", "0", "_space", sid);
			json_object_set_new(cu->folders, fid, folder);
			json_array_foreach(json_object_get(fo, "lists"), k, li)
			{
				if (add_list(cu, li, space, folder, order++, err)) {
					free(fid);
					free(sid);
					return ACS_ECONFIG;
				}
			}
			free(fid);
		}
		free(sid);
	}
	if (!json_array_size(cu->list_order)) {
		snprintf(err, ACS_ERR_LEN, "clickup seed: at least one list is needed");
		return ACS_ECONFIG;
	}
	json_array_foreach(json_object_get(cfg, "tasks"), i, v)
	{
		char *lid = id_string(json_object_get(v, "list"));
		const char *emsg = NULL, *ecode = NULL;
		json_t *task;
		int rc = lid ? create_task(cu, lid, v, false, &task, &emsg, &ecode) : -1;
		free(lid);
		if (rc) {
			snprintf(err, ACS_ERR_LEN, "clickup seed: tasks[%zu]: %s", i,
				 emsg ? emsg : "needs a list");
			return ACS_ECONFIG;
		}
		json_decref(task);
	}
	return 0;
}

static void cu_reset(void *impl)
{
	struct sim_clickup *cu = impl;
	char err[ACS_ERR_LEN];
	state_free(cu);
	/* The seed was loaded once at start: it cannot fail now. */
	acs_require(state_load(cu, err) == 0);
}

/* --- tasks --- */

static json_t *field_def(struct sim_clickup *cu, const char *list_id, const char *field_id)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(cu->fields, list_id), i, f)
	{
		if (!strcmp(jstr(f, "id"), field_id))
			return f;
	}
	return NULL;
}

/* Convert a written custom field value to the stored (read) one. Returns a
 * new reference, or NULL when the value does not fit the field type. */
static json_t *field_value(json_t *def, json_t *v)
{
	const char *type = jstr(def, "type");
	if (!strcmp(type, "number") || !strcmp(type, "currency")) {
		if (json_is_integer(v)) {
			char b[24];
			snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
			return json_string(b);
		}
		if (json_is_real(v)) {
			char b[64];
			snprintf(b, sizeof(b), "%g", json_real_value(v));
			return json_string(b);
		}
		return NULL;
	}
	if (!strcmp(type, "drop_down")) {
		size_t i;
		json_t *o;
		if (!json_is_string(v))
			return NULL;
		json_array_foreach(json_object_get(json_object_get(def, "type_config"), "options"),
				   i, o)
		{
			if (!strcmp(jstr(o, "id"), json_string_value(v)))
				return json_incref(json_object_get(o, "orderindex"));
		}
		return NULL;
	}
	if (!strcmp(type, "date"))
		return json_is_integer(v) ? ms_string((uint64_t)json_integer_value(v)) : NULL;
	if (!strcmp(type, "checkbox"))
		return json_is_boolean(v) ? json_string(json_is_true(v) ? "true" : "false") : NULL;
	if (!strcmp(type, "text") || !strcmp(type, "short_text") || !strcmp(type, "url") ||
	    !strcmp(type, "email") || !strcmp(type, "phone"))
		return json_is_string(v) ? json_incref(v) : NULL;
	return json_incref(v);
}

static json_t *task_field_entry(json_t *task, const char *field_id)
{
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(task, "custom_fields"), i, f)
	{
		if (!strcmp(jstr(f, "id"), field_id))
			return f;
	}
	return NULL;
}

static void set_description(json_t *task, const char *md, bool markdown)
{
	char *plain = markdown ? md_to_plain(md) : acs_xstrdup(md);
	json_object_set_new(task, "text_content", json_string(plain));
	json_object_set_new(task, "description", json_string(plain));
	json_object_set_new(task, "markdown_description", json_string(md));
	free(plain);
}

/* Quill delta text of a description change, as the "content" history item. */
static json_t *content_delta(json_t *task)
{
	char *text = acs_xasprintf("%s\n", jstr(task, "text_content"));
	json_t *delta = json_pack("{s:[{s:s}]}", "ops", "insert", text);
	char *s = acs_json_dumps(delta, JSON_COMPACT);
	json_t *out = json_string(s);
	free(s);
	free(text);
	json_decref(delta);
	return out;
}

static void set_status(struct sim_clickup *cu, json_t *task, json_t *st)
{
	json_object_set_new(task, "status", status_task(st));
	if (!strcmp(jstr(st, "type"), "closed")) {
		if (json_is_null(json_object_get(task, "date_closed"))) {
			uint64_t now = sim_now_ms(cu->sim);
			json_object_set_new(task, "date_closed", ms_string(now));
			json_object_set_new(task, "date_done", ms_string(now));
		}
	} else {
		json_object_set_new(task, "date_closed", json_null());
		json_object_set_new(task, "date_done", json_null());
	}
}

static json_t *tag_obj(struct sim_clickup *cu, const char *space_id, const char *name)
{
	json_t *tags = json_object_get(cu->space_tags, space_id);
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		if (!strcasecmp(jstr(t, "name"), name))
			return json_deep_copy(t);
	}
	/* ClickUp creates a tag added to a task on the fly in the space. */
	t = json_pack("{s:s,s:s,s:s,s:I}", "name", name, "tag_fg", "#000000", "tag_bg", "#000000",
		      "creator", cu->token_user);
	if (tags)
		json_array_append(tags, t);
	return t;
}

static bool valid_user_array(struct sim_clickup *cu, json_t *a)
{
	size_t i;
	json_t *v;
	if (!json_is_array(a))
		return false;
	json_array_foreach(a, i, v)
	{
		if (!json_is_integer(v) || !user_known(cu, json_integer_value(v)))
			return false;
	}
	return true;
}

static bool has_assignee(json_t *task, json_int_t id)
{
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(task, "assignees"), i, a)
	{
		if (json_integer_value(json_object_get(a, "id")) == id)
			return true;
	}
	return false;
}

static bool valid_date(json_t *v, bool allow_null)
{
	return json_is_integer(v) || (allow_null && json_is_null(v));
}

#define FAIL(msg, code)          \
	do {                     \
		*emsg = (msg);   \
		*ecode = (code); \
		goto fail;       \
	} while (0)

/* Build a task from a create body. On success *out is a new reference to
 * the stored task; notify fires taskCreated + taskStatusUpdated. */
static int create_task(struct sim_clickup *cu, const char *list_id, json_t *body, bool notify,
		       json_t **out, const char **emsg, const char **ecode)
{
	json_t *list = json_object_get(cu->lists, list_id);
	json_t *task = NULL, *v;
	size_t i;

	*out = NULL;
	if (!list)
		FAIL("List not found", "SIM_LIST_NOT_FOUND");
	const char *name = jstr(body, "name");
	if (!name || !*name)
		FAIL("Task name invalid", "SIM_TASK_NAME");
	json_t *md = json_object_get(body, "markdown_content");
	json_t *desc = json_object_get(body, "description");
	if ((md && !json_is_string(md)) || (desc && !json_is_string(desc)))
		FAIL("Description must be a string", "SIM_DESCRIPTION");
	json_t *assignees = json_object_get(body, "assignees");
	if (assignees && !valid_user_array(cu, assignees))
		FAIL("Assignees must be an array of user ids on create", "SIM_ASSIGNEES");
	json_t *tags = json_object_get(body, "tags");
	if (tags && !json_is_array(tags))
		FAIL("Tags must be an array of names", "SIM_TAGS");
	json_array_foreach(tags, i, v)
	{
		if (!json_is_string(v) || !*json_string_value(v))
			FAIL("Tags must be an array of names", "SIM_TAGS");
	}
	json_t *st = json_array_get(list_statuses(cu, list_id), 0);
	v = json_object_get(body, "status");
	if (v && !json_is_null(v)) {
		st = json_is_string(v) ? status_find(cu, list_id, json_string_value(v)) : NULL;
		if (!st)
			FAIL("Status does not exist", "SIM_STATUS");
	}
	json_t *prio = json_object_get(body, "priority");
	if (prio && !json_is_null(prio) &&
	    (!json_is_integer(prio) || json_integer_value(prio) < 1 ||
	     json_integer_value(prio) > 4))
		FAIL("Priority must be an integer from 1 (urgent) to 4 (low) or null", "SIM_"
										       "PRIORITY");
	if ((v = json_object_get(body, "due_date")) && !valid_date(v, true))
		FAIL("due_date must be Unix milliseconds (integer)", "SIM_DATE");
	if ((v = json_object_get(body, "start_date")) && !valid_date(v, true))
		FAIL("start_date must be Unix milliseconds (integer)", "SIM_DATE");
	if ((v = json_object_get(body, "time_estimate")) && !valid_date(v, true))
		FAIL("time_estimate must be milliseconds (integer)", "SIM_TIME_ESTIMATE");
	json_t *parent = json_object_get(body, "parent");
	json_t *ptask = NULL;
	if (parent && !json_is_null(parent)) {
		ptask = json_is_string(parent)
				? json_object_get(cu->tasks, json_string_value(parent))
				: NULL;
		if (!ptask || strcmp(jstr(json_object_get(ptask, "list"), "id"), list_id))
			FAIL("Parent task must exist in the same list", "SIM_PARENT");
	}
	json_t *cfs = json_object_get(body, "custom_fields");
	if (cfs && !json_is_array(cfs))
		FAIL("custom_fields must be an array", "SIM_CUSTOM_FIELD");

	char id[24];
	static const char digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
	uint64_t n = cu->next_task++;
	char tail[8];
	for (int d = 5; d >= 0; d--) {
		tail[d] = digits[n % 36];
		n /= 36;
	}
	tail[6] = '\0';
	snprintf(id, sizeof(id), "86b%s", tail);
	uint64_t now = sim_now_ms(cu->sim);
	char *url = acs_xasprintf("https://app.clickup.com/t/%s", id);
	char *orderindex = acs_xasprintf("%" PRIu64 ".00000000000000000000000000000000",
					 cu->next_orderindex++);
	json_t *folder = json_object_get(list, "folder");
	json_t *space = json_object_get(list, "space");
	json_t *custom_id = json_object_get(body, "custom_id"); /* seed only */

	task = json_pack(
		"{s:s,s:O,s:i,s:s,s:s,s:s,s:s,s:n,s:s,s:o,s:o,s:n,s:n,s:b,s:o,s:[],s:[],s:[],s:[],"
		"s:[],s:o,s:o,s:n,s:n,s:n,s:n,s:n,s:i,s:[],s:[],s:[],s:[],s:O,s:s,"
		"s:{s:b,s:n,s:[sssssssssss],s:n,s:b},s:s,s:{s:s,s:O,s:b},"
		"s:{s:O,s:O,s:O,s:b},s:{s:O,s:O,s:O,s:b},s:{s:O},s:[]}",
		"id", id, "custom_id",
		custom_id && json_is_string(custom_id) ? custom_id : json_null(), "custom_item_id",
		0, "name", name, "text_content", "", "description", "", "markdown_description", "",
		"status", "orderindex", orderindex, "date_created", ms_string(now), "date_updated",
		ms_string(now), "date_closed", "date_done", "archived",
		json_is_true(json_object_get(body, "archived")), "creator",
		user_obj(cu, cu->token_user, U_CREATOR), "assignees", "group_assignees", "watchers",
		"checklists", "tags", "parent",
		ptask ? json_string(jstr(ptask, "id")) : json_null(), "top_level_parent",
		ptask ? json_string(jstr(ptask, "parent") ? jstr(ptask, "parent")
							  : jstr(ptask, "id"))
		      : json_null(),
		"priority", "due_date", "start_date", "points", "time_estimate", "time_spent", 0,
		"custom_fields", "dependencies", "linked_tasks", "locations", "team_id",
		json_object_get(cu->team, "id"), "url", url, "sharing", "public", 0,
		"public_share_expires_on", "public_fields", "assignees", "priority", "due_date",
		"content", "comments", "attachments", "customFields", "subtasks", "tags",
		"checklists", "coverimage", "token", "seo_optimized", 0, "permission_level",
		"create", "list", "id", list_id, "name", json_object_get(list, "name"), "access", 1,
		"project", "id", json_object_get(folder, "id"), "name",
		json_object_get(folder, "name"), "hidden", json_object_get(folder, "hidden"),
		"access", 1, "folder", "id", json_object_get(folder, "id"), "name",
		json_object_get(folder, "name"), "hidden", json_object_get(folder, "hidden"),
		"access", 1, "space", "id", json_object_get(space, "id"), "attachments");
	free(url);
	free(orderindex);
	acs_require(task != NULL);

	if (json_is_string(md))
		set_description(task, json_string_value(md), true);
	else if (json_is_string(desc))
		set_description(task, json_string_value(desc), false);
	set_status(cu, task, st);
	json_array_foreach(assignees, i, v)
	{
		if (!has_assignee(task, json_integer_value(v)))
			json_array_append_new(json_object_get(task, "assignees"),
					      user_obj(cu, json_integer_value(v), U_TASK));
	}
	json_array_append_new(json_object_get(task, "watchers"),
			      user_obj(cu, cu->token_user, U_TASK));
	json_array_foreach(tags, i, v)
	{
		json_array_append_new(json_object_get(task, "tags"),
				      tag_obj(cu, jstr(space, "id"), json_string_value(v)));
	}
	if (json_is_integer(prio))
		json_object_set_new(task, "priority", priority_obj(json_integer_value(prio)));
	if (json_is_integer(v = json_object_get(body, "due_date")))
		json_object_set_new(task, "due_date", ms_string((uint64_t)json_integer_value(v)));
	if (json_is_integer(v = json_object_get(body, "start_date")))
		json_object_set_new(task, "start_date", ms_string((uint64_t)json_integer_value(v)));
	if (json_is_integer(v = json_object_get(body, "time_estimate")))
		json_object_set(task, "time_estimate", v);
	if (json_is_number(v = json_object_get(body, "points")))
		json_object_set(task, "points", v);
	/* Every field of the list appears; value only once set. */
	json_array_foreach(json_object_get(cu->fields, list_id), i, v)
	{
		json_array_append_new(json_object_get(task, "custom_fields"), json_deep_copy(v));
	}
	json_array_foreach(cfs, i, v)
	{
		const char *fid = jstr(v, "id");
		json_t *def = fid ? field_def(cu, list_id, fid) : NULL;
		json_t *val = def ? field_value(def, json_object_get(v, "value")) : NULL;
		if (!val)
			FAIL("Custom field value invalid for this field", "SIM_CUSTOM_FIELD");
		json_t *entry = task_field_entry(task, fid);
		json_object_set_new(entry, "value", val);
		json_object_set_new(entry, "value_richtext", json_string(""));
	}

	json_object_set(cu->tasks, id, task);
	json_array_append_new(cu->task_order, json_string(id));
	if (notify) {
		json_t *before = json_pack("{s:n,s:s,s:s,s:i}", "status", "color", "#000000",
					   "type", "removed", "orderindex", -1);
		json_t *sitem =
			hist_item(cu, task, "status",
				  json_pack("{s:O}", "status_type", json_object_get(st, "type")),
				  true, before, true, status_hist(st));
		json_t *citem = hist_item(cu, task, "task_creation", NULL, true, NULL, true, NULL);
		json_t *items = json_pack("[oo]", sitem, citem);
		fire(cu, "taskCreated", task, items);
		json_t *one = json_pack("[O]", sitem);
		fire(cu, "taskStatusUpdated", task, one);
		json_decref(one);
		json_decref(items);
	}
	*out = task;
	return 0;
fail:
	json_decref(task);
	return -1;
}

/* Output of a task: markdown_description only on request. Read-only: it is
 * the stored task itself, or a shallow copy without that key, so it shares
 * the stored values; answers serialise it at once. */
static json_t *task_out(json_t *task, bool markdown)
{
	if (markdown)
		return json_incref(task);
	json_t *t = json_copy(task);
	json_object_del(t, "markdown_description");
	return t;
}

/* Answer task_out(task, markdown), written without copying the task. */
static void respond_task(struct acs_http_req *req, json_t *task, bool markdown)
{
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	(void)sim_json_value(&b, task, markdown ? NULL : "markdown_description");
	sim_respond_buf(req, 200, &b);
}

/* The working copy of a stored task that a PUT (or a churn edit) changes,
 * to replace the stored one when the whole update is valid. Shallow: it
 * shares the stored task's nested objects and arrays, so apply_update only
 * sets top-level keys, except assignees, which it copies before changing
 * (a failed update must leave the stored task as it was). Once the copy is
 * stored the old task is gone and the stored task is again the only holder
 * of its nested values, which the tag, custom field, attachment and move
 * handlers change in place. */
static json_t *task_edit_copy(json_t *task)
{
	return json_copy(task);
}

/* The task addressed by :id (or ?custom_task_ids=true&team_id=); answers
 * 400/404 itself and returns NULL when there is none. */
static json_t *task_lookup(struct sim_clickup *cu, struct acs_http_req *req)
{
	const char *id = acs_http_req_param(req, "task_id");
	if (query_bool(req, "custom_task_ids")) {
		const char *team = acs_http_req_query(req, "team_id");
		if (!team) {
			cu_err(req, 400, "team_id is required with custom_task_ids",
			       "SIM_TEAM_ID_REQUIRED");
			return NULL;
		}
		if (strcmp(team, jstr(cu->team, "id"))) {
			cu_err(req, 401, "Team not authorized", "OAUTH_027");
			return NULL;
		}
		const char *k;
		json_t *t;
		json_object_foreach(cu->tasks, k, t)
		{
			if (jstr(t, "custom_id") && !strcmp(jstr(t, "custom_id"), id))
				return t;
		}
		cu_not_found(cu, req, "Task not found", "ITEM_013");
		return NULL;
	}
	json_t *t = id ? json_object_get(cu->tasks, id) : NULL;
	if (!t)
		cu_not_found(cu, req, "Task not found", "ITEM_013");
	return t;
}

static void touch(struct sim_clickup *cu, json_t *task)
{
	json_object_set_new(task, "date_updated", ms_string(sim_now_ms(cu->sim)));
}

static void h_task_get(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (t)
		respond_task(req, t, query_bool(req, "include_markdown_description"));
}

static void h_task_create(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *list_id = acs_http_req_param(req, "list_id");
	if (!json_object_get(cu->lists, list_id)) {
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
		return;
	}
	json_t *body = sim_req_json(req);
	if (!body) {
		cu_err(req, 400, "Body must be a JSON object", "SIM_BAD_JSON");
		return;
	}
	const char *emsg = NULL, *ecode = NULL;
	json_t *task;
	int rc = create_task(cu, list_id, body, true, &task, &emsg, &ecode);
	json_decref(body);
	if (rc) {
		cu_err(req, 400, emsg, ecode);
		return;
	}
	respond_task(req, task, false);
	json_decref(task);
}

/* Apply a PUT body to t (a task_edit_copy: change no nested value in place):
 * history items and their specific events are appended to items/events
 * (json null = taskUpdated only). */
static int apply_update(struct sim_clickup *cu, json_t *t, json_t *body, json_t *items,
			json_t *events, const char **emsg, const char **ecode)
{
	const char *list_id = jstr(json_object_get(t, "list"), "id");
	json_t *v;
	size_t i;

	if ((v = json_object_get(body, "name"))) {
		if (!json_is_string(v) || !*json_string_value(v))
			FAIL("Task name invalid", "SIM_TASK_NAME");
		if (strcmp(json_string_value(v), jstr(t, "name"))) {
			json_array_append_new(items, hist_item(cu, t, "name", NULL, true,
							       json_string(jstr(t, "name")), true,
							       json_incref(v)));
			json_array_append_new(events, json_null());
			json_object_set(t, "name", v);
		}
	}
	json_t *md = json_object_get(body, "markdown_content");
	json_t *desc = json_object_get(body, "description");
	if ((md && !json_is_string(md)) || (desc && !json_is_string(desc)))
		FAIL("Description must be a string", "SIM_DESCRIPTION");
	if (md || desc) {
		char *old = acs_xstrdup(jstr(t, "markdown_description"));
		if (json_is_string(md))
			set_description(t, json_string_value(md), true);
		else if (!strcmp(json_string_value(desc), " ")) /* " " clears, as documented */
			set_description(t, "", false);
		else
			set_description(t, json_string_value(desc), false);
		if (strcmp(old, jstr(t, "markdown_description"))) {
			json_array_append_new(items, hist_item(cu, t, "content", NULL, true, NULL,
							       true, content_delta(t)));
			json_array_append_new(events, json_null());
		}
		free(old);
	}
	if ((v = json_object_get(body, "status"))) {
		json_t *st = json_is_string(v) ? status_find(cu, list_id, json_string_value(v))
					       : NULL;
		if (!st)
			FAIL("Status does not exist", "SIM_STATUS");
		json_t *cur =
			status_find(cu, list_id, jstr(json_object_get(t, "status"), "status"));
		if (cur != st) {
			json_array_append_new(items,
					      hist_item(cu, t, "status",
							json_pack("{s:O}", "status_type",
								  json_object_get(st, "type")),
							true, cur ? status_hist(cur) : json_null(),
							true, status_hist(st)));
			json_array_append_new(events, json_string("taskStatusUpdated"));
			set_status(cu, t, st);
		}
	}
	if ((v = json_object_get(body, "priority"))) {
		if (!json_is_null(v) &&
		    (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 4))
			FAIL("Priority must be an integer from 1 (urgent) to 4 (low)", "SIM_"
										       "PRIORITY");
		json_t *old = json_object_get(t, "priority");
		json_t *nw = json_is_null(v) ? json_null() : priority_obj(json_integer_value(v));
		if (!json_equal(old, nw)) {
			json_array_append_new(items, hist_item(cu, t, "priority", NULL, true,
							       priority_hist(old), true,
							       priority_hist(nw)));
			json_array_append_new(events, json_string("taskPriorityUpdated"));
			json_object_set(t, "priority", nw);
		}
		json_decref(nw);
	}
	if ((v = json_object_get(body, "due_date"))) {
		if (!valid_date(v, true))
			FAIL("due_date must be Unix milliseconds (integer)", "SIM_DATE");
		json_t *old = json_object_get(t, "due_date");
		json_t *nw = json_is_null(v) ? json_null()
					     : ms_string((uint64_t)json_integer_value(v));
		if (!json_equal(old, nw)) {
			json_t *dt = json_object_get(body, "due_date_time");
			json_array_append_new(
				items,
				hist_item(cu, t, "due_date",
					  json_pack("{s:b,s:b}", "due_date_time", json_is_true(dt),
						    "old_due_date_time", 0),
					  true, json_incref(old), true, json_incref(nw)));
			json_array_append_new(events, json_string("taskDueDateUpdated"));
			json_object_set(t, "due_date", nw);
		}
		json_decref(nw);
	}
	if ((v = json_object_get(body, "start_date"))) {
		if (!valid_date(v, true))
			FAIL("start_date must be Unix milliseconds (integer)", "SIM_DATE");
		json_object_set_new(t, "start_date",
				    json_is_null(v) ? json_null()
						    : ms_string((uint64_t)json_integer_value(v)));
	}
	if ((v = json_object_get(body, "time_estimate"))) {
		if (!valid_date(v, true))
			FAIL("time_estimate must be milliseconds (integer)", "SIM_TIME_ESTIMATE");
		if (!json_equal(v, json_object_get(t, "time_estimate"))) {
			json_array_append_new(
				items,
				hist_item(cu, t, "time_estimate", json_object(), true,
					  json_incref(json_object_get(t, "time_estimate")), true,
					  json_is_null(v)
						  ? json_null()
						  : ms_string((uint64_t)json_integer_value(v))));
			json_array_append_new(events, json_string("taskTimeEstimateUpdated"));
			json_object_set(t, "time_estimate", v);
		}
	}
	if ((v = json_object_get(body, "points"))) {
		if (!json_is_number(v) && !json_is_null(v))
			FAIL("points must be a number", "SIM_POINTS");
		json_object_set(t, "points", v);
	}
	if ((v = json_object_get(body, "archived"))) {
		if (!json_is_boolean(v))
			FAIL("archived must be a boolean", "SIM_ARCHIVED");
		json_object_set(t, "archived", v);
	}
	if ((v = json_object_get(body, "assignees"))) {
		json_t *add = json_object_get(v, "add"), *rem = json_object_get(v, "rem");
		/* The create shape (an array) is the classic mistake: refuse it. */
		if (!json_is_object(v) || (add && !valid_user_array(cu, add)) ||
		    (rem && !valid_user_array(cu, rem)))
			FAIL("assignees must be {\"add\": [user ids], \"rem\": [user ids]} on "
			     "update",
			     "SIM_ASSIGNEES");
		/* The array is the stored task's too (task_edit_copy): change a copy. */
		json_object_set_new(t, "assignees", json_copy(json_object_get(t, "assignees")));
		json_t *a;
		json_array_foreach(add, i, a)
		{
			json_int_t uid = json_integer_value(a);
			if (has_assignee(t, uid))
				continue;
			json_array_append_new(json_object_get(t, "assignees"),
					      user_obj(cu, uid, U_TASK));
			json_array_append_new(items,
					      hist_item(cu, t, "assignee_add", NULL, false, NULL,
							true, user_obj(cu, uid, U_HISTORY)));
			json_array_append_new(events, json_string("taskAssigneeUpdated"));
		}
		json_array_foreach(rem, i, a)
		{
			json_int_t uid = json_integer_value(a);
			json_t *as = json_object_get(t, "assignees");
			for (size_t j = 0; j < json_array_size(as); j++) {
				if (json_integer_value(
					    json_object_get(json_array_get(as, j), "id")) != uid)
					continue;
				json_array_remove(as, j);
				json_array_append_new(items,
						      hist_item(cu, t, "assignee_rem", NULL, true,
								user_obj(cu, uid, U_HISTORY), false,
								NULL));
				json_array_append_new(events, json_string("taskAssigneeUpdated"));
				break;
			}
		}
	}
	return 0;
fail:
	return -1;
}

static void h_task_update(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	json_t *body = sim_req_json(req);
	if (!body) {
		cu_err(req, 400, "Body must be a JSON object", "SIM_BAD_JSON");
		return;
	}
	json_t *copy = task_edit_copy(t);
	json_t *items = json_array(), *events = json_array();
	const char *emsg = NULL, *ecode = NULL;
	if (apply_update(cu, copy, body, items, events, &emsg, &ecode)) {
		cu_err(req, 400, emsg, ecode);
	} else {
		touch(cu, copy);
		json_object_set(cu->tasks, jstr(copy, "id"), copy);
		fire_update(cu, copy, items, events);
		respond_task(req, copy, false);
	}
	json_decref(copy);
	json_decref(items);
	json_decref(events);
	json_decref(body);
}

static void remove_from_array(json_t *a, const char *s)
{
	for (size_t i = 0; i < json_array_size(a); i++) {
		if (!strcmp(json_string_value(json_array_get(a, i)), s)) {
			json_array_remove(a, i);
			return;
		}
	}
}

static void h_task_delete(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	json_incref(t);
	const char *id = jstr(t, "id");
	const char *k;
	void *tmp;
	json_t *c;
	json_object_foreach_safe(cu->comments, tmp, k, c)
	{
		if (!strcmp(jstr(c, "task"), id))
			json_object_del(cu->comments, k);
	}
	remove_from_array(cu->task_order, id);
	json_object_del(cu->tasks, id);
	fire(cu, "taskDeleted", t, NULL);
	json_decref(t);
	sim_respond(req, 204, NULL, NULL, 0);
}

/* --- GET /list/{id}/task --- */

struct sort_key {
	json_t *task;
	uint64_t key;
	size_t seq;
};

static uint64_t task_ms(json_t *t, const char *field)
{
	const char *s = jstr(t, field);
	return s ? strtoull(s, NULL, 10) : 0;
}

static int sort_desc(const void *a, const void *b)
{
	const struct sort_key *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	return x->seq < y->seq ? 1 : -1;
}

static bool in_strings(json_t *a, const char *s)
{
	size_t i;
	json_t *v;
	json_array_foreach(a, i, v)
	{
		if (!strcasecmp(json_string_value(v), s))
			return true;
	}
	return false;
}

static void h_list_tasks(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *list_id = acs_http_req_param(req, "list_id");
	if (!json_object_get(cu->lists, list_id)) {
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
		return;
	}
	static const char *const ranges[] = { "date_updated_gt",
					      "date_updated_lt",
					      "date_created_gt",
					      "date_created_lt",
					      "due_date_gt",
					      "due_date_lt",
					      "page" };
	uint64_t val[7] = { 0 };
	bool has[7];
	for (size_t i = 0; i < 7; i++) {
		if (!query_u64(req, ranges[i], &val[i], &has[i])) {
			cu_err(req, 400, "Invalid query parameter", "SIM_QUERY");
			return;
		}
	}
	const char *order_by = acs_http_req_query(req, "order_by");
	const char *field = "date_created";
	if (order_by && !strcmp(order_by, "updated"))
		field = "date_updated";
	else if (order_by && !strcmp(order_by, "due_date"))
		field = "due_date";
	else if (order_by && strcmp(order_by, "created") && strcmp(order_by, "id")) {
		cu_err(req, 400, "Invalid order_by", "SIM_QUERY");
		return;
	}
	bool include_closed = query_bool(req, "include_closed");
	bool subtasks = query_bool(req, "subtasks");
	bool archived = query_bool(req, "archived");
	bool reverse = query_bool(req, "reverse");
	bool markdown = query_bool(req, "include_markdown_description");
	json_t *statuses = query_all(req, "statuses[]");
	json_t *tags = query_all(req, "tags[]");
	json_t *assignees = query_all(req, "assignees[]");

	size_t n = json_array_size(cu->task_order), m = 0;
	struct sort_key *keys = acs_xcalloc(n ? n : 1, sizeof(*keys));
	for (size_t i = 0; i < n; i++) {
		json_t *t = json_object_get(cu->tasks,
					    json_string_value(json_array_get(cu->task_order, i)));
		if (!t || strcmp(jstr(json_object_get(t, "list"), "id"), list_id))
			continue;
		const char *stype = jstr(json_object_get(t, "status"), "type");
		if (!include_closed && !strcmp(stype, "closed"))
			continue;
		if (!subtasks && !json_is_null(json_object_get(t, "parent")))
			continue;
		if (json_is_true(json_object_get(t, "archived")) != archived)
			continue;
		uint64_t upd = task_ms(t, "date_updated"), cre = task_ms(t, "date_created");
		uint64_t due = task_ms(t, "due_date");
		if ((has[0] && !(upd > val[0])) || (has[1] && !(upd < val[1])) ||
		    (has[2] && !(cre > val[2])) || (has[3] && !(cre < val[3])) ||
		    (has[4] && !(jstr(t, "due_date") && due > val[4])) ||
		    (has[5] && !(jstr(t, "due_date") && due < val[5])))
			continue;
		if (json_array_size(statuses) &&
		    !in_strings(statuses, jstr(json_object_get(t, "status"), "status")))
			continue;
		if (json_array_size(tags)) {
			bool any = false;
			size_t j;
			json_t *tg;
			json_array_foreach(json_object_get(t, "tags"), j, tg)
				any = any || in_strings(tags, jstr(tg, "name"));
			if (!any)
				continue;
		}
		if (json_array_size(assignees)) {
			bool any = false;
			size_t j;
			json_t *a;
			json_array_foreach(json_object_get(t, "assignees"), j, a)
			{
				char b[24];
				snprintf(b, sizeof(b), "%" JSON_INTEGER_FORMAT,
					 json_integer_value(json_object_get(a, "id")));
				any = any || in_strings(assignees, b);
			}
			if (!any)
				continue;
		}
		keys[m].task = t;
		keys[m].key = task_ms(t, field);
		keys[m].seq = i;
		m++;
	}
	/* Newest first, as ClickUp lists them; reverse=true gives oldest first. */
	qsort(keys, m, sizeof(*keys), sort_desc);
	uint64_t page = has[6] ? val[6] : 0;
	json_t *out = json_array();
	uint64_t start = page * CU_PAGE_TASKS;
	for (uint64_t i = start; i < m && i < start + CU_PAGE_TASKS; i++) {
		size_t idx = reverse ? m - 1 - (size_t)i : (size_t)i;
		json_array_append_new(out, task_out(keys[idx].task, markdown));
	}
	free(keys);
	json_decref(statuses);
	json_decref(tags);
	json_decref(assignees);
	sim_respond_json(req, 200,
			 json_pack("{s:o,s:b}", "tasks", out, "last_page",
				   start + CU_PAGE_TASKS >= m));
}

/* --- tags and custom fields --- */

static void h_tag_add(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *name = acs_http_req_param(req, "tag_name");
	json_t *tags = json_object_get(t, "tags");
	size_t i;
	json_t *tg;
	json_array_foreach(tags, i, tg)
	{
		if (!strcasecmp(jstr(tg, "name"), name)) {
			sim_respond_json(req, 200, json_object());
			return;
		}
	}
	tg = tag_obj(cu, jstr(json_object_get(t, "space"), "id"), name);
	json_array_append(tags, tg);
	touch(cu, t);
	json_t *items = json_pack("[o]", hist_item(cu, t, "tag", NULL, true, NULL, true,
						   json_pack("[o]", tg)));
	json_t *events = json_pack("[s]", "taskTagUpdated");
	fire_update(cu, t, items, events);
	json_decref(items);
	json_decref(events);
	sim_respond_json(req, 200, json_object());
}

static void h_tag_remove(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *name = acs_http_req_param(req, "tag_name");
	json_t *tags = json_object_get(t, "tags");
	for (size_t i = 0; i < json_array_size(tags); i++) {
		json_t *tg = json_array_get(tags, i);
		if (strcasecmp(jstr(tg, "name"), name))
			continue;
		json_t *items = json_pack("[o]", hist_item(cu, t, "tag_removed", NULL, true,
							   json_pack("[O]", tg), true, NULL));
		json_t *events = json_pack("[s]", "taskTagUpdated");
		json_array_remove(tags, i);
		touch(cu, t);
		fire_update(cu, t, items, events);
		json_decref(items);
		json_decref(events);
		break;
	}
	sim_respond_json(req, 200, json_object());
}

static void field_changed(struct sim_clickup *cu, json_t *t, json_t *def, json_t *after)
{
	json_t *item = hist_item(cu, t, "custom_field", NULL, true, NULL, true, after);
	json_t *d = json_deep_copy(def);
	json_object_set_new(item, "custom_field", d);
	json_t *items = json_pack("[o]", item);
	json_t *events = json_pack("[n]");
	touch(cu, t);
	fire_update(cu, t, items, events);
	json_decref(items);
	json_decref(events);
}

static void h_field_set(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *fid = acs_http_req_param(req, "field_id");
	json_t *def = field_def(cu, jstr(json_object_get(t, "list"), "id"), fid);
	json_t *body = sim_req_json(req);
	json_t *given = json_object_get(body, "value");
	json_t *val = def && given ? field_value(def, given) : NULL;
	if (!def) {
		cu_err(req, 400, "Custom field does not apply to this task", "SIM_CUSTOM_FIELD");
	} else if (!val) {
		cu_err(req, 400, "Value is not valid for this custom field", "SIM_CUSTOM_FIELD");
	} else {
		json_t *entry = task_field_entry(t, fid);
		json_object_set(entry, "value", val);
		json_object_set_new(entry, "value_richtext", json_string(""));
		field_changed(cu, t, def, json_incref(given));
		sim_respond_json(req, 200, json_object());
	}
	json_decref(val);
	json_decref(body);
}

static void h_field_remove(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *fid = acs_http_req_param(req, "field_id");
	json_t *def = field_def(cu, jstr(json_object_get(t, "list"), "id"), fid);
	if (!def) {
		cu_err(req, 400, "Custom field does not apply to this task", "SIM_CUSTOM_FIELD");
		return;
	}
	json_t *entry = task_field_entry(t, fid);
	if (json_object_get(entry, "value")) {
		json_object_del(entry, "value");
		json_object_del(entry, "value_richtext");
		field_changed(cu, t, def, json_null());
	}
	sim_respond_json(req, 200, json_object());
}

static void h_list_fields(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *f = json_object_get(cu->fields, acs_http_req_param(req, "list_id"));
	if (!f) {
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
		return;
	}
	sim_respond_json(req, 200, json_pack("{s:O}", "fields", f));
}

static void h_space_tags(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *tags = json_object_get(cu->space_tags, acs_http_req_param(req, "space_id"));
	if (!tags) {
		cu_not_found(cu, req, "Space not found", "SIM_SPACE_NOT_FOUND");
		return;
	}
	json_t *out = json_array();
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		json_array_append_new(out,
				      json_pack("{s:O,s:O,s:O}", "name", json_object_get(t, "name"),
						"tag_fg", json_object_get(t, "tag_fg"), "tag_bg",
						json_object_get(t, "tag_bg")));
	}
	sim_respond_json(req, 200, json_pack("{s:o}", "tags", out));
}

/* --- move (API v3) --- */

/* PUT /api/v3/workspaces/{team}/tasks/{id}/home_list/{list_id}: v2 has no way to move a
 * task; v3's "Move a task to a new List" does. The home list (and folder, space) change,
 * date_updated moves, and taskMoved + taskUpdated fire with a section_moved item whose
 * before/after are the lists, to the webhooks of the task's old location (what webhooks
 * of the new location get is UNCONFIRMED). Answers 200 {}. */
static void h_task_move(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *team = acs_http_req_param(req, "team_id");
	if (!team || strcmp(team, jstr(cu->team, "id"))) {
		cu_err(req, 401, "Team not authorized", "OAUTH_027");
		return;
	}
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *lid = acs_http_req_param(req, "list_id");
	json_t *list = json_object_get(cu->lists, lid);
	if (!list) {
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
		return;
	}
	/* old keeps the location objects of before: t gets changed copies. */
	json_t *old = json_copy(t);
	json_t *ol = json_object_get(old, "list");
	if (!strcmp(jstr(ol, "id"), lid)) {
		json_decref(old);
		sim_respond_json(req, 200, json_object());
		return;
	}
	json_t *before = json_pack("{s:O,s:O}", "id", json_object_get(ol, "id"), "name",
				   json_object_get(ol, "name"));
	json_t *after = json_pack("{s:s,s:O}", "id", lid, "name", json_object_get(list, "name"));
	json_t *folder = json_object_get(list, "folder");
	json_object_set_new(t, "list",
			    json_pack("{s:s,s:O,s:i}", "id", lid, "name",
				      json_object_get(list, "name"), "access", 1));
	if (folder) {
		json_t *tf = json_copy(json_object_get(t, "folder"));
		json_t *tp = json_copy(json_object_get(t, "project"));
		json_object_set(tf, "id", json_object_get(folder, "id"));
		json_object_set(tf, "name", json_object_get(folder, "name"));
		json_object_set(tp, "id", json_object_get(folder, "id"));
		json_object_set(tp, "name", json_object_get(folder, "name"));
		json_object_set_new(t, "folder", tf);
		json_object_set_new(t, "project", tp);
	}
	json_t *space = json_object_get(list, "space");
	if (space) {
		json_t *ts = json_copy(json_object_get(t, "space"));
		json_object_set(ts, "id", json_object_get(space, "id"));
		json_object_set_new(t, "space", ts);
	}
	json_object_set_new(t, "date_updated", ms_string(sim_now_ms(cu->sim)));
	json_t *item = hist_item(cu, old, "section_moved", NULL, true, before, true, after);
	json_t *items = json_pack("[o]", item);
	json_t *events = json_pack("[s]", "taskMoved");
	fire_update(cu, old, items, events);
	json_decref(items);
	json_decref(events);
	json_decref(old);
	sim_respond_json(req, 200, json_object());
}

/* --- comments --- */

static json_t *comment_blocks(const char *text)
{
	char uuid[37];
	sim_random_uuid(uuid);
	char *block = acs_xasprintf("block-%s", uuid);
	json_t *c = json_pack("[{s:s,s:{}},{s:s,s:{s:s}}]", "text", text, "attributes", "text",
			      "\n", "attributes", "block-id", block);
	free(block);
	return c;
}

/* The "comment" object a webhook item carries. */
static json_t *comment_hist(struct sim_clickup *cu, json_t *c, const char *task_id)
{
	json_t *user =
		user_obj(cu, json_integer_value(json_object_get(json_object_get(c, "user"), "id")),
			 U_HISTORY);
	return json_pack("{s:O,s:O,s:s,s:i,s:O,s:O,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,s:n,"
			 "s:n,s:o,s:i,s:i,s:[],s:[],s:i,s:i,s:[],s:i,s:[O],s:[],s:[],s:[]}",
			 "id", json_object_get(c, "id"), "date", json_object_get(c, "date"),
			 "parent", task_id, "type", 1, "comment", json_object_get(c, "comment"),
			 "text_content", json_object_get(c, "comment_text"), "x", "y", "image_y",
			 "image_x", "page", "comment_number", "page_id", "page_name", "view_id",
			 "view_name", "team", "user", user, "new_thread_count", 0,
			 "new_mentioned_thread_count", 0, "email_attachments", "threaded_users",
			 "threaded_replies", 0, "threaded_assignees", 0,
			 "threaded_assignees_members", "threaded_unresolved_count", 0,
			 "thread_followers", user, "group_thread_followers", "reactions", "emails");
}

static void comment_fire(struct sim_clickup *cu, json_t *task, json_t *c, const char *event)
{
	json_t *item = hist_item(cu, task, "comment", NULL, true, NULL, true,
				 json_incref(json_object_get(c, "id")));
	json_object_set_new(item, "comment", comment_hist(cu, c, jstr(task, "id")));
	json_t *items = json_pack("[o]", item);
	json_t *events = json_pack("[s]", event);
	fire_update(cu, task, items, events);
	json_decref(items);
	json_decref(events);
}

static int cmp_comment_desc(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	uint64_t dx = strtoull(jstr(x, "date"), NULL, 10), dy = strtoull(jstr(y, "date"), NULL, 10);
	if (dx != dy)
		return dx < dy ? 1 : -1;
	uint64_t ix = strtoull(jstr(x, "id"), NULL, 10), iy = strtoull(jstr(y, "id"), NULL, 10);
	return ix < iy ? 1 : (ix > iy ? -1 : 0);
}

static void h_comments_get(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	uint64_t start = 0, start_id = 0;
	bool has_start, has_id;
	if (!query_u64(req, "start", &start, &has_start) ||
	    !query_u64(req, "start_id", &start_id, &has_id) || has_start != has_id) {
		cu_err(req, 400, "start and start_id must be given together", "SIM_QUERY");
		return;
	}
	size_t n = 0, cap = json_object_size(cu->comments) + 1;
	json_t **all = acs_xcalloc(cap, sizeof(*all));
	const char *k;
	json_t *w;
	json_object_foreach(cu->comments, k, w)
	{
		if (!strcmp(jstr(w, "task"), jstr(t, "id")))
			all[n++] = json_object_get(w, "c");
	}
	qsort(all, n, sizeof(*all), cmp_comment_desc);
	json_t *out = json_array();
	for (size_t i = 0; i < n && json_array_size(out) < CU_PAGE_COMMENTS; i++) {
		if (has_start) {
			uint64_t d = strtoull(jstr(all[i], "date"), NULL, 10);
			uint64_t id = strtoull(jstr(all[i], "id"), NULL, 10);
			/* Strictly older than the cursor (the last comment seen). */
			if (d > start || (d == start && id >= start_id))
				continue;
		}
		json_array_append(out, all[i]);
	}
	free(all);
	sim_respond_json(req, 200, json_pack("{s:o}", "comments", out));
}

static void h_comment_post(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	json_t *body = sim_req_json(req);
	json_t *text = json_object_get(body, "comment_text");
	json_t *rich = json_object_get(body, "comment");
	json_t *notify = json_object_get(body, "notify_all");
	json_t *assignee = json_object_get(body, "assignee");
	if (!body || (!json_is_string(text) && !json_is_array(rich)) || !json_is_boolean(notify) ||
	    (assignee && !json_is_null(assignee) &&
	     (!json_is_integer(assignee) || !user_known(cu, json_integer_value(assignee))))) {
		json_decref(body);
		cu_err(req, 400, "comment_text (or comment) and notify_all are required",
		       "SIM_COMMENT");
		return;
	}
	json_t *blocks;
	struct acs_buf plain;
	acs_buf_init(&plain, 16u << 20);
	if (json_is_string(text)) {
		blocks = comment_blocks(json_string_value(text));
		(void)acs_buf_printf(&plain, "%s\n", json_string_value(text));
	} else {
		blocks = json_deep_copy(rich);
		size_t i;
		json_t *b;
		json_array_foreach(blocks, i, b)
		{
			if (jstr(b, "text"))
				(void)acs_buf_appends(&plain, jstr(b, "text"));
		}
	}
	char id[24];
	snprintf(id, sizeof(id), "%" PRIu64, cu->next_comment++);
	uint64_t now = sim_now_ms(cu->sim);
	json_t *c = json_pack(
		"{s:s,s:o,s:s,s:o,s:b,s:o,s:o,s:[],s:o,s:s}", "id", id, "comment", blocks,
		"comment_text", plain.data ? plain.data : "", "user",
		user_obj(cu, cu->token_user, U_COMMENT), "resolved", 0, "assignee",
		json_is_integer(assignee) ? user_obj(cu, json_integer_value(assignee), U_COMMENT)
					  : json_null(),
		"assigned_by",
		json_is_integer(assignee) ? user_obj(cu, cu->token_user, U_COMMENT) : json_null(),
		"reactions", "date", ms_string(now), "reply_count", "0");
	acs_buf_free(&plain);
	json_decref(body);
	json_object_set_new(cu->comments, id,
			    json_pack("{s:s,s:o}", "task", jstr(t, "id"), "c", c));
	comment_fire(cu, t, c, "taskCommentPosted");
	char hist[24];
	snprintf(hist, sizeof(hist), "%" PRIu64, cu->next_hist - 1);
	json_t *resp = json_pack("{s:o,s:s,s:I}", "id",
				 cu->comment_id_number
					 ? json_integer((json_int_t)strtoull(id, NULL, 10))
					 : json_string(id),
				 "hist_id", hist, "date", (json_int_t)now);
	sim_respond_json(req, 200, resp);
}

static json_t *comment_lookup(struct sim_clickup *cu, struct acs_http_req *req)
{
	json_t *w = json_object_get(cu->comments, acs_http_req_param(req, "comment_id"));
	if (!w)
		cu_not_found(cu, req, "Comment not found", "SIM_COMMENT_NOT_FOUND");
	return w;
}

static void h_comment_put(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *w = comment_lookup(cu, req);
	if (!w)
		return;
	json_t *body = sim_req_json(req);
	json_t *text = json_object_get(body, "comment_text");
	json_t *resolved = json_object_get(body, "resolved");
	json_t *assignee = json_object_get(body, "assignee");
	if (!json_is_string(text) || (resolved && !json_is_boolean(resolved)) ||
	    (assignee && !json_is_null(assignee) &&
	     (!json_is_integer(assignee) || !user_known(cu, json_integer_value(assignee))))) {
		json_decref(body);
		cu_err(req, 400, "comment_text is required", "SIM_COMMENT");
		return;
	}
	json_t *c = json_object_get(w, "c");
	json_object_set_new(c, "comment", comment_blocks(json_string_value(text)));
	char *plain = acs_xasprintf("%s\n", json_string_value(text));
	json_object_set_new(c, "comment_text", json_string(plain));
	free(plain);
	if (resolved)
		json_object_set(c, "resolved", resolved);
	if (assignee)
		json_object_set_new(c, "assignee",
				    json_is_integer(assignee)
					    ? user_obj(cu, json_integer_value(assignee), U_COMMENT)
					    : json_null());
	json_decref(body);
	json_t *t = json_object_get(cu->tasks, jstr(w, "task"));
	if (t)
		comment_fire(cu, t, c, "taskCommentUpdated");
	sim_respond_json(req, 200, json_object());
}

static void h_comment_delete(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (!comment_lookup(cu, req))
		return;
	/* No webhook: ClickUp has no comment-deleted event. */
	json_object_del(cu->comments, acs_http_req_param(req, "comment_id"));
	sim_respond_json(req, 200, json_object());
}

/* --- attachments --- */

/* Find the first multipart part named "attachment" or "attachment[N]". */
static bool multipart_file(struct acs_http_req *req, const char **data, size_t *len,
			   char **filename, char **ctype)
{
	const char *ct = acs_http_req_header(req, "Content-Type");
	const char *bp = ct ? strcasestr(ct, "boundary=") : NULL;
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) || !bp)
		return false;
	bp += 9;
	size_t blen = strcspn(bp, ";");
	if (*bp == '"') {
		bp++;
		blen = strcspn(bp, "\"");
	}
	if (!blen || blen > 200)
		return false;
	char delim[256];
	snprintf(delim, sizeof(delim), "--%.*s", (int)blen, bp);
	size_t dlen = strlen(delim);
	size_t blen_body;
	const char *body = acs_http_req_body(req, &blen_body);
	const char *end = body + blen_body;
	const char *p = memmem(body, blen_body, delim, dlen);
	while (p) {
		p += dlen;
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return false;
		if (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
			p += 2;
		const char *hend = memmem(p, (size_t)(end - p), "\r\n\r\n", 4);
		if (!hend)
			return false;
		const char *content = hend + 4;
		char crlf_delim[260];
		snprintf(crlf_delim, sizeof(crlf_delim), "\r\n%s", delim);
		const char *next = memmem(content, (size_t)(end - content), crlf_delim, dlen + 2);
		if (!next)
			return false;
		char *heads = acs_xstrndup(p, (size_t)(hend - p));
		const char *disp = strcasestr(heads, "content-disposition:");
		const char *nm = disp ? strstr(disp, "name=\"") : NULL;
		/* "filename=" also contains name=": skip it to find the field name. */
		while (nm && nm > heads && nm[-1] == 'e')
			nm = strstr(nm + 6, "name=\"");
		bool ok = false;
		if (nm) {
			nm += 6;
			size_t nl = strcspn(nm, "\"");
			ok = (nl == 10 && !strncmp(nm, "attachment", 10)) ||
			     (nl > 11 && !strncmp(nm, "attachment[", 11) && nm[nl - 1] == ']');
		}
		if (ok) {
			const char *fn = strcasestr(heads, "filename=\"");
			*filename = fn ? acs_xstrndup(fn + 10, strcspn(fn + 10, "\""))
				       : acs_xstrdup("attachment");
			const char *pct = strcasestr(heads, "\r\ncontent-type:");
			if (pct) {
				pct += 15;
				while (*pct == ' ')
					pct++;
				*ctype = acs_xstrndup(pct, strcspn(pct, "\r\n"));
			} else {
				*ctype = acs_xstrdup("application/octet-stream");
			}
			*data = content;
			*len = (size_t)(next - content);
		}
		free(heads);
		if (ok)
			return true;
		p = next + 2;
	}
	return false;
}

static char *url_escape(const char *s)
{
	struct acs_buf b;
	acs_buf_init(&b, 4096);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			(void)acs_buf_append(&b, p, 1);
		else
			(void)acs_buf_printf(&b, "%%%02X", *p);
	}
	return acs_buf_steal(&b, NULL);
}

static void h_attachment_post(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *t = task_lookup(cu, req);
	if (!t)
		return;
	const char *data;
	size_t len;
	char *filename = NULL, *ctype = NULL;
	if (!multipart_file(req, &data, &len, &filename, &ctype)) {
		cu_err(req, 400, "multipart/form-data with an \"attachment\" file part is required",
		       "SIM_ATTACHMENT");
		return;
	}
	char uuid[37];
	sim_random_uuid(uuid);
	const char *dot = strrchr(filename, '.');
	const char *ext = dot && dot[1] ? dot + 1 : "";
	char *id = *ext ? acs_xasprintf("%s.%s", uuid, ext) : acs_xstrdup(uuid);
	char *esc = url_escape(filename);
	char *url = acs_xasprintf("%s/attachments/%s/%s", sim_service_origin(cu->svc), uuid, esc);
	char *url_q = acs_xasprintf("%s?view=open", url);
	free(esc);
	uint64_t now = sim_now_ms(cu->sim);

	struct cu_blob *b = acs_xcalloc(1, sizeof(*b));
	b->uuid = acs_xstrdup(uuid);
	b->mimetype = ctype;
	b->data = acs_xmalloc(len ? len : 1);
	memcpy(b->data, data, len);
	b->len = len;
	b->next = cu->blobs;
	cu->blobs = b;

	json_t *att = json_pack(
		"{s:s,s:I,s:s,s:i,s:i,s:i,s:s,s:n,s:n,s:n,s:n,s:s,s:b,s:s,s:I,s:i,s:i,s:o,s:b,"
		"s:n,s:s,s:n,s:s,s:s}",
		"id", id, "date", (json_int_t)now, "title", filename, "type", 1, "source", 1,
		"version", 0, "extension", ext, "thumbnail_small", "thumbnail_medium",
		"thumbnail_large", "is_folder", "mimetype", ctype, "hidden", 0, "parent_id",
		jstr(t, "id"), "size", (json_int_t)len, "total_comments", 0, "resolved_comments", 0,
		"user", user_obj(cu, cu->token_user, U_COMMENT), "deleted", 0, "orientation", "url",
		url, "email_data", "url_w_query", url_q, "url_w_host", url);
	json_array_append_new(json_object_get(t, "attachments"), att);
	/* Deliberately no webhook: attaching to a task fires nothing (clickup.md §6). */
	json_t *resp = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s,s:s,s:s}", "id", id, "version", "0",
				 "date", (json_int_t)now, "title", filename, "extension", ext,
				 "thumbnail_small", url, "thumbnail_large", url, "url", url);
	free(id);
	free(url);
	free(url_q);
	free(filename);
	sim_respond_json(req, 200, resp);
}

static void h_attachment_download(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *uuid = acs_http_req_param(req, "uuid");
	for (struct cu_blob *b = cu->blobs; b; b = b->next) {
		if (!strcmp(b->uuid, uuid)) {
			sim_respond(req, 200, b->mimetype, b->data, b->len);
			return;
		}
	}
	sim_respond(req, 404, "text/plain", "Not Found\n", 10);
}

/* --- hierarchy --- */

static bool team_ok(struct sim_clickup *cu, struct acs_http_req *req)
{
	const char *team = acs_http_req_param(req, "team_id");
	if (team && !strcmp(team, jstr(cu->team, "id")))
		return true;
	cu_err(req, 401, "Team not authorized", "OAUTH_027");
	return false;
}

static void h_user(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	sim_respond_json(req, 200,
			 json_pack("{s:o}", "user", user_obj(cu, cu->token_user, U_TASK)));
}

static void h_teams(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *members = json_array();
	const char *k;
	json_t *u;
	json_object_foreach(cu->users, k, u)
	{
		json_array_append_new(
			members,
			json_pack("{s:o}", "user",
				  user_obj(cu, json_integer_value(json_object_get(u, "id")),
					   U_TEAM)));
	}
	json_t *team = json_deep_copy(cu->team);
	json_object_set_new(team, "members", members);
	sim_respond_json(req, 200, json_pack("{s:[o]}", "teams", team));
}

static void h_spaces(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (team_ok(cu, req))
		sim_respond_json(req, 200, json_pack("{s:O}", "spaces", cu->spaces));
}

static json_t *space_find(struct sim_clickup *cu, const char *id)
{
	size_t i;
	json_t *s;
	json_array_foreach(cu->spaces, i, s)
	{
		if (!strcmp(jstr(s, "id"), id))
			return s;
	}
	return NULL;
}

static void h_space(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *s = space_find(cu, acs_http_req_param(req, "space_id"));
	if (!s)
		cu_not_found(cu, req, "Space not found", "SIM_SPACE_NOT_FOUND");
	else
		sim_respond_json(req, 200, json_incref(s));
}

/* Lists whose folder is folder_id, or the folderless lists of space_id. */
static json_t *lists_where(struct sim_clickup *cu, const char *folder_id, const char *space_id)
{
	json_t *out = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(cu->list_order, i, idv)
	{
		json_t *l = json_object_get(cu->lists, json_string_value(idv));
		json_t *f = json_object_get(l, "folder");
		bool hidden = json_is_true(json_object_get(f, "hidden"));
		if (folder_id ? (!hidden && !strcmp(jstr(f, "id"), folder_id))
			      : (hidden &&
				 !strcmp(jstr(json_object_get(l, "space"), "id"), space_id)))
			json_array_append(out, l);
	}
	return out;
}

static size_t list_task_count(struct sim_clickup *cu, const char *list_id)
{
	size_t n = 0;
	const char *k;
	json_t *t;
	json_object_foreach(cu->tasks, k, t)
	{
		if (!strcmp(jstr(json_object_get(t, "list"), "id"), list_id))
			n++;
	}
	return n;
}

static json_t *folder_out(struct sim_clickup *cu, json_t *f)
{
	json_t *o = json_deep_copy(f);
	json_object_del(o, "_space");
	json_t *lists = lists_where(cu, jstr(f, "id"), NULL);
	size_t n = 0, i;
	json_t *l;
	json_array_foreach(lists, i, l) n += list_task_count(cu, jstr(l, "id"));
	char cnt[24];
	snprintf(cnt, sizeof(cnt), "%zu", n);
	json_object_set_new(o, "task_count", json_string(cnt));
	json_object_set_new(o, "lists", lists);
	return o;
}

static void h_folders(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *sid = acs_http_req_param(req, "space_id");
	if (!space_find(cu, sid)) {
		cu_not_found(cu, req, "Space not found", "SIM_SPACE_NOT_FOUND");
		return;
	}
	json_t *out = json_array();
	const char *k;
	json_t *f;
	json_object_foreach(cu->folders, k, f)
	{
		if (!strcmp(jstr(f, "_space"), sid))
			json_array_append_new(out, folder_out(cu, f));
	}
	sim_respond_json(req, 200, json_pack("{s:o}", "folders", out));
}

static void h_folder(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *f = json_object_get(cu->folders, acs_http_req_param(req, "folder_id"));
	if (!f)
		cu_not_found(cu, req, "Folder not found", "SIM_FOLDER_NOT_FOUND");
	else
		sim_respond_json(req, 200, folder_out(cu, f));
}

static void h_folder_lists(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *fid = acs_http_req_param(req, "folder_id");
	if (!json_object_get(cu->folders, fid))
		cu_not_found(cu, req, "Folder not found", "SIM_FOLDER_NOT_FOUND");
	else
		sim_respond_json(req, 200, json_pack("{s:o}", "lists", lists_where(cu, fid, NULL)));
}

static void h_space_lists(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *sid = acs_http_req_param(req, "space_id");
	if (!space_find(cu, sid))
		cu_not_found(cu, req, "Space not found", "SIM_SPACE_NOT_FOUND");
	else
		sim_respond_json(req, 200, json_pack("{s:o}", "lists", lists_where(cu, NULL, sid)));
}

static void h_list(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *lid = acs_http_req_param(req, "list_id");
	json_t *l = json_object_get(cu->lists, lid);
	if (!l) {
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
		return;
	}
	json_t *o = json_deep_copy(l);
	json_object_set_new(o, "task_count", json_integer((json_int_t)list_task_count(cu, lid)));
	sim_respond_json(req, 200, o);
}

static json_t *all_members(struct sim_clickup *cu)
{
	json_t *out = json_array();
	const char *k;
	json_t *u;
	json_object_foreach(cu->users, k, u)
	{
		json_array_append_new(
			out, user_obj(cu, json_integer_value(json_object_get(u, "id")), U_MEMBER));
	}
	return out;
}

static void h_list_members(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (!json_object_get(cu->lists, acs_http_req_param(req, "list_id")))
		cu_not_found(cu, req, "List not found", "SIM_LIST_NOT_FOUND");
	else
		sim_respond_json(req, 200, json_pack("{s:o}", "members", all_members(cu)));
}

static void h_task_members(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (task_lookup(cu, req))
		sim_respond_json(req, 200, json_pack("{s:o}", "members", all_members(cu)));
}

/* --- webhooks --- */

static bool valid_events(json_t *events)
{
	size_t i, j;
	json_t *e;
	if (!json_is_array(events) || !json_array_size(events))
		return false;
	json_array_foreach(events, i, e)
	{
		if (!json_is_string(e))
			return false;
		if (!strcmp(json_string_value(e), "*"))
			continue;
		for (j = 0; j < ACS_ARRAY_SIZE(cu_events); j++)
			if (!strcmp(cu_events[j], json_string_value(e)))
				break;
		if (j == ACS_ARRAY_SIZE(cu_events))
			return false;
	}
	return true;
}

static json_t *webhook_resp(json_t *wh)
{
	return json_pack("{s:O,s:O}", "id", json_object_get(wh, "id"), "webhook", wh);
}

static void h_webhooks_get(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (!team_ok(cu, req))
		return;
	json_t *out = json_array();
	size_t i;
	json_t *idv;
	json_array_foreach(cu->webhook_order, i, idv)
		json_array_append(out, json_object_get(cu->webhooks, json_string_value(idv)));
	sim_respond_json(req, 200, json_pack("{s:o}", "webhooks", out));
}

static void h_webhook_create(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	if (!team_ok(cu, req))
		return;
	json_t *body = sim_req_json(req);
	json_t *endpoint = json_object_get(body, "endpoint");
	json_t *events = json_object_get(body, "events");
	if (!json_is_string(endpoint) || !*json_string_value(endpoint)) {
		json_decref(body);
		cu_err(req, 400, "endpoint is required", "SIM_WEBHOOK_ENDPOINT");
		return;
	}
	if (!valid_events(events)) {
		json_decref(body);
		cu_err(req, 400, "events must be a non-empty array of known event names",
		       "SIM_WEBHOOK_EVENTS");
		return;
	}
	static const char *const locs[] = { "task_id", "list_id", "folder_id", "space_id" };
	char *loc[4] = { NULL };
	for (size_t i = 0; i < 4; i++) {
		json_t *v = json_object_get(body, locs[i]);
		if (v && !json_is_null(v) && !(loc[i] = id_string(v))) {
			for (size_t j = 0; j < i; j++)
				free(loc[j]);
			json_decref(body);
			cu_err(req, 400, "location ids must be strings or integers",
			       "SIM_WEBHOOK_LOCATION");
			return;
		}
	}
	/* Duplicate endpoint + events + location: OAUTH_171. */
	size_t i;
	json_t *idv;
	bool dup = false;
	json_array_foreach(cu->webhook_order, i, idv)
	{
		json_t *wh = json_object_get(cu->webhooks, json_string_value(idv));
		bool same = !strcmp(jstr(wh, "endpoint"), json_string_value(endpoint)) &&
			    json_equal(json_object_get(wh, "events"), events);
		for (size_t j = 0; j < 4 && same; j++) {
			const char *have = jstr(wh, locs[j]);
			same = (!have && !loc[j]) || (have && loc[j] && !strcmp(have, loc[j]));
		}
		dup = dup || same;
	}
	if (dup) {
		for (size_t j = 0; j < 4; j++)
			free(loc[j]);
		json_decref(body);
		cu_err(req, 400, "Webhook configuration already exists", "OAUTH_171");
		return;
	}
	char id[37], secret[65];
	sim_random_uuid(id);
	sim_random_string(secret, 64, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	json_t *wh = json_pack("{s:s,s:I,s:I,s:O,s:s,s:O}", "id", id, "userid", cu->token_user,
			       "team_id", (json_int_t)strtoll(jstr(cu->team, "id"), NULL, 10),
			       "endpoint", endpoint, "client_id", cu->client_id, "events", events);
	for (size_t j = 0; j < 4; j++) {
		json_object_set_new(wh, locs[j], loc[j] ? json_string(loc[j]) : json_null());
		free(loc[j]);
	}
	json_object_set_new(wh, "health",
			    json_pack("{s:s,s:i}", "status", "active", "fail_count", 0));
	json_object_set_new(wh, "secret", json_string(secret));
	json_object_set_new(cu->webhooks, id, wh);
	json_array_append_new(cu->webhook_order, json_string(id));
	json_decref(body);
	sim_respond_json(req, 200, webhook_resp(wh));
}

static void h_webhook_put(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	json_t *wh = json_object_get(cu->webhooks, acs_http_req_param(req, "webhook_id"));
	if (!wh) {
		cu_not_found(cu, req, "Webhook not found", "SIM_WEBHOOK_NOT_FOUND");
		return;
	}
	json_t *body = sim_req_json(req);
	json_t *endpoint = json_object_get(body, "endpoint");
	json_t *events = json_object_get(body, "events");
	json_t *status = json_object_get(body, "status");
	json_t *ev = json_is_string(events) && !strcmp(json_string_value(events), "*")
			     ? json_pack("[s]", "*")
			     : json_incref(events);
	if (!json_is_string(endpoint) || !*json_string_value(endpoint) || !valid_events(ev) ||
	    !json_is_string(status) || strcmp(json_string_value(status), "active")) {
		json_decref(ev);
		json_decref(body);
		cu_err(req, 400, "endpoint, events and status (\"active\") are required",
		       "SIM_WEBHOOK_UPDATE");
		return;
	}
	json_object_set(wh, "endpoint", endpoint);
	json_object_set_new(wh, "events", ev);
	json_t *health = json_object_get(wh, "health");
	json_object_set_new(health, "status", json_string("active"));
	json_object_set_new(health, "fail_count", json_integer(0));
	json_decref(body);
	sim_respond_json(req, 200, webhook_resp(wh));
}

static void h_webhook_delete(struct acs_http_req *req, void *arg)
{
	struct sim_clickup *cu = arg;
	const char *id = acs_http_req_param(req, "webhook_id");
	if (!json_object_get(cu->webhooks, id)) {
		cu_not_found(cu, req, "Webhook not found", "SIM_WEBHOOK_NOT_FOUND");
		return;
	}
	remove_from_array(cu->webhook_order, id);
	json_object_del(cu->webhooks, id);
	sim_respond_json(req, 200, json_object());
}

/* --- hook: auth and rate limit --- */

static long effective_limit(struct sim_clickup *cu)
{
	return cu->rate_limit_cli > 0 ? cu->rate_limit_cli : cu->rate_limit;
}

static bool cu_hook(void *impl, struct acs_http_req *req)
{
	struct sim_clickup *cu = impl;
	const char *path = acs_http_req_path(req);
	if (strncmp(path, "/api/v2/", 8) != 0 && strncmp(path, "/api/v3/", 8) != 0)
		return false; /* attachment downloads and unknown paths */
	const char *auth = acs_http_req_header(req, "Authorization");
	if (!auth || !*auth) {
		cu_err(req, 401, "Authorization header required", "OAUTH_017");
		return true;
	}
	if (strcmp(auth, cu->token) != 0) {
		cu_err(req, 401, "Token invalid", "OAUTH_025");
		return true;
	}
	uint64_t now = uv_now(sim_loop(cu->sim));
	if (!cu->window_open || now - cu->window_start >= CU_WINDOW_MS) {
		cu->window_open = true;
		cu->window_start = now;
		cu->used = 0;
	}
	cu->used++;
	long limit = effective_limit(cu);
	long remaining = cu->used >= limit ? 0 : limit - cu->used;
	/* Reset is real time: sim_now_ms moves on by a millisecond per call within one
	 * (unique change times), and one call per request ran it ahead of the clock
	 * under load, past the 60 s a window can last. */
	uint64_t reset_ms = sim_wall_us() / 1000 + (cu->window_start + CU_WINDOW_MS - now);
	char v[32];
	snprintf(v, sizeof(v), "%ld", limit);
	acs_http_req_add_header(req, "X-RateLimit-Limit", v);
	snprintf(v, sizeof(v), "%ld", remaining);
	acs_http_req_add_header(req, "X-RateLimit-Remaining", v);
	snprintf(v, sizeof(v), "%" PRIu64, (reset_ms + 999) / 1000);
	acs_http_req_add_header(req, "X-RateLimit-Reset", v);
	if (cu->used > limit) {
		cu_err(req, 429, "Rate limit reached", "APP_002");
		return true;
	}
	return false;
}

static json_t *cu_fault_body(void *impl, struct acs_http_req *req, int status)
{
	if (status == 429)
		return json_pack("{s:s,s:s}", "err", "Rate limit reached", "ECODE", "APP_002");
	return json_pack("{s:s,s:s}", "err", acs_http_status_text(status), "ECODE", "SIM_FAULT");
}

static void cu_fallback(struct acs_http_req *req, void *arg)
{
	const char *path = acs_http_req_path(req);
	if (!strncmp(path, "/_sim", 5)) {
		sim_respond_json(req, 404,
				 json_pack("{s:s,s:s}", "error", "Not Found", "detail",
					   "unknown control endpoint"));
		return;
	}
	cu_err(req, 404, "Route not found", "SIM_ROUTE");
}

static json_t *cu_info(void *impl)
{
	struct sim_clickup *cu = impl;
	char *base = acs_xasprintf("%s/api/v2", sim_service_origin(cu->svc));
	json_t *info = json_pack("{s:s,s:s,s:O,s:O,s:O}", "base_url", base, "token", cu->token,
				 "team_id", json_object_get(cu->team, "id"), "space_id",
				 json_object_get(json_array_get(cu->spaces, 0), "id"), "list_ids",
				 cu->list_order);
	free(base);
	return info;
}

/* POST /_sim/churn: what h_task_update does for a PUT {field: value}, without
 * the HTTP round trip (the token's user is the only ClickUp actor). */
static int cu_churn_edit(void *impl, const char *id, const char *field, const char *value,
			 const char *actor)
{
	struct sim_clickup *cu = impl;
	(void)actor;
	json_t *t = json_object_get(cu->tasks, id);
	if (!t)
		return -1;
	json_t *body = json_pack("{s:s}", *field ? field : "name", value);
	json_t *copy = task_edit_copy(t);
	json_t *items = json_array(), *events = json_array();
	const char *emsg = NULL, *ecode = NULL;
	int rc = apply_update(cu, copy, body, items, events, &emsg, &ecode);
	if (!rc) {
		touch(cu, copy);
		json_object_set(cu->tasks, jstr(copy, "id"), copy);
		fire_update(cu, copy, items, events);
	}
	json_decref(copy);
	json_decref(items);
	json_decref(events);
	json_decref(body);
	return rc ? -1 : 0;
}

static void cu_free(void *impl)
{
	struct sim_clickup *cu = impl;
	if (!cu)
		return;
	state_free(cu);
	free(cu);
}

static const struct sim_service_ops cu_ops = {
	.name = "clickup",
	.info = cu_info,
	.reset = cu_reset,
	.hook = cu_hook,
	.fault_body = cu_fault_body,
	.delivery_done = cu_delivery_done,
	.target_live = cu_target_live,
	.free = cu_free,
	.churn_edit = cu_churn_edit,
};

struct route {
	const char *method;
	const char *pattern;
	acs_http_handler_cb cb;
};

static const struct route cu_routes[] = {
	{ "GET", "/api/v2/user", h_user },
	{ "GET", "/api/v2/team", h_teams },
	{ "GET", "/api/v2/team/:team_id/space", h_spaces },
	{ "GET", "/api/v2/space/:space_id", h_space },
	{ "GET", "/api/v2/space/:space_id/folder", h_folders },
	{ "GET", "/api/v2/space/:space_id/list", h_space_lists },
	{ "GET", "/api/v2/space/:space_id/tag", h_space_tags },
	{ "GET", "/api/v2/folder/:folder_id", h_folder },
	{ "GET", "/api/v2/folder/:folder_id/list", h_folder_lists },
	{ "GET", "/api/v2/list/:list_id", h_list },
	{ "GET", "/api/v2/list/:list_id/member", h_list_members },
	{ "GET", "/api/v2/list/:list_id/field", h_list_fields },
	{ "GET", "/api/v2/list/:list_id/task", h_list_tasks },
	{ "POST", "/api/v2/list/:list_id/task", h_task_create },
	{ "GET", "/api/v2/task/:task_id", h_task_get },
	{ "PUT", "/api/v2/task/:task_id", h_task_update },
	{ "DELETE", "/api/v2/task/:task_id", h_task_delete },
	{ "GET", "/api/v2/task/:task_id/member", h_task_members },
	{ "POST", "/api/v2/task/:task_id/tag/:tag_name", h_tag_add },
	{ "DELETE", "/api/v2/task/:task_id/tag/:tag_name", h_tag_remove },
	{ "POST", "/api/v2/task/:task_id/field/:field_id", h_field_set },
	{ "DELETE", "/api/v2/task/:task_id/field/:field_id", h_field_remove },
	{ "GET", "/api/v2/task/:task_id/comment", h_comments_get },
	{ "POST", "/api/v2/task/:task_id/comment", h_comment_post },
	{ "PUT", "/api/v2/comment/:comment_id", h_comment_put },
	{ "DELETE", "/api/v2/comment/:comment_id", h_comment_delete },
	{ "PUT", "/api/v3/workspaces/:team_id/tasks/:task_id/home_list/:list_id", h_task_move },
	{ "POST", "/api/v2/task/:task_id/attachment", h_attachment_post },
	{ "GET", "/api/v2/team/:team_id/webhook", h_webhooks_get },
	{ "POST", "/api/v2/team/:team_id/webhook", h_webhook_create },
	{ "PUT", "/api/v2/webhook/:webhook_id", h_webhook_put },
	{ "DELETE", "/api/v2/webhook/:webhook_id", h_webhook_delete },
	{ "GET", "/attachments/:uuid/:name", h_attachment_download },
};

struct sim_clickup *sim_clickup_new(struct sim *sim, long rate_limit, char err[ACS_ERR_LEN])
{
	struct sim_clickup *cu = acs_xcalloc(1, sizeof(*cu));
	json_t *cfg = sim_seed_part(sim, "clickup");
	json_t *wh = json_object_get(cfg, "webhook");

	cu->sim = sim;
	cu->cfg = cfg;
	cu->token = jstr(cfg, "token");
	if (!cu->token || strncmp(cu->token, "pk_", 3)) {
		snprintf(err, ACS_ERR_LEN, "clickup seed: token must be a \"pk_...\" string");
		free(cu);
		return NULL;
	}
	json_t *u0 = json_array_get(sim_users(sim), 0);
	cu->token_user = seed_int(cfg, "token_user", seed_int(u0, "clickup_id", 1));
	cu->rate_limit = (long)seed_int(cfg, "rate_limit", 100);
	cu->rate_limit_cli = rate_limit > 0 ? rate_limit : 0;
	cu->not_found_status = (int)seed_int(cfg, "not_found_status", 404);
	json_t *cin = json_object_get(cfg, "comment_id_number");
	cu->comment_id_number = !cin || json_is_true(cin);
	cu->wh_max_attempts = (unsigned)seed_int(wh, "max_attempts", 5);
	cu->wh_suspend_after = (unsigned)seed_int(wh, "suspend_after", 100);
	cu->wh_retry_ms = (uint64_t)seed_int(wh, "retry_delay_ms", 1000);
	cu->wh_timeout_ms = (uint64_t)seed_int(wh, "timeout_ms", 7000);
	if (cu->rate_limit < 1 || cu->wh_max_attempts < 1 || cu->wh_suspend_after < 1 ||
	    cu->wh_timeout_ms < 1 || (cu->not_found_status != 404 && cu->not_found_status != 401)) {
		snprintf(err, ACS_ERR_LEN,
			 "clickup seed: rate_limit, webhook settings must be "
			 ">= 1 and not_found_status 404 or 401");
		free(cu);
		return NULL;
	}
	sim_random_string(cu->client_id, 32, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
	if (state_load(cu, err)) {
		state_free(cu);
		free(cu);
		return NULL;
	}
	cu->svc = sim_service_new(sim, &cu_ops, cu, err);
	if (!cu->svc) {
		state_free(cu);
		free(cu);
		return NULL;
	}
	for (size_t i = 0; i < ACS_ARRAY_SIZE(cu_routes); i++)
		acs_require(!sim_service_route(cu->svc, cu_routes[i].method, cu_routes[i].pattern,
					       cu_routes[i].cb, cu));
	sim_service_set_fallback(cu->svc, cu_fallback, cu);
	return cu;
}

struct sim_service *sim_clickup_service(struct sim_clickup *cu)
{
	return cu->svc;
}
