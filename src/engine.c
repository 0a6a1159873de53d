#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "commit.h"
#include "pollfd.h"
#include "request.h"
#include "response.h"
#include "url.h"

static const char engine_key = 'E'; /* registry[&engine_key] = this state's engine userdata */

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp);

static void engine_unref(engine *e) {
  int i;
  if (--e->refs > 0) return;
  for (i = 0; i < e->n_pool; i++) curl_easy_cleanup(e->pool[i]);
  for (i = 0; i < 2; i++)
    if (e->wake_fd[i] >= 0) close(e->wake_fd[i]);
  pollfd_close(e);
  free(e->changes);
  free(e);
}

static int transfer_class(const transfer *t) {
  return t->kind == TRANSFER_DOWNLOAD;
}

/* Takes a queued transfer out of its class's queue. */
static void queue_unlink(engine *e, transfer *t) {
  int c = transfer_class(t);
  transfer **pp = &e->queue_head[c], *prev = NULL;
  while (*pp && *pp != t) {
    prev = *pp;
    pp = &(*pp)->qnext;
  }
  if (*pp == NULL) return;
  *pp = t->qnext;
  if (e->queue_tail[c] == t) e->queue_tail[c] = prev;
  t->qnext = NULL;
  t->queued = 0;
}

/* Moves queued transfers into the multi handle while their class has free slots. One that
 * libcurl refuses stays first in line for the next call. */
static void engine_promote(engine *e) {
  int c, added = 0;
  if (e->multi == NULL) return;
  for (c = 0; c < 2; c++) {
    while (e->queue_head[c] && e->n_running[c] < ENGINE_MAX_RUNNING) {
      transfer *t = e->queue_head[c];
      if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) break;
      e->queue_head[c] = t->qnext;
      if (e->queue_tail[c] == t) e->queue_tail[c] = NULL;
      t->qnext = NULL;
      t->queued = 0;
      e->n_running[c]++;
      added = 1;
    }
  }
  /* A loop watching the pollable set learns that libcurl has new work (a cancel outside a step
   * can free the slot). */
  if (added && e->fd_mode) pollfd_arm(e, 0);
}

/* Takes the transfer out of the multi handle (or the queue) and the active list. */
static void transfer_detach(transfer *t) {
  engine *e = t->engine;
  if (t->state != TRANSFER_ACTIVE) return;
  if (t->queued) {
    queue_unlink(e, t);
  } else {
    if (e->multi) curl_multi_remove_handle(e->multi, t->easy);
    e->n_running[transfer_class(t)]--;
  }
  if (t->prev) t->prev->next = t->next;
  else e->active = t->next;
  if (t->next) t->next->prev = t->prev;
  t->prev = t->next = NULL;
  e->n_active--;
  t->state = TRANSFER_DONE;
}

static engine *engine_check(lua_State *L, int idx) {
  engine **pe = (engine **)luaL_checkudata(L, idx, ENGINE_MT);
  if (*pe == NULL || (*pe)->multi == NULL) luaL_argerror(L, idx, "engine is closed");
  return *pe;
}

/* __gc and __close: stops every transfer still in flight; idempotent. */
static int engine_close(lua_State *L) {
  engine **pe = (engine **)luaL_checkudata(L, 1, ENGINE_MT);
  engine *e = *pe;
  if (e == NULL) return 0;
  while (e->active) {
    transfer *t = e->active;
    transfer_detach(t);
    t->cancelled = 1;
  }
  while (e->committing) commit_join(e->committing);
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  *pe = NULL;
  engine_unref(e);
  return 0;
}

engine *engine_get(lua_State *L) {
  engine **pe;
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  pe = (engine **)luaL_testudata(L, -1, ENGINE_MT);
  lua_pop(L, 1);
  if (pe && *pe) return *pe;
  pe = (engine **)compat_newudata(L, sizeof *pe);
  *pe = NULL;
  luaL_setmetatable(L, ENGINE_MT);
  *pe = (engine *)calloc(1, sizeof **pe);
  if (*pe == NULL) luaL_error(L, "out of memory");
  (*pe)->refs = 1;
  (*pe)->wake_fd[0] = (*pe)->wake_fd[1] = -1;
  (*pe)->poll_fd = (*pe)->timer_fd = -1;
  (*pe)->multi = curl_multi_init();
  if ((*pe)->multi == NULL) luaL_error(L, "curl_multi_init failed");
  /* The pollable set follows libcurl's sockets from the first one on, so music.pollfd() can
   * be asked for at any time; without it (ENOSYS, EMFILE) the engine works as before. */
  pollfd_open(*pe);
  curl_multi_setopt((*pe)->multi, CURLMOPT_SOCKETFUNCTION, engine_on_socket);
  curl_multi_setopt((*pe)->multi, CURLMOPT_SOCKETDATA, (void *)*pe);
  /* Hundreds of jobs share a few connections per host (HTTP/2 multiplexes over one), instead
   * of a socket each: polite to the service and far from the process's descriptor limit. */
  curl_multi_setopt((*pe)->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)ENGINE_MAX_HOST_CONNECTIONS);
  curl_multi_setopt((*pe)->multi, CURLMOPT_MAXCONNECTS, (long)(2 * ENGINE_MAX_HOST_CONNECTIONS));
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return *pe;
}

static size_t transfer_on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  transfer *t = (transfer *)ud;
  size_t n = size * nmemb;
  size_t limit = TRANSFER_MAX_BODY;
  if (t->kind == TRANSFER_DOWNLOAD) {
    long code = 0;
    curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 300 && code < 400) return n; /* a redirect's page: followed in engine_collect */
    if (code >= 200 && code < 300) {
      /* Straight to disk: memory stays flat whatever the size. */
      size_t off = 0;
      if (t->max_bytes > 0 && t->bytes + (curl_off_t)n > t->max_bytes) {
        t->oversize = 1;
        return 0;
      }
      if (t->expected > 0 && t->bytes + (curl_off_t)n > t->expected) {
        t->oversize = 2;
        return 0;
      }
      while (off < n) {
        ssize_t w = write(t->fd, ptr + off, n - off);
        if (w < 0) {
          if (errno == EINTR) continue;
          t->io_errno = errno;
          return 0;
        }
        off += (size_t)w;
      }
      t->bytes += (curl_off_t)n;
      return n;
    }
    limit = TRANSFER_MAX_ERROR_BODY; /* an error page: keep its start for the message */
  }
  if (t->body_len + n > limit) {
    t->body_overflow = 1;
    return 0;
  }
  if (t->body_len + n > t->body_cap) {
    size_t cap = t->body_cap ? t->body_cap : 1024;
    char *p;
    while (cap < t->body_len + n) cap *= 2;
    p = (char *)realloc(t->body, cap);
    if (p == NULL) return 0;
    t->body = p;
    t->body_cap = cap;
  }
  memcpy(t->body + t->body_len, ptr, n);
  t->body_len += n;
  return n;
}

static long long monotonic_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libcurl calls this at least once a second: a download with nothing new for stall_ms ends
 * (the speed floor, CURLOPT_LOW_SPEED_*, ends one that only trickles). */
static int transfer_on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                curl_off_t ulnow) {
  transfer *t = (transfer *)ud;
  long long now = monotonic_ms();
  (void)dltotal;
  (void)ultotal;
  (void)ulnow;
  if (t->stall_ms <= 0) return 0;
  if (t->seen_at_ms == 0 || dlnow != t->seen) {
    t->seen = dlnow;
    t->seen_at_ms = now;
    return 0;
  }
  if (now - t->seen_at_ms > t->stall_ms) {
    t->stalled = 1;
    return 1;
  }
  return 0;
}

transfer *transfer_new(lua_State *L, engine *e, transfer_kind kind) {
  transfer *t = (transfer *)compat_newudata(L, sizeof *t);
  memset(t, 0, sizeof *t);
  t->fd = -1;
  t->ref = LUA_NOREF;
  t->kind = kind;
  luaL_setmetatable(L, TRANSFER_MT);
  if (e->n_pool > 0) {
    t->easy = e->pool[--e->n_pool];
  } else {
    t->easy = curl_easy_init();
    if (t->easy == NULL) luaL_error(L, "curl_easy_init failed");
  }
  t->engine = e;
  e->refs++;
  curl_easy_setopt(t->easy, CURLOPT_PRIVATE, (char *)t);
  curl_easy_setopt(t->easy, CURLOPT_WRITEFUNCTION, transfer_on_write);
  curl_easy_setopt(t->easy, CURLOPT_WRITEDATA, (void *)t);
  curl_easy_setopt(t->easy, CURLOPT_ERRORBUFFER, t->errbuf);
  curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t->easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(t->easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(t->easy, CURLOPT_XFERINFOFUNCTION, transfer_on_xferinfo);
  curl_easy_setopt(t->easy, CURLOPT_XFERINFODATA, (void *)t);
  curl_easy_setopt(t->easy, CURLOPT_NOPROGRESS, 0L);
  return t;
}

int transfer_start(lua_State *L, transfer *t, int idx) {
  engine *e = t->engine;
  int c = transfer_class(t);
  if (e->multi == NULL) {
    lua_pushliteral(L, "engine is closed");
    return 0;
  }
  if (e->n_running[c] < ENGINE_MAX_RUNNING && e->queue_head[c] == NULL) {
    CURLMcode mc = curl_multi_add_handle(e->multi, t->easy);
    if (mc != CURLM_OK) {
      lua_pushstring(L, curl_multi_strerror(mc));
      return 0;
    }
    e->n_running[c]++;
  } else {
    t->queued = 1;
    t->qnext = NULL;
    if (e->queue_tail[c]) e->queue_tail[c]->qnext = t;
    else e->queue_head[c] = t;
    e->queue_tail[c] = t;
  }
  lua_pushvalue(L, idx);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  t->state = TRANSFER_ACTIVE;
  t->next = e->active;
  if (e->active) e->active->prev = t;
  e->active = t;
  e->n_active++;
  return 1;
}

int engine_wake_fd(engine *e) {
  if (e->wake_fd[0] < 0) {
    int fds[2], i;
    if (pipe(fds) != 0) return -1;
    for (i = 0; i < 2; i++) {
      fcntl(fds[i], F_SETFD, FD_CLOEXEC);
      fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
    }
    e->wake_fd[0] = fds[0];
    e->wake_fd[1] = fds[1];
    pollfd_add_wake(e, fds[0]);
  }
  return e->wake_fd[0];
}

void engine_hold(lua_State *L, transfer *t, int idx) {
  lua_pushvalue(L, idx);
  t->ref = luaL_ref(L, LUA_REGISTRYINDEX);
}

transfer *transfer_check(lua_State *L, int idx) {
  return (transfer *)luaL_checkudata(L, idx, TRANSFER_MT);
}

/* Stops a transfer and lets Lua collect it; the owner sees kind "cancelled". */
static void transfer_stop(lua_State *L, transfer *t) {
  commit_join(t); /* a commit is short and must not be cut in the middle */
  if (t->state == TRANSFER_ACTIVE) {
    transfer_detach(t);
    t->cancelled = 1;
    engine_promote(t->engine);
  }
  if (t->ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
  }
}

void transfer_release(transfer *t) {
  if (t->easy) {
    engine *e = t->engine;
    if (e->multi && e->n_pool < (int)(sizeof e->pool / sizeof e->pool[0])) {
      curl_easy_reset(t->easy);
      e->pool[e->n_pool++] = t->easy;
    } else {
      curl_easy_cleanup(t->easy);
    }
    t->easy = NULL;
    engine_unref(e);
  }
  free(t->body);
  t->body = NULL;
  t->body_len = t->body_cap = 0;
}

/* __gc and __close: frees what the transfer owns; a download not committed leaves no file. */
static int transfer_gc(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  transfer_stop(L, t);
  transfer_release(t);
  response_discard(t);
  free(t->target_path);
  t->target_path = NULL;
  if (t->session) {
    session_release(t->session);
    t->session = NULL;
  }
  return 0;
}

static int transfer_done(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  lua_pushboolean(L, t->state == TRANSFER_DONE);
  return 1;
}

/* transfer:progress() --> bytes written so far, total expected (nil when unknown) */
static int transfer_progress(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  curl_off_t total = -1;
  compat_pushint(L, t->bytes);
  if (t->easy) curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
  if (total >= 0) compat_pushint(L, total + t->resume_from);
  else lua_pushnil(L);
  return 2;
}

static int transfer_cancel(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  transfer_stop(L, t);
  return 0;
}

static int transfer_tostring(lua_State *L) {
  static const char *const kinds[] = {"submit", "status", "download"};
  static const char *const states[] = {"idle", "active", "done"};
  transfer *t = transfer_check(L, 1);
  lua_pushfstring(L, "aimlmusic.transfer(%s, %s)", kinds[t->kind], states[t->state]);
  return 1;
}

/* A download answered with a redirect: its target is checked against the URL rule before
 * anything is sent to it, then requested on the same handle. libcurl never follows a redirect
 * on its own, so no request can reach a URL the rule refuses. Returns 1 when the transfer goes
 * on; 0 when it is done (t->refused set if the rule refused the target). */
static int transfer_redirect(engine *e, transfer *t) {
  long code = 0;
  char *target = NULL, *from = NULL, *next;
  char why[URL_WHY_SIZE];
  if (t->kind != TRANSFER_DOWNLOAD || t->result != CURLE_OK || e->multi == NULL) return 0;
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code < 300 || code > 399) return 0;
  if (curl_easy_getinfo(t->easy, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || target == NULL) return 0;
  if (t->redirects >= TRANSFER_MAX_REDIRECTS) {
    t->result = CURLE_TOO_MANY_REDIRECTS;
    return 0;
  }
  curl_easy_getinfo(t->easy, CURLINFO_EFFECTIVE_URL, &from);
  if (!url_allowed(target, t->allow_http, from, why)) {
    t->refused = 1;
    memcpy(t->errbuf, why, sizeof why < sizeof t->errbuf ? sizeof why : sizeof t->errbuf);
    t->errbuf[sizeof t->errbuf - 1] = '\0';
    return 0;
  }
  next = (char *)malloc(strlen(target) + 1); /* target lives in the handle that takes it */
  if (next == NULL) return 0;
  strcpy(next, target);
  curl_multi_remove_handle(e->multi, t->easy);
  curl_easy_setopt(t->easy, CURLOPT_URL, next);
  t->seen_at_ms = 0;
  free(next);
  t->redirects++;
  t->body_len = 0;
  if (curl_multi_add_handle(e->multi, t->easy) != CURLM_OK) {
    t->result = CURLE_FAILED_INIT;
    return 0;
  }
  return 1;
}

/* Moves finished transfers out of the multi handle, appending them to the table at done_idx
 * (0: none), and pushes the two results of perform and socket_action. */
static int engine_collect(lua_State *L, engine *e, int done_idx) {
  int left = 0, n = 0, has_done = done_idx != 0;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    char *priv = NULL;
    transfer *t;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    t = (transfer *)priv;
    t->result = msg->data.result;
    if (transfer_redirect(e, t)) continue;
    transfer_detach(t);
    if (has_done) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
      lua_rawseti(L, done_idx, (int)lua_rawlen(L, done_idx) + 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    n++;
  }
  engine_promote(e);
  if (e->n_committing > 0 || e->wake_fd[0] >= 0) n += commit_reap(L, e, done_idx);
  compat_pushint(L, e->n_active);
  compat_pushint(L, n);
  return 2;
}

/* engine:perform([done]) --> transfers still running, number finished now.
 * Never blocks. Finished transfers are appended to the table `done` when given. */
static int engine_perform(lua_State *L) {
  engine *e = engine_check(L, 1);
  int running = 0;
  CURLMcode mc;
  if (e->socket_mode) return luaL_error(L, "engine is driven by a host event loop (socket mode)");
  if (e->fd_mode) {
    /* libcurl's sockets in the pollable set say which transfers to run: the cost of a step
     * follows what is ready, not how many transfers there are. */
    curl_socket_t fds[POLLFD_BATCH];
    int bits[POLLFD_BATCH], i, n = pollfd_ready(e, fds, bits, POLLFD_BATCH);
    long ms = -1;
    mc = CURLM_OK;
    for (i = 0; i < n && mc == CURLM_OK; i++) mc = curl_multi_socket_action(e->multi, fds[i], bits[i], &running);
    if (mc == CURLM_OK && curl_multi_timeout(e->multi, &ms) == CURLM_OK && ms == 0)
      mc = curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    if (mc != CURLM_OK) return luaL_error(L, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
    return engine_collect(L, e, lua_istable(L, 2) ? 2 : 0);
  }
  mc = curl_multi_perform(e->multi, &running);
  if (mc != CURLM_OK) return luaL_error(L, "curl_multi_perform: %s", curl_multi_strerror(mc));
  return engine_collect(L, e, lua_istable(L, 2) ? 2 : 0);
}

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  engine *e = (engine *)userp;
  (void)easy;
  (void)socketp;
  pollfd_watch(e, fd, what);
  if (!e->socket_mode) return 0;
  if (e->n_changes == e->cap_changes) {
    int cap = e->cap_changes ? 2 * e->cap_changes : 16;
    engine_sock_change *p = (engine_sock_change *)realloc(e->changes, (size_t)cap * sizeof *p);
    if (p == NULL) return -1;
    e->changes = p;
    e->cap_changes = cap;
  }
  e->changes[e->n_changes].fd = fd;
  e->changes[e->n_changes].what = what;
  e->n_changes++;
  return 0;
}

static int engine_on_timer(CURLM *multi, long timeout_ms, void *userp) {
  engine *e = (engine *)userp;
  (void)multi;
  e->timer_ms = timeout_ms;
  e->timer_changed = 1;
  return 0;
}

/* engine:socket_mode(on): a host loop (luv) watches libcurl's sockets and timer instead of
 * perform/poll. Switch only while nothing is in flight. */
static int engine_socket_mode(lua_State *L) {
  engine *e = engine_check(L, 1);
  int on = lua_toboolean(L, 2);
  if (on == e->socket_mode) return 0;
  if (e->n_active > 0) return luaL_error(L, "cannot switch the engine's mode with transfers in flight");
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on ? engine_on_timer : NULL);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, on ? (void *)e : NULL);
  e->socket_mode = on;
  e->n_changes = 0;
  e->timer_changed = 0;
  return 0;
}

/* engine:socket_action(fd, events[, done]) --> running, finished now. fd -1: the timer fired.
 * events: 1 readable, 2 writable, 4 error (CURL_CSELECT_*). */
static int engine_socket_action(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Number fd = luaL_checknumber(L, 2);
  int events = (int)luaL_optnumber(L, 3, 0), running = 0;
  CURLMcode mc;
  if (!e->socket_mode) return luaL_error(L, "engine is not in socket mode");
  mc = curl_multi_socket_action(e->multi, fd < 0 ? CURL_SOCKET_TIMEOUT : (curl_socket_t)fd, events,
                                &running);
  if (mc != CURLM_OK) return luaL_error(L, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
  return engine_collect(L, e, lua_istable(L, 4) ? 4 : 0);
}

/* engine:changes(list) --> n, timer_ms | nil. Fills list with fd1, what1, fd2, what2, ...
 * (what: 1 in, 2 out, 3 both, 4 remove) for the sockets libcurl asked about since the last
 * call, and gives the timer libcurl last asked for (-1: none) if it changed. */
static int engine_changes(lua_State *L) {
  engine *e = engine_check(L, 1);
  int i, n = e->n_changes;
  luaL_checktype(L, 2, LUA_TTABLE);
  for (i = 0; i < n; i++) {
    compat_pushint(L, e->changes[i].fd);
    lua_rawseti(L, 2, 2 * i + 1);
    compat_pushint(L, e->changes[i].what);
    lua_rawseti(L, 2, 2 * i + 2);
  }
  e->n_changes = 0;
  compat_pushint(L, n);
  if (e->timer_changed) compat_pushint(L, e->timer_ms);
  else lua_pushnil(L);
  e->timer_changed = 0;
  return 2;
}

/* engine:poll(ms): sleeps in the kernel until a socket is ready, a libcurl timer is due, or
 * ms milliseconds pass; with nothing in flight it is a plain sleep. */
static int engine_poll(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Number ms = luaL_checknumber(L, 2);
  int numfds = 0;
  CURLMcode mc;
  if (e->socket_mode) return luaL_error(L, "engine is driven by a host event loop (socket mode)");
  if (ms < 0 || ms != ms) ms = 0;
  if (ms > INT_MAX) ms = INT_MAX;
  if (e->fd_mode) {
    long curl_ms = -1;
    curl_multi_timeout(e->multi, &curl_ms);
    if (curl_ms >= 0 && curl_ms < ms) ms = (lua_Number)curl_ms;
    compat_pushint(L, pollfd_wait(e, (int)ms));
    return 1;
  }
  if (e->wake_fd[0] >= 0) {
    /* A worker finishing a commit wakes the sleep too. */
    struct curl_waitfd extra;
    extra.fd = e->wake_fd[0];
    extra.events = CURL_WAIT_POLLIN;
    extra.revents = 0;
    mc = curl_multi_poll(e->multi, &extra, 1, (int)ms, &numfds);
  } else {
    mc = curl_multi_poll(e->multi, NULL, 0, (int)ms, &numfds);
  }
  if (mc != CURLM_OK) return luaL_error(L, "curl_multi_poll: %s", curl_multi_strerror(mc));
  compat_pushint(L, numfds);
  return 1;
}

/* engine:timeout() --> ms until libcurl wants perform() called again, or -1 for no timer */
static int engine_timeout(lua_State *L) {
  engine *e = engine_check(L, 1);
  long ms = -1;
  curl_multi_timeout(e->multi, &ms);
  compat_pushint(L, ms);
  return 1;
}

/* engine:pollfd() --> the descriptor readable whenever step(0) has work | nil, message */
static int engine_pollfd(lua_State *L) {
  engine *e = engine_check(L, 1);
  int err = pollfd_open(e);
  if (err) {
    lua_pushnil(L);
    lua_pushstring(L, err == ENOSYS ? "no pollable descriptor on this platform: use music.step or aimlmusic.uv"
                                    : strerror(err));
    return 2;
  }
  if (engine_wake_fd(e) < 0) {
    lua_pushnil(L);
    lua_pushstring(L, strerror(errno));
    return 2;
  }
  if (!e->fd_mode) {
    /* From now on libcurl runs through socket_action on what the set reports; this makes it
     * announce the sockets of transfers already in flight. */
    int running = 0;
    e->fd_mode = 1;
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#endif
    curl_multi_socket_all(e->multi, &running); /* the one call that announces every socket */
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
  }
  compat_pushint(L, e->poll_fd);
  return 1;
}

/* engine:arm(ms) --> ms | nil. Sets the pollable set's timer to the sooner of ms (the
 * scheduler's own next wake-up, -1 for none) and libcurl's timer, and returns it (nil when
 * nothing is due). A queued transfer with a free slot is due now. */
static int engine_arm(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Number want = luaL_optnumber(L, 2, -1);
  long ms = -1, curl_ms = -1;
  int c;
  if (want >= 0) ms = want > (lua_Number)(LONG_MAX / 2) ? LONG_MAX / 2 : (long)ceil(want);
  curl_multi_timeout(e->multi, &curl_ms);
  if (curl_ms >= 0 && (ms < 0 || curl_ms < ms)) ms = curl_ms;
  for (c = 0; c < 2; c++)
    if (e->queue_head[c] && e->n_running[c] < ENGINE_MAX_RUNNING) ms = 0;
  pollfd_arm(e, ms);
  if (ms < 0) lua_pushnil(L);
  else compat_pushint(L, ms);
  return 1;
}

static int engine_count(lua_State *L) {
  engine *e = engine_check(L, 1);
  compat_pushint(L, e->n_active);
  return 1;
}

/* engine:committing() --> downloads being moved into place by a worker */
static int engine_committing(lua_State *L) {
  engine *e = engine_check(L, 1);
  compat_pushint(L, e->n_committing);
  return 1;
}

/* engine:wake_fd() --> the descriptor a host loop watches for finished commits */
static int engine_wake_fd_l(lua_State *L) {
  engine *e = engine_check(L, 1);
  compat_pushint(L, engine_wake_fd(e));
  return 1;
}

/* engine:reap([done]) --> finished commits appended to done, without touching libcurl */
static int engine_reap(lua_State *L) {
  engine *e = engine_check(L, 1);
  compat_pushint(L, commit_reap(L, e, lua_istable(L, 2) ? 2 : 0));
  return 1;
}

static int engine_tostring(lua_State *L) {
  engine **pe = (engine **)luaL_checkudata(L, 1, ENGINE_MT);
  if (*pe && (*pe)->multi) lua_pushfstring(L, "aimlmusic.engine(%d active)", (*pe)->n_active);
  else lua_pushliteral(L, "aimlmusic.engine(closed)");
  return 1;
}

/* core.engine() --> this Lua state's engine */
static int l_engine(lua_State *L) {
  engine_get(L);
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  return 1;
}

/* core.now() --> monotonic seconds, for deadlines that ignore wall-clock changes */
static int l_now(lua_State *L) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
  return 1;
}

static void new_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  luaL_setfuncs(L, methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

void engine_open(lua_State *L) {
  static const luaL_Reg engine_meta[] = {
      {"__gc", engine_close}, {"__close", engine_close}, {"__tostring", engine_tostring}, {NULL, NULL}};
  static const luaL_Reg engine_methods[] = {{"perform", engine_perform},
                                            {"poll", engine_poll},
                                            {"timeout", engine_timeout},
                                            {"count", engine_count},
                                            {"committing", engine_committing},
                                            {"wake_fd", engine_wake_fd_l},
                                            {"reap", engine_reap},
                                            {"socket_mode", engine_socket_mode},
                                            {"socket_action", engine_socket_action},
                                            {"changes", engine_changes},
                                            {"pollfd", engine_pollfd},
                                            {"arm", engine_arm},
                                            {NULL, NULL}};
  static const luaL_Reg transfer_meta[] = {
      {"__gc", transfer_gc}, {"__close", transfer_gc}, {"__tostring", transfer_tostring}, {NULL, NULL}};
  static const luaL_Reg transfer_methods[] = {{"done", transfer_done},
                                              {"progress", transfer_progress},
                                              {"cancel", transfer_cancel},
                                              {"finish", response_finish},
                                              {"commit", commit_start_l},
                                              {"discard", response_discard_l},
                                              {NULL, NULL}};
  static const luaL_Reg fns[] = {{"engine", l_engine}, {"now", l_now}, {NULL, NULL}};
  new_class(L, ENGINE_MT, engine_meta, engine_methods);
  new_class(L, TRANSFER_MT, transfer_meta, transfer_methods);
  luaL_setfuncs(L, fns, 0);
}
