/* output: where a job's audio will go, checked before the job is paid for and reserved for that
 * one job until it is finished.
 * Owns: the existence, type and writability checks and their errors (code EEXIST, ENOENT ...);
 * the facts about a path without opening it (core.path_info); the reservation beside an output
 * ("<output>.lock": a file holding the owner's pid and job id, locked by the owning process for
 * as long as it keeps the job) and its take-over; absolute paths for the journal.
 * Must not know: downloads, the engine, the journal's format. */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "error.h"
#include "platform.h"

#define RESERVATION_MT "aimlmusic.reservation"
#define RESERVATION_SUFFIX ".lock"
#define RESERVATION_MAX 1024 /* the most of a reservation's content that is read */

static int refuse(lua_State *L, const char *path, int e, const char *why) {
  if (e == EEXIST) error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", path);
  else if (why) error_fail(L, "io", "output %s: %s", path, why);
  else return error_fail_errno(L, "io", e, "output %s", path);
  error_setstring(L, "code", error_errno_name(e));
  return 2;
}

/* core.output_check(path, overwrite) --> true | nil, err (kind io, code EEXIST, ENOENT ...)
 * Whether a download to path could be put in place: the path names no directory and no file
 * unless overwrite, nothing but a regular file or a symbolic link even then, and its directory
 * exists and is writable. Nothing is created, nothing is opened. */
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
    if (!info.is_reg && !info.is_link) return refuse(L, path, EINVAL, "not a regular file (a FIFO, a device?)");
  } else if (errno != ENOENT) {
    return refuse(L, path, errno, NULL);
  }
  dir = platform_parent(path);
  if (dir == NULL) return luaL_error(L, "out of memory");
  /* Two branches alike (e = errno) after different calls: bugprone-branch-clone is wrong here. */
  if (platform_stat(dir, 1, &info) != 0) e = errno; /* NOLINT(bugprone-branch-clone) */
  else if (!info.is_dir) e = ENOTDIR;
  else if (platform_dir_writable(dir) != 0) e = errno;
  free(dir);
  if (e) return refuse(L, path, e, NULL);
  lua_pushboolean(L, 1);
  return 1;
}

static void push_id(lua_State *L, unsigned long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", v);
  lua_pushstring(L, buf);
}

/* core.path_info(path) --> {type, size, dev, ino} | nil, err (code ENOENT when nothing is there)
 * What is at path itself (a symbolic link is not followed), from lstat: type "file",
 * "directory", "link" or "other" (a FIFO, a device, a socket), the size, and the identity as
 * decimal strings (dev, ino: "0" where the system cannot say). Nothing is opened. */
static int l_path_info(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  platform_info info;
  if (memchr(path, '\0', n)) return refuse(L, path, EINVAL, "the path holds a NUL byte");
  if (platform_stat(path, 0, &info) != 0) return error_fail_errno(L, "io", errno, "%s", path);
  lua_createtable(L, 0, 4);
  lua_pushstring(L, info.is_reg ? "file" : info.is_dir ? "directory"
                                       : info.is_link  ? "link"
                                                       : "other");
  lua_setfield(L, -2, "type");
  lua_pushinteger(L, (lua_Integer)info.size);
  lua_setfield(L, -2, "size");
  push_id(L, info.dev);
  lua_setfield(L, -2, "dev");
  push_id(L, info.ino);
  lua_setfield(L, -2, "ino");
  return 1;
}

/* core.abspath(path) --> path joined to the current directory when relative, as it is when
 * absolute: what the journal records, so that resume finds it from any directory. */
static int l_abspath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *cwd;
  if (platform_is_absolute(path)) {
    lua_settop(L, 1);
    return 1;
  }
  cwd = platform_cwd();
  if (cwd == NULL) return error_fail_errno(L, "io", errno, "the current directory");
  lua_pushfstring(L, "%s/%s", cwd, path);
  free(cwd);
  return 1;
}

/* ---- the reservation ---- */

typedef struct {
  int fd;     /* open on the reservation file and locked; -1 once let go */
  char *path; /* "<output>.lock" */
} reservation;

static reservation *reservation_check(lua_State *L) {
  return (reservation *)luaL_checkudata(L, 1, RESERVATION_MT);
}

/* Writes "pid P\n" and, when id is given, "job ID\n" as the reservation's whole content. */
static int reservation_write(int fd, const char *id) {
  char buf[RESERVATION_MAX];
  int n = snprintf(buf, sizeof buf, "pid %lu\n%s%s%s", platform_pid(), id ? "job " : "", id ? id : "",
                   id ? "\n" : "");
  if (n < 0 || (size_t)n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return platform_rewrite(fd, buf, (size_t)n);
}

/* The job id a reservation's content names, copied into out (size n); "" when none. */
static void reservation_owner(int fd, char *out, size_t n) {
  char buf[RESERVATION_MAX + 1];
  long got = platform_pread(fd, buf, RESERVATION_MAX, 0);
  const char *p;
  size_t k = 0;
  out[0] = '\0';
  if (got <= 0) return;
  buf[got] = '\0';
  p = strstr(buf, "\njob ");
  if (p == NULL) return;
  for (p += 5; *p && *p != '\n' && k + 1 < n; p++) out[k++] = *p;
  out[k] = '\0';
}

/* Lets the reservation go: its file is removed when it is still the one at its name (a
 * take-over may have put another there), then closed, which drops the lock. */
static void reservation_drop(reservation *r, int remove) {
  if (r->fd >= 0) {
    if (remove && platform_same_file(r->fd, r->path)) platform_unlink(r->path);
    close(r->fd);
    r->fd = -1;
  }
  free(r->path);
  r->path = NULL;
}

/* __gc and __close: the lock goes, the file stays (a job left unfinished keeps its name for
 * resume, which takes it over: a lock nobody holds blocks no one). */
static int reservation_close(lua_State *L) {
  reservation_drop(reservation_check(L), 0);
  return 0;
}

static int reservation_tostring(lua_State *L) {
  reservation *r = reservation_check(L);
  lua_pushfstring(L, "aimlmusic.reservation(%s)", r->path ? r->path : "released");
  return 1;
}

/* reservation:own(id) --> true | nil, err: the reservation now names job id. */
static int reservation_own(lua_State *L) {
  reservation *r = reservation_check(L);
  const char *id = luaL_checkstring(L, 2);
  if (r->fd < 0) return luaL_error(L, "reservation already released");
  if (strchr(id, '\n') || reservation_write(r->fd, id) != 0)
    return error_fail_errno(L, "io", strchr(id, '\n') ? EINVAL : errno, "reservation %s", r->path);
  lua_pushboolean(L, 1);
  return 1;
}

/* reservation:release(): the job is finished; its reservation goes. */
static int reservation_release(lua_State *L) {
  reservation_drop(reservation_check(L), 1);
  return 0;
}

/* Pushes a reservation holding fd (locked, with its content written) for lockpath. */
static int reservation_push(lua_State *L, int fd, const char *lockpath) {
  reservation *r = (reservation *)class_new(L, RESERVATION_MT, sizeof *r);
  size_t n = strlen(lockpath);
  r->fd = fd;
  r->path = (char *)malloc(n + 1);
  if (r->path == NULL) {
    close(fd);
    r->fd = -1;
    return luaL_error(L, "out of memory");
  }
  memcpy(r->path, lockpath, n + 1);
  return 1;
}

/* core.output_reserve(path, id, force) --> reservation | nil, err
 * Reserves path for one job: "<path>.lock" is made (O_EXCL) and locked, and stays locked while
 * the reservation lives. A reservation already there is taken over when nobody holds its lock
 * (its process ended), when it names job id (resume finishing its own job), or when force is
 * given (overwrite; a job the journal says is finished); otherwise the answer is an error of kind
 * io, code EBUSY, with err.owner the job it names when it names one. The reservation file is
 * opened with O_NOFOLLOW and O_NONBLOCK and must be a regular file. */
static int l_output_reserve(lua_State *L) {
  size_t n;
  const char *path = luaL_checklstring(L, 1, &n);
  const char *id = luaL_optstring(L, 2, NULL);
  int force = lua_toboolean(L, 3), attempt, fd, e;
  char owner[RESERVATION_MAX];
  platform_info info;
  char *lockpath;
  if (n == 0 || memchr(path, '\0', n)) return refuse(L, path, EINVAL, "not a path");
  lockpath = (char *)lua_newuserdata(L, n + sizeof RESERVATION_SUFFIX); /* freed by the GC */
  memcpy(lockpath, path, n);
  memcpy(lockpath + n, RESERVATION_SUFFIX, sizeof RESERVATION_SUFFIX);
  owner[0] = '\0';
  for (attempt = 0; attempt < 20; attempt++) {
    fd = platform_open(lockpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      /* Made here: nobody else can hold it yet. */
      if (platform_lock(fd, 0) != 0 || reservation_write(fd, id) != 0) goto fail_close;
      return reservation_push(L, fd, lockpath);
    }
    if (errno != EEXIST) goto fail;
    /* Someone's reservation, or something else of that name: opened only if a regular file. */
    if (platform_stat(lockpath, 0, &info) != 0) {
      if (errno == ENOENT) continue;
      goto fail;
    }
    if (!info.is_reg) goto not_regular;
    fd = platform_open(lockpath, O_RDWR | O_NOFOLLOW | O_NONBLOCK, 0);
    if (fd < 0) {
      if (errno == ENOENT) continue; /* let go meanwhile: make it again */
      if (errno == ELOOP || errno == ENXIO) goto not_regular;
      goto fail;
    }
    if (platform_fstat(fd, &info) != 0) goto fail_close;
    if (!info.is_reg) {
      close(fd);
      goto not_regular;
    }
    if (platform_lock(fd, 0) == 0) {
      /* Nobody holds it: its process ended (or let it go). Still the one at the name? */
      if (!platform_same_file(fd, lockpath)) {
        close(fd);
        continue;
      }
      if (reservation_write(fd, id) != 0) goto fail_close;
      return reservation_push(L, fd, lockpath);
    }
    if (errno != EWOULDBLOCK && errno != EAGAIN) goto fail_close;
    reservation_owner(fd, owner, sizeof owner);
    if (force || (id && strcmp(owner, id) == 0)) {
      /* A live process holds it, and it may be taken: its name is given to a new one. */
      if (platform_same_file(fd, lockpath)) platform_unlink(lockpath);
      close(fd);
      continue;
    }
    close(fd);
    if (owner[0]) error_fail(L, "io", "output %s is reserved by job %s, not finished yet (pass overwrite = true to take it)", path, owner);
    else error_fail(L, "io", "output %s is reserved by a job being submitted (pass overwrite = true to take it)", path);
    error_setstring(L, "code", "EBUSY");
    error_setstring(L, "owner", owner[0] ? owner : NULL);
    return 2;
  }
  return error_fail(L, "io", "output %s: its reservation %s keeps changing", path, lockpath);
not_regular:
  error_fail(L, "io", "output %s: its reservation %s is not a regular file", path, lockpath);
  error_setstring(L, "code", "EINVAL");
  return 2;
fail_close:
  e = errno;
  close(fd);
  errno = e;
fail:
  return error_fail_errno(L, "io", errno, "reserving output %s", path);
}

static const luaL_Reg reservation_methods[] = {{"own", reservation_own}, {"release", reservation_release}, {NULL, NULL}};

void output_open(lua_State *L) {
  static const luaL_Reg functions[] = {{"output_check", l_output_check},
                                       {"output_reserve", l_output_reserve},
                                       {"path_info", l_path_info},
                                       {"abspath", l_abspath},
                                       {NULL, NULL}};
  class_define(L, RESERVATION_MT, reservation_methods, reservation_close, reservation_tostring);
  luaL_setfuncs(L, functions, 0);
}
