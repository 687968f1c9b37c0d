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
#include <zmq.h>

#include "sipas_batch.h"
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
	sipas_store *store;
	sipas_batch *batch;
	void *zctx, *sock;
	sipas_response *resp;
	sipas_checked checked;
	struct owed *owed;
	size_t nowed;
	sipas_buf out;
	struct {
		uint64_t received, accepted, duplicate, rejected, busy,
			quarantined, bad_peer, commits, unroutable;
	} n;
	int64_t last_usage_check;
};

void sipas_worker_free(sipas_worker **wp)
{
	sipas_worker *w;

	if (wp == NULL || *wp == NULL)
		return;
	w = *wp;
	sipas_batch_free(&w->batch);
	sipas_store_close(&w->store);
	if (w->sock != NULL)
		zmq_close(w->sock);
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
	sipas_store_opts so = {.map_size = o->map_size};
	sipas_worker *w = sipas_xcalloc(1, sizeof *w);
	int one = 1, linger = 2000, hwm = o->rcvhwm;
	sipas_err rv;

	*out = NULL;
	w->o = *o;
	w->resp = sipas_xmalloc(sizeof *w->resp);
	w->owed = sipas_xcalloc(o->batch_max, sizeof *w->owed);
	sipas_buf_init(&w->out, 4096);
	rv = sipas_store_open(&w->store, o->store_dir, &so, diag);
	if (rv != SIPAS_OK)
		goto out;
	w->batch = sipas_batch_new(w->store);
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
	if (zmq_bind(w->sock, o->bind) != 0) {
		sipas_diag_set(diag, "bind %s: %s", o->bind, zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	*out = w;
	w = NULL;
out:
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

/* Commit the open batch and answer everything owed: the outcomes when the
 * commit returned, `busy` when it failed (nothing was stored). */
static void flush(sipas_worker *w)
{
	sipas_diag diag = {{0}};
	sipas_err rv = SIPAS_OK;

	if (sipas_batch_is_open(w->batch)) {
		rv = sipas_batch_commit(w->batch, &diag);
		w->n.commits++;
	}
	if (rv != SIPAS_OK) {
		sipas_log(SIPAS_LOG_ERR, "WRK-COMMIT-FAIL",
			  "commit of %zu responses failed, answered busy: %s",
			  w->nowed, diag.msg);
		if (rv == SIPAS_E_MAP_FULL) {
			if (sipas_store_grow(w->store, &diag) == SIPAS_OK)
				sipas_log(SIPAS_LOG_NOTICE, "WRK-MAP-GROWN",
					  "LMDB map doubled");
			else
				sipas_log(SIPAS_LOG_ERR, "WRK-MAP-FULL", "%s",
					  diag.msg);
		}
	}
	for (size_t i = 0; i < w->nowed; i++) {
		struct owed *o = &w->owed[i];

		if (rv != SIPAS_OK && o->ack.status != SIPAS_REJECTED) {
			o->ack.status = SIPAS_BUSY;
			o->ack.code = SIPAS_E_BUSY;
			o->ack.retry_ms = BUSY_RETRY_MS;
			o->ack.field[0] = '\0';
			snprintf(o->ack.detail, sizeof o->ack.detail,
				 "The store could not commit; nothing was stored.");
		}
		count_ack(w, &o->ack);
		send_ack(w, o);
	}
	w->nowed = 0;
}

/* Everything since begin is gone: what was owed becomes busy. */
static void lose_batch(sipas_worker *w, const char *why)
{
	sipas_log(SIPAS_LOG_ERR, "WRK-BATCH-FAIL", "%s", why);
	sipas_batch_abort(w->batch);
	for (size_t i = 0; i < w->nowed; i++) {
		sipas_ack *a = &w->owed[i].ack;

		a->status = SIPAS_BUSY;
		a->code = SIPAS_E_BUSY;
		a->retry_ms = BUSY_RETRY_MS;
		a->field[0] = '\0';
		snprintf(a->detail, sizeof a->detail,
			 "The store could not write; nothing was stored.");
	}
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
	rv = sipas_batch_begin(w->batch, &diag);
	if (rv == SIPAS_OK)
		rv = sipas_batch_definition(w->batch, r->campaign, &def, NULL,
					    &diag);
	if (rv != SIPAS_OK) {
		lose_batch(w, diag.msg);
		sipas_ack_from_fault(&o->ack, &(sipas_fault){.code = SIPAS_E_BUSY});
		o->ack.retry_ms = BUSY_RETRY_MS;
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
			return true;
		}
	} else {
		rv = sipas_batch_add(w->batch, def, &w->checked, r, raw, len,
				     &from, &oc, &diag);
	}
	if (rv != SIPAS_OK) {
		lose_batch(w, diag.msg);
		sipas_ack_from_fault(&o->ack, &(sipas_fault){.code = SIPAS_E_BUSY});
		o->ack.retry_ms = BUSY_RETRY_MS;
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

static void check_usage(sipas_worker *w)
{
	size_t map, used;
	int64_t now = sipas_now_ms();

	if (now - w->last_usage_check < 10000)
		return;
	w->last_usage_check = now;
	sipas_store_usage(w->store, &map, &used);
	if (used > map / 10 * 8)
		sipas_log(SIPAS_LOG_WARNING, "WRK-MAP-80",
			  "LMDB map %zu%% used (%zu of %zu MiB)",
			  used * 100 / map, used >> 20, map >> 20);
}

sipas_err sipas_worker_run(sipas_worker *w)
{
	zmq_pollitem_t item = {w->sock, 0, ZMQ_POLLIN, 0};

	sipas_log(SIPAS_LOG_NOTICE, "WRK-START", "serving %s, store %s",
		  w->o.bind, w->o.store_dir);
	while (!sipas_daemon_stopping()) {
		int n = zmq_poll(&item, 1, 1000);

		sipas_daemon_watchdog();
		if (sipas_daemon_take_reload()) {
			/* Definitions are re-read at every batch; nothing else
			 * is reloadable yet. */
			sipas_daemon_reloading();
			sipas_daemon_ready("reloaded");
		}
		if (n < 0 && errno != EINTR)
			break;
		while (w->nowed < w->o.batch_max && receive_one(w))
			;
		if (w->nowed > 0 || sipas_batch_is_open(w->batch))
			flush(w);
		check_usage(w);
	}
	/* Stop taking work; answer what is owed. */
	flush(w);
	sipas_log(SIPAS_LOG_NOTICE, "WRK-STOP",
		  "received %llu, accepted %llu, duplicate %llu, rejected %llu "
		  "(quarantined %llu), busy %llu, commits %llu, unroutable %llu, "
		  "bad peers %llu",
		  (unsigned long long)w->n.received,
		  (unsigned long long)w->n.accepted,
		  (unsigned long long)w->n.duplicate,
		  (unsigned long long)w->n.rejected,
		  (unsigned long long)w->n.quarantined,
		  (unsigned long long)w->n.busy,
		  (unsigned long long)w->n.commits,
		  (unsigned long long)w->n.unroutable,
		  (unsigned long long)w->n.bad_peer);
	return SIPAS_OK;
}
