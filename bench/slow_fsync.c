/* slow_fsync: an LD_PRELOAD shim that makes every fsync and fdatasync of the process take
 * SLOW_FSYNC_MS milliseconds longer (0 or unset: no delay), as a slow or busy disk would, so the
 * bench can show what the library holds in memory while its commits wait for the disk.
 * cc -shared -fPIC -O2 -o slow_fsync.so bench/slow_fsync.c -ldl */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int fsync(int fd);
int fdatasync(int fd);

static void slow_fsync_wait(void) {
  const char *v = getenv("SLOW_FSYNC_MS");
  long ms = v ? strtol(v, NULL, 10) : 0;
  struct timespec ts;
  if (ms <= 0) return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0) {
  }
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
