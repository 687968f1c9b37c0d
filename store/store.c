/*
 * store.c - the LMDB environment of a sipas store (see sipas_store.h).
 */
#include "sipas_store.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "sipas_oom.h"
#include "store_priv.h"

static const char *const db_names[DB_COUNT] = {
	"meta", "campaigns", "definitions", "responses", "seen", "counters",
	"quarantine"};

/* Campaign record: seq u32, hash u64, defined_at i64, all little-endian. */
#define CAMPAIGN_REC_LEN 20



static sipas_err lmdb_fail(int rc, const char *what, sipas_diag *diag);

static size_t join(unsigned char *key, const char *const *parts, int n)
{
	size_t len = 0;

	for (int i = 0; i < n; i++) {
		size_t k = strlen(parts[i]);

		if (i > 0)
			key[len++] = '\0';
		memcpy(key + len, parts[i], k);
		len += k;
	}
	return len;
}

size_t store_counter_key(unsigned char *key, const char *campaign,
			 const char *unit, const char *form)
{
	const char *parts[] = {campaign, unit, form};

	return join(key, parts, 3);
}

size_t store_stats_key(unsigned char *key, const char *campaign)
{
	const char *parts[] = {campaign, "", ""};

	return join(key, parts, 3);
}

size_t store_seen_key(unsigned char *key, const char *campaign, const char *id)
{
	const char *parts[] = {campaign, id};

	return join(key, parts, 2);
}

sipas_err store_fail(int rc, const char *what, sipas_diag *diag)
{
	return lmdb_fail(rc, what, diag);
}

static sipas_err lmdb_fail(int rc, const char *what, sipas_diag *diag)
{
	sipas_diag_set(diag, "%s: %s", what, mdb_strerror(rc));
	return rc == MDB_MAP_FULL ? SIPAS_E_MAP_FULL : SIPAS_E_STORE;
}

sipas_err sipas_store_default_dir(char *out, size_t len)
{
	const char *home = getenv("SIPAS_HOME");
	int n;

	if (home != NULL && *home != '\0')
		n = snprintf(out, len, "%s/%s", home, SIPAS_STORE_DIRNAME);
	else
		n = snprintf(out, len, "./%s", SIPAS_STORE_DIRNAME);
	return n < 0 || (size_t)n >= len ? SIPAS_E_TOO_LARGE : SIPAS_OK;
}

sipas_err store_make_dirs(const char *dir, sipas_diag *diag)
{
	char path[4096];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof path) {
		sipas_diag_set(diag, "folder name is empty or too long");
		return SIPAS_E_IO;
	}
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			sipas_diag_set(diag, "%s: %s", path, strerror(errno));
			return SIPAS_E_IO;
		}
		path[i] = i < n ? '/' : '\0';
	}
	return SIPAS_OK;
}

/* fsync a folder so the entries created in it (data.mdb, lock.mdb, the
 * store folder itself) survive a power cut: LMDB syncs file contents,
 * never the folders that name the files. */
sipas_err store_sync_dir(const char *path, sipas_diag *diag)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err = 0;

	if (fd < 0 || fsync(fd) != 0)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err != 0) {
		sipas_diag_set(diag, "fsync %s: %s", path, strerror(err));
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}

void store_parent_of(const char *path, char *out, size_t len)
{
	size_t n = strlen(path);

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		snprintf(out, len, ".");
	else
		snprintf(out, len, "%.*s", (int)n, path);
}

/* The store folder and its parent, fsync'd. */
static sipas_err sync_dirs(const char *dir, sipas_diag *diag)
{
	char parent[4096];
	sipas_err rv = store_sync_dir(dir, diag);

	if (rv != SIPAS_OK)
		return rv;
	store_parent_of(dir, parent, sizeof parent);
	return store_sync_dir(parent, diag);
}

int store_txn_begin(sipas_store *s, unsigned flags, MDB_txn **txn)
{
	int rc = mdb_txn_begin(s->env, NULL, flags, txn);

	if (rc == MDB_MAP_RESIZED) {
		/* Another process grew the map: adopt its size and retry. */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, flags, txn);
	}
	if (rc != 0)
		*txn = NULL;
	return rc;
}

int store_last_seq(MDB_txn *txn, MDB_dbi dbi, uint64_t *last)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc = mdb_cursor_open(txn, dbi, &cur);

	*last = 0;
	if (rc != 0)
		return rc;
	rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
	if (rc == MDB_NOTFOUND)
		rc = 0;
	else if (rc == 0 && k.mv_size == 8)
		*last = store_get_be64(k.mv_data);
	else if (rc == 0)
		rc = MDB_CORRUPTED;
	mdb_cursor_close(cur);
	return rc;
}

/* Create the named databases and the format mark, or check the mark. */
static sipas_err init_dbs(sipas_store *s, sipas_diag *diag)
{
	MDB_txn *txn = NULL;
	MDB_val key = {6, (void *)"format"}, val;
	char fmt[16];
	sipas_err rv = SIPAS_OK;
	int rc;

	rc = store_txn_begin(s, 0, &txn);
	if (rc != 0)
		return lmdb_fail(rc, "begin", diag);
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], MDB_CREATE, &s->dbi[i]);
		if (rc != 0) {
			rv = lmdb_fail(rc, db_names[i], diag);
			goto out;
		}
	}
	snprintf(fmt, sizeof fmt, "%d", SIPAS_STORE_FORMAT);
	rc = mdb_get(txn, s->dbi[DB_META], &key, &val);
	if (rc == MDB_NOTFOUND) {
		val.mv_data = fmt;
		val.mv_size = strlen(fmt);
		rc = mdb_put(txn, s->dbi[DB_META], &key, &val, 0);
	} else if (rc == 0 && (val.mv_size != strlen(fmt) ||
			       memcmp(val.mv_data, fmt, val.mv_size) != 0)) {
		sipas_diag_set(diag, "%s: store format %.*s, this sipas reads %s",
			       s->dir, (int)(val.mv_size < 8 ? val.mv_size : 8),
			       (const char *)val.mv_data, fmt);
		rv = SIPAS_E_VERSION;
		goto out;
	}
	if (rc != 0) {
		rv = lmdb_fail(rc, "meta", diag);
		goto out;
	}
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0)
		rv = lmdb_fail(rc, "commit", diag);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rv;
}

sipas_err sipas_store_open(sipas_store **out, const char *dir,
			   const sipas_store_opts *opts, sipas_diag *diag)
{
	sipas_store *s = NULL;
	size_t map_size = opts != NULL && opts->map_size ? opts->map_size
							 : SIPAS_STORE_MAP_DEFAULT;
	sipas_err rv;
	int rc;

	*out = NULL;
	rv = store_make_dirs(dir, diag);
	if (rv != SIPAS_OK)
		return rv;
	s = sipas_xcalloc(1, sizeof *s);
	s->dir = sipas_xstrndup(dir, strlen(dir));
	rc = mdb_env_create(&s->env);
	if (rc == 0)
		rc = mdb_env_set_maxdbs(s->env, DB_COUNT + 4);
	if (rc == 0)
		rc = mdb_env_set_mapsize(s->env, map_size);
	if (rc != 0) {
		rv = lmdb_fail(rc, dir, diag);
		goto out;
	}
	/* Durable by default: no MDB_NOSYNC, no MDB_NOMETASYNC. MDB_NOTLS so
	 * read transactions are not tied to the thread that began them. */
	rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0640);
	if (rc != 0) {
		rv = lmdb_fail(rc, dir, diag);
		goto out;
	}
	/* A killed reader (e.g. sipas-snapshot) leaves its slot taken, which
	 * pins old pages and makes the file grow; free such slots now. */
	mdb_reader_check(s->env, NULL);
	rv = init_dbs(s, diag);
	if (rv == SIPAS_OK)
		rv = sync_dirs(dir, diag);
	if (rv != SIPAS_OK)
		goto out;
	*out = s;
	s = NULL;
out:
	sipas_store_close(&s);
	return rv;
}

sipas_err sipas_store_grow(sipas_store *s, sipas_diag *diag)
{
	MDB_envinfo info;
	int rc;

	mdb_env_info(s->env, &info);
	rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
	return rc == 0 ? SIPAS_OK : lmdb_fail(rc, "grow map", diag);
}

sipas_err sipas_store_reader_check(sipas_store *s, int *cleared,
				   sipas_diag *diag)
{
	int dead = 0, rc = mdb_reader_check(s->env, &dead);

	if (cleared != NULL)
		*cleared = dead;
	return rc == 0 ? SIPAS_OK : lmdb_fail(rc, "reader check", diag);
}

void sipas_store_usage(sipas_store *s, size_t *map_size, size_t *used)
{
	MDB_envinfo info;
	MDB_stat st;

	mdb_env_info(s->env, &info);
	mdb_env_stat(s->env, &st);
	*map_size = info.me_mapsize;
	*used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
}

void sipas_store_close(sipas_store **sp)
{
	sipas_store *s;

	if (sp == NULL || *sp == NULL)
		return;
	s = *sp;
	if (s->env != NULL)
		mdb_env_close(s->env);
	free(s->dir);
	free(s);
	*sp = NULL;
}

static void revision_from_record(sipas_revision *rev, const char *campaign,
				 size_t clen, const MDB_val *val)
{
	const unsigned char *p = val->mv_data;

	memset(rev, 0, sizeof *rev);
	if (clen > SIPAS_DEF_ID_MAX)
		clen = SIPAS_DEF_ID_MAX;
	memcpy(rev->campaign, campaign, clen);
	rev->seq = (uint32_t)store_get_le(p, 4);
	rev->hash = store_get_le(p + 4, 8);
	rev->defined_at = (int64_t)store_get_le(p + 12, 8);
	snprintf(rev->id, sizeof rev->id, "%u-%016llx", rev->seq,
		 (unsigned long long)rev->hash);
}

/* Key of one stored revision: campaign id, NUL, seq big-endian (so the
 * revisions of a campaign sort in order). */
static size_t definition_key(unsigned char *key, const char *campaign,
			     uint32_t seq)
{
	size_t n = strlen(campaign);

	memcpy(key, campaign, n);
	key[n] = '\0';
	for (int i = 0; i < 4; i++)
		key[n + 1 + i] = (unsigned char)(seq >> (8 * (3 - i)));
	return n + 5;
}

/* One attempt at storing a revision; MDB_MAP_FULL is retried by the
 * caller after growing the map. */
static int define_txn(sipas_store *s, const char *json, size_t len,
		      const char *campaign, uint64_t hash, sipas_revision *rev,
		      bool *unchanged)
{
	MDB_txn *txn = NULL;
	MDB_val ckey = {strlen(campaign), (void *)campaign}, cval, dkey, dval;
	unsigned char rec[CAMPAIGN_REC_LEN];
	unsigned char key[SIPAS_DEF_ID_MAX + 5];
	uint32_t seq = 1;
	int rc;

	*unchanged = false;
	rc = store_txn_begin(s, 0, &txn);
	if (rc != 0)
		return rc;
	rc = mdb_get(txn, s->dbi[DB_CAMPAIGNS], &ckey, &cval);
	if (rc == 0 && cval.mv_size == CAMPAIGN_REC_LEN) {
		sipas_revision cur;

		revision_from_record(&cur, campaign, ckey.mv_size, &cval);
		dkey.mv_data = key;
		dkey.mv_size = definition_key(key, campaign, cur.seq);
		rc = mdb_get(txn, s->dbi[DB_DEFINITIONS], &dkey, &dval);
		if (rc == 0 && dval.mv_size == len &&
		    memcmp(dval.mv_data, json, len) == 0) {
			*rev = cur;
			*unchanged = true;
			goto out;
		}
		seq = cur.seq + 1;
	} else if (rc != MDB_NOTFOUND && rc != 0) {
		goto out;
	}
	dkey.mv_data = key;
	dkey.mv_size = definition_key(key, campaign, seq);
	dval.mv_data = (void *)json;
	dval.mv_size = len;
	rc = mdb_put(txn, s->dbi[DB_DEFINITIONS], &dkey, &dval, 0);
	if (rc != 0)
		goto out;
	store_put_le(rec, seq, 4);
	store_put_le(rec + 4, hash, 8);
	store_put_le(rec + 12, (uint64_t)time(NULL), 8);
	cval.mv_data = rec;
	cval.mv_size = sizeof rec;
	rc = mdb_put(txn, s->dbi[DB_CAMPAIGNS], &ckey, &cval, 0);
	if (rc != 0)
		goto out;
	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc == 0)
		revision_from_record(rev, campaign, ckey.mv_size, &cval);
out:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rc;
}

sipas_err sipas_store_define(sipas_store *s, const char *json, size_t len,
			     const sipas_def *def, sipas_revision *rev,
			     bool *unchanged, sipas_diag *diag)
{
	const char *campaign = sipas_def_campaign(def)->id;
	uint64_t hash = XXH3_64bits(json, len);
	int rc;

	for (int attempt = 0;; attempt++) {
		rc = define_txn(s, json, len, campaign, hash, rev, unchanged);
		if (rc != MDB_MAP_FULL || attempt == 3)
			break;
		/* No transaction is open here, which LMDB requires for
		 * growing the map. */
		if (sipas_store_grow(s, diag) != SIPAS_OK)
			return SIPAS_E_STORE;
	}
	return rc == 0 ? SIPAS_OK : lmdb_fail(rc, "define", diag);
}

/* The campaign record of `campaign`, or of the only campaign when NULL. */
sipas_err store_find_campaign(sipas_store *s, MDB_txn *txn,
			       const char *campaign, sipas_revision *rev,
			       sipas_diag *diag)
{
	MDB_val key, val;
	MDB_cursor *cur = NULL;
	sipas_err rv = SIPAS_OK;
	int rc;

	if (campaign != NULL) {
		key.mv_data = (void *)campaign;
		key.mv_size = strlen(campaign);
		rc = mdb_get(txn, s->dbi[DB_CAMPAIGNS], &key, &val);
		if (rc == MDB_NOTFOUND) {
			sipas_diag_set(diag, "%s: no campaign %s", s->dir,
				       campaign);
			return SIPAS_E_NOT_FOUND;
		}
		if (rc != 0)
			return lmdb_fail(rc, "campaigns", diag);
		if (val.mv_size != CAMPAIGN_REC_LEN || key.mv_size > SIPAS_DEF_ID_MAX) {
			sipas_diag_set(diag, "%s: damaged campaign record", s->dir);
			return SIPAS_E_STORE;
		}
		revision_from_record(rev, campaign, key.mv_size, &val);
		return SIPAS_OK;
	}
	rc = mdb_cursor_open(txn, s->dbi[DB_CAMPAIGNS], &cur);
	if (rc != 0)
		return lmdb_fail(rc, "campaigns", diag);
	rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST);
	if (rc == MDB_NOTFOUND) {
		sipas_diag_set(diag, "%s: no campaign is defined", s->dir);
		rv = SIPAS_E_NOT_FOUND;
		goto out;
	}
	if (rc != 0 || val.mv_size != CAMPAIGN_REC_LEN ||
	    key.mv_size > SIPAS_DEF_ID_MAX) {
		rv = rc ? lmdb_fail(rc, "campaigns", diag) : SIPAS_E_STORE;
		goto out;
	}
	revision_from_record(rev, key.mv_data, key.mv_size, &val);
	if (mdb_cursor_get(cur, &key, &val, MDB_NEXT) == 0) {
		sipas_diag_set(diag, "%s: several campaigns; name one", s->dir);
		rv = SIPAS_E_AMBIGUOUS;
	}
out:
	mdb_cursor_close(cur);
	return rv;
}

sipas_err sipas_store_load_definition(sipas_store *s, const char *campaign,
				      sipas_def **out, sipas_revision *rev,
				      sipas_diag *diag)
{
	MDB_txn *txn = NULL;
	sipas_revision r;
	sipas_err rv;
	int rc;

	*out = NULL;
	if (campaign != NULL && strlen(campaign) > SIPAS_DEF_ID_MAX) {
		sipas_diag_set(diag, "%s: no campaign %.64s...", s->dir, campaign);
		return SIPAS_E_NOT_FOUND;
	}
	rc = store_txn_begin(s, MDB_RDONLY, &txn);
	if (rc != 0)
		return lmdb_fail(rc, "begin", diag);
	rv = store_find_campaign(s, txn, campaign, &r, diag);
	if (rv == SIPAS_OK)
		rv = store_load_revision(s, txn, &r, out, diag);
	if (rv == SIPAS_OK && rev != NULL)
		*rev = r;
	mdb_txn_abort(txn);
	return rv;
}

sipas_err store_load_revision(sipas_store *s, MDB_txn *txn,
			      const sipas_revision *r, sipas_def **out,
			      sipas_diag *diag)
{
	unsigned char k[SIPAS_DEF_ID_MAX + 5];
	MDB_val key, val;
	int rc;

	key.mv_data = k;
	key.mv_size = definition_key(k, r->campaign, r->seq);
	rc = mdb_get(txn, s->dbi[DB_DEFINITIONS], &key, &val);
	if (rc != 0)
		return lmdb_fail(rc, "definitions", diag);
	/* The JSON was checked when it was defined; a failure now means the
	 * store is damaged or was written by a different loader. */
	return sipas_def_load(val.mv_data, val.mv_size, r->campaign, out, diag);
}

sipas_err sipas_store_campaigns(sipas_store *s, sipas_revision *revs,
				size_t max, size_t *n, sipas_diag *diag)
{
	MDB_txn *txn = NULL;
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	sipas_err rv = SIPAS_OK;
	int rc;

	*n = 0;
	rc = store_txn_begin(s, MDB_RDONLY, &txn);
	if (rc == 0)
		rc = mdb_cursor_open(txn, s->dbi[DB_CAMPAIGNS], &cur);
	if (rc != 0) {
		rv = lmdb_fail(rc, "campaigns", diag);
		goto out;
	}
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		if (val.mv_size != CAMPAIGN_REC_LEN || key.mv_size > SIPAS_DEF_ID_MAX)
			continue;
		if (*n < max)
			revision_from_record(&revs[*n], key.mv_data, key.mv_size,
					     &val);
		(*n)++;
	}
	if (rc != MDB_NOTFOUND)
		rv = lmdb_fail(rc, "campaigns", diag);
out:
	if (cur != NULL)
		mdb_cursor_close(cur);
	if (txn != NULL)
		mdb_txn_abort(txn);
	return rv;
}

sipas_err store_parse_entry(const MDB_val *key, const MDB_val *val,
			    bool quarantine, struct store_entry *e)
{
	const unsigned char *p = val->mv_data, *k = key->mv_data;
	size_t n = val->mv_size, srclen, head, revlen;

	if (key->mv_size != 8 || n < 10 || p[0] < 1 || p[0] > STORE_ENTRY_VERSION)
		return SIPAS_E_STORE;
	e->seq = store_get_be64(k);
	e->received_ms = (int64_t)store_get_le(p + 1, 8);
	srclen = p[9];
	revlen = p[0] >= 2 ? 4 : 0;
	head = 10 + srclen + revlen + (quarantine ? 4 : 0);
	if (srclen > SIPAS_DEF_ID_MAX || n < head)
		return SIPAS_E_STORE;
	memcpy(e->source, p + 10, srclen);
	e->source[srclen] = '\0';
	e->revision = revlen ? (uint32_t)store_get_le(p + 10 + srclen, 4) : 0;
	e->code = quarantine ? (sipas_err)store_get_le(p + 10 + srclen + revlen, 4)
			     : SIPAS_OK;
	e->raw = p + head;
	e->rawlen = n - head;
	return SIPAS_OK;
}
