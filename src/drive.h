/* The engine's methods: how a host drives it. */
#ifndef AIMLMUSIC_DRIVE_H
#define AIMLMUSIC_DRIVE_H

#include "engine.h"

/* Nothing declared here leaves the shared object: only luaopen_aimlmusic_core is exported. */
#if defined(__GNUC__)
#pragma GCC visibility push(hidden)
#endif

/* engine:perform, :poll, :timeout, :count, :committing, :wake_fd, :reap, :socket_mode,
 * :socket_action, :changes, :pollfd, :arm */
extern const luaL_Reg drive_methods[];

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#endif
