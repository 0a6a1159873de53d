/* dlthread: downloads on a thread of the engine's own, with a multi handle of its own (see
 * dlthread.c). A prototype, selected by AIMLMUSIC_DL_THREAD=1 when the engine is made. */
#ifndef AIMLMUSIC_DLTHREAD_H
#define AIMLMUSIC_DLTHREAD_H

#include <curl/curl.h>

#include "hidden.h"
#include "list.h"
#include "platform.h"

HIDDEN_BEGIN

/* Easy handles in the thread's multi handle at once; the rest wait in its queue. */
#define DLTHREAD_MAX_RUNNING 32

enum { DLTHREAD_IDLE,    /* not posted, or drained */
       DLTHREAD_QUEUED,  /* in the queue of transfers or of work */
       DLTHREAD_RUNNING, /* in the multi handle, or its work under way */
       DLTHREAD_DONE };  /* in the done queue */

typedef struct dlthread_job {
  list_node link; /* in one of the thread's lists: under its mutex */
  int state;      /* DLTHREAD_*: under the mutex */
  int cancel;     /* the stepping thread wants it out of the multi handle: under the mutex */
  /* A transfer: easy, run by the thread's multi handle until libcurl is done with it; then
   * finished(j, result) on the thread says whether it goes on (1: easy was sent again there,
   * dlthread_restart) or is done (0). Work: easy NULL, run(j) on the thread. */
  CURL *easy;
  int (*finished)(struct dlthread_job *j, CURLcode result);
  void (*run)(struct dlthread_job *j);
} dlthread_job;

typedef struct dlthread {
  int ready, started, stop;
  platform_mutex mu;
  platform_cond cv;
  platform_thread thread;
  CURLM *multi; /* the thread's alone once it runs */
  list_node transfers, work, running, done; /* under mu */
  int n_running;
  /* The job of an easy handle (from its CURLOPT_PRIVATE), and news for the stepping thread
   * (a byte on its wake pair): given by the engine. */
  dlthread_job *(*job_of)(CURL *easy);
  void (*wake)(void *arg);
  void *wake_arg;
} dlthread;

/* An empty one, no thread yet. */
void dlthread_init(dlthread *d, dlthread_job *(*job_of)(CURL *easy), void (*wake)(void *arg), void *wake_arg);
/* Hands j (IDLE) to the thread, starting it on first use: 1; 0 when it cannot start. */
int dlthread_post(dlthread *d, dlthread_job *j);
/* On the thread, from finished: sends easy again (a redirect, its URL set); 0 when refused. */
int dlthread_restart(dlthread *d, CURL *easy);
/* Takes j back: out of its queue (returns 0: it did not run), or out of the multi handle once
 * the thread has let it go, or after its work ended (1); -1 when it is in no list. IDLE after. */
int dlthread_join(dlthread *d, dlthread_job *j);
/* Moves the finished jobs, oldest first, to the tail of out (IDLE from now on). */
void dlthread_drain(dlthread *d, list_node *out);
/* Ends the thread (its transfers out of its multi handle, left as they were) and frees what it
 * made; idempotent. */
void dlthread_close(dlthread *d);

HIDDEN_END

#endif
