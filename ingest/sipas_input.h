/*
 * sipas_input.h - the input readers of sipas-submit: JSON Lines and CSV
 * records (interfaces.md section 2, "JSON Lines / CSV input") turned into
 * a sipas_response and its wire bytes.
 *
 * A reader refuses locally, never sending it, every record the protocol
 * alone can judge: a line that is not one JSON object, a JSON value whose
 * type has no msgpack equivalent in a sipas_response (float, bool, null,
 * a map where a string belongs, ...), a CSV cell that is not a number
 * where one belongs, and everything sipas_response_decode() checks (id
 * rule, UTF-8, sizes, unknown and missing fields, `v`, `channel`,
 * `respondent.kind`). Such a record gets the code, field and sentence the
 * collector would answer, walking its keys in the same order, so a record
 * reads the same whether it was judged here or there. What needs the survey
 * definition (campaign, unit, form, items, ranges, window) is left to the
 * service.
 *
 * Ownership: a sipas_input is opaque; sipas_input_new/sipas_input_free.
 * It borrows the FILE it reads (the caller closes it) and the definitions
 * its callback returns.
 */
#ifndef SIPAS_INPUT_H
#define SIPAS_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sipas_buf.h"
#include "sipas_definition.h"
#include "sipas_err.h"
#include "sipas_protocol.h"

/* Ceilings of the readers (style.md, "Hard ceilings"); sipas_limits.h
 * holds the wire's. A longer line or record is refused as too_large
 * without being stored. */
#define SIPAS_INPUT_MAX_LINE                                                   \
	(1u << 20)                   /* bytes of a JSONL line / CSV record     \
	                              */
#define SIPAS_INPUT_MAX_COLUMNS 1024 /* columns of a CSV file */

typedef struct sipas_input sipas_input;

typedef enum sipas_input_format {
	SIPAS_INPUT_JSONL = 0,
	SIPAS_INPUT_CSV = 1
} sipas_input_format;

/*
 * How a CSV reader finds the survey definition of a row's campaign, to know
 * which columns are `multi` items (their cells are lists). Returns a
 * definition borrowed for as long as the reader lives, or NULL when none is
 * known: then a cell holding `;` is read as a list and any other as one
 * integer.
 */
typedef const sipas_def *(*sipas_input_def_fn)(void *ctx, const char *campaign);

typedef struct sipas_input_opts {
	sipas_input_format format;
	int32_t utc_offset; /* seconds east of UTC: CSV `ts` without offset */
	sipas_input_def_fn definition; /* CSV; may be NULL */
	void *ctx;                     /* passed to definition */
} sipas_input_opts;

/* One record read. */
typedef struct sipas_record {
	uint64_t line; /* line of the input where the record starts (1-based) */
	bool ok;       /* true: the response is ready to send */
	sipas_fault fault; /* !ok: why it is refused; fault.id is set when the
	                    * record's id was valid */
	bool guessed; /* CSV: no definition of the row's campaign was known,
	               * so its item cells without ';' were read as one
	               * integer even where the item may be `multi` */
} sipas_record;

/* A new reader of f (name is used in messages; copied). *out is freed
 * with sipas_input_free(). Never fails but for memory (abort, sipas_oom.h). */
void sipas_input_new(sipas_input **out, FILE *f, const char *name,
                     const sipas_input_opts *opts);
void sipas_input_free(sipas_input **in);

/*
 * Read the next record (blank lines are skipped; a UTF-8 byte order mark
 * at the start is ignored). Returns:
 *   SIPAS_OK          *rec describes it; when rec->ok, *r holds the response
 *                     and `wire` (when not NULL) the msgpack map to send,
 *                     replacing its contents. r's strings are borrowed from
 *                     the reader until the next call or sipas_input_free();
 *   SIPAS_E_NOT_FOUND end of input;
 *   SIPAS_E_IO        the file could not be read (errno text in diag);
 *   SIPAS_E_BAD_VALUE a CSV header that cannot be used (a column named
 *                     twice, an empty name, too many columns): the whole
 *                     file is refused; diag says why, "line L: ...".
 * r is big (sipas_protocol.h): allocate one and reuse it. wire should have
 * the ceiling SIPAS_MAX_REQUEST: a bigger record is refused as too_large.
 */
SIPAS_MUST_CHECK sipas_err sipas_input_next(sipas_input *in, sipas_response *r,
                                            sipas_buf *wire, sipas_record *rec,
                                            sipas_diag *diag);

/* Bytes consumed from the file so far (for progress). */
uint64_t sipas_input_offset(const sipas_input *in);

/* "jsonl" / "csv"; -1 from parse when the name is neither. */
const char *sipas_input_format_name(sipas_input_format f);
int sipas_input_format_parse(const char *name);

#endif
