/* SPDX-License-Identifier: MIT */
/* Shared fixture of the tests that run against the simulators in-process.
 * struct sim_world: both simulators listening on loopback and what they tell a
 * client, for any such test (clients, preflight, registrar, engine). struct env:
 * the engine parts' world on top (syncer, sweep, attachments, backfill): a curl
 * loop and both clients, a receiver subscribed to both services' webhooks, a
 * store and a config, plus synchronous wrappers acting as a person on either side. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "governor.h"
#include "http_server.h"
#include "inbox.h"
#include "sim.h"
#include "store.h"

#define WAIT_MS 30000
#define LIST_ID "901110236848"
#define AVERY 54098740
#define SAM 54098741

struct acs_syncer;
struct acs_scheduler;
struct acs_sweep;
struct sim_ado;
struct sim_clickup;

/* --- the simulator world ------------------------------------------------------------ */

/** Both simulators (or ADO's alone) and what /_sim/info tells a client, copied. */
struct sim_world {
	struct sim *sim;
	struct sim_ado *sa;	     /**< the ADO simulator */
	struct sim_clickup *sc;	     /**< the ClickUp simulator, NULL with ado_only */
	struct sim_service *ado_svc; /**< listening on 127.0.0.1 */
	struct sim_service *cu_svc;  /**< listening on 127.0.0.1, NULL with ado_only */
	char ado_origin[128];	     /**< ADO base_url */
	char org[64], project[64], pat[128];
	char cu_base[128], cu_origin[128], cu_token[128], team[32], list[32]; /**< ClickUp */
	char user_email[96], user_name[96], user_id[64]; /**< first seeded user: owns the PAT */
	char other_email[96], other_name[96];		 /**< the second seeded user */
};

struct sim_world_opts {
	const char *seed_path; /**< NULL: the default seed */
	long ado_rate_limit;   /**< ADO TSTUs per window; 0 = unthrottled */
	bool ado_only;	       /**< no ClickUp simulator */
};

/** Start the simulators on loop (o may be NULL: defaults) into w (zeroed first); fails
 *  the test on any error. */
void sim_world_start(struct sim_world *w, uv_loop_t *loop, const struct sim_world_opts *o);
/** Close the simulators and run loop until they are. */
void sim_world_close(struct sim_world *w, uv_loop_t *loop);
/** The default seed, parsed (new reference), for a test to change. */
json_t *sim_world_default_seed(void);
/** Write seed (reference stolen) as dir/seed.json; the path (free()). */
char *sim_world_seed_file(json_t *seed, const char *dir);

/** A config from INI text (name: the file name its messages cite) with environment
 *  lookups off, acs_config_finish run; fails the test on any error. Free with
 *  acs_config_free. */
struct acs_config *sim_config_load(const char *name, const char *text);

struct bodies {
	char **v;
	size_t n;
};

struct env {
	uv_loop_t loop;
	struct sim *sim;
	struct sim_service *ado_svc, *cu_svc;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	struct acs_http_server *rx;
	struct acs_store *st;
	struct acs_config *cfg;
	struct acs_syncer *s;
	struct acs_scheduler *sched; /**< used by the sweep tests */
	struct acs_sweep *sw;
	char *dir, *db;
	char ado_origin[128], org[64], project[64], pat[128];
	char cu_base[128], cu_token[128], cu_origin[128];
	struct bodies ado_rx, cu_rx;
	size_t ado_log_mark, cu_log_mark;
};

struct raw {
	int done;
	long status;
	int error; /**< transport error, 0 when an answer came */
	char *body;
};

struct reqs {
	size_t all, writes;
	char paths[2048];
};

struct wi_cap {
	int done;
	enum acs_rest_class cls;
	char msg[ACS_ERR_LEN];
	struct acs_ado_work_item *wi;
};

struct task_cap {
	int done;
	enum acs_rest_class cls;
	long status;
	char msg[ACS_ERR_LEN];
	struct acs_clickup_task *t;
};

/** Build the world on e (zeroed by the caller) with the given config text:
 *  simulators, clients, receiver and subscriptions, store and config. */
void sim_env_setup(struct env *e, const char *cfg_text);
/** Close what sim_env_setup built (the caller stops its own parts first) and
 *  free e. */
void sim_env_teardown(struct env *e);

void set_flag(void *arg);
void copy_str(char *dst, size_t n, const json_t *o, const char *key);
void on_rx(struct acs_http_req *req, void *arg);
void bodies_clear(struct bodies *b);
void bodies_drop(struct bodies *b, size_t n);
void on_raw(const struct acs_http_response *resp, void *arg);
char *http(struct env *e, const char *method, const char *url, const char *auth, const char *body);
/** method url through cl with a JSON content type and header (a full "Name: value"
 *  line or NULL); fails the test on a transport error, or unless the status is
 *  want_status (0: any 2xx). The body (free()). */
char *sim_http(uv_loop_t *loop, struct acs_curl_loop *cl, const char *method, const char *url,
	       const char *header, const char *body, long want_status);
void fault(struct env *e, const char *origin, const char *json);
struct reqs requests_since(struct env *e, const char *origin, size_t *mark);
struct reqs ado_reqs(struct env *e);
struct reqs cu_reqs(struct env *e);
void drain(struct env *e);
struct acs_governor_opts fast_governor(enum acs_governor_service svc);
void on_wi(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg);
struct acs_ado_work_item *wi_wait(struct env *e, struct wi_cap *c);
struct acs_ado_work_item *ado_get(struct env *e, int64_t id);
int64_t ado_human_create(struct env *e, const char *title, const char *area);
void ado_human_update(struct env *e, int64_t id, const struct acs_ado_fields *f);
void on_task(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg);
struct acs_clickup_task *task_wait(struct env *e, struct task_cap *c);
struct acs_clickup_task *cu_get(struct env *e, const char *id);
char *cu_human_create(struct env *e, const char *name);
void cu_human_update(struct env *e, const char *id, const struct acs_clickup_task_changes *ch);

/* --- typed client callbacks into one capture --------------------------------------------- */

/** What a client call's callback saw; the payload is the test's to free. */
struct call_cap {
	int done;
	enum acs_rest_class cls;
	long status;
	void *payload;
};

void cap_ado_done(const struct acs_ado_result *res, void *arg);
void cap_ado_wi(const struct acs_ado_result *res, struct acs_ado_work_item *wi, void *arg);
void cap_ado_sub(const struct acs_ado_result *res, struct acs_ado_subscription *s, void *arg);
void cap_ado_subs(const struct acs_ado_result *res, struct acs_ado_subscription_list *l, void *arg);
void cap_cu_done(const struct acs_clickup_result *res, void *arg);
void cap_cu_task(const struct acs_clickup_result *res, struct acs_clickup_task *t, void *arg);
void cap_cu_hook(const struct acs_clickup_result *res, struct acs_clickup_webhook *w, void *arg);
void cap_cu_hooks(const struct acs_clickup_result *res, struct acs_clickup_webhooks *w, void *arg);
/** Run loop until k is done; fails the test unless its class is OK. */
void cap_wait_ok(uv_loop_t *loop, struct call_cap *k);

/* --- engine parts on the env ------------------------------------------------------------ */

/** e->s: a syncer on e's store, clients and config, started. */
void sim_env_syncer_up(struct env *e);
/** Close e->s and set it NULL. */
void sim_env_syncer_down(struct env *e);
/** e->sched: a scheduler working the inbox through e->s, polling and backing off fast. */
void sim_env_scheduler_up(struct env *e);
/** Close e->sched (when there is one) and set it NULL. */
void sim_env_scheduler_down(struct env *e);
/** Both simulators stop delivering webhooks (they queue them). */
void sim_env_pause_deliveries(struct env *e);
/** Run text (printf format; one or more statements) on the store's writer; the first
 *  column of the last row (0 when none). Fails the test on an SQL error. */
int64_t sim_env_sql(struct env *e, const char *fmt, ...) ACS_PRINTF(2, 3);
/** The inbox's counts by state. */
struct acs_inbox_counts sim_env_inbox_counts(struct env *e);
/** Rows in every state. */
int64_t sim_env_inbox_total(const struct acs_inbox_counts *c);
