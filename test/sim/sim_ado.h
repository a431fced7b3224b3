/* SPDX-License-Identifier: MIT */
/* The Azure DevOps Services REST 7.1 simulator: one organization with one
 * project (Agile types Task, Bug, User Story), work items, WIQL, comments,
 * attachments, service hooks with ADO's retry/probation rules, PAT auth and
 * TSTU-style throttling, as shared/api/azure-devops.md describes them.
 *
 * SEED ("ado" part; every key is optional)
 *   organization, project      names ("contoso", "Platform")
 *   project_id                 GUID of the project
 *   pat, pat_user              the PAT and the e-mail of its owner (first user)
 *   pats                       {"<pat>": "<e-mail>"}: more PATs, one per user
 *   areas, iterations          paths below the project root ["Integrations", "Web"]
 *   custom_fields              [{"referenceName", "name", "type": "string" |
 *                              "integer" | "double" | "dateTime" | "html" | "boolean"}]
 *   work_items                 [{"type": "Task", "fields": {ref: value}}] created at start
 *   rate_limit                 TSTU budget per window and PAT (0 = no throttle);
 *                              each request costs one TSTU
 *   rate_limit_window_s        sliding window (300, ADO's five minutes)
 *   webhook: transient_delays_ms [1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]
 *            probation_delays_ms [20 min, 40 min, 80 min, 160 min, 320 min, 640 min, 900 min]
 *            timeout_ms (20000)
 */
#pragma once

#include "sim.h"

struct sim_ado;

/** Add the ADO service to sim. rate_limit > 0 overrides the seed's TSTU
 *  budget per window (--ado-rate-limit). The service is owned by sim (freed
 *  by sim_close). Returns NULL with err on a bad seed. */
struct sim_ado *sim_ado_new(struct sim *sim, long rate_limit, char err[ACS_ERR_LEN]);
/** Its service (listen on it). */
struct sim_service *sim_ado_service(struct sim_ado *ado);
