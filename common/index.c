/*
 * index.c - index math (interfaces.md section 3, sipas-method.md C).
 *
 * Pure functions: no allocation, no I/O, no global state, so they are safe
 * from any thread. An index is a percentage; NAN means "no index".
 */
#include "sipas_index.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

/* Values closer than this share a rank (interfaces.md section 4). */
#define RANK_EPSILON 1e-9

double sipas_index_rate(sipas_tally t)
{
	if (t.answered == 0)
		return NAN;
	return 100.0 * (double)t.satisfied / (double)t.answered;
}

/* A running weighted mean that skips NAN values and weights that are not
 * > 0 (zero, negative or NAN). */
typedef struct wmean {
	double sum;  /* of w * v */
	double wsum; /* of w */
} wmean;

static void wmean_add(wmean *m, double v, double w)
{
	if (isnan(v) || !(w > 0))
		return;
	m->sum += w * v;
	m->wsum += w;
}

static double wmean_result(const wmean *m)
{
	if (!(m->wsum > 0))
		return NAN;
	return m->sum / m->wsum;
}

double sipas_index_mean(const double *v, const double *w, size_t n)
{
	wmean m = {0, 0};

	for (size_t i = 0; i < n; i++)
		wmean_add(&m, v[i], w != NULL ? w[i] : 1.0);
	return wmean_result(&m);
}

static sipas_tally tally_sum(const sipas_tally *crit, uint32_t first,
                             uint32_t count)
{
	sipas_tally t = {0, 0};

	for (uint32_t i = first; i < first + count; i++) {
		t.satisfied += crit[i].satisfied;
		t.answered += crit[i].answered;
	}
	return t;
}

double sipas_index_form(const sipas_form *f, sipas_method unit_method,
                        const sipas_tally *crit, double *group_index,
                        sipas_tally *group_tally)
{
	wmean top = {0, 0};

	assert(f != NULL && crit != NULL);
	assert(group_index != NULL && group_tally != NULL);

	/* Backwards over the pre-order list: children before their parent. */
	for (uint32_t gi = f->ngroups; gi-- > 0;) {
		const sipas_group *g = &f->groups[gi];
		wmean m = {0, 0};

		assert(g->crit_first + g->crit_count <= f->ncriteria);
		group_tally[gi] = tally_sum(crit, g->crit_first, g->crit_count);
		if (g->method == SIPAS_METHOD_POOLED) {
			group_index[gi] = sipas_index_rate(group_tally[gi]);
			continue;
		}
		if (g->nchildren == 0) {
			const sipas_tally *ct = crit + g->crit_first;

			for (uint32_t c = 0; c < g->crit_count; c++)
				wmean_add(&m, sipas_index_rate(ct[c]), 1.0);
		} else {
			for (uint32_t k = 0; k < g->nchildren; k++) {
				uint32_t ch = g->children[k];

				assert(ch > gi && ch < f->ngroups);
				wmean_add(&m, group_index[ch],
				          f->groups[ch].weight);
			}
		}
		group_index[gi] = wmean_result(&m);
	}

	if (unit_method == SIPAS_METHOD_POOLED)
		return sipas_index_rate(tally_sum(crit, 0, f->ncriteria));
	for (uint32_t k = 0; k < f->ntop; k++) {
		uint32_t t = f->top[k];

		assert(t < f->ngroups);
		wmean_add(&top, group_index[t], f->groups[t].weight);
	}
	return wmean_result(&top);
}

double sipas_index_unit(const double *form_index, const uint64_t *respondents,
                        size_t nforms)
{
	wmean m = {0, 0};

	for (size_t i = 0; i < nforms; i++)
		wmean_add(&m, form_index[i], (double)respondents[i]);
	return wmean_result(&m);
}

static double pooled(const sipas_tally *t, size_t n)
{
	sipas_tally sum = {0, 0};

	if (t == NULL)
		return NAN;
	for (size_t i = 0; i < n; i++) {
		sum.satisfied += t[i].satisfied;
		sum.answered += t[i].answered;
	}
	return sipas_index_rate(sum);
}

double sipas_index_block(sipas_method m, const double *unit_index,
                         const sipas_tally *unit_tally, size_t nunits)
{
	switch (m) {
	case SIPAS_METHOD_MEAN_OF_UNITS:
	case SIPAS_METHOD_MEAN:
		if (unit_index == NULL)
			return NAN;
		return sipas_index_mean(unit_index, NULL, nunits);
	case SIPAS_METHOD_POOLED:
		assert(unit_tally != NULL);
		return pooled(unit_tally, nunits);
	case SIPAS_METHOD_MEAN_OF_BLOCKS:
		break;
	}
	assert(!"sipas_index_block: not a block method");
	return NAN;
}

double sipas_index_overall(sipas_method m, const double *block_index,
                           size_t nblocks, const double *unit_index,
                           const sipas_tally *unit_tally, size_t nunits)
{
	switch (m) {
	case SIPAS_METHOD_MEAN_OF_BLOCKS:
		if (block_index == NULL)
			return NAN;
		return sipas_index_mean(block_index, NULL, nblocks);
	case SIPAS_METHOD_MEAN_OF_UNITS:
		if (unit_index == NULL)
			return NAN;
		return sipas_index_mean(unit_index, NULL, nunits);
	case SIPAS_METHOD_POOLED:
		assert(unit_tally != NULL);
		return pooled(unit_tally, nunits);
	case SIPAS_METHOD_MEAN:
		break;
	}
	assert(!"sipas_index_overall: not an overall method");
	return NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

sipas_spread sipas_index_spread(const double *v, size_t n, double *scratch)
{
	sipas_spread s = {NAN, NAN, NAN, 0};
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (!isnan(v[i]))
			scratch[k++] = v[i];
	if (k == 0)
		return s;
	qsort(scratch, k, sizeof *scratch, cmp_double);
	s.n = k;
	s.min = scratch[0];
	s.max = scratch[k - 1];
	if (k % 2 == 1)
		s.median = scratch[k / 2];
	else
		s.median = 0.5 * (scratch[k / 2 - 1] + scratch[k / 2]);
	return s;
}

/*
 * Heap sort of the indices ord[0..n) so that v[ord[]] is descending.
 * In place (the ranks need no other scratch), O(n log n) in the worst case;
 * qsort has no context argument in C11.
 */
static void sift_down(const double *v, uint32_t *ord, size_t root, size_t n)
{
	for (;;) {
		size_t child = 2 * root + 1;
		uint32_t tmp;

		if (child >= n)
			return;
		/* A min-heap: the smallest value goes to the end. */
		if (child + 1 < n && v[ord[child + 1]] < v[ord[child]])
			child++;
		if (!(v[ord[child]] < v[ord[root]]))
			return;
		tmp = ord[root];
		ord[root] = ord[child];
		ord[child] = tmp;
		root = child;
	}
}

static void sort_desc(const double *v, uint32_t *ord, size_t n)
{
	for (size_t i = n / 2; i-- > 0;)
		sift_down(v, ord, i, n);
	for (size_t end = n; end-- > 1;) {
		uint32_t tmp = ord[0];

		ord[0] = ord[end];
		ord[end] = tmp;
		sift_down(v, ord, 0, end);
	}
}

void sipas_index_rank(const double *v, size_t n, uint32_t *rank,
                      uint32_t *order)
{
	size_t k = 0, ahead = 0;

	assert(n <= UINT32_MAX);
	for (size_t i = 0; i < n; i++) {
		rank[i] = 0;
		if (!isnan(v[i]))
			order[k++] = (uint32_t)i;
	}
	sort_desc(v, order, k);
	/*
	 * With the values descending, those greater than v[order[i]] by at
	 * least RANK_EPSILON are a prefix, and that prefix only grows as i
	 * goes on (floating-point subtraction is monotonic), so one pointer
	 * sweep counts them all.
	 */
	for (size_t i = 0; i < k; i++) {
		double x = v[order[i]];

		while (ahead < i && v[order[ahead]] - x >= RANK_EPSILON)
			ahead++;
		rank[order[i]] = (uint32_t)(ahead + 1);
	}
}

bool sipas_index_low_sample(uint64_t respondents, uint32_t min_respondents)
{
	return respondents < (uint64_t)min_respondents;
}
