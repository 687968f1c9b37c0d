/*
 * sipas_batch.h - the write path of a store: many responses per LMDB write
 * transaction, one fsync per commit (group commit).
 *
 * Within one transaction, for each response:
 *   - its (campaign, id) is recorded in `seen` with a hash of its content,
 *     so "seen" and "counted" can never be split by a crash;
 *   - a new id is counted: its raw msgpack is appended to `responses` (with
 *     source and arrival time) and its answers are added to in-memory
 *     counter deltas of its (unit, form);
 *   - a known id with the same content is a duplicate, with other content a
 *     conflict; neither changes any counter but the campaign statistics.
 * sipas_batch_commit() merges the deltas into the stored counter records
 * and commits. Outcomes reported by add are final once commit returns
 * SIPAS_OK; if commit (or any add) fails, nothing of the batch was stored
 * and every response in it must be answered `busy`.
 *
 * Between commits the batch keeps the counter records it wrote (bounded,
 * see batch.c), so a commit re-encodes them without reading them back.
 * Other writers of the same store (sipas-admin, a second batch) stay
 * correct: a begin that finds another commit since this batch's last one
 * forgets what was kept and reads the store again.
 *
 * The batch also caches the current definition of every campaign it meets,
 * reloaded at each begin when `sipas-admin define` stored a new revision,
 * so responses received after define returned use the new revision.
 */
#ifndef SIPAS_BATCH_H
#define SIPAS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_protocol.h"
#include "sipas_store.h"
#include "sipas_validate.h"

typedef struct sipas_batch sipas_batch;

typedef struct sipas_outcome {
	sipas_status status;  /* ACCEPTED, DUPLICATE or REJECTED */
	sipas_err code;       /* CONFLICT, or the quarantine code; else OK */
} sipas_outcome;

/* A batch writing to s; the caller frees it (before closing s). */
sipas_batch *sipas_batch_new(sipas_store *s);
void sipas_batch_free(sipas_batch **b);

/* Open the write transaction (no-op when open) and refresh definitions.
 * Blocks while another process writes (e.g. sipas-admin define). */
SIPAS_MUST_CHECK sipas_err sipas_batch_begin(sipas_batch *b, sipas_diag *diag);

/* True between begin and commit/abort. */
bool sipas_batch_is_open(const sipas_batch *b);
/* Responses added since begin. */
size_t sipas_batch_size(const sipas_batch *b);

/*
 * The current definition of `campaign` as of the open transaction, or NULL
 * (*out) when the store has no such campaign. Borrowed: valid until the
 * next sipas_batch_begin(). rev may be NULL.
 */
SIPAS_MUST_CHECK sipas_err sipas_batch_definition(sipas_batch *b,
						  const char *campaign,
						  const sipas_def **out,
						  const sipas_revision **rev,
						  sipas_diag *diag);

/* Where a response came from. */
typedef struct sipas_origin {
	const char *source;    /* the collector's --source ("" when none) */
	int64_t received_ms;   /* when the collector received it */
} sipas_origin;

/* Count r (valid: chk from sipas_validate against d, which came from
 * sipas_batch_definition) unless its id was seen. `raw` is the msgpack map
 * as received. */
SIPAS_MUST_CHECK sipas_err sipas_batch_add(sipas_batch *b, const sipas_def *d,
					   const sipas_checked *chk,
					   const sipas_response *r,
					   const void *raw, size_t rawlen,
					   const sipas_origin *from,
					   sipas_outcome *out, sipas_diag *diag);

/*
 * Keep r, refused with `fault` after a collector had accepted it, in the
 * quarantine - unless its id was already counted (then DUPLICATE or
 * CONFLICT) or is already quarantined with the same content (then the
 * same REJECTED outcome again, stored once). *out is REJECTED with
 * fault->code for a quarantined response.
 */
SIPAS_MUST_CHECK sipas_err sipas_batch_quarantine(sipas_batch *b,
						  const sipas_response *r,
						  const void *raw, size_t rawlen,
						  const sipas_origin *from,
						  const sipas_fault *fault,
						  sipas_outcome *out,
						  sipas_diag *diag);

/*
 * Re-validate every quarantined response against the current definitions
 * and count, once, those that pass now (they leave the quarantine). Opens
 * and commits its own transaction; no batch may be open. `scratch` is a
 * response to decode into. *replayed and *remaining receive the counts.
 */
SIPAS_MUST_CHECK sipas_err sipas_batch_replay(sipas_batch *b,
					      sipas_response *scratch,
					      size_t *replayed,
					      size_t *remaining,
					      sipas_diag *diag);

/* Write the counters and commit (fsync). On failure the batch is aborted. */
SIPAS_MUST_CHECK sipas_err sipas_batch_commit(sipas_batch *b, sipas_diag *diag);

/* Drop everything since begin. */
void sipas_batch_abort(sipas_batch *b);

/* The LMDB transaction id of the last commit (0 before any). */
uint64_t sipas_batch_last_txnid(const sipas_batch *b);

#endif
