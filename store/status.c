/*
 * status.c - read the daemons' metrics files, summarise them (see
 * sipas_status.h).
 */
#include "sipas_status.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sipas_buf.h"
#include "sipas_protocol.h"
#include "sipas_text.h"

#define MAX_LABELS 8 /* labels of one sample; ours carry at most 4 */

struct parser {
	const char *name;
	size_t line;
	sipas_status_file *st;
	sipas_diag *diag;
	unsigned typed; /* bit i: a TYPE line for standard family i */
	bool inf;       /* the +Inf bucket of the histogram was read */
	bool has_sum, has_count;
};

/* One sample line, its label values unescaped into buf. */
struct sample {
	const char *name;
	size_t nlen;
	size_t nlabels;
	struct {
		const char *key;
		size_t klen;
		const char *value; /* NUL-terminated, in buf */
	} l[MAX_LABELS];
	double value;
	char buf[SIPAS_STATUS_MAX_LINE + 1];
};

static sipas_err bad(struct parser *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "name:line: why". The messages never quote the file's bytes, so a
 * message is always one printable line. */
static sipas_err bad(struct parser *p, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	if (p->line > 0)
		sipas_diag_set(p->diag, "%s:%zu: %s", p->name, p->line, why);
	else
		sipas_diag_set(p->diag, "%s: %s", p->name, why);
	return SIPAS_E_MALFORMED;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static size_t skip_blanks(const char *s, size_t len, size_t i)
{
	while (i < len && is_blank(s[i]))
		i++;
	return i;
}

/* Length of the name at s[i..len): [a-zA-Z_:][a-zA-Z0-9_:]* (no ':' for
 * a label name); 0 when none starts there. */
static size_t name_len(const char *s, size_t len, size_t i, bool colon)
{
	size_t n = 0;

	while (i + n < len) {
		char c = s[i + n];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (colon && c == ':') ||
		    (n > 0 && c >= '0' && c <= '9'))
			n++;
		else
			break;
	}
	return n;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A sample value: a decimal float, or +Inf, -Inf, Inf, NaN as the format
 * spells them. strtod alone would also take hex, "infinity", "nan(...)"
 * and leading blanks, which no writer of this format produces. */
static bool parse_num(const char *s, size_t len, double *v)
{
	char tmp[64];
	size_t i = 0, digits = 0, edigits = 0;

	if (len == 0 || len >= sizeof tmp)
		return false;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	if (strcmp(tmp, "+Inf") == 0 || strcmp(tmp, "Inf") == 0) {
		*v = INFINITY;
		return true;
	}
	if (strcmp(tmp, "-Inf") == 0) {
		*v = -INFINITY;
		return true;
	}
	if (strcmp(tmp, "NaN") == 0) {
		*v = NAN;
		return true;
	}
	if (tmp[i] == '+' || tmp[i] == '-')
		i++;
	for (; is_digit(tmp[i]); i++)
		digits++;
	if (tmp[i] == '.')
		for (i++; is_digit(tmp[i]); i++)
			digits++;
	if (digits == 0)
		return false;
	if (tmp[i] == 'e' || tmp[i] == 'E') {
		i++;
		if (tmp[i] == '+' || tmp[i] == '-')
			i++;
		for (; is_digit(tmp[i]); i++)
			edigits++;
		if (edigits == 0)
			return false;
	}
	if (i != len)
		return false;
	*v = strtod(tmp, NULL);
	/* Out of the range of a double: the Go parser refuses it too. */
	return !isinf(*v);
}

/* A quoted label value at s[*i] (on the opening quote): unescape \\ \" \n
 * into out (room for the whole line), NUL-terminate, check UTF-8. */
static sipas_err parse_quoted(struct parser *p, const char *s, size_t len,
                              size_t *i, char *out, size_t *used)
{
	size_t j = *i + 1, n = 0;
	char *dst = out + *used;

	for (;;) {
		if (j >= len)
			return bad(p, "label value without its closing quote");
		if (s[j] == '"')
			break;
		if (s[j] == '\\') {
			if (j + 1 >= len)
				return bad(p, "label value without its "
				              "closing quote");
			switch (s[j + 1]) {
			case '\\':
				dst[n++] = '\\';
				break;
			case '"':
				dst[n++] = '"';
				break;
			case 'n':
				dst[n++] = '\n';
				break;
			default:
				return bad(p, "invalid escape in a label "
				              "value (only \\\\, \\\" and "
				              "\\n)");
			}
			j += 2;
			continue;
		}
		dst[n++] = s[j++];
	}
	if (!sipas_utf8_valid(dst, n))
		return bad(p, "label value is not UTF-8");
	dst[n] = '\0';
	*used += n + 1;
	*i = j + 1;
	return SIPAS_OK;
}

/* name{k="v",...} value [timestamp], as the exposition format allows it:
 * blanks between the tokens, a comma before the closing brace. */
static sipas_err parse_sample(struct parser *p, const char *s, size_t len,
                              size_t i, struct sample *sm)
{
	size_t used = 0, n, start;
	sipas_err rv;

	sm->nlabels = 0;
	sm->name = s + i;
	sm->nlen = name_len(s, len, i, true);
	if (sm->nlen == 0)
		return bad(p, "a sample must start with a metric name");
	i = skip_blanks(s, len, i + sm->nlen);
	if (i < len && s[i] == '{') {
		i = skip_blanks(s, len, i + 1);
		while (i < len && s[i] != '}') {
			n = name_len(s, len, i, false);
			if (n == 0)
				return bad(p, "invalid label name");
			if (sm->nlabels == MAX_LABELS)
				return bad(p, "more than %d labels",
				           MAX_LABELS);
			for (size_t k = 0; k < sm->nlabels; k++)
				if (sm->l[k].klen == n &&
				    memcmp(sm->l[k].key, s + i, n) == 0)
					return bad(p, "label repeated");
			sm->l[sm->nlabels].key = s + i;
			sm->l[sm->nlabels].klen = n;
			i = skip_blanks(s, len, i + n);
			if (i >= len || s[i] != '=')
				return bad(p, "'=' expected after a label "
				              "name");
			i = skip_blanks(s, len, i + 1);
			if (i >= len || s[i] != '"')
				return bad(p, "label value must be quoted");
			sm->l[sm->nlabels].value = sm->buf + used;
			rv = parse_quoted(p, s, len, &i, sm->buf, &used);
			if (rv != SIPAS_OK)
				return rv;
			sm->nlabels++;
			i = skip_blanks(s, len, i);
			if (i < len && s[i] == ',')
				i = skip_blanks(s, len, i + 1);
			else if (i < len && s[i] != '}')
				return bad(p, "',' or '}' expected after a "
				              "label");
		}
		if (i >= len)
			return bad(p, "'}' expected");
		i = skip_blanks(s, len, i + 1);
	}
	start = i;
	while (i < len && !is_blank(s[i]))
		i++;
	if (i == start)
		return bad(p, "sample without a value");
	if (!parse_num(s + start, i - start, &sm->value))
		return bad(p, "invalid sample value");
	/* An optional timestamp (milliseconds): read, not used. */
	i = skip_blanks(s, len, i);
	if (i < len) {
		size_t k;

		start = i;
		while (i < len && !is_blank(s[i]))
			i++;
		k = start + (s[start] == '-');
		while (k < i && is_digit(s[k]))
			k++;
		if (k != i || !is_digit(s[i - 1]) || i - start > 20)
			return bad(p, "invalid timestamp");
		if (skip_blanks(s, len, i) != len)
			return bad(p, "unexpected text after the sample");
	}
	return SIPAS_OK;
}

/* The value of label `key`, or NULL. */
static const char *label(const struct sample *sm, const char *key)
{
	size_t n = strlen(key);

	for (size_t k = 0; k < sm->nlabels; k++)
		if (sm->l[k].klen == n && memcmp(sm->l[k].key, key, n) == 0)
			return sm->l[k].value;
	return NULL;
}

/* "# HELP name text", "# TYPE name type", or any other comment. */
static sipas_err parse_comment(struct parser *p, const char *s, size_t len,
                               size_t i)
{
	static const char *const types[] = {"counter", "gauge", "histogram",
	                                    "summary", "untyped"};
	bool help;
	size_t n, t;
	int std;

	i = skip_blanks(s, len, i + 1);
	if (len - i >= 4 && memcmp(s + i, "HELP", 4) == 0)
		help = true;
	else if (len - i >= 4 && memcmp(s + i, "TYPE", 4) == 0)
		help = false;
	else
		return SIPAS_OK;
	i += 4;
	if (i < len && !is_blank(s[i]))
		return SIPAS_OK; /* "# HELPER ..." is a plain comment */
	i = skip_blanks(s, len, i);
	n = name_len(s, len, i, true);
	if (n == 0 || (i + n < len && !is_blank(s[i + n])))
		return bad(p, "%s without a valid metric name",
		           help ? "HELP" : "TYPE");
	std = sipas_metric_def_find(s + i, n);
	i = skip_blanks(s, len, i + n);
	if (help) {
		/* The text escapes only backslash and newline. */
		for (; i < len; i++)
			if (s[i] == '\\') {
				if (i + 1 >= len ||
				    (s[i + 1] != '\\' && s[i + 1] != 'n'))
					return bad(p, "invalid escape in HELP "
					              "text");
				i++;
			}
		return SIPAS_OK;
	}
	for (t = 0; t < 5; t++) {
		size_t tl = strlen(types[t]);

		if (len - i >= tl && memcmp(s + i, types[t], tl) == 0 &&
		    skip_blanks(s, len, i + tl) == len)
			break;
	}
	if (t == 5)
		return bad(p, "unknown TYPE");
	if (std < 0)
		return SIPAS_OK;
	if (p->typed & (1u << std))
		return bad(p, "second TYPE line for %s",
		           sipas_metric_defs[std].name);
	p->typed |= 1u << std;
	if (t != (size_t)sipas_metric_defs[std].type)
		return bad(p, "%s must be of TYPE %s",
		           sipas_metric_defs[std].name,
		           types[sipas_metric_defs[std].type]);
	return SIPAS_OK;
}

/* [a-z0-9_]+: the shape of every ack code, which the summary prints. */
static bool code_ok(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || is_digit(*s) || *s == '_'))
			return false;
	return true;
}

/* The histogram sample (suffix _bucket, _sum or _count) of the commit
 * family, checked against what came before it. */
static sipas_err take_hist(struct parser *p, const struct sample *sm,
                           const char *suffix)
{
	sipas_status_hist *h = &p->st->commit;
	const char *le;
	double bound;

	if (!isfinite(sm->value) || sm->value < 0)
		return bad(p, "histogram values must be finite and not "
		              "negative");
	if (strcmp(suffix, "_sum") == 0) {
		if (p->has_sum)
			return bad(p, "repeated series");
		p->has_sum = true;
		h->sum = sm->value;
		return SIPAS_OK;
	}
	if (strcmp(suffix, "_count") == 0) {
		if (p->has_count)
			return bad(p, "repeated series");
		p->has_count = true;
		h->count = sm->value;
		return SIPAS_OK;
	}
	le = label(sm, "le");
	if (le == NULL || !parse_num(le, strlen(le), &bound))
		return bad(p, "bucket without a valid le label");
	/* The histogram is of durations: every bound above 0, +Inf last
	 * (NaN and -Inf bound nothing). */
	if (!(bound > 0))
		return bad(p, "bucket bound not above 0");
	if (p->inf)
		return bad(p, "bucket after the +Inf bucket");
	if (h->nbuckets > 0 && !(bound > h->le[h->nbuckets - 1]))
		return bad(p, "bucket bounds must increase");
	if (h->nbuckets > 0 && sm->value < h->cum[h->nbuckets - 1])
		return bad(p, "bucket counts must not decrease (they are "
		              "cumulative)");
	if (h->nbuckets == SIPAS_METRICS_MAX_BUCKETS + 1)
		return bad(p, "more than %d buckets",
		           SIPAS_METRICS_MAX_BUCKETS + 1);
	h->le[h->nbuckets] = bound;
	h->cum[h->nbuckets] = sm->value;
	h->nbuckets++;
	p->inf = bound == INFINITY;
	return SIPAS_OK;
}

/* One value into its place in *st; bit `std` of present marks it read. */
static sipas_err take(struct parser *p, int std, const struct sample *sm)
{
	const sipas_metric_def *d = &sipas_metric_defs[std];
	sipas_status_file *st = p->st;
	const char *v = d->label != NULL ? label(sm, d->label) : NULL;
	double *slot = NULL;
	int k;

	if (d->label != NULL && v == NULL)
		return bad(p, "%s without its %s label", d->name, d->label);
	if (!isfinite(sm->value) || sm->value < 0)
		return bad(p, "%s must be finite and not negative", d->name);
	switch (std) {
	case SIPAS_MD_UP:
		if (sm->value != 0 && sm->value != 1)
			return bad(p, "sipas_up must be 0 or 1");
		slot = &st->up;
		break;
	case SIPAS_MD_START_TIME:
		slot = &st->start_time;
		break;
	case SIPAS_MD_RECEIVED:
		slot = &st->received;
		break;
	case SIPAS_MD_QUARANTINED:
		slot = &st->quarantined;
		break;
	case SIPAS_MD_SPOOL_DEPTH:
		slot = &st->spool_depth;
		break;
	case SIPAS_MD_MAP_USED:
		slot = &st->map_used;
		break;
	case SIPAS_MD_MAP_SIZE:
		slot = &st->map_size;
		break;
	case SIPAS_MD_HANDSHAKE:
		slot = &st->handshake_failures;
		break;
	case SIPAS_MD_RESPONSES:
		for (k = 0; k < 4; k++)
			if (strcmp(v, sipas_status_name((sipas_status)k)) == 0)
				break;
		if (k == 4)
			return bad(p,
			           "unknown status in sipas_responses_total");
		if (st->has_status & (1u << k))
			return bad(p, "repeated series");
		st->has_status |= 1u << k;
		st->responses[k] = sm->value;
		st->present |= 1u << std;
		return SIPAS_OK;
	case SIPAS_MD_REJECTED:
		if (!code_ok(v))
			return bad(p, "invalid code in sipas_rejected_total");
		for (size_t i = 0; i < st->nrejected; i++)
			if (strcmp(st->rejected[i].code, v) == 0)
				return bad(p, "repeated series");
		if (st->nrejected == SIPAS_STATUS_MAX_CODES)
			return bad(p, "more than %d codes",
			           SIPAS_STATUS_MAX_CODES);
		/* v came from one line: it fits unless too long. */
		if (strlen(v) > SIPAS_METRICS_VALUE_MAX)
			return bad(p, "code longer than %d bytes",
			           SIPAS_METRICS_VALUE_MAX);
		memcpy(st->rejected[st->nrejected].code, v, strlen(v) + 1);
		st->rejected[st->nrejected].n = sm->value;
		st->nrejected++;
		st->present |= 1u << std;
		return SIPAS_OK;
	default:
		return bad(p, "internal: family %d", std);
	}
	if (st->present & (1u << std))
		return bad(p, "repeated series");
	st->present |= 1u << std;
	*slot = sm->value;
	return SIPAS_OK;
}

/* The other labels of sipas_up ("source=east, ..."), for the summary. */
static void keep_labels(sipas_status_file *st, const struct sample *sm)
{
	size_t used = 0;

	for (size_t k = 0; k < sm->nlabels; k++) {
		int n;

		if (sm->l[k].klen == 7 &&
		    memcmp(sm->l[k].key, "program", 7) == 0)
			continue;
		n = snprintf(st->labels + used, sizeof st->labels - used,
		             "%s%.*s=%s", used > 0 ? ", " : "",
		             (int)sm->l[k].klen, sm->l[k].key, sm->l[k].value);
		if (n < 0 || (size_t)n >= sizeof st->labels - used) {
			/* Cut on a whole character; the summary is for
			 * reading, the file keeps everything. */
			sipas_utf8_clip(st->labels);
			return;
		}
		used += (size_t)n;
	}
}

/* A sample of a family we know: program label, then its value. Other
 * samples are only checked for their syntax. */
static sipas_err on_sample(struct parser *p, struct sample *sm)
{
	static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
	sipas_status_file *st = p->st;
	const char *suffix = NULL, *prog;
	int std = sipas_metric_def_find(sm->name, sm->nlen);

	if (std >= 0 && sipas_metric_defs[std].type == SIPAS_METRIC_HISTOGRAM)
		return bad(p,
		           "%s samples need a _bucket, _sum or _count "
		           "suffix",
		           sipas_metric_defs[std].name);
	for (size_t k = 0; std < 0 && k < 3; k++) {
		size_t sl = strlen(suffixes[k]);

		if (sm->nlen > sl &&
		    memcmp(sm->name + sm->nlen - sl, suffixes[k], sl) == 0) {
			std = sipas_metric_def_find(sm->name, sm->nlen - sl);
			if (std >= 0 && sipas_metric_defs[std].type !=
			                    SIPAS_METRIC_HISTOGRAM)
				std = -1;
			suffix = suffixes[k];
		}
	}
	if (std < 0)
		return SIPAS_OK;
	/* One file, one daemon: every series says which. */
	prog = label(sm, "program");
	if (prog == NULL || *prog == '\0')
		return bad(p, "%s without a program label",
		           sipas_metric_defs[std].name);
	if (st->program[0] == '\0') {
		if (strlen(prog) > SIPAS_METRICS_VALUE_MAX)
			return bad(p, "program label longer than %d bytes",
			           SIPAS_METRICS_VALUE_MAX);
		memcpy(st->program, prog, strlen(prog) + 1);
	} else if (strcmp(st->program, prog) != 0) {
		return bad(p, "a second program label value in one file");
	}
	if (suffix != NULL)
		return take_hist(p, sm, suffix);
	if (std == SIPAS_MD_UP)
		keep_labels(st, sm);
	return take(p, std, sm);
}

static sipas_err parse_line(struct parser *p, const char *s, size_t len,
                            struct sample *sm)
{
	size_t i;

	if (len > SIPAS_STATUS_MAX_LINE)
		return bad(p, "line longer than %d bytes",
		           SIPAS_STATUS_MAX_LINE);
	if (memchr(s, '\0', len) != NULL)
		return bad(p, "NUL byte");
	i = skip_blanks(s, len, 0);
	if (i == len)
		return SIPAS_OK;
	if (s[i] == '#')
		return parse_comment(p, s, len, i);
	if (parse_sample(p, s, len, i, sm) != SIPAS_OK)
		return SIPAS_E_MALFORMED;
	return on_sample(p, sm);
}

/* What can only be judged once every line was read. */
static sipas_err finish(struct parser *p)
{
	sipas_status_file *st = p->st;
	const sipas_status_hist *h = &st->commit;

	p->line = 0;
	if (!(st->present & (1u << SIPAS_MD_UP)))
		return bad(p, "no sipas_up sample: not a metrics file of a "
		              "sipas daemon");
	if (h->nbuckets == 0 && !p->has_sum && !p->has_count)
		return SIPAS_OK;
	if (!p->inf || !p->has_sum || !p->has_count)
		return bad(p, "sipas_commit_seconds lacks its +Inf bucket, "
		              "_sum or _count");
	if (h->count != h->cum[h->nbuckets - 1])
		return bad(p, "sipas_commit_seconds_count differs from its "
		              "+Inf bucket");
	st->present |= 1u << SIPAS_MD_COMMIT;
	return SIPAS_OK;
}

sipas_err sipas_status_parse(const char *name, const char *text, size_t len,
                             sipas_status_file *st, sipas_diag *diag)
{
	struct parser p = {.name = name, .st = st, .diag = diag};
	struct sample sm;
	size_t i = 0;
	sipas_err rv;

	memset(st, 0, sizeof *st);
	st->mtime_s = -1;
	if (len > SIPAS_STATUS_MAX_FILE) {
		sipas_diag_set(diag, "%s: larger than %u bytes", name,
		               SIPAS_STATUS_MAX_FILE);
		return SIPAS_E_TOO_LARGE;
	}
	while (i < len) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t n = nl != NULL ? (size_t)(nl - (text + i)) : len - i;

		p.line++;
		/* The writer ends every line; a last line without its
		 * newline is a file cut short, perhaps mid-number. */
		if (nl == NULL)
			return bad(&p, "no newline at the end of the line "
			               "(file cut short?)");
		rv = parse_line(&p, text + i, n, &sm);
		if (rv != SIPAS_OK)
			return rv;
		i += n + 1;
	}
	return finish(&p);
}

sipas_err sipas_status_load(const char *path, sipas_status_file *st,
                            sipas_diag *diag)
{
	sipas_buf b;
	struct stat sb;
	sipas_err rv;

	sipas_buf_init(&b, SIPAS_STATUS_MAX_FILE);
	memset(st, 0, sizeof *st);
	st->mtime_s = -1;
	/* The daemons replace the file by rename every few seconds: the
	 * copy read may be one newer than the one stat saw, which makes it
	 * look older by one interval at most. */
	if (stat(path, &sb) != 0) {
		sipas_diag_set(diag, "%s: %s", path, strerror(errno));
		rv = SIPAS_E_IO;
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		sipas_diag_set(diag, "%s: not a regular file", path);
		rv = SIPAS_E_IO;
		goto out;
	}
	rv = sipas_buf_read_file(&b, path, diag);
	if (rv != SIPAS_OK)
		goto out;
	rv = sipas_status_parse(path, b.data, b.len, st, diag);
	if (rv == SIPAS_OK)
		st->mtime_s = (int64_t)sb.st_mtime;
out:
	sipas_buf_free(&b);
	return rv;
}

bool sipas_status_quantile(const sipas_status_hist *h, double q, double *v,
                           bool *above)
{
	size_t n = h->nbuckets, i;
	double total, rank, lo, prev, in;

	*above = false;
	if (n == 0 || !(h->cum[n - 1] > 0))
		return false;
	total = h->cum[n - 1];
	q = q < 0 ? 0 : q > 1 ? 1 : q;
	rank = q * total;
	for (i = 0; i + 1 < n && h->cum[i] < rank; i++)
		;
	if (isinf(h->le[i])) {
		*above = true;
		*v = i > 0 ? h->le[i - 1] : 0;
		return true;
	}
	/* As Prometheus: the first bucket starts at 0 unless its bound is
	 * not above 0, when the bound itself is the answer. */
	if (i == 0 && h->le[0] <= 0) {
		*v = h->le[0];
		return true;
	}
	lo = i > 0 ? h->le[i - 1] : 0;
	prev = i > 0 ? h->cum[i - 1] : 0;
	in = h->cum[i] - prev;
	*v = in > 0 ? lo + (h->le[i] - lo) * (rank - prev) / in : h->le[i];
	return true;
}

bool sipas_status_stale(const sipas_status_file *st, int64_t now_s,
                        int64_t stale_after_s)
{
	return stale_after_s > 0 && st->mtime_s >= 0 &&
	       now_s - st->mtime_s > stale_after_s;
}

/* ---- the summary ---- */

/* Text from a file (valid UTF-8), with control characters shown as '?'
 * so that a label value cannot move the terminal's cursor: C0, DEL, and
 * C1 (U+0080..U+009F, bytes C2 80..C2 9F), which includes the CSI. */
static void put_clean(FILE *out, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == 0xC2 && (unsigned char)s[1] >= 0x80 &&
		    (unsigned char)s[1] <= 0x9F) {
			fputc('?', out);
			s++;
		} else {
			fputc(c < 0x20 || c == 0x7f ? '?' : c, out);
		}
	}
}

/* s may come from a file (a start time): clamp it before converting. */
static void put_age(FILE *out, double s)
{
	long long v = !(s >= 0) ? 0 : s > 1e12 ? (long long)1e12 : (long long)s;

	if (v < 120)
		fprintf(out, "%lld s", v);
	else if (v < 2 * 3600)
		fprintf(out, "%lld min", v / 60);
	else if (v < 2 * 86400)
		fprintf(out, "%lld h", v / 3600);
	else
		fprintf(out, "%lld d", v / 86400);
}

static void put_bytes(FILE *out, double b)
{
	static const char *const units[] = {"B",   "KiB", "MiB",
	                                    "GiB", "TiB", "PiB"};
	int u = 0;

	while (b >= 1024 && u < 5) {
		b /= 1024;
		u++;
	}
	if (u == 0)
		fprintf(out, "%.0f B", b);
	else
		fprintf(out, "%.1f %s", b, units[u]);
}

static void put_seconds(FILE *out, double s)
{
	if (s < 0.001)
		fprintf(out, "%.2f ms", s * 1000);
	else if (s < 1)
		fprintf(out, "%.1f ms", s * 1000);
	else
		fprintf(out, "%.2f s", s);
}

static void put_quantile(FILE *out, const sipas_status_hist *h, double q)
{
	double v;
	bool above;

	if (!sipas_status_quantile(h, q, &v, &above))
		return;
	fputs(above ? "> " : "", out);
	put_seconds(out, v);
}

#define ROW "  %-20s"

void sipas_status_format(FILE *out, const char *path,
                         const sipas_status_file *st, int64_t now_s,
                         int64_t stale_after_s)
{
	static const char *const names[] = {"accepted", "duplicate", "rejected",
	                                    "busy"};
	const sipas_status_hist *h = &st->commit;
	uint32_t has = st->present;

	fprintf(out, "%s: ", path);
	put_clean(out, st->program);
	if (st->labels[0] != '\0') {
		fputs(" (", out);
		put_clean(out, st->labels);
		fputc(')', out);
	}
	fprintf(out, "\n" ROW, "state");
	if (sipas_status_stale(st, now_s, stale_after_s))
		fputs("STALE, ", out);
	fputs(st->up == 1 ? "running" : "stopped", out);
	if (st->mtime_s >= 0) {
		fputs(", written ", out);
		put_age(out, (double)(now_s - st->mtime_s));
		fputs(" ago", out);
		if (sipas_status_stale(st, now_s, stale_after_s)) {
			fputs(" (more than ", out);
			put_age(out, (double)stale_after_s);
			fputc(')', out);
		}
	}
	if (has & (1u << SIPAS_MD_START_TIME)) {
		fputs(", started ", out);
		put_age(out, (double)now_s - st->start_time);
		fputs(" ago", out);
	}
	fputc('\n', out);
	if (has & (1u << SIPAS_MD_RECEIVED))
		fprintf(out, ROW "%.0f\n", "received", st->received);
	for (int k = 0; k < 4; k++) {
		double v = st->responses[k];

		/* Without the status series, the codes still give the
		 * number of rejections. */
		if (k == SIPAS_REJECTED && !(st->has_status & (1u << k)))
			for (size_t i = 0; i < st->nrejected; i++)
				v += st->rejected[i].n;
		if (!(st->has_status & (1u << k)) &&
		    !(k == SIPAS_REJECTED && st->nrejected > 0))
			continue;
		fprintf(out, ROW "%.0f", names[k], v);
		/* The codes behind the rejections, those that occurred. */
		if (k == SIPAS_REJECTED) {
			const char *sep = ": ";

			for (size_t i = 0; i < st->nrejected; i++) {
				if (st->rejected[i].n <= 0)
					continue;
				fprintf(out, "%s%s %.0f", sep,
				        st->rejected[i].code,
				        st->rejected[i].n);
				sep = ", ";
			}
		}
		fputc('\n', out);
	}
	if (has & (1u << SIPAS_MD_QUARANTINED))
		fprintf(out, ROW "%.0f\n", "quarantined", st->quarantined);
	if (has & (1u << SIPAS_MD_SPOOL_DEPTH))
		fprintf(out, ROW "%.0f\n", "spool depth", st->spool_depth);
	if (has & (1u << SIPAS_MD_MAP_USED)) {
		fprintf(out, ROW, "LMDB map");
		put_bytes(out, st->map_used);
		if ((has & (1u << SIPAS_MD_MAP_SIZE)) && st->map_size > 0) {
			fputs(" of ", out);
			put_bytes(out, st->map_size);
			fprintf(out, " (%.1f %%)",
			        100.0 * st->map_used / st->map_size);
		}
		fputc('\n', out);
	}
	if (has & (1u << SIPAS_MD_COMMIT)) {
		fprintf(out, ROW, "commit latency");
		if (h->count > 0) {
			fputs("p50 ", out);
			put_quantile(out, h, 0.5);
			fputs(", p99 ", out);
			put_quantile(out, h, 0.99);
			fprintf(out, " (%.0f commits, mean ", h->count);
			put_seconds(out, h->sum / h->count);
			fputs(")\n", out);
		} else {
			fputs("no commit yet\n", out);
		}
	}
	if (has & (1u << SIPAS_MD_HANDSHAKE))
		fprintf(out, ROW "%.0f\n", "handshake failures",
		        st->handshake_failures);
	fputc('\n', out);
}

int sipas_status_print(FILE *out, FILE *err, const char *const *files, size_t n,
                       int64_t now_s, int64_t stale_after_s)
{
	int problems = 0;

	for (size_t i = 0; i < n; i++) {
		sipas_status_file st;
		sipas_diag diag = {{0}};

		if (sipas_status_load(files[i], &st, &diag) != SIPAS_OK) {
			fprintf(err, "%s\n", diag.msg);
			problems++;
			continue;
		}
		sipas_status_format(out, files[i], &st, now_s, stale_after_s);
		if (sipas_status_stale(&st, now_s, stale_after_s) || st.up != 1)
			problems++;
	}
	return problems;
}
