/* SPDX-License-Identifier: MIT */
/* Tests for the webhook intake over real HTTP on loopback (curl_loop as the client
 * in the same loop) with a real store: authentication (401), malformed bodies
 * (400), ignored types (202), acceptance only after the commit, idempotent
 * redelivery (ClickUp's twin events included), signatures over the raw bytes,
 * 503 when the store refuses, and the stored webhook secrets. */
#include <errno.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "curl_loop.h"
#include "err.h"
#include "http_server.h"
#include "inbox.h"
#include "intake.h"
#include "log.h"
#include "mem.h"
#include "store.h"

#define WAIT_MS 20000
#define WEBHOOK_ID "3c1e9d2a-5b7f-4e21-9a0c-6d8f2b4e1a77"
#define SECRET "K3Q9ZP1WX7M2TB5RN8VC4YD6HF0LJ2SA9QE3UK7PW1MZ5XT8RB4NV6CY2DH0GF3J"
#define ADO_USER "hook"
#define ADO_PASS "s3cret-pw"
#define ADO_HDR "hdr-secret-123"
#define PRIO_KEY "clickup:86b2x4k7q:4697739901447610368"

struct fx {
	uv_loop_t loop;
	char *dir;
	char *path;
	struct acs_store *st;
	struct acs_http_server *srv;
	struct acs_intake *in;
	struct acs_curl_loop *cl;
	int port;
	int commits;
	int srv_closed;
	int in_closed;
	int cl_closed;
	int st_closed;
};

static void on_commit(const char *item_key, void *arg)
{
	struct fx *fx = arg;
	assert_true(!strncmp(item_key, "ado:", 4) || !strncmp(item_key, "clickup:", 8));
	fx->commits++;
}

static void loaded_done(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	*(int *)arg = 1;
}

static void fx_init(struct fx *fx)
{
	char err[ACS_ERR_LEN] = "";
	memset(fx, 0, sizeof(*fx));
	assert_true(sodium_init() >= 0);
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	fx->dir = acs_test_tmpdir();
	fx->path = acs_xasprintf("%s/sync.db", fx->dir);
	if (acs_store_open(&fx->loop, fx->path, &fx->st, err))
		fail_msg("store: %s", err);
	struct acs_http_server_opts o;
	acs_http_server_opts_defaults(&o);
	o.access_log = false;
	fx->srv = acs_http_server_new(&fx->loop, &o, err);
	assert_non_null(fx->srv);
	struct acs_intake_opts io = { .ado_username = ADO_USER,
				      .ado_password = ADO_PASS,
				      .ado_header_secret = ADO_HDR };
	fx->in = acs_intake_new(&fx->loop, fx->srv, fx->st, &io, on_commit, fx);
	/* As at startup: the (empty) stored secrets are loaded first. */
	int loaded = 0;
	assert_int_equal(acs_intake_load_secrets(fx->in, loaded_done, &loaded), 0);
	acs_test_run_until(&fx->loop, &loaded, 20000);
	assert_int_equal(acs_intake_set_clickup_secret(fx->in, WEBHOOK_ID, SECRET), 0);
	assert_int_equal(acs_http_server_listen(fx->srv, "127.0.0.1:0", err), 0);
	fx->port = acs_http_server_port(fx->srv);
	fx->cl = acs_curl_loop_new(&fx->loop, err);
	assert_non_null(fx->cl);
}

static void set_flag(void *arg)
{
	*(int *)arg = 1;
}

static void on_store_closed(void *arg)
{
	struct fx *fx = arg;
	fx->st_closed = 1;
	fx->st = NULL;
}

/* Reverse order of construction: no more requests, then the intake, then the store. */
static void fx_fini(struct fx *fx)
{
	acs_curl_loop_close(fx->cl, set_flag, &fx->cl_closed);
	acs_test_run_until(&fx->loop, &fx->cl_closed, WAIT_MS);
	acs_http_server_close(fx->srv, set_flag, &fx->srv_closed);
	acs_test_run_until(&fx->loop, &fx->srv_closed, WAIT_MS);
	acs_intake_close(fx->in, set_flag, &fx->in_closed);
	acs_intake_close(fx->in, set_flag, &fx->in_closed); /* idempotent */
	acs_test_run_until(&fx->loop, &fx->in_closed, WAIT_MS);
	if (fx->st) {
		acs_test_log_capture_begin();
		acs_store_close(fx->st, on_store_closed, fx);
		acs_test_run_until(&fx->loop, &fx->st_closed, WAIT_MS);
		/* The cached INSERT was finalized before the writer closed. */
		assert_null(strstr(acs_test_log_captured(), "leaked"));
		acs_test_log_capture_end();
	}
	acs_test_loop_close(&fx->loop);
	acs_test_rmtree(fx->dir);
	free(fx->path);
	free(fx->dir);
}

/* ---- fixtures and signing ---- */

static char *read_fixture(const char *dir, const char *name, size_t *len)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	char *path = acs_xasprintf("%s/test/fixtures/%s/%s", root ? root : "..", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		fail_msg("cannot open %s", path);
	struct acs_buf b;
	acs_buf_init(&b, 16u << 20);
	char chunk[4096];
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		assert_int_equal(acs_buf_append(&b, chunk, n), 0);
	fclose(f);
	free(path);
	return acs_buf_steal(&b, len);
}

/* Replace the first occurrence of from in s (heap) by to; returns a new string. */
static char *replace(const char *s, const char *from, const char *to)
{
	const char *p = strstr(s, from);
	assert_non_null(p);
	return acs_xasprintf("%.*s%s%s", (int)(p - s), s, to, p + strlen(from));
}

static void sign(const char *body, size_t len, const char *secret, char hex[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, (const unsigned char *)secret, strlen(secret));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_bin2hex(hex, 65, mac, sizeof(mac));
}

/* ---- HTTP client ---- */

struct resp {
	struct fx *fx;
	int done;
	int error;
	long status;
	char body[512];
	char www_auth[128];
	/* read the row right after the answer arrived */
	const char *check_key;
	int check_flag;
	int64_t check_count;
};

static int count_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct resp *r = arg;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM inbox WHERE event_key = ?1", -1, &s,
				    NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, "prepare", err);
	sqlite3_bind_text(s, 1, r->check_key, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		r->check_count = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return 0;
}

static void count_done(int rc, const char *err, void *arg)
{
	(void)err;
	struct resp *r = arg;
	assert_int_equal(rc, 0);
	r->check_flag = 1;
}

static void on_response(const struct acs_http_response *resp, void *arg)
{
	struct resp *r = arg;
	r->error = resp->error;
	r->status = resp->status;
	snprintf(r->body, sizeof(r->body), "%s", resp->body);
	const char *h = acs_http_response_header(resp, "WWW-Authenticate");
	snprintf(r->www_auth, sizeof(r->www_auth), "%s", h ? h : "");
	/* The 200 just arrived: the row must already be readable. */
	if (r->check_key && resp->status == 200)
		assert_int_equal(acs_store_read(r->fx->st, count_fn, count_done, r), 0);
	r->done = 1;
}

static void post_async(struct fx *fx, const char *path, const char *const *headers,
		       const char *body, size_t len, struct resp *r)
{
	char url[128];
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", fx->port, path);
	memset(r, 0, sizeof(*r));
	r->fx = fx;
	struct acs_http_request req = { .method = "POST",
					.url = url,
					.headers = headers,
					.body = body,
					.body_len = len,
					.timeout_ms = WAIT_MS };
	assert_int_equal(acs_curl_loop_request(fx->cl, &req, on_response, r, NULL), 0);
}

static long post(struct fx *fx, const char *path, const char *const *headers, const char *body,
		 size_t len, struct resp *r)
{
	post_async(fx, path, headers, body, len, r);
	acs_test_run_until(&fx->loop, &r->done, WAIT_MS);
	assert_int_equal(r->error, 0);
	return r->status;
}

/* POST to /webhooks/clickup signed with secret (NULL: no X-Signature). */
static long post_clickup(struct fx *fx, const char *body, size_t len, const char *secret,
			 struct resp *r)
{
	char hex[65], sig[96];
	const char *headers[3] = { "Content-Type: application/json", NULL, NULL };
	if (secret) {
		sign(body, len, secret, hex);
		snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
		headers[1] = sig;
	}
	return post(fx, "/webhooks/clickup", headers, body, len, r);
}

static long post_ado(struct fx *fx, const char *body, size_t len, const char *auth_header,
		     struct resp *r)
{
	const char *headers[3] = { "Content-Type: application/json", auth_header, NULL };
	return post(fx, "/webhooks/ado", headers, body, len, r);
}

static const char *basic(const char *user, const char *pass, char *out, size_t outlen)
{
	char raw[128], b64[256];
	int n = snprintf(raw, sizeof(raw), "%s:%s", user, pass);
	sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)raw, (size_t)n,
			  sodium_base64_VARIANT_ORIGINAL);
	snprintf(out, outlen, "Authorization: Basic %s", b64);
	return out;
}

/* ---- store checks ---- */

struct q {
	int flag;
	const char *sql;
	char text[16384];
	int64_t i;
};

static int q_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	struct q *q = arg;
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, q->sql, -1, &s, NULL);
	if (rc != SQLITE_OK)
		return acs_store_error(db, rc, q->sql, err);
	if (sqlite3_step(s) == SQLITE_ROW) {
		q->i = sqlite3_column_int64(s, 0);
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(q->text, sizeof(q->text), "%s", t ? (const char *)t : "");
	}
	sqlite3_finalize(s);
	return 0;
}

static void q_done(int rc, const char *err, void *arg)
{
	struct q *q = arg;
	if (rc)
		fail_msg("%s: %s", q->sql, err);
	q->flag = 1;
}

static struct q query(struct fx *fx, const char *sql)
{
	struct q q = { .sql = sql };
	assert_int_equal(acs_store_read(fx->st, q_fn, q_done, &q), 0);
	acs_test_run_until(&fx->loop, &q.flag, WAIT_MS);
	return q;
}

static int64_t rows(struct fx *fx)
{
	return query(fx, "SELECT count(*) FROM inbox").i;
}

/* ---- tests ---- */

static void test_clickup_accept_duplicate_twin(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	size_t len;
	fx_init(&fx);
	/* The fixture as it is on disk: pretty-printed, signed over those bytes. */
	char *body = read_fixture("clickup", "clickup-webhook-taskPriorityUpdated.json", &len);

	/* Committed before the 200: a read issued when the 200 arrives sees the row. */
	char hex[65], sig[96];
	sign(body, len, SECRET, hex);
	snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
	const char *hdrs[] = { "Content-Type: application/json", sig, NULL };
	post_async(&fx, "/webhooks/clickup", hdrs, body, len, &r);
	r.check_key = PRIO_KEY;
	acs_test_run_until(&fx.loop, &r.done, WAIT_MS);
	assert_int_equal(r.status, 200);
	assert_string_equal(r.body, "{\"status\":\"accepted\"}");
	acs_test_run_until(&fx.loop, &r.check_flag, WAIT_MS);
	assert_int_equal(r.check_count, 1);
	assert_int_equal(fx.commits, 1);

	/* Redelivery of the same bytes. */
	assert_int_equal(post_clickup(&fx, body, len, SECRET, &r), 200);
	assert_string_equal(r.body, "{\"status\":\"duplicate\"}");
	assert_int_equal(fx.commits, 1);

	assert_string_equal(query(&fx, "SELECT body FROM inbox").text, body);
	assert_string_equal(query(&fx, "SELECT item_key || ' ' || event_type || ' ' || source ||"
				       " ' ' || state FROM inbox")
				    .text,
			    "clickup:86b2x4k7q updated clickup pending");

	/* ClickUp's twin: the same change as taskUpdated (same history item). */
	char *twin = replace(body, "taskPriorityUpdated", "taskUpdated");
	assert_int_equal(post_clickup(&fx, twin, strlen(twin), SECRET, &r), 200);
	assert_string_equal(r.body, "{\"status\":\"duplicate\"}");
	assert_int_equal(rows(&fx), 1);
	assert_int_equal(fx.commits, 1);

	/* A different change of the same task is a new event. */
	char *other = replace(body, "4697739901447610368", "4697739901447610999");
	assert_int_equal(post_clickup(&fx, other, strlen(other), SECRET, &r), 200);
	assert_string_equal(r.body, "{\"status\":\"accepted\"}");
	assert_int_equal(rows(&fx), 2);
	assert_int_equal(fx.commits, 2);

	struct acs_intake_stats st;
	acs_intake_stats(fx.in, &st);
	assert_int_equal(st.clickup.received, 4);
	assert_int_equal(st.clickup.accepted, 2);
	assert_int_equal(st.clickup.duplicates, 2);
	assert_int_equal(st.clickup.malformed, 0);
	assert_int_equal(st.clickup.unauthorized, 0);
	assert_int_equal(st.ado.received, 0);
	assert_int_equal(acs_intake_inflight(fx.in), 0);
	free(other);
	free(twin);
	free(body);
	fx_fini(&fx);
}

static void test_clickup_rejections(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	size_t len;
	char hex[65], sig[96];
	fx_init(&fx);
	char *body = read_fixture("clickup", "clickup-webhook-taskPriorityUpdated.json", &len);

	/* No signature, a wrong secret, an unknown webhook. */
	assert_int_equal(post_clickup(&fx, body, len, NULL, &r), 401);
	assert_non_null(strstr(r.body, "\"error\""));
	assert_int_equal(post_clickup(&fx, body, len, "not-the-secret", &r), 401);
	char *unknown = replace(body, WEBHOOK_ID, "0a0b0c0d-1111-4222-8333-444455556666");
	assert_int_equal(post_clickup(&fx, unknown, strlen(unknown), SECRET, &r), 401);
	/* While a registration may be creating that webhook, its deliveries are
	 * asked to come back (503) instead of being refused (ClickUp suspends a
	 * webhook on 401); nothing is stored either way. */
	acs_intake_expect_secrets(fx.in, true);
	assert_int_equal(post_clickup(&fx, unknown, strlen(unknown), SECRET, &r), 503);
	acs_intake_expect_secrets(fx.in, false);
	assert_int_equal(post_clickup(&fx, unknown, strlen(unknown), SECRET, &r), 401);

	/* The signature covers the exact bytes: the same JSON re-serialised, or one
	 * more space, no longer matches the signature of the original bytes. */
	sign(body, len, SECRET, hex);
	snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
	const char *hdrs[] = { sig, NULL };
	json_t *j = json_loadb(body, len, 0, NULL);
	char *compact = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	assert_int_equal(post(&fx, "/webhooks/clickup", hdrs, compact, strlen(compact), &r), 401);
	char *spaced = acs_xasprintf("%s ", body);
	assert_int_equal(post(&fx, "/webhooks/clickup", hdrs, spaced, strlen(spaced), &r), 401);
	/* Upper-case hex is the same signature. */
	for (char *p = hex; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
	snprintf(sig, sizeof(sig), "X-Signature: %s", hex);
	assert_int_equal(post(&fx, "/webhooks/clickup", hdrs, body, len, &r), 200);

	/* Malformed: not JSON; signed but without task_id. */
	assert_int_equal(post_clickup(&fx, "{\"webhook_id\":", 14, SECRET, &r), 400);
	const char *no_task = "{\"event\":\"taskUpdated\",\"webhook_id\":\"" WEBHOOK_ID "\","
			      "\"history_items\":[{\"id\":\"1\"}]}";
	assert_int_equal(post_clickup(&fx, no_task, strlen(no_task), SECRET, &r), 400);
	assert_non_null(strstr(r.body, "malformed"));

	/* An event type the sync does not handle: accepted as ignored, not stored. */
	const char *list = "{\"event\":\"listCreated\",\"list_id\":\"9\",\"webhook_id\":"
			   "\"" WEBHOOK_ID "\",\"history_items\":[{\"id\":\"5\"}]}";
	assert_int_equal(post_clickup(&fx, list, strlen(list), SECRET, &r), 202);
	assert_string_equal(r.body, "{\"status\":\"ignored\"}");
	/* ... but only when signed. */
	assert_int_equal(post_clickup(&fx, list, strlen(list), "wrong", &r), 401);

	assert_int_equal(rows(&fx), 1);
	assert_int_equal(fx.commits, 1);
	struct acs_intake_stats st;
	acs_intake_stats(fx.in, &st);
	assert_int_equal(st.clickup.unauthorized, 7);
	assert_int_equal(st.clickup.malformed, 2);
	assert_int_equal(st.clickup.ignored, 1);
	assert_int_equal(st.clickup.accepted, 1);
	free(spaced);
	free(compact);
	free(unknown);
	free(body);
	fx_fini(&fx);
}

static void test_ado(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	size_t len, len2;
	char auth[256];
	fx_init(&fx);
	char *body = read_fixture("ado", "ado-webhook-workitem-updated.json", &len);
	char *created = read_fixture("ado", "ado-webhook-workitem-created.json", &len2);

	assert_int_equal(post_ado(&fx, body, len, NULL, &r), 401);
	assert_non_null(strstr(r.www_auth, "Basic"));
	assert_int_equal(post_ado(&fx, body, len, basic(ADO_USER, "wrong", auth, sizeof(auth)), &r),
			 401);
	assert_int_equal(post_ado(&fx, body, len, basic("other", ADO_PASS, auth, sizeof(auth)), &r),
			 401);
	assert_int_equal(post_ado(&fx, body, len, "X-ACS-Webhook-Secret: nope", &r), 401);
	/* Credentials are checked before the body: garbage without them is a 401. */
	assert_int_equal(post_ado(&fx, "not json", 8, NULL, &r), 401);

	r.check_key = NULL;
	assert_int_equal(
		post_ado(&fx, body, len, basic(ADO_USER, ADO_PASS, auth, sizeof(auth)), &r), 200);
	assert_string_equal(r.body, "{\"status\":\"accepted\"}");
	assert_string_equal(query(&fx, "SELECT item_key || ' ' || event_type || ' ' || source ||"
				       " ' ' || event_key FROM inbox")
				    .text,
			    "ado:1042 updated ado ado:1042:3:workitem.updated");
	assert_string_equal(query(&fx, "SELECT body FROM inbox").text, body);

	/* The same delivery through the header secret: a duplicate. */
	assert_int_equal(post_ado(&fx, body, len, "X-ACS-Webhook-Secret: " ADO_HDR, &r), 200);
	assert_string_equal(r.body, "{\"status\":\"duplicate\"}");
	assert_int_equal(post_ado(&fx, created, len2, "X-ACS-Webhook-Secret: " ADO_HDR, &r), 200);
	assert_string_equal(r.body, "{\"status\":\"accepted\"}");

	/* Authenticated but malformed, and an event type we do not sync. */
	assert_int_equal(post_ado(&fx, "{\"eventType\":", 13, "X-ACS-Webhook-Secret: " ADO_HDR, &r),
			 400);
	const char *push = "{\"eventType\":\"git.push\",\"resource\":{}}";
	assert_int_equal(post_ado(&fx, push, strlen(push), "X-ACS-Webhook-Secret: " ADO_HDR, &r),
			 202);
	assert_string_equal(r.body, "{\"status\":\"ignored\"}");

	assert_int_equal(rows(&fx), 2);
	assert_int_equal(fx.commits, 2);
	struct acs_intake_stats st;
	acs_intake_stats(fx.in, &st);
	assert_int_equal(st.ado.received, 10);
	assert_int_equal(st.ado.unauthorized, 5);
	assert_int_equal(st.ado.accepted, 2);
	assert_int_equal(st.ado.duplicates, 1);
	assert_int_equal(st.ado.malformed, 1);
	assert_int_equal(st.ado.ignored, 1);
	free(created);
	free(body);
	fx_fini(&fx);
}

/* ADO with nothing configured is closed. */
static void test_ado_unconfigured(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	size_t len;
	char auth[256];
	char err[ACS_ERR_LEN];
	fx_init(&fx);
	/* A second server with an intake without ADO credentials. */
	struct acs_http_server *srv = acs_http_server_new(&fx.loop, NULL, err);
	struct acs_intake *in = acs_intake_new(&fx.loop, srv, fx.st, NULL, NULL, NULL);
	assert_int_equal(acs_http_server_listen(srv, "127.0.0.1:0", err), 0);
	int port = fx.port;
	fx.port = acs_http_server_port(srv);
	char *body = read_fixture("ado", "ado-webhook-workitem-updated.json", &len);
	assert_int_equal(post_ado(&fx, body, len, basic("", "", auth, sizeof(auth)), &r), 401);
	assert_int_equal(post_ado(&fx, body, len, "X-ACS-Webhook-Secret: ", &r), 401);
	fx.port = port;
	int closed = 0;
	acs_http_server_close(srv, set_flag, &closed);
	acs_test_run_until(&fx.loop, &closed, WAIT_MS);
	closed = 0;
	acs_intake_close(in, set_flag, &closed);
	acs_test_run_until(&fx.loop, &closed, WAIT_MS);
	free(body);
	fx_fini(&fx);
}

/* Many deliveries at once share group commits; duplicates among them too. */
static void test_burst(void **state)
{
	(void)state;
	struct fx fx;
	enum {
		N = 40
	};
	struct resp r[N];
	char *bodies[N];
	char sigs[N][96];
	const char *hdrs[N][2];
	fx_init(&fx);
	for (int i = 0; i < N; i++) {
		char hex[65];
		bodies[i] = acs_xasprintf("{\"event\":\"taskUpdated\",\"task_id\":\"t%d\","
					  "\"webhook_id\":\"%s\",\"history_items\":[{\"id\":"
					  "\"%d\",\"field\":\"name\"}]}",
					  i % (N / 2), WEBHOOK_ID, i % (N / 2));
		sign(bodies[i], strlen(bodies[i]), SECRET, hex);
		snprintf(sigs[i], sizeof(sigs[i]), "X-Signature: %s", hex);
		hdrs[i][0] = sigs[i];
		hdrs[i][1] = NULL;
		post_async(&fx, "/webhooks/clickup", hdrs[i], bodies[i], strlen(bodies[i]), &r[i]);
	}
	int accepted = 0, dups = 0;
	for (int i = 0; i < N; i++) {
		acs_test_run_until(&fx.loop, &r[i].done, WAIT_MS);
		assert_int_equal(r[i].status, 200);
		accepted += !strcmp(r[i].body, "{\"status\":\"accepted\"}");
		dups += !strcmp(r[i].body, "{\"status\":\"duplicate\"}");
		free(bodies[i]);
	}
	assert_int_equal(accepted, N / 2);
	assert_int_equal(dups, N / 2);
	assert_int_equal(rows(&fx), N / 2);
	assert_int_equal(fx.commits, N / 2);
	fx_fini(&fx);
}

/* The store refuses (closing): 503, never 200. */
struct blocker {
	uv_sem_t sem;
	int flag;
};

static int block_fn(sqlite3 *db, void *arg, char err[ACS_ERR_LEN])
{
	(void)db;
	(void)err;
	struct blocker *b = arg;
	uv_sem_wait(&b->sem);
	return 0;
}

static void block_done(int rc, const char *err, void *arg)
{
	(void)rc;
	(void)err;
	struct blocker *b = arg;
	b->flag = 1;
}

static void test_store_refuses(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	size_t len;
	struct blocker b = { 0 };
	fx_init(&fx);
	char *body = read_fixture("clickup", "clickup-webhook-taskPriorityUpdated.json", &len);
	assert_int_equal(uv_sem_init(&b.sem, 0), 0);
	/* Keep the store alive but closing: the writer waits inside our job. */
	assert_int_equal(acs_store_write(fx.st, block_fn, block_done, &b), 0);
	acs_store_close(fx.st, on_store_closed, &fx);

	assert_int_equal(post_clickup(&fx, body, len, SECRET, &r), 503);
	assert_non_null(strstr(r.body, "\"error\""));
	assert_int_equal(fx.commits, 0);
	struct acs_intake_stats st;
	acs_intake_stats(fx.in, &st);
	assert_int_equal(st.clickup.failed, 1);
	assert_int_equal(st.clickup.accepted, 0);

	uv_sem_post(&b.sem);
	acs_test_run_until(&fx.loop, &fx.st_closed, WAIT_MS);
	assert_int_equal(b.flag, 1);
	uv_sem_destroy(&b.sem);
	free(body);
	fx_fini(&fx); /* the intake never used the cache: it closes without the store */
}

/* Secrets saved in the database come back with load. */
static void intake_done(int rc, const char *err, void *arg)
{
	(void)err;
	assert_int_equal(rc, 0);
	*(int *)arg = 1;
}

static void test_secrets_persist_and_load(void **state)
{
	(void)state;
	struct fx fx;
	struct resp r;
	int flag = 0;
	fx_init(&fx);
	const char *body = "{\"event\":\"taskCreated\",\"task_id\":\"t9\",\"webhook_id\":\"wh-"
			   "new\","
			   "\"history_items\":[{\"id\":\"77\",\"field\":\"task_creation\"}]}";
	assert_int_equal(
		acs_intake_save_clickup_secret(fx.in, "wh-new", "sek-123", intake_done, &flag), 0);
	acs_test_run_until(&fx.loop, &flag, WAIT_MS);
	assert_int_equal(acs_intake_clickup_secret_count(fx.in), 2);
	assert_string_equal(query(&fx, "SELECT value FROM meta WHERE key = "
				       "'clickup.webhook_secret.wh-new'")
				    .text,
			    "sek-123");

	/* Forget it in memory: the webhook is unknown. */
	assert_int_equal(acs_intake_set_clickup_secret(fx.in, "wh-new", NULL), 0);
	assert_int_equal(acs_intake_clickup_secret_count(fx.in), 1);
	assert_int_equal(post_clickup(&fx, body, strlen(body), "sek-123", &r), 401);

	/* As at startup: load from the database. */
	flag = 0;
	assert_int_equal(acs_intake_load_secrets(fx.in, intake_done, &flag), 0);
	acs_test_run_until(&fx.loop, &flag, WAIT_MS);
	assert_int_equal(acs_intake_clickup_secret_count(fx.in), 2);
	assert_int_equal(post_clickup(&fx, body, strlen(body), "sek-123", &r), 200);
	assert_string_equal(r.body, "{\"status\":\"accepted\"}");
	assert_string_equal(query(&fx, "SELECT event_type FROM inbox").text, "created");

	/* Replacing the secret takes effect at once. */
	assert_int_equal(acs_intake_set_clickup_secret(fx.in, "wh-new", "rotated"), 0);
	assert_int_equal(post_clickup(&fx, body, strlen(body), "sek-123", &r), 401);
	assert_int_equal(post_clickup(&fx, body, strlen(body), "rotated", &r), 200);
	assert_int_equal(acs_intake_set_clickup_secret(fx.in, "", "x"), -EINVAL);
	fx_fini(&fx);
}

int main(void)
{
	acs_log_set_level(ACS_LOG_ERR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clickup_accept_duplicate_twin),
		cmocka_unit_test(test_clickup_rejections),
		cmocka_unit_test(test_ado),
		cmocka_unit_test(test_ado_unconfigured),
		cmocka_unit_test(test_burst),
		cmocka_unit_test(test_store_refuses),
		cmocka_unit_test(test_secrets_persist_and_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
