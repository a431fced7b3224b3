/* SPDX-License-Identifier: MIT */
/* The ClickUp API v2 simulator: in-memory workspace seeded from the sim's
 * seed, the REST paths under /api/v2 a sync client uses, the traps of the
 * real API (shared/api/clickup.md §8), per-token rate limiting, and signed
 * webhook deliveries with ClickUp's health/suspension rules. */
#pragma once

#include "sim.h"

struct sim_clickup;

/** Add the ClickUp service to sim. rate_limit overrides the seed's
 *  requests per minute when > 0. The service is owned by sim (freed by
 *  sim_close). Returns NULL with err on a bad seed. */
struct sim_clickup *sim_clickup_new(struct sim *sim, long rate_limit, char err[ACS_ERR_LEN]);
/** Its service (listen on it). */
struct sim_service *sim_clickup_service(struct sim_clickup *cu);
