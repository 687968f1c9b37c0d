/*
 * snapshot.c - sipas-snapshot: the current indices of a campaign, read from
 * one consistent point-in-time view of the store (one LMDB read
 * transaction, which never blocks ingestion), printed as a table, JSON or
 * CSV (interfaces.md sections 1, 4 and 5; docs/snapshot.md).
 *
 * Exit status: 0 success; 1 usage error, unknown campaign, or several
 * campaigns and no --campaign; 2 store error (including no store at DIR);
 * 3 the output could not be written.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sipas_err.h"
#include "sipas_report.h"
#include "sipas_store.h"
#include "sipas_view.h"

#define EXIT_INPUT 1
#define EXIT_STORE 2
#define EXIT_OUTPUT 3

struct snapshot {
	char store_dir[4096];
	const char *campaign; /* NULL: the only one */
	const char *compare;  /* NULL: no comparison */
	const char *output;   /* NULL: stdout */
	int format;           /* -1: by terminal */
	sipas_report_opts opts;
};

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: sipas-snapshot [OPTIONS]\n"
	    "Print the current indices of a campaign from a consistent\n"
	    "point-in-time view of a sipas store.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --store DIR        store folder (default "
	    "$SIPAS_HOME/sipas-store,\n"
	    "                         or ./sipas-store when SIPAS_HOME is not "
	    "set)\n"
	    "  -c, --campaign ID      campaign to report (optional when the "
	    "store\n"
	    "                         holds a single campaign)\n"
	    "  -f, --format FORMAT    table, json, csv or html (default: table "
	    "on a\n"
	    "                         terminal, json otherwise); html is one\n"
	    "                         self-contained page with an SVG chart\n"
	    "  -o, --output FILE      write to FILE instead of standard "
	    "output\n"
	    "      --compare ID       compare with campaign ID of the same "
	    "store\n"
	    "                         (units and blocks matched by id)\n"
	    "      --locale LOCALE    vi: decimal comma in table, csv and html "
	    "(csv\n"
	    "                         then separated by ';'), Vietnamese "
	    "headings\n"
	    "                         in html; en (default): decimal point.\n"
	    "                         JSON is never affected\n"
	    "  -h, --help             show this help and exit\n"
	    "  -V, --version          show the version and exit\n"
	    "\n"
	    "Exit status: 0 success, 1 usage error or unknown campaign (or "
	    "several\n"
	    "campaigns and no --campaign), 2 store error, 3 output not "
	    "written.\n");
}

static int fail(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sipas-snapshot: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

static int parse_format(const char *s)
{
	if (strcmp(s, "table") == 0)
		return SIPAS_FORMAT_TABLE;
	if (strcmp(s, "json") == 0)
		return SIPAS_FORMAT_JSON;
	if (strcmp(s, "csv") == 0)
		return SIPAS_FORMAT_CSV;
	if (strcmp(s, "html") == 0)
		return SIPAS_FORMAT_HTML;
	return -1;
}

static int exit_for(sipas_err rv)
{
	return rv == SIPAS_E_NOT_FOUND || rv == SIPAS_E_AMBIGUOUS ? EXIT_INPUT
	                                                          : EXIT_STORE;
}

/* A snapshot never creates a store: refuse a folder without one. */
static int check_store(const char *dir)
{
	char path[4096 + 16];
	struct stat st;

	if (stat(dir, &st) != 0)
		return fail(EXIT_STORE, "%s: %s", dir, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return fail(EXIT_STORE, "%s: not a folder", dir);
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	if (stat(path, &st) != 0)
		return fail(EXIT_STORE, "%s: no sipas store in this folder",
		            dir);
	return 0;
}

/* Several campaigns and no --campaign: name them. */
static int ambiguous(sipas_store *s, const char *dir)
{
	sipas_revision revs[8];
	sipas_diag diag = {{0}};
	char list[8 * (SIPAS_DEF_ID_MAX + 2) + 8] = "";
	size_t n = 0, used = 0;

	if (sipas_store_campaigns(s, revs, 8, &n, &diag) != SIPAS_OK)
		return fail(EXIT_STORE, "%s", diag.msg);
	for (size_t i = 0; i < n && i < 8; i++) {
		int w = snprintf(list + used, sizeof list - used, "%s%s",
		                 i ? ", " : "", revs[i].campaign);

		if (w > 0 && (size_t)w < sizeof list - used)
			used += (size_t)w;
	}
	return fail(EXIT_INPUT,
	            "%s holds %zu campaigns (%s%s): choose one with --campaign",
	            dir, n, list, n > 8 ? ", ..." : "");
}

/* Build the report (and the comparison) inside one view. */
static int build(const struct snapshot *sn, sipas_report **out)
{
	sipas_store *s = NULL;
	sipas_view *v = NULL;
	sipas_report *prev = NULL;
	sipas_diag diag = {{0}};
	sipas_err rv;
	int status = check_store(sn->store_dir);

	if (status != 0)
		return status;
	rv = sipas_store_open(&s, sn->store_dir, NULL, &diag);
	if (rv != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	rv = sipas_view_open(s, &v, &diag);
	if (rv != SIPAS_OK) {
		status = fail(EXIT_STORE, "%s", diag.msg);
		goto out;
	}
	rv = sipas_report_from_view(v, sn->campaign, (int64_t)time(NULL), out,
	                            &diag);
	if (rv == SIPAS_E_AMBIGUOUS) {
		status = ambiguous(s, sn->store_dir);
		goto out;
	}
	if (rv != SIPAS_OK) {
		status = fail(exit_for(rv), "%s", diag.msg);
		goto out;
	}
	if (sn->compare != NULL) {
		rv = sipas_report_from_view(v, sn->compare, (*out)->taken_at,
		                            &prev, &diag);
		if (rv != SIPAS_OK) {
			status = fail(exit_for(rv), "--compare: %s", diag.msg);
			sipas_report_free(out);
			goto out;
		}
		sipas_report_compare(*out, prev);
	}
out:
	/* The view is closed before anything is printed: a slow reader of
	 * the output never pins the store's pages. */
	sipas_report_free(&prev);
	sipas_view_close(&v);
	sipas_store_close(&s);
	return status;
}

static int print(const struct snapshot *sn, const sipas_report *r)
{
	FILE *f = stdout;
	sipas_diag diag = {{0}};
	sipas_err rv = SIPAS_OK;
	int format = sn->format;

	if (sn->output != NULL) {
		f = fopen(sn->output, "w");
		if (f == NULL)
			return fail(EXIT_OUTPUT, "%s: %s", sn->output,
			            strerror(errno));
	}
	if (format < 0)
		format = sn->output == NULL && isatty(STDOUT_FILENO)
		             ? SIPAS_FORMAT_TABLE
		             : SIPAS_FORMAT_JSON;
	switch (format) {
	case SIPAS_FORMAT_TABLE:
		rv = sipas_report_write_table(r, &sn->opts, f, &diag);
		break;
	case SIPAS_FORMAT_CSV:
		rv = sipas_report_write_csv(r, &sn->opts, f, &diag);
		break;
	case SIPAS_FORMAT_HTML:
		rv = sipas_report_write_html(r, &sn->opts, f, &diag);
		break;
	default:
		rv = sipas_report_write_json(r, f, &diag);
		break;
	}
	if (f != stdout && fclose(f) != 0 && rv == SIPAS_OK) {
		sipas_diag_set(&diag, "%s", strerror(errno));
		rv = SIPAS_E_IO;
	}
	if (rv != SIPAS_OK)
		return fail(EXIT_OUTPUT, "%s%s%s", sn->output ? sn->output : "",
		            sn->output ? ": " : "", diag.msg);
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_COMPARE = 256, OPT_LOCALE };
	static const struct option longopts[] = {
	    {"store", required_argument, NULL, 's'},
	    {"campaign", required_argument, NULL, 'c'},
	    {"format", required_argument, NULL, 'f'},
	    {"output", required_argument, NULL, 'o'},
	    {"compare", required_argument, NULL, OPT_COMPARE},
	    {"locale", required_argument, NULL, OPT_LOCALE},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	struct snapshot sn = {.format = -1, .opts = {.decimal_mark = '.'}};
	sipas_report *r = NULL;
	int opt, status;

	if (sipas_store_default_dir(sn.store_dir, sizeof sn.store_dir) !=
	    SIPAS_OK)
		return fail(EXIT_INPUT, "%s", "SIPAS_HOME is too long");
	while ((opt = getopt_long(argc, argv, "s:c:f:o:hV", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 's':
			if (strlen(optarg) >= sizeof sn.store_dir)
				return fail(EXIT_INPUT, "%s",
				            "--store: too long");
			memcpy(sn.store_dir, optarg, strlen(optarg) + 1);
			break;
		case 'c':
			sn.campaign = optarg;
			break;
		case 'f':
			sn.format = parse_format(optarg);
			if (sn.format < 0)
				return fail(EXIT_INPUT,
				            "--format: '%s' is not table, json, "
				            "csv or html",
				            optarg);
			break;
		case 'o':
			sn.output = optarg;
			break;
		case OPT_COMPARE:
			sn.compare = optarg;
			break;
		case OPT_LOCALE:
			if (strcmp(optarg, "vi") == 0) {
				sn.opts.decimal_mark = ',';
				sn.opts.vietnamese = true;
			} else if (strcmp(optarg, "en") == 0 ||
			         strcmp(optarg, "C") == 0) {
				sn.opts.decimal_mark = '.';
				sn.opts.vietnamese = false;
			} else
				return fail(EXIT_INPUT,
				            "--locale: '%s' is not vi or en",
				            optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("sipas-snapshot %s\n", SIPAS_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_INPUT;
		}
	}
	if (optind < argc)
		return fail(EXIT_INPUT, "unexpected argument '%s' (see --help)",
		            argv[optind]);
	status = build(&sn, &r);
	if (status == 0)
		status = print(&sn, r);
	sipas_report_free(&r);
	return status;
}
