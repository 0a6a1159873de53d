/* utf8: UTF-8 read a sequence at a time, and user text counted in code points, the way the
 * provider's limits count it. Owns: what a valid sequence is (no overlong form, surrogate or
 * value past U+10FFFF), the count and the first invalid byte, core.utf8_len. Must not know:
 * fields, limits, messages (lua/aimlmusic/validate.lua says what is wrong). */
#include "utf8.h"

#include <string.h>

/* The length of the valid UTF-8 sequence of two or more bytes at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  size_t len, k;
  unsigned long c;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) len = 2, c = s[0] & 0x1f;
  else if (s[0] >= 0xe0 && s[0] <= 0xef) len = 3, c = s[0] & 0x0f;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) len = 4, c = s[0] & 0x07;
  else return 0; /* ASCII, a continuation byte, the overlong 0xc0 and 0xc1, 0xf5.. */
  if (n < len) return 0;
  for (k = 1; k < len; k++) {
    if ((s[k] & 0xc0) != 0x80) return 0;
    c = (c << 6) | (s[k] & 0x3f);
  }
  if ((len == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (len == 4 && (c < 0x10000 || c > 0x10ffff)))
    return 0;
  return len;
}

/* core.utf8_len(s) --> code points | nil, byte offset of the first invalid sequence */
static int l_utf8_len(lua_State *L) {
  size_t n, i = 0, len;
  const unsigned char *s = (const unsigned char *)luaL_checklstring(L, 1, &n);
  lua_Integer count = 0;
  while (i < n) {
    /* ASCII, eight bytes at a time: most prompts and lyrics are mostly ASCII. */
    while (n - i >= 8) {
      unsigned long long w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ULL) break;
      i += 8;
      count += 8;
    }
    if (i >= n) break;
    if ((len = s[i] < 0x80 ? 1 : utf8_seq(s + i, n - i)) == 0) {
      lua_pushnil(L);
      lua_pushinteger(L, (lua_Integer)i);
      return 2;
    }
    i += len;
    count++;
  }
  lua_pushinteger(L, count);
  return 1;
}

void utf8_open(lua_State *L) {
  lua_pushcfunction(L, l_utf8_len);
  lua_setfield(L, -2, "utf8_len");
}
