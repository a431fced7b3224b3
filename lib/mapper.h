/* SPDX-License-Identifier: MIT */
/* Field mapping between Azure DevOps work items and ClickUp tasks: both sides are read into
 * one canonical value (struct acs_canon) and written back from it. Pure and synchronous
 * (no loop, no I/O): the engine compares canonical values against the stored base. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common.h"
#include "config.h"

/*
 * DESIGN
 *   The engine stores, per pair, the BASE: the canonical value last synced. A change read
 *   from either side is turned into canonical form; fields equal to the base are echoes,
 *   fields that differ are pushed to the other side, a field changed on both sides since
 *   the base is a conflict. So every conversion here is built to be exactly stable: what
 *   the builders write to a side reads back (from_ado / from_clickup) as the same
 *   canonical value, byte for byte. The unit tests check this for every field.
 *
 * CANONICAL FORM (what the readers produce and the setters normalise to)
 *   title        the text as both sides store it.
 *   description  canonical Markdown (html_md.h): ADO HTML is converted, ClickUp Markdown
 *                is canonicalised; "" = empty.
 *   state        an ADO state name of the pair's work item type (canon.type).
 *   priority     0 none, 1..4 = ADO 1..4 = ClickUp urgent/high/normal/low.
 *   assignee     one lower-cased e-mail as ADO knows the person (the key of [users]);
 *                "" = unassigned. A ClickUp task with several assignees maps to the one
 *                equal to the base's assignee when present (so adding a co-assignee in
 *                ClickUp is no change), else to the first; the others are reported in the
 *                notes and left alone on writes.
 *   tags         sorted (byte order), unique, lower-case, trimmed, none empty: ADO tags are
 *                case-insensitive and ClickUp shows them lower-case, so case is not data.
 *   due          Unix milliseconds UTC, truncated to whole seconds; 0 = none. Instants,
 *                not calendar days: a ClickUp date without time is 04:00 in the setting
 *                user's unknown time zone, so a day-level form could not round-trip.
 *                ADO DueDate is written as "YYYY-MM-DDTHH:MM:SSZ" (read with any number of
 *                fractional digits or a UTC offset); ClickUp gets integer ms.
 *   custom       per `custom.<ADO ref> = <ClickUp field id>` line: a JSON string, integer,
 *                real (only when not integral), true/false, or NULL (empty). Per ClickUp
 *                field type: number/currency/emoji -> number; checkbox -> boolean;
 *                drop_down -> option name; labels -> option names sorted, "; "-joined;
 *                date -> "YYYY-MM-DDTHH:MM:SSZ"; text-like types -> string. Other types
 *                (users, tasks, formula...) are not synced and are reported in the notes.
 *
 * PRESENCE
 *   canon.present says which fields the source provided. An ADO fields object is read as
 *   complete: an absent optional field (Description, AssignedTo, Tags, Priority, DueDate,
 *   custom refs) is present and empty; an absent Title or State is not present. A ClickUp
 *   task provides the fields whose keys it carries, except that a task with an "id" and no
 *   "priority" or "due_date" key has none (GET sends null; a partial object without "id",
 *   such as a webhook history value, provides only its keys). A field that could not be mapped
 *   (unknown status, unknown identity, bad custom value) is left not present and a note
 *   says why, so it is neither pushed nor mistaken for a change.
 *
 * STATE <-> STATUS (per work item type, status names compared case-insensitively)
 *   state -> status: the map's `status.<state> = <status>` table first; otherwise by the
 *   state's category: Proposed -> the list's first "open" status; InProgress -> the first
 *   "custom"; Resolved -> the "done" status if the list has one, else the last "custom";
 *   Completed -> the "closed" status, else "done"; Removed -> "closed", else "done". When
 *   the list lacks those, the chain goes on (first of each type unless "last"):
 *   Proposed: open, custom, done, closed; InProgress: custom, open, done, closed;
 *   Resolved: done, last custom, closed, open; Completed and Removed: closed, done,
 *   last custom, open.
 *   status -> state: (1) the base's state when it maps to this status (several states may
 *   share a status: keeping the base stops ping-pong); (2) the first state in table order
 *   whose table status is this one; (3) the first state of the type, in the type's order,
 *   whose category fallback gives this status (the exact inverse of the forward rule);
 *   (4) by the status type: open -> first Proposed state, custom -> first InProgress,
 *   done -> first Resolved (else Completed), closed -> first Completed.
 *
 * OWNERSHIP
 *   struct acs_canon owns all its members (strings with malloc, custom values as one json_t
 *   reference each). json_t arguments are borrowed for the call; returned json_t are new
 *   references the caller json_decref()s. acs_mapper_new copies everything it needs from
 *   map, users and ctx.
 */

/** Synced fields, as bits of a mask. */
enum acs_field {
	ACS_F_TITLE = 1u << 0,
	ACS_F_DESCRIPTION = 1u << 1,
	ACS_F_STATE = 1u << 2,
	ACS_F_PRIORITY = 1u << 3,
	ACS_F_ASSIGNEE = 1u << 4,
	ACS_F_TAGS = 1u << 5,
	ACS_F_DUE = 1u << 6,
	ACS_F_CUSTOM = 1u << 7, /**< all custom fields of the mapping, as one bit */
	ACS_F_ALL = (1u << 8) - 1,
};

/** Name of one field bit ("title", "description", "state", "priority", "assignee", "tags",
 *  "due", "custom"); "?" for anything else. Static string. */
const char *acs_field_name(unsigned field);

/** One custom field value. */
struct acs_canon_custom {
	char *ref;     /**< ADO field reference name */
	json_t *value; /**< canonical value (one reference owned), NULL = empty */
};

/** The canonical value of a pair. Transparent value type: zero it with acs_canon_init(),
 *  release it with acs_canon_free(). Strings of present fields are never NULL; the
 *  functions here treat a NULL string as "". */
struct acs_canon {
	unsigned present; /**< enum acs_field bits the source provided */
	char *type;	  /**< ADO work item type the state belongs to; NULL = unknown.
			   *   Not a synced field: carried so a ClickUp status maps into the
			   *   right type's states, ignored by equal/diff. */
	char *title;
	char *description; /**< canonical Markdown */
	char *state;	   /**< ADO state name */
	int priority;	   /**< 0 none, 1..4 */
	char *assignee;	   /**< lower-case e-mail, "" unassigned */
	char **tags;	   /**< n_tags, canonical order */
	size_t n_tags;
	int64_t due_ms;			 /**< Unix ms (whole seconds), 0 none */
	struct acs_canon_custom *custom; /**< n_custom, sorted by ref (strcmp), refs unique */
	size_t n_custom;
};

/** Make c empty (no field present). Allocates nothing. */
void acs_canon_init(struct acs_canon *c);
/** Free every member and leave c as acs_canon_init() does. NULL is a no-op. */
void acs_canon_free(struct acs_canon *c);
/** Deep copy: dst (initialised, possibly holding a value) is freed first. */
void acs_canon_copy(struct acs_canon *dst, const struct acs_canon *src);
/** True when both have the same present fields with equal values (and the same custom refs
 *  with equal values). */
bool acs_canon_equal(const struct acs_canon *a, const struct acs_canon *b);
/** Mask of fields present in both whose values differ. For ACS_F_CUSTOM only refs present
 *  in both count. */
unsigned acs_canon_diff(const struct acs_canon *a, const struct acs_canon *b);

/* Setters: copy their argument, normalise it to the canonical form and mark the field
 * present. */
void acs_canon_set_title(struct acs_canon *c, const char *title);
/** md is any Markdown; it is stored in canonical form. Returns 0, or ACS_ETOOBIG when it
 *  is too big to canonicalise (the field is then left unchanged). */
int acs_canon_set_description(struct acs_canon *c, const char *md);
void acs_canon_set_state(struct acs_canon *c, const char *state);
void acs_canon_set_type(struct acs_canon *c, const char *type);
/** priority outside 0..4 counts as 0. */
void acs_canon_set_priority(struct acs_canon *c, int priority);
/** Lower-cased; NULL counts as "". */
void acs_canon_set_assignee(struct acs_canon *c, const char *email);
/** Tags are trimmed, lower-cased, sorted and deduplicated; empty names are dropped. */
void acs_canon_set_tags(struct acs_canon *c, const char *const *tags, size_t n);
/** Truncated to whole seconds; negative counts as 0. */
void acs_canon_set_due(struct acs_canon *c, int64_t ms);
/** Set (or add) custom ref to value (borrowed: copied; NULL or JSON null = empty).
 *  Integral reals become integers. Marks ACS_F_CUSTOM present. Returns 0, or -EINVAL
 *  when value is not a string, number, boolean or null. */
int acs_canon_set_custom(struct acs_canon *c, const char *ref, const json_t *value);
/** The custom entry for ref, or NULL. Borrowed from c. */
const struct acs_canon_custom *acs_canon_get_custom(const struct acs_canon *c, const char *ref);

/** The base as stored in the database: an object with one key per present field
 *  ("assignee", "custom" {ref: value}, "description", "due", "priority", "state", "tags",
 *  "title"), plus "type" when known and "v": 1; keys inserted in sorted order so
 *  json_dumps gives a stable text (JSON_SORT_KEYS gives the same). New reference. */
json_t *acs_canon_to_json(const struct acs_canon *c);
/** Parse what acs_canon_to_json made into out (freed first). Values are re-normalised.
 *  Returns 0, or ACS_EPARSE with err (may be NULL) saying which key is bad; out is then
 *  empty. */
int acs_canon_from_json(const json_t *j, struct acs_canon *out, char err[ACS_ERR_LEN]);

/* --- what the engine learned from the APIs -------------------------------------------- */

/** One ADO state: name and category ("Proposed", "InProgress", "Resolved", "Completed",
 *  "Removed"). */
struct acs_mapper_state {
	const char *name;
	const char *category;
};

/** One ADO work item type and its states in the order the API listed them. */
struct acs_mapper_type {
	const char *name;
	const struct acs_mapper_state *states;
	size_t n_states;
};

/** One status of the ClickUp list. */
struct acs_mapper_status {
	const char *name;
	const char *type; /**< "open", "custom", "done" or "closed" */
	int orderindex;	  /**< position in the list (statuses are sorted by it) */
};

/** One member of the ClickUp list (or workspace). */
struct acs_mapper_member {
	int64_t id;
	const char *email;
	const char *username;
};

/** One ADO identity seen (work item fields, comments): used to resolve identity strings
 *  that carry only a display name (as some service-hook payloads do). */
struct acs_mapper_identity {
	const char *display_name;
	const char *email; /**< the uniqueName */
};

/** Everything is borrowed during acs_mapper_new() only (copied). */
struct acs_mapper_ctx {
	const struct acs_mapper_type *types;
	size_t n_types;
	const struct acs_mapper_status *statuses;
	size_t n_statuses;
	const struct acs_mapper_member *members;
	size_t n_members;
	const struct acs_mapper_identity *identities;
	size_t n_identities;
	/** ClickUp custom field definitions ({"id", "name", "type", "type_config"} objects, as
	 *  GET /list/{id}/field answers in "fields" or a task's custom_fields); NULL =
	 *  unknown: values are then read by their JSON type and drop-downs cannot be written. */
	const json_t *clickup_fields;
	/** The ADO due date field; NULL = Microsoft.VSTS.Scheduling.DueDate. Reads fall back to
	 *  the other of DueDate/TargetDate when this one is absent. */
	const char *ado_due_field;
	/** A mapping's priority_map: clickup_priority[p] is the ClickUp priority (1 urgent ..
	 *  4 low) written for ADO priority p (1..4); 0 (all zero by default) = the same
	 *  number. Several ADO priorities may share one ClickUp priority: reading it back
	 *  keeps the base's priority when that maps to it, else the lowest such ADO
	 *  priority; a ClickUp priority no ADO priority maps to is noted, not synced. */
	int clickup_priority[5];
};

/* --- notes: what could not be mapped --------------------------------------------------- */

#define ACS_MAPPER_MAX_NOTES 16

enum acs_mapper_note_kind {
	ACS_NOTE_UNKNOWN_STATE = 1, /**< ADO state not a state of the type / no status for it */
	ACS_NOTE_UNKNOWN_STATUS,    /**< ClickUp status with no ADO state */
	ACS_NOTE_UNKNOWN_TYPE,	    /**< work item type not known to the mapper */
	ACS_NOTE_UNKNOWN_ASSIGNEE,  /**< identity or e-mail with no counterpart */
	ACS_NOTE_EXTRA_ASSIGNEES,   /**< several ClickUp assignees: one is synced */
	ACS_NOTE_BAD_VALUE,	    /**< a value of the wrong type or out of range */
	ACS_NOTE_CUSTOM,	    /**< custom field missing, unsupported type or bad option */
	ACS_NOTE_DESCRIPTION,	    /**< description too big or read from plain text */
};

struct acs_mapper_note {
	enum acs_mapper_note_kind kind;
	unsigned field;	       /**< the enum acs_field bit concerned */
	char msg[ACS_ERR_LEN]; /**< one line for the log, e.g. "status 'qa': no ADO state" */
};

/** Caller-embedded list; zero it with acs_mapper_notes_init(). Holds the first
 *  ACS_MAPPER_MAX_NOTES notes and counts the rest in dropped. A NULL notes pointer is
 *  accepted everywhere and discards the notes. */
struct acs_mapper_notes {
	struct acs_mapper_note v[ACS_MAPPER_MAX_NOTES];
	size_t n;
	size_t dropped;
};

void acs_mapper_notes_init(struct acs_mapper_notes *notes);

/* --- the mapper -------------------------------------------------------------------------- */

struct acs_mapper;

/** A mapper for one [map NAME] section. users is the [users] table (ADO e-mail -> ClickUp
 *  user id; may be NULL). ctx may be NULL (nothing learned yet: only the status table
 *  maps states). Everything is copied. Returns NULL with err set when the configuration
 *  contradicts ctx: a [users] id that is not an integer, a status.<state> whose state no
 *  known type has or whose status the list lacks (checked only when ctx knows types /
 *  statuses), a custom.<ref> whose field id is not among ctx->clickup_fields (when
 *  given). Free with acs_mapper_free(). */
struct acs_mapper *acs_mapper_new(const struct acs_config_map *map,
				  const struct acs_config_pairs *users,
				  const struct acs_mapper_ctx *ctx, char err[ACS_ERR_LEN]);
/** NULL is a no-op. */
void acs_mapper_free(struct acs_mapper *m);

/** Learn (or update) one ADO identity after acs_mapper_new: display_name (without
 *  "<>") resolves to email in later reads of strings that carry only a display name.
 *  Copied; empty arguments are ignored. Not a change of the mapping: a mapper in use by
 *  several runs may learn (all on the loop thread). */
void acs_mapper_add_identity(struct acs_mapper *m, const char *display_name, const char *email);

/** The ClickUp status for ADO state of type (NULL = the map's new-item type), following
 *  the rules above. Borrowed from m; NULL when none (an unknown state). */
const char *acs_mapper_state_to_status(const struct acs_mapper *m, const char *type,
				       const char *state);
/** The ADO state of type (NULL = the map's new-item type) for ClickUp status (with type
 *  status_type, NULL = look it up in the list), given the base state (may be NULL).
 *  Borrowed from m; NULL when none. */
const char *acs_mapper_status_to_state(const struct acs_mapper *m, const char *type,
				       const char *status, const char *status_type,
				       const char *base_state);

/** Read an ADO "fields" object (REST GET, or a webhook's resource.revision.fields /
 *  created resource fields) into out (freed first). Identity fields may be IdentityRef
 *  objects or "Name <email>" strings. Returns 0, or -EINVAL when fields is not an object
 *  (out is then empty). Unmappable values are noted, never fatal. */
int acs_mapper_from_ado(const struct acs_mapper *m, const json_t *fields, struct acs_canon *out,
			struct acs_mapper_notes *notes);

/** Read a ClickUp task (GET /task/{id}?include_markdown_description=true) into out (freed
 *  first). base (may be NULL) is the pair's stored base: its type gives the state space
 *  (else the map's ado_new_item_type), its state and assignee settle ambiguities.
 *  Returns 0, or -EINVAL when task is not an object (out is then empty). */
int acs_mapper_from_clickup(const struct acs_mapper *m, const json_t *task,
			    const struct acs_canon *base, struct acs_canon *out,
			    struct acs_mapper_notes *notes);
/** As acs_mapper_from_clickup; when want (ACS_F_* bits) lacks ACS_F_DESCRIPTION the
 *  description is not read (its conversion is most of the work). The other fields are
 *  read whatever want says. */
int acs_mapper_from_clickup_fields(const struct acs_mapper *m, const json_t *task,
				   const struct acs_canon *base, struct acs_canon *out,
				   struct acs_mapper_notes *notes, unsigned want);

/** JSON Patch ops writing the fields of mask (present in c) to an ADO work item: "add" or
 *  "replace" on /fields/<ref> to set, "remove" to clear. current (may be NULL) is what
 *  the item holds now: a set is "replace" when the field has a value there, else "add";
 *  a clear is "remove", skipped when current says the field is already empty, and
 *  "add" of ""/null when current is NULL (the field may not exist). The caller prepends
 *  {"op":"test","path":"/rev"}. Description is written as HTML; assignee as
 *  the e-mail (uniqueName) alone; tags as "a; b"; due date
 *  as ISO-8601 UTC. Always returns a new array (maybe empty). */
json_t *acs_mapper_ado_patch(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			     const struct acs_canon *current, struct acs_mapper_notes *notes);
/** JSON Patch for POST .../workitems/$type: "add" ops for the fields of mask present in c
 *  and not empty. The type to create is c->type, else acs_mapper_new_item_type(). New
 *  array. */
json_t *acs_mapper_ado_create(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      struct acs_mapper_notes *notes);
/** The map's ado_new_item_type ("Task" by default). Borrowed from m. */
const char *acs_mapper_new_item_type(const struct acs_mapper *m);

/** A custom field value to write through POST /task/{id}/field/{field_id}. */
struct acs_clickup_field_set {
	char *field_id;
	json_t *value; /**< {"value": value} body member (owned); NULL = remove the value
			*   (DELETE /task/{id}/field/{field_id}) */
};

/** What one ClickUp write needs: PUT /task/{id} (or POST /list/{id}/task) body, then the
 *  tag and custom field calls that have their own endpoints (never used by create, whose
 *  body carries tags and custom_fields). Clear with acs_mapper_clickup_write_clear(). */
struct acs_clickup_write {
	json_t *body;	 /**< owned; NULL when there is nothing for PUT /task */
	char **tags_add; /**< POST /task/{id}/tag/{name} */
	size_t n_tags_add;
	char **tags_rem; /**< DELETE /task/{id}/tag/{name} */
	size_t n_tags_rem;
	struct acs_clickup_field_set *fields;
	size_t n_fields;
};

/** Free every member and zero w. NULL is a no-op. */
void acs_mapper_clickup_write_clear(struct acs_clickup_write *w);
/** Number of requests w holds (body counts as one). */
size_t acs_mapper_clickup_write_count(const struct acs_clickup_write *w);

/** Build the writes of the fields of mask (present in c) to a ClickUp task into out
 *  (cleared first). current (may be NULL) is the task's canonical value now: tags are
 *  added/removed by difference with it (without it only added), the previous assignee is
 *  removed, custom fields equal to it are skipped. Body: name, markdown_content (an empty
 *  description is sent as description " ", as ClickUp documents), status, priority
 *  (integer or null), due_date (integer or null) with due_date_time (true unless the
 *  instant is midnight UTC), assignees {"add":[id],"rem":[id]} with ids from [users]
 *  first, then the list members by e-mail. Returns 0 (what cannot be mapped is noted and
 *  left out). */
int acs_mapper_clickup_update(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      const struct acs_canon *current, struct acs_clickup_write *out,
			      struct acs_mapper_notes *notes);
/** As update, for POST /list/{id}/task: body with name, markdown_content, status,
 *  priority, due_date, assignees [id], tags [name], custom_fields [{id, value}]; empty
 *  values are left out. Returns 0. */
int acs_mapper_clickup_create(const struct acs_mapper *m, const struct acs_canon *c, unsigned mask,
			      struct acs_clickup_write *out, struct acs_mapper_notes *notes);

/* --- shared parsers ----------------------------------------------------------------------- */

/** "2026-01-21T00:00:00Z", any fractional digits, "Z" / "+HH:MM" / "-HH:MM" / none (UTC),
 *  or a date alone -> Unix ms. Returns 0 or ACS_EPARSE. */
int acs_mapper_parse_iso(const char *s, int64_t *ms);
/** Unix ms -> "YYYY-MM-DDTHH:MM:SSZ" (ms dropped) or with ".mmmZ" when with_ms and the
 *  milliseconds are not zero. buf holds at least 32 bytes. */
void acs_mapper_format_iso(int64_t ms, bool with_ms, char buf[32]);
