/* Where a job's audio will go, checked before the job is paid for and reserved for that job. */
#ifndef AIMLMUSIC_OUTPUT_H
#define AIMLMUSIC_OUTPUT_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Opens path with flags (and O_NONBLOCK) only when it is a regular file, before opening (stat,
 * through a symbolic link when follow; else flags has O_NOFOLLOW) and once open: a FIFO or a
 * device is never opened, never waited on. Else -1 with errno (EINVAL: something else is there). */
int output_open_regular(const char *path, int follow, int flags);
/* Registers core.output_check, path_info and abspath in the module table at the top, and the
 * reservation's metatable. */
void output_open(lua_State *L);

HIDDEN_END

#endif
