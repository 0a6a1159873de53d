/* platform_posix: platform.h on Linux, macOS and the BSDs, with POSIX.1-2008 calls only, plus
 * flock (4.2BSD) and getcwd(NULL, 0)'s allocation, both on all of them. Compiled everywhere;
 * empty on Windows.
 * Owns: the POSIX side of every call platform.h lists. Must not know: Lua, libcurl, the
 * engine. */
#if !defined(_WIN32)

/* flock is 4.2BSD, not POSIX: glibc and musl show it with _DEFAULT_SOURCE; macOS and the BSDs
 * hide it whenever _POSIX_C_SOURCE is set, so this file asks for its system's full set. */
#undef _POSIX_C_SOURCE
#define _DEFAULT_SOURCE 1
#define _DARWIN_C_SOURCE 1
#define _NETBSD_SOURCE 1

#include "platform.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

int platform_thread_start(platform_thread *t, void *(*fn)(void *), void *arg) {
  return pthread_create(t, NULL, fn, arg);
}

int platform_mutex_init(platform_mutex *m) {
  return pthread_mutex_init(m, NULL);
}

void platform_mutex_destroy(platform_mutex *m) {
  pthread_mutex_destroy(m);
}

PLATFORM_NO_LOCK_ANALYSIS void platform_mutex_lock(platform_mutex *m) {
  pthread_mutex_lock(m);
}

PLATFORM_NO_LOCK_ANALYSIS void platform_mutex_unlock(platform_mutex *m) {
  pthread_mutex_unlock(m);
}

int platform_cond_init(platform_cond *c) {
  return pthread_cond_init(c, NULL);
}

void platform_cond_destroy(platform_cond *c) {
  pthread_cond_destroy(c);
}

void platform_cond_wait(platform_cond *c, platform_mutex *m) {
  pthread_cond_wait(c, m);
}

void platform_cond_signal(platform_cond *c) {
  pthread_cond_signal(c);
}

void platform_cond_broadcast(platform_cond *c) {
  pthread_cond_broadcast(c);
}

void platform_thread_join(platform_thread t) {
  pthread_join(t, NULL);
}

void platform_once_run(platform_once *once, void (*fn)(void)) {
  pthread_once(once, fn);
}

/* Close-on-exec and non-blocking, set after pipe(): pipe2 is not on every system. */
static void set_flags(int fd) {
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

int platform_wake_open(platform_sock pair[2]) {
  if (pipe(pair) != 0) return -1;
  set_flags(pair[0]);
  set_flags(pair[1]);
  return 0;
}

void platform_wake_signal(platform_sock w) {
  platform_write(w, "", 1);
}

void platform_wake_drain(platform_sock r) {
  char buf[64];
  ssize_t n;
  do n = read(r, buf, sizeof buf);
  while (n > 0 || (n < 0 && errno == EINTR));
}

void platform_wake_close(platform_sock pair[2]) {
  int i;
  for (i = 0; i < 2; i++) {
    if (pair[i] >= 0) close(pair[i]);
    pair[i] = PLATFORM_SOCK_NONE;
  }
}

int platform_wait_readable(platform_sock s, int ms) {
  struct pollfd p = {0};
  int rc;
  p.fd = s;
  p.events = POLLIN;
  do rc = poll(&p, 1, ms);
  while (rc < 0 && errno == EINTR);
  return rc;
}

int platform_open(const char *path, int flags, int mode) {
  int fd;
  do fd = open(path, flags | O_CLOEXEC, mode);
  while (fd < 0 && errno == EINTR);
  return fd;
}

int platform_fsync(int fd) {
  int rc;
  do rc = fsync(fd);
  while (rc != 0 && errno == EINTR);
  return rc;
}

int platform_sync_parent(const char *path) {
  char *dir = platform_parent(path);
  int fd = dir ? platform_open(dir, O_RDONLY | O_DIRECTORY, 0) : -1, rc = 0, e;
  if (dir == NULL) errno = ENOMEM;
  free(dir);
  if (fd < 0) return -1;
  /* Some file systems cannot sync a directory (EINVAL): they keep names by other means. */
  if (platform_fsync(fd) != 0 && errno != EINVAL) rc = -1;
  e = errno;
  close(fd);
  errno = e;
  return rc;
}

int platform_rename(const char *from, const char *to) {
  return rename(from, to);
}

int platform_link_noreplace(const char *from, const char *to) {
  struct stat sb;
  /* link() fails with EEXIST instead of replacing: no window where a file could be lost. */
  if (link(from, to) == 0) return 0;
  if (errno == EEXIST) return -1;
  /* No hard links here (some file systems): a move, unless the name is taken. */
  if (lstat(to, &sb) == 0) {
    errno = EEXIST;
    return -1;
  }
  return rename(from, to);
}

int platform_unlink(const char *path) {
  return unlink(path);
}

long platform_pread(int fd, void *buf, size_t n, long long off) {
  ssize_t r;
  do r = pread(fd, buf, n, (off_t)off);
  while (r < 0 && errno == EINTR);
  return (long)r;
}

int platform_write(int fd, const void *buf, size_t n) {
  const char *p = (const char *)buf;
  ssize_t r;
  for (; n > 0; p += r, n -= (size_t)r) {
    do r = write(fd, p, n);
    while (r < 0 && errno == EINTR);
    if (r < 0) return -1;
  }
  return 0;
}

int platform_lock(int fd, int wait) {
  int rc;
  do rc = flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB);
  while (rc != 0 && errno == EINTR);
  return rc;
}

int platform_unlock(int fd) {
  return flock(fd, LOCK_UN);
}

static void fill_info(const struct stat *sb, platform_info *out) {
  out->is_dir = S_ISDIR(sb->st_mode) != 0;
  out->is_reg = S_ISREG(sb->st_mode) != 0;
  out->is_link = S_ISLNK(sb->st_mode) != 0;
  out->size = (long long)sb->st_size;
  out->dev = (unsigned long long)sb->st_dev;
  out->ino = (unsigned long long)sb->st_ino;
}

int platform_stat(const char *path, int follow, platform_info *out) {
  struct stat sb;
  if ((follow ? stat(path, &sb) : lstat(path, &sb)) != 0) return -1;
  fill_info(&sb, out);
  return 0;
}

int platform_fstat(int fd, platform_info *out) {
  struct stat sb;
  if (fstat(fd, &sb) != 0) return -1;
  fill_info(&sb, out);
  return 0;
}

int platform_truncate(int fd) {
  int rc;
  do rc = ftruncate(fd, 0);
  while (rc != 0 && errno == EINTR);
  return rc != 0 || lseek(fd, 0, SEEK_SET) < 0 ? -1 : 0;
}

char *platform_cwd(void) {
  return getcwd(NULL, 0);
}

int platform_dir_writable(const char *dir) {
  return access(dir, W_OK | X_OK);
}

int platform_mkdir(const char *path) {
  return mkdir(path, 0700);
}

/* A platform_dir is the DIR itself. */
platform_dir *platform_opendir(const char *path) {
  return (platform_dir *)opendir(path);
}

const char *platform_readdir(platform_dir *pd) {
  /* The analyser's concurrency-mt-unsafe is wrong here: readdir shares no state between
   * directory streams (POSIX.1-2024; glibc, musl, macOS and the BSDs keep it in the DIR), and a
   * platform_dir is read by one thread at a time. */
  struct dirent *ent = readdir((DIR *)pd); /* NOLINT(concurrency-mt-unsafe) */
  return ent ? ent->d_name : NULL;
}

void platform_closedir(platform_dir *pd) {
  if (pd != NULL) closedir((DIR *)pd);
}

const char *platform_strerror(int err, char *buf, size_t size) {
  if (strerror_r(err, buf, size) != 0) snprintf(buf, size, "error %d", err); /* the XSI one */
  return buf;
}

void platform_stdio_lf(void) {
}

int platform_isatty(int fd) {
  return fd >= 0 && isatty(fd) == 1;
}

/* Signals are process-wide: this counter is the one piece of state that is too. */
static volatile sig_atomic_t sigint_seen = 0;

static void on_sigint(int sig) {
  (void)sig;
  if (sigint_seen < 1000) sigint_seen++;
}

int platform_sigint_catch(void) {
  struct sigaction sa = {0}; /* sa_flags 0, no SA_RESTART: an interrupted wait returns */
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, NULL) != 0) return -1;
  sigint_seen = 0;
  return 0;
}

int platform_sigint_count(void) {
  return (int)sigint_seen;
}

double platform_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

unsigned long platform_pid(void) {
  return (unsigned long)getpid();
}

#else
/* ISO C wants something in every translation unit. */
typedef int platform_posix_unused;
#endif
