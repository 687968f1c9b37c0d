/*
 * collector_priv.h - what the two files of the collector daemon share:
 * collector_loop.c (sockets, the poll loop, lifecycle) and
 * collector_route.c (what each response gets: requests, flights, the
 * spool). Not a public interface; see sipas_collector.h for that.
 *
 * Objects:
 *   request  one client message: routing id, REQ delimiter or not, one
 *            slot per response map for its ack. Acks land in the slots in
 *            any order; when none is missing the request goes to the
 *            outbox, which is sent after the spool is synced (an ack that
 *            depends on the spool is never sent before the fsync).
 *   flight   one response out to a worker: its token, a copy of its bytes
 *            (re-sent with the same token when unanswered), the slot it
 *            answers or the spool record it delivers. Flights sit in one
 *            list ordered by when they are due for a re-send.
 */
#ifndef SIPAS_COLLECTOR_PRIV_H
#define SIPAS_COLLECTOR_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <zmq.h>

#include "sipas_buf.h"
#include "sipas_collector.h"
#include "sipas_curve.h"
#include "sipas_metrics.h"
#include "sipas_protocol.h"
#include "sipas_spool.h"

#define TICK_MS 50             /* longest poll wait */
#define START_GRACE_MS 1500    /* wait for a worker before READY=1 */
#define BATCH 512              /* messages read per socket per turn */
#define ACK_MAX 1024           /* bytes of one ack relayed from a worker */
#define RECENT_IDS 100000      /* recent-ids cache */
#define SPOOL_WINDOW 256       /* spooled responses out to workers */
#define SPOOL_RETRY_MS 200     /* wait after no worker took one */
#define BUSY_FULL_MS 100       /* retry_ms when in-flight is full */
#define BUSY_NO_WORKER_MS 1000 /* retry_ms when no worker is connected */
/* Last answers' time to leave at exit. Never 0: a client pipe must drain,
 * not vanish mid-message (see the worker monitor in collector_loop.c). */
#define CLIENT_LINGER_MS 1000
/* At stop, how long the client connections stay open after the last
 * answer went out (see the end of sipas_collector_run). */
#define CLIENT_DRAIN_MS 500
#define CLIENT_MAX_MSG (16 << 20) /* a bigger frame drops the connection */
#define CLIENT_RCVHWM 10000
#define CLIENT_SNDHWM 100000
#define LOG_EVERY_MS 10000 /* rate limit of repeated warnings */
#define STATS_EVERY_MS 60000
#define TOKEN_IDX_BITS 24 /* flight pool index in a token */
#define MONITOR_EP "inproc://sipas-collector-monitor"
#define MAX_CONN 64 /* worker connections tracked */
#define MAX_WORKERS 32 /* --worker endpoints (the config's list limit) */
/* libzmq 4.3 gives up on a connection whose handshake was refused or
 * failed on a protocol error; it is made again after this long. */
#define WORKER_RETRY_MS 2000

enum { SLOT_EMPTY = 0, SLOT_SET = 1 };

struct slot {
	uint32_t off, len; /* ack bytes in the request's arena */
	uint8_t state;
	uint8_t status, code; /* of that ack, counted when it is sent */
};

struct request {
	struct request *next_out; /* outbox */
	unsigned char rid[256];
	size_t rid_len;
	bool delim; /* REQ client: answer behind "" */
	bool is_array;
	bool abandoned;      /* a response was given up: no answer */
	bool queued;         /* in the outbox */
	uint32_t n, waiting; /* slots; slots still empty */
	sipas_buf arena;     /* ack bytes */
	struct slot slot[];
};

struct flight {
	uint64_t token;      /* 0 = free */
	struct request *req; /* NULL for a spool delivery */
	uint32_t slot;
	bool spooled;
	uint64_t seq; /* spool record, when spooled */
	uint32_t attempts;
	bool force;     /* re-send when due, even if probably still queued */
	uint64_t ahead; /* flights out when it was (last) sent */
	uint64_t acks_at_send; /* acks_seen when it was (last) sent */
	int64_t first_ms, due_ms, received_ms;
	sipas_hash128 key, digest; /* spool mode only */
	char *bytes;
	uint32_t len;
	struct flight *prev, *next; /* due list; free list uses next */
};

/* A slot whose ack holds only while the spool sync succeeds. */
struct dep {
	struct request *req;
	uint32_t slot;
};

struct counters {
	uint64_t requests, responses, forwarded, relayed, refused, busy;
	uint64_t spooled, spool_dups, delivered, resent, given_up;
	uint64_t undeliverable, stale_acks, bad_acks, spool_errors;
	/* failed handshakes: toward workers; of clients (from the guard,
	 * copied here when the stats are logged) */
	uint64_t worker_handshakes, clients_denied, clients_failed;
};

/* Warnings that repeat, each logged at most once per LOG_EVERY_MS. */
enum {
	W_SPOOL,
	W_GIVE_UP,
	W_UNDELIVERABLE,
	W_BAD_ACK,
	W_CORRUPT,
	W_HANDSHAKE,
	W_METRICS,
	W_NWARN
};

struct sipas_collector {
	sipas_collector_opts o;
	void *zctx, *client, *worker, *monitor;
	sipas_curve_guard *guard; /* of the client socket (ZAP with CURVE) */
	sipas_spool *spool;
	sipas_idcache *recent;       /* spool mode only */
	sipas_keytab *inflight_keys; /* spool mode only: key -> copies */
	sipas_response *resp;
	sipas_request *split;
	sipas_buf scratch, spool_buf, canon;

	struct flight *pool, *free_list, *due_head, *due_tail;
	uint32_t pool_cap, nnormal, nspooled;
	uint64_t inflight_bytes, token_gen;
	uint64_t acks_seen;  /* worker answers, stale ones included */
	int64_t last_ack_ms; /* when the last of them came */

	uint64_t answers;       /* sent to clients so far */
	int64_t last_answer_ms; /* when the loop last saw `answers` move */

	struct request *out_head, *out_tail;
	struct dep *deps;
	size_t ndeps, capdeps;

	int64_t spool_retry_at;
	bool no_worker_logged;
	struct { /* worker connections, from the monitor */
		char ep[256];
		bool up;
	} conn[MAX_CONN];
	size_t nconn;
	uint32_t nup; /* connections up (handshake done) */
	int64_t retry_at[MAX_WORKERS]; /* connect --worker i again (0: no) */
	struct counters n, logged;
	int64_t last_stats, last_status;
	int64_t warn_at[W_NWARN];
	struct { /* collector_metrics.c; handles owned by m */
		sipas_metrics *m;
		sipas_metrics_acks acks;
		sipas_gauge *spool_depth;
	} mx;
};

/* ---- collector_metrics.c ---- */

/* Register every series (at open); free them after a last write with
 * sipas_up 0 (at close). */
void sipas_collector_metrics_open(sipas_collector *c);
void sipas_collector_metrics_close(sipas_collector *c);
/* Rewrite the file when it is due; how long a poll may wait for it. */
void sipas_collector_metrics_tick(sipas_collector *c, int64_t now);
long sipas_collector_metrics_wait(const sipas_collector *c, int64_t now,
                                  long want);

/* ---- collector_route.c ---- */

/* True at most once per LOG_EVERY_MS for warning w. */
bool sipas_collector_warn_due(sipas_collector *c, int w);
/* A request frame from a client (routing id rid, REQ delimiter or not):
 * answered now, or its responses forwarded / spooled. */
void sipas_collector_frame(sipas_collector *c, zmq_msg_t *rid, bool delim,
                           const void *frame, size_t len);
/* Answer a whole client message at once with the ack of a fault. */
void sipas_collector_answer_fault(sipas_collector *c, const void *rid,
                                  size_t rid_len, bool delim,
                                  const sipas_fault *f);
/* A worker's answer: [relay header][ack]. */
void sipas_collector_ack(sipas_collector *c, const void *head, size_t hlen,
                         const void *ack, size_t alen);
/* Count and (rate-limited) log a worker message that was not an answer. */
void sipas_collector_bad_ack(sipas_collector *c, const char *why);
/* Re-send, spool or give up the flights whose time has come. */
void sipas_collector_due(sipas_collector *c, int64_t now);
/* Make every flight due now and re-sent (a worker connection changed). */
void sipas_collector_all_due(sipas_collector *c, int64_t now);
/* fsync the spool, then send every finished answer. */
void sipas_collector_flush(sipas_collector *c);
/* Hand spooled responses to workers, oldest first, within a window. */
void sipas_collector_deliver(sipas_collector *c, int64_t now);
/* At the stop deadline: spool what is still owed, when there is a spool. */
void sipas_collector_stop_flush(sipas_collector *c);
/* Free every flight and request (at close; nothing is sent). */
void sipas_collector_forget_all(sipas_collector *c);

#endif
