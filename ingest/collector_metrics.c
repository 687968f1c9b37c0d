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
	sipas_metrics_acks_register(m, &c->mx.acks);
	c->mx.spool_depth = sipas_metrics_gauge(m, "sipas_spool_depth", NULL,
	                                        NULL, NULL);
}

/* The gauges and the counts kept elsewhere, read when the file is due. */
static void update(sipas_collector *c)
{
	if (c->spool != NULL) {
		sipas_spool_stats st = {0};

		sipas_spool_stats_get(c->spool, &st);
		sipas_gauge_set(c->mx.spool_depth, (double)st.entries);
	}
	sipas_metrics_acks_handshakes(&c->mx.acks, sipas_curve_denied(c->guard));
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
