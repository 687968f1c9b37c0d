/*
 * verify.c - recompute every counter record from the stored responses and
 * compare with what the store holds (see sipas_verify.h).
 *
 * One read transaction, four cursor walks: responses (decode, check the
 * dedupe record, validate, count - the one pass whose cost grows with the
 * data), seen, quarantine, counters (compare). Counter records are compared
 * by meaning: both sides are read into sorted lists of cells (one per
 * respondents, channel, criterion level, item code, ...), summed over the
 * definition revisions the responses were judged by, then merged.
 */
#include "sipas_verify.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "sipas_buf.h"
#include "sipas_counts.h"
#include "sipas_oom.h"
#include "varint.h"
#include "sipas_protocol.h"
#include "sipas_validate.h"
#include "store_priv.h"

#define ID_LEN (SIPAS_DEF_ID_MAX + 1)
/* A recomputed record never comes near this: it bounds the scratch. */
#define RECORD_MAX ((size_t)64 << 20)

/* A definition revision met in the responses, loaded once. */
struct rev {
	char campaign[ID_LEN];
	uint32_t seq;
	sipas_def *def;            /* NULL: could not be loaded */
	char why[160];             /* ... and why */
	uint64_t lost;             /* responses not counted for that */
	sipas_counts **counts;     /* [unit * nforms + form], made on first use */
	uint32_t nforms;
	size_t ncounts;
};

/* One campaign: what its statistics say, what the records say. */
struct camp {
	char id[ID_LEN];
	uint32_t current;          /* current revision, 0: not defined */
	bool has_stats;
	sipas_campaign_stats stats;
	uint64_t accepted, quarantined;  /* recomputed */
};

/* One value of a counter record, by meaning. */
enum {
	CELL_RESPONDENTS, CELL_CHANNEL, CELL_NA, CELL_LEVEL, CELL_CODES_ANSWERED,
	CELL_CODE, CELL_NUMBER_ANSWERED, CELL_SUM, CELL_VALUE
};

struct cell {
	char id[ID_LEN];           /* "" for respondents and channels */
	int what;
	int64_t sub;               /* channel index, level, code or value */
	uint64_t n;                /* CELL_SUM: the int64 bits */
};

struct cells {
	struct cell *v;
	size_t n, cap;
};

/* A recomputed record: the counts of one (revision, unit, form). */
struct group {
	unsigned char key[STORE_KEY_MAX];
	size_t klen;
	const sipas_counts *counts;
};

struct verify {
	sipas_store *s;
	MDB_txn *txn;
	const char *only;          /* the campaign checked, or NULL: all */
	sipas_verify_fn fn;
	void *ctx;
	sipas_verify_totals tot;

	struct rev *revs;
	size_t nrevs, caprevs, lastrev;
	struct camp *camps;
	size_t ncamps, capcamps, lastcamp;
	/* By response number: a 64-bit hash of the seen key of the response
	 * whose seen record names it back (0: none), for the walk over
	 * `seen`. 8 bytes a response, where a table keyed by id would take
	 * several times that. */
	uint64_t *back;
	uint64_t nback;

	sipas_response *r, *r2;    /* r2: to confirm a duplicate */
	sipas_checked *chk;
	struct cells stored, recomputed;
	sipas_buf enc;
	char where[600], a[200], b[200], detail[600], line[1700];
};

static const char *const kind_names[SIPAS_VERIFY_NKINDS] = {
	"counter", "missing-counter", "stray-counter", "stats", "seen",
	"duplicate", "response", "damaged"};

const char *sipas_verify_kind_name(sipas_verify_kind k)
{
	return (unsigned)k < SIPAS_VERIFY_NKINDS ? kind_names[k] : "unknown";
}

static void *grow(void *p, size_t *cap, size_t size)
{
	*cap = *cap ? 2 * *cap : 16;
	return sipas_xrealloc(p, *cap * size);
}

/* ---- reporting ---- */

static void at(struct verify *v, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void at(struct verify *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->where, sizeof v->where, fmt, ap);
	va_end(ap);
}

static void emit(struct verify *v, sipas_verify_kind kind, const char *stored,
		 const char *recomputed, const char *detail)
{
	sipas_verify_diff d = {kind, v->where, stored, recomputed, detail,
			       v->line};

	if (detail != NULL)
		snprintf(v->line, sizeof v->line, "%s %s: %s",
			 sipas_verify_kind_name(kind), v->where, detail);
	else
		snprintf(v->line, sizeof v->line, "%s %s: stored %s, recomputed %s",
			 sipas_verify_kind_name(kind), v->where, stored,
			 recomputed);
	v->tot.differences++;
	if (v->fn != NULL)
		v->fn(&d, v->ctx);
}

/* A difference of values (at v->where). */
static void differ(struct verify *v, sipas_verify_kind kind,
		   const char *stored, const char *recomputed)
{
	emit(v, kind, stored, recomputed, NULL);
}

/* A difference described in one sentence (at v->where). */
static void problem(struct verify *v, sipas_verify_kind kind,
		    const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void problem(struct verify *v, sipas_verify_kind kind,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(v->detail, sizeof v->detail, fmt, ap);
	va_end(ap);
	emit(v, kind, NULL, NULL, v->detail);
}

static void hex(char *out, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", p[i]);
}

/* ---- campaigns and revisions ---- */

static struct camp *camp_of(struct verify *v, const char *id)
{
	struct camp *c;
	sipas_revision rev;
	size_t n = strlen(id);

	if (n == 0 || n > SIPAS_DEF_ID_MAX)
		return NULL;
	if (v->lastcamp < v->ncamps && strcmp(v->camps[v->lastcamp].id, id) == 0)
		return &v->camps[v->lastcamp];
	for (size_t i = 0; i < v->ncamps; i++) {
		if (strcmp(v->camps[i].id, id) == 0) {
			v->lastcamp = i;
			return &v->camps[i];
		}
	}
	if (v->ncamps == v->capcamps)
		v->camps = grow(v->camps, &v->capcamps, sizeof *v->camps);
	c = &v->camps[v->ncamps];
	memset(c, 0, sizeof *c);
	memcpy(c->id, id, n + 1);
	if (store_find_campaign(v->s, v->txn, id, &rev, NULL) == SIPAS_OK)
		c->current = rev.seq;
	v->lastcamp = v->ncamps++;
	return c;
}

/* Revision `seq` of `campaign`, loaded on first use (def NULL when it
 * cannot be). */
static struct rev *rev_of(struct verify *v, const char *campaign, uint32_t seq)
{
	struct rev *r;
	sipas_revision id;
	sipas_diag diag = {{0}};

	if (v->lastrev < v->nrevs && v->revs[v->lastrev].seq == seq &&
	    strcmp(v->revs[v->lastrev].campaign, campaign) == 0)
		return &v->revs[v->lastrev];
	for (size_t i = 0; i < v->nrevs; i++) {
		if (v->revs[i].seq == seq &&
		    strcmp(v->revs[i].campaign, campaign) == 0) {
			v->lastrev = i;
			return &v->revs[i];
		}
	}
	if (v->nrevs == v->caprevs)
		v->revs = grow(v->revs, &v->caprevs, sizeof *v->revs);
	r = &v->revs[v->nrevs];
	memset(r, 0, sizeof *r);
	snprintf(r->campaign, sizeof r->campaign, "%s", campaign);
	r->seq = seq;
	memset(&id, 0, sizeof id);
	memcpy(id.campaign, r->campaign, sizeof id.campaign);
	id.seq = seq;
	if (store_load_revision(v->s, v->txn, &id, &r->def, &diag) == SIPAS_OK) {
		r->nforms = sipas_def_nforms(r->def);
		r->ncounts = (size_t)sipas_def_nunits(r->def) * r->nforms;
		r->counts = sipas_xcalloc(r->ncounts ? r->ncounts : 1,
					  sizeof *r->counts);
	} else {
		snprintf(r->why, sizeof r->why, "%.150s", diag.msg);
	}
	v->lastrev = v->nrevs++;
	return r;
}

/* ---- responses ---- */

static uint64_t key_hash(const void *key, size_t n)
{
	uint64_t h = XXH3_64bits(key, n);

	return h != 0 ? h : 1;
}

/* Does response `seq` have r's campaign and id? */
static bool same_key(struct verify *v, uint64_t seq, const sipas_response *r)
{
	unsigned char k8[8];
	MDB_val key = {8, k8}, val;
	struct store_entry e;
	sipas_fault fault;

	if (v->r2 == NULL)
		v->r2 = sipas_xmalloc(sizeof *v->r2);
	store_put_be64(k8, seq);
	return mdb_get(v->txn, v->s->dbi[DB_RESPONSES], &key, &val) == 0 &&
	       store_parse_entry(&key, &val, false, &e) == SIPAS_OK &&
	       sipas_response_decode(e.raw, e.rawlen, v->r2, &fault) == SIPAS_OK &&
	       strcmp(v->r2->campaign, r->campaign) == 0 &&
	       strcmp(v->r2->id, r->id) == 0;
}

/* The seen record of response `seq` must say: counted, as this response,
 * with this content. */
static sipas_err check_seen(struct verify *v, const unsigned char *key,
			    size_t klen, uint64_t seq, bool *dup,
			    sipas_diag *diag)
{
	const sipas_response *r = v->r;
	MDB_val k = {klen, (void *)key}, val;
	const unsigned char *sv = NULL;
	unsigned char hash[16];
	uint64_t sseq;
	int rc;

	*dup = false;
	rc = mdb_get(v->txn, v->s->dbi[DB_SEEN], &k, &val);
	if (rc != 0 && rc != MDB_NOTFOUND)
		return store_fail(rc, "seen", diag);
	if (rc == 0)
		sv = val.mv_data;
	if (sv != NULL && val.mv_size == SEEN_LEN && sv[16] == SEEN_COUNTED &&
	    store_get_le(sv + 17, 8) == seq) {
		/* The usual case, once per response: nothing is formatted
		 * unless the content differs. */
		if (seq < v->nback)
			v->back[seq] = key_hash(key, klen);
		store_content_hash(r, hash);
		if (memcmp(sv, hash, 16) != 0) {
			at(v, "%s/%s content hash", r->campaign, r->id);
			hex(v->a, sv, 16);
			hex(v->b, hash, 16);
			differ(v, SIPAS_VERIFY_SEEN, v->a, v->b);
		}
		return SIPAS_OK;
	}
	at(v, "%s/%s", r->campaign, r->id);
	snprintf(v->b, sizeof v->b, "response %llu", (unsigned long long)seq);
	if (sv == NULL) {
		differ(v, SIPAS_VERIFY_SEEN, "none", v->b);
		return SIPAS_OK;
	}
	if (val.mv_size != SEEN_LEN) {
		problem(v, SIPAS_VERIFY_DAMAGED, "seen record of %zu bytes, not %d",
			val.mv_size, SEEN_LEN);
		return SIPAS_OK;
	}
	sseq = store_get_le(sv + 17, 8);
	if (sv[16] == SEEN_COUNTED && same_key(v, sseq, r)) {
		/* Another response of this id, the one `seen` names: this
		 * one is a second copy, counted once (as that one). */
		snprintf(v->a, sizeof v->a, "responses %llu and %llu",
			 (unsigned long long)(sseq < seq ? sseq : seq),
			 (unsigned long long)(sseq < seq ? seq : sseq));
		differ(v, SIPAS_VERIFY_DUPLICATE, v->a, "one response");
		*dup = true;
		return SIPAS_OK;
	}
	if (sv[16] == SEEN_COUNTED)
		snprintf(v->a, sizeof v->a, "response %llu",
			 (unsigned long long)sseq);
	else if (sv[16] == SEEN_QUARANTINED)
		snprintf(v->a, sizeof v->a, "quarantine entry %llu",
			 (unsigned long long)sseq);
	else
		snprintf(v->a, sizeof v->a, "state %u", sv[16]);
	differ(v, SIPAS_VERIFY_SEEN, v->a, v->b);
	return SIPAS_OK;
}

/* Count response e (decoded in v->r) as the write path did: validated
 * against the revision it was judged by, added to its (unit, form). */
static void count(struct verify *v, struct camp *c, const struct store_entry *e)
{
	const sipas_response *r = v->r;
	uint32_t seq = e->revision != 0 ? e->revision : c->current;
	sipas_counts **slot;
	sipas_fault fault;
	struct rev *rev;

	if (seq == 0) {
		at(v, "%llu %s/%s", (unsigned long long)e->seq, r->campaign,
		   r->id);
		problem(v, SIPAS_VERIFY_RESPONSE,
			"campaign %s is not defined; not counted", r->campaign);
		return;
	}
	rev = rev_of(v, r->campaign, seq);
	if (rev->def == NULL) {
		/* Reported once per revision, after the walk. */
		rev->lost++;
		return;
	}
	memset(&fault, 0, sizeof fault);
	if (sipas_validate(rev->def, r, v->chk, &fault) != SIPAS_OK) {
		at(v, "%llu %s/%s", (unsigned long long)e->seq, r->campaign,
		   r->id);
		problem(v, SIPAS_VERIFY_RESPONSE,
			"not valid against revision %u: %s at %s (%s); not counted",
			seq, sipas_err_name(fault.code),
			fault.field[0] ? fault.field : "-", fault.detail);
		return;
	}
	slot = &rev->counts[(size_t)v->chk->unit->index * rev->nforms +
			    v->chk->form->index];
	if (*slot == NULL)
		*slot = sipas_counts_new(rev->def, v->chk->form);
	sipas_counts_add(*slot, v->chk);
}

static sipas_err check_response(struct verify *v, const struct store_entry *e,
				sipas_diag *diag)
{
	const sipas_response *r = v->r;
	unsigned char key[STORE_KEY_MAX];
	struct camp *c;
	bool dup = false;
	sipas_err rv;

	c = camp_of(v, r->campaign);
	if (c == NULL || strlen(r->id) > SIPAS_ID_MAX) {
		at(v, "%llu", (unsigned long long)e->seq);
		problem(v, SIPAS_VERIFY_RESPONSE,
			"campaign or id too long to be stored; not counted");
		return SIPAS_OK;
	}
	rv = check_seen(v, key, store_seen_key(key, r->campaign, r->id), e->seq,
			&dup, diag);
	if (rv != SIPAS_OK || dup)
		return rv;
	c->accepted++;
	count(v, c, e);
	return SIPAS_OK;
}

static sipas_err begin_walk(struct verify *v, int db, MDB_cursor **cur,
			    MDB_val *key, MDB_val *val, int *rc,
			    unsigned char *prefix, size_t *plen,
			    sipas_diag *diag)
{
	if (plen != NULL)
		*plen = 0;
	*rc = mdb_cursor_open(v->txn, v->s->dbi[db], cur);
	if (*rc != 0)
		return store_fail(*rc, "cursor", diag);
	if (v->only != NULL && prefix != NULL && plen != NULL) {
		/* Keys naming a campaign start with its id and a NUL. */
		*plen = strlen(v->only) + 1;
		memcpy(prefix, v->only, *plen);
		key->mv_data = prefix;
		key->mv_size = *plen;
		*rc = mdb_cursor_get(*cur, key, val, MDB_SET_RANGE);
	} else {
		*rc = mdb_cursor_get(*cur, key, val, MDB_FIRST);
	}
	return SIPAS_OK;
}

/* Still inside the campaign's range (always, with no campaign named)? */
static bool in_range(const MDB_val *key, const unsigned char *prefix,
		     size_t plen)
{
	return plen == 0 ||
	       (key->mv_size >= plen && memcmp(key->mv_data, prefix, plen) == 0);
}

static sipas_err walk_responses(struct verify *v, sipas_diag *diag)
{
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	sipas_err rv;
	int rc;

	rv = begin_walk(v, DB_RESPONSES, &cur, &key, &val, &rc, NULL, NULL,
			diag);
	for (; rv == SIPAS_OK && rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct store_entry e;
		sipas_fault fault;

		if (store_parse_entry(&key, &val, false, &e) != SIPAS_OK) {
			at(v, "response %llu",
			   key.mv_size == 8
				   ? (unsigned long long)store_get_be64(key.mv_data)
				   : 0ull);
			problem(v, SIPAS_VERIFY_DAMAGED, "not a response entry");
			continue;
		}
		if (sipas_response_decode(e.raw, e.rawlen, v->r, &fault) !=
		    SIPAS_OK) {
			/* Its campaign is unknown: reported whatever is
			 * checked. */
			at(v, "%llu", (unsigned long long)e.seq);
			problem(v, SIPAS_VERIFY_RESPONSE,
				"cannot be decoded: %s at %s (%s); not counted",
				sipas_err_name(fault.code),
				fault.field[0] ? fault.field : "-", fault.detail);
			continue;
		}
		if (v->only != NULL && strcmp(v->r->campaign, v->only) != 0)
			continue;
		v->tot.responses++;
		rv = check_response(v, &e, diag);
	}
	if (rv == SIPAS_OK && rc != 0 && rc != MDB_NOTFOUND)
		rv = store_fail(rc, "responses", diag);
	if (cur != NULL)
		mdb_cursor_close(cur);
	/* Revisions that could not be loaded: one line each. */
	for (size_t i = 0; rv == SIPAS_OK && i < v->nrevs; i++) {
		const struct rev *r = &v->revs[i];

		if (r->def != NULL || r->lost == 0)
			continue;
		at(v, "%s revision %u", r->campaign, r->seq);
		problem(v, SIPAS_VERIFY_RESPONSE,
			"cannot be loaded (%s); %llu responses not counted",
			r->why, (unsigned long long)r->lost);
	}
	return rv;
}

/* ---- seen and quarantine ---- */

/* "C/ID" of a seen key, into v->where. */
static void seen_where(struct verify *v, const MDB_val *key)
{
	const char *k = key->mv_data;
	const char *nul = memchr(k, '\0', key->mv_size);
	int clen = nul != NULL ? (int)(nul - k) : (int)key->mv_size;

	at(v, "%.*s/%.*s", clen, k,
	   nul != NULL ? (int)key->mv_size - clen - 1 : 0,
	   nul != NULL ? nul + 1 : "");
}

static sipas_err walk_seen(struct verify *v, sipas_diag *diag)
{
	unsigned char prefix[ID_LEN + 1];
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	size_t plen;
	sipas_err rv;
	int rc;

	rv = begin_walk(v, DB_SEEN, &cur, &key, &val, &rc, prefix, &plen, diag);
	for (; rv == SIPAS_OK && rc == 0 && in_range(&key, prefix, plen);
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		const unsigned char *k = key.mv_data, *sv = val.mv_data;
		bool ok = memchr(k, '\0', key.mv_size) != NULL &&
			  val.mv_size == SEEN_LEN;
		uint64_t seq = ok ? store_get_le(sv + 17, 8) : 0;
		int qrc;

		v->tot.seen++;
		if (ok && sv[16] == SEEN_COUNTED) {
			/* The walk over responses marked each response whose
			 * record names it back; a record naming a response
			 * that was not so marked names none of its id. */
			if (seq < v->nback &&
			    v->back[seq] == key_hash(k, key.mv_size))
				continue;
			seen_where(v, &key);
			snprintf(v->a, sizeof v->a, "response %llu",
				 (unsigned long long)seq);
			differ(v, SIPAS_VERIFY_SEEN, v->a, "none");
		} else if (ok && sv[16] == SEEN_QUARANTINED) {
			unsigned char k8[8];
			MDB_val qk = {8, k8}, qv;

			store_put_be64(k8, seq);
			qrc = mdb_get(v->txn, v->s->dbi[DB_QUARANTINE], &qk, &qv);
			if (qrc == MDB_NOTFOUND) {
				seen_where(v, &key);
				snprintf(v->a, sizeof v->a, "quarantine entry %llu",
					 (unsigned long long)seq);
				differ(v, SIPAS_VERIFY_SEEN, v->a, "none");
			} else if (qrc != 0) {
				rv = store_fail(qrc, "quarantine", diag);
			}
		} else {
			seen_where(v, &key);
			if (ok)
				problem(v, SIPAS_VERIFY_DAMAGED,
					"unknown seen state %u", sv[16]);
			else
				problem(v, SIPAS_VERIFY_DAMAGED,
					"not a seen record");
		}
	}
	if (rv == SIPAS_OK && rc != 0 && rc != MDB_NOTFOUND)
		rv = store_fail(rc, "seen", diag);
	if (cur != NULL)
		mdb_cursor_close(cur);
	return rv;
}

static sipas_err walk_quarantine(struct verify *v, sipas_diag *diag)
{
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	sipas_err rv;
	int rc;

	rv = begin_walk(v, DB_QUARANTINE, &cur, &key, &val, &rc, NULL, NULL,
			diag);
	for (; rv == SIPAS_OK && rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct store_entry e;
		sipas_fault fault;
		struct camp *c;

		if (store_parse_entry(&key, &val, true, &e) != SIPAS_OK ||
		    sipas_response_decode(e.raw, e.rawlen, v->r, &fault) !=
			    SIPAS_OK) {
			/* Only decoded responses are ever quarantined. */
			at(v, "quarantine entry %llu",
			   key.mv_size == 8
				   ? (unsigned long long)store_get_be64(key.mv_data)
				   : 0ull);
			problem(v, SIPAS_VERIFY_DAMAGED, "cannot be read");
			continue;
		}
		if (v->only != NULL && strcmp(v->r->campaign, v->only) != 0)
			continue;
		v->tot.quarantined++;
		c = camp_of(v, v->r->campaign);
		if (c != NULL)
			c->quarantined++;
	}
	if (rv == SIPAS_OK && rc != 0 && rc != MDB_NOTFOUND)
		rv = store_fail(rc, "quarantine", diag);
	if (cur != NULL)
		mdb_cursor_close(cur);
	return rv;
}

/* ---- counter records as cells ---- */

static void add_cell(struct cells *cs, const char *id, size_t idlen, int what,
		     int64_t sub, uint64_t n)
{
	struct cell *c;

	if (n == 0)
		return;
	if (cs->n == cs->cap)
		cs->v = grow(cs->v, &cs->cap, sizeof *cs->v);
	c = &cs->v[cs->n++];
	memcpy(c->id, id, idlen);
	c->id[idlen] = '\0';
	c->what = what;
	c->sub = sub;
	c->n = n;
}

/* Append the cells of record rec (format: sipas_counts.h) to cs; false
 * when it is not a record. */
static bool read_record(struct cells *cs, const void *rec, size_t len)
{
	struct varint_reader r = {rec, (const unsigned char *)rec + len, false};
	uint64_t nch, nentries;

	if (len < 3 || memcmp(rec, "SC\x01", 3) != 0)
		return false;
	r.p += 3;
	add_cell(cs, "", 0, CELL_RESPONDENTS, 0, varint_get_u(&r));
	nch = varint_get_u(&r);
	if (r.bad || nch > SIPAS_NCHANNELS)
		return false;
	for (uint64_t i = 0; i < nch; i++)
		add_cell(cs, "", 0, CELL_CHANNEL, (int64_t)i, varint_get_u(&r));
	nentries = varint_get_u(&r);
	if (r.bad || nentries > len)
		return false;
	for (uint64_t i = 0; i < nentries && !r.bad; i++) {
		const char *id;
		uint64_t idlen, n;
		int kind;

		if (r.p >= r.end)
			return false;
		kind = *r.p++;
		idlen = varint_get_u(&r);
		if (r.bad || idlen == 0 || idlen > SIPAS_DEF_ID_MAX ||
		    idlen > (uint64_t)(r.end - r.p))
			return false;
		id = (const char *)r.p;
		r.p += idlen;
		if (kind == 0) {
			int64_t min = varint_get_z(&r);

			/* The rules of sipas_counts_decode: a record the worker
			 * and the snapshot refuse must not pass here. */
			n = varint_get_u(&r);
			if (r.bad || n == 0 || n > SIPAS_MAX_SCALE_LEVELS ||
			    n > (uint64_t)(r.end - r.p))
				return false;
			add_cell(cs, id, idlen, CELL_NA, 0, varint_get_u(&r));
			for (uint64_t k = 0; k < n; k++)
				add_cell(cs, id, idlen, CELL_LEVEL,
					 (int64_t)((uint64_t)min + k),
					 varint_get_u(&r));
		} else if (kind == 1 || kind == 2) {
			add_cell(cs, id, idlen,
				 kind == 1 ? CELL_CODES_ANSWERED
					   : CELL_NUMBER_ANSWERED,
				 0, varint_get_u(&r));
			if (kind == 2)
				add_cell(cs, id, idlen, CELL_SUM, 0,
					 (uint64_t)varint_get_z(&r));
			n = varint_get_u(&r);
			if (r.bad || n > (uint64_t)(r.end - r.p) / 2)
				return false;
			for (uint64_t k = 0; k < n; k++) {
				int64_t code = varint_get_z(&r);

				add_cell(cs, id, idlen,
					 kind == 1 ? CELL_CODE : CELL_VALUE, code,
					 varint_get_u(&r));
			}
		} else {
			return false;
		}
	}
	return !r.bad && r.p == r.end;
}

static int cmp_cell(const void *a, const void *b)
{
	const struct cell *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	if (x->what != y->what)
		return x->what < y->what ? -1 : 1;
	return x->sub < y->sub ? -1 : x->sub > y->sub;
}

/* Sort, sum the cells of the same value, drop zeros: one list per
 * meaning, however the records were split or ordered. */
static void normalise(struct cells *cs)
{
	size_t out = 0;

	if (cs->n > 1)
		qsort(cs->v, cs->n, sizeof *cs->v, cmp_cell);
	for (size_t i = 0; i < cs->n; i++) {
		if (out > 0 && cmp_cell(&cs->v[out - 1], &cs->v[i]) == 0) {
			cs->v[out - 1].n += cs->v[i].n;
			continue;
		}
		cs->v[out++] = cs->v[i];
	}
	cs->n = 0;
	for (size_t i = 0; i < out; i++)
		if (cs->v[i].n != 0)
			cs->v[cs->n++] = cs->v[i];
}

static uint64_t respondents(const struct cells *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].what == CELL_RESPONDENTS && cs->v[i].id[0] == '\0')
			return cs->v[i].n;
	return 0;
}

/* "C/U/F respondents", "C/U/F/A1 level 4", ... into v->where. */
static void cell_where(struct verify *v, const char *base, const struct cell *c)
{
	const char *ch;

	switch (c->what) {
	case CELL_RESPONDENTS:
		at(v, "%s respondents", base);
		break;
	case CELL_CHANNEL:
		ch = c->sub >= 0 && c->sub < SIPAS_NCHANNELS
			     ? sipas_channel_names[c->sub]
			     : "?";
		at(v, "%s channel %s", base, ch);
		break;
	case CELL_NA:
		at(v, "%s/%s not-applicable", base, c->id);
		break;
	case CELL_LEVEL:
		at(v, "%s/%s level %lld", base, c->id, (long long)c->sub);
		break;
	case CELL_CODES_ANSWERED:
	case CELL_NUMBER_ANSWERED:
		at(v, "%s/%s answered", base, c->id);
		break;
	case CELL_CODE:
		at(v, "%s/%s code %lld", base, c->id, (long long)c->sub);
		break;
	case CELL_SUM:
		at(v, "%s/%s sum", base, c->id);
		break;
	default:
		at(v, "%s/%s value %lld", base, c->id, (long long)c->sub);
		break;
	}
}

static void cell_value(char *out, size_t len, const struct cell *c)
{
	if (c == NULL)
		snprintf(out, len, "0");
	else if (c->what == CELL_SUM)
		snprintf(out, len, "%lld", (long long)(int64_t)c->n);
	else
		snprintf(out, len, "%llu", (unsigned long long)c->n);
}

/* One line per value that differs between v->stored and v->recomputed. */
static void compare_cells(struct verify *v, const char *base)
{
	const struct cells *s = &v->stored, *r = &v->recomputed;
	size_t i = 0, j = 0;

	while (i < s->n || j < r->n) {
		const struct cell *cs = i < s->n ? &s->v[i] : NULL;
		const struct cell *cr = j < r->n ? &r->v[j] : NULL;
		int c = cs == NULL ? 1 : cr == NULL ? -1 : cmp_cell(cs, cr);

		if (c < 0)
			cr = NULL;
		else if (c > 0)
			cs = NULL;
		i += cs != NULL;
		j += cr != NULL;
		if (cs != NULL && cr != NULL && cs->n == cr->n)
			continue;
		cell_where(v, base, cs != NULL ? cs : cr);
		cell_value(v->a, sizeof v->a, cs);
		cell_value(v->b, sizeof v->b, cr);
		differ(v, SIPAS_VERIFY_COUNTER, v->a, v->b);
	}
}

/* Compare stored record `val` (NULL: none) of (campaign, unit, form)
 * `base` with the n recomputed groups (0: none). */
static sipas_err compare_record(struct verify *v, const char *base,
				const MDB_val *val, const struct group *g,
				size_t n, sipas_diag *diag)
{
	uint64_t count;

	v->stored.n = v->recomputed.n = 0;
	at(v, "%s", base);
	if (val != NULL && !read_record(&v->stored, val->mv_data, val->mv_size)) {
		problem(v, SIPAS_VERIFY_DAMAGED, "not a counter record");
		return SIPAS_OK;
	}
	for (size_t i = 0; i < n; i++) {
		sipas_buf_reset(&v->enc);
		if (sipas_counts_encode(g[i].counts, &v->enc) != SIPAS_OK ||
		    !read_record(&v->recomputed, v->enc.data, v->enc.len)) {
			sipas_diag_set(diag, "%s: recomputed record does not fit",
				       base);
			return SIPAS_E_TOO_LARGE;
		}
	}
	normalise(&v->stored);
	normalise(&v->recomputed);
	if (val == NULL) {
		count = respondents(&v->recomputed);
		snprintf(v->b, sizeof v->b, "%llu respondent%s",
			 (unsigned long long)count, count == 1 ? "" : "s");
		differ(v, SIPAS_VERIFY_MISSING_COUNTER, "none", v->b);
	} else if (n == 0) {
		count = respondents(&v->stored);
		snprintf(v->a, sizeof v->a, "%llu respondent%s",
			 (unsigned long long)count, count == 1 ? "" : "s");
		differ(v, SIPAS_VERIFY_STRAY_COUNTER, v->a, "none");
	} else {
		compare_cells(v, base);
	}
	return SIPAS_OK;
}

/* LMDB's default key order: bytes, then length. */
static int keycmp(const void *a, size_t alen, const void *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return alen < blen ? -1 : alen > blen;
}

static int cmp_group(const void *a, const void *b)
{
	const struct group *x = a, *y = b;

	return keycmp(x->key, x->klen, y->key, y->klen);
}

/* Split "C\0U\0F" into three NUL-terminated parts (out must hold
 * STORE_KEY_MAX + 1 bytes); false when the key has another shape. */
static bool split_key(const MDB_val *key, char *out, const char **unit,
		      const char **form)
{
	const char *k = key->mv_data;
	const char *n1, *n2;

	if (key->mv_size > STORE_KEY_MAX)
		return false;
	memcpy(out, k, key->mv_size);
	out[key->mv_size] = '\0';
	n1 = memchr(out, '\0', key->mv_size);
	if (n1 == NULL)
		return false;
	n2 = memchr(n1 + 1, '\0', key->mv_size - (size_t)(n1 + 1 - out));
	if (n2 == NULL || memchr(n2 + 1, '\0',
				 key->mv_size - (size_t)(n2 + 1 - out)) != NULL)
		return false;
	*unit = n1 + 1;
	*form = n2 + 1;
	return true;
}

/* The recomputed records, in key order. */
static struct group *make_groups(struct verify *v, size_t *ng)
{
	struct group *g = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < v->nrevs; i++) {
		const struct rev *r = &v->revs[i];

		for (size_t k = 0; r->def != NULL && k < r->ncounts; k++) {
			const sipas_counts *c = r->counts[k];

			if (c == NULL)
				continue;
			if (n == cap)
				g = grow(g, &cap, sizeof *g);
			g[n].klen = store_counter_key(
				g[n].key, r->campaign,
				sipas_def_unit(r->def, (uint32_t)(k / r->nforms))->id,
				c->form->id);
			g[n].counts = c;
			n++;
		}
	}
	if (n > 0)
		qsort(g, n, sizeof *g, cmp_group);
	*ng = n;
	return g;
}

/* The groups from g[i] on with g[i]'s key. */
static size_t run_of(const struct group *g, size_t i, size_t ng)
{
	size_t j = i + 1;

	while (j < ng && cmp_group(&g[i], &g[j]) == 0)
		j++;
	return j - i;
}

/* "C/U/F" of a group, for records the store lacks. */
static void group_base(const struct group *g, char *out, size_t len)
{
	MDB_val k = {g->klen, (void *)g->key};
	char parts[STORE_KEY_MAX + 1];
	const char *unit, *form;

	if (split_key(&k, parts, &unit, &form))
		snprintf(out, len, "%s/%s/%s", parts, unit, form);
	else
		snprintf(out, len, "?");
}

static sipas_err walk_counters(struct verify *v, sipas_diag *diag)
{
	unsigned char prefix[ID_LEN + 1];
	char parts[STORE_KEY_MAX + 1], base[STORE_KEY_MAX + 8];
	const char *unit, *form;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	struct group *g;
	size_t ng, gi = 0, plen;
	sipas_err rv;
	int rc;

	g = make_groups(v, &ng);
	rv = begin_walk(v, DB_COUNTERS, &cur, &key, &val, &rc, prefix, &plen,
			diag);
	for (; rv == SIPAS_OK && rc == 0 && in_range(&key, prefix, plen);
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		size_t n = 0;

		if (!split_key(&key, parts, &unit, &form)) {
			at(v, "counters key of %zu bytes", key.mv_size);
			problem(v, SIPAS_VERIFY_DAMAGED, "not a counter key");
			continue;
		}
		if (*unit == '\0' && *form == '\0') {
			/* Campaign statistics: compared after every walk. */
			struct camp *c = camp_of(v, parts);

			at(v, "%s", parts);
			if (c == NULL) {
				problem(v, SIPAS_VERIFY_DAMAGED,
					"statistics of no campaign");
				continue;
			}
			c->has_stats = true;
			if (sipas_stats_decode(&c->stats, val.mv_data,
					       val.mv_size) != SIPAS_OK)
				problem(v, SIPAS_VERIFY_DAMAGED,
					"not a statistics record");
			continue;
		}
		v->tot.counters++;
		/* Recomputed records sorting before this one: not stored. */
		while (rv == SIPAS_OK && gi < ng &&
		       keycmp(g[gi].key, g[gi].klen, key.mv_data, key.mv_size) < 0) {
			n = run_of(g, gi, ng);
			group_base(&g[gi], base, sizeof base);
			rv = compare_record(v, base, NULL, &g[gi], n, diag);
			gi += n;
		}
		n = 0;
		if (gi < ng &&
		    keycmp(g[gi].key, g[gi].klen, key.mv_data, key.mv_size) == 0)
			n = run_of(g, gi, ng);
		snprintf(base, sizeof base, "%s/%s/%s", parts, unit, form);
		if (rv == SIPAS_OK)
			rv = compare_record(v, base, &val, n ? &g[gi] : NULL, n,
					    diag);
		gi += n;
	}
	if (rv == SIPAS_OK && rc != 0 && rc != MDB_NOTFOUND &&
	    in_range(&key, prefix, plen))
		rv = store_fail(rc, "counters", diag);
	for (size_t n; rv == SIPAS_OK && gi < ng; gi += n) {
		n = run_of(g, gi, ng);
		group_base(&g[gi], base, sizeof base);
		rv = compare_record(v, base, NULL, &g[gi], n, diag);
	}
	if (cur != NULL)
		mdb_cursor_close(cur);
	free(g);
	return rv;
}

static int cmp_camp(const void *a, const void *b)
{
	return strcmp(((const struct camp *)a)->id, ((const struct camp *)b)->id);
}

static void compare_stats(struct verify *v)
{
	if (v->ncamps > 1)
		qsort(v->camps, v->ncamps, sizeof *v->camps, cmp_camp);
	v->lastcamp = 0;
	for (size_t i = 0; i < v->ncamps; i++) {
		const struct camp *c = &v->camps[i];

		if (!c->has_stats && c->accepted == 0 && c->quarantined == 0)
			continue;
		v->tot.campaigns++;
		if (c->stats.accepted != c->accepted) {
			at(v, "%s accepted", c->id);
			snprintf(v->a, sizeof v->a, "%llu",
				 (unsigned long long)c->stats.accepted);
			snprintf(v->b, sizeof v->b, "%llu",
				 (unsigned long long)c->accepted);
			differ(v, SIPAS_VERIFY_STATS, v->a, v->b);
		}
		if (c->stats.quarantined != c->quarantined) {
			at(v, "%s quarantined", c->id);
			snprintf(v->a, sizeof v->a, "%llu",
				 (unsigned long long)c->stats.quarantined);
			snprintf(v->b, sizeof v->b, "%llu",
				 (unsigned long long)c->quarantined);
			differ(v, SIPAS_VERIFY_STATS, v->a, v->b);
		}
	}
}

/* ---- the whole check ---- */

/* Is `campaign` defined, or does it at least have statistics? */
static sipas_err known_campaign(struct verify *v, sipas_diag *diag)
{
	unsigned char k[STORE_KEY_MAX];
	sipas_revision rev;
	MDB_val key = {0, k}, val;
	sipas_err rv;

	/* SIPAS_E_NOT_FOUND: the caller says which campaign is missing. */
	if (strlen(v->only) == 0 || strlen(v->only) > SIPAS_DEF_ID_MAX)
		return SIPAS_E_NOT_FOUND;
	rv = store_find_campaign(v->s, v->txn, v->only, &rev, diag);
	if (rv != SIPAS_E_NOT_FOUND)
		return rv;
	key.mv_size = store_stats_key(k, v->only);
	return mdb_get(v->txn, v->s->dbi[DB_COUNTERS], &key, &val) == 0
		       ? SIPAS_OK
		       : SIPAS_E_NOT_FOUND;
}

/* Response numbers run 1, 2, ... with no gap (append-only), so the
 * last one sizes v->back. A damaged key far beyond the number of
 * responses is not followed: records naming such numbers are reported. */
static sipas_err size_back(struct verify *v, sipas_diag *diag)
{
	MDB_stat st;
	uint64_t last = 0;
	int rc;

	rc = mdb_stat(v->txn, v->s->dbi[DB_RESPONSES], &st);
	if (rc == 0)
		rc = store_last_seq(v->txn, v->s->dbi[DB_RESPONSES], &last);
	/* A damaged last key is reported by the walk; size from the count. */
	if (rc != 0 && rc != MDB_CORRUPTED)
		return store_fail(rc, "responses", diag);
	v->nback = last + 1;
	if (v->nback > 2 * (uint64_t)st.ms_entries + 1024)
		v->nback = 2 * (uint64_t)st.ms_entries + 1024;
	v->back = sipas_xcalloc((size_t)v->nback, sizeof *v->back);
	return SIPAS_OK;
}

static void release(struct verify *v)
{
	for (size_t i = 0; i < v->nrevs; i++) {
		struct rev *r = &v->revs[i];

		for (size_t k = 0; k < r->ncounts; k++)
			sipas_counts_free(&r->counts[k]);
		free(r->counts);
		sipas_def_free(&r->def);
	}
	free(v->revs);
	free(v->camps);
	free(v->back);
	free(v->r);
	free(v->r2);
	free(v->chk);
	free(v->stored.v);
	free(v->recomputed.v);
	sipas_buf_free(&v->enc);
	if (v->txn != NULL)
		mdb_txn_abort(v->txn);
}

sipas_err sipas_verify_store(sipas_store *s, const char *campaign,
			     sipas_verify_fn fn, void *ctx,
			     sipas_verify_totals *out, sipas_diag *diag)
{
	struct verify *v = sipas_xcalloc(1, sizeof *v);
	sipas_err rv = SIPAS_OK;
	int rc;

	v->s = s;
	v->only = campaign;
	v->fn = fn;
	v->ctx = ctx;
	v->r = sipas_xmalloc(sizeof *v->r);
	v->chk = sipas_xmalloc(sizeof *v->chk);
	sipas_buf_init(&v->enc, RECORD_MAX);
	rc = store_txn_begin(s, MDB_RDONLY, &v->txn);
	if (rc != 0) {
		v->txn = NULL;
		rv = store_fail(rc, "begin", diag);
		goto out;
	}
	v->tot.txnid = mdb_txn_id(v->txn);
	if (campaign != NULL) {
		rv = known_campaign(v, diag);
		if (rv == SIPAS_E_NOT_FOUND)
			sipas_diag_set(diag, "%s: no campaign %.64s", s->dir,
				       campaign);
		if (rv != SIPAS_OK)
			goto out;
	}
	rv = size_back(v, diag);
	if (rv != SIPAS_OK)
		goto out;

	rv = walk_responses(v, diag);
	if (rv == SIPAS_OK)
		rv = walk_seen(v, diag);
	if (rv == SIPAS_OK)
		rv = walk_quarantine(v, diag);
	if (rv == SIPAS_OK)
		rv = walk_counters(v, diag);
	if (rv == SIPAS_OK)
		compare_stats(v);
out:
	if (out != NULL)
		*out = v->tot;
	release(v);
	free(v);
	return rv;
}
