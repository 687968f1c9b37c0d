/*
 * fuzz_check.h - the check of the libFuzzer targets: assert() is compiled
 * out under NDEBUG, CHECK never is. A failed check prints where and aborts,
 * which libFuzzer reports as a finding.
 */
#ifndef SIPAS_FUZZ_CHECK_H
#define SIPAS_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(c)                                                               \
	do {                                                                   \
		if (!(c)) {                                                    \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, \
			        __LINE__, #c);                                 \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
