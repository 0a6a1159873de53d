/* validate: parameters checked against the model table (lua/aimlmusic/models.lua), with every
 * problem reported, and turned into the JSON body the service expects (see validate.c). */
#ifndef AIMLMUSIC_VALIDATE_H
#define AIMLMUSIC_VALIDATE_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Registers core.validate, core.encode and core.utf8_len in the module table at the top. */
void validate_open(lua_State *L);

HIDDEN_END

#endif
