/* SPDX-License-Identifier: MIT */
/* Error codes: 0 is success, OS and libuv errors pass through as negative
 * errno / UV_E* values, domain errors live in their own negative range. */
#pragma once

enum acs_err {
	ACS_EBASE = -10000,
	ACS_ECONFIG = ACS_EBASE - 1,	 /**< invalid configuration */
	ACS_EPARSE = ACS_EBASE - 2,	 /**< malformed input (JSON, HTTP, INI) */
	ACS_EHTTP = ACS_EBASE - 3,	 /**< remote answered with an error status */
	ACS_ETRANSPORT = ACS_EBASE - 4,	 /**< connect/TLS/reset: retryable */
	ACS_ETIMEOUT = ACS_EBASE - 5,	 /**< operation timed out */
	ACS_ESTORE = ACS_EBASE - 6,	 /**< database error */
	ACS_ECLOSED = ACS_EBASE - 7,	 /**< object is shutting down */
	ACS_ETOOBIG = ACS_EBASE - 8,	 /**< a bounded buffer would overflow */
	ACS_ENOTFOUND = ACS_EBASE - 9,	 /**< no such item */
	ACS_ECONFLICT = ACS_EBASE - 10,	 /**< stale revision / conflicting write */
	ACS_ERATELIMIT = ACS_EBASE - 11, /**< remote rate limit hit */
	ACS_EAUTH = ACS_EBASE - 12,	 /**< authentication failed */
	ACS_ECANCELED = ACS_EBASE - 13,	 /**< canceled by the caller or by shutdown */
	ACS_ELAST = ACS_EBASE - 14,
};

/** Human-readable text for an acs_err, a negative errno or a UV_E* code.
 *  Returns a static string; never NULL. */
const char *acs_strerror(int err);
