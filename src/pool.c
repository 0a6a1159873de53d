/* pool: worker threads with a job queue and a done queue (libuv's threadpool.c is the model). Owns:
 * the threads (started when work comes and none is idle, up to POOL_THREADS, kept until
 * pool_close), their mutex and condition variables, the job queues (urgent jobs first, and one
 * worker always kept from the rest: short work that others wait for never queues behind slow work),
 * the done queue, and the wake pair. Every job ends one way: a worker puts it on the done queue
 * under the mutex, broadcasts for pool_join and writes a byte; only the thread that steps takes it
 * off (pool_drain). Must not know: Lua, libcurl, the engine, what a job does or who drains it. */
#include "pool.h"

void pool_init(pool *p) {
  list_init(&p->urgent);
  list_init(&p->jobs);
  list_init(&p->done);
  p->n_threads = p->n_idle = p->n_slow = p->stop = p->ready = 0;
  p->wake[0] = p->wake[1] = PLATFORM_SOCK_NONE;
  if (platform_mutex_init(&p->mu) != 0) return;
  if (platform_cond_init(&p->work_cv) == 0) {
    p->ready = platform_cond_init(&p->done_cv) == 0;
    if (!p->ready) platform_cond_destroy(&p->work_cv);
  }
  if (!p->ready) platform_mutex_destroy(&p->mu);
}

platform_sock pool_wake_fd(pool *p) {
  if (p->wake[0] == PLATFORM_SOCK_NONE && (p->stop || platform_wake_open(p->wake) != 0)) return PLATFORM_SOCK_NONE;
  return p->wake[0];
}

void pool_wake(pool *p) {
  if (p->wake[1] != PLATFORM_SOCK_NONE) platform_wake_signal(p->wake[1]);
}

/* A worker thread: takes jobs in order until the pool closes. */
static void *pool_main(void *arg) {
  pool *p = (pool *)arg;
  platform_mutex_lock(&p->mu);
  for (;;) {
    list_node *n = list_pop(&p->urgent);
    pool_job *j;
    if (n == NULL && p->n_slow < POOL_THREADS - 1) n = list_pop(&p->jobs);
    if (n == NULL) {
      if (p->stop) break;
      p->n_idle++;
      platform_cond_wait(&p->work_cv, &p->mu);
      p->n_idle--;
      continue;
    }
    j = LIST_ENTRY(n, pool_job, link);
    j->state = POOL_RUNNING;
    p->n_slow += !j->urgent;
    platform_mutex_unlock(&p->mu);
    j->run(j);
    platform_mutex_lock(&p->mu);
    p->n_slow -= !j->urgent; /* this worker takes the next one itself */
    j->state = POOL_DONE;
    list_push(&p->done, &j->link);
    platform_cond_broadcast(&p->done_cv);
    pool_wake(p);
  }
  platform_mutex_unlock(&p->mu);
  return NULL;
}

int pool_post(pool *p, pool_job *j) {
  int ok;
  if (!p->ready || pool_wake_fd(p) == PLATFORM_SOCK_NONE) return 0; /* closed: not ready */
  platform_mutex_lock(&p->mu);
  /* A thread more while none is idle, up to the limit; without any, the caller does the work. */
  if (p->n_idle == 0 && p->n_threads < POOL_THREADS &&
      platform_thread_start(&p->threads[p->n_threads], pool_main, p) == 0)
    p->n_threads++;
  ok = p->n_threads > 0;
  if (ok && j->state == POOL_IDLE) {
    j->state = POOL_QUEUED;
    list_push(j->urgent ? &p->urgent : &p->jobs, &j->link);
    platform_cond_signal(&p->work_cv);
  }
  platform_mutex_unlock(&p->mu);
  return ok;
}

int pool_join(pool *p, pool_job *j, int wait) {
  int ran = -1;
  if (!p->ready) return -1;
  platform_mutex_lock(&p->mu);
  while (wait && j->state == POOL_RUNNING) platform_cond_wait(&p->done_cv, &p->mu);
  if (j->state == POOL_RUNNING) {
    ran = POOL_RUNNING;
  } else if (j->state != POOL_IDLE) {
    ran = j->state == POOL_DONE;
    list_remove(&j->link);
    j->state = POOL_IDLE;
  }
  platform_mutex_unlock(&p->mu);
  return ran;
}

void pool_drain(pool *p, list_node *out) {
  list_node *n;
  if (p->wake[0] != PLATFORM_SOCK_NONE) platform_wake_drain(p->wake[0]);
  if (!p->ready) return;
  platform_mutex_lock(&p->mu);
  LIST_FOREACH(n, &p->done)
  LIST_ENTRY(n, pool_job, link)->state = POOL_IDLE;
  list_move(out, &p->done);
  platform_mutex_unlock(&p->mu);
}

void pool_close(pool *p) {
  int i;
  if (p->ready) {
    platform_mutex_lock(&p->mu);
    p->stop = 1;
    platform_cond_broadcast(&p->work_cv);
    platform_mutex_unlock(&p->mu);
    for (i = 0; i < p->n_threads; i++) platform_thread_join(p->threads[i]);
    p->n_threads = 0;
    platform_cond_destroy(&p->done_cv);
    platform_cond_destroy(&p->work_cv);
    platform_mutex_destroy(&p->mu);
    p->ready = 0;
  }
  p->stop = 1;
  platform_wake_close(p->wake);
}
