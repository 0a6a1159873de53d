/* error: the error table, its one-line face, and error_fail (see error.h). Owns: the one error
 * shape, built here and nowhere else. Must not know: which failure it reports, HTTP, files. */
#include "error.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>

#include "class.h"
#include "platform.h"
#include "utf8.h"

void error_setstring(lua_State *L, const char *k, const char *v) {
  if (v == NULL) return;
  lua_pushstring(L, v);
  lua_setfield(L, -2, k);
}

void error_setint(lua_State *L, const char *k, long long v) {
  lua_pushinteger(L, v);
  lua_setfield(L, -2, k);
}

void error_setbool(lua_State *L, const char *k, int v) {
  lua_pushboolean(L, v);
  lua_setfield(L, -2, k);
}

/* Pushes a new error table {kind, message, retryable=false} with the error metatable. */
static void error_push(lua_State *L, const char *kind, const char *message) {
  lua_createtable(L, 0, 8);
  error_setstring(L, "kind", kind);
  error_setstring(L, "message", message ? message : kind);
  error_setbool(L, "retryable", 0);
  luaL_setmetatable(L, ERROR_MT);
}

int error_fail(lua_State *L, const char *kind, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  return error_fail_top(L, kind);
}

int error_fail_top(lua_State *L, const char *kind) {
  /* The message stays referenced from the stack until the error holds it. */
  lua_pushnil(L);
  error_push(L, kind, lua_tostring(L, -2));
  lua_remove(L, -3);
  return 2;
}

const char *error_errno_name(int err) {
  switch (err) {
    case EEXIST: return "EEXIST";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case EISDIR: return "EISDIR";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case EROFS: return "EROFS";
    case EINVAL: return "EINVAL";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    case ELOOP: return "ELOOP";
    case ENOSPC: return "ENOSPC";
    case EFBIG: return "EFBIG";
    case ENOMEM: return "ENOMEM";
    case EBUSY: return "EBUSY";
    case EAGAIN: return "EAGAIN";
    case ENOSYS: return "ENOSYS";
    default: return "EIO";
  }
}

int error_fail_errno(lua_State *L, const char *kind, int err, const char *fmt, ...) {
  va_list ap;
  char why[PLATFORM_STRERROR_SIZE];
  va_start(ap, fmt);
  lua_pushvfstring(L, fmt, ap);
  va_end(ap);
  lua_pushfstring(L, "%s: %s", lua_tostring(L, -1), platform_strerror(err, why, sizeof why));
  lua_remove(L, -2);
  error_fail_top(L, kind);
  error_setstring(L, "code", error_errno_name(err));
  return 2;
}

/* Code points a terminal or a log reader acts on: C1 controls, line and paragraph separators,
 * and the bidirectional overrides that make text read other than it is. */
static int unsafe_cp(unsigned long c) {
  return (c >= 0x80 && c <= 0x9f) || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069);
}

/* Appends s with every control character, invalid UTF-8 byte and unsafe code point written as
 * a visible escape (\n, \x1b, \xc2\x9b), so that text from a server can neither break the
 * line nor drive the terminal that shows it. With json, s is an encoded JSON text and stays
 * one: a control character or unsafe code point becomes \u001b, \u202e (the same value), an
 * invalid byte the text \\x9b inside its string. */
static void add_escaped_as(luaL_Buffer *b, const char *text, size_t n, int json) {
  static const char hex[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)text;
  size_t i = 0, k, len;
  while (i < n) {
    unsigned long cp = 0;
    unsigned char c = s[i];
    if (c >= 0x20 && c < 0x7f) {
      luaL_addchar(b, (char)c);
      i++;
      continue;
    }
    if (!json && (c == '\n' || c == '\r' || c == '\t')) {
      luaL_addchar(b, '\\');
      luaL_addchar(b, c == '\n' ? 'n' : (c == '\r' ? 'r' : 't'));
      i++;
      continue;
    }
    len = c >= 0x80 ? utf8_seq(s + i, n - i, &cp) : 0;
    if (len > 0 && !unsafe_cp(cp)) {
      luaL_addlstring(b, text + i, len);
      i += len;
      continue;
    }
    if (json && (len > 0 || c < 0x80)) {
      if (len == 0) cp = c, len = 1;
      luaL_addstring(b, "\\u");
      for (k = 4; k-- > 0;) luaL_addchar(b, hex[(cp >> (4 * k)) & 15]);
      i += len;
      continue;
    }
    if (len == 0) len = 1;
    for (k = 0; k < len; k++, i++) {
      if (json) luaL_addchar(b, '\\');
      luaL_addchar(b, '\\');
      luaL_addchar(b, 'x');
      luaL_addchar(b, hex[s[i] >> 4]);
      luaL_addchar(b, hex[s[i] & 15]);
    }
  }
}

static void add_escaped(luaL_Buffer *b, const char *text, size_t n) {
  add_escaped_as(b, text, n, 0);
}

/* core.escape(s [, "json"]) --> s as add_escaped_as writes it: for a command line that prints
 * what a server sent, as text or inside an encoded JSON text. */
static int error_escape(lua_State *L) {
  static const char *const modes[] = {"text", "json", NULL};
  luaL_Buffer b;
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  int json = luaL_checkoption(L, 2, "text", modes);
  luaL_buffinit(L, &b);
  add_escaped_as(&b, s, n, json);
  luaL_pushresult(&b);
  return 1;
}

static void add_field(lua_State *L, luaL_Buffer *b, int t, const char *k, const char *label,
                      int *first) {
  /* luaL_Buffer keeps its own stack slots: nothing may stay pushed while it grows. A string is
   * still held by t[k] once popped; a number is copied out first. */
  char num[64];
  size_t n;
  const char *s;
  int type = lua_getfield(L, t, k);
  if (type != LUA_TSTRING && type != LUA_TNUMBER) {
    lua_pop(L, 1);
    return;
  }
  s = lua_tolstring(L, -1, &n);
  if (type == LUA_TNUMBER) {
    n = n < sizeof num ? n : sizeof num - 1;
    memcpy(num, s, n);
    s = num;
  }
  lua_pop(L, 1);
  luaL_addstring(b, *first ? " (" : ", ");
  luaL_addstring(b, label);
  luaL_addchar(b, ' ');
  add_escaped(b, s, n);
  *first = 0;
}

/* "aimlmusic: rate_limited: Too many requests (HTTP 429, request_id abc)" */
static int error_tostring(lua_State *L) {
  luaL_Buffer b;
  size_t n = 0;
  const char *s;
  int first = 1;
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "kind");
  lua_getfield(L, 1, "message");
  luaL_buffinit(L, &b);
  luaL_addstring(&b, "aimlmusic: ");
  s = lua_tolstring(L, 2, &n);
  if (s) add_escaped(&b, s, n);
  else luaL_addstring(&b, "error");
  luaL_addstring(&b, ": ");
  s = lua_tolstring(L, 3, &n);
  if (s) add_escaped(&b, s, n);
  add_field(L, &b, 1, "status", "HTTP", &first);
  add_field(L, &b, 1, "code", "code", &first);
  add_field(L, &b, 1, "id", "id", &first);
  add_field(L, &b, 1, "request_id", "request_id", &first);
  add_field(L, &b, 1, "trace_id", "trace_id", &first);
  if (!first) luaL_addchar(&b, ')');
  luaL_pushresult(&b);
  return 1;
}

/* core.error{kind=..., message=..., ...}: gives a Lua-built error the same shape and face. */
static int error_new(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  if (lua_getfield(L, 1, "kind") != LUA_TSTRING) return luaL_argerror(L, 1, "kind must be a string");
  if (lua_getfield(L, 1, "message") != LUA_TSTRING) {
    lua_pushvalue(L, 2);
    lua_setfield(L, 1, "message");
  }
  if (lua_getfield(L, 1, "retryable") != LUA_TBOOLEAN) {
    lua_pushboolean(L, 0);
    lua_setfield(L, 1, "retryable");
  }
  lua_settop(L, 1);
  luaL_setmetatable(L, ERROR_MT);
  return 1;
}

/* core.is_error(v): true for tables made by error_push or core.error. */
static int error_is(lua_State *L) {
  int yes = 0;
  if (lua_type(L, 1) == LUA_TTABLE && lua_getmetatable(L, 1)) {
    luaL_getmetatable(L, ERROR_MT);
    yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
  }
  lua_pushboolean(L, yes);
  return 1;
}

void error_open(lua_State *L) {
  class_define(L, ERROR_MT, NULL, NULL, error_tostring);
  lua_pushcfunction(L, error_new);
  lua_setfield(L, -2, "error");
  lua_pushcfunction(L, error_is);
  lua_setfield(L, -2, "is_error");
  lua_pushcfunction(L, error_escape);
  lua_setfield(L, -2, "escape");
}
