/* aimlmusic.core: registers the pieces; each lives in its own file. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>

#include "compat.h"
#include "engine.h"
#include "error.h"
#include "host.h"
#include "journal.h"
#include "json.h"
#include "output.h"
#include "request.h"
#include "response.h"
#include "validate.h"

#if defined(_WIN32)
#define AIMLMUSIC_EXPORT __declspec(dllexport)
#else
#define AIMLMUSIC_EXPORT __attribute__((visibility("default")))
#endif

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L);

/* Once per process, whichever Lua state (LÖVE thread, say) loads the module first: libcurl's
 * global set-up, and curl_version(), which writes a static buffer and so must not run in two
 * threads at once. */
static pthread_once_t core_once = PTHREAD_ONCE_INIT;
static int core_ready;
static char core_curl_version[256];

static void core_init_once(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return;
  snprintf(core_curl_version, sizeof core_curl_version, "%s", curl_version());
  core_ready = 1;
}

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L) {
  pthread_once(&core_once, core_init_once);
  if (!core_ready) return luaL_error(L, "curl_global_init failed");
  json_open(L);
  lua_newtable(L);
  error_open(L);
  engine_open(L);
  request_open(L);
  validate_open(L);
  response_open(L);
  journal_open(L);
  host_open(L);
  output_open(L);
  lua_pushstring(L, core_curl_version);
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, "0.2.0");
  lua_setfield(L, -2, "version");
  return 1;
}
