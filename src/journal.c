/* journal: durable appends to the job journal, and reading it back. Owns: the append under an
 * exclusive lock, fsync of the file and of a new file's directory; the journal opened only as a
 * regular file, never waiting to open (O_NONBLOCK: a FIFO put at its path is refused, not waited
 * on). Describes both as work (workkind.h): run here outside a task, on a worker inside one. Must
 * not know: what a journal line says (lua/aimlmusic/journal.lua does), the engine, HTTP, download
 * files (part.c makes, parses and removes their temporary names). */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "output.h"
#include "platform.h"
#include "workkind.h"

/* Opens the journal for appending; *created tells whether this call made the file. */
static int open_journal(const char *path, int *created) {
  for (;;) {
    int fd = output_open_regular(path, 1, O_RDWR | O_APPEND);
    if (fd >= 0 || errno != ENOENT) return fd;
    fd = platform_open(path, O_RDWR | O_APPEND | O_CREAT | O_EXCL, 0600);
    *created = fd >= 0;
    if (fd >= 0 || errno != EEXIST) return fd; /* EEXIST: another writer made it first: open that one */
  }
}

/* errno after a failure, never 0: the append reports it, and 0 would say it succeeded. */
static int failed(void) {
  int e = errno;
  return e ? e : EIO;
}

int journal_append(const char *path, const char *line, size_t n) {
  platform_info info;
  char last = '\n', *rec = (char *)malloc(n + 2);
  int created = 0, e = rec ? 0 : ENOMEM, fd = e ? -1 : open_journal(path, &created);
  size_t len = 0;
  if (!e && (fd < 0 || platform_lock(fd, 1) != 0 || platform_fstat(fd, &info) != 0)) e = failed();
  if (!e) {
    if (info.size > 0 && platform_pread(fd, &last, 1, info.size - 1) == 1 && last != '\n') rec[len++] = '\n';
    memcpy(rec + len, line, n);
    len += n;
    rec[len++] = '\n';
    if (platform_write(fd, rec, len) != 0) e = failed();
  }
  if (!e) platform_unlock(fd); /* the record is whole: others may append while this one syncs */
  if (!e && platform_fsync(fd) != 0) e = failed();
  if (fd >= 0 && close(fd) != 0 && !e) e = failed();
  if (!e && created && platform_sync_parent(path) != 0) e = failed();
  free(rec);
  errno = e;
  return e ? -1 : 0;
}

/* core.journal_append(path, line) --> true | nil, err
 * Appends line and a newline in one write() under an exclusive lock, then fsyncs (and the
 * directory too when the journal is new). The lock (flock; LockFileEx) belongs to the open file,
 * unlike fcntl locks, so writers never interleave, be they processes or threads of one process
 * (LÖVE's, each with its own Lua state). A line torn by an earlier crash is closed with a newline
 * in the same write, under the same lock, so that it cannot swallow this record. Inside a task it
 * runs on a worker: the lock may be another process's and the fsync the disk's. */
typedef struct {
  work_held held;
  const char *path, *line;
  size_t n;
  int err;
} append_state;

static int append_prepare(lua_State *L, int first, void *p) {
  append_state *a = (append_state *)p;
  size_t plen;
  a->path = luaL_checklstring(L, first, &plen);
  a->line = luaL_checklstring(L, first + 1, &a->n);
  if (memchr(a->line, '\n', a->n)) return luaL_argerror(L, first + 1, "a journal line holds no newline");
  /* Cut at a NUL, the path would name another file. */
  if (memchr(a->path, '\0', plen)) return error_fail_errno(L, "io", EINVAL, "the journal path holds a NUL byte");
  return -1;
}

static void append_run(void *p) {
  append_state *a = (append_state *)p;
  a->err = journal_append(a->path, a->line, a->n) != 0 ? errno : 0;
}

static int append_push(lua_State *L, void *p) {
  append_state *a = (append_state *)p;
  if (a->err) return error_fail_errno(L, "io", a->err, "journal %s", a->path);
  lua_pushboolean(L, 1);
  return 1;
}

const work_kind journal_append_kind = {"journal_append", 2, sizeof(append_state), append_prepare, append_run,
                                       append_push};

/* core.journal_read(path) --> the journal's content ("" when there is none) | nil, err
 * Opened without waiting and read only when it is a regular file: a FIFO or a device put at
 * the journal's path is an io error, never a wait. */
typedef struct {
  work_held held; /* buf: the content read */
  const char *path;
  size_t len;
  int err;
} read_state;

static int read_prepare(lua_State *L, int first, void *p) {
  ((read_state *)p)->path = luaL_checkstring(L, first);
  return -1;
}

static void read_run(void *p) {
  read_state *r = (read_state *)p;
  size_t cap = 0;
  long got = 1;
  int fd = output_open_regular(r->path, 1, O_RDONLY);
  if (fd < 0) r->err = errno;
  while (fd >= 0 && got > 0) {
    char *t = r->len < cap ? r->held.buf : (char *)realloc(r->held.buf, cap = cap ? 2 * cap : 16384);
    if (t == NULL) {
      r->err = ENOMEM;
      break;
    }
    r->held.buf = t;
    got = platform_pread(fd, t + r->len, cap - r->len, (long long)r->len);
    if (got < 0) r->err = errno;
    else r->len += (size_t)got;
  }
  if (fd >= 0) close(fd);
}

static int read_push(lua_State *L, void *p) {
  read_state *r = (read_state *)p;
  if (r->err == ENOENT) {
    lua_pushliteral(L, "");
    return 1;
  }
  if (r->err == EINVAL) {
    error_fail(L, "io", "journal %s is not a regular file", r->path);
    error_setstring(L, "code", "EINVAL");
    return 2;
  }
  if (r->err) return error_fail_errno(L, "io", r->err, "journal %s", r->path);
  lua_pushlstring(L, r->held.buf ? r->held.buf : "", r->len);
  return 1;
}

const work_kind journal_read_kind = {"journal_read", 1, sizeof(read_state), read_prepare, read_run,
                                     read_push};
