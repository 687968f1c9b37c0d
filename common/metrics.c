/*
 * metrics.c - counters, gauges, histograms and their Prometheus text file
 * (see sipas_metrics.h).
 */
#include "sipas_metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipas_daemon.h"
#include "sipas_oom.h"
#include "sipas_text.h"

const sipas_metric_def sipas_metric_defs[SIPAS_METRIC_NDEFS] = {
    [SIPAS_MD_UP] = {SIPAS_METRIC_UP, SIPAS_METRIC_GAUGE, NULL,
                     "1 while the daemon runs; 0 in the last file it writes "
                     "as it stops."},
    [SIPAS_MD_START_TIME] = {SIPAS_METRIC_START_TIME, SIPAS_METRIC_GAUGE, NULL,
                             "When the daemon started, in seconds since "
                             "the Unix epoch."},
    [SIPAS_MD_RECEIVED] = {SIPAS_METRIC_RECEIVED, SIPAS_METRIC_COUNTER, NULL,
                           "Responses received (each map of an array "
                           "request counts once)."},
    [SIPAS_MD_RESPONSES] = {SIPAS_METRIC_RESPONSES, SIPAS_METRIC_COUNTER,
                            "status",
                            "Responses answered, by ack status (accepted, "
                            "duplicate, rejected, busy)."},
    [SIPAS_MD_REJECTED] = {SIPAS_METRIC_REJECTED, SIPAS_METRIC_COUNTER, "code",
                           "Responses answered rejected, by ack code."},
    [SIPAS_MD_QUARANTINED] = {SIPAS_METRIC_QUARANTINED, SIPAS_METRIC_COUNTER,
                              NULL,
                              "Responses refused by the worker after a "
                              "collector had accepted them, kept in the "
                              "quarantine."},
    [SIPAS_MD_SPOOL_DEPTH] = {SIPAS_METRIC_SPOOL_DEPTH, SIPAS_METRIC_GAUGE,
                              NULL,
                              "Responses kept in the collector's spool "
                              "until a worker acknowledges them."},
    [SIPAS_MD_MAP_USED] = {SIPAS_METRIC_MAP_USED, SIPAS_METRIC_GAUGE, NULL,
                           "Bytes of the LMDB map in use."},
    [SIPAS_MD_MAP_SIZE] = {SIPAS_METRIC_MAP_SIZE, SIPAS_METRIC_GAUGE, NULL,
                           "Size of the LMDB map in bytes."},
    [SIPAS_MD_COMMIT] = {SIPAS_METRIC_COMMIT_SECONDS, SIPAS_METRIC_HISTOGRAM,
                         NULL,
                         "Duration of each group commit to LMDB, "
                         "fdatasync included, in seconds."},
    [SIPAS_MD_HANDSHAKE] = {SIPAS_METRIC_HANDSHAKE_FAILURES,
                            SIPAS_METRIC_COUNTER, NULL,
                            "ZeroMQ connections whose handshake failed."},
};

const double sipas_metrics_commit_buckets[SIPAS_METRICS_COMMIT_NBUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
};

/* What every handle starts with: handles are cast to it when the set is
 * written, so it must stay their first member. */
struct series {
	struct family *fam;
	char *value;         /* the label's value; NULL when it has none */
	struct series *next; /* in the family, in registration order */
};

struct sipas_counter {
	struct series s;
	uint64_t v;
};

struct sipas_gauge {
	struct series s;
	double v;
};

struct sipas_histogram {
	struct series s;
	uint64_t count;
	double sum;
	/* Observations per bucket, not cumulative: an observation touches
	 * one slot; the cumulative counts are summed when the file is
	 * written. The last slot is the +Inf bucket. */
	uint64_t in[SIPAS_METRICS_MAX_BUCKETS + 1];
};

struct family {
	char *name, *help, *key;
	sipas_metric_type type;
	size_t nbounds;
	double bounds[SIPAS_METRICS_MAX_BUCKETS];
	struct series *first, *last;
	struct family *next;
};

struct sipas_metrics {
	struct family *first, *last;
	size_t nseries;
	size_t nconst;
	char *const_key[SIPAS_METRICS_MAX_CONST];
	char *const_value[SIPAS_METRICS_MAX_CONST];
	sipas_gauge *up;
	bool attempted;       /* maybe_write has tried once */
	int64_t last_attempt; /* its monotonic time, ms */
};

/* Registration with arguments no daemon can mean: a bug in its code. */
static void bug(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void bug(const char *fmt, ...)
{
	va_list ap;

	fputs("<2>METRICS-BUG ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int sipas_metric_def_find(const char *name, size_t len)
{
	for (int i = 0; i < SIPAS_METRIC_NDEFS; i++)
		if (strlen(sipas_metric_defs[i].name) == len &&
		    memcmp(sipas_metric_defs[i].name, name, len) == 0)
			return i;
	return -1;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for a family, the same without ':' for a label
 * (the names of the exposition format). */
static bool name_ok(const char *s, bool colon)
{
	size_t len = s != NULL ? strlen(s) : 0;

	if (len == 0 || len > SIPAS_METRICS_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colon && c == ':') ||
		    (i > 0 && c >= '0' && c <= '9'))
			continue;
		return false;
	}
	return true;
}

/* A label key a series may carry: "__" is reserved by Prometheus, "le"
 * is the bucket bound, and a constant label must not repeat. */
static bool key_free(const sipas_metrics *m, const char *key)
{
	if (!name_ok(key, false) || strncmp(key, "__", 2) == 0 ||
	    strcmp(key, "le") == 0)
		return false;
	for (size_t i = 0; i < m->nconst; i++)
		if (strcmp(m->const_key[i], key) == 0)
			return false;
	return true;
}

static bool text_ok(const char *s, size_t max)
{
	size_t len = strlen(s);

	return len <= max && sipas_utf8_valid(s, len);
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? sipas_xstrndup(s, strlen(s)) : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static struct family *find_family(const sipas_metrics *m, const char *name)
{
	for (struct family *f = m->first; f != NULL; f = f->next)
		if (strcmp(f->name, name) == 0)
			return f;
	return NULL;
}

/*
 * Check a registration and return the existing series or a new zeroed
 * one of `size` bytes. Everything that can be wrong here is a constant of
 * the caller's code (the value of sipas_metrics_label() is checked
 * there), so each mistake is a bug().
 */
static struct series *reg(sipas_metrics *m, const char *name, const char *help,
                          sipas_metric_type type, const char *key,
                          const char *value, const double *bounds, size_t n,
                          size_t size)
{
	int std = name != NULL ? sipas_metric_def_find(name, strlen(name)) : -1;
	struct family *f;
	struct series *s;

	if (m == NULL)
		return NULL;
	if (!name_ok(name, true))
		bug("invalid metric name \"%s\"", name ? name : "(null)");
	if ((key == NULL) != (value == NULL))
		bug("%s: a label needs both a key and a value", name);
	if (key != NULL && !key_free(m, key))
		bug("%s: label key \"%s\" is invalid or taken", name, key);
	if (value != NULL && !text_ok(value, SIPAS_METRICS_VALUE_MAX))
		bug("%s: label value is not UTF-8 of at most %d bytes", name,
		    SIPAS_METRICS_VALUE_MAX);
	/* A standard family looks the same from every program, or
	 * node_exporter refuses to merge the files. */
	if (std >= 0) {
		const sipas_metric_def *d = &sipas_metric_defs[std];

		if (d->type != type || !same_str(d->label, key) ||
		    (help != NULL && strcmp(help, d->help) != 0))
			bug("%s: standard family registered with another type, "
			    "label or help",
			    name);
		help = d->help;
	}
	if (help == NULL || !text_ok(help, SIPAS_METRICS_HELP_MAX))
		bug("%s: help text missing, too long or not UTF-8", name);
	if (type == SIPAS_METRIC_HISTOGRAM) {
		if (bounds == NULL) {
			bounds = sipas_metrics_commit_buckets;
			n = SIPAS_METRICS_COMMIT_NBUCKETS;
		}
		if (n == 0 || n > SIPAS_METRICS_MAX_BUCKETS)
			bug("%s: %zu buckets", name, n);
		for (size_t i = 0; i < n; i++)
			if (!isfinite(bounds[i]) ||
			    (i > 0 && !(bounds[i] > bounds[i - 1])))
				bug("%s: bucket bounds must be finite and "
				    "increasing",
				    name);
	} else {
		n = 0;
	}

	f = find_family(m, name);
	if (f != NULL) {
		if (f->type != type || strcmp(f->help, help) != 0 ||
		    !same_str(f->key, key) || f->nbounds != n ||
		    (n > 0 && memcmp(f->bounds, bounds, n * sizeof *bounds)))
			bug("%s: registered again with another type, help, "
			    "label or buckets",
			    name);
		for (s = f->first; s != NULL; s = s->next)
			if (same_str(s->value, value))
				return s;
	} else {
		f = sipas_xcalloc(1, sizeof *f);
		f->name = dup_or_null(name);
		f->help = dup_or_null(help);
		f->key = dup_or_null(key);
		f->type = type;
		f->nbounds = n;
		if (n > 0)
			memcpy(f->bounds, bounds, n * sizeof *bounds);
		if (m->last != NULL)
			m->last->next = f;
		else
			m->first = f;
		m->last = f;
	}
	if (m->nseries >= SIPAS_METRICS_MAX_SERIES)
		bug("%s: more than %d series", name, SIPAS_METRICS_MAX_SERIES);
	s = sipas_xcalloc(1, size);
	s->fam = f;
	s->value = dup_or_null(value);
	if (f->last != NULL)
		f->last->next = s;
	else
		f->first = s;
	f->last = s;
	m->nseries++;
	return s;
}

sipas_counter *sipas_metrics_counter(sipas_metrics *m, const char *name,
                                     const char *help, const char *key,
                                     const char *value)
{
	return (sipas_counter *)reg(m, name, help, SIPAS_METRIC_COUNTER, key,
	                            value, NULL, 0, sizeof(sipas_counter));
}

sipas_gauge *sipas_metrics_gauge(sipas_metrics *m, const char *name,
                                 const char *help, const char *key,
                                 const char *value)
{
	return (sipas_gauge *)reg(m, name, help, SIPAS_METRIC_GAUGE, key, value,
	                          NULL, 0, sizeof(sipas_gauge));
}

sipas_histogram *sipas_metrics_histogram(sipas_metrics *m, const char *name,
                                         const char *help, const char *key,
                                         const char *value,
                                         const double *bounds, size_t n)
{
	return (sipas_histogram *)reg(m, name, help, SIPAS_METRIC_HISTOGRAM,
	                              key, value, bounds, n,
	                              sizeof(sipas_histogram));
}

sipas_metrics *sipas_metrics_new(const char *program)
{
	sipas_metrics *m;

	if (program == NULL || *program == '\0' ||
	    !text_ok(program, SIPAS_METRICS_VALUE_MAX))
		bug("invalid program name for metrics");
	m = sipas_xcalloc(1, sizeof *m);
	m->const_key[0] = dup_or_null("program");
	m->const_value[0] = dup_or_null(program);
	m->nconst = 1;
	/* Every file says whether its daemon runs and since when: the
	 * reader needs both to tell a restart from a counter reset. */
	m->up = sipas_metrics_gauge(m, SIPAS_METRIC_UP, NULL, NULL, NULL);
	sipas_gauge_set(m->up, 1);
	sipas_gauge_set(
	    sipas_metrics_gauge(m, SIPAS_METRIC_START_TIME, NULL, NULL, NULL),
	    (double)sipas_wall_ms() / 1000.0);
	return m;
}

void sipas_metrics_free(sipas_metrics **mp)
{
	sipas_metrics *m;
	struct family *f, *fnext;

	if (mp == NULL || *mp == NULL)
		return;
	m = *mp;
	for (f = m->first; f != NULL; f = fnext) {
		struct series *s, *snext;

		for (s = f->first; s != NULL; s = snext) {
			snext = s->next;
			free(s->value);
			free(s);
		}
		fnext = f->next;
		free(f->name);
		free(f->help);
		free(f->key);
		free(f);
	}
	for (size_t i = 0; i < m->nconst; i++) {
		free(m->const_key[i]);
		free(m->const_value[i]);
	}
	free(m);
	*mp = NULL;
}

sipas_err sipas_metrics_label(sipas_metrics *m, const char *key,
                              const char *value, sipas_diag *diag)
{
	if (!key_free(m, key)) {
		sipas_diag_set(diag,
		               "metrics label key \"%s\" is invalid or "
		               "already used",
		               key ? key : "(null)");
		return SIPAS_E_BAD_VALUE;
	}
	/* The key must not clash with the label of a registered family
	 * either: a series would carry it twice. */
	for (struct family *f = m->first; f != NULL; f = f->next)
		if (f->key != NULL && strcmp(f->key, key) == 0) {
			sipas_diag_set(diag,
			               "metrics label key \"%s\" is the "
			               "label of %s",
			               key, f->name);
			return SIPAS_E_BAD_VALUE;
		}
	if (value == NULL || strlen(value) > SIPAS_METRICS_VALUE_MAX) {
		sipas_diag_set(diag,
		               "metrics label %s: value missing or "
		               "longer than %d bytes",
		               key, SIPAS_METRICS_VALUE_MAX);
		return SIPAS_E_TOO_LARGE;
	}
	if (!sipas_utf8_valid(value, strlen(value))) {
		sipas_diag_set(diag, "metrics label %s: value is not UTF-8",
		               key);
		return SIPAS_E_BAD_UTF8;
	}
	if (m->nconst >= SIPAS_METRICS_MAX_CONST) {
		sipas_diag_set(diag, "more than %d constant metrics labels",
		               SIPAS_METRICS_MAX_CONST);
		return SIPAS_E_TOO_LARGE;
	}
	m->const_key[m->nconst] = dup_or_null(key);
	m->const_value[m->nconst] = dup_or_null(value);
	m->nconst++;
	return SIPAS_OK;
}

/* ---- the hot path ---- */

void sipas_counter_add(sipas_counter *c, uint64_t n)
{
	if (c != NULL)
		c->v += n;
}

void sipas_counter_inc(sipas_counter *c)
{
	if (c != NULL)
		c->v++;
}

void sipas_gauge_set(sipas_gauge *g, double v)
{
	if (g != NULL)
		g->v = v;
}

void sipas_histogram_observe(sipas_histogram *h, double v)
{
	const struct family *f;
	size_t i = 0;

	/* A NaN would turn _sum into NaN for the life of the daemon. */
	if (h == NULL || isnan(v))
		return;
	f = h->s.fam;
	/* Bucket `le` holds v <= le: the first bound not below v. */
	while (i < f->nbounds && v > f->bounds[i])
		i++;
	h->in[i]++;
	h->count++;
	h->sum += v;
}

uint64_t sipas_counter_value(const sipas_counter *c)
{
	return c != NULL ? c->v : 0;
}

double sipas_gauge_value(const sipas_gauge *g)
{
	return g != NULL ? g->v : 0;
}

uint64_t sipas_histogram_count(const sipas_histogram *h)
{
	return h != NULL ? h->count : 0;
}

void sipas_metrics_set_up(sipas_metrics *m, bool up)
{
	if (m != NULL)
		sipas_gauge_set(m->up, up ? 1 : 0);
}

/* ---- the exposition format ---- */

/*
 * A sample value as Prometheus writes it: integers in full (counters,
 * bytes, seconds since the epoch are read by people too), others in the
 * fewest digits that read back as the same double, and +Inf, -Inf, NaN.
 */
static void fmt_num(char *buf, size_t cap, double v)
{
	if (isnan(v)) {
		snprintf(buf, cap, "NaN");
	} else if (isinf(v)) {
		snprintf(buf, cap, "%s", v > 0 ? "+Inf" : "-Inf");
	} else if (v == floor(v) && fabs(v) < 9007199254740992.0) {
		/* 2^53: every integer below it is exact; + 0.0 turns -0
		 * into 0. */
		snprintf(buf, cap, "%.0f", v + 0.0);
	} else {
		for (int p = 1; p <= 17; p++) {
			snprintf(buf, cap, "%.*g", p, v);
			if (strtod(buf, NULL) == v)
				break;
		}
	}
}

/* HELP text escapes \ and newline; label values also the double quote.
 * Runs of plain bytes go out in one fwrite. */
static void put_escaped(FILE *f, const char *s, bool quote)
{
	const char *special = quote ? "\\\n\"" : "\\\n";

	for (;;) {
		size_t n = strcspn(s, special);

		fwrite(s, 1, n, f);
		s += n;
		if (*s == '\0')
			return;
		fputs(*s == '\\' ? "\\\\" : *s == '\n' ? "\\n" : "\\\"", f);
		s++;
	}
}

static void put_label(FILE *f, bool first, const char *key, const char *value)
{
	if (!first)
		fputc(',', f);
	fprintf(f, "%s=\"", key);
	put_escaped(f, value, true);
	fputc('"', f);
}

/* name{const...,key="value"[,le="bound"]} and the separating blank. The
 * program label is always there, so the braces are never empty. */
static void put_series(FILE *f, const sipas_metrics *m, const struct series *s,
                       const char *suffix, const char *le)
{
	fprintf(f, "%s%s{", s->fam->name, suffix);
	for (size_t i = 0; i < m->nconst; i++)
		put_label(f, i == 0, m->const_key[i], m->const_value[i]);
	if (s->fam->key != NULL)
		put_label(f, false, s->fam->key, s->value);
	if (le != NULL)
		put_label(f, false, "le", le);
	fputs("} ", f);
}

static void put_histogram(FILE *f, const sipas_metrics *m,
                          const sipas_histogram *h)
{
	const struct family *fam = h->s.fam;
	uint64_t cum = 0;
	char num[40];

	for (size_t i = 0; i <= fam->nbounds; i++) {
		cum += h->in[i];
		if (i < fam->nbounds)
			fmt_num(num, sizeof num, fam->bounds[i]);
		else
			snprintf(num, sizeof num, "+Inf");
		put_series(f, m, &h->s, "_bucket", num);
		fprintf(f, "%" PRIu64 "\n", cum);
	}
	put_series(f, m, &h->s, "_sum", NULL);
	fmt_num(num, sizeof num, h->sum);
	fprintf(f, "%s\n", num);
	put_series(f, m, &h->s, "_count", NULL);
	fprintf(f, "%" PRIu64 "\n", h->count);
}

sipas_err sipas_metrics_format(const sipas_metrics *m, FILE *f)
{
	static const char *const types[] = {"counter", "gauge", "histogram"};
	char num[40];

	for (const struct family *fam = m->first; fam != NULL;
	     fam = fam->next) {
		fprintf(f, "# HELP %s ", fam->name);
		put_escaped(f, fam->help, false);
		fprintf(f, "\n# TYPE %s %s\n", fam->name, types[fam->type]);
		for (const struct series *s = fam->first; s != NULL;
		     s = s->next) {
			switch (fam->type) {
			case SIPAS_METRIC_COUNTER:
				put_series(f, m, s, "", NULL);
				fprintf(f, "%" PRIu64 "\n",
				        ((const sipas_counter *)s)->v);
				break;
			case SIPAS_METRIC_GAUGE:
				put_series(f, m, s, "", NULL);
				fmt_num(num, sizeof num,
				        ((const sipas_gauge *)s)->v);
				fprintf(f, "%s\n", num);
				break;
			case SIPAS_METRIC_HISTOGRAM:
				put_histogram(f, m, (const sipas_histogram *)s);
				break;
			}
		}
	}
	return ferror(f) ? SIPAS_E_IO : SIPAS_OK;
}

/* ---- the file ---- */

sipas_err sipas_metrics_write_file(const sipas_metrics *m, const char *path,
                                   sipas_diag *diag)
{
	char tmp[PATH_MAX];
	sipas_err rv = SIPAS_OK;
	FILE *f = NULL;
	bool created = false;
	int fd, n;

	/* The temporary file is in path's folder, so that rename() is
	 * atomic (same filesystem); the pid keeps two daemons given one
	 * path by mistake from writing into each other's file. */
	n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
	if (n < 0 || (size_t)n >= sizeof tmp) {
		sipas_diag_set(diag, "metrics file path too long: %.64s...",
		               path);
		return SIPAS_E_TOO_LARGE;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		sipas_diag_set(diag, "cannot create metrics file %s: %s", tmp,
		               strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	created = true;
	/* Readable by node_exporter, another user, whatever the daemon's
	 * umask (the units set UMask=0077): the figures are not secret. */
	if (fchmod(fd, 0644) != 0) {
		sipas_diag_set(diag, "%s: %s", tmp, strerror(errno));
		close(fd);
		rv = SIPAS_E_IO;
		goto out;
	}
	f = fdopen(fd, "w");
	if (f == NULL) {
		sipas_diag_set(diag, "%s: %s", tmp, strerror(errno));
		close(fd);
		rv = SIPAS_E_IO;
		goto out;
	}
	rv = sipas_metrics_format(m, f);
	/* fclose flushes: a full disk shows up here, not before. */
	if (fclose(f) != 0 && rv == SIPAS_OK)
		rv = SIPAS_E_IO;
	if (rv != SIPAS_OK) {
		sipas_diag_set(diag, "cannot write metrics file %s: %s", tmp,
		               strerror(errno));
		goto out;
	}
	if (rename(tmp, path) != 0) {
		sipas_diag_set(diag, "cannot rename %s to %s: %s", tmp, path,
		               strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	created = false;
out:
	if (created)
		unlink(tmp);
	return rv;
}

sipas_err sipas_metrics_maybe_write(sipas_metrics *m, const char *path,
                                    int64_t now_ms, int64_t interval_ms,
                                    sipas_diag *diag)
{
	if (m == NULL || path == NULL || *path == '\0')
		return SIPAS_OK;
	if (sipas_metrics_due_in_ms(m, now_ms, interval_ms) > 0)
		return SIPAS_OK;
	m->attempted = true;
	m->last_attempt = now_ms;
	return sipas_metrics_write_file(m, path, diag);
}

int64_t sipas_metrics_due_in_ms(const sipas_metrics *m, int64_t now_ms,
                                int64_t interval_ms)
{
	int64_t left;

	if (m == NULL || !m->attempted)
		return 0;
	left = m->last_attempt + interval_ms - now_ms;
	return left > 0 ? left : 0;
}

/* ---- the daemons' ack series ---- */

void sipas_metrics_acks_register(sipas_metrics *m, sipas_metrics_acks *a)
{
	memset(a, 0, sizeof *a);
	a->received = sipas_metrics_counter(m, "sipas_received_total", NULL,
	                                    NULL, NULL);
	for (int s = SIPAS_ACCEPTED; s <= SIPAS_BUSY; s++)
		a->status[s] = sipas_metrics_counter(
		    m, "sipas_responses_total", NULL, "status",
		    sipas_status_name((sipas_status)s));
	for (int e = SIPAS_E_MALFORMED; e < SIPAS_E_BUSY; e++)
		a->rejected[e] = sipas_metrics_counter(
		    m, "sipas_rejected_total", NULL, "code",
		    sipas_err_name((sipas_err)e));
	a->handshake = sipas_metrics_counter(
	    m, "sipas_handshake_failures_total", NULL, NULL, NULL);
}

void sipas_metrics_acks_count(sipas_metrics_acks *a, int status, int code)
{
	if (status < SIPAS_ACCEPTED || status > SIPAS_BUSY)
		return;
	sipas_counter_inc(a->status[status]);
	if (status == SIPAS_REJECTED && code > SIPAS_OK && code < SIPAS_E_BUSY)
		sipas_counter_inc(a->rejected[code]);
}

void sipas_metrics_acks_handshakes(sipas_metrics_acks *a, uint64_t total)
{
	if (total > a->handshake_seen) {
		sipas_counter_add(a->handshake, total - a->handshake_seen);
		a->handshake_seen = total;
	}
}

sipas_err sipas_metrics_path(const char *opt, const char *keyword,
                             const char *dir, const char *file, char *buf,
                             size_t len, const char **out)
{
	int n;

	*out = NULL;
	if (opt == NULL || opt[0] == '\0' || strcmp(opt, "none") == 0)
		return SIPAS_OK;
	if (strcmp(opt, keyword) != 0) {
		*out = opt;
		return SIPAS_OK;
	}
	if (dir == NULL)
		return SIPAS_OK;
	n = snprintf(buf, len, "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= len)
		return SIPAS_E_TOO_LARGE;
	*out = buf;
	return SIPAS_OK;
}
