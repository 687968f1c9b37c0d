/*
 * definition_index.c - the storage of a loaded sipas_def (its arena), the
 * sorted id indexes behind every lookup, and the readers of
 * sipas_definition.h. The loader that fills a sipas_def is definition.c.
 */
#include <stdlib.h>
#include <string.h>

#include "definition_priv.h"

#define CHUNK_SIZE (64u * 1024)

/* ---- arena ---- */

void *sipas_def_arena_alloc(struct sipas_chunk **head, size_t n)
{
	const size_t a = _Alignof(max_align_t);
	struct sipas_chunk *c = *head;
	void *p;

	n = (n + a - 1) / a * a;
	if (c == NULL || c->cap - c->used < n) {
		bool big = n > CHUNK_SIZE / 4;

		c = malloc(sizeof *c + (big ? n : CHUNK_SIZE));
		if (c == NULL)
			return NULL;
		c->cap = big ? n : CHUNK_SIZE;
		c->used = 0;
		/* A big block gets a chunk of its own behind the head, so the
		 * room left in the head chunk is not lost. */
		if (big && *head != NULL) {
			c->next = (*head)->next;
			(*head)->next = c;
		} else {
			c->next = *head;
			*head = c;
		}
	}
	p = (unsigned char *)c->data + c->used;
	c->used += n;
	memset(p, 0, n);
	return p;
}

void sipas_def_arena_free(struct sipas_chunk **head)
{
	while (*head != NULL) {
		struct sipas_chunk *next = (*head)->next;

		free(*head);
		*head = next;
	}
}

/* ---- id indexes ---- */

/* Bytes first, then length: a total order for (pointer, length) ids. */
static int id_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

static int idref_cmp(const void *pa, const void *pb)
{
	const struct sipas_idref *a = pa, *b = pb;
	int c = id_cmp(a->id, a->len, b->id, b->len);

	if (c != 0)
		return c;
	return (a->pos > b->pos) - (a->pos < b->pos);
}

int64_t sipas_def_sort_ids(struct sipas_idref *r, size_t n)
{
	int64_t dup = -1;

	if (n == 0)
		return -1;
	qsort(r, n, sizeof *r, idref_cmp);
	/* In a run of equal ids (sorted by position) the second entry is
	 * that id's first repeat; the earliest of those is reported. */
	for (size_t i = 1; i < n; i++) {
		if (id_cmp(r[i - 1].id, r[i - 1].len, r[i].id, r[i].len) != 0)
			continue;
		if (i >= 2 &&
		    id_cmp(r[i - 2].id, r[i - 2].len, r[i].id, r[i].len) == 0)
			continue;
		if (dup < 0 || r[i].pos < dup)
			dup = r[i].pos;
	}
	return dup;
}

const struct sipas_idref *sipas_def_find_ref(const struct sipas_idref *r,
                                             size_t n, const char *id,
                                             size_t len)
{
	size_t lo = 0, hi = n;

	if (id == NULL)
		return NULL;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = id_cmp(id, len, r[mid].id, r[mid].len);

		if (c == 0)
			return &r[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* ---- readers ---- */

void sipas_def_free(sipas_def **d)
{
	if (d == NULL || *d == NULL)
		return;
	sipas_def_arena_free(&(*d)->arena);
	free(*d);
	*d = NULL;
}

const char *sipas_method_name(sipas_method m)
{
	switch (m) {
	case SIPAS_METHOD_MEAN:
		return "mean";
	case SIPAS_METHOD_POOLED:
		return "pooled";
	case SIPAS_METHOD_MEAN_OF_UNITS:
		return "mean_of_units";
	case SIPAS_METHOD_MEAN_OF_BLOCKS:
		return "mean_of_blocks";
	}
	return "unknown";
}

const sipas_campaign *sipas_def_campaign(const sipas_def *d)
{
	return &d->campaign;
}

const sipas_scale *sipas_def_scale(const sipas_def *d)
{
	return &d->scale;
}

const sipas_methods *sipas_def_methods(const sipas_def *d)
{
	return &d->methods;
}

const sipas_display *sipas_def_display(const sipas_def *d)
{
	return &d->display;
}

uint32_t sipas_def_nforms(const sipas_def *d)
{
	return d->nforms;
}

const sipas_form *sipas_def_form(const sipas_def *d, uint32_t i)
{
	return i < d->nforms ? &d->forms[i].pub : NULL;
}

uint32_t sipas_def_nblocks(const sipas_def *d)
{
	return d->nblocks;
}

const sipas_block *sipas_def_block(const sipas_def *d, uint32_t i)
{
	return i < d->nblocks ? &d->blocks[i] : NULL;
}

uint32_t sipas_def_nunits(const sipas_def *d)
{
	return d->nunits;
}

const sipas_unit *sipas_def_unit(const sipas_def *d, uint32_t i)
{
	return i < d->nunits ? &d->units[i] : NULL;
}

const sipas_form *sipas_def_find_form(const sipas_def *d, const char *id,
                                      size_t len)
{
	const struct sipas_idref *r =
	    sipas_def_find_ref(d->form_ix, d->nforms, id, len);

	return r != NULL ? &d->forms[r->pos].pub : NULL;
}

const sipas_block *sipas_def_find_block(const sipas_def *d, const char *id,
                                        size_t len)
{
	const struct sipas_idref *r =
	    sipas_def_find_ref(d->block_ix, d->nblocks, id, len);

	return r != NULL ? &d->blocks[r->pos] : NULL;
}

const sipas_unit *sipas_def_find_unit(const sipas_def *d, const char *id,
                                      size_t len)
{
	const struct sipas_idref *r =
	    sipas_def_find_ref(d->unit_ix, d->nunits, id, len);

	return r != NULL ? &d->units[r->pos] : NULL;
}

int32_t sipas_form_find_slot(const sipas_form *f, const char *id, size_t len)
{
	/* Every sipas_form handed out is the first member of a form_priv. */
	const struct sipas_form_priv *fp = (const struct sipas_form_priv *)f;
	const struct sipas_idref *r =
	    sipas_def_find_ref(fp->slot_ix, f->nslots, id, len);

	return r != NULL ? (int32_t)r->pos : -1;
}

bool sipas_unit_uses_form(const sipas_unit *u, const sipas_form *f)
{
	for (uint32_t i = 0; i < u->nforms; i++)
		if (u->forms[i] == f->index)
			return true;
	return false;
}

bool sipas_scale_is_satisfied(const sipas_scale *s, int64_t level)
{
	for (uint32_t i = 0; i < s->nsatisfied; i++)
		if (s->satisfied[i] == level)
			return true;
	return false;
}
