/*
 * fuzz_counts.c - libFuzzer target for the counter record parser: any
 * bytes are either refused or decoded, and what decodes re-encodes into a
 * record that decodes to the same counts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_counts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char def_json[] =
	"{\"campaign\": {\"id\": \"F\", \"from\": \"2024-01-01\", \"to\": \"2024-12-31\"},"
	" \"blocks\": [{\"id\": \"b\"}], \"forms\": [{\"id\": \"f\", \"groups\": ["
	" {\"id\": \"g\", \"criteria\": [{\"id\": \"A1\"}, {\"id\": \"A2\"}]}],"
	" \"items\": [{\"id\": \"c\", \"kind\": \"choice\", \"codes\": [1, 2, 3]},"
	" {\"id\": \"m\", \"kind\": \"multi\", \"codes\": [1, 2, 3, 4]},"
	" {\"id\": \"n\", \"kind\": \"number\", \"min\": 0, \"max\": 99}]}],"
	" \"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static sipas_def *def;
	const sipas_form *f;
	sipas_counts *a, *b;
	sipas_buf rec;

	if (def == NULL) {
		sipas_diag diag;

		if (sipas_def_load(def_json, strlen(def_json), "fuzz", &def,
				   &diag) != SIPAS_OK)
			abort();
	}
	f = sipas_def_form(def, 0);
	a = sipas_counts_new(def, f);
	b = sipas_counts_new(def, f);
	sipas_buf_init(&rec, 64u << 20);
	if (sipas_counts_decode(a, data, size) == SIPAS_OK) {
		if (sipas_counts_encode(a, &rec) != SIPAS_OK)
			abort();
		if (sipas_counts_decode(b, rec.data, rec.len) != SIPAS_OK)
			abort();
		if (a->respondents != b->respondents ||
		    memcmp(a->crit, b->crit,
			   f->ncriteria * (a->nlevels + 1) * sizeof *a->crit) != 0 ||
		    memcmp(a->items, b->items,
			   a->item_off[f->nitems] * sizeof *a->items) != 0 ||
		    a->ncarry != b->ncarry)
			abort();
	}
	sipas_buf_free(&rec);
	sipas_counts_free(&a);
	sipas_counts_free(&b);
	return 0;
}
