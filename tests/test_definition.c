/*
 * test_definition.c - the survey definition loader (interfaces.md
 * section 3): the model built from valid files, and the exact one-line
 * message for each way a file can be refused.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sipas_buf.h"
#include "sipas_definition.h"
#include "testutil.h"

#define DEFS "tests/data/defs/"

/* Timing is only asserted without AddressSanitizer (gcc says so with
 * __SANITIZE_ADDRESS__, clang with __has_feature). */
#if defined(__has_feature)
#if !__has_feature(address_sanitizer)
#define TIMED 1
#endif
#elif !defined(__SANITIZE_ADDRESS__)
#define TIMED 1
#endif

/* ---- helpers ---- */

static sipas_def *load_ok(const char *json, size_t len)
{
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_def_load(json, len, "def.json", &d, &diag);

	ck_assert_msg(rv == SIPAS_OK, "load: %s: %s", sipas_err_name(rv),
	              diag.msg);
	ck_assert_ptr_nonnull(d);
	return d;
}

static sipas_def *load_data(const char *name)
{
	char path[256];
	size_t len;
	char *json;
	sipas_def *d;

	snprintf(path, sizeof path, DEFS "%s", name);
	json = tu_read_source(path, &len);
	d = load_ok(json, len);
	free(json);
	return d;
}

/* Load json (expected to fail) and check the whole message line. */
static void load_bad(const char *json, size_t len, sipas_err want,
                     const char *msg)
{
	static int junk;
	sipas_def *d = (sipas_def *)&junk; /* must be reset to NULL */
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_def_load(json, len, "def.json", &d, &diag);

	ck_assert_msg(rv == want, "got %s (%s), want %s; message: %s",
	              sipas_err_name(rv), diag.msg, sipas_err_name(want), msg);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(diag.msg, msg);
	ck_assert_ptr_null(strchr(diag.msg, '\n'));
}

/* base with the one occurrence of `from` replaced by `to` (malloc'd). */
static char *edit(const char *base, const char *from, const char *to)
{
	const char *at = strstr(base, from);
	size_t bl = strlen(base), fl = strlen(from), tl = strlen(to);
	char *out;

	ck_assert_msg(at != NULL, "edit: '%s' not in the base", from);
	ck_assert_msg(strstr(at + 1, from) == NULL,
	              "edit: '%s' is not unique in the base", from);
	out = malloc(bl - fl + tl + 1);
	ck_assert_ptr_nonnull(out);
	memcpy(out, base, (size_t)(at - base));
	memcpy(out + (at - base), to, tl);
	memcpy(out + (at - base) + tl, at + fl,
	       bl - (size_t)(at - base) - fl + 1);
	return out;
}

/* ---- valid definitions: the model ---- */

START_TEST(test_definition_contract_example)
{
	sipas_def *d = load_data("contract-example.json");
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_scale *s = sipas_def_scale(d);
	const sipas_methods *m = sipas_def_methods(d);
	const sipas_display *disp = sipas_def_display(d);
	const sipas_form *f;
	const sipas_item *it;
	const sipas_unit *u;
	static const char *const crit[] = {"A1", "A2", "F1"};
	static const uint32_t crit_group[] = {0, 0, 1};

	ck_assert_str_eq(c->id, "SL-2024");
	ck_assert_str_eq(c->title, "SIPAS 2024 tỉnh Sơn La");
	ck_assert_str_eq(c->from, "2023-09-01");
	ck_assert_str_eq(c->to, "2024-09-30");
	ck_assert_int_eq(c->utc_offset, 25200);
	/* 2023-09-01 00:00 +07:00 and 2024-10-01 00:00 +07:00 */
	ck_assert_int_eq(c->window_start, 1693501200);
	ck_assert_int_eq(c->window_end, 1727715600);

	ck_assert_int_eq(s->min, 1);
	ck_assert_int_eq(s->max, 5);
	ck_assert_uint_eq(s->nsatisfied, 2);
	ck_assert_int_eq(s->satisfied[0], 4);
	ck_assert_int_eq(s->satisfied[1], 5);
	ck_assert(s->has_na);
	ck_assert_int_eq(s->not_applicable, 0);

	ck_assert_int_eq(m->group, SIPAS_METHOD_MEAN);
	ck_assert_int_eq(m->unit, SIPAS_METHOD_MEAN);
	ck_assert_int_eq(m->block, SIPAS_METHOD_MEAN_OF_UNITS);
	ck_assert_int_eq(m->overall, SIPAS_METHOD_MEAN_OF_BLOCKS);
	ck_assert_uint_eq(m->min_respondents, 10);
	ck_assert_uint_eq(disp->decimals, 2);
	ck_assert_int_eq(disp->rounding, SIPAS_ROUND_HALF_UP);

	ck_assert_uint_eq(sipas_def_nblocks(d), 2);
	ck_assert_str_eq(sipas_def_block(d, 0)->id, "dept");
	ck_assert_str_eq(sipas_def_block(d, 0)->name, "Sở, ban, ngành");
	ck_assert_uint_eq(sipas_def_block(d, 0)->nunits, 1);
	ck_assert_str_eq(sipas_def_block(d, 1)->id, "district");
	ck_assert_uint_eq(sipas_def_block(d, 1)->index, 1);
	ck_assert_uint_eq(sipas_def_block(d, 1)->nunits, 0);

	ck_assert_uint_eq(sipas_def_nforms(d), 1);
	f = sipas_def_form(d, 0);
	ck_assert_str_eq(f->id, "direct");
	ck_assert_str_eq(f->name, "Cơ quan có TTHC phát sinh hồ sơ trực tiếp");
	ck_assert_uint_eq(f->index, 0);
	ck_assert_uint_eq(f->ngroups, 2);
	ck_assert_uint_eq(f->ntop, 2);
	ck_assert_uint_eq(f->top[0], 0);
	ck_assert_uint_eq(f->top[1], 1);
	ck_assert_uint_eq(f->ncriteria, 3);
	ck_assert_uint_eq(f->nitems, 3);
	ck_assert_uint_eq(f->nslots, 6);
	for (uint32_t i = 0; i < 3; i++) {
		ck_assert_str_eq(f->criteria[i].id, crit[i]);
		ck_assert_uint_eq(f->criteria[i].slot, i);
		ck_assert_uint_eq(f->criteria[i].group, crit_group[i]);
	}
	ck_assert_str_eq(f->criteria[0].text, "Nơi ngồi chờ có đủ chỗ ngồi");

	ck_assert_str_eq(f->groups[0].id, "access");
	ck_assert_str_eq(f->groups[0].path, "access");
	ck_assert_str_eq(f->groups[0].name, "Tiếp cận dịch vụ");
	ck_assert_int_eq(f->groups[0].method, SIPAS_METHOD_MEAN);
	ck_assert_int_eq(f->groups[0].parent, -1);
	ck_assert_uint_eq(f->groups[0].depth, 0);
	ck_assert_uint_eq(f->groups[0].nchildren, 0);
	ck_assert_uint_eq(f->groups[0].crit_first, 0);
	ck_assert_uint_eq(f->groups[0].crit_count, 2);
	ck_assert(f->groups[0].weight == 1.0);
	ck_assert_str_eq(f->groups[1].path, "feedback");
	ck_assert_int_eq(f->groups[1].method, SIPAS_METHOD_POOLED);
	ck_assert_uint_eq(f->groups[1].crit_first, 2);
	ck_assert_uint_eq(f->groups[1].crit_count, 1);

	it = &f->items[0];
	ck_assert_str_eq(it->id, "trips");
	ck_assert_int_eq(it->kind, SIPAS_ITEM_CHOICE);
	ck_assert_uint_eq(it->slot, 3);
	ck_assert_uint_eq(it->ncodes, 4);
	for (uint32_t i = 0; i < 4; i++)
		ck_assert_int_eq(it->codes[i], i + 1);
	ck_assert_ptr_nonnull(it->labels);
	ck_assert_str_eq(it->labels[0], "1 lần");
	ck_assert_str_eq(it->labels[3], "4 lần trở lên");
	ck_assert_str_eq(it->text, "");
	it = &f->items[1];
	ck_assert_str_eq(it->id, "expect");
	ck_assert_int_eq(it->kind, SIPAS_ITEM_MULTI);
	ck_assert_uint_eq(it->slot, 4);
	ck_assert_uint_eq(it->ncodes, 10);
	ck_assert_int_eq(it->codes[9], 10);
	ck_assert_uint_eq(it->max_choices, 3);
	ck_assert_ptr_null(it->labels);
	it = &f->items[2];
	ck_assert_str_eq(it->id, "age");
	ck_assert_int_eq(it->kind, SIPAS_ITEM_NUMBER);
	ck_assert_uint_eq(it->slot, 5);
	ck_assert_int_eq(it->min, 15);
	ck_assert_int_eq(it->max, 100);

	ck_assert_uint_eq(sipas_def_nunits(d), 1);
	u = sipas_def_unit(d, 0);
	ck_assert_str_eq(u->id, "SNV");
	ck_assert_str_eq(u->name, "Sở Nội vụ");
	ck_assert_uint_eq(u->index, 0);
	ck_assert_uint_eq(u->block, 0);
	ck_assert_uint_eq(u->nforms, 1);
	ck_assert_uint_eq(u->forms[0], 0);
	sipas_def_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

/* The nested national-style form of base.json, group by group. */
static const struct {
	const char *id, *path;
	int32_t parent;
	uint32_t depth, nchildren, children[3], crit_first, crit_count;
	double weight;
	sipas_method method;
} nested[] = {
    {"policy", "policy", -1, 0, 3, {1, 2, 3}, 0, 5, 0.6, SIPAS_METHOD_MEAN},
    {"accountability",
     "policy/accountability",
     0,
     1,
     0,
     {0},
     0,
     2,
     2,
     SIPAS_METHOD_MEAN},
    {"participation",
     "policy/participation",
     0,
     1,
     0,
     {0},
     2,
     1,
     1,
     SIPAS_METHOD_MEAN},
    {"impact", "policy/impact", 0, 1, 0, {0}, 3, 2, 1, SIPAS_METHOD_POOLED},
    {"service", "service", -1, 0, 2, {5, 6}, 5, 3, 0.4, SIPAS_METHOD_MEAN},
    {"access", "service/access", 4, 1, 0, {0}, 5, 1, 1, SIPAS_METHOD_MEAN},
    {"procedure",
     "service/procedure",
     4,
     1,
     1,
     {7},
     6,
     2,
     1,
     SIPAS_METHOD_MEAN},
    {"docs",
     "service/procedure/docs",
     6,
     2,
     0,
     {0},
     6,
     2,
     1,
     SIPAS_METHOD_MEAN},
};

START_TEST(test_definition_nested_groups)
{
	sipas_def *d = load_data("base.json");
	const sipas_form *f = sipas_def_form(d, 1);
	static const char *const crit[] = {"P1", "P2", "P3", "P4",
	                                   "P5", "S1", "S2", "S3"};
	static const uint32_t crit_group[] = {1, 1, 2, 3, 3, 5, 7, 7};

	ck_assert_str_eq(f->id, "household");
	ck_assert_uint_eq(f->index, 1);
	ck_assert_uint_eq(f->ngroups, 8);
	ck_assert_uint_eq(f->ntop, 2);
	ck_assert_uint_eq(f->top[0], 0);
	ck_assert_uint_eq(f->top[1], 4);
	for (uint32_t i = 0; i < 8; i++) {
		const sipas_group *g = &f->groups[i];

		ck_assert_str_eq(g->id, nested[i].id);
		ck_assert_str_eq(g->path, nested[i].path);
		ck_assert_str_eq(g->name, "");
		ck_assert_int_eq(g->parent, nested[i].parent);
		ck_assert_uint_eq(g->depth, nested[i].depth);
		ck_assert_uint_eq(g->nchildren, nested[i].nchildren);
		for (uint32_t k = 0; k < g->nchildren; k++)
			ck_assert_uint_eq(g->children[k],
			                  nested[i].children[k]);
		ck_assert_uint_eq(g->crit_first, nested[i].crit_first);
		ck_assert_uint_eq(g->crit_count, nested[i].crit_count);
		ck_assert_double_eq(g->weight, nested[i].weight);
		ck_assert_int_eq(g->method, nested[i].method);
	}
	ck_assert_uint_eq(f->ncriteria, 8);
	ck_assert_uint_eq(f->nitems, 0);
	ck_assert_uint_eq(f->nslots, 8);
	for (uint32_t i = 0; i < 8; i++) {
		ck_assert_str_eq(f->criteria[i].id, crit[i]);
		ck_assert_uint_eq(f->criteria[i].slot, i);
		ck_assert_uint_eq(f->criteria[i].group, crit_group[i]);
	}
	/* Forms may reuse criterion ids; each form has its own slots. */
	ck_assert_int_eq(sipas_form_find_slot(f, "S1", 2), 5);
	ck_assert_int_eq(sipas_form_find_slot(sipas_def_form(d, 0), "S1", 2),
	                 2);
	/* Units: block counts and form lists in file order. */
	ck_assert_uint_eq(sipas_def_block(d, 0)->nunits, 1);
	ck_assert_uint_eq(sipas_def_block(d, 1)->nunits, 2);
	ck_assert_uint_eq(sipas_def_unit(d, 1)->block, 1);
	ck_assert_uint_eq(sipas_def_unit(d, 1)->nforms, 2);
	ck_assert_uint_eq(sipas_def_unit(d, 1)->forms[0], 0);
	ck_assert_uint_eq(sipas_def_unit(d, 1)->forms[1], 1);
	ck_assert_str_eq(sipas_def_unit(d, 2)->name, "");
	sipas_def_free(&d);
}
END_TEST

START_TEST(test_definition_defaults)
{
	sipas_def *d = load_data("minimal.json");
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_scale *s = sipas_def_scale(d);
	const sipas_methods *m = sipas_def_methods(d);
	const sipas_form *f = sipas_def_form(d, 0);

	ck_assert_str_eq(c->title, "");
	ck_assert_int_eq(c->utc_offset, 7 * 3600);
	/* 2024-01-01 00:00 +07:00 = 2023-12-31 17:00 UTC */
	ck_assert_int_eq(c->window_start, 1704042000);
	ck_assert_int_eq(c->window_end, 1735664400);
	ck_assert_int_eq(s->min, 1);
	ck_assert_int_eq(s->max, 5);
	ck_assert_uint_eq(s->nsatisfied, 2);
	ck_assert_int_eq(s->satisfied[0], 4);
	ck_assert_int_eq(s->satisfied[1], 5);
	ck_assert(s->has_na);
	ck_assert_int_eq(s->not_applicable, 0);
	ck_assert_int_eq(m->group, SIPAS_METHOD_MEAN);
	ck_assert_int_eq(m->unit, SIPAS_METHOD_MEAN);
	ck_assert_int_eq(m->block, SIPAS_METHOD_MEAN_OF_UNITS);
	ck_assert_int_eq(m->overall, SIPAS_METHOD_MEAN_OF_BLOCKS);
	ck_assert_uint_eq(m->min_respondents, 10);
	ck_assert_uint_eq(sipas_def_display(d)->decimals, 2);
	ck_assert_int_eq(sipas_def_display(d)->rounding, SIPAS_ROUND_HALF_UP);
	ck_assert_str_eq(sipas_def_block(d, 0)->name, "");
	ck_assert_str_eq(f->name, "");
	ck_assert_ptr_nonnull(f->items);
	ck_assert_uint_eq(f->nitems, 0);
	ck_assert_double_eq(f->groups[0].weight, 1.0);
	ck_assert_int_eq(f->groups[0].method, SIPAS_METHOD_MEAN);
	ck_assert_str_eq(f->criteria[0].text, "");
	sipas_def_free(&d);
}
END_TEST

/* Members given explicitly, other than the defaults. */
START_TEST(test_definition_explicit_settings)
{
	static const char json[] =
	    "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-03-01\", "
	    "\"to\": \"2024-03-01\", \"utc_offset\": \"-03:30\"},"
	    " \"scale\": {\"min\": 0, \"max\": 10, \"satisfied\": [10, 9, 8]},"
	    " \"method\": {\"group\": \"pooled\", \"unit\": \"pooled\", "
	    "\"block\": \"pooled\", \"overall\": \"mean_of_units\", "
	    "\"min_respondents\": 0},"
	    " \"display\": {\"decimals\": 0, \"rounding\": \"truncate\"},"
	    " \"blocks\": [{\"id\": \"b\"}],"
	    " \"forms\": [{\"id\": \"f\", \"groups\": ["
	    "{\"id\": \"g\", \"criteria\": [{\"id\": \"c\"}]},"
	    "{\"id\": \"h\", \"method\": \"mean\", \"weight\": 3,"
	    " \"criteria\": [{\"id\": \"d\"}]}],"
	    " \"items\": [{\"id\": \"m\", \"kind\": \"multi\", "
	    "\"codes\": [7, -2, 0]}, {\"id\": \"n\", \"kind\": \"number\", "
	    "\"min\": -5, \"max\": -5}]}],"
	    " \"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": "
	    "[\"f\"]}]}";
	sipas_def *d = load_ok(json, strlen(json));
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_scale *s = sipas_def_scale(d);
	const sipas_methods *m = sipas_def_methods(d);
	const sipas_form *f = sipas_def_form(d, 0);

	/* One day at -03:30: 2024-03-01 03:30 UTC to 2024-03-02 03:30 UTC. */
	ck_assert_int_eq(c->utc_offset, -12600);
	ck_assert_int_eq(c->window_start, 1709263800);
	ck_assert_int_eq(c->window_end, 1709263800 + 86400);
	/* 11 levels is the most a scale may have; no not-applicable level. */
	ck_assert_int_eq(s->min, 0);
	ck_assert_int_eq(s->max, 10);
	ck_assert(!s->has_na);
	ck_assert_uint_eq(s->nsatisfied, 3);
	ck_assert(sipas_scale_is_satisfied(s, 9));
	ck_assert(!sipas_scale_is_satisfied(s, 7));
	ck_assert_int_eq(m->group, SIPAS_METHOD_POOLED);
	ck_assert_int_eq(m->unit, SIPAS_METHOD_POOLED);
	ck_assert_int_eq(m->block, SIPAS_METHOD_POOLED);
	ck_assert_int_eq(m->overall, SIPAS_METHOD_MEAN_OF_UNITS);
	ck_assert_uint_eq(m->min_respondents, 0);
	ck_assert_uint_eq(sipas_def_display(d)->decimals, 0);
	ck_assert_int_eq(sipas_def_display(d)->rounding, SIPAS_ROUND_TRUNCATE);
	/* method.group is the default of groups; a group may override it. */
	ck_assert_int_eq(f->groups[0].method, SIPAS_METHOD_POOLED);
	ck_assert_int_eq(f->groups[1].method, SIPAS_METHOD_MEAN);
	ck_assert_double_eq(f->groups[1].weight, 3.0);
	/* multi: max defaults to the number of codes */
	ck_assert_uint_eq(f->items[0].max_choices, 3);
	ck_assert_int_eq(f->items[0].codes[1], -2);
	ck_assert_uint_eq(f->items[0].slot, 2);
	ck_assert_int_eq(f->items[1].min, -5);
	ck_assert_int_eq(f->items[1].max, -5);
	sipas_def_free(&d);
}
END_TEST

START_TEST(test_definition_lookups)
{
	sipas_def *d = load_data("base.json");
	const sipas_form *direct, *household;
	const sipas_unit *ms;
	/* Ids need no NUL: "SNVX" with length 3 is "SNV". */
	static const char snvx[] = "SNVX";

	direct = sipas_def_find_form(d, "direct", 6);
	household = sipas_def_find_form(d, "household", 9);
	ck_assert_ptr_eq(direct, sipas_def_form(d, 0));
	ck_assert_ptr_eq(household, sipas_def_form(d, 1));
	ck_assert_ptr_null(sipas_def_find_form(d, "direc", 5));
	ck_assert_ptr_null(sipas_def_find_form(d, "directs", 7));
	ck_assert_ptr_null(sipas_def_find_form(d, "", 0));
	ck_assert_ptr_null(sipas_def_find_form(d, NULL, 0));
	ck_assert_ptr_eq(sipas_def_find_block(d, "district", 8),
	                 sipas_def_block(d, 1));
	ck_assert_ptr_eq(sipas_def_find_block(d, "dept", 4),
	                 sipas_def_block(d, 0));
	ck_assert_ptr_null(sipas_def_find_block(d, "Dept", 4));
	ck_assert_ptr_eq(sipas_def_find_unit(d, snvx, 3), sipas_def_unit(d, 0));
	ck_assert_ptr_null(sipas_def_find_unit(d, snvx, 4));
	ck_assert_ptr_null(sipas_def_find_unit(d, snvx, 2));
	ms = sipas_def_find_unit(d, "MS", 2);
	ck_assert_ptr_eq(ms, sipas_def_unit(d, 1));
	ck_assert_ptr_eq(sipas_def_find_unit(d, "YC", 2), sipas_def_unit(d, 2));

	/* Criteria and items share the slots of a form. */
	ck_assert_int_eq(sipas_form_find_slot(direct, "A1", 2), 0);
	ck_assert_int_eq(sipas_form_find_slot(direct, "A2", 2), 1);
	ck_assert_int_eq(sipas_form_find_slot(direct, "S1", 2), 2);
	ck_assert_int_eq(sipas_form_find_slot(direct, "trips", 5), 3);
	ck_assert_int_eq(sipas_form_find_slot(direct, "expect", 6), 4);
	ck_assert_int_eq(sipas_form_find_slot(direct, "age", 3), 5);
	ck_assert_int_eq(sipas_form_find_slot(direct, "P1", 2), -1);
	ck_assert_int_eq(sipas_form_find_slot(direct, "A", 1), -1);
	ck_assert_int_eq(sipas_form_find_slot(direct, "access", 6), -1);
	ck_assert_int_eq(sipas_form_find_slot(household, "S3", 2), 7);

	ck_assert(sipas_unit_uses_form(sipas_def_unit(d, 0), direct));
	ck_assert(!sipas_unit_uses_form(sipas_def_unit(d, 0), household));
	ck_assert(sipas_unit_uses_form(ms, direct));
	ck_assert(sipas_unit_uses_form(ms, household));
	ck_assert(!sipas_unit_uses_form(sipas_def_unit(d, 2), direct));

	ck_assert(sipas_scale_is_satisfied(sipas_def_scale(d), 4));
	ck_assert(sipas_scale_is_satisfied(sipas_def_scale(d), 5));
	ck_assert(!sipas_scale_is_satisfied(sipas_def_scale(d), 3));
	ck_assert(!sipas_scale_is_satisfied(sipas_def_scale(d), 0));

	ck_assert_ptr_null(sipas_def_form(d, 2));
	ck_assert_ptr_null(sipas_def_block(d, 2));
	ck_assert_ptr_null(sipas_def_unit(d, 3));
	sipas_def_free(&d);
}
END_TEST

START_TEST(test_definition_method_names)
{
	ck_assert_str_eq(sipas_method_name(SIPAS_METHOD_MEAN), "mean");
	ck_assert_str_eq(sipas_method_name(SIPAS_METHOD_POOLED), "pooled");
	ck_assert_str_eq(sipas_method_name(SIPAS_METHOD_MEAN_OF_UNITS),
	                 "mean_of_units");
	ck_assert_str_eq(sipas_method_name(SIPAS_METHOD_MEAN_OF_BLOCKS),
	                 "mean_of_blocks");
	ck_assert_str_eq(sipas_method_name((sipas_method)42), "unknown");
}
END_TEST

START_TEST(test_definition_free_null)
{
	sipas_def *d = NULL;

	sipas_def_free(NULL);
	sipas_def_free(&d);
	ck_assert_ptr_null(d);
}
END_TEST

/* ---- files ---- */

START_TEST(test_definition_load_file)
{
	char *dir = tu_mkdtemp(), path[4096], want[4200];
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};
	FILE *f;

	snprintf(path, sizeof path, "%s/tests/data/defs/contract-example.json",
	         SIPAS_SOURCE_DIR);
	ck_assert_err(sipas_def_load_file(path, &d, &diag), SIPAS_OK);
	ck_assert_str_eq(sipas_def_campaign(d)->id, "SL-2024");
	sipas_def_free(&d);

	/* The path names the file in every message. */
	snprintf(path, sizeof path, "%s/broken.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
	      "\"to\": \"2024-12-31\"},\n \"units\": 1}\n",
	      f);
	fclose(f);
	ck_assert_err(sipas_def_load_file(path, &d, &diag), SIPAS_E_DEFINITION);
	ck_assert_ptr_null(d);
	snprintf(want, sizeof want, "%s: blocks: missing", path);
	ck_assert_str_eq(diag.msg, want);

	/* An empty file is not JSON. */
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fclose(f);
	ck_assert_err(sipas_def_load_file(path, &d, &diag), SIPAS_E_DEFINITION);
	snprintf(want, sizeof want,
	         "%s: line 1 column 0: '[' or '{' expected near end of file",
	         path);
	ck_assert_str_eq(diag.msg, want);

	snprintf(path, sizeof path, "%s/absent.json", dir);
	ck_assert_err(sipas_def_load_file(path, &d, &diag), SIPAS_E_IO);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(diag.msg, "absent.json"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_definition_too_large)
{
	static const char small[] = "{}";
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};

	/* Refused on its length alone, before a byte is read. */
	ck_assert_err(sipas_def_load(small, (size_t)SIPAS_MAX_DEFINITION + 1,
	                             "def.json", &d, &diag),
	              SIPAS_E_TOO_LARGE);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(diag.msg, "def.json: $: larger than 33554432 bytes");
}
END_TEST

/* 4,000 units, 3 forms, 100 blocks: a province with every commune. */
START_TEST(test_definition_large)
{
	sipas_buf b;
	sipas_def *d;
	struct timespec t0, t1;
	double ms;

	sipas_buf_init(&b, 8u << 20);
	ck_assert_err(
	    sipas_buf_printf(&b, "{\"campaign\": {\"id\": \"BIG\", "
	                         "\"from\": \"2024-01-01\", "
	                         "\"to\": \"2024-12-31\"}, \"blocks\": ["),
	    SIPAS_OK);
	for (int i = 0; i < 100; i++)
		ck_assert_err(sipas_buf_printf(&b,
		                               "%s{\"id\": \"b%d\", "
		                               "\"name\": \"Khối %d\"}",
		                               i ? "," : "", i, i),
		              SIPAS_OK);
	ck_assert_err(sipas_buf_printf(&b, "], \"forms\": ["), SIPAS_OK);
	for (int fo = 0; fo < 3; fo++) {
		ck_assert_err(sipas_buf_printf(&b,
		                               "%s{\"id\": \"f%d\", "
		                               "\"groups\": [",
		                               fo ? "," : "", fo),
		              SIPAS_OK);
		for (int g = 0; g < 5; g++) {
			ck_assert_err(sipas_buf_printf(&b,
			                               "%s{\"id\": \"g%d\", "
			                               "\"criteria\": [",
			                               g ? "," : "", g),
			              SIPAS_OK);
			for (int c = 0; c < 5; c++)
				ck_assert_err(
				    sipas_buf_printf(&b,
				                     "%s{\"id\": \"C%d.%d\", "
				                     "\"text\": \"Tiêu chí\"}",
				                     c ? "," : "", g, c),
				    SIPAS_OK);
			ck_assert_err(sipas_buf_printf(&b, "]}"), SIPAS_OK);
		}
		ck_assert_err(sipas_buf_printf(&b, "]}"), SIPAS_OK);
	}
	ck_assert_err(sipas_buf_printf(&b, "], \"units\": ["), SIPAS_OK);
	for (int i = 0; i < 4000; i++)
		ck_assert_err(sipas_buf_printf(&b,
		                               "%s{\"id\": \"U%04d\", "
		                               "\"name\": \"Xã số %d\", "
		                               "\"block\": \"b%d\", "
		                               "\"forms\": [\"f%d\", \"f2\"]}",
		                               i ? "," : "", i, i, i % 100,
		                               i % 2),
		              SIPAS_OK);
	ck_assert_err(sipas_buf_printf(&b, "]}"), SIPAS_OK);

	/* The best of three loads: the machine may be busy, and a fresh
	 * process first pays for growing its heap. */
	for (int run = 0; run < 3; run++) {
		double t;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		d = load_ok(b.data, b.len);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		t = (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
		    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
		ms = run == 0 || t < ms ? t : ms;
		if (run < 2)
			sipas_def_free(&d);
	}
	ck_assert_uint_eq(sipas_def_nunits(d), 4000);
	ck_assert_uint_eq(sipas_def_block(d, 7)->nunits, 40);
	ck_assert_ptr_eq(sipas_def_find_unit(d, "U3999", 5),
	                 sipas_def_unit(d, 3999));
	ck_assert_ptr_eq(sipas_def_find_unit(d, "U0000", 5),
	                 sipas_def_unit(d, 0));
	ck_assert_ptr_null(sipas_def_find_unit(d, "U4000", 5));
	ck_assert_uint_eq(sipas_def_unit(d, 3999)->forms[0], 1);
	ck_assert_uint_eq(sipas_def_unit(d, 3999)->forms[1], 2);
	ck_assert_int_eq(sipas_form_find_slot(sipas_def_form(d, 2), "C4.4", 4),
	                 24);
#ifdef TIMED
	ck_assert_msg(ms < 50.0, "loading took %.1f ms", ms);
#else
	(void)ms;
#endif
	sipas_def_free(&d);
	sipas_buf_free(&b);
}
END_TEST

/* ---- refused definitions: the exact message ---- */

enum base { WHOLE, BASE, MINI };

/* Each case edits one valid document (base.json or minimal.json), or is a
 * whole document itself (WHOLE: `from` is the document). */
static const struct bad_case {
	enum base base;
	const char *from, *to;
	const char *msg; /* after "def.json: " */
} bad_cases[] = {
    /* not JSON */
    {WHOLE, "{\"a\": }", NULL, "line 1 column 7: unexpected token near '}'"},
    {WHOLE, "{\"a\": 1, \"a\": 2}", NULL,
     "line 1 column 12: duplicate object key near '\"a\"'"},
    {WHOLE, "{} x", NULL, "line 1 column 4: end of file expected near 'x'"},
    {WHOLE, "{\"a\": 99999999999999999999}", NULL,
     "line 1 column 26: too big integer near '99999999999999999999'"},
    {WHOLE, "[1]", NULL, "$: must be an object"},
    /* unknown keys, anywhere */
    {BASE, "\"display\":", "\"extra\": 1, \"display\":", "extra: unknown key"},
    {BASE, "\"id\": \"T-2024\",", "\"id\": \"T-2024\", \"\\u00e9 x\\n\": 1,",
     "campaign[\"é x\\u000a\"]: unknown key"},
    {BASE, "\"decimals\": 2,", "\"decimals\": 2, \"locale\": \"vi\",",
     "display.locale: unknown key"},
    {BASE, "\"weight\": 2,", "\"wieght\": 2,",
     "forms[1].groups[0].groups[0].wieght: unknown key"},
    {BASE, "{\"id\": \"A1\", \"text\": \"a1\"}",
     "{\"id\": \"A1\", \"label\": \"a1\"}",
     "forms[0].groups[0].criteria[0].label: unknown key"},
    {BASE, "\"kind\": \"number\",", "\"kind\": \"number\", \"unit\": \"y\",",
     "forms[0].items[2].unit: unknown key"},
    {BASE, "\"name\": \"Mai Son\"", "\"name\": \"Mai Son\", \"parent\": \"x\"",
     "units[1].parent: unknown key"},
    {BASE, "\"not_applicable\": 0}", "\"not_applicable\": 0, \"levels\": 5}",
     "scale.levels: unknown key"},
    {BASE, "\"min_respondents\": 10}",
     "\"min_respondents\": 10, \"weights\": 1}", "method.weights: unknown key"},
    {BASE, "{\"id\": \"dept\", \"name\": \"Departments\"}",
     "{\"id\": \"dept\", \"name\": \"Departments\", \"code\": 1}",
     "blocks[0].code: unknown key"},
    {BASE, "{\"id\": \"direct\", \"name\": \"Direct\",",
     "{\"id\": \"direct\", \"name\": \"Direct\", \"kind\": \"x\",",
     "forms[0].kind: unknown key"},
    /* campaign */
    {MINI,
     "\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
     "\"to\": \"2024-12-31\"},",
     "", "campaign: missing"},
    {BASE, "{\"id\": \"T-2024\", \"title\"", "{\"title\"",
     "campaign.id: missing"},
    {BASE, "\"T-2024\"", "\"T 2024\"",
     "campaign.id: not a valid id (1 to 64 characters of A-Za-z0-9._:-)"},
    {BASE, "\"title\": \"Test campaign\"", "\"title\": [\"Test\"]",
     "campaign.title: must be a string"},
    {BASE, "\"from\": \"2024-01-01\"", "\"from\": \"2024-02-30\"",
     "campaign.from: not a valid date (YYYY-MM-DD)"},
    {BASE, "\"from\": \"2024-01-01\"", "\"from\": \"1 Jan 2024\"",
     "campaign.from: not a valid date (YYYY-MM-DD)"},
    {BASE, "\"from\": \"2024-01-01\",", "", "campaign.from: missing"},
    {BASE, "\"to\": \"2024-12-31\", ", "", "campaign.to: missing"},
    {BASE, "\"to\": \"2024-12-31\"", "\"to\": 20241231",
     "campaign.to: must be a string"},
    {BASE, "\"from\": \"2024-01-01\"", "\"from\": \"2025-01-01\"",
     "campaign: from is after to"},
    {BASE, "\"+07:00\"", "\"+7\"",
     "campaign.utc_offset: not a valid UTC offset "
     "(+HH:MM, -12:00 to +14:00)"},
    {BASE, "\"+07:00\"", "\"+14:30\"",
     "campaign.utc_offset: not a valid UTC offset "
     "(+HH:MM, -12:00 to +14:00)"},
    /* scale */
    {BASE, "\"min\": 1, \"max\": 5,", "\"min\": 5, \"max\": 5,",
     "scale: min must be less than max"},
    {BASE, "\"min\": 1, \"max\": 5,", "\"min\": 0, \"max\": 11,",
     "scale: more than 11 levels from min to max"},
    {BASE, "\"min\": 1, \"max\": 5,", "\"min\": 1,", "scale.max: missing"},
    {BASE, "\"min\": 1, \"max\": 5,", "\"min\": 1.0, \"max\": 5,",
     "scale.min: must be an integer"},
    {BASE, "\"satisfied\": [4, 5]", "\"satisfied\": [4, 6]",
     "scale.satisfied[1]: 6 is outside the scale 1..5"},
    {BASE, "[4, 5]", "[5, 5]", "scale.satisfied[1]: duplicate level 5"},
    {BASE, "[4, 5]", "[]", "scale.satisfied: must not be empty"},
    {BASE, "[4, 5]", "[4.0]", "scale.satisfied[0]: must be an integer"},
    {BASE, "\"satisfied\": [4, 5], ", "", "scale.satisfied: missing"},
    {BASE, "\"not_applicable\": 0", "\"not_applicable\": 3",
     "scale.not_applicable: 3 is inside the scale 1..5"},
    /* method, display */
    {BASE, "\"group\": \"mean\"", "\"group\": \"median\"",
     "method.group: unknown method \"median\" (expected mean or pooled)"},
    {BASE, "\"unit\": \"mean\"", "\"unit\": 1",
     "method.unit: must be a string"},
    {BASE, "\"unit\": \"mean\"", "\"unit\": \"mean_of_units\"",
     "method.unit: unknown method \"mean_of_units\" "
     "(expected mean or pooled)"},
    {BASE, "\"block\": \"mean_of_units\"", "\"block\": \"mean_of_blocks\"",
     "method.block: unknown method \"mean_of_blocks\" "
     "(expected mean_of_units or pooled)"},
    {BASE, "\"overall\": \"mean_of_blocks\"", "\"overall\": \"mean\"",
     "method.overall: unknown method \"mean\" "
     "(expected mean_of_blocks, mean_of_units or pooled)"},
    {BASE, "\"min_respondents\": 10", "\"min_respondents\": -1",
     "method.min_respondents: must be in 0..4294967295"},
    {BASE, "\"min_respondents\": 10", "\"min_respondents\": 4294967296",
     "method.min_respondents: must be in 0..4294967295"},
    {BASE, "\"min_respondents\": 10", "\"min_respondents\": 10.5",
     "method.min_respondents: must be an integer"},
    {BASE, "\"decimals\": 2", "\"decimals\": 10",
     "display.decimals: must be in 0..9"},
    {BASE, "\"rounding\": \"half_up\"", "\"rounding\": \"floor\"",
     "display.rounding: unknown rounding \"floor\" "
     "(expected half_up or truncate)"},
    /* blocks */
    {MINI, "\"blocks\": [{\"id\": \"b\"}],", "\"blocks\": [],",
     "blocks: must not be empty"},
    {MINI, "\"blocks\": [{\"id\": \"b\"}],", "", "blocks: missing"},
    {BASE, "{\"id\": \"district\", \"name\": \"Districts\"}", "\"district\"",
     "blocks[1]: must be an object"},
    {BASE, "{\"id\": \"district\", \"name\": \"Districts\"}",
     "{\"id\": \"dept\", \"name\": \"Districts\"}",
     "blocks[1].id: duplicate id \"dept\""},
    {BASE, "{\"id\": \"district\", ", "{", "blocks[1].id: missing"},
    {BASE, "\"name\": \"Departments\"", "\"name\": null",
     "blocks[0].name: must be a string"},
    /* forms and groups */
    {MINI,
     "\"forms\": [{\"id\": \"f\", \"groups\": [{\"id\": \"g\", "
     "\"criteria\": [{\"id\": \"c\"}]}]}],",
     "", "forms: missing"},
    {MINI, "\"groups\": [{\"id\": \"g\", \"criteria\": [{\"id\": \"c\"}]}]",
     "\"items\": []", "forms[0].groups: missing"},
    {MINI, "[{\"id\": \"g\", \"criteria\": [{\"id\": \"c\"}]}]", "[]",
     "forms[0].groups: must not be empty"},
    {BASE, "\"id\": \"household\"", "\"id\": \"direct\"",
     "forms[1].id: duplicate id \"direct\""},
    {BASE, "{\"id\": \"household\", ", "{", "forms[1].id: missing"},
    {BASE, "{\"id\": \"staff\", ", "{", "forms[0].groups[1].id: missing"},
    {BASE, "{\"id\": \"policy\", \"weight\": 0.6, \"groups\": [",
     "{\"id\": \"policy\", \"weight\": 0.6, \"criteria\": [{\"id\": \"X\"}], "
     "\"groups\": [",
     "forms[1].groups[0]: has both criteria and groups"},
    {BASE, "{\"id\": \"participation\", \"criteria\": [{\"id\": \"P3\"}]}",
     "{\"id\": \"participation\"}",
     "forms[1].groups[0].groups[1]: has neither criteria nor groups"},
    {BASE, "[{\"id\": \"P3\"}]", "[]",
     "forms[1].groups[0].groups[1].criteria: must not be empty"},
    {BASE, "[{\"id\": \"P3\"}]", "{\"id\": \"P3\"}",
     "forms[1].groups[0].groups[1].criteria: must be an array"},
    {BASE,
     "{\"id\": \"docs\", \"criteria\": [{\"id\": \"S2\"}, "
     "{\"id\": \"S3\"}]}",
     "", "forms[1].groups[1].groups[1].groups: must not be empty"},
    {BASE, "\"weight\": 0.6", "\"weight\": 0",
     "forms[1].groups[0].weight: must be > 0"},
    {BASE, "\"weight\": 0.6", "\"weight\": -1.5",
     "forms[1].groups[0].weight: must be > 0"},
    {BASE, "\"weight\": 0.6", "\"weight\": 1e308",
     "forms[1].groups[0].weight: must be at most 1000000"},
    {BASE, "\"weight\": 2", "\"weight\": \"2\"",
     "forms[1].groups[0].groups[0].weight: must be a number"},
    {BASE, "\"id\": \"staff\", \"method\": \"pooled\"",
     "\"id\": \"staff\", \"method\": \"sum\"",
     "forms[0].groups[1].method: unknown method \"sum\" "
     "(expected mean or pooled)"},
    {BASE, "{\"id\": \"participation\"", "{\"id\": \"accountability\"",
     "forms[1].groups[0].groups[1].id: duplicate id \"accountability\""},
    {BASE, "{\"id\": \"staff\"", "{\"id\": \"access\"",
     "forms[0].groups[1].id: duplicate id \"access\""},
    /* criteria and items: one namespace per form */
    {BASE, "{\"id\": \"A2\"}", "{\"id\": \"A1\"}",
     "forms[0].groups[0].criteria[1].id: duplicate id \"A1\""},
    {BASE, "{\"id\": \"age\"", "{\"id\": \"A2\"",
     "forms[0].items[2].id: duplicate id \"A2\""},
    {BASE, "{\"id\": \"expect\"", "{\"id\": \"trips\"",
     "forms[0].items[1].id: duplicate id \"trips\""},
    {BASE, "{\"id\": \"S3\"}", "{\"id\": \"P1\"}",
     "forms[1].groups[1].groups[1].groups[0].criteria[1].id: "
     "duplicate id \"P1\""},
    {BASE, "{\"id\": \"P3\"}", "\"P3\"",
     "forms[1].groups[0].groups[1].criteria[0]: must be an object"},
    {BASE, "{\"id\": \"A1\", \"text\": \"a1\"}",
     "{\"id\": \"A1\", \"text\": 1}",
     "forms[0].groups[0].criteria[0].text: must be a string"},
    {BASE, "{\"id\": \"A1\", \"text\": \"a1\"}", "{\"text\": \"a1\"}",
     "forms[0].groups[0].criteria[0].id: missing"},
    {BASE, "{\"id\": \"A1\"", "{\"id\": \"\"",
     "forms[0].groups[0].criteria[0].id: not a valid id "
     "(1 to 64 characters of A-Za-z0-9._:-)"},
    {BASE, "{\"id\": \"A1\"", "{\"id\": \"A/1\"",
     "forms[0].groups[0].criteria[0].id: not a valid id "
     "(1 to 64 characters of A-Za-z0-9._:-)"},
    /* items */
    {BASE, "\"kind\": \"choice\"", "\"kind\": \"scale\"",
     "forms[0].items[0].kind: unknown kind \"scale\" "
     "(expected choice, multi or number)"},
    {BASE, "\"kind\": \"number\", ", "", "forms[0].items[2].kind: missing"},
    {BASE, "\"codes\": [1, 2, 3],", "", "forms[0].items[0].codes: missing"},
    {BASE, "\"kind\": \"multi\", \"max\": 2, \"codes\": [1, 2, 3, 4]",
     "\"kind\": \"multi\", \"max\": 2", "forms[0].items[1].codes: missing"},
    {BASE, "{\"id\": \"age\", ", "{", "forms[0].items[2].id: missing"},
    {BASE, "\"codes\": [1, 2, 3]", "\"codes\": [1, 2, 2]",
     "forms[0].items[0].codes[2]: duplicate code 2"},
    {BASE, "\"codes\": [1, 2, 3]", "\"codes\": []",
     "forms[0].items[0].codes: must not be empty"},
    {BASE, "\"codes\": [1, 2, 3]", "\"codes\": [1, \"2\", 3]",
     "forms[0].items[0].codes[1]: must be an integer"},
    {BASE, "[\"one\", \"two\", \"three\"]", "[\"one\", \"two\"]",
     "forms[0].items[0].labels: 2 labels for 3 codes"},
    {BASE, "[\"one\", \"two\", \"three\"]", "[\"one\", 2, \"three\"]",
     "forms[0].items[0].labels[1]: must be a string"},
    {BASE, "\"kind\": \"choice\",", "\"kind\": \"choice\", \"max\": 1,",
     "forms[0].items[0].max: not allowed for a choice item"},
    {BASE, "\"kind\": \"multi\",", "\"kind\": \"multi\", \"min\": 1,",
     "forms[0].items[1].min: not allowed for a multi item"},
    {BASE, "\"kind\": \"number\",", "\"kind\": \"number\", \"labels\": [],",
     "forms[0].items[2].labels: not allowed for a number item"},
    {BASE, "\"kind\": \"number\",", "\"kind\": \"number\", \"codes\": [1],",
     "forms[0].items[2].codes: not allowed for a number item"},
    {BASE, "\"max\": 2,", "\"max\": 0,",
     "forms[0].items[1].max: must be in 1..4"},
    {BASE, "\"max\": 2,", "\"max\": 5,",
     "forms[0].items[1].max: must be in 1..4"},
    {BASE, "\"min\": 15, \"max\": 100", "\"max\": 100",
     "forms[0].items[2].min: missing"},
    {BASE, "\"min\": 15, \"max\": 100", "\"min\": 15",
     "forms[0].items[2].max: missing"},
    {BASE, "\"min\": 15, \"max\": 100", "\"min\": 150, \"max\": 100",
     "forms[0].items[2]: min must not be greater than max"},
    {BASE, "\"min\": 15, \"max\": 100", "\"min\": 15, \"max\": 100.0",
     "forms[0].items[2].max: must be an integer"},
    /* units */
    {BASE, "\"block\": \"dept\"", "\"block\": \"agency\"",
     "units[0].block: unknown block \"agency\""},
    {BASE, "\"block\": \"dept\"", "\"block\": 1",
     "units[0].block: must be a string"},
    {BASE, "\"block\": \"district\", \"forms\": [\"household\"]",
     "\"forms\": [\"household\"]", "units[2].block: missing"},
    {BASE, "\"forms\": [\"direct\"]}", "\"forms\": [\"online\"]}",
     "units[0].forms[0]: unknown form \"online\""},
    {BASE, "\"forms\": [\"direct\"]}", "\"forms\": []}",
     "units[0].forms: must not be empty"},
    {BASE, "\"forms\": [\"direct\"]}", "\"forms\": \"direct\"}",
     "units[0].forms: must be an array"},
    {BASE, "\"block\": \"dept\", \"forms\": [\"direct\"]",
     "\"block\": \"dept\"", "units[0].forms: missing"},
    {BASE, "[\"direct\", \"household\"]", "[\"direct\", \"direct\"]",
     "units[1].forms[1]: duplicate form \"direct\""},
    {BASE, "{\"id\": \"YC\"", "{\"id\": \"SNV\"",
     "units[2].id: duplicate id \"SNV\""},
    {BASE, "{\"id\": \"YC\", ", "{", "units[2].id: missing"},
    {MINI,
     ",\n \"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]}]",
     "", "units: missing"},
    {BASE,
     "{\"id\": \"YC\", \"block\": \"district\", \"forms\": [\"household\"]}",
     "\"YC\"", "units[2]: must be an object"},
    {MINI, "\"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]}]",
     "\"units\": []", "units: must not be empty"},
    {MINI, "\"units\": [{\"id\": \"u\", \"block\": \"b\", \"forms\": [\"f\"]}]",
     "\"units\": {}", "units: must be an array"},
};

static char *base_json, *mini_json;

static void load_bases(void)
{
	base_json = tu_read_source(DEFS "base.json", NULL);
	mini_json = tu_read_source(DEFS "minimal.json", NULL);
}

static void free_bases(void)
{
	free(base_json);
	free(mini_json);
}

START_TEST(test_definition_refused)
{
	const struct bad_case *bc = &bad_cases[_i];
	char msg[SIPAS_DIAG_MAX];
	char *json;

	if (bc->base == WHOLE)
		json = strdup(bc->from);
	else
		json = edit(bc->base == BASE ? base_json : mini_json, bc->from,
		            bc->to);
	snprintf(msg, sizeof msg, "def.json: %s", bc->msg);
	load_bad(json, strlen(json), SIPAS_E_DEFINITION, msg);
	free(json);
}
END_TEST

/* The edits apply to valid documents. */
START_TEST(test_definition_bases_valid)
{
	sipas_def *d = load_ok(base_json, strlen(base_json));

	sipas_def_free(&d);
	d = load_ok(mini_json, strlen(mini_json));
	sipas_def_free(&d);
}
END_TEST

/* ---- limits (sipas_limits.h), built in C ---- */

static void put(sipas_buf *b, const char *s)
{
	ck_assert_err(sipas_buf_append(b, s, strlen(s)), SIPAS_OK);
}

static void putn(sipas_buf *b, const char *s, int n)
{
	for (int i = 0; i < n; i++)
		put(b, s);
}

static void putf(sipas_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void putf(sipas_buf *b, const char *fmt, ...)
{
	char s[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s, sizeof s, fmt, ap);
	va_end(ap);
	put(b, s);
}

/* minimal.json with the groups (and items) of its form given. */
static void doc_form(sipas_buf *b, const char *groups, const char *items)
{
	ck_assert_err(
	    sipas_buf_printf(
	        b,
	        "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
	        "\"to\": \"2024-12-31\"}, \"blocks\": [{\"id\": \"b\"}], "
	        "\"forms\": [{\"id\": \"f\", \"groups\": %s, \"items\": %s}], "
	        "\"units\": [{\"id\": \"u\", \"block\": \"b\", "
	        "\"forms\": [\"f\"]}]}",
	        groups, items),
	    SIPAS_OK);
}

/* `levels` groups nested in one another, ids of idlen characters. */
static void doc_deep(sipas_buf *b, int levels, int idlen)
{
	sipas_buf g;

	sipas_buf_init(&g, 1u << 20);
	for (int i = 0; i < levels; i++) {
		put(&g, "[{\"id\": \"");
		for (int k = 0; k < idlen; k++)
			put(&g, k == 0 ? "g" : "x");
		put(&g, i + 1 < levels ? "\", \"groups\": "
		                       : "\", \"criteria\": "
		                         "[{\"id\": \"c\"}]");
	}
	putn(&g, "}]", levels);
	doc_form(b, g.data, "[]");
	sipas_buf_free(&g);
}

static void doc_groups(sipas_buf *b, int nchildren)
{
	sipas_buf g;

	sipas_buf_init(&g, 1u << 20);
	put(&g, "[{\"id\": \"top\", \"groups\": [");
	for (int i = 0; i < nchildren; i++)
		putf(&g,
		     "%s{\"id\": \"g%d\", \"criteria\": [{\"id\": \"c%d\"}]}",
		     i ? ", " : "", i, i);
	put(&g, "]}]");
	doc_form(b, g.data, "[]");
	sipas_buf_free(&g);
}

/* ncrit criteria in one group, then nitems items. */
static void doc_entries(sipas_buf *b, int ncrit, int nitems)
{
	sipas_buf g, it;

	sipas_buf_init(&g, 1u << 20);
	sipas_buf_init(&it, 1u << 20);
	put(&g, "[{\"id\": \"g\", \"criteria\": [");
	for (int i = 0; i < ncrit; i++)
		putf(&g, "%s{\"id\": \"c%d\"}", i ? ", " : "", i);
	put(&g, "]}]");
	put(&it, "[");
	for (int i = 0; i < nitems; i++)
		putf(&it,
		     "%s{\"id\": \"i%d\", \"kind\": \"number\", "
		     "\"min\": 0, \"max\": 1}",
		     i ? ", " : "", i);
	put(&it, "]");
	doc_form(b, g.data, it.data);
	sipas_buf_free(&g);
	sipas_buf_free(&it);
}

static void doc_codes(sipas_buf *b, int ncodes)
{
	sipas_buf it;

	sipas_buf_init(&it, 1u << 20);
	put(&it, "[{\"id\": \"m\", \"kind\": \"multi\", \"codes\": [0");
	for (int i = 1; i < ncodes; i++)
		putf(&it, ", %d", i);
	put(&it, "]}]");
	doc_form(b, "[{\"id\": \"g\", \"criteria\": [{\"id\": \"c\"}]}]",
	         it.data);
	sipas_buf_free(&it);
}

static void doc_forms(sipas_buf *b, int nforms)
{
	put(b, "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
	       "\"to\": \"2024-12-31\"}, \"blocks\": [{\"id\": \"b\"}], "
	       "\"forms\": [");
	for (int i = 0; i < nforms; i++)
		putf(b,
		     "%s{\"id\": \"f%d\", \"groups\": [{\"id\": \"g\", "
		     "\"criteria\": [{\"id\": \"c\"}]}]}",
		     i ? ", " : "", i);
	put(b, "], \"units\": [{\"id\": \"u\", \"block\": \"b\", "
	       "\"forms\": [\"f0\"]}]}");
}

/* A title, or a unit id, of n bytes. */
static void doc_title(sipas_buf *b, int n)
{
	put(b, "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
	       "\"to\": \"2024-12-31\", \"title\": \"");
	putn(b, "t", n);
	put(b,
	    "\"}, \"blocks\": [{\"id\": \"b\"}], \"forms\": [{\"id\": \"f\", "
	    "\"groups\": [{\"id\": \"g\", \"criteria\": [{\"id\": \"c\"}]}]}], "
	    "\"units\": [{\"id\": \"u\", \"block\": \"b\", "
	    "\"forms\": [\"f\"]}]}");
}

static void doc_unit_id(sipas_buf *b, int n)
{
	put(b, "{\"campaign\": {\"id\": \"C\", \"from\": \"2024-01-01\", "
	       "\"to\": \"2024-12-31\"}, \"blocks\": [{\"id\": \"b\"}], "
	       "\"forms\": [{\"id\": \"f\", \"groups\": [{\"id\": \"g\", "
	       "\"criteria\": [{\"id\": \"c\"}]}]}], \"units\": [{\"id\": \"");
	putn(b, "u", n);
	put(b, "\", \"block\": \"b\", \"forms\": [\"f\"]}]}");
}

#define G "groups[0]."
#define G8 G G G G G G G G

static const struct limit_case {
	void (*doc)(sipas_buf *b, int n);
	int ok, over;    /* n at the limit (loads), n over it (refused) */
	const char *msg; /* for `over`, after "def.json: " */
} limit_cases[] = {
    {doc_title, 2000, 2001, "campaign.title: longer than 2000 bytes"},
    {doc_unit_id, 64, 65,
     "units[0].id: not a valid id "
     "(1 to 64 characters of A-Za-z0-9._:-)"},
    {doc_codes, 64, 65, "forms[0].items[0].codes: more than 64 codes"},
    {doc_forms, 64, 65, "forms: more than 64 forms"},
    {doc_groups, 255, 256,
     "forms[0].groups[0].groups[255]: "
     "more than 256 groups in the form"},
};

START_TEST(test_definition_limits)
{
	const struct limit_case *lc = &limit_cases[_i];
	char msg[SIPAS_DIAG_MAX];
	sipas_buf b;
	sipas_def *d;

	sipas_buf_init(&b, 8u << 20);
	lc->doc(&b, lc->ok);
	d = load_ok(b.data, b.len);
	sipas_def_free(&d);
	sipas_buf_reset(&b);
	lc->doc(&b, lc->over);
	snprintf(msg, sizeof msg, "def.json: %s", lc->msg);
	load_bad(b.data, b.len, SIPAS_E_DEFINITION, msg);
	sipas_buf_free(&b);
}
END_TEST

START_TEST(test_definition_limits_of_a_form)
{
	sipas_buf b;
	sipas_def *d;

	sipas_buf_init(&b, 8u << 20);
	/* 8 levels of groups; a ninth is refused. */
	doc_deep(&b, 8, 1);
	d = load_ok(b.data, b.len);
	ck_assert_uint_eq(sipas_def_form(d, 0)->groups[7].depth, 7);
	ck_assert_str_eq(sipas_def_form(d, 0)->groups[7].path,
	                 "g/g/g/g/g/g/g/g");
	sipas_def_free(&d);
	sipas_buf_reset(&b);
	doc_deep(&b, 9, 1);
	load_bad(b.data, b.len, SIPAS_E_DEFINITION,
	         "def.json: forms[0]." G8 "groups[0]: "
	         "groups nested deeper than 8 levels");
	/* A path of 8 ids of 64 bytes would not fit SIPAS_MAX_PATH. */
	sipas_buf_reset(&b);
	doc_deep(&b, 8, 64);
	load_bad(b.data, b.len, SIPAS_E_DEFINITION,
	         "def.json: forms[0]." G G G G G G G "groups[0]: "
	         "group path longer than 511 bytes");

	/* 512 criteria, or criteria and items, fit; one more does not. */
	sipas_buf_reset(&b);
	doc_entries(&b, 512, 0);
	d = load_ok(b.data, b.len);
	ck_assert_uint_eq(sipas_def_form(d, 0)->nslots, 512);
	sipas_def_free(&d);
	sipas_buf_reset(&b);
	doc_entries(&b, 513, 0);
	load_bad(b.data, b.len, SIPAS_E_DEFINITION,
	         "def.json: forms[0].groups[0].criteria[512]: "
	         "more than 512 criteria in the form");
	sipas_buf_reset(&b);
	doc_entries(&b, 500, 12);
	d = load_ok(b.data, b.len);
	ck_assert_int_eq(sipas_form_find_slot(sipas_def_form(d, 0), "i11", 3),
	                 511);
	sipas_def_free(&d);
	sipas_buf_reset(&b);
	doc_entries(&b, 500, 13);
	load_bad(b.data, b.len, SIPAS_E_DEFINITION,
	         "def.json: forms[0].items[12]: "
	         "more than 512 criteria and items in the form");
	sipas_buf_free(&b);
}
END_TEST

static Suite *definition_suite(void)
{
	Suite *s = suite_create("definition");
	TCase *tc = tcase_create("core");

	tcase_add_unchecked_fixture(tc, load_bases, free_bases);
	tcase_add_test(tc, test_definition_contract_example);
	tcase_add_test(tc, test_definition_nested_groups);
	tcase_add_test(tc, test_definition_defaults);
	tcase_add_test(tc, test_definition_explicit_settings);
	tcase_add_test(tc, test_definition_lookups);
	tcase_add_test(tc, test_definition_method_names);
	tcase_add_test(tc, test_definition_free_null);
	tcase_add_test(tc, test_definition_load_file);
	tcase_add_test(tc, test_definition_too_large);
	tcase_add_test(tc, test_definition_large);
	tcase_add_test(tc, test_definition_bases_valid);
	tcase_add_loop_test(tc, test_definition_refused, 0,
	                    (int)(sizeof bad_cases / sizeof bad_cases[0]));
	tcase_add_loop_test(tc, test_definition_limits, 0,
	                    (int)(sizeof limit_cases / sizeof limit_cases[0]));
	tcase_add_test(tc, test_definition_limits_of_a_form);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(definition_suite());
}
