/* engine: one libcurl multi handle per Lua state, driven without blocking (drive.c). Owns: the
 * multi handle (and with it the connections and CA store transfers share), the active list,
 * the lanes' queues and their admission (the backlog bounds the download lane), the paused
 * list, and its own easy handles (handles.c), pool (pool.c) and pollable set (pollset.c). It
 * runs *items*: a header in a larger object (a transfer, a work), seen only through its hooks.
 * Each completes once, by engine_complete: a pool job drained, or an easy handle settled
 * (after the last job its settle hook set). Must not know: what a transfer downloads, files,
 * what a response means. */
#include "engine.h"

#include <stdlib.h>
#include <string.h>

#include "class.h"

static const char engine_key = 'E'; /* registry[&engine_key] = this state's engine userdata */

void engine_retain(engine *e) {
  e->refs++;
}

void engine_release(engine *e) {
  if (--e->refs > 0) return;
  handles_close(&e->handles);
  pollset_close(&e->set);
  free(e->changes);
  free(e);
}

CURL *engine_easy_take(engine *e, engine_item *it, unsigned long tag, int *warm) {
  CURL *easy = handles_take(&e->handles, tag, warm);
  if (easy == NULL) return NULL;
  it->easy = easy;
  it->engine = e;
  it->tag = tag;
  it->held = 1;
  engine_retain(e);
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)it);
  return easy;
}

/* The handle back to the engine's handles; the item keeps its reference on the engine. */
static void engine_easy_drop(engine_item *it) {
  if (it->easy == NULL) return;
  curl_easy_setopt(it->easy, CURLOPT_PRIVATE, (char *)NULL);
  if (it->engine->multi) handles_give(&it->engine->handles, it->easy, it->tag);
  else curl_easy_cleanup(it->easy);
  it->easy = NULL;
}

void engine_easy_give(engine_item *it) {
  if (!it->held) return;
  engine_easy_drop(it);
  it->held = 0;
  engine_release(it->engine);
}

/* A free slot in lane c; in lane 1 (downloads), only while the backlog is under its bound. */
static int engine_room(const engine *e, int c) {
  return e->n_running[c] < ENGINE_MAX_RUNNING && (c == 0 || e->backlog <= SPOOL_BACKLOG_MAX);
}

int engine_admit(engine *e) {
  int k;
  if (e->multi == NULL) return 0;
  for (k = 0; k < ENGINE_LANES; k++) {
    int c = (e->next_lane + k) % ENGINE_LANES;
    list_node *n = list_first(&e->queue[c]);
    engine_item *it;
    if (n == NULL || !engine_room(e, c)) continue;
    it = LIST_ENTRY(n, engine_item, qlink);
    /* One that libcurl refuses stays first in line for the next call. */
    if (curl_multi_add_handle(e->multi, it->easy) != CURLM_OK) continue;
    list_remove(n);
    e->n_running[c]++;
    e->next_lane = (c + 1) % ENGINE_LANES;
    return 1;
  }
  return 0;
}

int engine_can_admit(const engine *e) {
  int c;
  for (c = 0; c < ENGINE_LANES; c++)
    if (!list_empty(&e->queue[c]) && engine_room(e, c)) return 1;
  return 0;
}

/* Moves queued items into the multi handle while their lane has free slots; paced, leaves
 * them to perform's budget. */
static void engine_promote(engine *e) {
  int added = 0;
  if (e->multi == NULL) return;
  if (!e->paced)
    while (engine_admit(e)) added = 1;
  /* A loop watching the set learns of new work (a cancel outside a step can free a slot). */
  if (e->fd_mode && (added || (e->paced && engine_can_admit(e)))) pollset_arm(&e->set, 0);
}

/* Takes the item out of the multi handle (or its queue, or the settling list): it is done. */
static void engine_detach(engine_item *it) {
  engine *e = it->engine;
  if (it->state != ENGINE_ACTIVE || it->working) return;
  list_remove(&it->plink);
  list_remove(&it->flink);
  if (!it->settling && !list_linked(&it->qlink)) { /* in the multi handle: its slot given back */
    if (e->multi) curl_multi_remove_handle(e->multi, it->easy);
    e->n_running[it->lane]--;
  }
  list_remove(&it->qlink);
  it->settling = 0;
  list_remove(&it->link);
  e->n_active--;
  it->state = ENGINE_DONE;
}

/* Waits until its work is done, or runs it here when no worker has taken it yet (a settled
 * item's last job is dropped instead: cancelled), and takes it off the worker list (and the
 * done queue) without completing it: 1. With wait 0, a job on a worker now: 0, left there. */
static int engine_join(engine_item *it, int wait) {
  engine *e = it->engine;
  int ran;
  if (!it->working) return 1;
  ran = pool_join(&e->pool, &it->job, wait);
  if (ran == POOL_RUNNING) return 0;
  if (ran == 0) {
    if (it->settle) it->cancelled = 1;
    else it->work(it);
  }
  it->working = 0;
  list_remove(&it->link);
  it->state = ENGINE_DONE;
  return 1;
}

/* The one completion path: into the done list at done_idx (0: none), its owner let go. */
static void engine_complete(lua_State *L, engine_item *it, int done_idx) {
  if (done_idx) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, it->ref);
    lua_rawseti(L, done_idx, (int)lua_rawlen(L, done_idx) + 1);
  }
  luaL_unref(L, LUA_REGISTRYINDEX, it->ref);
  it->ref = LUA_NOREF;
}

engine *engine_check(lua_State *L, int idx) {
  engine **pe = (engine **)class_check(L, idx, ENGINE_MT);
  if (*pe == NULL || (*pe)->multi == NULL) luaL_argerror(L, idx, "engine is closed");
  return *pe;
}

int engine_close(lua_State *L) {
  engine **pe = (engine **)luaL_checkudata(L, 1, ENGINE_MT);
  engine *e = *pe;
  list_node *n;
  if (e == NULL) return 0;
  while ((n = list_first(&e->active)) != NULL) {
    engine_item *it = LIST_ENTRY(n, engine_item, link);
    engine_detach(it);
    it->cancelled = 1;
  }
  while ((n = list_first(&e->workers)) != NULL) engine_join(LIST_ENTRY(n, engine_item, link), 1);
  pool_close(&e->pool);
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  *pe = NULL;
  engine_release(e);
  return 0;
}

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  engine *e = (engine *)userp;
  (void)easy;
  /* socketp, assigned when the engine first saw the socket and forgotten by libcurl on
   * CURL_POLL_REMOVE, says whether it is in the pollable set now. */
  pollset_watch(&e->set, fd, what, socketp != NULL);
  if (socketp == NULL && what != CURL_POLL_REMOVE) curl_multi_assign(e->multi, fd, (void *)e);
  return e->on_socket ? e->on_socket(e, fd, what) : 0;
}

engine *engine_get(lua_State *L) {
  engine **pe, *e;
  int c;
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  pe = (engine **)class_test(L, -1, ENGINE_MT);
  lua_pop(L, 1);
  if (pe && *pe) return *pe;
  pe = (engine **)class_new(L, ENGINE_MT, sizeof(engine *));
  *pe = e = (engine *)calloc(1, sizeof *e);
  if (e == NULL) luaL_error(L, "out of memory");
  e->refs = 1; /* NOLINT(clang-analyzer-core.NullDereference): luaL_error does not return */
  list_init(&e->active);
  for (c = 0; c < ENGINE_LANES; c++) list_init(&e->queue[c]);
  list_init(&e->workers);
  list_init(&e->settling);
  list_init(&e->failed);
  list_init(&e->paused);
  pool_init(&e->pool);
  pollset_init(&e->set);
  e->multi = curl_multi_init();
  if (e->multi == NULL) luaL_error(L, "curl_multi_init failed");
  /* The pollable set follows libcurl's sockets from the first one on, so music.pollfd() can
   * be asked for at any time. Where there is one, perform runs libcurl by socket_action on
   * what it reports, so a step's work follows what is ready and can stop after a budget;
   * without it (Windows, ENOSYS, EMFILE) by curl_multi_perform, all that is ready at once. */
  if (pollset_open(&e->set) == 0) e->fd_mode = 1;
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETFUNCTION, engine_on_socket);
  curl_multi_setopt(e->multi, CURLMOPT_SOCKETDATA, (void *)e);
  /* Hundreds of jobs share a few connections per host (HTTP/2 multiplexes over one), instead
   * of a socket each: polite to the service and far from the process's descriptor limit. */
  curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)ENGINE_MAX_HOST_CONNECTIONS);
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, (long)(2 * ENGINE_MAX_HOST_CONNECTIONS));
  curl_multi_setopt(e->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  handles_init(&e->handles);
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_insert(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return e;
}

int engine_start(lua_State *L, engine_item *it, int idx) {
  engine *e = it->engine;
  int c = it->lane;
  if (e->multi == NULL) {
    lua_pushliteral(L, "engine is closed");
    return 0;
  }
  if (!e->paced && engine_room(e, c) && list_empty(&e->queue[c])) {
    CURLMcode mc = curl_multi_add_handle(e->multi, it->easy);
    if (mc != CURLM_OK) {
      lua_pushstring(L, curl_multi_strerror(mc));
      return 0;
    }
    e->n_running[c]++;
  } else {
    list_push(&e->queue[c], &it->qlink);
    if (e->paced && e->fd_mode && engine_room(e, c)) pollset_arm(&e->set, 0);
  }
  lua_pushvalue(L, idx); /* the owner, held until it completes */
  it->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  it->state = ENGINE_ACTIVE;
  list_push(&e->active, &it->link);
  e->n_active++;
  return 1;
}

int engine_restart(engine_item *it, const char *url) {
  engine *e = it->engine;
  char *next = strdup(url); /* url may live in the handle that takes it */
  if (next == NULL) return 0;
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
  platform_sock w = e->pool.wake[0];
  if (w == PLATFORM_SOCK_NONE) {
    if ((w = pool_wake_fd(&e->pool)) == PLATFORM_SOCK_NONE) return -1;
    pollset_add_wake(&e->set, (int)w); /* an int wherever there is a set (not Windows) */
  }
  return (int)w;
}

static void engine_item_run(pool_job *j) {
  engine_item *it = LIST_ENTRY(j, engine_item, job);
  it->work(it);
}

/* Puts it->work on the pool, the item ACTIVE on the worker list until its job is drained: 1;
 * 0 when no thread can take it. */
static int engine_post(engine_item *it) {
  engine *e = it->engine;
  if (it->work == NULL || e->multi == NULL || engine_wake_fd(e) < 0) return 0;
  it->job.run = engine_item_run;
  if (!pool_post(&e->pool, &it->job)) return 0;
  it->working = 1;
  it->state = ENGINE_ACTIVE;
  list_push(&e->workers, &it->link);
  return 1;
}

int engine_spawn(lua_State *L, engine_item *it, int idx) {
  if (!engine_post(it)) return 0;
  lua_pushvalue(L, idx);
  it->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  return 1;
}

void engine_stop(lua_State *L, engine_item *it, int wait) {
  if (it->engine == NULL) return;
  /* A worker's job must not be cut in the middle. Not waited for, it keeps its owner alive
   * (the reference) until it is drained, and the item then completes with nobody waiting. */
  if (!engine_join(it, wait)) {
    it->cancelled = 1;
    return;
  }
  if (it->state == ENGINE_ACTIVE) {
    engine_detach(it);
    it->cancelled = 1;
    engine_promote(it->engine);
  }
  engine_complete(L, it, 0); /* into no list: the owner is let go (luaL_unref ignores NOREF) */
}

/* A settled item completes into the done list at done_idx (0: none): 1; or, when its settle
 * hook gave it a last job, once that job is drained from the pool: 0 (no thread: run here). */
static int engine_settled(lua_State *L, engine_item *it, int done_idx) {
  engine_detach(it);
  if (it->work && engine_post(it)) return 0;
  if (it->work) it->work(it);
  engine_complete(L, it, done_idx);
  return 1;
}

/* An item libcurl is done with (it->result set): its slot and easy handle given back at once
 * (the ended hook kept what its owner needs), so a download waiting for the disk holds no
 * libcurl buffer. Settled, or, while its settle hook waits for its worker, on the settling
 * list: 0. */
static int engine_end(lua_State *L, engine_item *it, int done_idx) {
  engine *e = it->engine;
  list_remove(&it->plink);
  curl_multi_remove_handle(e->multi, it->easy);
  e->n_running[it->lane]--;
  it->settling = 1;
  if (it->ended) it->ended(it);
  engine_easy_drop(it);
  if (it->settle && !it->settle(it)) {
    list_push(&e->settling, &it->qlink);
    return 0;
  }
  return engine_settled(L, it, done_idx);
}

/* Drains the pool's done queue: the jobs of others first (a download's spool: they may settle
 * an item), then completes failed items, settled ones, and those whose work is done (oldest
 * first) into the done list at done_idx (0: none); returns how many. */
int engine_reap_workers(lua_State *L, engine *e, int done_idx) {
  list_node done, *n, *next;
  int k = 0;
  list_init(&done);
  pool_drain(&e->pool, &done);
  for (n = done.next; n != &done; n = next) {
    pool_job *j = LIST_ENTRY(n, pool_job, link);
    next = n->next;
    if (j->after == NULL) continue;
    list_remove(n); /* after may post it again */
    j->after(j);
  }
  while ((n = list_pop(&e->failed)) != NULL) {
    engine_item *it = LIST_ENTRY(n, engine_item, flink);
    if (it->state == ENGINE_ACTIVE && !it->settling) k += engine_end(L, it, done_idx);
  }
  for (n = e->settling.next; n != &e->settling; n = next) {
    engine_item *it = LIST_ENTRY(n, engine_item, qlink);
    next = n->next;
    if (it->settle(it)) k += engine_settled(L, it, done_idx);
  }
  while ((n = list_pop(&done)) != NULL) {
    engine_item *it = LIST_ENTRY(n, engine_item, job.link);
    engine_join(it, 1); /* drained already: only off the worker list */
    engine_complete(L, it, done_idx);
    k++;
  }
  engine_promote(e); /* the backlog may be under its bound again */
  return k;
}

int engine_collect(lua_State *L, engine *e, int done_idx) {
  int left = 0, n = 0;
  CURLMsg *msg;
  while ((msg = curl_multi_info_read(e->multi, &left)) != NULL) {
    char *priv = NULL;
    engine_item *it;
    if (msg->msg != CURLMSG_DONE) continue;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &priv);
    it = (engine_item *)priv;
    /* One that failed as it was unpaused (drive_unpause) keeps that error: libcurl, with every
     * byte read off the socket, calls the transfer done with CURLE_OK all the same. */
    if (!list_linked(&it->flink)) it->result = msg->data.result;
    if (it->again && it->again(it)) continue;
    n += engine_end(L, it, done_idx);
  }
  engine_promote(e);
  if (!list_empty(&e->workers) || !list_empty(&e->settling) || !list_empty(&e->failed) ||
      e->pool.wake[0] != PLATFORM_SOCK_NONE)
    n += engine_reap_workers(L, e, done_idx);
  lua_pushinteger(L, e->n_active);
  lua_pushinteger(L, n);
  return 2;
}

int engine_tostring(lua_State *L) {
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
  lua_pushnumber(L, (lua_Number)platform_now());
  return 1;
}

const luaL_Reg engine_functions[] = {{"engine", l_engine}, {"now", l_now}, {NULL, NULL}};
