/* test_buf.c - the bounded buffer never grows past its ceiling. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipas_buf.h"
#include "testutil.h"

START_TEST(test_buf_append_and_ceiling)
{
	sipas_buf b;

	sipas_buf_init(&b, 10);
	ck_assert_err(sipas_buf_append(&b, "hello", 5), SIPAS_OK);
	ck_assert_err(sipas_buf_append(&b, "world", 5), SIPAS_OK);
	ck_assert_str_eq(b.data, "helloworld");
	/* One byte over: refused, contents unchanged. */
	ck_assert_err(sipas_buf_append(&b, "!", 1), SIPAS_E_TOO_LARGE);
	ck_assert_uint_eq(b.len, 10);
	ck_assert_str_eq(b.data, "helloworld");
	ck_assert_uint_le(b.cap, 11);
	sipas_buf_reset(&b);
	ck_assert_uint_eq(b.len, 0);
	ck_assert_str_eq(b.data, "");
	sipas_buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(test_buf_printf_ceiling)
{
	sipas_buf b;

	sipas_buf_init(&b, 8);
	ck_assert_err(sipas_buf_printf(&b, "%d-%s", 42, "ab"), SIPAS_OK);
	ck_assert_str_eq(b.data, "42-ab");
	ck_assert_err(sipas_buf_printf(&b, "%s", "abcd"), SIPAS_E_TOO_LARGE);
	ck_assert_str_eq(b.data, "42-ab");
	/* Overflow of size_t arithmetic is refused, not wrapped. */
	ck_assert_err(sipas_buf_append(&b, "x", (size_t)-1), SIPAS_E_TOO_LARGE);
	sipas_buf_free(&b);
}
END_TEST

START_TEST(test_buf_read_file)
{
	char *dir = tu_mkdtemp(), path[4200];
	sipas_buf b;
	sipas_diag d = {{0}};
	FILE *f;

	snprintf(path, sizeof path, "%s/f.json", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("{\"a\": 1}", f);
	fclose(f);

	sipas_buf_init(&b, 100);
	ck_assert_err(sipas_buf_read_file(&b, path, &d), SIPAS_OK);
	ck_assert_str_eq(b.data, "{\"a\": 1}");

	/* Too large for the ceiling. */
	b.max = 4;
	ck_assert_err(sipas_buf_read_file(&b, path, &d), SIPAS_E_TOO_LARGE);
	ck_assert_ptr_nonnull(strstr(d.msg, "larger than 4 bytes"));

	/* Missing file: the errno text is kept. */
	snprintf(path, sizeof path, "%s/missing", dir);
	ck_assert_err(sipas_buf_read_file(&b, path, &d), SIPAS_E_IO);
	ck_assert_ptr_nonnull(strstr(d.msg, "No such file"));

	/* Empty file: an empty string, not NULL. */
	snprintf(path, sizeof path, "%s/empty", dir);
	f = fopen(path, "w");
	fclose(f);
	b.max = 100;
	ck_assert_err(sipas_buf_read_file(&b, path, &d), SIPAS_OK);
	ck_assert_ptr_nonnull(b.data);
	ck_assert_uint_eq(b.len, 0);

	sipas_buf_free(&b);
	tu_rmtree(dir);
	free(dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_buf_append_and_ceiling);
	tcase_add_test(tc, test_buf_printf_ceiling);
	tcase_add_test(tc, test_buf_read_file);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
