/*
 * worker.c - receive, validate, batch, commit, ack (see sipas_worker.h).
 *
 * One thread. Messages are drained from the socket into one open write
 * transaction until the socket is empty or the batch is full, then the
 * batch is committed (one fsync) and every response in it is answered.
 * Under light load a commit holds one response (lowest latency); under
 * heavy load batches grow by themselves (highest throughput).
 */
#include "sipas_worker.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "sipas_batch.h"
#include "sipas_curve.h"
#include "sipas_metrics.h"
#include "sipas_daemon.h"
#include "sipas_log.h"
#include "sipas_oom.h"
#include "sipas_protocol.h"
#include "sipas_relay.h"
#include "sipas_store.h"
#include "sipas_validate.h"
#include "sipas_zmsg.h"

#define IDENTITY_MAX 256
#define BUSY_RETRY_MS 200
#define REOPEN_RETRY_MS 1000     /* between attempts to reopen the store */
#define MAP_WARN_REPEAT_MS 600000  /* WRK-MAP-80 again while above 80 % */
#define LOG_EVERY_MS 5000        /* one line per kind of store failure */
#define NOT_WRITTEN "The store could not write; nothing was stored."

/* Store failures repeat at every batch while a disk is full or failing:
 * each kind is logged at most once per LOG_EVERY_MS, with running totals. */
enum { LOG_COMMIT, LOG_BATCH, LOG_REOPEN, LOG_REOPEN_FAIL, LOG_METRICS,
       LOG_KINDS };

/* An ack owed to a collector once the open batch is committed. */
struct owed {
	unsigned char identity[IDENTITY_MAX];
	size_t idlen;
	unsigned char relay[SIPAS_RELAY_MAX];
	size_t relaylen;
	sipas_ack ack;
};

struct sipas_worker {
	sipas_worker_opts o;
	sipas_store_opts so;       /* map size follows the grown map */
	sipas_store *store;        /* NULL after a failed write, until reopened */
	sipas_batch *batch;        /* NULL with store */
	int64_t last_reopen;       /* last failed reopen attempt */
	void *zctx, *sock;
	sipas_curve_guard *guard;  /* handshake failures; ZAP with CURVE */
	sipas_response *resp;
	sipas_checked checked;
	struct owed *owed;
	size_t nowed;
	sipas_buf out;
	struct {
		uint64_t received, accepted, duplicate, rejected, busy,
			quarantined, bad_peer, commits, unroutable, reopens,
			readers_freed, store_failures;
	} n;
	/* The same events as n, for the metrics file (handles are owned by
	 * mx.m; NULL when a series was not registered). */
	struct {
		sipas_metrics *m;
		sipas_metrics_acks acks;
		sipas_counter *quarantined;
		sipas_gauge *map_used, *map_size;
		sipas_histogram *commit;
	} mx;
	int64_t log_at[LOG_KINDS];
	int64_t map_warned;        /* last WRK-MAP-80 (0: below 80 %) */
	int64_t last_reader_check;
};

/* Register every series at start (a series appearing late breaks rate()
 * over its first interval): each ack status, each rejection code. */
static void metrics_setup(sipas_worker *w)
{
	sipas_metrics *m = sipas_metrics_new("sipas-worker");

	w->mx.m = m;
	sipas_metrics_acks_register(m, &w->mx.acks);
	w->mx.quarantined = sipas_metrics_counter(
	    m, "sipas_quarantined_total", NULL, NULL, NULL);
	w->mx.map_used = sipas_metrics_gauge(m, "sipas_lmdb_map_used_bytes",
					     NULL, NULL, NULL);
	w->mx.map_size = sipas_metrics_gauge(m, "sipas_lmdb_map_size_bytes",
					     NULL, NULL, NULL);
	w->mx.commit = sipas_metrics_histogram(m, "sipas_commit_seconds", NULL,
					       NULL, NULL, NULL, 0);
}

/* The gauges and the counters kept elsewhere, read when the file is due. */
static void metrics_update(sipas_worker *w)
{
	if (w->store != NULL) {
		size_t map = 0, used = 0;

		sipas_store_usage(w->store, &map, &used);
		sipas_gauge_set(w->mx.map_used, (double)used);
		sipas_gauge_set(w->mx.map_size, (double)map);
	}
	sipas_metrics_acks_handshakes(&w->mx.acks, sipas_curve_denied(w->guard));
}

static bool log_due(sipas_worker *w, int kind);

/* From the main loop: rewrite the file when it is due. */
static void metrics_tick(sipas_worker *w)
{
	sipas_diag diag = {{0}};
	int64_t now = sipas_now_ms(),
		every = (int64_t)w->o.metrics_interval_s * 1000;

	if (w->o.metrics_file == NULL ||
	    sipas_metrics_due_in_ms(w->mx.m, now, every) > 0)
		return;
	metrics_update(w);
	if (sipas_metrics_maybe_write(w->mx.m, w->o.metrics_file, now, every,
				      &diag) != SIPAS_OK &&
	    log_due(w, LOG_METRICS))
		sipas_log(SIPAS_LOG_WARNING, "WRK-METRICS-FAIL", "%s",
			  diag.msg);
}

/* How long the main loop may sleep: a second, or until the file is due. */
static long poll_ms(const sipas_worker *w)
{
	int64_t due;

	if (w->o.metrics_file == NULL)
		return 1000;
	due = sipas_metrics_due_in_ms(w->mx.m, sipas_now_ms(),
				      (int64_t)w->o.metrics_interval_s * 1000);
	return due < 1000 ? (long)due : 1000;
}

/* Seconds on the monotonic clock, for the commit histogram. */
static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void sipas_worker_free(sipas_worker **wp)
{
	sipas_worker *w;

	if (wp == NULL || *wp == NULL)
		return;
	w = *wp;
	if (w->mx.m != NULL) {
		/* The file left behind reads as stopped, not as hung. */
		sipas_diag diag = {{0}};

		metrics_update(w);
		sipas_metrics_set_up(w->mx.m, false);
		if (w->o.metrics_file != NULL &&
		    sipas_metrics_write_file(w->mx.m, w->o.metrics_file,
					     &diag) != SIPAS_OK)
			sipas_log(SIPAS_LOG_WARNING, "WRK-METRICS-FAIL", "%s",
				  diag.msg);
		sipas_metrics_free(&w->mx.m);
	}
	sipas_batch_free(&w->batch);
	sipas_store_close(&w->store);
	if (w->sock != NULL)
		zmq_close(w->sock);
	/* After the socket: no handshake may go without its ZAP handler. */
	sipas_curve_guard_free(&w->guard);
	if (w->zctx != NULL)
		zmq_ctx_term(w->zctx);
	free(w->resp);
	free(w->owed);
	sipas_buf_free(&w->out);
	free(w);
	*wp = NULL;
}

sipas_err sipas_worker_new(sipas_worker **out, const sipas_worker_opts *o,
			   sipas_diag *diag)
{
	sipas_worker *w = sipas_xcalloc(1, sizeof *w);
	int one = 1, linger = 2000, hwm = o->rcvhwm;
	sipas_curve_guard_opts go = {"WRK", o->bind, o->allow, 0};
	sipas_err rv;

	*out = NULL;
	w->o = *o;
	w->o.allow = NULL;
	if ((o->curve == NULL) != (o->allow == NULL)) {
		sipas_diag_set(diag, "CURVE needs a key pair and an allowlist");
		rv = SIPAS_E_USAGE;
		goto out;
	}
	w->so.map_size = o->map_size;
	if (w->o.metrics_interval_s <= 0)
		w->o.metrics_interval_s = 5;
	metrics_setup(w);
	w->resp = sipas_xmalloc(sizeof *w->resp);
	w->owed = sipas_xcalloc(o->batch_max, sizeof *w->owed);
	sipas_buf_init(&w->out, 4096);
	rv = sipas_store_open(&w->store, o->store_dir, &w->so, diag);
	if (rv != SIPAS_OK)
		goto out;
	w->batch = sipas_batch_new(w->store);
	/* The open freed the slots of dead readers. */
	w->last_reader_check = sipas_now_ms();
	w->zctx = zmq_ctx_new();
	w->sock = w->zctx ? zmq_socket(w->zctx, ZMQ_ROUTER) : NULL;
	if (w->sock == NULL ||
	    zmq_setsockopt(w->sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one) ||
	    zmq_setsockopt(w->sock, ZMQ_RCVHWM, &hwm, sizeof hwm) ||
	    zmq_setsockopt(w->sock, ZMQ_SNDHWM, &hwm, sizeof hwm) ||
	    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof linger)) {
		sipas_diag_set(diag, "zmq: %s", zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	if (o->curve != NULL &&
	    (rv = sipas_curve_set_server(w->sock, o->curve, diag)) != SIPAS_OK)
		goto out;
	/* The guard (and with it the ZAP handler) before the bind: libzmq
	 * lets every CURVE client in while no handler is bound. */
	rv = sipas_curve_guard_new(&w->guard, w->zctx, w->sock, &go, diag);
	go.allow = NULL;
	if (rv != SIPAS_OK)
		goto out;
	if (zmq_bind(w->sock, o->bind) != 0) {
		sipas_diag_set(diag, "bind %s: %s", o->bind, zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	*out = w;
	w = NULL;
out:
	sipas_curve_allow_free(&go.allow);
	sipas_worker_free(&w);
	return rv;
}

/* Send one ack to a collector: [identity][relay][ack]. */
static void send_ack(sipas_worker *w, const struct owed *o)
{
	sipas_buf_reset(&w->out);
	if (sipas_ack_encode(&w->out, &o->ack) != SIPAS_OK)
		return;
	if (zmq_send(w->sock, o->identity, o->idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(w->sock, o->relay, o->relaylen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(w->sock, w->out.data, w->out.len, ZMQ_DONTWAIT) < 0)
		/* The collector went away or is flooded: it re-sends what
		 * it was not answered, and dedupe answers it then. */
		w->n.unroutable++;
}

static void count_ack(sipas_worker *w, const sipas_ack *a)
{
	sipas_metrics_acks_count(&w->mx.acks, (int)a->status, (int)a->code);
	switch (a->status) {
	case SIPAS_ACCEPTED:
		w->n.accepted++;
		break;
	case SIPAS_DUPLICATE:
		w->n.duplicate++;
		break;
	case SIPAS_REJECTED:
		w->n.rejected++;
		break;
	case SIPAS_BUSY:
		w->n.busy++;
		break;
	}
}

static bool log_due(sipas_worker *w, int kind)
{
	int64_t now = sipas_now_ms();

	if (w->log_at[kind] != 0 && now - w->log_at[kind] < LOG_EVERY_MS)
		return false;
	w->log_at[kind] = now;
	return true;
}

/* Free the reader slots of processes that died inside a read transaction
 * (a killed sipas-snapshot): such a slot pins every page freed since its
 * snapshot, so the file grows with each commit until the slot is freed. */
static void check_readers(sipas_worker *w)
{
	sipas_diag diag = {{0}};
	int cleared = 0;

	w->last_reader_check = sipas_now_ms();
	if (w->store == NULL)
		return;
	if (sipas_store_reader_check(w->store, &cleared, &diag) != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "WRK-READERS-FAIL", "%s", diag.msg);
		return;
	}
	if (cleared > 0) {
		w->n.readers_freed += (uint64_t)cleared;
		sipas_log(SIPAS_LOG_NOTICE, "WRK-READERS",
			  "freed %d reader slot(s) left by dead processes",
			  cleared);
	}
}

/*
 * A write to the store failed and the batch was aborted (no transaction of
 * this process is open). A full map is grown in place: LMDB reports it
 * before writing anything, and stale readers may be what filled it. Any
 * other failure (ENOSPC, EIO, MDB_PANIC, ...) closes the environment; it
 * is opened again before the next batch:
 *   - a failed meta-page write sets MDB_FATAL_ERROR on the environment and
 *     every later transaction fails with MDB_PANIC until it is reopened;
 *   - after a failed write or fsync the kernel may have dropped the dirty
 *     pages (and cleared the error), so neither the page cache nor LMDB's
 *     in-memory state (free list, last page) can be trusted to match the
 *     disk. Reopening re-reads the last meta page that reached the disk,
 *     which names only pages whose fsync succeeded.
 * The failed batch is never retried here: it was answered `busy`, nothing
 * of it is treated as stored, and its clients send it again.
 */
static void store_failed(sipas_worker *w, sipas_err rv)
{
	sipas_diag diag = {{0}};
	size_t used;

	if (rv != SIPAS_E_MAP_FULL) {
		sipas_batch_free(&w->batch);
		sipas_store_close(&w->store);
		w->last_reopen = 0;
		return;
	}
	check_readers(w);
	if (sipas_store_grow(w->store, &diag) != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "WRK-MAP-FULL", "%s", diag.msg);
		return;
	}
	sipas_store_usage(w->store, &w->so.map_size, &used);
	w->map_warned = 0;
	sipas_log(SIPAS_LOG_NOTICE, "WRK-MAP-GROWN", "LMDB map doubled to %zu MiB",
		  w->so.map_size >> 20);
}

/* Open the store closed by store_failed() again (at most once per
 * REOPEN_RETRY_MS while opening fails). Until it is open, every response
 * is answered busy. */
static void reopen_store(sipas_worker *w)
{
	sipas_diag diag = {{0}};
	int64_t now = sipas_now_ms();

	if (now - w->last_reopen < REOPEN_RETRY_MS)
		return;
	if (sipas_store_open(&w->store, w->o.store_dir, &w->so, &diag) !=
	    SIPAS_OK) {
		w->last_reopen = now;
		if (log_due(w, LOG_REOPEN_FAIL))
			sipas_log(SIPAS_LOG_ERR, "WRK-STORE-REOPEN-FAIL",
				  "%s; retrying every %d ms", diag.msg,
				  REOPEN_RETRY_MS);
		return;
	}
	w->batch = sipas_batch_new(w->store);
	w->n.reopens++;
	w->last_reader_check = now;
	if (log_due(w, LOG_REOPEN))
		sipas_log(SIPAS_LOG_NOTICE, "WRK-STORE-REOPENED",
			  "store reopened after a failed write (%llu reopens "
			  "so far)", (unsigned long long)w->n.reopens);
}

/* Warn when the map is over 80 % used: at once, then every
 * MAP_WARN_REPEAT_MS while it stays there. Cheap (reads the meta page),
 * so it runs after every commit. */
static void check_usage(sipas_worker *w)
{
	size_t map, used;
	int64_t now = sipas_now_ms();

	if (w->store == NULL)
		return;
	sipas_store_usage(w->store, &map, &used);
	if (used <= map / 10 * 8) {
		w->map_warned = 0;
		return;
	}
	if (w->map_warned != 0 && now - w->map_warned < MAP_WARN_REPEAT_MS)
		return;
	w->map_warned = now;
	sipas_log(SIPAS_LOG_WARNING, "WRK-MAP-80",
		  "LMDB map %zu%% used (%zu of %zu MiB); it is grown when full",
		  used * 100 / map, used >> 20, map >> 20);
}

static void set_busy(sipas_ack *a, const char *detail)
{
	a->status = SIPAS_BUSY;
	a->code = SIPAS_E_BUSY;
	a->retry_ms = BUSY_RETRY_MS;
	a->field[0] = '\0';
	snprintf(a->detail, sizeof a->detail, "%s", detail);
}

/* Commit the open batch and answer everything owed: the outcomes when the
 * commit returned, `busy` when it failed (nothing was stored). */
static void flush(sipas_worker *w)
{
	sipas_diag diag = {{0}};
	sipas_err rv = SIPAS_OK;

	if (w->batch != NULL && sipas_batch_is_open(w->batch)) {
		double t0 = mono_s();

		rv = sipas_batch_commit(w->batch, &diag);
		w->n.commits++;
		if (rv == SIPAS_OK)
			sipas_histogram_observe(w->mx.commit, mono_s() - t0);
	}
	if (rv != SIPAS_OK) {
		w->n.store_failures++;
		if (log_due(w, LOG_COMMIT))
			sipas_log(SIPAS_LOG_ERR, "WRK-COMMIT-FAIL",
				  "commit of %zu responses failed, answered "
				  "busy: %s (%llu store failures so far)",
				  w->nowed, diag.msg,
				  (unsigned long long)w->n.store_failures);
		store_failed(w, rv);
	} else {
		check_usage(w);
	}
	for (size_t i = 0; i < w->nowed; i++) {
		struct owed *o = &w->owed[i];

		/* Every owed answer depended on the commit, a quarantined
		 * `rejected` too: the spooling collector drops what it was
		 * answered, so the refusal must not be final until the
		 * quarantine entry is stored. */
		if (rv != SIPAS_OK)
			set_busy(&o->ack, "The store could not commit; nothing "
				 "was stored.");
		count_ack(w, &o->ack);
		send_ack(w, o);
	}
	w->nowed = 0;
}

/* Everything since begin is gone: what was owed becomes busy. */
static void lose_batch(sipas_worker *w, sipas_err rv, const char *why)
{
	w->n.store_failures++;
	if (log_due(w, LOG_BATCH))
		sipas_log(SIPAS_LOG_ERR, "WRK-BATCH-FAIL",
			  "%s (%llu store failures so far)", why,
			  (unsigned long long)w->n.store_failures);
	sipas_batch_abort(w->batch);
	for (size_t i = 0; i < w->nowed; i++)
		set_busy(&w->owed[i].ack, NOT_WRITTEN);
	store_failed(w, rv);
}

static void set_ack(sipas_ack *a, const char *id, sipas_status st,
		    sipas_err code)
{
	memset(a, 0, sizeof *a);
	a->status = st;
	a->code = code;
	snprintf(a->id, sizeof a->id, "%s", id);
	if (code == SIPAS_E_CONFLICT)
		snprintf(a->detail, sizeof a->detail,
			 "Response %s was already accepted with other content.",
			 id);
}

/* `busy` for response `id`, which was not stored. */
static void answer_busy(sipas_ack *a, const char *id)
{
	memset(a, 0, sizeof *a);
	snprintf(a->id, sizeof a->id, "%s", id);
	set_busy(a, NOT_WRITTEN);
}

/* Decide one response; the ack goes into o (sent now or after commit). */
static bool handle(sipas_worker *w, const sipas_relay *rl, const void *raw,
		   size_t len, struct owed *o)
{
	sipas_origin from = {rl->source, rl->received_ms};
	sipas_response *r = w->resp;
	const sipas_def *def = NULL;
	sipas_fault fault;
	sipas_outcome oc;
	sipas_diag diag = {{0}};
	sipas_err rv;
	bool spooled = (rl->flags & SIPAS_RELAY_SPOOLED) != 0;

	memset(&fault, 0, sizeof fault);
	rv = sipas_response_decode(raw, len, r, &fault);
	if (rv != SIPAS_OK) {
		sipas_ack_from_fault(&o->ack, &fault);
		return false;
	}
	if (w->batch == NULL) {
		/* The store is waiting to be reopened. */
		answer_busy(&o->ack, r->id);
		return false;
	}
	rv = sipas_batch_begin(w->batch, &diag);
	if (rv == SIPAS_OK)
		rv = sipas_batch_definition(w->batch, r->campaign, &def, NULL,
					    &diag);
	if (rv != SIPAS_OK) {
		lose_batch(w, rv, diag.msg);
		answer_busy(&o->ack, r->id);
		return false;
	}
	if (def == NULL) {
		snprintf(fault.id, sizeof fault.id, "%s", r->id);
		sipas_fault_set(&fault, SIPAS_E_UNKNOWN_CAMPAIGN, "campaign",
				"Campaign %.64s is not defined in the store.",
				r->campaign);
		rv = fault.code;
	} else {
		rv = sipas_validate(def, r, &w->checked, &fault);
	}
	if (rv != SIPAS_OK && !spooled) {
		/* Refused and nothing stored: answer at once. */
		sipas_ack_from_fault(&o->ack, &fault);
		return false;
	}
	if (rv != SIPAS_OK) {
		rv = sipas_batch_quarantine(w->batch, r, raw, len, &from, &fault,
					    &oc, &diag);
		if (rv == SIPAS_OK && oc.status == SIPAS_REJECTED &&
		    oc.code == fault.code) {
			sipas_ack_from_fault(&o->ack, &fault);
			w->n.quarantined++;
			sipas_counter_inc(w->mx.quarantined);
			return true;
		}
	} else {
		rv = sipas_batch_add(w->batch, def, &w->checked, r, raw, len,
				     &from, &oc, &diag);
	}
	if (rv != SIPAS_OK) {
		lose_batch(w, rv, diag.msg);
		answer_busy(&o->ack, r->id);
		return false;
	}
	set_ack(&o->ack, r->id, oc.status, oc.code);
	return true;
}

/* Read one message [identity][relay][response] without blocking.
 * Returns false when the socket is empty. */
static bool receive_one(sipas_worker *w)
{
	zmq_msg_t part[3];
	sipas_relay rl;
	struct owed *o;
	bool extra;
	int np;

	if (!sipas_zmsg_recv(w->sock, part, 3, &np, &extra))
		return false;
	w->n.received++;
	sipas_counter_inc(w->mx.acks.received);
	if (extra || np != 3 || zmq_msg_size(&part[0]) > IDENTITY_MAX ||
	    sipas_relay_decode(zmq_msg_data(&part[1]), zmq_msg_size(&part[1]),
			       &rl) != SIPAS_OK) {
		/* Not a collector of this version: nothing to answer. */
		w->n.bad_peer++;
		goto out;
	}
	o = &w->owed[w->nowed];
	o->idlen = zmq_msg_size(&part[0]);
	memcpy(o->identity, zmq_msg_data(&part[0]), o->idlen);
	o->relaylen = zmq_msg_size(&part[1]);
	memcpy(o->relay, zmq_msg_data(&part[1]), o->relaylen);
	if (handle(w, &rl, zmq_msg_data(&part[2]), zmq_msg_size(&part[2]), o)) {
		w->nowed++;
	} else {
		count_ack(w, &o->ack);
		send_ack(w, o);
	}
out:
	sipas_zmsg_close(part, np);
	return true;
}

void sipas_worker_reconfigure(sipas_worker *w, const sipas_worker_opts *o)
{
	sipas_curve_allow *a = o->allow;

	w->o.reader_check_s = o->reader_check_s;
	if (o->metrics_interval_s > 0)
		w->o.metrics_interval_s = o->metrics_interval_s;
	if (a == NULL)
		return;
	if (w->o.curve == NULL) {
		sipas_curve_allow_free(&a);
		return;
	}
	sipas_log(SIPAS_LOG_NOTICE, "WRK-CURVE-CLIENTS",
		  "%zu collector key(s) allowed, from %s",
		  sipas_curve_allow_count(a),
		  o->curve_clients != NULL ? o->curve_clients : "the list");
	sipas_curve_guard_reload(w->guard, a);
}

sipas_err sipas_worker_run(sipas_worker *w)
{
	zmq_pollitem_t item = {w->sock, 0, ZMQ_POLLIN, 0};
	sipas_curve_stats cs;

	sipas_log(SIPAS_LOG_NOTICE, "WRK-START", "serving %s (%s), store %s",
		  w->o.bind, w->o.curve != NULL ? "CURVE" : "no CURVE",
		  w->o.store_dir);
	while (!sipas_daemon_stopping()) {
		int n = zmq_poll(&item, 1, sipas_daemon_poll_ms(poll_ms(w)));
		/* Kept before the notifications below, which may set errno:
		 * a signal (EINTR) must never end the loop. */
		int err = errno;

		sipas_daemon_watchdog();
		sipas_daemon_reload_if_asked(w->o.reload, w->o.reload_arg);
		if (n < 0 && err != EINTR)
			break;
		while (w->nowed < w->o.batch_max && receive_one(w))
			;
		if (w->nowed > 0 ||
		    (w->batch != NULL && sipas_batch_is_open(w->batch)))
			flush(w);
		if (w->store == NULL)
			reopen_store(w);
		metrics_tick(w);
		if (w->o.reader_check_s > 0 &&
		    sipas_now_ms() - w->last_reader_check >=
			    (int64_t)w->o.reader_check_s * 1000)
			check_readers(w);
	}
	/* Stop taking work; answer what is owed. */
	flush(w);
	sipas_curve_guard_stats(w->guard, &cs);
	sipas_log(SIPAS_LOG_NOTICE, "WRK-STOP",
		  "received %llu, accepted %llu, duplicate %llu, rejected %llu "
		  "(quarantined %llu), busy %llu, commits %llu, unroutable %llu, "
		  "bad peers %llu, store reopens %llu, reader slots freed %llu, "
		  "handshakes denied %llu, failed %llu",
		  (unsigned long long)w->n.received,
		  (unsigned long long)w->n.accepted,
		  (unsigned long long)w->n.duplicate,
		  (unsigned long long)w->n.rejected,
		  (unsigned long long)w->n.quarantined,
		  (unsigned long long)w->n.busy,
		  (unsigned long long)w->n.commits,
		  (unsigned long long)w->n.unroutable,
		  (unsigned long long)w->n.bad_peer,
		  (unsigned long long)w->n.reopens,
		  (unsigned long long)w->n.readers_freed,
		  (unsigned long long)cs.denied, (unsigned long long)cs.failed);
	return SIPAS_OK;
}
