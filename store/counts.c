/*
 * counts.c - aggregate counters of one (campaign, unit, form) and their
 * self-describing record (see sipas_counts.h for the format).
 */
#include "sipas_counts.h"

#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "varint.h"

#define CARRY_MAX (16u << 20)

enum { ENTRY_CRITERION = 0, ENTRY_CODES = 1, ENTRY_NUMBER = 2 };

static uint32_t number_bins(const sipas_item *it)
{
	/* Unsigned: a definition may span the whole int64 range. */
	uint64_t range = (uint64_t)it->max - (uint64_t)it->min;

	return it->max >= it->min && range < SIPAS_MAX_NUMBER_BINS
		       ? (uint32_t)range + 1
		       : 0;
}

static size_t encoded_max(const sipas_counts *c);

sipas_counts *sipas_counts_new(const sipas_def *d, const sipas_form *f)
{
	const sipas_scale *sc = sipas_def_scale(d);
	sipas_counts *c = sipas_xcalloc(1, sizeof *c);
	size_t nitem = 0;

	c->def = d;
	c->form = f;
	c->scale_min = sc->min;
	c->nlevels = (uint32_t)((uint64_t)sc->max - (uint64_t)sc->min + 1);
	c->crit = sipas_xcalloc((size_t)f->ncriteria * (c->nlevels + 1),
				sizeof *c->crit);
	c->item_off = sipas_xcalloc(f->nitems + 1, sizeof *c->item_off);
	for (uint32_t j = 0; j < f->nitems; j++) {
		const sipas_item *it = &f->items[j];

		c->item_off[j] = (uint32_t)nitem;
		nitem += it->kind == SIPAS_ITEM_NUMBER ? 2 + number_bins(it)
						      : 1 + it->ncodes;
	}
	c->item_off[f->nitems] = (uint32_t)nitem;
	c->items = sipas_xcalloc(nitem, sizeof *c->items);
	c->enc_max = encoded_max(c);
	sipas_buf_init(&c->carry, CARRY_MAX);
	return c;
}

void sipas_counts_free(sipas_counts **cp)
{
	sipas_counts *c;

	if (cp == NULL || *cp == NULL)
		return;
	c = *cp;
	free(c->crit);
	free(c->items);
	free(c->item_off);
	sipas_buf_free(&c->carry);
	free(c);
	*cp = NULL;
}

static size_t crit_len(const sipas_counts *c)
{
	return (size_t)c->form->ncriteria * (c->nlevels + 1);
}

size_t sipas_counts_footprint(const sipas_counts *c)
{
	return sizeof *c + crit_len(c) * sizeof *c->crit +
	       c->item_off[c->form->nitems] * sizeof *c->items +
	       (c->form->nitems + 1) * sizeof *c->item_off + c->carry.cap;
}

void sipas_counts_reset(sipas_counts *c)
{
	c->respondents = 0;
	memset(c->channels, 0, sizeof c->channels);
	memset(c->crit, 0, crit_len(c) * sizeof *c->crit);
	memset(c->items, 0, c->item_off[c->form->nitems] * sizeof *c->items);
	sipas_buf_reset(&c->carry);
	c->ncarry = 0;
}

static int code_index(const sipas_item *it, int64_t code)
{
	for (uint32_t k = 0; k < it->ncodes; k++)
		if (it->codes[k] == code)
			return (int)k;
	return -1;
}

void sipas_counts_add(sipas_counts *c, const sipas_checked *chk)
{
	const sipas_form *f = c->form;
	const sipas_scale *sc = sipas_def_scale(c->def);

	c->respondents++;
	if (chk->channel >= 0 && chk->channel < SIPAS_NCHANNELS)
		c->channels[chk->channel]++;
	for (uint32_t i = 0; i < f->ncriteria; i++) {
		const sipas_answer *a = chk->slot[i];
		uint64_t *row = c->crit + (size_t)i * (c->nlevels + 1);

		/* Validation guarantees an int in the scale or the NA level. */
		if (a == NULL || a->kind != SIPAS_ANSWER_INT)
			continue;
		if (sc->has_na && a->value == sc->not_applicable)
			row[0]++;
		else if (a->value >= c->scale_min &&
			 (uint64_t)a->value - (uint64_t)c->scale_min < c->nlevels)
			row[1 + ((uint64_t)a->value - (uint64_t)c->scale_min)]++;
	}
	for (uint32_t j = 0; j < f->nitems; j++) {
		const sipas_item *it = &f->items[j];
		const sipas_answer *a = chk->slot[f->ncriteria + j];
		uint64_t *row = c->items + c->item_off[j];
		int k;

		if (a == NULL)
			continue;
		row[0]++;
		switch (it->kind) {
		case SIPAS_ITEM_CHOICE:
			k = code_index(it, a->value);
			if (k >= 0)
				row[1 + k]++;
			break;
		case SIPAS_ITEM_MULTI:
			for (uint32_t n = 0; n < a->ncodes; n++) {
				k = code_index(it, a->codes[n]);
				if (k >= 0)
					row[1 + k]++;
			}
			break;
		case SIPAS_ITEM_NUMBER:
			/* The sum wraps as two's complement, never UB. */
			row[1] += (uint64_t)a->value;
			if (number_bins(it) && a->value >= it->min &&
			    a->value <= it->max)
				row[2 + ((uint64_t)a->value - (uint64_t)it->min)]++;
			break;
		}
	}
}

void sipas_counts_merge(sipas_counts *c, const sipas_counts *o)
{
	size_t n;

	c->respondents += o->respondents;
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		c->channels[i] += o->channels[i];
	n = crit_len(c);
	for (size_t i = 0; i < n; i++)
		c->crit[i] += o->crit[i];
	n = c->item_off[c->form->nitems];
	for (size_t i = 0; i < n; i++)
		c->items[i] += o->items[i];
	if (o->carry.len > 0 &&
	    sipas_buf_append(&c->carry, o->carry.data, o->carry.len) == SIPAS_OK)
		c->ncarry += o->ncarry;
}

/* Varints: varint.h. */

/* ---- encode ---- */

static bool row_zero(const uint64_t *row, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (row[i])
			return false;
	return true;
}

/* An item row is left out of the record only when every value of it is
 * zero: a record read back must give every count it held (found by
 * fuzz_counts: a row with no `answered` but a sum was being dropped). */
static bool item_zero(const sipas_counts *c, uint32_t j)
{
	return row_zero(c->items + c->item_off[j],
			c->item_off[j + 1] - c->item_off[j]);
}

/*
 * The encoder writes into memory it was given room in (at most
 * sipas_counts_encoded_max bytes), one pointer bump per byte: a record is
 * a few hundred varints, and a bounds check and function call for each
 * (sipas_buf_append) was most of the worker's commit time.
 */
static inline unsigned char *put_u(unsigned char *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (unsigned char)(v | 0x80);
		v >>= 7;
	}
	*p++ = (unsigned char)v;
	return p;
}

static inline unsigned char *put_z(unsigned char *p, int64_t v)
{
	return put_u(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

static unsigned char *put_id(unsigned char *p, int kind, const char *id)
{
	size_t n = strlen(id);

	*p++ = (unsigned char)kind;
	p = put_u(p, n);
	memcpy(p, id, n);
	return p + n;
}

static unsigned char *encode_item(const sipas_counts *c, uint32_t j,
				  unsigned char *p)
{
	const sipas_item *it = &c->form->items[j];
	const uint64_t *row = c->items + c->item_off[j];
	bool number = it->kind == SIPAS_ITEM_NUMBER;
	uint32_t n = number ? number_bins(it) : it->ncodes;
	const uint64_t *cnt = row + (number ? 2 : 1);
	uint64_t pairs = 0;

	p = put_id(p, number ? ENTRY_NUMBER : ENTRY_CODES, it->id);
	p = put_u(p, row[0]);
	if (number)
		p = put_z(p, (int64_t)row[1]);
	for (uint32_t k = 0; k < n; k++)
		pairs += cnt[k] != 0;
	p = put_u(p, pairs);
	for (uint32_t k = 0; k < n; k++) {
		if (cnt[k] == 0)
			continue;
		p = put_z(p, number ? (int64_t)((uint64_t)it->min + k)
				    : it->codes[k]);
		p = put_u(p, cnt[k]);
	}
	return p;
}

/* Varints take at most 10 bytes; see the format in sipas_counts.h. */
#define VMAX 10

static size_t encoded_max(const sipas_counts *c)
{
	const sipas_form *f = c->form;
	size_t n = 3 + VMAX + 1 + SIPAS_NCHANNELS * VMAX + VMAX;

	for (uint32_t i = 0; i < f->ncriteria; i++)
		n += 1 + VMAX + strlen(f->criteria[i].id) + VMAX + VMAX +
		     ((size_t)c->nlevels + 1) * VMAX;
	for (uint32_t j = 0; j < f->nitems; j++) {
		const sipas_item *it = &f->items[j];
		uint32_t pairs = it->kind == SIPAS_ITEM_NUMBER ? number_bins(it)
							       : it->ncodes;

		n += 1 + VMAX + strlen(it->id) + 3 * VMAX + (size_t)pairs * 2 * VMAX;
	}
	return n;
}

size_t sipas_counts_encoded_max(const sipas_counts *c)
{
	return c->enc_max + c->carry.len;
}

size_t sipas_counts_encode_to(const sipas_counts *c, unsigned char *out)
{
	const sipas_form *f = c->form;
	const size_t rowlen = (size_t)c->nlevels + 1;
	unsigned char *p = out;
	uint64_t nentries = c->ncarry;

	for (uint32_t i = 0; i < f->ncriteria; i++)
		nentries += !row_zero(c->crit + i * rowlen, rowlen);
	for (uint32_t j = 0; j < f->nitems; j++)
		nentries += !item_zero(c, j);

	memcpy(p, "SC\x01", 3);
	p = put_u(p + 3, c->respondents);
	p = put_u(p, SIPAS_NCHANNELS);
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		p = put_u(p, c->channels[i]);
	p = put_u(p, nentries);
	for (uint32_t i = 0; i < f->ncriteria; i++) {
		const uint64_t *row = c->crit + i * rowlen;

		if (row_zero(row, rowlen))
			continue;
		p = put_id(p, ENTRY_CRITERION, f->criteria[i].id);
		p = put_z(p, c->scale_min);
		p = put_u(p, c->nlevels);
		/* Counts below 128 (most of them) are one byte. */
		for (size_t k = 0; k < rowlen; k++) {
			if (row[k] < 0x80)
				*p++ = (unsigned char)row[k];
			else
				p = put_u(p, row[k]);
		}
	}
	for (uint32_t j = 0; j < f->nitems; j++)
		if (!item_zero(c, j))
			p = encode_item(c, j, p);
	if (c->carry.len > 0) {
		memcpy(p, c->carry.data, c->carry.len);
		p += c->carry.len;
	}
	return (size_t)(p - out);
}

sipas_err sipas_counts_encode(const sipas_counts *c, sipas_buf *out)
{
	unsigned char *tmp = sipas_xmalloc(sipas_counts_encoded_max(c));
	sipas_err rv = sipas_buf_append(out, tmp, sipas_counts_encode_to(c, tmp));

	free(tmp);
	return rv;
}

/* ---- decode ---- */

/*
 * Add one entry into its place in the layout, or report that the layout
 * cannot hold it whole (then the caller carries the entry's bytes).
 */
static bool fits_criterion(sipas_counts *c, int32_t slot, int64_t min,
			   uint64_t nlevels, const uint64_t *vals, bool apply)
{
	uint64_t *row;

	if (slot < 0 || (uint32_t)slot >= c->form->ncriteria)
		return false;
	/* Levels of a stored record are checked in unsigned arithmetic: the
	 * record's min is untrusted bytes and may sit at either end of the
	 * int64 range. Level min + k is at offset (min - scale_min) + k. */
	for (uint64_t k = 0; k < nlevels; k++) {
		if (vals[1 + k] != 0 &&
		    (min < c->scale_min ||
		     (uint64_t)min - (uint64_t)c->scale_min >= c->nlevels ||
		     (uint64_t)min - (uint64_t)c->scale_min + k >= c->nlevels))
			return false;
	}
	if (!apply)
		return true;
	row = c->crit + (size_t)slot * (c->nlevels + 1);
	row[0] += vals[0];
	for (uint64_t k = 0; k < nlevels; k++)
		if (vals[1 + k] != 0)
			row[1 + ((uint64_t)min - (uint64_t)c->scale_min + k)] +=
			    vals[1 + k];
	return true;
}

/* Read one entry at r; add it or carry it. */
static sipas_err decode_entry(sipas_counts *c, struct varint_reader *r)
{
	const unsigned char *start = r->p;
	uint64_t vals[1 + SIPAS_MAX_SCALE_LEVELS];
	const sipas_item *it = NULL;
	uint64_t idlen, n, answered;
	const char *id;
	int32_t slot;
	int kind;
	bool fits = true;

	if (r->p >= r->end)
		return SIPAS_E_MALFORMED;
	kind = *r->p++;
	idlen = varint_get_u(r);
	if (r->bad || idlen == 0 || idlen > SIPAS_DEF_ID_MAX ||
	    idlen > (uint64_t)(r->end - r->p))
		return SIPAS_E_MALFORMED;
	id = (const char *)r->p;
	r->p += idlen;
	slot = sipas_form_find_slot(c->form, id, (size_t)idlen);
	if (slot >= (int32_t)c->form->ncriteria)
		it = &c->form->items[slot - (int32_t)c->form->ncriteria];

	if (kind == ENTRY_CRITERION) {
		int64_t min = varint_get_z(r);

		n = varint_get_u(r);
		if (r->bad || n == 0 || n > SIPAS_MAX_SCALE_LEVELS)
			return SIPAS_E_MALFORMED;
		for (uint64_t k = 0; k <= n; k++)
			vals[k] = varint_get_u(r);
		if (r->bad)
			return SIPAS_E_MALFORMED;
		fits = fits_criterion(c, slot, min, n, vals, false);
		if (fits)
			fits_criterion(c, slot, min, n, vals, true);
	} else if (kind == ENTRY_CODES || kind == ENTRY_NUMBER) {
		const unsigned char *pairs;
		int64_t sum = 0;
		uint64_t *row = NULL;
		uint32_t bins = 0;

		answered = varint_get_u(r);
		if (kind == ENTRY_NUMBER)
			sum = varint_get_z(r);
		n = varint_get_u(r);
		if (r->bad || n > (uint64_t)(r->end - r->p) / 2)
			return SIPAS_E_MALFORMED;
		if (it == NULL ||
		    (kind == ENTRY_NUMBER) != (it->kind == SIPAS_ITEM_NUMBER))
			fits = false;
		else
			row = c->items + c->item_off[it - c->form->items];
		if (fits && kind == ENTRY_NUMBER) {
			bins = number_bins(it);
			fits = n == 0 || bins != 0;
		}
		/* Two passes over the pairs: check that all fit, then add. */
		pairs = r->p;
		for (int pass = 0; pass < 2; pass++) {
			r->p = pairs;
			for (uint64_t k = 0; k < n; k++) {
				int64_t code = varint_get_z(r);
				uint64_t cnt = varint_get_u(r);
				int idx = -1;

				if (r->bad)
					return SIPAS_E_MALFORMED;
				if (!fits)
					continue;
				if (kind == ENTRY_CODES)
					idx = code_index(it, code);
				else if (code >= it->min && code <= it->max)
					idx = (int)(code - it->min) + 1;
				if (idx < 0)
					fits = false;
				else if (pass == 1)
					row[1 + idx] += cnt;
			}
			if (!fits)
				break;
		}
		if (!fits) {
			/* Skip the remaining pairs to find the entry's end. */
			r->p = pairs;
			for (uint64_t k = 0; k < n; k++) {
				varint_get_z(r);
				varint_get_u(r);
			}
			if (r->bad)
				return SIPAS_E_MALFORMED;
		} else {
			row[0] += answered;
			if (kind == ENTRY_NUMBER)
				/* Two's complement wrap, as in sipas_counts_add:
				 * unsigned addition has no overflow to trap. */
				row[1] += (uint64_t)sum;
		}
	} else {
		return SIPAS_E_MALFORMED;
	}
	if (!fits) {
		if (sipas_buf_append(&c->carry, start, (size_t)(r->p - start)) !=
		    SIPAS_OK)
			return SIPAS_E_TOO_LARGE;
		c->ncarry++;
	}
	return SIPAS_OK;
}

sipas_err sipas_counts_decode(sipas_counts *c, const void *rec, size_t len)
{
	struct varint_reader r = {rec, (const unsigned char *)rec + len, false};
	uint64_t nch, nentries;
	sipas_err rv;

	if (len < 3 || memcmp(rec, "SC\x01", 3) != 0)
		return SIPAS_E_MALFORMED;
	r.p += 3;
	c->respondents += varint_get_u(&r);
	nch = varint_get_u(&r);
	if (r.bad || nch > SIPAS_NCHANNELS)
		return SIPAS_E_MALFORMED;
	for (uint64_t i = 0; i < nch; i++)
		c->channels[i] += varint_get_u(&r);
	nentries = varint_get_u(&r);
	if (r.bad || nentries > len)
		return SIPAS_E_MALFORMED;
	for (uint64_t i = 0; i < nentries; i++) {
		rv = decode_entry(c, &r);
		if (rv != SIPAS_OK)
			return rv;
	}
	return r.p == r.end ? SIPAS_OK : SIPAS_E_MALFORMED;
}

sipas_tally sipas_counts_tally(const sipas_counts *c, uint32_t i)
{
	const sipas_scale *sc = sipas_def_scale(c->def);
	const uint64_t *row = c->crit + (size_t)i * (c->nlevels + 1);
	sipas_tally t = {0, 0};

	for (uint32_t k = 0; k < c->nlevels; k++) {
		t.answered += row[1 + k];
		if (sipas_scale_is_satisfied(sc, c->scale_min + (int64_t)k))
			t.satisfied += row[1 + k];
	}
	return t;
}

const uint64_t *sipas_counts_criterion(const sipas_counts *c, uint32_t i)
{
	return c->crit + (size_t)i * (c->nlevels + 1);
}

const uint64_t *sipas_counts_item(const sipas_counts *c, uint32_t j)
{
	return c->items + c->item_off[j];
}

sipas_err sipas_stats_encode(const sipas_campaign_stats *st, sipas_buf *out)
{
	sipas_err rv = varint_put_u(out, st->accepted);

	if (rv == SIPAS_OK)
		rv = varint_put_u(out, st->duplicates);
	if (rv == SIPAS_OK)
		rv = varint_put_u(out, st->conflicts);
	if (rv == SIPAS_OK)
		rv = varint_put_u(out, st->quarantined);
	return rv;
}

sipas_err sipas_stats_decode(sipas_campaign_stats *st, const void *rec,
			     size_t len)
{
	struct varint_reader r = {rec, (const unsigned char *)rec + len, false};

	st->accepted += varint_get_u(&r);
	st->duplicates += varint_get_u(&r);
	st->conflicts += varint_get_u(&r);
	st->quarantined += varint_get_u(&r);
	return r.bad || r.p != r.end ? SIPAS_E_MALFORMED : SIPAS_OK;
}
