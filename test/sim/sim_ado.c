/* SPDX-License-Identifier: MIT */
/* Azure DevOps Services REST 7.1 simulator: one organization and project in
 * memory, the REST paths a sync client uses, the traps of the real service
 * (shared/api/azure-devops.md §9), PAT auth, throttling, and service-hook
 * deliveries with ADO's transient retries and probation.
 *
 * DESIGN
 *   Routing is done here, not by the core router: ADO paths are matched
 *   case-insensitively (clients send both workitems and workItems) and the
 *   project segment (name or GUID) is optional for org-level routes. Work
 *   item fields are kept in their webhook form (identities as "Name
 *   <e-mail>" strings) and turned into IdentityRef objects on REST reads.
 *   System.History is not a stored field: it is the text of the comment of
 *   the newest revision, shown only in webhook resources.
 *
 * CHOICES where azure-devops.md says UNCONFIRMED or says nothing (stricter
 * reading unless noted)
 *   - 401: {"$id","message":"TF400813: ...","typeKey":"UnauthorizedRequestException"}
 *     with WWW-Authenticate: Basic realm (third-party captures; the real
 *     service may also answer 203 with a sign-in page: not simulated).
 *     Any Basic user name is accepted, the password must be a known PAT.
 *   - api-version: 7.0 and 7.1 (optionally -preview[.N]) on released
 *     resources; comments only 7.1-preview.4 or 7.1-preview. Older versions
 *     are refused although the real service accepts them.
 *   - Unknown work item (or deleted): 404 TF401232. Failed test op: 412
 *     (message/typeKey invented). Bad patch path, unsupported op (move,
 *     copy): 400 with invented messages. Unknown field: 400 TF51535; read-only
 *     field: 400 TF401326 (unless bypassRules=true); bad state: 400 TF401320.
 *   - Only state names are validated, not transitions. Reason defaults to the
 *     state's first reason when the state changes and no reason is given.
 *   - A patch that changes nothing does not create a revision nor an event.
 *   - suppressNotifications does not suppress service hooks.
 *   - An areaPath filter matches an update when the item's new or old area is under
 *     it (a move out of the area is delivered to the area's subscriptions).
 *   - Comment edits and deletions create no revision and fire no event.
 *     Adding a comment (POST comments or System.History) creates a revision
 *     and fires workitem.commented and workitem.updated.
 *   - Tags keep the order given, without duplicates (case-insensitive).
 *   - DueDate, StoryPoints, RemainingWork exist on all three types.
 *   - WIQL: date literals with a time part need timePrecision=true (400
 *     otherwise); day granularity is UTC. Link queries, ASOF and EVER: 400.
 *   - Throttling: one TSTU per request, sliding window; blocked -> 429 with
 *     Retry-After and X-RateLimit-*; the headers also appear on answers once
 *     less than a fifth of the budget is left. No delaying stage.
 *   - Webhooks: transient = 408/502/503/504 and no answer (timeout, refused,
 *     paused delivery); every other non-2xx is enduring. Events queued behind
 *     the failing one are delivered after it (the real service loses them);
 *     new events are lost while the subscription is on probation. Password
 *     inputs are masked "********" on reads. Subscriptions that are enabled
 *     omit "status" (as the official list example does).
 */
#include "sim_ado.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"

#define ADO_MAX_SEGS 16
#define ADO_MAX_BATCH 200
#define ADO_MAX_WIQL 32000
#define ADO_MAX_RESULTS 20000
#define ADO_MAX_TAGS 100
#define ADO_MAX_ATTACHMENT (60u << 20)
#define ADO_COMMENT_PAGE 200
#define ADO_MAX_DELAYS 16
#define ADO_REVISED_NEVER "9999-01-01T00:00:00Z"
#define ADO_PASSWORD_MASK "********"

/* --- static process definition (Agile) --- */

struct ado_state_def {
	const char *name;
	const char *color;
	const char *category;
	const char *reason; /**< default reason when entering the state */
};

struct ado_type_def {
	const char *name;
	const char *ref;
	const char *color;
	const char *icon;
	const char *description;
	const struct ado_state_def *states;
	size_t nstates;
};

static const struct ado_state_def task_states[] = {
	{ "New", "b2b2b2", "Proposed", "New" },
	{ "Active", "007acc", "InProgress", "Work started" },
	{ "Closed", "339933", "Completed", "Work finished" },
	{ "Removed", "ffffff", "Removed", "Removed from the backlog" },
};

static const struct ado_state_def bug_states[] = {
	{ "New", "b2b2b2", "Proposed", "New defect reported" },
	{ "Active", "007acc", "InProgress", "Approved" },
	{ "Resolved", "ff9d00", "Resolved", "Fixed" },
	{ "Closed", "339933", "Completed", "Verified" },
};

static const struct ado_state_def story_states[] = {
	{ "New", "b2b2b2", "Proposed", "New" },
	{ "Active", "007acc", "InProgress", "Implementation started" },
	{ "Resolved", "ff9d00", "Resolved", "Code complete and unit tests pass" },
	{ "Closed", "339933", "Completed", "Acceptance tests pass" },
	{ "Removed", "ffffff", "Removed", "Removed from the backlog" },
};

static const struct ado_type_def ado_types[] = {
	{ "Task", "Microsoft.VSTS.WorkItemTypes.Task", "F2CB1D", "icon_clipboard",
	  "Tracks work that needs to be done.", task_states, ACS_ARRAY_SIZE(task_states) },
	{ "Bug", "Microsoft.VSTS.WorkItemTypes.Bug", "CC293D", "icon_insect",
	  "Describes a divergence between required and actual behavior, and tracks the work "
	  "done to correct the defect and verify the correction.",
	  bug_states, ACS_ARRAY_SIZE(bug_states) },
	{ "User Story", "Microsoft.VSTS.WorkItemTypes.UserStory", "009CCC", "icon_book",
	  "Tracks an activity the user will be able to perform with the product.", story_states,
	  ACS_ARRAY_SIZE(story_states) },
};

enum ftype {
	FT_STRING,
	FT_HTML,
	FT_INT,
	FT_DOUBLE,
	FT_DATE,
	FT_BOOL,
	FT_IDENTITY,
	FT_AREA,
	FT_ITERATION,
	FT_TAGS,
	FT_HISTORY,
};

#define FF_RO 1u      /* read-only (bypassRules lifts it for dates and identities) */
#define FF_VIRTUAL 2u /* not stored in fields (System.Id, System.Rev...) */

struct ado_field {
	const char *ref;
	const char *name;
	enum ftype type;
	unsigned flags;
};

static const struct ado_field builtin_fields[] = {
	{ "System.Id", "ID", FT_INT, FF_RO | FF_VIRTUAL },
	{ "System.Rev", "Rev", FT_INT, FF_RO | FF_VIRTUAL },
	{ "System.AreaPath", "Area Path", FT_AREA, 0 },
	{ "System.TeamProject", "Team Project", FT_STRING, FF_RO },
	{ "System.IterationPath", "Iteration Path", FT_ITERATION, 0 },
	{ "System.WorkItemType", "Work Item Type", FT_STRING, FF_RO },
	{ "System.State", "State", FT_STRING, 0 },
	{ "System.Reason", "Reason", FT_STRING, 0 },
	{ "System.AssignedTo", "Assigned To", FT_IDENTITY, 0 },
	{ "System.CreatedDate", "Created Date", FT_DATE, FF_RO },
	{ "System.CreatedBy", "Created By", FT_IDENTITY, FF_RO },
	{ "System.ChangedDate", "Changed Date", FT_DATE, FF_RO },
	{ "System.ChangedBy", "Changed By", FT_IDENTITY, FF_RO },
	{ "System.AuthorizedDate", "Authorized Date", FT_DATE, FF_RO | FF_VIRTUAL },
	{ "System.RevisedDate", "Revised Date", FT_DATE, FF_RO | FF_VIRTUAL },
	{ "System.Watermark", "Watermark", FT_INT, FF_RO | FF_VIRTUAL },
	{ "System.CommentCount", "Comment Count", FT_INT, FF_RO },
	{ "System.Title", "Title", FT_STRING, 0 },
	{ "System.Description", "Description", FT_HTML, 0 },
	{ "System.Tags", "Tags", FT_TAGS, 0 },
	{ "System.History", "History", FT_HISTORY, FF_VIRTUAL },
	{ "Microsoft.VSTS.Common.StateChangeDate", "State Change Date", FT_DATE, FF_RO },
	{ "Microsoft.VSTS.Common.Priority", "Priority", FT_INT, 0 },
	{ "Microsoft.VSTS.Common.Severity", "Severity", FT_STRING, 0 },
	{ "Microsoft.VSTS.Common.ValueArea", "Value Area", FT_STRING, 0 },
	{ "Microsoft.VSTS.Scheduling.DueDate", "Due Date", FT_DATE, 0 },
	{ "Microsoft.VSTS.Scheduling.StoryPoints", "Story Points", FT_DOUBLE, 0 },
	{ "Microsoft.VSTS.Scheduling.RemainingWork", "Remaining Work", FT_DOUBLE, 0 },
};

static const char *const ado_events[] = {
	"workitem.created", "workitem.updated",	 "workitem.commented",
	"workitem.deleted", "workitem.restored",
};

static const char *const ado_rels[] = {
	"System.LinkTypes.Hierarchy-Forward",
	"System.LinkTypes.Hierarchy-Reverse",
	"System.LinkTypes.Related",
	"System.LinkTypes.Dependency-Forward",
	"System.LinkTypes.Dependency-Reverse",
	"AttachedFile",
	"Hyperlink",
	"ArtifactLink",
};

/* --- state --- */

struct ado_user {
	const char *name; /**< borrowed from the seed */
	const char *email;
	const char *id;
	char descriptor[96];
};

struct ado_pat {
	const char *pat; /**< borrowed from the seed */
	const struct ado_user *user;
	uint64_t *ts; /**< ring of request times (ms) in the window, rate_limit slots */
	size_t head, n;
};

struct ado_wi {
	int id;
	int rev;
	json_t *fields;	   /**< webhook form: identities as "Name <email>" */
	json_t *relations; /**< [{rel, url, attributes}] */
	json_t *comments;  /**< [{id, version, text, format, createdBy, createdDate, ...}] */
	char *history;	   /**< System.History of the newest revision, or NULL */
	int watermark;
	uint64_t changed_ms;
	bool deleted;
	uint64_t deleted_ms;
	char *deleted_by; /**< "Name <email>" */
};

struct ado_blob {
	char id[37];
	char *name;
	char *data;
	size_t len;
	uint64_t created_ms;
	struct ado_blob *next; /**< sim_ado::blobs */
};

enum sub_status {
	SUB_ENABLED,
	SUB_PROBATION,
	SUB_DISABLED_SYSTEM,
	SUB_DISABLED_USER
};

struct ado_sub {
	char id[37];
	json_t *doc; /**< GET shape without status/probation, password unmasked */
	enum sub_status status;
	unsigned probation_retries;
	uint64_t last_probation_ms;
	json_int_t notification_id;
	struct ado_sub *next; /**< sim_ado::subs */
};

struct sim_ado {
	struct sim *sim;
	struct sim_service *svc;
	json_t *cfg; /**< the seed's "ado" part (borrowed) */
	const char *org;
	const char *project;
	const char *project_id;
	char collection_id[37];
	char account_id[37];
	char host_id[37];
	struct ado_user *users;
	size_t nusers;
	struct ado_pat *pats;
	size_t npats;
	long rate_limit;
	uint64_t window_ms;
	uint64_t transient[ADO_MAX_DELAYS];
	size_t ntransient;
	uint64_t probation[ADO_MAX_DELAYS];
	size_t nprobation;
	uint64_t timeout_ms;
	struct ado_field *fields; /**< builtin + seed custom fields */
	size_t nfields;
	json_t *field_index; /**< exact reference name -> index in fields */
	/* Built once for the hot paths; they name the service's origin, so they
	 * are made again should its port change (see cache_check). */
	int cache_port;	       /**< the port of the origin these name */
	json_t **idrefs;       /**< per user: IdentityRef, or NULL until needed */
	char **idtexts;	       /**< per user: its IdentityRef's JSON text, or NULL */
	char *wi_base;	       /**< "{origin}/{org}/{project id}/_apis/wit/workItems/" */
	char *proj_base;       /**< "{origin}/{org}/{project id}/_apis/" */
	char *html_base;       /**< "{origin}/{org}/web/wi.aspx?pcguid={collection}&id=" */
	json_t *containers;    /**< resourceContainers of the webhook bodies */
	char *containers_text; /**< ... and its JSON text */

	json_t *areas; /**< ["Platform", "Platform\\Integrations", ...] */
	json_t *iterations;
	/* world state (reset) */
	struct ado_wi **wis; /**< by ascending id */
	size_t nwis, capwis;
	int next_id;
	int next_comment_id;
	int next_file_id;
	int watermark;
	struct ado_blob *blobs;
	struct ado_sub *subs;
};

/* One API request being handled. */
struct ado_req {
	struct sim_ado *a;
	struct acs_http_req *req;
	const struct ado_user *me;
	bool has_project;
	char *segs[ADO_MAX_SEGS]; /**< segments after _apis (point into buf) */
	size_t nsegs;
	char buf[2048];
};

/* --- small helpers --- */

static const char *jstr(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static bool ieq(const char *a, const char *b)
{
	return a && b && !strcasecmp(a, b);
}

static void fmt_time(uint64_t ms, char out[40], int digits)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	unsigned frac = (unsigned)(ms % 1000);
	if (digits == 7) {
		snprintf(out + n, 40 - n, ".%03u0000Z", frac);
		return;
	}
	/* REST: variable fractional digits, trailing zeros trimmed. */
	if (frac) {
		char f[8];
		snprintf(f, sizeof(f), "%03u", frac);
		size_t k = 3;
		while (k > 0 && f[k - 1] == '0')
			f[--k] = '\0';
		snprintf(out + n, 40 - n, ".%sZ", f);
	} else {
		snprintf(out + n, 40 - n, "Z");
	}
}

static json_t *jtime(uint64_t ms)
{
	char b[40];
	fmt_time(ms, b, 3);
	return json_string(b);
}

/* ISO-8601: "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM[:SS[.fff...]]" with "Z", an
 * offset or nothing (UTC). */
static bool parse_time(const char *s, uint64_t *ms, bool *has_time)
{
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	long frac_ms = 0;
	if (!s || sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return false;
	const char *p = s + 10;
	*has_time = false;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		int k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
			return false;
		p += 1 + k;
		*has_time = true;
		if (*p == ':') {
			if (!isdigit((unsigned char)p[1]) || !isdigit((unsigned char)p[2]))
				return false;
			sec = (p[1] - '0') * 10 + (p[2] - '0');
			p += 3;
			if (*p == '.') {
				p++;
				long scale = 100;
				if (!isdigit((unsigned char)*p))
					return false;
				while (isdigit((unsigned char)*p)) {
					frac_ms += (*p - '0') * scale;
					scale /= 10;
					p++;
				}
			}
		}
	}
	long off_s = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om, k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
			return false;
		off_s = (oh * 3600L + om * 60L) * (*p == '-' ? -1 : 1);
		p += 1 + k;
	}
	if (*p || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1753)
		return false;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	time_t t = timegm(&tm);
	*ms = (uint64_t)((int64_t)t - off_s) * 1000 + (uint64_t)frac_ms;
	return true;
}

static char *b64(const void *bin, size_t len, int variant)
{
	size_t cap = sodium_base64_encoded_len(len, variant);
	char *out = acs_xmalloc(cap);
	sodium_bin2base64(out, cap, bin, len, variant);
	return out;
}

/* The ADO error body (ado-error.json). */
static json_t *ado_error_body(const char *type_key, const char *type_ns, const char *message,
			      int event_id)
{
	char *type_name = acs_xasprintf("%s.%s, %s", type_ns, type_key, type_ns);
	json_t *j = json_pack("{s:s,s:n,s:s,s:s,s:s,s:i,s:i}", "$id", "1", "innerException",
			      "message", message, "typeName", type_name, "typeKey", type_key,
			      "errorCode", 0, "eventId", event_id);
	free(type_name);
	return j;
}

#define NS_WIT "Microsoft.TeamFoundation.WorkItemTracking.Server"
#define NS_FW "Microsoft.TeamFoundation.Framework.Server"
#define NS_VSS "Microsoft.VisualStudio.Services.WebApi"
#define NS_CORE "Microsoft.TeamFoundation.Core.WebApi"
#define NS_HOOKS "Microsoft.VisualStudio.Services.ServiceHooks.WebApi"

static void ado_err(struct acs_http_req *req, int status, const char *type_key, const char *ns,
		    const char *fmt, ...) ACS_PRINTF(5, 6);

static void ado_err(struct acs_http_req *req, int status, const char *type_key, const char *ns,
		    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sim_respond_json(req, status,
			 ado_error_body(type_key, ns, msg,
					status == 401 || status == 429 ? 3000 : 3200));
}

static void wi_not_found(struct acs_http_req *req, long id)
{
	ado_err(req, 404, "WorkItemUnauthorizedAccessException", NS_WIT,
		"TF401232: Work item %ld does not exist, or you do not have permissions to read "
		"it.",
		id);
}

/* --- users --- */

static const struct ado_user *user_by_email(struct sim_ado *a, const char *email, size_t len)
{
	for (size_t i = 0; i < a->nusers; i++)
		if (strlen(a->users[i].email) == len && !strncasecmp(a->users[i].email, email, len))
			return &a->users[i];
	return NULL;
}

/* Resolve "Name <email>", an e-mail, a display name or a GUID. */
static const struct ado_user *user_resolve(struct sim_ado *a, const char *s)
{
	if (!s || !*s)
		return NULL;
	const char *lt = strrchr(s, '<');
	const char *gt = lt ? strchr(lt, '>') : NULL;
	if (lt && gt)
		return user_by_email(a, lt + 1, (size_t)(gt - lt - 1));
	const struct ado_user *u = user_by_email(a, s, strlen(s));
	if (u)
		return u;
	for (size_t i = 0; i < a->nusers; i++)
		if (ieq(a->users[i].name, s) || ieq(a->users[i].id, s) ||
		    ieq(a->users[i].descriptor, s))
			return &a->users[i];
	return NULL;
}

static char *user_string(const struct ado_user *u)
{
	return acs_xasprintf("%s <%s>", u->name, u->email);
}

static json_t *identity_build(struct sim_ado *a, const struct ado_user *u)
{
	char *url = acs_xasprintf("%s/%s/_apis/Identities/%s", sim_service_origin(a->svc), a->org,
				  u->id);
	char *avatar = acs_xasprintf("%s/%s/_apis/GraphProfile/MemberAvatars/%s",
				     sim_service_origin(a->svc), a->org, u->descriptor);
	json_t *j = json_pack("{s:s,s:s,s:{s:{s:s}},s:s,s:s,s:s,s:s}", "displayName", u->name,
			      "url", url, "_links", "avatar", "href", avatar, "id", u->id,
			      "uniqueName", u->email, "imageUrl", avatar, "descriptor",
			      u->descriptor);
	free(url);
	free(avatar);
	return j;
}

static void cache_free(struct sim_ado *a)
{
	for (size_t i = 0; a->idrefs && i < a->nusers; i++) {
		json_decref(a->idrefs[i]);
		a->idrefs[i] = NULL;
		free(a->idtexts[i]);
		a->idtexts[i] = NULL;
	}
	free(a->containers_text);
	a->containers_text = NULL;
	free(a->wi_base);
	free(a->proj_base);
	free(a->html_base);
	json_decref(a->containers);
	a->wi_base = a->proj_base = a->html_base = NULL;
	a->containers = NULL;
}

/* Make the cached URLs and objects match the service's origin (the port is
 * 0 until listen, which sets it once). */
static void cache_check(struct sim_ado *a)
{
	int port = sim_service_port(a->svc);
	if (a->wi_base && port == a->cache_port)
		return;
	cache_free(a);
	a->cache_port = port;
	const char *origin = sim_service_origin(a->svc);
	a->wi_base = acs_xasprintf("%s/%s/%s/_apis/wit/workItems/", origin, a->org, a->project_id);
	a->proj_base = acs_xasprintf("%s/%s/%s/_apis/", origin, a->org, a->project_id);
	a->html_base =
		acs_xasprintf("%s/%s/web/wi.aspx?pcguid=%s&id=", origin, a->org, a->collection_id);
	char *base = acs_xasprintf("%s/%s/", origin, a->org);
	a->containers = json_pack("{s:{s:s,s:s},s:{s:s,s:s},s:{s:s,s:s}}", "collection", "id",
				  a->collection_id, "baseUrl", base, "account", "id", a->account_id,
				  "baseUrl", base, "project", "id", a->project_id, "baseUrl", base);
	free(base);
	a->containers_text = acs_json_dumps(a->containers, JSON_COMPACT);
	acs_require(a->containers_text);
}

/* u's IdentityRef (new reference). Every REST answer naming a user carries
 * one, so it is built once per user and shared: callers must not change it
 * in place (json_copy it first). */
static json_t *identity_ref(struct sim_ado *a, const struct ado_user *u)
{
	size_t i = (size_t)(u - a->users);
	acs_require(i < a->nusers);
	cache_check(a);
	if (!a->idrefs[i])
		a->idrefs[i] = identity_build(a, u);
	return json_incref(a->idrefs[i]);
}

/* The JSON text of u's IdentityRef (cached like the object). */
static const char *identity_text(struct sim_ado *a, const struct ado_user *u)
{
	size_t i = (size_t)(u - a->users);
	json_t *ref = identity_ref(a, u);
	if (!a->idtexts[i])
		a->idtexts[i] = acs_json_dumps(ref, JSON_COMPACT);
	json_decref(ref);
	acs_require(a->idtexts[i]);
	return a->idtexts[i];
}

/* A stored "Name <email>" as an IdentityRef (or the string when unknown). */
static json_t *identity_from_string(struct sim_ado *a, json_t *v)
{
	const struct ado_user *u = user_resolve(a, json_string_value(v));
	return u ? identity_ref(a, u) : json_incref(v);
}

/* --- fields --- */

static const struct ado_field *field_find(struct sim_ado *a, const char *ref)
{
	/* Fast path for an exact reference name, how stored fields are keyed. The
	 * scan below finds the same field: no field's reference or name equals
	 * another's reference, even ignoring case (load_config refuses such
	 * custom fields, the built-in ones have none). */
	json_t *ix = ref ? json_object_get(a->field_index, ref) : NULL;
	if (ix)
		return &a->fields[json_integer_value(ix)];
	for (size_t i = 0; i < a->nfields; i++)
		if (ieq(a->fields[i].ref, ref) || ieq(a->fields[i].name, ref))
			return &a->fields[i];
	return NULL;
}

static const struct ado_type_def *type_find(const char *name)
{
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_types); i++)
		if (ieq(ado_types[i].name, name))
			return &ado_types[i];
	return NULL;
}

static const struct ado_state_def *state_find(const struct ado_type_def *t, const char *name)
{
	for (size_t i = 0; t && i < t->nstates; i++)
		if (!strcmp(t->states[i].name, name ? name : ""))
			return &t->states[i];
	return NULL;
}

static bool path_in(json_t *paths, const char *p)
{
	size_t i;
	json_t *v;
	json_array_foreach(paths, i, v)
	{
		if (ieq(json_string_value(v), p))
			return true;
	}
	return false;
}

/* Canonical spelling of a known area/iteration path. */
static const char *path_canonical(json_t *paths, const char *p)
{
	size_t i;
	json_t *v;
	json_array_foreach(paths, i, v)
	{
		if (ieq(json_string_value(v), p))
			return json_string_value(v);
	}
	return p;
}

/* "a;b; a ;;c" -> "a; b; c"; NULL when more than ADO_MAX_TAGS. */
static char *tags_normalize(const char *in)
{
	struct acs_buf b;
	char *copy = acs_xstrdup(in);
	size_t ntags = 0;
	acs_buf_init(&b, 1u << 20);
	char *save = NULL;
	for (char *t = strtok_r(copy, ";", &save); t; t = strtok_r(NULL, ";", &save)) {
		while (isspace((unsigned char)*t))
			t++;
		size_t n = strlen(t);
		while (n && isspace((unsigned char)t[n - 1]))
			t[--n] = '\0';
		if (!n)
			continue;
		/* Skip duplicates (tags are a case-insensitive set). */
		bool dup = false;
		const char *p = b.data;
		while (p && *p) {
			const char *e = strstr(p, "; ");
			size_t k = e ? (size_t)(e - p) : strlen(p);
			if (k == n && !strncasecmp(p, t, n))
				dup = true;
			p = e ? e + 2 : NULL;
		}
		if (dup)
			continue;
		if (++ntags > ADO_MAX_TAGS) {
			free(copy);
			acs_buf_free(&b);
			return NULL;
		}
		if (b.len)
			(void)acs_buf_appends(&b, "; ");
		(void)acs_buf_appends(&b, t);
	}
	free(copy);
	return acs_buf_steal(&b, NULL);
}

/* --- work items --- */

static struct ado_wi *wi_find(struct sim_ado *a, long id)
{
	for (size_t i = 0; i < a->nwis; i++)
		if (a->wis[i]->id == id)
			return a->wis[i];
	return NULL;
}

static struct ado_wi *wi_live(struct sim_ado *a, long id)
{
	struct ado_wi *wi = wi_find(a, id);
	return wi && !wi->deleted ? wi : NULL;
}

static void wi_free(struct ado_wi *wi)
{
	if (!wi)
		return;
	json_decref(wi->fields);
	json_decref(wi->relations);
	json_decref(wi->comments);
	free(wi->history);
	free(wi->deleted_by);
	free(wi);
}

static void wi_remove(struct sim_ado *a, struct ado_wi *wi)
{
	for (size_t i = 0; i < a->nwis; i++) {
		if (a->wis[i] == wi) {
			memmove(&a->wis[i], &a->wis[i + 1], (a->nwis - i - 1) * sizeof(*a->wis));
			a->nwis--;
			break;
		}
	}
	wi_free(wi);
}

static const char *wi_type(struct ado_wi *wi)
{
	return jstr(wi->fields, "System.WorkItemType");
}

/* The URLs below are built many times per request: from cached prefixes
 * and by plain concatenation (acs_xasprintf formats everything twice). */

/* "%d" of v into out. */
static const char *fmt_int(char out[16], int v)
{
	char tmp[16];
	size_t n = 0;
	unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	size_t o = 0;
	if (v < 0)
		out[o++] = '-';
	while (n)
		out[o++] = tmp[--n];
	out[o] = '\0';
	return out;
}

/* The concatenation of up to four strings (NULL = ""), malloc'd. */
static char *str_cat(const char *s1, const char *s2, const char *s3, const char *s4)
{
	const char *parts[] = { s1, s2, s3, s4 };
	size_t len[4], total = 0;
	for (size_t i = 0; i < 4; i++)
		total += len[i] = parts[i] ? strlen(parts[i]) : 0;
	char *out = acs_xmalloc(total + 1), *p = out;
	for (size_t i = 0; i < 4; i++) {
		if (len[i])
			memcpy(p, parts[i], len[i]);
		p += len[i];
	}
	*p = '\0';
	return out;
}

static char *wi_url(struct sim_ado *a, int id, const char *suffix)
{
	char num[16];
	cache_check(a);
	return str_cat(a->wi_base, fmt_int(num, id), suffix, NULL);
}

static char *wi_html_url(struct sim_ado *a, int id)
{
	char num[16];
	cache_check(a);
	return str_cat(a->html_base, fmt_int(num, id), NULL, NULL);
}

static char *proj_url(struct sim_ado *a, const char *rest)
{
	cache_check(a);
	return str_cat(a->proj_base, rest, NULL, NULL);
}

/* links[name] = {"href": href}; frees href. */
static void link_add(json_t *links, const char *name, char *href)
{
	json_t *o = json_object();
	json_object_set_new(o, "href", json_string(href));
	json_object_set_new(links, name, o);
	free(href);
}

static json_t *wi_links(struct sim_ado *a, struct ado_wi *wi)
{
	cache_check(a);
	json_t *l = json_object();
	link_add(l, "self", wi_url(a, wi->id, NULL));
	link_add(l, "workItemUpdates", wi_url(a, wi->id, "/updates"));
	link_add(l, "workItemRevisions", wi_url(a, wi->id, "/revisions"));
	link_add(l, "workItemComments", wi_url(a, wi->id, "/comments"));
	link_add(l, "html", wi_html_url(a, wi->id));
	link_add(l, "workItemType", str_cat(a->proj_base, "wit/workItemTypes/", wi_type(wi), NULL));
	link_add(l, "fields", proj_url(a, "wit/fields"));
	return l;
}

/* The fields object of a work item. rest: identities as IdentityRef objects
 * (REST reads) instead of strings (webhooks). only: NULL or an array of
 * field references to keep (System.Id/System.Rev allowed). */
static json_t *wi_fields(struct sim_ado *a, struct ado_wi *wi, json_t *src, bool rest, json_t *only)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	if (only) {
		size_t i;
		json_t *f;
		json_array_foreach(only, i, f)
		{
			const struct ado_field *fd = field_find(a, json_string_value(f));
			if (!fd)
				continue;
			if (!strcmp(fd->ref, "System.Id")) {
				json_object_set_new(out, fd->ref, json_integer(wi->id));
				continue;
			}
			if (!strcmp(fd->ref, "System.Rev")) {
				json_object_set_new(out, fd->ref, json_integer(wi->rev));
				continue;
			}
			if (!strcmp(fd->ref, "System.Watermark")) {
				json_object_set_new(out, fd->ref, json_integer(wi->watermark));
				continue;
			}
			v = json_object_get(src, fd->ref);
			if (!v)
				continue;
			json_object_set_new(out, fd->ref,
					    rest && fd->type == FT_IDENTITY
						    ? identity_from_string(a, v)
						    : json_incref(v));
		}
		return out;
	}
	json_object_foreach(src, k, v)
	{
		const struct ado_field *fd = rest ? field_find(a, k) : NULL;
		json_object_set_new(out, k,
				    rest && fd && fd->type == FT_IDENTITY
					    ? identity_from_string(a, v)
					    : json_incref(v));
	}
	return out;
}

enum expand {
	EXP_NONE,
	EXP_RELATIONS,
	EXP_FIELDS,
	EXP_LINKS,
	EXP_ALL
};

/* REST WorkItem. */
static json_t *wi_rest(struct sim_ado *a, struct ado_wi *wi, enum expand ex, json_t *only)
{
	json_t *j = json_pack("{s:i,s:i}", "id", wi->id, "rev", wi->rev);
	json_object_set_new(j, "fields", wi_fields(a, wi, wi->fields, true, only));
	if ((ex == EXP_RELATIONS || ex == EXP_ALL) && json_array_size(wi->relations))
		json_object_set(j, "relations", wi->relations);
	if (ex != EXP_FIELDS && !only)
		json_object_set_new(j, "_links", wi_links(a, wi));
	char *url = wi_url(a, wi->id, NULL);
	json_object_set_new(j, "url", json_string(url));
	free(url);
	return j;
}

/* Webhook form of a work item (created/restored/commented/updated revision). */
static json_t *wi_hook(struct sim_ado *a, struct ado_wi *wi, bool with_history)
{
	json_t *j = json_pack("{s:i,s:i}", "id", wi->id, "rev", wi->rev);
	json_t *f = wi_fields(a, wi, wi->fields, false, NULL);
	if (with_history && wi->history)
		json_object_set_new(f, "System.History", json_string(wi->history));
	json_object_set_new(j, "fields", f);
	if (json_array_size(wi->relations))
		json_object_set(j, "relations", wi->relations);
	json_object_set_new(j, "_links", wi_links(a, wi));
	char *url = wi_url(a, wi->id, NULL);
	json_object_set_new(j, "url", json_string(url));
	free(url);
	return j;
}

/* --- the same shapes written as JSON text (hot paths: PATCH answers and
 * workitem.updated bodies are written once, no tree is built to be dumped) --- */

/* "s1s2" as a JSON string. */
static void link_text_url(struct acs_buf *b, const char *s1, const char *s2)
{
	char small[512];
	size_t n1 = strlen(s1), n2 = strlen(s2);
	char *h = n1 + n2 < sizeof(small) ? small : acs_xmalloc(n1 + n2 + 1);
	memcpy(h, s1, n1);
	memcpy(h + n1, s2, n2);
	sim_json_strn(b, h, n1 + n2);
	if (h != small)
		free(h);
}

/* ,"name":{"href":"s1s2s3"} (without the comma when first). */
static void link_text(struct acs_buf *b, bool first, const char *name, const char *s1,
		      const char *s2, const char *s3)
{
	char small[512];
	size_t n1 = strlen(s1), n2 = s2 ? strlen(s2) : 0, n3 = s3 ? strlen(s3) : 0;
	size_t n = n1 + n2 + n3;
	char *h = n < sizeof(small) ? small : acs_xmalloc(n + 1);
	memcpy(h, s1, n1);
	if (n2)
		memcpy(h + n1, s2, n2);
	if (n3)
		memcpy(h + n1 + n2, s3, n3);
	if (!first)
		sim_json_raw(b, ",");
	sim_json_str(b, name);
	sim_json_raw(b, ":{\"href\":");
	sim_json_strn(b, h, n);
	sim_json_raw(b, "}");
	if (h != small)
		free(h);
}

/* wi_links(a, wi) as text. */
static void wi_links_text(struct sim_ado *a, struct ado_wi *wi, struct acs_buf *b)
{
	char num[16];
	cache_check(a);
	fmt_int(num, wi->id);
	sim_json_raw(b, "{");
	link_text(b, true, "self", a->wi_base, num, NULL);
	link_text(b, false, "workItemUpdates", a->wi_base, num, "/updates");
	link_text(b, false, "workItemRevisions", a->wi_base, num, "/revisions");
	link_text(b, false, "workItemComments", a->wi_base, num, "/comments");
	link_text(b, false, "html", a->html_base, num, NULL);
	link_text(b, false, "workItemType", a->proj_base, "wit/workItemTypes/", wi_type(wi));
	link_text(b, false, "fields", a->proj_base, "wit/fields", NULL);
	sim_json_raw(b, "}");
}

/* wi_fields(a, wi, wi->fields, true, NULL) as text: identities as IdentityRef. */
static void wi_rest_fields_text(struct sim_ado *a, struct ado_wi *wi, struct acs_buf *b)
{
	bool first = true;
	const char *k;
	json_t *v;
	sim_json_raw(b, "{");
	json_object_foreach(wi->fields, k, v)
	{
		const struct ado_field *fd = field_find(a, k);
		const struct ado_user *u = fd && fd->type == FT_IDENTITY
						   ? user_resolve(a, json_string_value(v))
						   : NULL;
		if (!first)
			sim_json_raw(b, ",");
		first = false;
		sim_json_str(b, k);
		sim_json_raw(b, ":");
		if (u)
			sim_json_raw(b, identity_text(a, u));
		else
			(void)sim_json_value(b, v, NULL);
	}
	sim_json_raw(b, "}");
}

/* wi_rest(a, wi, ex, NULL) as text. */
static void wi_rest_text(struct sim_ado *a, struct ado_wi *wi, enum expand ex, struct acs_buf *b)
{
	char num[16];
	sim_json_raw(b, "{\"id\":");
	sim_json_int(b, wi->id);
	sim_json_raw(b, ",\"rev\":");
	sim_json_int(b, wi->rev);
	sim_json_raw(b, ",\"fields\":");
	wi_rest_fields_text(a, wi, b);
	if ((ex == EXP_RELATIONS || ex == EXP_ALL) && json_array_size(wi->relations)) {
		sim_json_raw(b, ",\"relations\":");
		(void)sim_json_value(b, wi->relations, NULL);
	}
	if (ex != EXP_FIELDS) {
		sim_json_raw(b, ",\"_links\":");
		wi_links_text(a, wi, b);
	}
	cache_check(a);
	sim_json_raw(b, ",\"url\":");
	link_text_url(b, a->wi_base, fmt_int(num, wi->id));
	sim_json_raw(b, "}");
}

static void respond_wi(struct ado_req *r, struct ado_wi *wi, enum expand ex)
{
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	wi_rest_text(r->a, wi, ex, &b);
	sim_respond_buf(r->req, 200, &b);
}

static int comment_count(struct ado_wi *wi)
{
	int n = 0;
	size_t i;
	json_t *c;
	json_array_foreach(wi->comments, i, c)
	{
		if (!json_is_true(json_object_get(c, "isDeleted")))
			n++;
	}
	return n;
}

/* --- service hooks: events --- */

static const char *sub_status_name(enum sub_status s)
{
	switch (s) {
	case SUB_ENABLED:
		return "enabled";
	case SUB_PROBATION:
		return "onProbation";
	case SUB_DISABLED_SYSTEM:
		return "disabledBySystem";
	case SUB_DISABLED_USER:
		return "disabledByUser";
	}
	return "enabled";
}

static struct ado_sub *sub_find(struct sim_ado *a, const char *id)
{
	for (struct ado_sub *s = a->subs; s; s = s->next)
		if (ieq(s->id, id))
			return s;
	return NULL;
}

/* What happened, for the subscriptions' filters and the payload. */
struct ado_event {
	const char *type; /**< "workitem.updated"... */
	struct ado_wi *wi;
	const struct ado_user *actor;
	const char *update;	/**< workitem.updated: the WorkItemUpdate resource (JSON) */
	int update_id;		/**< ... its id */
	const char *update_url; /**< ... and url */
	const char *old_area;	/**< workitem.updated: System.AreaPath before, if changed */
	json_t *comment;	/**< workitem.commented: the stored comment */
	json_t *changed;	/**< workitem.updated: changed field refs (array) */
};

static bool area_under(const char *path, const char *parent)
{
	size_t n = strlen(parent);
	return path && (ieq(path, parent) || (!strncasecmp(path, parent, n) && path[n] == '\\'));
}

static bool sub_matches(struct sim_ado *a, struct ado_sub *s, const struct ado_event *ev)
{
	if (strcmp(jstr(s->doc, "eventType"), ev->type))
		return false;
	json_t *pi = json_object_get(s->doc, "publisherInputs");
	const char *pid = jstr(pi, "projectId");
	if (pid && *pid && !ieq(pid, a->project_id))
		return false;
	const char *area = jstr(pi, "areaPath");
	/* An update that moves the item out of the area still reaches the area's
	 * subscriptions (its old value is under the area): the move is news to them. */
	const char *old_area = ev->old_area;
	if (area && *area && !area_under(jstr(ev->wi->fields, "System.AreaPath"), area) &&
	    !(old_area && area_under(old_area, area)))
		return false;
	const char *wit = jstr(pi, "workItemType");
	if (wit && *wit && !ieq(wit, wi_type(ev->wi)))
		return false;
	const char *cf = jstr(pi, "changedFields");
	if (ev->changed && cf && *cf) {
		bool any = false;
		char *copy = acs_xstrdup(cf), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t && !any;
		     t = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*t))
				t++;
			size_t i;
			json_t *c;
			json_array_foreach(ev->changed, i, c)
			{
				if (ieq(json_string_value(c), t))
					any = true;
			}
		}
		free(copy);
		if (!any)
			return false;
	}
	const char *pat = jstr(pi, "commentPattern");
	if (ev->comment && pat && *pat && !strcasestr(jstr(ev->comment, "text"), pat))
		return false;
	return true;
}

/* message/detailedMessage in the three formats, after the examples. */
static json_t *event_messages(struct sim_ado *a, const struct ado_event *ev, bool detailed)
{
	struct ado_wi *wi = ev->wi;
	const char *verb = "updated";
	if (!strcmp(ev->type, "workitem.created"))
		verb = "created";
	else if (!strcmp(ev->type, "workitem.commented"))
		verb = "commented on";
	else if (!strcmp(ev->type, "workitem.deleted"))
		verb = "deleted";
	else if (!strcmp(ev->type, "workitem.restored"))
		verb = "restored";
	char *html_url = wi_html_url(a, wi->id);
	const char *title = jstr(wi->fields, "System.Title");
	const char *who = ev->actor ? ev->actor->name : "";
	char *head = acs_xasprintf("%s #%d (%s) %s by %s.", wi_type(wi), wi->id, title, verb, who);
	char *text = acs_xasprintf("%s\r\n(%s)", head, html_url);
	char *html = acs_xasprintf("<a href=\"%s\">%s #%d</a> (%s) %s by %s.", html_url,
				   wi_type(wi), wi->id, title, verb, who);
	char *md = acs_xasprintf("[%s #%d](%s) (%s) %s by %s.", wi_type(wi), wi->id, html_url,
				 title, verb, who);
	if (detailed) {
		const char *area = jstr(wi->fields, "System.AreaPath");
		const char *iter = jstr(wi->fields, "System.IterationPath");
		const char *state = jstr(wi->fields, "System.State");
		char *t2 = acs_xasprintf("%s\r\n\r\n- Area: %s\r\n- Iteration: %s\r\n- State: "
					 "%s\r\n",
					 text, area, iter, state);
		char *h2 = acs_xasprintf("%s<ul>\r\n<li>Area: %s</li>\r\n<li>Iteration: %s</li>\r\n"
					 "<li>State: %s</li></ul>",
					 html, area, iter, state);
		char *m2 = acs_xasprintf("%s\r\n\r\n* Area: %s\r\n* Iteration: %s\r\n* State: "
					 "%s\r\n",
					 md, area, iter, state);
		free(text);
		free(html);
		free(md);
		text = t2;
		html = h2;
		md = m2;
	}
	json_t *j = json_pack("{s:s,s:s,s:s}", "text", text, "html", html, "markdown", md);
	free(html_url);
	free(head);
	free(text);
	free(html);
	free(md);
	return j;
}

/* messagesToSend: "" / "all" = all three, "none" = no key (and nothing to
 * build), else that one. */
static void add_messages(struct sim_ado *a, const struct ado_event *ev, struct acs_buf *b,
			 const char *key, bool detailed, const char *want)
{
	if (want && !strcmp(want, "none"))
		return;
	json_t *msgs = event_messages(a, ev, detailed);
	if (want && *want && strcmp(want, "all")) {
		json_t *one = json_object();
		json_t *v = json_object_get(msgs, want);
		if (v)
			json_object_set(one, want, v);
		json_decref(msgs);
		msgs = one;
	}
	size_t len = b->len;
	sim_json_raw(b, ",");
	sim_json_str(b, key);
	sim_json_raw(b, ":");
	if (!sim_json_value(b, msgs, NULL)) {
		b->len = len;
		b->data[len] = '\0';
	}
	json_decref(msgs);
}

/* The resource of any event but workitem.updated (written as text). */
static json_t *event_resource(struct sim_ado *a, const struct ado_event *ev)
{
	struct ado_wi *wi = ev->wi;
	if (!strcmp(ev->type, "workitem.deleted")) {
		json_t *j = json_pack("{s:i,s:i}", "id", wi->id, "rev", wi->rev);
		json_object_set_new(j, "fields", wi_fields(a, wi, wi->fields, false, NULL));
		json_t *l = json_object();
		char *rb = acs_xasprintf("wit/recyclebin/%d", wi->id);
		char *t = acs_xasprintf("wit/workItemTypes/%s", wi_type(wi));
		link_add(l, "self", proj_url(a, rb));
		link_add(l, "workItemType", proj_url(a, t));
		link_add(l, "fields", proj_url(a, "wit/fields"));
		json_object_set_new(j, "_links", l);
		char *u = proj_url(a, rb);
		json_object_set_new(j, "url", json_string(u));
		free(u);
		free(rb);
		free(t);
		return j;
	}
	bool commented = !strcmp(ev->type, "workitem.commented");
	json_t *j = wi_hook(a, wi, commented);
	if (commented) {
		/* Keep the key order of the capture: commentVersionRef before _links. */
		json_t *links = json_incref(json_object_get(j, "_links"));
		json_t *url = json_incref(json_object_get(j, "url"));
		json_object_del(j, "_links");
		json_object_del(j, "url");
		json_int_t cid = json_integer_value(json_object_get(ev->comment, "id"));
		json_int_t ver = json_integer_value(json_object_get(ev->comment, "version"));
		char *suffix = acs_xasprintf("/comments/%" JSON_INTEGER_FORMAT
					     "/versions/%" JSON_INTEGER_FORMAT,
					     cid, ver);
		char *cu = wi_url(a, wi->id, suffix);
		json_object_set_new(j, "commentVersionRef",
				    json_pack("{s:I,s:I,s:s}", "commentId", cid, "version", ver,
					      "url", cu));
		free(suffix);
		free(cu);
		json_object_set_new(j, "_links", links);
		json_object_set_new(j, "url", url);
	}
	return j;
}

static void sub_deliver(struct sim_ado *a, struct ado_sub *s, const struct ado_event *ev)
{
	char evid[37], created[40];
	json_t *ci = json_object_get(s->doc, "consumerInputs");
	const char *details = jstr(ci, "resourceDetailsToSend");

	sim_random_uuid(evid);
	fmt_time(sim_clock_ms(a->sim), created, 7);
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	sim_json_raw(&b, "{\"subscriptionId\":");
	sim_json_str(&b, s->id);
	sim_json_raw(&b, ",\"notificationId\":");
	sim_json_int(&b, ++s->notification_id);
	sim_json_raw(&b, ",\"id\":");
	sim_json_str(&b, evid);
	sim_json_raw(&b, ",\"eventType\":");
	sim_json_str(&b, ev->type);
	sim_json_raw(&b, ",\"publisherId\":\"tfs\"");
	add_messages(a, ev, &b, "message", false, jstr(ci, "messagesToSend"));
	add_messages(a, ev, &b, "detailedMessage", true, jstr(ci, "detailedMessagesToSend"));
	bool minimal = details && !strcmp(details, "minimal");
	if (!details || strcmp(details, "none")) {
		if (ev->update) {
			sim_json_raw(&b, ",\"resource\":");
			if (minimal) {
				sim_json_raw(&b, "{\"id\":");
				sim_json_int(&b, ev->update_id);
				sim_json_raw(&b, ",\"url\":");
				sim_json_str(&b, ev->update_url);
				sim_json_raw(&b, "}");
			} else {
				sim_json_raw(&b, ev->update);
			}
		} else {
			json_t *res = event_resource(a, ev);
			if (minimal) {
				json_t *m = json_pack("{s:O,s:O}", "id", json_object_get(res, "id"),
						      "url", json_object_get(res, "url"));
				json_decref(res);
				res = m;
			}
			if (res) {
				size_t len = b.len;
				sim_json_raw(&b, ",\"resource\":");
				if (!sim_json_value(&b, res, NULL)) {
					b.len = len;
					b.data[len] = '\0';
				}
			}
			json_decref(res);
		}
	}
	sim_json_raw(&b, ",\"resourceVersion\":\"1.0\",\"resourceContainers\":");
	cache_check(a);
	sim_json_raw(&b, a->containers_text);
	sim_json_raw(&b, ",\"createdDate\":");
	sim_json_str(&b, created);
	sim_json_raw(&b, "}");
	size_t text_len = 0;
	char *text = acs_buf_steal(&b, &text_len);
	/* Headers: JSON, Basic auth from the inputs, then each httpHeaders line. */
	const char *hdrs[40];
	char *owned[40];
	size_t nh = 0, no = 0;
	hdrs[nh++] = "Content-Type: application/json; charset=utf-8";
	const char *user = jstr(ci, "basicAuthUsername");
	const char *pass = jstr(ci, "basicAuthPassword");
	if ((user && *user) || (pass && *pass)) {
		char *cred = acs_xasprintf("%s:%s", user ? user : "", pass ? pass : "");
		char *enc = b64(cred, strlen(cred), sodium_base64_VARIANT_ORIGINAL);
		owned[no] = acs_xasprintf("Authorization: Basic %s", enc);
		hdrs[nh++] = owned[no++];
		sodium_memzero(cred, strlen(cred));
		free(cred);
		free(enc);
	}
	const char *hh = jstr(ci, "httpHeaders");
	char *copy = acs_xstrdup(hh ? hh : ""), *save = NULL;
	for (char *line = strtok_r(copy, "\r\n", &save); line && nh < 38 && no < 38;
	     line = strtok_r(NULL, "\r\n", &save)) {
		char *colon = strchr(line, ':');
		if (!colon || colon == line)
			continue;
		*colon = '\0';
		const char *val = colon + 1;
		while (*val == ' ')
			val++;
		owned[no] = acs_xasprintf("%s: %s", line, val);
		hdrs[nh++] = owned[no++];
	}
	free(copy);
	hdrs[nh] = NULL;
	struct sim_delivery d = {
		.target = s->id,
		.url = jstr(ci, "url"),
		.headers = hdrs,
		.body = text,
		.body_len = text_len,
		.timeout_ms = a->timeout_ms,
		.retry_delay_ms = a->transient[0],
	};
	(void)sim_service_deliver(a->svc, &d);
	for (size_t i = 0; i < no; i++)
		free(owned[i]);
	free(text);
}

static void fire(struct sim_ado *a, const struct ado_event *ev)
{
	for (struct ado_sub *s = a->subs; s; s = s->next) {
		/* On probation new events are lost; disabled ones get nothing. */
		if (s->status != SUB_ENABLED || !sub_matches(a, s, ev))
			continue;
		sub_deliver(a, s, ev);
	}
}

static bool is_transient(const struct sim_attempt *at)
{
	return at->status == 0 || at->status == 408 || at->status == 502 || at->status == 503 ||
	       at->status == 504;
}

static enum sim_verdict ado_delivery_done(void *impl, const struct sim_attempt *at)
{
	struct sim_ado *a = impl;
	struct ado_sub *s = sub_find(a, at->target);
	if (!s)
		return SIM_DELIVERY_DROP_TARGET;
	if (at->status >= 200 && at->status < 300) {
		s->status = SUB_ENABLED;
		s->probation_retries = 0;
		return SIM_DELIVERY_DONE;
	}
	if (at->status == 410) {
		s->status = SUB_DISABLED_SYSTEM;
		return SIM_DELIVERY_DROP_TARGET;
	}
	if (s->status == SUB_PROBATION) {
		s->probation_retries++;
		s->last_probation_ms = sim_clock_ms(a->sim);
		if (s->probation_retries >= a->nprobation) {
			s->status = SUB_DISABLED_SYSTEM;
			return SIM_DELIVERY_DROP_TARGET;
		}
		*at->retry_delay_ms = a->probation[s->probation_retries];
		return SIM_DELIVERY_RETRY;
	}
	if (s->status != SUB_ENABLED)
		return SIM_DELIVERY_DROP_TARGET;
	if (is_transient(at) && at->attempt <= a->ntransient) {
		*at->retry_delay_ms = a->transient[at->attempt - 1];
		return SIM_DELIVERY_RETRY;
	}
	/* Enduring failure (or transient retries exhausted): probation. */
	s->status = SUB_PROBATION;
	s->probation_retries = 0;
	s->last_probation_ms = sim_clock_ms(a->sim);
	if (!a->nprobation) {
		s->status = SUB_DISABLED_SYSTEM;
		return SIM_DELIVERY_DROP_TARGET;
	}
	*at->retry_delay_ms = a->probation[0];
	return SIM_DELIVERY_RETRY;
}

static bool ado_target_live(void *impl, const char *target)
{
	struct sim_ado *a = impl;
	struct ado_sub *s = sub_find(a, target);
	return s && (s->status == SUB_ENABLED || s->status == SUB_PROBATION);
}

/* --- JSON Patch on work items --- */

struct patch {
	struct ado_req *r;
	struct ado_wi *wi; /**< NULL on create */
	const struct ado_type_def *type;
	json_t *fields;	   /**< working copy */
	json_t *relations; /**< working copy */
	char *history;
	bool reason_set;
	bool bypass;
	bool changed_date_set;
	bool changed_by_set;
	int status; /**< 0 or the error status */
	char type_key[64];
	const char *ns;
	char msg[768];
};

static bool patch_fail(struct patch *p, int status, const char *key, const char *ns,
		       const char *fmt, ...) ACS_PRINTF(5, 6);

static bool patch_fail(struct patch *p, int status, const char *key, const char *ns,
		       const char *fmt, ...)
{
	va_list ap;
	p->status = status;
	snprintf(p->type_key, sizeof(p->type_key), "%s", key);
	p->ns = ns;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
	return false;
}

/* The working copy of a stored work item that a patch edits. Shallow: the
 * stored values are shared by reference, never copied. That is safe because
 * nothing changes a stored value in place: field values are scalars that are
 * only ever replaced (json_object_set*) or removed, and relations are only
 * added, removed or replaced whole in the arrays, never edited. Keep it so: a
 * change made in place through p would also change the stored item (and the
 * item's REST answer if the patch fails). */
static void patch_copy_item(struct patch *p, const struct ado_wi *wi)
{
	p->fields = json_copy(wi->fields);
	p->relations = json_copy(wi->relations);
}

static void patch_free(struct patch *p)
{
	json_decref(p->fields);
	json_decref(p->relations);
	free(p->history);
}

static bool rule_error(struct patch *p, const char *name, const char *codes)
{
	return patch_fail(p, 400, "RuleValidationException", NS_WIT,
			  "TF401320: Rule Error for field %s. Error code: %s.", name, codes);
}

static bool set_field(struct patch *p, const struct ado_field *fd, json_t *v)
{
	struct sim_ado *a = p->r->a;
	bool empty = !v || json_is_null(v) || (json_is_string(v) && !*json_string_value(v));
	bool bypassable =
		p->bypass &&
		(!strcmp(fd->ref, "System.CreatedDate") || !strcmp(fd->ref, "System.ChangedDate") ||
		 !strcmp(fd->ref, "System.CreatedBy") || !strcmp(fd->ref, "System.ChangedBy"));

	if ((fd->flags & FF_RO) && !bypassable)
		return patch_fail(p, 400, "WorkItemFieldInvalidException", NS_WIT,
				  "TF401326: Invalid field status 'ReadOnly' for field '%s'.",
				  fd->ref);
	if (bypassable && empty)
		return rule_error(p, fd->name, "Required, InvalidEmpty");
	if (!strcmp(fd->ref, "System.Reason"))
		p->reason_set = true;
	if (!strcmp(fd->ref, "System.ChangedDate"))
		p->changed_date_set = true;
	if (!strcmp(fd->ref, "System.ChangedBy"))
		p->changed_by_set = true;
	if (fd->type == FT_HISTORY) {
		if (!empty && !json_is_string(v))
			return rule_error(p, fd->name, "InvalidType");
		free(p->history);
		p->history = empty ? NULL : acs_xstrdup(json_string_value(v));
		return true;
	}
	if (empty) {
		json_object_del(p->fields, fd->ref);
		return true;
	}
	json_t *nv = NULL;
	switch (fd->type) {
	case FT_STRING:
	case FT_HTML:
		if (!json_is_string(v))
			return rule_error(p, fd->name, "InvalidType");
		if (fd->type == FT_STRING && strlen(json_string_value(v)) > 255)
			return rule_error(p, fd->name, "InvalidTooLong");
		nv = json_incref(v);
		break;
	case FT_INT:
		if (!json_is_integer(v))
			return rule_error(p, fd->name, "InvalidType");
		nv = json_incref(v);
		break;
	case FT_DOUBLE:
		if (!json_is_number(v))
			return rule_error(p, fd->name, "InvalidType");
		nv = json_real(json_number_value(v));
		break;
	case FT_BOOL:
		if (!json_is_boolean(v))
			return rule_error(p, fd->name, "InvalidType");
		nv = json_incref(v);
		break;
	case FT_DATE: {
		uint64_t ms;
		bool has_time;
		if (!json_is_string(v) || !parse_time(json_string_value(v), &ms, &has_time))
			return rule_error(p, fd->name, "InvalidType");
		nv = jtime(ms);
		break;
	}
	case FT_IDENTITY: {
		const struct ado_user *u = NULL;
		const char *shown = "";
		if (json_is_string(v)) {
			shown = json_string_value(v);
			u = user_resolve(a, shown);
		} else if (json_is_object(v)) {
			const char *keys[] = { "uniqueName", "id", "descriptor", "displayName" };
			for (size_t i = 0; i < ACS_ARRAY_SIZE(keys) && !u; i++) {
				const char *s = jstr(v, keys[i]);
				if (s) {
					shown = s;
					u = user_resolve(a, s);
				}
			}
		}
		if (!u)
			return patch_fail(p, 400, "RuleValidationException", NS_WIT,
					  "The identity value '%s' for field '%s' is an unknown "
					  "identity.",
					  shown, fd->name);
		char *s = user_string(u);
		nv = json_string(s);
		free(s);
		break;
	}
	case FT_AREA:
	case FT_ITERATION: {
		json_t *paths = fd->type == FT_AREA ? a->areas : a->iterations;
		if (!json_is_string(v) || !path_in(paths, json_string_value(v)))
			return patch_fail(p, 400, "WorkItemTrackingTreeNodeNotFoundException",
					  NS_WIT,
					  "TF401347: Invalid tree name given for work item %d, "
					  "field '%s'.",
					  p->wi ? p->wi->id : -1, fd->ref);
		nv = json_string(path_canonical(paths, json_string_value(v)));
		break;
	}
	case FT_TAGS: {
		if (!json_is_string(v))
			return rule_error(p, fd->name, "InvalidType");
		char *t = tags_normalize(json_string_value(v));
		if (!t)
			return patch_fail(p, 400, "WorkItemTagLimitExceededException", NS_WIT,
					  "A work item can have at most %d tags.", ADO_MAX_TAGS);
		if (*t)
			nv = json_string(t);
		else
			json_object_del(p->fields, fd->ref);
		free(t);
		if (!nv)
			return true;
		break;
	}
	case FT_HISTORY:
		break;
	}
	json_object_set_new(p->fields, fd->ref, nv);
	return true;
}

static bool parse_index(const char *s, size_t *out)
{
	char *end;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno)
		return false;
	*out = v;
	return true;
}

/* The blob an attachment URL names, or NULL. */
static struct ado_blob *blob_from_url(struct sim_ado *a, const char *url)
{
	const char *p = url ? strcasestr(url, "/_apis/wit/attachments/") : NULL;
	if (!p)
		return NULL;
	p += strlen("/_apis/wit/attachments/");
	for (struct ado_blob *b = a->blobs; b; b = b->next)
		if (!strncasecmp(b->id, p, 36) && (p[36] == '\0' || p[36] == '?'))
			return b;
	return NULL;
}

static struct ado_wi *wi_from_url(struct sim_ado *a, const char *url)
{
	const char *p = url ? strcasestr(url, "/_apis/wit/workItems/") : NULL;
	if (!p)
		return NULL;
	size_t id;
	if (!parse_index(p + strlen("/_apis/wit/workItems/"), &id))
		return NULL;
	return wi_live(a, (long)id);
}

static bool add_relation(struct patch *p, json_t *v)
{
	struct sim_ado *a = p->r->a;
	const char *rel = jstr(v, "rel");
	const char *url = jstr(v, "url");
	json_t *attrs = json_object_get(v, "attributes");
	const char *canon = NULL;

	for (size_t i = 0; rel && i < ACS_ARRAY_SIZE(ado_rels); i++)
		if (ieq(ado_rels[i], rel))
			canon = ado_rels[i];
	if (!json_is_object(v) || !canon || !url || !*url || (attrs && !json_is_object(attrs)))
		return patch_fail(p, 400, "WorkItemLinkInvalidException", NS_WIT,
				  "Invalid relation: needs a known \"rel\" and a \"url\" (got "
				  "rel '%s').",
				  rel ? rel : "");
	json_t *out_attrs = json_object();
	char *out_url = NULL;
	const char *comment = jstr(attrs, "comment");
	if (!strcmp(canon, "AttachedFile")) {
		struct ado_blob *b = blob_from_url(a, url);
		if (!b) {
			json_decref(out_attrs);
			return patch_fail(p, 400, "WorkItemLinkInvalidException", NS_WIT,
					  "The attachment '%s' does not exist.", url);
		}
		size_t natt = 0, i;
		json_t *r;
		json_array_foreach(p->relations, i, r)
		{
			if (!strcmp(jstr(r, "rel"), "AttachedFile"))
				natt++;
		}
		if (natt >= 100) {
			json_decref(out_attrs);
			return patch_fail(p, 400, "WorkItemAttachmentLimitExceededException",
					  NS_WIT, "A work item can have at most 100 attachments.");
		}
		out_url = proj_url(a, "wit/attachments/");
		char *full = acs_xasprintf("%s%s", out_url, b->id);
		free(out_url);
		out_url = full;
		uint64_t now = sim_now_ms(a->sim);
		json_object_set_new(out_attrs, "authorizedDate", jtime(now));
		json_object_set_new(out_attrs, "id", json_integer(++a->next_file_id));
		json_object_set_new(out_attrs, "resourceCreatedDate", jtime(b->created_ms));
		json_object_set_new(out_attrs, "resourceModifiedDate", jtime(b->created_ms));
		json_object_set_new(out_attrs, "revisedDate", json_string(ADO_REVISED_NEVER));
		json_object_set_new(out_attrs, "resourceSize", json_integer((json_int_t)b->len));
		if (comment)
			json_object_set_new(out_attrs, "comment", json_string(comment));
		json_object_set_new(out_attrs, "name", json_string(b->name));
	} else if (!strcmp(canon, "Hyperlink") || !strcmp(canon, "ArtifactLink")) {
		if (!strcmp(canon, "Hyperlink") && strncasecmp(url, "http://", 7) &&
		    strncasecmp(url, "https://", 8)) {
			json_decref(out_attrs);
			return patch_fail(p, 400, "WorkItemLinkInvalidException", NS_WIT,
					  "The hyperlink '%s' is not an absolute http(s) URL.",
					  url);
		}
		out_url = acs_xstrdup(url);
		if (comment)
			json_object_set_new(out_attrs, "comment", json_string(comment));
		if (jstr(attrs, "name"))
			json_object_set_new(out_attrs, "name", json_string(jstr(attrs, "name")));
	} else {
		struct ado_wi *other = wi_from_url(a, url);
		if (!other || (p->wi && other == p->wi)) {
			json_decref(out_attrs);
			return patch_fail(p, 400, "WorkItemLinkInvalidException", NS_WIT,
					  "The work item link target '%s' does not exist.", url);
		}
		out_url = wi_url(a, other->id, NULL);
		const char *name = "Related";
		if (strstr(canon, "Hierarchy-Forward"))
			name = "Child";
		else if (strstr(canon, "Hierarchy-Reverse"))
			name = "Parent";
		else if (strstr(canon, "Dependency-Forward"))
			name = "Successor";
		else if (strstr(canon, "Dependency-Reverse"))
			name = "Predecessor";
		json_object_set_new(out_attrs, "isLocked", json_false());
		if (comment)
			json_object_set_new(out_attrs, "comment", json_string(comment));
		json_object_set_new(out_attrs, "name", json_string(name));
	}
	size_t i;
	json_t *r;
	json_array_foreach(p->relations, i, r)
	{
		if (!strcmp(jstr(r, "rel"), canon) && ieq(jstr(r, "url"), out_url)) {
			json_decref(out_attrs);
			free(out_url);
			return patch_fail(p, 400, "WorkItemLinkInvalidException", NS_WIT,
					  "TF201035: The relation '%s' to '%s' already exists.",
					  canon, url);
		}
	}
	if (json_array_size(p->relations) >= 1000) {
		json_decref(out_attrs);
		free(out_url);
		return patch_fail(p, 400, "WorkItemLinkLimitExceededException", NS_WIT,
				  "A work item can have at most 1000 links.");
	}
	json_array_append_new(p->relations, json_pack("{s:s,s:s,s:o}", "rel", canon, "url", out_url,
						      "attributes", out_attrs));
	free(out_url);
	return true;
}

static bool bad_path(struct patch *p, const char *op, const char *path)
{
	return patch_fail(p, 400, "WorkItemPatchInvalidException", NS_WIT,
			  "The operation '%s' on path '%s' is not valid for a work item.", op,
			  path ? path : "");
}

static bool apply_op(struct patch *p, json_t *opj)
{
	struct sim_ado *a = p->r->a;
	const char *op = jstr(opj, "op");
	const char *path = jstr(opj, "path");
	json_t *v = json_object_get(opj, "value");

	if (!json_is_object(opj) || !op || !path)
		return patch_fail(p, 400, "WorkItemPatchInvalidException", NS_WIT,
				  "Each patch operation needs \"op\" and \"path\".");
	bool add = ieq(op, "add"), replace = ieq(op, "replace"), remove = ieq(op, "remove");
	if (ieq(op, "test")) {
		if (ieq(path, "/rev")) {
			if (!p->wi)
				return bad_path(p, op, path);
			json_int_t want;
			if (json_is_integer(v))
				want = json_integer_value(v);
			else if (json_is_string(v) && isdigit((unsigned char)*json_string_value(v)))
				want = strtoll(json_string_value(v), NULL, 10);
			else
				return bad_path(p, op, path);
			if (want != p->wi->rev)
				return patch_fail(p, 412, "WorkItemRevisionMismatchException",
						  NS_WIT,
						  "The test operation failed: work item %d is at "
						  "rev "
						  "%d, expected %" JSON_INTEGER_FORMAT ".",
						  p->wi->id, p->wi->rev, want);
			return true;
		}
		if (!strncasecmp(path, "/fields/", 8)) {
			const struct ado_field *fd = field_find(a, path + 8);
			if (!fd)
				return patch_fail(
					p, 400, "WorkItemTrackingFieldDefinitionNotFoundException",
					NS_WIT, "TF51535: Cannot find field %s.", path + 8);
			json_t *cur = json_object_get(p->fields, fd->ref);
			bool same = (!cur && (!v || json_is_null(v))) ||
				    (cur && v && json_equal(cur, v));
			if (!same && cur && fd->type == FT_IDENTITY && json_is_string(v))
				same = user_resolve(a, json_string_value(v)) ==
				       user_resolve(a, json_string_value(cur));
			if (!same)
				return patch_fail(p, 412, "WorkItemRevisionMismatchException",
						  NS_WIT,
						  "The test operation failed: field %s does not "
						  "have "
						  "the expected value.",
						  fd->ref);
			return true;
		}
		return bad_path(p, op, path);
	}
	if (!add && !replace && !remove)
		return patch_fail(p, 400, "WorkItemPatchInvalidException", NS_WIT,
				  "The patch operation '%s' is not supported.", op);
	if (!strncasecmp(path, "/fields/", 8)) {
		const struct ado_field *fd = field_find(a, path + 8);
		if (!fd)
			return patch_fail(p, 400,
					  "WorkItemTrackingFieldDefinitionNotFoundException",
					  NS_WIT, "TF51535: Cannot find field %s.", path + 8);
		if (!remove && !json_object_get(opj, "value"))
			return bad_path(p, op, path);
		return set_field(p, fd, remove ? NULL : v);
	}
	if (!strcasecmp(path, "/relations/-")) {
		if (!add)
			return bad_path(p, op, path);
		return add_relation(p, v);
	}
	if (!strncasecmp(path, "/relations/", 11)) {
		size_t idx;
		if (!parse_index(path + 11, &idx) || idx >= json_array_size(p->relations))
			return patch_fail(p, 400, "WorkItemPatchInvalidException", NS_WIT,
					  "The relation index in '%s' is out of range.", path);
		if (remove) {
			json_array_remove(p->relations, idx);
			return true;
		}
		if (!replace)
			return bad_path(p, op, path);
		json_t *old = json_incref(json_array_get(p->relations, idx));
		json_array_remove(p->relations, idx);
		if (!add_relation(p, v)) {
			json_decref(old);
			return false;
		}
		/* Move the new relation back to the index it replaces. */
		size_t last = json_array_size(p->relations) - 1;
		json_t *nr = json_incref(json_array_get(p->relations, last));
		json_array_remove(p->relations, last);
		json_array_insert_new(p->relations, idx, nr);
		json_decref(old);
		return true;
	}
	return bad_path(p, op, path);
}

/* Rules checked once every op is applied. */
static bool patch_validate(struct patch *p)
{
	json_t *f = p->fields;
	const char *title = jstr(f, "System.Title");
	if (!title || !*title)
		return rule_error(p, "Title", "Required, InvalidEmpty");
	if (!state_find(p->type, jstr(f, "System.State")))
		return rule_error(p, "State",
				  "LimitedToValues, HasValues, AllowsOldValue, InvalidEmpty");
	json_t *prio = json_object_get(f, "Microsoft.VSTS.Common.Priority");
	if (prio && (json_integer_value(prio) < 1 || json_integer_value(prio) > 4))
		return rule_error(p, "Priority", "LimitedToValues");
	const char *sev = jstr(f, "Microsoft.VSTS.Common.Severity");
	if (sev && strcmp(sev, "1 - Critical") && strcmp(sev, "2 - High") &&
	    strcmp(sev, "3 - Medium") && strcmp(sev, "4 - Low"))
		return rule_error(p, "Severity", "LimitedToValues");
	const char *va = jstr(f, "Microsoft.VSTS.Common.ValueArea");
	if (va && strcmp(va, "Business") && strcmp(va, "Architectural"))
		return rule_error(p, "Value Area", "LimitedToValues");
	return true;
}

static bool patch_apply_all(struct patch *p, json_t *ops)
{
	size_t i;
	json_t *op;
	json_array_foreach(ops, i, op)
	{
		if (!apply_op(p, op))
			return false;
	}
	const char *old_state = p->wi ? jstr(p->wi->fields, "System.State") : NULL;
	const char *state = jstr(p->fields, "System.State");
	if (!p->wi && !state) {
		json_object_set_new(p->fields, "System.State",
				    json_string(p->type->states[0].name));
		state = p->type->states[0].name;
	}
	const struct ado_state_def *sd = state_find(p->type, state);
	if (sd && (!old_state || strcmp(old_state, state)) && !p->reason_set)
		json_object_set_new(p->fields, "System.Reason", json_string(sd->reason));
	return patch_validate(p);
}

static void patch_respond_error(struct patch *p)
{
	ado_err(p->r->req, p->status, p->type_key, p->ns, "%s", p->msg);
}

/* --- comments (shared by POST comments and System.History) --- */

static json_t *comment_new(struct sim_ado *a, struct ado_wi *wi, const char *text,
			   const char *format, const struct ado_user *me, uint64_t now)
{
	char *who = user_string(me);
	json_t *c = json_pack("{s:i,s:i,s:s,s:s,s:s,s:o,s:s,s:o,s:b}", "id", ++a->next_comment_id,
			      "version", 1, "text", text, "format", format, "createdBy", who,
			      "createdDate", jtime(now), "modifiedBy", who, "modifiedDate",
			      jtime(now), "isDeleted", 0);
	free(who);
	json_array_append_new(wi->comments, c);
	return c;
}

/* --- commits --- */

/* field_change(oldv, newv) as text. */
static void field_change_text(struct acs_buf *b, json_t *oldv, json_t *newv)
{
	sim_json_raw(b, "{");
	if (oldv) {
		sim_json_raw(b, "\"oldValue\":");
		(void)sim_json_value(b, oldv, NULL);
	}
	if (newv) {
		sim_json_raw(b, oldv ? ",\"newValue\":" : "\"newValue\":");
		(void)sim_json_value(b, newv, NULL);
	}
	sim_json_raw(b, "}");
}

static bool rel_in(json_t *arr, json_t *r)
{
	size_t i;
	json_t *x;
	json_array_foreach(arr, i, x)
	{
		if (!strcmp(jstr(x, "rel"), jstr(r, "rel")) && ieq(jstr(x, "url"), jstr(r, "url")))
			return true;
	}
	return false;
}

/* Save p into its work item as a new revision and fire the events.
 * format: of the history comment. */
static void commit_update(struct patch *p, const char *format)
{
	struct sim_ado *a = p->r->a;
	struct ado_wi *wi = p->wi;
	const struct ado_user *me = p->r->me;
	uint64_t now = sim_now_ms(a->sim);
	char nows[40];
	fmt_time(now, nows, 3);

	if (!json_equal(json_object_get(wi->fields, "System.State"),
			json_object_get(p->fields, "System.State")))
		json_object_set_new(p->fields, "Microsoft.VSTS.Common.StateChangeDate",
				    json_string(nows));
	if (!p->changed_date_set)
		json_object_set_new(p->fields, "System.ChangedDate", json_string(nows));
	if (!p->changed_by_set) {
		char *s = user_string(me);
		json_object_set_new(p->fields, "System.ChangedBy", json_string(s));
		free(s);
	}
	json_t *comment = NULL;
	if (p->history) {
		comment = comment_new(a, wi, p->history, format, me, now);
		json_object_set_new(p->fields, "System.CommentCount",
				    json_integer(comment_count(wi)));
	}
	/* The WorkItemUpdate (fields with oldValue/newValue), written as text:
	 * its tree would be built only to be dumped. */
	struct acs_buf b;
	acs_buf_init(&b, SIZE_MAX / 2);
	json_t *changed = json_array();
	json_t *old_changed = json_object_get(wi->fields, "System.ChangedDate");
	json_t *new_changed = json_object_get(p->fields, "System.ChangedDate");
	char num[16], rnum[16];
	fmt_int(num, wi->id);
	fmt_int(rnum, wi->rev + 1);
	char *who = user_string(me);
	const char *rb = identity_text(a, me); /* + "name": not in the shared one */
	sim_json_raw(&b, "{\"id\":");
	sim_json_raw(&b, rnum);
	sim_json_raw(&b, ",\"workItemId\":");
	sim_json_raw(&b, num);
	sim_json_raw(&b, ",\"rev\":");
	sim_json_raw(&b, rnum);
	sim_json_raw(&b, ",\"revisedBy\":");
	(void)acs_buf_append(&b, rb, strlen(rb) - 1);
	sim_json_raw(&b, ",\"name\":");
	sim_json_str(&b, who);
	free(who);
	sim_json_raw(&b, "},\"revisedDate\":\"" ADO_REVISED_NEVER "\",\"fields\":{\"System.Rev\":{"
			 "\"oldValue\":");
	sim_json_int(&b, wi->rev);
	sim_json_raw(&b, ",\"newValue\":");
	sim_json_raw(&b, rnum);
	sim_json_raw(&b, "},\"System.AuthorizedDate\":");
	field_change_text(&b, old_changed, new_changed);
	if (new_changed) {
		sim_json_raw(&b, ",\"System.RevisedDate\":{\"oldValue\":");
		(void)sim_json_value(&b, new_changed, NULL);
		sim_json_raw(&b, ",\"newValue\":\"" ADO_REVISED_NEVER "\"}");
	}
	const char *k, *old_area = NULL;
	json_t *v;
	json_object_foreach(wi->fields, k, v)
	{
		json_t *nv = json_object_get(p->fields, k);
		if (!nv || !json_equal(v, nv)) {
			sim_json_raw(&b, ",");
			sim_json_str(&b, k);
			sim_json_raw(&b, ":");
			field_change_text(&b, v, nv);
			json_array_append_new(changed, json_string(k));
			if (!strcmp(k, "System.AreaPath"))
				old_area = json_string_value(v);
		}
	}
	json_object_foreach(p->fields, k, v)
	{
		if (!json_object_get(wi->fields, k)) {
			sim_json_raw(&b, ",");
			sim_json_str(&b, k);
			sim_json_raw(&b, ":");
			field_change_text(&b, NULL, v);
			json_array_append_new(changed, json_string(k));
		}
	}
	int old_wm = wi->watermark;
	wi->watermark = ++a->watermark;
	sim_json_raw(&b, ",\"System.Watermark\":{\"oldValue\":");
	sim_json_int(&b, old_wm);
	sim_json_raw(&b, ",\"newValue\":");
	sim_json_int(&b, wi->watermark);
	sim_json_raw(&b, "}");
	if (p->history) {
		sim_json_raw(&b, ",\"System.History\":{\"newValue\":");
		sim_json_str(&b, p->history);
		sim_json_raw(&b, "}");
		json_array_append_new(changed, json_string("System.History"));
	}
	sim_json_raw(&b, "}");
	json_t *added = json_array(), *removed = json_array();
	size_t i;
	json_t *r;
	json_array_foreach(p->relations, i, r)
	{
		if (!rel_in(wi->relations, r))
			json_array_append(added, r);
	}
	json_array_foreach(wi->relations, i, r)
	{
		if (!rel_in(p->relations, r))
			json_array_append(removed, r);
	}
	if (json_array_size(added) || json_array_size(removed)) {
		sim_json_raw(&b, ",\"relations\":{");
		if (json_array_size(added)) {
			sim_json_raw(&b, "\"added\":");
			(void)sim_json_value(&b, added, NULL);
		}
		if (json_array_size(removed)) {
			sim_json_raw(&b, json_array_size(added) ? ",\"removed\":" : "\"removed\":");
			(void)sim_json_value(&b, removed, NULL);
		}
		sim_json_raw(&b, "}");
		json_array_append_new(changed, json_string("System.RelatedLinkCount"));
	}
	json_decref(added);
	json_decref(removed);

	/* The old area is read by the subscriptions' filters: keep its value. */
	json_t *old_fields = wi->fields;
	json_decref(wi->relations);
	wi->fields = json_incref(p->fields);
	wi->relations = json_incref(p->relations);
	wi->rev++;
	wi->changed_ms = now;
	free(wi->history);
	wi->history = p->history ? acs_xstrdup(p->history) : NULL;

	cache_check(a);
	char *upd_url = str_cat(a->wi_base, num, "/updates/", rnum);
	sim_json_raw(&b, ",\"_links\":{");
	link_text(&b, true, "self", upd_url, NULL, NULL);
	link_text(&b, false, "workItemUpdates", a->wi_base, num, "/updates");
	link_text(&b, false, "parent", a->wi_base, num, NULL);
	link_text(&b, false, "html", a->html_base, num, NULL);
	sim_json_raw(&b, "},\"url\":");
	sim_json_str(&b, upd_url);
	/* The revision: wi_hook(a, wi, true) with its own _links and url. */
	sim_json_raw(&b, ",\"revision\":{\"id\":");
	sim_json_raw(&b, num);
	sim_json_raw(&b, ",\"rev\":");
	sim_json_raw(&b, rnum);
	sim_json_raw(&b, ",\"fields\":");
	(void)sim_json_value(&b, wi->fields, NULL);
	if (wi->history) {
		b.len--; /* the closing brace */
		sim_json_raw(&b, json_object_size(wi->fields) ? ",\"System.History\":"
							      : "\"System.History\":");
		sim_json_str(&b, wi->history);
		sim_json_raw(&b, "}");
	}
	if (json_array_size(wi->relations)) {
		sim_json_raw(&b, ",\"relations\":");
		(void)sim_json_value(&b, wi->relations, NULL);
	}
	char *rev_url = str_cat(a->wi_base, num, "/revisions/", rnum);
	sim_json_raw(&b, ",\"_links\":{");
	link_text(&b, true, "self", rev_url, NULL, NULL);
	link_text(&b, false, "workItemRevisions", a->wi_base, num, "/revisions");
	link_text(&b, false, "parent", a->wi_base, num, NULL);
	sim_json_raw(&b, "},\"url\":");
	sim_json_str(&b, rev_url);
	sim_json_raw(&b, "}}");
	free(rev_url);

	struct ado_event ev = { .type = "workitem.updated",
				.wi = wi,
				.actor = me,
				.update = b.data,
				.update_id = wi->rev,
				.update_url = upd_url,
				.old_area = old_area,
				.changed = changed };
	fire(a, &ev);
	if (comment) {
		struct ado_event cev = {
			.type = "workitem.commented", .wi = wi, .actor = me, .comment = comment
		};
		fire(a, &cev);
	}
	json_decref(old_fields);
	free(upd_url);
	acs_buf_free(&b);
	json_decref(changed);
}

/* True when p differs from its work item. */
static bool patch_changes(struct patch *p)
{
	return p->history || !json_equal(p->wi->fields, p->fields) ||
	       !json_equal(p->wi->relations, p->relations);
}

/* --- request helpers --- */

static bool query_true(struct acs_http_req *req, const char *name)
{
	const char *v = acs_http_req_query(req, name);
	return v && ieq(v, "true");
}

static bool parse_expand(struct ado_req *r, enum expand *ex)
{
	const char *e = acs_http_req_query(r->req, "$expand");
	*ex = EXP_NONE;
	if (!e || !*e || ieq(e, "none"))
		return true;
	if (ieq(e, "relations"))
		*ex = EXP_RELATIONS;
	else if (ieq(e, "fields"))
		*ex = EXP_FIELDS;
	else if (ieq(e, "links"))
		*ex = EXP_LINKS;
	else if (ieq(e, "all"))
		*ex = EXP_ALL;
	else {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The value '%s' is not valid for $expand (none, relations, fields, links, "
			"all).",
			e);
		return false;
	}
	return true;
}

/* A "fields" list (comma string or JSON array) as an array of canonical
 * refs; false (answered) on an unknown field. *out NULL when absent. */
static bool parse_field_list(struct ado_req *r, const char *csv, json_t *arr, json_t **out)
{
	*out = NULL;
	json_t *list = json_array();
	if (csv) {
		char *copy = acs_xstrdup(csv), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*t))
				t++;
			json_array_append_new(list, json_string(t));
		}
		free(copy);
	} else if (json_is_array(arr)) {
		size_t i;
		json_t *v;
		json_array_foreach(arr, i, v)
		{
			if (json_is_string(v))
				json_array_append(list, v);
		}
	} else {
		json_decref(list);
		return true;
	}
	size_t i;
	json_t *v;
	json_array_foreach(list, i, v)
	{
		const struct ado_field *fd = field_find(r->a, json_string_value(v));
		if (!fd) {
			ado_err(r->req, 400, "WorkItemTrackingFieldDefinitionNotFoundException",
				NS_WIT, "TF51535: Cannot find field %s.", json_string_value(v));
			json_decref(list);
			return false;
		}
		json_array_set_new(list, i, json_string(fd->ref));
	}
	*out = list;
	return true;
}

static bool parse_id(const char *s, long *id)
{
	size_t v;
	if (!s || !parse_index(s, &v) || v == 0 || v > 0x7fffffff)
		return false;
	*id = (long)v;
	return true;
}

static bool require_content_type(struct ado_req *r, const char *want)
{
	const char *ct = acs_http_req_header(r->req, "Content-Type");
	size_t n = strlen(want);
	if (ct && !strncasecmp(ct, want, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' '))
		return true;
	ado_err(r->req, 415, "VssRequestContentTypeNotSupportedException", NS_VSS,
		"The request indicated a Content-Type of \"%s\" for method type \"%s\" which is "
		"not supported. Valid content types for this method are: %s.",
		ct ? ct : "", acs_http_req_method(r->req), want);
	return false;
}

static json_t *req_json_any(struct acs_http_req *req)
{
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	if (!body || !len)
		return NULL;
	return acs_json_loadb(body, len, 0, NULL);
}

/* --- work item handlers --- */

static void h_wi_get(struct ado_req *r, const char *ids)
{
	long id;
	enum expand ex;
	json_t *only;
	if (!parse_id(ids, &id)) {
		wi_not_found(r->req, 0);
		return;
	}
	if (!parse_expand(r, &ex) ||
	    !parse_field_list(r, acs_http_req_query(r->req, "fields"), NULL, &only))
		return;
	if (only && ex != EXP_NONE) {
		json_decref(only);
		ado_err(r->req, 400, "ConflictingParametersException", NS_WIT,
			"The expand parameter can not be used with the fields parameter.");
		return;
	}
	if (acs_http_req_query(r->req, "asOf")) {
		json_decref(only);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"asOf is not supported by the simulator.");
		return;
	}
	struct ado_wi *wi = wi_live(r->a, id);
	if (!wi) {
		json_decref(only);
		wi_not_found(r->req, id);
		return;
	}
	if (only)
		sim_respond_json(r->req, 200, wi_rest(r->a, wi, ex, only));
	else
		respond_wi(r, wi, ex);
	json_decref(only);
}

/* GET ?ids= and POST workitemsbatch share this. */
static void wi_list(struct ado_req *r, json_t *ids, json_t *only, enum expand ex, bool omit)
{
	size_t n = json_array_size(ids);
	if (!n || n > ADO_MAX_BATCH) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"Between 1 and %d work item ids must be given (got %zu).", ADO_MAX_BATCH,
			n);
		return;
	}
	if (only && ex != EXP_NONE) {
		ado_err(r->req, 400, "ConflictingParametersException", NS_WIT,
			"The expand parameter can not be used with the fields parameter.");
		return;
	}
	json_t *value = json_array();
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		struct ado_wi *wi = wi_live(r->a, (long)json_integer_value(v));
		if (!wi && !omit) {
			json_decref(value);
			wi_not_found(r->req, (long)json_integer_value(v));
			return;
		}
		json_array_append_new(value, wi ? wi_rest(r->a, wi, ex, only) : json_null());
	}
	sim_respond_json(r->req, 200,
			 json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(value),
				   "value", value));
}

static bool parse_error_policy(struct ado_req *r, const char *p, bool *omit)
{
	*omit = false;
	if (!p || ieq(p, "fail"))
		return true;
	if (ieq(p, "omit")) {
		*omit = true;
		return true;
	}
	ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
		"The value '%s' is not valid for errorPolicy (fail, omit).", p);
	return false;
}

static void h_wi_list(struct ado_req *r)
{
	const char *ids = acs_http_req_query(r->req, "ids");
	enum expand ex;
	json_t *only;
	bool omit;
	if (!ids) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The ids parameter is required.");
		return;
	}
	if (!parse_expand(r, &ex) ||
	    !parse_error_policy(r, acs_http_req_query(r->req, "errorPolicy"), &omit) ||
	    !parse_field_list(r, acs_http_req_query(r->req, "fields"), NULL, &only))
		return;
	json_t *arr = json_array();
	char *copy = acs_xstrdup(ids), *save = NULL;
	bool ok = true;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		long id = 0;
		while (isspace((unsigned char)*t))
			t++;
		if (!parse_id(t, &id))
			ok = false;
		json_array_append_new(arr, json_integer(id));
	}
	free(copy);
	if (!ok)
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The ids parameter must be a comma-separated list of work item ids.");
	else
		wi_list(r, arr, only, ex, omit);
	json_decref(arr);
	json_decref(only);
}

static void h_wi_batch(struct ado_req *r)
{
	json_t *body = sim_req_json(r->req);
	json_t *ids = json_object_get(body, "ids");
	json_t *only = NULL;
	bool omit;
	enum expand ex = EXP_NONE;
	const char *e = jstr(body, "$expand");
	if (!body || !json_is_array(ids)) {
		json_decref(body);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The request body must be {\"ids\": [...], \"fields\"?: [...], "
			"\"$expand\"?, \"errorPolicy\"?}.");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
	{
		if (!json_is_integer(v)) {
			json_decref(body);
			ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
				"ids must be integers.");
			return;
		}
	}
	if (e && !ieq(e, "none")) {
		ex = ieq(e, "relations") ? EXP_RELATIONS
		     : ieq(e, "fields")	 ? EXP_FIELDS
		     : ieq(e, "links")	 ? EXP_LINKS
		     : ieq(e, "all")	 ? EXP_ALL
					 : (enum expand) - 1;
		if ((int)ex < 0) {
			json_decref(body);
			ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
				"The value '%s' is not valid for $expand.", e);
			return;
		}
	}
	if (json_object_get(body, "asOf")) {
		json_decref(body);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"asOf is not supported by the simulator.");
		return;
	}
	if (parse_error_policy(r, jstr(body, "errorPolicy"), &omit) &&
	    parse_field_list(r, NULL, json_object_get(body, "fields"), &only))
		wi_list(r, ids, only, ex, omit);
	json_decref(only);
	json_decref(body);
}

static json_t *patch_body(struct ado_req *r)
{
	if (!require_content_type(r, "application/json-patch+json"))
		return NULL;
	json_t *ops = req_json_any(r->req);
	if (!json_is_array(ops) || !json_array_size(ops)) {
		json_decref(ops);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The request body must be a non-empty JSON Patch document (an array of "
			"operations).");
		return NULL;
	}
	return ops;
}

static void h_wi_create(struct ado_req *r, const char *seg)
{
	struct sim_ado *a = r->a;
	const struct ado_type_def *t = seg[0] == '$' ? type_find(seg + 1) : NULL;
	if (seg[0] != '$') {
		ado_err(r->req, 405, "VssMethodNotAllowedException", NS_VSS,
			"The requested resource does not support http method 'POST'.");
		return;
	}
	if (!r->has_project) {
		ado_err(r->req, 404, "VssResourceNotFoundException", NS_VSS,
			"Creating a work item needs a project in the URL.");
		return;
	}
	if (!t) {
		ado_err(r->req, 404, "WorkItemTypeNotFoundException", NS_WIT,
			"VS402323: Work item type %s does not exist.", seg + 1);
		return;
	}
	json_t *ops = patch_body(r);
	if (!ops)
		return;
	struct patch p = { .r = r, .type = t, .bypass = query_true(r->req, "bypassRules") };
	p.fields = json_object();
	/* Placeholders fix the key order of a new item (as in the captures). */
	json_t *f = p.fields;
	json_object_set_new(f, "System.AreaPath", json_string(a->project));
	json_object_set_new(f, "System.TeamProject", json_string(a->project));
	json_object_set_new(f, "System.IterationPath", json_string(a->project));
	json_object_set_new(f, "System.WorkItemType", json_string(t->name));
	json_object_set_new(f, "System.State", json_null());
	json_object_set_new(f, "System.Reason", json_null());
	json_object_set_new(f, "System.AssignedTo", json_null());
	json_object_set_new(f, "System.CreatedDate", json_null());
	json_object_set_new(f, "System.CreatedBy", json_null());
	json_object_set_new(f, "System.ChangedDate", json_null());
	json_object_set_new(f, "System.ChangedBy", json_null());
	json_object_set_new(f, "System.CommentCount", json_integer(0));
	json_object_set_new(f, "System.Title", json_null());
	json_object_set_new(f, "System.Description", json_null());
	json_object_set_new(f, "System.Tags", json_null());
	json_object_set_new(f, "Microsoft.VSTS.Common.StateChangeDate", json_null());
	json_object_set_new(f, "Microsoft.VSTS.Common.Priority", json_integer(2));
	p.relations = json_array();
	if (!patch_apply_all(&p, ops)) {
		json_decref(ops);
		patch_respond_error(&p);
		patch_free(&p);
		return;
	}
	json_decref(ops);
	uint64_t now = sim_now_ms(a->sim);
	char *me = user_string(r->me);
	const char *keys[] = { "System.CreatedDate", "System.ChangedDate",
			       "Microsoft.VSTS.Common.StateChangeDate" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(keys); i++)
		if (json_is_null(json_object_get(f, keys[i])))
			json_object_set_new(f, keys[i], jtime(now));
	if (json_is_null(json_object_get(f, "System.CreatedBy")))
		json_object_set_new(f, "System.CreatedBy", json_string(me));
	if (json_is_null(json_object_get(f, "System.ChangedBy")))
		json_object_set_new(f, "System.ChangedBy", json_string(me));
	free(me);
	/* Drop the placeholders nobody set. */
	const char *k;
	json_t *v;
	void *tmp;
	json_object_foreach_safe(f, tmp, k, v)
	{
		if (json_is_null(v))
			json_object_del(f, k);
	}
	if (query_true(r->req, "validateOnly")) {
		struct ado_wi tmpwi = { .id = 0, .rev = 1, .fields = f, .relations = p.relations };
		sim_respond_json(r->req, 200, wi_rest(a, &tmpwi, EXP_RELATIONS, NULL));
		patch_free(&p);
		return;
	}
	struct ado_wi *wi = acs_xcalloc(1, sizeof(*wi));
	wi->id = a->next_id++;
	wi->rev = 1;
	wi->fields = json_incref(f);
	wi->relations = json_incref(p.relations);
	wi->comments = json_array();
	wi->watermark = ++a->watermark;
	wi->changed_ms = now;
	if (a->nwis == a->capwis) {
		a->capwis = a->capwis ? a->capwis * 2 : 64;
		a->wis = acs_xrealloc(a->wis, a->capwis * sizeof(*a->wis));
	}
	a->wis[a->nwis++] = wi;
	json_t *comment = NULL;
	if (p.history) {
		comment = comment_new(a, wi, p.history, "html", r->me, now);
		json_object_set_new(wi->fields, "System.CommentCount", json_integer(1));
		wi->history = acs_xstrdup(p.history);
	}
	struct ado_event ev = { .type = "workitem.created", .wi = wi, .actor = r->me };
	fire(a, &ev);
	if (comment) {
		struct ado_event cev = {
			.type = "workitem.commented", .wi = wi, .actor = r->me, .comment = comment
		};
		fire(a, &cev);
	}
	patch_free(&p);
	sim_respond_json(r->req, 200, wi_rest(a, wi, EXP_RELATIONS, NULL));
}

static void h_wi_update(struct ado_req *r, const char *ids)
{
	struct sim_ado *a = r->a;
	long id;
	struct ado_wi *wi = parse_id(ids, &id) ? wi_live(a, id) : NULL;
	if (!wi) {
		wi_not_found(r->req, parse_id(ids, &id) ? id : 0);
		return;
	}
	json_t *ops = patch_body(r);
	if (!ops)
		return;
	struct patch p = { .r = r,
			   .wi = wi,
			   .type = type_find(wi_type(wi)),
			   .bypass = query_true(r->req, "bypassRules") };
	patch_copy_item(&p, wi);
	bool ok = patch_apply_all(&p, ops);
	json_decref(ops);
	if (!ok) {
		patch_respond_error(&p);
		patch_free(&p);
		return;
	}
	if (query_true(r->req, "validateOnly")) {
		struct ado_wi tmpwi = *wi;
		tmpwi.fields = p.fields;
		tmpwi.relations = p.relations;
		respond_wi(r, &tmpwi, EXP_RELATIONS);
		patch_free(&p);
		return;
	}
	if (patch_changes(&p))
		commit_update(&p, "html");
	patch_free(&p);
	respond_wi(r, wi, EXP_RELATIONS);
}

/* WorkItemDelete (delete, recycle bin, restore answers). */
static json_t *wi_delete_json(struct sim_ado *a, struct ado_wi *wi)
{
	char d[40];
	fmt_time(wi->deleted_ms ? wi->deleted_ms : sim_now_ms(a->sim), d, 3);
	char *rb = acs_xasprintf("wit/recyclebin/%d", wi->id);
	char *url = proj_url(a, rb);
	json_t *res = wi_hook(a, wi, false);
	json_t *j = json_pack("{s:i,s:i,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "id", wi->id, "code", 200,
			      "type", wi_type(wi), "name", jstr(wi->fields, "System.Title"),
			      "project", a->project, "deletedDate", d, "deletedBy",
			      wi->deleted_by ? wi->deleted_by : "", "url", url, "resource", res);
	free(rb);
	free(url);
	return j;
}

static void h_wi_delete(struct ado_req *r, const char *ids)
{
	struct sim_ado *a = r->a;
	long id;
	struct ado_wi *wi = parse_id(ids, &id) ? wi_live(a, id) : NULL;
	if (!wi) {
		wi_not_found(r->req, parse_id(ids, &id) ? id : 0);
		return;
	}
	wi->deleted = true;
	wi->deleted_ms = sim_now_ms(a->sim);
	wi->deleted_by = user_string(r->me);
	struct ado_event ev = { .type = "workitem.deleted", .wi = wi, .actor = r->me };
	fire(a, &ev);
	if (query_true(r->req, "destroy")) {
		wi_remove(a, wi);
		sim_respond(r->req, 204, NULL, NULL, 0);
		return;
	}
	sim_respond_json(r->req, 200, wi_delete_json(a, wi));
}

static struct ado_wi *recycled(struct ado_req *r, const char *ids)
{
	long id;
	struct ado_wi *wi = parse_id(ids, &id) ? wi_find(r->a, id) : NULL;
	if (!wi || !wi->deleted) {
		wi_not_found(r->req, parse_id(ids, &id) ? id : 0);
		return NULL;
	}
	return wi;
}

static void h_recycle_get(struct ado_req *r, const char *ids)
{
	struct ado_wi *wi = recycled(r, ids);
	if (wi)
		sim_respond_json(r->req, 200, wi_delete_json(r->a, wi));
}

static void h_recycle_destroy(struct ado_req *r, const char *ids)
{
	struct ado_wi *wi = recycled(r, ids);
	if (!wi)
		return;
	wi_remove(r->a, wi);
	sim_respond(r->req, 200, NULL, NULL, 0);
}

static void h_recycle_restore(struct ado_req *r, const char *ids)
{
	struct sim_ado *a = r->a;
	json_t *body = sim_req_json(r->req);
	json_t *flag = json_object_get(body, "isDeleted");
	if (!flag)
		flag = json_object_get(body, "IsDeleted");
	if (!json_is_false(flag)) {
		json_decref(body);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The request body must be {\"isDeleted\": false}.");
		return;
	}
	json_decref(body);
	struct ado_wi *wi = recycled(r, ids);
	if (!wi)
		return;
	/* Restoring is a change of its own: new revision, ChangedDate moves. */
	uint64_t now = sim_now_ms(a->sim);
	char *me = user_string(r->me);
	wi->deleted = false;
	wi->rev++;
	wi->watermark = ++a->watermark;
	wi->changed_ms = now;
	json_object_set_new(wi->fields, "System.ChangedDate", jtime(now));
	json_object_set_new(wi->fields, "System.ChangedBy", json_string(me));
	free(me);
	free(wi->history);
	wi->history = NULL;
	struct ado_event ev = { .type = "workitem.restored", .wi = wi, .actor = r->me };
	fire(a, &ev);
	json_t *j = wi_delete_json(a, wi);
	char *url = wi_url(a, wi->id, NULL);
	json_object_set_new(j, "url", json_string(url));
	free(url);
	free(wi->deleted_by);
	wi->deleted_by = NULL;
	wi->deleted_ms = 0;
	sim_respond_json(r->req, 200, j);
}

/* --- comments (7.1-preview.4) --- */

static json_t *comment_rest(struct sim_ado *a, struct ado_wi *wi, json_t *c, bool rendered)
{
	json_int_t cid = json_integer_value(json_object_get(c, "id"));
	char *sfx = acs_xasprintf("/comments/%" JSON_INTEGER_FORMAT, cid);
	char *url = wi_url(a, wi->id, sfx);
	free(sfx);
	json_t *j = json_pack("{s:[],s:i,s:I,s:O,s:O}", "mentions", "workItemId", wi->id, "id", cid,
			      "version", json_object_get(c, "version"), "text",
			      json_object_get(c, "text"));
	json_object_set_new(j, "createdBy",
			    identity_from_string(a, json_object_get(c, "createdBy")));
	json_object_set(j, "createdDate", json_object_get(c, "createdDate"));
	json_object_set_new(j, "modifiedBy",
			    identity_from_string(a, json_object_get(c, "modifiedBy")));
	json_object_set(j, "modifiedDate", json_object_get(c, "modifiedDate"));
	if (json_is_true(json_object_get(c, "isDeleted")))
		json_object_set_new(j, "isDeleted", json_true());
	json_object_set(j, "format", json_object_get(c, "format"));
	json_object_set_new(j, "renderedText", json_string(rendered ? jstr(c, "text") : ""));
	json_object_set_new(j, "url", json_string(url));
	free(url);
	return j;
}

static json_t *comment_find(struct ado_wi *wi, const char *cids, bool include_deleted)
{
	size_t want;
	if (!cids || !parse_index(cids, &want))
		return NULL;
	size_t i;
	json_t *c;
	json_array_foreach(wi->comments, i, c)
	{
		if ((size_t)json_integer_value(json_object_get(c, "id")) != want)
			continue;
		if (json_is_true(json_object_get(c, "isDeleted")) && !include_deleted)
			return NULL;
		return c;
	}
	return NULL;
}

static void comment_not_found(struct ado_req *r, const char *cid)
{
	ado_err(r->req, 404, "WorkItemCommentNotFoundException", NS_WIT,
		"TF401272: Comment %s does not exist on this work item.", cid ? cid : "");
}

static bool rendered_expand(struct ado_req *r)
{
	const char *e = acs_http_req_query(r->req, "$expand");
	return e && (ieq(e, "renderedText") || ieq(e, "renderedTextOnly") || ieq(e, "all"));
}

static struct ado_wi *comment_wi(struct ado_req *r, const char *ids)
{
	long id;
	struct ado_wi *wi = parse_id(ids, &id) ? wi_live(r->a, id) : NULL;
	if (!wi)
		wi_not_found(r->req, parse_id(ids, &id) ? id : 0);
	return wi;
}

static void h_comments_list(struct ado_req *r, const char *ids)
{
	struct sim_ado *a = r->a;
	struct ado_wi *wi = comment_wi(r, ids);
	if (!wi)
		return;
	bool incl = query_true(r->req, "includeDeleted");
	const char *order = acs_http_req_query(r->req, "order");
	const char *top = acs_http_req_query(r->req, "$top");
	const char *token = acs_http_req_query(r->req, "continuationToken");
	const char *idlist = acs_http_req_query(r->req, "ids");
	size_t ntop = ADO_COMMENT_PAGE;
	if (order && !ieq(order, "asc") && !ieq(order, "desc")) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The value '%s' is not valid for order (asc, desc).", order);
		return;
	}
	if (top && (!parse_index(top, &ntop) || ntop < 1 || ntop > ADO_COMMENT_PAGE)) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"$top must be between 1 and %d.", ADO_COMMENT_PAGE);
		return;
	}
	bool asc = order && ieq(order, "asc");
	/* The matching comments, in the requested order (newest first by default). */
	json_t *all = json_array();
	size_t n = json_array_size(wi->comments);
	for (size_t k = 0; k < n; k++) {
		json_t *c = json_array_get(wi->comments, asc ? k : n - 1 - k);
		if (json_is_true(json_object_get(c, "isDeleted")) && !incl)
			continue;
		if (idlist) {
			char want[24];
			snprintf(want, sizeof(want), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(json_object_get(c, "id")));
			bool hit = false;
			char *copy = acs_xstrdup(idlist), *save = NULL;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save))
				if (!strcmp(t, want))
					hit = true;
			free(copy);
			if (!hit)
				continue;
		}
		json_array_append(all, c);
	}
	size_t start = 0;
	if (token) {
		unsigned char bin[32];
		size_t binlen = 0;
		size_t tid = 0;
		bool ok = !sodium_base642bin(bin, sizeof(bin) - 1, token, strlen(token), NULL,
					     &binlen, NULL, sodium_base64_VARIANT_ORIGINAL);
		if (ok) {
			bin[binlen] = '\0';
			ok = parse_index((const char *)bin, &tid);
		}
		bool found = false;
		for (size_t k = 0; ok && k < json_array_size(all); k++) {
			if ((size_t)json_integer_value(
				    json_object_get(json_array_get(all, k), "id")) == tid) {
				start = k;
				found = true;
				break;
			}
		}
		if (!found) {
			json_decref(all);
			ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
				"The continuation token '%s' is not valid.", token);
			return;
		}
	}
	json_t *page = json_array();
	bool rendered = rendered_expand(r);
	size_t k;
	for (k = start; k < json_array_size(all) && k < start + ntop; k++)
		json_array_append_new(page, comment_rest(a, wi, json_array_get(all, k), rendered));
	json_t *out = json_pack("{s:I,s:I,s:o}", "totalCount", (json_int_t)json_array_size(all),
				"count", (json_int_t)json_array_size(page), "comments", page);
	if (k < json_array_size(all)) {
		char idtxt[24];
		snprintf(idtxt, sizeof(idtxt), "%" JSON_INTEGER_FORMAT,
			 json_integer_value(json_object_get(json_array_get(all, k), "id")));
		char *tok = b64(idtxt, strlen(idtxt), sodium_base64_VARIANT_ORIGINAL);
		struct acs_buf enc;
		acs_buf_init(&enc, 256);
		for (const char *p = tok; *p; p++) {
			if (*p == '=' || *p == '+' || *p == '/')
				(void)acs_buf_printf(&enc, "%%%02x", (unsigned char)*p);
			else
				(void)acs_buf_append(&enc, p, 1);
		}
		char *sfx = acs_xasprintf("/comments?continuationToken=%s&api-version=7.1-preview."
					  "4",
					  enc.data ? enc.data : "");
		char *next = wi_url(a, wi->id, sfx);
		json_object_set_new(out, "nextPage", json_string(next));
		json_object_set_new(out, "continuationToken", json_string(tok));
		free(sfx);
		free(next);
		free(tok);
		acs_buf_free(&enc);
	}
	json_decref(all);
	sim_respond_json(r->req, 200, out);
}

static const char *comment_format(struct ado_req *r)
{
	const char *f = acs_http_req_query(r->req, "format");
	if (!f || ieq(f, "html"))
		return "html";
	if (ieq(f, "markdown"))
		return "markdown";
	ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
		"The value '%s' is not valid for format (markdown, html).", f);
	return NULL;
}

static const char *comment_text(struct ado_req *r, json_t **body)
{
	*body = sim_req_json(r->req);
	const char *text = jstr(*body, "text");
	if (!text || !*text) {
		json_decref(*body);
		*body = NULL;
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The comment text must be a non-empty string: {\"text\": \"...\"}.");
		return NULL;
	}
	return text;
}

static void h_comment_add(struct ado_req *r, const char *ids)
{
	struct ado_wi *wi = comment_wi(r, ids);
	if (!wi)
		return;
	const char *format = comment_format(r);
	json_t *body;
	const char *text = format ? comment_text(r, &body) : NULL;
	if (!text)
		return;
	/* A comment is a revision of the work item, like System.History. */
	struct patch p = { .r = r, .wi = wi, .type = type_find(wi_type(wi)) };
	patch_copy_item(&p, wi);
	p.history = acs_xstrdup(text);
	json_decref(body);
	commit_update(&p, format);
	patch_free(&p);
	json_t *c = json_array_get(wi->comments, json_array_size(wi->comments) - 1);
	sim_respond_json(r->req, 200, comment_rest(r->a, wi, c, rendered_expand(r)));
}

static void h_comment_get(struct ado_req *r, const char *ids, const char *cid)
{
	struct ado_wi *wi = comment_wi(r, ids);
	if (!wi)
		return;
	json_t *c = comment_find(wi, cid, query_true(r->req, "includeDeleted"));
	if (!c) {
		comment_not_found(r, cid);
		return;
	}
	sim_respond_json(r->req, 200, comment_rest(r->a, wi, c, rendered_expand(r)));
}

static void h_comment_edit(struct ado_req *r, const char *ids, const char *cid)
{
	struct ado_wi *wi = comment_wi(r, ids);
	if (!wi)
		return;
	json_t *c = comment_find(wi, cid, false);
	if (!c) {
		comment_not_found(r, cid);
		return;
	}
	const char *format = comment_format(r);
	json_t *body;
	const char *text = format ? comment_text(r, &body) : NULL;
	if (!text)
		return;
	char *me = user_string(r->me);
	json_object_set_new(c, "text", json_string(text));
	json_object_set_new(c, "format", json_string(format));
	json_object_set_new(c, "version",
			    json_integer(json_integer_value(json_object_get(c, "version")) + 1));
	json_object_set_new(c, "modifiedBy", json_string(me));
	json_object_set_new(c, "modifiedDate", jtime(sim_now_ms(r->a->sim)));
	free(me);
	json_decref(body);
	sim_respond_json(r->req, 200, comment_rest(r->a, wi, c, rendered_expand(r)));
}

static void h_comment_delete(struct ado_req *r, const char *ids, const char *cid)
{
	struct ado_wi *wi = comment_wi(r, ids);
	if (!wi)
		return;
	json_t *c = comment_find(wi, cid, false);
	if (!c) {
		comment_not_found(r, cid);
		return;
	}
	char *me = user_string(r->me);
	json_object_set_new(c, "isDeleted", json_true());
	json_object_set_new(c, "modifiedBy", json_string(me));
	json_object_set_new(c, "modifiedDate", jtime(sim_now_ms(r->a->sim)));
	free(me);
	json_object_set_new(wi->fields, "System.CommentCount", json_integer(comment_count(wi)));
	sim_respond(r->req, 200, NULL, NULL, 0);
}

/* --- attachments --- */

static char *url_encode(const char *s)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 20);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (isalnum(*p) || strchr("-._~", *p))
			(void)acs_buf_append(&b, p, 1);
		else
			(void)acs_buf_printf(&b, "%%%02X", *p);
	}
	return acs_buf_steal(&b, NULL);
}

static void h_attachment_upload(struct ado_req *r)
{
	struct sim_ado *a = r->a;
	const char *name = acs_http_req_query(r->req, "fileName");
	const char *upload_type = acs_http_req_query(r->req, "uploadType");
	size_t len;
	const char *body = acs_http_req_body(r->req, &len);
	if (!name || !*name) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The fileName parameter is required.");
		return;
	}
	if (upload_type && !ieq(upload_type, "simple")) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"uploadType '%s' is not supported by the simulator (simple only).",
			upload_type);
		return;
	}
	if (!require_content_type(r, "application/octet-stream"))
		return;
	if (len > ADO_MAX_ATTACHMENT) {
		ado_err(r->req, 400, "AttachmentTooLargeException", NS_WIT,
			"VS402697: The attachment is larger than the %u bytes allowed.",
			ADO_MAX_ATTACHMENT);
		return;
	}
	struct ado_blob *b = acs_xcalloc(1, sizeof(*b));
	sim_random_uuid(b->id);
	b->name = acs_xstrdup(name);
	b->data = acs_xmalloc(len + 1);
	if (len)
		memcpy(b->data, body, len);
	b->len = len;
	b->created_ms = sim_now_ms(a->sim);
	b->next = a->blobs;
	a->blobs = b;
	char *enc = url_encode(name);
	char *url = r->has_project ? acs_xasprintf("%s/%s/%s/_apis/wit/attachments/%s?fileName=%s",
						   sim_service_origin(a->svc), a->org,
						   a->project_id, b->id, enc)
				   : acs_xasprintf("%s/%s/_apis/wit/attachments/%s?fileName=%s",
						   sim_service_origin(a->svc), a->org, b->id, enc);
	sim_respond_json(r->req, 201, json_pack("{s:s,s:s}", "id", b->id, "url", url));
	free(enc);
	free(url);
}

static void h_attachment_get(struct ado_req *r, const char *id)
{
	for (struct ado_blob *b = r->a->blobs; b; b = b->next) {
		if (ieq(b->id, id)) {
			sim_respond(r->req, 200, "application/octet-stream", b->data, b->len);
			return;
		}
	}
	ado_err(r->req, 404, "AttachmentNotFoundException", NS_WIT,
		"VS402440: The attachment %s does not exist.", id);
}

/* --- projects, types, states, classification nodes --- */

static json_t *project_json(struct sim_ado *a, bool full)
{
	char *url = acs_xasprintf("%s/%s/_apis/projects/%s", sim_service_origin(a->svc), a->org,
				  a->project_id);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:s,s:s}", "id", a->project_id, "name",
			      a->project, "description", "", "url", url, "state", "wellFormed",
			      "revision", 1, "visibility", "private", "lastUpdateTime",
			      "2026-01-01T00:00:00Z");
	if (full) {
		char *team = acs_xasprintf("%s Team", a->project);
		char *turl = acs_xasprintf("%s/%s/_apis/projects/%s/teams/%s",
					   sim_service_origin(a->svc), a->org, a->project_id,
					   a->host_id);
		json_object_set_new(j, "defaultTeam",
				    json_pack("{s:s,s:s,s:s}", "id", a->host_id, "name", team,
					      "url", turl));
		free(team);
		free(turl);
	}
	free(url);
	return j;
}

/* GET {org}/_apis/connectionData: who the PAT is (what WIQL's @Me means). Shape from
 * the public docs and clients (UNCONFIRMED against a capture): authenticatedUser and
 * authorizedUser {id, descriptor, subjectDescriptor, providerDisplayName, isActive,
 * properties.Account.$value = e-mail}, instanceId, deploymentType. */
static void h_connection_data(struct ado_req *r)
{
	const struct ado_user *u = r->me;
	json_t *who = json_pack("{s:s,s:s,s:s,s:s,s:b,s:{s:{s:s,s:s}},s:i,s:i}", "id", u->id,
				"descriptor", u->descriptor, "subjectDescriptor", u->descriptor,
				"providerDisplayName", u->name, "isActive", 1, "properties",
				"Account", "$type", "System.String", "$value", u->email,
				"resourceVersion", 2, "metaTypeId", 0);
	sim_respond_json(r->req, 200,
			 json_pack("{s:O,s:o,s:s,s:s,s:s}", "authenticatedUser", who,
				   "authorizedUser", who, "instanceId", r->a->host_id,
				   "deploymentId", r->a->host_id, "deploymentType", "hosted"));
}

static void h_projects(struct ado_req *r)
{
	sim_respond_json(r->req, 200,
			 json_pack("{s:i,s:[o]}", "count", 1, "value", project_json(r->a, false)));
}

static void project_not_found(struct acs_http_req *req, const char *name)
{
	ado_err(req, 404, "ProjectDoesNotExistWithNameException", NS_CORE,
		"TF200016: The following project does not exist: %s. Verify that the name of the "
		"project is correct and that the project exists on the specified Azure DevOps "
		"Server.",
		name);
}

static void h_project(struct ado_req *r, const char *id)
{
	if (!ieq(id, r->a->project) && !ieq(id, r->a->project_id)) {
		project_not_found(r->req, id);
		return;
	}
	sim_respond_json(r->req, 200, project_json(r->a, true));
}

static json_t *states_json(const struct ado_type_def *t)
{
	json_t *v = json_array();
	for (size_t i = 0; i < t->nstates; i++)
		json_array_append_new(v, json_pack("{s:s,s:s,s:s}", "name", t->states[i].name,
						   "color", t->states[i].color, "category",
						   t->states[i].category));
	return v;
}

static json_t *type_json(struct sim_ado *a, const struct ado_type_def *t)
{
	char *rest = acs_xasprintf("wit/workItemTypes/%s", t->name);
	char *url = proj_url(a, rest);
	char *icon = acs_xasprintf("%s/%s/_apis/wit/workItemIcons/%s?color=%s&v=2",
				   sim_service_origin(a->svc), a->org, t->icon, t->color);
	json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:s},s:b,s:o,s:s}", "name", t->name,
			      "referenceName", t->ref, "description", t->description, "color",
			      t->color, "icon", "id", t->icon, "url", icon, "isDisabled", 0,
			      "states", states_json(t), "url", url);
	free(rest);
	free(url);
	free(icon);
	return j;
}

static const struct ado_type_def *type_or_404(struct ado_req *r, const char *name)
{
	const struct ado_type_def *t = type_find(name);
	if (!t)
		ado_err(r->req, 404, "WorkItemTypeNotFoundException", NS_WIT,
			"VS402323: Work item type %s does not exist.", name);
	return t;
}

static void h_types(struct ado_req *r)
{
	json_t *v = json_array();
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_types); i++)
		json_array_append_new(v, type_json(r->a, &ado_types[i]));
	sim_respond_json(r->req, 200,
			 json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(v), "value",
				   v));
}

static void h_type(struct ado_req *r, const char *name)
{
	const struct ado_type_def *t = type_or_404(r, name);
	if (t)
		sim_respond_json(r->req, 200, type_json(r->a, t));
}

static void h_type_states(struct ado_req *r, const char *name)
{
	const struct ado_type_def *t = type_or_404(r, name);
	if (!t)
		return;
	sim_respond_json(r->req, 200,
			 json_pack("{s:I,s:o}", "count", (json_int_t)t->nstates, "value",
				   states_json(t)));
}

/* A classification node and (depth > 0) its children. full: "Platform\\Web". */
static json_t *node_json(struct sim_ado *a, json_t *paths, size_t idx, bool area, long depth)
{
	const char *full = json_string_value(json_array_get(paths, idx));
	const char *rel = full + strlen(a->project);
	const char *name = strrchr(full, '\\') ? strrchr(full, '\\') + 1 : full;
	int id = (int)idx + (area ? 1 : 1001);
	char guid[37];
	snprintf(guid, sizeof(guid), "%08x-0000-4000-8000-%012x", (unsigned)id,
		 (unsigned)(area ? 0xa7ea : 0x17e7));
	char *path = acs_xasprintf("\\%s\\%s%s", a->project, area ? "Area" : "Iteration", rel);
	struct acs_buf u;
	acs_buf_init(&u, 1u << 16);
	(void)acs_buf_appends(&u, area ? "wit/classificationNodes/Areas"
				       : "wit/classificationNodes/Iterations");
	for (const char *p = rel; *p; p++) {
		if (*p == '\\')
			(void)acs_buf_appends(&u, "/");
		else if (*p == ' ')
			(void)acs_buf_appends(&u, "%20");
		else
			(void)acs_buf_append(&u, p, 1);
	}
	char *url = proj_url(a, u.data);
	acs_buf_free(&u);
	json_t *children = json_array();
	size_t n = strlen(full), i;
	json_t *v;
	json_array_foreach(paths, i, v)
	{
		const char *c = json_string_value(v);
		if (!strncasecmp(c, full, n) && c[n] == '\\' && !strchr(c + n + 1, '\\'))
			json_array_append_new(children, json_integer((json_int_t)i));
	}
	json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:b,s:s}", "id", id, "identifier", guid, "name",
			      name, "structureType", area ? "area" : "iteration", "hasChildren",
			      json_array_size(children) > 0, "path", path);
	if (depth > 0 && json_array_size(children)) {
		json_t *kids = json_array();
		json_array_foreach(children, i, v)
		{
			size_t k = (size_t)json_integer_value(v);
			json_array_append_new(kids, node_json(a, paths, k, area, depth - 1));
		}
		json_object_set_new(j, "children", kids);
	}
	json_object_set_new(j, "url", json_string(url));
	json_decref(children);
	free(path);
	free(url);
	return j;
}

static bool parse_depth(struct ado_req *r, long *depth)
{
	const char *d = acs_http_req_query(r->req, "$depth");
	size_t v = 0;
	*depth = 0;
	if (!d)
		return true;
	if (!parse_index(d, &v) || v > 100) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"$depth must be a non-negative integer.");
		return false;
	}
	*depth = (long)v;
	return true;
}

/* segs after "classificationnodes": [group, path...]. */
static void h_nodes(struct ado_req *r, size_t first)
{
	struct sim_ado *a = r->a;
	long depth;
	if (!parse_depth(r, &depth))
		return;
	if (first >= r->nsegs) {
		json_t *v = json_pack("[o,o]", node_json(a, a->areas, 0, true, depth),
				      node_json(a, a->iterations, 0, false, depth));
		sim_respond_json(r->req, 200, json_pack("{s:i,s:o}", "count", 2, "value", v));
		return;
	}
	bool area = ieq(r->segs[first], "areas");
	if (!area && !ieq(r->segs[first], "iterations")) {
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The structure group '%s' is not valid (areas, iterations).",
			r->segs[first]);
		return;
	}
	json_t *paths = area ? a->areas : a->iterations;
	struct acs_buf p;
	acs_buf_init(&p, 1u << 16);
	(void)acs_buf_appends(&p, a->project);
	for (size_t i = first + 1; i < r->nsegs; i++) {
		(void)acs_buf_appends(&p, "\\");
		(void)acs_buf_appends(&p, r->segs[i]);
	}
	size_t i;
	json_t *v;
	json_array_foreach(paths, i, v)
	{
		if (ieq(json_string_value(v), p.data)) {
			acs_buf_free(&p);
			sim_respond_json(r->req, 200, node_json(a, paths, i, area, depth));
			return;
		}
	}
	ado_err(r->req, 404, "ClassificationNodeDoesNotExistException", NS_WIT,
		"VS402485: The node %s does not exist.", p.data);
	acs_buf_free(&p);
}

/* --- service hook subscriptions --- */

static json_t *sub_json(struct sim_ado *a, struct ado_sub *s)
{
	json_t *j = json_deep_copy(s->doc);
	json_t *ci = json_object_get(j, "consumerInputs");
	const char *pw = jstr(ci, "basicAuthPassword");
	if (pw && *pw)
		json_object_set_new(ci, "basicAuthPassword", json_string(ADO_PASSWORD_MASK));
	if (s->status != SUB_ENABLED || s->probation_retries) {
		json_object_set_new(j, "status", json_string(sub_status_name(s->status)));
		json_object_set_new(j, "probationRetries", json_integer(s->probation_retries));
		if (s->last_probation_ms)
			json_object_set_new(j, "lastProbationRetryDate",
					    jtime(s->last_probation_ms));
	}
	return j;
}

static void sub_not_found(struct ado_req *r, const char *id)
{
	ado_err(r->req, 404, "SubscriptionNotFoundException", NS_HOOKS,
		"VS402524: The subscription %s does not exist.", id);
}

/* Validate a POST/PUT body into a stored doc (new reference) or answer 400. */
static json_t *sub_doc(struct ado_req *r, json_t *body, struct ado_sub *old)
{
	struct sim_ado *a = r->a;
	const char *ev = jstr(body, "eventType");
	const char *rv = jstr(body, "resourceVersion");
	json_t *pi = json_object_get(body, "publisherInputs");
	json_t *ci = json_object_get(body, "consumerInputs");
	const char *url = jstr(ci, "url");
	bool ev_ok = false;
	const char *why = NULL;

	for (size_t i = 0; ev && i < ACS_ARRAY_SIZE(ado_events); i++)
		if (!strcmp(ado_events[i], ev))
			ev_ok = true;
	if (!body)
		why = "the body must be a JSON object";
	else if (!ieq(jstr(body, "publisherId"), "tfs"))
		why = "publisherId must be \"tfs\"";
	else if (!ev_ok)
		why = "eventType must be one of workitem.created, workitem.updated, "
		      "workitem.commented, workitem.deleted, workitem.restored";
	else if (!rv || strcmp(rv, "1.0"))
		why = "resourceVersion must be pinned to \"1.0\" (the simulator has no other "
		      "payload shape)";
	else if (!ieq(jstr(body, "consumerId"), "webHooks"))
		why = "consumerId must be \"webHooks\"";
	else if (!ieq(jstr(body, "consumerActionId"), "httpRequest"))
		why = "consumerActionId must be \"httpRequest\"";
	else if ((pi && !json_is_object(pi)) || !json_is_object(ci))
		why = "publisherInputs and consumerInputs must be objects";
	else if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)))
		why = "consumerInputs.url must be an http(s) URL";
	else if (jstr(pi, "projectId") && *jstr(pi, "projectId") &&
		 !ieq(jstr(pi, "projectId"), a->project_id))
		why = "publisherInputs.projectId is not a project of this organization";
	else if (jstr(pi, "areaPath") && *jstr(pi, "areaPath") &&
		 !path_in(a->areas, jstr(pi, "areaPath")))
		why = "publisherInputs.areaPath is not an area of the project";
	else if (jstr(pi, "workItemType") && *jstr(pi, "workItemType") &&
		 !type_find(jstr(pi, "workItemType")))
		why = "publisherInputs.workItemType is not a work item type of the project";
	if (why) {
		ado_err(r->req, 400, "SubscriptionInputException", NS_HOOKS,
			"The subscription could not be created: %s.", why);
		return NULL;
	}
	json_t *ci2 = json_deep_copy(ci);
	const char *pw = jstr(ci2, "basicAuthPassword");
	if (old && pw && !strcmp(pw, ADO_PASSWORD_MASK)) {
		json_t *prev = json_object_get(json_object_get(old->doc, "consumerInputs"), "basicA"
											    "uthPas"
											    "swor"
											    "d");
		json_object_set(ci2, "basicAuthPassword", prev ? prev : json_string(""));
	}
	json_t *pi2 = pi ? json_deep_copy(pi) : json_object();
	const char *area = jstr(pi2, "areaPath");
	const char *wit = jstr(pi2, "workItemType");
	struct acs_buf d;
	acs_buf_init(&d, 4096);
	if (area && *area)
		(void)acs_buf_printf(&d, "Area path %s", area);
	if (wit && *wit)
		(void)acs_buf_printf(&d, "%sWork item type %s", d.len ? ", " : "", wit);
	if (!d.len)
		(void)acs_buf_appends(&d, "Any work item");
	const char *host = url + (url[4] == 's' || url[4] == 'S' ? 8 : 7);
	size_t hl = strcspn(host, ":/?#");
	char *action = acs_xasprintf("To host %.*s", (int)hl, host);
	uint64_t now = sim_now_ms(a->sim);
	json_t *doc =
		json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:{s:s},s:o,s:{s:s},s:o}", "publisherId",
			  "tfs", "eventType", ev, "resourceVersion", rv, "eventDescription", d.data,
			  "consumerId", "webHooks", "consumerActionId", "httpRequest",
			  "actionDescription", action, "createdBy", "id", r->me->id, "createdDate",
			  old ? json_incref(json_object_get(old->doc, "createdDate")) : jtime(now),
			  "modifiedBy", "id", r->me->id, "modifiedDate", jtime(now));
	if (!json_object_get(pi2, "tfsSubscriptionId")) {
		char tfs[37];
		sim_random_uuid(tfs);
		json_object_set_new(
			pi2, "tfsSubscriptionId",
			old ? json_incref(json_object_get(json_object_get(old->doc, "publisherInput"
										    "s"),
							  "tfsSubscriptionId"))
			    : json_string(tfs));
	}
	json_object_set_new(doc, "publisherInputs", pi2);
	json_object_set_new(doc, "consumerInputs", ci2);
	acs_buf_free(&d);
	free(action);
	return doc;
}

static void sub_set_doc(struct sim_ado *a, struct ado_sub *s, json_t *doc)
{
	char *url = acs_xasprintf("%s/%s/_apis/hooks/subscriptions/%s", sim_service_origin(a->svc),
				  a->org, s->id);
	json_t *j = json_pack("{s:s,s:s}", "id", s->id, "url", url);
	json_object_update(j, doc);
	json_decref(doc);
	json_decref(s->doc);
	s->doc = j;
	free(url);
}

static void h_subs_list(struct ado_req *r)
{
	const char *filters[] = { "publisherId", "eventType", "consumerId", "consumerActionId" };
	json_t *v = json_array();
	for (struct ado_sub *s = r->a->subs; s; s = s->next) {
		bool keep = true;
		for (size_t i = 0; i < ACS_ARRAY_SIZE(filters); i++) {
			const char *want = acs_http_req_query(r->req, filters[i]);
			if (want && *want && !ieq(want, jstr(s->doc, filters[i])))
				keep = false;
		}
		if (keep)
			json_array_append_new(v, sub_json(r->a, s));
	}
	sim_respond_json(r->req, 200,
			 json_pack("{s:I,s:o}", "count", (json_int_t)json_array_size(v), "value",
				   v));
}

static void h_sub_create(struct ado_req *r)
{
	struct sim_ado *a = r->a;
	json_t *body = sim_req_json(r->req);
	json_t *doc = sub_doc(r, body, NULL);
	json_decref(body);
	if (!doc)
		return;
	struct ado_sub *s = acs_xcalloc(1, sizeof(*s));
	sim_random_uuid(s->id);
	sub_set_doc(a, s, doc);
	struct ado_sub **pp = &a->subs;
	while (*pp)
		pp = &(*pp)->next;
	*pp = s;
	sim_respond_json(r->req, 200, sub_json(a, s));
}

static void h_sub_get(struct ado_req *r, const char *id)
{
	struct ado_sub *s = sub_find(r->a, id);
	if (!s) {
		sub_not_found(r, id);
		return;
	}
	sim_respond_json(r->req, 200, sub_json(r->a, s));
}

static void h_sub_put(struct ado_req *r, const char *id)
{
	struct sim_ado *a = r->a;
	struct ado_sub *s = sub_find(a, id);
	if (!s) {
		sub_not_found(r, id);
		return;
	}
	json_t *body = sim_req_json(r->req);
	const char *st = jstr(body, "status");
	if (st && strcmp(st, "enabled") && strcmp(st, "disabledByUser")) {
		json_decref(body);
		ado_err(r->req, 400, "SubscriptionInputException", NS_HOOKS,
			"The status '%s' cannot be set (enabled, disabledByUser).", st);
		return;
	}
	json_t *doc = sub_doc(r, body, s);
	if (!doc) {
		json_decref(body);
		return;
	}
	/* A status left out deserializes to enabled (the enum's zero value). */
	s->status = st && !strcmp(st, "disabledByUser") ? SUB_DISABLED_USER : SUB_ENABLED;
	s->probation_retries = 0;
	s->last_probation_ms = 0;
	json_decref(body);
	sub_set_doc(a, s, doc);
	sim_respond_json(r->req, 200, sub_json(a, s));
}

static void h_sub_delete(struct ado_req *r, const char *id)
{
	struct sim_ado *a = r->a;
	for (struct ado_sub **pp = &a->subs; *pp; pp = &(*pp)->next) {
		if (ieq((*pp)->id, id)) {
			struct ado_sub *s = *pp;
			*pp = s->next;
			json_decref(s->doc);
			free(s);
			sim_respond(r->req, 204, NULL, NULL, 0);
			return;
		}
	}
	sub_not_found(r, id);
}

/* --- WIQL --- */

enum wq_tk {
	T_EOF,
	T_FIELD,
	T_WORD,
	T_STR,
	T_NUM,
	T_MACRO,
	T_OP,
	T_LP,
	T_RP,
	T_COMMA
};

struct wq_tok {
	enum wq_tk k;
	char *s;
};

enum wq_op {
	OP_EQ,
	OP_NE,
	OP_GT,
	OP_GE,
	OP_LT,
	OP_LE,
	OP_IN,
	OP_UNDER,
	OP_CONTAINS
};

enum wq_vk {
	V_STR,
	V_NUM,
	V_ME,
	V_PROJECT,
	V_TODAY
};

struct wq_val {
	enum wq_vk k;
	const char *s;
	double num;
	long off; /**< @Today +/- days */
};

enum wq_nk {
	N_AND,
	N_OR,
	N_NOT,
	N_COND
};

struct wq_node {
	enum wq_nk k;
	struct wq_node *l, *r;
	const struct ado_field *f;
	enum wq_op op;
	bool neg; /**< NOT IN, NOT UNDER, NOT CONTAINS */
	struct wq_val vals[64];
	size_t nvals;
};

struct wq_order {
	const struct ado_field *f;
	bool desc;
};

struct wq {
	struct ado_req *r;
	struct wq_tok *t;
	size_t n, i, cap;
	bool time_precision;
	json_t *columns; /**< [field ref] */
	struct wq_order order[8];
	size_t norder;
	char err[512];
	struct wq_node *root;
};

static bool wq_fail(struct wq *q, const char *fmt, ...) ACS_PRINTF(2, 3);

static bool wq_fail(struct wq *q, const char *fmt, ...)
{
	va_list ap;
	if (q->err[0])
		return false;
	va_start(ap, fmt);
	vsnprintf(q->err, sizeof(q->err), fmt, ap);
	va_end(ap);
	return false;
}

static void wq_push(struct wq *q, enum wq_tk k, const char *s, size_t len)
{
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 32;
		q->t = acs_xrealloc(q->t, q->cap * sizeof(*q->t));
	}
	q->t[q->n].k = k;
	q->t[q->n].s = acs_xstrndup(s, len);
	q->n++;
}

static bool wq_lex(struct wq *q, const char *s)
{
	const char *p = s;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		if (*p == '[') {
			const char *e = strchr(p, ']');
			if (!e)
				return wq_fail(q,
					       "TF51006: Expecting ']'. The error is caused by "
					       "«%.40s».",
					       p);
			wq_push(q, T_FIELD, p + 1, (size_t)(e - p - 1));
			p = e + 1;
			continue;
		}
		if (*p == '\'' || *p == '"') {
			char quote = *p++;
			struct acs_buf b;
			acs_buf_init(&b, ADO_MAX_WIQL);
			for (;;) {
				if (!*p) {
					acs_buf_free(&b);
					return wq_fail(q, "TF51006: Unterminated string literal.");
				}
				if (*p == quote && p[1] == quote) {
					(void)acs_buf_append(&b, p, 1);
					p += 2;
					continue;
				}
				if (*p == quote) {
					p++;
					break;
				}
				(void)acs_buf_append(&b, p++, 1);
			}
			wq_push(q, T_STR, b.data ? b.data : "", b.len);
			acs_buf_free(&b);
			continue;
		}
		if (*p == '(' || *p == ')' || *p == ',') {
			wq_push(q, *p == '(' ? T_LP : *p == ')' ? T_RP : T_COMMA, p, 1);
			p++;
			continue;
		}
		if (strchr("=<>!", *p)) {
			size_t n = (p[1] == '=' || (*p == '<' && p[1] == '>')) ? 2 : 1;
			if (*p == '!' && n == 1)
				return wq_fail(q, "TF51006: The error is caused by «!».");
			wq_push(q, T_OP, p, n);
			p += n;
			continue;
		}
		if (*p == '@') {
			const char *e = p + 1;
			while (isalnum((unsigned char)*e) || *e == '_')
				e++;
			wq_push(q, T_MACRO, p, (size_t)(e - p));
			p = e;
			continue;
		}
		if (isdigit((unsigned char)*p) || *p == '-' || *p == '+') {
			/* "-7", "- 7" (as in @Today - 7) and plain numbers. */
			char num[64];
			size_t k = 0;
			const char *e = p;
			if (*e == '-' || *e == '+') {
				num[k++] = *e++;
				while (*e == ' ')
					e++;
				if (!isdigit((unsigned char)*e))
					return wq_fail(q, "TF51006: The error is caused by «%c».",
						       *p);
			}
			while ((isdigit((unsigned char)*e) || *e == '.') && k < sizeof(num) - 1)
				num[k++] = *e++;
			wq_push(q, T_NUM, num, k);
			p = e;
			continue;
		}
		if (isalpha((unsigned char)*p) || *p == '_') {
			const char *e = p;
			while (isalnum((unsigned char)*e) || *e == '_' || *e == '.')
				e++;
			wq_push(q, T_WORD, p, (size_t)(e - p));
			p = e;
			continue;
		}
		return wq_fail(q, "TF51006: The error is caused by «%c».", *p);
	}
	wq_push(q, T_EOF, "", 0);
	return true;
}

static struct wq_tok *wq_peek(struct wq *q)
{
	return &q->t[q->i];
}

static bool wq_kw(struct wq *q, const char *kw)
{
	struct wq_tok *t = wq_peek(q);
	if (t->k == T_WORD && ieq(t->s, kw)) {
		q->i++;
		return true;
	}
	return false;
}

static bool wq_expect_kw(struct wq *q, const char *kw)
{
	if (wq_kw(q, kw))
		return true;
	return wq_fail(q, "TF51006: Expecting '%s'. The error is caused by «%s».", kw,
		       wq_peek(q)->k == T_EOF ? "<end>" : wq_peek(q)->s);
}

static const struct ado_field *wq_field(struct wq *q)
{
	struct wq_tok *t = wq_peek(q);
	if (t->k != T_FIELD && t->k != T_WORD) {
		wq_fail(q, "TF51006: Expecting a field name. The error is caused by «%s».",
			t->k == T_EOF ? "<end>" : t->s);
		return NULL;
	}
	const struct ado_field *f = field_find(q->r->a, t->s);
	if (!f) {
		wq_fail(q,
			"TF51005: The query references a field that does not exist. The error "
			"is caused by «%s».",
			t->s);
		return NULL;
	}
	q->i++;
	return f;
}

static bool wq_value(struct wq *q, struct wq_node *c)
{
	struct wq_tok *t = wq_peek(q);
	if (c->nvals == ACS_ARRAY_SIZE(c->vals))
		return wq_fail(q, "TF51006: Too many values in the list.");
	struct wq_val *v = &c->vals[c->nvals];
	memset(v, 0, sizeof(*v));
	if (t->k == T_STR) {
		v->k = V_STR;
		v->s = t->s;
	} else if (t->k == T_NUM) {
		char *end;
		v->k = V_NUM;
		v->num = strtod(t->s, &end);
		v->s = t->s;
		if (*end)
			return wq_fail(q, "TF51006: The error is caused by «%s».", t->s);
	} else if (t->k == T_MACRO) {
		if (ieq(t->s, "@Me")) {
			v->k = V_ME;
		} else if (ieq(t->s, "@project")) {
			if (!q->r->has_project)
				return wq_fail(q, "TF51011: The @project macro needs a project in "
						  "the request URL.");
			v->k = V_PROJECT;
		} else if (ieq(t->s, "@Today")) {
			v->k = V_TODAY;
			struct wq_tok *n = &q->t[q->i + 1];
			if (n->k == T_NUM && (n->s[0] == '-' || n->s[0] == '+')) {
				v->off = strtol(n->s, NULL, 10);
				q->i++;
			}
		} else {
			return wq_fail(q,
				       "TF51006: The macro %s is not supported by the "
				       "simulator.",
				       t->s);
		}
	} else if (t->k == T_FIELD) {
		return wq_fail(q,
			       "TF51006: Field-to-field comparisons are not supported by the "
			       "simulator «%s».",
			       t->s);
	} else {
		return wq_fail(q, "TF51006: Expecting a value. The error is caused by «%s».",
			       t->k == T_EOF ? "<end>" : t->s);
	}
	q->i++;
	c->nvals++;
	return true;
}

/* Check each value against the field type now, so evaluation cannot fail. */
static bool wq_check(struct wq *q, struct wq_node *c)
{
	const struct ado_field *f = c->f;
	bool path = f->type == FT_AREA || f->type == FT_ITERATION;
	if (c->op == OP_UNDER && !path)
		return wq_fail(q,
			       "TF51006: The UNDER operator can only be used with tree path "
			       "fields (%s).",
			       f->ref);
	if (f->type == FT_HISTORY && c->op != OP_CONTAINS)
		return wq_fail(q, "TF51006: History can only be queried with CONTAINS.");
	for (size_t i = 0; i < c->nvals; i++) {
		struct wq_val *v = &c->vals[i];
		switch (f->type) {
		case FT_INT:
		case FT_DOUBLE:
			if (v->k != V_NUM)
				return wq_fail(q, "TF51006: The field %s needs a number.", f->ref);
			break;
		case FT_DATE: {
			uint64_t ms;
			bool has_time;
			if (v->k == V_TODAY)
				break;
			if (v->k != V_STR || !parse_time(v->s, &ms, &has_time))
				return wq_fail(q, "TF51006: The field %s needs a date.", f->ref);
			if (has_time && !q->time_precision)
				return wq_fail(q,
					       "VS402625: You cannot supply a time with the date "
					       "when running a query using date precision. The "
					       "error is caused by «%s».",
					       v->s);
			break;
		}
		case FT_IDENTITY:
			if (v->k != V_STR && v->k != V_ME)
				return wq_fail(q, "TF51006: The field %s needs an identity.",
					       f->ref);
			break;
		default:
			if (v->k == V_ME || v->k == V_TODAY || v->k == V_NUM)
				return wq_fail(q,
					       "TF51006: The value «%s» does not fit the field %s.",
					       v->s ? v->s : "@macro", f->ref);
			break;
		}
	}
	return true;
}

static struct wq_node *wq_or(struct wq *q);

static struct wq_node *wq_new(enum wq_nk k)
{
	struct wq_node *n = acs_xcalloc(1, sizeof(*n));
	n->k = k;
	return n;
}

static void wq_node_free(struct wq_node *n)
{
	if (!n)
		return;
	wq_node_free(n->l);
	wq_node_free(n->r);
	free(n);
}

static struct wq_node *wq_factor(struct wq *q)
{
	if (wq_kw(q, "NOT")) {
		struct wq_node *inner = wq_factor(q);
		if (!inner)
			return NULL;
		struct wq_node *n = wq_new(N_NOT);
		n->l = inner;
		return n;
	}
	if (wq_peek(q)->k == T_LP) {
		q->i++;
		struct wq_node *n = wq_or(q);
		if (!n)
			return NULL;
		if (wq_peek(q)->k != T_RP) {
			wq_node_free(n);
			wq_fail(q, "TF51006: Expecting ')'.");
			return NULL;
		}
		q->i++;
		return n;
	}
	const struct ado_field *f = wq_field(q);
	if (!f)
		return NULL;
	struct wq_node *c = wq_new(N_COND);
	c->f = f;
	struct wq_tok *t = wq_peek(q);
	bool ok = true;
	if (t->k == T_OP) {
		const char *o = t->s;
		c->op = !strcmp(o, "=")			       ? OP_EQ
			: !strcmp(o, "<>") || !strcmp(o, "!=") ? OP_NE
			: !strcmp(o, ">")		       ? OP_GT
			: !strcmp(o, ">=")		       ? OP_GE
			: !strcmp(o, "<")		       ? OP_LT
							       : OP_LE;
		if (!strcmp(o, "==") || !strcmp(o, "=<") || !strcmp(o, "=>"))
			ok = wq_fail(q, "TF51006: The error is caused by «%s».", o);
		q->i++;
		ok = ok && wq_value(q, c);
	} else {
		if (wq_kw(q, "NOT"))
			c->neg = true;
		if (wq_kw(q, "IN")) {
			c->op = OP_IN;
			if (wq_peek(q)->k != T_LP) {
				ok = wq_fail(q, "TF51006: Expecting '(' after IN.");
			} else {
				q->i++;
				do {
					ok = wq_value(q, c);
				} while (ok && wq_peek(q)->k == T_COMMA && ++q->i);
				if (ok && wq_peek(q)->k != T_RP)
					ok = wq_fail(q, "TF51006: Expecting ')'.");
				q->i++;
			}
		} else if (wq_kw(q, "UNDER")) {
			c->op = OP_UNDER;
			ok = wq_value(q, c);
		} else if (wq_kw(q, "CONTAINS")) {
			c->op = OP_CONTAINS;
			(void)wq_kw(q, "WORDS");
			ok = wq_value(q, c);
		} else if (wq_kw(q, "EVER")) {
			ok = wq_fail(q, "TF51006: EVER is not supported by the simulator.");
		} else {
			ok = wq_fail(q,
				     "TF51006: Expecting an operator. The error is caused by «%s».",
				     t->k == T_EOF ? "<end>" : t->s);
		}
	}
	if (!ok || !wq_check(q, c)) {
		free(c);
		return NULL;
	}
	return c;
}

static struct wq_node *wq_and(struct wq *q)
{
	struct wq_node *l = wq_factor(q);
	while (l && wq_kw(q, "AND")) {
		struct wq_node *r = wq_factor(q);
		if (!r) {
			wq_node_free(l);
			return NULL;
		}
		struct wq_node *n = wq_new(N_AND);
		n->l = l;
		n->r = r;
		l = n;
	}
	return l;
}

static struct wq_node *wq_or(struct wq *q)
{
	struct wq_node *l = wq_and(q);
	while (l && wq_kw(q, "OR")) {
		struct wq_node *r = wq_and(q);
		if (!r) {
			wq_node_free(l);
			return NULL;
		}
		struct wq_node *n = wq_new(N_OR);
		n->l = l;
		n->r = r;
		l = n;
	}
	return l;
}

static bool wq_parse(struct wq *q)
{
	if (!wq_expect_kw(q, "SELECT"))
		return false;
	do {
		const struct ado_field *f = wq_field(q);
		if (!f)
			return false;
		json_array_append_new(q->columns, json_string(f->ref));
	} while (wq_peek(q)->k == T_COMMA && ++q->i);
	if (!wq_expect_kw(q, "FROM"))
		return false;
	if (!wq_kw(q, "WorkItems")) {
		if (wq_peek(q)->k == T_WORD && ieq(wq_peek(q)->s, "WorkItemLinks"))
			return wq_fail(q, "TF51006: Link queries (FROM WorkItemLinks) are not "
					  "supported by the simulator.");
		return wq_fail(q, "TF51006: Expecting 'WorkItems'. The error is caused by «%s».",
			       wq_peek(q)->k == T_EOF ? "<end>" : wq_peek(q)->s);
	}
	if (wq_kw(q, "WHERE")) {
		q->root = wq_or(q);
		if (!q->root)
			return false;
	}
	if (wq_kw(q, "ORDER")) {
		if (!wq_expect_kw(q, "BY"))
			return false;
		do {
			const struct ado_field *f = wq_field(q);
			if (!f)
				return false;
			if (q->norder == ACS_ARRAY_SIZE(q->order))
				return wq_fail(q, "TF51006: Too many ORDER BY fields.");
			q->order[q->norder].f = f;
			q->order[q->norder].desc = false;
			if (wq_kw(q, "DESC"))
				q->order[q->norder].desc = true;
			else
				(void)wq_kw(q, "ASC");
			q->norder++;
		} while (wq_peek(q)->k == T_COMMA && ++q->i);
	}
	if (wq_peek(q)->k == T_WORD && (ieq(wq_peek(q)->s, "ASOF") || ieq(wq_peek(q)->s, "MODE")))
		return wq_fail(q, "TF51006: %s is not supported by the simulator.", wq_peek(q)->s);
	if (wq_peek(q)->k != T_EOF)
		return wq_fail(q, "TF51006: Expecting end of string. The error is caused by «%s».",
			       wq_peek(q)->s);
	return true;
}

static int64_t day_of(uint64_t ms)
{
	return (int64_t)(ms / 86400000u);
}

static json_t *wq_field_value(struct ado_wi *wi, const struct ado_field *f)
{
	if (!strcmp(f->ref, "System.Id"))
		return json_integer(wi->id);
	if (!strcmp(f->ref, "System.Rev"))
		return json_integer(wi->rev);
	if (!strcmp(f->ref, "System.Watermark"))
		return json_integer(wi->watermark);
	if (!strcmp(f->ref, "System.History"))
		return wi->history ? json_string(wi->history) : NULL;
	return json_incref(json_object_get(wi->fields, f->ref));
}

/* <0, 0, >0 comparing the field value fv (not NULL) with v. */
static int wq_cmp(struct wq *q, const struct ado_field *f, json_t *fv, const struct wq_val *v)
{
	struct sim_ado *a = q->r->a;
	switch (f->type) {
	case FT_INT:
	case FT_DOUBLE: {
		double d = json_number_value(fv);
		return d < v->num ? -1 : d > v->num ? 1 : 0;
	}
	case FT_DATE: {
		uint64_t fms = 0, vms = 0;
		bool has_time;
		(void)parse_time(json_string_value(fv), &fms, &has_time);
		if (v->k == V_TODAY) {
			int64_t today = day_of(sim_clock_ms(a->sim)) + v->off;
			vms = (uint64_t)today * 86400000u;
			has_time = false;
		} else {
			(void)parse_time(v->s, &vms, &has_time);
		}
		if (!q->time_precision) {
			int64_t fd = day_of(fms), vd = day_of(vms);
			return fd < vd ? -1 : fd > vd ? 1 : 0;
		}
		return fms < vms ? -1 : fms > vms ? 1 : 0;
	}
	case FT_IDENTITY: {
		const struct ado_user *fu = user_resolve(a, json_string_value(fv));
		const struct ado_user *vu = v->k == V_ME ? q->r->me : user_resolve(a, v->s);
		if (fu && vu)
			return fu == vu ? 0 : strcasecmp(fu->email, vu->email);
		return strcasecmp(json_string_value(fv), v->s ? v->s : "");
	}
	default:
		return strcasecmp(json_string_value(fv), v->k == V_PROJECT ? a->project
							 : v->s		   ? v->s
									   : "");
	}
}

static bool wq_val_empty(const struct wq_val *v)
{
	return v->k == V_STR && !*v->s;
}

static bool wq_cond(struct wq *q, struct wq_node *c, struct ado_wi *wi)
{
	json_t *fv = wq_field_value(wi, c->f);
	bool res = false;
	switch (c->op) {
	case OP_EQ:
	case OP_NE:
	case OP_IN: {
		bool eq = false;
		for (size_t i = 0; i < c->nvals && !eq; i++)
			eq = fv ? wq_cmp(q, c->f, fv, &c->vals[i]) == 0 : wq_val_empty(&c->vals[i]);
		res = c->op == OP_NE ? !eq : eq;
		break;
	}
	case OP_GT:
	case OP_GE:
	case OP_LT:
	case OP_LE: {
		if (!fv)
			break;
		int d = wq_cmp(q, c->f, fv, &c->vals[0]);
		res = c->op == OP_GT   ? d > 0
		      : c->op == OP_GE ? d >= 0
		      : c->op == OP_LT ? d < 0
				       : d <= 0;
		break;
	}
	case OP_UNDER:
		res = fv && area_under(json_string_value(fv), c->vals[0].s);
		break;
	case OP_CONTAINS: {
		const char *s = json_string_value(fv);
		const char *want = c->vals[0].s ? c->vals[0].s : "";
		if (s && c->f->type == FT_TAGS) {
			char *norm = tags_normalize(s);
			for (char *t = norm, *e; t && *t; t = e ? e + 2 : NULL) {
				e = strstr(t, "; ");
				if (e)
					*e = '\0';
				if (ieq(t, want))
					res = true;
				if (!e)
					break;
			}
			free(norm);
		} else {
			res = s && strcasestr(s, want);
		}
		break;
	}
	}
	json_decref(fv);
	return c->neg ? !res : res;
}

static bool wq_eval(struct wq *q, struct wq_node *n, struct ado_wi *wi)
{
	switch (n->k) {
	case N_AND:
		return wq_eval(q, n->l, wi) && wq_eval(q, n->r, wi);
	case N_OR:
		return wq_eval(q, n->l, wi) || wq_eval(q, n->r, wi);
	case N_NOT:
		return !wq_eval(q, n->l, wi);
	case N_COND:
		return wq_cond(q, n, wi);
	}
	return false;
}

static int wq_sort_cmp(const void *x, const void *y, void *arg)
{
	struct wq *q = arg;
	struct ado_wi *a = *(struct ado_wi *const *)x, *b = *(struct ado_wi *const *)y;
	for (size_t i = 0; i < q->norder; i++) {
		const struct ado_field *f = q->order[i].f;
		json_t *va = wq_field_value(a, f), *vb = wq_field_value(b, f);
		int d;
		if (!va || !vb) {
			d = !va && !vb ? 0 : !va ? -1 : 1;
		} else if (json_is_number(va) && json_is_number(vb)) {
			double p = json_number_value(va), s = json_number_value(vb);
			d = p < s ? -1 : p > s ? 1 : 0;
		} else if (f->type == FT_DATE) {
			uint64_t p = 0, s = 0;
			bool ht;
			(void)parse_time(json_string_value(va), &p, &ht);
			(void)parse_time(json_string_value(vb), &s, &ht);
			d = p < s ? -1 : p > s ? 1 : 0;
		} else {
			d = strcasecmp(json_string_value(va) ? json_string_value(va) : "",
				       json_string_value(vb) ? json_string_value(vb) : "");
		}
		json_decref(va);
		json_decref(vb);
		if (d)
			return q->order[i].desc ? -d : d;
	}
	return a->id < b->id ? -1 : a->id > b->id;
}

static json_t *field_ref_json(struct sim_ado *a, const struct ado_field *f)
{
	char *url = acs_xasprintf("%s/%s/_apis/wit/fields/%s", sim_service_origin(a->svc), a->org,
				  f->ref);
	json_t *j =
		json_pack("{s:s,s:s,s:s}", "referenceName", f->ref, "name", f->name, "url", url);
	free(url);
	return j;
}

static void h_wiql(struct ado_req *r)
{
	struct sim_ado *a = r->a;
	json_t *body = sim_req_json(r->req);
	const char *text = jstr(body, "query");
	const char *top = acs_http_req_query(r->req, "$top");
	size_t ntop = (size_t)-1;
	if (!text) {
		json_decref(body);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"The request body must be {\"query\": \"SELECT ...\"}.");
		return;
	}
	if (strlen(text) > ADO_MAX_WIQL) {
		json_decref(body);
		ado_err(r->req, 400, "WiqlTooLongException", NS_WIT,
			"VS402347: The WIQL text is longer than %d characters.", ADO_MAX_WIQL);
		return;
	}
	if (top && !parse_index(top, &ntop)) {
		json_decref(body);
		ado_err(r->req, 400, "VssPropertyValidationException", NS_VSS,
			"$top must be a non-negative integer.");
		return;
	}
	struct wq q = { .r = r, .time_precision = query_true(r->req, "timePrecision") };
	q.columns = json_array();
	bool ok = wq_lex(&q, text) && wq_parse(&q);
	json_decref(body);
	if (ok) {
		struct ado_wi **hits = acs_xcalloc(a->nwis + 1, sizeof(*hits));
		size_t nhits = 0;
		for (size_t i = 0; i < a->nwis; i++)
			if (!a->wis[i]->deleted && (!q.root || wq_eval(&q, q.root, a->wis[i])))
				hits[nhits++] = a->wis[i];
		if (nhits > ADO_MAX_RESULTS && ntop > ADO_MAX_RESULTS) {
			ado_err(r->req, 400,
				"WorkItemTrackingQueryResultSizeLimitExceededException", NS_WIT,
				"VS402337: The number of work items returned exceeds the size "
				"limit "
				"of %d. Change the query to return fewer items.",
				ADO_MAX_RESULTS);
		} else {
			qsort_r(hits, nhits, sizeof(*hits), wq_sort_cmp, &q);
			json_t *cols = json_array(), *sorts = json_array(), *items = json_array();
			size_t i;
			json_t *v;
			json_array_foreach(q.columns, i, v)
			{
				const struct ado_field *f = field_find(a, json_string_value(v));
				json_array_append_new(cols, field_ref_json(a, f));
			}
			for (i = 0; i < q.norder; i++)
				json_array_append_new(sorts,
						      json_pack("{s:o,s:b}", "field",
								field_ref_json(a, q.order[i].f),
								"descending", q.order[i].desc));
			for (i = 0; i < nhits && i < ntop; i++) {
				char *url = wi_url(a, hits[i]->id, NULL);
				json_array_append_new(items, json_pack("{s:i,s:s}", "id",
								       hits[i]->id, "url", url));
				free(url);
			}
			sim_respond_json(r->req, 200,
					 json_pack("{s:s,s:s,s:o,s:o,s:o,s:o}", "queryType", "flat",
						   "queryResultType", "workItem", "asOf",
						   jtime(sim_now_ms(a->sim)), "columns", cols,
						   "sortColumns", sorts, "workItems", items));
		}
		free(hits);
	} else {
		ado_err(r->req, 400, "QuerySyntaxException", NS_WIT, "%s", q.err);
	}
	wq_node_free(q.root);
	for (size_t i = 0; i < q.n; i++)
		free(q.t[i].s);
	free(q.t);
	json_decref(q.columns);
}

/* --- auth and throttling --- */

static struct ado_pat *pat_of(struct sim_ado *a, struct acs_http_req *req)
{
	const char *auth = acs_http_req_header(req, "Authorization");
	if (!auth || strncasecmp(auth, "Basic ", 6))
		return NULL;
	const char *enc = auth + 6;
	while (*enc == ' ')
		enc++;
	size_t elen = strlen(enc);
	while (elen && enc[elen - 1] == ' ')
		elen--;
	if (elen > 4096)
		return NULL;
	unsigned char *bin = acs_xmalloc(elen + 1);
	size_t blen = 0;
	const char *end = NULL;
	struct ado_pat *found = NULL;
	/* Strict decoding: a stray '=' or other junk is a 401, as the real service does. */
	if (!sodium_base642bin(bin, elen, enc, elen, NULL, &blen, &end,
			       sodium_base64_VARIANT_ORIGINAL) &&
	    end == enc + elen) {
		bin[blen] = '\0';
		const char *colon = memchr(bin, ':', blen);
		if (colon) {
			const char *pat = colon + 1;
			size_t plen = blen - (size_t)(colon + 1 - (const char *)bin);
			for (size_t i = 0; i < a->npats; i++) {
				const char *p = a->pats[i].pat;
				if (strlen(p) == plen && !sodium_memcmp(p, pat, plen))
					found = &a->pats[i];
			}
		}
	}
	sodium_memzero(bin, elen + 1);
	free(bin);
	return found;
}

static void add_header_u64(struct acs_http_req *req, const char *name, uint64_t v)
{
	char b[32];
	snprintf(b, sizeof(b), "%" PRIu64, v);
	acs_http_req_add_header(req, name, b);
}

static json_t *throttle_body(void)
{
	return ado_error_body("RequestBlockedException", NS_FW,
			      "TF400733: The request has been canceled: Request was blocked due to "
			      "exceeding usage of resource 'WorkItemTracking' in namespace "
			      "'User'.",
			      3000);
}

/* One TSTU per request in a sliding window; true when answered 429. */
static bool throttle(struct sim_ado *a, struct ado_pat *p, struct acs_http_req *req)
{
	if (a->rate_limit <= 0)
		return false;
	size_t cap = (size_t)a->rate_limit;
	/* Real time, not sim_now_ms: requests need no unique times, and a call per
	 * request moved the change-time clock ahead of the wall clock under load. */
	uint64_t now = sim_wall_us() / 1000;
	while (p->n && now - p->ts[p->head] >= a->window_ms) {
		p->head = (p->head + 1) % cap;
		p->n--;
	}
	if (p->n >= cap) {
		uint64_t newest = p->ts[(p->head + p->n - 1) % cap];
		add_header_u64(req, "Retry-After",
			       (p->ts[p->head] + a->window_ms - now + 999) / 1000);
		acs_http_req_add_header(req, "X-RateLimit-Resource", "WorkItemTracking");
		add_header_u64(req, "X-RateLimit-Limit", cap);
		add_header_u64(req, "X-RateLimit-Remaining", 0);
		add_header_u64(req, "X-RateLimit-Reset", (newest + a->window_ms + 999) / 1000);
		sim_respond_json(req, 429, throttle_body());
		return true;
	}
	p->ts[(p->head + p->n) % cap] = now;
	p->n++;
	size_t remaining = cap - p->n;
	if (remaining * 5 <= cap) {
		acs_http_req_add_header(req, "X-RateLimit-Resource", "WorkItemTracking");
		add_header_u64(req, "X-RateLimit-Limit", cap);
		add_header_u64(req, "X-RateLimit-Remaining", remaining);
		add_header_u64(req, "X-RateLimit-Reset", (now + a->window_ms + 999) / 1000);
	}
	return false;
}

static bool ado_hook(void *impl, struct acs_http_req *req)
{
	struct sim_ado *a = impl;
	struct ado_pat *p = pat_of(a, req);
	if (!p) {
		char realm[128];
		snprintf(realm, sizeof(realm), "Basic realm=\"%s/\"", sim_service_origin(a->svc));
		acs_http_req_add_header(req, "WWW-Authenticate", realm);
		sim_respond_json(req, 401,
				 ado_error_body("UnauthorizedRequestException", NS_FW,
						"TF400813: The user '' is not authorized to access "
						"this resource.",
						3000));
		return true;
	}
	return throttle(a, p, req);
}

static json_t *ado_fault_body(void *impl, struct acs_http_req *req, int status)
{
	if (status == 429) {
		acs_http_req_add_header(req, "X-RateLimit-Resource", "WorkItemTracking");
		acs_http_req_add_header(req, "X-RateLimit-Remaining", "0");
		return throttle_body();
	}
	char msg[128];
	snprintf(msg, sizeof(msg), "%d %s (injected fault)", status, acs_http_status_text(status));
	return ado_error_body("VssServiceException", NS_VSS, msg, 3000);
}

/* --- api-version --- */

static bool check_version(struct ado_req *r, bool preview_resource)
{
	const char *v = acs_http_req_query(r->req, "api-version");
	char acc[32] = "";
	if (!v) {
		const char *h = acs_http_req_header(r->req, "Accept");
		const char *p = h ? strcasestr(h, "api-version=") : NULL;
		if (p) {
			p += strlen("api-version=");
			size_t n = strcspn(p, ";, ");
			snprintf(acc, sizeof(acc), "%.*s", (int)ACS_MIN(n, sizeof(acc) - 1), p);
			v = acc;
		}
	}
	if (!v || !*v) {
		ado_err(r->req, 400, "VssVersionNotSpecifiedException", NS_VSS,
			"No api-version was supplied for the \"%s\" request. The version must be "
			"supplied either as part of the Accept header (e.g. \"application/json; "
			"api-version=1.0\") or as a query parameter (e.g. '?api-version=1.0').",
			acs_http_req_method(r->req));
		return false;
	}
	int major = 0, minor = 0, n = 0, res = 0;
	bool preview = false;
	if (sscanf(v, "%d.%d%n", &major, &minor, &n) != 2) {
		ado_err(r->req, 400, "VssInvalidApiVersionException", NS_VSS,
			"The api-version '%s' is not valid.", v);
		return false;
	}
	const char *rest = v + n;
	if (!strncasecmp(rest, "-preview", 8)) {
		preview = true;
		rest += 8;
		if (*rest == '.') {
			int k = 0;
			if (sscanf(rest + 1, "%d%n", &res, &k) != 1)
				k = -1;
			rest += k < 0 ? 0 : 1 + k;
			if (k <= 0)
				rest = "x";
		}
	}
	if (*rest) {
		ado_err(r->req, 400, "VssInvalidApiVersionException", NS_VSS,
			"The api-version '%s' is not valid.", v);
		return false;
	}
	if (major > 7 || (major == 7 && minor > 1)) {
		ado_err(r->req, 400, "VssVersionOutOfRangeException", NS_VSS,
			"The requested REST API version of %d.%d is out of range for this server. "
			"The "
			"latest REST API version this server supports is 7.1.",
			major, minor);
		return false;
	}
	if (preview_resource) {
		if (!preview) {
			ado_err(r->req, 400, "VssInvalidPreviewVersionException", NS_VSS,
				"The requested version \"%s\" of the resource is under preview. "
				"The "
				"-preview flag must be supplied in the api-version for such "
				"requests. "
				"For example: \"%s-preview\"",
				v, v);
			return false;
		}
		if (major != 7 || minor != 1 || (res && res != 4)) {
			ado_err(r->req, 400, "VssVersionOutOfRangeException", NS_VSS,
				"The simulator serves comments only with api-version=7.1-preview.4 "
				"(got %s).",
				v);
			return false;
		}
		return true;
	}
	if (major != 7) {
		ado_err(r->req, 400, "VssVersionOutOfRangeException", NS_VSS,
			"The simulator serves api-version 7.0 and 7.1 only (got %s).", v);
		return false;
	}
	return true;
}

/* --- dispatch --- */

#define R_PROJ 1u    /* needs a project segment */
#define R_ORG 2u     /* organization level only */
#define R_PREVIEW 4u /* comments: 7.1-preview.4 */
#define R_TEAM 8u    /* a team segment may follow the project */
#define R_PREFIX 16u /* more segments may follow the pattern */
#define R_ANYVER 32u /* api-version optional (connectionData) */

typedef void (*ado_handler)(struct ado_req *r);

static void r_wi_list(struct ado_req *r)
{
	h_wi_list(r);
}
static void r_wi_get(struct ado_req *r)
{
	h_wi_get(r, r->segs[2]);
}
static void r_wi_update(struct ado_req *r)
{
	h_wi_update(r, r->segs[2]);
}
static void r_wi_delete(struct ado_req *r)
{
	h_wi_delete(r, r->segs[2]);
}
static void r_wi_create(struct ado_req *r)
{
	h_wi_create(r, r->segs[2]);
}
static void r_comments_list(struct ado_req *r)
{
	h_comments_list(r, r->segs[2]);
}
static void r_comment_add(struct ado_req *r)
{
	h_comment_add(r, r->segs[2]);
}
static void r_comment_get(struct ado_req *r)
{
	h_comment_get(r, r->segs[2], r->segs[4]);
}
static void r_comment_edit(struct ado_req *r)
{
	h_comment_edit(r, r->segs[2], r->segs[4]);
}
static void r_comment_delete(struct ado_req *r)
{
	h_comment_delete(r, r->segs[2], r->segs[4]);
}
static void r_type(struct ado_req *r)
{
	h_type(r, r->segs[2]);
}
static void r_type_states(struct ado_req *r)
{
	h_type_states(r, r->segs[2]);
}
static void r_nodes(struct ado_req *r)
{
	h_nodes(r, 2);
}
static void r_attachment_get(struct ado_req *r)
{
	h_attachment_get(r, r->segs[2]);
}
static void r_recycle_get(struct ado_req *r)
{
	h_recycle_get(r, r->segs[2]);
}
static void r_recycle_restore(struct ado_req *r)
{
	h_recycle_restore(r, r->segs[2]);
}
static void r_recycle_destroy(struct ado_req *r)
{
	h_recycle_destroy(r, r->segs[2]);
}
static void r_project(struct ado_req *r)
{
	h_project(r, r->segs[1]);
}

/* GET _apis/wit/fields/{fieldNameOrRefName} (organization or project level):
 * the WorkItemField2 members a client reads. Unknown: 404 TF51535 (the text of
 * the service's unknown-field error; typeKey as the .NET exception's name). */
static const char *field_type_name(enum ftype t)
{
	switch (t) {
	case FT_HTML:
		return "html";
	case FT_INT:
		return "integer";
	case FT_DOUBLE:
		return "double";
	case FT_DATE:
		return "dateTime";
	case FT_BOOL:
		return "boolean";
	case FT_IDENTITY:
		return "identity";
	case FT_AREA:
	case FT_ITERATION:
		return "treePath";
	case FT_TAGS:
		return "plainText";
	case FT_HISTORY:
		return "history";
	case FT_STRING:
		break;
	}
	return "string";
}

static void r_field(struct ado_req *r)
{
	const struct ado_field *f = field_find(r->a, r->segs[2]);
	if (!f) {
		ado_err(r->req, 404, "WorkItemTrackingFieldDefinitionNotFoundException", NS_WIT,
			"TF51535: Cannot find field %s.", r->segs[2]);
		return;
	}
	char *url = acs_xasprintf("%s/%s/_apis/wit/fields/%s", sim_service_origin(r->a->svc),
				  r->a->org, f->ref);
	sim_respond_json(r->req, 200,
			 json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:s}", "name", f->name,
				   "referenceName", f->ref, "type", field_type_name(f->type),
				   "usage", "workItem", "readOnly", (f->flags & FF_RO) != 0,
				   "isIdentity", f->type == FT_IDENTITY, "url", url));
	free(url);
}
static void r_sub_get(struct ado_req *r)
{
	h_sub_get(r, r->segs[2]);
}
static void r_sub_put(struct ado_req *r)
{
	h_sub_put(r, r->segs[2]);
}
static void r_sub_delete(struct ado_req *r)
{
	h_sub_delete(r, r->segs[2]);
}

struct ado_route {
	const char *method;
	const char *pattern; /**< after _apis; "*" = one segment */
	unsigned flags;
	ado_handler cb;
};

static const struct ado_route ado_routes[] = {
	{ "GET", "wit/workitems", 0, r_wi_list },
	{ "GET", "wit/workitems/*", 0, r_wi_get },
	{ "PATCH", "wit/workitems/*", 0, r_wi_update },
	{ "DELETE", "wit/workitems/*", 0, r_wi_delete },
	{ "POST", "wit/workitems/*", R_PROJ, r_wi_create },
	{ "POST", "wit/workitemsbatch", 0, h_wi_batch },
	{ "GET", "wit/workitems/*/comments", R_PROJ | R_PREVIEW, r_comments_list },
	{ "POST", "wit/workitems/*/comments", R_PROJ | R_PREVIEW, r_comment_add },
	{ "GET", "wit/workitems/*/comments/*", R_PROJ | R_PREVIEW, r_comment_get },
	{ "PATCH", "wit/workitems/*/comments/*", R_PROJ | R_PREVIEW, r_comment_edit },
	{ "DELETE", "wit/workitems/*/comments/*", R_PROJ | R_PREVIEW, r_comment_delete },
	{ "POST", "wit/wiql", R_TEAM, h_wiql },
	{ "GET", "wit/workitemtypes", R_PROJ, h_types },
	{ "GET", "wit/workitemtypes/*", R_PROJ, r_type },
	{ "GET", "wit/workitemtypes/*/states", R_PROJ, r_type_states },
	{ "GET", "wit/classificationnodes", R_PROJ | R_PREFIX, r_nodes },
	{ "POST", "wit/attachments", 0, h_attachment_upload },
	{ "GET", "wit/attachments/*", 0, r_attachment_get },
	{ "GET", "wit/recyclebin/*", 0, r_recycle_get },
	{ "PATCH", "wit/recyclebin/*", 0, r_recycle_restore },
	{ "DELETE", "wit/recyclebin/*", 0, r_recycle_destroy },
	{ "GET", "projects", R_ORG, h_projects },
	{ "GET", "projects/*", R_ORG, r_project },
	{ "GET", "wit/fields/*", 0, r_field },
	{ "GET", "connectionData", R_ORG | R_ANYVER, h_connection_data },
	{ "GET", "hooks/subscriptions", R_ORG, h_subs_list },
	{ "POST", "hooks/subscriptions", R_ORG, h_sub_create },
	{ "GET", "hooks/subscriptions/*", R_ORG, r_sub_get },
	{ "PUT", "hooks/subscriptions/*", R_ORG, r_sub_put },
	{ "DELETE", "hooks/subscriptions/*", R_ORG, r_sub_delete },
};

static bool route_matches(struct ado_req *r, const struct ado_route *rt)
{
	char pat[128];
	char *save = NULL;
	size_t i = 0;
	snprintf(pat, sizeof(pat), "%s", rt->pattern);
	for (char *t = strtok_r(pat, "/", &save); t; t = strtok_r(NULL, "/", &save), i++) {
		if (i >= r->nsegs)
			return false;
		if (strcmp(t, "*") && !ieq(t, r->segs[i]))
			return false;
	}
	return i == r->nsegs || ((rt->flags & R_PREFIX) && i <= r->nsegs);
}

static void not_found_route(struct acs_http_req *req)
{
	ado_err(req, 404, "VssResourceNotFoundException", NS_VSS,
		"The resource %s cannot be found.", acs_http_req_path(req));
}

static void ado_dispatch(struct acs_http_req *req, void *arg)
{
	struct sim_ado *a = arg;
	struct ado_req *r = acs_xcalloc(1, sizeof(*r));
	char *all[ADO_MAX_SEGS];
	size_t n = 0;
	char *save = NULL;

	r->a = a;
	r->req = req;
	snprintf(r->buf, sizeof(r->buf), "%s", acs_http_req_path(req));
	for (char *t = strtok_r(r->buf, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
		if (n == ADO_MAX_SEGS) {
			n = 0;
			break;
		}
		all[n++] = t;
	}
	/* The hook let only authenticated requests through. */
	struct ado_pat *p = pat_of(a, req);
	r->me = p ? p->user : &a->users[0];
	size_t api = 0;
	const char *team = NULL;
	if (n >= 2 && ieq(all[1], "_apis"))
		api = 1;
	else if (n >= 3 && ieq(all[2], "_apis"))
		api = 2;
	else if (n >= 4 && ieq(all[3], "_apis"))
		api = 3;
	if (!api || !ieq(all[0], a->org)) {
		not_found_route(req);
		free(r);
		return;
	}
	if (api >= 2) {
		if (!ieq(all[1], a->project) && !ieq(all[1], a->project_id)) {
			project_not_found(req, all[1]);
			free(r);
			return;
		}
		r->has_project = true;
	}
	if (api == 3) {
		char *tname = acs_xasprintf("%s Team", a->project);
		bool ok = ieq(all[2], tname) || ieq(all[2], a->host_id);
		free(tname);
		if (!ok) {
			ado_err(req, 404, "TeamNotFoundException", NS_CORE,
				"VS403215: The team %s does not exist.", all[2]);
			free(r);
			return;
		}
		team = all[2];
	}
	for (size_t i = api + 1; i < n; i++)
		r->segs[r->nsegs++] = all[i];
	const struct ado_route *hit = NULL;
	bool path_hit = false;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_routes); i++) {
		const struct ado_route *rt = &ado_routes[i];
		if (!route_matches(r, rt))
			continue;
		if ((rt->flags & R_ORG) && r->has_project)
			continue;
		if ((rt->flags & R_PROJ) && !r->has_project)
			continue;
		if (team && !(rt->flags & R_TEAM))
			continue;
		path_hit = true;
		if (!strcmp(rt->method, acs_http_req_method(req))) {
			hit = rt;
			break;
		}
	}
	if (!hit) {
		if (path_hit)
			ado_err(req, 405, "VssMethodNotAllowedException", NS_VSS,
				"The requested resource does not support http method '%s'.",
				acs_http_req_method(req));
		else
			not_found_route(req);
		free(r);
		return;
	}
	if (((hit->flags & R_ANYVER) && !acs_http_req_query(req, "api-version")) ||
	    check_version(r, hit->flags & R_PREVIEW))
		hit->cb(r);
	free(r);
}

/* --- world: load, reset, free --- */

static bool load_delays(json_t *arr, uint64_t *out, size_t *n, const uint64_t *def, size_t ndef)
{
	if (!arr) {
		memcpy(out, def, ndef * sizeof(*out));
		*n = ndef;
		return true;
	}
	if (!json_is_array(arr) || json_array_size(arr) > ADO_MAX_DELAYS)
		return false;
	size_t i;
	json_t *v;
	*n = 0;
	json_array_foreach(arr, i, v)
	{
		if (!json_is_integer(v) || json_integer_value(v) < 0)
			return false;
		out[(*n)++] = (uint64_t)json_integer_value(v);
	}
	return true;
}

/* paths: project root plus every seed path and its parents. */
static json_t *load_paths(struct sim_ado *a, json_t *seed, const char *const *def, size_t ndef)
{
	json_t *out = json_array();
	json_array_append_new(out, json_string(a->project));
	json_t *src = seed;
	if (!json_is_array(src)) {
		src = json_array();
		for (size_t i = 0; i < ndef; i++)
			json_array_append_new(src, json_string(def[i]));
	} else {
		json_incref(src);
	}
	size_t i;
	json_t *v;
	json_array_foreach(src, i, v)
	{
		const char *rel = json_string_value(v);
		if (!rel || !*rel)
			continue;
		for (const char *p = rel;; p++) {
			if (*p == '\\' || !*p) {
				char *full =
					acs_xasprintf("%s\\%.*s", a->project, (int)(p - rel), rel);
				if (!path_in(out, full))
					json_array_append_new(out, json_string(full));
				free(full);
			}
			if (!*p)
				break;
		}
	}
	json_decref(src);
	return out;
}

static void state_free(struct sim_ado *a)
{
	for (size_t i = 0; i < a->nwis; i++)
		wi_free(a->wis[i]);
	free(a->wis);
	a->wis = NULL;
	a->nwis = a->capwis = 0;
	while (a->blobs) {
		struct ado_blob *b = a->blobs;
		a->blobs = b->next;
		free(b->name);
		free(b->data);
		free(b);
	}
	while (a->subs) {
		struct ado_sub *s = a->subs;
		a->subs = s->next;
		json_decref(s->doc);
		free(s);
	}
	for (size_t i = 0; i < a->npats; i++)
		a->pats[i].head = a->pats[i].n = 0;
}

/* Seed work items go through the same patch rules as POST $Type. */
static int state_load(struct sim_ado *a, char err[ACS_ERR_LEN])
{
	a->next_id = 1;
	a->next_comment_id = 1000000;
	a->next_file_id = 0;
	a->watermark = 1;
	json_t *items = json_object_get(a->cfg, "work_items");
	size_t i;
	json_t *it;
	json_array_foreach(items, i, it)
	{
		const struct ado_type_def *t = type_find(jstr(it, "type"));
		json_t *fields = json_object_get(it, "fields");
		if (!t || !json_is_object(fields)) {
			snprintf(err, ACS_ERR_LEN,
				 "ado seed: work_items[%zu] needs a known \"type\" "
				 "and \"fields\"",
				 i);
			return ACS_ECONFIG;
		}
		struct ado_req r = { .a = a, .me = a->pats[0].user };
		json_t *ops = json_array();
		const char *k;
		json_t *v;
		json_object_foreach(fields, k, v)
		{
			char *path = acs_xasprintf("/fields/%s", k);
			json_array_append_new(ops, json_pack("{s:s,s:s,s:O}", "op", "add", "path",
							     path, "value", v));
			free(path);
		}
		struct patch p = { .r = &r, .type = t, .bypass = true };
		p.fields = json_pack("{s:s,s:s,s:s,s:s}", "System.AreaPath", a->project,
				     "System.TeamProject", a->project, "System.IterationPath",
				     a->project, "System.WorkItemType", t->name);
		json_object_set_new(p.fields, "System.CommentCount", json_integer(0));
		json_object_set_new(p.fields, "Microsoft.VSTS.Common.Priority", json_integer(2));
		p.relations = json_array();
		bool ok = patch_apply_all(&p, ops);
		json_decref(ops);
		if (!ok) {
			snprintf(err, ACS_ERR_LEN, "ado seed: work_items[%zu]: %s", i, p.msg);
			patch_free(&p);
			return ACS_ECONFIG;
		}
		uint64_t now = sim_now_ms(a->sim);
		char *me = user_string(r.me);
		const char *dk[] = { "System.CreatedDate", "System.ChangedDate",
				     "Microsoft.VSTS.Common.StateChangeDate" };
		for (size_t j = 0; j < ACS_ARRAY_SIZE(dk); j++)
			if (!json_object_get(p.fields, dk[j]))
				json_object_set_new(p.fields, dk[j], jtime(now));
		if (!json_object_get(p.fields, "System.CreatedBy"))
			json_object_set_new(p.fields, "System.CreatedBy", json_string(me));
		if (!json_object_get(p.fields, "System.ChangedBy"))
			json_object_set_new(p.fields, "System.ChangedBy", json_string(me));
		free(me);
		struct ado_wi *wi = acs_xcalloc(1, sizeof(*wi));
		wi->id = a->next_id++;
		wi->rev = 1;
		wi->fields = json_incref(p.fields);
		wi->relations = json_incref(p.relations);
		wi->comments = json_array();
		wi->watermark = ++a->watermark;
		wi->changed_ms = now;
		if (a->nwis == a->capwis) {
			a->capwis = a->capwis ? a->capwis * 2 : 64;
			a->wis = acs_xrealloc(a->wis, a->capwis * sizeof(*a->wis));
		}
		a->wis[a->nwis++] = wi;
		patch_free(&p);
	}
	return 0;
}

static void ado_reset(void *impl)
{
	struct sim_ado *a = impl;
	char err[ACS_ERR_LEN];
	state_free(a);
	/* The seed loaded once already, so it loads again. */
	acs_require(state_load(a, err) == 0);
}

static json_t *ado_info(void *impl)
{
	struct sim_ado *a = impl;
	/* Exactly the keys product.md §2 names (the project id: GET _apis/projects). */
	return json_pack("{s:s,s:s,s:s,s:s}", "base_url", sim_service_origin(a->svc),
			 "organization", a->org, "project", a->project, "pat", a->pats[0].pat);
}

/* POST /_sim/churn: what h_wi_update does for a PATCH [{"op": "add", "path":
 * "/fields/<field>", "value": value}] by the user of PAT actor, without the
 * HTTP round trip. */
static int ado_churn_edit(void *impl, const char *ids, const char *field, const char *value,
			  const char *actor)
{
	struct sim_ado *a = impl;
	long id;
	struct ado_wi *wi = parse_id(ids, &id) ? wi_live(a, id) : NULL;
	if (!wi)
		return -1;
	struct ado_req r = { .a = a, .me = a->pats[0].user };
	for (size_t i = 0; actor && i < a->npats; i++) {
		if (!strcmp(a->pats[i].pat, actor))
			r.me = a->pats[i].user;
	}
	char *path = acs_xasprintf("/fields/%s", *field ? field : "System.Title");
	json_t *ops = json_pack("[{s:s,s:s,s:s}]", "op", "add", "path", path, "value", value);
	free(path);
	struct patch p = { .r = &r, .wi = wi, .type = type_find(wi_type(wi)) };
	patch_copy_item(&p, wi);
	bool ok = patch_apply_all(&p, ops);
	json_decref(ops);
	if (ok && patch_changes(&p))
		commit_update(&p, "html");
	patch_free(&p);
	return ok ? 0 : -1;
}

static void ado_free(void *impl)
{
	struct sim_ado *a = impl;
	if (!a)
		return;
	state_free(a);
	for (size_t i = 0; i < a->npats; i++)
		free(a->pats[i].ts);
	free(a->pats);
	cache_free(a);
	free(a->idrefs);
	free(a->idtexts);
	free(a->users);
	free(a->fields);
	json_decref(a->field_index);
	json_decref(a->areas);
	json_decref(a->iterations);
	free(a);
}

static const struct sim_service_ops ado_ops = {
	.name = "ado",
	.info = ado_info,
	.reset = ado_reset,
	.hook = ado_hook,
	.fault_body = ado_fault_body,
	.delivery_done = ado_delivery_done,
	.target_live = ado_target_live,
	.free = ado_free,
	.churn_edit = ado_churn_edit,
};

static const char *def_str(json_t *cfg, const char *key, const char *def)
{
	const char *s = jstr(cfg, key);
	return s && *s ? s : def;
}

static enum ftype custom_type(const char *t, bool *ok)
{
	*ok = true;
	if (ieq(t, "string"))
		return FT_STRING;
	if (ieq(t, "integer"))
		return FT_INT;
	if (ieq(t, "double"))
		return FT_DOUBLE;
	if (ieq(t, "dateTime"))
		return FT_DATE;
	if (ieq(t, "html"))
		return FT_HTML;
	if (ieq(t, "boolean"))
		return FT_BOOL;
	*ok = false;
	return FT_STRING;
}

static int load_config(struct sim_ado *a, long rate_limit, char err[ACS_ERR_LEN])
{
	json_t *cfg = a->cfg;
	a->org = def_str(cfg, "organization", "contoso");
	a->project = def_str(cfg, "project", "Platform");
	a->project_id = def_str(cfg, "project_id", "5c1d2f7a-8b3e-4d6f-9a21-0e7b4c9d3f58");
	snprintf(a->collection_id, sizeof(a->collection_id), "%s",
		 "e2a7c9b1-4d3f-4a8e-b6c5-7f1d0e9a2b34");
	snprintf(a->account_id, sizeof(a->account_id), "%s",
		 "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e");
	snprintf(a->host_id, sizeof(a->host_id), "%s", "3b1e2f4a-6c7d-4e8f-9a0b-1c2d3e4f5a6b");

	json_t *users = sim_users(a->sim);
	a->nusers = json_array_size(users);
	if (!a->nusers) {
		snprintf(err, ACS_ERR_LEN, "ado seed: at least one user is needed");
		return ACS_ECONFIG;
	}
	a->users = acs_xcalloc(a->nusers, sizeof(*a->users));
	a->idrefs = acs_xcalloc(a->nusers, sizeof(*a->idrefs));
	a->idtexts = acs_xcalloc(a->nusers, sizeof(*a->idtexts));
	for (size_t i = 0; i < a->nusers; i++) {
		json_t *u = json_array_get(users, i);
		struct ado_user *au = &a->users[i];
		au->name = jstr(u, "name");
		au->email = jstr(u, "email");
		au->id = jstr(u, "ado_id");
		if (!au->name || !au->email || !au->id) {
			snprintf(err, ACS_ERR_LEN, "seed: users[%zu] needs name, email and ado_id",
				 i);
			return ACS_ECONFIG;
		}
		char *d = b64(au->id, strlen(au->id), sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
		snprintf(au->descriptor, sizeof(au->descriptor), "aad.%s", d);
		free(d);
	}
	const char *pat = jstr(cfg, "pat");
	json_t *pats = json_object_get(cfg, "pats");
	if (!pat || !*pat || (pats && !json_is_object(pats))) {
		snprintf(err, ACS_ERR_LEN,
			 "ado seed: \"pat\" must be a non-empty string and "
			 "\"pats\" an object");
		return ACS_ECONFIG;
	}
	a->pats = acs_xcalloc(1 + json_object_size(pats), sizeof(*a->pats));
	const char *owner = jstr(cfg, "pat_user");
	a->pats[0].pat = pat;
	a->pats[0].user = owner ? user_resolve(a, owner) : &a->users[0];
	a->npats = 1;
	const char *k;
	json_t *v;
	json_object_foreach(pats, k, v)
	{
		a->pats[a->npats].pat = k;
		a->pats[a->npats].user = user_resolve(a, json_string_value(v));
		if (!a->pats[a->npats].user) {
			snprintf(err, ACS_ERR_LEN, "ado seed: pats: unknown user %s",
				 json_string_value(v) ? json_string_value(v) : "(not a string)");
			return ACS_ECONFIG;
		}
		a->npats++;
	}
	if (!a->pats[0].user) {
		snprintf(err, ACS_ERR_LEN, "ado seed: pat_user %s is not a seeded user", owner);
		return ACS_ECONFIG;
	}
	json_t *rl = json_object_get(cfg, "rate_limit");
	json_t *win = json_object_get(cfg, "rate_limit_window_s");
	a->rate_limit = rate_limit > 0	      ? rate_limit
			: json_is_integer(rl) ? (long)json_integer_value(rl)
					      : 0;
	a->window_ms = (uint64_t)(json_is_integer(win) ? json_integer_value(win) : 300) * 1000;
	if (a->rate_limit < 0 || a->rate_limit > 10000000 || a->window_ms == 0) {
		snprintf(err, ACS_ERR_LEN,
			 "ado seed: rate_limit must be >= 0 and "
			 "rate_limit_window_s > 0");
		return ACS_ECONFIG;
	}
	for (size_t i = 0; a->rate_limit && i < a->npats; i++)
		a->pats[i].ts = acs_xcalloc((size_t)a->rate_limit, sizeof(uint64_t));

	static const uint64_t def_transient[] = {
		1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000
	};
	static const uint64_t def_probation[] = { 20 * 60000,  40 * 60000,  80 * 60000, 160 * 60000,
						  320 * 60000, 640 * 60000, 900 * 60000 };
	json_t *wh = json_object_get(cfg, "webhook");
	json_t *to = json_object_get(wh, "timeout_ms");
	a->timeout_ms = json_is_integer(to) && json_integer_value(to) > 0
				? (uint64_t)json_integer_value(to)
				: 20000;
	if (!load_delays(json_object_get(wh, "transient_delays_ms"), a->transient, &a->ntransient,
			 def_transient, ACS_ARRAY_SIZE(def_transient)) ||
	    !load_delays(json_object_get(wh, "probation_delays_ms"), a->probation, &a->nprobation,
			 def_probation, ACS_ARRAY_SIZE(def_probation)) ||
	    !a->ntransient) {
		snprintf(err, ACS_ERR_LEN,
			 "ado seed: webhook delays must be arrays of at most %d "
			 "non-negative integers (transient: at least one)",
			 ADO_MAX_DELAYS);
		return ACS_ECONFIG;
	}

	json_t *custom = json_object_get(cfg, "custom_fields");
	a->fields = acs_xcalloc(ACS_ARRAY_SIZE(builtin_fields) + json_array_size(custom),
				sizeof(*a->fields));
	memcpy(a->fields, builtin_fields, sizeof(builtin_fields));
	a->nfields = ACS_ARRAY_SIZE(builtin_fields);
	size_t i;
	json_array_foreach(custom, i, v)
	{
		bool ok;
		struct ado_field *f = &a->fields[a->nfields];
		f->ref = jstr(v, "referenceName");
		f->name = def_str(v, "name", f->ref);
		f->type = custom_type(jstr(v, "type"), &ok);
		if (!f->ref || !ok || field_find(a, f->ref)) {
			snprintf(err, ACS_ERR_LEN,
				 "ado seed: custom_fields[%zu] needs a new "
				 "referenceName and a known type",
				 i);
			return ACS_ECONFIG;
		}
		a->nfields++;
	}
	a->field_index = json_object();
	for (size_t fi = 0; fi < a->nfields; fi++)
		if (!json_object_get(a->field_index, a->fields[fi].ref))
			json_object_set_new(a->field_index, a->fields[fi].ref,
					    json_integer((json_int_t)fi));
	static const char *const def_areas[] = { "Integrations", "Web" };
	static const char *const def_iters[] = { "Sprint 1", "Sprint 2" };
	a->areas =
		load_paths(a, json_object_get(cfg, "areas"), def_areas, ACS_ARRAY_SIZE(def_areas));
	a->iterations = load_paths(a, json_object_get(cfg, "iterations"), def_iters,
				   ACS_ARRAY_SIZE(def_iters));
	return 0;
}

struct sim_ado *sim_ado_new(struct sim *sim, long rate_limit, char err[ACS_ERR_LEN])
{
	struct sim_ado *a = acs_xcalloc(1, sizeof(*a));
	a->sim = sim;
	a->cfg = sim_seed_part(sim, "ado");
	if (load_config(a, rate_limit, err)) {
		ado_free(a);
		return NULL;
	}
	/* The service first: seed work items render URLs with its origin. */
	a->svc = sim_service_new(sim, &ado_ops, a, err);
	if (!a->svc) {
		ado_free(a);
		return NULL;
	}
	sim_service_set_fallback(a->svc, ado_dispatch, a);
	if (state_load(a, err)) {
		/* ops->free runs at sim_close: only drop the world here. */
		state_free(a);
		return NULL;
	}
	return a;
}

struct sim_service *sim_ado_service(struct sim_ado *ado)
{
	return ado->svc;
}
