/*
 * submit_input.c - JSON Lines and CSV records -> sipas_response (see
 * sipas_input.h).
 *
 * Both readers pull bytes through one chunked reader (read(2) on a real
 * file descriptor, so a pipe is read as data arrives; fread on a memory
 * stream). A JSON line is parsed with jansson, then walked in key order
 * with the checks of the wire codec (protocol.c: take_response), giving the
 * same code, field and sentence the collector would. A CSV record is cut
 * into cells by an RFC 4180 state machine, then mapped to the same
 * response, checked in the order the collector would meet the keys of the
 * encoded map (the contract's order).
 */
#include "sipas_input.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sipas_oom.h"
#include "sipas_text.h"
#include "sipas_time.h"

#define CHUNK 65536
/* Codes of all multi answers of one response: the codec's own pool. */
#define MAX_CODES_TOTAL (SIPAS_MAX_ANSWERS * 4)

/* CSV columns other than items. */
enum col {
	C_V,
	C_ID,
	C_CAMPAIGN,
	C_UNIT,
	C_FORM,
	C_CHANNEL,
	C_TS,
	C_COMMENT,
	C_R_KIND,
	C_R_GENDER,
	C_R_AGE,
	C_R_EDU,
	C_R_JOB,
	C_R_ETHNIC,
	C_E_CLERK,
	C_E_BATCH,
	C_E_SERIAL,
	NFIXED,
	C_ITEM = NFIXED, /* an item id */
	C_UNKNOWN        /* respondent.* / entry.* not in the protocol */
};

static const char *const col_names[NFIXED] = {"v",
                                              "id",
                                              "campaign",
                                              "unit",
                                              "form",
                                              "channel",
                                              "ts",
                                              "comment",
                                              "respondent.kind",
                                              "respondent.gender",
                                              "respondent.age",
                                              "respondent.edu",
                                              "respondent.job",
                                              "respondent.ethnic",
                                              "entry.clerk",
                                              "entry.batch",
                                              "entry.serial"};

static const char *const kind_names[] = {"person", "org"};

struct column {
	int kind;         /* enum col */
	const char *name; /* item id or key, NUL-terminated, in hdr */
	size_t len;
};

struct sipas_input {
	FILE *f;
	int fd; /* fileno(f), or -1 for a memory stream */
	char *name;
	sipas_input_opts o;

	/* the byte reader */
	char *chunk;
	size_t pos, end;
	bool eof, started;
	uint64_t offset; /* bytes consumed */
	uint64_t lineno; /* line of the next byte */

	/* the current record: a JSON line, or CSV cells (each NUL-ended) */
	char *rec;
	size_t len, cap;

	/* JSON */
	json_t *doc;   /* the last line parsed; r's strings point in it */
	char *scratch; /* a line with invalid UTF-8 made parseable */
	size_t scratch_cap;

	/* CSV */
	bool have_header;
	uint32_t ncols;
	struct column *cols;
	char *hdr; /* the header's names */
	uint32_t ncells;
	uint32_t *cell_off, *cell_len;
	bool cell_quoted_last;

	int64_t codes[MAX_CODES_TOTAL];
	size_t ncodes;
};

/* ---- faults, worded as the codec words them ---- */

/* dst = "parent.key" (or "key"), cut to fit an ack field. */
static void path(char dst[SIPAS_ACK_FIELD_MAX], const char *parent,
                 const char *key, size_t klen)
{
	size_t n = 0;

	if (parent != NULL) {
		n = strlen(parent);
		memcpy(dst, parent, n);
		dst[n++] = '.';
	}
	if (klen > SIPAS_ACK_FIELD_MAX - 1 - n)
		klen = SIPAS_ACK_FIELD_MAX - 1 - n;
	memcpy(dst + n, key, klen);
	dst[n + klen] = '\0';
	sipas_utf8_clip(dst);
}

/* "Item A1 <what>" or "Field unit <what>", as protocol.c's bad(). */
static sipas_err bad(sipas_fault *f, sipas_err code, const char *field,
                     const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static sipas_err bad(sipas_fault *f, sipas_err code, const char *field,
                     const char *fmt, ...)
{
	bool item = strncmp(field, "items.", 6) == 0;
	char what[SIPAS_ACK_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	sipas_fault_set(f, code, field, "%s %s %s", item ? "Item" : "Field",
	                item ? field + 6 : field, what);
	return code;
}

static sipas_err unknown_field(sipas_fault *f, const char *parent,
                               const char *key, size_t klen)
{
	char field[SIPAS_ACK_FIELD_MAX];

	path(field, parent, key, klen);
	sipas_fault_set(f, SIPAS_E_UNKNOWN_FIELD, field,
	                "Field %s is not part of the protocol.", field);
	return SIPAS_E_UNKNOWN_FIELD;
}

/* A string value: bad_utf8, too_large over max bytes, then bad_value
 * unless it is one of allowed[0..nallowed) (0: any). */
static sipas_err check_str(sipas_fault *f, const char *s, size_t n,
                           const char *field, size_t max,
                           const char *const *allowed, size_t nallowed)
{
	char list[128] = "";
	size_t i, k = 0;

	if (!sipas_utf8_valid(s, n))
		return bad(f, SIPAS_E_BAD_UTF8, field, "is not valid UTF-8.");
	if (n > max)
		return bad(f, SIPAS_E_TOO_LARGE, field,
		           "is longer than %zu bytes.", max);
	if (nallowed == 0)
		return SIPAS_OK;
	for (i = 0; i < nallowed; i++)
		if (strlen(allowed[i]) == n && memcmp(allowed[i], s, n) == 0)
			return SIPAS_OK;
	for (i = 0; i < nallowed; i++)
		k += (size_t)snprintf(list + k, sizeof list - k, "%s%s",
		                      i > 0 ? ", " : "", allowed[i]);
	return bad(f, SIPAS_E_BAD_VALUE, field, "must be one of %s.", list);
}

/* The id rule, checked first as the codec does; sets f->id when valid. */
static sipas_err check_id(sipas_fault *f, const char *s, size_t n)
{
	if (!sipas_utf8_valid(s, n))
		return bad(f, SIPAS_E_BAD_UTF8, "id", "is not valid UTF-8.");
	if (!sipas_id_valid(s, n, SIPAS_ID_MAX))
		return bad(f, SIPAS_E_BAD_VALUE, "id",
		           "must be 1 to 64 characters of A-Z, a-z, 0-9 and "
		           ". _ : -.");
	memcpy(f->id, s, n);
	f->id[n] = '\0';
	return SIPAS_OK;
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
}

/* ---- the byte reader ---- */

/* The most rec ever holds: a record of SIPAS_INPUT_MAX_LINE bytes and a
 * NUL after each of its cells (or after the line). */
#define REC_MAX (SIPAS_INPUT_MAX_LINE + SIPAS_INPUT_MAX_COLUMNS + 1)
/* What rec holds at first: an ordinary record fits. */
#define REC_START 4096

/* Room in rec for `need` bytes: rec grows with the longest record read,
 * so that a reader of short lines stays small. The callers never need
 * more than REC_MAX (data bytes are counted against SIPAS_INPUT_MAX_LINE,
 * cells against SIPAS_INPUT_MAX_COLUMNS). */
static void rec_reserve(sipas_input *in, size_t need)
{
	size_t cap = in->cap;
	char *grown;

	if (need <= cap)
		return;
	if (need > REC_MAX)
		abort(); /* a bug in the counting above */
	while (cap < need)
		cap *= 2;
	if (cap > REC_MAX)
		cap = REC_MAX;
	grown = sipas_xmalloc(cap);
	memcpy(grown, in->rec, in->len);
	free(in->rec);
	in->rec = grown;
	in->cap = cap;
}

static sipas_err fill(sipas_input *in, sipas_diag *diag)
{
	ssize_t n;

	in->pos = in->end = 0;
	if (in->eof)
		return SIPAS_OK;
	if (in->fd >= 0) {
		do
			n = read(in->fd, in->chunk, CHUNK);
		while (n < 0 && errno == EINTR);
	} else {
		n = (ssize_t)fread(in->chunk, 1, CHUNK, in->f);
		if (n == 0 && ferror(in->f))
			n = -1;
	}
	if (n < 0) {
		sipas_diag_set(diag, "%s: %s", in->name, strerror(errno));
		return SIPAS_E_IO;
	}
	if (n == 0)
		in->eof = true;
	in->end = (size_t)n;
	if (!in->started) {
		in->started = true;
		/* A UTF-8 byte order mark (spreadsheets write one) is not data.
		 */
		if (in->end >= 3 && memcmp(in->chunk, "\xEF\xBB\xBF", 3) == 0) {
			in->pos = 3;
			in->offset += 3;
		}
	}
	return SIPAS_OK;
}

/* One JSON line into rec (without its '\n' and a '\r' before it). *got is
 * false at the end of input; *overlong when it did not fit. */
static sipas_err read_line(sipas_input *in, bool *got, bool *overlong,
                           sipas_diag *diag)
{
	sipas_err rv;

	in->len = 0;
	*got = *overlong = false;
	for (;;) {
		const char *p, *nl;
		size_t n;

		if (in->pos == in->end) {
			rv = fill(in, diag);
			if (rv)
				return rv;
			if (in->end == 0) {
				*got = in->len > 0 || *overlong;
				break;
			}
			continue;
		}
		p = in->chunk + in->pos;
		nl = memchr(p, '\n', in->end - in->pos);
		n = nl != NULL ? (size_t)(nl - p) : in->end - in->pos;
		if (!*overlong && n <= SIPAS_INPUT_MAX_LINE - in->len) {
			rec_reserve(in, in->len + n + 1);
			memcpy(in->rec + in->len, p, n);
			in->len += n;
		} else {
			*overlong = true;
		}
		in->pos += n;
		in->offset += n;
		if (nl != NULL) {
			in->pos++;
			in->offset++;
			in->lineno++;
			*got = true;
			break;
		}
	}
	if (in->len > 0 && in->rec[in->len - 1] == '\r')
		in->len--;
	in->rec[in->len] = '\0';
	return SIPAS_OK;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* ---- JSON ---- */

/* Invalid UTF-8 found in a line is replaced by this character (U+FFFF,
 * a noncharacter) so that jansson can parse the line; the walk then
 * refuses, as bad_utf8, the first string or key holding it, naming the
 * field the collector would name. */
#define MARK "\xEF\xBF\xBF"

/* A copy of the line with every invalid UTF-8 byte written as MARK. */
static const char *sanitize(sipas_input *in, const char *s, size_t n,
                            size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k = 0, c;

	if (in->scratch_cap < 3 * n + 1) {
		free(in->scratch);
		in->scratch_cap = 3 * n + 1;
		in->scratch = sipas_xmalloc(in->scratch_cap);
	}
	while (i < n) {
		c = sipas_utf8_char((const char *)p + i, n - i);
		if (c == 0) {
			memcpy(in->scratch + k, MARK, 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(in->scratch + k, p + i, c);
		k += c;
		i += c;
	}
	in->scratch[k] = '\0';
	*outlen = k;
	return in->scratch;
}

struct walk {
	sipas_input *in;
	sipas_response *r;
	sipas_fault *f;
	bool marked; /* the line was sanitized: MARK means invalid bytes */
};

static bool has_mark(const struct walk *w, const char *s, size_t n)
{
	if (!w->marked)
		return false;
	for (size_t i = 0; i + 3 <= n; i++)
		if (memcmp(s + i, MARK, 3) == 0)
			return true;
	return false;
}

/* A key of map `parent` ("" at the top): bad_utf8 when it held invalid
 * bytes, as protocol.c's check_key. */
static sipas_err j_key(struct walk *w, const char *key, const char *parent)
{
	if (!has_mark(w, key, strlen(key)))
		return SIPAS_OK;
	sipas_fault_set(w->f, SIPAS_E_BAD_UTF8, parent,
	                "A key%s%s is not valid UTF-8.",
	                *parent != '\0' ? " of " : "", parent);
	return SIPAS_E_BAD_UTF8;
}

static sipas_err j_int(sipas_fault *f, const json_t *v, const char *field,
                       int64_t *out)
{
	if (!json_is_integer(v))
		return bad(f, SIPAS_E_BAD_TYPE, field, "must be an integer.");
	*out = (int64_t)json_integer_value(v);
	return SIPAS_OK;
}

static sipas_err j_str(struct walk *w, const json_t *v, const char *field,
                       size_t max, const char *const *allowed, size_t nallowed,
                       const char **out)
{
	sipas_fault *f = w->f;
	sipas_err rv;

	if (!json_is_string(v))
		return bad(f, SIPAS_E_BAD_TYPE, field, "must be a string.");
	if (has_mark(w, json_string_value(v), json_string_length(v)))
		return bad(f, SIPAS_E_BAD_UTF8, field, "is not valid UTF-8.");
	rv = check_str(f, json_string_value(v), json_string_length(v), field,
	               max, allowed, nallowed);
	if (rv == SIPAS_OK)
		*out = json_string_value(v);
	return rv;
}

static sipas_err j_answer(struct walk *w, const char *key, const json_t *v)
{
	sipas_input *in = w->in;
	sipas_answer *a = &w->r->answers[w->r->nanswers];
	char field[SIPAS_ACK_FIELD_MAX];
	size_t klen = strlen(key), n, i;

	if (j_key(w, key, "items"))
		return SIPAS_E_BAD_UTF8;
	if (klen > SIPAS_MAX_TEXT) {
		sipas_fault_set(w->f, SIPAS_E_TOO_LARGE, "items",
		                "An item id is longer than %d bytes.",
		                SIPAS_MAX_TEXT);
		return SIPAS_E_TOO_LARGE;
	}
	path(field, "items", key, klen);
	memset(a, 0, sizeof *a);
	if (json_is_array(v)) {
		n = json_array_size(v);
		if (n > SIPAS_MAX_CODES)
			return bad(w->f, SIPAS_E_TOO_LARGE, field,
			           "holds more than %d codes.",
			           SIPAS_MAX_CODES);
		if (n > MAX_CODES_TOTAL - in->ncodes) {
			sipas_fault_set(w->f, SIPAS_E_TOO_LARGE, "items",
			                "The items hold more than %d codes in "
			                "all.",
			                MAX_CODES_TOTAL);
			return SIPAS_E_TOO_LARGE;
		}
		for (i = 0; i < n; i++) {
			const json_t *c = json_array_get(v, i);

			if (!json_is_integer(c))
				return bad(w->f, SIPAS_E_BAD_TYPE, field,
				           "must hold integers only.");
			in->codes[in->ncodes + i] = json_integer_value(c);
		}
		a->kind = SIPAS_ANSWER_LIST;
		a->ncodes = (uint32_t)n;
		a->codes = in->codes + in->ncodes;
		in->ncodes += n;
	} else if (json_is_integer(v)) {
		a->kind = SIPAS_ANSWER_INT;
		a->value = json_integer_value(v);
	} else {
		return bad(w->f, SIPAS_E_BAD_TYPE, field,
		           "must be an integer or an array of integers.");
	}
	a->item = key;
	a->item_len = (uint32_t)klen;
	w->r->nanswers++;
	return SIPAS_OK;
}

static sipas_err j_items(struct walk *w, const json_t *o)
{
	const char *key;
	json_t *v;
	sipas_err rv;

	if (!json_is_object(o))
		return bad(w->f, SIPAS_E_BAD_TYPE, "items", "must be a map.");
	if (json_object_size(o) > SIPAS_MAX_ANSWERS)
		return bad(w->f, SIPAS_E_TOO_LARGE, "items",
		           "holds more than %d answers.", SIPAS_MAX_ANSWERS);
	json_object_foreach((json_t *)o, key, v)
	{
		rv = j_answer(w, key, v);
		if (rv)
			return rv;
	}
	return SIPAS_OK;
}

static sipas_err j_respondent(struct walk *w, const json_t *o)
{
	sipas_respondent *p = &w->r->respondent;
	const char **str[] = {&p->kind, &p->gender, NULL,
	                      &p->edu,  &p->job,    &p->ethnic};
	static const char *const keys[] = {"kind", "gender", "age",
	                                   "edu",  "job",    "ethnic"};
	char field[SIPAS_ACK_FIELD_MAX];
	const char *key;
	json_t *v;
	sipas_err rv;
	int k;

	if (!json_is_object(o))
		return bad(w->f, SIPAS_E_BAD_TYPE, "respondent",
		           "must be a map.");
	p->present = true;
	json_object_foreach((json_t *)o, key, v)
	{
		if (j_key(w, key, "respondent"))
			return SIPAS_E_BAD_UTF8;
		for (k = 0; k < 6 && strcmp(key, keys[k]) != 0; k++)
			;
		if (k == 6)
			return unknown_field(w->f, "respondent", key,
			                     strlen(key));
		path(field, "respondent", key, strlen(key));
		if (k == 2) {
			rv = j_int(w->f, v, field, &p->age);
			p->has_age = rv == SIPAS_OK;
		} else {
			rv = j_str(w, v, field, SIPAS_MAX_TEXT,
			           k == 0 ? kind_names : NULL, k == 0 ? 2 : 0,
			           str[k]);
		}
		if (rv)
			return rv;
	}
	return SIPAS_OK;
}

static sipas_err j_entry(struct walk *w, const json_t *o)
{
	sipas_entry *e = &w->r->entry;
	const char **str[] = {&e->clerk, &e->batch, &e->serial};
	static const char *const keys[] = {"clerk", "batch", "serial"};
	char field[SIPAS_ACK_FIELD_MAX];
	const char *key;
	json_t *v;
	sipas_err rv;
	int k;

	if (!json_is_object(o))
		return bad(w->f, SIPAS_E_BAD_TYPE, "entry", "must be a map.");
	e->present = true;
	json_object_foreach((json_t *)o, key, v)
	{
		if (j_key(w, key, "entry"))
			return SIPAS_E_BAD_UTF8;
		for (k = 0; k < 3 && strcmp(key, keys[k]) != 0; k++)
			;
		if (k == 3)
			return unknown_field(w->f, "entry", key, strlen(key));
		path(field, "entry", key, strlen(key));
		rv = j_str(w, v, field, SIPAS_MAX_TEXT, NULL, 0, str[k]);
		if (rv)
			return rv;
	}
	return SIPAS_OK;
}


static sipas_err j_value(struct walk *w, int k, const json_t *v)
{
	sipas_response *r = w->r;
	const char *key = sipas_response_keys[k];

	switch (k) {
	case SIPAS_KEY_V:
		if (json_is_integer(v) &&
		    json_integer_value(v) != SIPAS_PROTOCOL_VERSION)
			return bad(w->f, SIPAS_E_BAD_VALUE, key, "must be %d.",
			           SIPAS_PROTOCOL_VERSION);
		return j_int(w->f, v, key, &r->v);
	case SIPAS_KEY_ID:
		return SIPAS_OK; /* taken first */
	case SIPAS_KEY_CAMPAIGN:
		return j_str(w, v, key, SIPAS_MAX_TEXT, NULL, 0, &r->campaign);
	case SIPAS_KEY_UNIT:
		return j_str(w, v, key, SIPAS_MAX_TEXT, NULL, 0, &r->unit);
	case SIPAS_KEY_FORM:
		return j_str(w, v, key, SIPAS_MAX_TEXT, NULL, 0, &r->form);
	case SIPAS_KEY_CHANNEL:
		return j_str(w, v, key, SIPAS_MAX_TEXT, sipas_channel_names,
		             SIPAS_NCHANNELS, &r->channel);
	case SIPAS_KEY_TS:
		return j_int(w->f, v, key, &r->ts);
	case SIPAS_KEY_ITEMS:
		return j_items(w, v);
	case SIPAS_KEY_RESPONDENT:
		return j_respondent(w, v);
	case SIPAS_KEY_COMMENT:
		return j_str(w, v, key, SIPAS_MAX_COMMENT, NULL, 0,
		             &r->comment);
	default:
		return j_entry(w, v);
	}
}

static sipas_err j_response(struct walk *w, const json_t *root)
{
	const json_t *id = json_object_get(root, "id");
	const char *key;
	json_t *v;
	unsigned seen = 0;
	sipas_err rv;
	int k;

	if (id != NULL) {
		if (!json_is_string(id))
			return bad(w->f, SIPAS_E_BAD_TYPE, "id",
			           "must be a string.");
		if (has_mark(w, json_string_value(id), json_string_length(id)))
			return bad(w->f, SIPAS_E_BAD_UTF8, "id",
			           "is not valid UTF-8.");
		rv = check_id(w->f, json_string_value(id),
		              json_string_length(id));
		if (rv)
			return rv;
		w->r->id = json_string_value(id);
	}
	json_object_foreach((json_t *)root, key, v)
	{
		if (j_key(w, key, ""))
			return SIPAS_E_BAD_UTF8;
		for (k = 0; k < SIPAS_NKEYS && strcmp(key, sipas_response_keys[k]) != 0; k++)
			;
		if (k == SIPAS_NKEYS)
			return unknown_field(w->f, NULL, key, strlen(key));
		seen |= 1u << k;
		rv = j_value(w, k, v);
		if (rv)
			return rv;
	}
	for (k = 0; k < SIPAS_KEY_NREQUIRED; k++)
		if (!(seen & 1u << k))
			return bad(w->f, SIPAS_E_MISSING_FIELD, sipas_response_keys[k],
			           "is missing.");
	return SIPAS_OK;
}

/* jansson's error text quotes the input near the error, invalid UTF-8
 * and all: each byte that does not start a UTF-8 character becomes '?',
 * so that the sentence an ack or a report line carries stays UTF-8. */
static void scrub(char *s)
{
	size_t len = strlen(s), i = 0, n;

	while (i < len) {
		n = sipas_utf8_char(s + i, len - i);
		if (n == 0) {
			s[i++] = '?';
			continue;
		}
		i += n;
	}
}

/* Whether v nests containers deeper than `room` levels (v itself counts
 * as one); the walk stops one level past the limit. */
static bool too_deep(const json_t *v, int room)
{
	const char *key;
	json_t *x;
	size_t i;

	if (!json_is_object(v) && !json_is_array(v))
		return false;
	if (room == 0)
		return true;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, x)
		{
			if (too_deep(x, room - 1))
				return true;
		}
	} else {
		json_array_foreach(v, i, x)
		{
			if (too_deep(x, room - 1))
				return true;
		}
	}
	return false;
}

/* The line in rec -> r, or a fault. */
static sipas_err json_record(sipas_input *in, sipas_response *r, sipas_fault *f)
{
	const size_t flags = JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	struct walk w = {in, r, f, false};
	const char *text = in->rec;
	size_t len = in->len;
	bool sanitized = false;
	json_error_t err;
	sipas_err rv;

	for (;;) {
		in->doc = json_loadb(text, len, flags, &err);
		if (in->doc != NULL)
			break;
		switch (json_error_code(&err)) {
		case json_error_invalid_utf8:
			if (!sanitized) {
				text = sanitize(in, in->rec, in->len, &len);
				sanitized = w.marked = true;
				continue;
			}
			break;
		case json_error_duplicate_key:
			sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
			                "A map repeats a key.");
			return SIPAS_E_MALFORMED;
		case json_error_numeric_overflow:
			sipas_fault_set(f, SIPAS_E_OUT_OF_RANGE, NULL,
			                "A number does not fit in 64 bits "
			                "(column %d).",
			                err.column);
			return SIPAS_E_OUT_OF_RANGE;
		case json_error_null_byte_in_key:
			sipas_fault_set(f, SIPAS_E_BAD_UTF8, NULL,
			                "A key is not valid UTF-8.");
			return SIPAS_E_BAD_UTF8;
		default:
			break;
		}
		if (sanitized) {
			/* the first problem met was the invalid UTF-8 */
			sipas_fault_set(f, SIPAS_E_BAD_UTF8, NULL,
			                "The line is not valid UTF-8.");
			return SIPAS_E_BAD_UTF8;
		}
		scrub(err.text);
		sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
		                "The line is not one JSON object: %s "
		                "(column %d).",
		                err.text, err.column);
		return SIPAS_E_MALFORMED;
	}
	if (!json_is_object(in->doc)) {
		sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
		                "The line is not one JSON object.");
		return SIPAS_E_MALFORMED;
	}
	/* The codec refuses msgpack nested deeper than SIPAS_MAX_DEPTH as
	 * malformed before it looks at any key: so does the reader, or a
	 * deep value in the wrong place would get another answer here. */
	if (too_deep(in->doc, SIPAS_MAX_DEPTH)) {
		sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
		                "The line nests maps and arrays deeper than "
		                "%d levels.",
		                SIPAS_MAX_DEPTH);
		return SIPAS_E_MALFORMED;
	}
	rv = j_response(&w, in->doc);
	if (rv == SIPAS_OK && sanitized) {
		/* The bad bytes sat where the walk does not look for them
		 * (after a backslash, say): refuse the line all the same. */
		sipas_fault_set(f, SIPAS_E_BAD_UTF8, NULL,
		                "The line is not valid UTF-8.");
		rv = SIPAS_E_BAD_UTF8;
	}
	return rv;
}

/* ---- CSV: cutting records into cells ---- */

enum { S_START, S_UNQ, S_Q, S_QQ };

struct cut {
	bool overlong;    /* cells did not fit */
	bool too_many;    /* more than SIPAS_INPUT_MAX_COLUMNS cells */
	bool bad_quote;   /* text after a closing quote */
	bool open_quote;  /* the input ended inside a quoted cell */
	uint32_t bad_col; /* first cell with a quoting problem (1-based) */
	bool any;         /* consumed at least one byte */
};

static void push(sipas_input *in, struct cut *c, char ch)
{
	if (in->len < SIPAS_INPUT_MAX_LINE) {
		rec_reserve(in, in->len + 1);
		in->rec[in->len++] = ch;
	} else {
		c->overlong = true;
	}
}

/* End the current cell, which started at `start`. */
static void end_cell(sipas_input *in, struct cut *c, size_t start, bool quoted)
{
	if (!quoted && in->len > start && in->rec[in->len - 1] == '\r')
		in->len--; /* the CR of a CRLF */
	if (in->ncells >= SIPAS_INPUT_MAX_COLUMNS) {
		c->too_many = true;
		in->len = start;
		in->ncells++;
		return;
	}
	in->cell_off[in->ncells] = (uint32_t)start;
	in->cell_len[in->ncells] = (uint32_t)(in->len - start);
	in->ncells++;
	/* rec may hold a NUL per cell past SIPAS_INPUT_MAX_LINE */
	rec_reserve(in, in->len + 1);
	in->rec[in->len++] = '\0';
	in->cell_quoted_last = quoted;
}

/* Cut one record into cells. *got is false at the end of input. */
static sipas_err cut_record(sipas_input *in, struct cut *c, bool *got,
                            sipas_diag *diag)
{
	int st = S_START;
	size_t start = 0;
	bool quoted = false;
	sipas_err rv;

	memset(c, 0, sizeof *c);
	in->len = 0;
	in->ncells = 0;
	*got = false;
	for (;;) {
		char ch;

		if (in->pos == in->end) {
			rv = fill(in, diag);
			if (rv)
				return rv;
			if (in->end == 0)
				break;
			continue;
		}
		ch = in->chunk[in->pos++];
		in->offset++;
		c->any = true;
		if (ch == '\n')
			in->lineno++;
		switch (st) {
		case S_START:
			if (ch == '"') {
				st = S_Q;
				quoted = true;
				continue;
			}
			st = S_UNQ;
			/* fall through */
		case S_UNQ:
			if (ch == ',') {
				end_cell(in, c, start, quoted);
				start = in->len;
				quoted = false;
				st = S_START;
			} else if (ch == '\n') {
				end_cell(in, c, start, quoted);
				*got = true;
				return SIPAS_OK;
			} else {
				push(in, c, ch);
			}
			continue;
		case S_Q:
			if (ch == '"')
				st = S_QQ;
			else
				push(in, c, ch);
			continue;
		default: /* S_QQ: after a quote inside a quoted cell */
			if (ch == '"') {
				push(in, c, '"');
				st = S_Q;
			} else if (ch == ',') {
				end_cell(in, c, start, quoted);
				start = in->len;
				quoted = false;
				st = S_START;
			} else if (ch == '\n') {
				end_cell(in, c, start, quoted);
				*got = true;
				return SIPAS_OK;
			} else if (ch != '\r') {
				if (!c->bad_quote)
					c->bad_col = in->ncells + 1;
				c->bad_quote = true;
				push(in, c, ch);
				st = S_UNQ;
			}
			continue;
		}
	}
	if (!c->any)
		return SIPAS_OK;
	if (st == S_Q) {
		c->open_quote = true;
		c->bad_col = in->ncells + 1;
	}
	end_cell(in, c, start, quoted);
	*got = true;
	return SIPAS_OK;
}

/* ---- CSV: the header ---- */

static sipas_err header(sipas_input *in, uint64_t line, sipas_diag *diag)
{
	size_t used = 0;

	if (in->ncells > SIPAS_INPUT_MAX_COLUMNS) {
		sipas_diag_set(diag, "line %llu: more than %d columns",
		               (unsigned long long)line,
		               SIPAS_INPUT_MAX_COLUMNS);
		return SIPAS_E_BAD_VALUE;
	}
	if (in->ncells == 1 && memchr(in->rec, ';', in->cell_len[0]) != NULL) {
		sipas_diag_set(diag,
		               "line %llu: the header is one column "
		               "holding ';': the cells must be separated by "
		               "commas",
		               (unsigned long long)line);
		return SIPAS_E_BAD_VALUE;
	}
	in->hdr = sipas_xmalloc(in->len + 1);
	for (uint32_t i = 0; i < in->ncells; i++) {
		const char *s = in->rec + in->cell_off[i];
		size_t n = in->cell_len[i];
		struct column *col = &in->cols[i];
		int k;

		while (n > 0 && (*s == ' ' || *s == '\t'))
			s++, n--;
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (n == 0) {
			sipas_diag_set(diag, "line %llu: column %u has no name",
			               (unsigned long long)line, i + 1);
			return SIPAS_E_BAD_VALUE;
		}
		for (k = 0; k < NFIXED; k++)
			if (strlen(col_names[k]) == n &&
			    memcmp(col_names[k], s, n) == 0)
				break;
		if (k == NFIXED && n > 6 && memcmp(s, "items.", 6) == 0)
			s += 6, n -= 6; /* "items.A1" names item A1 */
		else if (k == NFIXED &&
		         ((n > 11 && memcmp(s, "respondent.", 11) == 0) ||
		          (n > 6 && memcmp(s, "entry.", 6) == 0)))
			k = C_UNKNOWN;
		col->kind = k;
		memcpy(in->hdr + used, s, n);
		in->hdr[used + n] = '\0';
		col->name = in->hdr + used;
		col->len = n;
		used += n + 1;
		for (uint32_t j = 0; j < i; j++)
			if (in->cols[j].kind == k && in->cols[j].len == n &&
			    memcmp(in->cols[j].name, col->name, n) == 0) {
				sipas_diag_set(diag,
				               "line %llu: column %s appears "
				               "twice (columns %u and %u)",
				               (unsigned long long)line,
				               col->name, j + 1, i + 1);
				return SIPAS_E_BAD_VALUE;
			}
	}
	in->ncols = in->ncells;
	in->have_header = true;
	return SIPAS_OK;
}

/* ---- CSV: a record -> response ---- */

/* Parse a decimal int64 (spaces around allowed). 0 ok, -1 not a number,
 * -2 does not fit 64 bits. */
static int parse_int(const char *s, size_t n, int64_t *out)
{
	uint64_t v = 0, lim;
	bool neg = false, any = false;
	size_t i = 0;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; i < n; i++) {
		unsigned d = (unsigned char)s[i] - '0';

		if (d > 9)
			return -1;
		any = true;
		if (v > (lim - d) / 10) {
			/* keep checking the rest are digits */
			for (i++; i < n; i++)
				if ((unsigned char)s[i] - '0' > 9)
					return -1;
			return -2;
		}
		v = v * 10 + d;
	}
	if (!any)
		return -1;
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

/* A cell shown in a detail: cut to fit, valid UTF-8 or not. */
static void quote_cell(char out[48], const char *s, size_t n)
{
	size_t k = n < 40 ? n : 40;

	memcpy(out, s, k);
	out[k] = '\0';
	sipas_utf8_clip(out);
	if (!sipas_utf8_valid(out, strlen(out)))
		snprintf(out, 48, "%s", "(not UTF-8)");
	else if (k < n)
		memcpy(out + strlen(out), "...", 4);
}

struct row {
	sipas_input *in;
	sipas_response *r;
	sipas_fault *f;
	const char *cell[NFIXED]; /* NULL when absent or empty */
	size_t clen[NFIXED];
	const sipas_def *def;
	const sipas_form *form;
};

/* 1: the item is multi for this row, 0: it is not, -1: not known. */
static int item_is_multi(const struct row *w, const char *id, size_t len)
{
	int found = -1;
	int32_t slot;

	if (w->form != NULL) {
		slot = sipas_form_find_slot(w->form, id, len);
		if (slot >= 0)
			return (uint32_t)slot >= w->form->ncriteria &&
			       w->form->items[(uint32_t)slot -
			                      w->form->ncriteria]
			               .kind == SIPAS_ITEM_MULTI;
	}
	for (uint32_t i = 0; w->def != NULL && i < sipas_def_nforms(w->def);
	     i++) {
		const sipas_form *f = sipas_def_form(w->def, i);

		slot = sipas_form_find_slot(f, id, len);
		if (slot < 0)
			continue;
		if ((uint32_t)slot >= f->ncriteria &&
		    f->items[(uint32_t)slot - f->ncriteria].kind ==
		        SIPAS_ITEM_MULTI)
			return 1;
		found = 0;
	}
	return found;
}

static sipas_err cell_int(struct row *w, const char *field, const char *s,
                          size_t n, int64_t *out)
{
	char shown[48];

	switch (parse_int(s, n, out)) {
	case 0:
		return SIPAS_OK;
	case -2:
		return bad(w->f, SIPAS_E_OUT_OF_RANGE, field,
		           "does not fit in 64 bits.");
	default:
		quote_cell(shown, s, n);
		return bad(w->f, SIPAS_E_BAD_VALUE, field,
		           "must be an integer, not \"%s\".", shown);
	}
}

static sipas_err cell_codes(struct row *w, const char *field, const char *s,
                            size_t n, sipas_answer *a)
{
	sipas_input *in = w->in;
	int64_t *codes = in->codes + in->ncodes;
	size_t room = MAX_CODES_TOTAL - in->ncodes, k = 0, i = 0, j;
	char shown[48];
	int rv;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (n - i == 2 && s[i] == '[' && s[i + 1] == ']')
		i = n; /* answered, no code chosen */
	while (i < n) {
		for (j = i; j < n && s[j] != ';'; j++)
			;
		if (k == SIPAS_MAX_CODES)
			return bad(w->f, SIPAS_E_TOO_LARGE, field,
			           "holds more than %d codes.",
			           SIPAS_MAX_CODES);
		if (k == room) {
			sipas_fault_set(w->f, SIPAS_E_TOO_LARGE, "items",
			                "The items hold more than %d codes in "
			                "all.",
			                MAX_CODES_TOTAL);
			return SIPAS_E_TOO_LARGE;
		}
		rv = parse_int(s + i, j - i, &codes[k]);
		if (rv == -2)
			return bad(w->f, SIPAS_E_OUT_OF_RANGE, field,
			           "does not fit in 64 bits.");
		if (rv != 0 || (j < n && j + 1 == n)) {
			quote_cell(shown, s, n);
			return bad(w->f, SIPAS_E_BAD_VALUE, field,
			           "must be codes separated by ;, not \"%s\".",
			           shown);
		}
		k++;
		i = j + 1;
	}
	a->kind = SIPAS_ANSWER_LIST;
	a->ncodes = (uint32_t)k;
	a->codes = codes;
	in->ncodes += k;
	return SIPAS_OK;
}

static sipas_err csv_items(struct row *w)
{
	sipas_input *in = w->in;
	sipas_response *r = w->r;
	char field[SIPAS_ACK_FIELD_MAX], shown[48];
	sipas_err rv;

	for (uint32_t i = 0; i < in->ncols; i++) {
		const struct column *col = &in->cols[i];
		const char *s = in->rec + in->cell_off[i];
		size_t n = in->cell_len[i];
		sipas_answer *a;
		int multi;

		if (col->kind != C_ITEM || n == 0)
			continue;
		if (r->nanswers == SIPAS_MAX_ANSWERS)
			return bad(w->f, SIPAS_E_TOO_LARGE, "items",
			           "holds more than %d answers.",
			           SIPAS_MAX_ANSWERS);
		if (!sipas_utf8_valid(col->name, col->len)) {
			sipas_fault_set(w->f, SIPAS_E_BAD_UTF8, "items",
			                "A key of items is not valid UTF-8.");
			return SIPAS_E_BAD_UTF8;
		}
		if (col->len > SIPAS_MAX_TEXT) {
			sipas_fault_set(w->f, SIPAS_E_TOO_LARGE, "items",
			                "An item id is longer than %d bytes.",
			                SIPAS_MAX_TEXT);
			return SIPAS_E_TOO_LARGE;
		}
		path(field, "items", col->name, col->len);
		a = &r->answers[r->nanswers];
		memset(a, 0, sizeof *a);
		multi = item_is_multi(w, col->name, col->len);
		if (multi < 0)
			multi = memchr(s, ';', n) != NULL ||
			        (n == 2 && s[0] == '[' && s[1] == ']');
		if (multi) {
			rv = cell_codes(w, field, s, n, a);
		} else if (memchr(s, ';', n) != NULL) {
			quote_cell(shown, s, n);
			rv = bad(w->f, SIPAS_E_BAD_VALUE, field,
			         "takes one integer, not \"%s\".", shown);
		} else {
			a->kind = SIPAS_ANSWER_INT;
			rv = cell_int(w, field, s, n, &a->value);
		}
		if (rv)
			return rv;
		a->item = col->name;
		a->item_len = (uint32_t)col->len;
		r->nanswers++;
	}
	return SIPAS_OK;
}

/* `ts`: unix seconds, or an ISO-8601 date or date-time. */
static sipas_err cell_ts(struct row *w, const char *s, size_t n)
{
	char shown[48];
	int rv;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	if (n < 10 || s[4] != '-') {
		rv = parse_int(s, n, &w->r->ts);
		if (rv == -2)
			return bad(w->f, SIPAS_E_OUT_OF_RANGE, "ts",
			           "does not fit in 64 bits.");
		if (rv == 0)
			return SIPAS_OK;
	} else if (sipas_time_parse_iso8601(s, n, w->in->o.utc_offset,
	                                    &w->r->ts) == SIPAS_OK) {
		return SIPAS_OK;
	}
	quote_cell(shown, s, n);
	return bad(w->f, SIPAS_E_BAD_VALUE, "ts",
	           "must be unix seconds or an ISO-8601 date or date-time, "
	           "not \"%s\".",
	           shown);
}

/* A string column: checked as the codec checks it. */
static sipas_err cell_str(struct row *w, int k, size_t max,
                          const char *const *allowed, size_t nallowed,
                          const char **out)
{
	sipas_err rv;

	if (w->cell[k] == NULL)
		return SIPAS_OK;
	rv = check_str(w->f, w->cell[k], w->clen[k], col_names[k], max, allowed,
	               nallowed);
	if (rv == SIPAS_OK)
		*out = w->cell[k];
	return rv;
}

/* Unknown respondent.* / entry.* columns with a value. A name that is
 * not UTF-8 is a key the codec refuses as bad_utf8 before it looks it up:
 * so is the column, and its bytes are never echoed in the fault. */
static sipas_err csv_unknown(struct row *w, const char *prefix)
{
	sipas_input *in = w->in;
	size_t plen = strlen(prefix);

	for (uint32_t i = 0; i < in->ncols; i++) {
		const struct column *col = &in->cols[i];

		if (col->kind != C_UNKNOWN || in->cell_len[i] == 0 ||
		    strncmp(col->name, prefix, plen) != 0)
			continue;
		if (!sipas_utf8_valid(col->name, col->len)) {
			char parent[16];

			snprintf(parent, sizeof parent, "%.*s", (int)plen - 1,
			         prefix);
			sipas_fault_set(w->f, SIPAS_E_BAD_UTF8, parent,
			                "A key of %s is not valid UTF-8.",
			                parent);
			return SIPAS_E_BAD_UTF8;
		}
		return unknown_field(w->f, NULL, col->name, col->len);
	}
	return SIPAS_OK;
}

static sipas_err csv_fields(struct row *w)
{
	sipas_response *r = w->r;
	sipas_respondent *p = &r->respondent;
	sipas_entry *e = &r->entry;
	static const int required[] = {C_ID,   C_CAMPAIGN, C_UNIT,
	                               C_FORM, C_CHANNEL,  C_TS};
	sipas_err rv = SIPAS_OK;
	int k;

	if (w->cell[C_ID] != NULL) {
		rv = check_id(w->f, w->cell[C_ID], w->clen[C_ID]);
		if (rv)
			return rv;
		r->id = w->cell[C_ID];
	}
	r->v = SIPAS_PROTOCOL_VERSION;
	if (w->cell[C_V] != NULL) {
		rv = cell_int(w, "v", w->cell[C_V], w->clen[C_V], &r->v);
		if (rv == SIPAS_OK && r->v != SIPAS_PROTOCOL_VERSION)
			rv = bad(w->f, SIPAS_E_BAD_VALUE, "v", "must be %d.",
			         SIPAS_PROTOCOL_VERSION);
		if (rv)
			return rv;
	}
	if ((rv = cell_str(w, C_CAMPAIGN, SIPAS_MAX_TEXT, NULL, 0,
	                   &r->campaign)) ||
	    (rv = cell_str(w, C_UNIT, SIPAS_MAX_TEXT, NULL, 0, &r->unit)) ||
	    (rv = cell_str(w, C_FORM, SIPAS_MAX_TEXT, NULL, 0, &r->form)) ||
	    (rv = cell_str(w, C_CHANNEL, SIPAS_MAX_TEXT, sipas_channel_names,
	                   SIPAS_NCHANNELS, &r->channel)))
		return rv;
	if (w->cell[C_TS] != NULL &&
	    (rv = cell_ts(w, w->cell[C_TS], w->clen[C_TS])))
		return rv;
	if ((rv = csv_items(w)))
		return rv;

	for (k = C_R_KIND; k <= C_R_ETHNIC; k++)
		p->present |= w->cell[k] != NULL;
	if ((rv = cell_str(w, C_R_KIND, SIPAS_MAX_TEXT, kind_names, 2,
	                   &p->kind)) ||
	    (rv = cell_str(w, C_R_GENDER, SIPAS_MAX_TEXT, NULL, 0, &p->gender)))
		return rv;
	if (w->cell[C_R_AGE] != NULL) {
		rv = cell_int(w, "respondent.age", w->cell[C_R_AGE],
		              w->clen[C_R_AGE], &p->age);
		if (rv)
			return rv;
		p->has_age = true;
	}
	if ((rv = cell_str(w, C_R_EDU, SIPAS_MAX_TEXT, NULL, 0, &p->edu)) ||
	    (rv = cell_str(w, C_R_JOB, SIPAS_MAX_TEXT, NULL, 0, &p->job)) ||
	    (rv = cell_str(w, C_R_ETHNIC, SIPAS_MAX_TEXT, NULL, 0,
	                   &p->ethnic)) ||
	    (rv = csv_unknown(w, "respondent.")) ||
	    (rv = cell_str(w, C_COMMENT, SIPAS_MAX_COMMENT, NULL, 0,
	                   &r->comment)))
		return rv;

	for (k = C_E_CLERK; k <= C_E_SERIAL; k++)
		e->present |= w->cell[k] != NULL;
	if ((rv = cell_str(w, C_E_CLERK, SIPAS_MAX_TEXT, NULL, 0, &e->clerk)) ||
	    (rv = cell_str(w, C_E_BATCH, SIPAS_MAX_TEXT, NULL, 0, &e->batch)) ||
	    (rv = cell_str(w, C_E_SERIAL, SIPAS_MAX_TEXT, NULL, 0,
	                   &e->serial)) ||
	    (rv = csv_unknown(w, "entry.")))
		return rv;

	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (w->cell[required[i]] == NULL)
			return bad(w->f, SIPAS_E_MISSING_FIELD,
			           col_names[required[i]], "is missing.");
	return SIPAS_OK;
}

static sipas_err csv_record(sipas_input *in, const struct cut *c,
                            sipas_response *r, sipas_fault *f, bool *guessed)
{
	struct row w = {.in = in, .r = r, .f = f};

	if (c->overlong) {
		sipas_fault_set(f, SIPAS_E_TOO_LARGE, NULL,
		                "The record is longer than %u bytes.",
		                SIPAS_INPUT_MAX_LINE);
		return SIPAS_E_TOO_LARGE;
	}
	if (c->open_quote || c->bad_quote) {
		sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
		                c->open_quote
		                    ? "Cell %u opens a quote that is never "
		                      "closed."
		                    : "Cell %u has text after its closing "
		                      "quote.",
		                c->bad_col);
		return SIPAS_E_MALFORMED;
	}
	if (in->ncells != in->ncols) {
		sipas_fault_set(f, SIPAS_E_MALFORMED, NULL,
		                "The record has %u cells; the header has %u "
		                "columns.",
		                in->ncells, in->ncols);
		return SIPAS_E_MALFORMED;
	}
	for (uint32_t i = 0; i < in->ncols; i++) {
		int k = in->cols[i].kind;

		if (k < NFIXED && in->cell_len[i] > 0) {
			w.cell[k] = in->rec + in->cell_off[i];
			w.clen[k] = in->cell_len[i];
		}
	}
	if (in->o.definition != NULL) {
		w.def = in->o.definition(in->o.ctx, w.cell[C_CAMPAIGN] != NULL
		                                        ? w.cell[C_CAMPAIGN]
		                                        : "");
		if (w.def != NULL && w.cell[C_FORM] != NULL)
			w.form = sipas_def_find_form(w.def, w.cell[C_FORM],
			                             w.clen[C_FORM]);
	}
	*guessed = w.def == NULL;
	return csv_fields(&w);
}

/* ---- the reader ---- */

void sipas_input_new(sipas_input **out, FILE *f, const char *name,
                     const sipas_input_opts *opts)
{
	sipas_input *in = sipas_xcalloc(1, sizeof *in);

	in->f = f;
	in->fd = fileno(f);
	in->name = sipas_xstrndup(name, strlen(name));
	in->o = *opts;
	in->chunk = sipas_xmalloc(CHUNK);
	in->lineno = 1;
	in->cap = REC_START;
	in->rec = sipas_xmalloc(in->cap);
	if (opts->format == SIPAS_INPUT_CSV) {
		in->cols =
		    sipas_xcalloc(SIPAS_INPUT_MAX_COLUMNS, sizeof *in->cols);
		in->cell_off = sipas_xcalloc(SIPAS_INPUT_MAX_COLUMNS,
		                             sizeof *in->cell_off);
		in->cell_len = sipas_xcalloc(SIPAS_INPUT_MAX_COLUMNS,
		                             sizeof *in->cell_len);
	}
	*out = in;
}

void sipas_input_free(sipas_input **pin)
{
	sipas_input *in;

	if (pin == NULL || *pin == NULL)
		return;
	in = *pin;
	json_decref(in->doc);
	free(in->scratch);
	free(in->cols);
	free(in->cell_off);
	free(in->cell_len);
	free(in->hdr);
	free(in->rec);
	free(in->chunk);
	free(in->name);
	free(in);
	*pin = NULL;
}

uint64_t sipas_input_offset(const sipas_input *in)
{
	return in->offset;
}

const char *sipas_input_format_name(sipas_input_format f)
{
	return f == SIPAS_INPUT_CSV ? "csv" : "jsonl";
}

int sipas_input_format_parse(const char *name)
{
	if (strcmp(name, "jsonl") == 0 || strcmp(name, "json") == 0)
		return SIPAS_INPUT_JSONL;
	if (strcmp(name, "csv") == 0)
		return SIPAS_INPUT_CSV;
	return -1;
}

/* A blank line, or a row of empty cells (spreadsheets export those). */
static bool empty_row(const sipas_input *in)
{
	if (in->ncells == 1)
		return !in->cell_quoted_last &&
		       blank(in->rec + in->cell_off[0], in->cell_len[0]);
	for (uint32_t i = 0; i < in->ncells && i < SIPAS_INPUT_MAX_COLUMNS; i++)
		if (in->cell_len[i] > 0)
			return false;
	return true;
}

/* The next record of the input: its text in rec (JSON) or its cells (CSV);
 * skips blank lines. */
static sipas_err next_text(sipas_input *in, struct cut *c, bool *got,
                           uint64_t *line, sipas_diag *diag)
{
	sipas_err rv;

	for (;;) {
		*line = in->lineno;
		if (in->o.format == SIPAS_INPUT_JSONL) {
			memset(c, 0, sizeof *c);
			rv = read_line(in, got, &c->overlong, diag);
			if (rv || !*got)
				return rv;
			if (c->overlong || !blank(in->rec, in->len))
				return SIPAS_OK;
			continue;
		}
		rv = cut_record(in, c, got, diag);
		if (rv || !*got)
			return rv;
		if (!c->overlong && !c->open_quote && !c->bad_quote &&
		    empty_row(in))
			continue;
		return SIPAS_OK;
	}
}

sipas_err sipas_input_next(sipas_input *in, sipas_response *r, sipas_buf *wire,
                           sipas_record *rec, sipas_diag *diag)
{
	struct cut c;
	bool got;
	sipas_err rv;

	json_decref(in->doc);
	in->doc = NULL;
	in->ncodes = 0;
	for (;;) {
		rv = next_text(in, &c, &got, &rec->line, diag);
		if (rv)
			return rv;
		if (!got)
			return SIPAS_E_NOT_FOUND;
		if (in->o.format == SIPAS_INPUT_JSONL || in->have_header)
			break;
		if (c.overlong || c.open_quote || c.bad_quote) {
			sipas_diag_set(diag, "line %llu: the header row is %s",
			               (unsigned long long)rec->line,
			               c.overlong ? "too long"
			                          : "not valid CSV");
			return SIPAS_E_BAD_VALUE;
		}
		rv = header(in, rec->line, diag);
		if (rv)
			return rv;
	}

	memset(&rec->fault, 0, sizeof rec->fault);
	rec->ok = false;
	rec->guessed = false;
	response_reset(r);
	if (in->o.format == SIPAS_INPUT_JSONL) {
		if (c.overlong) {
			sipas_fault_set(&rec->fault, SIPAS_E_TOO_LARGE, NULL,
			                "The line is longer than %u bytes.",
			                SIPAS_INPUT_MAX_LINE);
			return SIPAS_OK;
		}
		rv = json_record(in, r, &rec->fault);
	} else {
		rv = csv_record(in, &c, r, &rec->fault, &rec->guessed);
	}
	if (rv)
		return SIPAS_OK;
	if (wire != NULL) {
		sipas_buf_reset(wire);
		rv = sipas_response_encode(wire, r);
		if (rv == SIPAS_E_TOO_LARGE) {
			sipas_fault_set(&rec->fault, SIPAS_E_TOO_LARGE, NULL,
			                "A response map is at most %d bytes.",
			                SIPAS_MAX_REQUEST);
			return SIPAS_OK;
		}
		if (rv) {
			sipas_fault_set(&rec->fault, rv, NULL, "%s",
			                sipas_strerror(rv));
			return SIPAS_OK;
		}
	}
	rec->ok = true;
	return SIPAS_OK;
}
