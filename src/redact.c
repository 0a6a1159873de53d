/* Keeping the API key out of everything shown to users.
 *
 * DESIGN. redact.c owns the search for the key in text and in decoded server answers; it
 * knows nothing of sessions or transfers: the key comes in as a string (keys under 4 bytes
 * are not searched for). */
#include "redact.h"

#include <string.h>

void redact_push(lua_State *L, const char *key, const char *text, size_t n) {
  luaL_Buffer b;
  size_t klen = key ? strlen(key) : 0;
  size_t i = 0;
  if (klen < 4) { /* nothing worth searching for */
    lua_pushlstring(L, text, n);
    return;
  }
  luaL_buffinit(L, &b);
  while (i < n) {
    if (n - i >= klen && memcmp(text + i, key, klen) == 0) {
      luaL_addstring(&b, "[redacted]");
      i += klen;
    } else {
      luaL_addchar(&b, text[i]);
      i++;
    }
  }
  luaL_pushresult(&b);
}

/* Whether text holds the key (keys under 4 bytes are not searched for). */
static int key_in(const char *key, const char *text, size_t n) {
  size_t klen = key ? strlen(key) : 0, i;
  if (klen < 4 || n < klen) return 0;
  for (i = 0; i + klen <= n; i++)
    if (text[i] == key[0] && memcmp(text + i, key, klen) == 0) return 1;
  return 0;
}

/* Redacts the string at idx in place; returns whether it changed. */
static int redact_slot(lua_State *L, const char *key, int idx) {
  size_t n;
  const char *text;
  if (lua_type(L, idx) != LUA_TSTRING) return 0;
  text = lua_tolstring(L, idx, &n);
  if (!key_in(key, text, n)) return 0;
  redact_push(L, key, text, n);
  lua_replace(L, idx);
  return 1;
}

void redact_value(lua_State *L, const char *key, int idx) {
  int renamed = 0, list = 0, i;
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) != LUA_TTABLE) {
    redact_slot(L, key, idx);
    return;
  }
  luaL_checkstack(L, 8, "redacting a response");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int v = lua_gettop(L);
    if (lua_type(L, v) == LUA_TTABLE) {
      redact_value(L, key, v);
    } else if (redact_slot(L, key, v)) {
      lua_pushvalue(L, v - 1);
      lua_pushvalue(L, v);
      lua_rawset(L, idx); /* an existing field: allowed while traversing */
    }
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, -1, &n);
      if (key_in(key, k, n)) {
        /* A new key may not be added while traversing: note it, rename it afterwards. */
        if (!list) {
          lua_newtable(L);
          lua_insert(L, -2);
          list = lua_gettop(L) - 1;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, list, ++renamed);
      }
    }
  }
  for (i = 1; i <= renamed; i++) {
    size_t n;
    const char *k;
    lua_rawgeti(L, list, i);
    k = lua_tolstring(L, -1, &n);
    redact_push(L, key, k, n);
    lua_pushvalue(L, -2);
    lua_rawget(L, idx);
    lua_rawset(L, idx); /* t[redacted] = t[k] */
    lua_pushnil(L);
    lua_rawset(L, idx); /* t[k] = nil */
  }
  if (list) lua_remove(L, list);
}
