/* work: core.work, file work on the engine's pool for a task to await (see work.c). */
#ifndef AIMLMUSIC_WORK_H
#define AIMLMUSIC_WORK_H

#include "hidden.h"
#include "workkind.h"

HIDDEN_BEGIN

/* core.work(name, ...) --> a work running on a worker | false, results (answered at once: without
 * the file system, or here when no worker thread can start). work:done(), work:result() --> what
 * core[name](...) gives: registered here too, for every kind, running it in the calling thread. */
void work_open(lua_State *L);

HIDDEN_END

#endif
