/* response: what a finished request's answer says. Owns: the answer's body decoded with the key
 * searched out of every string in it, once, before anything else sees it; a 2xx answer made a
 * job or a status table (the hot path, in C: its fields read in one walk over the text, the
 * response mapping of models.lua applied, raw decoded when first read unless the text may hold
 * the key); anything else as a facts table (libcurl's code and words, redacted likewise, the
 * status, an error body) for lua/aimlmusic/response.lua to make the error of; core.answer, the
 * same from given pieces. Must not know: transfers, files, sessions or the engine, what an
 * error's kind is or whether it may be retried. */
#include "response.h"

#include <string.h>

#include "error.h"
#include "json.h"
#include "platform.h"
#include "redact.h"

static const char *const request_names[] = {"submit", "status", "download", NULL};

/* Decodes the body a server sent, as json_decode, with every string in it (keys and values at
 * any depth) redacted once: escapes resolved, so a key hidden as \u0041... is caught too. */
static int decode_server_json(lua_State *L, const response_facts *f) {
  int ok = json_decode(L, f->body, f->body_len);
  /* A decoder's message is not a piece of the body: it is searched on its own. */
  if (ok) redact_decoded(L, f->key, -1, f->body, f->body_len);
  else redact_value(L, f->key, -1);
  return ok;
}

/* The name of a code lua/aimlmusic/response.lua or a caller may tell apart (err.code), or NULL. */
static const char *curl_code_name(CURLcode c) {
#define C(name) \
  { CURLE_##name, #name }
  static const struct {
    CURLcode code;
    const char *name;
  } names[] = {C(UNSUPPORTED_PROTOCOL), C(URL_MALFORMAT), C(COULDNT_RESOLVE_PROXY), C(COULDNT_RESOLVE_HOST),
               C(COULDNT_CONNECT), C(PARTIAL_FILE), C(WRITE_ERROR), C(OPERATION_TIMEDOUT), C(GOT_NOTHING),
               C(SSL_CONNECT_ERROR), C(TOO_MANY_REDIRECTS), C(SEND_ERROR), C(RECV_ERROR), C(HTTP2),
               C(HTTP2_STREAM), C(PEER_FAILED_VERIFICATION), C(SSL_CACERT_BADFILE), C(SSL_CERTPROBLEM),
               C(OUT_OF_MEMORY), C(ABORTED_BY_CALLBACK), C(RANGE_ERROR), C(FILESIZE_EXCEEDED)};
#undef C
  size_t i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (names[i].code == c) return names[i].name;
  return NULL;
}

/* The facts table of a request that did not end in a usable answer. */
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

/* False and the facts; protocol: why a 2xx answer is not what the API promises, or NULL. */
static int failed(lua_State *L, const response_facts *f, const char *protocol) {
  lua_pushboolean(L, 0);
  push_facts(L, f);
  error_setstring(L, "protocol", protocol);
  return 2;
}

/* What a 2xx answer's table is made of: these paths, then the model's response mapping's. */
enum { P_ID,
       P_STATUS,
       P_AUDIO,
       P_URL,
       P_CREDITS,
       P_TRACE,
       P_ERROR,
       P_ERROR_NAME,
       P_ERROR_MESSAGE,
       P_FIXED };
static const char *const fixed_paths[P_FIXED] = {
    "id", "status", "audio_file", "audio_file.url", "meta.usage.credits_used", "trace_id", "error", "error.name",
    "error.message"};

/* Pushes the string or number at v and returns 1 when it has the type wanted (LUA_TNONE: either
 * one), else returns 0. A string has the key searched out of it unless the whole text is clean. */
static int push_field(lua_State *L, const response_facts *f, const json_span *v, int want, int clean) {
  int type = v->type == '"' ? LUA_TSTRING : v->type == '0' ? LUA_TNUMBER
                                                           : LUA_TNIL;
  if (type == LUA_TNIL || (want != LUA_TNONE && type != want)) return 0;
  json_push_span(L, v);
  if (type == LUA_TSTRING && !clean) redact_value(L, f->key, -1);
  return 1;
}

static const char lazy_key = 'R'; /* registry[&lazy_key]: the metatable of tables with a lazy raw */

/* st.raw made when first read (st's __index), from the text the shared metatable keeps for st
 * (weakly: it goes with st), and kept in st. Only a clean text waits so: what the decoder makes
 * of it needs no search for the key. */
static int lazy_raw(lua_State *L) {
  size_t n;
  const char *text;
  if (lua_type(L, 2) != LUA_TSTRING || strcmp(lua_tostring(L, 2), "raw") != 0 || !lua_getmetatable(L, 1)) return 0;
  lua_rawgeti(L, -1, 1); /* the texts */
  lua_pushvalue(L, 1);
  lua_rawget(L, -2);
  if ((text = lua_tolstring(L, -1, &n)) == NULL || !json_decode(L, text, n)) return 0;
  lua_pushliteral(L, "raw");
  lua_pushvalue(L, -2);
  lua_rawset(L, 1);
  lua_pushvalue(L, 1);
  lua_pushnil(L);
  lua_rawset(L, -5); /* the text is done with */
  return 1;
}

/* Gives st a raw decoded from text when first read (lazy_raw). One metatable serves every such
 * table, made on first use: a table per answer cost more than the rest of its making. */
static void lazy_set(lua_State *L, int st, const char *text, size_t n) {
  lua_pushlightuserdata(L, (void *)&lazy_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_createtable(L, 1, 1);
    lua_pushcfunction(L, lazy_raw);
    lua_setfield(L, -2, "__index");
    lua_newtable(L); /* the texts, by table: weak keys */
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pushlightuserdata(L, (void *)&lazy_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_rawgeti(L, -1, 1);
  lua_pushvalue(L, st);
  lua_pushlstring(L, text, n);
  lua_rawset(L, -3);
  lua_pop(L, 1);
  lua_setmetatable(L, st);
}

/* A 2xx answer from the API: true and a job (submit) or a status table (status). The fields come
 * from one walk over the text (json_pick), st.raw from the decoder (when first read if the text
 * is clean of the key). map: as response_push's. */
static int api_success(lua_State *L, const response_facts *f, int map) {
  const char *paths[JSON_PICK_MAX], *status;
  json_span v[JSON_PICK_MAX];
  int n = f->request == RESPONSE_SUBMIT ? 2 : P_FIXED, base = lua_gettop(L), st, i, clean, type;
  if (f->body_len == 0) return failed(L, f, "empty response body");
  memcpy(paths, fixed_paths, sizeof paths[0] * (size_t)n);
  /* The mapping, flat (response.flat: "extra_info.music_duration", "duration_ms", ...): each from
   * a path, its to at base + 2 * (path - P_FIXED) + 2. schema.lua allows 20, so all of them fit. */
  luaL_checkstack(L, 2 * JSON_PICK_MAX + 8, "reading a response");
  for (i = 1; map && f->request == RESPONSE_STATUS && i < (int)lua_rawlen(L, map) && n < JSON_PICK_MAX; i += 2) {
    if (lua_rawgeti(L, map, i) == LUA_TSTRING && lua_rawgeti(L, map, i + 1) == LUA_TSTRING)
      paths[n++] = lua_tostring(L, -2);
    else
      lua_settop(L, base + 2 * (n - P_FIXED));
  }
  if ((type = json_pick(L, f->body, f->body_len, paths, n, v)) == 0) {
    if (decode_server_json(L, f)) lua_pushliteral(L, "response is not JSON");
    else lua_pushfstring(L, "response is not JSON: %s", lua_tostring(L, -1));
    return failed(L, f, lua_tostring(L, -1));
  }
  if (type != '{' && type != '[') return failed(L, f, "response is not a JSON object");
  clean = redact_clean_json(L, f->key, f->body, f->body_len);
  /* A job: id, status, raw and the model the client adds; a status: up to a dozen fields. */
  lua_createtable(L, 0, f->request == RESPONSE_SUBMIT ? 4 : 12);
  st = lua_gettop(L);
  if (!push_field(L, f, &v[P_ID], LUA_TSTRING, clean)) return failed(L, f, "response has no string id");
  lua_setfield(L, st, "id");
  if (!push_field(L, f, &v[P_STATUS], LUA_TSTRING, clean))
    return failed(L, f, "response has no string status");
  status = lua_tostring(L, -1);
  lua_setfield(L, st, "status"); /* status stays alive in st */
  if (clean) {
    lazy_set(L, st, f->body, f->body_len);
  } else {
    decode_server_json(L, f);
    lua_setfield(L, st, "raw");
  }
  if (f->request == RESPONSE_STATUS) {
    switch (v[P_AUDIO].type) {
      case '{':
      case '[': /* an array: a table without a url, as the decoder makes it */
        if (push_field(L, f, &v[P_URL], LUA_TSTRING, clean)) {
          const char *u = lua_tostring(L, -1);
          if (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0)
            return failed(L, f, "audio_file.url is not an http(s) URL");
          lua_setfield(L, st, "url");
        } else if (v[P_URL].type != 0 && v[P_URL].type != 'n') {
          return failed(L, f, "audio_file.url is not a string");
        }
        break;
      case 0:
      case 'n': break;
      default: return failed(L, f, "audio_file is not an object");
    }
    if (v[P_URL].type != '"' && strcmp(status, "completed") == 0)
      return failed(L, f, "job completed without audio_file.url");
    for (i = P_FIXED; i < n; i++) {
      if (!push_field(L, f, &v[i], LUA_TNONE, clean)) continue;
      lua_pushvalue(L, base + 2 * (i - P_FIXED) + 2);
      lua_insert(L, -2);
      lua_rawset(L, st);
    }
    if (push_field(L, f, &v[P_CREDITS], LUA_TNUMBER, clean)) lua_setfield(L, st, "credits_used");
    if (push_field(L, f, &v[P_TRACE], LUA_TSTRING, clean)) lua_setfield(L, st, "trace_id");
    if (v[P_ERROR].type == '{' || v[P_ERROR].type == '[') {
      lua_createtable(L, 0, 2);
      if (push_field(L, f, &v[P_ERROR_NAME], LUA_TSTRING, clean)) lua_setfield(L, -2, "name");
      if (push_field(L, f, &v[P_ERROR_MESSAGE], LUA_TSTRING, clean)) lua_setfield(L, -2, "message");
      lua_setfield(L, st, "error");
    }
  }
  lua_pushboolean(L, 1);
  lua_pushvalue(L, st);
  return 2;
}

int response_push(lua_State *L, const response_facts *f, int map) {
  if (!f->cancelled && !f->refused && f->code == CURLE_OK && !f->no_location && f->status >= 200 &&
      f->status <= 299) {
    if (f->request == RESPONSE_DOWNLOAD) return 0;
    return api_success(L, f, map);
  }
  return failed(L, f, NULL);
}

/* core.answer(kind, status, body[, map[, key]]) --> what transfer:finish(map) returns for that
 * answer from a client holding key (a download's: {bytes = n}); kind: "submit", "status" or
 * "download". */
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
    error_setint(L, "bytes", (long long)n);
  }
  return 2;
}

const luaL_Reg response_functions[] = {{"answer", l_answer}, {NULL, NULL}};
