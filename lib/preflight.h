/* SPDX-License-Identifier: MIT */
/* The online half of `check-config --online`: asks both services whether the
 * configured tokens work and whether every project, area, type, state, list,
 * status and custom field a mapping names exists, and reports one verdict
 * per check. Read-only: it never changes anything on either service. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ado_client.h"
#include "clickup_client.h"
#include "common.h"
#include "config.h"

/*
 * DESIGN
 *   Two stages per service, all calls in parallel on the caller's loop:
 *   first the token probes (ADO: the organization's project list; ClickUp:
 *   GET /team), then, only for a service whose token works, one fetch per
 *   distinct resource the mappings name (ADO: each project's types with
 *   their states, its area tree when a mapping has an area path, each
 *   custom field reference; ClickUp: each list with its statuses, its
 *   custom fields when a mapping names one). The verdicts are computed from
 *   the fetched data once everything answered, in configuration order, so
 *   the report is deterministic. A service whose token failed gets "skip"
 *   lines for the checks that depend on it.
 *
 *   A deadline bounds the whole run: when it passes, the checks still
 *   waiting fail as "no answer" and the result is delivered at once; the
 *   calls still in flight are cancelled when the caller closes its clients.
 *
 * OWNERSHIP
 *   cfg, both clients and arg are borrowed until the callback ran; the
 *   clients must stay open until then (closing them earlier makes the
 *   pending checks fail with "canceled"). The result belongs to the
 *   callback: free it with acs_preflight_result_free. After the callback
 *   the run frees itself once its last call completed, which happens at
 *   the latest when the caller closes the clients.
 */

/** Default deadline of a whole run. */
#define ACS_PREFLIGHT_TIMEOUT_MS 30000u

enum acs_preflight_status {
	ACS_PREFLIGHT_OK = 0,
	ACS_PREFLIGHT_FAIL,
	ACS_PREFLIGHT_SKIP, /**< not checked: what it depends on failed */
};

/** One verdict. */
struct acs_preflight_check {
	enum acs_preflight_status status;
	char *what;   /**< "ADO token and organization 'contoso'", "map team: ClickUp list 901" */
	char *detail; /**< ok: a short note or ""; FAIL: the service's message and a hint
		       *  naming the key to fix; SKIP: why */
};

struct acs_preflight_result {
	struct acs_preflight_check *checks; /**< n, in configuration order */
	size_t n;
	size_t n_failed;
	size_t n_skipped;
	bool unreachable; /**< a service could not be reached (connection, timeout) */
	bool timed_out;	  /**< the deadline passed before every answer came */
};

/** Owns res (free with acs_preflight_result_free). */
typedef void (*acs_preflight_done_cb)(struct acs_preflight_result *res, void *arg);

/** Start the checks of every mapping of cfg on loop through ado and cu.
 *  timeout_ms 0 = ACS_PREFLIGHT_TIMEOUT_MS. cb (required) runs exactly
 *  once, always from the loop. Returns 0, or -EINVAL for a missing
 *  argument (cb then never runs). */
int acs_preflight_run(uv_loop_t *loop, const struct acs_config *cfg, struct acs_ado_client *ado,
		      struct acs_clickup_client *cu, uint64_t timeout_ms, acs_preflight_done_cb cb,
		      void *arg);

/** NULL is a no-op. */
void acs_preflight_result_free(struct acs_preflight_result *res);

/** "ok", "FAIL", "skip". */
const char *acs_preflight_status_name(enum acs_preflight_status s);

/** One report line without a newline: "ok    what", "FAIL  what: detail", with
 *  every registered secret redacted (acs_log_redact). Truncated to len. */
void acs_preflight_check_format(const struct acs_preflight_check *c, char *buf, size_t len);
