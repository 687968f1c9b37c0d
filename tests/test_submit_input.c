/* test_submit_input.c - JSON Lines and CSV records -> sipas_response. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipas_definition.h"
#include "sipas_input.h"
#include "sipas_protocol.h"
#include "sipas_text.h"
#include "testutil.h"

/* 2024-03-01T00:00:00Z */
#define T_0301 1709251200

static sipas_response *resp, *back;
static sipas_def *sonla;

static void setup(void)
{
	sipas_diag diag;
	size_t len;
	char *json = tu_read_source("examples/sonla-2024.json", &len);

	resp = malloc(sizeof *resp);
	back = malloc(sizeof *back);
	ck_assert_ptr_nonnull(resp);
	ck_assert_ptr_nonnull(back);
	ck_assert_msg(sipas_def_load(json, len, "sonla-2024.json", &sonla,
	                             &diag) == SIPAS_OK,
	              "%s", diag.msg);
	free(json);
}

static void teardown(void)
{
	sipas_def_free(&sonla);
	free(resp);
	free(back);
}

static const sipas_def *any_def(void *ctx, const char *campaign)
{
	(void)campaign;
	return ctx;
}

/* A reader over text (len bytes). */
struct rd {
	FILE *f;
	sipas_input *in;
	sipas_buf wire;
};

static void rd_open(struct rd *rd, const char *text, size_t len,
                    sipas_input_format format, const sipas_def *def,
                    int32_t offset)
{
	sipas_input_opts o = {format, offset, def ? any_def : NULL,
	                      (void *)def};

	rd->f = fmemopen((void *)text, len, "r");
	ck_assert_ptr_nonnull(rd->f);
	sipas_input_new(&rd->in, rd->f, "test", &o);
	sipas_buf_init(&rd->wire, SIPAS_MAX_REQUEST);
}

static void rd_close(struct rd *rd)
{
	sipas_input_free(&rd->in);
	ck_assert_ptr_null(rd->in);
	fclose(rd->f);
	sipas_buf_free(&rd->wire);
}

/* Read the next record; with rec->ok, decode its wire bytes into `back`
 * (the codec must accept exactly what the reader produced). */
static sipas_err rd_next(struct rd *rd, sipas_record *rec)
{
	sipas_diag diag = {""};
	sipas_fault f;
	sipas_err rv = sipas_input_next(rd->in, resp, &rd->wire, rec, &diag);

	if (rv == SIPAS_OK && rec->ok) {
		sipas_err d = sipas_response_decode(rd->wire.data, rd->wire.len,
		                                    back, &f);

		ck_assert_msg(d == SIPAS_OK, "decode: %s %s %s",
		              sipas_err_name(d), f.field, f.detail);
	}
	return rv;
}

static const sipas_answer *answer(const char *id)
{
	return sipas_response_find(back, id);
}

#define VALID                                                                  \
	"\"v\":1,\"id\":\"r-1\",\"campaign\":\"SL-2024\",\"unit\":\"SNV\","    \
	"\"form\":\"direct\",\"channel\":\"postal\",\"ts\":1700000000"

START_TEST(test_submit_input_json_every_field)
{
	static const char text[] =
	    "{" VALID ",\"items\":{\"A1\":4,\"A2\":0,\"expect\":[1,4,7],"
	    "\"none\":[],\"neg\":-3},"
	    "\"respondent\":{\"kind\":\"person\",\"gender\":\"f\",\"age\":34,"
	    "\"edu\":\"univ\",\"job\":\"farmer\",\"ethnic\":\"Thái\"},"
	    "\"comment\":\"Rất tốt, \\\"nhanh\\\"\\n\","
	    "\"entry\":{\"clerk\":\"c7\",\"batch\":\"B-12\",\"serial\":"
	    "\"0042\"}}\n";
	struct rd rd;
	sipas_record rec;
	const sipas_answer *a;

	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_JSONL, NULL, 25200);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert_msg(rec.ok, "%s %s", rec.fault.field, rec.fault.detail);
	ck_assert_uint_eq(rec.line, 1);
	ck_assert_int_eq(back->v, 1);
	ck_assert_str_eq(back->id, "r-1");
	ck_assert_str_eq(back->campaign, "SL-2024");
	ck_assert_str_eq(back->unit, "SNV");
	ck_assert_str_eq(back->form, "direct");
	ck_assert_str_eq(back->channel, "postal");
	ck_assert_int_eq(back->ts, 1700000000);
	ck_assert_uint_eq(back->nanswers, 5);
	ck_assert_str_eq(back->answers[0].item, "A1"); /* wire order kept */
	ck_assert_int_eq(back->answers[0].value, 4);
	a = answer("expect");
	ck_assert_int_eq(a->kind, SIPAS_ANSWER_LIST);
	ck_assert_uint_eq(a->ncodes, 3);
	ck_assert_int_eq(a->codes[2], 7);
	ck_assert_uint_eq(answer("none")->ncodes, 0);
	ck_assert_int_eq(answer("none")->kind, SIPAS_ANSWER_LIST);
	ck_assert_int_eq(answer("neg")->value, -3);
	ck_assert(back->respondent.present);
	ck_assert_str_eq(back->respondent.kind, "person");
	ck_assert_str_eq(back->respondent.gender, "f");
	ck_assert(back->respondent.has_age);
	ck_assert_int_eq(back->respondent.age, 34);
	ck_assert_str_eq(back->respondent.edu, "univ");
	ck_assert_str_eq(back->respondent.job, "farmer");
	ck_assert_str_eq(back->respondent.ethnic, "Thái");
	ck_assert_str_eq(back->comment, "Rất tốt, \"nhanh\"\n");
	ck_assert(back->entry.present);
	ck_assert_str_eq(back->entry.clerk, "c7");
	ck_assert_str_eq(back->entry.batch, "B-12");
	ck_assert_str_eq(back->entry.serial, "0042");
	ck_assert_err(rd_next(&rd, &rec), SIPAS_E_NOT_FOUND);
	rd_close(&rd);
}
END_TEST

/* One JSON line -> the fault the collector would answer. */
static const struct jcase {
	const char *line;
	sipas_err code; /* SIPAS_OK: the record is sent */
	const char *field;
	const char *id; /* fault.id */
} jcases[] = {
    {"{" VALID ",\"items\":{\"A1\":4}}", SIPAS_OK, "", "r-1"},
    /* types that have no place in a sipas_response */
    {"{" VALID ",\"items\":{\"A1\":4.0}}", SIPAS_E_BAD_TYPE, "items.A1", "r-1"},
    {"{" VALID ",\"items\":{\"A1\":true}}", SIPAS_E_BAD_TYPE, "items.A1",
     "r-1"},
    {"{" VALID ",\"items\":{\"A1\":null}}", SIPAS_E_BAD_TYPE, "items.A1",
     "r-1"},
    {"{" VALID ",\"items\":{\"A1\":\"4\"}}", SIPAS_E_BAD_TYPE, "items.A1",
     "r-1"},
    {"{" VALID ",\"items\":{\"A1\":{\"x\":1}}}", SIPAS_E_BAD_TYPE, "items.A1",
     "r-1"},
    {"{" VALID ",\"items\":{\"e\":[1,2.5]}}", SIPAS_E_BAD_TYPE, "items.e",
     "r-1"},
    {"{" VALID ",\"items\":{\"e\":[[1]]}}", SIPAS_E_BAD_TYPE, "items.e", "r-1"},
    {"{" VALID ",\"items\":[4]}", SIPAS_E_BAD_TYPE, "items", "r-1"},
    {"{\"v\":1.0,\"id\":\"r-1\"}", SIPAS_E_BAD_TYPE, "v", "r-1"},
    {"{\"v\":2,\"id\":\"r-1\"}", SIPAS_E_BAD_VALUE, "v", "r-1"},
    {"{\"v\":-1,\"id\":\"r-1\"}", SIPAS_E_BAD_VALUE, "v", "r-1"},
    {"{\"id\":\"r-1\",\"ts\":\"2024-03-01\"}", SIPAS_E_BAD_TYPE, "ts", "r-1"},
    {"{\"id\":\"r-1\",\"ts\":false}", SIPAS_E_BAD_TYPE, "ts", "r-1"},
    {"{\"id\":\"r-1\",\"unit\":5}", SIPAS_E_BAD_TYPE, "unit", "r-1"},
    {"{\"id\":\"r-1\",\"comment\":null}", SIPAS_E_BAD_TYPE, "comment", "r-1"},
    {"{\"id\":\"r-1\",\"respondent\":[]}", SIPAS_E_BAD_TYPE, "respondent",
     "r-1"},
    {"{\"id\":\"r-1\",\"respondent\":{\"age\":\"34\"}}", SIPAS_E_BAD_TYPE,
     "respondent.age", "r-1"},
    {"{\"id\":\"r-1\",\"respondent\":{\"gender\":1}}", SIPAS_E_BAD_TYPE,
     "respondent.gender", "r-1"},
    {"{\"id\":\"r-1\",\"entry\":{\"serial\":42}}", SIPAS_E_BAD_TYPE,
     "entry.serial", "r-1"},
    {"{\"id\":\"r-1\",\"entry\":\"x\"}", SIPAS_E_BAD_TYPE, "entry", "r-1"},
    /* the id, wherever it stands, comes first */
    {"{\"zz\":1,\"id\":\"r 1\"}", SIPAS_E_BAD_VALUE, "id", ""},
    {"{\"v\":1,\"id\":7}", SIPAS_E_BAD_TYPE, "id", ""},
    {"{\"v\":1,\"id\":\"\"}", SIPAS_E_BAD_VALUE, "id", ""},
    {"{\"id\":\"r-1\\u0000\"}", SIPAS_E_BAD_UTF8, "id", ""},
    {"{\"id\":\"r\xff\"}", SIPAS_E_BAD_UTF8, "id", ""},
    /* keys in order: the first problem wins */
    {"{" VALID ",\"extra\":1,\"items\":{}}", SIPAS_E_UNKNOWN_FIELD, "extra",
     "r-1"},
    {"{\"id\":\"r-1\",\"channel\":\"fax\",\"ts\":1.5}", SIPAS_E_BAD_VALUE,
     "channel", "r-1"},
    {"{\"id\":\"r-1\",\"ts\":1.5,\"channel\":\"fax\"}", SIPAS_E_BAD_TYPE, "ts",
     "r-1"},
    {"{\"id\":\"r-1\",\"respondent\":{\"kind\":\"alien\"}}", SIPAS_E_BAD_VALUE,
     "respondent.kind", "r-1"},
    {"{\"id\":\"r-1\",\"respondent\":{\"shoe\":\"42\"}}", SIPAS_E_UNKNOWN_FIELD,
     "respondent.shoe", "r-1"},
    {"{\"id\":\"r-1\",\"entry\":{\"desk\":\"3\"}}", SIPAS_E_UNKNOWN_FIELD,
     "entry.desk", "r-1"},
    {"{\"id\":\"r-1\",\"unit\":\"S\xc3\"}", SIPAS_E_BAD_UTF8, "unit", "r-1"},
    {"{\"id\":\"r-1\",\"comment\":\"a\\u0000b\"}", SIPAS_E_BAD_UTF8, "comment",
     "r-1"},
    {"{\"id\":\"r-1\",\"items\":{\"A\xed\xa0\x80\":1}}", SIPAS_E_BAD_UTF8,
     "items", "r-1"},
    {"{\"id\":\"r-1\",\"k\xc0\xaf\":1}", SIPAS_E_BAD_UTF8, "", "r-1"},
    {"{\"id\":\"r-1\",\"entry\":{\"clerk\":\"\xf8\"}}", SIPAS_E_BAD_UTF8,
     "entry.clerk", "r-1"},
    {"{\"id\":\"r-1\",\"comment\":\"\\\xff\"}", SIPAS_E_BAD_UTF8, "", ""},
    /* missing keys, in the contract's order */
    {"{\"id\":\"r-1\",\"items\":{}}", SIPAS_E_MISSING_FIELD, "v", "r-1"},
    {"{\"v\":1,\"items\":{}}", SIPAS_E_MISSING_FIELD, "id", ""},
    {"{\"v\":1,\"id\":\"r-1\",\"campaign\":\"x\",\"unit\":\"u\","
     "\"form\":\"f\",\"channel\":\"kiosk\",\"items\":{}}",
     SIPAS_E_MISSING_FIELD, "ts", "r-1"},
    {"{" VALID "}", SIPAS_E_MISSING_FIELD, "items", "r-1"},
    /* numbers */
    {"{" VALID ",\"items\":{\"A1\":-9223372036854775808}}", SIPAS_OK, "",
     "r-1"},
    {"{" VALID ",\"items\":{\"A1\":18446744073709551615}}",
     SIPAS_E_OUT_OF_RANGE, "", ""},
    /* not one JSON object */
    {"{" VALID ",\"id\":\"r-2\",\"items\":{}}", SIPAS_E_MALFORMED, "", ""},
    {"{" VALID ",\"items\":{\"A1\":1,\"A1\":2}}", SIPAS_E_MALFORMED, "", ""},
    {"{\"v\":1,", SIPAS_E_MALFORMED, "", ""},
    {"[1,2]", SIPAS_E_MALFORMED, "", ""},
    {"\"text\"", SIPAS_E_MALFORMED, "", ""},
    {"{\"v\":1} {\"v\":1}", SIPAS_E_MALFORMED, "", ""},
    {"v=1,id=r-1", SIPAS_E_MALFORMED, "", ""},
};

START_TEST(test_submit_input_json_faults)
{
	const struct jcase *c = &jcases[_i];
	struct rd rd;
	sipas_record rec;

	rd_open(&rd, c->line, strlen(c->line), SIPAS_INPUT_JSONL, NULL, 25200);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert_msg(rec.ok == (c->code == SIPAS_OK), "case %d: ok=%d %s %s",
	              _i, rec.ok, sipas_err_name(rec.fault.code),
	              rec.fault.detail);
	if (!rec.ok) {
		ck_assert_msg(rec.fault.code == c->code,
		              "case %d: got %s (%s: %s), want %s", _i,
		              sipas_err_name(rec.fault.code), rec.fault.field,
		              rec.fault.detail, sipas_err_name(c->code));
		ck_assert_str_eq(rec.fault.field, c->field);
		ck_assert_msg(rec.fault.detail[0] != '\0', "case %d", _i);
	}
	ck_assert_str_eq(rec.fault.id, c->id);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_E_NOT_FOUND);
	rd_close(&rd);
}
END_TEST

/* The local sentences are the codec's: the same bytes decoded by the
 * collector give the same fault. */
START_TEST(test_submit_input_json_same_words)
{
	static const char text[] = "{\"id\":\"r-1\",\"items\":{\"A1\":1.5}}\n"
	                           "{\"id\":\"r-1\",\"channel\":\"fax\"}\n"
	                           "{\"id\":\"r-1\",\"xx\":1}\n"
	                           "{\"id\":\"r-1\",\"v\":1}\n";
	static const char *const want[] = {
	    "Item A1 must be an integer or an array of integers.",
	    ("Field channel must be one of portal, postal, kiosk, phone, "
	     "interview."),
	    "Field xx is not part of the protocol.",
	    "Field campaign is missing.",
	};
	struct rd rd;
	sipas_record rec;

	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_JSONL, NULL, 0);
	for (size_t i = 0; i < 4; i++) {
		ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
		ck_assert(!rec.ok);
		ck_assert_str_eq(rec.fault.detail, want[i]);
	}
	rd_close(&rd);
}
END_TEST

START_TEST(test_submit_input_json_lines)
{
	/* BOM, CRLF, blank lines, an overlong line: line numbers hold */
	const size_t big = SIPAS_INPUT_MAX_LINE + 10;
	const char *good = "{" VALID ",\"items\":{\"A1\":4}}";
	size_t gl = strlen(good), n = 0;
	char *text = malloc(big + 4 * gl + 64);
	struct rd rd;
	sipas_record rec;

	ck_assert_ptr_nonnull(text);
	memcpy(text + n, "\xEF\xBB\xBF", 3), n += 3;
	memcpy(text + n, good, gl), n += gl;
	memcpy(text + n, "\r\n\r\n   \n", 8), n += 8;     /* lines 1-3 */
	memcpy(text + n, "{\"comment\":\"", 12), n += 12; /* line 4 */
	memset(text + n, 'x', big), n += big;
	memcpy(text + n, "\"}\n", 3), n += 3;
	memcpy(text + n, good, gl), n += gl; /* line 5 */
	text[n++] = '\n';
	text[n++] = '\n';
	memcpy(text + n, good, gl), n += gl; /* line 7, no \n */

	rd_open(&rd, text, n, SIPAS_INPUT_JSONL, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_uint_eq(rec.line, 1);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(!rec.ok);
	ck_assert_uint_eq(rec.line, 4);
	ck_assert_err(rec.fault.code, SIPAS_E_TOO_LARGE);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_uint_eq(rec.line, 5);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_uint_eq(rec.line, 7);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_E_NOT_FOUND);
	ck_assert_uint_eq(sipas_input_offset(rd.in), n);
	rd_close(&rd);
	free(text);
}
END_TEST

START_TEST(test_submit_input_json_too_large)
{
	/* fits every per-field limit, yet encodes over 65,536 bytes */
	char key[251];
	size_t cap = 400 * 270 + 256, n;
	char *text = malloc(cap);
	struct rd rd;
	sipas_record rec;

	ck_assert_ptr_nonnull(text);
	memset(key, 'k', 246);
	n = (size_t)snprintf(text, cap, "{" VALID ",\"items\":{");
	for (int i = 0; i < 300; i++) {
		snprintf(key + 246, 5, "%04d", i);
		n += (size_t)snprintf(text + n, cap - n, "%s\"%s\":1",
		                      i ? "," : "", key);
	}
	n += (size_t)snprintf(text + n, cap - n, "}}\n");
	rd_open(&rd, text, n, SIPAS_INPUT_JSONL, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(!rec.ok);
	ck_assert_err(rec.fault.code, SIPAS_E_TOO_LARGE);
	ck_assert_str_eq(rec.fault.field, "");
	ck_assert_str_eq(rec.fault.id, "r-1");
	rd_close(&rd);
	free(text);
}
END_TEST

START_TEST(test_submit_input_json_many_codes)
{
	char text[1024];
	size_t n;
	struct rd rd;
	sipas_record rec;

	n = (size_t)snprintf(text, sizeof text,
	                     "{" VALID ",\"items\":{\"expect\":[");
	for (int i = 0; i < 65; i++)
		n += (size_t)snprintf(text + n, sizeof text - n, "%s1",
		                      i ? "," : "");
	n += (size_t)snprintf(text + n, sizeof text - n, "]}}");
	rd_open(&rd, text, n, SIPAS_INPUT_JSONL, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(!rec.ok);
	ck_assert_err(rec.fault.code, SIPAS_E_TOO_LARGE);
	ck_assert_str_eq(rec.fault.field, "items.expect");
	rd_close(&rd);
}
END_TEST

/* Nesting past SIPAS_MAX_DEPTH is malformed, as the codec finds it
 * before it looks at any key: a deep value where a string belongs is not
 * a bad_type here and a malformed there. */
START_TEST(test_submit_input_json_deep)
{
	/* {"id":"r-1","comment": N arrays around 1}, as JSON and msgpack */
	for (int depth = 6; depth <= 9; depth++) {
		char text[256], wire[64];
		size_t n = 0, w = 0;
		struct rd rd;
		sipas_record rec;
		sipas_fault f;
		sipas_err want = depth + 1 > SIPAS_MAX_DEPTH
		                     ? SIPAS_E_MALFORMED
		                     : SIPAS_E_BAD_TYPE;

		n += (size_t)sprintf(text, "{\"id\":\"r-1\",\"comment\":");
		memcpy(wire, "\x82\xa2id\xa3r-1\xa7" "comment", 16), w = 16;
		for (int i = 0; i < depth; i++)
			text[n++] = '[', wire[w++] = '\x91';
		text[n++] = '1', wire[w++] = 1;
		for (int i = 0; i < depth; i++)
			text[n++] = ']';
		text[n++] = '}';
		rd_open(&rd, text, n, SIPAS_INPUT_JSONL, NULL, 0);
		ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
		ck_assert(!rec.ok);
		ck_assert_msg(rec.fault.code == want, "depth %d: %s %s", depth,
		              sipas_err_name(rec.fault.code),
		              rec.fault.detail);
		ck_assert_err(sipas_response_decode(wire, w, back, &f), want);
		ck_assert_str_eq(rec.fault.field, f.field);
		rd_close(&rd);
	}
}
END_TEST

/* jansson quotes the text near a syntax error, invalid bytes and all: the
 * sentence of the fault is still UTF-8. */
START_TEST(test_submit_input_json_error_text_utf8)
{
	static const char text[] =
	    "{\"id\":\"r-1\",\"comment\":\"\\u12\xcd\x9b\"}\n";
	struct rd rd;
	sipas_record rec;

	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_JSONL, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(!rec.ok);
	ck_assert_err(rec.fault.code, SIPAS_E_MALFORMED);
	ck_assert_msg(sipas_utf8_valid(rec.fault.detail,
	                               strlen(rec.fault.detail)),
	              "%s", rec.fault.detail);
	ck_assert_msg(strstr(rec.fault.detail, "invalid escape") != NULL, "%s",
	              rec.fault.detail);
	rd_close(&rd);
}
END_TEST

/* ---- CSV ---- */

#define HDR "id,campaign,unit,form,channel,ts"

START_TEST(test_submit_input_csv_every_column)
{
	static const char text[] =
	    "\xEF\xBB\xBF"
	    "v,id,campaign,unit,form,channel,ts,A1,A2,trips,"
	    "expect,items.age,comment,respondent.kind,respondent.gender,"
	    "respondent.age,respondent.edu,respondent.job,respondent.ethnic,"
	    "entry.clerk,entry.batch,entry.serial\r\n"
	    "1,p-1,SL-2024,SNV,direct,postal,2024-03-01,4,0,2,1;4;7,45,"
	    "\"Tốt, \"\"nhanh\"\"\r\nlắm\",person,f,34,univ,farmer,Thái,"
	    "c7,B-12,0042\r\n"
	    ",p-2,SL-2024,SNV,direct,portal,1700000000,5,,,4,,,,,,,,,,,\r\n";
	struct rd rd;
	sipas_record rec;
	const sipas_answer *a;

	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_CSV, sonla, 25200);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert_msg(rec.ok, "%s %s", rec.fault.field, rec.fault.detail);
	ck_assert_uint_eq(rec.line, 2);
	ck_assert_int_eq(back->v, 1);
	ck_assert_str_eq(back->id, "p-1");
	ck_assert_str_eq(back->campaign, "SL-2024");
	ck_assert_str_eq(back->unit, "SNV");
	ck_assert_str_eq(back->form, "direct");
	ck_assert_str_eq(back->channel, "postal");
	ck_assert_int_eq(back->ts, T_0301 - 25200);
	ck_assert_uint_eq(back->nanswers, 5);
	ck_assert_int_eq(answer("A1")->value, 4);
	ck_assert_int_eq(answer("A2")->value, 0);
	ck_assert_int_eq(answer("trips")->kind, SIPAS_ANSWER_INT);
	a = answer("expect");
	ck_assert_int_eq(a->kind, SIPAS_ANSWER_LIST);
	ck_assert_uint_eq(a->ncodes, 3);
	ck_assert_int_eq(a->codes[0], 1);
	ck_assert_int_eq(a->codes[2], 7);
	ck_assert_int_eq(answer("age")->value, 45);
	ck_assert_str_eq(back->comment, "Tốt, \"nhanh\"\r\nlắm");
	ck_assert_str_eq(back->respondent.kind, "person");
	ck_assert_str_eq(back->respondent.gender, "f");
	ck_assert_int_eq(back->respondent.age, 34);
	ck_assert_str_eq(back->respondent.edu, "univ");
	ck_assert_str_eq(back->respondent.job, "farmer");
	ck_assert_str_eq(back->respondent.ethnic, "Thái");
	ck_assert_str_eq(back->entry.clerk, "c7");
	ck_assert_str_eq(back->entry.batch, "B-12");
	ck_assert_str_eq(back->entry.serial, "0042");

	/* empty cells are absent; a multi cell of one code is a list */
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert_msg(rec.ok, "%s %s", rec.fault.field, rec.fault.detail);
	ck_assert_uint_eq(rec.line, 4); /* the quoted cell spans two lines */
	ck_assert_int_eq(back->v, 1);
	ck_assert_int_eq(back->ts, 1700000000);
	ck_assert_uint_eq(back->nanswers, 2);
	ck_assert_ptr_null(answer("A2"));
	a = answer("expect");
	ck_assert_int_eq(a->kind, SIPAS_ANSWER_LIST);
	ck_assert_uint_eq(a->ncodes, 1);
	ck_assert_int_eq(a->codes[0], 4);
	ck_assert(!back->respondent.present);
	ck_assert(!back->entry.present);
	ck_assert_ptr_null(back->comment);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_E_NOT_FOUND);
	rd_close(&rd);
}
END_TEST

/* One CSV data row (after HDR ",A1,expect,trips,respondent.age,
 * respondent.shoe") -> what the reader makes of it. */
static const struct ccase {
	const char *row;
	sipas_err code;
	const char *field;
	const char *id;
} ccases[] = {
    {"r-1,SL-2024,SNV,direct,postal,1700000000,4,1;2,3,30,", SIPAS_OK, "",
     "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,abc,,,,", SIPAS_E_BAD_VALUE,
     "items.A1", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,4.0,,,,", SIPAS_E_BAD_VALUE,
     "items.A1", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,1;2,,,,", SIPAS_E_BAD_VALUE,
     "items.A1", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,99999999999999999999,,,,",
     SIPAS_E_OUT_OF_RANGE, "items.A1", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000, 4 ,,,,", SIPAS_OK, "", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,1;;2,,,", SIPAS_E_BAD_VALUE,
     "items.expect", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,1;2;,,,", SIPAS_E_BAD_VALUE,
     "items.expect", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,x,,,", SIPAS_E_BAD_VALUE,
     "items.expect", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,[],,,", SIPAS_OK, "", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,yesterday,,,,,", SIPAS_E_BAD_VALUE, "ts",
     "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,2024-02-30,,,,,", SIPAS_E_BAD_VALUE, "ts",
     "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,-5,,,,,", SIPAS_OK, "", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,,,x,", SIPAS_E_BAD_VALUE,
     "respondent.age", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,,,,42", SIPAS_E_UNKNOWN_FIELD,
     "respondent.shoe", "r-1"},
    {"r-1,SL-2024,SNV,direct,fax,1700000000,abc,,,,", SIPAS_E_BAD_VALUE,
     "channel", "r-1"},
    {"r 1,SL-2024,SNV,direct,postal,1700000000,,,,,", SIPAS_E_BAD_VALUE, "id",
     ""},
    {"r-\xff,SL-2024,SNV,direct,postal,1700000000,,,,,", SIPAS_E_BAD_UTF8, "id",
     ""},
    {"r-1,SL-2024,S\xffV,direct,postal,1700000000,,,,,", SIPAS_E_BAD_UTF8,
     "unit", "r-1"},
    {",SL-2024,SNV,direct,postal,1700000000,,,,,", SIPAS_E_MISSING_FIELD, "id",
     ""},
    {"r-1,SL-2024,,direct,postal,1700000000,,,,,", SIPAS_E_MISSING_FIELD,
     "unit", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,,,,,,", SIPAS_E_MISSING_FIELD, "ts", "r-1"},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,,,", SIPAS_E_MALFORMED, "", ""},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,,,,,", SIPAS_E_MALFORMED, "",
     ""},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,\"4\"x,,,,", SIPAS_E_MALFORMED,
     "", ""},
    {"r-1,SL-2024,SNV,direct,postal,1700000000,,,,,\"open", SIPAS_E_MALFORMED,
     "", ""},
    {"\"r-1\",\"SL-2024\",\"SNV\",\"direct\",\"postal\",\"1700000000\","
     "\"4\",\"1;2\",\"\",\"\",\"\"",
     SIPAS_OK, "", "r-1"},
};

START_TEST(test_submit_input_csv_cells)
{
	const struct ccase *c = &ccases[_i];
	char text[512];
	int n = snprintf(text, sizeof text,
	                 HDR ",A1,expect,trips,respondent.age,respondent.shoe\n"
	                     "%s\n",
	                 c->row);
	struct rd rd;
	sipas_record rec;

	rd_open(&rd, text, (size_t)n, SIPAS_INPUT_CSV, sonla, 25200);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert_msg(rec.ok == (c->code == SIPAS_OK), "case %d: ok=%d %s %s",
	              _i, rec.ok, sipas_err_name(rec.fault.code),
	              rec.fault.detail);
	if (!rec.ok) {
		ck_assert_msg(rec.fault.code == c->code,
		              "case %d: got %s (%s: %s), want %s", _i,
		              sipas_err_name(rec.fault.code), rec.fault.field,
		              rec.fault.detail, sipas_err_name(c->code));
		ck_assert_str_eq(rec.fault.field, c->field);
	}
	ck_assert_str_eq(rec.fault.id, c->id);
	ck_assert_uint_eq(rec.line, 2);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_E_NOT_FOUND);
	rd_close(&rd);
}
END_TEST

START_TEST(test_submit_input_csv_dates)
{
	static const struct {
		const char *ts;
		int32_t offset;
		int64_t want;
	} t[] = {
	    {"2024-03-01", 25200, T_0301 - 25200},
	    {"2024-03-01", -18000, T_0301 + 18000},
	    {"2024-03-01T10:00", 25200, T_0301 + 36000 - 25200},
	    {"2024-03-01 10:00:30", 25200, T_0301 + 36030 - 25200},
	    {"2024-03-01T10:00:30.999", 0, T_0301 + 36030},
	    {"2024-03-01T10:00:00Z", 25200, T_0301 + 36000},
	    {"2024-03-01T10:00:00+02:00", 25200, T_0301 + 36000 - 7200},
	    {"2024-03-01T10:00:00-03:30", 25200, T_0301 + 36000 + 12600},
	    {"1709251200", 25200, T_0301},
	    {" 1709251200 ", 25200, T_0301},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		char text[256];
		int n = snprintf(text, sizeof text,
		                 HDR "\nr-1,SL-2024,SNV,direct,postal,%s\n",
		                 t[i].ts);
		struct rd rd;
		sipas_record rec;

		rd_open(&rd, text, (size_t)n, SIPAS_INPUT_CSV, sonla,
		        t[i].offset);
		ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
		ck_assert_msg(rec.ok, "%s: %s", t[i].ts, rec.fault.detail);
		ck_assert_msg(back->ts == t[i].want, "%s: %lld", t[i].ts,
		              (long long)back->ts);
		rd_close(&rd);
	}
}
END_TEST

START_TEST(test_submit_input_csv_without_definition)
{
	/* no definition: a cell with ';' is a list, any other one integer */
	static const char text[] = HDR ",expect,trips\n"
	                               ",,,,,,,\r\n"
	                               "r-1,X,U,F,phone,5,1;2,3\n"
	                               "r-2,X,U,F,phone,5,4,3\n";
	struct rd rd;
	sipas_record rec;
	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_CSV, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert(rec.guessed);
	ck_assert_uint_eq(rec.line, 3);
	ck_assert_int_eq(answer("expect")->kind, SIPAS_ANSWER_LIST);
	ck_assert_int_eq(answer("trips")->kind, SIPAS_ANSWER_INT);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_int_eq(answer("expect")->kind, SIPAS_ANSWER_INT);
	rd_close(&rd);

	/* with it, the row's form decides; an unknown form falls back to
	 * any form of the campaign declaring the item */
	rd_open(&rd, text, sizeof text - 1, SIPAS_INPUT_CSV, sonla, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert(!rec.guessed);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_int_eq(answer("expect")->kind, SIPAS_ANSWER_LIST);
	ck_assert_int_eq(answer("trips")->kind, SIPAS_ANSWER_INT);
	rd_close(&rd);
}
END_TEST

START_TEST(test_submit_input_csv_headers)
{
	static const struct {
		const char *text;
		sipas_err rv;
	} t[] = {
	    {HDR ",A1,A1\n", SIPAS_E_BAD_VALUE},
	    {HDR ",A1,items.A1\n", SIPAS_E_BAD_VALUE},
	    {HDR ",id\n", SIPAS_E_BAD_VALUE},
	    {HDR ",,A1\n", SIPAS_E_BAD_VALUE},
	    {"id;campaign;unit;form;channel;ts\n", SIPAS_E_BAD_VALUE},
	    {HDR ",\"A1\n", SIPAS_E_BAD_VALUE},
	    {HDR ",items.id,ts2\n", SIPAS_E_NOT_FOUND},
	    {"\n\n" HDR "\n\n", SIPAS_E_NOT_FOUND},
	    {"", SIPAS_E_NOT_FOUND},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		struct rd rd;
		sipas_record rec;
		sipas_diag diag = {""};

		rd_open(&rd, t[i].text, strlen(t[i].text), SIPAS_INPUT_CSV,
		        NULL, 0);
		ck_assert_err(
		    sipas_input_next(rd.in, resp, &rd.wire, &rec, &diag),
		    t[i].rv);
		if (t[i].rv == SIPAS_E_BAD_VALUE)
			ck_assert_msg(strncmp(diag.msg, "line 1: ", 8) == 0,
			              "%s", diag.msg);
		rd_close(&rd);
	}
}
END_TEST

START_TEST(test_submit_input_csv_overlong)
{
	const size_t big = SIPAS_INPUT_MAX_LINE + 5;
	size_t n = 0;
	char *text = malloc(big + 256);
	struct rd rd;
	sipas_record rec;

	ck_assert_ptr_nonnull(text);
	n += (size_t)sprintf(text, HDR ",comment\nr-1,X,U,F,phone,5,\"");
	memset(text + n, 'x', big);
	n += big;
	n += (size_t)snprintf(text + n, 64, "\n\"\nr-2,X,U,F,phone,5,ok\n");
	rd_open(&rd, text, n, SIPAS_INPUT_CSV, NULL, 0);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(!rec.ok);
	ck_assert_err(rec.fault.code, SIPAS_E_TOO_LARGE);
	ck_assert_uint_eq(rec.line, 2);
	ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
	ck_assert(rec.ok);
	ck_assert_uint_eq(rec.line, 4);
	ck_assert_str_eq(back->comment, "ok");
	rd_close(&rd);
	free(text);
}
END_TEST

/* A real file descriptor (read(2) path), records across chunk borders. */
/* An unknown respondent.* or entry.* column whose name is not UTF-8 is
 * the key the codec refuses as bad_utf8: never an unknown_field echoing
 * the bytes (an ack's field and detail are UTF-8). */
START_TEST(test_submit_input_csv_unknown_column_utf8)
{
	static const struct {
		const char *text, *field;
		const char wire[32];
		size_t wlen;
	} cases[] = {
	    {HDR ",respondent.x\xbd\nr-1,X,U,F,phone,5,1\n", "respondent",
	     "\x82\xa2id\xa3r-1\xaarespondent\x81\xa2x\xbd\xa1\x31", 25},
	    {HDR ",entry.\xff\xfe\nr-1,X,U,F,phone,5,1\n", "entry",
	     "\x82\xa2id\xa3r-1\xa5\x65ntry\x81\xa2\xff\xfe\xa1\x31", 20},
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct rd rd;
		sipas_record rec;
		sipas_fault f;

		rd_open(&rd, cases[i].text, strlen(cases[i].text),
		        SIPAS_INPUT_CSV, NULL, 0);
		ck_assert_err(rd_next(&rd, &rec), SIPAS_OK);
		ck_assert(!rec.ok);
		ck_assert_err(rec.fault.code, SIPAS_E_BAD_UTF8);
		ck_assert_str_eq(rec.fault.field, cases[i].field);
		ck_assert_str_eq(rec.fault.id, "r-1");
		/* The codec's words for the same key in a map. */
		ck_assert_err(sipas_response_decode(cases[i].wire,
		                                    cases[i].wlen, back, &f),
		              SIPAS_E_BAD_UTF8);
		ck_assert_str_eq(rec.fault.field, f.field);
		ck_assert_str_eq(rec.fault.detail, f.detail);
		rd_close(&rd);
	}
}
END_TEST

START_TEST(test_submit_input_file)
{
	char *dir = tu_mkdtemp(), path[4096];
	FILE *f;
	sipas_input *in;
	sipas_input_opts o = {SIPAS_INPUT_JSONL, 0, NULL, NULL};
	sipas_buf wire;
	sipas_record rec;
	sipas_diag diag;
	int count = 0;

	snprintf(path, sizeof path, "%s/in.jsonl", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	for (int i = 0; i < 3000; i++)
		fprintf(f,
		        "{\"v\":1,\"id\":\"r-%d\",\"campaign\":\"SL-2024\","
		        "\"unit\":\"SNV\",\"form\":\"direct\",\"channel\":"
		        "\"postal\",\"ts\":%d,\"items\":{\"A1\":%d}}\n",
		        i, 1700000000 + i, i % 6);
	fclose(f);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	sipas_input_new(&in, f, path, &o);
	sipas_buf_init(&wire, SIPAS_MAX_REQUEST);
	while (sipas_input_next(in, resp, &wire, &rec, &diag) == SIPAS_OK) {
		ck_assert(rec.ok);
		ck_assert_uint_eq(rec.line, (uint64_t)count + 1);
		ck_assert_int_eq(resp->ts, 1700000000 + count);
		count++;
	}
	ck_assert_int_eq(count, 3000);
	sipas_buf_free(&wire);
	sipas_input_free(&in);
	sipas_input_free(&in); /* NULL is fine */
	fclose(f);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_submit_input_formats)
{
	ck_assert_int_eq(sipas_input_format_parse("jsonl"), SIPAS_INPUT_JSONL);
	ck_assert_int_eq(sipas_input_format_parse("csv"), SIPAS_INPUT_CSV);
	ck_assert_int_eq(sipas_input_format_parse("xml"), -1);
	ck_assert_str_eq(sipas_input_format_name(SIPAS_INPUT_CSV), "csv");
	ck_assert_str_eq(sipas_input_format_name(SIPAS_INPUT_JSONL), "jsonl");
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("submit_input");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_submit_input_json_every_field);
	tcase_add_loop_test(tc, test_submit_input_json_faults, 0,
	                    (int)(sizeof jcases / sizeof jcases[0]));
	tcase_add_test(tc, test_submit_input_json_same_words);
	tcase_add_test(tc, test_submit_input_json_lines);
	tcase_add_test(tc, test_submit_input_json_too_large);
	tcase_add_test(tc, test_submit_input_json_many_codes);
	tcase_add_test(tc, test_submit_input_json_deep);
	tcase_add_test(tc, test_submit_input_json_error_text_utf8);
	tcase_add_test(tc, test_submit_input_csv_every_column);
	tcase_add_loop_test(tc, test_submit_input_csv_cells, 0,
	                    (int)(sizeof ccases / sizeof ccases[0]));
	tcase_add_test(tc, test_submit_input_csv_dates);
	tcase_add_test(tc, test_submit_input_csv_without_definition);
	tcase_add_test(tc, test_submit_input_csv_headers);
	tcase_add_test(tc, test_submit_input_csv_overlong);
	tcase_add_test(tc, test_submit_input_csv_unknown_column_utf8);
	tcase_add_test(tc, test_submit_input_file);
	tcase_add_test(tc, test_submit_input_formats);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(suite());
}
