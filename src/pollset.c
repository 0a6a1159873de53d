/* pollset: the engine's one pollable descriptor (see pollset.h). Owns: the epoll or kqueue set,
 * its timer, and the libcurl sockets and wake descriptor in it: the loop watching it learns
 * "step(0) has work" and nothing more. Must not know: the engine, transfers, Lua values, what
 * a step does with the sockets it hands back. */
#include "pollset.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <unistd.h>

#include "platform.h"

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/timerfd.h>
#define POLLSET_EPOLL 1

static int pollset_ctl(pollset *ps, int op, int fd, unsigned events) {
  struct epoll_event ev;
  ev.events = events;
  ev.data.fd = fd;
  return epoll_ctl(ps->fd, op, fd, &ev);
}
#elif defined(__APPLE__) || defined(__FreeBSD__) || defined(__OpenBSD__) || defined(__NetBSD__) || \
    defined(__DragonFly__)
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <time.h>
#define POLLSET_KQUEUE 1
/* The ident of the one timer in the set; sockets use their descriptor as ident, in other filters. */
#define POLLSET_TIMER_ID 1

static void pollset_change(pollset *ps, uintptr_t ident, short filter, unsigned short flags, intptr_t data) {
  struct kevent kev;
  EV_SET(&kev, ident, filter, flags, 0, data, NULL);
  kevent(ps->fd, &kev, 1, NULL, 0, NULL);
}
#endif
/* Elsewhere (Windows) there is no set: pollset_open fails with ENOSYS, and the rest do nothing. */

void pollset_init(pollset *ps) {
  ps->fd = ps->timer_fd = ps->wake_fd = -1;
  ps->got_n = 0;
}

int pollset_wait(pollset *ps, int ms) {
#if defined(POLLSET_EPOLL)
  struct epoll_event evs[POLLSET_BATCH];
  int i, n;
  if (ps->fd < 0) return 0;
  n = epoll_wait(ps->fd, evs, POLLSET_BATCH, ms);
  for (i = 0; i < n; i++) {
    ps->got_fd[i] = evs[i].data.fd;
    ps->got_bits[i] = evs[i].events;
  }
  ps->got_n = n > 0 ? n : 0;
  return ps->got_n;
#else
  return ps->fd < 0 ? 0 : platform_wait_readable(ps->fd, ms);
#endif
}

void pollset_close(pollset *ps) {
  if (ps->timer_fd >= 0) close(ps->timer_fd);
  if (ps->fd >= 0) close(ps->fd);
  ps->timer_fd = ps->fd = -1;
  ps->got_n = 0;
}

int pollset_open(pollset *ps) {
#if defined(POLLSET_EPOLL) || defined(POLLSET_KQUEUE)
  if (ps->fd >= 0) return 0;
#if defined(POLLSET_EPOLL)
  ps->fd = epoll_create1(EPOLL_CLOEXEC);
  if (ps->fd < 0) return errno;
  ps->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (ps->timer_fd < 0 || pollset_ctl(ps, EPOLL_CTL_ADD, ps->timer_fd, EPOLLIN) != 0) {
    int err = errno;
    pollset_close(ps);
    return err;
  }
#else
  ps->fd = kqueue();
  if (ps->fd < 0) return errno;
  fcntl(ps->fd, F_SETFD, FD_CLOEXEC);
#endif
  if (ps->wake_fd >= 0) pollset_add_wake(ps, ps->wake_fd);
  return 0;
#else
  (void)ps;
  return ENOSYS;
#endif
}

void pollset_watch(pollset *ps, curl_socket_t fd, int what, int known) {
#if defined(POLLSET_EPOLL)
  unsigned ev = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
  if (ps->fd < 0) return;
  /* A removed socket may be closed already, which removed it: ENOENT and EBADF are expected.
   * One closed and reused behind libcurl's back would be unknown to the set, and one added
   * twice EEXIST: each falls back to the other operation. */
  if (what == CURL_POLL_REMOVE) pollset_ctl(ps, EPOLL_CTL_DEL, fd, 0);
  else if (known && pollset_ctl(ps, EPOLL_CTL_MOD, fd, ev) != 0 && errno == ENOENT)
    pollset_ctl(ps, EPOLL_CTL_ADD, fd, ev);
  else if (!known && pollset_ctl(ps, EPOLL_CTL_ADD, fd, ev) != 0 && errno == EEXIST)
    pollset_ctl(ps, EPOLL_CTL_MOD, fd, ev);
#elif defined(POLLSET_KQUEUE)
  (void)known; /* EV_ADD adds or changes */
  if (ps->fd < 0) return;
  /* Deleting a filter that was never added fails with ENOENT, harmlessly. */
  pollset_change(ps, (uintptr_t)fd, EVFILT_READ, what & CURL_POLL_IN ? EV_ADD : EV_DELETE, 0);
  pollset_change(ps, (uintptr_t)fd, EVFILT_WRITE, what & CURL_POLL_OUT ? EV_ADD : EV_DELETE, 0);
#else
  (void)ps;
  (void)fd;
  (void)what;
  (void)known;
#endif
}

void pollset_add_wake(pollset *ps, int fd) {
  ps->wake_fd = fd;
  if (ps->fd < 0) return;
#if defined(POLLSET_EPOLL)
  pollset_ctl(ps, EPOLL_CTL_ADD, fd, EPOLLIN);
#elif defined(POLLSET_KQUEUE)
  pollset_change(ps, (uintptr_t)fd, EVFILT_READ, EV_ADD, 0);
#endif
}

void pollset_arm(pollset *ps, long ms) {
#if defined(POLLSET_EPOLL)
  struct itimerspec its = {{0, 0}, {0, 0}}; /* zero disarms, and clears an unread expiry */
  if (ps->timer_fd < 0) return;
  if (ms >= 0) { /* 0 would disarm: 1 ns is the nearest "now" */
    its.it_value.tv_sec = ms / 1000;
    its.it_value.tv_nsec = ms == 0 ? 1 : (ms % 1000) * 1000000L;
  }
  timerfd_settime(ps->timer_fd, 0, &its, NULL);
#elif defined(POLLSET_KQUEUE)
  if (ps->fd < 0) return;
  /* Deleting the timer also drops an expiry that is pending and not retrieved. */
  pollset_change(ps, POLLSET_TIMER_ID, EVFILT_TIMER, EV_DELETE, 0);
  if (ms >= 0) pollset_change(ps, POLLSET_TIMER_ID, EVFILT_TIMER, EV_ADD | EV_ONESHOT, ms);
#else
  (void)ps;
  (void)ms;
#endif
}

int pollset_ready(pollset *ps, curl_socket_t *fds, int *bits) {
  int k = 0;
#if defined(POLLSET_EPOLL)
  int i, n;
  /* What the last wait saw is still ready, the set being level-triggered: no need to ask. */
  if (ps->got_n == 0) pollset_wait(ps, 0);
  n = ps->got_n;
  ps->got_n = 0;
  for (i = 0; i < n; i++) {
    int fd = ps->got_fd[i];
    unsigned ev = ps->got_bits[i];
    if (fd == ps->timer_fd) {
      uint64_t ticks;
      if (read(fd, &ticks, sizeof ticks) < 0) { /* EAGAIN: already consumed */
      }
      continue;
    }
    if (fd == ps->wake_fd) continue; /* the engine's reap drains it */
    fds[k] = fd;
    bits[k] = (ev & (EPOLLIN | EPOLLHUP) ? CURL_CSELECT_IN : 0) | (ev & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
              (ev & EPOLLERR ? CURL_CSELECT_ERR : 0);
    k++;
  }
#elif defined(POLLSET_KQUEUE)
  struct kevent evs[POLLSET_BATCH];
  struct timespec zero = {0, 0};
  int i, n;
  if (ps->fd < 0) return 0;
  n = kevent(ps->fd, NULL, 0, evs, POLLSET_BATCH, &zero);
  for (i = 0; i < n; i++) {
    if (evs[i].filter == EVFILT_TIMER || (int)evs[i].ident == ps->wake_fd) continue;
    fds[k] = (curl_socket_t)evs[i].ident;
    bits[k] = (evs[i].filter == EVFILT_READ ? CURL_CSELECT_IN : CURL_CSELECT_OUT) |
              (evs[i].flags & EV_ERROR ? CURL_CSELECT_ERR : 0);
    k++;
  }
#else
  (void)ps;
  (void)fds;
  (void)bits;
#endif
  return k;
}
