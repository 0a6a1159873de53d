/* aimlmusic.core: registers the pieces; each lives in its own file.
 *
 * DESIGN. core.c is the only file that makes classes and fills the module table: each file
 * below hands it luaL_Reg lists, and a type whose methods come from several files (the
 * transfer: its own, then commit.c's commit and finish) is composed here, the way luv.c adds
 * the shared handle methods after a type's own. Nothing calls core.c. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>

#include "compat.h"
#include "commit.h"
#include "drive.h"
#include "engine.h"
#include "error.h"
#include "host.h"
#include "journal.h"
#include "json.h"
#include "output.h"
#include "response.h"
#include "session.h"
#include "transfer.h"
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

/* A class: metatable name with meta's entries, and __index a table of the methods of every
 * list in methods (NULL-ended), later lists after earlier ones. */
static void core_class(lua_State *L, const char *name, const luaL_Reg *meta, const luaL_Reg *const *methods) {
  luaL_newmetatable(L, name);
  luaL_setfuncs(L, meta, 0);
  lua_newtable(L);
  for (; *methods; methods++) luaL_setfuncs(L, *methods, 0);
  lua_setfield(L, -2, "__index");
  lua_pushstring(L, name);
  lua_setfield(L, -2, "__name");
  lua_pop(L, 1);
}

AIMLMUSIC_EXPORT int luaopen_aimlmusic_core(lua_State *L) {
  static const luaL_Reg *const engine_lists[] = {drive_methods, NULL};
  static const luaL_Reg *const transfer_lists[] = {transfer_methods, commit_methods, NULL};
  static const luaL_Reg *const session_lists[] = {session_methods, NULL};
  pthread_once(&core_once, core_init_once);
  if (!core_ready) return luaL_error(L, "curl_global_init failed");
  json_open(L);
  lua_newtable(L);
  error_open(L);
  core_class(L, ENGINE_MT, engine_meta, engine_lists);
  core_class(L, TRANSFER_MT, transfer_meta, transfer_lists);
  core_class(L, SESSION_MT, session_meta, session_lists);
  luaL_setfuncs(L, engine_functions, 0);
  luaL_setfuncs(L, transfer_functions, 0);
  luaL_setfuncs(L, session_functions, 0);
  luaL_setfuncs(L, response_functions, 0);
  validate_open(L);
  journal_open(L);
  host_open(L);
  output_open(L);
  lua_pushstring(L, core_curl_version);
  lua_setfield(L, -2, "curl_version");
  lua_pushliteral(L, "0.2.0");
  lua_setfield(L, -2, "version");
  return 1;
}
