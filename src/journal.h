/* Durable appends for the job journal: a submitted job is on disk before submit returns. */
#ifndef AIMLMUSIC_JOURNAL_H
#define AIMLMUSIC_JOURNAL_H

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Registers core.journal_append in the module table at the top. */
void journal_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
