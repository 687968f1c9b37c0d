/*
 * protocol.c - the wire codec (interfaces.md section 2): request frames,
 * response maps and acks. The only file that calls msgpack_*.
 *
 * Decoding is three passes over one frame, each cheap and bounded:
 *   skim()         a hand-written, non-allocating walk of the msgpack bytes
 *                  that proves the structure sound before msgpack-c sees it;
 *   msgpack_unpack the object tree, in a zone freed before returning;
 *   take_*()       a walk of that tree that checks the type of every object
 *                  before reading it and copies strings into the response.
 */
#include "sipas_protocol.h"

#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_text.h"

/* Zone chunk: one chunk holds the tree of an ordinary response. */
#define ZONE_CHUNK 16384

const char *const sipas_channel_names[SIPAS_NCHANNELS] = {
    "portal", "postal", "kiosk", "phone", "interview"};

static const char *const kind_names[] = {"person", "org"};

/* The keys of `respondent` and `entry`, in the contract's order. */
static const char *const respondent_keys[] = {"kind", "gender", "age",
                                              "edu",  "job",    "ethnic"};
static const char *const entry_keys[] = {"clerk", "batch", "serial"};

static const char *const status_names[] = {"accepted", "duplicate", "rejected",
                                           "busy"};

/* ---- small helpers ---- */

/* Copy n bytes of s into dst (size cap) as a C string, cut to fit. */
static void copy_clip(char *dst, size_t cap, const char *s, size_t n)
{
	if (n >= cap)
		n = cap - 1;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
	sipas_utf8_clip(dst);
}

/* Whether the str object o holds exactly the C string s. Compared byte by
 * byte, stopping at the first difference, instead of strlen + memcmp: the
 * lookups below try several names per key, and most differ at once. A NUL
 * in s ends it, so o (which may hold NUL bytes) is never read past its
 * size nor s past its terminator. */
static bool str_is(const msgpack_object *o, const char *s)
{
	const char *p = o->via.str.ptr;
	uint32_t n = o->via.str.size;

	if (o->type != MSGPACK_OBJECT_STR)
		return false;
	for (uint32_t i = 0; i < n; i++)
		if (s[i] == '\0' || s[i] != p[i])
			return false;
	return s[n] == '\0';
}

/* Index of the str object o in names[0..n-1], or -1. */
static int lookup(const msgpack_object *o, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (str_is(o, names[i]))
			return (int)i;
	return -1;
}

void sipas_fault_set(sipas_fault *f, sipas_err code, const char *field,
                     const char *fmt, ...)
{
	va_list ap;

	f->code = code;
	field = field != NULL ? field : "";
	copy_clip(f->field, sizeof f->field, field, strlen(field));
	va_start(ap, fmt);
	vsnprintf(f->detail, sizeof f->detail, fmt, ap);
	va_end(ap);
	sipas_utf8_clip(f->detail);
}

int sipas_channel_index(const char *name)
{
	for (int i = 0; name != NULL && i < SIPAS_NCHANNELS; i++)
		if (strcmp(name, sipas_channel_names[i]) == 0)
			return i;
	return -1;
}

const char *sipas_status_name(sipas_status s)
{
	if ((unsigned)s >= sizeof status_names / sizeof status_names[0])
		return "unknown";
	return status_names[s];
}

/* ---- the skim ----
 *
 * msgpack-c allocates storage for a container from its *declared* element
 * count before it reads a single element, so a 6-byte frame announcing an
 * array of 2^32 elements makes it try to allocate about 100 GB. Before any
 * bytes reach msgpack-c, skim() walks the object headers without allocating:
 * every container must fit in the bytes left (an array of n needs at least
 * n bytes, a map 2n), nesting stays within a depth limit, and the object
 * must end inside the buffer. Once a frame passes, msgpack-c only allocates
 * for objects that are really there. It is the codec's only hand-written
 * msgpack walking; it also yields the element spans of array requests.
 */

enum { H_BAD, H_SCALAR, H_ARRAY, H_MAP };

static uint64_t be(const unsigned char *p, size_t w)
{
	uint64_t v = 0;

	for (size_t i = 0; i < w; i++)
		v = v << 8 | p[i];
	return v;
}

/* The header of the object at p (left >= 1 bytes): its kind, *size = the
 * header bytes plus a scalar's payload, *n = a container's element count. */
static int head(const unsigned char *p, size_t left, size_t *size, uint64_t *n)
{
	unsigned c = p[0];
	size_t w = 0;     /* bytes of a length or count field after p[0] */
	uint64_t pay = 0; /* payload bytes after the header */
	int kind = H_SCALAR;

	*n = 0;
	if ((c >= 0x80 && c <= 0x9f) || (c >= 0xdc && c <= 0xdf)) {
		/* containers: fixmap, fixarray, array 16/32, map 16/32 */
		kind = c <= 0x8f || c >= 0xde ? H_MAP : H_ARRAY;
		if (c <= 0x9f)
			*n = c & 0x0f;
		else
			w = (c & 1) ? 4 : 2;
	} else if (c <= 0xbf || c >= 0xe0) { /* fixint, fixstr */
		pay = c >= 0xa0 && c <= 0xbf ? c & 0x1f : 0;
	} else if (c == 0xc1) {
		return H_BAD;
	} else if (c <= 0xc3) { /* nil, false, true */
		pay = 0;
	} else if (c <= 0xc6) { /* bin 8/16/32 */
		w = (size_t)1 << (c - 0xc4);
	} else if (c <= 0xc9) { /* ext 8/16/32: + type byte */
		w = (size_t)1 << (c - 0xc7);
		pay = 1;
	} else if (c <= 0xcb) { /* float 32/64 */
		pay = c == 0xca ? 4 : 8;
	} else if (c <= 0xd3) { /* uint/int 8..64 */
		pay = (uint64_t)1 << ((c - 0xcc) & 3);
	} else if (c <= 0xd8) { /* fixext 1..16: + type byte */
		pay = 1 + ((uint64_t)1 << (c - 0xd4));
	} else { /* str 8/16/32 */
		w = (size_t)1 << (c - 0xd9);
	}

	if (left < 1 + w)
		return H_BAD;
	if (kind == H_SCALAR)
		pay += w > 0 ? be(p + 1, w) : 0;
	else if (w > 0)
		*n = be(p + 1, w);
	if (pay > left - 1 - w)
		return H_BAD;
	*size = 1 + w + (size_t)pay;
	return kind;
}

/* Walk one object at the start of p[0..len) with containers nested at most
 * max_depth deep; *used gets its length. False when it is malformed. */
static bool skim(const unsigned char *p, size_t len, int max_depth,
                 size_t *used)
{
	uint64_t left[SIPAS_MAX_DEPTH + 1]; /* objects still owed, per level */
	int top = 0;
	size_t pos = 0, size;
	uint64_t n;
	int kind;

	left[0] = 1;
	while (top >= 0) {
		if (left[top] == 0) {
			top--;
			continue;
		}
		left[top]--;
		if (pos >= len)
			return false;
		kind = head(p + pos, len - pos, &size, &n);
		if (kind == H_BAD)
			return false;
		pos += size;
		if (kind == H_SCALAR)
			continue;
		n = kind == H_MAP ? 2 * n : n;
		/* A container read at level top is nested top + 1 deep. */
		if (top >= max_depth || n > len - pos)
			return false;
		if (n > 0)
			left[++top] = n;
	}
	*used = pos;
	return true;
}

static bool is_map_byte(unsigned c)
{
	return (c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf;
}

static bool is_array_byte(unsigned c)
{
	return (c >= 0x90 && c <= 0x9f) || c == 0xdc || c == 0xdd;
}

/*
 * The length of the one object at the start of p[0..len), whatever its
 * depth: only the count of objects still owed is kept (each needs at least
 * one byte, so it never exceeds len). False when it does not end inside p.
 * The depth rule is the element decoder's: an element nested too deep gets
 * its own `malformed`, one over 64 KiB makes the request `too_large`.
 */
static bool span(const unsigned char *p, size_t len, size_t *used)
{
	uint64_t owed = 1, n;
	size_t pos = 0, size;
	int kind;

	while (owed > 0) {
		owed--;
		if (pos >= len)
			return false;
		kind = head(p + pos, len - pos, &size, &n);
		if (kind == H_BAD)
			return false;
		pos += size;
		if (kind == H_SCALAR)
			continue;
		n = kind == H_MAP ? 2 * n : n;
		if (n > len - pos || owed + n > len - pos)
			return false;
		owed += n;
	}
	*used = pos;
	return true;
}

/* Spans of the n elements of an array whose elements start at p. */
static bool split_elements(sipas_request *req, const unsigned char *p,
                           size_t len, uint32_t n)
{
	size_t pos = 0, used;

	for (uint32_t i = 0; i < n; i++) {
		if (!span(p + pos, len - pos, &used))
			return false;
		req->elem[i].ptr = (const char *)(p + pos);
		req->elem[i].len = used;
		pos += used;
	}
	req->count = n;
	return pos == len;
}

sipas_err sipas_request_split(const void *frame, size_t len, sipas_request *req,
                              sipas_fault *fault)
{
	const unsigned char *p = frame;
	size_t size, used;
	uint64_t n = 0;
	sipas_err rv = SIPAS_OK;

	fault->id[0] = '\0';
	req->is_array = false;
	req->count = 0;
	if (len == 0)
		goto malformed;
	/* The size rules come before any parsing: only the first byte (and an
	 * array's count) is looked at. */
	if (is_map_byte(p[0])) {
		if (len > SIPAS_MAX_REQUEST) {
			sipas_fault_set(fault, SIPAS_E_TOO_LARGE, NULL,
			                "A request map is at most %d bytes.",
			                SIPAS_MAX_REQUEST);
			rv = SIPAS_E_TOO_LARGE;
			goto out;
		}
		if (!skim(p, len, SIPAS_MAX_DEPTH, &used) || used != len)
			goto malformed;
		req->elem[0].ptr = frame;
		req->elem[0].len = len;
		req->count = 1;
		goto out;
	}
	if (!is_array_byte(p[0]) || head(p, len, &size, &n) != H_ARRAY)
		goto malformed;
	if (len > SIPAS_MAX_ARRAY_REQUEST || n > SIPAS_MAX_BATCH) {
		sipas_fault_set(fault, SIPAS_E_TOO_LARGE, NULL,
		                "An array request holds at most %d responses "
		                "in %d bytes.",
		                SIPAS_MAX_BATCH, SIPAS_MAX_ARRAY_REQUEST);
		rv = SIPAS_E_TOO_LARGE;
		goto out;
	}
	req->is_array = true;
	if (!split_elements(req, p + size, len - size, (uint32_t)n))
		goto malformed;
	goto out;

malformed:
	req->count = 0;
	req->is_array = false;
	sipas_fault_set(fault, SIPAS_E_MALFORMED, NULL,
	                "The request is not one well-formed msgpack map "
	                "or array.");
	rv = SIPAS_E_MALFORMED;
out:
	return rv;
}

/* ---- repeated keys ----
 *
 * A map repeating a key is malformed at any depth. Keys are compared by
 * value, not by encoding ("a" as fixstr and as str8 are the same key), with
 * a total order over msgpack objects so each map is sorted once (n log n)
 * rather than compared pairwise: a 64 KiB map can hold 16,000 keys.
 *
 * Every map of a real response is small and keyed by strings, and sorting
 * each of them was the largest cost of a decode; such maps (up to FAST_KEYS
 * keys) go through a hash set on the stack instead (fast_keys_unique), and
 * only the others are sorted. Both answer the same question.
 */

/* The most keys fast_keys_unique takes; its table has at most
 * 2 * FAST_KEYS slots (a power of two), so it is never more than half full
 * and a probe always ends on an empty slot. */
#define FAST_KEYS 64

static int cmp_u64(uint64_t a, uint64_t b)
{
	return (a > b) - (a < b);
}

static int cmp_bytes(const char *a, uint32_t na, const char *b, uint32_t nb)
{
	if (na != nb)
		return cmp_u64(na, nb);
	return na == 0 ? 0 : memcmp(a, b, na);
}

static int obj_cmp(const msgpack_object *a, const msgpack_object *b);

static int kv_cmp(const msgpack_object_kv *a, const msgpack_object_kv *b)
{
	int c = obj_cmp(&a->key, &b->key);

	return c != 0 ? c : obj_cmp(&a->val, &b->val);
}

static int obj_cmp(const msgpack_object *a, const msgpack_object *b)
{
	/* float32 and float64 of the same value are the same key */
	int ta = a->type == MSGPACK_OBJECT_FLOAT32 ? MSGPACK_OBJECT_FLOAT64
	                                           : (int)a->type;
	int tb = b->type == MSGPACK_OBJECT_FLOAT32 ? MSGPACK_OBJECT_FLOAT64
	                                           : (int)b->type;
	uint64_t fa, fb;
	int c = 0;

	if (ta != tb)
		return ta < tb ? -1 : 1;
	switch (a->type) {
	case MSGPACK_OBJECT_BOOLEAN:
		return cmp_u64(a->via.boolean, b->via.boolean);
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		return cmp_u64(a->via.u64, b->via.u64);
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		return (a->via.i64 > b->via.i64) - (a->via.i64 < b->via.i64);
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		memcpy(&fa, &a->via.f64, sizeof fa);
		memcpy(&fb, &b->via.f64, sizeof fb);
		return cmp_u64(fa, fb);
	case MSGPACK_OBJECT_STR:
		return cmp_bytes(a->via.str.ptr, a->via.str.size,
		                 b->via.str.ptr, b->via.str.size);
	case MSGPACK_OBJECT_BIN:
		return cmp_bytes(a->via.bin.ptr, a->via.bin.size,
		                 b->via.bin.ptr, b->via.bin.size);
	case MSGPACK_OBJECT_EXT:
		if (a->via.ext.type != b->via.ext.type)
			return a->via.ext.type < b->via.ext.type ? -1 : 1;
		return cmp_bytes(a->via.ext.ptr, a->via.ext.size,
		                 b->via.ext.ptr, b->via.ext.size);
	case MSGPACK_OBJECT_ARRAY:
		if (a->via.array.size != b->via.array.size)
			return cmp_u64(a->via.array.size, b->via.array.size);
		for (uint32_t i = 0; c == 0 && i < a->via.array.size; i++)
			c = obj_cmp(&a->via.array.ptr[i], &b->via.array.ptr[i]);
		return c;
	case MSGPACK_OBJECT_MAP:
		if (a->via.map.size != b->via.map.size)
			return cmp_u64(a->via.map.size, b->via.map.size);
		for (uint32_t i = 0; c == 0 && i < a->via.map.size; i++)
			c = kv_cmp(&a->via.map.ptr[i], &b->via.map.ptr[i]);
		return c;
	default:
		return 0;
	}
}

/* FNV-1a of a key's bytes: keys are short, and any spread will do, since
 * a collision only costs a byte comparison. */
static uint32_t key_hash(const char *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 16777619u;
	return h;
}

/*
 * Whether the map m (1 to FAST_KEYS keys) has a key that is not a string:
 * false, and it must be sorted instead. Otherwise true, with *repeated set
 * when two keys are the same. Two str keys are the same key exactly when
 * their bytes are (obj_cmp compares a str's size, then its bytes; fixstr,
 * str8 and the rest all decode to the same str object). Open addressing
 * with linear probing; slot[] holds a key's index + 1, 0 for empty.
 */
static bool fast_keys_unique(const msgpack_object_map *m, bool *repeated)
{
	uint8_t slot[2 * FAST_KEYS];
	uint32_t mask = 15, h;

	while (mask + 1 < 2 * m->size)
		mask = 2 * mask + 1;
	memset(slot, 0, mask + 1);
	*repeated = false;
	for (uint32_t i = 0; i < m->size; i++) {
		const msgpack_object_str *k = &m->ptr[i].key.via.str;

		if (m->ptr[i].key.type != MSGPACK_OBJECT_STR)
			return false;
		h = key_hash(k->ptr, k->size) & mask;
		for (; slot[h] != 0; h = (h + 1) & mask) {
			const msgpack_object_str *o =
			    &m->ptr[slot[h] - 1].key.via.str;

			if (cmp_bytes(k->ptr, k->size, o->ptr, o->size) == 0) {
				*repeated = true;
				return true;
			}
		}
		slot[h] = (uint8_t)(i + 1);
	}
	return true;
}

static int key_ptr_cmp(const void *x, const void *y)
{
	const msgpack_object_kv *const *a = x, *const *b = y;

	return obj_cmp(&(*a)->key, &(*b)->key);
}

/* Whether o may hold a map (the only objects keys_unique looks into). */
static bool is_container(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_ARRAY || o->type == MSGPACK_OBJECT_MAP;
}

/* SIPAS_OK, SIPAS_E_MALFORMED for a repeated key, SIPAS_E_NOMEM. Recursion
 * is bounded: skim() limited the depth. A map's own keys are checked before
 * what it holds, keys and values in order. */
static sipas_err keys_unique(msgpack_zone *z, const msgpack_object *o)
{
	const msgpack_object_kv **sorted;
	uint32_t n;
	bool repeated;
	sipas_err rv = SIPAS_OK;

	if (o->type == MSGPACK_OBJECT_ARRAY) {
		for (uint32_t i = 0; !rv && i < o->via.array.size; i++)
			if (is_container(&o->via.array.ptr[i]))
				rv = keys_unique(z, &o->via.array.ptr[i]);
		return rv;
	}
	if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size == 0)
		return SIPAS_OK;
	n = o->via.map.size;
	/* A small map of str keys: no sort, and no key to look into. */
	if (n <= FAST_KEYS && fast_keys_unique(&o->via.map, &repeated)) {
		if (repeated)
			return SIPAS_E_MALFORMED;
		for (uint32_t i = 0; !rv && i < n; i++)
			if (is_container(&o->via.map.ptr[i].val))
				rv = keys_unique(z, &o->via.map.ptr[i].val);
		return rv;
	}
	sorted = msgpack_zone_malloc(z, n * sizeof *sorted);
	if (sorted == NULL)
		return SIPAS_E_NOMEM;
	for (uint32_t i = 0; i < n; i++)
		sorted[i] = &o->via.map.ptr[i];
	qsort(sorted, n, sizeof *sorted, key_ptr_cmp);
	for (uint32_t i = 1; i < n; i++)
		if (obj_cmp(&sorted[i - 1]->key, &sorted[i]->key) == 0)
			return SIPAS_E_MALFORMED;
	for (uint32_t i = 0; !rv && i < n; i++) {
		rv = keys_unique(z, &o->via.map.ptr[i].key);
		if (!rv)
			rv = keys_unique(z, &o->via.map.ptr[i].val);
	}
	return rv;
}

/* ---- response values ---- */

struct dec {
	sipas_response *r;
	sipas_fault *f;
};

/* The dotted path "parent.key" (or "key"), cut to fit an ack field. */
static void path(char *dst, const char *parent, const msgpack_object *key)
{
	int n = 0;

	if (parent != NULL)
		n = snprintf(dst, SIPAS_ACK_FIELD_MAX, "%s.", parent);
	copy_clip(dst + n, SIPAS_ACK_FIELD_MAX - (size_t)n, key->via.str.ptr,
	          key->via.str.size);
}

/*
 * Fail with a detail naming the field: "Item A1 must be an integer.",
 * "Field unit is not valid UTF-8." The field is `parent`, or "parent.key"
 * when key (a str object) is given. Values are checked with the parent and
 * key rather than a ready-made path because formatting "items.A1" for
 * every answer cost more than checking it: the path is built here, only
 * once a fault is certain.
 */
static sipas_err bad(struct dec *d, sipas_err code, const char *parent,
                     const msgpack_object *key, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static sipas_err bad(struct dec *d, sipas_err code, const char *parent,
                     const msgpack_object *key, const char *fmt, ...)
{
	char what[SIPAS_ACK_DETAIL_MAX], dotted[SIPAS_ACK_FIELD_MAX];
	const char *field = parent;
	bool item;
	va_list ap;

	if (key != NULL) {
		path(dotted, parent, key);
		field = dotted;
	}
	item = strncmp(field, "items.", 6) == 0;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	sipas_fault_set(d->f, code, field, "%s %s %s", item ? "Item" : "Field",
	                item ? field + 6 : field, what);
	return code;
}

/* A copy of s[0..n) in r's arena, NUL-terminated; NULL when full (never for
 * a skimmed frame: its strings fit in SIPAS_MAX_REQUEST bytes). */
static const char *keep(sipas_response *r, const char *s, size_t n)
{
	char *dst;

	if (n >= sizeof r->text - r->text_used)
		return NULL;
	dst = r->text + r->text_used;
	if (n > 0)
		memcpy(dst, s, n);
	dst[n] = '\0';
	r->text_used += n + 1;
	return dst;
}

static bool is_int(const msgpack_object *o)
{
	return o->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
	       o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
}

/* An integer value of the field parent (or parent.key, see bad()). */
static sipas_err get_int(struct dec *d, const msgpack_object *o,
                         const char *parent, const msgpack_object *key,
                         int64_t *out)
{
	if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
		*out = o->via.i64;
		return SIPAS_OK;
	}
	if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
		return bad(d, SIPAS_E_BAD_TYPE, parent, key,
		           "must be an integer.");
	if (o->via.u64 > INT64_MAX)
		return bad(d, SIPAS_E_OUT_OF_RANGE, parent, key,
		           "does not fit in 64 bits.");
	*out = (int64_t)o->via.u64;
	return SIPAS_OK;
}

/* A string value of parent (or parent.key): bad_type, bad_utf8, too_large over max bytes, then
 * bad_value unless it is one of allowed[0..nallowed) (nallowed 0: any). */
static sipas_err get_str(struct dec *d, const msgpack_object *o,
                         const char *parent, const msgpack_object *key,
                         size_t max, const char *const *allowed,
                         size_t nallowed, const char **out)
{
	char list[128] = "";

	if (o->type != MSGPACK_OBJECT_STR)
		return bad(d, SIPAS_E_BAD_TYPE, parent, key,
		           "must be a string.");
	if (!sipas_utf8_valid(o->via.str.ptr, o->via.str.size))
		return bad(d, SIPAS_E_BAD_UTF8, parent, key,
		           "is not valid UTF-8.");
	if (o->via.str.size > max)
		return bad(d, SIPAS_E_TOO_LARGE, parent, key,
		           "is longer than %zu bytes.", max);
	if (nallowed > 0 && lookup(o, allowed, nallowed) < 0) {
		for (size_t i = 0, n = 0; i < nallowed; i++)
			n += (size_t)snprintf(list + n, sizeof list - n, "%s%s",
			                      i > 0 ? ", " : "", allowed[i]);
		return bad(d, SIPAS_E_BAD_VALUE, parent, key,
		           "must be one of %s.", list);
	}
	*out = keep(d->r, o->via.str.ptr, o->via.str.size);
	if (*out == NULL)
		return bad(d, SIPAS_E_TOO_LARGE, parent, key, "does not fit.");
	return SIPAS_OK;
}

/* A key of a map named `parent` ("" at the top): a string of valid UTF-8. */
static sipas_err check_key(struct dec *d, const msgpack_object *key,
                           const char *parent)
{
	const char *where = *parent != '\0' ? " of " : "";

	if (key->type != MSGPACK_OBJECT_STR) {
		sipas_fault_set(d->f, SIPAS_E_BAD_TYPE, parent,
		                "Every key%s%s must be a string.", where,
		                parent);
		return SIPAS_E_BAD_TYPE;
	}
	if (!sipas_utf8_valid(key->via.str.ptr, key->via.str.size)) {
		sipas_fault_set(d->f, SIPAS_E_BAD_UTF8, parent,
		                "A key%s%s is not valid UTF-8.", where, parent);
		return SIPAS_E_BAD_UTF8;
	}
	return SIPAS_OK;
}

static sipas_err unknown(struct dec *d, const char *parent,
                         const msgpack_object *key)
{
	char field[SIPAS_ACK_FIELD_MAX];

	path(field, parent, key);
	sipas_fault_set(d->f, SIPAS_E_UNKNOWN_FIELD, field,
	                "Field %s is not part of the protocol.", field);
	return SIPAS_E_UNKNOWN_FIELD;
}

/* ---- items ---- */

static sipas_err take_codes(struct dec *d, const msgpack_object *o,
                            const msgpack_object *key, sipas_answer *a)
{
	sipas_response *r = d->r;
	size_t room = sizeof r->code_pool / sizeof r->code_pool[0];
	int64_t *codes = r->code_pool + r->codes_used;
	uint32_t n = o->via.array.size;
	sipas_err rv = SIPAS_OK;

	if (n > SIPAS_MAX_CODES)
		return bad(d, SIPAS_E_TOO_LARGE, "items", key,
		           "holds more than %d codes.", SIPAS_MAX_CODES);
	if (n > room - r->codes_used) {
		sipas_fault_set(d->f, SIPAS_E_TOO_LARGE, "items",
		                "The items hold more than %zu codes in all.",
		                room);
		return SIPAS_E_TOO_LARGE;
	}
	for (uint32_t i = 0; !rv && i < n; i++)
		rv = is_int(&o->via.array.ptr[i])
		         ? get_int(d, &o->via.array.ptr[i], "items", key,
		                   &codes[i])
		         : bad(d, SIPAS_E_BAD_TYPE, "items", key,
		               "must hold integers only.");
	if (rv)
		return rv;
	a->kind = SIPAS_ANSWER_LIST;
	a->ncodes = n;
	a->codes = codes;
	r->codes_used += n;
	return SIPAS_OK;
}

static sipas_err take_answer(struct dec *d, const msgpack_object_kv *kv)
{
	sipas_response *r = d->r;
	sipas_answer *a = &r->answers[r->nanswers];
	sipas_err rv;

	rv = check_key(d, &kv->key, "items");
	if (rv)
		return rv;
	if (kv->key.via.str.size > SIPAS_MAX_TEXT) {
		sipas_fault_set(d->f, SIPAS_E_TOO_LARGE, "items",
		                "An item id is longer than %d bytes.",
		                SIPAS_MAX_TEXT);
		return SIPAS_E_TOO_LARGE;
	}
	memset(a, 0, sizeof *a);
	if (kv->val.type == MSGPACK_OBJECT_ARRAY)
		rv = take_codes(d, &kv->val, &kv->key, a);
	else if (is_int(&kv->val))
		rv = get_int(d, &kv->val, "items", &kv->key, &a->value);
	else
		rv = bad(d, SIPAS_E_BAD_TYPE, "items", &kv->key,
		         "must be an integer or an array of integers.");
	if (rv)
		return rv;
	a->item = keep(r, kv->key.via.str.ptr, kv->key.via.str.size);
	if (a->item == NULL)
		return bad(d, SIPAS_E_TOO_LARGE, "items", &kv->key,
		           "does not fit.");
	a->item_len = kv->key.via.str.size;
	r->nanswers++;
	return SIPAS_OK;
}

static sipas_err take_items(struct dec *d, const msgpack_object *o)
{
	sipas_err rv = SIPAS_OK;

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(d, SIPAS_E_BAD_TYPE, "items", NULL,
		           "must be a map.");
	if (o->via.map.size > SIPAS_MAX_ANSWERS)
		return bad(d, SIPAS_E_TOO_LARGE, "items", NULL,
		           "holds more than %d answers.", SIPAS_MAX_ANSWERS);
	for (uint32_t i = 0; !rv && i < o->via.map.size; i++)
		rv = take_answer(d, &o->via.map.ptr[i]);
	return rv;
}

/* ---- respondent and entry ---- */

/* A key of `respondent` or `entry` and where its value goes. */
struct slot {
	const char *name;
	const char **str; /* a string value goes here, */
	int64_t *num;     /* or an int value here (and *has) */
	bool *has;
	const char *const *allowed; /* the strings it may be, */
	size_t nallowed;            /* or 0 for any */
};

static sipas_err take_sub(struct dec *d, const msgpack_object *o,
                          const char *parent, const struct slot *slots,
                          size_t nslots)
{
	const struct slot *s;
	sipas_err rv = SIPAS_OK;
	int k;

	if (o->type != MSGPACK_OBJECT_MAP)
		return bad(d, SIPAS_E_BAD_TYPE, parent, NULL, "must be a map.");
	for (uint32_t i = 0; !rv && i < o->via.map.size; i++) {
		const msgpack_object_kv *kv = &o->via.map.ptr[i];

		rv = check_key(d, &kv->key, parent);
		if (rv)
			break;
		k = -1;
		for (size_t j = 0; k < 0 && j < nslots; j++)
			k = str_is(&kv->key, slots[j].name) ? (int)j : -1;
		if (k < 0)
			return unknown(d, parent, &kv->key);
		s = &slots[k];
		if (s->num != NULL) {
			rv = get_int(d, &kv->val, parent, &kv->key, s->num);
			*s->has = rv == SIPAS_OK;
		} else {
			rv = get_str(d, &kv->val, parent, &kv->key,
			             SIPAS_MAX_TEXT, s->allowed, s->nallowed,
			             s->str);
		}
	}
	return rv;
}

static sipas_err take_respondent(struct dec *d, const msgpack_object *o)
{
	sipas_respondent *p = &d->r->respondent;
	const struct slot slots[] = {
	    {"kind", &p->kind, NULL, NULL, kind_names, 2},
	    {"gender", &p->gender, NULL, NULL, NULL, 0},
	    {"age", NULL, &p->age, &p->has_age, NULL, 0},
	    {"edu", &p->edu, NULL, NULL, NULL, 0},
	    {"job", &p->job, NULL, NULL, NULL, 0},
	    {"ethnic", &p->ethnic, NULL, NULL, NULL, 0},
	};

	p->present = true;
	return take_sub(d, o, "respondent", slots, 6);
}

static sipas_err take_entry(struct dec *d, const msgpack_object *o)
{
	sipas_entry *e = &d->r->entry;
	const struct slot slots[] = {
	    {"clerk", &e->clerk, NULL, NULL, NULL, 0},
	    {"batch", &e->batch, NULL, NULL, NULL, 0},
	    {"serial", &e->serial, NULL, NULL, NULL, 0},
	};

	e->present = true;
	return take_sub(d, o, "entry", slots, 3);
}

/* ---- the response map ---- */

const char *const sipas_response_keys[SIPAS_NKEYS] = {
    "v",  "id",    "campaign",   "unit",    "form", "channel",
    "ts", "items", "respondent", "comment", "entry"};

/* The id comes first wherever it stands, so that every later fault can
 * echo it; fault->id is set only once the id is known to be valid. */
static sipas_err take_id(struct dec *d, const msgpack_object *o)
{
	static const char rule[] = "must be 1 to 64 characters of "
	                           "A-Z, a-z, 0-9 and . _ : -.";
	const char *s;

	if (o->type != MSGPACK_OBJECT_STR)
		return bad(d, SIPAS_E_BAD_TYPE, "id", NULL,
		           "must be a string.");
	s = o->via.str.ptr;
	if (!sipas_utf8_valid(s, o->via.str.size))
		return bad(d, SIPAS_E_BAD_UTF8, "id", NULL,
		           "is not valid UTF-8.");
	if (!sipas_id_valid(s, o->via.str.size, SIPAS_ID_MAX))
		return bad(d, SIPAS_E_BAD_VALUE, "id", NULL, "%s", rule);
	d->r->id = keep(d->r, s, o->via.str.size);
	if (d->r->id == NULL)
		return bad(d, SIPAS_E_TOO_LARGE, "id", NULL, "does not fit.");
	memcpy(d->f->id, s, o->via.str.size);
	d->f->id[o->via.str.size] = '\0';
	return SIPAS_OK;
}

static sipas_err take_value(struct dec *d, int k, const msgpack_object *o)
{
	sipas_response *r = d->r;
	const char *key = sipas_response_keys[k];

	switch (k) {
	case SIPAS_KEY_V:
		if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER ||
		    (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER &&
		     o->via.u64 != SIPAS_PROTOCOL_VERSION))
			return bad(d, SIPAS_E_BAD_VALUE, key, NULL,
			           "must be %d.", SIPAS_PROTOCOL_VERSION);
		return get_int(d, o, key, NULL, &r->v);
	case SIPAS_KEY_ID:
		return SIPAS_OK; /* taken first */
	case SIPAS_KEY_CAMPAIGN:
		return get_str(d, o, key, NULL, SIPAS_MAX_TEXT, NULL, 0,
		               &r->campaign);
	case SIPAS_KEY_UNIT:
		return get_str(d, o, key, NULL, SIPAS_MAX_TEXT, NULL, 0,
		               &r->unit);
	case SIPAS_KEY_FORM:
		return get_str(d, o, key, NULL, SIPAS_MAX_TEXT, NULL, 0,
		               &r->form);
	case SIPAS_KEY_CHANNEL:
		return get_str(d, o, key, NULL, SIPAS_MAX_TEXT,
		               sipas_channel_names, SIPAS_NCHANNELS,
		               &r->channel);
	case SIPAS_KEY_TS:
		return get_int(d, o, key, NULL, &r->ts);
	case SIPAS_KEY_ITEMS:
		return take_items(d, o);
	case SIPAS_KEY_RESPONDENT:
		return take_respondent(d, o);
	case SIPAS_KEY_COMMENT:
		return get_str(d, o, key, NULL, SIPAS_MAX_COMMENT, NULL, 0,
		               &r->comment);
	default:
		return take_entry(d, o);
	}
}

static sipas_err take_response(struct dec *d, const msgpack_object_map *m)
{
	unsigned seen = 0;
	sipas_err rv = SIPAS_OK;
	int k;

	for (uint32_t i = 0; !rv && i < m->size; i++)
		if (str_is(&m->ptr[i].key, "id"))
			rv = take_id(d, &m->ptr[i].val);
	for (uint32_t i = 0; !rv && i < m->size; i++) {
		rv = check_key(d, &m->ptr[i].key, "");
		if (rv)
			break;
		k = lookup(&m->ptr[i].key, sipas_response_keys, SIPAS_NKEYS);
		if (k < 0)
			return unknown(d, NULL, &m->ptr[i].key);
		seen |= 1u << k;
		rv = take_value(d, k, &m->ptr[i].val);
	}
	for (k = 0; !rv && k < SIPAS_KEY_NREQUIRED; k++)
		if (!(seen & 1u << k))
			rv = bad(d, SIPAS_E_MISSING_FIELD, sipas_response_keys[k],
			         NULL, "is missing.");
	return rv;
}

static void response_reset(sipas_response *r)
{
	r->v = 0;
	r->id = r->campaign = r->unit = r->form = r->channel = NULL;
	r->ts = 0;
	r->nanswers = 0;
	memset(&r->respondent, 0, sizeof r->respondent);
	r->comment = NULL;
	memset(&r->entry, 0, sizeof r->entry);
	r->text_used = 0;
	r->codes_used = 0;
}

/* Memory ran out inside msgpack-c: nothing was stored, the client may
 * retry (sipas_oom.h), so the answer is busy rather than a rejection. */
static sipas_err out_of_memory(sipas_fault *f)
{
	sipas_fault_set(f, SIPAS_E_BUSY, NULL,
	                "The service is short of memory; retry later.");
	return SIPAS_E_BUSY;
}

sipas_err sipas_response_decode(const void *buf, size_t len, sipas_response *r,
                                sipas_fault *fault)
{
	struct dec d = {r, fault};
	const unsigned char *p = buf;
	const char *why = "The response is not one well-formed msgpack map.";
	msgpack_zone zone;
	bool zoned = false;
	msgpack_object root;
	size_t off = 0, used;
	sipas_err rv;

	fault->code = SIPAS_OK;
	fault->id[0] = fault->field[0] = fault->detail[0] = '\0';
	response_reset(r);
	if (len > SIPAS_MAX_REQUEST) {
		sipas_fault_set(fault, SIPAS_E_TOO_LARGE, NULL,
		                "A response map is at most %d bytes.",
		                SIPAS_MAX_REQUEST);
		rv = SIPAS_E_TOO_LARGE;
		goto out;
	}
	if (len == 0 || !is_map_byte(p[0]) ||
	    !skim(p, len, SIPAS_MAX_DEPTH, &used) || used != len)
		goto malformed;
	zoned = msgpack_zone_init(&zone, ZONE_CHUNK);
	if (!zoned) {
		rv = out_of_memory(fault);
		goto out;
	}
	switch (msgpack_unpack(buf, len, &off, &zone, &root)) {
	case MSGPACK_UNPACK_SUCCESS:
		break;
	case MSGPACK_UNPACK_NOMEM_ERROR:
		rv = out_of_memory(fault);
		goto out;
	default:
		goto malformed;
	}
	if (root.type != MSGPACK_OBJECT_MAP || off != len)
		goto malformed;
	rv = keys_unique(&zone, &root);
	if (rv == SIPAS_E_NOMEM) {
		rv = out_of_memory(fault);
		goto out;
	}
	if (rv) {
		why = "A map repeats a key.";
		goto malformed;
	}
	rv = take_response(&d, &root.via.map);
	goto out;

malformed:
	fault->id[0] = '\0';
	sipas_fault_set(fault, SIPAS_E_MALFORMED, NULL, "%s", why);
	rv = SIPAS_E_MALFORMED;
out:
	if (zoned)
		msgpack_zone_destroy(&zone);
	return rv;
}

const sipas_answer *sipas_response_find(const sipas_response *r, const char *id)
{
	for (uint32_t i = 0; i < r->nanswers; i++)
		if (strcmp(r->answers[i].item, id) == 0)
			return &r->answers[i];
	return NULL;
}

/* ---- encoding ----
 *
 * msgpack_packer writes through sink_write into a sipas_buf. The first
 * failed append (SIPAS_E_TOO_LARGE at the buffer's ceiling) sticks and
 * later writes are dropped, so a whole message is packed without checking
 * every call, then either kept or cut off again: the buffer never holds half
 * a message.
 */

struct sink {
	sipas_buf *b;
	size_t mark; /* b->len before this message */
	sipas_err err;
};

static int sink_write(void *data, const char *buf, size_t len)
{
	struct sink *s = data;

	if (s->err == SIPAS_OK)
		s->err = sipas_buf_append(s->b, buf, len);
	return s->err == SIPAS_OK ? 0 : -1;
}

static sipas_err sink_end(struct sink *s)
{
	if (s->err != SIPAS_OK && s->b->len > s->mark) {
		s->b->len = s->mark;
		s->b->data[s->mark] = '\0';
	}
	return s->err;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
	size_t n = strlen(s);

	msgpack_pack_str(pk, n);
	msgpack_pack_str_body(pk, s, n);
}

static void pack_kv_str(msgpack_packer *pk, const char *k, const char *v)
{
	pack_str(pk, k);
	pack_str(pk, v);
}

static void pack_kv_int(msgpack_packer *pk, const char *k, int64_t v)
{
	pack_str(pk, k);
	msgpack_pack_int64(pk, v);
}

/* A map of keys[i]: vals[i] for the strings that are set, in keys' order.
 * With age != NULL, keys[AGE_AT] (whose string is NULL) maps to *age. */
#define AGE_AT 2
static void pack_sub(msgpack_packer *pk, const char *const *keys,
                     const char *const *vals, size_t n, const int64_t *age)
{
	size_t count = age != NULL;

	for (size_t i = 0; i < n; i++)
		count += vals[i] != NULL;
	msgpack_pack_map(pk, count);
	for (size_t i = 0; i < n; i++) {
		if (vals[i] != NULL)
			pack_kv_str(pk, keys[i], vals[i]);
		else if (i == AGE_AT && age != NULL)
			pack_kv_int(pk, keys[i], *age);
	}
}

static void pack_items(msgpack_packer *pk, const sipas_response *r)
{
	msgpack_pack_map(pk, r->nanswers);
	for (uint32_t i = 0; i < r->nanswers; i++) {
		const sipas_answer *a = &r->answers[i];

		pack_str(pk, a->item);
		if (a->kind == SIPAS_ANSWER_INT) {
			msgpack_pack_int64(pk, a->value);
			continue;
		}
		msgpack_pack_array(pk, a->ncodes);
		for (uint32_t j = 0; j < a->ncodes; j++)
			msgpack_pack_int64(pk, a->codes[j]);
	}
}

sipas_err sipas_response_encode(sipas_buf *out, const sipas_response *r)
{
	const sipas_respondent *p = &r->respondent;
	const char *who[] = {p->kind, p->gender, NULL,
	                     p->edu,  p->job,    p->ethnic};
	const char *entry[] = {r->entry.clerk, r->entry.batch, r->entry.serial};
	struct sink s = {out, out->len, SIPAS_OK};
	msgpack_packer pk;

	if (r->id == NULL || r->campaign == NULL || r->unit == NULL ||
	    r->form == NULL || r->channel == NULL)
		return SIPAS_E_MISSING_FIELD;
	msgpack_packer_init(&pk, &s, sink_write);
	msgpack_pack_map(&pk, SIPAS_KEY_NREQUIRED + r->respondent.present +
	                          (r->comment != NULL) + r->entry.present);
	pack_kv_int(&pk, "v", r->v);
	pack_kv_str(&pk, "id", r->id);
	pack_kv_str(&pk, "campaign", r->campaign);
	pack_kv_str(&pk, "unit", r->unit);
	pack_kv_str(&pk, "form", r->form);
	pack_kv_str(&pk, "channel", r->channel);
	pack_kv_int(&pk, "ts", r->ts);
	pack_str(&pk, "items");
	pack_items(&pk, r);
	if (p->present) {
		pack_str(&pk, "respondent");
		pack_sub(&pk, respondent_keys, who, 6,
		         p->has_age ? &p->age : NULL);
	}
	if (r->comment != NULL)
		pack_kv_str(&pk, "comment", r->comment);
	if (r->entry.present) {
		pack_str(&pk, "entry");
		pack_sub(&pk, entry_keys, entry, 3, NULL);
	}
	return sink_end(&s);
}

/* ---- acks ---- */

void sipas_ack_from_fault(sipas_ack *ack, const sipas_fault *fault)
{
	ack->status = fault->code == SIPAS_E_BUSY ? SIPAS_BUSY : SIPAS_REJECTED;
	ack->code = fault->code;
	memcpy(ack->id, fault->id, sizeof ack->id);
	memcpy(ack->field, fault->field, sizeof ack->field);
	memcpy(ack->detail, fault->detail, sizeof ack->detail);
	ack->retry_ms = 0;
}

static void pack_ack(msgpack_packer *pk, const sipas_ack *a)
{
	size_t n = 2 + (a->code != SIPAS_OK) + (a->field[0] != '\0') +
	           (a->detail[0] != '\0') + (a->retry_ms > 0);

	msgpack_pack_map(pk, n);
	pack_kv_str(pk, "id", a->id);
	pack_kv_str(pk, "status", sipas_status_name(a->status));
	if (a->code != SIPAS_OK)
		pack_kv_str(pk, "code", sipas_err_name(a->code));
	if (a->field[0] != '\0')
		pack_kv_str(pk, "field", a->field);
	if (a->detail[0] != '\0')
		pack_kv_str(pk, "detail", a->detail);
	if (a->retry_ms > 0)
		pack_kv_int(pk, "retry_ms", a->retry_ms);
}

sipas_err sipas_ack_encode(sipas_buf *out, const sipas_ack *ack)
{
	struct sink s = {out, out->len, SIPAS_OK};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &s, sink_write);
	pack_ack(&pk, ack);
	return sink_end(&s);
}

sipas_err sipas_ack_encode_array(sipas_buf *out, const sipas_ack *acks,
                                 size_t n)
{
	struct sink s = {out, out->len, SIPAS_OK};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &s, sink_write);
	msgpack_pack_array(&pk, n);
	for (size_t i = 0; i < n && s.err == SIPAS_OK; i++)
		pack_ack(&pk, &acks[i]);
	return sink_end(&s);
}

enum { A_ID, A_STATUS, A_CODE, A_FIELD, A_DETAIL, A_RETRY, NACKKEYS };

static const char *const ack_keys[NACKKEYS] = {"id",    "status", "code",
                                               "field", "detail", "retry_ms"};

/* One ack key: false when its value is not what the contract says. */
static bool ack_value(sipas_ack *a, int k, const msgpack_object *v)
{
	char *const text[NACKKEYS] = {a->id, NULL, NULL, a->field, a->detail};
	const size_t cap[NACKKEYS] = {sizeof a->id, 0, 0, sizeof a->field,
	                              sizeof a->detail};
	int i;

	if (k == A_RETRY) {
		if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    v->via.u64 > INT64_MAX)
			return false;
		a->retry_ms = (int64_t)v->via.u64;
		return true;
	}
	if (v->type != MSGPACK_OBJECT_STR)
		return false;
	if (k == A_STATUS) {
		i = lookup(v, status_names, 4);
		a->status = (sipas_status)(i < 0 ? 0 : i);
		return i >= 0;
	}
	if (k == A_CODE) {
		i = sipas_err_from_name(v->via.str.ptr, v->via.str.size);
		a->code = (sipas_err)(i < 0 ? 0 : i);
		return i > 0;
	}
	if (k == A_ID && v->via.str.size > SIPAS_ID_MAX)
		return false;
	copy_clip(text[k], cap[k], v->via.str.ptr, v->via.str.size);
	return true;
}

/* One ack map. Unknown keys are skipped, so a client survives keys added
 * to the contract later. */
static bool ack_map(sipas_ack *a, const msgpack_object *o)
{
	unsigned seen = 0;
	int k;

	memset(a, 0, sizeof *a);
	if (o->type != MSGPACK_OBJECT_MAP)
		return false;
	for (uint32_t i = 0; i < o->via.map.size; i++) {
		k = lookup(&o->via.map.ptr[i].key, ack_keys, NACKKEYS);
		if (k < 0)
			continue;
		if (!ack_value(a, k, &o->via.map.ptr[i].val))
			return false;
		seen |= 1u << k;
	}
	if ((seen & 3u) != 3u)
		return false;
	/* rejected and busy always say why */
	return (a->status != SIPAS_REJECTED && a->status != SIPAS_BUSY) ||
	       (seen & 1u << A_CODE);
}

sipas_err sipas_ack_decode(const void *frame, size_t len, sipas_ack *acks,
                           size_t max, size_t *n, bool *is_array)
{
	msgpack_zone zone;
	bool zoned = false;
	msgpack_object root;
	const msgpack_object *elems;
	size_t off = 0, used, count;
	sipas_err rv = SIPAS_OK;

	*n = 0;
	*is_array = false;
	if (len == 0 || !skim(frame, len, SIPAS_MAX_DEPTH, &used) ||
	    used != len)
		goto malformed;
	zoned = msgpack_zone_init(&zone, ZONE_CHUNK);
	if (!zoned) {
		rv = SIPAS_E_NOMEM;
		goto out;
	}
	if (msgpack_unpack(frame, len, &off, &zone, &root) !=
	    MSGPACK_UNPACK_SUCCESS)
		goto malformed;
	*is_array = root.type == MSGPACK_OBJECT_ARRAY;
	elems = *is_array ? root.via.array.ptr : &root;
	count = *is_array ? root.via.array.size : 1;
	if (count > max) {
		rv = SIPAS_E_TOO_LARGE;
		goto out;
	}
	for (size_t i = 0; i < count; i++)
		if (!ack_map(&acks[i], &elems[i]))
			goto malformed;
	*n = count;
	goto out;

malformed:
	rv = SIPAS_E_MALFORMED;
out:
	if (zoned)
		msgpack_zone_destroy(&zone);
	return rv;
}

sipas_err sipas_ack_array_header(sipas_buf *out, size_t n)
{
	struct sink s = {out, out->len, SIPAS_OK};
	msgpack_packer pk;

	msgpack_packer_init(&pk, &s, sink_write);
	msgpack_pack_array(&pk, n);
	return sink_end(&s);
}
