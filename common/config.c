/*
 * config.c - option table -> getopt_long + inih (see sipas_config.h).
 */
#include "sipas_config.h"

#include <errno.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "sipas_oom.h"

#define MAX_OPTIONS 48
#define MAX_LIST 32

struct value {
	bool set;              /* given in the file or on the command line */
	char *str;
	int64_t num;
	bool flag;
	size_t nlist;
	char *list[MAX_LIST];
};

struct sipas_config {
	const sipas_program *p;
	struct value v[MAX_OPTIONS];
	/* What sipas_config_reload needs to compose the same way again: the
	 * -c file (NULL: none) and the values the command line set (NULL in
	 * that config itself). */
	char *path;
	sipas_config *cli;
};

static void clear(struct value *v)
{
	free(v->str);
	for (size_t i = 0; i < v->nlist; i++)
		free(v->list[i]);
	memset(v, 0, sizeof *v);
}

void sipas_config_free(sipas_config **c)
{
	if (c == NULL || *c == NULL)
		return;
	for (size_t i = 0; i < (*c)->p->noptions; i++)
		clear(&(*c)->v[i]);
	free((*c)->path);
	sipas_config_free(&(*c)->cli);
	free(*c);
	*c = NULL;
}

static int find(const sipas_program *p, const char *name)
{
	for (size_t i = 0; i < p->noptions; i++)
		if (strcmp(p->options[i].name, name) == 0)
			return (int)i;
	return -1;
}

static bool parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "yes") || !strcmp(s, "1") ||
	    !strcmp(s, "on"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "no") || !strcmp(s, "0") ||
		 !strcmp(s, "off"))
		*out = false;
	else
		return false;
	return true;
}

/* Set option i from text. On error writes a reason into err. */
static bool assign(const sipas_option *o, struct value *v, const char *text,
		   char *err, size_t errlen)
{
	char *end = NULL;
	long long n;

	switch (o->type) {
	case SIPAS_OPT_STRING:
		free(v->str);
		v->str = sipas_xstrndup(text, strlen(text));
		break;
	case SIPAS_OPT_INT:
		errno = 0;
		n = strtoll(text, &end, 10);
		if (end == text || *end != '\0' || errno != 0) {
			snprintf(err, errlen, "'%s' is not an integer", text);
			return false;
		}
		if (n < o->min || n > o->max) {
			snprintf(err, errlen, "%lld is outside %lld..%lld", n,
				 (long long)o->min, (long long)o->max);
			return false;
		}
		v->num = n;
		break;
	case SIPAS_OPT_BOOL:
		if (!parse_bool(text, &v->flag)) {
			snprintf(err, errlen, "'%s' is not true or false", text);
			return false;
		}
		break;
	case SIPAS_OPT_LIST:
		if (v->nlist == MAX_LIST) {
			snprintf(err, errlen, "more than %d values", MAX_LIST);
			return false;
		}
		v->list[v->nlist++] = sipas_xstrndup(text, strlen(text));
		break;
	}
	v->set = true;
	return true;
}

struct file_ctx {
	sipas_config *c;
	FILE *f;
	unsigned line;     /* lines read so far: the line inih is parsing */
	unsigned err_line; /* line of the first error noted here, or 0 */
	int read_errno;    /* why reading the file failed, or 0 */
	char err[300];
};

/* Note the first error met, with the line it is on. inih goes on parsing
 * after an error and reports the line of the first one, so a later reason
 * must not replace the first. */
static void note(struct file_ctx *fc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void note(struct file_ctx *fc, const char *fmt, ...)
{
	va_list ap;

	if (fc->err_line != 0)
		return;
	fc->err_line = fc->line;
	va_start(ap, fmt);
	vsnprintf(fc->err, sizeof fc->err, fmt, ap);
	va_end(ap);
}

/*
 * inih's line reader. inih reads a line into a fixed buffer of `num`
 * bytes and parses whatever did not fit as a line of its own, and it stops
 * a line at a NUL byte: a long value would be cut short silently, and its
 * tail could read as another `key = value`. So each line is read whole
 * here; one that is too long, holds a NUL byte or opens a section (not
 * used) is noted and handed to inih as a line it refuses, so that the
 * error is reported on that line. Leading blanks are dropped: inih would
 * take an indented line as a second value of the key above it, and
 * `key = value` lines stand alone here.
 */
static char *read_line(char *str, int num, void *stream)
{
	struct file_ctx *fc = stream;
	size_t n = 0, max = num > 2 ? (size_t)num - 2 : 0;
	bool any = false, nul = false;
	int ch;

	while ((ch = getc(fc->f)) == ' ' || ch == '\t')
		any = true;
	for (; ch != EOF && ch != '\n'; ch = getc(fc->f)) {
		nul |= ch == '\0';
		if (n <= max) /* one byte past max tells it is too long */
			str[n] = (char)ch;
		n++;
	}
	if (ch == EOF && ferror(fc->f)) {
		fc->read_errno = errno;
		return NULL;
	}
	if (ch == EOF && n == 0 && !any)
		return NULL;
	fc->line++;
	if (n > max || nul || (n > 0 && str[0] == '[')) {
		if (n > max)
			note(fc, "line longer than %zu bytes", max);
		else if (nul)
			note(fc, "a NUL byte in the line");
		else
			note(fc, "sections are not used");
		n = 0;
		str[n++] = '!'; /* neither a key, a comment nor a section */
	}
	str[n++] = '\n';
	str[n] = '\0';
	return str;
}

/* inih calls this once per "key = value"; returning 0 makes ini_parse
 * report an error on this line. */
static int on_key(void *user, const char *section, const char *name,
		  const char *value)
{
	struct file_ctx *fc = user;
	char why[256];
	int i;

	if (section != NULL && section[0] != '\0') {
		note(fc, "[%s]: sections are not used", section);
		return 0;
	}
	i = name != NULL ? find(fc->c->p, name) : -1;
	if (i < 0 || strcmp(name, "config") == 0) {
		note(fc, "%s: unknown key", name != NULL ? name : "");
		return 0;
	}
	if (!assign(&fc->c->p->options[i], &fc->c->v[i],
		    value != NULL ? value : "", why, sizeof why)) {
		note(fc, "%s: %s", name, why);
		return 0;
	}
	return 1;
}

/* Read path into c. False with "PATH:LINE: reason" (or "PATH: cannot
 * read: ...") in err. */
static bool read_file(sipas_config *c, const char *path, char *err,
		      size_t errlen)
{
	struct file_ctx fc = {.c = c};
	int line = -1, e;

	fc.f = fopen(path, "r");
	if (fc.f != NULL) {
		/* The reader gets fc as its stream, so it can count lines. */
		line = ini_parse_stream(read_line, &fc, on_key, &fc);
		if (fc.read_errno != 0)
			line = -1;
		e = fc.read_errno;
		fclose(fc.f);
	} else {
		e = errno;
	}
	if (line == 0)
		return true;
	if (line < 0)
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(e));
	else
		snprintf(err, errlen, "%s:%d: %s", path, line,
			 (unsigned)line == fc.err_line ? fc.err
						       : "not a key = value line");
	return false;
}

/* A deep copy of one value. */
static void copy_value(const sipas_option *o, struct value *dst,
		       const struct value *src)
{
	clear(dst);
	*dst = *src;
	if (o->type == SIPAS_OPT_STRING && src->str != NULL)
		dst->str = sipas_xstrndup(src->str, strlen(src->str));
	for (size_t i = 0; i < src->nlist; i++)
		dst->list[i] = sipas_xstrndup(src->list[i],
					      strlen(src->list[i]));
}

/*
 * Fill c (empty, c->p set): the defaults, then the file at path when not
 * NULL, then what cli set on top. False with the reason in err when the
 * file is at fault.
 */
static bool compose(sipas_config *c, const char *path, const sipas_config *cli,
		    char *err, size_t errlen)
{
	const sipas_program *p = c->p;

	for (size_t i = 0; i < p->noptions; i++) {
		char why[256];

		if (p->options[i].def != NULL &&
		    !assign(&p->options[i], &c->v[i], p->options[i].def, why,
			    sizeof why))
			abort(); /* a default outside its own range is a bug */
		c->v[i].set = false;
	}
	if (path != NULL) {
		for (size_t i = 0; i < p->noptions; i++)
			if (p->options[i].type == SIPAS_OPT_LIST)
				clear(&c->v[i]);
		if (!read_file(c, path, err, errlen))
			return false;
		/* A list the file did not mention keeps its default. */
		for (size_t i = 0; i < p->noptions; i++) {
			char why[256];

			if (p->options[i].type == SIPAS_OPT_LIST &&
			    c->v[i].nlist == 0 && p->options[i].def != NULL &&
			    !assign(&p->options[i], &c->v[i], p->options[i].def,
				    why, sizeof why))
				abort();
		}
	}
	for (size_t i = 0; i < p->noptions; i++)
		if (cli->v[i].set)
			copy_value(&p->options[i], &c->v[i], &cli->v[i]);
	return true;
}

static bool is_live(const sipas_program *p, const char *name)
{
	for (const char *const *k = p->live; k != NULL && *k != NULL; k++)
		if (strcmp(*k, name) == 0)
			return true;
	return false;
}

void sipas_config_usage(const sipas_program *p, FILE *f)
{
	fprintf(f, "Usage: %s %s\n%s\n\nOptions:\n", p->name, p->synopsis,
		p->about);
	for (size_t i = 0; i < p->noptions; i++) {
		const sipas_option *o = &p->options[i];
		char left[64];

		snprintf(left, sizeof left, "%c%c%s--%s%s%s",
			 o->short_name ? '-' : ' ',
			 o->short_name ? o->short_name : ' ',
			 o->short_name ? ", " : "  ", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s", left, o->help);
		if (o->def != NULL)
			fprintf(f, " (default %s)", o->def);
		fputc('\n', f);
	}
	fprintf(f, "  %-28s %s\n", "-c, --config FILE",
		"read `key = value` lines (keys as the long options)");
	fprintf(f, "  %-28s %s\n", "-h, --help", "show this help and exit");
	fprintf(f, "  %-28s %s\n", "-V, --version", "show the version and exit");
	if (p->live != NULL) {
		/* Which keys SIGHUP applies, from the same list the daemon
		 * reloads by: help and behaviour cannot drift apart. Wrapped
		 * before 78 columns. */
		size_t col = 0;

		fprintf(f, "\nSIGHUP reads the configuration again (the -c file, "
			   "then the command line)\nand applies at once:");
		col = strlen("and applies at once:");
		for (const char *const *k = p->live; *k != NULL; k++) {
			size_t len = strlen(*k) + 2; /* " key," or " key;" */

			if (col + len > 78) {
				fputc('\n', f);
				col = 0;
			}
			fprintf(f, "%s%s%s", col == 0 ? "" : " ", *k,
				k[1] != NULL ? "," : ";");
			col += len - (col == 0 ? 1 : 0);
		}
		fprintf(f, "%sthe others at the next start.\n",
			col + 30 > 78 ? "\n" : " ");
	}
	if (p->epilog != NULL)
		fprintf(f, "\n%s\n", p->epilog);
}

bool sipas_config_load(const sipas_program *p, int argc, char **argv,
		       sipas_config **out, int *first_arg, int *status)
{
	struct option longopts[MAX_OPTIONS + 4];
	char shorts[3 * MAX_OPTIONS + 8];
	sipas_config *c = NULL, *cli = NULL;
	const char *config_path = NULL;
	char err[SIPAS_DIAG_MAX];
	size_t ns = 0;
	bool ok = false;
	int opt, idx;

	*out = NULL;
	*status = 1;
	if (p->noptions > MAX_OPTIONS)
		abort();
	for (const char *const *k = p->live; k != NULL && *k != NULL; k++)
		if (find(p, *k) < 0)
			abort(); /* a live key not in the table: a bug */
	c = sipas_xcalloc(1, sizeof *c);
	cli = sipas_xcalloc(1, sizeof *cli);
	c->p = cli->p = p;
	shorts[ns++] = ':';
	for (size_t i = 0; i < p->noptions; i++) {
		const sipas_option *o = &p->options[i];

		longopts[i].name = o->name;
		longopts[i].has_arg = o->type == SIPAS_OPT_BOOL ? no_argument
							       : required_argument;
		longopts[i].flag = NULL;
		longopts[i].val = 256 + (int)i;
		if (o->short_name) {
			shorts[ns++] = o->short_name;
			if (o->type != SIPAS_OPT_BOOL)
				shorts[ns++] = ':';
		}
	}
	longopts[p->noptions] = (struct option){"config", required_argument, NULL, 'c'};
	longopts[p->noptions + 1] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[p->noptions + 2] = (struct option){"version", no_argument, NULL, 'V'};
	longopts[p->noptions + 3] = (struct option){NULL, 0, NULL, 0};
	memcpy(shorts + ns, "c:hV", 5);

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, shorts, longopts, &idx)) != -1) {
		char why[256];
		int i = -1;

		if (opt == 'h') {
			sipas_config_usage(p, stdout);
			*status = 0;
			goto out;
		}
		if (opt == 'V') {
			printf("%s %s\n", p->name, SIPAS_VERSION);
			*status = 0;
			goto out;
		}
		if (opt == 'c') {
			config_path = optarg;
			continue;
		}
		if (opt == '?' || opt == ':') {
			fprintf(stderr, "%s: %s: %s (see --help)\n", p->name,
				argv[optind - 1],
				opt == ':' ? "needs a value" : "unknown option");
			goto out;
		}
		if (opt >= 256)
			i = opt - 256;
		else
			for (size_t k = 0; k < p->noptions; k++)
				if (p->options[k].short_name == opt)
					i = (int)k;
		if (i < 0)
			goto out;
		if (!assign(&p->options[i], &cli->v[i],
			    p->options[i].type == SIPAS_OPT_BOOL ? "true" : optarg,
			    why, sizeof why)) {
			fprintf(stderr, "%s: --%s: %s\n", p->name,
				p->options[i].name, why);
			goto out;
		}
	}
	if (!compose(c, config_path, cli, err, sizeof err)) {
		fprintf(stderr, "%s: %s\n", p->name, err);
		goto out;
	}
	if (config_path != NULL)
		c->path = sipas_xstrndup(config_path, strlen(config_path));
	c->cli = cli;
	cli = NULL;
	*first_arg = optind;
	*out = c;
	c = NULL;
	ok = true;
out:
	sipas_config_free(&c);
	sipas_config_free(&cli);
	return ok;
}

static const struct value *get(const sipas_config *c, const char *name,
			       sipas_opt_type type)
{
	int i = find(c->p, name);

	/* Asking for an option that is not in the table is a bug. */
	if (i < 0 || c->p->options[i].type != type)
		abort();
	return &c->v[i];
}

const char *sipas_config_str(const sipas_config *c, const char *name)
{
	return get(c, name, SIPAS_OPT_STRING)->str;
}

int64_t sipas_config_int(const sipas_config *c, const char *name)
{
	return get(c, name, SIPAS_OPT_INT)->num;
}

bool sipas_config_bool(const sipas_config *c, const char *name)
{
	return get(c, name, SIPAS_OPT_BOOL)->flag;
}

const char *const *sipas_config_list(const sipas_config *c, const char *name,
				     size_t *n)
{
	const struct value *v = get(c, name, SIPAS_OPT_LIST);

	*n = v->nlist;
	return (const char *const *)v->list;
}

sipas_err sipas_config_reload(const sipas_config *c, sipas_config **out,
			      sipas_diag *diag)
{
	sipas_config *n = sipas_xcalloc(1, sizeof *n);
	char err[SIPAS_DIAG_MAX];

	*out = NULL;
	n->p = c->p;
	n->cli = sipas_xcalloc(1, sizeof *n->cli);
	n->cli->p = c->p;
	for (size_t i = 0; i < c->p->noptions; i++)
		copy_value(&c->p->options[i], &n->cli->v[i], &c->cli->v[i]);
	if (c->path != NULL)
		n->path = sipas_xstrndup(c->path, strlen(c->path));
	if (!compose(n, n->path, n->cli, err, sizeof err)) {
		sipas_diag_set(diag, "%s", err);
		sipas_config_free(&n);
		return SIPAS_E_USAGE;
	}
	*out = n;
	return SIPAS_OK;
}

const char *sipas_config_path(const sipas_config *c)
{
	return c->path;
}

static bool same_value(sipas_opt_type type, const struct value *a,
		       const struct value *b)
{
	switch (type) {
	case SIPAS_OPT_STRING:
		return a->str == NULL || b->str == NULL
			       ? a->str == b->str
			       : strcmp(a->str, b->str) == 0;
	case SIPAS_OPT_INT:
		return a->num == b->num;
	case SIPAS_OPT_BOOL:
		return a->flag == b->flag;
	case SIPAS_OPT_LIST:
		if (a->nlist != b->nlist)
			return false;
		for (size_t i = 0; i < a->nlist; i++)
			if (strcmp(a->list[i], b->list[i]) != 0)
				return false;
		return true;
	}
	return false;
}

size_t sipas_config_fixed_changes(const sipas_config *a,
				  const sipas_config *b, char *buf, size_t cap)
{
	const sipas_program *p = a->p;
	size_t n = 0, len = 0;

	if (p != b->p)
		abort(); /* configs of two programs: a bug */
	if (cap > 0)
		buf[0] = '\0';
	for (size_t i = 0; i < p->noptions; i++) {
		int w;

		if (is_live(p, p->options[i].name) ||
		    same_value(p->options[i].type, &a->v[i], &b->v[i]))
			continue;
		n++;
		if (len >= cap)
			continue;
		w = snprintf(buf + len, cap - len, "%s%s", n > 1 ? ", " : "",
			     p->options[i].name);
		len = w < 0 ? cap : len + (size_t)w;
	}
	return n;
}
