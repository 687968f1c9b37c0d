/*
 * fuzz_submit_input.c - libFuzzer target for the JSON Lines and CSV readers
 * of sipas-submit. The first byte picks the reading (bit 0: CSV, else
 * JSON Lines; bit 1: the example definitions are known; bit 2: no wire
 * buffer; bits 3-4: the UTC offset of CSV dates); the other bytes are the
 * file, read through a memory stream.
 *
 * Every record read is either ready to send or refused with a fault an ack
 * could carry; line numbers only grow; what is ready to send decodes, by
 * the collector's codec, to the same response. A JSON line is also judged
 * a second way: parsed here, turned into the msgpack map it stands for and
 * given to the codec, which must answer with the code, field and sentence
 * the reader gave (sipas_input.h: "a record reads the same whether it was
 * judged here or there").
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_submit_input -max_len=16384 tests/fuzz/corpus/submit_input
 */
#define _GNU_SOURCE /* fmemopen */
#include <jansson.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_defs.h"
#include "sipas_input.h"
#include "sipas_protocol.h"
#include "sipas_text.h"
#include "sipas_validate.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static sipas_def *defs[2];
/* Big: kept out of the stack and reused. */
static sipas_response resp, back;

static const int32_t offsets[4] = {0, 25200, -43200, 50400};

static void setup(void)
{
	sipas_diag diag = {{0}};

	if (defs[0] != NULL)
		return;
	if (sipas_def_load(sipas_fuzz_def_sonla, sizeof sipas_fuzz_def_sonla - 1,
	                   "sonla-2024.json", &defs[0], &diag) != SIPAS_OK ||
	    sipas_def_load(sipas_fuzz_def_national,
	                   sizeof sipas_fuzz_def_national - 1,
	                   "national-2025.json", &defs[1], &diag) != SIPAS_OK) {
		fprintf(stderr, "fuzz_submit_input: %s\n", diag.msg);
		abort();
	}
}

static const sipas_def *by_campaign(void *ctx, const char *campaign)
{
	(void)ctx;
	for (int i = 0; i < 2; i++)
		if (strcmp(sipas_def_campaign(defs[i])->id, campaign) == 0)
			return defs[i];
	return NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* b is what the codec made of the bytes the reader wrote for a. */
static void check_same(const sipas_response *a, const sipas_response *b)
{
	const sipas_respondent *p = &a->respondent, *q = &b->respondent;

	CHECK(a->v == b->v && a->ts == b->ts);
	CHECK(same_str(a->id, b->id) && same_str(a->campaign, b->campaign));
	CHECK(same_str(a->unit, b->unit) && same_str(a->form, b->form));
	CHECK(same_str(a->channel, b->channel));
	CHECK(same_str(a->comment, b->comment));
	CHECK(a->nanswers == b->nanswers);
	for (uint32_t i = 0; i < a->nanswers; i++) {
		const sipas_answer *x = &a->answers[i], *y = &b->answers[i];

		CHECK(x->item_len == y->item_len && x->kind == y->kind);
		CHECK(memcmp(x->item, y->item, x->item_len) == 0);
		if (x->kind == SIPAS_ANSWER_INT) {
			CHECK(x->value == y->value);
			continue;
		}
		CHECK(x->ncodes == y->ncodes);
		for (uint32_t j = 0; j < x->ncodes; j++)
			CHECK(x->codes[j] == y->codes[j]);
	}
	CHECK(p->present == q->present && p->has_age == q->has_age);
	CHECK(!p->has_age || p->age == q->age);
	CHECK(same_str(p->kind, q->kind) && same_str(p->gender, q->gender));
	CHECK(same_str(p->edu, q->edu) && same_str(p->job, q->job));
	CHECK(same_str(p->ethnic, q->ethnic));
	CHECK(a->entry.present == b->entry.present);
	CHECK(same_str(a->entry.clerk, b->entry.clerk));
	CHECK(same_str(a->entry.batch, b->entry.batch));
	CHECK(same_str(a->entry.serial, b->entry.serial));
}

/* A fault is what an ack can carry: a wire code, UTF-8, one sentence. */
static void check_fault(const sipas_fault *f)
{
	size_t n = strlen(f->detail);

	if (!sipas_utf8_valid(f->detail, n) ||
	    !sipas_utf8_valid(f->field, strlen(f->field)))
		fprintf(stderr, "fault %s [%s] \"%s\"\n",
		        sipas_err_name(f->code), f->field, f->detail);
	CHECK(f->code >= SIPAS_E_MALFORMED && f->code <= SIPAS_E_BAD_UTF8);
	CHECK(n > 0 && f->detail[n - 1] == '.');
	CHECK(sipas_utf8_valid(f->detail, n));
	CHECK(sipas_utf8_valid(f->field, strlen(f->field)));
	CHECK(f->id[0] == '\0' ||
	      sipas_id_valid(f->id, strlen(f->id), SIPAS_ID_MAX));
}

/* ---- the second judge of a JSON line ---- */

/* The msgpack value a JSON value stands for. */
static void pack(msgpack_packer *pk, const json_t *v)
{
	const char *key;
	json_t *x;
	size_t i;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		msgpack_pack_map(pk, json_object_size(v));
		json_object_foreach((json_t *)v, key, x)
		{
			msgpack_pack_str_with_body(pk, key, strlen(key));
			pack(pk, x);
		}
		break;
	case JSON_ARRAY:
		msgpack_pack_array(pk, json_array_size(v));
		json_array_foreach(v, i, x)
			pack(pk, x);
		break;
	case JSON_STRING:
		msgpack_pack_str_with_body(pk, json_string_value(v),
		                           json_string_length(v));
		break;
	case JSON_INTEGER:
		msgpack_pack_int64(pk, json_integer_value(v));
		break;
	case JSON_REAL:
		msgpack_pack_double(pk, json_real_value(v));
		break;
	case JSON_TRUE:
		msgpack_pack_true(pk);
		break;
	case JSON_FALSE:
		msgpack_pack_false(pk);
		break;
	default:
		msgpack_pack_nil(pk);
		break;
	}
}

/* Line `want` (1-based) of text, without its '\n' and a '\r' before it. */
static bool nth_line(const char *text, size_t len, uint64_t want,
                     const char **line, size_t *n)
{
	const char *p = text, *end = text + len, *nl;

	for (uint64_t k = 1; k < want; k++) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			return false;
		p = nl + 1;
	}
	nl = memchr(p, '\n', (size_t)(end - p));
	*line = p;
	*n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
	if (*n > 0 && p[*n - 1] == '\r')
		(*n)--;
	return true;
}

static void judge_json_line(const char *text, size_t len,
                            const sipas_record *rec)
{
	const char *line;
	size_t n;
	json_error_t err;
	json_t *doc;
	msgpack_sbuffer sb;
	msgpack_packer pk;
	sipas_fault f;
	sipas_err rv, got = rec->ok ? SIPAS_OK : rec->fault.code;
	bool words;

	if (!nth_line(text, len, rec->line, &line, &n))
		return;
	/* What the codec cannot be shown the same way: invalid UTF-8 (the
	 * reader reads around it), and lines jansson refuses (an integer
	 * over 64 bits has a msgpack form, but not a JSON one here). */
	if (!sipas_utf8_valid(line, n))
		return;
	doc = json_loadb(line, n, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
	                 &err);
	if (doc == NULL)
		return;
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	pack(&pk, doc);
	json_decref(doc);
	/* A map over the size limit is too_large by its size, and the reader
	 * measures the map it would send, not this one. */
	if (sb.size <= SIPAS_MAX_REQUEST &&
	    !(got == SIPAS_E_TOO_LARGE && rec->fault.field[0] == '\0')) {
		rv = sipas_response_decode(sb.data, sb.size, &back, &f);
		/* A line that is not one JSON object is worded for JSON. */
		words = rv != SIPAS_E_MALFORMED;
		if (rv != got || (rv != SIPAS_OK &&
		                  (strcmp(f.field, rec->fault.field) != 0 ||
		                   (words && strcmp(f.detail,
		                                    rec->fault.detail) != 0) ||
		                   strcmp(f.id, rec->fault.id) != 0)))
			fprintf(stderr,
			        "line %llu: reader %s [%s] \"%s\" id \"%s\"; "
			        "codec %s [%s] \"%s\" id \"%s\"\n",
			        (unsigned long long)rec->line,
			        sipas_err_name(got), rec->fault.field,
			        rec->fault.detail, rec->fault.id,
			        sipas_err_name(rv), f.field, f.detail, f.id);
		CHECK(rv == got);
		if (rv == SIPAS_OK) {
			check_same(&resp, &back);
		} else {
			CHECK(strcmp(f.field, rec->fault.field) == 0);
			CHECK(!words ||
			      strcmp(f.detail, rec->fault.detail) == 0);
			CHECK(strcmp(f.id, rec->fault.id) == 0);
		}
	}
	msgpack_sbuffer_destroy(&sb);
}

/* ---- the reader ---- */

static void one_record(const sipas_record *rec, const sipas_buf *wire,
                       bool known)
{
	sipas_fault f;

	if (!rec->ok) {
		check_fault(&rec->fault);
		return;
	}
	CHECK(resp.id != NULL && resp.campaign != NULL && resp.unit != NULL);
	CHECK(resp.form != NULL && resp.channel != NULL);
	if (wire != NULL) {
		CHECK(wire->len <= SIPAS_MAX_REQUEST);
		if (sipas_response_decode(wire->data, wire->len, &back, &f) !=
		    SIPAS_OK)
			fprintf(stderr, "codec: %s [%s] %s\n",
			        sipas_err_name(f.code), f.field, f.detail);
		CHECK(sipas_response_decode(wire->data, wire->len, &back,
		                            &f) == SIPAS_OK);
		check_same(&resp, &back);
	}
	if (known) {
		const sipas_def *d = by_campaign(NULL, resp.campaign);

		if (d != NULL &&
		    sipas_validate(d, &resp, NULL, &f) != SIPAS_OK)
			check_fault(&f);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sipas_input_opts o = {0};
	sipas_input *in = NULL;
	sipas_record rec;
	sipas_diag diag;
	sipas_buf wire;
	uint64_t last = 0;
	const char *text;
	size_t len;
	bool known;
	FILE *f;
	sipas_err rv;
	int mode;

	if (size < 1)
		return 0;
	setup();
	mode = data[0];
	text = (const char *)data + 1;
	len = size - 1;
	known = mode & 2;
	o.format = mode & 1 ? SIPAS_INPUT_CSV : SIPAS_INPUT_JSONL;
	o.utc_offset = offsets[(mode >> 3) & 3];
	o.definition = known ? by_campaign : NULL;
	f = fmemopen((void *)text, len, "r");
	CHECK(f != NULL);
	sipas_input_new(&in, f, "fuzz", &o);
	sipas_buf_init(&wire, SIPAS_MAX_REQUEST);
	for (;;) {
		memset(&diag, 0, sizeof diag);
		rv = sipas_input_next(in, &resp, mode & 4 ? NULL : &wire, &rec,
		                      &diag);
		if (rv == SIPAS_E_NOT_FOUND)
			break;
		if (rv == SIPAS_E_BAD_VALUE) {
			/* A CSV header that cannot be used: the whole file. */
			CHECK(o.format == SIPAS_INPUT_CSV);
			CHECK(strncmp(diag.msg, "line ", 5) == 0);
			break;
		}
		CHECK(rv == SIPAS_OK);
		CHECK(rec.line > last);
		last = rec.line;
		CHECK(sipas_input_offset(in) <= len);
		CHECK(o.format == SIPAS_INPUT_CSV || !rec.guessed);
		one_record(&rec, mode & 4 ? NULL : &wire, known);
		/* Skip a BOM-led first line: the reader drops the mark. */
		if (o.format == SIPAS_INPUT_JSONL &&
		    !(len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0))
			judge_json_line(text, len, &rec);
	}
	sipas_buf_free(&wire);
	sipas_input_free(&in);
	CHECK(in == NULL);
	fclose(f);
	return 0;
}
