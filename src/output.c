/* output: where a job's audio will go, checked before the job is paid for and reserved for that one
 * job until it is finished. Owns: the existence, type and writability checks and their errors (code
 * EEXIST, ENOENT ...); the facts about a path without opening it (core.path_info); the reservation
 * beside an output ("<output>.lock": a file holding the owner's pid and job id, locked by the
 * owning process for as long as it keeps the job) and its take-over, described as work
 * (workkind.h): on a worker inside a task, since the lock may be another process's; absolute paths
 * for the journal. Must not know: downloads, the engine, the journal's format. */
#include "output.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "error.h"
#include "platform.h"
#include "workkind.h"

#define RESERVATION_MT "aimlmusic.reservation"
#define RESERVATION_SUFFIX ".lock"
#define RESERVATION_MAX 1024 /* the most of a reservation's content that is read */

static int refuse(lua_State *L, const char *path, int e, const char *why) {
  if (e == EEXIST) error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", path);
  else if (why && *path == '\0') error_fail(L, "io", "output: %s", why);
  else if (why) error_fail(L, "io", "output %s: %s", path, why);
  else return error_fail_errno(L, "io", e, "output %s", path);
  error_setstring(L, "code", error_errno_name(e));
  return 2;
}

int output_open_regular(const char *path, int follow, int flags) {
  platform_info info;
  int fd, e = EINVAL;
  if (platform_stat(path, follow, &info) != 0) return -1;
  fd = info.is_reg ? platform_open(path, flags | O_NONBLOCK, 0) : -1;
  /* Not followed, a link (ELOOP), a FIFO or a socket (ENXIO) put there meanwhile: the same. */
  if (fd < 0 && info.is_reg && (follow || (errno != ELOOP && errno != ENXIO))) return -1;
  if (fd >= 0 && platform_fstat(fd, &info) != 0) e = errno;
  else if (fd >= 0 && info.is_reg) return fd;
  if (fd >= 0) close(fd);
  errno = e;
  return -1;
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

/* t[k] = v as a decimal string, on the table at the top. */
static void set_id(lua_State *L, const char *k, unsigned long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%llu", v);
  error_setstring(L, k, buf);
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
  error_setstring(L, "type", info.is_reg ? "file" : info.is_dir ? "directory"
                                                : info.is_link  ? "link"
                                                                : "other");
  error_setint(L, "size", info.size);
  set_id(L, "dev", info.dev);
  set_id(L, "ino", info.ino);
  return 1;
}

/* core.abspath(path) --> path joined to the current directory when relative, as it is when
 * absolute: what the journal records, so that resume finds it from any directory. */
static int l_abspath(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  char *cwd;
  lua_settop(L, 1);
  if (platform_is_absolute(path)) return 1;
  cwd = platform_cwd();
  if (cwd == NULL) return error_fail_errno(L, "io", errno, "the current directory");
  lua_pushfstring(L, "%s/%s", cwd, path);
  free(cwd);
  return 1;
}

/* fd: open on "<output>.lock" (path) and locked; -1 once let go. Also the release's state. */
typedef work_held reservation;

static reservation *reservation_at(lua_State *L, int idx) {
  return (reservation *)luaL_checkudata(L, idx, RESERVATION_MT);
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

/* The job id a reservation's content names, into out (RESERVATION_MAX bytes); "" when none. */
static void reservation_owner(int fd, char *out) {
  char buf[RESERVATION_MAX + 1];
  long got = platform_pread(fd, buf, RESERVATION_MAX, 0);
  const char *p;
  out[0] = '\0';
  buf[got > 0 ? got : 0] = '\0';
  if ((p = strstr(buf, "\njob ")) != NULL) sscanf(p + 5, "%1023[^\n]", out); /* RESERVATION_MAX - 1 */
}

/* Lets a reservation's file go (idempotent): removed when it is still the one at its name (a
 * take-over may have put another there), then closed, which drops the lock. */
static void reservation_let_go(reservation *r, int remove) {
  if (r->fd >= 0 && remove && platform_same_file(r->fd, r->path)) platform_unlink(r->path);
  if (r->fd >= 0) close(r->fd);
  r->fd = -1;
  free(r->path);
  r->path = NULL;
}

/* __gc and __close: the lock goes, the file stays (a job left unfinished keeps its name for
 * resume, which takes it over: a lock nobody holds blocks no one). */
static int reservation_close(lua_State *L) {
  reservation_let_go(reservation_at(L, 1), 0);
  return 0;
}

static int reservation_tostring(lua_State *L) {
  reservation *r = reservation_at(L, 1);
  lua_pushfstring(L, "aimlmusic.reservation(%s)", r->path ? r->path : "released");
  return 1;
}

/* core.reservation_own(r, id) --> true | nil, err: the reservation now names job id. */
typedef struct {
  work_held held;
  reservation *r;
  int fd;
  const char *id;
  int err;
} own_state;

static int own_prepare(lua_State *L, int first, void *p) {
  own_state *o = (own_state *)p;
  o->r = reservation_at(L, first);
  o->id = luaL_checkstring(L, first + 1);
  o->fd = o->r->fd;
  if (o->fd < 0) return luaL_error(L, "reservation already released");
  if (strchr(o->id, '\n')) return error_fail_errno(L, "io", EINVAL, "reservation %s", o->r->path);
  return -1;
}

static void own_run(void *p) {
  own_state *o = (own_state *)p;
  o->err = reservation_write(o->fd, o->id) != 0 ? errno : 0;
}

static int own_push(lua_State *L, void *p) {
  own_state *o = (own_state *)p;
  if (o->err) return error_fail_errno(L, "io", o->err, "reservation %s", o->r->path ? o->r->path : "");
  lua_pushboolean(L, 1);
  return 1;
}

const work_kind reservation_own_kind = {"reservation_own", 2, sizeof(own_state), own_prepare, own_run,
                                        own_push};

/* core.reservation_release(r): the job is finished; its reservation goes. */
static int release_prepare(lua_State *L, int first, void *p) {
  reservation *r = reservation_at(L, first);
  *(reservation *)p = *r; /* the file is the work's now */
  *r = (reservation){-1, NULL, NULL};
  return -1;
}

static void release_run(void *p) {
  reservation_let_go((reservation *)p, 1);
}

const work_kind reservation_release_kind = {"reservation_release", 1, sizeof(reservation), release_prepare,
                                            release_run, NULL};

/* core.output_reserve(path, id, force) --> reservation | nil, err
 * Reserves path for one job: "<path>.lock" is made (O_EXCL) and locked, and stays locked while
 * the reservation lives. A reservation already there is taken over when nobody holds its lock
 * (its process ended), when it names job id (resume finishing its own job), or when force is
 * given (overwrite; a job the journal says is finished); otherwise the answer is an error of kind
 * io, code EBUSY, with err.owner the job it names when it names one. */
enum { RESERVE_OK,
       RESERVE_ERRNO,
       RESERVE_BUSY,
       RESERVE_NOT_REGULAR,
       RESERVE_CHANGING };

typedef struct {
  work_held held; /* the reservation file "<path>.lock", while it is not handed over */
  const char *path, *id;
  int force, outcome, err;
  char owner[RESERVATION_MAX];
} reserve_state;

static int reserve_prepare(lua_State *L, int first, void *p) {
  reserve_state *v = (reserve_state *)p;
  size_t n;
  v->path = luaL_checklstring(L, first, &n);
  v->id = luaL_optstring(L, first + 1, NULL);
  v->force = lua_toboolean(L, first + 2);
  if (n == 0 || memchr(v->path, '\0', n)) return refuse(L, v->path, EINVAL, "not a path");
  v->held.path = (char *)malloc(n + sizeof RESERVATION_SUFFIX);
  if (v->held.path == NULL) return luaL_error(L, "out of memory");
  memcpy(v->held.path, v->path, n);
  memcpy(v->held.path + n, RESERVATION_SUFFIX, sizeof RESERVATION_SUFFIX);
  return -1;
}

/* A failed attempt: its errno kept, fd (if open) closed. */
static int reserve_fail(reserve_state *v, int fd) {
  v->err = errno;
  if (fd >= 0) close(fd);
  return RESERVE_ERRNO;
}

/* The outcome of one attempt: RESERVE_OK with v->held.fd, another outcome, or -1 to try again. */
static int reserve_attempt(reserve_state *v) {
  const char *lockpath = v->held.path;
  int fd = platform_open(lockpath, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW, 0644);
  if (fd < 0 && errno != EEXIST) return reserve_fail(v, -1);
  /* Someone's reservation, or something else of that name: opened only if a regular file. */
  if (fd < 0 && (fd = output_open_regular(lockpath, 0, O_RDWR | O_NOFOLLOW)) < 0) {
    if (errno == ENOENT) return -1; /* let go meanwhile: make it again */
    return errno == EINVAL ? RESERVE_NOT_REGULAR : reserve_fail(v, -1);
  }
  /* A lock nobody holds (made here, or its process ended or let it go) is taken while the file
   * is still the one at the name. One made here may have been locked between open and lock by
   * another process's take-over (it found a file nobody held): then it is that one's. */
  if (platform_lock(fd, 0) == 0) {
    if (!platform_same_file(fd, lockpath)) {
      close(fd);
      return -1;
    }
    if (reservation_write(fd, v->id) != 0) return reserve_fail(v, fd);
    v->held.fd = fd;
    return RESERVE_OK;
  }
  if (errno != EWOULDBLOCK && errno != EAGAIN) return reserve_fail(v, fd);
  reservation_owner(fd, v->owner);
  if (v->force || (v->id && strcmp(v->owner, v->id) == 0)) {
    /* A live process holds it, and it may be taken: its name is given to a new one. */
    if (platform_same_file(fd, lockpath)) platform_unlink(lockpath);
    close(fd);
    return -1;
  }
  close(fd);
  return RESERVE_BUSY;
}

static void reserve_run(void *p) {
  reserve_state *v = (reserve_state *)p;
  int attempt, o = -1;
  for (attempt = 0; attempt < 20 && o < 0; attempt++) o = reserve_attempt(v);
  v->outcome = o < 0 ? RESERVE_CHANGING : o;
}

static int reserve_push(lua_State *L, void *p) {
  reserve_state *v = (reserve_state *)p;
  switch (v->outcome) {
    case RESERVE_OK: {
      reservation *r = (reservation *)class_new(L, RESERVATION_MT, sizeof *r);
      *r = v->held; /* the reservation's now, locked, with its content written */
      v->held = (work_held){-1, NULL, NULL};
      return 1;
    }
    case RESERVE_BUSY:
      if (v->owner[0])
        error_fail(L, "io", "output %s is reserved by job %s, not finished yet (pass overwrite = true to take it)", v->path,
                   v->owner);
      else
        error_fail(L, "io", "output %s is reserved by a job being submitted (pass overwrite = true to take it)", v->path);
      error_setstring(L, "code", "EBUSY");
      error_setstring(L, "owner", v->owner[0] ? v->owner : NULL);
      return 2;
    case RESERVE_NOT_REGULAR:
      error_fail(L, "io", "output %s: its reservation %s is not a regular file", v->path, v->held.path);
      error_setstring(L, "code", "EINVAL");
      return 2;
    case RESERVE_CHANGING:
      return error_fail(L, "io", "output %s: its reservation %s keeps changing", v->path, v->held.path);
    default:
      return error_fail_errno(L, "io", v->err, "reserving output %s", v->path);
  }
}

const work_kind output_reserve_kind = {"output_reserve", 3, sizeof(reserve_state), reserve_prepare, reserve_run,
                                       reserve_push};

void output_open(lua_State *L) {
  static const luaL_Reg functions[] = {
      {"output_check", l_output_check}, {"path_info", l_path_info}, {"abspath", l_abspath}, {NULL, NULL}};
  class_define(L, RESERVATION_MT, NULL, reservation_close, reservation_tostring);
  luaL_setfuncs(L, functions, 0);
}
