/* platform: every call that differs between POSIX systems (Linux, macOS, the BSDs) and Windows.
 * Owns: threads, the wake pair, opening files (O_EXCL, never inherited), fsync of a file and of
 * a directory, moving a file into place with or without replacing, file locks, file facts,
 * directory listing, mkdir, isatty, Ctrl-C counting, waiting on one socket, a monotonic clock,
 * atomic loads and stores.
 * platform_posix.c implements it with POSIX calls only (no pipe2, accept4, MSG_NOSIGNAL,
 * fdatasync, O_TMPFILE); platform_win32.c with the Win32 API, paths taken as UTF-8 and turned
 * into wide strings. Must not know: Lua, libcurl, the engine, transfers.
 *
 * Conventions: functions that can fail return 0, or -1 with errno set (the Windows side maps
 * its error codes to errno values); paths are UTF-8; a file is a C runtime descriptor (int),
 * read and written with read()/write() and closed with close() on both sides. */
#ifndef AIMLMUSIC_PLATFORM_H
#define AIMLMUSIC_PLATFORM_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(_WIN32)
#include <io.h>
#include <sys/types.h>
/* Flags POSIX has and Windows (MSVC's and mingw-w64's C runtime) does not: there they mean
 * nothing, so they are no-ops. */
#define O_NOFOLLOW 0
#define O_NONBLOCK 0
#define O_NOCTTY 0
#else
#include <pthread.h>
#include <unistd.h>
#endif

#include "hidden.h"

HIDDEN_BEGIN

/* ---- threads ---- */
/* For clang's thread safety analysis (-Wthread-safety, run by make analyze): a mutex is a
 * capability, and the lock functions say what they take, release or need held; their own
 * bodies are not analysed (PLATFORM_NO_LOCK_ANALYSIS). */
#if defined(__clang__)
#define PLATFORM_LOCK_ATTR(a) __attribute__((a))
#else
#define PLATFORM_LOCK_ATTR(a)
#endif
#define PLATFORM_NO_LOCK_ANALYSIS PLATFORM_LOCK_ATTR(no_thread_safety_analysis)
#if defined(_WIN32)
typedef void *platform_thread; /* a HANDLE */
typedef struct {
  void *ptr; /* an INIT_ONCE */
} platform_once;
#define PLATFORM_ONCE_INIT \
  { 0 }
/* Laid out as SRWLOCK and CONDITION_VARIABLE: one pointer each, zero when ready to use. */
typedef struct PLATFORM_LOCK_ATTR(capability("mutex")) {
  void *ptr;
} platform_mutex;
typedef struct {
  void *ptr;
} platform_cond;
#else
typedef pthread_t platform_thread;
typedef pthread_once_t platform_once;
#define PLATFORM_ONCE_INIT PTHREAD_ONCE_INIT
typedef pthread_mutex_t platform_mutex PLATFORM_LOCK_ATTR(capability("mutex"));
typedef pthread_cond_t platform_cond;
#endif

/* Starts fn(arg) on a new thread; 0, or an errno value. */
int platform_thread_start(platform_thread *t, void *(*fn)(void *), void *arg);
/* Waits for the thread to end and releases it. */
void platform_thread_join(platform_thread t);
/* Runs fn once per process, whichever thread comes first; the others wait for it. */
void platform_once_run(platform_once *once, void (*fn)(void));
/* A mutex and a condition variable (POSIX threads; SRW lock and condition variable on Windows).
 * init returns 0 or an errno value; wait releases m while it sleeps, as pthread_cond_wait. */
int platform_mutex_init(platform_mutex *m);
void platform_mutex_destroy(platform_mutex *m);
void platform_mutex_lock(platform_mutex *m) PLATFORM_LOCK_ATTR(acquire_capability(*m));
void platform_mutex_unlock(platform_mutex *m) PLATFORM_LOCK_ATTR(release_capability(*m));
int platform_cond_init(platform_cond *c);
void platform_cond_destroy(platform_cond *c);
void platform_cond_wait(platform_cond *c, platform_mutex *m) PLATFORM_LOCK_ATTR(requires_capability(*m));
void platform_cond_signal(platform_cond *c);
void platform_cond_broadcast(platform_cond *c);
/* An int written under a lock and read without it on a hot path (once per call of libcurl's
 * write callback): the store releases and the load acquires. The module's only atomics. */
static inline int platform_load_acquire(const int *p) {
  return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
static inline void platform_store_release(int *p, int v) {
  __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* ---- the wake pair ----
 * Two connected non-blocking ends: a worker thread signals on [1], the loop watches [0]
 * (with poll, epoll, kqueue, curl_multi_poll's extra descriptors, or a host loop). A pipe on
 * POSIX; a loopback TCP socket pair on Windows, where only sockets can be polled. */
#if defined(_WIN32)
typedef uintptr_t platform_sock; /* a SOCKET */
#define PLATFORM_SOCK_NONE ((platform_sock) ~(uintptr_t)0)
#else
typedef int platform_sock;
#define PLATFORM_SOCK_NONE (-1)
#endif
int platform_wake_open(platform_sock pair[2]);
/* Writes one byte to the write end; a full pipe already wakes the reader, so that is fine. */
void platform_wake_signal(platform_sock w);
/* Reads everything pending on the read end. */
void platform_wake_drain(platform_sock r);
/* Closes both ends, if open, and marks them PLATFORM_SOCK_NONE. */
void platform_wake_close(platform_sock pair[2]);
/* Waits until s is readable or ms milliseconds pass (ms < 0: no limit): 1 readable, 0 time
 * out, -1 error; an interrupted wait is resumed. */
int platform_wait_readable(platform_sock s, int ms);

/* ---- files ---- */
/* The last directory separator in path ('/'; on Windows '\\' too), or NULL. */
static inline const char *platform_last_sep(const char *path) {
  const char *last = NULL;
  for (; *path; path++)
#if defined(_WIN32)
    if (*path == '/' || *path == '\\') last = path;
#else
    if (*path == '/') last = path;
#endif
  return last;
}
/* Whether path is absolute: "/x"; on Windows also "\\x" and "C:\\x" (or "C:/x"). */
static inline int platform_is_absolute(const char *path) {
#if defined(_WIN32)
  if (path[0] == '\\') return 1;
  if (path[0] && path[1] == ':' && (path[2] == '\\' || path[2] == '/')) return 1;
#endif
  return path[0] == '/';
}
/* The directory holding path as a new string (free it): "." for a bare name, the root for a
 * name in the root. NULL when out of memory. */
static inline char *platform_parent(const char *path) {
  const char *sep = platform_last_sep(path);
  size_t n = sep ? (size_t)(sep - path) : 1;
  char *dir;
#if defined(_WIN32)
  if (sep && n == 2 && path[1] == ':') n++; /* "C:\x": the drive's root, its separator kept */
#endif
  if (sep && n == 0) n++; /* "/x": the root */
  dir = (char *)malloc(n + 1);
  if (dir == NULL) return NULL;
  memcpy(dir, sep ? path : ".", n);
  dir[n] = '\0';
  return dir;
}
/* open(2) with O_RDONLY, O_WRONLY or O_RDWR and any of O_CREAT | O_EXCL (always together),
 * O_APPEND, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY; never inherited by a child process. On Windows
 * the file is binary and shared for reading, writing and deleting, so that a file open here
 * can be renamed or removed as on POSIX. */
int platform_open(const char *path, int flags, int mode);
/* Flushes the file's data and metadata to the device (fsync; FlushFileBuffers). */
int platform_fsync(int fd);
/* Makes the names in the directory holding path durable (fsync of the directory). Where the
 * system cannot sync a directory (some file systems; Windows, whose file systems journal
 * names and where platform_rename writes through), it succeeds. */
int platform_sync_parent(const char *path);
/* Moves from to to, replacing to if it exists; on one file system, atomic. */
int platform_rename(const char *from, const char *to);
/* Gives the file from the name to as well, never replacing: fails with EEXIST when to exists.
 * A hard link (link; CreateHardLinkW), so from stays until removed; where the file system has
 * no hard links, a move that does not replace. */
int platform_link_noreplace(const char *from, const char *to);
int platform_unlink(const char *path);
/* Reads n bytes at offset off without moving the file position (pread); the count, or -1. */
long platform_pread(int fd, void *buf, size_t n, long long off);
/* Writes all n bytes at the file position (write; WriteFile, again after a short write): 0, or
 * -1 with errno set (ENOSPC when the disk is full, whatever the C library would make of a short
 * write). */
int platform_write(int fd, const void *buf, size_t n);

/* A whole-file advisory lock, held by the open file (flock; LockFileEx). wait: block until it
 * is free, else fail with EWOULDBLOCK at once. */
int platform_lock(int fd, int wait);
int platform_unlock(int fd);

typedef struct {
  int is_dir, is_reg, is_link; /* none of them: a FIFO, a device, a socket */
  long long size;
  /* The file's identity: device and inode (volume serial number and file index on Windows);
   * 0 and 0 where the system cannot say. */
  unsigned long long dev, ino;
} platform_info;
/* Facts about path (follow: through a symbolic link) or an open file. Never opens what path
 * names for reading or writing: a FIFO or a device there cannot make it wait. */
int platform_stat(const char *path, int follow, platform_info *out);
int platform_fstat(int fd, platform_info *out);
/* True when fd is open on the file path names now (the same device and inode, both known). */
static inline int platform_same_file(int fd, const char *path) {
  platform_info a, b;
  return platform_fstat(fd, &a) == 0 && platform_stat(path, 1, &b) == 0 && (a.dev || a.ino) && a.dev == b.dev &&
         a.ino == b.ino;
}
/* Empties the open file and moves its position to 0 (ftruncate and lseek). */
int platform_truncate(int fd);
/* Replaces the whole content of the open file with n bytes at buf. */
static inline int platform_rewrite(int fd, const void *buf, size_t n) {
  return platform_truncate(fd) != 0 ? -1 : platform_write(fd, buf, n);
}
/* The current directory as a new UTF-8 string (free it), or NULL with errno set. */
char *platform_cwd(void);
/* 0 when new files can be made in dir, known to be a directory (access W_OK | X_OK), else -1. */
int platform_dir_writable(const char *dir);
/* mkdir with mode 0700 (the ACL the parent gives, on Windows). */
int platform_mkdir(const char *path);

/* Names in a directory, "." and ".." included, as UTF-8. */
typedef struct platform_dir platform_dir;
platform_dir *platform_opendir(const char *path);
/* The next name, valid until the next call; NULL at the end. */
const char *platform_readdir(platform_dir *d);
void platform_closedir(platform_dir *d);

/* ---- the process ---- */
/* The message for the errno value err, written into buf (size bytes; 128 is enough), which it
 * returns: strerror_r; strerror_s. strerror itself may share one buffer between threads. */
#define PLATFORM_STRERROR_SIZE 128
const char *platform_strerror(int err, char *buf, size_t size);

/* Lines written to stdout and stderr end in "\n" alone, as on POSIX (the C library's text mode
 * would make it "\r\n" on Windows: a stray "\r" in what a script reads). */
void platform_stdio_lf(void);
int platform_isatty(int fd);
/* From now on Ctrl-C (SIGINT; the console's Ctrl-C event) increments a counter instead of
 * ending the process; the counter starts at 0. POSIX: a blocking wait returns early when it
 * arrives (no SA_RESTART). */
int platform_sigint_catch(void);
int platform_sigint_count(void);
/* Seconds on a monotonic clock, for deadlines that ignore changes of the wall clock. */
double platform_now(void);
/* The calling process's id, for making names unlikely to collide. */
unsigned long platform_pid(void);

HIDDEN_END

#endif
