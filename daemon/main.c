/* SPDX-License-Identifier: MIT */
/* The composition root: command line, configuration, signals, the loop and
 * teardown. Everything else lives in lib/. */
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "acs_build.h"
#include "app.h"
#include "backfill.h"
#include "common.h"
#include "ado_client.h"
#include "clickup_client.h"
#include "config.h"
#include "curl_loop.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "preflight.h"
#include "registrar.h"
#include "store.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"

#include "demo.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2

static const char usage[] =
	"usage: ado-clickup-sync [COMMAND] [OPTIONS]\n"
	"\n"
	"Keeps Azure DevOps work items and ClickUp tasks in two-way sync.\n"
	"\n"
	"commands:\n"
	"  serve [-c FILE] [--log-file PATH]   run the daemon (the default command)\n"
	"  check-config [-c FILE] [--online]  validate the configuration, print problems;\n"
	"                                     --online: also check both tokens and every\n"
	"                                     mapped project, list, state, status and field\n"
	"                                     against the services (exit 1 when one fails)\n"
	"  register-webhooks [-c FILE] [--check]\n"
	"                                     create or repair both services' webhooks;\n"
	"                                     --check: change nothing; a table of each\n"
	"                                     subscription's state, last delivery and the\n"
	"                                     repair due; exit 0 only when none is due\n"
	"                                     (1: a repair is due or the check failed)\n"
	"  demo [--port N]                    run with an embedded demo configuration\n"
	"  hash-password                      read a password on stdin, print its Argon2id hash\n"
	"  backup [-c FILE] OUT               consistent copy of the database, also while running\n"
	"  backfill [-c FILE] --map NAME [--dry-run]\n"
	"                                     pair and sync the items that already exist\n"
	"                                     under a mapping (not while a daemon serves)\n"
	"  --version, --help\n"
	"\n"
	"The configuration defaults to " ACS_DEFAULT_CONFIG ", else ./config.ini.\n"
	"Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.\n";

/* State of one daemon run, handed to the signal callbacks. */
struct daemon {
	uv_loop_t loop;
	struct acs_app *app;
	struct sim *sim;	    /**< demo only: the in-process API simulators */
	struct demo_activity *demo; /**< demo only: simulated people editing */
	uv_signal_t sig_term, sig_int, sig_hup;
	int signals_open;
	int exit_code;
	bool stopping;
};

struct opts {
	const char *command;
	const char *config;
	const char *log_file;
	const char *out; /* backup OUT */
	int port;	 /* demo --port */
	bool online;
	bool check; /* register-webhooks --check */
	/* backfill --map NAME [--dry-run] */
	const char *map;
	bool dry_run;
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "ado-clickup-sync: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nTry 'ado-clickup-sync --help'.\n");
	return EXIT_USAGE;
}

static int parse_port(const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < 0 || v > 65535)
		return -1;
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const char *const commands[] = { "serve",   "check-config",
						"demo",	   "hash-password",
						"backup",  "register-webhooks",
						"backfill" };
	int i = 1;
	o->command = "serve";
	o->port = 8080;
	if (i < argc && argv[i][0] != '-') {
		bool known = false;
		for (size_t k = 0; k < ACS_ARRAY_SIZE(commands); k++)
			known = known || strcmp(argv[i], commands[k]) == 0;
		if (!known)
			return usage_error("unknown command '%s'", argv[i]);
		o->command = argv[i++];
	}
	for (; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			fputs(usage, stdout);
			exit(0);
		} else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
			printf("ado-clickup-sync %s\n", ACS_VERSION);
			exit(0);
		} else if (strcmp(a, "-c") == 0 || strcmp(a, "--config") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a file name", a);
			o->config = argv[i];
		} else if (strcmp(a, "--log-file") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a path", a);
			o->log_file = argv[i];
		} else if (strcmp(a, "--port") == 0) {
			if (++i >= argc || parse_port(argv[i], &o->port))
				return usage_error("%s needs a port number 0-65535", a);
		} else if (strcmp(a, "--online") == 0) {
			o->online = true;
		} else if (strcmp(a, "--check") == 0 &&
			   strcmp(o->command, "register-webhooks") == 0) {
			o->check = true;
		} else if (strcmp(a, "--map") == 0 && strcmp(o->command, "backfill") == 0) {
			if (++i >= argc)
				return usage_error("%s needs a mapping name", a);
			o->map = argv[i];
		} else if (strcmp(a, "--dry-run") == 0 && strcmp(o->command, "backfill") == 0) {
			o->dry_run = true;
		} else if (a[0] == '-') {
			return usage_error("unknown option '%s'", a);
		} else if (strcmp(o->command, "backup") == 0 && !o->out) {
			o->out = a;
		} else {
			return usage_error("unexpected argument '%s'", a);
		}
	}
	return 0;
}

static const char *default_config_path(void)
{
	if (access(ACS_DEFAULT_CONFIG, F_OK) == 0)
		return ACS_DEFAULT_CONFIG;
	return "config.ini";
}

/* Load and validate; prints every problem. Returns the config or NULL. */
static struct acs_config *load_config(const char *path, bool serving)
{
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	/* finish runs even after load errors so one run reports every problem. */
	if (acs_config_load_file(cfg, path, errs) != -ENOENT || acs_config_errors_count(errs) == 0)
		acs_config_finish(cfg, errs);
	if (serving && acs_config_errors_count(errs) == 0)
		acs_config_check_serving(cfg, errs);
	if (acs_config_errors_count(errs)) {
		acs_config_errors_print(errs, stderr);
		acs_config_errors_free(errs);
		acs_config_free(cfg);
		return NULL;
	}
	acs_config_errors_free(errs);
	return cfg;
}

/* --- serve -------------------------------------------------------------- */

static void signal_closed_cb(uv_handle_t *h)
{
	struct daemon *d = h->data;
	d->signals_open--;
}

static void sim_closed_cb(void *arg)
{
	(void)arg;
}

static void app_stopped_cb(void *arg)
{
	struct daemon *d = arg;
	d->app = NULL;
	demo_activity_close(d->demo);
	d->demo = NULL;
	if (d->sim) {
		sim_close(d->sim, sim_closed_cb, d);
		d->sim = NULL;
	}
	uv_close((uv_handle_t *)&d->sig_term, signal_closed_cb);
	uv_close((uv_handle_t *)&d->sig_int, signal_closed_cb);
	uv_close((uv_handle_t *)&d->sig_hup, signal_closed_cb);
}

static void stop_signal_cb(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	if (d->stopping) {
		/* A second signal means "now": skip the drain. */
		acs_log(ACS_LOG_WARN, "main", "second signal, exiting without draining");
		_exit(EXIT_RUNTIME);
	}
	d->stopping = true;
	demo_activity_stop(d->demo);
	struct acs_log_field f[] = { { "signal", signum == SIGINT ? "SIGINT" : "SIGTERM" } };
	acs_log_kv(ACS_LOG_INFO, "main", "stopping", f, 1);
	acs_app_shutdown(d->app, ACS_APP_DRAIN_TIMEOUT_MS, app_stopped_cb, d);
}

static void hup_signal_cb(uv_signal_t *h, int signum)
{
	(void)h;
	(void)signum;
	int rc = acs_log_reopen();
	if (rc)
		acs_log(ACS_LOG_ERR, "main", "cannot reopen log file: %s", acs_strerror(rc));
	else
		acs_log(ACS_LOG_INFO, "main", "log file reopened");
}

/* Runs the service on d->loop (initialised by the caller, which may have
 * started the demo simulators on it) until a signal stops it. */
static int run_daemon(struct daemon *d, const struct acs_config *cfg)
{
	char err[ACS_ERR_LEN] = "";

	d->app = acs_app_new(&d->loop, cfg, err);
	if (!d->app) {
		acs_log(ACS_LOG_CRIT, "main", "cannot start: %s", err);
		if (d->sim)
			sim_close(d->sim, sim_closed_cb, d);
		uv_run(&d->loop, UV_RUN_DEFAULT); /* let partial construction close */
		uv_loop_close(&d->loop);
		return EXIT_RUNTIME;
	}
	uv_signal_t *sigs[] = { &d->sig_term, &d->sig_int, &d->sig_hup };
	for (size_t i = 0; i < ACS_ARRAY_SIZE(sigs); i++) {
		uv_signal_init(&d->loop, sigs[i]);
		sigs[i]->data = d;
		d->signals_open++;
	}
	uv_signal_start(&d->sig_term, stop_signal_cb, SIGTERM);
	uv_signal_start(&d->sig_int, stop_signal_cb, SIGINT);
	uv_signal_start(&d->sig_hup, hup_signal_cb, SIGHUP);

	if (acs_app_start(d->app, err)) {
		acs_log(ACS_LOG_CRIT, "main", "cannot listen on %s: %s", cfg->server.listen, err);
		d->exit_code = EXIT_RUNTIME;
		d->stopping = true;
		acs_app_shutdown(d->app, 0, app_stopped_cb, d);
	} else if (d->demo) {
		demo_activity_start(d->demo, acs_app_curl(d->app), 8000);
	}
	uv_run(&d->loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&d->loop);
	if (rc) {
		acs_log(ACS_LOG_ERR, "main", "loop closed with handles open: %s", acs_strerror(rc));
		return EXIT_RUNTIME;
	}
	if (d->exit_code == 0)
		acs_log(ACS_LOG_INFO, "main", "stopped");
	return d->exit_code;
}

static void apply_log_config(const struct acs_config *cfg)
{
	acs_log_set_level(cfg->log.level);
	acs_log_set_format(cfg->log.format);
}

static int cmd_serve(const struct opts *o)
{
	const char *path = o->config ? o->config : default_config_path();
	if (o->log_file) {
		int rc = acs_log_set_file(o->log_file);
		if (rc) {
			fprintf(stderr, "ado-clickup-sync: cannot open log file %s: %s\n",
				o->log_file, acs_strerror(rc));
			return EXIT_USAGE;
		}
	}
	struct acs_config *cfg = load_config(path, false);
	if (!cfg)
		return EXIT_USAGE;
	apply_log_config(cfg);
	/* The database lock: a `backfill` command refuses to run beside us (and we
	 * beside it or another daemon). No lock file (no database directory yet):
	 * nothing to share, the app creates the directory. */
	char db[4096], err[ACS_ERR_LEN] = "";
	int lock = -ENOENT;
	if (acs_app_db_path(cfg->database.url, db, sizeof(db), err) == 0) {
		lock = acs_backfill_lock_db(db, err);
		if (lock == -EWOULDBLOCK) {
			acs_log(ACS_LOG_CRIT, "main", "cannot start: %s", err);
			acs_config_free(cfg);
			return EXIT_RUNTIME;
		}
		if (lock < 0 && lock != -ENOENT)
			acs_log(ACS_LOG_WARN, "main", "running without the database lock: %s", err);
	}
	struct daemon d = { 0 };
	uv_loop_init(&d.loop);
	int rc = run_daemon(&d, cfg);
	acs_config_free(cfg);
	if (lock >= 0)
		close(lock);
	return rc;
}

/* --- backfill --------------------------------------------------------------- */

static int cmd_backfill(const struct opts *o)
{
	if (!o->map || !o->map[0])
		return usage_error("%s", "backfill needs a mapping: backfill [-c FILE] --map NAME "
					 "[--dry-run]");
	/* Not the serving checks: no webhooks are received (credentials are checked
	 * by acs_backfill_run_command). */
	struct acs_config *cfg = load_config(o->config ? o->config : default_config_path(), false);
	if (!cfg)
		return EXIT_USAGE;
	apply_log_config(cfg);
	char err[ACS_ERR_LEN] = "";
	int rc = acs_backfill_run_command(cfg, o->map, o->dry_run, err);
	acs_config_free(cfg);
	if (rc == 0)
		return 0;
	fprintf(stderr, "ado-clickup-sync: backfill: %s\n", err);
	if (rc == ACS_ENOTFOUND || rc == ACS_ECONFIG)
		return EXIT_USAGE;
	if (rc == -EWOULDBLOCK)
		fprintf(stderr, "ado-clickup-sync: a daemon is serving this database: start the "
				"backfill from its dashboard instead (POST "
				"/api/dashboard/project-maps/ID/backfill)\n");
	return EXIT_RUNTIME;
}

/* check-config --online: the preflight checks on their own loop. */
struct online {
	uv_loop_t loop;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	int clients_open;
	int exit_code;
};

static void online_client_closed_cb(void *arg)
{
	struct online *on = arg;
	/* The clients borrow the curl_loop: it goes last. */
	if (--on->clients_open == 0) {
		acs_curl_loop_close(on->cl, NULL, NULL);
		on->cl = NULL;
	}
}

static void online_teardown(struct online *on)
{
	on->clients_open = (on->ado != NULL) + (on->cu != NULL);
	if (on->ado)
		acs_ado_client_close(on->ado, online_client_closed_cb, on);
	if (on->cu)
		acs_clickup_client_close(on->cu, online_client_closed_cb, on);
	if (!on->clients_open && on->cl)
		acs_curl_loop_close(on->cl, NULL, NULL);
	on->ado = NULL;
	on->cu = NULL;
}

static void online_done_cb(struct acs_preflight_result *res, void *arg)
{
	struct online *on = arg;
	char line[8192];
	/* Each line is redacted by the formatter: tokens never reach stdout. */
	for (size_t i = 0; i < res->n; i++) {
		acs_preflight_check_format(&res->checks[i], line, sizeof(line));
		printf("%s\n", line);
	}
	if (res->n_failed)
		printf("\n%zu of %zu online checks failed%s\n", res->n_failed, res->n,
		       res->n_skipped ? " (the skipped ones depend on them)" : "");
	else
		printf("\nall %zu online checks passed\n", res->n);
	fflush(stdout);
	if (res->timed_out)
		fprintf(stderr, "ado-clickup-sync: check-config: no complete answer within %u s\n",
			ACS_PREFLIGHT_TIMEOUT_MS / 1000);
	else if (res->unreachable)
		fprintf(stderr, "ado-clickup-sync: check-config: a service could not be reached "
				"(see the FAIL lines)\n");
	on->exit_code = res->n_failed ? EXIT_RUNTIME : 0;
	acs_preflight_result_free(res);
	online_teardown(on);
}

/* Read-only checks against both services; every call on one loop, bounded by
 * ACS_PREFLIGHT_TIMEOUT_MS overall. */
static int check_config_online(const struct acs_config *cfg)
{
	struct online on = { .exit_code = EXIT_RUNTIME };
	char err[ACS_ERR_LEN] = "";
	uv_loop_init(&on.loop);
	struct acs_ado_client_opts ao = {
		.base_url = cfg->ado.base_url,
		.organization = cfg->ado.organization,
		/* Every check names its project (or none): this one only satisfies the
		 * client, which needs a default project. */
		.project = *cfg->ado.project ? cfg->ado.project
			   : cfg->n_maps     ? cfg->maps[0].ado_project
					     : cfg->ado.organization,
		.pat = cfg->ado.pat,
		/* A check reports what it saw: no retries, and room within the deadline. */
		.max_attempts = 1,
		.timeout_ms = ACS_PREFLIGHT_TIMEOUT_MS / 2,
	};
	struct acs_clickup_client_opts co = {
		.base_url = cfg->clickup.base_url,
		.token = cfg->clickup.token,
		.max_attempts = 1,
		.timeout_ms = ACS_PREFLIGHT_TIMEOUT_MS / 2,
	};
	int rc = 0;
	if (!(on.cl = acs_curl_loop_new(&on.loop, err)))
		rc = -1;
	if (rc == 0 && !(on.ado = acs_ado_client_new(&on.loop, on.cl, &ao, err)))
		rc = -1;
	if (rc == 0 && !(on.cu = acs_clickup_client_new(&on.loop, on.cl, &co, err)))
		rc = -1;
	if (rc == 0) {
		rc = acs_preflight_run(&on.loop, cfg, on.ado, on.cu, ACS_PREFLIGHT_TIMEOUT_MS,
				       online_done_cb, &on);
		if (rc)
			snprintf(err, sizeof(err), "%s", acs_strerror(rc));
	}
	if (rc) {
		fprintf(stderr, "ado-clickup-sync: check-config: %s\n", err);
		online_teardown(&on);
	}
	uv_run(&on.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&on.loop)) {
		acs_log(ACS_LOG_ERR, "main", "loop closed with handles open");
		on.exit_code = EXIT_RUNTIME;
	}
	return on.exit_code;
}

static int cmd_check_config(const struct opts *o)
{
	const char *path = o->config ? o->config : default_config_path();
	struct acs_config *cfg = load_config(path, true);
	if (!cfg)
		return EXIT_USAGE;
	printf("%s: configuration OK (%zu mapping%s)\n", path, cfg->n_maps,
	       cfg->n_maps == 1 ? "" : "s");
	int rc = 0;
	if (o->online) {
		apply_log_config(cfg);
		fflush(stdout);
		rc = check_config_online(cfg);
	}
	acs_config_free(cfg);
	return rc;
}

/* --- demo ----------------------------------------------------------------- */

/* Starts both API simulators on free loopback ports of d->loop and returns
 * the configuration text that points the daemon at them. */
static char *start_demo_world(struct daemon *d, int port, const char *dir, char err[ACS_ERR_LEN])
{
	d->sim = sim_new(&d->loop, NULL, err);
	if (!d->sim)
		return NULL;
	struct sim_ado *ado = sim_ado_new(d->sim, 0, err);
	struct sim_clickup *cu = ado ? sim_clickup_new(d->sim, 0, err) : NULL;
	if (!cu || sim_service_listen(sim_ado_service(ado), "127.0.0.1:0", err) ||
	    sim_service_listen(sim_clickup_service(cu), "127.0.0.1:0", err))
		return NULL;

	json_t *info = sim_info(d->sim);
	json_t *a = json_object_get(info, "ado"), *c = json_object_get(info, "clickup");
	unsigned char rnd[18];
	char hook_pw[sizeof(rnd) * 2 + 1];
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hook_pw, sizeof(hook_pw), rnd, sizeof(rnd));
	char *text =
		acs_xasprintf("[server]\nlisten = 127.0.0.1:%d\npublic_url = http://127.0.0.1:%d\n"
			      "[database]\nurl = sqlite:%s/sync.db\n"
			      "[ado]\nbase_url = %s\norganization = %s\nproject = %s\npat = %s\n"
			      "webhook_username = ado-clickup-sync\nwebhook_password = %s\n"
			      "[clickup]\nbase_url = %s\ntoken = %s\nworkspace_id = %s\n"
			      "[log]\nlevel = info\n"
			      /* a ClickUp attachment fires no webhook: the scan finds it */
			      "[sync]\nsweep_interval = 30s\n"
			      "[map demo]\nado_project = %s\nclickup_list_id = %s\n",
			      port, port, dir, json_string_value(json_object_get(a, "base_url")),
			      json_string_value(json_object_get(a, "organization")),
			      json_string_value(json_object_get(a, "project")),
			      json_string_value(json_object_get(a, "pat")), hook_pw,
			      json_string_value(json_object_get(c, "base_url")),
			      json_string_value(json_object_get(c, "token")),
			      json_string_value(json_object_get(c, "team_id")),
			      json_string_value(json_object_get(a, "project")),
			      json_string_value(json_array_get(json_object_get(c, "list_ids"), 0)));
	printf("  Azure DevOps simulator: %s/%s/%s\n"
	       "  ClickUp simulator:      %s\n",
	       json_string_value(json_object_get(a, "base_url")),
	       json_string_value(json_object_get(a, "organization")),
	       json_string_value(json_object_get(a, "project")),
	       json_string_value(json_object_get(c, "base_url")));
	d->demo = demo_activity_new(&d->loop, info);
	json_decref(info);
	return text;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	if (remove(path) != 0)
		fprintf(stderr, "ado-clickup-sync: cannot remove %s: %s\n", path, strerror(errno));
	return 0; /* remove what can be removed */
}

/* The demo's database is throw-away: its directory goes when the demo stops. */
static void remove_tree(const char *dir)
{
	(void)nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int cmd_demo(const struct opts *o)
{
	char tmpl[] = "/tmp/ado-clickup-sync-demo-XXXXXX";
	char err[ACS_ERR_LEN] = "";
	if (!mkdtemp(tmpl)) {
		fprintf(stderr, "ado-clickup-sync: cannot create a demo directory: %s\n",
			strerror(errno));
		return EXIT_RUNTIME;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "ado-clickup-sync: libsodium failed to initialise\n");
		remove_tree(tmpl);
		return EXIT_RUNTIME;
	}
	struct daemon d = { 0 };
	uv_loop_init(&d.loop);
	printf("ado-clickup-sync demo\n");
	char *text = start_demo_world(&d, o->port, tmpl, err);
	if (!text) {
		fprintf(stderr, "ado-clickup-sync: cannot start the simulators: %s\n", err);
		if (d.sim)
			sim_close(d.sim, sim_closed_cb, &d);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		remove_tree(tmpl);
		return EXIT_RUNTIME;
	}
	/* The dashboard refuses logins without an admin password hash: make a
	 * random password for this run and print it below. */
	unsigned char pw_raw[8];
	char admin_pw[sizeof(pw_raw) * 2 + 1];
	char admin_hash[crypto_pwhash_STRBYTES];
	randombytes_buf(pw_raw, sizeof(pw_raw));
	sodium_bin2hex(admin_pw, sizeof(admin_pw), pw_raw, sizeof(pw_raw));
	if (crypto_pwhash_str(admin_hash, admin_pw, strlen(admin_pw),
			      crypto_pwhash_OPSLIMIT_INTERACTIVE,
			      crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0) {
		char *with_pw = acs_xasprintf("%s[dashboard]\nadmin_password_hash = %s\n", text,
					      admin_hash);
		free(text);
		text = with_pw;
	} else {
		snprintf(admin_pw, sizeof(admin_pw), "(none)");
	}
	struct acs_config *cfg = acs_config_new_defaults();
	struct acs_config_errors *errs = acs_config_errors_new();
	acs_config_load_string(cfg, "<demo>", text, errs);
	acs_config_finish(cfg, errs);
	free(text);
	if (acs_config_errors_count(errs)) {
		acs_config_errors_print(errs, stderr);
		acs_config_errors_free(errs);
		acs_config_free(cfg);
		sim_close(d.sim, sim_closed_cb, &d);
		uv_run(&d.loop, UV_RUN_DEFAULT);
		uv_loop_close(&d.loop);
		remove_tree(tmpl);
		return EXIT_RUNTIME;
	}
	acs_config_errors_free(errs);
	apply_log_config(cfg);
	printf("  dashboard and API:      http://127.0.0.1:%d/ (health: /api/health)\n"
	       "  admin password:         %s\n"
	       "  data:                   %s (removed when the demo stops)\n"
	       "Ctrl-C stops.\n",
	       o->port, admin_pw, tmpl);
	fflush(stdout);
	int rc = run_daemon(&d, cfg);
	acs_config_free(cfg);
	remove_tree(tmpl);
	return rc;
}

/* --- register-webhooks ------------------------------------------------------- */

/* One registrar run on its own loop: store, curl_loop, both clients. */
struct reg {
	uv_loop_t loop;
	struct acs_store *store;
	struct acs_curl_loop *cl;
	struct acs_ado_client *ado;
	struct acs_clickup_client *cu;
	int clients_open;
	int exit_code;
	bool check; /**< --check: report only */
};

static void reg_client_closed_cb(void *arg)
{
	struct reg *g = arg;
	/* The clients borrow the curl_loop: it goes last. */
	if (--g->clients_open == 0) {
		acs_curl_loop_close(g->cl, NULL, NULL);
		g->cl = NULL;
	}
}

static void reg_teardown(struct reg *g)
{
	g->clients_open = (g->ado != NULL) + (g->cu != NULL);
	if (g->ado)
		acs_ado_client_close(g->ado, reg_client_closed_cb, g);
	if (g->cu)
		acs_clickup_client_close(g->cu, reg_client_closed_cb, g);
	if (!g->clients_open && g->cl)
		acs_curl_loop_close(g->cl, NULL, NULL);
	if (g->store)
		acs_store_close(g->store, NULL, NULL);
}

/* "2026-11-28 17:26 (5m ago)" in UTC, or "never". */
static void fmt_delivery(int64_t ms, char *buf, size_t len)
{
	if (ms <= 0) {
		snprintf(buf, len, "never");
		return;
	}
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char when[32];
	gmtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
	int64_t ago = (int64_t)time(NULL) - (int64_t)t;
	if (ago < 0)
		ago = 0;
	if (ago < 120)
		snprintf(buf, len, "%sZ (%llds ago)", when, (long long)ago);
	else if (ago < 7200)
		snprintf(buf, len, "%sZ (%lldm ago)", when, (long long)(ago / 60));
	else if (ago < 172800)
		snprintf(buf, len, "%sZ (%lldh ago)", when, (long long)(ago / 3600));
	else
		snprintf(buf, len, "%sZ (%lldd ago)", when, (long long)(ago / 86400));
}

enum {
	COL_SERVICE,
	COL_WHERE,
	COL_EVENTS,
	COL_ID,
	COL_STATE,
	COL_FAILS,
	COL_LAST,
	COL_ACTION,
	N_COLS
};

/* The --check report: one row per subscription, columns aligned; the
 * detail only where the state does not already say why. Never a secret
 * (the check's result carries none). */
static void print_check_table(const struct acs_registrar_result *res)
{
	static const char *const head[N_COLS] = { "SERVICE", "WHERE", "EVENTS",	       "ID",
						  "STATE",   "FAILS", "LAST DELIVERY", "ACTION" };
	size_t rows = res->n_items;
	char **cell = acs_xcalloc((rows ? rows : 1) * N_COLS, sizeof(*cell));
	size_t w[N_COLS];
	for (int c = 0; c < N_COLS; c++)
		w[c] = strlen(head[c]);
	for (size_t i = 0; i < rows; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		char **row = &cell[i * N_COLS];
		/* Labels are "ado EVENT PROJECT" and "clickup webhook WHERE". */
		const char *where = it->label;
		for (int sp = 0; sp < 2 && strchr(where, ' '); sp++)
			where = strchr(where, ' ') + 1;
		char last[64];
		fmt_delivery(it->last_delivery_ms, last, sizeof(last));
		row[COL_SERVICE] = acs_xstrdup(it->service == ACS_REGISTRAR_ADO	      ? "ado"
					       : it->service == ACS_REGISTRAR_CLICKUP ? "clickup"
										      : "database");
		row[COL_WHERE] = acs_xstrdup(where);
		if (it->n_events == 1)
			row[COL_EVENTS] = acs_xstrdup(it->events[0]);
		else
			row[COL_EVENTS] = acs_xasprintf("%zu events", it->n_events);
		row[COL_ID] = acs_xstrdup(it->id ? it->id : "-");
		row[COL_STATE] = acs_xstrdup(it->state ? it->state : "missing");
		row[COL_FAILS] = it->fail_count >= 0
					 ? acs_xasprintf("%lld", (long long)it->fail_count)
					 : acs_xstrdup("-");
		row[COL_LAST] = acs_xstrdup(last);
		if (it->outcome == ACS_REGISTRAR_FAILED)
			row[COL_ACTION] = acs_xasprintf("check failed: %s", it->detail);
		else if (it->action != ACS_REGISTRAR_ACTION_NONE &&
			 it->action != ACS_REGISTRAR_ACTION_RE_ENABLE &&
			 it->action != ACS_REGISTRAR_ACTION_CREATE && it->detail[0])
			row[COL_ACTION] = acs_xasprintf(
				"%s (%s)", acs_registrar_action_name(it->action), it->detail);
		else
			row[COL_ACTION] = acs_xstrdup(acs_registrar_action_name(it->action));
		for (int c = 0; c < N_COLS; c++)
			if (strlen(row[c]) > w[c])
				w[c] = strlen(row[c]);
	}
	for (int c = 0; c < N_COLS; c++)
		printf("%-*s%s", c + 1 < N_COLS ? (int)w[c] : 0, head[c],
		       c + 1 < N_COLS ? "  " : "\n");
	for (size_t i = 0; i < rows; i++) {
		for (int c = 0; c < N_COLS; c++) {
			char *v = cell[i * N_COLS + c];
			printf("%-*s%s", c + 1 < N_COLS ? (int)w[c] : 0, v,
			       c + 1 < N_COLS ? "  " : "\n");
			free(v);
		}
	}
	free(cell);
}

static void reg_done_cb(struct acs_registrar_result *res, void *arg)
{
	struct reg *g = arg;
	if (g->check) {
		print_check_table(res);
		bool due = acs_registrar_repair_due(res);
		if (res->n_failed)
			printf("\n%zu subscription(s) could not be checked\n", res->n_failed);
		else if (due)
			printf("\nrepairs are due: `ado-clickup-sync register-webhooks` (or the "
			       "daemon's next check) carries them out\n");
		else
			printf("\nall webhook subscriptions are healthy\n");
		g->exit_code = res->n_failed || due ? EXIT_RUNTIME : 0;
		acs_registrar_result_free(res);
		reg_teardown(g);
		return;
	}
	char line[1024];
	bool due = false;
	/* Labels, outcomes and ids only: the secrets in res are never printed. */
	for (size_t i = 0; i < res->n_items; i++) {
		const struct acs_registrar_item *it = &res->items[i];
		if (!g->check || it->outcome == ACS_REGISTRAR_FAILED) {
			acs_registrar_item_format(it, line, sizeof(line));
			printf("%s\n", line);
		} else if (it->outcome == ACS_REGISTRAR_UNCHANGED) {
			printf("%s: ok\n", it->label);
		} else {
			/* The outcome a run would have: the repair that is due. */
			due = true;
			printf("%s: would be %s%s%s%s\n", it->label,
			       acs_registrar_outcome_name(it->outcome), it->detail[0] ? " (" : "",
			       it->detail, it->detail[0] ? ")" : "");
		}
	}
	g->exit_code = res->n_failed || due ? EXIT_RUNTIME : 0;
	acs_registrar_result_free(res);
	reg_teardown(g);
}

static int cmd_register_webhooks(const struct opts *o)
{
	struct acs_config *cfg = load_config(o->config ? o->config : default_config_path(), true);
	if (!cfg)
		return EXIT_USAGE;
	apply_log_config(cfg);
	if (cfg->n_maps == 0) {
		/* Dashboard mappings live in the daemon's database and are registered by the
		 * running daemon (at each reload and every webhook_check_interval). */
		printf("no [map] sections in the config file: nothing to register here; mappings "
		       "created in the dashboard are registered by the running daemon (Webhooks "
		       "page, or POST /api/setup/register-webhooks)\n");
		acs_config_free(cfg);
		return 0;
	}
	char path[4096], err[ACS_ERR_LEN] = "";
	if (acs_app_db_path(cfg->database.url, path, sizeof(path), err)) {
		fprintf(stderr, "ado-clickup-sync: %s\n", err);
		acs_config_free(cfg);
		return EXIT_USAGE;
	}
	struct reg g = { .exit_code = EXIT_RUNTIME, .check = o->check };
	uv_loop_init(&g.loop);
	struct acs_ado_client_opts ao = {
		.base_url = cfg->ado.base_url,
		.organization = cfg->ado.organization,
		/* Subscriptions and projects are organization-level calls. */
		.project = *cfg->ado.project ? cfg->ado.project : cfg->maps[0].ado_project,
		.pat = cfg->ado.pat,
	};
	struct acs_clickup_client_opts co = {
		.base_url = cfg->clickup.base_url,
		.token = cfg->clickup.token,
	};
	int rc = acs_store_open(&g.loop, path, &g.store, err);
	if (rc == 0 && !(g.cl = acs_curl_loop_new(&g.loop, err)))
		rc = -1;
	if (rc == 0 && !(g.ado = acs_ado_client_new(&g.loop, g.cl, &ao, err)))
		rc = -1;
	if (rc == 0 && !(g.cu = acs_clickup_client_new(&g.loop, g.cl, &co, err)))
		rc = -1;
	if (rc == 0) {
		rc = (o->check ? acs_registrar_check : acs_registrar_run)(&g.loop, cfg, g.ado, g.cu,
									  g.store, reg_done_cb, &g);
		if (rc)
			snprintf(err, sizeof(err), "%s", acs_strerror(rc));
	}
	if (rc) {
		fprintf(stderr, "ado-clickup-sync: register-webhooks: %s\n", err);
		reg_teardown(&g);
	}
	uv_run(&g.loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&g.loop)) {
		acs_log(ACS_LOG_ERR, "main", "loop closed with handles open");
		g.exit_code = EXIT_RUNTIME;
	}
	acs_config_free(cfg);
	return g.exit_code;
}

/* --- hash-password ---------------------------------------------------------- */

static int cmd_hash_password(void)
{
	char pw[1024];
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;

	if (sodium_init() < 0) {
		fprintf(stderr, "ado-clickup-sync: libsodium failed to initialise\n");
		return EXIT_RUNTIME;
	}
	if (tty) {
		fprintf(stderr, "Password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	char *line = fgets(pw, sizeof(pw), stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (!line) {
		fprintf(stderr, "ado-clickup-sync: no password on standard input\n");
		return EXIT_USAGE;
	}
	pw[strcspn(pw, "\r\n")] = '\0';
	if (pw[0] == '\0') {
		fprintf(stderr, "ado-clickup-sync: empty password refused\n");
		return EXIT_USAGE;
	}
	char hash[crypto_pwhash_STRBYTES];
	int rc = crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
				   crypto_pwhash_MEMLIMIT_INTERACTIVE);
	sodium_memzero(pw, sizeof(pw));
	if (rc != 0) {
		fprintf(stderr, "ado-clickup-sync: out of memory hashing the password\n");
		return EXIT_RUNTIME;
	}
	printf("%s\n", hash);
	return 0;
}

/* --- backup ------------------------------------------------------------------- */

static int cmd_backup(const struct opts *o)
{
	if (!o->out)
		return usage_error("%s", "backup needs an output file: backup [-c FILE] OUT");
	struct acs_config *cfg = load_config(o->config ? o->config : default_config_path(), false);
	if (!cfg)
		return EXIT_USAGE;
	char path[4096], err[ACS_ERR_LEN] = "";
	int rc = acs_app_db_path(cfg->database.url, path, sizeof(path), err);
	if (rc == 0)
		rc = acs_store_backup(path, o->out, err);
	acs_config_free(cfg);
	if (rc) {
		fprintf(stderr, "ado-clickup-sync: backup failed: %s\n", err);
		return rc == ACS_ECONFIG ? EXIT_USAGE : EXIT_RUNTIME;
	}
	printf("backup written to %s\n", o->out);
	return 0;
}

int main(int argc, char **argv)
{
	struct opts o = { 0 };
	int rc = parse_args(argc, argv, &o);
	if (rc)
		return rc;
	/* Writes to a closed socket must fail with EPIPE, not kill the daemon. */
	signal(SIGPIPE, SIG_IGN);

	if (strcmp(o.command, "serve") == 0)
		rc = cmd_serve(&o);
	else if (strcmp(o.command, "check-config") == 0)
		rc = cmd_check_config(&o);
	else if (strcmp(o.command, "demo") == 0)
		rc = cmd_demo(&o);
	else if (strcmp(o.command, "hash-password") == 0)
		rc = cmd_hash_password();
	else if (strcmp(o.command, "backup") == 0)
		rc = cmd_backup(&o);
	else if (strcmp(o.command, "register-webhooks") == 0)
		rc = cmd_register_webhooks(&o);
	else if (strcmp(o.command, "backfill") == 0)
		rc = cmd_backfill(&o);
	else {
		fprintf(stderr, "ado-clickup-sync: '%s' is not available in this version yet\n",
			o.command);
		rc = EXIT_RUNTIME;
	}
	acs_log_reset();
	return rc;
}
