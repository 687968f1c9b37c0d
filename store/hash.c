/*
 * hash.c - the content hash of a response, kept in `seen` beside its id:
 * the write path compares it to tell a duplicate from a conflict, and
 * sipas-admin verify compares it with the stored response.
 */
#include <stdlib.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "store_priv.h"

static int cmp_answer(const void *a, const void *b)
{
	const sipas_answer *x = *(const sipas_answer *const *)a;
	const sipas_answer *y = *(const sipas_answer *const *)b;

	return strcmp(x->item, y->item);
}

static void hash_str(XXH3_state_t *st, const char *s)
{
	uint32_t n = s != NULL ? (uint32_t)strlen(s) + 1 : 0;

	XXH3_128bits_update(st, &n, sizeof n);
	if (s != NULL)
		XXH3_128bits_update(st, s, n - 1);
}

static void hash_int(XXH3_state_t *st, int64_t v)
{
	XXH3_128bits_update(st, &v, sizeof v);
}

/*
 * Every field in a fixed order, answers sorted by item id, so the same
 * answers sent in another key order are the same content.
 */
void store_content_hash(const sipas_response *r, unsigned char out[16])
{
	const sipas_answer *sorted[SIPAS_MAX_ANSWERS];
	XXH3_state_t st;
	XXH128_canonical_t c;

	XXH3_128bits_reset(&st);
	hash_int(&st, r->v);
	hash_str(&st, r->id);
	hash_str(&st, r->campaign);
	hash_str(&st, r->unit);
	hash_str(&st, r->form);
	hash_str(&st, r->channel);
	hash_int(&st, r->ts);
	for (uint32_t i = 0; i < r->nanswers; i++)
		sorted[i] = &r->answers[i];
	qsort(sorted, r->nanswers, sizeof sorted[0], cmp_answer);
	hash_int(&st, r->nanswers);
	for (uint32_t i = 0; i < r->nanswers; i++) {
		const sipas_answer *a = sorted[i];

		hash_str(&st, a->item);
		hash_int(&st, a->kind);
		if (a->kind == SIPAS_ANSWER_INT) {
			hash_int(&st, a->value);
			continue;
		}
		hash_int(&st, a->ncodes);
		for (uint32_t k = 0; k < a->ncodes; k++)
			hash_int(&st, a->codes[k]);
	}
	hash_int(&st, r->respondent.present);
	hash_str(&st, r->respondent.kind);
	hash_str(&st, r->respondent.gender);
	hash_str(&st, r->respondent.edu);
	hash_str(&st, r->respondent.job);
	hash_str(&st, r->respondent.ethnic);
	hash_int(&st, r->respondent.has_age ? r->respondent.age : INT64_MIN);
	hash_str(&st, r->comment);
	hash_int(&st, r->entry.present);
	hash_str(&st, r->entry.clerk);
	hash_str(&st, r->entry.batch);
	hash_str(&st, r->entry.serial);
	XXH128_canonicalFromHash(&c, XXH3_128bits_digest(&st));
	memcpy(out, c.digest, 16);
}
