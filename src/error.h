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

/* Recoverable failures, in one line at the site (the luaL_fileresult idea):
 *
 *   if (fd < 0) return error_fail_errno(L, "io", errno, "cannot open %s", path);
 *   if (!ok) return error_fail(L, "config", "base_url %s is refused: %s", url, why);
 *
 * Each pushes nil and then a new error table, and returns 2: always that order, so a C
 * function returns them as they are. Further fields go on the error, which is on the top:
 *
 *   error_fail(L, "io", "%s exists", path);
 *   error_setstring(L, "code", "EEXIST");
 *   return 2;
 *
 * fmt takes lua_pushfstring's conversions only: %s %d %f %p %c %%. */
int error_fail(lua_State *L, const char *kind, const char *fmt, ...);
/* As error_fail, with ": <strerror(err)>" after the message and code the errno name
 * ("ENOENT"; "EIO" for a value not listed). err is an errno value, passed in so that nothing
 * between the failure and this call can change it:
 *
 *   if (fsync(fd) != 0) return error_fail_errno(L, "io", errno, "journal %s", path); */
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
