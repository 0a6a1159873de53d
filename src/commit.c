#include "commit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void commit_run(transfer *t) {
  int rc;
  if (fsync(t->fd) != 0) {
    t->commit_errno = errno;
    close(t->fd);
    t->fd = -1;
    return;
  }
  if (close(t->fd) != 0) {
    t->fd = -1;
    t->commit_errno = errno;
    return;
  }
  t->fd = -1;
  if (t->overwrite) {
    rc = rename(t->tmp_path, t->target_path);
  } else {
    /* link() fails with EEXIST instead of replacing: no window where a file could be lost. */
    rc = link(t->tmp_path, t->target_path);
    if (rc != 0 && errno != EEXIST) {
      struct stat sb;
      if (lstat(t->target_path, &sb) == 0) errno = EEXIST;
      else rc = rename(t->tmp_path, t->target_path);
    }
  }
  if (rc != 0) {
    t->commit_errno = errno;
    t->commit_moving = 1;
    return;
  }
  if (!t->overwrite) unlink(t->tmp_path);
  free(t->tmp_path);
  t->tmp_path = NULL;
}

static void *commit_main(void *arg) {
  transfer *t = (transfer *)arg;
  int wfd = t->engine->wake_fd[1];
  commit_run(t);
  /* State first, then the byte: whoever wakes on the byte sees the commit done. */
  __atomic_store_n(&t->commit_state, COMMIT_DONE, __ATOMIC_RELEASE);
  if (wfd >= 0) {
    ssize_t w;
    do w = write(wfd, "", 1);
    while (w < 0 && errno == EINTR);
  }
  return NULL;
}

int commit_start_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  engine *e = t->engine;
  long status = 0;
  curl_off_t expected = -1;
  if (t->kind != TRANSFER_DOWNLOAD || t->state != TRANSFER_DONE || t->finished || t->cancelled ||
      t->result != CURLE_OK || t->commit_state != COMMIT_NONE || t->fd < 0 || t->easy == NULL ||
      e->multi == NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
  if (status < 200 || status > 299 || (expected >= 0 && expected != t->bytes - t->resume_from) ||
      engine_wake_fd(e) < 0) {
    lua_pushboolean(L, 0); /* finish() reports it, or commits in this thread */
    return 1;
  }
  t->commit_state = COMMIT_RUNNING;
  if (pthread_create(&t->commit_thread, NULL, commit_main, t) != 0) {
    t->commit_state = COMMIT_NONE;
    lua_pushboolean(L, 0);
    return 1;
  }
  t->state = TRANSFER_ACTIVE;
  t->cnext = e->committing;
  e->committing = t;
  e->n_committing++;
  engine_hold(L, t, 1);
  lua_pushboolean(L, 1);
  return 1;
}

static void commit_unlink(transfer *t) {
  engine *e = t->engine;
  transfer **pp = &e->committing;
  while (*pp && *pp != t) pp = &(*pp)->cnext;
  if (*pp) {
    *pp = t->cnext;
    e->n_committing--;
  }
  t->cnext = NULL;
}

void commit_join(transfer *t) {
  if (t->commit_state == COMMIT_NONE || t->state != TRANSFER_ACTIVE) return;
  pthread_join(t->commit_thread, NULL);
  commit_unlink(t);
  t->state = TRANSFER_DONE;
}

int commit_reap(lua_State *L, engine *e, int done_idx) {
  transfer **pp = &e->committing;
  int n = 0;
  if (e->wake_fd[0] >= 0) {
    char buf[64];
    while (read(e->wake_fd[0], buf, sizeof buf) > 0) {
    }
  }
  while (*pp) {
    transfer *t = *pp;
    if (__atomic_load_n(&t->commit_state, __ATOMIC_ACQUIRE) != COMMIT_DONE) {
      pp = &t->cnext;
      continue;
    }
    pthread_join(t->commit_thread, NULL);
    *pp = t->cnext;
    t->cnext = NULL;
    e->n_committing--;
    t->state = TRANSFER_DONE;
    if (done_idx) {
      lua_rawgeti(L, LUA_REGISTRYINDEX, t->ref);
      lua_rawseti(L, done_idx, (int)lua_rawlen(L, done_idx) + 1);
    }
    luaL_unref(L, LUA_REGISTRYINDEX, t->ref);
    t->ref = LUA_NOREF;
    n++;
  }
  return n;
}
