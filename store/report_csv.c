/*
 * report_csv.c - `sipas-snapshot --format csv`: one header row, then one
 * row per unit in definition order (RFC 4180: CRLF line ends; a field
 * holding the separator, a quote, CR or LF is quoted, its quotes doubled).
 *
 * Columns: unit, name, block, respondents, index, rank, low_sample; with a
 * comparison previous_index, change, previous_rank, rank_change; then for
 * every form of the definition its index (column "<form>") and each of its
 * groups' indices (columns "<form>:<path>", groups in pre-order). Cells of
 * forms a unit is not surveyed with, and indices that do not exist, are
 * empty. Numbers use the definition's `display` rounding; with a ','
 * decimal mark (--locale vi) the separator is ';'.
 */
#include "sipas_report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#define NUM_LEN 40

struct csv {
	FILE *f;
	char sep;
	char mark;
	const sipas_display *display;
	bool first; /* no field written on this row yet */
};

static void field(struct csv *c, const char *s)
{
	if (!c->first)
		fputc(c->sep, c->f);
	c->first = false;
	if (strchr(s, c->sep) == NULL && strpbrk(s, "\"\r\n") == NULL) {
		fputs(s, c->f);
		return;
	}
	fputc('"', c->f);
	for (; *s != '\0'; s++) {
		if (*s == '"')
			fputc('"', c->f);
		fputc(*s, c->f);
	}
	fputc('"', c->f);
}

/* A header cell "<a>:<b>" (b may be NULL). */
static void field2(struct csv *c, const char *a, const char *b)
{
	char buf[SIPAS_DEF_ID_MAX + SIPAS_MAX_PATH + 2];

	snprintf(buf, sizeof buf, "%s%s%s", a, b ? ":" : "", b ? b : "");
	field(c, buf);
}

static void number(struct csv *c, double v)
{
	char buf[NUM_LEN];

	sipas_report_format_number(v, c->display, c->mark, buf, sizeof buf);
	field(c, buf);
}

static void integer(struct csv *c, long long n, bool present)
{
	char buf[NUM_LEN];

	buf[0] = '\0';
	if (present)
		snprintf(buf, sizeof buf, "%lld", n);
	field(c, buf);
}

static void end_row(struct csv *c)
{
	fputs("\r\n", c->f);
	c->first = true;
}

static void header(struct csv *c, const sipas_report *r)
{
	static const char *const fixed[] = {"unit",        "name",  "block",
	                                    "respondents", "index", "rank",
	                                    "low_sample"};
	static const char *const cmp[] = {"previous_index", "change",
	                                  "previous_rank", "rank_change"};

	for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
		field(c, fixed[i]);
	if (r->has_compare)
		for (size_t i = 0; i < sizeof cmp / sizeof cmp[0]; i++)
			field(c, cmp[i]);
	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_form *f = r->forms[fi].form;

		field2(c, f->id, NULL);
		for (uint32_t g = 0; g < f->ngroups; g++)
			field2(c, f->id, f->groups[g].path);
	}
	end_row(c);
}

static void row(struct csv *c, const sipas_report *r,
                const sipas_report_unit *u)
{
	field(c, u->unit->id);
	field(c, u->unit->name);
	field(c, sipas_def_block(r->def, u->unit->block)->id);
	integer(c, (long long)u->respondents, true);
	number(c, u->index);
	integer(c, u->rank, u->rank > 0);
	field(c, u->low_sample ? "true" : "false");
	if (r->has_compare) {
		number(c, u->has_previous ? u->prev_index : NAN);
		number(c, u->has_previous ? u->index - u->prev_index : NAN);
		integer(c, u->prev_rank, u->has_previous && u->prev_rank > 0);
		integer(c, (long long)u->prev_rank - (long long)u->rank,
		        u->has_previous && u->prev_rank > 0 && u->rank > 0);
	}
	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_form *f = r->forms[fi].form;
		const sipas_report_uform *uf = NULL;

		for (uint32_t k = 0; k < u->nforms; k++)
			if (u->forms[k].form == f)
				uf = &u->forms[k];
		number(c, uf ? uf->index : NAN);
		for (uint32_t g = 0; g < f->ngroups; g++)
			number(c, uf ? uf->group_index[g] : NAN);
	}
	end_row(c);
}

sipas_err sipas_report_write_csv(const sipas_report *r,
                                 const sipas_report_opts *o, FILE *f,
                                 sipas_diag *diag)
{
	struct csv c = {f, ',', '.', sipas_def_display(r->def), true};

	if (o != NULL && o->decimal_mark == ',') {
		c.mark = ',';
		c.sep = ';';
	}
	errno = 0;
	header(&c, r);
	for (uint32_t u = 0; u < r->nunits && !ferror(f); u++)
		row(&c, r, &r->units[u]);
	if (fflush(f) != 0 || ferror(f)) {
		sipas_diag_set(diag, "writing the CSV: %s",
		               errno ? strerror(errno) : "write error");
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}
