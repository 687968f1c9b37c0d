/* test_relay.c - the collector <-> worker header. */
#include <string.h>

#include "sipas_relay.h"
#include "testutil.h"

START_TEST(test_relay_round_trip)
{
	sipas_relay h = {.flags = SIPAS_RELAY_SPOOLED,
			 .token = 0x0102030405060708ull,
			 .received_ms = 1727715599123ll};
	sipas_relay back;
	unsigned char buf[SIPAS_RELAY_MAX];
	size_t n;

	strcpy(h.source, "portal");
	n = sipas_relay_encode(&h, buf);
	ck_assert_uint_eq(n, 19 + 6);
	ck_assert_err(sipas_relay_decode(buf, n, &back), SIPAS_OK);
	ck_assert_uint_eq(back.token, h.token);
	ck_assert_int_eq(back.received_ms, h.received_ms);
	ck_assert_uint_eq(back.flags, SIPAS_RELAY_SPOOLED);
	ck_assert_str_eq(back.source, "portal");
	ck_assert_uint_eq(back.version, SIPAS_RELAY_VERSION);
}
END_TEST

START_TEST(test_relay_refuses_bad_headers)
{
	sipas_relay h = {.token = 1}, back;
	unsigned char buf[SIPAS_RELAY_MAX + 4];
	size_t n;

	strcpy(h.source, "postal");
	n = sipas_relay_encode(&h, buf);
	/* Short, long, wrong version, length byte lying, bad source. */
	ck_assert_err(sipas_relay_decode(buf, 18, &back), SIPAS_E_MALFORMED);
	ck_assert_err(sipas_relay_decode(buf, n - 1, &back), SIPAS_E_MALFORMED);
	buf[n] = 'x';
	ck_assert_err(sipas_relay_decode(buf, n + 1, &back), SIPAS_E_MALFORMED);
	buf[0] = 2;
	ck_assert_err(sipas_relay_decode(buf, n, &back), SIPAS_E_MALFORMED);
	buf[0] = SIPAS_RELAY_VERSION;
	buf[19] = ' ';
	ck_assert_err(sipas_relay_decode(buf, n, &back), SIPAS_E_MALFORMED);
	buf[19] = 'p';
	buf[18] = 200;
	ck_assert_err(sipas_relay_decode(buf, n, &back), SIPAS_E_MALFORMED);
	/* An empty source is allowed. */
	h.source[0] = '\0';
	n = sipas_relay_encode(&h, buf);
	ck_assert_err(sipas_relay_decode(buf, n, &back), SIPAS_OK);
	ck_assert_str_eq(back.source, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("relay");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_relay_round_trip);
	tcase_add_test(tc, test_relay_refuses_bad_headers);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
