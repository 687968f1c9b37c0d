/*
 * sipas_status.h - `sipas-admin status`: read the metrics files the
 * daemons write (common/sipas_metrics.h) and summarise each for a person.
 *
 * Only files: no store, no socket. The reader accepts the Prometheus text
 * format as a whole (comments, timestamps, metrics it does not know) but
 * checks strictly what it uses: every line well formed, the standard
 * families with their own type and label, no series twice, histogram
 * bounds above 0 (durations), counts cumulative, +Inf last and equal to
 * _count, one program per file, the last line ended (a file cut short is
 * refused, not half read).
 */
#ifndef SIPAS_STATUS_H
#define SIPAS_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sipas_err.h"
#include "sipas_metrics.h"

#define SIPAS_STATUS_MAX_FILE (1u << 20) /* bytes of one metrics file */
#define SIPAS_STATUS_MAX_LINE 4096       /* bytes of one line */
#define SIPAS_STATUS_MAX_CODES 32        /* rejection codes in one file */
#define SIPAS_STATUS_LABELS_MAX 400      /* the "k=v, ..." summary */

/* A histogram as read: cumulative counts per upper bound, +Inf last. */
typedef struct sipas_status_hist {
	size_t nbuckets; /* 0 when absent; else the +Inf bucket included */
	double le[SIPAS_METRICS_MAX_BUCKETS + 1];
	double cum[SIPAS_METRICS_MAX_BUCKETS + 1];
	double sum, count;
} sipas_status_hist;

/* What one file says. Numbers are those of the file (Prometheus values
 * are doubles); a family absent from the file has its bit clear in
 * `present` (bit SIPAS_MD_x) and reads 0. Plain data. */
typedef struct sipas_status_file {
	char program[SIPAS_METRICS_VALUE_MAX + 1];
	/* The other constant labels, e.g. "source=east" (may be ""). */
	char labels[SIPAS_STATUS_LABELS_MAX];
	int64_t mtime_s; /* modification time; -1 when not from a file */
	uint32_t present;
	double up, start_time, received, quarantined, spool_depth, map_used,
	    map_size, handshake_failures;
	/* sipas_responses_total by status: accepted, duplicate, rejected,
	 * busy (the order of sipas_status); has_status bit i when seen. */
	double responses[4];
	unsigned has_status;
	/* sipas_rejected_total by code, in file order. */
	struct {
		char code[SIPAS_METRICS_VALUE_MAX + 1];
		double n;
	} rejected[SIPAS_STATUS_MAX_CODES];
	size_t nrejected;
	sipas_status_hist commit;
} sipas_status_file;

/*
 * Parse text[0..len) (the contents of `name`, used in messages) into *st.
 * SIPAS_E_MALFORMED with diag "name:line: why" (or "name: why" for what
 * concerns the whole file, e.g. no sipas_up sample); SIPAS_E_TOO_LARGE
 * over SIPAS_STATUS_MAX_FILE bytes. No allocation.
 */
SIPAS_MUST_CHECK sipas_err sipas_status_parse(const char *name,
                                              const char *text, size_t len,
                                              sipas_status_file *st,
                                              sipas_diag *diag);

/* Read and parse the file `path`; st->mtime_s gets its modification time.
 * SIPAS_E_IO (diag "path: errno text") when it cannot be read, else as
 * sipas_status_parse. */
SIPAS_MUST_CHECK sipas_err sipas_status_load(const char *path,
                                             sipas_status_file *st,
                                             sipas_diag *diag);

/*
 * Estimate quantile q (0..1) of a histogram as Prometheus's
 * histogram_quantile() does: linear within the bucket holding the rank,
 * the first bucket starting at 0. False when it holds no observation.
 * *above is set when the rank falls in the +Inf bucket; *v is then the
 * largest finite bound (the estimate is "more than *v").
 */
bool sipas_status_quantile(const sipas_status_hist *h, double q, double *v,
                           bool *above);

/*
 * True when the file is older than stale_after_s seconds at now_s (wall
 * clock, seconds since the epoch); never when stale_after_s <= 0 or the
 * time of the file is unknown.
 */
bool sipas_status_stale(const sipas_status_file *st, int64_t now_s,
                        int64_t stale_after_s);

/* The human summary of one parsed file, a block of lines ending with an
 * empty line. `path` names it in the first line. */
void sipas_status_format(FILE *out, const char *path,
                         const sipas_status_file *st, int64_t now_s,
                         int64_t stale_after_s);

/*
 * For each of files[0..n): load it and print its summary to out, or its
 * one-line error (diag, which names the file) to err. Returns the number
 * of files that need a look: unreadable, malformed, stale, or written by
 * a daemon as it stopped (sipas_up 0). sipas-admin status exits 1 when
 * it is not 0.
 */
int sipas_status_print(FILE *out, FILE *err, const char *const *files, size_t n,
                       int64_t now_s, int64_t stale_after_s);

#endif
