/*
 * report_html.c - `sipas-snapshot --format html`: the report as one
 * self-contained page, the picture a province pastes into its published
 * report. No script, no font, no image file, no network: the style sheet
 * is inline and the chart is inline SVG, so the page renders the same from
 * a mail attachment or an offline machine.
 *
 * Sections: heading and counts; overall index (and the comparison); the
 * chart of units ranked by index, coloured by block, with the overall
 * index as a line; blocks; units by rank; each form's units by content
 * (the reports' "Biểu 5a-5d"); contents across units; perception and
 * expectation items over each form's units.
 *
 * Every text from the definition is escaped. Numbers use the definition's
 * `display` rounding and the decimal mark of --locale; with --locale vi the
 * headings are Vietnamese too.
 */
#include "sipas_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "sipas_text.h"
#include "sipas_time.h"

#define NUM_LEN 40

/* Chart geometry, in SVG user units (pixels at 100 %). */
#define CH_WIDTH 960
#define CH_LABEL 330 /* room for the unit names left of the bars */
#define CH_BARS 540  /* width of the bar area */
#define CH_ROW 20
#define CH_TOP 56 /* legend and the overall label */
#define CH_NAME 44 /* display columns of a unit name in the chart */
#define CH_CHAR 7  /* widest character of a value label: a digit of DejaVu
                    * Sans (the widest of the fonts) at font-size 11 */
#define CH_GAP 4   /* between a value label and a bar's end or the line */

/* Block colours: distinct, readable on white and in greyscale print. */
static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c",
                                      "#d62728", "#9467bd", "#8c564b",
                                      "#e377c2", "#7f7f7f", "#bcbd22",
                                      "#17becf"};
#define NPALETTE (sizeof palette / sizeof palette[0])

/* Headings in English and Vietnamese (--locale vi). */
enum {
	L_INDEX,
	L_OVERALL,
	L_REVISION,
	L_TAKEN,
	L_RESPONSES,
	L_ACCEPTED,
	L_DUPLICATES,
	L_QUARANTINED,
	L_CHANNEL,
	L_FORM,
	L_PREVIOUS,
	L_CHANGE,
	L_CHANGE_LC,
	L_COMPARED,
	L_IMPROVED,
	L_DECLINED,
	L_CHART,
	L_BLOCKS,
	L_BLOCK,
	L_NAME,
	L_UNITS,
	L_UNIT,
	L_RESPONDENTS,
	L_MIN,
	L_MAX,
	L_MEDIAN,
	L_ABOVE,
	L_BELOW,
	L_RANKING,
	L_RANK,
	L_RANK_CHANGE,
	L_LOW_SAMPLE,
	L_RESPONDENTS_LC,
	L_BY_CONTENT,
	L_CONTENTS,
	L_CONTENT,
	L_LOWEST,
	L_HIGHEST,
	L_ITEMS,
	L_ITEM,
	L_ANSWERED,
	L_CODE,
	L_LABEL,
	L_COUNT,
	L_SHARE,
	L_MULTI_NOTE,
	L_MEAN,
	L_NONE,
	L_COUNT_OF
};

static const char *const labels_en[] = {
    "Index",
    "Overall index",
    "Definition revision",
    "taken at",
    "Responses",
    "accepted",
    "duplicates",
    "quarantined",
    "By channel",
    "Form",
    "Previous",
    "Change",
    "change",
    "Units compared",
    "improved",
    "declined",
    "Units ranked by index",
    "Blocks",
    "Block",
    "Name",
    "Units",
    "Unit",
    "Respondents",
    "Min",
    "Max",
    "Median",
    "Above overall",
    "Below overall",
    "Units by rank",
    "Rank",
    "Rank change",
    "low sample: fewer than",
    "respondents",
    "Units by content:",
    "Contents across units",
    "Content",
    "Lowest unit",
    "Highest unit",
    "Perception and expectation items",
    "Item",
    "Answered",
    "Code",
    "Label",
    "Count",
    "Share (%)",
    ("Multiple choice: the share of respondents choosing each code; the "
     "shares may sum above 100."),
    "Mean",
    "none",
    "units below the previous campaign",
};

static const char *const labels_vi[] = {
    "Chỉ số",
    "Chỉ số chung",
    "Phiên bản định nghĩa",
    "thời điểm",
    "Phiếu",
    "hợp lệ",
    "trùng",
    "cách ly",
    "Theo kênh",
    "Mẫu phiếu",
    "Kỳ trước",
    "Thay đổi",
    "thay đổi",
    "Số đơn vị so sánh",
    "tăng",
    "giảm",
    "Xếp hạng đơn vị theo chỉ số",
    "Khối",
    "Khối",
    "Tên",
    "Số đơn vị",
    "Đơn vị",
    "Số người trả lời",
    "Thấp nhất",
    "Cao nhất",
    "Trung vị",
    "Cao hơn chỉ số chung",
    "Thấp hơn chỉ số chung",
    "Xếp hạng đơn vị",
    "Hạng",
    "Thay đổi hạng",
    "mẫu nhỏ: dưới",
    "người trả lời",
    "Chỉ số theo nội dung:",
    "Nội dung trên các đơn vị",
    "Nội dung",
    "Đơn vị thấp nhất",
    "Đơn vị cao nhất",
    "Chỉ tiêu nhận định và mong đợi",
    "Câu hỏi",
    "Số trả lời",
    "Mã",
    "Phương án",
    "Số lượng",
    "Tỷ lệ (%)",
    ("Câu hỏi nhiều lựa chọn: tỷ lệ người trả lời chọn từng phương án; "
     "tổng có thể vượt 100."),
    "Trung bình",
    "không có",
    "đơn vị thấp hơn kỳ trước",
};

_Static_assert(sizeof labels_en / sizeof labels_en[0] == L_COUNT_OF + 1,
               "every heading has an English text");
_Static_assert(sizeof labels_vi / sizeof labels_vi[0] == L_COUNT_OF + 1,
               "every heading has a Vietnamese text");

struct page {
	FILE *f;
	const sipas_report *r;
	const sipas_display *display;
	char mark;
	const char *const *l; /* labels_en or labels_vi */
};

/* ---- text ---- */

/* s with &, <, >, " and ' as entities: safe in element text and in
 * double-quoted attributes. */
static void esc(struct page *p, const char *s)
{
	for (; *s != '\0'; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", p->f);
			break;
		case '<':
			fputs("&lt;", p->f);
			break;
		case '>':
			fputs("&gt;", p->f);
			break;
		case '"':
			fputs("&quot;", p->f);
			break;
		case '\'':
			fputs("&#39;", p->f);
			break;
		default:
			fputc(*s, p->f);
		}
	}
}

static const char *number(const struct page *p, double v, char *buf)
{
	if (!sipas_report_format_number(v, p->display, p->mark, buf, NUM_LEN))
		snprintf(buf, NUM_LEN, "-");
	return buf;
}

static const char *change(const struct page *p, double v, char *buf)
{
	if (!sipas_report_format_change(v, p->display, p->mark, buf, NUM_LEN))
		snprintf(buf, NUM_LEN, "-");
	return buf;
}

/* ---- table cells ---- */

static void th(struct page *p, int label)
{
	fputs("<th>", p->f);
	esc(p, p->l[label]);
	fputs("</th>", p->f);
}

static void td_text(struct page *p, const char *s)
{
	fputs("<td>", p->f);
	esc(p, s);
	fputs("</td>", p->f);
}

static void td_num(struct page *p, double v)
{
	char buf[NUM_LEN];

	fprintf(p->f, "<td class=\"n\">%s</td>", number(p, v, buf));
}

static void td_change(struct page *p, bool present, double v)
{
	char buf[NUM_LEN];

	fprintf(p->f, "<td class=\"n\">%s</td>",
	        present ? change(p, v, buf) : "-");
}

static void td_int(struct page *p, uint64_t n)
{
	fprintf(p->f, "<td class=\"n\">%llu</td>", (unsigned long long)n);
}

/* ---- sections ---- */

static const char style[] =
    "body{font-family:'DejaVu Sans','Liberation Sans',Arial,sans-serif;"
    "font-size:14px;color:#222;margin:24px;max-width:1100px}"
    "h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;"
    "border-bottom:1px solid #ccc;padding-bottom:3px}"
    "p.meta{color:#555;margin:2px 0}"
    "p.big{font-size:20px;margin:12px 0 4px}p.big b{font-size:28px}"
    "table{border-collapse:collapse;margin:6px 0}"
    "th,td{border:1px solid #ccc;padding:3px 7px;vertical-align:top}"
    "th{background:#f0f3f7;text-align:left}td.n{text-align:right;"
    "font-variant-numeric:tabular-nums;white-space:nowrap}"
    "tr.low td{color:#888}span.sw{display:inline-block;width:10px;"
    "height:10px;margin-right:5px}p.note{color:#555;font-size:12px}"
    "svg{display:block;margin:8px 0}";

static void heading(struct page *p)
{
	const sipas_report *r = p->r;
	const sipas_campaign *c = sipas_def_campaign(r->def);
	char taken[21], buf[NUM_LEN];
	const char *sep = "";

	sipas_time_format_utc(r->taken_at, taken);
	fputs("<!DOCTYPE html>\n<html lang=\"", p->f);
	fputs(p->l == labels_vi ? "vi" : "en", p->f);
	fputs("\">\n<head>\n<meta charset=\"utf-8\">\n<title>", p->f);
	esc(p, c->title[0] ? c->title : c->id);
	fprintf(p->f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>",
	        style);
	esc(p, c->title[0] ? c->title : c->id);
	fputs("</h1>\n<p class=\"meta\">", p->f);
	esc(p, c->id);
	fprintf(p->f, " &middot; %s - %s &middot; ", c->from, c->to);
	esc(p, p->l[L_REVISION]);
	fputs(" ", p->f);
	esc(p, r->revision);
	fprintf(p->f, " &middot; %s %s</p>\n<p class=\"meta\">",
	        p->l[L_TAKEN], taken);
	fprintf(p->f, "%s: %llu %s, %llu %s, %llu %s", p->l[L_RESPONSES],
	        (unsigned long long)r->stats.accepted, p->l[L_ACCEPTED],
	        (unsigned long long)r->stats.duplicates, p->l[L_DUPLICATES],
	        (unsigned long long)r->stats.quarantined,
	        p->l[L_QUARANTINED]);
	fprintf(p->f, " &middot; %s:", p->l[L_CHANNEL]);
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		if (r->by_channel[i] > 0) {
			fprintf(p->f, "%s %s %llu", sep, sipas_channel_names[i],
			        (unsigned long long)r->by_channel[i]);
			sep = ",";
		}
	if (*sep == '\0')
		fprintf(p->f, " %s", p->l[L_NONE]);
	fprintf(p->f, "</p>\n<p class=\"big\">%s: <b>%s</b></p>\n",
	        p->l[L_OVERALL], number(p, r->index, buf));
	if (r->has_compare) {
		char b2[NUM_LEN], b3[NUM_LEN];

		fputs("<p class=\"meta\">", p->f);
		esc(p, p->l[L_PREVIOUS]);
		fputs(" (", p->f);
		esc(p, r->prev_campaign);
		fprintf(p->f, "): %s, %s %s &middot; %s %u, %s %u, %s %u &middot; ",
		        number(p, r->prev_index, b2), p->l[L_CHANGE_LC],
		        change(p, r->index - r->prev_index, b3),
		        p->l[L_COMPARED], r->units_compared, p->l[L_IMPROVED],
		        r->units_improved, p->l[L_DECLINED], r->units_declined);
		fprintf(p->f, "%u/%u %s", r->units_declined, r->units_compared,
		        p->l[L_COUNT_OF]);
		fputs("</p>\n", p->f);
	}
}

/* The chart's axis: from a round value below the lowest unit index to
 * 100, so the differences the reports discuss stay visible. */
static void axis(const sipas_report *r, double *lo, double *step)
{
	double min = 100;

	for (uint32_t i = 0; i < r->nunits; i++)
		if (!isnan(r->units[i].index) && r->units[i].index < min)
			min = r->units[i].index;
	*lo = floor(min / 10) * 10;
	if (*lo >= min && *lo > 0)
		*lo -= 10;
	if (*lo < 0)
		*lo = 0;
	*step = 100 - *lo <= 20 ? 2 : 100 - *lo <= 50 ? 5 : 10;
}

static double x_of(double v, double lo)
{
	if (v < lo)
		v = lo;
	if (v > 100)
		v = 100;
	return CH_LABEL + (v - lo) / (100 - lo) * CH_BARS;
}

/*
 * Where the value label of a bar ending at x starts: just after the bar,
 * unless the box of the label (CH_CHAR a character) would come within
 * CH_GAP of the dashed line of the overall index at line (NAN when there
 * is none), that is when the bar ends a little short of the line; then
 * just after the line, so that the label never touches or hides it.
 */
static double label_x(double x, double line, const char *label)
{
	double w = CH_CHAR * (double)sipas_utf8_width(label, strlen(label));

	if (!isnan(line) && line > x && line < x + 2 * CH_GAP + w)
		return line + CH_GAP;
	return x + CH_GAP;
}

static void chart(struct page *p)
{
	const sipas_report *r = p->r;
	uint32_t n = 0;
	double lo, step, line;
	int height, y;
	char buf[NUM_LEN];

	for (uint32_t i = 0; i < r->nunits; i++)
		n += !isnan(r->units[i].index);
	if (n == 0)
		return;
	axis(r, &lo, &step);
	line = isnan(r->index) ? NAN : x_of(r->index, lo);
	height = CH_TOP + (int)n * CH_ROW + 28;
	fprintf(p->f, "<h2>%s</h2>\n", p->l[L_CHART]);
	fprintf(p->f,
	        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	        "height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
	        "font-family=\"DejaVu Sans, Liberation Sans, Arial, "
	        "sans-serif\" font-size=\"11\">\n",
	        CH_WIDTH, height, CH_WIDTH, height);
	fprintf(p->f, "<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n",
	        CH_WIDTH, height);
	/* Legend: one swatch per block. */
	for (uint32_t b = 0, x = CH_LABEL; b < r->nblocks; b++) {
		char *name = sipas_utf8_fit(r->blocks[b].block->name, 30);

		fprintf(p->f,
		        "<rect x=\"%u\" y=\"8\" width=\"12\" height=\"12\" "
		        "fill=\"%s\"/><text x=\"%u\" y=\"18\">",
		        x, palette[b % NPALETTE], x + 16);
		esc(p, name);
		fputs("</text>\n", p->f);
		x += 16 + 7 * (uint32_t)sipas_utf8_width(name, strlen(name)) +
		     24;
		free(name);
	}
	/* Grid and axis labels. */
	for (double v = lo; v <= 100 + 1e-9; v += step) {
		double x = x_of(v, lo);

		fprintf(p->f,
		        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		        "stroke=\"#e3e3e3\"/><text x=\"%.1f\" y=\"%d\" "
		        "text-anchor=\"middle\" fill=\"#555\">%.0f</text>\n",
		        x, CH_TOP - 4, x, CH_TOP + (int)n * CH_ROW, x,
		        CH_TOP + (int)n * CH_ROW + 16, v);
	}
	y = CH_TOP;
	for (uint32_t i = 0; i < r->nunits; i++) {
		const sipas_report_unit *u = &r->units[r->ranked[i]];
		char *name;
		double x;

		if (isnan(u->index))
			continue;
		name = sipas_utf8_fit(u->unit->name, CH_NAME);
		x = x_of(u->index, lo);
		fprintf(p->f,
		        "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%u. ",
		        CH_LABEL - 8, y + 14, u->rank);
		esc(p, name);
		fprintf(p->f,
		        "</text><rect x=\"%d\" y=\"%d\" width=\"%.1f\" "
		        "height=\"%d\" fill=\"%s\"><title>",
		        CH_LABEL, y + 3, x - CH_LABEL, CH_ROW - 6,
		        palette[u->unit->block % NPALETTE]);
		esc(p, u->unit->name);
		number(p, u->index, buf);
		fprintf(p->f,
		        ": %s</title></rect><text x=\"%.1f\" y=\"%d\">%s"
		        "</text>\n",
		        buf, label_x(x, line, buf), y + 14, buf);
		free(name);
		y += CH_ROW;
	}
	/* The overall index as a line across the bars. */
	if (!isnan(line)) {
		double x = line;

		fprintf(p->f,
		        "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
		        "stroke=\"#222\" stroke-width=\"1.5\" "
		        "stroke-dasharray=\"5,3\"/><text x=\"%.1f\" y=\"%d\" "
		        "text-anchor=\"middle\" font-weight=\"bold\">",
		        x, CH_TOP - 12, x, CH_TOP + (int)n * CH_ROW, x,
		        CH_TOP - 16);
		esc(p, p->l[L_OVERALL]);
		fprintf(p->f, " %s</text>\n", number(p, r->index, buf));
	}
	fputs("</svg>\n", p->f);
}

static void blocks(struct page *p)
{
	const sipas_report *r = p->r;
	bool ab = !isnan(r->index);

	fprintf(p->f, "<h2>%s</h2>\n<table>\n<tr>", p->l[L_BLOCKS]);
	th(p, L_BLOCK);
	th(p, L_UNITS);
	th(p, L_RESPONDENTS);
	th(p, L_INDEX);
	th(p, L_MIN);
	th(p, L_MAX);
	th(p, L_MEDIAN);
	th(p, L_ABOVE);
	th(p, L_BELOW);
	if (r->has_compare) {
		th(p, L_PREVIOUS);
		th(p, L_CHANGE);
	}
	fputs("</tr>\n", p->f);
	for (uint32_t b = 0; b < r->nblocks; b++) {
		const sipas_report_block *rb = &r->blocks[b];

		fprintf(p->f, "<tr><td><span class=\"sw\" style=\"background:"
		              "%s\"></span>",
		        palette[b % NPALETTE]);
		esc(p, rb->block->name);
		fputs("</td>", p->f);
		td_int(p, rb->units);
		td_int(p, rb->respondents);
		td_num(p, rb->index);
		td_num(p, rb->spread.min);
		td_num(p, rb->spread.max);
		td_num(p, rb->spread.median);
		if (ab) {
			td_int(p, rb->above);
			td_int(p, rb->below);
		} else {
			td_text(p, "-");
			td_text(p, "-");
		}
		if (r->has_compare) {
			td_num(p, rb->has_previous ? rb->prev_index : NAN);
			td_change(p, rb->has_previous,
			          rb->index - rb->prev_index);
		}
		fputs("</tr>\n", p->f);
	}
	fputs("</table>\n", p->f);
}

static void units(struct page *p)
{
	const sipas_report *r = p->r;
	bool any_low = false;

	fprintf(p->f, "<h2>%s</h2>\n<table>\n<tr>", p->l[L_RANKING]);
	th(p, L_RANK);
	th(p, L_UNIT);
	th(p, L_BLOCK);
	th(p, L_RESPONDENTS);
	th(p, L_INDEX);
	if (r->has_compare) {
		th(p, L_PREVIOUS);
		th(p, L_CHANGE);
		th(p, L_RANK_CHANGE);
	}
	fputs("</tr>\n", p->f);
	for (uint32_t i = 0; i < r->nunits; i++) {
		const sipas_report_unit *u = &r->units[r->ranked[i]];
		char buf[NUM_LEN];

		any_low = any_low || u->low_sample;
		fputs(u->low_sample ? "<tr class=\"low\">" : "<tr>", p->f);
		if (u->rank > 0)
			fprintf(p->f, "<td class=\"n\">%u</td>", u->rank);
		else
			td_text(p, "-");
		td_text(p, u->unit->name);
		td_text(p, sipas_def_block(r->def, u->unit->block)->name);
		td_int(p, u->respondents);
		fprintf(p->f, "<td class=\"n\">%s%s</td>",
		        number(p, u->index, buf), u->low_sample ? " *" : "");
		if (r->has_compare) {
			td_num(p, u->has_previous ? u->prev_index : NAN);
			td_change(p, u->has_previous,
			          u->index - u->prev_index);
			if (u->has_previous && u->rank > 0 && u->prev_rank > 0)
				fprintf(p->f, "<td class=\"n\">%+lld</td>",
				        (long long)u->prev_rank -
				            (long long)u->rank);
			else
				td_text(p, "-");
		}
		fputs("</tr>\n", p->f);
	}
	fputs("</table>\n", p->f);
	if (any_low) {
		fprintf(p->f, "<p class=\"note\">* %s %u %s</p>\n",
		        p->l[L_LOW_SAMPLE],
		        sipas_def_methods(r->def)->min_respondents,
		        p->l[L_RESPONDENTS_LC]);
	}
}

/* One table per form: its units (by rank) against its top-level contents,
 * as the published reports print them. */
static void by_content(struct page *p)
{
	const sipas_report *r = p->r;

	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_form *fo = r->forms[fi].form;

		if (r->forms[fi].respondents == 0)
			continue;
		fprintf(p->f, "<h2>%s ", p->l[L_BY_CONTENT]);
		esc(p, fo->name[0] ? fo->name : fo->id);
		fputs("</h2>\n<table>\n<tr>", p->f);
		th(p, L_UNIT);
		th(p, L_RESPONDENTS);
		for (uint32_t t = 0; t < fo->ntop; t++) {
			const sipas_group *g = &fo->groups[fo->top[t]];

			fputs("<th>", p->f);
			esc(p, g->name[0] ? g->name : g->id);
			fputs("</th>", p->f);
		}
		th(p, L_INDEX);
		fputs("</tr>\n", p->f);
		for (uint32_t i = 0; i < r->nunits; i++) {
			const sipas_report_unit *u = &r->units[r->ranked[i]];

			for (uint32_t k = 0; k < u->nforms; k++) {
				const sipas_report_uform *uf = &u->forms[k];

				if (uf->form != fo)
					continue;
				fputs("<tr>", p->f);
				td_text(p, u->unit->name);
				td_int(p, uf->respondents);
				for (uint32_t t = 0; t < fo->ntop; t++)
					td_num(p, uf->group_index[fo->top[t]]);
				td_num(p, uf->index);
				fputs("</tr>\n", p->f);
			}
		}
		fputs("</table>\n", p->f);
	}
}

static void groups(struct page *p)
{
	const sipas_report *r = p->r;

	fprintf(p->f, "<h2>%s</h2>\n<table>\n<tr>", p->l[L_CONTENTS]);
	th(p, L_FORM);
	th(p, L_CONTENT);
	th(p, L_INDEX);
	th(p, L_MIN);
	th(p, L_MAX);
	th(p, L_MEDIAN);
	th(p, L_LOWEST);
	th(p, L_HIGHEST);
	fputs("</tr>\n", p->f);
	for (uint32_t g = 0; g < r->ngroups; g++) {
		const sipas_report_group *rg = &r->groups[g];
		const sipas_group *gr = rg->group;
		char buf[NUM_LEN];

		fputs("<tr>", p->f);
		td_text(p, rg->form->id);
		/* Nested contents are indented under their parent. */
		fprintf(p->f, "<td style=\"padding-left:%upx\">",
		        7 + 16 * (gr->depth < 8 ? gr->depth : 8));
		esc(p, gr->name[0] ? gr->name : gr->id);
		fputs("</td>", p->f);
		td_num(p, rg->index);
		td_num(p, rg->spread.min);
		td_num(p, rg->spread.max);
		td_num(p, rg->spread.median);
		for (int side = 0; side < 2; side++) {
			const sipas_report_unit *u =
			    side ? rg->highest : rg->lowest;

			if (u == NULL) {
				td_text(p, "-");
				continue;
			}
			fputs("<td>", p->f);
			esc(p, u->unit->name);
			fprintf(p->f, " (%s)</td>",
			        number(p,
			               side ? rg->highest_index
			                    : rg->lowest_index,
			               buf));
		}
		fputs("</tr>\n", p->f);
	}
	fputs("</table>\n", p->f);
}

static void item_table(struct page *p, const sipas_form *fo, uint32_t j)
{
	const sipas_item *it = &fo->items[j];
	uint64_t *row = sipas_xcalloc(1 + it->ncodes, sizeof *row);
	double mean;

	sipas_report_item_total(p->r, fo, j, row, &mean);
	fputs("<table>\n<tr><th colspan=\"4\">", p->f);
	esc(p, it->text[0] ? it->text : it->id);
	fprintf(p->f, " &middot; %s %llu</th></tr>\n", p->l[L_ANSWERED],
	        (unsigned long long)row[0]);
	if (it->kind == SIPAS_ITEM_NUMBER) {
		fputs("<tr>", p->f);
		th(p, L_MEAN);
		td_num(p, mean);
		fputs("</tr>\n", p->f);
	} else {
		fputs("<tr>", p->f);
		th(p, L_CODE);
		th(p, L_LABEL);
		th(p, L_COUNT);
		th(p, L_SHARE);
		fputs("</tr>\n", p->f);
	}
	for (uint32_t k = 0; k < it->ncodes; k++) {
		sipas_tally tl = {row[1 + k], row[0]};

		fprintf(p->f, "<tr><td class=\"n\">%lld</td>",
		        (long long)it->codes[k]);
		td_text(p, it->labels ? it->labels[k] : "");
		td_int(p, row[1 + k]);
		td_num(p, sipas_index_rate(tl));
		fputs("</tr>\n", p->f);
	}
	fputs("</table>\n", p->f);
	if (it->kind == SIPAS_ITEM_MULTI)
		fprintf(p->f, "<p class=\"note\">%s</p>\n", p->l[L_MULTI_NOTE]);
	free(row);
}

static void items(struct page *p)
{
	const sipas_report *r = p->r;
	bool title = false;

	for (uint32_t fi = 0; fi < r->nforms; fi++) {
		const sipas_form *fo = r->forms[fi].form;

		if (r->forms[fi].respondents == 0 || fo->nitems == 0)
			continue;
		if (!title)
			fprintf(p->f, "<h2>%s</h2>\n", p->l[L_ITEMS]);
		title = true;
		fputs("<h3>", p->f);
		esc(p, fo->name[0] ? fo->name : fo->id);
		fputs("</h3>\n", p->f);
		for (uint32_t j = 0; j < fo->nitems; j++)
			item_table(p, fo, j);
	}
}

sipas_err sipas_report_write_html(const sipas_report *r,
                                  const sipas_report_opts *o, FILE *f,
                                  sipas_diag *diag)
{
	struct page p = {
	    .f = f,
	    .r = r,
	    .display = sipas_def_display(r->def),
	    .mark = o != NULL && o->decimal_mark ? o->decimal_mark : '.',
	    .l = o != NULL && o->vietnamese ? labels_vi : labels_en,
	};

	errno = 0;
	heading(&p);
	chart(&p);
	blocks(&p);
	units(&p);
	by_content(&p);
	groups(&p);
	items(&p);
	fputs("</body>\n</html>\n", f);
	if (fflush(f) != 0 || ferror(f)) {
		sipas_diag_set(diag, "writing the page: %s",
		               errno ? strerror(errno) : "write error");
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}
