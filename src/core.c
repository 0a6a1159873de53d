/* core: aimlmusic.core, the module table. Owns: registering the pieces, each in its own file,
 * and the classes of the request path (engine, transfer, session), from the luaL_Reg lists and
 * close/tostring functions their files hand it. A type whose methods come from several files
 * (the transfer's, then commit.c's finish) is composed here, so no lower file calls a higher
 * one. The shared layer and work.c register their functions through their *_open. Must not
 * know: what any piece does. Nothing calls core.c. */
#include <curl/curl.h>
#include <stdio.h>

#include "class.h"
#include "commit.h"
#include "drive.h"
#include "engine.h"
#include "error.h"
#include "host.h"
#include "json.h"
#include "output.h"
#include "response.h"
#include "session.h"
#include "transfer.h"
#include "utf8.h"
#include "work.h"
#include "platform.h"

#if defined(_WIN32)
#define AIMLMUSIC_EXPORT __declspec(dllexport)
#else
#define AIMLMUSIC_EXPORT __attribute__((visibility("default")))
#endif

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L);

/* Once per process, whichever Lua state (LÖVE thread, say) loads the module first: libcurl's
 * global set-up, and curl_version(), which writes a static buffer and so must not run in two
 * threads at once. */
static platform_once core_once = PLATFORM_ONCE_INIT;
static int core_ready;
static char core_curl_version[256];

static void core_init_once(void) {
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return;
  snprintf(core_curl_version, sizeof core_curl_version, "%s", curl_version());
  transfer_init_once();
  core_ready = 1;
}

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L) {
  platform_once_run(&core_once, core_init_once);
  if (!core_ready) return luaL_error(L, "curl_global_init failed");
  lua_newtable(L);
  error_open(L);
  class_define(L, ENGINE_MT, drive_methods, engine_close, engine_tostring);
  class_define(L, TRANSFER_MT, transfer_methods, transfer_close, transfer_tostring);
  class_add_methods(L, TRANSFER_MT, commit_methods); /* finish: from above the transfer */
  class_define(L, SESSION_MT, session_methods, session_close, session_tostring);
  luaL_setfuncs(L, engine_functions, 0);
  luaL_setfuncs(L, session_functions, 0);
  luaL_setfuncs(L, response_functions, 0);
  json_register(L);
  utf8_open(L);
  host_open(L);
  output_open(L);
  work_open(L); /* the file work above, on the engine's workers */
  lua_pushstring(L, core_curl_version);
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, "0.2.0");
  lua_setfield(L, -2, "version");
  return 1;
}
