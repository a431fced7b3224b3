/* SPDX-License-Identifier: MIT */
/* Incoming webhook deliveries: who may send them (ADO Basic auth or header
 * secret, ClickUp X-Signature HMAC), and their normalisation into one plain
 * struct acs_webhook_event for the sync engine. Pure: no loop, no I/O. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "err.h"

/*
 * AUTHENTICATION
 *   ADO service hooks carry no signature (azure-devops.md §8, trap 9): the
 *   receiver checks HTTP Basic credentials and/or a shared-secret header that
 *   the subscription sends through its httpHeaders input. ClickUp signs the
 *   raw body: X-Signature = hex HMAC-SHA256(body, webhook secret) (clickup.md
 *   §7). Every secret comparison runs in constant time (libsodium), and a
 *   check with nothing configured fails: an unconfigured receiver is closed.
 *
 * NORMALISATION
 *   acs_webhook_parse_ado()/_clickup() turn a delivery body into a struct
 *   acs_webhook_event. The raw body is not kept: the engine stores it itself
 *   before acknowledging. Bodies are bounded (ACS_WEBHOOK_MAX_BODY bytes,
 *   ACS_WEBHOOK_MAX_DEPTH nesting levels, ACS_WEBHOOK_MAX_ID_LEN per id).
 *
 * IDEMPOTENCY (event_key)
 *   ADO: "ado:<workItemId>:<rev>:<eventType>". A revision number names one
 *     change of one item, so redeliveries (same body) and duplicate
 *     subscriptions (other subscriptionId/notificationId for the same event)
 *     share the key, while two changes never do. notificationId is not used:
 *     it counts per subscription, so a second subscription would defeat it.
 *     A comment bumps the rev and arrives both as workitem.commented and as
 *     workitem.updated; the event type keeps those two apart on purpose, as
 *     each carries something the other lacks. workitem.deleted and
 *     workitem.restored do not bump the rev, so a delete, restore and second
 *     delete would collide: their key adds the envelope's event id,
 *     "ado:<id>:<rev>:<eventType>:<event id>" (stable across redeliveries;
 *     a duplicate subscription at worst repeats an idempotent delete).
 *   ClickUp: "clickup:<task_id>:<history item ids, sorted, comma-separated>".
 *     ClickUp delivers one change twice, as the specific event (e.g.
 *     taskPriorityUpdated) and as taskUpdated, with the same history item id:
 *     both get the same key. webhook_id is left out so that two webhooks
 *     covering the same list also dedupe. Two cases keep distinct keys:
 *     taskCreated also carries a task_creation item, so it never collides
 *     with its companion taskStatusUpdated (a created event must not be
 *     swallowed by it); and a taskUpdated that bundles several items differs
 *     from each single-item specific event - history_ids lets the engine
 *     dedupe per item there. taskDeleted has no history: its key is
 *     "clickup:<task_id>:deleted".
 *
 * OWNERSHIP
 *   Every string and array in struct acs_webhook_event is heap memory owned by
 *   the event and released by acs_webhook_event_deinit(). The parse functions
 *   overwrite *out without freeing it; call _deinit after every parse, whatever
 *   it returned (it is safe on a zeroed or half-filled event).
 */

/** Largest body the parsers accept (ADO payloads reach 2 MB; the HTTP
 *  server's max_body_bytes normally stops bigger ones first). */
#define ACS_WEBHOOK_MAX_BODY (8u * 1024 * 1024)
/** Deepest JSON nesting accepted (real payloads stay below 10). */
#define ACS_WEBHOOK_MAX_DEPTH 32
/** Longest id (task, history item, webhook, comment) accepted. */
#define ACS_WEBHOOK_MAX_ID_LEN 64
/** At most this many changed field names are kept (see changed_fields_truncated). */
#define ACS_WEBHOOK_MAX_FIELDS 128
/** At most this many ClickUp history items per delivery; more is ACS_EPARSE. */
#define ACS_WEBHOOK_MAX_HISTORY 64

/** Return code of the parsers for a well-formed delivery of an event type the
 *  sync does not handle (list/space events, git.push...): answer 202 and drop
 *  it. An alias of ACS_ENOTFOUND, so acs_strerror() gives "not found". */
#define ACS_WEBHOOK_EIGNORED ACS_ENOTFOUND

/** Name of the shared-secret header an ADO subscription may send (through
 *  its consumerInputs.httpHeaders) instead of, or besides, Basic auth. */
#define ACS_WEBHOOK_ADO_SECRET_HEADER "X-ACS-Webhook-Secret"

/** What the ADO receiver accepts. A mode with an empty secret is off; with
 *  both off, nothing is accepted. Strings are borrowed for the call. */
struct acs_webhook_ado_auth {
	const char *username;	   /**< Basic user name (may be ""; compared exactly) */
	const char *password;	   /**< Basic password; NULL or "" = Basic auth off */
	const char *header_secret; /**< ACS_WEBHOOK_ADO_SECRET_HEADER value; NULL/"" = off */
};

/** True when the request may be accepted: either authorization_header is
 *  "Basic base64(user:password)" matching cfg (scheme case-insensitive), or
 *  custom_header_value (the ACS_WEBHOOK_ADO_SECRET_HEADER header, NULL when
 *  absent) equals cfg->header_secret. Comparisons are constant-time over
 *  fixed-length digests, so neither content nor length leaks. False when cfg
 *  is NULL or configures neither mode, and on any malformed header. */
bool acs_webhook_ado_authorized(const char *authorization_header, const char *custom_header_value,
				const struct acs_webhook_ado_auth *cfg);

/** True when signature_hex (the X-Signature header, 64 hex digits in either
 *  case) is the HMAC-SHA256 of the len raw body bytes under secret. False on
 *  any other length, non-hex input, NULL or empty secret. Constant time. */
bool acs_webhook_clickup_signature_ok(const void *body, size_t len, const char *signature_hex,
				      const char *secret);

enum acs_webhook_source {
	ACS_WEBHOOK_SOURCE_NONE = 0,
	ACS_WEBHOOK_SOURCE_ADO,
	ACS_WEBHOOK_SOURCE_CLICKUP,
};

/** What happened to the item. Neither service reports deleted comments (no
 *  ADO event, no ClickUp event): the sweep finds those, so there is no type.
 *  A taskUpdated twin of taskCommentUpdated cannot be told from a new comment
 *  and comes out as COMMENTED: treat COMMENTED and COMMENT_UPDATED alike, as
 *  an upsert by comment id. */
enum acs_webhook_type {
	ACS_WEBHOOK_UNKNOWN = 0,
	ACS_WEBHOOK_CREATED,	     /**< workitem.created, taskCreated */
	ACS_WEBHOOK_UPDATED,	     /**< workitem.updated, taskUpdated and the specific
				      *   task*Updated / taskMoved events */
	ACS_WEBHOOK_DELETED,	     /**< workitem.deleted (recycle bin), taskDeleted */
	ACS_WEBHOOK_RESTORED,	     /**< workitem.restored */
	ACS_WEBHOOK_COMMENTED,	     /**< workitem.commented, taskCommentPosted, and a
				      *   taskUpdated whose items are all comments */
	ACS_WEBHOOK_COMMENT_UPDATED, /**< taskCommentUpdated */
};

/** A normalised delivery: a plain value type, every pointer owned (see
 *  OWNERSHIP above). Absent strings are NULL. */
struct acs_webhook_event {
	enum acs_webhook_source source;
	enum acs_webhook_type type;
	char *event_name; /**< the service's name: "workitem.updated", "taskStatusUpdated" */
	char *event_key;  /**< idempotency key, see IDEMPOTENCY */
	char *item_id;	  /**< ADO work item id in decimal, or the ClickUp task id */

	int64_t ado_id;		    /**< work item id (resource.workItemId for updates) */
	int64_t ado_rev;	    /**< revision after the change */
	char *ado_project;	    /**< System.TeamProject */
	char *ado_project_id;	    /**< resourceContainers.project.id (GUID) */
	char *ado_area_path;	    /**< System.AreaPath ("Project\\Area") */
	char *ado_work_item_type;   /**< System.WorkItemType */
	char *ado_subscription_id;  /**< subscriptionId, for webhook health */
	char *clickup_webhook_id;   /**< webhook_id */
	char *clickup_list_id;	    /**< list_id, else history_items[0].parent_id */
	char **clickup_history_ids; /**< history item ids in delivery order */
	size_t n_clickup_history_ids;

	/** Changed fields. ADO updated: reference names of resource.fields minus
	 *  bookkeeping (System.Rev, System.AuthorizedDate, System.RevisedDate,
	 *  System.ChangedDate, System.ChangedBy, System.Watermark,
	 *  System.AuthorizedAs, System.PersonId), plus "relations" when links
	 *  or attachments changed; ADO commented: "System.History"; other ADO
	 *  events: none (the whole item is new or gone). ClickUp: each history
	 *  item's field ("status", "name", "content", "priority", "assignee_add",
	 *  "comment", ...), custom fields as "custom_field:<field id>";
	 *  duplicates removed, delivery order kept. */
	char **changed_fields;
	size_t n_changed_fields;
	bool changed_fields_truncated; /**< more than ACS_WEBHOOK_MAX_FIELDS: diff it all */

	/** When the change happened, Unix ms; 0 when the payload does not say
	 *  (taskDeleted). ADO: System.ChangedDate of the revision, except deletes
	 *  (which keep the last change's date) use the envelope's createdDate.
	 *  ClickUp: the latest history item date. */
	int64_t changed_at_ms;
	/** Who made the change, so the engine can recognise its own writes.
	 *  ADO updated: resource.revisedBy; other ADO events: System.ChangedBy
	 *  ("Name <email>"; for deletes that is the last editor, not the deleter).
	 *  ClickUp: history_items[0].user. */
	char *actor_id;	   /**< ADO identity GUID / ClickUp user id in decimal */
	char *actor_name;  /**< display name / username */
	char *actor_email; /**< unique name (e-mail) / email */

	/** Comment events. ADO: commentVersionRef.commentId and .version, text =
	 *  System.History (HTML). ClickUp: the history item's comment.id (or its
	 *  "after"), text = comment.text_content (plain text). */
	char *comment_id;
	int64_t comment_version; /**< ADO only; 0 otherwise */
	char *comment_text;
	bool comment_is_html; /**< true for ADO */
};

/** Parse an ADO service-hook delivery. Returns 0; ACS_EPARSE for malformed
 *  JSON, too deep nesting, a missing or mistyped required member (eventType,
 *  resource, work item id, rev) or a mistyped optional one (-> HTTP 400);
 *  ACS_ETOOBIG above ACS_WEBHOOK_MAX_BODY (-> 413); ACS_WEBHOOK_EIGNORED for
 *  an event type other than workitem.created/updated/deleted/restored/commented
 *  (-> 202; source and event_name are still filled in). err (may be NULL)
 *  gets a message on failure. Borrows body; out: see OWNERSHIP. */
int acs_webhook_parse_ado(const char *body, size_t len, struct acs_webhook_event *out,
			  char err[ACS_ERR_LEN]);
/** As acs_webhook_parse_ado() on an already parsed body (borrowed, not
 *  modified; nothing in out points into it). No ACS_ETOOBIG, and nesting is
 *  the caller's business. */
int acs_webhook_parse_ado_json(const json_t *root, struct acs_webhook_event *out,
			       char err[ACS_ERR_LEN]);

/** Parse a ClickUp webhook delivery (verify the signature first). Task events
 *  are handled; list/folder/space/goal events and unknown names give
 *  ACS_WEBHOOK_EIGNORED. Required: event, task_id, and history_items (except
 *  for taskDeleted), each with an id. Return codes, err and ownership as for
 *  acs_webhook_parse_ado(). */
int acs_webhook_parse_clickup(const char *body, size_t len, struct acs_webhook_event *out,
			      char err[ACS_ERR_LEN]);
/** As acs_webhook_parse_clickup() on an already parsed body (borrowed). */
int acs_webhook_parse_clickup_json(const json_t *root, struct acs_webhook_event *out,
				   char err[ACS_ERR_LEN]);

/** Release everything ev owns and zero it. NULL-safe, idempotent. */
void acs_webhook_event_deinit(struct acs_webhook_event *ev);

/** The full field set of the item after the change, from a parsed ADO
 *  delivery: resource.revision.fields for workitem.updated, resource.fields
 *  for the other events. Returns a BORROWED reference into root (valid while
 *  root lives and is not modified; json_incref it to keep it longer), or NULL
 *  when absent or not an object. Identities in it are "Name <email>" strings. */
json_t *acs_webhook_ado_revision_fields(json_t *root);

/** Static names for logs and storage: "created", "updated", ...; "ado",
 *  "clickup". Never NULL. */
const char *acs_webhook_type_name(enum acs_webhook_type type);
const char *acs_webhook_source_name(enum acs_webhook_source source);

#ifdef ACS_UNIT_TEST
/* File-local helpers, visible to test_webhook only (ACS_STATIC). */
int acs__webhook_iso_to_ms(const char *s, int64_t *ms);
#endif
