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

/* Connections kept open to one host at most. */
#define ENGINE_MAX_HOST_CONNECTIONS 32
/* Items of one lane (API requests, downloads) in the multi handle at once; the rest wait in
 * the engine's queue holding no libcurl buffer, so memory follows what runs, not what waits. */
#define ENGINE_MAX_RUNNING 32
#define ENGINE_LANES 2
/* Bytes waiting for the disk (engine.backlog) past which no new download is admitted: memory
 * follows this bound, not the disk's speed nor how many downloads finish at once. */
#define ENGINE_MAX_BACKLOG SPOOL_BACKLOG_MAX

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
  list_node qlink;       /* in its lane's queue (queued), or the settling list (settling) */
  list_node plink;       /* in the paused list */
  list_node flink;       /* in the failed list */
  int lane;              /* 0: API requests, 1: downloads */
  engine_state state;
  int queued;      /* ACTIVE, but not yet in the multi handle */
  int cancelled;   /* stopped before it finished */
  int ref;         /* registry reference that keeps the owner alive while active */
  CURLcode result; /* libcurl's word on the finished easy handle */
  /* Called when libcurl finished the handle, before it completes: returns 1 when the item goes
   * on (engine_restart with a new URL), 0 when it is done. NULL: always done. */
  int (*again)(struct engine_item *it);
  /* Called when libcurl is done with the handle for good, just before it goes back to the
   * engine's handles: the owner keeps what it reads of it later and clears its pointers in it.
   * NULL: nothing to keep. */
  void (*ended)(struct engine_item *it);
  /* Called when libcurl finished the handle and again said no: 1 when the item may complete
   * now, 0 when it waits for work of its own on the pool (a download's bytes still on their
   * way to the disk); asked again each time the pool's done queue is drained. NULL: always.
   * Settling, it may set work: the item's last job, run on the pool before it completes (a
   * whole download's move into place), so that it completes once, with everything done. */
  int (*settle)(struct engine_item *it);
  /* Called for a paused item before it is let go on: 1 keeps it paused (its worker has not
   * caught up yet; it wakes the engine when it has). NULL: never. */
  int (*hold)(struct engine_item *it);
  int settling; /* finished by libcurl, out of the multi handle, waiting for settle */
  /* One piece of work for the pool (engine_spawn, or settle's last job): work(it) runs on a
   * worker (here when no thread can start), and the item completes when its job is drained
   * from the done queue. working: from then until it is drained (on the worker list). */
  void (*work)(struct engine_item *it);
  int working;
  pool_job job;
} engine_item;

/* A socket libcurl wants watched (what: CURL_POLL_IN/OUT/INOUT) or no longer (CURL_POLL_REMOVE). */
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
   * engine:changes(), applied by the host loop outside libcurl's callbacks. on_socket (drive.c
   * sets it) hears of each socket libcurl asks about; -1 fails libcurl's callback. */
  int socket_mode;
  int (*on_socket)(struct engine *e, curl_socket_t fd, int what);
  engine_sock_change *changes;
  int n_changes, cap_changes;
  long timer_ms;
  int timer_changed;
  /* Items whose work is on the pool and not drained yet; the pool (its threads, queues and the
   * wake pair that poll and host loops watch). */
  list_node workers;
  int n_workers;
  pool pool;
  /* Items finished by libcurl that wait for their settle hook, and items that failed as they
   * were let go on. */
  list_node settling, failed;
  /* While a perform runs with a budget: when it ends (platform_now), else 0. Items that would
   * write past it pause, oldest first in the paused FIFO. */
  double deadline;
  int moved; /* this perform has let some bytes through */
  list_node paused;
  /* The last perform had a budget (a host calls step(0) per frame): new items wait in their
   * lane's queue, and each perform lets them into libcurl one by one while its budget lasts,
   * instead of libcurl starting every one of them in one call. admit_cost: the seconds
   * starting one took lately (up at once with a long one, down slowly). */
  int paced;
  double admit_cost;
  /* A host loop drives the engine (the last perform had a budget, or socket mode): downloads
   * go to disk through their spool on the workers. Otherwise the caller waits for them anyway,
   * and they are written in place, which costs less. */
  int hosted;
  int next_lane; /* the lane engine_admit looks at first, taking turns */
  /* Bytes the items' owners hold for the disk and not yet written (their spools add and take
   * off, on the stepping thread): past ENGINE_MAX_BACKLOG lane 1 admits nothing. */
  size_t backlog;
} engine;

/* This Lua state's engine, created on first use (not pushed). */
engine *engine_get(lua_State *L);
/* The read end of the pool's wake pair, created on first use; -1 if it cannot be. */
int engine_wake_fd(engine *e);

/* An easy handle for it, holding a reference on e (handles_take says which: tag 0 for none,
 * else one from handles_new_tag); engine_easy_give hands it back, if libcurl's end did not
 * already (see ended), and drops that. NULL when libcurl cannot make one. */
CURL *engine_easy_take(engine *e, engine_item *it, unsigned long tag, int *warm);
void engine_easy_give(engine_item *it);

/* Adds the item (owner userdata at stack index idx) to the multi handle or its lane's queue;
 * the owner then stays alive until it completes. Returns 0 with a message pushed when
 * libcurl refuses it. */
int engine_start(lua_State *L, engine_item *it, int idx);
/* Sends the finished handle again to url (a redirect); 0 when libcurl refuses (result set). */
int engine_restart(engine_item *it, const char *url);
/* Runs it->work on a worker of the pool (owner at idx); 0 when there is none and none can be
 * started. */
int engine_spawn(lua_State *L, engine_item *it, int idx);

/* A reference on e for an item that holds no easy handle (a worker job's); engine_release
 * drops it. */
void engine_retain(engine *e);
void engine_release(engine *e);
/* Stops the item: out of libcurl or its queue (marked cancelled), a worker waited for (a
 * settled item's last job that none took yet is dropped: cancelled); the owner may then be
 * collected. With wait 0, a job on a worker now goes on: the item is marked cancelled and
 * stays ACTIVE, its owner held, until that job is drained. Idempotent. */
void engine_stop(lua_State *L, engine_item *it, int wait);

/* Lets the first queued item of a lane with a free slot (lane 1: and the backlog under its
 * bound) into libcurl; 1 when one went in. */
int engine_admit(engine *e);
/* 1 when a queued item has a free slot (engine_admit would let one in). */
int engine_can_admit(const engine *e);

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

HIDDEN_END

#endif
