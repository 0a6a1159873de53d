/* host: what a command line needs from its host and plain Lua lacks. Owns: core.isatty,
 * core.stdio_lf, Ctrl-C as a counter (core.sigint_catch, core.sigint_count) and core.mkdir.
 * Must not know: the engine, jobs, HTTP. */
#include "host.h"

#include <errno.h>
#include <string.h>

#include "error.h"
#include "platform.h"

/* core.isatty(fd) --> true when the descriptor (0, 1, 2) is a terminal. */
static int host_isatty(lua_State *L) {
  lua_pushboolean(L, platform_isatty((int)luaL_checkinteger(L, 1)));
  return 1;
}

/* core.stdio_lf(): lines on stdout and stderr end in "\n" alone, on Windows too. */
static int host_stdio_lf(lua_State *L) {
  (void)L;
  platform_stdio_lf();
  return 0;
}

/* core.sigint_catch(): from now on Ctrl-C increments a counter (core.sigint_count) instead of
 * ending the process, so a command can cancel cleanly and say what it left. A blocking wait in
 * the kernel returns early when the signal arrives. */
static int host_sigint_catch(lua_State *L) {
  if (platform_sigint_catch() != 0) return error_fail_errno(L, "io", errno, "cannot catch Ctrl-C");
  lua_pushboolean(L, 1);
  return 1;
}

static int host_sigint_count(lua_State *L) {
  lua_pushinteger(L, platform_sigint_count());
  return 1;
}

/* core.mkdir(path) --> true (also when it exists already as a directory) | nil, message.
 * The message is a string, not an error table: callers build their own error around it. */
static int host_mkdir_l(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  char why[PLATFORM_STRERROR_SIZE];
  if (memchr(path, '\0', n)) {
    lua_pushliteral(L, "the directory's path holds a NUL byte");
  } else if (platform_mkdir(path) == 0 || errno == EEXIST) {
    lua_pushboolean(L, 1);
    return 1;
  } else {
    lua_pushfstring(L, "%s: %s", path, platform_strerror(errno, why, sizeof why));
  }
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

void host_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
      {"isatty", host_isatty},
      {"stdio_lf", host_stdio_lf},
      {"sigint_catch", host_sigint_catch},
      {"sigint_count", host_sigint_count},
      {"mkdir", host_mkdir_l},
      {NULL, NULL},
  };
  luaL_setfuncs(L, funcs, 0);
}
