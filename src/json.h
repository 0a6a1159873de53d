/* The module's JSON codec (see json.c): no other module, no settings shared with a user's. */
#ifndef AIMLMUSIC_JSON_H
#define AIMLMUSIC_JSON_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

#define JSON_MAX_DEPTH 64

/* Decodes s: pushes the value and returns 1, or pushes the decoder's message and returns 0. */
int json_decode(lua_State *L, const char *s, size_t n);

/* True when the value at idx is the decoder's null (the light userdata NULL). */
int json_isnull(lua_State *L, int idx);
/* Sets core.json_encode(v) --> its JSON text | nil, message, core.json_decode(s) --> its value |
 * nil, message, and core.json_null, in the module table at the top. */
void json_register(lua_State *L);

HIDDEN_END

#endif
