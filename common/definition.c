/*
 * definition.c - loads and checks a survey definition (interfaces.md
 * section 3) and builds the flat model of sipas_definition.h.
 *
 * The loader walks the jansson tree once, section by section in a fixed
 * order (campaign, scale, method, display, blocks, forms, units), so the
 * first problem it meets - the one line it reports - is the same for a
 * given file whatever the order of its keys. The current JSON path is kept
 * in a buffer as the walk descends, so every message can name it.
 *
 * What the walk builds goes into the definition's arena; the arena, the
 * sorted id indexes and the readers are in definition_index.c.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_buf.h"
#include "sipas_text.h"
#include "sipas_time.h"
#include "definition_priv.h"

#define PATH_BUF 1024
#define QUOTE_SRC_MAX 40 /* bytes of a value echoed in a message */
#define QUOTE_BUF (QUOTE_SRC_MAX * 6 + 8)
#define DEFAULT_OFFSET (7 * 3600)

/* Scratch for the form being loaded; copied into the arena at its end. */
struct form_build {
	uint32_t ngroups, ncrit, nitems;
	sipas_group g[SIPAS_MAX_GROUPS];
	uint32_t gpos[SIPAS_MAX_GROUPS]; /* index in the JSON array */
	sipas_criterion c[SIPAS_MAX_CRITERIA];
	uint32_t cpos[SIPAS_MAX_CRITERIA];
	sipas_item it[SIPAS_MAX_FORM_ENTRIES];
};

struct ld {
	const char *name;
	sipas_diag *diag;
	sipas_def *d;
	struct form_build *fb;
	char path[PATH_BUF];
	size_t plen;
};

/* ---- messages and the JSON path ---- */

/*
 * s as a short double-quoted string for a message: at most QUOTE_SRC_MAX
 * bytes of it, cut on a character boundary (then "..."), with quotes,
 * backslashes and control characters escaped, so a message stays one
 * line of valid UTF-8 whatever the file holds.
 */
static const char *quote(char out[QUOTE_BUF], const char *s, size_t len)
{
	size_t n = len, o = 0;

	n = sipas_utf8_boundary(s, n, QUOTE_SRC_MAX);
	out[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch == '"' || ch == '\\') {
			out[o++] = '\\';
			out[o++] = (char)ch;
		} else if (ch < 0x20 || ch == 0x7f) {
			o += (size_t)snprintf(out + o, 7, "\\u%04x", ch);
		} else {
			out[o++] = (char)ch;
		}
	}
	if (n < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
	return out;
}

static void path_append(struct ld *ld, const char *s)
{
	size_t n = strlen(s);

	if (n >= PATH_BUF - ld->plen)
		n = PATH_BUF - ld->plen - 1;
	memcpy(ld->path + ld->plen, s, n);
	ld->plen += n;
	ld->path[ld->plen] = '\0';
}

/* Append ".key" (or "key" at the root, or ["odd key"]); returns the mark
 * to give back to pop(). */
static size_t push_key(struct ld *ld, const char *key)
{
	size_t mark = ld->plen, n = strlen(key);
	bool plain = n > 0 && n <= SIPAS_DEF_ID_MAX;
	char q[QUOTE_BUF];

	for (size_t i = 0; plain && i < n; i++) {
		char ch = key[i];

		plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		        (ch >= '0' && ch <= '9') || ch == '_';
	}
	if (!plain) {
		path_append(ld, "[");
		path_append(ld, quote(q, key, n));
		path_append(ld, "]");
		return mark;
	}
	if (ld->plen > 0)
		path_append(ld, ".");
	path_append(ld, key);
	return mark;
}

static size_t push_idx(struct ld *ld, size_t i)
{
	size_t mark = ld->plen;
	char seg[32];

	snprintf(seg, sizeof seg, "[%zu]", i);
	path_append(ld, seg);
	return mark;
}

static void pop(struct ld *ld, size_t mark)
{
	ld->plen = mark;
	ld->path[mark] = '\0';
}

/* Report "<name>: <path>: <problem>"; always returns SIPAS_E_DEFINITION. */
static sipas_err bad(struct ld *ld, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static sipas_err bad(struct ld *ld, const char *fmt, ...)
{
	char problem[SIPAS_DIAG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(problem, sizeof problem, fmt, ap);
	va_end(ap);
	sipas_diag_set(ld->diag, "%s: %s: %s", ld->name,
	               ld->plen > 0 ? ld->path : "$", problem);
	return SIPAS_E_DEFINITION;
}

static sipas_err nomem(struct ld *ld)
{
	sipas_diag_set(ld->diag, "%s: out of memory", ld->name);
	return SIPAS_E_NOMEM;
}

/* ---- typed members ---- */

static const char *copy_str(struct ld *ld, const char *s, size_t len)
{
	char *p = sipas_def_arena_alloc(&ld->d->arena, len + 1);

	if (p != NULL)
		memcpy(p, s, len);
	return p;
}

/* obj must be an object whose keys are all in `allowed` (NULL-ended). */
static sipas_err check_object(struct ld *ld, json_t *obj,
                              const char *const *allowed)
{
	const char *key;
	json_t *v;

	if (!json_is_object(obj))
		return bad(ld, "must be an object");
	json_object_foreach(obj, key, v)
	{
		size_t i = 0;

		(void)v;
		while (allowed[i] != NULL && strcmp(allowed[i], key) != 0)
			i++;
		if (allowed[i] == NULL) {
			push_key(ld, key);
			return bad(ld, "unknown key");
		}
	}
	return SIPAS_OK;
}

enum str_kind { STR_ID, STR_TEXT };

/* v (the path already names it) as an id or a text, copied into the
 * arena. */
static sipas_err str_value(struct ld *ld, json_t *v, enum str_kind kind,
                           const char **out)
{
	const char *s;
	size_t len;

	if (!json_is_string(v))
		return bad(ld, "must be a string");
	s = json_string_value(v);
	len = json_string_length(v);
	if (kind == STR_ID && !sipas_id_valid(s, len, SIPAS_DEF_ID_MAX))
		return bad(ld,
		           "not a valid id (1 to %d characters of "
		           "A-Za-z0-9._:-)",
		           SIPAS_DEF_ID_MAX);
	if (kind == STR_TEXT && len > SIPAS_DEF_TEXT_MAX)
		return bad(ld, "longer than %d bytes", SIPAS_DEF_TEXT_MAX);
	/* jansson already refuses bad UTF-8 and NULs; this keeps the
	 * promise of sipas_utf8_valid whatever the parser does. */
	if (!sipas_utf8_valid(s, len))
		return bad(ld, "not valid UTF-8");
	*out = copy_str(ld, s, len);
	return *out == NULL ? nomem(ld) : SIPAS_OK;
}

/* The string member `key` of obj (see str_value). Absent: "missing" when
 * required, else *out = dflt. */
static sipas_err get_str(struct ld *ld, json_t *obj, const char *key,
                         enum str_kind kind, bool required, const char *dflt,
                         const char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = push_key(ld, key);
	sipas_err rv = SIPAS_OK;

	*out = dflt;
	if (v == NULL)
		rv = required ? bad(ld, "missing") : SIPAS_OK;
	else
		rv = str_value(ld, v, kind, out);
	pop(ld, mark);
	return rv;
}

/* v (the path already names it) as an integer in lo..hi. */
static sipas_err int_value(struct ld *ld, json_t *v, int64_t lo, int64_t hi,
                           int64_t *out)
{
	json_int_t x;

	if (!json_is_integer(v))
		return bad(ld, "must be an integer");
	x = json_integer_value(v);
	if (x < lo || x > hi)
		return bad(ld, "must be in %lld..%lld", (long long)lo,
		           (long long)hi);
	*out = x;
	return SIPAS_OK;
}

/* The integer member `key` of obj in lo..hi; dflt when absent and not
 * required. */
static sipas_err get_int(struct ld *ld, json_t *obj, const char *key,
                         bool required, int64_t lo, int64_t hi, int64_t dflt,
                         int64_t *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = push_key(ld, key);
	sipas_err rv = SIPAS_OK;

	*out = dflt;
	if (v == NULL)
		rv = required ? bad(ld, "missing") : SIPAS_OK;
	else
		rv = int_value(ld, v, lo, hi, out);
	pop(ld, mark);
	return rv;
}

struct name_val {
	const char *name;
	int val;
};

/* The member `key` of obj as one of the n names of tab ("unknown <what>"
 * otherwise); dflt when absent and not required. */
static sipas_err get_enum(struct ld *ld, json_t *obj, const char *key,
                          const struct name_val *tab, size_t n,
                          const char *what, bool required, int dflt, int *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = push_key(ld, key);
	sipas_err rv = SIPAS_OK;
	char names[256] = "", q[QUOTE_BUF];

	*out = dflt;
	if (v == NULL) {
		if (required)
			rv = bad(ld, "missing");
		goto out;
	}
	if (!json_is_string(v)) {
		rv = bad(ld, "must be a string");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(json_string_value(v), tab[i].name) == 0) {
			*out = tab[i].val;
			goto out;
		}
	}
	/* "mean, pooled" -> "expected mean or pooled" */
	for (size_t i = 0, o = 0; i < n && o < sizeof names; i++)
		o += (size_t)snprintf(names + o, sizeof names - o, "%s%s",
		                      i == 0       ? ""
		                      : i + 1 == n ? " or "
		                                   : ", ",
		                      tab[i].name);
	rv = bad(ld, "unknown %s %s (expected %s)", what,
	         quote(q, json_string_value(v), json_string_length(v)), names);
out:
	pop(ld, mark);
	return rv;
}

enum { ARR_REQUIRED = 1, ARR_NONEMPTY = 2 };

/* The array member `key` of obj with at most max elements; *out is NULL
 * when it is absent and not required. */
static sipas_err get_array(struct ld *ld, json_t *obj, const char *key,
                           int flags, size_t max, const char *what,
                           json_t **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = push_key(ld, key);
	sipas_err rv = SIPAS_OK;

	*out = NULL;
	if (v == NULL)
		rv = (flags & ARR_REQUIRED) ? bad(ld, "missing") : SIPAS_OK;
	else if (!json_is_array(v))
		rv = bad(ld, "must be an array");
	else if ((flags & ARR_NONEMPTY) && json_array_size(v) == 0)
		rv = bad(ld, "must not be empty");
	else if (json_array_size(v) > max)
		rv = bad(ld, "more than %zu %s", max, what);
	else
		*out = v;
	pop(ld, mark);
	return rv;
}

/* The member `key` must be absent for this kind of item. */
static sipas_err forbid(struct ld *ld, json_t *obj, const char *key,
                        const char *kind)
{
	size_t mark;
	sipas_err rv;

	if (json_object_get(obj, key) == NULL)
		return SIPAS_OK;
	mark = push_key(ld, key);
	rv = bad(ld, "not allowed for a %s item", kind);
	pop(ld, mark);
	return rv;
}

/* ---- campaign, scale, method, display ---- */

static sipas_err get_date(struct ld *ld, json_t *obj, const char *key,
                          const char **out, int64_t *days)
{
	size_t mark;
	sipas_err rv = get_str(ld, obj, key, STR_TEXT, true, NULL, out);

	if (rv != SIPAS_OK)
		return rv;
	if (sipas_time_parse_date(*out, strlen(*out), days) == SIPAS_OK)
		return SIPAS_OK;
	mark = push_key(ld, key);
	rv = bad(ld, "not a valid date (YYYY-MM-DD)");
	pop(ld, mark);
	return rv;
}

static sipas_err load_campaign(struct ld *ld, json_t *root)
{
	static const char *const keys[] = {"id", "title",      "from",
	                                   "to", "utc_offset", NULL};
	sipas_campaign *c = &ld->d->campaign;
	json_t *obj = json_object_get(root, "campaign");
	size_t mark = push_key(ld, "campaign");
	const char *off;
	int64_t from, to;
	sipas_err rv;

	if (obj == NULL) {
		rv = bad(ld, "missing");
		goto out;
	}
	if ((rv = check_object(ld, obj, keys)) != SIPAS_OK ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &c->id)) ||
	    (rv = get_str(ld, obj, "title", STR_TEXT, false, "", &c->title)) ||
	    (rv = get_date(ld, obj, "from", &c->from, &from)) ||
	    (rv = get_date(ld, obj, "to", &c->to, &to)) ||
	    (rv = get_str(ld, obj, "utc_offset", STR_TEXT, false, NULL, &off)))
		goto out;
	c->utc_offset = DEFAULT_OFFSET;
	if (off != NULL &&
	    sipas_time_parse_offset(off, strlen(off), &c->utc_offset)) {
		push_key(ld, "utc_offset");
		rv = bad(ld,
		         "not a valid UTC offset (+HH:MM, -12:00 to +14:00)");
		goto out;
	}
	if (from > to) {
		rv = bad(ld, "from is after to");
		goto out;
	}
	/* From `from` 00:00 local to the end of `to` local. */
	c->window_start = from * 86400 - c->utc_offset;
	c->window_end = (to + 1) * 86400 - c->utc_offset;
out:
	pop(ld, mark);
	return rv;
}

static sipas_err load_satisfied(struct ld *ld, json_t *obj)
{
	sipas_scale *s = &ld->d->scale;
	json_t *arr;
	sipas_err rv;

	rv = get_array(ld, obj, "satisfied", ARR_REQUIRED | ARR_NONEMPTY,
	               SIZE_MAX, "levels", &arr);
	if (rv != SIPAS_OK)
		return rv;
	s->nsatisfied = 0;
	for (size_t i = 0; i < json_array_size(arr); i++) {
		size_t mark = push_key(ld, "satisfied");
		int64_t lv = 0;

		push_idx(ld, i);
		rv = int_value(ld, json_array_get(arr, i), INT64_MIN, INT64_MAX,
		               &lv);
		if (rv == SIPAS_OK && (lv < s->min || lv > s->max))
			rv = bad(ld, "%lld is outside the scale %lld..%lld",
			         (long long)lv, (long long)s->min,
			         (long long)s->max);
		for (uint32_t k = 0; rv == SIPAS_OK && k < s->nsatisfied; k++)
			if (s->satisfied[k] == lv)
				rv = bad(ld, "duplicate level %lld",
				         (long long)lv);
		pop(ld, mark);
		if (rv != SIPAS_OK)
			return rv;
		/* Distinct and within a scale of at most
		 * SIPAS_MAX_SCALE_LEVELS levels: it fits. */
		s->satisfied[s->nsatisfied++] = lv;
	}
	return SIPAS_OK;
}

static sipas_err load_scale(struct ld *ld, json_t *root)
{
	static const char *const keys[] = {"min", "max", "satisfied",
	                                   "not_applicable", NULL};
	sipas_scale *s = &ld->d->scale;
	json_t *obj = json_object_get(root, "scale");
	size_t mark = push_key(ld, "scale");
	sipas_err rv = SIPAS_OK;

	if (obj == NULL) {
		*s = (sipas_scale){.min = 1,
		                   .max = 5,
		                   .nsatisfied = 2,
		                   .satisfied = {4, 5},
		                   .has_na = true,
		                   .not_applicable = 0};
		goto out;
	}
	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_int(ld, obj, "min", true, INT64_MIN, INT64_MAX, 0,
	                  &s->min)) ||
	    (rv = get_int(ld, obj, "max", true, INT64_MIN, INT64_MAX, 0,
	                  &s->max)))
		goto out;
	if (s->min >= s->max) {
		rv = bad(ld, "min must be less than max");
		goto out;
	}
	/* The difference of two int64 fits a uint64. */
	if ((uint64_t)s->max - (uint64_t)s->min >= SIPAS_MAX_SCALE_LEVELS) {
		rv = bad(ld, "more than %d levels from min to max",
		         SIPAS_MAX_SCALE_LEVELS);
		goto out;
	}
	if ((rv = load_satisfied(ld, obj)) != SIPAS_OK)
		goto out;
	s->has_na = json_object_get(obj, "not_applicable") != NULL;
	rv = get_int(ld, obj, "not_applicable", false, INT64_MIN, INT64_MAX, 0,
	             &s->not_applicable);
	if (rv == SIPAS_OK && s->has_na && s->not_applicable >= s->min &&
	    s->not_applicable <= s->max) {
		push_key(ld, "not_applicable");
		rv = bad(ld, "%lld is inside the scale %lld..%lld",
		         (long long)s->not_applicable, (long long)s->min,
		         (long long)s->max);
	}
out:
	pop(ld, mark);
	return rv;
}

static const struct name_val group_methods[] = {
    {"mean", SIPAS_METHOD_MEAN}, {"pooled", SIPAS_METHOD_POOLED}};
static const struct name_val block_methods[] = {
    {"mean_of_units", SIPAS_METHOD_MEAN_OF_UNITS},
    {"pooled", SIPAS_METHOD_POOLED}};
static const struct name_val overall_methods[] = {
    {"mean_of_blocks", SIPAS_METHOD_MEAN_OF_BLOCKS},
    {"mean_of_units", SIPAS_METHOD_MEAN_OF_UNITS},
    {"pooled", SIPAS_METHOD_POOLED}};
#define NV(t) (t), (sizeof(t) / sizeof((t)[0]))

static sipas_err load_method(struct ld *ld, json_t *root)
{
	static const char *const keys[] = {
	    "group", "unit", "block", "overall", "min_respondents", NULL};
	sipas_methods *m = &ld->d->methods;
	json_t *obj = json_object_get(root, "method");
	size_t mark = push_key(ld, "method");
	int g = SIPAS_METHOD_MEAN, u = SIPAS_METHOD_MEAN;
	int b = SIPAS_METHOD_MEAN_OF_UNITS, o = SIPAS_METHOD_MEAN_OF_BLOCKS;
	int64_t minr = 10;
	sipas_err rv = SIPAS_OK;

	if (obj != NULL &&
	    ((rv = check_object(ld, obj, keys)) ||
	     (rv = get_enum(ld, obj, "group", NV(group_methods), "method",
	                    false, g, &g)) ||
	     (rv = get_enum(ld, obj, "unit", NV(group_methods), "method", false,
	                    u, &u)) ||
	     (rv = get_enum(ld, obj, "block", NV(block_methods), "method",
	                    false, b, &b)) ||
	     (rv = get_enum(ld, obj, "overall", NV(overall_methods), "method",
	                    false, o, &o)) ||
	     (rv = get_int(ld, obj, "min_respondents", false, 0, UINT32_MAX,
	                   minr, &minr))))
		goto out;
	m->group = (sipas_method)g;
	m->unit = (sipas_method)u;
	m->block = (sipas_method)b;
	m->overall = (sipas_method)o;
	m->min_respondents = (uint32_t)minr;
out:
	pop(ld, mark);
	return rv;
}

static sipas_err load_display(struct ld *ld, json_t *root)
{
	static const char *const keys[] = {"decimals", "rounding", NULL};
	static const struct name_val roundings[] = {
	    {"half_up", SIPAS_ROUND_HALF_UP},
	    {"truncate", SIPAS_ROUND_TRUNCATE}};
	json_t *obj = json_object_get(root, "display");
	size_t mark = push_key(ld, "display");
	int64_t dec = 2;
	int r = SIPAS_ROUND_HALF_UP;
	sipas_err rv = SIPAS_OK;

	if (obj != NULL &&
	    ((rv = check_object(ld, obj, keys)) ||
	     (rv = get_int(ld, obj, "decimals", false, 0, 9, dec, &dec)) ||
	     (rv = get_enum(ld, obj, "rounding", NV(roundings), "rounding",
	                    false, r, &r))))
		goto out;
	ld->d->display.decimals = (uint32_t)dec;
	ld->d->display.rounding = (sipas_rounding)r;
out:
	pop(ld, mark);
	return rv;
}

/* ---- blocks ---- */

/* Build a sorted index of n ids and refuse a repeated one, naming
 * "<array>[i].id" of its first repeat. */
static sipas_err build_index(struct ld *ld, const char *array,
                             struct sipas_idref *ix, size_t n)
{
	int64_t dup = sipas_def_sort_ids(ix, n);
	size_t mark;
	sipas_err rv;

	if (dup < 0)
		return SIPAS_OK;
	mark = push_key(ld, array);
	push_idx(ld, (size_t)dup);
	push_key(ld, "id");
	for (size_t i = 0;; i++) {
		if (ix[i].pos == dup) {
			rv = bad(ld, "duplicate id \"%s\"", ix[i].id);
			break;
		}
	}
	pop(ld, mark);
	return rv;
}

static sipas_err load_blocks(struct ld *ld, json_t *root)
{
	static const char *const keys[] = {"id", "name", NULL};
	sipas_def *d = ld->d;
	json_t *arr;
	sipas_err rv;

	rv = get_array(ld, root, "blocks", ARR_REQUIRED | ARR_NONEMPTY,
	               SIPAS_MAX_BLOCKS, "blocks", &arr);
	if (rv != SIPAS_OK)
		return rv;
	d->nblocks = (uint32_t)json_array_size(arr);
	d->blocks =
	    sipas_def_arena_alloc(&d->arena, d->nblocks * sizeof *d->blocks);
	d->block_ix =
	    sipas_def_arena_alloc(&d->arena, d->nblocks * sizeof *d->block_ix);
	if (d->blocks == NULL || d->block_ix == NULL)
		return nomem(ld);
	for (uint32_t i = 0; i < d->nblocks; i++) {
		json_t *obj = json_array_get(arr, i);
		sipas_block *b = &d->blocks[i];
		size_t mark = push_key(ld, "blocks");

		push_idx(ld, i);
		if ((rv = check_object(ld, obj, keys)) ||
		    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &b->id)) ||
		    (rv = get_str(ld, obj, "name", STR_TEXT, false, "",
		                  &b->name)))
			return rv;
		pop(ld, mark);
		b->index = i;
		d->block_ix[i] =
		    (struct sipas_idref){b->id, (uint32_t)strlen(b->id), i};
	}
	return build_index(ld, "blocks", d->block_ix, d->nblocks);
}

/* ---- forms ---- */

static sipas_err walk_groups(struct ld *ld, json_t *arr, int32_t parent,
                             uint32_t depth);

static sipas_err load_criterion(struct ld *ld, json_t *obj, uint32_t group,
                                uint32_t pos)
{
	static const char *const keys[] = {"id", "text", NULL};
	struct form_build *fb = ld->fb;
	sipas_criterion *c = &fb->c[fb->ncrit];
	sipas_err rv;

	if (fb->ncrit == SIPAS_MAX_CRITERIA)
		return bad(ld, "more than %d criteria in the form",
		           SIPAS_MAX_CRITERIA);
	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &c->id)) ||
	    (rv = get_str(ld, obj, "text", STR_TEXT, false, "", &c->text)))
		return rv;
	c->slot = fb->ncrit;
	c->group = group;
	fb->cpos[fb->ncrit++] = pos;
	return SIPAS_OK;
}

/* The group's path: its parent's path, '/', its id. */
static sipas_err group_path(struct ld *ld, sipas_group *g)
{
	const char *pp = g->parent < 0 ? NULL : ld->fb->g[g->parent].path;
	size_t plen = pp == NULL ? 0 : strlen(pp) + 1, idlen = strlen(g->id);
	char *p;

	if (plen + idlen >= SIPAS_MAX_PATH)
		return bad(ld, "group path longer than %d bytes",
		           SIPAS_MAX_PATH - 1);
	p = sipas_def_arena_alloc(&ld->d->arena, plen + idlen + 1);
	if (p == NULL)
		return nomem(ld);
	if (pp != NULL) {
		memcpy(p, pp, plen - 1);
		p[plen - 1] = '/';
	}
	memcpy(p + plen, g->id, idlen);
	g->path = p;
	return SIPAS_OK;
}

/* The contents of one group: criteria, or nested groups (one of them). */
static sipas_err group_contents(struct ld *ld, json_t *obj, uint32_t gi,
                                uint32_t depth)
{
	json_t *crit = json_object_get(obj, "criteria");
	json_t *sub = json_object_get(obj, "groups");
	sipas_err rv;

	if (crit != NULL && sub != NULL)
		return bad(ld, "has both criteria and groups");
	if (crit == NULL && sub == NULL)
		return bad(ld, "has neither criteria nor groups");
	if (sub != NULL) {
		rv = get_array(ld, obj, "groups", ARR_NONEMPTY, SIZE_MAX,
		               "groups", &sub);
		return rv ? rv : walk_groups(ld, sub, (int32_t)gi, depth + 1);
	}
	rv = get_array(ld, obj, "criteria", ARR_NONEMPTY, SIZE_MAX, "criteria",
	               &crit);
	for (size_t i = 0; rv == SIPAS_OK && i < json_array_size(crit); i++) {
		size_t mark = push_key(ld, "criteria");

		push_idx(ld, i);
		rv = load_criterion(ld, json_array_get(crit, i), gi,
		                    (uint32_t)i);
		if (rv == SIPAS_OK)
			pop(ld, mark);
	}
	return rv;
}

static sipas_err load_group(struct ld *ld, json_t *obj, int32_t parent,
                            uint32_t depth, uint32_t pos, uint32_t first)
{
	static const char *const keys[] = {
	    "id", "name", "weight", "method", "criteria", "groups", NULL};
	struct form_build *fb = ld->fb;
	uint32_t gi = fb->ngroups;
	sipas_group *g = &fb->g[gi];
	json_t *w;
	int method;
	sipas_err rv;

	if (depth >= SIPAS_MAX_GROUP_DEPTH)
		return bad(ld, "groups nested deeper than %d levels",
		           SIPAS_MAX_GROUP_DEPTH);
	if (gi == SIPAS_MAX_GROUPS)
		return bad(ld, "more than %d groups in the form",
		           SIPAS_MAX_GROUPS);
	memset(g, 0, sizeof *g);
	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &g->id)))
		return rv;
	/* Siblings are the groups added since this array began that have
	 * the same parent (the others are their descendants). */
	for (uint32_t k = first; k < gi; k++) {
		if (fb->g[k].parent == parent &&
		    strcmp(fb->g[k].id, g->id) == 0) {
			push_key(ld, "id");
			return bad(ld, "duplicate id \"%s\"", g->id);
		}
	}
	if ((rv = get_str(ld, obj, "name", STR_TEXT, false, "", &g->name)) ||
	    (rv = get_enum(ld, obj, "method", NV(group_methods), "method",
	                   false, (int)ld->d->methods.group, &method)))
		return rv;
	g->method = (sipas_method)method;
	g->weight = 1;
	w = json_object_get(obj, "weight");
	if (w != NULL) {
		size_t mark = push_key(ld, "weight");

		if (!json_is_number(w))
			return bad(ld, "must be a number");
		g->weight = json_number_value(w);
		if (!(g->weight > 0))
			return bad(ld, "must be > 0");
		/* Weights are relative; a cap keeps weighted sums finite. */
		if (g->weight > SIPAS_MAX_WEIGHT)
			return bad(ld, "must be at most 1000000");
		pop(ld, mark);
	}
	g->parent = parent;
	g->depth = depth;
	fb->gpos[gi] = pos;
	fb->ngroups++;
	if ((rv = group_path(ld, g)) != SIPAS_OK)
		return rv;
	g->crit_first = fb->ncrit;
	rv = group_contents(ld, obj, gi, depth);
	g->crit_count = fb->ncrit - g->crit_first;
	return rv;
}

static sipas_err walk_groups(struct ld *ld, json_t *arr, int32_t parent,
                             uint32_t depth)
{
	uint32_t first = ld->fb->ngroups;
	size_t n = json_array_size(arr);

	for (size_t i = 0; i < n; i++) {
		size_t mark = push_key(ld, "groups");
		sipas_err rv;

		push_idx(ld, i);
		rv = load_group(ld, json_array_get(arr, i), parent, depth,
		                (uint32_t)i, first);
		if (rv != SIPAS_OK)
			return rv;
		pop(ld, mark);
	}
	return SIPAS_OK;
}

/* codes (required, distinct) and labels (optional) of a choice or multi. */
static sipas_err load_codes(struct ld *ld, json_t *obj, sipas_item *it)
{
	json_t *arr, *labels;
	int64_t *codes;
	const char **lab;
	size_t mark;
	sipas_err rv;

	rv = get_array(ld, obj, "codes", ARR_REQUIRED | ARR_NONEMPTY,
	               SIPAS_MAX_CODES, "codes", &arr);
	if (rv != SIPAS_OK)
		return rv;
	it->ncodes = (uint32_t)json_array_size(arr);
	codes =
	    sipas_def_arena_alloc(&ld->d->arena, it->ncodes * sizeof *codes);
	if (codes == NULL)
		return nomem(ld);
	for (uint32_t i = 0; i < it->ncodes; i++) {
		mark = push_key(ld, "codes");
		push_idx(ld, i);
		rv = int_value(ld, json_array_get(arr, i), INT64_MIN, INT64_MAX,
		               &codes[i]);
		for (uint32_t k = 0; rv == SIPAS_OK && k < i; k++)
			if (codes[k] == codes[i])
				rv = bad(ld, "duplicate code %lld",
				         (long long)codes[i]);
		if (rv != SIPAS_OK)
			return rv;
		pop(ld, mark);
	}
	it->codes = codes;
	rv =
	    get_array(ld, obj, "labels", 0, SIPAS_MAX_CODES, "labels", &labels);
	if (rv != SIPAS_OK || labels == NULL)
		return rv;
	mark = push_key(ld, "labels");
	if (json_array_size(labels) != it->ncodes)
		return bad(ld, "%zu labels for %u codes",
		           json_array_size(labels), it->ncodes);
	lab = sipas_def_arena_alloc(&ld->d->arena, it->ncodes * sizeof *lab);
	if (lab == NULL)
		return nomem(ld);
	for (uint32_t i = 0; i < it->ncodes; i++) {
		size_t m = push_idx(ld, i);

		rv =
		    str_value(ld, json_array_get(labels, i), STR_TEXT, &lab[i]);
		if (rv != SIPAS_OK)
			return rv;
		pop(ld, m);
	}
	pop(ld, mark);
	it->labels = lab;
	return SIPAS_OK;
}

static const struct name_val item_kinds[] = {{"choice", SIPAS_ITEM_CHOICE},
                                             {"multi", SIPAS_ITEM_MULTI},
                                             {"number", SIPAS_ITEM_NUMBER}};

/* The members an item may carry depend on its kind; a member that does
 * not apply is refused rather than ignored, so a mistake never passes. */
static sipas_err item_by_kind(struct ld *ld, json_t *obj, sipas_item *it)
{
	int64_t max;
	sipas_err rv;

	switch (it->kind) {
	case SIPAS_ITEM_CHOICE:
		if ((rv = forbid(ld, obj, "min", "choice")) ||
		    (rv = forbid(ld, obj, "max", "choice")))
			return rv;
		return load_codes(ld, obj, it);
	case SIPAS_ITEM_MULTI:
		if ((rv = forbid(ld, obj, "min", "multi")) ||
		    (rv = load_codes(ld, obj, it)) ||
		    (rv = get_int(ld, obj, "max", false, 1, it->ncodes,
		                  it->ncodes, &max)))
			return rv;
		it->max_choices = (uint32_t)max;
		return SIPAS_OK;
	case SIPAS_ITEM_NUMBER:
		if ((rv = forbid(ld, obj, "codes", "number")) ||
		    (rv = forbid(ld, obj, "labels", "number")) ||
		    (rv = get_int(ld, obj, "min", true, INT64_MIN, INT64_MAX, 0,
		                  &it->min)) ||
		    (rv = get_int(ld, obj, "max", true, INT64_MIN, INT64_MAX, 0,
		                  &it->max)))
			return rv;
		if (it->min > it->max)
			return bad(ld, "min must not be greater than max");
		return SIPAS_OK;
	}
	return bad(ld, "unknown kind");
}

static sipas_err load_item(struct ld *ld, json_t *obj)
{
	static const char *const keys[] = {"id",     "kind", "text", "codes",
	                                   "labels", "max",  "min",  NULL};
	struct form_build *fb = ld->fb;
	sipas_item *it = &fb->it[fb->nitems];
	int kind;
	sipas_err rv;

	if (fb->ncrit + fb->nitems == SIPAS_MAX_FORM_ENTRIES)
		return bad(ld, "more than %d criteria and items in the form",
		           SIPAS_MAX_FORM_ENTRIES);
	memset(it, 0, sizeof *it);
	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &it->id)) ||
	    (rv = get_enum(ld, obj, "kind", NV(item_kinds), "kind", true, 0,
	                   &kind)) ||
	    (rv = get_str(ld, obj, "text", STR_TEXT, false, "", &it->text)))
		return rv;
	it->kind = (sipas_item_kind)kind;
	if ((rv = item_by_kind(ld, obj, it)) != SIPAS_OK)
		return rv;
	it->slot = fb->ncrit + fb->nitems++;
	return SIPAS_OK;
}

/* Point the path at the id of slot `slot` of the form being built, e.g.
 * forms[0].groups[1].groups[0].criteria[2].id (for a message). */
static void push_slot_path(struct ld *ld, uint32_t slot)
{
	const struct form_build *fb = ld->fb;
	uint32_t chain[SIPAS_MAX_GROUP_DEPTH], n = 0;

	if (slot >= fb->ncrit) {
		push_key(ld, "items");
		push_idx(ld, slot - fb->ncrit);
		push_key(ld, "id");
		return;
	}
	for (int32_t g = (int32_t)fb->c[slot].group;
	     g >= 0 && n < SIPAS_MAX_GROUP_DEPTH; g = fb->g[g].parent)
		chain[n++] = (uint32_t)g;
	while (n-- > 0) {
		push_key(ld, "groups");
		push_idx(ld, fb->gpos[chain[n]]);
	}
	push_key(ld, "criteria");
	push_idx(ld, fb->cpos[slot]);
	push_key(ld, "id");
}

/* Copy the scratch of a finished form into the arena and link it up. */
static sipas_err finish_form(struct ld *ld, struct sipas_form_priv *fp)
{
	struct form_build *fb = ld->fb;
	sipas_form *f = &fp->pub;
	struct sipas_chunk **a = &ld->d->arena;
	uint32_t cursor[SIPAS_MAX_GROUPS], *pool, *top, off = 0;
	sipas_group *g;
	sipas_criterion *crit;
	sipas_item *items;
	struct sipas_idref *ix;
	int64_t dup;

	f->ngroups = fb->ngroups;
	f->ncriteria = fb->ncrit;
	f->nitems = fb->nitems;
	f->nslots = fb->ncrit + fb->nitems;
	for (uint32_t i = 0; i < fb->ngroups; i++)
		f->ntop += fb->g[i].parent < 0;
	g = sipas_def_arena_alloc(a, fb->ngroups * sizeof *g);
	pool = sipas_def_arena_alloc(a, fb->ngroups * sizeof *pool);
	top = sipas_def_arena_alloc(a, f->ntop * sizeof *top);
	crit = sipas_def_arena_alloc(a, fb->ncrit * sizeof *crit);
	items = sipas_def_arena_alloc(a, fb->nitems * sizeof *items);
	ix = sipas_def_arena_alloc(a, f->nslots * sizeof *ix);
	if (!g || !pool || !top || !crit || !items || !ix)
		return nomem(ld);
	memcpy(g, fb->g, fb->ngroups * sizeof *g);
	memcpy(crit, fb->c, fb->ncrit * sizeof *crit);
	memcpy(items, fb->it, fb->nitems * sizeof *items);
	f->criteria = crit;
	f->items = items;

	/* Children lists: count, give each group its run of the pool, then
	 * fill in pre-order, which keeps siblings in file order. */
	for (uint32_t i = 0; i < fb->ngroups; i++)
		if (g[i].parent >= 0)
			g[g[i].parent].nchildren++;
	for (uint32_t i = 0; i < fb->ngroups; i++) {
		g[i].children = pool + off;
		cursor[i] = off;
		off += g[i].nchildren;
	}
	for (uint32_t i = 0, t = 0; i < fb->ngroups; i++) {
		if (g[i].parent >= 0)
			pool[cursor[g[i].parent]++] = i;
		else
			top[t++] = i;
	}
	f->groups = g;
	f->top = top;

	/* Criteria and items share one namespace. */
	for (uint32_t s = 0; s < f->nslots; s++) {
		const char *id =
		    s < fb->ncrit ? fb->c[s].id : fb->it[s - fb->ncrit].id;

		ix[s] = (struct sipas_idref){id, (uint32_t)strlen(id), s};
	}
	dup = sipas_def_sort_ids(ix, f->nslots);
	if (dup >= 0) {
		uint32_t s = (uint32_t)dup;

		push_slot_path(ld, s);
		return bad(ld, "duplicate id \"%s\"",
		           s < fb->ncrit ? fb->c[s].id
		                         : fb->it[s - fb->ncrit].id);
	}
	fp->slot_ix = ix;
	return SIPAS_OK;
}

static sipas_err load_form(struct ld *ld, json_t *obj,
                           struct sipas_form_priv *fp)
{
	static const char *const keys[] = {"id", "name", "groups", "items",
	                                   NULL};
	struct form_build *fb = ld->fb;
	json_t *groups, *items;
	sipas_err rv;

	fb->ngroups = fb->ncrit = fb->nitems = 0;
	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &fp->pub.id)) ||
	    (rv = get_str(ld, obj, "name", STR_TEXT, false, "",
	                  &fp->pub.name)) ||
	    (rv = get_array(ld, obj, "groups", ARR_REQUIRED | ARR_NONEMPTY,
	                    SIZE_MAX, "groups", &groups)) ||
	    (rv = walk_groups(ld, groups, -1, 0)) ||
	    (rv = get_array(ld, obj, "items", 0, SIZE_MAX, "items", &items)))
		return rv;
	for (size_t i = 0; i < json_array_size(items); i++) {
		size_t mark = push_key(ld, "items");

		push_idx(ld, i);
		if ((rv = load_item(ld, json_array_get(items, i))) != SIPAS_OK)
			return rv;
		pop(ld, mark);
	}
	return finish_form(ld, fp);
}

static sipas_err load_forms(struct ld *ld, json_t *root)
{
	sipas_def *d = ld->d;
	json_t *arr;
	sipas_err rv;

	rv = get_array(ld, root, "forms", ARR_REQUIRED | ARR_NONEMPTY,
	               SIPAS_MAX_FORMS, "forms", &arr);
	if (rv != SIPAS_OK)
		return rv;
	d->nforms = (uint32_t)json_array_size(arr);
	d->forms =
	    sipas_def_arena_alloc(&d->arena, d->nforms * sizeof *d->forms);
	d->form_ix =
	    sipas_def_arena_alloc(&d->arena, d->nforms * sizeof *d->form_ix);
	if (d->forms == NULL || d->form_ix == NULL)
		return nomem(ld);
	for (uint32_t i = 0; i < d->nforms; i++) {
		struct sipas_form_priv *fp = &d->forms[i];
		size_t mark = push_key(ld, "forms");

		push_idx(ld, i);
		rv = load_form(ld, json_array_get(arr, i), fp);
		if (rv != SIPAS_OK)
			return rv;
		pop(ld, mark);
		fp->pub.index = i;
		d->form_ix[i] = (struct sipas_idref){
		    fp->pub.id, (uint32_t)strlen(fp->pub.id), i};
	}
	return build_index(ld, "forms", d->form_ix, d->nforms);
}

/* ---- units ---- */

/* A reference to a block or form by id: *pos is its index. */
static sipas_err resolve(struct ld *ld, json_t *v, const struct sipas_idref *ix,
                         size_t n, const char *what, uint32_t *pos)
{
	const struct sipas_idref *r;
	char q[QUOTE_BUF];

	if (!json_is_string(v))
		return bad(ld, "must be a string");
	r = sipas_def_find_ref(ix, n, json_string_value(v),
	                       json_string_length(v));
	if (r == NULL)
		return bad(
		    ld, "unknown %s %s", what,
		    quote(q, json_string_value(v), json_string_length(v)));
	*pos = r->pos;
	return SIPAS_OK;
}

static sipas_err unit_forms(struct ld *ld, json_t *obj, sipas_unit *u)
{
	const sipas_def *d = ld->d;
	uint32_t f[SIPAS_MAX_FORMS], *copy;
	json_t *arr;
	size_t mark;
	sipas_err rv;

	rv = get_array(ld, obj, "forms", ARR_REQUIRED | ARR_NONEMPTY, SIZE_MAX,
	               "forms", &arr);
	if (rv != SIPAS_OK)
		return rv;
	mark = push_key(ld, "forms");
	/* Each stored entry is a distinct form of the definition, so at
	 * most nforms of them get past the checks into f[]. */
	for (u->nforms = 0; u->nforms < json_array_size(arr); u->nforms++) {
		uint32_t i = u->nforms, pos;
		size_t m = push_idx(ld, i);

		rv = resolve(ld, json_array_get(arr, i), d->form_ix, d->nforms,
		             "form", &pos);
		if (rv != SIPAS_OK)
			return rv;
		for (uint32_t k = 0; k < i; k++)
			if (f[k] == pos)
				return bad(ld, "duplicate form \"%s\"",
				           d->forms[pos].pub.id);
		f[i] = pos;
		pop(ld, m);
	}
	pop(ld, mark);
	copy = sipas_def_arena_alloc(&ld->d->arena, u->nforms * sizeof *copy);
	if (copy == NULL)
		return nomem(ld);
	memcpy(copy, f, u->nforms * sizeof *copy);
	u->forms = copy;
	return SIPAS_OK;
}

static sipas_err load_unit(struct ld *ld, json_t *obj, sipas_unit *u)
{
	static const char *const keys[] = {"id", "name", "block", "forms",
	                                   NULL};
	sipas_def *d = ld->d;
	json_t *b = json_object_get(obj, "block");
	size_t mark;
	sipas_err rv;

	if ((rv = check_object(ld, obj, keys)) ||
	    (rv = get_str(ld, obj, "id", STR_ID, true, NULL, &u->id)) ||
	    (rv = get_str(ld, obj, "name", STR_TEXT, false, "", &u->name)))
		return rv;
	mark = push_key(ld, "block");
	if (b == NULL)
		return bad(ld, "missing");
	rv = resolve(ld, b, d->block_ix, d->nblocks, "block", &u->block);
	if (rv != SIPAS_OK)
		return rv;
	pop(ld, mark);
	return unit_forms(ld, obj, u);
}

static sipas_err load_units(struct ld *ld, json_t *root)
{
	sipas_def *d = ld->d;
	json_t *arr;
	sipas_err rv;

	rv = get_array(ld, root, "units", ARR_REQUIRED | ARR_NONEMPTY,
	               SIPAS_MAX_UNITS, "units", &arr);
	if (rv != SIPAS_OK)
		return rv;
	d->nunits = (uint32_t)json_array_size(arr);
	d->units =
	    sipas_def_arena_alloc(&d->arena, d->nunits * sizeof *d->units);
	d->unit_ix =
	    sipas_def_arena_alloc(&d->arena, d->nunits * sizeof *d->unit_ix);
	if (d->units == NULL || d->unit_ix == NULL)
		return nomem(ld);
	for (uint32_t i = 0; i < d->nunits; i++) {
		sipas_unit *u = &d->units[i];
		size_t mark = push_key(ld, "units");

		push_idx(ld, i);
		rv = load_unit(ld, json_array_get(arr, i), u);
		if (rv != SIPAS_OK)
			return rv;
		pop(ld, mark);
		u->index = i;
		d->blocks[u->block].nunits++;
		d->unit_ix[i] =
		    (struct sipas_idref){u->id, (uint32_t)strlen(u->id), i};
	}
	return build_index(ld, "units", d->unit_ix, d->nunits);
}

/* ---- loading ---- */

/* jansson's message may quote the offending bytes: keep it one line of
 * printable text. */
static void syntax_error(struct ld *ld, const json_error_t *e)
{
	char text[sizeof e->text];
	bool utf8 = sipas_utf8_valid(e->text, strlen(e->text));
	size_t i;

	for (i = 0; e->text[i] != '\0' && i + 1 < sizeof text; i++) {
		unsigned char ch = (unsigned char)e->text[i];

		text[i] = ch < 0x20 || ch == 0x7f || (ch >= 0x80 && !utf8)
		              ? '?'
		              : (char)ch;
	}
	text[i] = '\0';
	sipas_diag_set(ld->diag, "%s: line %d column %d: %s", ld->name, e->line,
	               e->column, text);
}

sipas_err sipas_def_load(const char *json, size_t len, const char *name,
                         sipas_def **out, sipas_diag *diag)
{
	static const char *const keys[] = {"campaign", "scale", "method",
	                                   "blocks",   "forms", "units",
	                                   "display",  NULL};
	struct ld ld = {.name = name != NULL ? name : "definition",
	                .diag = diag};
	json_t *root = NULL;
	json_error_t jerr;
	sipas_err rv;

	*out = NULL;
	if (len > SIPAS_MAX_DEFINITION) {
		sipas_diag_set(diag, "%s: $: larger than %u bytes", ld.name,
		               SIPAS_MAX_DEFINITION);
		return SIPAS_E_TOO_LARGE;
	}
	/* Every JSON value is checked as the walk reaches it; duplicate keys
	 * are refused by the parser, as they could hide a member. */
	root = json_loadb(json != NULL ? json : "", json != NULL ? len : 0,
	                  JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		if (json_error_code(&jerr) == json_error_out_of_memory)
			return nomem(&ld);
		syntax_error(&ld, &jerr);
		return SIPAS_E_DEFINITION;
	}
	ld.d = calloc(1, sizeof *ld.d);
	ld.fb = malloc(sizeof *ld.fb);
	if (ld.d == NULL || ld.fb == NULL) {
		rv = nomem(&ld);
		goto out;
	}
	if ((rv = check_object(&ld, root, keys)) ||
	    (rv = load_campaign(&ld, root)) || (rv = load_scale(&ld, root)) ||
	    (rv = load_method(&ld, root)) || (rv = load_display(&ld, root)) ||
	    (rv = load_blocks(&ld, root)) || (rv = load_forms(&ld, root)) ||
	    (rv = load_units(&ld, root)))
		goto out;
	*out = ld.d;
	ld.d = NULL;
out:
	sipas_def_free(&ld.d);
	free(ld.fb);
	json_decref(root);
	return rv;
}

sipas_err sipas_def_load_file(const char *path, sipas_def **out,
                              sipas_diag *diag)
{
	sipas_buf b;
	sipas_err rv;

	*out = NULL;
	sipas_buf_init(&b, SIPAS_MAX_DEFINITION);
	rv = sipas_buf_read_file(&b, path, diag);
	if (rv == SIPAS_E_TOO_LARGE)
		sipas_diag_set(diag, "%s: $: larger than %u bytes", path,
		               SIPAS_MAX_DEFINITION);
	if (rv != SIPAS_OK)
		goto out;
	rv = sipas_def_load(b.data != NULL ? b.data : "", b.len, path, out,
	                    diag);
out:
	sipas_buf_free(&b);
	return rv;
}
