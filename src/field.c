/* field: one value against one field's own rules (type, UTF-8, lengths, ranges, enum, URL
 * format, audio given as a file or data: URI), and the message saying what is wrong.
 * Owns: the checks of a single scalar value and how a user value is shown in a message.
 * Must not know: objects and their fields, required or unknown keys, the wire table, the
 * error table (validate.c walks the parameters and collects the problems). */
#include "field.h"

#include <math.h>
#include <string.h>

#include "datauri.h"

long field_utf8_len(const unsigned char *s, size_t n, size_t *bad) {
  size_t i = 0;
  long count = 0;
  while (i < n) {
    unsigned c;
    /* ASCII, eight bytes at a time: most prompts and lyrics are mostly ASCII. */
    while (n - i >= 8) {
      unsigned long long w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
      count += 8;
    }
    if (i >= n) break;
    c = s[i];
    size_t len;
    unsigned cp, min;
    if (c < 0x80) {
      i++;
      count++;
      continue;
    }
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
      min = 0x10000;
    } else {
      goto invalid; /* continuation byte, 0xc0/0xc1 overlongs, 0xf5.. */
    }
    if (n - i < len) goto invalid;
    for (size_t k = 1; k < len; k++) {
      unsigned cc = s[i + k];
      if ((cc & 0xc0) != 0x80) goto invalid;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) goto invalid;
    i += len;
    count++;
  }
  return count;
invalid:
  if (bad) *bad = i;
  return -1;
}

/* A short, safe rendering of a user value for a message: strings quoted and cut. */
const char *field_show_value(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (lua_type(L, idx) == LUA_TSTRING) {
    size_t n, cut = 37;
    const char *s = lua_tolstring(L, idx, &n);
    if (n <= 40) return lua_pushfstring(L, "\"%s\"", s);
    /* Cut on a character boundary, so the message stays valid UTF-8. */
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) cut--;
    lua_pushlstring(L, s, cut);
    lua_pushfstring(L, "\"%s...\"", lua_tostring(L, -1));
    lua_remove(L, -2);
    return lua_tostring(L, -1);
  }
  if (lua_type(L, idx) == LUA_TNUMBER) lua_pushvalue(L, idx);
  else lua_pushstring(L, luaL_typename(L, idx));
  return lua_tostring(L, -1);
}

/* Checks enum membership of the value at vidx against spec.enum; pushes a message if not. */
static int check_enum(lua_State *L, int spec, int vidx) {
  int found = 0;
  lua_Integer i, n;
  luaL_Buffer b;
  if (lua_getfield(L, spec, "enum") != LUA_TTABLE) {
    lua_pop(L, 1);
    return 1;
  }
  n = (lua_Integer)lua_rawlen(L, -1);
  for (i = 1; i <= n && !found; i++) {
    lua_rawgeti(L, -1, i);
    found = lua_rawequal(L, -1, vidx);
    lua_pop(L, 1);
  }
  if (found) {
    lua_pop(L, 1);
    return 1;
  }
  /* "must be one of mp3, wav, pcm (got \"ogg\")" */
  {
    int list = lua_gettop(L);
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "must be one of ");
    for (i = 1; i <= n; i++) {
      if (i > 1) luaL_addstring(&b, ", ");
      lua_rawgeti(L, list, i);
      luaL_addvalue(&b);
    }
    luaL_addstring(&b, " (got ");
    field_show_value(L, vidx);
    luaL_addvalue(&b);
    luaL_addchar(&b, ')');
    luaL_pushresult(&b);
    lua_remove(L, list);
  }
  return 0;
}

static int spec_number(lua_State *L, int spec, const char *k, lua_Number *out) {
  int ok = lua_getfield(L, spec, k) == LUA_TNUMBER;
  if (ok) *out = lua_tonumber(L, -1);
  lua_pop(L, 1);
  return ok;
}

static int has_key(lua_State *L, int spec, const char *k) {
  int has = lua_getfield(L, spec, k) != LUA_TNIL;
  lua_pop(L, 1);
  return has;
}

/* A number as Lua prints it, whole numbers without a fraction: "44100", "0.5". */
static const char *push_number(lua_State *L, lua_Number x) {
  if (x >= -9007199254740992.0 && x <= 9007199254740992.0 && x == floor(x)) lua_pushinteger(L, (long long)x);
  else lua_pushnumber(L, x);
  return lua_tostring(L, -1);
}

/* "must be at least 1 (got 0)": a bound and the value, both as Lua prints numbers. */
static void push_range_message(lua_State *L, const char *which, lua_Number bound, lua_Number got) {
  push_number(L, bound);
  push_number(L, got);
  lua_pushfstring(L, "must be at %s %s (got %s)", which, lua_tostring(L, -2), lua_tostring(L, -1));
  lua_replace(L, -3);
  lua_pop(L, 1);
}

/* Integers must survive JSON as integers: beyond 2^53 a double no longer holds each one. */
#define FIELD_INT_LIMIT 9007199254740992.0

int field_check(lua_State *L, int spec, int vidx, const char *path, int build) {
  char type[16] = "string";
  int replaced = 0;
  lua_Number lim;
  if (lua_getfield(L, spec, "type") == LUA_TSTRING) {
    strncpy(type, lua_tostring(L, -1), sizeof type - 1);
    type[sizeof type - 1] = '\0';
  }
  lua_pop(L, 1);
  if (strcmp(type, "string") == 0) {
    size_t n, bad = 0;
    const char *s;
    long len;
    if (lua_type(L, vidx) != LUA_TSTRING) {
      lua_pushfstring(L, "must be a string (got %s)", luaL_typename(L, vidx));
      return 0;
    }
    s = lua_tolstring(L, vidx, &n);
    len = field_utf8_len((const unsigned char *)s, n, &bad);
    if (len < 0) {
      lua_pushfstring(L, "is not valid UTF-8 (bad byte at offset %d)", (int)bad);
      return 0;
    } else if (spec_number(L, spec, "min_length", &lim) && (lua_Number)len < lim) {
      lua_pushfstring(L, "must be at least %d characters (got %d)", (int)lim, (int)len);
      return 0;
    } else if (spec_number(L, spec, "max_length", &lim) && (lua_Number)len > lim) {
      lua_pushfstring(L, "must be at most %d characters (got %d)", (int)lim, (int)len);
      return 0;
    }
    if (lua_getfield(L, spec, "format") == LUA_TSTRING && !datauri_is_url(s, n)) {
      lua_pop(L, 1);
      lua_pushfstring(L, "must be an http(s) URL (got %s)", field_show_value(L, vidx));
      lua_remove(L, -2);
      return 0;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, spec, "transform") == LUA_TSTRING) {
      lua_Number max_bytes = 0;
      lua_pop(L, 1);
      spec_number(L, spec, "max_bytes", &max_bytes);
      if (!datauri_check(L, vidx, max_bytes, build)) {
        return 0;
      }
      replaced = build;
    } else {
      lua_pop(L, 1);
    }
  } else if (strcmp(type, "integer") == 0 || strcmp(type, "number") == 0) {
    int integer = type[0] == 'i';
    lua_Number x;
    if (lua_type(L, vidx) != LUA_TNUMBER) {
      lua_pushfstring(L, "must be %s (got %s)", integer ? "an integer" : "a number", luaL_typename(L, vidx));
      return 0;
    }
    x = lua_tonumber(L, vidx);
    /* NaN, infinities and non-integral values cannot be sent as the JSON the field needs. */
    if (x != x || x == HUGE_VAL || x == -HUGE_VAL || (integer && x != floor(x))) {
      lua_pushfstring(L, "must be %s (got %s)", integer ? "an integer" : "a finite number", field_show_value(L, vidx));
      lua_remove(L, -2);
      return 0;
    }
    /* (A field with an enum says which values it takes instead.) */
    if (integer && (x > FIELD_INT_LIMIT || x < -FIELD_INT_LIMIT) && !has_key(L, spec, "enum")) {
      lua_pushfstring(L, "must be an integer between -2^53 and 2^53 (got %s)", field_show_value(L, vidx));
      lua_remove(L, -2);
      return 0;
    }
    if (spec_number(L, spec, "min", &lim) && x < lim) {
      push_range_message(L, "least", lim, x);
      return 0;
    }
    if (spec_number(L, spec, "max", &lim) && x > lim) {
      push_range_message(L, "most", lim, x);
      return 0;
    }
  } else if (strcmp(type, "object") == 0) {
    return -1; /* validate.c walks its fields */
  } else if (strcmp(type, "boolean") == 0) {
    if (lua_type(L, vidx) != LUA_TBOOLEAN) {
      lua_pushfstring(L, "must be true or false (got %s)", field_show_value(L, vidx));
      lua_remove(L, -2);
      return 0;
    }
  } else {
    luaL_error(L, "model table: field %s has unknown type %s", path, type);
  }
  if (!check_enum(L, spec, vidx)) {
    if (replaced) lua_remove(L, -2);
    return 0;
  }
  return 1;
}
