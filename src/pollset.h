/* One descriptor a host event loop can watch for the whole engine: readable whenever
 * music.step(0) has work (a socket ready, a commit finished, a timer due). epoll + timerfd on
 * Linux, kqueue on macOS and the BSDs; none on Windows (pollset_open fails with ENOSYS). */
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
  /* Linux: what pollset_wait saw, for the next pollset_ready to hand out without asking. */
  int got_n, got_fd[POLLSET_BATCH];
  unsigned got_bits[POLLSET_BATCH];
} pollset;

/* No set yet. */
void pollset_init(pollset *ps);
/* Creates the set (with its timer) if it does not exist yet. 0 on success, else an errno. */
int pollset_open(pollset *ps);
/* Closes the set and its timer; idempotent. */
void pollset_close(pollset *ps);
/* Follows libcurl's socket callback (what: CURL_POLL_*); known: whether fd is in the set
 * already (libcurl's socketp), so that a change is one system call. */
void pollset_watch(pollset *ps, curl_socket_t fd, int what, int known);
/* Adds the wake pair's read end to the set (now, or when the set is made). */
void pollset_add_wake(pollset *ps, int fd);
/* Arms the timer to fire in ms milliseconds (0: now), or disarms it (ms < 0) and clears an
 * expiry not consumed yet. */
void pollset_arm(pollset *ps, long ms);

/* Ready libcurl sockets (timer and wake pair are consumed, not listed), at most POLLSET_BATCH,
 * as descriptors and CURL_CSELECT_* bits. Never blocks. */
int pollset_ready(pollset *ps, curl_socket_t *fds, int *bits);
/* Sleeps until the set is readable or ms milliseconds pass; returns what it saw. */
int pollset_wait(pollset *ps, int ms);

HIDDEN_END

#endif
