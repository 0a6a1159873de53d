/* journal: durable appends to the job journal, and reading it back.
 * Owns: the append under an exclusive lock, fsync of the file and of a new file's directory;
 * the journal opened only as a regular file, never waiting to open (O_NONBLOCK: a FIFO put at
 * its path is refused, not waited on).
 * Must not know: what a journal line says (lua/aimlmusic/journal.lua does), the engine, HTTP,
 * download files (transfer.c makes, parses and removes their temporary names). */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "platform.h"

static int write_all(int fd, const char *p, size_t n) {
  while (n > 0) {
    long w = (long)write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* fd, when it is open on a regular file; else -1 with errno EINVAL (fd closed). */
static int regular_only(int fd) {
  platform_info info;
  int e;
  if (fd < 0) return fd;
  if (platform_fstat(fd, &info) != 0) e = errno;
  else if (info.is_reg) return fd;
  else e = EINVAL;
  close(fd);
  errno = e;
  return -1;
}

/* Opens path with flags when it names a regular file (stat first: a device is never opened);
 * else -1 with errno (EINVAL: something else is there). */
static int open_regular(const char *path, int flags) {
  platform_info info;
  if (platform_stat(path, 1, &info) != 0) return -1;
  if (!info.is_reg) {
    errno = EINVAL;
    return -1;
  }
  return regular_only(platform_open(path, flags | O_NONBLOCK, 0));
}

/* Opens the journal for appending; *created tells whether this call made the file. */
static int open_journal(const char *path, int *created) {
  for (;;) {
    int fd = open_regular(path, O_RDWR | O_APPEND);
    if (fd >= 0 || errno != ENOENT) return fd;
    fd = platform_open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
      *created = 1;
      return fd;
    }
    if (errno != EEXIST) return -1; /* else another writer made it first: open that one */
  }
}

int journal_append(const char *path, const char *line, size_t n) {
  platform_info info;
  int fd, e, created = 0;
  char *rec;
  size_t len = 0;
  rec = (char *)malloc(n + 2);
  if (rec == NULL) {
    errno = ENOMEM;
    return -1;
  }
  fd = open_journal(path, &created);
  if (fd < 0) goto fail;
  if (platform_lock(fd, 1) != 0) goto fail_close;
  if (platform_fstat(fd, &info) != 0) goto fail_close;
  if (info.size > 0) {
    char last = '\n';
    if (platform_pread(fd, &last, 1, info.size - 1) == 1 && last != '\n') rec[len++] = '\n';
  }
  memcpy(rec + len, line, n);
  len += n;
  rec[len++] = '\n';
  if (write_all(fd, rec, len) != 0) goto fail_close;
  platform_unlock(fd); /* the record is whole: others may append while this one syncs */
  if (platform_fsync(fd) != 0) goto fail_close;
  if (close(fd) != 0) goto fail;
  if (created && platform_sync_parent(path) != 0) goto fail;
  free(rec);
  return 0;
fail_close:
  e = errno;
  close(fd);
  errno = e;
fail:
  e = errno;
  free(rec);
  errno = e;
  return -1;
}

/* core.journal_append(path, line) --> true | nil, err
 * Appends line and a newline in one write() under an exclusive lock, then fsyncs (and the
 * directory too when the journal is new). The lock (flock; LockFileEx) belongs to the open file,
 * unlike fcntl locks, so it keeps two threads of one process (LÖVE's, each with its own Lua
 * state) apart too. Writers sharing the journal (processes, threads with their own Lua states)
 * never interleave. A line torn by an earlier crash is closed with a
 * newline in the same write, under the same lock, so that it cannot swallow this record. */
static int l_journal_append(lua_State *L) {
  size_t plen, n;
  const char *path = luaL_checklstring(L, 1, &plen);
  const char *line = luaL_checklstring(L, 2, &n);
  if (memchr(line, '\n', n)) return luaL_argerror(L, 2, "a journal line holds no newline");
  /* Cut at a NUL, the path would name another file. */
  if (memchr(path, '\0', plen)) return error_fail_errno(L, "io", EINVAL, "the journal path holds a NUL byte");
  if (journal_append(path, line, n) != 0) return error_fail_errno(L, "io", errno, "journal %s", path);
  lua_pushboolean(L, 1);
  return 1;
}

/* core.journal_read(path) --> the journal's content ("" when there is none) | nil, err
 * Opened without waiting and read only when it is a regular file: a FIFO or a device put at
 * the journal's path is an io error, never a wait. */
static int l_journal_read(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  luaL_Buffer b;
  char buf[16384];
  long long off = 0;
  int fd = open_regular(path, O_RDONLY), e;
  if (fd < 0) {
    if (errno == ENOENT) {
      lua_pushliteral(L, "");
      return 1;
    }
    if (errno == EINVAL) {
      error_fail(L, "io", "journal %s is not a regular file", path);
      error_setstring(L, "code", "EINVAL");
      return 2;
    }
    return error_fail_errno(L, "io", errno, "journal %s", path);
  }
  luaL_buffinit(L, &b);
  for (;;) {
    long got = platform_pread(fd, buf, sizeof buf, off);
    if (got < 0) {
      e = errno;
      close(fd);
      return error_fail_errno(L, "io", e, "journal %s", path);
    }
    if (got == 0) break;
    luaL_addlstring(&b, buf, (size_t)got);
    off += got;
  }
  close(fd);
  luaL_pushresult(&b);
  return 1;
}

void journal_open(lua_State *L) {
  lua_pushcfunction(L, l_journal_append);
  lua_setfield(L, -2, "journal_append");
  lua_pushcfunction(L, l_journal_read);
  lua_setfield(L, -2, "journal_read");
}
