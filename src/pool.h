/* pool: worker threads with a job queue and a done queue (see pool.c). */
#ifndef AIMLMUSIC_POOL_H
#define AIMLMUSIC_POOL_H

#include "hidden.h"
#include "list.h"
#include "platform.h"

HIDDEN_BEGIN

#define POOL_THREADS 4

enum { POOL_IDLE,    /* not posted, or drained */
       POOL_QUEUED,  /* in the job queue */
       POOL_RUNNING, /* on a worker */
       POOL_DONE };  /* in the done queue */

typedef struct pool_job {
  void (*run)(struct pool_job *j);   /* on a worker, without the mutex */
  void (*after)(struct pool_job *j); /* once drained; NULL: the drainer knows its owner */
  list_node link;                    /* in a job queue or the done queue: under the mutex */
  int state;                         /* POOL_*: under the mutex */
  int urgent;                        /* taken before any job that is not: short work that others wait for */
} pool_job;

typedef struct pool {
  platform_mutex mu;
  platform_cond work_cv, done_cv;
  list_node urgent, jobs, done; /* under mu, as n_idle, n_slow and stop */
  int n_threads, n_idle, stop;
  int n_slow; /* workers on jobs that are not urgent: at most POOL_THREADS - 1 */
  int ready;  /* mu and the condition variables exist: from pool_init to pool_close */
  platform_thread threads[POOL_THREADS];
  platform_sock wake[2]; /* PLATFORM_SOCK_NONE until first used */
} pool;

/* An empty pool with no thread (p zero-filled or not). Without a mutex (ready 0), nothing can
 * be posted: the callers do the work themselves. */
void pool_init(pool *p);
/* The read end of the wake pair, made on first use; PLATFORM_SOCK_NONE when it cannot be. */
platform_sock pool_wake_fd(pool *p);
/* Hands j (run set, POOL_IDLE) to a worker, starting one as needed: 1; 0 when there is no
 * thread and none can start (the caller then does the work itself). A job already queued
 * stays queued once. */
int pool_post(pool *p, pool_job *j);
/* Takes j back if no worker took it yet (returns 0: it did not run), else waits for it to end
 * and takes it off the done queue (returns 1); -1 when it is in neither queue (not posted, or
 * drained already). Either way j is POOL_IDLE after. With wait 0, a job on a worker is left
 * alone (returns POOL_RUNNING; it ends in the done queue as any other). */
int pool_join(pool *p, pool_job *j, int wait);
/* Moves the finished jobs, oldest first, to the tail of out (POOL_IDLE from now on), and
 * consumes the wake bytes. The thread that steps calls it. */
void pool_drain(pool *p, list_node *out);
void pool_wake(pool *p); /* a byte on the wake pair from any thread, for other news */
/* Ends the threads once their jobs are done, and closes the wake pair; idempotent. Nothing
 * can be posted after. */
void pool_close(pool *p);

HIDDEN_END

#endif
