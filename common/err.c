/*
 * err.c - names and sentences of the sipas_err codes.
 */
#include "sipas_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct err_text {
	sipas_err code;
	const char *name;
	const char *sentence;
};

/* One row per code. The names are stable: wire codes appear in acks. */
static const struct err_text texts[] = {
	{SIPAS_OK, "ok", "Success."},
	{SIPAS_E_MALFORMED, "malformed", "The request is not a well-formed msgpack map or array of maps."},
	{SIPAS_E_TOO_LARGE, "too_large", "The request or one of its fields is larger than allowed."},
	{SIPAS_E_MISSING_FIELD, "missing_field", "A required field is missing."},
	{SIPAS_E_BAD_TYPE, "bad_type", "A field has the wrong type."},
	{SIPAS_E_BAD_VALUE, "bad_value", "A field has a value that is not allowed."},
	{SIPAS_E_UNKNOWN_FIELD, "unknown_field", "The request has a field the protocol does not define."},
	{SIPAS_E_UNKNOWN_CAMPAIGN, "unknown_campaign", "The campaign is not defined in the store."},
	{SIPAS_E_UNKNOWN_UNIT, "unknown_unit", "The unit is not part of the campaign."},
	{SIPAS_E_FORM_NOT_ALLOWED, "form_not_allowed", "The unit is not surveyed with this form."},
	{SIPAS_E_UNKNOWN_ITEM, "unknown_item", "An answer names an item the form does not have."},
	{SIPAS_E_MISSING_ITEM, "missing_item", "A criterion of the form has no answer."},
	{SIPAS_E_OUT_OF_RANGE, "out_of_range", "A value is outside the range the definition allows."},
	{SIPAS_E_OUTSIDE_WINDOW, "outside_window", "The completion time is outside the campaign window."},
	{SIPAS_E_BAD_UTF8, "bad_utf8", "A string is not valid UTF-8."},
	{SIPAS_E_CONFLICT, "conflict", "This id was already accepted with different content."},
	{SIPAS_E_BUSY, "busy", "The service cannot take more work now; retry later."},
	{SIPAS_E_NOMEM, "nomem", "Out of memory."},
	{SIPAS_E_IO, "io", "A system call failed."},
	{SIPAS_E_STORE, "store", "The LMDB store reported an error."},
	{SIPAS_E_MAP_FULL, "map_full", "The LMDB map is full."},
	{SIPAS_E_NOT_FOUND, "not_found", "No such object."},
	{SIPAS_E_DEFINITION, "definition", "The survey definition is invalid."},
	{SIPAS_E_USAGE, "usage", "The command line is invalid."},
	{SIPAS_E_AMBIGUOUS, "ambiguous", "More than one object matches; name one explicitly."},
	{SIPAS_E_VERSION, "version", "The store was written by an incompatible version of sipas."},
};

static const struct err_text *find(sipas_err e)
{
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
		if (texts[i].code == e)
			return &texts[i];
	return NULL;
}

const char *sipas_err_name(sipas_err e)
{
	const struct err_text *t = find(e);

	return t != NULL ? t->name : "unknown";
}

const char *sipas_strerror(sipas_err e)
{
	const struct err_text *t = find(e);

	return t != NULL ? t->sentence : "Unknown error code.";
}

int sipas_err_is_wire(sipas_err e)
{
	return e >= SIPAS_E_MALFORMED && e <= SIPAS_E_BUSY;
}

int sipas_err_from_name(const char *name, size_t len)
{
	for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
		if (!sipas_err_is_wire(texts[i].code))
			continue;
		if (strlen(texts[i].name) == len &&
		    memcmp(texts[i].name, name, len) == 0)
			return (int)texts[i].code;
	}
	return -1;
}

void sipas_diag_set(sipas_diag *diag, const char *fmt, ...)
{
	va_list ap;

	if (diag == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(diag->msg, sizeof diag->msg, fmt, ap);
	va_end(ap);
}
