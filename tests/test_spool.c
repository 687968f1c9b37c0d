/*
 * test_spool.c - the collector's durable spool, its keytab and its
 * recent-ids cache (ingest/sipas_spool.h).
 */
#define _GNU_SOURCE /* setrlimit, dirent */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sipas_limits.h"
#include "sipas_spool.h"

/* ---- helpers ---- */

static sipas_spool *open_ok(const char *dir, const sipas_spool_opts *o)
{
	sipas_spool *sp = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_spool_open(&sp, dir, o, &diag);

	ck_assert_msg(rv == SIPAS_OK, "open %s: %s: %s", dir,
	              sipas_err_name(rv), diag.msg);
	return sp;
}

static sipas_hash128 key_of(int i)
{
	char id[32];

	snprintf(id, sizeof id, "r-%06d", i);
	return sipas_spool_key("SL-2024", id);
}

/* The bytes of "response" i (any bytes will do for the spool). */
static size_t body_of(int i, char *buf, size_t cap)
{
	int n = snprintf(buf, cap, "response %d %s", i, i % 2 ? "odd" : "even");

	return (size_t)n;
}

static sipas_hash128 digest_of(const void *p, size_t n)
{
	return sipas_spool_digest(p, n);
}

static sipas_err append(sipas_spool *sp, sipas_hash128 key, const void *p,
                        size_t n, sipas_diag *diag)
{
	return sipas_spool_append(sp, key, digest_of(p, n), 0, p, n, diag);
}

static void append_ok(sipas_spool *sp, int i)
{
	char body[64];
	size_t n = body_of(i, body, sizeof body);
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_spool_append(sp, key_of(i), digest_of(body, n),
	                                  1000 + i, body, n, &diag);

	ck_assert_msg(rv == SIPAS_OK, "append %d: %s: %s", i,
	              sipas_err_name(rv), diag.msg);
}

static void sync_ok(sipas_spool *sp)
{
	sipas_diag diag = {{0}};

	ck_assert_err(sipas_spool_sync(sp, &diag), SIPAS_OK);
}

/* Take the next record and check it is response i. */
static uint64_t next_is(sipas_spool *sp, int i)
{
	char want[64];
	size_t n = body_of(i, want, sizeof want);
	sipas_buf out;
	sipas_diag diag = {{0}};
	sipas_spool_item it;

	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	ck_assert_err(sipas_spool_next(sp, &out, &it, &diag), SIPAS_OK);
	ck_assert_uint_eq(out.len, n);
	ck_assert_mem_eq(out.data, want, n);
	ck_assert_int_eq(it.received_ms, 1000 + i);
	ck_assert(sipas_hash128_eq(it.key, key_of(i)));
	ck_assert(sipas_hash128_eq(it.digest, digest_of(want, n)));
	sipas_buf_free(&out);
	return it.seq;
}

static void next_none(sipas_spool *sp)
{
	sipas_buf out;
	sipas_diag diag = {{0}};
	sipas_spool_item it;

	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	ck_assert_err(sipas_spool_next(sp, &out, &it, &diag),
	              SIPAS_E_NOT_FOUND);
	sipas_buf_free(&out);
}

static void done_ok(sipas_spool *sp, uint64_t seq)
{
	sipas_diag diag = {{0}};

	ck_assert_err(sipas_spool_done(sp, seq, &diag), SIPAS_OK);
}

/* Segment files in dir. */
static int count_segments(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".seg") == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Path of the only (or last, by name) segment file of dir. */
static void last_segment(const char *dir, char *path, size_t cap)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char best[64] = "";

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".seg") == 0 &&
		    strcmp(de->d_name, best) > 0)
			snprintf(best, sizeof best, "%.*s", (int)(sizeof best - 1),
				 de->d_name);
	}
	closedir(d);
	ck_assert_msg(best[0] != '\0', "no segment in %s", dir);
	snprintf(path, cap, "%s/%s", dir, best);
}

static off_t file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return st.st_size;
}

/* ---- keytab ---- */

START_TEST(test_spool_keytab_put_get_del)
{
	sipas_keytab *t = sipas_keytab_new();
	enum { N = 5000 };
	uint64_t v;

	for (int i = 0; i < N; i++)
		sipas_keytab_put(t, key_of(i), (uint64_t)i);
	ck_assert_uint_eq(sipas_keytab_count(t), N);
	/* Delete every third, then every key must still answer right:
	 * backward-shift deletion must not break any probe chain. */
	for (int i = 0; i < N; i += 3)
		ck_assert(sipas_keytab_del(t, key_of(i)));
	ck_assert(!sipas_keytab_del(t, key_of(0)));
	for (int i = 0; i < N; i++) {
		bool there = sipas_keytab_get(t, key_of(i), &v);

		ck_assert_int_eq(there, i % 3 != 0);
		if (there)
			ck_assert_uint_eq(v, (uint64_t)i);
	}
	sipas_keytab_put(t, key_of(1), 77);
	ck_assert(sipas_keytab_get(t, key_of(1), &v));
	ck_assert_uint_eq(v, 77);
	ck_assert_uint_eq(sipas_keytab_count(t), N - (N + 2) / 3);
	sipas_keytab_free(&t);
	ck_assert_ptr_null(t);
	sipas_keytab_free(&t);
}
END_TEST

/* Keys that all land in the same few slots: deletion in the middle of
 * wrapped clusters. */
START_TEST(test_spool_keytab_collisions)
{
	sipas_keytab *t = sipas_keytab_new();
	sipas_hash128 k[40];

	for (int i = 0; i < 40; i++) {
		/* lo decides the slot: 63 and 0 (mod 64) wrap around */
		k[i] = (sipas_hash128){(uint64_t)(i % 2 ? 63 : 0) +
		                           ((uint64_t)i << 40),
		                       (uint64_t)i};
		sipas_keytab_put(t, k[i], (uint64_t)i);
	}
	for (int i = 0; i < 40; i += 2)
		ck_assert(sipas_keytab_del(t, k[i]));
	for (int i = 0; i < 40; i++) {
		uint64_t v = 99;

		ck_assert_int_eq(sipas_keytab_get(t, k[i], &v), i % 2 == 1);
		if (i % 2)
			ck_assert_uint_eq(v, (uint64_t)i);
	}
	sipas_keytab_free(&t);
}
END_TEST

/* ---- idcache ---- */

START_TEST(test_spool_idcache_evicts_oldest)
{
	sipas_idcache *c = sipas_idcache_new(3);
	sipas_hash128 d1 = sipas_spool_digest("one", 3);
	sipas_hash128 d2 = sipas_spool_digest("two", 3);

	ck_assert_int_eq(sipas_idcache_find(c, key_of(1), d1),
	                 SIPAS_MATCH_NONE);
	sipas_idcache_put(c, key_of(1), d1);
	sipas_idcache_put(c, key_of(2), d1);
	sipas_idcache_put(c, key_of(3), d1);
	ck_assert_int_eq(sipas_idcache_find(c, key_of(1), d1),
	                 SIPAS_MATCH_SAME);
	ck_assert_int_eq(sipas_idcache_find(c, key_of(1), d2),
	                 SIPAS_MATCH_OTHER);
	/* Putting a known key again keeps its place (and takes the digest). */
	sipas_idcache_put(c, key_of(2), d2);
	ck_assert_int_eq(sipas_idcache_find(c, key_of(2), d2),
	                 SIPAS_MATCH_SAME);
	ck_assert_uint_eq(sipas_idcache_count(c), 3);
	sipas_idcache_put(c, key_of(4), d1); /* evicts 1 */
	ck_assert_int_eq(sipas_idcache_find(c, key_of(1), d1),
	                 SIPAS_MATCH_NONE);
	ck_assert_int_eq(sipas_idcache_find(c, key_of(4), d1),
	                 SIPAS_MATCH_SAME);
	sipas_idcache_put(c, key_of(5), d1); /* evicts 2 */
	ck_assert_int_eq(sipas_idcache_find(c, key_of(2), d2),
	                 SIPAS_MATCH_NONE);
	ck_assert_int_eq(sipas_idcache_find(c, key_of(3), d1),
	                 SIPAS_MATCH_SAME);
	ck_assert_uint_eq(sipas_idcache_count(c), 3);
	sipas_idcache_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_spool_key_separates_campaign_and_id)
{
	/* "A" + "B:1" must differ from "AB" + ":1": the NUL separates. */
	ck_assert(!sipas_hash128_eq(sipas_spool_key("A", "B:1"),
	                            sipas_spool_key("AB", ":1")));
	ck_assert(sipas_hash128_eq(sipas_spool_key("SL-2024", "x"),
	                           sipas_spool_key("SL-2024", "x")));
	ck_assert(!sipas_hash128_eq(sipas_spool_key("SL-2024", "x"),
	                            sipas_spool_key("SL-2025", "x")));
}
END_TEST

/* ---- spool ---- */

START_TEST(test_spool_append_sync_read_back)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	sipas_spool_stats st;
	uint64_t s0, s1, s2;

	append_ok(sp, 0);
	append_ok(sp, 1);
	ck_assert(sipas_spool_dirty(sp));
	/* Nothing is delivered before it is durable. */
	next_none(sp);
	sync_ok(sp);
	ck_assert(!sipas_spool_dirty(sp));
	append_ok(sp, 2);
	sync_ok(sp);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.entries, 3);
	ck_assert_uint_eq(st.pending, 3);
	ck_assert_uint_eq(st.segments, 1);
	s0 = next_is(sp, 0);
	s1 = next_is(sp, 1);
	s2 = next_is(sp, 2);
	next_none(sp);
	ck_assert(s0 < s1 && s1 < s2);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.out, 3);
	ck_assert_uint_eq(st.pending, 0);
	/* A released record comes back first: oldest first. */
	sipas_spool_release(sp, s1);
	sipas_spool_release(sp, s0);
	ck_assert_uint_eq(next_is(sp, 0), s0);
	ck_assert_uint_eq(next_is(sp, 1), s1);
	sipas_spool_close(&sp);
	ck_assert_ptr_null(sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_find_duplicate_and_conflict)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	char body[64];
	size_t n = body_of(7, body, sizeof body);
	sipas_diag diag = {{0}};
	uint64_t seq;

	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_NONE);
	append_ok(sp, 7);
	/* Visible at once, before the sync. */
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_SAME);
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest("x", 1)),
	    SIPAS_MATCH_OTHER);
	ck_assert_err(append(sp, key_of(7), "x", 1, &diag), SIPAS_E_CONFLICT);
	sync_ok(sp);
	seq = next_is(sp, 7);
	/* Still known while out for delivery; forgotten when done. */
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_SAME);
	done_ok(sp, seq);
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_NONE);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A key can be in the files twice: done, then spooled again before its
 * segment went. After a restart the key must stay known while any copy is
 * held (a third append with other content is a conflict). */
START_TEST(test_spool_key_twice_in_files_stays_known)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	char body[64];
	size_t n = body_of(7, body, sizeof body);
	sipas_diag diag = {{0}};
	uint64_t seq;

	append_ok(sp, 7);
	append_ok(sp, 8); /* keeps the segment alive when 7 is done */
	sync_ok(sp);
	done_ok(sp, next_is(sp, 7));
	append_ok(sp, 7);
	sync_ok(sp);
	sipas_spool_close(&sp);

	sp = open_ok(dir, NULL);
	seq = next_is(sp, 7); /* the older copy */
	done_ok(sp, seq);
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_SAME);
	ck_assert_err(append(sp, key_of(7), "x", 1, &diag), SIPAS_E_CONFLICT);
	done_ok(sp, next_is(sp, 8));
	done_ok(sp, next_is(sp, 7)); /* the newer copy */
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(7), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_NONE);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_segment_deleted_when_done)
{
	char *dir = tu_mkdtemp();
	sipas_spool_opts o = {.segment_bytes = 200};
	sipas_spool *sp = open_ok(dir, &o);
	sipas_spool_stats st;
	uint64_t seq[6];

	/* About two records per segment. */
	for (int i = 0; i < 6; i++)
		append_ok(sp, i);
	sync_ok(sp);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_ge(st.segments, 3);
	ck_assert_int_eq(count_segments(dir), (int)st.segments);
	for (int i = 0; i < 6; i++)
		seq[i] = next_is(sp, i);
	/* Done out of order: a segment goes only when all its records are. */
	done_ok(sp, seq[1]);
	ck_assert_int_eq(count_segments(dir), (int)st.segments);
	done_ok(sp, seq[0]);
	ck_assert_int_lt(count_segments(dir), (int)st.segments);
	for (int i = 2; i < 6; i++)
		done_ok(sp, seq[i]);
	ck_assert_int_eq(count_segments(dir), 0);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_uint_eq(st.segments, 0);
	ck_assert_uint_eq(st.bytes, 0);
	/* Appending again starts a new segment. */
	append_ok(sp, 9);
	sync_ok(sp);
	ck_assert_int_eq(count_segments(dir), 1);
	next_is(sp, 9);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_restart_recovery)
{
	char *dir = tu_mkdtemp();
	sipas_spool_opts o = {.segment_bytes = 300};
	sipas_spool *sp = open_ok(dir, &o);
	sipas_spool_stats st;
	uint64_t seq;
	char body[64];
	size_t n;

	for (int i = 0; i < 10; i++)
		append_ok(sp, i);
	sync_ok(sp);
	/* Two delivered and done, one out for delivery at the "crash". */
	done_ok(sp, next_is(sp, 0));
	done_ok(sp, next_is(sp, 1));
	(void)next_is(sp, 2);
	sipas_spool_close(&sp);

	sp = open_ok(dir, &o);
	sipas_spool_stats_get(sp, &st);
	/* Records of a segment not yet deleted come back (the worker answers
	 * them `duplicate`); at least 2..9 must. */
	ck_assert_uint_ge(st.recovered, 8);
	ck_assert_uint_eq(st.truncated, 0);
	ck_assert_uint_eq(st.entries, st.recovered);
	n = body_of(5, body, sizeof body);
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(5), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_SAME);
	for (int i = 10 - (int)st.recovered; i < 10; i++) {
		seq = next_is(sp, i);
		done_ok(sp, seq);
	}
	next_none(sp);
	ck_assert_int_eq(count_segments(dir), 0);
	/* New records after a restart never reuse a segment file. */
	append_ok(sp, 20);
	sync_ok(sp);
	sipas_spool_close(&sp);
	sp = open_ok(dir, &o);
	next_is(sp, 20);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* Cut the last record of the spool at `cut` bytes before its end (or
 * flip a byte of it when flip is set), then open again. */
static void torn_case(int cut, bool flip)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	sipas_spool_stats st;
	char path[4096];
	off_t before;

	for (int i = 0; i < 3; i++)
		append_ok(sp, i);
	sync_ok(sp);
	sipas_spool_close(&sp);
	last_segment(dir, path, sizeof path);
	before = file_size(path);
	if (flip) {
		int fd = open(path, O_RDWR);
		char c;

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(pread(fd, &c, 1, before - 12), 1);
		c ^= 0x40;
		ck_assert_int_eq(pwrite(fd, &c, 1, before - 12), 1);
		close(fd);
	} else {
		ck_assert_int_eq(truncate(path, before - cut), 0);
	}
	sp = open_ok(dir, NULL);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.recovered, 2);
	ck_assert_uint_gt(st.truncated, 0);
	/* The torn record is cut away on disk. */
	ck_assert_int_lt(file_size(path), before - (flip ? 0 : cut));
	next_is(sp, 0);
	next_is(sp, 1);
	next_none(sp);
	/* The lost record can be spooled again. */
	append_ok(sp, 2);
	sync_ok(sp);
	sipas_spool_close(&sp);
	sp = open_ok(dir, NULL);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.recovered, 3);
	ck_assert_uint_eq(st.truncated, 0);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}

START_TEST(test_spool_torn_tail_truncated)
{
	/* In the checksum, in the body, in the header. */
	torn_case(1, false);
	torn_case(10, false);
	torn_case(40, false);
}
END_TEST

START_TEST(test_spool_bad_checksum_truncated)
{
	torn_case(0, true);
}
END_TEST

START_TEST(test_spool_empty_or_foreign_segments)
{
	char *dir = tu_mkdtemp();
	char path[4096];
	sipas_spool *sp = NULL;
	sipas_diag diag = {{0}};
	sipas_spool_stats st;
	FILE *f;

	/* A segment torn while being created (shorter than its header). */
	snprintf(path, sizeof path, "%s/00000000000000a0.seg", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("SIP", f);
	fclose(f);
	sp = open_ok(dir, NULL);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_int_eq(count_segments(dir), 0);
	/* Later segments are numbered after it. */
	append_ok(sp, 1);
	sync_ok(sp);
	sipas_spool_close(&sp);
	last_segment(dir, path, sizeof path);
	ck_assert_str_eq(strrchr(path, '/') + 1, "00000000000000a1.seg");

	/* A file named like a segment that is not one: refuse, keep it. */
	snprintf(path, sizeof path, "%s/00000000000000ff.seg", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("not a spool segment at all", f);
	fclose(f);
	ck_assert_err(sipas_spool_open(&sp, dir, NULL, &diag), SIPAS_E_IO);
	ck_assert_ptr_null(sp);
	ck_assert_ptr_nonnull(strstr(diag.msg, "not a spool segment"));
	ck_assert_int_eq(access(path, F_OK), 0);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_locked_by_one)
{
	char *dir = tu_mkdtemp();
	sipas_spool *a = open_ok(dir, NULL), *b = NULL;
	sipas_diag diag = {{0}};
	pid_t pid;
	int status = -1;

	/* fcntl locks are per process: try from a child. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		sipas_err rv = sipas_spool_open(&b, dir, NULL, &diag);

		_exit(rv == SIPAS_E_IO && strstr(diag.msg, "in use") ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sipas_spool_close(&a);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_bounded)
{
	char *dir = tu_mkdtemp();
	sipas_spool_opts o = {.max_entries = 2};
	sipas_spool *sp = open_ok(dir, &o);
	sipas_diag diag = {{0}};
	static char big[SIPAS_MAX_REQUEST + 1];
	uint64_t seq;

	append_ok(sp, 1);
	append_ok(sp, 2);
	ck_assert_err(append(sp, key_of(3), "x", 1, &diag), SIPAS_E_BUSY);
	ck_assert_err(append(sp, key_of(4), big, sizeof big, &diag),
	              SIPAS_E_TOO_LARGE);
	sync_ok(sp);
	seq = next_is(sp, 1);
	done_ok(sp, seq);
	append_ok(sp, 3);
	sipas_spool_close(&sp);

	/* By bytes: room for about three small records. */
	o = (sipas_spool_opts){.max_bytes = 8 + 3 * 80};
	sp = open_ok(dir, &o);
	ck_assert_err(append(sp, key_of(5), big, 100, &diag), SIPAS_E_BUSY);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A write that fails (here: the file size limit) forgets every record
 * appended since the last sync and leaves nothing of them on disk. */
START_TEST(test_spool_failed_write_rolls_back)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	sipas_diag diag = {{0}};
	static char big[4000];
	struct rlimit rl;
	char path[4096], body[64];
	size_t n;
	off_t synced;

	signal(SIGXFSZ, SIG_IGN);
	append_ok(sp, 1);
	sync_ok(sp);
	last_segment(dir, path, sizeof path);
	synced = file_size(path);
	append_ok(sp, 2);
	rl.rlim_cur = (rlim_t)synced + 1000;
	rl.rlim_max = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	memset(big, 'b', sizeof big);
	ck_assert_err(append(sp, key_of(3), big, sizeof big, &diag),
	              SIPAS_E_IO);
	ck_assert_msg(diag.msg[0] != '\0', "no reason given");
	rl.rlim_cur = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	n = body_of(2, body, sizeof body);
	ck_assert_int_eq(
	    sipas_spool_find(sp, key_of(2), sipas_spool_digest(body, n)),
	    SIPAS_MATCH_NONE);
	ck_assert(!sipas_spool_dirty(sp));
	ck_assert_int_eq(file_size(path), synced);
	next_is(sp, 1);
	next_none(sp);
	/* And it goes on working. */
	append_ok(sp, 4);
	sync_ok(sp);
	next_is(sp, 4);
	sipas_spool_close(&sp);
	sp = open_ok(dir, NULL);
	next_is(sp, 1);
	next_is(sp, 4);
	next_none(sp);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

START_TEST(test_spool_many_records)
{
	char *dir = tu_mkdtemp();
	sipas_spool_opts o = {.segment_bytes = 4096};
	sipas_spool *sp = open_ok(dir, &o);
	enum { N = 3000 };
	sipas_spool_stats st;

	for (int i = 0; i < N; i++) {
		append_ok(sp, i);
		if (i % 100 == 99)
			sync_ok(sp);
	}
	sync_ok(sp);
	for (int i = 0; i < N; i++)
		done_ok(sp, next_is(sp, i));
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.entries, 0);
	ck_assert_int_eq(count_segments(dir), 0);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A record damaged on disk after it was written: skipped, and said so. */
START_TEST(test_spool_damaged_record_skipped)
{
	char *dir = tu_mkdtemp();
	sipas_spool *sp = open_ok(dir, NULL);
	sipas_buf out;
	sipas_diag diag = {{0}};
	sipas_spool_item it;
	sipas_spool_stats st;
	char path[4096], c;
	int fd;

	append_ok(sp, 0);
	append_ok(sp, 1);
	sync_ok(sp);
	last_segment(dir, path, sizeof path);
	fd = open(path, O_RDWR);
	ck_assert_int_ge(fd, 0);
	/* A byte of the first record's body (after the 8-byte segment
	 * header and the 48-byte record header). */
	ck_assert_int_eq(pread(fd, &c, 1, 8 + 48 + 3), 1);
	c ^= 0x01;
	ck_assert_int_eq(pwrite(fd, &c, 1, 8 + 48 + 3), 1);
	close(fd);
	sipas_buf_init(&out, SIPAS_MAX_REQUEST);
	ck_assert_err(sipas_spool_next(sp, &out, &it, &diag), SIPAS_E_IO);
	ck_assert_ptr_nonnull(strstr(diag.msg, "does not check out"));
	sipas_buf_free(&out);
	next_is(sp, 1);
	sipas_spool_stats_get(sp, &st);
	ck_assert_uint_eq(st.entries, 1);
	sipas_spool_close(&sp);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

static Suite *spool_suite(void)
{
	Suite *s = suite_create("spool");
	TCase *tc = tcase_create("spool");

	tcase_add_test(tc, test_spool_keytab_put_get_del);
	tcase_add_test(tc, test_spool_keytab_collisions);
	tcase_add_test(tc, test_spool_idcache_evicts_oldest);
	tcase_add_test(tc, test_spool_key_separates_campaign_and_id);
	tcase_add_test(tc, test_spool_append_sync_read_back);
	tcase_add_test(tc, test_spool_find_duplicate_and_conflict);
	tcase_add_test(tc, test_spool_segment_deleted_when_done);
	tcase_add_test(tc, test_spool_key_twice_in_files_stays_known);
	tcase_add_test(tc, test_spool_restart_recovery);
	tcase_add_test(tc, test_spool_torn_tail_truncated);
	tcase_add_test(tc, test_spool_bad_checksum_truncated);
	tcase_add_test(tc, test_spool_empty_or_foreign_segments);
	tcase_add_test(tc, test_spool_locked_by_one);
	tcase_add_test(tc, test_spool_bounded);
	tcase_add_test(tc, test_spool_failed_write_rolls_back);
	tcase_add_test(tc, test_spool_many_records);
	tcase_add_test(tc, test_spool_damaged_record_skipped);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return tu_run(spool_suite());
}
