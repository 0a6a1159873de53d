/* class: the one way a type's metatable is made (the auxiliar_newclass idea).
 * Owns: the named metatable with __name, __index (the methods table), __gc and, on Lua 5.4,
 * __close through one idempotent close function, and __tostring. Must not know: any type
 * that uses it. A type whose methods come from several files gets the others with
 * class_add_methods, called by the file that registers them all (core.c), so no lower file
 * calls a higher one. */
#ifndef AIMLMUSIC_CLASS_H
#define AIMLMUSIC_CLASS_H

#include <stddef.h>

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Makes (or refreshes) the metatable name in the registry; leaves the stack as it was.
 * methods, close and tostring may each be NULL: no __index, no __gc/__close, no __tostring.
 * close must be idempotent: __gc runs after an explicit close or a to-be-closed exit. */
void class_define(lua_State *L, const char *name, const luaL_Reg *methods, lua_CFunction close,
                  lua_CFunction tostring);
/* Adds methods to the __index table of a class made with class_define. */
void class_add_methods(lua_State *L, const char *name, const luaL_Reg *methods);
/* Pushes a new zero-filled userdata of size bytes carrying the class's metatable; returns it. */
void *class_new(lua_State *L, const char *name, size_t size);
/* luaL_testudata and luaL_checkudata for a class made with class_define, without hashing the
 * class's name on each call (a method call checks its userdata: it is the hot path). */
void *class_test(lua_State *L, int idx, const char *name);
void *class_check(lua_State *L, int idx, const char *name);

HIDDEN_END

#endif
