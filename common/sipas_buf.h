/*
 * sipas_buf.h - a growable byte buffer with a mandatory ceiling (curl's
 * dynbuf): appending past `max` fails with SIPAS_E_TOO_LARGE and leaves the
 * buffer as it was, so no input can grow one without bound.
 */
#ifndef SIPAS_BUF_H
#define SIPAS_BUF_H

#include <stddef.h>
#include "sipas_err.h"

typedef struct sipas_buf {
	char *data;   /* owned; NUL-terminated after every append (not counted) */
	size_t len;
	size_t cap;
	size_t max;
} sipas_buf;

/* Start empty with ceiling `max` bytes. Allocates nothing yet. */
void sipas_buf_init(sipas_buf *b, size_t max);
/* Release the storage; the buffer may be initialised again. */
void sipas_buf_free(sipas_buf *b);
/* Forget the contents, keep the storage. */
void sipas_buf_reset(sipas_buf *b);
SIPAS_MUST_CHECK sipas_err sipas_buf_append(sipas_buf *b, const void *p, size_t n);
SIPAS_MUST_CHECK sipas_err sipas_buf_printf(sipas_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Read a whole file (at most `max` bytes) into b, replacing its contents.
 * SIPAS_E_TOO_LARGE when longer; SIPAS_E_IO with the errno text in diag. */
SIPAS_MUST_CHECK sipas_err sipas_buf_read_file(sipas_buf *b, const char *path,
					       sipas_diag *diag);

#endif
