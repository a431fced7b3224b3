/* SPDX-License-Identifier: MIT */
/* Webhook registration: make both services' subscriptions exactly what the
 * mappings need (ADO service hooks, one ClickUp webhook), repair ours, never
 * touch anyone else's. Backs `register-webhooks` and the engine's checks. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "common.h"
#include "config.h"
#include "store.h"

/*
 * DESIGN
 *   A run is: read our rows of the meta table, then Azure DevOps (list the
 *   projects, list the "tfs" subscriptions, plan, apply one call at a time),
 *   then ClickUp (list the workspace's webhooks, plan, apply), then one write
 *   job that records the outcome in meta, then the callback. Nothing runs in
 *   parallel: the volume is small and a sequence keeps the outcome readable.
 *
 *   Ours. A subscription or webhook is ours when its target URL is exactly
 *   [server] public_url + ACS_REGISTRAR_ADO_PATH (or _CLICKUP_PATH). Anything
 *   else is someone else's and is never changed, whatever it looks like.
 *
 *   Azure DevOps. One subscription per (mapped project, event type) for the
 *   five work item events, consumer webHooks/httpRequest, resourceVersion
 *   1.0, publisherInputs.projectId = the project's GUID (the name in the
 *   config is resolved through the projects API), Basic auth from [ado]
 *   webhook_username / webhook_password (the PAT never goes there), no
 *   work item type, changed-fields, comment or header filters. Several
 *   mappings on one project share one set of five: filtered by areaPath when
 *   all of them name the same area path, else project-wide (the engine
 *   routes each event to its mapping by area path anyway). Ours that differ
 *   (status other than enabled, event, project, filters, consumer, user name,
 *   password presence) are replaced with PUT, which re-enables them; when the
 *   service refuses the PUT or the answer is still not enabled, the
 *   subscription is deleted and created again. Ours that match no needed
 *   subscription fill a missing one (PUT) before any create, the rest
 *   (duplicates, projects no longer mapped) are deleted.
 *
 *   The service masks basicAuthPassword on reads, so a changed password
 *   cannot be seen on the subscriptions. Instead meta key
 *   ACS_REGISTRAR_ADO_CRED_KEY holds "v1:<salt>:<hash>", a keyed BLAKE2b of
 *   the user name and password last registered (random salt; nothing goes to
 *   ADO). When it does not match the config (or is missing, e.g. a new
 *   database) every subscription of ours is replaced once ("credentials
 *   refreshed"); the new value is written only when the whole ADO part
 *   succeeded.
 *
 *   ClickUp. One webhook with the task and comment events the engine needs
 *   (ACS_REGISTRAR_CLICKUP_EVENTS). ClickUp takes at most one location
 *   filter, so the webhook is filtered by list_id when all mappings use the
 *   same list, and workspace-wide otherwise. The location of a webhook cannot
 *   be changed, so ours with another location are deleted; of those left the
 *   best one is kept (secret known, right events, active). Wrong events or a
 *   health status other than active (failing, suspended) are fixed with PUT
 *   (which also re-activates). Its secret must be in meta as
 *   ACS_REGISTRAR_SECRET_PREFIX + id: when it is not (database lost), the
 *   secret the webhook listing carries (the SPEC's GetWebhooks example has
 *   one) is stored; when the listing has none, the webhook is deleted and
 *   created again to obtain a new one. Secrets of webhooks that no longer
 *   exist are removed from meta.
 *
 *   Health. Every item carries the state the listing showed (ADO status,
 *   ClickUp health and fail_count), its events, the last delivery stored
 *   in meta and the action the state calls for. ADO: any status other than
 *   enabled (onProbation, disabledBySystem, disabledByUser,
 *   disabledByInactiveIdentity) is re-enabled by the PUT, and recreated
 *   when the PUT does not make it enabled. ClickUp: failing (deliveries
 *   are being dropped) and suspended (none are sent) are both re-activated
 *   by the PUT with status "active", which also resets fail_count.
 *
 *   No [map] section: nothing is needed, and nothing is touched (deleting
 *   every subscription because a file lost its mappings would be worse than
 *   leaving a few idle ones).
 *
 * OWNERSHIP
 *   cfg, the clients and the store are borrowed until the callback has run;
 *   the result belongs to the callback (acs_registrar_result_free, which also
 *   wipes the secrets). The secrets it carries must never be printed.
 */

/** Receiver paths appended to [server] public_url. */
#define ACS_REGISTRAR_ADO_PATH "/webhooks/ado"
#define ACS_REGISTRAR_CLICKUP_PATH "/webhooks/clickup"
/** meta key prefix of a ClickUp webhook secret; the webhook id follows. */
#define ACS_REGISTRAR_SECRET_PREFIX "clickup.webhook_secret."
/** meta key prefix of the last delivery received from a subscription or
 *  webhook (its id follows; the value is Unix ms in decimal). The engine
 *  writes them; runs read them into the report and drop those of ids that
 *  no longer exist. */
#define ACS_REGISTRAR_DELIVERY_PREFIX "webhook.last_delivery."
/** meta key of the fingerprint of the ADO Basic credentials last registered. */
#define ACS_REGISTRAR_ADO_CRED_KEY "ado.webhook_credentials"
/** The ClickUp events the webhook subscribes to (clickup.md §7). */
#define ACS_REGISTRAR_CLICKUP_EVENTS                                                             \
	"taskCreated", "taskUpdated", "taskDeleted", "taskPriorityUpdated", "taskStatusUpdated", \
		"taskAssigneeUpdated", "taskDueDateUpdated", "taskTagUpdated", "taskMoved",      \
		"taskCommentPosted", "taskCommentUpdated"
/** The ADO work item events, one subscription each per project. */
#define ACS_REGISTRAR_ADO_EVENTS                                                          \
	"workitem.created", "workitem.updated", "workitem.commented", "workitem.deleted", \
		"workitem.restored"

enum acs_registrar_service {
	ACS_REGISTRAR_ADO = 0,
	ACS_REGISTRAR_CLICKUP,
	ACS_REGISTRAR_DATABASE, /**< the run could not read our rows of meta */
};

/** What a run did to one subscription or webhook. */
enum acs_registrar_outcome {
	ACS_REGISTRAR_UNCHANGED = 0, /**< already right: no call made */
	ACS_REGISTRAR_CREATED,	     /**< did not exist */
	ACS_REGISTRAR_UPDATED,	     /**< fixed in place (PUT) or its secret stored */
	ACS_REGISTRAR_RECREATED,     /**< deleted and created again (or vanished) */
	ACS_REGISTRAR_DELETED,	     /**< ours but not needed (duplicate, unmapped) */
	ACS_REGISTRAR_FAILED,	     /**< detail says why; the next run retries */
};

/** The repair a subscription needs, planned from the service's listing
 *  (HEALTH in the DESIGN above). */
enum acs_registrar_action {
	ACS_REGISTRAR_ACTION_NONE = 0,	    /**< right as it is */
	ACS_REGISTRAR_ACTION_RE_ENABLE,	    /**< PUT: ADO status not enabled, ClickUp not active */
	ACS_REGISTRAR_ACTION_UPDATE_EVENTS, /**< PUT with the events we need */
	ACS_REGISTRAR_ACTION_UPDATE,	    /**< other settings (filters, credentials, secret) */
	ACS_REGISTRAR_ACTION_RECREATE,	    /**< delete (or vanished) and create again */
	ACS_REGISTRAR_ACTION_CREATE,	    /**< missing */
	ACS_REGISTRAR_ACTION_DELETE,	    /**< ours but not needed (duplicate, unmapped) */
};

/** One line of the summary. */
struct acs_registrar_item {
	enum acs_registrar_service service;
	enum acs_registrar_outcome outcome;
	char *label;  /**< "ado workitem.updated Platform", "clickup webhook list 901" */
	char *id;     /**< subscription / webhook id concerned; NULL when none */
	char *detail; /**< why ("re-enabled", "duplicate"...), the error when FAILED,
		       *  "" when there is nothing to add */
	enum acs_registrar_action action; /**< what the listing called for; RECREATE also
					   *  when a refused PUT turned into one */
	char **events; /**< the events it delivers (as listed; as needed when missing
			   *  or once a run fixed them) */
	size_t n_events;
	char *state;		  /**< as listed: ADO status ("enabled" when the service omits
			     *  it), ClickUp health.status; NULL: it does not exist */
	char *state_after;	  /**< after the run (the service's answer to the repair);
			     *  NULL when it does not exist; = state for a check, an
			     *  unchanged one or a failed repair */
	int64_t fail_count;	  /**< ClickUp health.fail_count as listed; -1: ADO or none */
	int64_t fail_count_after; /**< the same after the run */
	int64_t last_delivery_ms; /**< meta ACS_REGISTRAR_DELIVERY_PREFIX + id; 0: none */
};

/** A live ClickUp webhook of ours and its signing secret. */
struct acs_registrar_secret {
	char *webhook_id;
	char *secret; /**< never print it */
};

struct acs_registrar_result {
	struct acs_registrar_item *items; /**< ADO first (by project, then event), then ClickUp */
	size_t n_items;
	size_t n_failed; /**< items with ACS_REGISTRAR_FAILED */
	bool dry_run;	 /**< from acs_registrar_check: outcomes are what a run would do */
	/** Every ClickUp webhook of ours that exists after the run with the
	 *  secret it signs with (normally one): hand them to the intake. */
	struct acs_registrar_secret *secrets;
	size_t n_secrets;
};

/** The result is owned by the callback. */
typedef void (*acs_registrar_done_cb)(struct acs_registrar_result *res, void *arg);

/** Create or repair the subscriptions of both services (see DESIGN). loop
 *  is the loop the clients and the store run on. cfg must hold public_url,
 *  [clickup] workspace_id and the mappings (acs_config_check_serving). cb
 *  runs exactly once, from the loop, after the last call finished, when
 *  0 is returned; on a negative return (-EINVAL for a missing argument or
 *  public_url/workspace_id, or the store's error) it never runs. */
int acs_registrar_run(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
		      struct acs_clickup_client *cu, struct acs_store *store,
		      acs_registrar_done_cb cb, void *arg);

/** acs_registrar_run without changing anything (`register-webhooks
 *  --check`): the same reads and plan, no create/PUT/DELETE call and no
 *  meta write; each outcome says what a run would do (a PUT the service
 *  would refuse shows as "updated", not "recreated"). The result carries
 *  no secrets. Same arguments, callback and errors as acs_registrar_run. */
int acs_registrar_check(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
			struct acs_clickup_client *cu, struct acs_store *store,
			acs_registrar_done_cb cb, void *arg);

/** The stored ClickUp secrets, for the intake at start-up. The callback
 *  gets a result with no items and secrets from meta (owned by the
 *  callback), or rc < 0 and NULL. Returns 0 or the store's error (then cb
 *  never runs). */
typedef void (*acs_registrar_secrets_cb)(int rc, struct acs_registrar_result *res, void *arg);
int acs_registrar_load_secrets(struct acs_store *store, acs_registrar_secrets_cb cb, void *arg);

/** Free res and wipe its secrets. NULL is a no-op. */
void acs_registrar_result_free(struct acs_registrar_result *res);

/** "none", "re-enable", "update events", "update", "recreate", "create",
 *  "delete". */
const char *acs_registrar_action_name(enum acs_registrar_action a);

/** True when some item of res still needs a repair: its action is not NONE
 *  and a run did not carry it out (a check's result: anything to repair). */
bool acs_registrar_repair_due(const struct acs_registrar_result *res);

/** "created", "unchanged", "updated", "recreated", "deleted", "failed". */
const char *acs_registrar_outcome_name(enum acs_registrar_outcome o);

/** "LABEL: OUTCOME", "LABEL: OUTCOME (DETAIL)" or "LABEL: failed: DETAIL"
 *  into buf (always NUL-terminated, truncated to len - 1). */
void acs_registrar_item_format(const struct acs_registrar_item *it, char *buf, size_t len);
