/*
 * daemon.c - signals, systemd notification, clocks (see sipas_daemon.h).
 */
#include "sipas_daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "sipas_log.h"

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_flag;
static uint64_t watchdog_usec;
static int64_t watchdog_last_ms;

static void on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void on_reload(int sig)
{
	(void)sig;
	reload_flag = 1;
}

void sipas_daemon_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_reload;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	if (sd_watchdog_enabled(0, &watchdog_usec) <= 0)
		watchdog_usec = 0;
}

bool sipas_daemon_stopping(void)
{
	return stop_flag != 0;
}

bool sipas_daemon_take_reload(void)
{
	if (!reload_flag)
		return false;
	reload_flag = 0;
	return true;
}

bool sipas_daemon_reload_if_asked(void (*fn)(void *arg), void *arg)
{
	if (!sipas_daemon_take_reload())
		return false;
	sipas_daemon_reloading();
	if (fn != NULL)
		fn(arg);
	sipas_daemon_ready("reloaded");
	return true;
}

void sipas_daemon_reload_config(const sipas_config *running, const char *pfx,
				bool (*apply)(const sipas_config *next,
					      void *arg, sipas_diag *diag),
				void *arg)
{
	const char *path = sipas_config_path(running);
	sipas_config *next = NULL;
	sipas_diag diag = {{0}};
	char id[32], keys[512];

	if (path == NULL)
		path = "the command line";
	if (sipas_config_reload(running, &next, &diag) != SIPAS_OK ||
	    !apply(next, arg, &diag)) {
		snprintf(id, sizeof id, "%s-RELOAD-FAIL", pfx);
		sipas_log(SIPAS_LOG_ERR, id, "%s; the running settings stay",
			  diag.msg);
		goto out;
	}
	/* After apply: the level it set decides what is written. */
	if (sipas_config_fixed_changes(running, next, keys, sizeof keys) > 0) {
		snprintf(id, sizeof id, "%s-RELOAD-RESTART", pfx);
		sipas_log(SIPAS_LOG_WARNING, id,
			  "%s changed in %s: the change takes effect at the "
			  "next start",
			  keys, path);
	}
	snprintf(id, sizeof id, "%s-RELOAD", pfx);
	sipas_log(SIPAS_LOG_NOTICE, id, "settings read again from %s", path);
out:
	sipas_config_free(&next);
}

void sipas_daemon_request_stop(void)
{
	stop_flag = 1;
}

void sipas_daemon_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void sipas_daemon_stopping_notify(void)
{
	sd_notify(0, "STOPPING=1");
}

void sipas_daemon_reloading(void)
{
	struct timespec ts;
	unsigned long long usec;

	/* systemd 252 wants MONOTONIC_USEC with RELOADING=1. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	usec = (unsigned long long)ts.tv_sec * 1000000ull +
	       (unsigned long long)ts.tv_nsec / 1000ull;
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu", usec);
}

void sipas_daemon_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

uint64_t sipas_daemon_watchdog_usec(void)
{
	return watchdog_usec;
}

void sipas_daemon_watchdog(void)
{
	int64_t now;

	if (watchdog_usec == 0)
		return;
	now = sipas_now_ms();
	if (now - watchdog_last_ms < (int64_t)(watchdog_usec / 4000))
		return;
	watchdog_last_ms = now;
	sd_notify(0, "WATCHDOG=1");
}

long sipas_daemon_poll_ms(long want)
{
	long quarter = (long)(watchdog_usec / 4000);

	if (watchdog_usec == 0 || want <= quarter)
		return want;
	return quarter > 0 ? quarter : 1;
}

int64_t sipas_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sipas_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
