/* SPDX-License-Identifier: MIT */
/* Project-wide macros: attributes, container_of, invariant checks and the
 * ACS_STATIC hook that lets unit tests reach file-local functions. */
#pragma once

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#define ACS_ERR_LEN 256 /* size of a caller-provided error message buffer */

#define ACS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ACS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define ACS_MAX(a, b) ((a) > (b) ? (a) : (b))

#define ACS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define ACS_NORETURN __attribute__((noreturn))
#define ACS_UNUSED __attribute__((unused))
#define ACS_NODISCARD __attribute__((warn_unused_result))
#define ACS_LIKELY(x) __builtin_expect(!!(x), 1)
#define ACS_UNLIKELY(x) __builtin_expect(!!(x), 0)

/* splitmix64: a tiny seedable generator for jitter (no secrecy needed; libsodium's
 * randombytes makes a system call per draw). */
static inline uint64_t acs_splitmix64(uint64_t *state)
{
	uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* Recover the owning struct from a pointer to one of its members. */
#define acs_container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* File-local in production; visible to the unit test of the module. */
#ifdef ACS_UNIT_TEST
#define ACS_STATIC
#else
#define ACS_STATIC static
#endif

ACS_NORETURN void acs__require_fail(const char *expr, const char *file, int line, const char *func);
bool acs__fails_assert(const char *expr, const char *file, int line, const char *func);

/* Always compiled in: a broken invariant aborts with a message. */
#define acs_require(x) \
	(ACS_LIKELY(x) ? (void)0 : acs__require_fail(#x, __FILE__, __LINE__, __func__))

/* Logs and returns true when x is false, so the caller can recover:
 *   if (acs_fails_assert(p != NULL)) return -EINVAL; */
#define acs_fails_assert(x) \
	(ACS_LIKELY(x) ? false : acs__fails_assert(#x, __FILE__, __LINE__, __func__))
