/* A transfer: one request of the API as a Lua userdata. */
#ifndef AIMLMUSIC_TRANSFER_H
#define AIMLMUSIC_TRANSFER_H

#include "engine.h"
#include "hidden.h"
#include "spool.h"

HIDDEN_BEGIN

#define TRANSFER_MT "aimlmusic.transfer"

/* Bodies of API responses are small JSON documents; anything larger is refused. */
#define TRANSFER_MAX_BODY ((size_t)1024 * 1024)
/* What is kept of an error body sent instead of a download. */
#define TRANSFER_MAX_ERROR_BODY ((size_t)64 * 1024)
/* Redirects a download follows, each checked against the URL rule (url.h) before it is sent. */
#define TRANSFER_MAX_REDIRECTS 5

typedef enum { TRANSFER_SUBMIT,
               TRANSFER_STATUS,
               TRANSFER_DOWNLOAD } transfer_kind;

typedef struct transfer {
  engine_item item; /* first: what the engine runs */
  transfer_kind kind;
  int finished; /* finish() already ran */
  /* Borrowed from the session: the key to redact, alive while owner's count (release) is. */
  void *owner;
  void (*release)(void *owner);
  const char *key;
  const char *proxy; /* the session's proxy option (NULL: libcurl's *_proxy variables) */
  char *body;
  size_t body_len, body_cap;
  int body_overflow;
  /* downloads */
  int fd;
  char *tmp_path, *target_path;
  int unusable; /* its partial file is not one to resume from (finish said; core.discard removes it) */
  /* The journal and job whose evidence the commit records before the link (NULL: none). */
  char *journal_path, *job_id;
  int overwrite;
  int io_errno;
  int create_failed;      /* io_errno is the temporary file's creation's */
  curl_off_t bytes;       /* in the temporary file, including what an earlier attempt wrote */
  curl_off_t resume_from; /* where this attempt's Range request starts */
  curl_off_t max_bytes;   /* the most a download may write (0: no cap) */
  curl_off_t expected;    /* the size the job reported (0: unknown) */
  int oversize;           /* the write stopped: past max_bytes (1) or past expected (2) */
  int allow_http;         /* plain http to any host, for redirects */
  int redirects;          /* redirects followed so far */
  int refused;            /* a redirect broke the URL rule; errbuf says why */
  int no_location;        /* a 3xx answer with no Location to follow */
  long long deadline_ms;  /* when the download's overall deadline passes (monotonic; 0: none) */
  long stall_ms;          /* a download receiving nothing for this long ends (0: never) */
  curl_off_t seen;        /* bytes received when progress last moved ... */
  long long seen_at_ms;   /* ... and when (monotonic) */
  int stalled;            /* ended by stall_ms: a timeout */
  char errbuf[CURL_ERROR_SIZE];
  /* What libcurl said of the handle, kept by the ended hook (read through the accessors). */
  long status;
  curl_off_t announced;
  char *url;
  long long retry_after;
  /* A submit's single-send guard: the sends counted (-1: not counted, the submit has a
   * connection of its own), and whether a second one was refused. */
  int sends;
  int resend_refused;
  /* A download's bytes on their way to its file, made on the first write on the pool. */
  spool spool;
  int committed;       /* the download settled whole: its last job moves it into place */
  int commit_errno;    /* 0, or errno of the step that failed */
  int commit_moving;   /* the failed step was the move, not the sync */
  int commit_creating; /* the failed step was making the (empty) file */
} transfer;

/* Pushes a new transfer with an easy handle from e tagged tag: *warm says whether an earlier
 * transfer of the same tag configured it, and only what differs needs setting. */
transfer *transfer_new(lua_State *L, engine *e, transfer_kind kind, unsigned long tag, int *warm);
transfer *transfer_check(lua_State *L, int idx);
/* Gives the easy handle back and frees the body, not waiting for the garbage collector. */
void transfer_release(transfer *t);
/* Lets a submit reuse a connection only where a second send is impossible: libcurl re-sends
 * any request on a reused connection that dies before answering, and for a submit that is a
 * second paid job. Counts sends (t->sends) and refuses the second; where libcurl cannot
 * (older than 7.80), the submit opens a connection of its own, which is never re-sent on. */
void transfer_guard_single_send(transfer *t);
/* What the guard learns of the loaded libcurl, once per process (under the core's once). */
void transfer_init_once(void);
/* The proxy for the transfer's host: none for loopback (a proxy would reach its own loopback,
 * and would see an API request's key), else the session's. */
void transfer_set_proxy(transfer *t, int loopback);
/* The HTTP status (0: none yet), the Content-Length (-1: unknown), the URL last requested
 * (NULL: none) and Retry-After in seconds (0: none), from the handle or as kept. */
long transfer_status(const transfer *t);
curl_off_t transfer_announced(const transfer *t);
const char *transfer_url(const transfer *t);
long long transfer_retry_after(const transfer *t);
/* 1 with a message in msg (n bytes; NULL, 0: none) when the download's size is not the one
 * the server announced or the job reported. */
int transfer_size_problem(const transfer *t, char *msg, size_t n);
/* Takes over prev's partial file (a failed earlier attempt) to resume from its end; 0: none. */
int transfer_take_partial(transfer *t, transfer *prev);

/* __gc and __close: frees what it owns, a download's file not committed too; idempotent. */
int transfer_close(lua_State *L);
int transfer_tostring(lua_State *L);
/* transfer:done, :wait, :progress, :cancel (commit.h adds :finish) */
extern const luaL_Reg transfer_methods[];

HIDDEN_END

#endif
