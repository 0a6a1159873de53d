/* utf8: user text counted in code points, the way the provider's limits count it. Owns: the
 * count, the first invalid byte (overlong forms, surrogates, past U+10FFFF), core.utf8_len.
 * Must not know: fields, limits, messages (lua/aimlmusic/validate.lua says what is wrong). */
#include "utf8.h"

#include <string.h>

long utf8_count(const unsigned char *s, size_t n, size_t *bad) {
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

/* core.utf8_len(s) --> code points | nil, byte offset of the first invalid sequence */
static int l_utf8_len(lua_State *L) {
  size_t n, bad = 0;
  const char *s = luaL_checklstring(L, 1, &n);
  long len = utf8_count((const unsigned char *)s, n, &bad);
  if (len < 0) {
    lua_pushnil(L);
    lua_pushinteger(L, (lua_Integer)bad);
    return 2;
  }
  lua_pushinteger(L, len);
  return 1;
}

void utf8_open(lua_State *L) {
  lua_pushcfunction(L, l_utf8_len);
  lua_setfield(L, -2, "utf8_len");
}
