/*
 * batch.c - group-committed writes of responses (see sipas_batch.h).
 */
#include "sipas_batch.h"

#include <stdlib.h>
#include <string.h>

#include "sipas_counts.h"
#include "sipas_oom.h"
#include "store_priv.h"

/* Cached definition of one campaign. */
struct campaign {
	sipas_revision rev;
	sipas_def *def;
	bool present;              /* false: the store has no such campaign */
	sipas_campaign_stats delta;  /* statistics of the open batch */
	bool touched;
};

/*
 * Counters of one (definition, unit, form). `whole`: counts holds the
 * stored record as of our last commit plus the open batch's responses,
 * so the next commit only encodes it. Otherwise counts holds the open
 * batch's responses alone and the commit adds the stored record first.
 */
struct rec {
	const sipas_def *def;
	uint32_t unit, form;
	bool whole;
	bool dirty;                /* changed by the open batch */
	sipas_counts *counts;
	size_t bytes;              /* sipas_counts_footprint once whole */
};

/*
 * Whole records are kept across commits while this batch is the store's
 * only writer, so that a commit does not read and decode every record it
 * rewrites. They are dropped (and records read again) when another writer
 * may have committed in between - the id of a new write transaction is
 * not the one after our last writing commit -, when a definition is
 * reloaded, and on any failure: a failed commit or an abort must never
 * leave the cache ahead of the store. The kept records are bounded by
 * SIPAS_BATCH_CACHE_MAX bytes (a record of a 24-criterion form takes
 * about 2 KiB: 5,000 (unit, form) pairs fit in 10 MiB); past it, the
 * records the last commit did not write go first, then all.
 */
#ifndef SIPAS_BATCH_CACHE_MAX
#define SIPAS_BATCH_CACHE_MAX ((size_t)32 << 20)
#endif

struct sipas_batch {
	sipas_store *s;
	MDB_txn *txn;
	size_t size;
	uint64_t next_response, next_quarantine;  /* 0 = not read yet */
	uint64_t last_txnid;
	/* The id of our last commit that wrote, 0: none. LMDB gives the next
	 * write transaction this id + 1 unless another writer committed in
	 * between: then the sequences and records kept are stale. */
	uint64_t write_txnid;
	bool wrote;                /* the open transaction changed something */

	struct campaign *camps;
	size_t ncamps, capcamps;

	struct rec **tab;          /* open addressing, power of two */
	size_t tabcap, nrecs;
	struct rec **dirty;        /* records the open batch changed */
	size_t ndirty, capdirty;
	size_t cache_bytes;        /* sum of bytes of the whole records */
	unsigned char *enc;        /* scratch for encoded records */
	size_t enccap;

	sipas_buf rec;             /* scratch for records */
};

sipas_batch *sipas_batch_new(sipas_store *s)
{
	sipas_batch *b = sipas_xcalloc(1, sizeof *b);

	b->s = s;
	b->tabcap = 1024;
	b->tab = sipas_xcalloc(b->tabcap, sizeof *b->tab);
	sipas_buf_init(&b->rec, SIPAS_MAX_ARRAY_REQUEST + (16u << 20));
	return b;
}

static void rec_free(struct rec **rp)
{
	if (*rp == NULL)
		return;
	sipas_counts_free(&(*rp)->counts);
	free(*rp);
	*rp = NULL;
}

/* Forget every record: the next commit reads what it rewrites. */
static void drop_cache(sipas_batch *b)
{
	for (size_t i = 0; i < b->tabcap && b->nrecs > 0; i++)
		if (b->tab[i] != NULL) {
			rec_free(&b->tab[i]);
			b->nrecs--;
		}
	b->ndirty = 0;
	b->cache_bytes = 0;
}

static size_t rec_hash(uint32_t unit, uint32_t form, size_t cap)
{
	return (unit * 31u + form) & (cap - 1);
}

/* Put r in a table of capacity cap (it has a free slot). */
static void rec_insert(struct rec **tab, size_t cap, struct rec *r)
{
	size_t h = rec_hash(r->unit, r->form, cap);

	while (tab[h] != NULL)
		h = (h + 1) & (cap - 1);
	tab[h] = r;
}

/* Rebuild the table at capacity cap, keeping only the records `keep`
 * accepts (all when NULL). */
static void rehash(sipas_batch *b, size_t cap, bool (*keep)(const struct rec *))
{
	struct rec **old = b->tab;
	size_t oldcap = b->tabcap;

	b->tab = sipas_xcalloc(cap, sizeof *b->tab);
	b->tabcap = cap;
	for (size_t i = 0; i < oldcap; i++) {
		if (old[i] == NULL)
			continue;
		if (keep == NULL || keep(old[i])) {
			rec_insert(b->tab, cap, old[i]);
		} else {
			b->cache_bytes -= old[i]->bytes;
			b->nrecs--;
			rec_free(&old[i]);
		}
	}
	free(old);
}

void sipas_batch_free(sipas_batch **bp)
{
	sipas_batch *b;

	if (bp == NULL || *bp == NULL)
		return;
	b = *bp;
	sipas_batch_abort(b);
	drop_cache(b);
	free(b->tab);
	free(b->dirty);
	free(b->enc);
	for (size_t i = 0; i < b->ncamps; i++)
		sipas_def_free(&b->camps[i].def);
	free(b->camps);
	sipas_buf_free(&b->rec);
	free(b);
	*bp = NULL;
}

bool sipas_batch_is_open(const sipas_batch *b)
{
	return b->txn != NULL;
}

size_t sipas_batch_size(const sipas_batch *b)
{
	return b->size;
}

uint64_t sipas_batch_last_txnid(const sipas_batch *b)
{
	return b->last_txnid;
}




/* The next free sequence number of an append-only database. */
static int next_seq(MDB_txn *txn, MDB_dbi dbi, uint64_t *out)
{
	int rc = store_last_seq(txn, dbi, out);

	*out += 1;
	return rc;
}

/* Reload cached definitions whose revision changed since they were read. */
static sipas_err refresh(sipas_batch *b, sipas_diag *diag)
{
	for (size_t i = 0; i < b->ncamps; i++) {
		struct campaign *c = &b->camps[i];
		sipas_revision now;
		sipas_err rv = store_find_campaign(b->s, b->txn, c->rev.campaign,
						   &now, NULL);

		if (rv == SIPAS_E_NOT_FOUND) {
			/* Records are keyed by the definition's address. */
			if (c->def != NULL)
				drop_cache(b);
			sipas_def_free(&c->def);
			c->present = false;
			continue;
		}
		if (rv != SIPAS_OK) {
			sipas_diag_set(diag, "campaign %s: %s", c->rev.campaign,
				       sipas_strerror(rv));
			return rv;
		}
		if (c->present && now.seq == c->rev.seq)
			continue;
		drop_cache(b);
		sipas_def_free(&c->def);
		rv = store_load_revision(b->s, b->txn, &now, &c->def, diag);
		if (rv != SIPAS_OK)
			return rv;
		c->rev = now;
		c->present = true;
	}
	return SIPAS_OK;
}

sipas_err sipas_batch_begin(sipas_batch *b, sipas_diag *diag)
{
	sipas_err rv;
	int rc;

	if (b->txn != NULL)
		return SIPAS_OK;
	rc = store_txn_begin(b->s, 0, &b->txn);
	if (rc != 0) {
		b->txn = NULL;
		return store_fail(rc, "begin", diag);
	}
	b->size = 0;
	b->wrote = false;
	/* Another writer (sipas-admin replay, another worker) committed
	 * since our last commit: what we kept may be behind the store. */
	if (mdb_txn_id(b->txn) != b->write_txnid + 1) {
		drop_cache(b);
		b->next_response = b->next_quarantine = 0;
	}
	if (b->next_response == 0)
		rc = next_seq(b->txn, b->s->dbi[DB_RESPONSES], &b->next_response);
	if (rc == 0 && b->next_quarantine == 0)
		rc = next_seq(b->txn, b->s->dbi[DB_QUARANTINE],
			      &b->next_quarantine);
	if (rc != 0) {
		sipas_batch_abort(b);
		return store_fail(rc, "sequence", diag);
	}
	rv = refresh(b, diag);
	if (rv != SIPAS_OK)
		sipas_batch_abort(b);
	return rv;
}

static struct campaign *find_campaign(sipas_batch *b, const char *id)
{
	for (size_t i = 0; i < b->ncamps; i++)
		if (strcmp(b->camps[i].rev.campaign, id) == 0)
			return &b->camps[i];
	return NULL;
}

/* The cache entry of `id`, loading it on first use. */
static sipas_err campaign_of(sipas_batch *b, const char *id,
			     struct campaign **out, sipas_diag *diag)
{
	struct campaign *c = find_campaign(b, id);
	sipas_err rv;

	*out = NULL;
	if (c != NULL) {
		*out = c;
		return SIPAS_OK;
	}
	if (strlen(id) == 0 || strlen(id) > SIPAS_DEF_ID_MAX)
		return SIPAS_OK;
	if (b->ncamps == b->capcamps) {
		/* Campaigns are few; a store with thousands is not a goal. */
		if (b->capcamps >= 4096)
			return SIPAS_OK;
		b->capcamps = b->capcamps ? 2 * b->capcamps : 8;
		b->camps = sipas_xrealloc(b->camps,
					  b->capcamps * sizeof *b->camps);
	}
	c = &b->camps[b->ncamps];
	memset(c, 0, sizeof *c);
	memcpy(c->rev.campaign, id, strlen(id) + 1);
	rv = store_find_campaign(b->s, b->txn, id, &c->rev, NULL);
	if (rv == SIPAS_OK) {
		rv = store_load_revision(b->s, b->txn, &c->rev, &c->def, diag);
		if (rv != SIPAS_OK)
			return rv;
		c->present = true;
	} else if (rv != SIPAS_E_NOT_FOUND) {
		sipas_diag_set(diag, "campaign %s: %s", id, sipas_strerror(rv));
		return rv;
	}
	b->ncamps++;
	*out = c;
	return SIPAS_OK;
}

sipas_err sipas_batch_definition(sipas_batch *b, const char *campaign,
				 const sipas_def **out,
				 const sipas_revision **rev, sipas_diag *diag)
{
	struct campaign *c;
	sipas_err rv = campaign_of(b, campaign, &c, diag);

	*out = NULL;
	if (rv != SIPAS_OK || c == NULL || !c->present)
		return rv;
	*out = c->def;
	if (rev != NULL)
		*rev = &c->rev;
	return SIPAS_OK;
}

/* The counters of (d, unit, form) that the open batch adds to, created on
 * first use and marked dirty. */
static sipas_counts *deltas(sipas_batch *b, const sipas_def *d,
			    const sipas_unit *u, const sipas_form *f)
{
	struct rec *r;
	size_t h;

	if (2 * (b->nrecs + 1) > b->tabcap)
		rehash(b, 2 * b->tabcap, NULL);
	for (h = rec_hash(u->index, f->index, b->tabcap); b->tab[h] != NULL;
	     h = (h + 1) & (b->tabcap - 1)) {
		r = b->tab[h];
		if (r->def == d && r->unit == u->index && r->form == f->index)
			goto found;
	}
	r = sipas_xcalloc(1, sizeof *r);
	r->def = d;
	r->unit = u->index;
	r->form = f->index;
	r->counts = sipas_counts_new(d, f);
	b->tab[h] = r;
	b->nrecs++;
found:
	if (!r->dirty) {
		if (b->ndirty == b->capdirty) {
			b->capdirty = b->capdirty ? 2 * b->capdirty : 256;
			b->dirty = sipas_xrealloc(b->dirty,
						  b->capdirty * sizeof *b->dirty);
		}
		b->dirty[b->ndirty++] = r;
		r->dirty = true;
	}
	return r->counts;
}

/* Look up (campaign, id) in `seen`: 0 and the stored value, or
 * MDB_NOTFOUND. */
static int seen_get(sipas_batch *b, const char *campaign, const char *id,
		    unsigned char *key, MDB_val *k, MDB_val *v)
{
	k->mv_data = key;
	k->mv_size = store_seen_key(key, campaign, id);
	return mdb_get(b->txn, b->s->dbi[DB_SEEN], k, v);
}

static int seen_put(sipas_batch *b, MDB_val *k, const unsigned char hash[16],
		    int state, uint64_t seq)
{
	unsigned char val[SEEN_LEN];
	MDB_val v = {SEEN_LEN, val};
	int rc;

	memcpy(val, hash, 16);
	val[16] = (unsigned char)state;
	store_put_le(val + 17, seq, 8);
	rc = mdb_put(b->txn, b->s->dbi[DB_SEEN], k, &v, 0);
	b->wrote |= rc == 0;
	return rc;
}

/* Append raw with its origin under a new sequence key of dbi. */
static int append_raw(sipas_batch *b, int db, uint64_t seq, uint32_t revision,
		      const void *head, size_t headlen, const void *raw,
		      size_t rawlen, const sipas_origin *from)
{
	unsigned char key[8], *p;
	size_t srclen = from->source ? strlen(from->source) : 0;
	MDB_val k = {8, key}, v;
	int rc;

	if (srclen > SIPAS_DEF_ID_MAX)
		srclen = SIPAS_DEF_ID_MAX;
	store_put_be64(key, seq);
	v.mv_size = 1 + 8 + 1 + srclen + 4 + headlen + rawlen;
	/* MDB_RESERVE: LMDB hands out the space; we write into it once. */
	rc = mdb_put(b->txn, b->s->dbi[db], &k, &v, MDB_APPEND | MDB_RESERVE);
	if (rc != 0)
		return rc;
	b->wrote = true;
	p = v.mv_data;
	p[0] = STORE_ENTRY_VERSION;
	store_put_le(p + 1, (uint64_t)from->received_ms, 8);
	p[9] = (unsigned char)srclen;
	memcpy(p + 10, from->source, srclen);
	p += 10 + srclen;
	store_put_le(p, revision, 4);
	if (headlen > 0)
		memcpy(p + 4, head, headlen);
	memcpy(p + 4 + headlen, raw, rawlen);
	return 0;
}

static sipas_err fail_txn(sipas_batch *b, int rc, const char *what,
			  sipas_diag *diag)
{
	sipas_batch_abort(b);
	return store_fail(rc, what, diag);
}

sipas_err sipas_batch_add(sipas_batch *b, const sipas_def *d,
			  const sipas_checked *chk, const sipas_response *r,
			  const void *raw, size_t rawlen,
			  const sipas_origin *from, sipas_outcome *out,
			  sipas_diag *diag)
{
	unsigned char key[STORE_KEY_MAX], hash[16];
	struct campaign *camp;
	MDB_val k, v;
	int rc;
	sipas_err rv;

	out->status = SIPAS_REJECTED;
	out->code = SIPAS_E_CONFLICT;
	rv = campaign_of(b, r->campaign, &camp, diag);
	if (rv != SIPAS_OK || camp == NULL)
		return rv != SIPAS_OK ? rv : SIPAS_E_NOT_FOUND;
	store_content_hash(r, hash);
	rc = seen_get(b, r->campaign, r->id, key, &k, &v);
	if (rc == 0 && v.mv_size == SEEN_LEN) {
		const unsigned char *sv = v.mv_data;
		bool same = memcmp(sv, hash, 16) == 0;

		if (sv[16] == SEEN_COUNTED || !same) {
			out->status = same ? SIPAS_DUPLICATE : SIPAS_REJECTED;
			out->code = same ? SIPAS_OK : SIPAS_E_CONFLICT;
			if (same)
				camp->delta.duplicates++;
			else
				camp->delta.conflicts++;
			camp->touched = true;
			return SIPAS_OK;
		}
		/* The same response was quarantined and now passes: take it
		 * out of the quarantine and count it below. */
		{
			unsigned char qk[8];
			MDB_val qkey = {8, qk};

			store_put_be64(qk, store_get_le(sv + 17, 8));
			rc = mdb_del(b->txn, b->s->dbi[DB_QUARANTINE], &qkey, NULL);
			if (rc != 0 && rc != MDB_NOTFOUND)
				return fail_txn(b, rc, "quarantine", diag);
			b->wrote |= rc == 0;
			camp->delta.quarantined--;  /* wraps; summed as deltas */
		}
	} else if (rc != MDB_NOTFOUND && rc != 0) {
		return fail_txn(b, rc, "seen", diag);
	}
	rc = seen_put(b, &k, hash, SEEN_COUNTED, b->next_response);
	if (rc == 0)
		rc = append_raw(b, DB_RESPONSES, b->next_response,
				camp->rev.seq, NULL, 0, raw, rawlen, from);
	if (rc != 0)
		return fail_txn(b, rc, "responses", diag);
	b->next_response++;
	sipas_counts_add(deltas(b, d, chk->unit, chk->form), chk);
	camp->delta.accepted++;
	camp->touched = true;
	b->size++;
	out->status = SIPAS_ACCEPTED;
	out->code = SIPAS_OK;
	return SIPAS_OK;
}

sipas_err sipas_batch_quarantine(sipas_batch *b, const sipas_response *r,
				 const void *raw, size_t rawlen,
				 const sipas_origin *from,
				 const sipas_fault *fault, sipas_outcome *out,
				 sipas_diag *diag)
{
	unsigned char key[STORE_KEY_MAX], hash[16], head[4];
	struct campaign *camp = NULL;
	MDB_val k, v;
	sipas_err rv;
	int rc;

	out->status = SIPAS_REJECTED;
	out->code = fault->code;
	rv = campaign_of(b, r->campaign, &camp, diag);
	if (rv != SIPAS_OK)
		return rv;
	store_content_hash(r, hash);
	rc = seen_get(b, r->campaign, r->id, key, &k, &v);
	if (rc == 0 && v.mv_size == SEEN_LEN) {
		const unsigned char *sv = v.mv_data;
		bool same = memcmp(sv, hash, 16) == 0;

		if (sv[16] == SEEN_COUNTED) {
			out->status = same ? SIPAS_DUPLICATE : SIPAS_REJECTED;
			out->code = same ? SIPAS_OK : SIPAS_E_CONFLICT;
		} else if (!same) {
			out->code = SIPAS_E_CONFLICT;
		}
		/* Already quarantined with this content: stored once. */
		return SIPAS_OK;
	} else if (rc != MDB_NOTFOUND && rc != 0) {
		return fail_txn(b, rc, "seen", diag);
	}
	rc = seen_put(b, &k, hash, SEEN_QUARANTINED, b->next_quarantine);
	/* The quarantine entry leads with the refusal code. */
	store_put_le(head, (uint64_t)fault->code, 4);
	if (rc == 0)
		rc = append_raw(b, DB_QUARANTINE, b->next_quarantine,
				camp != NULL ? camp->rev.seq : 0, head,
				sizeof head, raw, rawlen, from);
	if (rc != 0)
		return fail_txn(b, rc, "quarantine", diag);
	b->next_quarantine++;
	if (camp != NULL) {
		camp->delta.quarantined++;
		camp->touched = true;
	}
	b->size++;
	return SIPAS_OK;
}

/* Write the counters of r: the stored record is read and added first,
 * unless r already holds it (whole). */
static int write_counts(sipas_batch *b, struct rec *r)
{
	const sipas_def *d = r->def;
	const char *campaign = sipas_def_campaign(d)->id;
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = {0, key}, v;
	size_t max;
	int rc;

	k.mv_size = store_counter_key(key, campaign, sipas_def_unit(d, r->unit)->id,
				      sipas_def_form(d, r->form)->id);
	if (!r->whole) {
		rc = mdb_get(b->txn, b->s->dbi[DB_COUNTERS], &k, &v);
		if (rc == 0) {
			if (sipas_counts_decode(r->counts, v.mv_data, v.mv_size) !=
			    SIPAS_OK)
				return MDB_CORRUPTED;
		} else if (rc != MDB_NOTFOUND) {
			return rc;
		}
		r->whole = true;
		r->bytes = sipas_counts_footprint(r->counts);
		b->cache_bytes += r->bytes;
	}
	max = sipas_counts_encoded_max(r->counts);
	if (max > b->enccap) {
		b->enccap = max;
		b->enc = sipas_xrealloc(b->enc, max);
	}
	v.mv_data = b->enc;
	v.mv_size = sipas_counts_encode_to(r->counts, b->enc);
	rc = mdb_put(b->txn, b->s->dbi[DB_COUNTERS], &k, &v, 0);
	b->wrote |= rc == 0;
	return rc;
}

static int write_stats(sipas_batch *b, struct campaign *c)
{
	unsigned char key[STORE_KEY_MAX];
	MDB_val k = {0, key}, v;
	sipas_campaign_stats st = c->delta;
	int rc;

	k.mv_size = store_stats_key(key, c->rev.campaign);
	rc = mdb_get(b->txn, b->s->dbi[DB_COUNTERS], &k, &v);
	if (rc == 0) {
		if (sipas_stats_decode(&st, v.mv_data, v.mv_size) != SIPAS_OK)
			return MDB_CORRUPTED;
	} else if (rc != MDB_NOTFOUND) {
		return rc;
	}
	sipas_buf_reset(&b->rec);
	if (sipas_stats_encode(&st, &b->rec) != SIPAS_OK)
		return MDB_BAD_VALSIZE;
	v.mv_data = b->rec.data;
	v.mv_size = b->rec.len;
	rc = mdb_put(b->txn, b->s->dbi[DB_COUNTERS], &k, &v, 0);
	b->wrote |= rc == 0;
	return rc;
}

static void clear_stats(sipas_batch *b)
{
	for (size_t i = 0; i < b->ncamps; i++) {
		memset(&b->camps[i].delta, 0, sizeof b->camps[i].delta);
		b->camps[i].touched = false;
	}
}

static bool is_dirty(const struct rec *r)
{
	return r->dirty;
}

/* After a commit: the records just written stay; when they pass
 * SIPAS_BATCH_CACHE_MAX, the others go, then all of them. */
static void trim_cache(sipas_batch *b)
{
	if (b->cache_bytes > SIPAS_BATCH_CACHE_MAX)
		rehash(b, b->tabcap, is_dirty);
	for (size_t i = 0; i < b->ndirty; i++)
		b->dirty[i]->dirty = false;
	b->ndirty = 0;
	if (b->cache_bytes > SIPAS_BATCH_CACHE_MAX)
		drop_cache(b);
}

sipas_err sipas_batch_commit(sipas_batch *b, sipas_diag *diag)
{
	MDB_txn *txn = b->txn;
	uint64_t id;
	int rc = 0;

	if (txn == NULL)
		return SIPAS_OK;
	for (size_t i = 0; i < b->ndirty && rc == 0; i++)
		rc = write_counts(b, b->dirty[i]);
	for (size_t i = 0; i < b->ncamps && rc == 0; i++)
		if (b->camps[i].touched)
			rc = write_stats(b, &b->camps[i]);
	if (rc != 0)
		return fail_txn(b, rc, "counters", diag);
	id = mdb_txn_id(txn);
	b->last_txnid = id;
	b->txn = NULL;
	rc = mdb_txn_commit(txn);
	clear_stats(b);
	b->size = 0;
	if (rc != 0) {
		/* A failed commit leaves the sequences unknown: re-read them.
		 * The records hold what may not be stored: drop them. */
		b->next_response = b->next_quarantine = 0;
		drop_cache(b);
		return store_fail(rc, "commit", diag);
	}
	/* A transaction that changed nothing commits without taking its id
	 * (the next one gets the same): only a writing commit moves the
	 * id the next transaction must have for the cache to stay. */
	if (b->wrote)
		b->write_txnid = id;
	trim_cache(b);
	return SIPAS_OK;
}

void sipas_batch_abort(sipas_batch *b)
{
	if (b->txn != NULL)
		mdb_txn_abort(b->txn);
	b->txn = NULL;
	b->size = 0;
	b->next_response = b->next_quarantine = 0;
	/* Dirty records hold responses that were not stored. */
	drop_cache(b);
	clear_stats(b);
}

/* A quarantined response that passes now, copied out of the cursor walk
 * (entries cannot be deleted under an open cursor of the same walk). */
struct passing {
	struct passing *next;
	int64_t received_ms;
	char source[SIPAS_DEF_ID_MAX + 1];
	size_t rawlen;
	unsigned char raw[];
};

static bool passes(sipas_batch *b, const struct store_entry *e,
		   sipas_response *r, sipas_checked *chk, sipas_diag *diag)
{
	const sipas_def *d = NULL;
	sipas_fault fault;

	if (sipas_response_decode(e->raw, e->rawlen, r, &fault) != SIPAS_OK)
		return false;
	if (sipas_batch_definition(b, r->campaign, &d, NULL, diag) != SIPAS_OK ||
	    d == NULL)
		return false;
	return sipas_validate(d, r, chk, &fault) == SIPAS_OK;
}

sipas_err sipas_batch_replay(sipas_batch *b, sipas_response *r,
			     size_t *replayed, size_t *remaining,
			     sipas_diag *diag)
{
	struct passing *list = NULL, **tail = &list;
	sipas_checked *chk = sipas_xmalloc(sizeof *chk);
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	sipas_err rv;
	int rc;

	*replayed = *remaining = 0;
	rv = sipas_batch_begin(b, diag);
	if (rv != SIPAS_OK)
		goto out;
	rc = mdb_cursor_open(b->txn, b->s->dbi[DB_QUARANTINE], &cur);
	for (rc = rc ? rc : mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct store_entry e;
		struct passing *p;

		if (store_parse_entry(&key, &val, true, &e) != SIPAS_OK) {
			rc = MDB_CORRUPTED;
			break;
		}
		(*remaining)++;
		if (!passes(b, &e, r, chk, diag))
			continue;
		p = sipas_xmalloc(sizeof *p + e.rawlen);
		p->next = NULL;
		p->received_ms = e.received_ms;
		memcpy(p->source, e.source, sizeof p->source);
		p->rawlen = e.rawlen;
		memcpy(p->raw, e.raw, e.rawlen);
		*tail = p;
		tail = &p->next;
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (rc != MDB_NOTFOUND) {
		rv = fail_txn(b, rc, "quarantine", diag);
		goto out;
	}
	for (struct passing *p = list; p != NULL; p = p->next) {
		sipas_origin from = {p->source, p->received_ms};
		const sipas_def *d = NULL;
		sipas_outcome oc;
		sipas_fault fault;

		/* Decoded and validated again: the walk reused r and chk. */
		if (sipas_response_decode(p->raw, p->rawlen, r, &fault) != SIPAS_OK ||
		    sipas_batch_definition(b, r->campaign, &d, NULL, diag) != SIPAS_OK ||
		    d == NULL || sipas_validate(d, r, chk, &fault) != SIPAS_OK)
			continue;
		rv = sipas_batch_add(b, d, chk, r, p->raw, p->rawlen, &from, &oc,
				     diag);
		if (rv != SIPAS_OK)
			goto out;
		if (oc.status == SIPAS_ACCEPTED) {
			(*replayed)++;
			(*remaining)--;
		}
	}
	rv = sipas_batch_commit(b, diag);
out:
	if (rv != SIPAS_OK)
		sipas_batch_abort(b);
	while (list != NULL) {
		struct passing *next = list->next;

		free(list);
		list = next;
	}
	free(chk);
	return rv;
}
