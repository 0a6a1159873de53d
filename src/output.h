/* Where a job's audio will go, checked before the job is paid for and reserved for that job. */
#ifndef AIMLMUSIC_OUTPUT_H
#define AIMLMUSIC_OUTPUT_H

#include "compat.h"
#include "work.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* core.output_reserve, reservation:own and :release as work (work.h). */
extern const work_kind output_reserve_kind, reservation_own_kind, reservation_release_kind;
/* Registers core.output_check, output_reserve, path_info and abspath in the module table at
 * the top, and the reservation's metatable. */
void output_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
