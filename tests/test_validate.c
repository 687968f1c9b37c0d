/*
 * test_validate.c - a decoded response against a survey definition
 * (sipas_validate.h): every code, in the documented order, with its exact
 * field and detail; the accepted case and what it yields.
 *
 * Responses are built by filling a sipas_response directly, so these
 * tests do not depend on the codec.
 */
#include <stdlib.h>
#include <string.h>

#include "sipas_definition.h"
#include "sipas_text.h"
#include "sipas_validate.h"
#include "testutil.h"

/* ---- definitions ---- */

enum { D_BASE, D_CONTRACT, D_NONA, D_COUNT };

/* A scale without a not-applicable level; a multi with the default max. */
static const char nona_json[] =
    "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
    "\"to\": \"2024-12-31\"},"
    " \"scale\": {\"min\": 1, \"max\": 5, \"satisfied\": [4, 5]},"
    " \"blocks\": [{\"id\": \"b\"}],"
    " \"forms\": [{\"id\": \"f\", \"groups\": [{\"id\": \"g\", "
    "\"criteria\": [{\"id\": \"c\"}]}], \"items\": [{\"id\": \"m\", "
    "\"kind\": \"multi\", \"codes\": [1, 2, 3]}]}],"
    " \"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]}]}";

static sipas_def *defs[D_COUNT];

/* Defaults of a response for each definition: campaign, unit, form, ts. */
static const struct {
	const char *campaign, *unit, *form;
	int64_t ts;
} dflt[D_COUNT] = {
    [D_BASE] = {"T-2024", "SNV", "direct", 1720000000},
    [D_CONTRACT] = {"SL-2024", "SNV", "direct", 1700000000},
    [D_NONA] = {"C", "u", "f", 1720000000},
};

static sipas_def *load(const char *json, size_t len)
{
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_def_load(json, len, "def.json", &d, &diag);

	ck_assert_msg(rv == SIPAS_OK, "%s", diag.msg);
	return d;
}

static void load_defs(void)
{
	size_t len;
	char *json = tu_read_source("tests/data/defs/base.json", &len);

	defs[D_BASE] = load(json, len);
	free(json);
	json = tu_read_source("tests/data/defs/contract-example.json", &len);
	defs[D_CONTRACT] = load(json, len);
	free(json);
	defs[D_NONA] = load(nona_json, strlen(nona_json));
}

static void free_defs(void)
{
	for (int i = 0; i < D_COUNT; i++)
		sipas_def_free(&defs[i]);
}

/* ---- responses ---- */

/* Room for the item names and codes of one response built by a test. */
struct built {
	sipas_response *r;
	char *names;
	int64_t codes[SIPAS_MAX_ANSWERS];
};

/*
 * Fill b->r->answers from "A1=4 expect=[1,4] none=[] ..." in that order.
 * The names point into a copy of the spec, cut into NUL-terminated words.
 */
static void parse_answers(struct built *b, const char *spec)
{
	sipas_response *r = b->r;
	uint32_t ncodes = 0;
	char *p;

	b->names = strdup(spec);
	ck_assert_ptr_nonnull(b->names);
	for (p = b->names; *p != '\0';) {
		sipas_answer *a = &r->answers[r->nanswers++];
		char *eq, *end;

		while (*p == ' ')
			p++;
		eq = strchr(p, '=');
		ck_assert_msg(eq != NULL, "bad spec '%s'", spec);
		*eq = '\0';
		a->item = p;
		a->item_len = (uint32_t)strlen(p);
		p = eq + 1;
		if (*p != '[') {
			a->kind = SIPAS_ANSWER_INT;
			a->value = strtoll(p, &end, 10);
		} else {
			a->kind = SIPAS_ANSWER_LIST;
			a->codes = &b->codes[ncodes];
			for (end = p + 1; *end != ']';) {
				b->codes[ncodes++] = strtoll(end, &end, 10);
				a->ncodes++;
				if (*end == ',')
					end++;
			}
			end++;
		}
		p = end;
		if (*p == ' ')
			*p++ = '\0';
	}
}

static void build(struct built *b, int def, const char *spec)
{
	sipas_response *r = calloc(1, sizeof *r);

	ck_assert_ptr_nonnull(r);
	r->v = 1;
	r->id = "r-1";
	r->campaign = dflt[def].campaign;
	r->unit = dflt[def].unit;
	r->form = dflt[def].form;
	r->channel = "postal";
	r->ts = dflt[def].ts;
	b->r = r;
	parse_answers(b, spec);
}

static void unbuild(struct built *b)
{
	free(b->r);
	free(b->names);
}

/* ---- the table ---- */

#define NO_TS INT64_MIN

static const struct vcase {
	const char *name;
	int def;
	const char *campaign, *unit, *form, *channel; /* NULL: default */
	int64_t ts;                                   /* NO_TS: default */
	const char *answers;
	sipas_err want;
	const char *field, *detail;
} vcases[] = {
    /* accepted */
    {"criteria only", D_BASE, NULL, NULL, NULL, NULL, NO_TS, "A1=4 A2=5 S1=3",
     SIPAS_OK, NULL, NULL},
    {"every item", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 trips=2 expect=[1,4] age=40", SIPAS_OK, NULL, NULL},
    {"not applicable", D_BASE, NULL, NULL, NULL, NULL, NO_TS, "A1=0 A2=0 S1=0",
     SIPAS_OK, NULL, NULL},
    {"scale ends", D_BASE, NULL, NULL, NULL, NULL, NO_TS, "A1=1 A2=5 S1=1",
     SIPAS_OK, NULL, NULL},
    {"items first, any order", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "age=15 expect=[3,1] trips=3 S1=2 A2=5 A1=1", SIPAS_OK, NULL, NULL},
    {"empty multi is an answer", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=[]", SIPAS_OK, NULL, NULL},
    {"number at max", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 age=100", SIPAS_OK, NULL, NULL},
    {"second form of a unit", D_BASE, NULL, "MS", "household", NULL, NO_TS,
     "P1=4 P2=5 P3=3 P4=0 P5=1 S1=2 S2=4 S3=5", SIPAS_OK, NULL, NULL},
    {"first form of a unit", D_BASE, NULL, "MS", "direct", NULL, NO_TS,
     "A1=4 A2=5 S1=3", SIPAS_OK, NULL, NULL},
    {"first second of the window", D_BASE, NULL, NULL, NULL, NULL, 1704042000,
     "A1=4 A2=5 S1=3", SIPAS_OK, NULL, NULL},
    {"last second of the window", D_BASE, NULL, NULL, NULL, NULL, 1735664399,
     "A1=4 A2=5 S1=3", SIPAS_OK, NULL, NULL},
    {"contract: first second", D_CONTRACT, NULL, NULL, NULL, "portal",
     1693501200, "A1=4 A2=5 F1=0", SIPAS_OK, NULL, NULL},
    {"contract: last second", D_CONTRACT, NULL, NULL, NULL, "interview",
     1727715599, "A1=4 A2=5 F1=0 expect=[10,1,5]", SIPAS_OK, NULL, NULL},
    {"multi max defaults to all codes", D_NONA, NULL, NULL, NULL, NULL, NO_TS,
     "c=5 m=[3,1,2]", SIPAS_OK, NULL, NULL},

    /* campaign, unit, form, in that order */
    {"other campaign", D_BASE, "T-2023", NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3", SIPAS_E_UNKNOWN_CAMPAIGN, "campaign",
     "Campaign T-2023 is not defined here (this definition is campaign "
     "T-2024)."},
    {"campaign before unit", D_BASE, "X", "XYZ", "x", NULL, -5, "Q=1",
     SIPAS_E_UNKNOWN_CAMPAIGN, "campaign",
     "Campaign X is not defined here (this definition is campaign "
     "T-2024)."},
    {"unknown unit", D_BASE, NULL, "XYZ", NULL, NULL, NO_TS, "A1=4 A2=5 S1=3",
     SIPAS_E_UNKNOWN_UNIT, "unit", "Unit XYZ is not in campaign T-2024."},
    {"unit ids are exact", D_BASE, NULL, "snv", NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3", SIPAS_E_UNKNOWN_UNIT, "unit",
     "Unit snv is not in campaign T-2024."},
    {"unit before form", D_BASE, NULL, "XYZ", "online", NULL, -1, "",
     SIPAS_E_UNKNOWN_UNIT, "unit", "Unit XYZ is not in campaign T-2024."},
    {"unknown form", D_BASE, NULL, NULL, "online", NULL, NO_TS,
     "A1=4 A2=5 S1=3", SIPAS_E_FORM_NOT_ALLOWED, "form",
     "Form online is not in campaign T-2024."},
    {"form the unit does not use", D_BASE, NULL, "SNV", "household", NULL,
     NO_TS, "P1=4", SIPAS_E_FORM_NOT_ALLOWED, "form",
     "Unit SNV is not surveyed with form household."},
    {"form the unit does not use (2)", D_BASE, NULL, "YC", "direct", NULL,
     NO_TS, "A1=4 A2=5 S1=3", SIPAS_E_FORM_NOT_ALLOWED, "form",
     "Unit YC is not surveyed with form direct."},
    {"form before window", D_BASE, NULL, NULL, "online", NULL, 0, "",
     SIPAS_E_FORM_NOT_ALLOWED, "form",
     "Form online is not in campaign T-2024."},

    /* the window */
    {"one second early", D_BASE, NULL, NULL, NULL, NULL, 1704041999,
     "A1=4 A2=5 S1=3", SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 1704041999 is outside campaign T-2024, 2024-01-01 to "
     "2024-12-31 at UTC+07:00."},
    {"one second late", D_BASE, NULL, NULL, NULL, NULL, 1735664400,
     "A1=4 A2=5 S1=3", SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 1735664400 is outside campaign T-2024, 2024-01-01 to "
     "2024-12-31 at UTC+07:00."},
    {"negative ts", D_BASE, NULL, NULL, NULL, NULL, -1, "A1=4 A2=5 S1=3",
     SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time -1 is outside campaign T-2024, 2024-01-01 to 2024-12-31 at "
     "UTC+07:00."},
    {"ts 0", D_BASE, NULL, NULL, NULL, NULL, 0, "A1=4 A2=5 S1=3",
     SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 0 is outside campaign T-2024, 2024-01-01 to 2024-12-31 at "
     "UTC+07:00."},
    {"contract: one second early", D_CONTRACT, NULL, NULL, NULL, NULL,
     1693501199, "A1=4 A2=5 F1=0", SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 1693501199 is outside campaign SL-2024, 2023-09-01 to "
     "2024-09-30 at UTC+07:00."},
    {"contract: one second late", D_CONTRACT, NULL, NULL, NULL, NULL,
     1727715600, "A1=4 A2=5 F1=0", SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 1727715600 is outside campaign SL-2024, 2023-09-01 to "
     "2024-09-30 at UTC+07:00."},
    {"window before items", D_BASE, NULL, NULL, NULL, NULL, INT64_MAX, "Z=1",
     SIPAS_E_OUTSIDE_WINDOW, "ts",
     "Time 9223372036854775807 is outside campaign T-2024, 2024-01-01 to "
     "2024-12-31 at UTC+07:00."},

    /* items, in wire order */
    {"unknown item", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 A9=1", SIPAS_E_UNKNOWN_ITEM, "items.A9",
     "Item A9 is not in form direct."},
    {"item of another form", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "P1=4 A1=4 A2=5 S1=3", SIPAS_E_UNKNOWN_ITEM, "items.P1",
     "Item P1 is not in form direct."},
    {"a group is not an item", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 access=4", SIPAS_E_UNKNOWN_ITEM, "items.access",
     "Item access is not in form direct."},
    {"unknown item before missing", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 Z=1", SIPAS_E_UNKNOWN_ITEM, "items.Z",
     "Item Z is not in form direct."},
    {"list for a criterion", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=[4] A2=5 S1=3", SIPAS_E_BAD_TYPE, "items.A1",
     "Criterion A1 takes one integer, not a list."},
    {"empty list for a criterion", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=[] S1=3", SIPAS_E_BAD_TYPE, "items.A2",
     "Criterion A2 takes one integer, not a list."},
    {"list for a choice", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 trips=[1]", SIPAS_E_BAD_TYPE, "items.trips",
     "Item trips takes one integer, not a list."},
    {"list for a number", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 age=[40]", SIPAS_E_BAD_TYPE, "items.age",
     "Item age takes one integer, not a list."},
    {"int for a multi", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=1", SIPAS_E_BAD_TYPE, "items.expect",
     "Item expect takes a list of codes."},
    {"Likert above the scale", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=6 A2=5 S1=3", SIPAS_E_OUT_OF_RANGE, "items.A1",
     "Answer 6 to criterion A1 is outside the scale 1..5, or 0 for not "
     "applicable."},
    {"Likert below the scale", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=-1 S1=3", SIPAS_E_OUT_OF_RANGE, "items.A2",
     "Answer -1 to criterion A2 is outside the scale 1..5, or 0 for not "
     "applicable."},
    {"no not-applicable level", D_NONA, NULL, NULL, NULL, NULL, NO_TS, "c=0",
     SIPAS_E_OUT_OF_RANGE, "items.c",
     "Answer 0 to criterion c is outside the scale 1..5."},
    {"undeclared choice code", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 trips=4", SIPAS_E_OUT_OF_RANGE, "items.trips",
     "Code 4 is not a code of item trips."},
    {"0 is not a choice code", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 trips=0", SIPAS_E_OUT_OF_RANGE, "items.trips",
     "Code 0 is not a code of item trips."},
    {"undeclared multi code", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=[1,5]", SIPAS_E_OUT_OF_RANGE, "items.expect",
     "Code 5 is not a code of item expect."},
    {"repeated multi code", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=[2,2]", SIPAS_E_OUT_OF_RANGE, "items.expect",
     "Code 2 is repeated in item expect."},
    {"too many multi codes", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=[1,2,3]", SIPAS_E_OUT_OF_RANGE, "items.expect",
     "Item expect takes at most 2 codes, not 3."},
    {"repeated before too many", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 expect=[1,1,1]", SIPAS_E_OUT_OF_RANGE, "items.expect",
     "Code 1 is repeated in item expect."},
    {"number below min", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 age=14", SIPAS_E_OUT_OF_RANGE, "items.age",
     "Value 14 of item age is outside 15..100."},
    {"number above max", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A2=5 S1=3 age=101", SIPAS_E_OUT_OF_RANGE, "items.age",
     "Value 101 of item age is outside 15..100."},
    {"wire order (1)", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=9 trips=[1] A2=5 S1=3", SIPAS_E_OUT_OF_RANGE, "items.A1",
     "Answer 9 to criterion A1 is outside the scale 1..5, or 0 for not "
     "applicable."},
    {"wire order (2)", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "trips=[1] A1=9 A2=5 S1=3", SIPAS_E_BAD_TYPE, "items.trips",
     "Item trips takes one integer, not a list."},
    {"answered twice", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "A1=4 A1=5 A2=5 S1=3", SIPAS_E_MALFORMED, "items.A1",
     "Item A1 is answered twice."},

    /* missing criteria, the first in form order */
    {"missing criterion", D_BASE, NULL, NULL, NULL, NULL, NO_TS, "A1=4 S1=3",
     SIPAS_E_MISSING_ITEM, "items.A2",
     "Criterion A2 of form direct is not answered."},
    {"first missing in form order", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "S1=3", SIPAS_E_MISSING_ITEM, "items.A1",
     "Criterion A1 of form direct is not answered."},
    {"no answers", D_BASE, NULL, NULL, NULL, NULL, NO_TS, "",
     SIPAS_E_MISSING_ITEM, "items.A1",
     "Criterion A1 of form direct is not answered."},
    {"items are not criteria", D_BASE, NULL, NULL, NULL, NULL, NO_TS,
     "trips=1 expect=[] age=20", SIPAS_E_MISSING_ITEM, "items.A1",
     "Criterion A1 of form direct is not answered."},
    {"missing in a nested group", D_BASE, NULL, "MS", "household", NULL, NO_TS,
     "P1=4 P2=5 P3=3 P4=0 P5=1 S1=2 S2=4", SIPAS_E_MISSING_ITEM, "items.S3",
     "Criterion S3 of form household is not answered."},

    /* the codec's business, checked again */
    {"unknown channel", D_BASE, NULL, NULL, NULL, "fax", NO_TS,
     "A1=4 A2=5 S1=3", SIPAS_E_BAD_VALUE, "channel",
     "Channel fax is not one of the contract."},
};

START_TEST(test_validate_table)
{
	const struct vcase *vc = &vcases[_i];
	const sipas_def *d = defs[vc->def];
	struct built b;
	sipas_checked out;
	sipas_fault fault;
	sipas_err rv;

	build(&b, vc->def, vc->answers);
	if (vc->campaign != NULL)
		b.r->campaign = vc->campaign;
	if (vc->unit != NULL)
		b.r->unit = vc->unit;
	if (vc->form != NULL)
		b.r->form = vc->form;
	if (vc->channel != NULL)
		b.r->channel = vc->channel;
	if (vc->ts != NO_TS)
		b.r->ts = vc->ts;
	memset(&fault, 'z', sizeof fault);
	fault.id[sizeof fault.id - 1] = '\0';
	memset(&out, 0, sizeof out);

	rv = sipas_validate(d, b.r, &out, &fault);
	ck_assert_msg(rv == vc->want, "%s: got %s, want %s", vc->name,
	              sipas_err_name(rv), sipas_err_name(vc->want));
	if (vc->want == SIPAS_OK) {
		ck_assert_str_eq(out.unit->id, b.r->unit);
		ck_assert_str_eq(out.form->id, b.r->form);
		ck_assert_int_eq(out.channel,
		                 sipas_channel_index(b.r->channel));
		for (uint32_t c = 0; c < out.form->ncriteria; c++)
			ck_assert_ptr_nonnull(out.slot[c]);
	} else {
		ck_assert_int_eq(fault.code, vc->want);
		ck_assert_str_eq(fault.id, "r-1");
		ck_assert_str_eq(fault.field, vc->field);
		ck_assert_str_eq(fault.detail, vc->detail);
	}
	unbuild(&b);
}
END_TEST

/* What a valid response yields: the answer of every slot. */
START_TEST(test_validate_checked_slots)
{
	const sipas_def *d = defs[D_BASE];
	struct built b;
	sipas_checked out;
	sipas_fault fault;

	build(&b, D_BASE, "expect=[] S1=0 A2=5 A1=1 age=30");
	b.r->unit = "MS";
	b.r->channel = "kiosk";
	ck_assert_err(sipas_validate(d, b.r, &out, &fault), SIPAS_OK);
	ck_assert_ptr_eq(out.unit, sipas_def_unit(d, 1));
	ck_assert_ptr_eq(out.form, sipas_def_form(d, 0));
	ck_assert_int_eq(out.channel, 2);
	ck_assert_ptr_eq(out.slot[0], &b.r->answers[3]); /* A1 */
	ck_assert_ptr_eq(out.slot[1], &b.r->answers[2]); /* A2 */
	ck_assert_ptr_eq(out.slot[2], &b.r->answers[1]); /* S1 */
	ck_assert_ptr_null(out.slot[3]);                 /* trips */
	ck_assert_ptr_eq(out.slot[4], &b.r->answers[0]); /* expect */
	ck_assert_uint_eq(out.slot[4]->ncodes, 0);
	ck_assert_ptr_eq(out.slot[5], &b.r->answers[4]); /* age */
	/* out may be NULL: the verdict alone. */
	ck_assert_err(sipas_validate(d, b.r, NULL, &fault), SIPAS_OK);
	unbuild(&b);
}
END_TEST

START_TEST(test_validate_channels)
{
	static const char *const names[] = {"portal", "postal", "kiosk",
	                                    "phone", "interview"};
	struct built b;
	sipas_checked out;
	sipas_fault fault;

	build(&b, D_CONTRACT, "A1=4 A2=5 F1=0");
	for (int i = 0; i < 5; i++) {
		b.r->channel = names[i];
		ck_assert_err(
		    sipas_validate(defs[D_CONTRACT], b.r, &out, &fault),
		    SIPAS_OK);
		ck_assert_int_eq(out.channel, i);
	}
	unbuild(&b);
}
END_TEST

/* A long Vietnamese item id is cut, on a character boundary, to fit the
 * ack's field and detail: both stay valid UTF-8. */
START_TEST(test_validate_long_names_clipped)
{
	struct built b;
	sipas_fault fault;
	char spec[600] = "A1=4 A2=5 S1=3 ";
	size_t n = strlen(spec);

	/* 60 letters of 3 bytes each */
	for (int i = 0; i < 60; i++, n += 3)
		memcpy(spec + n, "ạ", 3);
	memcpy(spec + n, "=1", 3);
	build(&b, D_BASE, spec);
	ck_assert_err(sipas_validate(defs[D_BASE], b.r, NULL, &fault),
	              SIPAS_E_UNKNOWN_ITEM);
	ck_assert(sipas_utf8_valid(fault.field, strlen(fault.field)));
	ck_assert(sipas_utf8_valid(fault.detail, strlen(fault.detail)));
	ck_assert_uint_lt(strlen(fault.field), SIPAS_ACK_FIELD_MAX);
	ck_assert_ptr_nonnull(
	    strstr(fault.detail, "ạ... is not in form direct."));
	ck_assert_int_eq(strncmp(fault.field, "items.ạạ", 10), 0);
	unbuild(&b);
}
END_TEST

static Suite *validate_suite(void)
{
	Suite *s = suite_create("validate");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, load_defs, free_defs);
	tcase_add_loop_test(tc, test_validate_table, 0,
	                    (int)(sizeof vcases / sizeof vcases[0]));
	tcase_add_test(tc, test_validate_checked_slots);
	tcase_add_test(tc, test_validate_channels);
	tcase_add_test(tc, test_validate_long_names_clipped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(validate_suite());
}
