/* datauri: a local audio file as a data: URI, for a field with transform = "data_uri". Owns:
 * the MIME type from a file's first bytes, base64, the file's size limit checked before it is
 * read; the read on a worker inside a task (core.datauri_read), so a step never waits for the
 * disk. Must not know: URLs and data: URIs given as they are, fields, messages (the file's are
 * lua/aimlmusic/datauri.lua's, the rest lua/aimlmusic/validate.lua's). */
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

typedef struct {
  work_held held; /* buf, with build: data:<mime>;base64,... */
  const char *path;
  double max_bytes;
  int build;
  const char *problem; /* NULL, or as core.datauri_read names it */
  int err;
  long long size;
  size_t len;
} file_state;

/* Encodes n bytes of in into out (4 characters for each 3 bytes, padded); returns the end. */
static char *encode(const unsigned char *in, size_t n, char *out) {
  size_t i;
  for (i = 0; i < n; i += 3) {
    unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0) |
                 (i + 2 < n ? in[i + 2] : 0);
    *out++ = b64[v >> 18];
    *out++ = b64[(v >> 12) & 63];
    *out++ = (char)(i + 1 < n ? b64[(v >> 6) & 63] : '=');
    *out++ = (char)(i + 2 < n ? b64[v & 63] : '=');
  }
  return out;
}

/* The next chunk of fd, *left bytes at most (fewer only at the end of the file) into buf: its
 * length, or -1 with errno set. */
static long read_chunk(int fd, unsigned char *buf, long long *left) {
  size_t got = 0, want = *left < DATAURI_CHUNK ? (size_t)*left : DATAURI_CHUNK;
  while (got < want) {
    long r = (long)read(fd, buf + got, want - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return -1;
    if (r == 0) break;
    got += (size_t)r;
  }
  *left -= (long long)got;
  return (long)got;
}

/* Reads fd from its start (f->size bytes at most): audio by its first bytes, and with build
 * the data: URI in f->held.buf; else the problem in f. */
static void read_file(int fd, file_state *f) {
  unsigned char *buf = (unsigned char *)malloc(DATAURI_CHUNK); /* off a worker's small stack */
  long long left = f->size;
  long got = buf ? read_chunk(fd, buf, &left) : -1;
  const char *mime = got < 0 ? NULL : datauri_sniff(buf, (size_t)got);
  size_t cap = mime ? 5 + strlen(mime) + 8 + ((size_t)f->size + 2) / 3 * 4 + 1 : 0;
  char *out = mime && f->build ? (f->held.buf = (char *)malloc(cap)) : NULL;
  if (got >= 0 && mime == NULL) f->problem = "not_audio";
  if (out == NULL && mime && f->build) got = -1;
  if (out) out += snprintf(out, cap, "data:%s;base64,", mime);
  for (; out && got >= 0; got = read_chunk(fd, buf, &left)) {
    out = encode(buf, (size_t)got, out);
    f->len = (size_t)(out - f->held.buf);
    if (got < DATAURI_CHUNK || left == 0) break;
  }
  if (got < 0) {
    f->problem = "errno";
    f->err = errno; /* malloc's too: ENOMEM */
  }
  free(buf);
}

static void file_run(void *p) {
  file_state *f = (file_state *)p;
  platform_info info;
  /* Only a regular file is opened at all: opening a device can have effects of its own. */
  int st = platform_stat(f->path, 1, &info);
  int fd = st == 0 && info.is_reg ? platform_open(f->path, O_RDONLY | O_NOCTTY | O_NONBLOCK, 0) : -1;
  if (fd < 0) {
    f->problem = st == 0 && !info.is_reg ? "not_regular" : "errno";
    f->err = errno;
    return;
  }
  f->size = platform_fstat(fd, &info) == 0 && info.is_reg ? info.size : -1;
  if (f->size < 0) f->problem = "not_regular";
  else if (f->max_bytes > 0 && (double)f->size > f->max_bytes) f->problem = "too_big";
  else read_file(fd, f);
  close(fd);
}

/* core.datauri_read(path, max_bytes[, build]) --> data URI (true without build) | false,
 * problem, detail: a local file read as it is sent (or, with build false, only checked: a
 * regular file of at most max_bytes that starts as audio); inside a task on a worker
 * (core.work "datauri_read"), outside one here. The problem ("errno" and its message,
 * "not_regular", "too_big" and the size, "not_audio") is worded by lua/aimlmusic/datauri.lua. */
static int read_prepare(lua_State *L, int first, void *p) {
  file_state *f = (file_state *)p;
  f->path = luaL_checkstring(L, first);
  f->max_bytes = luaL_optnumber(L, first + 1, 0);
  f->build = lua_isnoneornil(L, first + 2) || lua_toboolean(L, first + 2);
  return -1;
}

static int read_push(lua_State *L, void *p) {
  file_state *f = (file_state *)p;
  char why[PLATFORM_STRERROR_SIZE];
  if (f->problem == NULL && f->build) lua_pushlstring(L, f->held.buf, f->len);
  else lua_pushboolean(L, f->problem == NULL);
  if (f->problem == NULL) return 1;
  lua_pushstring(L, f->problem);
  if (strcmp(f->problem, "too_big") == 0) lua_pushinteger(L, (lua_Integer)f->size);
  else lua_pushstring(L, platform_strerror(f->err, why, sizeof why));
  return 3;
}

const work_kind datauri_read_kind = {"datauri_read", 3, sizeof(file_state), read_prepare, file_run,
                                     read_push};
