/* SPDX-License-Identifier: MIT */
/* Unit tests for the backfill: the matching rules (pure), and whole runs against both
 * simulators in-process (store, syncer, scheduler and backfill on the test's loop). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sim_env.h"
#include "test_util.h"

#include "backfill.h"
#include "err.h"
#include "inbox.h"
#include "mem.h"
#include "pairs.h"
#include "scheduler.h"
#include "syncer.h"

/* ------------------------------------------------------------------------ */
/* Matching rules                                                            */
/* ------------------------------------------------------------------------ */

static void test_urls(void **state)
{
	(void)state;
	assert_int_equal(acs_backfill_ado_id_of_url("https://dev.azure.com/contoso/Platform/"
						    "_workitems/edit/42"),
			 42);
	assert_int_equal(acs_backfill_ado_id_of_url("http://127.0.0.1:5/contoso/Platform/_apis/"
						    "wit/workItems/7?api-version=7.1"),
			 7);
	assert_int_equal(acs_backfill_ado_id_of_url("https://x.visualstudio.com/wi.aspx?pcguid=1"
						    "&id=99"),
			 99);
	assert_int_equal(acs_backfill_ado_id_of_url("https://example.com/nothing"), 0);
	assert_int_equal(acs_backfill_ado_id_of_url("https://x/_workitems/edit/"), 0);
	assert_int_equal(acs_backfill_ado_id_of_url(NULL), 0);

	char id[64];
	assert_true(
		acs_backfill_task_id_of_url("https://app.clickup.com/t/86abc12", id, sizeof(id)));
	assert_string_equal(id, "86abc12");
	assert_true(acs_backfill_task_id_of_url("https://app.clickup.com/t/36226098/ENG-1?x=1", id,
						sizeof(id)));
	assert_string_equal(id, "ENG-1");
	assert_false(acs_backfill_task_id_of_url("https://app.clickup.com/", id, sizeof(id)));
	assert_false(acs_backfill_task_id_of_url("https://app.clickup.com/t/", id, sizeof(id)));
	assert_false(acs_backfill_task_id_of_url("https://app.clickup.com/t/abcdef", id, 4));
}

/* The step of ADO item i / task i in a plan. */
static const struct acs_backfill_step *step_a(const struct acs_backfill_plan *p, size_t i)
{
	for (size_t k = 0; k < p->n; k++)
		if (p->steps[k].ado == i)
			return &p->steps[k];
	fail_msg("no step for work item %zu", i);
	return NULL;
}

static const struct acs_backfill_step *step_t(const struct acs_backfill_plan *p, size_t i)
{
	for (size_t k = 0; k < p->n; k++)
		if (p->steps[k].task == i)
			return &p->steps[k];
	fail_msg("no step for task %zu", i);
	return NULL;
}

#define TURL(id) "https://app.clickup.com/t/" id
#define AURL(id) "https://dev.azure.com/contoso/Platform/_workitems/edit/" #id

static void test_plan_rules(void **state)
{
	(void)state;
	static const char *const l_t1[] = { TURL("t1") };
	static const char *const l_t5[] = { TURL("t5") };
	static const char *const l_t6[] = { TURL("t6") };
	static const char *const l_gone[] = { TURL("gone") };
	static const char *const l_t7[] = { "https://example.com/doc", TURL("t7") };
	struct acs_backfill_ado a[] = {
		/* 0 */ { .id = 1, .title = "Paired already", .paired = true },
		/* 1 */ { .id = 2, .title = "Linked", .links = l_t1, .n_links = 1 },
		/* 2 */ { .id = 3, .title = "Footer named" },
		/* 3 */ { .id = 4, .title = "Same title" },
		/* 4 */ { .id = 5, .title = "Twice" },
		/* 5 */ { .id = 6, .title = "Twice" },
		/* 6 */ { .id = 7, .title = "Only in ADO" },
		/* 7 */ { .id = 8, .title = "Only in ADO" },
		/* 8 */ { .id = 9, .title = "Points at a paired task", .links = l_t5, .n_links = 1 },
		/* 9 */
		{ .id = 10, .title = "Points at an unlisted task", .links = l_gone, .n_links = 1 },
		/* 10 */ { .id = 11, .title = "Both link t6", .links = l_t6, .n_links = 1 },
		/* 11 */ { .id = 12, .title = "Both link t6", .links = l_t6, .n_links = 1 },
		/* 12 */ { .id = 13, .title = "Mid-create", .intent_id = 77 },
		/* 13 */ { .id = 14, .title = "Link beats title", .links = l_t7, .n_links = 2 },
		/* 14 */ { .id = 15, .title = "" },
	};
	struct acs_backfill_task t[] = {
		/* 0 */ { .id = "t1", .title = "Not the same title" },
		/* 1 */ { .id = "t2", .title = "Whatever", .footer = AURL(3) },
		/* 2 */ { .id = "t3", .title = "Same title" },
		/* 3 */ { .id = "t4", .title = "Twice" },
		/* 4 */ { .id = "t5", .title = "Paired task", .paired = true },
		/* 5 */ { .id = "t6", .title = "Linked twice" },
		/* 6 */ { .id = "t7", .title = "Other" },
		/* 7 */ { .id = "t8", .title = "Link beats title" },
		/* 8 */ { .id = "t9", .title = "Mid-create" },
		/* 9 */ { .id = "t10", .title = "Names a paired item", .footer = AURL(1) },
		/* 10 */ { .id = "t11", .title = "Only in ClickUp" },
		/* 11 */ { .id = "t12", .title = "" },
	};
	struct acs_backfill_plan p;
	acs_backfill_plan_make(a, ACS_ARRAY_SIZE(a), t, ACS_ARRAY_SIZE(t), &p);

	assert_int_equal(step_a(&p, 0)->kind, ACS_BACKFILL_ALREADY);
	assert_int_equal(step_t(&p, 4)->kind, ACS_BACKFILL_ALREADY);
	/* Back-links: Hyperlink -> task, footer -> work item; not by title. */
	assert_int_equal(step_a(&p, 1)->kind, ACS_BACKFILL_PAIR_LINK);
	assert_int_equal(step_a(&p, 1)->task, 0);
	assert_int_equal(step_a(&p, 2)->kind, ACS_BACKFILL_PAIR_LINK);
	assert_int_equal(step_a(&p, 2)->task, 1);
	/* Exact title, 1:1. */
	assert_int_equal(step_a(&p, 3)->kind, ACS_BACKFILL_PAIR_TITLE);
	assert_int_equal(step_a(&p, 3)->task, 2);
	/* Two work items and one task share a title: nobody is paired or created. */
	assert_int_equal(step_a(&p, 4)->kind, ACS_BACKFILL_AMBIGUOUS);
	assert_int_equal(step_a(&p, 5)->kind, ACS_BACKFILL_AMBIGUOUS);
	assert_int_equal(step_t(&p, 3)->kind, ACS_BACKFILL_AMBIGUOUS);
	/* A title repeated on one side only is no ambiguity: each gets its twin. */
	assert_int_equal(step_a(&p, 6)->kind, ACS_BACKFILL_CREATE_CLICKUP);
	assert_int_equal(step_a(&p, 7)->kind, ACS_BACKFILL_CREATE_CLICKUP);
	/* Twins of something else are left alone. */
	assert_int_equal(step_a(&p, 8)->kind, ACS_BACKFILL_LINKED_ELSEWHERE);
	assert_int_equal(step_a(&p, 9)->kind, ACS_BACKFILL_LINKED_ELSEWHERE);
	assert_int_equal(step_t(&p, 9)->kind, ACS_BACKFILL_LINKED_ELSEWHERE);
	/* Two work items linking one task: not 1:1. */
	assert_int_equal(step_a(&p, 10)->kind, ACS_BACKFILL_AMBIGUOUS);
	assert_int_equal(step_a(&p, 11)->kind, ACS_BACKFILL_AMBIGUOUS);
	assert_int_equal(step_t(&p, 5)->kind, ACS_BACKFILL_AMBIGUOUS);
	/* An interrupted create is finished by the syncer, never title-paired. */
	assert_int_equal(step_a(&p, 12)->kind, ACS_BACKFILL_CREATE_CLICKUP);
	assert_int_equal(step_t(&p, 8)->kind, ACS_BACKFILL_CREATE_ADO);
	/* The back-link wins over a title match elsewhere. */
	assert_int_equal(step_a(&p, 13)->kind, ACS_BACKFILL_PAIR_LINK);
	assert_int_equal(step_a(&p, 13)->task, 6);
	assert_int_equal(step_t(&p, 7)->kind, ACS_BACKFILL_CREATE_ADO);
	/* Empty titles never match. */
	assert_int_equal(step_a(&p, 14)->kind, ACS_BACKFILL_CREATE_CLICKUP);
	assert_int_equal(step_t(&p, 11)->kind, ACS_BACKFILL_CREATE_ADO);
	assert_int_equal(step_t(&p, 10)->kind, ACS_BACKFILL_CREATE_ADO);

	/* Every item in exactly one step; the counts add up. */
	size_t items = 0, sum = 0;
	for (size_t k = 0; k < p.n; k++)
		items += (p.steps[k].ado != ACS_BACKFILL_NONE) +
			 (p.steps[k].task != ACS_BACKFILL_NONE);
	assert_int_equal(items, ACS_ARRAY_SIZE(a) + ACS_ARRAY_SIZE(t));
	for (size_t k = 0; k < ACS_BACKFILL_NKINDS; k++)
		sum += p.count[k];
	assert_int_equal(sum, p.n);
	assert_int_equal(p.count[ACS_BACKFILL_PAIR_LINK], 3);
	assert_int_equal(p.count[ACS_BACKFILL_PAIR_TITLE], 1);
	acs_backfill_plan_deinit(&p);
}

static void test_plan_both_directions_one_pair(void **state)
{
	(void)state;
	/* The link and the footer of one pair are one edge, not two. */
	static const char *const l[] = { TURL("x1") };
	struct acs_backfill_ado a[] = { { .id = 5, .title = "A", .links = l, .n_links = 1 } };
	struct acs_backfill_task t[] = { { .id = "x1", .title = "B", .footer = AURL(5) } };
	struct acs_backfill_plan p;
	acs_backfill_plan_make(a, 1, t, 1, &p);
	assert_int_equal(p.n, 1);
	assert_int_equal(p.steps[0].kind, ACS_BACKFILL_PAIR_LINK);
	acs_backfill_plan_deinit(&p);

	/* Nothing in, nothing out. */
	acs_backfill_plan_make(NULL, 0, NULL, 0, &p);
	assert_int_equal(p.n, 0);
	acs_backfill_plan_deinit(&p);
}

/* ------------------------------------------------------------------------ */
/* Whole runs against the simulators                                         */
/* ------------------------------------------------------------------------ */

#define AREA "Platform\\Integrations"

static const char *cfg_text = "[ado]\norganization = contoso\nproject = Platform\n"
			      "[map integ]\nado_project = Platform\n"
			      "ado_area_path = Platform\\Integrations\n"
			      "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			      "clickup_list_id = " LIST_ID "\nstatus.Active = in progress\n";

struct world {
	struct env *e; /**< freed by sim_env_teardown */
	struct acs_backfill *bf;
	int kicks;
};

static void kick(void *arg)
{
	struct world *w = arg;
	struct env *e = w->e;
	w->kicks++;
	if (e->sched)
		acs_scheduler_kick(e->sched);
	else
		sim_env_scheduler_up(e);
}

static int setup(void **state)
{
	struct world *w = acs_xcalloc(1, sizeof(*w));
	struct env *e = w->e = acs_xcalloc(1, sizeof(*e));
	sim_env_setup(e, cfg_text);
	/* Deliveries paused: the backfill alone must find the items. */
	sim_env_pause_deliveries(e);
	sim_env_syncer_up(e);
	w->bf = acs_backfill_new(&e->loop, e->st, e->ado, e->cu, e->cfg, kick, w);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	struct env *e = w->e;
	int n = 0;
	if (w->bf) {
		acs_backfill_close(w->bf, set_flag, &n);
		acs_test_run_until(&e->loop, &n, WAIT_MS);
	}
	sim_env_scheduler_down(e);
	sim_env_syncer_down(e);
	sim_env_teardown(e);
	free(w);
	return 0;
}

struct done_cap {
	int done, rc, progress;
	struct acs_backfill_progress p;
	char phase[16];
};

static void on_progress(const struct acs_backfill_progress *p, void *arg)
{
	(void)p;
	((struct done_cap *)arg)->progress++;
}

static void on_done(int rc, const struct acs_backfill_progress *p, void *arg)
{
	struct done_cap *c = arg;
	c->rc = rc;
	c->p = *p;
	snprintf(c->phase, sizeof(c->phase), "%s", p->phase);
	c->p.phase = c->phase;
	c->p.map = NULL;
	c->p.error = NULL;
	c->done = 1;
}

static struct done_cap run(struct world *w, bool dry)
{
	struct done_cap c = { 0 };
	assert_int_equal(acs_backfill_start(w->bf, "integ", dry, on_progress, on_done, &c), 0);
	/* One run at a time. */
	assert_int_equal(acs_backfill_start(w->bf, "integ", dry, NULL, NULL, NULL), -EBUSY);
	acs_test_run_until(&w->e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.rc, 0);
	assert_string_equal(c.phase, "done");
	assert_true(c.progress >= 1);
	return c;
}

struct pair_cap {
	int done;
	struct acs_pair *p;
};

static void on_pair(int rc, const char *err, struct acs_pair *pair, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	((struct pair_cap *)arg)->p = pair;
	((struct pair_cap *)arg)->done = 1;
}

static struct acs_pair *pair_of_ado(struct env *e, int64_t id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_ado(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

static struct acs_pair *pair_of_task(struct env *e, const char *id)
{
	struct pair_cap c = { 0 };
	assert_int_equal(acs_pairs_find_by_clickup(e->st, id, on_pair, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	return c.p;
}

static int64_t inbox_rows(struct env *e)
{
	struct acs_inbox_counts c = sim_env_inbox_counts(e);
	return sim_env_inbox_total(&c);
}

/* Writes in a request log, less the POSTs that only read (WIQL, workitemsbatch). */
static size_t real_writes(struct reqs r)
{
	size_t n = 0;
	for (char *p = r.paths; *p;) {
		char *end = strstr(p, "; ");
		if (end)
			*end = '\0';
		if (!strcasestr(p, "/wiql") && !strcasestr(p, "/workitemsbatch"))
			n++;
		if (!end)
			break;
		p = end + 2;
	}
	return n;
}

static void test_run(void **state)
{
	struct world *w = *state;
	struct env *e = w->e;
	int64_t a_shared = ado_human_create(e, "Shared title", AREA);
	int64_t a_only = ado_human_create(e, "Only in ADO", AREA);
	int64_t a_out = ado_human_create(e, "Outside the area", "Platform");
	char *t_shared = cu_human_create(e, "Shared title");
	char *t_only = cu_human_create(e, "Only in ClickUp");
	(void)ado_reqs(e);
	(void)cu_reqs(e);

	/* Unknown mapping. */
	assert_int_equal(acs_backfill_start(w->bf, "nope", false, NULL, NULL, NULL), ACS_ENOTFOUND);

	/* A dry run plans and changes nothing. */
	struct done_cap c = run(w, true);
	assert_true(c.p.dry_run);
	assert_int_equal(c.p.ado_items, 2);
	assert_int_equal(c.p.clickup_tasks, 2);
	assert_int_equal(c.p.paired, 1);
	assert_int_equal(c.p.paired_title, 1);
	assert_int_equal(c.p.created_clickup, 1);
	assert_int_equal(c.p.created_ado, 1);
	assert_int_equal(real_writes(ado_reqs(e)), 0);
	assert_int_equal(real_writes(cu_reqs(e)), 0);
	assert_int_equal(inbox_rows(e), 0);
	assert_int_equal(w->kicks, 0);
	assert_null(pair_of_ado(e, a_shared));

	/* The run: one pair by title, one twin each way. */
	c = run(w, false);
	assert_false(c.p.dry_run);
	assert_int_equal(c.p.paired, 1);
	assert_int_equal(c.p.created_clickup, 1);
	assert_int_equal(c.p.created_ado, 1);
	assert_int_equal(c.p.failed, 0);
	assert_int_equal(c.p.done, c.p.total);
	assert_int_equal(c.p.total, 3);
	struct acs_pair *p = pair_of_ado(e, a_shared);
	assert_non_null(p);
	assert_string_equal(p->clickup_id, t_shared);
	acs_pair_free(p);
	p = pair_of_ado(e, a_only);
	assert_non_null(p);
	struct acs_clickup_task *twin = cu_get(e, p->clickup_id);
	assert_string_equal(twin->name, "Only in ADO");
	acs_clickup_task_free(twin);
	acs_pair_free(p);
	p = pair_of_task(e, t_only);
	assert_non_null(p);
	struct acs_ado_work_item *wi = ado_get(e, p->ado_id);
	assert_string_equal(wi->title, "Only in ClickUp");
	acs_ado_work_item_free(wi);
	acs_pair_free(p);
	assert_null(pair_of_ado(e, a_out));
	/* The title pair got its back-links: a Hyperlink on the work item. */
	wi = ado_get(e, a_shared);
	bool link = false;
	for (size_t i = 0; i < wi->n_relations; i++)
		link |= wi->relations[i].rel && !strcmp(wi->relations[i].rel, "Hyperlink") &&
			strstr(wi->relations[i].url, t_shared);
	acs_ado_work_item_free(wi);
	assert_true(link);
	(void)ado_reqs(e);
	(void)cu_reqs(e);
	int64_t rows = inbox_rows(e);

	/* Again: everything is paired, nothing is stored or written. */
	c = run(w, false);
	assert_int_equal(c.p.total, 0);
	assert_int_equal(c.p.already, 6);
	assert_int_equal(w->kicks, 1);
	assert_int_equal(c.p.paired + c.p.created_ado + c.p.created_clickup, 0);
	assert_int_equal(real_writes(ado_reqs(e)), 0);
	assert_int_equal(real_writes(cu_reqs(e)), 0);
	assert_int_equal(inbox_rows(e), rows);

	json_t *j = acs_backfill_progress_json(w->bf);
	assert_string_equal(json_string_value(json_object_get(j, "phase")), "done");
	assert_string_equal(json_string_value(json_object_get(j, "map")), "integ");
	assert_false(json_is_true(json_object_get(j, "running")));
	assert_true(json_is_null(json_object_get(j, "error")));
	json_decref(j);
	free(t_shared);
	free(t_only);
}

/* Closing in the middle of a run ends it with ACS_ECLOSED and frees everything. */
static void test_close_mid_run(void **state)
{
	struct world *w = *state;
	struct env *e = w->e;
	free(cu_human_create(e, "One task"));
	struct done_cap c = { 0 };
	assert_int_equal(acs_backfill_start(w->bf, "integ", false, NULL, on_done, &c), 0);
	int n = 0;
	acs_backfill_close(w->bf, set_flag, &n);
	acs_test_run_until(&e->loop, &n, WAIT_MS);
	assert_true(c.done);
	assert_int_equal(c.rc, ACS_ECLOSED);
	assert_string_equal(c.phase, "failed");
	w->bf = NULL;
	json_t *j = acs_backfill_progress_json(NULL);
	assert_string_equal(json_string_value(json_object_get(j, "phase")), "idle");
	json_decref(j);
}

/* What the watcher saw: every progress, and the end of each run. */
struct watch_cap {
	unsigned calls, ends;
	int two; /**< set at the second end */
	char end_phase[4][16];
	uint64_t end_already[4];
};

static void on_watch(const struct acs_backfill_progress *p, void *arg)
{
	struct watch_cap *c = arg;
	c->calls++;
	if (p->running)
		return;
	if (c->ends < 4) {
		snprintf(c->end_phase[c->ends], sizeof(c->end_phase[0]), "%s", p->phase);
		c->end_already[c->ends] = p->already;
	}
	c->ends++;
	c->two = c->ends >= 2;
}

/* A mapping enqueued while a run is in flight runs after it (once however often it is
 * asked), one gone by its turn is skipped, and the watcher sees every run, whoever
 * started it, with its end. */
static void test_enqueue_and_watch(void **state)
{
	struct world *w = *state;
	struct env *e = w->e;
	free(cu_human_create(e, "Queued task"));
	struct watch_cap wc = { 0 };
	acs_backfill_set_watch(w->bf, on_watch, &wc);
	assert_int_equal(acs_backfill_enqueue(w->bf, "integ"), 0); /* starts at once */
	struct acs_backfill_progress p;
	acs_backfill_get_progress(w->bf, &p);
	assert_true(p.running);
	assert_true(wc.calls >= 1);
	assert_int_equal(acs_backfill_enqueue(w->bf, "nope"), 0);  /* queued */
	assert_int_equal(acs_backfill_enqueue(w->bf, "integ"), 0); /* queued */
	assert_int_equal(acs_backfill_enqueue(w->bf, "integ"), 0); /* already queued */
	assert_int_equal(acs_backfill_enqueue(w->bf, ""), -EINVAL);
	acs_test_run_until(&e->loop, &wc.two, WAIT_MS);
	assert_int_equal(wc.ends, 2);
	assert_string_equal(wc.end_phase[0], "done");
	assert_string_equal(wc.end_phase[1], "done");
	assert_int_equal(wc.end_already[0], 0);
	assert_true(wc.end_already[1] >= 1); /* the second run finds the first one's pairs */
	acs_backfill_get_progress(w->bf, &p);
	assert_false(p.running);
	acs_backfill_set_watch(w->bf, NULL, NULL);
}

static void test_lock(void **state)
{
	(void)state;
	char *dir = acs_test_tmpdir();
	char *db = acs_xasprintf("%s/sync.db", dir);
	char err[ACS_ERR_LEN] = "";
	int fd = acs_backfill_lock_db(db, err);
	assert_true(fd >= 0);
	/* flock locks belong to the open file description: a second open conflicts. */
	assert_int_equal(acs_backfill_lock_db(db, err), -EWOULDBLOCK);
	assert_non_null(strstr(err, "another ado-clickup-sync process"));
	close(fd);
	fd = acs_backfill_lock_db(db, err);
	assert_true(fd >= 0);
	close(fd);
	char *nodir = acs_xasprintf("%s/missing/sync.db", dir);
	assert_int_equal(acs_backfill_lock_db(nodir, err), -ENOENT);
	free(nodir);
	free(db);
	acs_test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_plan_rules),
		cmocka_unit_test(test_plan_both_directions_one_pair),
		cmocka_unit_test(test_lock),
		cmocka_unit_test_setup_teardown(test_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_mid_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_enqueue_and_watch, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
