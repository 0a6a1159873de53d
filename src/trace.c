/* trace: what a transfer can tell while it runs, transfer:trace(), for the events of the Lua
 * layer. Owns: reading a transfer's facts for a log line: the HTTP status so far, the redirects
 * followed, the host it talks to now (the host only: never a path, query or user name) and
 * whether it stalled. It reads; it changes nothing. Must not know: what a response means
 * (response.c), anything about retries (lua/aimlmusic/retry.lua). */
#include "trace.h"

#include <curl/curl.h>

#include "url.h"

/* transfer:trace() --> {status?, redirects, host?, stalled} (status and host once known,
 * finished or not; host: of the URL it talks to now, or last did). */
static int trace_l(lua_State *L) {
  transfer *t = transfer_check(L, 1);
  const char *url = transfer_url(t);
  char *host = url ? url_host(url) : NULL;
  long code = transfer_status(t);
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, t->redirects);
  lua_setfield(L, -2, "redirects");
  lua_pushboolean(L, t->stalled);
  lua_setfield(L, -2, "stalled");
  if (code > 0) {
    lua_pushinteger(L, code);
    lua_setfield(L, -2, "status");
  }
  if (host) {
    lua_pushstring(L, host);
    lua_setfield(L, -2, "host");
  }
  curl_free(host);
  return 1;
}

const luaL_Reg trace_methods[] = {{"trace", trace_l}, {NULL, NULL}};
