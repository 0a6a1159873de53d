/* datauri: a local audio file as a data: URI, for a field with transform = "data_uri". Owns:
 * the MIME type from a file's first bytes, base64, the file's size limit checked before it is
 * read; the read on a worker inside a task (core.datauri_read), so a step never waits for the
 * disk. Must not know: URLs and data: URIs given as they are, fields, messages beyond the
 * file's (lua/aimlmusic/datauri.lua, lua/aimlmusic/validate.lua). */
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

static void push_size(lua_State *L, double bytes) {
  if (bytes >= 1e6 && bytes == (double)(long long)(bytes / 1e6) * 1e6)
    lua_pushfstring(L, "%d MB", (int)(bytes / 1e6));
  else
    lua_pushfstring(L, "%d bytes", (int)bytes);
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
      else lua_pushboolean(L, 1);
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

/* core.datauri_read(path, max_bytes[, build]) --> data URI (true without build) | false, message:
 * a local file read as it is sent (or, with build false, only checked: a regular file of at
 * most max_bytes that starts as audio); inside a task on a worker (core.work "datauri_read"),
 * outside one here, for lua/aimlmusic/datauri.lua. */
static int read_prepare(lua_State *L, int first, void *p) {
  file_state *f = (file_state *)p;
  f->path = luaL_checkstring(L, first);
  f->max_bytes = luaL_optnumber(L, first + 1, 0);
  f->build = lua_isnoneornil(L, first + 2) || lua_toboolean(L, first + 2);
  return -1;
}

static int read_push(lua_State *L, void *p) {
  if (file_push(L, (file_state *)p)) return 1;
  lua_pushboolean(L, 0);
  lua_insert(L, -2);
  return 2;
}

const work_kind datauri_read_kind = {"datauri_read", 3, sizeof(file_state), read_prepare, file_run, read_push,
                                     file_clear};
