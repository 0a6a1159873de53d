/* host: what a command line needs from its host and plain Lua lacks. Owns: core.isatty,
 * Ctrl-C as a counter (core.sigint_catch, core.sigint_count) and core.mkdir. Must not know:
 * the engine, jobs, HTTP. */
#include "host.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#if defined(_WIN32)
#include <direct.h>
#include <io.h>
#define host_isatty_fd(fd) _isatty(fd)
#define host_mkdir(p) _mkdir(p)
#else
#include <sys/stat.h>
#include <unistd.h>
#define host_isatty_fd(fd) isatty(fd)
#define host_mkdir(p) mkdir((p), 0700)
#endif

/* Signals are process-wide: this counter is the one piece of state that is too. */
static volatile sig_atomic_t sigint_seen = 0;

static void host_on_sigint(int sig) {
  (void)sig;
  if (sigint_seen < 1000) sigint_seen++;
}

/* core.isatty(fd) --> true when the descriptor (0, 1, 2) is a terminal. */
static int host_isatty(lua_State *L) {
  int fd = (int)luaL_checkinteger(L, 1);
  lua_pushboolean(L, fd >= 0 && host_isatty_fd(fd) == 1);
  return 1;
}

/* core.sigint_catch(): from now on Ctrl-C increments a counter (read with sigint_count)
 * instead of ending the process, so a command can cancel cleanly and say what it left. A
 * blocking wait in the kernel returns early when the signal arrives. */
static int host_sigint_catch(lua_State *L) {
#if defined(_WIN32)
  signal(SIGINT, host_on_sigint);
#else
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = host_on_sigint;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0; /* no SA_RESTART: an interrupted wait returns */
  if (sigaction(SIGINT, &sa, NULL) != 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
#endif
  sigint_seen = 0;
  lua_pushboolean(L, 1);
  return 1;
}

/* core.sigint_count() --> how many times Ctrl-C arrived since sigint_catch. */
static int host_sigint_count(lua_State *L) {
#if defined(_WIN32)
  /* The Windows CRT resets the handler to the default after each signal. */
  if (sigint_seen > 0) signal(SIGINT, host_on_sigint);
#endif
  lua_pushinteger(L, (lua_Integer)sigint_seen);
  return 1;
}

/* core.mkdir(path) --> true (also when it exists already as a directory) | nil, message. */
static int host_mkdir_l(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  if (host_mkdir(path) == 0 || errno == EEXIST) {
    lua_pushboolean(L, 1);
    return 1;
  }
  lua_pushnil(L);
  lua_pushfstring(L, "%s: %s", path, strerror(errno));
  return 2;
}

void host_open(lua_State *L) {
  static const luaL_Reg funcs[] = {
    { "isatty", host_isatty },
    { "sigint_catch", host_sigint_catch },
    { "sigint_count", host_sigint_count },
    { "mkdir", host_mkdir_l },
    { NULL, NULL },
  };
  luaL_setfuncs(L, funcs, 0);
}
