/* The transfer engine: one libcurl multi handle per Lua state, driven without blocking by
 * engine:perform() and put to sleep in the kernel only by engine:poll(ms). Each request is a
 * transfer userdata that owns its easy handle, its response buffer and, for a download, its
 * temporary file. */
#ifndef AIMLMUSIC_ENGINE_H
#define AIMLMUSIC_ENGINE_H

#include <curl/curl.h>
#include <pthread.h>
#include <stddef.h>

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

#define ENGINE_MT "aimlmusic.engine"
#define TRANSFER_MT "aimlmusic.transfer"

/* Connections kept open to one host at most. */
#define ENGINE_MAX_HOST_CONNECTIONS 32
/* Transfers of one class (API requests, downloads) in the multi handle at once; the rest wait
 * in the engine's queue holding no libcurl buffer, so memory follows what runs, not what waits. */
#define ENGINE_MAX_RUNNING 32

/* Bodies of API responses are small JSON documents; anything larger is refused. */
#define TRANSFER_MAX_BODY (1024 * 1024)
/* What is kept of an error body sent instead of a download. */
#define TRANSFER_MAX_ERROR_BODY (64 * 1024)
/* Redirects a download follows, each checked against the URL rule (url.h) before it is sent. */
#define TRANSFER_MAX_REDIRECTS 5

typedef enum { TRANSFER_SUBMIT, TRANSFER_STATUS, TRANSFER_DOWNLOAD } transfer_kind;
typedef enum { TRANSFER_IDLE, TRANSFER_ACTIVE, TRANSFER_DONE } transfer_state;

struct session;
struct engine;

typedef struct transfer {
  CURL *easy;
  struct engine *engine;   /* counted reference */
  struct transfer *prev, *next; /* in engine->active while ACTIVE */
  struct transfer *qnext;  /* in the engine's queue while waiting for a running slot */
  int queued;              /* ACTIVE, but not yet in the multi handle */
  struct session *session; /* counted reference: headers and key outlive the Lua object */
  int ref;                 /* registry reference that keeps the userdata alive while active */
  transfer_kind kind;
  transfer_state state;
  int cancelled;
  int finished;            /* finish() already ran */
  CURLcode result;
  char *body;
  size_t body_len, body_cap;
  int body_overflow;
  /* downloads */
  int fd;
  char *tmp_path, *target_path;
  int overwrite;
  int io_errno;
  curl_off_t bytes;       /* in the temporary file, including what an earlier attempt wrote */
  curl_off_t resume_from; /* where this attempt's Range request starts */
  curl_off_t max_bytes;   /* the most a download may write (0: no cap) */
  curl_off_t expected;    /* the size the job reported (0: unknown) */
  int oversize;           /* the write stopped: past max_bytes (1) or past expected (2) */
  int allow_http;         /* plain http to any host, for redirects */
  int redirects;          /* redirects followed so far */
  int refused;            /* a redirect broke the URL rule; errbuf says why */
  long stall_ms;          /* a download receiving nothing for this long ends (0: never) */
  curl_off_t seen;        /* bytes received when progress last moved ... */
  long long seen_at_ms;   /* ... and when (monotonic) */
  int stalled;            /* ended by stall_ms: a timeout */
  char errbuf[CURL_ERROR_SIZE];
  /* The commit of a finished download (fsync, then link or rename) runs on a worker thread,
   * so that no step of the host's loop waits for the disk (commit.c). */
  int commit_state; /* COMMIT_NONE, _RUNNING or _DONE; only through atomics (commit_state()) */
  int commit_errno; /* 0, or errno of the step that failed */
  int commit_moving; /* the failed step was the move, not the sync */
  pthread_t commit_thread;
  struct transfer *cnext; /* in engine->committing while running */
} transfer;

enum { COMMIT_NONE, COMMIT_RUNNING, COMMIT_DONE };

/* A socket libcurl wants watched (what: CURL_POLL_IN/OUT/INOUT) or no longer (CURL_POLL_REMOVE). */
typedef struct {
  curl_socket_t fd;
  int what;
} engine_sock_change;

typedef struct engine {
  int refs; /* the Lua userdata + every transfer made on it */
  CURLM *multi; /* NULL once the userdata is collected */
  transfer *active;
  int n_active;
  CURL *pool[32]; /* reset easy handles kept for reuse */
  int n_pool;
  /* Per class (0: API requests, 1: downloads): transfers in the multi handle, and the FIFO of
   * those waiting for a slot. */
  int n_running[2];
  transfer *queue_head[2], *queue_tail[2];
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
  /* Commits in flight, and the pipe their workers write a byte to when they finish: poll
   * and host loops watch its read end. */
  transfer *committing;
  int n_committing;
  int wake_fd[2];
} engine;

/* The read end of the engine's wake pipe, created on first use; -1 if it cannot be. */
int engine_wake_fd(engine *e);

/* This Lua state's engine, created on first use (not pushed). */
engine *engine_get(lua_State *L);
/* Pushes a new transfer userdata with an easy handle (from the pool) and its basic options. */
transfer *transfer_new(lua_State *L, engine *e, transfer_kind kind);
/* Adds the transfer at stack index idx to the multi handle; it then stays alive until done.
 * Returns 0 with a message pushed when libcurl refuses it. */
int transfer_start(lua_State *L, transfer *t, int idx);
transfer *transfer_check(lua_State *L, int idx);
/* Gives the easy handle back to the pool and frees the body: the transfer is finished and
 * its memory should not wait for the garbage collector. */
void transfer_release(transfer *t);

/* Registers a transfer that now stays alive until its commit is reaped. */
void engine_hold(lua_State *L, transfer *t, int idx);

void engine_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
