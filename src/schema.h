/* The model table's own vocabulary (lua/aimlmusic/models.lua), checked once per entry: an
 * unknown key or type, a range on a string, min > max, a default outside its own rules raise
 * an error naming the model and the field. */
#ifndef AIMLMUSIC_SCHEMA_H
#define AIMLMUSIC_SCHEMA_H

#include "compat.h"
#include "hidden.h"

HIDDEN_BEGIN

/* Raises unless the model entry at idx (named name) is well formed; remembers entries already
 * checked, so a model added at run time is checked on its first use. */
void schema_ensure(lua_State *L, int idx, const char *name);

/* Registers core.check_models(models) --> models in the module table at the top. */
void schema_open(lua_State *L);

HIDDEN_END

#endif
