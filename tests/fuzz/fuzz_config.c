/*
 * fuzz_config.c - libFuzzer target for the `-c FILE` reader (inih under
 * sipas_config_load). The first byte picks the option table (the worker's
 * or the collector's, copied from their main files) and which options the
 * command line also gives; the other bytes are the file, written to a
 * memfd and named /proc/self/fd/N. Either the load succeeds, nothing is
 * printed, every value is within its option's bounds and the command line
 * wins over the file; or it fails with status 1 and exactly one line on
 * stderr naming the program (and the file and line when the file is at
 * fault). Nothing leaks either way. A successful load read again
 * (sipas_config_reload, as on SIGHUP) gives the same values.
 *
 * Build: cmake -DCMAKE_C_COMPILER=clang -DSIPAS_FUZZ=ON -DSIPAS_TESTS=OFF
 * Run:   fuzz_config -max_len=4096 tests/fuzz/corpus/config
 */
#define _GNU_SOURCE /* memfd_create, open_memstream */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sipas_config.h"

/* assert() is compiled out under NDEBUG; these checks never are. */
#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(real_stderr, "%s:%d: check failed: %s\n",      \
			        __FILE__, __LINE__, #c);                       \
			abort();                                               \
		}                                                              \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *real_stderr;

/* As in worker/main.c. */
static const sipas_option worker_options[] = {
	{"store", 's', SIPAS_OPT_STRING, "DIR", NULL, 0, 0, "store folder"},
	{"bind", 'b', SIPAS_OPT_STRING, "ENDPOINT", "tcp://127.0.0.1:7301", 0,
	 0, "where collectors connect"},
	{"batch-max", 0, SIPAS_OPT_INT, "N", "10000", 1, 100000, "batch"},
	{"map-size", 0, SIPAS_OPT_INT, "MIB", "1024", 1, 1 << 24, "map"},
	{"rcvhwm", 0, SIPAS_OPT_INT, "N", "20000", 100, 1000000, "hwm"},
	{"log-level", 0, SIPAS_OPT_STRING, "LEVEL", "info", 0, 0, "level"},
};

/* As in ingest/collector.c, with a flag and an unbounded int added so
 * that every option type and bound is met. */
static const sipas_option collector_options[] = {
	{"bind", 'b', SIPAS_OPT_STRING, "ENDPOINT", "tcp://127.0.0.1:7300", 0,
	 0, "bind"},
	{"worker", 'w', SIPAS_OPT_LIST, "ENDPOINT", "tcp://127.0.0.1:7301", 0,
	 0, "workers"},
	{"source", 's', SIPAS_OPT_STRING, "NAME", "default", 0, 0, "source"},
	{"spool", 0, SIPAS_OPT_STRING, "DIR", NULL, 0, 0, "spool"},
	{"spool-max-mb", 0, SIPAS_OPT_INT, "N", "1024", 1, 1048576, "mb"},
	{"max-inflight", 0, SIPAS_OPT_INT, "N", "10000", 1, 1000000, "n"},
	{"max-inflight-mb", 0, SIPAS_OPT_INT, "N", "64", 1, 65536, "mb"},
	{"resend-ms", 0, SIPAS_OPT_INT, "MS", "3000", 100, 600000, "ms"},
	{"give-up-ms", 0, SIPAS_OPT_INT, "MS", "60000", 1000, 86400000, "ms"},
	{"log-level", 'l', SIPAS_OPT_STRING, "LEVEL", "info", 0, 0, "level"},
	{"verbose", 'v', SIPAS_OPT_BOOL, NULL, NULL, 0, 0, "talk"},
	{"offset", 0, SIPAS_OPT_INT, "N", "0", INT64_MIN, INT64_MAX, "any"},
	{"tag", 0, SIPAS_OPT_LIST, "T", NULL, 0, 0, "no default"},
};

static const char *const live[] = {"log-level", "resend-ms", NULL};

static const sipas_program programs[2] = {
	{"sipas-worker", "[OPTIONS]", "About.", NULL, worker_options,
	 sizeof worker_options / sizeof worker_options[0], NULL},
	{"sipas-collector", "[OPTIONS]", "About.", NULL, collector_options,
	 sizeof collector_options / sizeof collector_options[0], live},
};

static void check_values(const sipas_program *p, const sipas_config *c)
{
	for (size_t i = 0; i < p->noptions; i++) {
		const sipas_option *o = &p->options[i];
		const char *const *list;
		int64_t v;
		size_t n;

		switch (o->type) {
		case SIPAS_OPT_STRING:
			CHECK(o->def == NULL ||
			      sipas_config_str(c, o->name) != NULL);
			break;
		case SIPAS_OPT_INT:
			v = sipas_config_int(c, o->name);
			CHECK(v >= o->min && v <= o->max);
			break;
		case SIPAS_OPT_BOOL:
			(void)sipas_config_bool(c, o->name);
			break;
		case SIPAS_OPT_LIST:
			list = sipas_config_list(c, o->name, &n);
			CHECK(n <= 32);
			/* A list the file leaves out keeps its default. */
			CHECK(o->def == NULL || n >= 1);
			for (size_t k = 0; k < n; k++)
				CHECK(list[k] != NULL);
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	const sipas_program *p;
	char *argv[8], *err = NULL;
	size_t errlen = 0, n;
	sipas_config *c = (sipas_config *)&fd; /* must be set to NULL */
	int argc = 0, first = -1, status = -1, mode;
	bool ok;
	FILE *mem;

	if (size < 1)
		return 0;
	if (fd < 0) {
		real_stderr = stderr;
		fd = memfd_create("fuzz.conf", 0);
		CHECK(fd >= 0);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	mode = data[0];
	p = &programs[mode & 1];
	CHECK(ftruncate(fd, 0) == 0);
	CHECK(size == 1 ||
	      pwrite(fd, data + 1, size - 1, 0) == (ssize_t)(size - 1));

	argv[argc++] = (char *)p->name;
	/* Bit 1: an option before -c; bit 2: after it; bit 3: a list. */
	if (mode & 2)
		argv[argc++] = "--bind=cli-bind";
	argv[argc++] = "-c";
	argv[argc++] = path;
	if (mode & 4)
		argv[argc++] = "--log-level=cli-level";
	if ((mode & 8) && (mode & 1))
		argv[argc++] = "-wcli-worker";
	argv[argc] = NULL;

	/* sipas_config_load speaks on stderr: catch what it says. */
	mem = open_memstream(&err, &errlen);
	CHECK(mem != NULL);
	stderr = mem;
	ok = sipas_config_load(p, argc, argv, &c, &first, &status);
	stderr = real_stderr;
	CHECK(fclose(mem) == 0);

	if (ok) {
		CHECK(c != NULL && errlen == 0 && first == argc);
		check_values(p, c);
		if (mode & 2)
			CHECK(strcmp(sipas_config_str(c, "bind"), "cli-bind") ==
			      0);
		if (mode & 4)
			CHECK(strcmp(sipas_config_str(c, "log-level"),
			             "cli-level") == 0);
		if ((mode & 8) && (mode & 1)) {
			const char *const *list =
			    sipas_config_list(c, "worker", &n);

			CHECK(n == 1 && strcmp(list[0], "cli-worker") == 0);
		}
		{
			/* SIGHUP with the file unchanged: nothing differs. */
			sipas_config *again = NULL;
			sipas_diag diag = {{0}};
			char keys[64];

			CHECK(sipas_config_reload(c, &again, &diag) ==
			      SIPAS_OK);
			CHECK(sipas_config_fixed_changes(c, again, keys,
			                                 sizeof keys) == 0);
			CHECK(keys[0] == '\0');
			check_values(p, again);
			sipas_config_free(&again);
		}
		sipas_config_free(&c);
		CHECK(c == NULL);
	} else {
		CHECK(c == NULL && status == 1);
		/* One line: "<program>: <file>:<line>: <why>\n". */
		n = strlen(p->name);
		CHECK(errlen > n + 2 && strlen(err) == errlen);
		CHECK(memcmp(err, p->name, n) == 0 && err[n] == ':');
		CHECK(err[errlen - 1] == '\n');
		CHECK(memchr(err, '\n', errlen) == err + errlen - 1);
		CHECK(strncmp(err + n + 2, path, strlen(path)) == 0);
	}
	free(err);
	return 0;
}
