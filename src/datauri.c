/* datauri: audio given as a URL, a data: URI or a local file, for a field with
 * transform = "data_uri". Owns: the MIME type from a file's first bytes, base64, the size limit
 * checked before anything is read or sent. Must not know: fields other than the one value it is
 * given, the wire table, HTTP. */
#include "datauri.h"

#include <errno.h>
#include <string.h>

#include "platform.h"

#define DATAURI_CHUNK 49152 /* a multiple of 3: each chunk encodes without padding */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

const char *datauri_sniff(const unsigned char *b, size_t n) {
  if (n >= 12 && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVE", 4) == 0) return "audio/wav";
  if (n >= 4 && memcmp(b, "fLaC", 4) == 0) return "audio/flac";
  if (n >= 4 && memcmp(b, "OggS", 4) == 0) return "audio/ogg";
  if (n >= 8 && memcmp(b + 4, "ftyp", 4) == 0) return "audio/mp4";
  if (n >= 3 && memcmp(b, "ID3", 3) == 0) return "audio/mpeg";
  /* An MPEG audio frame header: 11 sync bits, a version other than "reserved", layer III. */
  if (n >= 2 && b[0] == 0xff && (b[1] & 0xe0) == 0xe0 && (b[1] & 0x18) != 0x08 && (b[1] & 0x06) == 0x02)
    return "audio/mpeg";
  return NULL;
}

static int ascii_prefix(const char *s, size_t n, const char *p) {
  size_t k = strlen(p), i;
  if (n < k) return 0;
  for (i = 0; i < k; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != p[i]) return 0;
  }
  return 1;
}

int datauri_is_url(const char *s, size_t n) {
  size_t i, start;
  if (ascii_prefix(s, n, "https://")) start = 8;
  else if (ascii_prefix(s, n, "http://")) start = 7;
  else return 0;
  if (start >= n || s[start] == '/' || s[start] == '?' || s[start] == '#') return 0;
  for (i = 0; i < n; i++)
    if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f) return 0;
  return 1;
}

static void push_size(lua_State *L, double bytes) {
  if (bytes >= 1e6 && bytes == (double)(long long)(bytes / 1e6) * 1e6)
    lua_pushfstring(L, "%d MB", (int)(bytes / 1e6));
  else
    lua_pushfstring(L, "%d bytes", (int)bytes);
}

/* "data:<mime>;base64,<payload>": checked, and its decoded size against the limit. */
static int check_data_uri(lua_State *L, const char *s, size_t n, double max_bytes) {
  const char *comma = memchr(s, ',', n);
  size_t i, k, pad = 0, len;
  double bytes;
  if (!comma || comma - s < 12 || !ascii_prefix(comma - 7, 7, ";base64") ||
      !ascii_prefix(s + 5, n - 5, "audio/")) {
    lua_pushliteral(L, "must be data:audio/<type>;base64,<data> when it is a data: URI");
    return 0;
  }
  k = (size_t)(comma - s) + 1;
  len = n - k;
  for (i = k; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=' && i + 2 >= n) {
      pad++;
      continue;
    }
    if (!ok || pad) {
      lua_pushfstring(L, "has a character that is not base64 at offset %d", (int)i);
      return 0;
    }
  }
  if (len == 0 || len % 4 != 0) {
    lua_pushliteral(L, "has base64 data of a length that is not a multiple of 4");
    return 0;
  }
  bytes = (double)len * 3 / 4 - (double)pad; /* len is a multiple of 4 */
  if (max_bytes > 0 && bytes > max_bytes) {
    push_size(L, max_bytes);
    lua_pushfstring(L, "is audio of %f bytes, more than the limit of %s", (lua_Number)bytes, lua_tostring(L, -1));
    lua_remove(L, -2);
    return 0;
  }
  return 1;
}

static int file_problem(lua_State *L, const char *path, const char *what) {
  lua_pushfstring(L, "cannot read the audio file \"%s\": %s", path, what);
  return 0;
}

/* Reads all of fd (size bytes) as base64 into the buffer on top. */
static int encode_file(int fd, luaL_Buffer *b) {
  unsigned char in[DATAURI_CHUNK];
  char enc[DATAURI_CHUNK / 3 * 4];
  for (;;) {
    size_t got = 0, i;
    char *out = enc;
    while (got < sizeof in) {
      long r = (long)read(fd, in + got, sizeof in - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return 0;
      if (r == 0) break;
      got += (size_t)r;
    }
    if (got == 0) return 1;
    for (i = 0; i + 2 < got; i += 3) {
      unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
      *out++ = b64[v >> 18];
      *out++ = b64[(v >> 12) & 63];
      *out++ = b64[(v >> 6) & 63];
      *out++ = b64[v & 63];
    }
    if (i < got) {
      unsigned v = (unsigned)in[i] << 16 | (i + 1 < got ? (unsigned)in[i + 1] << 8 : 0);
      *out++ = b64[v >> 18];
      *out++ = b64[(v >> 12) & 63];
      *out++ = (char)(i + 1 < got ? b64[(v >> 6) & 63] : '=');
      *out++ = '=';
    }
    luaL_addlstring(b, enc, (size_t)(out - enc));
    if (got < sizeof in) return 1;
  }
}

static int check_file(lua_State *L, const char *path, double max_bytes, int build) {
  platform_info info;
  unsigned char head[16];
  long got;
  const char *mime;
  char why[PLATFORM_STRERROR_SIZE];
  int fd;
  /* Only a regular file is opened at all: opening a device can have effects of its own. */
  if (platform_stat(path, 1, &info) != 0) return file_problem(L, path, platform_strerror(errno, why, sizeof why));
  if (!info.is_reg) return file_problem(L, path, "not a regular file");
  fd = platform_open(path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0) return file_problem(L, path, platform_strerror(errno, why, sizeof why));
  if (platform_fstat(fd, &info) != 0 || !info.is_reg) {
    close(fd);
    return file_problem(L, path, "not a regular file");
  }
  if (max_bytes > 0 && (double)info.size > max_bytes) {
    close(fd);
    push_size(L, max_bytes);
    lua_pushfstring(L, "the audio file \"%s\" has %f bytes, more than the limit of %s", path,
                    (lua_Number)info.size, lua_tostring(L, -1));
    lua_remove(L, -2);
    return 0;
  }
  do got = (long)read(fd, head, sizeof head);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    int e = errno;
    close(fd);
    return file_problem(L, path, platform_strerror(e, why, sizeof why));
  }
  mime = datauri_sniff(head, (size_t)got);
  if (!mime) {
    close(fd);
    lua_pushfstring(L, "the file \"%s\" is not mp3, wav, flac, ogg or m4a audio", path);
    return 0;
  }
  if (build) {
    luaL_Buffer b;
    int ok;
    if (lseek(fd, 0, SEEK_SET) != 0) {
      int e = errno;
      close(fd);
      return file_problem(L, path, platform_strerror(e, why, sizeof why));
    }
    luaL_buffinit(L, &b);
    luaL_addstring(&b, "data:");
    luaL_addstring(&b, mime);
    luaL_addstring(&b, ";base64,");
    ok = encode_file(fd, &b);
    close(fd);
    luaL_pushresult(&b);
    if (!ok) {
      lua_pop(L, 1);
      return file_problem(L, path, "read failed");
    }
    return 1;
  }
  close(fd);
  return 1;
}

int datauri_check(lua_State *L, int vidx, double max_bytes, int build) {
  size_t n;
  const char *s = lua_tolstring(L, vidx, &n);
  if (ascii_prefix(s, n, "http://") || ascii_prefix(s, n, "https://")) {
    if (!datauri_is_url(s, n)) {
      lua_pushliteral(L, "is not a valid http(s) URL");
      return 0;
    }
  } else if (ascii_prefix(s, n, "data:")) {
    if (!check_data_uri(L, s, n, max_bytes)) return 0;
  } else {
    size_t i;
    for (i = 0; i < n && s[i] != ':' && s[i] != '/'; i++) {}
    if (i + 2 < n && s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
      lua_pushliteral(L, "must be an http(s) URL, a data: URI or the path of a local audio file");
      return 0;
    }
    if (n == 0 || memchr(s, '\0', n)) return file_problem(L, s, "not a file name");
    return check_file(L, s, max_bytes, build);
  }
  if (build) lua_pushvalue(L, vidx);
  return 1;
}
