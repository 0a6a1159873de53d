/* The end of a transfer: transfer:finish(). */
#ifndef AIMLMUSIC_COMMIT_H
#define AIMLMUSIC_COMMIT_H

#include "hidden.h"
#include "transfer.h"
#include "workkind.h"

HIDDEN_BEGIN

/* transfer:finish([map]) --> true, job | st | info; false, facts; or nil, err (see commit.c), and
 * transfer:keep(). A download is in place when it is done: its move was the last job of its
 * stream. */
extern const luaL_Reg commit_methods[];
/* core.discard(t) as work (workkind.h): a failed or cancelled download's partial file closed
 * and removed; nothing while a worker moves it into place (it stays there). */
extern const work_kind commit_discard_kind;

HIDDEN_END

#endif
