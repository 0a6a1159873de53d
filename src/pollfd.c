/* pollfd: the engine's one pollable descriptor (see pollfd.h). Owns: the epoll (Linux) or
 * kqueue (macOS, BSDs) set, its timer, and the libcurl sockets in it. Must not know: transfers,
 * Lua values, what a step does with the sockets it hands back.
 * A set of descriptors that is itself a descriptor: the loop watching it learns "step(0) has
 * work" and nothing more; step(0) then does the work, and re-arms the timer from what is left. */
#include "pollfd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "platform.h"

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/timerfd.h>
#define POLLFD_EPOLL 1
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <time.h>
#define POLLFD_KQUEUE 1
/* The ident of the one timer in the set; sockets use their descriptor as ident, in other filters. */
#define POLLFD_TIMER_ID 1
#endif

#if defined(POLLFD_EPOLL) || defined(POLLFD_KQUEUE)
/* Sleeps until the set is readable or ms pass (ms < 0: no limit). */
int pollfd_wait(engine *e, int ms) {
  return platform_wait_readable(e->poll_fd, ms);
}
#else
int pollfd_wait(engine *e, int ms) {
  (void)e;
  (void)ms;
  return 0;
}
#endif

#if defined(POLLFD_EPOLL)

int pollfd_open(engine *e) {
  struct epoll_event ev;
  if (e->poll_fd >= 0) return 0;
  e->poll_fd = epoll_create1(EPOLL_CLOEXEC);
  if (e->poll_fd < 0) return errno;
  e->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (e->timer_fd < 0) {
    int err = errno;
    pollfd_close(e);
    return err;
  }
  ev.events = EPOLLIN;
  ev.data.fd = e->timer_fd;
  if (epoll_ctl(e->poll_fd, EPOLL_CTL_ADD, e->timer_fd, &ev) != 0) {
    int err = errno;
    pollfd_close(e);
    return err;
  }
  if (e->wake_fd[0] >= 0) pollfd_add_wake(e, e->wake_fd[0]);
  return 0;
}

void pollfd_close(engine *e) {
  if (e->timer_fd >= 0) close(e->timer_fd);
  if (e->poll_fd >= 0) close(e->poll_fd);
  e->timer_fd = e->poll_fd = -1;
}

void pollfd_watch(engine *e, curl_socket_t fd, int what, int known) {
  struct epoll_event ev;
  if (e->poll_fd < 0) return;
  if (what == CURL_POLL_REMOVE) {
    /* The socket may be closed already, which removed it: ENOENT and EBADF are expected. */
    epoll_ctl(e->poll_fd, EPOLL_CTL_DEL, fd, NULL);
    return;
  }
  ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  ev.data.fd = fd;
  /* A descriptor closed and reused behind libcurl's back would be unknown to the set, and one
   * added twice EEXIST: each falls back to the other operation. */
  if (known) {
    if (epoll_ctl(e->poll_fd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT)
      epoll_ctl(e->poll_fd, EPOLL_CTL_ADD, fd, &ev);
  } else if (epoll_ctl(e->poll_fd, EPOLL_CTL_ADD, fd, &ev) != 0 && errno == EEXIST) {
    epoll_ctl(e->poll_fd, EPOLL_CTL_MOD, fd, &ev);
  }
}

void pollfd_add_wake(engine *e, int fd) {
  struct epoll_event ev;
  if (e->poll_fd < 0) return;
  ev.events = EPOLLIN;
  ev.data.fd = fd;
  epoll_ctl(e->poll_fd, EPOLL_CTL_ADD, fd, &ev);
}

void pollfd_arm(engine *e, long ms) {
  struct itimerspec its;
  if (e->timer_fd < 0) return;
  its.it_interval.tv_sec = its.it_interval.tv_nsec = 0;
  if (ms < 0) {
    its.it_value.tv_sec = its.it_value.tv_nsec = 0; /* disarms, and clears an unread expiry */
  } else {
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = (ms % 1000) * 1000000L;
    if (ms == 0) its.it_value.tv_nsec = 1; /* zero would disarm: the nearest "now" instead */
  }
  timerfd_settime(e->timer_fd, 0, &its, NULL);
}

int pollfd_ready(engine *e, curl_socket_t *fds, int *bits, int max) {
  struct epoll_event evs[POLLFD_BATCH];
  int i, n, k = 0;
  if (e->poll_fd < 0) return 0;
  if (max > POLLFD_BATCH) max = POLLFD_BATCH;
  n = epoll_wait(e->poll_fd, evs, max, 0);
  for (i = 0; i < n; i++) {
    int fd = evs[i].data.fd;
    if (fd == e->timer_fd) {
      uint64_t ticks;
      if (read(fd, &ticks, sizeof ticks) < 0) { /* EAGAIN: already consumed */
      }
      continue;
    }
    if (fd == e->wake_fd[0]) continue; /* commit_reap drains it */
    fds[k] = fd;
    bits[k] = (evs[i].events & (EPOLLIN | EPOLLHUP) ? CURL_CSELECT_IN : 0) |
              (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) | (evs[i].events & EPOLLERR ? CURL_CSELECT_ERR : 0);
    k++;
  }
  return k;
}

#elif defined(POLLFD_KQUEUE)

static void pollfd_change(engine *e, uintptr_t ident, short filter, unsigned short flags, intptr_t data) {
  struct kevent kev;
  EV_SET(&kev, ident, filter, flags, 0, data, NULL);
  kevent(e->poll_fd, &kev, 1, NULL, 0, NULL);
}

int pollfd_open(engine *e) {
  if (e->poll_fd >= 0) return 0;
  e->poll_fd = kqueue();
  if (e->poll_fd < 0) return errno;
  fcntl(e->poll_fd, F_SETFD, FD_CLOEXEC);
  if (e->wake_fd[0] >= 0) pollfd_add_wake(e, e->wake_fd[0]);
  return 0;
}

void pollfd_close(engine *e) {
  if (e->poll_fd >= 0) close(e->poll_fd);
  e->poll_fd = -1;
}

void pollfd_watch(engine *e, curl_socket_t fd, int what, int known) {
  (void)known; /* EV_ADD adds or changes */
  if (e->poll_fd < 0) return;
  /* Deleting a filter that was never added fails with ENOENT, harmlessly. */
  pollfd_change(e, (uintptr_t)fd, EVFILT_READ, what & CURL_POLL_IN ? EV_ADD : EV_DELETE, 0);
  pollfd_change(e, (uintptr_t)fd, EVFILT_WRITE, what & CURL_POLL_OUT ? EV_ADD : EV_DELETE, 0);
}

void pollfd_add_wake(engine *e, int fd) {
  if (e->poll_fd >= 0) pollfd_change(e, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0);
}

void pollfd_arm(engine *e, long ms) {
  if (e->poll_fd < 0) return;
  /* Deleting the timer also drops an expiry that is pending and not retrieved. */
  pollfd_change(e, POLLFD_TIMER_ID, EVFILT_TIMER, EV_DELETE, 0);
  if (ms >= 0) pollfd_change(e, POLLFD_TIMER_ID, EVFILT_TIMER, EV_ADD | EV_ONESHOT, ms);
}

int pollfd_ready(engine *e, curl_socket_t *fds, int *bits, int max) {
  struct kevent evs[POLLFD_BATCH];
  struct timespec zero = {0, 0};
  int i, n, k = 0;
  if (e->poll_fd < 0) return 0;
  if (max > POLLFD_BATCH) max = POLLFD_BATCH;
  n = kevent(e->poll_fd, NULL, 0, evs, max, &zero);
  for (i = 0; i < n; i++) {
    if (evs[i].filter == EVFILT_TIMER) continue;
    if ((int)evs[i].ident == e->wake_fd[0]) continue;
    fds[k] = (curl_socket_t)evs[i].ident;
    bits[k] = (evs[i].filter == EVFILT_READ ? CURL_CSELECT_IN : CURL_CSELECT_OUT) |
              (evs[i].flags & EV_ERROR ? CURL_CSELECT_ERR : 0);
    k++;
  }
  return k;
}

#else /* Windows and others: no single descriptor; music.step(timeout) and aimlmusic.uv stand in. */

int pollfd_open(engine *e) {
  (void)e;
  return ENOSYS;
}

void pollfd_close(engine *e) {
  (void)e;
}

void pollfd_watch(engine *e, curl_socket_t fd, int what, int known) {
  (void)e;
  (void)fd;
  (void)what;
  (void)known;
}

void pollfd_add_wake(engine *e, int fd) {
  (void)e;
  (void)fd;
}

void pollfd_arm(engine *e, long ms) {
  (void)e;
  (void)ms;
}

int pollfd_ready(engine *e, curl_socket_t *fds, int *bits, int max) {
  (void)e;
  (void)fds;
  (void)bits;
  (void)max;
  return 0;
}

#endif
