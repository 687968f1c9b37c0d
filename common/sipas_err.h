/*
 * sipas_err.h - the one error enum of sipas.
 *
 * Every function that can fail returns a sipas_err. The values are stable:
 * they are stored, logged and compared, so new codes are only ever appended.
 * sipas_err_name() gives the stable lower-case name; for the codes of the
 * wire protocol (interfaces.md section 2) that name is exactly the `code` an
 * ack carries. sipas_strerror() gives one human sentence.
 *
 * System errors (errno) and LMDB errors are not folded into this enum: the
 * function that met them returns SIPAS_E_IO / SIPAS_E_STORE and writes the
 * underlying message into the caller's sipas_diag, so it is never lost.
 */
#ifndef SIPAS_ERR_H
#define SIPAS_ERR_H

#include <stddef.h>

#define SIPAS_MUST_CHECK __attribute__((warn_unused_result))

typedef enum sipas_err {
	SIPAS_OK = 0,

	/* Wire codes: the name of each is the ack `code` of interfaces.md. */
	SIPAS_E_MALFORMED = 1,
	SIPAS_E_TOO_LARGE = 2,
	SIPAS_E_MISSING_FIELD = 3,
	SIPAS_E_BAD_TYPE = 4,
	SIPAS_E_BAD_VALUE = 5,
	SIPAS_E_UNKNOWN_FIELD = 6,
	SIPAS_E_UNKNOWN_CAMPAIGN = 7,
	SIPAS_E_UNKNOWN_UNIT = 8,
	SIPAS_E_FORM_NOT_ALLOWED = 9,
	SIPAS_E_UNKNOWN_ITEM = 10,
	SIPAS_E_MISSING_ITEM = 11,
	SIPAS_E_OUT_OF_RANGE = 12,
	SIPAS_E_OUTSIDE_WINDOW = 13,
	SIPAS_E_BAD_UTF8 = 14,
	SIPAS_E_CONFLICT = 15,
	SIPAS_E_BUSY = 16,

	/* Local codes: never sent on the wire. */
	SIPAS_E_NOMEM = 100,
	SIPAS_E_IO = 101,
	SIPAS_E_STORE = 102,
	SIPAS_E_MAP_FULL = 103,
	SIPAS_E_NOT_FOUND = 104,
	SIPAS_E_DEFINITION = 105,
	SIPAS_E_USAGE = 106,
	SIPAS_E_AMBIGUOUS = 107,
	SIPAS_E_VERSION = 108
} sipas_err;

/* Stable lower-case name ("malformed", "nomem", ...); "unknown" for a value
 * outside the enum. Static storage. */
const char *sipas_err_name(sipas_err e);

/* One sentence describing the code, ending with a full stop. Static storage. */
const char *sipas_strerror(sipas_err e);

/* True for the codes that may appear as an ack `code`. */
int sipas_err_is_wire(sipas_err e);

/* The wire code whose name is `name` (length `len`), or -1 when none is. */
int sipas_err_from_name(const char *name, size_t len);

/* Room for an explanation of a failure: file, JSON path, errno text, LMDB
 * text. Filled by the function that failed; the caller owns it. */
#define SIPAS_DIAG_MAX 512
typedef struct sipas_diag {
	char msg[SIPAS_DIAG_MAX];
} sipas_diag;

/* printf into diag->msg (truncated to fit); a NULL diag is ignored. */
void sipas_diag_set(sipas_diag *diag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
