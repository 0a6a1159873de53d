/* spool: a download's ordered stream of bytes on their way to the disk (see spool.c). */
#ifndef AIMLMUSIC_SPOOL_H
#define AIMLMUSIC_SPOOL_H

#include <stddef.h>

#include "hidden.h"
#include "list.h"
#include "platform.h"
#include "pool.h"

HIDDEN_BEGIN

/* Bytes waiting for the disk at most: past this the download pauses until half are written. */
#define SPOOL_MAX ((size_t)256 * 1024)
/* Bytes the spools of one owner (*backlog) hold at most: past it a spool with bytes waiting
 * pauses its download too, so downloads at once hold this and a piece each, not SPOOL_MAX. */
#define SPOOL_BACKLOG_MAX ((size_t)4 * 1024 * 1024)
/* What a piece holds at least (with its header, under malloc's mmap threshold): libcurl hands
 * over 16 KiB at a time. */
#define SPOOL_CHUNK ((size_t)56 * 1024)

typedef struct spool_chunk {
  list_node link;
  size_t len, cap;
  char data[];
} spool_chunk;

typedef struct spool {
  /* The owner's writer, on a worker (or in place): n bytes at p after the last; 0, or an
   * errno (*opening: making the file failed). */
  int (*write)(struct spool *s, const char *p, size_t n, int *opening);
  pool *pool;
  pool_job job;
  /* The owner's count of bytes waiting for the disk, and this spool's share (stepping thread). */
  size_t *backlog, counted;
  int ready; /* mu exists (spool_init) */
  platform_mutex mu;
  /* Under mu: the sealed pieces, their bytes, the first failure, and whether the loop waits
   * for the spool to drain to half. */
  list_node chunks;
  size_t bytes;
  size_t drained; /* taken off the pieces since the stepping thread last counted */
  int err, opening, wake;
  /* The stepping thread's: the piece it fills (no lock), whether a job is posted and not
   * drained yet, whether the first bytes went out. */
  spool_chunk *fill;
  int busy, started;
} spool;

/* An empty spool writing through write on p's workers, counting what waits in *backlog (which
 * its owner may share between spools): 0, or an errno. */
int spool_init(spool *s, pool *p, size_t *backlog, int (*write)(spool *s, const char *p, size_t n, int *opening));
/* Copies n bytes at p into the spool: 1; -1 when it is full (pause until spool_hold says
 * otherwise); 0 on a failure, its errno in *err (*opening: making the file). With here, while
 * nothing waits, they are written in place (the caller waits anyway), which costs less. */
int spool_push(spool *s, const char *p, size_t n, int here, int *err, int *opening);
/* The stream ended: seals the last piece; 1 when every byte is written (or failed: *err,
 * *opening), 0 while a worker is still at it. */
int spool_settle(spool *s, int *err, int *opening);
/* A paused transfer: seals what it can; 1 while it stays paused (a wake when half is written). */
int spool_hold(spool *s);
/* 1 when nothing waits and nothing failed: the file is what was pushed. */
int spool_clean(spool *s);
/* Drops what waits and waits for a write under way; spool_close frees the mutex too. Idempotent. */
void spool_stop(spool *s);
void spool_close(spool *s);

HIDDEN_END

#endif
