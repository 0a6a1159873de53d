/* part: a download's temporary file, "<target's name, cut to fit>.part-XXXXXX" beside its
 * target. Owns: the name (made and parsed only here), its creation (O_EXCL, and an exclusive
 * flock held while a transfer owns it), the writes into it, its move into place (fsync, the
 * evidence journaled, then link with no overwrite or rename), and core.remove_partials, the
 * scan that removes the files of downloads cut short by a crash. Must not know: transfers,
 * libcurl, the engine, which thread runs it, what the journal's other records say. */
#include "part.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal.h"
#include "output.h"
#include "platform.h"
#include "workkind.h"

#define PART_SUFFIX ".part-"
#define PART_SUFFIX_LEN 6
#define PART_LEN (PART_SUFFIX_LEN + 6) /* ".part-" and six hex digits */
#define NAME_MAX_LEN 255               /* the longest file name POSIX file systems take */

/* How many bytes of the target's file name (base, blen bytes) its temporary name keeps, so
 * that the temporary name fits whenever the target's does. */
static size_t part_keep(const char *base, size_t blen) {
  size_t keep;
  if (blen + PART_LEN <= NAME_MAX_LEN) return blen;
  keep = NAME_MAX_LEN - PART_LEN;
  /* Cut on a character boundary: never between the bytes of one UTF-8 sequence. */
  while (keep > 0 && ((unsigned char)base[keep] & 0xC0) == 0x80) keep--;
  return keep;
}

/* Whether name is a temporary name of the target whose file name is base (keep bytes kept). */
static int part_is(const char *name, const char *base, size_t keep) {
  const char *hex = name + keep + PART_SUFFIX_LEN;
  if (strncmp(name, base, keep) != 0 || strncmp(name + keep, PART_SUFFIX, PART_SUFFIX_LEN) != 0) return 0;
  return strspn(hex, "0123456789abcdef") == PART_LEN - PART_SUFFIX_LEN && hex[PART_LEN - PART_SUFFIX_LEN] == '\0';
}

/* Copies key, then s as a JSON string, to o; returns the end. 6 bytes for each byte of s and 3
 * more fit: the caller sized the buffer so. */
static char *quote(char *o, const char *key, const char *s) {
  o += sprintf(o, "%s\"", key);
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') *o++ = '\\';
    if (c < 0x20 || c == 0x7f) o += sprintf(o, "\\u%04x", c);
    else *o++ = (char)c;
  }
  *o++ = '"';
  return o;
}

/* The evidence of delivery, journaled before the link: the job, the target, the temporary file,
 * its size and identity. A file found later at the target with this identity and size is this
 * job's, whatever else shares its size. Failing to record it does not stop the delivery: resume
 * then finds no proof and leaves the file alone. */
static void part_record(const part_dest *m, int fd, const char *tmp) {
  platform_info info;
  char *b, *o;
  if (m->journal == NULL || m->id == NULL || platform_fstat(fd, &info) != 0) return;
  /* The keys and numbers take less than 256 bytes. */
  b = (char *)malloc(6 * (strlen(m->id) + strlen(m->target) + strlen(tmp)) + 256);
  if (b == NULL) return;
  o = quote(b, "{\"op\":\"commit\",\"id\":", m->id);
  o = quote(o, ",\"path\":", m->target);
  o = quote(o, ",\"tmp\":", tmp);
  o += sprintf(o, ",\"bytes\":%lld,\"dev\":\"%llu\",\"ino\":\"%llu\"}", info.size, info.dev, info.ino);
  journal_append(m->journal, b, (size_t)(o - b));
  free(b);
}

int part_move(const part_dest *m, int *fd, char **tmp, int *moving) {
  int rc = -1, err = 0; /* the sync's failure, unless the move is reached */
  *moving = 0;
  if (platform_fsync(*fd) == 0) {
    part_record(m, *fd, *tmp);
    /* The descriptor stays open (and its lock held) until the temporary name is gone, so that
     * no cleanup of stale partial files can remove it under the move. A link fails with EEXIST
     * instead of replacing: no window where a file could be lost. */
    rc = m->overwrite ? platform_rename(*tmp, m->target) : platform_link_noreplace(*tmp, m->target);
    *moving = rc != 0;
  }
  if (rc != 0) err = errno;
  else if (!m->overwrite) platform_unlink(*tmp);
  close(*fd); /* synced already: nothing left for close to report */
  *fd = -1;
  if (rc != 0) return err;
  platform_sync_parent(m->target); /* some file systems refuse; the file is in place */
  free(*tmp);
  *tmp = NULL;
  return 0;
}

/* Beside the target, so the final rename stays on one file system. O_EXCL so two downloads
 * never share it, and an exclusive flock held while this transfer owns it, so that a cleanup
 * of stale partial files (core.remove_partials) in any process passes it by. */
int part_open(const char *target, unsigned long salt, char **path, int *fd) {
  size_t n = strlen(target);
  const char *slash = strrchr(target, '/');
  size_t dlen = slash ? (size_t)(slash - target) + 1 : 0;
  size_t keep = dlen + part_keep(target + dlen, n - dlen);
  int attempt, e;
  unsigned long seed = (unsigned long)(platform_now() * 1e9);
  *path = (char *)malloc(keep + PART_LEN + 1);
  if (*path == NULL) return ENOMEM;
  for (attempt = 0; attempt < 100; attempt++) {
    unsigned long r = seed ^ (platform_pid() << 16) ^
                      (salt >> 4) ^ (unsigned long)attempt * 2654435761UL;
    memcpy(*path, target, keep);
    snprintf(*path + keep, PART_LEN + 1, PART_SUFFIX "%06lx", r & 0xffffff);
    *fd = platform_open(*path, O_WRONLY | O_CREAT | O_EXCL, 0666);
    if (*fd < 0 && errno != EEXIST) break;
    /* A cleanup may have removed the file between open and flock: then make another. */
    if (*fd >= 0 && platform_lock(*fd, 0) == 0 && platform_same_file(*fd, *path)) return 0;
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
  e = errno ? errno : EEXIST;
  free(*path);
  *path = NULL;
  return e;
}

/* core.remove_partials(target) --> number removed
 * Removes the temporary files of target (see part_open): downloads cut short by a crash. A file a
 * live transfer owns is locked (platform_lock) and is left alone. Work (workkind.h): on a worker
 * inside a task, since it reads a directory. */
typedef struct {
  work_held held;
  const char *target;
  size_t tlen;
  int removed, oom;
} partials_state;

static int partials_prepare(lua_State *L, int first, void *p) {
  partials_state *r = (partials_state *)p;
  r->target = luaL_checklstring(L, first, &r->tlen);
  return -1;
}

static void partials_run(void *p) {
  partials_state *r = (partials_state *)p;
  const char *target = r->target;
  const char *sep = platform_last_sep(target);
  const char *base = sep ? sep + 1 : target;
  size_t keep = part_keep(base, strlen(base));
  char *dir = r->held.path = platform_parent(target), *path;
  platform_dir *d;
  const char *name;
  int fd;
  /* A temporary name has at most NAME_MAX_LEN bytes (part_keep). */
  path = r->held.buf = dir ? (char *)malloc(strlen(dir) + NAME_MAX_LEN + 2) : NULL;
  r->oom = path == NULL;
  /* No file has a name with a NUL in it: cut there, it would be another file's partials. */
  d = r->oom || memchr(target, '\0', r->tlen) ? NULL : platform_opendir(dir);
  while (d && (name = platform_readdir(d)) != NULL) {
    if (!part_is(name, base, keep)) continue;
    sprintf(path, "%s/%s", dir, name);
    /* Only a regular file is opened: a FIFO or a device of that name is left. */
    if ((fd = output_open_regular(path, 0, O_RDONLY | O_NOFOLLOW)) < 0) continue;
    /* Unlinked while the lock is held: its owner, if one comes, sees the name is gone. */
    if (platform_lock(fd, 0) == 0 && platform_unlink(path) == 0) r->removed++;
    close(fd);
  }
  platform_closedir(d);
}

static int partials_push(lua_State *L, void *p) {
  partials_state *r = (partials_state *)p;
  if (r->oom) return luaL_error(L, "out of memory");
  lua_pushinteger(L, r->removed);
  return 1;
}

const work_kind part_remove_kind = {"remove_partials", 1, sizeof(partials_state), partials_prepare,
                                    partials_run, partials_push};
