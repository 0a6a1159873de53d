#include "error.h"

#include <string.h>

void error_setstring(lua_State *L, const char *k, const char *v) {
  if (v == NULL) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

void error_setint(lua_State *L, const char *k, long long v) {
  compat_pushint(L, v);
  lua_setfield(L, -2, k);
}

void error_setbool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

void error_push(lua_State *L, const char *kind, const char *message) {
  lua_createtable(L, 0, 8);
  error_setstring(L, "kind", kind);
  error_setstring(L, "message", message ? message : kind);
  error_setbool(L, "retryable", 0);
  luaL_setmetatable(L, ERROR_MT);
}

/* Appends s with every control character folded to a space, so the line stays one line. */
static void add_oneline(luaL_Buffer *b, const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    luaL_addchar(b, (c < 0x20 || c == 0x7f) ? ' ' : (char)c);
  }
}

static void add_field(lua_State *L, luaL_Buffer *b, int t, const char *k, const char *label,
                      int *first) {
  /* luaL_Buffer keeps its own stack slots: fetch, copy, pop before touching the buffer. */
  size_t n;
  const char *s;
  lua_getfield(L, t, k);
  if (lua_isnil(L, -1) || lua_type(L, -1) == LUA_TTABLE || lua_type(L, -1) == LUA_TBOOLEAN) {
    lua_pop(L, 1);
    return;
  }
  s = lua_tolstring(L, -1, &n);
  lua_pushfstring(L, "%s%s %s", *first ? " (" : ", ", label, s ? s : "?");
  lua_remove(L, -2);
  *first = 0;
  luaL_addvalue(b);
}

/* "aimlmusic: rate_limited: Too many requests (HTTP 429, request_id abc)" */
static int error_tostring(lua_State *L) {
  luaL_Buffer b;
  size_t n = 0;
  const char *s;
  int first = 1;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "aimlmusic: ");
  s = lua_tostring(L, 2);
  luaL_addstring(&b, s ? s : "error");
  luaL_addstring(&b, ": ");
  s = lua_tolstring(L, 3, &n);
  if (s) add_oneline(&b, s, n);
  add_field(L, &b, 1, "status", "HTTP", &first);
  add_field(L, &b, 1, "code", "code", &first);
  add_field(L, &b, 1, "id", "id", &first);
  add_field(L, &b, 1, "request_id", "request_id", &first);
  add_field(L, &b, 1, "trace_id", "trace_id", &first);
  if (!first) luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* core.error{kind=..., message=..., ...}: gives a Lua-built error the same shape and face. */
static int error_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (compat_getfield(L, 1, "kind") != LUA_TSTRING) return luaL_argerror(L, 1, "kind must be a string");
  if (compat_getfield(L, 1, "message") != LUA_TSTRING) {
    lua_pushvalue(L, 2);
    lua_setfield(L, 1, "message");
  }
  if (compat_getfield(L, 1, "retryable") != LUA_TBOOLEAN) {
    lua_pushboolean(L, 0);
    lua_setfield(L, 1, "retryable");
  }
  lua_settop(L, 1);
  luaL_setmetatable(L, ERROR_MT);
  return 1;
}

/* core.is_error(v): true for tables made by error_push or core.error. */
static int error_is(lua_State *L) {
  int yes = 0;
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, ERROR_MT);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_pushboolean(L, yes);
  return 1;
}

void error_open(lua_State *L) {
  if (luaL_newmetatable(L, ERROR_MT)) {
    lua_pushcfunction(L, error_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "aimlmusic.error");
    lua_setfield(L, -2, "__name");
  }
  lua_pop(L, 1);
  lua_pushcfunction(L, error_new);
  lua_setfield(L, -2, "error");
  lua_pushcfunction(L, error_is);
  lua_setfield(L, -2, "is_error");
}
