/* What a command line needs from its host and plain Lua lacks: whether a stream is a
 * terminal, Ctrl-C as a flag instead of an abrupt exit, and creating a directory. */
#ifndef AIMLMUSIC_HOST_H
#define AIMLMUSIC_HOST_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Registers core.isatty, core.sigint_catch, core.sigint_count and core.mkdir in the module
 * table at the top. */
void host_open(lua_State *L);

HIDDEN_END

#endif
