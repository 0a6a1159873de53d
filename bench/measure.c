/* measure: runs a command and writes "wall user sys maxrss_kib" of it to a file.
 *
 *   measure OUT command [args...]
 *
 * The same thing /usr/bin/time -f "%e %U %S %M" reports, from wait4()'s rusage, but with
 * microsecond resolution (GNU time prints hundredths). The rusage covers the command and every
 * descendant it waited for (the sh and curl processes of io.popen, for instance); max RSS is
 * the largest of them. Exits with the command's status. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  struct timespec t0, t1;
  struct rusage ru;
  int status = 0;
  pid_t pid;
  FILE *out;
  if (argc < 3) {
    fprintf(stderr, "usage: measure OUT command [args...]\n");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t0);
  pid = fork();
  if (pid < 0) {
    perror("measure: fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror("measure: exec");
    _exit(127);
  }
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("measure: wait4");
    return 2;
  }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  out = fopen(argv[1], "w");
  if (out == NULL) {
    perror(argv[1]);
    return 2;
  }
  fprintf(out, "%.6f %.6f %.6f %ld\n",
          (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9, seconds(ru.ru_utime),
          seconds(ru.ru_stime), ru.ru_maxrss);
  fclose(out);
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}
