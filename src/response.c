/* response: what a finished request's answer says. Owns: the answer's body decoded with the key
 * searched out of every string in it, once, before anything else sees it; a 2xx answer made a
 * job or a status table (the hot path, in C: the response mapping of models.lua applied);
 * anything else as a facts table (libcurl's code and words, redacted likewise, the status, an
 * error body) for lua/aimlmusic/response.lua to make the error of (policy, in Lua); core.answer,
 * the same from given pieces, for the fuzzer and tests. Must not know: transfers, files,
 * sessions or the engine, what an error's kind is or whether it may be retried. */
#include "response.h"

#include <string.h>

#include "error.h"
#include "json.h"
#include "platform.h"
#include "redact.h"

static const char *const request_names[] = {"submit", "status", "download", NULL};

/* Decodes the body a server sent. Every string in it, keys and values at any depth, is
 * redacted here, once: what the decoder returns has JSON escapes resolved, so a key hidden as
 * \u0041... is caught too. Pushes the value and returns 1, or pushes the decoder's message and
 * returns 0. */
static int decode_server_json(lua_State *L, const response_facts *f) {
  int ok = json_decode(L, f->body, f->body_len);
  /* A decoder's message is not a piece of the body: it is searched on its own. */
  if (ok) redact_decoded(L, f->key, -1, f->body, f->body_len);
  else redact_value(L, f->key, -1);
  return ok;
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
    case CURLE_FILESIZE_EXCEEDED: return "FILESIZE_EXCEEDED";
    default: return NULL;
  }
}

/* Pushes the facts table of a request that did not end in a usable answer: the flags and counts
 * that are set, libcurl's code and words, the status, an error body. */
static void push_facts(lua_State *L, const response_facts *f) {
  static const char *const flags[] = {"cancelled", "create_failed", "body_overflow", "stalled", "expired",
                                      "no_location", "resend_refused"};
  static const char *const counts[] = {"retry_after", "oversize", "max_bytes", "expected"};
  const int flag[] = {f->cancelled, f->create_failed, f->body_overflow, f->stalled, f->expired, f->no_location,
                      f->resend_refused};
  const long long count[] = {f->retry_after, f->oversize, f->max_bytes, f->expected};
  const char *name = curl_code_name(f->code);
  size_t i;
  lua_createtable(L, 0, 16);
  for (i = 0; i < sizeof flag / sizeof flag[0]; i++)
    if (flag[i]) error_setbool(L, flags[i], 1);
  for (i = 0; i < sizeof count / sizeof count[0]; i++)
    if (count[i]) error_setint(L, counts[i], count[i]);
  error_setstring(L, "request", request_names[f->request]);
  if (f->refused) { /* the refused URL came from a server, host name and all: the key may be in it */
    redact_push(L, f->key, f->refused, strlen(f->refused));
    lua_setfield(L, -2, "refused");
  }
  if (f->code != CURLE_OK) {
    const char *text = f->curl_message && f->curl_message[0] ? f->curl_message : curl_easy_strerror(f->code);
    if (name) error_setstring(L, "code", name);
    else error_setint(L, "code", (long long)f->code);
    redact_push(L, f->key, text, strlen(text));
    lua_setfield(L, -2, "text");
  }
  error_setint(L, "status", f->status);
  if (f->code == CURLE_OK && (f->status < 200 || f->status > 299) && f->body_len > 0) {
    if (decode_server_json(L, f)) lua_setfield(L, -2, "body"); /* an error's body, when it is JSON */
    else lua_pop(L, 1);
  }
  if (f->request == RESPONSE_STATUS) error_setstring(L, "url", f->url); /* ours: the API's 404 or another */
  if (f->io_errno) {
    char why[PLATFORM_STRERROR_SIZE];
    error_setstring(L, "io_code", error_errno_name(f->io_errno));
    error_setstring(L, "io_text", platform_strerror(f->io_errno, why, sizeof why));
  }
  error_setstring(L, "path", f->path);
  error_setstring(L, "target", f->target);
  error_setint(L, "sends", f->sends);
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

static void push_facts(lua_State *L, const response_facts *f);

/* A 2xx answer that is not what the API promises: false and the facts, with the reason. */
static int protocol_error(lua_State *L, const response_facts *f, const char *message) {
  lua_pushboolean(L, 0);
  push_facts(L, f);
  lua_pushstring(L, message);
  lua_setfield(L, -2, "protocol");
  return 2;
}

/* A 2xx answer from the API: true and a job (submit) or a status table (status). map: the stack
 * index of the model's response mapping, or 0. */
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
  lua_pushboolean(L, 1);
  lua_insert(L, st);
  if (f->request == RESPONSE_SUBMIT) return 2;
  st++;

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
  return 2;
}

int response_push(lua_State *L, const response_facts *f, int map) {
  if (!f->cancelled && !f->refused && f->code == CURLE_OK && !f->no_location && f->status >= 200 &&
      f->status <= 299) {
    if (f->request == RESPONSE_DOWNLOAD) return 0;
    return api_success(L, f, map);
  }
  lua_pushboolean(L, 0);
  push_facts(L, f);
  return 2;
}

/* core.answer(kind, status, body[, map[, key]]) --> what transfer:finish(map) returns for that
 * answer from a client holding key (a download's bytes: {bytes = n}): for the fuzzer and tests,
 * through aimlmusic.response. kind: "submit", "status" or "download". */
static int l_answer(lua_State *L) {
  response_facts f;
  size_t n;
  memset(&f, 0, sizeof f);
  f.sends = -1;
  f.request = (response_request)luaL_checkoption(L, 1, NULL, request_names);
  f.status = (long)luaL_checknumber(L, 2);
  f.body = luaL_optlstring(L, 3, "", &n);
  f.body_len = n;
  f.key = luaL_optstring(L, 5, NULL);
  lua_settop(L, 5);
  if (response_push(L, &f, lua_istable(L, 4) ? 4 : 0) == 0) {
    lua_pushboolean(L, 1);
    lua_createtable(L, 0, 1);
    lua_pushinteger(L, (lua_Integer)n);
    lua_setfield(L, -2, "bytes");
  }
  return 2;
}

const luaL_Reg response_functions[] = {{"answer", l_answer}, {NULL, NULL}};
