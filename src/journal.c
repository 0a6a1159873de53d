#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commit.h"
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

/* core.remove_partials(target) --> number removed
 * Removes "<target>.part-XXXXXX" files (the name cut as commit.h says): downloads of target
 * cut short by a crash. A file a live transfer owns is locked (flock) and is left alone. */
static int l_remove_partials(lua_State *L) {
  size_t n;
  const char *target = luaL_checklstring(L, 1, &n);
  const char *slash = strrchr(target, '/');
  const char *base = slash ? slash + 1 : target;
  size_t dlen = slash ? (size_t)(slash - target) : 0;
  size_t keep = commit_partial_keep(base, strlen(base));
  char *dir = (char *)malloc(dlen + 2), *path;
  DIR *d;
  struct dirent *ent;
  int removed = 0;
  if (dir == NULL) return luaL_error(L, "out of memory");
  if (slash) {
    memcpy(dir, target, dlen ? dlen : 1);
    dir[dlen ? dlen : 1] = '\0';
  } else {
    strcpy(dir, ".");
  }
  d = opendir(dir);
  path = (char *)malloc(strlen(dir) + 256 + 2);
  while (d && path && (ent = readdir(d)) != NULL) {
    const char *name = ent->d_name;
    size_t k;
    int fd;
    if (strncmp(name, base, keep) != 0 || strncmp(name + keep, COMMIT_PARTIAL_SUFFIX, 6) != 0) continue;
    for (k = keep + 6; name[k] && strchr("0123456789abcdef", name[k]); k++) {
    }
    if (name[k] != '\0' || k != keep + COMMIT_PARTIAL_SUFFIX_LEN) continue;
    sprintf(path, "%s/%s", dir, name);
    fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    /* Unlinked while the lock is held: its owner, if one comes, sees the name is gone. */
    if (flock(fd, LOCK_EX | LOCK_NB) == 0 && unlink(path) == 0) removed++;
    close(fd);
  }
  if (d) closedir(d);
  free(path);
  free(dir);
  (void)n;
  compat_pushint(L, removed);
  return 1;
}

void journal_open(lua_State *L) {
  lua_pushcfunction(L, l_journal_append);
  lua_setfield(L, -2, "journal_append");
  lua_pushcfunction(L, l_remove_partials);
  lua_setfield(L, -2, "remove_partials");
}
