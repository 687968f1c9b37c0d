/*
 * sipas_log.h - logging for daemons and tools: one line per event on
 * stderr, prefixed with the syslog priority "<N>" that journald reads, and
 * a short stable message id, e.g.
 *     <3>WRK-COMMIT-FAIL commit failed: MDB_MAP_FULL: Environment mapsize limit reached
 * Libraries return codes; only the daemons' loops decide what to log, and
 * never per message on the hot path. The level is checked before any
 * formatting.
 */
#ifndef SIPAS_LOG_H
#define SIPAS_LOG_H

enum {
	SIPAS_LOG_ERR = 3,
	SIPAS_LOG_WARNING = 4,
	SIPAS_LOG_NOTICE = 5,
	SIPAS_LOG_INFO = 6,
	SIPAS_LOG_DEBUG = 7
};

/* Messages above `level` are dropped (default SIPAS_LOG_INFO). */
void sipas_log_set_level(int level);
int sipas_log_level(void);
/* "err", "warning", "notice", "info", "debug" -> level, or -1. */
int sipas_log_parse_level(const char *name);

void sipas_log(int level, const char *msgid, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
