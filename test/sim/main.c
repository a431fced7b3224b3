/* SPDX-License-Identifier: MIT */
/* ado-clickup-sim: the API simulators as a process for tests and demos.
 * Binds both services on loopback, prints "ado=PORT clickup=PORT", runs the
 * loop until SIGTERM/SIGINT and exits 0 after a clean teardown.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "sim.h"
#include "sim_ado.h"
#include "sim_clickup.h"

struct sim_app {
	uv_loop_t loop;
	uv_signal_t sigterm;
	uv_signal_t sigint;
	struct sim *sim;
	bool stopping;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: ado-clickup-sim --ado-port N --clickup-port N [--seed FILE]\n"
		   "                       [--clickup-rate-limit N] [--ado-rate-limit N]\n"
		   "       ado-clickup-sim --sign SECRET < BODY   (print the X-Signature of BODY)\n"
		   "       ado-clickup-sim --print-seed              (the built-in seed, JSON)\n"
		   "Ports 0 pick free ports; the bound ports are printed as "
		   "\"ado=PORT clickup=PORT\".\n");
}

static bool parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

/* Read stdin (before any loop exists) and print the hex HMAC. */
static int sign_stdin(const char *secret)
{
	struct acs_buf b;
	char chunk[4096];
	size_t n;
	acs_buf_init(&b, 64u << 20);
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
		if (acs_buf_append(&b, chunk, n)) {
			fprintf(stderr, "ado-clickup-sim: input too large\n");
			return 1;
		}
	}
	char hex[65];
	sim_hmac_sha256_hex(secret, strlen(secret), b.data ? b.data : "", b.len, hex);
	acs_buf_free(&b);
	printf("%s\n", hex);
	return 0;
}

static void sim_closed(void *arg)
{
	(void)arg;
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct sim_app *app = h->data;
	if (app->stopping)
		return;
	app->stopping = true;
	acs_log(ACS_LOG_INFO, "sim", "signal %d: stopping", signum);
	uv_close((uv_handle_t *)&app->sigterm, NULL);
	uv_close((uv_handle_t *)&app->sigint, NULL);
	sim_close(app->sim, sim_closed, app);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ado-port", required_argument, NULL, 'a' },
		{ "clickup-port", required_argument, NULL, 'c' },
		{ "seed", required_argument, NULL, 's' },
		{ "clickup-rate-limit", required_argument, NULL, 'r' },
		{ "ado-rate-limit", required_argument, NULL, 'A' },
		{ "sign", required_argument, NULL, 'S' },
		{ "print-seed", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long ado_port = -1, cu_port = -1, rate = 0, ado_rate = 0;
	const char *seed = NULL;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			if (!parse_long(optarg, 0, 65535, &ado_port))
				goto bad;
			break;
		case 'c':
			if (!parse_long(optarg, 0, 65535, &cu_port))
				goto bad;
			break;
		case 's':
			seed = optarg;
			break;
		case 'r':
			if (!parse_long(optarg, 1, 1000000000, &rate))
				goto bad;
			break;
		case 'A':
			if (!parse_long(optarg, 1, 10000000, &ado_rate))
				goto bad;
			break;
		case 'S':
			return sign_stdin(optarg);
		case 'P':
			printf("%s\n", sim_default_seed());
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || ado_port < 0 || cu_port < 0)
		goto bad;

	signal(SIGPIPE, SIG_IGN);
	struct sim_app app = { 0 };
	char err[ACS_ERR_LEN] = "";
	char addr[32];
	int rc = 0;

	uv_loop_init(&app.loop);
	app.sim = sim_new(&app.loop, seed, err);
	if (!app.sim) {
		fprintf(stderr, "ado-clickup-sim: %s\n", err);
		uv_loop_close(&app.loop);
		return 2;
	}
	struct sim_ado *ado = sim_ado_new(app.sim, ado_rate, err);
	struct sim_clickup *cu = ado ? sim_clickup_new(app.sim, rate, err) : NULL;
	if (!cu) {
		fprintf(stderr, "ado-clickup-sim: %s\n", err);
		rc = 2;
		goto out;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%ld", ado_port);
	if (sim_service_listen(sim_ado_service(ado), addr, err)) {
		fprintf(stderr, "ado-clickup-sim: ado: %s\n", err);
		rc = 1;
		goto out;
	}
	snprintf(addr, sizeof(addr), "127.0.0.1:%ld", cu_port);
	if (sim_service_listen(sim_clickup_service(cu), addr, err)) {
		fprintf(stderr, "ado-clickup-sim: clickup: %s\n", err);
		rc = 1;
		goto out;
	}
	uv_signal_init(&app.loop, &app.sigterm);
	uv_signal_init(&app.loop, &app.sigint);
	app.sigterm.data = app.sigint.data = &app;
	uv_signal_start(&app.sigterm, on_signal, SIGTERM);
	uv_signal_start(&app.sigint, on_signal, SIGINT);
	printf("ado=%d clickup=%d\n", sim_service_port(sim_ado_service(ado)),
	       sim_service_port(sim_clickup_service(cu)));
	fflush(stdout);
	uv_run(&app.loop, UV_RUN_DEFAULT);
	goto done;
out:
	sim_close(app.sim, sim_closed, &app);
	uv_run(&app.loop, UV_RUN_DEFAULT);
done:
	if (uv_loop_close(&app.loop)) {
		fprintf(stderr, "ado-clickup-sim: handles left open at exit\n");
		rc = rc ? rc : 1;
	}
	acs_log_reset();
	return rc;
bad:
	usage(stderr);
	return 2;
}
