/*
 * sipas_index.h - index math (interfaces.md section 3, sipas-method.md C).
 *
 * Pure functions over integer counts; no I/O, no allocation. An index is a
 * percentage as a double; "no index" (nothing answered) is NAN, tested with
 * isnan(), and printed as JSON null.
 */
#ifndef SIPAS_INDEX_H
#define SIPAS_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_definition.h"

/* Satisfied and answered (not not-applicable) answers of some criteria. */
typedef struct sipas_tally {
	uint64_t satisfied;
	uint64_t answered;
} sipas_tally;

/* 100 * satisfied / answered, or NAN when answered is 0. */
double sipas_index_rate(sipas_tally t);

/* Weighted mean of the values that are not NAN (weights w[i] > 0; w may be
 * NULL for equal weights). NAN when every value is NAN or n is 0. */
double sipas_index_mean(const double *v, const double *w, size_t n);

/*
 * The indices of one form's groups for one unit (or any pool of answers).
 * crit[i] is the tally of criterion i of f (f->ncriteria entries).
 * Fills group_index[g] and group_tally[g] for every group (f->ngroups
 * entries; group_tally sums the criteria beneath the group) and returns the
 * form index: `unit_method` over the top groups (MEAN: weighted mean of the
 * top groups' indices; POOLED: all criteria pooled).
 * A group's index: MEAN = weighted mean of its children (criteria weigh 1;
 * groups their weight), skipping children without answers; POOLED = its
 * tally's rate.
 */
double sipas_index_form(const sipas_form *f, sipas_method unit_method,
			const sipas_tally *crit, double *group_index,
			sipas_tally *group_tally);

/*
 * A unit surveyed with several forms: the respondent-weighted mean of its
 * form indices (forms without an index or without respondents skipped).
 */
double sipas_index_unit(const double *form_index, const uint64_t *respondents,
			size_t nforms);

/*
 * A block (or the overall index over units): MEAN_OF_UNITS = mean of the
 * units' indices (NAN skipped); POOLED = rate of the sum of the units'
 * tallies. unit_tally may be NULL for MEAN_OF_UNITS.
 */
double sipas_index_block(sipas_method m, const double *unit_index,
			 const sipas_tally *unit_tally, size_t nunits);

/*
 * The overall index: MEAN_OF_BLOCKS = mean of the block indices;
 * MEAN_OF_UNITS = mean of every unit index; POOLED = rate of the sum of
 * every unit's tally. Arrays not needed by the method may be NULL.
 */
double sipas_index_overall(sipas_method m, const double *block_index,
			   size_t nblocks, const double *unit_index,
			   const sipas_tally *unit_tally, size_t nunits);

/* Minimum, maximum and median of the values that are not NAN (all NAN when
 * there is none). The median of an even count is the mean of the middle
 * two. `scratch` holds n doubles (the values are copied and sorted there). */
typedef struct sipas_spread {
	double min, max, median;
	size_t n;   /* values that were not NAN */
} sipas_spread;
sipas_spread sipas_index_spread(const double *v, size_t n, double *scratch);

/*
 * Competition ranks ("1, 2, 2, 4"): rank[i] = 1 + the number of values
 * greater than v[i] by at least 1e-9; values closer than that share a rank.
 * NAN values get rank 0 (no rank). `order` is scratch for n indices.
 */
void sipas_index_rank(const double *v, size_t n, uint32_t *rank, uint32_t *order);

/* True when a unit with `respondents` is flagged as a low sample. */
bool sipas_index_low_sample(uint64_t respondents, uint32_t min_respondents);

#endif
