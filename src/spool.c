/* spool: a download's ordered stream of bytes on their way to the disk. Owns: the pieces
 * libcurl's bytes are copied into, their order and count (past SPOOL_MAX the caller pauses),
 * the one pool job at a time that hands them to the owner's writer, the first failure, its
 * share of the backlog its owner counts, and its own mutex. Must not know: files (the owner's
 * writer makes the file), libcurl, the engine, Lua.
 * The thread that steps fills one piece without a lock and seals it when full (a lock and a
 * job per piece, not per 16 KiB call of libcurl's); a posted job writes every sealed piece in
 * order and comes back through the pool's done queue before the next is posted (spool_after):
 * one writer at a time, in order. */
#include "spool.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* The spool's job, on a worker: writes the pieces in order until none is left. */
static void spool_run(pool_job *j) {
  spool *s = LIST_ENTRY(j, spool, job);
  list_node *n;
  platform_mutex_lock(&s->mu);
  while ((n = list_pop(&s->chunks)) != NULL) {
    spool_chunk *c = LIST_ENTRY(n, spool_chunk, link);
    int failed = s->err, err = 0, opening = 0;
    platform_mutex_unlock(&s->mu);
    if (!failed) err = s->write(s, c->data, c->len, &opening);
    platform_mutex_lock(&s->mu);
    s->bytes -= c->len;
    s->drained += c->len;
    free(c);
    if (err && !s->err) {
      s->opening = opening;
      platform_store_release(&s->err, err);
    }
    if (s->wake && s->bytes <= SPOOL_MAX / 2) {
      s->wake = 0;
      pool_wake(s->pool);
    }
  }
  platform_mutex_unlock(&s->mu);
}

/* What the worker wrote comes off the backlog (stepping thread): 1 when sealed pieces wait. */
static int spool_count(spool *s) {
  size_t drained;
  int more;
  platform_mutex_lock(&s->mu);
  drained = s->drained;
  s->drained = 0;
  more = !list_empty(&s->chunks);
  platform_mutex_unlock(&s->mu);
  s->counted -= drained;
  *s->backlog -= drained;
  return more;
}

/* Hands the job to a worker, or writes here when there is none. */
static void spool_post(spool *s) {
  if (pool_post(s->pool, &s->job)) return;
  spool_run(&s->job);
  s->busy = 0;
  spool_count(s);
}

/* The job came back from the done queue: the next one is posted if bytes are waiting. */
static void spool_after(pool_job *j) {
  spool *s = LIST_ENTRY(j, spool, job);
  s->busy = spool_count(s);
  if (s->busy) spool_post(s);
}

int spool_init(spool *s, pool *p, size_t *backlog, int (*write)(spool *s, const char *p, size_t n, int *opening)) {
  int err = platform_mutex_init(&s->mu);
  if (err) return err;
  s->ready = 1;
  s->backlog = backlog;
  s->job.urgent = 1; /* writes go before the slow jobs (fsyncs) queued on the same pool */
  s->write = write;
  s->pool = p;
  s->job.run = spool_run;
  s->job.after = spool_after;
  list_init(&s->chunks);
  return 0;
}

/* Moves the piece being filled into the spool: 1; 0 when the spool is full and force is 0 (it
 * stays, and the loop is woken when the spool is half written). Under the mutex; *post: the
 * caller calls spool_post after unlocking. */
static int spool_seal_locked(spool *s, int force, int *post) {
  spool_chunk *c = s->fill;
  *post = 0;
  if (c == NULL || c->len == 0) return 1;
  if (!force && s->bytes > 0 && (s->bytes + c->len > SPOOL_MAX || *s->backlog > SPOOL_BACKLOG_MAX)) {
    s->wake = 1;
  } else {
    list_push(&s->chunks, &c->link);
    s->bytes += c->len;
    s->fill = NULL;
  }
  if (!s->busy && !list_empty(&s->chunks)) s->busy = *post = 1;
  return s->fill == NULL;
}

static int spool_seal(spool *s, int force) {
  int post, sealed;
  platform_mutex_lock(&s->mu);
  sealed = spool_seal_locked(s, force, &post);
  platform_mutex_unlock(&s->mu);
  if (post) spool_post(s);
  return sealed;
}

int spool_push(spool *s, const char *p, size_t n, int here, int *err, int *opening) {
  spool_chunk *c = s->fill;
  *opening = 0;
  *err = platform_load_acquire(&s->err);
  if (!*err && c == NULL && here && !s->busy) {
    /* Nothing waits (no piece, no job): in place, the fastest way. */
    if ((*err = s->write(s, p, n, opening)) != 0) return 0;
    s->started = 1;
    return 1;
  }
  if (*err) {
    platform_mutex_lock(&s->mu); /* with its companion, opening */
    *opening = s->opening;
    platform_mutex_unlock(&s->mu);
    return 0;
  }
  if (c == NULL || c->cap - c->len < n) {
    size_t cap = n > SPOOL_CHUNK ? n : SPOOL_CHUNK;
    if (c && !spool_seal(s, 0)) return -1;
    c = (spool_chunk *)malloc(sizeof *c + cap);
    if (c == NULL) {
      *err = ENOMEM;
      return 0;
    }
    c->link.prev = c->link.next = NULL;
    c->len = 0;
    c->cap = cap;
    s->fill = c;
  }
  memcpy(c->data + c->len, p, n);
  c->len += n;
  s->counted += n;
  *s->backlog += n;
  if (!s->started) {
    /* The first bytes go at once: the file is made and progress starts. */
    s->started = 1;
    spool_seal(s, 1);
  }
  return 1;
}

int spool_settle(spool *s, int *err, int *opening) {
  int done, post;
  platform_mutex_lock(&s->mu);
  spool_seal_locked(s, 1, &post); /* the last bytes, whatever the spool holds */
  done = !s->busy && list_empty(&s->chunks);
  *err = done ? s->err : 0;
  *opening = s->opening;
  platform_mutex_unlock(&s->mu);
  if (post) spool_post(s);
  return done;
}

int spool_hold(spool *s) {
  int hold, post;
  platform_mutex_lock(&s->mu);
  spool_seal_locked(s, 0, &post); /* paused: what it has goes to the disk meanwhile */
  hold = s->fill != NULL || s->bytes > SPOOL_MAX / 2;
  if (hold) s->wake = 1;
  platform_mutex_unlock(&s->mu);
  if (post) spool_post(s);
  return hold;
}

int spool_clean(spool *s) {
  /* After the stream settled no job runs: the stepping thread's view is the whole story. */
  return !s->busy && s->fill == NULL && list_empty(&s->chunks) && !platform_load_acquire(&s->err);
}

void spool_stop(spool *s) {
  list_node dropped, *n, *next;
  if (!s->ready) return;
  list_init(&dropped);
  platform_mutex_lock(&s->mu);
  list_move(&dropped, &s->chunks);
  s->bytes = 0;
  platform_mutex_unlock(&s->mu);
  if (s->busy) pool_join(s->pool, &s->job, 1); /* a write under way: short */
  s->busy = 0;
  spool_count(s); /* and what is left of its share comes off the backlog at once */
  *s->backlog -= s->counted;
  s->counted = 0;
  if (s->fill) list_push(&dropped, &s->fill->link);
  s->fill = NULL;
  for (n = dropped.next; n != &dropped; n = next) { /* not list_pop: the analyzer loses track */
    next = n->next;
    free(LIST_ENTRY(n, spool_chunk, link));
  }
}

void spool_close(spool *s) {
  if (!s->ready) return;
  spool_stop(s);
  platform_mutex_destroy(&s->mu);
  s->ready = 0;
}
