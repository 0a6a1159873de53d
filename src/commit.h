/* The end of a transfer: transfer:finish(). */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "hidden.h"
#include "transfer.h"

HIDDEN_BEGIN

/* transfer:finish([map]) --> true, job | st | info; false, facts; or nil, err (see commit.c), and
 * transfer:keep(). A download is in place when it is done: its move was the last job of its
 * stream. */
extern const luaL_Reg commit_methods[];

HIDDEN_END

#endif
