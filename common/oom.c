/*
 * oom.c - allocation wrappers that abort on failure (see sipas_oom.h).
 */
#include "sipas_oom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(size_t n)
{
	fprintf(stderr, "<2>OOM out of memory allocating %zu bytes\n", n);
	abort();
}

void *sipas_xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		die(n);
	return p;
}

void *sipas_xcalloc(size_t count, size_t size)
{
	void *p = calloc(count ? count : 1, size ? size : 1);

	if (p == NULL)
		die(count * size);
	return p;
}

void *sipas_xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		die(n);
	return q;
}

char *sipas_xstrndup(const char *s, size_t n)
{
	char *p = sipas_xmalloc(n + 1);

	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}
