/*
 * time.c - dates and offsets without libc time zones (see sipas_time.h).
 */
#include "sipas_time.h"

#include <stdbool.h>
#include <stdio.h>

/* Howard Hinnant's days_from_civil: exact for the proleptic Gregorian
 * calendar, no tables, no time zone state. */
int64_t sipas_time_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	*y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
	*m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	*y += *m <= 2;
}

/* n decimal digits at s -> *v. */
static bool digits(const char *s, size_t n, int64_t *v)
{
	int64_t x = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		x = x * 10 + (s[i] - '0');
	}
	*v = x;
	return true;
}

static unsigned month_days(int64_t y, unsigned m)
{
	static const unsigned days[] = {31, 28, 31, 30, 31, 30,
					31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : days[m - 1];
}

sipas_err sipas_time_parse_offset(const char *s, size_t len, int32_t *seconds)
{
	int64_t hh, mm, total;

	if (len != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' ||
	    !digits(s + 1, 2, &hh) || !digits(s + 4, 2, &mm) || mm > 59)
		return SIPAS_E_BAD_VALUE;
	total = hh * 3600 + mm * 60;
	if (s[0] == '-')
		total = -total;
	if (total < -12 * 3600 || total > 14 * 3600)
		return SIPAS_E_BAD_VALUE;
	*seconds = (int32_t)total;
	return SIPAS_OK;
}

sipas_err sipas_time_parse_date(const char *s, size_t len, int64_t *days)
{
	int64_t y, m, d;

	if (len != 10 || s[4] != '-' || s[7] != '-' || !digits(s, 4, &y) ||
	    !digits(s + 5, 2, &m) || !digits(s + 8, 2, &d))
		return SIPAS_E_BAD_VALUE;
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > month_days(y, (unsigned)m))
		return SIPAS_E_BAD_VALUE;
	*days = sipas_time_days_from_civil(y, (unsigned)m, (unsigned)d);
	return SIPAS_OK;
}

sipas_err sipas_time_parse_iso8601(const char *s, size_t len,
				   int32_t default_offset, int64_t *unix_seconds)
{
	int64_t days, hh = 0, mi = 0, ss = 0;
	int32_t offset = default_offset;
	size_t i = 10;

	if (len < 10 || sipas_time_parse_date(s, 10, &days) != SIPAS_OK)
		return SIPAS_E_BAD_VALUE;
	if (i < len && (s[i] == 'T' || s[i] == ' ')) {
		if (len - i < 6 || !digits(s + i + 1, 2, &hh) || s[i + 3] != ':' ||
		    !digits(s + i + 4, 2, &mi) || hh > 23 || mi > 59)
			return SIPAS_E_BAD_VALUE;
		i += 6;
		if (i < len && s[i] == ':') {
			if (len - i < 3 || !digits(s + i + 1, 2, &ss) || ss > 59)
				return SIPAS_E_BAD_VALUE;
			i += 3;
			if (i < len && (s[i] == '.' || s[i] == ',')) {
				size_t start = ++i;

				while (i < len && s[i] >= '0' && s[i] <= '9')
					i++;
				if (i == start)
					return SIPAS_E_BAD_VALUE;
			}
		}
		if (i < len && s[i] == 'Z') {
			offset = 0;
			i++;
		} else if (i < len) {
			if (sipas_time_parse_offset(s + i, len - i, &offset) !=
			    SIPAS_OK)
				return SIPAS_E_BAD_VALUE;
			i = len;
		}
	}
	if (i != len)
		return SIPAS_E_BAD_VALUE;
	*unix_seconds = days * 86400 + hh * 3600 + mi * 60 + ss - offset;
	return SIPAS_OK;
}

void sipas_time_format_utc(int64_t t, char out[21])
{
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t y;
	unsigned rem = (unsigned)(t - days * 86400), m, d, year;

	civil_from_days(days, &y, &m, &d);
	/* Clamp so the text always has the fixed 20-character shape. */
	year = y < 0 ? 0 : y > 9999 ? 9999 : (unsigned)y;
	snprintf(out, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", year % 10000u,
		 m % 100u, d % 100u, rem / 3600u % 100u, rem / 60u % 60u,
		 rem % 60u);
}
