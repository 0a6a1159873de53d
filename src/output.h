/* Where a job's audio will go, checked before the job is paid for and reserved for that job. */
#ifndef AIMLMUSIC_OUTPUT_H
#define AIMLMUSIC_OUTPUT_H

#include "compat.h"
#include "hidden.h"
#include "workkind.h"

HIDDEN_BEGIN

/* core.output_reserve, reservation_own and reservation_release as work (workkind.h). */
extern const work_kind output_reserve_kind, reservation_own_kind, reservation_release_kind;
/* Registers core.output_check, path_info and abspath in the module table at the top, and the
 * reservation's metatable. */
void output_open(lua_State *L);

HIDDEN_END

#endif
