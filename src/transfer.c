/* transfer: one request of the API as a Lua userdata. Owns: its engine item (and through it
 * the easy handle), the body buffer (for a download an error or redirect page, capped), the
 * libcurl callbacks, redirects under the URL rule, a submit's single-send guard, the proxy
 * each URL goes through, what libcurl said of the handle once done with it (and while it runs:
 * progress, trace), and for a download its spool (written on the engine's pool, never on the
 * thread that steps), its temporary file (part.c), kept for a resumed attempt or removed, and
 * whether it settled whole: then its last job moves the file into place before it completes.
 * Must not know: the engine beyond the loop that runs its item, what a response means
 * (response.c), how a file is moved (part.c), what a session holds beyond the key it redacts,
 * the proxy option and the reference it drops. */
#include "transfer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "drive.h"
#include "error.h"
#include "part.h"
#include "platform.h"
#include "url.h"

/* The spool's writer, on a worker (or in place): the first bytes make the file. */
static int transfer_write(spool *s, const char *p, size_t n, int *opening) {
  transfer *t = LIST_ENTRY(s, transfer, spool);
  int err;
  if (t->fd < 0 && (err = part_open(t->target_path, (unsigned long)(size_t)t, &t->tmp_path, &t->fd)) != 0) {
    *opening = 1;
    return err;
  }
  return platform_write(t->fd, p, n) != 0 ? errno : 0;
}

int transfer_size_problem(const transfer *t, char *msg, size_t n) {
  curl_off_t announced = transfer_announced(t);
  int server = announced >= 0 && announced != t->bytes - t->resume_from;
  if (!server && (t->expected <= 0 || t->bytes == t->expected)) return 0;
  snprintf(msg, n, "downloaded %.0f bytes, the %s %.0f", (double)t->bytes, server ? "server announced" : "job reported",
           (double)(server ? announced : t->expected));
  return 1;
}

/* A whole download's last job, on a worker: its file (made now if empty) moved into place. */
static void transfer_commit(engine_item *it) {
  transfer *t = LIST_ENTRY(it, transfer, item);
  part_dest d = {t->target_path, t->journal_path, t->job_id, t->overwrite};
  t->commit_errno = transfer_write(&t->spool, NULL, 0, &t->commit_creating);
  if (!t->commit_errno) t->commit_errno = part_move(&d, &t->fd, &t->tmp_path, &t->commit_moving);
}

/* The settle hook: a download completes once its spool is written, its failure its own. */
static int transfer_settle(engine_item *it) {
  transfer *t = LIST_ENTRY(it, transfer, item);
  int err, opening, done = spool_settle(&t->spool, &err, &opening);
  if (done && err && !t->io_errno) {
    /* libcurl saw every byte taken: the failed write makes it a write error all the same */
    t->io_errno = err;
    t->create_failed = opening;
  }
  /* A refused write is the transfer's failure whatever libcurl made of it afterwards. */
  if (done && t->io_errno && it->result == CURLE_OK) it->result = CURLE_WRITE_ERROR;
  /* Whole: the stream's last job moves the file into place before the transfer completes. */
  if (done && it->result == CURLE_OK && !t->refused && transfer_status(t) / 100 == 2 &&
      !transfer_size_problem(t, NULL, 0)) {
    it->work = transfer_commit;
    t->committed = 1;
  }
  return done;
}

/* The hold hook: a download paused for a full spool goes on once half of it is written. */
static int transfer_hold(engine_item *it) {
  return spool_hold(&LIST_ENTRY(it, transfer, item)->spool);
}

/* Clears the pointers to it in a tagged handle, kept configured for the next transfer. */
static void transfer_unhook(transfer *t) {
  CURL *easy = t->item.easy;
  if (easy == NULL || !t->item.tag) return;
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)NULL);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, (char *)NULL);
#if LIBCURL_VERSION_NUM >= 0x075000
  if (t->sends >= 0) curl_easy_setopt(easy, CURLOPT_PREREQDATA, (void *)NULL);
#endif
}

/* The ended hook: what is read of the handle later stays here as it goes back. */
static void transfer_ended(engine_item *it) {
  transfer *t = LIST_ENTRY(it, transfer, item);
  const char *url;
  t->status = transfer_status(t);
  t->announced = transfer_announced(t);
  t->retry_after = transfer_retry_after(t);
  free(t->url);
  t->url = NULL;
  if ((url = transfer_url(t)) != NULL) t->url = strdup(url); /* libcurl's, read before the handle goes */
  transfer_unhook(t);
}

long transfer_status(const transfer *t) {
  long code = 0;
  if (t->item.easy == NULL) return t->status;
  curl_easy_getinfo(t->item.easy, CURLINFO_RESPONSE_CODE, &code);
  return code;
}

curl_off_t transfer_announced(const transfer *t) {
  curl_off_t n = -1;
  if (t->item.easy == NULL) return t->announced;
  if (curl_easy_getinfo(t->item.easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &n) != CURLE_OK) n = -1;
  return n;
}

const char *transfer_url(const transfer *t) {
  char *url = NULL;
  if (t->item.easy == NULL) return t->url;
  if (curl_easy_getinfo(t->item.easy, CURLINFO_EFFECTIVE_URL, &url) != CURLE_OK) return NULL;
  return url;
}

long long transfer_retry_after(const transfer *t) {
  curl_off_t n = 0;
  if (t->item.easy == NULL) return t->retry_after;
  if (curl_easy_getinfo(t->item.easy, CURLINFO_RETRY_AFTER, &n) != CURLE_OK || n < 0) n = 0;
  return (long long)n;
}

static size_t transfer_on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  transfer *t = (transfer *)ud;
  size_t n = size * nmemb;
  size_t limit = TRANSFER_MAX_BODY;
  if (t->kind == TRANSFER_DOWNLOAD) {
    long code = 0;
    curl_easy_getinfo(t->item.easy, CURLINFO_RESPONSE_CODE, &code);
    if (code >= 200 && code < 300) {
      /* To the disk through the spool: memory stays flat whatever the size. Without a host
       * loop in place (the caller waits anyway); with one, the pool's workers write. */
      int pushed, err, opening, here = !t->item.engine->hosted;
      curl_off_t after = t->bytes + (curl_off_t)n;
      /* Past the perform's budget (a game's step(0)) the bytes wait in libcurl until the next
       * one: one call never streams a whole download while the frame waits. */
      if (n > 0 && drive_over_budget(&t->item)) return CURL_WRITEFUNC_PAUSE;
      if (t->max_bytes > 0 && after > t->max_bytes) t->oversize = 1;
      else if (t->expected > 0 && after > t->expected) t->oversize = 2;
      if (t->oversize) return 0;
      if (!here) engine_wake_fd(t->item.engine);
      pushed = spool_push(&t->spool, ptr, n, here, &err, &opening);
      if (pushed == 0) {
        t->io_errno = err;
        t->create_failed = opening;
        return 0;
      }
      if (pushed < 0) { /* the spool is full: on when it drains */
        drive_pause(&t->item);
        return CURL_WRITEFUNC_PAUSE;
      }
      t->bytes += (curl_off_t)n;
      return n;
    }
    /* An error page, or a redirect's (followed in transfer_again): kept for the message up to
     * a cap past which the transfer ends, so an endless one cannot hold a download open. */
    limit = TRANSFER_MAX_ERROR_BODY;
  }
  if (t->body_len + n > limit) {
    t->body_overflow = 1;
    return 0;
  }
  if (t->body_len + n > t->body_cap) {
    size_t cap = t->body_cap ? t->body_cap : 1024;
    char *p;
    while (cap < t->body_len + n) cap *= 2;
    p = (char *)realloc(t->body, cap);
    if (p == NULL) return 0;
    t->body = p;
    t->body_cap = cap;
  }
  memcpy(t->body + t->body_len, ptr, n);
  t->body_len += n;
  return n;
}

/* libcurl calls this at least once a second during a download: one with nothing new for
 * stall_ms ends (the speed floor, CURLOPT_LOW_SPEED_*, ends one that only trickles). */
static int transfer_on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                                curl_off_t ulnow) {
  transfer *t = (transfer *)ud;
  long long now = (long long)(platform_now() * 1000);
  (void)dltotal;
  (void)ultotal;
  (void)ulnow;
  if (t->stall_ms <= 0) return 0;
  if (t->seen_at_ms == 0 || dlnow != t->seen) {
    t->seen = dlnow;
    t->seen_at_ms = now;
  } else if (now - t->seen_at_ms > t->stall_ms) {
    t->stalled = 1; /* nonzero: libcurl ends the transfer, calling this no more */
  }
  return t->stalled;
}

/* The again hook: a download's redirect target is checked against the URL rule, then requested
 * on the same handle. libcurl never follows one on its own, so no request can reach a URL the
 * rule refuses. 1 when the transfer goes on; 0 (t->refused: the rule refused) when done. */
static int transfer_again(engine_item *it) {
  transfer *t = LIST_ENTRY(it, transfer, item);
  long code = 0;
  char *target = NULL, *from = NULL;
  char why[URL_WHY_SIZE];
  if (t->kind != TRANSFER_DOWNLOAD || it->result != CURLE_OK || it->engine->multi == NULL) return 0;
  curl_easy_getinfo(it->easy, CURLINFO_RESPONSE_CODE, &code);
  if (code < 300 || code > 399) return 0;
  if (curl_easy_getinfo(it->easy, CURLINFO_REDIRECT_URL, &target) != CURLE_OK || target == NULL) {
    t->no_location = 1; /* nothing to follow: a protocol error, not a page to show */
    return 0;
  }
  if (t->redirects >= TRANSFER_MAX_REDIRECTS) {
    it->result = CURLE_TOO_MANY_REDIRECTS;
    return 0;
  }
  curl_easy_getinfo(it->easy, CURLINFO_EFFECTIVE_URL, &from);
  if (!url_allowed(target, t->allow_http, from, why)) {
    t->refused = 1;
    snprintf(t->errbuf, sizeof t->errbuf, "%s", why);
    return 0;
  }
  t->seen_at_ms = 0;
  t->redirects++;
  t->body_len = 0;
  transfer_set_proxy(t, url_is_loopback(target));
  return engine_restart(it, target);
}

#if LIBCURL_VERSION_NUM >= 0x075000
/* Called before each send: the first goes, any other (a silent retry on a new connection) is
 * refused. */
static int transfer_on_prereq(void *ud, char *conn_primary_ip, char *conn_local_ip, int conn_primary_port,
                              int conn_local_port) {
  transfer *t = (transfer *)ud;
  (void)conn_primary_ip;
  (void)conn_local_ip;
  (void)conn_primary_port;
  (void)conn_local_port;
  if (t->sends > 0) {
    t->resend_refused = 1;
    return CURL_PREREQFUNC_ABORT;
  }
  t->sends = 1;
  return CURL_PREREQFUNC_OK;
}
#endif

/* Whether the libcurl loaded at run time counts sends (7.80 or later; the headers may be newer):
 * asked once per process, since curl_version_info costs as much as a request's other setup. */
static int transfer_has_prereq;

void transfer_init_once(void) {
#if LIBCURL_VERSION_NUM >= 0x075000
  transfer_has_prereq = curl_version_info(CURLVERSION_NOW)->version_num >= 0x075000;
#endif
}

void transfer_guard_single_send(transfer *t) {
  CURL *easy = t->item.easy;
#if LIBCURL_VERSION_NUM >= 0x075000
  if (transfer_has_prereq && curl_easy_setopt(easy, CURLOPT_PREREQFUNCTION, transfer_on_prereq) == CURLE_OK) {
    curl_easy_setopt(easy, CURLOPT_PREREQDATA, (void *)t);
    /* Only a connection idle under a second or two: one the server is not closing now. */
    curl_easy_setopt(easy, CURLOPT_MAXAGE_CONN, 1L);
    t->sends = 0;
    return;
  }
#endif
  curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
  curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
}

/* With CURLOPT_PROXY unset libcurl reads the *_proxy variables; "" turns them all off. Over
 * https a proxy sees only a CONNECT tunnel; plain http through one needs allow_http (url.c). */
void transfer_set_proxy(transfer *t, int loopback) {
  curl_easy_setopt(t->item.easy, CURLOPT_PROXY, loopback ? "" : t->proxy);
}

transfer *transfer_new(lua_State *L, engine *e, transfer_kind kind, unsigned long tag, int *warm) {
  transfer *t = (transfer *)class_new(L, TRANSFER_MT, sizeof *t);
  CURL *easy;
  int same = 0;
  t->fd = -1;
  t->sends = -1;
  t->item.ref = LUA_NOREF;
  t->item.lane = kind == TRANSFER_DOWNLOAD;
  t->item.again = transfer_again;
  t->item.ended = transfer_ended;
  t->announced = -1;
  t->kind = kind;
  easy = engine_easy_take(e, &t->item, tag, &same);
  if (warm) *warm = same;
  if (easy == NULL) luaL_error(L, "curl_easy_init failed");
  if (kind == TRANSFER_DOWNLOAD) { /* a download's handle is untagged: it starts reset */
    t->item.settle = transfer_settle;
    t->item.hold = transfer_hold;
    if (spool_init(&t->spool, &e->pool, &e->backlog, transfer_write) != 0) luaL_error(L, "out of memory");
    curl_easy_setopt(easy, CURLOPT_XFERINFODATA, (void *)t);
  }
  curl_easy_setopt(easy, CURLOPT_WRITEDATA, (void *)t);
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, t->errbuf);
  if (same) return t;
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, transfer_on_write);
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, transfer_on_xferinfo);
  /* Only a download watches for a stall; an API request has a timeout and no progress calls. */
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, (long)(kind != TRANSFER_DOWNLOAD));
  return t;
}

transfer *transfer_check(lua_State *L, int idx) {
  return (transfer *)class_check(L, idx, TRANSFER_MT);
}

void transfer_release(transfer *t) {
  spool_stop(&t->spool);
  transfer_unhook(t); /* a handle libcurl did not end (a cancel) */
  engine_easy_give(&t->item);
  free(t->body);
  t->body = NULL;
  t->body_len = t->body_cap = 0;
}

/* __gc and __close: frees what the transfer owns; a download not committed leaves no file. */
int transfer_close(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  engine_stop(L, &t->item, 1);
  transfer_release(t); /* the spool stopped: no write under way, none to come */
  if (t->fd >= 0) {
    close(t->fd);
    t->fd = -1;
  }
  if (t->tmp_path) {
    platform_unlink(t->tmp_path);
    free(t->tmp_path);
    t->tmp_path = NULL;
  }
  spool_close(&t->spool);
  free(t->target_path);
  t->target_path = NULL;
  free(t->url);
  t->url = NULL;
  free(t->journal_path);
  t->journal_path = NULL;
  free(t->job_id);
  t->job_id = NULL;
  if (t->owner) {
    t->release(t->owner);
    t->owner = NULL;
    t->key = NULL;
  }
  return 0;
}

int transfer_take_partial(transfer *t, transfer *prev) {
  /* A finished transfer's spool is written (it settled first); a failed write leaves a file
   * that cannot be resumed. */
  if (!(prev && prev->kind == TRANSFER_DOWNLOAD && prev->fd >= 0 && prev->tmp_path && prev->bytes > 0 && !prev->unusable &&
        prev->item.state == ENGINE_DONE && spool_clean(&prev->spool) && !prev->io_errno))
    return 0;
  t->fd = prev->fd;
  t->tmp_path = prev->tmp_path;
  prev->fd = -1;
  prev->tmp_path = NULL;
  t->bytes = t->resume_from = prev->bytes;
  return 1;
}

static int transfer_done(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  lua_pushboolean(L, t->item.state == ENGINE_DONE);
  return 1;
}

/* transfer:wait(): runs the engine until this transfer is done (drive_wait). */
static int transfer_wait(lua_State *L) {
  drive_wait(L, &transfer_check(L, 1)->item);
  return 0;
}

/* transfer:progress() --> bytes received so far (a download's: in its file or on their way,
 * so a slow one moves on each read), total expected (nil when unknown) */
static int transfer_progress(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  curl_off_t total = transfer_announced(t);
  lua_pushinteger(L, t->bytes);
  if (total >= 0) lua_pushinteger(L, total + t->resume_from);
  else lua_pushnil(L);
  return 2;
}

/* transfer:trace() --> {status?, redirects, host?, stalled}: facts for a log line (status and
 * host once known, finished or not; host: of the URL it talks to now, or last did; the host
 * only, never a path, query or user name). It reads; it changes nothing. */
static int transfer_trace(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  const char *url = transfer_url(t);
  char *host = url ? url_host(url) : NULL;
  long code = transfer_status(t);
  lua_createtable(L, 0, 4);
  error_setint(L, "redirects", t->redirects);
  error_setbool(L, "stalled", t->stalled);
  if (code > 0) error_setint(L, "status", code);
  error_setstring(L, "host", host); /* none when NULL */
  curl_free(host);
  return 1;
}

/* transfer:cancel(): stops it; its owner sees kind "cancelled". A download being moved into
 * place is not waited for: the move ends on its worker, and t:done() once it is drained. */
static int transfer_cancel(lua_State *L) {
  engine_stop(L, &transfer_check(L, 1)->item, 0);
  return 0;
}

int transfer_tostring(lua_State *L) {
  static const char *const kinds[] = {"submit", "status", "download"};
  static const char *const states[] = {"idle", "active", "done"};
  transfer *t = transfer_check(L, 1);
  lua_pushfstring(L, "aimlmusic.transfer(%s, %s)", kinds[t->kind], states[t->item.state]);
  return 1;
}

const luaL_Reg transfer_methods[] = {{"done", transfer_done},
                                     {"wait", transfer_wait},
                                     {"progress", transfer_progress},
                                     {"trace", transfer_trace},
                                     {"cancel", transfer_cancel},
                                     {NULL, NULL}};
