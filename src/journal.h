/* Durable appends for the job journal: a submitted job is on disk before submit returns. */
#ifndef AIMLMUSIC_JOURNAL_H
#define AIMLMUSIC_JOURNAL_H

#include "compat.h"

/* Registers core.journal_append in the module table at the top. */
void journal_open(lua_State *L);

#endif
