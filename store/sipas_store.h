/*
 * sipas_store.h - the LMDB store: one environment in one folder, holding
 * any number of campaigns.
 *
 * Named databases (the pipeline fills the last four):
 *   meta         "format" -> store format version ("1")
 *   campaigns    campaign id -> its current revision record
 *   definitions  campaign id, NUL, revision seq (big-endian u32) -> the
 *                definition JSON exactly as loaded (every revision is kept)
 *   responses    accepted responses (raw msgpack, source, arrival time)
 *   seen         response id -> content hash (dedupe, never expires)
 *   counters     aggregate counters per (campaign, unit, form)
 *   quarantine   responses refused after a collector accepted them
 *
 * sipas_store is opaque; open/close pair. Functions are safe to call from
 * one thread at a time per store handle.
 */
#ifndef SIPAS_STORE_H
#define SIPAS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_limits.h"

#define SIPAS_STORE_FORMAT 1
#define SIPAS_STORE_DIRNAME "sipas-store"
#define SIPAS_STORE_MAP_DEFAULT ((size_t)1 << 30)  /* 1 GiB, grown on demand */

typedef struct sipas_store sipas_store;

typedef struct sipas_store_opts {
	size_t map_size;   /* 0 = SIPAS_STORE_MAP_DEFAULT (or the file's size) */
} sipas_store_opts;

/* A campaign's revision: "<seq>-<16 hex digits of the JSON's XXH3 hash>". */
#define SIPAS_REVISION_MAX 32
typedef struct sipas_revision {
	char campaign[SIPAS_DEF_ID_MAX + 1];
	uint32_t seq;              /* 1 for the first definition, then +1 */
	uint64_t hash;             /* XXH3-64 of the definition JSON */
	int64_t defined_at;        /* unix seconds */
	char id[SIPAS_REVISION_MAX];
} sipas_revision;

/*
 * The default store folder: "$SIPAS_HOME/sipas-store" when SIPAS_HOME is set
 * and not empty, else "./sipas-store". Written into out (NUL-terminated);
 * SIPAS_E_TOO_LARGE when it does not fit.
 */
SIPAS_MUST_CHECK sipas_err sipas_store_default_dir(char *out, size_t len);

/*
 * Open (creating when missing: the folder, the environment, the named
 * databases) the store in folder `dir`. *out is a new handle the caller
 * closes with sipas_store_close(). Clears stale reader slots left by killed
 * processes. SIPAS_E_IO / SIPAS_E_STORE with the system or LMDB text in
 * diag; SIPAS_E_VERSION for a store of another format.
 */
SIPAS_MUST_CHECK sipas_err sipas_store_open(sipas_store **out, const char *dir,
					    const sipas_store_opts *opts,
					    sipas_diag *diag);

/* Double the LMDB map (after SIPAS_E_MAP_FULL). No transaction of this
 * process may be open. */
SIPAS_MUST_CHECK sipas_err sipas_store_grow(sipas_store *s, sipas_diag *diag);

/* Free the reader slots of processes that died with a read transaction
 * open (a killed sipas-snapshot): such a slot pins old pages, so the file
 * grows until it is freed. Done at open; daemons call it periodically.
 * *cleared (may be NULL) receives the number of slots freed. */
SIPAS_MUST_CHECK sipas_err sipas_store_reader_check(sipas_store *s,
						   int *cleared,
						   sipas_diag *diag);

/* Map size and bytes in use, for warnings and metrics. */
void sipas_store_usage(sipas_store *s, size_t *map_size, size_t *used);

/* Close the store and set *s to NULL; NULL is fine. */
void sipas_store_close(sipas_store **s);

/*
 * Store `json` (already loaded as `def`, whose campaign it names) as the
 * campaign's new current revision, in one write transaction: either the
 * whole revision is stored or nothing changes. When the JSON is byte for
 * byte the current revision, nothing is written and *unchanged is true.
 * *rev receives the (new or current) revision.
 */
SIPAS_MUST_CHECK sipas_err sipas_store_define(sipas_store *s, const char *json,
					      size_t len, const sipas_def *def,
					      sipas_revision *rev,
					      bool *unchanged, sipas_diag *diag);

/*
 * Load the current definition of `campaign` (NULL: the only campaign of the
 * store; SIPAS_E_AMBIGUOUS when there are several, SIPAS_E_NOT_FOUND when
 * none). *out is a new definition the caller frees with sipas_def_free();
 * rev may be NULL.
 */
SIPAS_MUST_CHECK sipas_err sipas_store_load_definition(sipas_store *s,
						       const char *campaign,
						       sipas_def **out,
						       sipas_revision *rev,
						       sipas_diag *diag);

/* The current revision of every campaign, by campaign id; up to max
 * written to revs, *n set to the total number. */
SIPAS_MUST_CHECK sipas_err sipas_store_campaigns(sipas_store *s,
						 sipas_revision *revs,
						 size_t max, size_t *n,
						 sipas_diag *diag);

#endif
