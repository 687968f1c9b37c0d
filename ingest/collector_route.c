/*
 * collector_route.c - what each response a client sends gets (see
 * collector_priv.h for the objects): an answer at once when the codec
 * refuses it, back-pressure applies or the spool knows it; otherwise a
 * flight to a worker, whose ack is relayed; or, when no worker can take it
 * and there is a spool, a durable record answered `accepted`.
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
#include "sipas_relay.h"

/* True at most once per LOG_EVERY_MS for warning w. */
bool sipas_collector_warn_due(sipas_collector *c, int w)
{
	int64_t now = sipas_now_ms();

	if (c->warn_at[w] != 0 && now - c->warn_at[w] < LOG_EVERY_MS)
		return false;
	c->warn_at[w] = now;
	return true;
}

/* ---- requests and their acks ---- */

static struct request *request_new(const void *rid, size_t rid_len, bool delim,
                                   bool is_array, uint32_t n)
{
	struct request *r =
	    sipas_xcalloc(1, sizeof *r + (n ? n : 1) * sizeof r->slot[0]);

	if (rid_len > sizeof r->rid)
		rid_len = sizeof r->rid;
	memcpy(r->rid, rid, rid_len);
	r->rid_len = rid_len;
	r->delim = delim;
	r->is_array = is_array;
	r->n = r->waiting = n;
	/* Room for every ack and one rewrite of each. */
	sipas_buf_init(&r->arena, (size_t)(n ? n : 1) * 2 * ACK_MAX);
	return r;
}

static void request_free(struct request *r)
{
	sipas_buf_free(&r->arena);
	free(r);
}

static void outbox_push(sipas_collector *c, struct request *r)
{
	if (r->queued)
		return;
	r->queued = true;
	r->next_out = NULL;
	if (c->out_tail != NULL)
		c->out_tail->next_out = r;
	else
		c->out_head = r;
	c->out_tail = r;
}

/* One slot no longer waits (answered, or given up). */
static void slot_resolved(sipas_collector *c, struct request *r)
{
	if (r->waiting > 0 && --r->waiting == 0)
		outbox_push(c, r);
}

/* Store ack bytes in slot i (replacing what it held), with the status and
 * code they say. */
static void slot_put(struct request *r, uint32_t i, const void *ack, size_t len,
                     sipas_status status, sipas_err code)
{
	size_t off = r->arena.len;

	if (sipas_buf_append(&r->arena, ack, len) != SIPAS_OK)
		abort(); /* the arena has room for two acks a slot: a bug */
	r->slot[i].off = (uint32_t)off;
	r->slot[i].len = (uint32_t)len;
	r->slot[i].state = SLOT_SET;
	r->slot[i].status = (uint8_t)status;
	r->slot[i].code = (uint8_t)code;
}

/* Answer slot i with ack bytes (relayed from a worker). */
static void slot_set(sipas_collector *c, struct request *r, uint32_t i,
                     const void *ack, size_t len, sipas_status status,
                     sipas_err code)
{
	if (r->slot[i].state != SLOT_EMPTY)
		return;
	slot_put(r, i, ack, len, status, code);
	slot_resolved(c, r);
}

/* Answer slot i with an ack of our own. */
static void slot_ack(sipas_collector *c, struct request *r, uint32_t i,
                     const sipas_ack *a)
{
	sipas_buf_reset(&c->scratch);
	if (sipas_ack_encode(&c->scratch, a) != SIPAS_OK)
		abort(); /* an ack always fits ACK_MAX: a bug */
	slot_set(c, r, i, c->scratch.data, c->scratch.len, a->status, a->code);
}

static void ack_init(sipas_ack *a, sipas_status st, sipas_err code,
                     const char *id, const char *field, const char *detail)
{
	memset(a, 0, sizeof *a);
	a->status = st;
	a->code = code;
	snprintf(a->id, sizeof a->id, "%s", id != NULL ? id : "");
	snprintf(a->field, sizeof a->field, "%s", field != NULL ? field : "");
	snprintf(a->detail, sizeof a->detail, "%s",
	         detail != NULL ? detail : "");
}

static void answer_busy(sipas_collector *c, struct request *r, uint32_t i,
                        const char *id, int64_t retry_ms, const char *detail)
{
	sipas_ack a;

	ack_init(&a, SIPAS_BUSY, SIPAS_E_BUSY, id, NULL, detail);
	a.retry_ms = retry_ms;
	c->n.busy++;
	slot_ack(c, r, i, &a);
}

static void add_dep(sipas_collector *c, struct request *r, uint32_t i)
{
	if (c->ndeps == c->capdeps) {
		size_t ncap = c->capdeps ? c->capdeps * 2 : 64;
		struct dep *d = sipas_xmalloc(ncap * sizeof *d);

		if (c->ndeps > 0)
			memcpy(d, c->deps, c->ndeps * sizeof *d);
		free(c->deps);
		c->deps = d;
		c->capdeps = ncap;
	}
	c->deps[c->ndeps++] = (struct dep){r, i};
}

/* Answer from what the spool or the recent-ids cache knows of a key (the
 * words are the worker's). */
static void answer_known(sipas_collector *c, struct request *r, uint32_t i,
                         const char *id, sipas_match m, bool dep)
{
	sipas_ack a;

	if (m == SIPAS_MATCH_SAME) {
		ack_init(&a, SIPAS_DUPLICATE, SIPAS_OK, id, NULL, NULL);
	} else {
		ack_init(&a, SIPAS_REJECTED, SIPAS_E_CONFLICT, id, NULL, NULL);
		snprintf(a.detail, sizeof a.detail,
		         "Response %s was already accepted with other content.",
		         id);
	}
	c->n.spool_dups++;
	slot_ack(c, r, i, &a);
	if (dep)
		add_dep(c, r, i);
}

/*
 * The spool lost what was appended since its last sync: every ack that
 * relied on it becomes `busy` (nothing of those copies was stored).
 */
static void spool_failed(sipas_collector *c, const sipas_diag *diag)
{
	sipas_ack a;

	c->n.spool_errors++;
	if (sipas_collector_warn_due(c, W_SPOOL))
		sipas_log(SIPAS_LOG_ERR, "COL-SPOOL-FAIL",
		          "%s; answering busy (%llu spool errors so far)",
		          diag->msg, (unsigned long long)c->n.spool_errors);
	for (size_t k = 0; k < c->ndeps; k++) {
		struct request *r = c->deps[k].req;
		uint32_t i = c->deps[k].slot;
		sipas_ack old;
		size_t nold = 0;
		bool arr;

		/* Keep the id the ack carried. */
		if (sipas_ack_decode(r->arena.data + r->slot[i].off,
		                     r->slot[i].len, &old, 1, &nold,
		                     &arr) != SIPAS_OK)
			old.id[0] = '\0';
		ack_init(
		    &a, SIPAS_BUSY, SIPAS_E_BUSY, old.id, NULL,
		    "The collector could not store this response; retry later.");
		a.retry_ms = BUSY_NO_WORKER_MS;
		sipas_buf_reset(&c->scratch);
		if (sipas_ack_encode(&c->scratch, &a) != SIPAS_OK)
			abort();
		slot_put(r, i, c->scratch.data, c->scratch.len, SIPAS_BUSY,
		         SIPAS_E_BUSY);
		c->n.busy++;
	}
	c->ndeps = 0;
}

/* ---- answers to clients ---- */

static void send_answer(sipas_collector *c, const void *rid, size_t rid_len,
                        bool delim, const void *data, size_t len)
{
	c->answers++; /* timed by the loop: no clock read per answer */
	if (zmq_send(c->client, rid, rid_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    (delim &&
	     zmq_send(c->client, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) ||
	    zmq_send(c->client, data, len, ZMQ_DONTWAIT) < 0) {
		/* EHOSTUNREACH: the client is gone; EAGAIN: it does not read
		 * its answers. Either way its retry-on-silence resends. */
		c->n.undeliverable++;
		if (sipas_collector_warn_due(c, W_UNDELIVERABLE))
			sipas_log(
			    SIPAS_LOG_WARNING, "COL-CLIENT-DROP",
			    "an answer could not be sent: %s (%llu so far)",
			    zmq_strerror(errno),
			    (unsigned long long)c->n.undeliverable);
	}
}

/* Answer a whole message at once with one ack built from a fault. */
void sipas_collector_answer_fault(sipas_collector *c, const void *rid,
                                  size_t rid_len, bool delim,
                                  const sipas_fault *f)
{
	sipas_ack a;

	sipas_ack_from_fault(&a, f);
	c->n.refused++;
	sipas_metrics_acks_count(&c->mx.acks, (int)a.status, (int)a.code);
	sipas_buf_reset(&c->scratch);
	if (sipas_ack_encode(&c->scratch, &a) != SIPAS_OK)
		abort();
	send_answer(c, rid, rid_len, delim, c->scratch.data, c->scratch.len);
}

/* Send every finished request, free it. */
static void flush_outbox(sipas_collector *c)
{
	while (c->out_head != NULL) {
		struct request *r = c->out_head;

		c->out_head = r->next_out;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		if (!r->abandoned) {
			for (uint32_t i = 0; i < r->n; i++)
				sipas_metrics_acks_count(&c->mx.acks,
				                         r->slot[i].status,
				                         r->slot[i].code);
			if (!r->is_array) {
				send_answer(c, r->rid, r->rid_len, r->delim,
				            r->arena.data + r->slot[0].off,
				            r->slot[0].len);
			} else {
				sipas_buf_reset(&c->scratch);
				if (sipas_ack_array_header(&c->scratch, r->n) !=
				    SIPAS_OK)
					abort();
				for (uint32_t i = 0; i < r->n; i++)
					if (sipas_buf_append(
					        &c->scratch,
					        r->arena.data + r->slot[i].off,
					        r->slot[i].len) != SIPAS_OK)
						abort();
				send_answer(c, r->rid, r->rid_len, r->delim,
				            c->scratch.data, c->scratch.len);
			}
		}
		request_free(r);
	}
}

/* Make the spool durable, then let the answers go. */
void sipas_collector_flush(sipas_collector *c)
{
	sipas_diag diag = {{0}};

	if (c->spool != NULL && sipas_spool_dirty(c->spool) &&
	    sipas_spool_sync(c->spool, &diag) != SIPAS_OK)
		spool_failed(c, &diag);
	c->ndeps = 0;
	flush_outbox(c);
}

/* ---- flights ---- */

static void due_unlink(sipas_collector *c, struct flight *f)
{
	if (f->prev != NULL)
		f->prev->next = f->next;
	else
		c->due_head = f->next;
	if (f->next != NULL)
		f->next->prev = f->prev;
	else
		c->due_tail = f->prev;
	f->prev = f->next = NULL;
}

/* Append f to the due list, due after the re-send delay. Every flight gets
 * the same delay, so appending keeps the list ordered. */
static void due_append(sipas_collector *c, struct flight *f, int64_t now)
{
	f->due_ms = now + c->o.resend_ms;
	f->next = NULL;
	f->prev = c->due_tail;
	if (c->due_tail != NULL)
		c->due_tail->next = f;
	else
		c->due_head = f;
	c->due_tail = f;
}

static struct flight *flight_new(sipas_collector *c, const void *bytes,
                                 size_t len, int64_t received_ms)
{
	struct flight *f = c->free_list;
	uint64_t idx;

	if (f == NULL)
		return NULL;
	c->free_list = f->next;
	idx = (uint64_t)(f - c->pool);
	memset(f, 0, sizeof *f);
	c->token_gen++;
	f->token = c->token_gen << TOKEN_IDX_BITS | idx;
	f->bytes = sipas_xmalloc(len ? len : 1);
	memcpy(f->bytes, bytes, len);
	f->len = (uint32_t)len;
	f->received_ms = received_ms;
	f->first_ms = sipas_now_ms();
	return f;
}

static struct flight *flight_find(sipas_collector *c, uint64_t token)
{
	uint64_t idx = token & ((1u << TOKEN_IDX_BITS) - 1);

	if (token == 0 || idx >= c->pool_cap || c->pool[idx].token != token)
		return NULL;
	return &c->pool[idx];
}

/* Count one more (or one less) copy of key in flight. */
static void inflight_key(sipas_collector *c, sipas_hash128 key, int delta)
{
	uint64_t n = 0;

	if (c->inflight_keys == NULL)
		return;
	(void)sipas_keytab_get(c->inflight_keys, key, &n);
	if (delta < 0 && n <= 1)
		(void)sipas_keytab_del(c->inflight_keys, key);
	else
		sipas_keytab_put(c->inflight_keys, key,
		                 delta < 0 ? n - 1 : n + 1);
}

/* Release f (it must be out of the due list or in it: both handled). */
static void flight_free(sipas_collector *c, struct flight *f, bool in_list)
{
	if (in_list)
		due_unlink(c, f);
	if (f->spooled) {
		c->nspooled--;
	} else {
		c->nnormal--;
		c->inflight_bytes -= f->len;
		inflight_key(c, f->key, -1);
	}
	free(f->bytes);
	memset(f, 0, sizeof *f);
	f->next = c->free_list;
	c->free_list = f;
}

/* Hand f to a worker: false when none can take it now. */
static bool flight_send(sipas_collector *c, struct flight *f)
{
	unsigned char head[SIPAS_RELAY_MAX];
	sipas_relay h;
	size_t n;

	memset(&h, 0, sizeof h);
	h.version = SIPAS_RELAY_VERSION;
	h.flags = f->spooled ? SIPAS_RELAY_SPOOLED : 0;
	h.token = f->token;
	h.received_ms = f->received_ms;
	snprintf(h.source, sizeof h.source, "%s", c->o.source);
	n = sipas_relay_encode(&h, head);
	if (c->nup == 0 ||
	    zmq_send(c->worker, head, n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		if (!c->no_worker_logged) {
			sipas_log(SIPAS_LOG_WARNING, "COL-NO-WORKER",
			          "no worker can take responses now (%s)%s",
			          c->nup == 0
			              ? "none connected"
			              : "all are at their high-water mark",
			          c->spool ? "; spooling" : "; answering busy");
			c->no_worker_logged = true;
		}
		return false;
	}
	/* Once the first part is queued the rest of the message is too. */
	if (zmq_send(c->worker, f->bytes, f->len, ZMQ_DONTWAIT) < 0)
		return false;
	f->attempts++;
	f->force = false;
	f->ahead = (uint64_t)c->nnormal + c->nspooled;
	f->acks_at_send = c->acks_seen;
	if (c->no_worker_logged) {
		sipas_log(SIPAS_LOG_NOTICE, "COL-WORKER-OK",
		          "a worker takes responses again");
		c->no_worker_logged = false;
	}
	return true;
}

/*
 * Keep a response in the spool (no worker can take it) and answer slot i
 * `accepted` -- or `duplicate`/`conflict` when this collector knows the key
 * was accepted, or `busy` when it cannot be kept. `copies` is how many
 * flights of the same key may be out (their fate unknown): with another
 * copy out, spooling this one could lead to two `accepted`, so it waits.
 * False when nothing was answered (busy is left to the caller).
 */
static bool spool_keep(sipas_collector *c, struct request *r, uint32_t i,
                       const char *id, sipas_hash128 key, sipas_hash128 digest,
                       const void *bytes, size_t len, int64_t received_ms,
                       uint64_t copies)
{
	sipas_diag diag = {{0}};
	sipas_match m;
	sipas_ack a;
	sipas_err rv;
	uint64_t out = 0;

	m = sipas_spool_find(c->spool, key, digest);
	if (m != SIPAS_MATCH_NONE) {
		answer_known(c, r, i, id, m, sipas_spool_dirty(c->spool));
		return true;
	}
	(void)sipas_keytab_get(c->inflight_keys, key, &out);
	if (out > copies)
		return false;
	m = sipas_idcache_find(c->recent, key, digest);
	if (m != SIPAS_MATCH_NONE) {
		answer_known(c, r, i, id, m, false);
		return true;
	}
	rv = sipas_spool_append(c->spool, key, digest, received_ms, bytes, len,
	                        &diag);
	if (rv == SIPAS_E_IO) {
		spool_failed(c, &diag);
		return false;
	}
	if (rv != SIPAS_OK)
		return false; /* full */
	ack_init(&a, SIPAS_ACCEPTED, SIPAS_OK, id, NULL, NULL);
	c->n.spooled++;
	slot_ack(c, r, i, &a);
	add_dep(c, r, i);
	return true;
}

/* The id of a flight's response (for an ack we write ourselves). */
static const char *flight_id(sipas_collector *c, const struct flight *f)
{
	sipas_fault fault;

	if (sipas_response_decode(f->bytes, f->len, c->resp, &fault) !=
	    SIPAS_OK)
		return "";
	return c->resp->id;
}

/* A flight with no answer and no worker to re-send it to: into the spool
 * with it. True when it was answered (and freed). */
static bool flight_to_spool(sipas_collector *c, struct flight *f, bool final)
{
	struct request *r = f->req;

	if (c->spool == NULL || r == NULL)
		return false;
	if (!spool_keep(c, r, f->slot, flight_id(c, f), f->key, f->digest,
	                f->bytes, f->len, f->received_ms,
	                final ? UINT64_MAX : 1))
		return false;
	flight_free(c, f, false);
	return true;
}

/* Nobody answered f for give_up_ms: forget it and its request without an
 * answer (never `busy`: it may have been stored). The client re-sends. */
static void flight_give_up(sipas_collector *c, struct flight *f)
{
	struct request *r = f->req;

	c->n.given_up++;
	if (sipas_collector_warn_due(c, W_GIVE_UP))
		sipas_log(SIPAS_LOG_WARNING, "COL-GIVE-UP",
		          "no worker answered a response within %lld ms; "
		          "forgotten unanswered (%llu so far)",
		          (long long)c->o.give_up_ms,
		          (unsigned long long)c->n.given_up);
	r->abandoned = true;
	flight_free(c, f, false);
	slot_resolved(c, r);
}

/*
 * Is f most likely still waiting in a live worker's queue? Workers answer
 * in the order they receive, so while they keep answering (an answer within
 * the last --resend-ms) and have not yet answered as many responses as were
 * out when f was sent, f is queued behind those. Re-sending it then only
 * queues a second copy behind the first: under overload every response
 * would be committed (and counted as a duplicate) several times, the queue
 * would grow with copies, and responses would reach --give-up-ms
 * unanswered. A lost connection (force) or silent workers re-send at once.
 */
static bool still_queued(const sipas_collector *c, const struct flight *f,
                         int64_t now)
{
	return !f->force && c->nup > 0 &&
	       now - c->last_ack_ms < c->o.resend_ms &&
	       c->acks_seen - f->acks_at_send < f->ahead;
}

/* Flights whose re-send time has come. */
void sipas_collector_due(sipas_collector *c, int64_t now)
{
	while (c->due_head != NULL && c->due_head->due_ms <= now) {
		struct flight *f = c->due_head;

		due_unlink(c, f);
		if (f->spooled) {
			/* Back to the spool; delivered again later. */
			sipas_spool_release(c->spool, f->seq);
			flight_free(c, f, false);
			continue;
		}
		if (now - f->first_ms >= c->o.give_up_ms) {
			flight_give_up(c, f);
			continue;
		}
		if (still_queued(c, f, now)) {
			due_append(c, f, now);
			continue;
		}
		if (flight_send(c, f)) {
			c->n.resent++;
			due_append(c, f, now);
			continue;
		}
		if (flight_to_spool(c, f, false))
			continue;
		due_append(c, f, now);
	}
}

/* Every flight due now, re-sent even if probably still queued (a worker
 * connection went down, or came up after none). */
void sipas_collector_all_due(sipas_collector *c, int64_t now)
{
	for (struct flight *f = c->due_head; f != NULL; f = f->next) {
		f->force = true;
		if (f->due_ms > now)
			f->due_ms = now;
	}
}

/* ---- client messages ---- */

static int cmp_answer(const void *a, const void *b)
{
	return strcmp(((const sipas_answer *)a)->item,
	              ((const sipas_answer *)b)->item);
}

/*
 * What two copies of a response are "the same content" by: XXH3-128 of
 * its canonical encoding (fixed key order, answers sorted by item id), so
 * that a copy sent with its keys in another order is a duplicate here as
 * it is at the worker. Sorts r's answers.
 */
static sipas_hash128 content_digest(sipas_collector *c, sipas_response *r)
{
	qsort(r->answers, r->nanswers, sizeof r->answers[0], cmp_answer);
	sipas_buf_reset(&c->canon);
	if (sipas_response_encode(&c->canon, r) != SIPAS_OK)
		abort(); /* a decoded response always encodes: a bug */
	return sipas_spool_digest(c->canon.data, c->canon.len);
}

/* One response map (element i of request r). */
static void on_element(sipas_collector *c, struct request *r, uint32_t i,
                       const sipas_span *e, int64_t received_ms)
{
	sipas_response *resp = c->resp;
	sipas_hash128 key = {0, 0}, digest = {0, 0};
	struct flight *f;
	sipas_fault fault;
	sipas_ack a;

	c->n.responses++;
	sipas_counter_inc(c->mx.acks.received);
	memset(&fault, 0, sizeof fault);
	if (sipas_response_decode(e->ptr, e->len, resp, &fault) != SIPAS_OK) {
		sipas_ack_from_fault(&a, &fault);
		if (a.status == SIPAS_BUSY) {
			a.retry_ms = BUSY_FULL_MS;
			c->n.busy++;
		} else {
			c->n.refused++;
		}
		slot_ack(c, r, i, &a);
		return;
	}
	if (c->spool != NULL) {
		sipas_match m;

		key = sipas_spool_key(resp->campaign, resp->id);
		digest = content_digest(c, resp);
		m = sipas_spool_find(c->spool, key, digest);
		if (m != SIPAS_MATCH_NONE) {
			answer_known(c, r, i, resp->id, m,
			             sipas_spool_dirty(c->spool));
			return;
		}
	}
	if (c->nnormal >= c->o.max_inflight ||
	    c->inflight_bytes + e->len > c->o.max_inflight_bytes ||
	    (f = flight_new(c, e->ptr, e->len, received_ms)) == NULL) {
		answer_busy(c, r, i, resp->id, BUSY_FULL_MS,
		            "Too many responses are in flight; retry later.");
		return;
	}
	f->req = r;
	f->slot = i;
	f->key = key;
	f->digest = digest;
	c->nnormal++;
	c->inflight_bytes += f->len;
	inflight_key(c, key, +1);
	if (flight_send(c, f)) {
		due_append(c, f, sipas_now_ms());
		c->n.forwarded++;
		return;
	}
	/* No worker can take it: the spool, or busy. */
	flight_free(c, f, false);
	if (c->spool != NULL && spool_keep(c, r, i, resp->id, key, digest,
	                                   e->ptr, e->len, received_ms, 0))
		return;
	answer_busy(c, r, i, resp->id, BUSY_NO_WORKER_MS,
	            "No worker can take this response now; retry later.");
}

/* A request frame: one map or an array of maps. */
void sipas_collector_frame(sipas_collector *c, zmq_msg_t *rid, bool delim,
                           const void *frame, size_t len)
{
	sipas_request *rq = c->split;
	int64_t received_ms = sipas_wall_ms();
	struct request *r;
	sipas_fault fault;

	c->n.requests++;
	memset(&fault, 0, sizeof fault);
	if (sipas_request_split(frame, len, rq, &fault) != SIPAS_OK) {
		sipas_collector_answer_fault(c, zmq_msg_data(rid),
		                             zmq_msg_size(rid), delim, &fault);
		return;
	}
	/* interfaces.md section 2: an element over the size limit refuses
	 * the whole request with one ack, as an over-large frame does. */
	for (uint32_t i = 0; rq->is_array && i < rq->count; i++) {
		if (rq->elem[i].len <= SIPAS_MAX_REQUEST)
			continue;
		sipas_fault_set(&fault, SIPAS_E_TOO_LARGE, NULL,
		                "A response in an array request is at most %d "
		                "bytes.",
		                SIPAS_MAX_REQUEST);
		sipas_collector_answer_fault(c, zmq_msg_data(rid),
		                             zmq_msg_size(rid), delim, &fault);
		return;
	}
	r = request_new(zmq_msg_data(rid), zmq_msg_size(rid), delim,
	                rq->is_array, rq->count);
	if (rq->count == 0) {
		outbox_push(c, r); /* an empty array: an empty array of acks */
		return;
	}
	for (uint32_t i = 0; i < rq->count; i++)
		on_element(c, r, i, &rq->elem[i], received_ms);
}

/* ---- worker acks ---- */

void sipas_collector_bad_ack(sipas_collector *c, const char *why)
{
	c->n.bad_acks++;
	if (sipas_collector_warn_due(c, W_BAD_ACK))
		sipas_log(SIPAS_LOG_WARNING, "COL-BAD-ACK",
		          "a worker message was ignored: %s (%llu so far)", why,
		          (unsigned long long)c->n.bad_acks);
}

void sipas_collector_ack(sipas_collector *c, const void *head, size_t hlen,
                         const void *ack, size_t alen)
{
	sipas_relay h;
	sipas_ack a;
	struct flight *f;
	size_t n = 0;
	bool is_array = false;
	sipas_diag diag = {{0}};
	bool stored;

	if (sipas_relay_decode(head, hlen, &h) != SIPAS_OK)
		return sipas_collector_bad_ack(c, "bad relay header");
	/* Any answer, even a late one, shows the workers are moving. */
	c->acks_seen++;
	c->last_ack_ms = sipas_now_ms();
	if ((f = flight_find(c, h.token)) == NULL) {
		c->n.stale_acks++; /* answered already, or given up */
		return;
	}
	if (alen > ACK_MAX ||
	    sipas_ack_decode(ack, alen, &a, 1, &n, &is_array) != SIPAS_OK ||
	    is_array || n != 1)
		return sipas_collector_bad_ack(c, "not one ack map");
	stored = a.status == SIPAS_ACCEPTED || a.status == SIPAS_DUPLICATE;
	if (f->spooled) {
		if (a.status == SIPAS_BUSY) {
			sipas_spool_release(c->spool, f->seq);
			c->spool_retry_at = sipas_now_ms() + SPOOL_RETRY_MS;
		} else {
			/* Accepted, duplicate, or refused into quarantine. */
			if (stored)
				sipas_idcache_put(c->recent, f->key, f->digest);
			if (sipas_spool_done(c->spool, f->seq, &diag) !=
			    SIPAS_OK)
				sipas_log(SIPAS_LOG_WARNING, "COL-SPOOL-FAIL",
				          "%s", diag.msg);
			c->n.delivered++;
		}
		flight_free(c, f, true);
		return;
	}
	/* `busy` for a re-sent response says nothing of the first copy: wait
	 * for the re-send timer rather than promise nothing was stored. */
	if (a.status == SIPAS_BUSY && f->attempts > 1)
		return;
	if (stored && c->recent != NULL)
		sipas_idcache_put(c->recent, f->key, f->digest);
	c->n.relayed++;
	slot_set(c, f->req, f->slot, ack, alen, a.status, a.code);
	flight_free(c, f, true);
}

/* ---- spool delivery ---- */

void sipas_collector_deliver(sipas_collector *c, int64_t now)
{
	sipas_diag diag = {{0}};

	while (c->spool != NULL && c->nspooled < SPOOL_WINDOW &&
	       now >= c->spool_retry_at && c->free_list != NULL) {
		sipas_spool_item it;
		struct flight *f;
		sipas_err rv;

		rv = sipas_spool_next(c->spool, &c->spool_buf, &it, &diag);
		if (rv == SIPAS_E_NOT_FOUND)
			return;
		if (rv != SIPAS_OK) {
			c->n.spool_errors++;
			if (sipas_collector_warn_due(c, W_CORRUPT))
				sipas_log(SIPAS_LOG_ERR, "COL-SPOOL-CORRUPT",
				          "a spooled response is lost: %s",
				          diag.msg);
			continue;
		}
		f = flight_new(c, c->spool_buf.data, c->spool_buf.len,
		               it.received_ms);
		f->spooled = true;
		f->seq = it.seq;
		f->key = it.key;
		f->digest = it.digest;
		c->nspooled++;
		if (!flight_send(c, f)) {
			sipas_spool_release(c->spool, it.seq);
			flight_free(c, f, false);
			c->spool_retry_at = now + SPOOL_RETRY_MS;
			return;
		}
		due_append(c, f, now);
	}
}

/* On the stop deadline: what is still owed goes to the spool (answered
 * `accepted` there) when there is one; the rest stays unanswered. */
void sipas_collector_stop_flush(sipas_collector *c)
{
	struct flight **owed = sipas_xcalloc(c->nnormal + 1, sizeof *owed);
	size_t n = 0;

	for (struct flight *f = c->due_head; f != NULL; f = f->next)
		if (!f->spooled)
			owed[n++] = f;
	for (size_t k = 0; k < n; k++) {
		due_unlink(c, owed[k]);
		if (!flight_to_spool(c, owed[k], true))
			due_append(c, owed[k], sipas_now_ms());
	}
	free(owed);
	sipas_collector_flush(c);
}

void sipas_collector_forget_all(sipas_collector *c)
{
	while (c->out_head != NULL) {
		struct request *r = c->out_head;

		c->out_head = r->next_out;
		request_free(r);
	}
	/* A request still waiting has one flight per empty slot: it goes
	 * with the last of them. */
	while (c->due_head != NULL) {
		struct request *r = c->due_head->req;

		flight_free(c, c->due_head, true);
		if (r != NULL && --r->waiting == 0)
			request_free(r);
	}
}
