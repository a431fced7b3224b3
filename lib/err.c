/* SPDX-License-Identifier: MIT */
/* Error-code texts and the invariant-failure reporters behind common.h. */
#include "err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "common.h"
#include "log.h"

static const char *const domain_msgs[] = {
	[0] = "unknown error",
	[1] = "invalid configuration",
	[2] = "malformed input",
	[3] = "remote returned an error status",
	[4] = "transport error",
	[5] = "timed out",
	[6] = "database error",
	[7] = "shutting down",
	[8] = "size limit exceeded",
	[9] = "not found",
	[10] = "conflict",
	[11] = "rate limited",
	[12] = "authentication failed",
	[13] = "canceled",
};

const char *acs_strerror(int err)
{
	if (err == 0)
		return "success";
	if (err < ACS_EBASE && err > ACS_ELAST) {
		size_t i = (size_t)(ACS_EBASE - err);
		if (i < ACS_ARRAY_SIZE(domain_msgs) && domain_msgs[i])
			return domain_msgs[i];
		return domain_msgs[0];
	}
	if (err < 0) {
		/* libuv knows both UV_E* and -errno; the _r form never allocates
		 * (uv_strerror leaks a string for unknown codes). */
		static _Thread_local char buf[80];
		return uv_strerror_r(err, buf, sizeof(buf));
	}
	return domain_msgs[0];
}

void acs__require_fail(const char *expr, const char *file, int line, const char *func)
{
	acs_log(ACS_LOG_CRIT, "core", "invariant failed: %s at %s:%d (%s)", expr, file, line, func);
	fprintf(stderr, "ado-clickup-sync: invariant failed: %s at %s:%d (%s)\n", expr, file, line,
		func);
	abort();
}

bool acs__fails_assert(const char *expr, const char *file, int line, const char *func)
{
	acs_log(ACS_LOG_ERR, "core", "assertion failed: %s at %s:%d (%s)", expr, file, line, func);
	return true;
}
