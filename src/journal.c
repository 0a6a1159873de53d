/* journal: durable appends to the job journal, and removing the partial downloads a crash left.
 * Owns: the append under an exclusive lock, fsync of the file and of a new file's directory,
 * and the scan for "<target>.part-XXXXXX" files no live transfer holds. Must not know: what a
 * journal line says (lua/aimlmusic/journal.lua does), the engine, HTTP. */
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

/* Opens the journal for appending; *created tells whether this call made the file. */
static int open_journal(const char *path, int *created) {
  for (;;) {
    int fd = open(path, O_RDWR | O_APPEND | O_CLOEXEC);
    if (fd >= 0 || errno != ENOENT) return fd;
    fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      *created = 1;
      return fd;
    }
    if (errno != EEXIST) return -1; /* else another writer made it first: open that one */
  }
}

/* Makes the name of a new file durable: fsyncs the directory that holds it. */
static int sync_parent(const char *path) {
  const char *slash = strrchr(path, '/');
  size_t n = slash ? (size_t)(slash - path) : 0;
  char *dir = (char *)malloc(n + 2);
  int fd, rc = 0;
  if (dir == NULL) {
    errno = ENOMEM;
    return -1;
  }
  if (!slash) strcpy(dir, ".");
  else if (n == 0) strcpy(dir, "/");
  else {
    memcpy(dir, path, n);
    dir[n] = '\0';
  }
  fd = open(dir, O_RDONLY | O_CLOEXEC);
  free(dir);
  if (fd < 0) return -1;
  /* Some file systems cannot sync a directory (EINVAL): they keep names by other means. */
  if (fsync(fd) != 0 && errno != EINVAL) rc = -1;
  if (rc != 0) {
    int e = errno;
    close(fd);
    errno = e;
    return -1;
  }
  close(fd);
  return 0;
}

/* core.journal_append(path, line) --> true | nil, err
 * Appends line and a newline in one write() under an exclusive flock, then fsyncs (and the
 * directory too when the journal is new). flock, unlike fcntl locks, belongs to the open file,
 * so it keeps two threads of one process (LÖVE's, each with its own Lua state) apart too. Writers sharing the journal (processes, threads with
 * their own Lua states) never interleave. A line torn by an earlier crash is closed with a
 * newline in the same write, under the same lock, so that it cannot swallow this record. */
static int l_journal_append(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t n;
  const char *line = luaL_checklstring(L, 2, &n);
  struct stat sb;
  int fd, e, created = 0, locked;
  char *rec;
  size_t len = 0;
  if (memchr(line, '\n', n)) return luaL_argerror(L, 2, "a journal line holds no newline");
  rec = (char *)malloc(n + 2);
  if (rec == NULL) return luaL_error(L, "out of memory");
  fd = open_journal(path, &created);
  if (fd < 0) goto fail;
  while ((locked = flock(fd, LOCK_EX)) != 0 && errno == EINTR) {
  }
  if (locked != 0) goto fail_close;
  if (fstat(fd, &sb) != 0) goto fail_close;
  if (sb.st_size > 0) {
    char last = '\n';
    if (pread(fd, &last, 1, sb.st_size - 1) == 1 && last != '\n') rec[len++] = '\n';
  }
  memcpy(rec + len, line, n);
  len += n;
  rec[len++] = '\n';
  if (write_all(fd, rec, len) != 0) goto fail_close;
  flock(fd, LOCK_UN); /* the record is whole: others may append while this one syncs */
  if (fsync(fd) != 0) goto fail_close;
  if (close(fd) != 0) goto fail;
  if (created && sync_parent(path) != 0) goto fail;
  free(rec);
  lua_pushboolean(L, 1);
  return 1;
fail_close:
  e = errno;
  close(fd);
  errno = e;
fail:
  e = errno;
  free(rec);
  return error_fail_errno(L, "io", e, "journal %s", path);
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
  lua_pushinteger(L, removed);
  return 1;
}

void journal_open(lua_State *L) {
  lua_pushcfunction(L, l_journal_append);
  lua_setfield(L, -2, "journal_append");
  lua_pushcfunction(L, l_remove_partials);
  lua_setfield(L, -2, "remove_partials");
}
