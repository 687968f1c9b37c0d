/*
 * sipas_config.h - one declarative option table per program feeds both the
 * long options and the optional `key = value` file (-c FILE, read with
 * inih). Precedence: defaults < file < command line. A repeatable option
 * given on the command line replaces the file's values.
 *
 * Unknown keys, bad values and out-of-range numbers are errors naming the
 * file, the line and the key:
 *     sipas-worker: /etc/sipas/worker.conf:3: bind: ...
 * --help, --version and -c/--config are provided by this module.
 *
 * A daemon reloads on SIGHUP with sipas_config_reload (the same file read
 * again, the same command line on top) and applies the keys its program
 * lists as `live`; sipas_config_fixed_changes names the others that
 * changed, which wait for the next start.
 */
#ifndef SIPAS_CONFIG_H
#define SIPAS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sipas_err.h"

typedef enum sipas_opt_type {
	SIPAS_OPT_STRING = 0,
	SIPAS_OPT_INT = 1,     /* decimal int64 in [min, max] */
	SIPAS_OPT_BOOL = 2,    /* a flag on the command line; true/false in a file */
	SIPAS_OPT_LIST = 3     /* repeatable string */
} sipas_opt_type;

typedef struct sipas_option {
	const char *name;      /* long option and config key */
	char short_name;       /* 0 when none */
	sipas_opt_type type;
	const char *arg;       /* placeholder in --help, e.g. "DIR" */
	const char *def;       /* default as text; NULL = unset */
	int64_t min, max;      /* INT only */
	const char *help;      /* one line */
} sipas_option;

typedef struct sipas_program {
	const char *name;      /* "sipas-worker" */
	const char *synopsis;  /* after "Usage: NAME " e.g. "[OPTIONS]" */
	const char *about;     /* one or two lines */
	const char *epilog;    /* exit statuses etc.; may be NULL */
	const sipas_option *options;
	size_t noptions;
	/* The keys SIGHUP applies at once, NULL-terminated (NULL: none; not
	 * a daemon). Listed in --help. */
	const char *const *live;
} sipas_program;

typedef struct sipas_config sipas_config;

/*
 * Parse argv (and the -c FILE it names). Returns true when the program
 * should go on, with *out a new config the caller frees with
 * sipas_config_free(). Returns false when it should exit with *status:
 * 0 after --help / --version, 1 after an error already printed on stderr.
 * Non-option arguments are left in argv[*first_arg .. argc).
 */
bool sipas_config_load(const sipas_program *p, int argc, char **argv,
		       sipas_config **out, int *first_arg, int *status);

void sipas_config_free(sipas_config **c);

/* Values by option name; the name must be in the table (else abort: a bug).
 * Strings live as long as the config. An unset string is NULL. */
const char *sipas_config_str(const sipas_config *c, const char *name);
int64_t sipas_config_int(const sipas_config *c, const char *name);
bool sipas_config_bool(const sipas_config *c, const char *name);
/* Values of a LIST option: count in *n; array lives as long as the config. */
const char *const *sipas_config_list(const sipas_config *c, const char *name,
				     size_t *n);

/*
 * Compose c's configuration again, as sipas_config_load did: the defaults,
 * the -c file read anew, the command line on top. On success *out is a new
 * config the caller frees; c is untouched either way. SIPAS_E_USAGE with
 * "FILE:LINE: key: reason" (or "FILE: cannot read: ...") in diag.
 */
SIPAS_MUST_CHECK sipas_err sipas_config_reload(const sipas_config *c,
					       sipas_config **out,
					       sipas_diag *diag);

/* The -c file, or NULL when none was given. Lives as long as c. */
const char *sipas_config_path(const sipas_config *c);

/*
 * The options of a and b (the same program) whose values differ and that
 * the program does not list as live, written as "bind, source" into buf
 * (cut to fit cap). Returns how many there are.
 */
size_t sipas_config_fixed_changes(const sipas_config *a,
				  const sipas_config *b, char *buf,
				  size_t cap);

/* Print the --help text of p to f. */
void sipas_config_usage(const sipas_program *p, FILE *f);

#endif
