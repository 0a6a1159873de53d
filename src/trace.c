/* trace: what a transfer can tell while it runs, transfer:trace(), for the events of the Lua
 * layer. Owns: reading a transfer's facts for a log line: the HTTP status so far, the redirects
 * followed, the host it talks to now (the host only: never a path, query or user name) and
 * whether it stalled. It reads; it changes nothing. Must not know: what a response means
 * (response.c), anything about retries (lua/aimlmusic/retry.lua). */
#include "trace.h"

#include <curl/curl.h>

#include "error.h"
#include "url.h"

static int trace_l(lua_State *L) {
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

const luaL_Reg trace_methods[] = {{"trace", trace_l}, {NULL, NULL}};
