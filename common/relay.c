/*
 * relay.c - the collector <-> worker header (see sipas_relay.h).
 *
 * Layout: version u8, flags u8, token u64 LE, received_ms i64 LE,
 * source length u8, source bytes.
 */
#include "sipas_relay.h"

#include <string.h>

#include "sipas_text.h"

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

size_t sipas_relay_encode(const sipas_relay *h, unsigned char *out)
{
	size_t n = strlen(h->source);

	if (n > SIPAS_SOURCE_MAX)
		n = SIPAS_SOURCE_MAX;
	out[0] = SIPAS_RELAY_VERSION;
	out[1] = h->flags;
	put64(out + 2, h->token);
	put64(out + 10, (uint64_t)h->received_ms);
	out[18] = (unsigned char)n;
	memcpy(out + 19, h->source, n);
	return 19 + n;
}

sipas_err sipas_relay_decode(const void *frame, size_t len, sipas_relay *h)
{
	const unsigned char *p = frame;
	size_t n;

	if (len < 19 || p[0] != SIPAS_RELAY_VERSION)
		return SIPAS_E_MALFORMED;
	n = p[18];
	if (n > SIPAS_SOURCE_MAX || len != 19 + n ||
	    (n > 0 && !sipas_id_valid((const char *)p + 19, n, SIPAS_SOURCE_MAX)))
		return SIPAS_E_MALFORMED;
	h->version = p[0];
	h->flags = p[1];
	h->token = get64(p + 2);
	h->received_ms = (int64_t)get64(p + 10);
	memcpy(h->source, p + 19, n);
	h->source[n] = '\0';
	return SIPAS_OK;
}
