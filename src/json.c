/* json: the module's private lua-cjson instance. Owns: finding cjson (or Neovim's vim.json),
 * its settings (depth limit, invalid numbers refused), decode, encode and null. Must not know:
 * what the JSON means (response.c, validate.c do). */
#include "json.h"

/* Registry keys: addresses are unique per process, the values are per Lua state. */
static const char json_decode_key = 'd';
static const char json_encode_key = 'e';
static const char json_null_key = 'n';

/* Pushes lua-cjson's module: require "cjson" or, where it cannot be required (inside Neovim
 * with no lua-cjson installed), Neovim's built-in vim.json, which is lua-cjson itself with the
 * same new(), setters and null. Raises require's error when neither is there. */
static void json_push_module(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson");
  if (lua_pcall(L, 1, 1, 0) == 0) return;
  lua_getglobal(L, "vim");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "json");
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "new");
      if (lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        lua_replace(L, -3); /* the module, over require's message */
        lua_pop(L, 1);      /* vim */
        return;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_error(L); /* require's own message: where it looked */
}

static void json_call_setter(lua_State *L, int inst, const char *name, int arg) {
  lua_getfield(L, inst, name);
  if (lua_isfunction(L, -1)) {
    lua_pushinteger(L, arg);
    lua_call(L, 1, 0);
  } else {
    lua_pop(L, 1);
  }
}

void json_open(lua_State *L) {
  int inst;
  json_push_module(L);
  lua_getfield(L, -1, "new");
  lua_call(L, 0, 1);
  inst = lua_gettop(L);
  json_call_setter(L, inst, "decode_max_depth", JSON_MAX_DEPTH);
  json_call_setter(L, inst, "encode_max_depth", JSON_MAX_DEPTH);
  lua_getfield(L, inst, "decode_invalid_numbers");
  lua_pushboolean(L, 0);
  lua_call(L, 1, 0);
  lua_getfield(L, inst, "encode_invalid_numbers");
  lua_pushboolean(L, 0);
  lua_call(L, 1, 0);
  lua_pushlightuserdata(L, (void *)&json_decode_key);
  lua_getfield(L, inst, "decode");
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, (void *)&json_encode_key);
  lua_getfield(L, inst, "encode");
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pushlightuserdata(L, (void *)&json_null_key);
  lua_getfield(L, inst, "null");
  lua_rawset(L, LUA_REGISTRYINDEX);
  lua_pop(L, 2); /* instance, module */
}

static int json_call(lua_State *L, const void *key) {
  lua_pushlightuserdata(L, (void *)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_insert(L, -2);
  return lua_pcall(L, 1, 1, 0) == 0;
}

int json_decode(lua_State *L, const char *s, size_t n) {
  lua_pushlstring(L, s, n);
  return json_call(L, &json_decode_key);
}

int json_encode(lua_State *L, int idx) {
  lua_pushvalue(L, idx);
  return json_call(L, &json_encode_key);
}

int json_isnull(lua_State *L, int idx) {
  /* lua-cjson's null is a light userdata holding NULL; Neovim's is vim.NIL. */
  int is;
  if (lua_type(L, idx) != LUA_TUSERDATA && lua_type(L, idx) != LUA_TLIGHTUSERDATA) return 0;
  idx = lua_absindex(L, idx);
  lua_pushlightuserdata(L, (void *)&json_null_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  is = lua_rawequal(L, idx, -1);
  lua_pop(L, 1);
  return is;
}
