/*
 * sipas_validate.h - checks a decoded response against a survey definition
 * (interfaces.md sections 2 and 3). Pure: no I/O, no allocation.
 */
#ifndef SIPAS_VALIDATE_H
#define SIPAS_VALIDATE_H

#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_protocol.h"

/* What a valid response means for the counters: the definition objects it
 * names and its answer to every slot of the form. Borrowed pointers live as
 * long as the definition and the response. */
typedef struct sipas_checked {
	const sipas_unit *unit;
	const sipas_form *form;
	int channel;                 /* index in sipas_channel_names */
	/* By slot (0..form->nslots-1): the answer, or NULL when the optional
	 * item was not answered. Criteria are never NULL. */
	const sipas_answer *slot[SIPAS_MAX_FORM_ENTRIES];
} sipas_checked;

/*
 * Check r against d. On SIPAS_OK fills *out (may be NULL). Otherwise returns
 * the wire code and fills *fault (with r's id) - the first problem found, in
 * this order:
 *   campaign   unknown_campaign (not d's campaign)
 *   unit       unknown_unit
 *   form       form_not_allowed (not a form of the definition, or not one
 *              the unit uses)
 *   ts         outside_window
 *   items.X    in wire order: unknown_item; bad_type (a list for a
 *              criterion, choice or number, an int for a multi);
 *              out_of_range (Likert outside min..max and not the
 *              not-applicable level, a choice or multi code not declared,
 *              a multi with repeated codes or more than max_choices codes,
 *              a number outside min..max)
 *   items.C    missing_item for the first criterion of the form (in form
 *              order) without an answer
 * Two cases the codec refuses first are answered the same way here when a
 * caller builds a response by hand: a channel not in sipas_channel_names
 * (bad_value, field `channel`, checked before anything else) and an item
 * answered twice (malformed, field `items.X`, in wire order).
 */
SIPAS_MUST_CHECK sipas_err sipas_validate(const sipas_def *d,
					  const sipas_response *r,
					  sipas_checked *out,
					  sipas_fault *fault);

#endif
