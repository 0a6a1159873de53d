/* error: the error table of C functions and error_fail (see error.h). Owns: the one error
 * shape as C builds it. Must not know: which failure it reports, HTTP, files, the error's face
 * (lua/aimlmusic/errors.lua gives it). */
#include "error.h"

#include <errno.h>
#include <stdarg.h>

#include "class.h"
#include "platform.h"

void error_setstring(lua_State *L, const char *k, const char *v) {
  if (v == NULL) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

void error_setint(lua_State *L, const char *k, long long v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

void error_setbool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

int error_fail(lua_State *L, const char *kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return error_fail_top(L, kind);
}

/* nil and a new error table {kind, message, retryable=false} with the error metatable. */
int error_fail_top(lua_State *L, const char *kind) {
  const char *message = lua_tostring(L, -1); /* referenced from the stack until the error holds it */
  lua_pushnil(L);
  lua_createtable(L, 0, 8);
  error_setstring(L, "kind", kind);
  error_setstring(L, "message", message ? message : kind);
  error_setbool(L, "retryable", 0);
  luaL_setmetatable(L, ERROR_MT);
  lua_remove(L, -3);
  return 2;
}

const char *error_errno_name(int err) {
#define E(name) \
  { name, #name }
  static const struct {
    int err;
    const char *name;
  } names[] = {E(EEXIST), E(ENOENT), E(ENOTDIR), E(EISDIR), E(EACCES), E(EPERM), E(EROFS), E(EINVAL),
               E(ENAMETOOLONG), E(ELOOP), E(ENOSPC), E(EFBIG), E(ENOMEM), E(EBUSY), E(EAGAIN), E(ENOSYS)};
#undef E
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].err == err) return names[i].name;
  return "EIO";
}

int error_fail_errno(lua_State *L, const char *kind, int err, const char *fmt, ...) {
  va_list ap;
  char why[PLATFORM_STRERROR_SIZE];
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushfstring(L, ": %s", platform_strerror(err, why, sizeof why));
  lua_concat(L, 2);
  error_fail_top(L, kind);
  error_setstring(L, "code", error_errno_name(err));
  return 2;
}

void error_open(lua_State *L) {
  class_define(L, ERROR_MT, NULL, NULL, NULL);
  luaL_getmetatable(L, ERROR_MT);
  lua_setfield(L, -2, "error_mt");
}
