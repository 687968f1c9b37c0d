/*
 * collector_metrics.c - the collector's metrics file (docs/admin.md,
 * status): responses received, the acks clients were sent by status and
 * rejection code, the spool's depth and failed client handshakes, in the
 * Prometheus text format (common/metrics.c), rewritten every few seconds.
 *
 * Acks are counted as they leave (flush_outbox and whole-message refusals),
 * not as slots fill: a spool failure may still turn an `accepted` into
 * `busy` before it is sent.
 */
#include "collector_priv.h"

#include "sipas_log.h"

void sipas_collector_metrics_open(sipas_collector *c)
{
	sipas_metrics *m = sipas_metrics_new("sipas-collector");
	sipas_diag diag = {{0}};

	c->mx.m = m;
	/* The source is a checked id: it always makes a valid label. */
	if (sipas_metrics_label(m, "source", c->o.source, &diag) != SIPAS_OK)
		sipas_log(SIPAS_LOG_WARNING, "COL-METRICS-FAIL", "%s",
		          diag.msg);
	c->mx.received = sipas_metrics_counter(m, "sipas_received_total",
	                                       NULL, NULL, NULL);
	/* Every series at start: one appearing late breaks rate(). */
	for (int s = SIPAS_ACCEPTED; s <= SIPAS_BUSY; s++)
		c->mx.status[s] = sipas_metrics_counter(
		    m, "sipas_responses_total", NULL, "status",
		    sipas_status_name((sipas_status)s));
	for (int e = SIPAS_E_MALFORMED; e < SIPAS_E_BUSY; e++)
		c->mx.rejected[e] = sipas_metrics_counter(
		    m, "sipas_rejected_total", NULL, "code",
		    sipas_err_name((sipas_err)e));
	c->mx.spool_depth = sipas_metrics_gauge(m, "sipas_spool_depth", NULL,
	                                        NULL, NULL);
	c->mx.handshake = sipas_metrics_counter(
	    m, "sipas_handshake_failures_total", NULL, NULL, NULL);
}

void sipas_collector_count_ack(sipas_collector *c, uint8_t status,
                               uint8_t code)
{
	if (status > SIPAS_BUSY)
		return;
	sipas_counter_inc(c->mx.status[status]);
	if (status == SIPAS_REJECTED && code > SIPAS_OK && code < SIPAS_E_BUSY)
		sipas_counter_inc(c->mx.rejected[code]);
}

/* The gauges and the counts kept elsewhere, read when the file is due. */
static void update(sipas_collector *c)
{
	uint64_t failed = sipas_curve_denied(c->guard);

	if (c->spool != NULL) {
		sipas_spool_stats st = {0};

		sipas_spool_stats_get(c->spool, &st);
		sipas_gauge_set(c->mx.spool_depth, (double)st.entries);
	}
	if (failed > c->mx.handshake_seen) {
		sipas_counter_add(c->mx.handshake, failed - c->mx.handshake_seen);
		c->mx.handshake_seen = failed;
	}
}

long sipas_collector_metrics_wait(const sipas_collector *c, int64_t now,
                                  long want)
{
	int64_t due;

	if (c->o.metrics_file == NULL)
		return want;
	due = sipas_metrics_due_in_ms(c->mx.m, now,
	                              (int64_t)c->o.metrics_interval_s * 1000);
	return due < want ? (long)due : want;
}

void sipas_collector_metrics_tick(sipas_collector *c, int64_t now)
{
	sipas_diag diag = {{0}};
	int64_t every = (int64_t)c->o.metrics_interval_s * 1000;

	if (c->o.metrics_file == NULL ||
	    sipas_metrics_due_in_ms(c->mx.m, now, every) > 0)
		return;
	update(c);
	if (sipas_metrics_maybe_write(c->mx.m, c->o.metrics_file, now, every,
	                              &diag) != SIPAS_OK &&
	    sipas_collector_warn_due(c, W_METRICS))
		sipas_log(SIPAS_LOG_WARNING, "COL-METRICS-FAIL", "%s",
		          diag.msg);
}

void sipas_collector_metrics_close(sipas_collector *c)
{
	sipas_diag diag = {{0}};

	if (c->mx.m == NULL)
		return;
	/* The file left behind reads as stopped, not as hung. */
	if (c->o.metrics_file != NULL) {
		update(c);
		sipas_metrics_set_up(c->mx.m, false);
		if (sipas_metrics_write_file(c->mx.m, c->o.metrics_file,
		                             &diag) != SIPAS_OK)
			sipas_log(SIPAS_LOG_WARNING, "COL-METRICS-FAIL", "%s",
			          diag.msg);
	}
	sipas_metrics_free(&c->mx.m);
}
