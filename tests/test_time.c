/* test_time.c - dates, offsets and ISO-8601 without time zones. */
#include <string.h>

#include "sipas_time.h"
#include "testutil.h"

START_TEST(test_time_offsets)
{
	static const struct {
		const char *s;
		sipas_err rv;
		int32_t secs;
	} t[] = {
		{"+07:00", SIPAS_OK, 25200},  {"-03:30", SIPAS_OK, -12600},
		{"+00:00", SIPAS_OK, 0},      {"+14:00", SIPAS_OK, 50400},
		{"-12:00", SIPAS_OK, -43200}, {"+14:01", SIPAS_E_BAD_VALUE, 0},
		{"-12:30", SIPAS_E_BAD_VALUE, 0}, {"07:00", SIPAS_E_BAD_VALUE, 0},
		{"+7:00", SIPAS_E_BAD_VALUE, 0},  {"+07:60", SIPAS_E_BAD_VALUE, 0},
		{"+0700", SIPAS_E_BAD_VALUE, 0},  {"", SIPAS_E_BAD_VALUE, 0},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int32_t secs = -1;

		ck_assert_err(sipas_time_parse_offset(t[i].s, strlen(t[i].s), &secs),
			      t[i].rv);
		if (t[i].rv == SIPAS_OK)
			ck_assert_int_eq(secs, t[i].secs);
	}
}
END_TEST

START_TEST(test_time_dates)
{
	static const struct {
		const char *s;
		sipas_err rv;
		int64_t days;
	} t[] = {
		{"1970-01-01", SIPAS_OK, 0},
		{"2023-09-01", SIPAS_OK, 19601},
		{"2024-02-29", SIPAS_OK, 19782},
		{"2024-09-30", SIPAS_OK, 19996},
		{"2023-02-29", SIPAS_E_BAD_VALUE, 0},
		{"1900-02-29", SIPAS_E_BAD_VALUE, 0},
		{"2000-02-29", SIPAS_OK, 11016},
		{"2024-13-01", SIPAS_E_BAD_VALUE, 0},
		{"2024-04-31", SIPAS_E_BAD_VALUE, 0},
		{"2024-00-10", SIPAS_E_BAD_VALUE, 0},
		{"1969-12-31", SIPAS_E_BAD_VALUE, 0},
		{"2024-9-30", SIPAS_E_BAD_VALUE, 0},
		{"2024/09/30", SIPAS_E_BAD_VALUE, 0},
		{"2024-09-30T", SIPAS_E_BAD_VALUE, 0},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int64_t days = -1;

		ck_assert_err(sipas_time_parse_date(t[i].s, strlen(t[i].s), &days),
			      t[i].rv);
		if (t[i].rv == SIPAS_OK)
			ck_assert_int_eq(days, t[i].days);
	}
}
END_TEST

START_TEST(test_time_iso8601)
{
	static const struct {
		const char *s;
		sipas_err rv;
		int64_t secs;
	} t[] = {
		/* 2023-09-01 00:00 at +07:00 is 2023-08-31 17:00 UTC. */
		{"2023-09-01", SIPAS_OK, 1693501200},
		{"2023-09-01T00:00", SIPAS_OK, 1693501200},
		{"2023-09-01T00:00:00Z", SIPAS_OK, 1693526400},
		{"2023-09-01 08:30:15+07:00", SIPAS_OK, 1693531815},
		{"2023-09-01T08:30:15.999-01:00", SIPAS_OK, 1693560615},
		{"2023-09-01T24:00", SIPAS_E_BAD_VALUE, 0},
		{"2023-09-01T08", SIPAS_E_BAD_VALUE, 0},
		{"2023-09-01T08:30:15.", SIPAS_E_BAD_VALUE, 0},
		{"2023-09-01T08:30:15+7", SIPAS_E_BAD_VALUE, 0},
		{"2023-09-01x", SIPAS_E_BAD_VALUE, 0},
		{"yesterday", SIPAS_E_BAD_VALUE, 0},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		int64_t secs = -1;

		ck_assert_msg(sipas_time_parse_iso8601(t[i].s, strlen(t[i].s),
						       25200, &secs) == t[i].rv,
			      "%s", t[i].s);
		if (t[i].rv == SIPAS_OK)
			ck_assert_msg(secs == t[i].secs, "%s: %lld", t[i].s,
				      (long long)secs);
	}
}
END_TEST

START_TEST(test_time_format_utc)
{
	char out[21];

	sipas_time_format_utc(0, out);
	ck_assert_str_eq(out, "1970-01-01T00:00:00Z");
	sipas_time_format_utc(1727715599, out);
	ck_assert_str_eq(out, "2024-09-30T16:59:59Z");
	sipas_time_format_utc(951782400, out); /* leap day 2000 */
	ck_assert_str_eq(out, "2000-02-29T00:00:00Z");
	sipas_time_format_utc(-1, out);
	ck_assert_str_eq(out, "1969-12-31T23:59:59Z");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("time");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_time_offsets);
	tcase_add_test(tc, test_time_dates);
	tcase_add_test(tc, test_time_iso8601);
	tcase_add_test(tc, test_time_format_utc);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
