/*
 * submit.c - sipas-submit, the client: reads responses from JSON Lines or
 * CSV files (or stdin) and submits them to a collector (interfaces.md
 * sections 1-2; docs/submit.md).
 *
 *   main -> options -> open inputs (and the definitions CSV needs)
 *        -> one loop: read records while the window has room, send each on
 *           one DEALER socket, match acks by id, retry `busy` with backoff,
 *           reconnect and resend on silence, give up after --timeout
 *        -> print one line per non-accepted record, in input order, and
 *           the summary.
 *
 * Exit status: 0 every record acknowledged accepted or duplicate; 1 any
 * other outcome, a usage error, or an unusable CSV header; 2 an input or
 * the store could not be read.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "sipas_buf.h"
#include "sipas_curve.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_input.h"
#include "sipas_limits.h"
#include "sipas_oom.h"
#include "sipas_protocol.h"
#include "sipas_store.h"
#include "sipas_text.h"
#include "sipas_time.h"

#define EXIT_REFUSED 1
#define EXIT_INPUT 2

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:7300"
#define DEFAULT_WINDOW 1000
#define MAX_WINDOW 20000
#define RING_PER_WINDOW 4 /* records held per record in flight */
#define DEFAULT_TIMEOUT 30.0
#define MAX_INPUTS 4096
#define MAX_CAMPAIGNS 64
#define MAX_LEARNED 256  /* (campaign, item) pairs learnt to be multi */
#define BACKOFF_MIN 0.01 /* seconds, first busy retry */
#define BACKOFF_MAX 1.0
#define SILENCE_MAX 5.0 /* reconnect after this long without an answer */
#define PROGRESS_EVERY 0.25
#define MAX_HANDSHAKE_WARN 8 /* reasons of failed handshakes told */

/* A slot is FREE; SENT (a copy is out); WAIT (busy: resent at retry_at);
 * HELD (an earlier record with the same id is unsettled: sent after it,
 * so that every answer is matched to the right line); DONE (settled, to
 * be printed). */
enum state { S_FREE, S_SENT, S_WAIT, S_HELD, S_DONE };
enum outcome { O_ACCEPTED, O_DUPLICATE, O_REJECTED, O_UNACKED, NOUTCOMES };

/* One record between being read and being printed. */
struct slot {
	int state;
	int outcome;
	uint32_t input; /* index in the inputs */
	uint64_t line;
	uint64_t seq; /* order of reading */
	char id[SIPAS_ID_MAX + 1];
	int32_t hnext; /* id table chain, while SENT, WAIT, HELD */
	uint32_t bucket;
	sipas_buf msg; /* the wire bytes, for resending */
	double first_sent, retry_at;
	unsigned busy; /* busy answers so far */
	bool guessed;  /* CSV read without its definition */
	bool got_busy;
	sipas_err code;
	char field[SIPAS_ACK_FIELD_MAX];
	char detail[SIPAS_ACK_DETAIL_MAX];
};

struct input {
	const char *path;  /* "-" for stdin */
	const char *label; /* prefix of its lines when several */
	FILE *f;
	int format;
	off_t size; /* -1 when unknown */
};

struct defs {
	sipas_def *file; /* --definition */
	sipas_store *store;
	size_t n;
	struct {
		char campaign[SIPAS_DEF_ID_MAX + 1];
		sipas_def *def;
	} cache[MAX_CAMPAIGNS];
};

/* An item the service said takes a list, for rows read without their
 * campaign's definition. */
struct learned {
	char campaign[SIPAS_DEF_ID_MAX + 1];
	char item[SIPAS_DEF_ID_MAX + 1];
};

struct submit {
	/* options */
	const char *endpoint;
	int format; /* -1: by extension */
	int32_t utc_offset;
	const char *definition, *store_dir;
	uint32_t window;
	double timeout, silence;
	bool quiet, progress;
	const char *curve_server_path, *curve_key_path;

	/* inputs */
	struct input *inputs;
	uint32_t ninputs, cur;
	sipas_input *reader;
	bool input_done;
	uint64_t bytes_total, bytes_before; /* for the progress line */
	int status; /* worst exit status met besides outcomes */
	struct defs defs;
	sipas_response *resp;
	sipas_buf wire;
	sipas_response *scratch; /* a record taken back from its wire bytes */
	struct learned *learned;
	size_t nlearned;
	int64_t one[SIPAS_MAX_ANSWERS]; /* codes of answers made lists */

	/* a ring of the records read and not yet printed, in reading order;
	 * at most `window` of them have a copy out */
	struct slot *ring;
	uint32_t ring_cap, head, count;
	uint64_t seq;
	uint32_t in_flight, waiting;
	double cwnd, last_cut;
	int32_t *buckets;
	uint32_t nbuckets;

	/* the socket */
	void *zctx, *sock;
	bool curve;                    /* CURVE keys given */
	sipas_curve_key curve_own, curve_server;
	void *mon;                     /* handshake events of sock */
	unsigned mon_seq;              /* monitor endpoints are never reused */
	/* why the handshake failed since the last that succeeded (NULL:
	 * none failed); each reason is told on stderr once */
	const char *handshake_why;
	const char *warned[MAX_HANDSHAKE_WARN];
	unsigned nwarned;
	double last_rx;    /* silence is measured from here */
	double last_heard; /* the last answer received */
	bool gone;         /* no answer for --timeout: stop sending */
	unsigned reconnects;
	uint64_t nbusy;

	/* results */
	uint64_t counts[NOUTCOMES];
	double started, last_progress;
	uint64_t rng;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted++;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void warn(const char *fmt, ...)
{
	va_list ap;

	fputs("sipas-submit: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "Usage: sipas-submit [OPTIONS] [FILE...]\n"
	    "Submit survey responses from JSON Lines or CSV files (\"-\" or "
	    "none: stdin)\nto a sipas collector; print one line per "
	    "record not accepted and a summary.\n"
	    "\n"
	    "Options:\n"
	    "  -e, --endpoint ENDPOINT  collector to submit to "
	    "(default " DEFAULT_ENDPOINT ")\n"
	    "  -f, --format jsonl|csv   input format (default: by file "
	    "extension, .jsonl/.json/\n"
	    "                           .ndjson or .csv, else by the "
	    "first byte; stdin: jsonl)\n"
	    "  -u, --utc-offset +HH:MM  offset of CSV dates written "
	    "without one (default +07:00)\n"
	    "  -d, --definition FILE    survey definition telling the "
	    "multi-choice CSV columns\n"
	    "  -s, --store DIR          or take it from this store "
	    "(default $SIPAS_HOME/sipas-store,\n"
	    "                           or ./sipas-store, when there)\n"
	    "  -w, --window N           records in flight at most "
	    "(default %d, max %d)\n"
	    "  -t, --timeout SECONDS    give up on a record not "
	    "acknowledged after this long\n"
	    "                           (default %.0f)\n"
	    "  -q, --quiet              no line per duplicate, no "
	    "progress line\n"
	    "      --curve-server FILE  the collector's CURVE public key "
	    "file (NAME.pub)\n"
	    "      --curve-key FILE     this client's CURVE secret key "
	    "file (NAME.key);\n"
	    "                           both are needed where the collector "
	    "uses CURVE\n"
	    "  -h, --help               show this help and exit\n"
	    "  -V, --version            show the version and exit\n"
	    "\n"
	    "Output (stdout): \"line N: ID: CODE FIELD: DETAIL\" per record "
	    "not accepted, prefixed\nwith \"FILE: \" when several files "
	    "are given, then \"N accepted, N duplicate,\nN rejected, N "
	    "unacknowledged\".\n"
	    "Exit status: 0 every record accepted or duplicate, 1 "
	    "otherwise or a usage\nerror, 2 an input or the store could "
	    "not be read.\n",
	    DEFAULT_WINDOW, MAX_WINDOW, DEFAULT_TIMEOUT);
}

/* ---- definitions (CSV multi columns) ---- */

static const sipas_def *find_def(void *ctx, const char *campaign)
{
	struct defs *d = ctx;
	sipas_def *def = NULL;
	sipas_diag diag;
	size_t n = strlen(campaign);
	sipas_err rv;

	if (d->file != NULL)
		return d->file;
	if (d->store == NULL || n > SIPAS_DEF_ID_MAX)
		return NULL;
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->cache[i].campaign, campaign) == 0)
			return d->cache[i].def;
	if (d->n == MAX_CAMPAIGNS)
		return NULL;
	rv = sipas_store_load_definition(d->store, n ? campaign : NULL, &def,
	                                 NULL, &diag);
	if (rv != SIPAS_OK && rv != SIPAS_E_NOT_FOUND &&
	    rv != SIPAS_E_AMBIGUOUS)
		warn("store: %s", diag.msg);
	memcpy(d->cache[d->n].campaign, campaign, n + 1);
	d->cache[d->n++].def = def;
	return def;
}

static void defs_close(struct defs *d)
{
	sipas_def_free(&d->file);
	for (size_t i = 0; i < d->n; i++)
		sipas_def_free(&d->cache[i].def);
	d->n = 0;
	sipas_store_close(&d->store);
}

/* Make the definition CSV needs available. Returns an exit status or 0. */
static int defs_open(struct submit *s)
{
	char dir[4096];
	sipas_diag diag;
	struct stat st;
	sipas_err rv;

	if (s->definition != NULL) {
		rv = sipas_def_load_file(s->definition, &s->defs.file, &diag);
		if (rv == SIPAS_OK)
			return 0;
		warn("%s", diag.msg);
		return rv == SIPAS_E_IO ? EXIT_INPUT : EXIT_REFUSED;
	}
	if (s->store_dir != NULL) {
		snprintf(dir, sizeof dir, "%s", s->store_dir);
	} else if (sipas_store_default_dir(dir, sizeof dir) != SIPAS_OK) {
		warn("SIPAS_HOME is too long");
		return EXIT_REFUSED;
	}
	/* Never create a store as a side effect of reading a CSV file. */
	if (strlen(dir) + sizeof "/data.mdb" > sizeof dir) {
		warn("--store: too long");
		return EXIT_REFUSED;
	}
	{
		char data[4096 + 16];

		snprintf(data, sizeof data, "%s/data.mdb", dir);
		if (stat(data, &st) != 0 && s->store_dir != NULL) {
			warn("%s: no store there", dir);
			return EXIT_INPUT;
		}
		if (stat(data, &st) != 0) {
			if (!s->quiet)
				warn(
				    "no survey definition (--definition FILE "
				    "or --store DIR): multi-choice CSV columns "
				    "are told by ';' and learnt from the "
				    "service's answers");
			return 0;
		}
	}
	rv = sipas_store_open(&s->defs.store, dir, NULL, &diag);
	if (rv != SIPAS_OK) {
		warn("%s: %s", dir, diag.msg);
		return EXIT_INPUT;
	}
	return 0;
}

/* ---- inputs ---- */

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);

	return n >= m && strcmp(s + n - m, tail) == 0;
}

/* The format of an input when --format is not given. */
static int guess_format(const struct input *in)
{
	char head[64];
	ssize_t n;
	int fd = fileno(in->f);

	if (ends_with(in->path, ".jsonl") || ends_with(in->path, ".json") ||
	    ends_with(in->path, ".ndjson"))
		return SIPAS_INPUT_JSONL;
	if (ends_with(in->path, ".csv"))
		return SIPAS_INPUT_CSV;
	if (in->size < 0)
		return SIPAS_INPUT_JSONL; /* stdin, a pipe */
	n = pread(fd, head, sizeof head, 0);
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)head[i];

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
		    (i < 3 && (c == 0xEF || c == 0xBB || c == 0xBF)))
			continue;
		return c == '{' ? SIPAS_INPUT_JSONL : SIPAS_INPUT_CSV;
	}
	return SIPAS_INPUT_JSONL;
}

/* Open every input before anything is sent. */
static int inputs_open(struct submit *s, char **paths, uint32_t n)
{
	static char *dash[] = {"-"};
	bool csv = false;
	struct stat st;

	if (n == 0) {
		paths = dash;
		n = 1;
	}
	if (n > MAX_INPUTS) {
		warn("at most %d files", MAX_INPUTS);
		return EXIT_REFUSED;
	}
	s->inputs = sipas_xcalloc(n, sizeof *s->inputs);
	s->ninputs = n;
	for (uint32_t i = 0; i < n; i++) {
		struct input *in = &s->inputs[i];
		bool is_stdin = strcmp(paths[i], "-") == 0;

		in->path = paths[i];
		in->label = is_stdin ? "stdin" : paths[i];
		in->f = is_stdin ? stdin : fopen(paths[i], "r");
		if (in->f == NULL) {
			warn("%s: %s", paths[i], strerror(errno));
			return EXIT_INPUT;
		}
		if (fstat(fileno(in->f), &st) != 0) {
			warn("%s: %s", paths[i], strerror(errno));
			return EXIT_INPUT;
		}
		if (S_ISDIR(st.st_mode)) {
			warn("%s: is a folder", paths[i]);
			return EXIT_INPUT;
		}
		in->size = S_ISREG(st.st_mode) ? st.st_size : -1;
		in->format = s->format >= 0 ? s->format : guess_format(in);
		csv |= in->format == SIPAS_INPUT_CSV;
		if (in->size < 0)
			s->bytes_total = UINT64_MAX;
		else if (s->bytes_total != UINT64_MAX)
			s->bytes_total += (uint64_t)in->size;
	}
	return csv ? defs_open(s) : 0;
}

static void inputs_close(struct submit *s)
{
	for (uint32_t i = 0; s->inputs != NULL && i < s->ninputs; i++)
		if (s->inputs[i].f != NULL && s->inputs[i].f != stdin)
			fclose(s->inputs[i].f);
	free(s->inputs);
	s->inputs = NULL;
}

/* ---- the socket ---- */

/* Stop watching the socket's handshakes (before it is closed). */
static void monitor_close(struct submit *s)
{
	if (s->mon == NULL)
		return;
	if (s->sock != NULL)
		(void)zmq_socket_monitor(s->sock, NULL, 0);
	zmq_close(s->mon);
	s->mon = NULL;
}

/*
 * Watch the handshakes of the socket: a CURVE handshake that fails (a
 * wrong server key, a key the collector does not list, CURVE on one side
 * only) leaves the client without any answer, exactly like a collector
 * that is down; the events tell the two apart. Best effort: without the
 * monitor only the reason is missing from the messages.
 */
static void monitor_open(struct submit *s)
{
	char ep[64];
	int zero = 0;

	snprintf(ep, sizeof ep, "inproc://sipas-submit-monitor-%u",
	         s->mon_seq++);
	if (zmq_socket_monitor(s->sock, ep,
	                       SIPAS_CURVE_FAILURE_EVENTS |
	                           ZMQ_EVENT_HANDSHAKE_SUCCEEDED) != 0)
		return;
	s->mon = zmq_socket(s->zctx, ZMQ_PAIR);
	if (s->mon == NULL)
		return;
	zmq_setsockopt(s->mon, ZMQ_LINGER, &zero, sizeof zero);
	if (zmq_connect(s->mon, ep) != 0) {
		zmq_close(s->mon);
		s->mon = NULL;
	}
}

/* Read the handshake events waiting; warn once per kind of failure. A
 * closed connection says less than a refusal or a protocol error, which
 * it often follows: it never replaces one. */
static void monitor_drain(struct submit *s)
{
	zmq_msg_t ev, ep;
	uint16_t event;
	uint32_t value;

	if (s->mon == NULL)
		return;
	zmq_msg_init(&ev);
	zmq_msg_init(&ep);
	while (zmq_msg_recv(&ev, s->mon, ZMQ_DONTWAIT) >= 0) {
		const char *why;
		bool vague;
		unsigned i;

		if (zmq_msg_more(&ev))
			(void)zmq_msg_recv(&ep, s->mon, ZMQ_DONTWAIT);
		if (zmq_msg_size(&ev) < 6)
			continue;
		memcpy(&event, zmq_msg_data(&ev), sizeof event);
		memcpy(&value, (const char *)zmq_msg_data(&ev) + 2,
		       sizeof value);
		if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
			s->handshake_why = NULL;
			continue;
		}
		why = sipas_curve_failure_text(event, value, false);
		vague = event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL;
		if (vague && s->handshake_why != NULL)
			continue;
		s->handshake_why = why;
		for (i = 0; i < s->nwarned && s->warned[i] != why; i++)
			;
		if (i < s->nwarned || i == MAX_HANDSHAKE_WARN)
			continue;
		s->warned[s->nwarned++] = why;
		warn("%s: the handshake failed: %s; retrying", s->endpoint,
		     why);
	}
	zmq_msg_close(&ev);
	zmq_msg_close(&ep);
}

static int sock_open(struct submit *s)
{
	sipas_diag diag = {{0}};
	int zero = 0;

	s->sock = zmq_socket(s->zctx, ZMQ_DEALER);
	if (s->sock == NULL) {
		warn("zmq_socket: %s", zmq_strerror(zmq_errno()));
		return -1;
	}
	zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero);
	zmq_setsockopt(s->sock, ZMQ_SNDHWM, &zero, sizeof zero);
	zmq_setsockopt(s->sock, ZMQ_RCVHWM, &zero, sizeof zero);
	if (s->curve && sipas_curve_set_client(s->sock, &s->curve_own,
	                                       &s->curve_server,
	                                       &diag) != SIPAS_OK) {
		warn("%s", diag.msg);
		zmq_close(s->sock);
		s->sock = NULL;
		return -1;
	}
	monitor_open(s);
	if (zmq_connect(s->sock, s->endpoint) != 0) {
		warn("%s: %s", s->endpoint, zmq_strerror(zmq_errno()));
		monitor_close(s);
		zmq_close(s->sock);
		s->sock = NULL;
		return -1;
	}
	return 0;
}

/* ---- the window ---- */

static struct slot *slot_at(struct submit *s, uint32_t k)
{
	return &s->ring[(s->head + k) % s->ring_cap];
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u;

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static void table_add(struct submit *s, struct slot *sl)
{
	int32_t idx = (int32_t)(sl - s->ring);

	sl->bucket = hash_id(sl->id) & (s->nbuckets - 1);
	sl->hnext = s->buckets[sl->bucket];
	s->buckets[sl->bucket] = idx;
}

static void table_del(struct submit *s, struct slot *sl)
{
	int32_t idx = (int32_t)(sl - s->ring), *p = &s->buckets[sl->bucket];

	while (*p >= 0 && *p != idx)
		p = &s->ring[*p].hnext;
	if (*p == idx)
		*p = sl->hnext;
	sl->hnext = -1;
}

/* The earliest record read with this id in one of the states in mask
 * (bits 1 << S_x), or NULL. */
static struct slot *table_find(struct submit *s, const char *id, unsigned mask)
{
	struct slot *best = NULL;

	for (int32_t i = s->buckets[hash_id(id) & (s->nbuckets - 1)]; i >= 0;
	     i = s->ring[i].hnext) {
		struct slot *sl = &s->ring[i];

		if ((mask & 1u << sl->state) && strcmp(sl->id, id) == 0 &&
		    (best == NULL || sl->seq < best->seq))
			best = sl;
	}
	return best;
}

/* Copy text into dst (cap bytes), cut to fit at a UTF-8 boundary. */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = sipas_utf8_boundary(src, strlen(src), cap - 1);
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void finish(struct submit *s, struct slot *sl, int outcome,
                   sipas_err code, const char *field, const char *detail)
{
	if (sl->state == S_SENT)
		s->in_flight--;
	else if (sl->state == S_WAIT)
		s->waiting--;
	if (sl->state == S_SENT || sl->state == S_WAIT || sl->state == S_HELD)
		table_del(s, sl);
	sl->state = S_DONE;
	sl->outcome = outcome;
	sl->code = code;
	copy_text(sl->field, sizeof sl->field, field);
	copy_text(sl->detail, sizeof sl->detail, detail);
}

static void transmit(struct submit *s, struct slot *sl, double t);

/* Settle a record that was out, then send the next one with its id. */
static void settle(struct submit *s, struct slot *sl, int outcome,
                   sipas_err code, const char *field, const char *detail,
                   double t)
{
	struct slot *next;

	finish(s, sl, outcome, code, field, detail);
	next = table_find(s, sl->id, 1u << S_HELD);
	if (next != NULL)
		transmit(s, next, t);
}

static uint32_t limit(const struct submit *s)
{
	uint32_t c = (uint32_t)s->cwnd;

	return c < 1 ? 1 : c > s->window ? s->window : c;
}

/* Send (or resend) a record's copy. */
static void transmit(struct submit *s, struct slot *sl, double t)
{
	if (s->in_flight == 0)
		s->last_rx = t; /* silence is counted from here */
	if (zmq_send(s->sock, sl->msg.data, sl->msg.len, ZMQ_DONTWAIT) < 0) {
		/* no room right now: try again shortly */
		if (sl->state != S_WAIT)
			s->waiting++;
		sl->state = S_WAIT;
		sl->retry_at = t + 0.01;
		return;
	}
	if (sl->state == S_WAIT)
		s->waiting--;
	sl->state = S_SENT;
	s->in_flight++;
}

static double backoff(struct submit *s, const struct slot *sl, int64_t retry_ms)
{
	double d = BACKOFF_MIN * pow(2.0, sl->busy < 10 ? sl->busy : 10);

	/* the service's own hint wins over our guess */
	if (retry_ms > 0)
		d = (double)retry_ms / 1000.0;

	else if (d > BACKOFF_MAX)
		d = BACKOFF_MAX;
	/* jitter 0.75..1.25 so waiting records do not return together */
	s->rng ^= s->rng << 13;
	s->rng ^= s->rng >> 7;
	s->rng ^= s->rng << 17;
	return d * (0.75 + (double)(s->rng % 1000) / 2000.0);
}

/* ---- multi items learnt from the service ---- */

static bool is_learned(const struct submit *s, const char *campaign,
                       const char *item)
{
	for (size_t i = 0; i < s->nlearned; i++)
		if (strcmp(s->learned[i].item, item) == 0 &&
		    strcmp(s->learned[i].campaign, campaign) == 0)
			return true;
	return false;
}

static void learn(struct submit *s, const char *campaign, const char *item)
{
	struct learned *l;

	if (s->nlearned == MAX_LEARNED || is_learned(s, campaign, item) ||
	    strlen(campaign) > SIPAS_DEF_ID_MAX ||
	    strlen(item) > SIPAS_DEF_ID_MAX)
		return;
	if (s->learned == NULL)
		s->learned = sipas_xcalloc(MAX_LEARNED, sizeof *s->learned);
	l = &s->learned[s->nlearned++];
	memcpy(l->campaign, campaign, strlen(campaign) + 1);
	memcpy(l->item, item, strlen(item) + 1);
}

/* Make r's one-integer answers one-code lists: the answer to `item`, or
 * with item NULL those to the items learnt multi. True when one changed. */
static bool make_lists(struct submit *s, sipas_response *r, const char *item)
{
	bool changed = false;

	for (uint32_t i = 0; i < r->nanswers; i++) {
		sipas_answer *a = &r->answers[i];

		if (a->kind != SIPAS_ANSWER_INT ||
		    (item != NULL ? strcmp(a->item, item) != 0
		                  : !is_learned(s, r->campaign, a->item)))
			continue;
		s->one[i] = a->value;
		a->kind = SIPAS_ANSWER_LIST;
		a->codes = &s->one[i];
		a->ncodes = 1;
		changed = true;
	}
	return changed;
}

/* The service answered bad_type for an item of a row read without its
 * definition, sent as one integer: the item is multi. Rewrite the record
 * with a one-code list and learn the item. False when that is not it. */
static bool relearn(struct submit *s, struct slot *sl, const sipas_ack *a)
{
	sipas_fault f;

	if (!sl->guessed || a->code != SIPAS_E_BAD_TYPE ||
	    strncmp(a->field, "items.", 6) != 0)
		return false;
	if (s->scratch == NULL)
		s->scratch = sipas_xmalloc(sizeof *s->scratch);
	if (sipas_response_decode(sl->msg.data, sl->msg.len, s->scratch, &f) !=
	        SIPAS_OK ||
	    !make_lists(s, s->scratch, a->field + 6))
		return false;
	sipas_buf_reset(&s->wire);
	if (sipas_response_encode(&s->wire, s->scratch) != SIPAS_OK)
		return false;
	learn(s, s->scratch->campaign, a->field + 6);
	sipas_buf_reset(&sl->msg);
	return sipas_buf_append(&sl->msg, s->wire.data, s->wire.len) ==
	       SIPAS_OK;
}

static void on_ack(struct submit *s, const sipas_ack *a, double t)
{
	struct slot *sl = table_find(s, a->id, 1u << S_SENT);

	if (sl == NULL && a->id[0] == '\0' && s->in_flight == 1) {
		/* an ack without id can only answer the one record out */
		for (uint32_t k = 0; k < s->count && sl == NULL; k++)
			if (slot_at(s, k)->state == S_SENT)
				sl = slot_at(s, k);
	}
	if (sl == NULL)
		return; /* a stale answer to a copy already settled */
	switch (a->status) {
	case SIPAS_ACCEPTED:
		settle(s, sl, O_ACCEPTED, SIPAS_OK, "", a->detail, t);
		break;
	case SIPAS_DUPLICATE:
		settle(s, sl, O_DUPLICATE, SIPAS_OK, "", a->detail, t);
		break;
	case SIPAS_REJECTED:
		if (relearn(s, sl, a)) {
			/* sent again at once, as a list */
			s->in_flight--;
			s->waiting++;
			sl->state = S_WAIT;
			sl->retry_at = t;
			return;
		}
		settle(s, sl, O_REJECTED, a->code, a->field, a->detail, t);
		break;
	default: /* busy: nothing stored; back off, shrink the window */
		s->in_flight--;
		s->waiting++;
		sl->state = S_WAIT;
		sl->retry_at = t + backoff(s, sl, a->retry_ms);
		sl->busy++;
		sl->got_busy = true;
		s->nbusy++;
		copy_text(sl->detail, sizeof sl->detail, a->detail);
		if (t - s->last_cut > 0.05) {
			s->cwnd = s->cwnd / 2 < 1 ? 1 : s->cwnd / 2;
			s->last_cut = t;
		}
		return;
	}
	if (s->cwnd < s->window)
		s->cwnd += 1;
}

/* Read every answer waiting on the socket. */
static void drain(struct submit *s, sipas_ack *acks, double t)
{
	zmq_msg_t m;
	size_t n;
	bool is_array;

	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) >= 0) {
		bool more = zmq_msg_more(&m);

		s->last_rx = s->last_heard = t;
		if (sipas_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), acks,
		                     SIPAS_MAX_BATCH, &n,
		                     &is_array) == SIPAS_OK)
			for (size_t i = 0; i < n; i++)
				on_ack(s, &acks[i], t);
		while (more && zmq_msg_recv(&m, s->sock, ZMQ_DONTWAIT) >= 0)
			more = zmq_msg_more(&m);
	}
	zmq_msg_close(&m);
}

/* Resend every copy out on a fresh socket: the collector went silent (it
 * restarted, or the network dropped the answers). Safe: the service
 * dedupes, and the old socket's answers can no longer arrive. */
static void reconnect(struct submit *s, double t)
{
	monitor_drain(s);
	monitor_close(s);
	zmq_close(s->sock);
	s->sock = NULL;
	if (sock_open(s) != 0)
		return;
	s->reconnects++;
	s->in_flight = 0;
	s->last_rx = t;
	for (uint32_t k = 0; k < s->count; k++) {
		struct slot *sl = slot_at(s, k);

		if (sl->state == S_SENT) {
			sl->state = S_WAIT;
			s->waiting++;
			sl->retry_at = t;
		}
	}
}

/* Timers: records out of time, busy retries due, silence. */
static void timers(struct submit *s, double t)
{
	char why[2 * SIPAS_ACK_DETAIL_MAX];

	/* The oldest unsettled record was sent first: when it has time
	 * left, so do all the others. */
	for (uint32_t k = 0; k < s->count; k++) {
		struct slot *sl = slot_at(s, k);

		if (sl->state == S_DONE)
			continue;
		if (t - sl->first_sent < s->timeout)
			break;
		if (sl->got_busy)
			snprintf(why, sizeof why,
			         "The service was still busy after %g s%s%s",
			         s->timeout, sl->detail[0] ? ": " : ".",
			         sl->detail);
		else if (s->handshake_why != NULL)
			snprintf(why, sizeof why,
			         "No answer from %s within %g s: the handshake "
			         "failed: %s.",
			         s->endpoint, s->timeout, s->handshake_why);
		else
			snprintf(why, sizeof why,
			         "No answer from %s within %g s.", s->endpoint,
			         s->timeout);
		settle(s, sl, O_UNACKED, SIPAS_OK, "", why, t);
		/* Nothing heard for that long: the collector is gone. The
		 * rest of the input is read and reported, not sent. */
		if (t - s->last_heard >= s->timeout)
			s->gone = true;
	}
	if (s->in_flight > 0 && t - s->last_rx > s->silence)
		reconnect(s, t);
	for (uint32_t k = 0; s->waiting > 0 && k < s->count; k++) {
		struct slot *sl = slot_at(s, k);

		if (s->in_flight >= limit(s))
			break;
		if (sl->state == S_WAIT && sl->retry_at <= t)
			transmit(s, sl, t);
	}
}

/* When the loop must wake up at the latest (seconds from t). */
static double next_wake(struct submit *s, double t)
{
	double w = 1.0;

	for (uint32_t k = 0; k < s->count; k++) {
		struct slot *sl = slot_at(s, k);

		if (sl->state == S_DONE)
			continue;
		if (sl->first_sent + s->timeout - t < w)
			w = sl->first_sent + s->timeout - t;
		break;
	}
	if (s->in_flight > 0 && s->last_rx + s->silence - t < w)
		w = s->last_rx + s->silence - t;
	/* a retry due while the window is full waits for an answer */
	for (uint32_t k = 0;
	     s->waiting > 0 && s->in_flight < limit(s) && k < s->count; k++) {
		struct slot *sl = slot_at(s, k);

		if (sl->state == S_WAIT && sl->retry_at - t < w)
			w = sl->retry_at - t;
	}
	if (s->progress && PROGRESS_EVERY < w)
		w = PROGRESS_EVERY;
	return w < 0 ? 0 : w;
}

/* ---- output ---- */

static void print_line(struct submit *s, const struct slot *sl)
{
	static const char *const names[NOUTCOMES] = {
	    "accepted", "duplicate", "rejected", "unacknowledged"};
	const char *code = sl->outcome == O_REJECTED ? sipas_err_name(sl->code)
	                                             : names[sl->outcome];
	const char *detail = sl->detail;

	if (sl->outcome == O_DUPLICATE && *detail == '\0')
		detail = "This id was already accepted with the same content.";
	if (s->ninputs > 1)
		printf("%s: ", s->inputs[sl->input].label);
	printf("line %llu: %s: %s%s%s%s%s\n", (unsigned long long)sl->line,
	       sl->id, code, sl->field[0] ? " " : "", sl->field,
	       *detail ? ": " : "", detail);
}

/* Print the settled records at the head of the window, in input order. */
static void flush(struct submit *s)
{
	while (s->count > 0) {
		struct slot *sl = slot_at(s, 0);

		if (sl->state != S_DONE)
			break;
		s->counts[sl->outcome]++;
		if (sl->outcome != O_ACCEPTED &&
		    !(sl->outcome == O_DUPLICATE && s->quiet))
			print_line(s, sl);
		sl->state = S_FREE;
		s->head = (s->head + 1) % s->ring_cap;
		s->count--;
	}
}

static void progress(struct submit *s, double t, bool last)
{
	uint64_t done = 0, bytes;
	double rate, el = t - s->started;

	if (!s->progress)
		return;
	if (last) {
		fputs("\r\033[K", stderr);
		return;
	}
	if (t - s->last_progress < PROGRESS_EVERY)
		return;
	s->last_progress = t;
	for (int i = 0; i < NOUTCOMES; i++)
		done += s->counts[i];
	rate = el > 0 ? (double)done / el : 0;
	fprintf(stderr, "\r%llu records, %.0f/s, %u in flight",
	        (unsigned long long)done, rate, s->in_flight);
	bytes = s->bytes_before +
	        (s->reader != NULL ? sipas_input_offset(s->reader) : 0);
	if (s->bytes_total != UINT64_MAX && s->bytes_total > 0 && bytes > 0 &&
	    el > 1) {
		double left =
		    el * (double)(s->bytes_total - bytes) / (double)bytes;

		fprintf(stderr, ", %.0f%%, ETA %d:%02d",
		        100.0 * (double)bytes / (double)s->bytes_total,
		        (int)(left / 60), (int)fmod(left, 60));
	}
	fputs("\033[K", stderr);
	fflush(stderr);
}

/* ---- reading ---- */

/* Read the next record into a new slot and send it. False when the input
 * is exhausted. */
static bool read_one(struct submit *s, double t)
{
	sipas_input_opts o = {SIPAS_INPUT_JSONL, s->utc_offset, find_def,
	                      &s->defs};
	struct input *in;
	struct slot *sl;
	sipas_record rec;
	sipas_diag diag = {""};
	sipas_err rv;
	bool held;

	for (;;) {
		if (s->cur >= s->ninputs)
			return false;
		in = &s->inputs[s->cur];
		if (s->reader == NULL) {
			o.format = in->format;
			sipas_input_new(&s->reader, in->f, in->label, &o);
		}
		rv =
		    sipas_input_next(s->reader, s->resp, &s->wire, &rec, &diag);
		if (rv == SIPAS_OK)
			break;
		if (rv == SIPAS_E_IO) {
			warn("%s", diag.msg);
			s->status = EXIT_INPUT;
		} else if (rv == SIPAS_E_BAD_VALUE) {
			warn("%s: %s", in->label, diag.msg);
			if (s->status == 0)
				s->status = EXIT_REFUSED;
		}
		s->bytes_before += sipas_input_offset(s->reader);
		sipas_input_free(&s->reader);
		s->cur++;
	}
	sl = slot_at(s, s->count++);
	memset(sl->id, 0, sizeof sl->id);
	sl->input = s->cur;
	sl->line = rec.line;
	sl->seq = s->seq++;
	sl->busy = 0;
	sl->got_busy = false;
	sl->field[0] = sl->detail[0] = '\0';
	sl->hnext = -1;
	sl->first_sent = t;
	if (!rec.ok) {
		memcpy(sl->id, rec.fault.id, sizeof sl->id);
		sl->state = S_FREE;
		finish(s, sl, O_REJECTED, rec.fault.code, rec.fault.field,
		       rec.fault.detail);
		return true;
	}
	snprintf(sl->id, sizeof sl->id, "%s", s->resp->id);
	sl->guessed = rec.guessed;
	if (rec.guessed && s->nlearned > 0 && make_lists(s, s->resp, NULL)) {
		sipas_buf_reset(&s->wire);
		if (sipas_response_encode(&s->wire, s->resp) != SIPAS_OK) {
			sl->state = S_FREE;
			finish(s, sl, O_REJECTED, SIPAS_E_TOO_LARGE, "",
			       "A response map is at most 65536 bytes.");
			return true;
		}
	}
	if (s->gone) {
		char why[SIPAS_ACK_DETAIL_MAX + 64];

		snprintf(why, sizeof why,
		         "Not sent: no answer from %s for %g s.", s->endpoint,
		         s->timeout);
		sl->state = S_FREE;
		finish(s, sl, O_UNACKED, SIPAS_OK, "", why);
		return true;
	}
	sipas_buf_reset(&sl->msg);
	if (sipas_buf_append(&sl->msg, s->wire.data, s->wire.len) != SIPAS_OK) {
		sl->state = S_FREE;
		finish(s, sl, O_REJECTED, SIPAS_E_TOO_LARGE, "",
		       "A response map is at most 65536 bytes.");
		return true;
	}
	sl->state = S_FREE;
	held = table_find(s, sl->id,
	                  1u << S_SENT | 1u << S_WAIT | 1u << S_HELD) != NULL;
	table_add(s, sl);
	if (held)
		sl->state = S_HELD;
	else
		transmit(s, sl, t);
	return true;
}

/* ---- the loop ---- */

static bool can_read(const struct submit *s)
{
	return !s->input_done && s->sock != NULL && s->count < s->ring_cap &&
	       (s->in_flight < limit(s) || s->gone);
}

static void run(struct submit *s)
{
	sipas_ack *acks = sipas_xcalloc(SIPAS_MAX_BATCH, sizeof *acks);
	zmq_pollitem_t item;
	double t;
	int seen_signals = 0;

	s->started = s->last_rx = s->last_heard = now();
	for (;;) {
		t = now();
		if (s->sock != NULL)
			drain(s, acks, t);
		monitor_drain(s);
		if (interrupted != seen_signals) {
			seen_signals = interrupted;
			if (!s->input_done)
				warn("interrupted: no more records are read; "
				     "waiting for the answers owed (again to "
				     "give up)");
			s->input_done = true;
			if (seen_signals > 1)
				for (uint32_t k = 0; k < s->count; k++) {
					struct slot *sl = slot_at(s, k);

					if (sl->state != S_DONE)
						finish(s, sl, O_UNACKED,
						       SIPAS_OK, "",
						       "Interrupted.");
				}
		}
		if (s->sock == NULL) {
			/* the socket could not be reopened: give up */
			s->input_done = true;
			s->status = EXIT_REFUSED;
			for (uint32_t k = 0; k < s->count; k++)
				if (slot_at(s, k)->state != S_DONE)
					finish(s, slot_at(s, k), O_UNACKED,
					       SIPAS_OK, "",
					       "No socket to the collector.");
		}
		timers(s, t);
		do {
			while (can_read(s))
				if (!read_one(s, t))
					s->input_done = true;
			flush(s);
		} while (can_read(s));
		progress(s, t, false);
		if (s->input_done && s->count == 0)
			break;
		if (s->sock == NULL)
			continue;
		item = (zmq_pollitem_t){s->sock, 0, ZMQ_POLLIN, 0};
		if (zmq_poll(&item, 1, (long)ceil(next_wake(s, now()) * 1000)) <
		        0 &&
		    zmq_errno() != EINTR)
			break;
	}
	progress(s, now(), true);
	if (getenv("SIPAS_SUBMIT_DEBUG") != NULL)
		fprintf(stderr,
		        "debug: %.2f s, %u reconnects, %llu busy, "
		        "cwnd %.0f\n",
		        now() - s->started, s->reconnects,
		        (unsigned long long)s->nbusy, s->cwnd);
	free(acks);
}

/* ---- options ---- */

/* Read the CURVE key files: both or neither. */
static int curve_options(struct submit *s)
{
	sipas_diag diag = {{0}};

	if ((s->curve_server_path == NULL) != (s->curve_key_path == NULL)) {
		warn("--curve-server and --curve-key go together: the "
		     "collector's public key and this client's key pair");
		return EXIT_REFUSED;
	}
	if (s->curve_server_path == NULL)
		return 0;
	if (sipas_curve_load_public(s->curve_server_path, &s->curve_server,
	                            &diag) != SIPAS_OK) {
		warn("--curve-server: %s", diag.msg);
		return EXIT_REFUSED;
	}
	if (sipas_curve_load_pair(s->curve_key_path, &s->curve_own, &diag) !=
	    SIPAS_OK) {
		warn("--curve-key: %s", diag.msg);
		return EXIT_REFUSED;
	}
	s->curve = true;
	return 0;
}

static int parse_options(struct submit *s, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"endpoint", required_argument, NULL, 'e'},
	    {"format", required_argument, NULL, 'f'},
	    {"utc-offset", required_argument, NULL, 'u'},
	    {"definition", required_argument, NULL, 'd'},
	    {"store", required_argument, NULL, 's'},
	    {"window", required_argument, NULL, 'w'},
	    {"timeout", required_argument, NULL, 't'},
	    {"quiet", no_argument, NULL, 'q'},
	    {"curve-server", required_argument, NULL, 'S'},
	    {"curve-key", required_argument, NULL, 'K'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	char *end;
	long n;
	double d;
	int opt;

	while ((opt = getopt_long(argc, argv, "e:f:u:d:s:w:t:qhV", longopts,
	                          NULL)) != -1) {
		switch (opt) {
		case 'e':
			s->endpoint = optarg;
			break;
		case 'f':
			s->format = sipas_input_format_parse(optarg);
			if (s->format < 0) {
				warn("--format: '%s' is neither jsonl nor csv",
				     optarg);
				return EXIT_REFUSED;
			}
			break;
		case 'u':
			if (sipas_time_parse_offset(optarg, strlen(optarg),
			                            &s->utc_offset) !=
			    SIPAS_OK) {
				warn("--utc-offset: '%s' is not +HH:MM or "
				     "-HH:MM (-12:00..+14:00)",
				     optarg);
				return EXIT_REFUSED;
			}
			break;
		case 'd':
			s->definition = optarg;
			break;
		case 's':
			s->store_dir = optarg;
			break;
		case 'w':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || n < 1 ||
			    n > MAX_WINDOW) {
				warn("--window: '%s' is not a number in "
				     "1..%d",
				     optarg, MAX_WINDOW);
				return EXIT_REFUSED;
			}
			s->window = (uint32_t)n;
			break;
		case 't':
			errno = 0;
			d = strtod(optarg, &end);
			if (errno || *end || end == optarg || !(d > 0) ||
			    d > 86400 * 7) {
				warn("--timeout: '%s' is not a number of "
				     "seconds (> 0)",
				     optarg);
				return EXIT_REFUSED;
			}
			s->timeout = d;
			break;
		case 'q':
			s->quiet = true;
			break;
		case 'S':
			s->curve_server_path = optarg;
			break;
		case 'K':
			s->curve_key_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return -1;
		case 'V':
			printf("sipas-submit %s\n", SIPAS_VERSION);
			return -1;
		default:
			usage(stderr);
			return EXIT_REFUSED;
		}
	}
	return curve_options(s);
}

int main(int argc, char **argv)
{
	struct submit s = {.endpoint = DEFAULT_ENDPOINT,
	                   .format = -1,
	                   .utc_offset = 7 * 3600,
	                   .window = DEFAULT_WINDOW,
	                   .timeout = DEFAULT_TIMEOUT};
	struct sigaction sa;
	int rv, status = 0;

	rv = parse_options(&s, argc, argv);
	if (rv != 0)
		return rv < 0 ? 0 : rv;
	s.silence = s.timeout / 3 < SILENCE_MAX ? s.timeout / 3 : SILENCE_MAX;
	s.progress = !s.quiet && isatty(STDERR_FILENO);
	s.rng = (uint64_t)getpid() * 2654435761u + (uint64_t)time(NULL);
	s.rng |= 1;

	status = inputs_open(&s, argv + optind, (uint32_t)(argc - optind));
	if (status != 0)
		goto out;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s.resp = sipas_xmalloc(sizeof *s.resp);
	sipas_buf_init(&s.wire, SIPAS_MAX_REQUEST);
	s.ring_cap = s.window * RING_PER_WINDOW;
	s.ring = sipas_xcalloc(s.ring_cap, sizeof *s.ring);
	for (uint32_t i = 0; i < s.ring_cap; i++)
		sipas_buf_init(&s.ring[i].msg, SIPAS_MAX_REQUEST);
	for (s.nbuckets = 64; s.nbuckets < 2 * s.ring_cap; s.nbuckets *= 2)
		;
	s.buckets = sipas_xmalloc(s.nbuckets * sizeof *s.buckets);
	memset(s.buckets, 0xff, s.nbuckets * sizeof *s.buckets);
	s.cwnd = s.window;

	s.zctx = zmq_ctx_new();
	if (s.zctx == NULL || sock_open(&s) != 0) {
		status = EXIT_REFUSED;
		goto out;
	}
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, 1 << 16);

	run(&s);

	printf("%llu accepted, %llu duplicate, %llu rejected, "
	       "%llu unacknowledged\n",
	       (unsigned long long)s.counts[O_ACCEPTED],
	       (unsigned long long)s.counts[O_DUPLICATE],
	       (unsigned long long)s.counts[O_REJECTED],
	       (unsigned long long)s.counts[O_UNACKED]);
	if (fflush(stdout) != 0 && s.status == 0)
		s.status = EXIT_REFUSED;
	status = s.status;
	if (status == 0 && (s.counts[O_REJECTED] || s.counts[O_UNACKED]))
		status = EXIT_REFUSED;
	if (status == 0 && interrupted)
		status = EXIT_REFUSED;
out:
	monitor_close(&s);
	if (s.sock != NULL)
		zmq_close(s.sock);
	sipas_curve_key_wipe(&s.curve_own);
	if (s.zctx != NULL)
		zmq_ctx_term(s.zctx);
	for (uint32_t i = 0; s.ring != NULL && i < s.ring_cap; i++)
		sipas_buf_free(&s.ring[i].msg);
	free(s.ring);
	free(s.buckets);
	sipas_buf_free(&s.wire);
	free(s.resp);
	free(s.scratch);
	free(s.learned);
	sipas_input_free(&s.reader);
	inputs_close(&s);
	defs_close(&s.defs);
	return status;
}
