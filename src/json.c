/* json: the module's private lua-cjson instance. Owns: finding cjson (or Neovim's vim.json),
 * its settings (depth limit, invalid numbers refused), decode, encode and null; a decoder of
 * its own for the plain answers the API sends, which builds the very tables lua-cjson would
 * and hands anything else to lua-cjson; an encoder of its own for request bodies, which writes
 * the very bytes lua-cjson would (its escapes learnt from it) or leaves the body to it. Must
 * not know: what the JSON means (response.c, lua/aimlmusic/validate.lua do). */
#include "json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Registry keys: addresses are unique per process, the values are per Lua state. */
static const char json_decode_key = 'd';
static const char json_encode_key = 'e';
static const char json_null_key = 'n';
static const char json_plain_key = 'p';   /* true: lua-cjson, whose results plain_decode copies */
static const char json_escapes_key = 'x'; /* lua-cjson's escape of each byte, for plain_encode */
static const char json_scratch_key = 's'; /* plain_encode's buffer, kept for the next body */

/* How lua-cjson writes each byte inside a string: a userdata in the registry (Lua's memory,
 * nothing to free). */
typedef struct {
  unsigned char len[256];
  char esc[256][6];
} json_escapes;

/* Pushes lua-cjson's module: require "cjson" or, where it cannot be required (inside Neovim
 * with no lua-cjson installed), Neovim's built-in vim.json, which is lua-cjson itself with the
 * same new(), setters and null. Raises require's error when neither is there. Returns whether
 * it is lua-cjson. */
static int json_push_module(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushliteral(L, "cjson");
  if (lua_pcall(L, 1, 1, 0) == 0) return 1;
  lua_getglobal(L, "vim");
  if (lua_istable(L, -1)) {
    lua_getfield(L, -1, "json");
    if (lua_istable(L, -1)) {
      lua_getfield(L, -1, "new");
      if (lua_isfunction(L, -1)) {
        lua_pop(L, 1);
        lua_replace(L, -3); /* the module, over require's message */
        lua_pop(L, 1);      /* vim */
        return 0;
      }
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  lua_error(L); /* require's own message: where it looked */
  return 0;
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

/* Whether the plain decoder makes what the instance at inst makes: lua-cjson (vim.json has
 * options of its own), decoding whole numbers as floats (as 2.1.0 does, on every Lua). */
static int json_plain_agrees(lua_State *L, int inst, int is_cjson) {
  int agrees = 0;
  if (!is_cjson) return 0;
  lua_getfield(L, inst, "decode");
  lua_pushliteral(L, "[1]");
  if (lua_pcall(L, 1, 1, 0) == 0 && lua_istable(L, -1)) {
    lua_rawgeti(L, -1, 1);
#if LUA_VERSION_NUM >= 503
    agrees = lua_type(L, -1) == LUA_TNUMBER && !lua_isinteger(L, -1);
#else
    agrees = lua_type(L, -1) == LUA_TNUMBER;
#endif
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  return agrees;
}

/* Learns from the instance at inst how it writes each byte inside a string: one string of the
 * 256 bytes encoded, read back escape by escape ("\\uXXXX", "\\x" or the byte). Registers nothing
 * unless that reading accounts for every byte (the encoder is then lua-cjson's alone). */
static void json_learn_escapes(lua_State *L, int inst, int is_cjson) {
  char all[256];
  const char *out;
  size_t n, at = 1;
  int i;
  json_escapes *e;
  if (!is_cjson) return;
  for (i = 0; i < 256; i++) all[i] = (char)i;
  lua_getfield(L, inst, "encode");
  lua_pushlstring(L, all, sizeof all);
  if (lua_pcall(L, 1, 1, 0) != 0 || lua_type(L, -1) != LUA_TSTRING) {
    lua_pop(L, 1);
    return;
  }
  out = lua_tolstring(L, -1, &n);
  lua_pushlightuserdata(L, (void *)&json_escapes_key);
  e = (json_escapes *)lua_newuserdata(L, sizeof *e);
  for (i = 0; i < 256; i++) {
    size_t len = at < n && out[at] == '\\' ? (at + 1 < n && out[at + 1] == 'u' ? 6 : 2) : 1;
    if (at + len >= n || (len == 1 && (unsigned char)out[at] != i)) break;
    memcpy(e->esc[i], out + at, len);
    e->len[i] = (unsigned char)len;
    at += len;
  }
  if (i == 256 && n > 0 && out[0] == '"' && at == n - 1 && out[at] == '"') lua_rawset(L, LUA_REGISTRYINDEX);
  else lua_pop(L, 2);
  lua_pop(L, 1); /* the encoded string */
}

void json_open(lua_State *L) {
  int inst, is_cjson;
  is_cjson = json_push_module(L);
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
  lua_pushlightuserdata(L, (void *)&json_plain_key);
  lua_pushboolean(L, json_plain_agrees(L, inst, is_cjson));
  lua_rawset(L, LUA_REGISTRYINDEX);
  json_learn_escapes(L, inst, is_cjson);
  lua_pop(L, 2); /* instance, module */
}

static int json_call(lua_State *L, const void *key) {
  lua_pushlightuserdata(L, (void *)key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  lua_insert(L, -2);
  return lua_pcall(L, 1, 1, 0) == 0;
}

/* The plain decoder: the JSON the API answers with (objects, arrays, strings without escapes,
 * numbers in JSON's own grammar, true, false, null, at most JSON_MAX_DEPTH deep), decoded into
 * what lua-cjson makes of it: every number a float, null its null, arrays without a metatable,
 * the last of duplicate keys kept. An object's members wait on the stack and go into a table
 * made at its full size. Anything else, a malformed text included, is not this decoder's to
 * judge: it stops, and lua-cjson decodes the text (or says why not). */
typedef struct {
  lua_State *L;
  const char *p, *end;
  int null; /* stack index of the null value */
} plain;

static void plain_ws(plain *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t')) d->p++;
}

/* A string at d->p (its opening quote), pushed; 0 when it is not closed. The text holds no
 * backslash (plain_decode), so the string is the bytes up to the next quote, control bytes
 * included, as lua-cjson takes them. */
static int plain_string(plain *d) {
  const char *s = ++d->p, *e = (const char *)memchr(s, '"', (size_t)(d->end - s));
  if (e == NULL) return 0;
  lua_pushlstring(d->L, s, (size_t)(e - s));
  d->p = e + 1;
  return 1;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* A number in JSON's grammar at d->p, pushed as a float. Whole numbers of up to 15 digits are
 * exact in a double; the rest goes through strtod, unless the locale reads it otherwise. */
static int plain_number(plain *d) {
  const char *s = d->p, *q = s;
  int frac = 0, digits = 0;
  double x = 0;
  if (q < d->end && *q == '-') q++;
  if (q == d->end || !is_digit(*q)) return 0;
  if (*q == '0') {
    q++;
    digits = 1;
  } else {
    while (q < d->end && is_digit(*q)) x = x * 10 + (*q++ - '0'), digits++;
  }
  if (q < d->end && *q == '.') {
    frac = 1;
    if (++q == d->end || !is_digit(*q)) return 0;
    while (q < d->end && is_digit(*q)) q++;
  }
  if (q < d->end && (*q == 'e' || *q == 'E')) {
    frac = 1;
    if (++q < d->end && (*q == '+' || *q == '-')) q++;
    if (q == d->end || !is_digit(*q)) return 0;
    while (q < d->end && is_digit(*q)) q++;
  }
  if (frac || digits > 15) {
    char buf[64], *stop;
    size_t n = (size_t)(q - s);
    if (n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    x = strtod(buf, &stop);
    if (stop != buf + n) return 0;
  } else if (*s == '-') {
    x = -x;
  }
  lua_pushnumber(d->L, (lua_Number)x);
  d->p = q;
  return 1;
}

static int plain_word(plain *d, const char *w, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0) return 0;
  d->p += n;
  return 1;
}

static int plain_value(plain *d, int depth);

static int plain_object(plain *d, int depth) {
  lua_State *L = d->L;
  int base = lua_gettop(L), pairs = 0, i;
  d->p++;
  plain_ws(d);
  if (d->p < d->end && *d->p == '}') {
    d->p++;
    lua_createtable(L, 0, 0);
    return 1;
  }
  for (;;) {
    if (!lua_checkstack(L, 4)) return 0;
    plain_ws(d);
    if (d->p == d->end || *d->p != '"' || !plain_string(d)) return 0;
    plain_ws(d);
    if (d->p == d->end || *d->p++ != ':') return 0;
    plain_ws(d);
    if (!plain_value(d, depth)) return 0;
    pairs++;
    plain_ws(d);
    if (d->p == d->end) return 0;
    if (*d->p == ',') {
      d->p++;
      continue;
    }
    if (*d->p++ != '}') return 0;
    break;
  }
  lua_createtable(L, 0, pairs);
  for (i = 0; i < pairs; i++) {
    lua_pushvalue(L, base + 2 * i + 1);
    lua_pushvalue(L, base + 2 * i + 2);
    lua_rawset(L, -3);
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 1;
}

static int plain_array(plain *d, int depth) {
  lua_State *L = d->L;
  int n = 0;
  d->p++;
  lua_createtable(L, 0, 0);
  plain_ws(d);
  if (d->p < d->end && *d->p == ']') {
    d->p++;
    return 1;
  }
  for (;;) {
    if (!lua_checkstack(L, 4)) return 0;
    plain_ws(d);
    if (!plain_value(d, depth)) return 0;
    lua_rawseti(L, -2, ++n);
    plain_ws(d);
    if (d->p == d->end) return 0;
    if (*d->p == ',') {
      d->p++;
      continue;
    }
    return *d->p++ == ']';
  }
}

/* The value at d->p, pushed; 0 (with the stack as it may be) when the text is not plain. */
static int plain_value(plain *d, int depth) {
  if (d->p == d->end) return 0;
  switch (*d->p) {
    case '{': return depth < JSON_MAX_DEPTH && plain_object(d, depth + 1);
    case '[': return depth < JSON_MAX_DEPTH && plain_array(d, depth + 1);
    case '"': return plain_string(d);
    case 't':
      if (!plain_word(d, "true", 4)) return 0;
      lua_pushboolean(d->L, 1);
      return 1;
    case 'f':
      if (!plain_word(d, "false", 5)) return 0;
      lua_pushboolean(d->L, 0);
      return 1;
    case 'n':
      if (!plain_word(d, "null", 4)) return 0;
      lua_pushvalue(d->L, d->null);
      return 1;
    default: return plain_number(d);
  }
}

/* Pushes the value of s and returns 1 when the plain decoder takes it, else pushes nothing
 * and returns 0. */
static int plain_decode(lua_State *L, const char *s, size_t n) {
  plain d;
  int top = lua_gettop(L), ok;
  lua_pushlightuserdata(L, (void *)&json_plain_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  ok = lua_toboolean(L, -1);
  lua_pop(L, 1);
  if (!ok || memchr(s, '\\', n) != NULL || !lua_checkstack(L, 8)) return 0;
  lua_pushlightuserdata(L, (void *)&json_null_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  d.L = L;
  d.p = s;
  d.end = s + n;
  d.null = lua_gettop(L);
  plain_ws(&d);
  ok = plain_value(&d, 0);
  plain_ws(&d);
  if (!ok || d.p != d.end) {
    lua_settop(L, top);
    return 0;
  }
  lua_replace(L, top + 1); /* the value, over null */
  return 1;
}

int json_decode(lua_State *L, const char *s, size_t n) {
  if (plain_decode(L, s, n)) return 1;
  lua_pushlstring(L, s, n);
  return json_call(L, &json_decode_key);
}

/* The plain encoder: a request body (objects with string keys; strings, booleans, null and
 * whole numbers under 1e14, as lua-cjson writes them with its 14 significant digits) written
 * as lua-cjson writes it: members in lua_next's order, bytes escaped as it escapes them, an
 * empty table as {}. Anything else (an array, another number, a body of more than
 * JSON_PLAIN_MAX bytes of strings) is lua-cjson's to write or refuse. A first walk checks the
 * value and bounds its size; the second writes it into a buffer of that size: one kept in the
 * registry from body to body (up to JSON_SCRATCH_MAX bytes), since a new one per body costs
 * more in collection than the writing. */
#define JSON_PLAIN_MAX ((size_t)256 * 1024)
#define JSON_SCRATCH_MAX ((size_t)64 * 1024)
#define JSON_PLAIN_DEPTH 16
#define JSON_PLAIN_WHOLE 99999999999999.0 /* 14 digits: %.14g writes every digit */

/* The whole number at idx, or 0 when it is not one plain_encode writes itself. */
static int plain_whole(lua_State *L, int idx, long long *out) {
  lua_Number x;
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(L, idx)) {
    lua_Integer i = lua_tointeger(L, idx);
    if (i < -(lua_Integer)JSON_PLAIN_WHOLE || i > (lua_Integer)JSON_PLAIN_WHOLE) return 0;
    *out = (long long)i;
    return 1;
  }
#endif
  x = lua_tonumber(L, idx);
  if (!(x >= -JSON_PLAIN_WHOLE && x <= JSON_PLAIN_WHOLE) || x != floor(x) || (x == 0 && signbit(x))) return 0;
  *out = (long long)x;
  return 1;
}

/* First walk: adds to *size a bound on the bytes of the value at idx; 0 when it is not plain. */
static int plain_measure(lua_State *L, int idx, int depth, size_t *size) {
  long long whole;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: *size += 6 * lua_rawlen(L, idx) + 2; break;
    case LUA_TBOOLEAN: *size += 5; break;
    case LUA_TNUMBER:
      if (!plain_whole(L, idx, &whole)) return 0;
      *size += 16;
      break;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL) return 0; /* lua-cjson's null is NULL */
      *size += 4;
      break;
    case LUA_TTABLE:
      if (depth >= JSON_PLAIN_DEPTH || !lua_checkstack(L, 3)) return 0;
      *size += 2;
      lua_pushnil(L);
      while (lua_next(L, idx) != 0) {
        if (lua_type(L, -2) != LUA_TSTRING || !plain_measure(L, lua_gettop(L), depth + 1, size)) {
          lua_pop(L, 2);
          return 0;
        }
        *size += (size_t)6 * (size_t)lua_rawlen(L, -2) + 4;
        lua_pop(L, 1);
      }
      break;
    default: return 0;
  }
  return *size <= JSON_PLAIN_MAX;
}

/* Writes the n bytes of a literal (no NUL) at o; returns the end. */
static char *plain_put_bytes(char *o, const char *s, size_t n) {
  while (n-- > 0) *o++ = *s++;
  return o;
}

/* Whether none of the 8 bytes at s needs an escape: lengths are 1, 2 or 6, so their bitwise or
 * is 1 only when every one is 1 (one test for eight bytes instead of eight). */
static int plain_clean8(const unsigned char *len, const unsigned char *s) {
  return (len[s[0]] | len[s[1]] | len[s[2]] | len[s[3]] | len[s[4]] | len[s[5]] | len[s[6]] | len[s[7]]) == 1;
}

static char *plain_put_string(const json_escapes *e, char *o, const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  *o++ = '"';
  while (i < n) {
    size_t j = i;
    unsigned char c;
    while (n - j >= 8 && plain_clean8(e->len, u + j)) j += 8;
    while (j < n && e->len[u[j]] == 1) j++;
    memcpy(o, s + i, j - i);
    o += j - i;
    if (j == n) break;
    c = (unsigned char)s[j];
    memcpy(o, e->esc[c], e->len[c]);
    o += e->len[c];
    i = j + 1;
  }
  *o++ = '"';
  return o;
}

/* Second walk: writes the value at idx (measured) at o; returns the end. */
static char *plain_put(lua_State *L, const json_escapes *e, int idx, char *o) {
  size_t n;
  const char *s;
  long long whole = 0;
  int first = 1;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING:
      s = lua_tolstring(L, idx, &n);
      return plain_put_string(e, o, s, n);
    case LUA_TBOOLEAN:
      if (lua_toboolean(L, idx)) return plain_put_bytes(o, "true", 4);
      return plain_put_bytes(o, "false", 5);
    case LUA_TNUMBER: {
      char digits[24];
      int k = 0;
      unsigned long long u;
      plain_whole(L, idx, &whole);
      if (whole < 0) *o++ = '-';
      u = whole < 0 ? (unsigned long long)-whole : (unsigned long long)whole;
      do digits[k++] = (char)('0' + u % 10);
      while ((u /= 10) != 0);
      while (k) *o++ = digits[--k];
      return o;
    }
    case LUA_TTABLE:
      *o++ = '{';
      lua_pushnil(L);
      while (lua_next(L, idx) != 0) {
        if (!first) *o++ = ',';
        first = 0;
        s = lua_tolstring(L, -2, &n);
        o = plain_put_string(e, o, s, n);
        *o++ = ':';
        o = plain_put(L, e, lua_gettop(L), o);
        lua_pop(L, 1);
      }
      *o++ = '}';
      return o;
    default: return plain_put_bytes(o, "null", 4);
  }
}

/* Pushes the JSON of the value at idx and returns 1 when the plain encoder writes it, else
 * pushes nothing and returns 0. */
static int plain_encode(lua_State *L, int idx) {
  const json_escapes *e;
  size_t size = 0;
  char *buf, *end;
  lua_pushlightuserdata(L, (void *)&json_escapes_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  e = (const json_escapes *)lua_touserdata(L, -1);
  if (e == NULL || !plain_measure(L, idx, 0, &size)) {
    lua_pop(L, 1);
    return 0;
  }
  lua_pushlightuserdata(L, (void *)&json_scratch_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  buf = (char *)lua_touserdata(L, -1);
  if (buf == NULL || lua_rawlen(L, -1) < size) {
    size_t keep = buf ? (size_t)2 * (size_t)lua_rawlen(L, -1) : 4096;
    lua_pop(L, 1);
    if (keep < size) keep = size;
    buf = (char *)lua_newuserdata(L, keep);
    if (keep <= JSON_SCRATCH_MAX) {
      lua_pushlightuserdata(L, (void *)&json_scratch_key);
      lua_pushvalue(L, -2);
      lua_rawset(L, LUA_REGISTRYINDEX);
    }
  }
  end = plain_put(L, e, idx, buf);
  lua_pushlstring(L, buf, (size_t)(end - buf));
  lua_replace(L, -3);
  lua_pop(L, 1); /* the buffer; the escapes were replaced by the body */
  return 1;
}

/* Encodes the value at idx: pushes the JSON string and returns 1, or a message and returns 0. */
static int json_encode(lua_State *L, int idx) {
  idx = lua_absindex(L, idx);
  if (plain_encode(L, idx)) return 1;
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

/* core.json_encode(t) --> the JSON text of a request body | nil, why not (validate.lua). */
static int l_json_encode(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  if (json_encode(L, 1)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

void json_register(lua_State *L) {
  lua_pushcfunction(L, l_json_encode);
  lua_setfield(L, -2, "json_encode");
}
