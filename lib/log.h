/* SPDX-License-Identifier: MIT */
/* Process-wide structured logging: levels, module tags, logfmt or JSON
 * lines on stderr (or a file reopened on SIGHUP), and the redaction layer
 * that keeps tokens, PATs, passwords and Authorization values out of logs.
 *
 * The logger is the one piece of process-wide state: every module and the
 * store's worker thread log, and threading a handle through all of them buys
 * nothing (Knot does the same). It is guarded by a mutex. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

enum acs_log_level {
	ACS_LOG_CRIT = 0,
	ACS_LOG_ERR,
	ACS_LOG_WARN,
	ACS_LOG_INFO,
	ACS_LOG_DEBUG,
};

enum acs_log_format {
	ACS_LOG_LOGFMT = 0,
	ACS_LOG_JSON,
};

/** One key/value pair of a structured log line. Values are printed as-is
 *  (after redaction); NULL prints as an empty string. */
struct acs_log_field {
	const char *key;
	const char *value;
};

/** Receives each finished line (without trailing newline) instead of stderr;
 *  for tests. Called with the logger lock held: do not log from it. */
typedef void (*acs_log_sink_cb)(enum acs_log_level level, const char *line, size_t len, void *arg);

void acs_log_set_level(enum acs_log_level level);
enum acs_log_level acs_log_get_level(void);
void acs_log_set_format(enum acs_log_format format);
/** Parse "crit|error|warn|info|debug"; returns 0 or ACS_EPARSE. */
int acs_log_level_parse(const char *s, enum acs_log_level *out);
int acs_log_format_parse(const char *s, enum acs_log_format *out);
const char *acs_log_level_name(enum acs_log_level level);

/** Send lines to path (appending, created 0640) instead of stderr; NULL goes
 *  back to stderr. Returns 0 or -errno. */
int acs_log_set_file(const char *path);
/** Reopen the log file (SIGHUP, after logrotate). No-op for stderr. */
int acs_log_reopen(void);
/** Install a sink (NULL restores the file/stderr output). */
void acs_log_set_sink(acs_log_sink_cb cb, void *arg);

/** Register a secret value: wherever it appears in a line it is printed as
 *  [REDACTED]. Values shorter than 4 bytes are ignored. The string is copied. */
void acs_log_add_secret(const char *value);
/** Forget registered secrets and restore defaults (level info, logfmt,
 *  stderr, no sink). For tests and process exit. */
void acs_log_reset(void);

/** Redact src into dst (always NUL-terminated, truncated to dstlen-1).
 *  Applies registered secrets and the built-in patterns (Authorization
 *  values, Basic/Bearer credentials, ClickUp pk_ tokens, URL passwords).
 *  Exposed for tests and for modules that echo untrusted text. */
void acs_log_redact(const char *src, char *dst, size_t dstlen);
/** True when a field with this key must never be printed (token, pat,
 *  password, secret, authorization, cookie, signature, hmac...). */
bool acs_log_key_is_secret(const char *key);

bool acs_log_enabled(enum acs_log_level level);

void acs__log(enum acs_log_level level, const char *mod, const char *file, int line,
	      const char *fmt, ...) ACS_PRINTF(5, 6);
void acs__log_kv(enum acs_log_level level, const char *mod, const char *file, int line,
		 const char *msg, const struct acs_log_field *fields, size_t n);

/** acs_log(ACS_LOG_INFO, "http", "listening on %s", addr): message only. */
#define acs_log(level, mod, ...)                                                   \
	do {                                                                       \
		if (acs_log_enabled(level))                                        \
			acs__log((level), (mod), __FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

/** acs_log_kv(ACS_LOG_INFO, "http", "request", fields, n): message + fields. */
#define acs_log_kv(level, mod, msg, fields, n)                                                 \
	do {                                                                                   \
		if (acs_log_enabled(level))                                                    \
			acs__log_kv((level), (mod), __FILE__, __LINE__, (msg), (fields), (n)); \
	} while (0)
