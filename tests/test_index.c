/*
 * test_index.c - Check suite of the index math (common/index.c).
 *
 * Every expected number is worked by hand in the comment beside it; the seed
 * facts are those of sipas-method.md section F.
 */
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_index.h"

#define EPS 1e-9
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* want NAN <=> got NAN; otherwise |got - want| <= EPS. */
#define ck_assert_index(got, want)                                             \
	do {                                                                   \
		double got_ = (got), want_ = (want);                           \
		if (isnan(want_))                                              \
			ck_assert_msg(isnan(got_), "%s: got %.12g, want NAN",  \
			              #got, got_);                             \
		else                                                           \
			ck_assert_msg(fabs(got_ - want_) <= EPS,               \
			              "%s: got %.12g, want %.12g", #got, got_, \
			              want_);                                  \
	} while (0)

/* True when x shows as `published` with 2 decimals, half up. */
static int shows_as(double x, double published)
{
	return fabs(x - published) <= 0.005 + EPS;
}

/* --- rate --- */

START_TEST(test_index_rate)
{
	static const struct {
		uint64_t sat, ans;
		double want;
	} cases[] = {
	    {0, 0, NAN}, /* nothing answered: no index */
	    {7, 0, NAN}, /* even with a stray count */
	    {0, 10, 0.0},
	    {10, 10, 100.0},
	    {112, 118, 94.91525423728814}, /* 11200/118 */
	    {1, 3, 33.333333333333336},
	    {2, 3, 66.66666666666667},
	    {1ull << 40, 1ull << 41, 50.0}, /* large counts */
	    {UINT64_MAX, UINT64_MAX, 100.0},
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		sipas_tally t = {cases[i].sat, cases[i].ans};

		ck_assert_index(sipas_index_rate(t), cases[i].want);
	}
}
END_TEST

/* --- mean --- */

START_TEST(test_index_mean)
{
	static const struct {
		size_t n;
		double v[5];
		double w[5]; /* all zero: pass NULL (equal weights) */
		double want;
	} cases[] = {
	    {0, {0}, {0}, NAN},
	    {1, {42.5}, {0}, 42.5},
	    {3, {90, 80, 70}, {0}, 80.0},
	    /* NAN skipped, not counted: (90 + 70) / 2 */
	    {3, {90, NAN, 70}, {0}, 80.0},
	    {3, {NAN, NAN, NAN}, {0}, NAN},
	    /* (1*90 + 3*70) / 4 = 300 / 4 */
	    {2, {90, 70}, {1, 3}, 75.0},
	    /* NAN value skipped with its weight: (1*90 + 3*70) / 4 */
	    {3, {90, NAN, 70}, {1, 100, 3}, 75.0},
	    /* zero weight skipped: 2*60 / 2 */
	    {2, {100, 60}, {0, 2}, 60.0},
	    {2, {100, 60}, {-1, 2}, 60.0},
	    /* every value NAN or weightless */
	    {2, {NAN, 50}, {1, -1}, NAN},
	    /* (0.5*80 + 0.25*100 + 0.25*60) / 1 = 40 + 25 + 15 */
	    {3, {80, 100, 60}, {0.5, 0.25, 0.25}, 80.0},
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		const double *w = NULL;

		for (size_t k = 0; k < cases[i].n; k++)
			if (cases[i].w[k] != 0)
				w = cases[i].w;
		ck_assert_index(sipas_index_mean(cases[i].v, w, cases[i].n),
		                cases[i].want);
	}
}
END_TEST

/* A zero weight among real ones (the table above cannot express it, since
 * an all-zero weight row means NULL). */
START_TEST(test_index_mean_zero_weight)
{
	const double v[] = {100, 60, 20};
	const double w[] = {0, 1, 1};

	ck_assert_index(sipas_index_mean(v, w, 3), 40.0);
}
END_TEST

/* --- the seed facts (sipas-method.md section F) --- */

START_TEST(test_index_seed_facts)
{
	/* F1, BL25: service group = simple mean of S1..S5.
	 * 84.11+83.63+83.83+83.27+82.90 = 417.74; / 5 = 83.548. */
	const double s[] = {84.11, 83.63, 83.83, 83.27, 82.90};
	/* F4, SL24: province = mean of blocks (94.97 + 95.05) / 2 = 95.01. */
	const double blocks[] = {94.97, 95.05};
	/* F2, BL25: policy group, weights 1:3:3:1 (illustration):
	 * 83.55 + 3*83.15 + 3*83.06 + 83.22 = 665.40; / 8 = 83.175. */
	const double p[] = {83.55, 83.15, 83.06, 83.22};
	const double pw[] = {1, 3, 3, 1};
	/* F3, BL25: overall = 0.6*83.18 + 0.4*83.55 = 49.908 + 33.42. */
	const double groups[] = {83.18, 83.55};
	const double gw[] = {0.6, 0.4};
	double x;

	x = sipas_index_mean(s, NULL, 5);
	ck_assert_index(x, 83.548);
	ck_assert(shows_as(x, 83.55));

	x = sipas_index_overall(SIPAS_METHOD_MEAN_OF_BLOCKS, blocks, 2, NULL,
	                        NULL, 0);
	ck_assert_index(x, 95.01);
	ck_assert(shows_as(x, 95.01));

	x = sipas_index_mean(p, pw, 4);
	ck_assert_index(x, 83.175);
	ck_assert(shows_as(x, 83.18));
	/* and the simple mean is rejected by the seed: 83.245 -> 83.25 */
	ck_assert(!shows_as(sipas_index_mean(p, NULL, 4), 83.18));

	x = sipas_index_mean(groups, gw, 2);
	ck_assert_index(x, 83.328);
	ck_assert(shows_as(x, 83.33));
	/* the simple mean of the two groups is rejected: 83.365 */
	ck_assert(!shows_as(sipas_index_mean(groups, NULL, 2), 83.33));
}
END_TEST

/* --- sipas_index_form on hand-built forms --- */

/*
 * Form T, two levels:
 *
 *   svc     (top, mean, weight 2)  children access, proc, empty
 *     access  (mean, w 1)   A1 A2
 *     proc    (mean, w 3)   P1 P2 P3
 *     empty   (mean, w 5)   E1          <- never answered: skipped
 *   fb      (top, POOLED, weight 1) children chan, resp
 *     chan    (mean)        F1 F2
 *     resp    (POOLED)      F3 F4
 */
/* clang-format off */
static const uint32_t t_svc_children[] = {1, 2, 3};
static const uint32_t t_fb_children[] = {5, 6};
static const sipas_group t_groups[] = {
	{.id = "svc", .path = "svc", .weight = 2, .method = SIPAS_METHOD_MEAN,
	 .parent = -1, .depth = 0, .nchildren = 3, .children = t_svc_children,
	 .crit_first = 0, .crit_count = 6},
	{.id = "access", .path = "svc/access", .weight = 1,
	 .method = SIPAS_METHOD_MEAN, .parent = 0, .depth = 1,
	 .crit_first = 0, .crit_count = 2},
	{.id = "proc", .path = "svc/proc", .weight = 3,
	 .method = SIPAS_METHOD_MEAN, .parent = 0, .depth = 1,
	 .crit_first = 2, .crit_count = 3},
	{.id = "empty", .path = "svc/empty", .weight = 5,
	 .method = SIPAS_METHOD_MEAN, .parent = 0, .depth = 1,
	 .crit_first = 5, .crit_count = 1},
	{.id = "fb", .path = "fb", .weight = 1, .method = SIPAS_METHOD_POOLED,
	 .parent = -1, .depth = 0, .nchildren = 2, .children = t_fb_children,
	 .crit_first = 6, .crit_count = 4},
	{.id = "chan", .path = "fb/chan", .weight = 1,
	 .method = SIPAS_METHOD_MEAN, .parent = 4, .depth = 1,
	 .crit_first = 6, .crit_count = 2},
	{.id = "resp", .path = "fb/resp", .weight = 1,
	 .method = SIPAS_METHOD_POOLED, .parent = 4, .depth = 1,
	 .crit_first = 8, .crit_count = 2},
};
static const uint32_t t_top[] = {0, 4};
static const sipas_criterion t_crit[] = {
	{"A1", "", 0, 1}, {"A2", "", 1, 1},
	{"P1", "", 2, 2}, {"P2", "", 3, 2}, {"P3", "", 4, 2},
	{"E1", "", 5, 3},
	{"F1", "", 6, 5}, {"F2", "", 7, 5},
	{"F3", "", 8, 6}, {"F4", "", 9, 6},
};
static const sipas_form form_t = {
	.id = "t", .name = "T", .index = 0,
	.ngroups = NELEM(t_groups), .groups = t_groups,
	.ntop = NELEM(t_top), .top = t_top,
	.ncriteria = NELEM(t_crit), .criteria = t_crit,
	.nitems = 0, .items = NULL, .nslots = NELEM(t_crit),
};
/* clang-format on */

/*
 * Tallies (satisfied/answered) and the worked indices:
 *   A1 9/10 = 90, A2 16/20 = 80          access = (90+80)/2 = 85, 25/30
 *   P1 10/10 = 100, P2 0/0 (skipped),
 *   P3 6/10 = 60                         proc = (100+60)/2 = 80, 16/20
 *   E1 0/0                               empty = NAN, 0/0
 *   svc = (1*85 + 3*80) / 4 = 325/4 = 81.25 (empty skipped), 41/50
 *   F1 1/2 = 50, F2 3/4 = 75             chan = 62.5, 4/6
 *   F3 0/1 = 0, F4 2/3                   resp pooled 2/4 = 50
 *   fb pooled 6/10 = 60 (its children's mean would be 56.25)
 *   unit MEAN   = (2*81.25 + 1*60) / 3 = 222.5/3 = 74.1666...
 *   unit POOLED = (41+6) / (50+10) = 47/60 = 78.333...
 */
static const sipas_tally t_tally[] = {
    {9, 10}, {16, 20}, {10, 10}, {0, 0}, {6, 10},
    {0, 0},  {1, 2},   {3, 4},   {0, 1}, {2, 3},
};

START_TEST(test_index_form_two_levels)
{
	static const struct {
		double index;
		uint64_t sat, ans;
	} want[] = {
	    {81.25, 41, 50}, {85.0, 25, 30}, {80.0, 16, 20}, {NAN, 0, 0},
	    {60.0, 6, 10},   {62.5, 4, 6},   {50.0, 2, 4},
	};
	double gi[NELEM(t_groups)];
	sipas_tally gt[NELEM(t_groups)];
	double x;

	x = sipas_index_form(&form_t, SIPAS_METHOD_MEAN, t_tally, gi, gt);
	ck_assert_index(x, 222.5 / 3);
	for (size_t g = 0; g < NELEM(want); g++) {
		ck_assert_index(gi[g], want[g].index);
		ck_assert_uint_eq(gt[g].satisfied, want[g].sat);
		ck_assert_uint_eq(gt[g].answered, want[g].ans);
	}

	/* the group indices do not depend on the unit method */
	memset(gi, 0, sizeof gi);
	x = sipas_index_form(&form_t, SIPAS_METHOD_POOLED, t_tally, gi, gt);
	ck_assert_index(x, 4700.0 / 60);
	for (size_t g = 0; g < NELEM(want); g++)
		ck_assert_index(gi[g], want[g].index);
}
END_TEST

START_TEST(test_index_form_no_answers)
{
	sipas_tally none[NELEM(t_crit)];
	double gi[NELEM(t_groups)];
	sipas_tally gt[NELEM(t_groups)];

	memset(none, 0, sizeof none);
	ck_assert_index(
	    sipas_index_form(&form_t, SIPAS_METHOD_MEAN, none, gi, gt), NAN);
	for (size_t g = 0; g < NELEM(t_groups); g++) {
		ck_assert(isnan(gi[g]));
		ck_assert_uint_eq(gt[g].answered, 0);
	}
	ck_assert_index(
	    sipas_index_form(&form_t, SIPAS_METHOD_POOLED, none, gi, gt), NAN);
}
END_TEST

/* Only the feedback group answered: the form index is that group's alone
 * (a top group without answers is skipped, not counted as 0). */
START_TEST(test_index_form_one_group_answered)
{
	sipas_tally t[NELEM(t_crit)];
	double gi[NELEM(t_groups)];
	sipas_tally gt[NELEM(t_groups)];

	memset(t, 0, sizeof t);
	t[6] = (sipas_tally){3, 4}; /* F1 75; fb pooled 3/4 */
	ck_assert_index(sipas_index_form(&form_t, SIPAS_METHOD_MEAN, t, gi, gt),
	                75.0);
	ck_assert(isnan(gi[0]));
	ck_assert_index(gi[5], 75.0); /* chan: F2 skipped */
	ck_assert(isnan(gi[6]));
}
END_TEST

/*
 * Form N, the national 2023+ shape with the BL25 sub-indices as tallies over
 * 10,000 answers each (one criterion per sub-group):
 *   policy (w 0.6): P1..P4 = 83.55, 83.15, 83.06, 83.22, weights 1:3:3:1
 *                   -> 665.40 / 8 = 83.175
 *   service (w 0.4): S1..S5 = 84.11, 83.63, 83.83, 83.27, 82.90, weights 1
 *                   -> 417.74 / 5 = 83.548
 *   unit MEAN = 0.6*83.175 + 0.4*83.548 = 49.905 + 33.4192 = 83.3242
 *   unit POOLED = (8355+8315+8306+8322+8411+8363+8383+8327+8290) / 90000
 *               = 75072 / 90000 = 83.41333...
 */
/* clang-format off */
static const uint32_t n_policy_children[] = {1, 2, 3, 4};
static const uint32_t n_service_children[] = {6, 7, 8, 9, 10};
#define N_LEAF(gid, w, par, c)                                               \
	{.id = gid, .path = gid, .weight = w, .method = SIPAS_METHOD_MEAN,   \
	 .parent = par, .depth = 1, .crit_first = c, .crit_count = 1}
static const sipas_group n_groups[] = {
	{.id = "policy", .path = "policy", .weight = 0.6,
	 .method = SIPAS_METHOD_MEAN, .parent = -1, .nchildren = 4,
	 .children = n_policy_children, .crit_first = 0, .crit_count = 4},
	N_LEAF("p1", 1, 0, 0), N_LEAF("p2", 3, 0, 1), N_LEAF("p3", 3, 0, 2),
	N_LEAF("p4", 1, 0, 3),
	{.id = "service", .path = "service", .weight = 0.4,
	 .method = SIPAS_METHOD_MEAN, .parent = -1, .nchildren = 5,
	 .children = n_service_children, .crit_first = 4, .crit_count = 5},
	N_LEAF("s1", 1, 5, 4), N_LEAF("s2", 1, 5, 5), N_LEAF("s3", 1, 5, 6),
	N_LEAF("s4", 1, 5, 7), N_LEAF("s5", 1, 5, 8),
};
static const uint32_t n_top[] = {0, 5};
static const sipas_criterion n_crit[] = {
	{"P1", "", 0, 1}, {"P2", "", 1, 2}, {"P3", "", 2, 3}, {"P4", "", 3, 4},
	{"S1", "", 4, 6}, {"S2", "", 5, 7}, {"S3", "", 6, 8}, {"S4", "", 7, 9},
	{"S5", "", 8, 10},
};
static const sipas_form form_n = {
	.id = "household", .name = "N", .ngroups = NELEM(n_groups),
	.groups = n_groups, .ntop = NELEM(n_top), .top = n_top,
	.ncriteria = NELEM(n_crit), .criteria = n_crit,
	.nslots = NELEM(n_crit),
};
/* clang-format on */

START_TEST(test_index_form_national)
{
	static const sipas_tally tally[] = {
	    {8355, 10000}, {8315, 10000}, {8306, 10000},
	    {8322, 10000}, {8411, 10000}, {8363, 10000},
	    {8383, 10000}, {8327, 10000}, {8290, 10000},
	};
	double gi[NELEM(n_groups)];
	sipas_tally gt[NELEM(n_groups)];
	double x;

	x = sipas_index_form(&form_n, SIPAS_METHOD_MEAN, tally, gi, gt);
	ck_assert_index(gi[0], 83.175);
	ck_assert_index(gi[5], 83.548);
	ck_assert(shows_as(gi[5], 83.55));
	ck_assert_index(x, 83.3242);
	ck_assert_uint_eq(gt[0].satisfied, 33298);
	ck_assert_uint_eq(gt[0].answered, 40000);
	ck_assert_uint_eq(gt[5].satisfied, 41774);

	x = sipas_index_form(&form_n, SIPAS_METHOD_POOLED, tally, gi, gt);
	ck_assert_index(x, 7507200.0 / 90000);
}
END_TEST

/*
 * A flat provincial form (5 contents, each with 2 criteria), the F5/F6
 * situation: feedback has few answers and a low rate.
 *   access 190/200 = 95, proc 380/400 = 95, staff 285/300 = 95,
 *   results 95/100 = 95, feedback 0/2 = 0 (pooled)
 *   unit MEAN   = (4*95 + 0) / 5 = 76   (cannot reach 83.76: F6)
 *   unit POOLED = 950 / 1002 = 94.8103...
 */
/* clang-format off */
static const sipas_group p_groups[] = {
	{.id = "access", .weight = 1, .parent = -1, .crit_first = 0,
	 .crit_count = 2},
	{.id = "proc", .weight = 1, .parent = -1, .crit_first = 2,
	 .crit_count = 2},
	{.id = "staff", .weight = 1, .parent = -1, .crit_first = 4,
	 .crit_count = 2},
	{.id = "results", .weight = 1, .parent = -1, .crit_first = 6,
	 .crit_count = 2},
	{.id = "feedback", .weight = 1, .method = SIPAS_METHOD_POOLED,
	 .parent = -1, .crit_first = 8, .crit_count = 2},
};
static const uint32_t p_top[] = {0, 1, 2, 3, 4};
static const sipas_criterion p_crit[] = {
	{"A1", "", 0, 0}, {"A2", "", 1, 0}, {"P1", "", 2, 1}, {"P2", "", 3, 1},
	{"C1", "", 4, 2}, {"C2", "", 5, 2}, {"R1", "", 6, 3}, {"R2", "", 7, 3},
	{"F1", "", 8, 4}, {"F2", "", 9, 4},
};
static const sipas_form form_p = {
	.id = "direct", .name = "P", .ngroups = NELEM(p_groups),
	.groups = p_groups, .ntop = NELEM(p_top), .top = p_top,
	.ncriteria = NELEM(p_crit), .criteria = p_crit,
	.nslots = NELEM(p_crit),
};
/* clang-format on */

START_TEST(test_index_form_unit_method)
{
	static const sipas_tally tally[] = {
	    {95, 100},  {95, 100}, {190, 200}, {190, 200}, {140, 150},
	    {145, 150}, {45, 50},  {50, 50},   {0, 2},     {0, 0},
	};
	double gi[NELEM(p_groups)];
	sipas_tally gt[NELEM(p_groups)];

	/* staff: C1 93.33, C2 96.67 -> 95; results: R1 90, R2 100 -> 95 */
	ck_assert_index(
	    sipas_index_form(&form_p, SIPAS_METHOD_MEAN, tally, gi, gt), 76.0);
	ck_assert_index(gi[2], 95.0);
	ck_assert_index(gi[3], 95.0);
	ck_assert_index(gi[4], 0.0);
	ck_assert_index(
	    sipas_index_form(&form_p, SIPAS_METHOD_POOLED, tally, gi, gt),
	    95000.0 / 1002);
}
END_TEST

/* --- unit over forms, block, overall --- */

START_TEST(test_index_unit)
{
	static const struct {
		size_t n;
		double idx[3];
		uint64_t resp[3];
		double want;
	} cases[] = {
	    {0, {0}, {0}, NAN},
	    {1, {96.1}, {120}, 96.1},
	    /* (30*90 + 10*80) / 40 = 3500 / 40 */
	    {2, {90, 80}, {30, 10}, 87.5},
	    /* a form without an index is skipped with its respondents */
	    {3, {90, NAN, 80}, {30, 1000, 10}, 87.5},
	    /* a form without respondents is skipped even with an index */
	    {3, {90, 0, 80}, {30, 0, 10}, 87.5},
	    {2, {NAN, NAN}, {5, 5}, NAN},
	    {2, {90, 80}, {0, 0}, NAN},
	};

	for (size_t i = 0; i < NELEM(cases); i++)
		ck_assert_index(
		    sipas_index_unit(cases[i].idx, cases[i].resp, cases[i].n),
		    cases[i].want);
}
END_TEST

START_TEST(test_index_block)
{
	/* units 9/10 = 90, no answers, 50/100 = 50 */
	const double idx[] = {90, NAN, 50};
	const sipas_tally t[] = {{9, 10}, {0, 0}, {50, 100}};
	const sipas_tally none[] = {{0, 0}, {0, 0}};
	const double nan2[] = {NAN, NAN};

	/* (90 + 50) / 2 */
	ck_assert_index(
	    sipas_index_block(SIPAS_METHOD_MEAN_OF_UNITS, idx, NULL, 3), 70.0);
	/* 59 / 110 = 53.6363... */
	ck_assert_index(sipas_index_block(SIPAS_METHOD_POOLED, idx, t, 3),
	                5900.0 / 110);
	ck_assert_index(
	    sipas_index_block(SIPAS_METHOD_MEAN_OF_UNITS, nan2, NULL, 2), NAN);
	ck_assert_index(sipas_index_block(SIPAS_METHOD_POOLED, nan2, none, 2),
	                NAN);
	ck_assert_index(
	    sipas_index_block(SIPAS_METHOD_MEAN_OF_UNITS, idx, NULL, 0), NAN);
}
END_TEST

START_TEST(test_index_overall)
{
	/*
	 * dept: units 9/10 = 90 and 30/30 = 100 -> block 95
	 * district: unit 8/10 = 80 -> block 80
	 *   MEAN_OF_BLOCKS = (95 + 80) / 2 = 87.5
	 *   MEAN_OF_UNITS  = (90 + 100 + 80) / 3 = 90
	 *   POOLED         = 47 / 50 = 94
	 */
	const double units[] = {90, 100, 80};
	const sipas_tally t[] = {{9, 10}, {30, 30}, {8, 10}};
	double blocks[2];

	blocks[0] = sipas_index_block(SIPAS_METHOD_MEAN_OF_UNITS, units, t, 2);
	blocks[1] =
	    sipas_index_block(SIPAS_METHOD_MEAN_OF_UNITS, units + 2, t + 2, 1);
	ck_assert_index(blocks[0], 95.0);
	ck_assert_index(blocks[1], 80.0);
	ck_assert_index(sipas_index_overall(SIPAS_METHOD_MEAN_OF_BLOCKS, blocks,
	                                    2, NULL, NULL, 0),
	                87.5);
	ck_assert_index(sipas_index_overall(SIPAS_METHOD_MEAN_OF_UNITS, NULL, 0,
	                                    units, NULL, 3),
	                90.0);
	ck_assert_index(
	    sipas_index_overall(SIPAS_METHOD_POOLED, NULL, 0, NULL, t, 3),
	    94.0);
	/* a block without an index does not count */
	blocks[1] = NAN;
	ck_assert_index(sipas_index_overall(SIPAS_METHOD_MEAN_OF_BLOCKS, blocks,
	                                    2, units, t, 3),
	                95.0);
	ck_assert_index(sipas_index_overall(SIPAS_METHOD_MEAN_OF_BLOCKS, blocks,
	                                    0, NULL, NULL, 0),
	                NAN);
}
END_TEST

/* --- spread --- */

START_TEST(test_index_spread)
{
	static const struct {
		size_t n;
		double v[6];
		double min, max, median;
		size_t count;
	} cases[] = {
	    {0, {0}, NAN, NAN, NAN, 0},
	    {1, {95.4}, 95.4, 95.4, 95.4, 1},
	    /* odd: sorted 1 2 3 -> 2 */
	    {4, {3, NAN, 1, 2}, 1, 3, 2, 3},
	    /* even: sorted 1 2 3 4 -> (2 + 3) / 2 */
	    {4, {4, 1, 3, 2}, 1, 4, 2.5, 4},
	    /* even with NAN and repeats: 80 80 90 100 -> 85 */
	    {6, {100, NAN, 80, 90, 80, NAN}, 80, 100, 85, 4},
	    {3, {NAN, NAN, NAN}, NAN, NAN, NAN, 0},
	    /* SL24 feedback shape: 0 .. 100, median 80 */
	    {5, {80, 0, 100, 90, 75}, 0, 100, 80, 5},
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		double v[6], scratch[6];
		sipas_spread s;

		memcpy(v, cases[i].v, sizeof v);
		s = sipas_index_spread(v, cases[i].n, scratch);
		ck_assert_msg(s.n == cases[i].count, "case %zu: n %zu", i, s.n);
		ck_assert_index(s.min, cases[i].min);
		ck_assert_index(s.max, cases[i].max);
		ck_assert_index(s.median, cases[i].median);
		/* the input is left as it was */
		ck_assert(memcmp(v, cases[i].v, sizeof v) == 0);
	}
}
END_TEST

/* --- ranks --- */

START_TEST(test_index_rank_table)
{
	static const struct {
		size_t n;
		double v[6];
		uint32_t want[6];
	} cases[] = {
	    {0, {0}, {0}},
	    {1, {50}, {1}},
	    {1, {NAN}, {0}},
	    {4, {90, 80, 80, 70}, {1, 2, 2, 4}},
	    {4, {70, 80, 90, 80}, {4, 2, 1, 2}},
	    /* 1e-10 apart: the same rank */
	    {4, {80, 80 + 1e-10, 90, NAN}, {2, 2, 1, 0}},
	    /* 2e-9 apart: different ranks */
	    {2, {80, 80 + 2e-9}, {2, 1}},
	    /* exactly 1e-9 apart ("by at least 1e-9"): different ranks */
	    {2, {0, 1e-9}, {2, 1}},
	    /* closeness is not transitive: 0 and 1.2e-9 differ, each
	     * is close to 0.6e-9 */
	    {3, {0, 0.6e-9, 1.2e-9}, {2, 1, 1}},
	    {3, {NAN, NAN, NAN}, {0, 0, 0}},
	    {6, {95, 95, 95, NAN, 95, 10}, {1, 1, 1, 0, 1, 5}},
	    {5, {1, 2, 3, 4, 5}, {5, 4, 3, 2, 1}},
	};

	for (size_t i = 0; i < NELEM(cases); i++) {
		uint32_t rank[6], order[6];

		memset(rank, 0xff, sizeof rank);
		sipas_index_rank(cases[i].v, cases[i].n, rank, order);
		for (size_t k = 0; k < cases[i].n; k++)
			ck_assert_msg(rank[k] == cases[i].want[k],
			              "case %zu value %zu: rank %u, want %u", i,
			              k, rank[k], cases[i].want[k]);
	}
}
END_TEST

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* Random values with ties, near-ties and NANs, against the definition
 * computed the slow way. */
START_TEST(test_index_rank_random)
{
	enum { N = 3000 };
	static double v[N];
	static uint32_t rank[N], order[N];
	uint64_t seed = 12345 + (uint64_t)_i;

	for (size_t i = 0; i < N; i++) {
		uint64_t r = lcg(&seed);

		if (r % 17 == 0)
			v[i] = NAN;
		else
			v[i] = (double)(lcg(&seed) % 400) / 4.0 +
			       (double)(r % 3) * 6e-10;
	}
	sipas_index_rank(v, N, rank, order);
	for (size_t i = 0; i < N; i++) {
		uint32_t want = 0;

		if (!isnan(v[i])) {
			want = 1;
			for (size_t j = 0; j < N; j++)
				if (!isnan(v[j]) && v[j] - v[i] >= 1e-9)
					want++;
		}
		ck_assert_msg(rank[i] == want,
		              "v[%zu] = %.12g: rank %u, want %u", i, v[i],
		              rank[i], want);
	}
}
END_TEST

/* 100,000 units over 1,000 distinct levels: the rank of level L is 1 + the
 * units above L, counted with a histogram. */
START_TEST(test_index_rank_large)
{
	enum { N = 100000, LEVELS = 1000 };
	static double v[N];
	static uint32_t rank[N], order[N], count[LEVELS], above[LEVELS];
	uint64_t seed = 777;

	memset(count, 0, sizeof count);
	for (size_t i = 0; i < N; i++) {
		uint32_t level = (uint32_t)(lcg(&seed) % (LEVELS + 1));

		if (level == LEVELS) {
			v[i] = NAN;
		} else {
			v[i] = 50.0 + level * 0.05;
			count[level]++;
		}
	}
	above[LEVELS - 1] = 0;
	for (size_t l = LEVELS - 1; l-- > 0;)
		above[l] = above[l + 1] + count[l + 1];
	sipas_index_rank(v, N, rank, order);
	for (size_t i = 0; i < N; i++) {
		uint32_t want = 0;

		if (!isnan(v[i]))
			want = 1 + above[(size_t)((v[i] - 50.0) / 0.05 + 0.5)];
		ck_assert_msg(rank[i] == want, "v[%zu]: rank %u, want %u", i,
		              rank[i], want);
	}
}
END_TEST

/* --- low sample --- */

START_TEST(test_index_low_sample)
{
	static const struct {
		uint64_t resp;
		uint32_t min;
		bool want;
	} cases[] = {
	    {0, 10, true},
	    {9, 10, true},
	    {10, 10, false},
	    {11, 10, false},
	    {0, 0, false},
	    {1, 0, false},
	    {UINT64_MAX, UINT32_MAX, false},
	};

	for (size_t i = 0; i < NELEM(cases); i++)
		ck_assert_msg(sipas_index_low_sample(
		                  cases[i].resp, cases[i].min) == cases[i].want,
		              "case %zu", i);
}
END_TEST

static Suite *index_suite(void)
{
	Suite *s = suite_create("index");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_index_rate);
	tcase_add_test(tc, test_index_mean);
	tcase_add_test(tc, test_index_mean_zero_weight);
	tcase_add_test(tc, test_index_seed_facts);
	tcase_add_test(tc, test_index_form_two_levels);
	tcase_add_test(tc, test_index_form_no_answers);
	tcase_add_test(tc, test_index_form_one_group_answered);
	tcase_add_test(tc, test_index_form_national);
	tcase_add_test(tc, test_index_form_unit_method);
	tcase_add_test(tc, test_index_unit);
	tcase_add_test(tc, test_index_block);
	tcase_add_test(tc, test_index_overall);
	tcase_add_test(tc, test_index_spread);
	tcase_add_test(tc, test_index_rank_table);
	tcase_add_loop_test(tc, test_index_rank_random, 0, 3);
	tcase_add_test(tc, test_index_rank_large);
	tcase_add_test(tc, test_index_low_sample);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(index_suite());
}
