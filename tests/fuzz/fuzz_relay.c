/*
 * fuzz_relay.c - libFuzzer target for the collector <-> worker header. A
 * worker reads it from any peer that reaches its socket, so any bytes must
 * be refused or decoded; what decodes is exactly what sipas_relay_encode
 * writes for it (the layout has one encoding), and a header built from the
 * bytes the other way round reads back the same when its source is valid.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_relay -max_len=128 tests/fuzz/corpus/relay
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_relay.h"
#include "sipas_text.h"

#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The bytes as a header to send: flags, token, time, then the source. */
static void encode_side(const uint8_t *data, size_t size)
{
	unsigned char out[SIPAS_RELAY_MAX + 8];
	sipas_relay h, back;
	size_t n, len;

	if (size < 17)
		return;
	memset(&h, 0, sizeof h);
	h.flags = data[0];
	memcpy(&h.token, data + 1, 8);
	memcpy(&h.received_ms, data + 9, 8);
	n = size - 17 > SIPAS_SOURCE_MAX ? SIPAS_SOURCE_MAX : size - 17;
	memcpy(h.source, data + 17, n);
	h.source[n] = '\0';
	len = sipas_relay_encode(&h, out);
	CHECK(len <= SIPAS_RELAY_MAX);
	n = strlen(h.source);
	if (n > 0 && !sipas_id_valid(h.source, n, SIPAS_SOURCE_MAX)) {
		CHECK(sipas_relay_decode(out, len, &back) == SIPAS_E_MALFORMED);
		return;
	}
	CHECK(sipas_relay_decode(out, len, &back) == SIPAS_OK);
	CHECK(back.version == SIPAS_RELAY_VERSION && back.flags == h.flags);
	CHECK(back.token == h.token && back.received_ms == h.received_ms);
	CHECK(strcmp(back.source, h.source) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[SIPAS_RELAY_MAX];
	sipas_relay h;
	size_t n;

	encode_side(data, size);
	/* Decoded fields are only written on success: poison them. */
	memset(&h, 0xA5, sizeof h);
	if (sipas_relay_decode(data, size, &h) != SIPAS_OK)
		return 0;
	n = strlen(h.source);
	CHECK(n <= SIPAS_SOURCE_MAX);
	CHECK(n == 0 || sipas_id_valid(h.source, n, SIPAS_SOURCE_MAX));
	CHECK(sipas_relay_encode(&h, out) == size);
	CHECK(memcmp(out, data, size) == 0);
	return 0;
}
