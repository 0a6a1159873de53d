/* compat: every difference between Lua 5.1/LuaJIT, 5.2, 5.3 and 5.4 that the module touches.
 * Owns: restoring the Lua 5.4 C API names and return values on older versions, the way
 * lua-compat-5.3 does (lua_getfield returns the type, lua_rawlen, luaL_setfuncs ...), so the
 * rest of src/ reads as plain Lua 5.4 C API. Must not know: anything of the module itself. */
#ifndef AIMLMUSIC_COMPAT_H
#define AIMLMUSIC_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

#include "hidden.h"

HIDDEN_BEGIN

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_absindex(L, i) \
  (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)

/* Lua 5.2's auxiliary functions, for 5.1. LuaJIT 2.1 has them (and defines luaL_newlib). */
#ifndef luaL_newlib
static inline void luaL_setfuncs(lua_State *L, const luaL_Reg *l, int nup) {
  luaL_checkstack(L, nup + 1, "too many upvalues");
  for (; l->name != NULL; l++) {
    int i;
    for (i = 0; i < nup; i++) lua_pushvalue(L, -nup);
    lua_pushcclosure(L, l->func, nup);
    lua_setfield(L, -(nup + 2), l->name);
  }
  lua_pop(L, nup);
}

static inline void luaL_setmetatable(lua_State *L, const char *tname) {
  luaL_getmetatable(L, tname);
  lua_setmetatable(L, -2);
}

static inline void *luaL_testudata(lua_State *L, int i, const char *tname) {
  void *p = lua_touserdata(L, i);
  if (p == NULL || !lua_getmetatable(L, i)) return NULL;
  luaL_getmetatable(L, tname);
  if (!lua_rawequal(L, -1, -2)) p = NULL;
  lua_pop(L, 2);
  return p;
}
#endif
#endif

#if LUA_VERSION_NUM < 503
/* 5.1 and 5.2 have only floating point numbers: an integer is a number with no fraction. */
static inline int compat53_isinteger(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  lua_Number n = lua_tonumber(L, i);
  return n == (lua_Number)(long long)n;
}
#define lua_isinteger(L, i) compat53_isinteger((L), (i))

/* Every number is a double there: pushing one as such keeps sizes above 2^31 whole even where
 * lua_Integer (ptrdiff_t) is 32 bits wide. */
#undef lua_pushinteger
#define lua_pushinteger(L, n) lua_pushnumber((L), (lua_Number)(n))

/* From 5.3 on these return the type of the value they push; earlier they return nothing. */
#define lua_getfield(L, i, k) (lua_getfield((L), (i), (k)), lua_type((L), -1))
#define lua_rawgeti(L, i, n) (lua_rawgeti((L), (i), (int)(n)), lua_type((L), -1))
#endif

#if LUA_VERSION_NUM < 504
/* A userdata with user values: before 5.4 there are none to ask for (nuv must be 0 here). */
#define lua_newuserdatauv(L, size, nuv) lua_newuserdata((L), (size))
#endif

HIDDEN_END

#endif
