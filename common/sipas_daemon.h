/*
 * sipas_daemon.h - the lifecycle every daemon shares (style.md, "Daemon
 * shape"): parse -> config -> open -> READY=1 -> poll loop -> STOPPING=1 ->
 * release in reverse order.
 *
 * Signal handlers only set flags; the loop reads them. Notifications go to
 * $NOTIFY_SOCKET through libsystemd and are no-ops when it is not set.
 */
#ifndef SIPAS_DAEMON_H
#define SIPAS_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "sipas_config.h"

/* Install handlers: SIGTERM and SIGINT ask to stop, SIGHUP asks to reload;
 * SIGPIPE is ignored. Call once, before the loop. */
void sipas_daemon_signals(void);
/* True once SIGTERM or SIGINT arrived. */
bool sipas_daemon_stopping(void);
/* True once after each SIGHUP (the flag is cleared by reading it). */
bool sipas_daemon_take_reload(void);
/* Ask the loop to stop, as SIGTERM does (for tests and fatal errors). */
void sipas_daemon_request_stop(void);

/*
 * From the main loop: when a SIGHUP came, RELOADING=1, then fn(arg) (NULL:
 * nothing to reload), then READY=1 -- systemd 252 wants every reload
 * acknowledged, even one that changed nothing. True when it reloaded.
 */
bool sipas_daemon_reload_if_asked(void (*fn)(void *arg), void *arg);

/*
 * SIGHUP for a daemon whose options came from sipas_config_load: compose
 * the configuration again (sipas_config_reload) and hand it to
 * apply(next, arg, diag), which applies its live keys or returns false
 * with the reason in diag, having changed nothing. Logged with the
 * daemon's message-id prefix pfx ("WRK", "COL"): PFX-RELOAD-RESTART
 * (warning) names the keys that differ from `running` but take effect
 * only at the next start; PFX-RELOAD-FAIL (err) a file that cannot be
 * read, is wrong, or that apply refused (the running settings stay);
 * PFX-RELOAD (notice) success. `next` lives only during apply.
 */
void sipas_daemon_reload_config(const sipas_config *running, const char *pfx,
				bool (*apply)(const sipas_config *next,
					      void *arg, sipas_diag *diag),
				void *arg);

/* sd_notify wrappers. */
void sipas_daemon_ready(const char *status);
void sipas_daemon_stopping_notify(void);
void sipas_daemon_reloading(void);
void sipas_daemon_status(const char *status);

/* The watchdog period in microseconds when systemd asked for one
 * (WatchdogSec=), else 0. Send sipas_daemon_watchdog() at least twice per
 * period; it rate-limits itself to a quarter of it. */
uint64_t sipas_daemon_watchdog_usec(void);
void sipas_daemon_watchdog(void);

/* How long a main loop may wait in zmq_poll: `want` milliseconds, or less
 * when a watchdog period asks for pings more often (a quarter of it, at
 * least 1 ms), so an idle daemon is never taken for a hung one. */
long sipas_daemon_poll_ms(long want);

/* Monotonic clock in milliseconds. */
int64_t sipas_now_ms(void);
/* Wall clock in milliseconds since the epoch. */
int64_t sipas_wall_ms(void);

#endif
