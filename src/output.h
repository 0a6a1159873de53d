/* Where a job's audio will go, checked before the job is paid for. */
#ifndef AIMLMUSIC_OUTPUT_H
#define AIMLMUSIC_OUTPUT_H

#include "compat.h"

/* Registers core.output_check in the module table at the top. */
void output_open(lua_State *L);

#endif
