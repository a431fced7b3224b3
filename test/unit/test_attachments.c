/* SPDX-License-Identifier: MIT */
/* Unit tests for the attachment mirror: both simulators in-process, a real store, pairs
 * written straight into sync_map, files attached by "a person" through the clients, and
 * every copy checked byte for byte through the clients. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_env.h"
#include "test_util.h"

#include "ado_client.h"
#include "attachments.h"
#include "clickup_client.h"
#include "config.h"
#include "err.h"
#include "mem.h"
#include "store.h"

#define MIB (1024u * 1024u)

struct t {
	struct env *e;
	struct acs_attachments *a;
};

static const char *cfg_base = "[ado]\norganization = contoso\nproject = Platform\n"
			      "[map integ]\nado_project = Platform\n"
			      "ado_area_path = Platform\\Integrations\n"
			      "ado_work_item_types = Task, Bug\nado_new_item_type = Task\n"
			      "clickup_list_id = " LIST_ID "\n";

/* --- world helpers ------------------------------------------------------------------ */

struct pair {
	int64_t sync_id, ado_id;
	char *cu_id;
};

static struct pair pair_new(struct env *e, const char *title, int64_t updated_ms)
{
	struct pair p;
	p.ado_id = ado_human_create(e, title, "Platform\\Integrations");
	p.cu_id = cu_human_create(e, title);
	sim_env_sql(e, "INSERT OR IGNORE INTO project_map (id, name, ado_project,"
		       " clickup_list_id, created_at, updated_at)"
		       " VALUES (1, 'integ', 'Platform', '" LIST_ID "', 0, 0)");
	p.sync_id = sim_env_sql(e,
				"INSERT INTO sync_map (map_id, ado_id, clickup_id, created_at,"
				" updated_at) VALUES (1, %" PRId64 ", '%s', 0, %" PRId64 ");"
				" SELECT last_insert_rowid()",
				p.ado_id, p.cu_id, updated_ms);
	drain(e);
	return p;
}

static int64_t now_ms(void)
{
	uv_timeval64_t tv;
	uv_gettimeofday(&tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static char *random_bytes(size_t n)
{
	char *b = acs_xmalloc(n + 1);
	randombytes_buf(b, n);
	return b;
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

static void ado_attach(struct env *e, int64_t id, const char *name, const void *data, size_t len)
{
	struct ref_cap c = { 0 };
	assert_int_equal(acs_ado_upload_attachment(e->ado, name, data, len, on_ref, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	if (c.cls != ACS_REST_OK)
		fail_msg("ADO upload: %s", c.msg);
	struct wi_cap w = { 0 };
	assert_int_equal(acs_ado_add_attachment_relation(e->ado, id, 0, c.url, NULL, on_wi, &w), 0);
	acs_ado_work_item_free(wi_wait(e, &w));
	free(c.url);
}

struct att_cap {
	int done;
	enum acs_rest_class cls;
	char msg[ACS_ERR_LEN];
};

static void on_att(const struct acs_clickup_result *res, struct acs_clickup_attachment *att,
		   void *arg)
{
	struct att_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	acs_clickup_attachment_free(att);
	c->done = 1;
}

static void cu_attach(struct env *e, const char *task, const char *name, const void *data,
		      size_t len)
{
	struct att_cap c = { 0 };
	assert_int_equal(acs_clickup_upload_attachment(e->cu, ACS_GOVERNOR_INTERACTIVE, task, name,
						       NULL, data, len, on_att, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	if (c.cls != ACS_REST_OK)
		fail_msg("ClickUp upload: %s", c.msg);
}

struct blob_cap {
	int done;
	enum acs_rest_class cls;
	char msg[ACS_ERR_LEN];
	char *data;
	size_t len;
};

static void on_ado_blob(const struct acs_ado_result *res, struct acs_ado_blob *b, void *arg)
{
	struct blob_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	if (b) {
		c->data = b->data;
		c->len = b->len;
		b->data = NULL;
	}
	acs_ado_blob_free(b);
	c->done = 1;
}

static void on_cu_blob(const struct acs_clickup_result *res, struct acs_clickup_blob *b, void *arg)
{
	struct blob_cap *c = arg;
	c->cls = res->cls;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	if (b) {
		c->data = b->data;
		c->len = b->len;
		b->data = NULL;
	}
	acs_clickup_blob_free(b);
	c->done = 1;
}

/* The bytes of the AttachedFile named name on work item id (fails when absent or when
 * there is more than one). */
static struct blob_cap ado_file(struct env *e, int64_t id, const char *name)
{
	struct acs_ado_work_item *wi = ado_get(e, id);
	const char *url = NULL;
	int found = 0;
	for (size_t i = 0; i < wi->n_relations; i++) {
		if (!strcmp(wi->relations[i].rel, "AttachedFile") && wi->relations[i].name &&
		    !strcmp(wi->relations[i].name, name)) {
			url = wi->relations[i].url;
			found++;
		}
	}
	if (found != 1)
		fail_msg("work item %" PRId64 ": %d attachments named %s", id, found, name);
	struct blob_cap c = { 0 };
	assert_int_equal(acs_ado_download_attachment(e->ado, url, on_ado_blob, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	acs_ado_work_item_free(wi);
	if (c.cls != ACS_REST_OK)
		fail_msg("ADO download: %s", c.msg);
	return c;
}

static size_t ado_count(struct env *e, int64_t id)
{
	struct acs_ado_work_item *wi = ado_get(e, id);
	size_t n = 0;
	for (size_t i = 0; i < wi->n_relations; i++)
		n += !strcmp(wi->relations[i].rel, "AttachedFile");
	acs_ado_work_item_free(wi);
	return n;
}

static struct blob_cap cu_file(struct env *e, const char *task, const char *name)
{
	struct acs_clickup_task *t = cu_get(e, task);
	const char *url = NULL;
	int found = 0;
	for (size_t i = 0; i < t->n_attachments; i++) {
		if (!strcmp(t->attachments[i].title, name)) {
			url = t->attachments[i].url;
			found++;
		}
	}
	if (found != 1)
		fail_msg("task %s: %d attachments named %s", task, found, name);
	struct blob_cap c = { 0 };
	assert_int_equal(acs_clickup_download(e->cu, ACS_GOVERNOR_INTERACTIVE, url, 64 * MIB,
					      on_cu_blob, &c),
			 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	acs_clickup_task_free(t);
	if (c.cls != ACS_REST_OK)
		fail_msg("ClickUp download: %s", c.msg);
	return c;
}

static size_t cu_count(struct env *e, const char *task)
{
	struct acs_clickup_task *t = cu_get(e, task);
	size_t n = t->n_attachments;
	acs_clickup_task_free(t);
	return n;
}

static void assert_bytes(struct blob_cap c, const char *want, size_t len)
{
	assert_int_equal(c.len, len);
	if (len)
		assert_memory_equal(c.data, want, len);
	free(c.data);
}

struct outcome {
	int done;
	enum acs_job_outcome o;
	char msg[ACS_ERR_LEN];
};

static void on_done(enum acs_job_outcome o, const char *msg, void *arg)
{
	struct outcome *c = arg;
	c->o = o;
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
	c->done++;
}

static enum acs_job_outcome sync_pair(struct t *t, const struct pair *p)
{
	struct outcome c = { 0 };
	assert_int_equal(acs_attachments_sync_pair(t->a, p->sync_id, p->ado_id, p->cu_id, NULL,
						   NULL, on_done, &c),
			 0);
	acs_test_run_until(&t->e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.done, 1);
	if (c.o != ACS_JOB_DONE)
		print_message("sync_pair: %s\n", c.msg);
	return c.o;
}

/* --- fixture ---------------------------------------------------------------------------- */

static struct t *setup_with(const char *extra)
{
	struct t *t = acs_xcalloc(1, sizeof(*t));
	t->e = acs_xcalloc(1, sizeof(*t->e));
	char *text = acs_xasprintf("%s%s", cfg_base, extra ? extra : "");
	sim_env_setup(t->e, text);
	free(text);
	/* Temporary files next to the test's database. */
	char *db = acs_xasprintf("[database]\nurl = sqlite:%s\n", t->e->db);
	assert_int_equal(acs_config_load_string(t->e->cfg, "db.ini", db, NULL), 0);
	free(db);
	char err[ACS_ERR_LEN] = "";
	t->a = acs_attachments_new(&t->e->loop, t->e->st, t->e->ado, t->e->cu, t->e->cfg, err);
	if (!t->a)
		fail_msg("attachments: %s", err);
	ado_reqs(t->e);
	cu_reqs(t->e);
	return t;
}

static int setup(void **state)
{
	*state = setup_with(NULL);
	return 0;
}

static int setup_small_cap(void **state)
{
	*state = setup_with("[sync]\nattachment_max_bytes = 1000\n");
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;
	int closed = 0;
	acs_attachments_close(t->a, set_flag, &closed);
	acs_test_run_until(&t->e->loop, &closed, WAIT_MS);
	sim_env_teardown(t->e);
	free(t);
	return 0;
}

static void pair_free(struct pair *p)
{
	free(p->cu_id);
}

static void sha_hex(const void *data, size_t len, char out[65])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, data, len);
	sodium_bin2hex(out, 65, d, sizeof(d));
}

/* --- tests ------------------------------------------------------------------------------ */

/* 0 bytes, 1 byte and 5 MiB from ADO reach ClickUp byte for byte, once. */
static void test_ado_to_clickup(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "ado files", now_ms());
	char *big = random_bytes(5 * MIB);
	ado_attach(e, p.ado_id, "empty.txt", "", 0);
	ado_attach(e, p.ado_id, "one.bin", "x", 1);
	ado_attach(e, p.ado_id, "big file.bin", big, 5 * MIB);
	ado_reqs(e);
	cu_reqs(e);

	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(cu_count(e, p.cu_id), 3);
	assert_bytes(cu_file(e, p.cu_id, "empty.txt"), "", 0);
	assert_bytes(cu_file(e, p.cu_id, "one.bin"), "x", 1);
	assert_bytes(cu_file(e, p.cu_id, "big file.bin"), big, 5 * MIB);
	struct reqs r = ado_reqs(e);
	assert_int_equal(r.writes, 0); /* nothing went back to ADO */
	r = cu_reqs(e);
	assert_int_equal(r.writes, 3);

	/* The rows: three done, digest and size of the bytes. */
	char hex[65];
	sha_hex(big, 5 * MIB, hex);
	assert_int_equal(sim_env_sql(e,
				     "SELECT count(*) FROM attachment_map WHERE sync_id = %" PRId64
				     " AND state = 'done' AND origin = 'ado'"
				     " AND clickup_attachment_id IS NOT NULL",
				     p.sync_id),
			 3);
	assert_int_equal(sim_env_sql(e,
				     "SELECT count(*) FROM attachment_map"
				     " WHERE file_name = 'big file.bin'"
				     " AND size = %u AND sha256 = '%s'",
				     5 * MIB, hex),
			 1);
	assert_int_equal(sim_env_sql(e, "SELECT count(*) FROM sync_log"
					" WHERE action = 'attachment'"),
			 3);

	/* Again: no call writes anything, and the copies are not copied back. */
	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(ado_reqs(e).writes, 0);
	assert_int_equal(cu_reqs(e).writes, 0);
	assert_int_equal(ado_count(e, p.ado_id), 3);
	assert_int_equal(cu_count(e, p.cu_id), 3);
	struct acs_attachments_stats st;
	acs_attachments_stats(t->a, &st);
	assert_int_equal(st.to_clickup, 3);
	assert_int_equal(st.to_ado, 0);
	free(big);
	pair_free(&p);
}

/* The other way, with the task JSON given by the caller. */
static void test_clickup_to_ado(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "clickup files", now_ms());
	char *big = random_bytes(5 * MIB);
	cu_attach(e, p.cu_id, "empty.txt", "", 0);
	cu_attach(e, p.cu_id, "one.bin", "y", 1);
	cu_attach(e, p.cu_id, "big.bin", big, 5 * MIB);
	ado_reqs(e);
	cu_reqs(e);

	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(ado_count(e, p.ado_id), 3);
	assert_bytes(ado_file(e, p.ado_id, "empty.txt"), "", 0);
	assert_bytes(ado_file(e, p.ado_id, "one.bin"), "y", 1);
	assert_bytes(ado_file(e, p.ado_id, "big.bin"), big, 5 * MIB);
	assert_int_equal(cu_reqs(e).writes, 0);
	/* Per file: one upload and one PATCH. */
	assert_int_equal(ado_reqs(e).writes, 6);

	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(ado_reqs(e).writes, 0);
	assert_int_equal(cu_reqs(e).writes, 0);
	assert_int_equal(cu_count(e, p.cu_id), 3);
	free(big);
	pair_free(&p);
}

/* Over the cap: a comment with a link on the twin, once; also when the listing does not
 * give the size (the download stops at the cap). */
static void test_over_cap(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "big files", now_ms());
	char *big = random_bytes(5000);
	cu_attach(e, p.cu_id, "large.bin", big, 5000);
	ado_attach(e, p.ado_id, "large-ado.bin", big, 5000);
	cu_attach(e, p.cu_id, "small.bin", big, 1000); /* exactly the cap: copied */
	ado_reqs(e);
	cu_reqs(e);

	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(ado_count(e, p.ado_id), 2); /* large-ado.bin + small.bin */
	assert_bytes(ado_file(e, p.ado_id, "small.bin"), big, 1000);
	assert_int_equal(cu_count(e, p.cu_id), 2); /* nothing copied to ClickUp */
	struct reqs ra = ado_reqs(e), rc = cu_reqs(e);
	assert_non_null(strstr(ra.paths, "/comments"));
	assert_non_null(strstr(rc.paths, "/comment"));
	assert_int_equal(sim_env_sql(e, "SELECT count(*) FROM attachment_map"
					" WHERE state = 'linked'"),
			 2);
	char *url = acs_xasprintf("%s/%s/%s/_apis/wit/workItems/%" PRId64 "/comments?api-version=7."
				  "1-preview.4",
				  e->ado_origin, e->org, e->project, p.ado_id);
	char auth[200], cred[160], b64[256];
	snprintf(cred, sizeof(cred), ":%s", e->pat);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(auth, sizeof(auth), "Authorization: Basic %s", b64);
	char *comments = http(e, "GET", url, auth, NULL);
	assert_non_null(strstr(comments, "large.bin"));
	assert_non_null(strstr(comments, "/attachments/"));
	free(comments);
	free(url);

	/* Once. */
	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(ado_reqs(e).writes, 0);
	assert_int_equal(cu_reqs(e).writes, 0);

	/* A task listing without sizes: the download is cut at the cap. */
	struct pair q = pair_new(e, "no sizes", now_ms());
	cu_attach(e, q.cu_id, "unsized.bin", big, 5000);
	char *turl = acs_xasprintf("%s/task/%s", e->cu_base, q.cu_id);
	char tok[160];
	snprintf(tok, sizeof(tok), "Authorization: %s", e->cu_token);
	char *body = http(e, "GET", turl, tok, NULL);
	json_t *task = json_loads(body, 0, NULL);
	assert_non_null(task);
	size_t i;
	json_t *att;
	json_array_foreach(json_object_get(task, "attachments"), i, att) json_object_del(att, "siz"
											      "e");
	struct outcome c = { 0 };
	assert_int_equal(acs_attachments_sync_pair(t->a, q.sync_id, q.ado_id, q.cu_id, NULL, task,
						   on_done, &c),
			 0);
	json_decref(task);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.o, ACS_JOB_DONE);
	assert_int_equal(ado_count(e, q.ado_id), 0);
	assert_int_equal(sim_env_sql(e,
				     "SELECT count(*) FROM attachment_map WHERE sync_id = %" PRId64
				     " AND state = 'linked'",
				     q.sync_id),
			 1);
	free(body);
	free(turl);
	free(big);
	pair_free(&p);
	pair_free(&q);
}

/* A crash after the upload, before the row was completed: the twin is found by name and
 * size and adopted, not uploaded again. A pending row whose upload never happened is
 * uploaded once. */
static void test_crash_recovery(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "crash", now_ms());
	ado_attach(e, p.ado_id, "report.pdf", "PDFDATA", 7);
	ado_attach(e, p.ado_id, "never.txt", "abc", 3);
	struct acs_ado_work_item *wi = ado_get(e, p.ado_id);
	char *guid[2] = { NULL, NULL };
	for (size_t i = 0; i < wi->n_relations; i++) {
		const char *u = wi->relations[i].url;
		const char *g = strstr(u, "/attachments/") + strlen("/attachments/");
		guid[!strcmp(wi->relations[i].name, "never.txt")] = acs_xstrndup(g, 36);
	}
	acs_ado_work_item_free(wi);
	/* What a crash leaves: both rows pending, one copy already on ClickUp. */
	sim_env_sql(e,
		    "INSERT INTO attachment_map (sync_id, ado_attachment_id, file_name, size,"
		    " origin, state, created_at, updated_at) VALUES"
		    " (%" PRId64 ", '%s', 'report.pdf', 7, 'ado', 'pending', 1, 1),"
		    " (%" PRId64 ", '%s', 'never.txt', 3, 'ado', 'pending', 1, 1)",
		    p.sync_id, guid[0], p.sync_id, guid[1]);
	cu_attach(e, p.cu_id, "report.pdf", "PDFDATA", 7);
	ado_reqs(e);
	cu_reqs(e);

	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	struct reqs r = cu_reqs(e);
	assert_int_equal(r.writes, 1); /* never.txt only */
	assert_non_null(strstr(r.paths, "/attachment"));
	assert_int_equal(ado_reqs(e).writes, 0); /* the ClickUp copy is not copied back */
	assert_int_equal(cu_count(e, p.cu_id), 2);
	assert_bytes(cu_file(e, p.cu_id, "report.pdf"), "PDFDATA", 7);
	assert_bytes(cu_file(e, p.cu_id, "never.txt"), "abc", 3);
	assert_int_equal(sim_env_sql(e,
				     "SELECT count(*) FROM attachment_map WHERE sync_id = %" PRId64
				     " AND state = 'done' AND clickup_attachment_id IS NOT NULL",
				     p.sync_id),
			 2);
	struct acs_attachments_stats st;
	acs_attachments_stats(t->a, &st);
	assert_int_equal(st.adopted, 1);
	assert_int_equal(st.to_clickup, 1);
	free(guid[0]);
	free(guid[1]);
	pair_free(&p);
}

/* An ADO upload recorded but not linked (crash before the PATCH): linked, not
 * uploaded again. */
static void test_resume_link(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "resume link", now_ms());
	cu_attach(e, p.cu_id, "notes.txt", "hello", 5);
	struct acs_clickup_task *task = cu_get(e, p.cu_id);
	char *cu_att = acs_xstrdup(task->attachments[0].id);
	acs_clickup_task_free(task);
	struct ref_cap c = { 0 };
	assert_int_equal(acs_ado_upload_attachment(e->ado, "notes.txt", "hello", 5, on_ref, &c), 0);
	acs_test_run_until(&e->loop, &c.done, WAIT_MS);
	const char *g = strstr(c.url, "/attachments/") + strlen("/attachments/");
	char *guid = acs_xstrndup(g, 36);
	sim_env_sql(e,
		    "INSERT INTO attachment_map (sync_id, clickup_attachment_id, ado_attachment_id,"
		    " ado_url, file_name, size, origin, state, created_at, updated_at) VALUES "
		    "(%" PRId64 ", '%s', '%s', '%s', 'notes.txt', 5, 'clickup', 'uploaded', 1, 1)",
		    p.sync_id, cu_att, guid, c.url);
	ado_reqs(e);
	cu_reqs(e);
	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	struct reqs r = ado_reqs(e);
	assert_int_equal(r.writes, 1);
	assert_non_null(strstr(r.paths, "PATCH"));
	assert_int_equal(cu_reqs(e).writes, 0);
	assert_bytes(ado_file(e, p.ado_id, "notes.txt"), "hello", 5);
	free(guid);
	free(cu_att);
	free(c.url);
	pair_free(&p);
}

static void on_scan(int rc, const char *msg, void *arg)
{
	if (rc)
		fail_msg("scan: %s", msg);
	*(int *)arg = 1;
}

/* The scan finds new attachments on both sides of recently active pairs, and leaves
 * pairs older than attachment_scan_days alone. */
static void test_scan(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair fresh = pair_new(e, "fresh", now_ms());
	struct pair old = pair_new(e, "old", now_ms() - 30LL * 86400000);
	cu_attach(e, fresh.cu_id, "from-clickup.txt", "cu", 2);
	ado_attach(e, fresh.ado_id, "from-ado.txt", "ado", 3);
	cu_attach(e, old.cu_id, "stale.txt", "old", 3);
	ado_reqs(e);
	cu_reqs(e);

	int done = 0;
	assert_int_equal(acs_attachments_scan(t->a, on_scan, &done), 0);
	assert_int_equal(acs_attachments_scan(t->a, NULL, NULL), -EBUSY);
	acs_test_run_until(&e->loop, &done, WAIT_MS);
	assert_bytes(ado_file(e, fresh.ado_id, "from-clickup.txt"), "cu", 2);
	assert_bytes(cu_file(e, fresh.cu_id, "from-ado.txt"), "ado", 3);
	assert_int_equal(ado_count(e, old.ado_id), 0);

	/* A second round copies nothing. */
	ado_reqs(e);
	cu_reqs(e);
	done = 0;
	assert_int_equal(acs_attachments_scan(t->a, on_scan, &done), 0);
	acs_test_run_until(&e->loop, &done, WAIT_MS);
	/* The batch read is a POST; nothing else is written. */
	struct reqs ra = ado_reqs(e);
	assert_int_equal(ra.writes, 1);
	assert_non_null(strstr(ra.paths, "workitemsbatch"));
	assert_int_equal(cu_reqs(e).writes, 0);
	struct acs_attachments_stats st;
	acs_attachments_stats(t->a, &st);
	assert_int_equal(st.scans, 2);
	pair_free(&fresh);
	pair_free(&old);
}

/* Two calls for one pair at once: the second waits for the first; one copy. */
static void test_same_pair_twice(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "twice", now_ms());
	cu_attach(e, p.cu_id, "a.txt", "aaaa", 4);
	struct outcome c1 = { 0 }, c2 = { 0 };
	assert_int_equal(acs_attachments_sync_pair(t->a, p.sync_id, p.ado_id, p.cu_id, NULL, NULL,
						   on_done, &c1),
			 0);
	assert_int_equal(acs_attachments_sync_pair(t->a, p.sync_id, p.ado_id, p.cu_id, NULL, NULL,
						   on_done, &c2),
			 0);
	acs_test_run_until(&e->loop, &c2.done, WAIT_MS);
	assert_int_equal(c1.done, 1);
	assert_int_equal(c1.o, ACS_JOB_DONE);
	assert_int_equal(c2.o, ACS_JOB_DONE);
	assert_int_equal(ado_count(e, p.ado_id), 1);
	pair_free(&p);
}

/* A retryable failure (the upload answers 503) ends the job with RETRY and leaves a
 * pending row; the next call copies the file, once. */
static void test_retry(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	struct pair p = pair_new(e, "retry", now_ms());
	ado_attach(e, p.ado_id, "r.txt", "retry", 5);
	fault(e, e->cu_origin,
	      "{\"method\":\"POST\",\"path\":\"/attachment\",\"status\":503,\"count\":1}");
	assert_int_equal(sync_pair(t, &p), ACS_JOB_RETRY);
	assert_int_equal(sim_env_sql(e, "SELECT count(*) FROM attachment_map"
					" WHERE state = 'pending'"),
			 1);
	assert_int_equal(sync_pair(t, &p), ACS_JOB_DONE);
	assert_int_equal(cu_count(e, p.cu_id), 1);
	assert_bytes(cu_file(e, p.cu_id, "r.txt"), "retry", 5);
	pair_free(&p);
}

/* attachment_max_bytes = 0: nothing copied, DONE from the loop. */
static void test_disabled(void **state)
{
	(void)state;
	struct t *t = setup_with("[sync]\nattachment_max_bytes = 0\n");
	struct pair p = pair_new(t->e, "off", now_ms());
	cu_attach(t->e, p.cu_id, "x.txt", "x", 1);
	struct outcome c = { 0 };
	assert_int_equal(acs_attachments_sync_pair(t->a, p.sync_id, p.ado_id, p.cu_id, NULL, NULL,
						   on_done, &c),
			 0);
	assert_int_equal(c.done, 0);
	acs_test_run_until(&t->e->loop, &c.done, WAIT_MS);
	assert_int_equal(c.o, ACS_JOB_DONE);
	assert_int_equal(ado_count(t->e, p.ado_id), 0);
	pair_free(&p);
	void *s = t;
	teardown(&s);
}

/* --- the streaming client calls with retries ------------------------------------------ */

struct file_cap {
	int done;
	enum acs_rest_class cls;
	uint64_t bytes;
	unsigned restarts;
	uint64_t seen;
	char msg[ACS_ERR_LEN];
};

static void on_file(const struct acs_clickup_result *res, uint64_t bytes, void *arg)
{
	struct file_cap *c = arg;
	c->cls = res->cls;
	c->bytes = bytes;
	snprintf(c->msg, sizeof(c->msg), "%s", res->message);
	c->done = 1;
}

static void on_seen(const void *data, size_t len, void *arg)
{
	struct file_cap *c = arg;
	if (!data) {
		c->restarts++;
		c->seen = 0;
	}
	c->seen += len;
}

/* A 503 on the first attempt of an upload from a file and of a download into a file:
 * the retry starts over from byte 0 (the upload re-reads the file, the download rewrites
 * it and its byte observer is reset), and the bytes arrive intact. */
static void test_stream_retry(void **state)
{
	struct t *t = *state;
	struct env *e = t->e;
	char err[ACS_ERR_LEN] = "";
	struct acs_governor_opts gc = fast_governor(ACS_GOVERNOR_CLICKUP);
	struct acs_clickup_client_opts co = {
		.base_url = e->cu_base, .token = e->cu_token, .governor = &gc, .max_attempts = 3
	};
	struct acs_clickup_client *cu = acs_clickup_client_new(&e->loop, e->cl, &co, err);
	assert_non_null(cu);
	char *task = cu_human_create(e, "stream retry");
	size_t len = 3 * MIB + 5;
	char *data = random_bytes(len);
	char *src = acs_xasprintf("%s/src.bin", e->dir), *dst = acs_xasprintf("%s/dst.bin", e->dir);
	FILE *f = fopen(src, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	uv_fs_t req;
	uv_file in = uv_fs_open(NULL, &req, src, UV_FS_O_RDONLY, 0, NULL);
	uv_fs_req_cleanup(&req);
	uv_file out = uv_fs_open(NULL, &req, dst, UV_FS_O_RDWR | UV_FS_O_CREAT, 0600, NULL);
	uv_fs_req_cleanup(&req);
	assert_true(in >= 0 && out >= 0);

	fault(e, e->cu_origin, "{\"method\":\"POST\",\"path\":\"/attachment\",\"status\":503}");
	struct att_cap ac = { 0 };
	assert_int_equal(acs_clickup_upload_attachment_file(cu, ACS_GOVERNOR_INTERACTIVE, task,
							    "streamed.bin", NULL, in, 0, len, 0,
							    on_att, &ac),
			 0);
	acs_test_run_until(&e->loop, &ac.done, WAIT_MS);
	if (ac.cls != ACS_REST_OK)
		fail_msg("upload: %s", ac.msg);
	struct acs_clickup_task *tk = cu_get(e, task);
	assert_int_equal(tk->n_attachments, 1);
	char *url = acs_xstrdup(tk->attachments[0].url);
	acs_clickup_task_free(tk);

	fault(e, e->cu_origin, "{\"method\":\"GET\",\"path\":\"/attachments/\",\"status\":503}");
	struct file_cap fc = { 0 };
	assert_int_equal(acs_clickup_download_to_file(cu, ACS_GOVERNOR_INTERACTIVE, url, out, len,
						      0, on_seen, &fc, on_file, &fc),
			 0);
	acs_test_run_until(&e->loop, &fc.done, WAIT_MS);
	if (fc.cls != ACS_REST_OK)
		fail_msg("download: %s", fc.msg);
	assert_int_equal(fc.bytes, len);
	assert_int_equal(fc.seen, len);
	assert_int_equal(fc.restarts, 2); /* one per attempt */
	char *back = acs_xmalloc(len);
	f = fopen(dst, "rb");
	assert_non_null(f);
	assert_int_equal(fread(back, 1, len, f), len);
	fclose(f);
	assert_memory_equal(back, data, len);

	/* One byte over the ceiling: ACS_ETOOBIG, permanent. */
	struct file_cap big = { 0 };
	assert_int_equal(acs_clickup_download_to_file(cu, ACS_GOVERNOR_INTERACTIVE, url, out,
						      len - 1, 0, NULL, NULL, on_file, &big),
			 0);
	acs_test_run_until(&e->loop, &big.done, WAIT_MS);
	assert_int_equal(big.cls, ACS_REST_PERMANENT);

	uv_fs_close(NULL, &req, in, NULL);
	uv_fs_req_cleanup(&req);
	uv_fs_close(NULL, &req, out, NULL);
	uv_fs_req_cleanup(&req);
	int closed = 0;
	acs_clickup_client_close(cu, set_flag, &closed);
	acs_test_run_until(&e->loop, &closed, WAIT_MS);
	free(back);
	free(url);
	free(src);
	free(dst);
	free(data);
	free(task);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ado_to_clickup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clickup_to_ado, setup, teardown),
		cmocka_unit_test_setup_teardown(test_over_cap, setup_small_cap, teardown),
		cmocka_unit_test_setup_teardown(test_crash_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_same_pair_twice, setup, teardown),
		cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
		cmocka_unit_test(test_disabled),
		cmocka_unit_test_setup_teardown(test_stream_retry, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
