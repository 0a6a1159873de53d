/* datauri: audio given as a URL, a data: URI or a local file, for a field with
 * transform = "data_uri". Owns: the MIME type from a file's first bytes, base64, the size limit
 * checked before anything is read or sent; a file read ahead on a worker inside a task
 * (core.datauri_read), so a step never waits for the disk; core.datauri_check and core.is_url
 * for the validator (lua/aimlmusic/validate.lua).
 * Must not know: fields other than the one value it is given, the wire table, HTTP. */
#include "datauri.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform.h"
#include "workkind.h"

#define DATAURI_CHUNK 49152 /* a multiple of 3: each chunk encodes without padding */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* The MIME type of audio starting with these bytes (mp3, wav, flac, ogg, m4a), or NULL. */
static const char *datauri_sniff(const unsigned char *b, size_t n) {
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

/* True when s is an http(s) URL with a host and no space or control character. */
static int datauri_is_url(const char *s, size_t n) {
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

/* ---- a local file, read without Lua (on a worker inside a task) ---- */

enum { FILE_OK,
       FILE_ERRNO,
       FILE_NOT_REGULAR,
       FILE_TOO_BIG,
       FILE_NOT_AUDIO,
       FILE_READ_FAILED };

typedef struct {
  const char *path;
  double max_bytes;
  int build;
  int problem, err;
  long long size;
  char *uri; /* with build: data:<mime>;base64,... */
  size_t len;
} file_state;

/* Encodes n bytes of in into out (4 characters for each 3 bytes, padded); returns the end. */
static char *encode(const unsigned char *in, size_t n, char *out) {
  size_t i;
  for (i = 0; i + 2 < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
    *out++ = b64[v >> 18];
    *out++ = b64[(v >> 12) & 63];
    *out++ = b64[(v >> 6) & 63];
    *out++ = b64[v & 63];
  }
  if (i < n) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
    *out++ = b64[v >> 18];
    *out++ = b64[(v >> 12) & 63];
    *out++ = (char)(i + 1 < n ? b64[(v >> 6) & 63] : '=');
    *out++ = '=';
  }
  return out;
}

/* Reads fd from its start (f->size bytes at most) as a data: URI of type mime into f->uri. */
static int encode_file(int fd, const char *mime, file_state *f) {
  size_t head = 5 + strlen(mime) + 8, cap = head + ((size_t)f->size + 2) / 3 * 4 + 1;
  long long left = f->size;
  char *out;
  unsigned char *buf = (unsigned char *)malloc(DATAURI_CHUNK); /* off a worker's small stack */
  f->uri = (char *)malloc(cap);
  if (f->uri == NULL || buf == NULL) {
    free(buf);
    return 0;
  }
  out = f->uri + snprintf(f->uri, cap, "data:%s;base64,", mime);
  for (;;) {
    size_t got = 0, want = left < DATAURI_CHUNK ? (size_t)left : DATAURI_CHUNK;
    while (got < want) {
      long r = (long)read(fd, buf + got, want - got);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) {
        free(buf);
        return 0;
      }
      if (r == 0) break;
      got += (size_t)r;
    }
    out = encode(buf, got, out);
    left -= (long long)got;
    if (got < DATAURI_CHUNK || left == 0) break;
  }
  free(buf);
  f->len = (size_t)(out - f->uri);
  return 1;
}

static void file_run(void *p) {
  file_state *f = (file_state *)p;
  platform_info info;
  unsigned char head[16];
  long got;
  const char *mime;
  int fd;
  /* Only a regular file is opened at all: opening a device can have effects of its own. */
  if (platform_stat(f->path, 1, &info) != 0) goto fail;
  if (!info.is_reg) {
    f->problem = FILE_NOT_REGULAR;
    return;
  }
  fd = platform_open(f->path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0);
  if (fd < 0) goto fail;
  if (platform_fstat(fd, &info) != 0 || !info.is_reg) {
    close(fd);
    f->problem = FILE_NOT_REGULAR;
    return;
  }
  f->size = info.size;
  if (f->max_bytes > 0 && (double)info.size > f->max_bytes) {
    close(fd);
    f->problem = FILE_TOO_BIG;
    return;
  }
  do got = (long)read(fd, head, sizeof head);
  while (got < 0 && errno == EINTR);
  if (got < 0) {
    f->err = errno;
    close(fd);
    f->problem = FILE_ERRNO;
    return;
  }
  mime = datauri_sniff(head, (size_t)got);
  if (!mime) f->problem = FILE_NOT_AUDIO;
  else if (f->build && lseek(fd, 0, SEEK_SET) != 0) {
    f->problem = FILE_ERRNO;
    f->err = errno;
  } else if (f->build && !encode_file(fd, mime, f)) f->problem = FILE_READ_FAILED;
  close(fd);
  return;
fail:
  f->problem = FILE_ERRNO;
  f->err = errno;
}

/* Pushes what was found: the data: URI (with build) and 1, or the problem's message and 0. */
static int file_push(lua_State *L, file_state *f) {
  switch (f->problem) {
    case FILE_OK:
      if (f->build) lua_pushlstring(L, f->uri, f->len);
      return 1;
    case FILE_NOT_REGULAR:
      lua_pushfstring(L, "cannot read the audio file \"%s\": not a regular file", f->path);
      return 0;
    case FILE_TOO_BIG:
      push_size(L, f->max_bytes);
      lua_pushfstring(L, "the audio file \"%s\" has %f bytes, more than the limit of %s", f->path,
                      (lua_Number)f->size, lua_tostring(L, -1));
      lua_remove(L, -2);
      return 0;
    case FILE_NOT_AUDIO:
      lua_pushfstring(L, "the file \"%s\" is not mp3, wav, flac, ogg or m4a audio", f->path);
      return 0;
    case FILE_READ_FAILED:
      lua_pushfstring(L, "cannot read the audio file \"%s\": read failed", f->path);
      return 0;
    default: {
      char why[PLATFORM_STRERROR_SIZE];
      lua_pushfstring(L, "cannot read the audio file \"%s\": %s", f->path, platform_strerror(f->err, why, sizeof why));
      return 0;
    }
  }
}

static void file_clear(void *p) {
  file_state *f = (file_state *)p;
  free(f->uri);
  f->uri = NULL;
}

/* core.datauri_read(path, max_bytes) --> data URI | false, message: a local file read as it is
 * sent; inside a task on a worker (core.work "datauri_read"), for the validator to take. */
static int read_prepare(lua_State *L, int first, void *p) {
  file_state *f = (file_state *)p;
  f->path = luaL_checkstring(L, first);
  f->max_bytes = luaL_optnumber(L, first + 1, 0);
  f->build = 1;
  return -1;
}

static int read_push(lua_State *L, void *p) {
  if (file_push(L, (file_state *)p)) return 1;
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

const work_kind datauri_read_kind = {"datauri_read", 2, sizeof(file_state), read_prepare, file_run, read_push,
                                     file_clear};

/* A file given as a path: what a task read ahead for it (files, at stack index files, or 0),
 * else read here. */
static int check_file(lua_State *L, const char *path, double max_bytes, int build, int files) {
  file_state f;
  int ok;
  if (files) {
    int t = lua_getfield(L, files, path);
    if (t == LUA_TSTRING) {
      if (!build) lua_pop(L, 1);
      return 1;
    }
    if (t == LUA_TTABLE) {
      lua_rawgeti(L, -1, 1);
      lua_remove(L, -2);
      return 0;
    }
    lua_pop(L, 1);
  }
  memset(&f, 0, sizeof f);
  f.path = path;
  f.max_bytes = max_bytes;
  f.build = build;
  file_run(&f);
  ok = file_push(L, &f);
  file_clear(&f);
  return ok;
}

static int l_datauri_read(lua_State *L) {
  return work_here(L, &datauri_read_kind);
}

/* The string at vidx as audio of at most max_bytes (0: no limit). With build, pushes what is
 * sent (the string itself, or the file read as data:<mime>;base64,...) and returns 1; without,
 * pushes nothing and returns 1. On a problem pushes its message and returns 0. */
static int datauri_check(lua_State *L, int vidx, double max_bytes, int build, int files) {
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
    return check_file(L, s, max_bytes, build, files);
  }
  if (build) lua_pushvalue(L, vidx);
  return 1;
}

/* core.datauri_check(s, max_bytes, build[, files]) --> true[, what is sent] | false, message:
 * a field with transform = "data_uri" (lua/aimlmusic/validate.lua). files: what a task read
 * ahead on a worker (path -> data URI, or {message}); a path not in it is read here. */
static int l_datauri_check(lua_State *L) {
  int build = lua_toboolean(L, 3), files = lua_istable(L, 4) ? 4 : 0;
  luaL_checkstring(L, 1);
  if (datauri_check(L, 1, luaL_checknumber(L, 2), build, files)) {
    lua_pushboolean(L, 1);
    if (build) lua_insert(L, -2);
    return build ? 2 : 1;
  }
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

/* core.is_url(s) --> whether s is an http(s) URL with a host and no space or control byte. */
static int l_is_url(lua_State *L) {
  size_t n;
  const char *s = luaL_checklstring(L, 1, &n);
  lua_pushboolean(L, datauri_is_url(s, n));
  return 1;
}

void datauri_open(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"datauri_read", l_datauri_read}, {"datauri_check", l_datauri_check}, {"is_url", l_is_url}, {NULL, NULL}};
  luaL_setfuncs(L, fns, 0);
}
