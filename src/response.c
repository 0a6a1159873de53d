/* response: the classifier, what a finished request came to, from facts alone. Owns: turning
 * facts (which request, libcurl's code, the HTTP status, the body, whether the request can have
 * reached the server) into what the API promises: a job, a status table, or one error table
 * whose kind says what went wrong (DESIGN.md). Errors carry the facts `request` and `sent` for
 * the retry policy (lua/aimlmusic/retry.lua), which alone decides `retryable`. Must not know:
 * transfers, files, sessions or the engine: no file is removed and no method registered here. */
#include "response.h"

#include <stdio.h>
#include <string.h>

#include "error.h"
#include "json.h"
#include "redact.h"

static const char *const request_names[] = {"submit", "status", "download", NULL};

/* Sets the facts the retry policy reads on the error at the top (nil, err pushed by
 * error_fail) and returns 2. sent: whether the request can have reached the server. */
static int fail_facts(lua_State *L, const response_facts *f, int sent) {
  error_setstring(L, "request", request_names[f->request]);
  error_setbool(L, "sent", sent);
  return 2;
}

static int fail_with(lua_State *L, const response_facts *f, const char *kind, const char *message) {
  error_fail(L, kind, "%s", message);
  return fail_facts(L, f, 1);
}

/* Decodes the body a server sent. Every string in it, keys and values at any depth, is
 * redacted here, once: what the decoder returns has JSON escapes resolved, so a key hidden as
 * \u0041... is caught too, and nothing decoded reaches an error, a status table or raw before
 * this. Pushes the value and returns 1, or pushes the decoder's message and returns 0. */
static int decode_server_json(lua_State *L, const response_facts *f) {
  int ok = json_decode(L, f->body, f->body_len);
  /* A decoder's message is not a piece of the body: it is searched on its own. */
  if (ok) redact_decoded(L, f->key, -1, f->body, f->body_len);
  else redact_value(L, f->key, -1);
  return ok;
}

/* The message of a provider error body: a string, or a list of strings joined with "; ". */
static void push_body_message(lua_State *L, int body) {
  int t = lua_getfield(L, body, "message");
  if (t == LUA_TSTRING) return;
  if (t == LUA_TTABLE) {
    luaL_Buffer b;
    int list = lua_gettop(L), i, n = (int)lua_rawlen(L, list), added = 0;
    luaL_buffinit(L, &b);
    for (i = 1; i <= n && i <= 20; i++) {
      /* The buffer must be on top whenever it grows: separator first, then the value. */
      if (lua_rawgeti(L, list, i) != LUA_TSTRING) {
        lua_pop(L, 1);
        continue;
      }
      lua_pop(L, 1);
      if (added++) luaL_addstring(&b, "; ");
      lua_rawgeti(L, list, i);
      luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    lua_remove(L, list);
    if (added) return;
  }
  lua_pop(L, 1);
  lua_pushnil(L);
}

/* A 400's message list becomes err.fields: "prompt must be ..." names the field "prompt". */
static void set_fields_from_body(lua_State *L, int body, int err) {
  int i, n, count = 0;
  if (lua_getfield(L, body, "message") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  n = (int)lua_rawlen(L, -1);
  lua_newtable(L);
  for (i = 1; i <= n && i <= 100; i++) {
    size_t len, k = 0;
    const char *s;
    if (lua_rawgeti(L, -2, i) != LUA_TSTRING) { /* before lua_tolstring turns 1 into "1" */
      lua_pop(L, 1);
      continue;
    }
    s = lua_tolstring(L, -1, &len);
    while (k < len && (s[k] == '_' || s[k] == '.' || (s[k] >= 'a' && s[k] <= 'z') ||
                       (s[k] >= 'A' && s[k] <= 'Z') || (s[k] >= '0' && s[k] <= '9')))
      k++;
    lua_createtable(L, 0, 2);
    lua_pushlstring(L, s, k);
    lua_setfield(L, -2, "field");
    lua_pushvalue(L, -2);
    lua_setfield(L, -2, "message");
    lua_rawseti(L, -3, ++count);
    lua_pop(L, 1);
  }
  lua_setfield(L, err, "fields");
  lua_pop(L, 1);
}

static const char *curl_code_name(CURLcode c) {
  switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL: return "UNSUPPORTED_PROTOCOL";
    case CURLE_URL_MALFORMAT: return "URL_MALFORMAT";
    case CURLE_COULDNT_RESOLVE_PROXY: return "COULDNT_RESOLVE_PROXY";
    case CURLE_COULDNT_RESOLVE_HOST: return "COULDNT_RESOLVE_HOST";
    case CURLE_COULDNT_CONNECT: return "COULDNT_CONNECT";
    case CURLE_PARTIAL_FILE: return "PARTIAL_FILE";
    case CURLE_WRITE_ERROR: return "WRITE_ERROR";
    case CURLE_OPERATION_TIMEDOUT: return "OPERATION_TIMEDOUT";
    case CURLE_SSL_CONNECT_ERROR: return "SSL_CONNECT_ERROR";
    case CURLE_TOO_MANY_REDIRECTS: return "TOO_MANY_REDIRECTS";
    case CURLE_GOT_NOTHING: return "GOT_NOTHING";
    case CURLE_SEND_ERROR: return "SEND_ERROR";
    case CURLE_RECV_ERROR: return "RECV_ERROR";
    case CURLE_PEER_FAILED_VERIFICATION: return "PEER_FAILED_VERIFICATION";
    case CURLE_SSL_CACERT_BADFILE: return "SSL_CACERT_BADFILE";
    case CURLE_SSL_CERTPROBLEM: return "SSL_CERTPROBLEM";
    case CURLE_ABORTED_BY_CALLBACK: return "ABORTED_BY_CALLBACK";
    case CURLE_HTTP2: return "HTTP2";
    case CURLE_HTTP2_STREAM: return "HTTP2_STREAM";
    case CURLE_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case CURLE_RANGE_ERROR: return "RANGE_ERROR";
    default: return NULL;
  }
}

/* A transport failure: the kind, and whether the request can have reached the server (a
 * connection never made, a name never resolved: it did not). */
static int curl_failure(lua_State *L, const response_facts *f) {
  const char *kind = "network";
  const char *name = curl_code_name(f->code);
  int sent = 1;
  char msg[128];
  const char *text = f->curl_message && f->curl_message[0] ? f->curl_message : curl_easy_strerror(f->code);
  switch (f->code) {
    case CURLE_WRITE_ERROR:
      if (f->io_errno && f->create_failed) {
        error_fail_errno(L, "io", f->io_errno, "cannot create a file beside %s", f->target ? f->target : "the target");
        return fail_facts(L, f, sent);
      }
      if (f->io_errno) {
        /* The errno is the cause (ENOSPC: the disk is full), not libcurl's WRITE_ERROR. */
        error_fail_errno(L, "io", f->io_errno, "writing %s", f->path ? f->path : f->target ? f->target
                                                                                           : "the download");
        return fail_facts(L, f, sent);
      }
      if (f->oversize) {
        if (f->oversize == 1)
          snprintf(msg, sizeof msg, "the download passed max_bytes (%.0f bytes)", (double)f->max_bytes);
        else
          snprintf(msg, sizeof msg, "the download passed the %.0f bytes the job reported", (double)f->expected);
        return fail_with(L, f, "protocol", msg);
      }
      if (f->body_overflow && f->request == RESPONSE_DOWNLOAD && f->status >= 300 && f->status <= 399) {
        snprintf(msg, sizeof msg, "a redirect (HTTP %ld) sent a body of more than 64 KiB", f->status);
        return fail_with(L, f, "protocol", msg);
      }
      if (f->body_overflow)
        return fail_with(L, f, "protocol", f->request == RESPONSE_DOWNLOAD ? "error response body too large" : "response body larger than 1 MiB");
      break;
    case CURLE_OPERATION_TIMEDOUT:
      kind = "timeout";
      if (f->expired) text = "the download did not finish before its deadline (download_timeout)";
      break;
    case CURLE_FILESIZE_EXCEEDED:
      snprintf(msg, sizeof msg, "the server announced more than max_bytes (%.0f bytes)", (double)f->max_bytes);
      return fail_with(L, f, "protocol", msg);
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR: sent = 0; break;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL: kind = "config"; break;
    case CURLE_ABORTED_BY_CALLBACK:
      if (f->resend_refused) {
        /* No answer on the connection it went out on, and libcurl went to send it again. */
        kind = "network";
        text =
            "no answer came on the connection the request was sent on: it may have reached the "
            "server, so it is not sent again";
      } else if (f->stalled) {
        kind = "timeout";
        text = "the download received nothing for the request timeout";
      } else {
        kind = "cancelled";
      }
      break;
    default: break; /* the rest (RECV_ERROR, PARTIAL_FILE, TLS, ...) is network */
  }
  /* Counted sends say it, whatever the code: after a refused resend the code is libcurl's
   * word on the second connection (refused, or never made), not on the first. */
  if (f->sends >= 0) sent = f->sends > 0;
  redact_push(L, f->key, text, strlen(text));
  if (f->sends > 0 && !f->resend_refused && (strcmp(kind, "network") == 0 || strcmp(kind, "timeout") == 0)) {
    lua_pushfstring(L, "%s (after the request was sent: it may have reached the server, so it is not sent again)",
                    lua_tostring(L, -1));
    lua_replace(L, -2);
  }
  error_fail_top(L, kind);
  if (name) error_setstring(L, "code", name);
  else error_setint(L, "code", (long long)f->code);
  return fail_facts(L, f, sent);
}

static const char *reason(long status) {
  switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 408: return "Request Timeout";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "HTTP error";
  }
}

/* Whether a 404 to a status request is the API's own answer that the generation id is unknown:
 * its JSON error body (statusCode 404) for the very path asked, and not the answer for a route
 * it does not have ("Cannot GET ..."). A web page or another service's 404, from a wrong base
 * URL or a proxy, says nothing about the job. */
static int api_not_found(lua_State *L, const response_facts *f, int body) {
  const char *said;
  char *asked = NULL;
  size_t said_n;
  int yes = 0, top = lua_gettop(L);
  if (!body) return 0;
  if (f->url) {
    CURLU *u = curl_url();
    if (u && curl_url_set(u, CURLUPART_URL, f->url, 0) == CURLUE_OK)
      curl_url_get(u, CURLUPART_PATH, &asked, 0);
    curl_url_cleanup(u);
    if (asked == NULL) return 0;
  }
  if (lua_getfield(L, body, "statusCode") == LUA_TNUMBER && lua_tonumber(L, -1) == 404 &&
      lua_getfield(L, body, "path") == LUA_TSTRING) {
    const char *want = asked ? asked : "/v2/generate/audio"; /* core.classify: no transfer */
    said = lua_tolstring(L, -1, &said_n);
    said_n = strcspn(said, "?#");
    yes = said_n == strlen(want) && memcmp(said, want, said_n) == 0;
    if (yes && lua_getfield(L, body, "message") == LUA_TSTRING)
      yes = strncmp(lua_tostring(L, -1), "Cannot ", 7) != 0;
  }
  curl_free(asked);
  lua_settop(L, top);
  return yes;
}

/* An HTTP error status: the kind says what it means for this request. */
static int http_failure(lua_State *L, const response_facts *f) {
  const char *kind = "http";
  long status = f->status;
  int body = 0, err;
  int download = f->request == RESPONSE_DOWNLOAD;
  if (status == 400 || status == 422) kind = "validation";
  else if (status == 401) kind = "auth";
  else if (status == 402 || (status == 403 && !download)) kind = "credits";
  else if (status == 408) kind = "timeout";
  else if (status == 429) kind = "rate_limited";
  else if (status >= 500 && status <= 599) kind = "server";

  if (f->body_len > 0 && decode_server_json(L, f) && lua_istable(L, -1)) {
    body = lua_gettop(L);
  } else {
    lua_pop(L, 1);
  }
  /* Only the API's own word ends a journaled job; any other 404 from its address is plain http. */
  if (status == 404 && (download || (f->request == RESPONSE_STATUS && api_not_found(L, f, body))))
    kind = "not_found";
  if (body) push_body_message(L, body);
  else lua_pushnil(L);
  if (lua_isnil(L, -1)) {
    lua_pop(L, 1);
    if (download && status == 403)
      lua_pushliteral(L, "the audio URL was refused (it may have expired)");
    else
      lua_pushfstring(L, "%s", reason(status));
  }
  error_fail_top(L, kind); /* body (if any), nil, err */
  err = lua_gettop(L);
  error_setint(L, "status", status);
  if (f->retry_after > 0) error_setint(L, "retry_after", f->retry_after);
  if (body) {
    if (lua_getfield(L, body, "requestId") == LUA_TSTRING) lua_setfield(L, err, "request_id");
    else lua_pop(L, 1);
    if (strcmp(kind, "validation") == 0) set_fields_from_body(L, body, err);
    lua_remove(L, body);
  }
  return fail_facts(L, f, 1);
}

/* Copies the value at the top (consumed) to st[name] when it has the type wanted (LUA_TNONE:
 * a number or a string), else nothing. Whole numbers become integers (cjson decodes every
 * number as a float). name_idx: the stack index of name as a Lua string, or 0 (st is a plain
 * table: raw access is what setfield would do, without making the name a string again). */
static void set_mapped(lua_State *L, int st, const char *name, int name_idx, int want) {
  int type = lua_type(L, -1);
  if ((type != LUA_TNUMBER && type != LUA_TSTRING) || (want != LUA_TNONE && type != want)) {
    lua_pop(L, 1);
    return;
  }
  if (type == LUA_TNUMBER) {
    lua_Number x = lua_tonumber(L, -1);
    if (x >= -9e15 && x <= 9e15 && x == (lua_Number)(long long)x) {
      lua_pop(L, 1);
      lua_pushinteger(L, (long long)x);
    }
  }
  if (name_idx == 0) {
    lua_setfield(L, st, name);
    return;
  }
  lua_pushvalue(L, name_idx);
  lua_insert(L, -2);
  lua_rawset(L, st);
}

/* Pushes the value at the dotted path in the table at body ("extra_info.music_duration"), or
 * nil: a missing or non-table step ends the walk. */
static void push_path(lua_State *L, int body, const char *from) {
  const char *dot;
  lua_pushvalue(L, body);
  while ((dot = strchr(from, '.')) != NULL && lua_istable(L, -1)) {
    lua_pushlstring(L, from, (size_t)(dot - from));
    lua_rawget(L, -2);
    lua_remove(L, -2);
    from = dot + 1;
  }
  if (dot == NULL && lua_istable(L, -1)) {
    lua_getfield(L, -1, from);
    lua_remove(L, -2);
  } else {
    lua_pop(L, 1);
    lua_pushnil(L);
  }
}

/* What a status answer gives whatever its model: st[to] = body at the path from, when it has
 * the type. A model's own fields come from its response mapping (models.lua). */
static const struct {
  const char *from, *to;
  int type;
} response_common[] = {
    {"meta.usage.credits_used", "credits_used", LUA_TNUMBER},
    {"trace_id", "trace_id", LUA_TSTRING},
};

/* The model's response mapping (models.lua: {from = "extra_info.music_duration", to =
 * "duration_ms"} each) applied to the body: st[to] = body at the dotted path from. */
static void apply_mapping(lua_State *L, int body, int map, int st) {
  int i, n = (int)lua_rawlen(L, map), at;
  /* Mappings from one object ("extra_info.music_duration", "extra_info.bitrate") walk to it
   * once: the value at the last prefix walked waits at `at`. */
  const char *prefix = NULL;
  size_t prefix_len = 0;
  lua_pushnil(L);
  at = lua_gettop(L);
  for (i = 1; i <= n && i <= 64; i++) {
    int top = lua_gettop(L);
    if (lua_rawgeti(L, map, i) == LUA_TTABLE && lua_getfield(L, -1, "from") == LUA_TSTRING &&
        lua_getfield(L, -2, "to") == LUA_TSTRING) {
      size_t len, k;
      const char *from = lua_tolstring(L, top + 2, &len);
      for (k = len; k > 0 && from[k - 1] != '.'; k--) {}
      if (k == 0 || strlen(from) != len) {
        push_path(L, body, from);
      } else {
        if (prefix == NULL || prefix_len != k - 1 || memcmp(prefix, from, k - 1) != 0) {
          lua_pushlstring(L, from, k - 1);
          push_path(L, body, lua_tostring(L, -1));
          lua_replace(L, at);
          lua_pop(L, 1);
          prefix = from; /* alive in the map while this runs */
          prefix_len = k - 1;
        }
        if (lua_istable(L, at)) lua_getfield(L, at, from + k);
        else lua_pushnil(L);
      }
      set_mapped(L, st, NULL, top + 3, LUA_TNONE);
    }
    lua_settop(L, top);
  }
  lua_settop(L, at - 1);
}

static int protocol_error(lua_State *L, const response_facts *f, const char *message) {
  return fail_with(L, f, "protocol", message);
}

/* A 2xx answer from the API: a job (submit) or a status table (status). map: the stack index
 * of the model's response mapping, or 0. */
static int api_success(lua_State *L, const response_facts *f, int map) {
  int body, st, sub, url = 0;
  size_t i;
  const char *status;
  if (f->body_len == 0) return protocol_error(L, f, "empty response body");
  if (!decode_server_json(L, f)) {
    lua_pushfstring(L, "response is not JSON: %s", lua_tostring(L, -1));
    return protocol_error(L, f, lua_tostring(L, -1));
  }
  if (!lua_istable(L, -1)) return protocol_error(L, f, "response is not a JSON object");
  body = lua_gettop(L);
  /* A job: id, status, raw and the model the client adds; a status: up to a dozen fields. */
  lua_createtable(L, 0, f->request == RESPONSE_SUBMIT ? 4 : 12);
  st = lua_gettop(L);
  if (lua_getfield(L, body, "id") != LUA_TSTRING) return protocol_error(L, f, "response has no string id");
  lua_setfield(L, st, "id");
  if (lua_getfield(L, body, "status") != LUA_TSTRING)
    return protocol_error(L, f, "response has no string status");
  status = lua_tostring(L, -1);
  lua_setfield(L, st, "status"); /* status stays alive in body */
  lua_pushvalue(L, body);
  lua_setfield(L, st, "raw");
  if (f->request == RESPONSE_SUBMIT) return 1;

  switch (lua_getfield(L, body, "audio_file")) {
    case LUA_TTABLE:
      sub = lua_gettop(L);
      if (lua_getfield(L, sub, "url") == LUA_TSTRING) {
        const char *u = lua_tostring(L, -1);
        if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
          return protocol_error(L, f, "audio_file.url is not an http(s) URL");
        lua_setfield(L, st, "url");
        url = 1;
      } else if (!lua_isnil(L, -1) && !json_isnull(L, -1)) {
        return protocol_error(L, f, "audio_file.url is not a string");
      } else {
        lua_pop(L, 1);
      }
      lua_pop(L, 1);
      break;
    case LUA_TNIL: lua_pop(L, 1); break;
    default:
      if (json_isnull(L, -1)) {
        lua_pop(L, 1);
        break;
      }
      return protocol_error(L, f, "audio_file is not an object");
  }
  if (!url && strcmp(status, "completed") == 0)
    return protocol_error(L, f, "job completed without audio_file.url");
  if (map) apply_mapping(L, body, map, st);
  for (i = 0; i < sizeof response_common / sizeof response_common[0]; i++) {
    push_path(L, body, response_common[i].from);
    set_mapped(L, st, response_common[i].to, 0, response_common[i].type);
  }
  if (lua_getfield(L, body, "error") == LUA_TTABLE) {
    sub = lua_gettop(L);
    lua_createtable(L, 0, 2);
    if (lua_getfield(L, sub, "name") == LUA_TSTRING) lua_setfield(L, -2, "name");
    else lua_pop(L, 1);
    if (lua_getfield(L, sub, "message") == LUA_TSTRING) lua_setfield(L, -2, "message");
    else lua_pop(L, 1);
    lua_setfield(L, st, "error");
  }
  lua_settop(L, st);
  return 1;
}

int response_classify(lua_State *L, const response_facts *f, int map) {
  if (f->cancelled) return fail_with(L, f, "cancelled", "the request was cancelled");
  if (f->refused) {
    /* The refused URL came from a server, host name and all: the key may be in it. */
    redact_push(L, f->key, f->refused, strlen(f->refused));
    error_fail_top(L, "config");
    return fail_facts(L, f, 1);
  }
  if (f->code != CURLE_OK) return curl_failure(L, f);
  if (f->no_location) {
    char msg[96];
    snprintf(msg, sizeof msg, "the download was answered HTTP %ld with no Location to follow", f->status);
    return protocol_error(L, f, msg);
  }
  if (f->status < 200 || f->status > 299) return http_failure(L, f);
  if (f->request == RESPONSE_DOWNLOAD) return 0;
  return api_success(L, f, map);
}

/* core.classify(kind, status, body[, map[, key]]) --> what finish(map) returns for that answer
 * from a client holding key: the classifier on its own, for the fuzzer and for tests. kind:
 * "submit", "status" or "download". */
static int l_classify(lua_State *L) {
  response_facts f;
  size_t n;
  int r;
  memset(&f, 0, sizeof f);
  f.sends = -1;
  f.request = (response_request)luaL_checkoption(L, 1, NULL, request_names);
  f.status = (long)luaL_checknumber(L, 2);
  f.body = luaL_optlstring(L, 3, "", &n);
  f.body_len = n;
  f.key = luaL_optstring(L, 5, NULL);
  lua_settop(L, 5);
  r = response_classify(L, &f, lua_istable(L, 4) ? 4 : 0);
  if (r == 0) { /* a download's bytes: what finish reports, without a file */
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "bytes");
    return 1;
  }
  return r;
}

const luaL_Reg response_functions[] = {{"classify", l_classify}, {NULL, NULL}};
