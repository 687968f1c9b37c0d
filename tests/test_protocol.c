/*
 * test_protocol.c - the wire codec against interfaces.md section 2: every
 * row of the edge-case table, every code the codec produces, acks and
 * round trips. Most tests are tables of (frame, expected code, field, id).
 */
#include "sipas_protocol.h"

#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

/* A byte string with its length (literals may hold NUL bytes). */
struct raw {
	const char *p;
	size_t n;
};
#define RAW(s)                                                                 \
	{                                                                      \
		s, sizeof(s) - 1                                               \
	}
#define DROP                                                                   \
	{                                                                      \
		NULL, 0                                                        \
	}

/* One change to the valid base response: set key's value (appending the
 * key when it is not there yet), or drop the key when val.p is NULL. */
struct edit {
	const char *key;
	struct raw val;
};

#define MAX_PAIRS 16

/* A valid response in the contract's order, as raw msgpack values. */
static const struct edit base[] = {
    {"v", RAW("\x01")},
    {"id", RAW("\xa3"
               "R-1")},
    {"campaign", RAW("\xa7"
                     "SL-2024")},
    {"unit", RAW("\xa3"
                 "SNV")},
    {"form", RAW("\xa6"
                 "direct")},
    {"channel", RAW("\xa6"
                    "postal")},
    {"ts", RAW("\xce\x65\x53\xf1\x00")}, /* 1700000000 */
    {"items", RAW("\x82\xa2"
                  "A1"
                  "\x04\xa6"
                  "expect"
                  "\x92\x01\x04")},
};

static sipas_request *req;
static sipas_response *resp;

static void setup(void)
{
	req = calloc(1, sizeof *req);
	resp = calloc(1, sizeof *resp);
	ck_assert_ptr_nonnull(req);
	ck_assert_ptr_nonnull(resp);
}

static void teardown(void)
{
	free(req);
	free(resp);
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

/* The base response with edits applied, appended to sb. */
static void build(msgpack_sbuffer *sb, const struct edit *edits, size_t n)
{
	struct edit pairs[MAX_PAIRS];
	size_t npairs = sizeof base / sizeof base[0], j, kept = 0;
	msgpack_packer pk;

	memcpy(pairs, base, sizeof base);
	for (size_t i = 0; i < n && edits[i].key != NULL; i++) {
		for (j = 0; j < npairs; j++)
			if (strcmp(pairs[j].key, edits[i].key) == 0)
				break;
		ck_assert_uint_lt(j, MAX_PAIRS);
		pairs[j] = edits[i];
		npairs += j == npairs;
	}
	for (j = 0; j < npairs; j++)
		kept += pairs[j].val.p != NULL;
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, kept);
	for (j = 0; j < npairs; j++) {
		if (pairs[j].val.p == NULL)
			continue;
		pack_str(&pk, pairs[j].key);
		msgpack_sbuffer_write(sb, pairs[j].val.p, pairs[j].val.n);
	}
}

/* Split the frame, decode element `elem`, and check the answer. */
static void expect(const char *name, const void *frame, size_t len, size_t elem,
                   sipas_err code, const char *field, const char *id)
{
	sipas_fault f;
	sipas_err rv;
	size_t dl;

	memset(&f, 0, sizeof f);
	snprintf(f.id, sizeof f.id, "stale");
	rv = sipas_request_split(frame, len, req, &f);
	if (rv == SIPAS_OK) {
		ck_assert_msg(elem < req->count, "%s: %u elements", name,
		              req->count);
		snprintf(f.id, sizeof f.id, "stale");
		rv = sipas_response_decode(req->elem[elem].ptr,
		                           req->elem[elem].len, resp, &f);
	}
	ck_assert_msg(rv == code, "%s: got %s (%s: %s), want %s", name,
	              sipas_err_name(rv), f.field, f.detail,
	              sipas_err_name(code));
	if (code == SIPAS_OK) {
		ck_assert_str_eq(resp->id, id);
		return;
	}
	ck_assert_msg(f.code == code, "%s: fault code %s", name,
	              sipas_err_name(f.code));
	ck_assert_msg(strcmp(f.field, field) == 0, "%s: field '%s', want '%s'",
	              name, f.field, field);
	ck_assert_msg(strcmp(f.id, id) == 0, "%s: id '%s', want '%s'", name,
	              f.id, id);
	dl = strlen(f.detail);
	ck_assert_msg(dl > 1 && f.detail[dl - 1] == '.',
	              "%s: detail '%s' is not a sentence", name, f.detail);
}

/* ---- edits of one valid response ---- */

#define U64MAX "\xcf\xff\xff\xff\xff\xff\xff\xff\xff"
#define F64ONE "\xcb\x3f\xf0\x00\x00\x00\x00\x00\x00"
#define F32ONE "\xca\x3f\x80\x00\x00"

/* clang-format off */
static const struct edit_case {
	const char *name;
	struct edit e[3];
	sipas_err code;
	const char *field;
	const char *id;
} edit_cases[] = {
	{"valid", {{NULL, DROP}}, SIPAS_OK, "", "R-1"},
	/* missing_field, one per required key */
	{"no v", {{"v", DROP}}, SIPAS_E_MISSING_FIELD, "v", "R-1"},
	{"no id", {{"id", DROP}}, SIPAS_E_MISSING_FIELD, "id", ""},
	{"no campaign", {{"campaign", DROP}}, SIPAS_E_MISSING_FIELD, "campaign", "R-1"},
	{"no unit", {{"unit", DROP}}, SIPAS_E_MISSING_FIELD, "unit", "R-1"},
	{"no form", {{"form", DROP}}, SIPAS_E_MISSING_FIELD, "form", "R-1"},
	{"no channel", {{"channel", DROP}}, SIPAS_E_MISSING_FIELD, "channel", "R-1"},
	{"no ts", {{"ts", DROP}}, SIPAS_E_MISSING_FIELD, "ts", "R-1"},
	{"no items", {{"items", DROP}}, SIPAS_E_MISSING_FIELD, "items", "R-1"},
	{"missing in fixed order", {{"items", DROP}, {"unit", DROP}},
	 SIPAS_E_MISSING_FIELD, "unit", "R-1"},
	/* v */
	{"v 1.0", {{"v", RAW(F64ONE)}}, SIPAS_E_BAD_TYPE, "v", "R-1"},
	{"v \"1\"", {{"v", RAW("\xa1" "1")}}, SIPAS_E_BAD_TYPE, "v", "R-1"},
	{"v 2", {{"v", RAW("\x02")}}, SIPAS_E_BAD_VALUE, "v", "R-1"},
	{"v 0", {{"v", RAW("\x00")}}, SIPAS_E_BAD_VALUE, "v", "R-1"},
	{"v -1", {{"v", RAW("\xff")}}, SIPAS_E_BAD_VALUE, "v", "R-1"},
	{"v 2^64-1", {{"v", RAW(U64MAX)}}, SIPAS_E_BAD_VALUE, "v", "R-1"},
	{"v as uint16 1", {{"v", RAW("\xcd\x00\x01")}}, SIPAS_OK, "", "R-1"},
	/* id */
	{"id 64 chars", {{"id", RAW("\xd9\x40" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")}},
	 SIPAS_OK, "", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
	{"id 65 chars", {{"id", RAW("\xd9\x41" "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
				    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")}},
	 SIPAS_E_BAD_VALUE, "id", ""},
	{"id with space", {{"id", RAW("\xa3" "R 1")}}, SIPAS_E_BAD_VALUE, "id", ""},
	{"id empty", {{"id", RAW("\xa0")}}, SIPAS_E_BAD_VALUE, "id", ""},
	{"id accented", {{"id", RAW("\xa3" "R\xc3\xa9")}}, SIPAS_E_BAD_VALUE, "id", ""},
	{"id all charset", {{"id", RAW("\xa9" "aZ09._:-x")}}, SIPAS_OK, "", "aZ09._:-x"},
	{"id bad utf8", {{"id", RAW("\xa2" "\xc3\x28")}}, SIPAS_E_BAD_UTF8, "id", ""},
	{"id int", {{"id", RAW("\x05")}}, SIPAS_E_BAD_TYPE, "id", ""},
	{"id nil", {{"id", RAW("\xc0")}}, SIPAS_E_BAD_TYPE, "id", ""},
	{"id bin", {{"id", RAW("\xc4\x01" "R")}}, SIPAS_E_BAD_TYPE, "id", ""},
	{"id checked first", {{"unit", RAW("\x01")}, {"id", RAW("\xa1" " ")}},
	 SIPAS_E_BAD_VALUE, "id", ""},
	{"id last, unit bad", {{"id", DROP}, {"unit", RAW("\xc3")}, {"id", RAW("\xa3" "R-9")}},
	 SIPAS_E_BAD_TYPE, "unit", "R-9"},
	{"id echoed, later key bad", {{"zzz", RAW("\x01")}}, SIPAS_E_UNKNOWN_FIELD, "zzz", "R-1"},
	/* type confusion for strings */
	{"campaign nil", {{"campaign", RAW("\xc0")}}, SIPAS_E_BAD_TYPE, "campaign", "R-1"},
	{"campaign int", {{"campaign", RAW("\x07")}}, SIPAS_E_BAD_TYPE, "campaign", "R-1"},
	{"unit nested map", {{"unit", RAW("\x81\xa1" "a" "\xa1" "b")}}, SIPAS_E_BAD_TYPE, "unit", "R-1"},
	{"unit array", {{"unit", RAW("\x91\xa3" "SNV")}}, SIPAS_E_BAD_TYPE, "unit", "R-1"},
	{"unit bool", {{"unit", RAW("\xc2")}}, SIPAS_E_BAD_TYPE, "unit", "R-1"},
	{"unit bin", {{"unit", RAW("\xc4\x03" "SNV")}}, SIPAS_E_BAD_TYPE, "unit", "R-1"},
	{"unit float", {{"unit", RAW(F32ONE)}}, SIPAS_E_BAD_TYPE, "unit", "R-1"},
	{"form ext", {{"form", RAW("\xd4\x01\x00")}}, SIPAS_E_BAD_TYPE, "form", "R-1"},
	{"channel int", {{"channel", RAW("\x01")}}, SIPAS_E_BAD_TYPE, "channel", "R-1"},
	/* bad UTF-8 */
	{"unit overlong", {{"unit", RAW("\xa2" "\xc0\xaf")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit overlong 3", {{"unit", RAW("\xa3" "\xe0\x80\xaf")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit surrogate", {{"unit", RAW("\xa3" "\xed\xa0\x80")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit truncated", {{"unit", RAW("\xa3" "a\xe1\xbb")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit lone continuation", {{"unit", RAW("\xa1" "\x80")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit above U+10FFFF", {{"unit", RAW("\xa4" "\xf4\x90\x80\x80")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit NUL", {{"unit", RAW("\xa3" "S\x00V")}}, SIPAS_E_BAD_UTF8, "unit", "R-1"},
	{"unit Vietnamese", {{"unit", RAW("\xa7" "S\xe1\xbb\x9f" "-NV")}}, SIPAS_OK, "", "R-1"},
	{"comment bad utf8", {{"comment", RAW("\xa2" "\xff\xfe")}}, SIPAS_E_BAD_UTF8, "comment", "R-1"},
	{"comment nil", {{"comment", RAW("\xc0")}}, SIPAS_E_BAD_TYPE, "comment", "R-1"},
	/* channel */
	{"channel email", {{"channel", RAW("\xa5" "email")}}, SIPAS_E_BAD_VALUE, "channel", "R-1"},
	{"channel Portal", {{"channel", RAW("\xa6" "Portal")}}, SIPAS_E_BAD_VALUE, "channel", "R-1"},
	{"channel interview", {{"channel", RAW("\xa9" "interview")}}, SIPAS_OK, "", "R-1"},
	/* ts */
	{"ts 1.0", {{"ts", RAW(F64ONE)}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts float32", {{"ts", RAW(F32ONE)}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts bool", {{"ts", RAW("\xc3")}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts nil", {{"ts", RAW("\xc0")}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts string", {{"ts", RAW("\xa2" "17")}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts bin", {{"ts", RAW("\xc4\x01\x01")}}, SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"ts 2^64-1", {{"ts", RAW(U64MAX)}}, SIPAS_E_OUT_OF_RANGE, "ts", "R-1"},
	{"ts 2^63", {{"ts", RAW("\xcf\x80\x00\x00\x00\x00\x00\x00\x00")}},
	 SIPAS_E_OUT_OF_RANGE, "ts", "R-1"},
	{"ts 2^63-1", {{"ts", RAW("\xcf\x7f\xff\xff\xff\xff\xff\xff\xff")}}, SIPAS_OK, "", "R-1"},
	{"ts -1", {{"ts", RAW("\xff")}}, SIPAS_OK, "", "R-1"},
	{"ts int64 min", {{"ts", RAW("\xd3\x80\x00\x00\x00\x00\x00\x00\x00")}}, SIPAS_OK, "", "R-1"},
	/* items */
	{"items array", {{"items", RAW("\x91\x04")}}, SIPAS_E_BAD_TYPE, "items", "R-1"},
	{"items string", {{"items", RAW("\xa2" "A1")}}, SIPAS_E_BAD_TYPE, "items", "R-1"},
	{"items empty", {{"items", RAW("\x80")}}, SIPAS_OK, "", "R-1"},
	{"item 1.0", {{"items", RAW("\x81\xa2" "A1" F64ONE)}}, SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item str", {{"items", RAW("\x81\xa2" "A1" "\xa1" "4")}}, SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item nil", {{"items", RAW("\x81\xa2" "A1" "\xc0")}}, SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item map", {{"items", RAW("\x81\xa2" "A1" "\x80")}}, SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item code float", {{"items", RAW("\x81\xa2" "A1" "\x92\x01" F64ONE)}},
	 SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item code array", {{"items", RAW("\x81\xa2" "A1" "\x92\x01\x91\x02")}},
	 SIPAS_E_BAD_TYPE, "items.A1", "R-1"},
	{"item 2^64-1", {{"items", RAW("\x81\xa2" "A1" U64MAX)}}, SIPAS_E_OUT_OF_RANGE, "items.A1", "R-1"},
	{"item code 2^64-1", {{"items", RAW("\x81\xa2" "A1" "\x91" U64MAX)}},
	 SIPAS_E_OUT_OF_RANGE, "items.A1", "R-1"},
	{"item negative", {{"items", RAW("\x81\xa2" "A1" "\xfb")}}, SIPAS_OK, "", "R-1"},
	{"item key int", {{"items", RAW("\x81\x01\x04")}}, SIPAS_E_BAD_TYPE, "items", "R-1"},
	{"item key bad utf8", {{"items", RAW("\x81\xa1\xc1\x04")}}, SIPAS_E_BAD_UTF8, "items", "R-1"},
	{"item wire order", {{"items", RAW("\x82\xa2" "B2" "\xc3\xa2" "A1" "\xc0")}},
	 SIPAS_E_BAD_TYPE, "items.B2", "R-1"},
	{"item repeated", {{"items", RAW("\x82\xa2" "A1" "\x01\xa2" "A1" "\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"item repeated, str8", {{"items", RAW("\x83\xa2" "A1" "\x01\xa2" "A2" "\x01"
					      "\xd9\x02" "A1" "\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"item repeated, str16 and str8", {{"items", RAW("\x82\xda\x00\x02" "A1" "\x01"
						 "\xd9\x02" "A1" "\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"item repeated, empty ids", {{"items", RAW("\x82\xa0\x01\xa0\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"keys differ after NUL", {{"x", RAW("\x82\xa3" "A\x00" "1" "\x01\xa3" "A\x00" "2" "\x01")}},
	 SIPAS_E_UNKNOWN_FIELD, "x", "R-1"},
	{"items repeat with NUL", {{"items", RAW("\x82\xa3" "A\x00" "1" "\x01\xa3" "A\x00" "1"
					  "\x01")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"item id, prefix of another", {{"items", RAW("\x82\xa2" "A1" "\x01\xa3" "A1 " "\x02")}},
	 SIPAS_OK, "", "R-1"},
	/* respondent and entry */
	{"respondent array", {{"respondent", RAW("\x90")}}, SIPAS_E_BAD_TYPE, "respondent", "R-1"},
	{"respondent unknown key", {{"respondent", RAW("\x81\xa1x\x01")}},
	 SIPAS_E_UNKNOWN_FIELD, "respondent.x", "R-1"},
	{"respondent.age str", {{"respondent", RAW("\x81\xa3" "age" "\xa2" "30")}},
	 SIPAS_E_BAD_TYPE, "respondent.age", "R-1"},
	{"respondent.age 30.0", {{"respondent", RAW("\x81\xa3" "age" F64ONE)}},
	 SIPAS_E_BAD_TYPE, "respondent.age", "R-1"},
	{"respondent.age 2^64-1", {{"respondent", RAW("\x81\xa3" "age" U64MAX)}},
	 SIPAS_E_OUT_OF_RANGE, "respondent.age", "R-1"},
	{"respondent.kind robot", {{"respondent", RAW("\x81\xa4" "kind" "\xa5" "robot")}},
	 SIPAS_E_BAD_VALUE, "respondent.kind", "R-1"},
	{"respondent.kind int", {{"respondent", RAW("\x81\xa4" "kind" "\x01")}},
	 SIPAS_E_BAD_TYPE, "respondent.kind", "R-1"},
	{"respondent.gender bad utf8", {{"respondent", RAW("\x81\xa6" "gender" "\xa1\xe0")}},
	 SIPAS_E_BAD_UTF8, "respondent.gender", "R-1"},
	{"respondent key int", {{"respondent", RAW("\x81\x01\x01")}},
	 SIPAS_E_BAD_TYPE, "respondent", "R-1"},
	{"respondent empty", {{"respondent", RAW("\x80")}}, SIPAS_OK, "", "R-1"},
	{"respondent repeated key", {{"respondent", RAW("\x82\xa3" "age" "\x01\xa3" "age" "\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"respondent repeated key, str8", {{"respondent", RAW("\x83\xa4" "kind" "\xa3" "org"
							       "\xa3" "age" "\x01"
							       "\xd9\x04" "kind" "\xa3" "org")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"respondent repeated bad key", {{"respondent", RAW("\x82\xa1x\x01\xa1x\x01")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"entry repeated key", {{"entry", RAW("\x82\xa5" "clerk" "\xa1" "a" "\xa5" "clerk" "\xa1" "b")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"entry array", {{"entry", RAW("\x91\x01")}}, SIPAS_E_BAD_TYPE, "entry", "R-1"},
	{"entry.serial int", {{"entry", RAW("\x81\xa6" "serial" "\x05")}},
	 SIPAS_E_BAD_TYPE, "entry.serial", "R-1"},
	{"entry unknown key", {{"entry", RAW("\x82\xa5" "clerk" "\xa1" "c" "\xa3" "foo" "\x01")}},
	 SIPAS_E_UNKNOWN_FIELD, "entry.foo", "R-1"},
	/* unknown keys and the order of checks */
	{"unknown top key", {{"colour", RAW("\xa3" "red")}}, SIPAS_E_UNKNOWN_FIELD, "colour", "R-1"},
	{"unknown key, case", {{"Unit", RAW("\xa3" "SNV")}}, SIPAS_E_UNKNOWN_FIELD, "Unit", "R-1"},
	/* a key is a name only when all of it is: not a prefix, not longer */
	{"unknown key, prefix", {{"i", RAW("\x01")}}, SIPAS_E_UNKNOWN_FIELD, "i", "R-1"},
	{"unknown key, longer", {{"idx", RAW("\x01")}}, SIPAS_E_UNKNOWN_FIELD, "idx", "R-1"},
	{"respondent key, prefix", {{"respondent", RAW("\x81\xa2" "ag" "\x01")}},
	 SIPAS_E_UNKNOWN_FIELD, "respondent.ag", "R-1"},
	{"channel, prefix", {{"channel", RAW("\xa4" "port")}}, SIPAS_E_BAD_VALUE, "channel", "R-1"},
	{"respondent.kind, longer", {{"respondent", RAW("\x81\xa4" "kind" "\xa4" "orgs")}},
	 SIPAS_E_BAD_VALUE, "respondent.kind", "R-1"},
	{"wire order before missing", {{"unit", DROP}, {"ts", RAW("\xc0")}},
	 SIPAS_E_BAD_TYPE, "ts", "R-1"},
	{"unknown before missing", {{"form", DROP}, {"extra", RAW("\x01")}},
	 SIPAS_E_UNKNOWN_FIELD, "extra", "R-1"},
	{"repeated key nested in unknown", {{"x", RAW("\x82\xa1" "a" "\x01\xa1" "a" "\x01")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"repeated key, int keys", {{"x", RAW("\x82\x01\x01\x01\x02")}}, SIPAS_E_MALFORMED, "", ""},
	{"repeated key, array keys", {{"x", RAW("\x82\x91\x01\x01\x91\x01\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"distinct int and str keys", {{"x", RAW("\x82\x01\x01\xa1" "1" "\x02")}},
	 SIPAS_E_UNKNOWN_FIELD, "x", "R-1"},
	/* a map whose keys are not all strings is sorted instead: a repeat is
	 * found however the kinds of keys mix */
	{"repeated str key after an int key", {{"x", RAW("\x83\xa1" "a" "\x01\x01\x01\xa1" "a" "\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"repeated int key after a str key", {{"x", RAW("\x83\xa1" "a" "\x01\x07\x01\x07\x02")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"str and bin keys of the same bytes", {{"x", RAW("\x82\xa1" "a" "\x01\xc4\x01" "a" "\x02")}},
	 SIPAS_E_UNKNOWN_FIELD, "x", "R-1"},
	{"repeated key in a map in an array", {{"x", RAW("\x92\x80\x82\xa1" "a" "\x01\xd9\x01" "a" "\x01")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"repeated key in a map key", {{"x", RAW("\x81\x82\xa1" "a" "\x01\xa1" "a" "\x01\x01")}},
	 SIPAS_E_MALFORMED, "", ""},
	{"depth 8", {{"x", RAW("\x91\x91\x91\x91\x91\x91\x90")}}, SIPAS_E_UNKNOWN_FIELD, "x", "R-1"},
	{"depth 9", {{"x", RAW("\x91\x91\x91\x91\x91\x91\x91\x90")}}, SIPAS_E_MALFORMED, "", ""},
};/* clang-format on */

START_TEST(test_protocol_edit_table)
{
	const struct edit_case *c = &edit_cases[_i];
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	build(&sb, c->e, 3);
	expect(c->name, sb.data, sb.size, 0, c->code, c->field, c->id);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- whole frames, as literal bytes ---- */

/* clang-format off */
static const struct frame_case {
	const char *name;
	struct raw frame;
	size_t elem;
	sipas_err code;
	const char *field;
	const char *id;
} frame_cases[] = {
	{"empty frame", RAW(""), 0, SIPAS_E_MALFORMED, "", ""},
	{"int frame", RAW("\x01"), 0, SIPAS_E_MALFORMED, "", ""},
	{"str frame", RAW("\xa1x"), 0, SIPAS_E_MALFORMED, "", ""},
	{"nil frame", RAW("\xc0"), 0, SIPAS_E_MALFORMED, "", ""},
	{"never-used byte", RAW("\xc1"), 0, SIPAS_E_MALFORMED, "", ""},
	{"truncated map", RAW("\x82\xa1v\x01"), 0, SIPAS_E_MALFORMED, "", ""},
	{"truncated str", RAW("\x81\xa1v\xa5" "ab"), 0, SIPAS_E_MALFORMED, "", ""},
	{"truncated map16 header", RAW("\xde\x00"), 0, SIPAS_E_MALFORMED, "", ""},
	{"map32 bomb", RAW("\xdf\xff\xff\xff\xff"), 0, SIPAS_E_MALFORMED, "", ""},
	{"nested array bomb", RAW("\x81\xa1x\xdd\xff\xff\xff\xff"), 0, SIPAS_E_MALFORMED, "", ""},
	{"str32 bomb", RAW("\x81\xa1x\xdb\xff\xff\xff\xff"), 0, SIPAS_E_MALFORMED, "", ""},
	{"array of 2^32-1 (6 bytes)", RAW("\xdd\xff\xff\xff\xff\x80"), 0, SIPAS_E_TOO_LARGE, "", ""},
	{"array of 2 holding 1", RAW("\xdd\x00\x00\x00\x02\x80"), 0, SIPAS_E_MALFORMED, "", ""},
	{"array trailing byte", RAW("\x91\x80\x00"), 0, SIPAS_E_MALFORMED, "", ""},
	{"empty map", RAW("\x80"), 0, SIPAS_E_MISSING_FIELD, "v", ""},
	{"map then trailing byte", RAW("\x80\x00"), 0, SIPAS_E_MALFORMED, "", ""},
	{"repeated top key", RAW("\x82\xa1v\x01\xa1v\x01"), 0, SIPAS_E_MALFORMED, "", ""},
	{"repeated top key, str8", RAW("\x82\xa1v\x01\xd9\x01v\x02"), 0, SIPAS_E_MALFORMED, "", ""},
	{"repeated id", RAW("\x82\xa2id\xa1" "a\xa2id\xa1" "a"), 0, SIPAS_E_MALFORMED, "", ""},
	{"int key", RAW("\x82\xa2id\xa3R-1\x01\x01"), 0, SIPAS_E_BAD_TYPE, "", "R-1"},
	{"nil key", RAW("\x81\xc0\x01"), 0, SIPAS_E_BAD_TYPE, "", ""},
	{"bad utf8 key", RAW("\x82\xa2id\xa3R-1\xa2\xc0\x80\x01"), 0, SIPAS_E_BAD_UTF8, "", "R-1"},
	{"array element int", RAW("\x91\x05"), 0, SIPAS_E_MALFORMED, "", ""},
	{"array element array", RAW("\x91\x91\x80"), 0, SIPAS_E_MALFORMED, "", ""},
	{"array element nil", RAW("\x92\x80\xc0"), 1, SIPAS_E_MALFORMED, "", ""},
	{"array element repeated key", RAW("\x91\x82\xa1v\x01\xa1v\x01"), 0, SIPAS_E_MALFORMED, "", ""},
	{"array element depth 8", RAW("\x91\x81\xa1x\x91\x91\x91\x91\x91\x91\x90"), 0,
	 SIPAS_E_UNKNOWN_FIELD, "x", ""},
	{"array element depth 9", RAW("\x91\x81\xa1x\x91\x91\x91\x91\x91\x91\x91\x90"), 0,
	 SIPAS_E_MALFORMED, "", ""},
};/* clang-format on */

START_TEST(test_protocol_frame_table)
{
	const struct frame_case *c = &frame_cases[_i];

	expect(c->name, c->frame.p, c->frame.n, c->elem, c->code, c->field,
	       c->id);
}
END_TEST

/* ---- frames too big to write out: built by a function ---- */

static void put(msgpack_sbuffer *sb, const char *p, size_t n)
{
	msgpack_sbuffer_write(sb, p, n);
}

static void put_fill(msgpack_sbuffer *sb, char c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		put(sb, &c, 1);
}

/* The base response with key set to the bytes in val. */
static void build_with(msgpack_sbuffer *sb, const char *key,
                       const msgpack_sbuffer *val)
{
	struct edit e = {key, {val->data, val->size}};

	build(sb, &e, 1);
}

/* One map frame of exactly `total` bytes: the base plus a bin `pad`. */
static void gen_map_size(msgpack_sbuffer *sb, size_t total)
{
	msgpack_sbuffer val, probe;
	size_t pay, start = sb->size;

	msgpack_sbuffer_init(&probe);
	build(&probe, (struct edit[]){{"pad", RAW("\xc5\x00\x00")}}, 1);
	pay = total - probe.size;
	msgpack_sbuffer_destroy(&probe);
	msgpack_sbuffer_init(&val);
	put(&val, "\xc5", 1);
	put(&val, (char[]){(char)(pay >> 8), (char)pay}, 2);
	put_fill(&val, 'p', pay);
	build_with(sb, "pad", &val);
	msgpack_sbuffer_destroy(&val);
	ck_assert_uint_eq(sb->size - start, total);
}

static void gen_array_of(msgpack_sbuffer *sb, size_t n)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n; i++)
		build(sb, NULL, 0);
}

/* An array frame of `total` bytes holding one bin. */
static void gen_array_bytes(msgpack_sbuffer *sb, size_t total)
{
	size_t pay = total - 6;

	put(sb, "\x91\xc6", 2);
	put(sb,
	    (char[]){(char)(pay >> 24), (char)(pay >> 16), (char)(pay >> 8),
	             (char)pay},
	    4);
	put_fill(sb, 'b', pay);
}

/* [map of `n` bytes, base]. */
static void gen_array_big_elem(msgpack_sbuffer *sb, size_t n)
{
	put(sb, "\x92", 1);
	gen_map_size(sb, n);
	build(sb, NULL, 0);
}

/* {"x": [[...]]}: containers nested `depth` deep in all. */
static void gen_deep_map(msgpack_sbuffer *sb, size_t depth)
{
	put(sb, "\x81\xa1x", 3);
	put_fill(sb, '\x91', depth - 2);
	put(sb, "\x90", 1);
}

static void gen_deep_array(msgpack_sbuffer *sb, size_t depth)
{
	put_fill(sb, '\x91', depth - 1);
	put(sb, "\x90", 1);
}

static void gen_trailing(msgpack_sbuffer *sb, size_t n)
{
	build(sb, NULL, 0);
	put_fill(sb, '\0', n);
}

/* A string value of n bytes: Vietnamese when vi (3-byte letters). */
static void str_value(msgpack_sbuffer *val, size_t n, bool vi)
{
	msgpack_packer pk;
	size_t i = 0;

	msgpack_packer_init(&pk, val, msgpack_sbuffer_write);
	msgpack_pack_str(&pk, n);
	for (; vi && i + 3 <= n; i += 3)
		put(val, "\xe1\xbb\x93", 3); /* ồ */
	put_fill(val, 'a', n - i);
}

static void gen_str_field(msgpack_sbuffer *sb, const char *key, size_t n,
                          bool vi)
{
	msgpack_sbuffer val;

	msgpack_sbuffer_init(&val);
	str_value(&val, n, vi);
	build_with(sb, key, &val);
	msgpack_sbuffer_destroy(&val);
}

static void gen_comment(msgpack_sbuffer *sb, size_t n)
{
	gen_str_field(sb, "comment", n, false);
}

static void gen_comment_vi(msgpack_sbuffer *sb, size_t n)
{
	gen_str_field(sb, "comment", n, true);
}

static void gen_unit(msgpack_sbuffer *sb, size_t n)
{
	gen_str_field(sb, "unit", n, false);
}

/* items with `n` answers of `codes` codes each (0: an int answer), keys
 * I0, I1, ...; or one answer whose key is `keylen` bytes. */
static void gen_items_of(msgpack_sbuffer *sb, size_t n, size_t codes,
                         size_t keylen)
{
	msgpack_sbuffer val;
	msgpack_packer pk;
	char key[24];

	msgpack_sbuffer_init(&val);
	msgpack_packer_init(&pk, &val, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i < n; i++) {
		if (keylen > 0) {
			str_value(&val, keylen, false);
		} else {
			snprintf(key, sizeof key, "I%zu", i);
			pack_str(&pk, key);
		}
		if (codes == 0) {
			msgpack_pack_int(&pk, 1);
			continue;
		}
		msgpack_pack_array(&pk, codes);
		for (size_t j = 0; j < codes; j++)
			msgpack_pack_int(&pk, (int)j);
	}
	build_with(sb, "items", &val);
	msgpack_sbuffer_destroy(&val);
}

static void gen_items(msgpack_sbuffer *sb, size_t n)
{
	gen_items_of(sb, n, 0, 0);
}

static void gen_codes(msgpack_sbuffer *sb, size_t n)
{
	gen_items_of(sb, 1, n, 0);
}

static void gen_item_key(msgpack_sbuffer *sb, size_t n)
{
	gen_items_of(sb, 1, 0, n);
}

/* items with n answers, keys I0, I1, ..., whose last key repeats the
 * first, written as str8 (the same key as fixstr "I0"). */
static void gen_items_repeat(msgpack_sbuffer *sb, size_t n)
{
	msgpack_sbuffer val;
	msgpack_packer pk;
	char key[24];

	msgpack_sbuffer_init(&val);
	msgpack_packer_init(&pk, &val, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, n);
	for (size_t i = 0; i + 1 < n; i++) {
		snprintf(key, sizeof key, "I%zu", i);
		pack_str(&pk, key);
		msgpack_pack_int(&pk, 1);
	}
	put(&val, "\xd9\x02I0\x02", 5);
	build_with(sb, "items", &val);
	msgpack_sbuffer_destroy(&val);
}

/* n multi answers of SIPAS_MAX_CODES codes each. */
static void gen_full_lists(msgpack_sbuffer *sb, size_t n)
{
	gen_items_of(sb, n, SIPAS_MAX_CODES, 0);
}

/* clang-format off */
static const struct gen_case {
	const char *name;
	void (*gen)(msgpack_sbuffer *sb, size_t arg);
	size_t arg;
	size_t elem;
	sipas_err code;
	const char *field;
	const char *id;
} gen_cases[] = {
	{"map frame 65,537 bytes", gen_map_size, 65537, 0, SIPAS_E_TOO_LARGE, "", ""},
	{"map frame 65,536 bytes", gen_map_size, 65536, 0, SIPAS_E_UNKNOWN_FIELD, "pad", "R-1"},
	{"array of 1,001", gen_array_of, 1001, 0, SIPAS_E_TOO_LARGE, "", ""},
	{"array of 1,000", gen_array_of, 1000, 999, SIPAS_OK, "", "R-1"},
	{"array frame 1 MiB + 1", gen_array_bytes, 1048577, 0, SIPAS_E_TOO_LARGE, "", ""},
	{"array frame 1 MiB, element too large", gen_array_bytes, 1048576, 0,
	 SIPAS_E_TOO_LARGE, "", ""},
	{"element of 65,537 bytes", gen_array_big_elem, 65537, 0, SIPAS_E_TOO_LARGE, "", ""},
	{"element of 65,537 bytes, next ok", gen_array_big_elem, 65537, 1, SIPAS_OK, "", "R-1"},
	{"element of 65,536 bytes", gen_array_big_elem, 65536, 0, SIPAS_E_UNKNOWN_FIELD, "pad", "R-1"},
	{"map nested 100 deep", gen_deep_map, 100, 0, SIPAS_E_MALFORMED, "", ""},
	{"map nested 9 deep", gen_deep_map, 9, 0, SIPAS_E_MALFORMED, "", ""},
	{"map nested 8 deep", gen_deep_map, 8, 0, SIPAS_E_UNKNOWN_FIELD, "x", ""},
	{"array nested 100 deep", gen_deep_array, 100, 0, SIPAS_E_MALFORMED, "", ""},
	{"trailing byte", gen_trailing, 1, 0, SIPAS_E_MALFORMED, "", ""},
	{"comment 2,001 bytes", gen_comment, 2001, 0, SIPAS_E_TOO_LARGE, "comment", "R-1"},
	{"comment 2,000 bytes", gen_comment, 2000, 0, SIPAS_OK, "", "R-1"},
	{"comment 2,001 bytes vi", gen_comment_vi, 2001, 0, SIPAS_E_TOO_LARGE, "comment", "R-1"},
	{"comment 2,000 bytes vi", gen_comment_vi, 2000, 0, SIPAS_OK, "", "R-1"},
	{"unit 257 bytes", gen_unit, SIPAS_MAX_TEXT + 1, 0, SIPAS_E_TOO_LARGE, "unit", "R-1"},
	{"unit 256 bytes", gen_unit, SIPAS_MAX_TEXT, 0, SIPAS_OK, "", "R-1"},
	{"513 answers", gen_items, SIPAS_MAX_ANSWERS + 1, 0, SIPAS_E_TOO_LARGE, "items", "R-1"},
	{"512 answers", gen_items, SIPAS_MAX_ANSWERS, 0, SIPAS_OK, "", "R-1"},
	/* maps of up to 64 str keys use a hash set, larger ones are sorted */
	{"64 answers", gen_items, 64, 0, SIPAS_OK, "", "R-1"},
	{"65 answers", gen_items, 65, 0, SIPAS_OK, "", "R-1"},
	{"2 answers, repeated", gen_items_repeat, 2, 0, SIPAS_E_MALFORMED, "", ""},
	{"33 answers, repeated", gen_items_repeat, 33, 0, SIPAS_E_MALFORMED, "", ""},
	{"64 answers, repeated", gen_items_repeat, 64, 0, SIPAS_E_MALFORMED, "", ""},
	{"65 answers, repeated", gen_items_repeat, 65, 0, SIPAS_E_MALFORMED, "", ""},
	{"512 answers, repeated", gen_items_repeat, SIPAS_MAX_ANSWERS, 0,
	 SIPAS_E_MALFORMED, "", ""},
	{"65 codes", gen_codes, SIPAS_MAX_CODES + 1, 0, SIPAS_E_TOO_LARGE, "items.I0", "R-1"},
	{"64 codes", gen_codes, SIPAS_MAX_CODES, 0, SIPAS_OK, "", "R-1"},
	{"item id 257 bytes", gen_item_key, SIPAS_MAX_TEXT + 1, 0, SIPAS_E_TOO_LARGE, "items", "R-1"},
	{"32 full lists", gen_full_lists, 32, 0, SIPAS_OK, "", "R-1"},
	{"33 full lists", gen_full_lists, 33, 0, SIPAS_E_TOO_LARGE, "items", "R-1"},
};/* clang-format on */

START_TEST(test_protocol_generated_table)
{
	const struct gen_case *c = &gen_cases[_i];
	msgpack_sbuffer sb;

	msgpack_sbuffer_init(&sb);
	c->gen(&sb, c->arg);
	expect(c->name, sb.data, sb.size, c->elem, c->code, c->field, c->id);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* Where the object starting with byte b ends, by msgpack-c, in buf[1..]
 * (buf[0] is an array header); 0 when msgpack-c refuses it. */
static size_t msgpack_end(const char *buf, size_t len)
{
	msgpack_unpack_return ret;
	msgpack_zone zone;
	msgpack_object obj;
	size_t off = 0;

	ck_assert(msgpack_zone_init(&zone, 4096));
	ret = msgpack_unpack(buf + 1, len - 1, &off, &zone, &obj);
	msgpack_zone_destroy(&zone);
	return ret == MSGPACK_UNPACK_SUCCESS ||
	               ret == MSGPACK_UNPACK_EXTRA_BYTES
	           ? off
	           : 0;
}

/* The skim agrees with msgpack-c on where every kind of object ends: for
 * each first byte, followed by bytes that make lengths and counts 0 (_i 0)
 * or 1 (_i 1), but never a 2^32-element container, which msgpack-c would
 * try to allocate. The object is the element of an array of one. */
START_TEST(test_protocol_skim_matches_msgpack)
{
	enum { LEN = 2101 };
	static char buf[LEN];
	sipas_fault f;
	size_t end;

	for (int b = 0; b < 256; b++) {
		if (_i == 1 && (b == 0xdd || b == 0xdf))
			continue;
		memset(buf, _i, LEN);
		buf[0] = (char)0x91;
		buf[1] = (char)b;
		end = msgpack_end(buf, LEN);
		if (end == 0) {
			ck_assert_msg(sipas_request_split(buf, LEN, req, &f) ==
			                  SIPAS_E_MALFORMED,
			              "byte 0x%02x", b);
			continue;
		}
		ck_assert_msg(sipas_request_split(buf, 1 + end, req, &f) ==
		                      SIPAS_OK &&
		                  req->elem[0].len == end,
		              "byte 0x%02x: length %zu", b, end);
		ck_assert_msg(sipas_request_split(buf, end, req, &f) ==
		                  SIPAS_E_MALFORMED,
		              "byte 0x%02x truncated", b);
		ck_assert_msg(sipas_request_split(buf, 2 + end, req, &f) ==
		                  SIPAS_E_MALFORMED,
		              "byte 0x%02x trailing", b);
	}
}
END_TEST

/* ---- a complete response ---- */

static const char vi_comment[] = "Nơi ngồi chờ có đủ chỗ ngồi";

static void kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	pack_str(pk, k);
	pack_str(pk, v);
}

/* Every key of the contract, canonical msgpack in the contract's order. */
static void pack_full(msgpack_sbuffer *sb)
{
	msgpack_packer pk;

	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 11);
	pack_str(&pk, "v");
	msgpack_pack_int(&pk, 1);
	kv_str(&pk, "id", "PX-2024:0001");
	kv_str(&pk, "campaign", "SL-2024");
	kv_str(&pk, "unit", "SNV");
	kv_str(&pk, "form", "direct");
	kv_str(&pk, "channel", "portal");
	pack_str(&pk, "ts");
	msgpack_pack_int64(&pk, 1700000000);
	pack_str(&pk, "items");
	msgpack_pack_map(&pk, 4);
	pack_str(&pk, "A1");
	msgpack_pack_int(&pk, 4);
	pack_str(&pk, "A2");
	msgpack_pack_int(&pk, 0);
	pack_str(&pk, "expect");
	msgpack_pack_array(&pk, 3);
	msgpack_pack_int(&pk, 1);
	msgpack_pack_int(&pk, 4);
	msgpack_pack_int(&pk, 7);
	pack_str(&pk, "none");
	msgpack_pack_array(&pk, 0);
	pack_str(&pk, "respondent");
	msgpack_pack_map(&pk, 6);
	kv_str(&pk, "kind", "person");
	kv_str(&pk, "gender", "f");
	pack_str(&pk, "age");
	msgpack_pack_int(&pk, 34);
	kv_str(&pk, "edu", "univ");
	kv_str(&pk, "job", "farmer");
	kv_str(&pk, "ethnic", "Thái");
	kv_str(&pk, "comment", vi_comment);
	pack_str(&pk, "entry");
	msgpack_pack_map(&pk, 3);
	kv_str(&pk, "clerk", "c1");
	kv_str(&pk, "batch", "b7");
	kv_str(&pk, "serial", "000123");
}

static void check_full(const sipas_response *r)
{
	const sipas_answer *a;

	ck_assert_int_eq(r->v, 1);
	ck_assert_str_eq(r->id, "PX-2024:0001");
	ck_assert_str_eq(r->campaign, "SL-2024");
	ck_assert_str_eq(r->unit, "SNV");
	ck_assert_str_eq(r->form, "direct");
	ck_assert_str_eq(r->channel, "portal");
	ck_assert_int_eq(r->ts, 1700000000);
	ck_assert_uint_eq(r->nanswers, 4);
	ck_assert_str_eq(r->answers[0].item, "A1");
	ck_assert_uint_eq(r->answers[0].item_len, 2);
	ck_assert_int_eq(r->answers[0].kind, SIPAS_ANSWER_INT);
	ck_assert_int_eq(r->answers[0].value, 4);
	ck_assert_str_eq(r->answers[1].item, "A2");
	ck_assert_int_eq(r->answers[1].value, 0);
	a = sipas_response_find(r, "expect");
	ck_assert_ptr_eq(a, &r->answers[2]);
	ck_assert_int_eq(a->kind, SIPAS_ANSWER_LIST);
	ck_assert_uint_eq(a->ncodes, 3);
	ck_assert_int_eq(a->codes[0], 1);
	ck_assert_int_eq(a->codes[1], 4);
	ck_assert_int_eq(a->codes[2], 7);
	a = sipas_response_find(r, "none");
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(a->kind, SIPAS_ANSWER_LIST);
	ck_assert_uint_eq(a->ncodes, 0);
	ck_assert_ptr_null(sipas_response_find(r, "A3"));
	ck_assert(r->respondent.present);
	ck_assert_str_eq(r->respondent.kind, "person");
	ck_assert_str_eq(r->respondent.gender, "f");
	ck_assert(r->respondent.has_age);
	ck_assert_int_eq(r->respondent.age, 34);
	ck_assert_str_eq(r->respondent.edu, "univ");
	ck_assert_str_eq(r->respondent.job, "farmer");
	ck_assert_str_eq(r->respondent.ethnic, "Thái");
	ck_assert_str_eq(r->comment, vi_comment);
	ck_assert(r->entry.present);
	ck_assert_str_eq(r->entry.clerk, "c1");
	ck_assert_str_eq(r->entry.batch, "b7");
	ck_assert_str_eq(r->entry.serial, "000123");
}

START_TEST(test_protocol_decode_full)
{
	msgpack_sbuffer sb;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	pack_full(&sb);
	ck_assert_err(sipas_request_split(sb.data, sb.size, req, &f), SIPAS_OK);
	ck_assert(!req->is_array);
	ck_assert_uint_eq(req->count, 1);
	ck_assert_ptr_eq(req->elem[0].ptr, sb.data);
	ck_assert_uint_eq(req->elem[0].len, sb.size);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_OK);
	/* the response owns its strings: wipe the frame first */
	memset(sb.data, 0, sb.size);
	check_full(resp);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_protocol_decode_optional_absent)
{
	msgpack_sbuffer sb;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	build(&sb, NULL, 0);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_OK);
	ck_assert(!resp->respondent.present);
	ck_assert_ptr_null(resp->respondent.kind);
	ck_assert(!resp->respondent.has_age);
	ck_assert_ptr_null(resp->comment);
	ck_assert(!resp->entry.present);
	ck_assert_ptr_null(resp->entry.serial);
	ck_assert_str_eq(resp->channel, "postal");
	ck_assert_str_eq(f.id, "R-1");
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* A decode reuses the struct: nothing of the previous response leaks. */
START_TEST(test_protocol_decode_reuses_response)
{
	msgpack_sbuffer full, small;
	sipas_fault f;

	msgpack_sbuffer_init(&full);
	msgpack_sbuffer_init(&small);
	pack_full(&full);
	build(&small, NULL, 0);
	ck_assert_err(sipas_response_decode(full.data, full.size, resp, &f),
	              SIPAS_OK);
	ck_assert_err(sipas_response_decode(small.data, small.size, resp, &f),
	              SIPAS_OK);
	ck_assert_ptr_null(resp->comment);
	ck_assert(!resp->respondent.present);
	ck_assert_uint_eq(resp->nanswers, 2);
	ck_assert_str_eq(resp->id, "R-1");
	msgpack_sbuffer_destroy(&full);
	msgpack_sbuffer_destroy(&small);
}
END_TEST

/* [valid, 5, valid but ts is a float] gives OK, malformed, bad_type. */
START_TEST(test_protocol_array_per_element)
{
	static const struct edit bad_ts[] = {{"id", RAW("\xa3"
	                                                "R-3")},
	                                     {"ts", RAW(F64ONE)}};
	msgpack_sbuffer sb;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	put(&sb, "\x93", 1);
	build(&sb, NULL, 0);
	put(&sb, "\x05", 1);
	build(&sb, bad_ts, 2);
	ck_assert_err(sipas_request_split(sb.data, sb.size, req, &f), SIPAS_OK);
	ck_assert(req->is_array);
	ck_assert_uint_eq(req->count, 3);
	ck_assert_uint_eq(req->elem[1].len, 1);
	ck_assert_int_eq(req->elem[1].ptr[0], 5);

	ck_assert_err(
	    sipas_response_decode(req->elem[0].ptr, req->elem[0].len, resp, &f),
	    SIPAS_OK);
	ck_assert_str_eq(resp->id, "R-1");
	ck_assert_err(
	    sipas_response_decode(req->elem[1].ptr, req->elem[1].len, resp, &f),
	    SIPAS_E_MALFORMED);
	ck_assert_str_eq(f.id, "");
	ck_assert_str_eq(f.field, "");
	ck_assert_err(
	    sipas_response_decode(req->elem[2].ptr, req->elem[2].len, resp, &f),
	    SIPAS_E_BAD_TYPE);
	ck_assert_str_eq(f.id, "R-3");
	ck_assert_str_eq(f.field, "ts");
	ck_assert_str_eq(f.detail, "Field ts must be an integer.");
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

START_TEST(test_protocol_empty_array)
{
	sipas_fault f;

	ck_assert_err(sipas_request_split("\x90", 1, req, &f), SIPAS_OK);
	ck_assert(req->is_array);
	ck_assert_uint_eq(req->count, 0);
}
END_TEST

START_TEST(test_protocol_detail_sentences)
{
	static const struct edit item_str[] = {{"items", RAW("\x81\xa2"
	                                                     "A1"
	                                                     "\xa1"
	                                                     "4")}};
	static const struct edit chan[] = {{"channel", RAW("\xa3"
	                                                   "fax")}};
	msgpack_sbuffer sb;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	build(&sb, item_str, 1);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_E_BAD_TYPE);
	ck_assert_str_eq(f.detail,
	                 "Item A1 must be an integer or an array of integers.");
	sb.size = 0;
	build(&sb, chan, 1);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_E_BAD_VALUE);
	ck_assert_str_eq(f.detail,
	                 "Field channel must be one of portal, postal, "
	                 "kiosk, phone, interview.");
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* The field and detail of faults inside items and respondent. */
START_TEST(test_protocol_sub_field_details)
{
	/* clang-format off */
	static const struct {
		struct edit e;
		const char *field, *detail;
	} cases[] = {
		{{"items", RAW("\x81\xa2" "A1" U64MAX)}, "items.A1",
		 "Item A1 does not fit in 64 bits."},
		{{"items", RAW("\x81\xa2" "A1" "\x91\xc0")}, "items.A1",
		 "Item A1 must hold integers only."},
		{{"respondent", RAW("\x81\xa3" "age" "\xa1" "1")}, "respondent.age",
		 "Field respondent.age must be an integer."},
		{{"respondent", RAW("\x81\xa4" "kind" "\xa3" "cat")}, "respondent.kind",
		 "Field respondent.kind must be one of person, org."},
		{{"entry", RAW("\x81\xa5" "batch" "\xa1\xff")}, "entry.batch",
		 "Field entry.batch is not valid UTF-8."},
		{{"respondent", RAW("\x81\xa3" "Age" "\x01")}, "respondent.Age",
		 "Field respondent.Age is not part of the protocol."},
		{{"ts", RAW("\xc0")}, "ts", "Field ts must be an integer."},
	};
	/* clang-format on */
	msgpack_sbuffer sb;
	sipas_fault f;

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		msgpack_sbuffer_init(&sb);
		build(&sb, &cases[i].e, 1);
		ck_assert_int_ne(sipas_response_decode(sb.data, sb.size, resp, &f),
		                 SIPAS_OK);
		ck_assert_str_eq(f.field, cases[i].field);
		ck_assert_str_eq(f.detail, cases[i].detail);
		ck_assert_str_eq(f.id, "R-1");
		msgpack_sbuffer_destroy(&sb);
	}
}
END_TEST

/* A bad answer whose item id is too long for an ack field: the field
 * "items.<id>" is cut on a character boundary, and the detail names the
 * same cut id. */
START_TEST(test_protocol_long_item_field)
{
	msgpack_sbuffer sb, val;
	msgpack_packer pk;
	sipas_fault f;

	msgpack_sbuffer_init(&val);
	msgpack_packer_init(&pk, &val, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str(&pk, 255);
	for (int i = 0; i < 85; i++)
		put(&val, "\xe1\xbb\x93", 3);
	msgpack_pack_nil(&pk);
	msgpack_sbuffer_init(&sb);
	build_with(&sb, "items", &val);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_E_BAD_TYPE);
	/* "items." and 29 three-byte letters: 93 of the 95 bytes */
	ck_assert_uint_eq(strlen(f.field), 93);
	ck_assert_int_eq(memcmp(f.field, "items.\xe1\xbb\x93", 9), 0);
	ck_assert_int_eq(strncmp(f.detail, "Item ", 5), 0);
	ck_assert_int_eq(memcmp(f.detail + 5, f.field + 6, 87), 0);
	ck_assert_str_eq(f.detail + 92,
	                 " must be an integer or an array of integers.");
	msgpack_sbuffer_destroy(&sb);
	msgpack_sbuffer_destroy(&val);
}
END_TEST

/* An unknown key too long for an ack field is cut on a character
 * boundary, so the field stays valid UTF-8. */
START_TEST(test_protocol_long_unknown_key)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 1);
	msgpack_pack_str(&pk, 3000);
	for (int i = 0; i < 1000; i++)
		put(&sb, "\xe1\xbb\x93", 3);
	msgpack_pack_int(&pk, 1);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_E_UNKNOWN_FIELD);
	ck_assert_uint_eq(strlen(f.field), 93);
	ck_assert_int_eq(memcmp(f.field, "\xe1\xbb\x93", 3), 0);
	ck_assert_uint_eq(f.detail[strlen(f.detail) - 1], '.');
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- encoding a response ---- */

START_TEST(test_protocol_response_round_trip)
{
	msgpack_sbuffer sb;
	sipas_response *again = malloc(sizeof *again);
	sipas_buf out;
	sipas_fault f;

	ck_assert_ptr_nonnull(again);
	msgpack_sbuffer_init(&sb);
	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	pack_full(&sb);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_OK);
	ck_assert_err(sipas_response_encode(&out, resp), SIPAS_OK);
	/* canonical input in the contract's order comes back byte for byte */
	ck_assert_uint_eq(out.len, sb.size);
	ck_assert_int_eq(memcmp(out.data, sb.data, sb.size), 0);
	ck_assert_err(sipas_response_decode(out.data, out.len, again, &f),
	              SIPAS_OK);
	check_full(again);
	sipas_buf_free(&out);
	msgpack_sbuffer_destroy(&sb);
	free(again);
}
END_TEST

/* Keys in any order and non-minimal ints come out canonical, in the
 * contract's order. */
START_TEST(test_protocol_response_encode_canonical)
{
	static const struct edit moved[] = {
	    {"v", DROP},
	    {"ts", RAW("\xd3\xff\xff\xff\xff\xff\xff\xff\xff")},
	    {"v", RAW("\xcf\x00\x00\x00\x00\x00\x00\x00\x01")}};
	static const struct edit plain[] = {{"ts", RAW("\xff")}};
	msgpack_sbuffer in, want;
	sipas_buf out;
	sipas_fault f;

	msgpack_sbuffer_init(&in);
	msgpack_sbuffer_init(&want);
	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	build(&in, moved, 3);
	build(&want, plain, 1);
	ck_assert_err(sipas_response_decode(in.data, in.size, resp, &f),
	              SIPAS_OK);
	ck_assert_int_eq(resp->ts, -1);
	ck_assert_err(sipas_response_encode(&out, resp), SIPAS_OK);
	ck_assert_uint_eq(out.len, want.size);
	ck_assert_int_eq(memcmp(out.data, want.data, want.size), 0);
	sipas_buf_free(&out);
	msgpack_sbuffer_destroy(&in);
	msgpack_sbuffer_destroy(&want);
}
END_TEST

START_TEST(test_protocol_response_encode_too_large)
{
	msgpack_sbuffer sb;
	sipas_buf out;
	sipas_fault f;

	msgpack_sbuffer_init(&sb);
	pack_full(&sb);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, resp, &f),
	              SIPAS_OK);
	sipas_buf_init(&out, sb.size - 1);
	ck_assert_err(sipas_buf_append(&out, "xy", 2), SIPAS_OK);
	ck_assert_err(sipas_response_encode(&out, resp), SIPAS_E_TOO_LARGE);
	ck_assert_uint_eq(out.len, 2);
	ck_assert_str_eq(out.data, "xy");
	sipas_buf_free(&out);
	msgpack_sbuffer_destroy(&sb);
}
END_TEST

/* ---- acks ---- */

/* clang-format off */
static const struct ack_case {
	sipas_ack ack;
	struct raw bytes; /* the exact encoding, when given */
} ack_cases[] = {
	{{SIPAS_ACCEPTED, SIPAS_OK, "R-1", "", "", 0},
	 RAW("\x82\xa2id\xa3R-1\xa6status\xa8" "accepted")},
	{{SIPAS_DUPLICATE, SIPAS_OK, "R-1", "", "", 0},
	 RAW("\x82\xa2id\xa3R-1\xa6status\xa9" "duplicate")},
	{{SIPAS_REJECTED, SIPAS_E_BAD_TYPE, "R-1", "items.A1", "Item A1 must be an integer.", 0},
	 RAW("\x85\xa2id\xa3R-1\xa6status\xa8rejected\xa4" "code\xa8" "bad_type"
	     "\xa5" "field\xa8items.A1\xa6" "detail\xbbItem A1 must be an integer.")},
	{{SIPAS_REJECTED, SIPAS_E_MALFORMED, "", "", "Not a map.", 0},
	 RAW("\x84\xa2id\xa0\xa6status\xa8rejected\xa4" "code\xa9malformed"
	     "\xa6" "detail\xaaNot a map.")},
	{{SIPAS_BUSY, SIPAS_E_BUSY, "R-2", "", "", 250},
	 RAW("\x84\xa2id\xa3R-2\xa6status\xa4" "busy\xa4" "code\xa4" "busy"
	     "\xa8retry_ms\xcc\xfa")},
	{{SIPAS_BUSY, SIPAS_E_BUSY, "R-2", "", "Try later.", 0}, DROP},
	{{SIPAS_REJECTED, SIPAS_E_CONFLICT, "R-3", "", "Same id, other content.", 0}, DROP},
	{{SIPAS_REJECTED, SIPAS_E_OUTSIDE_WINDOW, "R-4", "ts", "Late.", 0}, DROP},
	{{SIPAS_REJECTED, SIPAS_E_BAD_UTF8, "", "comment", "Bad bytes: ồ.", 0}, DROP},
};/* clang-format on */

static void ack_eq(const sipas_ack *a, const sipas_ack *b)
{
	ck_assert_int_eq(a->status, b->status);
	ck_assert_int_eq(a->code, b->code);
	ck_assert_str_eq(a->id, b->id);
	ck_assert_str_eq(a->field, b->field);
	ck_assert_str_eq(a->detail, b->detail);
	ck_assert_int_eq(a->retry_ms, b->retry_ms);
}

START_TEST(test_protocol_ack_table)
{
	const struct ack_case *c = &ack_cases[_i];
	sipas_ack back[2];
	sipas_buf out;
	size_t n = 9;
	bool arr = true;

	sipas_buf_init(&out, 4096);
	ck_assert_err(sipas_ack_encode(&out, &c->ack), SIPAS_OK);
	if (c->bytes.p != NULL) {
		ck_assert_uint_eq(out.len, c->bytes.n);
		ck_assert_int_eq(memcmp(out.data, c->bytes.p, c->bytes.n), 0);
	}
	ck_assert_err(sipas_ack_decode(out.data, out.len, back, 2, &n, &arr),
	              SIPAS_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert(!arr);
	ack_eq(&back[0], &c->ack);
	sipas_buf_free(&out);
}
END_TEST

START_TEST(test_protocol_ack_array_round_trip)
{
	size_t nc = sizeof ack_cases / sizeof ack_cases[0], n = 0;
	sipas_ack acks[16], back[16];
	sipas_buf out;
	bool arr = false;

	for (size_t i = 0; i < nc; i++)
		acks[i] = ack_cases[i].ack;
	sipas_buf_init(&out, 1 << 16);
	ck_assert_err(sipas_ack_encode_array(&out, acks, nc), SIPAS_OK);
	ck_assert_int_eq((unsigned char)out.data[0], 0x90 + nc);
	ck_assert_err(sipas_ack_decode(out.data, out.len, back, 16, &n, &arr),
	              SIPAS_OK);
	ck_assert(arr);
	ck_assert_uint_eq(n, nc);
	for (size_t i = 0; i < nc; i++)
		ack_eq(&back[i], &acks[i]);
	/* more acks than room */
	ck_assert_err(sipas_ack_decode(out.data, out.len, back, 2, &n, &arr),
	              SIPAS_E_TOO_LARGE);
	/* an empty answer array */
	sipas_buf_reset(&out);
	ck_assert_err(sipas_ack_encode_array(&out, acks, 0), SIPAS_OK);
	ck_assert_uint_eq(out.len, 1);
	ck_assert_err(sipas_ack_decode(out.data, out.len, back, 16, &n, &arr),
	              SIPAS_OK);
	ck_assert_uint_eq(n, 0);
	sipas_buf_free(&out);
}
END_TEST

START_TEST(test_protocol_ack_encode_too_large)
{
	sipas_buf out;

	sipas_buf_init(&out, 20);
	ck_assert_err(sipas_buf_append(&out, "ab", 2), SIPAS_OK);
	ck_assert_err(sipas_ack_encode(&out, &ack_cases[2].ack),
	              SIPAS_E_TOO_LARGE);
	ck_assert_uint_eq(out.len, 2);
	ck_assert_str_eq(out.data, "ab");
	ck_assert_err(sipas_ack_encode_array(&out, &ack_cases[0].ack, 3),
	              SIPAS_E_TOO_LARGE);
	ck_assert_uint_eq(out.len, 2);
	sipas_buf_free(&out);
}
END_TEST

/* clang-format off */
static const struct raw bad_acks[] = {
	RAW(""),
	RAW("\x01"),
	RAW("\x81\xa2id\xa1x"),                                   /* no status */
	RAW("\x81\xa6status\xa8" "accepted"),                     /* no id */
	RAW("\x82\xa2id\xa1x\xa6status\xa4lost"),                 /* bad status */
	RAW("\x82\xa2id\xa1x\xa6status\xa8rejected"),             /* no code */
	RAW("\x83\xa2id\xa1x\xa6status\xa8rejected\xa4" "code\xa3" "zap"),
	RAW("\x82\xa2id\x01\xa6status\xa8" "accepted"),           /* id int */
	RAW("\x92\x82\xa2id\xa1x\xa6status\xa8" "accepted\x05"),  /* elem int */
	RAW("\x82\xa2id\xa1x\xa6status\xa8" "accepted\x00"),      /* trailing */
	RAW("\xdd\xff\xff\xff\xff"),                              /* bomb */
};/* clang-format on */

START_TEST(test_protocol_ack_decode_malformed)
{
	sipas_ack back[4];
	size_t n = 7;
	bool arr;

	ck_assert_err(
	    sipas_ack_decode(bad_acks[_i].p, bad_acks[_i].n, back, 4, &n, &arr),
	    SIPAS_E_MALFORMED);
	ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_protocol_ack_from_fault)
{
	sipas_fault f;
	sipas_ack a;

	memset(&f, 0, sizeof f);
	snprintf(f.id, sizeof f.id, "R-1");
	sipas_fault_set(&f, SIPAS_E_BAD_VALUE, "channel", "Field %s is bad.",
	                "channel");
	ck_assert_str_eq(f.id, "R-1");
	ck_assert_str_eq(f.detail, "Field channel is bad.");
	sipas_ack_from_fault(&a, &f);
	ck_assert_int_eq(a.status, SIPAS_REJECTED);
	ck_assert_int_eq(a.code, SIPAS_E_BAD_VALUE);
	ck_assert_str_eq(a.id, "R-1");
	ck_assert_str_eq(a.field, "channel");
	ck_assert_str_eq(a.detail, "Field channel is bad.");
	ck_assert_int_eq(a.retry_ms, 0);
	sipas_fault_set(&f, SIPAS_E_BUSY, NULL, "Busy.");
	sipas_ack_from_fault(&a, &f);
	ck_assert_int_eq(a.status, SIPAS_BUSY);
	ck_assert_str_eq(a.field, "");
}
END_TEST

START_TEST(test_protocol_names)
{
	ck_assert_str_eq(sipas_status_name(SIPAS_ACCEPTED), "accepted");
	ck_assert_str_eq(sipas_status_name(SIPAS_DUPLICATE), "duplicate");
	ck_assert_str_eq(sipas_status_name(SIPAS_REJECTED), "rejected");
	ck_assert_str_eq(sipas_status_name(SIPAS_BUSY), "busy");
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		ck_assert_int_eq(sipas_channel_index(sipas_channel_names[i]),
		                 i);
	ck_assert_str_eq(sipas_channel_names[0], "portal");
	ck_assert_str_eq(sipas_channel_names[4], "interview");
	ck_assert_int_eq(sipas_channel_index("email"), -1);
	ck_assert_int_eq(sipas_channel_index(""), -1);
	ck_assert_int_eq(sipas_channel_index(NULL), -1);
}
END_TEST

#define N(a) ((int)(sizeof(a) / sizeof((a)[0])))

static Suite *protocol_suite(void)
{
	Suite *s = suite_create("protocol");
	TCase *tc = tcase_create("codec");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_protocol_edit_table, 0, N(edit_cases));
	tcase_add_loop_test(tc, test_protocol_frame_table, 0, N(frame_cases));
	tcase_add_loop_test(tc, test_protocol_generated_table, 0, N(gen_cases));
	tcase_add_loop_test(tc, test_protocol_skim_matches_msgpack, 0, 2);
	tcase_add_test(tc, test_protocol_decode_full);
	tcase_add_test(tc, test_protocol_decode_optional_absent);
	tcase_add_test(tc, test_protocol_decode_reuses_response);
	tcase_add_test(tc, test_protocol_array_per_element);
	tcase_add_test(tc, test_protocol_empty_array);
	tcase_add_test(tc, test_protocol_detail_sentences);
	tcase_add_test(tc, test_protocol_long_unknown_key);
	tcase_add_test(tc, test_protocol_sub_field_details);
	tcase_add_test(tc, test_protocol_long_item_field);
	tcase_add_test(tc, test_protocol_response_round_trip);
	tcase_add_test(tc, test_protocol_response_encode_canonical);
	tcase_add_test(tc, test_protocol_response_encode_too_large);
	tcase_add_loop_test(tc, test_protocol_ack_table, 0, N(ack_cases));
	tcase_add_test(tc, test_protocol_ack_array_round_trip);
	tcase_add_test(tc, test_protocol_ack_encode_too_large);
	tcase_add_loop_test(tc, test_protocol_ack_decode_malformed, 0,
	                    N(bad_acks));
	tcase_add_test(tc, test_protocol_ack_from_fault);
	tcase_add_test(tc, test_protocol_names);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(protocol_suite());
}
