/*
 * fuzz_request.c - libFuzzer target for the wire codec: a collector's whole
 * path from a frame to its answer. Split the frame, decode every element,
 * re-encode each response that decodes and decode it again (it must come
 * back the same), answer with acks and decode the answer.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_request -max_len=70000 tests/fuzz/corpus/request
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_buf.h"
#include "sipas_protocol.h"
#include "sipas_text.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Big: kept out of the stack and reused. */
static sipas_request req;
static sipas_response resp, again;
static sipas_ack acks[SIPAS_MAX_BATCH], back[SIPAS_MAX_BATCH];

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static void check_same_answers(const sipas_response *a, const sipas_response *b)
{
	CHECK(a->nanswers == b->nanswers);
	for (uint32_t i = 0; i < a->nanswers; i++) {
		const sipas_answer *x = &a->answers[i], *y = &b->answers[i];

		CHECK(strcmp(x->item, y->item) == 0);
		CHECK(x->item_len == y->item_len && x->kind == y->kind);
		if (x->kind == SIPAS_ANSWER_INT) {
			CHECK(x->value == y->value);
			continue;
		}
		CHECK(x->ncodes == y->ncodes);
		for (uint32_t j = 0; j < x->ncodes; j++)
			CHECK(x->codes[j] == y->codes[j]);
	}
}

static void check_same(const sipas_response *a, const sipas_response *b)
{
	const sipas_respondent *p = &a->respondent, *q = &b->respondent;

	CHECK(a->v == b->v && a->ts == b->ts);
	CHECK(same_str(a->id, b->id) && same_str(a->campaign, b->campaign));
	CHECK(same_str(a->unit, b->unit) && same_str(a->form, b->form));
	CHECK(same_str(a->channel, b->channel));
	CHECK(same_str(a->comment, b->comment));
	check_same_answers(a, b);
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
static void check_fault(const sipas_fault *f, sipas_err rv)
{
	size_t n = strlen(f->detail);

	CHECK(f->code == rv);
	CHECK(rv == SIPAS_E_BUSY ||
	      (rv >= SIPAS_E_MALFORMED && rv <= SIPAS_E_BAD_UTF8));
	CHECK(n > 0 && f->detail[n - 1] == '.');
	CHECK(sipas_utf8_valid(f->detail, n));
	CHECK(sipas_utf8_valid(f->field, strlen(f->field)));
	CHECK(f->id[0] == '\0' ||
	      sipas_id_valid(f->id, strlen(f->id), SIPAS_ID_MAX));
}

/* Decode one element; on success, encode it and decode it again. */
static void one_response(const sipas_span *e, sipas_ack *ack)
{
	sipas_fault f;
	sipas_buf out;
	sipas_err rv;

	rv = sipas_response_decode(e->ptr, e->len, &resp, &f);
	if (rv != SIPAS_OK) {
		check_fault(&f, rv);
		sipas_ack_from_fault(ack, &f);
		return;
	}
	CHECK(strcmp(f.id, resp.id) == 0);
	sipas_buf_init(&out, 2 * SIPAS_MAX_REQUEST);
	CHECK(sipas_response_encode(&out, &resp) == SIPAS_OK);
	CHECK(out.len <= e->len);
	CHECK(sipas_response_decode(out.data, out.len, &again, &f) == SIPAS_OK);
	check_same(&resp, &again);
	sipas_buf_free(&out);
	memset(ack, 0, sizeof *ack);
	ack->status = SIPAS_ACCEPTED;
	memcpy(ack->id, resp.id, strlen(resp.id) + 1);
}

static void check_acks(bool is_array, size_t n)
{
	sipas_buf out;
	size_t got = 0;
	bool arr = !is_array;

	sipas_buf_init(&out, SIPAS_MAX_ARRAY_REQUEST);
	if (is_array)
		CHECK(sipas_ack_encode_array(&out, acks, n) == SIPAS_OK);
	else
		CHECK(sipas_ack_encode(&out, &acks[0]) == SIPAS_OK);
	CHECK(sipas_ack_decode(out.data, out.len, back, SIPAS_MAX_BATCH, &got,
	                       &arr) == SIPAS_OK);
	CHECK(got == n && arr == is_array);
	for (size_t i = 0; i < n; i++) {
		CHECK(back[i].status == acks[i].status);
		CHECK(back[i].code == acks[i].code);
		CHECK(strcmp(back[i].id, acks[i].id) == 0);
		CHECK(strcmp(back[i].field, acks[i].field) == 0);
		CHECK(strcmp(back[i].detail, acks[i].detail) == 0);
	}
	sipas_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sipas_fault f;
	sipas_err rv;

	rv = sipas_request_split(data, size, &req, &f);
	if (rv != SIPAS_OK) {
		check_fault(&f, rv);
		CHECK(f.id[0] == '\0');
		sipas_ack_from_fault(&acks[0], &f);
		check_acks(false, 1);
		return 0;
	}
	CHECK(req.count <= SIPAS_MAX_BATCH);
	CHECK(req.is_array || req.count == 1);
	for (uint32_t i = 0; i < req.count; i++)
		one_response(&req.elem[i], &acks[i]);
	check_acks(req.is_array, req.count);
	return 0;
}
