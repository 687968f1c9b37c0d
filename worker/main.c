/*
 * main.c - sipas-worker: parse options, open, READY=1, serve, STOPPING=1.
 */
#include <stdio.h>
#include <string.h>

#include "sipas_config.h"
#include "sipas_metrics.h"
#include "sipas_curve.h"
#include "sipas_daemon.h"
#include "sipas_log.h"
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

static const sipas_program program = {
	"sipas-worker", "[OPTIONS]",
	"Validates survey responses from collectors against the store's "
	"definitions,\ncounts them durably in LMDB and acknowledges each.",
	"Exit status: 0 clean stop, 1 usage or configuration error, 2 the "
	"store or\nthe socket could not be opened.",
	options, sizeof options / sizeof options[0]};

/*
 * The CURVE options (docs/security.md). A --bind other hosts can reach
 * takes collectors only with a key pair and an allowlist, unless the
 * operator says --insecure. Keys given for a local endpoint apply too.
 * False (after a line on stderr) for a configuration error.
 */
static bool curve_options(const sipas_config *cfg, sipas_worker_opts *o,
			  sipas_curve_key *pair)
{
	const char *key = sipas_config_str(cfg, "curve-key");
	const char *clients = sipas_config_str(cfg, "curve-clients");
	sipas_diag diag = {{0}};

	if (sipas_curve_is_none(key) != sipas_curve_is_none(clients)) {
		fprintf(stderr,
			"sipas-worker: --curve-key and --curve-clients go "
			"together: the worker's key pair, and the public keys "
			"of the collectors it takes\n");
		return false;
	}
	if (!sipas_curve_is_none(key)) {
		if (sipas_curve_load_pair(key, pair, &diag) != SIPAS_OK) {
			fprintf(stderr, "sipas-worker: --curve-key: %s\n",
				diag.msg);
			return false;
		}
		if (sipas_curve_allow_load(&o->allow, clients, &diag) !=
		    SIPAS_OK) {
			fprintf(stderr, "sipas-worker: --curve-clients: %s\n",
				diag.msg);
			return false;
		}
		o->curve = pair;
		o->curve_clients = clients;
		return true;
	}
	if (sipas_endpoint_is_local(o->bind))
		return true;
	if (!sipas_config_bool(cfg, "insecure")) {
		fprintf(stderr,
			"sipas-worker: --bind %s can be reached from other "
			"hosts: give --curve-key and --curve-clients (see "
			"docs/security.md), or --insecure to take any "
			"collector without encryption\n",
			o->bind);
		return false;
	}
	sipas_log(SIPAS_LOG_WARNING, "WRK-INSECURE",
		  "%s takes any collector, without encryption (--insecure)",
		  o->bind);
	return true;
}

int main(int argc, char **argv)
{
	sipas_config *cfg = NULL;
	sipas_worker *w = NULL;
	sipas_worker_opts o;
	sipas_diag diag = {{0}};
	sipas_curve_key pair;
	char store_dir[4096], metrics_path[4096 + 32];
	int first, status, level;
	sipas_err rv;

	memset(&o, 0, sizeof o);
	memset(&pair, 0, sizeof pair);
	if (!sipas_config_load(&program, argc, argv, &cfg, &first, &status))
		return status;
	status = 1;
	if (first < argc) {
		fprintf(stderr, "sipas-worker: unexpected argument '%s'\n",
			argv[first]);
		goto out;
	}
	level = sipas_log_parse_level(sipas_config_str(cfg, "log-level"));
	if (level < 0) {
		fprintf(stderr, "sipas-worker: --log-level: unknown level\n");
		goto out;
	}
	sipas_log_set_level(level);
	if (sipas_config_str(cfg, "store") != NULL)
		snprintf(store_dir, sizeof store_dir, "%s",
			 sipas_config_str(cfg, "store"));
	else if (sipas_store_default_dir(store_dir, sizeof store_dir) != SIPAS_OK)
		goto out;
	o.store_dir = store_dir;
	o.bind = sipas_config_str(cfg, "bind");
	o.batch_max = (size_t)sipas_config_int(cfg, "batch-max");
	o.map_size = (size_t)sipas_config_int(cfg, "map-size") << 20;
	o.rcvhwm = (int)sipas_config_int(cfg, "rcvhwm");
	/* By default the file sits in the store folder, where sipas-admin
	 * status finds it; "none" turns it off. */
	if (sipas_metrics_path(sipas_config_str(cfg, "metrics-file"), "store",
			       store_dir, "sipas-worker.prom", metrics_path,
			       sizeof metrics_path, &o.metrics_file) != SIPAS_OK) {
		fprintf(stderr, "sipas-worker: --store: too long\n");
		goto out;
	}
	o.metrics_interval_s =
	    (int)sipas_config_int(cfg, "metrics-interval-s");
	o.reader_check_s = (int)sipas_config_int(cfg, "reader-check-s");
	if (!curve_options(cfg, &o, &pair))
		goto out;

	sipas_daemon_signals();
	rv = sipas_worker_new(&w, &o, &diag);
	o.allow = NULL; /* taken over, even on failure */
	if (rv != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "WRK-OPEN-FAIL", "%s", diag.msg);
		status = 2;
		goto out;
	}
	sipas_daemon_ready("serving");
	status = sipas_worker_run(w) == SIPAS_OK ? 0 : 2;
	sipas_daemon_stopping_notify();
out:
	sipas_worker_free(&w);
	sipas_curve_allow_free(&o.allow);
	sipas_curve_key_wipe(&pair);
	sipas_config_free(&cfg);
	return status;
}
