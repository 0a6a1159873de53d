#include "commit.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

size_t commit_partial_keep(const char *base, size_t blen) {
  size_t keep = blen;
  if (blen + COMMIT_PARTIAL_SUFFIX_LEN <= COMMIT_NAME_MAX) return blen;
  keep = COMMIT_NAME_MAX - COMMIT_PARTIAL_SUFFIX_LEN;
  /* Cut on a character boundary: never between the bytes of one UTF-8 sequence. */
  while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80) keep--;
  return keep;
}

int commit_size_problem(transfer *t, char *msg, size_t n) {
  curl_off_t announced = -1;
  if (t->easy) curl_easy_getinfo(t->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &announced);
  if (announced >= 0 && announced != t->bytes - t->resume_from) {
    snprintf(msg, n, "downloaded %.0f bytes, the server announced %.0f", (double)t->bytes,
             (double)announced);
    return 1;
  }
  if (t->expected > 0 && t->bytes != t->expected) {
    snprintf(msg, n, "downloaded %.0f bytes, the job reported %.0f", (double)t->bytes, (double)t->expected);
    return 1;
  }
  return 0;
}

/* Makes the new name in the target's directory durable: without it a crash can lose the
 * rename or link although the file's bytes were synced. */
static void sync_dir(const char *target) {
  const char *slash = strrchr(target, '/');
  char *dir;
  int fd;
  size_t n = slash ? (size_t)(slash - target) : 0;
  if (slash == NULL) {
    fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  } else {
    dir = (char *)malloc(n + 2);
    if (dir == NULL) return;
    memcpy(dir, target, n ? n : 1);
    dir[n ? n : 1] = '\0';
    fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(dir);
  }
  if (fd < 0) return;
  (void)fsync(fd); /* some file systems refuse fsync on a directory; the file is in place */
  close(fd);
}

void commit_run(transfer *t) {
  int rc;
  if (fsync(t->fd) != 0) {
    t->commit_errno = errno;
    close(t->fd);
    t->fd = -1;
    return;
  }
  /* The descriptor stays open (and its lock held, see request.c) until the temporary name is
   * gone, so that no cleanup of stale partial files can remove it under the move. */
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
    close(t->fd);
    t->fd = -1;
    return;
  }
  if (!t->overwrite) unlink(t->tmp_path);
  close(t->fd); /* synced already: nothing left for close to report */
  t->fd = -1;
  sync_dir(t->target_path);
  free(t->tmp_path);
  t->tmp_path = NULL;
}

int commit_state(transfer *t) {
  return __atomic_load_n(&t->commit_state, __ATOMIC_ACQUIRE);
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
  char msg[128];
  if (t->kind != TRANSFER_DOWNLOAD || t->state != TRANSFER_DONE || t->finished || t->cancelled ||
      t->result != CURLE_OK || t->refused || commit_state(t) != COMMIT_NONE || t->fd < 0 ||
      t->easy == NULL || e->multi == NULL) {
    lua_pushboolean(L, 0);
    return 1;
  }
  curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299 || commit_size_problem(t, msg, sizeof msg) || engine_wake_fd(e) < 0) {
    lua_pushboolean(L, 0); /* finish() reports it, or commits in this thread */
    return 1;
  }
  __atomic_store_n(&t->commit_state, COMMIT_RUNNING, __ATOMIC_RELAXED);
  if (pthread_create(&t->commit_thread, NULL, commit_main, t) != 0) {
    __atomic_store_n(&t->commit_state, COMMIT_NONE, __ATOMIC_RELAXED);
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
  if (commit_state(t) == COMMIT_NONE || t->state != TRANSFER_ACTIVE) return;
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
    if (commit_state(t) != COMMIT_DONE) {
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
