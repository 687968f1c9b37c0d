/*
 * fuzz_definition.c - libFuzzer target for the survey definition loader.
 * Any input either loads into a model whose invariants hold (pre-order
 * groups, contiguous criteria ranges, slots, id lookups that find every
 * id) or is refused with one line naming the file; nothing leaks either
 * way. A loaded definition also gets one response that answers every
 * criterion of its first unit's first form, which must validate.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_definition -max_len=20000 tests/fuzz/corpus/definition
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_definition.h"
#include "sipas_text.h"
#include "sipas_validate.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Big: kept out of the stack and reused. */
static sipas_response resp;

static void check_form(const sipas_form *f, uint32_t index)
{
	uint32_t ntop = 0;

	CHECK(f->index == index);
	CHECK(f->ngroups >= 1 && f->ngroups <= SIPAS_MAX_GROUPS);
	CHECK(f->ncriteria >= 1 && f->nslots == f->ncriteria + f->nitems);
	CHECK(f->nslots <= SIPAS_MAX_FORM_ENTRIES);
	for (uint32_t i = 0; i < f->ngroups; i++) {
		const sipas_group *g = &f->groups[i];
		uint32_t sum = 0;

		CHECK(g->weight > 0 && g->crit_count >= 1);
		CHECK(g->crit_first + g->crit_count <= f->ncriteria);
		CHECK(strlen(g->path) < SIPAS_MAX_PATH);
		CHECK(g->depth < SIPAS_MAX_GROUP_DEPTH);
		if (g->parent < 0) {
			CHECK(g->depth == 0 && f->top[ntop++] == i);
		} else {
			CHECK((uint32_t)g->parent < i);
			CHECK(g->depth == f->groups[g->parent].depth + 1);
		}
		for (uint32_t k = 0; k < g->nchildren; k++) {
			const sipas_group *ch = &f->groups[g->children[k]];

			CHECK(g->children[k] > i && ch->parent == (int32_t)i);
			sum += ch->crit_count;
		}
		CHECK(g->nchildren == 0 || sum == g->crit_count);
	}
	CHECK(ntop == f->ntop);
	for (uint32_t c = 0; c < f->ncriteria; c++) {
		const sipas_criterion *cr = &f->criteria[c];
		const sipas_group *g = &f->groups[cr->group];

		CHECK(cr->slot == c && g->nchildren == 0);
		CHECK(c >= g->crit_first && c < g->crit_first + g->crit_count);
		CHECK(sipas_form_find_slot(f, cr->id, strlen(cr->id)) ==
		      (int32_t)c);
	}
	for (uint32_t j = 0; j < f->nitems; j++) {
		const sipas_item *it = &f->items[j];

		CHECK(it->slot == f->ncriteria + j);
		CHECK(sipas_form_find_slot(f, it->id, strlen(it->id)) ==
		      (int32_t)it->slot);
		CHECK(it->kind != SIPAS_ITEM_MULTI ||
		      (it->max_choices >= 1 && it->max_choices <= it->ncodes));
		CHECK(it->kind != SIPAS_ITEM_NUMBER || it->min <= it->max);
	}
}

static void check_model(const sipas_def *d)
{
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_scale *s = sipas_def_scale(d);
	uint32_t units = 0;

	CHECK(c->window_end - c->window_start >= 86400);
	CHECK(s->min < s->max && s->nsatisfied >= 1);
	for (uint32_t i = 0; i < sipas_def_nforms(d); i++) {
		const sipas_form *f = sipas_def_form(d, i);

		check_form(f, i);
		CHECK(sipas_def_find_form(d, f->id, strlen(f->id)) == f);
	}
	for (uint32_t i = 0; i < sipas_def_nblocks(d); i++) {
		const sipas_block *b = sipas_def_block(d, i);

		CHECK(sipas_def_find_block(d, b->id, strlen(b->id)) == b);
		units += b->nunits;
	}
	CHECK(units == sipas_def_nunits(d));
	for (uint32_t i = 0; i < sipas_def_nunits(d); i++) {
		const sipas_unit *u = sipas_def_unit(d, i);

		CHECK(sipas_def_find_unit(d, u->id, strlen(u->id)) == u);
		CHECK(u->block < sipas_def_nblocks(d) && u->nforms >= 1);
		for (uint32_t k = 0; k < u->nforms; k++)
			CHECK(sipas_unit_uses_form(
			    u, sipas_def_form(d, u->forms[k])));
	}
}

/* Every criterion of the first unit's first form at the lowest level, on
 * the first second of the window: valid by construction. */
static void check_validate(const sipas_def *d)
{
	const sipas_unit *u = sipas_def_unit(d, 0);
	const sipas_form *f = sipas_def_form(d, u->forms[0]);
	sipas_checked out;
	sipas_fault fault;

	memset(&resp, 0, offsetof(sipas_response, text_used));
	resp.v = 1;
	resp.id = "fuzz";
	resp.campaign = sipas_def_campaign(d)->id;
	resp.unit = u->id;
	resp.form = f->id;
	resp.channel = "portal";
	resp.ts = sipas_def_campaign(d)->window_start;
	for (uint32_t c = 0; c < f->ncriteria; c++) {
		sipas_answer *a = &resp.answers[resp.nanswers++];

		a->item = f->criteria[c].id;
		a->item_len = (uint32_t)strlen(a->item);
		a->kind = SIPAS_ANSWER_INT;
		a->value = sipas_def_scale(d)->min;
	}
	CHECK(sipas_validate(d, &resp, &out, &fault) == SIPAS_OK);
	CHECK(out.form == f && out.unit == u);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv;

	rv = sipas_def_load((const char *)data, size, "fuzz.json", &d, &diag);
	if (rv != SIPAS_OK) {
		CHECK(d == NULL);
		CHECK(rv == SIPAS_E_DEFINITION);
		CHECK(strncmp(diag.msg, "fuzz.json: ", 11) == 0);
		CHECK(strchr(diag.msg, '\n') == NULL);
		return 0;
	}
	check_model(d);
	check_validate(d);
	sipas_def_free(&d);
	CHECK(d == NULL);
	return 0;
}
