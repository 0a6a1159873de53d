/* utf8: UTF-8 sequences read and user text counted in code points (see utf8.c). */
#ifndef AIMLMUSIC_UTF8_H
#define AIMLMUSIC_UTF8_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* The length of the valid UTF-8 sequence of two or more bytes at s (at most n bytes), or 0;
 * *cp gets its code point. Overlong forms, surrogates and values past U+10FFFF are invalid. */
size_t utf8_seq(const unsigned char *s, size_t n, unsigned long *cp);

/* Registers core.utf8_len(s) --> code points | nil, offset in the module table at the top. */
void utf8_open(lua_State *L);

HIDDEN_END

#endif
