/*
 * sipas_counts.h - the aggregate counters of one (campaign, unit, form):
 * what a snapshot reads instead of responses, so its cost never grows with
 * the number of responses.
 *
 * In memory a sipas_counts is laid out for one form of one definition
 * (arrays indexed by criterion and item position). On disk the record is
 * self-describing - every entry carries its criterion or item id - so a
 * new definition revision that adds, drops or reorders criteria reads old
 * records correctly: entries are matched by id, and entries the current
 * form does not know are carried along untouched when the record is
 * rewritten, never lost.
 *
 * Record format v1 (varint = unsigned LEB128, zz = zigzag varint):
 *   'S' 'C' 0x01
 *   varint respondents
 *   varint nchannels, nchannels x varint      (sipas_channel_names order)
 *   varint nentries, entries:
 *     u8 kind (0 criterion, 1 codes, 2 number), varint idlen, id bytes,
 *     criterion: zz min, varint nlevels, varint na, nlevels x varint
 *     codes:     varint answered, varint npairs, npairs x (zz code, varint n)
 *     number:    varint answered, zz sum, varint npairs,
 *                npairs x (zz value, varint n)
 */
#ifndef SIPAS_COUNTS_H
#define SIPAS_COUNTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_buf.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_index.h"
#include "sipas_protocol.h"
#include "sipas_validate.h"

/* A number item keeps a full distribution (for its median) when its range
 * has at most this many values; otherwise only count and sum. */
#define SIPAS_MAX_NUMBER_BINS 1024

typedef struct sipas_counts {
	/* Layout: borrowed, live as long as the definition. */
	const sipas_def *def;
	const sipas_form *form;
	int64_t scale_min;
	uint32_t nlevels;          /* scale max - min + 1 */

	uint64_t respondents;
	uint64_t channels[SIPAS_NCHANNELS];
	/*
	 * Criterion i: crit[i * (nlevels + 1) + 0] = not-applicable answers,
	 * crit[i * (nlevels + 1) + 1 + k] = answers of level scale_min + k.
	 */
	uint64_t *crit;
	/*
	 * Item j starts at items + item_off[j]:
	 *   CHOICE, MULTI: [answered, count of codes[0], ..., codes[ncodes-1]]
	 *                  (MULTI: respondents who chose each code)
	 *   NUMBER:        [answered, sum (int64 bits), then when the range
	 *                  max-min+1 <= SIPAS_MAX_NUMBER_BINS one count per
	 *                  value min..max]
	 */
	uint64_t *items;
	uint32_t *item_off;
	/* Entries of the stored record that this layout does not know
	 * (encoded bytes, appended again by sipas_counts_encode). */
	sipas_buf carry;
	uint32_t ncarry;
	/* The longest record of this layout without the carry. */
	size_t enc_max;
} sipas_counts;

/* A zeroed sipas_counts for form f of d. The caller frees it with
 * sipas_counts_free(). Aborts on out-of-memory (sipas_oom.h). */
sipas_counts *sipas_counts_new(const sipas_def *d, const sipas_form *f);
void sipas_counts_free(sipas_counts **c);
/* Back to zero (layout kept, carry dropped). */
void sipas_counts_reset(sipas_counts *c);

/* Count one validated response (its form must be c->form). */
void sipas_counts_add(sipas_counts *c, const sipas_checked *chk);

/* Add every count of `other` (same def and form) into c. */
void sipas_counts_merge(sipas_counts *c, const sipas_counts *other);

/* Append the record of c to out. */
SIPAS_MUST_CHECK sipas_err sipas_counts_encode(const sipas_counts *c,
					       sipas_buf *out);

/* The record of c written to `out`, which has room for
 * sipas_counts_encoded_max(c) bytes; returns its length. */
size_t sipas_counts_encoded_max(const sipas_counts *c);
size_t sipas_counts_encode_to(const sipas_counts *c, unsigned char *out);

/* Bytes of memory c holds (for bounding caches of counts). */
size_t sipas_counts_footprint(const sipas_counts *c);

/*
 * Add the counts of a stored record into c (matching entries by id;
 * entries c's layout cannot hold go to c->carry). SIPAS_E_MALFORMED when
 * the bytes are not a record (c may then hold part of it: reset it).
 */
SIPAS_MUST_CHECK sipas_err sipas_counts_decode(sipas_counts *c,
					       const void *rec, size_t len);

/* Satisfied / answered of criterion i (answered excludes not-applicable). */
sipas_tally sipas_counts_tally(const sipas_counts *c, uint32_t i);

/* Pointers into c for reading: the criterion row [na, levels...] and the
 * item row described above. */
const uint64_t *sipas_counts_criterion(const sipas_counts *c, uint32_t i);
const uint64_t *sipas_counts_item(const sipas_counts *c, uint32_t j);

/* Campaign-wide counters kept beside the per-(unit, form) records. */
typedef struct sipas_campaign_stats {
	uint64_t accepted;     /* responses counted */
	uint64_t duplicates;   /* copies answered `duplicate` */
	uint64_t conflicts;    /* copies answered `rejected` / `conflict` */
	uint64_t quarantined;  /* responses put in the quarantine */
} sipas_campaign_stats;

/* The stats record: four varints in the order of the struct. */
SIPAS_MUST_CHECK sipas_err sipas_stats_encode(const sipas_campaign_stats *st,
					      sipas_buf *out);
/* Add a stored stats record into *st. SIPAS_E_MALFORMED when it is not one. */
SIPAS_MUST_CHECK sipas_err sipas_stats_decode(sipas_campaign_stats *st,
					      const void *rec, size_t len);

#endif
