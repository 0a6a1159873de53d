/* One descriptor a host event loop can watch for the whole engine: readable whenever
 * music.step(0) has work (a libcurl socket is ready, a commit finished, libcurl's timer or the
 * scheduler's next wake-up is due). epoll + timerfd on Linux, kqueue on macOS and the BSDs.
 * Windows has no such descriptor: pollfd_open fails there, and music.pollfd() says so. */
#ifndef AIMLMUSIC_POLLFD_H
#define AIMLMUSIC_POLLFD_H

#include "engine.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Creates the set (with its timer) if it does not exist yet. 0 on success, else an errno. */
int pollfd_open(engine *e);
/* Closes the set and its timer; idempotent. */
void pollfd_close(engine *e);
/* Follows libcurl's socket callback: what is CURL_POLL_IN, _OUT, _INOUT or _REMOVE; known
 * says whether fd is in the set already (libcurl's socketp, set by the engine on the first
 * call), so that a change is one system call. */
void pollfd_watch(engine *e, curl_socket_t fd, int what, int known);
/* Adds the wake pipe's read end to the set. */
void pollfd_add_wake(engine *e, int fd);
/* Arms the timer to fire in ms milliseconds (0: now), or disarms it (ms < 0), clearing an
 * expiry that was not consumed yet. */
void pollfd_arm(engine *e, long ms);

/* Ready libcurl sockets (timer and wake pipe are consumed, not listed), at most max, as
 * descriptors and CURL_CSELECT_* bits. Never blocks. */
int pollfd_ready(engine *e, curl_socket_t *fds, int *bits, int max);
/* Sleeps until the set is readable or ms milliseconds pass. */
int pollfd_wait(engine *e, int ms);

/* Sockets handed to libcurl per step; more stay ready for the next one. */
#define POLLFD_BATCH 64

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
