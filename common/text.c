/*
 * text.c - UTF-8 and id checks (see sipas_text.h).
 */
#include "sipas_text.h"

#include <stdint.h>
#include <string.h>

#include "sipas_oom.h"

/*
 * Decode one code point at s[0..len). Returns its byte length, or 0 when
 * the bytes are not strict UTF-8 (overlong, surrogate, > U+10FFFF,
 * truncated, stray continuation byte).
 */
static size_t decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	uint32_t c = s[0];
	size_t n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xC2 && c <= 0xDF) {
		n = 2;
		c &= 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		n = 3;
		c &= 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		n = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	if (len < n)
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3F);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) || c > 0x10FFFF ||
	    (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return n;
}

size_t sipas_utf8_char(const char *s, size_t len)
{
	uint32_t cp;

	return decode((const unsigned char *)s, len, &cp);
}

bool sipas_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		/* Fast path for ASCII, the bulk of ids and codes. */
		if (p[i] >= 0x01 && p[i] < 0x80) {
			i++;
			continue;
		}
		if (p[i] == 0)
			return false;
		n = decode(p + i, len - i, &cp);
		if (n == 0)
			return false;
		i += n;
	}
	return true;
}

bool sipas_id_valid(const char *s, size_t len, size_t max)
{
	if (len < 1 || len > max)
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
		    c == '-')
			continue;
		return false;
	}
	return true;
}

/* Columns of one code point: combining marks none, East Asian wide two. */
static size_t columns(uint32_t c)
{
	if ((c >= 0x0300 && c <= 0x036F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
	    (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x20D0 && c <= 0x20FF) ||
	    (c >= 0xFE20 && c <= 0xFE2F) || c == 0x200B || c == 0x200D)
		return 0;
	if ((c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0xA4CF) ||
	    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
	    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
	    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
	    (c >= 0x20000 && c <= 0x3FFFD))
		return 2;
	return 1;
}

size_t sipas_utf8_width(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, w = 0;

	while (i < len) {
		uint32_t cp;
		size_t n = decode(p + i, len - i, &cp);

		if (n == 0) {
			w++;
			i++;
			continue;
		}
		w += columns(cp);
		i += n;
	}
	return w;
}

char *sipas_utf8_fit(const char *s, size_t maxw)
{
	size_t len = strlen(s), used = 0, w = 0, i = 0;
	char *out;

	if (sipas_utf8_width(s, len) <= maxw)
		return sipas_xstrndup(s, len);
	/* Whole characters while they and the ellipsis still fit. */
	while (i < len) {
		size_t j = i + 1, cw;

		while (j < len && ((unsigned char)s[j] & 0xC0) == 0x80)
			j++;
		cw = sipas_utf8_width(s + i, j - i);
		if (w + cw + 1 > maxw)
			break;
		w += cw;
		i = j;
		used = j;
	}
	out = sipas_xmalloc(used + sizeof "\xe2\x80\xa6");
	memcpy(out, s, used);
	memcpy(out + used, "\xe2\x80\xa6", sizeof "\xe2\x80\xa6");
	return out;
}

size_t sipas_utf8_boundary(const char *s, size_t len, size_t max)
{
	size_t n = max;

	if (len <= max)
		return len;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

void sipas_utf8_clip(char *s)
{
	size_t len = strlen(s), i = len, need;
	unsigned char c;

	while (i > 0 && len - i < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80)
		i--;
	if (i == 0)
		return;
	c = (unsigned char)s[i - 1];
	need = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
	if (len - (i - 1) < need)
		s[i - 1] = '\0';
}
