/* schema: the model table's own vocabulary, checked once per entry, so a typo in
 * lua/aimlmusic/models.lua ("requierd") is an error at load, naming the model and the field.
 * Owns: the known keys and types, ranges that mean one thing per type, literals (enum values,
 * defaults) held to their own field's rules, core.check_models. Must not know: user parameters
 * (validate.c), HTTP, the engine. */
#include "schema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "field.h"

#define SCHEMA_CHECKED "aimlmusic.schema.checked"
#define SCHEMA_PATH_MAX 128

static const char *const field_types[] = {"string", "integer", "number", "boolean", "object", NULL};
static const char *const field_keys[] = {
    "name", "type", "doc", "required", "required_unless", "min_length", "max_length", "min",
    "max", "enum", "default", "alias", "wire", "fields", "format", "transform",
    "max_bytes", "duration", NULL};
static const char *const model_keys[] = {"fields", "response", "format", "doc", NULL};
static const char *const audio_formats[] = {"mp3", "wav", "pcm", NULL};
static const char *const st_reserved[] = {"id", "status", "url", "raw", "error", NULL};

/* Whatever raises here names where: "model table: stable-audio: field steps: ...". */
typedef struct {
  lua_State *L;
  const char *model;
  char path[SCHEMA_PATH_MAX];
} where;

static int in_list(const char *s, const char *const *list) {
  for (; *list; list++)
    if (strcmp(s, *list) == 0) return 1;
  return 0;
}

static int fail(where *w, const char *message) {
  if (w->path[0]) return luaL_error(w->L, "model table: %s: field %s: %s", w->model, w->path, message);
  return luaL_error(w->L, "model table: %s: %s", w->model, message);
}

/* The value of key k of the table at idx, pushed; returns its type. */
static int get(lua_State *L, int idx, const char *k) {
  lua_pushstring(L, k);
  lua_rawget(L, idx);
  return lua_type(L, -1);
}

static int is_whole(lua_Number x) {
  return x == x && x >= -9007199254740992.0 && x <= 9007199254740992.0 && x == floor(x);
}

/* A list: keys 1..n only, n >= 1 unless empty_ok. Returns n. */
static int check_list(where *w, int idx, const char *key, int empty_ok) {
  lua_State *L = w->L;
  int n = (int)lua_rawlen(L, idx), count = 0;
  lua_pushnil(L);
  while (lua_next(L, idx) != 0) {
    lua_Number k;
    lua_pop(L, 1);
    k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
    if (k < 1 || k > n || k != floor(k)) {
      lua_pop(L, 1);
      lua_pushfstring(L, "%s must be a list", key);
      return fail(w, lua_tostring(L, -1));
    }
    count++;
  }
  if (count == 0 && !empty_ok) {
    lua_pushfstring(L, "%s must not be empty", key);
    return fail(w, lua_tostring(L, -1));
  }
  return n;
}

/* Checks a literal (an enum value or the default) at vidx against the field's own rules. */
static void check_literal(where *w, int f, int vidx, const char *type, const char *what) {
  lua_State *L = w->L;
  lua_Number lo, hi;
  int has_lo, has_hi;
  if (strcmp(type, "string") == 0) {
    size_t n;
    const char *s;
    long len;
    if (lua_type(L, vidx) != LUA_TSTRING) goto wrong;
    s = lua_tolstring(L, vidx, &n);
    len = field_utf8_len((const unsigned char *)s, n, NULL);
    if (len < 0) goto wrong;
    has_lo = get(L, f, "min_length") == LUA_TNUMBER;
    lo = lua_tonumber(L, -1);
    has_hi = get(L, f, "max_length") == LUA_TNUMBER;
    hi = lua_tonumber(L, -1);
    lua_pop(L, 2);
    if ((has_lo && (lua_Number)len < lo) || (has_hi && (lua_Number)len > hi)) goto outside;
    return;
  }
  if (strcmp(type, "boolean") == 0) {
    if (lua_type(L, vidx) != LUA_TBOOLEAN) goto wrong;
    return;
  }
  if (strcmp(type, "object") == 0) {
    lua_pushfstring(L, "an object takes no %s", what);
    fail(w, lua_tostring(L, -1));
  }
  /* integer, number */
  if (lua_type(L, vidx) != LUA_TNUMBER) goto wrong;
  lo = lua_tonumber(L, vidx);
  if (lo != lo || lo == HUGE_VAL || lo == -HUGE_VAL) goto wrong;
  if (strcmp(type, "integer") == 0 && !is_whole(lo)) goto wrong;
  {
    lua_Number x = lo;
    has_lo = get(L, f, "min") == LUA_TNUMBER;
    lo = lua_tonumber(L, -1);
    has_hi = get(L, f, "max") == LUA_TNUMBER;
    hi = lua_tonumber(L, -1);
    lua_pop(L, 2);
    if ((has_lo && x < lo) || (has_hi && x > hi)) goto outside;
  }
  return;
wrong:
  lua_pushfstring(L, "%s must be a valid %s", what, type);
  fail(w, lua_tostring(L, -1));
  return;
outside:
  lua_pushfstring(L, "%s is outside the field's own limits", what);
  fail(w, lua_tostring(L, -1));
}

/* A bound: a finite number, a whole one where wanted. Returns 1 when present. */
static int check_bound(where *w, int f, const char *key, int whole, lua_Number *out) {
  lua_State *L = w->L;
  int t = get(L, f, key);
  lua_Number x;
  if (t == LUA_TNIL) {
    lua_pop(L, 1);
    return 0;
  }
  x = lua_tonumber(L, -1);
  lua_pop(L, 1);
  if (t != LUA_TNUMBER || x != x || x == HUGE_VAL || x == -HUGE_VAL || (whole && !is_whole(x))) {
    lua_pushfstring(L, "%s must be a %s", key, whole ? "whole number" : "finite number");
    fail(w, lua_tostring(L, -1));
  }
  *out = x;
  return 1;
}

static void check_fields(where *w, int list);

/* w->path = "prefix.name" (or "name" at the top), cut to fit. */
static void set_path(where *w, const char *prefix, size_t plen, const char *name) {
  size_t n = strlen(name), at = plen;
  memcpy(w->path, prefix, plen);
  if (plen && at < SCHEMA_PATH_MAX - 1) w->path[at++] = '.';
  if (n > SCHEMA_PATH_MAX - 1 - at) n = SCHEMA_PATH_MAX - 1 - at;
  memcpy(w->path + at, name, n);
  w->path[at + n] = '\0';
}

static void check_field(where *w, int f) {
  lua_State *L = w->L;
  char type[16];
  int is_string, is_numeric, t;
  lua_Number lo = 0, hi = 0;

  /* Every key must be known: a typo such as "requierd" must not silently do nothing. */
  lua_pushnil(L);
  while (lua_next(L, f) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !in_list(lua_tostring(L, -1), field_keys)) {
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
      lua_pushfstring(L, "unknown key \"%s\"", k);
      fail(w, lua_tostring(L, -1));
    }
  }

  if (get(L, f, "type") != LUA_TSTRING || !in_list(lua_tostring(L, -1), field_types)) {
    const char *got = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
    lua_pushfstring(L, "unknown type \"%s\" (string, integer, number, boolean or object)", got);
    fail(w, lua_tostring(L, -1));
  }
  snprintf(type, sizeof type, "%s", lua_tostring(L, -1));
  lua_pop(L, 1);
  is_string = strcmp(type, "string") == 0;
  is_numeric = strcmp(type, "integer") == 0 || strcmp(type, "number") == 0;

  t = get(L, f, "doc");
  if (t != LUA_TNIL && t != LUA_TSTRING) fail(w, "doc must be a string");
  t = get(L, f, "required");
  if (t != LUA_TNIL && t != LUA_TBOOLEAN) fail(w, "required must be true or false");
  lua_pop(L, 2);

  /* Lengths are for strings, value ranges for numbers: each word means one thing. */
  if (!is_string && (get(L, f, "min_length") != LUA_TNIL || get(L, f, "max_length") != LUA_TNIL)) {
    lua_pushfstring(L, "min_length/max_length apply to strings, not to a %s", type);
    fail(w, lua_tostring(L, -1));
  }
  if (!is_numeric && (get(L, f, "min") != LUA_TNIL || get(L, f, "max") != LUA_TNIL)) {
    lua_pushfstring(L, "min/max are value ranges of an integer or number, not of a %s%s", type,
                    is_string ? " (use min_length/max_length)" : "");
    fail(w, lua_tostring(L, -1));
  }
  lua_settop(L, f);
  if (is_string) {
    int a = check_bound(w, f, "min_length", 1, &lo), b = check_bound(w, f, "max_length", 1, &hi);
    if ((a && lo < 0) || (b && hi < 0)) fail(w, "a length cannot be negative");
    if (a && b && lo > hi) fail(w, "min_length is greater than max_length");
  }
  if (is_numeric) {
    int whole = strcmp(type, "integer") == 0;
    int a = check_bound(w, f, "min", whole, &lo), b = check_bound(w, f, "max", whole, &hi);
    if (a && b && lo > hi) fail(w, "min is greater than max");
  }

  t = get(L, f, "enum");
  if (t != LUA_TNIL) {
    int i, n, e = lua_gettop(L);
    if (t != LUA_TTABLE) fail(w, "enum must be a list");
    n = check_list(w, e, "enum", 0);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, e, i);
      check_literal(w, f, lua_gettop(L), type, "an enum value");
      lua_pop(L, 1);
    }
  }
  lua_settop(L, f);

  if (get(L, f, "default") != LUA_TNIL) {
    int d = lua_gettop(L), found = 1;
    check_literal(w, f, d, type, "the default");
    if (get(L, f, "enum") == LUA_TTABLE) {
      int i, n = (int)lua_rawlen(L, -1);
      found = 0;
      for (i = 1; i <= n && !found; i++) {
        lua_rawgeti(L, -1, i);
        found = lua_rawequal(L, -1, d);
        lua_pop(L, 1);
      }
    }
    if (!found) fail(w, "the default is not one of the enum values");
  }
  lua_settop(L, f);

  t = get(L, f, "alias");
  if (t != LUA_TNIL && (t != LUA_TSTRING || lua_rawlen(L, -1) == 0)) fail(w, "alias must be a name");
  lua_pop(L, 1);

  t = get(L, f, "wire");
  if (t != LUA_TNIL) {
    int i, n, list = lua_gettop(L);
    if (t != LUA_TTABLE) fail(w, "wire must be a list of names");
    n = check_list(w, list, "wire", 0);
    for (i = 1; i <= n; i++) {
      if (lua_rawgeti(L, list, i) != LUA_TSTRING || lua_rawlen(L, -1) == 0) fail(w, "wire must be a list of names");
      lua_pop(L, 1);
    }
  }
  lua_settop(L, f);

  t = get(L, f, "fields");
  if (strcmp(type, "object") == 0) {
    if (t != LUA_TTABLE) fail(w, "an object needs a fields list");
    check_fields(w, lua_gettop(L));
  } else if (t != LUA_TNIL) {
    lua_pushfstring(L, "fields belong to an object, not to a %s", type);
    fail(w, lua_tostring(L, -1));
  }
  lua_settop(L, f);

  t = get(L, f, "format");
  if (t != LUA_TNIL) {
    if (!is_string) fail(w, "format = \"url\" is for strings");
    if (t != LUA_TSTRING || strcmp(lua_tostring(L, -1), "url") != 0) fail(w, "format must be \"url\"");
  }
  lua_settop(L, f);
  t = get(L, f, "transform");
  if (t != LUA_TNIL) {
    if (!is_string) fail(w, "transform = \"data_uri\" is for strings");
    if (t != LUA_TSTRING || strcmp(lua_tostring(L, -1), "data_uri") != 0)
      fail(w, "transform must be \"data_uri\"");
    if (get(L, f, "format") != LUA_TNIL) fail(w, "transform = \"data_uri\" already accepts URLs: drop format");
  }
  lua_settop(L, f);
  if (get(L, f, "max_bytes") != LUA_TNIL) {
    if (get(L, f, "transform") == LUA_TNIL) fail(w, "max_bytes goes with transform = \"data_uri\"");
    if (check_bound(w, f, "max_bytes", 1, &hi) && hi < 1) fail(w, "max_bytes must be positive");
  }
  lua_settop(L, f);
  t = get(L, f, "duration");
  if (t != LUA_TNIL) {
    if (!is_numeric) fail(w, "duration is for an integer or number");
    if (t != LUA_TSTRING || (strcmp(lua_tostring(L, -1), "s") != 0 && strcmp(lua_tostring(L, -1), "ms") != 0))
      fail(w, "duration must be \"s\" or \"ms\"");
  }
  lua_settop(L, f);
}

/* Checks a fields list: each field, unique names and aliases, required_unless pointing at
 * boolean siblings. */
static void check_fields(where *w, int list) {
  lua_State *L = w->L;
  char saved[SCHEMA_PATH_MAX];
  size_t plen = strlen(w->path);
  int i, n, names, top = lua_gettop(L);
  memcpy(saved, w->path, plen + 1);
  n = check_list(w, list, "fields", 1);
  lua_newtable(L); /* name or alias -> the field's type */
  names = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    int f;
    memcpy(w->path, saved, plen + 1);
    if (lua_rawgeti(L, list, i) != LUA_TTABLE) {
      lua_pushfstring(L, "fields[%d] is not a table", i);
      fail(w, lua_tostring(L, -1));
    }
    f = lua_gettop(L);
    if (get(L, f, "name") != LUA_TSTRING || lua_rawlen(L, -1) == 0 || strchr(lua_tostring(L, -1), '.')) {
      lua_pushfstring(L, "fields[%d] has no name", i);
      fail(w, lua_tostring(L, -1));
    }
    set_path(w, saved, plen, lua_tostring(L, -1));
    lua_pop(L, 1);
    check_field(w, f); /* leaves f on top */
    get(L, f, "type");
    for (int k = 0; k < 2; k++) {
      if (get(L, f, k == 0 ? "name" : "alias") != LUA_TSTRING) {
        lua_pop(L, 1);
        continue;
      }
      lua_pushvalue(L, -1);
      lua_rawget(L, names);
      if (!lua_isnil(L, -1)) {
        lua_pushfstring(L, "the name \"%s\" is used twice", lua_tostring(L, -2));
        fail(w, lua_tostring(L, -1));
      }
      lua_pop(L, 1);
      lua_pushvalue(L, f + 1);
      lua_rawset(L, names); /* names[name or alias] = type */
    }
    lua_settop(L, names);
  }
  for (i = 1; i <= n; i++) {
    int f, t;
    lua_rawgeti(L, list, i);
    f = lua_gettop(L);
    get(L, f, "name");
    set_path(w, saved, plen, lua_tostring(L, -1));
    t = get(L, f, "required_unless");
    if (t != LUA_TNIL) {
      int k, m, ru = lua_gettop(L);
      if (t != LUA_TTABLE) fail(w, "required_unless must be a list of boolean fields");
      if (get(L, f, "required") == LUA_TBOOLEAN && lua_toboolean(L, -1))
        fail(w, "required and required_unless together");
      m = check_list(w, ru, "required_unless", 0);
      for (k = 1; k <= m; k++) {
        if (lua_rawgeti(L, ru, k) != LUA_TSTRING) fail(w, "required_unless must be a list of boolean fields");
        lua_rawget(L, names);
        if (lua_type(L, -1) != LUA_TSTRING || strcmp(lua_tostring(L, -1), "boolean") != 0) {
          lua_rawgeti(L, ru, k);
          lua_pushfstring(L, "required_unless names \"%s\", which is not a boolean field here", lua_tostring(L, -1));
          fail(w, lua_tostring(L, -1));
        }
        lua_pop(L, 1);
      }
    }
    lua_settop(L, names);
  }
  memcpy(w->path, saved, plen + 1);
  lua_settop(L, top);
}

static void check_model(lua_State *L, int entry, const char *name) {
  where w;
  int t;
  w.L = L;
  w.model = name;
  w.path[0] = '\0';
  entry = lua_absindex(L, entry);
  if (!lua_istable(L, entry)) fail(&w, "the entry is not a table");
  lua_pushnil(L);
  while (lua_next(L, entry) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING || !in_list(lua_tostring(L, -1), model_keys)) {
      const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
      lua_pushfstring(L, "unknown key \"%s\" (fields, response, format, doc)", k);
      fail(&w, lua_tostring(L, -1));
    }
  }
  if (get(L, entry, "fields") != LUA_TTABLE) fail(&w, "the entry has no fields list");
  check_fields(&w, lua_gettop(L));
  lua_pop(L, 1);
  t = get(L, entry, "doc");
  if (t != LUA_TNIL && t != LUA_TSTRING) fail(&w, "doc must be a string");
  lua_pop(L, 1);
  t = get(L, entry, "format");
  if (t != LUA_TNIL && (t != LUA_TSTRING || !in_list(lua_tostring(L, -1), audio_formats)))
    fail(&w, "format must be mp3, wav or pcm");
  lua_pop(L, 1);
  t = get(L, entry, "response");
  if (t != LUA_TNIL) {
    int i, n, list = lua_gettop(L);
    if (t != LUA_TTABLE) fail(&w, "response must be a list of {from =, to =}");
    n = check_list(&w, list, "response", 1);
    for (i = 1; i <= n; i++) {
      int m;
      lua_rawgeti(L, list, i);
      m = lua_gettop(L);
      if (!lua_istable(L, m)) fail(&w, "response must be a list of {from =, to =}");
      lua_pushnil(L);
      while (lua_next(L, m) != 0) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING ||
            (strcmp(lua_tostring(L, -1), "from") != 0 && strcmp(lua_tostring(L, -1), "to") != 0)) {
          lua_pushfstring(L, "response[%d] has an unknown key (from, to)", i);
          fail(&w, lua_tostring(L, -1));
        }
      }
      if (get(L, m, "from") != LUA_TSTRING || lua_rawlen(L, -1) == 0 || get(L, m, "to") != LUA_TSTRING ||
          lua_rawlen(L, -1) == 0) {
        lua_pushfstring(L, "response[%d] needs from and to, both names", i);
        fail(&w, lua_tostring(L, -1));
      }
      if (in_list(lua_tostring(L, -1), st_reserved)) {
        lua_pushfstring(L, "response[%d] cannot set st.%s", i, lua_tostring(L, -1));
        fail(&w, lua_tostring(L, -1));
      }
      lua_settop(L, list);
    }
  }
  lua_pop(L, 1);
}

void schema_ensure(lua_State *L, int idx, const char *name) {
  idx = lua_absindex(L, idx);
  lua_getfield(L, LUA_REGISTRYINDEX, SCHEMA_CHECKED);
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, SCHEMA_CHECKED);
  }
  lua_pushvalue(L, idx);
  lua_rawget(L, -2);
  if (lua_toboolean(L, -1)) {
    lua_pop(L, 2);
    return;
  }
  lua_pop(L, 1);
  check_model(L, idx, name);
  lua_pushvalue(L, idx);
  lua_pushboolean(L, 1);
  lua_rawset(L, -3);
  lua_pop(L, 1);
}

/* core.check_models(models) --> models; raises naming the first model and field at fault. */
static int l_check_models(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_pushnil(L);
  while (lua_next(L, 1) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) return luaL_error(L, "model table: a model name is not a string");
    schema_ensure(L, -1, lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  return 1;
}

void schema_open(lua_State *L) {
  lua_pushcfunction(L, l_check_models);
  lua_setfield(L, -2, "check_models");
}
