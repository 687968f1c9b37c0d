/*
 * sipas_relay.h - the hop between a collector and a worker (internal; not
 * part of the contract, both ends ship together).
 *
 * The collector's DEALER sends two frames per response:
 *     [relay header][response map, exactly the bytes the client sent]
 * and the worker's ROUTER answers that DEALER with two frames:
 *     [relay header, same token][ack map, as sipas_ack_encode writes it]
 * The ack bytes are what the collector sends on to the client (inside an
 * array when the client sent an array), so the worker's words reach the
 * client unchanged.
 *
 * Header: fixed little-endian layout, version first so either end can
 * refuse a peer of another version.
 */
#ifndef SIPAS_RELAY_H
#define SIPAS_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_err.h"
#include "sipas_limits.h"

#define SIPAS_RELAY_VERSION 1
#define SIPAS_SOURCE_MAX 64   /* a collector's --source name */

enum {
	SIPAS_RELAY_SPOOLED = 1u << 0  /* the collector already acked it
					  `accepted` from its spool: the
					  worker must quarantine, never
					  reject, what fails validation */
};

typedef struct sipas_relay {
	uint8_t version;
	uint8_t flags;
	uint64_t token;            /* the collector's correlation id */
	int64_t received_ms;       /* wall clock when the collector got it */
	char source[SIPAS_SOURCE_MAX + 1];
} sipas_relay;

#define SIPAS_RELAY_MAX (2 + 8 + 8 + 1 + SIPAS_SOURCE_MAX)

/* Write h into out (at least SIPAS_RELAY_MAX bytes); returns the length. */
size_t sipas_relay_encode(const sipas_relay *h, unsigned char *out);

/* Read a header frame. SIPAS_E_MALFORMED when it is not one (short, wrong
 * version, source not an id). */
SIPAS_MUST_CHECK sipas_err sipas_relay_decode(const void *frame, size_t len,
					      sipas_relay *h);

#endif
