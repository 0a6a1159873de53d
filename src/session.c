/* session: what every request to the service shares. Owns: the base URL, the key (kept in C
 * memory only, never handed back to Lua, wiped when freed), the prebuilt header lists and
 * timeouts, and building the three requests of the API (submit, status, download) as transfers
 * it starts on the engine. Each transfer holds a counted reference, so headers and key outlive
 * the Lua object. Must not know: what an answer means (response.c), how a download reaches its
 * target (commit.c). */
#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "class.h"
#include "error.h"
#include "transfer.h"
#include "url.h"
#include "platform.h"

#define SESSION_USER_AGENT "aimlmusic" /* for a direct caller of core.session: Lua sends its version */
#define SESSION_DOWNLOAD_BUFFER (96L * 1024)
#define AUTHORIZATION "Authorization: Bearer "
#define SUBMIT_PATH "/v2/generate/audio" /* a status request adds ?generation_id=ID */

/* Zeroes a string holding the key before it is freed, through a volatile pointer: a memset
 * right before free may be optimised away. */
static void wipe(char *s) {
  volatile char *p = s;
  while (*p) *p++ = 0;
}

/* Drops a reference (the Lua object's, or a transfer's: its release). */
static void session_release(void *owner) {
  session *s = (session *)owner;
  if (--s->refs > 0) return;
  for (struct curl_slist *h = s->api_headers; h; h = h->next) wipe(h->data); /* the key's line too */
  free(s->base_url);
  free(s->submit_url);
  free(s->ca_file);
  free(s->ca_path);
  free(s->proxy);
  free(s->user_agent);
  curl_slist_free_all(s->api_headers);
  curl_slist_free_all(s->cdn_headers);
  free(s);
}

static session *session_check(lua_State *L, int idx) {
  session **ps = (session **)class_check(L, idx, SESSION_MT);
  if (*ps == NULL) luaL_argerror(L, idx, "session is closed");
  return *ps;
}

int session_close(lua_State *L) {
  session **ps = (session **)luaL_checkudata(L, 1, SESSION_MT);
  if (*ps) {
    session_release(*ps);
    *ps = NULL;
  }
  return 0;
}

int session_tostring(lua_State *L) {
  session **ps = (session **)luaL_checkudata(L, 1, SESSION_MT);
  if (*ps) lua_pushfstring(L, "aimlmusic.session(%s)", (*ps)->base_url);
  else lua_pushliteral(L, "aimlmusic.session(closed)");
  return 1;
}

/* True when s holds a byte that must never reach a header line: CR, LF, NUL or another control. */
static int has_control(const char *s, size_t n) {
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) return 1;
  }
  return 0;
}

/* 1 when s (n bytes) starts with http:// or https:// and has more after it. */
static int is_http(const char *s, size_t n) {
  return (n > 7 && strncmp(s, "http://", 7) == 0) || (n > 8 && strncmp(s, "https://", 8) == 0);
}

/* A numeric option in [lo, hi] (the Lua layer checks every option first, with the same
 * bounds; this only keeps a direct caller of core.session from overflowing a cast). */
static double opt_number(lua_State *L, int t, const char *k, double dflt, double lo, double hi) {
  double v = dflt;
  if (lua_getfield(L, t, k) != LUA_TNIL) {
    v = lua_tonumber(L, -1);
    if (lua_type(L, -1) != LUA_TNUMBER || !(v >= lo && v <= hi))
      luaL_error(L, "option %s must be a number from %f to %f", k, lo, hi);
  }
  lua_pop(L, 1);
  return v;
}

/* Seconds, as milliseconds that fit a long on every platform. */
#define OPT_MAX_SECONDS 2147483.0
static long opt_ms(lua_State *L, int t, const char *k, double dflt_s) {
  return (long)(opt_number(L, t, k, dflt_s, 0.001, OPT_MAX_SECONDS) * 1000.0 + 0.5);
}

/* Appends line to *list, or raises "out of memory" leaving *list whole (for session_release). */
static void add_line(lua_State *L, struct curl_slist **list, const char *line) {
  struct curl_slist *h = curl_slist_append(*list, line);
  if (h == NULL) luaL_error(L, "out of memory");
  *list = h;
}

/* The option functions below return 0, or 2 with nil, err pushed (error_fail's). */

/* Copies the string option k into *out, when it is a clean string. */
static int opt_string(lua_State *L, int t, const char *k, char **out) {
  size_t n;
  const char *v;
  int type = lua_getfield(L, t, k);
  if (type == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  v = lua_tolstring(L, -1, &n);
  /* A path or URL cut at the NUL would name something else. */
  if (type == LUA_TSTRING && memchr(v, '\0', n))
    return error_fail(L, "config", "option %s holds a NUL byte", k);
  if (type != LUA_TSTRING || n == 0 || has_control(v, n))
    return error_fail(L, "config", "option %s must be a non-empty string without control characters", k);
  *out = strdup(v);
  lua_pop(L, 1);
  if (*out == NULL) luaL_error(L, "out of memory");
  return 0;
}

/* Appends the strings of the list option k (extra "Name: value" lines, checked by the Lua
 * layer) to *list, when each is a clean header line. */
static int opt_header_lines(lua_State *L, int t, const char *k, struct curl_slist **list) {
  int i, n;
  if (lua_getfield(L, t, k) == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, -1)) return error_fail(L, "config", "option %s must be a list of header lines", k);
  n = (int)lua_rawlen(L, -1);
  for (i = 1; i <= n; i++) {
    size_t len;
    const char *line, *colon;
    lua_rawgeti(L, -1, i);
    line = lua_tolstring(L, -1, &len);
    colon = line ? (const char *)memchr(line, ':', len) : NULL;
    if (lua_type(L, -1) != LUA_TSTRING || colon == NULL || colon == line || has_control(line, len))
      return error_fail(L, "config",
                        "option %s: header line %d is not \"Name: value\" without control characters", k, i);
    add_line(L, list, line);
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return 0;
}

/* core.session{api_key=, base_url=, timeout=, connect_timeout=, user_agent=, headers=, ...}
 * --> session | nil, err */
static int l_session(lua_State *L) {
  session **ps, *s;
  size_t klen = 0, ulen = 0;
  const char *key = NULL, *url;
  char why[URL_WHY_SIZE];
  int allow_http;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getfield(L, 1, "api_key") != LUA_TNIL) {
    if (lua_type(L, -1) != LUA_TSTRING) return error_fail(L, "config", "api_key must be a string");
    key = lua_tolstring(L, -1, &klen);
    if (klen == 0) key = NULL;
    else if (has_control(key, klen) || memchr(key, ' ', klen))
      return error_fail(L, "config", "api_key contains a space or a control character");
  }
  if (lua_getfield(L, 1, "base_url") != LUA_TSTRING) return error_fail(L, "config", "base_url must be a string");
  url = lua_tolstring(L, -1, &ulen);
  if (has_control(url, ulen) || memchr(url, ' ', ulen) || memchr(url, '?', ulen) || memchr(url, '#', ulen))
    return error_fail(L, "config", "base_url contains a space, a control character, '?' or '#'");
  if (!is_http(url, ulen)) return error_fail(L, "config", "base_url must start with https:// or http://");
  lua_getfield(L, 1, "allow_http"); /* left on the stack, as api_key and base_url are */
  allow_http = lua_toboolean(L, -1);
  if (!url_allowed(url, allow_http, NULL, why)) return error_fail(L, "config", "base_url: %s", why);
  while (ulen > 0 && url[ulen - 1] == '/') ulen--;

  ps = (session **)class_new(L, SESSION_MT, sizeof(session *));
  s = (session *)calloc(1, sizeof *s);
  if (s == NULL) return luaL_error(L, "out of memory");
  *ps = s;
  s->refs = 1;
  lua_getfield(L, 1, "tls_verify");
  s->tls_verify = !lua_isboolean(L, -1) || lua_toboolean(L, -1); /* on unless false */
  lua_pop(L, 1);
  if (opt_string(L, 1, "ca_file", &s->ca_file) || opt_string(L, 1, "ca_path", &s->ca_path) ||
      opt_string(L, 1, "proxy", &s->proxy) || opt_string(L, 1, "user_agent", &s->user_agent))
    return 2;
  if (s->user_agent == NULL) s->user_agent = strdup(SESSION_USER_AGENT);
  if (s->user_agent == NULL) return luaL_error(L, "out of memory");
  s->timeout_ms = opt_ms(L, 1, "timeout", 60);
  s->connect_timeout_ms = opt_ms(L, 1, "connect_timeout", 10);
  s->low_speed_limit = (long)opt_number(L, 1, "low_speed_limit", 1024, 1, 2147483647.0);
  s->low_speed_time = (long)opt_number(L, 1, "low_speed_time", 30, 1, OPT_MAX_SECONDS);
  s->max_bytes = (curl_off_t)opt_number(L, 1, "max_bytes", 512.0 * 1024 * 1024, 1, 9007199254740992.0);
  s->allow_http = allow_http;
  s->base_url = strdup(url);
  s->submit_url = (char *)malloc(ulen + sizeof SUBMIT_PATH);
  if (!s->base_url || !s->submit_url) return luaL_error(L, "out of memory");
  s->base_url[ulen] = '\0'; /* without its trailing '/' */
  snprintf(s->submit_url, ulen + sizeof SUBMIT_PATH, "%s%s", s->base_url, SUBMIT_PATH);
  s->api_loopback = url_is_loopback(s->base_url); /* once: every API request asks */
  if (key) {
    char *line = (char *)malloc(klen + sizeof AUTHORIZATION);
    if (line == NULL) return luaL_error(L, "out of memory");
    snprintf(line, klen + sizeof AUTHORIZATION, "%s%s", AUTHORIZATION, key);
    s->api_headers = curl_slist_append(NULL, line);
    wipe(line);
    free(line);
    if (s->api_headers == NULL) return luaL_error(L, "out of memory");
    s->key = s->api_headers->data + sizeof AUTHORIZATION - 1; /* the one copy: in its header line */
  }
  add_line(L, &s->api_headers, "Content-Type: application/json");
  add_line(L, &s->api_headers, "Accept: application/json");
  add_line(L, &s->api_headers, "Expect:");
  add_line(L, &s->cdn_headers, "Accept: */*");
  /* The user's extra headers go to the API only: the CDN's list never has them. */
  return opt_header_lines(L, 1, "headers", &s->api_headers) ? 2 : 1;
}

/* A transfer for this session, set up with what every request shares. An API request takes the
 * handle its session's last one of its kind gave back, if kept: then only the URL and the
 * timeout are set again. ms: the request's timeout (a download's: without a new byte). */
static transfer *session_transfer(lua_State *L, session *s, transfer_kind kind, const char *url, long ms) {
  engine *e = engine_get(L);
  unsigned long tag = 0;
  int warm = 0;
  transfer *t;
  CURL *easy;
  if (kind != TRANSFER_DOWNLOAD) {
    if (s->tag == 0) s->tag = handles_new_tag(&e->handles); /* one engine per Lua state, for its life */
    tag = s->tag * 4 + (unsigned long)kind;
  }
  t = transfer_new(L, e, kind, tag, &warm);
  easy = t->item.easy;
  t->owner = s;
  t->release = session_release;
  t->key = s->key;
  t->proxy = s->proxy;
  s->refs++;
  /* A warm submit handle has this session's submit URL already. */
  if (!warm || kind != TRANSFER_SUBMIT) curl_easy_setopt(easy, CURLOPT_URL, url);
  if (kind != TRANSFER_DOWNLOAD) curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
  if (warm) return t;
  curl_easy_setopt(easy, CURLOPT_USERAGENT, s->user_agent);
  curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT_MS, s->connect_timeout_ms);
  if (s->ca_file) curl_easy_setopt(easy, CURLOPT_CAINFO, s->ca_file);
  /* libcurl keeps the parsed CA store in the multi handle (one per engine) only while no CA
   * directory is set; Debian's libcurl sets a default one, and every new TLS connection then
   * parses the whole bundle again (25 ms of CPU). The directory stays where the user named one,
   * or where it is all libcurl has. */
  if (s->ca_path) curl_easy_setopt(easy, CURLOPT_CAPATH, s->ca_path);
  else if (s->ca_file || t->item.engine->handles.default_ca_file) curl_easy_setopt(easy, CURLOPT_CAPATH, (char *)NULL);
  /* HTTP/2 where the server offers it in the TLS handshake (ALPN); plain http stays 1.1. */
  curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
  transfer_set_proxy(t, kind == TRANSFER_DOWNLOAD ? url_is_loopback(url) : s->api_loopback);
  if (!s->tls_verify) {
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (kind == TRANSFER_DOWNLOAD) {
    /* A large file may take long: a transfer slower than the speed floor is a timeout.
     * Redirects are followed by the engine, each checked against the URL rule first. */
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, s->cdn_headers);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, s->low_speed_limit);
    curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, s->low_speed_time);
    curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 0L);
    t->allow_http = s->allow_http;
    t->stall_ms = ms;
    t->max_bytes = s->max_bytes;
    /* Large reads: a sixteenth of the wake-ups and write calls of the 16 KiB default. */
    curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, SESSION_DOWNLOAD_BUFFER);
  } else {
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, s->api_headers);
  }
  /* Wait for a connection being made to the same host, to multiplex over it rather than open
   * another; a submit too: its guard holds on a shared connection as on a reused one. */
  curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
  return t;
}

/* Starts the transfer at the top: returns it, or nil, err when the engine refuses it. */
static int start_or_fail(lua_State *L, transfer *t) {
  if (engine_start(L, &t->item, -1)) return 1;
  return error_fail_top(L, "network");
}

static int no_key(lua_State *L) {
  return error_fail(L, "config", "no API key: pass api_key to new() or set AIMLAPI_KEY");
}

/* The optional argument idx: seconds instead of the session's timeout, as milliseconds. */
static long request_timeout_ms(lua_State *L, int idx, const session *s) {
  lua_Number v = luaL_optnumber(L, idx, 0);
  if (!(v >= 0 && v <= OPT_MAX_SECONDS)) luaL_argerror(L, idx, "timeout out of range");
  if (v <= 0) return s->timeout_ms;
  return v * 1000.0 < 1.0 ? 1L : (long)(v * 1000.0 + 0.5);
}

/* session:submit(body_json[, timeout]) --> transfer | nil, err */
static int session_submit(lua_State *L) {
  session *s = session_check(L, 1);
  size_t n;
  const char *body = luaL_checklstring(L, 2, &n);
  long ms = request_timeout_ms(L, 3, s);
  transfer *t;
  if (!s->key) return no_key(L);
  t = session_transfer(L, s, TRANSFER_SUBMIT, s->submit_url, ms);
  transfer_guard_single_send(t); /* a silent resend by libcurl would be a second paid job */
  curl_easy_setopt(t->item.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
  curl_easy_setopt(t->item.easy, CURLOPT_COPYPOSTFIELDS, body);
  return start_or_fail(L, t);
}

/* Percent-encodes everything but RFC 3986's unreserved characters: ':' and '/' of ids too. */
static void add_encoded(luaL_Buffer *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  size_t i;
  for (i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      luaL_addchar(b, (char)c);
    } else {
      luaL_addchar(b, '%');
      luaL_addchar(b, hex[c >> 4]);
      luaL_addchar(b, hex[c & 15]);
    }
  }
}

/* session:status(id[, timeout]) --> transfer | nil, err */
static int session_status(lua_State *L) {
  session *s = session_check(L, 1);
  size_t n;
  const char *id = luaL_checklstring(L, 2, &n);
  long ms = request_timeout_ms(L, 3, s);
  luaL_Buffer b;
  if (n == 0) return luaL_argerror(L, 2, "empty generation id");
  if (!s->key) return no_key(L);
  luaL_buffinit(L, &b);
  luaL_addstring(&b, s->submit_url);
  luaL_addstring(&b, "?generation_id=");
  add_encoded(&b, id, n);
  luaL_pushresult(&b);
  return start_or_fail(L, session_transfer(L, s, TRANSFER_STATUS, lua_tostring(L, -1), ms));
}

/* session:download(url, target, overwrite[, previous[, size[, timeout[, limit[, journal, id]]]]])
 *   --> transfer | nil, err
 * size: the length the job reported (0 or nil: unknown); any other length is an error.
 * limit: seconds left before the download's overall deadline (nil: none).
 * journal, id: the commit records job id's file in journal before it gets the target's name.
 * The bytes go to a temporary file; transfer:finish() moves it to target when complete. With
 * the failed transfer of an earlier attempt, its partial file is taken over and the request
 * asks only for the rest (Range); a server that cannot resume makes it start over. */
static int session_download(lua_State *L) {
  session *s = session_check(L, 1);
  size_t ulen;
  const char *url = luaL_checklstring(L, 2, &ulen);
  size_t tlen;
  const char *target = luaL_checklstring(L, 3, &tlen);
  int overwrite = lua_toboolean(L, 4);
  lua_Number size = luaL_optnumber(L, 6, 0);
  long ms = request_timeout_ms(L, 7, s);
  lua_Number limit = luaL_optnumber(L, 8, 0);
  const char *journal = luaL_optstring(L, 9, NULL), *id = luaL_optstring(L, 10, NULL);
  platform_info info;
  transfer *t, *prev;
  char why[URL_WHY_SIZE];
  if (has_control(url, ulen) || !is_http(url, ulen))
    return error_fail(L, "config", "the audio URL is not an http(s) URL");
  if (!url_allowed(url, s->allow_http, NULL, why)) return error_fail(L, "config", "the audio URL: %s", why);
  if (tlen == 0 || memchr(target, '\0', tlen)) {
    /* Never cut at the NUL: the file would land at another path than the one asked. */
    error_fail(L, "io", "the download path %s", tlen ? "holds a NUL byte" : "is empty");
    error_setstring(L, "code", "EINVAL");
    return 2;
  }
  if (!overwrite && platform_stat(target, 0, &info) == 0) {
    error_fail(L, "io", "%s exists (pass overwrite = true to replace it)", target);
    error_setstring(L, "code", "EEXIST");
    return 2;
  }
  prev = lua_isnoneornil(L, 5) ? NULL : transfer_check(L, 5);
  t = session_transfer(L, s, TRANSFER_DOWNLOAD, url, ms);
  t->overwrite = overwrite;
  if (size >= 1 && size <= 9007199254740992.0) t->expected = (curl_off_t)size;
  t->target_path = strdup(target);
  if (t->target_path == NULL) return luaL_error(L, "out of memory");
  if (limit > 0) {
    /* The overall deadline, on top of the stall and speed floors: a trickle that keeps above
     * them ends too. limit is in seconds, at most the longest option (about 24 days). */
    long limit_ms = limit < OPT_MAX_SECONDS ? (long)(limit * 1000) : (long)(OPT_MAX_SECONDS * 1000);
    if (limit_ms < 1) limit_ms = 1;
    curl_easy_setopt(t->item.easy, CURLOPT_TIMEOUT_MS, limit_ms);
    t->deadline_ms = (long long)(platform_now() * 1000) + limit_ms;
  }
  if (journal && id) {
    t->journal_path = strdup(journal);
    t->job_id = strdup(id);
    if (t->journal_path == NULL || t->job_id == NULL) return luaL_error(L, "out of memory");
  }
  if (transfer_take_partial(t, prev)) curl_easy_setopt(t->item.easy, CURLOPT_RESUME_FROM_LARGE, t->resume_from);
  /* A Content-Length past the cap is refused before any byte is written. */
  if (t->max_bytes > t->resume_from)
    curl_easy_setopt(t->item.easy, CURLOPT_MAXFILESIZE_LARGE, t->max_bytes - t->resume_from);
  /* Without a partial file to go on from, the temporary file is made by the worker that
   * writes the first bytes: the loop's thread never waits for the file system. */
  return start_or_fail(L, t);
}

const luaL_Reg session_methods[] = {{"submit", session_submit},
                                    {"status", session_status},
                                    {"download", session_download},
                                    {"close", session_close},
                                    {NULL, NULL}};
const luaL_Reg session_functions[] = {{"session", l_session}, {NULL, NULL}};
