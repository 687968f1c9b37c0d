/*
 * varint.h - the varints of counter records (LEB128, zigzag for signed),
 * shared by the record codec (counts.c) and sipas-admin verify (verify.c),
 * which walks records cell by cell. Private to store/.
 */
#ifndef SIPAS_STORE_VARINT_H
#define SIPAS_STORE_VARINT_H

#include <stdbool.h>
#include <stdint.h>

#include "sipas_buf.h"
#include "sipas_err.h"

static inline sipas_err varint_put_u(sipas_buf *b, uint64_t v)
{
	unsigned char tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (unsigned char)(v & 0x7F);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	return sipas_buf_append(b, tmp, n);
}

static inline sipas_err varint_put_z(sipas_buf *b, int64_t v)
{
	return varint_put_u(b, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

/* Reads from p up to end; bad is set (and 0 returned) on a truncated or
 * over-long varint, and stays set. */
struct varint_reader {
	const unsigned char *p, *end;
	bool bad;
};

static inline uint64_t varint_get_u(struct varint_reader *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 64; shift += 7) {
		unsigned char byte;

		if (r->p >= r->end) {
			r->bad = true;
			return 0;
		}
		byte = *r->p++;
		/* The tenth byte may only hold the top bit of 64. */
		if (shift == 63 && byte > 1) {
			r->bad = true;
			return 0;
		}
		v |= (uint64_t)(byte & 0x7F) << shift;
		if (!(byte & 0x80))
			return v;
	}
	r->bad = true;
	return 0;
}

static inline int64_t varint_get_z(struct varint_reader *r)
{
	uint64_t u = varint_get_u(r);

	return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

#endif
