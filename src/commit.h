/* The end of a transfer: transfer:commit() and transfer:finish().
 *
 * DESIGN. commit.c owns moving a finished download into place (fsync the temporary file,
 * then link with no overwrite, or rename), on a worker of the engine so that the host's loop
 * never waits for the disk, and the finish of every transfer: it gathers the transfer's facts
 * for the classifier (response.c) and reports the commit. It must not know how requests are
 * built (session.c) nor decide whether a failure may be retried (lua/aimlmusic/retry.lua). */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "transfer.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* transfer:commit() --> true when a commit started on a worker (wait for the transfer again),
 * false when there is nothing to commit (transfer:finish() reports why).
 * transfer:finish([map]) --> st | job | info, or nil, err. */
extern const luaL_Reg commit_methods[];

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
