/*
 * admin.c - sipas-admin, the operator's tool on a store.
 *
 *   sipas-admin [--store DIR] define FILE     check FILE, store it as a new revision
 *   sipas-admin check FILE                    check FILE only
 *   sipas-admin [--store DIR] campaigns       list campaigns and revisions
 *   sipas-admin [--store DIR] show [CAMPAIGN] summary of a stored definition
 *   sipas-admin [--store DIR] quarantine list|replay
 *   sipas-admin [--store DIR] verify [CAMPAIGN] recompute counters, compare
 *   sipas-admin [--store DIR] backup DEST     compacted consistent copy
 *   sipas-admin keygen NAME                   CURVE key pair NAME.key, NAME.pub
 *   sipas-admin [--store DIR] status [FILE...] the daemons' metrics files
 *
 * Exit status: 0 success, 1 usage or input error (including an invalid
 * definition, a backup folder that is not empty, and any difference found
 * by verify), 2 store error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "sipas_backup.h"
#include "sipas_batch.h"
#include "sipas_buf.h"
#include "sipas_curve.h"
#include "sipas_oom.h"
#include "sipas_protocol.h"
#include "sipas_view.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_limits.h"
#include "sipas_store.h"
#include "sipas_status.h"
#include "sipas_text.h"
#include "sipas_time.h"
#include "sipas_verify.h"

#define EXIT_INPUT 1
#define EXIT_STORE 2

struct admin {
	char store_dir[4096];
	size_t map_size;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: sipas-admin [OPTIONS] COMMAND [ARGS]\n"
		"Operator tool on a sipas store.\n"
		"\n"
		"Commands:\n"
		"  define FILE        check the survey definition FILE and store it as its\n"
		"                     campaign's new revision (nothing changes if it is invalid)\n"
		"  check FILE         check FILE only; the store is not opened\n"
		"  campaigns          list the campaigns of the store and their revisions\n"
		"  show [CAMPAIGN]    print a summary of a stored definition\n"
		"  quarantine list    list responses refused after a collector accepted them\n"
		"  quarantine replay  re-validate them against the current definitions and\n"
		"                     count, once, those that pass now\n"
		"  verify [CAMPAIGN]  recompute every counter from the stored responses and\n"
		"                     print each difference (exit 1 when there is one)\n"
		"  backup DEST        write a consistent, compacted copy of the store into\n"
		"                     DEST, a new or empty folder; daemons may keep running\n"
		"  keygen NAME        write a new CURVE key pair: NAME.key (secret, mode 0600)\n"
		"                     and NAME.pub (public); never overwrites; no store\n"
		"  status [FILE...]   summarise the daemons' metrics files: the worker's\n"
		"                     STORE/sipas-worker.prom and each FILE (another daemon's\n"
		"                     metrics file); exit 1 when one is missing, stale\n"
		"                     (older than a minute) or left by a stopped daemon\n"
		"\n"
		"Options:\n"
		"  -s, --store DIR    store folder (default $SIPAS_HOME/sipas-store,\n"
		"                     or ./sipas-store when SIPAS_HOME is not set)\n"
		"      --map-size N   LMDB map size in MiB (default %zu)\n"
		"  -h, --help         show this help and exit\n"
		"  -V, --version      show the version and exit\n"
		"\n"
		"Exit status: 0 success, 1 usage or input error (or a difference found by\n"
		"verify), 2 store error.\n",
		SIPAS_STORE_MAP_DEFAULT >> 20);
}

static int fail(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sipas-admin: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static unsigned count_criteria(const sipas_def *d)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < sipas_def_nforms(d); i++)
		n += sipas_def_form(d, i)->ncriteria;
	return n;
}

static int open_store(const struct admin *a, sipas_store **s)
{
	sipas_store_opts opts = {.map_size = a->map_size};
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_store_open(s, a->store_dir, &opts, &diag);

	if (rv != SIPAS_OK)
		return fail(EXIT_STORE, "%s", diag.msg);
	return 0;
}

/* Open a store that must already exist: verify and backup of a mistyped
 * folder must not create an empty store and report on it. */
static int open_existing(const struct admin *a, sipas_store **s)
{
	char path[4200];
	struct stat st;

	snprintf(path, sizeof path, "%s/data.mdb", a->store_dir);
	if (stat(path, &st) != 0)
		return fail(EXIT_STORE, "%s: no store here (%s)", a->store_dir,
			    strerror(errno));
	return open_store(a, s);
}

static int cmd_check(const char *path, sipas_def **out, sipas_buf *json)
{
	sipas_diag diag = {{0}};
	sipas_err rv;

	rv = sipas_buf_read_file(json, path, &diag);
	if (rv != SIPAS_OK)
		return fail(EXIT_INPUT, "%s", diag.msg);
	rv = sipas_def_load(json->data, json->len, path, out, &diag);
	if (rv != SIPAS_OK) {
		/* The message already names file, JSON path and problem. */
		fprintf(stderr, "%s\n", diag.msg);
		return EXIT_INPUT;
	}
	return 0;
}

static int cmd_define(const struct admin *a, const char *path)
{
	sipas_buf json;
	sipas_def *def = NULL;
	sipas_store *s = NULL;
	sipas_revision rev;
	sipas_diag diag = {{0}};
	bool unchanged = false;
	int status;

	sipas_buf_init(&json, SIPAS_MAX_DEFINITION);
	/* Check the file completely before the store is even opened, so a
	 * bad file cannot change anything. */
	status = cmd_check(path, &def, &json);
	if (status != 0)
		goto out;
	status = open_store(a, &s);
	if (status != 0)
		goto out;
	if (sipas_store_define(s, json.data, json.len, def, &rev, &unchanged,
			       &diag) != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	printf("%s: %s revision %s (blocks %u, units %u, forms %u, criteria %u)\n",
	       rev.campaign, unchanged ? "unchanged, current" : "stored",
	       rev.id, sipas_def_nblocks(def), sipas_def_nunits(def),
	       sipas_def_nforms(def), count_criteria(def));
out:
	sipas_store_close(&s);
	sipas_def_free(&def);
	sipas_buf_free(&json);
	return status;
}

static int cmd_campaigns(const struct admin *a)
{
	sipas_store *s = NULL;
	sipas_revision revs[256];
	sipas_diag diag = {{0}};
	size_t n = 0;
	int status = open_store(a, &s);

	if (status != 0)
		return status;
	if (sipas_store_campaigns(s, revs, 256, &n, &diag) != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	if (n == 0)
		printf("no campaign is defined in %s\n", a->store_dir);
	for (size_t i = 0; i < n && i < 256; i++) {
		char when[21];

		sipas_time_format_utc(revs[i].defined_at, when);
		printf("%-16s revision %-24s defined %s\n", revs[i].campaign,
		       revs[i].id, when);
	}
	if (n > 256)
		printf("... and %zu more\n", n - 256);
out:
	sipas_store_close(&s);
	return status;
}

/* Print s, then spaces up to w terminal columns. printf's "%-*s" counts
 * bytes, one column short for each multi-byte character, so every padded
 * cell is measured with sipas_utf8_width() instead. */
static void put_cell(const char *s, size_t w)
{
	size_t n = sipas_utf8_width(s, strlen(s));

	fputs(s, stdout);
	for (; n < w; n++)
		putchar(' ');
}

static void put_number(uint32_t v, size_t w)
{
	printf("%*u", (int)w, v);
}

static size_t max_size(size_t a, size_t b)
{
	return a > b ? a : b;
}

static size_t digits(uint32_t v)
{
	size_t n = 1;

	for (; v >= 10; v /= 10)
		n++;
	return n;
}

static size_t id_width(const char *id)
{
	return sipas_utf8_width(id, strlen(id));
}

/* Columns of a unit's forms written "f1,f2,...". */
static size_t forms_width(const sipas_def *d, const sipas_unit *u)
{
	size_t w = u->nforms > 0 ? u->nforms - 1 : 0;

	for (uint32_t j = 0; j < u->nforms; j++)
		w += id_width(sipas_def_form(d, u->forms[j])->id);
	return w;
}

/* Widths of the columns of the blocks, forms and units tables. */
struct widths {
	size_t block, nunits;                   /* blocks */
	size_t form, groups, criteria, items;   /* forms */
	size_t unit, forms;                     /* units */
};

/*
 * Every column is as wide as its widest cell, measured in terminal
 * columns, and never narrower than the layout the short ids of the
 * examples have always had (12 for ids, 3 or 2 digits): one long id, one
 * unit with more forms or one form with a hundred items must not push the
 * rest of its line out of line with the others.
 */
static void measure(const sipas_def *d, struct widths *w)
{
	*w = (struct widths){.block = 12, .nunits = 3, .form = 12,
			     .groups = 2, .criteria = 3, .items = 2,
			     .unit = 12};
	for (uint32_t i = 0; i < sipas_def_nblocks(d); i++) {
		const sipas_block *b = sipas_def_block(d, i);

		w->block = max_size(w->block, id_width(b->id));
		w->nunits = max_size(w->nunits, digits(b->nunits));
	}
	for (uint32_t i = 0; i < sipas_def_nforms(d); i++) {
		const sipas_form *f = sipas_def_form(d, i);

		w->form = max_size(w->form, id_width(f->id));
		w->groups = max_size(w->groups, digits(f->ngroups));
		w->criteria = max_size(w->criteria, digits(f->ncriteria));
		w->items = max_size(w->items, digits(f->nitems));
	}
	for (uint32_t i = 0; i < sipas_def_nunits(d); i++) {
		const sipas_unit *u = sipas_def_unit(d, i);

		w->unit = max_size(w->unit, id_width(u->id));
		w->forms = max_size(w->forms, forms_width(d, u));
	}
}

static void print_summary(const sipas_def *d, const sipas_revision *rev)
{
	const sipas_campaign *c = sipas_def_campaign(d);
	const sipas_scale *sc = sipas_def_scale(d);
	const sipas_methods *m = sipas_def_methods(d);
	int32_t off = c->utc_offset < 0 ? -c->utc_offset : c->utc_offset;
	struct widths w;
	char when[21];

	sipas_time_format_utc(rev->defined_at, when);
	printf("campaign   %s  %s\n", c->id, c->title);
	printf("revision   %s (defined %s)\n", rev->id, when);
	printf("window     %s .. %s (UTC%c%02d:%02d)\n", c->from, c->to,
	       c->utc_offset < 0 ? '-' : '+', off / 3600, off / 60 % 60);
	printf("scale      %lld..%lld, satisfied", (long long)sc->min,
	       (long long)sc->max);
	for (uint32_t i = 0; i < sc->nsatisfied; i++)
		printf(" %lld", (long long)sc->satisfied[i]);
	if (sc->has_na)
		printf(", not applicable %lld", (long long)sc->not_applicable);
	printf("\nmethod     group %s, unit %s, block %s, overall %s, "
	       "low sample below %u respondents\n",
	       sipas_method_name(m->group), sipas_method_name(m->unit),
	       sipas_method_name(m->block), sipas_method_name(m->overall),
	       m->min_respondents);
	measure(d, &w);
	/* The names, free text of any length, come last on each line. */
	printf("blocks     %u\n", sipas_def_nblocks(d));
	for (uint32_t i = 0; i < sipas_def_nblocks(d); i++) {
		const sipas_block *b = sipas_def_block(d, i);

		fputs("  ", stdout);
		put_cell(b->id, w.block);
		putchar(' ');
		put_number(b->nunits, w.nunits);
		printf(" units  %s\n", b->name);
	}
	printf("forms      %u\n", sipas_def_nforms(d));
	for (uint32_t i = 0; i < sipas_def_nforms(d); i++) {
		const sipas_form *f = sipas_def_form(d, i);

		fputs("  ", stdout);
		put_cell(f->id, w.form);
		putchar(' ');
		put_number(f->ngroups, w.groups);
		fputs(" groups, ", stdout);
		put_number(f->ncriteria, w.criteria);
		fputs(" criteria, ", stdout);
		put_number(f->nitems, w.items);
		printf(" items  %s\n", f->name);
	}
	printf("units      %u\n", sipas_def_nunits(d));
	for (uint32_t i = 0; i < sipas_def_nunits(d); i++) {
		const sipas_unit *u = sipas_def_unit(d, i);

		fputs("  ", stdout);
		put_cell(u->id, w.unit);
		putchar(' ');
		put_cell(sipas_def_block(d, u->block)->id, w.block);
		for (uint32_t j = 0; j < u->nforms; j++)
			printf("%s%s", j ? "," : "  ",
			       sipas_def_form(d, u->forms[j])->id);
		/* Pad the list so that the names start in one column. */
		for (size_t n = forms_width(d, u); n < w.forms; n++)
			putchar(' ');
		printf("  %s\n", u->name);
	}
}

static int cmd_show(const struct admin *a, const char *campaign)
{
	sipas_store *s = NULL;
	sipas_def *def = NULL;
	sipas_revision rev;
	sipas_diag diag = {{0}};
	sipas_err rv;
	int status = open_store(a, &s);

	if (status != 0)
		return status;
	rv = sipas_store_load_definition(s, campaign, &def, &rev, &diag);
	if (rv != SIPAS_OK) {
		status = fail(rv == SIPAS_E_NOT_FOUND || rv == SIPAS_E_AMBIGUOUS
				      ? EXIT_INPUT
				      : EXIT_STORE,
			      "%s", diag.msg);
		goto out;
	}
	print_summary(def, &rev);
out:
	sipas_def_free(&def);
	sipas_store_close(&s);
	return status;
}

struct qlist {
	sipas_response *r;
	size_t n;
};

static int print_quarantined(const sipas_quarantined *q, void *ctx)
{
	struct qlist *l = ctx;
	sipas_fault fault;
	char when[21];
	bool ok = sipas_response_decode(q->raw, q->rawlen, l->r, &fault) ==
		  SIPAS_OK;

	sipas_time_format_utc(q->received_ms / 1000, when);
	printf("%-8llu %s  %-12s %-18s %-20s %-12s %s\n",
	       (unsigned long long)q->seq, when, q->source,
	       sipas_err_name(q->code), ok ? l->r->id : "?",
	       ok ? l->r->campaign : "?", ok ? l->r->unit : "?");
	l->n++;
	return 0;
}

static int cmd_quarantine_list(const struct admin *a)
{
	struct qlist l = {sipas_xmalloc(sizeof(sipas_response)), 0};
	sipas_store *s = NULL;
	sipas_view *v = NULL;
	sipas_diag diag = {{0}};
	int status = open_store(a, &s);

	if (status != 0)
		goto out;
	printf("%-8s %-20s  %-12s %-18s %-20s %-12s %s\n", "seq", "received",
	       "source", "code", "id", "campaign", "unit");
	if (sipas_view_open(s, &v, &diag) != SIPAS_OK ||
	    sipas_view_quarantine(v, print_quarantined, &l, &diag) != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	printf("%zu quarantined\n", l.n);
out:
	sipas_view_close(&v);
	sipas_store_close(&s);
	free(l.r);
	return status;
}

static int cmd_quarantine_replay(const struct admin *a)
{
	sipas_response *r = sipas_xmalloc(sizeof *r);
	sipas_store *s = NULL;
	sipas_batch *b = NULL;
	sipas_diag diag = {{0}};
	size_t replayed = 0, remaining = 0;
	int status = open_store(a, &s);

	if (status != 0)
		goto out;
	b = sipas_batch_new(s);
	if (sipas_batch_replay(b, r, &replayed, &remaining, &diag) != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	printf("%zu replayed and counted, %zu still quarantined\n", replayed,
	       remaining);
out:
	sipas_batch_free(&b);
	sipas_store_close(&s);
	free(r);
	return status;
}

static void print_difference(const sipas_verify_diff *d, void *ctx)
{
	(void)ctx;
	printf("%s\n", d->line);
}

static int cmd_verify(const struct admin *a, const char *campaign)
{
	sipas_store *s = NULL;
	sipas_verify_totals t;
	sipas_diag diag = {{0}};
	sipas_err rv;
	int status = open_existing(a, &s);

	if (status != 0)
		return status;
	rv = sipas_verify_store(s, campaign, print_difference, NULL, &t, &diag);
	if (rv != SIPAS_OK) {
		status = fail(rv == SIPAS_E_NOT_FOUND ? EXIT_INPUT : EXIT_STORE,
			      "%s", diag.msg);
		goto out;
	}
	printf("verified %llu responses, %llu counter records, %llu campaign "
	       "statistics, %llu seen records, %llu quarantined as of "
	       "transaction %llu: ",
	       (unsigned long long)t.responses, (unsigned long long)t.counters,
	       (unsigned long long)t.campaigns, (unsigned long long)t.seen,
	       (unsigned long long)t.quarantined, (unsigned long long)t.txnid);
	if (t.differences == 0)
		printf("no difference\n");
	else
		printf("%llu difference%s\n", (unsigned long long)t.differences,
		       t.differences == 1 ? "" : "s");
	status = t.differences == 0 ? 0 : EXIT_INPUT;
out:
	sipas_store_close(&s);
	return status;
}

static int cmd_backup(const struct admin *a, const char *dest)
{
	sipas_store *s = NULL;
	sipas_backup_info info;
	sipas_diag diag = {{0}};
	sipas_err rv;
	int status = open_existing(a, &s);

	if (status != 0)
		return status;
	rv = sipas_backup_write(s, dest, &info, &diag);
	if (rv != SIPAS_OK) {
		status = fail(rv == SIPAS_E_USAGE ? EXIT_INPUT : EXIT_STORE, "%s",
			      diag.msg);
		goto out;
	}
	printf("backup %s/data.mdb: %llu bytes (%.1f MiB), %llu responses "
	       "(last %llu), %llu quarantined, %llu campaign%s, ",
	       dest, (unsigned long long)info.bytes,
	       (double)info.bytes / (1 << 20),
	       (unsigned long long)info.responses,
	       (unsigned long long)info.last_response,
	       (unsigned long long)info.quarantined,
	       (unsigned long long)info.campaigns,
	       info.campaigns == 1 ? "" : "s");
	if (info.txn_first == info.txn_last)
		printf("as of transaction %llu\n",
		       (unsigned long long)info.txn_first);
	else
		printf("as of a transaction in %llu..%llu (written during the "
		       "copy)\n", (unsigned long long)info.txn_first,
		       (unsigned long long)info.txn_last);
out:
	sipas_store_close(&s);
	return status;
}

static int parse_map_size(const char *arg, size_t *out)
{
	char *end = NULL;
	unsigned long long mib = strtoull(arg, &end, 10);

	if (end == arg || *end != '\0' || mib < 1 || mib > (1ull << 24))
		return -1;
	*out = (size_t)mib << 20;
	return 0;
}

/* A CURVE key pair for a daemon or a client (docs/security.md). */
/* A metrics file older than this reads as stale: the daemons rewrite
 * theirs every few seconds (--metrics-interval-s, default 5). */
#define STATUS_STALE_S 60

static int cmd_status(const struct admin *a, char **files, int nfiles)
{
	char worker[4096 + 32];
	const char **list = sipas_xcalloc((size_t)nfiles + 1, sizeof *list);
	int bad;

	snprintf(worker, sizeof worker, "%s/sipas-worker.prom", a->store_dir);
	list[0] = worker;
	for (int i = 0; i < nfiles; i++)
		list[1 + i] = files[i];
	bad = sipas_status_print(stdout, stderr, list, (size_t)nfiles + 1,
				 (int64_t)time(NULL), STATUS_STALE_S);
	free(list);
	return bad == 0 ? 0 : EXIT_INPUT;
}

static int cmd_keygen(const char *base)
{
	char pub[SIPAS_CURVE_Z85_LEN + 1];
	sipas_diag diag = {{0}};
	sipas_err rv = sipas_curve_keygen(base, pub, &diag);

	if (rv != SIPAS_OK)
		return fail(rv == SIPAS_E_USAGE ? EXIT_INPUT : EXIT_STORE, "%s",
			    diag.msg);
	printf("%s.key: secret key (mode 0600; keep it on this host)\n"
	       "%s.pub: public key %s\n",
	       base, base, pub);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"store", required_argument, NULL, 's'},
		{"map-size", required_argument, NULL, 'm'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0}};
	struct admin a = {.map_size = 0};
	const char *cmd;
	int opt, nargs;

	if (sipas_store_default_dir(a.store_dir, sizeof a.store_dir) != SIPAS_OK)
		return fail(EXIT_INPUT, "%s", "SIPAS_HOME is too long");
	while ((opt = getopt_long(argc, argv, "s:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 's':
			if (strlen(optarg) >= sizeof a.store_dir)
				return fail(EXIT_INPUT, "%s", "--store: too long");
			memcpy(a.store_dir, optarg, strlen(optarg) + 1);
			break;
		case 'm':
			if (parse_map_size(optarg, &a.map_size) != 0)
				return fail(EXIT_INPUT,
					    "--map-size: '%s' is not a size in MiB "
					    "(1..16777216)", optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sipas-admin %s\n", SIPAS_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_INPUT;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_INPUT;
	}
	cmd = argv[optind];
	nargs = argc - optind - 1;
	if (strcmp(cmd, "define") == 0 && nargs == 1)
		return cmd_define(&a, argv[optind + 1]);
	if (strcmp(cmd, "check") == 0 && nargs == 1) {
		sipas_buf json;
		sipas_def *def = NULL;
		int status;

		sipas_buf_init(&json, SIPAS_MAX_DEFINITION);
		status = cmd_check(argv[optind + 1], &def, &json);
		if (status == 0)
			printf("%s: valid definition of campaign %s\n",
			       argv[optind + 1], sipas_def_campaign(def)->id);
		sipas_def_free(&def);
		sipas_buf_free(&json);
		return status;
	}
	if (strcmp(cmd, "campaigns") == 0 && nargs == 0)
		return cmd_campaigns(&a);
	if (strcmp(cmd, "quarantine") == 0 && nargs == 1 &&
	    strcmp(argv[optind + 1], "list") == 0)
		return cmd_quarantine_list(&a);
	if (strcmp(cmd, "quarantine") == 0 && nargs == 1 &&
	    strcmp(argv[optind + 1], "replay") == 0)
		return cmd_quarantine_replay(&a);
	if (strcmp(cmd, "verify") == 0 && nargs <= 1)
		return cmd_verify(&a, nargs == 1 ? argv[optind + 1] : NULL);
	if (strcmp(cmd, "backup") == 0 && nargs == 1)
		return cmd_backup(&a, argv[optind + 1]);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(&a, argv + optind + 1, nargs);
	if (strcmp(cmd, "keygen") == 0 && nargs == 1)
		return cmd_keygen(argv[optind + 1]);
	if (strcmp(cmd, "show") == 0 && nargs <= 1)
		return cmd_show(&a, nargs == 1 ? argv[optind + 1] : NULL);
	return fail(EXIT_INPUT,
		    "'%s': unknown command or wrong number of arguments "
		    "(see --help)", cmd);
}
