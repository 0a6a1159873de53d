/* The end of a transfer: transfer:commit() and transfer:finish(). */
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
