/* SPDX-License-Identifier: MIT */
/* Unit tests for the sweep: both simulators in-process with webhook deliveries paused,
 * a real store, and the store + syncer + scheduler + sweep pieces of the engine on the
 * test's loop. Each test checks both sides through the clients. */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "pairs.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "store.h"
#include "inbox.h"
#include "scheduler.h"
#include "sweep.h"
#include "syncer.h"

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

static const char *cfg_text = "[ado]\norganization = contoso\nproject = Platform\n"
			      "[map integ]\nado_project = Platform\n"
			      "ado_area_path = Platform\\Integrations\n"
			      "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			      "clickup_list_id = " LIST_ID "\nstatus.Active = in progress\n";

static int setup(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	sim_env_setup(e, cfg_text);
	sim_env_syncer_up(e);
	*state = e;
	return 0;
}

static void engine_down(struct env *e);

static int teardown(void **state)
{
	struct env *e = *state;
	engine_down(e);
	if (e->s)
		sim_env_syncer_down(e);
	sim_env_teardown(e);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Engine pieces                                                             */
/* ------------------------------------------------------------------------ */

static void kick(void *arg)
{
	struct env *e = arg;
	if (e->sched)
		acs_scheduler_kick(e->sched);
}

/* The sweep, and with work the scheduler driving the syncer (without it the swept
 * rows stay pending, so the tests can look at exactly what a sweep stored). */
static void engine_up(struct env *e, bool work)
{
	sim_env_pause_deliveries(e);
	e->sw = acs_sweep_new(&e->loop, e->st, e->ado, e->cu, e->cfg, kick, e);
	assert_non_null(e->sw);
	if (work)
		sim_env_scheduler_up(e);
}

static void engine_down(struct env *e)
{
	int n = 0;
	if (e->sw) {
		acs_sweep_close(e->sw, set_flag, &n);
		acs_test_run_until(&e->loop, &n, WAIT_MS);
	}
	sim_env_scheduler_down(e);
	e->sw = NULL;
}

struct run_cap {
	int done;
	int rc;
	char err[ACS_ERR_LEN];
};

static void on_swept(int rc, const char *err, void *arg)
{
	struct run_cap *c = arg;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", err ? err : "");
	c->done = 1;
}

static int sweep_once(struct env *e, struct acs_sweep_stats *st)
{
	struct run_cap c = { 0 };
	assert_int_equal(acs_sweep_run(e->sw, on_swept, &c), 0);
	/* Never two runs at once. */
	assert_int_equal(acs_sweep_run(e->sw, on_swept, &c), -EBUSY);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	acs_sweep_stats(e->sw, st);
	return c.rc;
}

/* Let the scheduler work the inbox until nothing is pending or processing. */
static void work_inbox(struct env *e)
{
	uint64_t deadline = uv_now(&e->loop) + WAIT_MS;
	for (;;) {
		struct acs_inbox_counts c = sim_env_inbox_counts(e);
		if (!c.n[ACS_INBOX_PENDING] && !c.n[ACS_INBOX_PROCESSING] &&
		    !acs_scheduler_running(e->sched))
			break;
		uv_run(&e->loop, UV_RUN_ONCE);
		uv_update_time(&e->loop);
		if (uv_now(&e->loop) > deadline)
			fail_msg("the inbox was not worked off");
	}
	struct acs_inbox_counts c = sim_env_inbox_counts(e);
	assert_int_equal(c.n[ACS_INBOX_ERROR], 0);
}

/* ------------------------------------------------------------------------ */
/* Tests                                                                     */
/* ------------------------------------------------------------------------ */

/* With deliveries paused, one sweep creates the twin of a new item, and after edits on
 * both sides one more sweep brings the pair back in sync. */
static void test_converge(void **state)
{
	struct env *e = *state;
	engine_up(e, true);
	int64_t id = ado_human_create(e, "Swept item", "Platform\\Integrations");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1);
	assert_true(st.queued >= 1);
	work_inbox(e);

	/* The twin exists: find it by listing the list. */
	struct acs_ado_work_item *wi = ado_get(e, id);
	char *task_id = NULL;
	for (size_t i = 0; i < wi->n_relations; i++) {
		const char *u = wi->relations[i].url;
		const char *t = u ? strstr(u, "/t/") : NULL;
		if (t && !strcmp(wi->relations[i].rel, "Hyperlink"))
			task_id = acs_xstrdup(t + 3);
	}
	acs_ado_work_item_free(wi);
	if (!task_id)
		fail_msg("no back-link to a ClickUp twin on the work item");
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_string_equal(t->name, "Swept item");
	acs_clickup_task_free(t);

	/* Edits on both sides, different fields. */
	struct acs_ado_fields f = { .title = "Renamed in ADO" };
	ado_human_update(e, id, &f);
	struct acs_clickup_task_changes ch = { .set_priority = true, .priority = 1 };
	cu_human_update(e, task_id, &ch);

	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1);
	assert_true(st.clickup_seen >= 1);
	assert_true(st.queued >= 2);
	work_inbox(e);

	t = cu_get(e, task_id);
	assert_string_equal(t->name, "Renamed in ADO");
	assert_int_equal(t->priority, 1);
	acs_clickup_task_free(t);
	wi = ado_get(e, id);
	assert_string_equal(wi->title, "Renamed in ADO");
	assert_int_equal(wi->priority, 1);
	acs_ado_work_item_free(wi);

	/* Nothing came by webhook. */
	assert_int_equal(e->ado_rx.n, 0);
	assert_int_equal(e->cu_rx.n, 0);
	free(task_id);
	engine_down(e);
}

/* A second sweep over unchanged items stores no new row; the watermarks advance and
 * are read back from meta by the next run. */
static void test_unchanged_and_watermark(void **state)
{
	struct env *e = *state;
	engine_up(e, false);
	int64_t id = ado_human_create(e, "Quiet item", "Platform\\Integrations");
	char *task_id = cu_human_create(e, "Quiet task");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.queued, 2);
	assert_true(st.ado_watermark > 0);
	assert_true(st.clickup_watermark > 0);
	struct acs_ado_work_item *wi = ado_get(e, id);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_int_equal(st.clickup_watermark, t->date_updated);
	acs_clickup_task_free(t);
	int64_t wa = st.ado_watermark, wc = st.clickup_watermark;

	struct acs_inbox_counts c = sim_env_inbox_counts(e);
	int64_t before = sim_env_inbox_total(&c);
	assert_int_equal(before, 2);
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_seen >= 1); /* listed again (overlap) ... */
	assert_true(st.clickup_seen >= 1);
	assert_int_equal(st.queued, 0); /* ... but nothing new stored */
	c = sim_env_inbox_counts(e);
	assert_int_equal(sim_env_inbox_total(&c), before);
	assert_int_equal(st.ado_watermark, wa);
	assert_int_equal(st.clickup_watermark, wc);

	/* A change moves the ADO watermark forward. */
	struct acs_ado_fields f = { .title = "Quiet item, edited" };
	ado_human_update(e, id, &f);
	assert_int_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.queued, 1);
	assert_true(st.ado_watermark >= wa);
	wi = ado_get(e, id);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	free(task_id);
	engine_down(e);
}

/* API errors leave the watermarks unchanged; the next run catches up. */
static void test_errors_keep_watermark(void **state)
{
	struct env *e = *state;
	engine_up(e, false);
	(void)ado_human_create(e, "First", "Platform\\Integrations");
	struct acs_sweep_stats st;
	assert_int_equal(sweep_once(e, &st), 0);
	int64_t wa = st.ado_watermark, wc = st.clickup_watermark;
	assert_true(wa > 0);

	int64_t id2 = ado_human_create(e, "Second", "Platform\\Integrations");
	char *task_id = cu_human_create(e, "Second task");
	fault(e, e->cu_origin,
	      "{\"path\":\"/task\",\"method\":\"GET\",\"status\":500,\"count\":1}");
	int rc = sweep_once(e, &st);
	assert_int_not_equal(rc, 0);
	assert_int_equal(st.runs_failed, 1);
	assert_int_equal(st.ado_watermark, wa);
	assert_int_equal(st.clickup_watermark, wc);

	/* Also an ADO failure. */
	fault(e, e->ado_origin, "{\"path\":\"/wiql\",\"status\":500,\"count\":1}");
	assert_int_not_equal(sweep_once(e, &st), 0);
	assert_int_equal(st.runs_failed, 2);
	assert_int_equal(st.ado_watermark, wa);

	/* The next run picks the missed changes up. */
	assert_int_equal(sweep_once(e, &st), 0);
	assert_true(st.ado_watermark >= wa);
	struct acs_ado_work_item *wi = ado_get(e, id2);
	assert_int_equal(st.ado_watermark, wi->changed_date_ms);
	acs_ado_work_item_free(wi);
	struct acs_clickup_task *t = cu_get(e, task_id);
	assert_int_equal(st.clickup_watermark, t->date_updated);
	acs_clickup_task_free(t);
	free(task_id);
	engine_down(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_converge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unchanged_and_watermark, setup, teardown),
		cmocka_unit_test_setup_teardown(test_errors_keep_watermark, setup, teardown),
	};
	if (getenv("ACS_TEST_FILTER"))
		cmocka_set_test_filter(getenv("ACS_TEST_FILTER"));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
