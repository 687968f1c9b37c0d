/*
 * sipas_metrics.h - a daemon's counters, gauges and histograms, exposed as
 * a Prometheus text-format file (node_exporter's textfile collector) and
 * read back by `sipas-admin status` (store/sipas_status.h).
 *
 * Made for one single-threaded main loop:
 *
 *   setup    m = sipas_metrics_new("sipas-worker");
 *            accepted = sipas_metrics_counter(m, SIPAS_METRIC_RESPONSES,
 *                                             NULL, "status", "accepted");
 *            commit = sipas_metrics_histogram(m, SIPAS_METRIC_COMMIT_SECONDS,
 *                                             NULL, NULL, NULL, NULL, 0);
 *   hot path sipas_counter_add(accepted, n);          (an add, nothing else)
 *            sipas_histogram_observe(commit, seconds);
 *   loop     sipas_metrics_maybe_write(m, path, sipas_now_ms(), 5000, &diag);
 *   stop     sipas_metrics_set_up(m, false); sipas_metrics_write_file(...);
 *            sipas_metrics_free(&m);
 *
 * Registration allocates and returns a handle that stays valid until
 * sipas_metrics_free(); updates through a handle are O(1) (a histogram
 * scans its dozen bounds), allocate nothing and take no lock: nothing here
 * is thread-safe. Every update function accepts a NULL handle and does
 * nothing, so a daemon may keep NULL handles for what it does not track.
 *
 * node_exporter merges the files of every daemon on the host into one
 * scrape and refuses series that repeat, or a family whose HELP text
 * differs from one file to the next. Hence every series carries the
 * constant label program="<program>" (plus those of sipas_metrics_label(),
 * e.g. the collector's source), and the standard families below have their
 * type, label and HELP text fixed here, for every program alike.
 *
 * Misuse at registration (a bad name, a standard family with another type
 * or label, a family registered again with other help or buckets) is a bug
 * in the daemon, not a runtime condition: it is reported on stderr and
 * aborts. Out of memory aborts (sipas_oom.h).
 */
#ifndef SIPAS_METRICS_H
#define SIPAS_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sipas_err.h"
#include "sipas_protocol.h"

/* Ceilings (style.md, "Hard ceilings"). */
#define SIPAS_METRICS_NAME_MAX 100    /* bytes of a family or label name */
#define SIPAS_METRICS_VALUE_MAX 128   /* bytes of a label value */
#define SIPAS_METRICS_HELP_MAX 300    /* bytes of a HELP text */
#define SIPAS_METRICS_MAX_BUCKETS 24  /* finite bounds of a histogram */
#define SIPAS_METRICS_MAX_CONST 4     /* constant labels, program included */
#define SIPAS_METRICS_MAX_SERIES 1024 /* series of one sipas_metrics */

typedef enum sipas_metric_type {
	SIPAS_METRIC_COUNTER = 0,
	SIPAS_METRIC_GAUGE = 1,
	SIPAS_METRIC_HISTOGRAM = 2
} sipas_metric_type;

/* One standard family: what every program that exports it must use. */
typedef struct sipas_metric_def {
	const char *name;
	sipas_metric_type type;
	const char *label; /* the one label key of its series, or NULL */
	const char *help;
} sipas_metric_def;

/* The standard families, indices into sipas_metric_defs[]. */
enum {
	SIPAS_MD_UP,          /* sipas_up: 1 running, 0 in the last file */
	SIPAS_MD_START_TIME,  /* sipas_start_time_seconds */
	SIPAS_MD_RECEIVED,    /* sipas_received_total */
	SIPAS_MD_RESPONSES,   /* sipas_responses_total{status} */
	SIPAS_MD_REJECTED,    /* sipas_rejected_total{code} */
	SIPAS_MD_QUARANTINED, /* sipas_quarantined_total */
	SIPAS_MD_SPOOL_DEPTH, /* sipas_spool_depth */
	SIPAS_MD_MAP_USED,    /* sipas_lmdb_map_used_bytes */
	SIPAS_MD_MAP_SIZE,    /* sipas_lmdb_map_size_bytes */
	SIPAS_MD_COMMIT,      /* sipas_commit_seconds (histogram) */
	SIPAS_MD_HANDSHAKE,   /* sipas_handshake_failures_total */
	SIPAS_METRIC_NDEFS
};
extern const sipas_metric_def sipas_metric_defs[SIPAS_METRIC_NDEFS];

#define SIPAS_METRIC_UP "sipas_up"
#define SIPAS_METRIC_START_TIME "sipas_start_time_seconds"
#define SIPAS_METRIC_RECEIVED "sipas_received_total"
#define SIPAS_METRIC_RESPONSES "sipas_responses_total"
#define SIPAS_METRIC_REJECTED "sipas_rejected_total"
#define SIPAS_METRIC_QUARANTINED "sipas_quarantined_total"
#define SIPAS_METRIC_SPOOL_DEPTH "sipas_spool_depth"
#define SIPAS_METRIC_MAP_USED "sipas_lmdb_map_used_bytes"
#define SIPAS_METRIC_MAP_SIZE "sipas_lmdb_map_size_bytes"
#define SIPAS_METRIC_COMMIT_SECONDS "sipas_commit_seconds"
#define SIPAS_METRIC_HANDSHAKE_FAILURES "sipas_handshake_failures_total"

/* Index of a standard family in sipas_metric_defs[], or -1. */
int sipas_metric_def_find(const char *name, size_t len);

/* The upper bounds, in seconds, of sipas_commit_seconds (and of any
 * histogram registered with bounds NULL): a group commit ends in
 * fdatasync, about 0.1-2 ms on an SSD, 5-50 ms on a disk, seconds when the
 * disk is in trouble. */
#define SIPAS_METRICS_COMMIT_NBUCKETS 12
extern const double sipas_metrics_commit_buckets[SIPAS_METRICS_COMMIT_NBUCKETS];

typedef struct sipas_metrics sipas_metrics;
typedef struct sipas_counter sipas_counter;
typedef struct sipas_gauge sipas_gauge;
typedef struct sipas_histogram sipas_histogram;

/*
 * A new, empty set for `program` (e.g. "sipas-worker": the value of the
 * program label of every series). It already holds sipas_up = 1 and
 * sipas_start_time_seconds = now (wall clock). The caller frees it with
 * sipas_metrics_free().
 */
sipas_metrics *sipas_metrics_new(const char *program);

/* Free m and every handle it returned; set *m to NULL. NULL is fine. */
void sipas_metrics_free(sipas_metrics **m);

/*
 * Add the constant label key="value" to every series (after program) of
 * m (not NULL), e.g.
 * source="east" for a collector, so that two instances of one program on a
 * host write distinct series. value may come from configuration: any UTF-8
 * text up to SIPAS_METRICS_VALUE_MAX bytes. SIPAS_E_BAD_VALUE for an
 * invalid key (or one already used), SIPAS_E_BAD_UTF8, SIPAS_E_TOO_LARGE
 * for a value too long or too many labels; diag says which.
 */
SIPAS_MUST_CHECK sipas_err sipas_metrics_label(sipas_metrics *m,
                                               const char *key,
                                               const char *value,
                                               sipas_diag *diag);

/*
 * Register the series of family `name` whose label `key` has `value`
 * (key and value NULL: the family has no label), and return its handle;
 * registering the same series again returns the same handle. help is the
 * HELP text; NULL for a standard family, whose own is used. All strings
 * are copied. Series are written in the order they are registered, so
 * register every label value a daemon can produce at start (e.g. every
 * wire code of sipas_rejected_total): a series that appears late breaks
 * rate() over its first interval.
 */
sipas_counter *sipas_metrics_counter(sipas_metrics *m, const char *name,
                                     const char *help, const char *key,
                                     const char *value);
sipas_gauge *sipas_metrics_gauge(sipas_metrics *m, const char *name,
                                 const char *help, const char *key,
                                 const char *value);
/* bounds: n strictly increasing finite upper bounds (the +Inf bucket is
 * implicit), at most SIPAS_METRICS_MAX_BUCKETS; NULL (and n 0) for
 * sipas_metrics_commit_buckets. */
sipas_histogram *sipas_metrics_histogram(sipas_metrics *m, const char *name,
                                         const char *help, const char *key,
                                         const char *value,
                                         const double *bounds, size_t n);

/* The hot path. */
void sipas_counter_add(sipas_counter *c, uint64_t n);
void sipas_counter_inc(sipas_counter *c);
void sipas_gauge_set(sipas_gauge *g, double v);
/* One observation, e.g. a commit's duration in seconds. NaN is dropped. */
void sipas_histogram_observe(sipas_histogram *h, double v);

/* Current values (0 for a NULL handle), e.g. for a daemon's final log. */
uint64_t sipas_counter_value(const sipas_counter *c);
double sipas_gauge_value(const sipas_gauge *g);
uint64_t sipas_histogram_count(const sipas_histogram *h);

/* sipas_up: set it to 0 before the last write as the daemon stops, so the
 * file it leaves behind reads as stopped rather than as hung. */
void sipas_metrics_set_up(sipas_metrics *m, bool up);

/*
 * Write the Prometheus text exposition format (version 0.0.4) of m to f:
 * per family "# HELP" and "# TYPE" lines, then its series; histograms as
 * cumulative _bucket{le=...} series, _sum and _count. SIPAS_E_IO when f
 * reports a write error.
 */
SIPAS_MUST_CHECK sipas_err sipas_metrics_format(const sipas_metrics *m,
                                                FILE *f);

/*
 * Replace the file `path` with the current values, atomically: write
 * "<path>.tmp.<pid>" in the same folder, then rename it over path, so a
 * reader (node_exporter, sipas-admin status) sees the old file or the new
 * one, never part of one; the textfile collector reads only *.prom names,
 * so it never reads the temporary file. The file is made mode 0644
 * whatever the umask, for node_exporter runs as another user. No fsync:
 * the file is rewritten every few seconds, and a crash may lose one
 * version of it.
 * SIPAS_E_IO (diag: the file and the errno text; the temporary file is
 * removed), SIPAS_E_TOO_LARGE when path is too long.
 */
SIPAS_MUST_CHECK sipas_err sipas_metrics_write_file(const sipas_metrics *m,
                                                    const char *path,
                                                    sipas_diag *diag);

/*
 * For the main loop: sipas_metrics_write_file() when path is set (not NULL
 * nor "") and the last attempt is at least interval_ms old (now_ms is
 * sipas_now_ms()); otherwise nothing, SIPAS_OK. A failed attempt counts
 * as an attempt, so a full disk costs one try (and one log line by the
 * caller) per interval, not one per loop turn.
 */
SIPAS_MUST_CHECK sipas_err sipas_metrics_maybe_write(sipas_metrics *m,
                                                     const char *path,
                                                     int64_t now_ms,
                                                     int64_t interval_ms,
                                                     sipas_diag *diag);

/* Milliseconds until the next maybe_write is due (0 when due now), to
 * bound a poll timeout so an idle daemon still refreshes its file. */
int64_t sipas_metrics_due_in_ms(const sipas_metrics *m, int64_t now_ms,
                                int64_t interval_ms);

/*
 * The series both daemons keep of what they answer: responses received,
 * acks by status, rejections by code, failed handshakes. Registered at
 * once (every status and code at 0, so that none appears late).
 */
typedef struct sipas_metrics_acks {
	sipas_counter *received;
	sipas_counter *status[SIPAS_BUSY + 1];
	sipas_counter *rejected[SIPAS_E_BUSY]; /* by code, 1..BUSY-1 */
	sipas_counter *handshake;
	uint64_t handshake_seen; /* the running total last added */
} sipas_metrics_acks;

void sipas_metrics_acks_register(sipas_metrics *m, sipas_metrics_acks *a);
/* One ack of `status` (a sipas_status) with `code` (a sipas_err). */
void sipas_metrics_acks_count(sipas_metrics_acks *a, int status, int code);
/* Failed handshakes: `total` is the running total (sipas_curve_denied). */
void sipas_metrics_acks_handshakes(sipas_metrics_acks *a, uint64_t total);

/*
 * The metrics file an option names: NULL for NULL, "" or "none"; for
 * `keyword` (the default, e.g. "store"), "<dir>/<file>" written into buf,
 * or NULL when dir is NULL (nowhere to put it); any other value as it is.
 * SIPAS_E_TOO_LARGE when the joined path does not fit in len.
 */
SIPAS_MUST_CHECK sipas_err sipas_metrics_path(const char *opt,
                                              const char *keyword,
                                              const char *dir,
                                              const char *file, char *buf,
                                              size_t len, const char **out);

#endif
