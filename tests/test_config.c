/* test_config.c - one option table, command line over file over defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipas_config.h"
#include "testutil.h"

static const sipas_option opts[] = {
	{"store", 's', SIPAS_OPT_STRING, "DIR", NULL, 0, 0, "store folder"},
	{"bind", 0, SIPAS_OPT_STRING, "EP", "tcp://127.0.0.1:7301", 0, 0, "bind"},
	{"batch-max", 0, SIPAS_OPT_INT, "N", "100", 1, 1000, "batch"},
	{"verbose", 'v', SIPAS_OPT_BOOL, NULL, NULL, 0, 0, "talk"},
	{"worker", 'w', SIPAS_OPT_LIST, "EP", "tcp://127.0.0.1:7301", 0, 0, "workers"},
};
static const sipas_program prog = {"sipas-test", "[OPTIONS]", "About.",
				   NULL, opts, 5};

static char *dir;

static void setup(void)
{
	dir = tu_mkdtemp();
}

static void teardown(void)
{
	tu_rmtree(dir);
	free(dir);
}

static const char *write_conf(const char *text)
{
	static char path[4200];
	FILE *f;

	snprintf(path, sizeof path, "%s/t.conf", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	return path;
}

/* Parse a NULL-terminated argv; returns go-on and fills status. */
static bool parse(sipas_config **c, int *status, char **argv)
{
	int argc = 0, first;

	while (argv[argc] != NULL)
		argc++;
	return sipas_config_load(&prog, argc, argv, c, &first, status);
}

START_TEST(test_config_defaults)
{
	char *argv[] = {"t", NULL};
	sipas_config *c = NULL;
	const char *const *list;
	size_t n;
	int status;

	ck_assert(parse(&c, &status, argv));
	ck_assert_ptr_null(sipas_config_str(c, "store"));
	ck_assert_str_eq(sipas_config_str(c, "bind"), "tcp://127.0.0.1:7301");
	ck_assert_int_eq(sipas_config_int(c, "batch-max"), 100);
	ck_assert(!sipas_config_bool(c, "verbose"));
	list = sipas_config_list(c, "worker", &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(list[0], "tcp://127.0.0.1:7301");
	sipas_config_free(&c);
	ck_assert_ptr_null(c);
}
END_TEST

START_TEST(test_config_file_then_command_line)
{
	const char *path = write_conf("# comment\nstore = /var/lib/x\n"
				      "batch-max = 7\nverbose = yes\n"
				      "worker = ipc://a\nworker = ipc://b\n");
	char *argv[] = {"t", "-c", (char *)path, "--batch-max", "9", "extra", NULL};
	sipas_config *c = NULL;
	const char *const *list;
	size_t n;
	int status;

	ck_assert(parse(&c, &status, argv));
	ck_assert_str_eq(sipas_config_str(c, "store"), "/var/lib/x");
	ck_assert_int_eq(sipas_config_int(c, "batch-max"), 9);
	ck_assert(sipas_config_bool(c, "verbose"));
	list = sipas_config_list(c, "worker", &n);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(list[1], "ipc://b");
	sipas_config_free(&c);

	/* A repeatable option on the command line replaces the file's. */
	{
		char *argv2[] = {"t", "-c", (char *)path, "-w", "ipc://c", NULL};

		ck_assert(parse(&c, &status, argv2));
		list = sipas_config_list(c, "worker", &n);
		ck_assert_uint_eq(n, 1);
		ck_assert_str_eq(list[0], "ipc://c");
		sipas_config_free(&c);
	}
}
END_TEST

/* Each bad input: does not go on, status 1. (Messages go to stderr.) */
START_TEST(test_config_errors)
{
	static const char *files[] = {
		"frob = 1\n",              /* unknown key */
		"batch-max = 0\n",         /* below range */
		"batch-max = 10x\n",       /* not a number */
		"verbose = maybe\n",       /* not a boolean */
		"[section]\nstore = x\n",  /* sections are not used */
		"config = other\n",        /* no nested config files */
		"just words\n",            /* not key = value */
	};
	sipas_config *c = NULL;
	int status;

	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		char *argv[] = {"t", "-c", (char *)write_conf(files[i]), NULL};

		status = -1;
		ck_assert_msg(!parse(&c, &status, argv), "%s", files[i]);
		ck_assert_int_eq(status, 1);
		ck_assert_ptr_null(c);
	}
	{
		char *a1[] = {"t", "--batch-max", "1001", NULL};
		char *a2[] = {"t", "--nope", NULL};
		char *a3[] = {"t", "--bind", NULL};
		char *a4[] = {"t", "-c", "/nonexistent/x.conf", NULL};

		ck_assert(!parse(&c, &status, a1) && status == 1);
		ck_assert(!parse(&c, &status, a2) && status == 1);
		ck_assert(!parse(&c, &status, a3) && status == 1);
		ck_assert(!parse(&c, &status, a4) && status == 1);
	}
}
END_TEST

START_TEST(test_config_help_and_version)
{
	char *a1[] = {"t", "--help", NULL};
	char *a2[] = {"t", "-V", NULL};
	sipas_config *c = NULL;
	int status = -1;

	ck_assert(!parse(&c, &status, a1));
	ck_assert_int_eq(status, 0);
	status = -1;
	ck_assert(!parse(&c, &status, a2));
	ck_assert_int_eq(status, 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_config_defaults);
	tcase_add_test(tc, test_config_file_then_command_line);
	tcase_add_test(tc, test_config_errors);
	tcase_add_test(tc, test_config_help_and_version);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
