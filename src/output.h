/* Where a job's audio will go, checked before the job is paid for. */
#ifndef AIMLMUSIC_OUTPUT_H
#define AIMLMUSIC_OUTPUT_H

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Registers core.output_check in the module table at the top. */
void output_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
