/*
 * sipas_report.h - the snapshot model: every index of one campaign computed
 * from its counters (interfaces.md sections 4 and 5), and its output formats
 * (json, table, csv). What sipas-snapshot prints.
 *
 * A report is plain data, built once and then only read: the format writers
 * and tests walk the structs below directly. Every number comes from
 * sipas_index.h; an index is NAN when there is nothing to compute (JSON
 * null, "-" in the table, an empty CSV cell).
 *
 * Building needs no LMDB: sipas_report_build() takes the definition and a
 * callback that fills the counters of one (unit, form).
 * sipas_report_from_view() is that callback over a sipas_view.
 *
 * Order of the arrays (all stable, so outputs compare between runs):
 *   blocks     definition order
 *   groups     forms in definition order, each form's groups in pre-order
 *              (every level: "access", "policy", "policy/accountability", ...)
 *   units      definition order (units[i].unit->index == i); `ranked` gives
 *              the ranked order
 *   forms of a unit: the unit's own order of forms in the definition
 */
#ifndef SIPAS_REPORT_H
#define SIPAS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "sipas_counts.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_index.h"
#include "sipas_protocol.h"
#include "sipas_store.h"
#include "sipas_view.h"

#define SIPAS_SNAPSHOT_SCHEMA "sipas.snapshot/1"

/* Two indices closer than this are equal: they share a rank (as
 * sipas_index_rank does), a unit that close to the overall index is neither
 * above nor below it, and a change smaller than this is no change. */
#define SIPAS_REPORT_EPSILON 1e-9

/* One unit surveyed with one form. */
typedef struct sipas_report_uform {
	const sipas_form *form;
	uint64_t respondents;
	double index; /* the form index (method.unit) */
	/* By criterion (form->ncriteria): satisfied / answered. */
	const sipas_tally *crit;
	/* By criterion, nlevels + 1 counts: [not applicable, level scale.min,
	 * ..., level scale.max]; see sipas_report_dist(). */
	const uint64_t *dist;
	/* By group (form->ngroups, pre-order): index and tally. */
	const double *group_index;
	const sipas_tally *group_tally;
	/* Items: see sipas_report_item(). */
	const uint64_t *items;
	const double *item_stats; /* 2 per item: mean, median (number) */
} sipas_report_uform;

typedef struct sipas_report_unit {
	const sipas_unit *unit;
	uint64_t respondents; /* summed over its forms */
	double index;         /* respondent-weighted over its forms */
	uint32_t rank;        /* 1 = highest; 0 = no index, no rank */
	bool low_sample;
	sipas_tally tally; /* every criterion of every form (pooled) */
	uint32_t nforms;
	const sipas_report_uform *forms;
	/* With a comparison (sipas_report_compare): the unit in the previous
	 * campaign, when it had an index there. */
	bool has_previous;
	double prev_index;
	uint32_t prev_rank;
} sipas_report_unit;

typedef struct sipas_report_block {
	const sipas_block *block;
	double index;          /* method.block over its units */
	uint64_t respondents;  /* summed over its units */
	uint32_t units;        /* units the definition declares in it */
	sipas_spread spread;   /* min / max / median of unit indices */
	uint32_t above, below; /* units above / below the overall index */
	bool has_previous;     /* comparison: the block had an index */
	double prev_index;
} sipas_report_block;

/* One (form, group path) across the units surveyed with that form. */
typedef struct sipas_report_group {
	const sipas_form *form;
	const sipas_group *group;
	uint32_t group_pos;  /* index in form->groups */
	double index;        /* as method.block combines units */
	sipas_tally tally;   /* summed over the units */
	sipas_spread spread; /* over the units' indices of the group */
	const sipas_report_unit *lowest, *highest; /* NULL: no unit has one */
	double lowest_index, highest_index;
} sipas_report_group;

/* A form of the definition, with what the writers need to walk it. */
typedef struct sipas_report_form {
	const sipas_form *form;
	uint32_t nunits;          /* units surveyed with it */
	uint64_t respondents;     /* summed over those units */
	uint32_t item_len;        /* uint64 per unit in uform->items */
	const uint32_t *item_off; /* by item: start in uform->items */
} sipas_report_form;

typedef struct sipas_report {
	const sipas_def *def; /* borrowed (or owned, from a view) */
	const char *campaign; /* the definition's campaign id */
	char revision[SIPAS_REVISION_MAX];
	int64_t taken_at; /* unix seconds */
	sipas_campaign_stats stats;
	uint64_t by_channel[SIPAS_NCHANNELS]; /* respondents by channel */
	int64_t scale_min;
	uint32_t nlevels; /* scale.max - scale.min + 1 */

	double index; /* method.overall */
	uint32_t nforms;
	const sipas_report_form *forms; /* definition order; by_form */
	uint32_t nblocks;
	const sipas_report_block *blocks;
	uint32_t ngroups;
	const sipas_report_group *groups;
	uint32_t nunits;
	const sipas_report_unit *units;
	/* Positions in units[] by rank (ties in definition order), then the
	 * units without an index in definition order. */
	const uint32_t *ranked;

	/* Comparison with a previous campaign (sipas_report_compare). */
	bool has_compare;
	char prev_campaign[SIPAS_DEF_ID_MAX + 1];
	double prev_index;
	uint32_t units_compared, units_improved, units_declined;

	struct sipas_report_priv *priv; /* storage; private to report.c */
} sipas_report;

/*
 * Fill c (zeroed, laid out for c->form of the report's definition) with the
 * counters of (campaign, u, c->form). Return SIPAS_OK and leave c zero when
 * nothing was counted; any other code aborts the build (diag filled).
 */
typedef sipas_err (*sipas_report_counts_fn)(void *ctx, const char *campaign,
                                            const sipas_unit *u,
                                            sipas_counts *c, sipas_diag *diag);

/*
 * Compute the report of definition `def` (borrowed: it must outlive the
 * report). `revision` is the revision id printed as definition_revision
 * (NULL: ""), `stats` the campaign counters (NULL: zeros), `taken_at` the
 * time of the view. `fn` is called once per (unit, form) the definition
 * declares, in definition order. *out is a new report the caller frees
 * with sipas_report_free(); on failure *out is NULL and the callback's code
 * is returned. Aborts on out-of-memory (sipas_oom.h).
 */
SIPAS_MUST_CHECK sipas_err sipas_report_build(
    const sipas_def *def, const char *revision,
    const sipas_campaign_stats *stats, int64_t taken_at,
    sipas_report_counts_fn fn, void *ctx, sipas_report **out, sipas_diag *diag);

/*
 * The report of `campaign` (NULL: the only campaign of the store) as of
 * view v, taken at `taken_at`. The report owns the definition it loaded.
 * SIPAS_E_NOT_FOUND / SIPAS_E_AMBIGUOUS as sipas_view_definition; store
 * errors as the view returns them.
 */
SIPAS_MUST_CHECK sipas_err sipas_report_from_view(sipas_view *v,
                                                  const char *campaign,
                                                  int64_t taken_at,
                                                  sipas_report **out,
                                                  sipas_diag *diag);

/* Free a report and set *r to NULL; NULL and *r == NULL are fine. */
void sipas_report_free(sipas_report **r);

/*
 * Compare r with `prev`, the report of another campaign (interfaces.md
 * section 5, --compare): units and blocks are matched by id. Fills
 * r->has_compare, prev_*, units_* and each unit's and block's prev_*.
 * A unit is compared when it has an index in both; it improved when its
 * index grew by at least SIPAS_REPORT_EPSILON, declined when it fell by at
 * least that much. prev is only read; it may be freed afterwards.
 */
void sipas_report_compare(sipas_report *r, const sipas_report *prev);

/* The counts of criterion i of uf: [not applicable, min, ..., max]
 * (r->nlevels + 1 entries). */
const uint64_t *sipas_report_dist(const sipas_report *r,
                                  const sipas_report_uform *uf, uint32_t i);

/*
 * The counts of item j of uf:
 *   CHOICE, MULTI: [answered, count of codes[0], ..., codes[ncodes - 1]]
 *                  (MULTI: the respondents who chose each code)
 *   NUMBER:        [answered]; mean and median in *mean and *median (NAN
 *                  when nothing was answered; the median is also NAN for a
 *                  range wider than SIPAS_MAX_NUMBER_BINS values, whose
 *                  values are not kept one by one).
 * mean and median may be NULL.
 */
const uint64_t *sipas_report_item(const sipas_report *r,
                                  const sipas_report_uform *uf, uint32_t j,
                                  double *mean, double *median);

/*
 * Item j of form f (a form of r's definition) summed over every unit
 * surveyed with f, laid out as sipas_report_item: out[0] answered, then for
 * CHOICE and MULTI the count of each code; out holds at least 1 + ncodes
 * entries. *mean (may be NULL): a NUMBER item's mean over all its answered
 * values, NAN when none (or another kind). The published report tables of
 * perception and expectation items are these totals.
 */
void sipas_report_item_total(const sipas_report *r, const sipas_form *f,
                             uint32_t j, uint64_t *out, double *mean);

/* ---- output ---- */

typedef enum sipas_report_format {
	SIPAS_FORMAT_TABLE = 0,
	SIPAS_FORMAT_JSON = 1,
	SIPAS_FORMAT_CSV = 2,
	SIPAS_FORMAT_HTML = 3
} sipas_report_format;

typedef struct sipas_report_opts {
	char decimal_mark; /* '.' (default when 0) or ',' (--locale vi) */
	bool vietnamese;   /* --locale vi: Vietnamese headings (html) */
} sipas_report_opts;

/*
 * Format v for table and CSV: rounded to the definition's `display`
 * (decimals; half_up or truncate, after first rounding to 9 decimals so
 * binary noise never decides: 94.925 -> "94.93" half up), with
 * `decimal_mark`. Negative values round away from zero (half up) or
 * toward zero (truncate); "-0.00" never appears. Writes "" and returns
 * false when v is NAN; otherwise returns true. out holds at least 32 bytes.
 */
bool sipas_report_format_number(double v, const sipas_display *d,
                                char decimal_mark, char *out, size_t len);

/* A change for display: as sipas_report_format_number, with a "+" on a
 * rise that does not show as zero ("+0.51", "-1.20", "0.00"). */
bool sipas_report_format_change(double v, const sipas_display *d,
                                char decimal_mark, char *out, size_t len);

/*
 * Write r to f. Each returns SIPAS_E_IO (errno text in diag) when f could
 * not be written; f is flushed but not closed.
 *   json:  exactly sipas.snapshot/1 (interfaces.md 4, 5), full precision,
 *          streamed one unit at a time
 *   table: aligned columns for a terminal (display width of UTF-8)
 *   csv:   RFC 4180, one row per unit (';' separated with a ',' mark)
 *   html:  one self-contained page (no script, no network): the tables of
 *          the published reports and an SVG chart of the units by index
 */
SIPAS_MUST_CHECK sipas_err sipas_report_write_json(const sipas_report *r,
                                                   FILE *f, sipas_diag *diag);
SIPAS_MUST_CHECK sipas_err sipas_report_write_table(const sipas_report *r,
                                                    const sipas_report_opts *o,
                                                    FILE *f, sipas_diag *diag);
SIPAS_MUST_CHECK sipas_err sipas_report_write_csv(const sipas_report *r,
                                                  const sipas_report_opts *o,
                                                  FILE *f, sipas_diag *diag);
SIPAS_MUST_CHECK sipas_err sipas_report_write_html(const sipas_report *r,
                                                   const sipas_report_opts *o,
                                                   FILE *f, sipas_diag *diag);

#endif
