/*
 * validate.c - checks a decoded response against a survey definition
 * (interfaces.md sections 2 and 3); the order of the checks, and so the
 * one code a response gets, is documented in sipas_validate.h.
 *
 * Pure: reads the definition and the response, writes *out or *fault.
 */
#include "sipas_validate.h"

#include "sipas_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Bytes of a response's own text (campaign, unit, item id) quoted in a
 * detail sentence; the sentence must fit SIPAS_ACK_DETAIL_MAX. */
#define ECHO_MAX 48

/* s cut to at most ECHO_MAX bytes on a UTF-8 character boundary, with
 * "..." when cut: a detail stays valid UTF-8 whatever it quotes. */
static const char *clip(char out[ECHO_MAX + 4], const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	if (n <= ECHO_MAX) {
		if (n > 0)
			memcpy(out, s, n);
		out[n] = '\0';
		return out;
	}
	n = sipas_utf8_boundary(s, n, ECHO_MAX);
	memcpy(out, s, n);
	memcpy(out + n, "...", 4);
	return out;
}

static sipas_err fail(sipas_fault *fault, const sipas_response *r,
                      sipas_err code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static sipas_err fail(sipas_fault *fault, const sipas_response *r,
                      sipas_err code, const char *field, const char *fmt, ...)
{
	char detail[SIPAS_ACK_DETAIL_MAX];
	va_list ap;

	if (fault == NULL)
		return code;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof detail, fmt, ap);
	va_end(ap);
	snprintf(fault->id, sizeof fault->id, "%s", r->id != NULL ? r->id : "");
	sipas_fault_set(fault, code, field, "%s", detail);
	return code;
}

/* The ack field of an answer, "items.<id>", written into buf. Built only
 * on the refusal paths: valid responses (nearly all) never format it. */
static const char *item_field(char buf[SIPAS_ACK_FIELD_MAX], const char *item)
{
	snprintf(buf, SIPAS_ACK_FIELD_MAX, "items.%s", item);
	return buf;
}

/* "+07:00" for 25200 seconds east of UTC. */
static void format_offset(char out[8], int32_t seconds)
{
	int32_t a = seconds < 0 ? -seconds : seconds;

	snprintf(out, 8, "%c%02d:%02d", seconds < 0 ? '-' : '+',
	         (int)(a / 3600 % 100), (int)(a / 60 % 60));
}

/* Index of code v among the item's declared codes, or -1. */
static int code_index(const sipas_item *it, int64_t v)
{
	for (uint32_t i = 0; i < it->ncodes; i++)
		if (it->codes[i] == v)
			return (int)i;
	return -1;
}

/* One answer to criterion c: a Likert level or the not-applicable one. */
static sipas_err check_criterion(const sipas_def *d, const sipas_response *r,
                                 const sipas_answer *a, sipas_fault *fault)
{
	const sipas_scale *s = sipas_def_scale(d);
	char q[ECHO_MAX + 4], na[48] = "", f[SIPAS_ACK_FIELD_MAX];

	if (a->kind != SIPAS_ANSWER_INT)
		return fail(fault, r, SIPAS_E_BAD_TYPE, item_field(f, a->item),
		            "Criterion %s takes one integer, not a list.",
		            clip(q, a->item));
	if ((a->value >= s->min && a->value <= s->max) ||
	    (s->has_na && a->value == s->not_applicable))
		return SIPAS_OK;
	if (s->has_na)
		snprintf(na, sizeof na, ", or %lld for not applicable",
		         (long long)s->not_applicable);
	return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
	            "Answer %lld to criterion %s is outside the scale "
	            "%lld..%lld%s.",
	            (long long)a->value, clip(q, a->item), (long long)s->min,
	            (long long)s->max, na);
}

/* A multi answer: declared codes, none twice, at most max_choices. An
 * empty list is a valid answer that chose nothing. */
static sipas_err check_multi(const sipas_item *it, const sipas_response *r,
                             const sipas_answer *a, sipas_fault *fault)
{
	uint64_t seen = 0; /* bit i: codes[i] chosen; ncodes <= 64 */
	char q[ECHO_MAX + 4], f[SIPAS_ACK_FIELD_MAX];

	for (uint32_t k = 0; k < a->ncodes; k++) {
		int i = code_index(it, a->codes[k]);

		if (i < 0)
			return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
			            "Code %lld is not a code of item %s.",
			            (long long)a->codes[k], clip(q, a->item));
		if (seen & ((uint64_t)1 << i))
			return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
			            "Code %lld is repeated in item %s.",
			            (long long)a->codes[k], clip(q, a->item));
		seen |= (uint64_t)1 << i;
	}
	if (a->ncodes > it->max_choices)
		return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
		            "Item %s takes at most %u codes, not %u.",
		            clip(q, a->item), it->max_choices, a->ncodes);
	return SIPAS_OK;
}

static sipas_err check_item(const sipas_item *it, const sipas_response *r,
                            const sipas_answer *a, sipas_fault *fault)
{
	char q[ECHO_MAX + 4], f[SIPAS_ACK_FIELD_MAX];

	if (it->kind == SIPAS_ITEM_MULTI) {
		if (a->kind != SIPAS_ANSWER_LIST)
			return fail(fault, r, SIPAS_E_BAD_TYPE, item_field(f, a->item),
			            "Item %s takes a list of codes.",
			            clip(q, a->item));
		return check_multi(it, r, a, fault);
	}
	if (a->kind != SIPAS_ANSWER_INT)
		return fail(fault, r, SIPAS_E_BAD_TYPE, item_field(f, a->item),
		            "Item %s takes one integer, not a list.",
		            clip(q, a->item));
	if (it->kind == SIPAS_ITEM_CHOICE && code_index(it, a->value) < 0)
		return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
		            "Code %lld is not a code of item %s.",
		            (long long)a->value, clip(q, a->item));
	if (it->kind == SIPAS_ITEM_NUMBER &&
	    (a->value < it->min || a->value > it->max))
		return fail(fault, r, SIPAS_E_OUT_OF_RANGE, item_field(f, a->item),
		            "Value %lld of item %s is outside %lld..%lld.",
		            (long long)a->value, clip(q, a->item),
		            (long long)it->min, (long long)it->max);
	return SIPAS_OK;
}

/* Whether answer a is to slot s of form f (criteria, then items). */
static bool slot_is(const sipas_form *f, uint32_t s, const sipas_answer *a)
{
	const char *id = s < f->ncriteria ? f->criteria[s].id
	                                  : f->items[s - f->ncriteria].id;

	return strlen(id) == a->item_len && memcmp(id, a->item, a->item_len) == 0;
}

/* Where the response is: campaign, unit, form, time. */
static sipas_err check_header(const sipas_def *d, const sipas_response *r,
                              const sipas_unit **unit, const sipas_form **form,
                              sipas_fault *fault)
{
	const sipas_campaign *c = sipas_def_campaign(d);
	char q[ECHO_MAX + 4], off[8];

	if (r->campaign == NULL || strcmp(r->campaign, c->id) != 0)
		return fail(fault, r, SIPAS_E_UNKNOWN_CAMPAIGN, "campaign",
		            "Campaign %s is not defined here (this definition "
		            "is campaign %s).",
		            clip(q, r->campaign), c->id);
	*unit = r->unit == NULL
	            ? NULL
	            : sipas_def_find_unit(d, r->unit, strlen(r->unit));
	if (*unit == NULL)
		return fail(fault, r, SIPAS_E_UNKNOWN_UNIT, "unit",
		            "Unit %s is not in campaign %s.", clip(q, r->unit),
		            c->id);
	*form = r->form == NULL
	            ? NULL
	            : sipas_def_find_form(d, r->form, strlen(r->form));
	if (*form == NULL)
		return fail(fault, r, SIPAS_E_FORM_NOT_ALLOWED, "form",
		            "Form %s is not in campaign %s.", clip(q, r->form),
		            c->id);
	if (!sipas_unit_uses_form(*unit, *form))
		return fail(fault, r, SIPAS_E_FORM_NOT_ALLOWED, "form",
		            "Unit %s is not surveyed with form %s.",
		            (*unit)->id, (*form)->id);
	if (r->ts < c->window_start || r->ts >= c->window_end) {
		format_offset(off, c->utc_offset);
		return fail(fault, r, SIPAS_E_OUTSIDE_WINDOW, "ts",
		            "Time %lld is outside campaign %s, %s to %s at "
		            "UTC%s.",
		            (long long)r->ts, c->id, c->from, c->to, off);
	}
	return SIPAS_OK;
}

sipas_err sipas_validate(const sipas_def *d, const sipas_response *r,
                         sipas_checked *out, sipas_fault *fault)
{
	/* Filled here and copied to *out only when the response is valid. */
	const sipas_answer *slot[SIPAS_MAX_FORM_ENTRIES] = {NULL};
	const sipas_unit *unit = NULL;
	const sipas_form *form = NULL;
	char field[SIPAS_ACK_FIELD_MAX], q[ECHO_MAX + 4];
	int channel = sipas_channel_index(r->channel);
	sipas_err rv;

	/* The codec refuses an unknown channel before any of this runs. */
	if (channel < 0)
		return fail(fault, r, SIPAS_E_BAD_VALUE, "channel",
		            "Channel %s is not one of the contract.",
		            clip(q, r->channel));
	rv = check_header(d, r, &unit, &form, fault);
	if (rv != SIPAS_OK)
		return rv;
	for (uint32_t i = 0, guess = 0; i < r->nanswers && i < SIPAS_MAX_ANSWERS;
	     i++) {
		const sipas_answer *a = &r->answers[i];
		int32_t s;

		/* Clients send answers in the form's order: the slot after the
		 * last one found is usually right, and one comparison is much
		 * cheaper than a search of the index. */
		if (guess < form->nslots && slot_is(form, guess, a))
			s = (int32_t)guess;
		else
			s = sipas_form_find_slot(form, a->item, a->item_len);
		guess = (uint32_t)(s + 1);

		if (s < 0)
			return fail(fault, r, SIPAS_E_UNKNOWN_ITEM,
			            item_field(field, a->item),
			            "Item %s is not in form %s.",
			            clip(q, a->item), form->id);
		/* The codec refuses repeated keys as malformed; say the same
		 * if a caller built such a response by hand. */
		if (slot[s] != NULL)
			return fail(fault, r, SIPAS_E_MALFORMED,
			            item_field(field, a->item),
			            "Item %s is answered twice.",
			            clip(q, a->item));
		if ((uint32_t)s < form->ncriteria)
			rv = check_criterion(d, r, a, fault);
		else
			rv = check_item(
			    &form->items[(uint32_t)s - form->ncriteria], r, a,
			    fault);
		if (rv != SIPAS_OK)
			return rv;
		slot[s] = a;
	}
	for (uint32_t c = 0; c < form->ncriteria; c++) {
		if (slot[c] != NULL)
			continue;
		return fail(fault, r, SIPAS_E_MISSING_ITEM,
		            item_field(field, form->criteria[c].id),
		            "Criterion %s of form %s is not answered.",
		            form->criteria[c].id, form->id);
	}
	if (out != NULL) {
		out->unit = unit;
		out->form = form;
		out->channel = channel;
		memcpy(out->slot, slot, form->nslots * sizeof slot[0]);
	}
	return SIPAS_OK;
}
