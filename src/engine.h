/* The engine: one libcurl multi handle per Lua state, driven without blocking by
 * engine:perform() and put to sleep in the kernel only by engine:poll(ms). */
#ifndef AIMLMUSIC_ENGINE_H
#define AIMLMUSIC_ENGINE_H

#include <curl/curl.h>
#include <stddef.h>

#include "platform.h"

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define ENGINE_MT "aimlmusic.engine"

/* Connections kept open to one host at most. */
#define ENGINE_MAX_HOST_CONNECTIONS 32
/* Items of one lane (API requests, downloads) in the multi handle at once; the rest wait in
 * the engine's queue holding no libcurl buffer, so memory follows what runs, not what waits. */
#define ENGINE_MAX_RUNNING 32
#define ENGINE_LANES 2

/* The pointer to the object of type `type` whose member `member` is at p. */
#define ENGINE_CONTAINER(p, type, member) ((type *)(void *)((char *)(p)-offsetof(type, member)))

typedef enum { ENGINE_IDLE,
               ENGINE_ACTIVE,
               ENGINE_DONE } engine_state;
enum { ENGINE_WORK_NONE,
       ENGINE_WORK_RUNNING,
       ENGINE_WORK_DONE };

struct engine;

typedef struct engine_item {
  CURL *easy;                      /* the handle libcurl runs; NULL once given back */
  struct engine *engine;           /* counted reference, from engine_easy_take to engine_easy_give */
  struct engine_item *prev, *next; /* in the engine's active list while ACTIVE */
  struct engine_item *qnext;       /* in the lane's queue, or the worker list */
  int lane;                        /* 0: API requests, 1: downloads */
  engine_state state;
  int queued;      /* ACTIVE, but not yet in the multi handle */
  int cancelled;   /* stopped before it finished */
  int ref;         /* registry reference that keeps the owner alive while active */
  CURLcode result; /* libcurl's word on the finished easy handle */
  /* Called when libcurl finished the handle, before it completes: returns 1 when the item goes
   * on (engine_restart with a new URL), 0 when it is done. NULL: always done. */
  int (*again)(struct engine_item *it);
  /* A worker: work(it) runs on its own thread (engine_spawn); work_state only through atomics. */
  void (*work)(struct engine_item *it);
  int work_state;
  platform_thread thread;
} engine_item;

/* A socket libcurl wants watched (what: CURL_POLL_IN/OUT/INOUT) or no longer (CURL_POLL_REMOVE). */
typedef struct {
  curl_socket_t fd;
  int what;
} engine_sock_change;

typedef struct engine {
  int refs;     /* the Lua userdata + every item holding an easy handle */
  CURLM *multi; /* NULL once the userdata is collected */
  engine_item *active;
  int n_active;
  CURL *pool[32]; /* reset easy handles kept for reuse */
  int n_pool;
  /* Per lane: items in the multi handle, and the FIFO of those waiting for a slot. */
  int n_running[ENGINE_LANES];
  engine_item *queue_head[ENGINE_LANES], *queue_tail[ENGINE_LANES];
  /* The pollable set (pollfd.c) and its timer; -1 when there is none. */
  int poll_fd, timer_fd;
  int fd_mode; /* perform runs libcurl by socket_action on what the set reports */
  /* Socket mode (a host event loop drives libcurl): what libcurl asked for since the last
   * engine:changes(), applied by the host loop outside libcurl's callbacks. */
  int socket_mode;
  engine_sock_change *changes;
  int n_changes, cap_changes;
  long timer_ms;
  int timer_changed;
  /* Workers in flight, and the pipe they write a byte to when they finish: poll and host
   * loops watch its read end. */
  engine_item *workers;
  int n_workers;
  platform_sock wake_fd[2]; /* PLATFORM_SOCK_NONE until first used */
} engine;

/* This Lua state's engine, created on first use (not pushed). */
engine *engine_get(lua_State *L);
/* The read end of the engine's wake pipe, created on first use; -1 if it cannot be. */
int engine_wake_fd(engine *e);

/* An easy handle for it (from the pool, else new; NULL when libcurl cannot make one), holding
 * a reference on e; engine_easy_give hands it back (reset into the pool) and drops that. */
CURL *engine_easy_take(engine *e, engine_item *it);
void engine_easy_give(engine_item *it);

/* Adds the item (owner userdata at stack index idx) to the multi handle or its lane's queue;
 * the owner then stays alive until it completes. Returns 0 with a message pushed when
 * libcurl refuses it. */
int engine_start(lua_State *L, engine_item *it, int idx);
/* Sends the finished handle again to url (a redirect); 0 when libcurl refuses (result set). */
int engine_restart(engine_item *it, const char *url);
/* Runs it->work on a worker thread (owner at idx); 0 when no thread can be started. */
int engine_spawn(lua_State *L, engine_item *it, int idx);
/* it->work_state, read atomically: a worker may write it. */
int engine_work_state(engine_item *it);
/* Stops the item: out of libcurl or its queue (marked cancelled), a worker waited for; the
 * owner may then be collected. Idempotent. */
void engine_stop(lua_State *L, engine_item *it);

/* The engine userdata at idx, raising when it is closed. */
engine *engine_check(lua_State *L, int idx);
/* Moves finished items out of the multi handle and the worker list into the table at
 * done_idx (0: none), and pushes the two results of perform and socket_action: items still
 * active, items finished now. */
int engine_collect(lua_State *L, engine *e, int done_idx);
/* Completes finished workers only, without touching libcurl; returns how many. */
int engine_reap_workers(lua_State *L, engine *e, int done_idx);

/* __gc and __close: stops every item still in flight; idempotent. __tostring. The methods
 * are drive.h's. */
int engine_close(lua_State *L);
int engine_tostring(lua_State *L);
/* core.engine, core.now */
extern const luaL_Reg engine_functions[];

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
