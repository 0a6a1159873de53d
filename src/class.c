/* class: named metatables (see class.h). Owns: class_define, class_new, class_add_methods and
 * the one idempotent close behind __gc and __close. Must not know: any type that uses it. */
#include "class.h"

#include <string.h>

void class_define(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                  lua_CFunction tostring) {
  luaL_newmetatable(L, name);
  /* The address of name at [1], for class_test: no string to hash, no registry to search. */
  lua_pushlightuserdata(L, (void *)name);
  lua_rawseti(L, -2, 1);
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  if (methods) {
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
  }
  if (close) {
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
#if LUA_VERSION_NUM >= 504
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
#endif
  }
  if (tostring) {
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
  }
  lua_pop(L, 1);
}

void class_add_methods(lua_State *L, const char *name, const luaL_Reg *methods) {
  luaL_getmetatable(L, name);
  if (lua_getfield(L, -1, "__index") != LUA_TTABLE) luaL_error(L, "class %s has no methods table", name);
  luaL_setfuncs(L, methods, 0);
  lua_pop(L, 2);
}

void *class_new(lua_State *L, const char *name, size_t size) {
  void *p = lua_newuserdatauv(L, size, 0);
  memset(p, 0, size);
  luaL_setmetatable(L, name);
  return p;
}

void *class_test(lua_State *L, int idx, const char *name) {
  void *p = lua_touserdata(L, idx);
  if (p != NULL && lua_getmetatable(L, idx)) {
    int same = lua_rawgeti(L, -1, 1) == LUA_TLIGHTUSERDATA && lua_touserdata(L, -1) == (void *)name;
    lua_pop(L, 2);
    if (same) return p;
  }
  /* Another copy of the name's text (a string literal of another file) or another type. */
  return luaL_testudata(L, idx, name);
}

void *class_check(lua_State *L, int idx, const char *name) {
  void *p = class_test(L, idx, name);
  return p ? p : luaL_checkudata(L, idx, name);
}
