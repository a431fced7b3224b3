/* SPDX-License-Identifier: MIT */
/* Simulated human activity for `ado-clickup-sync demo`: in turn creates a ClickUp
 * task, creates an Azure DevOps work item, moves one of them on, comments on each
 * side and attaches a file on one side, through the simulators' public REST APIs,
 * exactly as a person would. */
#include "demo.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "curl_loop.h"
#include "err.h"
#include "json_codec.h"
#include "log.h"
#include "mem.h"

struct demo_activity {
	uv_timer_t timer;
	struct acs_curl_loop *cl; /**< borrowed */
	char *cu_base, *cu_auth, *list_id;
	char *ado_base, *ado_auth; /**< .../{org}/{project}, "Authorization: Basic ..." */
	unsigned step;
	int64_t last_ado_id; /**< newest work item we created, 0 = none */
	char last_task[64];  /**< newest ClickUp task we created */
	int inflight;	     /**< requests whose callback has not run */
	bool closing;
	bool timer_closed; /**< its close callback ran */
};

static const char *str(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

struct demo_activity *demo_activity_new(uv_loop_t *loop, const json_t *info)
{
	struct demo_activity *a = acs_xcalloc(1, sizeof(*a));
	const json_t *ado = json_object_get(info, "ado"), *cu = json_object_get(info, "clickup");
	a->cu_base = acs_xstrdup(str(cu, "base_url"));
	a->cu_auth = acs_xasprintf("Authorization: %s", str(cu, "token"));
	const char *list = json_string_value(json_array_get(json_object_get(cu, "list_ids"), 0));
	a->list_id = acs_xstrdup(list ? list : "");
	a->ado_base = acs_xasprintf("%s/%s/%s", str(ado, "base_url"), str(ado, "organization"),
				    str(ado, "project"));
	/* Basic base64(":" + PAT), as ADO expects for personal access tokens. */
	char *cred = acs_xasprintf(":%s", str(ado, "pat"));
	size_t b64len = sodium_base64_encoded_len(strlen(cred), sodium_base64_VARIANT_ORIGINAL);
	char *b64 = acs_xmalloc(b64len);
	sodium_bin2base64(b64, b64len, (const unsigned char *)cred, strlen(cred),
			  sodium_base64_VARIANT_ORIGINAL);
	a->ado_auth = acs_xasprintf("Authorization: Basic %s", b64);
	free(cred);
	free(b64);
	uv_timer_init(loop, &a->timer);
	return a;
}

static void free_activity(struct demo_activity *a)
{
	free(a->cu_base);
	free(a->cu_auth);
	free(a->list_id);
	free(a->ado_base);
	free(a->ado_auth);
	free(a);
}

static void closed_cb(uv_handle_t *h)
{
	struct demo_activity *a = acs_container_of((uv_timer_t *)h, struct demo_activity, timer);
	a->timer_closed = true;
	if (a->inflight == 0)
		free_activity(a);
	/* else: the last callback frees it */
}

struct call {
	struct demo_activity *a;
	int kind; /**< 0 task create, 1 work item create, 2 edit, 3 ADO attachment upload */
};

static void link_attachment(struct demo_activity *a, const char *url);

static void done_cb(const struct acs_http_response *resp, void *arg)
{
	struct call *c = arg;
	struct demo_activity *a = c->a;
	a->inflight--;
	if (resp->error == 0 && resp->status >= 200 && resp->status < 300) {
		json_t *j = acs_json_loadb(resp->body, resp->body_len, 0, NULL);
		if (c->kind == 0)
			snprintf(a->last_task, sizeof(a->last_task), "%s", str(j, "id"));
		else if (c->kind == 1)
			a->last_ado_id = json_integer_value(json_object_get(j, "id"));
		else if (c->kind == 3 && !a->timer_closed)
			link_attachment(a, str(j, "url"));
		json_decref(j);
	} else if (resp->error != ACS_ECANCELED) {
		acs_log(ACS_LOG_WARN, "demo", "simulated edit failed: HTTP %ld %s", resp->status,
			resp->error_message);
	}
	free(c);
	if (a->timer_closed && a->inflight == 0)
		free_activity(a);
}

static void send_edit(struct demo_activity *a, int kind, const char *method, const char *url,
		      const char *auth, const char *ctype, const char *body)
{
	char ct[96];
	snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
	const char *headers[] = { auth, ct, NULL };
	struct acs_http_request req = {
		.method = method,
		.url = url,
		.headers = headers,
		.body = body,
		.body_len = strlen(body),
		.timeout_ms = 10000,
	};
	struct call *c = acs_xcalloc(1, sizeof(*c));
	c->a = a;
	c->kind = kind;
	if (acs_curl_loop_request(a->cl, &req, done_cb, c, NULL) == 0)
		a->inflight++;
	else
		free(c);
}

/* Second half of an ADO attachment: the uploaded file becomes an AttachedFile
 * relation of the work item, as the web UI does. */
static void link_attachment(struct demo_activity *a, const char *url)
{
	if (!*url || !a->last_ado_id)
		return;
	char target[512];
	snprintf(target, sizeof(target), "%s/_apis/wit/workitems/%lld?api-version=7.1", a->ado_base,
		 (long long)a->last_ado_id);
	json_t *ops = json_pack("[{s:s, s:s, s:{s:s, s:s, s:{s:s}}}]", "op", "add", "path",
				"/relations/-", "value", "rel", "AttachedFile", "url", url,
				"attributes", "comment", "attached by the demo");
	char *body = acs_json_dumps(ops, JSON_COMPACT);
	json_decref(ops);
	send_edit(a, 2, "PATCH", target, a->ado_auth, "application/json-patch+json", body);
	free(body);
}

static void comment(struct demo_activity *a, unsigned n)
{
	char url[512], body[512];
	if (n % 2 && a->last_task[0]) {
		snprintf(url, sizeof(url), "%s/task/%s/comment", a->cu_base, a->last_task);
		snprintf(body, sizeof(body),
			 "{\"comment_text\": \"Looks good. Next step %u: **review** it in Azure "
			 "DevOps.\", \"notify_all\": false}",
			 n);
		acs_log(ACS_LOG_INFO, "demo", "a person comments on ClickUp task %s", a->last_task);
		send_edit(a, 2, "POST", url, a->cu_auth, "application/json", body);
	} else if (a->last_ado_id) {
		snprintf(url, sizeof(url),
			 "%s/_apis/wit/workItems/%lld/comments?api-version=7.1-preview.4",
			 a->ado_base, (long long)a->last_ado_id);
		snprintf(body, sizeof(body),
			 "{\"text\": \"<p>Step %u: <b>verified</b> in Azure DevOps, over to "
			 "ClickUp.</p>\"}",
			 n);
		acs_log(ACS_LOG_INFO, "demo", "a person comments on work item %lld",
			(long long)a->last_ado_id);
		send_edit(a, 2, "POST", url, a->ado_auth, "application/json", body);
	}
}

static void attach(struct demo_activity *a, unsigned n)
{
	char url[512], body[1024];
	if (n % 2 && a->last_task[0]) {
		/* ClickUp sends no webhook for this: the daemon finds it in its scan. */
		static const char boundary[] = "acsdemo7f3a9c";
		snprintf(url, sizeof(url), "%s/task/%s/attachment", a->cu_base, a->last_task);
		snprintf(body, sizeof(body),
			 "--%s\r\nContent-Disposition: form-data; name=\"attachment\"; "
			 "filename=\"clickup-notes-%u.txt\"\r\nContent-Type: text/plain\r\n\r\n"
			 "Notes %u, attached in ClickUp.\n\r\n--%s--\r\n",
			 boundary, n, n, boundary);
		char ctype[96];
		snprintf(ctype, sizeof(ctype), "multipart/form-data; boundary=%s", boundary);
		acs_log(ACS_LOG_INFO, "demo", "a person attaches a file to ClickUp task %s",
			a->last_task);
		send_edit(a, 2, "POST", url, a->cu_auth, ctype, body);
	} else if (a->last_ado_id) {
		snprintf(url, sizeof(url),
			 "%s/_apis/wit/attachments?fileName=ado-notes-%u.txt&api-version=7.1",
			 a->ado_base, n);
		snprintf(body, sizeof(body), "Notes %u, attached in Azure DevOps.\n", n);
		acs_log(ACS_LOG_INFO, "demo", "a person attaches a file to work item %lld",
			(long long)a->last_ado_id);
		send_edit(a, 3, "POST", url, a->ado_auth, "application/octet-stream", body);
	}
}

static void tick_cb(uv_timer_t *t)
{
	struct demo_activity *a = acs_container_of(t, struct demo_activity, timer);
	unsigned n = ++a->step;
	char url[512], body[1024];

	switch (n % 6) {
	case 1:
		snprintf(url, sizeof(url), "%s/list/%s/task", a->cu_base, a->list_id);
		snprintf(body, sizeof(body),
			 "{\"name\": \"Demo task %u from ClickUp\", \"markdown_content\": "
			 "\"Created in **ClickUp** by the demo: see it appear in Azure DevOps.\", "
			 "\"priority\": 3}",
			 n);
		acs_log(ACS_LOG_INFO, "demo", "a person creates ClickUp task %u", n);
		send_edit(a, 0, "POST", url, a->cu_auth, "application/json", body);
		break;
	case 2:
		snprintf(url, sizeof(url), "%s/_apis/wit/workitems/$Task?api-version=7.1",
			 a->ado_base);
		snprintf(body, sizeof(body),
			 "[{\"op\": \"add\", \"path\": \"/fields/System.Title\", \"value\": "
			 "\"Demo work item %u from Azure DevOps\"}, {\"op\": \"add\", \"path\": "
			 "\"/fields/System.Description\", \"value\": \"<div>Created in <b>Azure "
			 "DevOps</b> by the demo.</div>\"}]",
			 n);
		acs_log(ACS_LOG_INFO, "demo", "a person creates Azure DevOps work item %u", n);
		send_edit(a, 1, "POST", url, a->ado_auth, "application/json-patch+json", body);
		break;
	case 4:
		comment(a, n / 6);
		break;
	case 5:
		attach(a, n / 6);
		break;
	default:
		if (a->last_ado_id) {
			snprintf(url, sizeof(url), "%s/_apis/wit/workitems/%lld?api-version=7.1",
				 a->ado_base, (long long)a->last_ado_id);
			snprintf(body, sizeof(body),
				 "[{\"op\": \"add\", \"path\": \"/fields/System.State\", "
				 "\"value\": \"Active\"}, {\"op\": \"add\", \"path\": "
				 "\"/fields/Microsoft.VSTS.Common.Priority\", \"value\": 1}]");
			acs_log(ACS_LOG_INFO, "demo",
				"a person activates work item %lld and raises its priority",
				(long long)a->last_ado_id);
			send_edit(a, 2, "PATCH", url, a->ado_auth, "application/json-patch+json",
				  body);
		} else if (a->last_task[0]) {
			snprintf(url, sizeof(url), "%s/task/%s", a->cu_base, a->last_task);
			snprintf(body, sizeof(body), "{\"status\": \"in progress\"}");
			acs_log(ACS_LOG_INFO, "demo", "a person starts ClickUp task %s",
				a->last_task);
			send_edit(a, 2, "PUT", url, a->cu_auth, "application/json", body);
		}
		break;
	}
}

void demo_activity_start(struct demo_activity *a, struct acs_curl_loop *cl, uint64_t interval_ms)
{
	a->cl = cl;
	uv_timer_start(&a->timer, tick_cb, 1500, interval_ms);
}

void demo_activity_stop(struct demo_activity *a)
{
	if (a)
		uv_timer_stop(&a->timer);
}

void demo_activity_close(struct demo_activity *a)
{
	if (!a || a->closing)
		return;
	a->closing = true;
	uv_close((uv_handle_t *)&a->timer, closed_cb);
}
