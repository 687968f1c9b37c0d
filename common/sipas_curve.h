/*
 * sipas_curve.h - CURVE keys, client allowlists and the guard that
 * enforces them on a daemon's bound socket (docs/security.md).
 *
 * Key files are CZMQ certificate (ZPL) text, so that keys made by other
 * ZeroMQ tools can be read too:
 *
 *     # comment lines
 *     curve
 *         public-key = "<40 characters of Z85>"
 *         secret-key = "<40 characters of Z85>"     (secret files only)
 *
 * `sipas-admin keygen NAME` writes NAME.key (public and secret key, mode
 * 0600) and NAME.pub (public key only). A `metadata` section is allowed
 * and ignored; anything else is an error naming the file and the line.
 *
 * An allowlist is a folder whose *.pub files hold one public key each, or
 * one file holding one or more `public-key` lines.
 *
 * The guard runs on its own thread, in the daemon's ZeroMQ context: a ZAP
 * handler (RFC 27, inproc://zeromq.zap.01) that admits only the listed
 * client keys, and a reader of the socket's handshake-failure events. It
 * counts and logs (rate-limited) every refused or failed handshake, so a
 * client with a wrong key is visible at the server and never looks like a
 * server that is down.
 */
#ifndef SIPAS_CURVE_H
#define SIPAS_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

#include "sipas_err.h"

#define SIPAS_CURVE_KEY_LEN 32      /* bytes of a key */
#define SIPAS_CURVE_Z85_LEN 40      /* characters of a key in Z85 */
#define SIPAS_CURVE_FILE_MAX (1 << 20) /* bytes of a key or list file */
#define SIPAS_CURVE_LOG_EVERY_MS 10000 /* one line per kind of failure */

/* A key pair (has_secret) or a public key alone. */
typedef struct sipas_curve_key {
	uint8_t pub[SIPAS_CURVE_KEY_LEN];
	uint8_t sec[SIPAS_CURVE_KEY_LEN];
	bool has_secret;
} sipas_curve_key;

/*
 * True for an endpoint that cannot be reached from another host: ipc://,
 * inproc://, and tcp:// to 127.0.0.0/8, ::1 (or ::ffff:127.x) or
 * localhost. For a connect endpoint with a source address
 * (tcp://SRC;DEST) the destination decides. Anything else (0.0.0.0, *, a
 * routable address, a host or interface name) is not local.
 */
bool sipas_endpoint_is_local(const char *endpoint);

/* True for "none" or "": an option's way of saying "no key file". */
bool sipas_curve_is_none(const char *path);

/*
 * Write a new key pair: `base`.key (public and secret key, mode 0600) and
 * `base`.pub (public key only). Neither file may exist: nothing is
 * overwritten, and when the second cannot be created the first is removed
 * again. Both files are fsync'd. pub_z85 gets the public key (41 bytes).
 * SIPAS_E_USAGE when a file exists, SIPAS_E_IO otherwise; why in diag.
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_keygen(const char *base,
					      char pub_z85[SIPAS_CURVE_Z85_LEN + 1],
					      sipas_diag *diag);

/*
 * Read a key pair from a secret key file. The file must not be readable by
 * others nor writable by its group (0600, 0400, 0640 pass), hold one
 * public-key and
 * one secret-key, and the public key must be the one the secret key
 * derives. SIPAS_E_IO when it cannot be read, SIPAS_E_BAD_VALUE for
 * everything else; why (file and line) in diag.
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_load_pair(const char *path,
						 sipas_curve_key *out,
						 sipas_diag *diag);

/*
 * Read a public key file: exactly one public-key and no secret-key (a
 * secret key file is refused, so that it is never handed around by
 * mistake). Errors as sipas_curve_load_pair().
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_load_public(const char *path,
						   sipas_curve_key *out,
						   sipas_diag *diag);

/* Wipe the secret half of a key (before the memory is released). */
void sipas_curve_key_wipe(sipas_curve_key *k);

/* Z85 text of a 32-byte key into out (41 bytes). */
void sipas_curve_z85(const uint8_t key[SIPAS_CURVE_KEY_LEN],
		     char out[SIPAS_CURVE_Z85_LEN + 1]);

typedef struct sipas_curve_allow sipas_curve_allow;

/*
 * Read an allowlist: a folder (its *.pub files; other names are skipped)
 * or one file with one or more public-key lines. An empty list, a file
 * holding a secret key, or any unreadable entry is an error (the whole
 * list is refused). The caller frees *out.
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_allow_load(sipas_curve_allow **out,
						  const char *path,
						  sipas_diag *diag);
size_t sipas_curve_allow_count(const sipas_curve_allow *a);
/* True when key is listed; *name (may be NULL) gets the name of its entry
 * (the file name without .pub, or "FILE:LINE"), valid as long as a. */
bool sipas_curve_allow_has(const sipas_curve_allow *a,
			   const uint8_t key[SIPAS_CURVE_KEY_LEN],
			   const char **name);
void sipas_curve_allow_free(sipas_curve_allow **a);

/*
 * Socket options, set before bind/connect. A server takes its key pair;
 * a client its own pair and the server's public key.
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_set_server(void *sock,
						  const sipas_curve_key *own,
						  sipas_diag *diag);
SIPAS_MUST_CHECK sipas_err sipas_curve_set_client(void *sock,
						  const sipas_curve_key *own,
						  const sipas_curve_key *server,
						  sipas_diag *diag);

/*
 * Words for a handshake failure event of a socket monitor
 * (ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, _PROTOCOL or _AUTH and its
 * value), from the side that saw it: `server` true for a bound socket.
 * Static storage.
 */
const char *sipas_curve_failure_text(unsigned event, uint32_t value,
				     bool server);

/* Handshake failure events to ask a socket monitor for. */
#define SIPAS_CURVE_FAILURE_EVENTS                                         \
	(ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |                            \
	 ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)

typedef struct sipas_curve_guard sipas_curve_guard;

typedef struct sipas_curve_stats {
	uint64_t allowed; /* handshakes whose client key is listed */
	uint64_t denied;  /* client keys not listed (ZAP said 400) */
	uint64_t failed;  /* other failed handshakes: wrong server key,
			   * CURVE on one side only, connection closed or
			   * garbled during the handshake */
} sipas_curve_stats;

typedef struct sipas_curve_guard_opts {
	const char *log_prefix; /* "COL", "WRK": ids PREFIX-CURVE-DENIED,
				 * PREFIX-HANDSHAKE-FAIL (borrowed for the
				 * guard's life) */
	const char *endpoint;   /* the socket's endpoint, for the log */
	sipas_curve_allow *allow; /* taken over; NULL: no CURVE on the
				   * socket (failures are still counted) */
	int64_t log_every_ms;   /* 0: SIPAS_CURVE_LOG_EVERY_MS */
} sipas_curve_guard_opts;

/*
 * Start the guard of `sock` (a socket of zctx that is not bound yet) on a
 * thread of its own. With an allowlist it binds the context's ZAP handler
 * first: call this before zmq_bind(sock), since libzmq admits every CURVE
 * client of a context without a ZAP handler. The allowlist is owned by
 * the guard from the call on, even when it fails. Free the guard after
 * closing sock and before terminating zctx.
 */
SIPAS_MUST_CHECK sipas_err sipas_curve_guard_new(sipas_curve_guard **out,
						 void *zctx, void *sock,
						 const sipas_curve_guard_opts *o,
						 sipas_diag *diag);

/* Replace the allowlist (taken over). New handshakes use it; connections
 * already made stay. A guard without CURVE keeps none (freed). */
void sipas_curve_guard_reload(sipas_curve_guard *g, sipas_curve_allow *allow);

/* Counters so far (any thread). */
void sipas_curve_guard_stats(const sipas_curve_guard *g,
			     sipas_curve_stats *out);
/* Refused and failed handshakes so far: denied + failed. 0 for NULL. */
uint64_t sipas_curve_denied(const sipas_curve_guard *g);

/* Stop the thread and close its sockets. Accepts NULL. */
void sipas_curve_guard_free(sipas_curve_guard **g);

#endif
