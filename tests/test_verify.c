/*
 * test_verify.c - sipas-admin verify and backup on real stores: each test
 * builds a store through the write path (sipas_batch) in a fresh temp
 * folder, checks that verify agrees, then damages the store with raw LMDB
 * calls and checks that each difference is reported.
 */
#include <lmdb.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipas_backup.h"
#include "sipas_batch.h"
#include "sipas_counts.h"
#include "sipas_protocol.h"
#include "sipas_store.h"
#include "sipas_validate.h"
#include "sipas_verify.h"
#include "testutil.h"

#define TS_JUNE_2024 1717200000
#define MAXDIFFS 256

/* The differences one verify reported. */
struct diffs {
	size_t n;
	sipas_verify_kind kind[MAXDIFFS];
	char line[MAXDIFFS][512];
};

struct fx {
	char *dir;
	sipas_store *s;
	sipas_batch *b;
	sipas_response *r;
	sipas_checked *chk;
	size_t pending;
	char *json;   /* base.json */
};

static void collect(const sipas_verify_diff *d, void *ctx)
{
	struct diffs *ds = ctx;

	char head[700];

	/* Every line is "KIND WHERE: ...", and has either both values or a
	 * detail. */
	snprintf(head, sizeof head, "%s %s: ", sipas_verify_kind_name(d->kind),
		 d->where);
	ck_assert_int_eq(strncmp(d->line, head, strlen(head)), 0);
	ck_assert((d->detail == NULL) == (d->stored != NULL && d->recomputed != NULL));
	if (ds->n < MAXDIFFS) {
		ds->kind[ds->n] = d->kind;
		snprintf(ds->line[ds->n], sizeof ds->line[0], "%s", d->line);
	}
	ds->n++;
}

/* Verify fx's store (campaign may be NULL); the totals. */
static sipas_verify_totals verify(struct fx *fx, const char *campaign,
				  struct diffs *ds)
{
	sipas_verify_totals t;
	sipas_diag diag = {{0}};

	memset(ds, 0, sizeof *ds);
	ck_assert_msg(sipas_verify_store(fx->s, campaign, collect, ds, &t,
					 &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_uint_eq(t.differences, ds->n);
	return t;
}

static void print_diffs(const struct diffs *ds)
{
	for (size_t i = 0; i < ds->n && i < MAXDIFFS; i++)
		fprintf(stderr, "  %s\n", ds->line[i]);
}

/* Was a difference of `kind` reported whose line contains `text`? */
static bool has(const struct diffs *ds, sipas_verify_kind kind,
		const char *text)
{
	for (size_t i = 0; i < ds->n && i < MAXDIFFS; i++)
		if (ds->kind[i] == kind && strstr(ds->line[i], text) != NULL)
			return true;
	return false;
}

#define ck_assert_diff(ds, kind, text)                                       \
	do {                                                                 \
		if (!has(ds, kind, text)) {                                  \
			print_diffs(ds);                                     \
			ck_abort_msg("no %s difference with \"%s\" among %zu", \
				     sipas_verify_kind_name(kind), text,     \
				     (ds)->n);                               \
		}                                                            \
	} while (0)

#define ck_assert_agrees(ds)                                                 \
	do {                                                                 \
		if ((ds)->n != 0) {                                          \
			print_diffs(ds);                                     \
			ck_abort_msg("%zu differences, want none", (ds)->n);  \
		}                                                            \
	} while (0)

/* ---- building a store through the write path ---- */

static void pack_str(msgpack_packer *pk, const char *s)
{
	msgpack_pack_str(pk, strlen(s));
	msgpack_pack_str_body(pk, s, strlen(s));
}

static const char *const direct_criteria[] = {"A1", "A2", "S1", "A3"};
static const char *const household_criteria[] = {"P1", "P2", "P3", "P4",
						 "P5", "S1", "S2", "S3"};

/*
 * Response number i of campaign `campaign` for (unit, form), answers
 * varying with i; `rev2` answers the second revision of base.json (A3
 * added, `trips` dropped, scale 1..7).
 */
static void pack_response(msgpack_sbuffer *sb, const char *campaign,
			  const char *id, const char *unit, const char *form,
			  int i, bool rev2)
{
	bool direct = strcmp(form, "direct") == 0;
	const char *const *crit = direct ? direct_criteria : household_criteria;
	size_t ncrit = direct ? (rev2 ? 4 : 3) : 8;
	int levels = rev2 ? 7 : 5;
	msgpack_packer pk;

	msgpack_sbuffer_init(sb);
	msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
	msgpack_pack_map(&pk, 8);
	pack_str(&pk, "v");
	msgpack_pack_int(&pk, 1);
	pack_str(&pk, "id");
	pack_str(&pk, id);
	pack_str(&pk, "campaign");
	pack_str(&pk, campaign);
	pack_str(&pk, "unit");
	pack_str(&pk, unit);
	pack_str(&pk, "form");
	pack_str(&pk, form);
	pack_str(&pk, "channel");
	pack_str(&pk, i % 3 ? "postal" : "portal");
	pack_str(&pk, "ts");
	msgpack_pack_int64(&pk, TS_JUNE_2024 + i);
	pack_str(&pk, "items");
	msgpack_pack_map(&pk, ncrit + (direct ? (rev2 ? 2 : 3) : 0));
	for (size_t k = 0; k < ncrit; k++) {
		pack_str(&pk, crit[k]);
		/* Now and then not applicable (0). */
		msgpack_pack_int(&pk, (i + (int)k) % 11 == 0
					      ? 0
					      : 1 + (i + (int)k) % levels);
	}
	if (!direct)
		return;
	if (!rev2) {
		pack_str(&pk, "trips");
		msgpack_pack_int(&pk, 1 + i % 3);
	}
	pack_str(&pk, "expect");
	if (i % 2) {
		msgpack_pack_array(&pk, 2);
		msgpack_pack_int(&pk, 1);
		msgpack_pack_int(&pk, 2 + i % 3);
	} else {
		msgpack_pack_array(&pk, 1);
		msgpack_pack_int(&pk, 1 + i % 4);
	}
	pack_str(&pk, "age");
	msgpack_pack_int(&pk, 15 + i % 80);
}

static void commit(struct fx *fx)
{
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_batch_commit(fx->b, &diag) == SIPAS_OK, "%s",
		      diag.msg);
	fx->pending = 0;
}

/* Decode, validate and add one response as the worker does; check the
 * outcome. Commits every 32 responses. */
static void add(struct fx *fx, const char *campaign, const char *id,
		const char *unit, const char *form, int i, bool rev2,
		sipas_status want)
{
	msgpack_sbuffer sb;
	sipas_fault fault;
	sipas_outcome oc;
	sipas_diag diag = {{0}};
	sipas_origin from = {"test", 1000};
	const sipas_def *d = NULL;

	pack_response(&sb, campaign, id, unit, form, i, rev2);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, fx->r, &fault),
		      SIPAS_OK);
	ck_assert_msg(sipas_batch_begin(fx->b, &diag) == SIPAS_OK, "%s",
		      diag.msg);
	ck_assert_err(sipas_batch_definition(fx->b, campaign, &d, NULL, &diag),
		      SIPAS_OK);
	ck_assert_ptr_nonnull(d);
	ck_assert_msg(sipas_validate(d, fx->r, fx->chk, &fault) == SIPAS_OK,
		      "%s: %s %s", id, fault.field, fault.detail);
	ck_assert_msg(sipas_batch_add(fx->b, d, fx->chk, fx->r, sb.data, sb.size,
				      &from, &oc, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_int_eq(oc.status, want);
	msgpack_sbuffer_destroy(&sb);
	if (++fx->pending == 32)
		commit(fx);
}

/* Quarantine one response refused (here: as if outside the window). */
static void quarantine(struct fx *fx, const char *campaign, const char *id)
{
	msgpack_sbuffer sb;
	sipas_fault fault;
	sipas_outcome oc;
	sipas_diag diag = {{0}};
	sipas_origin from = {"test", 1000};

	pack_response(&sb, campaign, id, "SNV", "direct", 1, false);
	ck_assert_err(sipas_response_decode(sb.data, sb.size, fx->r, &fault),
		      SIPAS_OK);
	ck_assert_err(sipas_batch_begin(fx->b, &diag), SIPAS_OK);
	memset(&fault, 0, sizeof fault);
	sipas_fault_set(&fault, SIPAS_E_OUTSIDE_WINDOW, "ts", "test");
	ck_assert_err(sipas_batch_quarantine(fx->b, fx->r, sb.data, sb.size,
					     &from, &fault, &oc, &diag),
		      SIPAS_OK);
	ck_assert_int_eq(oc.status, SIPAS_REJECTED);
	msgpack_sbuffer_destroy(&sb);
	commit(fx);
}

/* Store a definition: base.json with its campaign id replaced, and for
 * rev2 changed as pack_response's rev2 expects. */
static void define(struct fx *fx, const char *campaign, bool rev2)
{
	static const struct {
		const char *from, *to;
	} edits[] = {
		{"\"max\": 5, \"satisfied\": [4, 5]", "\"max\": 7, \"satisfied\": [6, 7]"},
		{"{\"id\": \"A2\"}]", "{\"id\": \"A2\"}, {\"id\": \"A3\"}]"},
		{"{\"id\": \"trips\", \"kind\": \"choice\", \"codes\": [1, 2, 3],\n"
		 "        \"labels\": [\"one\", \"two\", \"three\"]},", ""},
	};
	char *json = malloc(strlen(fx->json) + 256), *p;
	sipas_def *d = NULL;
	sipas_revision rev;
	sipas_diag diag = {{0}};
	bool unchanged;

	memcpy(json, fx->json, strlen(fx->json) + 1);
	p = strstr(json, "T-2024");
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(strlen(campaign), 6);
	memcpy(p, campaign, 6);
	for (size_t i = 0; rev2 && i < sizeof edits / sizeof edits[0]; i++) {
		size_t fl = strlen(edits[i].from), tl = strlen(edits[i].to);

		p = strstr(json, edits[i].from);
		ck_assert_msg(p != NULL, "base.json lacks %s", edits[i].from);
		memmove(p + tl, p + fl, strlen(p + fl) + 1);
		memcpy(p, edits[i].to, tl);
	}
	ck_assert_msg(sipas_def_load(json, strlen(json), "base.json", &d,
				     &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_msg(sipas_store_define(fx->s, json, strlen(json), d, &rev,
					 &unchanged, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	sipas_def_free(&d);
	free(json);
}

static void open_store(struct fx *fx)
{
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_store_open(&fx->s, fx->dir, NULL, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	fx->b = sipas_batch_new(fx->s);
}

static void close_store(struct fx *fx)
{
	if (fx->b != NULL && sipas_batch_is_open(fx->b))
		commit(fx);
	sipas_batch_free(&fx->b);
	sipas_store_close(&fx->s);
}

static const char *const unit_forms[][2] = {
	{"SNV", "direct"}, {"MS", "direct"}, {"MS", "household"},
	{"YC", "household"}};

/* A store of campaign T-2024 with n responses over its four (unit,
 * form) pairs, one duplicate and one quarantined response. */
static void setup(struct fx *fx, int n)
{
	char id[32];

	memset(fx, 0, sizeof *fx);
	fx->dir = tu_mkdtemp();
	fx->json = tu_read_source("tests/data/defs/base.json", NULL);
	fx->r = malloc(sizeof *fx->r);
	fx->chk = malloc(sizeof *fx->chk);
	open_store(fx);
	define(fx, "T-2024", false);
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof id, "r-%05d", i);
		add(fx, "T-2024", id, unit_forms[i % 4][0], unit_forms[i % 4][1],
		    i, false, SIPAS_ACCEPTED);
	}
	/* The same content again: a duplicate, nothing stored. */
	add(fx, "T-2024", "r-00001", unit_forms[1][0], unit_forms[1][1], 1,
	    false, SIPAS_DUPLICATE);
	commit(fx);
	quarantine(fx, "T-2024", "q-1");
}

static void teardown(struct fx *fx)
{
	close_store(fx);
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx->json);
	free(fx->r);
	free(fx->chk);
}

/* ---- raw LMDB, behind the store's back (the store must be closed) ---- */

struct raw {
	MDB_env *env;
	MDB_txn *txn;
};

static MDB_dbi raw_begin(struct raw *w, const char *dir, const char *db)
{
	MDB_dbi dbi;

	ck_assert_int_eq(mdb_env_create(&w->env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(w->env, 16), 0);
	ck_assert_int_eq(mdb_env_open(w->env, dir, 0, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(w->env, NULL, 0, &w->txn), 0);
	ck_assert_int_eq(mdb_dbi_open(w->txn, db, 0, &dbi), 0);
	return dbi;
}

static void raw_commit(struct raw *w)
{
	ck_assert_int_eq(mdb_txn_commit(w->txn), 0);
	mdb_env_close(w->env);
}

static MDB_val counter_key(const char *campaign, const char *unit,
			   const char *form, char *buf)
{
	size_t a = strlen(campaign), b = strlen(unit), c = strlen(form);
	MDB_val k = {a + b + c + 2, buf};

	memcpy(buf, campaign, a + 1);
	memcpy(buf + a + 1, unit, b + 1);
	memcpy(buf + a + b + 2, form, c);
	return k;
}

static MDB_val seq_key(uint64_t seq, unsigned char *buf)
{
	MDB_val k = {8, buf};

	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(seq >> (8 * (7 - i)));
	return k;
}

/* ---- tests ---- */

START_TEST(test_verify_agrees_after_the_write_path)
{
	struct fx fx;
	struct diffs ds;
	sipas_verify_totals t;

	setup(&fx, 200);
	t = verify(&fx, NULL, &ds);
	ck_assert_agrees(&ds);
	ck_assert_uint_eq(t.responses, 200);
	ck_assert_uint_eq(t.counters, 4);
	ck_assert_uint_eq(t.campaigns, 1);
	ck_assert_uint_eq(t.seen, 201);
	ck_assert_uint_eq(t.quarantined, 1);
	ck_assert_uint_gt(t.txnid, 0);
	/* The same by campaign. */
	t = verify(&fx, "T-2024", &ds);
	ck_assert_agrees(&ds);
	ck_assert_uint_eq(t.responses, 200);
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_a_tampered_counter)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char kbuf[256];
	MDB_val k = counter_key("T-2024", "MS", "direct", kbuf), v;
	sipas_def *d = NULL;
	sipas_counts *c;
	sipas_buf out;
	sipas_diag diag = {{0}};
	MDB_dbi dbi;

	setup(&fx, 200);
	ck_assert_err(sipas_store_load_definition(fx.s, "T-2024", &d, NULL,
						  &diag),
		      SIPAS_OK);
	close_store(&fx);
	/* One more respondent, one more "level 5" answer to A1, a sum
	 * changed: as if a commit had counted something twice. */
	dbi = raw_begin(&w, fx.dir, "counters");
	ck_assert_int_eq(mdb_get(w.txn, dbi, &k, &v), 0);
	c = sipas_counts_new(d, sipas_def_find_form(d, "direct", 6));
	ck_assert_err(sipas_counts_decode(c, v.mv_data, v.mv_size), SIPAS_OK);
	c->respondents++;
	c->crit[0 * (c->nlevels + 1) + 5]++;
	c->items[c->item_off[2] + 1] += 7;  /* age: sum */
	sipas_buf_init(&out, 1 << 20);
	ck_assert_err(sipas_counts_encode(c, &out), SIPAS_OK);
	v.mv_data = out.data;
	v.mv_size = out.len;
	ck_assert_int_eq(mdb_put(w.txn, dbi, &k, &v, 0), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_uint_eq(ds.n, 3);
	ck_assert_diff(&ds, SIPAS_VERIFY_COUNTER, "counter T-2024/MS/direct "
		       "respondents: stored 51, recomputed 50");
	ck_assert_diff(&ds, SIPAS_VERIFY_COUNTER, "T-2024/MS/direct/A1 level 5: "
		       "stored");
	ck_assert_diff(&ds, SIPAS_VERIFY_COUNTER, "T-2024/MS/direct/age sum: ");
	/* Only the campaign's own records when one is named. */
	verify(&fx, "T-2024", &ds);
	ck_assert_uint_eq(ds.n, 3);
	sipas_buf_free(&out);
	sipas_counts_free(&c);
	sipas_def_free(&d);
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_a_deleted_response)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	unsigned char kb[8];
	MDB_val k = seq_key(6, kb);  /* r-00005: MS/direct */
	MDB_dbi dbi;

	setup(&fx, 200);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "responses");
	ck_assert_int_eq(mdb_del(w.txn, dbi, &k, NULL), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_diff(&ds, SIPAS_VERIFY_COUNTER, "counter T-2024/MS/direct "
		       "respondents: stored 50, recomputed 49");
	ck_assert_diff(&ds, SIPAS_VERIFY_STATS, "stats T-2024 accepted: stored "
		       "200, recomputed 199");
	ck_assert_diff(&ds, SIPAS_VERIFY_SEEN, "seen T-2024/r-00005: stored "
		       "response 6, recomputed none");
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_stray_and_missing_records)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char k1[256], k2[256], k3[256];
	MDB_val from = counter_key("T-2024", "SNV", "direct", k1), v;
	MDB_val stray = counter_key("T-2024", "YC", "direct", k2);
	MDB_val gone = counter_key("T-2024", "YC", "household", k3);
	MDB_dbi dbi;
	sipas_verify_totals t;

	setup(&fx, 40);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "counters");
	ck_assert_int_eq(mdb_get(w.txn, dbi, &from, &v), 0);
	ck_assert_int_eq(mdb_put(w.txn, dbi, &stray, &v, 0), 0);
	ck_assert_int_eq(mdb_del(w.txn, dbi, &gone, NULL), 0);
	raw_commit(&w);
	open_store(&fx);

	t = verify(&fx, NULL, &ds);
	ck_assert_uint_eq(ds.n, 2);
	ck_assert_diff(&ds, SIPAS_VERIFY_STRAY_COUNTER, "stray-counter "
		       "T-2024/YC/direct: stored 10 respondents, recomputed none");
	ck_assert_diff(&ds, SIPAS_VERIFY_MISSING_COUNTER, "missing-counter "
		       "T-2024/YC/household: stored none, recomputed 10 "
		       "respondents");
	ck_assert_uint_eq(t.counters, 4);
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_a_response_stored_twice)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	unsigned char kb[8], nb[8];
	MDB_val k = seq_key(3, kb), nk = seq_key(500, nb), v;
	MDB_dbi dbi;

	setup(&fx, 40);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "responses");
	ck_assert_int_eq(mdb_get(w.txn, dbi, &k, &v), 0);
	ck_assert_int_eq(mdb_put(w.txn, dbi, &nk, &v, 0), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_uint_eq(ds.n, 1);
	ck_assert_diff(&ds, SIPAS_VERIFY_DUPLICATE, "duplicate T-2024/r-00002: "
		       "stored responses 3 and 500, recomputed one response");
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_seen_records)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char k1[64] = "T-2024\0r-00007", k2[64] = "T-2024\0r-00008";
	char k3[64] = "T-2024\0ghost", k4[64] = "T-2024\0q-1";
	MDB_val changed = {14, k1}, gone = {14, k2}, ghost = {12, k3};
	MDB_val quar = {10, k4}, v;
	unsigned char val[25], qkb[8];
	MDB_val qk = seq_key(1, qkb);
	MDB_dbi dbi, qdbi;

	setup(&fx, 40);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "seen");
	/* Another content hash for r-00007. */
	ck_assert_int_eq(mdb_get(w.txn, dbi, &changed, &v), 0);
	memcpy(val, v.mv_data, sizeof val);
	val[0] ^= 0xff;
	v.mv_data = val;
	ck_assert_int_eq(mdb_put(w.txn, dbi, &changed, &v, 0), 0);
	/* No record for r-00008. */
	ck_assert_int_eq(mdb_del(w.txn, dbi, &gone, NULL), 0);
	/* A record counted as response 9999, which is not stored. */
	val[16] = 1;
	for (int i = 0; i < 8; i++)
		val[17 + i] = (unsigned char)((uint64_t)9999 >> (8 * i));
	v.mv_data = val;
	v.mv_size = sizeof val;
	ck_assert_int_eq(mdb_put(w.txn, dbi, &ghost, &v, 0), 0);
	/* The quarantined response's entry gone, its record kept. */
	ck_assert_int_eq(mdb_get(w.txn, dbi, &quar, &v), 0);
	ck_assert_int_eq(mdb_dbi_open(w.txn, "quarantine", 0, &qdbi), 0);
	ck_assert_int_eq(mdb_del(w.txn, qdbi, &qk, NULL), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_diff(&ds, SIPAS_VERIFY_SEEN, "seen T-2024/r-00007 content "
		       "hash: stored ");
	ck_assert_diff(&ds, SIPAS_VERIFY_SEEN, "seen T-2024/r-00008: stored "
		       "none, recomputed response 9");
	ck_assert_diff(&ds, SIPAS_VERIFY_SEEN, "seen T-2024/ghost: stored "
		       "response 9999, recomputed none");
	ck_assert_diff(&ds, SIPAS_VERIFY_SEEN, "seen T-2024/q-1: stored "
		       "quarantine entry 1, recomputed none");
	ck_assert_diff(&ds, SIPAS_VERIFY_STATS, "stats T-2024 quarantined: "
		       "stored 1, recomputed 0");
	ck_assert_uint_eq(ds.n, 5);
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_reports_damaged_records)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char k1[256];
	MDB_val k = counter_key("T-2024", "SNV", "direct", k1);
	MDB_val v = {5, (void *)"SC\x01\xff\xff"};
	unsigned char kb[8], junk[] = {2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
				      0, 0, 0xc1};
	MDB_val rk = seq_key(2, kb), rv = {sizeof junk, junk};
	MDB_dbi dbi;

	setup(&fx, 40);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "counters");
	ck_assert_int_eq(mdb_put(w.txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_dbi_open(w.txn, "responses", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(w.txn, dbi, &rk, &rv, 0), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_diff(&ds, SIPAS_VERIFY_DAMAGED, "damaged T-2024/SNV/direct: "
		       "not a counter record");
	ck_assert_diff(&ds, SIPAS_VERIFY_RESPONSE, "response 2: cannot be "
		       "decoded: malformed");
	teardown(&fx);
}
END_TEST

/* A criterion entry with no levels: sipas_counts_decode refuses the
 * record (the worker and the snapshot cannot read it), so verify must
 * report it as damaged, not agree with it. */
START_TEST(test_verify_refuses_what_the_codec_refuses)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char kbuf[256];
	MDB_val k = counter_key("T-2024", "MS", "direct", kbuf), v;
	sipas_def *d = NULL;
	sipas_counts *c, *again;
	sipas_buf out;
	sipas_diag diag = {{0}};
	MDB_dbi dbi;

	setup(&fx, 200);
	ck_assert_err(sipas_store_load_definition(fx.s, "T-2024", &d, NULL,
						  &diag), SIPAS_OK);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "counters");
	ck_assert_int_eq(mdb_get(w.txn, dbi, &k, &v), 0);
	c = sipas_counts_new(d, sipas_def_find_form(d, "direct", 6));
	ck_assert_err(sipas_counts_decode(c, v.mv_data, v.mv_size), SIPAS_OK);
	/* criterion entry "ZZ": min 1 (zigzag 2), 0 levels, 0 n/a */
	ck_assert_err(sipas_buf_append(&c->carry, "\x00\x02ZZ\x02\x00\x00", 7),
		      SIPAS_OK);
	c->ncarry++;
	sipas_buf_init(&out, 1 << 20);
	ck_assert_err(sipas_counts_encode(c, &out), SIPAS_OK);
	again = sipas_counts_new(d, sipas_def_find_form(d, "direct", 6));
	ck_assert_err(sipas_counts_decode(again, out.data, out.len),
		      SIPAS_E_MALFORMED);
	v.mv_data = out.data;
	v.mv_size = out.len;
	ck_assert_int_eq(mdb_put(w.txn, dbi, &k, &v, 0), 0);
	raw_commit(&w);
	open_store(&fx);

	verify(&fx, NULL, &ds);
	ck_assert_diff(&ds, SIPAS_VERIFY_DAMAGED, "damaged T-2024/MS/direct: "
		       "not a counter record");
	sipas_counts_free(&again);
	sipas_counts_free(&c);
	sipas_buf_free(&out);
	sipas_def_free(&d);
	teardown(&fx);
}
END_TEST

/* Records written under two revisions (a criterion added, an item
 * dropped, the scale widened) compare by meaning; entries of the first
 * format (no revision) are judged by the current revision. */
START_TEST(test_verify_agrees_across_revisions)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char id[32];
	unsigned char kb[8];
	MDB_cursor *cur;
	MDB_val k, v;
	MDB_dbi dbi;
	sipas_verify_totals t;
	int rewritten = 0;

	setup(&fx, 60);
	define(&fx, "T-2024", true);
	for (int i = 0; i < 60; i++) {
		snprintf(id, sizeof id, "s-%05d", i);
		add(&fx, "T-2024", id, unit_forms[i % 4][0], unit_forms[i % 4][1],
		    i, true, SIPAS_ACCEPTED);
	}
	close_store(&fx);
	open_store(&fx);
	verify(&fx, NULL, &ds);
	ck_assert_agrees(&ds);

	/* Rewrite the second revision's entries in the first format
	 * (version 1, no revision field): they must be judged by the
	 * current revision, which is theirs. */
	sipas_batch_free(&fx.b);
	sipas_store_close(&fx.s);
	dbi = raw_begin(&w, fx.dir, "responses");
	ck_assert_int_eq(mdb_cursor_open(w.txn, dbi, &cur), 0);
	for (int rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
		const unsigned char *p = v.mv_data;
		size_t head = 10 + p[9];
		unsigned char *old;
		MDB_val nv = {v.mv_size - 4, NULL};

		if (p[head] != 2)
			continue;
		old = malloc(v.mv_size - 4);
		nv.mv_data = old;
		/* The key must outlive the page the cursor points into. */
		memcpy(kb, k.mv_data, 8);
		k.mv_data = kb;
		memcpy(old, p, head);
		old[0] = 1;
		memcpy(old + head, p + head + 4, v.mv_size - head - 4);
		ck_assert_int_eq(mdb_cursor_put(cur, &k, &nv, MDB_CURRENT), 0);
		free(old);
		rewritten++;
	}
	mdb_cursor_close(cur);
	raw_commit(&w);
	ck_assert_int_eq(rewritten, 60);
	open_store(&fx);
	t = verify(&fx, NULL, &ds);
	ck_assert_agrees(&ds);
	ck_assert_uint_eq(t.responses, 120);
	teardown(&fx);
}
END_TEST

/* The same old-format entries of the first revision are judged by the
 * current (second) one, which refuses them: reported, not counted. */
START_TEST(test_verify_reports_responses_invalid_for_their_revision)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	unsigned char kb[8];
	MDB_val k = seq_key(1, kb), v;
	MDB_dbi dbi;

	setup(&fx, 8);
	define(&fx, "T-2024", true);
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "responses");
	ck_assert_int_eq(mdb_get(w.txn, dbi, &k, &v), 0);
	{
		const unsigned char *p = v.mv_data;
		size_t head = 10 + p[9];
		unsigned char *old = malloc(v.mv_size - 4);
		MDB_val nv = {v.mv_size - 4, old};

		memcpy(old, p, head);
		old[0] = 1;
		memcpy(old + head, p + head + 4, v.mv_size - head - 4);
		ck_assert_int_eq(mdb_put(w.txn, dbi, &k, &nv, 0), 0);
		free(old);
	}
	raw_commit(&w);
	open_store(&fx);
	verify(&fx, NULL, &ds);
	ck_assert_diff(&ds, SIPAS_VERIFY_RESPONSE, "response 1 T-2024/r-00000: "
		       "not valid against revision 2: unknown_item at "
		       "items.trips");
	ck_assert_diff(&ds, SIPAS_VERIFY_COUNTER, "counter T-2024/SNV/direct "
		       "respondents: stored 2, recomputed 1");
	teardown(&fx);
}
END_TEST

START_TEST(test_verify_by_campaign)
{
	struct fx fx;
	struct diffs ds;
	struct raw w;
	char id[32], kb[256];
	MDB_val k = counter_key("U-2025", "YC", "household", kb);
	MDB_dbi dbi;
	sipas_verify_totals t;
	sipas_diag diag = {{0}};

	setup(&fx, 20);
	define(&fx, "U-2025", false);
	for (int i = 0; i < 12; i++) {
		snprintf(id, sizeof id, "u-%05d", i);
		add(&fx, "U-2025", id, unit_forms[i % 4][0], unit_forms[i % 4][1],
		    i, false, SIPAS_ACCEPTED);
	}
	close_store(&fx);
	dbi = raw_begin(&w, fx.dir, "counters");
	ck_assert_int_eq(mdb_del(w.txn, dbi, &k, NULL), 0);
	raw_commit(&w);
	open_store(&fx);

	t = verify(&fx, "T-2024", &ds);
	ck_assert_agrees(&ds);
	ck_assert_uint_eq(t.responses, 20);
	ck_assert_uint_eq(t.campaigns, 1);
	t = verify(&fx, "U-2025", &ds);
	ck_assert_uint_eq(ds.n, 1);
	ck_assert_diff(&ds, SIPAS_VERIFY_MISSING_COUNTER, "U-2025/YC/household");
	ck_assert_uint_eq(t.responses, 12);
	t = verify(&fx, NULL, &ds);
	ck_assert_uint_eq(ds.n, 1);
	ck_assert_uint_eq(t.responses, 32);
	ck_assert_uint_eq(t.campaigns, 2);
	ck_assert_err(sipas_verify_store(fx.s, "X-1", NULL, NULL, &t, &diag),
		      SIPAS_E_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(diag.msg, "no campaign X-1"));
	teardown(&fx);
}
END_TEST

/* ---- backup ---- */

START_TEST(test_backup_is_a_verified_compact_store)
{
	struct fx fx, copy;
	struct diffs ds;
	sipas_backup_info info;
	sipas_diag diag = {{0}};
	sipas_verify_totals t;
	char dest[4200], path[4300];
	struct stat st;

	setup(&fx, 100);
	snprintf(dest, sizeof dest, "%s/backups/one", fx.dir);
	ck_assert_msg(sipas_backup_write(fx.s, dest, &info, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	ck_assert_uint_eq(info.responses, 100);
	ck_assert_uint_eq(info.last_response, 100);
	ck_assert_uint_eq(info.quarantined, 1);
	ck_assert_uint_eq(info.campaigns, 1);
	ck_assert_uint_gt(info.txn_first, 0);
	ck_assert_uint_eq(info.txn_first, info.txn_last);
	snprintf(path, sizeof path, "%s/data.mdb", dest);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq((uint64_t)st.st_size, info.bytes);
	snprintf(path, sizeof path, "%s/%s", dest, SIPAS_BACKUP_PARTIAL);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof path, "%s/lock.mdb", dest);
	ck_assert_int_ne(access(path, F_OK), 0);

	/* Not into a folder that holds anything, nor over a file. */
	ck_assert_err(sipas_backup_write(fx.s, dest, &info, &diag), SIPAS_E_USAGE);
	ck_assert_ptr_nonnull(strstr(diag.msg, "not empty"));
	snprintf(path, sizeof path, "%s/data.mdb", dest);
	ck_assert_err(sipas_backup_write(fx.s, path, &info, &diag), SIPAS_E_USAGE);
	ck_assert_ptr_nonnull(strstr(diag.msg, "not a folder"));

	/* The copy is a store that verifies, with the same totals. */
	memset(&copy, 0, sizeof copy);
	copy.dir = dest;
	open_store(&copy);
	t = verify(&copy, NULL, &ds);
	ck_assert_agrees(&ds);
	ck_assert_uint_eq(t.responses, 100);
	ck_assert_uint_eq(t.quarantined, 1);
	close_store(&copy);
	teardown(&fx);
}
END_TEST

static Suite *verify_suite(void)
{
	Suite *s = suite_create("verify");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_verify_agrees_after_the_write_path);
	tcase_add_test(tc, test_verify_reports_a_tampered_counter);
	tcase_add_test(tc, test_verify_reports_a_deleted_response);
	tcase_add_test(tc, test_verify_reports_stray_and_missing_records);
	tcase_add_test(tc, test_verify_reports_a_response_stored_twice);
	tcase_add_test(tc, test_verify_reports_seen_records);
	tcase_add_test(tc, test_verify_reports_damaged_records);
	tcase_add_test(tc, test_verify_refuses_what_the_codec_refuses);
	tcase_add_test(tc, test_verify_agrees_across_revisions);
	tcase_add_test(tc, test_verify_reports_responses_invalid_for_their_revision);
	tcase_add_test(tc, test_verify_by_campaign);
	tcase_add_test(tc, test_backup_is_a_verified_compact_store);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(verify_suite());
}
