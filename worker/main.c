/*
 * main.c - sipas-worker: parse options, open, READY=1, serve, STOPPING=1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_config.h"
#include "sipas_metrics.h"
#include "sipas_curve.h"
#include "sipas_daemon.h"
#include "sipas_log.h"
#include "sipas_oom.h"
#include "sipas_store.h"
#include "sipas_worker.h"

static const sipas_option options[] = {
	{"store", 's', SIPAS_OPT_STRING, "DIR", NULL, 0, 0,
	 "store folder ($SIPAS_HOME/sipas-store or ./sipas-store)"},
	{"bind", 'b', SIPAS_OPT_STRING, "ENDPOINT", "tcp://127.0.0.1:7301", 0, 0,
	 "where collectors connect"},
	{"batch-max", 0, SIPAS_OPT_INT, "N", "10000", 1, 100000,
	 "responses per commit at most"},
	{"map-size", 0, SIPAS_OPT_INT, "MIB", "1024", 1, 1 << 24,
	 "initial LMDB map size in MiB (grown when full)"},
	{"rcvhwm", 0, SIPAS_OPT_INT, "N", "20000", 100, 1000000,
	 "ZeroMQ high-water mark (messages queued per socket)"},
	{"reader-check-s", 0, SIPAS_OPT_INT, "S", "10", 0, 86400,
	 "free reader slots left by dead processes every S seconds "
	 "(0: at start and on a full map only)"},
	{"curve-key", 0, SIPAS_OPT_STRING, "FILE", "none", 0, 0,
	 "this worker's CURVE secret key file (sipas-admin keygen)"},
	{"curve-clients", 0, SIPAS_OPT_STRING, "PATH", "none", 0, 0,
	 "collectors' public keys allowed: a folder of *.pub or one file"},
	{"insecure", 0, SIPAS_OPT_BOOL, NULL, NULL, 0, 0,
	 "allow a --bind other hosts can reach without CURVE"},
	{"metrics-file", 0, SIPAS_OPT_STRING, "PATH", "store", 0, 0,
	 "Prometheus textfile of the counters (store: STORE/sipas-worker.prom;"
	 " none: no file)"},
	{"metrics-interval-s", 0, SIPAS_OPT_INT, "S", "5", 1, 3600,
	 "rewrite the metrics file every S seconds"},
	{"log-level", 0, SIPAS_OPT_STRING, "LEVEL", "info", 0, 0,
	 "err, warning, notice, info or debug"},
};

/* The keys SIGHUP applies at once (the rest wait for a restart). */
static const char *const live[] = {
	"log-level", "metrics-interval-s", "reader-check-s", "curve-clients",
	NULL};

static const sipas_program program = {
	"sipas-worker", "[OPTIONS]",
	"Validates survey responses from collectors against the store's "
	"definitions,\ncounts them durably in LMDB and acknowledges each.",
	"Exit status: 0 clean stop, 1 usage or configuration error, 2 the "
	"store or\nthe socket could not be opened.",
	options, sizeof options / sizeof options[0], live};

/* What a configuration gives: the worker's options and what they point
 * into. Read at start and again on SIGHUP. */
struct settings {
	sipas_worker_opts o;
	sipas_curve_key pair;
	int level;
	bool insecure;          /* a reachable bind without CURVE, allowed */
	char store_dir[4096], metrics_path[4096 + 32];
};

static void settings_free(struct settings *s)
{
	sipas_curve_allow_free(&s->o.allow);
	sipas_curve_key_wipe(&s->pair);
}

/*
 * The CURVE options (docs/security.md). A --bind other hosts can reach
 * takes collectors only with a key pair and an allowlist, unless the
 * operator says --insecure. Keys given for a local endpoint apply too.
 */
static bool curve_options(const sipas_config *cfg, struct settings *s,
			  sipas_diag *diag)
{
	const char *key = sipas_config_str(cfg, "curve-key");
	const char *clients = sipas_config_str(cfg, "curve-clients");
	sipas_diag why = {{0}};

	if (sipas_curve_is_none(key) != sipas_curve_is_none(clients)) {
		sipas_diag_set(diag,
			       "--curve-key and --curve-clients go together: "
			       "the worker's key pair, and the public keys of "
			       "the collectors it takes");
		return false;
	}
	if (!sipas_curve_is_none(key)) {
		if (sipas_curve_load_pair(key, &s->pair, &why) != SIPAS_OK) {
			sipas_diag_set(diag, "--curve-key: %s", why.msg);
			return false;
		}
		if (sipas_curve_allow_load(&s->o.allow, clients, &why) !=
		    SIPAS_OK) {
			sipas_diag_set(diag, "--curve-clients: %s", why.msg);
			return false;
		}
		s->o.curve = &s->pair;
		s->o.curve_clients = clients;
		return true;
	}
	if (sipas_endpoint_is_local(s->o.bind))
		return true;
	if (!sipas_config_bool(cfg, "insecure")) {
		sipas_diag_set(diag,
			       "--bind %s can be reached from other hosts: give "
			       "--curve-key and --curve-clients (see "
			       "docs/security.md), or --insecure to take any "
			       "collector without encryption",
			       s->o.bind);
		return false;
	}
	s->insecure = true;
	return true;
}

/* Read cfg into s (zeroed by the caller); false with the reason in diag.
 * Strings in s->o point into cfg and s. */
static bool settings_read(const sipas_config *cfg, struct settings *s,
			  sipas_diag *diag)
{
	const char *store = sipas_config_str(cfg, "store");

	s->level = sipas_log_parse_level(sipas_config_str(cfg, "log-level"));
	if (s->level < 0) {
		sipas_diag_set(diag, "--log-level: '%s' is not one of err, "
				     "warning, notice, info, debug",
			       sipas_config_str(cfg, "log-level"));
		return false;
	}
	if (store != NULL ? strlen(store) >= sizeof s->store_dir
			  : sipas_store_default_dir(s->store_dir,
						    sizeof s->store_dir) !=
				SIPAS_OK) {
		sipas_diag_set(diag, "%s", store != NULL
						 ? "--store: too long"
						 : "SIPAS_HOME is too long");
		return false;
	}
	if (store != NULL)
		memcpy(s->store_dir, store, strlen(store) + 1);
	s->o.store_dir = s->store_dir;
	s->o.bind = sipas_config_str(cfg, "bind");
	s->o.batch_max = (size_t)sipas_config_int(cfg, "batch-max");
	s->o.map_size = (size_t)sipas_config_int(cfg, "map-size") << 20;
	s->o.rcvhwm = (int)sipas_config_int(cfg, "rcvhwm");
	/* By default the file sits in the store folder, where sipas-admin
	 * status finds it; "none" turns it off. */
	if (sipas_metrics_path(sipas_config_str(cfg, "metrics-file"), "store",
			       s->store_dir, "sipas-worker.prom",
			       s->metrics_path, sizeof s->metrics_path,
			       &s->o.metrics_file) != SIPAS_OK) {
		sipas_diag_set(diag, "--store: too long");
		return false;
	}
	s->o.metrics_interval_s =
	    (int)sipas_config_int(cfg, "metrics-interval-s");
	s->o.reader_check_s = (int)sipas_config_int(cfg, "reader-check-s");
	return curve_options(cfg, s, diag);
}

/* What SIGHUP changes (sipas_daemon_reload_if_asked calls it). */
struct running {
	const sipas_config *boot; /* what the worker was started with */
	sipas_worker *w;
};

/* Apply the live keys of next, or nothing when it is wrong. */
static bool apply(const sipas_config *next, void *arg, sipas_diag *diag)
{
	struct running *r = arg;
	struct settings *s = sipas_xcalloc(1, sizeof *s);
	bool ok = settings_read(next, s, diag);

	if (ok) {
		sipas_log_set_level(s->level);
		sipas_worker_reconfigure(r->w, &s->o);
		s->o.allow = NULL; /* taken over */
	}
	settings_free(s);
	free(s);
	return ok;
}

static void reload(void *arg)
{
	struct running *r = arg;

	sipas_daemon_reload_config(r->boot, "WRK", apply, r);
}

int main(int argc, char **argv)
{
	sipas_config *cfg = NULL;
	sipas_worker *w = NULL;
	struct settings *s = sipas_xcalloc(1, sizeof *s);
	struct running r = {0};
	sipas_diag diag = {{0}};
	int first, status;
	sipas_err rv;

	if (!sipas_config_load(&program, argc, argv, &cfg, &first, &status))
		goto out;
	status = 1;
	if (first < argc) {
		fprintf(stderr, "sipas-worker: unexpected argument '%s'\n",
			argv[first]);
		goto out;
	}
	if (!settings_read(cfg, s, &diag)) {
		fprintf(stderr, "sipas-worker: %s\n", diag.msg);
		goto out;
	}
	sipas_log_set_level(s->level);
	if (s->insecure)
		sipas_log(SIPAS_LOG_WARNING, "WRK-INSECURE",
			  "%s takes any collector, without encryption "
			  "(--insecure)",
			  s->o.bind);
	r.boot = cfg;
	s->o.reload = reload;
	s->o.reload_arg = &r;

	sipas_daemon_signals();
	rv = sipas_worker_new(&w, &s->o, &diag);
	s->o.allow = NULL; /* taken over, even on failure */
	if (rv != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "WRK-OPEN-FAIL", "%s", diag.msg);
		status = 2;
		goto out;
	}
	r.w = w;
	sipas_daemon_ready("serving");
	status = sipas_worker_run(w) == SIPAS_OK ? 0 : 2;
	sipas_daemon_stopping_notify();
out:
	sipas_worker_free(&w);
	settings_free(s);
	free(s);
	sipas_config_free(&cfg);
	return status;
}
