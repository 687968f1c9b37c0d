/*
 * fuzz_status.c - libFuzzer target for the reader of the daemons' metrics
 * files (store/status.c, `sipas-admin status`). The input is the file.
 * Either it is refused with SIPAS_E_MALFORMED / SIPAS_E_TOO_LARGE and one
 * printable line naming the file; or what was read is consistent: one
 * program, sipas_up 0 or 1, every value finite and not negative, a
 * histogram with increasing bounds above 0 ending at +Inf, cumulative counts
 * and _count equal to its +Inf bucket, quantiles within its bounds; and the
 * summary printed from it is printable text. Nothing leaks either way.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_status -max_len=8192 tests/fuzz/corpus/status
 */
#define _GNU_SOURCE /* open_memstream */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_status.h"
#include "sipas_text.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool sane(double v)
{
	return isfinite(v) && v >= 0;
}

static void check_hist(const sipas_status_hist *h, bool present)
{
	double v;
	bool above;

	if (!present) {
		CHECK(h->nbuckets == 0);
		return;
	}
	CHECK(h->nbuckets >= 1 && h->nbuckets <= SIPAS_METRICS_MAX_BUCKETS + 1);
	CHECK(isinf(h->le[h->nbuckets - 1]) && h->le[h->nbuckets - 1] > 0);
	for (size_t i = 0; i < h->nbuckets; i++) {
		CHECK(h->le[i] > 0);
		CHECK(sane(h->cum[i]));
		CHECK(i == 0 || h->le[i] > h->le[i - 1]);
		CHECK(i == 0 || h->cum[i] >= h->cum[i - 1]);
	}
	CHECK(h->count == h->cum[h->nbuckets - 1]);
	CHECK(sane(h->sum));
	for (int k = 0; k <= 100; k += 25) {
		if (!sipas_status_quantile(h, k / 100.0, &v, &above)) {
			CHECK(h->count == 0);
			continue;
		}
		CHECK(!isnan(v));
		if (above)
			CHECK(h->nbuckets == 1 || v == h->le[h->nbuckets - 2]);
		else
			CHECK(v <= h->le[h->nbuckets - 1]);
		/* Durations: bounds above 0, estimates not below. */
		CHECK(v >= 0);
	}
}

static void check_file(const sipas_status_file *st)
{
	static const unsigned scalars[] = {
	    SIPAS_MD_START_TIME,  SIPAS_MD_RECEIVED, SIPAS_MD_QUARANTINED,
	    SIPAS_MD_SPOOL_DEPTH, SIPAS_MD_MAP_USED, SIPAS_MD_MAP_SIZE,
	    SIPAS_MD_HANDSHAKE};
	const double values[] = {st->start_time,        st->received,
	                         st->quarantined,       st->spool_depth,
	                         st->map_used,          st->map_size,
	                         st->handshake_failures};
	size_t n = strlen(st->program);

	CHECK(n >= 1 && n <= SIPAS_METRICS_VALUE_MAX);
	CHECK(sipas_utf8_valid(st->program, n));
	CHECK(strlen(st->labels) < sizeof st->labels);
	CHECK(sipas_utf8_valid(st->labels, strlen(st->labels)));
	CHECK(st->present & (1u << SIPAS_MD_UP));
	CHECK(st->present < (1u << SIPAS_METRIC_NDEFS));
	CHECK(st->up == 0 || st->up == 1);
	CHECK(st->mtime_s == -1);
	for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
		CHECK(sane(values[i]));
		if (!(st->present & (1u << scalars[i])))
			CHECK(values[i] == 0);
	}
	CHECK(st->has_status < 16);
	CHECK(((st->present >> SIPAS_MD_RESPONSES) & 1) ==
	      (st->has_status != 0));
	for (int k = 0; k < 4; k++)
		CHECK(sane(st->responses[k]) &&
		      ((st->has_status >> k & 1) || st->responses[k] == 0));
	CHECK(st->nrejected <= SIPAS_STATUS_MAX_CODES);
	CHECK(((st->present >> SIPAS_MD_REJECTED) & 1) == (st->nrejected > 0));
	for (size_t i = 0; i < st->nrejected; i++) {
		CHECK(sane(st->rejected[i].n));
		CHECK(strlen(st->rejected[i].code) >= 1);
		CHECK(strspn(st->rejected[i].code,
		             "abcdefghijklmnopqrstuvwxyz0123456789_") ==
		      strlen(st->rejected[i].code));
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(st->rejected[i].code,
			             st->rejected[j].code) != 0);
	}
	check_hist(&st->commit, st->present & (1u << SIPAS_MD_COMMIT));
}

/* The summary is for a terminal: printable text, whatever the file. */
static void check_summary(const sipas_status_file *st, int64_t now_s)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	CHECK(f != NULL);
	sipas_status_format(f, "fuzz.prom", st, now_s, 30);
	CHECK(fclose(f) == 0);
	CHECK(len > 0 && out[len - 1] == '\n');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)out[i];

		CHECK(c == '\n' || (c >= 0x20 && c != 0x7f));
		CHECK(!(c == 0xC2 && i + 1 < len &&
		        (unsigned char)out[i + 1] <= 0x9F &&
		        (unsigned char)out[i + 1] >= 0x80));
	}
	CHECK(sipas_utf8_valid(out, len));
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char name[] = "fuzz.prom";
	sipas_status_file st;
	sipas_diag diag = {{0}};
	sipas_err rv;

	rv = sipas_status_parse(name, (const char *)data, size, &st, &diag);
	if (rv == SIPAS_OK) {
		check_file(&st);
		/* A time of the file makes the age and STALE lines run. */
		st.mtime_s = 1700000000;
		check_summary(&st, size & 1 ? 1700000100 : 1700000001);
	} else {
		CHECK(rv == SIPAS_E_MALFORMED || rv == SIPAS_E_TOO_LARGE);
		CHECK(strncmp(diag.msg, name, sizeof name - 1) == 0);
		CHECK(diag.msg[sizeof name - 1] == ':');
		CHECK(strchr(diag.msg, '\n') == NULL);
		CHECK(strlen(diag.msg) > sizeof name + 1);
	}
	return 0;
}
