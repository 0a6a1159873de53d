/* work: core.work, file work on the engine's pool for a task to await. Owns: the work
 * userdata, an engine item and the state of one work_kind (workkind.h) described by the file
 * that owns the work, and letting go what that state still holds. It runs on a worker
 * (engine_spawn) and completes the one way pool jobs do, through the done queue drained on the
 * stepping thread, which wakes the task waiting for it (aimlmusic.task's await, as for a
 * transfer). The arguments stay referenced while it lives, so the state may borrow their
 * strings. Must not know: what a kind does, the journal's format, HTTP. */
#include "work.h"

#include <string.h>

#include "class.h"
#include "engine.h"
#include "platform.h"

#define WORK_MT "aimlmusic.work"

typedef struct {
  engine_item item;
  const work_kind *kind; /* NULL once its state is cleared */
  int args;              /* registry reference to the arguments */
  union {
    double d;
    void *p;
    long long l;
    work_held held; /* opens every kind's state */
  } state[];
} work;

static const work_kind *const kinds[] = {&journal_append_kind, &journal_read_kind, &output_reserve_kind,
                                         &reservation_own_kind, &reservation_release_kind, &datauri_read_kind,
                                         &part_remove_kind, &commit_discard_kind};

static work *work_check(lua_State *L) {
  return (work *)luaL_checkudata(L, 1, WORK_MT);
}

/* Lets go what the state still holds (workkind.h); its results can no longer be taken. */
static void work_clear(work *w) {
  work_held *h = &w->state[0].held;
  if (w->kind == NULL) return;
  if (h->fd >= 0) close(h->fd);
  free(h->path);
  free(h->buf);
  w->kind = NULL;
}

static void work_run(engine_item *it) {
  work *w = LIST_ENTRY(it, work, item);
  w->kind->run(w->state);
}

/* __gc and __close: waits for a worker still running it (its work is short and must not be cut
 * in the middle), then frees its state; idempotent. */
static int work_close(lua_State *L) {
  work *w = work_check(L);
  if (w->item.engine) {
    engine_stop(L, &w->item, 1);
    engine_release(w->item.engine);
    w->item.engine = NULL;
  }
  work_clear(w);
  luaL_unref(L, LUA_REGISTRYINDEX, w->args);
  w->args = LUA_NOREF;
  return 0;
}

static int work_tostring(lua_State *L) {
  work *w = work_check(L);
  lua_pushfstring(L, "aimlmusic.work(%s)", w->item.state == ENGINE_DONE ? "done" : "running");
  return 1;
}

/* work:done() --> true once its worker finished and the engine reaped it */
static int work_done(lua_State *L) {
  lua_pushboolean(L, work_check(L)->item.state == ENGINE_DONE);
  return 1;
}

/* work:result() --> the results of core[name](...), once (then its state is gone: not done) */
static int work_result(lua_State *L) {
  work *w = work_check(L);
  int n;
  if (w->item.state != ENGINE_DONE || w->kind == NULL) return luaL_error(L, "work is not done");
  n = w->kind->push ? w->kind->push(L, w->state) : 0;
  work_clear(w);
  return n;
}

/* Starts w on a worker, its arguments (2 to top) kept while it lives; 0 when no thread can. */
static int work_start(lua_State *L, work *w, engine *e) {
  int top = lua_gettop(L), i;
  lua_createtable(L, top - 1, 0);
  for (i = 2; i <= top; i++) {
    lua_pushvalue(L, i);
    lua_rawseti(L, -2, i - 1);
  }
  w->args = luaL_ref(L, LUA_REGISTRYINDEX);
  w->item.engine = e;
  engine_retain(e);
  w->item.work = work_run;
  return engine_spawn(L, &w->item, 1);
}

/* Runs kind k on its arguments from index first on: here (first 1, core[name]: waits, and
 * returns what push gives), or on a worker (first 2, core.work: the work replaces the name). */
static int work_call(lua_State *L, const work_kind *k, int first) {
  work *w;
  int n;
  lua_settop(L, first - 1 + k->nargs); /* absent arguments nil */
  w = (work *)class_new(L, WORK_MT, sizeof *w + k->size);
  w->args = LUA_NOREF;
  w->item.ref = LUA_NOREF;
  w->kind = k;
  w->state[0].held.fd = -1;
  if (first > 1) lua_replace(L, 1); /* the work at 1, its arguments from 2 */
  n = k->prepare(L, first, w->state);
  if (n < 0 && (first == 1 || !work_start(L, w, engine_get(L)))) {
    k->run(w->state); /* here, or no thread */
    n = k->push ? k->push(L, w->state) : 0;
  }
  if (n < 0) {
    lua_settop(L, 1);
    return 1;
  }
  work_clear(w);
  if (first == 1) return n;
  lua_pushboolean(L, 0);
  lua_insert(L, -n - 1);
  return n + 1;
}

/* core[name](...): the kind named by the upvalue, here. */
static int work_here(lua_State *L) {
  return work_call(L, (const work_kind *)lua_touserdata(L, lua_upvalueindex(1)), 1);
}

/* core.work(name, ...): see work.h. */
static int l_work(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  size_t i;
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i]->name, name) == 0) return work_call(L, kinds[i], 2);
  return luaL_argerror(L, 1, "no such work");
}

/* work:cancel(), work:finish(): what a task cancelled while it waits asks of what it waits
 * for; a work is never cut in the middle, and its state goes with it (__gc). */
static int work_noop(lua_State *L) {
  work_check(L);
  return 0;
}

void work_open(lua_State *L) {
  static const luaL_Reg methods[] = {
      {"done", work_done}, {"result", work_result}, {"cancel", work_noop}, {"finish", work_noop}, {NULL, NULL}};
  size_t i;
  class_define(L, WORK_MT, methods, work_close, work_tostring);
  lua_pushcfunction(L, l_work);
  lua_setfield(L, -2, "work");
  for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    lua_pushlightuserdata(L, (void *)kinds[i]);
    lua_pushcclosure(L, work_here, 1);
    lua_setfield(L, -2, kinds[i]->name);
  }
}
