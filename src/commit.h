/* Moving a finished download into place: fsync the temporary file, then link (no overwrite)
 * or rename it to the target. Done on a worker thread so that the host's loop never waits for
 * the disk; completion comes back through the engine like a finished transfer. */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "engine.h"

/* Runs the commit steps in the calling thread; sets t->commit_errno on failure. */
void commit_run(transfer *t);
/* transfer:commit() --> true when a commit started on a worker (wait for the transfer again),
 * false when there is nothing to commit (transfer:finish() reports why). */
int commit_start_l(lua_State *L);
/* Moves finished commits to the done list at done_idx (0: none); returns how many. */
int commit_reap(lua_State *L, engine *e, int done_idx);
/* Waits for the worker of t, if it runs, and takes t out of the engine's list. */
void commit_join(transfer *t);

#endif
