/*
 * load.c - sipas-load: drive a collector (or a worker) with a benchmark
 * corpus and measure durable ingest, as a portal integrator's client would.
 *
 *   sipas-load [--endpoint E] [--window N] [--array K] [--rate R]
 *              [--limit N] [--timeout-s S] CORPUS
 *
 * CORPUS is the file of ../shared/bench/gen.py: per response a u32
 * little-endian length and one msgpack map. The whole corpus is read into
 * memory first, so the clock measures the service, not the disk reads.
 *
 * One DEALER socket keeps up to --window responses in flight (as single
 * maps, or as arrays of --array maps), matches every ack to its response by
 * id, and re-sends a response answered `busy` after the ack's retry_ms. A
 * response is done when it is answered accepted, duplicate or rejected;
 * its latency runs from its first send to that answer. With --rate, sends
 * are paced at R responses per second (the latency-at-a-given-load test).
 *
 * Prints one line, parsed by bench/run.py:
 *   RESULT sipas_ingest n=.. accepted=.. duplicate=.. rejected=.. busy=..
 *          secs=.. rate=.. p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. ...
 * Exit status 0 when every response was answered, 1 on a usage or corpus
 * error, 2 when answers stopped coming for --timeout-s.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "sipas_buf.h"
#include "sipas_limits.h"
#include "sipas_oom.h"
#include "sipas_protocol.h"

#define DEFAULT_ENDPOINT "tcp://127.0.0.1:5555"

/* One response of the corpus. */
struct rec {
	const unsigned char *raw;  /* into the corpus buffer */
	uint32_t len;
	char id[SIPAS_ID_MAX + 1];
	double first_sent;         /* 0: never sent */
	double answered;           /* 0: not yet */
	double due;                /* re-send time after `busy` (0: none) */
};

struct load {
	const char *endpoint, *path;
	size_t window, array, limit;
	double rate, timeout_s;

	unsigned char *corpus;
	struct rec *recs;
	size_t n;
	uint32_t *tab;             /* id hash -> rec index + 1 */
	size_t tabcap;

	void *ctx, *sock;
	size_t next;               /* first never-sent response */
	size_t inflight;
	size_t *retry;             /* FIFO of busy responses to re-send */
	size_t rhead, rtail;       /* ring of capacity n */
	uint64_t accepted, duplicate, rejected, busy, unmatched, requests;
	double t0, t_last;
	sipas_buf out;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipas-load [options] CORPUS\n"
		"Send a gen.py corpus (u32 LE length + msgpack map, repeated) to a\n"
		"collector, keeping many responses in flight, and time the acks.\n"
		"  --endpoint E   collector endpoint (default " DEFAULT_ENDPOINT ")\n"
		"  --window N     responses in flight (default 4000)\n"
		"  --array K      responses per request, 1..1000 (default 1: maps)\n"
		"  --rate R       pace sends at R responses/s (default: as fast as acks allow)\n"
		"  --limit N      send only the first N responses\n"
		"  --timeout-s S  give up when no answer comes for S seconds (default 60)\n"
		"  --help, --version\n");
}

static uint32_t hash_id(const char *id)
{
	uint32_t h = 2166136261u;  /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h;
}

static void table_add(struct load *l, size_t i)
{
	size_t mask = l->tabcap - 1, h = hash_id(l->recs[i].id) & mask;

	while (l->tab[h] != 0)
		h = (h + 1) & mask;
	l->tab[h] = (uint32_t)(i + 1);
}

static struct rec *table_find(struct load *l, const char *id)
{
	size_t mask = l->tabcap - 1, h = hash_id(id) & mask;

	for (; l->tab[h] != 0; h = (h + 1) & mask) {
		struct rec *r = &l->recs[l->tab[h] - 1];

		if (strcmp(r->id, id) == 0)
			return r;
	}
	return NULL;
}

/* Read the corpus and index every response by id. */
static int read_corpus(struct load *l)
{
	FILE *f = fopen(l->path, "rb");
	sipas_response *resp = sipas_xmalloc(sizeof *resp);
	size_t size, pos = 0, cap = 1024;
	sipas_fault fault;
	int rc = 1;
	long end;

	if (f == NULL) {
		fprintf(stderr, "sipas-load: %s: %s\n", l->path, strerror(errno));
		goto out;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (end = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fprintf(stderr, "sipas-load: %s: cannot size the file\n", l->path);
		goto out;
	}
	size = (size_t)end;
	l->corpus = sipas_xmalloc(size + 1);
	if (fread(l->corpus, 1, size, f) != size) {
		fprintf(stderr, "sipas-load: %s: short read\n", l->path);
		goto out;
	}
	l->recs = sipas_xmalloc(cap * sizeof *l->recs);
	while (pos + 4 <= size && (l->limit == 0 || l->n < l->limit)) {
		const unsigned char *p = l->corpus + pos;
		uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 |
			       (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
		struct rec *r;

		if (len > SIPAS_MAX_REQUEST || pos + 4 + len > size) {
			fprintf(stderr, "sipas-load: %s: record %zu at byte %zu "
				"is cut or too long\n", l->path, l->n, pos);
			goto out;
		}
		if (sipas_response_decode(p + 4, len, resp, &fault) != SIPAS_OK) {
			fprintf(stderr, "sipas-load: %s: record %zu: %s: %s\n",
				l->path, l->n, sipas_strerror(fault.code),
				fault.detail);
			goto out;
		}
		if (l->n == cap) {
			cap *= 2;
			l->recs = sipas_xrealloc(l->recs, cap * sizeof *l->recs);
		}
		r = &l->recs[l->n++];
		memset(r, 0, sizeof *r);
		r->raw = p + 4;
		r->len = len;
		memcpy(r->id, resp->id, strlen(resp->id) + 1);
		pos += 4 + len;
	}
	if (l->n == 0) {
		fprintf(stderr, "sipas-load: %s: no responses\n", l->path);
		goto out;
	}
	for (l->tabcap = 1024; l->tabcap < 2 * l->n; l->tabcap *= 2)
		;
	l->tab = sipas_xcalloc(l->tabcap, sizeof *l->tab);
	for (size_t i = 0; i < l->n; i++) {
		if (table_find(l, l->recs[i].id) != NULL) {
			fprintf(stderr, "sipas-load: %s: id %s appears twice\n",
				l->path, l->recs[i].id);
			goto out;
		}
		table_add(l, i);
	}
	l->retry = sipas_xmalloc(l->n * sizeof *l->retry);
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(resp);
	return rc;
}

/* Send responses idx[0..k) as one request (a map when k == 1 and the
 * client sends maps, else an array). */
static void send_request(struct load *l, const size_t *idx, size_t k, double t)
{
	sipas_buf_reset(&l->out);
	if (l->array > 1 && sipas_ack_array_header(&l->out, k) != SIPAS_OK)
		abort();  /* the header of <= 1,000 elements always fits */
	for (size_t i = 0; i < k; i++) {
		struct rec *r = &l->recs[idx[i]];

		if (sipas_buf_append(&l->out, r->raw, r->len) != SIPAS_OK)
			abort();  /* the buffer holds a whole array request */
		if (r->first_sent == 0)
			r->first_sent = t;
	}
	/* A full send queue blocks: the window, not ZeroMQ, bounds what is
	 * out, and the HWM is set above it. */
	while (zmq_send(l->sock, l->out.data, l->out.len, 0) < 0 && errno == EINTR)
		;
	l->requests++;
}

/* Queue what the window, the pacing and the re-send times allow. */
static void send_more(struct load *l, double t)
{
	size_t idx[SIPAS_MAX_BATCH], k = 0;

	/* Re-sends first, one per request: there are few. */
	while (l->rhead != l->rtail && l->recs[l->retry[l->rhead]].due <= t) {
		size_t i = l->retry[l->rhead];

		l->rhead = (l->rhead + 1) % l->n;
		l->recs[i].due = 0;
		send_request(l, &i, 1, t);
	}
	while (l->next < l->n && l->inflight + l->array <= l->window) {
		size_t want = l->n - l->next < l->array ? l->n - l->next : l->array;

		if (l->rate > 0 && t < l->t0 + (double)(l->next + want - 1) / l->rate)
			break;
		for (k = 0; k < want; k++)
			idx[k] = l->next + k;
		send_request(l, idx, want, t);
		l->next += want;
		l->inflight += want;
	}
}

static void on_ack(struct load *l, const sipas_ack *a, double t)
{
	struct rec *r = table_find(l, a->id);

	if (r == NULL || r->answered != 0 || r->due != 0) {
		/* An answer to an unknown id, or a second answer (a busy copy
		 * already queued for re-send): nothing to do. */
		l->unmatched++;
		return;
	}
	switch (a->status) {
	case SIPAS_BUSY: {
		double wait = a->retry_ms > 0 ? (double)a->retry_ms / 1000.0 : 0.05;

		l->busy++;
		r->due = t + wait;
		l->retry[l->rtail] = (size_t)(r - l->recs);
		l->rtail = (l->rtail + 1) % l->n;
		return;
	}
	case SIPAS_ACCEPTED:
		l->accepted++;
		break;
	case SIPAS_DUPLICATE:
		l->duplicate++;
		break;
	default:
		if (l->rejected++ == 0)
			fprintf(stderr, "sipas-load: %s rejected: %s %s: %s\n",
				a->id, sipas_strerror(a->code), a->field,
				a->detail);
		break;
	}
	r->answered = t;
	l->inflight--;
	l->t_last = t;
}

/* Read every answer waiting on the socket; false when none came. */
static bool drain(struct load *l, sipas_ack *acks)
{
	bool got = false;
	zmq_msg_t m;

	zmq_msg_init(&m);
	while (zmq_msg_recv(&m, l->sock, ZMQ_DONTWAIT) >= 0) {
		double t = now();
		size_t n = 0;
		bool is_array;

		got = true;
		if (sipas_ack_decode(zmq_msg_data(&m), zmq_msg_size(&m), acks,
				     SIPAS_MAX_BATCH, &n, &is_array) != SIPAS_OK)
			l->unmatched++;
		for (size_t i = 0; i < n; i++)
			on_ack(l, &acks[i], t);
	}
	zmq_msg_close(&m);
	return got;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(const double *sorted, size_t n, double q)
{
	size_t i = (size_t)(q * (double)(n - 1) + 0.5);

	return n == 0 ? 0 : sorted[i < n ? i : n - 1];
}

static void report(struct load *l)
{
	double *lat = sipas_xmalloc(l->n * sizeof *lat);
	double secs = l->t_last - l->t0;
	size_t m = 0;

	for (size_t i = 0; i < l->n; i++)
		if (l->recs[i].answered != 0)
			lat[m++] = (l->recs[i].answered - l->recs[i].first_sent) * 1e3;
	qsort(lat, m, sizeof *lat, compare_double);
	printf("RESULT sipas_ingest n=%zu accepted=%" PRIu64 " duplicate=%" PRIu64
	       " rejected=%" PRIu64 " busy=%" PRIu64 " unanswered=%zu secs=%.3f"
	       " rate=%.0f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f"
	       " window=%zu array=%zu offered=%.0f requests=%" PRIu64 "\n",
	       l->n, l->accepted, l->duplicate, l->rejected, l->busy, l->n - m,
	       secs, secs > 0 ? (double)m / secs : 0, quantile(lat, m, 0.50),
	       quantile(lat, m, 0.90), quantile(lat, m, 0.99),
	       m ? lat[m - 1] : 0, l->window, l->array, l->rate, l->requests);
	free(lat);
}

static int run(struct load *l)
{
	sipas_ack *acks = sipas_xmalloc(SIPAS_MAX_BATCH * sizeof *acks);
	int hwm = 0, linger = 0, rc = 2;
	double heard;

	l->ctx = zmq_ctx_new();
	l->sock = zmq_socket(l->ctx, ZMQ_DEALER);
	if (l->sock == NULL)
		goto out;
	zmq_setsockopt(l->sock, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(l->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
	zmq_setsockopt(l->sock, ZMQ_LINGER, &linger, sizeof linger);
	if (zmq_connect(l->sock, l->endpoint) != 0) {
		fprintf(stderr, "sipas-load: %s: %s\n", l->endpoint,
			zmq_strerror(errno));
		rc = 1;
		goto out;
	}
	l->t0 = l->t_last = heard = now();
	while (l->accepted + l->duplicate + l->rejected < l->n) {
		zmq_pollitem_t item = {l->sock, 0, ZMQ_POLLIN, 0};
		double t = now();
		long wait = 100;

		send_more(l, t);
		if (l->rate > 0 && l->next < l->n) {
			double at = l->t0 + (double)l->next / l->rate;

			wait = at > t ? (long)((at - t) * 1e3) : 0;
		}
		if (l->rhead != l->rtail)
			wait = 1;
		if (zmq_poll(&item, 1, wait) < 0 && errno != EINTR)
			goto out;
		if (drain(l, acks))
			heard = now();
		else if (now() - heard > l->timeout_s) {
			fprintf(stderr, "sipas-load: no answer for %.0f s; %zu in "
				"flight\n", l->timeout_s, l->inflight);
			goto out;
		}
	}
	rc = 0;
out:
	report(l);
	if (l->sock != NULL)
		zmq_close(l->sock);
	zmq_ctx_term(l->ctx);
	free(acks);
	return rc;
}

static int parse_size(const char *s, size_t lo, size_t hi, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < lo || v > hi)
		return -1;
	*out = (size_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"endpoint", required_argument, NULL, 'e'},
		{"window", required_argument, NULL, 'w'},
		{"array", required_argument, NULL, 'a'},
		{"rate", required_argument, NULL, 'r'},
		{"limit", required_argument, NULL, 'n'},
		{"timeout-s", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct load l = {.endpoint = DEFAULT_ENDPOINT, .window = 4000,
			 .array = 1, .timeout_s = 60};
	size_t rate = 0, timeout = 60;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 'e': l.endpoint = optarg; break;
		case 'w': bad = parse_size(optarg, 1, 10000000, &l.window); break;
		case 'a': bad = parse_size(optarg, 1, SIPAS_MAX_BATCH, &l.array); break;
		case 'r': bad = parse_size(optarg, 1, 100000000, &rate); break;
		case 'n': bad = parse_size(optarg, 1, 100000000, &l.limit); break;
		case 't': bad = parse_size(optarg, 1, 86400, &timeout); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sipas-load %s\n", SIPAS_VERSION); return 0;
		default: usage(stderr); return 1;
		}
		if (bad) {
			fprintf(stderr, "sipas-load: bad option value '%s'\n",
				optarg);
			return 1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 1;
	}
	l.path = argv[optind];
	l.rate = (double)rate;
	l.timeout_s = (double)timeout;
	if (l.window < l.array)
		l.window = l.array;
	sipas_buf_init(&l.out, SIPAS_MAX_ARRAY_REQUEST + 16);
	rc = read_corpus(&l);
	if (rc == 0)
		rc = run(&l);
	sipas_buf_free(&l.out);
	free(l.corpus);
	free(l.recs);
	free(l.tab);
	free(l.retry);
	return rc;
}
