/*
 * log.c - "<N>MSGID text" lines on stderr (see sipas_log.h).
 */
#include "sipas_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int current = SIPAS_LOG_INFO;

void sipas_log_set_level(int level)
{
	current = level;
}

int sipas_log_level(void)
{
	return current;
}

int sipas_log_parse_level(const char *name)
{
	static const char *const names[] = {"err", "warning", "notice", "info",
					    "debug"};

	for (int i = 0; i < 5; i++)
		if (strcmp(name, names[i]) == 0)
			return SIPAS_LOG_ERR + i;
	return -1;
}

void sipas_log(int level, const char *msgid, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	if (level > current)
		return;
	n = snprintf(line, sizeof line, "<%d>%s ", level, msgid);
	if (n < 0 || (size_t)n >= sizeof line)
		return;
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	/* One write per line so lines of concurrent writers do not mix. */
	n = (int)strlen(line);
	if ((size_t)n < sizeof line - 1)
		line[n++] = '\n';
	else
		line[sizeof line - 2] = '\n';
	fwrite(line, 1, (size_t)n, stderr);
	fflush(stderr);
}
