/* Every difference between Lua 5.1/LuaJIT, 5.2, 5.3 and 5.4 that the module touches lives
 * here, so the rest of src/ reads as plain Lua 5.4 C API. */
#ifndef AIMLMUSIC_COMPAT_H
#define AIMLMUSIC_COMPAT_H

#include <lua.h>
#include <lauxlib.h>

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#if LUA_VERSION_NUM < 502
#define lua_rawlen(L, i) lua_objlen((L), (i))
#define lua_absindex(L, i) \
  (((i) > 0 || (i) <= LUA_REGISTRYINDEX) ? (i) : lua_gettop(L) + (i) + 1)

/* Lua 5.2's auxiliary functions, for 5.1. LuaJIT 2.1 has them (and defines luaL_newlib). */
#ifndef luaL_newlib
#define luaL_newlib(L, l) (lua_newtable(L), luaL_setfuncs((L), (l), 0))

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
static inline int compat_isinteger(lua_State *L, int i) {
  if (lua_type(L, i) != LUA_TNUMBER) return 0;
  lua_Number n = lua_tonumber(L, i);
  return n == (lua_Number)(long long)n;
}
#define lua_isinteger(L, i) compat_isinteger((L), (i))
#endif

/* lua_getfield returns the value's type from 5.3 on; earlier it returns nothing. */
static inline int compat_getfield(lua_State *L, int i, const char *k) {
#if LUA_VERSION_NUM >= 503
  return lua_getfield(L, i, k);
#else
  lua_getfield(L, i, k);
  return lua_type(L, -1);
#endif
}

static inline int compat_rawgeti(lua_State *L, int i, lua_Integer n) {
#if LUA_VERSION_NUM >= 503
  return lua_rawgeti(L, i, n);
#else
  lua_rawgeti(L, i, (int)n);
  return lua_type(L, -1);
#endif
}

/* A userdata with no user values: 5.4 takes a count, earlier versions do not. */
static inline void *compat_newudata(lua_State *L, size_t size) {
#if LUA_VERSION_NUM >= 504
  return lua_newuserdatauv(L, size, 0);
#else
  return lua_newuserdata(L, size);
#endif
}

/* Integer as a table key, or value, in the widest type every version accepts. */
#if LUA_VERSION_NUM >= 503
#define compat_pushint(L, n) lua_pushinteger((L), (lua_Integer)(n))
#else
#define compat_pushint(L, n) lua_pushnumber((L), (lua_Number)(n))
#endif

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
