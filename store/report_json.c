/*
 * report_json.c - `sipas-snapshot --format json`: the document
 * sipas.snapshot/1 of interfaces.md sections 4 and 5, with jansson.
 *
 * The document is streamed, never built whole (4,000 units make ~20 MB):
 * the head members are one jansson object dumped with JSON_EMBED (no
 * braces), then the units are encoded one by one, with the commas and
 * brackets written between them. Numbers are full precision
 * (JSON_REAL_PRECISION(17) round-trips every double); NAN is null.
 *
 * Speed: encoding the units is nearly all of a snapshot's time (jansson
 * formats every number with snprintf). The units are encoded in chunks on
 * up to one thread per CPU (SIPAS_SNAPSHOT_THREADS overrides), each
 * refilling one jansson tree per form instead of building and freeing one
 * per unit; the calling thread writes the chunks in order, so the bytes
 * never depend on the threads.
 *
 * Layout: compact, one line for the head members, then one line per unit.
 */
#define _GNU_SOURCE /* sched_getaffinity */
#include "sipas_report.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"
#include "sipas_time.h"

#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(17))

static void oom(void)
{
	fprintf(stderr, "<2>OOM out of memory building the snapshot JSON\n");
	abort();
}

static json_t *chk(json_t *j)
{
	if (j == NULL)
		oom();
	return j;
}

static void set(json_t *obj, const char *key, json_t *val)
{
	/* Keys are ASCII literals, definition ids or codes: valid UTF-8. */
	if (json_object_set_new_nocheck(obj, key, chk(val)) != 0)
		oom();
}

static void push(json_t *arr, json_t *val)
{
	if (json_array_append_new(arr, chk(val)) != 0)
		oom();
}

static json_t *num(double x)
{
	return isnan(x) ? json_null() : json_real(x);
}

static json_t *count(uint64_t n)
{
	return json_integer((json_int_t)n);
}

/* Every string comes from a loaded definition, whose text was checked
 * as UTF-8 when it was loaded. */
static json_t *str(const char *s)
{
	return json_string_nocheck(s);
}

static void code_key(char *buf, size_t len, int64_t code)
{
	snprintf(buf, len, "%lld", (long long)code);
}

static json_t *counts_json(const sipas_report *r)
{
	json_t *c = chk(json_object()), *ch = chk(json_object());
	json_t *fm = chk(json_object());

	set(c, "accepted", count(r->stats.accepted));
	set(c, "duplicates", count(r->stats.duplicates));
	set(c, "quarantined", count(r->stats.quarantined));
	/* Only the channels and forms that have responses (see snapshot.md). */
	for (int i = 0; i < SIPAS_NCHANNELS; i++)
		if (r->by_channel[i] > 0)
			set(ch, sipas_channel_names[i],
			    count(r->by_channel[i]));
	set(c, "by_channel", ch);
	for (uint32_t f = 0; f < r->nforms; f++)
		if (r->forms[f].respondents > 0)
			set(fm, r->forms[f].form->id,
			    count(r->forms[f].respondents));
	set(c, "by_form", fm);
	set(c, "conflicts", count(r->stats.conflicts));
	return c;
}

static json_t *above_below(const sipas_report *r, uint32_t n)
{
	return isnan(r->index) ? json_null() : count(n);
}

static json_t *blocks_json(const sipas_report *r)
{
	json_t *arr = chk(json_array());

	for (uint32_t b = 0; b < r->nblocks; b++) {
		const sipas_report_block *rb = &r->blocks[b];
		json_t *o = chk(json_object());

		set(o, "id", str(rb->block->id));
		set(o, "name", str(rb->block->name));
		set(o, "index", num(rb->index));
		set(o, "respondents", count(rb->respondents));
		set(o, "units", count(rb->units));
		set(o, "min", num(rb->spread.min));
		set(o, "max", num(rb->spread.max));
		set(o, "median", num(rb->spread.median));
		set(o, "above", above_below(r, rb->above));
		set(o, "below", above_below(r, rb->below));
		if (r->has_compare) {
			json_t *pv = json_null();

			if (rb->has_previous) {
				pv = chk(json_object());
				set(pv, "index", num(rb->prev_index));
				set(pv, "change",
				    num(rb->index - rb->prev_index));
			}
			set(o, "previous", pv);
		}
		push(arr, o);
	}
	return arr;
}

static json_t *extreme(const sipas_report_unit *u, double x)
{
	json_t *o;

	if (u == NULL)
		return json_null();
	o = chk(json_object());
	set(o, "unit", str(u->unit->id));
	set(o, "index", num(x));
	return o;
}

static json_t *groups_json(const sipas_report *r)
{
	json_t *arr = chk(json_array());

	for (uint32_t g = 0; g < r->ngroups; g++) {
		const sipas_report_group *rg = &r->groups[g];
		json_t *o = chk(json_object());

		set(o, "form", str(rg->form->id));
		set(o, "path", str(rg->group->path));
		set(o, "index", num(rg->index));
		set(o, "min", num(rg->spread.min));
		set(o, "max", num(rg->spread.max));
		set(o, "median", num(rg->spread.median));
		set(o, "lowest", extreme(rg->lowest, rg->lowest_index));
		set(o, "highest", extreme(rg->highest, rg->highest_index));
		set(o, "name", str(rg->group->name));
		set(o, "answered", count(rg->tally.answered));
		set(o, "satisfied", count(rg->tally.satisfied));
		push(arr, o);
	}
	return arr;
}

static json_t *compare_json(const sipas_report *r)
{
	json_t *o = chk(json_object());

	set(o, "campaign", str(r->prev_campaign));
	set(o, "index", num(r->prev_index));
	set(o, "change", num(r->index - r->prev_index));
	set(o, "units_compared", count(r->units_compared));
	set(o, "units_improved", count(r->units_improved));
	set(o, "units_declined", count(r->units_declined));
	return o;
}

/* Encoded JSON text, grown as jansson hands it over token by token. */
struct text {
	char *p;
	size_t len, cap;
};

static int append(const char *buf, size_t n, void *data)
{
	struct text *t = data;

	if (n > t->cap - t->len) {
		size_t cap = t->cap ? t->cap : 1 << 16;

		while (n > cap - t->len)
			cap *= 2;
		t->p = sipas_xrealloc(t->p, cap);
		t->cap = cap;
	}
	memcpy(t->p + t->len, buf, n);
	t->len += n;
	return 0;
}

/* Encode j into t, after what t holds. */
static void encode(struct text *t, const json_t *j, size_t flags)
{
	/* json_dump_callback fails only without memory: append never does. */
	if (json_dump_callback(j, append, t, DUMP_FLAGS | flags) != 0)
		oom();
}

/* ---- units: one tree per renderer, refilled in place ---- */

/*
 * The JSON of one unit is nearly the same tree as the one before it: the
 * same members, the same groups and criteria of the same forms. Building
 * and freeing that tree for every unit (a json_t, a key and a hashtable
 * pair per number) cost as much as encoding it, so each renderer keeps
 * the tree and only stores each unit's numbers into it
 * (json_integer_set, json_real_set). A value whose type changes from one
 * unit to the next (an index that is NAN, hence null; a rank) is replaced
 * in its container, which keeps the member's place.
 *
 * The same fill functions build the tree and refill it: in build mode
 * (t->build) they create the containers and register every value as a
 * field, in document order; in refill mode the containers they are passed
 * are NULL and they visit the fields in that same order.
 */
struct field {
	json_t *parent;  /* the object or array that holds val */
	const char *key; /* in an object (it outlives the report's
	                  * rendering); NULL: at index idx of an array */
	size_t idx;
	json_t *val; /* the parent's reference */
};

struct tpl {
	struct field *f;
	size_t n, cap; /* fields registered */
	size_t cur;    /* refill: the next field */
	bool build;
};

/* Build mode: add v to parent (under key, or at its end) as a field. */
static void field_add(struct tpl *t, json_t *parent, const char *key,
                      json_t *v)
{
	struct field *fl;

	if (t->n == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 64;
		t->f = sipas_xrealloc(t->f, t->cap * sizeof *t->f);
	}
	fl = &t->f[t->n++];
	fl->parent = parent;
	fl->key = key;
	fl->idx = key == NULL ? json_array_size(parent) : 0;
	fl->val = chk(v);
	if (key != NULL)
		set(parent, key, v);
	else
		push(parent, v);
}

/* Refill mode: the field's new value, in place of the old one. */
static void replace(struct field *fl, json_t *v)
{
	fl->val = chk(v);
	if (fl->key != NULL)
		set(fl->parent, fl->key, v);
	else if (json_array_set_new(fl->parent, fl->idx, v) != 0)
		oom();
}

/* A value that is new for every unit (a string, a boolean). */
static void t_val(struct tpl *t, json_t *parent, const char *key, json_t *v)
{
	if (t->build)
		field_add(t, parent, key, v);
	else
		replace(&t->f[t->cur++], v);
}

static void t_count(struct tpl *t, json_t *parent, const char *key,
                    json_int_t n)
{
	struct field *fl;

	if (t->build) {
		field_add(t, parent, key, json_integer(n));
		return;
	}
	fl = &t->f[t->cur++];
	if (json_integer_set(fl->val, n) != 0)
		replace(fl, json_integer(n));
}

/* A count, or null when !has. */
static void t_count_or_null(struct tpl *t, json_t *parent, const char *key,
                            bool has, json_int_t n)
{
	struct field *fl;

	if (t->build) {
		field_add(t, parent, key, has ? json_integer(n) : json_null());
		return;
	}
	fl = &t->f[t->cur++];
	if (!has) {
		if (!json_is_null(fl->val))
			replace(fl, json_null());
	} else if (json_integer_set(fl->val, n) != 0) {
		replace(fl, json_integer(n));
	}
}

/* A number, null when NAN (as num()). */
static void t_num(struct tpl *t, json_t *parent, const char *key, double x)
{
	struct field *fl;

	if (t->build) {
		field_add(t, parent, key, num(x));
		return;
	}
	fl = &t->f[t->cur++];
	if (isnan(x)) {
		if (!json_is_null(fl->val))
			replace(fl, json_null());
	} else if (json_real_set(fl->val, x) != 0) {
		/* Not a real yet (or infinite: json_real fails as before). */
		replace(fl, json_real(x));
	}
}

/* A container (json_object() or json_array()) whose members change with
 * the unit: emptied for the refill; NULL-safe in refill mode. */
static json_t *t_container(struct tpl *t, json_t *parent, const char *key,
                           json_t *(*make)(void))
{
	json_t *c;

	if (t->build) {
		c = chk(make());
		field_add(t, parent, key, c);
		return c;
	}
	c = t->f[t->cur++].val;
	if (json_is_object(c) ? json_object_clear(c) : json_array_clear(c))
		oom();
	return c;
}

/* Build mode: a new container added to parent (under key, or at its
 * end); refill mode: NULL (the fields know their containers). */
static json_t *t_fixed(struct tpl *t, json_t *parent, const char *key,
                       json_t *(*make)(void))
{
	json_t *c;

	if (!t->build)
		return NULL;
	c = chk(make());
	if (key != NULL)
		set(parent, key, c);
	else
		push(parent, c);
	return c;
}

static void item_fill(struct tpl *t, json_t *o, const sipas_report *r,
                      const sipas_report_uform *uf, uint32_t j)
{
	const sipas_item *it = &uf->form->items[j];
	double mean, median;
	const uint64_t *row = sipas_report_item(r, uf, j, &mean, &median);
	json_t *counts, *share;
	char key[24];

	t_count(t, o, "answered", (json_int_t)row[0]);
	if (it->kind == SIPAS_ITEM_NUMBER) {
		t_num(t, o, "mean", mean);
		t_num(t, o, "median", median);
		return;
	}
	/* The codes somebody chose, in the definition's order: like
	 * counts.by_channel, a count map leaves out its zeros. */
	counts = t_container(t, o, "counts", json_object);
	for (uint32_t k = 0; k < it->ncodes; k++) {
		if (row[1 + k] == 0)
			continue;
		code_key(key, sizeof key, it->codes[k]);
		set(counts, key, count(row[1 + k]));
	}
	if (it->kind == SIPAS_ITEM_MULTI) {
		share = t_container(t, o, "respondents_share", json_object);
		for (uint32_t k = 0; k < it->ncodes; k++) {
			sipas_tally tl = {row[1 + k], row[0]};

			if (row[1 + k] == 0)
				continue;
			code_key(key, sizeof key, it->codes[k]);
			set(share, key, num(sipas_index_rate(tl)));
		}
	}
}

/* The form's member of a unit's "forms"; o is the new object in build
 * mode, NULL in refill mode. */
static void uform_fill(struct tpl *t, json_t *o, const sipas_report *r,
                       const sipas_report_uform *uf)
{
	const sipas_form *f = uf->form;
	json_t *groups, *crit, *items;

	if (t->build)
		set(o, "form", str(f->id));
	t_count(t, o, "respondents", (json_int_t)uf->respondents);
	t_num(t, o, "index", uf->index);
	groups = t_fixed(t, o, "groups", json_array);
	for (uint32_t g = 0; g < f->ngroups; g++) {
		json_t *go = t_fixed(t, groups, NULL, json_object);

		if (t->build)
			set(go, "path", str(f->groups[g].path));
		t_num(t, go, "index", uf->group_index[g]);
		t_count(t, go, "answered",
		        (json_int_t)uf->group_tally[g].answered);
		t_count(t, go, "satisfied",
		        (json_int_t)uf->group_tally[g].satisfied);
	}
	crit = t_fixed(t, o, "criteria", json_array);
	for (uint32_t i = 0; i < f->ncriteria; i++) {
		const uint64_t *d = sipas_report_dist(r, uf, i);
		json_t *co = t_fixed(t, crit, NULL, json_object), *dist;

		if (t->build)
			set(co, "id", str(f->criteria[i].id));
		t_count(t, co, "answered", (json_int_t)uf->crit[i].answered);
		t_count(t, co, "satisfied", (json_int_t)uf->crit[i].satisfied);
		t_count(t, co, "na", (json_int_t)d[0]);
		t_num(t, co, "rate", sipas_index_rate(uf->crit[i]));
		dist = t_fixed(t, co, "dist", json_array);
		for (uint32_t k = 0; k < r->nlevels; k++)
			t_count(t, dist, NULL, (json_int_t)d[1 + k]);
	}
	items = t_fixed(t, o, "items", json_object);
	for (uint32_t j = 0; j < f->nitems; j++)
		item_fill(t, t_fixed(t, items, f->items[j].id, json_object), r,
		          uf, j);
}

/* The unit's "previous" member (with a comparison). */
static json_t *previous_json(const sipas_report_unit *u)
{
	json_t *pv;

	if (!u->has_previous)
		return json_null();
	pv = chk(json_object());
	set(pv, "index", num(u->prev_index));
	set(pv, "rank", u->prev_rank > 0 ? count(u->prev_rank) : json_null());
	set(pv, "change", num(u->index - u->prev_index));
	set(pv, "rank_change",
	    u->rank > 0 && u->prev_rank > 0
	        ? json_integer((json_int_t)u->prev_rank - (json_int_t)u->rank)
	        : json_null());
	return pv;
}

/* A renderer's trees: one unit object, one object per form of the
 * definition (the unit's "forms" holds references to those it uses). */
struct form_tree {
	struct tpl t;
	json_t *obj;   /* NULL until a unit uses the form */
	uint32_t unit; /* the last unit that used it, plus one */
};

struct renderer {
	struct tpl t;
	json_t *obj; /* the unit object; NULL before the first unit */
	struct form_tree *forms; /* by the definition's form index */
	uint32_t nforms;
	/* The chunk being encoded. Its own, not a slot's: jansson appends
	 * token by token, and two threads writing t->len in neighbouring
	 * slots (one cache line) made each of them half as fast. */
	struct text text;
};

static void renderer_init(struct renderer *rd, const sipas_report *r)
{
	memset(rd, 0, sizeof *rd);
	rd->nforms = r->nforms;
	rd->forms = sipas_xcalloc(rd->nforms ? rd->nforms : 1,
	                          sizeof *rd->forms);
}

static void renderer_free(struct renderer *rd)
{
	for (uint32_t i = 0; i < rd->nforms; i++) {
		json_decref(rd->forms[i].obj);
		free(rd->forms[i].t.f);
	}
	free(rd->forms);
	json_decref(rd->obj);
	free(rd->t.f);
	free(rd->text.p);
}

/* The form's object for unit u (position ui), refilled; a new reference. */
static json_t *form_tree(struct renderer *rd, const sipas_report *r,
                         uint32_t ui, const sipas_report_uform *uf)
{
	struct form_tree *ft = &rd->forms[uf->form->index];

	/* A definition lists a form once per unit (the loader refuses
	 * duplicates); were it listed twice, the second gets a tree of its
	 * own rather than overwrite the first. */
	if (ft->unit == ui + 1) {
		struct tpl once = {.build = true};
		json_t *o = chk(json_object());

		uform_fill(&once, o, r, uf);
		free(once.f);
		return o;
	}
	ft->unit = ui + 1;
	ft->t.cur = 0;
	if (ft->obj == NULL) {
		ft->t.build = true;
		ft->obj = chk(json_object());
		uform_fill(&ft->t, ft->obj, r, uf);
		ft->t.build = false;
	} else {
		uform_fill(&ft->t, NULL, r, uf);
	}
	return json_incref(ft->obj);
}

/* The renderer's unit object, filled with unit ui (borrowed). */
static json_t *unit_tree(struct renderer *rd, const sipas_report *r,
                         uint32_t ui)
{
	const sipas_report_unit *u = &r->units[ui];
	struct tpl *t = &rd->t;
	json_t *o = rd->obj, *forms;

	t->build = o == NULL;
	t->cur = 0;
	if (t->build)
		o = rd->obj = chk(json_object());
	t_val(t, o, "id", str(u->unit->id));
	t_val(t, o, "name", str(u->unit->name));
	t_val(t, o, "block", str(sipas_def_block(r->def, u->unit->block)->id));
	t_count(t, o, "respondents", (json_int_t)u->respondents);
	t_num(t, o, "index", u->index);
	t_count_or_null(t, o, "rank", u->rank > 0, u->rank);
	t_val(t, o, "low_sample", json_boolean(u->low_sample));
	if (r->has_compare)
		t_val(t, o, "previous", previous_json(u));
	forms = t_container(t, o, "forms", json_array);
	for (uint32_t k = 0; k < u->nforms; k++)
		push(forms, form_tree(rd, r, ui, &u->forms[k]));
	t->build = false;
	return o;
}

static json_t *head_json(const sipas_report *r)
{
	json_t *o = chk(json_object());
	char taken[21];

	sipas_time_format_utc(r->taken_at, taken);
	set(o, "schema", str(SIPAS_SNAPSHOT_SCHEMA));
	set(o, "campaign", str(r->campaign));
	set(o, "taken_at", str(taken));
	set(o, "definition_revision", str(r->revision));
	set(o, "counts", counts_json(r));
	set(o, "index", num(r->index));
	set(o, "blocks", blocks_json(r));
	set(o, "groups", groups_json(r));
	if (r->has_compare)
		set(o, "compare", compare_json(r));
	return o;
}

/* ---- rendering in chunks, on several threads ---- */

/* Units per chunk: ~150 KB of JSON for the units of a national campaign,
 * big enough that the threads rarely meet on the lock, small enough that
 * the chunks in flight stay a few MB whatever the campaign's size. */
#define CHUNK_UNITS 32
/* At most this many threads render (the calling one included): the head
 * members, the report itself and the writing stay on one thread, so more
 * would mostly wait. */
#define MAX_THREADS 4

/* The units of chunk c, each after its separator, into rd->text. */
static void render_chunk(struct renderer *rd, const sipas_report *r,
                         uint32_t c)
{
	struct text *t = &rd->text;
	uint32_t end = r->nunits - c * CHUNK_UNITS > CHUNK_UNITS
	                   ? (c + 1) * CHUNK_UNITS
	                   : r->nunits;

	t->len = 0;
	for (uint32_t u = c * CHUNK_UNITS; u < end; u++) {
		append(u == 0 ? "\n" : ",\n", u == 0 ? 1 : 2, t);
		encode(t, unit_tree(rd, r, u), 0);
	}
}

/*
 * Chunks go round a ring of slots: chunk c is rendered into slot
 * c % nslots by whichever thread claims it first, and the calling thread
 * writes the slots in chunk order, so the document is the same bytes
 * whatever the threads' timing. A chunk is claimed only once the chunk
 * nslots before it has been written: memory stays bounded.
 */
struct slot {
	struct text text;
	bool ready; /* rendered, not yet written */
};

struct pipeline {
	const sipas_report *r;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* a slot became ready or free, or stop */
	uint32_t nchunks, nslots;
	uint32_t next_render, next_write; /* chunk numbers */
	bool stop;                        /* the writer failed */
	struct slot *slots;
};

/* Under p->mu: may the next chunk be claimed now? */
static bool claimable(const struct pipeline *p)
{
	return !p->stop && p->next_render < p->nchunks &&
	       p->next_render - p->next_write < p->nslots;
}

/* Under p->mu: claim the next chunk, render it unlocked, hand it to its
 * slot (taking the slot's old buffer in exchange), mark it ready. */
static void render_next(struct pipeline *p, struct renderer *rd)
{
	uint32_t c = p->next_render++;
	struct slot *s = &p->slots[c % p->nslots];
	struct text done;

	pthread_mutex_unlock(&p->mu);
	render_chunk(rd, p->r, c);
	pthread_mutex_lock(&p->mu);
	done = rd->text;
	rd->text = s->text;
	s->text = done;
	s->ready = true;
	pthread_cond_broadcast(&p->cv);
}

static void *render_thread(void *arg)
{
	struct pipeline *p = arg;
	struct renderer rd;

	renderer_init(&rd, p->r);
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!claimable(p) && !p->stop &&
		       p->next_render < p->nchunks)
			pthread_cond_wait(&p->cv, &p->mu);
		if (!claimable(p))
			break;
		render_next(p, &rd);
	}
	pthread_mutex_unlock(&p->mu);
	renderer_free(&rd);
	return NULL;
}

/* Threads to render with: SIPAS_SNAPSHOT_THREADS when it is a number from
 * 1 (the calling thread alone) up, else one per CPU this process may run
 * on; at most MAX_THREADS. */
static unsigned thread_count(void)
{
	const char *e = getenv("SIPAS_SNAPSHOT_THREADS");
	unsigned long n = 0;
	cpu_set_t set;

	if (e != NULL && *e >= '1' && *e <= '9') {
		char *end;

		n = strtoul(e, &end, 10);
		if (*end != '\0')
			n = 0;
	}
	if (n == 0 && sched_getaffinity(0, sizeof set, &set) == 0)
		n = (unsigned long)CPU_COUNT(&set);
	return n < 1 ? 1 : n < MAX_THREADS ? (unsigned)n : MAX_THREADS;
}

/* Write the units to f; -1 on a write error. */
static int write_units(const sipas_report *r, FILE *f)
{
	struct pipeline p = {.r = r};
	struct renderer rd;
	pthread_t tid[MAX_THREADS - 1];
	unsigned nthreads = thread_count(), started = 0;
	int bad = 0;

	p.nchunks = (r->nunits + CHUNK_UNITS - 1) / CHUNK_UNITS;
	if (nthreads > p.nchunks)
		nthreads = p.nchunks > 0 ? p.nchunks : 1;
	/* Two slots per thread: each can render one chunk while the one it
	 * rendered before waits to be written. */
	p.nslots = 2 * nthreads;
	p.slots = sipas_xcalloc(p.nslots, sizeof *p.slots);
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.cv, NULL);
	/* jansson seeds its hash function on the first json_object(); seed
	 * it here, before any other thread may build one (jansson's thread
	 * safety notes). */
	json_object_seed(0);
	/* A thread that cannot be started leaves its share to the others:
	 * the calling thread alone renders every chunk if need be. */
	for (unsigned i = 0; i + 1 < nthreads; i++)
		if (pthread_create(&tid[started], NULL, render_thread, &p) ==
		    0)
			started++;
	renderer_init(&rd, r);

	pthread_mutex_lock(&p.mu);
	while (p.next_write < p.nchunks && !p.stop) {
		struct slot *s = &p.slots[p.next_write % p.nslots];

		if (s->ready) {
			pthread_mutex_unlock(&p.mu);
			bad = fwrite(s->text.p, 1, s->text.len, f) !=
			          s->text.len ||
			      ferror(f);
			pthread_mutex_lock(&p.mu);
			s->ready = false;
			p.next_write++;
			p.stop = bad;
			pthread_cond_broadcast(&p.cv);
		} else if (claimable(&p)) {
			render_next(&p, &rd);
		} else {
			pthread_cond_wait(&p.cv, &p.mu);
		}
	}
	p.stop = true;
	pthread_cond_broadcast(&p.cv);
	pthread_mutex_unlock(&p.mu);
	for (unsigned i = 0; i < started; i++)
		pthread_join(tid[i], NULL);
	renderer_free(&rd);
	for (uint32_t i = 0; i < p.nslots; i++)
		free(p.slots[i].text.p);
	free(p.slots);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mu);
	return bad ? -1 : 0;
}

sipas_err sipas_report_write_json(const sipas_report *r, FILE *f,
                                  sipas_diag *diag)
{
	struct text head = {0};
	json_t *h;
	int bad;

	errno = 0;
	append("{", 1, &head);
	h = head_json(r);
	encode(&head, h, JSON_EMBED);
	json_decref(h);
	append(",\n\"units\":[", 11, &head);
	bad = fwrite(head.p, 1, head.len, f) != head.len;
	free(head.p);
	if (!bad && !ferror(f))
		bad = write_units(r, f);
	fputs("]}\n", f);
	if (fflush(f) != 0 || ferror(f) || bad) {
		sipas_diag_set(diag, "writing the JSON snapshot: %s",
		               errno ? strerror(errno) : "write error");
		return SIPAS_E_IO;
	}
	return SIPAS_OK;
}
