/* drive: the engine's methods, how a host drives it. Owns: the three ways a host runs the
 * engine's loop: perform/poll (a plain loop, or a step per frame), one pollable descriptor
 * (pollfd and arm), and socket mode (a host event loop such as luv watches libcurl's sockets
 * and timer: the list of changes), and a perform's budget: items paused past it (or held by
 * their owner) go on at the next. Must not know: items beyond the engine's header, transfers. */
#include "drive.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"

int drive_over_budget(engine_item *it) {
  engine *e = it->engine;
  if (e->deadline <= 0) return 0;
  /* The first bytes of a perform always go: however slow the machine, every perform moves. */
  if (!e->moved) {
    e->moved = 1;
    return 0;
  }
  if (platform_now() < e->deadline) return 0;
  return drive_pause(it);
}

int drive_pause(engine_item *it) {
  if (!list_linked(&it->plink)) list_push(&it->engine->paused, &it->plink);
  return 1;
}

/* When the engine wants a perform: in ms (-1: never) or at libcurl's timer if sooner; now (0)
 * when paused items that their hold lets go on, or queued ones with a free slot, wait. */
static long drive_due(engine *e, long ms) {
  long curl_ms = -1;
  list_node *n;
  LIST_FOREACH(n, &e->paused) {
    engine_item *it = LIST_ENTRY(n, engine_item, plink);
    if (it->hold == NULL || !it->hold(it)) return 0;
  }
  if (engine_can_admit(e)) return 0;
  curl_multi_timeout(e->multi, &curl_ms);
  return curl_ms >= 0 && (ms < 0 || curl_ms < ms) ? curl_ms : ms;
}

/* Lets paused items go on, oldest first, until the engine's deadline (all when it has none).
 * Each is taken off before libcurl hands it its bytes: paused again (past the deadline, or
 * held), it rejoins at the tail, so the last one now, not the list, ends the loop. */
static void drive_unpause(engine *e) {
  list_node *last = e->paused.prev, *n;
  int first = 1;
  while ((n = list_first(&e->paused)) != NULL) {
    engine_item *it = LIST_ENTRY(n, engine_item, plink);
    /* The first goes whatever the budget: however slow the machine, paused downloads move. */
    if (!first && e->deadline > 0 && platform_now() >= e->deadline) break;
    first = 0;
    list_remove(n);
    if (it->hold && it->hold(it)) {
      list_push(&e->paused, n);
    } else {
      /* When the write callback refuses the bytes libcurl kept (a size cap, a failed write),
       * libcurl returns that error and leaves the transfer with no timer or socket to watch:
       * it would never end. It ends here, with that error. */
      CURLcode rc = curl_easy_pause(it->easy, CURLPAUSE_CONT);
      if (rc != CURLE_OK && !list_linked(&it->flink)) {
        it->result = rc;
        list_push(&e->failed, &it->flink);
      }
    }
    if (n == last) break;
  }
}

/* engine:perform without the Lua side. look: whether to ask the set which sockets are ready
 * (0: only libcurl's timer, for a transfer just added). */
static CURLMcode drive_run(engine *e, lua_Number budget, int look) {
  int running = 0;
  CURLMcode mc = CURLM_OK;
  e->deadline = budget > 0 ? platform_now() + budget : 0;
  e->moved = 0;
  e->paced = e->fd_mode && budget > 0;
  e->hosted = budget > 0;
  drive_unpause(e);
  if (e->fd_mode) {
    /* A step costs what is ready, not how many transfers there are. */
    curl_socket_t fds[POLLSET_BATCH];
    int bits[POLLSET_BATCH], i, n = look ? pollset_ready(&e->set, fds, bits) : 0;
    long ms = -1;
    /* Past the budget the rest wait, still readable (the set is level-triggered). Paced, they
     * leave room in it for the first queued transfer to start. */
    double stop = e->deadline - (e->paced && engine_can_admit(e) ? e->admit_cost : 0);
    for (i = 0; i < n && mc == CURLM_OK; i++) {
      if (i > 0 && e->deadline > 0 && platform_now() >= stop) break;
      mc = curl_multi_socket_action(e->multi, fds[i], bits[i], &running);
    }
    if (mc == CURLM_OK && curl_multi_timeout(e->multi, &ms) == CURLM_OK && ms == 0)
      mc = curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    /* Paced: queued transfers start one at a time (libcurl connects and sends in the timeout
     * action), the first whatever the budget, the others if they fit in it. */
    for (i = 0; e->paced && mc == CURLM_OK && (i == 0 || platform_now() + e->admit_cost < e->deadline); i++) {
      double took = platform_now();
      if (!engine_admit(e)) break;
      mc = curl_multi_socket_action(e->multi, CURL_SOCKET_TIMEOUT, 0, &running);
      took = platform_now() - took;
      e->admit_cost = took > e->admit_cost ? took : e->admit_cost + (took - e->admit_cost) / 16;
    }
  } else {
    mc = curl_multi_perform(e->multi, &running);
  }
  e->deadline = 0;
  return mc;
}

/* A failed libcurl call, as an error: the call is named by what the engine ran (0: its poll). */
static int drive_fail(lua_State *L, const engine *e, CURLMcode mc, int ran) {
  return luaL_error(L, "%s: %s",
                    !ran ? "curl_multi_poll" : e->fd_mode ? "curl_multi_socket_action"
                                                          : "curl_multi_perform",
                    curl_multi_strerror(mc));
}

/* Refuses perform, poll and wait on an engine a host event loop drives. */
static engine *drive_stepped(lua_State *L, engine *e) {
  if (e->socket_mode) luaL_error(L, "engine is driven by a host event loop (socket mode)");
  return e;
}

/* engine:perform([done[, budget]]) --> transfers still running, number finished now, those
 * appended to the table done. Never blocks. With a budget (seconds) it takes on no work once
 * it is spent: ready sockets wait, and a download that would write more pauses until the next
 * perform, where paused ones go on first. Without one it runs all that is ready. */
static int drive_perform(lua_State *L) {
  engine *e = drive_stepped(L, engine_check(L, 1));
  CURLMcode mc;
  if ((mc = drive_run(e, luaL_optnumber(L, 3, 0), 1)) != CURLM_OK) return drive_fail(L, e, mc, 1);
  return engine_collect(L, e, lua_istable(L, 2) ? 2 : 0);
}

static int drive_on_timer(CURLM *multi, long timeout_ms, void *userp) {
  engine *e = (engine *)userp;
  (void)multi;
  e->timer_ms = timeout_ms;
  e->timer_changed = 1;
  return 0;
}

/* In socket mode: what libcurl asks for a socket, kept for engine:changes(). */
static int drive_on_socket(engine *e, curl_socket_t fd, int what) {
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

/* engine:socket_mode(on): a host loop (luv) watches libcurl's sockets and timer instead of
 * perform/poll. Switch only while nothing is in flight. */
static int drive_socket_mode(lua_State *L) {
  engine *e = engine_check(L, 1);
  int on = lua_toboolean(L, 2);
  if (on == e->socket_mode) return 0;
  if (e->n_active > 0) return luaL_error(L, "cannot switch the engine's mode with transfers in flight");
  curl_multi_setopt(e->multi, CURLMOPT_TIMERFUNCTION, on ? drive_on_timer : NULL);
  curl_multi_setopt(e->multi, CURLMOPT_TIMERDATA, on ? (void *)e : NULL);
  e->socket_mode = on;
  e->on_socket = on ? drive_on_socket : NULL;
  e->paced = 0;
  e->hosted = on;
  e->n_changes = 0;
  e->timer_changed = 0;
  return 0;
}

/* engine:socket_action(fd, events[, done]) --> running, finished now. fd -1: the timer fired.
 * events: 1 readable, 2 writable, 4 error (CURL_CSELECT_*). */
static int drive_socket_action(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Number fd = luaL_checknumber(L, 2);
  int events = (int)luaL_optnumber(L, 3, 0), running = 0;
  CURLMcode mc;
  if (!e->socket_mode) return luaL_error(L, "engine is not in socket mode");
  drive_unpause(e);
  mc = curl_multi_socket_action(e->multi, fd < 0 ? CURL_SOCKET_TIMEOUT : (curl_socket_t)fd, events,
                                &running);
  if (mc != CURLM_OK) return luaL_error(L, "curl_multi_socket_action: %s", curl_multi_strerror(mc));
  return engine_collect(L, e, lua_istable(L, 4) ? 4 : 0);
}

/* engine:changes(list) --> n, timer_ms | nil: list filled with fd1, what1, fd2, what2, ...
 * (what: 1 in, 2 out, 3 both, 4 remove) since the last call; the timer (-1: none) if changed. */
static int drive_changes(lua_State *L) {
  engine *e = engine_check(L, 1);
  int i, n = e->n_changes;
  luaL_checktype(L, 2, LUA_TTABLE);
  for (i = 0; i < n; i++) {
    lua_pushinteger(L, e->changes[i].fd);
    lua_rawseti(L, 2, 2 * i + 1);
    lua_pushinteger(L, e->changes[i].what);
    lua_rawseti(L, 2, 2 * i + 2);
  }
  e->n_changes = 0;
  lua_pushinteger(L, n);
  if (e->timer_changed) lua_pushinteger(L, e->timer_ms);
  else lua_pushnil(L);
  e->timer_changed = 0;
  return 2;
}

/* Sleeps in the kernel until a socket is ready, a timer is due, or ms milliseconds pass; sets
 * *ready to what woke it. */
static CURLMcode drive_sleep(engine *e, lua_Number ms, int *ready) {
  struct curl_waitfd extra;
  int wait;
  if (ms < 0 || ms != ms) ms = 0;
  if (ms > INT_MAX) ms = INT_MAX;
  wait = (int)drive_due(e, (long)ms);
  if (e->fd_mode) {
    *ready = pollset_wait(&e->set, wait);
    return CURLM_OK;
  }
  extra.fd = e->pool.wake[0]; /* a worker finishing a commit wakes the sleep too */
  extra.events = CURL_WAIT_POLLIN;
  extra.revents = 0;
  return curl_multi_poll(e->multi, &extra, e->pool.wake[0] != PLATFORM_SOCK_NONE, wait, ready);
}

/* engine:poll(ms) --> what woke it: drive_sleep. */
static int drive_poll(lua_State *L) {
  engine *e = drive_stepped(L, engine_check(L, 1));
  int ready = 0;
  CURLMcode mc;
  if ((mc = drive_sleep(e, luaL_checknumber(L, 2), &ready)) != CURLM_OK) return drive_fail(L, e, mc, 0);
  lua_pushinteger(L, ready);
  return 1;
}

void drive_wait(lua_State *L, engine_item *it) {
  engine *e = drive_stepped(L, it->engine);
  int top = lua_gettop(L), ready, look = 0;
  CURLMcode mc;
  /* The first run starts the transfer (libcurl's timer); what was ready before waits for the
   * next, after a sleep that then returns at once: one look at the set fewer a request. */
  for (;; look = 1) {
    if ((mc = drive_run(e, 0, look)) != CURLM_OK) drive_fail(L, e, mc, 1);
    engine_collect(L, e, 0);
    lua_settop(L, top);
    if (it->state == ENGINE_DONE) return;
    if ((mc = drive_sleep(e, 1000, &ready)) != CURLM_OK) drive_fail(L, e, mc, 0);
  }
}

/* engine:timeout() --> ms until libcurl wants perform() called again, or -1 for no timer */
static int drive_timeout(lua_State *L) {
  lua_pushinteger(L, drive_due(engine_check(L, 1), -1));
  return 1;
}

/* engine:pollfd() --> the descriptor readable whenever step(0) has work | nil, message */
static int drive_pollfd(lua_State *L) {
  engine *e = engine_check(L, 1);
  char why[PLATFORM_STRERROR_SIZE];
  int err = pollset_open(&e->set);
  if (!err && engine_wake_fd(e) < 0) err = errno;
  if (err) {
    lua_pushnil(L);
    lua_pushstring(L, err == ENOSYS ? "no pollable descriptor on this platform: use music.step or aimlmusic.uv"
                                    : platform_strerror(err, why, sizeof why));
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
  lua_pushinteger(L, e->set.fd);
  return 1;
}

/* engine:arm(ms) --> ms | nil: the set's timer armed for the sooner of ms (the scheduler's
 * next wake-up, -1: none) and drive_due's (nil: nothing due). */
static int drive_arm(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Number want = luaL_optnumber(L, 2, -1);
  long ms = -1;
  if (want >= 0) ms = want > (lua_Number)(LONG_MAX / 2) ? LONG_MAX / 2 : (long)ceil(want);
  ms = drive_due(e, ms);
  pollset_arm(&e->set, ms);
  if (ms < 0) lua_pushnil(L);
  else lua_pushinteger(L, ms);
  return 1;
}

/* engine:count() --> transfers active; engine:count(lane) --> those of lane (0: requests,
 * 1: downloads) waiting for a slot in the multi handle. */
static int drive_count(lua_State *L) {
  engine *e = engine_check(L, 1);
  lua_Integer n = e->n_active;
  if (!lua_isnoneornil(L, 2)) n = (lua_Integer)list_length(&e->queue[luaL_checkinteger(L, 2) != 0]);
  lua_pushinteger(L, n);
  return 1;
}

/* engine:committing() --> transfers waiting for a worker (moves into place, bytes on their
 * way to the disk), each ending with a byte on the wake pair. */
static int drive_committing(lua_State *L) {
  engine *e = engine_check(L, 1);
  size_t n = list_length(&e->workers) + list_length(&e->settling) + list_length(&e->paused);
  lua_pushinteger(L, (lua_Integer)n);
  return 1;
}

/* engine:backlog() --> bytes of downloads waiting for the disk */
static int drive_backlog(lua_State *L) {
  lua_pushinteger(L, (lua_Integer)engine_check(L, 1)->backlog);
  return 1;
}

/* engine:wake_fd() --> the descriptor a host loop watches for finished commits */
static int drive_wake_fd(lua_State *L) {
  lua_pushinteger(L, engine_wake_fd(engine_check(L, 1)));
  return 1;
}

/* engine:reap([done]) --> finished commits appended to done, without touching libcurl */
static int drive_reap(lua_State *L) {
  engine *e = engine_check(L, 1);
  drive_unpause(e); /* downloads whose worker caught up go on (libcurl's timer says when) */
  lua_pushinteger(L, engine_reap_workers(L, e, lua_istable(L, 2) ? 2 : 0));
  return 1;
}

const luaL_Reg drive_methods[] = {{"perform", drive_perform},
                                  {"poll", drive_poll},
                                  {"timeout", drive_timeout},
                                  {"count", drive_count},
                                  {"committing", drive_committing},
                                  {"backlog", drive_backlog},
                                  {"wake_fd", drive_wake_fd},
                                  {"reap", drive_reap},
                                  {"socket_mode", drive_socket_mode},
                                  {"socket_action", drive_socket_action},
                                  {"changes", drive_changes},
                                  {"pollfd", drive_pollfd},
                                  {"arm", drive_arm},
                                  {NULL, NULL}};
