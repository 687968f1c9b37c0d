/*
 * spool.c - the collector's durable spool and its id memories (see
 * sipas_spool.h for the contract and the on-disk layout).
 *
 * In memory a spool is a ring of entries in append order (seq numbers are
 * consecutive, so an entry is found from its seq by subtraction), a keytab
 * from key to seq, and the list of open segment files. An entry moves
 *     UNSYNCED -> PENDING (sync) -> OUT (next) -> DONE (done)
 *                                   OUT -> PENDING (release)
 * and DONE entries leave the ring from its head. Records appended since the
 * last sync always sit at the tail of the ring and in the current segment
 * (a rotation syncs first), so a failed write or sync rolls back by cutting
 * the current segment back to its synced size.
 */
#define _GNU_SOURCE /* O_DIRECTORY, fdopendir, openat, unlinkat */
#include "sipas_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <xxhash.h>

#include "sipas_limits.h"
#include "sipas_oom.h"

/* ---- hashes ---- */

sipas_hash128 sipas_spool_key(const char *campaign, const char *id)
{
	char small[512], *buf = small;
	size_t nc = strlen(campaign), ni = strlen(id);
	XXH128_hash_t h;

	if (nc + 1 + ni > sizeof small)
		buf = sipas_xmalloc(nc + 1 + ni);
	memcpy(buf, campaign, nc);
	buf[nc] = '\0';
	memcpy(buf + nc + 1, id, ni);
	h = XXH3_128bits(buf, nc + 1 + ni);
	if (buf != small)
		free(buf);
	return (sipas_hash128){h.low64, h.high64};
}

sipas_hash128 sipas_spool_digest(const void *bytes, size_t len)
{
	XXH128_hash_t h = XXH3_128bits(bytes, len);

	return (sipas_hash128){h.low64, h.high64};
}

/* ---- keytab: linear probing, backward-shift deletion ---- */

struct kslot {
	sipas_hash128 key;
	uint64_t val;
	uint64_t used;
};

struct sipas_keytab {
	struct kslot *slot;
	size_t mask; /* capacity - 1, capacity a power of two */
	size_t count;
};

#define KEYTAB_MIN 64

sipas_keytab *sipas_keytab_new(void)
{
	sipas_keytab *t = sipas_xcalloc(1, sizeof *t);

	t->slot = sipas_xcalloc(KEYTAB_MIN, sizeof *t->slot);
	t->mask = KEYTAB_MIN - 1;
	return t;
}

void sipas_keytab_free(sipas_keytab **t)
{
	if (t == NULL || *t == NULL)
		return;
	free((*t)->slot);
	free(*t);
	*t = NULL;
}

/* The slot holding key, or the empty slot where it would go. */
static size_t probe(const sipas_keytab *t, sipas_hash128 key)
{
	size_t i = (size_t)key.lo & t->mask;

	while (t->slot[i].used && !sipas_hash128_eq(t->slot[i].key, key))
		i = (i + 1) & t->mask;
	return i;
}

bool sipas_keytab_get(const sipas_keytab *t, sipas_hash128 key, uint64_t *val)
{
	size_t i = probe(t, key);

	if (!t->slot[i].used)
		return false;
	if (val != NULL)
		*val = t->slot[i].val;
	return true;
}

static void grow(sipas_keytab *t)
{
	struct kslot *old = t->slot;
	size_t oldcap = t->mask + 1;

	t->slot = sipas_xcalloc(oldcap * 2, sizeof *t->slot);
	t->mask = oldcap * 2 - 1;
	for (size_t i = 0; i < oldcap; i++)
		if (old[i].used)
			t->slot[probe(t, old[i].key)] = old[i];
	free(old);
}

void sipas_keytab_put(sipas_keytab *t, sipas_hash128 key, uint64_t val)
{
	size_t i;

	if ((t->count + 1) * 2 > t->mask + 1)
		grow(t);
	i = probe(t, key);
	if (!t->slot[i].used) {
		t->slot[i].used = 1;
		t->slot[i].key = key;
		t->count++;
	}
	t->slot[i].val = val;
}

bool sipas_keytab_del(sipas_keytab *t, sipas_hash128 key)
{
	size_t i = probe(t, key), j = i;

	if (!t->slot[i].used)
		return false;
	/* Shift back every later member of the cluster that may move into
	 * the hole: one whose home is not cyclically within (i, j]. */
	for (;;) {
		size_t home;

		j = (j + 1) & t->mask;
		if (!t->slot[j].used)
			break;
		home = (size_t)t->slot[j].key.lo & t->mask;
		if (i <= j ? (home > i && home <= j) : (home > i || home <= j))
			continue;
		t->slot[i] = t->slot[j];
		i = j;
	}
	memset(&t->slot[i], 0, sizeof t->slot[i]);
	t->count--;
	return true;
}

size_t sipas_keytab_count(const sipas_keytab *t)
{
	return t->count;
}

/* ---- idcache: a ring of (key, digest) and a keytab key -> position ---- */

struct idrec {
	sipas_hash128 key, digest;
};

struct sipas_idcache {
	struct idrec *ring;
	size_t cap;
	uint64_t next; /* positions handed out so far */
	sipas_keytab *where;
};

sipas_idcache *sipas_idcache_new(size_t cap)
{
	sipas_idcache *c = sipas_xcalloc(1, sizeof *c);

	c->cap = cap > 0 ? cap : 1;
	c->ring = sipas_xcalloc(c->cap, sizeof *c->ring);
	c->where = sipas_keytab_new();
	return c;
}

void sipas_idcache_free(sipas_idcache **c)
{
	if (c == NULL || *c == NULL)
		return;
	sipas_keytab_free(&(*c)->where);
	free((*c)->ring);
	free(*c);
	*c = NULL;
}

void sipas_idcache_put(sipas_idcache *c, sipas_hash128 key,
                       sipas_hash128 digest)
{
	uint64_t pos;
	struct idrec *r;

	if (sipas_keytab_get(c->where, key, &pos)) {
		c->ring[pos % c->cap].digest = digest;
		return;
	}
	pos = c->next++;
	r = &c->ring[pos % c->cap];
	if (pos >= c->cap)
		(void)sipas_keytab_del(c->where, r->key);
	r->key = key;
	r->digest = digest;
	sipas_keytab_put(c->where, key, pos);
}

sipas_match sipas_idcache_find(const sipas_idcache *c, sipas_hash128 key,
                               sipas_hash128 digest)
{
	uint64_t pos;

	if (!sipas_keytab_get(c->where, key, &pos))
		return SIPAS_MATCH_NONE;
	return sipas_hash128_eq(c->ring[pos % c->cap].digest, digest)
	           ? SIPAS_MATCH_SAME
	           : SIPAS_MATCH_OTHER;
}

size_t sipas_idcache_count(const sipas_idcache *c)
{
	return sipas_keytab_count(c->where);
}

/* ---- spool ---- */

#define SEG_MAGIC "SIPSPL1\n"
#define SEG_HEADER 8
#define REC_MAGIC 0x31525053u /* "SPR1" read little-endian */
#define REC_HEAD 48
#define REC_TAIL 8
#define REC_MAX (REC_HEAD + SIPAS_MAX_REQUEST + REC_TAIL)

#define DEF_SEGMENT (8u << 20)
#define DEF_MAX_BYTES (1ull << 30)
#define DEF_MAX_ENTRIES 1000000u

struct segment {
	uint64_t id; /* the file is "%016llx.seg" */
	int fd;
	uint64_t size;   /* bytes written */
	uint64_t synced; /* size at the last successful sync */
	uint32_t live;   /* records not done */
};

enum { E_UNSYNCED, E_PENDING, E_OUT, E_DONE };

struct entry {
	struct segment *seg; /* dangling once DONE: never read then */
	uint64_t off;        /* record start in seg */
	uint32_t len;        /* response bytes */
	uint8_t state;
	int64_t received_ms;
	sipas_hash128 key, digest;
};

struct sipas_spool {
	char *dir;
	int dirfd, lockfd;
	sipas_spool_opts o;

	struct segment **seg; /* by id */
	size_t nseg, segcap;
	struct segment *cur; /* where appends go; NULL = start one */
	uint64_t next_seg;

	struct entry *ring; /* capacity a power of two */
	size_t cap, head, n;
	uint64_t head_seq;   /* seq of ring[head] */
	uint64_t cursor;     /* no PENDING entry has a smaller seq */
	sipas_keytab *index; /* key -> seq */

	uint64_t bytes, live, pending, out, unsynced;
	uint64_t recovered, truncated;
	unsigned char *rec; /* REC_MAX scratch */
};

static void put_le(unsigned char *p, uint64_t v, int w)
{
	for (int i = 0; i < w; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int w)
{
	uint64_t v = 0;

	for (int i = w - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static struct entry *entry_at(const sipas_spool *sp, uint64_t seq)
{
	if (seq < sp->head_seq || seq - sp->head_seq >= sp->n)
		return NULL;
	return &sp->ring[(sp->head + (seq - sp->head_seq)) & (sp->cap - 1)];
}

static uint64_t push_entry(sipas_spool *sp, const struct entry *e)
{
	if (sp->n == sp->cap) {
		size_t ncap = sp->cap * 2;
		struct entry *r = sipas_xmalloc(ncap * sizeof *r);

		for (size_t i = 0; i < sp->n; i++)
			r[i] = sp->ring[(sp->head + i) & (sp->cap - 1)];
		free(sp->ring);
		sp->ring = r;
		sp->cap = ncap;
		sp->head = 0;
	}
	sp->ring[(sp->head + sp->n) & (sp->cap - 1)] = *e;
	sp->n++;
	return sp->head_seq + sp->n - 1;
}

static sipas_err io_fail(sipas_diag *diag, const sipas_spool *sp,
                         const char *what, int err)
{
	sipas_diag_set(diag, "%s: %s: %s", sp->dir, what, strerror(err));
	return SIPAS_E_IO;
}

static void seg_name(char *buf, size_t n, uint64_t id)
{
	static const char hex[] = "0123456789abcdef";

	if (n < 21)
		return;
	for (int i = 0; i < 16; i++)
		buf[i] = hex[(id >> (60 - 4 * i)) & 0xf];
	memcpy(buf + 16, ".seg", 5);
}

/* Id of a segment file name, or false when the name is not one. */
static bool seg_parse(const char *name, uint64_t *id)
{
	uint64_t v = 0;

	if (strlen(name) != 20 || strcmp(name + 16, ".seg") != 0)
		return false;
	for (int i = 0; i < 16; i++) {
		char c = name[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
		        : c >= 'a' && c <= 'f' ? c - 'a' + 10
		                               : -1;
		if (d < 0)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*id = v;
	return true;
}

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
	const char *c = p;

	while (n > 0) {
		ssize_t w = pwrite(fd, c, n, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno;
		if (w == 0)
			return EIO;
		c += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* 0, or -1 at end of file before n bytes, or errno. */
static int read_all(int fd, void *p, size_t n, uint64_t off)
{
	char *c = p;

	while (n > 0) {
		ssize_t r = pread(fd, c, n, (off_t)off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return errno;
		if (r == 0)
			return -1;
		c += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

static void seg_add(sipas_spool *sp, struct segment *s)
{
	if (sp->nseg == sp->segcap) {
		size_t ncap = sp->segcap ? sp->segcap * 2 : 8;
		struct segment **a = sipas_xmalloc(ncap * sizeof *a);

		if (sp->nseg > 0)
			memcpy(a, sp->seg, sp->nseg * sizeof *a);
		free(sp->seg);
		sp->seg = a;
		sp->segcap = ncap;
	}
	sp->seg[sp->nseg++] = s; /* ids only grow: stays sorted */
	sp->bytes += s->size;
}

/* Close, unlink and forget segment s. */
static sipas_err seg_delete(sipas_spool *sp, struct segment *s,
                            sipas_diag *diag)
{
	char name[32];
	sipas_err rv = SIPAS_OK;

	seg_name(name, sizeof name, s->id);
	if (unlinkat(sp->dirfd, name, 0) != 0 && errno != ENOENT)
		rv = io_fail(diag, sp, name, errno);
	close(s->fd);
	for (size_t i = 0; i < sp->nseg; i++) {
		if (sp->seg[i] != s)
			continue;
		memmove(&sp->seg[i], &sp->seg[i + 1],
		        (sp->nseg - i - 1) * sizeof *sp->seg);
		sp->nseg--;
		break;
	}
	sp->bytes -= s->size;
	if (sp->cur == s)
		sp->cur = NULL;
	free(s);
	return rv;
}

static void unindex(sipas_spool *sp, const struct entry *e, uint64_t seq)
{
	uint64_t at;

	if (sipas_keytab_get(sp->index, e->key, &at) && at == seq)
		(void)sipas_keytab_del(sp->index, e->key);
}

/*
 * Forget every UNSYNCED entry (the tail of the ring) and cut the current
 * segment back to its synced size. When the cut fails, the first unsynced
 * record's magic is overwritten so that a later open stops before it, and
 * the segment is not appended to again.
 */
static void rollback(sipas_spool *sp)
{
	struct segment *s = sp->cur;

	while (sp->n > 0) {
		uint64_t seq = sp->head_seq + sp->n - 1;
		struct entry *e = entry_at(sp, seq);

		if (e->state != E_UNSYNCED)
			break;
		unindex(sp, e, seq);
		e->seg->live--;
		sp->live--;
		sp->n--;
	}
	sp->unsynced = 0;
	if (s == NULL || s->size == s->synced)
		return;
	if (ftruncate(s->fd, (off_t)s->synced) != 0) {
		static const unsigned char zero[4];

		(void)write_all(s->fd, zero, sizeof zero, s->synced);
		(void)fdatasync(s->fd);
		sp->cur = NULL;
		return; /* the bytes stay counted in s->size */
	}
	(void)fdatasync(s->fd);
	sp->bytes -= s->size - s->synced;
	s->size = s->synced;
}

sipas_err sipas_spool_sync(sipas_spool *sp, sipas_diag *diag)
{
	struct segment *s = sp->cur;

	if (sp->unsynced == 0)
		return SIPAS_OK;
	if (s != NULL && fdatasync(s->fd) != 0) {
		int err = errno;

		rollback(sp);
		return io_fail(diag, sp, "fsync", err);
	}
	for (uint64_t k = 0; k < sp->unsynced; k++) {
		struct entry *e = entry_at(sp, sp->head_seq + sp->n - 1 - k);

		e->state = E_PENDING;
	}
	sp->pending += sp->unsynced;
	sp->unsynced = 0;
	if (s != NULL)
		s->synced = s->size;
	return SIPAS_OK;
}

bool sipas_spool_dirty(const sipas_spool *sp)
{
	return sp->unsynced > 0;
}

/* Start a new, empty segment: file and folder fsync'd. */
static sipas_err seg_create(sipas_spool *sp, sipas_diag *diag)
{
	char name[32];
	struct segment *s;
	int fd, err;

	seg_name(name, sizeof name, sp->next_seg);
	fd = openat(sp->dirfd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
	            0640);
	if (fd < 0)
		return io_fail(diag, sp, name, errno);
	err = write_all(fd, SEG_MAGIC, SEG_HEADER, 0);
	if (err == 0 && fsync(fd) != 0)
		err = errno;
	if (err == 0 && fsync(sp->dirfd) != 0)
		err = errno;
	if (err != 0) {
		close(fd);
		(void)unlinkat(sp->dirfd, name, 0);
		return io_fail(diag, sp, name, err);
	}
	s = sipas_xcalloc(1, sizeof *s);
	s->id = sp->next_seg++;
	s->fd = fd;
	s->size = s->synced = SEG_HEADER;
	seg_add(sp, s);
	sp->cur = s;
	return SIPAS_OK;
}

sipas_match sipas_spool_find(const sipas_spool *sp, sipas_hash128 key,
                             sipas_hash128 digest)
{
	uint64_t seq;
	const struct entry *e;

	if (!sipas_keytab_get(sp->index, key, &seq) ||
	    (e = entry_at(sp, seq)) == NULL)
		return SIPAS_MATCH_NONE;
	return sipas_hash128_eq(e->digest, digest) ? SIPAS_MATCH_SAME
	                                           : SIPAS_MATCH_OTHER;
}

sipas_err sipas_spool_append(sipas_spool *sp, sipas_hash128 key,
                             sipas_hash128 digest, int64_t received_ms,
                             const void *bytes, size_t len, sipas_diag *diag)
{
	size_t reclen = REC_HEAD + len + REC_TAIL;
	unsigned char *r = sp->rec;
	struct entry e;
	sipas_err rv;
	int err;

	if (len > SIPAS_MAX_REQUEST)
		return SIPAS_E_TOO_LARGE;
	if (sipas_keytab_get(sp->index, key, NULL))
		return SIPAS_E_CONFLICT;
	if (sp->live >= sp->o.max_entries ||
	    sp->bytes + reclen + SEG_HEADER > sp->o.max_bytes)
		return SIPAS_E_BUSY;
	if (sp->cur != NULL && sp->cur->size > SEG_HEADER &&
	    sp->cur->size + reclen > sp->o.segment_bytes) {
		/* Rotate: what the old segment holds is made durable first,
		 * so unsynced records never span two files. */
		rv = sipas_spool_sync(sp, diag);
		if (rv != SIPAS_OK)
			return rv;
		sp->cur = NULL;
	}
	if (sp->cur == NULL) {
		rv = sipas_spool_sync(sp, diag);
		if (rv == SIPAS_OK)
			rv = seg_create(sp, diag);
		if (rv != SIPAS_OK)
			return rv;
	}
	e = (struct entry){.seg = sp->cur,
	                   .off = sp->cur->size,
	                   .len = (uint32_t)len,
	                   .state = E_UNSYNCED,
	                   .received_ms = received_ms,
	                   .key = key,
	                   .digest = digest};
	put_le(r, REC_MAGIC, 4);
	put_le(r + 4, len, 4);
	put_le(r + 8, (uint64_t)received_ms, 8);
	put_le(r + 16, key.lo, 8);
	put_le(r + 24, key.hi, 8);
	put_le(r + 32, e.digest.lo, 8);
	put_le(r + 40, e.digest.hi, 8);
	if (len > 0)
		memcpy(r + REC_HEAD, bytes, len);
	put_le(r + REC_HEAD + len, XXH3_64bits(r, REC_HEAD + len), 8);
	err = write_all(sp->cur->fd, r, reclen, sp->cur->size);
	if (err != 0) {
		sp->cur->size += reclen; /* maybe partly written: cut it too */
		sp->bytes += reclen;
		rollback(sp);
		return io_fail(diag, sp, "write", err);
	}
	sp->cur->size += reclen;
	sp->bytes += reclen;
	sp->cur->live++;
	sp->live++;
	sp->unsynced++;
	sipas_keytab_put(sp->index, key, push_entry(sp, &e));
	return SIPAS_OK;
}

static sipas_err forget(sipas_spool *sp, uint64_t seq, sipas_diag *diag);

sipas_err sipas_spool_next(sipas_spool *sp, sipas_buf *out,
                           sipas_spool_item *it, sipas_diag *diag)
{
	uint64_t s = sp->cursor < sp->head_seq ? sp->head_seq : sp->cursor;
	unsigned char *r = sp->rec;
	struct entry *e = NULL;
	sipas_err rv;
	int err;

	if (sp->pending == 0)
		return SIPAS_E_NOT_FOUND;
	for (; (e = entry_at(sp, s)) != NULL; s++) {
		if (e->state == E_PENDING || e->state == E_UNSYNCED)
			break;
	}
	sp->cursor = s;
	if (e == NULL || e->state != E_PENDING)
		return SIPAS_E_NOT_FOUND;
	sp->cursor = s + 1;
	e->state = E_OUT;
	sp->pending--;
	sp->out++;
	sipas_buf_reset(out);
	/* The whole record, checked as open checks it. */
	err = read_all(e->seg->fd, r, REC_HEAD + e->len + REC_TAIL, e->off);
	if (err != 0) {
		rv = io_fail(diag, sp, "read", err < 0 ? EIO : err);
	} else if (get_le(r, 4) != REC_MAGIC || get_le(r + 4, 4) != e->len ||
	           get_le(r + REC_HEAD + e->len, 8) !=
	               XXH3_64bits(r, REC_HEAD + e->len)) {
		sipas_diag_set(diag, "%s: record %llu does not check out",
		               sp->dir, (unsigned long long)s);
		rv = SIPAS_E_IO;
	} else {
		rv = sipas_buf_append(out, r + REC_HEAD, e->len);
	}
	if (rv != SIPAS_OK) {
		sipas_diag ignored;

		/* Unreadable: forget it rather than retry it forever. */
		(void)forget(sp, s, &ignored);
		return SIPAS_E_IO;
	}
	*it = (sipas_spool_item){.seq = s,
	                         .received_ms = e->received_ms,
	                         .key = e->key,
	                         .digest = e->digest};
	return SIPAS_OK;
}

void sipas_spool_release(sipas_spool *sp, uint64_t seq)
{
	struct entry *e = entry_at(sp, seq);

	if (e == NULL || e->state != E_OUT)
		return;
	e->state = E_PENDING;
	sp->out--;
	sp->pending++;
	if (seq < sp->cursor)
		sp->cursor = seq;
}

static sipas_err forget(sipas_spool *sp, uint64_t seq, sipas_diag *diag)
{
	struct entry *e = entry_at(sp, seq);
	struct segment *s;
	sipas_err rv = SIPAS_OK;

	if (e == NULL || e->state == E_DONE || e->state == E_UNSYNCED)
		return SIPAS_OK;
	if (e->state == E_OUT)
		sp->out--;
	else
		sp->pending--;
	e->state = E_DONE;
	unindex(sp, e, seq);
	s = e->seg;
	s->live--;
	sp->live--;
	if (s->live == 0 && s->size == s->synced)
		rv = seg_delete(sp, s, diag);
	while (sp->n > 0 && sp->ring[sp->head].state == E_DONE) {
		sp->head = (sp->head + 1) & (sp->cap - 1);
		sp->head_seq++;
		sp->n--;
	}
	return rv;
}

sipas_err sipas_spool_done(sipas_spool *sp, uint64_t seq, sipas_diag *diag)
{
	return forget(sp, seq, diag);
}

void sipas_spool_stats_get(const sipas_spool *sp, sipas_spool_stats *st)
{
	*st = (sipas_spool_stats){.entries = sp->live,
	                          .pending = sp->pending,
	                          .out = sp->out,
	                          .bytes = sp->bytes,
	                          .segments = (uint32_t)sp->nseg,
	                          .recovered = sp->recovered,
	                          .truncated = sp->truncated};
}

/* ---- open: lock, list, read back ---- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Read the records of segment s (already open); cut a torn tail. */
static sipas_err seg_recover(sipas_spool *sp, struct segment *s,
                             uint64_t filesize, sipas_diag *diag)
{
	unsigned char *r = sp->rec;
	uint64_t off = SEG_HEADER;
	char name[32];

	seg_name(name, sizeof name, s->id);
	for (;;) {
		struct entry e;
		uint64_t len;
		int err;

		if (off == filesize)
			break;
		err = read_all(s->fd, r, REC_HEAD, off);
		if (err > 0)
			return io_fail(diag, sp, name, err);
		len = err == 0 ? get_le(r + 4, 4) : 0;
		if (err < 0 || get_le(r, 4) != REC_MAGIC ||
		    len > SIPAS_MAX_REQUEST ||
		    off + REC_HEAD + len + REC_TAIL > filesize)
			break;
		err = read_all(s->fd, r + REC_HEAD, len + REC_TAIL,
		               off + REC_HEAD);
		if (err > 0)
			return io_fail(diag, sp, name, err);
		if (err < 0 || get_le(r + REC_HEAD + len, 8) !=
		                   XXH3_64bits(r, REC_HEAD + len))
			break;
		e = (struct entry){
		    .seg = s,
		    .off = off,
		    .len = (uint32_t)len,
		    .state = E_PENDING,
		    .received_ms = (int64_t)get_le(r + 8, 8),
		    .key = {get_le(r + 16, 8), get_le(r + 24, 8)},
		    .digest = {get_le(r + 32, 8), get_le(r + 40, 8)}};
		{
			uint64_t seq = push_entry(sp, &e);

			/* A key seen twice (forgotten, then spooled again
			 * before its segment went): the newest copy answers.
			 * Copies are delivered oldest first, and forget()
			 * unindexes a key only when the indexed copy goes,
			 * so the key stays known while any copy is held. */
			sipas_keytab_put(sp->index, e.key, seq);
		}
		s->live++;
		sp->live++;
		sp->pending++;
		sp->recovered++;
		off += REC_HEAD + len + REC_TAIL;
	}
	if (off < filesize) {
		if (ftruncate(s->fd, (off_t)off) != 0 || fsync(s->fd) != 0)
			return io_fail(diag, sp, name, errno);
		sp->truncated += filesize - off;
	}
	s->size = s->synced = off;
	return SIPAS_OK;
}

static sipas_err open_segments(sipas_spool *sp, sipas_diag *diag)
{
	uint64_t *ids = NULL;
	size_t nids = 0, capids = 0;
	sipas_err rv = SIPAS_OK;
	struct dirent *de;
	DIR *d;
	int fd = dup(sp->dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		int err = errno;

		if (fd >= 0)
			close(fd);
		return io_fail(diag, sp, "list", err);
	}
	while ((de = readdir(d)) != NULL) {
		uint64_t id;

		if (!seg_parse(de->d_name, &id))
			continue;
		if (nids == capids) {
			size_t ncap = capids ? capids * 2 : 16;
			uint64_t *a = sipas_xmalloc(ncap * sizeof *a);

			if (nids > 0)
				memcpy(a, ids, nids * sizeof *a);
			free(ids);
			ids = a;
			capids = ncap;
		}
		ids[nids++] = id;
	}
	closedir(d);
	if (nids > 0)
		qsort(ids, nids, sizeof *ids, cmp_u64);
	for (size_t i = 0; i < nids && rv == SIPAS_OK; i++) {
		char name[32], magic[SEG_HEADER];
		struct segment *s;
		struct stat st;
		int sfd, err;

		seg_name(name, sizeof name, ids[i]);
		sp->next_seg = ids[i] + 1;
		sfd = openat(sp->dirfd, name, O_RDWR | O_CLOEXEC);
		if (sfd < 0 || fstat(sfd, &st) != 0) {
			rv = io_fail(diag, sp, name, errno);
			if (sfd >= 0)
				close(sfd);
			break;
		}
		if ((uint64_t)st.st_size < SEG_HEADER) {
			/* Torn while being created: it never held a record. */
			close(sfd);
			(void)unlinkat(sp->dirfd, name, 0);
			sp->truncated += (uint64_t)st.st_size;
			continue;
		}
		err = read_all(sfd, magic, SEG_HEADER, 0);
		if (err != 0 || memcmp(magic, SEG_MAGIC, SEG_HEADER) != 0) {
			close(sfd);
			if (err > 0)
				rv = io_fail(diag, sp, name, err);
			else {
				sipas_diag_set(diag,
				               "%s: %s: not a spool segment",
				               sp->dir, name);
				rv = SIPAS_E_IO;
			}
			break;
		}
		s = sipas_xcalloc(1, sizeof *s);
		s->id = ids[i];
		s->fd = sfd;
		rv = seg_recover(sp, s, (uint64_t)st.st_size, diag);
		if (rv != SIPAS_OK) {
			close(sfd);
			free(s);
			break;
		}
		seg_add(sp, s);
		if (s->live == 0)
			rv = seg_delete(sp, s, diag);
	}
	free(ids);
	return rv;
}

/*
 * fsync the folder that holds the spool folder, so that the spool folder's
 * own entry survives a power cut: a segment's fsync of the spool folder
 * makes the entries inside it durable, not the folder's name in its
 * parent. Done at every open, not only after mkdir, in case an earlier run
 * crashed between its mkdir and this fsync.
 */
static sipas_err sync_parent(sipas_spool *sp, sipas_diag *diag)
{
	int fd = openat(sp->dirfd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0 || fsync(fd) != 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	return err != 0 ? io_fail(diag, sp, "fsync of its parent folder", err)
	                : SIPAS_OK;
}

sipas_err sipas_spool_open(sipas_spool **out, const char *dir,
                           const sipas_spool_opts *opts, sipas_diag *diag)
{
	sipas_spool *sp = sipas_xcalloc(1, sizeof *sp);
	struct flock lk;
	sipas_err rv;

	*out = NULL;
	sp->dir = sipas_xstrndup(dir, strlen(dir));
	sp->dirfd = sp->lockfd = -1;
	if (opts != NULL)
		sp->o = *opts;
	if (sp->o.segment_bytes == 0)
		sp->o.segment_bytes = DEF_SEGMENT;
	if (sp->o.max_bytes == 0)
		sp->o.max_bytes = DEF_MAX_BYTES;
	if (sp->o.max_entries == 0)
		sp->o.max_entries = DEF_MAX_ENTRIES;
	sp->cap = 1024;
	sp->ring = sipas_xmalloc(sp->cap * sizeof *sp->ring);
	sp->index = sipas_keytab_new();
	sp->rec = sipas_xmalloc(REC_MAX);

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		rv = io_fail(diag, sp, "create", errno);
		goto fail;
	}
	sp->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (sp->dirfd < 0) {
		rv = io_fail(diag, sp, "open", errno);
		goto fail;
	}
	rv = sync_parent(sp, diag);
	if (rv != SIPAS_OK)
		goto fail;
	sp->lockfd =
	    openat(sp->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (sp->lockfd < 0) {
		rv = io_fail(diag, sp, "lock", errno);
		goto fail;
	}
	memset(&lk, 0, sizeof lk);
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	if (fcntl(sp->lockfd, F_SETLK, &lk) != 0) {
		if (errno == EAGAIN || errno == EACCES)
			sipas_diag_set(diag, "%s: in use by another process",
			               dir);
		else
			(void)io_fail(diag, sp, "lock", errno);
		rv = SIPAS_E_IO;
		goto fail;
	}
	rv = open_segments(sp, diag);
	if (rv != SIPAS_OK)
		goto fail;
	*out = sp;
	return SIPAS_OK;
fail:
	sipas_spool_close(&sp);
	return rv;
}

void sipas_spool_close(sipas_spool **spp)
{
	sipas_spool *sp;

	if (spp == NULL || *spp == NULL)
		return;
	sp = *spp;
	for (size_t i = 0; i < sp->nseg; i++) {
		close(sp->seg[i]->fd);
		free(sp->seg[i]);
	}
	free(sp->seg);
	if (sp->lockfd >= 0)
		close(sp->lockfd);
	if (sp->dirfd >= 0)
		close(sp->dirfd);
	sipas_keytab_free(&sp->index);
	free(sp->ring);
	free(sp->rec);
	free(sp->dir);
	free(sp);
	*spp = NULL;
}
