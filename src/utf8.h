/* utf8: user text counted in code points (see utf8.c). */
#ifndef AIMLMUSIC_UTF8_H
#define AIMLMUSIC_UTF8_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Number of code points in s, or -1 when s is not valid UTF-8 (*bad, when not NULL: the offset
 * of the bad byte). Overlong forms, surrogates and values past U+10FFFF are invalid. */
long utf8_count(const unsigned char *s, size_t n, size_t *bad);

/* Registers core.utf8_len(s) --> code points | nil, offset in the module table at the top. */
void utf8_open(lua_State *L);

HIDDEN_END

#endif
