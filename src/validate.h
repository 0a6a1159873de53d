/* Parameters checked against the model table (lua/aimlmusic/models.lua), with every problem
 * reported, and turned into the JSON body the service expects. */
#ifndef AIMLMUSIC_VALIDATE_H
#define AIMLMUSIC_VALIDATE_H

#include <stddef.h>

#include "compat.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* Number of code points in s, or -1 when s is not valid UTF-8 (*bad = offset of the bad byte).
 * Overlong forms, surrogates and values past U+10FFFF are invalid. */
long validate_utf8_len(const unsigned char *s, size_t n, size_t *bad);

/* Registers core.validate and core.encode in the module table at the top. */
void validate_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
