/*
 * fuzz_validate.c - libFuzzer target for response validation: the
 * worker's path from a frame to its counters. Split the frame, decode each
 * response, validate it against three fixed definitions (the two example
 * campaigns, embedded at build time, and a small one with extreme ranges),
 * and judge every verdict with a second, independent reading of the rules
 * in sipas_validate.h: a response is valid exactly when that reading says
 * so, and a refusal names the first problem in the documented order. A
 * valid response of any of them is also counted, and its counter
 * record must decode to the same counts.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_validate -max_len=70000 tests/fuzz/corpus/validate
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_defs.h"
#include "sipas_counts.h"
#include "sipas_protocol.h"
#include "sipas_text.h"
#include "sipas_validate.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Extreme but loadable: a scale at the top of int64 without a
 * not-applicable level, a number item spanning all of int64, a multi item
 * of 64 codes at most 2 of which may be chosen. Validated and counted: the
 * counters must do their arithmetic without overflow at the int64 ends. */
static const char extreme_json[] =
	"{\"campaign\": {\"id\": \"FZ\", \"from\": \"1970-01-01\","
	" \"to\": \"2100-12-31\", \"utc_offset\": \"-12:00\"},"
	" \"scale\": {\"min\": 9223372036854775797,"
	" \"max\": 9223372036854775807,"
	" \"satisfied\": [9223372036854775807]},"
	" \"blocks\": [{\"id\": \"b\"}], \"forms\": [{\"id\": \"f\", \"groups\": ["
	" {\"id\": \"g\", \"criteria\": [{\"id\": \"A1\"}, {\"id\": \"A2\"}]}],"
	" \"items\": [{\"id\": \"n\", \"kind\": \"number\","
	" \"min\": -9223372036854775808, \"max\": 9223372036854775807},"
	" {\"id\": \"m\", \"kind\": \"multi\", \"max\": 2, \"codes\": ["
	"0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,"
	"26,27,28,29,30,31,32,33,34,35,36,37,38,39,40,41,42,43,44,45,46,47,48,"
	"49,50,51,52,53,54,55,56,57,58,59,60,61,62,-9223372036854775808]},"
	" {\"id\": \"c\", \"kind\": \"choice\","
	" \"codes\": [-1, 9223372036854775807]}]},"
	" {\"id\": \"f2\", \"groups\": [{\"id\": \"g\","
	" \"criteria\": [{\"id\": \"B1\"}]}]}],"
	" \"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]},"
	" {\"id\": \"u2\", \"block\": \"b\", \"forms\": [\"f2\", \"f\"]}]}";

#define NDEFS 4

static sipas_def *defs[NDEFS];
/* Counters of every form of every definition. */
static sipas_counts *counts[NDEFS][SIPAS_MAX_FORMS],
	*again[NDEFS][SIPAS_MAX_FORMS];

/* Big: kept out of the stack and reused. */
static sipas_request req;
static sipas_response resp;
static sipas_checked chk;

static void load(int i, const char *json, size_t len, const char *name)
{
	sipas_diag diag = {{0}};

	if (sipas_def_load(json, len, name, &defs[i], &diag) != SIPAS_OK) {
		fprintf(stderr, "fuzz_validate: %s\n", diag.msg);
		abort();
	}
	for (uint32_t k = 0; k < sipas_def_nforms(defs[i]); k++) {
		const sipas_form *f = sipas_def_form(defs[i], k);

		counts[i][k] = sipas_counts_new(defs[i], f);
		again[i][k] = sipas_counts_new(defs[i], f);
	}
}

static void setup(void)
{
	if (defs[0] != NULL)
		return;
	load(0, sipas_fuzz_def_sonla, sizeof sipas_fuzz_def_sonla - 1,
	     "sonla-2024.json");
	load(1, sipas_fuzz_def_national, sizeof sipas_fuzz_def_national - 1,
	     "national-2025.json");
	load(2, extreme_json, sizeof extreme_json - 1, "extreme.json");
	load(3, sipas_fuzz_def_thainguyen, sizeof sipas_fuzz_def_thainguyen - 1,
	     "thainguyen-2025.json");
}

/* ---- the rules, read a second time ---- */

static const sipas_unit *find_unit(const sipas_def *d, const char *id)
{
	for (uint32_t i = 0; id != NULL && i < sipas_def_nunits(d); i++)
		if (strcmp(sipas_def_unit(d, i)->id, id) == 0)
			return sipas_def_unit(d, i);
	return NULL;
}

static const sipas_form *find_form(const sipas_def *d, const char *id)
{
	for (uint32_t i = 0; id != NULL && i < sipas_def_nforms(d); i++)
		if (strcmp(sipas_def_form(d, i)->id, id) == 0)
			return sipas_def_form(d, i);
	return NULL;
}

static bool uses(const sipas_unit *u, const sipas_form *f)
{
	for (uint32_t i = 0; i < u->nforms; i++)
		if (u->forms[i] == f->index)
			return true;
	return false;
}

/* Slot of item id in f by a linear scan, or -1. */
static int32_t find_slot(const sipas_form *f, const char *id, uint32_t len)
{
	if (strlen(id) != len)
		return -1; /* an id never holds a NUL byte */
	for (uint32_t c = 0; c < f->ncriteria; c++)
		if (strcmp(f->criteria[c].id, id) == 0)
			return (int32_t)c;
	for (uint32_t j = 0; j < f->nitems; j++)
		if (strcmp(f->items[j].id, id) == 0)
			return (int32_t)(f->ncriteria + j);
	return -1;
}

static bool declared(const sipas_item *it, int64_t v)
{
	for (uint32_t i = 0; i < it->ncodes; i++)
		if (it->codes[i] == v)
			return true;
	return false;
}

/* The code answer a gets for slot s of form f, SIPAS_OK when valid. */
static sipas_err judge_answer(const sipas_def *d, const sipas_form *f,
                              int32_t s, const sipas_answer *a)
{
	const sipas_scale *sc = sipas_def_scale(d);
	const sipas_item *it;

	if ((uint32_t)s < f->ncriteria) {
		if (a->kind != SIPAS_ANSWER_INT)
			return SIPAS_E_BAD_TYPE;
		if ((a->value >= sc->min && a->value <= sc->max) ||
		    (sc->has_na && a->value == sc->not_applicable))
			return SIPAS_OK;
		return SIPAS_E_OUT_OF_RANGE;
	}
	it = &f->items[(uint32_t)s - f->ncriteria];
	if ((it->kind == SIPAS_ITEM_MULTI) != (a->kind == SIPAS_ANSWER_LIST))
		return SIPAS_E_BAD_TYPE;
	switch (it->kind) {
	case SIPAS_ITEM_CHOICE:
		return declared(it, a->value) ? SIPAS_OK : SIPAS_E_OUT_OF_RANGE;
	case SIPAS_ITEM_NUMBER:
		return a->value >= it->min && a->value <= it->max
		           ? SIPAS_OK
		           : SIPAS_E_OUT_OF_RANGE;
	default:
		for (uint32_t k = 0; k < a->ncodes; k++) {
			if (!declared(it, a->codes[k]))
				return SIPAS_E_OUT_OF_RANGE;
			for (uint32_t m = 0; m < k; m++)
				if (a->codes[m] == a->codes[k])
					return SIPAS_E_OUT_OF_RANGE;
		}
		return a->ncodes <= it->max_choices ? SIPAS_OK
		                                    : SIPAS_E_OUT_OF_RANGE;
	}
}

/* The code r gets against d and the field it names (want_field). */
static sipas_err judge(const sipas_def *d, const sipas_response *r,
                       char want_field[SIPAS_ACK_FIELD_MAX])
{
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_unit *u;
	const sipas_form *f;
	bool seen[SIPAS_MAX_FORM_ENTRIES] = {false};

	want_field[0] = '\0';
	if (sipas_channel_index(r->channel) < 0) {
		strcpy(want_field, "channel");
		return SIPAS_E_BAD_VALUE;
	}
	strcpy(want_field, "campaign");
	if (r->campaign == NULL || strcmp(r->campaign, c->id) != 0)
		return SIPAS_E_UNKNOWN_CAMPAIGN;
	strcpy(want_field, "unit");
	if ((u = find_unit(d, r->unit)) == NULL)
		return SIPAS_E_UNKNOWN_UNIT;
	strcpy(want_field, "form");
	if ((f = find_form(d, r->form)) == NULL || !uses(u, f))
		return SIPAS_E_FORM_NOT_ALLOWED;
	strcpy(want_field, "ts");
	if (r->ts < c->window_start || r->ts >= c->window_end)
		return SIPAS_E_OUTSIDE_WINDOW;
	for (uint32_t i = 0; i < r->nanswers; i++) {
		const sipas_answer *a = &r->answers[i];
		int32_t s = find_slot(f, a->item, a->item_len);
		sipas_err rv;

		snprintf(want_field, SIPAS_ACK_FIELD_MAX, "items.%s", a->item);
		if (s < 0)
			return SIPAS_E_UNKNOWN_ITEM;
		if (seen[s])
			return SIPAS_E_MALFORMED;
		rv = judge_answer(d, f, s, a);
		if (rv != SIPAS_OK)
			return rv;
		seen[s] = true;
	}
	for (uint32_t k = 0; k < f->ncriteria; k++) {
		if (seen[k])
			continue;
		snprintf(want_field, SIPAS_ACK_FIELD_MAX, "items.%s",
		         f->criteria[k].id);
		return SIPAS_E_MISSING_ITEM;
	}
	want_field[0] = '\0';
	return SIPAS_OK;
}

/* ---- the verdicts ---- */

/* A fault is what an ack can carry: a wire code, UTF-8, one sentence. */
static void check_fault(const sipas_fault *f, sipas_err rv)
{
	size_t n = strlen(f->detail);

	CHECK(f->code == rv);
	CHECK(rv >= SIPAS_E_MALFORMED && rv <= SIPAS_E_BAD_UTF8);
	CHECK(n > 0 && f->detail[n - 1] == '.');
	CHECK(sipas_utf8_valid(f->detail, n));
	CHECK(sipas_utf8_valid(f->field, strlen(f->field)));
}

/* A valid response as the counters see it. */
static void check_checked(const sipas_def *d, const sipas_response *r,
                          const sipas_checked *c)
{
	uint32_t answered = 0;

	CHECK(c->unit == find_unit(d, r->unit));
	CHECK(c->form == find_form(d, r->form));
	CHECK(c->channel == sipas_channel_index(r->channel));
	for (uint32_t s = 0; s < c->form->nslots; s++) {
		const sipas_answer *a = c->slot[s];

		CHECK(s >= c->form->ncriteria || a != NULL);
		if (a == NULL)
			continue;
		CHECK(a >= r->answers && a < r->answers + r->nanswers);
		CHECK(find_slot(c->form, a->item, a->item_len) == (int32_t)s);
		answered++;
	}
	CHECK(answered == r->nanswers);
}

/* Count it; the record of the counts must read back the same. */
static void count(int di, const sipas_checked *c)
{
	sipas_counts *a = counts[di][c->form->index];
	sipas_counts *b = again[di][c->form->index];
	sipas_buf rec;

	sipas_counts_add(a, c);
	sipas_buf_init(&rec, 64u << 20);
	CHECK(sipas_counts_encode(a, &rec) == SIPAS_OK);
	sipas_counts_reset(b);
	CHECK(sipas_counts_decode(b, rec.data, rec.len) == SIPAS_OK);
	CHECK(a->respondents == b->respondents);
	CHECK(memcmp(a->channels, b->channels, sizeof a->channels) == 0);
	CHECK(memcmp(a->crit, b->crit,
	             c->form->ncriteria * (a->nlevels + 1) * sizeof *a->crit) ==
	      0);
	CHECK(memcmp(a->items, b->items,
	             a->item_off[c->form->nitems] * sizeof *a->items) == 0);
	sipas_buf_free(&rec);
	/* Keep the counters small: what matters is one response's effect. */
	if (a->respondents >= 64)
		sipas_counts_reset(a);
}

static void one_response(const sipas_span *e)
{
	char want_field[SIPAS_ACK_FIELD_MAX];
	sipas_fault f;
	sipas_err rv, want;

	if (sipas_response_decode(e->ptr, e->len, &resp, &f) != SIPAS_OK)
		return;
	for (int i = 0; i < NDEFS; i++) {
		memset(&f, 0, sizeof f);
		rv = sipas_validate(defs[i], &resp, &chk, &f);
		want = judge(defs[i], &resp, want_field);
		if (rv != want)
			fprintf(stderr, "definition %d: got %s (%s: %s), want %s "
			        "(%s)\n", i, sipas_err_name(rv), f.field,
			        f.detail, sipas_err_name(want), want_field);
		CHECK(rv == want);
		/* Without out or fault the verdict is the same. */
		CHECK(sipas_validate(defs[i], &resp, NULL, NULL) == rv);
		if (rv != SIPAS_OK) {
			check_fault(&f, rv);
			CHECK(strcmp(f.id, resp.id) == 0);
			/* A field longer than an ack field is cut. */
			CHECK(strncmp(f.field, want_field, strlen(f.field)) == 0);
			CHECK(strlen(f.field) == strlen(want_field) ||
			      strlen(f.field) >= SIPAS_ACK_FIELD_MAX - 4);
			continue;
		}
		check_checked(defs[i], &resp, &chk);
		count(i, &chk);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sipas_fault f;

	setup();
	if (sipas_request_split(data, size, &req, &f) != SIPAS_OK)
		return 0;
	for (uint32_t i = 0; i < req.count; i++)
		one_response(&req.elem[i]);
	return 0;
}
