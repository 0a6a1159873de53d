/* The engine's methods: how a host drives it. */
#ifndef AIMLMUSIC_DRIVE_H
#define AIMLMUSIC_DRIVE_H

#include "engine.h"
#include "hidden.h"

HIDDEN_BEGIN

/* engine:perform, :poll, :timeout, :count, :committing, :wake_fd, :reap, :socket_mode,
 * :socket_action, :changes, :pollfd, :arm */
extern const luaL_Reg drive_methods[];

HIDDEN_END

#endif
