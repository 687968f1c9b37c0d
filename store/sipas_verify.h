/*
 * sipas_verify.h - check a store against itself: recompute every counter
 * record from the stored responses and compare (sipas-admin verify).
 *
 * Everything is read in one LMDB read transaction, so the check sees one
 * committed state while the daemons keep writing, and blocks no writer.
 * Each stored response is decoded, validated against the definition
 * revision it was judged by (its entry names it; entries written before
 * revisions were recorded use the campaign's current revision) and counted
 * as the write path counts it. Then:
 *   - every counter record (campaign, unit, form) must equal the recomputed
 *     one, value by value (criterion levels, not-applicable, item codes,
 *     numbers, respondents, channels); records are compared by meaning,
 *     not by bytes, so records kept across definition revisions compare;
 *   - a record without responses and responses without a record are
 *     differences;
 *   - the campaign statistics must say `accepted` = the campaign's stored
 *     responses and `quarantined` = its quarantine entries;
 *   - every response has a `seen` record pointing at it with its content
 *     hash; every `seen` record marked counted points at a stored response
 *     of that id, every one marked quarantined at a quarantine entry;
 *   - no (campaign, id) is stored as two responses (found through the
 *     seen record, which names one of them; the other is counted once).
 * Duplicates and conflicts of the statistics count answers, not stored
 * records, so they cannot be recomputed and are not checked.
 */
#ifndef SIPAS_VERIFY_H
#define SIPAS_VERIFY_H

#include <stdint.h>
#include "sipas_err.h"
#include "sipas_store.h"

typedef enum sipas_verify_kind {
	SIPAS_VERIFY_COUNTER = 0,      /* a value of a counter record */
	SIPAS_VERIFY_MISSING_COUNTER,  /* responses counted, no record */
	SIPAS_VERIFY_STRAY_COUNTER,    /* a record with no response behind it */
	SIPAS_VERIFY_STATS,            /* campaign statistics */
	SIPAS_VERIFY_SEEN,             /* a dedupe record and the responses */
	SIPAS_VERIFY_DUPLICATE,        /* one (campaign, id) stored twice */
	SIPAS_VERIFY_RESPONSE,         /* a stored response that cannot count */
	SIPAS_VERIFY_DAMAGED,          /* a record that cannot be read */
	SIPAS_VERIFY_NKINDS
} sipas_verify_kind;

/* "counter", "missing-counter", "stray-counter", "stats", "seen",
 * "duplicate", "response", "damaged". Static storage. */
const char *sipas_verify_kind_name(sipas_verify_kind k);

/*
 * One difference. `where` names the record: "C/U/F/ITEM level 4",
 * "C/U/F respondents", "C accepted", "C/ID", "response 17", ...
 * Either stored and recomputed are set (what the store holds, what the
 * responses say) and detail is NULL, or the opposite. `line` is the whole
 * report line: "KIND WHERE: stored S, recomputed R" or "KIND WHERE:
 * DETAIL". All strings are borrowed for the duration of the callback.
 */
typedef struct sipas_verify_diff {
	sipas_verify_kind kind;
	const char *where;
	const char *stored;
	const char *recomputed;
	const char *detail;
	const char *line;
} sipas_verify_diff;

/* What was read, for the summary. */
typedef struct sipas_verify_totals {
	uint64_t txnid;         /* the LMDB transaction that was verified */
	uint64_t responses;     /* responses of the campaign(s) checked */
	uint64_t counters;      /* counter records compared */
	uint64_t campaigns;     /* campaigns whose statistics were compared */
	uint64_t seen;          /* seen records checked */
	uint64_t quarantined;   /* quarantine entries read */
	uint64_t differences;   /* fn calls */
} sipas_verify_totals;

typedef void (*sipas_verify_fn)(const sipas_verify_diff *d, void *ctx);

/*
 * Verify s (campaign NULL: every campaign; else only that one) and call fn
 * (may be NULL) for each difference, in a stable order: responses by
 * number, then seen records, quarantine, counter records by key,
 * statistics by campaign. *out (may be NULL) receives the totals.
 * Differences are findings, not errors: SIPAS_OK is returned whatever
 * they are. SIPAS_E_NOT_FOUND when `campaign` is neither defined nor has
 * statistics; SIPAS_E_STORE when LMDB fails (diag says where).
 */
SIPAS_MUST_CHECK sipas_err sipas_verify_store(sipas_store *s,
					      const char *campaign,
					      sipas_verify_fn fn, void *ctx,
					      sipas_verify_totals *out,
					      sipas_diag *diag);

#endif
