/* test_counts.c - counters: counting, records, carry across revisions,
 * and records kept exact by sipas_batch commits on a real store. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "sipas_batch.h"
#include "sipas_counts.h"
#include "sipas_store.h"
#include "sipas_view.h"
#include "testutil.h"

static sipas_def *def;
static sipas_response *resp;

static void setup(void)
{
	size_t len;
	char *json = tu_read_source("tests/data/defs/contract-example.json", &len);
	sipas_diag diag;

	ck_assert_msg(sipas_def_load(json, len, "c.json", &def, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	free(json);
	resp = calloc(1, sizeof *resp);
	ck_assert_ptr_nonnull(resp);
}

static void teardown(void)
{
	sipas_def_free(&def);
	free(resp);
}

/* A valid response of unit SNV, form direct: A1, A2, F1 and optional
 * trips / expect / age (negative = not answered). */
static void fill_def(const sipas_def *d, int64_t a1, int64_t a2, int64_t f1,
		     int64_t trips, const int64_t *expect, uint32_t nexpect,
		     int64_t age, const char *channel, sipas_checked *chk)
{
	static int64_t codes[8];
	sipas_fault fault;
	uint32_t n = 0;

	memset(resp, 0, sizeof *resp);
	resp->v = 1;
	resp->id = "r1";
	resp->campaign = "SL-2024";
	resp->unit = "SNV";
	resp->form = "direct";
	resp->channel = channel;
	resp->ts = 1700000000;
	resp->answers[n++] = (sipas_answer){.item = "A1", .item_len = 2, .value = a1};
	resp->answers[n++] = (sipas_answer){.item = "A2", .item_len = 2, .value = a2};
	resp->answers[n++] = (sipas_answer){.item = "F1", .item_len = 2, .value = f1};
	if (trips >= 0)
		resp->answers[n++] = (sipas_answer){.item = "trips", .item_len = 5,
						    .value = trips};
	if (expect != NULL) {
		memcpy(codes, expect, nexpect * sizeof *codes);
		resp->answers[n++] = (sipas_answer){.item = "expect", .item_len = 6,
						    .kind = SIPAS_ANSWER_LIST,
						    .ncodes = nexpect, .codes = codes};
	}
	if (age >= 0)
		resp->answers[n++] = (sipas_answer){.item = "age", .item_len = 3,
						    .value = age};
	resp->nanswers = n;
	ck_assert_msg(sipas_validate(d, resp, chk, &fault) == SIPAS_OK, "%s %s",
		      fault.field, fault.detail);
}

static void fill(int64_t a1, int64_t a2, int64_t f1, int64_t trips,
		 const int64_t *expect, uint32_t nexpect, int64_t age,
		 const char *channel, sipas_checked *chk)
{
	fill_def(def, a1, a2, f1, trips, expect, nexpect, age, channel, chk);
}

static const sipas_form *direct(void)
{
	return sipas_def_find_form(def, "direct", 6);
}

/* Three responses counted by hand. */
static sipas_counts *three(void)
{
	sipas_counts *c = sipas_counts_new(def, direct());
	sipas_checked chk;
	const int64_t e1[] = {1, 4}, e2[] = {4};

	fill(5, 4, 0, 1, e1, 2, 30, "postal", &chk);
	sipas_counts_add(c, &chk);
	fill(2, 0, 0, 2, e2, 1, -1, "postal", &chk);
	sipas_counts_add(c, &chk);
	fill(4, 3, 5, -1, NULL, 0, 41, "portal", &chk);
	sipas_counts_add(c, &chk);
	return c;
}

START_TEST(test_counts_add_by_hand)
{
	sipas_counts *c = three();
	const uint64_t *a1 = sipas_counts_criterion(c, 0);
	const uint64_t *f1 = sipas_counts_criterion(c, 2);
	const uint64_t *trips = sipas_counts_item(c, 0);
	const uint64_t *expect = sipas_counts_item(c, 1);
	const uint64_t *age = sipas_counts_item(c, 2);
	sipas_tally t;

	ck_assert_uint_eq(c->respondents, 3);
	ck_assert_uint_eq(c->channels[sipas_channel_index("postal")], 2);
	ck_assert_uint_eq(c->channels[sipas_channel_index("portal")], 1);
	/* A1 row: [na, 1, 2, 3, 4, 5] = [0, 0, 1, 0, 1, 1] */
	ck_assert_uint_eq(a1[0], 0);
	ck_assert_uint_eq(a1[2], 1);
	ck_assert_uint_eq(a1[4], 1);
	ck_assert_uint_eq(a1[5], 1);
	t = sipas_counts_tally(c, 0);
	ck_assert_uint_eq(t.answered, 3);
	ck_assert_uint_eq(t.satisfied, 2);
	/* F1: two not applicable, one 5. */
	ck_assert_uint_eq(f1[0], 2);
	t = sipas_counts_tally(c, 2);
	ck_assert_uint_eq(t.answered, 1);
	ck_assert_uint_eq(t.satisfied, 1);
	/* A2: 4, NA, 3 -> answered 2, satisfied 1. */
	t = sipas_counts_tally(c, 1);
	ck_assert_uint_eq(t.answered, 2);
	ck_assert_uint_eq(t.satisfied, 1);
	/* trips: answered 2; code 1 once, code 2 once. */
	ck_assert_uint_eq(trips[0], 2);
	ck_assert_uint_eq(trips[1], 1);
	ck_assert_uint_eq(trips[2], 1);
	/* expect: 2 respondents; code 4 chosen by both, code 1 by one. */
	ck_assert_uint_eq(expect[0], 2);
	ck_assert_uint_eq(expect[1 + 0], 1);
	ck_assert_uint_eq(expect[1 + 3], 2);
	/* age: answered 2, sum 71, bins 15..100. */
	ck_assert_uint_eq(age[0], 2);
	ck_assert_int_eq((int64_t)age[1], 71);
	ck_assert_uint_eq(age[2 + (30 - 15)], 1);
	ck_assert_uint_eq(age[2 + (41 - 15)], 1);
	sipas_counts_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

static void assert_same(const sipas_counts *a, const sipas_counts *b)
{
	ck_assert_uint_eq(a->respondents, b->respondents);
	ck_assert_mem_eq(a->channels, b->channels, sizeof a->channels);
	ck_assert_mem_eq(a->crit, b->crit,
			 a->form->ncriteria * (a->nlevels + 1) * sizeof *a->crit);
	ck_assert_mem_eq(a->items, b->items,
			 a->item_off[a->form->nitems] * sizeof *a->items);
}

START_TEST(test_counts_record_round_trip_and_merge)
{
	sipas_counts *c = three(), *back = sipas_counts_new(def, direct());
	sipas_buf rec;

	sipas_buf_init(&rec, 1 << 20);
	ck_assert_err(sipas_counts_encode(c, &rec), SIPAS_OK);
	ck_assert_err(sipas_counts_decode(back, rec.data, rec.len), SIPAS_OK);
	assert_same(c, back);
	ck_assert_uint_eq(back->ncarry, 0);
	/* Decoding adds: twice the record is twice the counts. */
	ck_assert_err(sipas_counts_decode(back, rec.data, rec.len), SIPAS_OK);
	{
		sipas_counts *again = three();

		sipas_counts_merge(c, again);
		sipas_counts_free(&again);
	}
	ck_assert_uint_eq(back->respondents, 6);
	assert_same(c, back);
	/* Reset goes back to zero. */
	sipas_counts_reset(back);
	ck_assert_uint_eq(back->respondents, 0);
	ck_assert_uint_eq(sipas_counts_tally(back, 0).answered, 0);
	sipas_buf_free(&rec);
	sipas_counts_free(&c);
	sipas_counts_free(&back);
}
END_TEST

/* A revision that drops F1 and narrows the trips codes: what it cannot
 * hold is carried and comes back under the old layout. */
START_TEST(test_counts_carry_unknown_entries)
{
	static const char rev2[] =
		"{\"campaign\": {\"id\": \"SL-2024\", \"from\": \"2023-09-01\","
		" \"to\": \"2024-09-30\"}, \"blocks\": [{\"id\": \"dept\"}],"
		" \"forms\": [{\"id\": \"direct\", \"groups\": [{\"id\": \"access\","
		" \"criteria\": [{\"id\": \"A2\"}, {\"id\": \"A1\"}]}],"
		" \"items\": [{\"id\": \"trips\", \"kind\": \"choice\", \"codes\": [1]}]}],"
		" \"units\": [{\"id\": \"SNV\", \"block\": \"dept\", \"forms\": [\"direct\"]}]}";
	sipas_def *d2 = NULL;
	sipas_diag diag;
	sipas_counts *c = three(), *mid, *back = sipas_counts_new(def, direct());
	sipas_buf rec, rec2;

	ck_assert_err(sipas_def_load(rev2, strlen(rev2), "r2", &d2, &diag), SIPAS_OK);
	mid = sipas_counts_new(d2, sipas_def_find_form(d2, "direct", 6));
	sipas_buf_init(&rec, 1 << 20);
	sipas_buf_init(&rec2, 1 << 20);
	ck_assert_err(sipas_counts_encode(c, &rec), SIPAS_OK);
	ck_assert_err(sipas_counts_decode(mid, rec.data, rec.len), SIPAS_OK);
	/* A1 and A2 matched by id although reordered. */
	ck_assert_uint_eq(sipas_counts_tally(mid, 1).answered, 3);
	ck_assert_uint_eq(sipas_counts_tally(mid, 0).answered, 2);
	/* F1, trips (code 2 unknown), expect, age: carried. */
	ck_assert_uint_eq(mid->ncarry, 4);
	ck_assert_err(sipas_counts_encode(mid, &rec2), SIPAS_OK);
	ck_assert_err(sipas_counts_decode(back, rec2.data, rec2.len), SIPAS_OK);
	assert_same(c, back);
	sipas_buf_free(&rec);
	sipas_buf_free(&rec2);
	sipas_counts_free(&c);
	sipas_counts_free(&mid);
	sipas_counts_free(&back);
	sipas_def_free(&d2);
}
END_TEST

START_TEST(test_counts_malformed_records)
{
	sipas_counts *c = three(), *x = sipas_counts_new(def, direct());
	sipas_buf rec;

	sipas_buf_init(&rec, 1 << 20);
	ck_assert_err(sipas_counts_encode(c, &rec), SIPAS_OK);
	/* Every proper prefix is refused, never read past. */
	for (size_t n = 0; n < rec.len; n++) {
		char *copy = malloc(n ? n : 1);

		memcpy(copy, rec.data, n);
		ck_assert_msg(sipas_counts_decode(x, copy, n) == SIPAS_E_MALFORMED,
			      "prefix %zu", n);
		sipas_counts_reset(x);
		free(copy);
	}
	/* Trailing byte, bad magic, unknown entry kind. */
	ck_assert_err(sipas_buf_append(&rec, "\0", 1), SIPAS_OK);
	ck_assert_err(sipas_counts_decode(x, rec.data, rec.len), SIPAS_E_MALFORMED);
	ck_assert_err(sipas_counts_decode(x, "SC\x02\0\0\0", 6), SIPAS_E_MALFORMED);
	ck_assert_err(sipas_counts_decode(x, "SC\x01\0\0\x01\x07\x01X", 9),
		      SIPAS_E_MALFORMED);
	/* An over-long varint. */
	ck_assert_err(sipas_counts_decode(x, "SC\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 13),
		      SIPAS_E_MALFORMED);
	sipas_buf_free(&rec);
	sipas_counts_free(&c);
	sipas_counts_free(&x);
}
END_TEST

/* An item row whose `answered` is zero but whose other values are not is
 * still written back (found by fuzz_counts). */
START_TEST(test_counts_item_without_answered_survives)
{
	sipas_counts *a = sipas_counts_new(def, direct());
	sipas_counts *b = sipas_counts_new(def, direct());
	const size_t age = 2;  /* trips, expect, age */
	sipas_buf rec;

	sipas_buf_init(&rec, 1 << 20);
	a->items[a->item_off[age] + 1] = (uint64_t)-2;   /* sum */
	a->items[a->item_off[age] + 2 + (41 - 15)] = 1;  /* one 41 */
	ck_assert_err(sipas_counts_encode(a, &rec), SIPAS_OK);
	ck_assert_err(sipas_counts_decode(b, rec.data, rec.len), SIPAS_OK);
	assert_same(a, b);
	sipas_buf_free(&rec);
	sipas_counts_free(&a);
	sipas_counts_free(&b);
}
END_TEST

START_TEST(test_counts_stats_record)
{
	sipas_campaign_stats st = {2640, 12, 1, 3}, back = {1, 1, 1, 1};
	sipas_buf rec;

	sipas_buf_init(&rec, 64);
	ck_assert_err(sipas_stats_encode(&st, &rec), SIPAS_OK);
	ck_assert_err(sipas_stats_decode(&back, rec.data, rec.len), SIPAS_OK);
	ck_assert_uint_eq(back.accepted, 2641);
	ck_assert_uint_eq(back.duplicates, 13);
	ck_assert_uint_eq(back.conflicts, 2);
	ck_assert_uint_eq(back.quarantined, 4);
	ck_assert_err(sipas_stats_decode(&back, rec.data, rec.len - 1),
		      SIPAS_E_MALFORMED);
	sipas_buf_free(&rec);
}
END_TEST

/* ---- commits through sipas_batch on a real store ---- */

/*
 * What the store must hold for (SNV, direct): `want` gathers the
 * responses of committed batches, `pending` those of the open batch (one
 * batch open at a time). Both are laid out on `def`.
 */
static char *dir;
static sipas_store *store;
static sipas_counts *want, *pending;

static void open_store(size_t map_size)
{
	static const char *path = "tests/data/defs/contract-example.json";
	sipas_store_opts opts = {.map_size = map_size};
	sipas_diag diag = {{0}};
	sipas_revision rev;
	bool unchanged;
	size_t len;
	char *json = tu_read_source(path, &len);

	dir = tu_mkdtemp();
	ck_assert_msg(sipas_store_open(&store, dir, &opts, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_msg(sipas_store_define(store, json, len, def, &rev, &unchanged,
					 &diag) == SIPAS_OK,
		      "%s", diag.msg);
	free(json);
	want = sipas_counts_new(def, direct());
	pending = sipas_counts_new(def, direct());
}

static void store_teardown(void)
{
	sipas_counts_free(&want);
	sipas_counts_free(&pending);
	sipas_store_close(&store);
	if (dir != NULL)
		tu_rmtree(dir);
	free(dir);
	dir = NULL;
	teardown();
}

/* Response number i, answers varying with i, validated against d. */
static void fill_nth(const sipas_def *d, int i, sipas_checked *chk)
{
	const int64_t expect[] = {1 + i % 10};

	fill_def(d, 1 + i % 5, i % 6, (i * 7) % 6, i % 5 ? i % 5 : -1, expect, 1,
		 15 + i % 86, i % 2 ? "postal" : "portal", chk);
}

/*
 * Count response number i (id "<tag>-<i>", rawlen bytes of raw) through
 * b as the worker does. A failed add aborted the batch: its responses
 * are not pending any more.
 */
#define BIG_RAW (1u << 20)

static sipas_err add_nth(sipas_batch *b, const char *tag, int i, size_t rawlen)
{
	static char raw[BIG_RAW];
	sipas_checked *chk = malloc(sizeof *chk);
	sipas_origin from = {"test", 1000};
	sipas_diag diag = {{0}};
	const sipas_def *d = NULL;
	sipas_outcome oc;
	char id[32];
	sipas_err rv;

	ck_assert_ptr_nonnull(chk);
	ck_assert_uint_le(rawlen, sizeof raw);
	rv = sipas_batch_begin(b, &diag);
	if (rv == SIPAS_OK)
		rv = sipas_batch_definition(b, "SL-2024", &d, NULL, &diag);
	if (rv == SIPAS_OK) {
		ck_assert_ptr_nonnull(d);
		fill_nth(d, i, chk);
		snprintf(id, sizeof id, "%s-%d", tag, i);
		resp->id = id;
		rv = sipas_batch_add(b, d, chk, resp, raw, rawlen, &from, &oc,
				     &diag);
	}
	if (rv == SIPAS_OK) {
		ck_assert_int_eq(oc.status, SIPAS_ACCEPTED);
		fill_nth(def, i, chk);
		sipas_counts_add(pending, chk);
	} else {
		ck_assert(!sipas_batch_is_open(b));
		sipas_counts_reset(pending);
	}
	free(chk);
	return rv;
}

static sipas_err commit(sipas_batch *b)
{
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_batch_commit(b, &diag);

	if (rv == SIPAS_OK)
		sipas_counts_merge(want, pending);
	sipas_counts_reset(pending);
	return rv;
}

/* Add n responses from number `from` on and commit them. */
static void add_commit(sipas_batch *b, const char *tag, int from, int n)
{
	for (int i = from; i < from + n; i++)
		ck_assert_err(add_nth(b, tag, i, 16), SIPAS_OK);
	ck_assert_err(commit(b), SIPAS_OK);
}

/* The stored record of (SNV, direct) holds exactly `want`. */
static void assert_stored(void)
{
	sipas_diag diag = {{0}};
	sipas_view *v = NULL;
	sipas_def *vd = NULL;
	sipas_counts *got;

	ck_assert_msg(sipas_view_open(store, &v, &diag) == SIPAS_OK, "%s",
		      diag.msg);
	ck_assert_err(sipas_view_definition(v, "SL-2024", &vd, NULL, &diag),
		      SIPAS_OK);
	got = sipas_counts_new(vd, sipas_def_find_form(vd, "direct", 6));
	ck_assert_err(sipas_view_counts(v, "SL-2024",
					sipas_def_find_unit(vd, "SNV", 3), got,
					&diag),
		      SIPAS_OK);
	ck_assert_uint_gt(want->respondents, 0);
	assert_same(want, got);
	sipas_counts_free(&got);
	sipas_def_free(&vd);
	sipas_view_close(&v);
}

/* A batch keeps the records it wrote between its commits; responses
 * another writer (here a second batch) committed in between must not be
 * lost by the next commit. */
START_TEST(test_counts_commit_sees_other_writers)
{
	sipas_batch *a, *b;

	open_store(0);
	a = sipas_batch_new(store);
	add_commit(a, "a", 0, 3);
	assert_stored();
	b = sipas_batch_new(store);
	add_commit(b, "b", 0, 2);
	sipas_batch_free(&b);
	add_commit(a, "a", 3, 2);
	assert_stored();
	/* And the other way round, with both batches kept. */
	b = sipas_batch_new(store);
	add_commit(b, "b", 2, 4);
	add_commit(a, "a", 5, 1);
	add_commit(b, "b", 6, 1);
	assert_stored();
	sipas_batch_free(&a);
	sipas_batch_free(&b);
}
END_TEST

/* A commit that wrote nothing does not take its transaction id (LMDB
 * gives the next writer the same one): another writer's commit after it
 * must still be seen. */
START_TEST(test_counts_commit_after_empty_commit)
{
	sipas_diag diag = {{0}};
	sipas_batch *a, *b;

	open_store(0);
	a = sipas_batch_new(store);
	b = sipas_batch_new(store);
	add_commit(a, "a", 0, 3);
	ck_assert_err(sipas_batch_begin(a, &diag), SIPAS_OK);
	ck_assert_err(commit(a), SIPAS_OK);
	add_commit(b, "b", 0, 2);
	add_commit(a, "a", 3, 1);
	assert_stored();
	sipas_batch_free(&a);
	sipas_batch_free(&b);
}
END_TEST

/* The size of the store's data file. */
static off_t data_size(void)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof path, "%s/data.mdb", dir);
	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* A commit that fails when LMDB writes its pages (the data file may not
 * grow: RLIMIT_FSIZE, EFBIG) stores nothing; the next commit of the same
 * batch stores exactly what it holds. */
START_TEST(test_counts_commit_failed_then_exact)
{
	struct rlimit old, lim;
	sipas_batch *a;

	open_store(0);
	a = sipas_batch_new(store);
	add_commit(a, "a", 0, 3);
	ck_assert_int_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)data_size();
	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	/* 40 x 4 KiB of new responses: the file must grow. */
	for (int i = 3; i < 43; i++)
		ck_assert_err(add_nth(a, "a", i, 4096), SIPAS_OK);
	ck_assert_int_ne(commit(a), SIPAS_OK);
	ck_assert(!sipas_batch_is_open(a));
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	add_commit(a, "a", 100, 2);
	assert_stored();
	sipas_batch_free(&a);
}
END_TEST

/* A full map, as the worker meets it: the batch is aborted, the map
 * grown, and the next commits store exactly what they hold. */
START_TEST(test_counts_commit_map_full_then_exact)
{
	sipas_diag diag = {{0}};
	sipas_batch *a;
	sipas_err rv = SIPAS_OK;
	int i = 3, commits = 0;

	open_store(128 * 1024);
	a = sipas_batch_new(store);
	add_commit(a, "a", 0, 3);
	/* An add finds it full (a response larger than the map) after two
	 * others of the batch were counted. */
	ck_assert_err(add_nth(a, "a", i++, 16), SIPAS_OK);
	ck_assert_err(add_nth(a, "a", i++, 16), SIPAS_OK);
	ck_assert_err(add_nth(a, "a", i++, BIG_RAW), SIPAS_E_MAP_FULL);
	ck_assert_msg(sipas_store_grow(store, &diag) == SIPAS_OK, "%s", diag.msg);
	add_commit(a, "a", i, 2);
	i += 2;
	assert_stored();
	/* Batches of two until the map is full again, wherever LMDB finds
	 * it full (here: writing the commit). */
	while (rv == SIPAS_OK && i < 10000) {
		rv = add_nth(a, "a", i++, 16);
		if (rv == SIPAS_OK)
			rv = add_nth(a, "a", i++, 6000);
		if (rv == SIPAS_OK)
			rv = commit(a);
		commits += rv == SIPAS_OK;
	}
	ck_assert_err(rv, SIPAS_E_MAP_FULL);
	ck_assert_int_gt(commits, 0);
	ck_assert(!sipas_batch_is_open(a));
	ck_assert_msg(sipas_store_grow(store, &diag) == SIPAS_OK, "%s", diag.msg);
	add_commit(a, "a", i, 3);
	assert_stored();
	sipas_batch_free(&a);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("counts");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_counts_add_by_hand);
	tcase_add_test(tc, test_counts_record_round_trip_and_merge);
	tcase_add_test(tc, test_counts_carry_unknown_entries);
	tcase_add_test(tc, test_counts_malformed_records);
	tcase_add_test(tc, test_counts_item_without_answered_survives);
	tcase_add_test(tc, test_counts_stats_record);
	suite_add_tcase(s, tc);
	tc = tcase_create("commit");
	tcase_add_checked_fixture(tc, setup, store_teardown);
	tcase_add_test(tc, test_counts_commit_sees_other_writers);
	tcase_add_test(tc, test_counts_commit_after_empty_commit);
	tcase_add_test(tc, test_counts_commit_failed_then_exact);
	tcase_add_test(tc, test_counts_commit_map_full_then_exact);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
