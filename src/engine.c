/* The engine: one libcurl multi handle per Lua state, driven without blocking by
 * engine:perform() and put to sleep in the kernel only by engine:poll(ms).
 *
 * DESIGN. The engine owns the multi handle (and with it the connections and the parsed CA
 * store every transfer shares), the share of TLS sessions, the pool of reset easy handles,
 * the list of active items, the per-lane queues, socket mode, the wake pipe, the budget of a perform
 * (paused items, paced admission) and the worker threads, which run jobs (engine_post) for
 * the items. It runs *items*: an engine_item is a small header embedded in a larger object (a
 * transfer, transfer.h) that the engine never sees beyond the header and its hooks (again,
 * settle, hold). What finishes, an easy handle or a worker, goes through one completion path
 * (engine_complete) into the caller's done list.
 * It must not know what a transfer downloads, where a file goes, or what a response means. */
#include "engine.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "pollfd.h"

static const char engine_key = 'E'; /* registry[&engine_key] = this state's engine userdata */

static void engine_unref(engine *e) {
  int i;
  if (--e->refs > 0) return;
  for (i = 0; i < e->n_pool; i++) curl_easy_cleanup(e->pool[i]);
  if (e->share) curl_share_cleanup(e->share); /* after every handle that used it */
  platform_wake_close(e->wake_fd);
  pollfd_close(e);
  free(e->changes);
  free(e);
}

CURL *engine_easy_take(engine *e, engine_item *it) {
  return engine_easy_take_tagged(e, it, 0, NULL);
}

unsigned long engine_new_tag(engine *e) {
  return ++e->tags;
}

CURL *engine_easy_take_tagged(engine *e, engine_item *it, unsigned long tag, int *warm) {
  CURL *easy;
  int same = 0, i = -1, k;
  /* The handle of the same tag, else a reset one, else a new one while the pool has room to
   * spare for the handles other tags will ask for, else the one given back first. */
  for (k = e->n_pool - 1; tag && k >= 0 && i < 0; k--)
    if (e->pool_tag[k] == tag) i = k;
  same = i >= 0;
  for (k = e->n_pool - 1; k >= 0 && i < 0; k--)
    if (e->pool_tag[k] == 0) i = k;
  if (i < 0 && e->n_pool >= (int)(sizeof e->pool / sizeof e->pool[0]) / 2) i = 0;
  if (i >= 0) {
    easy = e->pool[i];
    if (!same && e->pool_tag[i]) curl_easy_reset(easy); /* configured for another owner */
    e->n_pool--;
    e->pool[i] = e->pool[e->n_pool];
    e->pool_tag[i] = e->pool_tag[e->n_pool];
  } else {
    easy = curl_easy_init();
  }
  if (warm) *warm = same;
  if (easy == NULL) return NULL;
  it->easy = easy;
  it->engine = e;
  it->tag = tag;
  e->refs++;
  curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)it);
  if (!same && e->share) curl_easy_setopt(easy, CURLOPT_SHARE, e->share);
  return easy;
}

void engine_easy_give(engine_item *it) {
  engine *e = it->engine;
  if (it->easy == NULL) return;
  if (e->multi && e->n_pool < (int)(sizeof e->pool / sizeof e->pool[0])) {
    /* A tagged handle keeps its options for the next request of its kind (libcurl's own way
     * of reusing a handle); any other goes back to libcurl's defaults now. */
    if (it->tag) curl_easy_setopt(it->easy, CURLOPT_PRIVATE, (char *)NULL);
    else curl_easy_reset(it->easy);
    e->pool_tag[e->n_pool] = it->tag;
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

int engine_admit(engine *e) {
  int k;
  if (e->multi == NULL) return 0;
  for (k = 0; k < ENGINE_LANES; k++) {
    int c = (e->next_lane + k) % ENGINE_LANES;
    engine_item *it = e->queue_head[c];
    if (it == NULL || e->n_running[c] >= ENGINE_MAX_RUNNING) continue;
    /* One that libcurl refuses stays first in line for the next call. */
    if (curl_multi_add_handle(e->multi, it->easy) != CURLM_OK) continue;
    e->queue_head[c] = it->qnext;
    if (e->queue_tail[c] == it) e->queue_tail[c] = NULL;
    it->qnext = NULL;
    it->queued = 0;
    e->n_running[c]++;
    e->next_lane = (c + 1) % ENGINE_LANES;
    return 1;
  }
  return 0;
}

int engine_can_admit(const engine *e) {
  int c;
  for (c = 0; c < ENGINE_LANES; c++)
    if (e->queue_head[c] && e->n_running[c] < ENGINE_MAX_RUNNING) return 1;
  return 0;
}

/* Moves queued items into the multi handle while their lane has free slots; paced, leaves
 * them to perform (engine_admit under its budget). */
static void engine_promote(engine *e) {
  int added = 0;
  if (e->multi == NULL) return;
  if (!e->paced)
    while (engine_admit(e)) added = 1;
  /* A loop watching the pollable set learns that there is new work (a cancel outside a step
   * can free the slot). */
  if (e->fd_mode && (added || (e->paced && engine_can_admit(e)))) pollfd_arm(e, 0);
}

/* Takes a paused item off the paused FIFO. */
static void paused_unlink(engine *e, engine_item *it) {
  engine_item **pp = &e->paused_head, *prev = NULL;
  if (!it->paused) return;
  while (*pp && *pp != it) {
    prev = *pp;
    pp = &(*pp)->pnext;
  }
  if (*pp) *pp = it->pnext;
  if (e->paused_tail == it) e->paused_tail = prev;
  it->pnext = NULL;
  it->paused = 0;
}

int engine_over_budget(engine_item *it) {
  engine *e = it->engine;
  if (e->deadline <= 0) return 0;
  /* The first bytes of a perform always go: however slow the machine, every perform moves. */
  if (!e->moved) {
    e->moved = 1;
    return 0;
  }
  if (platform_now() < e->deadline) return 0;
  return engine_pause(it);
}

int engine_has_paused(const engine *e) {
  engine_item *it;
  for (it = e->paused_head; it; it = it->pnext)
    if (it->hold == NULL || !it->hold(it)) return 1;
  return 0;
}

void engine_unpause(engine *e) {
  /* Each is taken off before libcurl hands it its bytes: past the deadline, or held, it pauses
   * again and rejoins at the tail, so the count, not the list, ends the loop. */
  engine_item *last = e->paused_tail;
  int first = 1;
  while (e->paused_head) {
    engine_item *it = e->paused_head;
    /* The first goes whatever the budget: however slow the machine, paused downloads move. */
    if (!first && e->deadline > 0 && platform_now() >= e->deadline) break;
    first = 0;
    e->paused_head = it->pnext;
    if (e->paused_tail == it) e->paused_tail = NULL;
    it->pnext = NULL;
    if (it->hold && it->hold(it)) {
      if (e->paused_tail) e->paused_tail->pnext = it;
      else e->paused_head = it;
      e->paused_tail = it;
    } else {
      CURLcode rc;
      it->paused = 0;
      /* libcurl hands over the bytes it kept here; when the write callback refuses them (a
       * size cap, a failed write) it returns that error and leaves the transfer without a
       * timer or a socket to watch: it would never end. It ends here, with that error. */
      rc = curl_easy_pause(it->easy, CURLPAUSE_CONT);
      if (rc != CURLE_OK && !it->failed) {
        it->result = rc;
        it->failed = 1;
        it->qnext = e->failed;
        e->failed = it;
      }
    }
    if (it == last) break;
  }
}

int engine_pause(engine_item *it) {
  engine *e = it->engine;
  if (!it->paused) {
    it->paused = 1;
    it->pnext = NULL;
    if (e->paused_tail) e->paused_tail->pnext = it;
    else e->paused_head = it;
    e->paused_tail = it;
  }
  return 1;
}

/* Takes a settling item off the settling list. */
static void settling_unlink(engine *e, engine_item *it) {
  engine_item **pp = &e->settling;
  while (*pp && *pp != it) pp = &(*pp)->qnext;
  if (*pp) *pp = it->qnext;
  it->qnext = NULL;
  it->settling = 0;
}

/* Takes the item out of the multi handle (or the queue, or the settling list) and the active
 * list. */
static void engine_detach(engine_item *it) {
  engine *e = it->engine;
  if (it->state != ENGINE_ACTIVE || it->work_state != ENGINE_WORK_NONE) return;
  paused_unlink(e, it);
  if (it->failed) {
    engine_item **fp = &e->failed;
    while (*fp && *fp != it) fp = &(*fp)->qnext;
    if (*fp) *fp = it->qnext;
    it->qnext = NULL;
    it->failed = 0;
  }
  if (it->settling) {
    settling_unlink(e, it); /* out of the multi handle already, its slot given back */
  } else if (it->queued) {
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

int engine_unpost(engine *e, engine_job *j) {
  engine_job **pp = &e->wq_head, *prev = NULL;
  if (!j->queued) return 0;
  while (*pp && *pp != j) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (*pp) *pp = j->next;
  if (e->wq_tail == j) e->wq_tail = prev;
  j->next = NULL;
  j->queued = 0;
  return 1;
}

/* Takes it off the worker list (linked by prev and next: it is in no active list meanwhile). */
static void workers_unlink(engine *e, engine_item *it) {
  if (it->prev) it->prev->next = it->next;
  else if (e->workers == it) e->workers = it->next;
  else return;
  if (it->next) it->next->prev = it->prev;
  it->prev = it->next = NULL;
  e->n_workers--;
}

/* Waits until its work is done, or runs it here when no thread has taken it yet, and takes
 * it off the worker list (and the done queue) without completing it. */
static void engine_join(engine_item *it) {
  engine *e = it->engine;
  engine_job **pp;
  if (engine_work_state(it) == ENGINE_WORK_NONE || it->state != ENGINE_ACTIVE) return;
  platform_mutex_lock(&e->mu);
  if (engine_unpost(e, &it->job)) {
    platform_mutex_unlock(&e->mu);
    it->work(it);
    platform_mutex_lock(&e->mu);
    it->work_state = ENGINE_WORK_DONE;
  }
  while (it->work_state != ENGINE_WORK_DONE) platform_cond_wait(&e->done_cv, &e->mu);
  for (pp = &e->dq_head; *pp && *pp != &it->job; pp = &(*pp)->next) {}
  if (*pp) {
    *pp = it->job.next;
    it->job.next = NULL;
  }
  platform_mutex_unlock(&e->mu);
  workers_unlink(e, it);
  it->state = ENGINE_DONE;
}

/* Ends the worker threads once the work they have is done; idempotent. */
static void engine_pool_close(engine *e) {
  int i;
  if (!e->pool_ready) return;
  platform_mutex_lock(&e->mu);
  e->stop = 1;
  platform_cond_broadcast(&e->work_cv);
  platform_mutex_unlock(&e->mu);
  for (i = 0; i < e->n_threads; i++) platform_thread_join(e->threads[i]);
  e->n_threads = 0;
  platform_cond_destroy(&e->done_cv);
  platform_cond_destroy(&e->work_cv);
  platform_mutex_destroy(&e->mu);
  e->pool_ready = 0;
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

engine *engine_check(lua_State *L, int idx) {
  engine **pe = (engine **)class_check(L, idx, ENGINE_MT);
  if (*pe == NULL || (*pe)->multi == NULL) luaL_argerror(L, idx, "engine is closed");
  return *pe;
}

/* __gc and __close: stops every item still in flight; idempotent. */
int engine_close(lua_State *L) {
  engine **pe = (engine **)luaL_checkudata(L, 1, ENGINE_MT);
  engine *e = *pe;
  if (e == NULL) return 0;
  while (e->active) {
    engine_item *it = e->active;
    engine_detach(it);
    it->cancelled = 1;
  }
  while (e->workers) engine_join(e->workers);
  engine_pool_close(e);
  curl_multi_cleanup(e->multi);
  e->multi = NULL;
  *pe = NULL;
  engine_unref(e);
  return 0;
}

static int engine_on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  engine *e = (engine *)userp;
  (void)easy;
  /* socketp is what the engine assigned the socket when it first saw it; libcurl forgets it
   * on CURL_POLL_REMOVE, so it says whether the socket is in the pollable set now. */
  pollfd_watch(e, fd, what, socketp != NULL);
  if (socketp == NULL && what != CURL_POLL_REMOVE) curl_multi_assign(e->multi, fd, (void *)e);
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

/* Whether libcurl has a default CA bundle: what a new handle reports (libcurl 7.84 and later;
 * an older one says nothing, and its defaults stay as they are). */
static int engine_probe_ca_file(void) {
  int has = 0;
#if LIBCURL_VERSION_NUM >= 0x075400
  CURL *easy = curl_easy_init();
  char *ca = NULL;
  if (easy && curl_easy_getinfo(easy, CURLINFO_CAINFO, &ca) == CURLE_OK && ca && ca[0]) has = 1;
  if (easy) curl_easy_cleanup(easy);
#endif
  return has;
}

int engine_default_ca_file(const engine *e) {
  return e->default_ca_file;
}

engine *engine_get(lua_State *L) {
  engine **pe;
  lua_pushlightuserdata(L, (void *)&engine_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  pe = (engine **)class_test(L, -1, ENGINE_MT);
  lua_pop(L, 1);
  if (pe && *pe) return *pe;
  pe = (engine **)class_new(L, ENGINE_MT, sizeof(engine *));
  *pe = (engine *)calloc(1, sizeof **pe);
  if (*pe == NULL) luaL_error(L, "out of memory");
  (*pe)->refs = 1; /* NOLINT(clang-analyzer-core.NullDereference): luaL_error does not return */
  (*pe)->wake_fd[0] = (*pe)->wake_fd[1] = PLATFORM_SOCK_NONE;
  (*pe)->poll_fd = (*pe)->timer_fd = -1;
  (*pe)->multi = curl_multi_init();
  if ((*pe)->multi == NULL) luaL_error(L, "curl_multi_init failed");
  /* The pollable set follows libcurl's sockets from the first one on, so music.pollfd() can
   * be asked for at any time. Where there is one, perform runs libcurl by socket_action on
   * what it reports, so a step's work follows what is ready and can stop after a budget;
   * without it (Windows, ENOSYS, EMFILE) by curl_multi_perform, all that is ready at once. */
  if (pollfd_open(*pe) == 0) (*pe)->fd_mode = 1;
  curl_multi_setopt((*pe)->multi, CURLMOPT_SOCKETFUNCTION, engine_on_socket);
  curl_multi_setopt((*pe)->multi, CURLMOPT_SOCKETDATA, (void *)*pe);
  /* Hundreds of jobs share a few connections per host (HTTP/2 multiplexes over one), instead
   * of a socket each: polite to the service and far from the process's descriptor limit. */
  curl_multi_setopt((*pe)->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)ENGINE_MAX_HOST_CONNECTIONS);
  curl_multi_setopt((*pe)->multi, CURLMOPT_MAXCONNECTS, (long)(2 * ENGINE_MAX_HOST_CONNECTIONS));
  curl_multi_setopt((*pe)->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  (*pe)->share = curl_share_init();
  if ((*pe)->share) curl_share_setopt((*pe)->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  (*pe)->default_ca_file = engine_probe_ca_file();
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
  if (!e->paced && e->n_running[c] < ENGINE_MAX_RUNNING && e->queue_head[c] == NULL) {
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
    if (e->paced && e->fd_mode && e->n_running[c] < ENGINE_MAX_RUNNING) pollfd_arm(e, 0);
  }
  engine_hold(L, it, idx);
  return 1;
}

int engine_restart(engine_item *it, const char *url) {
  engine *e = it->engine;
  size_t n = strlen(url) + 1;
  char *next = (char *)malloc(n); /* url may live in the handle that takes it */
  if (next == NULL) return 0;
  memcpy(next, url, n);
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
  if (e->wake_fd[0] == PLATFORM_SOCK_NONE) {
    if (platform_wake_open(e->wake_fd) != 0) return -1;
    pollfd_add_wake(e, (int)e->wake_fd[0]); /* an int wherever pollfd has a set (not Windows) */
  }
  return (int)e->wake_fd[0];
}

/* A worker thread: takes jobs in order until the engine closes. */
static void *engine_worker_main(void *arg) {
  engine *e = (engine *)arg;
  platform_mutex_lock(&e->mu);
  for (;;) {
    engine_job *j = e->wq_head;
    if (j == NULL) {
      if (e->stop) break;
      e->n_idle++;
      platform_cond_wait(&e->work_cv, &e->mu);
      e->n_idle--;
      continue;
    }
    e->wq_head = j->next;
    if (e->wq_tail == j) e->wq_tail = NULL;
    j->next = NULL;
    j->queued = 0;
    platform_mutex_unlock(&e->mu);
    j->run(j);
    platform_mutex_lock(&e->mu);
  }
  platform_mutex_unlock(&e->mu);
  return NULL;
}

/* The pool's mutex and condition variables, made on first use; 0 when they cannot be. */
static int engine_pool_open(engine *e) {
  if (e->pool_ready) return 1;
  if (platform_mutex_init(&e->mu) != 0) return 0;
  if (platform_cond_init(&e->work_cv) != 0) {
    platform_mutex_destroy(&e->mu);
    return 0;
  }
  if (platform_cond_init(&e->done_cv) != 0) {
    platform_cond_destroy(&e->work_cv);
    platform_mutex_destroy(&e->mu);
    return 0;
  }
  e->pool_ready = 1;
  e->stop = 0;
  return 1;
}

int engine_post(engine *e, engine_job *j) {
  if (e->multi == NULL || engine_wake_fd(e) < 0 || !engine_pool_open(e)) return 0;
  platform_mutex_lock(&e->mu);
  /* A thread more while none is idle, up to the limit; without any, the caller does the work. */
  if (e->n_idle == 0 && e->n_threads < ENGINE_THREADS &&
      platform_thread_start(&e->threads[e->n_threads], engine_worker_main, e) == 0)
    e->n_threads++;
  if (e->n_threads == 0) {
    platform_mutex_unlock(&e->mu);
    return 0;
  }
  if (!j->queued) {
    j->next = NULL;
    j->queued = 1;
    if (e->wq_tail) e->wq_tail->next = j;
    else e->wq_head = j;
    e->wq_tail = j;
    platform_cond_signal(&e->work_cv);
  }
  platform_mutex_unlock(&e->mu);
  return 1;
}

/* Locking only once there are workers to lock against: not analysed, callers are. */
PLATFORM_NO_LOCK_ANALYSIS void engine_lock(engine *e) {
  if (e->pool_ready) platform_mutex_lock(&e->mu);
}

PLATFORM_NO_LOCK_ANALYSIS void engine_unlock(engine *e) {
  if (e->pool_ready) platform_mutex_unlock(&e->mu);
}

void engine_wait_done(engine *e) {
  platform_cond_wait(&e->done_cv, &e->mu);
}

void engine_done(engine *e) {
  platform_cond_broadcast(&e->done_cv);
}

void engine_wake(engine *e) {
  if (e->wake_fd[1] != PLATFORM_SOCK_NONE) platform_wake_signal(e->wake_fd[1]);
}

/* An item's work on a worker thread, then its completion: on the done queue, under the mutex,
 * and a byte on the wake pipe; the stepping thread drains the queue (engine_reap_workers). */
static void engine_item_run(engine_job *j) {
  engine_item *it = ENGINE_CONTAINER(j, engine_item, job);
  engine *e = it->engine;
  it->work(it);
  platform_mutex_lock(&e->mu);
  it->work_state = ENGINE_WORK_DONE;
  j->next = e->dq_head;
  e->dq_head = j;
  platform_cond_broadcast(&e->done_cv);
  engine_wake(e);
  platform_mutex_unlock(&e->mu);
}

int engine_work_state(engine_item *it) {
  engine *e = it->engine;
  int st;
  if (!e->pool_ready) return it->work_state;
  platform_mutex_lock(&e->mu);
  st = it->work_state;
  platform_mutex_unlock(&e->mu);
  return st;
}

void engine_retain(engine *e) {
  e->refs++;
}

void engine_release(engine *e) {
  engine_unref(e);
}

int engine_spawn(lua_State *L, engine_item *it, int idx) {
  engine *e = it->engine;
  if (it->work == NULL) return 0;
  it->work_state = ENGINE_WORK_RUNNING; /* no thread sees it before engine_post */
  it->job.run = engine_item_run;
  if (!engine_post(e, &it->job)) {
    it->work_state = ENGINE_WORK_NONE;
    return 0;
  }
  it->state = ENGINE_ACTIVE;
  it->prev = NULL;
  it->next = e->workers;
  if (e->workers) e->workers->prev = it;
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

/* An item libcurl is done with (it->result set): completes it into the done list at done_idx
 * (0: none) and returns 1, or, when its settle hook says it waits for its worker, takes it
 * out of libcurl onto the settling list and returns 0. */
static int engine_end(lua_State *L, engine_item *it, int done_idx) {
  engine *e = it->engine;
  if (it->settle && !it->settle(it)) {
    /* Out of libcurl, its slot given back; it completes when its worker is done. */
    paused_unlink(e, it);
    curl_multi_remove_handle(e->multi, it->easy);
    e->n_running[it->lane]--;
    it->settling = 1;
    it->qnext = e->settling;
    e->settling = it;
    return 0;
  }
  engine_detach(it);
  engine_complete(L, it, done_idx);
  return 1;
}

/* Completes finished workers, settled items and items that failed as they were let go on
 * into the done list at done_idx (0: none); returns how many. */
int engine_reap_workers(lua_State *L, engine *e, int done_idx) {
  engine_item **pp;
  int n = 0;
  if (e->wake_fd[0] != PLATFORM_SOCK_NONE) platform_wake_drain(e->wake_fd[0]);
  while (e->failed) {
    engine_item *it = e->failed;
    e->failed = it->qnext;
    it->qnext = NULL;
    it->failed = 0;
    if (it->state == ENGINE_ACTIVE && !it->settling) n += engine_end(L, it, done_idx);
  }
  pp = &e->settling;
  while (*pp) {
    engine_item *it = *pp;
    if (!it->settle(it)) {
      pp = &it->qnext;
      continue;
    }
    *pp = it->qnext;
    it->qnext = NULL;
    it->settling = 0;
    if (it->prev) it->prev->next = it->next;
    else e->active = it->next;
    if (it->next) it->next->prev = it->prev;
    it->prev = it->next = NULL;
    e->n_active--;
    it->state = ENGINE_DONE;
    engine_complete(L, it, done_idx);
    n++;
  }
  if (e->pool_ready) {
    engine_job *j, *done = NULL;
    platform_mutex_lock(&e->mu);
    j = e->dq_head;
    e->dq_head = NULL;
    platform_mutex_unlock(&e->mu);
    while (j) { /* newest first there: completed oldest first */
      engine_job *next = j->next;
      j->next = done;
      done = j;
      j = next;
    }
    for (j = done; j;) {
      engine_item *it = ENGINE_CONTAINER(j, engine_item, job);
      j = j->next;
      it->job.next = NULL;
      workers_unlink(e, it);
      it->state = ENGINE_DONE;
      engine_complete(L, it, done_idx);
      n++;
    }
  }
  return n;
}

/* Moves finished items out of the multi handle and the worker list into the table at
 * done_idx (0: none), and pushes the two results of perform and socket_action. */
int engine_collect(lua_State *L, engine *e, int done_idx) {
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
    n += engine_end(L, it, done_idx);
  }
  engine_promote(e);
  if (e->n_workers > 0 || e->settling || e->failed || e->wake_fd[0] != PLATFORM_SOCK_NONE)
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
