/*
 * report.c - the snapshot model (see sipas_report.h): counters in, every
 * index of a campaign out. All index math is sipas_index.h's; this file
 * only walks the definition, gathers values and calls it.
 *
 * Memory: everything a report holds is allocated up front from the
 * definition's sizes (a few arrays per form), and one scratch sipas_counts
 * per form is reused for every unit, so the per-unit loop allocates
 * nothing.
 */
#include "sipas_report.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"

struct sipas_report_priv {
	sipas_def *owned_def; /* from a view; NULL when borrowed */
	sipas_report_form *forms;
	sipas_report_block *blocks;
	sipas_report_group *groups;
	sipas_report_unit *units;
	sipas_report_uform *uforms;
	uint32_t *ranked;
	uint32_t *item_off; /* every form's offsets, concatenated */
	/* Per-form arenas, each form's part starting at its base. */
	sipas_tally *crit;
	uint64_t *dist;
	double *group_index;
	sipas_tally *group_tally;
	uint64_t *items;
	double *item_stats;
	/* The (unit, form)s of each form, in unit order: form f's list starts
	 * at by_form[first[f]] and holds forms[f].nunits entries. */
	const sipas_report_uform **by_form;
	uint32_t *first;
};

/* Slots each item takes in a unit's item row. */
static uint32_t item_row_len(const sipas_item *it)
{
	return it->kind == SIPAS_ITEM_NUMBER ? 1 : 1 + it->ncodes;
}

/* Values of a number item's range, or 0 when they are not kept one by one
 * (sipas_counts.h: a range over SIPAS_MAX_NUMBER_BINS values). */
static uint64_t number_bins(const sipas_item *it)
{
	uint64_t span = (uint64_t)it->max - (uint64_t)it->min;

	if (it->max < it->min || span >= SIPAS_MAX_NUMBER_BINS)
		return 0;
	return span + 1;
}

/* The value at 0-based position k of a binned distribution; false when the
 * bins hold fewer than k + 1 values. */
static bool bin_at(const uint64_t *bins, uint64_t nbins, int64_t min,
                   uint64_t k, double *out)
{
	uint64_t seen = 0;

	for (uint64_t b = 0; b < nbins; b++) {
		seen += bins[b];
		if (seen > k) {
			*out = (double)(min + (int64_t)b);
			return true;
		}
	}
	return false;
}

/* Mean and median of a number item from its counters row
 * [answered, sum (int64 bits), bins...]. */
static void number_stats(const sipas_item *it, const uint64_t *row,
                         double *mean, double *median)
{
	uint64_t n = row[0], nbins = number_bins(it);
	int64_t sum;
	double lo, hi;

	*mean = NAN;
	*median = NAN;
	if (n == 0)
		return;
	memcpy(&sum, &row[1], sizeof sum);
	*mean = (double)sum / (double)n;
	if (nbins == 0)
		return;
	if (bin_at(row + 2, nbins, it->min, (n - 1) / 2, &lo) &&
	    bin_at(row + 2, nbins, it->min, n / 2, &hi))
		*median = 0.5 * (lo + hi);
}

/* Copy what the report keeps of the scratch counters c into uf, and
 * compute the form's indices. */
static void take_counts(const sipas_report *r, const sipas_methods *m,
                        const sipas_report_form *rf, const sipas_counts *c,
                        sipas_report_uform *uf, sipas_tally *unit_tally)
{
	const sipas_form *f = rf->form;
	sipas_tally *crit = (sipas_tally *)uf->crit;
	uint64_t *dist = (uint64_t *)uf->dist;
	uint64_t *items = (uint64_t *)uf->items;
	double *stats = (double *)uf->item_stats;
	uint32_t row = r->nlevels + 1;

	uf->respondents = c->respondents;
	for (uint32_t i = 0; i < f->ncriteria; i++) {
		crit[i] = sipas_counts_tally(c, i);
		memcpy(dist + (size_t)i * row, sipas_counts_criterion(c, i),
		       row * sizeof *dist);
		unit_tally->satisfied += crit[i].satisfied;
		unit_tally->answered += crit[i].answered;
	}
	for (uint32_t j = 0; j < f->nitems; j++) {
		const sipas_item *it = &f->items[j];
		const uint64_t *src = sipas_counts_item(c, j);

		memcpy(items + rf->item_off[j], src,
		       item_row_len(it) * sizeof *items);
		if (it->kind == SIPAS_ITEM_NUMBER)
			number_stats(it, src, &stats[2 * j], &stats[2 * j + 1]);
		else
			stats[2 * j] = stats[2 * j + 1] = NAN;
	}
	uf->index =
	    sipas_index_form(f, m->unit, crit, (double *)uf->group_index,
	                     (sipas_tally *)uf->group_tally);
}

/* Lay out the report's storage for def: every array sized, every
 * sipas_report_uform pointing into its form's arenas. */
static void layout(sipas_report *r, const sipas_def *def)
{
	struct sipas_report_priv *p = r->priv;
	uint32_t nforms = sipas_def_nforms(def), nunits = sipas_def_nunits(def);
	size_t nuf = 0, ncrit = 0, ngrp = 0, nitem = 0, nstat = 0, noff = 0;
	size_t *base_crit = sipas_xcalloc(nforms, sizeof *base_crit);
	size_t *base_grp = sipas_xcalloc(nforms, sizeof *base_grp);
	size_t *base_item = sipas_xcalloc(nforms, sizeof *base_item);
	size_t *base_stat = sipas_xcalloc(nforms, sizeof *base_stat);
	uint32_t *slot = sipas_xcalloc(nforms, sizeof *slot);
	uint32_t row = r->nlevels + 1, ngroups = 0;

	p->forms = sipas_xcalloc(nforms, sizeof *p->forms);
	p->first = sipas_xcalloc(nforms, sizeof *p->first);
	for (uint32_t u = 0; u < nunits; u++) {
		const sipas_unit *un = sipas_def_unit(def, u);

		for (uint32_t k = 0; k < un->nforms; k++)
			p->forms[un->forms[k]].nunits++;
		nuf += un->nforms;
	}
	for (uint32_t fi = 0; fi < nforms; fi++) {
		const sipas_form *f = sipas_def_form(def, fi);
		sipas_report_form *rf = &p->forms[fi];

		rf->form = f;
		noff += f->nitems;
		for (uint32_t j = 0; j < f->nitems; j++)
			rf->item_len += item_row_len(&f->items[j]);
		base_crit[fi] = ncrit;
		base_grp[fi] = ngrp;
		base_item[fi] = nitem;
		base_stat[fi] = nstat;
		p->first[fi] =
		    fi == 0 ? 0 : p->first[fi - 1] + p->forms[fi - 1].nunits;
		ncrit += (size_t)rf->nunits * f->ncriteria;
		ngrp += (size_t)rf->nunits * f->ngroups;
		nitem += (size_t)rf->nunits * rf->item_len;
		nstat += (size_t)rf->nunits * f->nitems * 2;
		ngroups += f->ngroups;
	}
	p->item_off = sipas_xcalloc(noff, sizeof *p->item_off);
	noff = 0;
	for (uint32_t fi = 0; fi < nforms; fi++) {
		const sipas_form *f = p->forms[fi].form;
		uint32_t off = 0;

		p->forms[fi].item_off = p->item_off + noff;
		for (uint32_t j = 0; j < f->nitems; j++) {
			p->item_off[noff++] = off;
			off += item_row_len(&f->items[j]);
		}
	}
	p->crit = sipas_xcalloc(ncrit, sizeof *p->crit);
	p->dist = sipas_xcalloc(ncrit * row, sizeof *p->dist);
	p->group_index = sipas_xcalloc(ngrp, sizeof *p->group_index);
	p->group_tally = sipas_xcalloc(ngrp, sizeof *p->group_tally);
	p->items = sipas_xcalloc(nitem, sizeof *p->items);
	p->item_stats = sipas_xcalloc(nstat, sizeof *p->item_stats);
	p->uforms = sipas_xcalloc(nuf, sizeof *p->uforms);
	p->by_form = sipas_xcalloc(nuf, sizeof *p->by_form);
	p->units = sipas_xcalloc(nunits, sizeof *p->units);
	p->ranked = sipas_xcalloc(nunits, sizeof *p->ranked);
	p->blocks = sipas_xcalloc(sipas_def_nblocks(def), sizeof *p->blocks);
	p->groups = sipas_xcalloc(ngroups, sizeof *p->groups);

	nuf = 0;
	for (uint32_t u = 0; u < nunits; u++) {
		const sipas_unit *un = sipas_def_unit(def, u);
		sipas_report_unit *ru = &p->units[u];

		ru->unit = un;
		ru->nforms = un->nforms;
		ru->forms = p->uforms + nuf;
		for (uint32_t k = 0; k < un->nforms; k++) {
			uint32_t fi = un->forms[k], s = slot[fi]++;
			const sipas_report_form *rf = &p->forms[fi];
			const sipas_form *f = rf->form;
			sipas_report_uform *uf = &p->uforms[nuf++];

			uf->form = f;
			uf->crit =
			    p->crit + base_crit[fi] + (size_t)s * f->ncriteria;
			uf->dist =
			    p->dist +
			    (base_crit[fi] + (size_t)s * f->ncriteria) * row;
			uf->group_index = p->group_index + base_grp[fi] +
			                  (size_t)s * f->ngroups;
			uf->group_tally = p->group_tally + base_grp[fi] +
			                  (size_t)s * f->ngroups;
			uf->items =
			    p->items + base_item[fi] + (size_t)s * rf->item_len;
			uf->item_stats = p->item_stats + base_stat[fi] +
			                 (size_t)s * f->nitems * 2;
			p->by_form[p->first[fi] + s] = uf;
		}
	}

	r->nforms = nforms;
	r->forms = p->forms;
	r->nunits = nunits;
	r->units = p->units;
	r->ranked = p->ranked;
	r->nblocks = sipas_def_nblocks(def);
	r->blocks = p->blocks;
	r->ngroups = ngroups;
	r->groups = p->groups;
	free(base_crit);
	free(base_grp);
	free(base_item);
	free(base_stat);
	free(slot);
}

/* Read every (unit, form) through fn and compute unit indices. */
static sipas_err fill_units(sipas_report *r, sipas_report_counts_fn fn,
                            void *ctx, sipas_diag *diag)
{
	struct sipas_report_priv *p = r->priv;
	const sipas_methods *m = sipas_def_methods(r->def);
	uint32_t nforms = r->nforms;
	sipas_counts **scratch = sipas_xcalloc(nforms, sizeof *scratch);
	double form_index[SIPAS_MAX_FORMS];
	uint64_t form_resp[SIPAS_MAX_FORMS];
	sipas_err rv = SIPAS_OK;

	for (uint32_t fi = 0; fi < nforms; fi++)
		scratch[fi] = sipas_counts_new(r->def, p->forms[fi].form);
	for (uint32_t u = 0; u < r->nunits; u++) {
		sipas_report_unit *ru = &p->units[u];

		assert(ru->nforms <= SIPAS_MAX_FORMS);
		for (uint32_t k = 0; k < ru->nforms; k++) {
			sipas_report_uform *uf =
			    (sipas_report_uform *)&ru->forms[k];
			uint32_t fi = uf->form->index;
			sipas_counts *c = scratch[fi];

			sipas_counts_reset(c);
			rv = fn(ctx, r->campaign, ru->unit, c, diag);
			if (rv != SIPAS_OK)
				goto out;
			take_counts(r, m, &p->forms[fi], c, uf, &ru->tally);
			for (int ch = 0; ch < SIPAS_NCHANNELS; ch++)
				r->by_channel[ch] += c->channels[ch];
			p->forms[fi].respondents += uf->respondents;
			ru->respondents += uf->respondents;
			form_index[k] = uf->index;
			form_resp[k] = uf->respondents;
		}
		ru->index = sipas_index_unit(form_index, form_resp, ru->nforms);
		ru->low_sample =
		    sipas_index_low_sample(ru->respondents, m->min_respondents);
	}
out:
	for (uint32_t fi = 0; fi < nforms; fi++)
		sipas_counts_free(&scratch[fi]);
	free(scratch);
	return rv;
}

struct rank_key {
	uint32_t rank; /* 0 sorts last */
	uint32_t pos;
};

static int cmp_rank_key(const void *a, const void *b)
{
	const struct rank_key *x = a, *y = b;
	uint64_t rx = x->rank ? x->rank : UINT64_MAX;
	uint64_t ry = y->rank ? y->rank : UINT64_MAX;

	if (rx != ry)
		return rx < ry ? -1 : 1;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Ranks and the ranked order; v holds the unit indices. */
static void rank_units(sipas_report *r, const double *v)
{
	struct sipas_report_priv *p = r->priv;
	uint32_t n = r->nunits;
	uint32_t *rank = sipas_xcalloc(n, sizeof *rank);
	uint32_t *order = sipas_xcalloc(n, sizeof *order);
	struct rank_key *keys = sipas_xcalloc(n, sizeof *keys);

	sipas_index_rank(v, n, rank, order);
	for (uint32_t u = 0; u < n; u++) {
		p->units[u].rank = rank[u];
		keys[u].rank = rank[u];
		keys[u].pos = u;
	}
	qsort(keys, n, sizeof *keys, cmp_rank_key);
	for (uint32_t i = 0; i < n; i++)
		p->ranked[i] = keys[i].pos;
	free(keys);
	free(order);
	free(rank);
}

/* -1, 0, 1: a below, equal to (within SIPAS_REPORT_EPSILON), above b. */
static int compare_index(double a, double b)
{
	if (a - b >= SIPAS_REPORT_EPSILON)
		return 1;
	if (b - a >= SIPAS_REPORT_EPSILON)
		return -1;
	return 0;
}

/* Blocks, the overall index, then each block's units above and below it.
 * v and t hold every unit's index and tally; scratch has room for
 * max(nunits, nblocks) doubles twice. */
static void compute_blocks(sipas_report *r, const double *v,
                           const sipas_tally *t, double *vals, double *work,
                           sipas_tally *tal)
{
	struct sipas_report_priv *p = r->priv;
	const sipas_methods *m = sipas_def_methods(r->def);
	uint32_t nb = r->nblocks, n = r->nunits;
	uint32_t *start = sipas_xcalloc((size_t)nb + 1, sizeof *start);
	uint32_t *pos = sipas_xcalloc(n, sizeof *pos);
	uint32_t *fill = sipas_xcalloc(nb, sizeof *fill);
	double *block_index = sipas_xcalloc(nb, sizeof *block_index);

	/* Units grouped by block (counting sort, definition order kept). */
	for (uint32_t u = 0; u < n; u++)
		start[p->units[u].unit->block + 1]++;
	for (uint32_t b = 0; b < nb; b++)
		start[b + 1] += start[b];
	for (uint32_t u = 0; u < n; u++) {
		uint32_t b = p->units[u].unit->block;

		pos[start[b] + fill[b]++] = u;
	}

	for (uint32_t b = 0; b < nb; b++) {
		sipas_report_block *rb = &p->blocks[b];
		uint32_t k = 0;

		rb->block = sipas_def_block(r->def, b);
		rb->units = rb->block->nunits;
		for (uint32_t i = start[b]; i < start[b + 1]; i++, k++) {
			vals[k] = v[pos[i]];
			tal[k] = t[pos[i]];
			rb->respondents += p->units[pos[i]].respondents;
		}
		rb->index = sipas_index_block(m->block, vals, tal, k);
		rb->spread = sipas_index_spread(vals, k, work);
		block_index[b] = rb->index;
	}
	r->index = sipas_index_overall(m->overall, block_index, nb, v, t, n);
	for (uint32_t u = 0; u < n && !isnan(r->index); u++) {
		sipas_report_block *rb = &p->blocks[p->units[u].unit->block];

		if (isnan(v[u]))
			continue;
		switch (compare_index(v[u], r->index)) {
		case 1:
			rb->above++;
			break;
		case -1:
			rb->below++;
			break;
		default:
			break;
		}
	}
	free(block_index);
	free(fill);
	free(pos);
	free(start);
}

/* The campaign-wide groups[]: every (form, group) over its units. */
static void compute_groups(sipas_report *r, double *vals, double *work,
                           sipas_tally *tal)
{
	struct sipas_report_priv *p = r->priv;
	const sipas_methods *m = sipas_def_methods(r->def);
	uint32_t gi = 0;

	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_report_form *rf = &p->forms[fi];
		const sipas_form *f = rf->form;
		const sipas_report_uform **list = p->by_form + p->first[fi];

		for (uint32_t g = 0; g < f->ngroups; g++) {
			sipas_report_group *rg = &p->groups[gi++];

			rg->form = f;
			rg->group = &f->groups[g];
			rg->group_pos = g;
			rg->lowest_index = rg->highest_index = NAN;
			for (uint32_t k = 0; k < rf->nunits; k++) {
				vals[k] = list[k]->group_index[g];
				tal[k] = list[k]->group_tally[g];
				rg->tally.satisfied += tal[k].satisfied;
				rg->tally.answered += tal[k].answered;
			}
			rg->index =
			    sipas_index_block(m->block, vals, tal, rf->nunits);
			rg->spread = sipas_index_spread(vals, rf->nunits, work);
		}
	}
	/* Lowest and highest unit of each group: the first in definition
	 * order among equals. Units are walked once, in order. */
	for (uint32_t u = 0; u < r->nunits; u++) {
		const sipas_report_unit *ru = &p->units[u];

		for (uint32_t k = 0; k < ru->nforms; k++) {
			const sipas_report_uform *uf = &ru->forms[k];
			uint32_t base = 0;

			for (uint32_t fi = 0; fi < uf->form->index; fi++)
				base += p->forms[fi].form->ngroups;
			for (uint32_t g = 0; g < uf->form->ngroups; g++) {
				sipas_report_group *rg = &p->groups[base + g];
				double x = uf->group_index[g];

				if (isnan(x))
					continue;
				if (rg->lowest == NULL ||
				    x < rg->lowest_index) {
					rg->lowest = ru;
					rg->lowest_index = x;
				}
				if (rg->highest == NULL ||
				    x > rg->highest_index) {
					rg->highest = ru;
					rg->highest_index = x;
				}
			}
		}
	}
}

static void compute_rollups(sipas_report *r)
{
	uint32_t n = r->nunits, big = n > r->nblocks ? n : r->nblocks;
	double *v = sipas_xcalloc(n, sizeof *v);
	sipas_tally *t = sipas_xcalloc(n, sizeof *t);
	double *vals = sipas_xcalloc(big, sizeof *vals);
	double *work = sipas_xcalloc(big, sizeof *work);
	sipas_tally *tal = sipas_xcalloc(big, sizeof *tal);

	for (uint32_t u = 0; u < n; u++) {
		v[u] = r->units[u].index;
		t[u] = r->units[u].tally;
	}
	rank_units(r, v);
	compute_blocks(r, v, t, vals, work, tal);
	compute_groups(r, vals, work, tal);
	free(tal);
	free(work);
	free(vals);
	free(t);
	free(v);
}

sipas_err sipas_report_build(const sipas_def *def, const char *revision,
                             const sipas_campaign_stats *stats,
                             int64_t taken_at, sipas_report_counts_fn fn,
                             void *ctx, sipas_report **out, sipas_diag *diag)
{
	const sipas_scale *sc = sipas_def_scale(def);
	sipas_report *r = sipas_xcalloc(1, sizeof *r);
	sipas_err rv;

	assert(def != NULL && fn != NULL && out != NULL);
	*out = NULL;
	r->priv = sipas_xcalloc(1, sizeof *r->priv);
	r->def = def;
	r->campaign = sipas_def_campaign(def)->id;
	if (revision != NULL)
		snprintf(r->revision, sizeof r->revision, "%s", revision);
	if (stats != NULL)
		r->stats = *stats;
	r->taken_at = taken_at;
	r->scale_min = sc->min;
	r->nlevels = (uint32_t)(sc->max - sc->min + 1);
	r->index = NAN;
	layout(r, def);
	rv = fill_units(r, fn, ctx, diag);
	if (rv != SIPAS_OK) {
		sipas_report_free(&r);
		return rv;
	}
	compute_rollups(r);
	*out = r;
	return SIPAS_OK;
}

static sipas_err view_counts(void *ctx, const char *campaign,
                             const sipas_unit *u, sipas_counts *c,
                             sipas_diag *diag)
{
	return sipas_view_counts(ctx, campaign, u, c, diag);
}

sipas_err sipas_report_from_view(sipas_view *v, const char *campaign,
                                 int64_t taken_at, sipas_report **out,
                                 sipas_diag *diag)
{
	sipas_def *def = NULL;
	sipas_revision rev;
	sipas_campaign_stats stats;
	sipas_err rv;

	*out = NULL;
	memset(&rev, 0, sizeof rev);
	rv = sipas_view_definition(v, campaign, &def, &rev, diag);
	if (rv != SIPAS_OK)
		goto out;
	rv = sipas_view_stats(v, sipas_def_campaign(def)->id, &stats, diag);
	if (rv != SIPAS_OK)
		goto out;
	rv = sipas_report_build(def, rev.id, &stats, taken_at, view_counts, v,
	                        out, diag);
	if (rv != SIPAS_OK)
		goto out;
	(*out)->priv->owned_def = def;
	def = NULL;
out:
	sipas_def_free(&def);
	return rv;
}

void sipas_report_free(sipas_report **rp)
{
	sipas_report *r;
	struct sipas_report_priv *p;

	if (rp == NULL || *rp == NULL)
		return;
	r = *rp;
	p = r->priv;
	if (p != NULL) {
		sipas_def_free(&p->owned_def);
		free(p->forms);
		free(p->blocks);
		free(p->groups);
		free(p->units);
		free(p->uforms);
		free(p->ranked);
		free(p->item_off);
		free(p->crit);
		free(p->dist);
		free(p->group_index);
		free(p->group_tally);
		free(p->items);
		free(p->item_stats);
		free(p->by_form);
		free(p->first);
		free(p);
	}
	free(r);
	*rp = NULL;
}

void sipas_report_compare(sipas_report *r, const sipas_report *prev)
{
	struct sipas_report_priv *p = r->priv;

	r->has_compare = true;
	snprintf(r->prev_campaign, sizeof r->prev_campaign, "%s",
	         prev->campaign);
	r->prev_index = prev->index;
	r->units_compared = r->units_improved = r->units_declined = 0;
	for (uint32_t u = 0; u < r->nunits; u++) {
		sipas_report_unit *ru = &p->units[u];
		const char *id = ru->unit->id;
		const sipas_unit *pu =
		    sipas_def_find_unit(prev->def, id, strlen(id));
		const sipas_report_unit *pr;

		ru->has_previous = false;
		ru->prev_index = NAN;
		ru->prev_rank = 0;
		if (pu == NULL)
			continue;
		pr = &prev->units[pu->index];
		if (isnan(pr->index))
			continue;
		ru->has_previous = true;
		ru->prev_index = pr->index;
		ru->prev_rank = pr->rank;
		if (isnan(ru->index))
			continue;
		r->units_compared++;
		switch (compare_index(ru->index, pr->index)) {
		case 1:
			r->units_improved++;
			break;
		case -1:
			r->units_declined++;
			break;
		default:
			break;
		}
	}
	for (uint32_t b = 0; b < r->nblocks; b++) {
		sipas_report_block *rb = &p->blocks[b];
		const char *id = rb->block->id;
		const sipas_block *pb =
		    sipas_def_find_block(prev->def, id, strlen(id));

		rb->has_previous =
		    pb != NULL && !isnan(prev->blocks[pb->index].index);
		rb->prev_index =
		    rb->has_previous ? prev->blocks[pb->index].index : NAN;
	}
}

const uint64_t *sipas_report_dist(const sipas_report *r,
                                  const sipas_report_uform *uf, uint32_t i)
{
	assert(i < uf->form->ncriteria);
	return uf->dist + (size_t)i * (r->nlevels + 1);
}

const uint64_t *sipas_report_item(const sipas_report *r,
                                  const sipas_report_uform *uf, uint32_t j,
                                  double *mean, double *median)
{
	const sipas_report_form *rf = &r->forms[uf->form->index];

	assert(j < uf->form->nitems);
	if (mean != NULL)
		*mean = uf->item_stats[2 * j];
	if (median != NULL)
		*median = uf->item_stats[2 * j + 1];
	return uf->items + rf->item_off[j];
}

void sipas_report_item_total(const sipas_report *r, const sipas_form *f,
                             uint32_t j, uint64_t *out, double *mean)
{
	const sipas_item *it = &f->items[j];
	uint32_t len = item_row_len(it);
	double sum = 0;

	assert(j < f->nitems);
	memset(out, 0, len * sizeof *out);
	for (uint32_t u = 0; u < r->nunits; u++)
		for (uint32_t k = 0; k < r->units[u].nforms; k++) {
			const sipas_report_uform *uf = &r->units[u].forms[k];
			double m;
			const uint64_t *row;

			if (uf->form != f)
				continue;
			row = sipas_report_item(r, uf, j, &m, NULL);
			if (it->kind == SIPAS_ITEM_NUMBER) {
				/* The report keeps each unit's mean, not its
				 * sum: weight the means by their counts. */
				if (row[0] > 0)
					sum += m * (double)row[0];
				out[0] += row[0];
				continue;
			}
			for (uint32_t c = 0; c < len; c++)
				out[c] += row[c];
		}
	if (mean != NULL)
		*mean = it->kind == SIPAS_ITEM_NUMBER && out[0] > 0
		            ? sum / (double)out[0]
		            : NAN;
}

/* ---- number display, shared by table, csv and html ---- */

bool sipas_report_format_number(double v, const sipas_display *d,
                                char decimal_mark, char *out, size_t len)
{
	static const int64_t ten_to[10] = {
	    1,      10,      100,      1000,      10000,
	    100000, 1000000, 10000000, 100000000, 1000000000};
	uint32_t dec = d != NULL && d->decimals <= 9 ? d->decimals : 2;
	sipas_rounding mode = d != NULL ? d->rounding : SIPAS_ROUND_HALF_UP;
	int64_t n9, div, q, ip, fp;
	bool neg;
	int w;

	assert(len >= 32);
	if (decimal_mark == 0)
		decimal_mark = '.';
	out[0] = '\0';
	if (isnan(v))
		return false;
	if (!(fabs(v) < 9e9)) {
		/* Not a percentage: no room for 9 decimals in an int64. */
		snprintf(out, len, "%.*f", (int)dec, v);
		return true;
	}
	/* Step 1: to an integer count of 1e-9, so binary noise is gone. */
	neg = v < 0;
	n9 = llround(fabs(v) * 1e9);
	/* Step 2: to `dec` decimals. */
	div = ten_to[9 - dec];
	q = mode == SIPAS_ROUND_TRUNCATE ? n9 / div : (n9 + div / 2) / div;
	ip = q / ten_to[dec];
	fp = q % ten_to[dec];
	w = snprintf(out, len, "%s%lld", neg && q != 0 ? "-" : "",
	             (long long)ip);
	if (dec > 0 && w > 0 && (size_t)w < len)
		snprintf(out + w, len - (size_t)w, "%c%0*lld", decimal_mark,
		         (int)dec, (long long)fp);
	return true;
}

bool sipas_report_format_change(double v, const sipas_display *d,
                                char decimal_mark, char *out, size_t len)
{
	char tmp[40];

	if (!sipas_report_format_number(v, d, decimal_mark, tmp, sizeof tmp)) {
		out[0] = '\0';
		return false;
	}
	/* A plus sign only on a rise that shows: "+0.51", but "0.00". */
	snprintf(out, len, "%s%s",
	         v > 0 && strspn(tmp, "0.,") != strlen(tmp) ? "+" : "", tmp);
	return true;
}
