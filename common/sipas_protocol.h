/*
 * sipas_protocol.h - the wire codec (interfaces.md section 2). The only
 * module that calls msgpack_*.
 *
 * Decoding happens in two steps, which is what a collector needs:
 *
 *   1. sipas_request_split() looks at a whole ZeroMQ frame: refuses it when
 *      too large or not one well-formed msgpack map or array, and otherwise
 *      yields the byte span of each response map (one, or up to 1,000).
 *   2. sipas_response_decode() turns one map into a plain sipas_response,
 *      checking everything that needs no survey definition: types, UTF-8,
 *      required and unknown keys, the id rule, the comment length, `v`,
 *      `channel`, `respondent.kind`. What needs the definition (campaign,
 *      unit, form, items, ranges, window) is sipas_validate's job.
 *
 * Every refusal is a sipas_fault: the wire code, the dotted `field`, one
 * sentence of `detail`, and the response id when it was valid.
 */
#ifndef SIPAS_PROTOCOL_H
#define SIPAS_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_buf.h"
#include "sipas_err.h"
#include "sipas_limits.h"

/* Why a request or response was refused: everything an ack needs. */
typedef struct sipas_fault {
	sipas_err code;                      /* a wire code */
	char id[SIPAS_ID_MAX + 1];           /* "" unless the id was valid */
	char field[SIPAS_ACK_FIELD_MAX];     /* "" when no field is concerned */
	char detail[SIPAS_ACK_DETAIL_MAX];   /* one sentence */
} sipas_fault;

/* Fill a fault (id is left as it is). */
void sipas_fault_set(sipas_fault *f, sipas_err code, const char *field,
		     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* ---- step 1: the frame ---- */

typedef struct sipas_span {
	const char *ptr;   /* borrowed from the frame */
	size_t len;
} sipas_span;

typedef struct sipas_request {
	bool is_array;     /* the frame was an array of maps */
	uint32_t count;    /* 1 for a map; 0..SIPAS_MAX_BATCH for an array */
	/* Each element's bytes, borrowed from the frame given to split (they
	 * live as long as that frame). An element that is not a map, or is
	 * larger than SIPAS_MAX_REQUEST, still has its span here and is refused
	 * with its own fault by sipas_response_decode(). */
	sipas_span elem[SIPAS_MAX_BATCH];
} sipas_request;

/*
 * Split a frame into response maps. Refuses the whole frame (returns the
 * code, fills *fault with id "") when:
 *   - SIPAS_E_TOO_LARGE: a map frame over SIPAS_MAX_REQUEST bytes, an array
 *     frame over SIPAS_MAX_ARRAY_REQUEST bytes or of more than
 *     SIPAS_MAX_BATCH elements;
 *   - SIPAS_E_MALFORMED: not exactly one msgpack object, not a map or array,
 *     truncated, bytes after the object, nesting deeper than
 *     SIPAS_MAX_DEPTH, or a container announcing more elements than there
 *     are bytes left.
 * The size rules are checked before any parsing. No allocation.
 */
SIPAS_MUST_CHECK sipas_err sipas_request_split(const void *frame, size_t len,
					       sipas_request *req,
					       sipas_fault *fault);

/* ---- step 2: one response ---- */

typedef enum sipas_answer_kind {
	SIPAS_ANSWER_INT = 0,    /* "items": {"A1": 4} */
	SIPAS_ANSWER_LIST = 1    /* "items": {"expect": [1, 4]} */
} sipas_answer_kind;

typedef struct sipas_answer {
	const char *item;        /* NUL-terminated, in the response's arena */
	uint32_t item_len;
	sipas_answer_kind kind;
	uint32_t ncodes;         /* LIST: 0..SIPAS_MAX_CODES */
	int64_t value;           /* INT */
	const int64_t *codes;    /* LIST: ncodes values, in the response */
} sipas_answer;

typedef struct sipas_respondent {
	bool present;
	const char *kind;        /* "person" / "org", or NULL when absent */
	const char *gender, *edu, *job, *ethnic;  /* NULL when absent */
	bool has_age;
	int64_t age;
} sipas_respondent;

typedef struct sipas_entry {
	bool present;
	const char *clerk, *batch, *serial;  /* NULL when absent */
} sipas_entry;

/*
 * One decoded response. Every string is NUL-terminated, valid UTF-8, and
 * stored in the struct's own arena, so a sipas_response does not borrow
 * from the frame and stays valid until the next decode into it. It is big
 * (about 100 KiB): allocate one and reuse it for every message.
 */
typedef struct sipas_response {
	int64_t v;
	const char *id;          /* valid id (sipas_id_valid) */
	const char *campaign, *unit, *form, *channel;
	int64_t ts;
	uint32_t nanswers;
	sipas_answer answers[SIPAS_MAX_ANSWERS];  /* in wire order */
	sipas_respondent respondent;
	const char *comment;     /* NULL when absent */
	sipas_entry entry;

	/* arena: private to the codec */
	size_t text_used;
	char text[SIPAS_MAX_REQUEST + 64];
	size_t codes_used;
	int64_t code_pool[SIPAS_MAX_ANSWERS * 4];
} sipas_response;

/* The top-level keys of a response map (interfaces.md section 2), in the
 * order missing_field reports them; the first SIPAS_KEY_NREQUIRED are
 * required. Shared by the codec and by the JSON / CSV readers of
 * sipas-submit, which must answer exactly as the codec does. */
enum {
	SIPAS_KEY_V,
	SIPAS_KEY_ID,
	SIPAS_KEY_CAMPAIGN,
	SIPAS_KEY_UNIT,
	SIPAS_KEY_FORM,
	SIPAS_KEY_CHANNEL,
	SIPAS_KEY_TS,
	SIPAS_KEY_ITEMS,
	SIPAS_KEY_RESPONDENT,
	SIPAS_KEY_COMMENT,
	SIPAS_KEY_ENTRY,
	SIPAS_NKEYS,
	SIPAS_KEY_NREQUIRED = SIPAS_KEY_ITEMS + 1
};
extern const char *const sipas_response_keys[SIPAS_NKEYS];

/* The channels of the contract, in a fixed order. */
#define SIPAS_NCHANNELS 5
extern const char *const sipas_channel_names[SIPAS_NCHANNELS];
/* Index of a channel name in sipas_channel_names, or -1. */
int sipas_channel_index(const char *name);

/*
 * Decode one response map (an element span from sipas_request_split, or any
 * buffer). On SIPAS_OK *r holds the response. Otherwise returns the wire
 * code and fills *fault (with the id when it was valid). The order of
 * checks, so one request gets one stable answer:
 *   1. over SIPAS_MAX_REQUEST bytes: too_large; not one well-formed map,
 *      or a map with a repeated key (at any depth): malformed;
 *   2. the id, wherever it stands in the map: bad_type / bad_utf8 /
 *      bad_value (fault->id stays "");
 *   3. every key in wire order: unknown_field, then bad_type, bad_utf8,
 *      too_large, bad_value for its value;
 *   4. missing required keys in the order v, id, campaign, unit, form,
 *      channel, ts, items: missing_field.
 * SIPAS_E_BUSY (a fault with code busy) when msgpack-c runs out of memory.
 * Strings are copied into *r; msgpack-c's working zone (bounded by the
 * SIPAS_MAX_REQUEST input) is freed before returning.
 */
SIPAS_MUST_CHECK sipas_err sipas_response_decode(const void *buf, size_t len,
						 sipas_response *r,
						 sipas_fault *fault);

/*
 * Append r as one msgpack map to out, keys in the contract's order (v, id,
 * campaign, unit, form, channel, ts, items, then respondent, comment, entry
 * when present), answers in r's order. Decoding the result gives back r.
 * Used by sipas-submit (JSON / CSV -> wire) and by tests.
 * SIPAS_E_MISSING_FIELD when a required string of r is NULL;
 * SIPAS_E_TOO_LARGE at out's ceiling. On failure out is unchanged.
 */
SIPAS_MUST_CHECK sipas_err sipas_response_encode(sipas_buf *out,
						 const sipas_response *r);

/* The answer to item `id` in r, or NULL. */
const sipas_answer *sipas_response_find(const sipas_response *r, const char *id);

/* ---- acks ---- */

typedef enum sipas_status {
	SIPAS_ACCEPTED = 0,
	SIPAS_DUPLICATE = 1,
	SIPAS_REJECTED = 2,
	SIPAS_BUSY = 3
} sipas_status;

/* "accepted", "duplicate", "rejected", "busy". Static storage. */
const char *sipas_status_name(sipas_status s);

typedef struct sipas_ack {
	sipas_status status;
	sipas_err code;          /* SIPAS_OK for accepted/duplicate */
	char id[SIPAS_ID_MAX + 1];
	char field[SIPAS_ACK_FIELD_MAX];
	char detail[SIPAS_ACK_DETAIL_MAX];
	int64_t retry_ms;        /* busy only; 0 = not sent */
} sipas_ack;

/* The ack that answers a fault: status rejected, or busy for SIPAS_E_BUSY. */
void sipas_ack_from_fault(sipas_ack *ack, const sipas_fault *fault);

/*
 * Append one ack map to out: keys id, status, then code, field, detail when
 * they are set, retry_ms when > 0. SIPAS_E_TOO_LARGE when out's ceiling is
 * reached (out unchanged).
 */
SIPAS_MUST_CHECK sipas_err sipas_ack_encode(sipas_buf *out, const sipas_ack *ack);

/* Append an array of n acks (the answer to an array request). */
SIPAS_MUST_CHECK sipas_err sipas_ack_encode_array(sipas_buf *out,
						  const sipas_ack *acks, size_t n);

/*
 * Decode an answer frame: one ack map (*n = 1) or an array of them (up to
 * `max` acks written to acks[], *n set to the count). For clients and
 * tests. SIPAS_E_MALFORMED when it is not such a frame (keys other than
 * those of the contract are ignored); SIPAS_E_TOO_LARGE when an array holds
 * more than `max` acks.
 */
SIPAS_MUST_CHECK sipas_err sipas_ack_decode(const void *frame, size_t len,
					    sipas_ack *acks, size_t max,
					    size_t *n, bool *is_array);

/*
 * Append the header of an array of n acks; the caller then appends n ack
 * maps (e.g. acks relayed as bytes from a worker). Used by the collector to
 * answer an array request. SIPAS_E_TOO_LARGE at out's ceiling (out
 * unchanged).
 */
SIPAS_MUST_CHECK sipas_err sipas_ack_array_header(sipas_buf *out, size_t n);

#endif
