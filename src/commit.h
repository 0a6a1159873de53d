/* Moving a finished download into place: fsync the temporary file, then link (no overwrite)
 * or rename it to the target. Done on a worker thread so that the host's loop never waits for
 * the disk; completion comes back through the engine like a finished transfer. */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "engine.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Temporary names are "<target's name, cut to fit>.part-XXXXXX" beside the target. */
#define COMMIT_PARTIAL_SUFFIX ".part-"
#define COMMIT_PARTIAL_SUFFIX_LEN 12 /* ".part-" and six hex digits */
#define COMMIT_NAME_MAX 255          /* the longest file name POSIX file systems take */
/* How many bytes of the target's file name (base, blen bytes) its temporary name keeps, so
 * that the temporary name fits whenever the target's does. */
size_t commit_partial_keep(const char *base, size_t blen);

/* 1 with a message in msg when the download's size is not the one the server announced
 * (Content-Length) or the job reported; 0 when it is. */
int commit_size_problem(transfer *t, char *msg, size_t n);
/* t->commit_state, read atomically: a worker thread may write it. */
int commit_state(transfer *t);

/* Runs the commit steps in the calling thread; sets t->commit_errno on failure. */
void commit_run(transfer *t);
/* transfer:commit() --> true when a commit started on a worker (wait for the transfer again),
 * false when there is nothing to commit (transfer:finish() reports why). */
int commit_start_l(lua_State *L);
/* Moves finished commits to the done list at done_idx (0: none); returns how many. */
int commit_reap(lua_State *L, engine *e, int done_idx);
/* Waits for the worker of t, if it runs, and takes t out of the engine's list. */
void commit_join(transfer *t);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
