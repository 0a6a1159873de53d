/* dlthread: downloads on a thread of the engine's own, the way game engines run HTTP and curl's
 * multi-threaded examples do (docs/examples/multi-app.c: one thread, one multi handle,
 * curl_multi_poll woken by curl_multi_wakeup). A prototype beside the spool and the pool,
 * selected by AIMLMUSIC_DL_THREAD=1 when the engine is made. Owns: the thread, its multi handle
 * (and with it the download connections), its mutex and condition variable, the queue of
 * transfers (admitted DLTHREAD_MAX_RUNNING at a time), the queue of work (a finished download's
 * commit, run between two rounds of the multi handle), the done queue the stepping thread
 * drains after a byte on its wake pair. Must not know: Lua, the engine, transfers, files, what
 * a job's work does. */
#include "dlthread.h"

#include <stdlib.h>
#include <string.h>

void dlthread_init(dlthread *d, dlthread_job *(*job_of)(CURL *easy), void (*wake)(void *arg), void *wake_arg) {
  memset(d, 0, sizeof *d);
  list_init(&d->transfers);
  list_init(&d->work);
  list_init(&d->running);
  list_init(&d->done);
  d->job_of = job_of;
  d->wake = wake;
  d->wake_arg = wake_arg;
}

/* j is done: on the done queue, its joiner and the stepping thread told. Under mu. */
static void dlthread_finish(dlthread *d, dlthread_job *j) {
  list_remove(&j->link);
  j->state = DLTHREAD_DONE;
  list_push(&d->done, &j->link);
  platform_cond_broadcast(&d->cv);
}

/* Under mu: transfers the stepping thread wants back out of the multi handle, and queued ones
 * in while there is room. Returns the next piece of work, RUNNING, or NULL. */
static dlthread_job *dlthread_sort(dlthread *d, int *told) {
  list_node *n, *next;
  int gone = 0;
  for (n = d->running.next; n != &d->running; n = next) {
    dlthread_job *j = LIST_ENTRY(n, dlthread_job, link);
    next = n->next;
    if (!j->cancel || j->easy == NULL) continue;
    curl_multi_remove_handle(d->multi, j->easy);
    list_remove(n);
    j->state = DLTHREAD_IDLE;
    d->n_running--;
    gone = 1;
  }
  if (gone) platform_cond_broadcast(&d->cv);
  while (d->n_running < DLTHREAD_MAX_RUNNING && (n = list_pop(&d->transfers)) != NULL) {
    dlthread_job *j = LIST_ENTRY(n, dlthread_job, link);
    j->state = DLTHREAD_RUNNING;
    if (curl_multi_add_handle(d->multi, j->easy) != CURLM_OK) {
      j->finished(j, CURLE_FAILED_INIT); /* says done: its result is a failure */
      dlthread_finish(d, j);
      *told = 1;
      continue;
    }
    list_push(&d->running, n);
    d->n_running++;
  }
  if ((n = list_pop(&d->work)) == NULL) return NULL;
  LIST_ENTRY(n, dlthread_job, link)->state = DLTHREAD_RUNNING;
  list_push(&d->running, n);
  return LIST_ENTRY(n, dlthread_job, link);
}

static void *dlthread_main(void *arg) {
  dlthread *d = (dlthread *)arg;
  platform_mutex_lock(&d->mu);
  while (!d->stop) {
    int told = 0, still = 0, left = 0, more;
    dlthread_job *w = dlthread_sort(d, &told);
    CURLMsg *msg;
    platform_mutex_unlock(&d->mu);
    if (w) w->run(w);
    curl_multi_perform(d->multi, &still);
    while ((msg = curl_multi_info_read(d->multi, &left)) != NULL) {
      dlthread_job *j;
      CURL *easy = msg->easy_handle;
      CURLcode rc = msg->data.result;
      if (msg->msg != CURLMSG_DONE) continue;
      j = d->job_of(easy);
      if (j->finished(j, rc)) continue; /* sent again */
      curl_multi_remove_handle(d->multi, easy);
      platform_mutex_lock(&d->mu);
      d->n_running--;
      dlthread_finish(d, j);
      platform_mutex_unlock(&d->mu);
      told = 1;
    }
    platform_mutex_lock(&d->mu);
    if (w) {
      dlthread_finish(d, w);
      told = 1;
    }
    /* Work waiting, or a queued transfer with a free slot (one finished this round): no
     * socket would wake the poll for them. */
    more = !list_empty(&d->work) || d->stop ||
           (!list_empty(&d->transfers) && d->n_running < DLTHREAD_MAX_RUNNING);
    platform_mutex_unlock(&d->mu);
    if (told) d->wake(d->wake_arg);
    if (!more) curl_multi_poll(d->multi, NULL, 0, 1000, NULL);
    platform_mutex_lock(&d->mu);
  }
  platform_mutex_unlock(&d->mu);
  return NULL;
}

/* The mutex, the condition variable, the multi handle and the thread, made on first use. */
static int dlthread_open(dlthread *d) {
  if (d->started) return 1;
  if (d->stop) return 0;
  if (!d->ready) {
    if (platform_mutex_init(&d->mu) != 0) return 0;
    if (platform_cond_init(&d->cv) != 0) {
      platform_mutex_destroy(&d->mu);
      return 0;
    }
    d->ready = 1;
  }
  if (d->multi == NULL && (d->multi = curl_multi_init()) == NULL) return 0;
  curl_multi_setopt(d->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 32L);
  curl_multi_setopt(d->multi, CURLMOPT_MAXCONNECTS, 64L);
  curl_multi_setopt(d->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
  if (platform_thread_start(&d->thread, dlthread_main, d) != 0) return 0;
  d->started = 1;
  return 1;
}

int dlthread_post(dlthread *d, dlthread_job *j) {
  if (!dlthread_open(d)) return 0;
  platform_mutex_lock(&d->mu);
  j->state = DLTHREAD_QUEUED;
  j->cancel = 0;
  list_push(j->easy ? &d->transfers : &d->work, &j->link);
  platform_mutex_unlock(&d->mu);
  curl_multi_wakeup(d->multi);
  return 1;
}

int dlthread_restart(dlthread *d, CURL *easy) {
  curl_multi_remove_handle(d->multi, easy);
  return curl_multi_add_handle(d->multi, easy) == CURLM_OK;
}

int dlthread_join(dlthread *d, dlthread_job *j) {
  int ran = -1, locked = d->ready;
  if (locked) platform_mutex_lock(&d->mu); /* after close, the stepping thread's alone */
  if (j->state == DLTHREAD_RUNNING && j->easy && d->started) {
    j->cancel = 1;
    curl_multi_wakeup(d->multi);
  }
  while (j->state == DLTHREAD_RUNNING && d->started) platform_cond_wait(&d->cv, &d->mu);
  if (j->state == DLTHREAD_QUEUED) ran = 0;
  else if (j->state != DLTHREAD_IDLE || j->cancel) ran = 1;
  list_remove(&j->link);
  j->state = DLTHREAD_IDLE;
  j->cancel = 0;
  if (locked) platform_mutex_unlock(&d->mu);
  return ran;
}

void dlthread_drain(dlthread *d, list_node *out) {
  list_node *n;
  if (!d->ready) return;
  platform_mutex_lock(&d->mu);
  LIST_FOREACH(n, &d->done)
  LIST_ENTRY(n, dlthread_job, link)->state = DLTHREAD_IDLE;
  list_move(out, &d->done);
  platform_mutex_unlock(&d->mu);
}

void dlthread_close(dlthread *d) {
  list_node *n;
  if (d->started) {
    platform_mutex_lock(&d->mu);
    d->stop = 1;
    platform_mutex_unlock(&d->mu);
    curl_multi_wakeup(d->multi);
    platform_thread_join(d->thread);
    d->started = 0;
    /* What was in the multi handle goes out of it; its owner finds it IDLE and in no list. */
    while ((n = list_pop(&d->running)) != NULL) {
      dlthread_job *j = LIST_ENTRY(n, dlthread_job, link);
      if (j->easy) curl_multi_remove_handle(d->multi, j->easy);
      j->state = DLTHREAD_IDLE;
    }
    d->n_running = 0;
  }
  d->stop = 1;
  if (d->multi) curl_multi_cleanup(d->multi);
  d->multi = NULL;
  if (d->ready) {
    platform_cond_destroy(&d->cv);
    platform_mutex_destroy(&d->mu);
    d->ready = 0;
  }
}
