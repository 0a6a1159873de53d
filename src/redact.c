/* redact: keeping the API key out of everything shown to users. Owns: the search for the key
 * in text and in decoded server answers: the key itself and what a server can make of it
 * (another case, percent-encoding, base64, and for keys of 16 bytes or more any piece of 8
 * bytes or longer, in any of those forms). One pass over the text per form, each step a
 * constant amount of work: pieces are 8-byte words (or 60 bits of base64) looked up in a small
 * hash set built once per call. Asked only whether text holds the key (every answer is), a
 * long key's scans first look at every 5th byte (every 6th digit) for 4 bytes (5 digits) of
 * the key: any 8-byte piece (10 digits) covers one such sample, so only a text where one is
 * found is scanned whole. Keys under 4 bytes are not searched for. Must not know: sessions or
 * transfers: the key comes in as a string. */
#include "redact.h"

#include <stdint.h>
#include <string.h>

#include "json.h"

#define MIN_KEY 4    /* shorter keys are not searched for */
#define LONG_KEY 16  /* from this length, any piece of PIECE bytes gives the key away */
#define PIECE 8      /* bytes of a piece: one 64-bit word */
#define B64_PIECE 10 /* base64 digits that 8 bytes fill whatever their alignment: 60 bits */
#define CORE_MAX 24  /* base64 digits of a short key, at most */
#define RING 32      /* the last bytes (digits) a scan keeps: a power of 2, at least LONG_KEY and CORE_MAX */
#define GRAM 4       /* bytes of a plain sample: a piece of PIECE bytes covers one at any stride */
#define GRAM_STEP (PIECE - GRAM + 1)
#define B64_GRAM 5 /* digits of a base64 sample, likewise for B64_PIECE digits */
#define B64_GRAM_STEP (B64_PIECE - B64_GRAM + 1)
#define FILTER_BITS 12 /* a set's filter has a bit per value hashed to 12 bits */

typedef unsigned long long u64;
typedef unsigned int u32; /* at least 32 bits: load4 keeps four bytes of it */

/* Four bytes from p as one value, in the machine's order (the same for key and text). */
static u32 load4(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return (u32)v;
}

/* A hash set of values (0: an empty slot) behind a filter: one multiply picks a value's bit (the
 * top FILTER_BITS bits) and its first slot (bits 40 up). Most misses stop at the bit. */
typedef struct {
  u64 *slots;
  size_t mask;
  u64 bits[(1 << FILTER_BITS) / 64];
} hset;

/* What one search looks for, built from the key once per call. */
typedef struct {
  size_t klen;
  int long_key, has_percent;
  /* Long keys: every piece, folded to lower case (plain), every 10 base64 digits of the key at
   * each of the three alignments (b64, plus one so that 0 stays empty), and for the samples every
   * GRAM bytes folded and every B64_GRAM digits (plus one). */
  hset plain, b64, grams, b64_grams;
  unsigned char b64v[256]; /* a byte's base64 value (standard and URL alphabet), or 64 */
  /* Short keys: the key folded, and its base64 digits at each alignment. */
  unsigned char fold[LONG_KEY];
  unsigned char core[3][CORE_MAX];
  size_t core_len[3];
  unsigned char *key; /* a copy of the key (the cache's test), wiped when the matcher goes */
  u64 core_last;      /* bit d set: some alignment's digits end with digit d */
} matcher;

static unsigned fold(unsigned c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static void hset_add(hset *h, u64 v) {
  u64 x = v * 0x9E3779B97F4A7C15ULL;
  size_t i = (size_t)(x >> 40) & h->mask;
  unsigned b = (unsigned)(x >> (64 - FILTER_BITS));
  h->bits[b >> 6] |= 1ULL << (b & 63);
  while (h->slots[i] != 0 && h->slots[i] != v) i = (i + 1) & h->mask;
  h->slots[i] = v;
}

static inline int hset_has(const hset *h, u64 v) {
  u64 x = v * 0x9E3779B97F4A7C15ULL;
  unsigned b = (unsigned)(x >> (64 - FILTER_BITS));
  size_t i;
  if (!(h->bits[b >> 6] >> (b & 63) & 1)) return 0;
  for (i = (size_t)(x >> 40) & h->mask; h->slots[i] != 0; i = (i + 1) & h->mask)
    if (h->slots[i] == v) return 1;
  return 0;
}

/* Byte i of the key shifted right by a zero bytes (0 outside the key). */
static unsigned shifted(const char *key, size_t klen, size_t a, size_t i) {
  return i < a || i - a >= klen ? 0 : (unsigned char)key[i - a];
}

/* Base64 digit j of the key shifted by a bytes: the digits from first to last depend on the
 * key's bytes alone, whatever surrounds it. */
static unsigned b64_digit(const char *key, size_t klen, size_t a, size_t j) {
  size_t bit = 6 * j;
  unsigned v = (shifted(key, klen, a, bit / 8) << 8) | shifted(key, klen, a, bit / 8 + 1);
  return (v >> (10 - bit % 8)) & 63;
}

/* Adds to h every `width` digits (plus one) of those from first to last. */
static void add_b64(hset *h, const char *key, size_t klen, size_t a, size_t width) {
  size_t first = (8 * a + 5) / 6, last = (8 * (a + klen) - 6) / 6, i, j;
  for (i = first; i + width <= last + 1; i++) {
    u64 v = 0;
    for (j = 0; j < width; j++) v = (v << 6) | b64_digit(key, klen, a, i + j);
    hset_add(h, v + 1);
  }
}

static size_t table_size(size_t entries) {
  size_t cap = 16;
  while (cap < 2 * entries) cap *= 2;
  return cap;
}

static void hset_init(hset *h, u64 *slots, size_t cap) {
  h->slots = slots;
  h->mask = cap - 1;
}

/* Pushes a new userdata holding the matcher for key (klen >= MIN_KEY) and returns it. */
static matcher *matcher_build(lua_State *L, const char *key, size_t klen) {
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t plain_cap = 0, b64_cap = 0, sets, a, i, j;
  int long_key = klen >= LONG_KEY;
  matcher *m;
  if (long_key) {
    plain_cap = table_size(klen);
    b64_cap = table_size(3 * (klen * 4 / 3 + 1));
  }
  sets = 2 * (plain_cap + b64_cap); /* pieces, then samples: at most as many of each */
  m = (matcher *)lua_newuserdata(L, sizeof *m + sets * sizeof(u64) + klen);
  memset(m, 0, sizeof *m + sets * sizeof(u64));
  m->key = (unsigned char *)(m + 1) + sets * sizeof(u64);
  memcpy(m->key, key, klen);
  m->klen = klen;
  m->long_key = long_key;
  m->has_percent = memchr(key, '%', klen) != NULL;
  memset(m->b64v, 64, sizeof m->b64v);
  for (i = 0; i < 64; i++) m->b64v[(unsigned char)b64[i]] = (unsigned char)i;
  m->b64v['-'] = 62; /* the URL alphabet */
  m->b64v['_'] = 63;
  if (long_key) {
    hset_init(&m->plain, (u64 *)(void *)(m + 1), plain_cap);
    hset_init(&m->b64, m->plain.slots + plain_cap, b64_cap);
    hset_init(&m->grams, m->b64.slots + b64_cap, plain_cap);
    hset_init(&m->b64_grams, m->grams.slots + plain_cap, b64_cap);
    for (i = 0; i + GRAM <= klen; i++) {
      unsigned char f[PIECE] = {0};
      u64 v = 0;
      for (j = 0; j < PIECE && i + j < klen; j++) {
        f[j] = (unsigned char)fold((unsigned char)key[i + j]);
        v = (v << 8) | f[j];
      }
      hset_add(&m->grams, (u64)load4(f) + 1); /* as the sampling loads them */
      if (j == PIECE) hset_add(&m->plain, v);
    }
    for (a = 0; a < 3; a++) {
      add_b64(&m->b64, key, klen, a, B64_PIECE);
      add_b64(&m->b64_grams, key, klen, a, B64_GRAM);
    }
    return m;
  }
  for (i = 0; i < klen; i++) m->fold[i] = (unsigned char)fold((unsigned char)key[i]);
  for (a = 0; a < 3; a++) {
    size_t first = (8 * a + 5) / 6, last = (8 * (a + klen) - 6) / 6; /* digits of key bits only */
    for (i = first; i <= last && i - first < CORE_MAX; i++) m->core[a][i - first] = (unsigned char)b64_digit(key, klen, a, i);
    m->core_len[a] = i - first;
    if (m->core_len[a]) m->core_last |= 1ULL << m->core[a][m->core_len[a] - 1];
  }
  return m;
}

static const char matcher_cache = 'M'; /* registry[&matcher_cache]: the last key's matcher */

static int matcher_gc(lua_State *L) {
  matcher *m = (matcher *)lua_touserdata(L, 1);
  if (m && m->key) memset(m->key, 0, m->klen);
  return 0;
}

/* Pushes the matcher for key and returns it: the one this Lua state kept for the last key asked
 * for when it is the same key (a client's every answer is searched for its one key, and a long
 * key's matcher costs more to build than a scan of the answer), else a new one, kept in its
 * place. NULL, nothing pushed, for a key too short to search for (or none). */
static matcher *matcher_push(lua_State *L, const char *key) {
  size_t klen = key ? strlen(key) : 0;
  matcher *m;
  if (klen < MIN_KEY) return NULL;
  lua_pushlightuserdata(L, (void *)&matcher_cache);
  lua_rawget(L, LUA_REGISTRYINDEX);
  m = (matcher *)lua_touserdata(L, -1);
  if (m && m->klen == klen && memcmp(m->key, key, klen) == 0) return m;
  lua_pop(L, 1);
  m = matcher_build(L, key, klen);
  if (luaL_newmetatable(L, "aimlmusic.redact_matcher")) {
    lua_pushcfunction(L, matcher_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  lua_pushlightuserdata(L, (void *)&matcher_cache);
  lua_pushvalue(L, -2);
  lua_rawset(L, LUA_REGISTRYINDEX);
  return m;
}

/* The key in plain text, in any case, percent-encoded or not (decode). Marks what it finds in
 * mask, or with mask NULL says whether there is anything. */
static int scan_plain(const matcher *m, const unsigned char *t, size_t n, int decode, unsigned char *mask) {
  size_t w = m->long_key ? PIECE : m->klen;
  size_t starts[RING], count = 0, i = 0, k;
  unsigned char vals[RING];
  u64 v = 0;
  int found = 0;
  while (i < n) {
    size_t from = i;
    unsigned c = t[i++];
    int hi, lo;
    if (decode && c == '%' && i + 1 < n && (hi = json_hex_digit((char)t[i])) >= 0 &&
        (lo = json_hex_digit((char)t[i + 1])) >= 0) {
      c = (unsigned)(hi * 16 + lo);
      i += 2;
    }
    c = fold(c);
    starts[count & (RING - 1)] = from;
    vals[count & (RING - 1)] = (unsigned char)c;
    v = (v << 8) | c;
    count++;
    if (count < w) continue;
    if (m->long_key) {
      if (!hset_has(&m->plain, v)) continue;
    } else {
      if (c != m->fold[w - 1]) continue;
      for (k = 0; k < w && vals[(count - w + k) & (RING - 1)] == m->fold[k]; k++) {}
      if (k < w) continue;
    }
    if (mask == NULL) return 1;
    k = starts[(count - w) & (RING - 1)];
    memset(mask + k, 1, i - k);
    found = 1;
  }
  return found;
}

/* The key's base64 (any alignment; pieces too for a long key). As scan_plain; what it marks is
 * the whole run of base64 around what it found, padding included, and the scan goes on after
 * it: every step is still done once. */
static int scan_b64(const matcher *m, const unsigned char *t, size_t n, unsigned char *mask) {
  size_t run = 0, i, a, k;
  unsigned char ring[RING];
  u64 v = 0;
  int found = 0;
  for (i = 0; i < n; i++) {
    unsigned d = m->b64v[t[i]];
    size_t len = 0;
    if (d == 64) {
      run = 0;
      continue;
    }
    v = ((v << 6) | d) & ((1ULL << 60) - 1);
    ring[run & (RING - 1)] = (unsigned char)d;
    run++;
    if (m->long_key) {
      if (run >= B64_PIECE && hset_has(&m->b64, v + 1)) len = B64_PIECE;
    } else if (m->core_last >> d & 1) {
      for (a = 0; a < 3 && len == 0; a++) {
        size_t l = m->core_len[a];
        if (l == 0 || run < l || d != m->core[a][l - 1]) continue; /* the last digit first */
        for (k = 0; k < l && ring[(run - l + k) & (RING - 1)] == m->core[a][k]; k++) {}
        if (k == l) len = l;
      }
    }
    if (len == 0) continue;
    if (mask == NULL) return 1;
    for (k = i + 1; k < n && m->b64v[t[k]] != 64; k++) {}
    while (k < n && t[k] == '=') k++;
    memset(mask + i + 1 - run, 1, k - (i + 1 - run));
    found = 1;
    run = 0;
    i = k - 1;
  }
  return found;
}

/* Whether a short key is in t, in any case, where t holds no '%' (nothing to decode): the
 * question scan_plain answers with mask NULL, asked of every answer, in fewer steps. */
static int has_short_plain(const matcher *m, const unsigned char *t, size_t n) {
  size_t w = m->klen, i, k;
  unsigned last = m->fold[w - 1];
  for (i = w - 1; i < n; i++) {
    if (fold(t[i]) != last) continue;
    for (k = 0; k + 1 < w && fold(t[i + 1 - w + k]) == m->fold[k]; k++) {}
    if (k + 1 == w) return 1;
  }
  return 0;
}

/* Four bytes folded at once, as fold() folds each: A-Z to a-z, every other byte as it is. */
static u32 fold4(u32 x) {
  u32 low = x & 0x7f7f7f7fu;
  u32 upper = (low + 0x3f3f3f3fu) & ~(low + 0x25252525u) & ~x & 0x80808080u; /* 'A' <= byte <= 'Z' */
  return x | upper >> 2;
}

/* Whether some GRAM bytes of a long key, in any case, are at a multiple of GRAM_STEP in t: a
 * piece of the key anywhere in t covers one of those samples. */
static int long_plain_sampled(const matcher *m, const unsigned char *t, size_t n) {
  size_t r;
  for (r = 0; r + GRAM <= n; r += GRAM_STEP)
    if (hset_has(&m->grams, (u64)fold4(load4(t + r)) + 1)) return 1;
  return 0;
}

/* The same for the key's base64: B64_GRAM digits at each multiple of B64_GRAM_STEP. */
static int long_b64_sampled(const matcher *m, const unsigned char *t, size_t n) {
  const unsigned char *b64v = m->b64v;
  size_t r;
  for (r = 0; r + B64_GRAM <= n; r += B64_GRAM_STEP) {
    unsigned d0 = b64v[t[r]], d1 = b64v[t[r + 1]], d2 = b64v[t[r + 2]], d3 = b64v[t[r + 3]], d4 = b64v[t[r + 4]];
    u64 v;
    if ((d0 | d1 | d2 | d3 | d4) & 64) continue; /* not five digits */
    v = ((u64)d0 << 24 | (u64)d1 << 18 | (u64)d2 << 12 | (u64)d3 << 6 | d4) + 1;
    if (hset_has(&m->b64_grams, v)) return 1;
  }
  return 0;
}

/* Every form, with mask NULL: whether text holds any. */
static int scan(const matcher *m, const char *text, size_t n, unsigned char *mask) {
  const unsigned char *t = (const unsigned char *)text;
  int found;
  if (mask == NULL && memchr(t, '%', n) == NULL) {
    if (m->long_key)
      return (long_plain_sampled(m, t, n) && scan_plain(m, t, n, 0, NULL)) ||
             (long_b64_sampled(m, t, n) && scan_b64(m, t, n, NULL));
    return has_short_plain(m, t, n) || scan_b64(m, t, n, NULL);
  }
  found = scan_plain(m, t, n, 1, mask);
  if (m->has_percent && (mask || !found)) found |= scan_plain(m, t, n, 0, mask);
  if (mask || !found) found |= scan_b64(m, t, n, mask);
  return found;
}

/* Pushes the string at idx (absolute) with every marked run replaced by "[redacted]". */
static void push_redacted(lua_State *L, const matcher *m, int idx) {
  luaL_Buffer b;
  size_t n, i;
  const char *text = lua_tolstring(L, idx, &n);
  unsigned char *mask = (unsigned char *)lua_newuserdata(L, n + 1); /* a byte for each of text's */
  memset(mask, 0, n + 1);
  scan(m, text, n, mask);
  luaL_buffinit(L, &b);
  for (i = 0; i < n; i++) {
    if (!mask[i]) luaL_addchar(&b, text[i]);
    else if (i == 0 || !mask[i - 1]) luaL_addstring(&b, "[redacted]");
  }
  luaL_pushresult(&b);
  lua_remove(L, -2); /* the mask */
}

/* Redacts the string at idx in place; returns whether it changed. */
static int redact_slot(lua_State *L, const matcher *m, int idx) {
  size_t n;
  const char *text;
  if (lua_type(L, idx) != LUA_TSTRING) return 0;
  text = lua_tolstring(L, idx, &n);
  if (!scan(m, text, n, NULL)) return 0;
  push_redacted(L, m, idx);
  lua_replace(L, idx);
  return 1;
}

static void redact_table(lua_State *L, const matcher *m, int idx) {
  int renamed = 0, list = 0, i;
  luaL_checkstack(L, 8, "redacting a response");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    int v = lua_gettop(L);
    if (lua_type(L, v) == LUA_TTABLE) {
      redact_table(L, m, v);
    } else if (redact_slot(L, m, v)) {
      lua_pushvalue(L, v - 1);
      lua_pushvalue(L, v);
      lua_rawset(L, idx); /* an existing field: allowed while traversing */
    }
    lua_pop(L, 1);
    if (lua_type(L, -1) == LUA_TSTRING) {
      size_t n;
      const char *k = lua_tolstring(L, -1, &n);
      if (scan(m, k, n, NULL)) {
        /* A new key may not be added while traversing: note it, rename it afterwards. */
        if (!list) {
          lua_newtable(L);
          lua_insert(L, -2);
          list = lua_gettop(L) - 1;
        }
        lua_pushvalue(L, -1);
        lua_rawseti(L, list, ++renamed);
      }
    }
  }
  for (i = 1; i <= renamed; i++) {
    lua_rawgeti(L, list, i);
    push_redacted(L, m, lua_gettop(L));
    lua_pushvalue(L, -2);
    lua_rawget(L, idx);
    lua_rawset(L, idx); /* t[redacted] = t[k] */
    lua_pushnil(L);
    lua_rawset(L, idx); /* t[k] = nil */
  }
  if (list) lua_remove(L, list);
}

void redact_value(lua_State *L, const char *key, int idx) {
  const matcher *m;
  idx = lua_absindex(L, idx);
  if ((m = matcher_push(L, key)) == NULL) return;
  if (lua_type(L, idx) == LUA_TTABLE) redact_table(L, m, idx);
  else redact_slot(L, m, idx);
  lua_pop(L, 1); /* the matcher */
}

void redact_push(lua_State *L, const char *key, const char *text, size_t n) {
  lua_pushlstring(L, text, n);
  redact_value(L, key, -1);
}

int redact_clean_json(lua_State *L, const char *key, const char *json, size_t n) {
  const matcher *m = matcher_push(L, key);
  int clean;
  if (m == NULL) return 1;
  /* Without a backslash the text holds no JSON escape, so every string decoded from it (keys and
   * values) is a run of the text between two quotes; a quote ends a percent escape, a base64 run
   * and a piece alike, so whatever a scan finds in such a run it finds in the whole text. One
   * scan of the text then clears every string; with an escape, each must be searched on its own. */
  clean = (n == 0 || memchr(json, '\\', n) == NULL) && !scan(m, json, n, NULL);
  lua_pop(L, 1); /* the matcher */
  return clean;
}

void redact_decoded(lua_State *L, const char *key, int idx, const char *json, size_t n) {
  if (!redact_clean_json(L, key, json, n)) redact_value(L, key, idx);
}
