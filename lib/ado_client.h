/* SPDX-License-Identifier: MIT */
/* Typed asynchronous Azure DevOps REST 7.1 client: work items, WIQL, types
 * and states, comments, attachments, service-hook subscriptions, projects and
 * area paths, over one struct acs_rest (governor, PAT auth, retries, classes).
 * Wire contract: shared/api/azure-devops.md. */
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
 * OWNERSHIP
 *   Every typed payload handed to a completion callback belongs to the
 *   callback from then on: free it with its acs_ado_*_free function (all are
 *   NULL-safe), or keep it. The struct acs_ado_result and its strings are
 *   borrowed, valid only during the callback. Inputs (ids, field sets,
 *   bodies, json values) are copied or serialised before the call returns:
 *   nothing needs to outlive the call, except arg, which is borrowed until
 *   the callback ran.
 *
 * CALLBACKS
 *   Each call returns 0 and then runs its callback exactly once, always from
 *   the loop; or returns a negative code (-EINVAL bad arguments, -ENODATA
 *   nothing to update, ACS_ECLOSED after close) and never runs it. On
 *   failure the payload is NULL and res says why: cls (what to do about it),
 *   error and status (what happened), message (ADO's "message" text, or the
 *   transport error), type_key (ADO's "typeKey" when the body had one).
 *
 * DATES
 *   Millisecond Unix times. ADO's ISO-8601 strings with any number of
 *   fractional digits are accepted; writes use "YYYY-MM-DDTHH:MM:SS.mmmZ".
 */

/** Most ids per batch request (the service's limit). */
#define ACS_ADO_MAX_BATCH 200
/** Longest WIQL text the service accepts. */
#define ACS_ADO_MAX_WIQL 32000
/** The due date field the client reads first and writes by default. */
#define ACS_ADO_FIELD_DUE_DATE "Microsoft.VSTS.Scheduling.DueDate"
/** Read when DueDate is absent (Epics, Features...). */
#define ACS_ADO_FIELD_TARGET_DATE "Microsoft.VSTS.Scheduling.TargetDate"

struct acs_ado_client;

struct acs_ado_client_opts {
	const char *base_url;	  /**< part before /{org}, e.g. "https://dev.azure.com"; copied */
	const char *organization; /**< copied */
	const char *project;	  /**< name (may contain spaces) or GUID; copied */
	const char *pat;	  /**< personal access token; only kept inside the auth header */
	const struct acs_governor_opts *governor; /**< NULL = the ADO preset */
	uint64_t timeout_ms;			  /**< per attempt (0 = rest's default, 30 s) */
	unsigned max_attempts;	   /**< for retryable failures (0 = rest's default, 3) */
	uint64_t max_wait_ms;	   /**< longest wait for the governor (0 = rest's default) */
	size_t max_download_bytes; /**< attachment download ceiling (0 = 60 MB) */
};

/** Outcome of a call (borrowed: valid during the callback only). */
struct acs_ado_result {
	enum acs_rest_class cls; /**< ok / retryable / conflict / permanent */
	int error;		 /**< 0 or an acs_err (see acs_rest_result) */
	long status;		 /**< HTTP status, 0 when none */
	const char *message;	 /**< ADO's message or the transport error; "" when ok */
	const char *type_key;	 /**< ADO's typeKey, "" when absent */
	unsigned attempts;	 /**< requests sent (all pages of a paged call) */
};

/* --- value types (parsed from JSON; every string is owned by its struct) --- */

/** An identity: REST reads give an IdentityRef object, service hooks a
 *  "Display Name <unique@name>" string; both parse into this. */
struct acs_ado_identity {
	char *display_name; /**< NULL when absent */
	char *unique_name;  /**< e-mail / UPN; NULL when absent */
	char *id;	    /**< GUID; NULL when absent (hook strings carry none) */
};

struct acs_ado_relation {
	char *rel; /**< "Hyperlink", "AttachedFile", "System.LinkTypes..." */
	char *url;
	char *name;	    /**< attributes.name or NULL */
	char *comment;	    /**< attributes.comment or NULL */
	json_t *attributes; /**< the whole attributes object (owned reference) or NULL */
};

struct acs_ado_work_item {
	int64_t id;
	int64_t rev;
	json_t *fields;	   /**< every field as returned (owned reference; never NULL) */
	char *title;	   /**< NULL when absent, likewise for the strings below */
	char *description; /**< HTML */
	char *state;
	char *reason;
	char *work_item_type;
	char *area_path;
	char *iteration_path;
	char *team_project;
	int priority; /**< 1..4, 0 = none */
	bool has_assigned_to;
	struct acs_ado_identity assigned_to;
	char **tags; /**< split from "a; b"; n_tags entries */
	size_t n_tags;
	bool has_due_date;
	int64_t due_date_ms;
	const char *due_date_field;	    /**< which field held it (static string) or NULL */
	int64_t changed_date_ms;	    /**< 0 when absent */
	int64_t created_date_ms;	    /**< 0 when absent */
	int64_t comment_count;		    /**< System.CommentCount, 0 when absent */
	struct acs_ado_relation *relations; /**< n_relations entries (absent = 0) */
	size_t n_relations;
	char *url;	/**< REST url */
	char *html_url; /**< _links.html.href, NULL when absent */
};

struct acs_ado_work_item_list {
	struct acs_ado_work_item *items; /**< in the order the service returned */
	size_t n;
};

struct acs_ado_comment {
	int64_t id; /**< "id" (or "commentId" in older payloads) */
	int64_t work_item_id;
	int64_t version;
	char *text;   /**< HTML (or Markdown when format is "markdown") */
	char *format; /**< "html", "markdown" or NULL */
	struct acs_ado_identity created_by;
	struct acs_ado_identity modified_by;
	int64_t created_date_ms;
	int64_t modified_date_ms;
	bool is_deleted;
	char *url;
};

struct acs_ado_comment_list {
	struct acs_ado_comment *comments;
	size_t n;
	int64_t total_count;	  /**< totalCount, -1 when absent */
	char *continuation_token; /**< pass to the next list call; NULL on the last page */
};

struct acs_ado_attachment_ref {
	char *id;  /**< GUID */
	char *url; /**< use as the AttachedFile relation url and to download */
};

/** Downloaded bytes. */
struct acs_ado_blob {
	char *data; /**< len bytes plus a NUL */
	size_t len;
	char *content_type; /**< NULL when absent */
};

struct acs_ado_state {
	char *name;
	char *color;	/**< hex without '#', NULL when absent */
	char *category; /**< "Proposed", "InProgress", "Resolved", "Completed", ... */
};

struct acs_ado_state_list {
	struct acs_ado_state *states;
	size_t n;
};

struct acs_ado_work_item_type {
	char *name;
	char *reference_name;
	char *description;
	char *color;
	bool is_disabled;
	struct acs_ado_state *states; /**< when the listing includes them */
	size_t n_states;
};

struct acs_ado_type_list {
	struct acs_ado_work_item_type *types;
	size_t n;
};

struct acs_ado_project {
	char *id;
	char *name;
	char *state; /**< "wellFormed"..., NULL when absent */
};

struct acs_ado_project_list {
	struct acs_ado_project *projects;
	size_t n;
};

/** The area tree flattened depth-first: "Project", "Project\\Web", ... */
struct acs_ado_path_list {
	char **paths;
	size_t n;
};

struct acs_ado_subscription {
	char *id;
	char *url;
	char *status; /**< missing in the service's answer => "enabled" */
	char *publisher_id;
	char *event_type;
	char *resource_version;
	char *consumer_id;
	char *consumer_action_id;
	json_t *publisher_inputs; /**< owned reference (object, never NULL) */
	char *project_id;	  /**< publisherInputs.projectId or NULL */
	char *area_path;	  /**< publisherInputs.areaPath or NULL */
	char *work_item_type;	  /**< publisherInputs.workItemType or NULL */
	char *consumer_url;	  /**< consumerInputs.url */
	char *basic_auth_username;
	char *http_headers; /**< "Key:value" lines separated by '\n' */
	bool has_password;  /**< consumerInputs had a (masked) basicAuthPassword;
				   *  the value itself is never kept */
	int64_t created_date_ms;
	int64_t modified_date_ms;
	int64_t probation_retries;	 /**< number or numeric string; 0 when absent */
	int64_t last_probation_retry_ms; /**< 0 when absent */
};

struct acs_ado_subscription_list {
	struct acs_ado_subscription *subs;
	size_t n;
};

/* --- inputs ------------------------------------------------------------- */

/** What to do with an optional field in an acs_ado_fields. */
enum acs_ado_change {
	ACS_ADO_KEEP = 0, /**< leave it alone */
	ACS_ADO_SET,	  /**< set it to the given value */
	ACS_ADO_CLEAR,	  /**< remove its value */
};

/** An arbitrary field by reference name; value is borrowed (serialised
 *  during the call). A NULL value clears the field. */
struct acs_ado_field_value {
	const char *ref;
	const json_t *value;
};

/** A relation to add, e.g. {"Hyperlink", "https://app.clickup.com/t/x",
 *  "ClickUp task", NULL} or {"AttachedFile", <attachment url>, comment, NULL}. */
struct acs_ado_relation_add {
	const char *rel;
	const char *url;
	const char *comment; /**< attributes.comment, NULL for none */
	const char *name;    /**< attributes.name, NULL for none */
};

/** The fields to write. Strings: NULL keeps the field, "" clears it (for
 *  create, "" is skipped). Everything is borrowed during the call only. */
struct acs_ado_fields {
	const char *title;
	const char *description; /**< HTML */
	const char *state;
	const char *area_path;
	const char *history;	 /**< System.History: appends a discussion entry */
	int priority;		 /**< 0 keep, 1..4 set, -1 clear */
	const char *assigned_to; /**< unique name / e-mail, "Name <email>"; "" unassigns */
	enum acs_ado_change tags_change;
	const char *const *tags; /**< n_tags names, joined as "a; b" */
	size_t n_tags;
	enum acs_ado_change due_change;
	int64_t due_date_ms;
	const char *due_date_field;		 /**< NULL = ACS_ADO_FIELD_DUE_DATE */
	const struct acs_ado_field_value *extra; /**< n_extra arbitrary fields */
	size_t n_extra;
	const struct acs_ado_relation_add *add_relations; /**< appended to /relations/- */
	size_t n_add_relations;
	const size_t *remove_relations; /**< indexes into the current relations */
	size_t n_remove_relations;
};

/** Filters of acs_ado_wiql_build (all optional except project). */
struct acs_ado_wiql_filter {
	const char *project;	  /**< [System.TeamProject] = '...' */
	const char *area_path;	  /**< [System.AreaPath] UNDER '...' */
	const char *const *types; /**< [System.WorkItemType] IN (...), n_types names */
	size_t n_types;
	const char *assigned_to; /**< a literal, or a macro like "@Me" */
	bool has_changed_since;
	int64_t changed_since_ms; /**< [System.ChangedDate] >= that instant */
	bool include_removed;	  /**< false adds [System.State] <> 'Removed' */
};

/** A subscription to create or replace (everything borrowed during the
 *  call; the password is wiped from the client's own buffers once the
 *  request was handed to rest). */
struct acs_ado_subscription_spec {
	const char *event_type;		       /**< "workitem.created", ... */
	const char *project_id;		       /**< GUID scoping the events (required) */
	const char *area_path;		       /**< NULL = any */
	const char *work_item_type;	       /**< NULL = any */
	const char *url;		       /**< receiver (required) */
	const char *basic_auth_username;       /**< NULL = none */
	const char *basic_auth_password;       /**< NULL = none */
	const char *http_headers;	       /**< "Key:value\nKey2:value2" or NULL */
	const char *resource_details_to_send;  /**< NULL = "all" */
	const char *messages_to_send;	       /**< NULL = "none" */
	const char *detailed_messages_to_send; /**< NULL = "none" */
};

/* --- callbacks ------------------------------------------------------------ */

typedef void (*acs_ado_closed_cb)(void *arg);
/** Payload-less completion (deletes). */
typedef void (*acs_ado_done_cb)(const struct acs_ado_result *res, void *arg);
typedef void (*acs_ado_work_item_cb)(const struct acs_ado_result *res, struct acs_ado_work_item *wi,
				     void *arg);
typedef void (*acs_ado_work_items_cb)(const struct acs_ado_result *res,
				      struct acs_ado_work_item_list *list, void *arg);
/** ids: n ids (owned by the callback: free()); NULL on failure. */
typedef void (*acs_ado_ids_cb)(const struct acs_ado_result *res, int64_t *ids, size_t n, void *arg);
typedef void (*acs_ado_comment_cb)(const struct acs_ado_result *res, struct acs_ado_comment *cm,
				   void *arg);
typedef void (*acs_ado_comments_cb)(const struct acs_ado_result *res,
				    struct acs_ado_comment_list *list, void *arg);
typedef void (*acs_ado_attachment_cb)(const struct acs_ado_result *res,
				      struct acs_ado_attachment_ref *ref, void *arg);
typedef void (*acs_ado_blob_cb)(const struct acs_ado_result *res, struct acs_ado_blob *blob,
				void *arg);
typedef void (*acs_ado_states_cb)(const struct acs_ado_result *res, struct acs_ado_state_list *list,
				  void *arg);
typedef void (*acs_ado_types_cb)(const struct acs_ado_result *res, struct acs_ado_type_list *list,
				 void *arg);
typedef void (*acs_ado_projects_cb)(const struct acs_ado_result *res,
				    struct acs_ado_project_list *list, void *arg);
typedef void (*acs_ado_paths_cb)(const struct acs_ado_result *res, struct acs_ado_path_list *list,
				 void *arg);
typedef void (*acs_ado_subscription_cb)(const struct acs_ado_result *res,
					struct acs_ado_subscription *sub, void *arg);
typedef void (*acs_ado_subscriptions_cb)(const struct acs_ado_result *res,
					 struct acs_ado_subscription_list *list, void *arg);
/** id: owned by the callback (acs_ado_identity_clear + free()); NULL on failure. */
typedef void (*acs_ado_identity_cb)(const struct acs_ado_result *res, struct acs_ado_identity *id,
				    void *arg);

/* --- lifecycle ---------------------------------------------------------------- */

/** New client on loop using cl (both borrowed, must outlive it). Registers
 *  the PAT with the log redactor. Returns NULL with err on a missing
 *  option. */
struct acs_ado_client *acs_ado_client_new(uv_loop_t *loop, struct acs_curl_loop *cl,
					  const struct acs_ado_client_opts *opts,
					  char err[ACS_ERR_LEN]);
/** Cancel every call (callbacks run with ACS_ECANCELED), free c, then
 *  cb(arg) (cb may be NULL). Idempotent; safe from a completion callback. */
void acs_ado_client_close(struct acs_ado_client *c, acs_ado_closed_cb cb, void *arg);

/** Budget left in the current window (-1 unknown), for metrics. */
int64_t acs_ado_client_budget_left(const struct acs_ado_client *c);
/** The governor's counters. */
void acs_ado_client_stats(const struct acs_ado_client *c, struct acs_governor_stats *out);
/** Calls queued or in flight in the REST pipeline. */
size_t acs_ado_client_pending(const struct acs_ado_client *c);
/** "{base_url}/{org}" (borrowed). */
const char *acs_ado_client_org_url(const struct acs_ado_client *c);

/* --- work items ------------------------------------------------------------ */

/** GET a work item with its relations ($expand=relations). */
int acs_ado_get_work_item(struct acs_ado_client *c, int64_t id, acs_ado_work_item_cb cb, void *arg);
/** As acs_ado_get_work_item, queued in governor class cls (the plain call is
 *  ACS_GOVERNOR_INTERACTIVE; sweeps, scans and backfill pass BACKGROUND so that they
 *  only spend the budget webhook-driven work leaves). */
int acs_ado_get_work_item_cls(struct acs_ado_client *c, enum acs_governor_class cls, int64_t id,
			      acs_ado_work_item_cb cb, void *arg);
/** Get n work items (any n: asked ACS_ADO_MAX_BATCH at a time, in order,
 *  through POST workitemsbatch with errorPolicy "omit", so ids that do not
 *  exist are left out). fields (n_fields refs) limits the fields returned;
 *  NULL asks for everything plus relations. ids and fields are copied. */
int acs_ado_get_work_items(struct acs_ado_client *c, const int64_t *ids, size_t n,
			   const char *const *fields, size_t n_fields, acs_ado_work_items_cb cb,
			   void *arg);
/** As acs_ado_get_work_items, every batch queued in governor class cls. */
int acs_ado_get_work_items_cls(struct acs_ado_client *c, enum acs_governor_class cls,
			       const int64_t *ids, size_t n, const char *const *fields,
			       size_t n_fields, acs_ado_work_items_cb cb, void *arg);
/** POST .../workitems/$type with a JSON Patch of "add" ops built from f. */
int acs_ado_create_work_item(struct acs_ado_client *c, const char *type,
			     const struct acs_ado_fields *f, acs_ado_work_item_cb cb, void *arg);
/** PATCH a work item: {"op":"test","path":"/rev"} first (when rev > 0: a
 *  concurrent change then fails the call with the CONFLICT class), then the
 *  ops for f. With current (the item as last read, optional), fields whose
 *  value would not change are skipped, a set is "replace" for a present
 *  field and "add" otherwise, and clearing an absent field is skipped.
 *  Returns -ENODATA when nothing is left to write. */
int acs_ado_update_work_item(struct acs_ado_client *c, int64_t id, int64_t rev,
			     const struct acs_ado_fields *f,
			     const struct acs_ado_work_item *current, acs_ado_work_item_cb cb,
			     void *arg);
/** POST .../workitems/$type with a ready JSON Patch (e.g. acs_mapper_ado_create's; borrowed,
 *  copied), answered with relations. -EINVAL for an empty or non-array ops. */
int acs_ado_create_work_item_ops(struct acs_ado_client *c, const char *type, const json_t *ops,
				 acs_ado_work_item_cb cb, void *arg);
/** PATCH a work item with ready ops (borrowed, copied; e.g. acs_mapper_ado_patch's), with
 *  {"op":"test","path":"/rev","value":rev} prepended when rev > 0: a concurrent change
 *  fails the call with the CONFLICT class (412). Answered with relations. */
int acs_ado_update_work_item_ops(struct acs_ado_client *c, int64_t id, int64_t rev,
				 const json_t *ops, acs_ado_work_item_cb cb, void *arg);
/** DELETE a work item (to the recycle bin; destroy = permanently). */
int acs_ado_delete_work_item(struct acs_ado_client *c, int64_t id, bool destroy, acs_ado_done_cb cb,
			     void *arg);

/** POST a WIQL query (timePrecision=true, so ChangedDate literals keep their
 *  time). top = 0: no $top. The ids come back in the query's order. */
int acs_ado_wiql(struct acs_ado_client *c, const char *query, size_t top, acs_ado_ids_cb cb,
		 void *arg);
/** As acs_ado_wiql, queued in governor class cls. */
int acs_ado_wiql_cls(struct acs_ado_client *c, enum acs_governor_class cls, const char *query,
		     size_t top, acs_ado_ids_cb cb, void *arg);
/** Build "SELECT [System.Id] FROM WorkItems WHERE ... ORDER BY
 *  [System.ChangedDate], [System.Id]" with every literal quoted ('' doubles
 *  a quote). Returns a heap string (free()), or NULL when project is
 *  missing or a macro in assigned_to is malformed. */
char *acs_ado_wiql_build(const struct acs_ado_wiql_filter *f);

/* --- types, states, projects, areas ------------------------------------------- */

int acs_ado_list_work_item_types(struct acs_ado_client *c, acs_ado_types_cb cb, void *arg);
int acs_ado_list_type_states(struct acs_ado_client *c, const char *type, acs_ado_states_cb cb,
			     void *arg);
/** Every project of the organization (follows continuation tokens). */
int acs_ado_list_projects(struct acs_ado_client *c, acs_ado_projects_cb cb, void *arg);
/** The area paths of the client's project (classification nodes, depth 20). */
int acs_ado_list_area_paths(struct acs_ado_client *c, acs_ado_paths_cb cb, void *arg);

/** As acs_ado_list_work_item_types, for another project of the organization
 *  (name or GUID; copied): the types with their states. -EINVAL without one. */
int acs_ado_list_work_item_types_in(struct acs_ado_client *c, const char *project,
				    acs_ado_types_cb cb, void *arg);
/** As acs_ado_list_area_paths, for another project (name or GUID; copied). */
int acs_ado_list_area_paths_in(struct acs_ado_client *c, const char *project, acs_ado_paths_cb cb,
			       void *arg);
/** GET the definition of a field, organization level (reference name such as
 *  "Custom.Severity", or display name; copied): cb gets cls OK when the field
 *  exists, error ACS_ENOTFOUND (404) when it does not. -EINVAL without one. */
int acs_ado_get_field(struct acs_ado_client *c, const char *ref, acs_ado_done_cb cb, void *arg);

/** GET {org}/_apis/connectionData: the identity the PAT authenticates as (what WIQL's
 *  @Me means): unique_name = its e-mail (authenticatedUser.properties.Account.$value),
 *  display_name = providerDisplayName, id = the GUID. An answer without an e-mail is a
 *  parse failure. */
int acs_ado_get_connection_user(struct acs_ado_client *c, acs_ado_identity_cb cb, void *arg);

/* --- comments (api-version 7.1-preview.4) -------------------------------------- */

/** One page of comments, in the service's order (ADO's default is newest
 *  first). top = 0: the service's default page size.
 *  continuation: the previous page's token or NULL for the first page. */
int acs_ado_list_comments(struct acs_ado_client *c, int64_t work_item_id, size_t top,
			  const char *continuation, bool include_deleted, acs_ado_comments_cb cb,
			  void *arg);
/** Add a comment; markdown = false posts HTML (the default format). */
int acs_ado_create_comment(struct acs_ado_client *c, int64_t work_item_id, const char *text,
			   bool markdown, acs_ado_comment_cb cb, void *arg);
int acs_ado_update_comment(struct acs_ado_client *c, int64_t work_item_id, int64_t comment_id,
			   const char *text, bool markdown, acs_ado_comment_cb cb, void *arg);
int acs_ado_delete_comment(struct acs_ado_client *c, int64_t work_item_id, int64_t comment_id,
			   acs_ado_done_cb cb, void *arg);

/* --- attachments ----------------------------------------------------------------- */

/** Upload len bytes (copied) as file_name (application/octet-stream). */
int acs_ado_upload_attachment(struct acs_ado_client *c, const char *file_name, const void *data,
			      size_t len, acs_ado_attachment_cb cb, void *arg);
/** Add an AttachedFile relation to url (an upload's url) via PATCH, with the
 *  /rev test when rev > 0. */
int acs_ado_add_attachment_relation(struct acs_ado_client *c, int64_t work_item_id, int64_t rev,
				    const char *url, const char *comment, acs_ado_work_item_cb cb,
				    void *arg);
/** GET the bytes behind an attachment url (download=true). The PAT is only
 *  sent to the client's own origin: another origin fails with -EINVAL. */
int acs_ado_download_attachment(struct acs_ado_client *c, const char *url, acs_ado_blob_cb cb,
				void *arg);

/** Answer of a download into a file: bytes = body bytes written (valid when res->cls is
 *  OK). */
typedef void (*acs_ado_file_cb)(const struct acs_ado_result *res, uint64_t bytes, void *arg);

/** As acs_ado_upload_attachment, with the body streamed from len bytes of fd starting
 *  at offset (read on the thread pool, never the whole file in memory; fd borrowed
 *  until cb ran). cls: the governor class (background for scans). timeout_ms per
 *  attempt, 0 = the client's. */
int acs_ado_upload_attachment_file(struct acs_ado_client *c, enum acs_governor_class cls,
				   const char *file_name, uv_file fd, int64_t offset, uint64_t len,
				   uint64_t timeout_ms, acs_ado_attachment_cb cb, void *arg);
/** As acs_ado_download_attachment, with the body written into fd from offset 0 (off
 *  the loop; fd borrowed until cb ran). max_bytes 0 = the client's max_download: a
 *  larger body fails with ACS_ETOOBIG. bytes (optional) sees every byte in order and
 *  (NULL, 0) when a retry starts over (e.g. for a digest). */
int acs_ado_download_attachment_to_file(struct acs_ado_client *c, enum acs_governor_class cls,
					const char *url, uv_file fd, size_t max_bytes,
					uint64_t timeout_ms, acs_rest_bytes_cb bytes,
					void *bytes_arg, acs_ado_file_cb cb, void *arg);

/* --- service-hook subscriptions (organization level) ------------------------- */

/** List subscriptions; event_type NULL = all "tfs" work item events. */
int acs_ado_list_subscriptions(struct acs_ado_client *c, const char *event_type,
			       acs_ado_subscriptions_cb cb, void *arg);
int acs_ado_create_subscription(struct acs_ado_client *c,
				const struct acs_ado_subscription_spec *spec,
				acs_ado_subscription_cb cb, void *arg);
/** PUT (replace) subscription id with spec. */
int acs_ado_replace_subscription(struct acs_ado_client *c, const char *id,
				 const struct acs_ado_subscription_spec *spec,
				 acs_ado_subscription_cb cb, void *arg);
int acs_ado_delete_subscription(struct acs_ado_client *c, const char *id, acs_ado_done_cb cb,
				void *arg);

/* --- parsing helpers (pure; also for service-hook payloads) ---------------------- */

/** Parse an ISO-8601 UTC time ("2026-01-13T12:00:01.234Z", any number of
 *  fractional digits, "Z" or "+00:00" style offset) into Unix ms.
 *  Returns 0 or ACS_EPARSE. */
int acs_ado_parse_date(const char *s, int64_t *ms);
/** Format Unix ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into out. */
void acs_ado_format_date(int64_t ms, char out[32]);
/** Parse an identity: an IdentityRef object or a "Name <unique>" string.
 *  Returns 0 or ACS_EPARSE (nothing usable); free with _identity_clear. */
int acs_ado_identity_parse(const json_t *v, struct acs_ado_identity *out);
void acs_ado_identity_clear(struct acs_ado_identity *id);
/** Split a tag string "a; b;c" into trimmed non-empty names. Returns the
 *  count; *out is a heap array of heap strings (free with acs_ado_tags_free)
 *  or NULL when there are none. */
size_t acs_ado_tags_split(const char *s, char ***out);
void acs_ado_tags_free(char **tags, size_t n);

/** Parse a WorkItem object (REST or a service-hook resource). Returns a new
 *  item (free with acs_ado_work_item_free) or NULL when obj has no id. */
struct acs_ado_work_item *acs_ado_work_item_from_json(const json_t *obj);
/** Fill a caller-owned struct from obj (0 or ACS_EPARSE); release with
 *  acs_ado_work_item_clear. */
int acs_ado_work_item_parse(const json_t *obj, struct acs_ado_work_item *out);
void acs_ado_work_item_clear(struct acs_ado_work_item *wi);
void acs_ado_work_item_free(struct acs_ado_work_item *wi);
void acs_ado_work_item_list_free(struct acs_ado_work_item_list *l);
int acs_ado_comment_parse(const json_t *obj, struct acs_ado_comment *out);
void acs_ado_comment_clear(struct acs_ado_comment *cm);
void acs_ado_comment_free(struct acs_ado_comment *cm);
void acs_ado_comment_list_free(struct acs_ado_comment_list *l);
void acs_ado_attachment_ref_free(struct acs_ado_attachment_ref *ref);
void acs_ado_blob_free(struct acs_ado_blob *blob);
void acs_ado_state_list_free(struct acs_ado_state_list *l);
void acs_ado_type_list_free(struct acs_ado_type_list *l);
void acs_ado_project_list_free(struct acs_ado_project_list *l);
void acs_ado_path_list_free(struct acs_ado_path_list *l);
int acs_ado_subscription_parse(const json_t *obj, struct acs_ado_subscription *out);
void acs_ado_subscription_clear(struct acs_ado_subscription *s);
void acs_ado_subscription_free(struct acs_ado_subscription *s);
void acs_ado_subscription_list_free(struct acs_ado_subscription_list *l);

/** The JSON Patch document acs_ado_update_work_item would send (new
 *  reference), or NULL when it would hold no change. For tests and logs. */
json_t *acs_ado_patch_build(const struct acs_ado_fields *f, int64_t rev,
			    const struct acs_ado_work_item *current, bool create);
