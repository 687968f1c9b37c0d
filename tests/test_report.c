/*
 * test_report.c - Check suite of the snapshot model and its formats
 * (store/report*.c, sipas_report.h).
 *
 * No LMDB: responses are built by hand, validated against a definition
 * loaded from JSON, and counted into in-memory sipas_counts; the report is
 * built through a callback that hands those counters out. Every expected
 * number is worked by hand in the comments.
 */
#include "testutil.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_counts.h"
#include "sipas_definition.h"
#include "sipas_report.h"
#include "sipas_text.h"
#include "sipas_validate.h"

#define EPS 1e-9
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define TS 1720000000 /* 2024-07-03T09:46:40Z, inside the window */

#define ck_assert_index(got, want)                                             \
	do {                                                                   \
		double got_ = (got), want_ = (want);                           \
		if (isnan(want_))                                              \
			ck_assert_msg(isnan(got_), "%s: got %.17g, want NAN",  \
			              #got, got_);                             \
		else                                                           \
			ck_assert_msg(fabs(got_ - want_) <= EPS,               \
			              "%s: got %.17g, want %.17g", #got, got_, \
			              want_);                                  \
	} while (0)

/* ---- the definition of most tests ---- */

/*
 * Two blocks; form "direct" with a mean group and a pooled group and one
 * item of each kind; form "online" with nested groups (weights 1 and 3)
 * and a number item too wide to keep its values. U2 uses both forms.
 * Methods are filled in: unit, block, overall.
 */
static const char def_fmt[] =
    "{\"campaign\": {\"id\": \"R-2024\", \"title\": \"Báo cáo thử\","
    "  \"from\": \"2024-01-01\", \"to\": \"2024-12-31\"},"
    " \"scale\": {\"min\": 1, \"max\": 5, \"satisfied\": [4, 5],"
    "  \"not_applicable\": 0},"
    " \"method\": {\"group\": \"mean\", \"unit\": \"%s\", \"block\": \"%s\","
    "  \"overall\": \"%s\", \"min_respondents\": 3},"
    " \"display\": {\"decimals\": 2, \"rounding\": \"%s\"},"
    " \"blocks\": [{\"id\": \"b1\", \"name\": \"Sở, ban, ngành\"},"
    "  {\"id\": \"b2\", \"name\": \"UBND cấp xã\"}],"
    " \"forms\": ["
    "  {\"id\": \"direct\", \"name\": \"Trực tiếp\", \"groups\": ["
    "    {\"id\": \"access\", \"name\": \"Tiếp cận dịch vụ\","
    "     \"criteria\": [{\"id\": \"A1\"}, {\"id\": \"A2\"}]},"
    "    {\"id\": \"feedback\", \"name\": \"Tiếp nhận, xử lý góp ý\","
    "     \"method\": \"pooled\","
    "     \"criteria\": [{\"id\": \"F1\"}, {\"id\": \"F2\"}]}],"
    "   \"items\": [{\"id\": \"trips\", \"kind\": \"choice\", \"codes\": [1, "
    "2, 3]},"
    "    {\"id\": \"expect\", \"kind\": \"multi\", \"max\": 2, \"codes\": [1, "
    "2, 3]},"
    "    {\"id\": \"age\", \"kind\": \"number\", \"min\": 15, \"max\": 100}]},"
    "  {\"id\": \"online\", \"name\": \"Trực tuyến\", \"groups\": ["
    "    {\"id\": \"svc\", \"name\": \"Dịch vụ công trực tuyến\", \"groups\": ["
    "      {\"id\": \"p1\", \"name\": \"Phần một\", \"criteria\": [{\"id\": "
    "\"O1\"}]},"
    "      {\"id\": \"p2\", \"name\": \"Phần hai\", \"weight\": 3,"
    "       \"criteria\": [{\"id\": \"O2\"}]}]}],"
    "   \"items\": [{\"id\": \"big\", \"kind\": \"number\", \"min\": 0,"
    "    \"max\": 1000000}]}],"
    " \"units\": ["
    "  {\"id\": \"U1\", \"name\": \"Sở Nội vụ, \\\"Tư pháp\\\"\", \"block\": "
    "\"b1\","
    "   \"forms\": [\"direct\"]},"
    "  {\"id\": \"U2\", \"name\": \"Sở Tài chính\", \"block\": \"b1\","
    "   \"forms\": [\"direct\", \"online\"]},"
    "  {\"id\": \"U3\", \"name\": \"UBND xã Mường Bú\", \"block\": \"b2\","
    "   \"forms\": [\"direct\"]},"
    "  {\"id\": \"U4\", \"name\": \"UBND xã Chiềng Sơ\", \"block\": \"b2\","
    "   \"forms\": [\"direct\"]}]}";

/* Five units of one form with one criterion, for ranks. */
static const char rank_def[] =
    "{\"campaign\": {\"id\": \"K-2024\", \"from\": \"2024-01-01\","
    "  \"to\": \"2024-12-31\"},"
    " \"method\": {\"min_respondents\": 3},"
    " \"blocks\": [{\"id\": \"b\", \"name\": \"Khối\"}],"
    " \"forms\": [{\"id\": \"f\", \"name\": \"Phiếu\", \"groups\": [{\"id\": "
    "\"g\","
    "   \"name\": \"Nhóm\", \"criteria\": [{\"id\": \"C\"}]}]}],"
    " \"units\": ["
    "  {\"id\": \"T2\", \"name\": \"Hai\", \"block\": \"b\", \"forms\": "
    "[\"f\"]},"
    "  {\"id\": \"T1\", \"name\": \"Một\", \"block\": \"b\", \"forms\": "
    "[\"f\"]},"
    "  {\"id\": \"T5\", \"name\": \"Năm\", \"block\": \"b\", \"forms\": "
    "[\"f\"]},"
    "  {\"id\": \"T4\", \"name\": \"Bốn\", \"block\": \"b\", \"forms\": "
    "[\"f\"]},"
    "  {\"id\": \"T3\", \"name\": \"Ba\", \"block\": \"b\", \"forms\": "
    "[\"f\"]}]}";

static sipas_def *load_def(const char *json)
{
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv =
	    sipas_def_load(json, strlen(json), "def.json", &d, &diag);

	ck_assert_msg(rv == SIPAS_OK, "%s", diag.msg);
	return d;
}

static sipas_def *load_main(const char *unit, const char *block,
                            const char *overall, const char *rounding)
{
	char json[8192];
	int n = snprintf(json, sizeof json, def_fmt, unit, block, overall,
	                 rounding);

	ck_assert(n > 0 && (size_t)n < sizeof json);
	return load_def(json);
}

/* ---- counters in memory ---- */

struct fake {
	const sipas_def *def;
	sipas_counts **c;  /* by unit * nforms + form; NULL: nothing */
	sipas_response *r; /* reused for every response */
	int64_t codes[SIPAS_MAX_ANSWERS];
	const char *fail_unit; /* the callback fails for this unit */
	unsigned calls;
};

static void fake_init(struct fake *fk, const sipas_def *d)
{
	memset(fk, 0, sizeof *fk);
	fk->def = d;
	fk->c = calloc((size_t)sipas_def_nunits(d) * sipas_def_nforms(d),
	               sizeof *fk->c);
	fk->r = calloc(1, sizeof *fk->r);
	ck_assert(fk->c != NULL && fk->r != NULL);
}

static void fake_free(struct fake *fk)
{
	for (size_t i = 0;
	     i < (size_t)sipas_def_nunits(fk->def) * sipas_def_nforms(fk->def);
	     i++)
		sipas_counts_free(&fk->c[i]);
	free(fk->c);
	free(fk->r);
}

/*
 * Count one response of (unit, form, channel) whose items are written
 * "A1=4 A2=0 expect=[1,2] age=30", after sipas_validate accepted it.
 */
static void add(struct fake *fk, const char *unit, const char *form,
                const char *channel, const char *spec)
{
	sipas_response *r = fk->r;
	sipas_checked chk;
	sipas_fault fault;
	char *names = strdup(spec), *p;
	uint32_t ncodes = 0;
	const sipas_unit *u;
	const sipas_form *f;
	sipas_counts **slot;
	sipas_err rv;

	ck_assert_ptr_nonnull(names);
	memset(r, 0, offsetof(sipas_response, text_used));
	r->v = 1;
	r->id = "x-1";
	r->campaign = sipas_def_campaign(fk->def)->id;
	r->unit = unit;
	r->form = form;
	r->channel = channel;
	r->ts = TS;
	for (p = names; *p != '\0';) {
		sipas_answer *a = &r->answers[r->nanswers++];
		char *eq, *end;

		while (*p == ' ')
			p++;
		eq = strchr(p, '=');
		ck_assert_msg(eq != NULL, "bad spec '%s'", spec);
		*eq = '\0';
		a->item = p;
		a->item_len = (uint32_t)strlen(p);
		p = eq + 1;
		if (*p != '[') {
			a->kind = SIPAS_ANSWER_INT;
			a->value = strtoll(p, &end, 10);
		} else {
			a->kind = SIPAS_ANSWER_LIST;
			a->codes = &fk->codes[ncodes];
			for (end = p + 1; *end != ']';) {
				fk->codes[ncodes++] = strtoll(end, &end, 10);
				a->ncodes++;
				if (*end == ',')
					end++;
			}
			end++;
		}
		p = end;
		if (*p == ' ')
			*p++ = '\0';
	}
	rv = sipas_validate(fk->def, r, &chk, &fault);
	ck_assert_msg(rv == SIPAS_OK, "%s %s '%s': %s %s: %s", unit, form, spec,
	              sipas_err_name(rv), fault.field, fault.detail);
	u = sipas_def_find_unit(fk->def, unit, strlen(unit));
	f = sipas_def_find_form(fk->def, form, strlen(form));
	slot = &fk->c[u->index * sipas_def_nforms(fk->def) + f->index];
	if (*slot == NULL)
		*slot = sipas_counts_new(fk->def, f);
	sipas_counts_add(*slot, &chk);
	free(names);
}

static sipas_err fake_counts(void *ctx, const char *campaign,
                             const sipas_unit *u, sipas_counts *c,
                             sipas_diag *diag)
{
	struct fake *fk = ctx;
	sipas_counts *src;

	ck_assert_str_eq(campaign, sipas_def_campaign(fk->def)->id);
	fk->calls++;
	if (fk->fail_unit != NULL && strcmp(u->id, fk->fail_unit) == 0) {
		sipas_diag_set(diag, "counters of %s: damaged record", u->id);
		return SIPAS_E_STORE;
	}
	src = fk->c[u->index * sipas_def_nforms(fk->def) + c->form->index];
	if (src != NULL)
		sipas_counts_merge(c, src);
	return SIPAS_OK;
}

/*
 * The responses of the main tests:
 *
 * U1 (b1, direct, postal), 3 respondents:
 *   A1 5 4 1 -> 2/3;  A2 4 2 na -> 1/2;  access (mean) = (66.67 + 50) / 2
 *   = 58.333...;  F1 5 na 2 -> 1/2, F2 na na 4 -> 1/1: feedback (pooled)
 *   = 2/3 = 66.666... (the mean of the criteria would be 75);
 *   form (mean of the groups) = 62.5.  Pooled over all: 5/8 = 62.5.
 *   trips 1, 2, -: answered 2; expect [1,2], [], [2]: answered 3;
 *   age 30, 40, 61: mean 43.667, median 40.
 * U2 (b1) direct (postal), 2 respondents: A1 5 3 -> 1/2, A2 5 4 -> 2/2:
 *   access 75; feedback none -> NAN; form 75 (pooled 3/4 = 75).
 *   online (portal), 3 respondents: O1 5 1 2 -> 1/3, O2 5 5 4 -> 3/3:
 *   p1 33.333, p2 100, svc = (33.333 * 1 + 100 * 3) / 4 = 83.333;
 *   form 83.333 (pooled 4/6 = 66.667). big 10, 20: mean 15, median NAN.
 *   unit = (75 * 2 + 83.333 * 3) / 5 = 80 (pooled forms: 70).
 * U3 (b2, direct, kiosk), 2 respondents (low sample, minimum 3):
 *   A1 4 5, A2 4 5 -> access 100; F1 4 1, F2 4 na -> 2/3 = 66.667;
 *   form 83.333 (pooled 6/7 = 85.714). age 20, 25: median 22.5.
 * U4 (b2, direct): nothing -> no index, no rank, low sample.
 */
static void add_main(struct fake *fk)
{
	add(fk, "U1", "direct", "postal",
	    "A1=5 A2=4 F1=5 F2=0 trips=1 expect=[1,2] age=30");
	add(fk, "U1", "direct", "postal",
	    "A1=4 A2=2 F1=0 F2=0 trips=2 expect=[] age=40");
	add(fk, "U1", "direct", "postal",
	    "A1=1 A2=0 F1=2 F2=4 expect=[2] age=61");
	add(fk, "U2", "direct", "postal", "A1=5 A2=5 F1=0 F2=0");
	add(fk, "U2", "direct", "postal", "A1=3 A2=4 F1=0 F2=0");
	add(fk, "U2", "online", "portal", "O1=5 O2=5 big=10");
	add(fk, "U2", "online", "portal", "O1=1 O2=5 big=20");
	add(fk, "U2", "online", "portal", "O1=2 O2=4");
	add(fk, "U3", "direct", "kiosk", "A1=4 A2=4 F1=4 F2=4 age=20");
	add(fk, "U3", "direct", "kiosk", "A1=5 A2=5 F1=1 F2=0 age=25");
}

static const sipas_campaign_stats main_stats = {10, 2, 1, 3};

struct fixture {
	sipas_def *def;
	struct fake fk;
	sipas_report *r;
};

static void build_main(struct fixture *fx, const char *unit, const char *block,
                       const char *overall, const char *rounding)
{
	sipas_diag diag = {{0}};
	sipas_err rv;

	fx->def = load_main(unit, block, overall, rounding);
	fake_init(&fx->fk, fx->def);
	add_main(&fx->fk);
	rv = sipas_report_build(fx->def, "7-0123456789abcdef", &main_stats, TS,
	                        fake_counts, &fx->fk, &fx->r, &diag);
	ck_assert_msg(rv == SIPAS_OK, "%s", diag.msg);
	ck_assert_ptr_nonnull(fx->r);
}

static void fixture_free(struct fixture *fx)
{
	sipas_report_free(&fx->r);
	ck_assert_ptr_null(fx->r);
	fake_free(&fx->fk);
	sipas_def_free(&fx->def);
}

static const sipas_report_group *find_group(const sipas_report *r,
                                            const char *form, const char *path)
{
	for (uint32_t g = 0; g < r->ngroups; g++)
		if (strcmp(r->groups[g].form->id, form) == 0 &&
		    strcmp(r->groups[g].group->path, path) == 0)
			return &r->groups[g];
	ck_abort_msg("no group %s:%s", form, path);
	return NULL;
}

/* ---- the model ---- */

START_TEST(test_report_criteria)
{
	struct fixture fx;
	const sipas_report_uform *uf;
	const uint64_t *d;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	ck_assert_uint_eq(fx.r->nunits, 4);
	ck_assert_uint_eq(fx.fk.calls, 5); /* one per (unit, form) */
	uf = &fx.r->units[0].forms[0];
	ck_assert_str_eq(uf->form->id, "direct");
	ck_assert_uint_eq(uf->respondents, 3);
	/* A1: 5 4 1 */
	ck_assert_uint_eq(uf->crit[0].answered, 3);
	ck_assert_uint_eq(uf->crit[0].satisfied, 2);
	ck_assert_index(sipas_index_rate(uf->crit[0]), 200.0 / 3);
	d = sipas_report_dist(fx.r, uf, 0);
	ck_assert_uint_eq(d[0], 0); /* na */
	ck_assert_uint_eq(d[1], 1); /* level 1 */
	ck_assert_uint_eq(d[2], 0);
	ck_assert_uint_eq(d[3], 0);
	ck_assert_uint_eq(d[4], 1);
	ck_assert_uint_eq(d[5], 1);
	/* A2: 4 2 na */
	d = sipas_report_dist(fx.r, uf, 1);
	ck_assert_uint_eq(d[0], 1);
	ck_assert_uint_eq(d[2], 1);
	ck_assert_uint_eq(d[4], 1);
	ck_assert_index(sipas_index_rate(uf->crit[1]), 50.0);
	/* F2: na na 4 */
	ck_assert_uint_eq(sipas_report_dist(fx.r, uf, 3)[0], 2);
	ck_assert_index(sipas_index_rate(uf->crit[3]), 100.0);
	/* U4: nothing counted, every rate NAN */
	uf = &fx.r->units[3].forms[0];
	ck_assert_uint_eq(uf->respondents, 0);
	ck_assert_index(sipas_index_rate(uf->crit[0]), NAN);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_groups_mean_vs_pooled)
{
	struct fixture fx;
	const sipas_report_uform *uf;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	uf = &fx.r->units[0].forms[0];
	/* access, a mean group: (200/3 + 50) / 2 */
	ck_assert_index(uf->group_index[0], (200.0 / 3 + 50) / 2);
	ck_assert_uint_eq(uf->group_tally[0].answered, 5);
	ck_assert_uint_eq(uf->group_tally[0].satisfied, 3);
	/* feedback, pooled: 2 of 3 (a mean would give 75) */
	ck_assert_index(uf->group_index[1], 200.0 / 3);
	ck_assert_uint_eq(uf->group_tally[1].answered, 3);
	ck_assert_uint_eq(uf->group_tally[1].satisfied, 2);
	ck_assert_index(uf->index, 62.5);
	/* U2 direct: feedback without answers is skipped */
	uf = &fx.r->units[1].forms[0];
	ck_assert_index(uf->group_index[1], NAN);
	ck_assert_index(uf->index, 75.0);
	/* U2 online: nested groups, weights 1 and 3 */
	uf = &fx.r->units[1].forms[1];
	ck_assert_str_eq(uf->form->id, "online");
	ck_assert_str_eq(uf->form->groups[1].path, "svc/p1");
	ck_assert_index(uf->group_index[1], 100.0 / 3);
	ck_assert_index(uf->group_index[2], 100.0);
	ck_assert_index(uf->group_index[0], (100.0 / 3 + 300) / 4);
	ck_assert_index(uf->index, (100.0 / 3 + 300) / 4);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_units)
{
	struct fixture fx;
	const sipas_report_unit *u;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	u = fx.r->units;
	ck_assert_index(u[0].index, 62.5);
	/* respondent-weighted over two forms: (75 * 2 + 83.333 * 3) / 5 */
	ck_assert_uint_eq(u[1].respondents, 5);
	ck_assert_index(u[1].index, 80.0);
	ck_assert_index(u[2].index, 250.0 / 3);
	ck_assert_index(u[3].index, NAN);
	/* ranks: U3 83.3, U2 80, U1 62.5, U4 none */
	ck_assert_uint_eq(u[2].rank, 1);
	ck_assert_uint_eq(u[1].rank, 2);
	ck_assert_uint_eq(u[0].rank, 3);
	ck_assert_uint_eq(u[3].rank, 0);
	ck_assert_uint_eq(fx.r->ranked[0], 2);
	ck_assert_uint_eq(fx.r->ranked[1], 1);
	ck_assert_uint_eq(fx.r->ranked[2], 0);
	ck_assert_uint_eq(fx.r->ranked[3], 3);
	/* low sample: fewer than 3 respondents */
	ck_assert(!u[0].low_sample);
	ck_assert(!u[1].low_sample);
	ck_assert(u[2].low_sample);
	ck_assert(u[3].low_sample);
	/* pooled tallies: U1 5/8, U2 3/4 + 4/6 */
	ck_assert_uint_eq(u[0].tally.answered, 8);
	ck_assert_uint_eq(u[0].tally.satisfied, 5);
	ck_assert_uint_eq(u[1].tally.answered, 10);
	ck_assert_uint_eq(u[1].tally.satisfied, 7);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_blocks_mean_of_units)
{
	struct fixture fx;
	const sipas_report_block *b;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	b = fx.r->blocks;
	/* b1: (62.5 + 80) / 2 */
	ck_assert_str_eq(b[0].block->id, "b1");
	ck_assert_index(b[0].index, 71.25);
	ck_assert_uint_eq(b[0].respondents, 8);
	ck_assert_uint_eq(b[0].units, 2);
	ck_assert_index(b[0].spread.min, 62.5);
	ck_assert_index(b[0].spread.max, 80.0);
	ck_assert_index(b[0].spread.median, 71.25); /* even count: middle two */
	/* b2: U3 only (U4 has no index, but is declared there) */
	ck_assert_index(b[1].index, 250.0 / 3);
	ck_assert_uint_eq(b[1].respondents, 2);
	ck_assert_uint_eq(b[1].units, 2);
	ck_assert_index(b[1].spread.median, 250.0 / 3);
	/* overall, mean of blocks: (71.25 + 83.333) / 2 = 77.2916... */
	ck_assert_index(fx.r->index, (71.25 + 250.0 / 3) / 2);
	/* above / below 77.29: U2 above, U1 below; U3 above */
	ck_assert_uint_eq(b[0].above, 1);
	ck_assert_uint_eq(b[0].below, 1);
	ck_assert_uint_eq(b[1].above, 1);
	ck_assert_uint_eq(b[1].below, 0);
	/* counts */
	ck_assert_uint_eq(fx.r->by_channel[sipas_channel_index("postal")], 5);
	ck_assert_uint_eq(fx.r->by_channel[sipas_channel_index("portal")], 3);
	ck_assert_uint_eq(fx.r->by_channel[sipas_channel_index("kiosk")], 2);
	ck_assert_uint_eq(fx.r->by_channel[sipas_channel_index("phone")], 0);
	ck_assert_uint_eq(fx.r->forms[0].respondents, 7);
	ck_assert_uint_eq(fx.r->forms[1].respondents, 3);
	ck_assert_uint_eq(fx.r->stats.accepted, 10);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_overall_mean_of_units)
{
	struct fixture fx;

	build_main(&fx, "mean", "mean_of_units", "mean_of_units", "half_up");
	/* (62.5 + 80 + 83.333) / 3 */
	ck_assert_index(fx.r->index, (62.5 + 80 + 250.0 / 3) / 3);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_pooled)
{
	struct fixture fx;
	const sipas_report_unit *u;

	build_main(&fx, "pooled", "pooled", "pooled", "half_up");
	u = fx.r->units;
	/* unit method pooled: every criterion of the form pooled */
	ck_assert_index(u[0].index, 62.5);                         /* 5/8 */
	ck_assert_index(u[1].forms[0].index, 75.0);                /* 3/4 */
	ck_assert_index(u[1].forms[1].index, 400.0 / 6);           /* 4/6 */
	ck_assert_index(u[1].index, (75 * 2 + 400.0 / 6 * 3) / 5); /* 70 */
	ck_assert_index(u[2].index, 600.0 / 7);                    /* 6/7 */
	/* groups keep their own method inside a unit: svc is a mean */
	ck_assert_index(u[1].forms[1].group_index[0], (100.0 / 3 + 300) / 4);
	/* blocks pooled: b1 (5 + 7) / (8 + 10), b2 6/7 */
	ck_assert_index(fx.r->blocks[0].index, 1200.0 / 18);
	ck_assert_index(fx.r->blocks[1].index, 600.0 / 7);
	/* the spread is still over the unit indices */
	ck_assert_index(fx.r->blocks[0].spread.min, 62.5);
	ck_assert_index(fx.r->blocks[0].spread.max, 70.0);
	/* overall pooled: 18 / 25 */
	ck_assert_index(fx.r->index, 72.0);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_campaign_groups)
{
	struct fixture fx;
	const sipas_report_group *g;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	/* one entry per (form, group path): direct 2 + online 3 */
	ck_assert_uint_eq(fx.r->ngroups, 5);
	ck_assert_str_eq(fx.r->groups[0].group->path, "access");
	ck_assert_str_eq(fx.r->groups[4].group->path, "svc/p2");
	/* direct/access, mean of units: U1 58.33, U2 75, U3 100, U4 none */
	g = find_group(fx.r, "direct", "access");
	ck_assert_index(g->index, ((200.0 / 3 + 50) / 2 + 75 + 100) / 3);
	ck_assert_index(g->spread.min, (200.0 / 3 + 50) / 2);
	ck_assert_index(g->spread.max, 100.0);
	ck_assert_index(g->spread.median, 75.0);
	ck_assert_str_eq(g->lowest->unit->id, "U1");
	ck_assert_str_eq(g->highest->unit->id, "U3");
	ck_assert_index(g->lowest_index, (200.0 / 3 + 50) / 2);
	ck_assert_index(g->highest_index, 100.0);
	ck_assert_uint_eq(g->tally.answered, 13);
	ck_assert_uint_eq(g->tally.satisfied, 10);
	/* direct/feedback: U1 and U3 both exactly 2/3: the first wins */
	g = find_group(fx.r, "direct", "feedback");
	ck_assert_index(g->index, 200.0 / 3);
	ck_assert_str_eq(g->lowest->unit->id, "U1");
	ck_assert_str_eq(g->highest->unit->id, "U1");
	/* online groups: U2 only */
	g = find_group(fx.r, "online", "svc/p1");
	ck_assert_index(g->index, 100.0 / 3);
	ck_assert_index(g->spread.median, 100.0 / 3);
	fixture_free(&fx);

	/* pooled across units: satisfied over answered */
	build_main(&fx, "mean", "pooled", "mean_of_blocks", "half_up");
	ck_assert_index(find_group(fx.r, "direct", "access")->index,
	                1000.0 / 13);
	/* feedback: U1 2/3 + U3 2/3 */
	ck_assert_index(find_group(fx.r, "direct", "feedback")->index,
	                400.0 / 6);
	/* svc: 4 of 6 pooled, though U2's own svc (a mean group) is 83.33 */
	ck_assert_index(find_group(fx.r, "online", "svc")->index, 400.0 / 6);
	ck_assert_index(find_group(fx.r, "online", "svc")->spread.max,
	                (100.0 / 3 + 300) / 4);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_items)
{
	struct fixture fx;
	const sipas_report_uform *uf;
	const uint64_t *row;
	double mean, median;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	uf = &fx.r->units[0].forms[0];
	/* trips (choice 1, 2, 3): 1, 2, not answered */
	row = sipas_report_item(fx.r, uf, 0, NULL, NULL);
	ck_assert_uint_eq(row[0], 2);
	ck_assert_uint_eq(row[1], 1);
	ck_assert_uint_eq(row[2], 1);
	ck_assert_uint_eq(row[3], 0);
	/* expect (multi): [1,2], [], [2]: the empty answer counts */
	row = sipas_report_item(fx.r, uf, 1, NULL, NULL);
	ck_assert_uint_eq(row[0], 3);
	ck_assert_uint_eq(row[1], 1);
	ck_assert_uint_eq(row[2], 2);
	ck_assert_uint_eq(row[3], 0);
	/* age: 30, 40, 61 */
	row = sipas_report_item(fx.r, uf, 2, &mean, &median);
	ck_assert_uint_eq(row[0], 3);
	ck_assert_index(mean, 131.0 / 3);
	ck_assert_index(median, 40.0);
	/* U3 age 20, 25: median of an even count */
	uf = &fx.r->units[2].forms[0];
	sipas_report_item(fx.r, uf, 2, &mean, &median);
	ck_assert_index(mean, 22.5);
	ck_assert_index(median, 22.5);
	/* U2 direct: nothing answered */
	uf = &fx.r->units[1].forms[0];
	row = sipas_report_item(fx.r, uf, 2, &mean, &median);
	ck_assert_uint_eq(row[0], 0);
	ck_assert_index(mean, NAN);
	ck_assert_index(median, NAN);
	/* U2 online, big: a range too wide to keep values: mean only */
	uf = &fx.r->units[1].forms[1];
	row = sipas_report_item(fx.r, uf, 0, &mean, &median);
	ck_assert_uint_eq(row[0], 2);
	ck_assert_index(mean, 15.0);
	ck_assert_index(median, NAN);
	fixture_free(&fx);
}
END_TEST

/* The published tables of items are totals over a form's units. */
START_TEST(test_report_item_total)
{
	struct fixture fx;
	const sipas_form *direct, *online;
	uint64_t row[4];
	double mean;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	direct = fx.r->forms[0].form;
	online = fx.r->forms[1].form;
	/* trips: U1 1, 2 (U2, U3 none) */
	sipas_report_item_total(fx.r, direct, 0, row, &mean);
	ck_assert_uint_eq(row[0], 2);
	ck_assert_uint_eq(row[1], 1);
	ck_assert_uint_eq(row[2], 1);
	ck_assert_uint_eq(row[3], 0);
	ck_assert_index(mean, NAN);
	/* expect (multi): U1 [1,2], [], [2] */
	sipas_report_item_total(fx.r, direct, 1, row, NULL);
	ck_assert_uint_eq(row[0], 3);
	ck_assert_uint_eq(row[1], 1);
	ck_assert_uint_eq(row[2], 2);
	/* age: U1 30, 40, 61 and U3 20, 25 -> 176 / 5 */
	sipas_report_item_total(fx.r, direct, 2, row, &mean);
	ck_assert_uint_eq(row[0], 5);
	ck_assert_index(mean, 35.2);
	/* online big: U2 only, 10 and 20 */
	sipas_report_item_total(fx.r, online, 0, row, &mean);
	ck_assert_uint_eq(row[0], 2);
	ck_assert_index(mean, 15.0);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_ranks_with_ties)
{
	sipas_def *d = load_def(rank_def);
	struct fake fk;
	sipas_report *r = NULL;
	sipas_diag diag = {{0}};
	static const uint32_t want_ranked[] = {1, 0, 4, 3, 2};

	fake_init(&fk, d);
	/* T1 3/4 = 75; T2 1/2 = 50; T3 2/4 = 50; T4 1/4 = 25; T5 none */
	add(&fk, "T1", "f", "postal", "C=4");
	add(&fk, "T1", "f", "postal", "C=4");
	add(&fk, "T1", "f", "postal", "C=5");
	add(&fk, "T1", "f", "postal", "C=1");
	add(&fk, "T2", "f", "postal", "C=5");
	add(&fk, "T2", "f", "postal", "C=1");
	add(&fk, "T3", "f", "postal", "C=4");
	add(&fk, "T3", "f", "postal", "C=4");
	add(&fk, "T3", "f", "postal", "C=2");
	add(&fk, "T3", "f", "postal", "C=2");
	add(&fk, "T4", "f", "postal", "C=5");
	add(&fk, "T4", "f", "postal", "C=1");
	add(&fk, "T4", "f", "postal", "C=1");
	add(&fk, "T4", "f", "postal", "C=0");
	add(&fk, "T4", "f", "postal", "C=1");
	ck_assert_err(
	    sipas_report_build(d, NULL, NULL, TS, fake_counts, &fk, &r, &diag),
	    SIPAS_OK);
	/* definition order T2 T1 T5 T4 T3: ranks 2 1 - 4 2 */
	ck_assert_uint_eq(r->units[0].rank, 2);
	ck_assert_uint_eq(r->units[1].rank, 1);
	ck_assert_uint_eq(r->units[2].rank, 0);
	ck_assert_uint_eq(r->units[3].rank, 4);
	ck_assert_uint_eq(r->units[4].rank, 2);
	/* ranked: T1, T2, T3 (tie in definition order), T4, then T5 */
	for (size_t i = 0; i < NELEM(want_ranked); i++)
		ck_assert_uint_eq(r->ranked[i], want_ranked[i]);
	ck_assert(r->units[0].low_sample);  /* 2 respondents */
	ck_assert(!r->units[1].low_sample); /* 4 */
	ck_assert(r->units[2].low_sample);  /* 0 */
	ck_assert_str_eq(r->revision, "");
	ck_assert_uint_eq(r->stats.accepted, 0);
	/* T4 answered 4 of 5 (one na): 1/4 */
	ck_assert_index(r->units[3].index, 25.0);
	sipas_report_free(&r);
	fake_free(&fk);
	sipas_def_free(&d);
}
END_TEST

START_TEST(test_report_empty_campaign)
{
	struct fixture fx;
	sipas_diag diag = {{0}};

	fx.def =
	    load_main("mean", "mean_of_units", "mean_of_blocks", "half_up");
	fake_init(&fx.fk, fx.def);
	ck_assert_err(sipas_report_build(fx.def, "1-x", NULL, TS, fake_counts,
	                                 &fx.fk, &fx.r, &diag),
	              SIPAS_OK);
	ck_assert_index(fx.r->index, NAN);
	for (uint32_t u = 0; u < fx.r->nunits; u++) {
		ck_assert_index(fx.r->units[u].index, NAN);
		ck_assert_uint_eq(fx.r->units[u].rank, 0);
	}
	for (uint32_t b = 0; b < fx.r->nblocks; b++) {
		ck_assert_index(fx.r->blocks[b].index, NAN);
		ck_assert_index(fx.r->blocks[b].spread.median, NAN);
	}
	for (uint32_t g = 0; g < fx.r->ngroups; g++) {
		ck_assert_index(fx.r->groups[g].index, NAN);
		ck_assert_ptr_null(fx.r->groups[g].lowest);
	}
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_callback_error)
{
	struct fixture fx;
	sipas_diag diag = {{0}};

	fx.def =
	    load_main("mean", "mean_of_units", "mean_of_blocks", "half_up");
	fake_init(&fx.fk, fx.def);
	fx.fk.fail_unit = "U3";
	fx.r = (sipas_report *)&fx; /* must be reset to NULL */
	ck_assert_err(sipas_report_build(fx.def, "1-x", NULL, TS, fake_counts,
	                                 &fx.fk, &fx.r, &diag),
	              SIPAS_E_STORE);
	ck_assert_ptr_null(fx.r);
	ck_assert_str_eq(diag.msg, "counters of U3: damaged record");
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_compare)
{
	struct fixture now, prev;

	/* The previous campaign: same units, U1 better, U2 worse. */
	build_main(&now, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	prev.def =
	    load_main("mean", "mean_of_units", "mean_of_blocks", "half_up");
	fake_init(&prev.fk, prev.def);
	add(&prev.fk, "U1", "direct", "postal",
	    "A1=5 A2=5 F1=5 F2=5"); /* 100 */
	add(&prev.fk, "U2", "direct", "postal", "A1=5 A2=1 F1=0 F2=0"); /* 50 */
	add(&prev.fk, "U4", "direct", "postal",
	    "A1=5 A2=5 F1=5 F2=5"); /* 100 */
	ck_assert_err(sipas_report_build(prev.def, "1-x", NULL, TS, fake_counts,
	                                 &prev.fk, &prev.r, NULL),
	              SIPAS_OK);
	/* prev ranks: U1 1, U4 1, U2 3, U3 none */
	sipas_report_compare(now.r, prev.r);
	ck_assert(now.r->has_compare);
	ck_assert_str_eq(now.r->prev_campaign, "R-2024");
	/* prev overall: b1 (100 + 50) / 2 = 75, b2 100 -> 87.5 */
	ck_assert_index(now.r->prev_index, 87.5);
	/* U1 62.5 vs 100: declined; U2 80 (unit: (75*2 + 83.3*3)/5) vs 50
	 * (online had nothing then: direct only): improved; U3 none before;
	 * U4 none now */
	ck_assert_uint_eq(now.r->units_compared, 2);
	ck_assert_uint_eq(now.r->units_improved, 1);
	ck_assert_uint_eq(now.r->units_declined, 1);
	ck_assert(now.r->units[0].has_previous);
	ck_assert_index(now.r->units[0].prev_index, 100.0);
	ck_assert_uint_eq(now.r->units[0].prev_rank, 1);
	ck_assert_uint_eq(now.r->units[1].prev_rank, 3);
	ck_assert(!now.r->units[2].has_previous);
	ck_assert(now.r->units[3].has_previous); /* had one; none now */
	ck_assert(now.r->blocks[0].has_previous);
	ck_assert_index(now.r->blocks[0].prev_index, 75.0);
	fixture_free(&prev);
	fixture_free(&now);
}
END_TEST

/* ---- number display ---- */

START_TEST(test_report_format_number)
{
	static const struct {
		double v;
		uint32_t decimals;
		sipas_rounding mode;
		char mark;
		const char *want;
	} cases[] = {
	    {94.925, 2, SIPAS_ROUND_HALF_UP, '.', "94.93"}, /* 94.92499999... */
	    {94.925, 2, SIPAS_ROUND_TRUNCATE, '.', "94.92"},
	    {94.92999, 2, SIPAS_ROUND_TRUNCATE, '.', "94.92"},
	    {100.0 * 2640 / 2667, 1, SIPAS_ROUND_TRUNCATE, '.', "98.9"},
	    {100.0 * 2640 / 2667, 2, SIPAS_ROUND_HALF_UP, '.', "98.99"},
	    {1.005, 2, SIPAS_ROUND_HALF_UP, '.', "1.01"}, /* 1.00499999... */
	    {83.548, 2, SIPAS_ROUND_HALF_UP, '.', "83.55"},
	    {100.0, 2, SIPAS_ROUND_HALF_UP, '.', "100.00"},
	    {0.0, 2, SIPAS_ROUND_HALF_UP, '.', "0.00"},
	    {99.995, 2, SIPAS_ROUND_HALF_UP, '.', "100.00"},
	    {99.995, 2, SIPAS_ROUND_TRUNCATE, '.', "99.99"},
	    {99.5, 0, SIPAS_ROUND_HALF_UP, '.', "100"},
	    {99.5, 0, SIPAS_ROUND_TRUNCATE, '.', "99"},
	    {95.49, 2, SIPAS_ROUND_HALF_UP, ',', "95,49"},
	    {7.0 / 3, 9, SIPAS_ROUND_HALF_UP, '.', "2.333333333"},
	    {-1.005, 2, SIPAS_ROUND_HALF_UP, '.', "-1.01"},
	    {-1.009, 2, SIPAS_ROUND_TRUNCATE, '.', "-1.00"},
	    {-0.001, 2, SIPAS_ROUND_HALF_UP, '.', "0.00"},
	    {0.05, 1, SIPAS_ROUND_HALF_UP, ',', "0,1"},
	};
	char buf[40];

	for (size_t i = 0; i < NELEM(cases); i++) {
		sipas_display d = {cases[i].decimals, cases[i].mode};

		ck_assert(sipas_report_format_number(
		    cases[i].v, &d, cases[i].mark, buf, sizeof buf));
		ck_assert_msg(strcmp(buf, cases[i].want) == 0,
		              "case %zu: %.17g -> '%s', want '%s'", i,
		              cases[i].v, buf, cases[i].want);
	}
	ck_assert(!sipas_report_format_number(NAN, NULL, '.', buf, sizeof buf));
	ck_assert_str_eq(buf, "");
	ck_assert(sipas_report_format_number(12.345, NULL, 0, buf, sizeof buf));
	ck_assert_str_eq(buf, "12.35"); /* default: 2 decimals half up */
}
END_TEST

/* ---- outputs ---- */

/* Run a writer into memory; returns the malloc'd text. */
enum { W_JSON, W_TABLE, W_CSV, W_HTML };

static char *render(const sipas_report *r, int which, char mark)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	sipas_report_opts o = {mark, mark == ','};
	sipas_diag diag = {{0}};
	sipas_err rv;

	ck_assert_ptr_nonnull(f);
	if (which == W_JSON)
		rv = sipas_report_write_json(r, f, &diag);
	else if (which == W_TABLE)
		rv = sipas_report_write_table(r, &o, f, &diag);
	else if (which == W_CSV)
		rv = sipas_report_write_csv(r, &o, f, &diag);
	else
		rv = sipas_report_write_html(r, &o, f, &diag);
	ck_assert_msg(rv == SIPAS_OK, "%s", diag.msg);
	fclose(f);
	return text;
}

static json_t *get(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	ck_assert_msg(v != NULL, "no member '%s'", key);
	return v;
}

static void expect_real(json_t *o, const char *key, double want)
{
	json_t *v = get(o, key);

	if (isnan(want)) {
		ck_assert_msg(json_is_null(v), "%s: want null", key);
		return;
	}
	ck_assert_msg(json_is_real(v), "%s: want a real", key);
	/* full precision: the very same double comes back */
	ck_assert_msg(json_real_value(v) == want, "%s: %.17g != %.17g", key,
	              json_real_value(v), want);
}

static void expect_int(json_t *o, const char *key, json_int_t want)
{
	json_t *v = get(o, key);

	ck_assert_msg(json_is_integer(v), "%s: want an integer", key);
	ck_assert_msg(json_integer_value(v) == want, "%s: %lld != %lld", key,
	              (long long)json_integer_value(v), (long long)want);
}

static void expect_str(json_t *o, const char *key, const char *want)
{
	json_t *v = get(o, key);

	ck_assert_msg(json_is_string(v), "%s: want a string", key);
	ck_assert_str_eq(json_string_value(v), want);
}

static void expect_keys(json_t *o, const char *const *keys, size_t n)
{
	const char *k;
	json_t *v;
	size_t i = 0;

	ck_assert_uint_eq(json_object_size(o), n);
	json_object_foreach(o, k, v)
	{
		(void)v;
		ck_assert_str_eq(k, keys[i]);
		i++;
	}
}

START_TEST(test_report_json)
{
	static const char *const top_keys[] = {
	    "schema", "campaign", "taken_at", "definition_revision",
	    "counts", "index",    "blocks",   "groups",
	    "units"};
	static const char *const unit_keys[] = {"id",          "name",  "block",
	                                        "respondents", "index", "rank",
	                                        "low_sample",  "forms"};
	static const char *const crit_keys[] = {"id", "answered", "satisfied",
	                                        "na", "rate",     "dist"};
	struct fixture fx;
	json_error_t err;
	json_t *doc, *o, *u, *f, *c, *it;
	char *text;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	text = render(fx.r, W_JSON, '.');
	doc = json_loads(text, 0, &err);
	ck_assert_msg(doc != NULL, "line %d: %s", err.line, err.text);
	expect_keys(doc, top_keys, NELEM(top_keys));
	expect_str(doc, "schema", "sipas.snapshot/1");
	expect_str(doc, "campaign", "R-2024");
	expect_str(doc, "taken_at", "2024-07-03T09:46:40Z");
	expect_str(doc, "definition_revision", "7-0123456789abcdef");
	expect_real(doc, "index", fx.r->index);

	o = get(doc, "counts");
	expect_int(o, "accepted", 10);
	expect_int(o, "duplicates", 2);
	expect_int(o, "quarantined", 3);
	expect_int(o, "conflicts", 1);
	/* only channels and forms with responses */
	ck_assert_uint_eq(json_object_size(get(o, "by_channel")), 3);
	expect_int(get(o, "by_channel"), "postal", 5);
	expect_int(get(o, "by_channel"), "portal", 3);
	expect_int(get(o, "by_channel"), "kiosk", 2);
	expect_int(get(o, "by_form"), "direct", 7);
	expect_int(get(o, "by_form"), "online", 3);

	ck_assert_uint_eq(json_array_size(get(doc, "blocks")), 2);
	o = json_array_get(get(doc, "blocks"), 0);
	expect_str(o, "id", "b1");
	expect_str(o, "name", "Sở, ban, ngành");
	expect_real(o, "index", 71.25);
	expect_int(o, "respondents", 8);
	expect_int(o, "units", 2);
	expect_real(o, "min", 62.5);
	expect_real(o, "max", 80.0);
	expect_real(o, "median", 71.25);
	expect_int(o, "above", 1);
	expect_int(o, "below", 1);

	ck_assert_uint_eq(json_array_size(get(doc, "groups")), 5);
	o = json_array_get(get(doc, "groups"), 0);
	expect_str(o, "form", "direct");
	expect_str(o, "path", "access");
	expect_real(o, "index", fx.r->groups[0].index);
	expect_real(o, "median", 75.0);
	expect_str(get(o, "lowest"), "unit", "U1");
	expect_real(get(o, "lowest"), "index", fx.r->groups[0].lowest_index);
	expect_str(get(o, "highest"), "unit", "U3");
	expect_real(get(o, "highest"), "index", 100.0);
	o = json_array_get(get(doc, "groups"), 3);
	expect_str(o, "path", "svc/p1");

	ck_assert_uint_eq(json_array_size(get(doc, "units")), 4);
	u = json_array_get(get(doc, "units"), 1);
	expect_keys(u, unit_keys, NELEM(unit_keys));
	expect_str(u, "id", "U2");
	expect_str(u, "block", "b1");
	expect_int(u, "respondents", 5);
	expect_real(u, "index", fx.r->units[1].index);
	ck_assert_index(json_real_value(get(u, "index")), 80.0);
	expect_int(u, "rank", 2);
	ck_assert(json_is_false(get(u, "low_sample")));
	ck_assert_uint_eq(json_array_size(get(u, "forms")), 2);
	f = json_array_get(get(u, "forms"), 0);
	expect_str(f, "form", "direct");
	expect_int(f, "respondents", 2);
	expect_real(f, "index", 75.0);
	o = json_array_get(get(f, "groups"), 1);
	expect_str(o, "path", "feedback");
	expect_real(o, "index", NAN);
	expect_int(o, "answered", 0);
	c = json_array_get(get(f, "criteria"), 0);
	expect_keys(c, crit_keys, NELEM(crit_keys));
	expect_str(c, "id", "A1");
	expect_int(c, "answered", 2);
	expect_int(c, "satisfied", 1);
	expect_int(c, "na", 0);
	expect_real(c, "rate", 50.0);
	ck_assert_uint_eq(json_array_size(get(c, "dist")), 5);
	ck_assert_int_eq(json_integer_value(json_array_get(get(c, "dist"), 2)),
	                 1);
	c = json_array_get(get(f, "criteria"), 2);
	expect_real(c, "rate", NAN); /* F1: only not applicable */
	expect_int(c, "na", 2);
	/* U2 online: number item without values kept */
	f = json_array_get(get(u, "forms"), 1);
	expect_str(json_array_get(get(f, "groups"), 2), "path", "svc/p2");
	it = get(get(f, "items"), "big");
	expect_int(it, "answered", 2);
	expect_real(it, "mean", 15.0);
	expect_real(it, "median", NAN);
	ck_assert_ptr_null(json_object_get(it, "counts"));

	/* U1 items: code keys are strings; codes nobody chose are left out */
	u = json_array_get(get(doc, "units"), 0);
	expect_str(u, "name", "Sở Nội vụ, \"Tư pháp\"");
	f = json_array_get(get(u, "forms"), 0);
	it = get(get(f, "items"), "trips");
	expect_int(it, "answered", 2);
	expect_int(get(it, "counts"), "1", 1);
	expect_int(get(it, "counts"), "2", 1);
	ck_assert_ptr_null(json_object_get(get(it, "counts"), "3"));
	ck_assert_uint_eq(json_object_size(get(it, "counts")), 2);
	ck_assert_ptr_null(json_object_get(it, "respondents_share"));
	it = get(get(f, "items"), "expect");
	expect_int(it, "answered", 3);
	expect_int(get(it, "counts"), "2", 2);
	expect_real(get(it, "respondents_share"), "1", 100.0 / 3);
	expect_real(get(it, "respondents_share"), "2", 200.0 / 3);
	ck_assert_ptr_null(json_object_get(get(it, "respondents_share"), "3"));
	ck_assert_ptr_null(json_object_get(get(it, "counts"), "3"));
	it = get(get(f, "items"), "age");
	expect_real(it, "mean", 131.0 / 3);
	expect_real(it, "median", 40.0);

	/* U3 low sample; U4 no index, no rank */
	u = json_array_get(get(doc, "units"), 2);
	ck_assert(json_is_true(get(u, "low_sample")));
	expect_int(u, "rank", 1);
	u = json_array_get(get(doc, "units"), 3);
	expect_real(u, "index", NAN);
	ck_assert(json_is_null(get(u, "rank")));
	expect_real(json_array_get(get(u, "forms"), 0), "index", NAN);
	json_decref(doc);
	free(text);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_json_nulls_and_compare)
{
	struct fixture fx, prev;
	json_error_t err;
	json_t *doc, *o, *u;
	char *text;

	/* Nothing counted: every index null, above/below null too. */
	fx.def =
	    load_main("mean", "mean_of_units", "mean_of_blocks", "half_up");
	fake_init(&fx.fk, fx.def);
	ck_assert_err(sipas_report_build(fx.def, "1-x", NULL, 0, fake_counts,
	                                 &fx.fk, &fx.r, NULL),
	              SIPAS_OK);
	text = render(fx.r, W_JSON, '.');
	doc = json_loads(text, 0, &err);
	ck_assert_msg(doc != NULL, "%s", err.text);
	expect_str(doc, "taken_at", "1970-01-01T00:00:00Z");
	expect_real(doc, "index", NAN);
	ck_assert_uint_eq(
	    json_object_size(get(get(doc, "counts"), "by_channel")), 0);
	o = json_array_get(get(doc, "blocks"), 0);
	expect_real(o, "index", NAN);
	expect_real(o, "median", NAN);
	ck_assert(json_is_null(get(o, "above")));
	o = json_array_get(get(doc, "groups"), 0);
	ck_assert(json_is_null(get(o, "lowest")));
	ck_assert(json_is_null(get(o, "highest")));
	ck_assert_ptr_null(json_object_get(doc, "compare"));
	json_decref(doc);
	free(text);

	/* Compared with a campaign where U1 had 100. */
	build_main(&prev, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	sipas_report_free(&fx.r);
	fake_free(&fx.fk);
	fake_init(&fx.fk, fx.def);
	add(&fx.fk, "U1", "direct", "postal", "A1=5 A2=5 F1=5 F2=5");
	ck_assert_err(sipas_report_build(fx.def, "1-x", NULL, 0, fake_counts,
	                                 &fx.fk, &fx.r, NULL),
	              SIPAS_OK);
	sipas_report_compare(fx.r, prev.r);
	text = render(fx.r, W_JSON, '.');
	doc = json_loads(text, 0, &err);
	ck_assert_msg(doc != NULL, "%s", err.text);
	o = get(doc, "compare");
	expect_str(o, "campaign", "R-2024");
	expect_real(o, "index", prev.r->index);
	expect_real(o, "change", fx.r->index - prev.r->index);
	expect_int(o, "units_compared", 1);
	expect_int(o, "units_improved", 1);
	expect_int(o, "units_declined", 0);
	u = json_array_get(get(doc, "units"), 0);
	o = get(u, "previous");
	expect_real(o, "index", 62.5);
	expect_int(o, "rank", 3);
	expect_real(o, "change", 37.5);
	expect_int(o, "rank_change", 2); /* 3 -> 1: up two */
	/* U2 had an index before, none now: change and rank_change null */
	o = get(json_array_get(get(doc, "units"), 1), "previous");
	expect_real(o, "change", NAN);
	ck_assert(json_is_null(get(o, "rank_change")));
	/* U4 had none before */
	ck_assert(json_is_null(
	    get(json_array_get(get(doc, "units"), 3), "previous")));
	json_decref(doc);
	free(text);
	fixture_free(&prev);
	fixture_free(&fx);
}
END_TEST

/* The display width of each line of the table section after `title`, up
 * to the next empty line or footnote, must be the same (a right-aligned last
 * column). */
static void check_aligned(const char *text, const char *title, size_t nlines)
{
	const char *p = strstr(text, title);
	size_t w0 = 0, n = 0;

	ck_assert_msg(p != NULL, "no section '%s'", title);
	p = strchr(p, '\n') + 1;
	while (*p != '\n' && *p != '\0' && *p != '*') {
		const char *end = strchr(p, '\n');
		size_t w = sipas_utf8_width(p, (size_t)(end - p));

		if (n == 0)
			w0 = w;
		ck_assert_msg(w == w0, "%s line %zu: width %zu, want %zu: %.*s",
		              title, n, w, w0, (int)(end - p), p);
		n++;
		p = end + 1;
	}
	ck_assert_uint_eq(n, nlines);
}

START_TEST(test_report_table)
{
	struct fixture fx;
	char *text;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	text = render(fx.r, W_TABLE, '.');
	ck_assert_msg(strstr(text, "Báo cáo thử (R-2024)") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "Overall index: 77.29 (mean_of_blocks)") !=
	                  NULL,
	              "%s", text);
	ck_assert_msg(strstr(text, "By channel: portal 3, postal 5, kiosk 2") !=
	                  NULL,
	              "%s", text);
	/* header + 4 units, Vietnamese names aligned by display width */
	check_aligned(text, "Units by rank\n", 5);
	check_aligned(text, "Blocks\n", 3);
	ck_assert_msg(strstr(text, "83.33 *") != NULL, "%s", text); /* U3 low */
	ck_assert_msg(strstr(text, "* low sample: fewer than 3") != NULL, "%s",
	              text);
	/* units by rank: U3 first */
	ck_assert(strstr(text, "UBND xã Mường Bú") != NULL &&
	          strstr(text, "UBND xã Mường Bú") <
	              strstr(text, "Sở Tài chính"));
	ck_assert_msg(strstr(text, "    Phần một") != NULL, "%s",
	              text); /* nested */
	/* Items over the form's units: expect code 2 chosen by 2 of the 3
	 * who answered; the age mean 176 / 5 */
	{
		const char *items = strstr(text, "\nItems (all units");

		ck_assert_msg(items != NULL, "%s", text);
		check_aligned(items + 1, "Items (all units of each form; share "
		                         "of those who answered)\n",
		              1 + 3 + 3 + 1 + 1);
		ck_assert_msg(strstr(items, "2             2  66.67\n") != NULL, "%s", items);
		ck_assert_msg(strstr(items, "mean          35.20\n") != NULL,
		              "%s", items);
	}
	free(text);
	/* decimal comma */
	text = render(fx.r, W_TABLE, ',');
	ck_assert_msg(strstr(text, "Overall index: 77,29") != NULL, "%s", text);
	free(text);
	fixture_free(&fx);

	/* truncation display rounding: 58.333 / 66.666 */
	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "truncate");
	text = render(fx.r, W_TABLE, '.');
	ck_assert_msg(strstr(text, "Overall index: 77.29") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "U1 58.33") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "83.33 *") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "66.66") != NULL, "%s", text);
	ck_assert_msg(strstr(text, "66.67") == NULL, "%s", text);
	free(text);
	fixture_free(&fx);
}
END_TEST

START_TEST(test_report_csv)
{
	struct fixture fx;
	char *text;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	text = render(fx.r, W_CSV, '.');
	ck_assert_str_eq(
	    text,
	    "unit,name,block,respondents,index,rank,low_sample,direct,"
	    "direct:access,direct:feedback,online,online:svc,online:svc/p1,"
	    "online:svc/p2\r\n"
	    "U1,\"Sở Nội vụ, \"\"Tư pháp\"\"\",b1,3,62.50,3,false,62.50,58.33,"
	    "66.67,,,,\r\n"
	    "U2,Sở Tài chính,b1,5,80.00,2,false,75.00,75.00,,83.33,83.33,33.33,"
	    "100.00\r\n"
	    "U3,UBND xã Mường Bú,b2,2,83.33,1,true,83.33,100.00,66.67,,,,\r\n"
	    "U4,UBND xã Chiềng Sơ,b2,0,,,true,,,,,,,\r\n");
	free(text);
	text = render(fx.r, W_CSV, ',');
	ck_assert_msg(
	    strstr(text, "\r\nU1;\"Sở Nội vụ, \"\"Tư pháp\"\"\";b1;3;62,50;3;"
	                 "false;62,50;58,33;66,67;;;;\r\n") != NULL,
	    "%s", text);
	free(text);
	fixture_free(&fx);
}
END_TEST

/* Occurrences of needle in hay. */
static unsigned count_of(const char *hay, const char *needle)
{
	unsigned n = 0;

	for (const char *p = strstr(hay, needle); p != NULL;
	     p = strstr(p + 1, needle))
		n++;
	return n;
}

/*
 * The chart's value labels never touch the dashed line of the overall
 * index: the box of each label (7 units a character, the digit advance
 * of DejaVu Sans, the widest of the chart's fonts, at its 11 px; placed
 * by its text-anchor) keeps at least 3 units between its edge and the
 * line's x (the line is 1.5 wide). Returns the number of labels seen,
 * each the <text> right after a bar.
 */
static unsigned labels_clear_of_line(const char *text)
{
	const char *bar = "</title></rect><text";
	double line = NAN;
	unsigned n = 0;

	/* The line: the <line> whose tag holds the dash pattern. */
	for (const char *p = strstr(text, "<line "); p != NULL;
	     p = strstr(p + 1, "<line ")) {
		const char *end = strchr(p, '>');
		const char *dash = strstr(p, "stroke-dasharray");

		ck_assert_ptr_nonnull(end);
		if (dash != NULL && dash < end) {
			ck_assert_msg(isnan(line), "two dashed lines");
			ck_assert_int_eq(sscanf(p, "<line x1=\"%lf\"", &line), 1);
		}
	}
	ck_assert_msg(!isnan(line), "no overall line");
	for (const char *p = strstr(text, bar); p != NULL;
	     p = strstr(p + 1, bar)) {
		const char *tag = p + strlen("</title></rect>");
		const char *end = strchr(tag, '>');
		const char *x = strstr(tag, " x=\"");
		const char *anchor = strstr(tag, "text-anchor=\"");
		double lx, w, from, to;
		size_t len;

		ck_assert_ptr_nonnull(end);
		ck_assert_msg(x != NULL && x < end, "%.80s", tag);
		ck_assert_int_eq(sscanf(x, " x=\"%lf\"", &lx), 1);
		len = strcspn(end + 1, "<");
		w = 7.0 * (double)sipas_utf8_width(end + 1, len);
		from = lx;
		if (anchor != NULL && anchor < end &&
		    strncmp(anchor, "text-anchor=\"end\"", 17) == 0)
			from = lx - w;
		else if (anchor != NULL && anchor < end &&
		         strncmp(anchor, "text-anchor=\"middle\"", 20) == 0)
			from = lx - w / 2;
		to = from + w;
		ck_assert_msg(line <= from - 3 || line >= to + 3,
		              "label '%.*s' spans %.1f..%.1f, the overall "
		              "line is at %.1f",
		              (int)len, end + 1, from, to, line);
		n++;
	}
	return n;
}

/*
 * A unit just below the overall index: T1 3/3 = 100, T2 0/3 = 0,
 * T3 9/20 = 45, overall (100 + 0 + 45) / 3 = 48.33 (T4, T5 none). The
 * axis runs 0..100 over 540 units: T3's bar ends at 330 + 243 = 573, the
 * line is at 330 + 261 = 591, within reach of a label "45.00" (35 units)
 * written just after the bar.
 */
static void html_label_near_line(void)
{
	sipas_def *d = load_def(rank_def);
	struct fake fk;
	sipas_report *r = NULL;
	sipas_diag diag = {{0}};
	char *text;

	fake_init(&fk, d);
	for (int i = 0; i < 3; i++) {
		add(&fk, "T1", "f", "postal", "C=5");
		add(&fk, "T2", "f", "postal", "C=1");
	}
	for (int i = 0; i < 20; i++)
		add(&fk, "T3", "f", "postal", i < 9 ? "C=4" : "C=2");
	ck_assert_err(
	    sipas_report_build(d, NULL, NULL, TS, fake_counts, &fk, &r, &diag),
	    SIPAS_OK);
	ck_assert_index(r->units[4].index, 45.0);
	ck_assert_index(r->index, 145.0 / 3);
	for (int mark = 0; mark < 2; mark++) {
		text = render(r, W_HTML, mark ? ',' : '.');
		ck_assert_msg(strstr(text, mark ? ">45,00</text>" : ">45.00</text>")
		                  != NULL,
		              "%s", text);
		ck_assert_uint_eq(labels_clear_of_line(text), 3);
		free(text);
	}
	sipas_report_free(&r);
	fake_free(&fk);
	sipas_def_free(&d);
}

START_TEST(test_report_html)
{
	struct fixture fx, prev;
	char *text;

	build_main(&fx, "mean", "mean_of_units", "mean_of_blocks", "half_up");
	text = render(fx.r, W_HTML, '.');
	ck_assert_msg(strncmp(text, "<!DOCTYPE html>\n<html lang=\"en\">", 31) ==
	                  0,
	              "%.80s", text);
	ck_assert_msg(strstr(text, "</body>\n</html>\n") != NULL, "%s", text);
	/* Self-contained: nothing is fetched, nothing runs. */
	ck_assert_ptr_null(strstr(text, "<script"));
	ck_assert_ptr_null(strstr(text, "src="));
	ck_assert_ptr_null(strstr(text, "href="));
	ck_assert_ptr_null(strstr(text, "url("));
	ck_assert_msg(strstr(text, "<title>Báo cáo thử</title>") != NULL, "%s",
	              text);
	/* The definition's text is escaped, never copied raw. */
	ck_assert_msg(strstr(text, "Sở Nội vụ, &quot;Tư pháp&quot;") != NULL,
	              "%s", text);
	ck_assert_ptr_null(strstr(text, "\"Tư pháp\""));
	ck_assert_msg(strstr(text, "Overall index: <b>77.29</b>") != NULL, "%s",
	              text);
	/* The chart: one bar per unit with an index (U4 has none), the
	 * overall line, one legend swatch per block. */
	ck_assert_uint_eq(count_of(text, "</title></rect>"), 3);
	ck_assert_msg(strstr(text, "1. UBND xã Mường Bú</text>") != NULL, "%s",
	              text);
	ck_assert_msg(strstr(text, "stroke-dasharray") != NULL, "%s", text);
	ck_assert_msg(strstr(text, ">Overall index 77.29</text>") != NULL, "%s",
	              text);
	ck_assert_uint_eq(count_of(text, "y=\"8\" width=\"12\""), 2);
	ck_assert_uint_eq(labels_clear_of_line(text), 3);
	/* Tables: blocks, units by content of both forms, contents (nested
	 * indented), items with the multi note and the number mean. */
	ck_assert_msg(strstr(text, "<h2>Units by content: Trực tiếp</h2>") !=
	                  NULL,
	              "%s", text);
	ck_assert_msg(strstr(text, "<h2>Units by content: Trực tuyến</h2>") !=
	                  NULL,
	              "%s", text);
	ck_assert_msg(strstr(text, "padding-left:23px\">Phần một") != NULL, "%s",
	              text);
	ck_assert_msg(strstr(text, "UBND xã Mường Bú (100.00)") != NULL, "%s",
	              text); /* highest in access */
	ck_assert_msg(strstr(text, "<td class=\"n\">35.20</td>") != NULL, "%s",
	              text);
	ck_assert_uint_eq(count_of(text, "may sum above 100"), 1);
	ck_assert_msg(strstr(text, "* low sample: fewer than 3 respondents") !=
	                  NULL,
	              "%s", text);
	ck_assert_ptr_null(strstr(text, "Previous"));
	free(text);

	/* --locale vi: Vietnamese headings, decimal comma. */
	text = render(fx.r, W_HTML, ',');
	ck_assert_msg(strstr(text, "<html lang=\"vi\">") != NULL, "%.80s", text);
	ck_assert_msg(strstr(text, "Chỉ số chung: <b>77,29</b>") != NULL, "%s",
	              text);
	ck_assert_msg(strstr(text, "<td class=\"n\">35,20</td>") != NULL, "%s",
	              text);
	ck_assert_ptr_null(strstr(text, "77.29"));
	ck_assert_uint_eq(labels_clear_of_line(text), 3);
	free(text);
	html_label_near_line();

	/* With a comparison: the previous index, the changes, "n/m below". */
	prev.def =
	    load_main("mean", "mean_of_units", "mean_of_blocks", "half_up");
	fake_init(&prev.fk, prev.def);
	add(&prev.fk, "U1", "direct", "postal", "A1=5 A2=5 F1=5 F2=5");
	add(&prev.fk, "U2", "direct", "postal", "A1=5 A2=1 F1=0 F2=0");
	ck_assert_err(sipas_report_build(prev.def, "1-x", NULL, TS, fake_counts,
	                                 &prev.fk, &prev.r, NULL),
	              SIPAS_OK);
	sipas_report_compare(fx.r, prev.r);
	text = render(fx.r, W_HTML, '.');
	/* U1 62.5 (was 100): -37.50; U2 80 (was 50) +30.00, rank 2 -> 2 */
	ck_assert_msg(strstr(text, "1/2 units below the previous campaign") !=
	                  NULL,
	              "%s", text);
	ck_assert_msg(strstr(text, "<td class=\"n\">-37.50</td>") != NULL, "%s",
	              text);
	ck_assert_msg(strstr(text, "<td class=\"n\">+30.00</td>") != NULL, "%s",
	              text);
	free(text);
	fixture_free(&prev);
	fixture_free(&fx);
}
END_TEST

static Suite *report_suite(void)
{
	Suite *s = suite_create("report");
	TCase *tc = tcase_create("model");
	TCase *out = tcase_create("output");

	tcase_add_test(tc, test_report_criteria);
	tcase_add_test(tc, test_report_groups_mean_vs_pooled);
	tcase_add_test(tc, test_report_units);
	tcase_add_test(tc, test_report_blocks_mean_of_units);
	tcase_add_test(tc, test_report_overall_mean_of_units);
	tcase_add_test(tc, test_report_pooled);
	tcase_add_test(tc, test_report_campaign_groups);
	tcase_add_test(tc, test_report_items);
	tcase_add_test(tc, test_report_item_total);
	tcase_add_test(tc, test_report_ranks_with_ties);
	tcase_add_test(tc, test_report_empty_campaign);
	tcase_add_test(tc, test_report_callback_error);
	tcase_add_test(tc, test_report_compare);
	suite_add_tcase(s, tc);
	tcase_add_test(out, test_report_format_number);
	tcase_add_test(out, test_report_json);
	tcase_add_test(out, test_report_json_nulls_and_compare);
	tcase_add_test(out, test_report_table);
	tcase_add_test(out, test_report_csv);
	tcase_add_test(out, test_report_html);
	suite_add_tcase(s, out);
	return s;
}

int main(void)
{
	return tu_run(report_suite());
}
