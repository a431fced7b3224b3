/* SPDX-License-Identifier: MIT */
/* Shared fixture of the tests that run the engine's parts against both
 * simulators in-process (syncer, sweep): the simulated world, a curl loop and
 * both clients, a receiver subscribed to both services' webhooks, a store and
 * a config, plus synchronous wrappers acting as a person on either side. */
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
#include "sim.h"
#include "store.h"

#define WAIT_MS 30000
#define LIST_ID "901110236848"
#define AVERY 54098740
#define SAM 54098741

struct acs_syncer;
struct acs_scheduler;
struct acs_sweep;

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
