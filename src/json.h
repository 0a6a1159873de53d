/* The module's JSON codec (see json.c): no other module, no settings shared with a user's. */
#ifndef AIMLMUSIC_JSON_H
#define AIMLMUSIC_JSON_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

#define JSON_MAX_DEPTH 64

/* Decodes s: pushes the value and returns 1, or pushes the decoder's message and returns 0. */
int json_decode(lua_State *L, const char *s, size_t n);

/* Where a value is in a text: from its first byte (a string's opening quote) to past its last.
 * type: its first byte ('{', '[', '"', 't', 'f', 'n'), '0' for a number, 0 for no value. */
typedef struct {
  const char *at, *end;
  char type, escapes; /* escapes: a string with an escape in it */
} json_span;

#define JSON_PICK_MAX 32

/* Walks the JSON text s (the decoder's grammar and depth) once, making no Lua value, and finds the
 * values at up to JSON_PICK_MAX paths of keys ("audio_file.url": paths[i] alive while this runs)
 * as the decoder's tables would give them: out[i], the last of duplicate keys counting. Returns
 * the type of the whole value, or 0 when s is not JSON (json_decode says why). */
int json_pick(lua_State *L, const char *s, size_t n, const char *const *paths, int npaths, json_span *out);

/* Pushes the value at v (in a text json_pick walked) as json_decode makes it, but a whole number
 * up to 9e15 as an integer (the decoder makes every number a float). */
void json_push_span(lua_State *L, const json_span *v);

/* The value of the hex digit c (either case), or -1. */
int json_hex_digit(char c);
/* Sets core.json_encode(v) --> its JSON text | nil, message, core.json_decode(s) --> its value |
 * nil, message, and core.json_null, in the module table at the top. */
void json_register(lua_State *L);

HIDDEN_END

#endif
