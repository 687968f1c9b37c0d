/*
 * collector.c - sipas-collector: takes survey responses from clients over
 * ZeroMQ, answers what it can judge alone, forwards the rest to workers and
 * relays their acks; with --spool it keeps taking responses while no worker
 * is reachable. The daemon itself is collector_loop.c; this file is its
 * option table and main.
 *
 * Exit status: 0 clean stop, 1 usage or configuration error, 2 the client
 * socket cannot be bound or the spool cannot be opened.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_collector.h"
#include "sipas_config.h"
#include "sipas_curve.h"
#include "sipas_daemon.h"
#include "sipas_log.h"
#include "sipas_relay.h"
#include "sipas_metrics.h"
#include "sipas_oom.h"
#include "sipas_text.h"

#define EXIT_USAGE 1
#define EXIT_RESOURCE 2

static const sipas_option options[] = {
    {"bind", 'b', SIPAS_OPT_STRING, "ENDPOINT", "tcp://127.0.0.1:7300", 0, 0,
     "where clients reach this collector (ROUTER)"},
    {"worker", 'w', SIPAS_OPT_LIST, "ENDPOINT", "tcp://127.0.0.1:7301", 0, 0,
     "a worker to forward to; repeat for several"},
    {"source", 's', SIPAS_OPT_STRING, "NAME", "default", 0, 0,
     "name of this source, stamped on every response (1-64 of A-Za-z0-9._:-)"},
    {"spool", 0, SIPAS_OPT_STRING, "DIR", NULL, 0, 0,
     "keep and ack responses no worker can take now; deliver them later"},
    {"spool-max-mb", 0, SIPAS_OPT_INT, "N", "1024", 1, 1048576,
     "size ceiling of the spool folder in MiB"},
    {"max-inflight", 0, SIPAS_OPT_INT, "N", "10000", 1, 1000000,
     "responses waiting for a worker; past it clients get `busy`"},
    {"max-inflight-mb", 0, SIPAS_OPT_INT, "N", "64", 1, 65536,
     "bytes of responses waiting for a worker, in MiB"},
    {"resend-ms", 0, SIPAS_OPT_INT, "MS", "3000", 100, 600000,
     "re-send a response a worker has not answered after MS"},
    {"give-up-ms", 0, SIPAS_OPT_INT, "MS", "60000", 1000, 86400000,
     "forget an unanswered response after MS (the client re-sends)"},
    {"curve-key", 0, SIPAS_OPT_STRING, "FILE", "none", 0, 0,
     "this collector's CURVE secret key file (sipas-admin keygen)"},
    {"curve-clients", 0, SIPAS_OPT_STRING, "PATH", "none", 0, 0,
     "CURVE on --bind: client public keys allowed, a folder of *.pub or "
     "one file"},
    {"worker-key", 0, SIPAS_OPT_LIST, "FILE", "none", 0, 0,
     "CURVE to the workers: a worker's public key file, one for all or "
     "one per --worker"},
    {"insecure", 0, SIPAS_OPT_BOOL, NULL, NULL, 0, 0,
     "allow endpoints other hosts can reach without CURVE"},
    {"metrics-file", 0, SIPAS_OPT_STRING, "PATH", "spool", 0, 0,
     "Prometheus textfile of the counters (spool: SPOOL/sipas-collector.prom"
     " when --spool is set; none: no file)"},
    {"metrics-interval-s", 0, SIPAS_OPT_INT, "S", "5", 1, 3600,
     "rewrite the metrics file every S seconds"},
    {"log-level", 'l', SIPAS_OPT_STRING, "LEVEL", "info", 0, 0,
     "err, warning, notice, info or debug"},
};

/* The keys SIGHUP applies at once (the rest wait for a restart). */
static const char *const live[] = {
    "log-level", "max-inflight-mb", "resend-ms", "give-up-ms",
    "metrics-interval-s", "curve-clients", NULL};

static const sipas_program program = {
    .name = "sipas-collector",
    .synopsis = "[OPTIONS]",
    .about =
        "Take survey responses from clients (ZeroMQ, msgpack), answer each\n"
        "with an ack, and forward them to sipas-worker.",
    .epilog = "Exit status: 0 clean stop (SIGTERM, SIGINT), 1 usage or "
              "configuration\n"
              "error, 2 the client endpoint cannot be bound or the spool "
              "cannot be opened.",
    .options = options,
    .noptions = sizeof options / sizeof options[0],
    .live = live,
};

/* What a configuration gives: the collector's options, the keys read
 * from the files they name (wiped when done) and what to warn of. Read
 * at start and again on SIGHUP. */
struct settings {
	sipas_collector_opts o;
	int level;
	sipas_curve_key own;
	sipas_curve_key worker[32];
	const sipas_curve_key *per_worker[32];
	/* Reachable endpoints without CURVE, allowed by --insecure. */
	bool plain_bind;
	const char *plain_workers[32];
	size_t nplain;
	char metrics_path[4096 + 32];
};

static void settings_free(struct settings *s)
{
	sipas_curve_allow_free(&s->o.allow);
	sipas_curve_key_wipe(&s->own);
}

/*
 * The CURVE options (docs/security.md). An endpoint other hosts can reach
 * (--bind, or a --worker) needs keys unless the operator says --insecure;
 * keys given for a local endpoint apply too. curve-key alone does
 * nothing, and is refused so that nobody believes CURVE is on.
 */
static bool check_curve(const sipas_config *cfg, struct settings *s,
                        sipas_diag *diag)
{
	sipas_collector_opts *o = &s->o;
	const char *key = sipas_config_str(cfg, "curve-key");
	const char *clients = sipas_config_str(cfg, "curve-clients");
	bool insecure = sipas_config_bool(cfg, "insecure");
	size_t nwk = 0, nset = 0;
	const char *const *wk = sipas_config_list(cfg, "worker-key", &nwk);
	sipas_diag why = {{0}};

	if (nwk != 1 && nwk != o->nworkers) {
		sipas_diag_set(diag,
		               "--worker-key: %zu given for %zu workers (give "
		               "one for all, or one per --worker in the same "
		               "order)",
		               nwk, o->nworkers);
		return false;
	}
	for (size_t i = 0; i < o->nworkers; i++) {
		const char *path = wk[nwk == 1 ? 0 : i];

		if (sipas_curve_is_none(path))
			continue;
		if (sipas_curve_load_public(path, &s->worker[i], &why) !=
		    SIPAS_OK) {
			sipas_diag_set(diag, "--worker-key: %s", why.msg);
			return false;
		}
		s->per_worker[i] = &s->worker[i];
		nset++;
	}
	if (!sipas_curve_is_none(key)) {
		if (sipas_curve_is_none(clients) && nset == 0) {
			sipas_diag_set(diag,
			               "--curve-key alone does nothing: add "
			               "--curve-clients (CURVE on --bind) and/or "
			               "--worker-key (CURVE to the workers)");
			return false;
		}
		if (sipas_curve_load_pair(key, &s->own, &why) != SIPAS_OK) {
			sipas_diag_set(diag, "--curve-key: %s", why.msg);
			return false;
		}
		o->curve = &s->own;
	} else if (!sipas_curve_is_none(clients) || nset > 0) {
		sipas_diag_set(diag,
		               "--%s needs --curve-key, this collector's own "
		               "key pair",
		               sipas_curve_is_none(clients) ? "worker-key"
		                                            : "curve-clients");
		return false;
	}
	if (!sipas_curve_is_none(clients)) {
		if (sipas_curve_allow_load(&o->allow, clients, &why) !=
		    SIPAS_OK) {
			sipas_diag_set(diag, "--curve-clients: %s", why.msg);
			return false;
		}
		o->curve_clients = clients;
	}
	if (nset > 0)
		o->worker_keys = s->per_worker;
	/* What other hosts can reach without keys. */
	if (o->allow == NULL && !sipas_endpoint_is_local(o->bind)) {
		if (!insecure) {
			sipas_diag_set(diag,
			               "--bind %s can be reached from other "
			               "hosts: give --curve-key and "
			               "--curve-clients (see docs/security.md), "
			               "or --insecure to take any client without "
			               "encryption",
			               o->bind);
			return false;
		}
		s->plain_bind = true;
	}
	for (size_t i = 0; i < o->nworkers; i++) {
		if (s->per_worker[i] != NULL ||
		    sipas_endpoint_is_local(o->workers[i]))
			continue;
		if (!insecure) {
			sipas_diag_set(diag,
			               "--worker %s is on another host: give "
			               "--worker-key (its public key) and "
			               "--curve-key (see docs/security.md), or "
			               "--insecure to send responses there "
			               "without encryption",
			               o->workers[i]);
			return false;
		}
		s->plain_workers[s->nplain++] = o->workers[i];
	}
	return true;
}

/* Read cfg into s (zeroed by the caller); false with the reason in diag.
 * Strings in s->o point into cfg and s. */
static bool settings_read(const sipas_config *cfg, struct settings *s,
                          sipas_diag *diag)
{
	sipas_collector_opts *o = &s->o;
	const char *level = sipas_config_str(cfg, "log-level");

	s->level = sipas_log_parse_level(level);
	if (s->level < 0) {
		sipas_diag_set(diag,
		               "--log-level: '%s' is not one of err, warning, "
		               "notice, info, debug",
		               level);
		return false;
	}
	o->bind = sipas_config_str(cfg, "bind");
	o->workers = sipas_config_list(cfg, "worker", &o->nworkers);
	o->source = sipas_config_str(cfg, "source");
	o->spool_dir = sipas_config_str(cfg, "spool");
	if (!sipas_id_valid(o->source, strlen(o->source), SIPAS_SOURCE_MAX)) {
		sipas_diag_set(diag, "--source: '%s' is not 1-%d of "
		                     "A-Za-z0-9._:-",
		               o->source, SIPAS_SOURCE_MAX);
		return false;
	}
	if (o->nworkers == 0) {
		sipas_diag_set(diag, "--worker: at least one is needed");
		return false;
	}
	if (o->spool_dir != NULL && o->spool_dir[0] == '\0')
		o->spool_dir = NULL;
	o->max_inflight = (uint32_t)sipas_config_int(cfg, "max-inflight");
	o->max_inflight_bytes =
	    (uint64_t)sipas_config_int(cfg, "max-inflight-mb") << 20;
	o->spool_max_bytes = (uint64_t)sipas_config_int(cfg, "spool-max-mb")
	                     << 20;
	o->resend_ms = sipas_config_int(cfg, "resend-ms");
	o->give_up_ms = sipas_config_int(cfg, "give-up-ms");
	o->stop_wait_ms = 8000;
	/* By default the metrics file goes beside the spool, where it lives
	 * as long as the collector's state; none without a spool. */
	o->metrics_interval_s = (int)sipas_config_int(cfg, "metrics-interval-s");
	if (sipas_metrics_path(sipas_config_str(cfg, "metrics-file"), "spool",
	                       o->spool_dir, "sipas-collector.prom",
	                       s->metrics_path, sizeof s->metrics_path,
	                       &o->metrics_file) != SIPAS_OK) {
		sipas_diag_set(diag, "--spool: too long");
		return false;
	}
	return check_curve(cfg, s, diag);
}

/* What SIGHUP changes (sipas_daemon_reload_if_asked calls it). */
struct running {
	const sipas_config *boot; /* what the collector was started with */
	sipas_collector *c;
};

/* Apply the live keys of next, or nothing when it is wrong. */
static bool apply(const sipas_config *next, void *arg, sipas_diag *diag)
{
	struct running *r = arg;
	struct settings *s = sipas_xcalloc(1, sizeof *s);
	bool ok = settings_read(next, s, diag);

	if (ok) {
		sipas_log_set_level(s->level);
		sipas_collector_reconfigure(r->c, &s->o);
		s->o.allow = NULL; /* taken over */
	}
	settings_free(s);
	free(s);
	return ok;
}

static void reload(void *arg)
{
	struct running *r = arg;

	sipas_daemon_reload_config(r->boot, "COL", apply, r);
}

int main(int argc, char **argv)
{
	sipas_config *cfg = NULL;
	sipas_collector *c = NULL;
	struct settings *s = sipas_xcalloc(1, sizeof *s);
	struct running r = {0};
	sipas_diag diag = {{0}};
	int status = EXIT_USAGE, first = 0;
	sipas_err rv;

	if (!sipas_config_load(&program, argc, argv, &cfg, &first, &status))
		goto out;
	status = EXIT_USAGE;
	if (first < argc) {
		fprintf(stderr, "%s: %s: unexpected argument (see --help)\n",
		        program.name, argv[first]);
		goto out;
	}
	if (!settings_read(cfg, s, &diag)) {
		fprintf(stderr, "%s: %s\n", program.name, diag.msg);
		goto out;
	}
	sipas_log_set_level(s->level);
	if (s->plain_bind)
		sipas_log(SIPAS_LOG_WARNING, "COL-INSECURE",
		          "%s takes any client, without encryption "
		          "(--insecure)",
		          s->o.bind);
	for (size_t i = 0; i < s->nplain; i++)
		sipas_log(SIPAS_LOG_WARNING, "COL-INSECURE",
		          "responses go to %s without encryption (--insecure)",
		          s->plain_workers[i]);
	r.boot = cfg;
	s->o.reload = reload;
	s->o.reload_arg = &r;
	sipas_daemon_signals();
	rv = sipas_collector_open(&c, &s->o, &diag);
	s->o.allow = NULL; /* taken over, even on failure */
	if (rv != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "COL-OPEN-FAIL", "%s", diag.msg);
		status = rv == SIPAS_E_USAGE ? EXIT_USAGE : EXIT_RESOURCE;
		goto out;
	}
	r.c = c;
	sipas_collector_run(c);
	status = 0;
out:
	sipas_collector_close(&c);
	settings_free(s);
	free(s);
	sipas_config_free(&cfg);
	return status;
}
