/* json: the module's JSON, a codec of its own (so the library needs no other module). Owns:
 * decoding a text (RFC 8259, at most JSON_MAX_DEPTH deep) into what lua-cjson made of it: every
 * number a float, null the light userdata NULL (lua-cjson's null; core.json_null), arrays and
 * objects as plain tables, the last of duplicate keys kept; where and why a text is not JSON;
 * and encoding a value: strings (", \ and control bytes escaped, other bytes as they are),
 * booleans, null, numbers (whole ones exact, others to 14 significant digits, NaN and the
 * infinities refused), a table with the keys 1..n as an array, one with string keys as an
 * object, an empty one as {}; and one walk over a text that finds the values at given paths of
 * keys without making any (json_pick). Must not know: what the JSON means (response.c, the Lua
 * modules). */
#include "json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decoding and picking ---- */

/* A set of paths, a bit each. */
typedef uint32_t paths_mask;

/* A text being walked: decoded (make: each value pushed) or picked (the values at some paths
 * found, none made). why: the first failure, at p. A pick's paths: seg[i] is the step of path i
 * at this level, len[i] its length (up to its '.' or its end). */
typedef struct {
  lua_State *L;
  const char *p, *end;
  const char *why;
  int escapes; /* whether the text has a backslash anywhere */
  int make;
  const char *seg[JSON_PICK_MAX];
  size_t len[JSON_PICK_MAX];
  json_span *out;
} dec;

static int dec_fail(dec *d, const char *why) {
  if (d->why == NULL) d->why = why;
  return 0;
}

static void dec_ws(dec *d) {
  while (d->p < d->end && (*d->p == ' ' || *d->p == '\n' || *d->p == '\r' || *d->p == '\t')) d->p++;
}

int json_hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* The 4 hex digits at p as a value, or -1. */
static long dec_hex4(const char *p, const char *end) {
  long v = 0;
  int i, h;
  if (end - p < 4) return -1;
  for (i = 0; i < 4; i++) {
    if ((h = json_hex_digit(p[i])) < 0) return -1;
    v = v << 4 | h;
  }
  return v;
}

/* Adds code point cp (at most U+10FFFF, not a surrogate) as UTF-8. */
static void add_utf8(luaL_Buffer *b, unsigned long cp) {
  static const unsigned char lead[] = {0, 0, 0xc0, 0xe0, 0xf0};
  char u[4];
  int i, n = 1 + (cp >= 0x80) + (cp >= 0x800) + (cp >= 0x10000);
  for (i = n - 1; i > 0; i--, cp >>= 6) u[i] = (char)(0x80 | (cp & 63));
  u[0] = (char)(lead[n] | cp);
  luaL_addlstring(b, u, (size_t)n);
}

/* The escape at q, just past its backslash: its code point in *cp and where it ends, or NULL and
 * why. A \u pair of surrogates is one code point; a lone surrogate is refused. */
static const char *esc_scan(const char *q, const char *end, long *cp, const char **why) {
  static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
  const char *c;
  long lo;
  if (q == end) return *why = "unfinished string", NULL;
  if (*q != 'u') {
    if (*q == '\0' || (c = strchr(from, *q)) == NULL) return *why = "bad escape", NULL;
    *cp = (unsigned char)to[c - from];
    return q + 1;
  }
  if ((*cp = dec_hex4(++q, end)) < 0) return *why = "bad \\u escape", NULL;
  q += 4;
  if (*cp >= 0xdc00 && *cp <= 0xdfff) return *why = "lone surrogate in a \\u escape", NULL;
  if (*cp >= 0xd800 && *cp <= 0xdbff) {
    if (end - q < 6 || q[0] != '\\' || q[1] != 'u' || (lo = dec_hex4(q + 2, end)) < 0xdc00 || lo > 0xdfff)
      return *why = "lone surrogate in a \\u escape", NULL;
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    q += 6;
  }
  return q;
}

/* The string at d->p (its opening quote), pushed when making. Bytes are taken as they are,
 * control bytes included (as lua-cjson takes them); an escape is resolved, and *esc says there
 * was one. Without a backslash, one push of the bytes found with memchr (the search for a
 * backslash skipped when the text has none at all: the API's answers). */
static int dec_string(dec *d, int *esc) {
  const char *s = ++d->p, *q, *bs, *why;
  luaL_Buffer b;
  *esc = 0;
  if ((q = (const char *)memchr(s, '"', (size_t)(d->end - s))) == NULL) q = d->end;
  if (d->escapes && (bs = (const char *)memchr(s, '\\', (size_t)(q - s))) != NULL) q = bs;
  if (q < d->end && *q == '"') {
    if (d->make) lua_pushlstring(d->L, s, (size_t)(q - s));
    d->p = q + 1;
    return 1;
  }
  if (d->make) luaL_buffinit(d->L, &b);
  for (;;) {
    long cp;
    if (d->make) luaL_addlstring(&b, s, (size_t)(q - s));
    if (q == d->end) {
      d->p = q;
      return dec_fail(d, "unfinished string");
    }
    if (*q == '"') break;
    d->p = q; /* at the backslash, for a failure */
    if ((q = esc_scan(q + 1, d->end, &cp, &why)) == NULL) return dec_fail(d, why);
    if (d->make) add_utf8(&b, (unsigned long)cp);
    *esc = 1;
    s = q;
    while (q < d->end && *q != '"' && *q != '\\') q++;
  }
  if (d->make) luaL_pushresult(&b);
  d->p = q + 1;
  return 1;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* The locale's decimal point (its first byte), as strtod reads it: from the C library's own
 * writing of 0.5, since localeconv() is not safe while other threads may call setlocale. */
static char decimal_point(void) {
  char buf[8];
  snprintf(buf, sizeof buf, "%.1f", 0.5);
  return buf[1];
}

/* The end of a number in JSON's grammar at s, its value in *x (when x is not NULL), or NULL and
 * why. Whole numbers of up to 15 digits are exact in a double; the rest goes through strtod,
 * with the locale's decimal point. */
static const char *num_scan(const char *s, const char *end, double *x, const char **why) {
  const char *q = s;
  int frac = 0, digits = 0;
  double v = 0;
  *why = "bad number";
  if (q < end && *q == '-') q++;
  if (q == end || !is_digit(*q)) return *why = "expected a value", NULL;
  if (*q == '0') {
    q++;
    digits = 1;
  } else {
    while (q < end && is_digit(*q)) v = v * 10 + (*q++ - '0'), digits++;
  }
  if (q < end && *q == '.') {
    frac = 1;
    if (++q == end || !is_digit(*q)) return NULL;
    while (q < end && is_digit(*q)) q++;
  }
  if (q < end && (*q == 'e' || *q == 'E')) {
    frac = 1;
    if (++q < end && (*q == '+' || *q == '-')) q++;
    if (q == end || !is_digit(*q)) return NULL;
    while (q < end && is_digit(*q)) q++;
  }
  if ((frac || digits > 15) && q - s >= 400) return *why = "number too long", NULL;
  if (x == NULL) return q;
  if (frac || digits > 15) {
    char buf[400], *stop, *dot;
    size_t n = (size_t)(q - s);
    memcpy(buf, s, n);
    buf[n] = '\0';
    if ((dot = strchr(buf, '.')) != NULL) *dot = decimal_point();
    v = strtod(buf, &stop);
    if (stop != buf + n) return NULL;
  } else if (*s == '-') {
    v = -v;
  }
  *x = v;
  return q;
}

static int dec_word(dec *d, const char *w, size_t n) {
  if ((size_t)(d->end - d->p) < n || memcmp(d->p, w, n) != 0) return dec_fail(d, "expected a value");
  d->p += n;
  return 1;
}

/* The length of the step at seg: up to its '.' or its end. */
static size_t step_len(const char *seg) {
  size_t n = 0;
  while (seg[n] != '\0' && seg[n] != '.') n++;
  return n;
}

/* The lowest path in a non-empty set. */
static int first_path(paths_mask m) {
  static const unsigned char at[32] = {0, 1, 28, 2, 29, 14, 24, 3, 30, 22, 20, 15, 25, 17, 4, 8,
                                       31, 27, 13, 23, 21, 19, 16, 7, 26, 12, 18, 6, 11, 5, 10, 9};
  return at[(paths_mask)((m & (0U - m)) * 0x077CB531U) >> 27];
}

static int dec_value(dec *d, int depth, paths_mask alive, json_span *v);

/* An object or an array. An object made has its members waiting on the stack, going into a table
 * made at its full size; an array made goes into its table as it comes. Picked, an object's
 * member whose key ends a live path is recorded, one whose key is a step of one clears what the
 * path had (the last of duplicate keys counts) and is walked; no path goes into an array. */
static int dec_nest(dec *d, int depth, paths_mask alive) {
  lua_State *L = d->L;
  int obj = *d->p == '{', base = lua_gettop(L), n = 0, i, esc;
  char close = obj ? '}' : ']';
  paths_mask by_hash[16], m; /* the live paths by their step's length and first byte */
  json_span v;
  if (!obj) alive = 0;
  if (alive) memset(by_hash, 0, sizeof by_hash);
  for (m = alive; m; m &= m - 1) i = first_path(m), by_hash[(d->len[i] ^ (unsigned char)d->seg[i][0]) & 15] |= 1U << i;
  d->p++;
  if (d->make && !obj) lua_createtable(L, 0, 0);
  dec_ws(d);
  if (d->p < d->end && *d->p == close) {
    d->p++;
    if (d->make && obj) lua_createtable(L, 0, 0);
    return 1;
  }
  for (;;) {
    paths_mask hit = 0, sub = 0;
    size_t step = 0; /* the length of the step the walked paths matched */
    if (d->make && !lua_checkstack(L, 6)) return dec_fail(d, obj ? "object too large" : "array too large");
    dec_ws(d);
    if (obj) {
      const char *key;
      size_t kn;
      if (d->p == d->end || *d->p != '"') return dec_fail(d, "expected a string key");
      key = d->p + 1;
      if (!dec_string(d, &esc)) return 0;
      kn = (size_t)(d->p - 1 - key);
      if (esc && alive) { /* a key that spells a letter as \u0075: compared as the decoder makes it */
        const char *after = d->p;
        if (!lua_checkstack(L, 2)) return dec_fail(d, "object too large");
        d->p = key - 1, d->make = 1;
        dec_string(d, &esc);
        d->p = after, d->make = 0;
        key = lua_tolstring(L, -1, &kn);
      }
      for (m = alive ? by_hash[(kn ^ (unsigned char)*key) & 15] : 0; m; m &= m - 1) {
        i = first_path(m);
        if (kn != d->len[i] || memcmp(d->seg[i], key, kn) != 0) continue;
        if (d->seg[i][d->len[i]] == '\0') {
          hit |= 1U << i;
          continue;
        }
        sub |= 1U << i;
        d->out[i].type = 0;
        step = d->len[i];
        d->seg[i] += step + 1;
        d->len[i] = step_len(d->seg[i]);
      }
      if (esc && alive) lua_pop(L, 1);
      dec_ws(d);
      if (d->p == d->end || *d->p != ':') return dec_fail(d, "expected ':'");
      d->p++;
      dec_ws(d);
    }
    if (!dec_value(d, depth, sub, &v)) return 0;
    for (m = hit; m; m &= m - 1) d->out[first_path(m)] = v;
    for (m = sub; m; m &= m - 1) i = first_path(m), d->seg[i] -= step + 1, d->len[i] = step;
    if (d->make && !obj) lua_rawseti(L, -2, n + 1);
    n++;
    dec_ws(d);
    if (d->p < d->end && *d->p == ',') {
      d->p++;
      continue;
    }
    if (d->p == d->end || *d->p != close)
      return dec_fail(d, obj ? "expected ',' or '}'" : "expected ',' or ']'");
    d->p++;
    break;
  }
  if (!d->make || !obj) return 1;
  lua_createtable(L, 0, n);
  for (i = 0; i < n; i++) {
    lua_pushvalue(L, base + 2 * i + 1);
    lua_pushvalue(L, base + 2 * i + 2);
    lua_rawset(L, -3);
  }
  lua_replace(L, base + 1);
  lua_settop(L, base + 1);
  return 1;
}

/* The value at d->p, pushed when making, its span in *v; 0 (with the stack as it may be) and
 * d->why on a failure. */
static int dec_value(dec *d, int depth, paths_mask alive, json_span *v) {
  int ok, esc = 0;
  double x;
  const char *q, *why;
  if (d->p == d->end) return dec_fail(d, "expected a value");
  v->at = d->p;
  v->type = *d->p;
  switch (*d->p) {
    case '{':
    case '[':
      if (depth >= JSON_MAX_DEPTH) return dec_fail(d, "nested too deep");
      ok = dec_nest(d, depth + 1, alive);
      break;
    case '"': ok = dec_string(d, &esc); break;
    case 't':
      if ((ok = dec_word(d, "true", 4)) && d->make) lua_pushboolean(d->L, 1);
      break;
    case 'f':
      if ((ok = dec_word(d, "false", 5)) && d->make) lua_pushboolean(d->L, 0);
      break;
    case 'n':
      if ((ok = dec_word(d, "null", 4)) && d->make) lua_pushlightuserdata(d->L, NULL);
      break;
    default: /* a number, a float when made */
      v->type = '0';
      if ((q = num_scan(d->p, d->end, d->make ? &x : NULL, &why)) == NULL) return dec_fail(d, why);
      if (d->make) lua_pushnumber(d->L, (lua_Number)x);
      d->p = q;
      ok = 1;
  }
  v->end = d->p;
  v->escapes = (char)esc;
  return ok;
}

/* Walks the text s whole: the value's type, or 0 and d->why. */
static int dec_text(dec *d, lua_State *L, const char *s, size_t n, paths_mask alive) {
  json_span v;
  d->L = L;
  d->p = s;
  d->end = s + n;
  d->why = NULL;
  d->escapes = n > 0 && memchr(s, '\\', n) != NULL;
  dec_ws(d);
  if (!dec_value(d, 0, alive, &v)) return 0;
  dec_ws(d);
  return d->p == d->end ? v.type : dec_fail(d, "text after the value");
}

int json_decode(lua_State *L, const char *s, size_t n) {
  dec d;
  int top = lua_gettop(L);
  d.make = 1;
  if (!lua_checkstack(L, 8)) return lua_pushliteral(L, "JSON: out of stack"), 0;
  if (dec_text(&d, L, s, n, 0)) return 1;
  lua_settop(L, top);
  lua_pushfstring(L, "%s at byte %d", d.why, (int)(d.p - s) + 1);
  return 0;
}

int json_pick(lua_State *L, const char *s, size_t n, const char *const *paths, int npaths, json_span *out) {
  dec d;
  int i;
  if (npaths > JSON_PICK_MAX) return 0;
  d.make = 0;
  d.out = out;
  for (i = 0; i < npaths; i++) {
    d.seg[i] = paths[i];
    d.len[i] = step_len(paths[i]);
    out[i].type = 0;
  }
  return dec_text(&d, L, s, n, npaths == 32 ? ~(paths_mask)0 : ((paths_mask)1 << npaths) - 1);
}

void json_push_span(lua_State *L, const json_span *v) {
  double x;
  const char *why;
  if (v->type == '"' && !v->escapes) lua_pushlstring(L, v->at + 1, (size_t)(v->end - v->at - 2));
  else if (v->type == '0' && num_scan(v->at, v->end, &x, &why) != NULL) {
    if (x >= -9e15 && x <= 9e15 && x == (double)(long long)x) lua_pushinteger(L, (lua_Integer)x);
    else lua_pushnumber(L, (lua_Number)x);
  } else if (!json_decode(L, v->at, (size_t)(v->end - v->at))) lua_pop(L, 1), lua_pushnil(L);
}

/* ---- encoding ---- */

/* One walk checks the value and writes it into a buffer: one kept in the registry from body to
 * body (up to JSON_SCRATCH_MAX bytes), since a new one per body costs more in collection than
 * the writing; doubled when short. */
#define JSON_SCRATCH_MAX ((size_t)64 * 1024)
#define JSON_WHOLE 9007199254740992.0 /* 2^53: every whole double up to it is exact */
static const char json_scratch_key = 's';

/* Whether a byte goes into a string as it is: not ", \, a control byte or DEL. */
#define R16(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const unsigned char as_is[256] = {
    R16(0), R16(0),                                 /* 0x00-0x1f */
    1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20-0x2f: " */
    R16(1), R16(1),                                 /* 0x30-0x4f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50-0x5f: backslash */
    R16(1),                                         /* 0x60-0x6f */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, /* 0x70-0x7f: DEL */
    R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1), R16(1)};
#undef R16

/* A value being written into buf, the userdata at stack slot 2 (l_json_encode's). */
typedef struct {
  lua_State *L;
  const char *why; /* the first failure */
  char *buf, *end;
} enc;

static char *enc_fail(enc *e, const char *why) {
  if (e->why == NULL) e->why = why;
  return NULL;
}

/* o, in the buffer, with room for k bytes after it: in a buffer twice as large when short. */
static char *room(enc *e, char *o, size_t k) {
  size_t used = (size_t)(o - e->buf), size = 2 * (size_t)(e->end - e->buf);
  if ((size_t)(e->end - o) >= k) return o;
  if (size < used + k) size = used + k;
  o = (char *)lua_newuserdata(e->L, size);
  memcpy(o, e->buf, used);
  lua_replace(e->L, 2);
  e->buf = o;
  e->end = o + size;
  return o + used;
}

static char *put_bytes(char *o, const char *s, size_t n) {
  memcpy(o, s, n);
  return o + n;
}

static char *put_char(enc *e, char *o, char c) {
  o = room(e, o, 1);
  *o = c;
  return o + 1;
}

/* Whether none of the 8 bytes at s needs an escape. */
static int clean8(const unsigned char *s) {
  return (as_is[s[0]] & as_is[s[1]] & as_is[s[2]] & as_is[s[3]] & as_is[s[4]] & as_is[s[5]] & as_is[s[6]] &
          as_is[s[7]]) == 1;
}

static char *put_string(enc *e, char *o, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef", from[] = "\"\\\b\f\n\r\t", to[] = "\"\\bfnrt";
  const char *x;
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  o = room(e, o, n + 2); /* an escape makes room for itself */
  *o++ = '"';
  while (i < n) {
    size_t j = i;
    unsigned char c;
    while (n - j >= 8 && clean8(u + j)) j += 8;
    while (j < n && as_is[u[j]]) j++;
    o = put_bytes(o, s + i, j - i);
    if (j == n) break;
    o = room(e, o, n - j + 6);
    c = u[j];
    *o++ = '\\';
    if ((x = (const char *)memchr(from, c, sizeof from - 1)) != NULL) {
      *o++ = to[x - from];
    } else {
      o = put_bytes(o, "u00", 3);
      *o++ = hex[c >> 4];
      *o++ = hex[c & 15];
    }
    i = j + 1;
  }
  *o++ = '"';
  return o;
}

/* Whole numbers (integers, floats up to 2^53 but -0) as digits, others to 14 significant digits. */
static char *put_number(enc *e, char *o, int idx) {
  lua_Number x = lua_tonumber(e->L, idx);
  int whole = x >= -JSON_WHOLE && x <= JSON_WHOLE && x == floor(x) && !(x == 0 && signbit(x));
  long long w = whole ? (long long)x : 0;
  o = room(e, o, 32);
#if LUA_VERSION_NUM >= 503
  if (lua_isinteger(e->L, idx)) {
    whole = 1;
    w = (long long)lua_tointeger(e->L, idx);
  }
#endif
  if (whole) {
    char digits[24];
    int k = 0;
    unsigned long long u = w < 0 ? 0 - (unsigned long long)w : (unsigned long long)w;
    if (w < 0) *o++ = '-';
    do digits[k++] = (char)('0' + u % 10);
    while ((u /= 10) != 0);
    while (k) *o++ = digits[--k];
  } else if (!isfinite(x)) {
    return enc_fail(e, "cannot encode NaN or an infinity");
  } else {
    /* Whatever the locale writes for the decimal point (a byte or several) becomes one '.'. */
    char buf[40];
    int k, n = snprintf(buf, sizeof buf, "%.14g", (double)x), point = 0;
    for (k = 0; k < n; k++) {
      char c = buf[k];
      if (is_digit(c) || c == '-' || c == '+' || c == 'e') *o++ = c;
      else if (!point) *o++ = '.', point = 1;
    }
  }
  return o;
}

static char *enc_value(enc *e, char *o, int idx, int depth, int valid);

/* A table whose keys are all strings as an object, one whose keys are all the whole numbers 1..n
 * as an array. Written as lua_next walks it, so that the first failure is the first one met; an
 * array whose keys came in another order is written again in its own, its values then known to
 * be valid (valid: a table checked already, whose array is written in order straight away). */
static char *enc_table(enc *e, char *o, int idx, int depth, int valid) {
  lua_State *L = e->L;
  size_t count = 0, names = 0, i, at = (size_t)(o - e->buf), len = valid ? (size_t)lua_rawlen(L, idx) : 0;
  lua_Number max = 0;
  if (depth >= JSON_MAX_DEPTH) return enc_fail(e, "cannot encode a table nested too deep (or in itself)");
  if (!lua_checkstack(L, 4)) return enc_fail(e, "out of stack");
  if (len == 0) {
    int in_order = 1;
    o = put_char(e, o, '{');
    lua_pushnil(L);
    while (lua_next(L, idx) != 0) {
      if (count++ > 0) o = put_char(e, o, ',');
      if (lua_type(L, -2) == LUA_TSTRING) {
        size_t n;
        const char *s = lua_tolstring(L, -2, &n);
        o = put_char(e, put_string(e, o, s, n), ':');
        names++;
      } else if (lua_type(L, -2) == LUA_TNUMBER && lua_tonumber(L, -2) >= 1 &&
                 lua_tonumber(L, -2) == floor(lua_tonumber(L, -2))) {
        if (lua_tonumber(L, -2) > max) max = lua_tonumber(L, -2);
        in_order &= lua_tonumber(L, -2) == (lua_Number)count;
      } else {
        lua_pop(L, 2);
        return enc_fail(e, "cannot encode a table key that is not a string");
      }
      if ((o = enc_value(e, o, lua_gettop(L), depth + 1, valid)) == NULL) {
        lua_pop(L, 2);
        return NULL;
      }
      lua_pop(L, 1);
    }
    if (names != count && (names != 0 || max != (lua_Number)count))
      return enc_fail(e, "cannot encode a table whose keys are neither 1..n nor strings");
    if (names == count) return put_char(e, o, '}');
    e->buf[at] = '[';
    if (in_order) return put_char(e, o, ']');
    o = e->buf + at;
    len = count;
  }
  o = put_char(e, o, '[');
  for (i = 1; i <= len && o != NULL; i++) {
    if (i > 1) o = put_char(e, o, ',');
    lua_rawgeti(L, idx, (lua_Integer)i);
    o = enc_value(e, o, lua_gettop(L), depth + 1, 1);
    lua_pop(L, 1);
  }
  return o ? put_char(e, o, ']') : NULL;
}

/* Writes the value at idx at o; returns the end, or NULL and e->why. */
static char *enc_value(enc *e, char *o, int idx, int depth, int valid) {
  lua_State *L = e->L;
  size_t n;
  const char *s;
  switch (lua_type(L, idx)) {
    case LUA_TSTRING: s = lua_tolstring(L, idx, &n); return put_string(e, o, s, n);
    case LUA_TBOOLEAN:
      o = room(e, o, 5);
      return lua_toboolean(L, idx) ? put_bytes(o, "true", 4) : put_bytes(o, "false", 5);
    case LUA_TNUMBER: return put_number(e, o, idx);
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, idx) != NULL) break;
      return put_bytes(room(e, o, 4), "null", 4);
    case LUA_TTABLE: return enc_table(e, o, idx, depth, valid);
    default: break;
  }
  return enc_fail(e, "cannot encode a value of this type");
}

/* core.json_encode(v) --> its JSON text | nil, why not. */
static int l_json_encode(lua_State *L) {
  enc e;
  char *kept, *end;
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  e.L = L;
  e.why = NULL;
  lua_pushlightuserdata(L, (void *)&json_scratch_key);
  lua_rawget(L, LUA_REGISTRYINDEX);
  if ((kept = (char *)lua_touserdata(L, -1)) == NULL) {
    lua_pop(L, 1);
    lua_newuserdata(L, 4096);
  }
  e.buf = (char *)lua_touserdata(L, -1);
  e.end = e.buf + lua_rawlen(L, -1);
  if ((end = enc_value(&e, e.buf, 1, 0, 0)) == NULL) {
    lua_pushnil(L);
    lua_pushstring(L, e.why);
    return 2;
  }
  if (e.buf != kept && (size_t)(e.end - e.buf) <= JSON_SCRATCH_MAX) {
    lua_pushlightuserdata(L, (void *)&json_scratch_key);
    lua_pushvalue(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
  }
  lua_pushlstring(L, e.buf, (size_t)(end - e.buf));
  return 1;
}

/* core.json_decode(s) --> its value | nil, why not. */
static int l_json_decode(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  if (json_decode(L, s, n)) return 1;
  lua_pushnil(L);
  lua_insert(L, -2);
  return 2;
}

void json_register(lua_State *L) {
  lua_pushcfunction(L, l_json_encode);
  lua_setfield(L, -2, "json_encode");
  lua_pushcfunction(L, l_json_decode);
  lua_setfield(L, -2, "json_decode");
  lua_pushlightuserdata(L, NULL);
  lua_setfield(L, -2, "json_null");
}
