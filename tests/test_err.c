/* test_err.c - every code has a stable name and a sentence. */
#include <string.h>

#include "sipas_err.h"
#include "testutil.h"

/* The wire codes of interfaces.md section 2, spelled as the contract does. */
static const struct {
	sipas_err code;
	const char *name;
} wire[] = {
	{SIPAS_E_MALFORMED, "malformed"},
	{SIPAS_E_TOO_LARGE, "too_large"},
	{SIPAS_E_MISSING_FIELD, "missing_field"},
	{SIPAS_E_BAD_TYPE, "bad_type"},
	{SIPAS_E_BAD_VALUE, "bad_value"},
	{SIPAS_E_UNKNOWN_FIELD, "unknown_field"},
	{SIPAS_E_UNKNOWN_CAMPAIGN, "unknown_campaign"},
	{SIPAS_E_UNKNOWN_UNIT, "unknown_unit"},
	{SIPAS_E_FORM_NOT_ALLOWED, "form_not_allowed"},
	{SIPAS_E_UNKNOWN_ITEM, "unknown_item"},
	{SIPAS_E_MISSING_ITEM, "missing_item"},
	{SIPAS_E_OUT_OF_RANGE, "out_of_range"},
	{SIPAS_E_OUTSIDE_WINDOW, "outside_window"},
	{SIPAS_E_BAD_UTF8, "bad_utf8"},
	{SIPAS_E_CONFLICT, "conflict"},
	{SIPAS_E_BUSY, "busy"},
};

static const sipas_err local[] = {
	SIPAS_OK, SIPAS_E_NOMEM, SIPAS_E_IO, SIPAS_E_STORE, SIPAS_E_MAP_FULL,
	SIPAS_E_NOT_FOUND, SIPAS_E_DEFINITION, SIPAS_E_USAGE,
	SIPAS_E_AMBIGUOUS, SIPAS_E_VERSION};

#define NWIRE (sizeof wire / sizeof wire[0])
#define NLOCAL (sizeof local / sizeof local[0])

START_TEST(test_err_wire_names_match_contract)
{
	ck_assert_str_eq(sipas_err_name(wire[_i].code), wire[_i].name);
	ck_assert(sipas_err_is_wire(wire[_i].code));
	ck_assert_int_eq(sipas_err_from_name(wire[_i].name,
					     strlen(wire[_i].name)),
			 (int)wire[_i].code);
}
END_TEST

/* Every code, wire or local: a name, and a sentence ending in a full stop. */
static void check_texts(sipas_err e)
{
	const char *name = sipas_err_name(e), *s = sipas_strerror(e);

	ck_assert_str_ne(name, "unknown");
	ck_assert_uint_gt(strlen(s), 3);
	ck_assert_msg(s[strlen(s) - 1] == '.', "%s: no full stop", name);
	ck_assert_str_ne(s, "Unknown error code.");
}

START_TEST(test_err_every_code_has_name_and_sentence)
{
	for (size_t i = 0; i < NWIRE; i++)
		check_texts(wire[i].code);
	for (size_t i = 0; i < NLOCAL; i++) {
		check_texts(local[i]);
		ck_assert(!sipas_err_is_wire(local[i]));
	}
}
END_TEST

START_TEST(test_err_names_are_unique)
{
	sipas_err all[NWIRE + NLOCAL];

	for (size_t i = 0; i < NWIRE; i++)
		all[i] = wire[i].code;
	for (size_t i = 0; i < NLOCAL; i++)
		all[NWIRE + i] = local[i];
	for (size_t i = 0; i < NWIRE + NLOCAL; i++)
		for (size_t j = i + 1; j < NWIRE + NLOCAL; j++)
			ck_assert_str_ne(sipas_err_name(all[i]),
					 sipas_err_name(all[j]));
}
END_TEST

START_TEST(test_err_unknown_values)
{
	ck_assert_str_eq(sipas_err_name((sipas_err)9999), "unknown");
	ck_assert_str_eq(sipas_strerror((sipas_err)9999), "Unknown error code.");
	ck_assert_int_eq(sipas_err_from_name("nomem", 5), -1);
	ck_assert_int_eq(sipas_err_from_name("busy ", 5), -1);
	ck_assert_int_eq(sipas_err_from_name("", 0), -1);
}
END_TEST

START_TEST(test_err_diag_truncates)
{
	sipas_diag d;
	char big[SIPAS_DIAG_MAX * 2];

	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sipas_diag_set(&d, "%s", big);
	ck_assert_uint_eq(strlen(d.msg), SIPAS_DIAG_MAX - 1);
	sipas_diag_set(NULL, "%s", "ignored");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("err");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_err_wire_names_match_contract, 0, (int)NWIRE);
	tcase_add_test(tc, test_err_every_code_has_name_and_sentence);
	tcase_add_test(tc, test_err_names_are_unique);
	tcase_add_test(tc, test_err_unknown_values);
	tcase_add_test(tc, test_err_diag_truncates);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
