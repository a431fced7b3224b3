/* SPDX-License-Identifier: MIT */
/* Civil calendar arithmetic (proleptic Gregorian, Howard Hinnant's algorithms): the
 * date parsers and formatters of the clients, the webhooks, the mapper and the
 * governor convert with these, so nothing depends on timegm() or the time zone. */
#pragma once

#include <stdint.h>

/** Days since 1970-01-01 of year y, month m (1-12), day d (1-31); not validated. */
int64_t acs_days_from_civil(int64_t y, unsigned m, unsigned d);

/** The date of day z (days since 1970-01-01): year, month 1-12, day 1-31. */
void acs_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);
