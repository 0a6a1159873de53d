/* engine: one libcurl multi handle per Lua state (see engine.c). */
#ifndef AIMLMUSIC_ENGINE_H
#define AIMLMUSIC_ENGINE_H

#include <curl/curl.h>
#include <stddef.h>

#include "handles.h"
#include "hidden.h"
#include "list.h"
#include "platform.h"
#include "pollset.h"
#include "pool.h"
#include "spool.h"

#include "compat.h"

HIDDEN_BEGIN

#define ENGINE_MT "aimlmusic.engine"

#define ENGINE_MAX_HOST_CONNECTIONS 32 /* connections kept open to one host at most */
/* Items of one lane (API requests, downloads) in the multi handle at once; the rest wait in
 * their queue holding no libcurl buffer, so memory follows what runs, not what waits. */
#define ENGINE_MAX_RUNNING 32
#define ENGINE_LANES 2

typedef enum { ENGINE_IDLE,
               ENGINE_ACTIVE,
               ENGINE_DONE } engine_state;

struct engine;

typedef struct engine_item {
  CURL *easy;            /* the handle libcurl runs; NULL once given back */
  struct engine *engine; /* counted reference, from engine_easy_take to engine_easy_give */
  int held;              /* that reference, which outlives the handle (see ended) */
  unsigned long tag;     /* nonzero: how its owner configured easy (engine_easy_take) */
  list_node link;        /* in the engine's active list while ACTIVE, or its worker list */
  list_node qlink;       /* in its lane's queue (not settling), or the settling list */
  list_node plink;       /* in the paused list */
  list_node flink;       /* in the failed list */
  int lane;              /* 0: API requests, 1: downloads */
  engine_state state;
  int cancelled;   /* stopped before it finished */
  int ref;         /* registry reference that keeps the owner alive while active */
  CURLcode result; /* libcurl's word on the finished easy handle */
  /* The hooks, each optional. again: libcurl finished the handle; 1 when the item goes on
   * (engine_restart). ended: the handle goes back to the engine: the owner keeps what it
   * reads of it later and clears its pointers in it. settle: again said no; 0 while the item
   * waits for work of its own on the pool (asked again at each drain); it may set work, a last
   * job run before the item completes, so that it completes once, with everything done.
   * hold: 1 keeps a paused item paused (its worker has not caught up; it wakes the engine). */
  int (*again)(struct engine_item *it);
  void (*ended)(struct engine_item *it);
  int (*settle)(struct engine_item *it);
  int (*hold)(struct engine_item *it);
  int settling; /* finished by libcurl, out of the multi handle, waiting for settle */
  /* Work for the pool (engine_spawn, or settle's last job); the item completes when its job
   * is drained. working: until then (on the worker list). */
  void (*work)(struct engine_item *it);
  int working;
  pool_job job;
} engine_item;

/* A socket libcurl wants watched, or no longer (what: CURL_POLL_*). */
typedef struct {
  curl_socket_t fd;
  int what;
} engine_sock_change;

/* One per Lua state, its fields grouped by purpose: the padding is not worth a layout by size.
 * NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding) */
typedef struct engine {
  int refs;     /* the Lua userdata + every item holding an easy handle */
  CURLM *multi; /* NULL once the userdata is collected */
  list_node active;
  int n_active;
  handles handles; /* easy handles kept for reuse, and the TLS session share */
  /* Per lane: items in the multi handle, and the FIFO of those waiting for a slot. */
  int n_running[ENGINE_LANES];
  list_node queue[ENGINE_LANES];
  pollset set; /* the pollable set (pollset.c) */
  int fd_mode; /* perform runs libcurl by socket_action on what the set reports */
  /* Socket mode (a host event loop drives libcurl): what libcurl asked for since the last
   * engine:changes(), which on_socket (drive.c) records; -1 fails libcurl's callback. */
  int socket_mode;
  int (*on_socket)(struct engine *e, curl_socket_t fd, int what);
  engine_sock_change *changes;
  int n_changes, cap_changes;
  long timer_ms;
  int timer_changed;
  /* Items whose work is on the pool, not drained yet; the pool and its wake pair. */
  list_node workers;
  pool pool;
  /* Items waiting for their settle hook, and items that failed as they were let go on. */
  list_node settling, failed;
  /* While a perform runs with a budget: when it ends (platform_now), else 0. Items that would
   * write past it pause, oldest first in the paused FIFO. */
  double deadline;
  int moved; /* this perform has let some bytes through */
  list_node paused;
  /* The last perform had a budget (step(0) per frame): each perform lets queued items in one
   * by one while its budget lasts. admit_cost: what starting one took lately (seconds). */
  int paced;
  double admit_cost;
  /* A host loop drives the engine (a budget, or socket mode): downloads go to disk through
   * their spool on the workers; else the caller waits anyway and they are written in place. */
  int hosted;
  int next_lane; /* the lane engine_admit looks at first, taking turns */
  /* Bytes the spools hold for the disk, not yet written (counted on the stepping thread):
   * past SPOOL_BACKLOG_MAX the download lane admits nothing, so memory follows this bound. */
  size_t backlog;
} engine;

/* This Lua state's engine, created on first use (not pushed). */
engine *engine_get(lua_State *L);
/* The read end of the pool's wake pair, created on first use; -1 if it cannot be. */
int engine_wake_fd(engine *e);

/* An easy handle for it (tag: handles_take's), holding a reference on e; NULL when libcurl
 * cannot make one. engine_easy_give hands it back, if the engine did not already, and drops
 * the reference. */
CURL *engine_easy_take(engine *e, engine_item *it, unsigned long tag, int *warm);
void engine_easy_give(engine_item *it);

/* Adds the item (owner at stack index idx, held until it completes) to the multi handle or
 * its lane's queue; 0 with a message pushed when libcurl refuses it. */
int engine_start(lua_State *L, engine_item *it, int idx);
/* Sends the finished handle again to url (a redirect); 0 when libcurl refuses (result set). */
int engine_restart(engine_item *it, const char *url);
/* Runs it->work on a worker of the pool (owner at idx); 0 when no thread can take it. */
int engine_spawn(lua_State *L, engine_item *it, int idx);

/* A reference on e for an item that holds no easy handle (a worker job's), and its drop. */
void engine_retain(engine *e);
void engine_release(engine *e);
/* Stops the item, idempotent: out of libcurl or its queue (cancelled), its worker waited for
 * (a settled item's last job that none took yet is dropped: cancelled); the owner may then be
 * collected. With wait 0 a job on a worker goes on: the item, cancelled, stays ACTIVE and its
 * owner held until the job is drained. */
void engine_stop(lua_State *L, engine_item *it, int wait);

/* Lets the first queued item of a lane with room into libcurl: 1; engine_can_admit: 1 when
 * it would. */
int engine_admit(engine *e);
int engine_can_admit(const engine *e);

/* The engine userdata at idx, raising when it is closed. */
engine *engine_check(lua_State *L, int idx);
/* Moves finished items into the table at done_idx (0: none) and pushes what perform and
 * socket_action return: items still active, items finished now. */
int engine_collect(lua_State *L, engine *e, int done_idx);
/* Completes finished workers only, without touching libcurl; returns how many. */
int engine_reap_workers(lua_State *L, engine *e, int done_idx);

/* __gc and __close: stops every item in flight; idempotent. The methods are drive.h's. */
int engine_close(lua_State *L);
int engine_tostring(lua_State *L);
/* core.engine, core.now */
extern const luaL_Reg engine_functions[];

HIDDEN_END

#endif
