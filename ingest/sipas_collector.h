/*
 * sipas_collector.h - the collector daemon behind sipas-collector's main
 * (collector.c parses the options; collector_loop.c is the daemon).
 *
 * A collector binds a ROUTER for clients and connects one DEALER to every
 * worker. Each response map a client sends is either answered at once
 * (what the codec refuses, back-pressure, a copy of a response still in
 * the spool) or forwarded to a worker with a fresh token; the worker's ack
 * is relayed to the client unchanged (inside one array, in element order,
 * for an array request). With a spool, a response no worker can take is
 * written durably and acked `accepted`, then delivered when a worker is
 * back. See docs/collector.md.
 */
#ifndef SIPAS_COLLECTOR_H
#define SIPAS_COLLECTOR_H

#include <stddef.h>
#include <stdint.h>
#include "sipas_curve.h"
#include "sipas_err.h"

typedef struct sipas_collector_opts {
	const char *bind;           /* client endpoint */
	const char *const *workers; /* worker endpoints */
	size_t nworkers;
	const char *source;          /* stamped in every relay header */
	const char *spool_dir;       /* NULL: no spool */
	uint32_t max_inflight;       /* responses waiting for a worker ack */
	uint64_t max_inflight_bytes; /* and their bytes */
	uint64_t spool_max_bytes;    /* 0 = spool default */
	int64_t resend_ms;           /* re-send an unanswered response after */
	int64_t give_up_ms;          /* forget an unanswered response after */
	int64_t stop_wait_ms;        /* on SIGTERM, wait for owed acks */
	const char *metrics_file;    /* Prometheus textfile; NULL: none */
	int metrics_interval_s;      /* rewrite it every this many seconds */
	/* CURVE (docs/security.md). curve: this collector's key pair, its
	 * server key on --bind and its client key toward workers (NULL:
	 * none). allow: the client keys allowed on --bind, taken over by
	 * sipas_collector_open (even when it fails); NULL: a plain bind.
	 * curve_clients: the allowlist's path, for the log.
	 * worker_keys: nworkers entries, each the public key of that
	 * worker (NULL: a plain connection), or NULL for none at all. */
	const sipas_curve_key *curve;
	sipas_curve_allow *allow;
	const char *curve_clients;
	const sipas_curve_key *const *worker_keys;
	/* Called from the loop after a SIGHUP, between RELOADING=1 and
	 * READY=1 (NULL: nothing to reload); it may call
	 * sipas_collector_reconfigure. */
	void (*reload)(void *arg);
	void *reload_arg;
} sipas_collector_opts;

typedef struct sipas_collector sipas_collector;

/*
 * Open the spool (when asked), bind and connect the sockets. The strings
 * of *o are borrowed for the collector's life. SIPAS_E_USAGE for an
 * endpoint ZeroMQ does not accept; SIPAS_E_IO when the client socket
 * cannot be bound or the spool cannot be opened; the reason in diag.
 */
SIPAS_MUST_CHECK sipas_err sipas_collector_open(sipas_collector **out,
                                                const sipas_collector_opts *o,
                                                sipas_diag *diag);

/* Run the loop until SIGTERM/SIGINT (sipas_daemon_signals installed by the
 * caller), answer what is owed within stop_wait_ms, return. READY=1 and
 * STOPPING=1 are sent from here. */
void sipas_collector_run(sipas_collector *c);

/*
 * Apply what may change while serving: max_inflight_bytes, resend_ms,
 * give_up_ms, metrics_interval_s and, when --bind has CURVE, the
 * allowlist o->allow (taken over even when unused; NULL keeps the one in
 * force; connections already made stay). Responses already waiting keep
 * their place: a lower ceiling answers `busy` until they drain. The other
 * fields take a restart and are ignored here.
 */
void sipas_collector_reconfigure(sipas_collector *c,
                                 const sipas_collector_opts *o);

/* Close the sockets (client answers get a bounded linger) and the spool. */
void sipas_collector_close(sipas_collector **c);

#endif
