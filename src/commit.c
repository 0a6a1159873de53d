/* commit: the end of a transfer, transfer:commit() and transfer:finish(). Owns: moving a
 * finished download into place (fsync the temporary file, then link with no overwrite, or
 * rename) on a worker of the engine so that the host's loop never waits for the disk, and the
 * finish of every transfer: its facts gathered for the classifier (response.c), the commit
 * reported. Before the move it journals the download's evidence (journal.c appends it): the
 * job, the temporary file, its size and identity, the one proof resume takes that a file is
 * that job's. Must not know: how requests are built (session.c), whether a failure may be
 * retried (lua/aimlmusic/retry.lua). */
#include "commit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "journal.h"
#include "part.h"
#include "platform.h"
#include "response.h"

/* 1 with a message in msg when the download's size is not the one the server announced
 * (Content-Length) or the job reported; 0 when it is. */
static int commit_size_problem(transfer *t, char *msg, size_t n) {
  curl_off_t announced = transfer_announced(t);
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

/* Appends s to b (at *len, capacity cap) as a JSON string; 0 when it does not fit. */
static int quote(char *b, size_t cap, size_t *len, const char *s) {
  size_t k = *len;
  if (k + 1 >= cap) return 0;
  b[k++] = '"';
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (k + 7 >= cap) return 0;
    if (c == '"' || c == '\\') {
      b[k++] = '\\';
      b[k++] = (char)c;
    } else if (c < 0x20 || c == 0x7f) {
      k += (size_t)snprintf(b + k, cap - k, "\\u%04x", c);
    } else {
      b[k++] = (char)c;
    }
  }
  b[k++] = '"';
  *len = k;
  return 1;
}

/* The evidence of delivery, journaled before the link: the job, the target, the temporary file,
 * its size and identity. A file found later at the target with this identity and size is this
 * job's, whatever else shares its size. Failing to record it does not stop the delivery: resume
 * then finds no proof and leaves the file alone. */
static void commit_record(transfer *t) {
  platform_info info;
  char *b;
  size_t cap, len = 0;
  int n;
  if (t->journal_path == NULL || t->job_id == NULL || platform_fstat(t->fd, &info) != 0) return;
  cap = 6 * (strlen(t->job_id) + strlen(t->target_path) + strlen(t->tmp_path)) + 256;
  b = (char *)malloc(cap);
  if (b == NULL) return;
  len = (size_t)snprintf(b, cap, "{\"op\":\"commit\",\"id\":");
  if (quote(b, cap, &len, t->job_id)) {
    len += (size_t)snprintf(b + len, cap - len, ",\"path\":");
    if (quote(b, cap, &len, t->target_path)) {
      len += (size_t)snprintf(b + len, cap - len, ",\"tmp\":");
      if (quote(b, cap, &len, t->tmp_path)) {
        n = snprintf(b + len, cap - len, ",\"bytes\":%lld,\"dev\":\"%llu\",\"ino\":\"%llu\"}", info.size,
                     info.dev, info.ino);
        if (n > 0 && (size_t)n < cap - len) journal_append(t->journal_path, b, len + (size_t)n);
      }
    }
  }
  free(b);
}

/* Runs the commit steps in the calling thread; sets t->commit_errno on failure. */
static void commit_run(transfer *t) {
  int rc;
  if (t->fd < 0 && t->tmp_path == NULL && (rc = part_open(t->target_path, (unsigned long)(size_t)t, &t->tmp_path, &t->fd)) != 0) {
    t->commit_errno = rc; /* an empty body: no bytes made the file, and making it failed now */
    t->commit_creating = 1;
    return;
  }
  rc = -1; /* the sync's failure, unless the move is reached */
  if (platform_fsync(t->fd) == 0) {
    commit_record(t);
    /* The descriptor stays open (and its lock held, see part.c) until the temporary name is
     * gone, so that no cleanup of stale partial files can remove it under the move. A link
     * fails with EEXIST instead of replacing: no window where a file could be lost. */
    rc = t->overwrite ? platform_rename(t->tmp_path, t->target_path) : platform_link_noreplace(t->tmp_path, t->target_path);
    t->commit_moving = rc != 0;
  }
  if (rc != 0) t->commit_errno = errno;
  else if (!t->overwrite) platform_unlink(t->tmp_path);
  close(t->fd); /* synced already: nothing left for close to report */
  t->fd = -1;
  if (rc != 0) return;
  platform_sync_parent(t->target_path); /* some file systems refuse; the file is in place */
  free(t->tmp_path);
  t->tmp_path = NULL;
}

static void commit_work(engine_item *it) {
  commit_run(LIST_ENTRY(it, transfer, item));
}

/* transfer:commit() */
static int commit_start_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  long status;
  char msg[128];
  if (t->kind != TRANSFER_DOWNLOAD || t->item.state != ENGINE_DONE || t->finished || t->item.cancelled ||
      t->item.result != CURLE_OK || t->refused || t->committed || t->item.working ||
      (t->fd < 0 && t->tmp_path != NULL)) {
    lua_pushboolean(L, 0);
    return 1;
  }
  status = transfer_status(t);
  if (status < 200 || status > 299 || commit_size_problem(t, msg, sizeof msg)) {
    lua_pushboolean(L, 0); /* finish() reports it */
    return 1;
  }
  t->item.work = commit_work;
  /* The worker's join orders its writes before any read of committed here. */
  t->committed = engine_spawn(L, &t->item, 1);
  lua_pushboolean(L, t->committed); /* false: finish() commits in this thread */
  return 1;
}

/* What a commit came to: the info table, or an io error with the file removed. */
static int commit_report(lua_State *L, transfer *t) {
  if (t->commit_errno) {
    int e = t->commit_errno;
    transfer_discard(t);
    if (e == EEXIST) {
      error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", t->target_path);
      error_setstring(L, "code", "EEXIST");
      return 2;
    }
    if (t->commit_creating) return error_fail_errno(L, "io", e, "cannot create a file beside %s", t->target_path);
    if (t->commit_moving) return error_fail_errno(L, "io", e, "moving download to %s", t->target_path);
    return error_fail_errno(L, "io", e, "writing %s", t->target_path);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, t->target_path);
  lua_setfield(L, -2, "path");
  lua_pushinteger(L, t->bytes);
  lua_setfield(L, -2, "bytes");
  return 1;
}

/* A complete download: checked against Content-Length and the job's reported size, then
 * moved to its target here unless transfer:commit() already did it on a worker. */
static int commit_download(lua_State *L, transfer *t) {
  char msg[128];
  if (t->committed) return commit_report(L, t);
  if (commit_size_problem(t, msg, sizeof msg)) {
    transfer_discard(t);
    return error_fail(L, "protocol", "%s", msg);
  }
  commit_run(t);
  t->committed = 1;
  return commit_report(L, t);
}

/* The facts of a finished transfer, for the classifier. */
static void commit_facts(transfer *t, response_facts *f) {
  memset(f, 0, sizeof *f);
  f->request = (response_request)t->kind;
  f->cancelled = t->item.cancelled;
  f->refused = t->refused ? t->errbuf : NULL;
  f->code = t->item.result;
  f->curl_message = t->errbuf;
  f->body = t->body;
  f->body_len = t->body_len;
  f->key = t->key;
  f->io_errno = t->io_errno;
  f->create_failed = t->create_failed;
  f->path = t->tmp_path;
  f->target = t->target_path;
  f->oversize = t->oversize;
  f->body_overflow = t->body_overflow;
  f->stalled = t->stalled;
  f->no_location = t->no_location;
  /* libcurl says "timed out" for the connect timeout and the speed floor too: the deadline is
   * what ended it when the clock is there (give or take libcurl's timer). */
  f->expired = t->deadline_ms > 0 && t->item.result == CURLE_OPERATION_TIMEDOUT &&
               (long long)(platform_now() * 1000) + 50 >= t->deadline_ms;
  f->max_bytes = (long long)t->max_bytes;
  f->expected = (long long)t->expected;
  f->sends = t->sends;
  f->resend_refused = t->resend_refused;
  f->status = transfer_status(t);
  f->url = transfer_url(t);
  f->retry_after = transfer_retry_after(t);
}

/* Whether a failed download keeps its partial file for the next attempt to resume from: a
 * transport failure after some bytes, that a new Range request can go on from. Whether there
 * is a next attempt is the retry policy's word; the file goes when the transfer does. */
static int commit_keeps_partial(const transfer *t, const char *kind) {
  return t->kind == TRANSFER_DOWNLOAD && t->bytes > 0 && t->item.result != CURLE_OK && !t->item.cancelled &&
         !t->refused && !t->no_location && t->item.result != CURLE_RANGE_ERROR && !t->io_errno &&
         (strcmp(kind, "network") == 0 || strcmp(kind, "timeout") == 0);
}

/* transfer:finish([map]) */
static int commit_finish_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  response_facts f;
  int n;
  if (t->item.state != ENGINE_DONE) return luaL_error(L, "transfer is not done");
  if (t->finished) return luaL_error(L, "transfer already finished");
  t->finished = 1;
  lua_settop(L, 2);
  spool_stop(&t->spool); /* cancelled, a download's last write may be under way: it makes the file */
  commit_facts(t, &f);
  n = response_classify(L, &f, lua_istable(L, 2) ? 2 : 0);
  if (n == 0) {
    n = commit_download(L, t);
  } else if (n == 2) {
    int keep;
    lua_getfield(L, -1, "kind");
    keep = commit_keeps_partial(t, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (!keep) transfer_discard(t);
  }
  transfer_release(t);
  return n;
}

const luaL_Reg commit_methods[] = {{"commit", commit_start_l}, {"finish", commit_finish_l}, {NULL, NULL}};
