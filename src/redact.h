/* Keeping the API key out of everything shown to users. */
#ifndef AIMLMUSIC_REDACT_H
#define AIMLMUSIC_REDACT_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Pushes text with every occurrence of key replaced by "[redacted]". key may be NULL. */
void redact_push(lua_State *L, const char *key, const char *text, size_t n);
/* Replaces the key in the value at idx, in place: a string, or every string key and value of a
 * table at any depth. Everything decoded from a server passes here before anyone sees it. */
void redact_value(lua_State *L, const char *key, int idx);
/* Whether no string json_decode makes of the JSON text json can hold the key: there is no key
 * to search for, or the text has no escape and no form of the key. */
int redact_clean_json(lua_State *L, const char *key, const char *json, size_t n);
/* redact_value for the value at idx decoded from the JSON text json: the same result, with one
 * scan of the text instead of one per string when the text allows it. */
void redact_decoded(lua_State *L, const char *key, int idx, const char *json, size_t n);

HIDDEN_END

#endif
