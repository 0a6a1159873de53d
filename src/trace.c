/* trace: what a transfer can tell while it runs, transfer:trace(), for the events of the Lua
 * layer. Owns: reading a transfer's facts for a log line: the HTTP status so far, the redirects
 * followed, the host it talks to now (the host only: never a path, query or user name) and
 * whether it stalled. It reads; it changes nothing. Must not know: what a response means
 * (response.c), anything about retries (lua/aimlmusic/retry.lua). */
#include "trace.h"

#include <curl/curl.h>

#include "url.h"

/* The host of the URL the transfer talks to now (or last did), pushed, or nil. */
static void trace_push_host(lua_State *L, const char *url) {
  char *host = url ? url_host(url) : NULL;
  if (host) lua_pushstring(L, host);
  else lua_pushnil(L);
  curl_free(host);
}

/* transfer:trace() --> {status?, redirects, host?, stalled} (status and host once known,
 * finished or not). */
static int trace_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  long code;
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, t->redirects);
  lua_setfield(L, -2, "redirects");
  lua_pushboolean(L, t->stalled);
  lua_setfield(L, -2, "stalled");
  code = transfer_status(t);
  if (code > 0) {
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "status");
  }
  trace_push_host(L, transfer_url(t));
  lua_setfield(L, -2, "host");
  return 1;
}

const luaL_Reg trace_methods[] = {{"trace", trace_l}, {NULL, NULL}};
