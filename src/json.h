/* A private lua-cjson instance (cjson.new()), so a user's cjson settings never leak in or out. */
#ifndef AIMLMUSIC_JSON_H
#define AIMLMUSIC_JSON_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

#define JSON_MAX_DEPTH 64

/* Loads cjson and keeps a configured instance in the registry of this Lua state. */
void json_open(lua_State *L);
/* Decodes s: pushes the value and returns 1, or pushes the decoder's message and returns 0. */
int json_decode(lua_State *L, const char *s, size_t n);

/* True when the value at idx is the decoder's null. */
int json_isnull(lua_State *L, int idx);
/* Sets core.json_encode(t) --> a request body's JSON text | nil, message, in the module table
 * at the top. */
void json_register(lua_State *L);

HIDDEN_END

#endif
