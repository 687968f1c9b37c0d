/*
 * report_json.c - `sipas-snapshot --format json`: the document
 * sipas.snapshot/1 of interfaces.md sections 4 and 5, with jansson.
 *
 * The document is streamed, never built whole (4,000 units make ~20 MB):
 * the head members are one jansson object dumped with JSON_EMBED (no
 * braces), then each unit object is built, dumped and freed in turn, with
 * the commas and brackets written between them. Numbers are full precision
 * (JSON_REAL_PRECISION(17) round-trips every double); NAN is null.
 *
 * Layout: compact, one line for the head members, then one line per unit.
 */
#include "sipas_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "sipas_time.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

static void oom(void)
{
	fprintf(stderr, "<2>OOM out of memory building the snapshot JSON\n");
	abort();
}

static json_t *chk(json_t *j)
{
	if (j == NULL)
		oom();
	return j;
}

static void set(json_t *obj, const char *key, json_t *val)
{
	/* Keys are ASCII literals, definition ids or codes: valid UTF-8. */
	if (json_object_set_new_nocheck(obj, key, chk(val)) != 0)
		oom();
}

static void push(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, chk(val)) != 0)
		oom();
}

static json_t *num(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

static json_t *count(uint64_t n)
{
	return json_integer((json_int_t)n);
}

/* Every string comes from a loaded definition, whose text was checked
 * as UTF-8 when it was loaded. */
static json_t *str(const char *s)
{
	return json_string_nocheck(s);
}

static json_t *code_key_obj(void)
{
	return chk(json_object());
}

static void code_key(char *buf, size_t len, int64_t code)
{
	snprintf(buf, len, "%lld", (long long)code);
}

static json_t *counts_json(const sipas_report *r)
{
	json_t *c = chk(json_object()), *ch = chk(json_object());
	json_t *fm = chk(json_object());

	set(c, "accepted", count(r->stats.accepted));
	set(c, "duplicates", count(r->stats.duplicates));
	set(c, "quarantined", count(r->stats.quarantined));
	/* Only the channels and forms that have responses (see snapshot.md). */
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		if (r->by_channel[i] > 0)
			set(ch, sipas_channel_names[i],
			    count(r->by_channel[i]));
	set(c, "by_channel", ch);
	for (uint32_t f = 0; f < r->nforms; f++)
		if (r->forms[f].respondents > 0)
			set(fm, r->forms[f].form->id,
			    count(r->forms[f].respondents));
	set(c, "by_form", fm);
	set(c, "conflicts", count(r->stats.conflicts));
	return c;
}

static json_t *above_below(const sipas_report *r, uint32_t n)
{
	return isnan(r->index) ? json_null() : count(n);
}

static json_t *blocks_json(const sipas_report *r)
{
	json_t *arr = chk(json_array());

	for (uint32_t b = 0; b < r->nblocks; b++) {
		const sipas_report_block *rb = &r->blocks[b];
		json_t *o = chk(json_object());

		set(o, "id", str(rb->block->id));
		set(o, "name", str(rb->block->name));
		set(o, "index", num(rb->index));
		set(o, "respondents", count(rb->respondents));
		set(o, "units", count(rb->units));
		set(o, "min", num(rb->spread.min));
		set(o, "max", num(rb->spread.max));
		set(o, "median", num(rb->spread.median));
		set(o, "above", above_below(r, rb->above));
		set(o, "below", above_below(r, rb->below));
		if (r->has_compare) {
			json_t *pv = json_null();

			if (rb->has_previous) {
				pv = chk(json_object());
				set(pv, "index", num(rb->prev_index));
				set(pv, "change",
				    num(rb->index - rb->prev_index));
			}
			set(o, "previous", pv);
		}
		push(arr, o);
	}
	return arr;
}

static json_t *extreme(const sipas_report_unit *u, double x)
{
	json_t *o;

	if (u == NULL)
		return json_null();
	o = chk(json_object());
	set(o, "unit", str(u->unit->id));
	set(o, "index", num(x));
	return o;
}

static json_t *groups_json(const sipas_report *r)
{
	json_t *arr = chk(json_array());

	for (uint32_t g = 0; g < r->ngroups; g++) {
		const sipas_report_group *rg = &r->groups[g];
		json_t *o = chk(json_object());

		set(o, "form", str(rg->form->id));
		set(o, "path", str(rg->group->path));
		set(o, "index", num(rg->index));
		set(o, "min", num(rg->spread.min));
		set(o, "max", num(rg->spread.max));
		set(o, "median", num(rg->spread.median));
		set(o, "lowest", extreme(rg->lowest, rg->lowest_index));
		set(o, "highest", extreme(rg->highest, rg->highest_index));
		set(o, "name", str(rg->group->name));
		set(o, "answered", count(rg->tally.answered));
		set(o, "satisfied", count(rg->tally.satisfied));
		push(arr, o);
	}
	return arr;
}

static json_t *compare_json(const sipas_report *r)
{
	json_t *o = chk(json_object());

	set(o, "campaign", str(r->prev_campaign));
	set(o, "index", num(r->prev_index));
	set(o, "change", num(r->index - r->prev_index));
	set(o, "units_compared", count(r->units_compared));
	set(o, "units_improved", count(r->units_improved));
	set(o, "units_declined", count(r->units_declined));
	return o;
}

static json_t *item_json(const sipas_report *r, const sipas_report_uform *uf,
                         uint32_t j)
{
	const sipas_item *it = &uf->form->items[j];
	double mean, median;
	const uint64_t *row = sipas_report_item(r, uf, j, &mean, &median);
	json_t *o = chk(json_object());
	json_t *counts, *share;
	char key[24];

	set(o, "answered", count(row[0]));
	if (it->kind == SIPAS_ITEM_NUMBER) {
		set(o, "mean", num(mean));
		set(o, "median", num(median));
		return o;
	}
	/* The codes somebody chose, in the definition's order: like
	 * counts.by_channel, a count map leaves out its zeros. */
	counts = code_key_obj();
	for (uint32_t k = 0; k < it->ncodes; k++) {
		if (row[1 + k] == 0)
			continue;
		code_key(key, sizeof key, it->codes[k]);
		set(counts, key, count(row[1 + k]));
	}
	set(o, "counts", counts);
	if (it->kind == SIPAS_ITEM_MULTI) {
		share = code_key_obj();
		for (uint32_t k = 0; k < it->ncodes; k++) {
			sipas_tally t = {row[1 + k], row[0]};

			if (row[1 + k] == 0)
				continue;
			code_key(key, sizeof key, it->codes[k]);
			set(share, key, num(sipas_index_rate(t)));
		}
		set(o, "respondents_share", share);
	}
	return o;
}

static json_t *uform_json(const sipas_report *r, const sipas_report_uform *uf)
{
	const sipas_form *f = uf->form;
	json_t *o = chk(json_object());
	json_t *groups = chk(json_array()), *crit = chk(json_array());
	json_t *items = chk(json_object());

	set(o, "form", str(f->id));
	set(o, "respondents", count(uf->respondents));
	set(o, "index", num(uf->index));
	for (uint32_t g = 0; g < f->ngroups; g++) {
		json_t *go = chk(json_object());

		set(go, "path", str(f->groups[g].path));
		set(go, "index", num(uf->group_index[g]));
		set(go, "answered", count(uf->group_tally[g].answered));
		set(go, "satisfied", count(uf->group_tally[g].satisfied));
		push(groups, go);
	}
	set(o, "groups", groups);
	for (uint32_t i = 0; i < f->ncriteria; i++) {
		const uint64_t *d = sipas_report_dist(r, uf, i);
		json_t *co = chk(json_object()), *dist = chk(json_array());

		set(co, "id", str(f->criteria[i].id));
		set(co, "answered", count(uf->crit[i].answered));
		set(co, "satisfied", count(uf->crit[i].satisfied));
		set(co, "na", count(d[0]));
		set(co, "rate", num(sipas_index_rate(uf->crit[i])));
		for (uint32_t k = 0; k < r->nlevels; k++)
			push(dist, count(d[1 + k]));
		set(co, "dist", dist);
		push(crit, co);
	}
	set(o, "criteria", crit);
	for (uint32_t j = 0; j < f->nitems; j++)
		set(items, f->items[j].id, item_json(r, uf, j));
	set(o, "items", items);
	return o;
}

static json_t *unit_json(const sipas_report *r, const sipas_report_unit *u)
{
	json_t *o = chk(json_object()), *forms = chk(json_array());

	set(o, "id", str(u->unit->id));
	set(o, "name", str(u->unit->name));
	set(o, "block", str(sipas_def_block(r->def, u->unit->block)->id));
	set(o, "respondents", count(u->respondents));
	set(o, "index", num(u->index));
	set(o, "rank", u->rank > 0 ? count(u->rank) : json_null());
	set(o, "low_sample", json_boolean(u->low_sample));
	if (r->has_compare) {
		json_t *pv = json_null();

		if (u->has_previous) {
			pv = chk(json_object());
			set(pv, "index", num(u->prev_index));
			set(pv, "rank",
			    u->prev_rank > 0 ? count(u->prev_rank)
			                     : json_null());
			set(pv, "change", num(u->index - u->prev_index));
			set(pv, "rank_change",
			    u->rank > 0 && u->prev_rank > 0
			        ? json_integer((json_int_t)u->prev_rank -
			                       (json_int_t)u->rank)
			        : json_null());
		}
		set(o, "previous", pv);
	}
	for (uint32_t k = 0; k < u->nforms; k++)
		push(forms, uform_json(r, &u->forms[k]));
	set(o, "forms", forms);
	return o;
}

static json_t *head_json(const sipas_report *r)
{
	json_t *o = chk(json_object());
	char taken[21];

	sipas_time_format_utc(r->taken_at, taken);
	set(o, "schema", str(SIPAS_SNAPSHOT_SCHEMA));
	set(o, "campaign", str(r->campaign));
	set(o, "taken_at", str(taken));
	set(o, "definition_revision", str(r->revision));
	set(o, "counts", counts_json(r));
	set(o, "index", num(r->index));
	set(o, "blocks", blocks_json(r));
	set(o, "groups", groups_json(r));
	if (r->has_compare)
		set(o, "compare", compare_json(r));
	return o;
}

/* Room to encode one member or unit before a single fwrite (jansson's
 * own file output writes token by token, several times slower). */
struct out {
	FILE *f;
	char *buf;
	size_t cap;
};

/* Encode j (then free it) and write it; -1 on a write error. */
static int dump(struct out *o, json_t *j, size_t flags)
{
	size_t n = json_dumpb(j, o->buf, o->cap, DUMP_FLAGS | flags);

	if (n > o->cap) {
		free(o->buf);
		o->cap = n + n / 2;
		o->buf = sipas_xmalloc(o->cap);
		n = json_dumpb(j, o->buf, o->cap, DUMP_FLAGS | flags);
	}
	json_decref(j);
	if (n == 0 || n > o->cap)
		oom(); /* json_dumpb fails only without memory */
	return fwrite(o->buf, 1, n, o->f) == n ? 0 : -1;
}

sipas_err sipas_report_write_json(const sipas_report *r, FILE *f,
                                  sipas_diag *diag)
{
	struct out o = {f, NULL, 0};
	int bad = 0;

	o.cap = 1 << 16;
	o.buf = sipas_xmalloc(o.cap);
	errno = 0;
	fputc('{', f);
	bad |= dump(&o, head_json(r), JSON_EMBED);
	fputs(",\n\"units\":[", f);
	for (uint32_t u = 0; u < r->nunits && !bad && !ferror(f); u++) {
		fputs(u == 0 ? "\n" : ",\n", f);
		bad |= dump(&o, unit_json(r, &r->units[u]), 0);
	}
	fputs("]}\n", f);
	free(o.buf);
	if (fflush(f) != 0 || ferror(f) || bad) {
		sipas_diag_set(diag, "writing the JSON snapshot: %s",
		               errno ? strerror(errno) : "write error");
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}
