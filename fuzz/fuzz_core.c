/* libFuzzer harness: arbitrary bytes through the classifier and the validator (C under Lua),
 * inside a real Lua state. Neither may crash, leak or raise a Lua error
 * (an error from these functions would mean a bad body can break a user's program).
 *
 * Input: byte 0 picks the target.
 *   even: aimlmusic.response's classify(kind, status, body, map) (core.answer, the decoder and
 *         the key search under it): byte 1 picks the kind, byte 2 the HTTP
 *         status, the rest is the body; map is every model's response mapping.
 *   odd:  aimlmusic.validate's validate and encode (with the core's utf8_len, datauri_check and
 *         json_encode under them) of a table built from the rest: fields separated by
 *         0xff bytes give model (byte 1 picks one of every model), prompt, lyrics, format,
 *         sample_rate, bitrate, the other models' fields (booleans, ranges, a URL or audio
 *         file), and an extra key. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

int luaopen_aimlmusic_core(lua_State *L);
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The harness's own state (the module keeps none). */
static lua_State *fuzz_L;

static void check(lua_State *L, int rc) {
  if (rc != LUA_OK) {
    fprintf(stderr, "Lua error: %s\n", lua_tostring(L, -1));
    abort();
  }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  lua_State *L = luaL_newstate();
  (void)argc;
  (void)argv;
  luaL_openlibs(L);
  check(L, luaL_dostring(L, "package.path = './lua/?.lua;' .. package.path"));
  luaL_requiref(L, "aimlmusic.core", luaopen_aimlmusic_core, 0);
  lua_setglobal(L, "core");
  check(L, luaL_dostring(L,
                         "models = require('aimlmusic.schema').check_models(require 'aimlmusic.models')\n"
                         "validate = require 'aimlmusic.validate'\n"
                         "response = require 'aimlmusic.response'\n"
                         "map = {} for _, m in pairs(models) do\n"
                         "  for _, r in ipairs(m.response or {}) do map[#map + 1] = r end end"));
  fuzz_L = L;
  return 0;
}

static const char *const model_names[] = {"minimax/music-2.0", "minimax/music-1.5", "minimax/music-2.6",
                                          "minimax/music-cover", "google/lyria2", "stable-audio",
                                          "elevenlabs/eleven_music", "minimax-music"};
static const long statuses[] = {200, 201, 204, 299, 400, 401, 402, 403, 404, 408, 422, 429, 500, 502, 503, 504, 302, 418};
static const char *const kinds[] = {"submit", "status", "download"};

static void push_piece(lua_State *L, const uint8_t **p, const uint8_t *end) {
  const uint8_t *q = *p;
  while (q < end && *q != 0xff) q++;
  lua_pushlstring(L, (const char *)*p, (size_t)(q - *p));
  *p = q < end ? q + 1 : q;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  lua_State *L = fuzz_L;
  if (size < 3) return 0;
  lua_settop(L, 0);
  if ((data[0] & 1) == 0) {
    lua_getglobal(L, "response");
    lua_getfield(L, -1, "classify");
    lua_pushstring(L, kinds[data[1] % 3]);
    lua_pushinteger(L, statuses[data[2] % (sizeof statuses / sizeof statuses[0])]);
    lua_pushlstring(L, (const char *)data + 3, size - 3);
    lua_getglobal(L, "map"); /* every model's response mapping */
    check(L, lua_pcall(L, 4, 2, 0));
    /* The error side must print. */
    if (lua_istable(L, -1)) {
      lua_getglobal(L, "tostring");
      lua_pushvalue(L, -2);
      check(L, lua_pcall(L, 1, 1, 0));
    }
  } else {
    const uint8_t *p = data + 1, *end = data + size;
    int fn;
    for (fn = 0; fn < 2; fn++) {
      lua_settop(L, 0);
      lua_getglobal(L, "validate");
      lua_getfield(L, -1, fn ? "encode" : "validate");
      lua_newtable(L);
      p = data + 1;
      push_piece(L, &p, end);
      if (data[1] & 1) {
        lua_pop(L, 1);
        lua_pushstring(L, model_names[(data[1] >> 1) % (sizeof model_names / sizeof model_names[0])]);
      }
      lua_setfield(L, -2, "model");
      push_piece(L, &p, end);
      lua_setfield(L, -2, "prompt");
      push_piece(L, &p, end);
      lua_setfield(L, -2, "lyrics");
      if (data[2] & 1) {
        lua_newtable(L);
        push_piece(L, &p, end);
        lua_setfield(L, -2, "format");
        if (p < end) lua_pushinteger(L, (lua_Integer)p[0] * 4000);
        else lua_pushnumber(L, 44100.5);
        lua_setfield(L, -2, (data[2] & 2) ? "sample_rate" : "audio_sample_rate");
        push_piece(L, &p, end);
        lua_setfield(L, -2, "bitrate");
        lua_setfield(L, -2, "audio_setting");
      }
      if (data[2] & 8) { /* the other models' fields: booleans, ranges, URLs */
        lua_pushboolean(L, data[2] & 16);
        lua_setfield(L, -2, (data[2] & 32) ? "is_instrumental" : "lyrics_optimizer");
        if (p < end) lua_pushinteger(L, (lua_Integer)p[0] * ((data[2] & 64) ? 4000 : 1) - 1);
        else lua_pushnumber(L, 0.0 / 0.0);
        lua_setfield(L, -2, (data[2] & 64) ? "music_length_ms" : "steps");
        push_piece(L, &p, end);
        lua_setfield(L, -2, (data[2] & 128) ? "reference_audio_url" : "negative_prompt");
      }
      if (data[2] & 4) {
        push_piece(L, &p, end);
        lua_pushboolean(L, 1);
        lua_settable(L, -3);
      }
      lua_getglobal(L, "models");
      check(L, lua_pcall(L, 2, 2, 0));
      if (lua_istable(L, -1)) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, -2);
        check(L, lua_pcall(L, 1, 1, 0));
      }
    }
  }
  lua_settop(L, 0);
  return 0;
}
