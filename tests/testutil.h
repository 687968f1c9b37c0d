/*
 * testutil.h - helpers shared by the Check suites.
 */
#ifndef SIPAS_TESTUTIL_H
#define SIPAS_TESTUTIL_H

#include <check.h>
#include <stddef.h>
#include "sipas_err.h"

/* Fail the test with the code's name and sentence unless rv == want. */
#define ck_assert_err(rv, want)                                              \
	do {                                                                 \
		sipas_err rv_ = (rv), want_ = (want);                        \
		ck_assert_msg(rv_ == want_, "%s: got %s (%s), want %s",      \
			      #rv, sipas_err_name(rv_), sipas_strerror(rv_), \
			      sipas_err_name(want_));                        \
	} while (0)

/* A fresh empty folder under $TMPDIR (or /tmp); the caller removes it with
 * tu_rmtree() and frees the returned string. */
char *tu_mkdtemp(void);
/* rm -rf `path` (no symlinks followed). */
void tu_rmtree(const char *path);
/* Read a file of the source tree (relative to the project root) into a
 * malloc'd NUL-terminated buffer; *len gets its length. Fails the test when
 * it cannot be read. */
char *tu_read_source(const char *relpath, size_t *len);
/* Run a suite with a CK_NORMAL runner; returns the process exit status. */
int tu_run(Suite *s);

#endif
