/* SPDX-License-Identifier: MIT */
/* Line formatting (logfmt / JSON), redaction and output for log.h. */
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "mem.h"

#define MAX_SECRETS 64
#define MAX_LINE 16384
#define REDACTED "[REDACTED]"

static struct {
	pthread_mutex_t lock;
	enum acs_log_level level;
	enum acs_log_format format;
	int fd;	    /* 2 or an opened log file */
	char *path; /* log file path, NULL for stderr */
	acs_log_sink_cb sink;
	void *sink_arg;
	char *secrets[MAX_SECRETS];
	size_t nsecrets;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.level = ACS_LOG_INFO,
	.format = ACS_LOG_LOGFMT,
	.fd = 2,
};

static const char *const level_names[] = { "crit", "error", "warn", "info", "debug" };

const char *acs_log_level_name(enum acs_log_level level)
{
	return (unsigned)level < ACS_ARRAY_SIZE(level_names) ? level_names[level] : "?";
}

int acs_log_level_parse(const char *s, enum acs_log_level *out)
{
	for (size_t i = 0; i < ACS_ARRAY_SIZE(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum acs_log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = ACS_LOG_WARN;
		return 0;
	}
	if (strcasecmp(s, "err") == 0) {
		*out = ACS_LOG_ERR;
		return 0;
	}
	return ACS_EPARSE;
}

int acs_log_format_parse(const char *s, enum acs_log_format *out)
{
	if (strcasecmp(s, "logfmt") == 0) {
		*out = ACS_LOG_LOGFMT;
		return 0;
	}
	if (strcasecmp(s, "json") == 0) {
		*out = ACS_LOG_JSON;
		return 0;
	}
	return ACS_EPARSE;
}

void acs_log_set_level(enum acs_log_level level)
{
	pthread_mutex_lock(&g.lock);
	g.level = level;
	pthread_mutex_unlock(&g.lock);
}

enum acs_log_level acs_log_get_level(void)
{
	return __atomic_load_n(&g.level, __ATOMIC_RELAXED);
}

bool acs_log_enabled(enum acs_log_level level)
{
	return level <= __atomic_load_n(&g.level, __ATOMIC_RELAXED);
}

void acs_log_set_format(enum acs_log_format format)
{
	pthread_mutex_lock(&g.lock);
	g.format = format;
	pthread_mutex_unlock(&g.lock);
}

static int open_locked(void)
{
	int fd = open(g.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (g.fd > 2)
		close(g.fd);
	g.fd = fd;
	return 0;
}

int acs_log_set_file(const char *path)
{
	int rc = 0;
	pthread_mutex_lock(&g.lock);
	free(g.path);
	g.path = NULL;
	if (path) {
		g.path = acs_xstrdup(path);
		rc = open_locked();
		if (rc) {
			free(g.path);
			g.path = NULL;
		}
	} else if (g.fd > 2) {
		close(g.fd);
		g.fd = 2;
	}
	pthread_mutex_unlock(&g.lock);
	return rc;
}

int acs_log_reopen(void)
{
	int rc = 0;
	pthread_mutex_lock(&g.lock);
	if (g.path)
		rc = open_locked();
	pthread_mutex_unlock(&g.lock);
	return rc;
}

void acs_log_set_sink(acs_log_sink_cb cb, void *arg)
{
	pthread_mutex_lock(&g.lock);
	g.sink = cb;
	g.sink_arg = arg;
	pthread_mutex_unlock(&g.lock);
}

void acs_log_add_secret(const char *value)
{
	if (!value || strlen(value) < 4)
		return;
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < g.nsecrets; i++) {
		if (strcmp(g.secrets[i], value) == 0)
			goto out;
	}
	if (g.nsecrets < MAX_SECRETS)
		g.secrets[g.nsecrets++] = acs_xstrdup(value);
out:
	pthread_mutex_unlock(&g.lock);
}

void acs_log_reset(void)
{
	pthread_mutex_lock(&g.lock);
	for (size_t i = 0; i < g.nsecrets; i++)
		free(g.secrets[i]);
	g.nsecrets = 0;
	g.level = ACS_LOG_INFO;
	g.format = ACS_LOG_LOGFMT;
	g.sink = NULL;
	g.sink_arg = NULL;
	if (g.fd > 2)
		close(g.fd);
	g.fd = 2;
	free(g.path);
	g.path = NULL;
	pthread_mutex_unlock(&g.lock);
}

/* --- redaction ---------------------------------------------------------- */

static const char *const secret_words[] = {
	"token",  "pat",       "password", "passwd",	 "secret",	"authorization",
	"cookie", "signature", "hmac",	   "credential", "credentials", "apikey",
};

bool acs_log_key_is_secret(const char *key)
{
	/* A key is secret when one of its _ - . separated words is a secret
	 * word: "clickup.token", "webhook_password_file" is not a secret value
	 * but a path, so *_file keys are allowed through. */
	if (!key)
		return false;
	size_t klen = strlen(key);
	if (klen > 5 && strcasecmp(key + klen - 5, "_file") == 0)
		return false;
	const char *p = key;
	while (*p) {
		size_t n = strcspn(p, "_-. ");
		for (size_t i = 0; i < ACS_ARRAY_SIZE(secret_words); i++) {
			if (strlen(secret_words[i]) == n && strncasecmp(p, secret_words[i], n) == 0)
				return true;
		}
		p += n;
		if (*p)
			p++;
	}
	return false;
}

/* Output cursor that never overflows dst. */
struct out {
	char *p;
	size_t left; /* room excluding the terminating NUL */
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (n > o->left)
		n = o->left;
	memcpy(o->p, s, n);
	o->p += n;
	o->left -= n;
}

static bool is_token_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+' || c == '/' || c == '=' ||
	       c == '~' || c == ':';
}

/* Length of a credential value starting at s: up to whitespace, quote,
 * comma, semicolon or end. */
static size_t value_len(const char *s)
{
	size_t n = 0;
	while (s[n] && !isspace((unsigned char)s[n]) && s[n] != '"' && s[n] != '\'' &&
	       s[n] != ',' && s[n] != ';' && s[n] != '}' && s[n] != '&')
		n++;
	return n;
}

static size_t match_ci(const char *s, const char *word)
{
	size_t n = strlen(word);
	return strncasecmp(s, word, n) == 0 ? n : 0;
}

/* Checks the built-in patterns at s; on a match writes the kept prefix and
 * the redaction marker and returns how many source bytes were consumed. */
static size_t redact_pattern(const char *start, const char *s, struct out *o)
{
	size_t n;
	bool word_start = s == start || !isalnum((unsigned char)s[-1]);

	/* "Authorization: xxx", "authorization=xxx", "\"authorization\":\"xxx\"":
	 * the whole value, scheme included, up to the end of the line or quote. */
	if (word_start && (n = match_ci(s, "authorization")) != 0) {
		size_t i = n;
		if (s[i] == '"')
			i++;
		while (s[i] == ' ')
			i++;
		if (s[i] == ':' || s[i] == '=') {
			i++;
			while (s[i] == ' ' || s[i] == '"')
				i++;
			size_t v = 0;
			while (s[i + v] && s[i + v] != '\n' && s[i + v] != '"' && s[i + v] != '\r')
				v++;
			out_put(o, s, i);
			out_put(o, REDACTED, strlen(REDACTED));
			return i + v;
		}
	}
	if (word_start && ((n = match_ci(s, "basic ")) != 0 || (n = match_ci(s, "bearer ")) != 0)) {
		size_t v = value_len(s + n);
		if (v >= 8) {
			out_put(o, s, n);
			out_put(o, REDACTED, strlen(REDACTED));
			return n + v;
		}
	}
	/* ClickUp personal tokens: pk_<digits>_<alnum>. */
	if (word_start && s[0] == 'p' && s[1] == 'k' && s[2] == '_') {
		size_t v = 3;
		while (is_token_char((unsigned char)s[v]) && s[v] != ':' && s[v] != '/')
			v++;
		if (v >= 11) {
			out_put(o, REDACTED, strlen(REDACTED));
			return v;
		}
	}
	/* URL userinfo: scheme://user:password@host */
	if (s[0] == ':' && s[1] == '/' && s[2] == '/') {
		size_t i = 3, colon = 0;
		while (s[i] && s[i] != '@' && s[i] != '/' && !isspace((unsigned char)s[i]) &&
		       s[i] != '"') {
			if (s[i] == ':' && !colon)
				colon = i;
			i++;
		}
		if (s[i] == '@' && colon) {
			out_put(o, s, colon + 1);
			out_put(o, REDACTED, strlen(REDACTED));
			return i;
		}
	}
	return 0;
}

static void redact_locked(const char *src, char *dst, size_t dstlen)
{
	struct out o = { dst, dstlen ? dstlen - 1 : 0 };
	const char *s = src;
	if (!dstlen)
		return;
	while (*s && o.left) {
		size_t used = 0;
		for (size_t i = 0; i < g.nsecrets; i++) {
			size_t n = strlen(g.secrets[i]);
			if (strncmp(s, g.secrets[i], n) == 0) {
				out_put(&o, REDACTED, strlen(REDACTED));
				used = n;
				break;
			}
		}
		if (!used)
			used = redact_pattern(src, s, &o);
		if (used) {
			s += used;
			continue;
		}
		out_put(&o, s, 1);
		s++;
	}
	*o.p = '\0';
}

void acs_log_redact(const char *src, char *dst, size_t dstlen)
{
	pthread_mutex_lock(&g.lock);
	redact_locked(src ? src : "", dst, dstlen);
	pthread_mutex_unlock(&g.lock);
}

/* --- formatting ----------------------------------------------------------- */

static void put_ts(struct acs_buf *b, bool json)
{
	struct timespec ts;
	struct tm tm;
	char tbuf[40];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
	(void)acs_buf_printf(b, json ? "{\"ts\":\"%s.%03ldZ\"" : "ts=%s.%03ldZ", tbuf,
			     ts.tv_nsec / 1000000);
}

/* A double-quoted string with C/JSON escapes; the two formats differ only in
 * how other control bytes are written. */
static void put_quoted(struct acs_buf *b, const char *v, bool json)
{
	(void)acs_buf_append(b, "\"", 1);
	for (const char *p = v; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };
			(void)acs_buf_append(b, e, 2);
		} else if (c == '\n') {
			(void)acs_buf_append(b, "\\n", 2);
		} else if (c == '\r') {
			(void)acs_buf_append(b, "\\r", 2);
		} else if (c == '\t') {
			(void)acs_buf_append(b, "\\t", 2);
		} else if (c < 0x20 || (!json && c == 0x7f)) {
			(void)acs_buf_printf(b, json ? "\\u%04x" : "\\x%02x", c);
		} else {
			(void)acs_buf_append(b, p, 1);
		}
	}
	(void)acs_buf_append(b, "\"", 1);
}

static void put_logfmt_value(struct acs_buf *b, const char *v)
{
	bool quote = *v == '\0';
	for (const char *p = v; *p && !quote; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			quote = true;
	}
	if (quote)
		put_quoted(b, v, false);
	else
		(void)acs_buf_appends(b, v);
}

static void put_json_string(struct acs_buf *b, const char *v)
{
	put_quoted(b, v, true);
}

static void put_field(struct acs_buf *b, const char *key, const char *value, bool json)
{
	if (json) {
		(void)acs_buf_append(b, ",", 1);
		put_json_string(b, key);
		(void)acs_buf_append(b, ":", 1);
		put_json_string(b, value);
	} else {
		(void)acs_buf_printf(b, " %s=", key);
		put_logfmt_value(b, value);
	}
}

static void emit_locked(enum acs_log_level level, struct acs_buf *b)
{
	if (!b->data)
		return;
	if (g.sink) {
		g.sink(level, b->data, b->len, g.sink_arg);
		return;
	}
	(void)acs_buf_append(b, "\n", 1);
	if (!b->data)
		return;
	const char *p = b->data;
	size_t left = b->len;
	while (left) {
		ssize_t w = write(g.fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			break; /* nowhere left to report a failing log */
		}
		p += w;
		left -= (size_t)w;
	}
}

static void log_line(enum acs_log_level level, const char *mod, const char *file, int line,
		     const char *msg, const struct acs_log_field *fields, size_t n)
{
	struct acs_buf b;
	char *red = acs_xmalloc(MAX_LINE);

	acs_buf_init(&b, 1 << 20);
	pthread_mutex_lock(&g.lock);
	bool json = g.format == ACS_LOG_JSON;
	put_ts(&b, json);
	put_field(&b, "level", acs_log_level_name(level), json);
	put_field(&b, "mod", mod ? mod : "-", json);
	redact_locked(msg ? msg : "", red, MAX_LINE);
	put_field(&b, "msg", red, json);
	for (size_t i = 0; i < n; i++) {
		if (!fields[i].key)
			continue;
		if (acs_log_key_is_secret(fields[i].key))
			put_field(&b, fields[i].key, REDACTED, json);
		else {
			redact_locked(fields[i].value ? fields[i].value : "", red, MAX_LINE);
			put_field(&b, fields[i].key, red, json);
		}
	}
	if (level == ACS_LOG_DEBUG && file) {
		const char *base = strrchr(file, '/');
		char src[256];
		snprintf(src, sizeof(src), "%s:%d", base ? base + 1 : file, line);
		put_field(&b, "src", src, json);
	}
	if (json)
		(void)acs_buf_append(&b, "}", 1);
	emit_locked(level, &b);
	pthread_mutex_unlock(&g.lock);
	acs_buf_free(&b);
	free(red);
}

void acs__log(enum acs_log_level level, const char *mod, const char *file, int line,
	      const char *fmt, ...)
{
	char msg[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_line(level, mod, file, line, msg, NULL, 0);
}

void acs__log_kv(enum acs_log_level level, const char *mod, const char *file, int line,
		 const char *msg, const struct acs_log_field *fields, size_t n)
{
	log_line(level, mod, file, line, msg, fields, n);
}
