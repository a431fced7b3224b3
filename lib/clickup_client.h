/* SPDX-License-Identifier: MIT */
/* Typed asynchronous ClickUp API v2 client: one REST pipeline (lib/rest.h)
 * with ClickUp's auth header, rate-limit preset and error text, and one call
 * per endpoint the sync needs, each answering with plain C structs parsed
 * from the wire shapes of shared/api/clickup.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "common.h"
#include "curl_loop.h"
#include "governor.h"
#include "rest.h"

/*
 * DESIGN
 *   Every call is "build a request, queue it on the rest pipeline, parse the
 *   answer into a struct, call the typed callback". The pipeline does the
 *   pacing, retries and classification; this module only knows ClickUp's
 *   paths, bodies and shapes. Where the wire contract is UNCONFIRMED the
 *   parsers accept both readings: ids as string or number, timestamps as ms
 *   strings or numbers, priority as object, number, numeric string or null.
 *
 * OWNERSHIP
 *   - Request arguments (strings, arrays, change sets, json_t values) are
 *     borrowed: everything is serialised before the call returns.
 *   - A payload handed to a callback belongs to the callback: free it with
 *     the matching acs_clickup_*_free() (or keep it). It is NULL whenever
 *     res->cls is not ACS_REST_OK.
 *   - The result struct is valid only during the callback.
 *   - Strings inside payloads are heap copies owned by their struct; absent
 *     optional strings are NULL unless the field says "" instead.
 *   - json_t values inside payloads (custom field values) hold one reference
 *     owned by the payload; the _free function drops it. Call json_incref()
 *     on a value to keep it beyond the payload.
 *
 * LIFECYCLE
 *   acs_clickup_client_new -> calls -> acs_clickup_client_close (pending calls
 *   complete with ACS_ECANCELED, then the client is freed, then the close
 *   callback runs).
 */

struct acs_clickup_client;

struct acs_clickup_client_opts {
	const char *base_url; /**< "https://api.clickup.com/api/v2"; copied */
	const char *token;    /**< "pk_..." or "Bearer <oauth>", sent verbatim as the
					 *  Authorization value; copied, never logged */
	const struct acs_governor_opts *governor; /**< NULL = ClickUp preset (100/min) */
	uint64_t timeout_ms;			  /**< per attempt; 0 = rest's default (30 s) */
	unsigned max_attempts; /**< for retryable failures; 0 = rest's default (3) */
	uint64_t max_wait_ms;  /**< governor wait ceiling; 0 = rest's default */
};

/** How a call ended (valid during the callback only). */
struct acs_clickup_result {
	enum acs_rest_class cls; /**< ok / retryable / conflict / permanent */
	int error;		 /**< 0 or an ACS_E* code (see rest.h); ACS_EPARSE when a 2xx
				  *  body did not have the documented shape; ACS_ENOTFOUND
				  *  also for ClickUp's ITEM_0xx codes sent with 401 */
	long status;		 /**< HTTP status, 0 when none */
	const char *message;	 /**< ClickUp's "err" text or the transport error; "" when ok */
	const char *ecode;	 /**< ClickUp's "ECODE" ("OAUTH_025", "ITEM_013"...) or "" */
	unsigned attempts;	 /**< requests sent for this call */
};

/* --- payloads (plain value types) --- */

/** A user: task assignee, comment author, list/team member. */
struct acs_clickup_user {
	int64_t id;	/**< ClickUp user id (integer on the wire) */
	char *username; /**< "" when absent */
	char *email;	/**< "" when absent */
};

/** A custom field on a task. */
struct acs_clickup_custom_field {
	char *id; /**< UUID */
	char *name;
	char *type;    /**< "number", "drop_down", "url"... */
	json_t *value; /**< as ClickUp sent it (number fields come as strings, drop-downs
			 *  as an option orderindex), NULL when unset. One reference owned
			 *  by the task: json_incref() to keep it. */
};

/** An attachment (task payload or upload answer). */
struct acs_clickup_attachment {
	char *id;    /**< "<uuid>.<ext>" */
	char *title; /**< file name */
	char *url;
	char *extension; /**< "" when absent */
	char *mimetype;	 /**< "" when absent (the upload answer has none) */
	int64_t size;	 /**< bytes, -1 when absent (the upload answer has none) */
	int64_t date;	 /**< Unix ms, 0 when absent */
};

struct acs_clickup_task {
	char *id;
	char *custom_id; /**< "ENG-142" or NULL */
	char *name;
	char *description;	      /**< markdown_description when sent, else the plain text */
	bool description_is_markdown; /**< which one description holds */
	char *text_content;	      /**< plain text ("" when absent) */
	char *status;		      /**< status name, "" when absent */
	char *status_type;	      /**< "open", "custom", "closed", "done"... or "" */
	int priority;		      /**< 0 none, 1 urgent, 2 high, 3 normal, 4 low */
	struct acs_clickup_user *assignees;
	size_t n_assignees;
	char **tags; /**< tag names */
	size_t n_tags;
	int64_t due_date;     /**< Unix ms, 0 = none */
	int64_t date_created; /**< Unix ms, 0 when absent */
	int64_t date_updated; /**< Unix ms, 0 when absent */
	int64_t date_closed;  /**< Unix ms, 0 = open */
	char *list_id;	      /**< home list, "" when absent */
	char *parent;	      /**< parent task id (subtask) or NULL */
	char *url;	      /**< "" when absent */
	bool archived;
	struct acs_clickup_custom_field *custom_fields;
	size_t n_custom_fields;
	struct acs_clickup_attachment *attachments;
	size_t n_attachments;
};

/** One page of GET /list/{id}/task. */
struct acs_clickup_task_page {
	struct acs_clickup_task *tasks; /**< array of n (inline structs) */
	size_t n;
	bool last_page;
};

struct acs_clickup_comment {
	char *id;		      /**< always a string, even when the API sent a number */
	char *text;		      /**< plain text: the rich blocks joined (mentions as
				 *  "@username"), else comment_text; the trailing newline
				 *  ClickUp appends is removed */
	struct acs_clickup_user user; /**< author (id 0 when absent, e.g. after create) */
	int64_t date;		      /**< Unix ms */
	bool resolved;
	char *hist_id; /**< create answer only, else NULL */
};

/** One page of GET /task/{id}/comment (newest first, 25 per page). */
struct acs_clickup_comment_page {
	struct acs_clickup_comment *comments;
	size_t n;
};

struct acs_clickup_webhook {
	char *id; /**< UUID */
	char *endpoint;
	char **events; /**< event names ("*" = all) */
	size_t n_events;
	char *status;	    /**< health.status: "active", "failing", "suspended"... */
	int64_t fail_count; /**< health.fail_count */
	char *secret;	    /**< HMAC key; NULL when the answer has none */
	char *team_id;	    /**< "" when absent */
	char *space_id;	    /**< location ids: NULL when unset */
	char *folder_id;
	char *list_id;
	char *task_id;
	int64_t userid; /**< owner, 0 when absent */
};

struct acs_clickup_webhooks {
	struct acs_clickup_webhook *v;
	size_t n;
};

/** A workflow status of a list or space. */
struct acs_clickup_status {
	char *name; /**< "to do" */
	char *type; /**< "open", "custom", "closed", "done" */
	int64_t orderindex;
	char *color; /**< "" when absent */
};

struct acs_clickup_list {
	char *id;
	char *name;
	char *folder_id;		     /**< "" when absent */
	char *space_id;			     /**< "" when absent */
	struct acs_clickup_status *statuses; /**< empty in hierarchy listings that omit them */
	size_t n_statuses;
};

struct acs_clickup_lists {
	struct acs_clickup_list *v;
	size_t n;
};

struct acs_clickup_space {
	char *id;
	char *name;
	struct acs_clickup_status *statuses;
	size_t n_statuses;
};

struct acs_clickup_spaces {
	struct acs_clickup_space *v;
	size_t n;
};

struct acs_clickup_folder {
	char *id;
	char *name;
	char *space_id; /**< "" when absent */
};

struct acs_clickup_folders {
	struct acs_clickup_folder *v;
	size_t n;
};

/** A Workspace ("team" in API v2). */
struct acs_clickup_team {
	char *id;
	char *name;
	struct acs_clickup_user *members;
	size_t n_members;
};

struct acs_clickup_teams {
	struct acs_clickup_team *v;
	size_t n;
};

struct acs_clickup_members {
	struct acs_clickup_user *v;
	size_t n;
};

/** A custom field defined on a list (GET /list/{id}/field): no value. */
struct acs_clickup_field_def {
	char *id;   /**< UUID */
	char *name; /**< "" when absent */
	char *type; /**< "number", "drop_down", "url"...; "" when absent */
};

struct acs_clickup_field_defs {
	struct acs_clickup_field_def *v;
	size_t n;
};

/** Raw bytes of a download. */
struct acs_clickup_blob {
	char *data; /**< NUL-terminated copy (the NUL is not counted) */
	size_t len;
	char *content_type; /**< response Content-Type, "" when absent */
};

/** Each _free releases everything the struct owns and the struct itself.
 *  NULL is a no-op. */
void acs_clickup_task_free(struct acs_clickup_task *t);
void acs_clickup_task_page_free(struct acs_clickup_task_page *p);
void acs_clickup_comment_free(struct acs_clickup_comment *c);
void acs_clickup_comment_page_free(struct acs_clickup_comment_page *p);
void acs_clickup_attachment_free(struct acs_clickup_attachment *a);
void acs_clickup_webhook_free(struct acs_clickup_webhook *w);
void acs_clickup_webhooks_free(struct acs_clickup_webhooks *w);
void acs_clickup_list_free(struct acs_clickup_list *l);
void acs_clickup_lists_free(struct acs_clickup_lists *l);
void acs_clickup_spaces_free(struct acs_clickup_spaces *s);
void acs_clickup_folders_free(struct acs_clickup_folders *f);
void acs_clickup_teams_free(struct acs_clickup_teams *t);
void acs_clickup_members_free(struct acs_clickup_members *m);
void acs_clickup_field_defs_free(struct acs_clickup_field_defs *f);
void acs_clickup_blob_free(struct acs_clickup_blob *b);

/* --- parsers (pure; also used for webhook payloads and tests) --- */

/** Parse a Task object (GET /task shape). Returns a new task the caller frees
 *  with acs_clickup_task_free, or NULL with err when j is not a task (an
 *  object with a string or number "id"). j is borrowed. */
struct acs_clickup_task *acs_clickup_task_parse(const json_t *j, char err[ACS_ERR_LEN]);
/** Parse a Comment object (GET comments shape). Same rules. */
struct acs_clickup_comment *acs_clickup_comment_parse(const json_t *j, char err[ACS_ERR_LEN]);
/** Parse a Webhook object (the "webhook" member of create/update answers or
 *  an element of GET webhooks). Same rules. */
struct acs_clickup_webhook *acs_clickup_webhook_parse(const json_t *j, char err[ACS_ERR_LEN]);
/** Plain text of a rich comment array ([{text, attributes}, {type:"tag",
 *  user{...}}...]): heap string the caller frees. */
char *acs_clickup_comment_blocks_text(const json_t *blocks);
/** A Unix-ms timestamp sent as an integer, a real or a decimal string; 0 for
 *  null, absent or malformed. */
int64_t acs_clickup_parse_ms(const json_t *v);
/** Priority as 0..4 from an object {"id":"2","priority":"high"}, a number or
 *  a numeric string; 0 for null or anything else. */
int acs_clickup_parse_priority(const json_t *v);

/* --- client --- */

/** New client on loop using cl (both borrowed, must outlive the client).
 *  Returns NULL with err on a missing base_url/token or a bad option. */
struct acs_clickup_client *acs_clickup_client_new(uv_loop_t *loop, struct acs_curl_loop *cl,
						  const struct acs_clickup_client_opts *opts,
						  char err[ACS_ERR_LEN]);

typedef void (*acs_clickup_closed_cb)(void *arg);

/** Cancel pending calls (their callbacks get ACS_ECANCELED), free the client,
 *  then cb(arg) (cb may be NULL). Idempotent. Safe from a call's callback. */
void acs_clickup_client_close(struct acs_clickup_client *c, acs_clickup_closed_cb cb, void *arg);

/** Calls queued or in flight. */
size_t acs_clickup_client_pending(const struct acs_clickup_client *c);
/** Budget left in the current rate-limit window (-1 unknown). */
int64_t acs_clickup_client_budget_left(const struct acs_clickup_client *c);
/** The governor's counters. */
void acs_clickup_client_stats(const struct acs_clickup_client *c, struct acs_governor_stats *out);

/* --- callbacks: payload owned by the callback, NULL unless res->cls is OK --- */

typedef void (*acs_clickup_done_cb)(const struct acs_clickup_result *res, void *arg);
typedef void (*acs_clickup_task_cb)(const struct acs_clickup_result *res,
				    struct acs_clickup_task *task, void *arg);
typedef void (*acs_clickup_task_page_cb)(const struct acs_clickup_result *res,
					 struct acs_clickup_task_page *page, void *arg);
typedef void (*acs_clickup_comment_cb)(const struct acs_clickup_result *res,
				       struct acs_clickup_comment *comment, void *arg);
typedef void (*acs_clickup_comment_page_cb)(const struct acs_clickup_result *res,
					    struct acs_clickup_comment_page *page, void *arg);
typedef void (*acs_clickup_attachment_cb)(const struct acs_clickup_result *res,
					  struct acs_clickup_attachment *att, void *arg);
typedef void (*acs_clickup_blob_cb)(const struct acs_clickup_result *res,
				    struct acs_clickup_blob *blob, void *arg);
typedef void (*acs_clickup_webhook_cb)(const struct acs_clickup_result *res,
				       struct acs_clickup_webhook *wh, void *arg);
typedef void (*acs_clickup_webhooks_cb)(const struct acs_clickup_result *res,
					struct acs_clickup_webhooks *whs, void *arg);
typedef void (*acs_clickup_list_cb)(const struct acs_clickup_result *res,
				    struct acs_clickup_list *list, void *arg);
typedef void (*acs_clickup_lists_cb)(const struct acs_clickup_result *res,
				     struct acs_clickup_lists *lists, void *arg);
typedef void (*acs_clickup_spaces_cb)(const struct acs_clickup_result *res,
				      struct acs_clickup_spaces *spaces, void *arg);
typedef void (*acs_clickup_folders_cb)(const struct acs_clickup_result *res,
				       struct acs_clickup_folders *folders, void *arg);
typedef void (*acs_clickup_teams_cb)(const struct acs_clickup_result *res,
				     struct acs_clickup_teams *teams, void *arg);
typedef void (*acs_clickup_field_defs_cb)(const struct acs_clickup_result *res,
					  struct acs_clickup_field_defs *fields, void *arg);
/** fields: the answer's "fields" array (borrowed for the call; NULL on failure), each
 *  definition whole ({"id", "name", "type", "type_config", ...}). */
typedef void (*acs_clickup_field_defs_json_cb)(const struct acs_clickup_result *res,
					       const json_t *fields, void *arg);
typedef void (*acs_clickup_members_cb)(const struct acs_clickup_result *res,
				       struct acs_clickup_members *members, void *arg);

/*
 * Every call: the callback (required) runs exactly once, always
 * asynchronously, with arg (borrowed until then). Returns 0; -EINVAL for a
 * missing id or bad argument, ACS_ECLOSED after close (the callback is then
 * never called). cls selects the governor class (interactive or background).
 */

/** A custom field value to write: {"id": id, "value": value}. */
struct acs_clickup_field_value {
	const char *id;	     /**< field UUID */
	const json_t *value; /**< borrowed; its JSON type depends on the field type */
};

/** Body of POST /list/{id}/task. Unset members are not sent. */
struct acs_clickup_task_new {
	const char *name;	  /**< required */
	const char *markdown;	  /**< sent as markdown_content; NULL = none */
	const char *status;	  /**< status name; NULL = the list's first */
	int priority;		  /**< 1..4; 0 = none (not sent) */
	const int64_t *assignees; /**< user ids */
	size_t n_assignees;
	const char *const *tags; /**< tag names */
	size_t n_tags;
	int64_t due_date;   /**< Unix ms; 0 = none */
	bool due_date_time; /**< the due date carries a time of day */
	const struct acs_clickup_field_value *custom_fields;
	size_t n_custom_fields;
	const char *parent; /**< parent task id (same list) or NULL */
	bool notify_all;
};

/** Body of PUT /task/{id}: only what is set is sent. Tags and custom fields
 *  cannot change through PUT: use the tag and field calls. */
struct acs_clickup_task_changes {
	const char *name;	      /**< NULL = unchanged */
	const char *markdown;	      /**< NULL = unchanged; sent as markdown_content; ""
				   *  clears (sent as description " ", as documented) */
	const char *status;	      /**< status name; NULL = unchanged */
	bool set_priority;	      /**< send priority: */
	int priority;		      /**< 1..4, or 0 to clear (null) */
	bool set_due_date;	      /**< send due_date: */
	int64_t due_date;	      /**< Unix ms, or 0 to clear (null) */
	bool due_date_time;	      /**< sent with due_date */
	const int64_t *assignees_add; /**< assignees: {"add": [...], "rem": [...]} */
	size_t n_assignees_add;
	const int64_t *assignees_rem;
	size_t n_assignees_rem;
};

/** Query of GET /list/{id}/task (always with include_markdown_description). */
struct acs_clickup_task_query {
	const char *list_id;	 /**< required */
	unsigned page;		 /**< 0-based; 100 tasks per page */
	int64_t date_updated_gt; /**< Unix ms; 0 = no filter (also orders by updated) */
	bool include_closed;
	bool subtasks;
	bool reverse; /**< oldest first */
};

/** Body of POST /team/{id}/webhook. */
struct acs_clickup_webhook_new {
	const char *endpoint;	   /**< required */
	const char *const *events; /**< required, n_events >= 1; {"*"} = all */
	size_t n_events;
	const char *space_id; /**< at most one location; numeric ids are sent as
				    *  numbers, as the SPEC types them */
	const char *folder_id;
	const char *list_id;
	const char *task_id;
};

/** Body of PUT /webhook/{id} (SPEC: all three required). */
struct acs_clickup_webhook_changes {
	const char *endpoint;
	const char *const *events; /**< n_events 0 = "*" */
	size_t n_events;
	const char *status; /**< "active" (NULL = "active") */
};

int acs_clickup_get_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			 const char *task_id, acs_clickup_task_cb cb, void *arg);
/** The answer is the created task (markdown not echoed: description holds the
 *  plain text the API returns). */
int acs_clickup_create_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *list_id, const struct acs_clickup_task_new *t,
			    acs_clickup_task_cb cb, void *arg);
/** -EINVAL when ch changes nothing. The answer is the updated task. */
int acs_clickup_update_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *task_id, const struct acs_clickup_task_changes *ch,
			    acs_clickup_task_cb cb, void *arg);
int acs_clickup_delete_task(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *task_id, acs_clickup_done_cb cb, void *arg);

/** As acs_clickup_task_cb, plus the answer's JSON object (borrowed: valid during the
 *  callback only; NULL unless res->cls is OK), for readers such as the mapper that
 *  work on the wire shape. */
typedef void (*acs_clickup_task_json_cb)(const struct acs_clickup_result *res,
					 struct acs_clickup_task *task, const json_t *json,
					 void *arg);
/** GET /task/{id}?include_markdown_description=true with the raw answer. */
int acs_clickup_get_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
			      const char *task_id, acs_clickup_task_json_cb cb, void *arg);
/** POST /list/{id}/task with a ready body (e.g. acs_mapper_clickup_create's; borrowed,
 *  copied). -EINVAL unless body is an object with a non-empty "name". */
int acs_clickup_create_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *list_id, const json_t *body,
				 acs_clickup_task_json_cb cb, void *arg);
/** PUT /task/{id} with a ready body (e.g. acs_mapper_clickup_update's; borrowed,
 *  copied). -EINVAL for an empty or non-object body. */
int acs_clickup_update_task_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *task_id, const json_t *body,
				 acs_clickup_task_json_cb cb, void *arg);
int acs_clickup_list_tasks(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const struct acs_clickup_task_query *q, acs_clickup_task_page_cb cb,
			   void *arg);

int acs_clickup_add_tag(struct acs_clickup_client *c, enum acs_governor_class cls,
			const char *task_id, const char *tag, acs_clickup_done_cb cb, void *arg);
int acs_clickup_remove_tag(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const char *task_id, const char *tag, acs_clickup_done_cb cb, void *arg);
/** POST /task/{id}/field/{field_id} {"value": value} (value borrowed). */
int acs_clickup_set_custom_field(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *task_id, const char *field_id, const json_t *value,
				 acs_clickup_done_cb cb, void *arg);
int acs_clickup_remove_custom_field(struct acs_clickup_client *c, enum acs_governor_class cls,
				    const char *task_id, const char *field_id,
				    acs_clickup_done_cb cb, void *arg);

/** One page of comments, newest first. For the next page pass the date and
 *  id of the last comment of this page (start 0 / start_id NULL: first). */
int acs_clickup_list_comments(struct acs_clickup_client *c, enum acs_governor_class cls,
			      const char *task_id, int64_t start, const char *start_id,
			      acs_clickup_comment_page_cb cb, void *arg);
/** The answer holds id, hist_id, date and the text sent (user id 0). */
int acs_clickup_create_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *task_id, const char *text, bool notify_all,
			       acs_clickup_comment_cb cb, void *arg);
/** PUT /comment/{id} {"comment_text", "resolved"}. */
int acs_clickup_update_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *comment_id, const char *text, bool resolved,
			       acs_clickup_done_cb cb, void *arg);
int acs_clickup_delete_comment(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *comment_id, acs_clickup_done_cb cb, void *arg);

/** Largest upload accepted (the body is built in memory). */
#define ACS_CLICKUP_MAX_UPLOAD (64u << 20)

/** POST /task/{id}/attachment as multipart/form-data with one file part
 *  named "attachment". data is borrowed (copied into the body); content_type
 *  NULL = application/octet-stream. -EINVAL when len exceeds
 *  ACS_CLICKUP_MAX_UPLOAD or a name contains CR/LF. */
int acs_clickup_upload_attachment(struct acs_clickup_client *c, enum acs_governor_class cls,
				  const char *task_id, const char *filename,
				  const char *content_type, const void *data, size_t len,
				  acs_clickup_attachment_cb cb, void *arg);
/** GET an absolute attachment URL, raw. max_bytes 0 = curl_loop's default.
 *  The token goes with the request, so only URLs on base_url's origin or
 *  https on *.clickup.com / *.clickup-attachments.com are accepted (-EINVAL
 *  otherwise, and for URLs with userinfo). */
int acs_clickup_download(struct acs_clickup_client *c, enum acs_governor_class cls, const char *url,
			 size_t max_bytes, acs_clickup_blob_cb cb, void *arg);

/** Answer of a download into a file: bytes = body bytes written (when res->cls is OK). */
typedef void (*acs_clickup_file_cb)(const struct acs_clickup_result *res, uint64_t bytes,
				    void *arg);
/** As acs_clickup_upload_attachment, with the file part streamed from len bytes of fd
 *  starting at offset (read on the thread pool; never the whole file in memory; fd
 *  borrowed until cb ran). No ACS_CLICKUP_MAX_UPLOAD ceiling (ClickUp takes 1 GB).
 *  timeout_ms per attempt, 0 = the client's. */
int acs_clickup_upload_attachment_file(struct acs_clickup_client *c, enum acs_governor_class cls,
				       const char *task_id, const char *filename,
				       const char *content_type, uv_file fd, int64_t offset,
				       uint64_t len, uint64_t timeout_ms,
				       acs_clickup_attachment_cb cb, void *arg);
/** As acs_clickup_download, with the body written into fd from offset 0 (off the loop;
 *  fd borrowed until cb ran). A body over max_bytes (0 = curl_loop's default) fails
 *  with ACS_ETOOBIG. bytes (optional) sees every byte in order, and (NULL, 0) when a
 *  retry starts over. */
int acs_clickup_download_to_file(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *url, uv_file fd, size_t max_bytes, uint64_t timeout_ms,
				 acs_rest_bytes_cb bytes, void *bytes_arg, acs_clickup_file_cb cb,
				 void *arg);

int acs_clickup_get_teams(struct acs_clickup_client *c, enum acs_governor_class cls,
			  acs_clickup_teams_cb cb, void *arg);
int acs_clickup_get_spaces(struct acs_clickup_client *c, enum acs_governor_class cls,
			   const char *team_id, acs_clickup_spaces_cb cb, void *arg);
int acs_clickup_get_folders(struct acs_clickup_client *c, enum acs_governor_class cls,
			    const char *space_id, acs_clickup_folders_cb cb, void *arg);
/** Lists of a folder. */
int acs_clickup_get_lists(struct acs_clickup_client *c, enum acs_governor_class cls,
			  const char *folder_id, acs_clickup_lists_cb cb, void *arg);
/** Lists directly in a space (no folder). */
int acs_clickup_get_folderless_lists(struct acs_clickup_client *c, enum acs_governor_class cls,
				     const char *space_id, acs_clickup_lists_cb cb, void *arg);
/** One list with its statuses. */
int acs_clickup_get_list(struct acs_clickup_client *c, enum acs_governor_class cls,
			 const char *list_id, acs_clickup_list_cb cb, void *arg);
int acs_clickup_get_list_members(struct acs_clickup_client *c, enum acs_governor_class cls,
				 const char *list_id, acs_clickup_members_cb cb, void *arg);
/** The custom fields a list's tasks can carry (GET /list/{id}/field). */
int acs_clickup_get_list_fields(struct acs_clickup_client *c, enum acs_governor_class cls,
				const char *list_id, acs_clickup_field_defs_cb cb, void *arg);
/** The same, with the definitions as the API gives them (drop-down options included). */
int acs_clickup_get_list_fields_json(struct acs_clickup_client *c, enum acs_governor_class cls,
				     const char *list_id, acs_clickup_field_defs_json_cb cb,
				     void *arg);

int acs_clickup_get_webhooks(struct acs_clickup_client *c, enum acs_governor_class cls,
			     const char *team_id, acs_clickup_webhooks_cb cb, void *arg);
/** The answer carries the secret. */
int acs_clickup_create_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *team_id, const struct acs_clickup_webhook_new *w,
			       acs_clickup_webhook_cb cb, void *arg);
int acs_clickup_update_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *webhook_id, const struct acs_clickup_webhook_changes *w,
			       acs_clickup_webhook_cb cb, void *arg);
int acs_clickup_delete_webhook(struct acs_clickup_client *c, enum acs_governor_class cls,
			       const char *webhook_id, acs_clickup_done_cb cb, void *arg);
