/* One descriptor a host event loop can watch for the whole engine: readable whenever
 * music.step(0) has work (a libcurl socket is ready, a commit finished, libcurl's timer or the
 * scheduler's next wake-up is due). epoll + timerfd on Linux, kqueue on macOS and the BSDs.
 * Windows has no such descriptor: pollset_open fails there, and music.pollfd() says so. */
#ifndef AIMLMUSIC_POLLSET_H
#define AIMLMUSIC_POLLSET_H

#include <curl/curl.h>

#include "hidden.h"

HIDDEN_BEGIN

/* Sockets handed to libcurl per step; more stay ready for the next one. */
#define POLLSET_BATCH 64

typedef struct pollset {
  int fd, timer_fd; /* the set and its timer; -1 when there is none */
  int wake_fd;      /* the wake descriptor's read end, once added (-1: none) */
  /* Linux: what pollset_wait saw (got_n events, got_fd and got_bits), for the next
   * pollset_ready to hand out instead of asking again. */
  int got_n, got_fd[POLLSET_BATCH];
  unsigned got_bits[POLLSET_BATCH];
} pollset;

/* No set yet. */
void pollset_init(pollset *ps);
/* Creates the set (with its timer) if it does not exist yet. 0 on success, else an errno. */
int pollset_open(pollset *ps);
/* Closes the set and its timer; idempotent. */
void pollset_close(pollset *ps);
/* Follows libcurl's socket callback: what is CURL_POLL_IN, _OUT, _INOUT or _REMOVE; known
 * says whether fd is in the set already (libcurl's socketp, set by the engine on the first
 * call), so that a change is one system call. */
void pollset_watch(pollset *ps, curl_socket_t fd, int what, int known);
/* Adds the wake pair's read end to the set (now, or when the set is made). */
void pollset_add_wake(pollset *ps, int fd);
/* Arms the timer to fire in ms milliseconds (0: now), or disarms it (ms < 0), clearing an
 * expiry that was not consumed yet. */
void pollset_arm(pollset *ps, long ms);

/* Ready libcurl sockets (timer and wake pair are consumed, not listed), at most POLLSET_BATCH,
 * as descriptors and CURL_CSELECT_* bits. Never blocks. */
int pollset_ready(pollset *ps, curl_socket_t *fds, int *bits);
/* Sleeps until the set is readable or ms milliseconds pass; on Linux what it saw is what the
 * next pollset_ready hands out. */
int pollset_wait(pollset *ps, int ms);

HIDDEN_END

#endif
