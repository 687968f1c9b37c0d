/*
 * sipas_worker.h - the worker: receives responses from collectors,
 * validates them against the store's definitions, counts them in group
 * commits and answers each with an ack after its commit returned.
 */
#ifndef SIPAS_WORKER_H
#define SIPAS_WORKER_H

#include <stddef.h>
#include <stdint.h>
#include "sipas_curve.h"
#include "sipas_err.h"

typedef struct sipas_worker_opts {
	const char *store_dir;
	const char *bind;       /* ROUTER endpoint collectors connect to */
	size_t batch_max;       /* responses per commit at most */
	size_t map_size;        /* initial LMDB map size, bytes (0: default) */
	int rcvhwm;             /* ZeroMQ receive high-water mark */
	int reader_check_s;     /* free dead readers' slots every N s (0: at
				 * open and on a full map only) */
	/* CURVE on the bind (docs/security.md): the worker's key pair and
	 * the collectors' public keys, or both NULL for a plain socket. The
	 * allowlist is taken over by sipas_worker_new (even when it fails);
	 * curve_clients is its path, for the log. */
	const sipas_curve_key *curve;
	sipas_curve_allow *allow;
	const char *curve_clients;
	/* Metrics (docs/admin.md, status): the Prometheus textfile rewritten
	 * every metrics_interval_s seconds; NULL: none. */
	const char *metrics_file;
	int metrics_interval_s;
	/* Called from the loop after a SIGHUP, between RELOADING=1 and
	 * READY=1 (NULL: nothing to reload); it may call
	 * sipas_worker_reconfigure. Definitions need no reload: they are
	 * read again at every batch. */
	void (*reload)(void *arg);
	void *reload_arg;
} sipas_worker_opts;

typedef struct sipas_worker sipas_worker;

/* Open the store, start the CURVE guard and bind. The caller frees the
 * worker. */
SIPAS_MUST_CHECK sipas_err sipas_worker_new(sipas_worker **out,
					    const sipas_worker_opts *o,
					    sipas_diag *diag);

/* Serve until sipas_daemon_stopping(); then commit what is held, answer
 * what is owed and return. */
SIPAS_MUST_CHECK sipas_err sipas_worker_run(sipas_worker *w);

/*
 * Apply what may change while serving: reader_check_s,
 * metrics_interval_s and, when the worker has CURVE, the allowlist
 * o->allow (taken over even when unused; NULL keeps the one in force;
 * connections already made stay). The other fields take a restart and
 * are ignored here.
 */
void sipas_worker_reconfigure(sipas_worker *w, const sipas_worker_opts *o);

void sipas_worker_free(sipas_worker **w);

#endif
