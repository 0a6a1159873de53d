/* utf8: UTF-8 sequences read and user text counted in code points (see utf8.c). */
#ifndef AIMLMUSIC_UTF8_H
#define AIMLMUSIC_UTF8_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Registers core.utf8_len(s) --> code points | nil, offset in the module table at the top. */
void utf8_open(lua_State *L);

HIDDEN_END

#endif
