/* Turning a finished transfer into what the API promises: a status table, a job, a download
 * info table, or one error table whose kind says what went wrong (DESIGN.md). */
#ifndef AIMLMUSIC_RESPONSE_H
#define AIMLMUSIC_RESPONSE_H

#include "engine.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* transfer:finish([map]) --> st | job | info, or nil, err. Commits a download to its target.
 * map: the model's response mapping (models.lua), applied to a status answer. */
int response_finish(lua_State *L);
/* Closes and removes a download's temporary file, if it still has one. */
void response_discard(transfer *t);
/* transfer:discard() */
int response_discard_l(lua_State *L);
/* Registers core.classify in the module table at the top. */
void response_open(lua_State *L);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
