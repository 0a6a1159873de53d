/* field: one value against one field's own rules (see field.c). */
#ifndef AIMLMUSIC_FIELD_H
#define AIMLMUSIC_FIELD_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Checks the value at vidx against the field spec at spec (path names the field in messages).
 * Returns 1 when it passes, having pushed, when build is set and the field transforms its
 * value, what goes on the wire instead (a file read as a data: URI); 0 with the problem's
 * message pushed ("must be at least 1 (got 0)"); -1, pushing nothing, for an "object" field.
 * Raises on a model table with an unknown type. */
int field_check(lua_State *L, int spec, int vidx, const char *path, int build);

/* Pushes a short, safe rendering of the value at idx for a message (strings quoted and cut
 * on a character boundary, numbers as Lua prints them, else the type name); returns it. */
const char *field_show_value(lua_State *L, int idx);

/* Number of code points in s, or -1 when s is not valid UTF-8 (*bad = offset of the bad byte).
 * Overlong forms, surrogates and values past U+10FFFF are invalid. */
long field_utf8_len(const unsigned char *s, size_t n, size_t *bad);

HIDDEN_END

#endif
