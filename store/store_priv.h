/*
 * store_priv.h - what store.c, view.c and batch.c share about the LMDB
 * environment. Not for other modules: they use sipas_store.h.
 */
#ifndef SIPAS_STORE_PRIV_H
#define SIPAS_STORE_PRIV_H

#include <lmdb.h>
#include <stdint.h>

#include "sipas_protocol.h"
#include "sipas_store.h"

enum { DB_META, DB_CAMPAIGNS, DB_DEFINITIONS, DB_RESPONSES, DB_SEEN,
       DB_COUNTERS, DB_QUARANTINE, DB_COUNT };

struct sipas_store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	char *dir;
};

/* Fixed-width integers in records and keys. */
static inline void store_put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static inline uint64_t store_get_le(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

/* Big-endian sequence keys sort in numeric order. */
static inline void store_put_be64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * (7 - i)));
}

static inline uint64_t store_get_be64(const unsigned char *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return v;
}

/* Keys: every key that names a campaign starts with its id and a NUL, so
 * one campaign's records are one contiguous range. */
#define STORE_KEY_MAX (3 * (SIPAS_DEF_ID_MAX + 1) + 8)

/* Counter record of (campaign, unit, form): "C\0U\0F". */
size_t store_counter_key(unsigned char *key, const char *campaign,
			 const char *unit, const char *form);
/* Campaign statistics record: "C\0\0" (no unit id is empty). */
size_t store_stats_key(unsigned char *key, const char *campaign);
/* Dedupe record of a response: "C\0ID". */
size_t store_seen_key(unsigned char *key, const char *campaign,
		      const char *id);

/* mdb_txn_begin on s's environment, adopting a map another process grew
 * (MDB_MAP_RESIZED) and retrying once. *txn is NULL on failure. */
int store_txn_begin(sipas_store *s, unsigned flags, MDB_txn **txn);

/* The last sequence key of an append-only database (`responses`,
 * `quarantine`): *last is 0 when it is empty. MDB_CORRUPTED (and 0) when
 * the last key is not 8 bytes. */
int store_last_seq(MDB_txn *txn, MDB_dbi dbi, uint64_t *last);

/* mkdir -p with mode 0750 for the parts it creates. */
sipas_err store_make_dirs(const char *dir, sipas_diag *diag);

/* fsync folder `path` (SIPAS_E_IO with the system text in diag). */
sipas_err store_sync_dir(const char *path, sipas_diag *diag);
/* The folder holding `path` ("." when it names none), into out. */
void store_parent_of(const char *path, char *out, size_t len);

/* Map an LMDB code to a sipas_err, with the LMDB text in diag. */
sipas_err store_fail(int rc, const char *what, sipas_diag *diag);

/* The current revision of `campaign` (NULL: the only one) as of txn. */
sipas_err store_find_campaign(sipas_store *s, MDB_txn *txn,
			      const char *campaign, sipas_revision *rev,
			      sipas_diag *diag);
/* Load the definition of rev as of txn. */
sipas_err store_load_revision(sipas_store *s, MDB_txn *txn,
			      const sipas_revision *rev, sipas_def **out,
			      sipas_diag *diag);

/* A stored response or quarantine entry (values of `responses` and
 * `quarantine`): version 2, received_ms i64 LE, source length u8, source,
 * revision seq u32 LE (the definition the response was judged by; 0 when
 * its campaign was not defined), [quarantine only: refusal code u32 LE],
 * the raw msgpack map. Version 1 lacked the revision (read as 0). Pointers
 * borrow the LMDB value (valid until its transaction ends). */
#define STORE_ENTRY_VERSION 2
struct store_entry {
	uint64_t seq;
	int64_t received_ms;
	char source[SIPAS_DEF_ID_MAX + 1];
	uint32_t revision;         /* 0: unknown (version 1) or no campaign */
	sipas_err code;            /* quarantine only */
	const void *raw;
	size_t rawlen;
};
sipas_err store_parse_entry(const MDB_val *key, const MDB_val *val,
			    bool quarantine, struct store_entry *out);

/* Statistics record: accepted, duplicates, conflicts, quarantined as
 * four varints. */
#define STORE_STATS_MAX 40

/* `seen` value: content hash (16), state (1), sequence (8, LE) of the
 * response in `responses` (SEEN_COUNTED) or of its entry in `quarantine`
 * (SEEN_QUARANTINED). */
#define SEEN_LEN 25
enum { SEEN_COUNTED = 1, SEEN_QUARANTINED = 2 };

/* The content hash of r (hash.c): the same answers in another key order
 * give the same hash. */
void store_content_hash(const sipas_response *r, unsigned char out[16]);

#endif
