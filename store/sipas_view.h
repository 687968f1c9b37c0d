/*
 * sipas_view.h - a consistent point-in-time view of a store (one LMDB read
 * transaction): what sipas-snapshot and sipas-admin read. A view never
 * blocks writers; keep it short-lived, since an open view pins the pages it
 * sees.
 */
#ifndef SIPAS_VIEW_H
#define SIPAS_VIEW_H

#include <stdint.h>
#include "sipas_counts.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_store.h"

typedef struct sipas_view sipas_view;

/* Begin a view of s. The caller closes it with sipas_view_close() before
 * closing the store. */
SIPAS_MUST_CHECK sipas_err sipas_view_open(sipas_store *s, sipas_view **out,
					   sipas_diag *diag);
void sipas_view_close(sipas_view **v);

/* As sipas_store_load_definition, but as of the view. */
SIPAS_MUST_CHECK sipas_err sipas_view_definition(sipas_view *v,
						 const char *campaign,
						 sipas_def **out,
						 sipas_revision *rev,
						 sipas_diag *diag);

/* Campaign counters (zero when nothing was stored yet). */
SIPAS_MUST_CHECK sipas_err sipas_view_stats(sipas_view *v, const char *campaign,
					    sipas_campaign_stats *out,
					    sipas_diag *diag);

/*
 * Add the stored counters of (campaign, unit, c->form) into c. Nothing is
 * added when no response was counted for them. c must be laid out for the
 * definition the view returned.
 */
SIPAS_MUST_CHECK sipas_err sipas_view_counts(sipas_view *v, const char *campaign,
					     const sipas_unit *u, sipas_counts *c,
					     sipas_diag *diag);

/* One quarantined response, as sipas_view_quarantine reports it. Pointers
 * are valid during the callback only. */
typedef struct sipas_quarantined {
	uint64_t seq;              /* its number in the quarantine */
	int64_t received_ms;
	const char *source;
	sipas_err code;            /* why it was refused */
	const void *raw;           /* the msgpack map as received */
	size_t rawlen;
} sipas_quarantined;

/* Call fn for every quarantined response, oldest first; a non-zero return
 * stops the walk. */
SIPAS_MUST_CHECK sipas_err sipas_view_quarantine(sipas_view *v,
						 int (*fn)(const sipas_quarantined *q,
							   void *ctx),
						 void *ctx, sipas_diag *diag);

#endif
