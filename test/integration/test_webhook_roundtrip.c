/* SPDX-License-Identifier: MIT */
/* Acceptance test of the clients and the simulators: each service's client
 * drives its simulator (create, update, comment, attach), the simulator's
 * webhooks land on a local receiver built on http_server and are verified and
 * parsed by webhook.c, injected faults (429, 500, delay, drop) are survived,
 * and the received payloads are compared with the API examples' shapes.
 *
 * Everything runs on one uv loop: simulators, curl_loop, both clients and the
 * receiver. Webhook deliveries are queued by a simulator before it answers the
 * API call that caused them, so "the call returned and the simulator has no
 * delivery pending" means every delivery of that call has been received. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"

#include "ado_client.h"
#include "clickup_client.h"
#include "curl_loop.h"
#include "err.h"
#include "http_server.h"
#include "log.h"
#include "mem.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"
#include "webhook.h"

#define WAIT_MS 20000 /* generous for valgrind; a pass never waits this long */
#define MAX_DELIVERIES 64
#define DELAY_MS 300 /* injected answer delay, far below the clients' 30 s timeout */

#define ADO_HOOK_USER "ado-hook"
#define ADO_HOOK_PASSWORD "s3cr3t-shared-with-receiver"
#define ADO_HOOK_HEADER_SECRET "hdr-5f0c9a1e-roundtrip"

/* In an expected status list of the request log: any 2xx (create answers
 * 200 on one service and 201 on the other for the same kind of call). */
#define ST_2XX 200

/* ------------------------------------------------------------------------ */
/* Environment: simulators, curl_loop, clients and the receiver on one loop  */
/* ------------------------------------------------------------------------ */

/** One delivery the receiver accepted (signature or credentials checked). */
struct delivery {
	enum acs_webhook_source source;
	char *raw; /**< body bytes as received (what the signature covers) */
	size_t len;
	char *signature;     /**< ClickUp: X-Signature */
	char *authorization; /**< ADO: Authorization */
	char *secret_header; /**< ADO: ACS_WEBHOOK_ADO_SECRET_HEADER, NULL when absent */
	struct acs_webhook_event ev;
	json_t *json; /**< the body parsed, for the shape comparison */
};

struct env {
	uv_loop_t loop;
	struct sim *sim;
	struct sim_service *cu_svc, *ado_svc;
	struct acs_curl_loop *cl;
	struct acs_clickup_client *cu;
	struct acs_ado_client *ado;
	struct acs_http_server *rx;
	char rx_origin[64];

	/* The seeded world, as /_sim/info tells a client. */
	char *cu_base, *cu_token, *cu_team, *cu_list;
	int64_t cu_other_user;
	char *ado_base, *ado_org, *ado_project, *ado_pat, *ado_other_email;

	/* Receiver state. */
	char *cu_secret; /**< from the webhook creation answer; NULL until then */
	struct delivery d[MAX_DELIVERIES];
	size_t n;
	unsigned bad_signature, unauthorized, parse_failed, overflow;

	/* wait_until(): a check handle evaluating a predicate each iteration. */
	uv_check_t check;
	bool (*pred)(struct env *e);
	int pred_done;
};

static char *info_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	if (!s)
		fail_msg("/_sim/info: %s missing", key);
	return acs_xstrdup(s);
}

/* --- the receiver --- */

static struct delivery *record(struct env *e, enum acs_webhook_source src, const char *body,
			       size_t len)
{
	if (e->n == MAX_DELIVERIES) {
		e->overflow++;
		return NULL;
	}
	struct delivery *d = &e->d[e->n++];
	d->source = src;
	d->raw = acs_xstrndup(body, len);
	d->len = len;
	d->json = json_loadb(body, len, 0, NULL);
	return d;
}

static void rx_clickup(struct acs_http_req *req, void *arg)
{
	struct env *e = arg;
	char err[ACS_ERR_LEN] = "";
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	const char *sig = acs_http_req_header(req, "X-Signature");

	/* The secret is the one the webhook creation answered with. */
	if (!acs_webhook_clickup_signature_ok(body, len, sig, e->cu_secret)) {
		e->bad_signature++;
		acs_http_respond_error(req, 401, "unauthorized", "bad X-Signature");
		return;
	}
	struct delivery *d = record(e, ACS_WEBHOOK_SOURCE_CLICKUP, body, len);
	if (!d) {
		acs_http_respond_error(req, 503, "full", NULL);
		return;
	}
	d->signature = acs_xstrdup(sig);
	if (acs_webhook_parse_clickup(body, len, &d->ev, err)) {
		fprintf(stderr, "clickup delivery not parsed: %s\n", err);
		e->parse_failed++;
		acs_http_respond_error(req, 400, "bad payload", err);
		return;
	}
	acs_http_respond(req, 200, "application/json", "{}", 2);
}

static const struct acs_webhook_ado_auth rx_ado_auth = {
	.username = ADO_HOOK_USER,
	.password = ADO_HOOK_PASSWORD,
};

static void rx_ado(struct acs_http_req *req, void *arg)
{
	struct env *e = arg;
	char err[ACS_ERR_LEN] = "";
	size_t len;
	const char *body = acs_http_req_body(req, &len);
	const char *auth = acs_http_req_header(req, "Authorization");
	const char *secret = acs_http_req_header(req, ACS_WEBHOOK_ADO_SECRET_HEADER);

	if (!acs_webhook_ado_authorized(auth, secret, &rx_ado_auth)) {
		e->unauthorized++;
		acs_http_respond_error(req, 401, "unauthorized", NULL);
		return;
	}
	struct delivery *d = record(e, ACS_WEBHOOK_SOURCE_ADO, body, len);
	if (!d) {
		acs_http_respond_error(req, 503, "full", NULL);
		return;
	}
	d->authorization = acs_xstrdup(auth);
	d->secret_header = secret ? acs_xstrdup(secret) : NULL;
	if (acs_webhook_parse_ado(body, len, &d->ev, err)) {
		fprintf(stderr, "ado delivery not parsed: %s\n", err);
		e->parse_failed++;
		acs_http_respond_error(req, 400, "bad payload", err);
		return;
	}
	acs_http_respond(req, 200, "application/json", "{}", 2);
}

/* --- waiting on the loop --- */

static void set_flag(void *arg)
{
	*(int *)arg = 1;
}

static void check_cb(uv_check_t *h)
{
	struct env *e = acs_container_of(h, struct env, check);
	if (e->pred && e->pred(e))
		e->pred_done = 1;
}

/* Run the loop until pred(e) holds (checked after every loop iteration). */
static void wait_until(struct env *e, bool (*pred)(struct env *e))
{
	e->pred = pred;
	e->pred_done = pred(e);
	if (!e->pred_done) {
		assert_int_equal(uv_check_start(&e->check, check_cb), 0);
		acs_test_run_until(&e->loop, &e->pred_done, WAIT_MS);
		uv_check_stop(&e->check);
	}
	e->pred = NULL;
}

/* Nothing left to deliver, or the receiver refused something (the
 * simulators would retry it for minutes: fail now instead). */
static bool drained(struct env *e)
{
	if (e->bad_signature || e->unauthorized || e->parse_failed || e->overflow)
		return true;
	return sim_service_pending_deliveries(e->cu_svc) == 0 &&
	       sim_service_pending_deliveries(e->ado_svc) == 0 &&
	       acs_http_server_inflight(e->rx) == 0;
}

/* --- setup / teardown --- */

static struct acs_clickup_client *cu_client_new(struct env *e)
{
	char err[ACS_ERR_LEN] = "";
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_CLICKUP);
	/* As in test_clickup_client: no client-side pacing (the simulator's
	 * limit headers still steer the governor) and short 5xx backoffs;
	 * Retry-After is honoured in full. */
	g.limit = 0;
	g.backoff_base_ms = 10;
	g.backoff_max_ms = 40;
	g.seed = 42;
	struct acs_clickup_client_opts o = {
		.base_url = e->cu_base,
		.token = e->cu_token,
		.governor = &g,
	};
	struct acs_clickup_client *c = acs_clickup_client_new(&e->loop, e->cl, &o, err);
	if (!c)
		fail_msg("acs_clickup_client_new: %s", err);
	return c;
}

static struct acs_ado_client *ado_client_new(struct env *e)
{
	char err[ACS_ERR_LEN] = "";
	struct acs_governor_opts g;
	acs_governor_opts_init(&g, ACS_GOVERNOR_ADO);
	/* As in test_ado_client: short backoffs, and a short window in case a
	 * 429's "Remaining: 0" is ever taken for a whole window. */
	g.window_ms = 1500;
	g.backoff_base_ms = 20;
	g.backoff_max_ms = 100;
	g.seed = 42;
	struct acs_ado_client_opts o = {
		.base_url = e->ado_base,
		.organization = e->ado_org,
		.project = e->ado_project,
		.pat = e->ado_pat,
		.governor = &g,
	};
	struct acs_ado_client *c = acs_ado_client_new(&e->loop, e->cl, &o, err);
	if (!c)
		fail_msg("acs_ado_client_new: %s", err);
	return c;
}

static int setup(void **state)
{
	struct env *e = acs_xcalloc(1, sizeof(*e));
	char err[ACS_ERR_LEN] = "";

	acs_log_set_level(getenv("ACS_TEST_DEBUG") ? ACS_LOG_DEBUG : ACS_LOG_ERR);
	assert_int_equal(uv_loop_init(&e->loop), 0);
	assert_int_equal(uv_check_init(&e->loop, &e->check), 0);

	e->sim = sim_new(&e->loop, NULL, err);
	if (!e->sim)
		fail_msg("sim_new: %s", err);
	/* A ClickUp limit the test never reaches: 429s come only from faults. */
	struct sim_clickup *cu = sim_clickup_new(e->sim, 1000000, err);
	if (!cu)
		fail_msg("sim_clickup_new: %s", err);
	struct sim_ado *ado = sim_ado_new(e->sim, 0, err);
	if (!ado)
		fail_msg("sim_ado_new: %s", err);
	e->cu_svc = sim_clickup_service(cu);
	e->ado_svc = sim_ado_service(ado);
	assert_int_equal(sim_service_listen(e->cu_svc, "127.0.0.1:0", err), 0);
	assert_int_equal(sim_service_listen(e->ado_svc, "127.0.0.1:0", err), 0);

	json_t *info = sim_info(e->sim);
	json_t *ci = json_object_get(info, "clickup");
	json_t *ai = json_object_get(info, "ado");
	json_t *other = json_array_get(json_object_get(info, "users"), 1);
	e->cu_base = info_str(ci, "base_url");
	e->cu_token = info_str(ci, "token");
	e->cu_team = info_str(ci, "team_id");
	e->cu_list =
		acs_xstrdup(json_string_value(json_array_get(json_object_get(ci, "list_ids"), 0)));
	e->cu_other_user = json_integer_value(json_object_get(other, "clickup_id"));
	assert_true(e->cu_other_user > 0);
	e->ado_base = info_str(ai, "base_url");
	e->ado_org = info_str(ai, "organization");
	e->ado_project = info_str(ai, "project");
	e->ado_pat = info_str(ai, "pat");
	e->ado_other_email = info_str(other, "email");
	json_decref(info);

	struct acs_http_server_opts so;
	acs_http_server_opts_defaults(&so);
	so.access_log = false;
	e->rx = acs_http_server_new(&e->loop, &so, err);
	assert_non_null(e->rx);
	assert_int_equal(acs_http_server_route(e->rx, "POST", "/hooks/clickup", rx_clickup, e), 0);
	assert_int_equal(acs_http_server_route(e->rx, "POST", "/hooks/ado", rx_ado, e), 0);
	assert_int_equal(acs_http_server_listen(e->rx, "127.0.0.1:0", err), 0);
	snprintf(e->rx_origin, sizeof(e->rx_origin), "http://127.0.0.1:%d",
		 acs_http_server_port(e->rx));

	e->cl = acs_curl_loop_new(&e->loop, err);
	assert_non_null(e->cl);
	e->cu = cu_client_new(e);
	e->ado = ado_client_new(e);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	int cu_closed = 0, ado_closed = 0, cl_closed = 0, sim_closed = 0, rx_closed = 0;

	acs_clickup_client_close(e->cu, set_flag, &cu_closed);
	acs_ado_client_close(e->ado, set_flag, &ado_closed);
	acs_test_run_until(&e->loop, &cu_closed, WAIT_MS);
	acs_test_run_until(&e->loop, &ado_closed, WAIT_MS);
	acs_curl_loop_close(e->cl, set_flag, &cl_closed);
	acs_test_run_until(&e->loop, &cl_closed, WAIT_MS);
	sim_close(e->sim, set_flag, &sim_closed);
	acs_test_run_until(&e->loop, &sim_closed, WAIT_MS);
	acs_http_server_close(e->rx, set_flag, &rx_closed);
	acs_test_run_until(&e->loop, &rx_closed, WAIT_MS);
	uv_close((uv_handle_t *)&e->check, NULL);
	acs_test_loop_close(&e->loop);

	for (size_t i = 0; i < e->n; i++) {
		struct delivery *d = &e->d[i];
		free(d->raw);
		free(d->signature);
		free(d->authorization);
		free(d->secret_header);
		acs_webhook_event_deinit(&d->ev);
		json_decref(d->json);
	}
	free(e->cu_secret);
	free(e->cu_base);
	free(e->cu_token);
	free(e->cu_team);
	free(e->cu_list);
	free(e->ado_base);
	free(e->ado_org);
	free(e->ado_project);
	free(e->ado_pat);
	free(e->ado_other_email);
	free(e);
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Raw HTTP: the simulators' control API, forged deliveries to the receiver  */
/* ------------------------------------------------------------------------ */

struct raw {
	int done;
	long status;
	int error;
	char *body;
};

static void on_raw(const struct acs_http_response *resp, void *arg)
{
	struct raw *r = arg;
	r->status = resp->status;
	r->error = resp->error;
	r->body = acs_xstrndup(resp->body, resp->body_len);
	r->done = 1;
}

/* One request through the shared curl_loop; returns the status, *body (if
 * asked) gets the answer to free. */
static long http(struct env *e, const char *method, const char *url, const char *const *headers,
		 const char *body, size_t len, char **out)
{
	struct raw r = { 0 };
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = len,
	};
	assert_int_equal(acs_curl_loop_request(e->cl, &req, on_raw, &r, NULL), 0);
	acs_test_run_until(&e->loop, &r.done, WAIT_MS);
	assert_int_equal(r.error, 0);
	if (out)
		*out = r.body;
	else
		free(r.body);
	return r.status;
}

static char *ctl(struct env *e, struct sim_service *svc, const char *method, const char *path,
		 const char *json)
{
	const char *hdrs[] = { "Content-Type: application/json", NULL };
	char *url = acs_xasprintf("%s%s", sim_service_origin(svc), path);
	char *body = NULL;
	long st = http(e, method, url, hdrs, json, json ? strlen(json) : 0, &body);
	if (st != 200)
		fail_msg("%s %s: HTTP %ld %s", method, path, st, body);
	free(url);
	return body;
}

static void fault(struct env *e, struct sim_service *svc, const char *fmt, ...) ACS_PRINTF(3, 4);

/* POST /_sim/faults on the service's own port. */
static void fault(struct env *e, struct sim_service *svc, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(buf));
	free(ctl(e, svc, "POST", "/_sim/faults", buf));
}

static void assert_no_fault_left(struct env *e, struct sim_service *svc)
{
	char *body = ctl(e, svc, "GET", "/_sim/faults", NULL);
	json_t *j = json_loads(body, 0, NULL);
	if (json_array_size(json_object_get(j, "faults")))
		fail_msg("faults not consumed: %s", body);
	json_decref(j);
	free(body);
}

/* The service's request log (/_sim/requests) as a JSON array. */
static json_t *request_log(struct env *e, struct sim_service *svc)
{
	char *body = ctl(e, svc, "GET", "/_sim/requests", NULL);
	json_t *a = json_array();
	for (char *line = body; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		json_t *j = json_loads(line, 0, NULL);
		assert_non_null(j);
		json_array_append_new(a, j);
		line = nl ? nl + 1 : NULL;
	}
	free(body);
	return a;
}

static size_t log_mark(struct env *e, struct sim_service *svc)
{
	json_t *a = request_log(e, svc);
	size_t n = json_array_size(a);
	json_decref(a);
	return n;
}

/* The requests logged since mark with this method and a path containing
 * needle got exactly these statuses, in order (ST_2XX: any 2xx; 0: the
 * connection was dropped without an answer). */
static void expect_log(struct env *e, struct sim_service *svc, size_t mark, const char *method,
		       const char *needle, const long *want, size_t n_want)
{
	json_t *a = request_log(e, svc);
	long got[16];
	size_t n = 0;
	char seen[512] = "";
	size_t off = 0;
	for (size_t i = mark; i < json_array_size(a); i++) {
		json_t *j = json_array_get(a, i);
		const char *m = json_string_value(json_object_get(j, "method"));
		const char *p = json_string_value(json_object_get(j, "path"));
		if (!m || !p || strcmp(m, method) || !strstr(p, needle))
			continue;
		long st = json_integer_value(json_object_get(j, "status"));
		if (n < ACS_ARRAY_SIZE(got))
			got[n] = st;
		n++;
		if (off < sizeof(seen))
			off += (size_t)snprintf(seen + off, sizeof(seen) - off, " %ld", st);
	}
	json_decref(a);
	bool ok = n == n_want;
	for (size_t i = 0; ok && i < n; i++) {
		if (want[i] == ST_2XX)
			ok = got[i] >= 200 && got[i] <= 299;
		else
			ok = got[i] == want[i];
	}
	if (!ok)
		fail_msg("%s %s: logged statuses%s, expected %zu requests", method, needle, seen,
			 n_want);
}

/* ------------------------------------------------------------------------ */
/* Capturing client calls                                                    */
/* ------------------------------------------------------------------------ */

struct cap {
	int done;
	int calls;
	enum acs_rest_class cls;
	int error;
	long status;
	unsigned attempts;
	char msg[256];
	void *payload;
};

static void cap_store(struct cap *k, enum acs_rest_class cls, int error, long status,
		      const char *msg, unsigned attempts, void *payload)
{
	k->calls++;
	k->cls = cls;
	k->error = error;
	k->status = status;
	k->attempts = attempts;
	snprintf(k->msg, sizeof(k->msg), "%s", msg ? msg : "");
	k->payload = payload;
	k->done = 1;
}

#define CU_CB(fn, type)                                                                            \
	static void fn(const struct acs_clickup_result *res, type *p, void *arg)                   \
	{                                                                                          \
		cap_store(arg, res->cls, res->error, res->status, res->message, res->attempts, p); \
	}
CU_CB(cu_on_task, struct acs_clickup_task)
CU_CB(cu_on_comment, struct acs_clickup_comment)
CU_CB(cu_on_attachment, struct acs_clickup_attachment)
CU_CB(cu_on_webhook, struct acs_clickup_webhook)
#undef CU_CB

#define ADO_CB(fn, type)                                                                           \
	static void fn(const struct acs_ado_result *res, type *p, void *arg)                       \
	{                                                                                          \
		cap_store(arg, res->cls, res->error, res->status, res->message, res->attempts, p); \
	}
ADO_CB(ado_on_wi, struct acs_ado_work_item)
ADO_CB(ado_on_comment, struct acs_ado_comment)
ADO_CB(ado_on_attachment, struct acs_ado_attachment_ref)
ADO_CB(ado_on_sub, struct acs_ado_subscription)
ADO_CB(ado_on_projects, struct acs_ado_project_list)
#undef ADO_CB

/* The call was accepted (rc), completed once, with the OK class. */
static void *await_ok(struct env *e, int rc, struct cap *k)
{
	assert_int_equal(rc, 0);
	acs_test_run_until(&e->loop, &k->done, WAIT_MS);
	assert_int_equal(k->calls, 1);
	if (k->cls != ACS_REST_OK)
		fail_msg("call failed: %s, status %ld, error %d, %u attempts: %s",
			 acs_rest_class_name(k->cls), k->status, k->error, k->attempts, k->msg);
	assert_non_null(k->payload);
	return k->payload;
}

/* ------------------------------------------------------------------------ */
/* What the receiver got                                                     */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Once the simulators have nothing left to deliver, the deliveries since
 * mark carry exactly these event names: in this order when ordered (one
 * webhook target delivers in order), else in any order (several targets). */
static void expect_events(struct env *e, size_t mark, bool ordered, const char *const *names,
			  size_t n)
{
	wait_until(e, drained);
	assert_int_equal(e->bad_signature, 0);
	assert_int_equal(e->unauthorized, 0);
	assert_int_equal(e->parse_failed, 0);
	assert_int_equal(e->overflow, 0);

	size_t got_n = e->n - mark;
	const char **got = acs_xcalloc(got_n + 1, sizeof(*got));
	const char **want = acs_xcalloc(n + 1, sizeof(*want));
	for (size_t i = 0; i < got_n; i++)
		got[i] = e->d[mark + i].ev.event_name;
	for (size_t i = 0; i < n; i++)
		want[i] = names[i];
	if (!ordered) {
		qsort(got, got_n, sizeof(*got), cmp_str);
		qsort(want, n, sizeof(*want), cmp_str);
	}
	bool ok = got_n == n;
	for (size_t i = 0; ok && i < n; i++)
		ok = !strcmp(got[i], want[i]);
	if (!ok) {
		for (size_t i = 0; i < got_n; i++)
			fprintf(stderr, "received: %s\n", got[i]);
		for (size_t i = 0; i < n; i++)
			fprintf(stderr, "expected: %s\n", want[i]);
		fail_msg("%zu deliveries received, %zu expected (see above)", got_n, n);
	}
	free(got);
	free(want);
}

/* First delivery of source with this event name (and, for ClickUp, whose
 * first history item changed field; NULL = any). */
static struct delivery *find(struct env *e, enum acs_webhook_source src, const char *event,
			     const char *field)
{
	for (size_t i = 0; i < e->n; i++) {
		struct delivery *d = &e->d[i];
		if (d->source != src || strcmp(d->ev.event_name, event))
			continue;
		if (field) {
			json_t *h = json_array_get(json_object_get(d->json, "history_items"), 0);
			const char *f = json_string_value(json_object_get(h, "field"));
			if (!f || strcmp(f, field))
				continue;
		}
		return d;
	}
	fail_msg("no %s delivery %s%s%s received", acs_webhook_source_name(src), event,
		 field ? " changing " : "", field ? field : "");
	return NULL;
}

static bool has_changed_field(const struct acs_webhook_event *ev, const char *field)
{
	for (size_t i = 0; i < ev->n_changed_fields; i++)
		if (!strcmp(ev->changed_fields[i], field))
			return true;
	return false;
}

/* ------------------------------------------------------------------------ */
/* Shapes: received payloads against the API examples                       */
/* ------------------------------------------------------------------------ */

/*
 * Every key of the example must exist in the received payload with the same
 * JSON type (object, array, string, number, boolean); null in the example
 * matches any type, but the key must still be there. An example array's
 * element i is compared with the received element i, which must exist.
 * Extra keys and elements in the received payload are fine: the examples
 * are not exhaustive. Paths in messages are written "a.b[0].c".
 *
 * Deliberate exceptions: none. Several example keys only appear when the
 * data calls for them, so the test makes the data call for them instead of
 * skipping the keys: the ADO item is tagged at creation (the updated
 * example's System.Tags has an oldValue), assigned in the update
 * (System.AssignedTo), linked to a parent (resource.revision.relations, a
 * Parent link with isLocked/name as in the example), and the subscriptions
 * ask for message and detailedMessage ("all"; the client's default is
 * "none", which would leave both out). On ClickUp, the name, status and
 * priority changes are separate calls, so each taskUpdated carries one
 * history item as in the examples, and an assignee is added to produce the
 * taskAssigneeUpdated example's event.
 */
struct shape {
	char report[2048];
	size_t off;
	unsigned mismatches;
	unsigned compared; /**< values compared, to reject a vacuous pass */
};

static const char *kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static void mismatch(struct shape *s, const char *fmt, ...) ACS_PRINTF(2, 3);

static void mismatch(struct shape *s, const char *fmt, ...)
{
	s->mismatches++;
	if (s->off >= sizeof(s->report))
		return;
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(s->report + s->off, sizeof(s->report) - s->off, fmt, ap);
	va_end(ap);
	if (n > 0)
		s->off += (size_t)n;
}

static void shape_walk(struct shape *s, const json_t *ex, const json_t *got, const char *path)
{
	char child[512];

	if (json_is_null(ex))
		return;
	s->compared++;
	if (strcmp(kind(ex), kind(got))) {
		mismatch(s, "  %s: %s in the example, %s received\n", path, kind(ex), kind(got));
		return;
	}
	if (json_is_object(ex)) {
		const char *key;
		const json_t *v;
		json_object_foreach((json_t *)ex, key, v)
		{
			snprintf(child, sizeof(child), "%s%s%s", path, *path ? "." : "", key);
			const json_t *g = json_object_get(got, key);
			if (g)
				shape_walk(s, v, g, child);
			else
				mismatch(s, "  %s: missing\n", child);
		}
	} else if (json_is_array(ex)) {
		for (size_t i = 0; i < json_array_size(ex); i++) {
			snprintf(child, sizeof(child), "%s[%zu]", path, i);
			if (i < json_array_size(got))
				shape_walk(s, json_array_get(ex, i), json_array_get(got, i), child);
			else
				mismatch(s, "  %s: missing (%zu elements received)\n", child,
					 json_array_size(got));
		}
	}
}

static json_t *fixture(const char *dir, const char *name)
{
	const char *root = getenv("ACS_SOURCE_ROOT");
	/* meson test sets ACS_SOURCE_ROOT; by hand, run from the source root. */
	char *path = acs_xasprintf("%s/test/fixtures/%s/%s", root ? root : ".", dir, name);
	json_error_t jerr;
	json_t *j = json_load_file(path, 0, &jerr);
	if (!j)
		fail_msg("%s: %s", path, jerr.text);
	free(path);
	return j;
}

static void expect_shape(const struct delivery *d, const char *dir, const char *name)
{
	struct shape s = { .off = 0 };
	json_t *ex = fixture(dir, name);
	assert_non_null(d->json);
	shape_walk(&s, ex, d->json, "");
	json_decref(ex);
	if (s.mismatches) {
		fprintf(stderr, "%s vs received %s:\n%s", name, d->ev.event_name, s.report);
		fail_msg("%u shape mismatches against %s", s.mismatches, name);
	}
	assert_true(s.compared > 10);
}

/* ------------------------------------------------------------------------ */
/* ClickUp                                                                   */
/* ------------------------------------------------------------------------ */

#define IA ACS_GOVERNOR_INTERACTIVE
#define N(a) (a), ACS_ARRAY_SIZE(a)

static struct acs_clickup_task *cu_update(struct env *e, const char *id,
					  const struct acs_clickup_task_changes *ch)
{
	struct cap k = { 0 };
	return await_ok(e, acs_clickup_update_task(e->cu, IA, id, ch, cu_on_task, &k), &k);
}

static void test_clickup_roundtrip(void **state)
{
	struct env *e = *state;
	struct cap k;
	size_t mark, lmark;

	/* 1. The webhook: every task event of the list, to the receiver. */
	static const char *const task_events[] = {
		"taskCreated",
		"taskUpdated",
		"taskDeleted",
		"taskPriorityUpdated",
		"taskStatusUpdated",
		"taskAssigneeUpdated",
		"taskDueDateUpdated",
		"taskTagUpdated",
		"taskMoved",
		"taskCommentPosted",
		"taskCommentUpdated",
		"taskTimeEstimateUpdated",
		"taskTimeTrackedUpdated",
	};
	char *endpoint = acs_xasprintf("%s/hooks/clickup", e->rx_origin);
	struct acs_clickup_webhook_new nw = {
		.endpoint = endpoint,
		.events = task_events,
		.n_events = ACS_ARRAY_SIZE(task_events),
		.list_id = e->cu_list,
	};
	k = (struct cap){ 0 };
	struct acs_clickup_webhook *wh = await_ok(
		e, acs_clickup_create_webhook(e->cu, IA, e->cu_team, &nw, cu_on_webhook, &k), &k);
	assert_string_equal(wh->endpoint, endpoint);
	assert_string_equal(wh->status, "active");
	assert_non_null(wh->secret);
	e->cu_secret = acs_xstrdup(wh->secret);
	char *webhook_id = acs_xstrdup(wh->id);
	acs_clickup_webhook_free(wh);
	free(endpoint);

	/* 2. Create the task; the first attempt meets a 500. */
	mark = e->n;
	lmark = log_mark(e, e->cu_svc);
	char *list_path = acs_xasprintf("/list/%s/task", e->cu_list);
	fault(e, e->cu_svc,
	      "{\"path\": \"%s\", \"method\": \"POST\", \"status\": 500, \"count\": 1}", list_path);
	struct acs_clickup_task_new tn = {
		.name = "Roundtrip task",
		.markdown = "Created by the **acceptance test**.",
	};
	k = (struct cap){ 0 };
	struct acs_clickup_task *t = await_ok(
		e, acs_clickup_create_task(e->cu, IA, e->cu_list, &tn, cu_on_task, &k), &k);
	assert_int_equal(k.attempts, 2);
	static const long st_500[] = { 500, ST_2XX };
	expect_log(e, e->cu_svc, lmark, "POST", list_path, N(st_500));
	free(list_path);
	char *task_id = acs_xstrdup(t->id);
	acs_clickup_task_free(t);
	char *task_path = acs_xasprintf("/task/%s", task_id);
	/* One creation, one webhook pair: the refused attempt changed nothing. */
	static const char *const ev_created[] = { "taskCreated", "taskStatusUpdated" };
	expect_events(e, mark, true, N(ev_created));

	/* 3. Rename; the first attempt is throttled (429, Retry-After: 1). */
	mark = e->n;
	lmark = log_mark(e, e->cu_svc);
	fault(e, e->cu_svc,
	      "{\"path\": \"%s\", \"method\": \"PUT\", \"status\": 429, \"retry_after\": 1,"
	      " \"count\": 1}",
	      task_path);
	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	struct acs_clickup_task_changes ch = { .name = "Roundtrip task (renamed)" };
	k = (struct cap){ 0 };
	t = await_ok(e, acs_clickup_update_task(e->cu, IA, task_id, &ch, cu_on_task, &k), &k);
	assert_int_equal(k.attempts, 2);
	uv_update_time(&e->loop);
	assert_true(uv_now(&e->loop) - t0 >= 990); /* not before Retry-After */
	assert_string_equal(t->name, "Roundtrip task (renamed)");
	acs_clickup_task_free(t);
	static const long st_429[] = { 429, ST_2XX };
	expect_log(e, e->cu_svc, lmark, "PUT", task_path, N(st_429));
	static const char *const ev_name[] = { "taskUpdated" };
	expect_events(e, mark, true, N(ev_name));

	/* 4. Status; the answer is held back (the change is made at once). */
	mark = e->n;
	lmark = log_mark(e, e->cu_svc);
	fault(e, e->cu_svc,
	      "{\"path\": \"%s\", \"method\": \"PUT\", \"delay_ms\": %d, \"count\": 1}", task_path,
	      DELAY_MS);
	uv_update_time(&e->loop);
	t0 = uv_now(&e->loop);
	ch = (struct acs_clickup_task_changes){ .status = "in progress" };
	k = (struct cap){ 0 };
	t = await_ok(e, acs_clickup_update_task(e->cu, IA, task_id, &ch, cu_on_task, &k), &k);
	assert_int_equal(k.attempts, 1);
	uv_update_time(&e->loop);
	assert_true(uv_now(&e->loop) - t0 >= DELAY_MS - 10);
	assert_string_equal(t->status, "in progress");
	acs_clickup_task_free(t);
	static const long st_delay[] = { ST_2XX };
	expect_log(e, e->cu_svc, lmark, "PUT", task_path, N(st_delay));
	static const char *const ev_status[] = { "taskStatusUpdated", "taskUpdated" };
	expect_events(e, mark, true, N(ev_status));

	/* 5. Priority; the connection is dropped without an answer. */
	mark = e->n;
	lmark = log_mark(e, e->cu_svc);
	fault(e, e->cu_svc, "{\"path\": \"%s\", \"method\": \"PUT\", \"drop\": true, \"count\": 1}",
	      task_path);
	ch = (struct acs_clickup_task_changes){ .set_priority = true, .priority = 2 };
	t = cu_update(e, task_id, &ch);
	assert_int_equal(t->priority, 2);
	acs_clickup_task_free(t);
	/* Whether libcurl re-sent on a fresh connection by itself or the rest
	 * pipeline retried, the log shows the drop, then the success. */
	static const long st_drop[] = { 0, ST_2XX };
	expect_log(e, e->cu_svc, lmark, "PUT", task_path, N(st_drop));
	static const char *const ev_prio[] = { "taskPriorityUpdated", "taskUpdated" };
	expect_events(e, mark, true, N(ev_prio));

	/* 6. An assignee (covers the taskAssigneeUpdated example). */
	mark = e->n;
	const int64_t add[] = { e->cu_other_user };
	ch = (struct acs_clickup_task_changes){ .assignees_add = add, .n_assignees_add = 1 };
	acs_clickup_task_free(cu_update(e, task_id, &ch));
	static const char *const ev_assignee[] = { "taskAssigneeUpdated", "taskUpdated" };
	expect_events(e, mark, true, N(ev_assignee));

	/* 7. A comment; the first attempt meets a 503. */
	mark = e->n;
	lmark = log_mark(e, e->cu_svc);
	char *comment_path = acs_xasprintf("%s/comment", task_path);
	fault(e, e->cu_svc,
	      "{\"path\": \"%s\", \"method\": \"POST\", \"status\": 503, \"count\": 1}",
	      comment_path);
	k = (struct cap){ 0 };
	struct acs_clickup_comment *cm =
		await_ok(e,
			 acs_clickup_create_comment(e->cu, IA, task_id, "Roundtrip comment", false,
						    cu_on_comment, &k),
			 &k);
	assert_int_equal(k.attempts, 2);
	char *comment_id = acs_xstrdup(cm->id);
	acs_clickup_comment_free(cm);
	static const long st_503[] = { 503, ST_2XX };
	expect_log(e, e->cu_svc, lmark, "POST", comment_path, N(st_503));
	free(comment_path);
	static const char *const ev_comment[] = { "taskCommentPosted", "taskUpdated" };
	expect_events(e, mark, true, N(ev_comment));

	/* 8. An attachment: ClickUp sends no webhook for it. */
	mark = e->n;
	static const char content[] = "attached by the roundtrip test\n";
	k = (struct cap){ 0 };
	struct acs_clickup_attachment *att = await_ok(
		e,
		acs_clickup_upload_attachment(e->cu, IA, task_id, "roundtrip.txt", "text/plain",
					      content, sizeof(content) - 1, cu_on_attachment, &k),
		&k);
	assert_string_equal(att->title, "roundtrip.txt");
	acs_clickup_attachment_free(att);
	expect_events(e, mark, true, NULL, 0);
	assert_no_fault_left(e, e->cu_svc);

	/* Every delivery: for this task, from this webhook, signed with its
	 * secret (the receiver accepted nothing else), parsed. */
	assert_int_equal(e->n, 11);
	const char *keys[16];
	size_t n_keys = 0;
	for (size_t i = 0; i < e->n; i++) {
		struct delivery *d = &e->d[i];
		assert_int_equal(d->source, ACS_WEBHOOK_SOURCE_CLICKUP);
		assert_true(acs_webhook_clickup_signature_ok(d->raw, d->len, d->signature,
							     e->cu_secret));
		assert_string_equal(d->ev.item_id, task_id);
		assert_string_equal(d->ev.clickup_webhook_id, webhook_id);
		assert_string_equal(d->ev.clickup_list_id, e->cu_list);
		assert_non_null(d->ev.event_key);
		bool dup = false;
		for (size_t j = 0; j < n_keys; j++)
			dup = dup || !strcmp(keys[j], d->ev.event_key);
		if (!dup)
			keys[n_keys++] = d->ev.event_key;
	}
	/* ClickUp pairs each specific event with a taskUpdated carrying the same
	 * history item: one key per change, plus taskCreated's own (webhook.h,
	 * IDEMPOTENCY). Changes: created, its status, name, status, priority,
	 * assignee, comment. */
	assert_int_equal(n_keys, 7);

	struct delivery *d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskCreated", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_CREATED);
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskUpdated", "name");
	assert_int_equal(d->ev.type, ACS_WEBHOOK_UPDATED);
	assert_true(has_changed_field(&d->ev, "name"));
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskUpdated", "status");
	assert_true(has_changed_field(&d->ev, "status"));
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskPriorityUpdated", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_UPDATED);
	assert_true(has_changed_field(&d->ev, "priority"));
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskAssigneeUpdated", NULL);
	assert_true(has_changed_field(&d->ev, "assignee_add"));
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskCommentPosted", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_COMMENTED);
	assert_string_equal(d->ev.comment_id, comment_id);
	assert_non_null(strstr(d->ev.comment_text, "Roundtrip comment"));
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskUpdated", "comment");
	assert_int_equal(d->ev.type, ACS_WEBHOOK_COMMENTED);
	assert_string_equal(d->ev.comment_id, comment_id);

	/* A tampered copy of a received body no longer verifies, nor does the
	 * original under another secret; and the receiver refuses it (401). */
	d = find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskCreated", NULL);
	char *tampered = acs_xstrndup(d->raw, d->len);
	char *p = strstr(tampered, "taskCreated");
	assert_non_null(p);
	memcpy(p, "taskDeleted", strlen("taskDeleted"));
	assert_true(acs_webhook_clickup_signature_ok(d->raw, d->len, d->signature, e->cu_secret));
	assert_false(
		acs_webhook_clickup_signature_ok(tampered, d->len, d->signature, e->cu_secret));
	assert_false(
		acs_webhook_clickup_signature_ok(d->raw, d->len - 1, d->signature, e->cu_secret));
	assert_false(acs_webhook_clickup_signature_ok(d->raw, d->len, d->signature,
						      "not-the-webhook-secret"));
	char *sighdr = acs_xasprintf("X-Signature: %s", d->signature);
	const char *hdrs[] = { "Content-Type: application/json", sighdr, NULL };
	char *url = acs_xasprintf("%s/hooks/clickup", e->rx_origin);
	assert_int_equal(http(e, "POST", url, hdrs, tampered, d->len, NULL), 401);
	assert_int_equal(e->bad_signature, 1);
	assert_int_equal(e->n, 11);
	free(url);
	free(sighdr);
	free(tampered);

	/* 4. Shapes, one received delivery per documented example. */
	const char *dir = "clickup";
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskCreated", NULL), dir,
		     "clickup-webhook-taskCreated.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskUpdated", "name"), dir,
		     "clickup-webhook-taskUpdated-name.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskUpdated", "status"), dir,
		     "clickup-webhook-taskUpdated-status.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskPriorityUpdated", NULL), dir,
		     "clickup-webhook-taskPriorityUpdated.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskAssigneeUpdated", NULL), dir,
		     "clickup-webhook-taskAssigneeUpdated.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_CLICKUP, "taskCommentPosted", NULL), dir,
		     "clickup-webhook-taskCommentPosted.json");

	free(comment_id);
	free(task_path);
	free(task_id);
	free(webhook_id);
}

/* ------------------------------------------------------------------------ */
/* Azure DevOps                                                              */
/* ------------------------------------------------------------------------ */

static void test_ado_roundtrip(void **state)
{
	struct env *e = *state;
	struct cap k;
	size_t mark, lmark;

	/* The project GUID scopes the subscriptions. */
	k = (struct cap){ 0 };
	struct acs_ado_project_list *pl =
		await_ok(e, acs_ado_list_projects(e->ado, ado_on_projects, &k), &k);
	char *project_id = NULL;
	for (size_t i = 0; i < pl->n; i++)
		if (!strcmp(pl->projects[i].name, e->ado_project))
			project_id = acs_xstrdup(pl->projects[i].id);
	acs_ado_project_list_free(pl);
	assert_non_null(project_id);

	/* A parent story, made before any subscription exists (no events). */
	struct acs_ado_fields pf = { .title = "Roundtrip parent" };
	k = (struct cap){ 0 };
	struct acs_ado_work_item *parent =
		await_ok(e, acs_ado_create_work_item(e->ado, "User Story", &pf, ado_on_wi, &k), &k);

	/* 1. Three subscriptions to the receiver, with Basic auth and a
	 * shared-secret header; messages included, as in the examples. */
	static const char *const ado_events[] = { "workitem.created", "workitem.updated",
						  "workitem.commented" };
	char *url = acs_xasprintf("%s/hooks/ado", e->rx_origin);
	for (size_t i = 0; i < ACS_ARRAY_SIZE(ado_events); i++) {
		struct acs_ado_subscription_spec spec = {
			.event_type = ado_events[i],
			.project_id = project_id,
			.url = url,
			.basic_auth_username = ADO_HOOK_USER,
			.basic_auth_password = ADO_HOOK_PASSWORD,
			.http_headers = ACS_WEBHOOK_ADO_SECRET_HEADER ":" ADO_HOOK_HEADER_SECRET,
			.resource_details_to_send = "all",
			.messages_to_send = "all",
			.detailed_messages_to_send = "all",
		};
		k = (struct cap){ 0 };
		struct acs_ado_subscription *s =
			await_ok(e, acs_ado_create_subscription(e->ado, &spec, ado_on_sub, &k), &k);
		assert_string_equal(s->event_type, ado_events[i]);
		assert_string_equal(s->consumer_url, url);
		assert_string_equal(s->basic_auth_username, ADO_HOOK_USER);
		assert_true(s->has_password);
		acs_ado_subscription_free(s);
	}

	/* 2. Create a task under the parent; the first attempt is throttled. */
	mark = e->n;
	lmark = log_mark(e, e->ado_svc);
	fault(e, e->ado_svc,
	      "{\"path\": \"/_apis/wit/workitems/$Task\", \"method\": \"POST\", \"status\": 429,"
	      " \"retry_after\": 1, \"count\": 1}");
	struct acs_ado_relation_add up = {
		.rel = "System.LinkTypes.Hierarchy-Reverse",
		.url = parent->url,
	};
	/* Tagged from the start, so that the tag change has an oldValue as in
	 * the updated example. */
	static const char *const first_tags[] = { "backend" };
	struct acs_ado_fields cf = {
		.title = "Roundtrip work item",
		.description = "<div>Created by the acceptance test.</div>",
		.tags_change = ACS_ADO_SET,
		.tags = first_tags,
		.n_tags = ACS_ARRAY_SIZE(first_tags),
		.add_relations = &up,
		.n_add_relations = 1,
	};
	uv_update_time(&e->loop);
	uint64_t t0 = uv_now(&e->loop);
	k = (struct cap){ 0 };
	struct acs_ado_work_item *wi =
		await_ok(e, acs_ado_create_work_item(e->ado, "Task", &cf, ado_on_wi, &k), &k);
	assert_int_equal(k.attempts, 2);
	uv_update_time(&e->loop);
	assert_true(uv_now(&e->loop) - t0 >= 990); /* not before Retry-After */
	assert_int_equal(wi->rev, 1);
	int64_t id = wi->id;
	static const long st_429[] = { 429, ST_2XX };
	expect_log(e, e->ado_svc, lmark, "POST", "/_apis/wit/workitems/$Task", N(st_429));
	static const char *const ev_created[] = { "workitem.created" };
	expect_events(e, mark, true, N(ev_created));

	/* 3. Title, state, tags (and an assignee) in one revision; the first
	 * attempt meets a 500 (the /rev test keeps the retry safe). */
	mark = e->n;
	lmark = log_mark(e, e->ado_svc);
	char *wi_path = acs_xasprintf("/_apis/wit/workitems/%" PRId64, id);
	fault(e, e->ado_svc,
	      "{\"path\": \"%s\", \"method\": \"PATCH\", \"status\": 500, \"count\": 1}", wi_path);
	static const char *const tags[] = { "backend", "sync" };
	struct acs_ado_fields uf = {
		.title = "Roundtrip work item (renamed)",
		.state = "Active",
		.tags_change = ACS_ADO_SET,
		.tags = tags,
		.n_tags = ACS_ARRAY_SIZE(tags),
		.assigned_to = e->ado_other_email,
	};
	k = (struct cap){ 0 };
	struct acs_ado_work_item *upd = await_ok(
		e, acs_ado_update_work_item(e->ado, id, wi->rev, &uf, wi, ado_on_wi, &k), &k);
	assert_int_equal(k.attempts, 2);
	assert_int_equal(upd->rev, 2);
	assert_string_equal(upd->state, "Active");
	assert_int_equal(upd->n_tags, 2);
	acs_ado_work_item_free(upd);
	static const long st_500[] = { 500, ST_2XX };
	expect_log(e, e->ado_svc, lmark, "PATCH", wi_path, N(st_500));
	static const char *const ev_updated[] = { "workitem.updated" };
	expect_events(e, mark, true, N(ev_updated));

	/* 4. A comment; the answer is held back. A comment is a revision: it
	 * fires workitem.commented and workitem.updated (two targets, so in
	 * either order). */
	mark = e->n;
	lmark = log_mark(e, e->ado_svc);
	char *comments_path = acs_xasprintf("/_apis/wit/workItems/%" PRId64 "/comments", id);
	fault(e, e->ado_svc,
	      "{\"path\": \"%s\", \"method\": \"POST\", \"delay_ms\": %d, \"count\": 1}",
	      comments_path, DELAY_MS);
	uv_update_time(&e->loop);
	t0 = uv_now(&e->loop);
	k = (struct cap){ 0 };
	struct acs_ado_comment *cm =
		await_ok(e,
			 acs_ado_create_comment(e->ado, id, "<div>Roundtrip comment</div>", false,
						ado_on_comment, &k),
			 &k);
	assert_int_equal(k.attempts, 1);
	uv_update_time(&e->loop);
	assert_true(uv_now(&e->loop) - t0 >= DELAY_MS - 10);
	int64_t comment_id = cm->id;
	acs_ado_comment_free(cm);
	static const long st_delay[] = { ST_2XX };
	expect_log(e, e->ado_svc, lmark, "POST", comments_path, N(st_delay));
	free(comments_path);
	static const char *const ev_commented[] = { "workitem.commented", "workitem.updated" };
	expect_events(e, mark, false, N(ev_commented));

	/* 5. Upload an attachment (the connection drops once): no event, the
	 * work item is untouched until the file is linked. */
	mark = e->n;
	lmark = log_mark(e, e->ado_svc);
	fault(e, e->ado_svc,
	      "{\"path\": \"/_apis/wit/attachments\", \"method\": \"POST\", \"drop\": true,"
	      " \"count\": 1}");
	static const char content[] = "attached by the roundtrip test\n";
	k = (struct cap){ 0 };
	struct acs_ado_attachment_ref *ref =
		await_ok(e,
			 acs_ado_upload_attachment(e->ado, "roundtrip.txt", content,
						   sizeof(content) - 1, ado_on_attachment, &k),
			 &k);
	static const long st_drop[] = { 0, ST_2XX };
	expect_log(e, e->ado_svc, lmark, "POST", "/_apis/wit/attachments", N(st_drop));
	expect_events(e, mark, true, NULL, 0);

	/* 6. Link it: one more revision. */
	mark = e->n;
	k = (struct cap){ 0 };
	struct acs_ado_work_item *linked =
		await_ok(e,
			 acs_ado_add_attachment_relation(e->ado, id, 0, ref->url, "roundtrip",
							 ado_on_wi, &k),
			 &k);
	int64_t last_rev = linked->rev;
	assert_int_equal(last_rev, 4);
	acs_ado_work_item_free(linked);
	acs_ado_attachment_ref_free(ref);
	expect_events(e, mark, true, N(ev_updated));
	assert_no_fault_left(e, e->ado_svc);

	/* Every delivery: this work item, authorized (the receiver accepted
	 * nothing else), with the custom header; each subscription delivers
	 * increasing revisions, and together they cover 1..last_rev. */
	assert_int_equal(e->n, 5);
	char id_text[24];
	snprintf(id_text, sizeof(id_text), "%" PRId64, id);
	int64_t last_rev_of[ACS_ARRAY_SIZE(ado_events)] = { 0 };
	bool rev_seen[8] = { false };
	for (size_t i = 0; i < e->n; i++) {
		struct delivery *d = &e->d[i];
		assert_int_equal(d->source, ACS_WEBHOOK_SOURCE_ADO);
		assert_int_equal(d->ev.ado_id, id);
		assert_string_equal(d->ev.item_id, id_text);
		assert_string_equal(d->ev.ado_project_id, project_id);
		assert_true(acs_webhook_ado_authorized(d->authorization, NULL, &rx_ado_auth));
		assert_non_null(d->secret_header);
		assert_string_equal(d->secret_header, ADO_HOOK_HEADER_SECRET);
		size_t t;
		for (t = 0; t < ACS_ARRAY_SIZE(ado_events); t++)
			if (!strcmp(d->ev.event_name, ado_events[t]))
				break;
		assert_true(t < ACS_ARRAY_SIZE(ado_events));
		if (d->ev.ado_rev <= last_rev_of[t])
			fail_msg("%s: rev %" PRId64 " after rev %" PRId64, d->ev.event_name,
				 d->ev.ado_rev, last_rev_of[t]);
		last_rev_of[t] = d->ev.ado_rev;
		assert_true(d->ev.ado_rev >= 1 && d->ev.ado_rev <= last_rev);
		rev_seen[d->ev.ado_rev] = true;
	}
	for (int64_t r = 1; r <= last_rev; r++)
		assert_true(rev_seen[r]);

	struct delivery *d = find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.created", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_CREATED);
	assert_int_equal(d->ev.ado_rev, 1);
	assert_string_equal(d->ev.ado_work_item_type, "Task");
	d = find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.updated", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_UPDATED);
	assert_int_equal(d->ev.ado_rev, 2);
	assert_true(has_changed_field(&d->ev, "System.Title"));
	assert_true(has_changed_field(&d->ev, "System.State"));
	assert_true(has_changed_field(&d->ev, "System.Tags"));
	d = find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.commented", NULL);
	assert_int_equal(d->ev.type, ACS_WEBHOOK_COMMENTED);
	assert_int_equal(d->ev.ado_rev, 3);
	char cid[24];
	snprintf(cid, sizeof(cid), "%" PRId64, comment_id);
	assert_string_equal(d->ev.comment_id, cid);
	assert_non_null(strstr(d->ev.comment_text, "Roundtrip comment"));

	/* The same check refuses a wrong password or user name on a received
	 * Authorization header; the custom header works as the other mode. */
	struct acs_webhook_ado_auth wrong = { .username = ADO_HOOK_USER, .password = "wrong" };
	assert_false(acs_webhook_ado_authorized(d->authorization, NULL, &wrong));
	wrong = (struct acs_webhook_ado_auth){ .username = "someone",
					       .password = ADO_HOOK_PASSWORD };
	assert_false(acs_webhook_ado_authorized(d->authorization, NULL, &wrong));
	struct acs_webhook_ado_auth by_header = { .header_secret = ADO_HOOK_HEADER_SECRET };
	assert_true(acs_webhook_ado_authorized(NULL, d->secret_header, &by_header));
	by_header.header_secret = "another-secret";
	assert_false(acs_webhook_ado_authorized(NULL, d->secret_header, &by_header));
	/* ...and the receiver answers 401 to a delivery with a wrong password. */
	const char *hdrs[] = { "Content-Type: application/json",
			       "Authorization: Basic YWRvLWhvb2s6d3Jvbmc=", /* ado-hook:wrong */
			       NULL };
	assert_int_equal(http(e, "POST", url, hdrs, d->raw, d->len, NULL), 401);
	assert_int_equal(e->unauthorized, 1);
	assert_int_equal(e->n, 5);

	/* 4. Shapes, one received delivery of each kind. */
	const char *dir = "ado";
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.created", NULL), dir,
		     "ado-webhook-workitem-created.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.updated", NULL), dir,
		     "ado-webhook-workitem-updated.json");
	expect_shape(find(e, ACS_WEBHOOK_SOURCE_ADO, "workitem.commented", NULL), dir,
		     "ado-webhook-workitem-commented.json");

	free(url);
	free(wi_path);
	acs_ado_work_item_free(wi);
	acs_ado_work_item_free(parent);
	free(project_id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_clickup_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ado_roundtrip, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
