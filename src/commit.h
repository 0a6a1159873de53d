/* The end of a transfer: transfer:commit() and transfer:finish(). */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "hidden.h"
#include "transfer.h"

HIDDEN_BEGIN

/* transfer:commit() --> true when a commit started on a worker (wait for the transfer again),
 * false when there is nothing to commit (transfer:finish() reports why).
 * transfer:finish([map]) --> st | job | info, or nil, err. */
extern const luaL_Reg commit_methods[];

HIDDEN_END

#endif
