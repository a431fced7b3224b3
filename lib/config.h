/* SPDX-License-Identifier: MIT */
/* Configuration: one static key table (section, key, type, default, bounds,
 * flags) drives INI loading through inih, validation, the redacted dump and
 * the documentation test. struct acs_config is a plain snapshot of values. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common.h"
#include "log.h"

/*
 * LIFECYCLE
 *   cfg = acs_config_new_defaults();          every key at its documented default
 *   acs_config_load_file(cfg, path, errs);    zero or more loads; a later load
 *   acs_config_load_string(cfg, n, s, errs);  overrides keys of an earlier one
 *   acs_config_finish(cfg, errs);             secrets from *_file and environment,
 *                                             cross-field checks
 *   acs_config_check_serving(cfg, errs);      optional: keys the daemon needs
 *   ... read cfg->server.listen etc. ...
 *   acs_config_free(cfg);
 *
 * Loading reads files with blocking I/O: call it before the loop runs.
 * Every error is collected as "FILE:LINE: section.key: message" (see
 * struct acs_config_errors); loading never stops at the first one.
 *
 * LIMITS (inherited from inih as Debian builds it): a line holds at most
 * 199 characters and a section name at most 49; longer ones are errors,
 * never silently truncated. " ;" starts an inline comment, so a secret
 * containing " ;" must come from a *_file or the environment.
 */

/** Flags of a key-table row (acs_config_key_at). */
enum acs_config_flag {
	ACS_CONFIG_SECRET = 1u << 0,	  /**< value is a credential: registered with the
					       log redactor, dumped as [REDACTED] */
	ACS_CONFIG_SECRET_FILE = 1u << 1, /**< KEY_file: path whose contents are the secret */
	ACS_CONFIG_SERVE = 1u << 2,   /**< required to run the daemon (acs_config_check_serving) */
	ACS_CONFIG_MAP = 1u << 3,     /**< key of a [map NAME] section */
	ACS_CONFIG_PATTERN = 1u << 4, /**< key is a prefix ("status.*") or free-form ("*") */
};

enum acs_config_conflict {
	ACS_CONFLICT_NEWEST = 0, /**< the most recent edit wins */
	ACS_CONFLICT_ADO,	 /**< Azure DevOps always wins */
	ACS_CONFLICT_CLICKUP,	 /**< ClickUp always wins */
};

enum acs_config_on_delete {
	ACS_ON_DELETE_CLOSE = 0, /**< close the twin (default) */
	ACS_ON_DELETE_DELETE,	 /**< delete the twin */
	ACS_ON_DELETE_IGNORE,	 /**< leave the twin alone */
};

/** A list value ("Task, Bug, User Story"): items trimmed, never empty strings. */
struct acs_config_strv {
	char **v;
	size_t n;
};

/** One free-form line: [users] e-mail = id, status.<state> = <status>, custom.<ref> = <id>. */
struct acs_config_pair {
	char *key; /**< text after the prefix ("Active" for "status.Active") */
	char *value;
	const char *file; /**< where it was set; owned by the config */
	unsigned line;
};

struct acs_config_pairs {
	struct acs_config_pair *v;
	size_t n;
};

/** One [map NAME] section: an ADO project (area) paired with a ClickUp list. */
struct acs_config_map {
	char *name;	     /**< NAME of [map NAME] */
	char *ado_project;   /**< defaults to [ado] project when unset */
	char *ado_area_path; /**< "" = whole project */
	struct acs_config_strv ado_work_item_types;
	char *ado_new_item_type;
	char *clickup_list_id;
	struct acs_config_pairs status; /**< ADO state -> ClickUp status */
	struct acs_config_pairs custom; /**< ADO field reference -> ClickUp field id */
	enum acs_config_on_delete on_delete;
	bool copy_existing_comments;
	const char *file; /**< where the section appeared (owned) */
	unsigned line;
};

/** The configuration snapshot. Strings are never NULL ("" when unset); sizes
 *  in bytes, durations in milliseconds. Owned by the config: free the whole
 *  thing with acs_config_free(). */
struct acs_config {
	struct {
		char *listen;	  /**< IP:PORT or [IPv6]:PORT */
		char *public_url; /**< http(s)://..., no trailing '/'; "" = unset */
		struct acs_config_strv trusted_proxies; /**< IP or CIDR items */
		uint64_t max_body_bytes;
		uint64_t max_header_bytes;
		uint64_t read_timeout_ms;
		uint64_t idle_timeout_ms;
		int max_connections;
	} server;
	struct {
		char *url; /**< "sqlite:PATH" */
	} database;
	struct {
		char *organization;
		char *project;
		char *pat; /**< effective value after finish (env > file > inline) */
		char *pat_file;
		char *base_url; /**< part before /{org}, no trailing '/' */
		char *webhook_username;
		char *webhook_password; /**< effective value after finish */
		char *webhook_password_file;
		char *assigned_to; /**< WIQL value; "" = all */
	} ado;
	struct {
		char *token; /**< effective value after finish */
		char *token_file;
		char *workspace_id;
		char *base_url; /**< ends in /api/v2, no trailing '/' */
	} clickup;
	struct {
		enum acs_config_conflict conflict;
		int concurrency;
		int max_attempts;
		uint64_t sweep_interval_ms;
		uint64_t webhook_check_interval_ms;
		uint64_t attachment_max_bytes; /**< 0 = do not copy attachments */
		int attachment_scan_days;
	} sync;
	struct {
		char *admin_password_hash; /**< Argon2id hash; "" = dashboard login disabled */
		char *admin_password_hash_file;
	} dashboard;
	struct {
		enum acs_log_level level;
		enum acs_log_format format;
	} log;
	struct acs_config_pairs users; /**< key = ADO e-mail, value = ClickUp user id */
	struct acs_config_map *maps;
	size_t n_maps;
	struct acs__config_meta *meta; /**< private: origins of keys, loads, getenv hook */
};

/* --- error list ---------------------------------------------------------- */

/** Collected messages, in the order found. At most 100 are kept; the last
 *  then says that more were dropped. */
struct acs_config_errors;

/** Returns an empty list; free with acs_config_errors_free(). */
struct acs_config_errors *acs_config_errors_new(void);
/** NULL is a no-op. */
void acs_config_errors_free(struct acs_config_errors *errs);
/** Add "FILE:LINE: KEY: message". key NULL gives "FILE:LINE: message"; key
 *  NULL and line 0 gives "FILE: message". errs NULL is a no-op. */
void acs_config_errors_add(struct acs_config_errors *errs, const char *file, unsigned line,
			   const char *key, const char *fmt, ...) ACS_PRINTF(5, 6);
size_t acs_config_errors_count(const struct acs_config_errors *errs);
/** The i-th message (i < count), borrowed until the list is freed. */
const char *acs_config_errors_get(const struct acs_config_errors *errs, size_t i);
/** Print every message, one per line, to out. */
void acs_config_errors_print(const struct acs_config_errors *errs, FILE *out);

/* --- loading ------------------------------------------------------------- */

/** Environment lookup used by acs_config_finish (default: getenv). Returns
 *  the value, borrowed until the next call, or NULL. */
typedef const char *(*acs_config_getenv_cb)(const char *name, void *arg);

/** A config holding every default. Never NULL; free with acs_config_free(). */
struct acs_config *acs_config_new_defaults(void);
/** NULL is a no-op. */
void acs_config_free(struct acs_config *cfg);
/** Replace the environment lookup (NULL restores getenv). */
void acs_config_set_getenv(struct acs_config *cfg, acs_config_getenv_cb cb, void *arg);

/** Load an INI file on top of cfg. Errors go to errs (may be NULL).
 *  Returns 0, ACS_ECONFIG when the file had errors, or -errno when it could
 *  not be read (also reported to errs as "PATH: cannot read: ..."). */
int acs_config_load_file(struct acs_config *cfg, const char *path, struct acs_config_errors *errs);
/** As load_file for INI text in memory; name is used in messages. Relative
 *  *_file paths of a string load resolve against the working directory. */
int acs_config_load_string(struct acs_config *cfg, const char *name, const char *text,
			   struct acs_config_errors *errs);
/** Resolve secrets and check what depends on several keys. For each secret
 *  the environment (ADO_PAT, WEBHOOK_SECRET, CLICKUP_API_TOKEN; empty =
 *  unset) wins over KEY_file, which is read even when overridden so a bad
 *  path is always reported. A relative KEY_file path is resolved against
 *  $CREDENTIALS_DIRECTORY when set (systemd LoadCredential=), else against
 *  the directory of the file that named it. Every secret value seen is
 *  registered with acs_log_add_secret(). Returns 0 or ACS_ECONFIG. */
int acs_config_finish(struct acs_config *cfg, struct acs_config_errors *errs);
/** Report keys flagged ACS_CONFIG_SERVE that are still empty, as
 *  "FILE:0: ado.pat: required to run the daemon ...". Returns 0 or ACS_ECONFIG. */
int acs_config_check_serving(const struct acs_config *cfg, struct acs_config_errors *errs);

/** Where section.key was last set: *file is NULL and *line 0 for a default.
 *  Returns 0 or ACS_ENOTFOUND for a key not in the table (top-level keys only). */
int acs_config_key_origin(const struct acs_config *cfg, const char *section, const char *key,
			  const char **file, unsigned *line);

/** Print the effective configuration as INI; secrets appear as [REDACTED].
 *  Returns 0 or -EIO. */
int acs_config_dump(const struct acs_config *cfg, FILE *out);

/** Find a mapping by name; NULL when absent. Borrowed from cfg. */
const struct acs_config_map *acs_config_map_find(const struct acs_config *cfg, const char *name);

/* --- the key table ------------------------------------------------------- */

/** Number of rows of the key table. */
size_t acs_config_key_count(void);
/** Row i: section ("server", "map" for [map NAME], "users"), key ("listen",
 *  "status.*" for a prefix, "*" for free-form [users] lines) and flags (enum
 *  acs_config_flag). Returns 0 or ACS_ENOTFOUND when i >= count. */
int acs_config_key_at(size_t i, const char **section, const char **key, unsigned *flags);

/* --- value parsers, shared with other modules ---------------------------- */

/** "30" (seconds), "30s", "5m", "2h" -> milliseconds. Returns 0 or ACS_EPARSE. */
int acs_config_parse_duration(const char *s, uint64_t *ms);
/** "512" (bytes), "16K", "4M", "1G" (powers of 1024, k/m/g too). 0 or ACS_EPARSE. */
int acs_config_parse_size(const char *s, uint64_t *bytes);
/** true/false, yes/no, on/off, 1/0, any case. Returns 0 or ACS_EPARSE. */
int acs_config_parse_bool(const char *s, bool *out);
/** "127.0.0.1:8080" or "[::1]:8080" -> host (without brackets, NUL-terminated
 *  in hostlen bytes) and port 0..65535. Returns 0 or ACS_EPARSE. */
int acs_config_parse_listen(const char *s, char *host, size_t hostlen, int *port);
