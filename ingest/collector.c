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
#include <string.h>

#include "sipas_collector.h"
#include "sipas_config.h"
#include "sipas_curve.h"
#include "sipas_daemon.h"
#include "sipas_log.h"
#include "sipas_relay.h"
#include "sipas_metrics.h"
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
};

/* Where the metrics file goes: by default beside the spool, where it
 * lives as long as the collector's state; none without a spool. */
static bool metrics_option(const sipas_config *cfg, sipas_collector_opts *o)
{
	static char path[4096 + 32];

	o->metrics_interval_s = (int)sipas_config_int(cfg, "metrics-interval-s");
	if (sipas_metrics_path(sipas_config_str(cfg, "metrics-file"), "spool",
	                       o->spool_dir, "sipas-collector.prom", path,
	                       sizeof path, &o->metrics_file) != SIPAS_OK) {
		fprintf(stderr, "%s: --spool: too long\n", program.name);
		return false;
	}
	return true;
}

/* Keys read from the files the options name; wiped at exit. */
struct keys {
	sipas_curve_key own;
	sipas_curve_key worker[32];
	const sipas_curve_key *per_worker[32];
};

/*
 * The CURVE options (docs/security.md). An endpoint other hosts can reach
 * (--bind, or a --worker) needs keys unless the operator says --insecure;
 * keys given for a local endpoint apply too. curve-key alone does
 * nothing, and is refused so that nobody believes CURVE is on.
 */
static bool check_curve(const sipas_config *cfg, sipas_collector_opts *o,
                        struct keys *k)
{
	const char *key = sipas_config_str(cfg, "curve-key");
	const char *clients = sipas_config_str(cfg, "curve-clients");
	bool insecure = sipas_config_bool(cfg, "insecure");
	size_t nwk = 0, nset = 0;
	const char *const *wk = sipas_config_list(cfg, "worker-key", &nwk);
	sipas_diag diag = {{0}};

	if (nwk != 1 && nwk != o->nworkers) {
		fprintf(stderr,
		        "%s: --worker-key: %zu given for %zu workers (give one "
		        "for all, or one per --worker in the same order)\n",
		        program.name, nwk, o->nworkers);
		return false;
	}
	for (size_t i = 0; i < o->nworkers; i++) {
		const char *path = wk[nwk == 1 ? 0 : i];

		if (sipas_curve_is_none(path))
			continue;
		if (sipas_curve_load_public(path, &k->worker[i], &diag) !=
		    SIPAS_OK) {
			fprintf(stderr, "%s: --worker-key: %s\n", program.name,
			        diag.msg);
			return false;
		}
		k->per_worker[i] = &k->worker[i];
		nset++;
	}
	if (!sipas_curve_is_none(key)) {
		if (sipas_curve_is_none(clients) && nset == 0) {
			fprintf(stderr,
			        "%s: --curve-key alone does nothing: add "
			        "--curve-clients (CURVE on --bind) and/or "
			        "--worker-key (CURVE to the workers)\n",
			        program.name);
			return false;
		}
		if (sipas_curve_load_pair(key, &k->own, &diag) != SIPAS_OK) {
			fprintf(stderr, "%s: --curve-key: %s\n", program.name,
			        diag.msg);
			return false;
		}
		o->curve = &k->own;
	} else if (!sipas_curve_is_none(clients) || nset > 0) {
		fprintf(stderr,
		        "%s: --%s needs --curve-key, this collector's own key "
		        "pair\n",
		        program.name,
		        sipas_curve_is_none(clients) ? "worker-key"
		                                     : "curve-clients");
		return false;
	}
	if (!sipas_curve_is_none(clients)) {
		if (sipas_curve_allow_load(&o->allow, clients, &diag) !=
		    SIPAS_OK) {
			fprintf(stderr, "%s: --curve-clients: %s\n",
			        program.name, diag.msg);
			return false;
		}
		o->curve_clients = clients;
	}
	if (nset > 0)
		o->worker_keys = k->per_worker;
	/* What other hosts can reach without keys. */
	if (o->allow == NULL && !sipas_endpoint_is_local(o->bind)) {
		if (!insecure) {
			fprintf(stderr,
			        "%s: --bind %s can be reached from other hosts: "
			        "give --curve-key and --curve-clients (see "
			        "docs/security.md), or --insecure to take any "
			        "client without encryption\n",
			        program.name, o->bind);
			return false;
		}
		sipas_log(SIPAS_LOG_WARNING, "COL-INSECURE",
		          "%s takes any client, without encryption "
		          "(--insecure)",
		          o->bind);
	}
	for (size_t i = 0; i < o->nworkers; i++) {
		if (k->per_worker[i] != NULL ||
		    sipas_endpoint_is_local(o->workers[i]))
			continue;
		if (!insecure) {
			fprintf(stderr,
			        "%s: --worker %s is on another host: give "
			        "--worker-key (its public key) and --curve-key "
			        "(see docs/security.md), or --insecure to send "
			        "responses there without encryption\n",
			        program.name, o->workers[i]);
			return false;
		}
		sipas_log(SIPAS_LOG_WARNING, "COL-INSECURE",
		          "responses go to %s without encryption (--insecure)",
		          o->workers[i]);
	}
	return true;
}

/* Check the options main cannot leave to the collector; print why not. */
static bool check(const sipas_config *cfg, sipas_collector_opts *o,
                  struct keys *k)
{
	const char *level = sipas_config_str(cfg, "log-level");
	int lv = sipas_log_parse_level(level);

	if (lv < 0) {
		fprintf(stderr,
		        "%s: --log-level: '%s' is not one of err, warning, "
		        "notice, info, debug\n",
		        program.name, level);
		return false;
	}
	sipas_log_set_level(lv);
	o->bind = sipas_config_str(cfg, "bind");
	o->workers = sipas_config_list(cfg, "worker", &o->nworkers);
	o->source = sipas_config_str(cfg, "source");
	o->spool_dir = sipas_config_str(cfg, "spool");
	if (!sipas_id_valid(o->source, strlen(o->source), SIPAS_SOURCE_MAX)) {
		fprintf(stderr,
		        "%s: --source: '%s' is not 1-%d of A-Za-z0-9._:-\n",
		        program.name, o->source, SIPAS_SOURCE_MAX);
		return false;
	}
	if (o->nworkers == 0) {
		fprintf(stderr, "%s: --worker: at least one is needed\n",
		        program.name);
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
	if (!metrics_option(cfg, o))
		return false;
	return check_curve(cfg, o, k);
}

int main(int argc, char **argv)
{
	sipas_config *cfg = NULL;
	sipas_collector *c = NULL;
	sipas_collector_opts o;
	struct keys k;
	sipas_diag diag = {{0}};
	int status = EXIT_USAGE, first = 0;
	sipas_err rv;

	memset(&o, 0, sizeof o);
	memset(&k, 0, sizeof k);
	if (!sipas_config_load(&program, argc, argv, &cfg, &first, &status))
		return status;
	status = EXIT_USAGE;
	if (first < argc) {
		fprintf(stderr, "%s: %s: unexpected argument (see --help)\n",
		        program.name, argv[first]);
		goto out;
	}
	if (!check(cfg, &o, &k))
		goto out;
	sipas_daemon_signals();
	rv = sipas_collector_open(&c, &o, &diag);
	o.allow = NULL; /* taken over, even on failure */
	if (rv != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "COL-OPEN-FAIL", "%s", diag.msg);
		status = rv == SIPAS_E_USAGE ? EXIT_USAGE : EXIT_RESOURCE;
		goto out;
	}
	sipas_collector_run(c);
	status = 0;
out:
	sipas_collector_close(&c);
	sipas_curve_allow_free(&o.allow);
	sipas_curve_key_wipe(&k.own);
	sipas_config_free(&cfg);
	return status;
}
