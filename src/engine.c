/* The curl multi loop (see engine.h). */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pollfd.h"

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

CURL *engine_easy_take(engine *e, engine_item *it) {
  CURL *easy = e->n_pool > 0 ? e->pool[--e->n_pool] : curl_easy_init();
  if (easy == NULL) return NULL;
  it->easy = easy;
  it->engine = e;
  e->refs++;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)it);
  return easy;
}

void engine_easy_give(engine_item *it) {
  engine *e = it->engine;
  if (it->easy == NULL) return;
  if (e->multi && e->n_pool < (int)(sizeof e->pool / sizeof e->pool[0])) {
    curl_easy_reset(it->easy);
    e->pool[e->n_pool++] = it->easy;
  } else {
    curl_easy_cleanup(it->easy);
  }
  it->easy = NULL;
  engine_unref(e);
}

/* Takes a queued item out of its lane's queue. */
static void queue_unlink(engine *e, engine_item *it) {
  engine_item **pp = &e->queue_head[it->lane], *prev = NULL;
  while (*pp && *pp != it) {
    prev = *pp;
    pp = &(*pp)->qnext;
  }
  if (*pp == NULL) return;
  *pp = it->qnext;
  if (e->queue_tail[it->lane] == it) e->queue_tail[it->lane] = prev;
  it->qnext = NULL;
  it->queued = 0;
}

/* Moves queued items into the multi handle while their lane has free slots. One that libcurl
 * refuses stays first in line for the next call. */
static void engine_promote(engine *e) {
  int c, added = 0;
  if (e->multi == NULL) return;
  for (c = 0; c < ENGINE_LANES; c++) {
    while (e->queue_head[c] && e->n_running[c] < ENGINE_MAX_RUNNING) {
      engine_item *it = e->queue_head[c];
      if (curl_multi_add_handle(e->multi, it->easy) != CURLM_OK) break;
      e->queue_head[c] = it->qnext;
      if (e->queue_tail[c] == it) e->queue_tail[c] = NULL;
      it->qnext = NULL;
      it->queued = 0;
      e->n_running[c]++;
      added = 1;
    }
  }
  /* A loop watching the pollable set learns that libcurl has new work (a cancel outside a step
   * can free the slot). */
  if (added && e->fd_mode) pollfd_arm(e, 0);
}

/* Takes the item out of the multi handle (or the queue) and the active list. */
static void engine_detach(engine_item *it) {
  engine *e = it->engine;
  if (it->state != ENGINE_ACTIVE || it->work_state != ENGINE_WORK_NONE) return;
  if (it->queued) {
    queue_unlink(e, it);
  } else {
    if (e->multi) curl_multi_remove_handle(e->multi, it->easy);
    e->n_running[it->lane]--;
  }
  if (it->prev) it->prev->next = it->next;
  else e->active = it->next;
  if (it->next) it->next->prev = it->prev;
  it->prev = it->next = NULL;
  e->n_active--;
  it->state = ENGINE_DONE;
}

int engine_work_state(engine_item *it) {
  return __atomic_load_n(&it->work_state, __ATOMIC_ACQUIRE);
}

/* Waits for the worker of it, if one runs, and takes it out of the worker list. */
static void engine_join(engine_item *it) {
  engine *e = it->engine;
  engine_item **pp = &e->workers;
  if (engine_work_state(it) == ENGINE_WORK_NONE || it->state != ENGINE_ACTIVE) return;
  pthread_join(it->thread, NULL);
  while (*pp && *pp != it) pp = &(*pp)->qnext;
  if (*pp) {
    *pp = it->qnext;
    e->n_workers--;
  }
  it->qnext = NULL;
  it->state = ENGINE_DONE;
}

/* The one completion path: a finished item goes to the done list at done_idx (0: none) and
 * its owner is no longer held. */
static void engine_complete(lua_State *L, engine_item *it, int done_idx) {
  if (done_idx) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->ref);
    lua_rawseti(L, done_idx, (int)lua_rawlen(L, done_idx) + 1);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, it->ref);
  it->ref = LUA_NOREF;
}

static engine *engine_check(lua_State *L, int idx) {
  engine **pe = (engine **)luaL_checkudata(L, idx, ENGINE_MT);
  if (*pe == NULL || (*pe)->multi == NULL) luaL_argerror(L, idx, "engine is closed");
  return *pe;
}

/* __gc and __close: stops every item still in flight; idempotent. */
static int engine_close(lua_State *L) {
  engine **pe = (engine **)luaL_checkudata(L, 1, ENGINE_MT);
  engine *e = *pe;
  if (e == NULL) return 0;
  while (e->active) {
    engine_item *it = e->active;
    engine_detach(it);
    it->cancelled = 1;
  }
  while (e->workers) engine_join(e->workers);
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

/* Holds the owner at idx in the registry and puts the item on the active list. */
static void engine_hold(lua_State *L, engine_item *it, int idx) {
  engine *e = it->engine;
  lua_pushvalue(L, idx);
  it->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  it->state = ENGINE_ACTIVE;
  it->next = e->active;
  it->prev = NULL;
  if (e->active) e->active->prev = it;
  e->active = it;
  e->n_active++;
}

int engine_start(lua_State *L, engine_item *it, int idx) {
  engine *e = it->engine;
  int c = it->lane;
  if (e->multi == NULL) {
    lua_pushliteral(L, "engine is closed");
    return 0;
  }
  if (e->n_running[c] < ENGINE_MAX_RUNNING && e->queue_head[c] == NULL) {
    CURLMcode mc = curl_multi_add_handle(e->multi, it->easy);
    if (mc != CURLM_OK) {
      lua_pushstring(L, curl_multi_strerror(mc));
      return 0;
    }
    e->n_running[c]++;
  } else {
    it->queued = 1;
    it->qnext = NULL;
    if (e->queue_tail[c]) e->queue_tail[c]->qnext = it;
    else e->queue_head[c] = it;
    e->queue_tail[c] = it;
  }
  engine_hold(L, it, idx);
  return 1;
}

int engine_restart(engine_item *it, const char *url) {
  engine *e = it->engine;
  char *next = (char *)malloc(strlen(url) + 1); /* url may live in the handle that takes it */
  if (next == NULL) return 0;
  strcpy(next, url);
  curl_multi_remove_handle(e->multi, it->easy);
  curl_easy_setopt(it->easy, CURLOPT_URL, next);
  free(next);
  if (curl_multi_add_handle(e->multi, it->easy) != CURLM_OK) {
    it->result = CURLE_FAILED_INIT;
    return 0;
  }
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

static void *engine_worker_main(void *arg) {
  engine_item *it = (engine_item *)arg;
  int wfd = it->engine->wake_fd[1];
  it->work(it);
  /* State first, then the byte: whoever wakes on the byte sees the work done. */
  __atomic_store_n(&it->work_state, ENGINE_WORK_DONE, __ATOMIC_RELEASE);
  if (wfd >= 0) {
    ssize_t w;
    do w = write(wfd, "", 1);
    while (w < 0 && errno == EINTR);
  }
  return NULL;
}

int engine_spawn(lua_State *L, engine_item *it, int idx) {
  engine *e = it->engine;
  if (e->multi == NULL || it->work == NULL || engine_wake_fd(e) < 0) return 0;
  __atomic_store_n(&it->work_state, ENGINE_WORK_RUNNING, __ATOMIC_RELAXED);
  if (pthread_create(&it->thread, NULL, engine_worker_main, it) != 0) {
    __atomic_store_n(&it->work_state, ENGINE_WORK_NONE, __ATOMIC_RELAXED);
    return 0;
  }
  it->state = ENGINE_ACTIVE;
  it->qnext = e->workers;
  e->workers = it;
  e->n_workers++;
  lua_pushvalue(L, idx);
  it->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

void engine_stop(lua_State *L, engine_item *it) {
  if (it->engine == NULL) return;
  engine_join(it); /* a worker's job is short and must not be cut in the middle */
  if (it->state == ENGINE_ACTIVE) {
    engine_detach(it);
    it->cancelled = 1;
    engine_promote(it->engine);
  }
  if (it->ref != LUA_NOREF) {
    luaL_unref(L, LUA_REGISTRYINDEX, it->ref);
    it->ref = LUA_NOREF;
  }
}

/* Completes finished workers into the done list at done_idx (0: none); returns how many. */
static int engine_reap_workers(lua_State *L, engine *e, int done_idx) {
  engine_item **pp = &e->workers;
  int n = 0;
  if (e->wake_fd[0] >= 0) {
    char buf[64];
    while (read(e->wake_fd[0], buf, sizeof buf) > 0) {
    }
  }
  while (*pp) {
    engine_item *it = *pp;
    if (engine_work_state(it) != ENGINE_WORK_DONE) {
      pp = &it->qnext;
      continue;
    }
    pthread_join(it->thread, NULL);
    *pp = it->qnext;
    it->qnext = NULL;
    e->n_workers--;
    it->state = ENGINE_DONE;
    engine_complete(L, it, done_idx);
    n++;
  }
  return n;
}

/* Moves finished items out of the multi handle and the worker list into the table at
 * done_idx (0: none), and pushes the two results of perform and socket_action. */
static int engine_collect(lua_State *L, engine *e, int done_idx) {
  int left = 0, n = 0;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    char *priv = NULL;
    engine_item *it;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    it = (engine_item *)priv;
    it->result = msg->data.result;
    if (it->again && it->again(it)) continue;
    engine_detach(it);
    engine_complete(L, it, done_idx);
    n++;
  }
  engine_promote(e);
  if (e->n_workers > 0 || e->wake_fd[0] >= 0) n += engine_reap_workers(L, e, done_idx);
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
  compat_pushint(L, e->n_workers);
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
  compat_pushint(L, engine_reap_workers(L, e, lua_istable(L, 2) ? 2 : 0));
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

const luaL_Reg engine_meta[] = {
    {"__gc", engine_close}, {"__close", engine_close}, {"__tostring", engine_tostring}, {NULL, NULL}};
const luaL_Reg engine_methods[] = {{"perform", engine_perform},
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
const luaL_Reg engine_functions[] = {{"engine", l_engine}, {"now", l_now}, {NULL, NULL}};
