/*
 * sipas_text.h - checks on text shared by the codec, the definition loader
 * and the tools.
 */
#ifndef SIPAS_TEXT_H
#define SIPAS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above
 * U+10FFFF. NUL bytes are refused too, so the text is safe as a C string. */
bool sipas_utf8_valid(const char *s, size_t len);

/* Byte length (1-4) of the strict UTF-8 character at s[0..len), len >= 1;
 * 0 when the bytes there are not one. */
size_t sipas_utf8_char(const char *s, size_t len);

/* 1..max bytes of A-Za-z0-9 . _ : -  (the response id rule, also used for
 * every id in a definition). */
bool sipas_id_valid(const char *s, size_t len, size_t max);

/* The longest prefix of the UTF-8 text s[0..len) that is at most max bytes
 * and ends on a character boundary: len when len <= max. */
size_t sipas_utf8_boundary(const char *s, size_t len, size_t max);

/* Cut a NUL-terminated string that snprintf may have truncated in the
 * middle of a character back to its last whole character, so text sent on
 * the wire stays valid UTF-8. */
void sipas_utf8_clip(char *s);

/* Number of terminal columns the UTF-8 text occupies (combining marks take
 * none; used to align tables of Vietnamese names). Invalid bytes count 1. */
size_t sipas_utf8_width(const char *s, size_t len);

/* A new copy of the NUL-terminated UTF-8 text s cut to at most maxw
 * terminal columns, a cut marked with an ellipsis ("…", one column), for
 * names in tables and charts. The caller frees it. Aborts on
 * out-of-memory (sipas_oom.h). */
char *sipas_utf8_fit(const char *s, size_t maxw);

#endif
