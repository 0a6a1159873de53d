/* aimlmusic.core: registers the pieces; each lives in its own file. */
#include <curl/curl.h>

#include "compat.h"
#include "engine.h"
#include "error.h"
#include "host.h"
#include "journal.h"
#include "json.h"
#include "request.h"
#include "response.h"
#include "validate.h"

#if defined(_WIN32)
#define AIMLMUSIC_EXPORT __declspec(dllexport)
#else
#define AIMLMUSIC_EXPORT __attribute__((visibility("default")))
#endif

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L);

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L) {
  /* Idempotent and thread-safe from libcurl 7.84 on; needed before any handle exists. */
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return luaL_error(L, "curl_global_init failed");
  json_open(L);
  lua_newtable(L);
  error_open(L);
  engine_open(L);
  request_open(L);
  validate_open(L);
  response_open(L);
  journal_open(L);
  host_open(L);
  lua_pushstring(L, curl_version());
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, "0.1.0");
  lua_setfield(L, -2, "version");
  return 1;
}
