/* validate: parameters checked against the model table (lua/aimlmusic/models.lua), every
 * problem reported, and the JSON body built from them.
 * Owns: the walk over a model's fields (aliases, required and required_unless, defaults,
 * nested objects, unknown keys), the list of problems, the validation error, core.validate,
 * core.encode and core.utf8_len. Must not know: how one value is checked (field.c), the model
 * table's own vocabulary (schema.c), HTTP. */
#include "validate.h"

#include <string.h>

#include "error.h"
#include "field.h"
#include "json.h"
#include "schema.h"

#define VALIDATE_PATH_MAX 128
#define VALIDATE_UNKNOWN_MAX 32

typedef struct {
  lua_State *L;
  int problems; /* stack index of the {field=, message=} list */
  int count;
} vstate;

/* Records one problem; the message is on the top of the stack and is consumed. */
static void problem(vstate *v, const char *path) {
  lua_State *L = v->L;
  if (v->count == 0) { /* the list, made with the first problem: most parameters have none */
    lua_newtable(L);
    lua_replace(L, v->problems);
  }
  lua_createtable(L, 0, 2);
  lua_pushstring(L, path);
  lua_setfield(L, -2, "field");
  lua_insert(L, -2);
  lua_setfield(L, -2, "message");
  lua_rawseti(L, v->problems, ++v->count);
}

static void join_path(char *out, const char *prefix, const char *name) {
  size_t p = strlen(prefix), n = strlen(name);
  if (p + n + 1 > VALIDATE_PATH_MAX) n = VALIDATE_PATH_MAX - 1 - (p < VALIDATE_PATH_MAX ? p : 0);
  if (p >= VALIDATE_PATH_MAX) p = VALIDATE_PATH_MAX - 1, n = 0;
  memcpy(out, prefix, p);
  memcpy(out + p, name, n);
  out[p + n] = '\0';
}

/* Checks the value at vidx against the field spec; on success returns 1, leaving on the stack
 * what goes on the wire instead of the value when that differs (an object's wire table, a
 * file read as a data: URI); otherwise records the problem and returns 0. */
static int check_object(vstate *v, int obj, int fields, const char *prefix, int wire);

static int check_value(vstate *v, int spec, int vidx, const char *path, int wire_out) {
  lua_State *L = v->L;
  char sub[VALIDATE_PATH_MAX];
  int ok = field_check(L, spec, vidx, path, wire_out != 0), nested = 0;
  if (ok >= 0) { /* not an object: checked */
    if (!ok) problem(v, path);
    return ok;
  }
  if (lua_type(L, vidx) != LUA_TTABLE) {
    lua_pushfstring(L, "must be a table (got %s)", luaL_typename(L, vidx));
    problem(v, path);
    return 0;
  }
  join_path(sub, path, ".");
  lua_getfield(L, spec, "fields");
  if (!lua_istable(L, -1)) luaL_error(L, "model table: object field %s has no fields list", path);
  if (wire_out) { /* made at its size: a table that grows is rehashed at each power of 2 */
    lua_createtable(L, 0, (int)lua_rawlen(L, -1));
    lua_insert(L, -2);
    nested = lua_gettop(L) - 1;
  }
  ok = check_object(v, vidx, lua_gettop(L), sub, nested);
  lua_pop(L, 1);
  /* The nested wire table, if any, stays on the stack for the caller to store. */
  return ok;
}

/* True when the value of a boolean field named k (or its alias) in obj is true. */
static int flag_set(lua_State *L, int obj, int fields, const char *k) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, fields);
  int top = lua_gettop(L), set = 0;
  lua_getfield(L, obj, k);
  set = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
  for (i = 1; i <= n && !set; i++) {
    lua_rawgeti(L, fields, i);
    lua_getfield(L, -1, "name");
    if (lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), k) == 0 &&
        lua_getfield(L, -2, "alias") == LUA_TSTRING) {
      lua_getfield(L, obj, lua_tostring(L, -1));
      set = lua_type(L, -1) == LUA_TBOOLEAN && lua_toboolean(L, -1);
    }
    lua_settop(L, top + 1);
  }
  lua_settop(L, top);
  return set;
}

/* A field with required_unless: its message when it is missing and no flag it names is true,
 * pushed; or nothing and 0. */
static int required_unless(lua_State *L, int spec, int obj, int fields) {
  lua_Integer i, n;
  luaL_Buffer b;
  int list;
  if (lua_getfield(L, spec, "required_unless") != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  list = lua_gettop(L);
  n = (lua_Integer)lua_rawlen(L, list);
  for (i = 1; i <= n; i++) {
    int set;
    lua_rawgeti(L, list, i);
    set = flag_set(L, obj, fields, lua_tostring(L, -1));
    lua_pop(L, 1);
    if (set) {
      lua_pop(L, 1);
      return 0;
    }
  }
  /* "is required unless is_instrumental or lyrics_optimizer is true" */
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "is required unless ");
  for (i = 1; i <= n; i++) {
    if (i > 1) luaL_addstring(&b, " or ");
    lua_rawgeti(L, list, i);
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, " is true");
  luaL_pushresult(&b);
  lua_remove(L, list);
  return 1;
}

/* Stores the value at vidx in the wire table under the spec's wire names (default: its name). */
static void set_wire(lua_State *L, int wire, int spec, const char *name, int vidx) {
  if (lua_getfield(L, spec, "wire") == LUA_TTABLE) {
    lua_Integer i, n = (lua_Integer)lua_rawlen(L, -1);
    for (i = 1; i <= n; i++) {
      lua_rawgeti(L, -1, i);
      lua_pushvalue(L, vidx);
      lua_rawset(L, wire);
    }
  } else {
    lua_pushstring(L, name);
    lua_pushvalue(L, vidx);
    lua_rawset(L, wire);
  }
  lua_pop(L, 1);
}

/* True when key (a string) names a field or an alias in the spec list. */
static int known_key(lua_State *L, int fields, const char *key) {
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, fields);
  int top = lua_gettop(L);
  for (i = 1; i <= n; i++) {
    int hit = 0;
    lua_rawgeti(L, fields, i);
    lua_getfield(L, -1, "name");
    hit = lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), key) == 0;
    lua_pop(L, 1);
    if (!hit && lua_getfield(L, -1, "alias") == LUA_TSTRING) hit = strcmp(lua_tostring(L, -1), key) == 0;
    lua_settop(L, top);
    if (hit) return 1;
  }
  return 0;
}

static void report_unknown(vstate *v, int obj, int fields, const char *prefix, int top) {
  lua_State *L = v->L;
  const char *names[VALIDATE_UNKNOWN_MAX];
  int n = 0, i, j;
  int anchor;
  lua_newtable(L);
  anchor = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, obj) != 0) {
    const char *key = NULL;
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      key = lua_tostring(L, -1);
      if (known_key(L, fields, key) || (top && strcmp(key, "model") == 0)) continue;
      lua_pushvalue(L, -1);
    } else {
      lua_pushvalue(L, -1);
      lua_pushfstring(L, "[%s]", field_show_value(L, -1));
      lua_remove(L, -2);
      lua_remove(L, -2);
    }
    key = lua_tostring(L, -1);
    lua_rawseti(L, anchor, n + 1); /* keeps key alive */
    if (n < VALIDATE_UNKNOWN_MAX) names[n++] = key;
  }
  /* Insertion sort: the order of lua_next is not stable, messages should be. */
  for (i = 1; i < n; i++) {
    const char *k = names[i];
    for (j = i; j > 0 && strcmp(names[j - 1], k) > 0; j--) names[j] = names[j - 1];
    names[j] = k;
  }
  for (i = 0; i < n; i++) {
    char path[VALIDATE_PATH_MAX];
    join_path(path, prefix, names[i]);
    lua_pushliteral(L, "is not a known parameter");
    problem(v, path);
  }
  lua_remove(L, anchor);
}

/* Whether obj holds exactly `known` keys (so every key is one the fields name, when known
 * counts the fields and aliases found in it): a table with a metatable may answer for keys it
 * does not hold, so it is never taken at its word. */
static int only_known_keys(lua_State *L, int obj, int known) {
  int count = 0;
  if (lua_getmetatable(L, obj)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushnil(L);
  while (lua_next(L, obj) != 0) {
    lua_pop(L, 1);
    if (++count > known) {
      lua_pop(L, 1);
      return 0;
    }
  }
  return count == known;
}

static int check_object(vstate *v, int obj, int fields, const char *prefix, int wire) {
  lua_State *L = v->L;
  lua_Integer i, n = (lua_Integer)lua_rawlen(L, fields);
  int before = v->count;
  /* Keys of obj found under a field's name or alias; at the top, model too unless a field
   * takes that name (the schema makes names and aliases unique). */
  int known = 0, model_named = 0;
  for (i = 1; i <= n; i++) {
    char path[VALIDATE_PATH_MAX];
    const char *name, *alias = NULL;
    int spec, vidx, top = lua_gettop(L);
    lua_rawgeti(L, fields, i);
    spec = lua_gettop(L);
    lua_getfield(L, spec, "name");
    name = lua_tostring(L, -1);
    if (name == NULL) luaL_error(L, "model table: field %d has no name", (int)i);
    join_path(path, prefix, name);
    if (lua_getfield(L, spec, "alias") == LUA_TSTRING) alias = lua_tostring(L, -1);
    if (strcmp(name, "model") == 0 || (alias && strcmp(alias, "model") == 0)) model_named = 1;
    if (lua_getfield(L, obj, name) != LUA_TNIL) known++;
    vidx = lua_gettop(L);
    if (alias) {
      if (lua_getfield(L, obj, alias) != LUA_TNIL) known++;
      if (lua_isnil(L, vidx)) {
        lua_replace(L, vidx);
      } else if (!lua_isnil(L, -1) && !lua_rawequal(L, -1, vidx)) {
        lua_pushfstring(L, "given twice, as %s and as %s, with different values", name, alias);
        problem(v, path);
        lua_settop(L, top);
        continue;
      } else {
        lua_pop(L, 1);
      }
    }
    if (lua_isnil(L, vidx)) {
      if (lua_getfield(L, spec, "required") == LUA_TBOOLEAN && lua_toboolean(L, -1)) {
        lua_pushliteral(L, "is required");
        problem(v, path);
      } else if (required_unless(L, spec, obj, fields)) {
        problem(v, path);
      } else if (wire) {
        if (lua_getfield(L, spec, "default") != LUA_TNIL) set_wire(L, wire, spec, name, lua_gettop(L));
        lua_pop(L, 1);
      }
      lua_settop(L, top);
      continue;
    }
    if (check_value(v, spec, vidx, path, wire) && wire) {
      int t = lua_gettop(L);
      /* An object left its wire table, a file its data: URI; plain values go as they are. */
      set_wire(L, wire, spec, name, t > vidx ? t : vidx);
    }
    lua_settop(L, top);
  }
  /* The usual call names only fields: nothing to sort out key by key. */
  if (!only_known_keys(L, obj, known + (prefix[0] == '\0' && !model_named)))
    report_unknown(v, obj, fields, prefix, prefix[0] == '\0');
  return v->count == before;
}

/* "minimax/music-1.5, minimax/music-2.0": the known model names, sorted. */
static void push_model_names(lua_State *L, int models) {
  const char *names[VALIDATE_UNKNOWN_MAX];
  int n = 0, i, j;
  luaL_Buffer b;
  lua_pushnil(L);
  while (lua_next(L, models) != 0) {
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING && n < VALIDATE_UNKNOWN_MAX) names[n++] = lua_tostring(L, -1);
  }
  for (i = 1; i < n; i++) {
    const char *k = names[i];
    for (j = i; j > 0 && strcmp(names[j - 1], k) > 0; j--) names[j] = names[j - 1];
    names[j] = k;
  }
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (i) luaL_addstring(&b, ", ");
    luaL_addstring(&b, names[i]); /* keys of models, alive while models is on the stack */
  }
  luaL_pushresult(&b);
}

/* Runs the checks; returns 1 with the wire table pushed (when build), or 0 with nil and the
 * validation error pushed. */
static int validate_run(lua_State *L, int build) {
  vstate v;
  int wire = 0, model_ok = 0, params = 1, models = 2;
  luaL_checktype(L, params, LUA_TTABLE);
  luaL_checktype(L, models, LUA_TTABLE);
  lua_settop(L, 2);
  lua_pushnil(L); /* the problems, once there is one */
  v.L = L;
  v.problems = lua_gettop(L);
  v.count = 0;
  if (build) {
    lua_pushnil(L); /* the wire table, made once the model's fields say its size */
    wire = lua_gettop(L);
  }
  lua_getfield(L, params, "model");
  if (lua_isnil(L, -1)) {
    lua_pushliteral(L, "is required");
    problem(&v, "model");
  } else if (lua_type(L, -1) != LUA_TSTRING) {
    lua_pushfstring(L, "must be a string (got %s)", luaL_typename(L, -1));
    problem(&v, "model");
  } else {
    lua_pushvalue(L, -1);
    lua_rawget(L, models);
    if (lua_type(L, -1) != LUA_TTABLE) {
      push_model_names(L, models);
      lua_pushfstring(L, "unknown model \"%s\" (known: %s)", lua_tostring(L, -3), lua_tostring(L, -1));
      lua_remove(L, -2);
      problem(&v, "model");
    } else {
      model_ok = 1;
      schema_ensure(L, -1, lua_tostring(L, -2));
      lua_getfield(L, -1, "fields");
      if (!lua_istable(L, -1)) luaL_error(L, "model table: \"%s\" has no fields list", lua_tostring(L, -3));
      if (wire) {
        lua_createtable(L, 0, (int)lua_rawlen(L, -1) + 1);
        lua_pushliteral(L, "model");
        lua_pushvalue(L, -5);
        lua_rawset(L, -3);
        lua_replace(L, wire);
      }
      check_object(&v, params, lua_gettop(L), "", wire);
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  (void)model_ok;
  if (v.count == 0) return 1;
  {
    /* message: "invalid parameters: prompt: must be ...; lyrics: is required" */
    luaL_Buffer b;
    int i;
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "invalid parameters: ");
    for (i = 1; i <= v.count; i++) {
      if (i > 1) luaL_addstring(&b, "; ");
      lua_rawgeti(L, v.problems, i);
      lua_getfield(L, -1, "field");
      lua_getfield(L, -2, "message");
      lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
      lua_replace(L, -4);
      lua_pop(L, 2);
      luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
  }
  error_fail_top(L, "validation");
  lua_pushvalue(L, v.problems);
  lua_setfield(L, -2, "fields");
  return 0;
}

/* core.validate(params, models) --> true | nil, err */
static int l_validate(lua_State *L) {
  if (!validate_run(L, 0)) return 2;
  lua_pushboolean(L, 1);
  return 1;
}

/* core.encode(params, models) --> json body | nil, err */
static int l_encode(lua_State *L) {
  if (!validate_run(L, 1)) return 2;
  if (!json_encode(L, 4)) return error_fail_top(L, "validation");
  return 1;
}

/* core.utf8_len(s) --> code points | nil, byte offset of the first invalid sequence */
static int l_utf8_len(lua_State *L) {
  size_t n, bad = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  long len = field_utf8_len((const unsigned char *)s, n, &bad);
  if (len < 0) {
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)bad);
    return 2;
  }
  lua_pushinteger(L, len);
  return 1;
}

void validate_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"validate", l_validate}, {"encode", l_encode}, {"utf8_len", l_utf8_len}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
  schema_open(L);
}
