/* The one error shape of DESIGN.md: a table {kind, message, status, code, retryable, ...}
 * with a metatable whose __tostring prints it on one line. */
#ifndef AIMLMUSIC_ERROR_H
#define AIMLMUSIC_ERROR_H

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define ERROR_MT "aimlmusic.error"

/* Pushes a new error table {kind, message, retryable=false} with the error metatable. */
void error_push(lua_State *L, const char *kind, const char *message);
/* Sets t[k] on the table at the top of the stack; a NULL string sets nothing. */
void error_setstring(lua_State *L, const char *k, const char *v);
void error_setint(lua_State *L, const char *k, long long v);
void error_setbool(lua_State *L, const char *k, int v);

/* Registers the metatable and core.error(tbl) in the module table at the top. */
void error_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
