/* error: the one error shape of DESIGN.md as C functions build it.
 * Owns: the error table {kind, message, status, code, retryable, ...}, its metatable
 * (core.error_mt: lua/aimlmusic/errors.lua gives it its face, makes the errors of Lua and
 * tells errors apart), and the one way a C function reports a recoverable failure: nil, err.
 * Must not know: what failed or why (callers say), HTTP, files, the engine. */
#ifndef AIMLMUSIC_ERROR_H
#define AIMLMUSIC_ERROR_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

#define ERROR_MT "aimlmusic.error"

/* A recoverable failure in one line at the site (the luaL_fileresult idea): each pushes nil
 * and a new error table, always in that order, and returns 2; further fields go on the error,
 * which is on the top. fmt takes lua_pushfstring's conversions only: %s %d %f %p %c %%.
 *
 *   if (!ok) return error_fail(L, "config", "base_url %s is refused: %s", url, why); */
int error_fail(lua_State *L, const char *kind, const char *fmt, ...);
/* As error_fail, with ": <strerror(err)>" after the message and code the errno name. err is
 * passed in so that nothing between the failure and this call can change errno. */
int error_fail_errno(lua_State *L, const char *kind, int err, const char *fmt, ...);
/* Takes the message on the top of the stack (a string, consumed) as the error's message. */
int error_fail_top(lua_State *L, const char *kind);
/* "ENOENT" for ENOENT ...; "EIO" for a value not listed. */
const char *error_errno_name(int err);

/* Sets t[k] on the table at the top of the stack; a NULL string sets nothing. */
void error_setstring(lua_State *L, const char *k, const char *v);
void error_setint(lua_State *L, const char *k, long long v);
void error_setbool(lua_State *L, const char *k, int v);

/* Registers the metatable, and sets it as core.error_mt in the module table at the top. */
void error_open(lua_State *L);

HIDDEN_END

#endif
