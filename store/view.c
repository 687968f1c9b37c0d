/*
 * view.c - consistent point-in-time reads of a store (see sipas_view.h).
 */
#include "sipas_view.h"

#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "store_priv.h"

struct sipas_view {
	sipas_store *s;
	MDB_txn *txn;
};

sipas_err sipas_view_open(sipas_store *s, sipas_view **out, sipas_diag *diag)
{
	sipas_view *v;
	int rc;

	*out = NULL;
	v = sipas_xcalloc(1, sizeof *v);
	v->s = s;
	rc = store_txn_begin(s, MDB_RDONLY, &v->txn);
	if (rc != 0) {
		free(v);
		return store_fail(rc, "begin view", diag);
	}
	*out = v;
	return SIPAS_OK;
}

void sipas_view_close(sipas_view **vp)
{
	if (vp == NULL || *vp == NULL)
		return;
	mdb_txn_abort((*vp)->txn);
	free(*vp);
	*vp = NULL;
}

sipas_err sipas_view_definition(sipas_view *v, const char *campaign,
				sipas_def **out, sipas_revision *rev,
				sipas_diag *diag)
{
	sipas_revision r;
	sipas_err rv;

	*out = NULL;
	if (campaign != NULL && strlen(campaign) > SIPAS_DEF_ID_MAX) {
		sipas_diag_set(diag, "%s: no campaign %.64s...", v->s->dir,
			       campaign);
		return SIPAS_E_NOT_FOUND;
	}
	rv = store_find_campaign(v->s, v->txn, campaign, &r, diag);
	if (rv == SIPAS_OK)
		rv = store_load_revision(v->s, v->txn, &r, out, diag);
	if (rv == SIPAS_OK && rev != NULL)
		*rev = r;
	return rv;
}

sipas_err sipas_view_stats(sipas_view *v, const char *campaign,
			   sipas_campaign_stats *out, sipas_diag *diag)
{
	unsigned char k[STORE_KEY_MAX];
	MDB_val key = {0, k}, val;
	int rc;

	memset(out, 0, sizeof *out);
	key.mv_size = store_stats_key(k, campaign);
	rc = mdb_get(v->txn, v->s->dbi[DB_COUNTERS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return SIPAS_OK;
	if (rc != 0)
		return store_fail(rc, "stats", diag);
	if (sipas_stats_decode(out, val.mv_data, val.mv_size) != SIPAS_OK) {
		sipas_diag_set(diag, "statistics of %s: damaged record", campaign);
		return SIPAS_E_STORE;
	}
	return SIPAS_OK;
}

sipas_err sipas_view_counts(sipas_view *v, const char *campaign,
			    const sipas_unit *u, sipas_counts *c,
			    sipas_diag *diag)
{
	unsigned char k[STORE_KEY_MAX];
	MDB_val key = {0, k}, val;
	sipas_err rv;
	int rc;

	key.mv_size = store_counter_key(k, campaign, u->id, c->form->id);
	rc = mdb_get(v->txn, v->s->dbi[DB_COUNTERS], &key, &val);
	if (rc == MDB_NOTFOUND)
		return SIPAS_OK;
	if (rc != 0)
		return store_fail(rc, "counters", diag);
	rv = sipas_counts_decode(c, val.mv_data, val.mv_size);
	if (rv != SIPAS_OK)
		sipas_diag_set(diag, "counters of %s/%s/%s: damaged record",
			       campaign, u->id, c->form->id);
	return rv;
}

sipas_err sipas_view_quarantine(sipas_view *v,
				int (*fn)(const sipas_quarantined *q, void *ctx),
				void *ctx, sipas_diag *diag)
{
	MDB_cursor *cur = NULL;
	MDB_val key, val;
	sipas_err rv = SIPAS_OK;
	int rc;

	rc = mdb_cursor_open(v->txn, v->s->dbi[DB_QUARANTINE], &cur);
	if (rc != 0)
		return store_fail(rc, "quarantine", diag);
	for (rc = mdb_cursor_get(cur, &key, &val, MDB_FIRST); rc == 0;
	     rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
		struct store_entry e;
		sipas_quarantined q;

		if (store_parse_entry(&key, &val, true, &e) != SIPAS_OK) {
			sipas_diag_set(diag, "quarantine: damaged entry");
			rv = SIPAS_E_STORE;
			break;
		}
		q = (sipas_quarantined){e.seq, e.received_ms, e.source, e.code,
					e.raw, e.rawlen};
		if (fn(&q, ctx) != 0)
			break;
	}
	if (rc != 0 && rc != MDB_NOTFOUND && rv == SIPAS_OK)
		rv = store_fail(rc, "quarantine", diag);
	mdb_cursor_close(cur);
	return rv;
}
