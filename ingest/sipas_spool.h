/*
 * sipas_spool.h - what a collector keeps so that it can acknowledge a
 * response while no worker is reachable, and the id memories that keep such
 * an `accepted` honest.
 *
 *   sipas_spool    a folder of append-only segment files. A record is
 *                  written and fsync'd before the collector answers
 *                  `accepted`; it is forgotten once a worker has answered it
 *                  (accepted, duplicate, or rejected into quarantine), and a
 *                  segment file is deleted once every record in it is
 *                  forgotten. Opening a spool reads it back: a torn last
 *                  record (a crash in the middle of an append) is cut off.
 *   sipas_keytab   a hash table from 128-bit keys to 64-bit values; the
 *                  spool's index, the recent-ids cache and the collector's
 *                  in-flight ids are built on it.
 *   sipas_idcache  the last N (campaign, id) keys acknowledged accepted or
 *                  duplicate through this collector, with their content
 *                  digests, oldest evicted first.
 *
 * Keys are XXH3-128 of "campaign\0id" (sipas_spool_key). Digests are what
 * the caller says two copies of a response are "the same content" by; the
 * collector uses XXH3-128 of a canonical encoding (sipas_spool_digest of
 * it), so that a copy sent with its keys in another order is a duplicate,
 * as the worker judges it.
 *
 * On-disk layout (little-endian), one file per segment, "<16 hex>.seg":
 *     segment header  8 bytes  "SIPSPL1\n"
 *     record          magic u32 "SPR1", len u32, received_ms i64,
 *                     key 16, digest 16, len bytes of response (as the
 *                     client sent it),
 *                     check u64 = XXH3-64 of everything before it in the
 *                     record
 * A lock file "lock" (fcntl write lock) keeps two collectors out of one
 * folder.
 *
 * Not thread-safe: one collector loop owns a spool.
 */
#ifndef SIPAS_SPOOL_H
#define SIPAS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sipas_buf.h"
#include "sipas_err.h"

typedef struct sipas_hash128 {
	uint64_t lo, hi;
} sipas_hash128;

/* The key of a response: XXH3-128 of campaign, a NUL byte, id. */
sipas_hash128 sipas_spool_key(const char *campaign, const char *id);
/* XXH3-128 of bytes. */
sipas_hash128 sipas_spool_digest(const void *bytes, size_t len);
static inline bool sipas_hash128_eq(sipas_hash128 a, sipas_hash128 b)
{
	return a.lo == b.lo && a.hi == b.hi;
}

/* ---- keytab ---- */

typedef struct sipas_keytab sipas_keytab;

/* An empty table (grows as needed; never fails: out of memory aborts, see
 * sipas_oom.h). Free with sipas_keytab_free. */
sipas_keytab *sipas_keytab_new(void);
void sipas_keytab_free(sipas_keytab **t);
/* True and *val (may be NULL) when key is in t. */
bool sipas_keytab_get(const sipas_keytab *t, sipas_hash128 key, uint64_t *val);
/* Insert or replace. */
void sipas_keytab_put(sipas_keytab *t, sipas_hash128 key, uint64_t val);
/* Remove key; false when it was not there. */
bool sipas_keytab_del(sipas_keytab *t, sipas_hash128 key);
size_t sipas_keytab_count(const sipas_keytab *t);

/* ---- what a key is known as ---- */

typedef enum sipas_match {
	SIPAS_MATCH_NONE = 0, /* key unknown */
	SIPAS_MATCH_SAME = 1, /* key known with the same digest: duplicate */
	SIPAS_MATCH_OTHER = 2 /* key known with another digest: conflict */
} sipas_match;

/* ---- idcache ---- */

typedef struct sipas_idcache sipas_idcache;

/* A cache of at most `cap` keys (cap >= 1). Free with sipas_idcache_free. */
sipas_idcache *sipas_idcache_new(size_t cap);
void sipas_idcache_free(sipas_idcache **c);
/* Remember key with digest; a key already there keeps its place and gets
 * the new digest. The oldest key goes when the cache is full. */
void sipas_idcache_put(sipas_idcache *c, sipas_hash128 key,
                       sipas_hash128 digest);
sipas_match sipas_idcache_find(const sipas_idcache *c, sipas_hash128 key,
                               sipas_hash128 digest);
size_t sipas_idcache_count(const sipas_idcache *c);

/* ---- spool ---- */

typedef struct sipas_spool sipas_spool;

typedef struct sipas_spool_opts {
	uint64_t
	    segment_bytes;  /* start a new segment past this size; 0 = 8 MiB */
	uint64_t max_bytes; /* bytes of all segment files; 0 = 1 GiB */
	uint32_t max_entries; /* records held; 0 = 1,000,000 */
} sipas_spool_opts;

typedef struct sipas_spool_stats {
	uint64_t entries;   /* records held (not yet done) */
	uint64_t pending;   /* of which durable and waiting for delivery */
	uint64_t out;       /* of which out for delivery */
	uint64_t bytes;     /* bytes of all segment files */
	uint32_t segments;  /* segment files */
	uint64_t recovered; /* records read back by open */
	uint64_t truncated; /* bytes cut off torn tails by open */
} sipas_spool_stats;

/*
 * Open (creating it when missing) the spool folder `dir` and read it back:
 * every record of every segment becomes pending, oldest first; a segment
 * whose tail does not check out is truncated to its last good record (and
 * fsync'd). A folder already locked by another process, a segment file
 * that is not a spool segment, or an I/O error: SIPAS_E_IO with the reason
 * in diag. On success the caller owns *out (sipas_spool_close).
 */
SIPAS_MUST_CHECK sipas_err sipas_spool_open(sipas_spool **out, const char *dir,
                                            const sipas_spool_opts *opts,
                                            sipas_diag *diag);
/* Close the files and free; NULL-safe. Records not yet synced are left to
 * the next open (which may or may not find them whole). */
void sipas_spool_close(sipas_spool **sp);

/* Whether key is held (synced or not) and with which digest. */
sipas_match sipas_spool_find(const sipas_spool *sp, sipas_hash128 key,
                             sipas_hash128 digest);

/* A record handed out for delivery. */
typedef struct sipas_spool_item {
	uint64_t seq; /* names it for release / done */
	int64_t received_ms;
	sipas_hash128 key, digest;
} sipas_spool_item;

/*
 * Write one record (the response bytes, at most SIPAS_MAX_REQUEST). It is
 * at once visible to sipas_spool_find, but durable -- and deliverable --
 * only after sipas_spool_sync. A key already held is refused with
 * SIPAS_E_CONFLICT (look it up first). SIPAS_E_BUSY when the spool is at
 * its entry or byte ceiling (nothing written). SIPAS_E_IO (reason in diag):
 * nothing is kept of this record nor of any record appended since the last
 * successful sync -- the caller answers `busy` for all of them.
 */
SIPAS_MUST_CHECK sipas_err sipas_spool_append(
    sipas_spool *sp, sipas_hash128 key, sipas_hash128 digest,
    int64_t received_ms, const void *bytes, size_t len, sipas_diag *diag);
/* True when records were appended since the last sync. */
bool sipas_spool_dirty(const sipas_spool *sp);
/*
 * fsync what was appended (the file; the folder was fsync'd when the
 * segment was created). SIPAS_E_IO: as for append, every record appended
 * since the last successful sync is gone (cut off the file, forgotten).
 */
SIPAS_MUST_CHECK sipas_err sipas_spool_sync(sipas_spool *sp, sipas_diag *diag);

/*
 * Take the oldest durable record that is not out for delivery: its bytes
 * replace out's contents (out needs a ceiling of SIPAS_MAX_REQUEST), *it
 * describes it. It is now out for delivery.
 * SIPAS_E_NOT_FOUND when there is none; SIPAS_E_IO when it cannot be read
 * or no longer checks out (the record is then forgotten: the caller logs
 * it; this is disk corruption, nothing else can do it).
 */
SIPAS_MUST_CHECK sipas_err sipas_spool_next(sipas_spool *sp, sipas_buf *out,
                                            sipas_spool_item *it,
                                            sipas_diag *diag);
/* Put a record out for delivery back among the pending (a worker was busy
 * or did not answer). Unknown seq: ignored. */
void sipas_spool_release(sipas_spool *sp, uint64_t seq);
/* Forget a record (a worker answered it). When it was the last record of
 * its segment, the segment file is deleted. Unknown seq: ignored.
 * SIPAS_E_IO only when a file could not be deleted (reason in diag; the
 * record is forgotten anyway and the file read back at the next open). */
SIPAS_MUST_CHECK sipas_err sipas_spool_done(sipas_spool *sp, uint64_t seq,
                                            sipas_diag *diag);

void sipas_spool_stats_get(const sipas_spool *sp, sipas_spool_stats *st);

#endif
