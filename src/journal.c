#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* core.journal_append(path, line) --> true | nil, err
 * Appends line and a newline, then fsyncs. A line torn by an earlier crash is closed with a
 * newline first, so that it cannot swallow this record. */
static int l_journal_append(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t n;
  const char *line = luaL_checklstring(L, 2, &n);
  struct stat sb;
  int fd, e;
  if (memchr(line, '\n', n)) return luaL_argerror(L, 2, "a journal line holds no newline");
  fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) goto fail;
  if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
    char last = '\n';
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    if (rfd >= 0) {
      if (pread(rfd, &last, 1, sb.st_size - 1) != 1) last = '\n';
      close(rfd);
    }
    if (last != '\n' && write_all(fd, "\n", 1) != 0) goto fail_close;
  }
  if (write_all(fd, line, n) != 0 || write_all(fd, "\n", 1) != 0 || fsync(fd) != 0) goto fail_close;
  if (close(fd) != 0) goto fail;
  lua_pushboolean(L, 1);
  return 1;
fail_close:
  e = errno;
  close(fd);
  errno = e;
fail:
  e = errno;
  lua_pushnil(L);
  lua_pushfstring(L, "journal %s: %s", path, strerror(e));
  error_push(L, "io", lua_tostring(L, -1));
  lua_remove(L, -2);
  return 2;
}

void journal_open(lua_State *L) {
  lua_pushcfunction(L, l_journal_append);
  lua_setfield(L, -2, "journal_append");
}
