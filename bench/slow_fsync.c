/* slow_fsync: an LD_PRELOAD shim that makes every fsync and fdatasync of the process take
 * SLOW_FSYNC_MS milliseconds longer, and every write to a regular file SLOW_WRITE_US
 * microseconds longer (0 or unset: no delay), as a slow or busy disk would, so that the bench
 * and spec/backlog_spec.lua can show what the library holds in memory while it waits for the
 * disk. With SLOW_FSYNC_MARK=P, the first slowed fsync creates the file P.began as it starts
 * and P.ended once it is over, so a test can act while one is under way.
 * cc -shared -fPIC -O2 -o slow_fsync.so bench/slow_fsync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);
ssize_t write(int fd, const void *buf, size_t n);

/* Sleeps for the microseconds the environment variable name says. */
static void slow_fsync_sleep(const char *name, long scale) {
  const char *v = getenv(name);
  long us = v ? strtol(v, NULL, 10) * scale : 0;
  struct timespec ts;
  if (us <= 0) return;
  ts.tv_sec = us / 1000000L;
  ts.tv_nsec = (us % 1000000L) * 1000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
}

/* P.<what> for SLOW_FSYNC_MARK=P, made once. */
static void slow_fsync_mark(const char *what) {
  const char *p = getenv("SLOW_FSYNC_MARK");
  char path[4096];
  int fd;
  if (p == NULL || snprintf(path, sizeof path, "%s.%s", p, what) >= (int)sizeof path) return;
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0644);
  if (fd >= 0) close(fd);
}

static void slow_fsync_wait(void) {
  static int marked; /* the first fsync only (several workers may race here: harmless) */
  int mark = !marked;
  marked = 1;
  if (mark) slow_fsync_mark("began");
  slow_fsync_sleep("SLOW_FSYNC_MS", 1000);
  if (mark) slow_fsync_mark("ended");
}

/* The next definition of name (libc's): POSIX's dlsym returns functions as data pointers. */
static int (*slow_fsync_next(const char *name))(int) {
  void *p = dlsym(RTLD_NEXT, name);
  int (*f)(int);
  memcpy(&f, &p, sizeof f);
  return f;
}

int fsync(int fd) {
  slow_fsync_wait();
  return slow_fsync_next("fsync")(fd);
}

int fdatasync(int fd) {
  slow_fsync_wait();
  return slow_fsync_next("fdatasync")(fd);
}

ssize_t write(int fd, const void *buf, size_t n) {
  struct stat st;
  void *p = dlsym(RTLD_NEXT, "write");
  ssize_t (*next)(int, const void *, size_t);
  memcpy(&next, &p, sizeof next);
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) slow_fsync_sleep("SLOW_WRITE_US", 1);
  return next(fd, buf, n);
}
