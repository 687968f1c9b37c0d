/*
 * test_status.c - `sipas-admin status`: reading the daemons' metrics files
 * back (store/sipas_status.h), as common/metrics.c writes them.
 */
#define _GNU_SOURCE /* open_memstream, utimensat */
#include "testutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sipas_metrics.h"
#include "sipas_protocol.h"
#include "sipas_status.h"

/* A literal and its byte length (without the terminating NUL). */
#define S(lit) lit, sizeof(lit) - 1

/* ---- helpers ---- */

/* A worker's metrics as a daemon would register them, with known values. */
static sipas_metrics *worker_metrics(void)
{
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	static const uint64_t by_status[4] = {900, 50, 40, 10};
	sipas_diag diag = {{0}};
	sipas_histogram *h;

	ck_assert_err(sipas_metrics_label(m, "source", "east", &diag),
	              SIPAS_OK);
	sipas_counter_add(
	    sipas_metrics_counter(m, SIPAS_METRIC_RECEIVED, NULL, NULL, NULL),
	    1000);
	for (int k = 0; k < 4; k++)
		sipas_counter_add(sipas_metrics_counter(
		                      m, SIPAS_METRIC_RESPONSES, NULL, "status",
		                      sipas_status_name((sipas_status)k)),
		                  by_status[k]);
	/* Every rejection code, registered at start as the header asks. */
	for (int e = SIPAS_E_MALFORMED; e < SIPAS_E_BUSY; e++) {
		sipas_counter *c =
		    sipas_metrics_counter(m, SIPAS_METRIC_REJECTED, NULL,
		                          "code", sipas_err_name((sipas_err)e));

		if (e == SIPAS_E_OUT_OF_RANGE)
			sipas_counter_add(c, 30);
		if (e == SIPAS_E_UNKNOWN_UNIT)
			sipas_counter_add(c, 10);
	}
	sipas_counter_add(sipas_metrics_counter(m, SIPAS_METRIC_QUARANTINED,
	                                        NULL, NULL, NULL),
	                  2);
	sipas_gauge_set(
	    sipas_metrics_gauge(m, SIPAS_METRIC_SPOOL_DEPTH, NULL, NULL, NULL),
	    3);
	sipas_gauge_set(
	    sipas_metrics_gauge(m, SIPAS_METRIC_MAP_USED, NULL, NULL, NULL),
	    1024.0 * 1024 * 1024);
	sipas_gauge_set(
	    sipas_metrics_gauge(m, SIPAS_METRIC_MAP_SIZE, NULL, NULL, NULL),
	    4096.0 * 1024 * 1024);
	h = sipas_metrics_histogram(m, SIPAS_METRIC_COMMIT_SECONDS, NULL, NULL,
	                            NULL, NULL, 0);
	for (int i = 0; i < 50; i++) {
		sipas_histogram_observe(h, 0.002);
		sipas_histogram_observe(h, 0.008);
	}
	sipas_counter_inc(sipas_metrics_counter(
	    m, SIPAS_METRIC_HANDSHAKE_FAILURES, NULL, NULL, NULL));
	return m;
}

static void write_ok(const sipas_metrics *m, const char *path)
{
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_metrics_write_file(m, path, &diag) == SIPAS_OK,
	              "%s", diag.msg);
}

static void write_text(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "wb");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

/* Set the modification time of path to t. */
static void set_mtime(const char *path, time_t t)
{
	struct timespec ts[2] = {{t, 0}, {t, 0}};

	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Run sipas_status_print on files[0..n); its output and errors as
 * malloc'd strings. */
static int print_all(const char *const *files, size_t n, int64_t now_s,
                     int64_t stale_s, char **out, char **err)
{
	size_t olen = 0, elen = 0;
	FILE *fo = open_memstream(out, &olen), *fe = open_memstream(err, &elen);
	int problems;

	ck_assert_ptr_nonnull(fo);
	ck_assert_ptr_nonnull(fe);
	problems = sipas_status_print(fo, fe, files, n, now_s, stale_s);
	ck_assert_int_eq(fclose(fo), 0);
	ck_assert_int_eq(fclose(fe), 0);
	return problems;
}

/* ---- reading back what metrics.c writes ---- */

START_TEST(test_status_roundtrip)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_metrics *m = worker_metrics();
	sipas_status_file st;
	sipas_diag diag = {{0}};
	const sipas_status_hist *h = &st.commit;
	struct stat sb;

	snprintf(path, sizeof path, "%s/sipas-worker.prom", dir);
	write_ok(m, path);
	ck_assert_msg(sipas_status_load(path, &st, &diag) == SIPAS_OK, "%s",
	              diag.msg);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_int_eq(st.mtime_s, (int64_t)sb.st_mtime);
	ck_assert_str_eq(st.program, "sipas-worker");
	ck_assert_str_eq(st.labels, "source=east");
	ck_assert_uint_eq(st.present, (1u << SIPAS_METRIC_NDEFS) - 1);
	ck_assert(st.up == 1);
	/* Written at new() from the wall clock: within a minute of now. */
	ck_assert(st.start_time > (double)time(NULL) - 60 &&
	          st.start_time <= (double)time(NULL) + 1);
	ck_assert(st.received == 1000);
	ck_assert_uint_eq(st.has_status, 15);
	ck_assert(st.responses[SIPAS_ACCEPTED] == 900);
	ck_assert(st.responses[SIPAS_DUPLICATE] == 50);
	ck_assert(st.responses[SIPAS_REJECTED] == 40);
	ck_assert(st.responses[SIPAS_BUSY] == 10);
	/* Every code, in the order registered. */
	ck_assert_uint_eq(st.nrejected, SIPAS_E_BUSY - SIPAS_E_MALFORMED);
	for (size_t i = 0; i < st.nrejected; i++) {
		sipas_err e = (sipas_err)(SIPAS_E_MALFORMED + (int)i);

		ck_assert_str_eq(st.rejected[i].code, sipas_err_name(e));
		ck_assert(st.rejected[i].n == (e == SIPAS_E_OUT_OF_RANGE ? 30
		                               : e == SIPAS_E_UNKNOWN_UNIT
		                                   ? 10
		                                   : 0));
	}
	ck_assert(st.quarantined == 2);
	ck_assert(st.spool_depth == 3);
	ck_assert(st.map_used == 1024.0 * 1024 * 1024);
	ck_assert(st.map_size == 4096.0 * 1024 * 1024);
	ck_assert(st.handshake_failures == 1);
	/* The histogram: 12 bounds and +Inf, cumulative. */
	ck_assert_uint_eq(h->nbuckets, SIPAS_METRICS_COMMIT_NBUCKETS + 1);
	for (size_t i = 0; i < SIPAS_METRICS_COMMIT_NBUCKETS; i++) {
		double le = sipas_metrics_commit_buckets[i];

		ck_assert(h->le[i] == le);
		ck_assert(h->cum[i] == (le < 0.002   ? 0
		                        : le < 0.008 ? 50
		                                     : 100));
	}
	ck_assert(h->cum[SIPAS_METRICS_COMMIT_NBUCKETS] == 100);
	ck_assert(h->count == 100);
	ck_assert_double_eq_tol(h->sum, 0.5, 1e-12);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The summary a person reads, exactly. */
START_TEST(test_status_summary_text)
{
	static const char want[] =
	    "w.prom: sipas-worker (source=east)\n"
	    "  state               running, written 5 s ago, started 2 h "
	    "ago\n"
	    "  received            1000\n"
	    "  accepted            900\n"
	    "  duplicate           50\n"
	    "  rejected            40: unknown_unit 10, out_of_range 30\n"
	    "  busy                10\n"
	    "  quarantined         2\n"
	    "  spool depth         3\n"
	    "  LMDB map            1.0 GiB of 4.0 GiB (25.0 %)\n"
	    "  commit latency      p50 2.5 ms, p99 9.9 ms (100 commits, "
	    "mean 5.0 ms)\n"
	    "  handshake failures  1\n"
	    "\n";
	sipas_metrics *m = worker_metrics();
	sipas_status_file st;
	sipas_diag diag = {{0}};
	char *text = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	FILE *f = open_memstream(&text, &len);
	int64_t now = 1700000000;

	ck_assert_err(sipas_metrics_format(m, f), SIPAS_OK);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_msg(sipas_status_parse("w.prom", text, len, &st, &diag) ==
	                  SIPAS_OK,
	              "%s", diag.msg);
	st.mtime_s = now - 5;
	st.start_time = (double)(now - 7200);
	f = open_memstream(&out, &olen);
	sipas_status_format(f, "w.prom", &st, now, 30);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(out, want);
	free(out);
	free(text);
	sipas_metrics_free(&m);
}
END_TEST

/* p50 and p99 by linear interpolation in the bucket, as Prometheus's
 * histogram_quantile; the +Inf bucket gives "more than" its bound. */
START_TEST(test_status_quantile)
{
	sipas_status_hist h = {.nbuckets = 4,
	                       .le = {0.001, 0.01, 0.1, INFINITY},
	                       .cum = {0, 50, 100, 100},
	                       .count = 100};
	double v;
	bool above;

	ck_assert(sipas_status_quantile(&h, 0.5, &v, &above) && !above);
	ck_assert_double_eq_tol(v, 0.01, 1e-12);
	ck_assert(sipas_status_quantile(&h, 0.25, &v, &above) && !above);
	ck_assert_double_eq_tol(v, 0.0055, 1e-12);
	ck_assert(sipas_status_quantile(&h, 0.99, &v, &above) && !above);
	ck_assert_double_eq_tol(v, 0.01 + 0.09 * 49 / 50, 1e-12);
	/* 10 of 100 beyond the last bound: p99 is "> 0.1". */
	h.cum[2] = 90;
	ck_assert(sipas_status_quantile(&h, 0.99, &v, &above) && above);
	ck_assert(v == 0.1);
	/* No observation: no estimate. */
	h.cum[0] = h.cum[1] = h.cum[2] = h.cum[3] = 0;
	ck_assert(!sipas_status_quantile(&h, 0.5, &v, &above));
	h.nbuckets = 0;
	ck_assert(!sipas_status_quantile(&h, 0.5, &v, &above));
}
END_TEST

/* An old file is marked STALE and counted as a problem; a fresh one is
 * not; a daemon that wrote sipas_up 0 as it stopped is "stopped". */
START_TEST(test_status_stale_and_stopped)
{
	char *dir = tu_mkdtemp(), path[4200], *out, *err;
	const char *files[1] = {path};
	sipas_metrics *m = worker_metrics();
	int64_t now = (int64_t)time(NULL);

	snprintf(path, sizeof path, "%s/w.prom", dir);
	write_ok(m, path);
	set_mtime(path, (time_t)(now - 100));

	ck_assert_int_eq(print_all(files, 1, now, 30, &out, &err), 1);
	ck_assert_msg(strstr(out, "  state               STALE, running, "
	                          "written 100 s ago (more than 30 s)") != NULL,
	              "%s", out);
	ck_assert_str_eq(err, "");
	free(out);
	free(err);

	ck_assert_int_eq(print_all(files, 1, now, 300, &out, &err), 0);
	ck_assert_msg(strstr(out, "STALE") == NULL &&
	                  strstr(out, "running, written 100 s ago") != NULL,
	              "%s", out);
	free(out);
	free(err);

	/* 0: never stale. */
	ck_assert_int_eq(print_all(files, 1, now + 86400 * 3, 0, &out, &err),
	                 0);
	ck_assert_msg(strstr(out, "STALE") == NULL &&
	                  strstr(out, "written 3 d ago") != NULL,
	              "%s", out);
	free(out);
	free(err);

	sipas_metrics_set_up(m, false);
	write_ok(m, path);
	ck_assert_int_eq(print_all(files, 1, now, 300, &out, &err), 1);
	ck_assert_msg(strstr(out, "  state               stopped, written") !=
	                  NULL,
	              "%s", out);
	free(out);
	free(err);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A missing file, a folder, a file too large: one line on err naming it;
 * the other files are still summarised. */
START_TEST(test_status_unreadable)
{
	char *dir = tu_mkdtemp(), good[4200], missing[4200], big[4200];
	char want[9000], *out, *err, *huge;
	const char *files[4] = {missing, good, dir, big};
	sipas_metrics *m = worker_metrics();
	sipas_status_file st;
	sipas_diag diag = {{0}};
	int64_t now = (int64_t)time(NULL);

	snprintf(good, sizeof good, "%s/good.prom", dir);
	snprintf(missing, sizeof missing, "%s/missing.prom", dir);
	snprintf(big, sizeof big, "%s/big.prom", dir);
	write_ok(m, good);
	huge = malloc(SIPAS_STATUS_MAX_FILE + 1);
	memset(huge, '\n', SIPAS_STATUS_MAX_FILE + 1);
	write_text(big, huge, SIPAS_STATUS_MAX_FILE + 1);
	free(huge);

	ck_assert_err(sipas_status_load(missing, &st, &diag), SIPAS_E_IO);
	snprintf(want, sizeof want, "%s: No such file or directory", missing);
	ck_assert_str_eq(diag.msg, want);
	ck_assert_err(sipas_status_load(big, &st, &diag), SIPAS_E_TOO_LARGE);

	ck_assert_int_eq(print_all(files, 4, now, 60, &out, &err), 3);
	snprintf(want, sizeof want,
	         "%s: No such file or directory\n"
	         "%s: not a regular file\n"
	         "%s: larger than %u bytes\n",
	         missing, dir, big, SIPAS_STATUS_MAX_FILE);
	ck_assert_str_eq(err, want);
	snprintf(want, sizeof want, "%s: sipas-worker (source=east)\n", good);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "%s", out);
	free(out);
	free(err);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* ---- what the reader refuses, and where it says so ---- */

#define HEAD                                                                   \
	"# HELP sipas_up Running.\n"                                           \
	"# TYPE sipas_up gauge\n"                                              \
	"sipas_up{program=\"p\"} 1\n"

static const struct {
	const char *text;
	size_t len;
	const char *where; /* the start of the message */
	const char *why;   /* in the message */
} refused[] = {
    {S(HEAD "sipas_received_total{program=\"p\"} 5"),
     "t.prom:4: ", "no newline"},
    {S(HEAD "sipas_received_total{program=\"p\"} -1\n"),
     "t.prom:4: ", "not negative"},
    {S(HEAD "sipas_received_total{program=\"p\"} NaN\n"),
     "t.prom:4: ", "finite"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1e999\n"),
     "t.prom:4: ", "invalid sample value"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1,5\n"),
     "t.prom:4: ", "invalid sample value"},
    {S(HEAD "sipas_received_total{program=\"p\"} 0x10\n"),
     "t.prom:4: ", "invalid sample value"},
    {S(HEAD "sipas_received_total{program=\"p\"}\n"),
     "t.prom:4: ", "without a value"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1 12x\n"),
     "t.prom:4: ", "invalid timestamp"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1 12 3\n"),
     "t.prom:4: ", "after the sample"},
    {S(HEAD "# TYPE sipas_received_total gauge\n"),
     "t.prom:4: ", "TYPE counter"},
    {S(HEAD "# TYPE x counter\n# TYPE sipas_up gauge\n"),
     "t.prom:5: ", "second TYPE"},
    {S(HEAD "# TYPE x bogus\n"), "t.prom:4: ", "unknown TYPE"},
    {S(HEAD "# TYPE\n"), "t.prom:4: ", "TYPE without"},
    {S(HEAD "# HELP x a \\t\n"), "t.prom:4: ", "escape in HELP"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1\n"
            "sipas_received_total{program=\"p\"} 2\n"),
     "t.prom:5: ", "repeated series"},
    {S(HEAD "sipas_received_total{program=\"q\"} 1\n"),
     "t.prom:4: ", "second program"},
    {S(HEAD "sipas_received_total 1\n"),
     "t.prom:4: ", "without a program label"},
    {S(HEAD "sipas_received_total{program=\"p\\t\"} 1\n"),
     "t.prom:4: ", "invalid escape"},
    {S(HEAD "sipas_received_total{program=p} 1\n"),
     "t.prom:4: ", "must be quoted"},
    {S(HEAD "sipas_received_total{program=\"p} 1\n"),
     "t.prom:4: ", "closing quote"},
    {S(HEAD "sipas_received_total{program=\"p\" 1\n"),
     "t.prom:4: ", "',' or '}'"},
    {S(HEAD "sipas_received_total{program=\"p\",program=\"p\"} 1\n"),
     "t.prom:4: ", "label repeated"},
    {S(HEAD "sipas_received_total{program=\"\xff\"} 1\n"),
     "t.prom:4: ", "not UTF-8"},
    {S(HEAD "sipas_received_total{program=\"p\"} 1\0\n"), "t.prom:4: ", "NUL"},
    {S(HEAD "{program=\"p\"} 1\n"), "t.prom:4: ", "metric name"},
    {S(HEAD "sipas_responses_total{program=\"p\",status=\"lost\"} 1\n"),
     "t.prom:4: ", "unknown status"},
    {S(HEAD "sipas_responses_total{program=\"p\"} 1\n"),
     "t.prom:4: ", "without its status label"},
    {S(HEAD "sipas_rejected_total{program=\"p\",code=\"Out Of\"} 1\n"),
     "t.prom:4: ", "invalid code"},
    {S("sipas_up{program=\"p\"} 2\n"), "t.prom:1: ", "0 or 1"},
    {S(HEAD "sipas_commit_seconds{program=\"p\"} 1\n"), "t.prom:4: ", "suffix"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"-Inf\"} 1\n"),
     "t.prom:4: ", "not above 0"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"0\"} 1\n"),
     "t.prom:4: ", "not above 0"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\"} 1\n"),
     "t.prom:4: ", "le label"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"0.1\"} 5\n"
            "sipas_commit_seconds_bucket{program=\"p\",le=\"1\"} 3\n"),
     "t.prom:5: ", "must not decrease"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"1\"} 1\n"
            "sipas_commit_seconds_bucket{program=\"p\",le=\"0.1\"} 1\n"),
     "t.prom:5: ", "must increase"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"+Inf\"} 1\n"
            "sipas_commit_seconds_bucket{program=\"p\",le=\"+Inf\"} 1\n"),
     "t.prom:5: ", "after the +Inf"},
    {S(HEAD "sipas_commit_seconds_sum{program=\"p\"} 1\n"
            "sipas_commit_seconds_sum{program=\"p\"} 1\n"),
     "t.prom:5: ", "repeated series"},
    /* What only the whole file tells: no line number. */
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"0.1\"} 1\n"
            "sipas_commit_seconds_bucket{program=\"p\",le=\"+Inf\"} 2\n"
            "sipas_commit_seconds_sum{program=\"p\"} 1\n"
            "sipas_commit_seconds_count{program=\"p\"} 3\n"),
     "t.prom: ", "differs from its +Inf"},
    {S(HEAD "sipas_commit_seconds_bucket{program=\"p\",le=\"0.1\"} 1\n"
            "sipas_commit_seconds_sum{program=\"p\"} 1\n"
            "sipas_commit_seconds_count{program=\"p\"} 1\n"),
     "t.prom: ", "lacks its +Inf"},
    {S("sipas_received_total{program=\"p\"} 1\n"), "t.prom: ", "no sipas_up"},
    {S(""), "t.prom: ", "no sipas_up"},
};
#define NREFUSED (sizeof refused / sizeof refused[0])

START_TEST(test_status_refused)
{
	sipas_status_file st;
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_status_parse("t.prom", refused[_i].text,
	                                  refused[_i].len, &st, &diag);

	ck_assert_msg(rv == SIPAS_E_MALFORMED, "case %d: got %s", _i,
	              sipas_err_name(rv));
	ck_assert_msg(strncmp(diag.msg, refused[_i].where,
	                      strlen(refused[_i].where)) == 0 &&
	                  strstr(diag.msg, refused[_i].why) != NULL,
	              "case %d: \"%s\", want \"%s...%s\"", _i, diag.msg,
	              refused[_i].where, refused[_i].why);
	/* One printable line, whatever the input. */
	ck_assert(strchr(diag.msg, '\n') == NULL);
}
END_TEST

/* A family that is not ours is left alone, but its line must still be
 * a line of the format. */
START_TEST(test_status_unknown_still_checked)
{
	static const char text[] = HEAD "node_thing_sum 0x10\n";
	sipas_status_file st;
	sipas_diag diag = {{0}};

	ck_assert_err(sipas_status_parse("t.prom", S(text), &st, &diag),
	              SIPAS_E_MALFORMED);
	ck_assert_str_eq(diag.msg, "t.prom:4: invalid sample value");
}
END_TEST

/* Everything else the format allows is read: comments, empty lines,
 * blanks, a comma before '}', timestamps, families of other exporters. */
START_TEST(test_status_tolerated_values)
{
	static const char text[] =
	    "# A comment, then an empty line and a blank one\n"
	    "\n"
	    " \t\n"
	    "# HELP node_thing Something \\\\ else\\n\n"
	    "# TYPE node_thing summary\n"
	    "node_thing{quantile=\"0.5\",a=\"b\\\"c\"} 3 1700000000000\n"
	    "# HELPER not a HELP line\n"
	    "  sipas_up { program = \"p\" , source=\"s\", } 1  \n"
	    "other_metric 1e3\n"
	    "other_metric{x=\"1\"} -Inf\n"
	    "sipas_received_total{program=\"p\",source=\"s\"} 12 -5\n"
	    "sipas_lmdb_map_used_bytes{program=\"p\"} 1.5e3\n";
	sipas_status_file st;
	sipas_diag diag = {{0}};

	ck_assert_msg(sipas_status_parse("t.prom", S(text), &st, &diag) ==
	                  SIPAS_OK,
	              "%s", diag.msg);
	ck_assert_str_eq(st.program, "p");
	ck_assert_str_eq(st.labels, "source=s");
	ck_assert(st.up == 1);
	ck_assert(st.received == 12);
	ck_assert(st.map_used == 1500);
	ck_assert_uint_eq(st.present, (1u << SIPAS_MD_UP) |
	                                  (1u << SIPAS_MD_RECEIVED) |
	                                  (1u << SIPAS_MD_MAP_USED));
	ck_assert_int_eq(st.mtime_s, -1);
}
END_TEST

/* Label values end up on a terminal: control characters (C0, DEL, C1
 * such as the CSI) are shown as '?'. */
START_TEST(test_status_summary_is_clean)
{
	static const char text[] = "sipas_up{program=\"a\\nb\x7f\xc2\x9b"
	                           "31m\",x=\"\x1b[2J\"} 1\n";
	sipas_status_file st;
	sipas_diag diag = {{0}};
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_msg(sipas_status_parse("t.prom", S(text), &st, &diag) ==
	                  SIPAS_OK,
	              "%s", diag.msg);
	f = open_memstream(&out, &len);
	sipas_status_format(f, "t.prom", &st, 0, 0);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_str_eq(out, "t.prom: a?b??31m (x=?[2J)\n"
	                      "  state               running\n\n");
	free(out);
}
END_TEST

/* A line longer than the ceiling is refused by number, before parsing. */
START_TEST(test_status_long_line)
{
	size_t n = SIPAS_STATUS_MAX_LINE + 1, hl = strlen(HEAD);
	char *text = malloc(hl + n + 1);
	sipas_status_file st;
	sipas_diag diag = {{0}};

	memcpy(text, HEAD, hl);
	memset(text + hl, 'a', n);
	text[hl + n] = '\n';
	ck_assert_err(
	    sipas_status_parse("t.prom", text, hl + n + 1, &st, &diag),
	    SIPAS_E_MALFORMED);
	ck_assert_str_eq(diag.msg, "t.prom:4: line longer than 4096 bytes");
	/* One byte less is a (long, unknown) metric name without a value. */
	text[hl + n - 1] = '\n';
	ck_assert_err(sipas_status_parse("t.prom", text, hl + n, &st, &diag),
	              SIPAS_E_MALFORMED);
	ck_assert_str_eq(diag.msg, "t.prom:4: sample without a value");
	free(text);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("status");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_status_roundtrip);
	tcase_add_test(tc, test_status_summary_text);
	tcase_add_test(tc, test_status_quantile);
	tcase_add_test(tc, test_status_stale_and_stopped);
	tcase_add_test(tc, test_status_unreadable);
	tcase_add_loop_test(tc, test_status_refused, 0, (int)NREFUSED);
	tcase_add_test(tc, test_status_unknown_still_checked);
	tcase_add_test(tc, test_status_tolerated_values);
	tcase_add_test(tc, test_status_summary_is_clean);
	tcase_add_test(tc, test_status_long_line);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
