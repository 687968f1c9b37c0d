/*
 * definition_priv.h - the insides of a sipas_def, shared by the loader
 * (definition.c) and the model's storage, id index and readers
 * (definition_index.c). Nothing else includes it.
 */
#ifndef SIPAS_DEFINITION_PRIV_H
#define SIPAS_DEFINITION_PRIV_H

#include <stddef.h>
#include <stdint.h>
#include "sipas_definition.h"

/*
 * Arena: everything a definition owns lives in a few large chunks freed in
 * one sweep, so a definition of thousands of units costs a handful of
 * mallocs and cannot leak piecemeal.
 */
struct sipas_chunk {
	struct sipas_chunk *next;
	size_t cap, used;
	max_align_t data[];
};

/* n zeroed bytes, suitably aligned, that live until
 * sipas_def_arena_free(); NULL when out of memory. */
void *sipas_def_arena_alloc(struct sipas_chunk **head, size_t n);
void sipas_def_arena_free(struct sipas_chunk **head);

/* An id and where it is (index in its array, or answer slot): one entry of
 * an id index, and the unit of duplicate detection. */
struct sipas_idref {
	const char *id;
	uint32_t len;
	uint32_t pos;
};

/*
 * Sort r by id (bytes, then length), then position. Returns the position
 * of the first entry, in document order, whose id was already used before
 * it, or -1 when all ids are distinct. After the call r is an index for
 * sipas_def_find_ref().
 */
int64_t sipas_def_sort_ids(struct sipas_idref *r, size_t n);

/* Binary search of a sorted index; NULL when id is absent (or NULL). */
const struct sipas_idref *sipas_def_find_ref(const struct sipas_idref *r,
                                             size_t n, const char *id,
                                             size_t len);

/* The public form plus its id index. The public part comes first, so the
 * const sipas_form * handed out can be turned back into this. */
struct sipas_form_priv {
	sipas_form pub;
	const struct sipas_idref *slot_ix; /* nslots entries, sorted by id */
};

struct sipas_def {
	sipas_campaign campaign;
	sipas_scale scale;
	sipas_methods methods;
	sipas_display display;
	uint32_t nforms, nblocks, nunits;
	struct sipas_form_priv *forms;
	sipas_block *blocks;
	sipas_unit *units;
	/* sorted by id: */
	struct sipas_idref *form_ix, *block_ix, *unit_ix;
	struct sipas_chunk *arena;
};

#endif
