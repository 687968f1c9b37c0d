/*
 * test_metrics.c - counters, gauges, histograms and their Prometheus text
 * file (common/sipas_metrics.h).
 */
#define _GNU_SOURCE /* open_memstream, dirent */
#include "testutil.h"

#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sipas_metrics.h"
#include "sipas_status.h"

/* ---- helpers ---- */

/* m in the exposition format, as a malloc'd string. */
static char *format_str(const sipas_metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	ck_assert_ptr_nonnull(f);
	ck_assert_err(sipas_metrics_format(m, f), SIPAS_OK);
	ck_assert_int_eq(fclose(f), 0);
	return text;
}

/* got == want, or fail naming the first line that differs (Check cannot
 * print two whole files in one message). */
static void same_text(const char *got, const char *want)
{
	int line = 1;

	while (*got != '\0' && *got == *want) {
		line += *got == '\n';
		got++;
		want++;
	}
	if (*got == *want)
		return;
	while (line > 1 && got[-1] != '\n') {
		got--;
		want--;
	}
	ck_abort_msg("line %d differs:\n got  %.*s\n want %.*s", line,
	             (int)strcspn(got, "\n"), got, (int)strcspn(want, "\n"),
	             want);
}

/* Entries of dir other than . and .. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static bool exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

/* ---- the format ---- */

/* The constant labels of every series below: program, then a source
 * whose value needs all three escapes of a label value. */
#define L "program=\"sipas-worker\",source=\"east \\\"1\\\"\\\\\\n\""

static const char expected[] =
    "# HELP sipas_up 1 while the daemon runs; 0 in the last file it "
    "writes as it stops.\n"
    "# TYPE sipas_up gauge\n"
    "sipas_up{" L "} 1\n"
    "# HELP sipas_start_time_seconds When the daemon started, in seconds "
    "since the Unix epoch.\n"
    "# TYPE sipas_start_time_seconds gauge\n"
    "sipas_start_time_seconds{" L "} 1700000000.5\n"
    "# HELP sipas_received_total Responses received (each map of an "
    "array request counts once).\n"
    "# TYPE sipas_received_total counter\n"
    "sipas_received_total{" L "} 42\n"
    "# HELP sipas_responses_total Responses answered, by ack status "
    "(accepted, duplicate, rejected, busy).\n"
    "# TYPE sipas_responses_total counter\n"
    "sipas_responses_total{" L ",status=\"accepted\"} 40\n"
    "sipas_responses_total{" L ",status=\"duplicate\"} 1\n"
    "sipas_responses_total{" L ",status=\"rejected\"} 1\n"
    "sipas_responses_total{" L ",status=\"busy\"} 0\n"
    "# HELP sipas_rejected_total Responses answered rejected, by ack "
    "code.\n"
    "# TYPE sipas_rejected_total counter\n"
    "sipas_rejected_total{" L ",code=\"out_of_range\"} 1\n"
    "# HELP sipas_test_big_total Help with a \\\\ backslash\\nand a "
    "newline.\n"
    "# TYPE sipas_test_big_total counter\n"
    "sipas_test_big_total{" L "} 18446744073709551615\n"
    "# HELP sipas_commit_seconds Duration of each group commit to LMDB, "
    "fdatasync included, in seconds.\n"
    "# TYPE sipas_commit_seconds histogram\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.0005\"} 0\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.001\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.0025\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.005\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.01\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.025\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.05\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.1\"} 1\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.25\"} 2\n"
    "sipas_commit_seconds_bucket{" L ",le=\"0.5\"} 3\n"
    "sipas_commit_seconds_bucket{" L ",le=\"1\"} 3\n"
    "sipas_commit_seconds_bucket{" L ",le=\"2.5\"} 3\n"
    "sipas_commit_seconds_bucket{" L ",le=\"+Inf\"} 4\n"
    "sipas_commit_seconds_sum{" L "} 3.7509765625\n"
    "sipas_commit_seconds_count{" L "} 4\n"
    "# HELP sipas_test_value Odd values.\n"
    "# TYPE sipas_test_value gauge\n"
    "sipas_test_value{" L ",kind=\"nan\"} NaN\n"
    "sipas_test_value{" L ",kind=\"inf\"} +Inf\n"
    "sipas_test_value{" L ",kind=\"neg\"} -2.5\n"
    "sipas_test_value{" L ",kind=\"big\"} 1e+20\n"
    "sipas_test_value{" L ",kind=\"tenth\"} 0.1\n"
    "sipas_test_value{" L ",kind=\"negzero\"} 0\n"
    "# HELP sipas_test_seconds A histogram with a label.\n"
    "# TYPE sipas_test_seconds histogram\n"
    "sipas_test_seconds_bucket{" L ",op=\"read\",le=\"1\"} 0\n"
    "sipas_test_seconds_bucket{" L ",op=\"read\",le=\"2\"} 1\n"
    "sipas_test_seconds_bucket{" L ",op=\"read\",le=\"+Inf\"} 1\n"
    "sipas_test_seconds_sum{" L ",op=\"read\"} 1.5\n"
    "sipas_test_seconds_count{" L ",op=\"read\"} 1\n";

START_TEST(test_metrics_format_exact)
{
	static const double two[] = {1, 2};
	static const struct {
		const char *kind;
		double v;
	} odd[] = {{"nan", NAN},  {"inf", INFINITY}, {"neg", -2.5},
	           {"big", 1e20}, {"tenth", 0.1},    {"negzero", -0.0}};
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_diag diag = {{0}};
	sipas_histogram *h;
	char *text;

	ck_assert_err(sipas_metrics_label(m, "source", "east \"1\"\\\n", &diag),
	              SIPAS_OK);
	/* The start time is a gauge like any other: set it to a known
	 * value through its (idempotent) registration. */
	sipas_gauge_set(
	    sipas_metrics_gauge(m, SIPAS_METRIC_START_TIME, NULL, NULL, NULL),
	    1700000000.5);
	sipas_counter_add(
	    sipas_metrics_counter(m, SIPAS_METRIC_RECEIVED, NULL, NULL, NULL),
	    42);
	sipas_counter_add(sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL,
	                                        "status", "accepted"),
	                  40);
	sipas_counter_inc(sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL,
	                                        "status", "duplicate"));
	sipas_counter_inc(sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL,
	                                        "status", "rejected"));
	(void)sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL, "status",
	                            "busy");
	sipas_counter_inc(sipas_metrics_counter(m, SIPAS_METRIC_REJECTED, NULL,
	                                        "code", "out_of_range"));
	sipas_counter_add(sipas_metrics_counter(m, "sipas_test_big_total",
	                                        "Help with a \\ backslash\n"
	                                        "and a newline.",
	                                        NULL, NULL),
	                  UINT64_MAX);
	h = sipas_metrics_histogram(m, SIPAS_METRIC_COMMIT_SECONDS, NULL, NULL,
	                            NULL, NULL, 0);
	/* 2^-10 s, two bounds exactly (a bucket holds v <= le), one past
	 * the last bound; NaN is dropped. */
	sipas_histogram_observe(h, 0.0009765625);
	sipas_histogram_observe(h, 0.25);
	sipas_histogram_observe(h, 0.5);
	sipas_histogram_observe(h, 3);
	sipas_histogram_observe(h, NAN);
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
		sipas_gauge_set(sipas_metrics_gauge(m, "sipas_test_value",
		                                    "Odd values.", "kind",
		                                    odd[i].kind),
		                odd[i].v);
	sipas_histogram_observe(
	    sipas_metrics_histogram(m, "sipas_test_seconds",
	                            "A histogram with a label.", "op", "read",
	                            two, 2),
	    1.5);

	text = format_str(m);
	same_text(text, expected);
	free(text);
	sipas_metrics_free(&m);
	ck_assert_ptr_null(m);
	sipas_metrics_free(&m);
}
END_TEST

/* Registering a series again gives its handle back; NULL handles are
 * allowed everywhere on the hot path. */
START_TEST(test_metrics_handles)
{
	sipas_metrics *m = sipas_metrics_new("sipas-collector");
	sipas_counter *a, *b, *c;
	sipas_gauge *g;
	sipas_histogram *h;

	a = sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL, "status",
	                          "accepted");
	b = sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL, "status",
	                          "busy");
	c = sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL, "status",
	                          "accepted");
	ck_assert_ptr_eq(a, c);
	ck_assert_ptr_ne(a, b);
	sipas_counter_add(a, 5);
	sipas_counter_inc(c);
	ck_assert_uint_eq(sipas_counter_value(a), 6);
	ck_assert_uint_eq(sipas_counter_value(b), 0);

	g = sipas_metrics_gauge(m, SIPAS_METRIC_SPOOL_DEPTH, NULL, NULL, NULL);
	sipas_gauge_set(g, 17);
	ck_assert(sipas_gauge_value(g) == 17);
	h = sipas_metrics_histogram(m, SIPAS_METRIC_COMMIT_SECONDS, NULL, NULL,
	                            NULL, sipas_metrics_commit_buckets,
	                            SIPAS_METRICS_COMMIT_NBUCKETS);
	ck_assert_ptr_eq(h,
	                 sipas_metrics_histogram(m, SIPAS_METRIC_COMMIT_SECONDS,
	                                         NULL, NULL, NULL, NULL, 0));
	sipas_histogram_observe(h, 0.002);
	ck_assert_uint_eq(sipas_histogram_count(h), 1);

	/* sipas_up follows set_up. */
	g = sipas_metrics_gauge(m, SIPAS_METRIC_UP, NULL, NULL, NULL);
	ck_assert(sipas_gauge_value(g) == 1);
	sipas_metrics_set_up(m, false);
	ck_assert(sipas_gauge_value(g) == 0);

	/* NULL: no set, no handles, no effect. */
	ck_assert_ptr_null(sipas_metrics_counter(NULL, SIPAS_METRIC_RECEIVED,
	                                         NULL, NULL, NULL));
	sipas_counter_add(NULL, 1);
	sipas_counter_inc(NULL);
	sipas_gauge_set(NULL, 1);
	sipas_histogram_observe(NULL, 1);
	sipas_metrics_set_up(NULL, true);
	ck_assert_uint_eq(sipas_counter_value(NULL), 0);
	sipas_metrics_free(&m);
}
END_TEST

/* Constant labels come from configuration: refused with a code, not an
 * abort. */
START_TEST(test_metrics_label_errors)
{
	sipas_metrics *m = sipas_metrics_new("sipas-collector");
	char long_value[SIPAS_METRICS_VALUE_MAX + 2];
	sipas_diag diag = {{0}};

	memset(long_value, 'x', sizeof long_value - 1);
	long_value[sizeof long_value - 1] = '\0';
	(void)sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL, "status",
	                            "accepted");
	ck_assert_err(sipas_metrics_label(m, "1source", "a", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_err(sipas_metrics_label(m, "program", "a", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_err(sipas_metrics_label(m, "le", "a", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_err(sipas_metrics_label(m, "__name", "a", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_err(sipas_metrics_label(m, "status", "a", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_msg(strstr(diag.msg, "sipas_responses_total") != NULL, "%s",
	              diag.msg);
	ck_assert_err(sipas_metrics_label(m, "source", "\xC0\xAF", &diag),
	              SIPAS_E_BAD_UTF8);
	ck_assert_err(sipas_metrics_label(m, "source", long_value, &diag),
	              SIPAS_E_TOO_LARGE);
	long_value[SIPAS_METRICS_VALUE_MAX] = '\0';
	ck_assert_err(sipas_metrics_label(m, "source", long_value, &diag),
	              SIPAS_OK);
	ck_assert_err(sipas_metrics_label(m, "source", "b", &diag),
	              SIPAS_E_BAD_VALUE);
	ck_assert_err(sipas_metrics_label(m, "a", "1", &diag), SIPAS_OK);
	ck_assert_err(sipas_metrics_label(m, "b", "2", &diag), SIPAS_OK);
	ck_assert_err(sipas_metrics_label(m, "c", "3", &diag),
	              SIPAS_E_TOO_LARGE);
	sipas_metrics_free(&m);
}
END_TEST

/* Each registration no daemon can mean aborts (a bug, found at start). */
static const double decreasing[] = {2, 1};
static const double one[] = {1}, other[] = {2};

START_TEST(test_metrics_misuse_aborts)
{
	sipas_metrics *m = sipas_metrics_new("p");

	switch (_i) {
	case 0:
		(void)sipas_metrics_counter(m, "bad name", "h", NULL, NULL);
		break;
	case 1: /* a standard family with another label */
		(void)sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES, NULL,
		                            "reason", "x");
		break;
	case 2: /* ... another type */
		(void)sipas_metrics_gauge(m, SIPAS_METRIC_RECEIVED, NULL, NULL,
		                          NULL);
		break;
	case 3: /* ... another help */
		(void)sipas_metrics_counter(m, SIPAS_METRIC_RECEIVED, "mine",
		                            NULL, NULL);
		break;
	case 4: /* no help */
		(void)sipas_metrics_counter(m, "x_total", NULL, NULL, NULL);
		break;
	case 5:
		(void)sipas_metrics_counter(m, "x_total", "h", NULL, NULL);
		(void)sipas_metrics_counter(m, "x_total", "other", NULL, NULL);
		break;
	case 6:
		(void)sipas_metrics_counter(m, "x_total", "h", "le", "1");
		break;
	case 7:
		(void)sipas_metrics_counter(m, "x_total", "h", "program", "p");
		break;
	case 8:
		(void)sipas_metrics_histogram(m, "x_seconds", "h", NULL, NULL,
		                              decreasing, 2);
		break;
	case 9:
		(void)sipas_metrics_counter(m, "x_total", "h", "k", NULL);
		break;
	case 10:
		(void)sipas_metrics_counter(m, "x_total", "h", "k", "\xff");
		break;
	case 11:
		(void)sipas_metrics_histogram(m, "x_seconds", "h", NULL, NULL,
		                              one, 1);
		(void)sipas_metrics_histogram(m, "x_seconds", "h", NULL, NULL,
		                              other, 1);
		break;
	default:
		break;
	}
	sipas_metrics_free(&m);
}
END_TEST
#define NMISUSE 12

/* A stream that fails: the error is returned, not lost in a buffer. */
START_TEST(test_metrics_format_write_error)
{
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	FILE *f = fopen("/dev/full", "w");

	ck_assert_ptr_nonnull(f);
	setvbuf(f, NULL, _IONBF, 0);
	ck_assert_err(sipas_metrics_format(m, f), SIPAS_E_IO);
	fclose(f);
	sipas_metrics_free(&m);
}
END_TEST

/* ---- the file ---- */

START_TEST(test_metrics_write_file)
{
	char *dir = tu_mkdtemp(), path[4200], *text, *want;
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_diag diag = {{0}};
	size_t len;
	FILE *f;
	struct stat sb;
	mode_t old;

	snprintf(path, sizeof path, "%s/sipas-worker.prom", dir);
	sipas_counter_add(
	    sipas_metrics_counter(m, SIPAS_METRIC_RECEIVED, NULL, NULL, NULL),
	    7);
	/* The units run the daemons with UMask=0077; node_exporter, another
	 * user, must still read the file. */
	old = umask(077);
	ck_assert_msg(sipas_metrics_write_file(m, path, &diag) == SIPAS_OK,
	              "%s", diag.msg);
	umask(old);
	ck_assert_int_eq(stat(path, &sb), 0);
	ck_assert_uint_eq(sb.st_mode & 0777, 0644);
	/* The file holds exactly what format gives; nothing else is left
	 * in the folder (no temporary file). */
	want = format_str(m);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	text = calloc(1, strlen(want) + 2);
	len = fread(text, 1, strlen(want) + 1, f);
	fclose(f);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert_str_eq(text, want);
	ck_assert_int_eq(count_entries(dir), 1);
	free(text);
	free(want);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* A folder that does not exist: SIPAS_E_IO naming the file and the
 * reason; nothing is created. */
START_TEST(test_metrics_write_missing_folder)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_diag diag = {{0}};

	snprintf(path, sizeof path, "%s/no-such-folder/m.prom", dir);
	ck_assert_err(sipas_metrics_write_file(m, path, &diag), SIPAS_E_IO);
	ck_assert_msg(strstr(diag.msg, path) != NULL &&
	                  strstr(diag.msg, "No such file or directory") != NULL,
	              "%s", diag.msg);
	ck_assert_int_eq(count_entries(dir), 0);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The rename fails (path is a folder): the error says so and the
 * temporary file does not stay behind. */
START_TEST(test_metrics_write_rename_fails)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_diag diag = {{0}};

	snprintf(path, sizeof path, "%s/m.prom", dir);
	ck_assert_int_eq(mkdir(path, 0755), 0);
	ck_assert_err(sipas_metrics_write_file(m, path, &diag), SIPAS_E_IO);
	ck_assert_msg(strstr(diag.msg, "rename") != NULL, "%s", diag.msg);
	ck_assert_int_eq(count_entries(dir), 1);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/*
 * While one process rewrites the file as fast as it can, another reads
 * it: every read must find a whole file (sipas_status_load refuses one cut
 * short), with a counter that never goes back. The file is made bigger
 * than a stdio buffer so that a non-atomic writer would be caught
 * between its writes.
 */
#define WRITES 500
START_TEST(test_metrics_write_is_atomic)
{
	char *dir = tu_mkdtemp(), path[4200], why[SIPAS_DIAG_MAX + 64] = "";
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_counter *c;
	sipas_status_file st;
	double last = 0;
	int reads = 0, changes = 0, status = 0;
	bool seen = false;
	pid_t pid;

	snprintf(path, sizeof path, "%s/m.prom", dir);
	c = sipas_metrics_counter(m, SIPAS_METRIC_RECEIVED, NULL, NULL, NULL);
	for (int i = 0; i < 150; i++) {
		char v[16];

		snprintf(v, sizeof v, "%03d", i);
		(void)sipas_metrics_counter(m, "sipas_test_padding_total",
		                            "Padding.", "i", v);
	}
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		for (int i = 1; i <= WRITES; i++) {
			sipas_diag d = {{0}};

			sipas_counter_inc(c);
			if (sipas_metrics_write_file(m, path, &d) != SIPAS_OK)
				_exit(2);
		}
		_exit(0);
	}
	for (;;) {
		bool done = waitpid(pid, &status, WNOHANG) == pid;
		sipas_diag d = {{0}};
		sipas_err rv = sipas_status_load(path, &st, &d);

		if (rv == SIPAS_E_IO && !seen &&
		    strstr(d.msg, "No such file") != NULL) {
			/* Not written yet. */
		} else if (rv != SIPAS_OK) {
			snprintf(why, sizeof why, "read %d: %s", reads, d.msg);
			break;
		} else if (st.received < last) {
			snprintf(why, sizeof why, "read %d: %g after %g", reads,
			         st.received, last);
			break;
		} else {
			seen = true;
			changes += st.received != last;
			last = st.received;
			reads++;
		}
		if (done)
			break;
	}
	if (why[0] != '\0') {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		ck_abort_msg("%s", why);
	}
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	              "writer failed");
	ck_assert_msg(last == WRITES, "last read %g", last);
	/* The reader really ran alongside the writer. */
	ck_assert_msg(changes >= 3, "%d reads, %d changes", reads, changes);
	ck_assert_int_eq(count_entries(dir), 1);
	sipas_metrics_free(&m);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* maybe_write writes once per interval, counting failed attempts. */
START_TEST(test_metrics_maybe_write_rate)
{
	char *dir = tu_mkdtemp(), path[4200], bad[4200];
	sipas_metrics *m = sipas_metrics_new("sipas-worker");
	sipas_metrics *m2 = sipas_metrics_new("sipas-worker");
	sipas_diag diag = {{0}};

	snprintf(path, sizeof path, "%s/m.prom", dir);
	snprintf(bad, sizeof bad, "%s/missing/m.prom", dir);
	/* Not configured: nothing, never an error. */
	ck_assert_err(sipas_metrics_maybe_write(m, NULL, 0, 5000, &diag),
	              SIPAS_OK);
	ck_assert_err(sipas_metrics_maybe_write(m, "", 0, 5000, &diag),
	              SIPAS_OK);
	ck_assert_int_eq(sipas_metrics_due_in_ms(m, 1000, 5000), 0);

	/* The first call writes. */
	ck_assert_err(sipas_metrics_maybe_write(m, path, 1000, 5000, &diag),
	              SIPAS_OK);
	ck_assert(exists(path));
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(sipas_metrics_due_in_ms(m, 1000, 5000), 5000);
	ck_assert_int_eq(sipas_metrics_due_in_ms(m, 5999, 5000), 1);
	ck_assert_err(sipas_metrics_maybe_write(m, path, 5999, 5000, &diag),
	              SIPAS_OK);
	ck_assert(!exists(path));
	ck_assert_int_eq(sipas_metrics_due_in_ms(m, 6000, 5000), 0);
	ck_assert_err(sipas_metrics_maybe_write(m, path, 6000, 5000, &diag),
	              SIPAS_OK);
	ck_assert(exists(path));

	/* A failing path is tried once per interval, not once per call. */
	ck_assert_err(sipas_metrics_maybe_write(m2, bad, 0, 5000, &diag),
	              SIPAS_E_IO);
	ck_assert_err(sipas_metrics_maybe_write(m2, bad, 1, 5000, &diag),
	              SIPAS_OK);
	ck_assert_err(sipas_metrics_maybe_write(m2, bad, 4999, 5000, &diag),
	              SIPAS_OK);
	ck_assert_err(sipas_metrics_maybe_write(m2, bad, 5000, 5000, &diag),
	              SIPAS_E_IO);
	sipas_metrics_free(&m);
	sipas_metrics_free(&m2);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

/* The catalogue: every standard family findable, names valid. */
START_TEST(test_metrics_catalogue)
{
	for (int i = 0; i < SIPAS_METRIC_NDEFS; i++) {
		const sipas_metric_def *d = &sipas_metric_defs[i];

		ck_assert_ptr_nonnull(d->name);
		ck_assert_ptr_nonnull(d->help);
		ck_assert_int_eq(
		    sipas_metric_def_find(d->name, strlen(d->name)), i);
	}
	ck_assert_int_eq(sipas_metric_def_find("sipas_up_", 9), -1);
	ck_assert_int_eq(sipas_metric_def_find("sipas_u", 7), -1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_metrics_format_exact);
	tcase_add_test(tc, test_metrics_handles);
	tcase_add_test(tc, test_metrics_label_errors);
	tcase_add_loop_test_raise_signal(tc, test_metrics_misuse_aborts,
	                                 SIGABRT, 0, NMISUSE);
	tcase_add_test(tc, test_metrics_format_write_error);
	tcase_add_test(tc, test_metrics_write_file);
	tcase_add_test(tc, test_metrics_write_missing_folder);
	tcase_add_test(tc, test_metrics_write_rename_fails);
	tcase_add_test(tc, test_metrics_write_is_atomic);
	tcase_add_test(tc, test_metrics_maybe_write_rate);
	tcase_add_test(tc, test_metrics_catalogue);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
