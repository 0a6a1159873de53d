/* commit: the end of a transfer, transfer:finish(). Owns: the finish of every transfer: its facts
 * gathered for response.c, a whole download's move into place (its stream's last job on the
 * engine's pool, part.c's part_move) reported as the info table or as an io error with its errno's
 * code, whether a failed download's partial file can serve the next attempt, and the discard of one
 * it does not keep (core.discard: a worker's job inside a task; finish itself touches no file).
 * Must not know: how requests are built (session.c), how or on which thread the file is moved
 * (part.c, transfer.c), whether a failure may be retried (lua/aimlmusic/retry.lua). */
#include "commit.h"

#include <errno.h>
#include <string.h>

#include "class.h"
#include "error.h"
#include "platform.h"
#include "response.h"
#include "workkind.h"

/* A download the classifier found complete: true and the info table once its last job moved it
 * into place; else nil and an error, the file unusable: a protocol error when its size was not
 * the one announced or reported, an io error with its errno's code when the move failed. */
static int commit_download(lua_State *L, transfer *t) {
  char msg[128] = "the download did not settle whole";
  int e = t->commit_errno;
  if (t->committed && !e) {
    lua_pushboolean(L, 1);
    lua_createtable(L, 0, 2);
    error_setstring(L, "path", t->target_path);
    error_setint(L, "bytes", (long long)t->bytes);
    return 2;
  }
  t->unusable = 1;
  if (!t->committed) {
    transfer_size_problem(t, msg, sizeof msg);
    return error_fail(L, "protocol", "%s", msg);
  }
  if (e == EEXIST) {
    error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", t->target_path);
    error_setstring(L, "code", "EEXIST");
    return 2;
  }
  if (t->commit_creating) return error_fail_errno(L, "io", e, "cannot create a file beside %s", t->target_path);
  if (t->commit_moving) return error_fail_errno(L, "io", e, "moving download to %s", t->target_path);
  return error_fail_errno(L, "io", e, "writing %s", t->target_path);
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

/* transfer:finish([map]) --> true, a job (submit), a status table (status, through the model's
 * response mapping map, flat: response.flat) or the info table (a download in place); false, the
 * facts of what went wrong (lua/aimlmusic/response.lua makes them an error); nil, err (a download
 * that could not be put in place). A failed download's partial file is unusable for the next
 * attempt unless transfer:keep() says otherwise. */
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
  n = response_push(L, &f, lua_istable(L, 2) ? 2 : 0);
  if (n == 0) {
    n = commit_download(L, t);
  } else if (!lua_toboolean(L, -2)) {
    t->unusable = 1; /* its file goes by core.discard, or with the transfer */
  }
  transfer_release(t);
  return n;
}

/* transfer:keep(): a failed download's partial file is kept for the next attempt to resume from,
 * when a new Range request can go on from it (some bytes came, and a transport failure, not a
 * refusal, a cancel or the disk, ended it). The policy says which failures (response.lua). */
static int commit_keep_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  if (t->finished && t->kind == TRANSFER_DOWNLOAD && t->bytes > 0 && t->item.result != CURLE_OK &&
      !t->item.cancelled && !t->refused && !t->no_location && t->item.result != CURLE_RANGE_ERROR && !t->io_errno)
    t->unusable = 0;
  return 0;
}

const luaL_Reg commit_methods[] = {{"finish", commit_finish_l}, {"keep", commit_keep_l}, {NULL, NULL}};

/* core.discard(t): a failed or cancelled download's partial file closed and removed; nothing
 * while a worker moves it into place (it stays there). Its state (work_held): the partial file,
 * taken from the transfer. */
static int discard_prepare(lua_State *L, int first, void *p) {
  work_held *d = (work_held *)p;
  transfer *t = (transfer *)class_test(L, first, TRANSFER_MT); /* a task may wait for other things */
  if (t == NULL || t->item.working) return 0;                  /* in a move into place: the file stays */
  spool_stop(&t->spool);
  d->fd = t->fd;
  d->path = t->tmp_path;
  t->fd = -1;
  t->tmp_path = NULL;
  return d->fd < 0 && d->path == NULL ? 0 : -1;
}

static void discard_run(void *p) {
  work_held *d = (work_held *)p;
  if (d->fd >= 0) close(d->fd);
  d->fd = -1;
  if (d->path) platform_unlink(d->path);
}

const work_kind commit_discard_kind = {"discard", 1, sizeof(work_held), discard_prepare, discard_run, NULL};
