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

/* 1..max bytes of A-Za-z0-9 . _ : -  (the response id rule, also used for
 * every id in a definition). */
bool sipas_id_valid(const char *s, size_t len, size_t max);

/* Number of terminal columns the UTF-8 text occupies (combining marks take
 * none; used to align tables of Vietnamese names). Invalid bytes count 1. */
size_t sipas_utf8_width(const char *s, size_t len);

#endif
