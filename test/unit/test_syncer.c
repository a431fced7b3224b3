/* SPDX-License-Identifier: MIT */
/* Unit tests for syncer: both simulators in-process on the test's loop, a real store in a
 * temp dir, and the events fed to acs_syncer_sync taken from real simulator deliveries
 * (a tiny receiver on the same loop collects the raw bodies). Each test checks both
 * sides through the clients and the writes through the simulators' request logs. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "attachments.h"
#include "clickup_client.h"
#include "comments.h"
#include "config.h"
#include "err.h"
#include "html_md.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "store.h"
#include "syncer.h"

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

/* --- syncer --- */

static void on_ready(int rc, const char *err, void *arg)
{
	if (rc)
		fail_msg("syncer start: %s", err);
	*(int *)arg = 1;
}

static void syncer_up(struct env *e)
{
	char err[ACS_ERR_LEN] = "";
	e->s = acs_syncer_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	if (!e->s)
		fail_msg("syncer: %s", err);
	int ready = 0;
	assert_int_equal(acs_syncer_start(e->s, on_ready, &ready), 0);
	acs_test_run_until(&e->loop, &ready, WAIT_MS);
}

static void syncer_down(struct env *e)
{
	int closed = 0;
	acs_syncer_close(e->s, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
	e->s = NULL;
}

static const char *cfg_text = "[ado]\norganization = contoso\nproject = Platform\n"
			      "[map integ]\nado_project = Platform\n"
			      "ado_area_path = Platform\\Integrations\n"
			      "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			      "clickup_list_id = " LIST_ID "\nstatus.Active = in progress\n";

static int setup(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	sim_env_setup(e, cfg_text);
	syncer_up(e);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	if (e->s)
		syncer_down(e);
	sim_env_teardown(e);
	return 0;
}

/* The events the fixture does not subscribe to: comments, deletes, restores. */
static int setup_all_events(void **state)
{
	setup(state);
	struct env *e = *state;
	int port = acs_http_server_port(e->rx);
	char cred[160], b64[256], auth[300];
	snprintf(cred, sizeof(cred), ":%s", e->pat);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
	static const char *const types[] = { "workitem.commented", "workitem.deleted",
					     "workitem.restored" };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(types); i++) {
		char *url = acs_xasprintf("%s/%s/_apis/hooks/subscriptions?api-version=7.1",
					  e->ado_origin, e->org);
		char *body = acs_xasprintf("{\"publisherId\":\"tfs\",\"eventType\":\"%s\","
					   "\"resourceVersion\":\"1.0\",\"consumerId\":"
					   "\"webHooks\",\"consumerActionId\":\"httpRequest\","
					   "\"publisherInputs\":{},\"consumerInputs\":{\"url\":"
					   "\"http://127.0.0.1:%d/ado\"}}",
					   types[i], port);
		free(http(e, "POST", url, auth, body));
		free(url);
		free(body);
	}
	char *url = acs_xasprintf("%s/team/36226098/webhook", e->cu_base);
	char *body = acs_xasprintf("{\"endpoint\":\"http://127.0.0.1:%d/clickup?more\","
				   "\"events\":[\"taskDeleted\"]}",
				   port);
	char tok[160];
	snprintf(tok, sizeof(tok), "Authorization: %s", e->cu_token);
	free(http(e, "POST", url, tok, body));
	free(url);
	free(body);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Driving the syncer                                                        */
/* ------------------------------------------------------------------------ */

struct outcome {
	int done;
	enum acs_job_outcome outcome;
	char msg[ACS_ERR_LEN];
};

static void on_synced(enum acs_job_outcome outcome, const char *message, void *arg)
{
	struct outcome *o = arg;
	o->outcome = outcome;
	snprintf(o->msg, sizeof(o->msg), "%s", message ? message : "");
	o->done = 1;
}

/* Syncs through acs_syncer_sync_with (the scheduler's way) when set. */
static bool with_tail;
static struct acs_job_tail tail_got;

static void on_synced_tail(enum acs_job_outcome outcome, const char *message,
			   const struct acs_job_tail *tail, void *arg)
{
	assert_non_null(tail);
	assert_non_null(tail->fn);
	tail_got = *tail;
	on_synced(outcome, message, arg);
}

struct tail_write {
	struct acs_job_tail t;
	int done;
};

static int tail_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct tail_write *w = arg;
	return w->t.fn(db, w->t.arg, err);
}

static void on_tail_written(int rc, const char *err, void *arg)
{
	struct tail_write *w = arg;
	if (rc)
		fail_msg("tail: %s", err);
	w->done = 1;
}

static int64_t log_count(struct env *e, const char *action, const char *status);

/* Sync key with the bodies received so far from the given sides (forgotten unless
 * keep). */
static const char *why = "";

static struct outcome sync_keep(struct env *e, const char *key, bool ado, bool cu, bool keep)
{
	drain(e);
	size_t n_ado = ado ? e->ado_rx.n : 0, n_cu = cu ? e->cu_rx.n : 0;
	size_t n = n_ado + n_cu;
	struct acs_job_event *ev = acs_xcalloc(n + 1, sizeof(*ev));
	size_t k = 0;
	for (size_t i = 0; i < n_ado; i++)
		ev[k++] = (struct acs_job_event){ .id = (int64_t)k + 1,
						  .source = "ado",
						  .event_type = "updated",
						  .item_key = key,
						  .body = e->ado_rx.v[i] };
	for (size_t i = 0; i < n_cu; i++)
		ev[k++] = (struct acs_job_event){ .id = (int64_t)k + 1,
						  .source = "clickup",
						  .event_type = "updated",
						  .item_key = key,
						  .body = e->cu_rx.v[i] };
	struct outcome o = { 0 };
	if (!n)
		fail_msg("no deliveries to sync for %s (%s)", key, why);
	if (with_tail) {
		/* The run's rows are handed over, not written: they appear with the tail. */
		int64_t rows = log_count(e, NULL, NULL);
		assert_int_equal(acs_syncer_sync_with(e->s, key, ev, n, NULL, on_synced_tail, &o),
				 0);
		acs_test_run_until(&e->loop, &o.done, WAIT_MS);
		assert_int_equal(log_count(e, NULL, NULL), rows);
		struct tail_write w = { .t = tail_got };
		assert_int_equal(acs_store_write(e->st, tail_fn, on_tail_written, &w), 0);
		acs_test_run_until(&e->loop, &w.done, WAIT_MS);
		assert_true(log_count(e, NULL, NULL) > rows);
		w.t.free(w.t.arg);
	} else {
		assert_int_equal(acs_syncer_sync(e->s, key, ev, n, on_synced, &o), 0);
		acs_test_run_until(&e->loop, &o.done, WAIT_MS);
	}
	free(ev);
	/* Deliveries that arrived while the sync ran stay for the next round. */
	if (ado && !keep)
		bodies_drop(&e->ado_rx, n_ado);
	if (cu && !keep)
		bodies_drop(&e->cu_rx, n_cu);
	return o;
}

static struct outcome sync_rx(struct env *e, const char *key, bool ado, bool cu)
{
	return sync_keep(e, key, ado, cu, false);
}

static void assert_done(const struct outcome *o)
{
	if (o->outcome != ACS_JOB_DONE)
		fail_msg("outcome %d: %s", o->outcome, o->msg);
}

/* --- the store --- */

struct pair_cap {
	int done;
	struct acs_pair *p;
};

static void on_pair(int rc, const char *err, struct acs_pair *p, void *arg)
{
	struct pair_cap *c = arg;
	if (rc)
		fail_msg("pair: %s", err);
	c->p = p;
	c->done = 1;
}

static struct acs_pair *pair_of_ado(struct env *e, int64_t id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_ado(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

struct log_cap {
	int done;
	struct acs_sync_log_page *page;
};

static void on_page(int rc, const char *err, struct acs_sync_log_page *p, void *arg)
{
	struct log_cap *c = arg;
	if (rc)
		fail_msg("log: %s", err);
	c->page = p;
	c->done = 1;
}

/* Rows with this action (and status when given). */
static int64_t log_count(struct env *e, const char *action, const char *status)
{
	struct log_cap c = { 0 };
	struct acs_sync_log_query q = { .action = action, .status = status, .limit = 1 };
	assert_int_equal(acs_pairs_log_list(e->st, &q, on_page, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	int64_t n = c.page->total;
	acs_sync_log_page_free(c.page);
	return n;
}

static char *log_newest(struct env *e, const char *action)
{
	struct log_cap c = { 0 };
	struct acs_sync_log_query q = { .action = action, .limit = 1 };
	assert_int_equal(acs_pairs_log_list(e->st, &q, on_page, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_true(c.page->n == 1);
	char *m = acs_xasprintf("%s|%s", c.page->rows[0].message,
				c.page->rows[0].fields ? c.page->rows[0].fields : "");
	acs_sync_log_page_free(c.page);
	return m;
}

static struct acs_pair *pair_of_cu(struct env *e, const char *id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_clickup(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

static char *web_url(struct env *e, int64_t id)
{
	return acs_xasprintf("%s/%s/%s/_workitems/edit/%" PRId64, e->ado_origin, e->org, e->project,
			     id);
}

static bool has_hyperlink(const struct acs_ado_work_item *wi, const char *url)
{
	size_t n = 0;
	for (size_t i = 0; i < wi->n_relations; i++)
		if (!strcmp(wi->relations[i].rel, "Hyperlink") &&
		    !strcmp(wi->relations[i].url, url))
			n++;
	return n == 1;
}

static bool has_tag(const struct acs_clickup_task *t, const char *tag)
{
	for (size_t i = 0; i < t->n_tags; i++)
		if (!strcmp(t->tags[i], tag))
			return true;
	return false;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* Sync our own writes' deliveries: nothing may be written, anywhere. */
static void assert_echo_round(struct env *e, const char *key)
{
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	int64_t echoes = log_count(e, "echo", "skipped");
	why = "echo round";
	struct outcome o = sync_rx(e, key, true, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	if (ra.writes || rc.writes)
		fail_msg("echo caused writes: ado [%s] clickup [%s]", ra.paths, rc.paths);
	assert_true(log_count(e, "echo", "skipped") > echoes);
}

/* An ADO item created by a human and synced: the pair, with its echoes consumed. */
static int64_t make_pair(struct env *e, const char *title, char key[32], char **task_id)
{
	int64_t id = ado_human_create(e, title, "Platform\\Integrations");
	snprintf(key, 32, "ado:%" PRId64, id);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	*task_id = acs_xstrdup(p->clickup_id);
	acs_pair_free(p);
	assert_echo_round(e, key);
	return id;
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

static void test_ado_create(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Ship the sync", "Platform\\Integrations");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	char key[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);

	/* One create on ClickUp, one PATCH (the Hyperlink) on ADO, no read of ADO. */
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(rc.writes, 1);
	assert_non_null(strstr(rc.paths, "POST /api/v2/list/" LIST_ID "/task"));
	assert_int_equal(ra.all, 1);
	assert_int_equal(ra.writes, 1);

	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	struct acs_clickup_task *t = cu_get(e, p->clickup_id);
	assert_string_equal(t->name, "Ship the sync");
	assert_string_equal(t->status, "to do"); /* New: Proposed -> the open status */
	assert_int_equal(t->priority, 2);
	assert_int_equal(t->n_assignees, 1);
	assert_int_equal(t->assignees[0].id, AVERY);
	assert_int_equal(t->n_tags, 2);
	assert_true(has_tag(t, "backend"));
	assert_true(has_tag(t, "urgent"));
	assert_int_equal(t->due_date, 1767225600000);
	char *url = web_url(e, id);
	char *footer = acs_xasprintf("\n\nAzure DevOps work item: %s", url);
	assert_true(t->description_is_markdown);
	assert_non_null(strstr(t->description, "Hello **world**"));
	assert_true(ends_with(t->description, footer));
	free(footer);
	free(url);

	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_true(has_hyperlink(wi, t->url));
	assert_int_equal(p->ado_rev, wi->rev);
	assert_int_equal(p->clickup_rev, t->date_updated);
	assert_non_null(strstr(p->base, "\"fields\""));
	assert_non_null(strstr(p->base, "\"changed\""));
	assert_null(strstr(p->base, "pending"));
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	acs_pair_free(p);
	assert_true(log_count(e, "created", "ok") == 1);

	/* Our own writes come back as webhooks: skipped, nothing written. */
	assert_echo_round(e, key);
}

static void test_clickup_create(void **state)
{
	struct env *e = *state;
	char *tid = cu_human_create(e, "From ClickUp");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	char key[64];
	snprintf(key, sizeof(key), "clickup:%s", tid);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(ra.writes, 1); /* the create carries the Hyperlink */
	assert_int_equal(rc.writes, 1); /* the footer */

	struct acs_pair *p = pair_of_cu(e, tid);
	assert_non_null(p);
	struct acs_clickup_task *t = cu_get(e, tid);
	struct acs_ado_work_item *wi = ado_get(e, p->ado_id);
	assert_string_equal(wi->title, "From ClickUp");
	assert_string_equal(wi->work_item_type, "Task");
	assert_string_equal(wi->state, "Active"); /* status.Active = in progress */
	assert_string_equal(wi->area_path, "Platform\\Integrations");
	assert_int_equal(wi->priority, 3);
	assert_string_equal(wi->assigned_to.unique_name, "sam.ortiz@example.com");
	assert_int_equal(wi->n_tags, 1);
	assert_string_equal(wi->tags[0], "sync");
	assert_true(wi->has_due_date);
	assert_int_equal(wi->due_date_ms, 1769904000000);
	assert_non_null(strstr(wi->description, "<em>markdown</em>"));
	assert_true(has_hyperlink(wi, t->url));
	char *url = web_url(e, p->ado_id);
	char *footer = acs_xasprintf("Some *markdown* text\n\nAzure DevOps work item: %s", url);
	assert_string_equal(t->description, footer);
	free(footer);
	free(url);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);

	char akey[32];
	snprintf(akey, sizeof(akey), "ado:%" PRId64, p->ado_id);
	acs_pair_free(p);
	assert_echo_round(e, akey);
	free(tid);
}

static void test_edits_mirror(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Mirror me", key, &tid);

	/* Every field edited in ADO. */
	static const char *const tags[] = { "Frontend" };
	struct acs_ado_fields f = {
		.title = "Mirrored title",
		.description = "<p>New <i>text</i></p>",
		.state = "Active",
		.priority = 1,
		.assigned_to = "sam.ortiz@example.com",
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = 1,
		.due_change = ACS_ADO_CLEAR,
	};
	ado_human_update(e, id, &f);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_int_equal(ra.all, 0); /* the delivery carried the revision: no read */
	assert_int_equal(rc.all, rc.writes);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "Mirrored title");
	assert_non_null(strstr(t->description, "New *text*"));
	assert_non_null(strstr(t->description, "Azure DevOps work item: "));
	assert_string_equal(t->status, "in progress");
	assert_int_equal(t->priority, 1);
	assert_int_equal(t->n_assignees, 1);
	assert_int_equal(t->assignees[0].id, SAM);
	assert_int_equal(t->n_tags, 1);
	assert_true(has_tag(t, "frontend"));
	assert_int_equal(t->due_date, 0);
	acs_clickup_task_free(t);
	char *last = log_newest(e, "updated");
	assert_non_null(strstr(last, "\"title\""));
	assert_non_null(strstr(last, "\"tags\""));
	free(last);
	assert_echo_round(e, key);

	/* Fields edited in ClickUp: one GET and one PATCH. */
	struct acs_clickup_task_changes ch = {
		.name = "Renamed in ClickUp",
		.markdown = "Edited **in ClickUp**",
		.status = "complete",
		.set_priority = true,
		.priority = 4,
		.set_due_date = true,
		.due_date = 1770000000000,
		.due_date_time = true,
	};
	cu_human_update(e, tid, &ch);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	ra = ado_reqs(e);
	rc = cu_reqs(e);
	assert_int_equal(ra.all, 1);
	assert_int_equal(ra.writes, 1);
	assert_int_equal(rc.all, 1); /* the GET */
	assert_int_equal(rc.writes, 0);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_string_equal(wi->title, "Renamed in ClickUp");
	assert_non_null(strstr(wi->description, "<strong>in ClickUp</strong>"));
	assert_string_equal(wi->state, "Closed");
	assert_int_equal(wi->priority, 4);
	assert_int_equal(wi->due_date_ms, 1770000000000);
	acs_ado_work_item_free(wi);
	assert_echo_round(e, key);
	free(tid);
}

/* The same through acs_syncer_sync_with: the pair's base and the log rows come with the
 * tail (assert_echo_round would see a stale base otherwise). */
static void test_edits_mirror_tail(void **state)
{
	with_tail = true;
	test_edits_mirror(state);
	with_tail = false;
}

static void test_burst_coalesces(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Burst", key, &tid);
	for (int i = 1; i <= 5; i++) {
		char title[16];
		snprintf(title, sizeof(title), "v%d", i);
		struct acs_ado_fields f = { .title = title };
		ado_human_update(e, id, &f);
	}
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs rc = cu_reqs(e);
	assert_int_equal(rc.writes, 1);
	assert_int_equal(rc.all, 1);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "v5");
	acs_clickup_task_free(t);
	free(tid);
}

static void conflict_case(struct env *e, enum acs_config_conflict policy, bool ado_last,
			  bool ado_wins)
{
	e->cfg->sync.conflict = policy;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Contested", key, &tid);
	struct acs_ado_fields f = { .title = "ADO title" };
	struct acs_clickup_task_changes ch = { .name = "ClickUp title" };
	if (ado_last) {
		cu_human_update(e, tid, &ch);
		ado_human_update(e, id, &f);
	} else {
		ado_human_update(e, id, &f);
		cu_human_update(e, tid, &ch);
	}
	int64_t conflicts = log_count(e, "conflict", "ok");
	why = "conflict";
	struct outcome o = sync_rx(e, key, true, true);
	assert_done(&o);
	assert_int_equal(log_count(e, "conflict", "ok"), conflicts + 1);
	const char *want = ado_wins ? "ADO title" : "ClickUp title";
	struct acs_ado_work_item *wi = ado_get(e, id);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(wi->title, want);
	assert_string_equal(t->name, want);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	char *last = log_newest(e, "conflict");
	assert_non_null(strstr(last, ado_wins ? "Azure DevOps wins" : "ClickUp wins"));
	assert_non_null(strstr(last, "[\"title\"]"));
	free(last);
	assert_echo_round(e, key);
	free(tid);
}

static void test_conflicts(void **state)
{
	struct env *e = *state;
	conflict_case(e, ACS_CONFLICT_NEWEST, true, true);
	conflict_case(e, ACS_CONFLICT_NEWEST, false, false);
	conflict_case(e, ACS_CONFLICT_ADO, false, true);
	conflict_case(e, ACS_CONFLICT_CLICKUP, true, false);
}

static void test_412_remerge(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Race", key, &tid);
	struct acs_clickup_task_changes ch = { .name = "Title from ClickUp" };
	cu_human_update(e, tid, &ch);
	struct acs_ado_fields f = { .priority = 1 };
	ado_human_update(e, id, &f);
	(void)ado_reqs(e);
	/* Only the ClickUp events: the PATCH tests a stale rev, gets 412, re-reads. */
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e);
	assert_int_equal(ra.writes, 2);
	assert_int_equal(ra.all, 3);
	struct acs_ado_work_item *wi = ado_get(e, id);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(wi->title, "Title from ClickUp");
	assert_int_equal(wi->priority, 1);
	assert_string_equal(t->name, "Title from ClickUp");
	assert_int_equal(t->priority, 1);
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(t);
	assert_int_equal(log_count(e, "error", NULL), 0);
	/* The ADO delivery of the human's priority change is now stale: skipped. */
	assert_echo_round(e, key);
	free(tid);
}

struct intent_cap {
	int done;
	struct acs_intent *in;
};

static void on_intent(int rc, const char *err, struct acs_intent *in, void *arg)
{
	struct intent_cap *c = arg;
	if (rc)
		fail_msg("intent: %s", err);
	c->in = in;
	c->done = 1;
}

struct page_cap {
	int done;
	struct acs_clickup_task_page *pg;
};

static void on_tasks(const struct acs_clickup_result *res, struct acs_clickup_task_page *pg,
		     void *arg)
{
	struct page_cap *c = arg;
	assert_int_equal(res->cls, ACS_REST_OK);
	c->pg = pg;
	c->done = 1;
}

static size_t tasks_named(struct env *e, const char *name)
{
	struct page_cap c = { 0 };
	struct acs_clickup_task_query q = { .list_id = LIST_ID, .include_closed = true };
	assert_int_equal(acs_clickup_list_tasks(e->cu, ACS_GOVERNOR_INTERACTIVE, &q, on_tasks, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	size_t n = 0;
	for (size_t i = 0; i < c.pg->n; i++)
		n += !strcmp(c.pg->tasks[i].name, name);
	acs_clickup_task_page_free(c.pg);
	return n;
}

static void test_crash_during_create(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Crashy", "Platform\\Integrations");
	char key[32], sid[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	snprintf(sid, sizeof(sid), "%" PRId64, id);
	drain(e);

	/* What a crashed run left: the intent, and the twin created remotely. */
	struct acs_pair *none = pair_of_ado(e, id);
	assert_null(none);
	struct intent_cap ic = { 0 };
	assert_int_equal(acs_pairs_intent_open(e->st, 1, "ado", sid, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	acs_intent_free(ic.in);
	char *url = web_url(e, id);
	char *md = acs_xasprintf("Hello **world**\n\nAzure DevOps work item: %s", url);
	struct acs_clickup_task_new t = { .name = "Crashy", .markdown = md, .priority = 2 };
	struct task_cap c = { 0 };
	assert_int_equal(acs_clickup_create_task(e->cu, ACS_GOVERNOR_INTERACTIVE, LIST_ID, &t,
						 on_task, &c),
			 0);
	struct acs_clickup_task *twin = task_wait(e, &c);
	free(md);
	free(url);
	drain(e);
	bodies_clear(&e->cu_rx);

	/* Restart: a new syncer on the same store. */
	syncer_down(e);
	syncer_up(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs rc = cu_reqs(e);
	assert_null(strstr(rc.paths, "POST /api/v2/list/"));
	assert_int_equal(tasks_named(e, "Crashy"), 1);
	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	assert_string_equal(p->clickup_id, twin->id);
	/* Adopted, then merged: the fields the twin lacked were pushed, the link added. */
	struct acs_clickup_task *now = cu_get(e, twin->id);
	assert_int_equal(now->n_assignees, 1);
	assert_int_equal(now->due_date, 1767225600000);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_true(has_hyperlink(wi, twin->url));
	acs_ado_work_item_free(wi);
	acs_clickup_task_free(now);
	acs_clickup_task_free(twin);
	acs_pair_free(p);
	ic = (struct intent_cap){ 0 };
	assert_int_equal(acs_pairs_intent_find(e->st, "ado", sid, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	assert_null(ic.in);
	assert_echo_round(e, key);
}

static void test_faults(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Faulty", key, &tid);
	struct acs_ado_fields f = { .title = "After faults" };
	ado_human_update(e, id, &f);

	/* 500 on the ClickUp write: retry later. */
	fault(e, e->cu_origin,
	      "{\"path\":\"/task/\",\"method\":\"PUT\",\"status\":500,\"count\":1}");
	struct outcome o = sync_keep(e, key, true, false, true);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	assert_non_null(strstr(o.msg, "500"));
	assert_true(log_count(e, "retry", "retry") >= 1);

	/* The fault is gone: the same events now go through. */
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->name, "After faults");
	acs_clickup_task_free(t);

	/* ADO side: a 503 on the PATCH is retryable. */
	struct acs_clickup_task_changes ch = { .name = "From ClickUp again" };
	cu_human_update(e, tid, &ch);
	fault(e, e->ado_origin,
	      "{\"path\":\"/_apis/wit/workitems/"
	      "\",\"method\":\"PATCH\",\"status\":503,\"count\":1}");
	o = sync_keep(e, key, false, true, true);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_string_equal(wi->title, "From ClickUp again");
	acs_ado_work_item_free(wi);

	/* 429 on the ClickUp write: retry later (last: after a 429 without Reset the
	 * governor rightly holds ClickUp calls until the window it saw ends). */
	(void)sync_rx(e, key, true, true); /* consume the echoes */
	struct acs_ado_fields f2 = { .title = "Throttled" };
	ado_human_update(e, id, &f2);
	fault(e, e->cu_origin,
	      "{\"path\":\"/task/\",\"method\":\"PUT\",\"status\":429,\"retry_after\":0,"
	      "\"count\":1}");
	o = sync_rx(e, key, true, false);
	assert_int_equal(o.outcome, ACS_JOB_RETRY);
	assert_non_null(strstr(o.msg, "429"));
	free(tid);
}

struct done_cap {
	int done;
	enum acs_rest_class cls;
};

static void on_deleted(const struct acs_clickup_result *res, void *arg)
{
	struct done_cap *c = arg;
	c->cls = res->cls;
	c->done = 1;
}

static void test_permanent_failure(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Doomed", key, &tid);
	/* The twin is gone (deletes are a later issue): the write fails for good. */
	struct done_cap c = { 0 };
	assert_int_equal(
		acs_clickup_delete_task(e->cu, ACS_GOVERNOR_INTERACTIVE, tid, on_deleted, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.cls, ACS_REST_OK);
	drain(e);
	bodies_clear(&e->cu_rx);
	struct acs_ado_fields f = { .title = "Nowhere to go" };
	ado_human_update(e, id, &f);
	struct outcome o = sync_rx(e, key, true, false);
	assert_int_equal(o.outcome, ACS_JOB_FAILED);
	assert_non_null(strstr(o.msg, "Task not found"));
	assert_non_null(strstr(o.msg, "HTTP 404"));
	char *last = log_newest(e, "error");
	assert_non_null(strstr(last, "Task not found"));
	free(last);
	free(tid);
}

static void test_unmapped_skipped(void **state)
{
	struct env *e = *state;
	int64_t id = ado_human_create(e, "Elsewhere", "Platform\\Web");
	char key[32];
	snprintf(key, sizeof(key), "ado:%" PRId64, id);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_int_equal(cu_reqs(e).all, 0);
	assert_null(pair_of_ado(e, id));
	char *last = log_newest(e, "skipped");
	assert_non_null(strstr(last, "matches no mapping"));
	free(last);

	/* An update of an unpaired ClickUp task does not start a pair. */
	char *tid = cu_human_create(e, "Orphan");
	drain(e);
	bodies_clear(&e->cu_rx);
	struct acs_clickup_task_changes ch = { .name = "Orphan 2" };
	cu_human_update(e, tid, &ch);
	char ckey[64];
	snprintf(ckey, sizeof(ckey), "clickup:%s", tid);
	(void)ado_reqs(e);
	o = sync_rx(e, ckey, false, true);
	assert_done(&o);
	assert_int_equal(ado_reqs(e).all, 0);
	last = log_newest(e, "skipped");
	assert_non_null(strstr(last, "not paired"));
	free(last);
	free(tid);
}

/* ------------------------------------------------------------------------ */
/* Comments, deletes, restores, moves                                        */
/* ------------------------------------------------------------------------ */

struct cm_cap {
	int done;
	enum acs_rest_class cls;
	int64_t ado_id;
	char cu_id[64];
	struct acs_ado_comment_list *al;
	struct acs_clickup_comment_page *cp;
};

static void on_ado_cm(const struct acs_ado_result *res, struct acs_ado_comment *cm, void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	c->ado_id = cm ? cm->id : 0;
	acs_ado_comment_free(cm);
	c->done = 1;
}

static void on_ado_done(const struct acs_ado_result *res, void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	c->done = 1;
}

static void on_cu_cm(const struct acs_clickup_result *res, struct acs_clickup_comment *cm,
		     void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->cu_id, sizeof(c->cu_id), "%s", cm ? cm->id : "");
	acs_clickup_comment_free(cm);
	c->done = 1;
}

static void on_cu_done(const struct acs_clickup_result *res, void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	c->done = 1;
}

static void on_ado_list(const struct acs_ado_result *res, struct acs_ado_comment_list *l, void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	c->al = l;
	c->done = 1;
}

static void on_cu_list(const struct acs_clickup_result *res, struct acs_clickup_comment_page *p,
		       void *arg)
{
	struct cm_cap *c = arg;
	c->cls = res->cls;
	c->cp = p;
	c->done = 1;
}

static void cap_wait(struct env *e, struct cm_cap *c)
{
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
	assert_int_equal(c->cls, ACS_REST_OK);
}

static int64_t ado_comment_add(struct env *e, int64_t id, const char *html)
{
	struct cm_cap c = { 0 };
	assert_int_equal(acs_ado_create_comment(e->ado, id, html, false, on_ado_cm, &c), 0);
	cap_wait(e, &c);
	return c.ado_id;
}

static char *cu_comment_add(struct env *e, const char *tid, const char *text)
{
	struct cm_cap c = { 0 };
	assert_int_equal(acs_clickup_create_comment(e->cu, ACS_GOVERNOR_INTERACTIVE, tid, text,
						    false, on_cu_cm, &c),
			 0);
	cap_wait(e, &c);
	return acs_xstrdup(c.cu_id);
}

/* The live comments of a work item, newest first. */
static struct acs_ado_comment_list *ado_comments(struct env *e, int64_t id)
{
	struct cm_cap c = { 0 };
	assert_int_equal(acs_ado_list_comments(e->ado, id, 0, NULL, false, on_ado_list, &c), 0);
	cap_wait(e, &c);
	return c.al;
}

static struct acs_clickup_comment_page *cu_comments(struct env *e, const char *tid)
{
	struct cm_cap c = { 0 };
	assert_int_equal(acs_clickup_list_comments(e->cu, ACS_GOVERNOR_INTERACTIVE, tid, 0, NULL,
						   on_cu_list, &c),
			 0);
	cap_wait(e, &c);
	return c.cp;
}

struct rows_cap {
	int done;
	struct acs_comment_rows *rows;
};

static void on_rows(int rc, const char *err, struct acs_comment_rows *rows, void *arg)
{
	struct rows_cap *c = arg;
	if (rc)
		fail_msg("rows: %s", err);
	c->rows = rows;
	c->done = 1;
}

static size_t comment_rows(struct env *e, int64_t sync_id)
{
	struct rows_cap c = { 0 };
	assert_int_equal(acs_comments_rows(e->st, sync_id, on_rows, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	size_t n = c.rows->n;
	acs_comment_rows_free(c.rows);
	return n;
}

static int64_t sync_id_of(struct env *e, int64_t ado_id)
{
	struct acs_pair *p = pair_of_ado(e, ado_id);
	assert_non_null(p);
	int64_t id = p->id;
	acs_pair_free(p);
	return id;
}

/* Sync the deliveries our writes caused to an ended pair: skipped, nothing written. */
static void assert_quiet_round(struct env *e, const char *key)
{
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	drain(e);
	if (!e->ado_rx.n && !e->cu_rx.n)
		return;
	why = "quiet round";
	struct outcome o = sync_rx(e, key, true, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	if (ra.writes || rc.writes)
		fail_msg("echo caused writes: ado [%s] clickup [%s]", ra.paths, rc.paths);
}

static void test_comments_both_ways(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Talk", key, &tid);
	int64_t sid = sync_id_of(e, id);

	/* ADO -> ClickUp: one POST, the body as Markdown under the author line. */
	int64_t a1 = ado_comment_add(e, id,
				     "<p>Hello <b>bold</b> and <a href=\"https://x.example/a\">a "
				     "link</a></p><ul><li>one</li><li>two</li></ul>"
				     "<pre><code>int x;</code></pre>");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs rc = cu_reqs(e);
	assert_int_equal(rc.writes, 1);
	assert_non_null(strstr(rc.paths, "POST /api/v2/task/"));
	struct acs_clickup_comment_page *cp = cu_comments(e, tid);
	assert_int_equal(cp->n, 1);
	const char *t = cp->comments[0].text;
	assert_true(acs_comments_is_mirror(t, "Azure DevOps"));
	assert_non_null(strstr(t, "Hello **bold** and [a link](https://x.example/a)"));
	assert_non_null(strstr(t, "- one\n- two"));
	assert_non_null(strstr(t, "```\nint x;\n```"));
	char *m1 = acs_xstrdup(cp->comments[0].id);
	acs_clickup_comment_page_free(cp);
	assert_int_equal(comment_rows(e, sid), 1);
	/* Our mirror's webhooks: nothing listed, nothing written. */
	assert_echo_round(e, key);

	/* ClickUp -> ADO: the Markdown becomes HTML. */
	char *c1 = cu_comment_add(e, tid, "Reply with `code` and **strong**");
	(void)ado_reqs(e);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct reqs ra = ado_reqs(e);
	assert_int_equal(ra.writes, 1);
	struct acs_ado_comment_list *al = ado_comments(e, id);
	assert_int_equal(al->n, 2);
	const char *h = al->comments[0].text; /* newest first */
	assert_non_null(strstr(h, "(ClickUp):"));
	assert_non_null(strstr(h, "<code>code</code>"));
	assert_non_null(strstr(h, "<strong>strong</strong>"));
	int64_t m2 = al->comments[0].id;
	acs_ado_comment_list_free(al);
	assert_echo_round(e, key);

	/* A ClickUp edit follows (taskCommentUpdated). */
	struct cm_cap c = { 0 };
	assert_int_equal(acs_clickup_update_comment(e->cu, ACS_GOVERNOR_INTERACTIVE, c1,
						    "Edited *here*", false, on_cu_done, &c),
			 0);
	cap_wait(e, &c);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	al = ado_comments(e, id);
	assert_int_equal(al->n, 2);
	assert_non_null(strstr(al->comments[0].text, "Edited <em>here</em>"));
	assert_int_equal(al->comments[0].id, m2);
	acs_ado_comment_list_free(al);
	/* (ADO comment edits fire no event: there is no echo to consume.) */

	/* An ADO edit and a ClickUp delete have no event: the next comment finds them. */
	c = (struct cm_cap){ 0 };
	assert_int_equal(acs_ado_update_comment(e->ado, id, a1, "<p>Changed in ADO</p>", false,
						on_ado_cm, &c),
			 0);
	cap_wait(e, &c);
	c = (struct cm_cap){ 0 };
	assert_int_equal(
		acs_clickup_delete_comment(e->cu, ACS_GOVERNOR_INTERACTIVE, c1, on_cu_done, &c), 0);
	cap_wait(e, &c);
	drain(e);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	(void)ado_comment_add(e, id, "<p>Third</p>");
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	al = ado_comments(e, id);
	assert_int_equal(al->n, 2); /* a1 and the third; the mirror of c1 is gone */
	for (size_t i = 0; i < al->n; i++)
		assert_true(al->comments[i].id != m2);
	acs_ado_comment_list_free(al);
	cp = cu_comments(e, tid);
	assert_int_equal(cp->n, 2);
	bool changed = false, third = false;
	for (size_t i = 0; i < cp->n; i++) {
		changed |= strstr(cp->comments[i].text, "Changed in ADO") != NULL &&
			   !strcmp(cp->comments[i].id, m1);
		third |= strstr(cp->comments[i].text, "Third") != NULL;
	}
	assert_true(changed && third);
	acs_clickup_comment_page_free(cp);
	assert_int_equal(comment_rows(e, sid), 2);
	assert_true(log_count(e, "comment_deleted", "ok") == 1);
	assert_true(log_count(e, "comment_updated", "ok") == 2);
	assert_echo_round(e, key);

	/* An ADO delete is found when the item changes. */
	c = (struct cm_cap){ 0 };
	assert_int_equal(acs_ado_delete_comment(e->ado, id, a1, on_ado_done, &c), 0);
	cap_wait(e, &c);
	struct acs_ado_fields f = { .title = "Talk more" };
	ado_human_update(e, id, &f);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	cp = cu_comments(e, tid);
	assert_int_equal(cp->n, 1);
	assert_non_null(strstr(cp->comments[0].text, "Third"));
	acs_clickup_comment_page_free(cp);
	assert_int_equal(comment_rows(e, sid), 1);
	assert_echo_round(e, key);
	free(c1);
	free(m1);
	free(tid);
}

/* A crash between the remote create of a mirror and its row: the mirror is adopted. */
static void test_comment_crash(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Crash talk", key, &tid);
	int64_t sid = sync_id_of(e, id);
	int64_t a1 = ado_comment_add(e, id, "<p>Before the <i>crash</i></p>");
	struct acs_ado_comment_list *al = ado_comments(e, id);
	char *md = NULL;
	assert_int_equal(acs_html_to_markdown(al->comments[0].text, strlen(al->comments[0].text),
					      &md, NULL),
			 0);
	char *mirror = acs_comments_mirror_text(al->comments[0].created_by.display_name,
						"Azure DevOps", md);
	char *canon = acs_html_md_canonical_markdown(mirror);
	acs_ado_comment_list_free(al);
	/* What the crashed run left: the intent, and the mirror posted. */
	char sidtxt[64];
	snprintf(sidtxt, sizeof(sidtxt), "comment:%" PRId64 ":%" PRId64, sid, a1);
	struct intent_cap ic = { 0 };
	assert_int_equal(acs_pairs_intent_open(e->st, 1, "ado", sidtxt, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	acs_intent_free(ic.in);
	free(cu_comment_add(e, tid, canon));
	free(md);
	free(mirror);
	free(canon);
	drain(e);
	bodies_clear(&e->cu_rx);
	syncer_down(e);
	syncer_up(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_int_equal(cu_reqs(e).writes, 0);
	struct acs_clickup_comment_page *cp = cu_comments(e, tid);
	assert_int_equal(cp->n, 1);
	acs_clickup_comment_page_free(cp);
	assert_int_equal(comment_rows(e, sid), 1);
	ic = (struct intent_cap){ 0 };
	assert_int_equal(acs_pairs_intent_find(e->st, "ado", sidtxt, on_intent, &ic), 0);
	acs_test_run_until(&e->loop, &ic.done, WAIT_MS);
	assert_null(ic.in);
	free(tid);
}

/* Comments made before the pair are copied once, oldest first. */
static void test_existing_comments(void **state)
{
	struct env *e = *state;
	char *tid = cu_human_create(e, "Chatty");
	free(cu_comment_add(e, tid, "first"));
	free(cu_comment_add(e, tid, "second"));
	char key[64];
	snprintf(key, sizeof(key), "clickup:%s", tid);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct acs_pair *p = pair_of_cu(e, tid);
	assert_non_null(p);
	struct acs_ado_comment_list *al = ado_comments(e, p->ado_id);
	assert_int_equal(al->n, 2);
	assert_non_null(strstr(al->comments[1].text, "first")); /* oldest, posted first */
	assert_non_null(strstr(al->comments[0].text, "second"));
	acs_ado_comment_list_free(al);
	char akey[32];
	snprintf(akey, sizeof(akey), "ado:%" PRId64, p->ado_id);
	acs_pair_free(p);
	assert_echo_round(e, akey);
	free(tid);
}

static const char *pair_state(struct env *e, int64_t ado_id, char buf[16])
{
	struct acs_pair *p = pair_of_ado(e, ado_id);
	if (!p)
		return "none";
	snprintf(buf, 16, "%s", p->state);
	acs_pair_free(p);
	return buf;
}

static void set_policy(struct env *e, enum acs_config_on_delete p)
{
	e->cfg->maps[0].on_delete = p;
}

static void ado_delete(struct env *e, int64_t id)
{
	struct cm_cap c = { 0 };
	assert_int_equal(acs_ado_delete_work_item(e->ado, id, false, on_ado_done, &c), 0);
	cap_wait(e, &c);
}

static void ado_restore(struct env *e, int64_t id)
{
	char *url = acs_xasprintf("%s/%s/%s/_apis/wit/recyclebin/%" PRId64 "?api-version=7.1",
				  e->ado_origin, e->org, e->project, id);
	char *auth = NULL;
	char *tok = NULL;
	{
		char raw[160];
		snprintf(raw, sizeof(raw), ":%s", e->pat);
		char b64[256];
		sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)raw, strlen(raw),
				  sodium_base64_VARIANT_ORIGINAL);
		auth = acs_xasprintf("Authorization: Basic %s", b64);
	}
	tok = http(e, "PATCH", url, auth, "{\"isDeleted\": false}");
	free(tok);
	free(auth);
	free(url);
}

static void test_delete_close_restore(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL, st[16];
	int64_t id = make_pair(e, "Closing time", key, &tid);
	set_policy(e, ACS_ON_DELETE_CLOSE);
	ado_delete(e, id);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_string_equal(pair_state(e, id, st), "ended");
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->status, "complete");
	acs_clickup_task_free(t);
	char *last = log_newest(e, "ended");
	assert_non_null(strstr(last, "was deleted"));
	assert_non_null(strstr(last, "closed"));
	free(last);
	assert_quiet_round(e, key);

	/* Restored: paired again and the task reopened to the item's state. */
	ado_restore(e, id);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_string_equal(pair_state(e, id, st), "active");
	t = cu_get(e, tid);
	assert_string_equal(t->status, "to do");
	acs_clickup_task_free(t);
	assert_true(log_count(e, "restored", "ok") == 1);
	assert_echo_round(e, key);
	free(tid);
}

static void test_delete_policies(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL, st[16];

	/* ClickUp task deleted, on_delete = delete: the work item goes to the recycle bin. */
	int64_t id = make_pair(e, "Delete me", key, &tid);
	set_policy(e, ACS_ON_DELETE_DELETE);
	struct cm_cap c = { 0 };
	assert_int_equal(
		acs_clickup_delete_task(e->cu, ACS_GOVERNOR_INTERACTIVE, tid, on_cu_done, &c), 0);
	cap_wait(e, &c);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	assert_string_equal(pair_state(e, id, st), "ended");
	struct wi_cap w = { 0 };
	assert_int_equal(acs_ado_get_work_item(e->ado, id, on_wi, &w), 0);
	acs_test_run_until(&e->loop, &w.done, WAIT_MS);
	assert_int_equal(w.cls, ACS_REST_PERMANENT); /* 404: deleted */
	assert_quiet_round(e, key);
	/* Restored: the task is gone, a new twin is made. */
	ado_restore(e, id);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, id);
	assert_non_null(p);
	assert_string_equal(p->state, "active");
	assert_string_not_equal(p->clickup_id, tid);
	struct acs_clickup_task *t = cu_get(e, p->clickup_id);
	assert_string_equal(t->name, "Delete me");
	acs_clickup_task_free(t);
	acs_pair_free(p);
	free(tid);

	/* ADO item deleted, on_delete = ignore: the task stays as it is. */
	id = make_pair(e, "Ignore me", key, &tid);
	set_policy(e, ACS_ON_DELETE_IGNORE);
	ado_delete(e, id);
	(void)cu_reqs(e);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_int_equal(cu_reqs(e).writes, 0);
	assert_string_equal(pair_state(e, id, st), "ended");
	t = cu_get(e, tid);
	assert_string_equal(t->status, "to do");
	acs_clickup_task_free(t);
	free(tid);
}

static void test_moves(void **state)
{
	struct env *e = *state;
	char key[32], *tid = NULL, st[16];
	set_policy(e, ACS_ON_DELETE_CLOSE);

	/* ClickUp task moved to a list no mapping names: the work item is closed. The
	 * default seed has one list, so the mapping is what moves here (the simulator's
	 * move route is exercised end to end). */
	int64_t id = make_pair(e, "Mover", key, &tid);
	char *list = e->cfg->maps[0].clickup_list_id;
	e->cfg->maps[0].clickup_list_id = (char *)"901110299999";
	struct acs_clickup_task_changes ch = { .name = "Moved away" };
	cu_human_update(e, tid, &ch);
	struct outcome o = sync_rx(e, key, false, true);
	e->cfg->maps[0].clickup_list_id = list;
	assert_done(&o);
	assert_string_equal(pair_state(e, id, st), "ended");
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_string_equal(wi->state, "Closed");
	acs_ado_work_item_free(wi);
	char *last = log_newest(e, "ended");
	assert_non_null(strstr(last, "moved to list 901110236848, which no mapping names"));
	free(last);
	assert_quiet_round(e, key);
	free(tid);

	/* ADO item moved out of the mapped area path: the task is closed. */
	id = make_pair(e, "Wanderer", key, &tid);
	struct acs_ado_fields f = { .area_path = "Platform\\Web" };
	ado_human_update(e, id, &f);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_string_equal(pair_state(e, id, st), "ended");
	struct acs_clickup_task *t = cu_get(e, tid);
	assert_string_equal(t->status, "complete");
	acs_clickup_task_free(t);
	last = log_newest(e, "ended");
	assert_non_null(strstr(last, "moved out of the mapping"));
	free(last);
	free(tid);
}

static void test_strip_footer(void **state)
{
	(void)state;
	char a[] = "Text\n\nAzure DevOps work item: http://x/1\n";
	char *u = acs_syncer_strip_footer(a);
	assert_string_equal(u, "http://x/1");
	assert_string_equal(a, "Text");
	free(u);
	char b[] = "Azure DevOps work item: http://x/2";
	u = acs_syncer_strip_footer(b);
	assert_string_equal(u, "http://x/2");
	assert_string_equal(b, "");
	free(u);
	char c[] = "Azure DevOps work item: http://x/3 and more";
	assert_null(acs_syncer_strip_footer(c));
	char d[] = "Azure DevOps work item: http://x/4\n\nlater paragraph";
	assert_null(acs_syncer_strip_footer(d));
}

/* ------------------------------------------------------------------------ */
/* Attachments through the syncer                                            */
/* ------------------------------------------------------------------------ */

static struct acs_attachments *att_of(struct env *e)
{
	char *db = acs_xasprintf("[database]\nurl = sqlite:%s\n", e->db);
	assert_int_equal(acs_config_load_string(e->cfg, "db.ini", db, NULL), 0);
	free(db);
	char err[ACS_ERR_LEN] = "";
	struct acs_attachments *a =
		acs_attachments_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	if (!a)
		fail_msg("attachments: %s", err);
	acs_syncer_set_attachments(e->s, a);
	return a;
}

static void att_close(struct env *e, struct acs_attachments *a)
{
	syncer_down(e);
	int closed = 0;
	acs_attachments_close(a, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
}

struct ref_cap {
	int done;
	enum acs_rest_class cls;
	char msg[ACS_ERR_LEN];
	char *url;
};

static void on_ref(const struct acs_ado_result *res, struct acs_ado_attachment_ref *ref, void *arg)
{
	struct ref_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->url = ref ? acs_xstrdup(ref->url) : NULL;
	acs_ado_attachment_ref_free(ref);
	c->done = 1;
}

static void ado_attach(struct env *e, int64_t id, const char *name, const char *data)
{
	struct ref_cap c = { 0 };
	assert_int_equal(acs_ado_upload_attachment(e->ado, name, data, strlen(data), on_ref, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	if (c.cls != ACS_REST_OK)
		fail_msg("ADO upload: %s", c.msg);
	struct wi_cap w = { 0 };
	assert_int_equal(acs_ado_add_attachment_relation(e->ado, id, 0, c.url, NULL, on_wi, &w), 0);
	acs_ado_work_item_free(wi_wait(e, &w));
	free(c.url);
}

static void on_att(const struct acs_clickup_result *res, struct acs_clickup_attachment *att,
		   void *arg)
{
	struct outcome *c = arg;
	c->outcome = res->cls == ACS_REST_OK ? ACS_JOB_DONE : ACS_JOB_FAILED;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	acs_clickup_attachment_free(att);
	c->done = 1;
}

static void cu_attach(struct env *e, const char *task, const char *name, const char *data)
{
	struct outcome c = { 0 };
	assert_int_equal(acs_clickup_upload_attachment(e->cu, ACS_GOVERNOR_INTERACTIVE, task, name,
						       NULL, data, strlen(data), on_att, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_done(&c);
}

static bool ado_has_file(struct env *e, int64_t id, const char *name)
{
	struct acs_ado_work_item *wi = ado_get(e, id);
	size_t n = 0;
	for (size_t i = 0; i < wi->n_relations; i++)
		n += !strcmp(wi->relations[i].rel, "AttachedFile") && wi->relations[i].name &&
		     !strcmp(wi->relations[i].name, name);
	acs_ado_work_item_free(wi);
	return n == 1;
}

static bool cu_has_file(struct env *e, const char *tid, const char *name)
{
	struct acs_clickup_task *t = cu_get(e, tid);
	size_t n = 0;
	for (size_t i = 0; i < t->n_attachments; i++)
		n += !strcmp(t->attachments[i].title, name);
	acs_clickup_task_free(t);
	return n == 1;
}

/* Files travel with the jobs: an ADO delivery adding a file, a ClickUp task read for an
 * edit, and a create; a plain field edit reads nothing more. */
static void test_attachments_with_jobs(void **state)
{
	struct env *e = *state;
	struct acs_attachments *a = att_of(e);
	char key[32], *tid = NULL;
	int64_t id = make_pair(e, "Files travel", key, &tid);

	/* ADO -> ClickUp: the delivery lists the relations; the task is read once. */
	ado_attach(e, id, "spec.txt", "the spec");
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_true(cu_has_file(e, tid, "spec.txt"));
	assert_int_equal(rc.writes, 1); /* the upload */
	assert_non_null(strstr(rc.paths, "/attachment"));
	assert_int_equal(ra.writes, 0);

	/* A plain ADO field edit: no read on either side. */
	static const struct acs_ado_fields title = { .title = "Files travel far" };
	ado_human_update(e, id, &title);
	drain(e);
	bodies_clear(&e->cu_rx);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	ra = ado_reqs(e);
	rc = cu_reqs(e);
	assert_int_equal(ra.all, 0);
	assert_int_equal(rc.all, rc.writes);

	/* A plain ClickUp edit without a new file: the task GET only, no ADO read. */
	drain(e);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	struct acs_clickup_task_changes ch = { .name = "Renamed with files" };
	cu_human_update(e, tid, &ch);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	ra = ado_reqs(e);
	rc = cu_reqs(e);
	assert_int_equal(rc.all, 1);
	assert_int_equal(ra.all, ra.writes);

	/* ClickUp -> ADO: no event for the file; the next task event reads it. */
	drain(e);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	cu_attach(e, tid, "photo.png", "not really a png");
	ch.name = "Renamed again";
	cu_human_update(e, tid, &ch);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	assert_true(ado_has_file(e, id, "photo.png"));
	assert_true(cu_has_file(e, tid, "spec.txt"));

	/* A new ADO item with a file gets it on its new twin at once. */
	drain(e);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	int64_t id2 = ado_human_create(e, "Born with a file", "Platform\\Integrations");
	ado_attach(e, id2, "born.txt", "hello");
	char key2[32];
	snprintf(key2, sizeof(key2), "ado:%" PRId64, id2);
	o = sync_rx(e, key2, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, id2);
	assert_non_null(p);
	assert_true(cu_has_file(e, p->clickup_id, "born.txt"));
	acs_pair_free(p);
	free(tid);
	att_close(e, a);
}

/* ------------------------------------------------------------------------ */
/* Mappings from the database                                                */
/* ------------------------------------------------------------------------ */

struct reload_cap {
	int done;
	int rc;
	char err[ACS_ERR_LEN];
};

static void on_reloaded(int rc, const char *err, void *arg)
{
	struct reload_cap *c = arg;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
	c->done = 1;
}

static struct reload_cap reload(struct env *e)
{
	struct reload_cap c = { 0 };
	assert_int_equal(acs_syncer_reload(e->s, on_reloaded, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c;
}

static size_t cfg_maps(struct env *e)
{
	const struct acs_config *c = acs_syncer_config_hold(e->s);
	size_t n = c->n_maps;
	acs_syncer_config_release(c);
	return n;
}

/* No [map] section: a dashboard row starts syncing on reload, with its own priority
 * table, and stops when it is deleted. */
static const char *cfg_no_map = "[ado]\norganization = contoso\nproject = Platform\n";

static int setup_no_map(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	sim_env_setup(e, cfg_no_map);
	syncer_up(e);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	*state = e;
	return 0;
}

static void test_db_mapping_reload(void **state)
{
	struct env *e = *state;
	assert_int_equal(cfg_maps(e), 0);

	/* Not mapped yet: skipped. */
	char *t1 = cu_human_create(e, "Before the mapping");
	char key[64];
	snprintf(key, sizeof(key), "clickup:%s", t1);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	assert_null(pair_of_cu(e, t1));

	int64_t id = sim_env_sql(e, "INSERT INTO project_map (name, source, ado_project, "
				    "ado_area_path,"
				    " ado_work_item_types, ado_new_item_type, clickup_list_id, "
				    "status_map,"
				    " priority_map, custom_map, on_delete, copy_existing_comments, "
				    "created_at,"
				    " updated_at) VALUES ('dash', 'db', 'Platform', "
				    "'Platform\\Integrations',"
				    " '[\"Task\",\"Bug\"]', 'Task', '" LIST_ID "',"
				    " '{\"Active\":\"in progress\"}',"
				    " '{\"1\":\"urgent\",\"2\":\"normal\",\"3\":\"high\","
				    "\"4\":\"low\"}', '{}', 'close', 0, 1, 1) RETURNING id");
	struct reload_cap rc = reload(e);
	assert_int_equal(rc.rc, 0);
	assert_int_equal(cfg_maps(e), 1);
	const struct acs_config *snap = acs_syncer_config_hold(e->s);
	assert_int_equal(acs_syncer_config_db_map(snap, "dash"), id);
	assert_int_equal(acs_syncer_config_db_map(snap, "other"), 0);

	/* A reload with nothing changed keeps the mapping: no API call. */
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	rc = reload(e);
	assert_int_equal(rc.rc, 0);
	assert_int_equal(ado_reqs(e).all + cu_reqs(e).all, 0);

	char *t2 = cu_human_create(e, "After the mapping");
	snprintf(key, sizeof(key), "clickup:%s", t2);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct acs_pair *p = pair_of_cu(e, t2);
	assert_non_null(p);
	assert_int_equal(p->map_id, id);
	struct acs_ado_work_item *wi = ado_get(e, p->ado_id);
	assert_string_equal(wi->title, "After the mapping");
	assert_string_equal(wi->state, "Active");
	/* ClickUp "normal" is ADO 2 in this mapping's priority_map. */
	assert_int_equal(wi->priority, 2);
	acs_ado_work_item_free(wi);
	acs_pair_free(p);

	/* Deleted: its pairs go with it and new tasks are not synced. The snapshot taken
	 * before still lists it (it is immutable). */
	sim_env_sql(e, "DELETE FROM project_map WHERE id = %" PRId64, id);
	rc = reload(e);
	assert_int_equal(rc.rc, 0);
	assert_int_equal(cfg_maps(e), 0);
	assert_int_equal(snap->n_maps, 1);
	assert_string_equal(snap->maps[0].clickup_list_id, LIST_ID);
	acs_syncer_config_release(snap);
	drain(e);
	bodies_clear(&e->cu_rx);
	bodies_clear(&e->ado_rx);
	char *t3 = cu_human_create(e, "After the delete");
	snprintf(key, sizeof(key), "clickup:%s", t3);
	(void)ado_reqs(e);
	o = sync_rx(e, key, false, true);
	assert_done(&o);
	assert_null(pair_of_cu(e, t3));
	assert_int_equal(ado_reqs(e).writes, 0);

	/* A row the APIs refuse is left out; the reload says so. */
	sim_env_sql(e, "INSERT INTO project_map (name, source, ado_project, clickup_list_id, "
		       "created_at,"
		       " updated_at) VALUES ('ghost', 'db', 'Platform', '999999', 1, 1)");
	rc = reload(e);
	assert_int_equal(rc.rc, ACS_EHTTP);
	assert_non_null(strstr(rc.err, "ghost"));
	assert_int_equal(cfg_maps(e), 0);
	free(t1);
	free(t2);
	free(t3);
}

/* The list's custom field definitions are read at start: a custom.<ref> line naming a
 * field the list lacks stops the start; a drop-down one is written by option. */
static void start_cfg(struct env *e, const char *custom_line, struct reload_cap *c)
{
	char *text = acs_xasprintf("%s%s\n", cfg_text, custom_line);
	char err[ACS_ERR_LEN] = "";
	acs_config_free(e->cfg);
	e->cfg = acs_config_new_defaults();
	assert_int_equal(acs_config_load_string(e->cfg, "t.ini", text, NULL), 0);
	free(text);
	e->s = acs_syncer_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	assert_non_null(e->s);
	assert_int_equal(acs_syncer_start(e->s, on_reloaded, c), 0);
	acs_test_run_until(&e->loop, &c->done, WAIT_MS);
}

static void test_custom_field_definitions(void **state)
{
	struct env *e = *state;
	syncer_down(e);
	struct reload_cap c = { 0 };
	start_cfg(e, "custom.Microsoft.VSTS.Common.Severity = 00000000-0000-4000-8000-000000000000",
		  &c);
	assert_int_equal(c.rc, ACS_EHTTP);
	assert_non_null(strstr(c.err, "has no custom field"));
	syncer_down(e);

	/* The drop-down "Sync state": ADO's value is the option's name. */
	memset(&c, 0, sizeof(c));
	start_cfg(e,
		  "custom.Microsoft.VSTS.Common.ValueArea = 5a6b7c8d-9e0f-4a1b-2c3d-4e5f6a7b8c9d",
		  &c);
	assert_int_equal(c.rc, 0);
	char *tid = cu_human_create(e, "With a drop-down");
	char key[64];
	snprintf(key, sizeof(key), "clickup:%s", tid);
	struct outcome o = sync_rx(e, key, false, true);
	assert_done(&o);
	struct acs_pair *p = pair_of_cu(e, tid);
	assert_non_null(p);
	/* No option set: nothing written for the field, and the pair reads back equal. */
	assert_null(strstr(p->base, "5a6b7c8d"));
	acs_pair_free(p);
	free(tid);
}

/* ------------------------------------------------------------------------ */
/* Identities and the assigned_to filter                                     */
/* ------------------------------------------------------------------------ */

/* Replace every `from` in the heap string *p by `to`. */
static void replace_all(char **p, const char *from, const char *to)
{
	struct acs_buf b;
	acs_buf_init(&b, 1u << 24);
	const char *cur = *p, *hit;
	while ((hit = strstr(cur, from))) {
		assert_int_equal(acs_buf_append(&b, cur, (size_t)(hit - cur)), 0);
		assert_int_equal(acs_buf_append(&b, to, strlen(to)), 0);
		cur = hit + strlen(from);
	}
	assert_int_equal(acs_buf_append(&b, cur, strlen(cur)), 0);
	free(*p);
	size_t len;
	*p = acs_buf_steal(&b, &len);
}

/* A hook value carrying only a display name (as the service's own sample does) maps to
 * the person's ClickUp user once the syncer has seen that identity anywhere; and the
 * ClickUp -> ADO direction writes the e-mail (uniqueName). */
static void test_identity_display_name_only(void **state)
{
	struct env *e = *state;
	char key[32];
	int64_t id1 = ado_human_create(e, "Seen first", "Platform\\Integrations");
	snprintf(key, sizeof(key), "ado:%" PRId64, id1);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);

	int64_t id2 = ado_human_create(e, "Name only", "Platform\\Integrations");
	drain(e);
	size_t changed = 0;
	for (size_t i = 0; i < e->ado_rx.n; i++) {
		if (!strstr(e->ado_rx.v[i], "Avery Chen <avery.chen@example.com>"))
			continue;
		replace_all(&e->ado_rx.v[i], "Avery Chen <avery.chen@example.com>", "Avery Chen");
		changed++;
	}
	assert_true(changed > 0);
	snprintf(key, sizeof(key), "ado:%" PRId64, id2);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, id2);
	assert_non_null(p);
	struct acs_clickup_task *t = cu_get(e, p->clickup_id);
	assert_int_equal(t->n_assignees, 1);
	assert_int_equal(t->assignees[0].id, AVERY);
	acs_clickup_task_free(t);

	/* ClickUp -> ADO: the new assignee is written as the bare e-mail. */
	drain(e);
	bodies_clear(&e->ado_rx);
	bodies_clear(&e->cu_rx);
	static const int64_t sam[] = { SAM };
	static const int64_t avery[] = { AVERY };
	struct acs_clickup_task_changes ch = { .assignees_add = sam,
					       .n_assignees_add = 1,
					       .assignees_rem = avery,
					       .n_assignees_rem = 1 };
	cu_human_update(e, p->clickup_id, &ch);
	char ckey[64];
	snprintf(ckey, sizeof(ckey), "clickup:%s", p->clickup_id);
	(void)ado_reqs(e);
	o = sync_rx(e, ckey, false, true);
	assert_done(&o);
	struct acs_ado_work_item *wi = ado_get(e, id2);
	assert_string_equal(wi->assigned_to.unique_name, "sam.ortiz@example.com");
	acs_ado_work_item_free(wi);
	acs_pair_free(p);
}

/* [ado] assigned_to = @Me: the PAT's identity is read at start (connectionData), and
 * only items assigned to it get a twin. */
static const char *cfg_me = "[ado]\norganization = contoso\nproject = Platform\n"
			    "assigned_to = @Me\n"
			    "[map integ]\nado_project = Platform\n"
			    "ado_area_path = Platform\\Integrations\n"
			    "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			    "clickup_list_id = " LIST_ID "\n";

static int setup_me(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	sim_env_setup(e, cfg_me);
	syncer_up(e);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	*state = e;
	return 0;
}

static void test_assigned_to_me(void **state)
{
	struct env *e = *state;
	char key[32];
	/* Assigned to someone else (the newest revision): no twin. */
	int64_t other = ado_human_create(e, "Not mine", "Platform\\Integrations");
	struct acs_ado_fields f = { .assigned_to = "sam.ortiz@example.com" };
	ado_human_update(e, other, &f);
	snprintf(key, sizeof(key), "ado:%" PRId64, other);
	(void)cu_reqs(e);
	struct outcome o = sync_rx(e, key, true, false);
	assert_done(&o);
	assert_null(pair_of_ado(e, other));
	assert_int_equal(cu_reqs(e).writes, 0);
	/* Assigned to the PAT's user (Avery): a twin. */
	int64_t mine = ado_human_create(e, "Mine", "Platform\\Integrations");
	snprintf(key, sizeof(key), "ado:%" PRId64, mine);
	o = sync_rx(e, key, true, false);
	assert_done(&o);
	struct acs_pair *p = pair_of_ado(e, mine);
	assert_non_null(p);
	acs_pair_free(p);
}

/* A PAT connectionData refuses: the start fails with a message, nothing is synced. */
static void on_ready_rc(int rc, const char *err, void *arg)
{
	struct outcome *o = arg;
	o->outcome = rc ? ACS_JOB_FAILED : ACS_JOB_DONE;
	snprintf(o->msg, sizeof(o->msg), "%s", err ? err : "");
	o->done = 1;
}

static void test_assigned_to_me_unreadable(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	(void)state;
	sim_env_setup(e, cfg_me);
	fault(e, e->ado_origin,
	      "{\"path\":\"/_apis/connectionData\",\"method\":\"GET\",\"status\":500,\"count\":1}");
	char err[ACS_ERR_LEN] = "";
	e->s = acs_syncer_new(&e->loop, e->st, e->ado, e->cu, e->cfg, err);
	assert_non_null(e->s);
	struct outcome o = { 0 };
	assert_int_equal(acs_syncer_start(e->s, on_ready_rc, &o), 0);
	acs_test_run_until(&e->loop, &o.done, WAIT_MS);
	assert_int_equal(o.outcome, ACS_JOB_FAILED);
	assert_non_null(strstr(o.msg, "@Me"));
	/* A failed start may be started again. */
	memset(&o, 0, sizeof(o));
	assert_int_equal(acs_syncer_start(e->s, on_ready_rc, &o), 0);
	acs_test_run_until(&e->loop, &o.done, WAIT_MS);
	assert_int_equal(o.outcome, ACS_JOB_DONE);
	syncer_down(e);
	sim_env_teardown(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_footer),
		cmocka_unit_test_setup_teardown(test_ado_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attachments_with_jobs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_mapping_reload, setup_no_map, teardown),
		cmocka_unit_test_setup_teardown(test_custom_field_definitions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clickup_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_mirror, setup, teardown),
		cmocka_unit_test_setup_teardown(test_edits_mirror_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_burst_coalesces, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_412_remerge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_during_create, setup, teardown),
		cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permanent_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unmapped_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_comments_both_ways, setup_all_events,
						teardown),
		cmocka_unit_test_setup_teardown(test_comment_crash, setup_all_events, teardown),
		cmocka_unit_test_setup_teardown(test_existing_comments, setup_all_events, teardown),
		cmocka_unit_test_setup_teardown(test_delete_close_restore, setup_all_events,
						teardown),
		cmocka_unit_test_setup_teardown(test_delete_policies, setup_all_events, teardown),
		cmocka_unit_test_setup_teardown(test_moves, setup_all_events, teardown),
		cmocka_unit_test_setup_teardown(test_identity_display_name_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_assigned_to_me, setup_me, teardown),
		cmocka_unit_test(test_assigned_to_me_unreadable),
	};
	if (getenv("ACS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
