/* test_store.c - the LMDB layer, each test in a fresh temp folder. */
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_buf.h"
#include "sipas_store.h"
#include "testutil.h"

static const char *def_json(const char *campaign, const char *title)
{
	static char buf[2048];

	snprintf(buf, sizeof buf,
		 "{\"campaign\": {\"id\": \"%s\", \"title\": \"%s\","
		 " \"from\": \"2024-01-01\", \"to\": \"2024-12-31\"},"
		 " \"blocks\": [{\"id\": \"b\", \"name\": \"Khối\"}],"
		 " \"forms\": [{\"id\": \"f\", \"name\": \"Phiếu\", \"groups\": ["
		 "   {\"id\": \"g\", \"criteria\": [{\"id\": \"C1\"}]}]}],"
		 " \"units\": [{\"id\": \"U1\", \"name\": \"Sở Nội vụ\","
		 " \"block\": \"b\", \"forms\": [\"f\"]}]}",
		 campaign, title);
	return buf;
}

static sipas_def *load(const char *json)
{
	sipas_def *d = NULL;
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_def_load(json, strlen(json), "t.json", &d, &diag) ==
			      SIPAS_OK,
		      "%s", diag.msg);
	return d;
}

/* Store json as a revision; returns the revision. */
static sipas_revision define(sipas_store *s, const char *json, bool *unchanged)
{
	sipas_def *d = load(json);
	sipas_revision rev;
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_store_define(s, json, strlen(json), d, &rev,
					 unchanged, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	sipas_def_free(&d);
	return rev;
}

START_TEST(test_store_open_creates_and_reopens)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};

	snprintf(path, sizeof path, "%s/a/b/store", dir);
	ck_assert_err(sipas_store_open(&s, path, NULL, &diag), SIPAS_OK);
	ck_assert_ptr_nonnull(s);
	sipas_store_close(&s);
	ck_assert_ptr_null(s);
	sipas_store_close(&s); /* NULL is fine */
	ck_assert_err(sipas_store_open(&s, path, NULL, &diag), SIPAS_OK);
	sipas_store_close(&s);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_store_open_refuses_a_file)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};
	FILE *f;

	snprintf(path, sizeof path, "%s/file", dir);
	f = fopen(path, "w");
	fclose(f);
	ck_assert_err(sipas_store_open(&s, path, NULL, &diag), SIPAS_E_STORE);
	ck_assert_ptr_null(s);
	ck_assert_ptr_nonnull(strstr(diag.msg, path));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_store_refuses_other_format)
{
	char *dir = tu_mkdtemp();
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};
	MDB_env *env;
	MDB_txn *txn;
	MDB_dbi dbi;
	MDB_val k = {6, (void *)"format"}, v = {1, (void *)"9"};

	ck_assert_err(sipas_store_open(&s, dir, NULL, &diag), SIPAS_OK);
	sipas_store_close(&s);
	/* Rewrite the format mark behind the store's back. */
	ck_assert_int_eq(mdb_env_create(&env), 0);
	ck_assert_int_eq(mdb_env_set_maxdbs(env, 16), 0);
	ck_assert_int_eq(mdb_env_open(env, dir, 0, 0640), 0);
	ck_assert_int_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
	ck_assert_int_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	ck_assert_int_eq(mdb_put(txn, dbi, &k, &v, 0), 0);
	ck_assert_int_eq(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	ck_assert_err(sipas_store_open(&s, dir, NULL, &diag), SIPAS_E_VERSION);
	ck_assert_ptr_nonnull(strstr(diag.msg, "store format 9"));
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_store_define_revisions)
{
	char *dir = tu_mkdtemp();
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};
	sipas_revision r1, r2, r3, cur;
	sipas_def *d = NULL;
	bool unchanged = true;
	char first[2048];

	ck_assert_err(sipas_store_open(&s, dir, NULL, &diag), SIPAS_OK);
	snprintf(first, sizeof first, "%s", def_json("SL-2024", "Một"));
	r1 = define(s, first, &unchanged);
	ck_assert(!unchanged);
	ck_assert_uint_eq(r1.seq, 1);
	ck_assert_str_eq(r1.campaign, "SL-2024");
	ck_assert_int_eq(strncmp(r1.id, "1-", 2), 0);
	ck_assert_uint_eq(strlen(r1.id), 18);

	/* The same bytes again: nothing written, same revision. */
	r2 = define(s, first, &unchanged);
	ck_assert(unchanged);
	ck_assert_str_eq(r2.id, r1.id);

	/* Other content: the next revision, with another hash. */
	r3 = define(s, def_json("SL-2024", "Hai"), &unchanged);
	ck_assert(!unchanged);
	ck_assert_uint_eq(r3.seq, 2);
	ck_assert_uint_ne(r3.hash, r1.hash);

	/* Survives close and reopen; the current one is the last. */
	sipas_store_close(&s);
	ck_assert_err(sipas_store_open(&s, dir, NULL, &diag), SIPAS_OK);
	ck_assert_err(sipas_store_load_definition(s, "SL-2024", &d, &cur, &diag),
		      SIPAS_OK);
	ck_assert_str_eq(cur.id, r3.id);
	ck_assert_str_eq(sipas_def_campaign(d)->title, "Hai");
	sipas_def_free(&d);
	ck_assert_ptr_null(d);

	/* Defining the first text again makes a third revision. */
	ck_assert_uint_eq(define(s, first, &unchanged).seq, 3);
	ck_assert(!unchanged);
	sipas_store_close(&s);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_store_campaign_lookup)
{
	char *dir = tu_mkdtemp();
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};
	sipas_def *d = NULL;
	sipas_revision revs[4], rev;
	size_t n = 99;
	bool unchanged;

	ck_assert_err(sipas_store_open(&s, dir, NULL, &diag), SIPAS_OK);
	ck_assert_err(sipas_store_load_definition(s, NULL, &d, NULL, &diag),
		      SIPAS_E_NOT_FOUND);
	ck_assert_err(sipas_store_campaigns(s, revs, 4, &n, &diag), SIPAS_OK);
	ck_assert_uint_eq(n, 0);

	define(s, def_json("VN-2025", "Quốc gia"), &unchanged);
	ck_assert_err(sipas_store_load_definition(s, NULL, &d, &rev, &diag),
		      SIPAS_OK);
	ck_assert_str_eq(rev.campaign, "VN-2025");
	sipas_def_free(&d);

	define(s, def_json("SL-2024", "Sơn La"), &unchanged);
	ck_assert_err(sipas_store_load_definition(s, NULL, &d, NULL, &diag),
		      SIPAS_E_AMBIGUOUS);
	ck_assert_ptr_null(d);
	ck_assert_err(sipas_store_load_definition(s, "XX-1", &d, NULL, &diag),
		      SIPAS_E_NOT_FOUND);
	ck_assert_ptr_nonnull(strstr(diag.msg, "no campaign XX-1"));

	/* Listed in id order, with the total even past `max`. */
	ck_assert_err(sipas_store_campaigns(s, revs, 1, &n, &diag), SIPAS_OK);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(revs[0].campaign, "SL-2024");
	ck_assert_err(sipas_store_campaigns(s, revs, 4, &n, &diag), SIPAS_OK);
	ck_assert_str_eq(revs[1].campaign, "VN-2025");
	sipas_store_close(&s);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A map far too small for the definition: define grows it and succeeds. */
START_TEST(test_store_define_grows_full_map)
{
	char *dir = tu_mkdtemp();
	sipas_store_opts opts = {.map_size = 64 * 1024};
	sipas_store *s = NULL;
	sipas_diag diag = {{0}};
	sipas_buf json;
	sipas_def *d = NULL;
	sipas_revision rev;
	bool unchanged;

	sipas_buf_init(&json, 1 << 22);
	ck_assert_err(sipas_buf_printf(&json,
		"{\"campaign\": {\"id\": \"BIG\", \"from\": \"2024-01-01\","
		" \"to\": \"2024-12-31\"}, \"blocks\": [{\"id\": \"b\"}],"
		" \"forms\": [{\"id\": \"f\", \"groups\": [{\"id\": \"g\","
		" \"criteria\": [{\"id\": \"C1\"}]}]}], \"units\": ["), SIPAS_OK);
	for (int i = 0; i < 4000; i++)
		ck_assert_err(sipas_buf_printf(&json,
			"%s{\"id\": \"U%05d\", \"name\": \"Xã số %d\","
			" \"block\": \"b\", \"forms\": [\"f\"]}",
			i ? ", " : "", i, i), SIPAS_OK);
	ck_assert_err(sipas_buf_printf(&json, "]}"), SIPAS_OK);
	ck_assert_uint_gt(json.len, 64 * 1024);

	d = load(json.data);
	ck_assert_err(sipas_store_open(&s, dir, &opts, &diag), SIPAS_OK);
	ck_assert_msg(sipas_store_define(s, json.data, json.len, d, &rev,
					 &unchanged, &diag) == SIPAS_OK,
		      "%s", diag.msg);
	sipas_def_free(&d);
	ck_assert_err(sipas_store_load_definition(s, "BIG", &d, NULL, &diag),
		      SIPAS_OK);
	ck_assert_uint_eq(sipas_def_nunits(d), 4000);
	sipas_def_free(&d);
	sipas_store_close(&s);
	sipas_buf_free(&json);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_store_default_dir)
{
	char out[64];

	unsetenv("SIPAS_HOME");
	ck_assert_err(sipas_store_default_dir(out, sizeof out), SIPAS_OK);
	ck_assert_str_eq(out, "./sipas-store");
	setenv("SIPAS_HOME", "", 1);
	ck_assert_err(sipas_store_default_dir(out, sizeof out), SIPAS_OK);
	ck_assert_str_eq(out, "./sipas-store");
	setenv("SIPAS_HOME", "/var/lib/sipas", 1);
	ck_assert_err(sipas_store_default_dir(out, sizeof out), SIPAS_OK);
	ck_assert_str_eq(out, "/var/lib/sipas/sipas-store");
	ck_assert_err(sipas_store_default_dir(out, 10), SIPAS_E_TOO_LARGE);
	unsetenv("SIPAS_HOME");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_store_open_creates_and_reopens);
	tcase_add_test(tc, test_store_open_refuses_a_file);
	tcase_add_test(tc, test_store_refuses_other_format);
	tcase_add_test(tc, test_store_define_revisions);
	tcase_add_test(tc, test_store_campaign_lookup);
	tcase_add_test(tc, test_store_define_grows_full_map);
	tcase_add_test(tc, test_store_default_dir);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
