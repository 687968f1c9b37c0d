/*
 * sipas_definition.h - the survey definition of one campaign
 * (interfaces.md section 3), loaded from JSON.
 *
 * sipas_def is opaque and immutable once loaded. The parts a reader walks
 * (forms, groups, criteria, items, blocks, units) are exposed as const plain
 * structs; every pointer reached from a sipas_def lives exactly as long as
 * the sipas_def and must not be freed by the caller.
 *
 * Layout of a form, chosen so index math needs no recursion:
 *   - criteria[] lists every criterion of the form in tree order, so the
 *     criteria beneath any group form one contiguous range
 *     [crit_first, crit_first + crit_count);
 *   - groups[] lists every group of the form, all levels, in pre-order;
 *     a child always comes after its parent, so walking groups[] backwards
 *     visits children before parents;
 *   - answer slots: criterion i has slot i; item j has slot ncriteria + j.
 *     A form has nslots = ncriteria + nitems <= SIPAS_MAX_FORM_ENTRIES.
 */
#ifndef SIPAS_DEFINITION_H
#define SIPAS_DEFINITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_err.h"
#include "sipas_limits.h"

typedef enum sipas_method {
	SIPAS_METHOD_MEAN = 0,        /* "mean" */
	SIPAS_METHOD_POOLED = 1,      /* "pooled" */
	SIPAS_METHOD_MEAN_OF_UNITS = 2,  /* "mean_of_units" */
	SIPAS_METHOD_MEAN_OF_BLOCKS = 3  /* "mean_of_blocks" */
} sipas_method;

/* "mean", "pooled", ... for a method value. Static storage. */
const char *sipas_method_name(sipas_method m);

typedef enum sipas_item_kind {
	SIPAS_ITEM_CHOICE = 0,  /* one code of `codes` */
	SIPAS_ITEM_MULTI = 1,   /* an array of distinct codes, at most `max_choices` */
	SIPAS_ITEM_NUMBER = 2   /* an int in min..max */
} sipas_item_kind;

typedef struct sipas_criterion {
	const char *id;
	const char *text;   /* "" when absent */
	uint32_t slot;      /* == its index in form->criteria */
	uint32_t group;     /* index in form->groups of the group holding it */
} sipas_criterion;

typedef struct sipas_group {
	const char *id;
	const char *name;   /* "" when absent */
	const char *path;   /* ids from the top joined by '/', e.g. "policy/impact" */
	double weight;      /* > 0, default 1 */
	sipas_method method;  /* MEAN or POOLED; the campaign default when absent */
	int32_t parent;     /* index in form->groups, -1 for a top group */
	uint32_t depth;     /* 0 for a top group */
	uint32_t nchildren; /* child groups; 0 when the group holds criteria */
	const uint32_t *children;  /* indices in form->groups */
	uint32_t crit_first;  /* criteria beneath, at all levels */
	uint32_t crit_count;  /* >= 1 */
} sipas_group;

typedef struct sipas_item {
	const char *id;
	const char *text;   /* "" when absent */
	sipas_item_kind kind;
	uint32_t slot;      /* form->ncriteria + its index in form->items */
	uint32_t ncodes;    /* CHOICE, MULTI: declared codes, distinct */
	const int64_t *codes;
	const char *const *labels;  /* NULL, or ncodes labels */
	uint32_t max_choices;  /* MULTI: at most this many codes (default ncodes) */
	int64_t min, max;   /* NUMBER: inclusive range */
} sipas_item;

typedef struct sipas_form {
	const char *id;
	const char *name;
	uint32_t index;     /* position in the definition's forms */
	uint32_t ngroups;   /* all levels, pre-order */
	const sipas_group *groups;
	uint32_t ntop;      /* top-level groups */
	const uint32_t *top;  /* indices in groups */
	uint32_t ncriteria;
	const sipas_criterion *criteria;
	uint32_t nitems;
	const sipas_item *items;
	uint32_t nslots;    /* ncriteria + nitems */
} sipas_form;

typedef struct sipas_block {
	const char *id;
	const char *name;
	uint32_t index;
	uint32_t nunits;    /* units declared in this block */
} sipas_block;

typedef struct sipas_unit {
	const char *id;
	const char *name;
	uint32_t index;
	uint32_t block;     /* index in the definition's blocks */
	uint32_t nforms;
	const uint32_t *forms;  /* indices in the definition's forms */
} sipas_unit;

typedef struct sipas_scale {
	int64_t min, max;   /* Likert answers min..max; max - min < SIPAS_MAX_SCALE_LEVELS */
	uint32_t nsatisfied;
	int64_t satisfied[SIPAS_MAX_SCALE_LEVELS]; /* levels counted as satisfied */
	bool has_na;
	int64_t not_applicable;  /* the "no answer" level, outside min..max */
} sipas_scale;

typedef struct sipas_campaign {
	const char *id;
	const char *title;    /* "" when absent */
	const char *from, *to;  /* "YYYY-MM-DD" as written */
	int32_t utc_offset;   /* seconds east of UTC */
	int64_t window_start; /* unix seconds, inclusive: `from` 00:00 local */
	int64_t window_end;   /* unix seconds, exclusive: day after `to` 00:00 local */
} sipas_campaign;

typedef struct sipas_methods {
	sipas_method group;   /* MEAN or POOLED: default of groups */
	sipas_method unit;    /* MEAN or POOLED: over a form's top groups */
	sipas_method block;   /* MEAN_OF_UNITS or POOLED */
	sipas_method overall; /* MEAN_OF_BLOCKS, MEAN_OF_UNITS or POOLED */
	uint32_t min_respondents;
} sipas_methods;

typedef enum sipas_rounding {
	SIPAS_ROUND_HALF_UP = 0,
	SIPAS_ROUND_TRUNCATE = 1
} sipas_rounding;

typedef struct sipas_display {
	uint32_t decimals;    /* 0..9, default 2 */
	sipas_rounding rounding;
} sipas_display;

typedef struct sipas_def sipas_def;

/*
 * Parse and check a definition held in memory. `name` is the file name used
 * to start every message (e.g. "definition.json"). On success *out is a new
 * definition the caller frees with sipas_def_free(). On failure *out is NULL,
 * the result is SIPAS_E_DEFINITION (or SIPAS_E_TOO_LARGE over
 * SIPAS_MAX_DEFINITION) and diag->msg is one line:
 *     "<name>: <JSON path>: <problem>"
 * e.g. "definition.json: forms[1].groups[0]: has both criteria and groups".
 * The JSON path is "$" for the document itself; a JSON syntax error gives
 * "<name>: line L column C: <jansson's text>".
 */
SIPAS_MUST_CHECK sipas_err sipas_def_load(const char *json, size_t len,
					  const char *name, sipas_def **out,
					  sipas_diag *diag);

/* Read the file at `path` (at most SIPAS_MAX_DEFINITION bytes) and load it
 * as above, with `path` as the name. SIPAS_E_IO when it cannot be read. */
SIPAS_MUST_CHECK sipas_err sipas_def_load_file(const char *path, sipas_def **out,
					       sipas_diag *diag);

/* Free a definition and set *d to NULL; NULL and *d == NULL are fine. */
void sipas_def_free(sipas_def **d);

const sipas_campaign *sipas_def_campaign(const sipas_def *d);
const sipas_scale *sipas_def_scale(const sipas_def *d);
const sipas_methods *sipas_def_methods(const sipas_def *d);
const sipas_display *sipas_def_display(const sipas_def *d);

uint32_t sipas_def_nforms(const sipas_def *d);
const sipas_form *sipas_def_form(const sipas_def *d, uint32_t i);
uint32_t sipas_def_nblocks(const sipas_def *d);
const sipas_block *sipas_def_block(const sipas_def *d, uint32_t i);
uint32_t sipas_def_nunits(const sipas_def *d);
const sipas_unit *sipas_def_unit(const sipas_def *d, uint32_t i);

/* Lookups by id (exact bytes, length given; no NUL needed). NULL when there
 * is no such id. O(log n). */
const sipas_form *sipas_def_find_form(const sipas_def *d, const char *id, size_t len);
const sipas_block *sipas_def_find_block(const sipas_def *d, const char *id, size_t len);
const sipas_unit *sipas_def_find_unit(const sipas_def *d, const char *id, size_t len);

/* The criterion or item of form f named `id`: returns its answer slot
 * (0..f->nslots-1) or -1. Criteria and items share one namespace. */
int32_t sipas_form_find_slot(const sipas_form *f, const char *id, size_t len);

/* True when unit u is surveyed with form f. */
bool sipas_unit_uses_form(const sipas_unit *u, const sipas_form *f);

/* True when `level` is one of the scale's satisfied levels. */
bool sipas_scale_is_satisfied(const sipas_scale *s, int64_t level);

#endif
