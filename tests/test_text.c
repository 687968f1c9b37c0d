/* test_text.c - strict UTF-8, the id rule, display width. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_limits.h"
#include "sipas_text.h"
#include "testutil.h"

/* A literal and its byte length (without the terminating NUL). */
#define S(lit) lit, sizeof(lit) - 1

static const struct {
	const char *name;
	const char *bytes;
	size_t len;
	bool valid;
} utf8_cases[] = {
	{"ascii", S("Nam Cuong"), true},
	{"vietnamese", S("Nơi ngồi chờ có đủ chỗ ngồi"), true},
	{"empty", S(""), true},
	{"4-byte", S("\xF0\x9F\x98\x80"), true},
	{"max code point", S("\xF4\x8F\xBF\xBF"), true},
	{"above U+10FFFF", S("\xF4\x90\x80\x80"), false},
	{"overlong slash", S("\xC0\xAF"), false},
	{"overlong 3-byte", S("\xE0\x80\xAF"), false},
	{"overlong 4-byte", S("\xF0\x80\x80\xAF"), false},
	{"surrogate", S("\xED\xA0\x80"), false},
	{"stray continuation", S("a\x80"), false},
	{"truncated 2-byte", S("\xC3"), false},
	{"truncated 3-byte", S("\xE1\xBB"), false},
	{"bad continuation", S("\xE1\x41\x81"), false},
	{"0xFF", S("\xFF"), false},
	{"NUL inside", S("a\0b"), false},
};
#define NUTF8 (sizeof utf8_cases / sizeof utf8_cases[0])

START_TEST(test_text_utf8_table)
{
	ck_assert_msg(sipas_utf8_valid(utf8_cases[_i].bytes, utf8_cases[_i].len) ==
			      utf8_cases[_i].valid,
		      "%s", utf8_cases[_i].name);
}
END_TEST

START_TEST(test_text_vietnamese_length_is_bytes)
{
	/* The table above must hold the byte length, not characters. */
	ck_assert_uint_eq(strlen("Nơi ngồi chờ có đủ chỗ ngồi"), 40);
}
END_TEST

static const struct {
	const char *id;
	bool valid;
} id_cases[] = {
	{"a", true},
	{"bc-SLA-00000042", true},
	{"portal:2024.09_17-x", true},
	{"", false},
	{"has space", false},
	{"slash/no", false},
	{"dấu", false},
	{"0123456789012345678901234567890123456789012345678901234567890123", true},
	{"01234567890123456789012345678901234567890123456789012345678901234", false},
};
#define NID (sizeof id_cases / sizeof id_cases[0])

/* One character's length, or 0 where no strict UTF-8 character starts. */
START_TEST(test_text_utf8_char)
{
	ck_assert_uint_eq(sipas_utf8_char("a", 1), 1);
	ck_assert_uint_eq(sipas_utf8_char("\xE1\xBB\x87x", 4), 3); /* ệ */
	ck_assert_uint_eq(sipas_utf8_char("\xF0\x9F\x98\x80", 4), 4);
	ck_assert_uint_eq(sipas_utf8_char("\xE1\xBB", 2), 0);  /* truncated */
	ck_assert_uint_eq(sipas_utf8_char("\xC0\x80", 2), 0);  /* overlong */
	ck_assert_uint_eq(sipas_utf8_char("\xED\xA0\x80", 3), 0); /* surrogate */
	ck_assert_uint_eq(sipas_utf8_char("\x80", 1), 0);       /* stray */
}
END_TEST

START_TEST(test_text_id_rule)
{
	const char *id = id_cases[_i].id;

	ck_assert_msg(sipas_id_valid(id, strlen(id), SIPAS_ID_MAX) ==
			      id_cases[_i].valid,
		      "'%s'", id);
}
END_TEST

START_TEST(test_text_width)
{
	const char *s = "Sở Nội vụ";           /* precomposed: 9 columns */
	const char *comb = "So\xCC\x9B\xCC\x89"; /* o + horn + hook: 2 columns */

	ck_assert_uint_eq(sipas_utf8_width(s, strlen(s)), 9);
	ck_assert_uint_eq(sipas_utf8_width(comb, strlen(comb)), 2);
	ck_assert_uint_eq(sipas_utf8_width("\xE4\xB8\xAD", 3), 2); /* CJK */
	ck_assert_uint_eq(sipas_utf8_width("\xFF" "a", 2), 2);     /* invalid */
}
END_TEST

/* Names cut to a display width end with one ellipsis column. */
START_TEST(test_text_fit)
{
	static const struct {
		const char *in;
		size_t maxw;
		const char *out;
	} cases[] = {
	    {"Sở Nội vụ", 9, "Sở Nội vụ"},    /* fits: copied */
	    {"Sở Nội vụ", 8, "Sở Nội \xe2\x80\xa6"}, /* 7 columns + … */
	    {"Sở Nội vụ", 4, "Sở \xe2\x80\xa6"},
	    {"abc", 1, "\xe2\x80\xa6"},
	    {"", 0, ""},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *got = sipas_utf8_fit(cases[i].in, cases[i].maxw);

		ck_assert_str_eq(got, cases[i].out);
		ck_assert_uint_le(sipas_utf8_width(got, strlen(got)),
		                  cases[i].maxw > 0 ? cases[i].maxw : 0);
		free(got);
	}
}
END_TEST

START_TEST(test_text_boundary_and_clip)
{
	const char *s = "Sở";  /* 'S', then U+1EDF as 3 bytes */
	char buf[16];

	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 10), 4);  /* fits */
	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 4), 4);
	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 3), 1);   /* not mid-char */
	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 2), 1);
	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 1), 1);
	ck_assert_uint_eq(sipas_utf8_boundary(s, 4, 0), 0);

	/* snprintf cut "Sở" after 3 bytes: the half character goes. */
	memcpy(buf, s, 3);
	buf[3] = '\0';
	sipas_utf8_clip(buf);
	ck_assert_str_eq(buf, "S");
	/* Whole characters stay. */
	snprintf(buf, sizeof buf, "%s", "Sở Nội");
	sipas_utf8_clip(buf);
	ck_assert_str_eq(buf, "Sở Nội");
	buf[0] = '\0';
	sipas_utf8_clip(buf);
	ck_assert_str_eq(buf, "");
	/* A cut 4-byte character. */
	snprintf(buf, sizeof buf, "a\xF0\x9F\x98");
	sipas_utf8_clip(buf);
	ck_assert_str_eq(buf, "a");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("text");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_text_utf8_table, 0, (int)NUTF8);
	tcase_add_test(tc, test_text_vietnamese_length_is_bytes);
	tcase_add_loop_test(tc, test_text_id_rule, 0, (int)NID);
	tcase_add_test(tc, test_text_width);
	tcase_add_test(tc, test_text_utf8_char);
	tcase_add_test(tc, test_text_boundary_and_clip);
	tcase_add_test(tc, test_text_fit);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
