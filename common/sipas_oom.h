/*
 * sipas_oom.h - the one policy for running out of memory.
 *
 * Daemons and tools do not try to limp on without memory: a failed
 * allocation of a bounded, small object means the machine is in trouble,
 * and a clean abort lets systemd restart the daemon from durable state.
 * Allocations whose size comes from input are bounded first (sipas_limits.h)
 * and may still return SIPAS_E_NOMEM where the caller can answer `busy`.
 */
#ifndef SIPAS_OOM_H
#define SIPAS_OOM_H

#include <stddef.h>

/* malloc / calloc / strdup that log "<2>OOM" to stderr and abort on failure.
 * The caller owns the result and frees it with free(). */
void *sipas_xmalloc(size_t n);
void *sipas_xcalloc(size_t count, size_t size);
char *sipas_xstrndup(const char *s, size_t n);
/* realloc with the same policy; p may be NULL. */
void *sipas_xrealloc(void *p, size_t n);

#endif
