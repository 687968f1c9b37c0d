/*
 * sipas_time.h - calendar arithmetic without the C library's time zone
 * state: campaign windows are local dates at a fixed UTC offset, and
 * sipas-submit reads ISO-8601 dates. Pure functions.
 */
#ifndef SIPAS_TIME_H
#define SIPAS_TIME_H

#include <stddef.h>
#include <stdint.h>
#include "sipas_err.h"

/* "+HH:MM" or "-HH:MM", -12:00..+14:00, minutes 00..59 -> seconds east of
 * UTC. SIPAS_E_BAD_VALUE otherwise. */
SIPAS_MUST_CHECK sipas_err sipas_time_parse_offset(const char *s, size_t len,
						   int32_t *seconds);

/* "YYYY-MM-DD", a real calendar date in 1970..9999 -> days since
 * 1970-01-01. SIPAS_E_BAD_VALUE otherwise. */
SIPAS_MUST_CHECK sipas_err sipas_time_parse_date(const char *s, size_t len,
						 int64_t *days);

/* Days since 1970-01-01 for a proleptic Gregorian date (no range check). */
int64_t sipas_time_days_from_civil(int64_t y, unsigned m, unsigned d);

/* ISO-8601 date or date-time -> unix seconds:
 *   YYYY-MM-DD                      (midnight at default_offset)
 *   YYYY-MM-DD[T ]HH:MM[:SS[.fff]]  (at default_offset)
 *   ... followed by Z or +HH:MM / -HH:MM (its own offset)
 * Fractions are truncated. SIPAS_E_BAD_VALUE otherwise. */
SIPAS_MUST_CHECK sipas_err sipas_time_parse_iso8601(const char *s, size_t len,
						    int32_t default_offset,
						    int64_t *unix_seconds);

/* Format unix seconds as "YYYY-MM-DDTHH:MM:SSZ" into out (>= 21 bytes). */
void sipas_time_format_utc(int64_t unix_seconds, char out[21]);

#endif
