/* output: whether a job's audio could be put at a path, checked before the job is paid for.
 * Owns: the existence, type and writability checks and their errors (code EEXIST, ENOENT ...).
 * Must not know: downloads, the engine; nothing is created. */
#include "output.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "platform.h"

static int refuse(lua_State *L, const char *path, int e, const char *why) {
  if (e == EEXIST) error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", path);
  else if (why) error_fail(L, "io", "output %s: %s", path, why);
  else return error_fail_errno(L, "io", e, "output %s", path);
  error_setstring(L, "code", error_errno_name(e));
  return 2;
}

/* core.output_check(path, overwrite) --> true | nil, err (kind io, code EEXIST, ENOENT ...)
 * Whether a download to path could be put in place: the path names no directory and no file
 * unless overwrite, and its directory exists and is writable. Nothing is created. */
static int l_output_check(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  int overwrite = lua_toboolean(L, 2), e = 0;
  char *dir;
  platform_info info;
  if (n == 0) return refuse(L, path, EINVAL, "the path is empty");
  if (memchr(path, '\0', n)) return refuse(L, path, EINVAL, "the path holds a NUL byte");
  if (platform_stat(path, 0, &info) == 0) {
    if (info.is_dir) return refuse(L, path, EISDIR, NULL);
    if (!overwrite) return refuse(L, path, EEXIST, NULL);
  } else if (errno != ENOENT) {
    return refuse(L, path, errno, NULL);
  }
  dir = platform_parent(path);
  if (dir == NULL) return luaL_error(L, "out of memory");
  if (platform_stat(dir, 1, &info) != 0) e = errno;
  else if (!info.is_dir) e = ENOTDIR;
  else if (platform_dir_writable(dir) != 0) e = errno;
  free(dir);
  if (e) return refuse(L, path, e, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

void output_open(lua_State *L) {
  lua_pushcfunction(L, l_output_check);
  lua_setfield(L, -2, "output_check");
}
