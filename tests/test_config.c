/* test_config.c - one option table, command line over file over defaults. */
#include <fcntl.h>
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
				   NULL, opts, 5, NULL};

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

/* Parse argv with stderr caught: returns go-on, the message in msg. */
static bool parse_err(sipas_config **c, char **argv, char *msg, size_t cap)
{
	char path[4200];
	int saved, fd, status = -1;
	bool ok;
	ssize_t n;

	snprintf(path, sizeof path, "%s/stderr", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	fflush(stderr);
	saved = dup(2);
	ck_assert_int_ge(saved, 0);
	ck_assert_int_ge(dup2(fd, 2), 0);
	ok = parse(c, &status, argv);
	fflush(stderr);
	ck_assert_int_ge(dup2(saved, 2), 0);
	close(saved);
	n = pread(fd, msg, cap - 1, 0);
	ck_assert_int_ge(n, 0);
	msg[n] = '\0';
	close(fd);
	if (!ok)
		ck_assert_int_eq(status, 1);
	return ok;
}

/* The message names the line of the first error and that error: inih
 * goes on after an error, and a later one must not replace its reason. */
START_TEST(test_config_first_error_reason)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"batch-max = 0\nfrob = 1\n",
		 ":1: batch-max: 0 is outside 1..1000\n"},
		{"just words\nbatch-max = 5\nfrob = 1\n",
		 ":1: not a key = value line\n"},
		{"store = x\nfrob = 1\nverbose = maybe\n",
		 ":2: frob: unknown key\n"},
	};
	sipas_config *c = NULL;
	char msg[1024];

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *argv[] = {"t", "-c", (char *)write_conf(cases[i].text),
				NULL};
		const char *tail;

		ck_assert(!parse_err(&c, argv, msg, sizeof msg));
		tail = strstr(msg, "t.conf:");
		ck_assert_msg(tail != NULL, "%s", msg);
		ck_assert_str_eq(tail + strlen("t.conf"), cases[i].want);
		ck_assert_ptr_null(c);
	}
}
END_TEST

/* A line is taken whole or refused: never cut into a value and a second
 * line (inih reads lines into a fixed buffer), never cut at a NUL byte. */
START_TEST(test_config_line_whole)
{
	char text[1024], msg[1024], big[161];
	sipas_config *c = NULL;

	/* inih's buffer holds 199 bytes of a line: the tail of this one
	 * would read as a line `bind = ...` of its own. */
	snprintf(text, sizeof text, "store = /%0190dbind = tcp://x:1\n", 0);
	{
		char *argv[] = {"t", "-c", (char *)write_conf(text), NULL};

		ck_assert(!parse_err(&c, argv, msg, sizeof msg));
		ck_assert_msg(strstr(msg, "t.conf:1: line longer than ") != NULL,
			      "%s", msg);
	}
	/* A long line that fits is a value like any other. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	snprintf(text, sizeof text, "store = /%s\n", big);
	{
		char *argv[] = {"t", "-c", (char *)write_conf(text), NULL};

		ck_assert(parse_err(&c, argv, msg, sizeof msg));
		ck_assert_str_eq(sipas_config_str(c, "store") + 1, big);
		sipas_config_free(&c);
	}
	/* A NUL byte would cut the value short. */
	{
		static const char nul[] = "bind = x\nstore = /a\0/b\n";
		FILE *f;
		char *argv[] = {"t", "-c", (char *)write_conf(""), NULL};

		f = fopen(argv[2], "w");
		ck_assert_ptr_nonnull(f);
		ck_assert_uint_eq(fwrite(nul, 1, sizeof nul - 1, f),
				  sizeof nul - 1);
		fclose(f);
		ck_assert(!parse_err(&c, argv, msg, sizeof msg));
		ck_assert_msg(strstr(msg, "t.conf:2: a NUL byte in the line\n"),
			      "%s", msg);
	}
}
END_TEST

/* `[]` is a section too; an indented line is a key of its own, not a
 * second value of the key above it; a folder is not a file. */
START_TEST(test_config_lines_stand_alone)
{
	sipas_config *c = NULL;
	char msg[1024];

	{
		char *argv[] = {"t", "-c", (char *)write_conf("[]\nstore = x\n"),
				NULL};

		ck_assert(!parse_err(&c, argv, msg, sizeof msg));
		ck_assert_msg(strstr(msg, "t.conf:1: sections are not used"),
			      "%s", msg);
	}
	{
		char *argv[] = {"t", "-c",
				(char *)write_conf("store = /a\n  bind = tcp://b:1\n"
						   "\t# an indented comment\n"),
				NULL};

		ck_assert(parse_err(&c, argv, msg, sizeof msg));
		ck_assert_str_eq(sipas_config_str(c, "store"), "/a");
		ck_assert_str_eq(sipas_config_str(c, "bind"), "tcp://b:1");
		sipas_config_free(&c);
	}
	{
		char *argv[] = {"t", "-c", dir, NULL};

		ck_assert(!parse_err(&c, argv, msg, sizeof msg));
		ck_assert_msg(strstr(msg, ": cannot read: ") != NULL, "%s",
			      msg);
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

/* SIGHUP: the file read again, the command line still on top; a broken
 * file leaves the running config alone and names file, line and key. */
START_TEST(test_config_reload)
{
	const char *path = write_conf("batch-max = 7\nbind = ipc://a\n"
				      "worker = ipc://w1\n");
	char *argv[] = {"t", "-c", (char *)path, "--store", "/s", NULL};
	sipas_config *c = NULL, *n = NULL;
	sipas_diag diag = {{0}};
	const char *const *list;
	char keys[64];
	size_t k;
	int status;

	ck_assert(parse(&c, &status, argv));
	ck_assert_str_eq(sipas_config_path(c), path);
	/* Unchanged file: the same values, nothing changed. */
	ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_OK);
	ck_assert_uint_eq(sipas_config_fixed_changes(c, n, keys, sizeof keys),
			  0);
	ck_assert_str_eq(keys, "");
	sipas_config_free(&n);

	write_conf("batch-max = 8\nbind = ipc://b\nstore = /file\n"
		   "verbose = on\n");
	ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_OK);
	ck_assert_int_eq(sipas_config_int(n, "batch-max"), 8);
	ck_assert_str_eq(sipas_config_str(n, "bind"), "ipc://b");
	ck_assert_str_eq(sipas_config_str(n, "store"), "/s"); /* cli wins */
	ck_assert(sipas_config_bool(n, "verbose"));
	/* A list the file no longer names is back to its default. */
	list = sipas_config_list(n, "worker", &k);
	ck_assert_uint_eq(k, 1);
	ck_assert_str_eq(list[0], "tcp://127.0.0.1:7301");
	/* The table has no live list: every change waits, in table order. */
	ck_assert_uint_eq(sipas_config_fixed_changes(c, n, keys, sizeof keys),
			  4);
	ck_assert_str_eq(keys, "bind, batch-max, verbose, worker");
	/* Cut to fit, still counted. */
	ck_assert_uint_eq(sipas_config_fixed_changes(c, n, keys, 8), 4);
	ck_assert_str_eq(keys, "bind, b");
	/* The running config is untouched. */
	ck_assert_int_eq(sipas_config_int(c, "batch-max"), 7);
	sipas_config_free(&n);

	write_conf("batch-max = 8\nbatch-max = 5000\n");
	n = (sipas_config *)&diag; /* must be set to NULL */
	ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_E_USAGE);
	ck_assert_ptr_null(n);
	ck_assert_msg(strstr(diag.msg, ":2: batch-max: 5000 is outside") !=
			      NULL &&
			      strncmp(diag.msg, path, strlen(path)) == 0,
		      "%s", diag.msg);
	ck_assert_int_eq(unlink(path), 0);
	ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_E_USAGE);
	ck_assert_msg(strstr(diag.msg, "cannot read: No such file") != NULL,
		      "%s", diag.msg);
	sipas_config_free(&c);

	/* Without -c: the command line alone, composed again. */
	{
		char *a2[] = {"t", "--batch-max", "3", NULL};

		ck_assert(parse(&c, &status, a2));
		ck_assert_ptr_null(sipas_config_path(c));
		ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_OK);
		ck_assert_int_eq(sipas_config_int(n, "batch-max"), 3);
		sipas_config_free(&n);
		sipas_config_free(&c);
	}
}
END_TEST

/* Keys a program lists as live are not changes that wait for a restart,
 * and --help names them. */
START_TEST(test_config_live_keys)
{
	static const char *const live[] = {"batch-max", "worker", NULL};
	static const sipas_program lp = {"sipas-test", "[OPTIONS]", "About.",
					 NULL, opts, 5, live};
	const char *path = write_conf("batch-max = 7\n");
	char *argv[] = {"t", "-c", (char *)path, NULL};
	sipas_config *c = NULL, *n = NULL;
	sipas_diag diag = {{0}};
	char keys[64], *help = NULL;
	size_t helplen = 0;
	int first, status;
	FILE *f;

	ck_assert(sipas_config_load(&lp, 3, argv, &c, &first, &status));
	write_conf("batch-max = 9\nworker = ipc://x\nverbose = true\n");
	ck_assert_int_eq(sipas_config_reload(c, &n, &diag), SIPAS_OK);
	ck_assert_uint_eq(sipas_config_fixed_changes(c, n, keys, sizeof keys),
			  1);
	ck_assert_str_eq(keys, "verbose");
	sipas_config_free(&n);
	sipas_config_free(&c);

	f = open_memstream(&help, &helplen);
	ck_assert_ptr_nonnull(f);
	sipas_config_usage(&lp, f);
	fclose(f);
	ck_assert_msg(strstr(help, "applies at once: batch-max, worker; the "
				   "others at the next start.\n") !=
			      NULL,
		      "%s", help);
	free(help);
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
	tcase_add_test(tc, test_config_first_error_reason);
	tcase_add_test(tc, test_config_line_whole);
	tcase_add_test(tc, test_config_lines_stand_alone);
	tcase_add_test(tc, test_config_help_and_version);
	tcase_add_test(tc, test_config_reload);
	tcase_add_test(tc, test_config_live_keys);
	suite_add_tcase(s, tc);
	return tu_run(s);
}
