/*
 * buf.c - bounded growable buffer (see sipas_buf.h).
 */
#include "sipas_buf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void sipas_buf_init(sipas_buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void sipas_buf_free(sipas_buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

void sipas_buf_reset(sipas_buf *b)
{
	b->len = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the trailing NUL. */
static sipas_err reserve(sipas_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (n > b->max || b->len > b->max - n)
		return SIPAS_E_TOO_LARGE;
	need = b->len + n + 1;
	if (need <= b->cap)
		return SIPAS_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	/* Never hold much more than the ceiling allows. */
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->data, cap);
	if (p == NULL)
		return SIPAS_E_NOMEM;
	b->data = p;
	b->cap = cap;
	return SIPAS_OK;
}

sipas_err sipas_buf_append(sipas_buf *b, const void *p, size_t n)
{
	sipas_err rv = reserve(b, n);

	if (rv != SIPAS_OK)
		return rv;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return SIPAS_OK;
}

sipas_err sipas_buf_printf(sipas_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	sipas_err rv;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return SIPAS_E_IO;
	rv = reserve(b, (size_t)n);
	if (rv != SIPAS_OK)
		return rv;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return SIPAS_OK;
}

sipas_err sipas_buf_read_file(sipas_buf *b, const char *path, sipas_diag *diag)
{
	sipas_err rv = SIPAS_OK;
	char chunk[65536];
	int fd;

	sipas_buf_reset(b);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		return SIPAS_E_IO;
	}
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sipas_diag_set(diag, "%s: %s", path, strerror(errno));
			rv = SIPAS_E_IO;
			goto out;
		}
		if (n == 0)
			break;
		rv = sipas_buf_append(b, chunk, (size_t)n);
		if (rv == SIPAS_E_TOO_LARGE) {
			sipas_diag_set(diag, "%s: larger than %zu bytes", path,
				       b->max);
			goto out;
		}
		if (rv != SIPAS_OK) {
			sipas_diag_set(diag, "%s: %s", path, sipas_strerror(rv));
			goto out;
		}
	}
	/* An empty file still yields a valid empty C string. */
	if (b->data == NULL)
		rv = sipas_buf_append(b, "", 0);
out:
	close(fd);
	return rv;
}
