/*
 * collector_loop.c - the collector daemon's sockets, poll loop and
 * lifecycle (see sipas_collector.h; what each response gets is
 * collector_route.c).
 *
 * One loop turn: worker acks, client messages, connection events, due
 * flights, spool sync, answers, spool delivery. Nothing blocks; signal
 * handlers only set flags.
 */
#include "collector_priv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_daemon.h"
#include "sipas_limits.h"
#include "sipas_log.h"
#include "sipas_oom.h"
#include "sipas_zmsg.h"

static void retry_workers(sipas_collector *c, int64_t now);

/* Read one client message; false when there was none. */
static bool on_client(sipas_collector *c)
{
	zmq_msg_t part[4];
	int np;
	bool extra;
	sipas_fault fault;

	if (!sipas_zmsg_recv(c->client, part, 4, &np, &extra))
		return false;
	if (np == 2 && !extra) {
		sipas_collector_frame(c, &part[0], false,
		                      zmq_msg_data(&part[1]),
		                      zmq_msg_size(&part[1]));
	} else if (np == 3 && !extra && zmq_msg_size(&part[1]) == 0) {
		sipas_collector_frame(c, &part[0], true, zmq_msg_data(&part[2]),
		                      zmq_msg_size(&part[2]));
	} else if (np >= 2) {
		c->n.requests++;
		memset(&fault, 0, sizeof fault);
		sipas_fault_set(
		    &fault, SIPAS_E_MALFORMED, NULL,
		    "A request is one frame holding one msgpack map or array.");
		sipas_collector_answer_fault(
		    c, zmq_msg_data(&part[0]), zmq_msg_size(&part[0]),
		    zmq_msg_size(&part[1]) == 0, &fault);
	}
	sipas_zmsg_close(part, np);
	return true;
}

/* Read one worker message; false when there was none. */
static bool on_worker(sipas_collector *c)
{
	zmq_msg_t part[3];
	int np;
	bool extra;

	if (!sipas_zmsg_recv(c->worker, part, 3, &np, &extra))
		return false;
	if (np == 2 && !extra)
		sipas_collector_ack(
		    c, zmq_msg_data(&part[0]), zmq_msg_size(&part[0]),
		    zmq_msg_data(&part[1]), zmq_msg_size(&part[1]));
	else
		sipas_collector_bad_ack(c, "not two frames");
	sipas_zmsg_close(part, np);
	return true;
}

/* Mark worker connection `ep` up or down; returns the previous count of
 * connections up. */
static uint32_t conn_set(sipas_collector *c, const char *ep, bool up)
{
	uint32_t before = c->nup;
	size_t i;

	for (i = 0; i < c->nconn; i++)
		if (strcmp(c->conn[i].ep, ep) == 0)
			break;
	if (i == c->nconn) {
		if (i == MAX_CONN || !up)
			return before;
		snprintf(c->conn[i].ep, sizeof c->conn[i].ep, "%s", ep);
		c->conn[i].up = false;
		c->nconn++;
	}
	if (c->conn[i].up != up) {
		c->conn[i].up = up;
		if (up)
			c->nup++;
		else
			c->nup--;
	}
	return before;
}

static bool conn_is_up(const sipas_collector *c, const char *ep)
{
	for (size_t i = 0; i < c->nconn; i++)
		if (strcmp(c->conn[i].ep, ep) == 0)
			return c->conn[i].up;
	return false;
}

/*
 * A handshake with a worker failed: wrong keys on either side, CURVE on
 * one side only. Such a worker looks down (nothing is forwarded to it),
 * so the reason is logged, at most once per LOG_EVERY_MS.
 */
static void worker_handshake_failed(sipas_collector *c, const char *ep,
                                    uint16_t event, uint32_t value)
{
	c->n.worker_handshakes++;
	/* A refusal or a protocol error ends libzmq's own retries: the
	 * connection is made again later (the worker may list this
	 * collector's key by then). The event names the endpoint as it
	 * was given to zmq_connect. */
	if (event != ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)
		for (size_t i = 0; i < c->o.nworkers && i < MAX_WORKERS; i++)
			if (strcmp(c->o.workers[i], ep) == 0 &&
			    c->retry_at[i] == 0)
				c->retry_at[i] = sipas_now_ms() + WORKER_RETRY_MS;
	if (!sipas_collector_warn_due(c, W_HANDSHAKE))
		return;
	sipas_log(SIPAS_LOG_WARNING, "COL-WORKER-HANDSHAKE-FAIL",
	          "handshake with worker %s failed: %s (%llu failed "
	          "handshakes so far)",
	          ep, sipas_curve_failure_text(event, value, false),
	          (unsigned long long)c->n.worker_handshakes);
}

/*
 * Connection events of the worker socket: which workers are up decides
 * whether a response can be forwarded at all. A lost connection makes
 * every flight due for a re-send at once (its worker may have taken them
 * down with it), and so does the first connection after none. A
 * connection that closes before its handshake succeeded was never up:
 * it held nothing, and a worker refusing every handshake would otherwise
 * make everything be re-sent at each reconnection.
 * False when there was no event.
 */
static bool on_monitor(sipas_collector *c)
{
	zmq_msg_t ev, ep;
	uint16_t event = 0;
	uint32_t value = 0;
	char where[256] = "";
	bool got = false;

	zmq_msg_init(&ev);
	zmq_msg_init(&ep);
	if (zmq_msg_recv(&ev, c->monitor, ZMQ_DONTWAIT) < 0)
		goto out;
	got = true;
	if (zmq_msg_more(&ev) &&
	    zmq_msg_recv(&ep, c->monitor, ZMQ_DONTWAIT) >= 0)
		snprintf(where, sizeof where, "%.*s", (int)zmq_msg_size(&ep),
		         (const char *)zmq_msg_data(&ep));
	if (zmq_msg_size(&ev) >= 6) {
		memcpy(&event, zmq_msg_data(&ev), sizeof event);
		memcpy(&value, (const char *)zmq_msg_data(&ev) + 2,
		       sizeof value);
	}
	if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
		sipas_log(SIPAS_LOG_NOTICE, "COL-WORKER-UP", "connected to %s",
		          where);
		if (conn_set(c, where, true) == 0)
			sipas_collector_all_due(c, sipas_now_ms());
	} else if (event == ZMQ_EVENT_DISCONNECTED && conn_is_up(c, where)) {
		sipas_log(SIPAS_LOG_WARNING, "COL-WORKER-DOWN",
		          "lost the connection to %s; re-sending what it held",
		          where);
		(void)conn_set(c, where, false);
		sipas_collector_all_due(c, sipas_now_ms());
	} else if (event & SIPAS_CURVE_FAILURE_EVENTS) {
		worker_handshake_failed(c, where, event, value);
	}
out:
	zmq_msg_close(&ev);
	zmq_msg_close(&ep);
	return got;
}

void sipas_collector_reconfigure(sipas_collector *c,
                                 const sipas_collector_opts *o)
{
	sipas_curve_allow *a = o->allow;

	c->o.max_inflight_bytes = o->max_inflight_bytes;
	c->o.resend_ms = o->resend_ms;
	c->o.give_up_ms = o->give_up_ms;
	if (o->metrics_interval_s > 0)
		c->o.metrics_interval_s = o->metrics_interval_s;
	if (a == NULL)
		return;
	if (c->o.curve_clients == NULL) {
		sipas_curve_allow_free(&a);
		return;
	}
	sipas_log(SIPAS_LOG_NOTICE, "COL-CURVE-CLIENTS",
	          "%zu client key(s) allowed, from %s",
	          sipas_curve_allow_count(a),
	          o->curve_clients != NULL ? o->curve_clients : "the list");
	sipas_curve_guard_reload(c->guard, a);
}

/* ---- the loop ---- */

static void log_stats(sipas_collector *c, int64_t now, bool force)
{
	sipas_spool_stats st = {0};
	sipas_curve_stats cs;
	char status[160];

	sipas_curve_guard_stats(c->guard, &cs);
	c->n.clients_denied = cs.denied;
	c->n.clients_failed = cs.failed;
	if (c->spool != NULL)
		sipas_spool_stats_get(c->spool, &st);
	if (force || now - c->last_status >= 5000) {
		snprintf(
		    status, sizeof status,
		    "%u in flight, %llu in the spool, %llu responses taken",
		    c->nnormal, (unsigned long long)st.entries,
		    (unsigned long long)c->n.responses);
		sipas_daemon_status(status);
		c->last_status = now;
	}
	if (!force && now - c->last_stats < STATS_EVERY_MS)
		return;
	c->last_stats = now;
	if (!force && memcmp(&c->n, &c->logged, sizeof c->n) == 0)
		return;
	c->logged = c->n;
	sipas_log(
	    SIPAS_LOG_INFO, "COL-STATS",
	    "requests %llu, responses %llu, forwarded %llu, relayed %llu, "
	    "refused %llu, busy %llu, spooled %llu, known %llu, "
	    "delivered %llu, resent %llu, given up %llu, undeliverable %llu, "
	    "in flight %u, spool %llu, client handshakes denied %llu, "
	    "failed %llu, worker handshakes failed %llu",
	    (unsigned long long)c->n.requests,
	    (unsigned long long)c->n.responses,
	    (unsigned long long)c->n.forwarded,
	    (unsigned long long)c->n.relayed, (unsigned long long)c->n.refused,
	    (unsigned long long)c->n.busy, (unsigned long long)c->n.spooled,
	    (unsigned long long)c->n.spool_dups,
	    (unsigned long long)c->n.delivered, (unsigned long long)c->n.resent,
	    (unsigned long long)c->n.given_up,
	    (unsigned long long)c->n.undeliverable, c->nnormal,
	    (unsigned long long)st.entries,
	    (unsigned long long)c->n.clients_denied,
	    (unsigned long long)c->n.clients_failed,
	    (unsigned long long)c->n.worker_handshakes);
}

/* Up to BATCH messages; true when there may be more. */
static bool read_batch(sipas_collector *c, bool (*one)(sipas_collector *))
{
	for (int k = 0; k < BATCH; k++)
		if (!one(c))
			return false;
	return true;
}

/* Before READY=1, give the worker connections a moment to come up, so
 * that the first requests are not answered `busy` (or spooled) only
 * because the handshake was still under way. */
static void await_worker(sipas_collector *c)
{
	int64_t end = sipas_now_ms() + START_GRACE_MS;

	while (c->nup == 0 && !sipas_daemon_stopping()) {
		zmq_pollitem_t it = {c->monitor, 0, ZMQ_POLLIN, 0};
		int64_t left = end - sipas_now_ms();

		if (left <= 0)
			break;
		if (zmq_poll(&it, 1, (long)left) > 0)
			(void)read_batch(c, on_monitor);
	}
	if (c->nup == 0)
		sipas_log(SIPAS_LOG_WARNING, "COL-NO-WORKER",
		          "no worker connected yet; %s until one is",
		          c->spool != NULL ? "spooling" : "answering busy");
}

void sipas_collector_run(sipas_collector *c)
{
	int64_t deadline = 0;
	uint64_t answers_seen = 0;
	bool stopping = false, more = false;

	await_worker(c);
	c->no_worker_logged = c->nup == 0;
	sipas_daemon_ready("taking responses");
	sipas_log(
	    SIPAS_LOG_NOTICE, "COL-READY",
	    "taking responses at %s%s as source '%s' (%zu worker "
	    "endpoint%s%s%s)",
	    c->o.bind, c->o.curve_clients != NULL ? " (CURVE)" : "", c->o.source,
	    c->o.nworkers,
	    c->o.nworkers == 1 ? "" : "s", c->o.spool_dir ? ", spool " : "",
	    c->o.spool_dir ? c->o.spool_dir : "");
	for (;;) {
		zmq_pollitem_t items[3] = {
		    {c->worker, 0, ZMQ_POLLIN, 0},
		    {c->client, 0, stopping ? 0 : ZMQ_POLLIN, 0},
		    {c->monitor, 0, ZMQ_POLLIN, 0}};
		int64_t now;
		long timeout =
		    more ? 0
		         : sipas_collector_metrics_wait(
		               c, sipas_now_ms(), sipas_daemon_poll_ms(TICK_MS));

		if (c->due_head != NULL) {
			int64_t wait = c->due_head->due_ms - sipas_now_ms();

			if (wait < timeout)
				timeout = wait > 0 ? (long)wait : 0;
		}
		if (zmq_poll(items, 3, timeout) < 0 && errno != EINTR) {
			sipas_log(SIPAS_LOG_ERR, "COL-POLL-FAIL",
			          "zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		more = read_batch(c, on_worker);
		if (!stopping && read_batch(c, on_client))
			more = true;
		if (items[2].revents & ZMQ_POLLIN)
			(void)read_batch(c, on_monitor);
		now = sipas_now_ms();
		retry_workers(c, now);
		sipas_collector_due(c, now);
		sipas_collector_flush(c);
		if (c->answers != answers_seen) {
			answers_seen = c->answers;
			c->last_answer_ms = now;
		}
		if (!stopping)
			sipas_collector_deliver(c, now);
		sipas_daemon_watchdog();
		sipas_collector_metrics_tick(c, now);
		sipas_daemon_reload_if_asked(c->o.reload, c->o.reload_arg);
		log_stats(c, now, false);

		if (!stopping && sipas_daemon_stopping()) {
			stopping = true;
			deadline = now + c->o.stop_wait_ms;
			sipas_daemon_stopping_notify();
			sipas_log(SIPAS_LOG_NOTICE, "COL-STOP",
			          "stopping: no new requests; waiting for %u "
			          "worker ack%s",
			          c->nnormal, c->nnormal == 1 ? "" : "s");
		}
		if (stopping && (c->nnormal == 0 || now >= deadline))
			break;
	}
	if (c->nnormal > 0)
		sipas_collector_stop_flush(c);
	if (c->answers != answers_seen)
		c->last_answer_ms = sipas_now_ms();
	/*
	 * The last answers may have left this process but not yet been read
	 * by the client: a pipelining client whose receive queue is full
	 * leaves them in its socket buffer, and its ZeroMQ library drops
	 * what it has not read once the connection closes (the socket's
	 * linger only covers what is still in this process). So the
	 * connections stay open CLIENT_DRAIN_MS after the last answer, no
	 * new request taken, before the sockets close -- within the time
	 * a stop may take: stop_wait_ms, the drain, then the linger.
	 */
	if (c->last_answer_ms > deadline)
		c->last_answer_ms = deadline;
	for (int64_t left; (left = c->last_answer_ms + CLIENT_DRAIN_MS -
	                           sipas_now_ms()) > 0;) {
		zmq_pollitem_t mon = {c->monitor, 0, ZMQ_POLLIN, 0};

		if (zmq_poll(&mon, 1, sipas_daemon_poll_ms((long)left)) > 0)
			(void)read_batch(c, on_monitor);
		sipas_daemon_watchdog();
	}
	log_stats(c, sipas_now_ms(), true);
	sipas_log(SIPAS_LOG_NOTICE, "COL-EXIT",
	          "stopped; %u response%s left "
	          "unanswered",
	          c->nnormal, c->nnormal == 1 ? "" : "s");
}

/* ---- open / close ---- */

static int setopt_int(void *s, int opt, int v)
{
	return zmq_setsockopt(s, opt, &v, sizeof v);
}

static bool endpoint_error(int err)
{
	return err == EINVAL || err == EPROTONOSUPPORT || err == ENOCOMPATPROTO;
}

/* Connect the worker socket to --worker i, with its CURVE server key or
 * none. Socket options are taken at each connect: every worker gets its
 * own server key, or a plain connection (an empty PLAIN user name resets
 * the socket to no security). */
static sipas_err connect_worker(sipas_collector *c, size_t i,
                                sipas_diag *diag)
{
	const sipas_curve_key *wk =
	    c->o.worker_keys != NULL ? c->o.worker_keys[i] : NULL;
	const char *ep = c->o.workers[i];
	sipas_err rv;
	int err;

	if (wk != NULL) {
		rv = sipas_curve_set_client(c->worker, c->o.curve, wk, diag);
		if (rv != SIPAS_OK)
			return rv;
	} else if (zmq_setsockopt(c->worker, ZMQ_PLAIN_USERNAME, NULL, 0) !=
	           0) {
		sipas_diag_set(diag, "zmq_setsockopt: %s", zmq_strerror(errno));
		return SIPAS_E_IO;
	}
	if (zmq_connect(c->worker, ep) == 0)
		return SIPAS_OK;
	err = errno;
	sipas_diag_set(diag, "--worker %s: %s", ep, zmq_strerror(err));
	return endpoint_error(err) ? SIPAS_E_USAGE : SIPAS_E_IO;
}

/* Make again the worker connections whose handshake failed for good. */
static void retry_workers(sipas_collector *c, int64_t now)
{
	for (size_t i = 0; i < c->o.nworkers && i < MAX_WORKERS; i++) {
		sipas_diag diag = {{0}};

		if (c->retry_at[i] == 0 || now < c->retry_at[i])
			continue;
		c->retry_at[i] = 0;
		(void)zmq_disconnect(c->worker, c->o.workers[i]);
		if (connect_worker(c, i, &diag) != SIPAS_OK)
			sipas_log(SIPAS_LOG_ERR, "COL-WORKER-RECONNECT-FAIL",
			          "%s", diag.msg);
	}
}

sipas_err sipas_collector_open(sipas_collector **out,
                               const sipas_collector_opts *o, sipas_diag *diag)
{
	sipas_collector *c = sipas_xcalloc(1, sizeof *c);
	int64_t maxmsg = CLIENT_MAX_MSG;
	sipas_curve_guard_opts go = {"COL", o->bind, o->allow, 0};
	sipas_err rv = SIPAS_OK;

	*out = NULL;
	c->o = *o;
	c->o.allow = NULL;
	if (c->o.metrics_interval_s <= 0)
		c->o.metrics_interval_s = 5;
	sipas_collector_metrics_open(c);
	c->resp = sipas_xmalloc(sizeof *c->resp);
	c->split = sipas_xmalloc(sizeof *c->split);
	sipas_buf_init(&c->scratch, SIPAS_MAX_BATCH * 2 * ACK_MAX + 16);
	sipas_buf_init(&c->spool_buf, SIPAS_MAX_REQUEST);
	sipas_buf_init(&c->canon, 2 * SIPAS_MAX_REQUEST);
	c->pool_cap = o->max_inflight + SPOOL_WINDOW;
	c->pool = sipas_xcalloc(c->pool_cap, sizeof *c->pool);
	for (uint32_t i = c->pool_cap; i-- > 0;) {
		c->pool[i].next = c->free_list;
		c->free_list = &c->pool[i];
	}
	/* Tokens differ from one run to the next, so a late ack meant for an
	 * earlier run never matches. */
	c->token_gen = (uint64_t)sipas_wall_ms() << 8;
	if ((o->allow != NULL || o->worker_keys != NULL) && o->curve == NULL) {
		sipas_diag_set(diag, "CURVE needs this collector's key pair");
		rv = SIPAS_E_USAGE;
		goto fail;
	}

	if (o->spool_dir != NULL) {
		sipas_spool_opts so = {.max_bytes = o->spool_max_bytes};
		sipas_spool_stats st;

		rv = sipas_spool_open(&c->spool, o->spool_dir, &so, diag);
		if (rv != SIPAS_OK)
			goto fail;
		sipas_spool_stats_get(c->spool, &st);
		sipas_log(SIPAS_LOG_NOTICE, "COL-SPOOL-OPEN",
		          "spool %s: %llu response%s to deliver, %llu torn "
		          "byte%s cut off",
		          o->spool_dir, (unsigned long long)st.entries,
		          st.entries == 1 ? "" : "s",
		          (unsigned long long)st.truncated,
		          st.truncated == 1 ? "" : "s");
		c->recent = sipas_idcache_new(RECENT_IDS);
		c->inflight_keys = sipas_keytab_new();
	}

	c->zctx = zmq_ctx_new();
	if (c->zctx == NULL) {
		sipas_diag_set(diag, "zmq_ctx_new: %s", zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto fail;
	}
	c->client = zmq_socket(c->zctx, ZMQ_ROUTER);
	c->worker = zmq_socket(c->zctx, ZMQ_DEALER);
	if (c->client == NULL || c->worker == NULL) {
		sipas_diag_set(diag, "zmq_socket: %s", zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto fail;
	}
	if (setopt_int(c->client, ZMQ_ROUTER_MANDATORY, 1) != 0 ||
	    setopt_int(c->client, ZMQ_SNDHWM, CLIENT_SNDHWM) != 0 ||
	    setopt_int(c->client, ZMQ_RCVHWM, CLIENT_RCVHWM) != 0 ||
	    setopt_int(c->client, ZMQ_LINGER, CLIENT_LINGER_MS) != 0 ||
	    zmq_setsockopt(c->client, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) !=
	        0 ||
	    setopt_int(c->worker, ZMQ_SNDHWM, (int)c->pool_cap) != 0 ||
	    setopt_int(c->worker, ZMQ_RCVHWM, 0) != 0 ||
	    setopt_int(c->worker, ZMQ_LINGER, 0) != 0 ||
	    setopt_int(c->worker, ZMQ_RECONNECT_IVL, 100) != 0 ||
	    setopt_int(c->worker, ZMQ_RECONNECT_IVL_MAX, 1000) != 0) {
		sipas_diag_set(diag, "zmq_setsockopt: %s", zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto fail;
	}
	/*
	 * Whether a worker can take a response is known from this monitor,
	 * not from ZMQ_IMMEDIATE: with ZMQ_IMMEDIATE a lost connection
	 * terminates its pipe at once, and libzmq 4.3 aborts (fq.cpp,
	 * "!_more") when that happens between two frames of an ack being
	 * read -- which its command throttling makes likely with two-frame
	 * messages. Without it the pipe outlives the connection.
	 */
	if (zmq_socket_monitor(c->worker, MONITOR_EP,
	                       ZMQ_EVENT_HANDSHAKE_SUCCEEDED |
	                           ZMQ_EVENT_DISCONNECTED |
	                           SIPAS_CURVE_FAILURE_EVENTS) != 0 ||
	    (c->monitor = zmq_socket(c->zctx, ZMQ_PAIR)) == NULL ||
	    setopt_int(c->monitor, ZMQ_LINGER, 0) != 0 ||
	    zmq_connect(c->monitor, MONITOR_EP) != 0) {
		sipas_diag_set(diag, "worker socket monitor: %s",
		               zmq_strerror(errno));
		rv = SIPAS_E_IO;
		goto fail;
	}
	for (size_t i = 0; i < o->nworkers; i++) {
		rv = connect_worker(c, i, diag);
		if (rv != SIPAS_OK)
			goto fail;
	}
	if (o->allow != NULL &&
	    (rv = sipas_curve_set_server(c->client, o->curve, diag)) !=
	        SIPAS_OK)
		goto fail;
	/* The guard (and with it the ZAP handler) before the bind: libzmq
	 * lets every CURVE client in while no handler is bound. */
	rv = sipas_curve_guard_new(&c->guard, c->zctx, c->client, &go, diag);
	go.allow = NULL;
	if (rv != SIPAS_OK)
		goto fail;
	if (zmq_bind(c->client, o->bind) != 0) {
		int err = errno;

		sipas_diag_set(diag, "--bind %s: %s", o->bind,
		               zmq_strerror(err));
		rv = endpoint_error(err) ? SIPAS_E_USAGE : SIPAS_E_IO;
		goto fail;
	}
	*out = c;
	return SIPAS_OK;
fail:
	sipas_curve_allow_free(&go.allow);
	sipas_collector_close(&c);
	return rv;
}

void sipas_collector_close(sipas_collector **cp)
{
	sipas_collector *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	sipas_collector_metrics_close(c);
	sipas_collector_forget_all(c);
	if (c->monitor != NULL)
		zmq_close(c->monitor);
	if (c->worker != NULL) {
		(void)zmq_socket_monitor(c->worker, NULL, 0);
		zmq_close(c->worker);
	}
	if (c->client != NULL)
		zmq_close(c->client);
	/* After the client socket: no handshake may go without its ZAP
	 * handler. */
	sipas_curve_guard_free(&c->guard);
	if (c->zctx != NULL)
		zmq_ctx_term(c->zctx);
	sipas_spool_close(&c->spool);
	sipas_idcache_free(&c->recent);
	sipas_keytab_free(&c->inflight_keys);
	sipas_buf_free(&c->scratch);
	sipas_buf_free(&c->spool_buf);
	sipas_buf_free(&c->canon);
	free(c->deps);
	free(c->pool);
	free(c->split);
	free(c->resp);
	free(c);
	*cp = NULL;
}
