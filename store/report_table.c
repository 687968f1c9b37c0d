/*
 * report_table.c - `sipas-snapshot --format table`: the report for a
 * terminal. Columns are aligned by display width (sipas_utf8_width), not
 * bytes, so Vietnamese names line up; long names are cut with an ellipsis.
 * Numbers use the definition's `display` rounding
 * (sipas_report_format_number); "-" stands for "no index".
 *
 * Sections: heading and counts, overall index, blocks, units by rank,
 * groups (contents) across units, items (perception, expectation) over
 * each form's units.
 */
#include "sipas_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "sipas_text.h"
#include "sipas_time.h"

#define NAME_WIDTH 40 /* display columns of a name before it is cut */
#define MAX_COLS 16
#define NUM_LEN 40

/* ---- a small aligned-table printer ---- */

struct tbl {
	size_t ncols;
	const char *head[MAX_COLS];
	char align[MAX_COLS]; /* 'l' or 'r' */
	char **cells;         /* nrows * ncols, owned */
	size_t nrows, cap;
};

static size_t width(const char *s)
{
	return sipas_utf8_width(s, strlen(s));
}

static void tbl_init(struct tbl *t, size_t ncols, const char *const *head,
                     const char *align)
{
	memset(t, 0, sizeof *t);
	t->ncols = ncols;
	for (size_t c = 0; c < ncols; c++) {
		t->head[c] = head[c];
		t->align[c] = align[c];
	}
}

/* Append a row of ncols cells (copied; NULL is an empty cell). */
static void tbl_row(struct tbl *t, const char *const *cells)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		char **n = sipas_xcalloc(cap * t->ncols, sizeof *n);

		if (t->cells != NULL)
			memcpy(n, t->cells, t->nrows * t->ncols * sizeof *n);
		free(t->cells);
		t->cells = n;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		const char *s = cells[c] != NULL ? cells[c] : "";

		t->cells[t->nrows * t->ncols + c] =
		    sipas_xstrndup(s, strlen(s));
	}
	t->nrows++;
}

static void pad(FILE *f, size_t n)
{
	while (n-- > 0)
		fputc(' ', f);
}

static void print_cells(FILE *f, const struct tbl *t, const size_t *w,
                        const char *const *cells)
{
	for (size_t c = 0; c < t->ncols; c++) {
		size_t cw = width(cells[c]);
		bool last = c + 1 == t->ncols;

		if (c > 0)
			fputs("  ", f);
		if (t->align[c] == 'r')
			pad(f, w[c] - cw);
		fputs(cells[c], f);
		if (t->align[c] == 'l' && !last)
			pad(f, w[c] - cw);
	}
	fputc('\n', f);
}

static void tbl_print(FILE *f, struct tbl *t)
{
	size_t w[MAX_COLS];

	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = width(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			size_t cw = width(t->cells[r * t->ncols + c]);

			if (cw > w[c])
				w[c] = cw;
		}
	}
	print_cells(f, t, w, t->head);
	for (size_t r = 0; r < t->nrows; r++)
		print_cells(f, t, w,
		            (const char *const *)t->cells + r * t->ncols);
}

static void tbl_free(struct tbl *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	t->cells = NULL;
	t->nrows = t->cap = 0;
}

/* ---- cells ---- */

struct fmt {
	const sipas_display *display;
	char mark;
};

/* A number cell: the display value, or "-". */
static const char *number(const struct fmt *fm, double v, char *buf)
{
	if (!sipas_report_format_number(v, fm->display, fm->mark, buf, NUM_LEN))
		snprintf(buf, NUM_LEN, "-");
	return buf;
}

/* A change: "+0.51", "-1.20", "0.00"; "-" when there is none. */
static const char *change(const struct fmt *fm, double v, char *buf)
{
	if (!sipas_report_format_change(v, fm->display, fm->mark, buf, NUM_LEN))
		snprintf(buf, NUM_LEN, "-");
	return buf;
}

static const char *integer(uint64_t n, char *buf)
{
	snprintf(buf, NUM_LEN, "%llu", (unsigned long long)n);
	return buf;
}

/* ---- sections ---- */

static void heading(FILE *f, const sipas_report *r, const struct fmt *fm)
{
	const sipas_campaign *c = sipas_def_campaign(r->def);
	const sipas_methods *m = sipas_def_methods(r->def);
	char taken[21], buf[NUM_LEN], buf2[NUM_LEN];
	const char *sep = "";

	sipas_time_format_utc(r->taken_at, taken);
	if (c->title[0] != '\0')
		fprintf(f, "%s (%s)\n", c->title, c->id);
	else
		fprintf(f, "%s\n", c->id);
	fprintf(f, "Definition revision %s, taken at %s\n", r->revision, taken);
	fprintf(f,
	        "Responses: %llu accepted, %llu duplicates, %llu quarantined\n",
	        (unsigned long long)r->stats.accepted,
	        (unsigned long long)r->stats.duplicates,
	        (unsigned long long)r->stats.quarantined);
	fputs("By channel:", f);
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		if (r->by_channel[i] > 0) {
			fprintf(f, "%s %s %llu", sep, sipas_channel_names[i],
			        (unsigned long long)r->by_channel[i]);
			sep = ",";
		}
	fputs(*sep ? "\nBy form:" : " none\nBy form:", f);
	sep = "";
	for (uint32_t i = 0; i < r->nforms; i++)
		if (r->forms[i].respondents > 0) {
			fprintf(f, "%s %s %llu", sep, r->forms[i].form->id,
			        (unsigned long long)r->forms[i].respondents);
			sep = ",";
		}
	fprintf(f, "%s\n\n", *sep ? "" : " none");
	fprintf(f, "Overall index: %s (%s)\n", number(fm, r->index, buf),
	        sipas_method_name(m->overall));
	if (r->has_compare) {
		fprintf(f, "Previous (%s): %s, change %s\n", r->prev_campaign,
		        number(fm, r->prev_index, buf),
		        change(fm, r->index - r->prev_index, buf2));
		fprintf(f, "Units compared: %u, improved %u, declined %u\n",
		        r->units_compared, r->units_improved,
		        r->units_declined);
	}
	fputc('\n', f);
}

static void blocks(FILE *f, const sipas_report *r, const struct fmt *fm)
{
	static const char *const head[] = {
	    "Block", "Name",   "Units", "Respondents", "Index", "Min",
	    "Max",   "Median", "Above", "Below",       "Change"};
	struct tbl t;
	size_t ncols = r->has_compare ? 11 : 10;

	tbl_init(&t, ncols, head, "llrrrrrrrrr");
	for (uint32_t b = 0; b < r->nblocks; b++) {
		const sipas_report_block *rb = &r->blocks[b];
		char n1[NUM_LEN], n2[NUM_LEN], n3[NUM_LEN], n4[NUM_LEN];
		char n5[NUM_LEN], n6[NUM_LEN], n7[NUM_LEN], n8[NUM_LEN];
		char n9[NUM_LEN];
		char *name = sipas_utf8_fit(rb->block->name, NAME_WIDTH);
		bool ab = !isnan(r->index);
		const char *cells[] = {
		    rb->block->id,
		    name,
		    integer(rb->units, n1),
		    integer(rb->respondents, n2),
		    number(fm, rb->index, n3),
		    number(fm, rb->spread.min, n4),
		    number(fm, rb->spread.max, n5),
		    number(fm, rb->spread.median, n6),
		    ab ? integer(rb->above, n7) : "-",
		    ab ? integer(rb->below, n8) : "-",
		    rb->has_previous
		        ? change(fm, rb->index - rb->prev_index, n9)
		        : "-"};

		tbl_row(&t, cells);
		free(name);
	}
	fputs("Blocks\n", f);
	tbl_print(f, &t);
	tbl_free(&t);
	fputc('\n', f);
}

static void units(FILE *f, const sipas_report *r, const struct fmt *fm)
{
	static const char *const head[] = {
	    "Rank",  "Unit",     "Name",   "Block",      "Respondents",
	    "Index", "Previous", "Change", "Rank change"};
	const sipas_methods *m = sipas_def_methods(r->def);
	size_t ncols = r->has_compare ? 9 : 6;
	bool any_low = false;
	struct tbl t;

	tbl_init(&t, ncols, head, "rlllrrrrr");
	for (uint32_t i = 0; i < r->nunits; i++)
		any_low = any_low || r->units[i].low_sample;
	for (uint32_t i = 0; i < r->nunits; i++) {
		const sipas_report_unit *u = &r->units[r->ranked[i]];
		char n1[NUM_LEN], n2[NUM_LEN], n3[NUM_LEN], n4[NUM_LEN];
		char n5[NUM_LEN], n6[NUM_LEN];
		char *name = sipas_utf8_fit(u->unit->name, NAME_WIDTH);
		const char *cells[9];

		/* A low sample is flagged "*"; the other numbers keep in line.
		 */
		number(fm, u->index, n3);
		if (any_low)
			strncat(n3, u->low_sample ? " *" : "  ",
			        NUM_LEN - strlen(n3) - 1);
		cells[0] = u->rank > 0 ? integer(u->rank, n1) : "-";
		cells[1] = u->unit->id;
		cells[2] = name;
		cells[3] = sipas_def_block(r->def, u->unit->block)->id;
		cells[4] = integer(u->respondents, n2);
		cells[5] = n3;
		cells[6] =
		    u->has_previous ? number(fm, u->prev_index, n4) : "-";
		cells[7] = u->has_previous
		               ? change(fm, u->index - u->prev_index, n5)
		               : "-";
		cells[8] = "-";
		if (u->has_previous && u->rank > 0 && u->prev_rank > 0) {
			long long d =
			    (long long)u->prev_rank - (long long)u->rank;

			snprintf(n6, NUM_LEN, d > 0 ? "+%lld" : "%lld", d);
			cells[8] = n6;
		}
		tbl_row(&t, cells);
		free(name);
	}
	fputs("Units by rank\n", f);
	tbl_print(f, &t);
	tbl_free(&t);
	if (any_low)
		fprintf(f, "* low sample: fewer than %u respondents\n",
		        m->min_respondents);
	fputc('\n', f);
}

static void groups(FILE *f, const sipas_report *r, const struct fmt *fm)
{
	static const char *const head[] = {"Form",   "Path",   "Name",
	                                   "Index",  "Min",    "Max",
	                                   "Median", "Lowest", "Highest"};
	struct tbl t;

	tbl_init(&t, 9, head, "lllrrrrll");
	for (uint32_t g = 0; g < r->ngroups; g++) {
		const sipas_report_group *rg = &r->groups[g];
		char n1[NUM_LEN], n2[NUM_LEN], n3[NUM_LEN], n4[NUM_LEN];
		char n5[NUM_LEN], n6[NUM_LEN], lo[160], hi[160];
		uint32_t depth = rg->group->depth < 8 ? rg->group->depth : 8;
		char *name =
		    sipas_utf8_fit(rg->group->name[0] ? rg->group->name : rg->group->id,
		        NAME_WIDTH - 2 * depth);
		size_t nlen = strlen(name);
		/* Nested groups are indented under their parent. */
		char *indented = sipas_xmalloc(2 * depth + nlen + 1);

		memset(indented, ' ', 2 * depth);
		memcpy(indented + 2 * depth, name, nlen + 1);
		free(name);
		lo[0] = hi[0] = '\0';
		if (rg->lowest != NULL)
			snprintf(lo, sizeof lo, "%s %s", rg->lowest->unit->id,
			         number(fm, rg->lowest_index, n5));
		if (rg->highest != NULL)
			snprintf(hi, sizeof hi, "%s %s", rg->highest->unit->id,
			         number(fm, rg->highest_index, n6));
		{
			const char *cells[] = {
			    rg->form->id,
			    rg->group->path,
			    indented,
			    number(fm, rg->index, n1),
			    number(fm, rg->spread.min, n2),
			    number(fm, rg->spread.max, n3),
			    number(fm, rg->spread.median, n4),
			    rg->lowest ? lo : "-",
			    rg->highest ? hi : "-"};

			tbl_row(&t, cells);
		}
		free(indented);
	}
	fputs("Groups across units\n", f);
	tbl_print(f, &t);
	tbl_free(&t);
}

/* Perception and expectation items over all units of each form: the
 * share of each code among those who answered (for a multi item, the share
 * of respondents choosing it, so a column may sum above 100). */
static void items(FILE *f, const sipas_report *r, const struct fmt *fm)
{
	static const char *const head[] = {"Form", "Item",  "Answered", "Code",
	                                   "Label", "Count", "Share"};
	struct tbl t;
	bool any = false;

	tbl_init(&t, 7, head, "llrrlrr");
	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_form *fo = r->forms[fi].form;
		uint64_t *row;

		if (r->forms[fi].respondents == 0)
			continue;
		for (uint32_t j = 0; j < fo->nitems; j++) {
			const sipas_item *it = &fo->items[j];
			char n1[NUM_LEN], n2[NUM_LEN], n3[NUM_LEN], n4[NUM_LEN];
			double mean;

			row = sipas_xcalloc(1 + it->ncodes, sizeof *row);
			sipas_report_item_total(r, fo, j, row, &mean);
			any = true;
			if (it->kind == SIPAS_ITEM_NUMBER) {
				const char *cells[] = {
				    fo->id, it->id, integer(row[0], n1), "",
				    "mean", "", number(fm, mean, n2)};

				tbl_row(&t, cells);
			}
			for (uint32_t k = 0; k < it->ncodes; k++) {
				sipas_tally tl = {row[1 + k], row[0]};
				char *label = sipas_utf8_fit(
				    it->labels ? it->labels[k] : "", NAME_WIDTH);
				const char *cells[] = {
				    k == 0 ? fo->id : "",
				    k == 0 ? it->id : "",
				    k == 0 ? integer(row[0], n1) : "",
				    NULL,
				    label,
				    integer(row[1 + k], n3),
				    number(fm, sipas_index_rate(tl), n4)};

				snprintf(n2, NUM_LEN, "%lld",
				         (long long)it->codes[k]);
				cells[3] = n2;
				tbl_row(&t, cells);
				free(label);
			}
			free(row);
		}
	}
	if (any) {
		fputs("\nItems (all units of each form; share of those who "
		      "answered)\n",
		      f);
		tbl_print(f, &t);
	}
	tbl_free(&t);
}

sipas_err sipas_report_write_table(const sipas_report *r,
                                   const sipas_report_opts *o, FILE *f,
                                   sipas_diag *diag)
{
	struct fmt fm = {sipas_def_display(r->def),
	                 o != NULL && o->decimal_mark ? o->decimal_mark : '.'};

	errno = 0;
	heading(f, r, &fm);
	blocks(f, r, &fm);
	units(f, r, &fm);
	groups(f, r, &fm);
	items(f, r, &fm);
	if (fflush(f) != 0 || ferror(f)) {
		sipas_diag_set(diag, "writing the table: %s",
		               errno ? strerror(errno) : "write error");
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}
