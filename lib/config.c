/* SPDX-License-Identifier: MIT */
/* Table-driven INI configuration for config.h: the key table, the inih
 * reader and handler, defaults, secrets, cross-field checks and the dump. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"

/*
 * DESIGN
 *   inih splits lines into section / name / value, but it gives its handler
 *   no line number, stops section names at 49 characters and would split an
 *   over-long line in two. So we feed it through our own reader, one
 *   physical line per call: the reader counts lines, strips indentation (so
 *   an indented key is never taken as an inih continuation line), rejects
 *   what inih would reject or truncate (with our message and line), tracks
 *   sections itself (inih never reports a section without keys) and hands
 *   inih only lines it will accept. The handler then looks the key up in
 *   the table below and converts the value with the row's type.
 *
 *   Where each key was set (load, line) is kept in the private meta so that
 *   checks made after parsing (acs_config_finish) can still name a line.
 */

#define MAX_ERRORS 100
#define MAX_FILE_BYTES (1u << 20)    /* a config file larger than this is a mistake */
#define MAX_SECRET_BYTES (64u << 10) /* a token, a PAT or a hash is far smaller */
#define MAX_SECTION_LEN 49	     /* inih's MAX_SECTION minus the NUL */

_Static_assert(sizeof(enum acs_config_conflict) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum acs_config_on_delete) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum acs_log_level) == sizeof(int), "enum stored as int");
_Static_assert(sizeof(enum acs_log_format) == sizeof(int), "enum stored as int");

/* --- the key table ------------------------------------------------------- */

enum type {
	T_STRING,      /* char * */
	T_SECRET,      /* char *, flagged ACS_CONFIG_SECRET */
	T_SECRET_FILE, /* char * path, flagged ACS_CONFIG_SECRET_FILE */
	T_BOOL,	       /* bool */
	T_INT,	       /* int, bounds min..max */
	T_DURATION,    /* uint64_t milliseconds, bounds in ms */
	T_SIZE,	       /* uint64_t bytes, bounds in bytes */
	T_ENUM,	       /* int index into names */
	T_LIST,	       /* struct acs_config_strv, min = fewest items */
	T_PAIRS,       /* struct acs_config_pairs, free-form keys */
};

/* Checks (and may normalise in place) a string value; fills msg on error. */
typedef int (*check_fn)(char *value, char *msg, size_t msglen);

struct key_def {
	const char *section; /* "map" for [map NAME] rows */
	const char *key;     /* for T_PAIRS: the prefix plus '*', or "*" */
	enum type type;
	unsigned flags;
	size_t off; /* into struct acs_config, or struct acs_config_map (ACS_CONFIG_MAP) */
	const char *def;
	int64_t min, max;
	const char *const *names; /* T_ENUM, NULL-terminated */
	check_fn check;
	const char *env; /* T_SECRET: environment variable that overrides it */
};

static int check_listen(char *v, char *msg, size_t len);
static int check_url(char *v, char *msg, size_t len);
static int check_url_opt(char *v, char *msg, size_t len);
static int check_database_url(char *v, char *msg, size_t len);
static int check_path_safe(char *v, char *msg, size_t len);
static int check_nonempty(char *v, char *msg, size_t len);
static int check_proxy(char *v, char *msg, size_t len);

static const char *const conflict_names[] = { "newest", "ado", "clickup", NULL };
static const char *const level_names[] = { "crit", "error", "warn", "info", "debug", NULL };
static const char *const format_names[] = { "logfmt", "json", NULL };
static const char *const on_delete_names[] = { "close", "delete", "ignore", NULL };

#define SEC_MS INT64_C(1000)
#define MIN_MS (60 * SEC_MS)
#define HOUR_MS (60 * MIN_MS)
#define KIB INT64_C(1024)
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

#define OFF(m) offsetof(struct acs_config, m)
#define MOFF(m) offsetof(struct acs_config_map, m)

/* Order is the order of the dump and of config.example.ini. */
static const struct key_def keys[] = {
	{ "server", "listen", T_STRING, 0, OFF(server.listen), "127.0.0.1:8080", 0, 0, NULL,
	  check_listen, NULL },
	{ "server", "public_url", T_STRING, ACS_CONFIG_SERVE, OFF(server.public_url), "", 0, 0,
	  NULL, check_url_opt, NULL },
	{ "server", "trusted_proxies", T_LIST, 0, OFF(server.trusted_proxies), "", 0, 0, NULL,
	  check_proxy, NULL },
	{ "server", "max_body_bytes", T_SIZE, 0, OFF(server.max_body_bytes), "4M", KIB, GIB, NULL,
	  NULL, NULL },
	{ "server", "max_header_bytes", T_SIZE, 0, OFF(server.max_header_bytes), "16K", KIB, MIB,
	  NULL, NULL, NULL },
	{ "server", "read_timeout", T_DURATION, 0, OFF(server.read_timeout_ms), "10s", SEC_MS,
	  HOUR_MS, NULL, NULL, NULL },
	{ "server", "idle_timeout", T_DURATION, 0, OFF(server.idle_timeout_ms), "60s", SEC_MS,
	  24 * HOUR_MS, NULL, NULL, NULL },
	{ "server", "max_connections", T_INT, 0, OFF(server.max_connections), "1024", 1, 1000000,
	  NULL, NULL, NULL },

	{ "database", "url", T_STRING, 0, OFF(database.url),
	  "sqlite:/var/lib/ado-clickup-sync/sync.db", 0, 0, NULL, check_database_url, NULL },

	{ "ado", "organization", T_STRING, ACS_CONFIG_SERVE, OFF(ado.organization), "", 0, 0, NULL,
	  check_path_safe, NULL },
	{ "ado", "project", T_STRING, 0, OFF(ado.project), "", 0, 0, NULL, NULL, NULL },
	{ "ado", "pat", T_SECRET, ACS_CONFIG_SECRET | ACS_CONFIG_SERVE, OFF(ado.pat), "", 0, 0,
	  NULL, NULL, "ADO_PAT" },
	{ "ado", "pat_file", T_SECRET_FILE, ACS_CONFIG_SECRET_FILE, OFF(ado.pat_file), "", 0, 0,
	  NULL, NULL, NULL },
	{ "ado", "base_url", T_STRING, 0, OFF(ado.base_url), "https://dev.azure.com", 0, 0, NULL,
	  check_url, NULL },
	{ "ado", "webhook_username", T_STRING, 0, OFF(ado.webhook_username), "", 0, 0, NULL, NULL,
	  NULL },
	{ "ado", "webhook_password", T_SECRET, ACS_CONFIG_SECRET | ACS_CONFIG_SERVE,
	  OFF(ado.webhook_password), "", 0, 0, NULL, NULL, "WEBHOOK_SECRET" },
	{ "ado", "webhook_password_file", T_SECRET_FILE, ACS_CONFIG_SECRET_FILE,
	  OFF(ado.webhook_password_file), "", 0, 0, NULL, NULL, NULL },
	{ "ado", "assigned_to", T_STRING, 0, OFF(ado.assigned_to), "", 0, 0, NULL, NULL, NULL },

	{ "clickup", "token", T_SECRET, ACS_CONFIG_SECRET | ACS_CONFIG_SERVE, OFF(clickup.token),
	  "", 0, 0, NULL, NULL, "CLICKUP_API_TOKEN" },
	{ "clickup", "token_file", T_SECRET_FILE, ACS_CONFIG_SECRET_FILE, OFF(clickup.token_file),
	  "", 0, 0, NULL, NULL, NULL },
	{ "clickup", "workspace_id", T_STRING, ACS_CONFIG_SERVE, OFF(clickup.workspace_id), "", 0,
	  0, NULL, check_path_safe, NULL },
	{ "clickup", "base_url", T_STRING, 0, OFF(clickup.base_url),
	  "https://api.clickup.com/api/v2", 0, 0, NULL, check_url, NULL },

	{ "sync", "conflict", T_ENUM, 0, OFF(sync.conflict), "newest", 0, 0, conflict_names, NULL,
	  NULL },
	{ "sync", "concurrency", T_INT, 0, OFF(sync.concurrency), "8", 1, 256, NULL, NULL, NULL },
	{ "sync", "max_attempts", T_INT, 0, OFF(sync.max_attempts), "8", 1, 100, NULL, NULL, NULL },
	{ "sync", "sweep_interval", T_DURATION, 0, OFF(sync.sweep_interval_ms), "5m", SEC_MS,
	  24 * HOUR_MS, NULL, NULL, NULL },
	{ "sync", "webhook_check_interval", T_DURATION, 0, OFF(sync.webhook_check_interval_ms),
	  "10m", SEC_MS, 24 * HOUR_MS, NULL, NULL, NULL },
	{ "sync", "attachment_max_bytes", T_SIZE, 0, OFF(sync.attachment_max_bytes), "25M", 0, GIB,
	  NULL, NULL, NULL },
	{ "sync", "attachment_scan_days", T_INT, 0, OFF(sync.attachment_scan_days), "7", 0, 3650,
	  NULL, NULL, NULL },

	{ "dashboard", "admin_password_hash", T_SECRET, ACS_CONFIG_SECRET,
	  OFF(dashboard.admin_password_hash), "", 0, 0, NULL, NULL, NULL },
	{ "dashboard", "admin_password_hash_file", T_SECRET_FILE, ACS_CONFIG_SECRET_FILE,
	  OFF(dashboard.admin_password_hash_file), "", 0, 0, NULL, NULL, NULL },

	{ "log", "level", T_ENUM, 0, OFF(log.level), "info", 0, 0, level_names, NULL, NULL },
	{ "log", "format", T_ENUM, 0, OFF(log.format), "logfmt", 0, 0, format_names, NULL, NULL },

	{ "users", "*", T_PAIRS, ACS_CONFIG_PATTERN, OFF(users), "", 0, 0, NULL, NULL, NULL },

	{ "map", "ado_project", T_STRING, ACS_CONFIG_MAP, MOFF(ado_project), "", 0, 0, NULL, NULL,
	  NULL },
	{ "map", "ado_area_path", T_STRING, ACS_CONFIG_MAP, MOFF(ado_area_path), "", 0, 0, NULL,
	  NULL, NULL },
	{ "map", "ado_work_item_types", T_LIST, ACS_CONFIG_MAP, MOFF(ado_work_item_types),
	  "Task, Bug, User Story", 1, 0, NULL, NULL, NULL },
	{ "map", "ado_new_item_type", T_STRING, ACS_CONFIG_MAP, MOFF(ado_new_item_type), "Task", 0,
	  0, NULL, check_nonempty, NULL },
	{ "map", "clickup_list_id", T_STRING, ACS_CONFIG_MAP, MOFF(clickup_list_id), "", 0, 0, NULL,
	  check_path_safe, NULL },
	{ "map", "status.*", T_PAIRS, ACS_CONFIG_MAP | ACS_CONFIG_PATTERN, MOFF(status), "", 0, 0,
	  NULL, NULL, NULL },
	{ "map", "custom.*", T_PAIRS, ACS_CONFIG_MAP | ACS_CONFIG_PATTERN, MOFF(custom), "", 0, 0,
	  NULL, NULL, NULL },
	{ "map", "on_delete", T_ENUM, ACS_CONFIG_MAP, MOFF(on_delete), "close", 0, 0,
	  on_delete_names, NULL, NULL },
	{ "map", "copy_existing_comments", T_BOOL, ACS_CONFIG_MAP, MOFF(copy_existing_comments),
	  "true", 0, 0, NULL, NULL, NULL },
};

#define NKEYS ACS_ARRAY_SIZE(keys)

static const char *const top_sections[] = { "server",	 "database", "ado",   "clickup", "sync",
					    "dashboard", "log",	     "users", "map" };

size_t acs_config_key_count(void)
{
	return NKEYS;
}

int acs_config_key_at(size_t i, const char **section, const char **key, unsigned *flags)
{
	if (i >= NKEYS)
		return ACS_ENOTFOUND;
	if (section)
		*section = keys[i].section;
	if (key)
		*key = keys[i].key;
	if (flags)
		*flags = keys[i].flags;
	return 0;
}

/* --- private meta -------------------------------------------------------- */

struct origin {
	int load; /* index into meta->loads, -1 = default */
	unsigned line;
};

struct load {
	char *name;
	bool is_file; /* relative *_file paths resolve against its directory */
};

struct map_meta {
	int load; /* the load whose [map NAME] line created or last reopened it */
	struct origin key[NKEYS];
};

struct acs__config_meta {
	struct load *loads;
	size_t nloads;
	struct origin key[NKEYS];
	struct map_meta *maps; /* parallel to cfg->maps */
	acs_config_getenv_cb getenv_cb;
	void *getenv_arg;
};

/* --- errors -------------------------------------------------------------- */

struct acs_config_errors {
	char **msgs;
	size_t n;
	bool full;
};

struct acs_config_errors *acs_config_errors_new(void)
{
	return acs_xcalloc(1, sizeof(struct acs_config_errors));
}

void acs_config_errors_free(struct acs_config_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msgs[i]);
	free(errs->msgs);
	free(errs);
}

static void errors_vadd(struct acs_config_errors *errs, const char *file, unsigned line,
			const char *key, const char *fmt, va_list ap)
{
	if (!errs || errs->full)
		return;
	if (!file)
		file = "<config>";
	if (errs->n == MAX_ERRORS - 1) {
		/* Keep the list bounded however broken the input is. */
		errs->msgs = acs_xrealloc(errs->msgs, (errs->n + 1) * sizeof(char *));
		errs->msgs[errs->n++] =
			acs_xasprintf("%s: too many errors, the rest are not shown", file);
		errs->full = true;
		return;
	}
	struct acs_buf b;
	acs_buf_init(&b, 4096);
	int rc;
	if (key)
		rc = acs_buf_printf(&b, "%s:%u: %s: ", file, line, key);
	else if (line)
		rc = acs_buf_printf(&b, "%s:%u: ", file, line);
	else
		rc = acs_buf_printf(&b, "%s: ", file);
	if (rc == 0)
		rc = acs_buf_vprintf(&b, fmt, ap);
	char *msg;
	if (rc == 0) {
		msg = acs_buf_steal(&b, NULL);
	} else {
		acs_buf_free(&b);
		msg = acs_xasprintf("%s:%u: message too long", file, line);
	}
	errs->msgs = acs_xrealloc(errs->msgs, (errs->n + 1) * sizeof(char *));
	errs->msgs[errs->n++] = msg;
}

void acs_config_errors_add(struct acs_config_errors *errs, const char *file, unsigned line,
			   const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errors_vadd(errs, file, line, key, fmt, ap);
	va_end(ap);
}

size_t acs_config_errors_count(const struct acs_config_errors *errs)
{
	return errs ? errs->n : 0;
}

const char *acs_config_errors_get(const struct acs_config_errors *errs, size_t i)
{
	acs_require(errs && i < errs->n);
	return errs->msgs[i];
}

void acs_config_errors_print(const struct acs_config_errors *errs, FILE *out)
{
	for (size_t i = 0; i < acs_config_errors_count(errs); i++)
		fprintf(out, "%s\n", errs->msgs[i]);
}

/* --- value parsers ------------------------------------------------------- */

/* Digits only, no sign, no overflow; *end gets the first non-digit. */
static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	uint64_t v = 0;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return ACS_EPARSE;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');
		if (v > (UINT64_MAX - d) / 10)
			return ACS_EPARSE;
		v = v * 10 + d;
	}
	*out = v;
	*end = p;
	return 0;
}

static int mul_u64(uint64_t v, uint64_t mult, uint64_t *out)
{
	if (v > UINT64_MAX / mult)
		return ACS_EPARSE;
	*out = v * mult;
	return 0;
}

int acs_config_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t v, mult = 1000;
	const char *end;
	if (!s || parse_u64(s, &v, &end) != 0)
		return ACS_EPARSE;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60 * 1000, end++;
	else if (*end == 'h')
		mult = 3600 * 1000, end++;
	if (*end != '\0')
		return ACS_EPARSE;
	return mul_u64(v, mult, ms);
}

int acs_config_parse_size(const char *s, uint64_t *bytes)
{
	uint64_t v, mult = 1;
	const char *end;
	if (!s || parse_u64(s, &v, &end) != 0)
		return ACS_EPARSE;
	switch (*end) {
	case 'K':
	case 'k':
		mult = 1024;
		end++;
		break;
	case 'M':
	case 'm':
		mult = 1024 * 1024;
		end++;
		break;
	case 'G':
	case 'g':
		mult = 1024 * 1024 * 1024;
		end++;
		break;
	default:
		break;
	}
	if (*end != '\0')
		return ACS_EPARSE;
	return mul_u64(v, mult, bytes);
}

int acs_config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	if (!s)
		return ACS_EPARSE;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return ACS_EPARSE;
}

static int parse_int(const char *s, int64_t *out)
{
	bool neg = *s == '-';
	uint64_t v;
	const char *end;
	if (parse_u64(s + neg, &v, &end) != 0 || *end != '\0' || v > INT64_MAX)
		return ACS_EPARSE;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int acs_config_parse_listen(const char *s, char *host, size_t hostlen, int *port)
{
	const char *h, *hend, *p;
	int family;
	if (!s)
		return ACS_EPARSE;
	if (*s == '[') {
		h = s + 1;
		hend = strchr(h, ']');
		if (!hend || hend[1] != ':')
			return ACS_EPARSE;
		p = hend + 2;
		family = AF_INET6;
	} else {
		h = s;
		hend = strrchr(s, ':');
		if (!hend)
			return ACS_EPARSE;
		p = hend + 1;
		family = AF_INET;
	}
	size_t n = (size_t)(hend - h);
	char buf[INET6_ADDRSTRLEN + 1];
	unsigned char addr[sizeof(struct in6_addr)];
	if (n == 0 || n >= sizeof(buf))
		return ACS_EPARSE;
	memcpy(buf, h, n);
	buf[n] = '\0';
	if (inet_pton(family, buf, addr) != 1)
		return ACS_EPARSE;
	uint64_t v;
	const char *end;
	if (parse_u64(p, &v, &end) != 0 || *end != '\0' || v > 65535 || end - p > 5)
		return ACS_EPARSE;
	if (host) {
		if (n >= hostlen)
			return ACS_EPARSE;
		memcpy(host, buf, n + 1);
	}
	if (port)
		*port = (int)v;
	return 0;
}

/* Durations and sizes print in the largest unit that is exact. */
static void fmt_duration(uint64_t ms, char *buf, size_t len)
{
	if (ms != 0 && ms % (uint64_t)HOUR_MS == 0)
		snprintf(buf, len, "%lluh", (unsigned long long)(ms / (uint64_t)HOUR_MS));
	else if (ms != 0 && ms % (uint64_t)MIN_MS == 0)
		snprintf(buf, len, "%llum", (unsigned long long)(ms / (uint64_t)MIN_MS));
	else
		snprintf(buf, len, "%llus", (unsigned long long)(ms / 1000));
}

static void fmt_size(uint64_t b, char *buf, size_t len)
{
	if (b != 0 && b % (uint64_t)GIB == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(b / (uint64_t)GIB));
	else if (b != 0 && b % (uint64_t)MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(b / (uint64_t)MIB));
	else if (b != 0 && b % (uint64_t)KIB == 0)
		snprintf(buf, len, "%lluK", (unsigned long long)(b / (uint64_t)KIB));
	else
		snprintf(buf, len, "%llu", (unsigned long long)b);
}

/* --- string checks ------------------------------------------------------- */

static int check_listen(char *v, char *msg, size_t len)
{
	if (acs_config_parse_listen(v, NULL, 0, NULL) == 0)
		return 0;
	snprintf(msg, len, "must be IP:PORT or [IPv6]:PORT, e.g. 127.0.0.1:8080");
	return -1;
}

static bool has_space(const char *v)
{
	for (; *v; v++) {
		if (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
			return true;
	}
	return false;
}

static int check_url(char *v, char *msg, size_t len)
{
	const char *host = NULL;
	if (strncmp(v, "http://", 7) == 0)
		host = v + 7;
	else if (strncmp(v, "https://", 8) == 0)
		host = v + 8;
	if (!host || strchr("/:?#", *host) || has_space(v)) {
		snprintf(msg, len, "must be an http:// or https:// URL");
		return -1;
	}
	/* Callers append paths ("/webhooks/ado"): store it without a final '/'. */
	size_t n = strlen(v);
	while (n > (size_t)(host - v) && v[n - 1] == '/')
		v[--n] = '\0';
	return 0;
}

static int check_url_opt(char *v, char *msg, size_t len)
{
	return *v ? check_url(v, msg, len) : 0;
}

static int check_database_url(char *v, char *msg, size_t len)
{
	if (strncmp(v, "sqlite:", 7) == 0 && v[7] != '\0')
		return 0;
	if (strncmp(v, "postgresql://", 13) == 0 || strncmp(v, "postgres://", 11) == 0)
		snprintf(msg, len, "PostgreSQL is not supported yet; use sqlite:PATH");
	else
		snprintf(msg, len,
			 "must start with sqlite: followed by a path, e.g. "
			 "sqlite:/var/lib/ado-clickup-sync/sync.db");
	return -1;
}

/* The value goes into URL paths as one segment. */
static int check_path_safe(char *v, char *msg, size_t len)
{
	if (!has_space(v) && !strpbrk(v, "/?#%"))
		return 0;
	snprintf(msg, len, "must not contain spaces or any of / ? # %%");
	return -1;
}

static int check_nonempty(char *v, char *msg, size_t len)
{
	if (*v)
		return 0;
	snprintf(msg, len, "must not be empty");
	return -1;
}

/* One trusted_proxies item: an IP address or a CIDR range. */
static int check_proxy(char *v, char *msg, size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8];
	unsigned char addr[sizeof(struct in6_addr)];
	size_t n = strlen(v);
	if (n >= sizeof(buf))
		goto bad;
	memcpy(buf, v, n + 1);
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	int family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(family, buf, addr) != 1)
		goto bad;
	if (slash) {
		uint64_t bits;
		const char *end;
		if (parse_u64(slash + 1, &bits, &end) != 0 || *end != '\0' ||
		    bits > (family == AF_INET ? 32u : 128u))
			goto bad;
	}
	return 0;
bad:
	snprintf(msg, len, "\"%s\" is not an IP address or CIDR range", v);
	return -1;
}

static int check_email(const char *v)
{
	const char *at = strchr(v, '@');
	return at && at != v && at[1] != '\0' && !strchr(at + 1, '@') && !has_space(v) ? 0 : -1;
}

static bool all_digits(const char *v)
{
	if (!*v)
		return false;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return false;
	}
	return true;
}

/* --- storing values ------------------------------------------------------ */

static void strv_clear(struct acs_config_strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = 0;
}

static void pairs_clear(struct acs_config_pairs *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].value);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static void enum_names(const char *const *names, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; names[i] && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", i ? ", " : "", names[i]);
}

/* Convert and store value into the row's field of base. Returns 0, or -1
 * with a message (without the "file:line: key: " part) in msg. */
static int apply(const struct key_def *d, void *base, const char *value, char *msg, size_t len)
{
	void *field = (char *)base + d->off;
	char lo[32], hi[32];
	switch (d->type) {
	case T_STRING:
	case T_SECRET:
	case T_SECRET_FILE: {
		char *v = acs_xstrdup(value);
		if (d->check && d->check(v, msg, len) != 0) {
			free(v);
			return -1;
		}
		free(*(char **)field);
		*(char **)field = v;
		return 0;
	}
	case T_BOOL:
		if (acs_config_parse_bool(value, (bool *)field) == 0)
			return 0;
		snprintf(msg, len, "must be true or false (or yes/no, on/off, 1/0)");
		return -1;
	case T_INT: {
		int64_t v;
		if (parse_int(value, &v) != 0) {
			snprintf(msg, len, "must be an integer");
			return -1;
		}
		if (v < d->min || v > d->max) {
			snprintf(msg, len, "must be between %lld and %lld", (long long)d->min,
				 (long long)d->max);
			return -1;
		}
		*(int *)field = (int)v;
		return 0;
	}
	case T_DURATION: {
		uint64_t v;
		if (acs_config_parse_duration(value, &v) != 0) {
			snprintf(msg, len,
				 "must be a duration: a whole number with an optional "
				 "s, m or h suffix (no suffix = seconds)");
			return -1;
		}
		if (v < (uint64_t)d->min || v > (uint64_t)d->max) {
			fmt_duration((uint64_t)d->min, lo, sizeof(lo));
			fmt_duration((uint64_t)d->max, hi, sizeof(hi));
			snprintf(msg, len, "must be between %s and %s", lo, hi);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	}
	case T_SIZE: {
		uint64_t v;
		if (acs_config_parse_size(value, &v) != 0) {
			snprintf(msg, len,
				 "must be a size: a whole number with an optional "
				 "K, M or G suffix (powers of 1024)");
			return -1;
		}
		if (v < (uint64_t)d->min || v > (uint64_t)d->max) {
			fmt_size((uint64_t)d->min, lo, sizeof(lo));
			fmt_size((uint64_t)d->max, hi, sizeof(hi));
			snprintf(msg, len, "must be between %s and %s", lo, hi);
			return -1;
		}
		*(uint64_t *)field = v;
		return 0;
	}
	case T_ENUM: {
		for (int i = 0; d->names[i]; i++) {
			if (strcmp(value, d->names[i]) == 0) {
				*(int *)field = i;
				return 0;
			}
		}
		char names[128];
		enum_names(d->names, names, sizeof(names));
		snprintf(msg, len, "must be one of %s", names);
		return -1;
	}
	case T_LIST: {
		struct acs_config_strv sv = { 0 };
		char *copy = acs_xstrdup(value);
		char *p = copy;
		int rc = 0;
		while (p && rc == 0) {
			char *comma = strchr(p, ',');
			if (comma)
				*comma = '\0';
			char *item = trim(p);
			p = comma ? comma + 1 : NULL;
			if (!*item) {
				/* "a,,b" and "a," are typos; "" alone is the empty list. */
				if (comma || sv.n > 0) {
					snprintf(msg, len, "empty item in the list");
					rc = -1;
				}
				continue;
			}
			char *v = acs_xstrdup(item);
			if (d->check && d->check(v, msg, len) != 0) {
				free(v);
				rc = -1;
				continue;
			}
			sv.v = acs_xrealloc(sv.v, (sv.n + 1) * sizeof(char *));
			sv.v[sv.n++] = v;
		}
		free(copy);
		if (rc == 0 && (int64_t)sv.n < d->min) {
			snprintf(msg, len, "must list at least %lld item%s", (long long)d->min,
				 d->min == 1 ? "" : "s");
			rc = -1;
		}
		if (rc != 0) {
			strv_clear(&sv);
			return -1;
		}
		strv_clear(field);
		*(struct acs_config_strv *)field = sv;
		return 0;
	}
	case T_PAIRS:
		break;
	}
	acs_require(!"unreachable: pairs are stored by the handler");
	return -1;
}

static void set_default(const struct key_def *d, void *base)
{
	char msg[ACS_ERR_LEN];
	if (d->type == T_PAIRS)
		return;
	/* A default that does not pass its own row's checks is a bug. */
	acs_require(apply(d, base, d->def, msg, sizeof(msg)) == 0);
}

static void free_fields(void *base, unsigned map_flag)
{
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *d = &keys[i];
		if ((d->flags & ACS_CONFIG_MAP) != map_flag)
			continue;
		void *field = (char *)base + d->off;
		switch (d->type) {
		case T_STRING:
		case T_SECRET:
		case T_SECRET_FILE:
			free(*(char **)field);
			*(char **)field = NULL;
			break;
		case T_LIST:
			strv_clear(field);
			break;
		case T_PAIRS:
			pairs_clear(field);
			break;
		default:
			break;
		}
	}
}

/* --- config lifecycle ---------------------------------------------------- */

struct acs_config *acs_config_new_defaults(void)
{
	struct acs_config *cfg = acs_xcalloc(1, sizeof(*cfg));
	cfg->meta = acs_xcalloc(1, sizeof(*cfg->meta));
	for (size_t i = 0; i < NKEYS; i++) {
		cfg->meta->key[i].load = -1;
		if (!(keys[i].flags & ACS_CONFIG_MAP))
			set_default(&keys[i], cfg);
	}
	return cfg;
}

void acs_config_free(struct acs_config *cfg)
{
	if (!cfg)
		return;
	free_fields(cfg, 0);
	for (size_t i = 0; i < cfg->n_maps; i++) {
		free_fields(&cfg->maps[i], ACS_CONFIG_MAP);
		free(cfg->maps[i].name);
	}
	free(cfg->maps);
	for (size_t i = 0; i < cfg->meta->nloads; i++)
		free(cfg->meta->loads[i].name);
	free(cfg->meta->loads);
	free(cfg->meta->maps);
	free(cfg->meta);
	free(cfg);
}

void acs_config_set_getenv(struct acs_config *cfg, acs_config_getenv_cb cb, void *arg)
{
	cfg->meta->getenv_cb = cb;
	cfg->meta->getenv_arg = arg;
}

static const char *config_getenv(const struct acs_config *cfg, const char *name)
{
	const char *v;
	if (cfg->meta->getenv_cb)
		v = cfg->meta->getenv_cb(name, cfg->meta->getenv_arg);
	else
		v = getenv(name);
	return v && *v ? v : NULL;
}

const struct acs_config_map *acs_config_map_find(const struct acs_config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_maps; i++) {
		if (strcmp(cfg->maps[i].name, name) == 0)
			return &cfg->maps[i];
	}
	return NULL;
}

static int find_key(const char *section, const char *key)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
			return (int)i;
	}
	return -1;
}

int acs_config_key_origin(const struct acs_config *cfg, const char *section, const char *key,
			  const char **file, unsigned *line)
{
	int i = find_key(section, key);
	if (i < 0 || (keys[i].flags & (ACS_CONFIG_MAP | ACS_CONFIG_PATTERN)))
		return ACS_ENOTFOUND;
	const struct origin *o = &cfg->meta->key[i];
	*file = o->load >= 0 ? cfg->meta->loads[o->load].name : NULL;
	*line = o->load >= 0 ? o->line : 0;
	return 0;
}

/* --- "did you mean" ------------------------------------------------------ */

/* Case-insensitive edit distance, for short names only. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t row[65];
	if (la > 64 || lb > 64)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t cost = (a[i - 1] | 0x20) == (b[j - 1] | 0x20) ? 0 : 1;
			row[j] = ACS_MIN(ACS_MIN(row[j] + 1, row[j - 1] + 1), diag + cost);
			diag = up;
		}
	}
	return row[lb];
}

static bool close_enough(const char *typo, const char *cand)
{
	size_t d = distance(typo, cand);
	size_t n = strlen(cand);
	return d <= (n <= 6 ? 1u : n <= 12 ? 2u : 3u);
}

/* The closest key of section (table rows) to typo, or NULL. */
static const char *suggest_key(const char *section, const char *typo)
{
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(keys[i].section, section) != 0 || (keys[i].flags & ACS_CONFIG_PATTERN))
			continue;
		size_t d = distance(typo, keys[i].key);
		if (close_enough(typo, keys[i].key) && d < bestd) {
			best = keys[i].key;
			bestd = d;
		}
	}
	return best;
}

/* --- parsing ------------------------------------------------------------- */

enum sec_kind {
	SEC_NONE,  /* before the first section header */
	SEC_TOP,   /* [server], [ado], ... */
	SEC_USERS, /* [users] */
	SEC_MAP,   /* [map NAME] */
	SEC_SKIP,  /* a broken or unknown header: its keys are ignored, already reported */
};

struct parse {
	struct acs_config *cfg;
	struct acs_config_errors *errs;
	const char *file; /* owned by cfg->meta->loads[load] */
	int load;
	const char *p; /* reader cursor */
	const char *end;
	unsigned line; /* line inih is processing */
	unsigned nerr; /* errors this load reported */
	enum sec_kind sec;
	const char *section; /* static name for SEC_TOP */
	size_t map;	     /* index for SEC_MAP */
};

static void perr(struct parse *st, unsigned line, const char *key, const char *fmt, ...)
	ACS_PRINTF(4, 5);

static void perr(struct parse *st, unsigned line, const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	errors_vadd(st->errs, st->file, line, key, fmt, ap);
	va_end(ap);
	st->nerr++;
}

static bool valid_map_name(const char *n)
{
	if (!*n)
		return false;
	for (; *n; n++) {
		char c = *n;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static size_t map_open(struct parse *st, const char *name)
{
	struct acs_config *cfg = st->cfg;
	size_t i = cfg->n_maps;
	cfg->maps = acs_xrealloc(cfg->maps, (i + 1) * sizeof(*cfg->maps));
	cfg->meta->maps = acs_xrealloc(cfg->meta->maps, (i + 1) * sizeof(*cfg->meta->maps));
	struct acs_config_map *m = &cfg->maps[i];
	memset(m, 0, sizeof(*m));
	m->name = acs_xstrdup(name);
	struct map_meta *mm = &cfg->meta->maps[i];
	mm->load = -1;
	for (size_t k = 0; k < NKEYS; k++) {
		mm->key[k].load = -1;
		mm->key[k].line = 0;
		if (keys[k].flags & ACS_CONFIG_MAP)
			set_default(&keys[k], m);
	}
	cfg->n_maps++;
	return i;
}

/* A "[...]" line; name is the trimmed text between the brackets. */
static void section_start(struct parse *st, char *name)
{
	st->sec = SEC_SKIP;
	if (strncmp(name, "map", 3) == 0 &&
	    (name[3] == '\0' || name[3] == ' ' || name[3] == '\t')) {
		char *mname = trim(name + 3);
		if (!*mname) {
			perr(st, st->line, NULL, "a mapping section needs a name: [map NAME]");
			return;
		}
		if (!valid_map_name(mname)) {
			perr(st, st->line, NULL,
			     "invalid mapping name \"%s\": use letters, digits, '.', '_' and '-'",
			     mname);
			return;
		}
		size_t i;
		for (i = 0; i < st->cfg->n_maps; i++) {
			if (strcmp(st->cfg->maps[i].name, mname) == 0)
				break;
		}
		if (i < st->cfg->n_maps && st->cfg->meta->maps[i].load == st->load) {
			perr(st, st->line, NULL, "duplicate section [map %s] (first on line %u)",
			     mname, st->cfg->maps[i].line);
			return;
		}
		if (i == st->cfg->n_maps)
			i = map_open(st, mname);
		/* A later load may reopen a mapping of an earlier one and override keys. */
		st->cfg->meta->maps[i].load = st->load;
		st->cfg->maps[i].file = st->file;
		st->cfg->maps[i].line = st->line;
		st->sec = SEC_MAP;
		st->map = i;
		return;
	}
	for (size_t i = 0; i < ACS_ARRAY_SIZE(top_sections); i++) {
		if (strcmp(name, top_sections[i]) == 0) {
			st->sec = strcmp(name, "users") == 0 ? SEC_USERS : SEC_TOP;
			st->section = top_sections[i];
			return;
		}
	}
	const char *best = NULL;
	for (size_t i = 0; i < ACS_ARRAY_SIZE(top_sections) && !best; i++) {
		if (close_enough(name, top_sections[i]))
			best = top_sections[i];
	}
	if (best && strcmp(best, "map") == 0)
		perr(st, st->line, NULL, "unknown section [%s] (did you mean [map NAME]?)", name);
	else if (best)
		perr(st, st->line, NULL, "unknown section [%s] (did you mean [%s]?)", name, best);
	else
		perr(st, st->line, NULL, "unknown section [%s]", name);
}

/* inih's reader: one physical line per call, checked and normalised (see
 * DESIGN). Returns NULL at the end of the input. */
static char *reader(char *str, int num, void *stream)
{
	struct parse *st = stream;
	if (st->p >= st->end)
		return NULL;
	const char *nl = memchr(st->p, '\n', (size_t)(st->end - st->p));
	const char *eol = nl ? nl : st->end;
	const char *s = st->p;
	st->p = nl ? nl + 1 : st->end;
	st->line++;
	str[0] = '\0';

	if (st->line == 1 && eol - s >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0)
		s += 3;
	while (s < eol && (*s == ' ' || *s == '\t'))
		s++;
	size_t n = (size_t)(eol - s);
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (memchr(s, '\0', n)) {
		perr(st, st->line, NULL, "the line contains a NUL byte");
		return str;
	}
	if (n + 1 > (size_t)num) {
		perr(st, st->line, NULL, "line too long (at most %d characters)", num - 1);
		return str;
	}
	if (n == 0 || *s == ';' || *s == '#')
		return str;
	memcpy(str, s, n);
	str[n] = '\0';

	if (*str == '[') {
		char *close = strchr(str, ']');
		if (!close) {
			perr(st, st->line, NULL, "missing ']' in section header");
			st->sec = SEC_SKIP;
			str[0] = '\0';
			return str;
		}
		char *rest = trim(close + 1);
		*close = '\0';
		if (*rest && *rest != ';' && *rest != '#') {
			perr(st, st->line, NULL, "unexpected text after ']'");
			st->sec = SEC_SKIP;
			str[0] = '\0';
			return str;
		}
		char *name = trim(str + 1);
		if (strlen(name) > MAX_SECTION_LEN) {
			perr(st, st->line, NULL, "section name too long (at most %d characters)",
			     MAX_SECTION_LEN);
			st->sec = SEC_SKIP;
			str[0] = '\0';
			return str;
		}
		section_start(st, name);
		if (st->sec == SEC_SKIP) {
			str[0] = '\0';
			return str;
		}
		/* inih copies the name as is; give it the trimmed one. */
		memmove(str + 1, name, strlen(name) + 1);
		size_t ln = strlen(str);
		str[ln] = ']';
		str[ln + 1] = '\0';
		return str;
	}

	/* Find the separator as inih does: first '=' or ':', unless an inline
	 * comment (';' after whitespace) comes first. */
	const char *q = str;
	bool was_space = false;
	for (; *q && *q != '=' && *q != ':'; q++) {
		if (was_space && *q == ';')
			break;
		was_space = *q == ' ' || *q == '\t';
	}
	if (*q != '=' && *q != ':') {
		perr(st, st->line, NULL, "expected \"key = value\" or \"[section]\"");
		str[0] = '\0';
		return str;
	}
	if (q == str || (size_t)(q - str) == strspn(str, " \t")) {
		perr(st, st->line, NULL, "missing key name before '%c'", *q);
		str[0] = '\0';
		return str;
	}
	return str;
}

/* [users] e-mail = ClickUp user id; [map] status.X / custom.X = value. */
static void add_pair(struct parse *st, struct acs_config_pairs *p, const char *label,
		     const char *key, const char *value)
{
	for (size_t i = 0; i < p->n; i++) {
		if (strcasecmp(p->v[i].key, key) != 0)
			continue;
		if (p->v[i].file == st->file) {
			perr(st, st->line, label, "duplicate key (first set on line %u)",
			     p->v[i].line);
			return;
		}
		free(p->v[i].value);
		p->v[i].value = acs_xstrdup(value);
		p->v[i].line = st->line;
		p->v[i].file = st->file;
		return;
	}
	p->v = acs_xrealloc(p->v, (p->n + 1) * sizeof(*p->v));
	p->v[p->n++] = (struct acs_config_pair){
		.key = acs_xstrdup(key),
		.value = acs_xstrdup(value),
		.file = st->file,
		.line = st->line,
	};
}

static void handle_user(struct parse *st, const char *name, const char *value)
{
	char label[128];
	snprintf(label, sizeof(label), "users.%s", name);
	if (check_email(name) != 0) {
		perr(st, st->line, label, "the key must be an Azure DevOps user's e-mail address");
		return;
	}
	if (!all_digits(value)) {
		perr(st, st->line, label, "must be a ClickUp user id (a number)");
		return;
	}
	add_pair(st, &st->cfg->users, label, name, value);
}

/* Duplicate detection and storing of one table key. origin is where this
 * key's previous setting was recorded. */
static void handle_key(struct parse *st, const struct key_def *d, void *base, struct origin *o,
		       const char *label, const char *value)
{
	char msg[ACS_ERR_LEN];
	if (o->load == st->load) {
		perr(st, st->line, label, "duplicate key (first set on line %u)", o->line);
		return;
	}
	/* Recorded even when the value is bad: a second line is still a duplicate. */
	o->load = st->load;
	o->line = st->line;
	if (apply(d, base, value, msg, sizeof(msg)) != 0) {
		perr(st, st->line, label, "%s", msg);
		return;
	}
	/* Registered as soon as it is read, so no later error message or
	 * debug line can show it. */
	if (d->type == T_SECRET)
		acs_log_add_secret(value);
}

static void handle_map_key(struct parse *st, const char *name, const char *value)
{
	struct acs_config_map *m = &st->cfg->maps[st->map];
	struct map_meta *mm = &st->cfg->meta->maps[st->map];
	char label[160];
	snprintf(label, sizeof(label), "map.%s.%s", m->name, name);

	static const struct {
		const char *prefix;
		const char *what_key;
		const char *what_value;
	} patterns[] = {
		{ "status.", "an Azure DevOps state", "a ClickUp status" },
		{ "custom.", "an Azure DevOps field reference", "a ClickUp custom field id" },
	};
	for (size_t i = 0; i < ACS_ARRAY_SIZE(patterns); i++) {
		size_t pl = strlen(patterns[i].prefix);
		if (strncmp(name, patterns[i].prefix, pl) != 0)
			continue;
		const char *sub = name + pl;
		struct acs_config_pairs *p = i == 0 ? &m->status : &m->custom;
		if (!*sub)
			perr(st, st->line, label, "%s must follow \"%s\"", patterns[i].what_key,
			     patterns[i].prefix);
		else if (!*value)
			perr(st, st->line, label, "must be %s", patterns[i].what_value);
		else
			add_pair(st, p, label, sub, value);
		return;
	}

	int k = find_key("map", name);
	if (k < 0 || (keys[k].flags & ACS_CONFIG_PATTERN)) {
		const char *best = suggest_key("map", name);
		if (best)
			perr(st, st->line, label, "unknown key (did you mean map.%s.%s?)", m->name,
			     best);
		else
			perr(st, st->line, label, "unknown key");
		return;
	}
	handle_key(st, &keys[k], m, &mm->key[k], label, value);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *st = user;
	char label[160];
	(void)section; /* the reader tracks sections, with their lines */

	switch (st->sec) {
	case SEC_NONE:
		perr(st, st->line, name, "key outside of any section");
		break;
	case SEC_SKIP:
		break;
	case SEC_USERS:
		handle_user(st, name, value);
		break;
	case SEC_MAP:
		handle_map_key(st, name, value);
		break;
	case SEC_TOP: {
		snprintf(label, sizeof(label), "%s.%s", st->section, name);
		int k = find_key(st->section, name);
		if (k < 0) {
			const char *best = suggest_key(st->section, name);
			if (best)
				perr(st, st->line, label, "unknown key (did you mean %s.%s?)",
				     st->section, best);
			else
				perr(st, st->line, label, "unknown key");
			break;
		}
		handle_key(st, &keys[k], st->cfg, &st->cfg->meta->key[k], label, value);
		break;
	}
	}
	return 1; /* errors are collected, never reported to inih */
}

static int load_text(struct acs_config *cfg, const char *name, bool is_file, const char *text,
		     size_t len, struct acs_config_errors *errs)
{
	struct acs__config_meta *meta = cfg->meta;
	meta->loads = acs_xrealloc(meta->loads, (meta->nloads + 1) * sizeof(*meta->loads));
	meta->loads[meta->nloads] = (struct load){ acs_xstrdup(name), is_file };
	struct parse st = {
		.cfg = cfg,
		.errs = errs,
		.file = meta->loads[meta->nloads].name,
		.load = (int)meta->nloads,
		.p = text,
		.end = text + len,
		.sec = SEC_NONE,
	};
	meta->nloads++;
	int rc = ini_parse_stream(reader, &st, handler, &st);
	if (rc == -2) {
		perr(&st, 0, NULL, "out of memory while parsing");
	} else if (rc != 0 && st.nerr == 0) {
		/* The reader should have caught everything inih rejects. */
		perr(&st, (unsigned)rc, NULL, "syntax error");
	}
	return st.nerr ? ACS_ECONFIG : 0;
}

int acs_config_load_string(struct acs_config *cfg, const char *name, const char *text,
			   struct acs_config_errors *errs)
{
	return load_text(cfg, name, false, text, strlen(text), errs);
}

/* Read a whole small file; *out is NUL-terminated. Returns 0 or -errno. */
static int read_small_file(const char *path, size_t max, struct acs_buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat sb;
	int rc = 0;
	if (fstat(fd, &sb) != 0) {
		rc = -errno;
	} else if (S_ISDIR(sb.st_mode)) {
		rc = -EISDIR;
	} else {
		acs_buf_init(out, max);
		char chunk[4096];
		for (;;) {
			ssize_t n = read(fd, chunk, sizeof(chunk));
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = -errno;
				acs_buf_free(out);
				break;
			}
			if (n == 0)
				break;
			if (acs_buf_append(out, chunk, (size_t)n) != 0) {
				rc = -EFBIG;
				break;
			}
		}
		if (rc == 0 && acs_buf_append(out, "", 0) != 0)
			rc = -EFBIG;
	}
	close(fd);
	return rc;
}

int acs_config_load_file(struct acs_config *cfg, const char *path, struct acs_config_errors *errs)
{
	struct acs_buf b;
	int rc = read_small_file(path, MAX_FILE_BYTES, &b);
	if (rc == -EFBIG) {
		acs_config_errors_add(errs, path, 0, NULL, "cannot read: larger than %u bytes",
				      MAX_FILE_BYTES);
		return rc;
	}
	if (rc != 0) {
		acs_config_errors_add(errs, path, 0, NULL, "cannot read: %s", strerror(-rc));
		return rc;
	}
	size_t len = b.len;
	char *text = acs_buf_steal(&b, NULL);
	rc = load_text(cfg, path, true, text, len, errs);
	free(text);
	return rc;
}

/* --- finish: secrets and cross-field checks ------------------------------ */

static const char *origin_file(const struct acs_config *cfg, const struct origin *o)
{
	if (o->load >= 0)
		return cfg->meta->loads[o->load].name;
	return cfg->meta->nloads ? cfg->meta->loads[cfg->meta->nloads - 1].name : "<defaults>";
}

static char *resolve_secret_path(const struct acs_config *cfg, const char *path,
				 const struct origin *o)
{
	if (path[0] == '/')
		return acs_xstrdup(path);
	const char *creds = config_getenv(cfg, "CREDENTIALS_DIRECTORY");
	if (creds)
		return acs_xasprintf("%s/%s", creds, path);
	if (o->load >= 0 && cfg->meta->loads[o->load].is_file) {
		const char *name = cfg->meta->loads[o->load].name;
		const char *slash = strrchr(name, '/');
		if (slash)
			return acs_xasprintf("%.*s/%s", (int)(slash - name), name, path);
	}
	return acs_xstrdup(path);
}

/* Load the secret of row si (whose KEY_file row is fi) from file and
 * environment. Returns the number of errors reported. */
static unsigned finish_secret(struct acs_config *cfg, size_t si, size_t fi,
			      struct acs_config_errors *errs)
{
	const struct key_def *sd = &keys[si], *fd = &keys[fi];
	char **val = (char **)((char *)cfg + sd->off);
	const char *path = *(char **)((char *)cfg + fd->off);
	const struct origin *so = &cfg->meta->key[si], *fo = &cfg->meta->key[fi];
	char label[64], slabel[64];
	unsigned nerr = 0;
	snprintf(label, sizeof(label), "%s.%s", fd->section, fd->key);
	snprintf(slabel, sizeof(slabel), "%s.%s", sd->section, sd->key);

	if (*path) {
		if (**val && so->load >= 0) {
			acs_config_errors_add(errs, origin_file(cfg, fo), fo->line, label,
					      "set either %s or %s, not both", slabel, label);
			nerr++;
		}
		char *full = resolve_secret_path(cfg, path, fo);
		struct acs_buf b;
		int rc = read_small_file(full, MAX_SECRET_BYTES, &b);
		if (rc == 0) {
			size_t n = b.len;
			while (n > 0 && (b.data[n - 1] == '\n' || b.data[n - 1] == '\r'))
				n--;
			if (n == 0) {
				rc = 1;
				acs_config_errors_add(errs, origin_file(cfg, fo), fo->line, label,
						      "%s is empty", full);
			} else if (memchr(b.data, '\0', n)) {
				rc = 1;
				acs_config_errors_add(errs, origin_file(cfg, fo), fo->line, label,
						      "%s contains a NUL byte", full);
			} else {
				free(*val);
				*val = acs_xstrndup(b.data, n);
				acs_log_add_secret(*val);
			}
			acs_buf_free(&b);
		} else {
			acs_config_errors_add(errs, origin_file(cfg, fo), fo->line, label,
					      "cannot read %s: %s", full,
					      rc == -EFBIG ? "file too large" : strerror(-rc));
		}
		nerr += rc != 0;
		free(full);
	}
	const char *env = sd->env ? config_getenv(cfg, sd->env) : NULL;
	if (env) {
		free(*val);
		*val = acs_xstrdup(env);
		acs_log_add_secret(*val);
	}
	return nerr;
}

static int cross_map_checks(struct acs_config *cfg, struct acs_config_errors *errs)
{
	int nerr = 0;
	int k_types = find_key("map", "ado_work_item_types");
	int k_new = find_key("map", "ado_new_item_type");
	int k_list = find_key("map", "clickup_list_id");
	acs_require(k_types >= 0 && k_new >= 0 && k_list >= 0);
	for (size_t i = 0; i < cfg->n_maps; i++) {
		struct acs_config_map *m = &cfg->maps[i];
		const struct map_meta *mm = &cfg->meta->maps[i];
		char label[160];
		if (!*m->ado_project && *cfg->ado.project) {
			free(m->ado_project);
			m->ado_project = acs_xstrdup(cfg->ado.project);
		}
		if (!*m->ado_project) {
			snprintf(label, sizeof(label), "map.%s.ado_project", m->name);
			acs_config_errors_add(errs, m->file, m->line, label,
					      "required (or set ado.project)");
			nerr++;
		}
		snprintf(label, sizeof(label), "map.%s.clickup_list_id", m->name);
		if (!*m->clickup_list_id) {
			acs_config_errors_add(errs, m->file, m->line, label, "required");
			nerr++;
		}
		for (size_t j = 0; j < i && *m->clickup_list_id; j++) {
			if (strcmp(cfg->maps[j].clickup_list_id, m->clickup_list_id) != 0)
				continue;
			const struct origin *o = &mm->key[k_list];
			acs_config_errors_add(errs, origin_file(cfg, o), o->line, label,
					      "list %s is already mapped by [map %s]",
					      m->clickup_list_id, cfg->maps[j].name);
			nerr++;
			break;
		}
		bool found = false;
		for (size_t t = 0; t < m->ado_work_item_types.n; t++)
			found |= strcasecmp(m->ado_work_item_types.v[t], m->ado_new_item_type) == 0;
		if (!found) {
			/* Name the later of the two keys: that is the edit that broke it. */
			const struct origin *on = &mm->key[k_new], *ot = &mm->key[k_types];
			unsigned line = ACS_MAX(on->line, ot->line);
			snprintf(label, sizeof(label), "map.%s.ado_new_item_type", m->name);
			acs_config_errors_add(errs, m->file, line ? line : m->line, label,
					      "\"%s\" is not one of ado_work_item_types",
					      m->ado_new_item_type);
			nerr++;
		}
	}
	return nerr;
}

int acs_config_finish(struct acs_config *cfg, struct acs_config_errors *errs)
{
	unsigned nerr = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].type != T_SECRET)
			continue;
		char fkey[64];
		snprintf(fkey, sizeof(fkey), "%s_file", keys[i].key);
		int fi = find_key(keys[i].section, fkey);
		acs_require(fi >= 0);
		nerr += finish_secret(cfg, i, (size_t)fi, errs);
	}

	const char *hash = cfg->dashboard.admin_password_hash;
	if (*hash && strncmp(hash, "$argon2id$", 10) != 0) {
		int k = find_key("dashboard", "admin_password_hash");
		int kf = find_key("dashboard", "admin_password_hash_file");
		acs_require(k >= 0 && kf >= 0);
		/* Name the key the value came from: the file if one was given. */
		bool from_file = *cfg->dashboard.admin_password_hash_file;
		const struct origin *o = &cfg->meta->key[from_file ? kf : k];
		acs_config_errors_add(errs, origin_file(cfg, o), o->line,
				      from_file ? "dashboard.admin_password_hash_file"
						: "dashboard.admin_password_hash",
				      "must be an Argon2id hash ($argon2id$...); create one with "
				      "\"ado-clickup-sync hash-password\"");
		nerr++;
	}

	nerr += (unsigned)cross_map_checks(cfg, errs);
	return nerr ? ACS_ECONFIG : 0;
}

int acs_config_check_serving(const struct acs_config *cfg, struct acs_config_errors *errs)
{
	unsigned nerr = 0;
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *d = &keys[i];
		if (!(d->flags & ACS_CONFIG_SERVE))
			continue;
		const char *v = *(char *const *)((const char *)cfg + d->off);
		if (*v)
			continue;
		char label[64];
		snprintf(label, sizeof(label), "%s.%s", d->section, d->key);
		const struct origin *o = &cfg->meta->key[i];
		if (d->type == T_SECRET)
			acs_config_errors_add(errs, origin_file(cfg, o), o->line, label,
					      "required to run the daemon; set %s, %s_file%s%s",
					      label, label, d->env ? " or " : "",
					      d->env ? d->env : "");
		else
			acs_config_errors_add(errs, origin_file(cfg, o), o->line, label,
					      "required to run the daemon");
		nerr++;
	}
	return nerr ? ACS_ECONFIG : 0;
}

/* --- dump ---------------------------------------------------------------- */

static void dump_value(const struct key_def *d, const void *base, FILE *out)
{
	const void *field = (const char *)base + d->off;
	char buf[32];
	switch (d->type) {
	case T_STRING:
	case T_SECRET_FILE:
		fprintf(out, "%s = %s\n", d->key, *(char *const *)field);
		break;
	case T_SECRET:
		fprintf(out, "%s = %s\n", d->key, **(char *const *)field ? "[REDACTED]" : "");
		break;
	case T_BOOL:
		fprintf(out, "%s = %s\n", d->key, *(const bool *)field ? "true" : "false");
		break;
	case T_INT:
		fprintf(out, "%s = %d\n", d->key, *(const int *)field);
		break;
	case T_DURATION:
		fmt_duration(*(const uint64_t *)field, buf, sizeof(buf));
		fprintf(out, "%s = %s\n", d->key, buf);
		break;
	case T_SIZE:
		fmt_size(*(const uint64_t *)field, buf, sizeof(buf));
		fprintf(out, "%s = %s\n", d->key, buf);
		break;
	case T_ENUM:
		fprintf(out, "%s = %s\n", d->key, d->names[*(const int *)field]);
		break;
	case T_LIST: {
		const struct acs_config_strv *sv = field;
		fprintf(out, "%s = ", d->key);
		for (size_t i = 0; i < sv->n; i++)
			fprintf(out, "%s%s", i ? ", " : "", sv->v[i]);
		fputc('\n', out);
		break;
	}
	case T_PAIRS: {
		const struct acs_config_pairs *p = field;
		size_t pl = strlen(d->key) - 1; /* "status.*" -> "status." */
		for (size_t i = 0; i < p->n; i++)
			fprintf(out, "%.*s%s = %s\n", (int)pl, d->key, p->v[i].key, p->v[i].value);
		break;
	}
	}
}

int acs_config_dump(const struct acs_config *cfg, FILE *out)
{
	const char *section = NULL;
	fprintf(out, "# Effective configuration of ado-clickup-sync (secrets redacted).\n");
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key_def *d = &keys[i];
		if (d->flags & ACS_CONFIG_MAP)
			continue;
		if (!section || strcmp(section, d->section) != 0) {
			section = d->section;
			fprintf(out, "\n[%s]\n", section);
		}
		dump_value(d, cfg, out);
	}
	for (size_t m = 0; m < cfg->n_maps; m++) {
		fprintf(out, "\n[map %s]\n", cfg->maps[m].name);
		for (size_t i = 0; i < NKEYS; i++) {
			if (keys[i].flags & ACS_CONFIG_MAP)
				dump_value(&keys[i], &cfg->maps[m], out);
		}
	}
	return ferror(out) ? -EIO : 0;
}
